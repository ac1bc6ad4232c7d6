/*-------------------------------------------------------------------------
 *
 * hnswbuffer.c
 *	  A backend-local memo of the shared buffer each index page was last
 *	  found in, so that searches pin pages without a buffer-mapping lookup.
 *
 * A search reads hundreds of element pages, each with ReadBuffer, whose
 * buffer-mapping lookup (hash of the tag, partition lock, hash probe) costs
 * more than pinning the buffer.  The memo remembers, per block of the index,
 * the buffer the block was in last time; ReadRecentBuffer then pins that
 * buffer if it still holds the block (it checks the tag under the buffer
 * header lock), and only otherwise do we fall back to ReadBuffer.  A stale
 * entry therefore costs one failed check, never a wrong page.  See src/README
 * "Scans".
 *
 * The memo is an array indexed by block number, kept in the index's
 * rd_amcache (allocated in rd_indexcxt), so it lasts as long as the relcache
 * entry and is simply dropped when the entry is rebuilt.
 *
 * src/hnswbuffer.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "hnsw.h"
#include "storage/buf_internals.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* Memo sizes: start, and the largest (4 MB of memo; an 8 GB index) */
#define HNSW_MEMO_MIN_BLOCKS	1024
#define HNSW_MEMO_MAX_BLOCKS	(1024 * 1024)

typedef struct HnswBufferMemo
{
	RelFileNode node;			/* the relfilenode the entries are for */
	BlockNumber nblocks;		/* length of buffers[] */
	Buffer		buffers[FLEXIBLE_ARRAY_MEMBER]; /* InvalidBuffer: unknown */
} HnswBufferMemo;

/*
 * Return the memo of index covering blkno, creating or growing it; NULL if
 * blkno is beyond the largest memo.  The result is valid only until the
 * relcache entry is next rebuilt: callers must not keep it across anything
 * that may accept invalidation messages.
 */
static HnswBufferMemo *
GetMemo(Relation index, BlockNumber blkno)
{
	HnswBufferMemo *memo = (HnswBufferMemo *) index->rd_amcache;
	HnswBufferMemo *grown;
	BlockNumber nblocks;

	if (memo != NULL && RelFileNodeEquals(memo->node, index->rd_node) &&
		blkno < memo->nblocks)
		return memo;
	if (blkno >= HNSW_MEMO_MAX_BLOCKS)
		return NULL;

	/* none yet, a new relfilenode (forget everything), or too short */
	nblocks = HNSW_MEMO_MIN_BLOCKS;
	while (nblocks <= blkno)
		nblocks *= 2;
	grown = MemoryContextAlloc(index->rd_indexcxt,
							   offsetof(HnswBufferMemo, buffers) +
							   nblocks * sizeof(Buffer));
	grown->node = index->rd_node;
	grown->nblocks = nblocks;
	/* InvalidBuffer is 0 */
	memset(grown->buffers, 0, nblocks * sizeof(Buffer));
	if (memo != NULL)
	{
		if (RelFileNodeEquals(memo->node, index->rd_node))
			memcpy(grown->buffers, memo->buffers,
				   memo->nblocks * sizeof(Buffer));
		pfree(memo);
	}
	index->rd_amcache = grown;
	return grown;
}

/*
 * Return block blkno of index's main fork, pinned (not locked), as
 * ReadBuffer does; but first try the buffer the block was in when this
 * backend last read it.
 *
 * Temporary indexes (local buffers) go straight to ReadBuffer.  Buffers
 * pinned through the memo count as hits in EXPLAIN (BUFFERS), but not in
 * pg_statio_*_indexes, which ReadRecentBuffer does not update.
 */
Buffer
HnswReadBuffer(Relation index, BlockNumber blkno)
{
	HnswBufferMemo *memo;
	Buffer		buf;

	if (RelationUsesLocalBuffers(index))
		return ReadBuffer(index, blkno);

	memo = GetMemo(index, blkno);
	if (memo == NULL)
		return ReadBuffer(index, blkno);

	buf = memo->buffers[blkno];
	if (BufferIsValid(buf) &&
		ReadRecentBuffer(index->rd_node, MAIN_FORKNUM, blkno, buf))
		return buf;

	buf = ReadBuffer(index, blkno);

	/* ReadBuffer does not accept invalidations, but look the memo up again */
	memo = GetMemo(index, blkno);
	if (memo != NULL)
		memo->buffers[blkno] = buf;
	return buf;
}

/*
 * Hint that block blkno of index is about to be read: if the memo knows a
 * buffer for it, ask the CPU to fetch that buffer's descriptor and the
 * page's first cache line (page header, first line pointers) into its
 * cache, so that the misses of several pages overlap instead of following
 * one another.  Neither pins nor locks nor reads anything: the buffer may
 * hold another page by now, and then the hint is merely wasted.
 */
