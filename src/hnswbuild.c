/*-------------------------------------------------------------------------
 *
 * hnswbuild.c
 *	  CREATE INDEX for hnsw: the graph is built in one arena of memory sized
 *	  by maintenance_work_mem, by the leader alone or together with parallel
 *	  workers (the arena then lives in the parallel context's dynamic shared
 *	  memory), then written to pages and WAL-logged once.  Past the arena's
 *	  end the graph written so far goes to pages and the remaining tuples are
 *	  inserted there one by one, by every participant.
 *
 * This file has the access method's callbacks, the heap scan's callback
 * and the sizing of the arena; the rest of the build is in hnswarena.c
 * (the graph in memory), hnswbuildorder.c (grouped insertion),
 * hnswbuildwrite.c (writing pages) and hnswbuildparallel.c (parallel
 * workers), which share hnswbuild.h.  See src/README "Build".
 *
 * src/hnswbuild.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "hnswbuild.h"

#include "access/htup_details.h"
#include "access/parallel.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"

/* Report the tuples all participants have indexed so far (leader) */
void
HnswBuildReportProgress(HnswBuildState *state)
{
	if (state->isLeader)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
									 (int64) pg_atomic_read_u64(&state->shared->tuplesDone));
}

/*
 * The flushed arena's memory: nothing reads the arena once its graph is on
 * pages, so the disk phase reuses it and the build's memory stays what it
 * was.  Its start, and its size.
 */
static char *
FlushedMemory(HnswBuildState *state, Size *size)
{
	HnswBuildShared *shared = state->shared;

	*size = MAXALIGN(sizeof(uint64) * shared->maxElements) + shared->areaSize;
	return (char *) state->offsets;
}

/*
 * Lay out the codes the disk phase compares (hnswbuildcodes.c) in the
 * first three quarters of the flushed arena's memory; the leader
 * does this once, after the flush and before waking the workers.  Return
 * the bytes it takes, 0 if none (vectors the codes do not serve, or too
 * little memory).
 */
static Size
InitCodes(HnswBuildState *state)
{
	Size		total;
	char	   *mem = FlushedMemory(state, &total);
	Size		size = total / 4 * 3;
	uint32		n;

	size -= size % MAXIMUM_ALIGNOF;
	if (!HnswBuildCodesUsable(state->graph) ||
		(n = HnswBuildCodesInit(state->graph, mem, size)) == 0)
		return 0;
	ereport(DEBUG1,
			(errmsg_internal("hnsw build of \"%s\": codes of up to %u elements kept for the rows inserted into the pages",
							 RelationGetRelationName(state->index), n)));
	return size;
}

/*
 * Start this participant's disk phase: attach to the codes, if the leader
 * laid them out, and lend the participant's share of the rest of the
 * flushed arena to the verdicts of its prunings (HnswBuildVerdictsStart).
 * Participants planned, not launched, divide it, so that shares never
 * overlap.
 */
static void
StartDiskPhase(HnswBuildState *state)
{
	HnswBuildShared *shared = state->shared;
	Size		total;
	char	   *mem = FlushedMemory(state, &total);
	Size		share;
	int			part = state->isLeader ? 0 : ParallelWorkerNumber + 1;

	if (shared->codesSize > 0)
		HnswBuildCodesAttach(state->index, mem, state->stageCxt);
	mem += shared->codesSize;
	total -= shared->codesSize;
	share = total / shared->nparticipants;
	share -= share % MAXIMUM_ALIGNOF;
	if (part >= shared->nparticipants)
		return;
	HnswBuildVerdictsStart(state->index, mem + (Size) part * share, share,
						   state->stageCxt);
}

/*
 * The arena is full: from now on this participant inserts into the pages.
 * The leader waits for every worker to stop at the arena (or finish),
 * writes the graph to pages and wakes them; a worker waits for that.
 */
