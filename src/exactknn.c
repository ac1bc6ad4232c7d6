/*-------------------------------------------------------------------------
 *
 * exactknn.c
 *	  hnsw.exact_knn: the exact k nearest rows of many query vectors, found
 *	  in one sequential pass over a table (brute-force ground truth).
 *
 * Asking "SELECT ... ORDER BY v <-> $1 LIMIT k" once per query reads and
 * detoasts every vector of the table once per query; for 1,000 queries over
 * Fashion-MNIST (60,000 rows of 784 dimensions) that took two and a half
 * minutes, nearly all of it fetching TOASTed vectors.  Here every row is
 * read once and compared with all the queries, each of which keeps its k
 * nearest in a bounded max-heap; the distances are the same kernels as the
 * operators'.  hnsw.evaluate_recall uses it for the exact side.
 *
 * The table's own rows are scanned with the caller's snapshot (a newer one
 * after waiting for a lock: see hnsw_exact_knn), and those of its
 * inheritance children and partitions, as "FROM tab" reads them, with
 * the privileges that query would need (src/coordacl.c).  Foreign
 * partitions and tables with row-level security are refused (the SQL
 * functions fall back to per-query SQL for them).  vector columns are
 * compared 64 rows at a time by the kernels themselves; halfvec and
 * sparsevec columns (a sparsevec may have a billion dimensions, so it is
 * never made dense) by their distance functions, row by row.  Ties at the k-th
 * distance are broken by scan order.  When the k nearest rows of all the
 * queries do not fit in work_mem, the queries are served in groups that
 * do, one scan per group.
 *
 * src/exactknn.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/sysattr.h"
#include "catalog/heap.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "coord.h"
#include "distance.h"
#include "halfvec.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "metric.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "sparsevec.h"
#include "vector.h"
#include "vectortype.h"


typedef enum ExactMetric
{
	EXACT_L2,
	EXACT_IP,
	EXACT_COSINE,
	EXACT_L1
} ExactMetric;

/* One row among a query's k nearest so far */
typedef struct ExactHit
{
	double		distance;
	uint64		seq;			/* scan order, breaks ties */
	char	   *key;			/* key column (or ctid) as text */
} ExactHit;

/* The k nearest so far of one query: a max-heap on (distance, seq) */
typedef struct ExactQuery
{
	const float *x;				/* a vector query's elements */
	Datum		value;			/* a halfvec or sparsevec query, detoasted */
	int			n;
	ExactHit   *hits;			/* k entries */
} ExactQuery;

static int	ExactPasses(int k);
static bool LockOrWait(Oid relid);
static VectorType ExactTypeOf(Oid typid);
static PGFunction ExactDistanceFunction(VectorType kind, ExactMetric metric);

/*
 * Return the ExactMetric of a metric name (metric.c).  The distances
 * exact_knn has no kernels for are refused.
 */
static ExactMetric
ParseMetric(const char *name)
{
	switch (VectorMetricFromName(name))
	{
		case VECTOR_METRIC_L2:
			return EXACT_L2;
		case VECTOR_METRIC_IP:
			return EXACT_IP;
		case VECTOR_METRIC_COSINE:
			return EXACT_COSINE;
		case VECTOR_METRIC_L1:
			return EXACT_L1;
		case VECTOR_METRIC_CANBERRA:
		case VECTOR_METRIC_BRAY_CURTIS:
		case VECTOR_METRIC_CORRELATION:
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("hnsw.exact_knn does not compute metric \"%s\"", name),
			 errdetail("It computes \"l2\", \"ip\", \"cosine\" and \"l1\" distances."),
			 errhint("Use hnsw.exact_search for each query.")));
	return EXACT_L2;			/* keep compiler quiet */
}

/*
 * The distance the metric's operator returns (<->, <#>, <=>, <+>), from the
 * same kernels, with the row first as in "ORDER BY v <-> query"; squared
 * for L2 (the same order; the square root is taken for the result).
 */
