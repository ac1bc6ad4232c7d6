/*-------------------------------------------------------------------------
 *
 * hnswbuildparallel.c
 *	  The parallel plumbing of CREATE INDEX: how many workers, the shared
 *	  state and arena in dynamic shared memory, starting and waiting for
 *	  the workers, and the workers' entry point.
 *
 * See src/README "Build".
 *
 * src/hnswbuildparallel.c
 *
 *-------------------------------------------------------------------------
 */

#include "postgres.h"

#include "hnswbuild.h"

/*
 * The leader: wait until every worker has finished its scan or, with
 * paused, is waiting for the graph to be flushed.  Worker errors are thrown
 * here by CHECK_FOR_INTERRUPTS in the sleep.
 */
void
HnswBuildWaitForWorkers(HnswBuildState *state, bool paused)
{
	HnswBuildShared *shared = state->shared;

	for (;;)
	{
		int			n;

		SpinLockAcquire(&shared->mutex);
		n = shared->nworkersdone + (paused ? shared->npaused : 0);
		SpinLockRelease(&shared->mutex);
		if (n >= state->nworkers)
			break;
		HnswBuildReportProgress(state);
		ConditionVariableTimedSleep(&shared->cv, 1000,
									WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
	}
	ConditionVariableCancelSleep();
}

/*
 * Decide how many parallel workers to ask for.  PostgreSQL 15 plans workers
 * for btree builds only, and sizes them from the main fork, which holds
 * only TOAST pointers when the vectors are large; here the planner's answer
 * (plan_create_index_workers: parallel safety, temporary tables, the
 * table's parallel_workers option) stands when the table sets
 * parallel_workers or the index has expressions or a predicate, and
 * otherwise the same logarithmic rule is applied to the main fork and the
 * TOAST table together, and capped at the CPUs online less one (the
 * leader builds too).  Never more than max_parallel_maintenance_workers.
 */
int
HnswBuildPlanWorkers(Relation heap, Relation index, IndexInfo *indexInfo)
{
	int			planned;
	int			workers;
	double		pages;
	double		threshold;
	long		ncpus;

	if (!IsUnderPostmaster || !IsNormalProcessingMode() ||
		max_parallel_maintenance_workers == 0 || IsInParallelMode() ||
		heap->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		return 0;

	planned = plan_create_index_workers(RelationGetRelid(heap),
										RelationGetRelid(index));
	if (RelationGetParallelWorkers(heap, -1) >= 0 ||
		indexInfo->ii_Expressions != NIL || indexInfo->ii_Predicate != NIL)
		return planned;

	pages = RelationGetNumberOfBlocks(heap);
	if (OidIsValid(heap->rd_rel->reltoastrelid))
	{
		Relation	toast = table_open(heap->rd_rel->reltoastrelid,
									   AccessShareLock);

		pages += RelationGetNumberOfBlocks(toast);
		table_close(toast, AccessShareLock);
	}

	threshold = Max(min_parallel_table_scan_size, 1);
	if (pages < threshold)
		workers = 0;
	else
	{
		workers = 1;
		while (pages >= threshold * 3 &&
			   workers < max_parallel_maintenance_workers)
		{
			workers++;
			threshold *= 3;
		}
	}
	workers = Max(planned, Min(workers, max_parallel_maintenance_workers));

	/*
	 * The leader builds too: more participants than CPUs only make them
	 * take turns holding the graph's locks (on 2 CPUs, 2 workers built
	 * Fashion-MNIST slower than 1).
	 */
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus > 0)
		workers = Min(workers, (int) Min(ncpus - 1, INT_MAX));
	return workers;
}

/* Fill in a new shared state */
void
HnswBuildInitShared(HnswBuildShared *shared, Relation heap, Relation index,
		   IndexInfo *indexInfo, bool parallel, bool sizedByMemory,
		   Size total, uint32 maxElements, Size stageBytes)
{
	memset(shared, 0, sizeof(HnswBuildShared));
	shared->heaprelid = RelationGetRelid(heap);
	shared->indexrelid = RelationGetRelid(index);
	shared->isconcurrent = indexInfo->ii_Concurrent;
	shared->parallel = parallel;
	shared->sizedByMemory = sizedByMemory;
	shared->m = HnswGetM(index);
	shared->efConstruction = HnswGetEfConstruction(index);
	shared->tranche = LWLockNewTrancheId();
	shared->maxElements = maxElements;
	shared->areaSize = total - MAXALIGN(sizeof(uint64) * maxElements);
	shared->stageBytes = stageBytes;
	shared->nparticipants = 1;
	SpinLockInit(&shared->mutex);
	ConditionVariableInit(&shared->cv);
	LWLockInitialize(&shared->entryLock, shared->tranche);
	shared->entry = -1;
	pg_atomic_init_u32(&shared->nelements, 0);
	/* offset 0 means "no element": the area starts one word in */
	pg_atomic_init_u64(&shared->areaUsed, MAXIMUM_ALIGNOF);
	pg_atomic_init_u32(&shared->full, 0);
	pg_atomic_init_u64(&shared->tuplesDone, 0);
}

/*
 * Start a parallel build: the shared state, the parallel heap scan and the
 * arena in one dynamic shared memory segment, then the workers.  Return the
 * arena, or NULL (nothing started) if no segment could be had.
 */
char *
HnswBuildBeginParallel(HnswBuildState *leader, Relation heap, Relation index,
			  IndexInfo *indexInfo, int request, HnswBuildShared **sharedOut)
{
	ParallelContext *pcxt;
	Snapshot	snapshot;
	Size		estshared = MAXALIGN(sizeof(HnswBuildShared));
	Size		estscan;
	Size		total;
	bool		sizedByMemory;
	uint32		maxElements;
	Size		stageBytes;
	HnswBuildShared *shared;
	ParallelTableScanDesc pscan;
	char	   *arena;
	int			querylen = 0;

	total = HnswBuildSizeArena(heap, index, HnswGetM(index), HnswIndexExactKind(index),
					  request + 1, &sizedByMemory, &maxElements, &stageBytes);

	EnterParallelMode();
	pcxt = CreateParallelContext("hnsw", "HnswParallelBuildMain", request);

	/* as nbtree: all visible tuples, or an MVCC snapshot if concurrent */
	if (!indexInfo->ii_Concurrent)
		snapshot = SnapshotAny;
	else
		snapshot = RegisterSnapshot(GetTransactionSnapshot());

	estscan = table_parallelscan_estimate(heap, snapshot);
	shm_toc_estimate_chunk(&pcxt->estimator, estshared);
	shm_toc_estimate_chunk(&pcxt->estimator, estscan);
	shm_toc_estimate_chunk(&pcxt->estimator, total);
	shm_toc_estimate_chunk(&pcxt->estimator,
						   mul_size(sizeof(WalUsage), pcxt->nworkers));
	shm_toc_estimate_chunk(&pcxt->estimator,
						   mul_size(sizeof(BufferUsage), pcxt->nworkers));
	shm_toc_estimate_keys(&pcxt->estimator, 5);
	if (debug_query_string)
	{
		querylen = strlen(debug_query_string);
		shm_toc_estimate_chunk(&pcxt->estimator, querylen + 1);
		shm_toc_estimate_keys(&pcxt->estimator, 1);
	}

	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		if (IsMVCCSnapshot(snapshot))
			UnregisterSnapshot(snapshot);
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return NULL;
	}

	shared = shm_toc_allocate(pcxt->toc, estshared);
	HnswBuildInitShared(shared, heap, index, indexInfo, true, sizedByMemory, total,
			   maxElements, stageBytes);
	shared->nparticipants = request + 1;
	shm_toc_insert(pcxt->toc, HNSW_KEY_SHARED, shared);

	pscan = shm_toc_allocate(pcxt->toc, estscan);
	table_parallelscan_initialize(heap, pscan, snapshot);
	shm_toc_insert(pcxt->toc, HNSW_KEY_SCAN, pscan);

	arena = shm_toc_allocate(pcxt->toc, total);
	memset(arena, 0, MAXALIGN(sizeof(uint64) * maxElements));
	shm_toc_insert(pcxt->toc, HNSW_KEY_ARENA, arena);

	if (debug_query_string)
	{
		char	   *sharedquery = shm_toc_allocate(pcxt->toc, querylen + 1);

		memcpy(sharedquery, debug_query_string, querylen + 1);
		shm_toc_insert(pcxt->toc, HNSW_KEY_QUERY_TEXT, sharedquery);
	}
	leader->walusage = shm_toc_allocate(pcxt->toc,
										mul_size(sizeof(WalUsage), pcxt->nworkers));
	shm_toc_insert(pcxt->toc, HNSW_KEY_WAL_USAGE, leader->walusage);
	leader->bufferusage = shm_toc_allocate(pcxt->toc,
										   mul_size(sizeof(BufferUsage), pcxt->nworkers));
	shm_toc_insert(pcxt->toc, HNSW_KEY_BUFFER_USAGE, leader->bufferusage);

	LaunchParallelWorkers(pcxt);
	/* a worker that fails to start must not leave the leader waiting */
	WaitForParallelWorkersToAttach(pcxt);

	leader->pcxt = pcxt;
	leader->snapshot = snapshot;
	leader->nworkers = pcxt->nworkers_launched;
	*sharedOut = shared;
	ereport(DEBUG1,
			(errmsg_internal("hnsw build of \"%s\": %d parallel workers planned, %d launched",
							 RelationGetRelationName(index), request,
							 pcxt->nworkers_launched)));
	return arena;
}