void
HnswBuildSwitchToDisk(HnswBuildState *state)
{
	HnswBuildShared *shared = state->shared;

	if (state->onDisk)
		return;
	/* the arena's memory is reused once flushed: keep what is read later */
	HnswBuildKeepPivots(state);
	if (!state->isLeader)
	{
		SpinLockAcquire(&shared->mutex);
		shared->npaused++;
		SpinLockRelease(&shared->mutex);
		ConditionVariableBroadcast(&shared->cv);
		for (;;)
		{
			bool		flushed;

			SpinLockAcquire(&shared->mutex);
			flushed = shared->flushed;
			SpinLockRelease(&shared->mutex);
			if (flushed)
				break;
			ConditionVariableSleep(&shared->cv,
								   WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
		}
		ConditionVariableCancelSleep();
	}
	else
	{
		HnswBuildWaitForWorkers(state, true);
		if (shared->sizedByMemory)
			ereport(NOTICE,
					(errmsg("hnsw graph no longer fits into maintenance_work_mem after %.0f tuples",
							(double) pg_atomic_read_u64(&shared->tuplesDone)),
					 errdetail("The rest of the index is built on its pages, which takes longer."),
					 errhint("Increase maintenance_work_mem to build faster.")));
		else
			ereport(NOTICE,
					(errmsg("hnsw graph outgrew the shared memory sized for the table after %.0f tuples",
							(double) pg_atomic_read_u64(&shared->tuplesDone)),
					 errdetail("The table has more rows than its statistics say; the rest of the index is built on its pages, which takes longer."),
					 errhint("ANALYZE the table before CREATE INDEX to build faster.")));
		HnswBuildFlushArena(state, false);
		shared->codesSize = InitCodes(state);
		SpinLockAcquire(&shared->mutex);
		shared->flushed = true;
		SpinLockRelease(&shared->mutex);
		ConditionVariableBroadcast(&shared->cv);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE,
									 PROGRESS_HNSW_PHASE_LOAD);
	}
	state->onDisk = true;
	StartDiskPhase(state);
}

/*
 * This participant adds no more to the arena (it is full): link what it
 * added and has not linked yet, then insert into the pages from now on.
 */
void
HnswBuildStopAddingToArena(HnswBuildState *state)
{
	HnswBuildLinkPending(state);
	HnswBuildSwitchToDisk(state);
}

/*
 * Index one heap tuple: table_index_build_scan's callback, in every
 * participant.
 */
void
HnswBuildCallback(Relation index, ItemPointer tid, Datum *values,
			  bool *isnull, bool tupleIsAlive, void *arg)
{
	HnswBuildState *state = (HnswBuildState *) arg;
	HnswBuildShared *shared = state->shared;
	MemoryContext oldcxt;
	int			dim;
	bool		linkLater = false;
	HnswKey		key;

	/* NULLs are not indexed */
	if (isnull[0])
		return;
	memset(&key, 0, sizeof(key));
	if (state->graph->keySize > 0)
		HnswKeyFromDatum(index, values[1], isnull[1], &key);

	oldcxt = MemoryContextSwitchTo(state->tmpCxt);
	if (!state->onDisk && pg_atomic_read_u32(&shared->full))
		HnswBuildStopAddingToArena(state);
	if (!state->onDisk)
	{
		HnswCode	   *vec = HnswPrepareVector(state->graph, values[0]);

		/* the zero vector under cosine is not indexed */
		if (vec == NULL)
		{
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(state->tmpCxt);
			return;
		}
		if (state->graph->dim == 0)
		{
			SpinLockAcquire(&shared->mutex);
			if (shared->dim == 0)
				shared->dim = HnswCodeDim(vec);
			dim = shared->dim;
			SpinLockRelease(&shared->mutex);
			SetGraphDimensions(state->graph, dim);
		}
		state->maxLevel = HnswCheckVector(state->graph, vec);
		if (HnswBuildStageVector(state, vec, tid, &key))
			linkLater = true;
		else if (state->onDisk ||
				 HnswArenaInsert(state, DrawLevel(state), vec, tid, &key) < 0)
		{
			HnswBuildStopAddingToArena(state);
			HnswInsertOnDisk(index, values[0], &key, tid, true);
		}
	}
	else
		HnswInsertOnDisk(index, values[0], &key, tid, true);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(state->tmpCxt);

	state->indtuples++;
	if (!linkLater)
		pg_atomic_fetch_add_u64(&shared->tuplesDone, 1);
	HnswBuildReportProgress(state);
}

