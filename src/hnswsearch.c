/*-------------------------------------------------------------------------
 *
 * hnswsearch.c
 *	  The HNSW algorithm alone: distances, the element cache, layer search,
 *	  neighbour selection and the level draw.  Used by build, insert, scan
 *	  and vacuum alike.
 *
 * Malkov and Yashunin, "Efficient and robust approximate nearest neighbor
 * search using Hierarchical Navigable Small World graphs" (2016); the
 * algorithm numbers below are the paper's.  See src/README "The algorithm".
 *
 * src/hnswsearch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "bitvec.h"
#include "common/pg_prng.h"
#include "distance.h"
#include "halfvec.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "sparsevec.h"
#include "access/genam.h"
#include "storage/bufmgr.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/varbit.h"
#include "vectortype.h"

/* The distance support functions of halfvec, sparsevec and bit */
typedef struct HnswKnownDistance
{
	PGFunction	fn;
	HnswCodeKind kind;			/* of the column's values */
	HnswMetric	metric;
} HnswKnownDistance;

static const HnswKnownDistance known_distances[] = {
	{halfvec_l2_squared_distance, HNSW_CODE_HALF, HNSW_METRIC_L2},
	{halfvec_negative_inner_product, HNSW_CODE_HALF, HNSW_METRIC_IP},
	{halfvec_l1_distance, HNSW_CODE_HALF, HNSW_METRIC_L1},
	{sparsevec_l2_squared_distance, HNSW_CODE_SPARSE, HNSW_METRIC_L2},
	{sparsevec_negative_inner_product, HNSW_CODE_SPARSE, HNSW_METRIC_IP},
	{sparsevec_l1_distance, HNSW_CODE_SPARSE, HNSW_METRIC_L1},
	{hamming_distance, HNSW_CODE_BIT, HNSW_METRIC_HAMMING},
	{jaccard_distance, HNSW_CODE_BIT, HNSW_METRIC_JACCARD},
};

/*
 * Element cache of an on-disk graph: element tuple location -> element.  An
 * open-addressing table with linear probing, kept at most half full; the key
 * block << 16 | offset is never 0 (offsets start at 1), so 0 marks a free
 * entry.  A search looks up every link of every element it expands, so
 * this is on the hot path: a multiplicative hash and a probe or two.
 */
typedef struct HnswCacheEntry
{
	uint64		key;			/* block << 16 | offset, 0 if free */
	HnswElement element;
} HnswCacheEntry;

struct hnsw_elements_hash
{
	HnswCacheEntry *entries;
	uint32		mask;			/* number of entries - 1 (a power of 2) */
	uint32		count;			/* entries in use */
	int			shift;			/* 64 - log2(number of entries) */
	MemoryContext cxt;
};

#define HNSW_CACHE_MIN_SIZE		1024

/* Fibonacci hashing: the top bits of key times 2^64 / golden ratio */
static inline uint32
CacheSlot(struct hnsw_elements_hash *cache, uint64 key)
{
	return (uint32) ((key * UINT64CONST(0x9E3779B97F4A7C15)) >> cache->shift);
}

/* Allocate an empty table of size entries (a power of 2) */
static void
CacheAllocate(struct hnsw_elements_hash *cache, uint32 size)
{
	cache->entries = MemoryContextAllocZero(cache->cxt,
											sizeof(HnswCacheEntry) * size);
	cache->mask = size - 1;
	cache->count = 0;
	cache->shift = 64;
	while (size > 1)
	{
		size >>= 1;
		cache->shift--;
	}
}

static struct hnsw_elements_hash *
CacheCreate(MemoryContext cxt)
{
	struct hnsw_elements_hash *cache;

	cache = MemoryContextAlloc(cxt, sizeof(struct hnsw_elements_hash));
	cache->cxt = cxt;
	CacheAllocate(cache, HNSW_CACHE_MIN_SIZE);
	return cache;
}

/*
 * Make room in an empty graph's cache for about n elements, so that a search
 * that meets that many does not grow it step by step (a build's inserts).
 */
void
HnswGraphReserve(HnswGraph *graph, int n)
{
	struct hnsw_elements_hash *cache = graph->cache;
	uint32		size = HNSW_CACHE_MIN_SIZE;

	if (cache->count != 0)
		return;
	while (size / 2 < (uint32) n && size < (1U << 20))
		size *= 2;
	if (size == cache->mask + 1)
		return;
	pfree(cache->entries);
	CacheAllocate(cache, size);
}

/* Double the table, moving every entry */
static void
CacheGrow(struct hnsw_elements_hash *cache)
{
	HnswCacheEntry *old = cache->entries;
	uint32		oldsize = cache->mask + 1;

	CacheAllocate(cache, oldsize * 2);
	for (uint32 i = 0; i < oldsize; i++)
	{
		uint32		slot;

		if (old[i].key == 0)
			continue;
		slot = CacheSlot(cache, old[i].key);
		while (cache->entries[slot].key != 0)
			slot = (slot + 1) & cache->mask;
		cache->entries[slot] = old[i];
		cache->count++;
	}
	pfree(old);
}

static HnswCode *ReadVector(HnswGraph *graph, HnswElement e);
static int	MaxLevelForSize(int dim, HnswCodeKind quant, int m,
							bool outOfLine, Size keySize);

/*
 * Return the kind of the values an index holds, as the metapage records it
 * before the first value (exactKind): its quantization option for vector
 * and array columns, HALF, BIT or SPARSE for the operator classes of those
 * types.
 */
HnswCodeKind
HnswIndexExactKind(Relation index)
{
	PGFunction	fn = index_getprocinfo(index, 1, HNSW_DISTANCE_PROC)->fn_addr;

	for (int i = 0; i < lengthof(known_distances); i++)
	{
		if (fn == known_distances[i].fn)
			return known_distances[i].kind;
	}
	return HnswGetQuantization(index);
}

/*
 * Fill in what the graph needs from an index's catalog entries: degree,
 * candidate list size and the distance to use.
 */
static void
HnswGraphSetIndex(HnswGraph *graph, Relation index)
{
	FmgrInfo   *proc;

	graph->m = HnswGetM(index);
	graph->efConstruction = HnswGetEfConstruction(index);
	graph->keySize = HnswIndexKeySize(index);
	graph->collation = index->rd_indcollation[0];
	proc = index_getprocinfo(index, 1, HNSW_DISTANCE_PROC);
	graph->distproc = proc;
	graph->normproc = OidIsValid(index_getprocid(index, 1, HNSW_NORM_PROC)) ?
		index_getprocinfo(index, 1, HNSW_NORM_PROC) : NULL;
	graph->normalize = graph->normproc != NULL;
	graph->codeKind = HnswGetQuantization(index);
	graph->arrays = index->rd_opcintype[0] == FLOAT4ARRAYOID ||
		index->rd_opcintype[0] == FLOAT8ARRAYOID;

	/*
	 * Our own distance functions are computed by calling the kernels
	 * directly; anything else goes through fmgr.  For cosine the vectors are
	 * unit vectors, so ordering by negative inner product is the same.
	 */
	graph->valueKind = HNSW_CODE_F32;
	if (proc->fn_addr == vector_l2_squared_distance ||
		proc->fn_addr == array_l2_squared_distance)
		graph->metric = HNSW_METRIC_L2;
	else if (proc->fn_addr == vector_negative_inner_product ||
			 proc->fn_addr == array_negative_inner_product)
		graph->metric = HNSW_METRIC_IP;
	else if (proc->fn_addr == cosine_distance && graph->normalize)
		graph->metric = HNSW_METRIC_IP;
	else if (proc->fn_addr == l1_distance || proc->fn_addr == array_l1_distance)
		graph->metric = HNSW_METRIC_L1;
	else
	{
		graph->metric = HNSW_METRIC_OTHER;
		for (int i = 0; i < lengthof(known_distances); i++)
		{
			if (proc->fn_addr == known_distances[i].fn)
			{
				graph->metric = known_distances[i].metric;
				graph->valueKind = known_distances[i].kind;
			}
		}
	}

	/* arrays become vectors, so only built-in distances apply to them */
	if (graph->metric == HNSW_METRIC_OTHER && graph->arrays)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("hnsw indexes on arrays support only the built-in distances"),
				 errhint("Use float4_l2_ops, float4_ip_ops, float4_cosine_ops, float4_l1_ops or their float8 counterparts.")));
	if (graph->metric == HNSW_METRIC_OTHER)
	{
		/* a distance of its own is called with the values as vectors */
		if (VectorTypeOf(index->rd_opcintype[0]) != VECTOR_TYPE_VECTOR)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("hnsw operator classes of type %s need one of its built-in distance functions",
							format_type_be(index->rd_opcintype[0]))));
	}
	if (graph->codeKind != HNSW_CODE_F32)
	{
		if (graph->metric == HNSW_METRIC_OTHER)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("quantization \"%s\" is not supported by this operator class",
							HnswQuantizationName(graph->codeKind)),
					 errdetail("Quantized indexes compute L2, inner product, cosine and L1 distances only.")));
		if (graph->valueKind != HNSW_CODE_F32)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("quantization \"%s\" is not supported for type %s",
							HnswQuantizationName(graph->codeKind),
							format_type_be(index->rd_opcintype[0])),
					 errdetail("Only vector and array columns can be quantized.")));
	}
	else
		graph->codeKind = graph->valueKind;
	graph->exactKind = graph->codeKind;
	graph->graphRequest = HnswGetGraphQuantization(index);
}

