/*-------------------------------------------------------------------------
 *
 * hnswinsert.c
 *	  aminsert for hnsw: add one element to the graph on its pages and link
 *	  its neighbours back to it.  Also used by a build that outgrew
 *	  maintenance_work_mem.
 *
 * See src/README "Insert" and "Locking".
 *
 * src/hnswinsert.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>

#include "common/hashfn.h"
#include "hnsw.h"
#include "nodes/execnodes.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"

/*
 * Add heaptid to the existing element e, whose vector equals the new one,
 * if its filter column's value is the new row's too (graph->key).  Return
 * false if e is full, deleted, no longer there or of another value.  A head tuple
 * never matches (its vector on the page is shorter), so the new heap TID
 * gets an element of its own.  Takes and
 * releases an exclusive lock on e's page; one WAL record.
 */
static bool
AddHeapTid(HnswGraph *graph, HnswElement e, const HnswCode *vec,
		   ItemPointer heaptid)
{
	const HnswLayout *layout = HnswGraphLayout(graph);
	Buffer		buf;
	Page		page;
	HnswElementTuple tup;
	OffsetNumber off = ItemPointerGetOffsetNumber(&e->tid);
	int			slot = -1;
	HnswKey		key;

	buf = HnswReadBuffer(graph->index, ItemPointerGetBlockNumber(&e->tid));
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	tup = HnswGetElement(graph->index, layout, buf, off);
	if (tup != NULL)
		HnswTupleGetKey(tup, &key);
	if (tup != NULL && !tup->deleted && HnswKeyEqual(&key, &graph->key) &&
		VARSIZE(HnswTupleVector(tup)) == VARSIZE(vec) &&
		memcmp(HnswTupleVector(tup), vec, VARSIZE(vec)) == 0)
	{
		for (int i = 0; i < HnswTupleTidCapacity(tup); i++)
		{
			if (!ItemPointerIsValid(&tup->heaptids[i]))
			{
				slot = i;
				break;
			}
		}
	}
	if (slot >= 0)
	{
		HnswPageEdit edit;

		page = HnswEditStart(&edit, graph->index, buf, graph->building, false);
		tup = HnswGetElementTuple(page, off);
		tup->heaptids[slot] = *heaptid;
		HnswEditFinish(&edit);
	}
	UnlockReleaseBuffer(buf);
	return slot >= 0;
}

/* The memory an insert keeps between calls (HnswInsertOnDisk) */
#define HNSW_INSERT_MEMORY		(2 * 1024 * 1024)

/* Attempts to re-prune a full list before giving up on the heuristic */
#define HNSW_PRUNE_ATTEMPTS		3

/*
 * Return the index in slots[0..cap) of the link a full list gives up for
 * the new element (at distance newDistance from the list's owner), or -1 if
 * the new element is the one to leave out.  slots is a copy of the list,
 * every slot valid and none the new element.
 *
 * A link to an element that is gone or deleted goes first (the furthest
 * such).  Otherwise the list plus the newcomer, nearest first, is pruned as
 * in the in-memory build (and the paper's Algorithm 1, "shrink
 * connections"), by HnswDropNeighbor (hnswselect.h's Drop), which leaves
 * out the furthest candidate the heuristic rejects, or the furthest of all
 * if it rejects none; under inner product (no metric), the furthest.  With
 * force, the newcomer is never left out.
 *
 * Distances between the newcomer and a candidate are the candidate's
 * distance to the graph's query (the new vector), known for every element
 * the insert's search loaded and computed on the page for the others;
 * distances between two old candidates need their vectors (HnswEnsureVector,
 * kept for the whole insert).  Holds at most one share lock at a time, none
 * on entry or exit.
 */
static int
ChooseLinkToDrop(HnswGraph *graph, char *slots, int cap,
				 float newDistance, bool force)
{
	HnswCandidate cands[2 * HNSW_MAX_M + 1];
	int			from[2 * HNSW_MAX_M + 1];
	int			n;
	int			newPos = -1;
	int			gone;

	gone = HnswSortFullList(graph, slots, cap, NULL, newDistance,
							cands, from, &n);
	if (gone >= 0)
		return gone;
	for (int i = 0; i < n; i++)
		if (from[i] < 0)
			newPos = i;
	return from[HnswDropNeighbor(graph, cands, n, newPos, force)];
}

