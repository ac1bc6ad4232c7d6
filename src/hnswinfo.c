/*-------------------------------------------------------------------------
 *
 * hnswinfo.c
 *	  Know your index: hnsw.index_info, statistics of an hnsw index read
 *	  from its pages, and hnsw.verify_index, a structural check of the
 *	  metapage, the pages, every element tuple and every link, in the
 *	  spirit of amcheck.
 *
 * Both read the index one page at a time under a share buffer lock and
 * copy out what they need before releasing it.  See src/README "Index
 * statistics and verification" for what is checked, which states are
 * reported rather than raised (dangling and stale links, unreachable
 * elements) and why, and the locks taken.
 *
 * src/hnswinfo.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(hnsw_index_info);
PG_FUNCTION_INFO_V1(hnsw_verify_index);

/* What the checks of pages and element tuples need to know */
typedef struct HnswCheckState
{
	Relation	index;
	BlockNumber nblocks;		/* of the index */
	BlockNumber heapBlocks;		/* of its table; InvalidBlockNumber: unchecked */
	HnswMetaPageData meta;
	int			dim;			/* of every vector; 0 until one is seen */
	bool		outOfLine;		/* elements link to vectors out of line */
	bool		chunks;			/* some may: outOfLine, or sparse vectors */
	int64		nchunks;		/* chunks of such vectors seen */
	ItemPointerData cutHead;	/* a head tuple whose tail is still to come */
	ItemPointerData tailMissing;	/* one whose tail did not come */
	Size		cutMissing;		/* the bytes of its vector the tail holds */
	int64		ncut;			/* head tuples seen with their tails */
	int64		nlossless;		/* elements with a lossless i8 code */
} HnswCheckState;

/* The elements of an index being verified, and the counters reported */
typedef struct HnswVerifyState
{
	HnswCheckState cs;
	HnswTidList list;			/* the elements found by the first pass */
	Size		memLimit;		/* maintenance_work_mem, in bytes */
	int64		nlive;
	int64		links;			/* non-empty slots checked */
	int64		danglingLinks;
	int64		staleLinks;
	int64		unreachable;
	int64		weaklyLinked;	/* live, fewer than m / 2 links to it on
								 * level 0 */
	uint32	   *inDegree;		/* pass 2: level-0 links to each element
								 * of the list */
	int64		linkedChunks;	/* chunks read through element links */
} HnswVerifyState;

/*
 * Open the index relid with lockmode; raise an error unless it is an hnsw
 * index this backend can read.  The caller closes it.
 */
static Relation
OpenIndexChecked(Oid relid, LOCKMODE lockmode)
{
	Relation	index = relation_open(relid, lockmode);

	if (index->rd_rel->relkind != RELKIND_INDEX ||
		index->rd_indam == NULL || index->rd_indam->ambuild != hnswbuild)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an hnsw index",
						RelationGetRelationName(index))));
	if (RELATION_IS_OTHER_TEMP(index))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot access temporary indexes of other sessions")));
	return index;
}

/* Check the header and special space of a page the caller has locked */
static void
CheckSpecial(HnswCheckState *cs, Page page, BlockNumber blkno)
{
	HnswCheckResult r = HnswCheckPageSpecial(page);

	if (r != HNSW_CHECK_OK && r != HNSW_CHECK_ABSENT)
		HnswReportCorrupt(cs->index, r, blkno, InvalidOffsetNumber, page,
						  NULL);
}

/* The layout of the element tuples of the index being checked */
static HnswLayout
CheckLayout(HnswCheckState *cs)
{
	HnswLayout	layout;

	layout.m = cs->meta.m;
	layout.dim = cs->dim;
	layout.codeKind = cs->meta.codeKind;
	layout.outOfLine = cs->outOfLine;
	layout.keySize = HnswIndexKeySize(cs->index);
	HnswLayoutDerive(&layout);
	return layout;
}

/*
 * Return whether the metapage of an index with vectors out of line names
 * a code quantization HnswCodeKindFor chooses, by the size alone or as
 * asked by a graph_quantization (which may have been altered since).
 */
static bool
CodeQuantizationValid(HnswMetaPageData *meta)
{
	const int	requests[] = {HNSW_GRAPH_AUTO, HNSW_CODE_BF16, HNSW_CODE_I8};

	for (int i = 0; i < lengthof(requests); i++)
		if (meta->codeKind ==
			HnswCodeKindFor(meta->dimensions, meta->m, meta->exactKind,
							requests[i]))
			return true;
	return false;
}

/*
 * Read the metapage into cs->meta and check it: HnswCheckMetaPage, then
 * what needs the whole index (the code quantization chosen for the
 * dimensions, the entry point and insert page inside the index).  Takes
 * and releases a share lock on it.  cs->nblocks must be set.
 */
static void
CheckMeta(HnswCheckState *cs)
{
	Relation	index = cs->index;
	Buffer		buf;
	HnswMetaPageData *meta = &cs->meta;

	if (cs->nblocks == 0)
		HNSW_CORRUPT(index, "has no metapage",
					 "The relation has no blocks.");

	buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	HnswCheckMetaBuffer(index, buf);
	(void) HnswCheckMetaPage(BufferGetPage(buf), meta);
	UnlockReleaseBuffer(buf);

	cs->outOfLine = meta->exactKind != meta->codeKind;
	/* a sparse vector too large for its element is out of line, alone */
	cs->chunks = cs->outOfLine || meta->exactKind == HNSW_CODE_SPARSE;
	if (cs->outOfLine && !CodeQuantizationValid(meta))
		HNSW_CORRUPT(index, "has a metapage with an invalid quantization",
					 "The metapage has quantization %u for %u dimensions and option %u.",
					 (unsigned) meta->codeKind, meta->dimensions,
					 (unsigned) meta->exactKind);
	if (ItemPointerIsValid(&meta->entryPoint) &&
		ItemPointerGetBlockNumber(&meta->entryPoint) >= cs->nblocks)
		HNSW_CORRUPT(index, "has a metapage with an invalid entry point",
					 "The entry point (%u,%u) is not on an element page of the %u blocks of the index.",
					 ItemPointerGetBlockNumber(&meta->entryPoint),
					 ItemPointerGetOffsetNumber(&meta->entryPoint),
					 cs->nblocks);
	if (meta->insertPage != InvalidBlockNumber &&
		meta->insertPage >= cs->nblocks)
		HNSW_CORRUPT(index, "has a metapage with an invalid insert page",
					 "The insert page is block %u of %u.",
					 meta->insertPage, cs->nblocks);
	cs->dim = meta->dimensions;
}

