/*-------------------------------------------------------------------------
 *
 * hnsw.h
 *	  The hnsw index access method: constants, on-disk structs and
 *	  prototypes, grouped by the file that defines them.
 *
 * The algorithm and the page layout are described in src/README.
 *
 * src/hnsw.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_HNSW_H
#define HNSW_HNSW_H

#include <float.h>

#include "access/amapi.h"
#include "access/generic_xlog.h"
#include "access/reloptions.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "storage/bufmgr.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"
#include "distance.h"
#include "vector.h"

/* Raise the error for a corrupted index; detail is a full sentence */
#define HNSW_CORRUPT(index, msg, ...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INDEX_CORRUPTED), \
			 errmsg("index \"%s\" " msg, RelationGetRelationName(index)), \
			 errdetail(__VA_ARGS__), \
			 errhint("Please REINDEX it.")))

/* Options and their bounds */
#define HNSW_DEFAULT_M				16
#define HNSW_MIN_M					2
#define HNSW_MAX_M					100
#define HNSW_DEFAULT_EF_CONSTRUCTION	64
#define HNSW_MIN_EF_CONSTRUCTION	4
#define HNSW_MAX_EF_CONSTRUCTION	1000
#define HNSW_DEFAULT_EF_SEARCH		40
#define HNSW_MIN_EF_SEARCH			1
#define HNSW_MAX_EF_SEARCH			1000

/* Candidates of a scan's descent where a greedy one strays (hnswscan.c) */
#define HNSW_UPPER_BEAM				16
#define HNSW_DEFAULT_MAX_SCAN_TUPLES	20000

/* The operator classes' one strategy: the ORDER BY distance operator */
#define HNSW_DISTANCE_STRATEGY		1

/* Support functions of the operator classes */
#define HNSW_DISTANCE_PROC			1
#define HNSW_NORM_PROC				2

/* Metapage */
#define HNSW_METAPAGE_BLKNO			0
#define HNSW_MAGIC_NUMBER			0x48AB5A01
#define HNSW_VERSION				1	/* the only format; see src/README
										 * "Page layout" */

/*
 * What an element stores of its value: the kind of an HnswCode.  The first
 * four are the reloption "quantization" of a vector (or real[]) index; the
 * others are the values of halfvec, sparsevec and bit columns as they are.
 * See src/README "Element codes".
 */
typedef enum HnswCodeKind
{
	HNSW_CODE_F32 = 0,			/* floats, exact: a plain vector */
	HNSW_CODE_F16 = 1,			/* a vector in IEEE 754 binary16 */
	HNSW_CODE_BF16 = 2,			/* a vector in bfloat16 */
	HNSW_CODE_I8 = 3,			/* "i8": int8 codes on a per-vector range
								 * (scale, offset, error bound) */
	HNSW_CODE_HALF = 4,			/* a halfvec: binary16, exact */
	HNSW_CODE_BIT = 5,			/* a bit string: its bytes, pad bits zero */
	HNSW_CODE_SPARSE = 6,		/* a sparsevec: dimensions, count, indices,
								 * values */
	HNSW_CODE_BIT_PREFIX = 7	/* the code of a bit string kept out of line:
								 * its first HNSW_BIT_PREFIX_BITS bits */
} HnswCodeKind;

#define HNSW_CODE_MAX				HNSW_CODE_BIT_PREFIX
#define HNSW_QUANT_MAX				HNSW_CODE_I8	/* last quantization */
#define HnswQuantIsInt8(q)	((q) == HNSW_CODE_I8)

#define HNSW_DEFAULT_QUANTIZATION	"f32"
#define HNSW_GRAPH_AUTO				(-1)	/* graph_quantization "auto" */

/*
 * An element's value as the index stores and compares it, and the query as
 * a scan compares it: a varlena whose header says what follows.  A code of
 * kind HNSW_CODE_F32 is byte for byte a vector (Vector), so a vector datum
 * is its own code.
 *
 *	F32			dim floats
 *	F16, BF16, HALF		dim uint16 codes
 *	I8			float scale, offset and error bound, then dim int8 codes
 *	BIT			(dim + 7) / 8 bytes, dim being the number of bits
 *	BIT_PREFIX	the first HNSW_BIT_PREFIX_BITS(dim) bits of a bit string of
 *				dim bits (whose element would not fit a page with them all)
 *	SPARSE		int32 dimensions, int32 nnz, nnz int32 indices (ascending,
 *				0-based), nnz float values; dim is 0 (HnswCodeDim)
 *
 * The payload is padded to 4 bytes, so the neighbour slots after it stay
 * aligned.  A code of an element whose vector is out of line ends with the
 * TID of the vector's last chunk (HNSW_VECTOR_LINK_SIZE bytes inside the
 * varlena; HnswCodeHasLink).  See src/README "Element codes".
 */
typedef struct HnswCode
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	uint16		dim;			/* dimensions, or bits; 0 for SPARSE */
	uint16		kind;			/* HnswCodeKind */
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* 4-byte aligned */
} HnswCode;

#define HNSW_CODE_HEADER_SIZE		offsetof(HnswCode, data)

/* Floats of a code before its codes: an i8 code's scale, offset and error */
#define HNSW_CODE_HEADER_FLOATS(q)	((q) == HNSW_CODE_I8 ? 3 : 0)

/* The floats of an F32 code, and those before an I8 code's codes */
#define HnswCodeFloats(c)	((float *) (c)->data)

/* Bytes of a SPARSE code with nnz entries, without a link */
#define HNSW_SPARSE_CODE_SIZE(nnz) \
	(HNSW_CODE_HEADER_SIZE + 2 * sizeof(int32) + \
	 (sizeof(int32) + sizeof(float)) * (Size) (nnz))

/*
 * Bits a BIT_PREFIX code keeps of a bit string of dim bits: half of them,
 * in whole bytes.  A Hamming or Jaccard distance on half the bits ranks
 * well enough to find candidates, which the scan re-ranks with the whole
 * strings; at most 4,000 bytes, which an element of level 0 holds with any m.
 */
#define HNSW_BIT_PREFIX_BITS(dim)	(((Size) (dim) / 16) * 8)

/* Bits in the payload of a BIT or BIT_PREFIX code */
#define HnswCodeBits(c) \
	((c)->kind == HNSW_CODE_BIT_PREFIX ? HNSW_BIT_PREFIX_BITS((c)->dim) : \
	 (Size) (c)->dim)

/*
 * Bytes of a code of kind q with dim dimensions (bits for BIT and
 * BIT_PREFIX; entries for SPARSE), without a link
 */
#define HNSW_CODE_SIZE(dim, q) \
	((q) == HNSW_CODE_F32 ? HNSW_CODE_HEADER_SIZE + sizeof(float) * (Size) (dim) : \
	 (q) == HNSW_CODE_SPARSE ? HNSW_SPARSE_CODE_SIZE(dim) : \
	 HNSW_CODE_HEADER_SIZE + HNSW_CODE_HEADER_FLOATS(q) * sizeof(float) + \
	 TYPEALIGN(4, HnswQuantIsInt8(q) ? (Size) (dim) : \
			   (q) == HNSW_CODE_BIT ? ((Size) (dim) + 7) / 8 : \
			   (q) == HNSW_CODE_BIT_PREFIX ? HNSW_BIT_PREFIX_BITS(dim) / 8 : \
			   2 * (Size) (dim)))

/* The largest code of any kind: a sparse vector of 16,000 entries */
#define HNSW_MAX_CODE_SIZE			HNSW_SPARSE_CODE_SIZE(16000)

