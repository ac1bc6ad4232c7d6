/*-------------------------------------------------------------------------
 *
 * hnswbuildwrite.c
 *	  Writing the graph of CREATE INDEX from its arena to pages: places for
 *	  every element (cut over two pages where packed = on), the tuples, the
 *	  pages written past shared buffers and WAL-logged as they go.
 *
 * See src/README "Build".
 *
 * src/hnswbuildwrite.c
 *
 *-------------------------------------------------------------------------
 */

#include "postgres.h"

#include "hnswbuild.h"

/*
 * Write pages[0..npages) of the graph, filled in private memory, at blknos
 * (the next blocks of the index, in order) past shared buffers, as nbtree's
 * build does; WAL-log them first if logged.  hnswbuild syncs the file at
 * the end (a checkpoint cannot flush what is not in shared buffers).
 */
static void
WritePages(HnswBuildState *state, BlockNumber *blknos, char *pages,
		   int npages, bool logged)
{
	Relation	index = state->index;
	Page		pagev[HNSW_WRITE_BATCH];

	if (blknos[0] != smgrnblocks(RelationGetSmgr(index), MAIN_FORKNUM))
		elog(ERROR, "unexpected block %u while writing hnsw index \"%s\"",
			 blknos[0], RelationGetRelationName(index));
	for (int i = 0; i < npages; i++)
		pagev[i] = (Page) (pages + BLCKSZ * i);
	if (logged)
		log_newpages(&index->rd_node, MAIN_FORKNUM, npages, blknos, pagev,
					 true);
	for (int i = 0; i < npages; i++)
	{
		PageSetChecksumInplace(pagev[i], blknos[i]);
		smgrextend(RelationGetSmgr(index), MAIN_FORKNUM, blknos[i],
				   (char *) pagev[i], true);
	}
	state->wroteDirect = true;
}

/*
 * The heap TID capacity CREATE INDEX gives an element with n heap TIDs:
 * room for just those (even, for the vector's alignment).  Inserts of the
 * same vector later go to a new element when it is full.
 */
static inline int
TidRoom(int n)
{
	return Max(2, TYPEALIGN(2, n));
}

/* Fewest bytes of a vector worth putting in a head tuple */
#define HNSW_MIN_CUT		64

/*
 * Decide whether element e of an index with packed = on, whose tuple of
 * size bytes does not fit the room bytes left on its page, is cut into a
 * head tuple that ends the page and a tail tuple that starts the next
 * (src/README "Page layout"); if so set e->cut to the bytes of its vector
 * that stay on the page.  Only elements HnswMinCutSize allows are cut, and
 * only if at least HNSW_MIN_CUT bytes of the vector fit.
 */
static bool
PlaceCut(HnswGraph *graph, BuildElement *e, Size size, Size room)
{
	Size		codeSize = HNSW_CODE_SIZE(graph->dim, graph->codeKind);
	Size		headSize;

	if (HnswMinCutSize(graph) == 0 || room < sizeof(ItemIdData))
		return false;
	/* a multiple of 8, so the vector's bytes on the page are one of 4 */
	headSize = TYPEALIGN_DOWN(MAXIMUM_ALIGNOF, room - sizeof(ItemIdData));
	if (headSize < size - codeSize + HNSW_MIN_CUT)
		return false;
	e->cut = headSize - (size - codeSize);
	Assert(e->cut % 4 == 0 && e->cut < codeSize);
	return true;
}

/*
 * Form in head the head tuple of tup, a whole element tuple of size bytes
 * whose vector keeps its first cut bytes on the page: the header and heap
 * TIDs, those bytes (the HnswCode's VARSIZE saying so), the slots.  Return
 * its size.
 */
static Size
FormHead(HnswElementTuple tup, Size size, Size cut, char *head)
{
	Size		before = (char *) HnswTupleVector(tup) - (char *) tup;
	Size		codeSize = VARSIZE(HnswTupleVector(tup));
	Size		slotBytes = size - before - codeSize;
	HnswElementTuple h = (HnswElementTuple) head;

	memcpy(head, tup, before + cut);
	memcpy(head + before + cut, HnswTupleGetSlots(tup), slotBytes);
	h->type = HNSW_HEAD_TUPLE;
	SET_VARSIZE(HnswTupleVector(h), cut);
	return before + cut + slotBytes;
}

/*
 * Form in out the tail tuple of tup, whose head at headTid keeps the first
 * cut bytes of its vector; return its size.
 */
static Size
FormTail(HnswElementTuple tup, Size cut, ItemPointer headTid, char *out)
{
	HnswTailTuple t = (HnswTailTuple) out;
	Size		codeSize = VARSIZE(HnswTupleVector(tup));

	memset(t, 0, HNSW_TAIL_HEADER_SIZE);
	t->type = HNSW_TAIL_TUPLE;
	t->head = *headTid;
	memcpy(t->data, (char *) HnswTupleVector(tup) + cut, codeSize - cut);
	return HNSW_TAIL_HEADER_SIZE + codeSize - cut;
}