/*
 * Check a chunk of a vector out of line: its header and where its link
 * points.  Whether it belongs to a whole vector is checked from the
 * elements (verify_index).
 */
static void
CheckVectorTuple(HnswCheckState *cs, HnswVectorTuple chunk, Size len,
				 BlockNumber blkno, OffsetNumber off)
{
	ItemPointer prev = &chunk->prev;

	if (len <= HNSW_VECTOR_HEADER_SIZE)
		HNSW_CORRUPT(cs->index, "has an invalid chunk of a vector",
					 "Block %u, offset %u: chunk of %zu bytes, too few for its header.",
					 blkno, off, len);
	if (!cs->chunks ||
		chunk->offset + (len - HNSW_VECTOR_HEADER_SIZE) > HNSW_MAX_CODE_SIZE)
		HNSW_CORRUPT(cs->index, "has an invalid chunk of a vector",
					 "Block %u, offset %u: chunk of %zu bytes at offset %u in an index %s vectors out of line.",
					 blkno, off, len, chunk->offset,
					 cs->chunks ? "with" : "without");
	if (ItemPointerIsValid(prev) &&
		(ItemPointerGetBlockNumber(prev) == HNSW_METAPAGE_BLKNO ||
		 ItemPointerGetBlockNumber(prev) >= cs->nblocks))
		HNSW_CORRUPT(cs->index, "has a vector chunk link outside the index",
					 "Block %u, offset %u: (%u,%u); the index has %u blocks.",
					 blkno, off, ItemPointerGetBlockNumber(prev),
					 ItemPointerGetOffsetNumber(prev), cs->nblocks);
	cs->nchunks++;
}

/*
 * Check that the f32 values [from, from + n) of an element's vector are
 * finite (other encodings are not checked).
 */
static void
CheckFinite(HnswCheckState *cs, const float *x, int from, int n,
			BlockNumber blkno, OffsetNumber off)
{
	for (int i = 0; cs->meta.codeKind == HNSW_CODE_F32 && i < n; i++)
	{
		if (!isfinite(x[i]))
			HNSW_CORRUPT(cs->index, "has an element with a non-finite vector value",
						 "Block %u, offset %u: dimension %d is not finite.",
						 blkno, off, from + i + 1);
	}
}

/*
 * Check the values of an element's code of an exact kind other than f32:
 * a halfvec's halves finite, a sparse vector's indices ascending and
 * inside its dimensions and its values finite, a bit string's pad bits
 * zero (the kernels count whole bytes).  Codes out of line are the
 * chunks' business (HnswReadExactVector); a sparse code in the graph is
 * checked whether it is the vector or the code of one out of line.
 */
static void
CheckCodeValues(HnswCheckState *cs, const HnswCode *code, BlockNumber blkno,
				OffsetNumber off)
{
	switch ((HnswCodeKind) code->kind)
	{
		case HNSW_CODE_HALF:
			for (int i = 0; i < code->dim; i++)
			{
				if ((((const uint16 *) code->data)[i] & 0x7C00) == 0x7C00)
					HNSW_CORRUPT(cs->index, "has an element with a non-finite vector value",
								 "Block %u, offset %u: dimension %d is not finite.",
								 blkno, off, i + 1);
			}
			break;
		case HNSW_CODE_SPARSE:
			{
				const int32 *ix = HnswSparseIndices(code);
				const float *vx = HnswSparseValues(code);

				for (int i = 0; i < HnswSparseNnz(code); i++)
				{
					if (ix[i] < 0 || ix[i] >= HnswSparseDim(code) ||
						(i > 0 && ix[i] <= ix[i - 1]))
						HNSW_CORRUPT(cs->index, "has an element with invalid sparse vector indices",
									 "Block %u, offset %u: entry %d has index %d.",
									 blkno, off, i + 1, ix[i]);
					if (!isfinite(vx[i]))
						HNSW_CORRUPT(cs->index, "has an element with a non-finite vector value",
									 "Block %u, offset %u: entry %d is not finite.",
									 blkno, off, i + 1);
				}
			}
			break;
		case HNSW_CODE_BIT:
			if (code->dim % 8 != 0 &&
				(((const uint8 *) code->data)[code->dim / 8] &
				 (0xFF >> (code->dim % 8))) != 0)
				HNSW_CORRUPT(cs->index, "has an element with a bit string whose padding is not zero",
							 "Block %u, offset %u: %d bits.",
							 blkno, off, (int) code->dim);
			break;
		default:
			break;
	}
}

/*
 * Note a head tuple seen before block blkno that still waits for its tail
 * (blkno InvalidBlockNumber: at the end of the index).  The caller holds a
 * page lock, and the head may have been freed (with its tail) by a vacuum
 * since its page was read, so CheckMissingTail decides later.
 */
