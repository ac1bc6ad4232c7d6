/*-------------------------------------------------------------------------
 *
 * quantize.c
 *	  Element codes (HnswCode): encoding a value for an element tuple,
 *	  decoding it, and the distance between two codes of any kinds, the
 *	  query's among them.
 *
 * A vector index stores its vectors as they are (F32) or quantized (F16,
 * BF16, I8), and a scan's query is a plain vector: the distance is then
 * asymmetric, float against codes.  halfvec, sparsevec and bit indexes
 * store their values as they are (HALF, SPARSE, BIT) and compare them with
 * the operators' own kernels, so their distances are the operators'.  An
 * index whose elements would not fit a page keeps a smaller code in the
 * graph and the value out of line (hnswpage.c); the payloads of each kind
 * are in hnsw.h (HnswCode), the kernels in distance.c, bitdistance.c and
 * sparsevec.c.  See src/README "Element codes" and "Quantization".
 *
 * src/quantize.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "bitdistance.h"
#include "distance.h"
#include "halfvec.h"
#include "hnsw.h"
#include "sparsevec.h"
#include "utils/varbit.h"

/*
 * The codes of an encoded vector; the scale and offset of an i8 one (the
 * kernels decode a code c as c * scale + offset), and the error bound
 * DistanceEncodeInt8Range returned for it.
 */
#define CodeScale(v)	(HnswQuantIsInt8((v)->kind) ? HnswCodeFloats(v)[0] : 0.0f)
#define CodeOffset(v)	(HnswQuantIsInt8((v)->kind) ? HnswCodeFloats(v)[1] : 0.0f)
#define CodeError(v)	(HnswCodeFloats(v)[2])
#define CodeData(v) \
	((const void *) &HnswCodeFloats(v)[HNSW_CODE_HEADER_FLOATS((v)->kind)])

/* Fill an i8 code's scale, offset, error and codes from dim floats x */
static void
FillInt8(HnswCode *code, const float *x, int dim)
{
	HnswCodeFloats(code)[2] =
		DistanceEncodeInt8Range(x, dim, (int8 *) CodeData(code),
								&HnswCodeFloats(code)[0],
								&HnswCodeFloats(code)[1]);
}

/*
 * Return vec (a code of an exact kind: F32, HALF, BIT or SPARSE) encoded
 * as kind q, palloc'd in cxt with extra zeroed bytes at the end (inside the
 * varlena).  A code of its own kind is copied; a vector or a halfvec can be
 * quantized, a bit string cut to its prefix.  f16 cannot hold magnitudes above 65504: such a vector is
 * rejected rather than silently clipped.
 */
static HnswCode *
EncodeAs(HnswCodeKind q, const HnswCode *vec, Size extra, MemoryContext cxt)
{
	Size		size;
	HnswCode   *code;
	const float *x = HnswCodeFloats(vec);
	float	   *decoded = NULL;

	if (q == vec->kind)
	{
		size = HnswCodeBytes(vec);
		code = MemoryContextAllocZero(cxt, size + extra);
		memcpy(code, vec, size);
		SET_VARSIZE(code, size + extra);
		return code;
	}

	/* a bit string's code out of line: its first bits */
	if (vec->kind == HNSW_CODE_BIT && q == HNSW_CODE_BIT_PREFIX)
	{
		size = HNSW_CODE_SIZE(vec->dim, q);
		code = MemoryContextAllocZero(cxt, size + extra);
		SET_VARSIZE(code, size + extra);
		code->dim = vec->dim;
		code->kind = q;
		memcpy(code->data, vec->data, HNSW_BIT_PREFIX_BITS(vec->dim) / 8);
		return code;
	}

	/* quantize a vector, or a halfvec as the floats it holds exactly */
	if (vec->kind == HNSW_CODE_HALF)
	{
		decoded = palloc(sizeof(float) * vec->dim);
		HnswDecodeVector(vec, decoded);
		x = decoded;
	}
	else if (vec->kind != HNSW_CODE_F32)
		elog(ERROR, "cannot encode an hnsw code of kind %d as %d",
			 vec->kind, (int) q);

	size = HNSW_CODE_SIZE(vec->dim, q) + extra;
	code = MemoryContextAllocZero(cxt, size);
	SET_VARSIZE(code, size);
	code->dim = vec->dim;
	code->kind = q;

	switch (q)
	{
		case HNSW_CODE_F32:
			memcpy(HnswCodeFloats(code), x, sizeof(float) * vec->dim);
			break;
		case HNSW_CODE_F16:
			{
				uint16	   *h = (uint16 *) code->data;

				for (int i = 0; i < vec->dim; i++)
				{
					if (fabsf(x[i]) > DISTANCE_HALF_MAX)
						ereport(ERROR,
								(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
								 errmsg("value %g out of range for quantization \"f16\"",
										x[i]),
								 errdetail("Quantization \"f16\" holds magnitudes up to 65504."),
								 errhint("Use quantization \"bf16\" or \"i8\", which hold any real value.")));
					h[i] = DistanceFloatToHalf(x[i]);
				}
			}
			break;
		case HNSW_CODE_BF16:
			{
				uint16	   *b = (uint16 *) code->data;

				for (int i = 0; i < vec->dim; i++)
					b[i] = DistanceFloatToBfloat(x[i]);
			}
			break;
		case HNSW_CODE_I8:
			FillInt8(code, x, vec->dim);
			break;
		default:
			elog(ERROR, "cannot encode an hnsw code of kind %d as %d",
				 vec->kind, (int) q);
	}
	if (decoded)
		pfree(decoded);
	return code;
}

