/*-------------------------------------------------------------------------
 *
 * coordsearch.c
 *	  The coordinator's searches, hnsw.search and hnsw.search_batch:
 *	  building the remote SQL, one phase or two, merging the shards' sorted
 *	  answers into the global order.  See src/COORDINATOR.
 *
 * Every selected shard is asked for its own k nearest, sorted by distance:
 *
 *	  SELECT <columns>, <vector column> OPERATOR(<schema>.<op>) $1::<type>
 *	  FROM <remote table> [WHERE <partition column> = ANY ('{..}')]
 *	  ORDER BY <distance> LIMIT k
 *
 * (a UNION ALL of such queries when a shard holds several partitions), so a
 * shard's index answers it.  The global k nearest are among the union of
 * those lists; a k-way merge (binary heap keyed by each list's current
 * distance) takes them in order.  Equal distances are ordered by shard (in
 * partition bound order), then by the shard's own order, so a search's
 * answer does not depend on which shard answered first.
 *
 * Rows travel in binary, are read one at a time into a spool per shard
 * (coordspool.c: in work_mem, past it in a temporary file), and only the k
 * winners are converted to Datums.  Every value is checked: the shard's
 * columns and their types when the first row arrives (coordexec.c), each
 * winner's values by their types' binary input functions, which must use
 * every byte (EmitRow).
 *
 * src/coordsearch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "coord.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/binaryheap.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "metric.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_coerce.h"
#include "parser/parse_oper.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "catalog/pg_operator.h"
#include "utils/typcache.h"
#include "port/pg_bswap.h"
#include "utils/hsearch.h"
#include "vector.h"

/* What one search asks, after argument checks */
typedef struct SearchSpec
{
	CoordTable *table;
	Oid			vectype;
	AttrNumber	vecattnum;		/* the parent's vector column */
	char	   *opname;			/* distance operator, e.g. "<->" */
	char	   *opnsp;			/* its schema */
	int			k;
	bool		exact;
	char	   *ef_search;		/* to set on shards, or NULL */
	int			nqueries;
	Datum	   *queries;		/* vectors */
	int		   *order;			/* batch: the query sent j-th, or NULL (as
								 * given); see coordorder.c */
	int		   *position;		/* its inverse: where query q was sent */
	bool	   *wanted;			/* per table column: fetch it?  NULL: all */
	char	   *filter;			/* WHERE condition for every shard, or NULL
								 * (coordfilter.c) */
} SearchSpec;

/* Merge state: one cursor per shard into its sorted answer to a query */
typedef struct MergeState
{
	CoordSpoolCursor *cur;		/* [nshards]; cur[s].row is shard s's
								 * current row while s is in the heap */
	CoordShard **shards;		/* for messages */
	int			dist;			/* the distance's column */
	int			taken;			/* shard whose current row MergeNext
								 * returned last, or -1 */
} MergeState;

/* Identifies a row in a two-phase search; no padding (a hash key) */
typedef struct RowKey
{
	int32		shard;			/* position among the search's shards */
	uint32		part;			/* position in the shard's partitions */
	uint32		tableoid;		/* on the shard */
	uint32		block;			/* ctid */
	uint32		offset;
} RowKey;

/* A row the second phase of a two-phase search fetched: where it is */
typedef struct FetchedRow
{
	RowKey		key;			/* hash key */
	int64		offset;			/* in its shard's spool */
} FetchedRow;

/*
 * What a two-phase batch keeps in memory per winning row, about: its
 * RowKey, its ctid in the text of the second phase's parameter (twice:
 * ours, and libpq's copy being sent) and its FetchedRow entry in a hash
 * table.  A batch uses two phases only if nqueries * k such rows fit in
 * work_mem (TwoPhaseFits).
 */
#define TWO_PHASE_BYTES_PER_ROW	100

/*
 * The largest k of a single search whose shard answers are read whole
 * (CoordRequest.whole), when they hold no variable-length column
 */
#define COORD_WHOLE_MAX_K	1000

/* Converts shards' rows into the SRF's tuplestore */
typedef struct RowConverter
{
	ReturnSetInfo *rsinfo;
	CoordTable *table;
	bool		batch;			/* (query, row) pairs, not rows */
	bool	   *wanted;			/* columns the results carry; NULL: all */
	TupleDesc	rowdesc;		/* batch: the row type's descriptor */
	FmgrInfo   *recv;			/* binary receive function per column */
	Oid		   *ioparams;
	Datum	   *values;
	bool	   *nulls;
	MemoryContext rowcxt;		/* reset after each row */
} RowConverter;

/*
 * Distributed tables a shard of which has no ctid (a view), found by a
 * two-phase batch that failed for it: searched in one phase from then on,
 * for the rest of the session.  In TopMemoryContext.
 */
static List *no_rowid_tables = NIL;

static void ParseSearchArgs(FunctionCallInfo fcinfo, SearchSpec *spec,
							bool batch);
static void SelectPartitions(CoordTable *table, ArrayType *partitions);
static char *BuildShardQuery(SearchSpec *spec, CoordShard *shard,
							 bool keys_only);
static char *BuildFetchQuery(SearchSpec *spec, CoordShard *shard,
							 bool *wanted);
static void RunSearch(FunctionCallInfo fcinfo, SearchSpec *spec, bool batch);
static void ReportFailedShards(CoordTable *table, CoordShard **shards,
							   CoordResult *results, int nshards);
static void FanOut(FunctionCallInfo fcinfo, SearchSpec *spec,
				   CoordShard **shards, CoordRequest **requests,
				   int nshards, bool batch);
static bool FanOutTwoPhase(FunctionCallInfo fcinfo, SearchSpec *spec,
						   CoordShard **shards, CoordRequest **requests,
						   int nshards);
static void EndHeld(CoordShard **shards, CoordResult *results, int nshards);
static CoordRequest *EndRequest(int copy);
static void EmitTwoPhase(FunctionCallInfo fcinfo, SearchSpec *spec,
						 CoordShard **shards, int nshards, CoordResult *r2,
						 int *index2, RowKey *keys, Size *woff, int *nwin);
static int64 AnswersAvailable(CoordResult *results, int nshards, int q, int k);
static void MergeStart(MergeState *ms, binaryheap *heap, CoordResult *results,
					   int nshards, int q);
static int	MergeNext(MergeState *ms, binaryheap *heap);
static void MergeResults(FunctionCallInfo fcinfo, SearchSpec *spec,
						 CoordShard **shards, CoordResult *results,
						 int nshards, bool batch);
static int	CountColumns(SearchSpec *spec);
static bool Fetched(SearchSpec *spec, int i);
static bool NeedsTwoPhases(SearchSpec *spec);
static bool TwoPhaseFits(SearchSpec *spec);
static void SetShape(SearchSpec *spec, CoordRequest *req, bool keys,
					 bool columns, bool distance);
static void ReadRowKey(RowKey *key, CoordRow *row, int s, CoordShard *shard);
static void InitRowConverter(RowConverter *conv, FunctionCallInfo fcinfo,
							 SearchSpec *spec, bool batch);
static void FreeRowConverter(RowConverter *conv);
static void EmitRow(RowConverter *conv, CoordRow *row, int firstcol, int q,
					CoordShard *shard);
static void ColumnErrorCallback(void *arg);
static char *OperatorNamespace(Oid opid);
static char *TypeNamespace(Oid typid);
static Oid	ReadQueries(FunctionCallInfo fcinfo, SearchSpec *spec, bool batch);
static void FindVectorColumn(SearchSpec *spec, const char *colname,
							 Oid querytype);