/*
 * Insert candidate *c, from slot (-1: the newcomer), into cands[0..*n)
 * (nearest first, from[] their slots) after every one as near as it, or,
 * with tieSlot >= 0, only after those as near as it in slots before
 * tieSlot (where a newcomer put in slot tieSlot will sort).
 */
static inline void
InsertSorted(HnswCandidate *cands, int *from, int *n, HnswCandidate *c,
			 int slot, int tieSlot)
{
	int			j;

	for (j = *n; j > 0 && (cands[j - 1].distance > c->distance ||
						   (tieSlot >= 0 &&
							cands[j - 1].distance == c->distance &&
							from[j - 1] > tieSlot)); j--)
	{
		cands[j] = cands[j - 1];
		from[j] = from[j - 1];
	}
	cands[j] = *c;
	from[j] = slot;
	(*n)++;
}

/*
 * The verdicts of a build's prunings through the pages (src/README "Build",
 * "Pruning a full list"): for each list pruned, which of its slots passed
 * the heuristic, and a hash of the slots they were decided for.  A slot
 * holds no verdict, so without this every pruning of a build past
 * maintenance_work_mem would decide the list afresh, as an insert does.
 * Direct-mapped: a list whose place another took, or whose slots changed
 * since (a link into an empty slot, another participant's pruning), is
 * decided afresh and takes the place again.  The entries live in memory
 * the build lends (the arena, dead once flushed: HnswBuildVerdictsStart),
 * for this backend's build of one index only.
 */
typedef struct VerdictEntry
{
	uint64		key;			/* ListKey(), 0 if unused */
	uint64		list;			/* hash of the slots decided */
	uint64		kept;			/* bit i: slot i passed the heuristic */
} VerdictEntry;

static struct
{
	Oid			index;			/* InvalidOid: no cache */
	uint64		mask;			/* entries - 1 */
	VerdictEntry *entries;
} verdicts;

/* Lists of more slots than kept's bits are always decided afresh */
#define VERDICT_MAX_SLOTS	64

static uint64
ListKey(ItemPointer tid, int lc)
{
	return (((uint64) ItemPointerGetBlockNumber(tid) << 16 |
			 ItemPointerGetOffsetNumber(tid)) << 8 | (uint64) lc) + 1;
}

static uint64
ListHash(char *slots, int cap)
{
	return hash_bytes_extended((const unsigned char *) slots,
							   sizeof(HnswNeighborSlot) * cap, 0);
}

static VerdictEntry *
VerdictSlot(uint64 key)
{
	uint64		h = key * UINT64CONST(0x9E3779B97F4A7C15);

	return &verdicts.entries[(h ^ (h >> 29)) & verdicts.mask];
}

/* The memory context callback that ends a cache whose memory goes */
static void
VerdictsGone(void *arg)
{
	HnswBuildVerdictsEnd();
}

/*
 * Keep the verdicts of this backend's prunings of index's lists, while it
 * builds index, in size bytes at mem (MAXALIGNed), which must stay valid
 * until HnswBuildVerdictsEnd; cxt's reset or deletion ends the cache too
 * (an error).  Too little memory: no cache.
 */
void
HnswBuildVerdictsStart(Relation index, char *mem, Size size,
					   MemoryContext cxt)
{
	MemoryContextCallback *cb;
	uint64		n = 1;

	HnswBuildVerdictsEnd();
	/* at most 16 M entries (384 MB) */
	while (n * 2 * sizeof(VerdictEntry) <= size && n < (UINT64CONST(1) << 24))
		n *= 2;
	if (n < 1024)
		return;
	memset(mem, 0, n * sizeof(VerdictEntry));
	verdicts.entries = (VerdictEntry *) mem;
	verdicts.mask = n - 1;
	verdicts.index = RelationGetRelid(index);
	cb = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));
	cb->func = VerdictsGone;
	cb->arg = NULL;
	MemoryContextRegisterResetCallback(cxt, cb);
}

/* Forget the verdicts (the build is over, or its memory goes) */
void
HnswBuildVerdictsEnd(void)
{
	verdicts.index = InvalidOid;
	verdicts.entries = NULL;
	verdicts.mask = 0;
}