static double
ExactDistance(ExactMetric metric, const float *row, const float *q, int dim)
{
	float		ab,
				aa,
				bb;

	switch (metric)
	{
		case EXACT_L2:
			return (double) VectorL2SquaredDistance(row, q, dim);
		case EXACT_IP:
			return -(double) VectorInnerProduct(row, q, dim);
		case EXACT_COSINE:
			distance_kernels->cosine_parts(row, q, dim, &ab, &aa, &bb);
			return DistanceCosineFromParts(ab, aa, bb);
		case EXACT_L1:
			return (double) VectorL1Distance(row, q, dim);
	}
	return 0;					/* keep compiler quiet */
}

/* Is hit a further than hit b (the later one on equal distance)? */
static inline bool
HitFurther(const ExactHit *a, const ExactHit *b)
{
	/* NaN (cosine of a zero vector) sorts last, as in ORDER BY */
	if (isnan(a->distance) || isnan(b->distance))
		return isnan(a->distance) && (!isnan(b->distance) || a->seq > b->seq);
	if (a->distance != b->distance)
		return a->distance > b->distance;
	return a->seq > b->seq;
}

/* A query's k nearest: a heap with the furthest on top */
#define HEAP_PREFIX		HitHeap
#define HEAP_TYPE		ExactHit
#define HEAP_BEFORE(a, b)	HitFurther(&(a), &(b))
#include "hnswheap.h"

static int
CompareHits(const void *a, const void *b)
{
	const ExactHit *x = a;
	const ExactHit *y = b;

	if (HitFurther(x, y))
		return 1;
	if (HitFurther(y, x))
		return -1;
	return 0;
}

/* Rows compared with all queries at a time: they stay in cache meanwhile */
#define EXACT_BATCH_ROWS	64

/* What a hit's key is counted at against work_mem (see ExactPasses) */
#define EXACT_KEY_BYTES		32

/* One scan: the queries, their heaps, and the rows read but not compared */
typedef struct ExactScan
{
	ExactQuery *queries;
	int			nqueries;
	int			k;
	int			dim;
	VectorType	kind;
	ExactMetric metric;
	PGFunction	distfn;			/* halfvec, sparsevec: the distance function */
	uint64		seq;			/* rows read so far */
	Snapshot	snapshot;		/* the rows to read */
	MemoryContext keycxt;		/* keys of heap entries */
	MemoryContext batchcxt;		/* keys of the batch, reset per batch */
	TimestampTz last_notice;
	float	   *batch;			/* vector: EXACT_BATCH_ROWS * dim floats */
	Datum		batchvalues[EXACT_BATCH_ROWS];	/* others: detoasted copies */
	char	   *batchkeys[EXACT_BATCH_ROWS];
	int			nbatch;
} ExactScan;

/*
 * Compare the batched rows with every query.  Looping over the queries
 * outside keeps one query in L1 while the batch (64 rows) stays in L2, so
 * the queries are streamed from memory once per batch rather than once per
 * row.
 */
static void
CompareBatch(ExactScan *es)
{
	for (int i = 0; i < es->nqueries; i++)
	{
		ExactQuery *q = &es->queries[i];

		for (int r = 0; r < es->nbatch; r++)
		{
			ExactHit	hit;

			if (es->kind == VECTOR_TYPE_VECTOR)
				hit.distance = ExactDistance(es->metric, es->batch + (Size) r * es->dim,
											 q->x, es->dim);
			else
				hit.distance = DatumGetFloat8(DirectFunctionCall2(es->distfn,
																  es->batchvalues[r],
																  q->value));
			hit.seq = es->seq - es->nbatch + r + 1;
			if (q->n == es->k && !HitFurther(&q->hits[0], &hit))
				continue;
			hit.key = es->batchkeys[r] ?
				MemoryContextStrdup(es->keycxt, es->batchkeys[r]) : NULL;
			if (q->n < es->k)
				HitHeap_push(q->hits, &q->n, hit);
			else
			{
				if (q->hits[0].key)
					pfree(q->hits[0].key);
				HitHeap_replace_top(q->hits, q->n, hit);
			}
		}
		CHECK_FOR_INTERRUPTS();
	}
	es->nbatch = 0;
	MemoryContextReset(es->batchcxt);
}