/*
 * The leader after its own scan: wait for the workers (flushing the graph
 * if the arena filled up meanwhile), collect their counts, and end the
 * parallel context once the graph is on pages.
 */
void
HnswBuildEndParallel(HnswBuildState *state, double *reltuples)
{
	HnswBuildShared *shared = state->shared;
	ParallelContext *pcxt = state->pcxt;

	for (;;)
	{
		int			done;

		if (!state->onDisk && pg_atomic_read_u32(&shared->full))
			HnswBuildStopAddingToArena(state);
		SpinLockAcquire(&shared->mutex);
		done = shared->nworkersdone;
		SpinLockRelease(&shared->mutex);
		if (done >= state->nworkers)
			break;
		HnswBuildReportProgress(state);
		ConditionVariableTimedSleep(&shared->cv, 1000,
									WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
	}
	ConditionVariableCancelSleep();
	WaitForParallelWorkersToFinish(pcxt);
	HnswBuildReportProgress(state);

	*reltuples += shared->reltuples;
	state->indtuples += shared->indtuples;
	for (int i = 0; i < pcxt->nworkers_launched; i++)
		InstrAccumParallelQuery(&state->bufferusage[i], &state->walusage[i]);

	if (!state->onDisk)
		HnswBuildFlushArena(state, true);
	HnswBuildVerdictsEnd();
	HnswBuildCodesEnd();

	if (IsMVCCSnapshot(state->snapshot))
		UnregisterSnapshot(state->snapshot);
	DestroyParallelContext(pcxt);
	ExitParallelMode();
}

/*
 * Entry point of a parallel build worker: join the heap scan and insert
 * into the shared arena (or, once it is full and flushed, the pages).
 */
void
HnswParallelBuildMain(dsm_segment *seg, shm_toc *toc)
{
	HnswBuildShared *shared;
	HnswBuildState state;
	ParallelTableScanDesc pscan;
	char	   *arena;
	Relation	heap;
	Relation	index;
	LOCKMODE	heapLockmode;
	LOCKMODE	indexLockmode;
	IndexInfo  *indexInfo;
	TableScanDesc scan;
	double		reltuples;
	WalUsage   *walusage;
	BufferUsage *bufferusage;

	debug_query_string = shm_toc_lookup(toc, HNSW_KEY_QUERY_TEXT, true);
	pgstat_report_activity(STATE_RUNNING, debug_query_string);

	shared = shm_toc_lookup(toc, HNSW_KEY_SHARED, false);
	pscan = shm_toc_lookup(toc, HNSW_KEY_SCAN, false);
	arena = shm_toc_lookup(toc, HNSW_KEY_ARENA, false);

	/* the lock modes index.c holds in the leader */
	if (!shared->isconcurrent)
	{
		heapLockmode = ShareLock;
		indexLockmode = AccessExclusiveLock;
	}
	else
	{
		heapLockmode = ShareUpdateExclusiveLock;
		indexLockmode = RowExclusiveLock;
	}
	heap = table_open(shared->heaprelid, heapLockmode);
	index = index_open(shared->indexrelid, indexLockmode);

	InstrStartParallelQuery();

	HnswBuildInitParticipant(&state, shared, arena, heap, index, false);
	indexInfo = BuildIndexInfo(index);
	indexInfo->ii_Concurrent = shared->isconcurrent;
	scan = table_beginscan_parallel(heap, pscan);
	reltuples = table_index_build_scan(heap, index, indexInfo, true, false,
									   HnswBuildCallback, &state, scan);
	HnswBuildLinkPending(&state);
	HnswBuildVerdictsEnd();
	HnswBuildCodesEnd();

	SpinLockAcquire(&shared->mutex);
	shared->reltuples += reltuples;
	shared->indtuples += state.indtuples;
	shared->nworkersdone++;
	SpinLockRelease(&shared->mutex);
	ConditionVariableBroadcast(&shared->cv);

	walusage = shm_toc_lookup(toc, HNSW_KEY_WAL_USAGE, false);
	bufferusage = shm_toc_lookup(toc, HNSW_KEY_BUFFER_USAGE, false);
	InstrEndParallelQuery(&bufferusage[ParallelWorkerNumber],
						  &walusage[ParallelWorkerNumber]);

	index_close(index, indexLockmode);
	table_close(heap, heapLockmode);
}
