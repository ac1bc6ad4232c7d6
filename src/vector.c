/*-------------------------------------------------------------------------
 *
 * vector.c
 *	  The vector type: text and binary I/O, typmod, casts, distance and
 *	  arithmetic functions, comparison, and aggregate support.
 *
 * Every SQL-visible name here is pgvector's, with the same behaviour, so
 * that applications written for pgvector run unchanged.  The parsing
 * itself lives in vectorparse.c; the distance loops in distance.c.
 *
 * Memory: every function allocates its result in the caller's (per-call)
 * memory context; nothing is kept between calls.
 *
 * src/vector.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "distance.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "vector.h"
#include "vectorparse.h"

/*
 * Allocate a zeroed vector of dim elements in the current memory context.
 */
Vector *
InitVector(int dim)
{
	Size		size = VECTOR_SIZE(dim);
	Vector	   *result = (Vector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = dim;
	return result;
}

/*
 * Raise an error unless dim is a valid number of elements.
 */
void
VectorCheckDim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));
	if (dim > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector cannot have more than %d dimensions",
						VECTOR_MAX_DIM)));
}

/*
 * Raise an error unless two vectors have the same number of elements.
 */
void
VectorCheckDims(const Vector *a, const Vector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d",
						a->dim, b->dim)));
}

/*
 * Raise an error unless value may be stored in a vector.
 */
void
VectorCheckElement(float value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in vector")));
	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in vector")));
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
 * Check the result of an arithmetic operation for overflow.
 */
static inline void
CheckArithmetic(float value)
{
	if (isinf(value))
		float_overflow_error();
}

/* ----------------------------------------------------------------
 *		Text and binary I/O
 * ----------------------------------------------------------------
 */

/*
 * Report a NaN or infinite element found by the parser, with the same
 * messages and SQLSTATE as VectorCheckElement().
 */
static void
ReportNotFinite(VectorParseResult r)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 r.status == VECTOR_PARSE_NAN ?
			 errmsg("NaN not allowed in vector") :
			 errmsg("infinite value not allowed in vector"),
			 errdetail("Element %d is not a finite number.", r.dim + 1)));
}

/*
 * Turn a failed text parse into an error.
 */
static void
ReportTextError(const char *str, VectorParseResult r)
{
	switch (r.status)
	{
		case VECTOR_PARSE_OK:
			return;
		case VECTOR_PARSE_EMPTY:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("vector must have at least 1 dimension")));
			break;
		case VECTOR_PARSE_TOO_MANY:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("vector cannot have more than %d dimensions",
							VECTOR_MAX_DIM)));
			break;
		case VECTOR_PARSE_OUT_OF_RANGE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("element %d of vector is out of range for type real",
							r.dim + 1)));
			break;
		case VECTOR_PARSE_NAN:
		case VECTOR_PARSE_INFINITE:
			ReportNotFinite(r);
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type vector: \"%s\"", str),
					 (str[r.pos] == '\0') ?
					 errdetail("Unexpected end of input.") :
					 errdetail("Unexpected character at position %d.",
							   (int) r.pos + 1),
					 errhint("Vectors are written as a bracketed, comma-separated list, like '[1,2,3]'.")));
	}
}

PG_FUNCTION_INFO_V1(vector_in);
Datum
vector_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			maxdim = VectorTextMaxDim(str, VECTOR_MAX_DIM);
	VectorParseResult r;
	Vector	   *result;

	/*
	 * Sized by the commas rather than by VECTOR_MAX_DIM, so loading many
	 * short vectors does not allocate 64 kB each.
	 */
	result = InitVector(maxdim);
	r = VectorParseText(str, result->x, maxdim);
	if (r.status == VECTOR_PARSE_TOO_MANY && maxdim < VECTOR_MAX_DIM)
		elog(ERROR, "vector element count exceeded its bound");
	ReportTextError(str, r);
	CheckExpectedDim(typmod, r.dim);

	/* shrink the header to the elements actually read */
	result->dim = r.dim;
	SET_VARSIZE(result, VECTOR_SIZE(r.dim));
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_out);
Datum
vector_out(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
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
		p += float_to_shortest_decimal_bufn(vec->x[i], p);
	}
	*p++ = ']';
	*p = '\0';

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_CSTRING(buf);
}

