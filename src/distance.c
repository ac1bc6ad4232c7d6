/*-------------------------------------------------------------------------
 *
 * distance.c
 *	  Distance kernels: a scalar version and SIMD versions (AVX2 + FMA +
 *	  F16C, AVX-512F), one of which is chosen once, when the library loads.
 *	  Besides float against float, each set has asymmetric kernels (float
 *	  query against f16, bf16 or i8 codes) for quantized indexes, and a
 *	  squared L2 kernel that gives up once past a bound (searches).  The
 *	  halfvec type has kernels of its own (half against half, scalar and
 *	  F16C), chosen apart from the rest.
 *
 * Every SIMD kernel has a scalar twin with the same contract, and
 * test/kernels checks that they agree on random inputs of awkward lengths.
 * The SIMD variants are compiled with per-function target attributes, so
 * the library as a whole is built for the baseline x86-64 (never with
 * -march=native) and runs on any CPU; the dispatch below checks CPUID.
 *
 * Accumulation order differs between variants (several partial sums in
 * SIMD lanes versus one running sum), so results agree within float
 * rounding, not bit for bit.
 *
 * This file includes no backend header: see distance.h.
 *
 * src/distance.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "distance.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HNSW_X86_SIMD 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* ----------------------------------------------------------------
 *		Scalar kernels (the reference, and the fallback)
 * ----------------------------------------------------------------
 */

/*
 * Squared L2 distance, given up once it exceeds bound when bounded: the sum
 * so far is compared with it after every DISTANCE_BOUND_STEP dimensions.
 * Every kernel set has one such body, inlined into its two kernels, so that
 * the bounded kernel computes exactly what the plain one does until it stops
 * (see distance.h).
 */
static inline float
ScalarL2SquaredBody(const float *a, const float *b, int dim, float bound,
					int bounded)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
	{
		float		d = a[i] - b[i];

		sum += d * d;
		if (bounded && (i + 1) % DISTANCE_BOUND_STEP == 0 && sum > bound)
			break;
	}
	return sum;
}

static float
ScalarL2Squared(const float *a, const float *b, int dim)
{
	return ScalarL2SquaredBody(a, b, dim, 0.0f, 0);
}

static float
ScalarL2SquaredBounded(const float *a, const float *b, int dim, float bound)
{
	return ScalarL2SquaredBody(a, b, dim, bound, 1);
}

static float
ScalarInnerProduct(const float *a, const float *b, int dim)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
		sum += a[i] * b[i];
	return sum;
}

static float
ScalarL1(const float *a, const float *b, int dim)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
		sum += fabsf(a[i] - b[i]);
	return sum;
}

static void
ScalarCosineParts(const float *a, const float *b, int dim,
				  float *ab, float *aa, float *bb)
{
	float		sab = 0.0f,
				saa = 0.0f,
				sbb = 0.0f;

	for (int i = 0; i < dim; i++)
	{
		sab += a[i] * b[i];
		saa += a[i] * a[i];
		sbb += b[i] * b[i];
	}
	*ab = sab;
	*aa = saa;
	*bb = sbb;
}

/* ----------------------------------------------------------------
 *		Quantized encodings: scalar conversions and asymmetric kernels
 * ----------------------------------------------------------------
 */

/*
 * Round a float to the nearest IEEE 754 binary16 (ties to even).  Values of
 * magnitude 65520 and above become infinity; callers reject those first.
 */
uint16_t
DistanceFloatToHalf(float f)
{
	uint32_t	x;
	uint32_t	sign;
	uint32_t	absx;

	memcpy(&x, &f, sizeof(x));
	sign = (x >> 16) & 0x8000;
	absx = x & 0x7fffffff;
	if (absx >= 0x7f800000)
		return sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0);
	if (absx >= 0x477ff000)
		return sign | 0x7c00;
	if (absx < 0x38800000)
	{
		/* subnormal half: a multiple of 2^-24, exact scaling then rounding */
		float		a;

		memcpy(&a, &absx, sizeof(a));
		return sign | (uint16_t) lrintf(a * 16777216.0f);
	}
	/* rebias the exponent (127 -> 15) and round the dropped 13 bits */
	absx += 0xc8000fff + ((absx >> 13) & 1);
	return sign | (uint16_t) (absx >> 13);
}

/* Return the float a binary16 value stands for */
float
DistanceHalfToFloat(uint16_t h)
{
	uint32_t	sign = (uint32_t) (h & 0x8000) << 16;
	uint32_t	exp = (h >> 10) & 0x1f;
	uint32_t	mant = h & 0x3ff;
	uint32_t	x;
	float		f;

	if (exp == 0)
	{
		f = ldexpf((float) mant, -24);
		return sign ? -f : f;
	}
	if (exp == 31)
		x = sign | 0x7f800000 | (mant << 13);
	else
		x = sign | ((exp + 112) << 23) | (mant << 13);
	memcpy(&f, &x, sizeof(f));
	return f;
}

/*
 * Round a finite float to the nearest bfloat16 (ties to even); a value that
 * would round up to infinity is truncated to the largest bfloat16 instead.
 */
uint16_t
DistanceFloatToBfloat(float f)
{
	uint32_t	x;
	uint32_t	r;

	memcpy(&x, &f, sizeof(x));
	if ((x & 0x7fffffff) >= 0x7f800000)
		return (uint16_t) (x >> 16);
	r = x + 0x7fff + ((x >> 16) & 1);
	if ((r & 0x7fffffff) >= 0x7f800000)
		return (uint16_t) (x >> 16);
	return (uint16_t) (r >> 16);
}