/* qsort: int32s in ascending order */
static int
CompareInt32(const void *a, const void *b)
{
	int32		ia = *(const int32 *) a;
	int32		ib = *(const int32 *) b;

	return ia < ib ? -1 : ia > ib;
}

/* qsort: entries by magnitude of value, largest first, then by index */
static int
CompareEntryMagnitude(const void *a, const void *b, void *arg)
{
	const float *values = (const float *) arg;
	int32		ia = *(const int32 *) a;
	int32		ib = *(const int32 *) b;
	float		ma = fabsf(values[ia]);
	float		mb = fabsf(values[ib]);

	if (ma != mb)
		return ma > mb ? -1 : 1;
	return ia < ib ? -1 : ia > ib;
}

/*
 * Return the element code of a sparse vector, palloc'd in cxt: the vector
 * itself while its element fits a page (HnswSparseCodeNnz), otherwise its
 * entries of largest magnitude, in index order, followed by room for the
 * link to the whole vector out of line (invalid until HnswWriteExactVector
 * sets it).  The search compares those entries, and the scan re-ranks with
 * the whole vectors.
 */
static HnswCode *
EncodeSparse(HnswGraph *graph, const HnswCode *vec, MemoryContext cxt)
{
	int			nnz = HnswSparseNnz(vec);
	int			keep = HnswSparseCodeNnz(graph->m, graph->keySize, nnz);
	const int32 *ix = HnswSparseIndices(vec);
	const float *vx = HnswSparseValues(vec);
	int32	   *order;
	HnswCode   *code;
	Size		size;

	if (keep >= nnz)
		return EncodeAs(HNSW_CODE_SPARSE, vec, 0, cxt);

	/* the positions of the largest entries, then in index order again */
	order = palloc(sizeof(int32) * nnz);
	for (int i = 0; i < nnz; i++)
		order[i] = i;
	qsort_arg(order, nnz, sizeof(int32), CompareEntryMagnitude, (void *) vx);
	qsort(order, keep, sizeof(int32), CompareInt32);

	size = HNSW_SPARSE_CODE_SIZE(keep) + HNSW_VECTOR_LINK_SIZE;
	code = MemoryContextAllocZero(cxt, size);
	SET_VARSIZE(code, size);
	code->dim = 0;
	code->kind = HNSW_CODE_SPARSE;
	((int32 *) code->data)[0] = HnswSparseDim(vec);
	((int32 *) code->data)[1] = keep;
	for (int i = 0; i < keep; i++)
	{
		HnswSparseIndices(code)[i] = ix[order[i]];
		HnswSparseValues(code)[i] = vx[order[i]];
	}
	ItemPointerSetInvalid(HnswVectorGetLink(code));
	pfree(order);
	return code;
}

/*
 * Return vec (a prepared value, HnswPrepareVector) encoded as the graph's
 * elements store it, palloc'd in cxt.  When the graph keeps vectors out of line, the code
 * ends with room for the link to the exact vector (invalid until
 * HnswWriteExactVector sets it).
 */
