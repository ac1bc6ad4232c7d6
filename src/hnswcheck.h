/*-------------------------------------------------------------------------
 *
 * hnswcheck.h
 *	  Checks of what is read from an hnsw index page, before it is used:
 *	  page headers and special space, line pointers, element tuples, the
 *	  metapage.
 *
 * These functions neither allocate nor raise errors: they return an
 * HnswCheckResult, and hnswpage.c (HnswGetElement, HnswReadMeta and
 * friends) turns a failed one into ERRCODE_INDEX_CORRUPTED naming the
 * index, block and offset.  They use PostgreSQL's headers for the page
 * layout only and call nothing of the backend, so that the fuzzer in
 * test/fuzz links hnswcheck.c directly.  See src/README "Reading pages".
 *
 * src/hnswcheck.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_HNSWCHECK_H
#define HNSW_HNSWCHECK_H

#include "hnsw.h"

typedef enum HnswCheckResult
{
	HNSW_CHECK_OK = 0,
	HNSW_CHECK_ABSENT,			/* no tuple: a new page, an offset past the
								 * line pointers, an unused line pointer */

	/* pages and line pointers */
	HNSW_CHECK_PAGE_HEADER,		/* pd_lower, pd_upper, pd_special disorder */
	HNSW_CHECK_PAGE_SPECIAL,	/* special space size or page id */
	HNSW_CHECK_ITEM_FLAGS,		/* a redirect or dead line pointer */
	HNSW_CHECK_ITEM_RANGE,		/* a tuple outside the page's tuple space */

	/* element tuples */
	HNSW_CHECK_NOT_ELEMENT,		/* too short, or a type hnsw never writes */
	HNSW_CHECK_LEVEL,			/* above HNSW_MAX_LEVEL */
	HNSW_CHECK_DELETED,			/* deleted flag neither 0 nor 1 */
	HNSW_CHECK_TID_CAPACITY,	/* odd, or not below HNSW_HEAPTIDS */
	HNSW_CHECK_HEAP_TID,		/* a heap TID offset no heap page has */
	HNSW_CHECK_ENCODING,		/* the vector's quantization tag */
	HNSW_CHECK_VECTOR_LENGTH,	/* varlena header, dimensions, length */
	HNSW_CHECK_CODE_HEADER,		/* i8 scale, offset or error bound */
	HNSW_CHECK_CUT,				/* a head tuple where none can be */
	HNSW_CHECK_TUPLE_SIZE,		/* length not that of header, vector, slots */

	/* the metapage */
	HNSW_CHECK_META_NEW,		/* all zeroes */
	HNSW_CHECK_META_MAGIC,
	HNSW_CHECK_META_VERSION,
	HNSW_CHECK_META_M,
	HNSW_CHECK_META_EF,
	HNSW_CHECK_META_QUANT,
	HNSW_CHECK_META_DIMENSIONS, /* too many, or an element would not fit */
	HNSW_CHECK_META_ENTRY,		/* entry point, its level, or the two */
	HNSW_CHECK_META_INSERT_PAGE
} HnswCheckResult;

/* Is tid a link that may name an element: off the metapage, in range? */
static inline bool
HnswLinkInRange(ItemPointer tid, BlockNumber nblocks)
{
	BlockNumber blkno = ItemPointerGetBlockNumberNoCheck(tid);
	OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(tid);

	return blkno != HNSW_METAPAGE_BLKNO && blkno < nblocks &&
		off >= FirstOffsetNumber && off <= MaxOffsetNumber;
}

/* hnswcheck.c */
extern HnswCheckResult HnswCheckPageHeader(Page page);
extern HnswCheckResult HnswCheckPageSpecial(Page page);
extern HnswCheckResult HnswCheckItem(Page page, OffsetNumber off,
									 char **item, Size *len);
extern HnswCheckResult HnswCheckElementTuple(const HnswLayout *layout,
											 const char *item, Size len);
extern HnswCheckResult HnswCheckElementAt(const HnswLayout *layout,
										  Page page, OffsetNumber off,
										  HnswElementTuple *tup, Size *len);
extern HnswCheckResult HnswCheckMetaPage(Page page, HnswMetaPageData *meta);

/* hnswpage.c: the errors for what these find, in the backend only */
extern void HnswReportCorrupt(Relation index, HnswCheckResult r,
							  BlockNumber blkno, OffsetNumber off, Page page,
							  const HnswLayout *layout) pg_attribute_noreturn();

#endif							/* HNSW_HNSWCHECK_H */
