/*-------------------------------------------------------------------------
 *
 * coordfilter.c
 *	  The filter argument of the coordinator's searches: a boolean SQL
 *	  expression over the distributed table's columns that every shard
 *	  applies before choosing its k nearest, so the merge of the shards'
 *	  answers is the global k nearest rows that pass it.
 *
 * The filter comes from the caller as text and is sent to the shards as
 * text, so it is never sent as it was given: it is parsed here as one
 * expression (a statement, a FROM clause or a second statement is an
 * error, as is anything but an expression), analysed against the table
 * with search_path set to pg_catalog alone, checked to be shippable, and
 * written out again by PostgreSQL's own deparser (ruleutils).  Shippable
 * means: columns of the table (whose names on every shard are the local
 * ones), constants, and operators, functions and types that are built in
 * (so they mean the same on a shard of the same major version) and
 * immutable (so the answer does not depend on the shard's settings or
 * time); no sublinks, aggregates, window functions, parameters or
 * set-returning functions.  The caller needs SELECT on the columns it
 * names (coordsearch.c adds them to what CoordCheckRead checks).
 *
 * src/coordfilter.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/transam.h"
#include "catalog/pg_type.h"
#include "coord.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

typedef struct FilterWalk
{
	Bitmapset  *attnums;		/* the table's columns the filter reads */
	const char *bad;			/* why it cannot be shipped, or NULL */
} FilterWalk;

static Node *ParseFilter(const char *sql, const char *filter);
static void FilterErrorCallback(void *arg);

/* The filter is parsed as the target of this */
#define FILTER_PREFIX "SELECT "
static bool ShippableWalker(Node *node, FilterWalk *walk);
static bool BuiltinFunction(Oid funcid, void *context);

/*
 * Return the filter, as SQL text a shard can run in the WHERE clause of a
 * query on its table (column names unqualified), and add the numbers of
 * the columns it reads to *attnums.  Errors for a filter that is not one
 * shippable boolean expression over the table's columns.  The caller holds
 * a lock on the table.  Memory: the current context.
 */
char *
CoordFilterSQL(CoordTable *table, const char *filter, Bitmapset **attnums)
{
	int			nestlevel = NewGUCNestLevel();
	ParseState *pstate;
	Relation	rel;
	ParseNamespaceItem *nsitem;
	Node	   *expr;
	FilterWalk	walk = {NULL, NULL};
	ErrorContextCallback errcallback;
	char	   *sql;
	int			attno;

	/* names resolve in pg_catalog alone: no schema of the caller's */
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	/* errors point into the filter, not into the caller's statement */
	errcallback.callback = FilterErrorCallback;
	errcallback.arg = (void *) filter;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	pstate = make_parsestate(NULL);
	pstate->p_sourcetext = psprintf(FILTER_PREFIX "%s", filter);
	rel = table_open(table->relid, AccessShareLock);
	nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock,
										   NULL, false, false);
	addNSItemToQuery(pstate, nsitem, false, true, true);
	expr = transformExpr(pstate, ParseFilter(pstate->p_sourcetext, filter),
						 EXPR_KIND_WHERE);
	expr = coerce_to_boolean(pstate, expr, "filter");
	assign_expr_collations(pstate, expr);
	table_close(rel, NoLock);
	error_context_stack = errcallback.previous;

	(void) ShippableWalker(expr, &walk);
	if (walk.bad == NULL && contain_mutable_functions(expr))
		walk.bad = "functions or operators that are not immutable";
	if (walk.bad != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("filter of a distributed search cannot use %s", walk.bad),
				 errhint("A filter is an expression over the table's columns with built-in, immutable operators and functions.")));

	/* the shards' columns must have the names the deparsed filter uses */
	attno = -1;
	while ((attno = bms_next_member(walk.attnums, attno)) >= 0)
	{
		const char *local = quote_identifier(NameStr(TupleDescAttr(table->tupdesc, attno - 1)->attname));
		ListCell   *lc;
		ListCell   *lc2;

		foreach(lc, table->shards)
		{
			foreach(lc2, ((CoordShard *) lfirst(lc))->parts)
			{
				CoordPart  *part = lfirst(lc2);

				if (part->remote_cols[attno - 1] == NULL ||
					strcmp(part->remote_cols[attno - 1], local) != 0)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("filter of a distributed search cannot use column %s: partition \"%s\" names it %s",
									local, part->relname,
									part->remote_cols[attno - 1] ?
									part->remote_cols[attno - 1] : "nothing")));
			}
		}
	}

	sql = deparse_expression(expr,
							 deparse_context_for(table->relname, table->relid),
							 false, false);
	AtEOXact_GUC(true, nestlevel);
	*attnums = bms_union(*attnums, walk.attnums);
	return sql;
}

