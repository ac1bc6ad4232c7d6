/*-------------------------------------------------------------------------
 *
 * hnswscan.c
 *	  Index scans of hnsw: ambeginscan, amrescan, amgettuple, amendscan.
 *
 * A scan searches the graph once with ef_search on its first call and
 * returns that result nearest first.  When the executor asks for more (a
 * filter rejected rows), the search resumes from every element seen but not
 * yet returned, one batch of ef_search at a time, until hnsw.max_scan_tuples
 * heap tuples have been returned or the graph is exhausted.  See src/README
 * "Scans".
 *
 * An i8 index re-ranks each batch with the exact vectors, read from the
 * table, lazily: a candidate's vector is read only while a lower bound of
 * its exact distance is below the nearest exact distance not yet returned.
 * See src/README "Quantization".
 *
 * src/hnswscan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/relscan.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "hnsw.h"
#include "lib/binaryheap.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/*
 * A heap TID of a re-ranked batch.  The heap TIDs of one element may have
 * different vectors (i8 codes that are equal are shared, see src/README
 * "Quantization"), so each is ranked on its own.
 */
typedef struct HnswRerankItem
{
	ItemPointerData heaptid;
	bool		refined;		/* code read again (RefineItem) */
	bool		known;			/* exact is known (vectors out of line: read
								 * for one of the element's heap TIDs) */
	uint8		sibling;		/* which heap TID of its element: the items
								 * of an element follow one another */
	HnswElement element;
	double		bound;			/* lower bound of the exact distance */
	float		exact;			/* exact distance, once read */
} HnswRerankItem;

typedef struct HnswScanOpaqueData
{
	MemoryContext cxt;			/* everything of the current scan */
	MemoryContext batchCxt;		/* candidates of the current batch */
	int			batchEf;		/* ef of the next batch */
	HnswGraph  *graph;			/* cache of the elements read */
	bool		started;
	bool		exhausted;		/* nothing more to search */
	HnswFilter *filter;			/* conditions on the filter column, or NULL */
	bool		lastBatch;		/* the current batch found fewer than its
								 * ef: it reached every element it could,
								 * so no batch follows */
	HnswCode	   *query;
	HnswCandidate *results;		/* current batch, nearest first */
	int			nresults;
	int			next;			/* next result to return from */
	int			nextTid;		/* its next heap TID */
	List	   *seen;			/* elements whose distance is known */
	HnswCandidate *descent;		/* a filtered scan's entries on level 0 */
	int			ndescent;
	int64		ntuples;		/* heap TIDs returned so far */
	float		lastDistance;	/* of the last one (strict_order) */
	Size		firstMemory;	/* allocated after the first batch */
	uint64		scanId;			/* this search, for HnswRememberDistance */
	bool		exactDistances; /* results carry the operator's distance,
								 * bit for bit */

	/*
	 * A query with no distance to any row (NULL; the zero vector under
	 * cosine): every heap TID of the index, page by page (NextEveryRow).
	 */
	bool		everyRow;
	bool		nanDistance;	/* their distance is NaN, not NULL */
	HnswCode	   *zeroQuery;		/* the zero vector, for HnswRememberDistance */
	BlockNumber nextBlock;		/* next page to read */
	BlockNumber nblocks;		/* pages when the scan started */
	ItemPointerData *pageTids;	/* heap TIDs of the page read last */
	int			npageTids;
	int			maxPageTids;

	/*
	 * Re-ranking by lower bounds of the exact distances: with the vectors
	 * of the table (i8 indexes), or with the index's own vectors out of
	 * line (rerankIndex).
	 */
	bool		rerank;
	bool		rerankIndex;
	double		queryL1;		/* the query's L1 norm, for the bound */
	double		queryL2;		/* and its Euclidean norm */
	HnswRerankItem *items;		/* current batch */
	int			nitems;
	binaryheap *pending;		/* items not read yet, lowest bound first */
	binaryheap *ready;			/* items read, nearest exact first */
	AttrNumber	heapAttno;		/* the indexed column */
	IndexFetchTableData *fetch; /* heap access, kept across rescans */
	TupleTableSlot *slot;
	MemoryContext tmpCxt;		/* one exact vector at a time */
	int64		nexact;			/* exact vectors read (DEBUG1 at the end) */
	BlockNumber heapBlocks;		/* of the table, as far as known
								 * (HnswCheckHeapTid) */
} HnswScanOpaqueData;

typedef HnswScanOpaqueData *HnswScanOpaque;

/* numbers the searches of this backend */
static uint64 hnsw_scan_counter = 0;

static void DropFiltered(HnswScanOpaque so);
static HnswCandidate *FilteredEntries(IndexScanDesc scan,
									  HnswCandidate *entries, int *nentries);
static HnswCandidate *SeededEntries(IndexScanDesc scan, HnswCandidate *entries,
									int *nentries);
static void LoadHarvested(HnswGraph *graph, HnswCandidate *out, int *n);
static bool SeededChoiceClear(int hintPassing, int hintSlots, int m);
static int	WalkOnUnfiltered(HnswScanOpaque so, HnswCandidate *entries);
static void CountHints(const HnswFilter *filter, const uint8 *hints, int m,
					   int *slots, int *passing, bool *hinted);
static bool Correlated(const HnswFilter *filter, const uint8 *hints, int n);

/*
 * A filtered scan samples the index's elements from its first page on, up
 * to HNSW_FILTER_SAMPLE of them, until HNSW_FILTER_ENTRIES pass, and reads
 * the filter column of the level-0 neighbours of the first HNSW_FILTER_PROBE
 * of those; if at least the fraction HNSW_FILTER_WALK of these neighbours
 * pass, the elements that pass are linked among themselves well enough for
 * the search to walk through them alone, starting from those found
 * (src/README "Filter column").  So they are too, through the hints beside
 * the links, where HnswScatteredWalkPays.
 */
#define HNSW_FILTER_SAMPLE		2000
#define HNSW_FILTER_ENTRIES		32
#define HNSW_FILTER_PROBE		8
#define HNSW_FILTER_WALK		0.4

/*
 * Hints of the elements read, enough to tell a filter too scattered for
 * any walk but the seeded one (SeededEntries) without reading on
 */
#define HNSW_FILTER_HINT_SAMPLE	2048

/*
 * ... or, while the share they give is near the seeded walk's bound
 * (SeededChoiceClear), up to this many
 */
#define HNSW_FILTER_HINT_SAMPLE_MAX	(8 * HNSW_FILTER_HINT_SAMPLE)

/*
 * Prepare an index scan.
 */
IndexScanDesc
hnswbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HnswScanOpaque so = palloc0(sizeof(HnswScanOpaqueData));

	so->cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw scan",
									ALLOCSET_DEFAULT_SIZES);
	so->tmpCxt = AllocSetContextCreate(CurrentMemoryContext,
									   "hnsw scan exact vector",
									   ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	return scan;
}

/*
 * Start or restart a scan with new keys: forget the previous search.
 */