PG_FUNCTION_INFO_V1(vector_typmod_in);
Datum
vector_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errdetail("A vector type takes one modifier, its number of dimensions.")));
	if (*tl < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector must be at least 1")));
	if (*tl > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector cannot exceed %d",
						VECTOR_MAX_DIM)));
	PG_RETURN_INT32(*tl);
}

PG_FUNCTION_INFO_V1(vector_recv);
Datum
vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	const unsigned char *start = (const unsigned char *) buf->data + buf->cursor;
	size_t		len = buf->len - buf->cursor;
	VectorParseResult r;
	Vector	   *result;

	/*
	 * Sized by the header's dimension when it is valid, so a short vector
	 * does not allocate 64 kB; the parser checks the dimension again.
	 */
	result = InitVector(VectorBinaryMaxDim(start, len, VECTOR_MAX_DIM));
	r = VectorParseBinary(start, len, result->x, result->dim, typmod);

	/* SQLSTATEs as pgvector's recv and pq_getmsg* raise them */
	switch (r.status)
	{
		case VECTOR_PARSE_OK:
			break;
		case VECTOR_PARSE_BAD_DIM:
			ereport(ERROR,
					(errcode(r.dim < 1 ? ERRCODE_DATA_EXCEPTION :
							 ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("invalid dimensions in binary vector: %d", r.dim),
					 errdetail("The dimensions must be between 1 and %d.",
							   VECTOR_MAX_DIM)));
			break;
		case VECTOR_PARSE_WRONG_DIM:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected %d dimensions, not %d", typmod, r.dim)));
			break;
		case VECTOR_PARSE_BAD_UNUSED:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("expected unused to be 0, not %d", r.dim)));
			break;
		case VECTOR_PARSE_NAN:
		case VECTOR_PARSE_INFINITE:
			ReportNotFinite(r);
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("insufficient data left in message")));
	}
	buf->cursor += (int) r.pos;
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_send);
Datum
vector_send(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, vec->dim);
	pq_sendint16(&buf, vec->unused);
	for (int i = 0; i < vec->dim; i++)
		pq_sendfloat4(&buf, vec->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ----------------------------------------------------------------
 *		Casts
 * ----------------------------------------------------------------
 */

/*
 * Coerce a vector to a column's typmod (the vector(n) length check).
 */
PG_FUNCTION_INFO_V1(vector);
Datum
vector(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	CheckExpectedDim(typmod, vec->dim);
	PG_RETURN_VECTOR_P(vec);
}

/*
 * Cast a one-dimensional integer[], real[], double precision[] or numeric[]
 * array to a vector.  Nothing is dropped: NULL elements, multi-dimensional
 * arrays and values that do not fit float4 are errors.
 *
 * The checks and their SQLSTATEs are pgvector's, in its order: NULLs, the
 * dimensions, then the conversion of every element, then NaN and Infinity.
 * A double precision value is rounded to float4 (so one too small becomes
 * zero, and one too large Infinity, an error); a numeric one goes through
 * numeric_float4(), which rejects one too small or too large as float4in()
 * does.
 */
PG_FUNCTION_INFO_V1(array_to_vector);
Datum
array_to_vector(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	int			nelems;
	Vector	   *result;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D")));
	if (array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &elems, NULL, &nelems);

	VectorCheckDim(nelems);
	CheckExpectedDim(typmod, nelems);

	result = InitVector(nelems);
	for (int i = 0; i < nelems; i++)
	{
		switch (elemtype)
		{
			case INT4OID:
				result->x[i] = (float) DatumGetInt32(elems[i]);
				break;
			case FLOAT4OID:
				result->x[i] = DatumGetFloat4(elems[i]);
				break;
			case FLOAT8OID:
				result->x[i] = (float) DatumGetFloat8(elems[i]);
				break;
			case NUMERICOID:
				result->x[i] = DatumGetFloat4(DirectFunctionCall1(numeric_float4,
																  elems[i]));
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("unsupported array element type %s",
								format_type_be(elemtype))));
		}
	}

	for (int i = 0; i < nelems; i++)
	{
		/* a finite double too large for float4 became Infinity */
		if (elemtype == FLOAT8OID && isinf(result->x[i]) &&
			!isinf(DatumGetFloat8(elems[i])))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("element %d of array is out of range for type real",
							i + 1)));
		VectorCheckElement(result->x[i]);
	}

	PG_RETURN_VECTOR_P(result);
}

/*
 * Cast a vector to real[].
 */