/*
 * Is request (a graph_quantization) a code of less precision than values of
 * kind exact: bf16 codes of f32 values, i8 codes of f32, f16, bf16 and
 * halfvec values?
 */
static bool
GraphCodeAllowed(int request, HnswCodeKind exact)
{
	if (request == HNSW_CODE_BF16)
		return exact == HNSW_CODE_F32;
	if (request == HNSW_CODE_I8)
		return exact == HNSW_CODE_F32 || exact == HNSW_CODE_F16 ||
			exact == HNSW_CODE_BF16 || exact == HNSW_CODE_HALF;
	return false;
}

/*
 * Raise an error unless the graph_quantization an index asks for is a code
 * of less precision than its values, compared by a built-in distance: bf16
 * codes of f32 values, i8 codes of f32, f16, bf16 and halfvec values.  Asking
 * for the values' own kind is asking for nothing.  Checked when the layout
 * is decided (CREATE INDEX, the first vector of an empty index); once the
 * metapage records it, the option is not read again.
 */
void
HnswCheckGraphQuantization(HnswGraph *graph)
{
	int			request = graph->graphRequest;
	HnswCodeKind exact = graph->exactKind;

	if ((request != HNSW_CODE_BF16 && request != HNSW_CODE_I8) ||
		request == (int) exact)
		return;
	if (!GraphCodeAllowed(request, exact))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("graph_quantization \"%s\" is not supported for %s values",
						HnswQuantizationName(request),
						HnswCodeKindName(exact)),
				 errdetail("The graph's codes must be less precise than the vectors: \"bf16\" for f32 vectors, \"i8\" for f32, f16, bf16 and half vectors.")));
	if (graph->metric == HNSW_METRIC_OTHER)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("graph_quantization \"%s\" is not supported by this operator class",
						HnswQuantizationName(request)),
				 errdetail("Codes in the graph compute L2, inner product, cosine and L1 distances only.")));
}

/*
 * Create a graph over an index, allocated in cxt, with an empty element
 * cache.  Looks up the support functions once.
 */
HnswGraph *
HnswCreateGraph(Relation index, MemoryContext cxt, int dim)
{
	HnswGraph  *graph = MemoryContextAllocZero(cxt, sizeof(HnswGraph));

	graph->cxt = cxt;
	graph->index = index;
	graph->dim = dim;
	graph->bound = INFINITY;
	graph->cache = CacheCreate(cxt);
	HnswGraphSetIndex(graph, index);
	return graph;
}

/* Start a new search: nothing is marked visited by it yet */
void
HnswNewSearch(HnswGraph *graph)
{
	graph->searchTag++;
	/* forget the decoded vector: a search is as long as it is trusted */
	graph->scratchOf = NULL;
}

/*
 * Return the distance between two codes of the graph's dimensions, in the
 * index's internal order (squared L2, negative inner product, L1, Hamming,
 * Jaccard).  Plain vectors here; every other kind in HnswCodeDistance.
 */
float
HnswDistance(HnswGraph *graph, const HnswCode *a, const HnswCode *b)
{
	if (unlikely(a->kind != HNSW_CODE_F32 || b->kind != HNSW_CODE_F32))
		return HnswCodeDistance(graph, a, b);

	switch (graph->metric)
	{
		case HNSW_METRIC_L2:
			return VectorL2SquaredDistance(HnswCodeFloats(a),
										   HnswCodeFloats(b), a->dim);
		case HNSW_METRIC_IP:
			return -VectorInnerProduct(HnswCodeFloats(a), HnswCodeFloats(b),
									   a->dim);
		case HNSW_METRIC_L1:
			return VectorL1Distance(HnswCodeFloats(a), HnswCodeFloats(b),
									a->dim);
		default:
			break;
	}
	return (float) DatumGetFloat8(FunctionCall2Coll(graph->distproc,
													graph->collation,
													PointerGetDatum(a),
													PointerGetDatum(b)));
}

/*
 * The distance from the graph's query to an element's vector b (on its page),
 * given up once it exceeds graph->bound where the kernel allows (squared L2
 * of f32 vectors; see src/README "Early abandoning").  *partial is set when
 * it was: the result is then only a lower bound, above graph->bound.
 */
static float
QueryDistance(HnswGraph *graph, const HnswCode *b, bool *partial)
{
	const HnswCode *q = graph->query;
	float		d;

	if (graph->metric != HNSW_METRIC_L2 || isinf(graph->bound) ||
		q->kind != HNSW_CODE_F32 || b->kind != HNSW_CODE_F32)
	{
		*partial = false;
		return HnswDistance(graph, q, b);
	}
	d = VectorL2SquaredBounded(HnswCodeFloats(q), HnswCodeFloats(b), q->dim,
							   graph->bound);
	*partial = d > graph->bound;
	return d;
}

/*
 * Raise an error unless vec has the graph's dimensions and its element fits
 * on a page.  The first vector fixes the dimensions, and with them whether
 * elements hold their vectors or codes with the vectors out of line (see
 * HnswCodeKindFor).  Return the highest level an element may have.
 */
int
HnswCheckVector(HnswGraph *graph, const HnswCode *vec)
{
	int			dim = HnswCodeDim(vec);
	int			maxLevel;

	if (graph->dim == 0)
	{
		HnswCheckGraphQuantization(graph);
		graph->dim = dim;
		graph->codeKind = HnswCodeKindFor(dim, graph->m, graph->exactKind,
										  graph->graphRequest);
	}
	else if (dim != graph->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", graph->dim, dim)));

	/* a sparse vector's element is its own size: see HnswSparseCodeNnz */
	if (vec->kind == HNSW_CODE_SPARSE)
	{
		int			nnz = HnswSparseNnz(vec);
		int			keep = HnswSparseCodeNnz(graph->m, graph->keySize, nnz);

		maxLevel = MaxLevelForSize(keep, HNSW_CODE_SPARSE, graph->m,
								   keep < nnz, graph->keySize);
		if (maxLevel < 0)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("sparsevec too large to index"),
					 errdetail("With m = %d an element does not fit an index page even with its vector out of line.",
							   graph->m),
					 errhint("Use a smaller m.")));
		return maxLevel;
	}

	/* codes are compared by the built-in kernels only */
	if (HnswGraphOutOfLine(graph) && graph->metric == HNSW_METRIC_OTHER)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("vector too large to index with this operator class"),
				 errdetail("An element of %d dimensions with m = %d does not fit a page with its vector, and vectors kept out of line need a built-in distance.",
						   dim, graph->m)));

	maxLevel = MaxLevelForSize(dim, graph->codeKind, graph->m,
							   HnswGraphOutOfLine(graph), graph->keySize);
	if (maxLevel < 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector too large to index"),
				 errdetail("An element of %d dimensions with m = %d needs %zu bytes even with an \"i8\" code of its vector in the graph, but an index page holds at most %zu.",
						   dim, graph->m,
						   (size_t) HNSW_ELEMENT_TUPLE_SIZE(dim, HNSW_CODE_I8,
															0, graph->m) +
						   (!HnswQuantIsInt8(graph->exactKind) ?
							HNSW_VECTOR_LINK_SIZE : 0),
						   (size_t) HNSW_MAX_TUPLE_SIZE),
				 errhint("Use fewer dimensions or a smaller m.")));
	return maxLevel;
}

/*
 * Return how many entries of a sparse vector with nnz entries its element
 * keeps in the graph, in an index of degree m: all of them while an
 * element of level HNSW_INLINE_LEVEL (and room for every heap TID) fits a
 * page, 945 at m = 16; otherwise as many as fit beside a link to the whole
 * vector, kept out of line (the largest in magnitude; see src/README
 * "Element codes").  Each element decides for itself.
 */
int
HnswSparseCodeNnz(int m, Size keySize, int nnz)
{
	Size		fixed = HNSW_ELEMENT_HEADER_SIZE(HNSW_HEAPTIDS) +
		HNSW_KEYED_SIZE(keySize, m) +
		HNSW_SPARSE_CODE_SIZE(0) +
		HNSW_SLOTS(HNSW_INLINE_LEVEL, m) * sizeof(HnswNeighborSlot);
	Size		entry = sizeof(int32) + sizeof(float);
	int			inline_nnz;

	if (fixed + HNSW_VECTOR_LINK_SIZE > HNSW_MAX_TUPLE_SIZE)
		return 0;
	inline_nnz = (HNSW_MAX_TUPLE_SIZE - fixed) / entry;
	if (nnz <= inline_nnz)
		return nnz;
	return (HNSW_MAX_TUPLE_SIZE - fixed - HNSW_VECTOR_LINK_SIZE) / entry;
}