static void ConvertQueries(SearchSpec *spec, Oid querytype);
static int	MergeCompare(Datum a, Datum b, void *arg);
static double RowDistance(MergeState *ms, int shard, bool *isnull);

/*
 * hnsw.search(rel anyelement, query vector, k int, partitions int[],
 *			   ef_search int, exact bool, metric text, column_name name)
 * returns setof anyelement
 *
 * The k rows of the distributed table whose rel's type names nearest to
 * query, in distance order.
 *
 * Also hnsw._search_columns, the same with a ninth argument: the numbers of
 * the table columns to fetch; the others are returned NULL (coordplan.c).
 */
PG_FUNCTION_INFO_V1(hnsw_search);
Datum
hnsw_search(PG_FUNCTION_ARGS)
{
	SearchSpec	spec;

	ParseSearchArgs(fcinfo, &spec, false);
	RunSearch(fcinfo, &spec, false);
	return (Datum) 0;
}

/*
 * hnsw.search_batch(rel anyelement, queries vector[], k int, ...)
 * returns table (query int, item anyelement)
 *
 * hnsw.search for each query vector, the query's ordinal (from 1) with each
 * row.  Each shard receives all queries in one pipeline.
 */
PG_FUNCTION_INFO_V1(hnsw_search_batch);
Datum
hnsw_search_batch(PG_FUNCTION_ARGS)
{
	SearchSpec	spec;

	ParseSearchArgs(fcinfo, &spec, true);
	RunSearch(fcinfo, &spec, true);
	return (Datum) 0;
}

/*
 * Check the arguments of hnsw.search or hnsw.search_batch and the caller's
 * privileges on what the search reads (CoordCheckRead), and describe the
 * distributed table.  Takes the table's locks (see CoordGetTable).
 */
static void
ParseSearchArgs(FunctionCallInfo fcinfo, SearchSpec *spec, bool batch)
{
	Oid			rowtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	Oid			relid = OidIsValid(rowtype) ? get_typ_typrelid(rowtype) : InvalidOid;
	CoordTable *table;
	Bitmapset  *readcols = NULL;
	VectorMetric metric;
	const char *opname;
	Oid			opid;
	Oid			querytype;
	int			i;

	memset(spec, 0, sizeof(SearchSpec));
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("first argument must be a row of a distributed table"),
				 errhint("Pass a null of the table's row type, as in NULL::items.")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query vector must not be null")));
	if (PG_ARGISNULL(2) || PG_GETARG_INT32(2) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be a positive integer, not %s",
						PG_ARGISNULL(2) ? "NULL" : psprintf("%d", PG_GETARG_INT32(2)))));
	spec->k = PG_GETARG_INT32(2);
	spec->exact = !PG_ARGISNULL(5) && PG_GETARG_BOOL(5);
	if (!PG_ARGISNULL(4))
	{
		if (PG_GETARG_INT32(4) < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("ef_search must be at least 1")));
		spec->ef_search = psprintf("%d", PG_GETARG_INT32(4));
	}
	else
	{
		/* the session's own setting, if the index code has defined it */
		const char *ef = GetConfigOption("hnsw.ef_search", true, false);

		if (ef != NULL)
			spec->ef_search = pstrdup(ef);
	}

	/* the distance operator; a null metric is the default, l2 */
	metric = VectorMetricFromName(PG_ARGISNULL(6) ? "l2" :
								  text_to_cstring(PG_GETARG_TEXT_PP(6)));
	opname = VectorMetricOperator(metric);

	/* the query vectors, as given */
	querytype = ReadQueries(fcinfo, spec, batch);

	/*
	 * The table and its vector column.  A caller who may read nothing of
	 * the table learns nothing more of it than that; the columns are
	 * checked below, once known.
	 */
	CoordCheckRead(relid, NULL, batch ? "hnsw.search_batch" : "hnsw.search",
				   NULL);
	table = CoordGetTable(relid);
	spec->table = table;

	FindVectorColumn(spec, PG_ARGISNULL(7) ? NULL : NameStr(*PG_GETARG_NAME(7)),
					 querytype);
	ConvertQueries(spec, querytype);

	/* a batch goes to the shards grouped by locality */
	if (batch)
		spec->order = CoordBatchOrder(spec->queries, spec->nqueries,
									  VectorTypeOf(spec->vectype));
	spec->position = palloc(sizeof(int) * spec->nqueries);
	for (i = 0; i < spec->nqueries; i++)
		spec->position[spec->order ? spec->order[i] : i] = i;

	/*
	 * The operator of the type's own schema (the extension's): never one
	 * that the caller's search_path puts first.
	 */
	opid = OpernameGetOprid(list_make2(makeString(TypeNamespace(spec->vectype)),
									   makeString(pstrdup(opname))),
							spec->vectype, spec->vectype);
	if (!OidIsValid(opid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("operator does not exist: %s %s %s",
						format_type_be(spec->vectype), opname,
						format_type_be(spec->vectype))));
	spec->opname = pstrdup(opname);
	spec->opnsp = OperatorNamespace(opid);

	SelectPartitions(table, PG_ARGISNULL(3) ? NULL : PG_GETARG_ARRAYTYPE_P(3));

	/* the filter, checked and written out again; the columns it reads */
	if (!PG_ARGISNULL(8))
		spec->filter = CoordFilterSQL(table, text_to_cstring(PG_GETARG_TEXT_PP(8)),
									  &readcols);

	/* _search_columns: the columns the caller's query uses */
	if (PG_NARGS() > 9 && !PG_ARGISNULL(9))
	{
		ArrayType  *cols = PG_GETARG_ARRAYTYPE_P(9);
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;

		deconstruct_array(cols, INT2OID, sizeof(int16), true, TYPALIGN_SHORT,
						  &elems, &nulls, &nelems);
		spec->wanted = palloc0(sizeof(bool) * table->tupdesc->natts);
		for (i = 0; i < nelems; i++)
		{
			int			attnum = nulls[i] ? 0 : DatumGetInt16(elems[i]);

			if (attnum >= 1 && attnum <= table->tupdesc->natts)
				spec->wanted[attnum - 1] = true;
		}
	}

	/*
	 * Privileges, after the lock CoordGetTable took: the columns fetched,
	 * the vector column (the order is its distances), the filter's columns
	 * and, when partitions are named, the partition column (a filter on
	 * it).
	 */
	for (i = 0; i < table->tupdesc->natts; i++)
	{
		if (Fetched(spec, i))
			readcols = bms_add_member(readcols, i + 1);
	}
	readcols = bms_add_member(readcols, spec->vecattnum);
	if (!PG_ARGISNULL(3))
		readcols = bms_add_member(readcols, table->partattnum);
	CoordCheckRead(relid, readcols, batch ? "hnsw.search_batch" : "hnsw.search",
				   NULL);
}

/*
 * Read the query argument of hnsw.search (one value) or hnsw.search_batch
 * (an array, not null) into spec->queries, detoasted, and return its
 * (element) type: vector, or sparsevec for hnsw.search_sparse and
 * hnsw.search_sparse_batch.  Memory: the current context.
 */