static void
CheckNoTailDue(HnswCheckState *cs, BlockNumber blkno)
{
	if (ItemPointerIsValid(&cs->cutHead) &&
		(blkno == InvalidBlockNumber ||
		 blkno > ItemPointerGetBlockNumber(&cs->cutHead)))
	{
		cs->tailMissing = cs->cutHead;
		ItemPointerSetInvalid(&cs->cutHead);
	}
}

/*
 * Raise corruption if the head tuple CheckNoTailDue noted is still there.
 * Holds no lock on entry; takes and releases a share lock on its page.
 */
static void
CheckMissingTail(HnswCheckState *cs, BufferAccessStrategy strategy)
{
	Buffer		buf;
	HnswLayout	layout;
	HnswElementTuple tup;
	bool		stillCut;

	if (!ItemPointerIsValid(&cs->tailMissing))
		return;
	buf = ReadBufferExtended(cs->index, MAIN_FORKNUM,
							 ItemPointerGetBlockNumber(&cs->tailMissing),
							 RBM_NORMAL, strategy);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	layout = CheckLayout(cs);
	tup = HnswGetElement(cs->index, &layout, buf,
						 ItemPointerGetOffsetNumber(&cs->tailMissing));
	stillCut = tup != NULL && tup->type == HNSW_HEAD_TUPLE;
	UnlockReleaseBuffer(buf);
	if (stillCut)
		HNSW_CORRUPT(cs->index, "has an element cut over two pages without its tail",
					 "Block %u, offset %u: no tail tuple at the first offset of the next block.",
					 ItemPointerGetBlockNumber(&cs->tailMissing),
					 ItemPointerGetOffsetNumber(&cs->tailMissing));
	ItemPointerSetInvalid(&cs->tailMissing);
}

/*
 * Check a tail tuple: it must be the first tuple of the block after its
 * head tuple, the last one checked, and hold the rest of its vector.
 */
static void
CheckTail(HnswCheckState *cs, HnswTailTuple tail, Size len,
		  BlockNumber blkno, OffsetNumber off)
{
	if (!ItemPointerIsValid(&cs->cutHead) || off != FirstOffsetNumber ||
		blkno != ItemPointerGetBlockNumber(&cs->cutHead) + 1 ||
		!ItemPointerEquals(&tail->head, &cs->cutHead))
		HNSW_CORRUPT(cs->index, "has a tail tuple without its element",
					 "Block %u, offset %u: tail of (%u,%u).",
					 blkno, off,
					 ItemPointerGetBlockNumberNoCheck(&tail->head),
					 ItemPointerGetOffsetNumberNoCheck(&tail->head));
	if (len != HNSW_TAIL_HEADER_SIZE + cs->cutMissing)
		HNSW_CORRUPT(cs->index, "has a tail tuple of wrong size",
					 "Block %u, offset %u: %zu bytes; its element needs %zu.",
					 blkno, off, len, HNSW_TAIL_HEADER_SIZE + cs->cutMissing);
	CheckFinite(cs, (const float *) tail->data,
				cs->dim - cs->cutMissing / sizeof(float),
				cs->cutMissing / sizeof(float), blkno, off);
	ItemPointerSetInvalid(&cs->cutHead);
	cs->ncut++;
}

/*
 * Check what verification alone checks of the vector of tup, the element
 * tuple at (blkno, off) on page: finite values (XXX only unquantized
 * values are checked; should codes be decoded too?), valid codes, and that
 * a head tuple is the last of a page that is not the index's last (its
 * tail is checked with the next tuple: cs->cutHead).  Counts i8 codes
 * without error in cs->nlossless.
 */
static void
CheckElementVector(HnswCheckState *cs, Page page, HnswElementTuple tup,
				   BlockNumber blkno, OffsetNumber off)
{
	Size		codeSize;
	Size		vecSize;

	codeSize = HNSW_CODE_SIZE(cs->dim, cs->meta.codeKind) +
		(cs->outOfLine ? HNSW_VECTOR_LINK_SIZE : 0);
	vecSize = VARSIZE(HnswTupleVector(tup));
	CheckFinite(cs, HnswCodeFloats(HnswTupleVector(tup)), 0,
				(vecSize - VECTOR_SIZE(0)) / sizeof(float), blkno, off);
	if (tup->type == HNSW_ELEMENT_TUPLE)
		CheckCodeValues(cs, HnswTupleVector(tup), blkno, off);
	if (HnswQuantIsInt8(HnswTupleVector(tup)->kind))
	{
		float		error;
		float		magnitude;

		HnswCodeBounds(HnswTupleVector(tup), &error, &magnitude);
		if (error == 0.0f)
			cs->nlossless++;
	}
	if (tup->type == HNSW_HEAD_TUPLE)
	{
		/* its tail must be the next tuple: the first of the next block */
		if (off != PageGetMaxOffsetNumber(page) || blkno + 1 >= cs->nblocks)
			HNSW_CORRUPT(cs->index, "has an element cut over two pages without its tail",
						 "Block %u, offset %u: a head tuple must be the last tuple of a page that is not the index's last.",
						 blkno, off);
		ItemPointerSet(&cs->cutHead, blkno, off);
		cs->cutMissing = codeSize - vecSize;
	}
}

/*
 * Check the heap TIDs of tup, the element tuple at (blkno, off): inside the
 * table, and at least one unless the element is flagged deleted.
 */