void
HnswPrefetchBlock(Relation index, BlockNumber blkno)
{
#if defined(__GNUC__) || defined(__clang__)
	HnswBufferMemo *memo = (HnswBufferMemo *) index->rd_amcache;
	Buffer		buf;

	if (memo == NULL || blkno >= memo->nblocks ||
		!RelFileNodeEquals(memo->node, index->rd_node))
		return;
	buf = memo->buffers[blkno];
	/* unknown, or (never, see HnswReadBuffer) a local buffer */
	if (buf <= 0)
		return;
	__builtin_prefetch(GetBufferDescriptor(buf - 1));
	__builtin_prefetch(BufferGetBlock(buf));
#endif
}

/*
 * The address and length of the element tuple at tid, through the buffer
 * the memo knows for its block, for a prefetch hint (HnswPrefetchTuple):
 * false if unknown.  The line pointer is read without a pin or a lock and
 * only bounded to the page.
 */
static inline bool
TupleAddress(Relation index, ItemPointer tid, char **tup, Size *len)
{
	HnswBufferMemo *memo = (HnswBufferMemo *) index->rd_amcache;
	BlockNumber blkno = ItemPointerGetBlockNumber(tid);
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	Buffer		buf;
	PageHeader	page;
	ItemIdData	itemid;

	if (memo == NULL || blkno >= memo->nblocks ||
		!RelFileNodeEquals(memo->node, index->rd_node))
		return false;
	buf = memo->buffers[blkno];
	if (buf <= 0 || off < FirstOffsetNumber ||
		off > (BLCKSZ - SizeOfPageHeaderData) / sizeof(ItemIdData))
		return false;
	page = (PageHeader) BufferGetBlock(buf);
	itemid = *(volatile ItemIdData *) &page->pd_linp[off - 1];
	if (itemid.lp_off < SizeOfPageHeaderData || itemid.lp_off >= BLCKSZ)
		return false;
	*tup = (char *) page + itemid.lp_off;
	*len = Min(itemid.lp_len, BLCKSZ - itemid.lp_off);
	return true;
}

/*
 * Hint that the first head bytes and the last tail bytes of the element
 * tuple at tid are about to be read: prefetch them (for a search, the
 * header and the vector, not the links: a 784-dimensional f32 one is 50
 * cache lines; for a filtered walk's step over an element, its header and
 * filter column value, and its level-0 links and their hints, which end a
 * tuple of level 0), through the buffer the memo knows for its block.  The
 * line pointer is read without a pin or a lock, only to compute addresses
 * for the hint: they are bounded to the buffer's page, and a page that
 * changed meanwhile, or a buffer that holds another page by now, merely
 * wastes the hint.  Searches call it for the next element while loading
 * the previous one.
 *
 * A tuple shorter than minWhole, the smallest whole element tuple of the
 * index (0 if the index has no cut elements), is taken for a head tuple
 * of level 0 (src/README "Page layout"): its tail, which then holds
 * minWhole bytes less its length, is prefetched too (HnswPrefetchTail).
 */
void
HnswPrefetchTuple(Relation index, ItemPointer tid, Size head, Size tail,
				  Size minWhole)
{
#if defined(__GNUC__) || defined(__clang__)
	char	   *tup;
	Size		tuplen;

	if (!TupleAddress(index, tid, &tup, &tuplen))
		return;
	HnswPrefetchBytes(tup, Min(head, tuplen));
	if (tail > 0 && tail < tuplen)
		HnswPrefetchBytes(tup + tuplen - tail, tail);
	if (tuplen < minWhole)
		HnswPrefetchTail(index, ItemPointerGetBlockNumber(tid) + 1,
						 HNSW_TAIL_HEADER_SIZE + minWhole - tuplen);
#endif
}

/*
 * Hint that the tail tuple of len bytes starting block blkno (the rest of
 * a head tuple's vector) is about to be read.  A tail is the first tuple
 * CREATE INDEX put on its page, so it lies at the end of the page's tuple
 * space and its address needs no line pointer: the buffer's descriptor,
 * the page header and the tail's bytes are prefetched at once.  A hint
 * only, as above.
 */
void
HnswPrefetchTail(Relation index, BlockNumber blkno, Size len)
{
#if defined(__GNUC__) || defined(__clang__)
	HnswBufferMemo *memo = (HnswBufferMemo *) index->rd_amcache;
	Buffer		buf;
	char	   *page;
	Size		size = MAXALIGN(len);
	Size		end = BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData));

	if (memo == NULL || blkno >= memo->nblocks ||
		!RelFileNodeEquals(memo->node, index->rd_node))
		return;
	buf = memo->buffers[blkno];
	if (buf <= 0 || size > end - SizeOfPageHeaderData)
		return;
	page = (char *) BufferGetBlock(buf);
	__builtin_prefetch(GetBufferDescriptor(buf - 1));
	__builtin_prefetch(page);
	HnswPrefetchBytes(page + end - size, len);
#endif
}
