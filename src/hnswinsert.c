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

#include "hnsw.h"
#include "nodes/execnodes.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"

/*
 * Add heaptid to the existing element e, whose vector equals the new one.
 * Return false if e is full, deleted or no longer there.  Takes and
 * releases an exclusive lock on e's page; one WAL record.
 */
static bool
AddHeapTid(HnswGraph *graph, HnswElement e, ItemPointer heaptid)
{
	Buffer		buf;
	Page		page;
	HnswElementTuple tup;
	OffsetNumber off = ItemPointerGetOffsetNumber(&e->tid);
	int			slot = -1;

	buf = HnswReadBuffer(graph->index, ItemPointerGetBlockNumber(&e->tid));
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	tup = HnswGetElementTuple(page, off);
	if (tup != NULL && !tup->deleted &&
		VARSIZE(&tup->vec) == VARSIZE(e->vec) &&
		memcmp(&tup->vec, e->vec, VARSIZE(e->vec)) == 0)
	{
		for (int i = 0; i < HNSW_HEAPTIDS; i++)
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

/*
 * Add a link from the element target to the new element at newTid on level
 * lc: into an empty slot, else in place of the furthest neighbour if the new
 * one is nearer (or in any case, with force).  Nothing happens if target's
 * tuple is gone or changed level (freed by vacuum and reused).  Return
 * whether target now links to the new element.
 *
 * Takes and releases an exclusive lock on target's page, and re-reads the
 * slots under it, so concurrent updates of the same list are never lost.
 * One WAL record.
 */
static bool
AddLinkOnDisk(HnswGraph *graph, HnswElement target, ItemPointer newTid,
			  float distance, int lc, bool force)
{
	Buffer		buf;
	Page		page;
	HnswElementTuple tup;
	char	   *slots;
	OffsetNumber off = ItemPointerGetOffsetNumber(&target->tid);
	int			start = HNSW_LEVEL_START(lc, graph->m);
	int			cap = HNSW_LEVEL_CAPACITY(lc, graph->m);
	int			empty = -1;
	int			worst = -1;
	float		worstDistance = force ? -FLT_MAX : distance;
	int			chosen;

	buf = HnswReadBuffer(graph->index, ItemPointerGetBlockNumber(&target->tid));
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	tup = HnswGetElementTuple(page, off);
	if (tup == NULL || tup->level < lc)
	{
		UnlockReleaseBuffer(buf);
		return false;
	}

	slots = HnswTupleGetSlots(tup);
	for (int i = 0; i < cap; i++)
	{
		ItemPointer slotTid = HnswSlotTid(slots, start + i, graph->slotSize);
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
		else if ((slotDistance = HnswSlotDistance(slots, start + i,
												  graph->slotSize)) > worstDistance)
		{
			worst = i;
			worstDistance = slotDistance;
		}
	}
	chosen = empty >= 0 ? empty : worst;

	if (chosen >= 0)
	{
		HnswPageEdit edit;

		page = HnswEditStart(&edit, graph->index, buf, graph->building, false);
		tup = HnswGetElementTuple(page, off);
		HnswSlotSet(HnswTupleGetSlots(tup), start + chosen, graph->slotSize,
					newTid, distance);
		HnswEditFinish(&edit);
	}
	UnlockReleaseBuffer(buf);
	return chosen >= 0;
}

/*
 * Store the first element of an empty index and make it the entry point.
 * Return false if another backend did so first.  A heavyweight lock on the
 * metapage serialises backends that all find the index empty.
 */
static bool
InsertFirst(HnswGraph *graph, Vector *vec, ItemPointer heaptid, int level)
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
		e = HnswNewElement(graph, vec, level, heaptid);
		tup = palloc(HnswElementTupleSize(graph, level));
		size = HnswFormElementTuple(graph, e, tup);
		HnswAddElementTuple(graph, tup, size, &e->tid);
		HnswUpdateMetaEntry(graph->index, graph->building, graph->dim,
							&e->tid, level, false);
		done = true;
	}
	UnlockPage(graph->index, HNSW_METAPAGE_BLKNO, ExclusiveLock);
	return done;
}

