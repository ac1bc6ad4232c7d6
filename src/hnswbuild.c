/*-------------------------------------------------------------------------
 *
 * hnswbuild.c
 *	  CREATE INDEX for hnsw: the graph is built in memory while it fits in
 *	  maintenance_work_mem, then written to pages and WAL-logged once.  Past
 *	  the limit the graph written so far goes to pages and the remaining
 *	  tuples are inserted there one by one.
 *
 * See src/README "Build".
 *
 * src/hnswbuild.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"

typedef struct HnswBuildState
{
	Relation	index;
	HnswGraph  *graph;			/* in memory until flushed */
	MemoryContext graphCxt;		/* the in-memory graph */
	MemoryContext tmpCxt;		/* reset after every tuple */
	Size		memoryLimit;	/* maintenance_work_mem, in bytes */
	bool		flushed;		/* graph is on pages; insert there now */
	int			maxLevel;		/* highest level an element may have */
	HnswElement *elements;		/* in insertion order */
	int			nelements;
	int			maxelements;
	double		indtuples;		/* heap tuples indexed */
} HnswBuildState;

/*
 * Link target to newElement on level lc in memory.  A full list is pruned
 * with the neighbour-selection heuristic, as hnswlib does, and the slots it
 * leaves are filled with the nearest candidates it passed over (as
 * HnswSelectNeighbors does with keepPruned).
 *
 * The heuristic decides each candidate, in distance order, by the kept ones
 * before it alone, so the decisions of the last pruning (list->nkept) still
 * hold for the candidates nearer than the newcomer: only the newcomer and
 * those after it are compared again.
 */
static void
AddReverseLink(HnswGraph *graph, HnswElement target, HnswElement newElement,
			   float distance, int lc)
{
	HnswNeighborList *list = target->neighbors[lc];
	HnswCandidate *cands;
	bool	   *known;			/* kept by the last pruning */
	bool	   *chosen;
	int			n;
	int			newPos = -1;
	int			nkept = 0;
	int			nout = 0;
	bool		simple = graph->metric == HNSW_METRIC_IP && !graph->normalize;

	if (list->length < list->capacity)
	{
		list->items[list->length].element = newElement;
		list->items[list->length].distance = distance;
		list->length++;
		return;
	}

	/* insertion sort of the list plus the newcomer, nearest first */
	cands = palloc(sizeof(HnswCandidate) * (list->length + 1));
	known = palloc(sizeof(bool) * (list->length + 1));
	chosen = palloc0(sizeof(bool) * (list->length + 1));
	n = 0;
	for (int i = 0; i <= list->length; i++)
	{
		HnswCandidate c;
		bool		k = i < list->nkept;
		int			j;

		if (i < list->length)
			c = list->items[i];
		else
		{
			c.element = newElement;
			c.distance = distance;
		}
		for (j = n; j > 0 && cands[j - 1].distance > c.distance; j--)
		{
			cands[j] = cands[j - 1];
			known[j] = known[j - 1];
		}
		cands[j] = c;
		known[j] = k;
		n++;
	}
	for (int i = 0; i < n; i++)
		if (cands[i].element == newElement)
			newPos = i;

	/* the heuristic, reusing the last pruning's decisions before newPos */
	for (int i = 0; i < n && nkept < list->capacity; i++)
	{
		bool		good = true;

		if (list->nkept > 0 && i < newPos)
			good = known[i];
		else
		{
			for (int j = 0; j < i && !simple; j++)
			{
				if (chosen[j] &&
					HnswDistance(graph, cands[i].element->vec,
								 cands[j].element->vec) < cands[i].distance)
				{
					good = false;
					break;
				}
			}
		}
		if (good)
		{
			chosen[i] = true;
			nkept++;
		}
	}

	/* kept ones first, then the nearest of the others */
	for (int i = 0; i < n; i++)
		if (chosen[i])
			list->items[nout++] = cands[i];
	for (int i = 0; i < n && nout < list->capacity; i++)
		if (!chosen[i])
			list->items[nout++] = cands[i];
	list->length = nout;
	list->nkept = nkept;
	pfree(cands);
	pfree(known);
	pfree(chosen);
}

/*
 * Add one vector to the in-memory graph (Algorithm 1).  Identical vectors
 * share an element while it has room for their heap TIDs.
 */
