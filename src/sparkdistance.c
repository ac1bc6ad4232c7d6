/*-------------------------------------------------------------------------
 *
 * sparkdistance.c
 *	  The distances hnswlib (and so hnswlib-spark) offers beyond pgvector's,
 *	  for vector: Canberra, Bray-Curtis and correlation.
 *
 * The hnsw index uses them through its operator classes
 * vector_canberra_ops, vector_bray_curtis_ops and vector_correlation_ops:
 * a distance the index does not know is called through fmgr (see
 * HNSW_METRIC_OTHER in hnswsearch.c), so nothing here is index-specific.
 *
 * Sums are taken in double precision over the float elements, one term at
 * a time in element order, so a result depends only on the two vectors.
 * Where a formula divides zero by zero the result is defined (below and in
 * README.md), never NaN: a NaN distance would make the graph's comparisons
 * meaningless.
 *
 * Memory: nothing is allocated but the detoasted arguments.
 *
 * src/sparkdistance.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "vector.h"

/*
 * Canberra distance: sum over i of |a_i - b_i| / (|a_i| + |b_i|), a term
 * being 0 where both elements are 0 (hnswlib's and SciPy's convention).
 * Each term is in [0, 1], so the distance is in [0, dimensions].  It is a
 * metric.
 */
PG_FUNCTION_INFO_V1(canberra_distance);
Datum
canberra_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	double		sum = 0.0;

	VectorCheckDims(a, b);
	for (int i = 0; i < a->dim; i++)
	{
		double		x = a->x[i];
		double		y = b->x[i];
		double		den = fabs(x) + fabs(y);

		if (den > 0.0)
			sum += fabs(x - y) / den;
	}
	PG_RETURN_FLOAT8(sum);
}

/*
 * Bray-Curtis dissimilarity: sum |a_i - b_i| / sum |a_i + b_i|, as hnswlib
 * computes it.  0 when both vectors are zero (0/0); +Infinity when the
 * denominator alone is 0, that is when b = -a and a is not zero (the limit
 * of the ratio).  For vectors without negative elements it is in [0, 1].
 * It is not a metric: the triangle inequality can fail.
 */
PG_FUNCTION_INFO_V1(bray_curtis_distance);
Datum
bray_curtis_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	double		num = 0.0;
	double		den = 0.0;

	VectorCheckDims(a, b);
	for (int i = 0; i < a->dim; i++)
	{
		double		x = a->x[i];
		double		y = b->x[i];

		num += fabs(x - y);
		den += fabs(x + y);
	}
	if (num == 0.0)
		PG_RETURN_FLOAT8(0.0);
	if (den == 0.0)
		PG_RETURN_FLOAT8(INFINITY);
	PG_RETURN_FLOAT8(num / den);
}

/*
 * Correlation distance: 1 - Pearson's correlation coefficient, that is the
 * cosine distance of the vectors less their own means.  (hnswlib sums the
 * squares of b less a's mean, a suspected bug; here each vector is centred
 * on its own mean.)  A
 * constant vector has no correlation with anything (0/0): the distance is
 * 0 between two constant vectors and 1 between a constant vector and any
 * other.  The result is clamped to [0, 2] against rounding.
 *
 * The means are exact for constant vectors (n equal floats add up exactly
 * in double), so a constant vector's centred sum of squares is exactly 0.
 */
PG_FUNCTION_INFO_V1(correlation_distance);
Datum
correlation_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	double		meanA = 0.0;
	double		meanB = 0.0;
	double		ab = 0.0;
	double		aa = 0.0;
	double		bb = 0.0;
	double		r;

	VectorCheckDims(a, b);
	for (int i = 0; i < a->dim; i++)
	{
		meanA += a->x[i];
		meanB += b->x[i];
	}
	meanA /= a->dim;
	meanB /= b->dim;
	for (int i = 0; i < a->dim; i++)
	{
		double		x = a->x[i] - meanA;
		double		y = b->x[i] - meanB;

		ab += x * y;
		aa += x * x;
		bb += y * y;
	}

	if (aa == 0.0 && bb == 0.0)
		PG_RETURN_FLOAT8(0.0);
	if (aa == 0.0 || bb == 0.0)
		PG_RETURN_FLOAT8(1.0);
	r = ab / sqrt(aa * bb);
	if (r > 1.0)
		r = 1.0;
	else if (r < -1.0)
		r = -1.0;
	PG_RETURN_FLOAT8(1.0 - r);
}