/*
 * Add heaptid to element e if e holds vec itself and has room for another
 * heap TID.  Locks as AddHeapTid.
 */
static bool
ShareElement(HnswGraph *graph, HnswElement e, const Vector *vec,
			 ItemPointer heaptid)
{
	return HnswEnsureVector(graph, e) &&
		HnswVectorMatches(graph, e->vec, vec) &&
		AddHeapTid(graph, e, heaptid);
}

/*
 * Insert one vector with its heap TID into the graph on the index's pages
 * (Algorithm 1).  The new element is written first, complete with its own
 * links, and only then linked from its neighbours, one page at a time: a
 * concurrent search sees either no link to it or a link to a whole element.
 *
 * Holds at most one buffer lock at a time.  Allocates in a context of its
 * own, deleted on return.  building: the index is being built, so nothing
 * is WAL-logged yet.
 */
void
HnswInsertOnDisk(Relation index, Datum value, ItemPointer heaptid,
				 bool building)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "hnsw insert",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	HnswGraph  *graph;
	HnswMetaPageData meta;
	HnswElement ep;
	HnswElement e;
	HnswNeighborList **lists;
	HnswCandidate nearest;
	HnswElementTuple tup;
	Vector	   *vec;
	Size		size;
	int			level;

	graph = HnswCreateGraph(index, cxt, 0);
	graph->building = building;
	vec = HnswPrepareVector(graph, value);
	if (vec == NULL)
		goto done;				/* zero vector under cosine: not indexed */

	/* check the vector against the index before comparing it with anything */
	HnswReadMeta(index, &meta);
	graph->dim = meta.dimensions;
	graph->m = meta.m;
	graph->efConstruction = meta.efConstruction;
	graph->quantization = meta.quantization;
	graph->exactQuantization = meta.exactQuantization;
	level = Min(HnswRandomLevel(graph->m), HnswCheckVector(graph, vec));

	/* search by distance to vec, without copying the vectors visited */
	graph->query = vec;
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

	/*
	 * Identical vectors share an element while it has room.  Several
	 * identical elements tie for nearest once the first is full: try the
	 * tied neighbours in turn, so that they fill up one after another
	 * instead of each new copy making an element of its own.
	 */
	if (nearest.element != NULL)
	{
		if (ShareElement(graph, nearest.element, vec, heaptid))
			goto done;
		for (int i = 0; i < lists[0]->length; i++)
		{
			HnswCandidate *c = &lists[0]->items[i];

			if (c->distance == nearest.distance && c->element != nearest.element &&
				ShareElement(graph, c->element, vec, heaptid))
				goto done;
		}
	}

	e = HnswNewElement(graph, vec, level, heaptid);
	for (int lc = 0; lc <= level; lc++)
		e->neighbors[lc] = lists[lc];
	tup = palloc(HnswElementTupleSize(graph, level));
	size = HnswFormElementTuple(graph, e, tup);
	HnswAddElementTuple(graph, tup, size, &e->tid);

	for (int lc = level; lc >= 0; lc--)
	{
		bool		linked = false;

		for (int i = 0; i < lists[lc]->length; i++)
			linked |= AddLinkOnDisk(graph, lists[lc]->items[i].element, &e->tid,
									lists[lc]->items[i].distance, lc, false);

		/*
		 * An element nothing links to is never found.  When every neighbour
		 * has a full list of nearer ones, the nearest takes the new element
		 * in place of its furthest link anyway.
		 */
		if (!linked && lists[lc]->length > 0)
			AddLinkOnDisk(graph, lists[lc]->items[0].element, &e->tid,
						  lists[lc]->items[0].distance, lc, true);
	}

	if (level > meta.entryLevel)
		HnswUpdateMetaEntry(index, building, graph->dim, &e->tid, level, true);

done:
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
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
	if (isnull[0])
		return false;
	HnswInsertOnDisk(index, values[0], heap_tid, false);
	return false;
}
