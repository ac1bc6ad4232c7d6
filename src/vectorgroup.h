/*-------------------------------------------------------------------------
 *
 * vectorgroup.h
 *	  Grouping vectors by locality around pivots (vectorgroup.c), for the
 *	  order CREATE INDEX links vectors in (hnswbuildorder.c) and the order
 *	  a batch search sends its queries in (coordorder.c).
 *
 * src/vectorgroup.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_VECTORGROUP_H
#define HNSW_VECTORGROUP_H

extern int	VectorNearestPivot(const float *const *pivots, int npivots,
							   const float *x, int dim);
extern int	VectorFarthestPivots(const float *const *vectors, int n, int dim,
								 int npivots, int *group);
extern void VectorGroupOrder(const int *group, int n, int ngroups,
							 int *order);

#endif							/* HNSW_VECTORGROUP_H */