void
hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys,
		   int norderbys)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys,
				scan->numberOfOrderBys * sizeof(ScanKeyData));

	MemoryContextReset(so->cxt);
	if (so->fetch != NULL)
		table_index_fetch_reset(so->fetch);
	so->rerank = false;
	so->rerankIndex = false;
	so->items = NULL;
	so->nitems = 0;
	so->pending = NULL;
	so->ready = NULL;
	so->batchCxt = NULL;
	so->batchEf = hnsw_ef_search;
	so->graph = NULL;
	so->started = false;
	so->exhausted = false;
	so->lastBatch = false;
	so->query = NULL;
	so->results = NULL;
	so->nresults = 0;
	so->next = 0;
	so->nextTid = 0;
	so->seen = NIL;
	so->descent = NULL;
	so->ndescent = 0;
	so->ntuples = 0;
	so->lastDistance = -INFINITY;
	so->exactDistances = false;
	so->everyRow = false;
	so->nanDistance = false;
	so->zeroQuery = NULL;
	so->pageTids = NULL;
	so->npageTids = 0;
	so->maxPageTids = 0;
	HnswForgetDistance();
}

/*
 * Start a scan that returns every heap TID of the index (a query at no
 * distance from anything, see FirstSearch): the pages of the index as it is
 * now, one after another.  Elements inserted later are on later pages or in
 * reused space; their rows are not in the scan's MVCC snapshot.
 */
static void
StartEveryRow(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	HnswMetaPageData meta;

	/* the layout the pages are checked against (HnswGetElement) */
	HnswGraphReadMeta(so->graph, &meta);
	so->everyRow = true;
	so->nextBlock = HNSW_METAPAGE_BLKNO + 1;
	so->nblocks = RelationGetNumberOfBlocks(scan->indexRelation);
	so->npageTids = 0;
	so->nextTid = 0;
}

/*
 * Read the heap TIDs of the live elements on the next page of an every-row
 * scan into so->pageTids.  Return false when no page is left.  Takes and
 * releases a share lock on the page; the array, in the scan's memory,
 * grows to the most heap TIDs a page held.
 */
static bool
NextEveryRowPage(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	Buffer		buf;
	Page		page;
	OffsetNumber maxoff;

	if (so->nextBlock >= so->nblocks)
		return false;
	buf = HnswReadBuffer(scan->indexRelation, so->nextBlock++);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	HnswCheckPage(scan->indexRelation, buf);
	page = BufferGetPage(buf);
	maxoff = PageIsNew(page) ? InvalidOffsetNumber : PageGetMaxOffsetNumber(page);
	if (so->maxPageTids < (int) maxoff * HNSW_HEAPTIDS)
	{
		so->maxPageTids = (int) maxoff * HNSW_HEAPTIDS;
		so->pageTids = so->pageTids == NULL ?
			palloc(sizeof(ItemPointerData) * so->maxPageTids) :
			repalloc(so->pageTids, sizeof(ItemPointerData) * so->maxPageTids);
	}
	so->npageTids = 0;
	so->nextTid = 0;
	for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
	{
		HnswElementTuple tup = HnswGetElement(scan->indexRelation,
											  HnswGraphLayout(so->graph),
											  buf, off);
		ItemPointerData element;

		if (tup == NULL || tup->deleted)
			continue;
		if (so->filter != NULL)
		{
			HnswKey		k;

			HnswTupleGetKey(tup, &k);
			if (!HnswFilterMatches(so->filter, &k))
				continue;
		}
		ItemPointerSet(&element, BufferGetBlockNumber(buf), off);
		/* never past the array, whatever the page says */
		for (int i = 0; i < Min(HnswTupleTidCapacity(tup), HNSW_HEAPTIDS); i++)
		{
			if (!ItemPointerIsValid(&tup->heaptids[i]))
				continue;
			if (scan->heapRelation != NULL)
				HnswCheckHeapTid(scan->indexRelation, scan->heapRelation,
								 &so->heapBlocks, &tup->heaptids[i], &element);
			so->pageTids[so->npageTids++] = tup->heaptids[i];
		}
	}
	UnlockReleaseBuffer(buf);
	return true;
}

/*
 * Return the next heap TID of an every-row scan in scan->xs_heaptid, or
 * false when every page has been read.  The distance the executor may take
 * (hnswplan.c) is the operator's: NaN for the zero vector under cosine,
 * NULL (nothing remembered) for a NULL query.
 */
static bool
NextEveryRow(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	while (so->nextTid >= so->npageTids)
	{
		CHECK_FOR_INTERRUPTS();
		if (!NextEveryRowPage(scan))
			return false;
	}
	scan->xs_heaptid = so->pageTids[so->nextTid++];
	scan->xs_recheck = false;
	scan->xs_recheckorderby = false;
	if (so->nanDistance)
		HnswRememberDistance(RelationGetRelid(scan->indexRelation),
							 &scan->xs_heaptid, so->graph, NAN, false,
							 so->scanId, so->zeroQuery);
	else
		HnswForgetDistance();
	return true;
}

/*
 * Decide, once the graph is open, which distances the scan returns: those of
 * the rows themselves when an i8 index re-ranks with the table's vectors
 * (so->rerank), and whether they are the operator's own, bit for bit
 * (so->exactDistances).
 */
static void
DecideDistances(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	/*
	 * An i8 index re-ranks with the table's vectors: only a plain column
	 * can be read from the heap tuple (an expression would have to be
	 * evaluated again), and only the built-in distances have a bound.
	 * Indexes with vectors out of line re-rank with those instead.
	 */
	if (hnsw_rerank && scan->heapRelation != NULL &&
		HnswQuantIsInt8(so->graph->codeKind) &&
		!HnswGraphOutOfLine(so->graph) &&
		so->graph->metric != HNSW_METRIC_OTHER &&
		scan->indexRelation->rd_index->indkey.values[0] != 0)
	{
		so->rerank = true;
		so->heapAttno = scan->indexRelation->rd_index->indkey.values[0];
	}

	/*
	 * Indexes with vectors out of line re-rank with those, reading them in
	 * the order of the bounds of their codes too (HnswCodeLowerBound; a
	 * code without a bound has -Inf, which reads every candidate first);
	 * hnsw.rerank = off returns the order of the codes.  Sparse and bit
	 * elements are re-ranked all at once, always (RerankBatch).
	 */
	if (hnsw_rerank && HnswGraphOutOfLine(so->graph) &&
		(so->graph->codeKind == HNSW_CODE_BF16 ||
		 so->graph->codeKind == HNSW_CODE_I8))
	{
		so->rerank = true;
		so->rerankIndex = true;
	}
	if (so->rerank)
	{
		double		l2 = 0.0;

		so->queryL1 = 0.0;
		for (int i = 0; i < so->query->dim; i++)
		{
			double		x = HnswCodeFloats(so->query)[i];

			so->queryL1 += fabs(x);
			l2 += x * x;
		}
		so->queryL2 = sqrt(l2);
	}

	/*
	 * Distances computed on the column's own values (an f32 index's
	 * elements, halfvec, sparsevec and bit elements, or the rows re-ranking
	 * reads) are the operator's own, bit for bit (same kernel, same
	 * values; the vectors out of line are the column's values when stored
	 * in the column's own kind): the executor may take them (see
	 * hnswplan.c).  Codes, normalised copies, converted arrays and Jaccard
	 * (rounded to float) are not.
	 */
	so->exactDistances = !so->graph->arrays && !so->graph->normalize &&
		(so->graph->metric == HNSW_METRIC_L2 ||
		 so->graph->metric == HNSW_METRIC_IP ||
		 so->graph->metric == HNSW_METRIC_L1 ||
		 so->graph->metric == HNSW_METRIC_HAMMING) &&
		((so->rerank && !so->rerankIndex) ||
		 (so->rerankIndex && so->graph->exactKind == so->graph->valueKind) ||
		 (so->graph->codeKind == so->graph->valueKind &&
		  !HnswGraphOutOfLine(so->graph)));
}

