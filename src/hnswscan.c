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
 * src/hnswscan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relscan.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

typedef struct HnswScanOpaqueData
{
	MemoryContext cxt;			/* everything of the current scan */
	MemoryContext batchCxt;		/* candidates of the current batch */
	int			batchEf;		/* ef of the next batch */
	HnswGraph  *graph;			/* cache of the elements read */
	bool		started;
	bool		exhausted;		/* nothing more to search */
	Vector	   *query;
	HnswCandidate *results;		/* current batch, nearest first */
	int			nresults;
	int			next;			/* next result to return from */
	int			nextTid;		/* its next heap TID */
	List	   *seen;			/* elements whose distance is known */
	int64		ntuples;		/* heap TIDs returned so far */
	uint64		scanId;			/* this search, for HnswRememberDistance */
	bool		exactDistances; /* results carry the operator's distance */
} HnswScanOpaqueData;

typedef HnswScanOpaqueData *HnswScanOpaque;

/* numbers the searches of this backend */
static uint64 hnsw_scan_counter = 0;

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
	so->batchCxt = NULL;
	so->batchEf = hnsw_ef_search;
	so->graph = NULL;
	so->started = false;
	so->exhausted = false;
	so->query = NULL;
	so->results = NULL;
	so->nresults = 0;
	so->next = 0;
	so->nextTid = 0;
	so->seen = NIL;
	so->ntuples = 0;
	so->exactDistances = false;
	HnswForgetDistance();
}

/*
 * The first search: greedy descent from the entry point, then ef_search
 * candidates on level 0.
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
	if (key->sk_flags & SK_ISNULL)
	{
		so->exhausted = true;
		return;
	}
	/* the zero vector has no cosine distance to anything */
	so->query = HnswPrepareVector(so->graph, key->sk_argument);
	if (so->query == NULL)
	{
		so->exhausted = true;
		return;
	}

	/* dimensions are checked before any element is compared with it */
	HnswReadMeta(scan->indexRelation, &meta);
	so->graph->dim = meta.dimensions;
	so->graph->m = meta.m;
	so->graph->quantization = meta.quantization;
	so->graph->exactQuantization = meta.exactQuantization;
	if (meta.dimensions > 0)
		HnswCheckVector(so->graph, so->query);
	so->graph->query = so->query;
	so->scanId = ++hnsw_scan_counter;

	/*
	 * The distances of an f32 index of vectors are the operator's own, bit
	 * for bit (same kernel, same floats): the executor may take them (see
	 * hnswplan.c).  Codes, normalised copies and converted arrays are not.
	 */
	so->exactDistances = !so->graph->arrays && !so->graph->normalize &&
		so->graph->quantization == HNSW_QUANT_F32 &&
		!HnswGraphOutOfLine(so->graph) &&
		(so->graph->metric == HNSW_METRIC_L2 ||
		 so->graph->metric == HNSW_METRIC_IP ||
		 so->graph->metric == HNSW_METRIC_L1);
	ep = HnswGetEntryPoint(so->graph, &meta);
	if (ep == NULL)
	{
		so->exhausted = true;
		return;
	}

	entries = palloc(sizeof(HnswCandidate));
	entries[0].element = ep;
	entries[0].distance = ep->queryDistance;
	for (int lc = ep->level; lc > 0; lc--)
	{
		HnswNewSearch(so->graph);
		entries = HnswSearchLayer(so->graph, so->query, entries, nentries, 1,
								  lc, &nentries, NULL);
	}

	/*
	 * Every level is a search of its own; on level 0 the visited marks then
	 * stay for the rest of the scan, so later batches only go outwards.
	 */
	HnswNewSearch(so->graph);
	so->batchCxt = AllocSetContextCreate(so->cxt, "hnsw scan batch",
										 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(so->batchCxt);
	so->results = HnswSearchLayer(so->graph, so->query, entries, nentries,
								  hnsw_ef_search, 0, &so->nresults, &so->seen);
	MemoryContextSwitchTo(so->cxt);
}

/*
 * Search on from every element seen but not returned yet: the next batch.
 * Elements visited before are not visited again.  Each batch is twice as
 * large as the one before (up to HNSW_MAX_EF_SEARCH * 10), so a selective
 * filter costs a few batches, not thousands; the previous batch's
 * candidates are freed.
 */
static void
NextBatch(HnswScanOpaque so)
{
	MemoryContext batchCxt;
	HnswCandidate *entries;
	int			nentries = 0;
	ListCell   *lc;

	batchCxt = AllocSetContextCreate(so->cxt, "hnsw scan batch",
									 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(batchCxt);
	entries = palloc(sizeof(HnswCandidate) * Max(list_length(so->seen), 1));
	foreach(lc, so->seen)
	{
		HnswCandidate *c = (HnswCandidate *) lfirst(lc);

		if (!c->element->returned)
			entries[nentries++] = *c;
	}
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
 * its vectors out of line and the graph was searched with codes: read each
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

	if (graph == NULL || !HnswGraphOutOfLine(graph) || so->nresults == 0)
		return;
	for (int i = 0; i < so->nresults; i++)
	{
		HnswCandidate *c = &so->results[i];
		Vector	   *exact;

		if (c->element->deleted || c->element->missing)
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
		so->started = true;
		FirstSearch(scan);
		RerankBatch(so);
	}

	while (!found && !so->exhausted && so->ntuples < hnsw_max_scan_tuples)
	{
		if (so->next < so->nresults)
		{
			HnswElement e = so->results[so->next].element;

			if (!e->deleted && !e->missing && !e->returned &&
				so->nextTid < e->nheaptids)
			{
				scan->xs_heaptid = e->heaptids[so->nextTid++];
				scan->xs_recheck = false;
				scan->xs_recheckorderby = false;
				if (so->exactDistances)
					HnswRememberDistance(RelationGetRelid(scan->indexRelation),
										 &scan->xs_heaptid, so->graph->metric,
										 so->results[so->next].distance,
										 so->scanId, so->query);
				else
					HnswForgetDistance();
				so->ntuples++;
				found = true;
			}
			else
			{
				e->returned = true;
				so->next++;
				so->nextTid = 0;
			}
		}
		else
		{
			NextBatch(so);
			RerankBatch(so);
		}
	}
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
	MemoryContextDelete(so->cxt);
	pfree(so);
	scan->opaque = NULL;
}
