/*-------------------------------------------------------------------------
 *
 * hnswcost.c
 *	  amcostestimate for hnsw.
 *
 * An hnsw scan does its work before the first row: a search that computes
 * distances to roughly ef_search * 2m elements.  The estimate charges that
 * as startup cost, so the planner picks the index for ORDER BY distance
 * LIMIT k, and makes a scan without ORDER BY prohibitive, since the index
 * cannot answer one.  Rows past the first search's cost the further batches
 * that find them, so a filter that passes few rows makes the scan costly
 * and the planner sorts the rows of another scan instead, unless the
 * conditions are on the index's filter column and the scan walks through
 * the rows that pass.
 *
 * src/hnswcost.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/heaptoast.h"
#include "hnsw.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"

/*
 * A walk through the elements that pass a filter takes about this many
 * times an unfiltered search (Fashion-MNIST, ef_search 40: 0.42 to 0.57 of
 * the unfiltered QPS at 3% to 10% of the rows; test/bench/HISTORY.md,
 * 2026-12-07).
 */
#define HNSW_FILTERED_WALK_COST	2.5

/*
 * The cost of evaluating the ORDER BY expression once, which includes the
 * declared cost of the distance function (see the SQL script).
 */
static Cost
OrderByCost(PlannerInfo *root, IndexPath *path)
{
	QualCost	cost;

	cost_qual_eval_node(&cost, (Node *) linitial(path->indexorderbys), root);
	return cost.per_tuple;
}

/*
 * For an index that keeps its vectors out of line (src/README "Vectors out
 * of line"), return the fraction of its pages that hold the graph, which is
 * all a search reads, and set *rerankPages to the pages the re-ranking of
 * one candidate reads (its element and its chunks).  Otherwise return 1 and
 * set *rerankPages to 0.  *dim receives the dimensions (0 if unknown).
 * Reads the metapage (share lock).
 */
static double
GraphPageFraction(Relation index, double *rerankPages, int *dim)
{
	HnswMetaPageData meta;
	double		graphBytes;
	double		vectorBytes;

	*rerankPages = 0;
	*dim = 0;
	if (RelationGetNumberOfBlocks(index) == 0)
		return 1.0;
	HnswReadMeta(index, &meta);
	*dim = meta.dimensions;
	if (meta.dimensions == 0 || meta.codeKind == meta.exactKind)
		return 1.0;
	graphBytes = HNSW_ELEMENT_TUPLE_SIZE(meta.dimensions, meta.codeKind,
										 0, meta.m) + HNSW_VECTOR_LINK_SIZE;
	vectorBytes = HNSW_CODE_SIZE(meta.dimensions, meta.exactKind);
	*rerankPages = 1 + ceil(vectorBytes / HNSW_MAX_TUPLE_SIZE);
	return graphBytes / (graphBytes + vectorBytes);
}

/*
 * Correct what genericcostestimate charged for the pages of a search in
 * costs: a search of an index with vectors out of line reads only the
 * graph's share of them (graphFraction) and then the candidates' vectors
 * (rerankPages each); a cached index is read as if sequentially; and a
 * sequential scan's uncharged TOAST reads of vectors of dim dimensions are
 * taken off.
 */
