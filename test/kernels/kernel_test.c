/*
 * kernel_test.c
 *	  Check that every SIMD kernel set this CPU supports agrees with the
 *	  scalar kernels, on random inputs of awkward lengths, and that the
 *	  scalar kernels agree with a double-precision reference.
 *
 * Prints TAP.  Built and run by test/run (suite "kernels").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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

	printf("1..%d\n", test_no);
	return failures > 0;
}