/*
 * ChooseLinkToDrop for a build with remembered verdicts: the choice for
 * the list of slots[0..cap) (a copy of target's list on level lc) and a
 * newcomer at newDistance, decided as the in-memory build decides it (only
 * what can have changed since the list's last pruning, whose verdicts the
 * cache holds if they are for these very slots; otherwise all of them).
 * The newcomer sorts after every candidate as near as it (as in
 * ChooseLinkToDrop), or with newSlot >= 0 as it will once in slot newSlot.
 * Return the slot given up, -1 for the newcomer, or -2 if the choice could
 * not be made this way (an element could not be read): then ask
 * ChooseLinkToDrop.  *keptOut receives the verdicts of the list as it will
 * be once the choice is applied (bit i: slot i), for RememberVerdicts.
 * Elements are loaded only when compared (one share lock at a time).
 */
static int
ChooseLinkToDropDecided(HnswGraph *graph, ItemPointer target, int lc,
						char *slots, int cap, float newDistance, int newSlot,
						uint64 *keptOut)
{
	HnswCandidate cands[VERDICT_MAX_SLOTS + 1];
	int			from[VERDICT_MAX_SLOTS + 1] = {0};
	bool		last[VERDICT_MAX_SLOTS + 1];
	bool		kept[VERDICT_MAX_SLOTS + 1];
	VerdictEntry *entry = VerdictSlot(ListKey(target, lc));
	bool		known;
	int			n = 0;
	int			newPos = -1;
	int			drop;
	int			chosen;
	uint64		newKept = 0;

	known = entry->key == ListKey(target, lc) &&
		entry->list == ListHash(slots, cap);

	/* nearest first, in HnswSortFullList's order, none loaded */
	for (int i = 0; i <= cap; i++)
	{
		HnswCandidate c;

		if (i < cap)
		{
			c.element = HnswLookupElement(graph, HnswSlotTid(slots, i));
			c.distance = HnswSlotDistance(slots, i);
		}
		else
		{
			c.element = NULL;
			c.distance = newDistance;
		}
		InsertSorted(cands, from, &n, &c, i < cap ? i : -1,
					 i < cap ? -1 : newSlot);
	}

	for (int i = 0; i < n; i++)
	{
		last[i] = from[i] >= 0 && (entry->kept >> from[i] & 1) != 0;
		if (from[i] < 0)
			newPos = i;
	}
	drop = HnswDropNeighborDecided(graph, cands, n, newPos,
								   known ? last : NULL, kept);
	if (drop < 0)
		return -2;

	/* what the list will hold: the newcomer in the place given up */
	chosen = from[drop];
	for (int i = 0; i < n; i++)
	{
		int			slot = from[i] >= 0 ? from[i] : chosen;

		if (i != drop && kept[i])
			newKept |= UINT64CONST(1) << slot;
	}
	*keptOut = newKept;
	return chosen;
}

/*
 * Choose the link the list of slots[0..cap) gives up for a newcomer at
 * newDistance with remembered verdicts (ChooseLinkToDropDecided), and set
 * *decided if *kept holds the verdicts the list's next pruning would
 * compute once the choice is applied.  The choice is made with the newcomer
 * after every candidate as near as it, as ChooseLinkToDrop makes it; the
 * next pruning sorts it among those by slot, so when one of them lies in a
 * later slot than the one it takes, the verdicts are decided again in that
 * order, and kept only if that order chooses the same.  Return as
 * ChooseLinkToDropDecided.
 */
static int
ChooseLinkToDropRemembered(HnswGraph *graph, ItemPointer target, int lc,
						   char *slots, int cap, float newDistance,
						   uint64 *kept, bool *decided)
{
	int			chosen = ChooseLinkToDropDecided(graph, target, lc, slots, cap,
												 newDistance, -1, kept);
	bool		tie = false;

	*decided = chosen != -2;
	for (int i = chosen + 1; chosen >= 0 && i < cap && !tie; i++)
		tie = HnswSlotDistance(slots, i) == newDistance;
	if (tie)
		*decided = ChooseLinkToDropDecided(graph, target, lc, slots, cap,
										   newDistance, chosen, kept) == chosen;
	return chosen;
}

/* Remember the verdicts kept of target's list on level lc, now slots */
static void
RememberVerdicts(ItemPointer target, int lc, char *slots, int cap,
				 uint64 kept)
{
	VerdictEntry *entry = VerdictSlot(ListKey(target, lc));

	entry->key = ListKey(target, lc);
	entry->list = ListHash(slots, cap);
	entry->kept = kept;
}

