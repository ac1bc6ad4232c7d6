/*-------------------------------------------------------------------------
 *
 * hnswbuildcodes.c
 *	  The codes a build compares once its graph has outgrown
 *	  maintenance_work_mem: an i8 code of every element it can hold, kept in
 *	  the memory the flushed arena leaves, so that the searches and prunings
 *	  of the rows inserted into the pages compute distances without reading
 *	  the pages of the elements they compare.
 *
 * The store is shared by the build's participants (it lives in the arena's
 * memory, dynamic shared memory in a parallel build) and only grows: an
 * element's code, once published, never changes, and the index is private
 * to the build, whose elements are never freed.  A table indexed by TID
 * (block number times the most element tuples a page holds, plus offset)
 * leads to the codes: an entry is claimed by compare-and-swap and then
 * published as the code's record number and the element's level, written
 * after the code (a write barrier between them).  A reader that finds no
 * record, or a TID past the table, reads the page instead.  See src/README
 * "Build".
 *
 * src/hnswbuildcodes.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "hnsw.h"
#include "port/atomics.h"
#include "utils/memutils.h"

/* The store's header, at the start of its memory */
typedef struct BuildCodesHeader
{
	pg_atomic_uint32 nrecords;	/* records handed out (may pass max) */
	uint32		maxRecords;
	uint32		maxOffset;		/* offsets per block in the table */
	uint32		nentries;		/* of the table: blocks times maxOffset */
	uint32		recSize;		/* bytes of a record (a code) */
	int			dim;
} BuildCodesHeader;

/*
 * This backend's view of the store: where its parts are.  index is
 * InvalidOid when there is none.
 */
static struct
{
	Oid			index;
	BuildCodesHeader *header;
	pg_atomic_uint32 *table;	/* per TID: CODES_ABSENT, CODES_BUSY or a
								 * record (CodesValue) */
	char	   *records;
	float	   *decoded;		/* dim floats: a code being encoded */
} codes;

#define CODES_ABSENT	0
#define CODES_BUSY		PG_UINT32_MAX
/* a table entry: record number + 1 in the low bits, the level above */
#define CODES_LEVEL_SHIFT	27
#define CODES_MAX_RECORDS	((((uint32) 1) << CODES_LEVEL_SHIFT) - 2)

/* Table entries per record: pages are not all full of elements */
#define CODES_TABLE_FACTOR	1.5

StaticAssertDecl(HNSW_MAX_LEVEL < (1 << (32 - CODES_LEVEL_SHIFT)) - 1,
				 "levels must fit a table entry");

/* The record size of dim-dimensional codes */
static uint32
RecordSize(int dim)
{
	return MAXALIGN(HNSW_CODE_SIZE(dim, HNSW_CODE_I8));
}

/* The parts of the store at mem */
static void
Locate(char *mem)
{
	BuildCodesHeader *header = (BuildCodesHeader *) mem;
	char	   *p = mem + MAXALIGN(sizeof(BuildCodesHeader));

	codes.header = header;
	codes.table = (pg_atomic_uint32 *) p;
	p += MAXALIGN(sizeof(pg_atomic_uint32) * (Size) header->nentries);
	codes.records = p;
}

/*
 * Can the graph's elements be compared by their i8 codes?  Dense vectors
 * stored whole in their elements (not out of line: those compare codes
 * already), without a filter column (whose values the links' hints need),
 * under a metric the i8 kernels compute; plain inner product is left out
 * as the remembered verdicts leave it out.
 */
bool
HnswBuildCodesUsable(HnswGraph *graph)
{
	if (HnswGraphOutOfLine(graph) || graph->keySize != 0 || graph->dim == 0)
		return false;
	if (graph->codeKind != HNSW_CODE_F32 && graph->codeKind != HNSW_CODE_HALF &&
		graph->codeKind != HNSW_CODE_F16 && graph->codeKind != HNSW_CODE_BF16 &&
		graph->codeKind != HNSW_CODE_I8)
		return false;
	if (graph->valueKind != HNSW_CODE_F32 && graph->valueKind != HNSW_CODE_HALF)
		return false;
	return graph->metric == HNSW_METRIC_L2 || graph->metric == HNSW_METRIC_L1 ||
		(graph->metric == HNSW_METRIC_IP && graph->normalize);
}

/*
 * Lay out an empty store of the graph's codes in size bytes at mem
 * (MAXALIGNed).  Called once per build, by the leader, before any
 * participant attaches (HnswBuildCodesAttach).  Return how many codes it
 * holds, 0 if the memory holds too few to be worth it (no store).
 */
uint32
HnswBuildCodesInit(HnswGraph *graph, char *mem, Size size)
{
	BuildCodesHeader *header = (BuildCodesHeader *) mem;
	Size		fixed = MAXALIGN(sizeof(BuildCodesHeader)) + MAXIMUM_ALIGNOF;
	Size		smallest;
	double		perRecord;
	Size		n;
	Size		blocks;

	/* the most element tuples a page holds: as many of the smallest */
	smallest = HNSW_ELEMENT_HEADER_SIZE(2) +
		HNSW_CODE_SIZE(graph->dim, graph->codeKind) +
		HNSW_SLOTS(0, graph->m) * sizeof(HnswNeighborSlot);
	header->maxOffset = (BLCKSZ - SizeOfPageHeaderData) /
		(MAXALIGN(smallest) + sizeof(ItemIdData));

	/* elements too large for a page whole are cut, and never stored here */
	if (header->maxOffset == 0 || size <= fixed + 1024)
		return 0;
	perRecord = RecordSize(graph->dim) +
		CODES_TABLE_FACTOR * sizeof(pg_atomic_uint32);
	n = (Size) ((size - fixed) / perRecord);
	n = Min(n, CODES_MAX_RECORDS);
	if (n < 1024)
		return 0;
	blocks = (Size) (n * CODES_TABLE_FACTOR) / header->maxOffset;
	blocks = Min(blocks, PG_UINT32_MAX / header->maxOffset);
	header->nentries = (uint32) (blocks * header->maxOffset);
	header->maxRecords = (uint32) n;
	header->recSize = RecordSize(graph->dim);
	header->dim = graph->dim;
	pg_atomic_init_u32(&header->nrecords, 0);
	Locate(mem);
	for (uint32 i = 0; i < header->nentries; i++)
		pg_atomic_init_u32(&codes.table[i], CODES_ABSENT);
	codes.index = InvalidOid;
	return header->maxRecords;
}