PG_FUNCTION_INFO_V1(vector_to_float4);
Datum
vector_to_float4(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	Datum	   *datums = palloc(sizeof(Datum) * vec->dim);

	for (int i = 0; i < vec->dim; i++)
		datums[i] = Float4GetDatum(vec->x[i]);
	PG_RETURN_POINTER(construct_array(datums, vec->dim, FLOAT4OID,
									  sizeof(float4), true,
									  TYPALIGN_INT));
}

/*
 * Cast a vector to double precision[].
 */
PG_FUNCTION_INFO_V1(vector_to_float8);
Datum
vector_to_float8(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	Datum	   *datums = palloc(sizeof(Datum) * vec->dim);

	for (int i = 0; i < vec->dim; i++)
		datums[i] = Float8GetDatum((double) vec->x[i]);
	PG_RETURN_POINTER(construct_array(datums, vec->dim, FLOAT8OID,
									  sizeof(float8), FLOAT8PASSBYVAL,
									  TYPALIGN_DOUBLE));
}

/* ----------------------------------------------------------------
 *		Distances
 * ----------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(l2_distance);
Datum
l2_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VectorCheckDims(a, b);
	PG_RETURN_FLOAT8(sqrt((double) VectorL2SquaredDistance(a->x, b->x, a->dim)));
}

/*
 * Squared L2 distance: what the index orders by for vector_l2_ops, since it
 * orders the same way as the distance and saves a square root.
 */
PG_FUNCTION_INFO_V1(vector_l2_squared_distance);
Datum
vector_l2_squared_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VectorCheckDims(a, b);
	PG_RETURN_FLOAT8((double) VectorL2SquaredDistance(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(inner_product);
Datum
inner_product(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VectorCheckDims(a, b);
	PG_RETURN_FLOAT8((double) VectorInnerProduct(a->x, b->x, a->dim));
}

PG_FUNCTION_INFO_V1(vector_negative_inner_product);
Datum
vector_negative_inner_product(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VectorCheckDims(a, b);
	PG_RETURN_FLOAT8(-(double) VectorInnerProduct(a->x, b->x, a->dim));
}

/* Angular distance of two unit vectors (see DistanceSphericalFromDot) */
PG_FUNCTION_INFO_V1(vector_spherical_distance);
Datum
vector_spherical_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VectorCheckDims(a, b);
	PG_RETURN_FLOAT8(DistanceSphericalFromDot((double) VectorInnerProduct(a->x, b->x, a->dim)));
}

PG_FUNCTION_INFO_V1(cosine_distance);
Datum
cosine_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	float		ab,
				aa,
				bb;

	VectorCheckDims(a, b);
	distance_kernels->cosine_parts(a->x, b->x, a->dim, &ab, &aa, &bb);
	PG_RETURN_FLOAT8(DistanceCosineFromParts(ab, aa, bb));
}

PG_FUNCTION_INFO_V1(l1_distance);
Datum
l1_distance(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);

	VectorCheckDims(a, b);
	PG_RETURN_FLOAT8((double) VectorL1Distance(a->x, b->x, a->dim));
}

/* ----------------------------------------------------------------
 *		Other functions
 * ----------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(vector_dims);
Datum
vector_dims(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);

	PG_RETURN_INT32(a->dim);
}

PG_FUNCTION_INFO_V1(vector_norm);
Datum
vector_norm(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	double		norm = 0.0;

	/* double accumulation: the norm is returned as double precision */
	for (int i = 0; i < a->dim; i++)
		norm += (double) a->x[i] * (double) a->x[i];
	PG_RETURN_FLOAT8(sqrt(norm));
}

/*
 * Scale a vector to unit length; the zero vector stays zero.
 */
PG_FUNCTION_INFO_V1(l2_normalize);
Datum
l2_normalize(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *result = InitVector(a->dim);
	double		norm = 0.0;

	for (int i = 0; i < a->dim; i++)
		norm += (double) a->x[i] * (double) a->x[i];
	norm = sqrt(norm);

	if (norm > 0)
	{
		for (int i = 0; i < a->dim; i++)
		{
			result->x[i] = (float) (a->x[i] / norm);
			CheckArithmetic(result->x[i]);
		}
	}
	PG_RETURN_VECTOR_P(result);
}

/*
 * Return count elements of a starting at 1-based position start, clipped to
 * the vector as substring() clips to a string.
 */