/*
 * Sort a full neighbour list plus a newcomer for a pruning: fill cands
 * (room for cap + 1) with the elements of slots[0..cap), a copy of the
 * list, and the newcomer (element newcomer, which may be NULL, at
 * newDistance from the list's owner), nearest first; from[i] is the slot
 * of cands[i], -1 for the newcomer; *n their number.  Return the slot of
 * the furthest link to an element gone or deleted (left out of cands), or
 * -1 if there is none.  Loads elements, one share lock at a time, none on
 * entry or exit.
 */
int
HnswSortFullList(HnswGraph *graph, char *slots, int cap,
				 HnswElement newcomer, float newDistance,
				 HnswCandidate *cands, int *from, int *n)
{
	int			gone = -1;
	float		goneDistance = -FLT_MAX;
	HnswElement linked[2 * HNSW_MAX_M];

	/*
	 * Pruning compares the list's elements with each other (PageCompare):
	 * those read now keep their vectors, so their pages are read once.
	 * Each is prefetched HNSW_LOAD_AHEAD loads ahead.
	 */
	graph->keepVectors = graph->query != NULL;
	for (int i = 0; i < cap; i++)
	{
		linked[i] = HnswLookupElement(graph, HnswSlotTid(slots, i));
		if (i < HNSW_LOAD_AHEAD)
			HnswPrefetchElement(graph, linked[i]);
	}
	*n = 0;
	for (int i = 0; i <= cap; i++)
	{
		HnswCandidate c;

		if (i < cap)
		{
			if (i + HNSW_LOAD_AHEAD < cap)
				HnswPrefetchElement(graph, linked[i + HNSW_LOAD_AHEAD]);
			c.element = linked[i];
			c.distance = HnswSlotDistance(slots, i);
			if (!HnswLoadElement(graph, c.element) || c.element->deleted)
			{
				if (c.distance > goneDistance)
				{
					gone = i;
					goneDistance = c.distance;
				}
				continue;
			}
		}
		else
		{
			c.element = newcomer;
			c.distance = newDistance;
		}
		InsertSorted(cands, from, n, &c, i < cap ? i : -1, -1);
	}
	graph->keepVectors = false;
	return gone;
}

/*
 * Add a link from the element target to the new element at newTid on level
 * lc.  Into an empty slot if there is one; a full list is pruned as in the
 * in-memory build (ChooseLinkToDrop): the link it gives up is replaced by the
 * new one, or nothing changes if the new element is the one left out (with
 * force, it never is).  Nothing happens if target's tuple is gone or changed
 * level (freed by vacuum and reused).  Return whether target now links to
 * the new element.
 *
 * Locks: an exclusive lock on target's page to look for room.  A full list
 * is copied and the lock released before pruning it, since pruning reads
 * other elements' pages; the exclusive lock is then taken again and the
 * choice applied only if the list is still the one copied.  If it changed
 * (a concurrent insert or vacuum), the pruning starts again; after
 * HNSW_PRUNE_ATTEMPTS, the new link replaces the furthest one under the
 * lock if it is nearer.  So updates of one list are serialised by the buffer
 * lock and none is lost.  One WAL record per change; see src/README
 * "Insert".
 */