static Oid
ReadQueries(FunctionCallInfo fcinfo, SearchSpec *spec, bool batch)
{
	Oid			type;
	bool	   *nulls = NULL;

	if (!batch)
	{
		type = get_fn_expr_argtype(fcinfo->flinfo, 1);
		spec->nqueries = 1;
		spec->queries = palloc(sizeof(Datum));
		spec->queries[0] = PG_GETARG_DATUM(1);
	}
	else
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
		int16		typlen;
		bool		typbyval;
		char		typalign;

		type = ARR_ELEMTYPE(arr);
		if (ARR_NDIM(arr) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("queries must be a one-dimensional array")));
		get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
		deconstruct_array(arr, type, typlen, typbyval, typalign,
						  &spec->queries, &nulls, &spec->nqueries);
	}
	for (int i = 0; i < spec->nqueries; i++)
	{
		if (nulls != NULL && nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("query vector must not be null")));
		spec->queries[i] = PointerGetDatum(PG_DETOAST_DATUM(spec->queries[i]));
	}
	return type;
}

/*
 * Find the column searched, spec->vecattnum, and its type, spec->vectype:
 * the column named (colname), or else the one column of the query's type
 * (querytype).  A vector query (hnsw.search: an untyped literal is one, and
 * a halfvec query becomes one by pgvector's implicit cast) may also search
 * a halfvec or sparsevec column, converted by the cast to the column's
 * type: the column named, or the table's one such column if it has no
 * vector column.
 */
static void
FindVectorColumn(SearchSpec *spec, const char *colname, Oid querytype)
{
	TupleDesc	tupdesc = spec->table->tupdesc;
	const char *relname = spec->table->relname;
	bool		dense = VectorTypeOf(querytype) == VECTOR_TYPE_VECTOR;
	bool		others = dense;	/* may other vector types be searched? */
	const char *wanted;

	for (int i = 0; dense && colname == NULL && i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);

		if (!attr->attisdropped && attr->atttypid == querytype)
			others = false;
	}
	wanted = others ? "vector, halfvec or sparsevec" : format_type_be(querytype);

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
		bool		fits = attr->atttypid == querytype ||
			(others && VectorTypeOf(attr->atttypid) != VECTOR_TYPE_NONE);

		if (attr->attisdropped)
			continue;
		if (colname != NULL)
		{
			if (strcmp(NameStr(attr->attname), colname) != 0)
				continue;
			if (!fits)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of \"%s\" is not of type %s",
								colname, relname, wanted),
						 !dense && VectorTypeOf(attr->atttypid) != VECTOR_TYPE_NONE ?
						 errhint("Search vector and halfvec columns with hnsw.search.") : 0));
		}
		else if (!fits)
			continue;
		if (spec->vecattnum != 0)
			ereport(ERROR,
					(errcode(ERRCODE_AMBIGUOUS_COLUMN),
					 errmsg("distributed table \"%s\" has more than one column of type %s",
							relname, wanted),
					 errhint("Name the column with the column_name argument.")));
		spec->vecattnum = attr->attnum;
		spec->vectype = attr->atttypid;
	}
	if (spec->vecattnum == 0)
	{
		if (colname != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of distributed table \"%s\" does not exist",
							colname, relname)));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("distributed table \"%s\" has no column of type %s",
						relname, wanted)));
	}
}

/*
 * Make every query a value of the column's type with the column's
 * dimensions, if it declares them (a query of another size can match
 * nothing): a query of another type goes through the cast PostgreSQL has
 * from it (vector to halfvec or sparsevec), with the column's typmod, which
 * checks the dimensions itself.  Memory: the current context.
 */
static void
ConvertQueries(SearchSpec *spec, Oid querytype)
{
	int32		typmod = TupleDescAttr(spec->table->tupdesc,
									   spec->vecattnum - 1)->atttypmod;
	VectorType	type = VectorTypeOf(spec->vectype);
	Oid			castfunc = InvalidOid;

	if (querytype != spec->vectype &&
		find_coercion_pathway(spec->vectype, querytype, COERCION_ASSIGNMENT,
							  &castfunc) != COERCION_PATH_FUNC)
		elog(ERROR, "no cast from %s to %s", format_type_be(querytype),
			 format_type_be(spec->vectype));

	for (int i = 0; i < spec->nqueries; i++)
	{
		int			dims;

		if (OidIsValid(castfunc))
		{
			spec->queries[i] = OidFunctionCall3(castfunc, spec->queries[i],
												Int32GetDatum(typmod),
												BoolGetDatum(false));
			continue;
		}
		dims = VectorTypeDims(type, spec->queries[i]);
		if (typmod >= 0 && dims != typmod)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected %d dimensions, not %d", typmod, dims)));
	}
}

/*
 * Mark the partitions to search: all of them, or those that can hold one of
 * the given partition column values, each with the values it is asked for.
 */
static void
SelectPartitions(CoordTable *table, ArrayType *partitions)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	ListCell   *lc;
	ListCell   *lc2;
	int			i;

	foreach(lc, table->shards)
	{
		foreach(lc2, ((CoordShard *) lfirst(lc))->parts)
		{
			CoordPart  *part = lfirst(lc2);

			part->selected = (partitions == NULL);
			part->want_all = (partitions == NULL);
			part->want = NIL;
		}
	}
	if (partitions == NULL)
		return;

	if (!table->is_list ||
		!(table->parttype == INT2OID || table->parttype == INT4OID ||
		  table->parttype == INT8OID))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("partitions can be chosen only in a table partitioned by LIST on an integer column"),
				 errdetail("Distributed table \"%s\" is not.", table->relname)));

	deconstruct_array(partitions, INT4OID, 4, true, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	for (i = 0; i < nelems; i++)
	{
		int64		value;
		CoordPart  *holder = NULL;
		CoordPart  *deflt = NULL;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("partition values must not be null")));
		value = DatumGetInt32(elems[i]);
		foreach(lc, table->shards)
		{
			foreach(lc2, ((CoordShard *) lfirst(lc))->parts)
			{
				CoordPart  *part = lfirst(lc2);
				int			j;

				if (part->is_default)
					deflt = part;
				for (j = 0; j < part->nvalues; j++)
				{
					if (part->values[j] == value)
						holder = part;
				}
			}
		}
		if (holder == NULL)
			holder = deflt;
		if (holder == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("no partition of distributed table \"%s\" holds partition value " INT64_FORMAT,
							table->relname, value)));
		if (!holder->selected)
		{
			holder->selected = true;
			holder->want = NIL;
		}
		{
			int64	   *v = palloc(sizeof(int64));
			ListCell   *lc3;
			bool		dup = false;

			*v = value;
			foreach(lc3, holder->want)
				dup |= (*(int64 *) lfirst(lc3) == value);
			if (!dup)
				holder->want = lappend(holder->want, v);
		}
	}

	/* a partition asked for all the values it holds needs no WHERE clause */
	foreach(lc, table->shards)
	{
		foreach(lc2, ((CoordShard *) lfirst(lc))->parts)
		{
			CoordPart  *part = lfirst(lc2);

			part->want_all = part->selected && !part->is_default &&
				list_length(part->want) == part->nvalues;
		}
	}
}

/*
 * Build the remote query for shard: its selected partitions' k nearest.
 * Names come quoted from coordcatalog.c; the only literals are integers.
 */
