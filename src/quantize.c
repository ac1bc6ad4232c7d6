/*-------------------------------------------------------------------------
 *
 * quantize.c
 *	  The f16, bf16 and i8 encodings of quantized hnsw indexes: encoding a
 *	  vector for an element tuple, decoding it, and distances between a
 *	  float query and an encoded element.
 *
 * An encoded vector keeps the Vector header (varlena length, dim) and puts
 * its HnswQuantization in the header's spare field, so that element tuples,
 * the element cache and everything that copies vectors by VARSIZE work
 * unchanged; HnswDistance sees the tag and comes here.  The payload:
 *
 *	f16, bf16	dim uint16 codes, padded to 4 bytes
 *	i8			float scale, offset and error bound, then dim int8 codes,
 *				padded to 4 bytes (HNSW_QUANT_I8)
 *
 * The kernels themselves live in distance.c.  See src/README "Quantization".
 *
 * src/quantize.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "distance.h"
#include "hnsw.h"

/*
 * The codes of an encoded vector; the scale and offset of an i8 one (the
 * kernels decode a code c as c * scale + offset), and the error bound
 * DistanceEncodeInt8Range returned for it.
 */
#define CodeScale(v)	(HnswQuantIsInt8((v)->unused) ? (v)->x[0] : 0.0f)
#define CodeOffset(v)	(HnswQuantIsInt8((v)->unused) ? (v)->x[1] : 0.0f)
#define CodeError(v)	((v)->x[2])
#define CodeData(v)		((const void *) &(v)->x[HNSW_CODE_HEADER_FLOATS((v)->unused)])

/*
 * Return vec (a plain float vector) encoded with quantization q, palloc'd in
 * cxt with extra zeroed bytes at the end (inside the varlena).  f16 cannot
 * hold magnitudes above 65504: such a vector is rejected rather than
 * silently clipped.
 */
static Vector *
EncodeAs(HnswQuantization q, const Vector *vec, Size extra, MemoryContext cxt)
{
	Size		size = HNSW_CODE_SIZE(vec->dim, q) + extra;
	Vector	   *code = MemoryContextAllocZero(cxt, size);

	Assert(vec->unused == HNSW_QUANT_F32);
	SET_VARSIZE(code, size);
	code->dim = vec->dim;
	code->unused = q;

	switch (q)
	{
		case HNSW_QUANT_F32:
			memcpy(code->x, vec->x, sizeof(float) * vec->dim);
			break;
		case HNSW_QUANT_F16:
			{
				uint16	   *h = (uint16 *) code->x;

				for (int i = 0; i < vec->dim; i++)
				{
					if (fabsf(vec->x[i]) > DISTANCE_HALF_MAX)
						ereport(ERROR,
								(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
								 errmsg("value %g out of range for quantization \"f16\"",
										vec->x[i]),
								 errdetail("Quantization \"f16\" holds magnitudes up to 65504."),
								 errhint("Use quantization \"bf16\" or \"i8\", which hold any real value.")));
					h[i] = DistanceFloatToHalf(vec->x[i]);
				}
			}
			break;
		case HNSW_QUANT_BF16:
			{
				uint16	   *b = (uint16 *) code->x;

				for (int i = 0; i < vec->dim; i++)
					b[i] = DistanceFloatToBfloat(vec->x[i]);
			}
			break;
		case HNSW_QUANT_I8:
			code->x[2] = DistanceEncodeInt8Range(vec->x, vec->dim,
												 (int8 *) CodeData(code),
												 &code->x[0], &code->x[1]);
			break;
	}
	return code;
}

/*
 * Return vec (a plain float vector) encoded as the graph's elements store
 * it, palloc'd in cxt.  When the graph keeps vectors out of line, the code
 * ends with room for the link to the exact vector (invalid until
 * HnswWriteExactVector sets it).
 */
Vector *
HnswEncodeVector(HnswGraph *graph, const Vector *vec, MemoryContext cxt)
{
	Vector	   *code;

	if (!HnswGraphOutOfLine(graph))
		return EncodeAs(graph->quantization, vec, 0, cxt);
	code = EncodeAs(graph->quantization, vec, HNSW_VECTOR_LINK_SIZE, cxt);
	ItemPointerSetInvalid(HnswVectorGetLink(code));
	return code;
}

/*
 * Return vec encoded with the index's quantization option, as a vector out
 * of line is stored, palloc'd in cxt.
 */
Vector *
HnswEncodeExactVector(HnswGraph *graph, const Vector *vec, MemoryContext cxt)
{
	return EncodeAs(graph->exactQuantization, vec, 0, cxt);
}

/*
 * Decode an encoded (or plain) vector into out, dim floats.
 */
