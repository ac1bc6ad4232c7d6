/*-------------------------------------------------------------------------
 *
 * hnswcheck.c
 *	  Checks of the fields of an hnsw index page before they are used: the
 *	  page header and special space, line pointers, element tuples and the
 *	  metapage.
 *
 * Every reader of an element tuple goes through HnswCheckElementAt (by way
 * of HnswGetElement, hnsw.h; errors are raised in hnswpage.c), so a damaged page ends in an error
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

#include "hnsw.h"

/*
 * The checks themselves, inlined into the functions below: a search runs
 * CheckItem and CheckElement for every element it loads, through
 * HnswCheckElementAt, in one call.
 */

/* The header of a page: see HnswCheckPageHeader */
static pg_attribute_always_inline HnswCheckResult
CheckHeader(Page page)
{
	PageHeader	ph = (PageHeader) page;

	if (PageIsNew(page))
		return HNSW_CHECK_ABSENT;
	if (unlikely(ph->pd_lower < SizeOfPageHeaderData ||
				 ph->pd_lower > ph->pd_upper ||
				 ph->pd_upper > ph->pd_special || ph->pd_special > BLCKSZ))
		return HNSW_CHECK_PAGE_HEADER;
	if (unlikely(ph->pd_special != BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData))))
		return HNSW_CHECK_PAGE_SPECIAL;
	return HNSW_CHECK_OK;
}

/* The tuple at off: see HnswCheckItem */
static pg_attribute_always_inline HnswCheckResult
CheckItem(Page page, OffsetNumber off, char **item, Size *len)
{
	PageHeader	ph = (PageHeader) page;
	HnswCheckResult r = CheckHeader(page);
	ItemId		itemid;
	unsigned	lpoff;
	unsigned	lplen;

	if (unlikely(r != HNSW_CHECK_OK))
		return r;
	if (unlikely(off < FirstOffsetNumber || off > PageGetMaxOffsetNumber(page)))
		return HNSW_CHECK_ABSENT;
	itemid = PageGetItemId(page, off);
	if (unlikely(!ItemIdIsNormal(itemid)))
		return ItemIdIsUsed(itemid) ? HNSW_CHECK_ITEM_FLAGS : HNSW_CHECK_ABSENT;
	lpoff = ItemIdGetOffset(itemid);
	lplen = ItemIdGetLength(itemid);
	if (unlikely(lplen == 0 || lpoff < ph->pd_upper ||
				 lpoff + lplen > ph->pd_special ||
				 lpoff % MAXIMUM_ALIGNOF != 0))
		return HNSW_CHECK_ITEM_RANGE;
	*item = (char *) page + lpoff;
	*len = lplen;
	return HNSW_CHECK_OK;
}

/*
 * The code of a sparse vector's element tuple, whose size is its own: its
 * entry count (within room, the bytes after the tuple's header) makes its
 * length, with or without a link, and the tuple ends with the slots after
 * it.  The dimensions are the layout's (any, while it has none).  Heads
 * never hold one.  Indices and values are left to verify_index: the
 * kernels only compare indices, within the count.
 */
static HnswCheckResult
CheckSparse(const HnswLayout *layout, const HnswElementTupleData *tup,
			const HnswCode *vec, Size room)
{
	Size		vecSize = VARSIZE(vec);
	Size		codeSize;
	int32		nnz;

	if (layout->dim > 0 && layout->codeKind != HNSW_CODE_SPARSE)
		return HNSW_CHECK_ENCODING;
	if (tup->type == HNSW_HEAD_TUPLE)
		return HNSW_CHECK_CUT;
	if (room < HNSW_SPARSE_CODE_SIZE(0) || !VARATT_IS_4B_U(vec) ||
		vec->dim != 0 || vecSize < HNSW_SPARSE_CODE_SIZE(0) || vecSize > room)
		return HNSW_CHECK_VECTOR_LENGTH;
	nnz = HnswSparseNnz(vec);
	if (nnz < 0 || (Size) nnz > (vecSize - HNSW_SPARSE_CODE_SIZE(0)) /
		(sizeof(int32) + sizeof(float)))
		return HNSW_CHECK_VECTOR_LENGTH;
	codeSize = HNSW_SPARSE_CODE_SIZE(nnz);
	if (vecSize != codeSize && vecSize != codeSize + HNSW_VECTOR_LINK_SIZE)
		return HNSW_CHECK_VECTOR_LENGTH;
	if (layout->dim > 0 ? HnswSparseDim(vec) != layout->dim :
		HnswSparseDim(vec) <= 0)
		return HNSW_CHECK_VECTOR_LENGTH;
	if (room != vecSize + (Size) HNSW_SLOTS(tup->level, layout->m) *
		sizeof(HnswNeighborSlot) +
		((tup->ntids & HNSW_TUPLE_HINTED) != 0 ? HNSW_HINTS_SIZE(layout->m) : 0))
		return HNSW_CHECK_TUPLE_SIZE;
	return HNSW_CHECK_OK;
}