HnswCode *
HnswEncodeVector(HnswGraph *graph, const HnswCode *vec, MemoryContext cxt)
{
	HnswCode   *code;

	if (vec->kind == HNSW_CODE_SPARSE)
		return EncodeSparse(graph, vec, cxt);
	if (!HnswGraphOutOfLine(graph))
		return EncodeAs(graph->codeKind, vec, 0, cxt);
	code = EncodeAs(graph->codeKind, vec, HNSW_VECTOR_LINK_SIZE, cxt);
	ItemPointerSetInvalid(HnswVectorGetLink(code));
	return code;
}

/*
 * Encode code, a dense vector of any dense kind (an element's vector or a
 * prepared value), as an i8 code into out, HNSW_CODE_SIZE(dim, I8) bytes;
 * decoded is room for dim floats.  An i8 code is copied.  For the codes a
 * build compares (hnswbuildcodes.c): no allocation.
 */
void
HnswEncodeInt8(const HnswCode *code, HnswCode *out, float *decoded)
{
	Size		size = HNSW_CODE_SIZE(code->dim, HNSW_CODE_I8);
	const float *x;

	if (code->kind == HNSW_CODE_I8)
	{
		memcpy(out, code, size);
		return;
	}
	if (code->kind == HNSW_CODE_F32)
		x = HnswCodeFloats(code);
	else
	{
		HnswDecodeVector(code, decoded);
		x = decoded;
	}
	SET_VARSIZE(out, size);
	out->dim = code->dim;
	out->kind = HNSW_CODE_I8;
	FillInt8(out, x, code->dim);
}

/*
 * Return vec encoded with the index's quantization option, as a vector out
 * of line is stored, palloc'd in cxt.
 */
HnswCode *
HnswEncodeExactVector(HnswGraph *graph, const HnswCode *vec, MemoryContext cxt)
{
	return EncodeAs(graph->exactKind, vec, 0, cxt);
}

/*
 * Return a prepared value (HnswPrepareVector) as a datum of the index's
 * column type, palloc'd, for HnswInsertOnDisk to prepare again: a vector, a
 * halfvec, a bit string, a sparsevec, or a real[] for an array column (a
 * double precision[] column takes it as well, by the same conversion).
 */
Datum
HnswCodeToDatum(HnswGraph *graph, const HnswCode *vec)
{
	switch ((HnswCodeKind) vec->kind)
	{
		case HNSW_CODE_F32:
			if (graph->arrays)
				return HnswVectorToArray((const Vector *) vec);
			return PointerGetDatum(vec);
		case HNSW_CODE_HALF:
			{
				HalfVector *h = InitHalfVector(vec->dim);

				memcpy(h->x, vec->data, sizeof(uint16) * vec->dim);
				return PointerGetDatum(h);
			}
		case HNSW_CODE_BIT:
			{
				Size		size = VARBITTOTALLEN(vec->dim);
				VarBit	   *b = palloc0(size);

				SET_VARSIZE(b, size);
				VARBITLEN(b) = vec->dim;
				memcpy(VARBITS(b), vec->data, VARBITBYTES(b));
				return PointerGetDatum(b);
			}
		case HNSW_CODE_SPARSE:
			{
				SparseVector *sv = InitSparseVector(HnswSparseDim(vec),
													HnswSparseNnz(vec));

				memcpy(sv->indices, HnswSparseIndices(vec),
					   sizeof(int32) * sv->nnz);
				memcpy(SPARSEVEC_VALUES(sv), HnswSparseValues(vec),
					   sizeof(float) * sv->nnz);
				return PointerGetDatum(sv);
			}
		default:
			break;
	}
	elog(ERROR, "hnsw code of kind %d is not a value", vec->kind);
	return (Datum) 0;
}

/*
 * Return whether value, a datum of the index's column type, is what code,
 * the code of a value as HnswPrepareVector makes it without normalising,
 * stands for: the same dimensions and the same bytes.  The kind of the code
 * tells the type of the datum.
 */
