/*-------------------------------------------------------------------------
 *
 * distance.h
 *	  Distance kernels over float4 arrays, chosen once at load.
 *
 * The kernels are plain C (no backend headers) so that the kernel test and
 * microbenchmark in test/kernels can link distance.c on its own.
 *
 * src/distance.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_DISTANCE_H
#define HNSW_DISTANCE_H

typedef float (*DistanceFunc) (const float *a, const float *b, int dim);

/* Dot product and both squared norms in one pass, for cosine */
typedef void (*CosinePartsFunc) (const float *a, const float *b, int dim,
								 float *ab, float *aa, float *bb);

/* One implementation of every kernel, for one instruction set */
typedef struct DistanceKernels
{
	const char *name;			/* "scalar", "avx2", "avx512" */
	DistanceFunc l2_squared;	/* sum (a - b)^2 */
	DistanceFunc inner_product; /* sum a * b */
	DistanceFunc l1;			/* sum |a - b| */
	CosinePartsFunc cosine_parts;
} DistanceKernels;

/* The set in use; set by DistanceInit(), never NULL afterwards */
extern const DistanceKernels *distance_kernels;

extern void DistanceInit(void);
extern const DistanceKernels *DistanceKernelsByName(const char *name);
extern int	DistanceKernelsSupported(const DistanceKernels *k);
extern double DistanceCosineFromParts(float ab, float aa, float bb);

#define VectorL2SquaredDistance(a, b, d)	(distance_kernels->l2_squared((a), (b), (d)))
#define VectorInnerProduct(a, b, d)			(distance_kernels->inner_product((a), (b), (d)))
#define VectorL1Distance(a, b, d)			(distance_kernels->l1((a), (b), (d)))

#endif							/* HNSW_DISTANCE_H */