static void
CheckElementHeapTids(HnswCheckState *cs, HnswElementTuple tup,
					 BlockNumber blkno, OffsetNumber off)
{
	int			nheaptids = 0;

	for (int i = 0; i < HnswTupleTidCapacity(tup); i++)
	{
		ItemPointer htid = &tup->heaptids[i];

		if (!ItemPointerIsValid(htid))
			continue;
		nheaptids++;
		if (ItemPointerGetOffsetNumber(htid) > MaxHeapTuplesPerPage ||
			(cs->heapBlocks != InvalidBlockNumber &&
			 ItemPointerGetBlockNumber(htid) >= cs->heapBlocks))
			HNSW_CORRUPT(cs->index, "has a heap TID outside its table",
						 "Block %u, offset %u, heap TID %d: (%u,%u); the table has %u blocks.",
						 blkno, off, i, ItemPointerGetBlockNumber(htid),
						 ItemPointerGetOffsetNumber(htid), cs->heapBlocks);
	}
	if (nheaptids == 0 && !tup->deleted)
		HNSW_CORRUPT(cs->index, "has a live element without heap TIDs",
					 "Block %u, offset %u: no valid heap TID and not flagged deleted.",
					 blkno, off);
}

/*
 * Check that no neighbour slot of tup, the element tuple at (blkno, off),
 * points to the element itself or twice to the same element on one level.
 * (HnswCheckSlots has checked what every reader checks of them.)
 */
static void
CheckElementLinks(HnswCheckState *cs, HnswElementTuple tup,
				  BlockNumber blkno, OffsetNumber off)
{
	char	   *slots = HnswTupleGetSlots(tup);
	int			m = cs->meta.m;

	for (int lc = 0; lc <= tup->level; lc++)
	{
		int			start = HNSW_LEVEL_START(lc, m);
		int			cap = HNSW_LEVEL_CAPACITY(lc, m);

		for (int i = start; i < start + cap; i++)
		{
			ItemPointer t = HnswSlotTid(slots, i);

			if (!ItemPointerIsValid(t))
				continue;
			if (ItemPointerGetBlockNumber(t) == blkno &&
				ItemPointerGetOffsetNumber(t) == off)
				HNSW_CORRUPT(cs->index, "has an element linked to itself",
							 "Block %u, offset %u, level %d, slot %d.",
							 blkno, off, lc, i);
			for (int j = start; j < i; j++)
			{
				if (ItemPointerIsValid(HnswSlotTid(slots, j)) &&
					ItemPointerEquals(HnswSlotTid(slots, j), t))
					HNSW_CORRUPT(cs->index, "has a duplicate neighbour link",
								 "Block %u, offset %u, level %d: slots %d and %d both point to (%u,%u).",
								 blkno, off, lc, j, i,
								 ItemPointerGetBlockNumber(t),
								 ItemPointerGetOffsetNumber(t));
			}
		}
	}
}

/*
 * Check the tuple at off on element page blkno, which the caller holds
 * share-locked; return it, or NULL if the line pointer is unused or holds a
 * chunk of a vector out of line (checked by CheckVectorTuple, counted in
 * cs->nchunks) or a tail (CheckTail).  Raises ERRCODE_INDEX_CORRUPTED on
 * anything malformed: first what every reader checks (the line pointer,
 * the tuple's fields against the layout, the links inside the index:
 * hnswcheck.c, HnswCheckSlots), then what only verification does: the
 * vector (CheckElementVector), the heap TIDs (CheckElementHeapTids) and
 * the links (CheckElementLinks).  Whether link targets exist is checked
 * later.
 */
static HnswElementTuple
CheckElementTuple(HnswCheckState *cs, Page page, BlockNumber blkno,
				  OffsetNumber off)
{
	Relation	index = cs->index;
	HnswLayout	layout = CheckLayout(cs);
	HnswCheckResult r;
	HnswElementTuple tup;
	char	   *item;
	Size		len;

	r = HnswCheckItem(page, off, &item, &len);
	if (r == HNSW_CHECK_ABSENT)
		return NULL;
	if (r != HNSW_CHECK_OK)
		HnswReportCorrupt(index, r, blkno, off, page, &layout);
	if (item[0] == HNSW_VECTOR_TUPLE)
	{
		CheckVectorTuple(cs, (HnswVectorTuple) item, len, blkno, off);
		return NULL;
	}
	if (len >= HNSW_TAIL_HEADER_SIZE && item[0] == HNSW_TAIL_TUPLE)
	{
		CheckTail(cs, (HnswTailTuple) item, len, blkno, off);
		return NULL;
	}
	CheckNoTailDue(cs, blkno);
	r = HnswCheckElementTuple(&layout, item, len);
	tup = (HnswElementTuple) item;
	if (r == HNSW_CHECK_OK && cs->dim == 0)
	{
		/*
		 * The first element of an index whose metapage has no dimensions
		 * yet: its dimensions are the index's, the rest as for any.
		 */
		cs->dim = HnswCodeDim(HnswTupleVector(tup));
		layout = CheckLayout(cs);
		r = HnswCheckElementTuple(&layout, item, len);
	}
	if (r != HNSW_CHECK_OK)
		HnswReportCorrupt(index, r, blkno, off, page, &layout);

	CheckElementVector(cs, page, tup, blkno, off);
	CheckElementHeapTids(cs, tup, blkno, off);
	HnswCheckSlots(index, &cs->nblocks, &layout, tup, blkno, off);
	CheckElementLinks(cs, tup, blkno, off);
	return tup;
}

/*
 * Read block blkno with strategy (may be NULL), share-lock it and check its
 * special space.  Returns the locked, pinned buffer.
 */
static Buffer
ReadCheckedPage(HnswCheckState *cs, BlockNumber blkno,
				BufferAccessStrategy strategy)
{
	Buffer		buf;

	buf = ReadBufferExtended(cs->index, MAIN_FORKNUM, blkno, RBM_NORMAL,
							 strategy);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	if (!PageIsNew(BufferGetPage(buf)))
		CheckSpecial(cs, BufferGetPage(buf), blkno);
	return buf;
}