/* A SPARSE code's dimensions, entry count, indices and values */
#define HnswSparseDim(c)		(((const int32 *) (c)->data)[0])
#define HnswSparseNnz(c)		(((const int32 *) (c)->data)[1])
#define HnswSparseIndices(c)	((int32 *) ((c)->data + 2 * sizeof(int32)))
#define HnswSparseValues(c) \
	((float *) ((c)->data + (2 + (Size) HnswSparseNnz(c)) * sizeof(int32)))

/* The dimensions of the value a code stands for */
static inline int
HnswCodeDim(const HnswCode *c)
{
	return c->kind == HNSW_CODE_SPARSE ? HnswSparseDim(c) : c->dim;
}

/*
 * The bytes of a code without its link, from its own header (for SPARSE,
 * its entry count, which the caller must have checked lies inside it)
 */
static inline Size
HnswCodeBytes(const HnswCode *c)
{
	return HNSW_CODE_SIZE(c->kind == HNSW_CODE_SPARSE ? HnswSparseNnz(c) :
						  c->dim, c->kind);
}

/*
 * Heap TIDs one element can carry (identical vectors share an element).  An
 * element tuple records its own capacity, even and at most this;
 * CREATE INDEX gives each element room for just the heap TIDs it has,
 * an insert room for two (this many for a copy of a vector whose elements
 * are full).
 */
#define HNSW_HEAPTIDS				10

/* The longest bit string an index holds (HnswCode.dim is 16 bits) */
#define HNSW_MAX_BITS				64000

/* Levels above this are never drawn */
#define HNSW_MAX_LEVEL				15

/* Tuple types, the first byte of every tuple on an element page */
#define HNSW_ELEMENT_TUPLE			1
#define HNSW_VECTOR_TUPLE			2	/* a chunk of an out-of-line vector */
#define HNSW_HEAD_TUPLE				3	/* an element cut at its page's end */
#define HNSW_TAIL_TUPLE				4	/* the rest of its vector, first on
										 * the next page */

/*
 * An index whose elements would not fit a page with their vectors keeps
 * only a compact code of each vector in the graph and the vector itself out
 * of line; see src/README "Vectors out of line".  Inline storage is used
 * only while an element of level HNSW_INLINE_LEVEL fits a page.
 */
#define HNSW_INLINE_LEVEL			2

/*
 * Bytes after the code of an element whose vector is out of line: the TID
 * of the vector's last chunk, padded so the slots stay 4-byte aligned.  It
 * lies inside the code's varlena, so every copy of the code carries it.
 */
#define HNSW_VECTOR_LINK_SIZE		TYPEALIGN(4, sizeof(ItemPointerData))

/* Does this code end with a link to its exact vector? */
#define HnswVectorHasLink(v) \
	(VARSIZE(v) == HnswCodeBytes(v) + HNSW_VECTOR_LINK_SIZE)
#define HnswVectorGetLink(v) \
	((ItemPointer) ((char *) (v) + VARSIZE(v) - HNSW_VECTOR_LINK_SIZE))

/* Page identifier in the special space, for pg_filedump and friends */
#define HNSW_PAGE_ID				0xFF90

/* Build phases for pg_stat_progress_create_index (1 is "initializing") */
#define PROGRESS_HNSW_PHASE_LOAD	2
#define PROGRESS_HNSW_PHASE_WRITE	3

/* Neighbour slots of an element at level "level" for a graph of degree m */
#define HNSW_SLOTS(level, m)		(2 * (m) + (level) * (m))
#define HNSW_LEVEL_CAPACITY(lc, m)	((lc) == 0 ? 2 * (m) : (m))
#define HNSW_LEVEL_START(lc, m)		((lc) == 0 ? 0 : 2 * (m) + ((lc) - 1) * (m))

/* The largest tuple an element page holds */
#define HNSW_MAX_TUPLE_SIZE \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - \
	 MAXALIGN(sizeof(HnswPageOpaqueData)) - sizeof(ItemIdData))

/* ----------------------------------------------------------------
 *		On-disk structs
 * ----------------------------------------------------------------
 */

/* Special space of every page */
typedef struct HnswPageOpaqueData
{
	uint16		flags;			/* unused for now, zero */
	uint16		page_id;		/* HNSW_PAGE_ID */
} HnswPageOpaqueData;

typedef HnswPageOpaqueData *HnswPageOpaque;

#define HnswPageGetOpaque(page) ((HnswPageOpaque) PageGetSpecialPointer(page))

/* Block 0: where the graph starts; see src/README "Page layout" */
typedef struct HnswMetaPageData
{
	uint32		magic;			/* HNSW_MAGIC_NUMBER */
	uint32		version;		/* HNSW_VERSION */
	uint32		dimensions;		/* of every vector, 0 while empty */
	uint16		m;				/* degree; level 0 has 2 * m slots */
	uint16		efConstruction; /* candidate list size while inserting */
	ItemPointerData entryPoint; /* element on the top level, or invalid */
	int16		entryLevel;		/* its level, -1 if no entry point */
	BlockNumber insertPage;		/* last page, first try for new tuples */
	uint16		codeKind;		/* HnswCodeKind of the vectors in element
								 * tuples */
	uint16		exactKind;	/* the index's quantization option; when
									 * it differs from quantization, element
									 * tuples hold codes and the vectors are
									 * out of line */
} HnswMetaPageData;

typedef HnswMetaPageData *HnswMetaPage;

#define HnswPageGetMeta(page)	((HnswMetaPage) PageGetContents(page))

/*
 * One neighbour slot, 8 bytes with no padding (the TID is 2-byte aligned);
 * an invalid tid marks an empty slot.  The distance only ranks the links of
 * a list, so a bfloat16 is enough; see src/README "Page layout".
 */
typedef struct HnswNeighborSlot
{
	uint16		distance;		/* from the owning element, bfloat16 */
	ItemPointerData tid;		/* element tuple of the neighbour */
} HnswNeighborSlot;

/* The TID of slot i of the slots starting at slots */
static inline ItemPointer
HnswSlotTid(char *slots, int i)
{
	return &((HnswNeighborSlot *) slots)[i].tid;
}

/* The distance stored in slot i */
static inline float
HnswSlotDistance(char *slots, int i)
{
	return DistanceBfloatToFloat(((HnswNeighborSlot *) slots)[i].distance);
}

/* Fill slot i */
static inline void
HnswSlotSet(char *slots, int i, ItemPointer tid, float distance)
{
	((HnswNeighborSlot *) slots)[i].tid = *tid;
	((HnswNeighborSlot *) slots)[i].distance = DistanceFloatToBfloat(distance);
}

/*
 * One element: header, heap TIDs, vector, then HNSW_SLOTS(level, m)
 * neighbour slots, level 0 first.  The size never changes, so neighbour
 * updates and vacuum rewrite the tuple in place.
 *
 * A head tuple (HNSW_HEAD_TUPLE, written by CREATE INDEX) is an
 * element whose vector goes on in a tail tuple (HnswTailTupleData) at the
 * first offset of the next block: its HnswCode has the whole vector's dim and
 * unused fields but a VARSIZE covering only the bytes on this page, and its
 * slots follow those bytes.  See src/README "Page layout".
 */
typedef struct HnswElementTupleData
{
	uint8		type;			/* HNSW_ELEMENT_TUPLE or HNSW_HEAD_TUPLE */
	uint8		level;			/* top level of the element */
	uint8		deleted;		/* no live heap tuple; space freed by vacuum */
	uint8		ntids;			/* heap TID capacity: even, 2 to
								 * HNSW_HEAPTIDS */
	ItemPointerData heaptids[FLEXIBLE_ARRAY_MEMBER];	/* invalid = unused */
	/*
	 * Then the vector (varlena, 4-byte aligned, HNSW_CODE_SIZE bytes: plain
	 * or encoded per the metapage's quantization), then the slots
	 * (HnswNeighborSlot), 2-byte aligned.
	 */
} HnswElementTupleData;