/*
 * Return how the elements of an index whose values are of kind exact (the
 * quantization option of a vector index, or the kind of a halfvec, bit or
 * sparsevec column) store them: as exact while an element of level
 * HNSW_INLINE_LEVEL fits a page; otherwise a code (bf16 if that fits, else
 * i8) with the value out of line.  If not even that fits, exact
 * (HnswCheckVector then refuses the value).  request, the index's
 * graph_quantization (HnswCheckGraphQuantization), chooses the code
 * instead while an element of that level fits with it.  A function of its
 * arguments only, so the metapage and every backend agree; see src/README
 * "Vectors out of line".
 */
HnswCodeKind
HnswCodeKindFor(int dim, int m, HnswCodeKind exact, int request)
{
	if (GraphCodeAllowed(request, exact) &&
		MaxLevelForSize(dim, (HnswCodeKind) request, m, true, 0) >=
		HNSW_INLINE_LEVEL)
		return (HnswCodeKind) request;
	if (exact == HNSW_CODE_SPARSE ||
		MaxLevelForSize(dim, exact, m, false, 0) >= HNSW_INLINE_LEVEL)
		return exact;
	if (exact == HNSW_CODE_BIT)
		return MaxLevelForSize(dim, HNSW_CODE_BIT_PREFIX, m, true, 0) >= 0 ?
			HNSW_CODE_BIT_PREFIX : exact;
	if (exact == HNSW_CODE_F32 &&
		MaxLevelForSize(dim, HNSW_CODE_BF16, m, true, 0) >= HNSW_INLINE_LEVEL)
		return HNSW_CODE_BF16;
	if (!HnswQuantIsInt8(exact) &&
		MaxLevelForSize(dim, HNSW_CODE_I8, m, true, 0) >= 0)
		return HNSW_CODE_I8;
	return exact;
}

/*
 * Read the metapage of an on-disk graph into *meta and take from it what
 * the layout of its element tuples depends on (HnswGraphLayout): degree,
 * and once known, dimensions and storage.
 */
void
HnswGraphReadMeta(HnswGraph *graph, HnswMetaPageData *meta)
{
	HnswReadMeta(graph->index, meta);
	if (graph->dim == 0)
		graph->dim = meta->dimensions;
	/* the layout follows the build's m, even after ALTER INDEX SET */
	graph->m = meta->m;
	graph->efConstruction = meta->efConstruction;
	/* until the first vector, the storage is undecided (HnswCheckVector) */
	if (meta->dimensions > 0)
	{
		graph->codeKind = meta->codeKind;
		graph->exactKind = meta->exactKind;
	}
}

/*
 * Return the entry point of an on-disk graph, loaded, after reading the
 * metapage into *meta (HnswGraphReadMeta); NULL if the index is empty.
 * Vacuum may free the entry point after moving it, so a vanished one
 * means: read again.
 */
HnswElement
HnswGetEntryPoint(HnswGraph *graph, HnswMetaPageData *meta)
{
	for (int attempt = 0; attempt < 100; attempt++)
	{
		HnswElement ep;

		HnswGraphReadMeta(graph, meta);
		if (!ItemPointerIsValid(&meta->entryPoint))
			return NULL;
		HnswCheckEntryPoint(graph->index, &graph->nblocks, meta);
		ep = HnswLookupElement(graph, &meta->entryPoint);
		if (HnswLoadElement(graph, ep))
			return ep;

		/* forget the stale copy and look again */
		ep->loaded = false;
		ep->missing = false;
		CHECK_FOR_INTERRUPTS();
	}
	elog(ERROR, "hnsw index \"%s\" has no readable entry point",
		 RelationGetRelationName(graph->index));
	return NULL;
}

static HnswCode *PrepareValue(HnswGraph *graph, Datum value, bool normalize);

/* Return the norm of a value by the operator class's support function */
static double
ValueNorm(HnswGraph *graph, Datum value)
{
	return DatumGetFloat8(FunctionCall1Coll(graph->normproc, graph->collation,
											value));
}

/*
 * Return a palloc'd code of a value datum of the index's column (a vector,
 * halfvec, sparsevec, bit string, or an array as a vector) as the index
 * compares it: scaled to unit length for cosine.  Return NULL for a value
 * the index does not hold (the zero vector under cosine).
 */
HnswCode *
HnswPrepareVector(HnswGraph *graph, Datum value)
{
	return PrepareValue(graph, value, graph->normalize);
}

/*
 * Return a palloc'd code of a value datum as it is, not normalised even
 * for cosine (the zero vector's, whose dimensions a scan checks).
 */
HnswCode *
HnswValueCode(HnswGraph *graph, Datum value)
{
	return PrepareValue(graph, value, false);
}

/*
 * Normalise *value with the type's l2_normalize function fn (as pgvector
 * does: a halfvec in halves); return false, leaving it, for a value of no
 * direction (the zero vector), which the index does not hold.
 */
static bool
NormalizeValue(HnswGraph *graph, Datum *value, PGFunction fn)
{
	double		norm;

	*value = PointerGetDatum(PG_DETOAST_DATUM(*value));	/* once */
	norm = ValueNorm(graph, *value);
	if (norm <= 0 || isnan(norm))
		return false;
	*value = DirectFunctionCall1(fn, *value);
	return true;
}

/*
 * The code of a halfvec value, normalised for cosine if normalize (NULL for
 * the zero vector then), palloc'd.
 */
static HnswCode *
HalfCode(HnswGraph *graph, Datum value, bool normalize)
{
	HalfVector *src;
	HnswCode   *vec;

	if (normalize && !NormalizeValue(graph, &value, halfvec_l2_normalize))
		return NULL;
	src = DatumGetHalfVector(value);
	vec = palloc0(HNSW_CODE_SIZE(src->dim, HNSW_CODE_HALF));
	SET_VARSIZE(vec, HNSW_CODE_SIZE(src->dim, HNSW_CODE_HALF));
	vec->dim = src->dim;
	vec->kind = HNSW_CODE_HALF;
	memcpy(vec->data, src->x, sizeof(uint16) * src->dim);
	return vec;
}

/* The code of a bit value, palloc'd; too long a string is an error */
static HnswCode *
BitCode(Datum value)
{
	VarBit	   *src = DatumGetVarBitP(value);
	HnswCode   *vec;

	if (VARBITLEN(src) > HNSW_MAX_BITS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("bit string too long to index"),
				 errdetail("A bit string of %d bits is longer than the %d bits an hnsw index holds.",
						   VARBITLEN(src), HNSW_MAX_BITS)));
	vec = palloc0(HNSW_CODE_SIZE(VARBITLEN(src), HNSW_CODE_BIT));
	SET_VARSIZE(vec, HNSW_CODE_SIZE(VARBITLEN(src), HNSW_CODE_BIT));
	vec->dim = VARBITLEN(src);
	vec->kind = HNSW_CODE_BIT;
	memcpy(vec->data, VARBITS(src), VARBITBYTES(src));
	return vec;
}

/*
 * The code of a sparsevec value, normalised for cosine if normalize (NULL
 * for the zero vector then), palloc'd.
 */
static HnswCode *
SparseCode(HnswGraph *graph, Datum value, bool normalize)
{
	SparseVector *src;
	HnswCode   *vec;
	Size		size;

	if (normalize && !NormalizeValue(graph, &value, sparsevec_l2_normalize))
		return NULL;
	src = DatumGetSparseVector(value);
	size = HNSW_SPARSE_CODE_SIZE(src->nnz);
	vec = palloc0(size);
	SET_VARSIZE(vec, size);
	vec->dim = 0;
	vec->kind = HNSW_CODE_SPARSE;
	((int32 *) vec->data)[0] = src->dim;
	((int32 *) vec->data)[1] = src->nnz;
	memcpy(HnswSparseIndices(vec), src->indices,
		   sizeof(int32) * src->nnz);
	memcpy(HnswSparseValues(vec), SPARSEVEC_VALUES(src),
		   sizeof(float) * src->nnz);
	return vec;
}

/*
 * The code of a vector value, or of a real[] or double precision[] one,
 * normalised for cosine if normalize (NULL for the zero vector then),
 * palloc'd.
 */
static HnswCode *
FloatCode(HnswGraph *graph, Datum value, bool normalize)
{
	HnswCode   *vec;

	if (graph->arrays)
		vec = (HnswCode *) HnswArrayToVector(value);
	else
	{
		Vector	   *src = DatumGetVector(value);

		vec = palloc(VARSIZE(src));
		memcpy(vec, src, VARSIZE(src));
	}
	if (normalize)
	{
		float	   *x = HnswCodeFloats(vec);
		double		norm = 0.0;

		/* the support function takes the column's type: arrays are done here */
		if (graph->arrays)
		{
			for (int i = 0; i < vec->dim; i++)
				norm += (double) x[i] * (double) x[i];
			norm = sqrt(norm);
		}
		else
			norm = ValueNorm(graph, PointerGetDatum(vec));
		if (norm <= 0 || isnan(norm))
			return NULL;
		for (int i = 0; i < vec->dim; i++)
			x[i] = (float) (x[i] / norm);
	}
	return vec;
}

