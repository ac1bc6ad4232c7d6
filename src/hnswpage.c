/*-------------------------------------------------------------------------
 *
 * hnswpage.c
 *	  Page access for hnsw: the metapage, element tuples, finding room for
 *	  a new tuple, and the one page-edit helper that WAL-logs every change
 *	  (or not, while the index is being built).
 *
 * See src/README "Page layout" and "WAL".
 *
 * src/hnswpage.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "hnsw.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "storage/lmgr.h"

/* Initialise an empty element page (or the metapage before its contents) */
void
HnswInitPage(Page page)
{
	HnswPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(HnswPageOpaqueData));
	opaque = HnswPageGetOpaque(page);
	opaque->flags = 0;
	opaque->page_id = HNSW_PAGE_ID;
}

/*
 * Initialise the metapage of an empty index.  pd_lower is moved past the
 * metadata so that Generic WAL does not treat it as the page's hole.
 */
void
HnswInitMetaPage(Page page, int m, int efConstruction,
				 HnswQuantization quant)
{
	HnswMetaPage meta;

	HnswInitPage(page);
	meta = HnswPageGetMeta(page);
	memset(meta, 0, sizeof(HnswMetaPageData));
	meta->magic = HNSW_MAGIC_NUMBER;
	meta->version = HNSW_VERSION;
	meta->dimensions = 0;
	meta->m = m;
	meta->efConstruction = efConstruction;
	ItemPointerSetInvalid(&meta->entryPoint);
	meta->entryLevel = -1;
	meta->insertPage = InvalidBlockNumber;
	meta->quantization = quant;
	((PageHeader) page)->pd_lower =
		((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;
}

/*
 * Copy the metapage into *meta.  Takes and releases a share lock on it.
 * A version 1 metapage (before quantization) reads as f32: the bytes past
 * its end were zeroed when the page was initialised.
 */
void
HnswReadMeta(Relation index, HnswMetaPageData *meta)
{
	Buffer		buf = HnswReadBuffer(index, HNSW_METAPAGE_BLKNO);
	HnswMetaPage m;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	m = HnswPageGetMeta(BufferGetPage(buf));
	if (m->magic != HNSW_MAGIC_NUMBER || m->version < HNSW_MIN_VERSION ||
		m->version > HNSW_VERSION)
		elog(ERROR, "index \"%s\" is not an hnsw index of version %d to %d",
			 RelationGetRelationName(index), HNSW_MIN_VERSION, HNSW_VERSION);
	*meta = *m;
	if (m->version < 2)
		meta->quantization = HNSW_QUANT_F32;
	if (meta->quantization > HNSW_QUANT_I8)
		elog(ERROR, "index \"%s\" has unknown quantization %d",
			 RelationGetRelationName(index), meta->quantization);
	UnlockReleaseBuffer(buf);
}

/*
 * Begin changing a page the caller has locked exclusively; return the page
 * image to modify.  Unless the index is being built the change becomes one
 * Generic WAL record (fullImage: log the whole page, for new pages).
 * Nothing may raise an error between this and HnswEditFinish.
 */
Page
HnswEditStart(HnswPageEdit *edit, Relation index, Buffer buffer,
			  bool building, bool fullImage)
{
	edit->buffer = buffer;
	edit->building = building;
	if (building)
	{
		edit->state = NULL;
		return BufferGetPage(buffer);
	}
	edit->state = GenericXLogStart(index);
	return GenericXLogRegisterBuffer(edit->state, buffer,
									 fullImage ? GENERIC_XLOG_FULL_IMAGE : 0);
}

/*
 * Finish a page change: write its WAL record (or, while building, just mark
 * the buffer dirty: the whole index is logged when the build ends).  The
 * buffer stays locked and pinned.
 */
void
HnswEditFinish(HnswPageEdit *edit)
{
	if (edit->building)
		MarkBufferDirty(edit->buffer);
	else
		GenericXLogFinish(edit->state);
}

/*
 * Return the element tuple at off on a locked page, or NULL if there is
 * none (an unused line pointer left by vacuum, or a stale offset).
 */
HnswElementTuple
HnswGetElementTuple(Page page, OffsetNumber off)
{
	ItemId		itemid;
	HnswElementTuple tup;

	if (PageIsNew(page) || off < FirstOffsetNumber ||
		off > PageGetMaxOffsetNumber(page))
		return NULL;
	itemid = PageGetItemId(page, off);
	if (!ItemIdIsNormal(itemid))
		return NULL;
	tup = (HnswElementTuple) PageGetItem(page, itemid);
	if (tup->type != HNSW_ELEMENT_TUPLE)
		return NULL;
	return tup;
}

/*
 * Write the tuple of an element into tup (HNSW_ELEMENT_TUPLE_SIZE bytes);
 * its neighbours must have tuple locations already.  Return the size.
 */
Size
HnswFormElementTuple(HnswGraph *graph, HnswElement element, HnswElementTuple tup)
{
	Size		size = HNSW_ELEMENT_TUPLE_SIZE(graph->dim, graph->quantization,
											   element->level, graph->m);
	HnswNeighborSlot *slots;

	memset(tup, 0, size);
	tup->type = HNSW_ELEMENT_TUPLE;
	tup->level = element->level;
	tup->deleted = element->deleted ? 1 : 0;
	for (int i = 0; i < HNSW_HEAPTIDS; i++)
	{
		if (i < element->nheaptids)
			tup->heaptids[i] = element->heaptids[i];
		else
			ItemPointerSetInvalid(&tup->heaptids[i]);
	}
	Assert(VARSIZE(element->vec) == HNSW_CODE_SIZE(graph->dim, graph->quantization));
	memcpy(&tup->vec, element->vec, VARSIZE(element->vec));

	slots = HnswTupleGetSlots(tup);
	for (int i = 0; i < HNSW_SLOTS(element->level, graph->m); i++)
		ItemPointerSetInvalid(&slots[i].tid);
	for (int lc = 0; lc <= element->level; lc++)
	{
		HnswNeighborList *list = element->neighbors[lc];
		int			start = HNSW_LEVEL_START(lc, graph->m);

		for (int i = 0; i < list->length; i++)
		{
			slots[start + i].tid = list->items[i].element->tid;
			slots[start + i].distance = list->items[i].distance;
		}
	}
	return size;
}

/*
 * Put a tuple on a locked page through a page edit; return its offset.
 */
static OffsetNumber
AddToPage(HnswGraph *graph, Buffer buf, HnswElementTuple tup, Size size,
		  bool newPage)
{
	HnswPageEdit edit;
	Page		page;
	OffsetNumber off;

	page = HnswEditStart(&edit, graph->index, buf, graph->building, newPage);
	if (newPage || PageIsNew(page))
		HnswInitPage(page);
	off = PageAddItem(page, (Item) tup, size, InvalidOffsetNumber, false, false);
	if (off == InvalidOffsetNumber)
		elog(ERROR, "failed to add tuple to hnsw index \"%s\"",
			 RelationGetRelationName(graph->index));
	HnswEditFinish(&edit);
	return off;
}

/* Return whether a locked page has room for a tuple of size bytes */
static bool
PageHasRoom(Page page, Size size)
{
	return PageIsNew(page) || PageGetFreeSpace(page) >= MAXALIGN(size);
}

/*
 * Store a new element tuple and return its location in *tid: on a page the
 * free space map offers, else on the insert page, else on a new page (then
 * made the insert page).
 *
 * Holds one buffer lock at a time, and the relation extension lock only
 * while extending; see src/README "Locking".
 */
void
HnswAddElementTuple(HnswGraph *graph, HnswElementTuple tup, Size size,
					ItemPointer tid)
{
	Relation	index = graph->index;
	BlockNumber blkno;
	Buffer		buf;
	HnswMetaPageData meta;
	OffsetNumber off;

	/* pages vacuum freed space on */
	blkno = GetPageWithFreeSpace(index, MAXALIGN(size) + sizeof(ItemIdData));
	while (blkno != InvalidBlockNumber)
	{
		Page		page;

		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (PageHasRoom(page, size))
		{
			OffsetNumber off = AddToPage(graph, buf, tup, size, false);

			ItemPointerSet(tid, blkno, off);
			UnlockReleaseBuffer(buf);
			return;
		}
		blkno = RecordAndGetPageWithFreeSpace(index, blkno,
											  PageGetFreeSpace(page),
											  MAXALIGN(size) + sizeof(ItemIdData));
		UnlockReleaseBuffer(buf);
	}

	/* the last page */
	HnswReadMeta(index, &meta);
	if (meta.insertPage != InvalidBlockNumber)
	{
		buf = ReadBuffer(index, meta.insertPage);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		if (PageHasRoom(BufferGetPage(buf), size))
		{
			OffsetNumber off = AddToPage(graph, buf, tup, size, false);

			ItemPointerSet(tid, meta.insertPage, off);
			UnlockReleaseBuffer(buf);
			return;
		}
		UnlockReleaseBuffer(buf);
	}

	/*
	 * A new page.  Its buffer is locked before the extension lock is let go,
	 * so nobody sees it uninitialised except after a crash (readers treat a
	 * new page as empty).
	 */
	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBuffer(index, P_NEW);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	blkno = BufferGetBlockNumber(buf);
	off = AddToPage(graph, buf, tup, size, true);
	ItemPointerSet(tid, blkno, off);
	UnlockReleaseBuffer(buf);

	HnswUpdateMetaInsertPage(index, graph->building, blkno);
}

/*
 * Make the element at entry (of the given level) the entry point; with
 * onlyIfHigher, only if the current one is on a lower level.  Record the
 * dimensions if they are not yet known.  Return whether the entry point was
 * changed.  Takes and releases an exclusive lock on the metapage.
 */
bool
HnswUpdateMetaEntry(Relation index, bool building, int dim,
					ItemPointer entry, int level, bool onlyIfHigher)
{
	Buffer		buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	HnswPageEdit edit;
	HnswMetaPage meta;
	bool		changed = false;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	meta = HnswPageGetMeta(BufferGetPage(buf));
	if (!onlyIfHigher || level > meta->entryLevel ||
		(meta->dimensions == 0 && dim > 0))
	{
		meta = HnswPageGetMeta(HnswEditStart(&edit, index, buf, building, false));
		if (meta->dimensions == 0)
			meta->dimensions = dim;
		if (!onlyIfHigher || level > meta->entryLevel)
		{
			if (entry)
				meta->entryPoint = *entry;
			else
				ItemPointerSetInvalid(&meta->entryPoint);
			meta->entryLevel = entry ? level : -1;
			changed = true;
		}
		HnswEditFinish(&edit);
	}
	UnlockReleaseBuffer(buf);
	return changed;
}

/*
 * Make blkno the insert page unless a later page already is.  Takes and
 * releases an exclusive lock on the metapage.
 */
void
HnswUpdateMetaInsertPage(Relation index, bool building, BlockNumber blkno)
{
	Buffer		buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	HnswMetaPage meta;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	meta = HnswPageGetMeta(BufferGetPage(buf));
	if (meta->insertPage == InvalidBlockNumber || meta->insertPage < blkno)
	{
		HnswPageEdit edit;

		meta = HnswPageGetMeta(HnswEditStart(&edit, index, buf, building, false));
		meta->insertPage = blkno;
		HnswEditFinish(&edit);
	}
	UnlockReleaseBuffer(buf);
}