/*
 * Set up one participant of a build over shared: its own graph (distance
 * functions, quantization), scratch memory for searches and the lock
 * tranche's name.  Memory comes from the current context.
 */
void
HnswBuildInitParticipant(HnswBuildState *state, HnswBuildShared *shared, char *arena,
				Relation heap, Relation index, bool isLeader)
{
	int			ef = shared->efConstruction;

	memset(state, 0, sizeof(HnswBuildState));
	state->shared = shared;
	state->offsets = (uint64 *) arena;
	state->area = arena + MAXALIGN(sizeof(uint64) * shared->maxElements);

	/*
	 * Map the whole shared arena into this process at once (Linux 5.14 and
	 * later): otherwise every participant takes one page fault per 4 kB
	 * page of the arena it touches (42,000 in the leader of a 60,000 x 784
	 * build), which costs far more than populating the page tables in one
	 * call.
	 */
#ifdef MADV_POPULATE_WRITE
	if (shared->parallel)
		AdviseArena(arena, MAXALIGN(sizeof(uint64) * shared->maxElements) +
					shared->areaSize, HNSW_OS_PAGE_SIZE, MADV_POPULATE_WRITE);
#endif
	state->isLeader = isLeader;
	state->heap = heap;
	state->index = index;
	state->graph = HnswCreateGraph(index, CurrentMemoryContext, 0);
	HnswCheckGraphQuantization(state->graph);
	state->graph->building = true;
	state->graph->keepPruned = true;
	state->graph->m = shared->m;
	state->graph->efConstruction = ef;
	state->tmpCxt = AllocSetContextCreate(CurrentMemoryContext,
										  "hnsw build tuple",
										  ALLOCSET_DEFAULT_SIZES);
	state->linkCxt = AllocSetContextCreate(CurrentMemoryContext,
										   "hnsw build link",
										   ALLOCSET_DEFAULT_SIZES);
	state->stageCxt = CurrentMemoryContext;
	state->staged = palloc(sizeof(uint32) * HNSW_BUILD_WINDOW);
	state->firstIds = palloc(sizeof(int32) * HNSW_BUILD_FIRST_WINDOW);
	state->visited = palloc_extended(sizeof(uint32) * shared->maxElements,
									 MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	state->candCap = 4 * ef + 64;
	state->cand = palloc(sizeof(BuildNeighbor) * state->candCap);
	state->resCap = ef + 2;
	state->res = palloc(sizeof(BuildNeighbor) * state->resCap);
	/* a widened descent (hnswarena.c, Descend) leaves HNSW_UPPER_BEAM */
	state->entries = palloc(sizeof(BuildNeighbor) *
							(Max(ef, HNSW_UPPER_BEAM) + 2));
	LWLockRegisterTranche(shared->tranche, "hnsw build");
}

/*
 * Size the arena: maintenance_work_mem, or for a parallel build (whose
 * arena is shared memory, allocated at once) less if the table's estimated
 * rows need less.  Return the bytes for offsets and elements together, and
 * in *maxElements how many elements of the smallest size would fit.
 */
Size
HnswBuildSizeArena(Relation heap, Relation index, int m, HnswCodeKind quant,
		  int participants, bool *sizedByMemory, uint32 *maxElements,
		  Size *stageBytes)
{
	Size		limit = (Size) maintenance_work_mem * 1024;
	bool		parallel = participants > 1;
	int			dim = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	Size		minSize;
	Size		total;

	/* a sparse vector's size is its count of entries, not its dimensions */
	if (quant == HNSW_CODE_SPARSE)
		dim = -1;

	/* an eighth for the participants' staging memory (HnswBuildStageVector) */
	*stageBytes = limit / 8 / participants;
	limit -= limit / 8;
	total = limit;

	/* a column without dimensions in its type: assume the fewest */
	minSize = BUILD_ELEMENT_SIZE(0, m, HNSW_CODE_SIZE(Max(dim, 1), quant)) +
		sizeof(uint64);
	*sizedByMemory = true;
	if (parallel && dim > 0)
	{
		BlockNumber pages;
		double		tuples;
		double		allvisfrac;
		double		perElement;

		table_relation_estimate_size(heap, NULL, &pages, &tuples, &allvisfrac);
		tuples = Max(tuples, heap->rd_rel->reltuples);

		/*
		 * A table never analyzed is estimated from its columns' widths,
		 * which know nothing of vectors moved to TOAST (a table loaded by
		 * CREATE TABLE AS fell short by a fifth): assume its pages full.
		 */
		if (heap->rd_rel->reltuples < 0)
			tuples = Max(tuples, (double) pages * MaxHeapTuplesPerPage);
		/* upper levels: 1 / (m - 1) lists of m per element, expected */
		perElement = minSize + (double) BUILD_LIST_SIZE(m) / (m - 1) + 16;
		if ((tuples * 1.2 + 1000) * perElement < (double) limit)
		{
			total = (Size) ((tuples * 1.2 + 1000) * perElement);
			*sizedByMemory = false;
		}
	}
	*maxElements = (uint32) Min(total / minSize, (Size) PG_INT32_MAX);
	return total;
}

/*
 * Refuse, as pgvector does, a halfvec, sparsevec or bit column that has no
 * dimensions of its own (varbit, or no typmod: pgvector's operator classes
 * need them, and an application written for it never has such an index),
 * and a bit column of more bits than an element holds, now rather than at
 * its first long value.  vector and array columns without dimensions take
 * the first value's, as they always have here.
 */
static void
CheckColumn(Relation index)
{
	Form_pg_attribute attr = TupleDescAttr(RelationGetDescr(index), 0);
	HnswCodeKind kind = HnswIndexExactKind(index);

	if (kind != HNSW_CODE_HALF && kind != HNSW_CODE_SPARSE &&
		kind != HNSW_CODE_BIT)
		return;
	if (attr->atttypid == VARBITOID)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("type varbit is not supported by hnsw indexes"),
				 errhint("Index a cast to bit(n), as in (b::bit(64)).")));
	if (attr->atttypmod < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions"),
				 errhint("Declare the column as %s(n), or index a cast to it.",
						 format_type_be(attr->atttypid))));
	if (kind == HNSW_CODE_BIT && attr->atttypmod > HNSW_MAX_BITS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d bits for an hnsw index",
						HNSW_MAX_BITS)));
}