static bool
AddLinkOnDisk(HnswGraph *graph, HnswElement target, ItemPointer newTid,
			  float distance, int lc, bool force)
{
	OffsetNumber off = ItemPointerGetOffsetNumber(&target->tid);
	int			start = HNSW_LEVEL_START(lc, graph->m);
	int			cap = HNSW_LEVEL_CAPACITY(lc, graph->m);
	char		copy[2 * HNSW_MAX_M * sizeof(HnswNeighborSlot)];
	int			chosen = -1;
	bool		haveCopy = false;
	const HnswLayout *layout = HnswGraphLayout(graph);
	uint64		kept = 0;
	bool		decide;
	bool		decided = false;

	/*
	 * The distance as the slot will hold it: a pruning then sorts the
	 * newcomer among the list as the next one will.
	 */
	distance = DistanceBfloatToFloat(DistanceFloatToBfloat(distance));

	/* a build remembers its verdicts (HnswBuildVerdictsStart) */
	decide = graph->building && !force &&
		verdicts.index == RelationGetRelid(graph->index) &&
		cap <= VERDICT_MAX_SLOTS &&
		!(graph->metric == HNSW_METRIC_IP && !graph->normalize);

	for (int attempt = 0;; attempt++)
	{
		Buffer		buf;
		Page		page;
		HnswElementTuple tup;
		char	   *slots;
		int			empty = -1;
		int			worst = -1;
		float		worstDistance = force ? -FLT_MAX : distance;

		buf = HnswReadBuffer(graph->index,
							 ItemPointerGetBlockNumber(&target->tid));
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		tup = HnswGetElement(graph->index, layout, buf, off);
		if (tup == NULL || tup->level < lc)
		{
			UnlockReleaseBuffer(buf);
			return false;
		}

		slots = HnswTupleGetSlots(tup) + start * sizeof(HnswNeighborSlot);
		for (int i = 0; i < cap; i++)
		{
			ItemPointer slotTid = HnswSlotTid(slots, i);
			float		slotDistance;

			if (!ItemPointerIsValid(slotTid))
			{
				if (empty < 0)
					empty = i;
			}
			else if (ItemPointerEquals(slotTid, newTid))
			{
				UnlockReleaseBuffer(buf);
				return true;
			}
			else if ((slotDistance = HnswSlotDistance(slots, i)) >
					 worstDistance)
			{
				worst = i;
				worstDistance = slotDistance;
			}
		}

		if (empty >= 0)
		{
			chosen = empty;
			decided = false;
		}
		else if (haveCopy &&
				 memcmp(copy, slots, sizeof(HnswNeighborSlot) * cap) == 0)
		{
			/* the list is as pruned: chosen stands (-1: leave it be) */
		}
		else if (attempt < HNSW_PRUNE_ATTEMPTS)
		{
			/* full: prune a copy without holding the lock */
			memcpy(copy, slots, sizeof(HnswNeighborSlot) * cap);
			haveCopy = true;
			UnlockReleaseBuffer(buf);
			chosen = -2;
			decided = false;
			if (decide)
				chosen = ChooseLinkToDropRemembered(graph, &target->tid, lc,
													copy, cap, distance,
													&kept, &decided);
			if (chosen == -2)
				chosen = ChooseLinkToDrop(graph, copy, cap, distance, force);
			continue;
		}
		else
		{
			chosen = worst;		/* the list keeps changing: nearest first */
			decided = false;
		}

		if (chosen >= 0)
		{
			HnswPageEdit edit;

			page = HnswEditStart(&edit, graph->index, buf, graph->building,
								 false);
			tup = HnswGetElementTuple(page, off);
			HnswSetLink(tup, graph->m, start + chosen, newTid, distance,
						&graph->key);
			HnswEditFinish(&edit);
			slots = HnswTupleGetSlots(tup) + start * sizeof(HnswNeighborSlot);
		}
		if (decided)
			RememberVerdicts(&target->tid, lc, slots, cap, kept);
		UnlockReleaseBuffer(buf);
		return chosen >= 0;
	}
}

/*
 * Store the first element of an empty index and make it the entry point.
 * Return false if another backend did so first.  A heavyweight lock on the
 * metapage serialises backends that all find the index empty.
 */
static bool
InsertFirst(HnswGraph *graph, HnswCode *vec, ItemPointer heaptid, int level)
{
	HnswMetaPageData meta;
	HnswElement e;
	HnswElementTuple tup;
	Size		size;
	bool		done = false;

	LockPage(graph->index, HNSW_METAPAGE_BLKNO, ExclusiveLock);
	HnswReadMeta(graph->index, &meta);
	if (!ItemPointerIsValid(&meta.entryPoint))
	{
		/* room for two heap TIDs, as in InsertElement */
		int			ntids = 2;

		e = HnswNewElement(graph, vec, level, heaptid);
		tup = palloc(HnswElementTupleSize(graph, e->vec, level, ntids));
		size = HnswFormElementTuple(graph, e, tup, ntids);
		HnswAddElementTuple(graph, tup, size, &e->tid);
		HnswUpdateMetaEntry(graph->index, graph->building, graph->dim,
							&e->tid, level, false);
		done = true;
	}
	UnlockPage(graph->index, HNSW_METAPAGE_BLKNO, ExclusiveLock);
	return done;
}

/*
 * Add heaptid to element e if e holds vec itself, and the new row's filter
 * column value, and has room for another heap TID.  Set *copy if e holds vec, room or not.  Locks as AddHeapTid.
 */