/*
 * Read every row of one table into batches.  Called with the table open and
 * locked; detoasted vectors are copied into the batch and freed at once
 * (halfvec and sparsevec values stay in batchcxt until the batch is
 * compared).
 */
static void
ScanOne(ExactScan *es, Relation rel, const char *colname, const char *keyname,
		Oid vectype)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), colname);
	AttrNumber	keyattnum = InvalidAttrNumber;
	Oid			keyout = InvalidOid;
	TableScanDesc scan;
	TupleTableSlot *slot;

	/* a child's columns are found by name, as the parent's query does */
	if (attnum <= 0 ||
		TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid != vectype)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("column \"%s\" of relation \"%s\" is not of type %s",
						colname, RelationGetRelationName(rel), format_type_be(vectype))));
	if (keyname != NULL)
	{
		bool		varlena;

		keyattnum = get_attnum(RelationGetRelid(rel), keyname);
		if (keyattnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							keyname, RelationGetRelationName(rel))));
		/* a system column (xmin, say) is a key as "SELECT xmin" reads it */
		getTypeOutputInfo(keyattnum < 0 ?
						  SystemAttributeDefinition(keyattnum)->atttypid :
						  TupleDescAttr(RelationGetDescr(rel), keyattnum - 1)->atttypid,
						  &keyout, &varlena);
	}

	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, es->snapshot, 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d;
		int			dim;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		d = slot_getattr(slot, attnum, &isnull);
		if (isnull)
			continue;
		old = MemoryContextSwitchTo(es->batchcxt);
		if (es->kind == VECTOR_TYPE_VECTOR)
		{
			Vector	   *v = DatumGetVector(d);

			dim = v->dim;
			if (dim == es->dim)
				memcpy(es->batch + (Size) es->nbatch * es->dim, v->x, sizeof(float) * es->dim);
			if ((Pointer) v != DatumGetPointer(d))
				pfree(v);
		}
		else
		{
			es->batchvalues[es->nbatch] = PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
			dim = VectorTypeDims(es->kind, es->batchvalues[es->nbatch]);
		}
		if (dim != es->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different vector dimensions %d and %d", dim, es->dim)));
		if (keyattnum == InvalidAttrNumber)
			es->batchkeys[es->nbatch] =
				DatumGetCString(DirectFunctionCall1(tidout,
													PointerGetDatum(&slot->tts_tid)));
		else
		{
			Datum		kd = keyattnum < 0 ?
				slot_getsysattr(slot, keyattnum, &isnull) :
				slot_getattr(slot, keyattnum, &isnull);

			es->batchkeys[es->nbatch] = isnull ? NULL : OidOutputFunctionCall(keyout, kd);
		}
		MemoryContextSwitchTo(old);
		es->nbatch++;
		es->seq++;
		if (es->nbatch == EXACT_BATCH_ROWS)
			CompareBatch(es);

		if ((es->seq & 1023) == 0 &&
			TimestampDifferenceExceeds(es->last_notice, GetCurrentTimestamp(), 10000))
		{
			ereport(NOTICE,
					(errmsg("exact search: " UINT64_FORMAT " rows compared with %d queries",
							es->seq, es->nqueries)));
			es->last_notice = GetCurrentTimestamp();
		}
	}
	CompareBatch(es);
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
}

/*
 * Check that vector column colname and key column keyname (NULL: the ctid)
 * of the table relid exist and that the caller may read them, with no
 * row-level security on the table.  Called with the table locked, so that
 * what is checked stays true while it is read.
 */
static void
CheckColumns(Oid relid, const char *colname, const char *keyname,
			 Oid vectype)
{
	AttrNumber	vecattnum;
	AttrNumber	keyattnum = SelfItemPointerAttributeNumber;
	Bitmapset  *readcols;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	vecattnum = get_attnum(relid, colname);
	if (vecattnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						colname, get_rel_name(relid))));
	if (vecattnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("column \"%s\" of relation \"%s\" is not of type %s",
						colname, get_rel_name(relid), format_type_be(vectype))));
	readcols = bms_make_singleton(vecattnum);
	if (keyname != NULL)
	{
		keyattnum = get_attnum(relid, keyname);
		if (keyattnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							keyname, get_rel_name(relid))));
		if (keyattnum > 0)
			readcols = bms_add_member(readcols, keyattnum);
	}
	CoordCheckRead(relid, readcols, "hnsw.exact_knn",
				   "Use hnsw.exact_search for each query.");
	/* a system column (the ctid by default): SELECT on the table reads it */
	if (keyattnum < 0 &&
		pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error_col(ACLCHECK_NO_PRIV,
						   get_relkind_objtype(get_rel_relkind(relid)),
						   get_rel_name(relid),
						   keyname ? keyname : "ctid");
}