/* Put a tuple on a page being filled, where HnswBuildFlushArena placed it */
static void
AddBuiltTuple(HnswBuildState *state, Page page, char *tup, Size size,
			  ItemPointer tid)
{
	if (PageAddItem(page, (Item) tup, size, InvalidOffsetNumber, false,
					false) != ItemPointerGetOffsetNumber(tid))
		elog(ERROR, "failed to add tuple to hnsw index \"%s\"",
			 RelationGetRelationName(state->index));
}

/*
 * Give every arena element its place (block, offset) on the pages from
 * firstBlkno + 1 on, in element order, so that links can be written; with
 * packed, a large element that does not fit the rest of its page is cut
 * there (PlaceCut).  Return the last block.
 */
static BlockNumber
PlaceElements(HnswBuildState *state, uint32 nelements, BlockNumber firstBlkno,
			  bool packed)
{
	HnswGraph  *graph = state->graph;
	Size		pageSpace = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) -
		MAXALIGN(sizeof(HnswPageOpaqueData));
	Size		used = pageSpace;
	BlockNumber blkno = firstBlkno;
	OffsetNumber off = InvalidOffsetNumber;

	for (uint32 id = 0; id < nelements; id++)
	{
		BuildElement *e;
		Size		size;
		Size		need;

		if (state->offsets[id] == 0)
			continue;			/* numbered, but the arena was full */
		e = GetElement(state, id);
		size = HnswElementTupleSize(graph, GetVector(e), e->level,
									TidRoom(e->nheaptids));
		/* levels are capped to fit (HnswCheckVector): can't happen */
		if (size > HNSW_MAX_TUPLE_SIZE)
			elog(ERROR, "element %u of index \"%s\" needs %zu bytes, more than a page (level %d, code of %u bytes, %d heap TIDs)",
				 id, RelationGetRelationName(state->index), size,
				 (int) e->level, (unsigned) VARSIZE(GetVector(e)),
				 (int) e->nheaptids);
		need = MAXALIGN(size) + sizeof(ItemIdData);
		e->cut = 0;
		if (used + need <= pageSpace)
		{
			off++;
			used += need;
		}
		else if (packed && blkno != firstBlkno &&
				 PlaceCut(graph, e, size, pageSpace - used))
		{
			/* the head ends this page, the tail starts the next */
			off++;
			ItemPointerSet(&e->tid, blkno, off);
			blkno++;
			off = FirstOffsetNumber;
			used = MAXALIGN(HNSW_TAIL_HEADER_SIZE +
							HNSW_CODE_SIZE(graph->dim, graph->codeKind) -
							e->cut) + sizeof(ItemIdData);
			continue;
		}
		else
		{
			blkno++;
			off = FirstOffsetNumber;
			used = need;
		}
		ItemPointerSet(&e->tid, blkno, off);
	}

	return blkno;
}

/*
 * Form the tuples of the arena's elements, placed by PlaceElements, on
 * pages in private memory and write them HNSW_WRITE_BATCH at a time
 * (WritePages), WAL-logged if logged.  Tuples are formed by
 * HnswFormElementTuple from a stand-in element whose neighbours carry only
 * their TIDs, with room for just their heap TIDs.
 */