typedef HnswElementTupleData *HnswElementTuple;

/*
 * The ntids byte holds the heap TID capacity and three flags: the index has
 * a filter column (a second key column), whose value for the element follows
 * the heap TIDs (HNSW_KEY_SIZE bytes, an int64, 4-byte aligned: read and
 * written with memcpy); that value is NULL; the slots are followed by a
 * hint of each level-0 neighbour's value (HNSW_HINTS_SIZE bytes, one per
 * level-0 slot; every keyed tuple written by this version has them; older
 * ones read as hints not known).  See
 * src/README "Filter column".
 */
#define HNSW_TIDS_MASK			0x1F
#define HNSW_TUPLE_HINTED		0x20
#define HNSW_TUPLE_KEYED		0x40
#define HNSW_TUPLE_KEY_NULL		0x80
#define HNSW_KEY_SIZE			((Size) sizeof(int64))
#define HNSW_HINTS_SIZE(m)		((Size) HNSW_LEVEL_CAPACITY(0, m))
/* What a filter column adds to an element tuple: its value and the hints */
#define HNSW_KEYED_SIZE(keySize, m) \
	((keySize) > 0 ? (keySize) + HNSW_HINTS_SIZE(m) : 0)

/* Heap TID capacity of an element tuple */
#define HnswTupleTidCapacity(tup)	((int) ((tup)->ntids & HNSW_TIDS_MASK))
/* Bytes of its filter column's value: 0 in an index without one */
#define HnswTupleKeySize(tup) \
	(((tup)->ntids & HNSW_TUPLE_KEYED) != 0 ? HNSW_KEY_SIZE : 0)
/* Bytes before the vector of a tuple with room for ntids heap TIDs */
#define HNSW_ELEMENT_HEADER_SIZE(ntids) \
	(offsetof(HnswElementTupleData, heaptids) + \
	 sizeof(ItemPointerData) * (ntids))
/* The vector (for a head tuple, its first part) of an element tuple */
#define HnswTupleVector(tup) \
	((HnswCode *) ((char *) (tup) + \
				 HNSW_ELEMENT_HEADER_SIZE(HnswTupleTidCapacity(tup)) + \
				 HnswTupleKeySize(tup)))
/* The size of an element tuple with room for ntids heap TIDs */
#define HNSW_ELEMENT_TUPLE_SIZE_TIDS(dim, quant, level, m, ntids) \
	(HNSW_ELEMENT_HEADER_SIZE(ntids) + HNSW_CODE_SIZE(dim, quant) + \
	 HNSW_SLOTS(level, m) * sizeof(HnswNeighborSlot))
/*
 * The largest size of an element tuple: room for every heap TID, as an
 * insert of a copy of a vector gives it.  What fits a page (the limits on
 * dimensions and levels) is decided with it.
 */
#define HNSW_ELEMENT_TUPLE_SIZE(dim, quant, level, m) \
	HNSW_ELEMENT_TUPLE_SIZE_TIDS(dim, quant, level, m, HNSW_HEAPTIDS)
/* The slots of an element tuple, for HnswSlotTid and friends */
#define HnswTupleGetSlots(tup) \
	((char *) HnswTupleVector(tup) + VARSIZE(HnswTupleVector(tup)))

/*
 * The rest of a head tuple's vector: the first tuple of the block after
 * the head's.  It names its head, so that a reader who let go of the head's
 * page can tell the tail still belongs to the element it read.
 */
typedef struct HnswTailTupleData
{
	uint8		type;			/* HNSW_TAIL_TUPLE */
	uint8		unused;
	ItemPointerData head;		/* the element's head tuple */
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* up to the tuple's end */
} HnswTailTupleData;

typedef HnswTailTupleData *HnswTailTuple;

#define HNSW_TAIL_HEADER_SIZE		offsetof(HnswTailTupleData, data)

/*
 * One chunk of a vector stored out of line (in the index's quantization,
 * as a whole HnswCode varlena).  The chunks of one vector are chained from
 * the last to the first; the element's code links to the last one.
 */
typedef struct HnswVectorTupleData
{
	uint8		type;			/* HNSW_VECTOR_TUPLE */
	uint8		unused;
	ItemPointerData prev;		/* the chunk before, invalid for the first */
	uint32		offset;			/* of this chunk's bytes in the vector */
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* up to the tuple's end */
} HnswVectorTupleData;

typedef HnswVectorTupleData *HnswVectorTuple;

#define HNSW_VECTOR_HEADER_SIZE		offsetof(HnswVectorTupleData, data)

/* ----------------------------------------------------------------
 *		In-memory graph
 * ----------------------------------------------------------------
 */

typedef struct HnswElementData *HnswElement;

/*
 * The value of an element's filter column (an integer column, as int64), or
 * all zeroes in an index without one.  Rows share an element only if their
 * vectors and keys are equal.
 */
typedef struct HnswKey
{
	int64		value;
	bool		isnull;
} HnswKey;

static inline bool
HnswKeyEqual(const HnswKey *a, const HnswKey *b)
{
	return a->isnull == b->isnull && (a->isnull || a->value == b->value);
}

/* An element with its distance to something (query or owner of a list) */
typedef struct HnswCandidate
{
	HnswElement element;
	float		distance;
} HnswCandidate;

/* Neighbours of one element on one level */
typedef struct HnswNeighborList
{
	int			length;
	int			capacity;
	HnswCandidate items[FLEXIBLE_ARRAY_MEMBER];
} HnswNeighborList;

/*
 * An element in memory: a copy of its tuple, loaded on first use.  CREATE
 * INDEX keeps its graph in an arena of its own (hnswarena.c) and uses one
 * of these only as a stand-in when forming a tuple.
 */
typedef struct HnswElementData
{
	ItemPointerData tid;		/* its tuple, invalid if only in memory */
	bool		loaded;			/* vector and neighbours are present */
	bool		missing;		/* its tuple is gone (freed by vacuum) */
	bool		deleted;		/* has no live heap tuple */
	bool		returned;		/* already returned by this scan */
	bool		partial;		/* queryDistance is a lower bound only */
	bool		hasLink;		/* its code links to its value out of line
								 * (set with queryDistance) */
	uint8		level;
	uint8		nheaptids;
	HnswKey		key;			/* its filter column's value */
	uint64		visited;		/* tag of the last search that saw it */
	bool		filtered;		/* fails the graph's filter (scans) */
	bool		coded;			/* vec is its code in the build's store
								 * (hnswbuildcodes.c), not its tuple's */
	uint64		hopped;			/* tag of the last filtered walk that
								 * stepped over it (PageExpand) */
	ItemPointerData heaptids[HNSW_HEAPTIDS];
	HnswCode	   *vec;			/* normalised for cosine; encoded when the
								 * index is quantized; NULL until needed
								 * when the graph has a query */
	float		queryDistance;	/* to the graph's query, if it has one */
	float		codeError;		/* set with queryDistance: bounds of an i8
								 * code's error per component and of its */
	float		codeMagnitude;	/* components' magnitude (HnswCodeBounds;
								 * the re-ranking scan's bounds) */
	HnswNeighborList **neighbors;	/* level + 1 lists; always NULL when
									 * the graph has a query: its search
									 * reads links from the page */
} HnswElementData;

/* An element's filter column value if it was read (for HnswSetLink) */
#define HnswElementKnownKey(e) \
	((e)->loaded && !(e)->missing ? &(e)->key : (const HnswKey *) NULL)

