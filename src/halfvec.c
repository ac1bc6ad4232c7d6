/*-------------------------------------------------------------------------
 *
 * halfvec.c
 *	  The halfvec type: vectors of IEEE 754 half-precision elements.  Text
 *	  and binary I/O, typmod, casts, distances, arithmetic, comparison and
 *	  aggregate support.
 *
 * Every SQL-visible name here is pgvector's, with pgvector's results and
 * SQLSTATEs, so that SQL written for pgvector's halfvec runs unchanged.
 * Elements are widened to float for every computation and rounded back to
 * the nearest half (ties to even) by the conversions in distance.c; the
 * distance loops are distance.c's half-precision kernels, which on a CPU
 * with F16C add in pgvector's order (see distance.c).  See src/README
 * "The halfvec type".
 *
 * Memory: every function allocates its result in the caller's (per-call)
 * memory context; nothing is kept between calls.
 *
 * src/halfvec.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <errno.h>
#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "distance.h"
#include "halfvec.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "sparsevec.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/varbit.h"
#include "vector.h"

#define HalfToFloat(h)	DistanceHalfToFloat(h)

/* binary16: all exponent bits set is infinity (mantissa 0) or NaN */
static inline bool
HalfIsNan(uint16 h)
{
	return (h & 0x7fff) > 0x7c00;
}

static inline bool
HalfIsInf(uint16 h)
{
	return (h & 0x7fff) == 0x7c00;
}

static inline bool
HalfIsZero(uint16 h)
{
	return (h & 0x7fff) == 0;
}

/*
 * Allocate a zeroed halfvec of dim elements in the current memory context.
 */
HalfVector *
InitHalfVector(int dim)
{
	Size		size = HALFVEC_SIZE(dim);
	HalfVector *result = (HalfVector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

/*
 * Raise an error unless dim is a valid number of elements.
 */
static void
CheckDim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("halfvec must have at least 1 dimension")));
	if (dim > HALFVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("halfvec cannot have more than %d dimensions",
						HALFVEC_MAX_DIM)));
}

/*
 * Raise an error unless two halfvecs have the same number of elements.
 */
static void
CheckDims(const HalfVector *a, const HalfVector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different halfvec dimensions %d and %d",
						a->dim, b->dim)));
}

/*
 * Raise an error unless the halfvec fits the column's declared dimensions.
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
 * Raise an error if element i (0-based) of a halfvec is NaN or infinite.
 */
static void
CheckElement(uint16 h, int i)
{
	if (HalfIsNan(h))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in halfvec"),
				 errdetail("Element %d is not a finite number.", i + 1)));
	if (HalfIsInf(h))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in halfvec"),
				 errdetail("Element %d is not a finite number.", i + 1)));
}

/*
 * Report a finite value that is too large for a half; text is how the
 * user wrote it.
 */
static void
ReportOutOfRange(const char *text)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("\"%s\" is out of range for type halfvec", text),
			 errdetail("A halfvec element holds magnitudes up to 65504.")));
}

/*
 * Round f to the nearest half.  A finite f too large for a half is an
 * error; NaN and infinity are converted as they are, for CheckElement to
 * reject (the order in which pgvector reports them).
 */
static uint16
FloatToHalfChecked(float f)
{
	uint16		h = DistanceFloatToHalf(f);

	if (HalfIsInf(h) && !isinf(f))
	{
		char		buf[FLOAT_SHORTEST_DECIMAL_LEN];

		float_to_shortest_decimal_buf(f, buf);
		ReportOutOfRange(buf);
	}
	return h;
}

/* ----------------------------------------------------------------
 *		Text and binary I/O
 * ----------------------------------------------------------------
 */

/* Whitespace as scanner.c's isspace(), without depending on the locale */
static inline bool
IsHalfvecSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\v' || c == '\f';
}

/*
 * Report malformed text; p is where the parse stopped.
 */
static void
ReportSyntax(const char *str, const char *p)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type halfvec: \"%s\"", str),
			 (*p == '\0') ?
			 errdetail("Unexpected end of input.") :
			 errdetail("Unexpected character at position %d.",
					   (int) (p - str) + 1),
			 errhint("Half vectors are written as a bracketed, comma-separated list, like '[1,2,3]'.")));
}