/*
 * Parse the filter as exactly one expression: sql, FILTER_PREFIX and the
 * filter, must be one plain SELECT of one unnamed target and nothing else.
 */
static Node *
ParseFilter(const char *sql, const char *filter)
{
	List	   *raw;
	SelectStmt *stmt;
	ResTarget  *target;

	raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	if (list_length(raw) == 1)
	{
		stmt = (SelectStmt *) linitial_node(RawStmt, raw)->stmt;
		if (IsA(stmt, SelectStmt) && stmt->op == SETOP_NONE &&
			list_length(stmt->targetList) == 1 &&
			stmt->distinctClause == NIL && stmt->intoClause == NULL &&
			stmt->fromClause == NIL && stmt->whereClause == NULL &&
			stmt->groupClause == NIL && stmt->havingClause == NULL &&
			stmt->windowClause == NIL && stmt->valuesLists == NIL &&
			stmt->sortClause == NIL && stmt->limitOffset == NULL &&
			stmt->limitCount == NULL && stmt->lockingClause == NIL &&
			stmt->withClause == NULL)
		{
			target = linitial_node(ResTarget, stmt->targetList);
			if (target->name == NULL && !IsA(target->val, A_Star) &&
				!(IsA(target->val, ColumnRef) &&
				  IsA(llast(((ColumnRef *) target->val)->fields), A_Star)))
				return target->val;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("filter must be one expression, not \"%s\"", filter),
			 errhint("Write a WHERE condition on the table's columns, as in label = 3.")));
	return NULL;				/* keep compiler quiet */
}

/*
 * Collect the columns an analysed filter reads into walk->attnums, and set
 * walk->bad to what makes it unshippable, if anything does.
 */
static bool
ShippableWalker(Node *node, FilterWalk *walk)
{
	if (node == NULL || walk->bad != NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_Var:
			{
				Var		   *var = (Var *) node;

				if (var->varlevelsup != 0 || var->varattno <= 0)
				{
					walk->bad = "system columns or whole rows";
					return false;
				}
				walk->attnums = bms_add_member(walk->attnums, var->varattno);
				break;
			}
		case T_Const:
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
		case T_ScalarArrayOpExpr:
		case T_FuncExpr:
		case T_BoolExpr:
		case T_NullTest:
		case T_BooleanTest:
		case T_RelabelType:
		case T_CoerceViaIO:
		case T_ArrayCoerceExpr:
		case T_ArrayExpr:
		case T_CaseExpr:
		case T_CaseWhen:
		case T_CaseTestExpr:
		case T_CoalesceExpr:
		case T_MinMaxExpr:
		case T_CollateExpr:
		case T_List:
			break;
		default:
			walk->bad = "subqueries, parameters, aggregates or this kind of expression";
			return false;
	}
	if (!IsA(node, List) && !IsA(node, CaseWhen) &&
		exprType(node) >= FirstGenbkiObjectId)
	{
		walk->bad = "types that are not built in";
		return false;
	}
	if (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcretset)
	{
		walk->bad = "set-returning functions";
		return false;
	}
	if (check_functions_in_node(node, BuiltinFunction, NULL))
	{
		walk->bad = "functions or operators that are not built in";
		return false;
	}
	return expression_tree_walker(node, ShippableWalker, walk);
}

/* check_functions_in_node callback: is the function not built in? */
static bool
BuiltinFunction(Oid funcid, void *context)
{
	return funcid >= FirstGenbkiObjectId;
}

/*
 * Error context while the filter is parsed and analysed: a position is
 * reported within the filter (as an internal query), since the caller's
 * statement holds the filter as a string literal, not as SQL.
 */
static void
FilterErrorCallback(void *arg)
{
	int			pos = geterrposition();

	if (pos > 0)
	{
		errposition(0);
		internalerrposition(Max(pos - (int) strlen(FILTER_PREFIX), 1));
		internalerrquery((const char *) arg);
	}
	errcontext("filter of a distributed search");
}