/*
 * The first search: greedy descent from the entry point, then ef_search
 * candidates on level 0 (so->results, in so->batchCxt), and which distances
 * the scan returns (DecideDistances).  A NULL or zero query scans every row
 * instead (StartEveryRow).
 */
static void
FirstSearch(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	HnswMetaPageData meta;
	HnswElement ep;
	HnswCandidate *entries;
	int			nentries = 1;
	ScanKey		key = &scan->orderByData[0];

	so->graph = HnswCreateGraph(scan->indexRelation, so->cxt, 0);
	so->scanId = ++hnsw_scan_counter;
	/* conditions on the filter column (WHERE label = 3), if any */
	so->filter = scan->numberOfKeys > 0 ?
		HnswFilterFromScanKeys(scan->keyData, scan->numberOfKeys) : NULL;

	/*
	 * A NULL query is at a NULL distance from every row, as the operator
	 * says: no order, so every row the index holds, as a sequential scan
	 * returns every row.
	 */
	if (key->sk_flags & SK_ISNULL)
	{
		StartEveryRow(scan);
		return;
	}
	so->query = HnswPrepareVector(so->graph, key->sk_argument);

	/* dimensions are checked before any element is compared with it */
	HnswReadMeta(scan->indexRelation, &meta);
	so->graph->dim = meta.dimensions;
	so->graph->m = meta.m;
	so->graph->codeKind = meta.codeKind;
	so->graph->exactKind = meta.exactKind;

	/*
	 * The zero vector has no direction: its cosine distance to every row is
	 * NaN, which sorts after every number, so again every row, in any order.
	 * Its dimensions must still match, as for the operator.
	 */
	if (so->query == NULL)
	{
		so->zeroQuery = HnswValueCode(so->graph, key->sk_argument);
		if (meta.dimensions > 0)
			HnswCheckVector(so->graph, so->zeroQuery);
		so->nanDistance = true;
		StartEveryRow(scan);
		return;
	}

	if (meta.dimensions > 0)
		HnswCheckVector(so->graph, so->query);
	so->graph->query = so->query;
	ep = HnswGetEntryPoint(so->graph, &meta);
	if (ep == NULL)
	{
		so->exhausted = true;
		return;
	}

	entries = palloc(sizeof(HnswCandidate));
	entries[0].element = ep;
	entries[0].distance = ep->queryDistance;
	entries = HnswDescend(so->graph, so->query, entries, &nentries,
						  ep->level, 0);

	/*
	 * Every level is a search of its own; on level 0 the visited marks then
	 * stay for the rest of the scan, so later batches only go outwards.
	 */
	HnswNewSearch(so->graph);
	if (so->filter != NULL)
	{
		so->descent = palloc(sizeof(HnswCandidate) * nentries);
		memcpy(so->descent, entries, sizeof(HnswCandidate) * nentries);
		so->ndescent = nentries;
		entries = FilteredEntries(scan, entries, &nentries);
	}
	so->batchCxt = AllocSetContextCreate(so->cxt, "hnsw scan batch",
										 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(so->batchCxt);
	so->results = HnswSearchLayer(so->graph, so->query, entries, nentries,
								  hnsw_ef_search, 0, &so->nresults, &so->seen);
	so->lastBatch = so->nresults < hnsw_ef_search;
	DropFiltered(so);
	MemoryContextSwitchTo(so->cxt);

	DecideDistances(scan);
}

/*
 * Take the elements whose filter column fails the scan's conditions out of
 * the current batch, as if returned: the executor never sees their rows,
 * which it would fetch from the table only to reject them (src/README
 * "Filter column").  For the unfiltered walk, which goes through them as
 * through any element.
 */
static void
DropFiltered(HnswScanOpaque so)
{
	int			n = 0;

	/* a filtered walk's batches hold passing elements only (SL_RESULT) */
	if (so->filter == NULL || so->graph->filter != NULL)
		return;
	for (int i = 0; i < so->nresults; i++)
	{
		HnswElement e = so->results[i].element;

		if (HnswFilterMatches(so->filter, &e->key))
			so->results[n++] = so->results[i];
		else
			e->returned = true;
	}
	so->nresults = n;
}

/*
 * Choose how a filtered scan walks level 0, and return its entries there
 * (*nentries of them, in the current context).  Samples the elements of
 * the index page by page from the first (HNSW_FILTER_SAMPLE at most) until
 * HNSW_FILTER_ENTRIES of them pass the filter, and learns the filter value
 * of the neighbours of the first HNSW_FILTER_PROBE (from the hints beside
 * their links, or reading them).  If enough of these
 * pass (the fraction HNSW_FILTER_WALK), or with hints enough of them for
 * HnswScatteredWalkPays, the walk goes only through elements that pass
 * (graph->filter; see PageExpand for how it stays connected): it starts
 * from the descent's entries and from the elements found, and never
 * compares an element that fails.  Fewer, down to HnswSeededWalkPays: the
 * same walk from near the query (SeededEntries); the hints of every
 * element read tell such a filter early (HNSW_FILTER_HINT_SAMPLE), so the
 * sampling stops there.  Otherwise (a filter that very few elements pass,
 * an index without hints, or hnsw.filtered_walk off) the walk is the
 * unfiltered one, and DropFiltered takes the elements that fail out of
 * each batch.
 *
 * Share locks one page at a time; none on entry or exit.
 */
static HnswCandidate *
FilteredEntries(IndexScanDesc scan, HnswCandidate *entries, int *nentries)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	HnswGraph  *graph = so->graph;
	Relation	index = scan->indexRelation;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	ItemPointerData found[HNSW_FILTER_ENTRIES];
	ItemPointerData probe[HNSW_FILTER_PROBE * 2 * HNSW_MAX_M];
	uint8		probeHint[HNSW_FILTER_PROBE * 2 * HNSW_MAX_M];
	int			nfound = 0;
	int			nprobe = 0;
	int			nread = 0;
	int			passing = 0;
	bool		hinted = true;	/* every probed element has hints */
	bool		fewHinted = false;	/* the hints say that few pass */
	bool		seeded;
	int			hintSlots = 0;	/* hints of the elements read */
	int			hintPassing = 0;	/* of those, the ones that may pass */
	bool		sampleHinted = true;	/* every element read has hints */
	bool		walk;
	HnswCandidate *result;
	int			n = 0;

	if (!hnsw_filtered_walk)
	{
		ereport(DEBUG1,
				(errmsg_internal("hnsw scan of \"%s\" walks every element",
								 RelationGetRelationName(index)),
				 errdetail_internal("hnsw.filtered_walk is off.")));
		return entries;
	}

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1;
		 blkno < nblocks && nfound < HNSW_FILTER_ENTRIES &&
		 nread < HNSW_FILTER_SAMPLE; blkno++)
	{
		Buffer		buf = HnswReadBuffer(index, blkno);
		Page		page;
		OffsetNumber maxoff;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		HnswCheckPage(index, buf);
		page = BufferGetPage(buf);
		maxoff = PageIsNew(page) ? InvalidOffsetNumber :
			PageGetMaxOffsetNumber(page);
		for (OffsetNumber off = FirstOffsetNumber;
			 off <= maxoff && nfound < HNSW_FILTER_ENTRIES; off++)
		{
			HnswElementTuple tup = HnswGetElement(index,
												  HnswGraphLayout(graph),
												  buf, off);
			HnswKey		key;

			if (tup == NULL || tup->deleted)
				continue;
			nread++;
			CountHints(so->filter, HnswTupleHints(tup, graph->m), graph->m,
					   &hintSlots, &hintPassing, &sampleHinted);
			HnswTupleGetKey(tup, &key);
			if (!HnswFilterMatches(so->filter, &key))
				continue;
			ItemPointerSet(&found[nfound], blkno, off);
			if (nfound < HNSW_FILTER_PROBE)
			{
				hinted &= HnswTupleHints(tup, graph->m) != NULL;
				nprobe += HnswTupleLinks(tup, graph->m, 0, probe + nprobe,
										 probeHint + nprobe);
			}
			nfound++;
		}
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();

		/*
		 * The hints of the elements read tell what share of the elements
		 * pass; when too few for any walk but the seeded one, stop here
		 * (once they tell whether the seeded one pays): reading on for
		 * HNSW_FILTER_ENTRIES that pass would cost more than the search
		 * itself
		 */
		if (sampleHinted && hintSlots >= HNSW_FILTER_HINT_SAMPLE &&
			(double) hintPassing * 4 * graph->m * graph->m <
			(double) graph->m * hintSlots &&
			SeededChoiceClear(hintPassing, hintSlots, graph->m) &&
			nfound > 0 && !Correlated(so->filter, probeHint, nprobe))
		{
			fewHinted = true;
			break;
		}
	}

	/* the neighbours of those that pass: do they pass too? */
	for (int i = 0; i < nprobe && !fewHinted; i++)
	{
		HnswElement e;

		/* a hint that names the value says without reading the element */
		if (so->filter->hintFails[probeHint[i]] ||
			so->filter->hintPasses[probeHint[i]])
		{
			passing += so->filter->hintPasses[probeHint[i]] ? 1 : 0;
			continue;
		}
		e = HnswLookupElement(graph, &probe[i]);
		if (!e->loaded)
		{
			Buffer		buf = HnswReadBuffer(index, ItemPointerGetBlockNumber(&probe[i]));
			HnswElementTuple tup;

			LockBuffer(buf, BUFFER_LOCK_SHARE);
			tup = HnswGetElement(index, HnswGraphLayout(graph), buf,
								 ItemPointerGetOffsetNumber(&probe[i]));
			if (tup != NULL)
			{
				HnswKey		key;

				HnswTupleGetKey(tup, &key);
				passing += HnswFilterMatches(so->filter, &key) ? 1 : 0;
			}
			UnlockReleaseBuffer(buf);
		}
		else
			passing += HnswFilterMatches(so->filter, &e->key) ? 1 : 0;
	}

	/*
	 * Few neighbours pass, and without hints, or with too few within two
	 * hops to walk on from anywhere: fewer still, a walk from near the query
	 * if enough of them to walk on (the neighbours probed are few, so the
	 * share of the elements read that pass counts too), else the unfiltered
	 * walk
	 */
	if (fewHinted)
	{
		walk = false;
		seeded = HnswSeededWalkPays((double) hintPassing / hintSlots,
									graph->m);
	}
	else
	{
		/*
		 * The share of neighbours that pass: the hints of every element
		 * read are a larger sample of it than the neighbours probed (3 of
		 * 256 probed passed a 3% filter in TAP 018 once)
		 */
		double		share = nprobe > 0 ? (double) passing / nprobe : 0.0;

		if (sampleHinted && hintSlots >= HNSW_FILTER_HINT_SAMPLE)
			share = (double) hintPassing / hintSlots;
		walk = nfound > 0 && nprobe > 0 &&
			(passing >= HNSW_FILTER_WALK * nprobe ||
			 (hinted && HnswScatteredWalkPays(share, graph->m)));
		seeded = !walk && hinted && nfound > 0 && nprobe > 0 &&
			HnswSeededWalkPays(Max(share, (double) nfound / nread), graph->m);
	}
	if (!walk)
	{
		ereport(DEBUG1,
				(errmsg_internal(seeded ?
								 "hnsw scan of \"%s\" walks only elements that pass the filter, from those near the query" :
								 "hnsw scan of \"%s\" walks every element",
								 RelationGetRelationName(index)),
				 errdetail_internal("Of %d elements read, %d pass the filter, and %d of their %d neighbours probed; %d of %d hints say a neighbour may.",
									nread, nfound, passing, nprobe,
									hintPassing, hintSlots)));
		return seeded ? SeededEntries(scan, entries, nentries) : entries;
	}
	ereport(DEBUG1,
			(errmsg_internal("hnsw scan of \"%s\" walks only elements that pass the filter",
							 RelationGetRelationName(index)),
			 errdetail_internal("%d of %d of their neighbours pass it.",
								passing, nprobe)));

	graph->filter = so->filter;
	result = palloc(sizeof(HnswCandidate) * (*nentries + nfound));
	/* the descent's entries, near the query, whether they pass or not */
	for (int i = 0; i < *nentries; i++)
	{
		entries[i].element->visited = graph->searchTag;
		result[n++] = entries[i];
	}
	for (int i = 0; i < nfound; i++)
	{
		HnswElement e = HnswLookupElement(graph, &found[i]);

		/* an entry of the descent already, or changed since it was read */
		if (e->visited == graph->searchTag || !HnswLoadElement(graph, e))
			continue;
		e->visited = graph->searchTag;
		result[n].element = e;
		result[n].distance = e->queryDistance;
		n++;
	}
	*nentries = n;
	return result;
}