/* Return the opclass name of the first (only) column of index */
static Name
OpclassName(Relation index)
{
	Oid			opclass = get_index_column_opclass(RelationGetRelid(index), 1);
	HeapTuple	tup;
	Name		result = palloc0(NAMEDATALEN);

	tup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclass));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for operator class %u", opclass);
	namestrcpy(result, NameStr(((Form_pg_opclass) GETSTRUCT(tup))->opcname));
	ReleaseSysCache(tup);
	return result;
}

/* What hnsw.index_info counts as it reads an index */
typedef struct IndexCounts
{
	int64		nelements;
	int64		nlive;
	int64		ndeleted;
	int64		nheaptids;
	int64		perLevel[HNSW_MAX_LEVEL + 1];	/* by top level */
	int64		degreeSum;		/* links on level 0 of live elements */
	int			minDegree;
	int			maxLevel;
	int64		elementPages;
	int64		freePages;
	int64		vectorPages;
} IndexCounts;

/*
 * Check and count the tuples of page blkno (share-locked by the caller) into
 * counts; return how many elements it holds.
 */
static int
CountPage(HnswCheckState *cs, Page page, BlockNumber blkno,
		  IndexCounts *counts)
{
	OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
	int			onPage = 0;

	for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
	{
		HnswElementTuple tup;
		char	   *slots;
		int			degree = 0;

		tup = CheckElementTuple(cs, page, blkno, off);
		if (tup == NULL)
			continue;
		onPage++;
		counts->nelements++;
		counts->perLevel[tup->level]++;
		counts->maxLevel = Max(counts->maxLevel, tup->level);
		if (tup->deleted)
		{
			counts->ndeleted++;
			continue;
		}
		counts->nlive++;
		for (int i = 0; i < HnswTupleTidCapacity(tup); i++)
			if (ItemPointerIsValid(&tup->heaptids[i]))
				counts->nheaptids++;
		slots = HnswTupleGetSlots(tup);
		for (int i = 0; i < HNSW_LEVEL_CAPACITY(0, cs->meta.m); i++)
			if (ItemPointerIsValid(HnswSlotTid(slots, i)))
				degree++;
		counts->degreeSum += degree;
		counts->minDegree = Min(counts->minDegree, degree);
	}
	return onPage;
}

/*
 * Fill values and nulls (26 columns) with hnsw.index_info's row from what
 * was counted and the metapage.  Memory: the row's values are palloc'd in
 * the current context.
 */
static void
IndexInfoRow(HnswCheckState *cs, IndexCounts *counts, Datum *values,
			 bool *nulls)
{
	int			n = 0;

	/* elements_per_level[l]: elements present on level l (top level >= l) */
	for (int l = counts->maxLevel - 1; l >= 0; l--)
		counts->perLevel[l] += counts->perLevel[l + 1];

	values[n++] = Int64GetDatum(counts->nelements);
	values[n++] = Int64GetDatum(counts->nlive);
	values[n++] = Int64GetDatum(counts->ndeleted);
	values[n++] = Int64GetDatum(counts->nheaptids);
	if (counts->maxLevel >= 0)
	{
		Datum		levels[HNSW_MAX_LEVEL + 1];

		for (int l = 0; l <= counts->maxLevel; l++)
			levels[l] = Int64GetDatum(counts->perLevel[l]);
		values[n++] = Int32GetDatum(counts->maxLevel);
		values[n++] = PointerGetDatum(construct_array(levels,
													  counts->maxLevel + 1,
													  INT8OID, sizeof(int64),
													  FLOAT8PASSBYVAL,
													  TYPALIGN_DOUBLE));
	}
	else
	{
		nulls[n++] = true;
		nulls[n++] = true;
	}
	if (counts->nlive > 0)
	{
		values[n++] = Float8GetDatum((double) counts->degreeSum / counts->nlive);
		values[n++] = Int32GetDatum(counts->minDegree);
	}
	else
	{
		nulls[n++] = true;
		nulls[n++] = true;
	}
	if (ItemPointerIsValid(&cs->meta.entryPoint))
	{
		ItemPointer ep = palloc(sizeof(ItemPointerData));

		*ep = cs->meta.entryPoint;
		values[n++] = PointerGetDatum(ep);
		values[n++] = Int32GetDatum(cs->meta.entryLevel);
	}
	else
	{
		nulls[n++] = true;
		nulls[n++] = true;
	}
	values[n++] = Int64GetDatum(cs->nblocks);
	values[n++] = Int64GetDatum(counts->elementPages);
	values[n++] = Int64GetDatum(counts->freePages);
	if (counts->nlive > 0)
		values[n++] = Float8GetDatum((double) cs->nblocks * BLCKSZ / counts->nlive);
	else
		nulls[n++] = true;
	values[n++] = Int32GetDatum(cs->meta.m);
	values[n++] = Int32GetDatum(cs->meta.efConstruction);
	values[n++] = Int32GetDatum(cs->meta.dimensions);
	values[n++] = NameGetDatum(OpclassName(cs->index));
	values[n++] = Int32GetDatum(cs->meta.version);
	if (cs->meta.insertPage != InvalidBlockNumber)
		values[n++] = Int64GetDatum(cs->meta.insertPage);
	else
		nulls[n++] = true;
	values[n++] = CStringGetTextDatum(HnswCodeKindName(cs->meta.exactKind));
	values[n++] = CStringGetTextDatum(HnswCodeKindName(cs->meta.codeKind));
	values[n++] = Int64GetDatum(cs->nchunks);
	values[n++] = Int64GetDatum(counts->vectorPages);
	values[n++] = Int64GetDatum(cs->ncut);
	if (HnswQuantIsInt8(cs->meta.codeKind))
		values[n++] = Int64GetDatum(cs->nlossless);
	else
		nulls[n++] = true;
	Assert(n == 26);
}