/* Return the float a bfloat16 value stands for */
float
DistanceBfloatToFloat(uint16_t b)
{
	uint32_t	x = (uint32_t) b << 16;
	float		f;

	memcpy(&f, &x, sizeof(f));
	return f;
}

/*
 * Encode dim floats as int8 codes in [-127, 127] with one scale for the
 * vector, max |x| / 127, so that x[i] is approximately codes[i] * scale
 * whatever the vector's magnitude.  Return the scale (0 for a zero vector).
 * The encoding of "i8" indexes built before DistanceEncodeInt8Range, which
 * go on using it; the kernels decode it with offset 0.
 */
float
DistanceEncodeInt8(const float *x, int dim, int8_t *codes)
{
	double		maxabs = 0.0;
	float		scale;

	for (int i = 0; i < dim; i++)
		if (fabs((double) x[i]) > maxabs)
			maxabs = fabs((double) x[i]);
	scale = (float) (maxabs / 127.0);
	for (int i = 0; i < dim; i++)
	{
		double		c = scale > 0.0f ? rint((double) x[i] / scale) : 0.0;

		if (c > 127.0)
			c = 127.0;
		else if (c < -127.0)
			c = -127.0;
		codes[i] = (int8_t) c;
	}
	return scale;
}

/*
 * Try to encode dim floats, lo the least and hi the greatest (lo < hi), as
 * int8 codes on a grid whose step is a power of two and whose points are
 * multiples of the step: codes[i] * step + offset == x[i] exactly, in any
 * float arithmetic, because every operand and result is a float.  Vectors
 * of 8-bit pixels, of int8 embeddings or of small integers lie on such a
 * grid.  Return false (codes undefined) if the vector does not.
 */
static int
EncodeInt8OnGrid(const float *x, int dim, double lo, double hi,
				 int8_t *codes, float *scale, float *offset)
{
	int			e;
	double		step;

	/* the least power of two >= (hi - lo) / 255 = m 2^e, 1/2 <= m < 1 */
	if (frexp((hi - lo) / 255.0, &e) == 0.5)
		e--;
	step = ldexp(1.0, e);
	for (int attempt = 0; attempt < 2; attempt++, step *= 2.0)
	{
		double		base = floor(lo / step) * step; /* code -128 */
		double		off = base + 128.0 * step;

		if (hi > base + 255.0 * step)
			continue;			/* the grid starts too low: a step twice as
								 * large covers [lo, hi] */
		if ((double) (float) step != step || (double) (float) off != off)
			return 0;
		for (int i = 0; i < dim; i++)
		{
			double		c = rint(((double) x[i] - off) / step);

			if (c < -128.0 || c > 127.0 || c * step + off != (double) x[i])
				return 0;
			codes[i] = (int8_t) c;
		}
		*scale = (float) step;
		*offset = (float) off;
		return 1;
	}
	return 0;
}

/*
 * Encode dim floats as int8 codes in [-128, 127] on a range of the vector's
 * own, so that x[i] is approximately codes[i] * scale + offset whatever the
 * vector's magnitude and sign: a grid of 256 points with a power-of-two step
 * if the vector lies on one (EncodeInt8OnGrid: lossless), otherwise 256
 * points spread evenly from the least value to the greatest.  Set *scale
 * and *offset and return a bound of max |x[i] - (codes[i] * scale +
 * offset)|, the decoding computed exactly: 0 for a lossless code.
 */
float
DistanceEncodeInt8Range(const float *x, int dim, int8_t *codes,
						float *scale, float *offset)
{
	double		lo;
	double		hi;
	double		maxerr = 0.0;
	float		s;
	float		o;

	if (dim <= 0)
	{
		*scale = 0.0f;
		*offset = 0.0f;
		return 0.0f;
	}
	lo = hi = x[0];
	for (int i = 1; i < dim; i++)
	{
		if (x[i] < lo)
			lo = x[i];
		if (x[i] > hi)
			hi = x[i];
	}
	if (lo == hi)
	{
		/* a constant vector: every code 0, the offset the value itself */
		memset(codes, 0, dim);
		*scale = 0.0f;
		*offset = x[0];
		return 0.0f;
	}
	if (EncodeInt8OnGrid(x, dim, lo, hi, codes, scale, offset))
		return 0.0f;

	s = (float) ((hi - lo) / 255.0);
	o = (float) (lo + 128.0 * (double) s);
	for (int i = 0; i < dim; i++)
	{
		double		c = s > 0.0f ? rint(((double) x[i] - o) / s) : 0.0;
		double		err;

		if (c > 127.0)
			c = 127.0;
		else if (c < -128.0)
			c = -128.0;
		codes[i] = (int8_t) c;
		err = fabs((double) x[i] - (c * (double) s + (double) o));
		if (err > maxerr)
			maxerr = err;
	}
	*scale = s;
	*offset = o;
	/* rounded up, so that it stays a bound */
	return nextafterf((float) maxerr, INFINITY);
}

#define DecodeHalf(c, s, o)	((void) (s), (void) (o), DistanceHalfToFloat(c))
#define DecodeBfloat(c, s, o)	((void) (s), (void) (o), DistanceBfloatToFloat(c))
#define DecodeInt8(c, s, o)	((float) (c) * (s) + (o))

