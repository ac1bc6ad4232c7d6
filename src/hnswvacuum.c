/*-------------------------------------------------------------------------
 *
 * hnswvacuum.c
 *	  VACUUM for hnsw: remove dead heap TIDs, repair the neighbours of
 *	  elements left without live tuples, then free those elements.
 *
 * Three passes over the index when rows were deleted:
 *	1. remove dead heap TIDs; an element left without any is marked deleted;
 *	2. every live element that links to a deleted one gets its holes filled
 *	   from the deleted neighbours' own neighbours (two hops), chosen with
 *	   the selection heuristic, and its new neighbours link back to it; a
 *	   deleted entry point is replaced;
 *	3. deleted elements are removed from their pages and the space is
 *	   recorded in the free space map for inserts;
 * repeated, pass 1 going on where it stopped, when the deleted elements do
 * not fit half of maintenance_work_mem at once;
 * and at every VACUUM:
 *	4. every live element no search from the entry point can reach gets a
 *	   link from a reachable one.
 * See src/README "Vacuum".
 *
 * src/hnswvacuum.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "commands/vacuum.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "postmaster/autovacuum.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "storage/indexfsm.h"
#include "utils/memutils.h"

typedef struct HnswVacuumState
{
	IndexVacuumInfo *info;
	Relation	index;
	int			m;
	int			efConstruction;
	HnswCodeKind codeKind;	/* from the metapage */
	HnswCodeKind exactKind;
	int			dim;
	uint64	   *deleted;		/* keys of deleted elements, ascending */
	int			ndeleted;
	int			maxdeleted;		/* allocated */
	int			limitdeleted;	/* most one round may list */
	uint64	   *deletedMask;	/* per block below nblocks, bit (offset %
								 * 64) set if an element there is listed
								 * deleted: IsDeleted's quick answer */
	BlockNumber nextBlock;		/* where pass 1 goes on */
	BlockNumber nblocks;		/* pages when bulk deletion started */
	IndexBulkDeleteCallback callback;	/* of bulk deletion, or NULL */
	void	   *callbackState;
	MemoryContext cacheCxt;		/* element cache for repairs */
	HnswGraph  *graph;
	ItemPointerData bestLive;	/* highest live element seen in pass 2 */
	int			bestLevel;
	bool		building;		/* pass 4 for CREATE INDEX: no WAL records */
	BlockNumber knownBlocks;	/* blocks of the index known to exist, for
								 * checks of links (HnswCheckSlots) */
} HnswVacuumState;

static inline uint64
TidKey(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumber(tid) << 16) |
		ItemPointerGetOffsetNumber(tid);
}

/*
 * Return the memory a vacuum of the index may use, in bytes: like
 * PostgreSQL's vacuum, autovacuum_work_mem in an autovacuum worker if it is
 * set, else maintenance_work_mem.
 */
static Size
VacuumMemory(void)
{
	int			kb = maintenance_work_mem;

	if (IsAutoVacuumWorkerProcess() && autovacuum_work_mem != -1)
		kb = autovacuum_work_mem;
	return (Size) kb * 1024;
}

/*
 * Return block blkno of the index pinned and locked in mode, read with
 * vacuum's buffer access strategy, after the cost-based vacuum delay.  Its
 * header and special space are checked (HnswCheckPage).
 */
static Buffer
LockVacuumPage(HnswVacuumState *vs, BlockNumber blkno, int mode)
{
	Buffer		buf;

	vacuum_delay_point();
	buf = ReadBufferExtended(vs->index, MAIN_FORKNUM, blkno, RBM_NORMAL,
							 vs->info->strategy);
	LockBuffer(buf, mode);
	HnswCheckPage(vs->index, buf);
	return buf;
}

/*
 * Return the element tuple at off of a page vacuum holds locked, checked
 * (HnswGetElement), or NULL if there is none.
 */
static HnswElementTuple
VacuumElement(HnswVacuumState *vs, Buffer buf, OffsetNumber off)
{
	const HnswLayout *layout = HnswGraphLayout(vs->graph);

	return HnswGetElement(vs->index, layout, buf, off);
}

/*
 * Raise ERRCODE_INDEX_CORRUPTED unless every link of tup, the element at
 * (blkno, off), lies inside the index (HnswCheckSlots).
 */
static void
VacuumCheckSlots(HnswVacuumState *vs, HnswElementTuple tup,
				 BlockNumber blkno, OffsetNumber off)
{
	const HnswLayout *layout = HnswGraphLayout(vs->graph);

	HnswCheckSlots(vs->index, &vs->knownBlocks, layout, tup, blkno, off);
}

/* The highest offset of a locked page; InvalidOffsetNumber if it is new */
static inline OffsetNumber
MaxOffset(Page page)
{
	return PageIsNew(page) ? InvalidOffsetNumber : PageGetMaxOffsetNumber(page);
}

/*
 * Return whether the element at tid was found deleted in pass 1.  Pass 2
 * asks for every slot and candidate it reads, most of them live: the mask
 * answers those without the binary search (bsearch's calls were a quarter
 * of a VACUUM's time in perf).
 */
