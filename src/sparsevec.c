/*-------------------------------------------------------------------------
 *
 * sparsevec.c
 *	  The sparsevec type: text and binary I/O, typmod, casts, distances,
 *	  norms, comparison, and the array constructor and accessors.
 *
 * Every SQL-visible name pgvector defines for sparsevec is here with
 * pgvector's behaviour: the same results and, for every error, the same
 * SQLSTATE.  The distances add their terms in float, in ascending index
 * order, as pgvector's source does; pgvector is compiled with
 * -fassociative-math, so its compiler may reorder some of those sums, and
 * results then differ in the last bits of a float (cosine, whose norms it
 * vectorises, most often).  Beyond
 * pgvector, sparsevec(indices, vals, dim) and sparsevec_indices() /
 * sparsevec_values() / vector_dims() convert to and from the arrays of a
 * Spark SparseVector, whose indices are 0-based (as in the binary form);
 * only the text form counts from 1.
 *
 * Memory: every function allocates its result in the caller's (per-call)
 * memory context; nothing is kept between calls.
 *
 * src/sparsevec.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "libpq/pqformat.h"
#include "sparsevec.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "vector.h"

/* One element while reading text or arrays: index and value */
typedef struct SparseInputElement
{
	int64		index;			/* 0-based */
	float		value;
} SparseInputElement;

/* ----------------------------------------------------------------
 *		Checks (pgvector's SQLSTATEs)
 * ----------------------------------------------------------------
 */

/*
 * Raise an error unless dim is a valid number of dimensions.
 */
static void
CheckDim(int64 dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("sparsevec must have at least 1 dimension")));
	if (dim > SPARSEVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("sparsevec cannot have more than %d dimensions",
						SPARSEVEC_MAX_DIM)));
}

/*
 * Raise an error unless a sparse vector of dim dimensions may have nnz
 * non-zero elements.
 */
static void
CheckNnz(int64 nnz, int64 dim)
{
	if (nnz < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("sparsevec cannot have a negative number of elements")));
	if (nnz > SPARSEVEC_MAX_NNZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("sparsevec cannot have more than %d non-zero elements",
						SPARSEVEC_MAX_NNZ)));
	if (nnz > dim)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("sparsevec cannot have more elements than dimensions"),
				 errdetail("It has %lld elements and %lld dimensions.",
						   (long long) nnz, (long long) dim)));
}

/*
 * Raise an error unless the vector fits the column's declared dimensions.
 */
static void
CheckExpectedDim(int32 typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

/*
 * Raise an error unless value may be stored in a sparse vector.
 */
static void
CheckElement(float value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in sparsevec")));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in sparsevec")));
}

/*
 * Raise an error unless element i of sorted 0-based indices is below dim
 * and above element i - 1.  oneBased says how the caller's input counts,
 * for the message.
 */
static void
CheckIndex(const int64 *indices, int i, int dim, bool oneBased)
{
	int64		index = indices[i];

	if (index < 0 || index >= dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("sparsevec index %lld is out of range",
						(long long) (oneBased ? index + 1 : index)),
				 oneBased ?
				 errdetail("Indices in the text form count from 1 and must be at most the dimensions, %d.", dim) :
				 errdetail("Indices count from 0 and must be less than the dimensions, %d.", dim)));
	if (i > 0 && index < indices[i - 1])
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("sparsevec indices must be in ascending order"),
				 errdetail("Index %lld follows index %lld.",
						   (long long) (oneBased ? index + 1 : index),
						   (long long) (oneBased ? indices[i - 1] + 1 : indices[i - 1]))));
	if (i > 0 && index == indices[i - 1])
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("sparsevec indices must not contain duplicates"),
				 errdetail("Index %lld appears more than once.",
						   (long long) (oneBased ? index + 1 : index))));
}

/*
 * Raise an error unless two sparse vectors have the same dimensions.
 */