/* An element tuple: see HnswCheckElementTuple */
static pg_attribute_always_inline HnswCheckResult
CheckElement(const HnswLayout *layout, const char *item, Size len)
{
	const HnswElementTupleData *tup = (const HnswElementTupleData *) item;
	const HnswCode *vec;
	Size		header;
	Size		vecSize;
	Size		codeSize;
	int			cap;
	int			quant;
	bool		outOfLine;

	if (unlikely(len < HNSW_ELEMENT_HEADER_SIZE(0) ||
				 (tup->type != HNSW_ELEMENT_TUPLE &&
				  tup->type != HNSW_HEAD_TUPLE)))
		return HNSW_CHECK_NOT_ELEMENT;
	if (unlikely(tup->level > HNSW_MAX_LEVEL))
		return HNSW_CHECK_LEVEL;
	if (unlikely(tup->deleted > 1))
		return HNSW_CHECK_DELETED;
	cap = HnswTupleTidCapacity(tup);
	if (unlikely(cap % 2 != 0 || cap == 0 || cap > HNSW_HEAPTIDS))
		return HNSW_CHECK_TID_CAPACITY;
	if (unlikely(HnswTupleKeySize(tup) != layout->keySize ||
				 (layout->keySize == 0 && tup->ntids != cap)))
		return HNSW_CHECK_KEY;
	header = HNSW_ELEMENT_HEADER_SIZE(cap) + layout->keySize;
	if (unlikely(len < header + VECTOR_SIZE(0)))
		return HNSW_CHECK_TUPLE_SIZE;

	vec = (const HnswCode *) (item + header);
	vecSize = VARSIZE(vec);
	if (unlikely(vec->kind == HNSW_CODE_SPARSE))
		return CheckSparse(layout, tup, vec, len - header);
	if (likely(layout->dim > 0))
	{
		if (unlikely(vec->kind != layout->codeKind))
			return HNSW_CHECK_ENCODING;
		quant = layout->codeKind;
		outOfLine = layout->outOfLine;
		if (unlikely(!VARATT_IS_4B_U(vec) || vec->dim != layout->dim))
			return HNSW_CHECK_VECTOR_LENGTH;
	}
	else
	{
		/*
		 * The first vector had not fixed the dimensions and encoding when
		 * the layout was read from the metapage (a vacuum that started
		 * with the index empty): the tuple's own, with or without a link.
		 */
		if (vec->kind > HNSW_CODE_MAX)
			return HNSW_CHECK_ENCODING;
		quant = vec->kind;
		if (!VARATT_IS_4B_U(vec) || vec->dim == 0 ||
			vec->dim > (quant == HNSW_CODE_BIT || quant == HNSW_CODE_BIT_PREFIX ?
						HNSW_MAX_BITS : VECTOR_MAX_DIM))
			return HNSW_CHECK_VECTOR_LENGTH;
		outOfLine = vecSize == HNSW_CODE_SIZE(vec->dim, quant) +
			HNSW_VECTOR_LINK_SIZE;
	}
	codeSize = HNSW_CODE_SIZE(vec->dim, quant) +
		(outOfLine ? HNSW_VECTOR_LINK_SIZE : 0);
	if (unlikely(tup->type == HNSW_HEAD_TUPLE))
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
	else if (unlikely(vecSize != codeSize))
		return HNSW_CHECK_VECTOR_LENGTH;
	if (unlikely(len != header + vecSize +
				 (Size) HNSW_SLOTS(tup->level, layout->m) *
				 sizeof(HnswNeighborSlot) +
				 ((tup->ntids & HNSW_TUPLE_HINTED) != 0 ?
				  HNSW_HINTS_SIZE(layout->m) : 0)))
		return HNSW_CHECK_TUPLE_SIZE;

	/* the whole code is there: heads are never i8 */
	if (unlikely(!HnswCodeHeaderValid(vec)))
		return HNSW_CHECK_CODE_HEADER;
	return HNSW_CHECK_OK;
}