/*
 * Parse "[1,2,3]".  The grammar and the literals are vector's (see
 * vectorparse.c), but each element is rounded to a half and checked as it
 * is read, so that the first fault in the text is the one reported, as in
 * pgvector; and a literal too small for a float is zero, not an error, as
 * pgvector's halfvec reads it.
 */
PG_FUNCTION_INFO_V1(halfvec_in);
Datum
halfvec_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	const char *p = str;
	int			maxdim = 1;
	int			dim = 0;
	HalfVector *result;

	/*
	 * There are at most one more elements than commas: size the result by
	 * that rather than by HALFVEC_MAX_DIM.
	 */
	for (const char *c = str; *c != '\0' && maxdim < HALFVEC_MAX_DIM; c++)
		if (*c == ',')
			maxdim++;
	result = InitHalfVector(maxdim);

	while (IsHalfvecSpace(*p))
		p++;
	if (*p != '[')
		ReportSyntax(str, p);
	p++;
	while (IsHalfvecSpace(*p))
		p++;
	if (*p == ']')
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("halfvec must have at least 1 dimension")));

	for (;;)
	{
		char	   *end;
		float		val;
		uint16		h;

		/* the loop is entered once, then once per comma: see maxdim */
		if (dim == HALFVEC_MAX_DIM)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("halfvec cannot have more than %d dimensions",
							HALFVEC_MAX_DIM)));
		Assert(dim < maxdim);

		while (IsHalfvecSpace(*p))
			p++;
		if (*p == '\0')
			ReportSyntax(str, p);

		errno = 0;
		val = strtof(p, &end);
		if (end == p)
			ReportSyntax(str, p);

		h = DistanceFloatToHalf(val);
		if ((errno == ERANGE && isinf(val)) || (HalfIsInf(h) && !isinf(val)))
			ReportOutOfRange(pnstrdup(p, end - p));
		CheckElement(h, dim);
		result->x[dim++] = h;

		p = end;
		while (IsHalfvecSpace(*p))
			p++;
		if (*p == ',')
			p++;
		else if (*p == ']')
		{
			p++;
			break;
		}
		else
			ReportSyntax(str, p);
	}

	while (IsHalfvecSpace(*p))
		p++;
	if (*p != '\0')
		ReportSyntax(str, p);

	CheckExpectedDim(typmod, dim);

	/* shrink the header to the elements actually read */
	result->dim = dim;
	SET_VARSIZE(result, HALFVEC_SIZE(dim));
	PG_RETURN_HALFVEC_P(result);
}

PG_FUNCTION_INFO_V1(halfvec_out);
Datum
halfvec_out(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	int			dim = vec->dim;
	char	   *buf;
	char	   *p;

	/* '[' + dim * (shortest float + ',') + ']' + NUL */
	buf = palloc(dim * (FLOAT_SHORTEST_DECIMAL_LEN + 1) + 2);
	p = buf;
	*p++ = '[';
	for (int i = 0; i < dim; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += float_to_shortest_decimal_bufn(HalfToFloat(vec->x[i]), p);
	}
	*p++ = ']';
	*p = '\0';

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_CSTRING(buf);
}

PG_FUNCTION_INFO_V1(halfvec_typmod_in);
Datum
halfvec_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errdetail("Type halfvec takes one modifier, its number of dimensions.")));
	if (*tl < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type halfvec must be at least 1")));
	if (*tl > HALFVEC_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type halfvec cannot exceed %d",
						HALFVEC_MAX_DIM)));
	PG_RETURN_INT32(*tl);
}

/*
 * Read pgvector's binary form: int16 dimension, int16 reserved (zero), then
 * the elements as big-endian binary16.  The checks, and their SQLSTATEs,
 * come in pgvector's order: a message cut short is a protocol violation
 * (pq_getmsgint), a bad dimension or reserved field a data exception.
 */