static bool
ShareElement(HnswGraph *graph, HnswElement e, const HnswCode *vec,
			 ItemPointer heaptid, bool *copy)
{
	HnswCode   *stored = HnswReadElementVector(graph, e);

	if (stored == NULL || !HnswKeyEqual(&e->key, &graph->key) ||
		!HnswVectorMatches(graph, stored, vec))
		return false;
	*copy = true;
	return AddHeapTid(graph, e, stored, heaptid);
}

/*
 * Give heaptid to an element that already holds vec, if one among the new
 * element's neighbours on level 0 (lists0, nearest first; nearest the
 * nearest live element found) does and has room; return whether one took
 * it.  Identical vectors share an element while it has room.  Several
 * identical elements tie for nearest once the first is full: the tied
 * neighbours are tried in turn, so that they fill up one after another
 * instead of each new copy making an element of its own.  Sets *copy if
 * an element holds vec, room or not.  Locks as AddHeapTid.
 */
static bool
ShareIdentical(HnswGraph *graph, HnswNeighborList *lists0,
			   HnswCandidate *nearest, const HnswCode *vec,
			   ItemPointer heaptid, bool *copy)
{
	if (nearest->element == NULL)
		return false;
	if (ShareElement(graph, nearest->element, vec, heaptid, copy))
		return true;
	for (int i = 0; i < lists0->length; i++)
	{
		HnswCandidate *c = &lists0->items[i];

		if (c->distance == nearest->distance && c->element != nearest->element &&
			ShareElement(graph, c->element, vec, heaptid, copy))
			return true;
	}
	return false;
}

/*
 * Link the neighbours of the new element at newTid, lists[0..level], back
 * to it, top level first (AddLinkOnDisk: one buffer lock at a time, one WAL
 * record per change).
 */
static void
LinkNeighbors(HnswGraph *graph, HnswNeighborList **lists, int level,
			  ItemPointer newTid)
{
	for (int lc = level; lc >= 0; lc--)
	{
		bool		linked = false;

		for (int i = 0; i < lists[lc]->length; i++)
			linked |= AddLinkOnDisk(graph, lists[lc]->items[i].element, newTid,
									lists[lc]->items[i].distance, lc, false);

		/*
		 * An element nothing links to is never found.  When every neighbour
		 * prefers its own list, the nearest takes the new element anyway, in
		 * place of the link its pruning would give up next.
		 */
		if (!linked && lists[lc]->length > 0)
			AddLinkOnDisk(graph, lists[lc]->items[0].element, newTid,
						  lists[lc]->items[0].distance, lc, true);
	}
}

/*
 * Insert one vector with its heap TID into the graph on the index's pages
 * (Algorithm 1), allocating in cxt.  The new element is written first,
 * complete with its own links, and only then linked from its neighbours,
 * one page at a time: a concurrent search sees either no link to it or a
 * link to a whole element.
 *
 * Holds at most one buffer lock at a time.  building: the index is being
 * built, so nothing is WAL-logged yet.
 */
