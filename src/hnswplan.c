/*-------------------------------------------------------------------------
 *
 * hnswplan.c
 *	  Let the executor take the distance an hnsw scan computed instead of
 *	  computing it again.
 *
 * In SELECT id FROM items ORDER BY embedding <-> $1 LIMIT 10 the ORDER BY
 * expression stays in the Index Scan's target list (a resjunk column), and
 * the executor evaluates it for every row the scan returns: it detoasts the
 * row's vector (for 784 dimensions, a TOAST index lookup and two chunks)
 * and computes a distance the index scan has just computed.  On
 * Fashion-MNIST that is a fifth of a query's time.
 *
 * After planning, the library's planner hook (module.c) calls
 * HnswRewritePlan, which finds Index Scans of hnsw indexes ordered by the
 * operators whose index distance is the operator's own (<->, <#>, <+> on
 * vector, halfvec and sparsevec; <~> on bit) and replaces, in their target lists, the ORDER BY
 * expression by hnsw._index_distance(column, query, ctid, index).  The scan remembers the
 * last heap TID it returned with its exact distance (HnswRememberDistance);
 * _index_distance returns that distance when the index, the TID and the
 * query match, and otherwise computes the distance of the index's own
 * operator class.
 *
 * Often nothing reads that value at all: in SELECT id FROM items ORDER BY
 * embedding <-> $1 LIMIT 10 the ORDER BY column is resjunk, the Limit above
 * the scan only counts rows, and the junk filter drops the column before
 * the row is sent.  Then, whatever the index (quantized, vectors out of
 * line, cosine, arrays), the column becomes hnsw._index_order_distance(ctid,
 * index): the value the scan ordered the row by, with no vector read.  See
 * src/README "Scans".
 *
 * Both functions answer only calls the rewrite built (the planner hook's):
 * it marks them with COERCE_SQL_SYNTAX, a form the parser gives only to calls of pg_catalog
 * functions written in the SQL standard's special syntax, so no query,
 * view, operator or cast a user writes can carry it.  A call written by
 * hand is an error: it could otherwise read the distance of a row the
 * caller may not see, through a scan run on someone else's behalf.
 *
 * src/hnswplan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/detoast.h"
#include "access/sysattr.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "bitvec.h"
#include "halfvec.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/plannodes.h"
#include "parser/parse_func.h"
#include "storage/itemptr.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "sparsevec.h"
#include "vector.h"

/*
 * The last heap TID an hnsw scan of this backend returned with an exact
 * distance.  The query is a copy in TopMemoryContext, so the entry never
 * points into a scan's memory.
 */
typedef struct HnswLastDistance
{
	bool		valid;
	bool		exact;			/* distance is the operator's, bit for bit */
	Oid			index;
	ItemPointerData tid;
	double		distance;		/* in the operator's scale */
	uint64		scanId;			/* the scan whose query is copied */
	HnswCode   *query;			/* its code, TopMemoryContext */
	Size		capacity;		/* bytes query has room for */

	/*
	 * A TOAST pointer whose value was found equal to that scan's query: the
	 * same pointer is the same bytes (a TOAST value is never changed in
	 * place), so _index_distance need not read it again for every row.
	 */
	uint64		toastScanId;	/* the scan it was compared for; 0: none */
	struct varatt_external toast;
} HnswLastDistance;

static HnswLastDistance last;

/* What the rewrite needs to know about the target list of one scan */
typedef struct RewriteContext
{
	Expr	   *orderby;		/* the ORDER BY expression to replace */
	Oid			funcid;			/* hnsw._index_distance */
	Index		scanrelid;
	Oid			indexid;
} RewriteContext;

