/*-------------------------------------------------------------------------
 *
 * vectorgroup.c
 *	  Grouping vectors by locality: each vector joins the group of its
 *	  nearest pivot, and the groups follow one another, each in the order
 *	  its vectors came in.  Searches run in that order find much of what
 *	  they walk still in the CPU's caches.  CREATE INDEX links its vectors
 *	  so (hnswbuildorder.c, pivots sampled from the first vectors linked),
 *	  and a batch search sends its queries so (coordorder.c, pivots chosen
 *	  by farthest-point traversal among the queries).
 *
 * Distances here are squared L2, whatever the index's metric: only
 * locality matters.
 *
 * src/vectorgroup.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>

#include "distance.h"
#include "miscadmin.h"
#include "vectorgroup.h"

/* Return the number of the pivot nearest x; the first on a tie */
int
VectorNearestPivot(const float *const *pivots, int npivots, const float *x,
				   int dim)
{
	float		best = FLT_MAX;
	int			g = 0;

	for (int p = 0; p < npivots; p++)
	{
		float		d = VectorL2SquaredDistance(pivots[p], x, dim);

		if (d < best)
		{
			best = d;
			g = p;
		}
	}
	return g;
}

/*
 * Choose up to npivots of the n vectors as pivots by farthest-point
 * traversal (the first vector, then each time the one farthest from the
 * pivots chosen so far), and set group[i] to the number of vector i's
 * nearest pivot, as the traversal computes it anyway.  Return how many
 * pivots were chosen: fewer once every vector is a copy of a pivot.  Costs
 * n distances per pivot.
 */
int
VectorFarthestPivots(const float *const *vectors, int n, int dim,
					 int npivots, int *group)
{
	float	   *mindist = palloc(sizeof(float) * n);
	int			pivot = 0;
	int			ngroups = 0;

	for (int i = 0; i < n; i++)
	{
		mindist[i] = FLT_MAX;
		group[i] = 0;
	}
	for (int p = 0; p < npivots; p++)
	{
		float		farthest = -1.0f;
		int			next = pivot;

		CHECK_FOR_INTERRUPTS();
		ngroups++;
		for (int i = 0; i < n; i++)
		{
			float		d = VectorL2SquaredDistance(vectors[pivot], vectors[i],
													dim);

			if (d < mindist[i])
			{
				mindist[i] = d;
				group[i] = p;
			}
			if (mindist[i] > farthest)
			{
				farthest = mindist[i];
				next = i;
			}
		}
		/* every vector is a pivot's copy: no more groups to make */
		if (farthest <= 0.0f)
			break;
		pivot = next;
	}
	pfree(mindist);
	return ngroups;
}

/*
 * Set order[j] to the number of the vector to take j-th: the vectors of
 * group 0 first, then of group 1, and so on up to ngroups - 1, each group
 * in the vectors' own order (a stable counting sort).
 */
void
VectorGroupOrder(const int *group, int n, int ngroups, int *order)
{
	int		   *start = palloc0(sizeof(int) * (ngroups + 1));

	for (int i = 0; i < n; i++)
		start[group[i] + 1]++;
	for (int g = 0; g < ngroups; g++)
		start[g + 1] += start[g];
	for (int i = 0; i < n; i++)
		order[start[group[i]]++] = i;
	pfree(start);
}