/*
 * Do the hints of the neighbours of elements that pass (hints[0..n)) say
 * that at least HNSW_FILTER_WALK of them may pass too: a filter correlated
 * with the vectors, whose elements are each other's neighbours?
 */
static bool
Correlated(const HnswFilter *filter, const uint8 *hints, int n)
{
	int			passing = 0;

	for (int i = 0; i < n; i++)
		if (!filter->hintFails[hints[i]])
			passing++;
	return passing >= HNSW_FILTER_WALK * n;
}

/*
 * Count the hints of an element tuple (hints, m: 2m of them, NULL if it has
 * none) that name a value, in *slots, and those that do not surely fail
 * filter in *passing; clear *hinted if it has none.
 */
static void
CountHints(const HnswFilter *filter, const uint8 *hints, int m, int *slots,
		   int *passing, bool *hinted)
{
	if (hints == NULL)
	{
		*hinted = false;
		return;
	}
	for (int i = 0; i < HNSW_LEVEL_CAPACITY(0, m); i++)
	{
		if (hints[i] == HNSW_HINT_UNKNOWN)
			continue;
		(*slots)++;
		if (!filter->hintFails[hints[i]])
			(*passing)++;
	}
}

/*
 * Do hintPassing of hintSlots hints that may pass tell on which side of the
 * seeded walk's bound (HnswSeededWalkPays) the filter lies: is their count
 * two standard deviations of a count of rare events (the square root of the
 * count at the bound) away from the bound's, or are they
 * HNSW_FILTER_HINT_SAMPLE_MAX?  From 2,048 hints, a filter of 1% at m = 16
 * (1.3 times the bound) was taken for one below it in about one index of
 * eight (test/t/018); from 16,384, a count of rare events puts that near
 * one in 400.
 */