PG_FUNCTION_INFO_V1(subvector);
Datum
subvector(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	int32		start = PG_GETARG_INT32(1);
	int32		count = PG_GETARG_INT32(2);
	int64		end = (int64) start + count;
	Vector	   *result;
	int			dim;

	if (count < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));

	if (start < 1)
		start = 1;
	if (end > a->dim + 1)
		end = a->dim + 1;
	dim = (int) (end - start);
	VectorCheckDim(dim);

	result = InitVector(dim);
	memcpy(result->x, a->x + start - 1, sizeof(float) * dim);
	PG_RETURN_VECTOR_P(result);
}

/*
 * Element-wise arithmetic.  Overflow to Infinity is an error; so is a
 * product that underflows to zero from two nonzero factors (float4 * float4
 * does the same).  A sum or difference cannot underflow: float4 addition of
 * subnormals is exact.
 */
typedef enum VectorArithOp
{
	VECTOR_ADD,
	VECTOR_SUB,
	VECTOR_MUL
} VectorArithOp;

static Vector *
VectorArith(const Vector *a, const Vector *b, VectorArithOp op)
{
	Vector	   *result;

	VectorCheckDims(a, b);
	result = InitVector(a->dim);
	for (int i = 0; i < a->dim; i++)
	{
		switch (op)
		{
			case VECTOR_ADD:
				result->x[i] = a->x[i] + b->x[i];
				break;
			case VECTOR_SUB:
				result->x[i] = a->x[i] - b->x[i];
				break;
			case VECTOR_MUL:
				result->x[i] = a->x[i] * b->x[i];
				if (result->x[i] == 0.0f && a->x[i] != 0.0f && b->x[i] != 0.0f)
					float_underflow_error();
				break;
		}
		CheckArithmetic(result->x[i]);
	}
	return result;
}

PG_FUNCTION_INFO_V1(vector_add);
Datum
vector_add(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(VectorArith(PG_GETARG_VECTOR_P(0),
								   PG_GETARG_VECTOR_P(1), VECTOR_ADD));
}

PG_FUNCTION_INFO_V1(vector_sub);
Datum
vector_sub(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(VectorArith(PG_GETARG_VECTOR_P(0),
								   PG_GETARG_VECTOR_P(1), VECTOR_SUB));
}

PG_FUNCTION_INFO_V1(vector_mul);
Datum
vector_mul(PG_FUNCTION_ARGS)
{
	PG_RETURN_VECTOR_P(VectorArith(PG_GETARG_VECTOR_P(0),
								   PG_GETARG_VECTOR_P(1), VECTOR_MUL));
}

PG_FUNCTION_INFO_V1(vector_concat);
Datum
vector_concat(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	int			dim = a->dim + b->dim;
	Vector	   *result;

	VectorCheckDim(dim);
	result = InitVector(dim);
	memcpy(result->x, a->x, sizeof(float) * a->dim);
	memcpy(result->x + a->dim, b->x, sizeof(float) * b->dim);
	PG_RETURN_VECTOR_P(result);
}

/* ----------------------------------------------------------------
 *		Comparison (btree opclass): element by element, then by length
 * ----------------------------------------------------------------
 */

static int
VectorCmp(const Vector *a, const Vector *b)
{
	int			dim = Min(a->dim, b->dim);

	for (int i = 0; i < dim; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	if (a->dim < b->dim)
		return -1;
	if (a->dim > b->dim)
		return 1;
	return 0;
}

#define VECTOR_CMP_FUNC(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	int			c = VectorCmp(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1)); \
	PG_RETURN_BOOL(expr); \
}

VECTOR_CMP_FUNC(vector_lt, c < 0)
VECTOR_CMP_FUNC(vector_le, c <= 0)
VECTOR_CMP_FUNC(vector_eq, c == 0)
VECTOR_CMP_FUNC(vector_ne, c != 0)
VECTOR_CMP_FUNC(vector_ge, c >= 0)
VECTOR_CMP_FUNC(vector_gt, c > 0)

PG_FUNCTION_INFO_V1(vector_cmp);
Datum
vector_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(VectorCmp(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1)));
}

/* ----------------------------------------------------------------
 *		Aggregates
 *
 * avg(vector) keeps its state as a double precision[] of n + 1 elements:
 * the count, then the running sums (in double, so long sums do not drift).
 * The initial state {0} has no sums yet; the first vector sets n.  sum(vector)
 * uses vector_add directly.
 *
 * The state functions are SQL-callable, so a state may come from a direct
 * call rather than from the aggregate machinery: its shape is checked
 * (an elog, as PostgreSQL's own float8_accum and pgvector do: the
 * machinery never passes anything else), and everything a vector is built
 * from is checked as for any other vector, with pgvector's SQLSTATEs: the
 * dimensions, sums that overflow, and the averages' values.
 * ----------------------------------------------------------------
 */

