/*-------------------------------------------------------------------------
 *
 * hnswsearchlayer.h
 *	  The search of one layer (Algorithm 2 of the paper), written once and
 *	  instantiated for each way of reaching elements, in the manner of
 *	  lib/simplehash.h: the build's arena (hnswarena.c) and the index's
 *	  pages (hnswsearch.c).  Each instantiation inlines its own element
 *	  access: a search computes a distance per element it reaches, and the
 *	  loads of elements bound its time, so an indirect call per element
 *	  would show.
 *
 * Define before including:
 *
 *	SL_PREFIX		prefix of the names declared: SL_PREFIX_SearchLayer and
 *					the heap type SL_PREFIX_Heap
 *	SL_STATE		type of the state passed to every macro below
 *	SL_CAND			a candidate: any struct with a float distance
 *	SL_ITEM			a neighbour not visited yet, as SL_EXPAND yields it
 *	SL_MAX_ITEMS	room for the neighbours of one element on one level
 *	SL_ENTRY(st, cand)	prepare an entry (mark it visited, make its
 *					distance whole); false: leave it out
 *	SL_EXPAND(st, cand, lc, items)	store in items the neighbours of cand
 *					on level lc not visited yet by this search, marking
 *					them visited, and return how many; -1 if cand is not
 *					expanded on lc (below it, or gone)
 *	SL_PREFETCH(st, item)	start bringing item's vector into the cache
 *	SL_LOAD(st, item, bound, cand)	compute item's distance into *cand, or
 *					give it up once it exceeds bound (the result is then
 *					some value above bound); false if item is gone
 *	SL_RESULT(st, cand)	may cand be a result (and count towards ef)?
 *					Elements that may not are still gone through.
 *	SL_SEEN(st, cand)	note a candidate whose distance was computed
 *	SL_PREFETCH_LINKS(st, cand, lc)	start bringing the links of cand on
 *					level lc into the cache: it is expanded next
 *
 * The function declared, SL_PREFIX_SearchLayer(st, entries, nentries, ef,
 * lc, C, W), leaves in the heap W (furthest on top) the ef results nearest
 * the query, starting from entries[0..nentries), whose distances are known;
 * C, the candidates, is scratch.  Both heaps are grown as needed by
 * repalloc.  The caller takes the results out of W (SL_PREFIX_HeapPop).
 *
 * src/hnswsearchlayer.h
 *
 *-------------------------------------------------------------------------
 */

#define SL_MAKE_NAME_(a, b)		CppConcat(a, b)
#define SL_MAKE_NAME(name)		SL_MAKE_NAME_(SL_PREFIX, CppConcat(_, name))

#define SL_HEAP			SL_MAKE_NAME(Heap)
#define SL_NEAR			SL_MAKE_NAME(Near)
#define SL_FAR			SL_MAKE_NAME(Far)
#define SL_RESERVE		SL_MAKE_NAME(HeapReserve)
#define SL_HEAP_INIT	SL_MAKE_NAME(HeapInit)
#define SL_HEAP_POP		SL_MAKE_NAME(HeapPop)
#define SL_SEARCH		SL_MAKE_NAME(SearchLayer)
#define SL_NEAR_PUSH	SL_MAKE_NAME_(SL_NEAR, _push)
#define SL_NEAR_POP		SL_MAKE_NAME_(SL_NEAR, _pop)
#define SL_FAR_PUSH		SL_MAKE_NAME_(SL_FAR, _push)
#define SL_FAR_POP		SL_MAKE_NAME_(SL_FAR, _pop)
#define SL_FAR_REPLACE	SL_MAKE_NAME_(SL_FAR, _replace_top)

/* Candidates in a growing array, kept as a heap */
typedef struct SL_HEAP
{
	SL_CAND    *items;
	int			n;
	int			cap;
} SL_HEAP;

#define HEAP_PREFIX		SL_NEAR
#define HEAP_TYPE		SL_CAND
#define HEAP_BEFORE(a, b)	((a).distance < (b).distance)
#include "hnswheap.h"

#define HEAP_PREFIX		SL_FAR
#define HEAP_TYPE		SL_CAND
#define HEAP_BEFORE(a, b)	((a).distance > (b).distance)
#include "hnswheap.h"