/*
 * hnsw.index_info(index regclass): statistics of an hnsw index, read from
 * its pages.  Takes AccessShareLock on the index (concurrent inserts and
 * vacuum go on, so the numbers are a snapshot taken page by page) and a
 * share lock on one page at a time.  Malformed pages or tuples raise
 * ERRCODE_INDEX_CORRUPTED, as in verify_index.  See src/README "Index
 * statistics and verification" for the meaning of each column.
 */
Datum
hnsw_index_info(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	TupleDesc	tupdesc;
	HnswCheckState cs;
	BufferAccessStrategy strategy = GetAccessStrategy(BAS_BULKREAD);
	IndexCounts counts;
	Datum		values[26];
	bool		nulls[26] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	memset(&cs, 0, sizeof(cs));
	memset(&counts, 0, sizeof(counts));
	counts.minDegree = INT_MAX;
	counts.maxLevel = -1;
	cs.index = OpenIndexChecked(relid, AccessShareLock);
	cs.nblocks = RelationGetNumberOfBlocks(cs.index);
	cs.heapBlocks = InvalidBlockNumber;
	CheckMeta(&cs);

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < cs.nblocks; blkno++)
	{
		Buffer		buf;
		int			onPage = 0;
		int64		chunksBefore = cs.nchunks;
		int64		cutBefore = cs.ncut;

		CHECK_FOR_INTERRUPTS();
		buf = ReadCheckedPage(&cs, blkno, strategy);
		if (!PageIsNew(BufferGetPage(buf)))
			onPage = CountPage(&cs, BufferGetPage(buf), blkno, &counts);
		UnlockReleaseBuffer(buf);
		CheckMissingTail(&cs, strategy);
		if (onPage > 0 || cs.ncut > cutBefore)
			counts.elementPages++;
		else if (cs.nchunks == chunksBefore)
			counts.freePages++;
		if (cs.nchunks > chunksBefore)
			counts.vectorPages++;
	}
	CheckNoTailDue(&cs, InvalidBlockNumber);
	CheckMissingTail(&cs, strategy);

	IndexInfoRow(&cs, &counts, values, nulls);
	FreeAccessStrategy(strategy);
	relation_close(cs.index, AccessShareLock);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}

/*
 * Remember an element found by the first pass.  The list, with the walk of
 * the third pass, must fit in maintenance_work_mem.
 */
static void
RememberElement(HnswVerifyState *vs, BlockNumber blkno, OffsetNumber off,
				HnswElementTuple tup)
{
	ItemPointerData tid;

	ItemPointerSet(&tid, blkno, off);
	if (!HnswTidListAdd(&vs->list, &tid, tup->level, HnswTupleOwnHint(tup),
						tup->deleted != 0, vs->memLimit))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("index \"%s\" has too many elements to verify in maintenance_work_mem",
						RelationGetRelationName(vs->cs.index)),
				 errdetail("Verification needs %zu bytes per element.",
						   sizeof(HnswTidElement) + 2 * sizeof(uint32)),
				 errhint("Raise maintenance_work_mem.")));
	if (!tup->deleted)
		vs->nlive++;
}

/*
 * Check the links of an element tuple against the elements of the first
 * pass: a link to a line pointer holding no element is dangling, a link on
 * level lc to an element whose top level is below lc is stale, and so is a
 * link on level 0 whose hint names another filter column value than its
 * element's (both come of a tuple freed by vacuum and its space reused).
 * Both are counted, not raised (see src/README).  Links on level 0 are
 * counted for the element they lead to (vs->inDegree).
 */
static void
CheckLinks(HnswVerifyState *vs, HnswElementTuple tup)
{
	char	   *slots = HnswTupleGetSlots(tup);
	int			m = vs->cs.meta.m;
	uint8	   *hints = HnswTupleHints(tup, m);

	for (int lc = 0; lc <= tup->level; lc++)
	{
		int			start = HNSW_LEVEL_START(lc, m);
		int			cap = HNSW_LEVEL_CAPACITY(lc, m);

		for (int i = start; i < start + cap; i++)
		{
			uint32		e;

			if (!ItemPointerIsValid(HnswSlotTid(slots, i)))
				continue;
			e = HnswTidListFind(&vs->list, HnswSlotTid(slots, i));
			vs->links++;
			if (e == HNSW_REACH_NONE)
				vs->danglingLinks++;
			else if (vs->list.elements[e].level < lc)
				vs->staleLinks++;
			else if (lc == 0)
			{
				vs->inDegree[e]++;
				if (hints != NULL && hints[i] != HNSW_HINT_UNKNOWN &&
					hints[i] != vs->list.elements[e].hint)
					vs->staleLinks++;
			}
		}
	}
}

/*
 * Third pass of verify_index: the walk of hnswreach.c from the entry point
 * over the links of level 0, one element page read (share lock) per
 * element reached; count the live elements not reached.
 */