/*
 * Check the header of a page that is not new: its pointers in order, as
 * PostgreSQL requires of every page it reads in (PageIsVerifiedExtended),
 * and room for hnsw's special space exactly.  HNSW_CHECK_ABSENT for a new
 * page.
 */
HnswCheckResult
HnswCheckPageHeader(Page page)
{
	return CheckHeader(page);
}

/*
 * Check the header and the page id of a page that is not new.  Readers of
 * whole pages use it (vacuum, index_info); a search, which reads one tuple
 * of a page, does not read the page id, a cache line of its own.
 */
HnswCheckResult
HnswCheckPageSpecial(Page page)
{
	HnswCheckResult r = CheckHeader(page);

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
	return CheckItem(page, off, item, len);
}

/*
 * Check an element tuple (or head tuple) of len bytes against the layout of
 * its index; HNSW_CHECK_OK means every field the readers use is in range:
 *
 * - level at most HNSW_MAX_LEVEL, deleted flag 0 or 1, a heap TID capacity
 *   that is even, from 2 to HNSW_HEAPTIDS, so that arrays of HNSW_HEAPTIDS
 *   hold the heap TIDs;
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
 * dimensions and encoding.  Not checked here: the values of an f32 vector
 * (NaN or infinity only spoil distances; verify_index finds them), which
 * would read the whole vector, and the heap TIDs, which nothing in the
 * index dereferences (a scan checks each before the executor reads it,
 * HnswCheckHeapTid).
 */
HnswCheckResult
HnswCheckElementTuple(const HnswLayout *layout, const char *item, Size len)
{
	return CheckElement(layout, item, len);
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
	HnswCheckResult r = CheckItem(page, off, &item, len);

	if (unlikely(r != HNSW_CHECK_OK))
		return r;
	if (unlikely(item[0] == HNSW_VECTOR_TUPLE || item[0] == HNSW_TAIL_TUPLE))
		return HNSW_CHECK_ABSENT;
	*tup = (HnswElementTuple) item;
	return CheckElement(layout, item, *len);
}

/*
 * Is code a kind the elements of an index of values of kind exact can
 * hold: exact itself, or a smaller code with the value out of line (bf16 or
 * i8 for f32, i8 for f16, bf16 and halfvec)?
 */
static bool
CodeKindsValid(unsigned code, unsigned exact)
{
	if (code > HNSW_CODE_MAX || exact > HNSW_CODE_MAX)
		return false;
	if (code == exact)
		return true;
	switch (exact)
	{
		case HNSW_CODE_F32:
			return code == HNSW_CODE_BF16 || code == HNSW_CODE_I8;
		case HNSW_CODE_F16:
		case HNSW_CODE_BF16:
		case HNSW_CODE_HALF:
			return code == HNSW_CODE_I8;
		case HNSW_CODE_BIT:
			return code == HNSW_CODE_BIT_PREFIX;
		default:
			return false;
	}
}

/*
 * Copy the metapage of page into *meta and check it: the page, magic
 * number, version (HNSW_VERSION, the only one), m and ef_construction in the
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
	if (meta->version != HNSW_VERSION)
		return HNSW_CHECK_META_VERSION;
	if (meta->m < HNSW_MIN_M || meta->m > HNSW_MAX_M)
		return HNSW_CHECK_META_M;
	if (meta->efConstruction < HNSW_MIN_EF_CONSTRUCTION ||
		meta->efConstruction > HNSW_MAX_EF_CONSTRUCTION)
		return HNSW_CHECK_META_EF;
	outOfLine = meta->codeKind != meta->exactKind;
	if (!CodeKindsValid(meta->codeKind, meta->exactKind) ||
		(outOfLine && meta->dimensions == 0))
		return HNSW_CHECK_META_QUANT;
	if (meta->exactKind == HNSW_CODE_SPARSE)
	{
		/* elements have sizes of their own (CheckSparse) */
		if (meta->dimensions > 1000000000)
			return HNSW_CHECK_META_DIMENSIONS;
	}
	else if (meta->dimensions > (meta->exactKind == HNSW_CODE_BIT ?
								 HNSW_MAX_BITS : VECTOR_MAX_DIM) ||
			 (meta->dimensions > 0 &&
			  HNSW_ELEMENT_TUPLE_SIZE(meta->dimensions, meta->codeKind, 0,
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