/*
 * Load and link every row of heap in an arena of dynamic shared memory with
 * parallel workers, the leader taking part, and write the graph; return
 * false, having started nothing, if no worker could be started (or no
 * arena had room).  Sets *reltuples to the rows scanned.  state is the
 * leader's, initialised here; its memory is in the current context.
 */
static bool
BuildParallel(HnswBuildState *state, Relation heap, Relation index,
			  IndexInfo *indexInfo, int nworkers, double *reltuples)
{
	HnswBuildState leader;
	HnswBuildShared *shared = NULL;
	char	   *arena;
	TableScanDesc scan;

	memset(&leader, 0, sizeof(leader));
	arena = HnswBuildBeginParallel(&leader, heap, index, indexInfo, nworkers,
								   &shared);
	if (arena == NULL)
		return false;
	HnswBuildInitParticipant(state, shared, arena, heap, index, true);
	state->pcxt = leader.pcxt;
	state->snapshot = leader.snapshot;
	state->nworkers = leader.nworkers;
	state->walusage = leader.walusage;
	state->bufferusage = leader.bufferusage;

	scan = table_beginscan_parallel(heap,
									shm_toc_lookup(state->pcxt->toc,
												   HNSW_KEY_SCAN, false));
	*reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
										HnswBuildCallback, state, scan);
	HnswBuildLinkPending(state);
	HnswBuildEndParallel(state, reltuples);
	return true;
}

/*
 * Load and link every row of heap in a private arena, and write the graph
 * (or, once the arena is full, insert the rest into the pages); return the
 * rows scanned.  state is initialised here.  The arena, sized by
 * maintenance_work_mem, is allocated in the current context and freed on
 * return.
 */