/*
 * Remember that the scan scanId of index returned tid at distance, the
 * index's internal distance of graph's metric, converted to the operator's
 * scale (vector_l2_ops: the square root of the squared distance; cosine:
 * one plus the negative inner product of the unit vectors).  exact says
 * whether that is the operator's own value for query, bit for bit (an f32
 * index, or i8 rows re-ranked with the table's vectors), which
 * _index_distance requires; _index_order_distance takes any.  Called by
 * hnswgettuple for each heap TID it returns.  Memory: the query's copy in
 * TopMemoryContext, reallocated only when it grows.
 */
void
HnswRememberDistance(Oid index, ItemPointer tid, const HnswGraph *graph,
					 float distance, bool exact, uint64 scanId,
					 const HnswCode *query)
{
	switch (graph->metric)
	{
		case HNSW_METRIC_L2:
			last.distance = sqrt((double) distance);
			break;
		case HNSW_METRIC_IP:
			last.distance = graph->normalize ?
				1.0 + (double) distance : (double) distance;
			break;
		case HNSW_METRIC_L1:
		case HNSW_METRIC_HAMMING:
		case HNSW_METRIC_JACCARD:
			last.distance = (double) distance;
			break;
		default:
			last.valid = false;
			return;
	}
	last.exact = exact;
	if (last.scanId != scanId || !last.valid)
	{
		if (last.capacity < VARSIZE(query))
		{
			if (last.query)
				pfree(last.query);
			last.query = MemoryContextAlloc(TopMemoryContext, VARSIZE(query));
			last.capacity = VARSIZE(query);
		}
		memcpy(last.query, query, VARSIZE(query));
		last.scanId = scanId;
	}
	last.index = index;
	last.tid = *tid;
	last.valid = true;
}

/*
 * Forget the last distance: a scan starts, ends, or returned a TID whose
 * distance is not the operator's.
 */
void
HnswForgetDistance(void)
{
	last.valid = false;
}

/* Is indexid an index of the hnsw access method? */
static bool
IsHnswIndex(Oid indexid)
{
	HeapTuple	tp;
	Oid			relam;
	Oid			hnswam = get_index_am_oid("hnsw", true);

	if (!OidIsValid(hnswam))
		return false;
	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(indexid));
	if (!HeapTupleIsValid(tp))
		return false;
	relam = ((Form_pg_class) GETSTRUCT(tp))->relam;
	ReleaseSysCache(tp);
	return relam == hnswam;
}

/*
 * Is fn_addr the function of an operator whose value an hnsw index of its
 * type computes bit for bit (<->, <#>, <+> on vector, halfvec and
 * sparsevec; <~> on bit)?  Jaccard is not: the index rounds it to float.
 */
static bool
IsExactOperatorFunction(PGFunction fn_addr)
{
	return fn_addr == l2_distance ||
		fn_addr == vector_negative_inner_product ||
		fn_addr == l1_distance ||
		fn_addr == halfvec_l2_distance ||
		fn_addr == halfvec_negative_inner_product ||
		fn_addr == halfvec_l1_distance ||
		fn_addr == sparsevec_l2_distance ||
		fn_addr == sparsevec_negative_inner_product ||
		fn_addr == sparsevec_l1_distance ||
		fn_addr == hamming_distance;
}

/*
 * Raise an error unless fcinfo is a call the planner hook built (see the
 * file header): a FuncExpr marked COERCE_SQL_SYNTAX.
 */
static void
CheckHookCall(FunctionCallInfo fcinfo, const char *name)
{
	Node	   *expr = fcinfo->flinfo->fn_expr;

	if (expr == NULL || !IsA(expr, FuncExpr) ||
		((FuncExpr *) expr)->funcformat != COERCE_SQL_SYNTAX)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("function hnsw.%s cannot be called directly", name),
				 errdetail("It is internal to the plans of hnsw index scans.")));
}

/*
 * Set flinfo up to call the distance function of index's operator class:
 * the function of its ORDER BY operator, which must be one whose value an
 * f32 index computes (the only ones the hook replaces).  The index comes
 * from the hook's call, but is checked all the same.  Memory: flinfo's
 * state in mcxt.
 */
