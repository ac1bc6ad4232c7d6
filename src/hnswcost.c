/*-------------------------------------------------------------------------
 *
 * hnswcost.c
 *	  amcostestimate for hnsw.
 *
 * An hnsw scan does all its work before the first row: a search that
 * computes distances to roughly ef_search * 2m elements.  The estimate
 * charges that as startup cost, so the planner picks the index for
 * ORDER BY distance LIMIT k, and makes a scan without ORDER BY prohibitive,
 * since the index cannot answer one.
 *
 * src/hnswcost.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "hnsw.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "utils/selfuncs.h"

/*
 * Estimate the cost of an hnsw index scan.
 */
void
hnswcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				 Cost *indexStartupCost, Cost *indexTotalCost,
				 Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages)
{
	GenericCosts costs;
	IndexOptInfo *index = path->indexinfo;
	double		tuples = Max(index->tuples, 1);
	double		visited;
	Relation	indexRel;
	int			m;

	/* no ORDER BY: the index cannot help */
	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = disable_cost;
		*indexTotalCost = disable_cost;
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	/* the planner holds a lock on the index already */
	indexRel = index_open(index->indexoid, NoLock);
	m = HnswGetM(indexRel);
	index_close(indexRel, NoLock);

	/*
	 * Elements whose distance a search computes: about 2m per expanded
	 * candidate on level 0, ef_search candidates, plus the descent.
	 */
	visited = (hnsw_ef_search + log(tuples)) * 2 * m;
	visited = Min(visited, tuples);

	MemSet(&costs, 0, sizeof(costs));
	costs.numIndexTuples = visited;
	genericcostestimate(root, path, loop_count, &costs);

	/* every distance is a real computation, not just a tuple fetch */
	costs.indexStartupCost = costs.indexTotalCost +
		visited * cpu_operator_cost;

	*indexStartupCost = costs.indexStartupCost;
	*indexTotalCost = costs.indexStartupCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}