static void
CountUnreachable(HnswVerifyState *vs, BufferAccessStrategy strategy)
{
	HnswCheckState *cs = &vs->cs;
	HnswLayout	layout = CheckLayout(cs);
	HnswReach	reach;
	uint32		ep;

	if (vs->list.n == 0)
		return;
	vs->list.index = cs->index;
	vs->list.layout = &layout;
	vs->list.strategy = strategy;
	HnswReachInit(&reach, vs->list.n, HnswTidListLinks, &vs->list);

	if (ItemPointerIsValid(&cs->meta.entryPoint))
	{
		ep = HnswTidListFind(&vs->list, &cs->meta.entryPoint);
		if (ep == HNSW_REACH_NONE)
			HNSW_CORRUPT(cs->index, "has an entry point that is not an element",
						 "The entry point (%u,%u) holds no element.",
						 ItemPointerGetBlockNumber(&cs->meta.entryPoint),
						 ItemPointerGetOffsetNumber(&cs->meta.entryPoint));
		if (vs->list.elements[ep].level != cs->meta.entryLevel)
			HNSW_CORRUPT(cs->index, "has an entry point on the wrong level",
						 "The metapage says level %d; the element at (%u,%u) has level %u.",
						 (int) cs->meta.entryLevel,
						 ItemPointerGetBlockNumber(&cs->meta.entryPoint),
						 ItemPointerGetOffsetNumber(&cs->meta.entryPoint),
						 (unsigned) vs->list.elements[ep].level);
		HnswReachFrom(&reach, ep);
		/* the index cannot change under verify_index's ShareLock */
		if (reach.ngone > 0)
			elog(ERROR, "elements of index \"%s\" vanished during verification",
				 RelationGetRelationName(cs->index));
	}

	for (uint32 i = 0; i < vs->list.n; i++)
		if (!HnswReached(&reach, i) && !vs->list.elements[i].deleted)
			vs->unreachable++;
	HnswReachFree(&reach);
}

/*
 * Check the vectors out of line that the elements of one page link to:
 * links[0..nlinks) holds pairs of an element's TID and its link.  Each
 * chain is read whole (HnswReadExactVector, one page at a time) and counted
 * in vs->linkedChunks.  Called with no buffer lock held.
 */
static void
CheckOutOfLine(HnswVerifyState *vs, ItemPointerData *links, int nlinks)
{
	HnswCheckState *cs = &vs->cs;

	for (int i = 0; i < nlinks; i += 2)
	{
		int			nchunks;
		HnswCode   *exact = HnswReadExactVector(cs->index, &links[i + 1],
												cs->dim, &nchunks);

		if (exact == NULL)
			HNSW_CORRUPT(cs->index, "has an element whose vector out of line is not whole",
						 "Element (%u,%u) links to a chain of chunks from (%u,%u) that is not a vector of %d dimensions.",
						 ItemPointerGetBlockNumber(&links[i]),
						 ItemPointerGetOffsetNumber(&links[i]),
						 ItemPointerGetBlockNumberNoCheck(&links[i + 1]),
						 ItemPointerGetOffsetNumberNoCheck(&links[i + 1]),
						 cs->dim);
		if (exact->kind != cs->meta.exactKind)
			HNSW_CORRUPT(cs->index, "has an element whose vector out of line has the wrong encoding",
						 "Element (%u,%u): encoding %d; the index has %d.",
						 ItemPointerGetBlockNumber(&links[i]),
						 ItemPointerGetOffsetNumber(&links[i]),
						 (int) exact->kind,
						 (int) cs->meta.exactKind);
		vs->linkedChunks += nchunks;
		pfree(exact);
	}
}

/*
 * Verification's pass 1: check every page and element tuple and remember
 * every element (RememberElement).  Vectors out of line are read whole
 * through their elements' links, after the element's page is released.
 * One share buffer lock at a time; memory in the current context.
 */
static void
VerifyElements(HnswVerifyState *vs, BufferAccessStrategy strategy)
{
	HnswCheckState *cs = &vs->cs;
	ItemPointerData *links;

	links = palloc(sizeof(ItemPointerData) * MaxOffsetNumber);
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < cs->nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		int			nlinks = 0;

		CHECK_FOR_INTERRUPTS();
		buf = ReadCheckedPage(cs, blkno, strategy);
		page = BufferGetPage(buf);
		if (!PageIsNew(page))
		{
			OffsetNumber maxoff = PageGetMaxOffsetNumber(page);

			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			{
				HnswElementTuple tup = CheckElementTuple(cs, page, blkno, off);

				if (tup != NULL)
				{
					RememberElement(vs, blkno, off, tup);
					if (tup->type == HNSW_ELEMENT_TUPLE &&
						HnswVectorHasLink(HnswTupleVector(tup)))
					{
						ItemPointerSet(&links[nlinks], blkno, off);
						links[nlinks + 1] = *HnswVectorGetLink(HnswTupleVector(tup));
						nlinks += 2;
					}
				}
			}
		}
		UnlockReleaseBuffer(buf);
		CheckMissingTail(cs, strategy);
		CheckOutOfLine(vs, links, nlinks);
	}
	pfree(links);
	CheckNoTailDue(cs, InvalidBlockNumber);
	CheckMissingTail(cs, strategy);
}

/*
 * Verification's pass 2: check every link against the elements of pass 1
 * (CheckLinks, in TID order), and count the live elements that fewer than
 * m / 2 links lead to on level 0.  One share buffer lock at a time.
 */