static void
CheckDims(const SparseVector *a, const SparseVector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different sparsevec dimensions %d and %d",
						a->dim, b->dim)));
}

/*
 * Allocate a zeroed sparse vector of dim dimensions with room for nnz
 * elements, in the current memory context.
 */
SparseVector *
InitSparseVector(int dim, int nnz)
{
	Size		size = SPARSEVEC_SIZE(nnz);
	SparseVector *result = (SparseVector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	result->nnz = nnz;
	return result;
}

/*
 * Build a sparse vector of dim dimensions from nnz elements sorted by index,
 * checking the indices.
 */
static SparseVector *
SparseFromElements(const SparseInputElement *elements, int nnz, int dim,
				   bool oneBased)
{
	SparseVector *result = InitSparseVector(dim, nnz);
	float	   *values = SPARSEVEC_VALUES(result);
	int64	   *indices = palloc(sizeof(int64) * Max(nnz, 1));

	for (int i = 0; i < nnz; i++)
	{
		indices[i] = elements[i].index;
		CheckIndex(indices, i, dim, oneBased);
		result->indices[i] = (int32) elements[i].index;
		values[i] = elements[i].value;
	}
	pfree(indices);
	return result;
}

/* ----------------------------------------------------------------
 *		Text and binary I/O
 * ----------------------------------------------------------------
 */

/* The whitespace PostgreSQL's scanner knows, which pgvector skips too */
static inline bool
IsSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\v' || c == '\f';
}

static inline const char *
SkipSpace(const char *p)
{
	while (IsSpace(*p))
		p++;
	return p;
}

/*
 * Raise the syntax error of sparsevec_in for lit, found at p.
 */
static void
ReportSyntax(const char *lit, const char *p)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type sparsevec: \"%s\"", lit),
			 *p == '\0' ?
			 errdetail("Unexpected end of input.") :
			 errdetail("Unexpected character at position %d.",
					   (int) (p - lit) + 1),
			 errhint("Sparse vectors are written as {index:value,...}/dimensions with indices counting from 1, like '{1:1.5,3:2}/5'.")));
}

static int
CompareElements(const void *a, const void *b)
{
	int64		ia = ((const SparseInputElement *) a)->index;
	int64		ib = ((const SparseInputElement *) b)->index;

	return (ia > ib) - (ia < ib);
}

/*
 * Parse a 1-based index or the dimensions at p as strtol does (leading
 * whitespace and a sign allowed).  Beyond int64 it saturates, far enough
 * from the limits that index - 1 cannot overflow; anything beyond the int
 * range is reported as out of range by the caller.
 */
static int64
ParseInteger(const char *lit, const char *p, const char **end)
{
	long long	v;

	errno = 0;
	v = strtoll(p, (char **) end, 10);
	if (*end == p)
		ReportSyntax(lit, p);
	return (int64) Max(Min(v, PG_INT64_MAX / 2), PG_INT64_MIN / 2);
}

/*
 * Read the text form {index:value,...}/dim.  Indices count from 1 and may
 * come in any order; elements whose value is zero are dropped, as pgvector
 * drops them (before their indices are checked).
 */