static char *
BuildShardQuery(SearchSpec *spec, CoordShard *shard, bool keys_only)
{
	CoordTable *table = spec->table;
	StringInfoData sql;
	int			nparts = 0;
	int			ncols = 0;
	ListCell   *lc;
	int			i;

	foreach(lc, shard->parts)
		nparts += ((CoordPart *) lfirst(lc))->selected ? 1 : 0;
	ncols = keys_only ? 3 : CountColumns(spec);

	initStringInfo(&sql);
	if (nparts > 1)
		appendStringInfoString(&sql, "SELECT * FROM (");
	nparts = 0;
	foreach(lc, shard->parts)
	{
		CoordPart  *part = lfirst(lc);
		bool		first = true;

		if (!part->selected)
			continue;
		if (nparts++ > 0)
			appendStringInfoString(&sql, " UNION ALL ");
		if (shard->parts->length > 1)
			appendStringInfoChar(&sql, '(');
		if (spec->exact)
			appendStringInfoString(&sql, "SELECT * FROM (");
		appendStringInfoString(&sql, "SELECT ");
		if (keys_only)
		{
			appendStringInfo(&sql, "%d, tableoid, ctid",
							 list_cell_number(shard->parts, lc));
			first = false;
		}
		for (i = 0; i < table->tupdesc->natts && !keys_only; i++)
		{
			if (part->remote_cols[i] == NULL || !Fetched(spec, i))
				continue;
			appendStringInfo(&sql, "%s%s", first ? "" : ", ", part->remote_cols[i]);
			first = false;
		}
		appendStringInfo(&sql, "%s%s OPERATOR(%s.%s) $1::%s FROM %s",
						 first ? "" : ", ",
						 part->remote_cols[spec->vecattnum - 1],
						 quote_identifier(spec->opnsp), spec->opname,
						 format_type_be_qualified(spec->vectype),
						 part->remote_table);
		if (!part->want_all)
		{
			ListCell   *lc2;

			appendStringInfo(&sql, " WHERE %s = ANY ('{", part->remote_partcol);
			first = true;
			foreach(lc2, part->want)
			{
				appendStringInfo(&sql, "%s" INT64_FORMAT, first ? "" : ",",
								 *(int64 *) lfirst(lc2));
				first = false;
			}
			appendStringInfoString(&sql, "}'::pg_catalog.int8[])");
		}
		if (spec->filter != NULL)
			appendStringInfo(&sql, " %s (%s)", part->want_all ? "WHERE" : "AND",
							 spec->filter);
		/* exact: OFFSET 0 keeps the ORDER BY away from any index */
		if (spec->exact)
			appendStringInfoString(&sql, " OFFSET 0) s");
		appendStringInfo(&sql, " ORDER BY %d LIMIT %d", ncols + 1, spec->k);
		if (shard->parts->length > 1)
			appendStringInfoChar(&sql, ')');
	}
	if (nparts > 1)
		appendStringInfo(&sql, ") s ORDER BY %d LIMIT %d", ncols + 1, spec->k);
	return sql.data;
}

/*
 * Build the second-phase query of a two-phase search for shard: the rows,
 * by row identifier, of the partitions marked in wanted (indexes into
 * shard->parts), one tid[] parameter per such partition, in that order.
 * Each row comes with the partition's index, tableoid and ctid, as the
 * first phase named it.
 */
static char *
BuildFetchQuery(SearchSpec *spec, CoordShard *shard, bool *wanted)
{
	CoordTable *table = spec->table;
	StringInfoData sql;
	ListCell   *lc;
	int			nparams = 0;
	int			i;

	initStringInfo(&sql);
	foreach(lc, shard->parts)
	{
		CoordPart  *part = lfirst(lc);
		int			p = foreach_current_index(lc);

		if (!wanted[p])
			continue;
		if (nparams > 0)
			appendStringInfoString(&sql, " UNION ALL ");
		appendStringInfo(&sql, "SELECT %d, tableoid, ctid", p);
		for (i = 0; i < table->tupdesc->natts; i++)
		{
			if (part->remote_cols[i] != NULL && Fetched(spec, i))
				appendStringInfo(&sql, ", %s", part->remote_cols[i]);
		}
		appendStringInfo(&sql, " FROM %s WHERE ctid = ANY ($%d::pg_catalog.tid[])",
						 part->remote_table, ++nparams);
	}
	return sql.data;
}

/*
 * Build one request per shard with a selected partition, fan the search
 * out, merge, and return the rows through the materialize SRF protocol.
 *
 * A batch is searched in two phases when it fetches a variable-length
 * column (such as the vector), the shards' tables have row identifiers,
 * and what two phases keep in memory fits work_mem (see FanOutTwoPhase);
 * otherwise, and for single searches, in one.
 */
static void
RunSearch(FunctionCallInfo fcinfo, SearchSpec *spec, bool batch)
{
	CoordTable *table = spec->table;
	int			nshards = 0;
	CoordShard **shards;
	CoordRequest **requests;
	Oid			sendfn;
	bool		isvarlena;
	bool		two_phase;
	ListCell   *lc;
	int			q;
	static const int formats[1] = {1};

	InitMaterializedSRF(fcinfo, 0);

	two_phase = batch && NeedsTwoPhases(spec) &&
		!list_member_oid(no_rowid_tables, table->relid) &&
		TwoPhaseFits(spec);

	/* one request per shard with a selected partition */
	shards = palloc(sizeof(CoordShard *) * list_length(table->shards));
	requests = palloc(sizeof(CoordRequest *) * list_length(table->shards));
	getTypeBinaryOutputInfo(spec->vectype, &sendfn, &isvarlena);
	foreach(lc, table->shards)
	{
		CoordShard *shard = lfirst(lc);
		CoordRequest *req;
		ListCell   *lc2;
		bool		selected = false;

		foreach(lc2, shard->parts)
			selected |= ((CoordPart *) lfirst(lc2))->selected;
		if (!selected)
			continue;
		req = palloc0(sizeof(CoordRequest));
		req->sql = BuildShardQuery(spec, shard, two_phase);
		req->nparams = 1;
		req->nqueries = spec->nqueries;
		req->formats = formats;
		req->binary_result = true;
		req->prepare = true;
		req->open_snapshot = two_phase;
		req->keep_errors = two_phase;
		req->ef_search = spec->exact ? NULL : spec->ef_search;
		req->stream = true;

		/*
		 * A single search of up to COORD_WHOLE_MAX_K rows of fixed-width
		 * columns: each shard's answer is a few kB, read whole rather than
		 * a libpq result per row
		 */
		req->whole = spec->nqueries == 1 && spec->k <= COORD_WHOLE_MAX_K &&
			!NeedsTwoPhases(spec);
		/* a batch or an exact search is the shard's work: not hedged */
		req->hedge = !batch && !spec->exact;
		SetShape(spec, req, two_phase, !two_phase, true);
		req->values = palloc(sizeof(char **) * spec->nqueries);
		req->lengths = palloc(sizeof(int *) * spec->nqueries);
		for (q = 0; q < spec->nqueries; q++)
		{
			bytea	   *b;

			/* the same bytes for every shard: convert once */
			if (nshards > 0)
			{
				req->values[q] = requests[0]->values[q];
				req->lengths[q] = requests[0]->lengths[q];
				continue;
			}
			b = OidSendFunctionCall(sendfn,
									spec->queries[spec->order ? spec->order[q] : q]);
			req->values[q] = palloc(sizeof(char *));
			req->lengths[q] = palloc(sizeof(int));
			req->values[q][0] = VARDATA(b);
			req->lengths[q][0] = VARSIZE(b) - VARHDRSZ;
		}
		shards[nshards] = shard;
		requests[nshards] = req;
		nshards++;
	}
	if (nshards == 0)
		return;

	if (two_phase)
	{
		if (FanOutTwoPhase(fcinfo, spec, shards, requests, nshards))
			return;
		/* the same requests in one phase */
		for (q = 0; q < nshards; q++)
		{
			requests[q]->sql = BuildShardQuery(spec, shards[q], false);
			requests[q]->open_snapshot = false;
			requests[q]->keep_errors = false;
			SetShape(spec, requests[q], false, true, true);
		}
	}
	FanOut(fcinfo, spec, shards, requests, nshards, batch);
}