/* The three scalar kernels of one encoding, decoding one code at a time */
#define SCALAR_QUANT_KERNELS(Name, CodeType, DECODE) \
static float \
Scalar##Name##L2Squared(const float *q, const void *cv, float scale, float offset, int dim) \
{ \
	const CodeType *c = cv; \
	float		sum = 0.0f; \
\
	for (int i = 0; i < dim; i++) \
	{ \
		float		d = q[i] - DECODE(c[i], scale, offset); \
\
		sum += d * d; \
	} \
	return sum; \
} \
\
static float \
Scalar##Name##InnerProduct(const float *q, const void *cv, float scale, float offset, int dim) \
{ \
	const CodeType *c = cv; \
	float		sum = 0.0f; \
\
	for (int i = 0; i < dim; i++) \
		sum += q[i] * DECODE(c[i], scale, offset); \
	return sum; \
} \
\
static float \
Scalar##Name##L1(const float *q, const void *cv, float scale, float offset, int dim) \
{ \
	const CodeType *c = cv; \
	float		sum = 0.0f; \
\
	for (int i = 0; i < dim; i++) \
		sum += fabsf(q[i] - DECODE(c[i], scale, offset)); \
	return sum; \
} \
\
static void \
Scalar##Name##Decode(const void *cv, float scale, float offset, float *out, int dim) \
{ \
	const CodeType *c = cv; \
\
	for (int i = 0; i < dim; i++) \
		out[i] = DECODE(c[i], scale, offset); \
}

SCALAR_QUANT_KERNELS(Half, uint16_t, DecodeHalf)
SCALAR_QUANT_KERNELS(Bfloat, uint16_t, DecodeBfloat)
SCALAR_QUANT_KERNELS(Int8, int8_t, DecodeInt8)

static const DistanceKernels scalar_kernels = {
	"scalar", ScalarL2Squared, ScalarL2SquaredBounded, ScalarInnerProduct, ScalarL1,
	ScalarCosineParts,
	{ScalarHalfL2Squared, ScalarHalfInnerProduct, ScalarHalfL1, ScalarHalfDecode},
	{ScalarBfloatL2Squared, ScalarBfloatInnerProduct, ScalarBfloatL1, ScalarBfloatDecode},
	{ScalarInt8L2Squared, ScalarInt8InnerProduct, ScalarInt8L1, ScalarInt8Decode}
};

/*
 * Half-precision kernels (the halfvec type): both operands are binary16
 * codes, widened to float (exactly) and summed in float, one element after
 * another.
 */
static float
ScalarHalfvecL2Squared(const uint16_t *a, const uint16_t *b, int dim)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
	{
		float		d = DistanceHalfToFloat(a[i]) - DistanceHalfToFloat(b[i]);

		sum += d * d;
	}
	return sum;
}

static float
ScalarHalfvecInnerProduct(const uint16_t *a, const uint16_t *b, int dim)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
		sum += DistanceHalfToFloat(a[i]) * DistanceHalfToFloat(b[i]);
	return sum;
}

static float
ScalarHalfvecL1(const uint16_t *a, const uint16_t *b, int dim)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
		sum += fabsf(DistanceHalfToFloat(a[i]) - DistanceHalfToFloat(b[i]));
	return sum;
}

static void
ScalarHalfvecCosineParts(const uint16_t *a, const uint16_t *b, int dim,
						 float *ab, float *aa, float *bb)
{
	float		sab = 0.0f,
				saa = 0.0f,
				sbb = 0.0f;

	for (int i = 0; i < dim; i++)
	{
		float		x = DistanceHalfToFloat(a[i]);
		float		y = DistanceHalfToFloat(b[i]);

		sab += x * y;
		saa += x * x;
		sbb += y * y;
	}
	*ab = sab;
	*aa = saa;
	*bb = sbb;
}

static const HalfDistanceKernels scalar_half_kernels = {
	"scalar", ScalarHalfvecL2Squared, ScalarHalfvecInnerProduct,
	ScalarHalfvecL1, ScalarHalfvecCosineParts
};

#ifdef HNSW_X86_SIMD

/* ----------------------------------------------------------------
 *		AVX2 + FMA kernels: 8 lanes, two independent accumulators
 * ----------------------------------------------------------------
 */

/*
 * Sum the eight lanes as ((0+4) + (2+6)) + ((1+5) + (3+7)).  AVX alone, so
 * that the F16C half-precision kernels, which must not need AVX2, share it.
 */
__attribute__((target("avx")))
static inline float
Avx2HorizontalSum(__m256 v)
{
	__m128		lo = _mm256_castps256_ps128(v);
	__m128		hi = _mm256_extractf128_ps(v, 1);
	__m128		s = _mm_add_ps(lo, hi);

	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"), always_inline))
static inline float
Avx2L2SquaredBody(const float *a, const float *b, int dim, float bound,
				  int bounded)
{
	__m256		acc0 = _mm256_setzero_ps();
	__m256		acc1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 16 <= dim; i += 16)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));

		acc0 = _mm256_fmadd_ps(d0, d0, acc0);
		acc1 = _mm256_fmadd_ps(d1, d1, acc1);
		if (bounded && (i + 16) % DISTANCE_BOUND_STEP == 0)
		{
			sum = Avx2HorizontalSum(_mm256_add_ps(acc0, acc1));
			if (sum > bound)
				return sum;
		}
	}
	for (; i + 8 <= dim; i += 8)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));

		acc0 = _mm256_fmadd_ps(d0, d0, acc0);
	}
	sum = Avx2HorizontalSum(_mm256_add_ps(acc0, acc1));
	for (; i < dim; i++)
	{
		float		d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
}

__attribute__((target("avx2,fma")))
static float
Avx2L2Squared(const float *a, const float *b, int dim)
{
	return Avx2L2SquaredBody(a, b, dim, 0.0f, 0);
}

__attribute__((target("avx2,fma")))
static float
Avx2L2SquaredBounded(const float *a, const float *b, int dim, float bound)
{
	return Avx2L2SquaredBody(a, b, dim, bound, 1);
}

