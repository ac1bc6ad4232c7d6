/*-------------------------------------------------------------------------
 *
 * coordplan.c
 *	  Column pruning for hnsw.search and hnsw.search_batch: ask the shards
 *	  only for the columns the query uses.
 *
 * hnsw.search returns rows typed like the distributed table, so by itself
 * it must fetch every column of the k nearest rows of every shard; for
 * Fashion-MNIST that is a 784-dimensional vector per row, detoasted on the
 * shard and shipped to the coordinator, when the caller only reads "id".
 * postgres_fdw avoids the same waste for foreign scans because the planner
 * tells it which columns are needed.  A function scan gets no such help,
 * so before planning we look at the query ourselves.
 *
 * For each range-table entry that is a call of hnsw.search (or
 * hnsw.search_batch) as its only function, we collect the table columns
 * the query can reference: Vars of that entry, at the entry's query level,
 * anywhere in the query including sublinks, LATERAL subqueries and join
 * alias lists.  For search_batch the row is the composite column "item";
 * a field selection (item).col uses one column, any other use of "item"
 * uses all.  A whole-row reference uses all.  Unless every column is used
 * (SELECT *), the call is then replaced by the same call of
 * hnsw._search_columns (hnsw._<function>_columns for each of search_batch,
 * search_sparse, search_sparse_batch), which takes the used columns'
 * numbers as one more argument; its other columns
 * come back NULL, which the query cannot observe because it does not
 * reference them.
 *
 * Calls the rewrite does not see stay correct and fetch everything: a call
 * in a target list, ROWS FROM with several functions, a SQL function
 * inlined by the planner, and statements planned before this library was
 * loaded in the backend (see session_preload_libraries in the README).
 *
 * src/coordplan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "coord.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

/* the number of arguments of hnsw.search and hnsw.search_batch */
#define SEARCH_NARGS 9

/* The column of search_batch's result that holds the table row */
#define BATCH_ITEM_ATTNO 2

/* What the walk of one query level collects about one range-table entry */
typedef struct ColumnUses
{
	Index		rtindex;		/* the function's range-table entry */
	int			sublevels_up;	/* how far below its query we are */
	bool		batch;			/* search_batch: columns are fields of item */
	bool		all;			/* a use we cannot narrow to columns */
	Bitmapset  *attrs;			/* table columns used */
} ColumnUses;

static bool FindSearchCalls(Node *node, void *context);
static void PruneQueryLevel(Query *query);
static bool CollectUses(Node *node, ColumnUses *uses);
static bool IsUseOf(Var *var, ColumnUses *uses);

/*
 * Rewrite every hnsw.search and hnsw.search_batch call in parse's range
 * tables (at any depth) to fetch only the columns parse uses.  Called by
 * the planner hook before planning; parse is the planner's to modify.
 * Memory: new nodes in the current (planner's) context.
 */
void
CoordPruneSearchColumns(Query *parse)
{
	(void) FindSearchCalls((Node *) parse, NULL);
}

/* Visit every Query in the tree under node */
static bool
FindSearchCalls(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		check_stack_depth();
		PruneQueryLevel((Query *) node);
		return query_tree_walker((Query *) node, FindSearchCalls, context, 0);
	}
	return expression_tree_walker(node, FindSearchCalls, context);
}

/*
 * Rewrite the search calls in query's own range table.
 */