/*
 * Run the requests, report shards that did not answer, and merge.  The
 * shards' spools (and their temporary files) are freed here on every path.
 */
static void
FanOut(FunctionCallInfo fcinfo, SearchSpec *spec, CoordShard **shards,
	   CoordRequest **requests, int nshards, bool batch)
{
	CoordResult *volatile results = NULL;

	PG_TRY();
	{
		results = CoordExecute(shards, requests, nshards);
		ReportFailedShards(spec->table, shards, results, nshards);
		MergeResults(fcinfo, spec, shards, results, nshards, batch);
	}
	PG_CATCH();
	{
		CoordFreeResults(results, nshards, spec->nqueries);
		PG_RE_THROW();
	}
	PG_END_TRY();
	CoordFreeResults(results, nshards, spec->nqueries);
}

/*
 * A batch in two phases.  In the first, every shard returns for each query
 * only the row identifiers (partition index, tableoid, ctid) and distances
 * of its k nearest, inside a REPEATABLE READ transaction that stays open;
 * the coordinator merges them into each query's global k.  In the second,
 * each shard that holds winners returns their full rows, fetched by ctid
 * in the same transaction (so the ctids still name the same row versions),
 * and commits; a shard without winners only commits.  The merge is the
 * one-phase merge over the same distances, so the answer is the same; only
 * k rows per query travel in full instead of k per shard per query.
 *
 * Every transaction the first phase opens ends before this returns: with
 * the second phase, with EndHeld on the other ways out, or, when an error
 * or an interrupt comes between, by the abort callback closing its
 * connection (coordconn.c).
 *
 * Returns false, having returned no rows, when the batch must run in one
 * phase instead: a shard's table has no ctid (a view: remembered for the
 * table, for the rest of the session), or a shard with winners failed
 * between the phases (the one-phase search fails over to another copy).
 * Other errors are raised.
 */
static bool
FanOutTwoPhase(FunctionCallInfo fcinfo, SearchSpec *spec,
			   CoordShard **shards, CoordRequest **requests, int nshards)
{
	CoordTable *table = spec->table;
	CoordResult *volatile r1 = NULL;
	CoordResult *volatile r2 = NULL;
	volatile int n2 = 0;
	volatile bool done = false;

	PG_TRY();
	{
		CoordShard **shards2 = palloc(sizeof(CoordShard *) * nshards);
		CoordRequest **requests2 = palloc(sizeof(CoordRequest *) * nshards);
		int		   *index2 = palloc(sizeof(int) * nshards);
		bool	   *winners2 = palloc0(sizeof(bool) * nshards);
		RowKey	   *keys;
		int		   *nwin = palloc(sizeof(int) * spec->nqueries);
		Size	   *woff = palloc(sizeof(Size) * (spec->nqueries + 1));
		StringInfoData **tids;
		MergeState	ms;
		binaryheap *heap;
		bool		no_rowid = false;
		bool		failed = false;
		int			i;
		int			q;

		for (i = 0; i < nshards; i++)
			index2[i] = -1;
		r1 = CoordExecute(shards, requests, nshards);

		/* query errors: a table without ctid falls back, others are raised */
		for (i = 0; i < nshards; i++)
		{
			PGresult   *err = r1[i].remote_error;
			const char *sqlstate;
			const char *msg;

			if (err == NULL)
				continue;
			sqlstate = PQresultErrorField(err, PG_DIAG_SQLSTATE);
			msg = PQresultErrorField(err, PG_DIAG_MESSAGE_PRIMARY);
			/* undefined_column, naming a system column (in any language) */
			if (sqlstate != NULL && strcmp(sqlstate, "42703") == 0 &&
				msg != NULL && (strstr(msg, "ctid") || strstr(msg, "tableoid")))
			{
				no_rowid = true;
				continue;
			}
			EndHeld(shards, r1, nshards);
			r1[i].remote_error = NULL;
			CoordRaiseRemoteError(err, shards[i]->copynames[r1[i].copy],
								  requests[i]->sql);
		}
		if (no_rowid)
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);

			no_rowid_tables = lappend_oid(no_rowid_tables, table->relid);
			MemoryContextSwitchTo(oldcxt);
			EndHeld(shards, r1, nshards);
			ereport(DEBUG1,
					(errmsg_internal("hnsw: distributed table \"%s\" is searched in one phase: a shard's table has no ctid",
									 table->relname)));
		}
		else
		{
			/* no need to hold the others' snapshots over an error */
			for (i = 0; i < nshards; i++)
				failed |= !r1[i].ok;
			if (failed && !coord_allow_partial_results)
				EndHeld(shards, r1, nshards);
			ReportFailedShards(table, shards, r1, nshards);

			/* room for each query's winners: k, or all it got if fewer */
			woff[0] = 0;
			for (q = 0; q < spec->nqueries; q++)
				woff[q + 1] = woff[q] + AnswersAvailable(r1, nshards, q, spec->k);
			keys = MemoryContextAllocHuge(CurrentMemoryContext,
										  sizeof(RowKey) * (woff[spec->nqueries] + 1));

			/* each query's winners, and the ctids each shard must send */
			ms.cur = palloc0(sizeof(CoordSpoolCursor) * nshards);
			ms.shards = shards;
			ms.dist = 3;
			heap = binaryheap_allocate(nshards, MergeCompare, &ms);
			tids = palloc0(sizeof(StringInfoData *) * nshards);
			for (q = 0; q < spec->nqueries; q++)
			{
				int			s;

				nwin[q] = 0;
				MergeStart(&ms, heap, r1, nshards, q);
				while (nwin[q] < spec->k && (s = MergeNext(&ms, heap)) >= 0)
				{
					RowKey	   *key = &keys[woff[q] + nwin[q]++];
					int			nparts = list_length(shards[s]->parts);
					StringInfo	buf;

					ReadRowKey(key, &ms.cur[s].row, s, shards[s]);
					if (tids[s] == NULL)
						tids[s] = palloc0(sizeof(StringInfoData) * nparts);
					buf = &tids[s][key->part];
					if (buf->data == NULL)
					{
						initStringInfo(buf);
						appendStringInfoChar(buf, '{');
					}
					else
						appendStringInfoChar(buf, ',');
					appendStringInfo(buf, "\"(%u,%u)\"", key->block, key->offset);
				}
			}

			/*
			 * One request per shard whose transaction is open: the rows of
			 * its winners, if any, then COMMIT
			 */
			for (i = 0; i < nshards; i++)
			{
				CoordRequest *req;
				bool	   *wanted;
				int			nparts = list_length(shards[i]->parts);
				int			p;

				if (!r1[i].held)
					continue;
				if (tids[i] == NULL)
					req = EndRequest(r1[i].copy);
				else
				{
					req = palloc0(sizeof(CoordRequest));
					wanted = palloc(sizeof(bool) * nparts);
					req->values = palloc(sizeof(char **));
					req->values[0] = palloc(sizeof(char *) * nparts);
					for (p = 0; p < nparts; p++)
					{
						wanted[p] = (tids[i][p].data != NULL);
						if (!wanted[p])
							continue;
						appendStringInfoChar(&tids[i][p], '}');
						req->values[0][req->nparams++] = tids[i][p].data;
					}
					req->sql = BuildFetchQuery(spec, shards[i], wanted);
					req->nqueries = 1;
					req->lengths = palloc0(sizeof(int *));
					req->binary_result = true;
					req->prepare = true;
					req->stream = true;
					SetShape(spec, req, true, true, false);
					req->ef_search = requests[i]->ef_search;
					req->in_snapshot = true;
					req->snapshot_copy = r1[i].copy;
					winners2[n2] = true;
				}
				shards2[n2] = shards[i];
				requests2[n2] = req;
				index2[i] = n2;
				n2++;
			}
			if (n2 > 0)
				r2 = CoordExecute(shards2, requests2, n2);
			for (i = 0; i < nshards; i++)
				r1[i].held = false;

			/* a shard that only had to commit does not matter if it failed */
			done = true;
			for (i = 0; i < n2; i++)
				done &= (r2[i].ok || !winners2[i]);
			if (done)
				EmitTwoPhase(fcinfo, spec, shards, nshards, r2, index2,
							 keys, woff, nwin);
		}
	}
	PG_CATCH();
	{
		CoordFreeResults(r1, nshards, spec->nqueries);
		CoordFreeResults(r2, n2, 1);
		PG_RE_THROW();
	}
	PG_END_TRY();
	CoordFreeResults(r1, nshards, spec->nqueries);
	CoordFreeResults(r2, n2, 1);
	return done;
}