__attribute__((target("avx2,fma")))
static float
Avx2InnerProduct(const float *a, const float *b, int dim)
{
	__m256		acc0 = _mm256_setzero_ps();
	__m256		acc1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 16 <= dim; i += 16)
	{
		acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
		acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
	}
	for (; i + 8 <= dim; i += 8)
		acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
	sum = Avx2HorizontalSum(_mm256_add_ps(acc0, acc1));
	for (; i < dim; i++)
		sum += a[i] * b[i];
	return sum;
}

__attribute__((target("avx2,fma")))
static float
Avx2L1(const float *a, const float *b, int dim)
{
	/* clearing the sign bit is fabsf() on every lane */
	const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	__m256		acc0 = _mm256_setzero_ps();
	__m256		acc1 = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 16 <= dim; i += 16)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));

		acc0 = _mm256_add_ps(acc0, _mm256_and_ps(d0, absmask));
		acc1 = _mm256_add_ps(acc1, _mm256_and_ps(d1, absmask));
	}
	for (; i + 8 <= dim; i += 8)
	{
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));

		acc0 = _mm256_add_ps(acc0, _mm256_and_ps(d0, absmask));
	}
	sum = Avx2HorizontalSum(_mm256_add_ps(acc0, acc1));
	for (; i < dim; i++)
		sum += fabsf(a[i] - b[i]);
	return sum;
}

__attribute__((target("avx2,fma")))
static void
Avx2CosineParts(const float *a, const float *b, int dim,
				float *ab, float *aa, float *bb)
{
	__m256		vab = _mm256_setzero_ps();
	__m256		vaa = _mm256_setzero_ps();
	__m256		vbb = _mm256_setzero_ps();
	float		sab,
				saa,
				sbb;
	int			i = 0;

	for (; i + 8 <= dim; i += 8)
	{
		__m256		va = _mm256_loadu_ps(a + i);
		__m256		vb = _mm256_loadu_ps(b + i);

		vab = _mm256_fmadd_ps(va, vb, vab);
		vaa = _mm256_fmadd_ps(va, va, vaa);
		vbb = _mm256_fmadd_ps(vb, vb, vbb);
	}
	sab = Avx2HorizontalSum(vab);
	saa = Avx2HorizontalSum(vaa);
	sbb = Avx2HorizontalSum(vbb);
	for (; i < dim; i++)
	{
		sab += a[i] * b[i];
		saa += a[i] * a[i];
		sbb += b[i] * b[i];
	}
	*ab = sab;
	*aa = saa;
	*bb = sbb;
}

/*
 * Asymmetric kernels, AVX2 + FMA + F16C: eight codes are widened to floats
 * per step (vcvtph2ps for f16, a 16-bit shift for bf16, sign extension and
 * one multiply-add by the scale and offset for i8), then the float
 * arithmetic above.
 */
#define AVX2_TARGET "avx2,fma,f16c"

__attribute__((target(AVX2_TARGET)))
static inline __m256
Avx2LoadHalf(const uint16_t *p, __m256 scale, __m256 offset)
{
	(void) scale;
	(void) offset;
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) p));
}

__attribute__((target(AVX2_TARGET)))
static inline __m256
Avx2LoadBfloat(const uint16_t *p, __m256 scale, __m256 offset)
{
	__m256i		w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *) p));

	(void) scale;
	(void) offset;
	return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

__attribute__((target(AVX2_TARGET)))
static inline __m256
Avx2LoadInt8(const int8_t *p, __m256 scale, __m256 offset)
{
	__m256i		w = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *) p));

	return _mm256_fmadd_ps(_mm256_cvtepi32_ps(w), scale, offset);
}

#define AVX2_QUANT_KERNELS(Name, CodeType, LOAD8, DECODE) \
__attribute__((target(AVX2_TARGET))) \
static float \
Avx2##Name##L2Squared(const float *q, const void *cv, float scale, float offset, int dim) \
{ \
	const CodeType *c = cv; \
	const __m256 vs = _mm256_set1_ps(scale); \
	const __m256 vo = _mm256_set1_ps(offset); \
	__m256		acc0 = _mm256_setzero_ps(); \
	__m256		acc1 = _mm256_setzero_ps(); \
	float		sum; \
	int			i = 0; \
\
	for (; i + 16 <= dim; i += 16) \
	{ \
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), LOAD8(c + i, vs, vo)); \
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(q + i + 8), LOAD8(c + i + 8, vs, vo)); \
\
		acc0 = _mm256_fmadd_ps(d0, d0, acc0); \
		acc1 = _mm256_fmadd_ps(d1, d1, acc1); \
	} \
	for (; i + 8 <= dim; i += 8) \
	{ \
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), LOAD8(c + i, vs, vo)); \
\
		acc0 = _mm256_fmadd_ps(d0, d0, acc0); \
	} \
	sum = Avx2HorizontalSum(_mm256_add_ps(acc0, acc1)); \
	for (; i < dim; i++) \
	{ \
		float		d = q[i] - DECODE(c[i], scale, offset); \
\
		sum += d * d; \
	} \
	return sum; \
} \
\
__attribute__((target(AVX2_TARGET))) \
static float \
Avx2##Name##InnerProduct(const float *q, const void *cv, float scale, float offset, int dim) \
{ \
	const CodeType *c = cv; \
	const __m256 vs = _mm256_set1_ps(scale); \
	const __m256 vo = _mm256_set1_ps(offset); \
	__m256		acc0 = _mm256_setzero_ps(); \
	__m256		acc1 = _mm256_setzero_ps(); \
	float		sum; \
	int			i = 0; \
\
	for (; i + 16 <= dim; i += 16) \
	{ \
		acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LOAD8(c + i, vs, vo), acc0); \
		acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), LOAD8(c + i + 8, vs, vo), acc1); \
	} \
	for (; i + 8 <= dim; i += 8) \
		acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LOAD8(c + i, vs, vo), acc0); \
	sum = Avx2HorizontalSum(_mm256_add_ps(acc0, acc1)); \
	for (; i < dim; i++) \
		sum += q[i] * DECODE(c[i], scale, offset); \
	return sum; \
} \
\
__attribute__((target(AVX2_TARGET))) \
static float \
Avx2##Name##L1(const float *q, const void *cv, float scale, float offset, int dim) \
{ \
	const CodeType *c = cv; \
	const __m256 vs = _mm256_set1_ps(scale); \
	const __m256 vo = _mm256_set1_ps(offset); \
	const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)); \
	__m256		acc0 = _mm256_setzero_ps(); \
	__m256		acc1 = _mm256_setzero_ps(); \
	float		sum; \
	int			i = 0; \