PG_FUNCTION_INFO_V1(halfvec_recv);
Datum
halfvec_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int16		dim;
	int16		unused;
	HalfVector *result;

	dim = (int16) pq_getmsgint(buf, sizeof(int16));
	unused = (int16) pq_getmsgint(buf, sizeof(int16));

	CheckDim(dim);
	CheckExpectedDim(typmod, dim);
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected unused to be 0, not %d", unused)));

	result = InitHalfVector(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = (uint16) pq_getmsgint(buf, sizeof(uint16));
		CheckElement(result->x[i], i);
	}
	PG_RETURN_HALFVEC_P(result);
}

PG_FUNCTION_INFO_V1(halfvec_send);
Datum
halfvec_send(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, vec->dim);
	pq_sendint16(&buf, vec->unused);
	for (int i = 0; i < vec->dim; i++)
		pq_sendint16(&buf, vec->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ----------------------------------------------------------------
 *		Casts
 * ----------------------------------------------------------------
 */

/*
 * Coerce a halfvec to a column's typmod (the halfvec(n) length check).
 */
PG_FUNCTION_INFO_V1(halfvec);
Datum
halfvec(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	CheckExpectedDim(typmod, vec->dim);
	PG_RETURN_HALFVEC_P(vec);
}

/*
 * Cast a one-dimensional integer[], real[], double precision[] or numeric[]
 * array to a halfvec.  Every value goes through float first (numeric with
 * float4's own rules), then is rounded to a half; a finite value beyond
 * the half range is an error, and so, once all are converted, is a NaN or
 * an infinity (pgvector's order of checks).
 */
PG_FUNCTION_INFO_V1(array_to_halfvec);
Datum
array_to_halfvec(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	int			nelems;
	HalfVector *result;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D")));
	if (ARR_HASNULL(array) && array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, NULL, &nelems);

	CheckDim(nelems);
	CheckExpectedDim(typmod, nelems);

	result = InitHalfVector(nelems);
	for (int i = 0; i < nelems; i++)
	{
		float		val;

		switch (elemtype)
		{
			case INT4OID:
				val = (float) DatumGetInt32(elems[i]);
				break;
			case FLOAT4OID:
				val = DatumGetFloat4(elems[i]);
				break;
			case FLOAT8OID:
				val = (float) DatumGetFloat8(elems[i]);
				break;
			case NUMERICOID:
				val = DatumGetFloat4(DirectFunctionCall1(numeric_float4,
														 elems[i]));
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("unsupported array element type %s",
								format_type_be(elemtype))));
				val = 0;		/* keep compiler quiet */
		}
		result->x[i] = FloatToHalfChecked(val);
	}
	for (int i = 0; i < nelems; i++)
		CheckElement(result->x[i], i);

	PG_RETURN_HALFVEC_P(result);
}

/*
 * Cast a halfvec to real[] (exactly: every half is a float).
 */
PG_FUNCTION_INFO_V1(halfvec_to_float4);
Datum
halfvec_to_float4(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	Datum	   *datums = palloc(sizeof(Datum) * vec->dim);

	for (int i = 0; i < vec->dim; i++)
		datums[i] = Float4GetDatum(HalfToFloat(vec->x[i]));
	PG_RETURN_POINTER(construct_array(datums, vec->dim, FLOAT4OID,
									  sizeof(float4), true, TYPALIGN_INT));
}

/*
 * Cast a halfvec to a vector (exactly).
 */
PG_FUNCTION_INFO_V1(halfvec_to_vector);
Datum
halfvec_to_vector(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Vector	   *result;

	CheckExpectedDim(typmod, vec->dim);
	result = InitVector(vec->dim);
	for (int i = 0; i < vec->dim; i++)
		result->x[i] = HalfToFloat(vec->x[i]);
	PG_RETURN_VECTOR_P(result);
}

/*
 * Cast a vector to a halfvec, every element rounded to the nearest half; a
 * magnitude that rounds past 65504 is an error.
 */