/*
 * End, without a second phase, the transactions the first phase of a
 * two-phase batch left open on the copies results[i] holds: COMMIT (they
 * only read; one in error is rolled back).  A copy that does not answer in
 * time is closed, which ends its transaction as well.
 */
static void
EndHeld(CoordShard **shards, CoordResult *results, int nshards)
{
	CoordShard **held = palloc(sizeof(CoordShard *) * nshards);
	CoordRequest **requests = palloc(sizeof(CoordRequest *) * nshards);
	CoordResult *r;
	int			n = 0;
	int			i;

	for (i = 0; i < nshards; i++)
	{
		if (!results[i].held)
			continue;
		held[n] = shards[i];
		requests[n] = EndRequest(results[i].copy);
		n++;
	}
	if (n == 0)
		return;
	r = CoordExecute(held, requests, n);
	CoordFreeResults(r, n, 0);
	for (i = 0; i < nshards; i++)
		results[i].held = false;
}

/* A request that only commits the transaction held on copy */
static CoordRequest *
EndRequest(int copy)
{
	CoordRequest *req = palloc0(sizeof(CoordRequest));

	req->sql = "COMMIT";		/* for messages: nothing else is sent */
	req->nqueries = 0;
	req->in_snapshot = true;
	req->snapshot_copy = copy;
	return req;
}

/*
 * Put the rows of a two-phase batch in the SRF's tuplestore: for each query
 * its winners (keys, nwin per query, from woff; each names its shard),
 * each converted from the row of the second phase's results r2 (index2:
 * position in r2 of a shard) that has its identifier.  The second phase's
 * rows are found through a hash table of their positions in the spools.
 */
static void
EmitTwoPhase(FunctionCallInfo fcinfo, SearchSpec *spec, CoordShard **shards,
			 int nshards, CoordResult *r2, int *index2, RowKey *keys,
			 Size *woff, int *nwin)
{
	HASHCTL		ctl;
	HTAB	   *rows;
	RowConverter conv;
	CoordSpoolCursor *cur = palloc0(sizeof(CoordSpoolCursor) * nshards);
	int			i;
	int			o;

	ctl.keysize = sizeof(RowKey);
	ctl.entrysize = sizeof(FetchedRow);
	ctl.hcxt = CurrentMemoryContext;
	rows = hash_create("hnsw fetched rows",
					   (long) Min(woff[spec->nqueries] + 1, (Size) LONG_MAX / 2),
					   &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (i = 0; i < nshards; i++)
	{
		CoordSpool *spool;

		if (index2[i] < 0 || (spool = r2[index2[i]].spool) == NULL)
			continue;
		CoordSpoolSeek(spool, &cur[i], 0);
		while (CoordSpoolNext(&cur[i]))
		{
			RowKey		key;
			FetchedRow *entry;

			CHECK_FOR_INTERRUPTS();
			ReadRowKey(&key, &cur[i].row, i, shards[i]);
			entry = hash_search(rows, &key, HASH_ENTER, NULL);
			entry->offset = cur[i].row.offset;
		}
	}

	/* in the batch's order: query o was sent as position[o] */
	InitRowConverter(&conv, fcinfo, spec, true);
	for (o = 0; o < spec->nqueries; o++)
	{
		int			q = spec->position[o];
		int			w;

		for (w = 0; w < nwin[q]; w++)
		{
			RowKey	   *key = &keys[woff[q] + w];
			int			s = key->shard;
			FetchedRow *entry = hash_search(rows, key, HASH_FIND, NULL);

			if (entry == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("shard \"%s\" did not return a row it had found for the search",
								shards[s]->name)));
			(void) CoordSpoolReadAt(&cur[s], entry->offset);
			EmitRow(&conv, &cur[s].row, 3, o, shards[s]);
		}
	}
	FreeRowConverter(&conv);
	hash_destroy(rows);
}

/*
 * Start merging the shards' sorted answers to query q: each shard with
 * rows for q enters the heap with its first row in ms->cur.  ms and heap
 * are the caller's, sized for nshards, reused from query to query.
 */
static void
MergeStart(MergeState *ms, binaryheap *heap, CoordResult *results,
		   int nshards, int q)
{
	int			i;

	binaryheap_reset(heap);
	ms->taken = -1;
	for (i = 0; i < nshards; i++)
	{
		if (!results[i].ok || results[i].spool == NULL)
			continue;
		CoordSpoolSeek(results[i].spool, &ms->cur[i], q);
		if (CoordSpoolNext(&ms->cur[i]))
			binaryheap_add_unordered(heap, Int32GetDatum(i));
	}
	binaryheap_build(heap);
}

/*
 * The shard whose current row is the next in the merged order (ms->cur[s]
 * holds it until the next call), or -1 when no row is left.  The row the
 * previous call returned is passed over first.
 */
static int
MergeNext(MergeState *ms, binaryheap *heap)
{
	int			s = ms->taken;

	CHECK_FOR_INTERRUPTS();

	/* the row returned last time is used: move its shard on (it is first) */
	if (s >= 0)
	{
		if (CoordSpoolNext(&ms->cur[s]))
			binaryheap_replace_first(heap, Int32GetDatum(s));
		else
			(void) binaryheap_remove_first(heap);
	}
	if (binaryheap_empty(heap))
	{
		ms->taken = -1;
		return -1;
	}
	ms->taken = DatumGetInt32(binaryheap_first(heap));
	return ms->taken;
}

/*
 * Merge the shards' sorted answers (full rows) to each query into its k
 * nearest, and put them in the SRF's tuplestore.  Only the winners are
 * converted.
 */