/* How distances are computed */
typedef enum HnswMetric
{
	HNSW_METRIC_L2,				/* squared Euclidean */
	HNSW_METRIC_IP,				/* negative inner product (also cosine) */
	HNSW_METRIC_L1,				/* taxicab */
	HNSW_METRIC_HAMMING,		/* bits that differ */
	HNSW_METRIC_JACCARD,		/* 1 - |a AND b| / |a OR b| */
	HNSW_METRIC_OTHER			/* the support function, through fmgr */
} HnswMetric;

/*
 * What checking an element tuple read from a page needs to know of its
 * index (HnswGetElement, hnswcheck.c): all from the metapage.
 */
typedef struct HnswLayout
{
	int			m;
	int			dim;			/* 0: not known yet, taken from the tuple */
	int			codeKind;		/* HnswCodeKind of the element tuples */
	bool		outOfLine;		/* their codes end with a link */
	Size		keySize;		/* of their filter column's value, 0 if the
								 * index has none */
	/* derived by HnswLayoutDerive, for HnswElementIsWhole */
	Size		elementSize;	/* a whole element of level 0 without heap
								 * TIDs; more than a page if dim is 0 or
								 * the codes are sparse */
	Size		levelSize;		/* the slots of each level above 0 */
	uint64		vectorHeader;	/* the first 8 bytes of its vector */
} HnswLayout;

/* Fill in the derived fields of a layout */
static inline void
HnswLayoutDerive(HnswLayout *layout)
{
	Size		code = HNSW_CODE_SIZE(layout->dim, layout->codeKind) +
		(layout->outOfLine ? HNSW_VECTOR_LINK_SIZE : 0);
	HnswCode		header;

	layout->levelSize = (Size) layout->m * sizeof(HnswNeighborSlot);
	/* sparse codes have sizes of their own: HnswElementIsWhole says no */
	layout->elementSize = layout->dim > 0 &&
		layout->codeKind != HNSW_CODE_SPARSE ?
		HNSW_ELEMENT_HEADER_SIZE(0) + layout->keySize + code +
		2 * layout->levelSize :
		(Size) PG_INT32_MAX;
	SET_VARSIZE(&header, code);
	header.dim = layout->dim;
	header.kind = layout->codeKind;
	memcpy(&layout->vectorHeader, &header, sizeof(layout->vectorHeader));
}

struct hnsw_elements_hash;

/*
 * A graph being searched or changed: a cache of element tuples read from
 * the index.  CREATE INDEX uses one for its distances, dimensions and
 * quantization only.
 */
typedef struct HnswGraph
{
	Relation	index;			/* NULL while wholly in memory */
	MemoryContext cxt;			/* elements, neighbour lists, cache */
	int			m;
	int			efConstruction;
	int			dim;			/* 0 until the first vector */
	HnswMetric	metric;
	HnswCodeKind codeKind;		/* how elements store vectors */
	HnswCodeKind valueKind;		/* of the column's values as prepared
								 * (HnswPrepareVector): F32, HALF, BIT or
								 * SPARSE */
	HnswCodeKind exactKind; /* the index's option: differs from
										 * quantization when vectors are out
										 * of line */
	int			graphRequest;	/* its graph_quantization option, or
								 * HNSW_GRAPH_AUTO (HnswCodeKindFor) */
	float	   *scratch;		/* dim floats: one element decoded */
	const HnswCode *scratchOf;	/* the encoded vector scratch holds, or NULL */
	HnswCode	   *cutBuffer;		/* a head tuple's vector put together */
	bool		normalize;		/* cosine: unit vectors only */
	bool		arrays;			/* real[] or double precision[] input */
	FmgrInfo   *distproc;
	FmgrInfo   *normproc;
	Oid			collation;
	bool		building;		/* pages not WAL-logged yet */
	bool		keepPruned;		/* neighbour selection fills every slot */
	bool		skipDeleted;	/* searches go through deleted elements but
								 * neither return them nor count them
								 * towards ef (vacuum's repair) */
	uint64		searchTag;		/* current search, for visited marks */
	HnswElement entry;			/* entry point, NULL if empty */
	const HnswCode *query;		/* scans, inserts: the one query vector */
	float		bound;			/* loading may give up a distance to the
								 * query above this (HnswSearchLayer) */
	bool		keepVectors;	/* loading with a query copies the vector
								 * too (HnswSortFullList: pruning compares
								 * the list's elements with each other) */
	bool		compareFailed;	/* a pruning met an element it could not
								 * read (HnswDropNeighborDecided) */
	bool		codes;			/* a build's insert: elements are compared
								 * by their codes in the build's store
								 * where it has them (hnswbuildcodes.c) */
	HnswElement stubs;			/* preallocated elements for the cache */
	int			nstubs;
	struct hnsw_elements_hash *cache;	/* tid -> element (on-disk graphs) */
	BlockNumber nblocks;		/* blocks of the index known to exist, 0
								 * until counted; counted again when a link
								 * seems to lie past them (HnswCheckLink) */
	HnswLayout	layout;			/* of its element tuples (HnswGraphLayout) */
	Size		keySize;		/* HNSW_KEY_SIZE if the index has a filter
								 * column, else 0 */
	HnswKey		key;			/* an insert's: its row's filter column
								 * value (HnswNewElement gives it) */
	const struct HnswFilter *filter;	/* a scan's filtered walk: elements
										 * whose filter column fails it do
										 * not load (HnswLoadElement), or
										 * NULL */
	const struct HnswFilter *harvest;	/* a search without the filter that
										 * seeds a filtered walk: the level-0
										 * links of every element loaded whose
										 * hint may pass it are collected in
										 * harvested, or NULL */
	ItemPointerData *harvested;
	int			nharvested;
	int			maxharvested;
	bool		seeded;			/* the filtered walk started from those
								 * (hnswscan.c SeededEntries): it does not
								 * step over an element sure to fail that
								 * the search loaded */
} HnswGraph;

/* Does the graph keep codes in its elements and the vectors out of line? */
#define HnswGraphOutOfLine(graph) \
	((graph)->codeKind != (graph)->exactKind)

/*
 * The layout of the element tuples of a graph's index, kept in the graph
 * and derived again whenever the graph's fields differ from it (they are
 * set from the metapage in several places, HnswGetEntryPoint and friends).
 */
static inline const HnswLayout *
HnswGraphLayout(HnswGraph *graph)
{
	HnswLayout *layout = &graph->layout;

	if (unlikely(layout->m != graph->m || layout->dim != graph->dim ||
				 layout->codeKind != (int) graph->codeKind ||
				 layout->outOfLine != HnswGraphOutOfLine(graph) ||
				 layout->keySize != graph->keySize))
	{
		layout->m = graph->m;
		layout->dim = graph->dim;
		layout->codeKind = graph->codeKind;
		layout->outOfLine = HnswGraphOutOfLine(graph);
		layout->keySize = graph->keySize;
		HnswLayoutDerive(layout);
	}
	return layout;
}

/* A page edit, WAL-logged unless the index is being built */
typedef struct HnswPageEdit
{
	Buffer		buffer;
	Buffer		second;			/* a second page of the same change, or
								 * InvalidBuffer (HnswEditAddPage) */
	bool		building;
	GenericXLogState *state;
} HnswPageEdit;

/*
 * What a check of hnswcheck.c found reading a page: HNSW_CHECK_OK, or why
 * the tuple is not there, or what is wrong (ERRCODE_INDEX_CORRUPTED).
 */