PG_FUNCTION_INFO_V1(vector_to_halfvec);
Datum
vector_to_halfvec(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	HalfVector *result;

	CheckDim(vec->dim);
	CheckExpectedDim(typmod, vec->dim);
	result = InitHalfVector(vec->dim);
	for (int i = 0; i < vec->dim; i++)
		result->x[i] = FloatToHalfChecked(vec->x[i]);
	PG_RETURN_HALFVEC_P(result);
}

/*
 * halfvec -> sparsevec (implicit, as pgvector): the non-zero elements.  A
 * halfvec has at most 16,000 dimensions, so the sparse vector's limits
 * (dimensions, non-zero elements) always hold.
 */
PG_FUNCTION_INFO_V1(halfvec_to_sparsevec);
Datum
halfvec_to_sparsevec(PG_FUNCTION_ARGS)
{
	HalfVector *vec = PG_GETARG_HALFVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	SparseVector *result;
	float	   *values;
	int			nnz = 0;
	int			j = 0;

	CheckExpectedDim(typmod, vec->dim);
	for (int i = 0; i < vec->dim; i++)
		if (!HalfIsZero(vec->x[i]))
			nnz++;
	result = InitSparseVector(vec->dim, nnz);
	values = SPARSEVEC_VALUES(result);
	for (int i = 0; i < vec->dim; i++)
	{
		if (HalfIsZero(vec->x[i]))
			continue;
		result->indices[j] = i;
		values[j] = HalfToFloat(vec->x[i]);
		j++;
	}
	PG_RETURN_POINTER(result);
}

/*
 * sparsevec -> halfvec (assignment, as pgvector): at most 16,000
 * dimensions, every value within the half range.
 */
PG_FUNCTION_INFO_V1(sparsevec_to_halfvec);
Datum
sparsevec_to_halfvec(PG_FUNCTION_ARGS)
{
	SparseVector *svec = PG_GETARG_SPARSEVEC_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	float	   *values = SPARSEVEC_VALUES(svec);
	HalfVector *result;

	CheckDim(svec->dim);
	CheckExpectedDim(typmod, svec->dim);
	result = InitHalfVector(svec->dim);
	for (int i = 0; i < svec->nnz; i++)
		result->x[svec->indices[i]] = FloatToHalfChecked(values[i]);
	PG_RETURN_HALFVEC_P(result);
}

/* ----------------------------------------------------------------
 *		Distances (in float, by distance.c's half-precision kernels)
 * ----------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(halfvec_l2_distance);
Datum
halfvec_l2_distance(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8(sqrt((double) half_kernels->l2_squared(a->x, b->x, a->dim)));
}

/*
 * Squared L2 distance: orders as the distance does, without a square root.
 */