/* HnswPrepareVector, normalising or not */
static HnswCode *
PrepareValue(HnswGraph *graph, Datum value, bool normalize)
{
	switch (graph->valueKind)
	{
		case HNSW_CODE_HALF:
			return HalfCode(graph, value, normalize);
		case HNSW_CODE_BIT:
			return BitCode(value);
		case HNSW_CODE_SPARSE:
			return SparseCode(graph, value, normalize);
		default:
			return FloatCode(graph, value, normalize);
	}
}

/* Return an empty neighbour list, allocated in the graph's context */
HnswNeighborList *
HnswNewNeighborList(HnswGraph *graph, int capacity)
{
	HnswNeighborList *list;

	list = MemoryContextAlloc(graph->cxt, offsetof(HnswNeighborList, items) +
							  capacity * sizeof(HnswCandidate));
	list->length = 0;
	list->capacity = capacity;
	return list;
}

/*
 * Return a new in-memory element for vec with empty neighbour lists, in the
 * graph's context.  Under f32 the element keeps vec, which the caller must
 * have allocated there; otherwise it gets an encoded copy.  When the graph
 * keeps vectors out of line, vec is written to the index's pages now
 * (HnswWriteExactVector: WAL-logged unless building) and the code links to
 * it, so the element tuple written later is complete.  Its filter column
 * value is the graph's (an insert's, graph->key).
 */
HnswElement
HnswNewElement(HnswGraph *graph, HnswCode *vec, int level, ItemPointer heaptid)
{
	HnswElement e = MemoryContextAllocZero(graph->cxt, sizeof(HnswElementData));

	ItemPointerSetInvalid(&e->tid);
	e->loaded = true;
	e->level = level;
	if (graph->codeKind == HNSW_CODE_F32)
		e->vec = vec;
	else
		e->vec = HnswEncodeVector(graph, vec, graph->cxt);
	if (HnswVectorHasLink(e->vec))
		HnswWriteExactVector(graph, vec, e->vec);
	if (heaptid)
	{
		e->heaptids[0] = *heaptid;
		e->nheaptids = 1;
	}
	e->key = graph->key;
	e->neighbors = MemoryContextAlloc(graph->cxt,
									  sizeof(HnswNeighborList *) * (level + 1));
	for (int lc = 0; lc <= level; lc++)
		e->neighbors[lc] = HnswNewNeighborList(graph,
											   HNSW_LEVEL_CAPACITY(lc, graph->m));
	return e;
}

/*
 * Return the element whose tuple is at tid, creating an unloaded one in the
 * cache if it is not there yet.  Every link a search, insert or vacuum
 * follows comes through here, so this is where a link that cannot name an
 * element raises ERRCODE_INDEX_CORRUPTED (HnswCheckLink): one compare per
 * new element.
 */
HnswElement
HnswLookupElement(HnswGraph *graph, ItemPointer tid)
{
	struct hnsw_elements_hash *cache = graph->cache;
	uint64		key;
	uint32		slot;
	HnswElement e;

	key = ((uint64) ItemPointerGetBlockNumber(tid) << 16) |
		ItemPointerGetOffsetNumber(tid);
	slot = CacheSlot(cache, key);
	while (cache->entries[slot].key != 0)
	{
		if (cache->entries[slot].key == key)
			return cache->entries[slot].element;
		slot = (slot + 1) & cache->mask;
	}

	/* not there: a new, unloaded element, if tid can be one */
	if (unlikely(!HnswLinkInRange(tid, graph->nblocks)))
		HnswCheckLink(graph->index, &graph->nblocks, tid);

	/*
	 * Elements come in chunks, zeroed at once: a search creates thousands,
	 * and a memset of each (152 bytes) was compiled to a rep stos, whose
	 * start-up cost made it a quarter of this function's samples.
	 */
	if (graph->nstubs == 0)
	{
		graph->nstubs = 256;
		graph->stubs = MemoryContextAllocZero(graph->cxt,
											  sizeof(HnswElementData) * graph->nstubs);
	}
	e = &graph->stubs[--graph->nstubs];
	e->tid = *tid;
	if (graph->codes)
	{
		const HnswCode *code = HnswBuildCodesFind(tid, &e->level);

		if (code != NULL)
		{
			e->vec = unconstify(HnswCode *, code);
			e->coded = true;
		}
	}

	if (cache->count + 1 > (cache->mask + 1) / 2)
	{
		CacheGrow(cache);
		slot = CacheSlot(cache, key);
		while (cache->entries[slot].key != 0)
			slot = (slot + 1) & cache->mask;
	}
	cache->entries[slot].key = key;
	cache->entries[slot].element = e;
	cache->count++;
	return e;
}

/*
 * The graph's buffer for the vector of a head tuple and its tail, which a
 * search needs only until it has the distance.  Allocated once, in the
 * graph's context.
 */
static HnswCode *
CutBuffer(HnswGraph *graph)
{
	if (graph->cutBuffer == NULL)
		graph->cutBuffer = MemoryContextAlloc(graph->cxt,
											  HNSW_CODE_SIZE(graph->dim,
															 graph->codeKind));
	return graph->cutBuffer;
}

/*
 * Build a loaded element's neighbour lists from its slots (a copy, or the
 * tuple under the page lock), looking every linked element up in the cache.
 */
static void
ResolveNeighbors(HnswGraph *graph, HnswElement e, char *slots)
{
	e->neighbors = MemoryContextAlloc(graph->cxt,
									  sizeof(HnswNeighborList *) * (e->level + 1));
	for (int lc = 0; lc <= e->level; lc++)
	{
		int			start = HNSW_LEVEL_START(lc, graph->m);
		int			cap = HNSW_LEVEL_CAPACITY(lc, graph->m);
		HnswNeighborList *list = HnswNewNeighborList(graph, cap);

		for (int i = 0; i < cap; i++)
		{
			ItemPointer tid = HnswSlotTid(slots, start + i);

			if (!ItemPointerIsValid(tid))
				continue;
			list->items[list->length].element = HnswLookupElement(graph, tid);
			list->items[list->length].distance =
				HnswSlotDistance(slots, start + i);
			list->length++;
		}
		e->neighbors[lc] = list;
	}
}

/*
 * Collect in graph->harvested the level-0 links of tup whose hints do not
 * say that they fail graph->harvest (hnswscan.c SeededEntries): the
 * elements that may pass, near every element a search loads, without
 * reading them.  Memory: graph->cxt.
 */
static void
Harvest(HnswGraph *graph, HnswElementTuple tup)
{
	const uint8 *hints = HnswTupleHints(tup, graph->m);
	char	   *slots = HnswTupleGetSlots(tup);

	if (hints == NULL)
		return;
	/* the hints first: most say fail, and their slots are not read */
	for (int i = 0; i < HNSW_LEVEL_CAPACITY(0, graph->m); i++)
	{
		ItemPointer tid;

		if (graph->harvest->hintFails[hints[i]])
			continue;
		tid = HnswSlotTid(slots, i);
		if (!ItemPointerIsValid(tid))
			continue;
		if (graph->nharvested == graph->maxharvested)
		{
			graph->maxharvested = Max(256, graph->maxharvested * 2);
			graph->harvested = graph->harvested == NULL ?
				MemoryContextAlloc(graph->cxt, sizeof(ItemPointerData) *
								   graph->maxharvested) :
				repalloc(graph->harvested, sizeof(ItemPointerData) *
						 graph->maxharvested);
		}
		graph->harvested[graph->nharvested++] = *tid;
	}
}

/*
 * What loading an element with a query reads (HnswLoadElement): its header,
 * filter column value and vector; a sparse code's size is its own, so the
 * whole tuple, which bounds it.
 */
static inline Size
LoadSize(HnswGraph *graph)
{
	return graph->codeKind == HNSW_CODE_SPARSE ? HNSW_MAX_TUPLE_SIZE :
		HNSW_ELEMENT_HEADER_SIZE(HNSW_HEAPTIDS) + graph->keySize +
		HNSW_CODE_SIZE(graph->dim, graph->codeKind);
}

/*
 * Start bringing what loading element e reads into the CPU cache (and the
 * tail of a cut one), unless it is loaded: a hint for callers that load
 * several elements one after another (HnswPrefetchTuple).
 */
void
HnswPrefetchElement(HnswGraph *graph, HnswElement e)
{
	if (e->loaded)
		return;
	if (e->coded)
		HnswPrefetchBytes(e->vec, HNSW_CODE_SIZE(graph->dim, HNSW_CODE_I8));
	else
		HnswPrefetchTuple(graph->index, &e->tid, LoadSize(graph), 0,
						  HnswMinCutSize(graph));
}