/* The memory context callback that ends the store when its memory goes */
static void
CodesGone(void *arg)
{
	HnswBuildCodesEnd();
}

/*
 * Use the store HnswBuildCodesInit laid out at mem for the rest of this
 * backend's part in building index; cxt's reset or deletion ends it (an
 * error), as does HnswBuildCodesEnd.
 */
void
HnswBuildCodesAttach(Relation index, char *mem, MemoryContext cxt)
{
	MemoryContextCallback *cb;

	HnswBuildCodesEnd();
	Locate(mem);
	codes.decoded = MemoryContextAlloc(cxt, sizeof(float) *
									   Max(codes.header->dim, 1));
	codes.index = RelationGetRelid(index);
	cb = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));
	cb->func = CodesGone;
	cb->arg = NULL;
	MemoryContextRegisterResetCallback(cxt, cb);
}

/* Forget the store (the build is over, or its memory goes) */
void
HnswBuildCodesEnd(void)
{
	codes.index = InvalidOid;
	codes.header = NULL;
	codes.decoded = NULL;
}

/* Does this backend compare index's elements by their codes? */
bool
HnswBuildCodesActive(Relation index)
{
	return codes.index != InvalidOid && codes.index == RelationGetRelid(index);
}

/* The table entry of tid, or NULL if the table does not cover it */
static inline pg_atomic_uint32 *
Entry(ItemPointer tid)
{
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	uint64		i;

	if (off < FirstOffsetNumber || off > codes.header->maxOffset)
		return NULL;
	i = (uint64) ItemPointerGetBlockNumber(tid) * codes.header->maxOffset +
		(off - FirstOffsetNumber);
	return i < codes.header->nentries ? &codes.table[i] : NULL;
}

/* The record of a published table entry, and its level */
static inline const HnswCode *
Record(uint32 value, uint8 *level)
{
	uint32		r = (value & ((((uint32) 1) << CODES_LEVEL_SHIFT) - 1)) - 1;

	*level = (uint8) (value >> CODES_LEVEL_SHIFT);
	return (const HnswCode *) (codes.records + (Size) r * codes.header->recSize);
}

/*
 * Hint that the codes of the elements at tids[0..n) are about to be looked
 * up: their table entries are fetched into the CPU's cache together.
 */
void
HnswBuildCodesPrefetch(ItemPointer tids, int n)
{
	for (int i = 0; i < n; i++)
	{
		pg_atomic_uint32 *entry = Entry(&tids[i]);

		if (entry != NULL)
			HnswPrefetchBytes(entry, sizeof(*entry));
	}
}

/*
 * The code of the element at tid and its level, or NULL if the store has
 * none (yet).  No lock.
 */
const HnswCode *
HnswBuildCodesFind(ItemPointer tid, uint8 *level)
{
	pg_atomic_uint32 *entry = Entry(tid);
	uint32		value;

	if (entry == NULL)
		return NULL;
	value = pg_atomic_read_u32(entry);
	if (value == CODES_ABSENT || value == CODES_BUSY)
		return NULL;
	pg_read_barrier();
	return Record(value, level);
}

/*
 * Encode vec, the vector of the element at tid (a code of the index's kind,
 * whole), and publish it with level.  Return the stored code, or NULL if
 * the store cannot hold it or another backend is publishing the same
 * element right now (the caller then reads the page, as without a store).
 * No lock.
 */
const HnswCode *
HnswBuildCodesAdd(ItemPointer tid, uint8 level, const HnswCode *vec)
{
	BuildCodesHeader *header = codes.header;
	pg_atomic_uint32 *entry = Entry(tid);
	uint32		expected = CODES_ABSENT;
	uint32		r;
	HnswCode   *code;

	if (entry == NULL || vec->dim != header->dim ||
		pg_atomic_read_u32(&header->nrecords) >= header->maxRecords)
		return NULL;
	if (!pg_atomic_compare_exchange_u32(entry, &expected, CODES_BUSY))
	{
		uint8		stored;

		/* there already, or being published */
		if (expected == CODES_BUSY)
			return NULL;
		pg_read_barrier();
		return Record(expected, &stored);
	}

	r = pg_atomic_fetch_add_u32(&header->nrecords, 1);
	if (r >= header->maxRecords)
		return NULL;			/* full: the entry stays busy, not held */
	code = (HnswCode *) (codes.records + (Size) r * header->recSize);
	HnswEncodeInt8(vec, code, codes.decoded);
	pg_write_barrier();
	pg_atomic_write_u32(entry, (r + 1) | (uint32) level << CODES_LEVEL_SHIFT);
	return code;
}
