/*-------------------------------------------------------------------------
 *
 * hnswheap.h
 *	  A binary heap of values in an array, instantiated for one element type
 *	  and order at a time, in the manner of lib/simplehash.h and
 *	  lib/sort_template.h:
 *
 *		#define HEAP_PREFIX		NearHeap
 *		#define HEAP_TYPE		HnswCandidate
 *		#define HEAP_BEFORE(a, b)	((a).distance < (b).distance)
 *		#include "hnswheap.h"
 *
 *	  declares static inline functions
 *
 *		void	  NearHeap_push(HnswCandidate *h, int *n, HnswCandidate x)
 *		HnswCandidate NearHeap_pop(HnswCandidate *h, int *n)
 *		void	  NearHeap_replace_top(HnswCandidate *h, int n, HnswCandidate x)
 *
 *	  HEAP_BEFORE(a, b) says whether a belongs nearer the root than b (the
 *	  root is the element no other is before).  push needs room for *n + 1
 *	  elements; pop and replace_top need *n, n > 0.  The macros are undefined
 *	  at the end, so the file can be included again.
 *
 * Used by every search of the graph (the candidate and result queues of
 * Algorithm 2, hnswsearch.c) and by exact_knn's k nearest (exactknn.c).
 * Not lib/binaryheap.h: it keeps Datums and compares through a function
 * pointer, so a search's candidates (an element and a distance) would each
 * need an allocation or an index into a second array, and every comparison
 * an indirect call; the layer search pushes and pops about as often as it
 * computes distances, so its heaps are on the hot path.  Not
 * lib/pairingheap.h either, which allocates a node per element: vacuum's
 * searches used it until hnswsearch.c had one search.
 *
 * src/hnswheap.h
 *
 *-------------------------------------------------------------------------
 */

#define HEAP_MAKE_NAME_(a, b)	CppConcat(a, b)
#define HEAP_MAKE_NAME(name)	HEAP_MAKE_NAME_(HEAP_PREFIX, CppConcat(_, name))

#define HEAP_PUSH			HEAP_MAKE_NAME(push)
#define HEAP_POP			HEAP_MAKE_NAME(pop)
#define HEAP_REPLACE_TOP	HEAP_MAKE_NAME(replace_top)
#define HEAP_SIFT_DOWN		HEAP_MAKE_NAME(sift_down)

/* Put x into the hole at i and move it down to its place among n */
static pg_attribute_always_inline void
HEAP_SIFT_DOWN(HEAP_TYPE *h, int n, int i, HEAP_TYPE x)
{
	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= n)
			break;
		if (child + 1 < n && HEAP_BEFORE(h[child + 1], h[child]))
			child++;
		if (!HEAP_BEFORE(h[child], x))
			break;
		h[i] = h[child];
		i = child;
	}
	h[i] = x;
}

/* Add x to the heap of *n elements (room for one more is the caller's) */
static pg_attribute_always_inline void
HEAP_PUSH(HEAP_TYPE *h, int *n, HEAP_TYPE x)
{
	int			i = (*n)++;

	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!HEAP_BEFORE(x, h[parent]))
			break;
		h[i] = h[parent];
		i = parent;
	}
	h[i] = x;
}

/* Remove and return the root of a heap of *n > 0 elements */
static pg_attribute_always_inline HEAP_TYPE
HEAP_POP(HEAP_TYPE *h, int *n)
{
	HEAP_TYPE	top = h[0];

	if (--(*n) > 0)
		HEAP_SIFT_DOWN(h, *n, 0, h[*n]);
	return top;
}

/* Replace the root of a heap of n > 0 elements by x */
static pg_attribute_always_inline void
HEAP_REPLACE_TOP(HEAP_TYPE *h, int n, HEAP_TYPE x)
{
	HEAP_SIFT_DOWN(h, n, 0, x);
}

#undef HEAP_MAKE_NAME_
#undef HEAP_MAKE_NAME
#undef HEAP_PUSH
#undef HEAP_POP
#undef HEAP_REPLACE_TOP
#undef HEAP_SIFT_DOWN
#undef HEAP_PREFIX
#undef HEAP_TYPE
#undef HEAP_BEFORE