static void
InsertInMemory(HnswBuildState *state, Vector *vec, ItemPointer heaptid)
{
	HnswGraph  *graph = state->graph;
	int			level = Min(HnswRandomLevel(graph->m), state->maxLevel);
	HnswNeighborList **lists;
	HnswCandidate nearest;
	HnswElement e;
	Vector	   *copy;

	if (graph->entry != NULL)
	{
		lists = palloc(sizeof(HnswNeighborList *) * (level + 1));
		for (int lc = 0; lc <= level; lc++)
			lists[lc] = HnswNewNeighborList(graph, HNSW_LEVEL_CAPACITY(lc, graph->m));
		HnswFindNeighbors(graph, vec, level, lists, &nearest);

		if (nearest.element != NULL &&
			nearest.element->nheaptids < HNSW_HEAPTIDS &&
			HnswVectorMatches(graph, nearest.element->vec, vec))
		{
			nearest.element->heaptids[nearest.element->nheaptids++] = *heaptid;
			return;
		}
	}
	else
		lists = NULL;

	/* a quantized element gets its own encoded copy */
	if (graph->quantization == HNSW_QUANT_F32)
	{
		copy = MemoryContextAlloc(state->graphCxt, VARSIZE(vec));
		memcpy(copy, vec, VARSIZE(vec));
	}
	else
		copy = vec;
	e = HnswNewElement(graph, copy, level, heaptid);
	e->buildIndex = state->nelements;

	if (state->nelements == state->maxelements)
	{
		state->maxelements *= 2;
		state->elements = repalloc_huge(state->elements,
										sizeof(HnswElement) * state->maxelements);
	}
	state->elements[state->nelements++] = e;

	if (lists == NULL)
	{
		graph->entry = e;
		return;
	}

	for (int lc = 0; lc <= level; lc++)
	{
		/* the lists were allocated in the graph's context: keep them */
		e->neighbors[lc] = lists[lc];
		for (int i = 0; i < lists[lc]->length; i++)
			AddReverseLink(graph, lists[lc]->items[i].element, e,
						   lists[lc]->items[i].distance, lc);
	}
	if (level > graph->entry->level)
		graph->entry = e;
}

/*
 * Write the in-memory graph to pages after the metapage, then record the
 * entry point.  Pages are not WAL-logged here: the build logs the whole
 * index at its end.
 */
static void
FlushGraph(HnswBuildState *state)
{
	HnswGraph  *graph = state->graph;
	Relation	index = state->index;
	Size		pageSpace = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) -
		MAXALIGN(sizeof(HnswPageOpaqueData));
	Size		used = pageSpace;
	/* after the metapage and any vectors written out of line meanwhile */
	BlockNumber blkno = RelationGetNumberOfBlocks(index) - 1;
	OffsetNumber off = InvalidOffsetNumber;
	HnswElementTuple tup;
	Buffer		buf = InvalidBuffer;
	Page		page = NULL;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE,
								 PROGRESS_HNSW_PHASE_WRITE);

	/* first give every element its place, so links can be written */
	for (int i = 0; i < state->nelements; i++)
	{
		HnswElement e = state->elements[i];
		Size		need = MAXALIGN(HnswElementTupleSize(graph, e->level)) +
			sizeof(ItemIdData);

		if (used + need > pageSpace)
		{
			blkno++;
			off = FirstOffsetNumber;
			used = 0;
		}
		else
			off++;
		ItemPointerSet(&e->tid, blkno, off);
		used += need;
	}

	tup = palloc(HNSW_MAX_TUPLE_SIZE);
	for (int i = 0; i < state->nelements; i++)
	{
		HnswElement e = state->elements[i];
		Size		size;

		if (BufferIsInvalid(buf) ||
			ItemPointerGetBlockNumber(&e->tid) != BufferGetBlockNumber(buf))
		{
			if (BufferIsValid(buf))
			{
				MarkBufferDirty(buf);
				UnlockReleaseBuffer(buf);
			}
			buf = ReadBuffer(index, P_NEW);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			if (BufferGetBlockNumber(buf) != ItemPointerGetBlockNumber(&e->tid))
				elog(ERROR, "unexpected block %u while writing hnsw index",
					 BufferGetBlockNumber(buf));
			page = BufferGetPage(buf);
			HnswInitPage(page);
		}
		size = HnswFormElementTuple(graph, e, tup);
		if (PageAddItem(page, (Item) tup, size, InvalidOffsetNumber, false,
						false) != ItemPointerGetOffsetNumber(&e->tid))
			elog(ERROR, "failed to add tuple to hnsw index \"%s\"",
				 RelationGetRelationName(index));
		CHECK_FOR_INTERRUPTS();
	}
	if (BufferIsValid(buf))
	{
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
	pfree(tup);

	if (graph->entry != NULL)
		HnswUpdateMetaEntry(index, true, graph->dim, &graph->entry->tid,
							graph->entry->level, false);
	if (state->nelements > 0)
		HnswUpdateMetaInsertPage(index, true, blkno);
}

