/*
 * kernel_bench.c
 *	  Nanoseconds per distance for each kernel set this CPU supports,
 *	  float kernels and the asymmetric (f16, bf16, i8 code) L2 kernels.
 *
 *	  make kernels && test/kernels/kernel_bench [dim] [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "distance.h"

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	int			dim = argc > 1 ? atoi(argv[1]) : 784;
	long		iters = argc > 2 ? atol(argv[2]) : 2000000;
	static const char *const sets[] = {"scalar", "avx2", "avx512"};
	/* speed-up is against the scalar kernel of the same distance */
	/* a pool of vectors bigger than L1, like a graph search touches */
	const int	npool = 64;
	float	   *pool = malloc(sizeof(float) * dim * npool);
	double		base[3] = {0, 0, 0};

	for (int i = 0; i < dim * npool; i++)
		pool[i] = rand() / (float) RAND_MAX;

	printf("dim=%d iterations=%ld\n", dim, iters);
	printf("%-8s %-14s %10s %8s\n", "set", "kernel", "ns/call", "speedup");
	for (int s = 0; s < 3; s++)
	{
		const DistanceKernels *k = DistanceKernelsByName(sets[s]);
		const char *names[] = {"l2_squared", "inner_product", "l1"};
		DistanceFunc funcs[3];

		if (k == NULL || !DistanceKernelsSupported(k))
			continue;
		funcs[0] = k->l2_squared;
		funcs[1] = k->inner_product;
		funcs[2] = k->l1;
		for (int f = 0; f < 3; f++)
		{
			volatile float sink = 0;
			double		t0 = now_ns(), ns;

			for (long i = 0; i < iters; i++)
				sink += funcs[f](pool + (i % npool) * dim, pool + ((i + 7) % npool) * dim, dim);
			ns = (now_ns() - t0) / iters;
			if (s == 0)
				base[f] = ns;
			printf("%-8s %-14s %10.1f %7.1fx\n", k->name, names[f], ns,
				   base[f] / ns);
			(void) sink;
		}
	}

	/* asymmetric kernels: float query against f16, bf16 and i8 codes */
	{
		uint16_t   *half = malloc(sizeof(uint16_t) * dim * npool);
		uint16_t   *bf = malloc(sizeof(uint16_t) * dim * npool);
		int8_t	   *i8 = malloc((size_t) dim * npool);
		float	   *scales = malloc(sizeof(float) * npool);
		float	   *offsets = malloc(sizeof(float) * npool);

		for (int i = 0; i < dim * npool; i++)
		{
			half[i] = DistanceFloatToHalf(pool[i]);
			bf[i] = DistanceFloatToBfloat(pool[i]);
		}
		for (int v = 0; v < npool; v++)
			(void) DistanceEncodeInt8Range(pool + v * dim, dim, i8 + v * dim,
										   &scales[v], &offsets[v]);

		printf("%-8s %-14s %10s\n", "set", "l2 kernel", "ns/call");
		for (int s = 0; s < 3; s++)
		{
			const DistanceKernels *k = DistanceKernelsByName(sets[s]);
			const QuantKernels *qk[3];
			const char *qnames[] = {"f16", "bf16", "i8"};

			if (k == NULL || !DistanceKernelsSupported(k))
				continue;
			qk[0] = &k->f16;
			qk[1] = &k->bf16;
			qk[2] = &k->i8;
			for (int f = 0; f < 3; f++)
			{
				volatile float sink = 0;
				double		t0 = now_ns(), ns;

				for (long i = 0; i < iters; i++)
				{
					int			v = (i + 7) % npool;
					const void *c = f == 0 ? (const void *) (half + v * dim) :
						f == 1 ? (const void *) (bf + v * dim) :
						(const void *) (i8 + v * dim);

					sink += qk[f]->l2_squared(pool + (i % npool) * dim, c,
											  scales[v], offsets[v], dim);
				}
				ns = (now_ns() - t0) / iters;
				printf("%-8s %-14s %10.1f\n", k->name, qnames[f], ns);
				(void) sink;
			}
		}
		free(half);
		free(bf);
		free(i8);
		free(scales);
		free(offsets);
	}
	free(pool);
	return 0;
}
