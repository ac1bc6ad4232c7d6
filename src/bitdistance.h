/*-------------------------------------------------------------------------
 *
 * bitdistance.h
 *	  Popcount kernels for the Hamming and Jaccard distances of bit
 *	  strings, chosen once, on first use.
 *
 * Plain C (no backend headers), like distance.h, so that the kernel test
 * in test/kernels can link bitdistance.c on its own.
 *
 * src/bitdistance.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_BITDISTANCE_H
#define HNSW_BITDISTANCE_H

#include <stddef.h>
#include <stdint.h>

/* Number of bits set in a XOR b, over bytes bytes */
typedef uint64_t (*BitHammingFunc) (const unsigned char *a,
									const unsigned char *b, size_t bytes);

/* Number of bits set in a AND b (*both) and in a OR b (*either) */
typedef void (*BitJaccardFunc) (const unsigned char *a, const unsigned char *b,
								size_t bytes, uint64_t *both, uint64_t *either);

/* One implementation of both kernels, for one instruction set */
typedef struct BitKernels
{
	const char *name;			/* "portable", "popcnt", "avx2" */
	BitHammingFunc hamming;
	BitJaccardFunc jaccard;
} BitKernels;

/* The fastest set this CPU runs, chosen on the first call */
extern const BitKernels *BitKernelsChosen(void);
extern const BitKernels *BitKernelsByName(const char *name);
extern int	BitKernelsSupported(const BitKernels *k);

#endif							/* HNSW_BITDISTANCE_H */