static bool
SeededChoiceClear(int hintPassing, int hintSlots, int m)
{
	double		atBound = HNSW_FILTER_SEEDED_MIN / (4.0 * m * m) * hintSlots;
	double		diff = hintPassing - atBound;

	return hintSlots >= HNSW_FILTER_HINT_SAMPLE_MAX ||
		diff * diff >= 4.0 * atBound;
}

/*
 * Load the elements graph->harvested names (the level-0 neighbours, whose
 * hints may pass the filter, of the elements a search loaded), except those
 * visited already, and add each that passes to out[*n...], marked visited;
 * the tuple (header and vector) of each is prefetched HNSW_LOAD_AHEAD loads
 * ahead: most pass, and are compared.  graph->filter is
 * set, so those that fail are not loaded (HnswLoadElement).
 */
static void
LoadHarvested(HnswGraph *graph, HnswCandidate *out, int *n)
{
	HnswElement *todo = palloc(sizeof(HnswElement) *
							   Max(graph->nharvested, 1));
	int			ntodo = 0;

	for (int i = 0; i < graph->nharvested; i++)
	{
		HnswElement e = HnswLookupElement(graph, &graph->harvested[i]);

		if (e->visited == graph->searchTag)
			continue;
		e->visited = graph->searchTag;
		todo[ntodo++] = e;
	}
	for (int i = 0; i < ntodo + HNSW_LOAD_AHEAD; i++)
	{
		HnswElement e;

		if (i < ntodo)
			HnswPrefetchElement(graph, todo[i]);
		if (i < HNSW_LOAD_AHEAD)
			continue;
		e = todo[i - HNSW_LOAD_AHEAD];
		if (!HnswLoadElement(graph, e) || e->deleted)
			continue;
		out[*n].element = e;
		out[*n].distance = e->queryDistance;
		(*n)++;
	}
	pfree(todo);
	graph->nharvested = 0;
}

/*
 * The entries on level 0 of a walk through the elements that pass a filter
 * too scattered for a walk from anywhere (HnswSeededWalkPays), near the
 * query: first a search of level 0 without the filter, with ef_search,
 * from the descent's entries (*nentries of them), which collects the
 * neighbours of every element it loads whose hints may pass the filter
 * (graph->harvest, hnswsearch.c Harvest); the walk then starts from the
 * descent's entries, from the elements that search compared and that pass,
 * and from those neighbours that pass (LoadHarvested).  The search's
 * visited marks are dropped (a new search), so the walk meets those
 * elements again; they stay loaded, so no page is read twice, and since
 * their neighbours that may pass are entries already, the walk does not
 * step over those of them that fail (graph->seeded; hnswsearch.c
 * ExpandFiltered).  On Fashion-MNIST, grp = 7 (1%): recall@10 0.985 where
 * the walk from the elements that pass among those compared alone found
 * 0.92 (src/README "Filter column").  Return the entries (*nentries of
 * them), in the current context.  Share locks one page at a time.
 */
static HnswCandidate *
SeededEntries(IndexScanDesc scan, HnswCandidate *entries, int *nentries)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	HnswGraph  *graph = so->graph;
	List	   *seen = NIL;
	ListCell   *lc;
	HnswCandidate *result;
	int			nfirst;
	int			n = 0;

	graph->harvest = so->filter;
	(void) HnswSearchLayer(graph, so->query, entries, *nentries,
						   hnsw_ef_search, 0, &nfirst, &seen);
	graph->harvest = NULL;
	result = palloc(sizeof(HnswCandidate) *
					(*nentries + list_length(seen) + graph->nharvested));
	HnswNewSearch(graph);
	for (int i = 0; i < *nentries; i++)
	{
		entries[i].element->visited = graph->searchTag;
		result[n++] = entries[i];
	}
	foreach(lc, seen)
	{
		HnswCandidate *c = (HnswCandidate *) lfirst(lc);
		HnswElement e = c->element;

		if (e->visited == graph->searchTag || !e->loaded || e->deleted ||
			!HnswFilterMatches(so->filter, &e->key))
			continue;
		e->visited = graph->searchTag;
		result[n++] = *c;
	}
	list_free(seen);
	graph->filter = so->filter;
	LoadHarvested(graph, result, &n);
	graph->seeded = true;
	*nentries = n;
	return result;
}

/*
 * Is the scan a walk through the elements that pass its filter, which can
 * go on through every element (WalkOnUnfiltered)?
 */
static inline bool
InFilteredWalk(HnswScanOpaque so)
{
	return so->graph->filter != NULL && so->ndescent > 0;
}

/*
 * A walk through the elements that pass the filter has met every one it
 * can reach, which need not be all of them: go on through every element,
 * from the descent's entries again (a new search; copied into entries,
 * room for so->ndescent), as the scan does for a filter it does not walk
 * on, so that the LIMIT rows still come back.  Elements already returned
 * are not returned again.  Return the number of entries.
 */
static int
WalkOnUnfiltered(HnswScanOpaque so, HnswCandidate *entries)
{
	ereport(DEBUG1,
			(errmsg_internal("hnsw scan of \"%s\" walks every element once the elements that pass it met run out",
							 RelationGetRelationName(so->graph->index))));
	so->graph->filter = NULL;
	so->graph->seeded = false;
	HnswNewSearch(so->graph);
	memcpy(entries, so->descent, sizeof(HnswCandidate) * so->ndescent);
	return so->ndescent;
}