static inline bool
IsDeleted(HnswVacuumState *vs, ItemPointer tid)
{
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	uint64		key;
	int			lo = 0;
	int			hi = vs->ndeleted;

	if (vs->deletedMask == NULL || blkno >= vs->nblocks ||
		(vs->deletedMask[blkno] & (UINT64CONST(1) << (off % 64))) == 0)
		return false;
	key = TidKey(tid);
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (vs->deleted[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < vs->ndeleted && vs->deleted[lo] == key;
}

/*
 * Set vs->deletedMask from the elements pass 1 listed: 8 bytes per block of
 * the index when bulk deletion started, allocated once per VACUUM in the
 * current context and counted against the element cache's memory
 * (RepairGraph).
 */
static void
SetDeletedMask(HnswVacuumState *vs)
{
	Size		size = sizeof(uint64) * Max(vs->nblocks, 1);

	if (vs->deletedMask == NULL)
		vs->deletedMask = MemoryContextAllocHuge(CurrentMemoryContext, size);
	memset(vs->deletedMask, 0, size);
	for (int i = 0; i < vs->ndeleted; i++)
		vs->deletedMask[vs->deleted[i] >> 16] |=
			UINT64CONST(1) << ((vs->deleted[i] & 0xFFFF) % 64);
}

/* Return a fresh element cache, dropping the old one */
static void
ResetCache(HnswVacuumState *vs)
{
	MemoryContextReset(vs->cacheCxt);
	vs->graph = HnswCreateGraph(vs->index, vs->cacheCxt, vs->dim);
	vs->graph->m = vs->m;
	vs->graph->efConstruction = vs->efConstruction;
	vs->graph->codeKind = vs->codeKind;
	vs->graph->exactKind = vs->exactKind;
	vs->graph->skipDeleted = true;
	/*
	 * keepPrunedConnections: after many deletions the heuristic alone can
	 * leave an element with too few links to stay reachable, so the holes
	 * it leaves are filled with the nearest candidates it passed over.
	 */
	vs->graph->keepPruned = true;
}

/*
 * Pass 1: remove the heap TIDs the callback calls dead; mark elements left
 * without any deleted and remember them.  Starts at vs->nextBlock and stops
 * before a page whose elements could take the list past vs->limitdeleted,
 * leaving vs->nextBlock there (vs->nblocks when it has read every page): the
 * caller repairs and frees what it listed, then calls again.  One exclusive
 * page lock at a time, one WAL record per changed page.
 */
static void
RemoveHeapTids(HnswVacuumState *vs, IndexBulkDeleteResult *stats)
{
	Relation	index = vs->index;
	IndexBulkDeleteCallback callback = vs->callback;
	void	   *callback_state = vs->callbackState;

	for (; vs->nextBlock < vs->nblocks; vs->nextBlock++)
	{
		BlockNumber blkno = vs->nextBlock;
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;
		HnswPageEdit edit;
		bool		editing = false;

		buf = LockVacuumPage(vs, blkno, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		maxoff = MaxOffset(page);

		/* the list is full for this round (never with an empty list) */
		if (vs->ndeleted + (int) maxoff > vs->limitdeleted)
		{
			UnlockReleaseBuffer(buf);
			break;
		}

		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			HnswElementTuple tup = VacuumElement(vs, buf, off);
			bool		dead[HNSW_HEAPTIDS];
			int			ndead = 0;
			int			nlive = 0;

			if (tup == NULL)
				continue;
			for (int i = 0; i < HnswTupleTidCapacity(tup); i++)
			{
				dead[i] = false;
				if (!ItemPointerIsValid(&tup->heaptids[i]))
					continue;
				if (callback(&tup->heaptids[i], callback_state))
				{
					dead[i] = true;
					ndead++;
				}
				else
					nlive++;
			}
			stats->num_index_tuples += nlive;
			stats->tuples_removed += ndead;

			if (ndead > 0 || (nlive == 0 && !tup->deleted))
			{
				int			n = 0;

				if (!editing)
				{
					page = HnswEditStart(&edit, index, buf, false, false);
					editing = true;
				}
				tup = HnswGetElementTuple(page, off);
				for (int i = 0; i < HnswTupleTidCapacity(tup); i++)
					if (ItemPointerIsValid(&tup->heaptids[i]) && !dead[i])
						tup->heaptids[n++] = tup->heaptids[i];
				for (int i = n; i < HnswTupleTidCapacity(tup); i++)
					ItemPointerSetInvalid(&tup->heaptids[i]);
				if (n == 0)
					tup->deleted = 1;
			}

			if (tup->deleted)
			{
				if (vs->ndeleted == vs->maxdeleted)
				{
					vs->maxdeleted = Min(vs->maxdeleted * 2, vs->limitdeleted);
					vs->deleted = repalloc_huge(vs->deleted,
												sizeof(uint64) * vs->maxdeleted);
				}
				vs->deleted[vs->ndeleted++] = ((uint64) blkno << 16) | off;
			}
		}
		if (editing)
			HnswEditFinish(&edit);
		UnlockReleaseBuffer(buf);
	}
}

/*
 * Add to cands (holding ncands, with room for ef more) the live elements a
 * search from the entry point with ef candidates finds nearest to e on
 * level lc; return the new count.  Unless descend, the search starts on
 * level lc from the entry point itself, and so finds only elements that
 * level's links lead to from there.
 */
static int
SearchCandidates(HnswVacuumState *vs, HnswElement e, int lc,
				 HnswCandidate *cands, int ncands, int ef, bool descend)
{
	HnswGraph  *graph = vs->graph;
	HnswMetaPageData meta;
	HnswElement ep = HnswGetEntryPoint(graph, &meta);
	HnswCandidate *w;
	int			nw = 1;
	int			added = 0;

	if (ep == NULL || ep->level < lc)
		return ncands;
	w = palloc(sizeof(HnswCandidate));
	w[0].element = ep;
	w[0].distance = HnswDistance(graph, e->vec, ep->vec);
	if (descend)
		w = HnswDescend(graph, e->vec, w, &nw, ep->level, lc);
	HnswNewSearch(graph);
	w = HnswSearchLayer(graph, e->vec, w, nw, ef, lc, &nw, NULL);
	for (int i = 0; i < nw && added < ef; i++)
	{
		bool		dup = w[i].element == e || w[i].element->deleted ||
			w[i].element->missing || IsDeleted(vs, &w[i].element->tid);

		for (int j = 0; j < ncands && !dup; j++)
			if (cands[j].element == w[i].element)
				dup = true;
		if (!dup)
		{
			cands[ncands++] = w[i];
			added++;
		}
	}
	return ncands;
}

/*
 * Choose the new neighbours of element e on level lc into chosen (room for
 * the level's capacity) and return how many: the live neighbours of its
 * deleted neighbours (two hops) and its own live neighbours are candidates;
 * with fewer than a full list, a search for e adds more (SearchCandidates:
 * deleted elements are still linked until pass 3, and it goes through
 * them); then the heuristic with keepPrunedConnections.  Share locks one
 * at a time.
 */
static int
ChooseRepair(HnswVacuumState *vs, HnswElement e, int lc, HnswCandidate *chosen)
{
	HnswGraph  *graph = vs->graph;
	HnswNeighborList *list = e->neighbors[lc];
	int			cap = HNSW_LEVEL_CAPACITY(lc, graph->m);
	HnswCandidate *cands;
	int			ncands = 0;
	int			maxcands = cap * (cap + 1) + graph->efConstruction;

	HnswNewSearch(graph);
	e->visited = graph->searchTag;
	cands = palloc(sizeof(HnswCandidate) * maxcands);
	for (int i = 0; i < list->length; i++)
	{
		HnswElement n = list->items[i].element;

		if (!IsDeleted(vs, &n->tid))
			continue;
		if (!HnswLoadElement(graph, n) || n->level < lc)
			continue;
		for (int j = 0; j < n->neighbors[lc]->length; j++)
		{
			HnswElement c = n->neighbors[lc]->items[j].element;

			if (c->visited == graph->searchTag || IsDeleted(vs, &c->tid))
				continue;
			c->visited = graph->searchTag;
			if (!HnswLoadElement(graph, c) || c->deleted || ncands >= maxcands)
				continue;
			cands[ncands].element = c;
			cands[ncands].distance = HnswDistance(graph, e->vec, c->vec);
			ncands++;
		}
	}
	/* live neighbours stay; they also steer the heuristic */
	for (int i = 0; i < list->length; i++)
	{
		HnswElement n = list->items[i].element;

		if (IsDeleted(vs, &n->tid) || n->visited == graph->searchTag ||
			!HnswLoadElement(graph, n) || ncands >= maxcands)
			continue;
		n->visited = graph->searchTag;
		cands[ncands++] = list->items[i];
	}
	/* too few two hops away: a sparse neighbourhood, or most of it deleted */
	if (ncands < cap)
		ncands = SearchCandidates(vs, e, lc, cands, ncands,
								  graph->efConstruction, true);

	/* nearest first */
	for (int i = 1; i < ncands; i++)
	{
		HnswCandidate c = cands[i];
		int			j;

		for (j = i; j > 0 && cands[j - 1].distance > c.distance; j--)
			cands[j] = cands[j - 1];
		cands[j] = c;
	}
	return HnswSelectNeighbors(graph, cands, ncands, cap, chosen);
}

/*
 * For AddReverseLink: return the slot of the full list copy (cap slots,
 * its owner's) whose link gives way to e, at distance from the owner, or
 * -1 if e is the one to leave out.  The list plus e, nearest first
 * (HnswSortFullList), goes through HnswSelectNeighbors (the heuristic,
 * then keepPruned): the slot of the one candidate it leaves out, or of the
 * furthest element gone or deleted.  Share locks one at a time, none on
 * entry or exit.
 */
static int
ChooseReverseDrop(HnswVacuumState *vs, char *copy, int cap, HnswElement e,
				  float distance)
{
	HnswGraph  *graph = vs->graph;
	HnswCandidate cands[2 * HNSW_MAX_M + 1];
	HnswCandidate kept[2 * HNSW_MAX_M + 1];
	int			from[2 * HNSW_MAX_M + 1];
	int			n;
	int			nout;
	int			gone;

	gone = HnswSortFullList(graph, copy, cap, e, distance, cands, from, &n);
	if (gone >= 0)
		return gone;
	nout = HnswSelectNeighbors(graph, cands, n, cap, kept);
	for (int i = 0; i < n; i++)
	{
		bool		in = false;

		for (int j = 0; j < nout && !in; j++)
			in = kept[j].element == cands[i].element;
		if (!in)
			return from[i];
	}
	return -1;
}

/*
 * Link element c back to the repaired element e on level lc, e being at
 * distance from c: into a hole of c's list (an empty slot, or one linking
 * to a deleted element) if it has one, else in place of the link the
 * selection heuristic with keepPruned leaves out of c's list plus e, as an
 * insert prunes a full list (nothing if e is the one left out).  Without
 * this, an element whose incoming links came from deleted elements keeps
 * only the links the repairs of other elements happen to give it:
 * concurrent inserts and updates link new elements to rows that died and
 * are freed by the next VACUUM, and their in-degree sinks (src/README
 * "Vacuum").
 *
 * Locks: an exclusive lock on c's page to look for room; a full list is
 * copied and the lock released while pruning reads other pages (share
 * locks one at a time), then the exclusive lock is taken again and the
 * choice applied only if the list is the one copied (otherwise, a
 * concurrent insert changed it, the link is not added: it costs recall at
 * most).  No lock held on entry or exit; one WAL record.
 */
static void
AddReverseLink(HnswVacuumState *vs, HnswElement c, HnswElement e,
			   float distance, int lc)
{
	OffsetNumber off = ItemPointerGetOffsetNumber(&c->tid);
	int			start = HNSW_LEVEL_START(lc, vs->m);
	int			cap = HNSW_LEVEL_CAPACITY(lc, vs->m);
	char		copy[2 * HNSW_MAX_M * sizeof(HnswNeighborSlot)];
	int			chosen = -1;
	bool		pruned = false;

	for (;;)
	{
		Buffer		buf;
		HnswElementTuple tup;
		char	   *slots;

		buf = LockVacuumPage(vs, ItemPointerGetBlockNumber(&c->tid),
							 BUFFER_LOCK_EXCLUSIVE);
		tup = VacuumElement(vs, buf, off);
		if (tup == NULL || tup->deleted || tup->level < lc)
		{
			UnlockReleaseBuffer(buf);
			return;
		}
		slots = HnswTupleGetSlots(tup) + start * sizeof(HnswNeighborSlot);
		if (!pruned)
		{
			for (int i = 0; i < cap; i++)
			{
				ItemPointer t = HnswSlotTid(slots, i);

				if (ItemPointerEquals(t, &e->tid))
				{
					UnlockReleaseBuffer(buf);
					return;
				}
				if (chosen < 0 && (!ItemPointerIsValid(t) || IsDeleted(vs, t)))
					chosen = i;
			}
			if (chosen < 0)
			{
				/* full: choose without the lock, on a copy */
				memcpy(copy, slots, sizeof(HnswNeighborSlot) * cap);
				UnlockReleaseBuffer(buf);
				pruned = true;
				chosen = ChooseReverseDrop(vs, copy, cap, e, distance);
				if (chosen < 0)
					return;
				continue;
			}
		}
		else if (memcmp(copy, slots, sizeof(HnswNeighborSlot) * cap) != 0)
			chosen = -1;		/* changed meanwhile: leave it */

		if (chosen >= 0)
		{
			HnswPageEdit edit;
			Page		page = HnswEditStart(&edit, vs->index, buf, false, false);

			tup = HnswGetElementTuple(page, off);
			HnswSetLink(tup, vs->m, start + chosen, &e->tid, distance,
						HnswElementKnownKey(e));
			HnswEditFinish(&edit);
		}
		UnlockReleaseBuffer(buf);
		return;
	}
}

/*
 * Give element e (at tid) new neighbours in place of the deleted ones, on
 * each level those ChooseRepair picks, into the holes.  The slots are
 * re-read under an exclusive lock, so links added meanwhile stay.  Then
 * each new neighbour links back to e (AddReverseLink).
 *
 * No lock is held on entry or exit; reading candidates takes share locks
 * one at a time before the element's page is locked.  One WAL record for
 * e's page, and one per reverse link added.
 */
static void
RepairElement(HnswVacuumState *vs, ItemPointer tid)
{
	HnswGraph  *graph = vs->graph;
	HnswElement e = HnswLookupElement(graph, tid);
	HnswCandidate **chosen;
	int		   *nchosen;
	HnswCandidate **added;		/* the links written, by level */
	int		   *nadded;
	Buffer		buf;
	Page		page;
	HnswElementTuple tup;
	HnswPageEdit edit;
	bool		editing = false;

	if (!HnswLoadElement(graph, e) || e->deleted)
		return;

	chosen = palloc0(sizeof(HnswCandidate *) * (e->level + 1));
	nchosen = palloc0(sizeof(int) * (e->level + 1));
	added = palloc0(sizeof(HnswCandidate *) * (e->level + 1));
	nadded = palloc0(sizeof(int) * (e->level + 1));
	for (int lc = 0; lc <= e->level; lc++)
	{
		chosen[lc] = palloc(sizeof(HnswCandidate) *
							HNSW_LEVEL_CAPACITY(lc, graph->m));
		added[lc] = palloc(sizeof(HnswCandidate) *
						   HNSW_LEVEL_CAPACITY(lc, graph->m));
		nchosen[lc] = ChooseRepair(vs, e, lc, chosen[lc]);
	}

	buf = LockVacuumPage(vs, ItemPointerGetBlockNumber(tid),
						 BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	tup = VacuumElement(vs, buf, ItemPointerGetOffsetNumber(tid));
	if (tup != NULL && !tup->deleted && tup->level == e->level)
	{
		for (int lc = 0; lc <= e->level; lc++)
		{
			int			start = HNSW_LEVEL_START(lc, graph->m);
			int			cap = HNSW_LEVEL_CAPACITY(lc, graph->m);
			char	   *slots;
			int			next = 0;

			slots = HnswTupleGetSlots(tup);
			for (int i = start; i < start + cap; i++)
			{
				bool		present;

				if (ItemPointerIsValid(HnswSlotTid(slots, i)) &&
					!IsDeleted(vs, HnswSlotTid(slots, i)))
					continue;

				/* a hole: fill it with the next chosen one not linked yet */
				for (; next < nchosen[lc]; next++)
				{
					present = false;
					for (int j = start; j < start + cap; j++)
						if (ItemPointerEquals(HnswSlotTid(slots, j),
											  &chosen[lc][next].element->tid))
							present = true;
					if (!present)
						break;
				}
				if (!editing)
				{
					page = HnswEditStart(&edit, vs->index, buf, false, false);
					tup = HnswGetElementTuple(page, ItemPointerGetOffsetNumber(tid));
					slots = HnswTupleGetSlots(tup);
					editing = true;
				}
				if (next < nchosen[lc])
				{
					HnswSetLink(tup, vs->m, i, &chosen[lc][next].element->tid,
								chosen[lc][next].distance,
								HnswElementKnownKey(chosen[lc][next].element));
					added[lc][nadded[lc]++] = chosen[lc][next];
					next++;
				}
				else
					ItemPointerSetInvalid(HnswSlotTid(slots, i));
			}
		}
	}
	if (editing)
		HnswEditFinish(&edit);
	UnlockReleaseBuffer(buf);

	/* the new neighbours link back to e */
	for (int lc = 0; lc <= e->level; lc++)
		for (int i = 0; i < nadded[lc]; i++)
			AddReverseLink(vs, added[lc][i].element, e, added[lc][i].distance,
						   lc);
}

/*
 * Return whether the element tup (on a locked page pass 1 has not reached
 * yet) will be deleted by a later round: the callback calls every heap TID
 * of it dead.
 */
static bool
Doomed(HnswVacuumState *vs, HnswElementTuple tup)
{
	for (int i = 0; i < HnswTupleTidCapacity(tup); i++)
		if (ItemPointerIsValid(&tup->heaptids[i]) &&
			!vs->callback(&tup->heaptids[i], vs->callbackState))
			return false;
	return true;
}

/*
 * Pass 2: repair every live element that links to a deleted one, and find
 * the highest live element (a new entry point if the old one is deleted).
 * When pass 1 stopped short of the last page (rounds, see hnswbulkdelete),
 * the elements beyond it whose heap TIDs are all dead are neither repaired
 * nor made the entry point: a later round deletes them, and repairing them
 * would make a vacuum in rounds repair most elements once per round.  The
 * entry point is repaired anyway, since the searches of the next round
 * start from it.
 */
static void
RepairGraph(HnswVacuumState *vs)
{
	Relation	index = vs->index;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	/* the element cache has what the deleted list leaves, at least half */
	Size		limit = VacuumMemory() -
		Min(sizeof(uint64) * vs->maxdeleted, VacuumMemory() / 2) -
		Min(sizeof(uint64) * vs->nblocks, VacuumMemory() / 4);

	HnswMetaPageData meta;

	ItemPointerSetInvalid(&vs->bestLive);
	vs->bestLevel = -1;
	ResetCache(vs);
	HnswReadMeta(index, &meta);

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;
		ItemPointerData repair[MaxOffsetNumber];
		int			nrepair = 0;

		buf = LockVacuumPage(vs, blkno, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = MaxOffset(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			HnswElementTuple tup = VacuumElement(vs, buf, off);
			ItemPointerData tid;
			char	   *slots;

			if (tup == NULL || tup->deleted)
				continue;
			VacuumCheckSlots(vs, tup, blkno, off);
			ItemPointerSet(&tid, blkno, off);
			if (blkno >= vs->nextBlock && vs->nextBlock < vs->nblocks &&
				!ItemPointerEquals(&tid, &meta.entryPoint) && Doomed(vs, tup))
				continue;
			if (tup->level > vs->bestLevel)
			{
				vs->bestLevel = tup->level;
				ItemPointerSet(&vs->bestLive, blkno, off);
			}
			slots = HnswTupleGetSlots(tup);
			for (int i = 0; i < HNSW_SLOTS(tup->level, vs->m); i++)
			{
				ItemPointer slotTid = HnswSlotTid(slots, i);

				if (ItemPointerIsValid(slotTid) && IsDeleted(vs, slotTid))
				{
					ItemPointerSet(&repair[nrepair], blkno, off);
					nrepair++;
					break;
				}
			}
		}
		UnlockReleaseBuffer(buf);

		for (int i = 0; i < nrepair; i++)
		{
			/* the cache is a convenience: start over when it grows too big */
			if (MemoryContextMemAllocated(vs->cacheCxt, true) > limit)
				ResetCache(vs);
			RepairElement(vs, &repair[i]);
		}
	}
}

/*
 * If the entry point is deleted, make the highest live element found in
 * pass 2 the entry point (none: the index is empty).  Decided under the
 * metapage's exclusive lock, so an entry point an insert set meanwhile is
 * kept.
 */
static void
ReplaceEntryPoint(HnswVacuumState *vs)
{
	Buffer		buf = ReadBuffer(vs->index, HNSW_METAPAGE_BLKNO);
	HnswMetaPage meta;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	HnswCheckMetaBuffer(vs->index, buf);
	meta = HnswPageGetMeta(BufferGetPage(buf));
	if (ItemPointerIsValid(&meta->entryPoint) &&
		IsDeleted(vs, &meta->entryPoint))
	{
		HnswPageEdit edit;

		meta = HnswPageGetMeta(HnswEditStart(&edit, vs->index, buf, false, false));
		meta->entryPoint = vs->bestLive;
		meta->entryLevel = ItemPointerIsValid(&vs->bestLive) ? vs->bestLevel : -1;
		HnswEditFinish(&edit);
	}
	UnlockReleaseBuffer(buf);
}

/*
 * Pass 3: remove the deleted elements from their pages (their line pointers
 * become unused and are reused by inserts) and record the free space.  The
 * vectors of elements that keep them out of line are freed after their
 * element, chunk by chunk (HnswFreeExactVector), so that no element ever
 * links to a freed chunk.  The tail of a head tuple is freed with its head,
 * in the same WAL record.
 */
static void
FreeDeleted(HnswVacuumState *vs)
{
	Relation	index = vs->index;
	int			i = 0;
	ItemPointerData *links = palloc(sizeof(ItemPointerData) * MaxOffsetNumber);

	while (i < vs->ndeleted)
	{
		BlockNumber blkno = (BlockNumber) (vs->deleted[i] >> 16);
		Buffer		buf;
		Page		page;
		HnswPageEdit edit;
		Size		freespace;
		Size		tailFree = 0;
		int			nlinks = 0;

		Buffer		tailBuf = InvalidBuffer;
		Page		tailPage = NULL;
		bool		tailFound = false;
		int			first = i;

		buf = LockVacuumPage(vs, blkno, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		for (int j = i; j < vs->ndeleted && (vs->deleted[j] >> 16) == blkno; j++)
		{
			OffsetNumber off = (OffsetNumber) (vs->deleted[j] & 0xFFFF);
			HnswElementTuple tup = VacuumElement(vs, buf, off);

			i = j + 1;
			/*
			 * A head's tail, first on the next page, goes in the same WAL
			 * record: that page is locked second, in block order, which
			 * nothing else does (src/README "Locking").  Not through
			 * LockVacuumPage: no vacuum delay with a lock held.  Checked
			 * here, before the page edit starts.
			 */
			if (tup != NULL && tup->deleted && tup->type == HNSW_HEAD_TUPLE &&
				!BufferIsValid(tailBuf))
			{
				ItemPointerData head;

				if (blkno + 1 >= vs->knownBlocks)
					vs->knownBlocks = RelationGetNumberOfBlocks(index);
				if (blkno + 1 >= vs->knownBlocks)
					HNSW_CORRUPT(index, "has an element cut over two pages without its tail",
								 "Block %u, offset %u: a head tuple on the last block of the index.",
								 blkno, off);
				tailBuf = ReadBufferExtended(index, MAIN_FORKNUM, blkno + 1,
											 RBM_NORMAL, vs->info->strategy);
				LockBuffer(tailBuf, BUFFER_LOCK_EXCLUSIVE);
				HnswCheckPage(index, tailBuf);
				ItemPointerSet(&head, blkno, off);
				tailFound = HnswGetTail(index, tailBuf, &head, NULL) != NULL;
			}
		}
		page = HnswEditStart(&edit, index, buf, false, false);
		if (BufferIsValid(tailBuf))
			tailPage = HnswEditAddPage(&edit, tailBuf);

		/* offsets descending keeps the earlier ones valid */
		for (int j = i - 1; j >= first; j--)
		{
			OffsetNumber off = (OffsetNumber) (vs->deleted[j] & 0xFFFF);
			HnswElementTuple tup = HnswGetElementTuple(page, off);

			if (tup != NULL && tup->deleted)
			{
				if (HnswTupleVector(tup)->kind <= HNSW_CODE_MAX &&
					HnswVectorHasLink(HnswTupleVector(tup)))
					links[nlinks++] = *HnswVectorGetLink(HnswTupleVector(tup));
				if (tup->type == HNSW_HEAD_TUPLE && tailFound)
					PageIndexTupleDeleteNoCompact(tailPage, FirstOffsetNumber);
				PageIndexTupleDeleteNoCompact(page, off);
			}
		}
		PageSetHasFreeLinePointers(page);
		freespace = PageGetFreeSpace(page);
		if (tailPage != NULL)
		{
			PageSetHasFreeLinePointers(tailPage);
			tailFree = PageGetFreeSpace(tailPage);
		}
		HnswEditFinish(&edit);
		UnlockReleaseBuffer(buf);
		RecordPageWithFreeSpace(index, blkno, freespace);
		if (BufferIsValid(tailBuf))
		{
			UnlockReleaseBuffer(tailBuf);
			RecordPageWithFreeSpace(index, blkno + 1, tailFree);
		}

		for (int j = 0; j < nlinks; j++)
			HnswFreeExactVector(index, &links[j], vs->info->strategy);
	}
	pfree(links);
}

/*
 * Pass 4, at every VACUUM (bulk deletion or not): give every live element
 * that no search can reach a link from a reachable one.  Pruning during
 * inserts can drop an element's last incoming link (CREATE INDEX links such
 * elements before it writes the graph, inserts cannot tell); a search can
 * then never return its rows.  See src/README "Vacuum".
 *
 * The elements are listed in TID order by one pass over the pages; the
 * walk of hnswreach.c from the entry point (one share lock per element
 * reached) marks the reachable ones with the tree of first links that
 * reached them.  Each unreachable element is then linked, on level 0, from
 * the nearest reachable element among its own neighbours (ReplaceLink), or
 * from the nearest one a search for it finds, and what it reaches becomes
 * reachable too.  A link is replaced only if it is not in the tree, so no
 * element that was reachable stops being so.  An element none of whose
 * reachable neighbours had a slot may find one among those a later link
 * made reachable: the pass over the unreachable elements is repeated while
 * it links some, up to HNSW_LINK_ROUNDS times.
 */
#define HNSW_LINK_ROUNDS	8
#define HNSW_LINK_SEARCH_EF	64

typedef struct LinkState
{
	HnswVacuumState *vs;
	HnswTidList list;			/* every element, in TID order */
	HnswReach	reach;			/* over the list's numbers */
	Size		cacheLimit;		/* memory for vs->graph's cache */
} LinkState;

/*
 * One pass over the pages, one share lock at a time: with list, list the
 * elements of the index into ls->list, within limit bytes for the list and
 * its walk; with count, add their heap TIDs to count->num_index_tuples.
 * Return false, listing nothing, if the list would take more (the count
 * goes on).
 */
static bool
ScanElements(LinkState *ls, bool list, IndexBulkDeleteResult *count,
			 Size limit)
{
	HnswVacuumState *vs = ls->vs;
	BlockNumber nblocks = RelationGetNumberOfBlocks(vs->index);

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber maxoff;

		buf = LockVacuumPage(vs, blkno, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		maxoff = MaxOffset(page);
		for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
		{
			HnswElementTuple tup = VacuumElement(vs, buf, off);
			ItemPointerData tid;

			if (tup == NULL)
				continue;
			/* the walk reads the links of the reached ones */
			VacuumCheckSlots(vs, tup, blkno, off);
			for (int i = 0; count != NULL && i < HnswTupleTidCapacity(tup); i++)
				if (ItemPointerIsValid(&tup->heaptids[i]))
					count->num_index_tuples++;
			if (!list)
				continue;
			ItemPointerSet(&tid, blkno, off);
			if (!HnswTidListAdd(&ls->list, &tid, tup->level,
								HnswTupleOwnHint(tup), tup->deleted != 0,
								limit))
			{
				/* too many to list; count on if asked to */
				if (ls->list.elements)
					pfree(ls->list.elements);
				memset(&ls->list, 0, sizeof(ls->list));
				list = false;
			}
		}
		UnlockReleaseBuffer(buf);
	}
	return list;
}

/*
 * Set level-0 slot i of listed element x, on buf's page (exclusively locked
 * by the caller), to a link to listed element t at distance: one WAL record
 * (none while building).
 */
static void
WriteSlot(HnswVacuumState *vs, Buffer buf, HnswTidElement *x, int i,
		  HnswTidElement *t, float distance)
{
	HnswPageEdit edit;
	Page		page = HnswEditStart(&edit, vs->index, buf, vs->building,
									 false);
	HnswElementTuple tup = HnswGetElementTuple(page,
											   ItemPointerGetOffsetNumber(&x->tid));

	HnswSetLinkHint(tup, vs->m, i, &t->tid, distance, t->hint);
	HnswEditFinish(&edit);
}

/*
 * The furthest tree link of the reached element v's level-0 list (see
 * hnswreach.c), as a listed element, or HNSW_REACH_NONE.  A share lock on
 * v's page.
 */
static uint32
FurthestTreeLink(LinkState *ls, uint32 v)
{
	HnswVacuumState *vs = ls->vs;
	HnswTidElement *ve = &ls->list.elements[v];
	int			cap = HNSW_LEVEL_CAPACITY(0, vs->m);
	Buffer		buf;
	HnswElementTuple tup;
	uint32		child = HNSW_REACH_NONE;
	float		furthest = -INFINITY;

	buf = LockVacuumPage(vs, ItemPointerGetBlockNumber(&ve->tid),
						 BUFFER_LOCK_SHARE);
	tup = VacuumElement(vs, buf, ItemPointerGetOffsetNumber(&ve->tid));
	if (tup != NULL && tup->level == ve->level && !tup->deleted)
	{
		char	   *slots = HnswTupleGetSlots(tup);

		for (int i = 0; i < cap; i++)
		{
			uint32		t = HnswTidListFind(&ls->list, HnswSlotTid(slots, i));

			if (t != HNSW_REACH_NONE && HnswReachIsTree(&ls->reach, v, t) &&
				!ls->list.elements[t].deleted &&
				HnswSlotDistance(slots, i) > furthest)
			{
				child = t;
				furthest = HnswSlotDistance(slots, i);
			}
		}
	}
	UnlockReleaseBuffer(buf);
	return child;
}

/*
 * Make the level-0 list of listed element x link to listed element to at
 * distance, unless it does already: in place of its link to from, or with
 * from HNSW_REACH_NONE in a free slot or in place of its furthest link
 * (with keepTree, its furthest link that is not in the walk's tree, so
 * that no element stops being reachable).  The slots are read under an
 * exclusive lock on x's page; one WAL record (none while building).
 * Return false if x is gone or has no such slot.
 */
static bool
ReplaceLink(LinkState *ls, uint32 x, uint32 from, uint32 to, float distance,
			bool keepTree)
{
	HnswVacuumState *vs = ls->vs;
	HnswTidElement *xe = &ls->list.elements[x];
	HnswTidElement *te = &ls->list.elements[to];
	int			cap = HNSW_LEVEL_CAPACITY(0, vs->m);
	Buffer		buf;
	HnswElementTuple tup;
	char	   *slots;
	int			slot = -1;
	bool		done = false;

	buf = LockVacuumPage(vs, ItemPointerGetBlockNumber(&xe->tid),
						 BUFFER_LOCK_EXCLUSIVE);
	tup = VacuumElement(vs, buf, ItemPointerGetOffsetNumber(&xe->tid));
	if (tup == NULL || tup->level != xe->level || tup->deleted)
	{
		UnlockReleaseBuffer(buf);
		return false;
	}
	slots = HnswTupleGetSlots(tup);
	for (int i = 0; i < cap && !done; i++)
	{
		ItemPointer tid = HnswSlotTid(slots, i);

		if (ItemPointerEquals(tid, &te->tid))
			done = true;
		else if (from != HNSW_REACH_NONE)
		{
			if (ItemPointerEquals(tid, &ls->list.elements[from].tid))
				slot = i;
		}
		else if (!ItemPointerIsValid(tid))
		{
			/* the first free slot */
			if (slot < 0 || ItemPointerIsValid(HnswSlotTid(slots, slot)))
				slot = i;
		}
		else if (slot < 0 || (ItemPointerIsValid(HnswSlotTid(slots, slot)) &&
							  HnswSlotDistance(slots, i) >
							  HnswSlotDistance(slots, slot)))
		{
			uint32		t = HnswTidListFind(&ls->list, tid);

			if (!keepTree ||
				(t != HNSW_REACH_NONE && !HnswReachIsTree(&ls->reach, x, t)))
				slot = i;
		}
	}
	if (!done && slot >= 0)
	{
		WriteSlot(vs, buf, xe, slot, te, distance);
		done = true;
	}
	UnlockReleaseBuffer(buf);
	return done;
}

/*
 * The listed number of candidate c of a search for the unreachable element
 * u if it is reached, live and not u, else HNSW_REACH_NONE.
 */
static uint32
ReachedCandidate(LinkState *ls, uint32 u, HnswCandidate *c)
{
	uint32		v = HnswTidListFind(&ls->list, &c->element->tid);

	if (v == HNSW_REACH_NONE || v == u || !HnswReached(&ls->reach, v) ||
		ls->list.elements[v].deleted)
		return HNSW_REACH_NONE;
	return v;
}

/*
 * Link the unreachable element u from the nearest reached candidate among
 * cands (a search for it, nearest first) that has a free slot or a link
 * outside the walk's tree to give (ReplaceLink); return that candidate, or
 * HNSW_REACH_NONE.
 */
static uint32
LinkFromCandidates(LinkState *ls, uint32 u, HnswCandidate *cands, int ncands)
{
	for (int i = 0; i < ncands; i++)
	{
		uint32		v = ReachedCandidate(ls, u, &cands[i]);

		if (v != HNSW_REACH_NONE &&
			ReplaceLink(ls, v, HNSW_REACH_NONE, u, cands[i].distance, true))
			return v;
	}
	return HNSW_REACH_NONE;
}

/*
 * Link the unreachable element u (vector e) when no reached element among
 * cands (a search for it, nearest first) has a slot for it that is not a
 * tree link, as happens with m = 2: the nearest one, v, gives its furthest
 * tree link, to t, to u, and u links to t instead of its own furthest
 * link.  u's page is changed first: u is not reached, so changing its list
 * cuts nothing off, and once v links to u, t and what hangs on it are
 * reached through u.  Return whether u is linked (and marked reached).
 */
static bool
SpliceUnreached(LinkState *ls, uint32 u, HnswElement e,
				HnswCandidate *cands, int ncands)
{
	HnswVacuumState *vs = ls->vs;

	for (int i = 0; i < ncands; i++)
	{
		uint32		v = ReachedCandidate(ls, u, &cands[i]);
		uint32		t;
		HnswElement te;

		if (v == HNSW_REACH_NONE ||
			(t = FurthestTreeLink(ls, v)) == HNSW_REACH_NONE)
			continue;
		te = HnswLookupElement(vs->graph, &ls->list.elements[t].tid);
		if (!HnswLoadElement(vs->graph, te) || te->deleted)
			continue;
		if (!ReplaceLink(ls, u, HNSW_REACH_NONE, t,
						 HnswDistance(vs->graph, e->vec, te->vec), false))
			return false;
		if (!ReplaceLink(ls, v, t, u, cands[i].distance, false))
			continue;			/* v changed meanwhile: u's link is harmless */
		HnswReachSplice(&ls->reach, v, u, t);
		return true;
	}
	return false;
}

/*
 * Link the unreachable element u from a reached one (ReplaceLink): the nearest
 * reached element among u's own level-0 neighbours that takes the link, or
 * failing that the nearest one a search from the entry point finds for u's
 * vector, or failing that by a splice (SpliceUnreached).  Return whether u
 * is linked now; it and what it reaches are then marked reached.
 */
static bool
LinkUnreached(LinkState *ls, uint32 u)
{
	HnswVacuumState *vs = ls->vs;
	HnswTidElement *ue = &ls->list.elements[u];
	int			cap = HNSW_LEVEL_CAPACITY(0, vs->m);
	HnswCandidate *own = palloc(sizeof(HnswCandidate) * cap);
	uint32	   *ownId = palloc(sizeof(uint32) * cap);
	int			nown = 0;
	Buffer		buf;
	HnswElementTuple tup;
	uint32		via = HNSW_REACH_NONE;

	/* u's own neighbours that are reached, nearest first */
	buf = LockVacuumPage(vs, ItemPointerGetBlockNumber(&ue->tid),
						 BUFFER_LOCK_SHARE);
	tup = VacuumElement(vs, buf, ItemPointerGetOffsetNumber(&ue->tid));
	if (tup != NULL && tup->level == ue->level)
	{
		char	   *slots = HnswTupleGetSlots(tup);

		for (int i = 0; i < cap; i++)
		{
			uint32		t = HnswTidListFind(&ls->list, HnswSlotTid(slots, i));
			float		d = HnswSlotDistance(slots, i);
			int			j;

			if (t == HNSW_REACH_NONE || !HnswReached(&ls->reach, t) ||
				ls->list.elements[t].deleted)
				continue;
			for (j = nown; j > 0 && own[j - 1].distance > d; j--)
			{
				own[j] = own[j - 1];
				ownId[j] = ownId[j - 1];
			}
			own[j].distance = d;
			ownId[j] = t;
			nown++;
		}
	}
	UnlockReleaseBuffer(buf);
	for (int i = 0; i < nown && via == HNSW_REACH_NONE; i++)
		if (ReplaceLink(ls, ownId[i], HNSW_REACH_NONE, u, own[i].distance,
						true))
			via = ownId[i];
	pfree(own);
	pfree(ownId);

	/*
	 * None takes it: search for its nearest, which are all reachable, with
	 * at least HNSW_LINK_SEARCH_EF candidates, since with small lists (m = 2)
	 * every slot of the nearest ones can be a tree link.
	 */
	if (via == HNSW_REACH_NONE)
	{
		int			ef = Max(vs->efConstruction, HNSW_LINK_SEARCH_EF);
		HnswCandidate *cands;
		int			ncands = 0;
		HnswElement e;

		cands = palloc(sizeof(HnswCandidate) * ef);
		if (MemoryContextMemAllocated(vs->cacheCxt, true) > ls->cacheLimit)
			ResetCache(vs);
		e = HnswLookupElement(vs->graph, &ue->tid);
		if (HnswLoadElement(vs->graph, e) && !e->deleted)
			ncands = SearchCandidates(vs, e, 0, cands, 0, ef, true);
		via = LinkFromCandidates(ls, u, cands, ncands);

		/*
		 * The levels above can lead that search into u's own unreached
		 * part: search level 0 from the entry point, which finds reached
		 * elements only, the nearest to u that level 0 leads to.
		 */
		if (via == HNSW_REACH_NONE && ncands > 0)
		{
			ncands = SearchCandidates(vs, e, 0, cands, 0, ef, false);
			via = LinkFromCandidates(ls, u, cands, ncands);
			if (via == HNSW_REACH_NONE &&
				SpliceUnreached(ls, u, e, cands, ncands))
			{
				pfree(cands);
				return true;
			}
		}
		pfree(cands);
	}
	if (via == HNSW_REACH_NONE)
		return false;
	HnswReachAdd(&ls->reach, via, u);
	return true;
}

/*
 * Pass 4 (see above).  Not under inner product without normalisation,
 * which is no metric: as in CREATE INDEX (src/README "Build"), elements
 * without incoming links there are mostly ones no query ranks first, and
 * linking them would take links from the hubs searches go through.  With
 * count (VACUUM without a bulk deletion), the same pass over the pages
 * also counts the index's heap TIDs into it, linking or not.
 *
 * Memory: the list and the walk take up to three quarters of the vacuum's
 * memory (VacuumMemory), the element cache of the searches the rest.
 */
static void
LinkAllUnreached(HnswVacuumState *vs, IndexBulkDeleteResult *count)
{
	LinkState	ls;
	HnswMetaPageData meta;
	bool		link;
	uint32		root;
	int			linked = 0;
	int			left = 0;
	Size		memory = VacuumMemory();

	HnswReadMeta(vs->index, &meta);
	if (ItemPointerIsValid(&meta.entryPoint))
		HnswCheckEntryPoint(vs->index, &vs->knownBlocks, &meta);
	link = ItemPointerIsValid(&meta.entryPoint) &&
		!(vs->graph->metric == HNSW_METRIC_IP && !vs->graph->normalize);
	if (!link && count == NULL)
		return;

	memset(&ls, 0, sizeof(ls));
	ls.vs = vs;
	if (!ScanElements(&ls, link, count, memory / 4 * 3))
	{
		/*
		 * A build says so as a WARNING: the index may then hold elements no
		 * search reaches until a VACUUM with more memory links them.
		 */
		ereport(vs->building ? WARNING : vs->info->message_level,
				(errmsg("index \"%s\" has too many elements to look for unreachable ones within \"%s\"",
						RelationGetRelationName(vs->index),
						IsAutoVacuumWorkerProcess() && autovacuum_work_mem != -1 ?
						"autovacuum_work_mem" : "maintenance_work_mem"),
				 vs->building ?
				 errdetail("Some rows may not be found by index searches.") : 0,
				 vs->building ?
				 errhint("Raise maintenance_work_mem and run VACUUM on the table, or REINDEX.") : 0));
		return;
	}
	if (!link)
		return;
	root = HnswTidListFind(&ls.list, &meta.entryPoint);
	if (root == HNSW_REACH_NONE)
		return;					/* a new entry point, inserted since */

	ls.list.index = vs->index;
	ls.list.layout = HnswGraphLayout(vs->graph);
	ls.list.strategy = vs->info->strategy;
	ls.list.vacuumDelay = true;
	ls.cacheLimit = memory - Min(memory,
								 (Size) ls.list.max * sizeof(HnswTidElement) +
								 HnswReachBytes(ls.list.max));
	HnswReachInit(&ls.reach, ls.list.n, HnswTidListLinks, &ls.list);
	HnswReachFrom(&ls.reach, root);

	/*
	 * An element linked makes what it links to reached too, and their slots
	 * may take an element passed over earlier in the round: so rounds go on
	 * while the last one linked some, up to HNSW_LINK_ROUNDS.
	 */
	for (int round = 0; round < HNSW_LINK_ROUNDS; round++)
	{
		int			linkedNow = 0;

		left = 0;
		for (uint32 u = 0; u < ls.list.n; u++)
		{
			if (HnswReached(&ls.reach, u) || ls.list.elements[u].deleted)
				continue;
			if (LinkUnreached(&ls, u))
				linkedNow++;
			else
				left++;
		}
		linked += linkedNow;
		if (left == 0 || linkedNow == 0)
			break;
	}
	if (linked > 0 || left > 0)
		ereport(vs->info->message_level,
				(errmsg("index \"%s\": linked %d elements no search could reach",
						RelationGetRelationName(vs->index), linked),
				 left > 0 ? errdetail("%d more could not be linked: no reachable element near them has a slot to spare.",
									  left) : 0));
	HnswReachFree(&ls.reach);
	pfree(ls.list.elements);
}

/*
 * Set up vs for the index of info, from its metapage, allocating in the
 * current memory context.
 */
static void
InitVacuumState(HnswVacuumState *vs, IndexVacuumInfo *info)
{
	HnswMetaPageData meta;

	memset(vs, 0, sizeof(*vs));
	vs->info = info;
	vs->index = info->index;
	HnswReadMeta(vs->index, &meta);
	vs->m = meta.m;
	vs->efConstruction = meta.efConstruction;
	vs->dim = meta.dimensions;
	vs->codeKind = meta.codeKind;
	vs->exactKind = meta.exactKind;
	/* half the memory for the deleted list, MaxOffsetNumber at least */
	vs->limitdeleted = (int) Min(Max(VacuumMemory() / 2 / sizeof(uint64),
									 MaxOffsetNumber),
								 INT_MAX / 2);
	vs->maxdeleted = Min(1024, vs->limitdeleted);
	vs->deleted = palloc(sizeof(uint64) * vs->maxdeleted);
	vs->cacheCxt = AllocSetContextCreate(CurrentMemoryContext,
										 "hnsw vacuum cache",
										 ALLOCSET_DEFAULT_SIZES);
	ResetCache(vs);
}

/*
 * Link the elements of an index being built that no search can reach, as
 * VACUUM's pass 4 does.  CREATE INDEX calls it when rows went into the
 * pages after the graph outgrew maintenance_work_mem (the graph in memory
 * is linked before it is written).  Writes no WAL: the build logs every
 * page when it ends.  Messages at DEBUG1.
 */
void
HnswLinkUnreachableBuilt(Relation index)
{
	IndexVacuumInfo info;
	HnswVacuumState vs;
	MemoryContext cxt;
	MemoryContext oldcxt;

	memset(&info, 0, sizeof(info));
	info.index = index;
	info.message_level = DEBUG1;
	info.strategy = NULL;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw build linking",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	InitVacuumState(&vs, &info);
	vs.building = true;
	LinkAllUnreached(&vs, NULL);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
}

/*
 * Bulk deletion: passes 1 to 3 above, in rounds when the deleted elements do
 * not fit the list at once (vs->limitdeleted, half of the vacuum's memory):
 * each round lists what it can, repairs the graph around those elements and
 * frees them, and the next goes on from the page where pass 1 stopped, as
 * PostgreSQL's vacuum makes more passes over the indexes when its dead
 * TIDs outgrow maintenance_work_mem.  Pages added meanwhile hold no dead
 * heap TID (the callback's TIDs are not reused before vacuum ends).  Holds
 * at most one buffer lock at a time (a page lock and then the metapage lock,
 * never the other way).  See src/README "Vacuum".
 */
IndexBulkDeleteResult *
hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	HnswVacuumState vs;
	MemoryContext cxt;
	MemoryContext oldcxt;
	int			rounds = 0;
	int64		freed = 0;

	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));

	cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw vacuum",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	InitVacuumState(&vs, info);
	vs.callback = callback;
	vs.callbackState = callback_state;
	vs.nextBlock = HNSW_METAPAGE_BLKNO + 1;
	vs.nblocks = RelationGetNumberOfBlocks(vs.index);

	stats->num_index_tuples = 0;
	do
	{
		vs.ndeleted = 0;
		RemoveHeapTids(&vs, stats);
		if (vs.ndeleted > 0)
		{
			rounds++;
			freed += vs.ndeleted;
			ereport(info->message_level,
					(errmsg_internal("index \"%s\": round %d of repair, %d deleted elements up to block %u of %u",
									 RelationGetRelationName(vs.index), rounds,
									 vs.ndeleted, vs.nextBlock, vs.nblocks)));
			SetDeletedMask(&vs);
			RepairGraph(&vs);
			ReplaceEntryPoint(&vs);
			FreeDeleted(&vs);
			/* inserts find the space now, not after pass 4 */
			IndexFreeSpaceMapVacuum(vs.index);
		}
	} while (vs.nextBlock < vs.nblocks);

	if (rounds > 1)
		ereport(info->message_level,
				(errmsg("index \"%s\": freed " INT64_FORMAT " deleted elements in %d rounds of repair",
						RelationGetRelationName(vs.index), freed, rounds),
				 errdetail("A round holds at most %d deleted elements in half of \"%s\".",
						   vs.limitdeleted,
						   IsAutoVacuumWorkerProcess() && autovacuum_work_mem != -1 ?
						   "autovacuum_work_mem" : "maintenance_work_mem")));
	stats->num_pages = RelationGetNumberOfBlocks(vs.index);

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
	return stats;
}

/*
 * Clean up after VACUUM: link the elements no search can reach (pass 4),
 * counting the index on the way if bulkdelete did not run, and update the
 * free space map's upper levels once more (each round of pass 3 did too).
 * Holds at most one buffer lock at a time.
 */
IndexBulkDeleteResult *
hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;
	HnswVacuumState vs;
	MemoryContext cxt;
	MemoryContext oldcxt;

	if (info->analyze_only)
		return stats;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw vacuum",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	InitVacuumState(&vs, info);
	if (stats == NULL)
	{
		/* no bulk deletion counted the index: pass 4 counts it */
		stats = MemoryContextAllocZero(oldcxt, sizeof(IndexBulkDeleteResult));
		LinkAllUnreached(&vs, stats);
	}
	else
		LinkAllUnreached(&vs, NULL);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);

	stats->num_pages = RelationGetNumberOfBlocks(index);
	IndexFreeSpaceMapVacuum(index);
	return stats;
}