typedef enum HnswCheckResult
{
	HNSW_CHECK_OK = 0,
	HNSW_CHECK_ABSENT,			/* no tuple: a new page, an offset past the
								 * line pointers, an unused line pointer */

	/* pages and line pointers */
	HNSW_CHECK_PAGE_HEADER,		/* pd_lower, pd_upper, pd_special disorder */
	HNSW_CHECK_PAGE_SPECIAL,	/* special space size or page id */
	HNSW_CHECK_ITEM_FLAGS,		/* a redirect or dead line pointer */
	HNSW_CHECK_ITEM_RANGE,		/* a tuple outside the page's tuple space */

	/* element tuples */
	HNSW_CHECK_NOT_ELEMENT,		/* too short, or a type hnsw never writes */
	HNSW_CHECK_LEVEL,			/* above HNSW_MAX_LEVEL */
	HNSW_CHECK_DELETED,			/* deleted flag neither 0 nor 1 */
	HNSW_CHECK_TID_CAPACITY,	/* odd, or not below HNSW_HEAPTIDS */
	HNSW_CHECK_KEY,				/* a filter column's value where the index
								 * has none, or none where it has one */
	HNSW_CHECK_ENCODING,		/* the vector's quantization tag */
	HNSW_CHECK_VECTOR_LENGTH,	/* varlena header, dimensions, length */
	HNSW_CHECK_CODE_HEADER,		/* i8 scale, offset or error bound */
	HNSW_CHECK_CUT,				/* a head tuple where none can be */
	HNSW_CHECK_TUPLE_SIZE,		/* length not that of header, vector, slots */

	/* the metapage */
	HNSW_CHECK_META_NEW,		/* all zeroes */
	HNSW_CHECK_META_MAGIC,
	HNSW_CHECK_META_VERSION,
	HNSW_CHECK_META_M,
	HNSW_CHECK_META_EF,
	HNSW_CHECK_META_QUANT,
	HNSW_CHECK_META_DIMENSIONS, /* too many, or an element would not fit */
	HNSW_CHECK_META_ENTRY,		/* entry point, its level, or the two */
	HNSW_CHECK_META_INSERT_PAGE
} HnswCheckResult;

/* hnsw.iterative_scan: whether a scan goes on past its first ef_search */
typedef enum HnswIterativeScan
{
	HNSW_ITERATIVE_SCAN_OFF,	/* one search of ef_search candidates */
	HNSW_ITERATIVE_SCAN_RELAXED,	/* further batches, each in order */
	HNSW_ITERATIVE_SCAN_STRICT	/* further batches, nearer rows dropped */
} HnswIterativeScan;

/* GUCs */
extern int	hnsw_ef_search;
extern int	hnsw_iterative_scan;
extern int	hnsw_max_scan_tuples;
extern double hnsw_scan_mem_multiplier;
extern bool hnsw_rerank;
extern bool hnsw_filtered_walk;

/* hnsw.c */
extern void HnswInit(void);
extern int	HnswGetM(Relation index);
extern int	HnswGetEfConstruction(Relation index);
extern HnswCodeKind HnswGetQuantization(Relation index);
extern bool HnswGetPacked(Relation index);
extern int	HnswGetGraphQuantization(Relation index);
extern const char *HnswQuantizationName(HnswCodeKind q);
extern const char *HnswCodeKindName(HnswCodeKind kind);

/* quantize.c */
extern HnswCode *HnswEncodeVector(HnswGraph *graph, const HnswCode *vec,
								MemoryContext cxt);
extern HnswCode *HnswEncodeExactVector(HnswGraph *graph, const HnswCode *vec,
									 MemoryContext cxt);
extern void HnswDecodeVector(const HnswCode *code, float *out);
extern void HnswEncodeInt8(const HnswCode *code, HnswCode *out,
						   float *decoded);
extern Datum HnswCodeToDatum(HnswGraph *graph, const HnswCode *vec);
extern bool HnswCodeEqualsDatum(const HnswCode *code, Datum value);
extern bool HnswVectorMatches(HnswGraph *graph, const HnswCode *stored,
							  const HnswCode *vec);
extern float HnswCodeDistance(HnswGraph *graph, const HnswCode *a,
							  const HnswCode *b);
extern void HnswCodeBounds(const HnswCode *code, float *error,
						   float *magnitude);
extern double HnswQuantLowerBound(HnswGraph *graph, float distance,
								  float error, float magnitude,
								  double queryL1);
extern double HnswCodeLowerBound(HnswGraph *graph, float distance,
								 float error, float magnitude,
								 double queryL1, double queryL2);
extern double HnswQuantRefinedBound(HnswGraph *graph, const HnswCode *query,
									const HnswCode *code, float distance);

/*
 * Ask the CPU to fetch the cache lines of [p, p + len) that a distance is
 * about to read: every line the range touches, the last one included when
 * p is not aligned.  Into the second-level cache (locality 2, prefetcht1),
 * not the first: a 784-dimensional f32 vector is 50 lines, and on AMD Zen 4
 * prefetches into the first level wait for its few miss buffers, while the
 * second level keeps more misses in flight and the first level's own
 * prefetcher then streams the lines in as the kernel walks them.  Searches
 * took 28% less time and serial builds 15% (src/README, "Scans" and
 * "Build").  A hint only: nothing is read.
 */
static inline void
HnswPrefetchBytes(const void *p, Size len)
{
#if defined(__GNUC__) || defined(__clang__)
	const char *end = (const char *) p + len;

	for (const char *line = (const char *) TYPEALIGN_DOWN(64, p); line < end; line += 64)
		__builtin_prefetch(line, 0, 2);
#endif
}

/* Elements prefetched ahead of the one loaded, where several are loaded */
#define HNSW_LOAD_AHEAD		8

/* hnswbuffer.c */
extern Buffer HnswReadBuffer(Relation index, BlockNumber blkno);
extern void HnswPrefetchBlock(Relation index, BlockNumber blkno);
extern void HnswPrefetchTuple(Relation index, ItemPointer tid, Size head,
							  Size tail, Size minWhole);
extern void HnswPrefetchTail(Relation index, BlockNumber blkno, Size len);

/* hnswbuild.c */
extern IndexBuildResult *hnswbuild(Relation heap, Relation index,
								   struct IndexInfo *indexInfo);
extern void hnswbuildempty(Relation index);
extern char *hnswbuildphasename(int64 phasenum);

/*
 * A scan's conditions on the filter column, all of which a row must meet
 * (hnswfilter.c): btree strategy numbers, the values converted to int64.
 */
typedef struct HnswFilterCond
{
	StrategyNumber strategy;
	int64		value;
} HnswFilterCond;

typedef struct HnswFilter
{
	bool		never;			/* a condition no row meets (NULL argument,
								 * or a value beyond the column's type) */
	bool		hintFails[256]; /* an element whose hint (HnswKeyHint) is
								 * this surely fails the conditions */
	bool		hintPasses[256];	/* ... surely passes them */
	int			nconds;
	HnswFilterCond conds[FLEXIBLE_ARRAY_MEMBER];
} HnswFilter;

/*
 * Does a walk through the elements that pass a filter pay, for a filter
 * that a fraction of the elements pass, scattered among the others?  With
 * hints (HnswKeyHint) it does while at least m of them lie within the 4m^2
 * elements two hops away, and fewer than HNSW_FILTER_HINTED_MAX of all:
 * with more, the unfiltered walk wastes less than stepping over the
 * neighbours that fail (src/README "Filter column").
 */
#define HNSW_FILTER_HINTED_MAX	0.15

static inline bool
HnswScatteredWalkPays(double fraction, int m)
{
	return fraction < HNSW_FILTER_HINTED_MAX &&
		fraction * 4 * m * m >= (double) m;
}

