/*-------------------------------------------------------------------------
 *
 * hnswreach.c
 *	  Which elements a search from the entry point can reach: one
 *	  breadth-first walk over the links of level 0, used by CREATE INDEX
 *	  (the graph in memory), VACUUM's pass 4 and hnsw.verify_index (the
 *	  graph on pages).
 *
 * Elements are numbered 0 .. n-1 by the caller (arena numbers, or places
 * in a list of element TIDs); the caller's links function gives the
 * numbers an element links to.  The walk records for every element it
 * reaches the element that first linked to it, its parent: the parents
 * form a tree rooted at the root (of shortest paths, until HnswReachSplice
 * moves a subtree).  A link that is not in the tree (parent[to] != from)
 * can be replaced without cutting anything off: every element keeps its
 * tree path, which is made of tree links only.
 *
 * Level 0 only: a search ends on level 0, starting there from wherever the
 * levels above led it, and an element no level-0 link leads to is found
 * only when that is the element itself, however the levels above link to
 * it.  See src/README "Build" and "Vacuum".
 *
 * src/hnswreach.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "hnsw.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"

/* Most links one element can have on level 0 */
#define HNSW_REACH_MAX_LINKS	HNSW_LEVEL_CAPACITY(0, HNSW_MAX_M)

/*
 * Bytes the walk needs for n elements, besides the caller's own list of
 * them (HnswReachInit allocates them).
 */
Size
HnswReachBytes(uint32 n)
{
	return (Size) Max(n, 1) * 2 * sizeof(uint32) +
		sizeof(uint32) * HNSW_REACH_MAX_LINKS;
}

/*
 * Set up a walk over n elements whose links links(arg, id, out) gives,
 * nothing reached yet.  Memory (HnswReachBytes) in the current context.
 */
void
HnswReachInit(HnswReach *r, uint32 n, HnswReachLinks links, void *arg)
{
	r->n = n;
	r->parent = palloc_extended(sizeof(uint32) * Max(n, 1), MCXT_ALLOC_HUGE);
	r->queue = palloc_extended(sizeof(uint32) * Max(n, 1), MCXT_ALLOC_HUGE);
	r->buf = palloc(sizeof(uint32) * HNSW_REACH_MAX_LINKS);
	r->links = links;
	r->arg = arg;
	r->ngone = 0;
	r->qhead = r->qtail = 0;
	for (uint32 i = 0; i < n; i++)
		r->parent[i] = HNSW_REACH_NONE;
}

void
HnswReachFree(HnswReach *r)
{
	pfree(r->parent);
	pfree(r->queue);
	pfree(r->buf);
}

