/*-------------------------------------------------------------------------
 *
 * bitdistance.c
 *	  Popcount kernels for hamming_distance and jaccard_distance: a
 *	  portable version and x86-64 versions (the POPCNT instruction; AVX2
 *	  with a nibble lookup table), one chosen on first use by CPUID.
 *
 * Why not PostgreSQL's pg_popcount(): a Hamming distance is the popcount
 * of a XOR b, which pg_popcount() cannot take without a copy, and in
 * PostgreSQL 15 it calls pg_popcount64 through a function pointer for
 * every 8 bytes.  Measured with test/kernels/bit_test bench on 1,536-bit
 * strings: over 100 ns for the XOR into a copy and pg_popcount(), 12 ns
 * for the POPCNT kernel here.
 *
 * Every SIMD kernel has the portable twin, and test/kernels/bit_test
 * checks that all the sets this CPU runs agree on random inputs of awkward
 * lengths and alignments.  Counts are integers, so they agree exactly.
 * The x86 variants are compiled with per-function target attributes: the
 * library stays built for the baseline x86-64 and runs on any CPU.
 *
 * This file includes no backend header: see bitdistance.h.
 *
 * src/bitdistance.c
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "bitdistance.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HNSW_X86_SIMD 1
#include <immintrin.h>
#endif

/* ----------------------------------------------------------------
 *		Portable kernels (the reference, and the fallback)
 * ----------------------------------------------------------------
 */

/* Bits set in a 64-bit word, by adding neighbouring fields (SWAR) */
static inline uint64_t
PortablePopcount64(uint64_t x)
{
	x = x - ((x >> 1) & UINT64_C(0x5555555555555555));
	x = (x & UINT64_C(0x3333333333333333)) +
		((x >> 2) & UINT64_C(0x3333333333333333));
	x = (x + (x >> 4)) & UINT64_C(0x0f0f0f0f0f0f0f0f);
	return (x * UINT64_C(0x0101010101010101)) >> 56;
}

/* Load 8 bytes from any alignment */
static inline uint64_t
Load64(const unsigned char *p)
{
	uint64_t	w;

	memcpy(&w, p, sizeof(w));
	return w;
}

static uint64_t
PortableHamming(const unsigned char *a, const unsigned char *b, size_t bytes)
{
	uint64_t	count = 0;
	size_t		i = 0;

	for (; i + 8 <= bytes; i += 8)
		count += PortablePopcount64(Load64(a + i) ^ Load64(b + i));
	for (; i < bytes; i++)
		count += PortablePopcount64(a[i] ^ b[i]);
	return count;
}

static void
PortableJaccard(const unsigned char *a, const unsigned char *b, size_t bytes,
				uint64_t *both, uint64_t *either)
{
	uint64_t	and = 0;
	uint64_t	or = 0;
	size_t		i = 0;

	for (; i + 8 <= bytes; i += 8)
	{
		uint64_t	x = Load64(a + i);
		uint64_t	y = Load64(b + i);

		and += PortablePopcount64(x & y);
		or += PortablePopcount64(x | y);
	}
	for (; i < bytes; i++)
	{
		and += PortablePopcount64(a[i] & b[i]);
		or += PortablePopcount64(a[i] | b[i]);
	}
	*both = and;
	*either = or;
}

static const BitKernels portable_kernels = {
	"portable", PortableHamming, PortableJaccard
};

#ifdef HNSW_X86_SIMD

/* ----------------------------------------------------------------
 *		POPCNT: one instruction a word
 * ----------------------------------------------------------------
 */

__attribute__((target("popcnt")))
static uint64_t
PopcntHamming(const unsigned char *a, const unsigned char *b, size_t bytes)
{
	uint64_t	count = 0;
	size_t		i = 0;

	for (; i + 8 <= bytes; i += 8)
		count += __builtin_popcountll(Load64(a + i) ^ Load64(b + i));
	for (; i < bytes; i++)
		count += __builtin_popcount(a[i] ^ b[i]);
	return count;
}

