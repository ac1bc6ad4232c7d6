/*-------------------------------------------------------------------------
 *
 * module.c
 *	  The library's entry point: _PG_init and the one planner hook, which
 *	  hand each layer its part (hnsw.c and hnswplan.c for the index,
 *	  coordguc.c and coordplan.c for the coordinator); and
 *	  hnsw.distance_kernels.
 *
 * The planner hook does two things, each in its layer's file:
 *
 *	- before planning, the coordinator narrows hnsw.search and
 *	  hnsw.search_batch calls in the query to the columns it uses
 *	  (CoordPruneSearchColumns, coordplan.c);
 *	- after planning, the index puts hnsw._index_distance and
 *	  hnsw._index_order_distance into the target lists of hnsw index scans
 *	  (HnswRewritePlan, hnswplan.c).
 *
 * Neither layer installs a hook of its own, so they cannot be chained in
 * the wrong order.  What keeps the hook safe is theirs too: the calls
 * hnswplan.c builds carry a mark no SQL can (COERCE_SQL_SYNTAX) and name
 * only functions that are members of the hnsw extension; coordplan.c
 * replaces only calls of our own C functions, by the variant in their
 * own schema.
 *
 * src/module.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "coord.h"
#include "distance.h"
#include "fmgr.h"
#include "hnsw.h"
#include "optimizer/planner.h"
#include "utils/builtins.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static planner_hook_type prev_planner_hook = NULL;

/*
 * planner_hook: narrow hnsw.search calls to the columns the query uses,
 * plan as usual (or as the hook installed before ours does), then rewrite
 * the target lists of the plan's hnsw index scans.  parse is the planner's
 * to modify.
 */
static PlannedStmt *
HnswPlanner(Query *parse, const char *query_string, int cursorOptions,
			ParamListInfo boundParams)
{
	PlannedStmt *stmt;

	CoordPruneSearchColumns(parse);

	if (prev_planner_hook)
		stmt = prev_planner_hook(parse, query_string, cursorOptions,
								 boundParams);
	else
		stmt = standard_planner(parse, query_string, cursorOptions,
								boundParams);

	HnswRewritePlan(stmt);
	return stmt;
}

/*
 * Choose the distance kernels for this CPU, register the settings of the
 * index and of the coordinator, and install the planner hook.  Runs once
 * per backend, when the library is first loaded.
 */
void
_PG_init(void)
{
	DistanceInit();
	HnswInit();
	CoordInit();
	MarkGUCPrefixReserved("hnsw");

	prev_planner_hook = planner_hook;
	planner_hook = HnswPlanner;
}

/*
 * hnsw.distance_kernels(): the distance kernel set this backend chose in
 * _PG_init ("scalar", "avx2" or "avx512"), for README.md "Distance
 * kernels" and the tests.
 */
PG_FUNCTION_INFO_V1(hnsw_distance_kernels);
Datum
hnsw_distance_kernels(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(distance_kernels->name));
}
