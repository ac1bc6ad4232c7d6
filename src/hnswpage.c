/*-------------------------------------------------------------------------
 *
 * hnswpage.c
 *	  Page access for hnsw: the metapage, element tuples, finding room for
 *	  a new tuple, and the one page-edit helper that WAL-logs every change
 *	  (or not, while the index is being built).  What is read from a page is
 *	  checked (hnswcheck.c) before it is used, and a damaged page raises
 *	  ERRCODE_INDEX_CORRUPTED here.
 *
 * See src/README "Page layout", "Reading pages" and "WAL".
 *
 * src/hnswpage.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/generic_xlog.h"
#include "access/htup_details.h"
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
				 HnswCodeKind quant)
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
	meta->codeKind = quant;
	meta->exactKind = quant;
	((PageHeader) page)->pd_lower =
		((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;
}

/*
 * Raise ERRCODE_INDEX_CORRUPTED for r, what a check of hnswcheck.c found
 * wrong with the page of block blkno (page header, special space) or with
 * its tuple at off (line pointer; element tuple, checked against layout).
 * The details are read again from the page, only as far as the check found
 * them sound.
 *
 * One case per check result, each a message and nothing else: kept whole,
 * since a reader looks up one result and the cases share the fields read
 * above; split, each helper would be a single ereport.
 */