__attribute__((target("popcnt")))
static void
PopcntJaccard(const unsigned char *a, const unsigned char *b, size_t bytes,
			  uint64_t *both, uint64_t *either)
{
	uint64_t	and = 0;
	uint64_t	or = 0;
	size_t		i = 0;

	for (; i + 8 <= bytes; i += 8)
	{
		uint64_t	x = Load64(a + i);
		uint64_t	y = Load64(b + i);

		and += __builtin_popcountll(x & y);
		or += __builtin_popcountll(x | y);
	}
	for (; i < bytes; i++)
	{
		and += __builtin_popcount(a[i] & b[i]);
		or += __builtin_popcount(a[i] | b[i]);
	}
	*both = and;
	*either = or;
}

static const BitKernels popcnt_kernels = {
	"popcnt", PopcntHamming, PopcntJaccard
};

/* ----------------------------------------------------------------
 *		AVX2: bits of each nibble looked up with PSHUFB, bytes summed
 *		with PSADBW; POPCNT for the tail under 32 bytes
 * ----------------------------------------------------------------
 */

#define AVX2_TARGET "avx2,popcnt"

/* Per-byte bit counts of v (each 0 to 8) */
__attribute__((target(AVX2_TARGET), always_inline))
static inline __m256i
Avx2ByteCounts(__m256i v)
{
	const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3,
										 1, 2, 2, 3, 2, 3, 3, 4,
										 0, 1, 1, 2, 1, 2, 2, 3,
										 1, 2, 2, 3, 2, 3, 3, 4);
	const __m256i low = _mm256_set1_epi8(0x0f);
	__m256i		lo = _mm256_and_si256(v, low);
	__m256i		hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);

	return _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo),
						   _mm256_shuffle_epi8(lut, hi));
}

/* Sum of the four 64-bit lanes */
__attribute__((target(AVX2_TARGET), always_inline))
static inline uint64_t
Avx2Sum64(__m256i v)
{
	__m128i		s = _mm_add_epi64(_mm256_castsi256_si128(v),
								  _mm256_extracti128_si256(v, 1));

	return (uint64_t) _mm_cvtsi128_si64(s) +
		(uint64_t) _mm_extract_epi64(s, 1);
}

/*
 * Per-byte counts are at most 8, so up to 31 blocks of them add up in
 * bytes without overflow before PSADBW widens them: one PSADBW per 31
 * blocks rather than per block.
 */
#define AVX2_BLOCKS_PER_SUM 31

/*
 * Below 256 bytes (2,048 bits) the POPCNT loop is faster: measured with
 * test/kernels/bit_test bench, 1,536 bits take 12 ns with POPCNT and 16
 * with AVX2, 3,072 bits 34 and 18, 8,192 bits 63 and 36 (Hamming).
 */
#define AVX2_MIN_BYTES 256

__attribute__((target(AVX2_TARGET)))
static uint64_t
Avx2Hamming(const unsigned char *a, const unsigned char *b, size_t bytes)
{
	__m256i		acc = _mm256_setzero_si256();
	size_t		blocks = bytes / 32;
	size_t		i = 0;

	if (bytes < AVX2_MIN_BYTES)
		return PopcntHamming(a, b, bytes);
	while (blocks > 0)
	{
		size_t		n = blocks < AVX2_BLOCKS_PER_SUM ? blocks : AVX2_BLOCKS_PER_SUM;
		__m256i		counts = _mm256_setzero_si256();

		for (size_t k = 0; k < n; k++, i += 32)
		{
			__m256i		x = _mm256_loadu_si256((const __m256i *) (a + i));
			__m256i		y = _mm256_loadu_si256((const __m256i *) (b + i));

			counts = _mm256_add_epi8(counts,
									 Avx2ByteCounts(_mm256_xor_si256(x, y)));
		}
		acc = _mm256_add_epi64(acc, _mm256_sad_epu8(counts, _mm256_setzero_si256()));
		blocks -= n;
	}
	return Avx2Sum64(acc) + PopcntHamming(a + i, b + i, bytes - i);
}

