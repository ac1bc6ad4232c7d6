/*-------------------------------------------------------------------------
 *
 * coordorder.c
 *	  The order in which a batch search sends its queries to the shards.
 *
 * A shard answers the queries of a batch one after another, and each of
 * those index searches is bound by loading elements from memory (src/README
 * "Scans").  Queries near each other visit many of the same elements, which
 * the previous search has just brought into the CPU's caches.  So a batch
 * is sent grouped by locality: a few pivots are chosen among the queries by
 * farthest-point traversal (each the query farthest from the pivots chosen
 * before), every query joins the group of its nearest pivot, and the
 * groups go out one after another, each in the batch's own order
 * (vectorgroup.c, which also orders CREATE INDEX's insertions).  The
 * caller sees none of it: every query's rows come back under its ordinal,
 * in the batch's order (coordsearch.c).
 *
 * Distances here are squared L2 on the query vectors, whatever the search's
 * metric: only locality matters.  With fewer than HNSW_ORDER_MIN_QUERIES
 * queries, vectors of different lengths or sparsevec queries, the batch's
 * order is kept.
 *
 * src/coordorder.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>

#include "coord.h"
#include "distance.h"
#include "miscadmin.h"
#include "vector.h"
#include "vectorgroup.h"
#include "vectortype.h"

/* below this, a batch is sent as it is */
#define HNSW_ORDER_MIN_QUERIES	64
/* queries per pivot, and the most pivots */
#define HNSW_ORDER_QUERIES_PER_PIVOT	16
#define HNSW_ORDER_MAX_PIVOTS	32

/*
 * Return the order in which to send the nqueries detoasted values of type of
 * queries: a palloc'd array whose j-th element is the index of the query to
 * send j-th; or NULL to send them as they are (sparsevec queries too).  Costs nqueries times the number of
 * pivots distances (1,000 queries of 784 dimensions: about a millisecond).
 * Memory: the result and scratch arrays in the current context.
 */
int *
CoordBatchOrder(Datum *queries, int nqueries, VectorType type)
{
	int			npivots;
	int			dim;
	const float **vectors;
	int		   *group;			/* each query's nearest pivot */
	int		   *order;
	int			ngroups;

	if (nqueries < HNSW_ORDER_MIN_QUERIES ||
		(type != VECTOR_TYPE_VECTOR && type != VECTOR_TYPE_HALFVEC))
		return NULL;
	dim = VectorTypeDims(type, queries[0]);
	for (int i = 1; i < nqueries; i++)
		if (VectorTypeDims(type, queries[i]) != dim)
			return NULL;

	npivots = Min(HNSW_ORDER_MAX_PIVOTS,
				  nqueries / HNSW_ORDER_QUERIES_PER_PIVOT);
	vectors = palloc(sizeof(float *) * nqueries);
	for (int i = 0; i < nqueries; i++)
		vectors[i] = VectorTypeFloats(type, queries[i]);
	group = palloc(sizeof(int) * nqueries);
	ngroups = VectorFarthestPivots(vectors, nqueries, dim, npivots, group);
	order = palloc(sizeof(int) * nqueries);
	VectorGroupOrder(group, nqueries, ngroups, order);

	elog(DEBUG1, "hnsw: a batch of %d queries goes to the shards in %d groups",
		 nqueries, ngroups);
	pfree(vectors);
	pfree(group);
	return order;
}