void
HnswReportCorrupt(Relation index, HnswCheckResult r, BlockNumber blkno,
				  OffsetNumber off, Page page, const HnswLayout *layout)
{
	PageHeader	ph = (PageHeader) page;
	ItemId		itemid = NULL;
	HnswElementTuple tup = NULL;
	HnswCode	   *vec = NULL;
	Size		len = 0;

	if (r >= HNSW_CHECK_ITEM_FLAGS && r <= HNSW_CHECK_TUPLE_SIZE)
	{
		/* the line pointer is in the array (HnswCheckItem) */
		itemid = PageGetItemId(page, off);
		len = ItemIdGetLength(itemid);
		/* the tuple is in the page, its header and vector as far as found */
		if (r >= HNSW_CHECK_NOT_ELEMENT)
			tup = (HnswElementTuple) PageGetItem(page, itemid);
		if (r >= HNSW_CHECK_ENCODING)
			vec = HnswTupleVector(tup);
	}

	switch (r)
	{
		case HNSW_CHECK_PAGE_HEADER:
			HNSW_CORRUPT(index, "has a page with corrupted page pointers",
						 "Block %u: lower %u, upper %u, special %u.",
						 blkno, (unsigned) ph->pd_lower,
						 (unsigned) ph->pd_upper, (unsigned) ph->pd_special);
			break;
		case HNSW_CHECK_PAGE_SPECIAL:
			if (PageGetSpecialSize(page) != MAXALIGN(sizeof(HnswPageOpaqueData)))
				HNSW_CORRUPT(index, "has a page that is not an hnsw page",
							 "Block %u has %u bytes of special space; expected %u.",
							 blkno, (unsigned) PageGetSpecialSize(page),
							 (unsigned) MAXALIGN(sizeof(HnswPageOpaqueData)));
			HNSW_CORRUPT(index, "has a page that is not an hnsw page",
						 "Block %u has %u bytes of special space with page id 0x%04X; expected %u bytes with page id 0x%04X.",
						 blkno, (unsigned) PageGetSpecialSize(page),
						 (unsigned) HnswPageGetOpaque(page)->page_id,
						 (unsigned) MAXALIGN(sizeof(HnswPageOpaqueData)),
						 (unsigned) HNSW_PAGE_ID);
			break;
		case HNSW_CHECK_ITEM_FLAGS:
			HNSW_CORRUPT(index, "has a line pointer in an unexpected state",
						 "Block %u, offset %u: line pointer flags %u; hnsw uses only normal and unused line pointers.",
						 blkno, off, (unsigned) itemid->lp_flags);
			break;
		case HNSW_CHECK_ITEM_RANGE:
			HNSW_CORRUPT(index, "has a line pointer outside the page's tuple space",
						 "Block %u, offset %u: %u bytes at byte %u; tuples lie between bytes %u and %u of the page, at multiples of %d.",
						 blkno, off, (unsigned) len,
						 (unsigned) ItemIdGetOffset(itemid),
						 (unsigned) ph->pd_upper, (unsigned) ph->pd_special,
						 MAXIMUM_ALIGNOF);
			break;
		case HNSW_CHECK_NOT_ELEMENT:
			HNSW_CORRUPT(index, "has a tuple that is not an element",
						 "Block %u, offset %u: tuple of %zu bytes with type %u.",
						 blkno, off, len, (unsigned) tup->type);
			break;
		case HNSW_CHECK_LEVEL:
			HNSW_CORRUPT(index, "has an element above the highest level",
						 "Block %u, offset %u: level %u; the highest level is %d.",
						 blkno, off, (unsigned) tup->level, HNSW_MAX_LEVEL);
			break;
		case HNSW_CHECK_DELETED:
			HNSW_CORRUPT(index, "has an element with an invalid deleted flag",
						 "Block %u, offset %u: deleted flag %u.",
						 blkno, off, (unsigned) tup->deleted);
			break;
		case HNSW_CHECK_TID_CAPACITY:
			HNSW_CORRUPT(index, "has an element with an invalid heap TID capacity",
						 "Block %u, offset %u: capacity %u; it must be even and below %d.",
						 blkno, off, (unsigned) HnswTupleTidCapacity(tup),
						 HNSW_HEAPTIDS);
			break;
		case HNSW_CHECK_KEY:
			HNSW_CORRUPT(index, "has an element whose filter column does not match the index's",
						 "Block %u, offset %u: %s a filter column value; the index has %s.",
						 blkno, off, HnswTupleKeySize(tup) > 0 ? "with" : "without",
						 layout->keySize > 0 ? "a filter column" : "none");
			break;
		case HNSW_CHECK_TUPLE_SIZE:
			if (len < HNSW_ELEMENT_HEADER_SIZE(HnswTupleTidCapacity(tup)) +
				HnswTupleKeySize(tup) + VECTOR_SIZE(0))
				HNSW_CORRUPT(index, "has an element tuple of wrong size",
							 "Block %u, offset %u: %zu bytes, too few for its header.",
							 blkno, off, len);
			HNSW_CORRUPT(index, "has an element tuple of wrong size",
						 "Block %u, offset %u: %zu bytes; an element of level %u with a vector of %u bytes and m = %d has %zu.",
						 blkno, off, len, (unsigned) tup->level,
						 (unsigned) VARSIZE(vec), layout->m,
						 HNSW_ELEMENT_HEADER_SIZE(HnswTupleTidCapacity(tup)) +
						 HnswTupleKeySize(tup) + VARSIZE(vec) +
						 (Size) HNSW_SLOTS(tup->level, layout->m) *
						 sizeof(HnswNeighborSlot));
			break;
		case HNSW_CHECK_ENCODING:
			HNSW_CORRUPT(index, "has an element with the wrong encoding",
						 "Block %u, offset %u: encoding %d; the index has %d.",
						 blkno, off, (int) vec->kind, layout->codeKind);
			break;
		case HNSW_CHECK_VECTOR_LENGTH:
			HNSW_CORRUPT(index, "has an element with a vector of wrong length",
						 "Block %u, offset %u: vector of %d dimensions and %u bytes; the index has %d dimensions.",
						 blkno, off, (int) vec->dim, (unsigned) VARSIZE(vec),
						 layout->dim);
			break;
		case HNSW_CHECK_CODE_HEADER:
			for (int i = 0; i < HNSW_CODE_HEADER_FLOATS(vec->kind); i++)
			{
				float		f = HnswCodeFloats(vec)[i];

				if (!isfinite(f) || (i != 1 && f < 0.0f))
					HNSW_CORRUPT(index, "has an element with an invalid i8 code",
								 "Block %u, offset %u: %s %g.", blkno, off,
								 i == 0 ? "scale" : i == 1 ? "offset" : "error bound",
								 (double) f);
			}
			break;
		case HNSW_CHECK_CUT:
			HNSW_CORRUPT(index, "has an element cut over two pages where none can be",
						 "Block %u, offset %u: head tuple in an index with %s vectors.",
						 blkno, off,
						 layout->outOfLine ? "out-of-line" :
						 HnswCodeKindName(layout->codeKind));
			break;
		default:
			break;
	}
	elog(ERROR, "unexpected check result %d at block %u, offset %u of index \"%s\"",
		 (int) r, blkno, off, RelationGetRelationName(index));
}

/*
 * Raise ERRCODE_INDEX_CORRUPTED for r, what HnswCheckMetaPage found wrong
 * with the metapage (copied into *meta as far as it got).
 */
