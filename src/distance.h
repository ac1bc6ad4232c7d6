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

#include <stdint.h>

typedef float (*DistanceFunc) (const float *a, const float *b, int dim);

/*
 * A distance given up once it is known to exceed bound.  The kernel checks
 * the sum so far after every DISTANCE_BOUND_STEP dimensions and returns it
 * as soon as it is above bound; the terms are never negative, so the whole
 * distance would be at least that.  A result not above bound is the whole
 * distance, the very float the unbounded kernel of the set returns.
 */
typedef float (*BoundedDistanceFunc) (const float *a, const float *b, int dim,
									  float bound);

#define DISTANCE_BOUND_STEP	128

/*
 * Asymmetric distance between a float query q and an encoded vector c of
 * the same dimensions (f16 or bf16 codes as uint16_t, i8 codes as int8_t).
 * An i8 code c[i] stands for c[i] * scale + offset; the half-width
 * encodings ignore both.
 */
typedef float (*QuantDistanceFunc) (const float *q, const void *c, float scale,
									float offset, int dim);

/* Decode dim codes (for i8: times scale, plus offset) into floats */
typedef void (*QuantDecodeFunc) (const void *c, float scale, float offset,
								 float *out, int dim);

/* The kernels of one encoding */
typedef struct QuantKernels
{
	QuantDistanceFunc l2_squared;
	QuantDistanceFunc inner_product;
	QuantDistanceFunc l1;
	QuantDecodeFunc decode;
} QuantKernels;

/* Dot product and both squared norms in one pass, for cosine */
typedef void (*CosinePartsFunc) (const float *a, const float *b, int dim,
								 float *ab, float *aa, float *bb);

/* One implementation of every kernel, for one instruction set */
typedef struct DistanceKernels
{
	const char *name;			/* "scalar", "avx2", "avx512" */
	DistanceFunc l2_squared;	/* sum (a - b)^2 */
	BoundedDistanceFunc l2_squared_bounded; /* the same, given up early */
	DistanceFunc inner_product; /* sum a * b */
	DistanceFunc l1;			/* sum |a - b| */
	CosinePartsFunc cosine_parts;
	QuantKernels f16;			/* IEEE 754 binary16 codes */
	QuantKernels bf16;			/* bfloat16 codes (upper half of a float) */
	QuantKernels i8;			/* int8 codes on a per-vector scale and
								 * offset */
} DistanceKernels;

/* The set in use; set by DistanceInit(), never NULL afterwards */
extern const DistanceKernels *distance_kernels;

/*
 * Distances between two vectors of IEEE 754 binary16 codes (the halfvec
 * type), widened to float and accumulated in float.  A set of its own,
 * chosen by DistanceInit() on pgvector's condition (AVX, F16C and FMA),
 * whose "f16c" kernels add in the order pgvector's do: see distance.c.
 */
typedef float (*HalfDistanceFunc) (const uint16_t *a, const uint16_t *b,
								   int dim);
typedef void (*HalfCosinePartsFunc) (const uint16_t *a, const uint16_t *b,
									 int dim, float *ab, float *aa,
									 float *bb);

typedef struct HalfDistanceKernels
{
	const char *name;			/* "scalar", "f16c" */
	HalfDistanceFunc l2_squared;	/* sum (a - b)^2 */
	HalfDistanceFunc inner_product; /* sum a * b */
	HalfDistanceFunc l1;		/* sum |a - b| */
	HalfCosinePartsFunc cosine_parts;
} HalfDistanceKernels;

/* The half-precision set in use; set by DistanceInit(), never NULL */
extern const HalfDistanceKernels *half_kernels;

extern void DistanceInit(void);
extern const DistanceKernels *DistanceKernelsByName(const char *name);
extern int	DistanceKernelsSupported(const DistanceKernels *k);
extern double DistanceCosineFromParts(float ab, float aa, float bb);
extern double DistanceSphericalFromDot(double dot);
extern const HalfDistanceKernels *DistanceHalfKernelsByName(const char *name);
extern int	DistanceHalfKernelsSupported(const HalfDistanceKernels *k);

/* Scalar encoders and decoders of the quantized encodings */
extern uint16_t DistanceFloatToHalf(float f);
extern float DistanceHalfToFloat(uint16_t h);
extern uint16_t DistanceFloatToBfloat(float f);
extern float DistanceBfloatToFloat(uint16_t b);
extern float DistanceEncodeInt8(const float *x, int dim, int8_t *codes);
extern float DistanceEncodeInt8Range(const float *x, int dim, int8_t *codes,
									 float *scale, float *offset);

/* Largest finite f16 value */
#define DISTANCE_HALF_MAX	65504.0f

#define VectorL2SquaredDistance(a, b, d)	(distance_kernels->l2_squared((a), (b), (d)))
#define VectorL2SquaredBounded(a, b, d, bound) \
	(distance_kernels->l2_squared_bounded((a), (b), (d), (bound)))
#define VectorInnerProduct(a, b, d)			(distance_kernels->inner_product((a), (b), (d)))
#define VectorL1Distance(a, b, d)			(distance_kernels->l1((a), (b), (d)))

#endif							/* HNSW_DISTANCE_H */