/*
 * Below that, down to HNSW_FILTER_SEEDED_MIN passing elements within two
 * hops, the walk through the passing elements starts from those that a
 * search without the filter meets near the query (hnswscan.c
 * SeededEntries): a walk from elsewhere loses its way among so few.
 */
#define HNSW_FILTER_SEEDED_MIN	8.0

static inline bool
HnswSeededWalkPays(double fraction, int m)
{
	return !HnswScatteredWalkPays(fraction, m) &&
		fraction < HNSW_FILTER_HINTED_MAX &&
		fraction * 4 * m * m >= HNSW_FILTER_SEEDED_MIN;
}

/* hnswfilter.c */
extern void HnswCheckColumns(Relation index);
extern Size HnswIndexKeySize(Relation index);
extern void HnswKeyFromDatum(Relation index, Datum value, bool isnull,
							 HnswKey *key);
extern HnswFilter *HnswFilterFromScanKeys(ScanKey keys, int nkeys);
extern bool HnswFilterMatches(const HnswFilter *filter, const HnswKey *key);

/* hnswinsert.c */
extern bool hnswinsert(Relation index, Datum *values, bool *isnull,
					   ItemPointer heap_tid, Relation heap,
					   IndexUniqueCheck checkUnique, bool indexUnchanged,
					   struct IndexInfo *indexInfo);
extern void HnswBuildVerdictsStart(Relation index, char *mem, Size size,
								   MemoryContext cxt);
extern void HnswBuildVerdictsEnd(void);

/* hnswbuildcodes.c */
extern bool HnswBuildCodesUsable(HnswGraph *graph);
extern uint32 HnswBuildCodesInit(HnswGraph *graph, char *mem, Size size);
extern void HnswBuildCodesAttach(Relation index, char *mem,
								 MemoryContext cxt);
extern void HnswBuildCodesEnd(void);
extern bool HnswBuildCodesActive(Relation index);
extern const HnswCode *HnswBuildCodesFind(ItemPointer tid, uint8 *level);
extern void HnswBuildCodesPrefetch(ItemPointer tids, int n);
extern const HnswCode *HnswBuildCodesAdd(ItemPointer tid, uint8 level,
										 const HnswCode *vec);
extern void HnswInsertOnDisk(Relation index, Datum value, const HnswKey *key,
							 ItemPointer heaptid,
							 bool building);
extern int	HnswSortFullList(HnswGraph *graph, char *slots, int cap,
							 HnswElement newcomer, float newDistance,
							 HnswCandidate *cands, int *from, int *n);

/* hnswscan.c */
extern IndexScanDesc hnswbeginscan(Relation index, int nkeys, int norderbys);
extern void hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys,
					   ScanKey orderbys, int norderbys);
extern bool hnswgettuple(IndexScanDesc scan, ScanDirection dir);
extern void hnswendscan(IndexScanDesc scan);

/* hnswplan.c */
struct PlannedStmt;
extern void HnswRewritePlan(struct PlannedStmt *stmt);
extern void HnswRememberDistance(Oid index, ItemPointer tid,
								 const HnswGraph *graph, float distance,
								 bool exact, uint64 scanId,
								 const HnswCode *query);
extern void HnswForgetDistance(void);

/* hnswvacuum.c */
extern IndexBulkDeleteResult *hnswbulkdelete(IndexVacuumInfo *info,
											 IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback,
											 void *callback_state);
extern IndexBulkDeleteResult *hnswvacuumcleanup(IndexVacuumInfo *info,
												IndexBulkDeleteResult *stats);
extern void HnswLinkUnreachableBuilt(Relation index);

/* hnswreach.c: which elements a search from the entry point reaches */
#define HNSW_REACH_NONE				PG_UINT32_MAX

/* Store in out the numbers of the elements element id links to; -1: gone */
typedef int (*HnswReachLinks) (void *arg, uint32 id, uint32 *out);

typedef struct HnswReach
{
	uint32		n;				/* elements, numbered 0 .. n-1 */
	uint32	   *parent;			/* the element that first linked to each
								 * (the root: itself), HNSW_REACH_NONE if
								 * not reached */
	uint32	   *queue;			/* reached elements, in the order reached */
	uint32		qhead;
	uint32		qtail;
	uint32	   *buf;			/* one element's links */
	HnswReachLinks links;
	void	   *arg;
	uint32		ngone;			/* reached elements whose links were gone */
} HnswReach;

static inline bool
HnswReached(const HnswReach *r, uint32 id)
{
	return r->parent[id] != HNSW_REACH_NONE;
}

/* Is the link from -> to the one that first reached to (a tree link)? */
static inline bool
HnswReachIsTree(const HnswReach *r, uint32 from, uint32 to)
{
	return r->parent[to] == from;
}

/* An element of a graph on pages, for walks over it */
typedef struct HnswTidElement
{
	ItemPointerData tid;
	uint8		level;
	bool		deleted;		/* flagged deleted, not freed yet */
	uint8		hint;			/* of its filter column value (HnswKeyHint) */
} HnswTidElement;

/* The elements of a graph on pages in TID order, and how to read them */
typedef struct HnswTidList
{
	HnswTidElement *elements;
	uint32		n;
	uint32		max;			/* allocated */
	/* for HnswTidListLinks */
	Relation	index;
	const HnswLayout *layout;
	BufferAccessStrategy strategy;
	bool		vacuumDelay;	/* vacuum_delay_point before each page */
} HnswTidList;

extern Size HnswReachBytes(uint32 n);
extern void HnswReachInit(HnswReach *r, uint32 n, HnswReachLinks links,
						  void *arg);
extern void HnswReachFree(HnswReach *r);
extern void HnswReachFrom(HnswReach *r, uint32 root);
extern void HnswReachAdd(HnswReach *r, uint32 from, uint32 to);
extern void HnswReachSplice(HnswReach *r, uint32 from, uint32 to,
							uint32 child);
extern uint32 HnswTidListFind(const HnswTidList *list, ItemPointer tid);
extern bool HnswTidListAdd(HnswTidList *list, ItemPointer tid, int level,
						   uint8 hint, bool deleted, Size limit);
extern int	HnswTidListLinks(void *arg, uint32 id, uint32 *out);

/* hnswcost.c */
extern void hnswcostestimate(struct PlannerInfo *root, struct IndexPath *path,
							 double loop_count, Cost *indexStartupCost,
							 Cost *indexTotalCost,
							 Selectivity *indexSelectivity,
							 double *indexCorrelation, double *indexPages);

/* hnswvalidate.c */
extern bool hnswvalidate(Oid opclassoid);

/* hnswsearch.c */
extern HnswGraph *HnswCreateGraph(Relation index, MemoryContext cxt, int dim);
extern void HnswGraphReserve(HnswGraph *graph, int n);
extern HnswCodeKind HnswIndexExactKind(Relation index);
extern HnswElement HnswNewElement(HnswGraph *graph, HnswCode *vec, int level,
								  ItemPointer heaptid);
extern HnswElement HnswLookupElement(HnswGraph *graph, ItemPointer tid);
extern bool HnswLoadElement(HnswGraph *graph, HnswElement element);
extern void HnswPrefetchElement(HnswGraph *graph, HnswElement e);
extern bool HnswEnsureVector(HnswGraph *graph, HnswElement element);
extern HnswCode *HnswReadElementVector(HnswGraph *graph, HnswElement e);
extern float HnswDistance(HnswGraph *graph, const HnswCode *a, const HnswCode *b);
extern HnswCode *HnswPrepareVector(HnswGraph *graph, Datum value);
extern HnswCode *HnswValueCode(HnswGraph *graph, Datum value);
extern int	HnswRandomLevel(int m);
extern HnswCandidate *HnswSearchLayer(HnswGraph *graph, const HnswCode *q,
									  HnswCandidate *entries, int nentries,
									  int ef, int lc, int *nresults,
									  List **seen);