__attribute__((target(AVX2_TARGET)))
static void
Avx2Jaccard(const unsigned char *a, const unsigned char *b, size_t bytes,
			uint64_t *both, uint64_t *either)
{
	__m256i		accAnd = _mm256_setzero_si256();
	__m256i		accOr = _mm256_setzero_si256();
	size_t		blocks = bytes / 32;
	uint64_t	tailAnd;
	uint64_t	tailOr;
	size_t		i = 0;

	if (bytes < AVX2_MIN_BYTES)
	{
		PopcntJaccard(a, b, bytes, both, either);
		return;
	}
	while (blocks > 0)
	{
		size_t		n = blocks < AVX2_BLOCKS_PER_SUM ? blocks : AVX2_BLOCKS_PER_SUM;
		__m256i		countsAnd = _mm256_setzero_si256();
		__m256i		countsOr = _mm256_setzero_si256();

		for (size_t k = 0; k < n; k++, i += 32)
		{
			__m256i		x = _mm256_loadu_si256((const __m256i *) (a + i));
			__m256i		y = _mm256_loadu_si256((const __m256i *) (b + i));

			countsAnd = _mm256_add_epi8(countsAnd,
										Avx2ByteCounts(_mm256_and_si256(x, y)));
			countsOr = _mm256_add_epi8(countsOr,
									   Avx2ByteCounts(_mm256_or_si256(x, y)));
		}
		accAnd = _mm256_add_epi64(accAnd, _mm256_sad_epu8(countsAnd, _mm256_setzero_si256()));
		accOr = _mm256_add_epi64(accOr, _mm256_sad_epu8(countsOr, _mm256_setzero_si256()));
		blocks -= n;
	}
	PopcntJaccard(a + i, b + i, bytes - i, &tailAnd, &tailOr);
	*both = Avx2Sum64(accAnd) + tailAnd;
	*either = Avx2Sum64(accOr) + tailOr;
}

static const BitKernels avx2_kernels = {
	"avx2", Avx2Hamming, Avx2Jaccard
};

#endif							/* HNSW_X86_SIMD */

/*
 * Return whether this CPU can run the given kernel set.
 */
int
BitKernelsSupported(const BitKernels *k)
{
	if (k == &portable_kernels)
		return 1;
#ifdef HNSW_X86_SIMD
	__builtin_cpu_init();
	if (k == &popcnt_kernels)
		return __builtin_cpu_supports("popcnt");
	if (k == &avx2_kernels)
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
#endif
	return 0;
}

/*
 * Look up a kernel set by name; NULL if this build has no such set.
 * Whether the CPU can run it is BitKernelsSupported()'s question.
 */
const BitKernels *
BitKernelsByName(const char *name)
{
	static const BitKernels *const all[] = {
		&portable_kernels,
#ifdef HNSW_X86_SIMD
		&popcnt_kernels,
		&avx2_kernels,
#endif
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

/*
 * Return the fastest kernel set this CPU supports, choosing it on the first
 * call (a backend is single-threaded; the choice is the same every time).
 */
const BitKernels *
BitKernelsChosen(void)
{
	static const BitKernels *chosen = NULL;
	static const char *const preference[] = {"avx2", "popcnt"};

	if (chosen != NULL)
		return chosen;
	chosen = &portable_kernels;
	for (size_t i = 0; i < sizeof(preference) / sizeof(preference[0]); i++)
	{
		const BitKernels *k = BitKernelsByName(preference[i]);

		if (k != NULL && BitKernelsSupported(k))
		{
			chosen = k;
			break;
		}
	}
	return chosen;
}