static void
pg_attribute_noreturn()
ReportCorruptMeta(Relation index, HnswCheckResult r, Page page,
				  const HnswMetaPageData *meta)
{
	const char *name = RelationGetRelationName(index);

	switch (r)
	{
		case HNSW_CHECK_META_NEW:
			HNSW_CORRUPT(index, "has an uninitialized metapage",
						 "Block %u is all zeroes.", HNSW_METAPAGE_BLKNO);
			break;
		case HNSW_CHECK_META_MAGIC:
			HNSW_CORRUPT(index, "has a metapage with a wrong magic number",
						 "The metapage has magic number 0x%08X; expected 0x%08X.",
						 meta->magic, HNSW_MAGIC_NUMBER);
			break;
		case HNSW_CHECK_META_VERSION:
			HNSW_CORRUPT(index, "has a metapage of an unsupported version",
						 "The metapage has version %u; expected %d.",
						 meta->version, HNSW_VERSION);
			break;
		case HNSW_CHECK_META_M:
			HNSW_CORRUPT(index, "has a metapage with an invalid m",
						 "The metapage has m = %u; expected %d to %d.",
						 (unsigned) meta->m, HNSW_MIN_M, HNSW_MAX_M);
			break;
		case HNSW_CHECK_META_EF:
			HNSW_CORRUPT(index, "has a metapage with an invalid ef_construction",
						 "The metapage has ef_construction = %u; expected %d to %d.",
						 (unsigned) meta->efConstruction,
						 HNSW_MIN_EF_CONSTRUCTION, HNSW_MAX_EF_CONSTRUCTION);
			break;
		case HNSW_CHECK_META_QUANT:
			HNSW_CORRUPT(index, "has a metapage with an invalid quantization",
						 "The metapage has quantization %u for %u dimensions and option %u.",
						 (unsigned) meta->codeKind, meta->dimensions,
						 (unsigned) meta->exactKind);
			break;
		case HNSW_CHECK_META_DIMENSIONS:
			HNSW_CORRUPT(index, "has a metapage with invalid dimensions",
						 "The metapage has %u dimensions, which do not fit on a page with m = %u.",
						 meta->dimensions, (unsigned) meta->m);
			break;
		case HNSW_CHECK_META_ENTRY:
			HNSW_CORRUPT(index, "has a metapage with an invalid entry point",
						 "The entry point is (%u,%u) at level %d.",
						 ItemPointerGetBlockNumberNoCheck(&meta->entryPoint),
						 ItemPointerGetOffsetNumberNoCheck(&meta->entryPoint),
						 (int) meta->entryLevel);
			break;
		case HNSW_CHECK_META_INSERT_PAGE:
			HNSW_CORRUPT(index, "has a metapage with an invalid insert page",
						 "The insert page is block %u.", meta->insertPage);
			break;
		default:
			HnswReportCorrupt(index, r, HNSW_METAPAGE_BLKNO,
							  InvalidOffsetNumber, page, NULL);
	}
	elog(ERROR, "unexpected metapage check result %d of index \"%s\"",
		 (int) r, name);
}

/*
 * Copy the metapage into *meta, checked (HnswCheckMetaPage; a bad field
 * raises ERRCODE_INDEX_CORRUPTED).  Takes and releases a share lock on it.
 */
void
HnswReadMeta(Relation index, HnswMetaPageData *meta)
{
	Buffer		buf = HnswReadBuffer(index, HNSW_METAPAGE_BLKNO);
	HnswCheckResult r;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	r = HnswCheckMetaPage(BufferGetPage(buf), meta);
	if (r != HNSW_CHECK_OK)
		ReportCorruptMeta(index, r, BufferGetPage(buf), meta);
	UnlockReleaseBuffer(buf);
}

/*
 * Check the metapage of a buffer the caller has locked before changing it
 * (HnswUpdateMetaEntry and friends, vacuum), as HnswReadMeta does.
 */