static void
MergeResults(FunctionCallInfo fcinfo, SearchSpec *spec, CoordShard **shards,
			 CoordResult *results, int nshards, bool batch)
{
	RowConverter conv;
	MergeState	ms;
	binaryheap *heap;

	ms.cur = palloc0(sizeof(CoordSpoolCursor) * nshards);
	ms.shards = shards;
	ms.dist = CountColumns(spec);
	heap = binaryheap_allocate(nshards, MergeCompare, &ms);
	InitRowConverter(&conv, fcinfo, spec, batch);

	/* in the batch's order: query o was sent as position[o] */
	for (int o = 0; o < spec->nqueries; o++)
	{
		int			n = 0;
		int			s;

		MergeStart(&ms, heap, results, nshards, spec->position[o]);
		while (n++ < spec->k && (s = MergeNext(&ms, heap)) >= 0)
			EmitRow(&conv, &ms.cur[s].row, 0, o, shards[s]);
	}
	FreeRowConverter(&conv);
}

/*
 * How many rows a merge of the answers to query q can return: k, or fewer
 * if the shards returned fewer.
 */
static int64
AnswersAvailable(CoordResult *results, int nshards, int q, int k)
{
	int64		n = 0;
	int			i;

	for (i = 0; i < nshards; i++)
	{
		if (results[i].ok)
			n += CoordSpoolCount(results[i].spool, q);
	}
	return Min(n, (int64) k);
}

/* Is column i (from 0) of the table one the search fetches? */
static bool
Fetched(SearchSpec *spec, int i)
{
	return !TupleDescAttr(spec->table->tupdesc, i)->attisdropped &&
		(spec->wanted == NULL || spec->wanted[i]);
}

/* The number of columns of the table the search fetches */
static int
CountColumns(SearchSpec *spec)
{
	int			n = 0;
	int			i;

	for (i = 0; i < spec->table->tupdesc->natts; i++)
		n += Fetched(spec, i) ? 1 : 0;
	return n;
}

/*
 * Is a batch worth two phases: does it fetch a variable-length column?
 * Shipping the k rows of every shard for every query costs little when
 * they are a few fixed-width values (as in SELECT query, (item).id), and a
 * second round trip costs more than it saves; a vector column of 784
 * dimensions is 3 kB a row.
 */
static bool
NeedsTwoPhases(SearchSpec *spec)
{
	int			i;

	for (i = 0; i < spec->table->tupdesc->natts; i++)
	{
		if (Fetched(spec, i) && TupleDescAttr(spec->table->tupdesc, i)->attlen < 0)
			return true;
	}
	return false;
}

/*
 * Is a two-phase batch's bookkeeping small enough for work_mem: about
 * TWO_PHASE_BYTES_PER_ROW for each of the up to nqueries * k winners?
 * Past it the batch runs in one phase, whose rows go to spools that spill
 * to temporary files, instead of holding more memory than allowed.
 */
static bool
TwoPhaseFits(SearchSpec *spec)
{
	double		bytes = (double) spec->nqueries * spec->k * TWO_PHASE_BYTES_PER_ROW;

	if (bytes <= (double) work_mem * 1024.0)
		return true;
	ereport(DEBUG1,
			(errmsg_internal("hnsw: a batch of %d queries with k = %d is searched in one phase: two phases would need more than work_mem",
							 spec->nqueries, spec->k)));
	return false;
}

/*
 * Set the columns req's queries must return (CheckShape in coordexec.c):
 * with keys, the row identifier (partition index, tableoid, ctid); with
 * columns, the table columns the search fetches; with distance, the
 * distance, in that order.  A domain column is expected of its base type,
 * which is what a shard's row description names; the domain's input
 * function, which checks its constraints, still converts the values.
 */
static void
SetShape(SearchSpec *spec, CoordRequest *req, bool keys, bool columns,
		 bool distance)
{
	TupleDesc	tupdesc = spec->table->tupdesc;
	int			n = (keys ? 3 : 0) + (columns ? CountColumns(spec) : 0) +
		(distance ? 1 : 0);
	Oid		   *types = palloc(sizeof(Oid) * Max(n, 1));
	const char **names = palloc(sizeof(char *) * Max(n, 1));
	int			i;

	req->nfields = 0;
	if (keys)
	{
		types[req->nfields] = INT4OID;
		names[req->nfields++] = "partition number";
		types[req->nfields] = OIDOID;
		names[req->nfields++] = "tableoid";
		types[req->nfields] = TIDOID;
		names[req->nfields++] = "ctid";
	}
	for (i = 0; columns && i < tupdesc->natts; i++)
	{
		if (!Fetched(spec, i))
			continue;
		/* a shard describes a domain's values by its base type */
		types[req->nfields] = getBaseType(TupleDescAttr(tupdesc, i)->atttypid);
		names[req->nfields++] = NameStr(TupleDescAttr(tupdesc, i)->attname);
	}
	if (distance)
	{
		types[req->nfields] = FLOAT8OID;
		names[req->nfields++] = "distance";
	}
	Assert(req->nfields == n);
	req->types = types;
	req->colnames = names;
}

/*
 * Read the row identifier in columns 0 to 2 (partition index, tableoid,
 * ctid; binary) of row, from a two-phase result of shard number s.
 */
static void
ReadRowKey(RowKey *key, CoordRow *row, int s, CoordShard *shard)
{
	uint32		v32;
	uint16		v16;

	memset(key, 0, sizeof(RowKey));
	key->shard = s;
	if (row->nfields < 3 ||
		row->lengths[0] != 4 || row->lengths[1] != 4 || row->lengths[2] != 6)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("shard \"%s\" returned an invalid row identifier",
						shard->name)));
	memcpy(&v32, row->values[0], 4);
	key->part = pg_ntoh32(v32);
	memcpy(&v32, row->values[1], 4);
	key->tableoid = pg_ntoh32(v32);
	memcpy(&v32, row->values[2], 4);
	key->block = pg_ntoh32(v32);
	memcpy(&v16, row->values[2] + 4, 2);
	key->offset = pg_ntoh16(v16);
	if (key->part >= (uint32) list_length(shard->parts))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("shard \"%s\" returned an invalid row identifier",
						shard->name)));
}

/*
 * Prepare to convert shards' rows to the distributed table's row type and
 * store them in the SRF's tuplestore (batch: with the query's ordinal).
 */
static void
InitRowConverter(RowConverter *conv, FunctionCallInfo fcinfo,
				 SearchSpec *spec, bool batch)
{
	CoordTable *table = spec->table;
	int			natts = table->tupdesc->natts;
	int			i;

	conv->rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	conv->table = table;
	conv->batch = batch;
	conv->wanted = spec->wanted;
	conv->rowdesc = batch ?
		lookup_rowtype_tupdesc_copy(table->tupdesc->tdtypeid, -1) : NULL;
	conv->recv = palloc0(sizeof(FmgrInfo) * natts);
	conv->ioparams = palloc0(sizeof(Oid) * natts);
	conv->values = palloc(sizeof(Datum) * natts);
	conv->nulls = palloc(sizeof(bool) * natts);
	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(table->tupdesc, i);
		Oid			recvfn;

		if (attr->attisdropped)
			continue;
		getTypeBinaryInputInfo(attr->atttypid, &recvfn, &conv->ioparams[i]);
		fmgr_info(recvfn, &conv->recv[i]);
	}
	/* each row's conversion is freed once the row is stored */
	conv->rowcxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw merge row",
										 ALLOCSET_DEFAULT_SIZES);
}