static void
IndexOperatorFunction(Oid indexid, FmgrInfo *flinfo, MemoryContext mcxt)
{
	HeapTuple	tp;
	Datum		indclass;
	bool		isnull;
	Oid			opclass;
	Oid			opfamily;
	Oid			opcintype;
	Oid			op;

	tp = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexid));
	if (!HeapTupleIsValid(tp) || !IsHnswIndex(indexid))
		elog(ERROR, "relation %u is not an hnsw index", indexid);
	indclass = SysCacheGetAttr(INDEXRELID, tp, Anum_pg_index_indclass,
							   &isnull);
	Assert(!isnull);
	opclass = ((oidvector *) DatumGetPointer(indclass))->values[0];
	ReleaseSysCache(tp);

	opfamily = get_opclass_family(opclass);
	opcintype = get_opclass_input_type(opclass);
	op = get_opfamily_member(opfamily, opcintype, opcintype,
							 HNSW_DISTANCE_STRATEGY);
	if (!OidIsValid(op))
		elog(ERROR, "hnsw index %u has no distance operator", indexid);
	fmgr_info_cxt(get_opcode(op), flinfo, mcxt);
	if (!IsExactOperatorFunction(flinfo->fn_addr))
		elog(ERROR, "hnsw index %u is not ordered by an exact vector distance",
			 indexid);
}

/*
 * Whether query, _index_distance's query argument, is the query of the
 * scan whose distance is remembered.  A query the executor holds as a
 * pointer to a TOAST value (ORDER BY embedding <-> (SELECT embedding FROM
 * items WHERE id = 1), or a vector from a table in a join) is read and
 * compared once per scan; the rows after the first are answered from its
 * pointer, instead of reading the value from TOAST once per row.
 */
static bool
QueryIsScans(Datum query)
{
	struct varlena *ptr = (struct varlena *) DatumGetPointer(query);
	struct varatt_external toast;
	bool		equal;

	if (!VARATT_IS_EXTERNAL_ONDISK(ptr))
		return HnswCodeEqualsDatum(last.query, query);

	VARATT_EXTERNAL_GET_POINTER(toast, ptr);
	if (last.toastScanId == last.scanId &&
		memcmp(&toast, &last.toast, sizeof(toast)) == 0)
		return true;
	equal = HnswCodeEqualsDatum(last.query, query);
	if (equal)
	{
		last.toast = toast;
		last.toastScanId = last.scanId;
	}
	return equal;
}

/*
 * hnsw._index_distance(column vector, query vector, row tid, index
 * regclass): the distance of index's operator between column and query.
 * When an hnsw scan of index has just returned row with its exact distance
 * to this query, return that distance without reading the column;
 * otherwise compute it.  Only the planner hook's calls are answered (see
 * the file header).  Memory: the operator's FmgrInfo in the call's
 * fn_mcxt, made at the first call.
 */
PG_FUNCTION_INFO_V1(hnsw_index_distance);
Datum
hnsw_index_distance(PG_FUNCTION_ARGS)
{
	ItemPointer tid = (ItemPointer) PG_GETARG_POINTER(2);
	Oid			index = PG_GETARG_OID(3);
	FmgrInfo   *flinfo = (FmgrInfo *) fcinfo->flinfo->fn_extra;

	if (flinfo == NULL)
	{
		CheckHookCall(fcinfo, "_index_distance");
		flinfo = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
		IndexOperatorFunction(index, flinfo, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = flinfo;
	}

	if (last.valid && last.exact && last.index == index &&
		ItemPointerEquals(&last.tid, tid) &&
		QueryIsScans(PG_GETARG_DATUM(1)))
		PG_RETURN_FLOAT8(last.distance);

	PG_RETURN_DATUM(FunctionCall2Coll(flinfo, PG_GET_COLLATION(),
									  PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)));
}