extern HnswCandidate *HnswDescend(HnswGraph *graph, const HnswCode *q,
								  HnswCandidate *entries, int *nentries,
								  int top, int bottom);
extern void HnswFindNeighbors(HnswGraph *graph, const HnswCode *q, int level,
							  HnswNeighborList **lists, HnswCandidate *nearest);
extern int	HnswSelectNeighbors(HnswGraph *graph, HnswCandidate *candidates,
								int ncandidates, int max, HnswCandidate *out);
extern int	HnswDropNeighbor(HnswGraph *graph, HnswCandidate *candidates,
							 int n, int newcomer, bool force);
extern int	HnswDropNeighborDecided(HnswGraph *graph,
									HnswCandidate *candidates, int n,
									int newcomer, const bool *last,
									bool *kept);
extern HnswNeighborList *HnswNewNeighborList(HnswGraph *graph, int capacity);
extern void HnswNewSearch(HnswGraph *graph);
extern int	HnswCheckVector(HnswGraph *graph, const HnswCode *vec);
extern int	HnswSparseCodeNnz(int m, Size keySize, int nnz);
extern void HnswCheckGraphQuantization(HnswGraph *graph);
extern HnswCodeKind HnswCodeKindFor(int dim, int m, HnswCodeKind quant,
									int request);
extern void HnswGraphReadMeta(HnswGraph *graph, HnswMetaPageData *meta);
extern HnswElement HnswGetEntryPoint(HnswGraph *graph, HnswMetaPageData *meta);

/* hnswpage.c */
extern void HnswInitPage(Page page);
extern void HnswInitMetaPage(Page page, int m, int efConstruction,
							 HnswCodeKind quant);
extern void HnswReadMeta(Relation index, HnswMetaPageData *meta);
extern void HnswCheckMetaBuffer(Relation index, Buffer buf);
extern Page HnswEditStart(HnswPageEdit *edit, Relation index, Buffer buffer,
						  bool building, bool fullImage);
extern Page HnswEditAddPage(HnswPageEdit *edit, Buffer buffer);
extern void HnswEditFinish(HnswPageEdit *edit);
extern HnswElementTuple HnswGetElementTuple(Page page, OffsetNumber off);
extern HnswElementTuple HnswGetElementChecked(Relation index,
											  const HnswLayout *layout,
											  Buffer buf, OffsetNumber off);
extern void HnswReportCorrupt(Relation index, HnswCheckResult r,
							  BlockNumber blkno, OffsetNumber off, Page page,
							  const HnswLayout *layout) pg_attribute_noreturn();
extern void HnswCheckPage(Relation index, Buffer buf);
extern void HnswCheckLink(Relation index, BlockNumber *nblocks,
						  ItemPointer tid);
extern void HnswCheckEntryPoint(Relation index, BlockNumber *nblocks,
								HnswMetaPageData *meta);
extern void HnswCheckHeapTid(Relation index, Relation heap,
							 BlockNumber *heapBlocks, ItemPointer heaptid,
							 ItemPointer element);
extern void HnswCheckSlots(Relation index, BlockNumber *nblocks,
						   const HnswLayout *layout, HnswElementTuple tup,
						   BlockNumber blkno, OffsetNumber off);
extern Size HnswFormElementTuple(HnswGraph *graph, HnswElement element,
								 HnswElementTuple tup, int ntids);
extern void HnswAddElementTuple(HnswGraph *graph, HnswElementTuple tup, Size size,
								ItemPointer tid);
extern Size HnswElementTupleSize(HnswGraph *graph, const HnswCode *code,
								 int level, int ntids);
extern Size HnswMinCutSize(HnswGraph *graph);
extern HnswTailTuple HnswGetTail(Relation index, Buffer buf, ItemPointer head,
								 Size *len);
extern bool HnswReadTail(HnswGraph *graph, ItemPointer head, HnswCode *vec);
extern bool HnswCopyTupleVector(HnswElementTuple tup, HnswCode *dst, Size room);
extern void HnswWriteExactVector(HnswGraph *graph, const HnswCode *vec,
								 HnswCode *code);
extern HnswCode *HnswReadExactVector(Relation index, ItemPointer link, int dim,
								   int *nchunks);
extern HnswCode *HnswFetchExactVector(HnswGraph *graph, HnswElement element);
extern void HnswFreeExactVector(Relation index, ItemPointer link,
								BufferAccessStrategy strategy);
extern bool HnswUpdateMetaEntry(Relation index, bool building, int dim,
								ItemPointer entry, int level, bool onlyIfHigher);
extern bool HnswUpdateMetaInsertPage(Relation index, bool building,
									 BlockNumber blkno,
									 const BlockNumber *seen);

/* hnswcheck.c: checks of page fields, without the backend (the fuzzer) */
extern HnswCheckResult HnswCheckPageHeader(Page page);
extern HnswCheckResult HnswCheckPageSpecial(Page page);
extern HnswCheckResult HnswCheckItem(Page page, OffsetNumber off,
									 char **item, Size *len);
extern HnswCheckResult HnswCheckElementTuple(const HnswLayout *layout,
											 const char *item, Size len);
extern HnswCheckResult HnswCheckElementAt(const HnswLayout *layout,
										  Page page, OffsetNumber off,
										  HnswElementTuple *tup, Size *len);
extern HnswCheckResult HnswCheckMetaPage(Page page, HnswMetaPageData *meta);

/* Read the filter column's value of an element tuple into *key */
static inline void
HnswTupleGetKey(const HnswElementTupleData *tup, HnswKey *key)
{
	memset(key, 0, sizeof(HnswKey));
	if (tup->ntids & HNSW_TUPLE_KEY_NULL)
		key->isnull = true;
	else if (HnswTupleKeySize(tup) > 0)
		memcpy(&key->value,
			   (const char *) tup +
			   HNSW_ELEMENT_HEADER_SIZE(HnswTupleTidCapacity(tup)),
			   HNSW_KEY_SIZE);
}

/*
 * The hint of a level-0 neighbour's filter column value, kept beside the
 * link so that a filtered walk knows whether the neighbour passes without
 * reading it: HNSW_HINT_UNKNOWN (an empty slot, or a writer that did not
 * know the value), value + 1 for a value from 0 to HNSW_HINT_MAX_VALUE,
 * HNSW_HINT_NULL, or for any other value one of HNSW_HINT_BUCKETS codes
 * from HNSW_HINT_FIRST_BUCKET on, by a hash of the value (HnswHintBucket).
 * The codes are on disk: neither the split nor the hash may change.
 */
#define HNSW_HINT_UNKNOWN		0
#define HNSW_HINT_MAX_VALUE		127
#define HNSW_HINT_FIRST_BUCKET	(HNSW_HINT_MAX_VALUE + 2)
#define HNSW_HINT_BUCKETS		126
#define HNSW_HINT_NULL			255