static double
BuildSerial(HnswBuildState *state, Relation heap, Relation index,
			IndexInfo *indexInfo)
{
	HnswBuildShared *shared;
	char	   *arena;
	double		reltuples;
	bool		sizedByMemory;
	uint32		maxElements;
	Size		total;
	Size		stageBytes;

	total = HnswBuildSizeArena(heap, index, HnswGetM(index),
							   HnswIndexExactKind(index), 1, &sizedByMemory,
							   &maxElements, &stageBytes);
	shared = palloc(sizeof(HnswBuildShared));
	HnswBuildInitShared(shared, heap, index, indexInfo, false, sizedByMemory,
						total, maxElements, stageBytes);
	arena = MemoryContextAllocHuge(CurrentMemoryContext, total);

	/*
	 * Transparent huge pages where the kernel grants them on request (Linux,
	 * THP "madvise" or "always"): a search reads vectors all over the arena,
	 * and with 4 kB pages nearly every one costs a TLB miss.
	 */
#ifdef MADV_HUGEPAGE
	AdviseArena(arena, total, HNSW_HUGE_PAGE_SIZE, MADV_HUGEPAGE);
#endif
	memset(arena, 0, MAXALIGN(sizeof(uint64) * maxElements));
	HnswBuildInitParticipant(state, shared, arena, heap, index, true);
	reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
									   HnswBuildCallback, state, NULL);
	HnswBuildLinkPending(state);
	if (!state->onDisk)
		HnswBuildFlushArena(state, true);
	HnswBuildVerdictsEnd();
	HnswBuildCodesEnd();
	pfree(arena);
	return reltuples;
}

/*
 * WAL for a finished build: a graph written whole logged its element pages
 * as it wrote them; the pages before them (metapage, vectors out of line)
 * are logged now.  If inserts into the pages followed (the arena filled
 * up), every page is logged now.  Pages written past shared buffers are
 * synced, as nbtree's build does: a checkpoint during the build could not
 * flush them, and WAL replay would start after their records.
 */
static void
LogBuiltIndex(HnswBuildState *state, Relation index)
{
	BlockNumber nblocks;

	if (!RelationNeedsWAL(index))
		return;
	nblocks = RelationGetNumberOfBlocks(index);
	if (state->wroteDirect && !state->onDisk)
		nblocks = state->firstElementBlock;
	log_newpage_range(index, MAIN_FORKNUM, 0, nblocks, true);
	if (state->wroteDirect)
		smgrimmedsync(RelationGetSmgr(index), MAIN_FORKNUM);
}

/*
 * Build an hnsw index over the existing rows of heap, with parallel workers
 * if HnswBuildPlanWorkers asks for any and some start.  The index's pages are
 * written without WAL and logged at the end with log_newpage_range.
 */
IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswBuildState state;
	Buffer		metabuf;
	double		reltuples;
	int			nworkers;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data",
			 RelationGetRelationName(index));

	HnswCheckColumns(index);
	CheckColumn(index);

	/* the metapage first, so that element pages start at block 1 */
	metabuf = ReadBuffer(index, P_NEW);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	HnswInitMetaPage(BufferGetPage(metabuf), HnswGetM(index),
					 HnswGetEfConstruction(index), HnswIndexExactKind(index));
	MarkBufferDirty(metabuf);
	UnlockReleaseBuffer(metabuf);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE,
								 PROGRESS_HNSW_PHASE_LOAD);
	if (heap->rd_rel->reltuples > 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
									 (int64) heap->rd_rel->reltuples);

	nworkers = HnswBuildPlanWorkers(heap, index, indexInfo);
	if (nworkers <= 0 ||
		!BuildParallel(&state, heap, index, indexInfo, nworkers, &reltuples))
		reltuples = BuildSerial(&state, heap, index, indexInfo);
	MemoryContextDelete(state.tmpCxt);
	MemoryContextDelete(state.linkCxt);

	/*
	 * Rows inserted into the pages after the arena filled up may have left
	 * elements no search can reach, which the arena's own linking (in
	 * HnswBuildFlushArena) could not see; and that linking, which only
	 * offers an element to its own neighbours, leaves some in graphs with
	 * few links (m = 2), which this pass searches for.
	 */
	if (state.onDisk || state.unreachedLeft)
		HnswLinkUnreachableBuilt(index);
	LogBuiltIndex(&state, index);

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
					 HnswGetEfConstruction(index), HnswIndexExactKind(index));
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
