/*-------------------------------------------------------------------------
 *
 * distance.c
 *	  Distance kernels: a scalar version and SIMD versions (AVX2 + FMA,
 *	  AVX-512F), one of which is chosen once, when the library loads.
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
#include <immintrin.h>
#endif

/* ----------------------------------------------------------------
 *		Scalar kernels (the reference, and the fallback)
 * ----------------------------------------------------------------
 */

static float
ScalarL2Squared(const float *a, const float *b, int dim)
{
	float		sum = 0.0f;

	for (int i = 0; i < dim; i++)
	{
		float		d = a[i] - b[i];

		sum += d * d;
	}
	return sum;
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

static const DistanceKernels scalar_kernels = {
	"scalar", ScalarL2Squared, ScalarInnerProduct, ScalarL1, ScalarCosineParts
};

#ifdef HNSW_X86_SIMD

/* ----------------------------------------------------------------
 *		AVX2 + FMA kernels: 8 lanes, two independent accumulators
 * ----------------------------------------------------------------
 */

__attribute__((target("avx2,fma")))
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

__attribute__((target("avx2,fma")))
static float
Avx2L2Squared(const float *a, const float *b, int dim)
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

static const DistanceKernels avx2_kernels = {
	"avx2", Avx2L2Squared, Avx2InnerProduct, Avx2L1, Avx2CosineParts
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

__attribute__((target("avx512f")))
static float
Avx512L2Squared(const float *a, const float *b, int dim)
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

static const DistanceKernels avx512_kernels = {
	"avx512", Avx512L2Squared, Avx512InnerProduct, Avx512L1, Avx512CosineParts
};

#endif							/* HNSW_X86_SIMD */

const DistanceKernels *distance_kernels = &scalar_kernels;

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
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
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
 * Choose the fastest kernel set this CPU supports.  Called once from
 * _PG_init; cheap and idempotent.
 */
void
DistanceInit(void)
{
	static const char *const preference[] = {"avx512", "avx2"};

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