/*
 * Return the queries of qarr (values of type vectype, of kind kind),
 * detoasted once, all of one dimension (*dim; -1 if there are none), and
 * their number in *nqueries.  Memory: palloc'd in the current context.
 */
static ExactQuery *
PrepareQueries(ArrayType *qarr, Oid vectype, VectorType kind, int *nqueries,
			   int *dim)
{
	Datum	   *qdatums;
	bool	   *qnulls;
	ExactQuery *queries;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(vectype, &typlen, &typbyval, &typalign);
	deconstruct_array(qarr, vectype, typlen, typbyval, typalign,
					  &qdatums, &qnulls, nqueries);
	queries = palloc0(sizeof(ExactQuery) * *nqueries);
	*dim = -1;
	for (int i = 0; i < *nqueries; i++)
	{
		int			qdim;

		if (qnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("query vector %d is NULL", i + 1)));
		queries[i].value = PointerGetDatum(PG_DETOAST_DATUM(qdatums[i]));
		qdim = VectorTypeDims(kind, queries[i].value);
		if (kind == VECTOR_TYPE_VECTOR)
			queries[i].x = ((Vector *) DatumGetPointer(queries[i].value))->x;
		if (*dim < 0)
			*dim = qdim;
		else if (qdim != *dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different vector dimensions %d and %d", *dim, qdim)));
	}
	return queries;
}

/*
 * Return every table the scan of relid reads: relid (locked already) and its
 * inheritors and partitions, each locked (AccessShareLock) and checked to be
 * a table before any is read.  Children dropped before their lock was
 * granted are left out, as find_all_inheritors does.  Sets *waited if a lock
 * had to be waited for.
 */
static List *
LockInheritors(Oid relid, bool *waited)
{
	List	   *rels = NIL;
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Oid			childid = lfirst_oid(lc);

		if (childid != relid)
		{
			*waited |= LockOrWait(childid);
			if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(childid)))
			{
				UnlockRelationOid(childid, AccessShareLock);
				continue;
			}
		}
		rels = lappend_oid(rels, childid);
	}
	return rels;
}

/*
 * Error out unless every table of rels can be scanned (no foreign tables,
 * views and the like).  Called with them all locked.
 */
static void
CheckScannable(List *rels)
{
	ListCell   *lc;

	foreach(lc, rels)
	{
		Relation	rel = table_open(lfirst_oid(lc), NoLock);
		char		relkind = rel->rd_rel->relkind;

		if (relkind != RELKIND_RELATION && relkind != RELKIND_MATVIEW &&
			relkind != RELKIND_PARTITIONED_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("hnsw.exact_knn cannot scan \"%s\"",
							RelationGetRelationName(rel)),
					 errdetail_relkind_not_supported(relkind)));
		table_close(rel, NoLock);
	}
}

/*
 * Scan every table of rels once for the queries es->queries[0..nqueries),
 * numbered from first + 1, and put their k nearest rows into the result
 * set, nearest first.  The hits and their keys are allocated in es->keycxt,
 * which the caller resets after each pass.
 */