/*
 * Index one heap tuple: table_index_build_scan's callback.
 */
static void
BuildCallback(Relation index, ItemPointer tid, Datum *values,
			  bool *isnull, bool tupleIsAlive, void *arg)
{
	HnswBuildState *state = (HnswBuildState *) arg;
	MemoryContext oldcxt;
	Vector	   *vec;

	/* NULLs are not indexed */
	if (isnull[0])
		return;

	if (state->flushed)
	{
		oldcxt = MemoryContextSwitchTo(state->tmpCxt);
		HnswInsertOnDisk(index, values[0], tid, true);
	}
	else
	{
		oldcxt = MemoryContextSwitchTo(state->tmpCxt);
		vec = HnswPrepareVector(state->graph, values[0]);
		if (vec == NULL)
		{
			/* the zero vector under cosine is not indexed */
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(state->tmpCxt);
			return;
		}
		else
		{
			state->maxLevel = HnswCheckVector(state->graph, vec);
			InsertInMemory(state, vec, tid);

			if (MemoryContextMemAllocated(state->graphCxt, true) > state->memoryLimit)
			{
				ereport(NOTICE,
						(errmsg("hnsw graph no longer fits into maintenance_work_mem after %.0f tuples",
								state->indtuples + 1),
						 errdetail("The rest of the index is built on its pages, which takes longer."),
						 errhint("Increase maintenance_work_mem to build faster.")));
				FlushGraph(state);
				state->flushed = true;
				MemoryContextDelete(state->graphCxt);
				state->graph = NULL;
				state->elements = NULL;
				pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE,
											 PROGRESS_HNSW_PHASE_LOAD);
			}
		}
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(state->tmpCxt);

	state->indtuples++;
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
								 (int64) state->indtuples);
}

/*
 * Build an hnsw index over the existing rows of heap.  The index's pages
 * are written without WAL and logged at the end with log_newpage_range.
 */
IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswBuildState state;
	Buffer		metabuf;
	double		reltuples;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data",
			 RelationGetRelationName(index));

	memset(&state, 0, sizeof(state));
	state.index = index;
	state.memoryLimit = (Size) maintenance_work_mem * 1024;
	state.graphCxt = AllocSetContextCreate(CurrentMemoryContext,
										   "hnsw build graph",
										   ALLOCSET_DEFAULT_SIZES);
	state.tmpCxt = AllocSetContextCreate(CurrentMemoryContext,
										 "hnsw build tuple",
										 ALLOCSET_DEFAULT_SIZES);
	state.graph = HnswCreateGraph(index, state.graphCxt, 0);
	state.graph->building = true;
	state.graph->keepPruned = true;
	state.graph->m = HnswGetM(index);
	state.graph->efConstruction = HnswGetEfConstruction(index);
	state.maxelements = 1024;
	state.elements = MemoryContextAlloc(state.graphCxt,
										sizeof(HnswElement) * state.maxelements);

	/* the metapage first, so that element pages start at block 1 */
	metabuf = ReadBuffer(index, P_NEW);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	HnswInitMetaPage(BufferGetPage(metabuf), state.graph->m,
					 state.graph->efConstruction, state.graph->quantization);
	MarkBufferDirty(metabuf);
	UnlockReleaseBuffer(metabuf);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE,
								 PROGRESS_HNSW_PHASE_LOAD);
	if (heap->rd_rel->reltuples > 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
									 (int64) heap->rd_rel->reltuples);
	reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
									   BuildCallback, &state, NULL);

	if (!state.flushed)
	{
		FlushGraph(&state);
		MemoryContextDelete(state.graphCxt);
	}
	MemoryContextDelete(state.tmpCxt);

	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0,
						  RelationGetNumberOfBlocks(index), true);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = state.indtuples;
	return result;
}

/*
 * Build an empty index in the init fork of an unlogged table: only the
 * metapage, WAL-logged.
 */
void
hnswbuildempty(Relation index)
{
	Buffer		buf;

	buf = ReadBufferExtended(index, INIT_FORKNUM, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	START_CRIT_SECTION();
	HnswInitMetaPage(BufferGetPage(buf), HnswGetM(index),
					 HnswGetEfConstruction(index), HnswGetQuantization(index));
	MarkBufferDirty(buf);
	log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}

/* Name a build phase for pg_stat_progress_create_index */
char *
hnswbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case PROGRESS_HNSW_PHASE_LOAD:
			return "loading tuples";
		case PROGRESS_HNSW_PHASE_WRITE:
			return "writing index pages";
		default:
			return NULL;
	}
}