/* An empty heap with room for cap, in the current memory context */
static inline void
SL_HEAP_INIT(SL_HEAP *h, int cap)
{
	h->cap = Max(cap, 16);
	h->items = palloc(sizeof(SL_CAND) * h->cap);
	h->n = 0;
}

/* Make room for more candidates */
static pg_attribute_always_inline void
SL_RESERVE(SL_HEAP *h, int more)
{
	if (unlikely(h->n + more > h->cap))
	{
		h->cap = Max(h->cap * 2, h->n + more);
		h->items = repalloc(h->items, sizeof(SL_CAND) * h->cap);
	}
}

/* Remove and return the furthest result of W */
static inline SL_CAND
SL_HEAP_POP(SL_HEAP *w)
{
	return SL_FAR_POP(w->items, &w->n);
}

static pg_attribute_always_inline void
SL_SEARCH(SL_STATE *st, SL_CAND *entries, int nentries, int ef, int lc,
		  SL_HEAP *C, SL_HEAP *W)
{
	SL_ITEM		items[SL_MAX_ITEMS];

	C->n = 0;
	W->n = 0;
	SL_RESERVE(C, nentries);
	SL_RESERVE(W, ef + 1);
	for (int i = 0; i < nentries; i++)
	{
		if (!SL_ENTRY(st, &entries[i]))
			continue;
		SL_NEAR_PUSH(C->items, &C->n, entries[i]);
		if (SL_RESULT(st, &entries[i]))
		{
			SL_RESERVE(W, 1);
			SL_FAR_PUSH(W->items, &W->n, entries[i]);
			if (W->n > ef)
				(void) SL_FAR_POP(W->items, &W->n);
		}
		SL_SEEN(st, &entries[i]);
	}

	while (C->n > 0)
	{
		SL_CAND		c = SL_NEAR_POP(C->items, &C->n);
		int			nitems;

		/*
		 * W is short of ef only while it leaves elements out (SL_RESULT):
		 * then everything nearer than the last result is gone through.
		 */
		if (W->n >= ef && c.distance > W->items[0].distance)
			break;
		nitems = SL_EXPAND(st, &c, lc, items);
		if (nitems <= 0)
			continue;

		CHECK_FOR_INTERRUPTS();

		/* each one's vector is fetched while the one before is compared */
		SL_PREFETCH(st, items[0]);
		SL_RESERVE(C, nitems);
		for (int i = 0; i < nitems; i++)
		{
			SL_CAND		n;

			if (i + 1 < nitems)
				SL_PREFETCH(st, items[i + 1]);

			/*
			 * Once W is full, an element no nearer than its furthest is not
			 * taken, so its distance may be given up past that.
			 */
			if (!SL_LOAD(st, items[i],
						 W->n >= ef ? W->items[0].distance : INFINITY, &n))
				continue;
			if (W->n < ef || n.distance < W->items[0].distance)
			{
				SL_NEAR_PUSH(C->items, &C->n, n);
				if (SL_RESULT(st, &n))
				{
					if (W->n < ef)
						SL_FAR_PUSH(W->items, &W->n, n);
					else
						SL_FAR_REPLACE(W->items, W->n, n);
				}
			}
			SL_SEEN(st, &n);
		}
		if (C->n > 0)
			SL_PREFETCH_LINKS(st, C->items[0], lc);
	}
}

#undef SL_MAKE_NAME_
#undef SL_MAKE_NAME
#undef SL_HEAP
#undef SL_NEAR
#undef SL_FAR
#undef SL_RESERVE
#undef SL_HEAP_INIT
#undef SL_HEAP_POP
#undef SL_SEARCH
#undef SL_NEAR_PUSH
#undef SL_NEAR_POP
#undef SL_FAR_PUSH
#undef SL_FAR_POP
#undef SL_FAR_REPLACE
#undef SL_PREFIX
#undef SL_STATE
#undef SL_CAND
#undef SL_ITEM
#undef SL_MAX_ITEMS
#undef SL_ENTRY
#undef SL_EXPAND
#undef SL_PREFETCH
#undef SL_LOAD
#undef SL_RESULT
#undef SL_SEEN
#undef SL_PREFETCH_LINKS