static void
RunPass(ExactScan *es, ReturnSetInfo *rsinfo, List *rels, int first,
		const char *colname, const char *keyname, Oid vectype)
{
	ListCell   *lc;

	es->seq = 0;
	for (int i = 0; i < es->nqueries; i++)
	{
		es->queries[i].hits = MemoryContextAllocHuge(es->keycxt,
													 sizeof(ExactHit) * (Size) es->k);
		es->queries[i].n = 0;
	}

	foreach(lc, rels)
	{
		Relation	rel = table_open(lfirst_oid(lc), NoLock);

		if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
			ScanOne(es, rel, colname, keyname, vectype);
		table_close(rel, NoLock);
	}

	for (int i = 0; i < es->nqueries; i++)
	{
		ExactQuery *q = &es->queries[i];

		qsort(q->hits, q->n, sizeof(ExactHit), CompareHits);
		for (int r = 0; r < q->n; r++)
		{
			Datum		values[4];
			bool		nulls[4] = {false, false, false, false};

			values[0] = Int32GetDatum(first + i + 1);
			values[1] = Int32GetDatum(r + 1);
			if (q->hits[r].key)
				values[2] = CStringGetTextDatum(q->hits[r].key);
			else
				nulls[2] = true;
			values[3] = Float8GetDatum(es->metric == EXACT_L2 ?
									   sqrt(q->hits[r].distance) :
									   q->hits[r].distance);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
}

/*
 * hnsw._exact_knn(rel regclass, column_name name, queries anyarray, k int,
 *				   metric text, key name)
 *	  RETURNS TABLE (query_no int, rank int, key text, distance float8)
 *
 * The queries are vector, halfvec or sparsevec values, of the column's type.
 * Takes AccessShareLock on the table, then checks that the caller may read
 * the vector and key columns (the ctid, when no key is named, needs SELECT
 * on the table) and that no row-level security applies to it; then locks
 * the inheritors.  Reads with the caller's snapshot, or under READ
 * COMMITTED with one taken after the locks if one had to be waited for.
 * Memory: the queries, and k hits per query with their keys for as many
 * queries as fit in work_mem at a time (see ExactPasses).
 */
PG_FUNCTION_INFO_V1(hnsw_exact_knn);
Datum
hnsw_exact_knn(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	char	   *colname;
	ArrayType  *qarr;
	int			k;
	ExactMetric metric;
	char	   *keyname;
	Oid			vectype;
	VectorType	kind;
	int			nqueries;
	int			dim;
	ExactQuery *queries;
	List	   *rels;
	bool		waited;
	ExactScan	es;
	int			perpass;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relation, column, k and metric of hnsw.exact_knn must not be NULL")));
	relid = PG_GETARG_OID(0);
	colname = NameStr(*PG_GETARG_NAME(1));
	k = PG_GETARG_INT32(3);
	metric = ParseMetric(text_to_cstring(PG_GETARG_TEXT_PP(4)));
	keyname = PG_ARGISNULL(5) ? NULL : pstrdup(NameStr(*PG_GETARG_NAME(5)));
	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be a positive integer, not %d", k)));
	perpass = ExactPasses(k);

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(2))
		PG_RETURN_NULL();
	qarr = PG_GETARG_ARRAYTYPE_P(2);
	vectype = ARR_ELEMTYPE(qarr);
	kind = ExactTypeOf(vectype);

	/*
	 * The table first, so that what is checked stays true while it is read
	 * (TRUNCATE, VACUUM FULL, DROP and ALTER TABLE wait); its inheritors
	 * are locked next, as "FROM tab" locks them.
	 */
	waited = LockOrWait(relid);
	CheckColumns(relid, colname, keyname, vectype);
	queries = PrepareQueries(qarr, vectype, kind, &nqueries, &dim);
	rels = LockInheritors(relid, &waited);

	/*
	 * A table rewritten (or truncated) by the transaction whose lock was
	 * waited for holds rows no snapshot older than its commit sees.  A
	 * query on the table takes its snapshot after its locks; under READ
	 * COMMITTED, so does this scan when it had to wait.  (Under REPEATABLE
	 * READ the transaction's snapshot stays, as for any query.)
	 */
	memset(&es, 0, sizeof(es));
	if (waited && !IsolationUsesXactSnapshot())
		es.snapshot = RegisterSnapshot(GetTransactionSnapshot());
	else
		es.snapshot = RegisterSnapshot(GetActiveSnapshot());
	CheckScannable(rels);

	es.k = k;
	es.dim = dim;
	es.kind = kind;
	es.metric = metric;
	if (kind != VECTOR_TYPE_VECTOR)
		es.distfn = ExactDistanceFunction(kind, metric);
	es.batchcxt = AllocSetContextCreate(CurrentMemoryContext, "exact_knn batch",
										ALLOCSET_DEFAULT_SIZES);
	es.keycxt = AllocSetContextCreate(CurrentMemoryContext, "exact_knn pass",
									  ALLOCSET_DEFAULT_SIZES);
	es.last_notice = GetCurrentTimestamp();
	if (nqueries > 0 && kind == VECTOR_TYPE_VECTOR)
		es.batch = palloc(sizeof(float) * EXACT_BATCH_ROWS * dim);
	if (nqueries > perpass)
		ereport(NOTICE,
				(errmsg("hnsw.exact_knn reads the table %d times: the %d nearest rows of %d queries do not fit in work_mem (%d kB) at once",
						(nqueries + perpass - 1) / perpass, k, nqueries, work_mem),
				 errhint("Raise work_mem to read it once.")));

	/* one scan of every table per group of queries */
	for (int first = 0; first < nqueries; first += perpass)
	{
		es.queries = queries + first;
		es.nqueries = Min(perpass, nqueries - first);
		RunPass(&es, rsinfo, rels, first, colname, keyname, vectype);
		MemoryContextReset(es.keycxt);
	}
	UnregisterSnapshot(es.snapshot);
	MemoryContextDelete(es.batchcxt);
	MemoryContextDelete(es.keycxt);
	return (Datum) 0;
}

/*
 * Take AccessShareLock on relid; return whether it had to wait for it.
 */
static bool
LockOrWait(Oid relid)
{
	if (ConditionalLockRelationOid(relid, AccessShareLock))
		return false;
	LockRelationOid(relid, AccessShareLock);
	return true;
}

/*
 * How many queries one scan may serve with k hits each: as many as fit in
 * work_mem, counting a hit's key at EXACT_KEY_BYTES (an integer or a ctid
 * as text, with its allocation overhead; longer keys take more).  k whose
 * hits for a single query would not fit is refused, with the limit: an
 * unbounded k would otherwise allocate k hits per query up front.
 */
static int
ExactPasses(int k)
{
	double		budget = (double) work_mem * 1024;
	double		perquery = (double) k * (sizeof(ExactHit) + EXACT_KEY_BYTES);
	int			maxk = (int) Min(budget / (sizeof(ExactHit) + EXACT_KEY_BYTES),
								 (double) PG_INT32_MAX);

	if (perquery > budget)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("k must be at most %d, not %d", maxk, k),
				 errdetail("The k nearest rows of a query are kept in work_mem (%d kB).",
						   work_mem),
				 errhint("Raise work_mem or lower k.")));
	return (int) Min(budget / perquery, (double) PG_INT32_MAX);
}

