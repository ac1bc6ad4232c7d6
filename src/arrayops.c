/*-------------------------------------------------------------------------
 *
 * arrayops.c
 *	  Distances between real[] and double precision[] arrays, so that such
 *	  columns can be searched and indexed (float4_*_ops, float8_*_ops)
 *	  without a cast to vector.
 *
 * An array is read as the cast to vector reads it: one-dimensional, no
 * NULL elements, every value finite and within float4 range.  Distances are
 * computed in single precision by the same kernels as for vectors, so the
 * index and the operators agree whatever the array's element type.
 *
 * src/arrayops.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "distance.h"
#include "fmgr.h"
#include "utils/array.h"
#include "vector.h"

/*
 * Return a real[] or double precision[] datum as a palloc'd vector, with
 * the cast's errors for multi-dimensional arrays, NULL elements and values
 * out of range.
 */
Vector *
HnswArrayToVector(Datum array)
{
	return DatumGetVector(DirectFunctionCall3(array_to_vector, array,
											  Int32GetDatum(-1),
											  BoolGetDatum(false)));
}

/*
 * Return a vector as a palloc'd real[] datum, which HnswArrayToVector turns
 * back into the same vector: what a build hands HnswInsertOnDisk for an
 * array column's vector it kept aside (a double precision[] column's values
 * are real already once in a vector).
 */
Datum
HnswVectorToArray(const Vector *vec)
{
	return DirectFunctionCall1(vector_to_float4, PointerGetDatum(vec));
}

/* Both arguments as vectors of the same dimensions */
static void
GetArrayArgs(FunctionCallInfo fcinfo, Vector **a, Vector **b)
{
	*a = HnswArrayToVector(PG_GETARG_DATUM(0));
	*b = HnswArrayToVector(PG_GETARG_DATUM(1));
	if ((*a)->dim != (*b)->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different array lengths %d and %d",
						(*a)->dim, (*b)->dim)));
}

PG_FUNCTION_INFO_V1(array_l2_distance);
Datum
array_l2_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a,
			   *b;

	GetArrayArgs(fcinfo, &a, &b);
	PG_RETURN_FLOAT8(sqrt((double) VectorL2SquaredDistance(a->x, b->x, a->dim)));
}

/* What float4_l2_ops and float8_l2_ops order by: no square root */
PG_FUNCTION_INFO_V1(array_l2_squared_distance);
Datum
array_l2_squared_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a,
			   *b;

	GetArrayArgs(fcinfo, &a, &b);
	PG_RETURN_FLOAT8((double) VectorL2SquaredDistance(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(array_negative_inner_product);
Datum
array_negative_inner_product(PG_FUNCTION_ARGS)
{
	Vector	   *a,
			   *b;

	GetArrayArgs(fcinfo, &a, &b);
	PG_RETURN_FLOAT8(-(double) VectorInnerProduct(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(array_cosine_distance);
Datum
array_cosine_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a,
			   *b;
	float		ab,
				aa,
				bb;

	GetArrayArgs(fcinfo, &a, &b);
	distance_kernels->cosine_parts(a->x, b->x, a->dim, &ab, &aa, &bb);
	PG_RETURN_FLOAT8(DistanceCosineFromParts(ab, aa, bb));
}

PG_FUNCTION_INFO_V1(array_l1_distance);
Datum
array_l1_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a,
			   *b;

	GetArrayArgs(fcinfo, &a, &b);
	PG_RETURN_FLOAT8((double) VectorL1Distance(a->x, b->x, a->dim));
}

/* Euclidean norm, support function 2 of the cosine operator classes */
PG_FUNCTION_INFO_V1(array_norm);
Datum
array_norm(PG_FUNCTION_ARGS)
{
	Vector	   *a = HnswArrayToVector(PG_GETARG_DATUM(0));
	double		norm = 0.0;

	for (int i = 0; i < a->dim; i++)
		norm += (double) a->x[i] * (double) a->x[i];
	PG_RETURN_FLOAT8(sqrt(norm));
}