/*
 * Return the state array's values, and in *dim its number of sums (its
 * length less the count), after checking its shape.
 */
static float8 *
GetAccumState(ArrayType *state, int *dim)
{
	if (ARR_NDIM(state) != 1 || ARR_HASNULL(state) ||
		ARR_ELEMTYPE(state) != FLOAT8OID || ARR_DIMS(state)[0] < 1)
		elog(ERROR, "vector aggregate state is not a valid double precision array");
	*dim = ARR_DIMS(state)[0] - 1;
	return (float8 *) ARR_DATA_PTR(state);
}

/*
 * Build a state array from the count n and dim sums.
 */
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
 * Check a sum of the state for overflow (a state from a direct call may
 * hold Infinity already).
 */
static inline void
CheckAccumSum(float8 value)
{
	if (isinf(value))
		float_overflow_error();
}

PG_FUNCTION_INFO_V1(vector_accum);
Datum
vector_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	Vector	   *v = PG_GETARG_VECTOR_P(1);
	int			dim;
	float8	   *s = GetAccumState(state, &dim);
	float8	   *sums = palloc(sizeof(float8) * v->dim);

	if (dim == 0)
	{
		/* the first vector: its values are the sums */
		for (int i = 0; i < v->dim; i++)
			sums[i] = v->x[i];
	}
	else
	{
		if (dim != v->dim)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different vector dimensions %d and %d",
							dim, v->dim)));
		for (int i = 0; i < dim; i++)
		{
			sums[i] = s[i + 1] + v->x[i];
			CheckAccumSum(sums[i]);
		}
	}

	PG_RETURN_ARRAYTYPE_P(MakeAccumState(s[0] + 1.0, sums, v->dim));
}

/*
 * Combine two states (parallel aggregation).  A state that has counted no
 * rows adds nothing, so the other is the result, and two of them are the
 * initial state {0} again.  (pgvector 0.8.6 fails on the last case, which
 * a parallel avg() meets when a worker's share of the rows is empty.)
 */
PG_FUNCTION_INFO_V1(vector_combine);
Datum
vector_combine(PG_FUNCTION_ARGS)
{
	int			dim1,
				dim2;
	float8	   *s1 = GetAccumState(PG_GETARG_ARRAYTYPE_P(0), &dim1);
	float8	   *s2 = GetAccumState(PG_GETARG_ARRAYTYPE_P(1), &dim2);
	float8	   *sums;

	if (s1[0] == 0.0 && s2[0] == 0.0 && dim2 == 0)
		PG_RETURN_ARRAYTYPE_P(MakeAccumState(0.0, NULL, 0));
	if (s1[0] == 0.0)
	{
		VectorCheckDim(dim2);
		PG_RETURN_ARRAYTYPE_P(MakeAccumState(s2[0], s2 + 1, dim2));
	}
	if (s2[0] == 0.0)
	{
		VectorCheckDim(dim1);
		PG_RETURN_ARRAYTYPE_P(MakeAccumState(s1[0], s1 + 1, dim1));
	}

	VectorCheckDim(dim1);
	if (dim1 != dim2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", dim1, dim2)));

	sums = palloc(sizeof(float8) * dim1);
	for (int i = 0; i < dim1; i++)
	{
		sums[i] = s1[i + 1] + s2[i + 1];
		CheckAccumSum(sums[i]);
	}
	PG_RETURN_ARRAYTYPE_P(MakeAccumState(s1[0] + s2[0], sums, dim1));
}

PG_FUNCTION_INFO_V1(vector_avg);
Datum
vector_avg(PG_FUNCTION_ARGS)
{
	int			dim;
	float8	   *s = GetAccumState(PG_GETARG_ARRAYTYPE_P(0), &dim);
	Vector	   *result;

	/* no rows: avg() of nothing is NULL */
	if (s[0] == 0.0)
		PG_RETURN_NULL();

	VectorCheckDim(dim);
	result = InitVector(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = (float) (s[i + 1] / s[0]);
		VectorCheckElement(result->x[i]);
	}
	PG_RETURN_VECTOR_P(result);
}