/*
 * The type of the queries: vector, halfvec or sparsevec of this extension
 * (vectortype.c); any other type is refused.
 */
static VectorType
ExactTypeOf(Oid typid)
{
	VectorType	type = VectorTypeOf(typid);

	if (type == VECTOR_TYPE_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("hnsw.exact_knn takes queries of type vector, halfvec or sparsevec, not %s",
						format_type_be(typid))));
	return type;
}

/*
 * The distance function of a halfvec or sparsevec metric: the operator's
 * own (<#>, <=>, <+>), and for L2 the squared distance (same order; the
 * square root is taken for the result, as for vector).
 */
static PGFunction
ExactDistanceFunction(VectorType kind, ExactMetric metric)
{
	bool		half = (kind == VECTOR_TYPE_HALFVEC);

	Assert(kind != VECTOR_TYPE_VECTOR);
	switch (metric)
	{
		case EXACT_L2:
			return half ? halfvec_l2_squared_distance : sparsevec_l2_squared_distance;
		case EXACT_IP:
			return half ? halfvec_negative_inner_product : sparsevec_negative_inner_product;
		case EXACT_COSINE:
			return half ? halfvec_cosine_distance : sparsevec_cosine_distance;
		case EXACT_L1:
			return half ? halfvec_l1_distance : sparsevec_l1_distance;
	}
	return NULL;				/* keep compiler quiet */
}
