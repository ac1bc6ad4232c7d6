/*-------------------------------------------------------------------------
 *
 * vectortype.c
 *	  Which of this extension's vector types (vector, halfvec, sparsevec) a
 *	  type is, and the dimensions and floats of a value of it.
 *
 * A type is known by its input function, not its name: a type called
 * vector in another schema (another extension's) is not ours.
 *
 * src/vectortype.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "distance.h"
#include "halfvec.h"
#include "sparsevec.h"
#include "utils/lsyscache.h"
#include "vector.h"
#include "vectortype.h"

/*
 * Which of this extension's vector types typid is, or VECTOR_TYPE_NONE.
 * Looks up the type's input function in the system cache.
 */
VectorType
VectorTypeOf(Oid typid)
{
	Oid			infunc;
	Oid			ioparam;
	FmgrInfo	flinfo;

	if (!OidIsValid(typid) || get_typtype(typid) != TYPTYPE_BASE)
		return VECTOR_TYPE_NONE;
	getTypeInputInfo(typid, &infunc, &ioparam);
	fmgr_info(infunc, &flinfo);
	if (flinfo.fn_addr == vector_in)
		return VECTOR_TYPE_VECTOR;
	if (flinfo.fn_addr == halfvec_in)
		return VECTOR_TYPE_HALFVEC;
	if (flinfo.fn_addr == sparsevec_in)
		return VECTOR_TYPE_SPARSEVEC;
	return VECTOR_TYPE_NONE;
}

/* The dimensions of a detoasted value of one of the vector types */
int
VectorTypeDims(VectorType type, Datum value)
{
	switch (type)
	{
		case VECTOR_TYPE_VECTOR:
			return ((Vector *) DatumGetPointer(value))->dim;
		case VECTOR_TYPE_HALFVEC:
			return ((HalfVector *) DatumGetPointer(value))->dim;
		case VECTOR_TYPE_SPARSEVEC:
			return ((SparseVector *) DatumGetPointer(value))->dim;
		case VECTOR_TYPE_NONE:
			break;
	}
	elog(ERROR, "not a vector type");
	return 0;					/* keep compiler quiet */
}

/*
 * The elements of a detoasted vector or halfvec value as floats: the
 * vector's own array, or a palloc'd copy of the halfvec's in the current
 * context.  NULL for a sparsevec (whose dimensions may be a billion).
 */
float *
VectorTypeFloats(VectorType type, Datum value)
{
	if (type == VECTOR_TYPE_VECTOR)
		return ((Vector *) DatumGetPointer(value))->x;
	if (type == VECTOR_TYPE_HALFVEC)
	{
		HalfVector *h = (HalfVector *) DatumGetPointer(value);
		float	   *x = palloc(sizeof(float) * h->dim);

		for (int i = 0; i < h->dim; i++)
			x[i] = DistanceHalfToFloat(h->x[i]);
		return x;
	}
	return NULL;
}