/*
 * Search on from every element seen but not returned yet: the next batch.
 * Elements visited before are not visited again.  Each batch is twice as
 * large as the one before (up to HNSW_MAX_EF_SEARCH * 10), so a selective
 * filter costs a few batches, not thousands; the previous batch's
 * candidates are freed.  There is no next batch with hnsw.iterative_scan
 * off, once the scan has returned hnsw.max_scan_tuples rows, or once the
 * memory it took after its first batch exceeds work_mem times
 * hnsw.scan_mem_multiplier: the scan ends.  A walk through the elements
 * that pass the filter that has met all it can goes on through every
 * element instead (WalkOnUnfiltered).
 */
static void
NextBatch(HnswScanOpaque so)
{
	MemoryContext batchCxt;
	HnswCandidate *entries;
	int			nentries = 0;
	ListCell   *lc;

	if (hnsw_iterative_scan == HNSW_ITERATIVE_SCAN_OFF ||
		so->ntuples >= hnsw_max_scan_tuples ||
		(double) (MemoryContextMemAllocated(so->cxt, true) - so->firstMemory) >
		(double) work_mem * 1024.0 * hnsw_scan_mem_multiplier)
	{
		so->exhausted = true;
		return;
	}
	if (so->lastBatch && !InFilteredWalk(so))
	{
		so->exhausted = true;
		return;
	}

	batchCxt = AllocSetContextCreate(so->cxt, "hnsw scan batch",
									 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(batchCxt);
	entries = palloc(sizeof(HnswCandidate) *
					 Max(Max(list_length(so->seen), so->ndescent), 1));
	if (!so->lastBatch)
	{
		foreach(lc, so->seen)
		{
			HnswCandidate *c = (HnswCandidate *) lfirst(lc);

			if (!c->element->returned)
				entries[nentries++] = *c;
		}
	}
	if (nentries == 0 && InFilteredWalk(so))
		nentries = WalkOnUnfiltered(so, entries);
	MemoryContextDelete(so->batchCxt);
	so->batchCxt = batchCxt;
	so->seen = NIL;
	so->next = 0;
	so->nextTid = 0;
	so->nresults = 0;
	if (nentries == 0)
		so->exhausted = true;
	else
	{
		so->batchEf = Min(so->batchEf * 2, HNSW_MAX_EF_SEARCH * 10);
		so->results = HnswSearchLayer(so->graph, so->query, entries, nentries,
									  so->batchEf, 0, &so->nresults, &so->seen);
		so->lastBatch = so->nresults < so->batchEf;
		DropFiltered(so);
	}
	MemoryContextSwitchTo(so->cxt);
}

/* qsort order of candidates: nearest first, ties by element TID */
static int
CompareCandidates(const void *a, const void *b)
{
	const HnswCandidate *ca = (const HnswCandidate *) a;
	const HnswCandidate *cb = (const HnswCandidate *) b;

	if (ca->distance != cb->distance)
		return ca->distance < cb->distance ? -1 : 1;
	return ItemPointerCompare(&ca->element->tid, &cb->element->tid);
}

/*
 * Re-rank the batch just searched by exact distances, when the index keeps
 * its vectors out of line and the graph was searched with codes that have
 * no bound of their error (sparse vectors too large for their elements, bit
 * prefixes; bf16 and i8 codes are re-ranked by their bounds, NextReranked):
 * read each
 * candidate's vector (its element tuple, then its chunks, one share lock at
 * a time), compute the distance to the query and sort.  A candidate whose
 * vector cannot be read (freed by vacuum meanwhile: its heap rows are dead)
 * keeps its code distance.  The exact vectors are freed at once; the
 * distances replace the candidates' in the batch.  See src/README "Vectors
 * out of line".
 */
static void
RerankBatch(HnswScanOpaque so)
{
	HnswGraph  *graph = so->graph;

	if (graph == NULL || so->nresults == 0 ||
		!(graph->codeKind == HNSW_CODE_SPARSE ||
		  graph->codeKind == HNSW_CODE_BIT_PREFIX))
		return;
	for (int i = 0; i < so->nresults; i++)
	{
		HnswCandidate *c = &so->results[i];
		HnswCode	   *exact;

		/* a sparse element with all its entries in the graph is exact */
		if (c->element->deleted || c->element->missing ||
			!c->element->hasLink)
			continue;
		exact = HnswFetchExactVector(graph, c->element);
		if (exact == NULL)
			continue;
		c->distance = HnswDistance(graph, so->query, exact);
		pfree(exact);
		CHECK_FOR_INTERRUPTS();
	}
	qsort(so->results, so->nresults, sizeof(HnswCandidate), CompareCandidates);
}

/* binaryheap order of re-ranked items: the nearest exact distance on top */
static int
CompareRerankExact(Datum a, Datum b, void *arg)
{
	const HnswRerankItem *ia = (const HnswRerankItem *) DatumGetPointer(a);
	const HnswRerankItem *ib = (const HnswRerankItem *) DatumGetPointer(b);

	if (ia->exact != ib->exact)
		return ia->exact > ib->exact ? -1 : 1;
	return -ItemPointerCompare((ItemPointer) &ia->heaptid,
							   (ItemPointer) &ib->heaptid);
}

/* binaryheap order of items not read: the lowest bound on top */
static int
CompareRerankBound(Datum a, Datum b, void *arg)
{
	const HnswRerankItem *ia = (const HnswRerankItem *) DatumGetPointer(a);
	const HnswRerankItem *ib = (const HnswRerankItem *) DatumGetPointer(b);

	if (ia->bound != ib->bound)
		return ia->bound > ib->bound ? -1 : 1;
	return -ItemPointerCompare((ItemPointer) &ia->heaptid,
							   (ItemPointer) &ib->heaptid);
}

/*
 * Prepare the batch just searched for re-ranking: every heap TID of its
 * elements not returned before, with a lower bound of its exact distance
 * (HnswCodeLowerBound, from the element's code distance and error), in a
 * heap by it; and an empty heap of the items whose exact distance is known.
 * The elements count as returned from now on: the batch returns all of
 * them before the next is searched.  Allocated in the batch's context.
 */
static void
StartRerank(HnswScanOpaque so)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(so->batchCxt);
	int			nitems = 0;

	for (int i = 0; i < so->nresults; i++)
		nitems += so->results[i].element->nheaptids;
	so->items = palloc(sizeof(HnswRerankItem) * Max(nitems, 1));
	so->nitems = 0;
	for (int i = 0; i < so->nresults; i++)
	{
		HnswElement e = so->results[i].element;
		double		bound;

		if (e->returned || e->deleted || e->missing)
			continue;
		e->returned = true;
		bound = HnswCodeLowerBound(so->graph, e->queryDistance,
								   e->codeError, e->codeMagnitude,
								   so->queryL1, so->queryL2);
		for (int j = 0; j < e->nheaptids; j++)
		{
			HnswRerankItem *item = &so->items[so->nitems++];

			item->heaptid = e->heaptids[j];
			item->refined = false;
			item->known = false;
			item->sibling = (uint8) j;
			item->element = e;
			item->bound = bound;
			item->exact = 0.0f;
		}
	}
	so->pending = binaryheap_allocate(Max(so->nitems, 1), CompareRerankBound,
									  NULL);
	for (int i = 0; i < so->nitems; i++)
		binaryheap_add_unordered(so->pending, PointerGetDatum(&so->items[i]));
	binaryheap_build(so->pending);
	so->ready = binaryheap_allocate(Max(so->nitems, 1), CompareRerankExact,
									NULL);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Compute the exact distance between the query and the vector of a heap
 * tuple, if the scan's snapshot sees it; return false if it does not (the
 * executor would not return it either).
 *
 * Pins heap and TOAST pages through the scan's own heap fetch state; the
 * pin of the last heap page is kept until the next fetch, rescan or end
 * of the scan.  The detoasted vector is freed before returning.
 */
