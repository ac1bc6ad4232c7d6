/*-------------------------------------------------------------------------
 *
 * hnswcheck.c
 *	  Checks of the fields of an hnsw index page before they are used: the
 *	  page header and special space, line pointers, element tuples and the
 *	  metapage.
 *
 * Every reader of an element tuple goes through HnswCheckElementAt (by way
 * of HnswGetElement in hnswpage.c), so a damaged page ends in an error
 * instead of a read outside the page or the tuple, an overrun of a
 * fixed-size array, or a loop bounded by garbage.  What is checked here is
 * what makes every later read of the tuple safe: after HNSW_CHECK_OK, the
 * header, the heap TIDs, the vector (or code, and its link) and every
 * neighbour slot lie inside the tuple, and the tuple inside the page's
 * tuple space.  Links (block numbers) need the index's size and are checked
 * where they are followed (HnswCheckLink); structural checks that need the
 * whole index (tails, chunk chains, reachability) are verify_index's.
 *
 * A search checks every element it loads, so this is on the hot path: a
 * few compares on the page header (the cache line the line pointer is read
 * from anyway) and on the tuple header, no loop over the vector or the
 * slots.  See src/README "Reading pages".
 *
 * Nothing here allocates, raises an error or calls the backend: the fuzzer
 * in test/fuzz links this file alone.
 *
 * src/hnswcheck.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "hnswcheck.h"

/*
 * Check the header of a page that is not new: its pointers in order, as
 * PostgreSQL requires of every page it reads in (PageIsVerifiedExtended),
 * and room for hnsw's special space exactly.
 */
HnswCheckResult
HnswCheckPageHeader(Page page)
{
	PageHeader	ph = (PageHeader) page;

	if (PageIsNew(page))
		return HNSW_CHECK_ABSENT;
	if (ph->pd_lower < SizeOfPageHeaderData || ph->pd_lower > ph->pd_upper ||
		ph->pd_upper > ph->pd_special || ph->pd_special > BLCKSZ)
		return HNSW_CHECK_PAGE_HEADER;
	if (ph->pd_special != BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData)))
		return HNSW_CHECK_PAGE_SPECIAL;
	return HNSW_CHECK_OK;
}

/*
 * Check the header and the page id of a page that is not new.  Readers of
 * whole pages use it (vacuum, index_info); a search, which reads one tuple
 * of a page, does not read the page id, a cache line of its own.
 */
HnswCheckResult
HnswCheckPageSpecial(Page page)
{
	HnswCheckResult r = HnswCheckPageHeader(page);

	if (r != HNSW_CHECK_OK)
		return r;
	if (HnswPageGetOpaque(page)->page_id != HNSW_PAGE_ID)
		return HNSW_CHECK_PAGE_SPECIAL;
	return HNSW_CHECK_OK;
}

/*
 * Find the tuple at off: HNSW_CHECK_OK with *item and *len (at least 1) if
 * there is one, inside the tuple space of the page (between pd_upper and
 * the special space, MAXALIGNed as PageAddItem places it);
 * HNSW_CHECK_ABSENT if the page is new, off lies past its line pointers or
 * the line pointer is unused (vacuum freed the tuple: links to it are
 * stale, not corrupt).
 */
HnswCheckResult
HnswCheckItem(Page page, OffsetNumber off, char **item, Size *len)
{
	PageHeader	ph = (PageHeader) page;
	HnswCheckResult r;
	ItemId		itemid;
	unsigned	lpoff;
	unsigned	lplen;

	r = HnswCheckPageHeader(page);
	if (r != HNSW_CHECK_OK)
		return r;
	if (off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page))
		return HNSW_CHECK_ABSENT;
	itemid = PageGetItemId(page, off);
	if (!ItemIdIsUsed(itemid))
		return HNSW_CHECK_ABSENT;
	if (!ItemIdIsNormal(itemid))
		return HNSW_CHECK_ITEM_FLAGS;
	lpoff = ItemIdGetOffset(itemid);
	lplen = ItemIdGetLength(itemid);
	if (lplen == 0 || lpoff < ph->pd_upper || lpoff + lplen > ph->pd_special ||
		lpoff % MAXIMUM_ALIGNOF != 0)
		return HNSW_CHECK_ITEM_RANGE;
	*item = (char *) page + lpoff;
	*len = lplen;
	return HNSW_CHECK_OK;
}