/*
 * Make sure an element's vector and neighbours are in memory, reading its
 * tuple if needed.  With a query (scans, inserts: graph->query set) neither
 * is copied: the distance to the query is computed on the page instead,
 * HnswEnsureVector fetches the vector if it is needed after all, and the
 * layer search reads the links of the few elements it expands (ReadLinks).
 * A distance above graph->bound may be left partial (QueryDistance); it is
 * completed by loading again once it is needed against a higher bound.
 * Return false if the tuple is gone (freed by vacuum; the link that led
 * here is stale and treated as absent).  With graph->harvest, the links
 * whose hints may pass it are collected too (Harvest).  In a build's
 * insert (graph->codes), the element is compared by its i8 code in the
 * build's store: one found there when it was looked up is not read at all,
 * and one read now is added to the store (hnswbuildcodes.c).
 *
 * Takes and releases a share lock on the element's page, unless it is
 * compared by its code; holds no lock on entry or exit.  The copy is
 * allocated in the graph's context.
 */
bool
HnswLoadElement(HnswGraph *graph, HnswElement e)
{
	Buffer		buf;
	const HnswLayout *layout;
	HnswElementTuple tup;

	/*
	 * A distance given up against a bound it no longer exceeds (a later
	 * search's, or none) is needed in full: the element is read again.
	 */
	if (e->loaded && e->partial && !(e->queryDistance > graph->bound))
		e->loaded = false;
	if (e->loaded)
		return !e->missing;
	e->loaded = true;
	e->partial = false;
	e->hasLink = false;

	/* a build's insert compares the element by its code: no page read */
	if (e->coded)
	{
		e->queryDistance = HnswDistance(graph, graph->query, e->vec);
		return true;
	}

	buf = HnswReadBuffer(graph->index, ItemPointerGetBlockNumber(&e->tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	layout = HnswGraphLayout(graph);
	tup = HnswGetElement(graph->index, layout, buf,
						 ItemPointerGetOffsetNumber(&e->tid));
	if (tup == NULL)
	{
		UnlockReleaseBuffer(buf);
		e->missing = true;
		return false;
	}

	e->level = tup->level;
	e->deleted = tup->deleted != 0;
	HnswTupleGetKey(tup, &e->key);

	/*
	 * A scan's filtered walk: an element that fails the filter is neither
	 * compared nor walked through (src/README "Filter column").  Not
	 * loaded, so that a call without the filter reads it again.
	 */
	if (graph->filter != NULL && !HnswFilterMatches(graph->filter, &e->key))
	{
		UnlockReleaseBuffer(buf);
		e->loaded = false;
		e->filtered = true;
		return false;
	}
	if (unlikely(graph->harvest != NULL))
		Harvest(graph, tup);
	e->nheaptids = 0;
	for (int i = 0; i < HnswTupleTidCapacity(tup); i++)
		if (ItemPointerIsValid(&tup->heaptids[i]))
			e->heaptids[e->nheaptids++] = tup->heaptids[i];
	if (tup->type == HNSW_HEAD_TUPLE)
	{
		/* the vector goes on on the next page: copy it, then distance */
		HnswCode	   *vec = graph->query ? CutBuffer(graph) :
			MemoryContextAlloc(graph->cxt,
							   HNSW_CODE_SIZE(graph->dim, graph->codeKind));

		HnswPrefetchTail(graph->index, ItemPointerGetBlockNumber(&e->tid) + 1,
						 HNSW_TAIL_HEADER_SIZE +
						 HNSW_CODE_SIZE(graph->dim, graph->codeKind) -
						 VARSIZE(HnswTupleVector(tup)));
		e->neighbors = NULL;
		if (!graph->query)
			ResolveNeighbors(graph, e, HnswTupleGetSlots(tup));
		(void) HnswCopyTupleVector(tup, vec,
								   HNSW_CODE_SIZE(graph->dim, graph->codeKind));
		UnlockReleaseBuffer(buf);
		if (!HnswReadTail(graph, &e->tid, vec))
		{
			e->missing = true;
			return false;
		}
		if (graph->query)
		{
			e->vec = NULL;
			e->queryDistance = HnswDistance(graph, graph->query, vec);
			e->codeError = 0.0f;	/* never i8 (hnswbuildwrite.c, PlaceCut) */
			e->codeMagnitude = 0.0f;
		}
		else
			e->vec = vec;
		return true;
	}

	/*
	 * A build's insert: the element's code goes into the build's store, and
	 * it is compared by that code from now on, here as by every later
	 * insert (hnswbuildcodes.c).
	 */
	if (graph->codes && tup->type == HNSW_ELEMENT_TUPLE)
	{
		const HnswCode *code = HnswBuildCodesAdd(&e->tid, tup->level,
												 HnswTupleVector(tup));

		if (code != NULL)
		{
			UnlockReleaseBuffer(buf);
			e->vec = unconstify(HnswCode *, code);
			e->coded = true;
			e->neighbors = NULL;
			e->queryDistance = HnswDistance(graph, graph->query, e->vec);
			return true;
		}
	}

	if (graph->query)
	{
		e->queryDistance = QueryDistance(graph, HnswTupleVector(tup),
										 &e->partial);
		e->hasLink = tup->type == HNSW_ELEMENT_TUPLE &&
			HnswVectorHasLink(HnswTupleVector(tup));
		/* an i8 code's error bounds (hnswscan.c re-ranks with them) */
		HnswCodeBounds(HnswTupleVector(tup), &e->codeError,
					   &e->codeMagnitude);
	}

	/* searching needs only the distance to the query: no copy */
	if (graph->query && !graph->keepVectors)
		e->vec = NULL;
	else
	{
		e->vec = MemoryContextAlloc(graph->cxt, VARSIZE(HnswTupleVector(tup)));
		memcpy(e->vec, HnswTupleVector(tup), VARSIZE(HnswTupleVector(tup)));
	}

	if (graph->query)
	{
		/*
		 * A search expands only a few of the elements it loads: their links
		 * are read from the page again when they are (ReadLinks), which is
		 * cheaper than copying every loaded element's slots.
		 */
		e->neighbors = NULL;
	}
	else
		ResolveNeighbors(graph, e, HnswTupleGetSlots(tup));
	UnlockReleaseBuffer(buf);
	return true;
}

/*
 * Make sure a loaded element's vector is in memory: graphs with a query
 * (scans, inserts) do not copy vectors while searching, but neighbour
 * selection compares candidates with each other.  Return false if the tuple
 * is gone.  Takes and releases a share lock on the element's page.
 */
bool
HnswEnsureVector(HnswGraph *graph, HnswElement e)
{
	if (e->vec != NULL)
		return true;
	if (e->missing)
		return false;
	e->vec = ReadVector(graph, e);
	return !e->missing;
}

/*
 * The vector an element's tuple holds, even if the element is compared by
 * its code in a build's store (ShareElement compares the vectors
 * themselves).  NULL if the tuple is gone.  Locks as HnswEnsureVector.
 */
HnswCode *
HnswReadElementVector(HnswGraph *graph, HnswElement e)
{
	if (!e->coded)
		return HnswEnsureVector(graph, e) ? e->vec : NULL;
	if (e->missing)
		return NULL;
	return ReadVector(graph, e);
}

/*
 * Read element e's vector from its tuple into the graph's context; NULL,
 * with e->missing set, if the tuple is gone.  Takes and releases a share
 * lock on its page (and its tail's).
 */
static HnswCode *
ReadVector(HnswGraph *graph, HnswElement e)
{
	Buffer		buf;
	const HnswLayout *layout;
	HnswElementTuple tup;
	HnswCode   *result = NULL;

	buf = HnswReadBuffer(graph->index, ItemPointerGetBlockNumber(&e->tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	layout = HnswGraphLayout(graph);
	tup = HnswGetElement(graph->index, layout, buf,
						 ItemPointerGetOffsetNumber(&e->tid));
	if (tup == NULL || tup->level != e->level)
	{
		e->missing = true;
		UnlockReleaseBuffer(buf);
	}
	else
	{
		/* a head's vector is whole once its tail is read */
		Size		size = tup->type == HNSW_HEAD_TUPLE ?
			HNSW_CODE_SIZE(graph->dim, graph->codeKind) :
			VARSIZE(HnswTupleVector(tup));
		HnswCode   *vec = MemoryContextAlloc(graph->cxt, size);
		bool		whole = HnswCopyTupleVector(tup, vec, size);

		UnlockReleaseBuffer(buf);
		if (whole || HnswReadTail(graph, &e->tid, vec))
			result = vec;
		else
		{
			pfree(vec);
			e->missing = true;
		}
	}
	return result;
}

/*
 * Copy the links of element e on level lc into tids (room for
 * HNSW_LEVEL_CAPACITY), reading its page again; return how many.  With
 * hints, copy the hint of each level-0 link's filter column value there
 * (HNSW_HINT_UNKNOWN on other levels and in a tuple without hints).  The links
 * may have changed since e was loaded (inserts, vacuum), and the tuple may
 * even be another element's by now if vacuum freed e and its space was
 * reused: either way the search follows links that exist, which costs at
 * most recall (src/README "Locking").
 *
 * Takes and releases a share lock on e's page.
 */
static int
ReadLinks(HnswGraph *graph, HnswElement e, int lc, ItemPointerData *tids,
		  uint8 *hints)
{
	const HnswLayout *layout = HnswGraphLayout(graph);
	Buffer		buf;
	HnswElementTuple tup;
	int			n = 0;

	buf = HnswReadBuffer(graph->index, ItemPointerGetBlockNumber(&e->tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	tup = HnswGetElement(graph->index, layout, buf,
						 ItemPointerGetOffsetNumber(&e->tid));
	if (tup != NULL && tup->level >= lc)
		n = HnswTupleLinks(tup, graph->m, lc, tids, hints);
	UnlockReleaseBuffer(buf);
	return n;
}

/*
 * The distance from e to its farthest link on level lc, as its slots hold
 * it (a bfloat16), in the graph's internal scale; -infinity if it has none
 * there or its tuple is gone.  Takes and releases a share lock on e's page.
 */
static float
FarthestLink(HnswGraph *graph, HnswElement e, int lc)
{
	const HnswLayout *layout = HnswGraphLayout(graph);
	Buffer		buf;
	HnswElementTuple tup;
	float		farthest = -INFINITY;

	buf = HnswReadBuffer(graph->index, ItemPointerGetBlockNumber(&e->tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	tup = HnswGetElement(graph->index, layout, buf,
						 ItemPointerGetOffsetNumber(&e->tid));
	if (tup != NULL && tup->level >= lc)
	{
		char	   *slots = HnswTupleGetSlots(tup);
		int			start = HNSW_LEVEL_START(lc, graph->m);

		for (int i = 0; i < HNSW_LEVEL_CAPACITY(lc, graph->m); i++)
			if (ItemPointerIsValid(HnswSlotTid(slots, start + i)))
				farthest = Max(farthest, HnswSlotDistance(slots, start + i));
	}
	UnlockReleaseBuffer(buf);
	return farthest;
}

/*
 * The layer search of hnswsearchlayer.h over the element cache of a graph
 * on pages.  A graph searched for its query (scans, inserts: graph->query
 * set) loads no copies: an element's distance is computed on its page when
 * it is loaded, as its queryDistance, possibly given up past the bound
 * (early abandoning), and the links of the few elements expanded are read
 * from their pages again (ReadLinks), with the pages and tuples of the
 * neighbours prefetched so that their cache misses start at once.  Any
 * other graph (vacuum's repair) has copies of the elements it loads, their
 * vectors and neighbour lists.
 */
typedef struct PageSearch
{
	HnswGraph  *graph;
	const HnswCode *q;			/* without graph->query: the vector sought */
	Size		loadSize;		/* what loading an element reads: its header
								 * and vector, not its links */
	Size		tailSize;		/* and of the end of the tuple (Harvest) */
	Size		minWhole;		/* shorter tuples are heads, whose tails are
								 * prefetched too */
	List	  **seen;			/* candidates whose distance was computed */
	HnswCandidate *chunk;		/* for seen, allocated 256 at a time */
	int			nchunk;
	ItemPointerData tids[2 * HNSW_MAX_M];	/* ReadLinks */
	uint8		hints[2 * HNSW_MAX_M];	/* theirs, in a filtered walk */
} PageSearch;

/* An entry: its distance must be whole (a scan's next batch) */
static pg_attribute_always_inline bool
PageEntry(PageSearch *ps, HnswCandidate *c)
{
	if (c->element->partial)
	{
		if (!HnswLoadElement(ps->graph, c->element))
			return false;
		c->distance = c->element->queryDistance;
	}
	c->element->visited = ps->graph->searchTag;
	return true;
}

/* the most elements one expansion gives (PageExpand) */
#define SL_MAX_ITEMS_OF_PAGE	(2 * HNSW_MAX_M)

/*
 * For a scan's filtered walk: return whether element e passes the graph's
 * filter; if it does not, copy its links on level 0 into tids (room for
 * HNSW_LEVEL_CAPACITY) and their hints into hints, and set *ntids.  An
 * element gone passes (loading it then finds it gone).  Takes and releases
 * a share lock on e's page unless e is loaded and passes.
 */
static bool
ElementPasses(HnswGraph *graph, HnswElement e, ItemPointerData *tids,
			  uint8 *hints, int *ntids)
{
	Buffer		buf;
	HnswElementTuple tup;
	HnswKey		key;
	bool		passes = true;

	*ntids = 0;
	if (e->loaded && HnswFilterMatches(graph->filter, &e->key))
		return true;
	buf = HnswReadBuffer(graph->index, ItemPointerGetBlockNumber(&e->tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	tup = HnswGetElement(graph->index, HnswGraphLayout(graph), buf,
						 ItemPointerGetOffsetNumber(&e->tid));
	if (tup != NULL)
	{
		HnswTupleGetKey(tup, &key);
		passes = HnswFilterMatches(graph->filter, &key);
		if (!passes)
			*ntids = HnswTupleLinks(tup, graph->m, 0, tids, hints);
	}
	UnlockReleaseBuffer(buf);
	return passes;
}

/*
 * PageExpand in a scan's filtered walk on level 0: of the ntids links in
 * ps->tids, the elements that pass the filter and are not visited yet go
 * to items; one that fails gives way to its own neighbours, two hops from
 * the element expanded, as far as items has room (ACORN's expansion, Patel
 * et al. 2024), so the walk stays connected through elements it never
 * compares.  An element that fails is stepped over once, even if it was
 * met before as a neighbour's neighbour (which used to use it up: recall
 * 0.91 against 0.99 on Fashion-MNIST, src/README "Filter column").
 *
 * The hints beside the links (HnswKeyHint) say for most elements whether
 * they pass without reading them: one sure to pass goes to items unread
 * (it is loaded as a candidate anyway), and a neighbour's neighbour sure to
 * fail is not even looked up.  A hint only spares a read: an element met
 * is still tested when it is read, so a hint outdated by vacuum's reuse of
 * a tuple costs at most recall.
 */
static int
ExpandFiltered(PageSearch *ps, int ntids, HnswElement *items)
{
	HnswGraph  *graph = ps->graph;
	const bool *fails = graph->filter->hintFails;
	const bool *passes = graph->filter->hintPasses;
	HnswElement linked[2 * HNSW_MAX_M];
	int			over[2 * HNSW_MAX_M];
	int			nover = 0;
	int			n = 0;

	/*
	 * Start reading the links and hints of those likely to be stepped over
	 * (below), their pages first: the cache misses of a step over are its
	 * cost, and those of one expansion then overlap.
	 */
	for (int i = 0; i < ntids; i++)
	{
		HnswElement e = HnswLookupElement(graph, &ps->tids[i]);

		linked[i] = e;
		if (passes[ps->hints[i]] || e->visited == graph->searchTag ||
			e->hopped == graph->searchTag ||
			(e->loaded && (!graph->seeded || !fails[ps->hints[i]])))
			continue;
		HnswPrefetchBlock(graph->index, ItemPointerGetBlockNumber(&e->tid));
		over[nover++] = i;
	}
	for (int i = 0; i < nover; i++)
		HnswPrefetchTuple(graph->index, &linked[over[i]]->tid,
						  HNSW_ELEMENT_HEADER_SIZE(HNSW_HEAPTIDS) +
						  HNSW_KEY_SIZE,
						  HNSW_LEVEL_CAPACITY(0, graph->m) *
						  sizeof(HnswNeighborSlot) +
						  HNSW_HINTS_SIZE(graph->m), 0);

	for (int i = 0; i < ntids && n < SL_MAX_ITEMS_OF_PAGE; i++)
	{
		HnswElement e = linked[i];
		uint8		hint = ps->hints[i];
		ItemPointerData hop[2 * HNSW_MAX_M];
		uint8		hopHints[2 * HNSW_MAX_M];
		int			nhop;

		if (passes[hint])
		{
			/* sure to pass */
			if (e->visited == graph->searchTag)
				continue;
			e->visited = graph->searchTag;
			items[n++] = e;
			continue;
		}
		/* its neighbours that may pass are entries already (SeededEntries) */
		if (graph->seeded && fails[hint] && e->loaded)
			continue;
		if (e->hopped == graph->searchTag ||
			(e->visited == graph->searchTag && !e->filtered))
			continue;
		e->visited = graph->searchTag;
		if (ElementPasses(graph, e, hop, hopHints, &nhop))
		{
			items[n++] = e;
			continue;
		}
		e->filtered = true;
		e->hopped = graph->searchTag;
		for (int j = 0; j < nhop && n < SL_MAX_ITEMS_OF_PAGE; j++)
		{
			HnswElement h;

			if (fails[hopHints[j]])
				continue;
			h = HnswLookupElement(graph, &hop[j]);
			if (h->visited == graph->searchTag)
				continue;
			h->visited = graph->searchTag;
			items[n++] = h;
		}
	}
	return n;
}

/*
 * The neighbours of c on level lc not visited yet, marked visited now; the
 * pages of those not loaded yet are prefetched.  A scan's filtered walk
 * (graph->filter) expands on level 0 with ExpandFiltered.
 */
static pg_attribute_always_inline int
PageExpand(PageSearch *ps, HnswCandidate *c, int lc, HnswElement *items)
{
	HnswGraph  *graph = ps->graph;
	HnswElement ce = c->element;
	int			n = 0;

	if (ce->level < lc || !HnswLoadElement(graph, ce))
		return -1;
	if (likely(graph->query != NULL))
	{
		int			ntids;

		if (unlikely(graph->filter != NULL) && lc == 0)
			return ExpandFiltered(ps, ReadLinks(graph, ce, lc, ps->tids,
												ps->hints),
								  items);
		ntids = ReadLinks(graph, ce, lc, ps->tids, NULL);
		if (graph->codes)
			HnswBuildCodesPrefetch(ps->tids, ntids);
		for (int i = 0; i < ntids; i++)
		{
			HnswElement e = HnswLookupElement(graph, &ps->tids[i]);

			if (e->visited == graph->searchTag)
				continue;
			e->visited = graph->searchTag;
			items[n++] = e;
			if (e->loaded)
				continue;
			if (e->coded)
				HnswPrefetchBytes(e->vec, HNSW_CODE_SIZE(graph->dim,
														 HNSW_CODE_I8));
			else
				HnswPrefetchBlock(graph->index,
								  ItemPointerGetBlockNumber(&ps->tids[i]));
		}
	}
	else
	{
		HnswNeighborList *list = ce->neighbors[lc];

		for (int i = 0; i < list->length; i++)
		{
			HnswElement e = list->items[i].element;

			if (e->visited == graph->searchTag)
				continue;
			e->visited = graph->searchTag;
			items[n++] = e;
		}
	}
	return n;
}

/*
 * Start loading e's header and vector, if it is not loaded.  In a filtered
 * walk only its header, which says whether it passes: most elements met
 * there fail, and their vectors are never read.
 */
static pg_attribute_always_inline void
PagePrefetch(PageSearch *ps, HnswElement e)
{
	if (unlikely(e->coded))
	{
		if (!e->loaded)
			HnswPrefetchBytes(e->vec, HNSW_CODE_SIZE(ps->graph->dim,
													 HNSW_CODE_I8));
	}
	else if (!e->loaded && ps->graph->query != NULL)
		HnswPrefetchTuple(ps->graph->index, &e->tid,
						  unlikely(ps->graph->filter != NULL) ?
						  HNSW_ELEMENT_HEADER_SIZE(HNSW_HEAPTIDS) + HNSW_KEY_SIZE :
						  ps->loadSize, ps->tailSize, ps->minWhole);
}

/* Load e and its distance, which may be given up past bound */
static pg_attribute_always_inline bool
PageLoad(PageSearch *ps, HnswElement e, float bound, HnswCandidate *c)
{
	HnswGraph  *graph = ps->graph;
	bool		loaded;

	graph->bound = bound;
	loaded = HnswLoadElement(graph, e);
	graph->bound = INFINITY;
	if (!loaded)
		return false;
	/* loaded before the filtered walk began (the descent), and fails it */
	if (unlikely(graph->filter != NULL) &&
		!HnswFilterMatches(graph->filter, &e->key))
		return false;
	c->element = e;
	c->distance = likely(graph->query != NULL) ? e->queryDistance :
		HnswDistance(graph, ps->q, e->vec);
	return true;
}

/* Note a candidate in *seen, if asked to */
static pg_attribute_always_inline void
PageSeen(PageSearch *ps, HnswCandidate *c)
{
	if (ps->seen == NULL)
		return;
	if (ps->nchunk == 0)
	{
		ps->nchunk = 256;
		ps->chunk = palloc(sizeof(HnswCandidate) * ps->nchunk);
	}
	ps->chunk[--ps->nchunk] = *c;
	*ps->seen = lappend(*ps->seen, &ps->chunk[ps->nchunk]);
}

#define SL_PREFIX		Page
#define SL_STATE		PageSearch
#define SL_CAND			HnswCandidate
#define SL_ITEM			HnswElement
#define SL_MAX_ITEMS	SL_MAX_ITEMS_OF_PAGE
#define SL_ENTRY(st, cand)	PageEntry(st, cand)
#define SL_EXPAND(st, cand, lc, items)	PageExpand(st, cand, lc, items)
#define SL_PREFETCH(st, item)	PagePrefetch(st, item)
#define SL_LOAD(st, item, bound, cand)	PageLoad(st, item, bound, cand)
#define SL_RESULT(st, cand) \
	(!((st)->graph->skipDeleted && (cand)->element->deleted) && \
	 ((st)->graph->filter == NULL || \
	  HnswFilterMatches((st)->graph->filter, &(cand)->element->key)))
#define SL_SEEN(st, cand)	PageSeen(st, cand)
/* measured no faster (a candidate's links are read soon after its load) */
#define SL_PREFETCH_LINKS(st, cand, lc)	((void) 0)
#include "hnswsearchlayer.h"

/*
 * Search one layer for the ef elements nearest q (Algorithm 2), starting
 * from entries, whose distances are known; for a graph with a query, q is
 * that query.  Return them nearest first in a palloc'd array of
 * *nresults.  Every element whose distance was computed, entries included,
 * is appended to *seen when seen is not NULL (the scan resumes from them).
 *
 * Elements visited in earlier calls since HnswNewSearch are not visited
 * again.  Deleted elements are traversed and returned, unless the graph
 * skips them (skipDeleted): callers filter them.  Memory comes from the
 * current context, elements from the graph's.  Holds at most one share
 * lock at a time, none on entry or exit.
 */
HnswCandidate *
HnswSearchLayer(HnswGraph *graph, const HnswCode *q, HnswCandidate *entries,
				int nentries, int ef, int lc, int *nresults, List **seen)
{
	PageSearch	ps;
	Page_Heap	C;
	Page_Heap	W;
	HnswCandidate *result;

	ps.graph = graph;
	ps.q = q;
	ps.loadSize = LoadSize(graph);
	/* harvesting reads the hints that end the tuple too */
	ps.tailSize = unlikely(graph->harvest != NULL) ?
		HNSW_HINTS_SIZE(graph->m) : 0;
	ps.minWhole = graph->query != NULL ? HnswMinCutSize(graph) : 0;
	ps.seen = seen;
	ps.chunk = NULL;
	ps.nchunk = 0;
	Page_HeapInit(&C, ef * 2);
	Page_HeapInit(&W, ef + 1);
	Page_SearchLayer(&ps, entries, nentries, ef, lc, &C, &W);

	*nresults = W.n;
	result = palloc(sizeof(HnswCandidate) * Max(W.n, 1));
	for (int i = W.n - 1; i >= 0; i--)
		result[i] = Page_HeapPop(&W);
	pfree(C.items);
	pfree(W.items);
	return result;
}

/*
 * Neighbour selection of hnswselect.h over the element cache: a deleted or
 * vanished candidate is never chosen, and comparing two candidates needs
 * their vectors (HnswEnsureVector, share locks one at a time).
 */
static pg_attribute_always_inline bool
PageUsable(HnswGraph *graph, HnswCandidate *c)
{
	return !c->element->deleted && HnswLoadElement(graph, c->element) &&
		((graph->metric == HNSW_METRIC_IP && !graph->normalize) ||
		 HnswEnsureVector(graph, c->element));
}

/*
 * The distance between two candidates of a pruning (HnswDropNeighbor), one
 * of which may be the newcomer (element NULL): the other one's distance to
 * the graph's query, the new vector.  Return the candidate whose vector
 * cannot be read, or NULL.  (Vectors read already are tested here, without
 * a call: this is the hot path of inserts.)
 */
static pg_attribute_always_inline HnswCandidate *
PageCompare(HnswGraph *graph, HnswCandidate *a, HnswCandidate *b, float *d)
{
	/*
	 * A build's pruning with remembered verdicts loads on demand, and a
	 * distance to the query left partial by the search is needed in full.
	 */
	if (a->element != NULL && (!a->element->loaded || a->element->partial) &&
		!HnswLoadElement(graph, a->element))
		return a;
	if (b->element != NULL && (!b->element->loaded || b->element->partial) &&
		!HnswLoadElement(graph, b->element))
		return b;

	if (a->element == NULL)
		*d = b->element->queryDistance;
	else if (b->element == NULL)
		*d = a->element->queryDistance;
	else if (a->element->vec == NULL && !HnswEnsureVector(graph, a->element))
		return a;
	else if (b->element->vec == NULL && !HnswEnsureVector(graph, b->element))
		return b;
	else
		*d = HnswDistance(graph, a->element->vec, b->element->vec);
	return NULL;
}

/*
 * SEL_DIST of the pages: the distance between two usable candidates with
 * their vectors (neighbour selection), or, in a pruning with remembered
 * verdicts (HnswDropNeighborDecided), between any two, the newcomer
 * included, loading them on demand.  A candidate that cannot be compared
 * sets graph->compareFailed and counts as far away; the caller then
 * discards the verdicts.
 */
static pg_attribute_always_inline float
PageDist(HnswGraph *graph, HnswCandidate *a, HnswCandidate *b)
{
	float		d;

	if (likely(a->element != NULL && b->element != NULL &&
			   a->element->vec != NULL && b->element->vec != NULL))
		return HnswDistance(graph, a->element->vec, b->element->vec);
	if (PageCompare(graph, a, b, &d) != NULL)
	{
		graph->compareFailed = true;
		return FLT_MAX;
	}
	return d;
}

#define SEL_PREFIX		Page
#define SEL_STATE		HnswGraph
#define SEL_CAND		HnswCandidate
#define SEL_USABLE(st, c)	PageUsable(st, c)
#define SEL_DIST(st, a, b)	PageDist(st, a, b)
#define SEL_COMPARE(st, a, b, d)	PageCompare(st, a, b, d)
#define SEL_SAME(st, a, b)	((a)->element == (b)->element)
#define SEL_SIMPLE(st) \
	((st)->metric == HNSW_METRIC_IP && !(st)->normalize)
#include "hnswselect.h"

/*
 * Choose up to max neighbours among candidates (sorted nearest first) with
 * the paper's heuristic (Algorithm 4): keep a candidate only if it is nearer
 * to the base than to every one kept so far, which spreads links over
 * directions; with graph->keepPruned, then fill what is left with the
 * nearest candidates passed over.  Deleted and missing elements are never
 * chosen.  Return the number written to out.
 */
int
HnswSelectNeighbors(HnswGraph *graph, HnswCandidate *candidates,
					int ncandidates, int max, HnswCandidate *out)
{
	int			nkept;

	return Page_Select(graph, candidates, ncandidates, max, graph->keepPruned,
					   out, &nkept);
}

/*
 * Return which of candidates[0..n) a full neighbour list gives up for a
 * newcomer (Page_Drop of hnswselect.h, computing only the verdicts that
 * decide it): the list plus the newcomer, candidates[newcomer] with element
 * NULL, nearest first, every element loaded and not deleted.  Distances to
 * the newcomer are the other candidates' distances to the graph's query
 * (the new vector); between two old candidates, their vectors are read
 * (HnswEnsureVector, one share lock at a time, none on entry or exit; the
 * copies live in the graph's context).  A candidate whose vector cannot be
 * read (freed meanwhile) is the one given up.  With force, the newcomer
 * never is.
 */
int
HnswDropNeighbor(HnswGraph *graph, HnswCandidate *candidates, int n,
				 int newcomer, bool force)
{
	return Page_Drop(graph, candidates, n, newcomer, force, NULL, NULL);
}

/*
 * The same choice, with the verdicts of the list's last pruning: last[i]
 * says whether candidates[i] passed the heuristic then (NULL if unknown),
 * and kept[0..n) receives every verdict of this pruning (Page_Drop's way
 * with remembered verdicts, see src/README "Build").  Candidates need not
 * be loaded: those compared are loaded on demand.  Return -1 if one cannot
 * be compared (its element vanished); the verdicts are then meaningless.
 * Loads as HnswDropNeighbor.
 */
int
HnswDropNeighborDecided(HnswGraph *graph, HnswCandidate *candidates, int n,
						int newcomer, const bool *last, bool *kept)
{
	int			drop;

	graph->compareFailed = false;
	drop = Page_Drop(graph, candidates, n, newcomer, false, last, kept);
	if (graph->compareFailed)
		return -1;
	return drop;
}

/*
 * Descend from entries[0..*nentries), on level top, to level bottom: a
 * greedy search (ef 1) of each level above bottom, as the paper's, for
 * scans (bottom 0), inserts (bottom the new element's level) and vacuum's
 * repairs.  On data made of well-separated clusters the upper levels link
 * clusters sparsely, and the greedy walk can stop in another cluster than
 * q's, from which no search below finds the way (src/README "Descent").
 * Where it stops on a level of 2 or more, at an element farther from q than
 * that element's farthest link on the level, q lies outside what those
 * links reach: that level, and those down to level 2 above bottom, are
 * searched again with HNSW_UPPER_BEAM candidates.  A level whose search
 * finds no live element is passed over from the entries it had.  Return
 * the entries of level bottom, setting *nentries.  Memory: the current
 * context.
 */
HnswCandidate *
HnswDescend(HnswGraph *graph, const HnswCode *q, HnswCandidate *entries,
			int *nentries, int top, int bottom)
{
	bool		wide = false;

	for (int lc = top; lc > bottom; lc--)
	{
		HnswCandidate *w;
		int			nw;
		float		farthest;

		HnswNewSearch(graph);
		w = HnswSearchLayer(graph, q, entries, *nentries,
							wide && lc >= 2 ? HNSW_UPPER_BEAM : 1, lc, &nw,
							NULL);
		if (nw == 0)
			continue;
		if (!wide && lc >= 2 &&
			(farthest = FarthestLink(graph, w[0].element, lc)) > -INFINITY &&
			w[0].distance > farthest)
		{
			wide = true;
			HnswNewSearch(graph);
			w = HnswSearchLayer(graph, q, w, nw, HNSW_UPPER_BEAM, lc, &nw,
								NULL);
		}
		entries = w;
		*nentries = nw;
	}
	return entries;
}

/*
 * Find the neighbours of a new element at every level up to level (the
 * search of Algorithm 1): a descent from the entry point (HnswDescend),
 * then a search with ef_construction per level.  lists[lc] receives the
 * chosen neighbours with their distances; *nearest the nearest live element
 * found on level 0 (element NULL if none), for duplicate detection.
 *
 * The graph must be searched for q (graph->query, an insert's) and have an
 * entry point, loaded.  Lists are allocated in the graph's context, the
 * rest in the current one.
 */
void
HnswFindNeighbors(HnswGraph *graph, const HnswCode *q, int level,
				  HnswNeighborList **lists, HnswCandidate *nearest)
{
	HnswCandidate *entries;
	int			nentries = 1;
	HnswElement ep = graph->entry;

	Assert(graph->query == q);
	nearest->element = NULL;
	nearest->distance = 0;

	entries = palloc(sizeof(HnswCandidate));
	entries[0].element = ep;
	entries[0].distance = ep->queryDistance;

	entries = HnswDescend(graph, q, entries, &nentries, ep->level, level);

	for (int lc = Min(level, ep->level); lc >= 0; lc--)
	{
		HnswCandidate *w;
		int			nw;
		int			cap = HNSW_LEVEL_CAPACITY(lc, graph->m);

		HnswNewSearch(graph);
		w = HnswSearchLayer(graph, q, entries, nentries, graph->efConstruction,
							lc, &nw, NULL);
		lists[lc]->length = HnswSelectNeighbors(graph, w, nw, cap,
												lists[lc]->items);
		if (lc == 0)
		{
			for (int i = 0; i < nw; i++)
			{
				if (!w[i].element->deleted && !w[i].element->missing)
				{
					*nearest = w[i];
					break;
				}
			}
		}
		entries = w;
		nentries = nw;
	}
}

/*
 * Draw the top level of a new element: floor(-ln(U) * mL) with
 * mL = 1 / ln(m), as the paper recommends.
 */
int
HnswRandomLevel(int m)
{
	double		ml = 1.0 / log(m);
	double		u = pg_prng_double(&pg_global_prng_state);
	int			level;

	/* pg_prng_double is in [0, 1); avoid log(0) */
	if (u <= 0.0)
		u = DBL_MIN;
	level = (int) floor(-log(u) * ml);
	return Min(level, HNSW_MAX_LEVEL);
}

/*
 * Return the highest level whose element tuple fits on a page, or -1 if not
 * even level 0 fits.  outOfLine: the code is followed by a link; keySize:
 * the bytes of a filter column's value (its hints follow the slots).
 */
static int
MaxLevelForSize(int dim, HnswCodeKind quant, int m, bool outOfLine,
				Size keySize)
{
	int			level = -1;
	Size		link = (outOfLine ? HNSW_VECTOR_LINK_SIZE : 0) +
		HNSW_KEYED_SIZE(keySize, m);

	while (level < HNSW_MAX_LEVEL &&
		   HNSW_ELEMENT_TUPLE_SIZE(dim, quant, level + 1, m) + link <=
		   HNSW_MAX_TUPLE_SIZE)
		level++;
	return level;
}