PG_FUNCTION_INFO_V1(sparsevec_in);
Datum
sparsevec_in(PG_FUNCTION_ARGS)
{
	char	   *lit = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	const char *p;
	const char *end;
	SparseInputElement *elements;
	int			maxnnz = 1;
	int			nnz = 0;
	int64		dim;

	/* at most one element more than commas; pgvector's limit counts them */
	for (p = lit; *p != '\0'; p++)
		if (*p == ',')
			maxnnz++;
	if (maxnnz > SPARSEVEC_MAX_NNZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("sparsevec cannot have more than %d non-zero elements",
						SPARSEVEC_MAX_NNZ)));
	elements = palloc(sizeof(SparseInputElement) * maxnnz);

	p = SkipSpace(lit);
	if (*p != '{')
		ReportSyntax(lit, p);
	p = SkipSpace(p + 1);
	if (*p == '}')
		p++;
	else
	{
		for (;;)
		{
			int64		index;
			float		value;

			p = SkipSpace(p);
			index = ParseInteger(lit, p, &end);
			p = SkipSpace(end);
			if (*p != ':')
				ReportSyntax(lit, p);
			p = SkipSpace(p + 1);

			/* strtof, as float4in: no double rounding */
			errno = 0;
			value = strtof(p, (char **) &end);
			if (end == p)
				ReportSyntax(lit, p);
			if (errno == ERANGE && (value == 0 || isinf(value)))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("\"%s\" is out of range for type real",
								pnstrdup(p, end - p)),
						 errdetail("Sparse vector elements are single precision.")));
			CheckElement(value);
			if (value != 0)
			{
				Assert(nnz < maxnnz);
				elements[nnz].index = index - 1;
				elements[nnz].value = value;
				nnz++;
			}

			p = SkipSpace(end);
			if (*p == ',')
				p++;
			else if (*p == '}')
			{
				p++;
				break;
			}
			else
				ReportSyntax(lit, p);
		}
	}

	p = SkipSpace(p);
	if (*p != '/')
		ReportSyntax(lit, p);
	p = SkipSpace(p + 1);
	dim = ParseInteger(lit, p, &end);
	p = SkipSpace(end);
	if (*p != '\0')
		ReportSyntax(lit, p);

	CheckDim(dim);
	CheckExpectedDim(typmod, (int) dim);

	qsort(elements, nnz, sizeof(SparseInputElement), CompareElements);
	PG_RETURN_SPARSEVEC_P(SparseFromElements(elements, nnz, (int) dim, true));
}

/*
 * Write the text form, indices counting from 1, values in the shortest
 * form that reads back to the same float.
 */
PG_FUNCTION_INFO_V1(sparsevec_out);
Datum
sparsevec_out(PG_FUNCTION_ARGS)
{
	SparseVector *svec = PG_GETARG_SPARSEVEC_P(0);
	float	   *values = SPARSEVEC_VALUES(svec);
	char	   *buf;
	char	   *p;

	/* per element: index (11), ':', value, ','; then "{}/", dim (11), NUL */
	buf = palloc((Size) svec->nnz * (11 + 1 + FLOAT_SHORTEST_DECIMAL_LEN + 1) + 16);
	p = buf;
	*p++ = '{';
	for (int i = 0; i < svec->nnz; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += pg_ltoa(svec->indices[i] + 1, p);
		*p++ = ':';
		p += float_to_shortest_decimal_bufn(values[i], p);
	}
	*p++ = '}';
	*p++ = '/';
	p += pg_ltoa(svec->dim, p);
	*p = '\0';

	PG_FREE_IF_COPY(svec, 0);
	PG_RETURN_CSTRING(buf);
}

PG_FUNCTION_INFO_V1(sparsevec_typmod_in);
Datum
sparsevec_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errdetail("A sparsevec type takes one modifier, its number of dimensions.")));
	if (*tl < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type sparsevec must be at least 1")));
	if (*tl > SPARSEVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type sparsevec cannot exceed %d",
						SPARSEVEC_MAX_DIM)));
	PG_RETURN_INT32(*tl);
}

/*
 * Read the binary form: int32 dim, nnz and unused (zero), nnz 0-based
 * int32 indices in ascending order, nnz float4 values, none zero; all
 * big-endian.  A short message is a protocol violation (08P01), as with
 * every pq_getmsg reader; anything else wrong is a data exception.
 */