static void
PruneQueryLevel(Query *query)
{
	ListCell   *lc;

	foreach(lc, query->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		RangeTblFunction *rtfunc;
		FuncExpr   *call;
		FmgrInfo	finfo;
		ColumnUses	uses;
		HeapTuple	proctup;
		Oid		   *argtypes;
		Oid			variant;
		Oid			rowtype;
		TupleDesc	rowdesc;
		int			nargs;
		int			natts;
		int			n;
		int			unused;
		int			attno;
		Datum	   *elems;
		List	   *args;

		if (rte->rtekind != RTE_FUNCTION || list_length(rte->functions) != 1)
			continue;
		rtfunc = linitial(rte->functions);
		if (!IsA(rtfunc->funcexpr, FuncExpr))
			continue;
		call = (FuncExpr *) rtfunc->funcexpr;
		proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(call->funcid));
		if (!HeapTupleIsValid(proctup))
			elog(ERROR, "cache lookup failed for function %u", call->funcid);
		if (((Form_pg_proc) GETSTRUCT(proctup))->prolang != ClanguageId)
		{
			ReleaseSysCache(proctup);
			continue;
		}
		fmgr_info(call->funcid, &finfo);
		if ((finfo.fn_addr != hnsw_search && finfo.fn_addr != hnsw_search_batch) ||
			finfo.fn_nargs != SEARCH_NARGS)
		{
			ReleaseSysCache(proctup);
			continue;
		}

		/* positional arguments with defaults */
		args = expand_function_arguments(copyObject(call->args), false,
										 call->funcresulttype, proctup);
		ReleaseSysCache(proctup);

		/* the table whose columns the rows have */
		rowtype = exprType(linitial(args));
		if (!OidIsValid(get_typ_typrelid(rowtype)))
			continue;

		/* which of them the query uses */
		memset(&uses, 0, sizeof(uses));
		uses.rtindex = foreach_current_index(lc) + 1;
		uses.batch = (finfo.fn_addr == hnsw_search_batch);
		(void) query_tree_walker(query, CollectUses, &uses, 0);
		if (uses.all)
			continue;

		/* their numbers; none to prune when it uses every column */
		rowdesc = lookup_rowtype_tupdesc(rowtype, -1);
		natts = rowdesc->natts;
		elems = palloc(sizeof(Datum) * (natts + 1));
		n = 0;
		unused = 0;
		for (attno = 1; attno <= natts; attno++)
		{
			if (bms_is_member(attno, uses.attrs))
				elems[n++] = Int16GetDatum((int16) attno);
			else if (!TupleDescAttr(rowdesc, attno - 1)->attisdropped)
				unused++;
		}
		ReleaseTupleDesc(rowdesc);
		if (unused == 0)
			continue;

		/* the variant that takes them, in the function's own schema */
		(void) get_func_signature(call->funcid, &argtypes, &nargs);
		argtypes = repalloc(argtypes, sizeof(Oid) * (nargs + 1));
		argtypes[nargs] = INT2ARRAYOID;
		variant = LookupFuncName(list_make2(makeString(get_namespace_name(get_func_namespace(call->funcid))),
											makeString(psprintf("_%s_columns",
																get_func_name(call->funcid)))),
								 nargs + 1, argtypes, true);
		if (!OidIsValid(variant))
			continue;

		/* the column numbers, as one more argument */
		args = lappend(args,
					   makeConst(INT2ARRAYOID, -1, InvalidOid, -1,
								 PointerGetDatum(construct_array(elems, n, INT2OID,
																 sizeof(int16), true,
																 TYPALIGN_SHORT)),
								 false, false));

		rtfunc->funcexpr = (Node *) makeFuncExpr(variant, call->funcresulttype,
												 args, call->funccollid,
												 call->inputcollid,
												 COERCE_EXPLICIT_CALL);
		((FuncExpr *) rtfunc->funcexpr)->funcretset = true;
		((FuncExpr *) rtfunc->funcexpr)->location = call->location;
	}
}

/*
 * Is var a reference to the entry uses describes, from where the walk is?
 */
static bool
IsUseOf(Var *var, ColumnUses *uses)
{
	return var->varno == (int) uses->rtindex &&
		var->varlevelsup == (Index) uses->sublevels_up;
}

/*
 * Walker: add to uses the table columns node references through the
 * range-table entry uses describes.  Sub-Queries are one level further down.
 */
static bool
CollectUses(Node *node, ColumnUses *uses)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		if (!IsUseOf(var, uses))
			return false;
		if (var->varattno == InvalidAttrNumber)
			uses->all = true;	/* the whole row */
		else if (uses->batch)
		{
			/* query ordinal and ordinality are not table columns */
			if (var->varattno == BATCH_ITEM_ATTNO)
				uses->all = true;
		}
		else if (var->varattno < 0)
			uses->all = true;	/* no system columns, but be safe */
		else
			uses->attrs = bms_add_member(uses->attrs, var->varattno);
		return false;
	}
	if (IsA(node, FieldSelect) && uses->batch)
	{
		FieldSelect *fs = (FieldSelect *) node;

		if (IsA(fs->arg, Var) && IsUseOf((Var *) fs->arg, uses) &&
			((Var *) fs->arg)->varattno == BATCH_ITEM_ATTNO)
		{
			uses->attrs = bms_add_member(uses->attrs, fs->fieldnum);
			return false;
		}
	}
	if (IsA(node, Query))
	{
		bool		result;

		uses->sublevels_up++;
		result = query_tree_walker((Query *) node, CollectUses, uses, 0);
		uses->sublevels_up--;
		return result;
	}
	return expression_tree_walker(node, CollectUses, uses);
}