/*
 * hnsw._index_order_distance(row tid, index regclass): the distance by which
 * an hnsw scan of index ordered row, when that scan has just returned it;
 * NULL otherwise.  The planner hook puts calls of it only where nothing
 * reads the value (the resjunk ORDER BY column under a plain LIMIT), so
 * that the executor does not read the row's vector to compute a value it
 * then throws away; it answers no other call (see the file header).  The
 * value may be a quantized index's approximate distance.
 */
PG_FUNCTION_INFO_V1(hnsw_index_order_distance);
Datum
hnsw_index_order_distance(PG_FUNCTION_ARGS)
{
	ItemPointer tid = (ItemPointer) PG_GETARG_POINTER(0);
	Oid			index = PG_GETARG_OID(1);

	if (fcinfo->flinfo->fn_extra == NULL)
	{
		CheckHookCall(fcinfo, "_index_order_distance");
		/* checked once per call site: any non-NULL pointer will do */
		fcinfo->flinfo->fn_extra = fcinfo->flinfo;
	}

	if (last.valid && last.index == index && ItemPointerEquals(&last.tid, tid))
		PG_RETURN_FLOAT8(last.distance);
	PG_RETURN_NULL();
}

/*
 * The functions the hook puts into plans, by HookFunctionId, with the
 * vector type of _index_distance's arguments; InvalidOid until looked up,
 * and again after any change to pg_proc.
 */
typedef enum HookFunctionId
{
	HOOK_INDEX_DISTANCE,		/* hnsw._index_distance */
	HOOK_ORDER_DISTANCE			/* hnsw._index_order_distance */
} HookFunctionId;

static Oid	hook_functions[2];
static Oid	hook_vector_type = InvalidOid;
static bool hook_callback_registered = false;

/* syscache callback: pg_proc changed, look the functions up again */
static void
ForgetHookFunctions(Datum arg, int cacheid, uint32 hashvalue)
{
	hook_functions[HOOK_INDEX_DISTANCE] = InvalidOid;
	hook_functions[HOOK_ORDER_DISTANCE] = InvalidOid;
}

/*
 * Return the OID of the function id (for _index_distance, the one whose
 * vector arguments are of type vectortype), or InvalidOid if this database
 * has none.  Only a member of the hnsw extension counts: a function of the
 * same name in a schema "hnsw" of another origin is never put into a plan.
 */
static Oid
HookFunction(HookFunctionId id, Oid vectortype)
{
	Oid			argtypes[4];
	Oid			funcid;
	Oid			extension;

	if (OidIsValid(hook_functions[id]) &&
		(id != HOOK_INDEX_DISTANCE || vectortype == hook_vector_type))
		return hook_functions[id];
	if (!hook_callback_registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, ForgetHookFunctions, (Datum) 0);
		hook_callback_registered = true;
	}

	extension = get_extension_oid("hnsw", true);
	if (!OidIsValid(extension))
		return InvalidOid;
	if (id == HOOK_INDEX_DISTANCE)
	{
		argtypes[0] = argtypes[1] = vectortype;
		argtypes[2] = TIDOID;
		argtypes[3] = REGCLASSOID;
		funcid = LookupFuncName(list_make2(makeString("hnsw"),
										   makeString("_index_distance")),
								4, argtypes, true);
	}
	else
	{
		argtypes[0] = TIDOID;
		argtypes[1] = REGCLASSOID;
		funcid = LookupFuncName(list_make2(makeString("hnsw"),
										   makeString("_index_order_distance")),
								2, argtypes, true);
	}
	if (!OidIsValid(funcid) ||
		getExtensionOfObject(ProcedureRelationId, funcid) != extension)
		return InvalidOid;
	hook_functions[id] = funcid;
	if (id == HOOK_INDEX_DISTANCE)
		hook_vector_type = vectortype;
	return funcid;
}