bool
HnswCodeEqualsDatum(const HnswCode *code, Datum value)
{
	switch ((HnswCodeKind) code->kind)
	{
		case HNSW_CODE_F32:
			{
				Vector	   *v = DatumGetVector(value);

				return v->dim == code->dim &&
					memcmp(v->x, code->data, sizeof(float) * v->dim) == 0;
			}
		case HNSW_CODE_HALF:
			{
				HalfVector *h = DatumGetHalfVector(value);

				return h->dim == code->dim &&
					memcmp(h->x, code->data, sizeof(uint16) * h->dim) == 0;
			}
		case HNSW_CODE_BIT:
			{
				VarBit	   *b = DatumGetVarBitP(value);

				return VARBITLEN(b) == code->dim &&
					memcmp(VARBITS(b), code->data, VARBITBYTES(b)) == 0;
			}
		case HNSW_CODE_SPARSE:
			{
				SparseVector *sv = DatumGetSparseVector(value);

				return sv->dim == HnswSparseDim(code) &&
					sv->nnz == HnswSparseNnz(code) &&
					memcmp(sv->indices, HnswSparseIndices(code),
						   sizeof(int32) * sv->nnz) == 0 &&
					memcmp(SPARSEVEC_VALUES(sv), HnswSparseValues(code),
						   sizeof(float) * sv->nnz) == 0;
			}
		default:
			break;
	}
	return false;
}

/*
 * Decode a code of a dense kind (a vector, quantized or not, or a halfvec)
 * into out, dim floats.
 */
void
HnswDecodeVector(const HnswCode *code, float *out)
{
	switch ((HnswCodeKind) code->kind)
	{
		case HNSW_CODE_F32:
			memcpy(out, HnswCodeFloats(code), sizeof(float) * code->dim);
			break;
		case HNSW_CODE_F16:
		case HNSW_CODE_HALF:
			distance_kernels->f16.decode(CodeData(code), 0.0f, 0.0f, out,
										 code->dim);
			break;
		case HNSW_CODE_BF16:
			distance_kernels->bf16.decode(CodeData(code), 0.0f, 0.0f, out,
										  code->dim);
			break;
		case HNSW_CODE_I8:
			distance_kernels->i8.decode(CodeData(code), CodeScale(code),
										CodeOffset(code), out, code->dim);
			break;
		default:
			elog(ERROR, "cannot decode an hnsw code of kind %d", code->kind);
	}
}

/*
 * Return whether a stored element code is what vec, a prepared value,
 * encodes to: identical values share an element.  When the
 * stored code links to an exact vector out of line and the codes agree, the
 * exact vector is read (share locks, one page at a time) and compared too.
 */