static void
ChargePages(GenericCosts *costs, IndexOptInfo *index, double tuples,
			double graphFraction, double rerankPages, int dim)
{
	double		randomPageCost;
	double		seqPageCost;

	/*
	 * genericcostestimate charged every page a search touches as a random
	 * read.  A graph index is only fast when it is cached, and one search
	 * reads the same upper-level pages as the last, so while the index fits
	 * in effective_cache_size charge its pages as sequential reads instead.
	 */
	get_tablespace_page_costs(index->reltablespace,
							  &randomPageCost, &seqPageCost);

	/*
	 * Vectors out of line: a search reads only the graph's share of the
	 * pages, then re-ranks ef_search candidates, reading each one's element
	 * and vector.
	 */
	if (graphFraction < 1.0)
	{
		double		searched = ceil(costs->numIndexPages * graphFraction);
		double		reranked = Min(hnsw_ef_search, tuples) * rerankPages;

		costs->indexTotalCost += (searched + reranked - costs->numIndexPages) *
			randomPageCost;
		costs->numIndexPages = searched + reranked;
	}

	if (index->pages <= effective_cache_size)
		costs->indexTotalCost -= costs->numIndexPages *
			(randomPageCost - seqPageCost);

	/*
	 * Vectors past TOAST_TUPLE_THRESHOLD (about 500 dimensions) are out of
	 * line in the table, and a sequential scan reads every row's TOAST
	 * pages, which the planner does not charge it (it charges the main fork
	 * only).  Take as many sequential page reads off ours, down to none:
	 * otherwise the planner prefers a sequential scan that is a hundred
	 * times slower (20,000 rows of 3,072 dimensions at ef_search 100: 3,400
	 * of our pages charged against 30,000 uncharged TOAST pages).
	 */
	if (VECTOR_SIZE(dim) > TOAST_TUPLE_THRESHOLD)
		costs->indexTotalCost -=
			Min(costs->numIndexPages,
				tuples * ceil((double) VECTOR_SIZE(dim) / TOAST_MAX_CHUNK_SIZE) *
				TOAST_MAX_CHUNK_SIZE / BLCKSZ) * seqPageCost;
}

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
	double		perRow;
	double		passing;		/* rows the scan goes through */
	Cost		perElement;
	Relation	indexRel;
	int			m;
	double		graphFraction;
	double		rerankPages;
	int			dim;

	/* no ORDER BY: the index cannot help */
	if (path->indexorderbys == NIL)
	{
		/*
		 * Not disable_cost: with enable_seqscan = off a sequential scan
		 * costs that much too, and the planner could pick an index scan
		 * that can only fail.  Infinity loses to every other path.
		 */
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	/* the planner holds a lock on the index already */
	indexRel = index_open(index->indexoid, NoLock);
	m = HnswGetM(indexRel);
	graphFraction = GraphPageFraction(indexRel, &rerankPages, &dim);
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
	ChargePages(&costs, index, tuples, graphFraction, rerankPages, dim);

	/* every visited element costs a distance: the operator's own cost */
	perElement = OrderByCost(root, path) + cpu_index_tuple_cost;
	costs.indexStartupCost = costs.indexTotalCost + visited * perElement;

	/*
	 * Returning more rows than the first search found means searching on
	 * (hnswscan.c NextBatch): a filter that rejects rows makes the executor
	 * ask for about k / selectivity of them for LIMIT k.  Each further row
	 * is charged half of what a row of the first search is, which puts the
	 * planner's choice where the fastest plan changes (src/README "Scans";
	 * a sorted scan's detoasting is not charged either).  The planner
	 * charges ORDER BY ... LIMIT k the fraction k / (rows passing the
	 * filter) of the run cost, so the cost of a filtered scan grows as its
	 * selectivity falls, and below a few percent a bitmap scan of a btree
	 * index or a sequential scan, followed by an exact sort, wins; without
	 * LIMIT (every row, exactly in order) a sorted sequential scan always
	 * does.  See
	 * README.md "Filtered search".
	 */
	passing = tuples;
	if (path->indexclauses != NIL &&
		(HnswScatteredWalkPays(costs.indexSelectivity, m) ||
		 HnswSeededWalkPays(costs.indexSelectivity, m)))
	{
		/*
		 * Conditions on the filter column that the scan walks through the
		 * passing elements for (hnswscan.c FilteredEntries; a correlated
		 * filter of more rows does too, but the planner cannot tell): every
		 * row it returns passes, so the executor asks for k of them, and
		 * the walk costs HNSW_FILTERED_WALK_COST times an unfiltered one
		 * (stepping over failing neighbours reads them).
		 */
		costs.indexStartupCost *= HNSW_FILTERED_WALK_COST;
		passing = costs.indexSelectivity * tuples;
	}
	perRow = 0.5 * costs.indexStartupCost / Max(Min(hnsw_ef_search, tuples), 1);
	*indexStartupCost = costs.indexStartupCost;
	*indexTotalCost = costs.indexStartupCost +
		Max(passing - hnsw_ef_search, 0) * perRow;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}