static bool
ReadExactDistance(IndexScanDesc scan, ItemPointer heaptid, float *exact)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	ItemPointerData tid = *heaptid;
	bool		call_again = false;
	bool		all_dead = false;
	bool		found = false;
	MemoryContext oldcxt;

	if (so->fetch == NULL)
	{
		oldcxt = MemoryContextSwitchTo(GetMemoryChunkContext(so));
		so->fetch = table_index_fetch_begin(scan->heapRelation);
		so->slot = table_slot_create(scan->heapRelation, NULL);
		MemoryContextSwitchTo(oldcxt);
	}

	oldcxt = MemoryContextSwitchTo(so->tmpCxt);
	so->nexact++;
	if (table_index_fetch_tuple(so->fetch, &tid, scan->xs_snapshot,
								so->slot, &call_again, &all_dead))
	{
		bool		isnull;
		Datum		value = slot_getattr(so->slot, so->heapAttno, &isnull);
		HnswCode	   *vec = isnull ? NULL : HnswPrepareVector(so->graph, value);

		if (vec != NULL && vec->dim == so->graph->dim)
		{
			*exact = HnswDistance(so->graph, so->query, vec);
			found = true;
		}
		ExecClearTuple(so->slot);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(so->tmpCxt);
	return found;
}

/*
 * Read an item's code again from its element, if the element is still the
 * one the search saw (vacuum may have freed it and the space been reused:
 * then its heap TID is gone, and the item keeps its bound).  A lossless code
 * (error bound 0: the vector lies on the code's grid, see
 * DistanceEncodeInt8Range) is the vector itself: set item->exact from its
 * decoding, computed as from the row's vector, and return true, for the
 * item needs no row read.  Otherwise, for L2, raise item->bound to
 * HnswQuantRefinedBound's, and return false.  Also for the i8 codes of an
 * f32 index with its vectors out of line (ReadIndexDistance).  Takes and
 * releases a share lock on the element's page; the decoded vector is freed
 * before returning.
 */
static bool
RefineItem(HnswScanOpaque so, HnswRerankItem *item)
{
	HnswGraph  *graph = so->graph;
	const HnswLayout *layout = HnswGraphLayout(graph);
	HnswElement e = item->element;
	Buffer		buf;
	HnswElementTuple tup;
	HnswCode	   *code;
	HnswCode	   *decoded = NULL;
	float		error = -1.0f;
	float		magnitude = -1.0f;

	buf = HnswReadBuffer(graph->index, ItemPointerGetBlockNumber(&e->tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	tup = HnswGetElement(graph->index, layout, buf,
						 ItemPointerGetOffsetNumber(&e->tid));
	code = tup != NULL ? HnswTupleVector(tup) : NULL;
	/* not a head tuple's part of a vector: i8 codes are never cut */
	if (code != NULL &&
		VARSIZE(code) == HNSW_CODE_SIZE(graph->dim, graph->codeKind) +
		(layout->outOfLine ? HNSW_VECTOR_LINK_SIZE : 0))
		HnswCodeBounds(code, &error, &magnitude);
	if (error == e->codeError && magnitude == e->codeMagnitude)
	{
		for (int i = 0; i < HnswTupleTidCapacity(tup); i++)
		{
			if (!ItemPointerEquals(&tup->heaptids[i], &item->heaptid))
				continue;
			if (error == 0.0f)
			{
				decoded = MemoryContextAlloc(so->tmpCxt,
											 VECTOR_SIZE(graph->dim));
				SET_VARSIZE(decoded, VECTOR_SIZE(graph->dim));
				decoded->dim = graph->dim;
				decoded->kind = HNSW_CODE_F32;
				HnswDecodeVector(code, HnswCodeFloats(decoded));
			}
			else if (graph->metric == HNSW_METRIC_L2)
				item->bound = Max(item->bound,
								  HnswQuantRefinedBound(graph, so->query, code,
														e->queryDistance));
			break;
		}
	}
	UnlockReleaseBuffer(buf);
	if (decoded == NULL)
		return false;
	item->exact = HnswDistance(graph, so->query, decoded);
	MemoryContextReset(so->tmpCxt);
	return true;
}

/*
 * Set the exact distance of an item's element's vector out of line: the
 * item's and that of the element's other heap TIDs' items (its siblings,
 * next to it in so->items).  A lossless i8 code of an f32 vector is the
 * vector (RefineItem decodes it from the element); otherwise the vector is
 * read from out of line.  An element whose vector cannot be read any more
 * (freed by vacuum meanwhile: its heap rows are dead) keeps its code
 * distance, as in RerankBatch.  Takes and releases share locks, one page
 * at a time (HnswFetchExactVector); the vector is freed at once.
 */
static void
ReadIndexDistance(HnswScanOpaque so, HnswRerankItem *item)
{
	HnswElement e = item->element;
	HnswRerankItem *first = item - item->sibling;
	float		d = e->queryDistance;

	if (so->graph->codeKind == HNSW_CODE_I8 && e->codeError == 0.0f &&
		so->graph->exactKind == HNSW_CODE_F32 && RefineItem(so, item))
		d = item->exact;
	else
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(so->tmpCxt);
		HnswCode   *exact = HnswFetchExactVector(so->graph, e);

		so->nexact++;
		if (exact != NULL)
			d = HnswDistance(so->graph, so->query, exact);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(so->tmpCxt);
	}
	for (int j = 0; j < e->nheaptids; j++)
	{
		first[j].exact = d;
		first[j].known = true;
	}
}

/*
 * Raise ERRCODE_INDEX_CORRUPTED unless heaptid, read from element e, can be
 * a tuple of the table (HnswCheckHeapTid): the executor, or re-ranking, is
 * about to read it.  Not for scans without a table (heapRelation NULL).
 */
static void
CheckHeapTid(IndexScanDesc scan, ItemPointer heaptid, HnswElement e)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (scan->heapRelation != NULL)
		HnswCheckHeapTid(scan->indexRelation, scan->heapRelation,
						 &so->heapBlocks, heaptid, &e->tid);
}