bool
HnswVectorMatches(HnswGraph *graph, const HnswCode *stored, const HnswCode *vec)
{
	HnswCode	   *code;
	bool		match;

	if (stored->kind == vec->kind && !HnswVectorHasLink(stored))
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
			HnswCode	   *exact = HnswEncodeExactVector(graph, vec,
													  CurrentMemoryContext);
			HnswCode	   *old = HnswReadExactVector(graph->index,
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

/* The distance between two halfvecs, the halfvec operators' kernels */
static float
HalfDistance(HnswGraph *graph, const HnswCode *a, const HnswCode *b)
{
	const uint16 *ax = (const uint16 *) a->data;
	const uint16 *bx = (const uint16 *) b->data;

	switch (graph->metric)
	{
		case HNSW_METRIC_L2:
			return half_kernels->l2_squared(ax, bx, a->dim);
		case HNSW_METRIC_IP:
			return -half_kernels->inner_product(ax, bx, a->dim);
		case HNSW_METRIC_L1:
			return half_kernels->l1(ax, bx, a->dim);
		default:
			break;
	}
	elog(ERROR, "halfvec hnsw index without a halfvec distance");
	return 0;
}

/*
 * The distance between two bit strings: Hamming, or Jaccard as
 * jaccard_distance computes it (rounded to float).  A prefix code (an
 * element whose bit string is out of line) has fewer bits than the query:
 * the first bits of both are compared.
 */
static float
BitDistance(HnswGraph *graph, const HnswCode *a, const HnswCode *b)
{
	Size		bytes = (Min(HnswCodeBits(a), HnswCodeBits(b)) + 7) / 8;
	const BitKernels *k = BitKernelsChosen();
	uint64_t	both;
	uint64_t	either;

	if (graph->metric == HNSW_METRIC_HAMMING)
		return (float) k->hamming((const unsigned char *) a->data,
								  (const unsigned char *) b->data, bytes);
	if (graph->metric != HNSW_METRIC_JACCARD)
		elog(ERROR, "bit hnsw index without a bit distance");
	k->jaccard((const unsigned char *) a->data,
			   (const unsigned char *) b->data, bytes, &both, &either);
	if (both == 0)
		return 1.0f;
	return (float) (1.0 - (double) both / (double) either);
}

/* The distance between two sparse vectors, the sparsevec operators' loops */
static float
SparseDistance(HnswGraph *graph, const HnswCode *a, const HnswCode *b)
{
	int			an = HnswSparseNnz(a);
	int			bn = HnswSparseNnz(b);
	const int32 *ai = HnswSparseIndices(a);
	const int32 *bi = HnswSparseIndices(b);
	const float *ax = HnswSparseValues(a);
	const float *bx = HnswSparseValues(b);

	switch (graph->metric)
	{
		case HNSW_METRIC_L2:
			return SparseL2SquaredRaw(an, ai, ax, bn, bi, bx);
		case HNSW_METRIC_IP:
			return -SparseInnerProductRaw(an, ai, ax, bn, bi, bx);
		case HNSW_METRIC_L1:
			return SparseL1Raw(an, ai, ax, bn, bi, bx);
		default:
			break;
	}
	elog(ERROR, "sparsevec hnsw index without a sparsevec distance");
	return 0;
}

/*
 * Return the distance between a and b, two codes that are not both plain
 * vectors (HnswDistance does those), in the index's internal order.  Codes
 * of one exact kind (HALF, BIT, SPARSE) are compared with their operators'
 * kernels.  Otherwise at least one is quantized: the float side stays float
 * (asymmetric distance); when neither is, as when an element's neighbours
 * are chosen, or the other is a halfvec, one is decoded into the graph's
 * scratch buffer (and kept there while the same vector comes back).
 */
float
HnswCodeDistance(HnswGraph *graph, const HnswCode *a, const HnswCode *b)
{
	const HnswCode *q = a;
	const HnswCode *c = b;
	const float *qx;
	const QuantKernels *k;

	if (a->kind == b->kind)
	{
		switch ((HnswCodeKind) a->kind)
		{
			case HNSW_CODE_HALF:
				return HalfDistance(graph, a, b);
			case HNSW_CODE_BIT:
				return BitDistance(graph, a, b);
			case HNSW_CODE_SPARSE:
				return SparseDistance(graph, a, b);
			case HNSW_CODE_BIT_PREFIX:
				return BitDistance(graph, a, b);
			default:
				break;
		}
	}
	/* a bit string and a prefix code of one */
	if ((a->kind == HNSW_CODE_BIT || a->kind == HNSW_CODE_BIT_PREFIX) &&
		(b->kind == HNSW_CODE_BIT || b->kind == HNSW_CODE_BIT_PREFIX))
		return BitDistance(graph, a, b);

	/* every metric we compute is symmetric: put the quantized one second */
	if (c->kind == HNSW_CODE_F32 || c->kind == HNSW_CODE_HALF)
	{
		q = b;
		c = a;
	}
	if (q->kind != HNSW_CODE_F32)
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
		qx = HnswCodeFloats(q);

	switch ((HnswCodeKind) c->kind)
	{
		case HNSW_CODE_F16:
			k = &distance_kernels->f16;
			break;
		case HNSW_CODE_BF16:
			k = &distance_kernels->bf16;
			break;
		case HNSW_CODE_I8:
			k = &distance_kernels->i8;
			break;
		default:
			elog(ERROR, "cannot compare hnsw codes of kinds %d and %d",
				 a->kind, b->kind);
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
		default:
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
HnswCodeBounds(const HnswCode *code, float *error, float *magnitude)
{
	double		h = 0.0;
	double		top = 0.0;

	if (code->kind == HNSW_CODE_I8)
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
		default:
			break;
	}
	elog(ERROR, "quantized hnsw index without a built-in distance");
	return 0.0;
}

/*
 * Return a lower bound of the exact distance (as HnswQuantLowerBound's)
 * between the graph's query and the vector of an element whose code, of
 * the graph's code kind, is at distance from it; error and magnitude are
 * the code's bounds (HnswCodeBounds), queryL1 and queryL2 the query's norms.
 * For i8 codes, HnswQuantLowerBound's: against the table's vectors for an
 * i8 index, against the vectors out of line when these are the column's
 * own values (not an f16 or bf16 index's).  For bf16 codes of the column's
 * own values (an f32 index with its vectors out of line) under L2, L1 and
 * cosine: see below.  -Inf when there is none (then re-ranking reads every
 * candidate before returning one).
 *
 * A bf16 code rounds each component to 8 significant bits, to nearest, so
 * |x - c| <= u |x| + a per component, u = 2^-8 and a = 2^-133 for subnormal
 * values; DistanceFloatToBfloat truncates instead only the values that
 * would round to infinity (above 3.39e38), which the guard against huge
 * distances and queries below leaves out.  Then for L2 |x - c|_2 <= (u |c|_2 +
 * a sqrt(dim)) / (1 - u), and |c|_2 <= |q|_2 + |q - c|_2, so |q - x|_2 >=
 * (1 - u') |q - c|_2 - u' |q|_2 - a', the bound growing with |q - c|_2 (u'
 * = u / (1 - u)).  L1 likewise with L1 norms.  Under cosine the vectors are
 * unit vectors (normalised in float: taken as at most 1 + rel), so the
 * inner products differ by at most |q|_2 |x - c|_2.  Float rounding of the
 * code's distance and of the exact one as in HnswQuantLowerBound.
 */
double
HnswCodeLowerBound(HnswGraph *graph, float distance, float error,
				   float magnitude, double queryL1, double queryL2)
{
	int			dim = graph->dim;
	double		rel = (dim + 8) * ldexp(1.0, -22);
	double		u = ldexp(1.0, -8) / (1.0 - ldexp(1.0, -8));
	double		a = ldexp(1.0, -133) / (1.0 - ldexp(1.0, -8));
	double		d = distance;
	double		bound;
	double		unit = 1.0 + rel;

	/*
	 * i8 codes of the values compared exactly: the table's (an i8 index)
	 * or those out of line, unless these are of another kind (an f16 or
	 * bf16 index's, whose codes encode the column's values)
	 */
	if (graph->codeKind == HNSW_CODE_I8 &&
		(!HnswGraphOutOfLine(graph) || graph->exactKind == graph->valueKind))
		return HnswQuantLowerBound(graph, distance, error, magnitude, queryL1);
	if (graph->codeKind != HNSW_CODE_BF16 ||
		graph->exactKind != graph->valueKind)
		return -HUGE_VAL;
	/* no component of such a code can be near the float's largest values */
	if (!(fabs(d) < 1e37 && queryL1 < 1e37))
		return -HUGE_VAL;
	switch (graph->metric)
	{
		case HNSW_METRIC_L2:
			bound = sqrt(Max(d, 0.0) * (1.0 - rel));
			bound = (1.0 - u) * bound - u * queryL2 * (1.0 + rel) -
				a * sqrt((double) dim);
			if (bound <= 0.0)
				return 0.0;
			return bound * bound * (1.0 - rel);
		case HNSW_METRIC_L1:
			bound = Max(d, 0.0) * (1.0 - rel);
			bound = (1.0 - u) * bound - u * queryL1 * (1.0 + rel) - a * dim;
			if (bound <= 0.0)
				return 0.0;
			return bound * (1.0 - rel);
		case HNSW_METRIC_IP:
			if (!graph->normalize)
				break;
			/* |q . x - q . c| <= |q| |x - c|, |q . c| <= |q| |c| */
			return d - queryL2 * unit * (u * (1.0 + u) + 2.0 * rel * (1.0 + u)) -
				queryL2 * a * sqrt((double) dim);
		default:
			break;
	}
	return -HUGE_VAL;
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
HnswQuantRefinedBound(HnswGraph *graph, const HnswCode *query,
					  const HnswCode *code, float distance)
{
	int			dim = graph->dim;
	float		error;
	float		magnitude;
	double		h;
	double		rel = (dim + 8) * ldexp(1.0, -22);
	double		l1;
	double		bound;

	Assert(graph->metric == HNSW_METRIC_L2 && HnswQuantIsInt8(code->kind));
	HnswCodeBounds(code, &error, &magnitude);
	h = error;
	l1 = distance_kernels->i8.l1(HnswCodeFloats(query), CodeData(code), CodeScale(code),
								 CodeOffset(code), dim);
	bound = (Max((double) distance, 0.0) * (1.0 - rel) -
			 2.0 * h * l1 * (1.0 + rel)) * (1.0 - rel);
	return Max(bound, 0.0);
}