\
	for (; i + 16 <= dim; i += 16) \
	{ \
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), LOAD8(c + i, vs, vo)); \
		__m256		d1 = _mm256_sub_ps(_mm256_loadu_ps(q + i + 8), LOAD8(c + i + 8, vs, vo)); \
\
		acc0 = _mm256_add_ps(acc0, _mm256_and_ps(d0, absmask)); \
		acc1 = _mm256_add_ps(acc1, _mm256_and_ps(d1, absmask)); \
	} \
	for (; i + 8 <= dim; i += 8) \
	{ \
		__m256		d0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), LOAD8(c + i, vs, vo)); \
\
		acc0 = _mm256_add_ps(acc0, _mm256_and_ps(d0, absmask)); \
	} \
	sum = Avx2HorizontalSum(_mm256_add_ps(acc0, acc1)); \
	for (; i < dim; i++) \
		sum += fabsf(q[i] - DECODE(c[i], scale, offset)); \
	return sum; \
} \
\
__attribute__((target(AVX2_TARGET))) \
static void \
Avx2##Name##Decode(const void *cv, float scale, float offset, float *out, int dim) \
{ \
	const CodeType *c = cv; \
	const __m256 vs = _mm256_set1_ps(scale); \
	const __m256 vo = _mm256_set1_ps(offset); \
	int			i = 0; \
\
	for (; i + 8 <= dim; i += 8) \
		_mm256_storeu_ps(out + i, LOAD8(c + i, vs, vo)); \
	for (; i < dim; i++) \
		out[i] = DECODE(c[i], scale, offset); \
}

AVX2_QUANT_KERNELS(Half, uint16_t, Avx2LoadHalf, DecodeHalf)
AVX2_QUANT_KERNELS(Bfloat, uint16_t, Avx2LoadBfloat, DecodeBfloat)
AVX2_QUANT_KERNELS(Int8, int8_t, Avx2LoadInt8, DecodeInt8)

static const DistanceKernels avx2_kernels = {
	"avx2", Avx2L2Squared, Avx2L2SquaredBounded, Avx2InnerProduct, Avx2L1,
	Avx2CosineParts,
	{Avx2HalfL2Squared, Avx2HalfInnerProduct, Avx2HalfL1, Avx2HalfDecode},
	{Avx2BfloatL2Squared, Avx2BfloatInnerProduct, Avx2BfloatL1, Avx2BfloatDecode},
	{Avx2Int8L2Squared, Avx2Int8InnerProduct, Avx2Int8L1, Avx2Int8Decode}
};

/* ----------------------------------------------------------------
 *		AVX-512F kernels: 16 lanes, masked tail, no scalar remainder
 * ----------------------------------------------------------------
 */

__attribute__((target("avx512f")))
static inline __mmask16
Avx512TailMask(int remaining)
{
	return (__mmask16) ((1u << remaining) - 1);
}

__attribute__((target("avx512f"), always_inline))
static inline float
Avx512L2SquaredBody(const float *a, const float *b, int dim, float bound,
					int bounded)
{
	__m512		acc0 = _mm512_setzero_ps();
	__m512		acc1 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 32 <= dim; i += 32)
	{
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));

		acc0 = _mm512_fmadd_ps(d0, d0, acc0);
		acc1 = _mm512_fmadd_ps(d1, d1, acc1);
		if (bounded && (i + 32) % DISTANCE_BOUND_STEP == 0)
		{
			float		sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));

			if (sum > bound)
				return sum;
		}
	}
	for (; i < dim; i += 16)
	{
		__mmask16	m = dim - i >= 16 ? 0xFFFF : Avx512TailMask(dim - i);
		__m512		d0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i),
									   _mm512_maskz_loadu_ps(m, b + i));

		acc0 = _mm512_fmadd_ps(d0, d0, acc0);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

__attribute__((target("avx512f")))
static float
Avx512L2Squared(const float *a, const float *b, int dim)
{
	return Avx512L2SquaredBody(a, b, dim, 0.0f, 0);
}

__attribute__((target("avx512f")))
static float
Avx512L2SquaredBounded(const float *a, const float *b, int dim, float bound)
{
	return Avx512L2SquaredBody(a, b, dim, bound, 1);
}

__attribute__((target("avx512f")))
static float
Avx512InnerProduct(const float *a, const float *b, int dim)
{
	__m512		acc0 = _mm512_setzero_ps();
	__m512		acc1 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 32 <= dim; i += 32)
	{
		acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
		acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
	}
	for (; i < dim; i += 16)
	{
		__mmask16	m = dim - i >= 16 ? 0xFFFF : Avx512TailMask(dim - i);

		acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i),
							   _mm512_maskz_loadu_ps(m, b + i), acc0);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