/*
 * Check an element tuple (or head tuple) of len bytes against the layout of
 * its index; HNSW_CHECK_OK means every field the readers use is in range:
 *
 * - level at most HNSW_MAX_LEVEL, deleted flag 0 or 1, a heap TID capacity
 *   that is even and below HNSW_HEAPTIDS (0 stands for HNSW_HEAPTIDS), so
 *   that arrays of HNSW_HEAPTIDS hold the heap TIDs;
 * - heap TID offsets a heap page can have (the block is checked against
 *   the table when a scan returns it, HnswCheckHeapTid);
 * - a vector with the index's encoding and dimensions, a 4-byte varlena
 *   header and the size the encoding gives (plus the link to a vector out
 *   of line); for a head tuple, a whole number of floats' worth of bytes,
 *   more than its header and fewer than the vector, in an index that can
 *   have heads; an i8 code's scale, offset and error bound finite, the
 *   scale and error not negative (re-ranking trusts them);
 * - a length that is exactly the header, the vector and the slots of its
 *   level, so the slots end where the tuple does.
 *
 * A layout dimension of 0 (the metapage had none yet) takes the tuple's
 * dimensions and encoding.
 * The values of an f32 vector are not checked (NaN or infinity only spoil
 * distances; verify_index finds them): that would read the whole vector.
 */
HnswCheckResult
HnswCheckElementTuple(const HnswLayout *layout, const char *item, Size len)
{
	const HnswElementTupleData *tup = (const HnswElementTupleData *) item;
	const Vector *vec;
	Size		header;
	Size		vecSize;
	Size		codeSize;
	int			cap;
	int			quant;
	bool		outOfLine;

	if (len < HNSW_ELEMENT_HEADER_SIZE(0) ||
		(tup->type != HNSW_ELEMENT_TUPLE && tup->type != HNSW_HEAD_TUPLE))
		return HNSW_CHECK_NOT_ELEMENT;
	if (tup->level > HNSW_MAX_LEVEL)
		return HNSW_CHECK_LEVEL;
	if (tup->deleted > 1)
		return HNSW_CHECK_DELETED;
	if (tup->ntids % 2 != 0 || tup->ntids >= HNSW_HEAPTIDS)
		return HNSW_CHECK_TID_CAPACITY;
	cap = HnswTupleTidCapacity(tup);
	header = HNSW_ELEMENT_HEADER_SIZE(cap);
	if (len < header + VECTOR_SIZE(0))
		return HNSW_CHECK_TUPLE_SIZE;
	for (int i = 0; i < cap; i++)
		if (ItemPointerGetOffsetNumberNoCheck(&tup->heaptids[i]) >
			MaxHeapTuplesPerPage)
			return HNSW_CHECK_HEAP_TID;

	vec = (const Vector *) (item + header);
	vecSize = VARSIZE(vec);
	if (layout->dim > 0)
	{
		if (vec->unused != layout->quantization)
			return HNSW_CHECK_ENCODING;
		quant = layout->quantization;
		outOfLine = layout->outOfLine;
		if (!VARATT_IS_4B_U(vec) || vec->dim != layout->dim)
			return HNSW_CHECK_VECTOR_LENGTH;
	}
	else
	{
		/*
		 * The first vector had not fixed the dimensions and encoding when
		 * the layout was read from the metapage (a vacuum that started
		 * with the index empty): the tuple's own, with or without a link.
		 */
		if (vec->unused < 0 || vec->unused > HNSW_QUANT_MAX)
			return HNSW_CHECK_ENCODING;
		quant = vec->unused;
		if (!VARATT_IS_4B_U(vec) || vec->dim <= 0 || vec->dim > VECTOR_MAX_DIM)
			return HNSW_CHECK_VECTOR_LENGTH;
		outOfLine = vecSize == HNSW_CODE_SIZE(vec->dim, quant) +
			HNSW_VECTOR_LINK_SIZE;
	}
	codeSize = HNSW_CODE_SIZE(vec->dim, quant) +
		(outOfLine ? HNSW_VECTOR_LINK_SIZE : 0);
	if (tup->type == HNSW_HEAD_TUPLE)
	{
		/*
		 * Cut only inline vectors that are not i8 codes (HnswMinCutSize),
		 * by CREATE INDEX, which fixes the dimensions first.
		 */
		if (outOfLine || HnswQuantIsInt8(quant) || layout->dim == 0)
			return HNSW_CHECK_CUT;
		if (vecSize <= VECTOR_SIZE(0) || vecSize >= codeSize ||
			vecSize % sizeof(float) != 0)
			return HNSW_CHECK_VECTOR_LENGTH;
	}
	else if (vecSize != codeSize)
		return HNSW_CHECK_VECTOR_LENGTH;
	if (len != header + vecSize +
		(Size) HNSW_SLOTS(tup->level, layout->m) * layout->slotSize)
		return HNSW_CHECK_TUPLE_SIZE;

	/* the whole code is there: heads are never i8 */
	for (int i = 0; i < HNSW_CODE_HEADER_FLOATS(vec->unused); i++)
		if (!isfinite(vec->x[i]) || (i != 1 && vec->x[i] < 0.0f))
			return HNSW_CHECK_CODE_HEADER;
	return HNSW_CHECK_OK;
}