void
HnswCheckMetaBuffer(Relation index, Buffer buf)
{
	HnswMetaPageData meta;
	HnswCheckResult r = HnswCheckMetaPage(BufferGetPage(buf), &meta);

	if (r != HNSW_CHECK_OK)
		ReportCorruptMeta(index, r, BufferGetPage(buf), &meta);
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
 * The slow path of HnswGetElement, for a tuple HnswElementIsWhole did not
 * accept: check it in full (HnswCheckElementAt) and return it, or NULL if
 * there is no element at off (an unused line pointer left by vacuum, an
 * offset past the line pointers, or another kind of tuple, a chunk of a
 * vector out of line or a tail, where a freed element was: a stale link,
 * not corruption); anything else raises ERRCODE_INDEX_CORRUPTED
 * (HnswReportCorrupt).
 */
HnswElementTuple
HnswGetElementChecked(Relation index, const HnswLayout *layout, Buffer buf,
					  OffsetNumber off)
{
	Page		page = BufferGetPage(buf);
	HnswElementTuple tup = NULL;
	Size		len;
	HnswCheckResult r = HnswCheckElementAt(layout, page, off, &tup, &len);

	if (r == HNSW_CHECK_OK)
		return tup;
	if (r != HNSW_CHECK_ABSENT)
		HnswReportCorrupt(index, r, BufferGetBlockNumber(buf), off, page,
						  layout);
	return NULL;
}

/*
 * Return the element tuple at off of a page image whose tuple the caller
 * has checked with HnswGetElement under the lock it still holds (the copy
 * a page edit changes), or NULL if the line pointer holds no tuple of an
 * element type.  Only the line pointer is checked here.
 */
HnswElementTuple
HnswGetElementTuple(Page page, OffsetNumber off)
{
	char	   *item;
	Size		len;

	if (HnswCheckItem(page, off, &item, &len) != HNSW_CHECK_OK ||
		len < HNSW_ELEMENT_HEADER_SIZE(0) ||
		(item[0] != HNSW_ELEMENT_TUPLE && item[0] != HNSW_HEAD_TUPLE))
		return NULL;
	return (HnswElementTuple) item;
}

/*
 * Check the page header and special space of a locked page that a reader
 * goes through whole (vacuum, the free space map's pages for an insert);
 * raise ERRCODE_INDEX_CORRUPTED if they are not an hnsw page's.  A new
 * page passes.
 */
void
HnswCheckPage(Relation index, Buffer buf)
{
	Page		page = BufferGetPage(buf);
	HnswCheckResult r = HnswCheckPageSpecial(page);

	if (r != HNSW_CHECK_OK && r != HNSW_CHECK_ABSENT)
		HnswReportCorrupt(index, r, BufferGetBlockNumber(buf),
						  InvalidOffsetNumber, page, NULL);
}

/* Is blkno a block of index?  *nblocks as in HnswCheckLink */
static bool
BlockInIndex(Relation index, BlockNumber *nblocks, BlockNumber blkno)
{
	if (likely(blkno < *nblocks))
		return true;
	*nblocks = RelationGetNumberOfBlocks(index);
	return blkno < *nblocks;
}

/*
 * Raise ERRCODE_INDEX_CORRUPTED unless tid, a link read from a page, can
 * name an element of index: a block after the metapage and inside the
 * index, an offset a page can have.  *nblocks caches the number of blocks
 * (0: not counted yet); since the index grows, they are counted again only
 * when tid seems to lie past them, so a link costs a compare or two.
 */
void
HnswCheckLink(Relation index, BlockNumber *nblocks, ItemPointer tid)
{
	if (likely(HnswLinkInRange(tid, *nblocks)))
		return;
	(void) BlockInIndex(index, nblocks, ItemPointerGetBlockNumberNoCheck(tid));
	if (HnswLinkInRange(tid, *nblocks))
		return;
	HNSW_CORRUPT(index, "has a neighbour link outside the index",
				 "A link points to (%u,%u); the index has %u blocks.",
				 ItemPointerGetBlockNumberNoCheck(tid),
				 ItemPointerGetOffsetNumberNoCheck(tid), *nblocks);
}

/*
 * Raise ERRCODE_INDEX_CORRUPTED unless the entry point of meta, a metapage
 * HnswReadMeta checked, lies inside the index (*nblocks as in
 * HnswCheckLink).
 */
void
HnswCheckEntryPoint(Relation index, BlockNumber *nblocks,
					HnswMetaPageData *meta)
{
	if (likely(HnswLinkInRange(&meta->entryPoint, *nblocks)) ||
		BlockInIndex(index, nblocks,
					 ItemPointerGetBlockNumber(&meta->entryPoint)))
		return;
	HNSW_CORRUPT(index, "has a metapage with an invalid entry point",
				 "The entry point (%u,%u) is not on an element page of the %u blocks of the index.",
				 ItemPointerGetBlockNumber(&meta->entryPoint),
				 ItemPointerGetOffsetNumber(&meta->entryPoint), *nblocks);
}

/*
 * Raise ERRCODE_INDEX_CORRUPTED unless every link in the slots of tup, the
 * element tuple at (blkno, off) checked by HnswGetElement, can name an
 * element (HnswCheckLink; *nblocks as there).  For readers that go through
 * the slots of every element (vacuum, verify_index); a search checks the
 * links it follows as it looks them up (HnswLookupElement).
 */
void
HnswCheckSlots(Relation index, BlockNumber *nblocks, const HnswLayout *layout,
			   HnswElementTuple tup, BlockNumber blkno, OffsetNumber off)
{
	char	   *slots = HnswTupleGetSlots(tup);

	for (int lc = 0; lc <= tup->level; lc++)
	{
		int			start = HNSW_LEVEL_START(lc, layout->m);
		int			cap = HNSW_LEVEL_CAPACITY(lc, layout->m);

		for (int i = start; i < start + cap; i++)
		{
			ItemPointer t = HnswSlotTid(slots, i);

			if (!ItemPointerIsValid(t) || HnswLinkInRange(t, *nblocks))
				continue;
			(void) BlockInIndex(index, nblocks, ItemPointerGetBlockNumber(t));
			if (HnswLinkInRange(t, *nblocks))
				continue;
			HNSW_CORRUPT(index, "has a neighbour link outside the index",
						 "Block %u, offset %u, level %d, slot %d: (%u,%u); the index has %u blocks.",
						 blkno, off, lc, i, ItemPointerGetBlockNumber(t),
						 ItemPointerGetOffsetNumber(t), *nblocks);
		}
	}
}

/*
 * Raise ERRCODE_INDEX_CORRUPTED unless heaptid, read from the element at
 * element, can be a tuple of the table heap: an offset a heap page can
 * have, a block inside the table.  A scan checks each heap TID before the
 * executor, or re-ranking, reads it (past the end, the read would fail);
 * nothing else in the index dereferences heap TIDs.  *heapBlocks caches
 * the table's size as HnswCheckLink's does the index's.
 */
void
HnswCheckHeapTid(Relation index, Relation heap, BlockNumber *heapBlocks,
				 ItemPointer heaptid, ItemPointer element)
{
	BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(heaptid);
	OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(heaptid);

	if (likely(blkno < *heapBlocks && off >= FirstOffsetNumber &&
			   off <= MaxHeapTuplesPerPage))
		return;
	if (blkno >= *heapBlocks)
		*heapBlocks = RelationGetNumberOfBlocks(heap);
	if (blkno < *heapBlocks && off >= FirstOffsetNumber &&
		off <= MaxHeapTuplesPerPage)
		return;
	HNSW_CORRUPT(index, "has a heap TID outside its table",
				 "Block %u, offset %u: heap TID (%u,%u); the table has %u blocks of at most %d tuples.",
				 ItemPointerGetBlockNumber(element),
				 ItemPointerGetOffsetNumber(element), blkno, off,
				 *heapBlocks, (int) MaxHeapTuplesPerPage);
}

/*
 * Copy the vector of tup, an element tuple on a page the caller has
 * locked and checked (HnswGetElement), into dst, which has room for room
 * bytes: the whole vector.  Return true if that is all of it; false for a
 * head tuple, whose bytes on this page are copied (dst's VARSIZE says how
 * many): the caller lets go of the page and calls HnswReadTail for the
 * rest.
 */
bool
HnswCopyTupleVector(HnswElementTuple tup, HnswCode *dst, Size room)
{
	HnswCode	   *vec = HnswTupleVector(tup);

	/* the check makes it at most the code and link of the layout */
	if (VARSIZE(vec) > room)
		elog(ERROR, "hnsw element vector of %u bytes does not fit in %zu",
			 (unsigned) VARSIZE(vec), room);
	memcpy(dst, vec, VARSIZE(vec));
	return tup->type != HNSW_HEAD_TUPLE;
}

/*
 * Return the tail tuple of the head tuple at head, the first tuple of buf
 * (the next block, locked), or NULL if that is not there; *len (if not
 * NULL) receives its length.  A malformed page or line pointer raises
 * ERRCODE_INDEX_CORRUPTED.
 */
HnswTailTuple
HnswGetTail(Relation index, Buffer buf, ItemPointer head, Size *len)
{
	Page		page = BufferGetPage(buf);
	char	   *item;
	Size		itemLen;
	HnswCheckResult r = HnswCheckItem(page, FirstOffsetNumber, &item,
									  &itemLen);

	if (r == HNSW_CHECK_ABSENT)
		return NULL;
	if (r != HNSW_CHECK_OK)
		HnswReportCorrupt(index, r, BufferGetBlockNumber(buf),
						  FirstOffsetNumber, page, NULL);
	if (itemLen < HNSW_TAIL_HEADER_SIZE || item[0] != HNSW_TAIL_TUPLE ||
		!ItemPointerEquals(&((HnswTailTuple) item)->head, head))
		return NULL;
	if (len != NULL)
		*len = itemLen;
	return (HnswTailTuple) item;
}

/*
 * Complete vec, the part of a vector HnswCopyTupleVector copied from the
 * head tuple at head, with the bytes of its tail tuple, the first tuple of
 * the next block.  Return false if that tuple is not the tail of this head
 * with the bytes missing: the element was freed, and the space reused,
 * after the head was read (src/README "Locking").  A head on the index's
 * last block, or a line pointer of the tail's page out of its place, is
 * corruption.
 *
 * Takes and releases a share lock on the tail's page; holds no lock on
 * entry or exit.
 */
bool
HnswReadTail(HnswGraph *graph, ItemPointer head, HnswCode *vec)
{
	Relation	index = graph->index;
	Size		have = VARSIZE(vec);
	Size		total = HNSW_CODE_SIZE(vec->dim, vec->kind);
	BlockNumber blkno = ItemPointerGetBlockNumber(head) + 1;
	Buffer		buf;
	HnswTailTuple tail;
	Size		len;
	bool		found = false;

	if (have >= total)
		return false;
	if (!BlockInIndex(index, &graph->nblocks, blkno))
		HNSW_CORRUPT(index, "has an element cut over two pages without its tail",
					 "Block %u, offset %u: a head tuple on the last block of the index.",
					 ItemPointerGetBlockNumber(head),
					 ItemPointerGetOffsetNumber(head));
	buf = HnswReadBuffer(index, blkno);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	tail = HnswGetTail(index, buf, head, &len);
	if (tail != NULL && len == HNSW_TAIL_HEADER_SIZE + total - have)
	{
		memcpy((char *) vec + have, tail->data, total - have);
		SET_VARSIZE(vec, total);
		found = true;
	}
	UnlockReleaseBuffer(buf);

	/*
	 * No tail: the head was freed (with its tail, in one WAL record) after
	 * it was read, unless it is still there.  Only CREATE INDEX writes
	 * heads, so one at head now is the one read.
	 */
	if (!found)
	{
		const HnswLayout *layout = HnswGraphLayout(graph);
		HnswElementTuple tup;
		bool		stillCut;

		buf = HnswReadBuffer(index, ItemPointerGetBlockNumber(head));
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		tup = HnswGetElement(index, layout, buf,
							 ItemPointerGetOffsetNumber(head));
		stillCut = tup != NULL && tup->type == HNSW_HEAD_TUPLE;
		UnlockReleaseBuffer(buf);
		if (stillCut)
			HNSW_CORRUPT(index, "has an element cut over two pages without its tail",
						 "Block %u, offset %u: no tail tuple at the first offset of the next block.",
						 ItemPointerGetBlockNumber(head),
						 ItemPointerGetOffsetNumber(head));
	}
	return found;
}

/*
 * Return the size of the tuple of an element of the given level with room
 * for ntids heap TIDs (even, at most HNSW_HEAPTIDS) whose code (with the
 * link to an out-of-line vector, if it has one) is code: its header, the
 * code and its slots.
 */
Size
HnswElementTupleSize(HnswGraph *graph, const HnswCode *code, int level,
					 int ntids)
{
	Assert(ntids > 0 && ntids <= HNSW_HEAPTIDS && ntids % 2 == 0);
	return HNSW_ELEMENT_HEADER_SIZE(ntids) + VARSIZE(code) +
		HNSW_SLOTS(level, graph->m) * sizeof(HnswNeighborSlot) +
		HNSW_KEYED_SIZE(graph->keySize, graph->m);
}

/*
 * Return the size of the smallest whole element tuple of the graph (level
 * 0, two heap TIDs) if its elements can be cut over two pages, 0 if not:
 * only elements larger than a quarter of a page are cut (a smaller one
 * wastes less than that at a page's end), and only vectors kept inline
 * that are not i8 codes (whose re-ranking bound reads the code in place),
 * nor sparse vectors (of sizes of their own).
 * See src/README "Page layout".
 */
Size
HnswMinCutSize(HnswGraph *graph)
{
	Size		size;

	if (graph->dim == 0 || HnswGraphOutOfLine(graph) ||
		HnswQuantIsInt8(graph->codeKind) || graph->codeKind == HNSW_CODE_SPARSE)
		return 0;
	size = HNSW_ELEMENT_TUPLE_SIZE_TIDS(graph->dim, graph->codeKind, 0,
										graph->m, 2) +
		HNSW_KEYED_SIZE(graph->keySize, graph->m);
	return size > HNSW_MAX_TUPLE_SIZE / 4 ? size : 0;
}

/*
 * Write the tuple of an element into tup (HnswElementTupleSize bytes), with
 * room for ntids heap TIDs (even, at most HNSW_HEAPTIDS); its neighbours must have tuple locations already, and an out-of-line
 * vector must have been written.  Return the size.
 */
Size
HnswFormElementTuple(HnswGraph *graph, HnswElement element,
					 HnswElementTuple tup, int ntids)
{
	Size		size = HnswElementTupleSize(graph, element->vec, element->level,
											ntids);
	char	   *slots;

	Assert(element->nheaptids <= ntids);
	memset(tup, 0, size);
	tup->type = HNSW_ELEMENT_TUPLE;
	tup->level = element->level;
	tup->deleted = element->deleted ? 1 : 0;
	tup->ntids = ntids;
	for (int i = 0; i < ntids; i++)
	{
		if (i < element->nheaptids)
			tup->heaptids[i] = element->heaptids[i];
		else
			ItemPointerSetInvalid(&tup->heaptids[i]);
	}
	if (graph->keySize > 0)
	{
		tup->ntids |= HNSW_TUPLE_KEYED | HNSW_TUPLE_HINTED;
		if (element->key.isnull)
			tup->ntids |= HNSW_TUPLE_KEY_NULL;
		else
			memcpy((char *) tup + HNSW_ELEMENT_HEADER_SIZE(ntids),
				   &element->key.value, HNSW_KEY_SIZE);
	}
	Assert(!HnswVectorHasLink(element->vec) ||
		   ItemPointerIsValid(HnswVectorGetLink(element->vec)));
	memcpy(HnswTupleVector(tup), element->vec, VARSIZE(element->vec));

	slots = HnswTupleGetSlots(tup);
	for (int i = 0; i < HNSW_SLOTS(element->level, graph->m); i++)
		ItemPointerSetInvalid(HnswSlotTid(slots, i));
	for (int lc = 0; lc <= element->level; lc++)
	{
		HnswNeighborList *list = element->neighbors[lc];
		int			start = HNSW_LEVEL_START(lc, graph->m);

		for (int i = 0; i < list->length; i++)
			HnswSetLink(tup, graph->m, start + i,
						&list->items[i].element->tid,
						list->items[i].distance,
						HnswElementKnownKey(list->items[i].element));
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
 * page, else a new page (*newPage is set, and *seen to the insert page it
 * replaces: the caller passes both to NewInsertPage once its tuple is on
 * it).
 *
 * Holds one buffer lock at a time, and the relation extension lock only
 * while extending; see src/README "Locking".
 */
static Buffer
GetPageWithRoom(HnswGraph *graph, Size size, bool *newPage, BlockNumber *seen)
{
	Relation	index = graph->index;
	BlockNumber blkno;
	Buffer		buf;
	HnswMetaPageData meta;

	*newPage = false;
	*seen = InvalidBlockNumber;

	/* pages vacuum freed space on */
	blkno = GetPageWithFreeSpace(index, MAXALIGN(size) + sizeof(ItemIdData));
	while (blkno != InvalidBlockNumber && blkno != HNSW_METAPAGE_BLKNO)
	{
		Page		page;

		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		/* PageAddItem would PANIC on corrupted page pointers */
		HnswCheckPage(index, buf);
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
	*seen = meta.insertPage;
	if (meta.insertPage != InvalidBlockNumber)
	{
		if (!BlockInIndex(index, &graph->nblocks, meta.insertPage))
			HNSW_CORRUPT(index, "has a metapage with an invalid insert page",
						 "The insert page is block %u of %u.",
						 meta.insertPage, graph->nblocks);
		buf = ReadBuffer(index, meta.insertPage);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		HnswCheckPage(index, buf);
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
 * The new page blkno, with freeSpace bytes left after the tuple its maker
 * put on it, becomes the insert page if the insert page is still seen, the
 * one its maker found full.  Otherwise another backend or build participant
 * extended the index meanwhile and its page is the insert page now: blkno
 * goes to the free space map instead, so that later tuples fill it (two
 * participants of a parallel build extending at once left up to a tenth of
 * an index's pages mostly empty).
 */
static void
NewInsertPage(HnswGraph *graph, BlockNumber blkno, BlockNumber seen,
			  Size freeSpace)
{
	if (!HnswUpdateMetaInsertPage(graph->index, graph->building, blkno, &seen))
	{
		RecordPageWithFreeSpace(graph->index, blkno, freeSpace);
		FreeSpaceMapVacuumRange(graph->index, blkno, blkno + 1);
	}
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
	BlockNumber seen;
	Buffer		buf = GetPageWithRoom(graph, size, &newPage, &seen);
	BlockNumber blkno = BufferGetBlockNumber(buf);
	OffsetNumber off;
	Size		freeSpace;

	off = AddToPage(graph, buf, (Item) tup, size, newPage);
	ItemPointerSet(tid, blkno, off);
	freeSpace = PageGetFreeSpace(BufferGetPage(buf));
	UnlockReleaseBuffer(buf);
	if (newPage)
		NewInsertPage(graph, blkno, seen, freeSpace);
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
HnswWriteExactVector(HnswGraph *graph, const HnswCode *vec, HnswCode *code)
{
	HnswCode	   *exact = HnswEncodeExactVector(graph, vec, CurrentMemoryContext);
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
		BlockNumber seen;
		Buffer		buf = GetPageWithRoom(graph, want, &newPage, &seen);
		BlockNumber blkno = BufferGetBlockNumber(buf);
		Size		room = PageRoom(BufferGetPage(buf));
		Size		n;
		Size		freeSpace;
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
		freeSpace = PageGetFreeSpace(BufferGetPage(buf));
		UnlockReleaseBuffer(buf);
		if (newPage)
			NewInsertPage(graph, blkno, seen, freeSpace);
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
 * none; *len receives the number of its bytes.  A malformed page or line
 * pointer raises ERRCODE_INDEX_CORRUPTED (HnswCheckItem).
 */
static HnswVectorTuple
GetVectorTuple(Relation index, Buffer buf, OffsetNumber off, Size *len)
{
	Page		page = BufferGetPage(buf);
	char	   *item;
	Size		itemLen;
	HnswCheckResult r = HnswCheckItem(page, off, &item, &itemLen);

	if (r == HNSW_CHECK_ABSENT)
		return NULL;
	if (r != HNSW_CHECK_OK)
		HnswReportCorrupt(index, r, BufferGetBlockNumber(buf), off, page,
						  NULL);
	if (itemLen <= HNSW_VECTOR_HEADER_SIZE || item[0] != HNSW_VECTOR_TUPLE)
		return NULL;
	*len = itemLen - HNSW_VECTOR_HEADER_SIZE;
	return (HnswVectorTuple) item;
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
HnswCode *
HnswReadExactVector(Relation index, ItemPointer link, int dim, int *nchunks)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	ItemPointerData tid = *link;
	char	   *data = NULL;
	Size		total = 0;
	Size		end = 0;		/* bytes from offset "end" on are read */
	int			n = 0;
	HnswCode	   *vec;

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
		chunk = GetVectorTuple(index, buf, ItemPointerGetOffsetNumber(&tid),
							   &len);
		if (chunk != NULL && data == NULL)
		{
			/* the last chunk: the vector ends where it does */
			total = (Size) chunk->offset + len;
			end = total;
			if (total >= VECTOR_SIZE(1) && total <= HNSW_MAX_CODE_SIZE)
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
	vec = (HnswCode *) data;
	if (VARSIZE(vec) != total || vec->kind > HNSW_CODE_MAX ||
		(vec->kind == HNSW_CODE_SPARSE ?
		 total < HNSW_SPARSE_CODE_SIZE(0) || HnswSparseNnz(vec) < 0 ||
		 HnswSparseNnz(vec) > (total - HNSW_SPARSE_CODE_SIZE(0)) /
		 (sizeof(int32) + sizeof(float)) : false) ||
		HnswCodeDim(vec) != dim || HnswCodeBytes(vec) != total)
	{
		pfree(data);
		return NULL;
	}
	return vec;
}

/*
 * Read the link to the out-of-line vector of element from its tuple into
 * *link; leave it invalid if the element is gone.  Takes and releases a
 * share lock on the element's page.
 */
static void
ReadVectorLink(HnswGraph *graph, HnswElement element, ItemPointer link)
{
	const HnswLayout *layout = HnswGraphLayout(graph);
	Buffer		buf;
	HnswElementTuple tup;

	ItemPointerSetInvalid(link);
	buf = HnswReadBuffer(graph->index, ItemPointerGetBlockNumber(&element->tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	tup = HnswGetElement(graph->index, layout, buf,
						 ItemPointerGetOffsetNumber(&element->tid));
	/* the check found the code followed by a link, or not */
	if (tup != NULL && tup->type == HNSW_ELEMENT_TUPLE &&
		HnswVectorHasLink(HnswTupleVector(tup)))
		*link = *HnswVectorGetLink(HnswTupleVector(tup));
	UnlockReleaseBuffer(buf);
}

/*
 * Return the out-of-line vector of an element of the graph, palloc'd, after
 * reading the link from its tuple; NULL if the element is gone, or its
 * vector (freed with the element after the link was read).  A chain that
 * is not a whole vector although the element links to it before and after
 * it is read, twice, is corruption (vacuum frees an element before its
 * chunks, and an insert writes the chunks before the element).  Takes and
 * releases share locks, one page at a time.
 */
HnswCode *
HnswFetchExactVector(HnswGraph *graph, HnswElement element)
{
	ItemPointerData link;
	ItemPointerData again;
	HnswCode	   *vec = NULL;

	ReadVectorLink(graph, element, &link);
	for (int attempt = 0; attempt < 2 && ItemPointerIsValid(&link); attempt++)
	{
		vec = HnswReadExactVector(graph->index, &link, graph->dim, NULL);
		if (vec != NULL)
			return vec;
		ReadVectorLink(graph, element, &again);
		if (!ItemPointerIsValid(&again) || !ItemPointerEquals(&link, &again))
			return NULL;
	}
	if (ItemPointerIsValid(&link))
		HNSW_CORRUPT(graph->index, "has an element whose vector out of line is not whole",
					 "Element (%u,%u) links to a chain of chunks from (%u,%u) that is not a vector of %d dimensions.",
					 ItemPointerGetBlockNumber(&element->tid),
					 ItemPointerGetOffsetNumber(&element->tid),
					 ItemPointerGetBlockNumberNoCheck(&link),
					 ItemPointerGetOffsetNumberNoCheck(&link), graph->dim);
	return NULL;
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
		chunk = GetVectorTuple(index, buf, off, &len);
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
 * vectors (HnswCodeKindFor).  Return whether the entry point was
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
	HnswCheckMetaBuffer(index, buf);
	meta = HnswPageGetMeta(BufferGetPage(buf));
	if (!onlyIfHigher || level > meta->entryLevel ||
		(meta->dimensions == 0 && dim > 0))
	{
		meta = HnswPageGetMeta(HnswEditStart(&edit, index, buf, building, false));
		if (meta->dimensions == 0 && dim > 0)
		{
			/* the first vector decides, as in HnswCheckVector */
			meta->dimensions = dim;
			meta->codeKind =
				HnswCodeKindFor(dim, meta->m, (HnswCodeKind) meta->exactKind,
								HnswGetGraphQuantization(index));
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
 * Make blkno the insert page: if seen is NULL, unless a later page already
 * is; otherwise only if the insert page is still *seen.  Return whether it
 * is now.  Takes and releases an exclusive lock on the metapage.
 */
bool
HnswUpdateMetaInsertPage(Relation index, bool building, BlockNumber blkno,
						 const BlockNumber *seen)
{
	Buffer		buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	HnswMetaPage meta;
	bool		set;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	HnswCheckMetaBuffer(index, buf);
	meta = HnswPageGetMeta(BufferGetPage(buf));
	if (seen != NULL)
		set = meta->insertPage == *seen;
	else
		set = meta->insertPage == InvalidBlockNumber || meta->insertPage < blkno;
	if (set)
	{
		HnswPageEdit edit;

		meta = HnswPageGetMeta(HnswEditStart(&edit, index, buf, building, false));
		meta->insertPage = blkno;
		HnswEditFinish(&edit);
	}
	UnlockReleaseBuffer(buf);
	return set;
}