/*
 * Return the next item of a re-ranked batch in exact distance order, or
 * NULL when the batch is done.  An item is returned once no item whose
 * vector has not been read can be nearer: the lowest bound among those is
 * at least its exact distance.  Items are read in the order of their
 * bounds, so the vectors read are those whose bound is below the exact
 * distance of the last item returned, and one more.
 */
static HnswRerankItem *
NextReranked(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	for (;;)
	{
		HnswRerankItem *item = NULL;
		HnswRerankItem *next = NULL;

		if (!binaryheap_empty(so->ready))
			item = (HnswRerankItem *) DatumGetPointer(binaryheap_first(so->ready));
		if (!binaryheap_empty(so->pending))
			next = (HnswRerankItem *) DatumGetPointer(binaryheap_first(so->pending));
		if (item != NULL && (next == NULL || item->exact <= next->bound))
		{
			binaryheap_remove_first(so->ready);
			return item;
		}
		if (next == NULL)
			return NULL;

		binaryheap_remove_first(so->pending);
		if (so->rerankIndex)
		{
			/* the index's own vector: every heap TID of it is returned */
			if (!next->known)
				ReadIndexDistance(so, next);
			binaryheap_add(so->ready, PointerGetDatum(next));
			CHECK_FOR_INTERRUPTS();
			continue;
		}
		if (!next->refined &&
			(next->element->codeError == 0.0f ||
			 so->graph->metric == HNSW_METRIC_L2))
		{
			/*
			 * Before reading its row, see whether its code is the vector, or
			 * rules it out for now.
			 */
			next->refined = true;
			if (RefineItem(so, next))
				binaryheap_add(so->ready, PointerGetDatum(next));
			else
				binaryheap_add(so->pending, PointerGetDatum(next));
			continue;
		}
		/* an invisible row is not returned at all */
		CheckHeapTid(scan, &next->heaptid, next->element);
		if (ReadExactDistance(scan, &next->heaptid, &next->exact))
			binaryheap_add(so->ready, PointerGetDatum(next));
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Set scan->xs_heaptid to the next heap TID of a scan that re-ranks (i8
 * with the table's vectors, or with the index's vectors out of line), in
 * exact distance order (NextReranked), searching on as needed; return false
 * when there is none.  Runs in so->cxt.
 */
static bool
NextRerankedTid(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	while (!so->exhausted)
	{
		HnswRerankItem *item = NextReranked(scan);

		if (item == NULL)
		{
			NextBatch(so);
			if (!so->exhausted)
				StartRerank(so);
			continue;
		}
		/* strict_order: a later batch's nearer row is left out */
		if (hnsw_iterative_scan == HNSW_ITERATIVE_SCAN_STRICT)
		{
			if (item->exact < so->lastDistance)
				continue;
			so->lastDistance = item->exact;
		}
		CheckHeapTid(scan, &item->heaptid, item->element);
		scan->xs_heaptid = item->heaptid;
		scan->xs_recheck = false;
		scan->xs_recheckorderby = false;
		HnswRememberDistance(RelationGetRelid(scan->indexRelation),
							 &scan->xs_heaptid, so->graph, item->exact,
							 so->exactDistances, so->scanId, so->query);
		so->ntuples++;
		return true;
	}
	return false;
}

/*
 * Set scan->xs_heaptid to the next heap TID of the search's results, nearest
 * first, searching on as needed (NextBatch); return false when there is
 * none.  Runs in so->cxt.
 */
static bool
NextSearchedTid(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	while (!so->exhausted)
	{
		HnswElement e;

		if (so->next >= so->nresults)
		{
			NextBatch(so);
			RerankBatch(so);
			continue;
		}
		e = so->results[so->next].element;

		/* strict_order: a later batch's nearer element is left out */
		if (hnsw_iterative_scan == HNSW_ITERATIVE_SCAN_STRICT &&
			so->results[so->next].distance < so->lastDistance)
			e->returned = true;
		if (e->deleted || e->missing || e->returned ||
			so->nextTid >= e->nheaptids)
		{
			e->returned = true;
			so->next++;
			so->nextTid = 0;
			continue;
		}
		so->lastDistance = so->results[so->next].distance;
		CheckHeapTid(scan, &e->heaptids[so->nextTid], e);
		scan->xs_heaptid = e->heaptids[so->nextTid++];
		scan->xs_recheck = false;
		scan->xs_recheckorderby = false;
		HnswRememberDistance(RelationGetRelid(scan->indexRelation),
							 &scan->xs_heaptid, so->graph,
							 so->results[so->next].distance,
							 so->exactDistances, so->scanId,
							 so->query);
		so->ntuples++;
		return true;
	}
	return false;
}

/*
 * Return the next heap TID in distance order.  Only ordered scans with MVCC
 * snapshots are supported: a heap TID vacuum removes while this scan holds
 * it cannot be reused by a row the snapshot sees.
 */
bool
hnswgettuple(IndexScanDesc scan, ScanDirection dir)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	MemoryContext oldcxt;
	bool		found = false;

	if (scan->numberOfOrderBys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("hnsw index scans need an ORDER BY distance")));
	if (!IsMVCCSnapshot(scan->xs_snapshot))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("hnsw index scans need an MVCC snapshot")));

	oldcxt = MemoryContextSwitchTo(so->cxt);
	if (!so->started)
	{
		/* one scan for pg_stat_*_indexes.idx_scan, as every index AM counts */
		pgstat_count_index_scan(scan->indexRelation);
		so->started = true;
		FirstSearch(scan);
		if (so->rerank)
			StartRerank(so);
		else if (!so->everyRow)
			RerankBatch(so);
		so->firstMemory = MemoryContextMemAllocated(so->cxt, true);
	}

	/* a query at no distance from anything: every row, in page order */
	if (so->everyRow)
	{
		if (so->ntuples < hnsw_max_scan_tuples)
		{
			found = NextEveryRow(scan);
			if (found)
				so->ntuples++;
		}
	}
	else if (so->rerank)
		found = NextRerankedTid(scan);	/* exact distance order */
	else
		found = NextSearchedTid(scan);
	MemoryContextSwitchTo(oldcxt);
	return found;
}

/*
 * End a scan and free everything it allocated.
 */
void
hnswendscan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	HnswForgetDistance();
	if (so->nexact > 0)
		elog(DEBUG1, "hnsw scan read " INT64_FORMAT " exact vectors from the %s",
			 so->nexact, so->rerankIndex ? "index" : "table");
	if (so->fetch != NULL)
	{
		table_index_fetch_end(so->fetch);
		ExecDropSingleTupleTableSlot(so->slot);
	}
	MemoryContextDelete(so->tmpCxt);
	MemoryContextDelete(so->cxt);
	pfree(so);
	scan->opaque = NULL;
}