void
HnswDecodeVector(const Vector *code, float *out)
{
	switch ((HnswQuantization) code->unused)
	{
		case HNSW_QUANT_F32:
			memcpy(out, code->x, sizeof(float) * code->dim);
			break;
		case HNSW_QUANT_F16:
			distance_kernels->f16.decode(CodeData(code), 0.0f, 0.0f, out,
										 code->dim);
			break;
		case HNSW_QUANT_BF16:
			distance_kernels->bf16.decode(CodeData(code), 0.0f, 0.0f, out,
										  code->dim);
			break;
		case HNSW_QUANT_I8:
			distance_kernels->i8.decode(CodeData(code), CodeScale(code),
										CodeOffset(code), out, code->dim);
			break;
		default:
			elog(ERROR, "unknown hnsw vector encoding %d", code->unused);
	}
}

/*
 * Return whether a stored (possibly encoded) element vector is what vec, a
 * plain vector, encodes to: identical vectors share an element.  When the
 * stored code links to an exact vector out of line and the codes agree, the
 * exact vector is read (share locks, one page at a time) and compared too.
 */
bool
HnswVectorMatches(HnswGraph *graph, const Vector *stored, const Vector *vec)
{
	Vector	   *code;
	bool		match;

	if (stored->unused == HNSW_QUANT_F32)
		return VARSIZE(stored) == VARSIZE(vec) &&
			memcmp(stored, vec, VARSIZE(vec)) == 0;

	code = HnswEncodeVector(graph, vec, CurrentMemoryContext);
	if (HnswVectorHasLink(stored))
	{
		Size		size = VARSIZE(stored) - HNSW_VECTOR_LINK_SIZE;

		match = VARSIZE(stored) == VARSIZE(code) &&
			memcmp(stored, code, size) == 0;
		if (match)
		{
			Vector	   *exact = HnswEncodeExactVector(graph, vec,
													  CurrentMemoryContext);
			Vector	   *old = HnswReadExactVector(graph->index,
												  HnswVectorGetLink(stored),
												  graph->dim, NULL);

			match = old != NULL && VARSIZE(old) == VARSIZE(exact) &&
				memcmp(old, exact, VARSIZE(exact)) == 0;
			pfree(exact);
			if (old)
				pfree(old);
		}
	}
	else
		match = VARSIZE(stored) == VARSIZE(code) &&
			memcmp(stored, code, VARSIZE(code)) == 0;
	pfree(code);
	return match;
}

/*
 * Return the distance between a and b, at least one of them encoded, in the
 * index's internal order (see HnswDistance).  The float side stays float
 * (asymmetric distance); when both are encoded, as when an element's
 * neighbours are chosen, one is decoded into the graph's scratch buffer
 * (and kept there while the same vector comes back).
 */
float
HnswQuantDistance(HnswGraph *graph, const Vector *a, const Vector *b)
{
	const Vector *q = a;
	const Vector *c = b;
	const float *qx;
	const QuantKernels *k;

	/* every metric we compute is symmetric: put the encoded one second */
	if (c->unused == HNSW_QUANT_F32)
	{
		q = b;
		c = a;
	}
	if (q->unused != HNSW_QUANT_F32)
	{
		/*
		 * Neighbour selection compares one candidate with every neighbour
		 * kept so far, and vacuum's repair searches from one element: the
		 * same vector comes back, so keep it decoded.  Element vectors are
		 * never freed while their graph lives; the cache is also dropped at
		 * every HnswNewSearch.
		 */
		if (graph->scratch == NULL)
			graph->scratch = MemoryContextAlloc(graph->cxt,
												sizeof(float) * graph->dim);
		if (graph->scratchOf != q)
		{
			HnswDecodeVector(q, graph->scratch);
			graph->scratchOf = q;
		}
		qx = graph->scratch;
	}
	else
		qx = q->x;

	switch ((HnswQuantization) c->unused)
	{
		case HNSW_QUANT_F16:
			k = &distance_kernels->f16;
			break;
		case HNSW_QUANT_BF16:
			k = &distance_kernels->bf16;
			break;
		case HNSW_QUANT_I8:
			k = &distance_kernels->i8;
			break;
		default:
			elog(ERROR, "unknown hnsw vector encoding %d", c->unused);
			return 0;
	}

	switch (graph->metric)
	{
		case HNSW_METRIC_L2:
			return k->l2_squared(qx, CodeData(c), CodeScale(c), CodeOffset(c),
								 c->dim);
		case HNSW_METRIC_IP:
			return -k->inner_product(qx, CodeData(c), CodeScale(c),
									 CodeOffset(c), c->dim);
		case HNSW_METRIC_L1:
			return k->l1(qx, CodeData(c), CodeScale(c), CodeOffset(c),
						 c->dim);
		case HNSW_METRIC_OTHER:
			break;
	}
	elog(ERROR, "quantized hnsw index without a built-in distance");
	return 0;
}