PG_FUNCTION_INFO_V1(sparsevec_recv);
Datum
sparsevec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int32		dim;
	int32		nnz;
	int32		unused;
	int64	   *indices;
	SparseVector *result;
	float	   *values;

	dim = (int32) pq_getmsgint(buf, sizeof(int32));
	nnz = (int32) pq_getmsgint(buf, sizeof(int32));
	unused = (int32) pq_getmsgint(buf, sizeof(int32));

	CheckDim(dim);
	CheckNnz(nnz, dim);
	CheckExpectedDim(typmod, dim);
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected unused to be 0, not %d", unused)));

	result = InitSparseVector(dim, nnz);
	values = SPARSEVEC_VALUES(result);
	indices = palloc(sizeof(int64) * Max(nnz, 1));
	for (int i = 0; i < nnz; i++)
	{
		indices[i] = (int32) pq_getmsgint(buf, sizeof(int32));
		CheckIndex(indices, i, dim, false);
		result->indices[i] = (int32) indices[i];
	}
	pfree(indices);

	for (int i = 0; i < nnz; i++)
	{
		values[i] = pq_getmsgfloat4(buf);
		CheckElement(values[i]);
		if (values[i] == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("binary representation of sparsevec cannot contain zero values")));
	}
	PG_RETURN_SPARSEVEC_P(result);
}

PG_FUNCTION_INFO_V1(sparsevec_send);
Datum
sparsevec_send(PG_FUNCTION_ARGS)
{
	SparseVector *svec = PG_GETARG_SPARSEVEC_P(0);
	float	   *values = SPARSEVEC_VALUES(svec);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, svec->dim);
	pq_sendint32(&buf, svec->nnz);
	pq_sendint32(&buf, svec->unused);
	for (int i = 0; i < svec->nnz; i++)
		pq_sendint32(&buf, svec->indices[i]);
	for (int i = 0; i < svec->nnz; i++)
		pq_sendfloat4(&buf, values[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ----------------------------------------------------------------
 *		Casts
 * ----------------------------------------------------------------
 */

/*
 * Coerce a sparse vector to a column's typmod (the sparsevec(n) check).
 */
PG_FUNCTION_INFO_V1(sparsevec);
Datum
sparsevec(PG_FUNCTION_ARGS)
{
	SparseVector *svec = PG_GETARG_SPARSEVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	CheckExpectedDim(typmod, svec->dim);
	PG_RETURN_SPARSEVEC_P(svec);
}

PG_FUNCTION_INFO_V1(vector_to_sparsevec);
Datum
vector_to_sparsevec(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	SparseVector *result;
	float	   *values;
	int			nnz = 0;
	int			j = 0;

	CheckDim(vec->dim);
	CheckExpectedDim(typmod, vec->dim);
	for (int i = 0; i < vec->dim; i++)
		if (vec->x[i] != 0)
			nnz++;
	CheckNnz(nnz, vec->dim);

	result = InitSparseVector(vec->dim, nnz);
	values = SPARSEVEC_VALUES(result);
	for (int i = 0; i < vec->dim; i++)
	{
		if (vec->x[i] == 0)
			continue;
		result->indices[j] = i;
		values[j] = vec->x[i];
		j++;
	}
	PG_RETURN_SPARSEVEC_P(result);
}

PG_FUNCTION_INFO_V1(sparsevec_to_vector);
Datum
sparsevec_to_vector(PG_FUNCTION_ARGS)
{
	SparseVector *svec = PG_GETARG_SPARSEVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	float	   *values = SPARSEVEC_VALUES(svec);
	Vector	   *result;

	VectorCheckDim(svec->dim);
	CheckExpectedDim(typmod, svec->dim);

	result = InitVector(svec->dim);
	for (int i = 0; i < svec->nnz; i++)
		result->x[svec->indices[i]] = values[i];
	PG_RETURN_VECTOR_P(result);
}

/*
 * Return element i of a deconstructed integer[], real[], double precision[]
 * or numeric[] array as a float, as pgvector converts it (numeric through
 * numeric_float4, so that a value too large for real is its error).
 */
static float
ArrayElementToFloat(Oid elemtype, Datum d)
{
	switch (elemtype)
	{
		case INT4OID:
			return (float) DatumGetInt32(d);
		case FLOAT4OID:
			return DatumGetFloat4(d);
		case FLOAT8OID:
			return (float) DatumGetFloat8(d);
		case NUMERICOID:
			return DatumGetFloat4(DirectFunctionCall1(numeric_float4, d));
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("unsupported array type %s", format_type_be(elemtype))));
	return 0;					/* keep compiler quiet */
}

/*
 * Deconstruct a one-dimensional array without NULLs (pgvector's errors for
 * the others); return its elements and set *n.
 */
static Datum *
DeconstructArray(ArrayType *array, int *n)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D")));
	if (ARR_HASNULL(array) && array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));
	get_typlenbyvalalign(ARR_ELEMTYPE(array), &typlen, &typbyval, &typalign);
	deconstruct_array(array, ARR_ELEMTYPE(array), typlen, typbyval, typalign,
					  &elems, NULL, n);
	return elems;
}