static void
VerifyLinks(HnswVerifyState *vs, BufferAccessStrategy strategy)
{
	HnswCheckState *cs = &vs->cs;
	HnswLayout	layout = CheckLayout(cs);

	/*
	 * The links to each element, 4 bytes each, take less than the walk of
	 * pass 3 (HnswReachBytes) and are freed before it.
	 */
	vs->inDegree = palloc_extended(sizeof(uint32) * Max(vs->list.n, 1),
								   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < cs->nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBufferExtended(cs->index, MAIN_FORKNUM, blkno, RBM_NORMAL,
								 strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (!PageIsNew(page))
		{
			OffsetNumber maxoff = PageGetMaxOffsetNumber(page);

			for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
			{
				HnswElementTuple tup = HnswGetElement(cs->index, &layout, buf,
													  off);

				if (tup != NULL)
					CheckLinks(vs, tup);
			}
		}
		UnlockReleaseBuffer(buf);
	}

	/* live elements few links lead to on level 0 */
	for (uint32 i = 0; i < vs->list.n; i++)
		if (!vs->list.elements[i].deleted && vs->inDegree[i] < cs->meta.m / 2)
			vs->weaklyLinked++;
	pfree(vs->inDegree);
}

/*
 * Say what verification found that is no corruption: dangling or stale
 * links, chunks no element links to, unreachable elements (NOTICEs).
 */
static void
ReportFindings(HnswVerifyState *vs)
{
	HnswCheckState *cs = &vs->cs;

	if (vs->danglingLinks > 0 || vs->staleLinks > 0)
		ereport(NOTICE,
				(errmsg("index \"%s\" has " INT64_FORMAT " dangling and " INT64_FORMAT " stale neighbour links",
						RelationGetRelationName(cs->index),
						vs->danglingLinks, vs->staleLinks),
				 errdetail("Searches skip such links; they are left when an insert links to an element that a concurrent vacuum removes.")));
	if (cs->nchunks > vs->linkedChunks)
		ereport(NOTICE,
				(errmsg("index \"%s\" has " INT64_FORMAT " chunks of vectors out of line that no element links to",
						RelationGetRelationName(cs->index),
						cs->nchunks - vs->linkedChunks),
				 errdetail("They are left by a crash or an error between writing a vector and its element; REINDEX reclaims their space.")));
	if (vs->unreachable > 0)
		ereport(NOTICE,
				(errmsg("index \"%s\" has " INT64_FORMAT " live elements unreachable from the entry point",
						RelationGetRelationName(cs->index), vs->unreachable),
				 errdetail("Index scans cannot return their rows; this lowers recall but is not corruption."),
				 errhint("VACUUM links such elements (not in an inner-product index).")));
}

/*
 * Open the index relid for verify_index, and its table: return the table,
 * ShareLock'd (taken first), and open the index into cs->index
 * (AccessShareLock).  Error out if relid is no valid hnsw index.
 */
static Relation
OpenForVerify(Oid relid, HnswCheckState *cs)
{
	Oid			heapid;
	Relation	heap = NULL;

	/*
	 * Lock the table before the index, as amcheck does, so that we never
	 * wait for a table lock while holding the index's.  If relid is not an
	 * index, IndexGetRelation finds nothing and the open below complains.
	 */
	heapid = IndexGetRelation(relid, true);
	if (OidIsValid(heapid))
		heap = table_open(heapid, ShareLock);

	cs->index = OpenIndexChecked(relid, AccessShareLock);
	if (heap == NULL || heapid != IndexGetRelation(relid, false))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("could not open the table of index \"%s\"",
						RelationGetRelationName(cs->index))));
	if (!cs->index->rd_index->indisvalid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot verify index \"%s\"",
						RelationGetRelationName(cs->index)),
				 errdetail("Index is not valid.")));
	return heap;
}

/*
 * hnsw.verify_index(index regclass): check the structure of an hnsw index;
 * raise ERRCODE_INDEX_CORRUPTED with the block, offset and slot of the first
 * problem, or return a summary row.
 *
 * Locks: ShareLock on the index's table, taken before the index (the order
 * every writer uses), then AccessShareLock on the index.  ShareLock blocks
 * INSERT, UPDATE, DELETE and VACUUM for the duration, so the three passes
 * see one stable graph.  Pages are read one at a time under a share buffer
 * lock.  Memory: under 20 bytes per element in a context of its own, bounded by
 * maintenance_work_mem.
 */
Datum
hnsw_verify_index(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	heap;
	TupleDesc	tupdesc;
	HnswVerifyState vs;
	HnswCheckState *cs = &vs.cs;
	BufferAccessStrategy strategy;
	MemoryContext cxt;
	MemoryContext oldcxt;
	Datum		values[7];
	bool		nulls[7] = {0};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	memset(&vs, 0, sizeof(vs));
	heap = OpenForVerify(relid, cs);
	cs->nblocks = RelationGetNumberOfBlocks(cs->index);
	cs->heapBlocks = RelationGetNumberOfBlocks(heap);
	CheckMeta(cs);

	cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw verify",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	vs.memLimit = (Size) maintenance_work_mem * 1024;
	strategy = GetAccessStrategy(BAS_BULKREAD);

	/* pass 1: pages and element tuples */
	VerifyElements(&vs, strategy);
	if (vs.list.n > 0 && !ItemPointerIsValid(&cs->meta.entryPoint) &&
		vs.nlive > 0)
		ereport(NOTICE,
				(errmsg("index \"%s\" has elements but no entry point",
						RelationGetRelationName(cs->index)),
				 errdetail("This is left by a crash during the first insert into an empty index; the next insert sets the entry point.")));

	/* pass 2: every link; pass 3: reachability from the entry point */
	VerifyLinks(&vs, strategy);
	CountUnreachable(&vs, strategy);
	ReportFindings(&vs);

	MemoryContextSwitchTo(oldcxt);
	values[0] = Int64GetDatum(cs->nblocks);
	values[1] = Int64GetDatum(vs.list.n);
	values[2] = Int64GetDatum(vs.links);
	values[3] = Int64GetDatum(vs.danglingLinks);
	values[4] = Int64GetDatum(vs.staleLinks);
	values[5] = Int64GetDatum(vs.unreachable);
	values[6] = Int64GetDatum(vs.weaklyLinked);
	values[6] = Int64GetDatum(vs.weaklyLinked);

	FreeAccessStrategy(strategy);
	MemoryContextDelete(cxt);
	relation_close(cs->index, AccessShareLock);
	table_close(heap, ShareLock);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}