static void
InsertElement(MemoryContext cxt, Relation index, Datum value,
			  const HnswKey *key, ItemPointer heaptid, bool building)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	HnswGraph  *graph;
	HnswMetaPageData meta;
	HnswElement ep;
	HnswElement e;
	HnswNeighborList **lists;
	HnswCandidate nearest;
	HnswElementTuple tup;
	HnswCode	   *vec;
	Size		size;
	int			level;
	int			maxLevel;
	bool		copy = false;
	int			ntids;

	graph = HnswCreateGraph(index, cxt, 0);
	graph->building = building;
	graph->keepPruned = true;
	graph->key = *key;
	vec = HnswPrepareVector(graph, value);
	if (vec == NULL)
		goto done;				/* zero vector under cosine: not indexed */

	/* check the vector against the index before comparing it with anything */
	HnswReadMeta(index, &meta);
	graph->dim = meta.dimensions;
	graph->m = meta.m;
	graph->efConstruction = meta.efConstruction;
	graph->codeKind = meta.codeKind;
	graph->exactKind = meta.exactKind;
	maxLevel = HnswCheckVector(graph, vec);
	level = HnswRandomLevel(graph->m);
	level = Min(level, maxLevel);	/* not Min(HnswRandomLevel(...), ...) */

	/*
	 * Search by distance to vec, without copying the vectors visited; a
	 * build compares the elements its store holds by their codes (the
	 * leader lays one out only for an index HnswBuildCodesUsable accepts).
	 */
	graph->query = vec;
	graph->codes = building && HnswBuildCodesActive(index);
	if (building)
		HnswGraphReserve(graph, graph->efConstruction * 2 * graph->m);
	ep = HnswGetEntryPoint(graph, &meta);

	if (ep == NULL)
	{
		if (InsertFirst(graph, vec, heaptid, level))
			goto done;
		/* another backend was first: its vector fixed the dimensions */
		HnswReadMeta(index, &meta);
		graph->dim = meta.dimensions;
		HnswCheckVector(graph, vec);
		ep = HnswGetEntryPoint(graph, &meta);
	}
	graph->entry = ep;

	lists = palloc(sizeof(HnswNeighborList *) * (level + 1));
	for (int lc = 0; lc <= level; lc++)
		lists[lc] = HnswNewNeighborList(graph, HNSW_LEVEL_CAPACITY(lc, graph->m));
	HnswFindNeighbors(graph, vec, level, lists, &nearest);

	if (ShareIdentical(graph, lists[0], &nearest, vec, heaptid, &copy))
		goto done;

	/*
	 * Room for the heap TIDs of identical vectors inserted later: two, as
	 * CREATE INDEX gives a unique vector, so that an index built by inserts
	 * (or refilled after VACUUM) is as large as a built one; all
	 * HNSW_HEAPTIDS for a copy of a vector whose elements are full, since
	 * copies come in numbers.  See src/README "Insert".
	 */
	ntids = copy ? HNSW_HEAPTIDS : 2;
	e = HnswNewElement(graph, vec, level, heaptid);
	for (int lc = 0; lc <= level; lc++)
		e->neighbors[lc] = lists[lc];
	tup = palloc(HnswElementTupleSize(graph, e->vec, level, ntids));
	size = HnswFormElementTuple(graph, e, tup, ntids);
	HnswAddElementTuple(graph, tup, size, &e->tid);
	if (graph->codes)
		(void) HnswBuildCodesAdd(&e->tid, level, e->vec);

	LinkNeighbors(graph, lists, level, &e->tid);

	if (level > meta.entryLevel)
		HnswUpdateMetaEntry(index, building, graph->dim, &e->tid, level, true);

done:
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Insert one vector with its heap TID into the graph on the index's pages
 * (InsertElement).
 *
 * Memory: an insert allocates in a context that lives as long as the
 * backend and keeps its first block (HNSW_INSERT_MEMORY) when reset after
 * each insert, so that the next one (COPY inserts thousands in a row) finds
 * its memory ready: an insert copies the vectors of the candidates its
 * prunings compare (about 130 of 3 kB at 784 dimensions), and allocating
 * and freeing that much per insert cost page faults.  An insert nested in
 * another (a distance function of an operator class that inserts into an
 * hnsw index) must not reset the outer one's memory: it gets a context of
 * its own, deleted on return.
 */
void
HnswInsertOnDisk(Relation index, Datum value, const HnswKey *key,
				 ItemPointer heaptid, bool building)
{
	static MemoryContext cxt = NULL;
	static bool busy = false;
	MemoryContext caller = CurrentMemoryContext;

	if (busy)
	{
		MemoryContext nested = AllocSetContextCreate(CurrentMemoryContext,
													 "hnsw nested insert",
													 ALLOCSET_DEFAULT_SIZES);

		InsertElement(nested, index, value, key, heaptid, building);
		MemoryContextDelete(nested);
		return;
	}

	if (cxt == NULL)
		cxt = AllocSetContextCreate(TopMemoryContext, "hnsw insert",
									HNSW_INSERT_MEMORY, HNSW_INSERT_MEMORY,
									ALLOCSET_DEFAULT_MAXSIZE);
	busy = true;
	PG_TRY();
	{
		InsertElement(cxt, index, value, key, heaptid, building);
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(caller);
		busy = false;
		MemoryContextReset(cxt);
	}
	PG_END_TRY();
}

/*
 * Insert a heap tuple's vector: aminsert.  NULLs are not indexed, nor zero
 * vectors under cosine.
 */
bool
hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		   Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
		   IndexInfo *indexInfo)
{
	HnswKey		key;

	if (isnull[0])
		return false;
	memset(&key, 0, sizeof(key));
	if (HnswIndexKeySize(index) > 0)
		HnswKeyFromDatum(index, values[1], isnull[1], &key);
	HnswInsertOnDisk(index, values[0], &key, heap_tid, false);
	return false;
}
