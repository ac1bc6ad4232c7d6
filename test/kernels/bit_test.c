/*
 * bit_test: every popcount kernel set this CPU runs (src/bitdistance.c)
 * agrees exactly with a bit-by-bit count, on random bit strings of every
 * length from 0 to 300 bytes and of longer ones up to 2,100 bytes (past
 * the AVX2 kernels' sums of 31 blocks of 32 bytes), at every alignment
 * from 0 to 7 bytes.
 *
 *   bit_test          the agreement test; exit status 1 on any mismatch
 *   bit_test bench    ns per call of each kernel set, and of PostgreSQL's
 *                     pg_popcount() after XOR into a copy (when linked
 *                     with libpgport, see the Makefile)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bitdistance.h"

#define Min(x, y) ((x) < (y) ? (x) : (y))

#ifdef WITH_PGPORT
extern uint64_t pg_popcount(const char *buf, int bytes);
#endif

static const char *const names[] = {"portable", "popcnt", "avx2"};

static uint64_t
Reference(const unsigned char *a, const unsigned char *b, size_t bytes, int op)
{
	uint64_t	n = 0;

	for (size_t i = 0; i < bytes; i++)
		for (int bit = 0; bit < 8; bit++)
		{
			int			x = (a[i] >> bit) & 1;
			int			y = (b[i] >> bit) & 1;

			n += op == 0 ? (x ^ y) : op == 1 ? (x & y) : (x | y);
		}
	return n;
}

static uint32_t rng = 12345;

static unsigned char
RandomByte(void)
{
	rng = rng * 1103515245u + 12345u;
	return (unsigned char) (rng >> 16);
}

static int
Agreement(void)
{
	unsigned char bufa[2200];
	unsigned char bufb[2200];
	int			failures = 0;
	int			sets = 0;

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
	{
		const BitKernels *ks = BitKernelsByName(names[k]);

		if (ks == NULL || !BitKernelsSupported(ks))
		{
			printf("kernel set %s: not on this CPU or build\n", names[k]);
			continue;
		}
		sets++;
		for (size_t bytes = 0; bytes <= 2100; bytes += bytes < 300 ? 1 : 37)
			for (int align = 0; align < 8; align++)
			{
				unsigned char *a = bufa + align;
				unsigned char *b = bufb + (7 - align);
				uint64_t	both,
							either;

				for (size_t i = 0; i < bytes; i++)
				{
					/* sparse, dense and random bytes */
					a[i] = RandomByte() & (bytes % 3 == 0 ? 0x11 : 0xff);
					b[i] = RandomByte() | (bytes % 5 == 0 ? 0xf0 : 0x00);
				}
				ks->jaccard(a, b, bytes, &both, &either);
				if (ks->hamming(a, b, bytes) != Reference(a, b, bytes, 0) ||
					both != Reference(a, b, bytes, 1) ||
					either != Reference(a, b, bytes, 2))
				{
					if (failures++ < 10)
						printf("kernel set %s: mismatch at %zu bytes, alignment %d\n",
							   ks->name, bytes, align);
				}
			}
		printf("kernel set %s: checked\n", ks->name);
	}
	if (sets < 2)
	{
		printf("fewer than two kernel sets ran: nothing was compared\n");
		return 1;
	}
	printf("%d failed\n", failures);
	return failures != 0;
}

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void
Bench(void)
{
	static const size_t sizes[] = {16, 128, 192, 384, 1024};
	enum {iters = 200000, rounds = 10};

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
	{
		size_t		bytes = sizes[s];
		unsigned char *a = malloc(bytes);
		unsigned char *b = malloc(bytes);
		volatile uint64_t sink = 0;

		for (size_t i = 0; i < bytes; i++)
		{
			a[i] = RandomByte();
			b[i] = RandomByte();
		}
		printf("%5zu bits:", bytes * 8);
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		{
			const BitKernels *ks = BitKernelsByName(names[k]);
			double		t0;
			double		th;
			double		tj;
			uint64_t	both,
						either;

			if (ks == NULL || !BitKernelsSupported(ks))
				continue;
			/* the best of several rounds: the machine is shared */
			th = tj = 1e9;
			for (int round = 0; round < rounds; round++)
			{
				t0 = Now();
				for (int i = 0; i < iters; i++)
				{
					a[0] ^= (unsigned char) i;
					sink += ks->hamming(a, b, bytes);
				}
				th = Min(th, (Now() - t0) / iters * 1e9);
				t0 = Now();
				for (int i = 0; i < iters; i++)
				{
					a[0] ^= (unsigned char) i;
					ks->jaccard(a, b, bytes, &both, &either);
					sink += both + either;
				}
				tj = Min(tj, (Now() - t0) / iters * 1e9);
			}
			printf("  %s %.1f/%.1f ns", ks->name, th, tj);
		}
#ifdef WITH_PGPORT
		{
			unsigned char *x = malloc(bytes);
			double		best = 1e9;

			for (int round = 0; round < rounds; round++)
			{
				double		t0 = Now();

				for (int i = 0; i < iters; i++)
				{
					a[0] ^= (unsigned char) i;
					for (size_t j = 0; j < bytes; j++)
						x[j] = a[j] ^ b[j];
					sink += pg_popcount((const char *) x, (int) bytes);
				}
				best = Min(best, (Now() - t0) / iters * 1e9);
			}
			printf("  xor+pg_popcount %.1f ns", best);
			free(x);
		}
#endif
		printf("  (hamming/jaccard)\n");
		free(a);
		free(b);
	}
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "bench") == 0)
	{
		Bench();
		return 0;
	}
	return Agreement();
}