__attribute__((target("avx512f")))
static float
Avx512L1(const float *a, const float *b, int dim)
{
	__m512		acc0 = _mm512_setzero_ps();
	__m512		acc1 = _mm512_setzero_ps();
	int			i = 0;

	for (; i + 32 <= dim; i += 32)
	{
		acc0 = _mm512_add_ps(acc0, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i),
															   _mm512_loadu_ps(b + i))));
		acc1 = _mm512_add_ps(acc1, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i + 16),
															   _mm512_loadu_ps(b + i + 16))));
	}
	for (; i < dim; i += 16)
	{
		__mmask16	m = dim - i >= 16 ? 0xFFFF : Avx512TailMask(dim - i);

		acc0 = _mm512_add_ps(acc0, _mm512_abs_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i),
															   _mm512_maskz_loadu_ps(m, b + i))));
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

__attribute__((target("avx512f")))
static void
Avx512CosineParts(const float *a, const float *b, int dim,
				  float *ab, float *aa, float *bb)
{
	__m512		vab = _mm512_setzero_ps();
	__m512		vaa = _mm512_setzero_ps();
	__m512		vbb = _mm512_setzero_ps();

	for (int i = 0; i < dim; i += 16)
	{
		__mmask16	m = dim - i >= 16 ? 0xFFFF : Avx512TailMask(dim - i);
		__m512		va = _mm512_maskz_loadu_ps(m, a + i);
		__m512		vb = _mm512_maskz_loadu_ps(m, b + i);

		vab = _mm512_fmadd_ps(va, vb, vab);
		vaa = _mm512_fmadd_ps(va, va, vaa);
		vbb = _mm512_fmadd_ps(vb, vb, vbb);
	}
	*ab = _mm512_reduce_add_ps(vab);
	*aa = _mm512_reduce_add_ps(vaa);
	*bb = _mm512_reduce_add_ps(vbb);
}

/*
 * Asymmetric kernels, AVX-512F: sixteen codes widened per step; the tail
 * (under sixteen) is decoded one code at a time, as in the scalar twin.
 */
__attribute__((target("avx512f")))
static inline __m512
Avx512LoadHalf(const uint16_t *p, __m512 scale, __m512 offset)
{
	(void) scale;
	(void) offset;
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) p));
}

__attribute__((target("avx512f")))
static inline __m512
Avx512LoadBfloat(const uint16_t *p, __m512 scale, __m512 offset)
{
	__m512i		w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *) p));

	(void) scale;
	(void) offset;
	return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

__attribute__((target("avx512f")))
static inline __m512
Avx512LoadInt8(const int8_t *p, __m512 scale, __m512 offset)
{
	__m512i		w = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *) p));

	return _mm512_fmadd_ps(_mm512_cvtepi32_ps(w), scale, offset);
}

#define AVX512_QUANT_KERNELS(Name, CodeType, LOAD16, DECODE) \
__attribute__((target("avx512f"))) \
static float \
Avx512##Name##L2Squared(const float *q, const void *cv, float scale, float offset, int dim) \
{ \
	const CodeType *c = cv; \
	const __m512 vs = _mm512_set1_ps(scale); \
	const __m512 vo = _mm512_set1_ps(offset); \
	__m512		acc0 = _mm512_setzero_ps(); \
	__m512		acc1 = _mm512_setzero_ps(); \
	float		sum; \
	int			i = 0; \
\
	for (; i + 32 <= dim; i += 32) \
	{ \
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), LOAD16(c + i, vs, vo)); \
		__m512		d1 = _mm512_sub_ps(_mm512_loadu_ps(q + i + 16), LOAD16(c + i + 16, vs, vo)); \
\
		acc0 = _mm512_fmadd_ps(d0, d0, acc0); \
		acc1 = _mm512_fmadd_ps(d1, d1, acc1); \
	} \
	for (; i + 16 <= dim; i += 16) \
	{ \
		__m512		d0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), LOAD16(c + i, vs, vo)); \
\
		acc0 = _mm512_fmadd_ps(d0, d0, acc0); \
	} \
	sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)); \
	for (; i < dim; i++) \
	{ \
		float		d = q[i] - DECODE(c[i], scale, offset); \
\
		sum += d * d; \
	} \
	return sum; \
} \
\
__attribute__((target("avx512f"))) \
static float \
Avx512##Name##InnerProduct(const float *q, const void *cv, float scale, float offset, int dim) \
{ \
	const CodeType *c = cv; \
	const __m512 vs = _mm512_set1_ps(scale); \
	const __m512 vo = _mm512_set1_ps(offset); \
	__m512		acc0 = _mm512_setzero_ps(); \
	__m512		acc1 = _mm512_setzero_ps(); \
	float		sum; \
	int			i = 0; \
\
	for (; i + 32 <= dim; i += 32) \
	{ \
		acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), LOAD16(c + i, vs, vo), acc0); \
		acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), LOAD16(c + i + 16, vs, vo), acc1); \
	} \
	for (; i + 16 <= dim; i += 16) \
		acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), LOAD16(c + i, vs, vo), acc0); \
	sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)); \
	for (; i < dim; i++) \
		sum += q[i] * DECODE(c[i], scale, offset); \
	return sum; \
} \
\
__attribute__((target("avx512f"))) \
static float \
Avx512##Name##L1(const float *q, const void *cv, float scale, float offset, int dim) \
{ \
	const CodeType *c = cv; \
	const __m512 vs = _mm512_set1_ps(scale); \
	const __m512 vo = _mm512_set1_ps(offset); \
	__m512		acc0 = _mm512_setzero_ps(); \
	__m512		acc1 = _mm512_setzero_ps(); \
	float		sum; \
	int			i = 0; \
\
	for (; i + 32 <= dim; i += 32) \
	{ \
		acc0 = _mm512_add_ps(acc0, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(q + i), \
															   LOAD16(c + i, vs, vo)))); \
		acc1 = _mm512_add_ps(acc1, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(q + i + 16), \
															   LOAD16(c + i + 16, vs, vo)))); \
	} \
	for (; i + 16 <= dim; i += 16) \
		acc0 = _mm512_add_ps(acc0, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(q + i), \
															   LOAD16(c + i, vs, vo)))); \
	sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)); \
	for (; i < dim; i++) \
		sum += fabsf(q[i] - DECODE(c[i], scale, offset)); \
	return sum; \
} \
\
__attribute__((target("avx512f"))) \
static void \
Avx512##Name##Decode(const void *cv, float scale, float offset, float *out, int dim) \
{ \
	const CodeType *c = cv; \
	const __m512 vs = _mm512_set1_ps(scale); \
	const __m512 vo = _mm512_set1_ps(offset); \
	int			i = 0; \
\
	for (; i + 16 <= dim; i += 16) \
		_mm512_storeu_ps(out + i, LOAD16(c + i, vs, vo)); \
	for (; i < dim; i++) \
		out[i] = DECODE(c[i], scale, offset); \
}