static void
FreeRowConverter(RowConverter *conv)
{
	MemoryContextDelete(conv->rowcxt);
}

/* Names a value being converted, for the context of its errors */
typedef struct ColumnContext
{
	const char *column;
	const char *shard;
} ColumnContext;

/*
 * Convert row, from shard, whose table columns start at firstcol, and
 * store it as an answer to query number q (from 0).  Each value goes
 * through its type's binary input function, which must consume it to the
 * last byte: a value of another type or a corrupt one is an error naming
 * the column and the shard, never a wrong value.
 */
static void
EmitRow(RowConverter *conv, CoordRow *row, int firstcol, int q,
		CoordShard *shard)
{
	CoordTable *table = conv->table;
	MemoryContext oldcxt;
	HeapTuple	tuple;
	ColumnContext ctx;
	ErrorContextCallback errcb;
	int			col = firstcol;
	int			i;

	CHECK_FOR_INTERRUPTS();
	oldcxt = MemoryContextSwitchTo(conv->rowcxt);
	ctx.shard = shard->name;
	errcb.callback = ColumnErrorCallback;
	errcb.arg = &ctx;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	for (i = 0; i < table->tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(table->tupdesc, i);
		StringInfoData buf;

		conv->nulls[i] = true;
		conv->values[i] = (Datum) 0;
		if (attr->attisdropped || (conv->wanted && !conv->wanted[i]))
			continue;
		ctx.column = NameStr(attr->attname);
		/* CheckShape (coordexec.c) saw every row's columns */
		if (col >= row->nfields)
			elog(ERROR, "hnsw: row of shard \"%s\" without column \"%s\"",
				 shard->name, ctx.column);
		if (row->values[col] != NULL)
		{
			/* the spool ends each value with a zero byte, as libpq does */
			buf.data = (char *) row->values[col];
			buf.len = row->lengths[col];
			buf.maxlen = buf.len + 1;
			buf.cursor = 0;
			conv->values[i] = ReceiveFunctionCall(&conv->recv[i], &buf,
												  conv->ioparams[i],
												  attr->atttypmod);
			if (buf.cursor != buf.len)
			{
				error_context_stack = errcb.previous;	/* the message says it */
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
						 errmsg("incorrect binary data format in column \"%s\" returned by shard \"%s\"",
								ctx.column, shard->name)));
			}
			conv->nulls[i] = false;
		}
		col++;
	}
	error_context_stack = errcb.previous;

	tuple = heap_form_tuple(table->tupdesc, conv->values, conv->nulls);
	if (!conv->batch)
		tuplestore_puttuple(conv->rsinfo->setResult, tuple);
	else
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = Int32GetDatum(q + 1);
		values[1] = heap_copy_tuple_as_datum(tuple, conv->rowdesc);
		tuplestore_putvalues(conv->rsinfo->setResult, conv->rsinfo->setDesc,
							 values, nulls);
	}
	/* the tuplestore keeps its own copy */
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(conv->rowcxt);
}

/* Error context: which value of which shard was being converted */
static void
ColumnErrorCallback(void *arg)
{
	ColumnContext *ctx = arg;

	errcontext("column \"%s\" of a row returned by shard \"%s\"",
			   ctx->column, ctx->shard);
}

/* The schema of operator opid */
static char *
OperatorNamespace(Oid opid)
{
	HeapTuple	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opid));
	Oid			nsp;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator %u", opid);
	nsp = ((Form_pg_operator) GETSTRUCT(tup))->oprnamespace;
	ReleaseSysCache(tup);
	return get_namespace_name(nsp);
}

/* The schema of type typid */
static char *
TypeNamespace(Oid typid)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	Oid			nsp;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", typid);
	nsp = ((Form_pg_type) GETSTRUCT(tup))->typnamespace;
	ReleaseSysCache(tup);
	return get_namespace_name(nsp);
}

/*
 * Raise an error naming the shards none of whose copies answered, or with
 * hnsw.allow_partial_results, a WARNING naming them and the fraction of
 * partitions that did answer.
 */
static void
ReportFailedShards(CoordTable *table, CoordShard **shards,
				   CoordResult *results, int nshards)
{
	StringInfoData names;
	StringInfoData errors;
	int			nfailed = 0;
	int			parts_asked = 0;
	int			parts_answered = 0;
	int			i;

	initStringInfo(&names);
	initStringInfo(&errors);
	for (i = 0; i < nshards; i++)
	{
		ListCell   *lc;
		int			nparts = 0;

		foreach(lc, shards[i]->parts)
			nparts += ((CoordPart *) lfirst(lc))->selected ? 1 : 0;
		parts_asked += nparts;
		if (results[i].ok)
		{
			parts_answered += nparts;
			continue;
		}
		appendStringInfo(&names, "%s\"%s\"", nfailed > 0 ? ", " : "",
						 shards[i]->name);
		appendStringInfo(&errors, "%s%s", nfailed > 0 ? "; " : "",
						 results[i].error ? results[i].error : "no copy answered");
		nfailed++;
	}
	if (nfailed == 0)
		return;

	if (!coord_allow_partial_results)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg_plural("shard %s of distributed table \"%s\" did not answer",
							   "shards %s of distributed table \"%s\" did not answer",
							   nfailed, names.data, table->relname),
				 errdetail("No copy answered: %s.", errors.data),
				 errhint("Set hnsw.allow_partial_results to get the rows of the shards that answer.")));

	ereport(WARNING,
			(errcode(ERRCODE_WARNING),
			 errmsg("distributed search of \"%s\" returned partial results",
					table->relname),
			 errdetail("No copy of %s answered; %d of %d partitions (%.0f%%) answered.",
					   names.data, parts_answered, parts_asked,
					   100.0 * parts_answered / parts_asked)));
}

/*
 * binaryheap comparator: the shard whose current row is nearer comes
 * first (binaryheap keeps the "largest" on top); equal distances go to the
 * earlier shard; NaN after every number (as PostgreSQL orders float8),
 * null distances last.
 */
static int
MergeCompare(Datum a, Datum b, void *arg)
{
	MergeState *ms = arg;
	int			sa = DatumGetInt32(a);
	int			sb = DatumGetInt32(b);
	bool		na;
	bool		nb;
	double		da = RowDistance(ms, sa, &na);
	double		db = RowDistance(ms, sb, &nb);
	int			cmp;

	if (na != nb)
		return na ? -1 : 1;
	if (!na && (cmp = float8_cmp_internal(da, db)) != 0)
		return -cmp;
	return sa < sb ? 1 : (sa > sb ? -1 : 0);
}

/* The distance of shard's current row (binary float8) */
static double
RowDistance(MergeState *ms, int shard, bool *isnull)
{
	CoordRow   *row = &ms->cur[shard].row;
	StringInfoData buf;

	if (ms->dist >= row->nfields)
		elog(ERROR, "hnsw: row of shard \"%s\" without its distance",
			 ms->shards[shard]->name);
	*isnull = (row->values[ms->dist] == NULL);
	if (*isnull)
		return 0;
	if (row->lengths[ms->dist] != sizeof(double))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("shard \"%s\" returned a distance that is not double precision",
						ms->shards[shard]->name)));
	buf.data = (char *) row->values[ms->dist];
	buf.len = sizeof(double);
	buf.maxlen = buf.len + 1;
	buf.cursor = 0;
	return pq_getmsgfloat8(&buf);
}