/*
 * Find and check the element tuple at off on a page: HNSW_CHECK_OK with
 * *tup and *len, or HNSW_CHECK_ABSENT if there is no element there (no
 * tuple, or a chunk of a vector out of line or a tail tuple: the line
 * pointer of a freed element may be reused by either), or what is wrong.
 */
HnswCheckResult
HnswCheckElementAt(const HnswLayout *layout, Page page, OffsetNumber off,
				   HnswElementTuple *tup, Size *len)
{
	char	   *item;
	HnswCheckResult r = HnswCheckItem(page, off, &item, len);

	if (r != HNSW_CHECK_OK)
		return r;
	if (item[0] == HNSW_VECTOR_TUPLE || item[0] == HNSW_TAIL_TUPLE)
		return HNSW_CHECK_ABSENT;
	r = HnswCheckElementTuple(layout, item, *len);
	if (r == HNSW_CHECK_OK)
		*tup = (HnswElementTuple) item;
	return r;
}

/*
 * Copy the metapage of page into *meta, as readers see it (a version 1
 * metapage has f32 vectors, versions before 3 every vector inline), and
 * check it: the page, magic number, version, m and ef_construction in the
 * ranges of the options, known encodings, dimensions whose element of
 * level 0 fits a page, an entry point and its level that agree (the level
 * at most HNSW_MAX_LEVEL, the point off the metapage), an insert page off
 * it.  Whether the entry point and insert page lie inside the index is
 * checked by their readers, which know its size.
 */
HnswCheckResult
HnswCheckMetaPage(Page page, HnswMetaPageData *meta)
{
	HnswCheckResult r;
	bool		outOfLine;

	if (PageIsNew(page))
		return HNSW_CHECK_META_NEW;
	r = HnswCheckPageSpecial(page);
	if (r != HNSW_CHECK_OK)
		return r;
	memcpy(meta, HnswPageGetMeta(page), sizeof(HnswMetaPageData));
	if (meta->magic != HNSW_MAGIC_NUMBER)
		return HNSW_CHECK_META_MAGIC;
	if (meta->version < HNSW_MIN_VERSION || meta->version > HNSW_VERSION)
		return HNSW_CHECK_META_VERSION;
	if (meta->version < 2)
		meta->quantization = HNSW_QUANT_F32;
	if (meta->version < 3)
		meta->exactQuantization = meta->quantization;
	if (meta->m < HNSW_MIN_M || meta->m > HNSW_MAX_M)
		return HNSW_CHECK_META_M;
	if (meta->efConstruction < HNSW_MIN_EF_CONSTRUCTION ||
		meta->efConstruction > HNSW_MAX_EF_CONSTRUCTION)
		return HNSW_CHECK_META_EF;
	outOfLine = meta->quantization != meta->exactQuantization;
	if (meta->quantization > HNSW_QUANT_MAX ||
		meta->exactQuantization > HNSW_QUANT_MAX ||
		(outOfLine && meta->dimensions == 0))
		return HNSW_CHECK_META_QUANT;
	if (meta->dimensions > VECTOR_MAX_DIM ||
		(meta->dimensions > 0 &&
		 HNSW_ELEMENT_TUPLE_SIZE(meta->dimensions, meta->quantization, 0,
								 meta->m) +
		 (outOfLine ? HNSW_VECTOR_LINK_SIZE : 0) > HNSW_MAX_TUPLE_SIZE))
		return HNSW_CHECK_META_DIMENSIONS;
	if (meta->entryLevel < -1 || meta->entryLevel > HNSW_MAX_LEVEL ||
		(meta->entryLevel >= 0) != ItemPointerIsValid(&meta->entryPoint) ||
		(ItemPointerIsValid(&meta->entryPoint) &&
		 !HnswLinkInRange(&meta->entryPoint, InvalidBlockNumber)))
		return HNSW_CHECK_META_ENTRY;
	if (meta->insertPage == HNSW_METAPAGE_BLKNO)
		return HNSW_CHECK_META_INSERT_PAGE;
	return HNSW_CHECK_OK;
}