PG_FUNCTION_INFO_V1(halfvec_l2_squared_distance);
Datum
halfvec_l2_squared_distance(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8((double) half_kernels->l2_squared(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(halfvec_inner_product);
Datum
halfvec_inner_product(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8((double) half_kernels->inner_product(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(halfvec_negative_inner_product);
Datum
halfvec_negative_inner_product(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8((double) -half_kernels->inner_product(a->x, b->x, a->dim));
}

/*
 * Cosine distance; NaN when either halfvec is zero.
 */
PG_FUNCTION_INFO_V1(halfvec_cosine_distance);
Datum
halfvec_cosine_distance(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);
	float		ab,
				aa,
				bb;

	CheckDims(a, b);
	half_kernels->cosine_parts(a->x, b->x, a->dim, &ab, &aa, &bb);
	PG_RETURN_FLOAT8(DistanceCosineFromParts(ab, aa, bb));
}

/* Angular distance of two unit halfvecs (see DistanceSphericalFromDot) */
PG_FUNCTION_INFO_V1(halfvec_spherical_distance);
Datum
halfvec_spherical_distance(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8(DistanceSphericalFromDot((double) half_kernels->inner_product(a->x, b->x, a->dim)));
}

PG_FUNCTION_INFO_V1(halfvec_l1_distance);
Datum
halfvec_l1_distance(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);

	CheckDims(a, b);
	PG_RETURN_FLOAT8((double) half_kernels->l1(a->x, b->x, a->dim));
}

/* ----------------------------------------------------------------
 *		Other functions
 * ----------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(halfvec_vector_dims);
Datum
halfvec_vector_dims(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);

	PG_RETURN_INT32(a->dim);
}

/*
 * Sum of squares in double: every square of a half is exact there.
 */
static double
HalfvecNorm(const HalfVector *a)
{
	double		norm = 0.0;

	for (int i = 0; i < a->dim; i++)
	{
		double		x = HalfToFloat(a->x[i]);

		norm += x * x;
	}
	return sqrt(norm);
}

PG_FUNCTION_INFO_V1(halfvec_l2_norm);
Datum
halfvec_l2_norm(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(HalfvecNorm(PG_GETARG_HALFVEC_P(0)));
}

/*
 * Scale a halfvec to unit length; the zero vector stays zero.  Each
 * quotient is computed in double and rounded to float, then to a half, as
 * pgvector does.
 */
PG_FUNCTION_INFO_V1(halfvec_l2_normalize);
Datum
halfvec_l2_normalize(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *result = InitHalfVector(a->dim);
	double		norm = HalfvecNorm(a);

	if (norm > 0)
	{
		for (int i = 0; i < a->dim; i++)
		{
			result->x[i] = DistanceFloatToHalf((float) (HalfToFloat(a->x[i]) / norm));
			if (HalfIsInf(result->x[i]))
				float_overflow_error();
		}
	}
	PG_RETURN_HALFVEC_P(result);
}

/*
 * Return bit(dim) with a 1 for every element greater than zero.
 */
PG_FUNCTION_INFO_V1(halfvec_binary_quantize);
Datum
halfvec_binary_quantize(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	Size		size = VARBITTOTALLEN(a->dim);
	VarBit	   *result = (VarBit *) palloc0(size);
	bits8	   *bits;

	SET_VARSIZE(result, size);
	VARBITLEN(result) = a->dim;
	bits = VARBITS(result);
	for (int i = 0; i < a->dim; i++)
		if (HalfToFloat(a->x[i]) > 0.0f)
			bits[i / BITS_PER_BYTE] |= 0x80 >> (i % BITS_PER_BYTE);
	PG_RETURN_VARBIT_P(result);
}

/*
 * Return count elements of a starting at 1-based position start.  As in
 * pgvector: a start before the first element is clipped to it (with the
 * count still measured from start), one past the last is an error, and
 * the count is clipped to the end.
 */
PG_FUNCTION_INFO_V1(halfvec_subvector);
Datum
halfvec_subvector(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	int32		start = PG_GETARG_INT32(1);
	int32		count = PG_GETARG_INT32(2);
	int32		end;
	int			dim;
	HalfVector *result;

	if (count < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("halfvec must have at least 1 dimension")));

	/* start + count > dim, without overflow: dim - count cannot overflow */
	if (start > a->dim - count)
		end = a->dim + 1;
	else
		end = start + count;

	if (start < 1)
		start = 1;
	else if (start > a->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("halfvec must have at least 1 dimension"),
				 errdetail("Start position %d is past the last of %d elements.",
						   start, a->dim)));

	dim = end - start;
	CheckDim(dim);
	result = InitHalfVector(dim);
	memcpy(result->x, a->x + start - 1, sizeof(uint16) * dim);
	PG_RETURN_HALFVEC_P(result);
}

/*
 * Element-wise arithmetic, in float, each result rounded to a half.  A
 * result past the half range is an error, and for a product, so is a
 * nonzero product that rounds to zero.
 */
typedef enum HalfvecArithOp
{
	HALFVEC_ADD,
	HALFVEC_SUB,
	HALFVEC_MUL
} HalfvecArithOp;

static HalfVector *
HalfvecArith(const HalfVector *a, const HalfVector *b, HalfvecArithOp op)
{
	HalfVector *result;

	CheckDims(a, b);
	result = InitHalfVector(a->dim);
	for (int i = 0; i < a->dim; i++)
	{
		float		x = HalfToFloat(a->x[i]);
		float		y = HalfToFloat(b->x[i]);
		float		r = 0.0f;

		switch (op)
		{
			case HALFVEC_ADD:
				r = x + y;
				break;
			case HALFVEC_SUB:
				r = x - y;
				break;
			case HALFVEC_MUL:
				r = x * y;
				break;
		}
		result->x[i] = DistanceFloatToHalf(r);
		if (HalfIsInf(result->x[i]))
			float_overflow_error();
		if (op == HALFVEC_MUL && HalfIsZero(result->x[i]) &&
			!HalfIsZero(a->x[i]) && !HalfIsZero(b->x[i]))
			float_underflow_error();
	}
	return result;
}

PG_FUNCTION_INFO_V1(halfvec_add);
Datum
halfvec_add(PG_FUNCTION_ARGS)
{
	PG_RETURN_HALFVEC_P(HalfvecArith(PG_GETARG_HALFVEC_P(0),
									 PG_GETARG_HALFVEC_P(1), HALFVEC_ADD));
}

PG_FUNCTION_INFO_V1(halfvec_sub);
Datum
halfvec_sub(PG_FUNCTION_ARGS)
{
	PG_RETURN_HALFVEC_P(HalfvecArith(PG_GETARG_HALFVEC_P(0),
									 PG_GETARG_HALFVEC_P(1), HALFVEC_SUB));
}

PG_FUNCTION_INFO_V1(halfvec_mul);
Datum
halfvec_mul(PG_FUNCTION_ARGS)
{
	PG_RETURN_HALFVEC_P(HalfvecArith(PG_GETARG_HALFVEC_P(0),
									 PG_GETARG_HALFVEC_P(1), HALFVEC_MUL));
}

PG_FUNCTION_INFO_V1(halfvec_concat);
Datum
halfvec_concat(PG_FUNCTION_ARGS)
{
	HalfVector *a = PG_GETARG_HALFVEC_P(0);
	HalfVector *b = PG_GETARG_HALFVEC_P(1);
	int			dim = a->dim + b->dim;
	HalfVector *result;

	CheckDim(dim);
	result = InitHalfVector(dim);
	memcpy(result->x, a->x, sizeof(uint16) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(uint16) * b->dim);
	PG_RETURN_HALFVEC_P(result);
}

/* ----------------------------------------------------------------
 *		Comparison (btree opclass): element by element, then by length
 * ----------------------------------------------------------------
 */

static int
HalfvecCmp(const HalfVector *a, const HalfVector *b)
{
	int			dim = Min(a->dim, b->dim);

	/* by value, so that -0 and 0 are equal */
	for (int i = 0; i < dim; i++)
	{
		float		x = HalfToFloat(a->x[i]);
		float		y = HalfToFloat(b->x[i]);

		if (x < y)
			return -1;
		if (x > y)
			return 1;
	}
	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

#define HALFVEC_CMP_FUNC(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	int			c = HalfvecCmp(PG_GETARG_HALFVEC_P(0), PG_GETARG_HALFVEC_P(1)); \
	PG_RETURN_BOOL(expr); \
}

HALFVEC_CMP_FUNC(halfvec_lt, c < 0)
HALFVEC_CMP_FUNC(halfvec_le, c <= 0)
HALFVEC_CMP_FUNC(halfvec_eq, c == 0)
HALFVEC_CMP_FUNC(halfvec_ne, c != 0)
HALFVEC_CMP_FUNC(halfvec_ge, c >= 0)
HALFVEC_CMP_FUNC(halfvec_gt, c > 0)

PG_FUNCTION_INFO_V1(halfvec_cmp);
Datum
halfvec_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(HalfvecCmp(PG_GETARG_HALFVEC_P(0), PG_GETARG_HALFVEC_P(1)));
}

/* ----------------------------------------------------------------
 *		Aggregates
 *
 * avg(halfvec) keeps pgvector's state: a double precision[] holding the
 * count of rows, then the running sums (in double); {0} before the first
 * row.  The state functions are SQL-callable, so they check the state as
 * pgvector does, and report the same SQLSTATEs.  sum(halfvec) uses
 * halfvec_add directly.
 * ----------------------------------------------------------------
 */

/*
 * Return the state's elements, and in *dim the number of sums after the
 * count; a state we could not have built is an internal error.
 */
static float8 *
CheckAccumState(ArrayType *state, int *dim)
{
	if (ARR_NDIM(state) != 1 || ARR_DIMS(state)[0] < 1 ||
		ARR_HASNULL(state) || ARR_ELEMTYPE(state) != FLOAT8OID)
		elog(ERROR, "halfvec aggregate state is not a valid double precision array");
	*dim = ARR_DIMS(state)[0] - 1;
	return (float8 *) ARR_DATA_PTR(state);
}

static ArrayType *
MakeAccumState(float8 n, const float8 *sums, int dim)
{
	Datum	   *datums = palloc(sizeof(Datum) * (dim + 1));

	datums[0] = Float8GetDatum(n);
	for (int i = 0; i < dim; i++)
		datums[i + 1] = Float8GetDatum(sums[i]);
	return construct_array(datums, dim + 1, FLOAT8OID, sizeof(float8),
						   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

/*
 * Raise an error unless two running sums have the same dimensions.
 */
static void
CheckStateDims(int dim1, int dim2)
{
	if (dim1 != dim2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different halfvec dimensions %d and %d", dim1, dim2)));
}

PG_FUNCTION_INFO_V1(halfvec_accum);
Datum
halfvec_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	HalfVector *v = PG_GETARG_HALFVEC_P(1);
	int			dim;
	float8	   *s = CheckAccumState(state, &dim);
	float8	   *sums;

	/* the first row sets the dimensions */
	if (dim == 0)
	{
		dim = v->dim;
		sums = palloc(sizeof(float8) * dim);
		for (int i = 0; i < dim; i++)
			sums[i] = HalfToFloat(v->x[i]);
	}
	else
	{
		CheckStateDims(dim, v->dim);
		sums = palloc(sizeof(float8) * dim);
		for (int i = 0; i < dim; i++)
		{
			sums[i] = s[i + 1] + (double) HalfToFloat(v->x[i]);
			if (isinf(sums[i]))
				float_overflow_error();
		}
	}
	PG_RETURN_ARRAYTYPE_P(MakeAccumState(s[0] + 1.0, sums, dim));
}

/*
 * Combine two partial states.  A state of no rows is the other state: in a
 * parallel plan a worker that saw no rows hands back {0}, and avg() over
 * no rows at all is NULL.  (pgvector 0.8's shared vector_combine rejects
 * {0} with {0}, so a parallel avg() over no rows fails there.)
 */
PG_FUNCTION_INFO_V1(halfvec_combine);
Datum
halfvec_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *state1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *state2 = PG_GETARG_ARRAYTYPE_P(1);
	int			dim1;
	int			dim2;
	float8	   *s1 = CheckAccumState(state1, &dim1);
	float8	   *s2 = CheckAccumState(state2, &dim2);
	float8	   *sums;

	if (s1[0] == 0.0)
		PG_RETURN_ARRAYTYPE_P(MakeAccumState(s2[0], s2 + 1, dim2));
	if (s2[0] == 0.0)
		PG_RETURN_ARRAYTYPE_P(MakeAccumState(s1[0], s1 + 1, dim1));

	CheckDim(dim1);
	CheckStateDims(dim1, dim2);
	sums = palloc(sizeof(float8) * dim1);
	for (int i = 0; i < dim1; i++)
	{
		sums[i] = s1[i + 1] + s2[i + 1];
		if (isinf(sums[i]))
			float_overflow_error();
	}
	PG_RETURN_ARRAYTYPE_P(MakeAccumState(s1[0] + s2[0], sums, dim1));
}

PG_FUNCTION_INFO_V1(halfvec_avg);
Datum
halfvec_avg(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			dim;
	float8	   *s = CheckAccumState(state, &dim);
	HalfVector *result;

	/* no rows: avg() of nothing is NULL */
	if (s[0] == 0.0)
		PG_RETURN_NULL();

	CheckDim(dim);
	result = InitHalfVector(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = FloatToHalfChecked((float) (s[i + 1] / s[0]));
		CheckElement(result->x[i], i);
	}
	PG_RETURN_HALFVEC_P(result);
}