/* The bucket code of a value beyond the exact ones (splitmix64's mixer) */
static inline uint8
HnswHintBucket(int64 value)
{
	uint64		x = (uint64) value;

	x = (x ^ (x >> 30)) * UINT64CONST(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64CONST(0x94d049bb133111eb);
	x ^= x >> 31;
	return (uint8) (HNSW_HINT_FIRST_BUCKET + x % HNSW_HINT_BUCKETS);
}

static inline uint8
HnswKeyHint(const HnswKey *key)
{
	if (key == NULL)
		return HNSW_HINT_UNKNOWN;
	if (key->isnull)
		return HNSW_HINT_NULL;
	if (key->value >= 0 && key->value <= HNSW_HINT_MAX_VALUE)
		return (uint8) (key->value + 1);
	return HnswHintBucket(key->value);
}

/* The level-0 hints of an element tuple of an index of m, or NULL */
static inline uint8 *
HnswTupleHints(HnswElementTupleData *tup, int m)
{
	if ((tup->ntids & HNSW_TUPLE_HINTED) == 0)
		return NULL;
	return (uint8 *) HnswTupleGetSlots(tup) +
		HNSW_SLOTS(tup->level, m) * sizeof(HnswNeighborSlot);
}

/* The hint of an element tuple's own filter column value */
static inline uint8
HnswTupleOwnHint(const HnswElementTupleData *tup)
{
	HnswKey		key;

	if (HnswTupleKeySize(tup) == 0)
		return HNSW_HINT_UNKNOWN;
	HnswTupleGetKey(tup, &key);
	return HnswKeyHint(&key);
}

/*
 * Fill slot i of an element tuple of an index of m with a link to tid, at
 * distance from the element, and, for a level-0 slot of a tuple with hints,
 * hint (HnswKeyHint of the neighbour's filter column value).  Every writer
 * of a link goes through here, so a hint never outlives its link.
 */
static inline void
HnswSetLinkHint(HnswElementTupleData *tup, int m, int i, ItemPointer tid,
				float distance, uint8 hint)
{
	uint8	   *hints = HnswTupleHints(tup, m);

	HnswSlotSet(HnswTupleGetSlots(tup), i, tid, distance);
	if (hints != NULL && i < HNSW_LEVEL_CAPACITY(0, m))
		hints[i] = hint;
}

/*
 * Copy the valid links of an element tuple of an index of m on level lc
 * into tids (room for HNSW_LEVEL_CAPACITY) and, with hints, the hint of
 * each (HNSW_HINT_UNKNOWN above level 0 or in a tuple without hints);
 * return how many.
 */
static inline int
HnswTupleLinks(HnswElementTupleData *tup, int m, int lc, ItemPointerData *tids,
			   uint8 *hints)
{
	char	   *slots = HnswTupleGetSlots(tup);
	uint8	   *tupHints = lc == 0 ? HnswTupleHints(tup, m) : NULL;
	int			start = HNSW_LEVEL_START(lc, m);
	int			n = 0;

	for (int i = 0; i < HNSW_LEVEL_CAPACITY(lc, m); i++)
	{
		ItemPointer tid = HnswSlotTid(slots, start + i);

		if (!ItemPointerIsValid(tid))
			continue;
		if (hints != NULL)
			hints[n] = tupHints != NULL ? tupHints[i] : HNSW_HINT_UNKNOWN;
		tids[n++] = *tid;
	}
	return n;
}

/* HnswSetLinkHint with the neighbour's value key (NULL: not known) */
static inline void
HnswSetLink(HnswElementTupleData *tup, int m, int i, ItemPointer tid,
			float distance, const HnswKey *key)
{
	HnswSetLinkHint(tup, m, i, tid, distance, HnswKeyHint(key));
}

/* Is tid a link that may name an element: off the metapage, in range? */
static inline bool
HnswLinkInRange(ItemPointer tid, BlockNumber nblocks)
{
	BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(tid);
	OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(tid);

	return blkno != HNSW_METAPAGE_BLKNO && blkno < nblocks &&
		off >= FirstOffsetNumber && off <= MaxOffsetNumber;
}

/* Are the floats before an i8 code sound (see HnswCheckElementTuple)? */
static inline bool
HnswCodeHeaderValid(const HnswCode *code)
{
	for (int i = 0; i < HNSW_CODE_HEADER_FLOATS(code->kind); i++)
	{
		/* finite, and not negative but for the offset (NaN fails) */
		if (!(HnswCodeFloats(code)[i] >= (i == 1 ? -FLT_MAX : 0.0f) &&
			  HnswCodeFloats(code)[i] <= FLT_MAX))
			return false;
	}
	return true;
}

/*
 * Return whether the tuple at off of a page is a whole element tuple of
 * layout with every field in range, and set *tup; false means "ask
 * HnswCheckElementAt", which also accepts head tuples and layouts without
 * dimensions, and says what is wrong.  Nothing it accepts is refused by
 * HnswCheckElementAt (test/fuzz/fuzz_page.c checks that).  The fast path
 * of HnswGetElement, a search's check of every element it loads: the page
 * header, the line pointer, the tuple header, then the tuple's length
 * against the layout's element of its level and capacity and the vector's
 * header (length, dimensions, encoding) as one 8-byte word.
 */
static inline bool
HnswElementIsWhole(const HnswLayout *layout, Page page, OffsetNumber off,
				   HnswElementTuple *tup)
{
	PageHeader	ph = (PageHeader) page;
	ItemId		itemid;
	const uint8 *item;
	unsigned	lpoff;
	unsigned	lplen;
	unsigned	cap;
	uint64		header;

	/* the line pointer lies before pd_upper, the tuple after it */
	if (ph->pd_special != BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData)) ||
		ph->pd_lower > ph->pd_upper || off == InvalidOffsetNumber ||
		SizeOfPageHeaderData + off * sizeof(ItemIdData) > ph->pd_lower)
		return false;
	itemid = PageGetItemId(page, off);
	lpoff = ItemIdGetOffset(itemid);
	lplen = ItemIdGetLength(itemid);
	if (!ItemIdIsNormal(itemid) || lpoff < ph->pd_upper ||
		lpoff + lplen > BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData)) ||
		lpoff % MAXIMUM_ALIGNOF != 0)
		return false;
	item = (const uint8 *) page + lpoff;
	cap = item[3] & HNSW_TIDS_MASK;
	if (item[0] != HNSW_ELEMENT_TUPLE || item[1] > HNSW_MAX_LEVEL ||
		item[2] > 1 || (cap & 1) != 0 || cap == 0 || cap > HNSW_HEAPTIDS ||
		(layout->keySize == 0 ? item[3] != cap :
		 (item[3] & HNSW_TUPLE_KEYED) == 0))
		return false;
	/* the length makes the vector's header, and all after it, the tuple's */
	if (lplen != layout->elementSize + cap * sizeof(ItemPointerData) +
		item[1] * layout->levelSize +
		((item[3] & HNSW_TUPLE_HINTED) != 0 ? HNSW_HINTS_SIZE(layout->m) : 0))
		return false;
	memcpy(&header, item + HNSW_ELEMENT_HEADER_SIZE(cap) + layout->keySize,
		   sizeof(header));
	if (header != layout->vectorHeader ||
		(HnswQuantIsInt8(layout->codeKind) &&
		 !HnswCodeHeaderValid((const HnswCode *) (item +
												HNSW_ELEMENT_HEADER_SIZE(cap) +
												layout->keySize))))
		return false;
	*tup = (HnswElementTuple) item;
	return true;
}

/*
 * Return the element tuple at off of a page the caller holds locked in buf,
 * checked against the layout of its index, or NULL if there is none;
 * anything malformed raises ERRCODE_INDEX_CORRUPTED naming the index, block
 * and offset (HnswGetElementChecked).  Every reader of element tuples
 * comes through here; see src/README "Reading pages".  Inline: a search
 * calls it for every element it loads.
 */
static inline HnswElementTuple
HnswGetElement(Relation index, const HnswLayout *layout, Buffer buf,
			   OffsetNumber off)
{
	HnswElementTuple tup;

	if (likely(HnswElementIsWhole(layout, BufferGetPage(buf), off, &tup)))
		return tup;
	return HnswGetElementChecked(index, layout, buf, off);
}

#endif							/* HNSW_HNSW_H */
