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
#include "miscadmin.h"
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
	meta->exactQuantization = quant;
	((PageHeader) page)->pd_lower =
		((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;
}

/*
 * Copy the metapage into *meta.  Takes and releases a share lock on it.
 * A version 1 metapage (before quantization) reads as f32: the bytes past
 * its end were zeroed when the page was initialised.  Versions before 3
 * keep every vector inline.
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
	if (m->version < 3)
		meta->exactQuantization = meta->quantization;
	if (meta->quantization > HNSW_QUANT_MAX ||
		meta->exactQuantization > HNSW_QUANT_MAX)
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
	edit->second = InvalidBuffer;
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
 * Add a second page, exclusively locked by the caller, to a page change, so
 * that one WAL record changes both (vacuum freeing an element cut over two
 * pages); return its page to modify.
 */
Page
HnswEditAddPage(HnswPageEdit *edit, Buffer buffer)
{
	Assert(!BufferIsValid(edit->second));
	edit->second = buffer;
	if (edit->building)
		return BufferGetPage(buffer);
	return GenericXLogRegisterBuffer(edit->state, buffer, 0);
}

/*
 * Finish a page change: write its WAL record (or, while building, just mark
 * the buffers dirty: the whole index is logged when the build ends).  The
 * buffers stay locked and pinned.
 */
void
HnswEditFinish(HnswPageEdit *edit)
{
	if (edit->building)
	{
		MarkBufferDirty(edit->buffer);
		if (BufferIsValid(edit->second))
			MarkBufferDirty(edit->second);
	}
	else
		GenericXLogFinish(edit->state);
}

/*
 * Return the element tuple at off on a locked page, or NULL if there is
 * none (an unused line pointer left by vacuum, or a stale offset).  A head
 * tuple (an element cut at the page's end) is returned too: its heap TIDs
 * and slots are read as any element's, its vector through
 * HnswCopyTupleVector and HnswReadTail.
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
	if (tup->type != HNSW_ELEMENT_TUPLE && tup->type != HNSW_HEAD_TUPLE)
		return NULL;
	return tup;
}

/*
 * Copy the vector of tup, an element tuple on a page the caller has
 * locked, into dst, which has room for the whole vector.  Return true if
 * that is all of it; false for a head tuple, whose bytes on this page are
 * copied (dst's VARSIZE says how many): the caller lets go of the page and
 * calls HnswReadTail for the rest.
 */
bool
HnswCopyTupleVector(HnswElementTuple tup, Vector *dst)
{
	Vector	   *vec = HnswTupleVector(tup);

	memcpy(dst, vec, VARSIZE(vec));
	return tup->type != HNSW_HEAD_TUPLE;
}

/*
 * Complete vec, the part of a vector HnswCopyTupleVector copied from the
 * head tuple at head, with the bytes of its tail tuple, the first tuple of
 * the next block.  Return false if that tuple is not the tail of this head
 * with the bytes missing: the element was freed, and the space reused,
 * after the head was read (src/README "Locking").
 *
 * Takes and releases a share lock on the tail's page; holds no lock on
 * entry or exit.
 */
bool
HnswReadTail(Relation index, ItemPointer head, Vector *vec)
{
	Size		have = VARSIZE(vec);
	Size		total = HNSW_CODE_SIZE(vec->dim, vec->unused);
	BlockNumber blkno = ItemPointerGetBlockNumber(head) + 1;
	Buffer		buf;
	Page		page;
	bool		found = false;

	if (have >= total)
		return false;
	buf = HnswReadBuffer(index, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (!PageIsNew(page) && PageGetMaxOffsetNumber(page) >= FirstOffsetNumber)
	{
		ItemId		itemid = PageGetItemId(page, FirstOffsetNumber);
		HnswTailTuple tail = (HnswTailTuple) PageGetItem(page, itemid);

		if (ItemIdIsNormal(itemid) &&
			ItemIdGetLength(itemid) == HNSW_TAIL_HEADER_SIZE + total - have &&
			tail->type == HNSW_TAIL_TUPLE &&
			ItemPointerEquals(&tail->head, head))
		{
			memcpy((char *) vec + have, tail->data, total - have);
			SET_VARSIZE(vec, total);
			found = true;
		}
	}
	UnlockReleaseBuffer(buf);
	return found;
}

/*
 * Return the size of the tuple of an element of the given level with room
 * for ntids heap TIDs (even, at most HNSW_HEAPTIDS): its vector or code,
 * with the link to an out-of-line vector if the graph keeps them there, and
 * its slots.
 */
Size
HnswElementTupleSize(HnswGraph *graph, int level, int ntids)
{
	Assert(ntids > 0 && ntids <= HNSW_HEAPTIDS && ntids % 2 == 0);
	return HNSW_ELEMENT_TUPLE_SIZE_SLOTS(graph->dim, graph->quantization,
										 level, graph->m, graph->slotSize,
										 ntids) +
		(HnswGraphOutOfLine(graph) ? HNSW_VECTOR_LINK_SIZE : 0);
}

/*
 * Return the size of the smallest whole element tuple of the graph (level
 * 0, two heap TIDs) if its elements can be cut over two pages, 0 if not:
 * only elements larger than a quarter of a page are cut (a smaller one
 * wastes less than that at a page's end), and only vectors kept inline
 * that are not i8 codes (whose re-ranking bound reads the code in place).
 * See src/README "Page layout".
 */
Size
HnswMinCutSize(HnswGraph *graph)
{
	Size		size;

	if (graph->dim == 0 || HnswGraphOutOfLine(graph) ||
		HnswQuantIsInt8(graph->quantization))
		return 0;
	size = HnswElementTupleSize(graph, 0, 2);
	return size > HNSW_MAX_TUPLE_SIZE / 4 ? size : 0;
}

/*
 * Write the tuple of an element into tup (HnswElementTupleSize bytes), with
 * room for ntids heap TIDs (HNSW_HEAPTIDS, or fewer for an index of version
 * 5); its neighbours must have tuple locations already, and an out-of-line
 * vector must have been written.  Return the size.
 */
Size
HnswFormElementTuple(HnswGraph *graph, HnswElement element,
					 HnswElementTuple tup, int ntids)
{
	Size		size = HnswElementTupleSize(graph, element->level, ntids);
	char	   *slots;

	Assert(element->nheaptids <= ntids);
	memset(tup, 0, size);
	tup->type = HNSW_ELEMENT_TUPLE;
	tup->level = element->level;
	tup->deleted = element->deleted ? 1 : 0;
	/* 0 as in older versions when there is room for all */
	tup->ntids = ntids == HNSW_HEAPTIDS ? 0 : ntids;
	for (int i = 0; i < ntids; i++)
	{
		if (i < element->nheaptids)
			tup->heaptids[i] = element->heaptids[i];
		else
			ItemPointerSetInvalid(&tup->heaptids[i]);
	}
	Assert(VARSIZE(element->vec) == HNSW_CODE_SIZE(graph->dim, graph->quantization) +
		   (HnswGraphOutOfLine(graph) ? HNSW_VECTOR_LINK_SIZE : 0));
	Assert(!HnswGraphOutOfLine(graph) ||
		   ItemPointerIsValid(HnswVectorGetLink(element->vec)));
	memcpy(HnswTupleVector(tup), element->vec, VARSIZE(element->vec));

	slots = HnswTupleGetSlots(tup);
	for (int i = 0; i < HNSW_SLOTS(element->level, graph->m); i++)
		ItemPointerSetInvalid(HnswSlotTid(slots, i, graph->slotSize));
	for (int lc = 0; lc <= element->level; lc++)
	{
		HnswNeighborList *list = element->neighbors[lc];
		int			start = HNSW_LEVEL_START(lc, graph->m);

		for (int i = 0; i < list->length; i++)
			HnswSlotSet(slots, start + i, graph->slotSize,
						&list->items[i].element->tid,
						list->items[i].distance);
	}
	return size;
}

/*
 * Put a tuple on a locked page through a page edit; return its offset.
 */
static OffsetNumber
AddToPage(HnswGraph *graph, Buffer buf, Item tup, Size size, bool newPage)
{
	HnswPageEdit edit;
	Page		page;
	OffsetNumber off;

	page = HnswEditStart(&edit, graph->index, buf, graph->building, newPage);
	if (newPage || PageIsNew(page))
		HnswInitPage(page);
	off = PageAddItem(page, tup, size, InvalidOffsetNumber, false, false);
	if (off == InvalidOffsetNumber)
		elog(ERROR, "failed to add tuple to hnsw index \"%s\"",
			 RelationGetRelationName(graph->index));
	HnswEditFinish(&edit);
	return off;
}

/* Return how many bytes of a new tuple a locked page has room for */
static Size
PageRoom(Page page)
{
	if (PageIsNew(page))
		return HNSW_MAX_TUPLE_SIZE;
	return PageGetFreeSpace(page);
}

/*
 * Return a page with room for a tuple of at least size bytes, exclusively
 * locked and pinned: a page the free space map offers, else the insert
 * page, else a new page (then made the insert page; *newPage is set).
 *
 * Holds one buffer lock at a time, and the relation extension lock only
 * while extending; see src/README "Locking".
 */
static Buffer
GetPageWithRoom(HnswGraph *graph, Size size, bool *newPage)
{
	Relation	index = graph->index;
	BlockNumber blkno;
	Buffer		buf;
	HnswMetaPageData meta;

	*newPage = false;

	/* pages vacuum freed space on */
	blkno = GetPageWithFreeSpace(index, MAXALIGN(size) + sizeof(ItemIdData));
	while (blkno != InvalidBlockNumber)
	{
		Page		page;

		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (PageRoom(page) >= MAXALIGN(size))
			return buf;
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
		if (PageRoom(BufferGetPage(buf)) >= MAXALIGN(size))
			return buf;
		UnlockReleaseBuffer(buf);
	}

	/*
	 * A new page.  Its buffer is locked before the extension lock is let go,
	 * so nobody sees it uninitialised except after a crash (readers treat a
	 * new page as empty).  The caller makes it the insert page once the
	 * tuple is on it.
	 */
	LockRelationForExtension(index, ExclusiveLock);
	buf = ReadBuffer(index, P_NEW);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	UnlockRelationForExtension(index, ExclusiveLock);
	*newPage = true;
	return buf;
}

/*
 * Store a new element tuple and return its location in *tid, on a page
 * GetPageWithRoom chooses.  One WAL record (two with a new insert page).
 */
void
HnswAddElementTuple(HnswGraph *graph, HnswElementTuple tup, Size size,
					ItemPointer tid)
{
	bool		newPage;
	Buffer		buf = GetPageWithRoom(graph, size, &newPage);
	BlockNumber blkno = BufferGetBlockNumber(buf);
	OffsetNumber off;

	off = AddToPage(graph, buf, (Item) tup, size, newPage);
	ItemPointerSet(tid, blkno, off);
	UnlockReleaseBuffer(buf);
	if (newPage)
		HnswUpdateMetaInsertPage(graph->index, graph->building, blkno);
}

/*
 * Write vec, a plain vector of the graph (normalised for cosine), out of
 * line in the index's quantization option, and store the link to it at the
 * end of code, the element's code.  The vector is cut into chunks that fill
 * the pages they go to (a chunk is never smaller than HNSW_MIN_CHUNK unless
 * it is the vector's last bytes), written first to last, each chunk linking
 * to the one before; code links to the last.  Nothing links to a chunk until
 * the element tuple holding the code is written, so readers never see a
 * partial vector; a crash in between leaves unreferenced chunks (see
 * src/README "Vectors out of line").
 *
 * Every chunk is its own page edit, one WAL record each (unless building),
 * with one buffer lock at a time.  Allocates in the current context.
 */
#define HNSW_MIN_CHUNK	1024

void
HnswWriteExactVector(HnswGraph *graph, const Vector *vec, Vector *code)
{
	Vector	   *exact = HnswEncodeExactVector(graph, vec, CurrentMemoryContext);
	Size		total = VARSIZE(exact);
	Size		done = 0;
	HnswVectorTuple chunk = palloc(HNSW_MAX_TUPLE_SIZE);
	ItemPointerData prev;

	ItemPointerSetInvalid(&prev);
	while (done < total)
	{
		Size		left = total - done;
		Size		want = HNSW_VECTOR_HEADER_SIZE + Min(left, HNSW_MIN_CHUNK);
		bool		newPage;
		Buffer		buf = GetPageWithRoom(graph, want, &newPage);
		BlockNumber blkno = BufferGetBlockNumber(buf);
		Size		room = PageRoom(BufferGetPage(buf));
		Size		n;
		OffsetNumber off;

		/* as much as the page holds: MAXALIGN(header + n) <= room */
		room = Min(room, HNSW_MAX_TUPLE_SIZE);
		n = Min(left, MAXALIGN_DOWN(room) - HNSW_VECTOR_HEADER_SIZE);
		memset(chunk, 0, HNSW_VECTOR_HEADER_SIZE);
		chunk->type = HNSW_VECTOR_TUPLE;
		chunk->prev = prev;
		chunk->offset = (uint32) done;
		memcpy(chunk->data, (char *) exact + done, n);
		off = AddToPage(graph, buf, (Item) chunk, HNSW_VECTOR_HEADER_SIZE + n,
						newPage);
		UnlockReleaseBuffer(buf);
		if (newPage)
			HnswUpdateMetaInsertPage(graph->index, graph->building, blkno);
		ItemPointerSet(&prev, blkno, off);
		done += n;
		CHECK_FOR_INTERRUPTS();
	}
	*HnswVectorGetLink(code) = prev;
	pfree(chunk);
	pfree(exact);
}

/*
 * Return the chunk of a vector at off on a locked page, or NULL if there is
 * none; *len receives the number of its bytes.
 */
static HnswVectorTuple
GetVectorTuple(Page page, OffsetNumber off, Size *len)
{
	ItemId		itemid;
	HnswVectorTuple chunk;

	if (PageIsNew(page) || off < FirstOffsetNumber ||
		off > PageGetMaxOffsetNumber(page))
		return NULL;
	itemid = PageGetItemId(page, off);
	if (!ItemIdIsNormal(itemid) ||
		ItemIdGetLength(itemid) <= HNSW_VECTOR_HEADER_SIZE)
		return NULL;
	chunk = (HnswVectorTuple) PageGetItem(page, itemid);
	if (chunk->type != HNSW_VECTOR_TUPLE)
		return NULL;
	*len = ItemIdGetLength(itemid) - HNSW_VECTOR_HEADER_SIZE;
	return chunk;
}

/*
 * Return whether the nth link of a chain (n from 0), tid, may lead to a
 * chunk: inside the index, off the metapage, and no more links than the
 * largest vector has chunks (a cycle in a corrupt chain ends there).
 */
static bool
ChainLinkValid(ItemPointer tid, BlockNumber nblocks, int n)
{
	return ItemPointerIsValid(tid) &&
		ItemPointerGetBlockNumber(tid) != HNSW_METAPAGE_BLKNO &&
		ItemPointerGetBlockNumber(tid) < nblocks &&
		n <= VECTOR_SIZE(VECTOR_MAX_DIM) / HNSW_MIN_CHUNK + 2;
}

/*
 * Return the vector out of line whose last chunk is at link, palloc'd, or
 * NULL if the chain is not a whole vector of dim dimensions (its element
 * was freed by vacuum meanwhile and the space reused; or corruption, which
 * verify_index reports).  *nchunks, if not NULL, receives the number of
 * chunks read.  Takes and releases a share lock on one page at a time.
 */
Vector *
HnswReadExactVector(Relation index, ItemPointer link, int dim, int *nchunks)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	ItemPointerData tid = *link;
	char	   *data = NULL;
	Size		total = 0;
	Size		end = 0;		/* bytes from offset "end" on are read */
	int			n = 0;
	Vector	   *vec;

	while (ItemPointerIsValid(&tid))
	{
		Buffer		buf;
		HnswVectorTuple chunk;
		Size		len;
		bool		ok = false;

		if (!ChainLinkValid(&tid, nblocks, n))
			break;
		buf = ReadBuffer(index, ItemPointerGetBlockNumber(&tid));
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		chunk = GetVectorTuple(BufferGetPage(buf),
							   ItemPointerGetOffsetNumber(&tid), &len);
		if (chunk != NULL && data == NULL)
		{
			/* the last chunk: the vector ends where it does */
			total = (Size) chunk->offset + len;
			end = total;
			if (total >= VECTOR_SIZE(1) && total <= VECTOR_SIZE(VECTOR_MAX_DIM))
				data = palloc(total);
		}
		if (chunk != NULL && data != NULL && (Size) chunk->offset + len == end)
		{
			memcpy(data + chunk->offset, chunk->data, len);
			end = chunk->offset;
			tid = chunk->prev;
			ok = true;
		}
		UnlockReleaseBuffer(buf);
		n++;
		if (!ok)
			break;
	}
	if (nchunks)
		*nchunks = n;
	if (data == NULL || end != 0 || ItemPointerIsValid(&tid))
	{
		if (data)
			pfree(data);
		return NULL;
	}
	vec = (Vector *) data;
	if (VARSIZE(vec) != total || vec->dim != dim ||
		vec->unused > HNSW_QUANT_MAX ||
		HNSW_CODE_SIZE(dim, vec->unused) != total)
	{
		pfree(data);
		return NULL;
	}
	return vec;
}

/*
 * Return the out-of-line vector of an element of the graph, palloc'd, after
 * reading the link from its tuple; NULL if the element or its vector is
 * gone.  Takes and releases share locks, one page at a time.
 */
Vector *
HnswFetchExactVector(HnswGraph *graph, HnswElement element)
{
	Buffer		buf;
	HnswElementTuple tup;
	ItemPointerData link;

	ItemPointerSetInvalid(&link);
	buf = ReadBuffer(graph->index, ItemPointerGetBlockNumber(&element->tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	tup = HnswGetElementTuple(BufferGetPage(buf),
							  ItemPointerGetOffsetNumber(&element->tid));
	if (tup != NULL)
	{
		Vector	   *code = HnswTupleVector(tup);

		if (code->dim == graph->dim && code->unused <= HNSW_QUANT_MAX &&
			HnswVectorHasLink(code))
			link = *HnswVectorGetLink(code);
	}
	UnlockReleaseBuffer(buf);
	if (!ItemPointerIsValid(&link))
		return NULL;
	return HnswReadExactVector(graph->index, &link, graph->dim, NULL);
}

/*
 * Free the chunks of the out-of-line vector whose last chunk is at link
 * (vacuum, after the element linking to it is gone) and record the space in
 * the free space map.  Stops at anything that is not a chunk.  One
 * exclusive buffer lock and one WAL record per chunk.
 */
void
HnswFreeExactVector(Relation index, ItemPointer link,
					BufferAccessStrategy strategy)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	ItemPointerData tid = *link;
	int			n = 0;

	while (ChainLinkValid(&tid, nblocks, n++))
	{
		BlockNumber blkno = ItemPointerGetBlockNumber(&tid);
		OffsetNumber off = ItemPointerGetOffsetNumber(&tid);
		Buffer		buf;
		Page		page;
		HnswVectorTuple chunk;
		Size		len;
		Size		freespace;
		HnswPageEdit edit;

		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL,
								 strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		chunk = GetVectorTuple(page, off, &len);
		if (chunk == NULL)
		{
			UnlockReleaseBuffer(buf);
			break;
		}
		tid = chunk->prev;
		page = HnswEditStart(&edit, index, buf, false, false);
		PageIndexTupleDeleteNoCompact(page, off);
		PageSetHasFreeLinePointers(page);
		freespace = PageGetFreeSpace(page);
		HnswEditFinish(&edit);
		UnlockReleaseBuffer(buf);
		RecordPageWithFreeSpace(index, blkno, freespace);
	}
}

/*
 * Make the element at entry (of the given level) the entry point; with
 * onlyIfHigher, only if the current one is on a lower level.  Record the
 * dimensions if they are not yet known, and with them how elements store
 * vectors (HnswCodeQuantization).  Return whether the entry point was
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
		if (meta->dimensions == 0 && dim > 0)
		{
			/* the first vector decides, as in HnswCheckVector */
			meta->dimensions = dim;
			if (meta->version >= 3)
				meta->quantization =
					HnswCodeQuantization(dim, meta->m,
										 (HnswQuantization) meta->exactQuantization);
		}
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