static void
WriteElements(HnswBuildState *state, uint32 nelements, bool logged)
{
	HnswGraph  *graph = state->graph;
	int			m = state->shared->m;
	HnswElementTuple tup;
	char	   *head;			/* a head or tail tuple being formed */
	ItemPointerData tail;
	HnswElementData elem;
	HnswNeighborList *lists[HNSW_MAX_LEVEL + 1];
	HnswElementData *stubs;
	char	   *pages;			/* HNSW_WRITE_BATCH pages being filled */
	BlockNumber blknos[HNSW_WRITE_BATCH];
	int			npages = 0;
	Page		page = NULL;

	tup = palloc(HNSW_MAX_TUPLE_SIZE);
	head = palloc(HNSW_MAX_TUPLE_SIZE);
	stubs = palloc0(sizeof(HnswElementData) * HNSW_SLOTS(HNSW_MAX_LEVEL, m));
	for (int lc = 0; lc <= HNSW_MAX_LEVEL; lc++)
		lists[lc] = palloc(offsetof(HnswNeighborList, items) +
						   sizeof(HnswCandidate) * HNSW_LEVEL_CAPACITY(lc, m));
	memset(&elem, 0, sizeof(elem));
	elem.neighbors = lists;

	pages = palloc(BLCKSZ * HNSW_WRITE_BATCH);
	for (uint32 id = 0; id < nelements; id++)
	{
		BuildElement *e;
		Size		size;
		int			nstubs = 0;

		if (state->offsets[id] == 0)
			continue;
		e = GetElement(state, id);
		if (page == NULL ||
			ItemPointerGetBlockNumber(&e->tid) != blknos[npages - 1])
		{
			if (npages == HNSW_WRITE_BATCH)
			{
				WritePages(state, blknos, pages, npages, logged);
				npages = 0;
			}
			blknos[npages] = ItemPointerGetBlockNumber(&e->tid);
			page = pages + BLCKSZ * npages;
			npages++;
			HnswInitPage(page);
		}

		elem.level = e->level;
		elem.nheaptids = e->nheaptids;
		elem.key = e->key;
		memcpy(elem.heaptids, e->heaptids, sizeof(ItemPointerData) * e->nheaptids);
		elem.vec = GetVector(e);
		for (int lc = 0; lc <= e->level; lc++)
		{
			BuildList  *bl = GetList(e, lc, m);

			lists[lc]->length = bl->length;
			for (int i = 0; i < bl->length; i++)
			{
				HnswElementData *stub = &stubs[nstubs++];

				BuildElement *n = GetElement(state, bl->items[i].id);

				stub->tid = n->tid;
				stub->key = n->key;
				stub->loaded = true;
				lists[lc]->items[i].element = stub;
				lists[lc]->items[i].distance = bl->items[i].distance;
			}
		}
		size = HnswFormElementTuple(graph, &elem, tup, TidRoom(e->nheaptids));
		if (e->cut != 0)
		{
			/* a head, then its tail on the next page */
			size = FormHead(tup, size, e->cut, head);
			AddBuiltTuple(state, page, head, size, &e->tid);
			if (npages == HNSW_WRITE_BATCH)
			{
				WritePages(state, blknos, pages, npages, logged);
				npages = 0;
			}
			blknos[npages] = ItemPointerGetBlockNumber(&e->tid) + 1;
			page = pages + BLCKSZ * npages;
			npages++;
			HnswInitPage(page);
			size = FormTail(tup, e->cut, &e->tid, head);
			ItemPointerSet(&tail, blknos[npages - 1], FirstOffsetNumber);
			AddBuiltTuple(state, page, head, size, &tail);
		}
		else
			AddBuiltTuple(state, page, (char *) tup, size, &e->tid);
		CHECK_FOR_INTERRUPTS();
	}
	if (npages > 0)
		WritePages(state, blknos, pages, npages, logged);
	pfree(pages);
	pfree(tup);
	pfree(head);
	pfree(stubs);
	for (int lc = 0; lc <= HNSW_MAX_LEVEL; lc++)
		pfree(lists[lc]);

}

/*
 * Write the arena's graph to pages after the metapage (and any vectors
 * written out of line), in element order, then record the entry point.
 * The element pages are formed in private memory and written past shared
 * buffers (WritePages); when final (the graph is the whole index) they are
 * WAL-logged as they are written, otherwise (the arena filled up and
 * inserts into the pages follow) hnswbuild logs the whole index at its
 * end.  The metapage and the pages of vectors out of line are in shared
 * buffers and logged at the end.  Leader only, while no participant
 * changes the arena.  Tuples are formed by HnswFormElementTuple from a
 * stand-in element whose neighbours carry only their TIDs, with room for
 * just their heap TIDs; an element too large for the rest of its page may
 * be cut into a head and a tail tuple (PlaceCut).
 */
void
HnswBuildFlushArena(HnswBuildState *state, bool final)
{
	HnswBuildShared *shared = state->shared;
	HnswGraph  *graph = state->graph;
	Relation	index = state->index;
	uint32		nelements = Min(pg_atomic_read_u32(&shared->nelements),
								shared->maxElements);
	/* after the metapage and any vectors written out of line meanwhile */
	BlockNumber firstBlkno = RelationGetNumberOfBlocks(index) - 1;
	BlockNumber blkno;
	int			linked = 0;
	uint32		left = 0;
	int			dim;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE,
								 PROGRESS_HNSW_PHASE_WRITE);
	state->firstElementBlock = firstBlkno + 1;
	SpinLockAcquire(&shared->mutex);
	dim = shared->dim;
	SpinLockRelease(&shared->mutex);
	SetGraphDimensions(graph, dim);

	/*
	 * Under inner product, which is no metric, elements without incoming
	 * links are mostly ones no query ranks first; linking them would take
	 * links from the hubs searches go through.
	 */
	if (graph->metric != HNSW_METRIC_IP || graph->normalize)
		linked = HnswArenaLinkUnreachable(state, nelements, &left);
	if (left > 0)
		state->unreachedLeft = true;
	ereport(DEBUG1,
			(errmsg_internal("hnsw build of \"%s\": %u elements, %d unreachable ones linked to, %u left",
							 RelationGetRelationName(index), nelements,
							 linked, left)));

	blkno = PlaceElements(state, nelements, firstBlkno, HnswGetPacked(index));
	WriteElements(state, nelements, final && RelationNeedsWAL(index));

	if (shared->entry >= 0)
	{
		BuildElement *ep = GetElement(state, shared->entry);

		HnswUpdateMetaEntry(index, true, graph->dim, &ep->tid, ep->level, false);
	}
	if (blkno != firstBlkno)
		(void) HnswUpdateMetaInsertPage(index, true, blkno, NULL);
}
