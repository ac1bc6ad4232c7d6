/*
 * kernel_test.c
 *	  Check that every SIMD kernel set this CPU supports agrees with the
 *	  scalar kernels, on random inputs of awkward lengths, and that the
 *	  scalar kernels agree with a double-precision reference; likewise the
 *	  asymmetric kernels of the quantized encodings (f16, bf16, both i8
 *	  codes), and the encoders round correctly (range codes of values on a
 *	  power-of-two grid: losslessly).  The bounded squared L2 kernels
 *	  return the plain kernel's float unless they give up, and then a value
 *	  between the bound and the whole distance.  The half-precision
 *	  kernels of the halfvec type agree with the reference and each other,
 *	  and the F16C set adds exactly in pgvector's order (bit for bit).
 *
 * Prints TAP.  Built and run by test/run (suite "kernels").
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distance.h"

static int	test_no = 0;
static int	failures = 0;

static void
ok(int cond, const char *what, const char *set, int dim, double got, double want)
{
	test_no++;
	if (cond)
		printf("ok %d - %s %s dim=%d\n", test_no, set, what, dim);
	else
	{
		failures++;
		printf("not ok %d - %s %s dim=%d: got %.9g want %.9g\n",
			   test_no, set, what, dim, got, want);
	}
}

/* Relative tolerance scaled by the magnitude of the terms summed */
static int
close_enough(double got, double want, double scale, int dim)
{
	return fabs(got - want) <= 1e-5 * scale * sqrt((double) dim) + 1e-6;
}

static float
frand(void)
{
	return (float) (rand() / (double) RAND_MAX * 2.0 - 1.0);
}

/* ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7])) */
static float
TreeSum(const float *l)
{
	return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

/*
 * pgvector 0.8's F16C halfvec kernels (src/halfutils.c) as GCC builds them
 * with pgvector's flags, written out in plain C: eight lanes with fused
 * multiply-adds, the lanes summed pairwise (the tree GCC makes of their sum
 * under -fassociative-math, read from its object code), then the tail one
 * element at a time, fused where GCC contracts "sum += x * y".  Sets out[]
 * to l2 squared, inner product, L1, and the cosine parts ab, aa, bb.  (A
 * product of two halves is exact in float, so only the squared
 * differences of L2 depend on the fusing.)
 */
static void
PgvectorHalfOrder(const uint16_t *a, const uint16_t *b, int dim, float *out)
{
	float		l2[8] = {0}, ip[8] = {0}, l1[8] = {0}, aa[8] = {0}, bb[8] = {0};
	float		s[5];
	int			i = 0;

	for (; i + 8 <= dim; i += 8)
		for (int j = 0; j < 8; j++)
		{
			float		x = DistanceHalfToFloat(a[i + j]);
			float		y = DistanceHalfToFloat(b[i + j]);
			float		d = x - y;

			l2[j] = fmaf(d, d, l2[j]);
			ip[j] = fmaf(x, y, ip[j]);
			l1[j] = l1[j] + fabsf(d);
			aa[j] = fmaf(x, x, aa[j]);
			bb[j] = fmaf(y, y, bb[j]);
		}
	s[0] = TreeSum(l2);
	s[1] = TreeSum(ip);
	s[2] = TreeSum(l1);
	s[3] = TreeSum(aa);
	s[4] = TreeSum(bb);
	for (; i < dim; i++)
	{
		float		x = DistanceHalfToFloat(a[i]);
		float		y = DistanceHalfToFloat(b[i]);
		float		d = x - y;

		s[0] = fmaf(d, d, s[0]);
		s[1] = fmaf(x, y, s[1]);
		s[2] = s[2] + fabsf(d);
		s[3] = fmaf(x, x, s[3]);
		s[4] = fmaf(y, y, s[4]);
	}
	out[0] = s[0];
	out[1] = s[1];
	out[2] = s[2];
	out[3] = s[1];
	out[4] = s[3];
	out[5] = s[4];
}

/*
 * The half-precision kernels: every set against a double-precision
 * reference on the decoded values and against the scalar set; the "f16c"
 * set against PgvectorHalfOrder, exactly.
 */
static void
TestHalfKernels(const int *dims, int ndims)
{
	static const char *const sets[] = {"scalar", "f16c"};
	const HalfDistanceKernels *scalar = DistanceHalfKernelsByName("scalar");

	printf("# half-precision kernels chosen for this CPU: %s\n", half_kernels->name);
	for (int s = 0; s < 2; s++)
	{
		const HalfDistanceKernels *k = DistanceHalfKernelsByName(sets[s]);
		int			exact = 1;
		int			nexact = 0;

		if (k == NULL || !DistanceHalfKernelsSupported(k))
		{
			printf("# half %s: not supported on this CPU or build, skipped\n", sets[s]);
			continue;
		}
		for (int d = 0; d < ndims; d++)
		{
			int			dim = dims[d];

			/*
			 * reps 0-4: one magnitude each; 5-6: magnitudes from 1e-4 to
			 * 1e4 mixed, so that differences of halves have more bits than
			 * a float holds and the fusing of their squares shows
			 */
			for (int rep = 0; rep < 7; rep++)
			{
				uint16_t   *a = malloc(sizeof(uint16_t) * dim);
				uint16_t   *b = malloc(sizeof(uint16_t) * dim);
				double		l2 = 0, ip = 0, l1 = 0, aa = 0, bb = 0, scale2 = 0, scale1 = 0;
				float		mag = rep == 4 ? 1000.0f : (float) (rep + 1);
				float		fab, faa, fbb;
				double		got;
				char		what[64];

				for (int i = 0; i < dim; i++)
				{
					double		x,
								y;

					if (rep >= 5)
					{
						a[i] = DistanceFloatToHalf(frand() * powf(10.0f, (float) (rand() % 9 - 4)));
						b[i] = DistanceFloatToHalf(frand() * powf(10.0f, (float) (rand() % 9 - 4)));
					}
					else
					{
						a[i] = DistanceFloatToHalf(frand() * mag);
						b[i] = DistanceFloatToHalf(frand() * mag);
					}
					x = DistanceHalfToFloat(a[i]);
					y = DistanceHalfToFloat(b[i]);
					l2 += (x - y) * (x - y);
					ip += x * y;
					l1 += fabs(x - y);
					aa += x * x;
					bb += y * y;
					scale2 += fabs(x * y) + (x - y) * (x - y);
					scale1 += fabs(x - y);
				}
				scale2 /= dim;
				scale1 /= dim;

				got = k->l2_squared(a, b, dim);
				ok(close_enough(got, l2, scale2 * dim, dim), "half l2_squared", k->name, dim, got, l2);
				got = k->inner_product(a, b, dim);
				ok(close_enough(got, ip, scale2 * dim, dim), "half inner_product", k->name, dim, got, ip);
				got = k->l1(a, b, dim);
				ok(close_enough(got, l1, scale1 * dim, dim), "half l1", k->name, dim, got, l1);
				k->cosine_parts(a, b, dim, &fab, &faa, &fbb);
				got = DistanceCosineFromParts(fab, faa, fbb);
				ok(fabs(got - (1.0 - ip / sqrt(aa * bb))) < 1e-4, "half cosine", k->name, dim,
				   got, 1.0 - ip / sqrt(aa * bb));

				if (k != scalar)
				{
					double		s1 = scalar->l2_squared(a, b, dim);

					got = k->l2_squared(a, b, dim);
					ok(close_enough(got, s1, scale2 * dim, dim), "half l2_squared vs scalar", k->name, dim, got, s1);
				}

				/* to the bit: every result of every pair */
				if (strcmp(k->name, "f16c") == 0)
				{
					float		want[6];
					float		mine[6];

					PgvectorHalfOrder(a, b, dim, want);
					mine[0] = k->l2_squared(a, b, dim);
					mine[1] = k->inner_product(a, b, dim);
					mine[2] = k->l1(a, b, dim);
					k->cosine_parts(a, b, dim, &mine[3], &mine[4], &mine[5]);
					for (int r = 0; r < 6; r++)
						if (memcmp(&mine[r], &want[r], sizeof(float)) != 0)
						{
							if (exact)
							{
								snprintf(what, sizeof(what), "half result %d in pgvector's order", r);
								ok(0, what, k->name, dim, mine[r], want[r]);
							}
							exact = 0;
						}
					nexact++;
				}
				free(a);
				free(b);
			}
		}
		if (strcmp(k->name, "f16c") == 0)
		{
			char		what[96];

			snprintf(what, sizeof(what),
					 "half kernels equal pgvector's order of additions on all %d pairs", nexact);
			ok(exact, what, k->name, 0, 0, 0);
		}

		/* identical vectors are at distance exactly zero */
		{
			uint16_t	v[37];

			for (int i = 0; i < 37; i++)
				v[i] = DistanceFloatToHalf(frand());
			ok(k->l2_squared(v, v, 37) == 0.0f, "half l2_squared(v, v) == 0", k->name, 37, k->l2_squared(v, v, 37), 0);
			ok(k->l1(v, v, 37) == 0.0f, "half l1(v, v) == 0", k->name, 37, k->l1(v, v, 37), 0);
		}
	}
}

int
main(void)
{
	static const int dims[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 784, 1536, 3072, 4096};
	static const char *const sets[] = {"scalar", "avx2", "avx512"};
	const int	ndims = sizeof(dims) / sizeof(dims[0]);
	const DistanceKernels *scalar = DistanceKernelsByName("scalar");

	srand(42);
	DistanceInit();
	printf("# kernels chosen for this CPU: %s\n", distance_kernels->name);

	for (int s = 0; s < 3; s++)
	{
		const DistanceKernels *k = DistanceKernelsByName(sets[s]);

		if (k == NULL || !DistanceKernelsSupported(k))
		{
			printf("# %s: not supported on this CPU or build, skipped\n", sets[s]);
			continue;
		}

		for (int d = 0; d < ndims; d++)
		{
			int			dim = dims[d];

			for (int rep = 0; rep < 5; rep++)
			{
				float	   *a = malloc(sizeof(float) * dim);
				float	   *b = malloc(sizeof(float) * dim);
				double		l2 = 0, ip = 0, l1 = 0, aa = 0, bb = 0, scale2 = 0, scale1 = 0;
				float		fab, faa, fbb;
				double		got;

				/* mix magnitudes so rounding differences would show */
				for (int i = 0; i < dim; i++)
				{
					a[i] = frand() * (rep + 1);
					b[i] = frand() * (rep + 1);
					l2 += ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
					ip += (double) a[i] * b[i];
					l1 += fabs((double) a[i] - b[i]);
					aa += (double) a[i] * a[i];
					bb += (double) b[i] * b[i];
					scale2 += fabs((double) a[i] * b[i]) + ((double) a[i] - b[i]) * ((double) a[i] - b[i]);
					scale1 += fabs((double) a[i] - b[i]);
				}
				scale2 /= dim;
				scale1 /= dim;

				got = k->l2_squared(a, b, dim);
				ok(close_enough(got, l2, scale2 * dim, dim), "l2_squared", k->name, dim, got, l2);
				got = k->inner_product(a, b, dim);
				ok(close_enough(got, ip, scale2 * dim, dim), "inner_product", k->name, dim, got, ip);
				got = k->l1(a, b, dim);
				ok(close_enough(got, l1, scale1 * dim, dim), "l1", k->name, dim, got, l1);
				k->cosine_parts(a, b, dim, &fab, &faa, &fbb);
				got = DistanceCosineFromParts(fab, faa, fbb);
				ok(fabs(got - (1.0 - ip / sqrt(aa * bb))) < 1e-4, "cosine", k->name, dim,
				   got, 1.0 - ip / sqrt(aa * bb));

				/*
				 * bounded: the plain kernel's float whenever the bound is not
				 * exceeded; otherwise above the bound, and never above the
				 * whole distance
				 */
				{
					float		full = k->l2_squared(a, b, dim);
					float		fractions[] = {0.0f, 0.1f, 0.5f, 0.9f};

					got = k->l2_squared_bounded(a, b, dim, INFINITY);
					ok(got == full, "l2_squared_bounded(inf) == l2_squared", k->name, dim, got, full);
					got = k->l2_squared_bounded(a, b, dim, full);
					ok(got == full, "l2_squared_bounded(itself) == l2_squared", k->name, dim, got, full);
					for (int f = 0; f < 4; f++)
					{
						float		bound = full * fractions[f];

						got = k->l2_squared_bounded(a, b, dim, bound);
						ok(got > bound && got <= full, "l2_squared_bounded in (bound, whole]", k->name, dim, got, full);
					}
					/* and it does give up: after the first step */
					if (dim >= 2 * DISTANCE_BOUND_STEP)
					{
						got = k->l2_squared_bounded(a, b, dim, 0.0f);
						ok(got < full, "l2_squared_bounded(0) gives up", k->name, dim, got, full);
					}
				}

				/* and SIMD against scalar directly */
				if (k != scalar)
				{
					double		s1 = scalar->l2_squared(a, b, dim);

					got = k->l2_squared(a, b, dim);
					ok(close_enough(got, s1, scale2 * dim, dim), "l2_squared vs scalar", k->name, dim, got, s1);
				}
				free(a);
				free(b);
			}
		}
	}

	/* edge: identical vectors are at distance exactly zero in every set */
	for (int s = 0; s < 3; s++)
	{
		const DistanceKernels *k = DistanceKernelsByName(sets[s]);
		float		v[37];

		if (k == NULL || !DistanceKernelsSupported(k))
			continue;
		for (int i = 0; i < 37; i++)
			v[i] = frand();
		ok(k->l2_squared(v, v, 37) == 0.0f, "l2_squared(v, v) == 0", k->name, 37, k->l2_squared(v, v, 37), 0);
		ok(k->l1(v, v, 37) == 0.0f, "l1(v, v) == 0", k->name, 37, k->l1(v, v, 37), 0);
	}

	/* conversions: fixed points of the encodings */
	ok(DistanceFloatToHalf(1.0f) == 0x3c00, "f16(1) == 0x3c00", "scalar", 1, DistanceFloatToHalf(1.0f), 0x3c00);
	ok(DistanceFloatToHalf(-2.0f) == 0xc000, "f16(-2) == 0xc000", "scalar", 1, DistanceFloatToHalf(-2.0f), 0xc000);
	ok(DistanceFloatToHalf(65504.0f) == 0x7bff, "f16(65504) == 0x7bff", "scalar", 1, DistanceFloatToHalf(65504.0f), 0x7bff);
	ok(DistanceFloatToHalf(65520.0f) == 0x7c00, "f16(65520) == inf", "scalar", 1, DistanceFloatToHalf(65520.0f), 0x7c00);
	ok(DistanceFloatToHalf(5.9604645e-8f) == 0x0001, "f16(2^-24) == 0x0001", "scalar", 1, DistanceFloatToHalf(5.9604645e-8f), 1);
	ok(DistanceHalfToFloat(0x0001) == 5.9604645e-8f, "f16 smallest subnormal", "scalar", 1, DistanceHalfToFloat(1), 5.9604645e-8);
	ok(DistanceFloatToHalf(1.00048828125f) == 0x3c00, "f16 tie rounds to even", "scalar", 1, DistanceFloatToHalf(1.00048828125f), 0x3c00);
	ok(DistanceFloatToBfloat(1.0f) == 0x3f80, "bf16(1) == 0x3f80", "scalar", 1, DistanceFloatToBfloat(1.0f), 0x3f80);
	ok(DistanceBfloatToFloat(DistanceFloatToBfloat(3.0e38f)) > 2.9e38f, "bf16 near FLT_MAX stays finite", "scalar", 1,
	   DistanceBfloatToFloat(DistanceFloatToBfloat(3.0e38f)), 3.0e38);

	/* round trips within the encodings' precision, over many magnitudes */
	for (int rep = 0; rep < 2000; rep++)
	{
		float		x = frand() * powf(10.0f, (float) (rep % 9) - 4.0f);
		float		h = DistanceHalfToFloat(DistanceFloatToHalf(x));
		float		b = DistanceBfloatToFloat(DistanceFloatToBfloat(x));

		if (fabsf(x) >= 6.1035e-5f && fabsf(h - x) > fabsf(x) / 2048.0f)
		{
			ok(0, "f16 round trip", "scalar", 1, h, x);
			break;
		}
		if (fabsf(b - x) > fabsf(x) / 256.0f)
		{
			ok(0, "bf16 round trip", "scalar", 1, b, x);
			break;
		}
	}
	ok(1, "f16 and bf16 round trips within half an ulp", "scalar", 1, 0, 0);

	/* asymmetric kernels: every set against a double reference on decoded codes */
	for (int s = 0; s < 3; s++)
	{
		const DistanceKernels *k = DistanceKernelsByName(sets[s]);

		if (k == NULL || !DistanceKernelsSupported(k))
			continue;
		for (int d = 0; d < ndims; d++)
		{
			int			dim = dims[d];

			/*
			 * reps 0-2: random values of three magnitudes; 3: 8-bit pixels;
			 * 4: int8 embeddings (multiples of 2^-7); 5: values far from 0
			 */
			for (int rep = 0; rep < 6; rep++)
			{
				float	   *q = malloc(sizeof(float) * dim);
				float	   *x = malloc(sizeof(float) * dim);
				uint16_t   *h = malloc(sizeof(uint16_t) * dim);
				uint16_t   *bf = malloc(sizeof(uint16_t) * dim);
				int8_t	   *c8 = malloc(dim);
				int8_t	   *r8 = malloc(dim);
				float		mag = rep == 2 ? 1000.0f : rep == 1 ? 2.0f : 1.0f;
				float		scale;
				float		rscale;
				float		roffset;
				float		rerror;
				const QuantKernels *qk[4] = {&k->f16, &k->bf16, &k->i8, &k->i8};
				const void *codes[4] = {h, bf, c8, r8};
				const char *names[4] = {"f16", "bf16", "i8 scale", "i8 range"};
				float		scales[4];
				float		offsets[4] = {0, 0, 0, 0};
				int			lossless = rep == 3 || rep == 4;
				int			i8ok = 1;
				int			r8ok = 1;

				for (int i = 0; i < dim; i++)
				{
					q[i] = frand() * mag;
					if (rep == 3)
						x[i] = (float) (rand() % 256);
					else if (rep == 4)
						x[i] = (float) (rand() % 256 - 128) / 128.0f;
					else if (rep == 5)
						x[i] = 500.0f + frand();
					else
						x[i] = frand() * mag;
					if (rep >= 3)
						q[i] = x[i] + frand();
					h[i] = DistanceFloatToHalf(x[i]);
					bf[i] = DistanceFloatToBfloat(x[i]);
				}
				scale = DistanceEncodeInt8(x, dim, c8);
				for (int i = 0; i < dim; i++)
					if (fabsf(c8[i] * scale - x[i]) > scale * 0.5001f)
						i8ok = 0;
				ok(i8ok, "i8 scale codes within half a step", k->name, dim, scale, 0);

				rerror = DistanceEncodeInt8Range(x, dim, r8, &rscale, &roffset);
				for (int i = 0; i < dim; i++)
					if (fabs((double) r8[i] * rscale + roffset - x[i]) > rerror)
						r8ok = 0;
				ok(r8ok && rerror <= rscale * 0.5001f + fabsf(roffset) * 1e-6f,
				   "i8 range codes within their error bound, at most half a step",
				   k->name, dim, rerror, rscale);
				if (lossless)
					ok(rerror == 0.0f, "i8 range codes of grid values are lossless",
					   k->name, dim, rerror, 0);
				scales[0] = scales[1] = 0.0f;
				scales[2] = scale;
				scales[3] = rscale;
				offsets[3] = roffset;

				for (int e = 0; e < 4; e++)
				{
					double		l2 = 0, ip = 0, l1 = 0, scale2 = 0, scale1 = 0;
					char		what[64];
					double		got;
					float	   *dec = malloc(sizeof(float) * dim);
					int			same = 1;

					/*
					 * The SIMD decoders give exactly the scalar decoding, but
					 * for a range code's multiply-add (fused or not): within
					 * one rounding.  A lossless code decodes to the vector.
					 */
					qk[e]->decode(codes[e], scales[e], offsets[e], dec, dim);
					for (int i = 0; i < dim; i++)
					{
						float		v = e == 0 ? DistanceHalfToFloat(h[i]) :
						e == 1 ? DistanceBfloatToFloat(bf[i]) :
						e == 2 ? c8[i] * scale : r8[i] * rscale + roffset;
						double		tol = e == 3 ?
							ldexp(fabs((double) roffset) + 128.0 * rscale, -23) : 0.0;

						if (fabs((double) dec[i] - v) > tol)
							same = 0;
						if (e == 3 && rerror == 0.0f && dec[i] != x[i])
							same = 0;
					}
					free(dec);
					snprintf(what, sizeof(what), "%s decode", names[e]);
					ok(same, what, k->name, dim, 0, 0);

					for (int i = 0; i < dim; i++)
					{
						double		v = e == 0 ? DistanceHalfToFloat(h[i]) :
						e == 1 ? DistanceBfloatToFloat(bf[i]) :
						e == 2 ? (double) (c8[i] * scale) :
						(double) r8[i] * rscale + roffset;

						l2 += (q[i] - v) * (q[i] - v);
						ip += q[i] * v;
						l1 += fabs(q[i] - v);
						scale2 += fabs(q[i] * v) + (q[i] - v) * (q[i] - v);
						scale1 += fabs(q[i] - v) + fabs(v) * 1e-2;
					}
					got = qk[e]->l2_squared(q, codes[e], scales[e], offsets[e], dim);
					snprintf(what, sizeof(what), "%s l2_squared", names[e]);
					ok(close_enough(got, l2, scale2, dim), what, k->name, dim, got, l2);
					got = qk[e]->inner_product(q, codes[e], scales[e], offsets[e], dim);
					snprintf(what, sizeof(what), "%s inner_product", names[e]);
					ok(close_enough(got, ip, scale2, dim), what, k->name, dim, got, ip);
					got = qk[e]->l1(q, codes[e], scales[e], offsets[e], dim);
					snprintf(what, sizeof(what), "%s l1", names[e]);
					ok(close_enough(got, l1, scale1, dim), what, k->name, dim, got, l1);
				}
				free(q);
				free(x);
				free(h);
				free(bf);
				free(c8);
				free(r8);
			}
		}
	}

	TestHalfKernels(dims, ndims);

	printf("1..%d\n", test_no);
	return failures > 0;
}