/* Expand the queued elements until none is left */
static void
Propagate(HnswReach *r)
{
	while (r->qhead < r->qtail)
	{
		uint32		id = r->queue[r->qhead++];
		int			nlinks = r->links(r->arg, id, r->buf);

		if (nlinks < 0)
		{
			r->ngone++;
			continue;
		}
		for (int i = 0; i < nlinks; i++)
		{
			uint32		t = r->buf[i];

			Assert(t < r->n);
			if (r->parent[t] == HNSW_REACH_NONE)
			{
				r->parent[t] = id;
				r->queue[r->qtail++] = t;
			}
		}
		if ((r->qhead & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Walk from root, forgetting any earlier walk: mark every element reached
 * and its parent.
 */
void
HnswReachFrom(HnswReach *r, uint32 root)
{
	for (uint32 i = 0; i < r->n; i++)
		r->parent[i] = HNSW_REACH_NONE;
	r->qhead = r->qtail = 0;
	r->ngone = 0;
	r->parent[root] = root;
	r->queue[r->qtail++] = root;
	Propagate(r);
}

/*
 * The reached element from now links to the unreached element to, in place
 * of its tree link to child, and to links to child: mark to reached, with
 * from as its parent, child with to as its parent (its subtree, which does
 * not hold to, hangs on as before), and everything to reaches.
 */
void
HnswReachSplice(HnswReach *r, uint32 from, uint32 to, uint32 child)
{
	Assert(HnswReached(r, from) && !HnswReached(r, to) &&
		   HnswReachIsTree(r, from, child));
	r->parent[to] = from;
	r->parent[child] = to;
	r->queue[r->qtail++] = to;
	Propagate(r);
}

/*
 * The reached element from now links to the unreached element to: mark it
 * reached, with from as its parent, and everything it reaches.
 */
void
HnswReachAdd(HnswReach *r, uint32 from, uint32 to)
{
	Assert(HnswReached(r, from) && !HnswReached(r, to));
	r->parent[to] = from;
	r->queue[r->qtail++] = to;
	Propagate(r);
}

/* ----------------------------------------------------------------
 *		The graph on pages: its elements listed in TID order
 * ----------------------------------------------------------------
 */

/*
 * Return the number of the listed element at tid, or HNSW_REACH_NONE if
 * none is listed there.
 */
uint32
HnswTidListFind(const HnswTidList *list, ItemPointer tid)
{
	uint32		lo = 0;
	uint32		hi = list->n;

	while (lo < hi)
	{
		uint32		mid = lo + (hi - lo) / 2;
		int			c = ItemPointerCompare(&list->elements[mid].tid, tid);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return HNSW_REACH_NONE;
}

/*
 * Append the element at tid (which must come after every listed one), of
 * the given level, hint of its filter column value and deleted flag, to
 * the list, growing it within limit bytes for the list and its walk
 * (HnswReachBytes) together; return false, appending nothing, if it
 * would take more.  Memory in the current context.
 */
bool
HnswTidListAdd(HnswTidList *list, ItemPointer tid, int level, uint8 hint,
			   bool deleted, Size limit)
{
	HnswTidElement *e;

	if (list->n == list->max)
	{
		uint32		max = Max(list->max * 2, 1024);

		if ((Size) max * sizeof(HnswTidElement) + HnswReachBytes(max) > limit)
		{
			max = (limit - HnswReachBytes(0)) /
				(sizeof(HnswTidElement) + 2 * sizeof(uint32));
			if (max <= list->n)
				return false;
		}
		if (list->elements == NULL)
			list->elements = palloc_extended(sizeof(HnswTidElement) * max,
											 MCXT_ALLOC_HUGE);
		else
			list->elements = repalloc_huge(list->elements,
										   sizeof(HnswTidElement) * max);
		list->max = max;
	}
	Assert(list->n == 0 ||
		   ItemPointerCompare(&list->elements[list->n - 1].tid, tid) < 0);
	e = &list->elements[list->n++];
	e->tid = *tid;
	e->level = level;
	e->deleted = deleted;
	e->hint = hint;
	return true;
}

/*
 * The level-0 links of listed element id, for HnswReach over a graph on
 * pages (arg: an HnswTidList with index and layout set): the listed
 * elements its level-0 slots name.  Reads the element's page under a share
 * lock, with the list's strategy, after vacuum's cost delay if asked;
 * returns -1 if the element is gone or changed level.
 */
int
HnswTidListLinks(void *arg, uint32 id, uint32 *out)
{
	HnswTidList *list = (HnswTidList *) arg;
	HnswTidElement *e = &list->elements[id];
	Buffer		buf;
	HnswElementTuple tup;
	int			n = -1;

	if (list->vacuumDelay)
		vacuum_delay_point();
	buf = ReadBufferExtended(list->index, MAIN_FORKNUM,
							 ItemPointerGetBlockNumber(&e->tid), RBM_NORMAL,
							 list->strategy);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	tup = HnswGetElement(list->index, list->layout, buf,
						 ItemPointerGetOffsetNumber(&e->tid));
	if (tup != NULL && tup->level == e->level)
	{
		char	   *slots = HnswTupleGetSlots(tup);

		n = 0;
		for (int i = 0; i < HNSW_LEVEL_CAPACITY(0, list->layout->m); i++)
		{
			ItemPointer tid = HnswSlotTid(slots, i);
			uint32		t;

			if (!ItemPointerIsValid(tid))
				continue;
			t = HnswTidListFind(list, tid);
			if (t != HNSW_REACH_NONE)
				out[n++] = t;
		}
	}
	UnlockReleaseBuffer(buf);
	return n;
}