/* Replace every occurrence of the ORDER BY expression */
static Node *
RewriteMutator(Node *node, RewriteContext *context)
{
	if (node == NULL)
		return NULL;
	if (equal(node, context->orderby))
	{
		OpExpr	   *op = (OpExpr *) context->orderby;
		Var		   *ctid = makeVar(context->scanrelid,
								   SelfItemPointerAttributeNumber,
								   TIDOID, -1, InvalidOid, 0);
		List	   *args;

		args = list_make4(copyObject(linitial(op->args)),
						  copyObject(lsecond(op->args)),
						  ctid,
						  makeConst(REGCLASSOID, -1, InvalidOid, sizeof(Oid),
									ObjectIdGetDatum(context->indexid),
									false, true));
		/* COERCE_SQL_SYNTAX: the hook's mark (see the file header) */
		return (Node *) makeFuncExpr(context->funcid, FLOAT8OID, args,
									 InvalidOid, op->inputcollid,
									 COERCE_SQL_SYNTAX);
	}
	return expression_tree_mutator(node, RewriteMutator, (void *) context);
}

/*
 * Replace, in the target list of an hnsw index scan whose ORDER BY column
 * nothing reads (see UnreadOrderScan), the resjunk entries that are the
 * ORDER BY expression op by hnsw._index_order_distance(ctid, index).  An
 * entry that is not resjunk (the query selects the distance), here or in
 * toptlist (the target list of a Limit above, if any), is left alone.
 * Memory: the new expressions in the current (planner's) context.
 */
static void
ReplaceUnreadOrderBy(IndexScan *scan, OpExpr *op, List *toptlist)
{
	Oid			funcid = HookFunction(HOOK_ORDER_DISTANCE, InvalidOid);
	ListCell   *lc;

	if (!OidIsValid(funcid) || exprType((Node *) op) != FLOAT8OID)
		return;
	foreach(lc, scan->scan.plan.targetlist)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (!tle->resjunk || !equal(tle->expr, op))
			continue;
		/* a Limit above: its column must be junk too (it labels the output) */
		if (toptlist != NIL &&
			(tle->resno > list_length(toptlist) ||
			 !list_nth_node(TargetEntry, toptlist, tle->resno - 1)->resjunk))
			continue;
		tle->expr = (Expr *)
			makeFuncExpr(funcid, FLOAT8OID,
						 list_make2(makeVar(scan->scan.scanrelid,
											SelfItemPointerAttributeNumber,
											TIDOID, -1, InvalidOid, 0),
									makeConst(REGCLASSOID, -1, InvalidOid,
											  sizeof(Oid),
											  ObjectIdGetDatum(scan->indexid),
											  false, true)),
						 InvalidOid, InvalidOid, COERCE_SQL_SYNTAX);
	}
}

/*
 * Return the index scan of stmt whose resjunk target list entries nothing
 * reads, or NULL: a SELECT whose plan is an Index Scan, alone or under a
 * Limit without WITH TIES (which compares the ORDER BY values of the last
 * rows).  The junk filter drops resjunk columns before rows leave the
 * executor, so nobody sees them; any other node above the scan (a Sort, a
 * MergeAppend, a Unique, a join, a LockRows) might read them.
 */
static IndexScan *
UnreadOrderScan(PlannedStmt *stmt)
{
	Plan	   *plan = stmt->planTree;

	if (stmt->commandType != CMD_SELECT || stmt->rowMarks != NIL ||
		plan == NULL)
		return NULL;
	if (IsA(plan, Limit))
	{
		if (((Limit *) plan)->limitOption == LIMIT_OPTION_WITH_TIES)
			return NULL;
		plan = plan->lefttree;
	}
	if (plan == NULL || !IsA(plan, IndexScan))
		return NULL;
	return (IndexScan *) plan;
}

/*
 * If scan is an hnsw index scan ordered by a vector operator whose distance
 * the index computes exactly, rewrite its target list (see the file
 * header).  Memory: the new expressions in the current (planner's) context.
 */