/*
 * Set *error to a bound of |x[i] - d[i]| for every component of the vector
 * x that code encodes, d being code decoded by the kernels, and *magnitude
 * to a bound of every |x[i]|; both 0 for a code that is not i8.
 *
 * An i8 code records its error with the decoding computed exactly; the kernels' decoding (one or
 * two float roundings) adds at most 2^-23 of |offset| + 128 scale.  A
 * lossless code (error 0) decodes exactly in any float arithmetic.
 */
void
HnswCodeBounds(const Vector *code, float *error, float *magnitude)
{
	double		h = 0.0;
	double		top = 0.0;

	if (code->unused == HNSW_QUANT_I8)
	{
		top = fabs((double) CodeOffset(code)) + 128.0 * (double) CodeScale(code);
		if (CodeError(code) != 0.0f)
			h = (double) CodeError(code) + top * ldexp(1.0, -22);
	}
	*error = (float) (h * (1.0 + ldexp(1.0, -20)));
	*magnitude = (float) ((top + h) * (1.0 + ldexp(1.0, -20)));
}

/*
 * Return a lower bound of the exact distance (in the index's internal
 * order, as HnswDistance computes it from the plain vectors) between the
 * graph's query and any vector whose i8 code has the bounds error and
 * magnitude (HnswCodeBounds) and whose quantized distance to the query was
 * computed as distance.  queryL1 is the query's L1 norm.  Used by the
 * re-ranking scan; see src/README "Quantization".
 *
 * Every component of the vector is within h = error of its decoding.  So
 * for L2 the two points are at most h * sqrt(dim) apart, the inner
 * products differ by at most h * |q|_1, and the L1 distances by at most
 * h * dim.  Both the quantized distance and the exact one are sums of dim
 * float terms, each within a relative (dim + 8) * 2^-22 of the sum of
 * their magnitudes; that is subtracted too.
 */
double
HnswQuantLowerBound(HnswGraph *graph, float distance, float error,
					float magnitude, double queryL1)
{
	int			dim = graph->dim;
	double		h = error;
	double		rel = (dim + 8) * ldexp(1.0, -22);
	double		d = distance;
	double		bound;

	switch (graph->metric)
	{
		case HNSW_METRIC_L2:
			bound = sqrt(Max(d, 0.0) * (1.0 - rel)) - h * sqrt((double) dim);
			if (bound <= 0.0)
				return 0.0;
			return bound * bound * (1.0 - rel);
		case HNSW_METRIC_IP:
			/* |q . x| <= |q|_1 max|x|, and max|x| <= magnitude */
			return d - h * queryL1 - 2.0 * rel * queryL1 * (double) magnitude;
		case HNSW_METRIC_L1:
			bound = Max(d, 0.0) * (1.0 - rel) - h * dim;
			if (bound <= 0.0)
				return 0.0;
			return bound * (1.0 - rel);
		case HNSW_METRIC_OTHER:
			break;
	}
	elog(ERROR, "quantized hnsw index without a built-in distance");
	return 0.0;
}

/*
 * Return a lower bound of the exact squared L2 distance between the query
 * and any vector whose i8 code is code, whose quantized distance to the
 * query was computed as distance; tighter than HnswQuantLowerBound's, at
 * the price of a pass over the code.  With e the vector minus its decoding
 * (every component within h, HnswCodeBounds) and d = q minus the decoding,
 * |q - x|^2 = |d|^2 - 2 d.e + |e|^2 >= |d|^2 - 2 h |d|_1.  Float rounding
 * as in HnswQuantLowerBound.
 */
double
HnswQuantRefinedBound(HnswGraph *graph, const Vector *query,
					  const Vector *code, float distance)
{
	int			dim = graph->dim;
	float		error;
	float		magnitude;
	double		h;
	double		rel = (dim + 8) * ldexp(1.0, -22);
	double		l1;
	double		bound;

	Assert(graph->metric == HNSW_METRIC_L2 && HnswQuantIsInt8(code->unused));
	HnswCodeBounds(code, &error, &magnitude);
	h = error;
	l1 = distance_kernels->i8.l1(query->x, CodeData(code), CodeScale(code),
								 CodeOffset(code), dim);
	bound = (Max((double) distance, 0.0) * (1.0 - rel) -
			 2.0 * h * l1 * (1.0 + rel)) * (1.0 - rel);
	return Max(bound, 0.0);
}