AVX512_QUANT_KERNELS(Half, uint16_t, Avx512LoadHalf, DecodeHalf)
AVX512_QUANT_KERNELS(Bfloat, uint16_t, Avx512LoadBfloat, DecodeBfloat)
AVX512_QUANT_KERNELS(Int8, int8_t, Avx512LoadInt8, DecodeInt8)

static const DistanceKernels avx512_kernels = {
	"avx512", Avx512L2Squared, Avx512L2SquaredBounded, Avx512InnerProduct, Avx512L1,
	Avx512CosineParts,
	{Avx512HalfL2Squared, Avx512HalfInnerProduct, Avx512HalfL1, Avx512HalfDecode},
	{Avx512BfloatL2Squared, Avx512BfloatInnerProduct, Avx512BfloatL1, Avx512BfloatDecode},
	{Avx512Int8L2Squared, Avx512Int8InnerProduct, Avx512Int8L1, Avx512Int8Decode}
};

/* ----------------------------------------------------------------
 *		F16C kernels of the halfvec type: pgvector's order of additions
 *
 * Eight codes are widened per step (vcvtph2ps) into one 8-lane accumulator
 * with fused multiply-adds; the lanes are summed by Avx2HorizontalSum, the
 * tree GCC makes of pgvector's lane sum (which it may reassociate: pgvector
 * builds with -fassociative-math); then the last dim % 8 elements are added
 * one at a time, fused as GCC contracts pgvector's "sum += x * y".  So on a
 * CPU that has F16C, halfvec distances are pgvector's to the bit.  Chosen on
 * pgvector's condition (AVX, F16C, FMA); an AVX-512 variant would add in
 * another order and is deliberately absent.
 * ----------------------------------------------------------------
 */
#define F16C_TARGET "avx,f16c,fma"

__attribute__((target(F16C_TARGET)))
static inline __m256
F16cLoad8(const uint16_t *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *) p));
}

/* One code, widened exactly as DistanceHalfToFloat does, in one instruction */
__attribute__((target(F16C_TARGET)))
static inline float
F16cToFloat(uint16_t h)
{
	return _cvtsh_ss(h);
}

__attribute__((target(F16C_TARGET)))
static float
F16cHalfvecL2Squared(const uint16_t *a, const uint16_t *b, int dim)
{
	__m256		acc = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 8 <= dim; i += 8)
	{
		__m256		d = _mm256_sub_ps(F16cLoad8(a + i), F16cLoad8(b + i));

		acc = _mm256_fmadd_ps(d, d, acc);
	}
	sum = Avx2HorizontalSum(acc);
	for (; i < dim; i++)
	{
		float		d = F16cToFloat(a[i]) - F16cToFloat(b[i]);

		sum = fmaf(d, d, sum);
	}
	return sum;
}

__attribute__((target(F16C_TARGET)))
static float
F16cHalfvecInnerProduct(const uint16_t *a, const uint16_t *b, int dim)
{
	__m256		acc = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 8 <= dim; i += 8)
		acc = _mm256_fmadd_ps(F16cLoad8(a + i), F16cLoad8(b + i), acc);
	sum = Avx2HorizontalSum(acc);
	for (; i < dim; i++)
		sum = fmaf(F16cToFloat(a[i]), F16cToFloat(b[i]), sum);
	return sum;
}

__attribute__((target(F16C_TARGET)))
static float
F16cHalfvecL1(const uint16_t *a, const uint16_t *b, int dim)
{
	const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	__m256		acc = _mm256_setzero_ps();
	float		sum;
	int			i = 0;

	for (; i + 8 <= dim; i += 8)
		acc = _mm256_add_ps(acc, _mm256_and_ps(_mm256_sub_ps(F16cLoad8(a + i),
															 F16cLoad8(b + i)),
											   absmask));
	sum = Avx2HorizontalSum(acc);
	for (; i < dim; i++)
		sum += fabsf(F16cToFloat(a[i]) - F16cToFloat(b[i]));
	return sum;
}