/*
 * Cast a dense integer[], real[], double precision[] or numeric[] array to
 * a sparse vector: its length is the dimensions, its non-zero elements
 * (after conversion to real) the elements.
 */
PG_FUNCTION_INFO_V1(array_to_sparsevec);
Datum
array_to_sparsevec(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(array);
	Datum	   *elems;
	int			nelems;
	int			nnz = 0;
	int			j = 0;
	SparseVector *result;
	float	   *values;

	elems = DeconstructArray(array, &nelems);
	CheckDim(nelems);
	CheckExpectedDim(typmod, nelems);

	/* count first: the limit on elements comes before their checks */
	for (int i = 0; i < nelems; i++)
		if (ArrayElementToFloat(elemtype, elems[i]) != 0)
			nnz++;
	CheckNnz(nnz, nelems);

	result = InitSparseVector(nelems, nnz);
	values = SPARSEVEC_VALUES(result);
	for (int i = 0; i < nelems; i++)
	{
		float		v = ArrayElementToFloat(elemtype, elems[i]);

		if (v == 0)
			continue;
		result->indices[j] = i;
		values[j] = v;
		j++;
	}
	for (int i = 0; i < nnz; i++)
	{
		/* pgvector's SQLSTATE for a double too large for real, a plainer message */
		if (isinf(values[i]) && elemtype == FLOAT8OID &&
			!isinf(DatumGetFloat8(elems[result->indices[i]])))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("element %d of array is out of range for type real",
							result->indices[i] + 1)));
		CheckElement(values[i]);
	}
	PG_RETURN_SPARSEVEC_P(result);
}

/* ----------------------------------------------------------------
 *		Arrays of a Spark SparseVector: 0-based indices and values
 * ----------------------------------------------------------------
 */

/*
 * Build a sparse vector of dim dimensions from 0-based indices in strictly
 * ascending order and their values, as a Spark SparseVector holds them.
 * The values are double precision[] (real[], numeric[] and integer[]
 * arguments are cast to it implicitly; one signature, so that literals are
 * not ambiguous).  Zero values are dropped; NaN, infinite values and those
 * too large for real are errors.
 */