static void
RewriteIndexScan(IndexScan *scan, bool orderUnread, List *toptlist)
{
	OpExpr	   *op;
	FmgrInfo	finfo;
	Oid			funcid;
	RewriteContext context;

	if (list_length(scan->indexorderbyorig) != 1 ||
		!IsA(linitial(scan->indexorderbyorig), OpExpr))
		return;
	op = (OpExpr *) linitial(scan->indexorderbyorig);
	/*
	 * The column may be an expression (an expression index, such as
	 * pgvector's embedding::halfvec(3)): the planner matched it to the
	 * index's, so the scan's distances are to its values all the same.
	 */
	if (list_length(op->args) != 2 || !IsHnswIndex(scan->indexid))
		return;

	if (orderUnread)
		ReplaceUnreadOrderBy(scan, op, toptlist);

	fmgr_info(op->opfuncid, &finfo);
	if (!IsExactOperatorFunction(finfo.fn_addr))
		return;
	if (exprType(lsecond(op->args)) != exprType(linitial(op->args)))
		return;
	funcid = HookFunction(HOOK_INDEX_DISTANCE, exprType(linitial(op->args)));
	if (!OidIsValid(funcid))
		return;

	context.orderby = (Expr *) op;
	context.funcid = funcid;
	context.scanrelid = scan->scan.scanrelid;
	context.indexid = scan->indexid;
	scan->scan.plan.targetlist = (List *)
		RewriteMutator((Node *) scan->scan.plan.targetlist, &context);
	/* a filter on the distance is evaluated for the same row, first */
	scan->scan.plan.qual = (List *)
		RewriteMutator((Node *) scan->scan.plan.qual, &context);
}

/*
 * Visit every plan node under plan.  unread is the index scan whose ORDER BY
 * column nothing reads (UnreadOrderScan), if any; toptlist the target list
 * of the Limit above it (NIL if none).
 */
static void
RewritePlanTree(Plan *plan, IndexScan *unread, List *toptlist)
{
	ListCell   *lc;

	if (plan == NULL)
		return;
	check_stack_depth();

	switch (nodeTag(plan))
	{
		case T_IndexScan:
			RewriteIndexScan((IndexScan *) plan, plan == (Plan *) unread,
							 toptlist);
			break;
		case T_Append:
			foreach(lc, ((Append *) plan)->appendplans)
				RewritePlanTree((Plan *) lfirst(lc), NULL, NIL);
			break;
		case T_MergeAppend:
			foreach(lc, ((MergeAppend *) plan)->mergeplans)
				RewritePlanTree((Plan *) lfirst(lc), NULL, NIL);
			break;
		case T_SubqueryScan:
			RewritePlanTree(((SubqueryScan *) plan)->subplan, NULL, NIL);
			break;
		case T_CustomScan:
			foreach(lc, ((CustomScan *) plan)->custom_plans)
				RewritePlanTree((Plan *) lfirst(lc), NULL, NIL);
			break;
		default:
			break;
	}
	RewritePlanTree(plan->lefttree, unread, toptlist);
	RewritePlanTree(plan->righttree, NULL, NIL);
}

/*
 * Rewrite the target lists of the hnsw index scans in a planned statement,
 * its subplans included (see the file header).  Called by the planner hook
 * (module.c) on every statement it planned.  Memory: the new expressions
 * in the current (planner's) context.
 */
void
HnswRewritePlan(PlannedStmt *stmt)
{
	IndexScan  *unread;
	ListCell   *lc;

	unread = UnreadOrderScan(stmt);
	RewritePlanTree(stmt->planTree, unread,
					unread != NULL && (Plan *) unread != stmt->planTree ?
					stmt->planTree->targetlist : NIL);
	foreach(lc, stmt->subplans)
		RewritePlanTree((Plan *) lfirst(lc), NULL, NIL);
}