__attribute__((target(F16C_TARGET)))
static void
F16cHalfvecCosineParts(const uint16_t *a, const uint16_t *b, int dim,
					   float *ab, float *aa, float *bb)
{
	__m256		vab = _mm256_setzero_ps();
	__m256		vaa = _mm256_setzero_ps();
	__m256		vbb = _mm256_setzero_ps();
	float		sab,
				saa,
				sbb;
	int			i = 0;

	for (; i + 8 <= dim; i += 8)
	{
		__m256		va = F16cLoad8(a + i);
		__m256		vb = F16cLoad8(b + i);

		vab = _mm256_fmadd_ps(va, vb, vab);
		vaa = _mm256_fmadd_ps(va, va, vaa);
		vbb = _mm256_fmadd_ps(vb, vb, vbb);
	}
	sab = Avx2HorizontalSum(vab);
	saa = Avx2HorizontalSum(vaa);
	sbb = Avx2HorizontalSum(vbb);
	for (; i < dim; i++)
	{
		float		x = F16cToFloat(a[i]);
		float		y = F16cToFloat(b[i]);

		sab = fmaf(x, y, sab);
		saa = fmaf(x, x, saa);
		sbb = fmaf(y, y, sbb);
	}
	*ab = sab;
	*aa = saa;
	*bb = sbb;
}

static const HalfDistanceKernels f16c_half_kernels = {
	"f16c", F16cHalfvecL2Squared, F16cHalfvecInnerProduct, F16cHalfvecL1,
	F16cHalfvecCosineParts
};

#endif							/* HNSW_X86_SIMD */

const DistanceKernels *distance_kernels = &scalar_kernels;
const HalfDistanceKernels *half_kernels = &scalar_half_kernels;

#ifdef HNSW_X86_SIMD
/*
 * Return whether the CPU has F16C (CPUID leaf 1, ECX bit 29); asked of
 * CPUID directly because not every compiler's __builtin_cpu_supports knows
 * the feature.
 */
static int
CpuHasF16c(void)
{
	unsigned int eax,
				ebx,
				ecx,
				edx;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
		return 0;
	return (ecx & (1u << 29)) != 0;
}
#endif

/*
 * Return whether this CPU can run the given kernel set.
 */
int
DistanceKernelsSupported(const DistanceKernels *k)
{
	if (k == &scalar_kernels)
		return 1;
#ifdef HNSW_X86_SIMD
	__builtin_cpu_init();
	if (k == &avx2_kernels)
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
			CpuHasF16c();
	if (k == &avx512_kernels)
		return __builtin_cpu_supports("avx512f");
#endif
	return 0;
}

/*
 * Look up a kernel set by name ("scalar", "avx2", "avx512"); NULL if this
 * build has no such set.  Whether the CPU can run it is a separate question:
 * see DistanceKernelsSupported().
 */
const DistanceKernels *
DistanceKernelsByName(const char *name)
{
	static const DistanceKernels *const all[] = {
		&scalar_kernels,
#ifdef HNSW_X86_SIMD
		&avx2_kernels,
		&avx512_kernels,
#endif
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

/*
 * Return whether this CPU can run the given half-precision kernel set: for
 * "f16c", AVX (with the OS saving YMM registers, which the compiler's check
 * includes), FMA and F16C, as pgvector requires.
 */
int
DistanceHalfKernelsSupported(const HalfDistanceKernels *k)
{
	if (k == &scalar_half_kernels)
		return 1;
#ifdef HNSW_X86_SIMD
	__builtin_cpu_init();
	if (k == &f16c_half_kernels)
		return __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma") &&
			CpuHasF16c();
#endif
	return 0;
}

/*
 * Look up a half-precision kernel set by name ("scalar", "f16c"); NULL if
 * this build has no such set.
 */
const HalfDistanceKernels *
DistanceHalfKernelsByName(const char *name)
{
	static const HalfDistanceKernels *const all[] = {
		&scalar_half_kernels,
#ifdef HNSW_X86_SIMD
		&f16c_half_kernels,
#endif
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

/*
 * Choose the fastest kernel sets this CPU supports (float, and
 * half-precision).  Called once from _PG_init; cheap and idempotent.
 */
void
DistanceInit(void)
{
	static const char *const preference[] = {"avx512", "avx2"};
	const HalfDistanceKernels *h = DistanceHalfKernelsByName("f16c");

	half_kernels = &scalar_half_kernels;
	if (h != NULL && DistanceHalfKernelsSupported(h))
		half_kernels = h;

	distance_kernels = &scalar_kernels;
	for (size_t i = 0; i < sizeof(preference) / sizeof(preference[0]); i++)
	{
		const DistanceKernels *k = DistanceKernelsByName(preference[i]);

		if (k != NULL && DistanceKernelsSupported(k))
		{
			distance_kernels = k;
			break;
		}
	}
}

/*
 * Cosine distance from the parts computed by a cosine_parts kernel.
 *
 * NaN when either vector is zero (the distance is undefined there); the
 * similarity is clamped to [-1, 1] so rounding never yields a distance
 * outside [0, 2].
 */
double
DistanceCosineFromParts(float ab, float aa, float bb)
{
	double		sim = (double) ab / sqrt((double) aa * (double) bb);

	if (sim > 1.0)
		sim = 1.0;
	else if (sim < -1.0)
		sim = -1.0;
	return 1.0 - sim;
}

/*
 * Angular distance of two unit vectors from their inner product,
 * acos(a . b) / pi: pgvector's spherical distance (its ivfflat's k-means),
 * kept for its SQL surface.  Rounding may take the product of unit vectors
 * just past +-1, so it is clamped first.
 */
double
DistanceSphericalFromDot(double dot)
{
	if (dot > 1.0)
		dot = 1.0;
	else if (dot < -1.0)
		dot = -1.0;
	return acos(dot) / M_PI;
}