PG_FUNCTION_INFO_V1(sparsevec_from_arrays);
Datum
sparsevec_from_arrays(PG_FUNCTION_ARGS)
{
	ArrayType  *iarray = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *varray = PG_GETARG_ARRAYTYPE_P(1);
	int32		dim = PG_GETARG_INT32(2);
	Datum	   *idatums;
	Datum	   *vdatums;
	int			nindices;
	int			nvalues;
	SparseInputElement *elements;
	int64	   *indices;
	int			nnz = 0;

	if (ARR_ELEMTYPE(iarray) != INT4OID || ARR_ELEMTYPE(varray) != FLOAT8OID)
		elog(ERROR, "sparsevec_from_arrays called with arrays of %s and %s",
			 format_type_be(ARR_ELEMTYPE(iarray)),
			 format_type_be(ARR_ELEMTYPE(varray)));
	idatums = DeconstructArray(iarray, &nindices);
	vdatums = DeconstructArray(varray, &nvalues);
	if (nindices != nvalues)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("sparsevec indices and values must have the same length"),
				 errdetail("The indices array has %d elements, the values array %d.",
						   nindices, nvalues)));
	CheckDim(dim);
	CheckNnz(nindices, dim);

	/* every index is checked, zero values or not: they are the caller's */
	indices = palloc(sizeof(int64) * Max(nindices, 1));
	elements = palloc(sizeof(SparseInputElement) * Max(nindices, 1));
	for (int i = 0; i < nindices; i++)
	{
		double		v = DatumGetFloat8(vdatums[i]);

		indices[i] = DatumGetInt32(idatums[i]);
		CheckIndex(indices, i, dim, false);
		if (!isnan(v) && !isinf(v) && (v > FLT_MAX || v < -FLT_MAX))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value %g at index %lld is out of range for type real",
							v, (long long) indices[i])));
		CheckElement((float) v);
		if ((float) v == 0)
			continue;
		elements[nnz].index = indices[i];
		elements[nnz].value = (float) v;
		nnz++;
	}
	PG_RETURN_SPARSEVEC_P(SparseFromElements(elements, nnz, dim, false));
}

/*
 * The 0-based indices of the non-zero elements, ascending.
 */
PG_FUNCTION_INFO_V1(sparsevec_indices);
Datum
sparsevec_indices(PG_FUNCTION_ARGS)
{
	SparseVector *svec = PG_GETARG_SPARSEVEC_P(0);
	Datum	   *datums = palloc(sizeof(Datum) * Max(svec->nnz, 1));

	for (int i = 0; i < svec->nnz; i++)
		datums[i] = Int32GetDatum(svec->indices[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(datums, svec->nnz, INT4OID,
										  sizeof(int32), true, TYPALIGN_INT));
}

/*
 * The values of the non-zero elements, in the order of their indices.
 */
PG_FUNCTION_INFO_V1(sparsevec_values);
Datum
sparsevec_values(PG_FUNCTION_ARGS)
{
	SparseVector *svec = PG_GETARG_SPARSEVEC_P(0);
	float	   *values = SPARSEVEC_VALUES(svec);
	Datum	   *datums = palloc(sizeof(Datum) * Max(svec->nnz, 1));

	for (int i = 0; i < svec->nnz; i++)
		datums[i] = Float4GetDatum(values[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(datums, svec->nnz, FLOAT4OID,
										  sizeof(float4), true, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(sparsevec_dims);
Datum
sparsevec_dims(PG_FUNCTION_ARGS)
{
	SparseVector *svec = PG_GETARG_SPARSEVEC_P(0);

	PG_RETURN_INT32(svec->dim);
}

/* ----------------------------------------------------------------
 *		Distances
 *
 * Each walks both index lists in ascending order, adding in float one term
 * per index present in either vector: the order of pgvector's loops as
 * written (see the file header).
 * ----------------------------------------------------------------
 */

float
SparseL2SquaredRaw(int an, const int32 *ai, const float *ax,
				   int bn, const int32 *bi, const float *bx)
{
	float		sum = 0.0f;
	int			i = 0;
	int			j = 0;

	while (i < an || j < bn)
	{
		if (j == bn || (i < an && ai[i] < bi[j]))
		{
			sum += ax[i] * ax[i];
			i++;
		}
		else if (i == an || bi[j] < ai[i])
		{
			sum += bx[j] * bx[j];
			j++;
		}
		else
		{
			float		d = ax[i] - bx[j];

			sum += d * d;
			i++;
			j++;
		}
	}
	return sum;
}

float
SparseInnerProductRaw(int an, const int32 *ai, const float *ax,
					  int bn, const int32 *bi, const float *bx)
{
	float		sum = 0.0f;
	int			i = 0;
	int			j = 0;

	while (i < an && j < bn)
	{
		if (ai[i] < bi[j])
			i++;
		else if (ai[i] > bi[j])
			j++;
		else
		{
			sum += ax[i] * bx[j];
			i++;
			j++;
		}
	}
	return sum;
}

float
SparseL1Raw(int an, const int32 *ai, const float *ax,
			int bn, const int32 *bi, const float *bx)
{
	float		sum = 0.0f;
	int			i = 0;
	int			j = 0;

	while (i < an || j < bn)
	{
		if (j == bn || (i < an && ai[i] < bi[j]))
			sum += fabsf(ax[i++]);
		else if (i == an || bi[j] < ai[i])
			sum += fabsf(bx[j++]);
		else
		{
			sum += fabsf(ax[i] - bx[j]);
			i++;
			j++;
		}
	}
	return sum;
}

#define SPARSE_ARGS(a, b) \
	(a)->nnz, (a)->indices, SPARSEVEC_VALUES(a), \
	(b)->nnz, (b)->indices, SPARSEVEC_VALUES(b)

static float
SparseL2Squared(const SparseVector *a, const SparseVector *b)
{
	return SparseL2SquaredRaw(SPARSE_ARGS(a, b));
}

static float
SparseInnerProduct(const SparseVector *a, const SparseVector *b)
{
	return SparseInnerProductRaw(SPARSE_ARGS(a, b));
}

static float
SparseL1(const SparseVector *a, const SparseVector *b)
{
	return SparseL1Raw(SPARSE_ARGS(a, b));
}

/* Sum of squares in float, in index order (for the cosine) */
static float
SparseSquaredNormFloat(const SparseVector *a)
{
	const float *ax = SPARSEVEC_VALUES(a);
	float		sum = 0.0f;

	for (int i = 0; i < a->nnz; i++)
		sum += ax[i] * ax[i];
	return sum;
}

/* Sum of squares in double (for the norm and normalisation) */
static double
SparseSquaredNorm(const SparseVector *a)
{
	const float *ax = SPARSEVEC_VALUES(a);
	double		sum = 0.0;

	for (int i = 0; i < a->nnz; i++)
		sum += (double) ax[i] * (double) ax[i];
	return sum;
}

PG_FUNCTION_INFO_V1(sparsevec_l2_distance);
Datum
sparsevec_l2_distance(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8(sqrt((double) SparseL2Squared(a, b)));
}

PG_FUNCTION_INFO_V1(sparsevec_l2_squared_distance);
Datum
sparsevec_l2_squared_distance(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8((double) SparseL2Squared(a, b));
}

PG_FUNCTION_INFO_V1(sparsevec_inner_product);
Datum
sparsevec_inner_product(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8((double) SparseInnerProduct(a, b));
}

PG_FUNCTION_INFO_V1(sparsevec_negative_inner_product);
Datum
sparsevec_negative_inner_product(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8(-(double) SparseInnerProduct(a, b));
}

/*
 * 1 - cos(a, b); NaN when either vector is zero, where the angle is
 * undefined (as for vector).  The similarity is clamped to [-1, 1].
 */
PG_FUNCTION_INFO_V1(sparsevec_cosine_distance);
Datum
sparsevec_cosine_distance(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);
	double		sim;

	CheckDims(a, b);
	sim = (double) SparseInnerProduct(a, b) /
		sqrt((double) SparseSquaredNormFloat(a) *
			 (double) SparseSquaredNormFloat(b));
	if (sim > 1.0)
		sim = 1.0;
	else if (sim < -1.0)
		sim = -1.0;
	PG_RETURN_FLOAT8(1.0 - sim);
}

PG_FUNCTION_INFO_V1(sparsevec_l1_distance);
Datum
sparsevec_l1_distance(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	SparseVector *b = PG_GETARG_SPARSEVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8((double) SparseL1(a, b));
}

PG_FUNCTION_INFO_V1(sparsevec_l2_norm);
Datum
sparsevec_l2_norm(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);

	PG_RETURN_FLOAT8(sqrt(SparseSquaredNorm(a)));
}

/*
 * Scale a sparse vector to unit length; the zero vector stays zero.  An
 * element that underflows to zero is dropped; one that overflows (a norm
 * below 1 and an element near FLT_MAX) is an error.
 */
PG_FUNCTION_INFO_V1(sparsevec_l2_normalize);
Datum
sparsevec_l2_normalize(PG_FUNCTION_ARGS)
{
	SparseVector *a = PG_GETARG_SPARSEVEC_P(0);
	const float *ax = SPARSEVEC_VALUES(a);
	double		norm = sqrt(SparseSquaredNorm(a));
	SparseVector *result;
	float	   *rx;
	int			nnz = 0;

	result = InitSparseVector(a->dim, a->nnz);
	rx = SPARSEVEC_VALUES(result);
	if (norm > 0)
	{
		for (int i = 0; i < a->nnz; i++)
		{
			float		v = (float) (ax[i] / norm);

			if (isinf(v))
				float_overflow_error();
			result->indices[nnz] = a->indices[i];
			rx[nnz] = v;
			nnz += (v != 0);
		}
	}

	if (nnz < a->nnz)
	{
		/* fewer elements than allocated: move the values down */
		SparseVector *shrunk = InitSparseVector(a->dim, nnz);

		memcpy(shrunk->indices, result->indices, sizeof(int32) * nnz);
		memcpy(SPARSEVEC_VALUES(shrunk), rx, sizeof(float) * nnz);
		pfree(result);
		result = shrunk;
	}
	PG_RETURN_SPARSEVEC_P(result);
}

/* ----------------------------------------------------------------
 *		Comparison (btree opclass)
 *
 * As the dense vectors compare: element by element up to the smaller
 * dimensions, then by dimensions.
 * ----------------------------------------------------------------
 */

static int
SparseCmp(const SparseVector *a, const SparseVector *b)
{
	const float *ax = SPARSEVEC_VALUES(a);
	const float *bx = SPARSEVEC_VALUES(b);
	int			dim = Min(a->dim, b->dim);
	int			i = 0;
	int			j = 0;

	for (;;)
	{
		int			ai = i < a->nnz ? a->indices[i] : INT_MAX;
		int			bj = j < b->nnz ? b->indices[j] : INT_MAX;
		float		av;
		float		bv;

		/* the next position either is non-zero at */
		if (Min(ai, bj) >= dim)
			break;
		av = ai <= bj ? ax[i] : 0.0f;
		bv = bj <= ai ? bx[j] : 0.0f;
		if (av < bv)
			return -1;
		if (av > bv)
			return 1;
		i += (ai <= bj);
		j += (bj <= ai);
	}
	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

#define SPARSEVEC_CMP_FUNC(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	int			c = SparseCmp(PG_GETARG_SPARSEVEC_P(0), PG_GETARG_SPARSEVEC_P(1)); \
	PG_RETURN_BOOL(expr); \
}

SPARSEVEC_CMP_FUNC(sparsevec_lt, c < 0)
SPARSEVEC_CMP_FUNC(sparsevec_le, c <= 0)
SPARSEVEC_CMP_FUNC(sparsevec_eq, c == 0)
SPARSEVEC_CMP_FUNC(sparsevec_ne, c != 0)
SPARSEVEC_CMP_FUNC(sparsevec_ge, c >= 0)
SPARSEVEC_CMP_FUNC(sparsevec_gt, c > 0)

PG_FUNCTION_INFO_V1(sparsevec_cmp);
Datum
sparsevec_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(SparseCmp(PG_GETARG_SPARSEVEC_P(0), PG_GETARG_SPARSEVEC_P(1)));
}
