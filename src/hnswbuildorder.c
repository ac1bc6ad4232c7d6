/*-------------------------------------------------------------------------
 *
 * hnswbuildorder.c
 *	  Grouped insertion for CREATE INDEX: each participant keeps the vectors
 *	  it reads aside and links them a window at a time, later windows in
 *	  groups of vectors near each other, so that consecutive searches find
 *	  what they walk still in the CPU caches.
 *
 * See src/README "Build".
 *
 * src/hnswbuildorder.c
 *
 *-------------------------------------------------------------------------
 */

#include "postgres.h"

#include "hnswbuild.h"
#include "vectorgroup.h"

/* A vector kept aside, in the participant's private staging memory */
typedef struct StagedVector
{
	ItemPointerData heaptid;
	uint8		level;
	HnswKey		key;			/* its filter column's value */
	/* the prepared vector follows, at STAGED_VECTOR_OFFSET */
} StagedVector;

#define STAGED_VECTOR_OFFSET	MAXALIGN(sizeof(StagedVector))
#define StagedVectorGetVector(sv) \
	((HnswCode *) ((char *) (sv) + STAGED_VECTOR_OFFSET))

static inline StagedVector *
GetStaged(HnswBuildState *state, int i)
{
	return (StagedVector *) (state->stage + state->staged[i]);
}

/*
 * Choose the pivots of deferred linking, if no participant has yet: up to
 * HNSW_BUILD_PIVOTS elements evenly spaced among those this participant
 * linked in its first window (in scan order, as good as a random sample
 * when the heap has no order of its own).  Every participant then groups
 * its windows around the same pivots, in the same order, so that they link
 * near each other at the same time.  Return how many pivots there are
 * (their element numbers in shared->pivots; the elements are complete and
 * their vectors never change), 0 if too few to group by.
 */
static int
ChoosePivots(HnswBuildState *state)
{
	HnswBuildShared *shared = state->shared;
	int			n = state->nfirst;
	int			npivots;
	int32		chosen[HNSW_BUILD_PIVOTS];

	SpinLockAcquire(&shared->mutex);
	npivots = shared->npivots;
	SpinLockRelease(&shared->mutex);
	if (npivots > 0)
		return npivots;

	npivots = Min(HNSW_BUILD_PIVOTS, state->npending / HNSW_BUILD_MIN_GROUP);
	npivots = Min(npivots, n);
	if (npivots < 2)
		return 0;
	for (int p = 0; p < npivots; p++)
		chosen[p] = state->firstIds[(int64) p * n / npivots];

	SpinLockAcquire(&shared->mutex);
	if (shared->npivots == 0)
	{
		memcpy(shared->pivots, chosen, sizeof(int32) * npivots);
		shared->npivots = npivots;
	}
	npivots = shared->npivots;
	SpinLockRelease(&shared->mutex);
	return npivots;
}

/*
 * Copy the pivots' vectors, decoded, out of the arena into this
 * participant's memory, once they are chosen: after the arena is flushed
 * its memory holds other things (HnswBuildVerdictsStart), and windows
 * staged later are still grouped.  Call before the arena is flushed; after
 * that, pivots not kept are not read (the windows keep their scan order).
 * Memory: the staging memory's context.
 */
void
HnswBuildKeepPivots(HnswBuildState *state)
{
	int			dim = state->graph->dim;
	int			npivots;

	if (state->npivotVectors > 0 || state->onDisk)
		return;
	SpinLockAcquire(&state->shared->mutex);
	npivots = state->shared->npivots;
	SpinLockRelease(&state->shared->mutex);
	if (npivots < 2)
		return;
	state->pivotVectors = MemoryContextAlloc(state->stageCxt,
											 sizeof(float) * dim * npivots);
	for (int p = 0; p < npivots; p++)
	{
		/* a code decodes to an approximation, which is enough to group by */
		HnswDecodeVector(GetVector(GetElement(state, state->shared->pivots[p])),
						 state->pivotVectors + (Size) p * dim);
	}
	state->npivotVectors = npivots;
}

/*
 * Order the staged vectors so that consecutive ones are near each other:
 * each is grouped with its nearest pivot (ChoosePivots; squared L2,
 * whatever the metric: it only groups), and the groups follow one another
 * in the pivots' order, each in the order its vectors arrived
 * (vectorgroup.c, which also orders a batch search's queries).  Linked in
 * that order, consecutive searches find much of the graph they walk still
 * in the CPU caches, and the elements of a group lie together in the arena
 * (and later on the pages).  See src/README "Build".
 * Memory: temporary arrays in the current context.
 */
static void
OrderPending(HnswBuildState *state)
{
	int			n = state->npending;
	int			dim = state->graph->dim;
	int			npivots;
	const float *pivots[HNSW_BUILD_PIVOTS];
	int		   *group;
	int		   *order;
	uint32	   *ordered;
	float	   *decoded = NULL;

	/* bit strings and sparse vectors are added in scan order */
	if (state->graph->valueKind != HNSW_CODE_F32 &&
		state->graph->valueKind != HNSW_CODE_HALF)
		return;
	if (!state->onDisk && ChoosePivots(state) >= 2)
		HnswBuildKeepPivots(state);
	npivots = state->npivotVectors;
	if (npivots < 2)
		return;
	if (state->graph->valueKind != HNSW_CODE_F32)
		decoded = palloc(sizeof(float) * dim);
	for (int p = 0; p < npivots; p++)
		pivots[p] = state->pivotVectors + (Size) p * dim;

	/* each vector's nearest pivot, then the groups in the pivots' order */
	group = palloc(sizeof(int) * n);
	for (int i = 0; i < n; i++)
	{
		HnswCode   *vec = StagedVectorGetVector(GetStaged(state, i));
		const float *x = HnswCodeFloats(vec);

		if (decoded)
		{
			HnswDecodeVector(vec, decoded);
			x = decoded;
		}
		group[i] = VectorNearestPivot(pivots, npivots, x, dim);
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	order = palloc(sizeof(int) * n);
	VectorGroupOrder(group, n, npivots, order);
	ordered = palloc(sizeof(uint32) * n);
	for (int j = 0; j < n; j++)
		ordered[j] = state->staged[order[j]];
	memcpy(state->staged, ordered, sizeof(uint32) * n);
	pfree(ordered);
	pfree(order);
	pfree(group);
}

/*
 * Add and link every vector this participant has staged: the first window
 * in the order the scan gave them (the graph's skeleton), later ones
 * ordered by OrderPending.  A vector for which the arena has no room goes
 * to the pages (HnswBuildSwitchToDisk first), as do all after it.  Called when the
 * staging memory or the window is full, at the end of the participant's
 * scan, and before it stops adding to the arena.
 * Memory: a context of its own, reset after every vector.
 */
void
HnswBuildLinkPending(HnswBuildState *state)
{
	MemoryContext oldcxt;

	if (state->npending == 0)
		return;
	oldcxt = MemoryContextSwitchTo(state->linkCxt);
	if (state->nwindows > 0)
		OrderPending(state);
	MemoryContextReset(state->linkCxt);
	for (int i = 0; i < state->npending; i++)
	{
		StagedVector *sv = GetStaged(state, i);
		HnswCode	   *vec = StagedVectorGetVector(sv);
		int32		id = -1;

		if (!state->onDisk)
			id = HnswArenaInsert(state, sv->level, vec, &sv->heaptid,
								 &sv->key);
		if (id >= 0)
		{
			if (state->nwindows == 0 && state->offsets[id] != 0)
				state->firstIds[state->nfirst++] = id;
		}
		else
		{
			HnswBuildSwitchToDisk(state);
			HnswInsertOnDisk(state->index,
							 HnswCodeToDatum(state->graph, vec),
							 &sv->key, &sv->heaptid, true);
		}
		MemoryContextReset(state->linkCxt);
		/* progress counts a staged tuple once it is linked */
		pg_atomic_fetch_add_u64(&state->shared->tuplesDone, 1);
		HnswBuildReportProgress(state);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextSwitchTo(oldcxt);
	state->npending = 0;
	state->stageUsed = 0;
	state->nwindows++;
}

/*
 * The vectors a participant links in its next window: HNSW_BUILD_FIRST_WINDOW
 * at first, then a share (HNSW_BUILD_WINDOW_SHARE) of the elements all
 * participants have made so far, at least HNSW_BUILD_FIRST_WINDOW and at most
 * HNSW_BUILD_WINDOW, so that a group's part of the graph grows by a fraction
 * at a time (src/README "Insertion order").
 */
static int
WindowSize(HnswBuildState *state)
{
	uint32		made = pg_atomic_read_u32(&state->shared->nelements);

	if (state->nwindows == 0)
		return HNSW_BUILD_FIRST_WINDOW;
	return Min(HNSW_BUILD_WINDOW,
			   Max(HNSW_BUILD_FIRST_WINDOW, made / HNSW_BUILD_WINDOW_SHARE));
}

/*
 * Keep the prepared vec of heap tuple heaptid aside, to be linked with its
 * window (HnswBuildLinkPending); link the window first if the staging memory has no
 * room for it, and after it if the window is full.  Return false if the
 * vector was not kept because linking the window filled the arena: the
 * caller inserts it into the pages.
 */
bool
HnswBuildStageVector(HnswBuildState *state, HnswCode *vec, ItemPointer heaptid,
					 const HnswKey *key)
{
	Size		size = STAGED_VECTOR_OFFSET + MAXALIGN(VARSIZE(vec));
	StagedVector *sv;

	if (state->stage == NULL)
	{
		/* room for at least a few vectors, whatever the budget */
		state->stageCap = Max(state->shared->stageBytes, 16 * size);
		state->stage = MemoryContextAllocHuge(state->stageCxt,
											  state->stageCap);
#ifdef MADV_HUGEPAGE
		AdviseArena(state->stage, state->stageCap, HNSW_HUGE_PAGE_SIZE,
					MADV_HUGEPAGE);
#endif
	}
	if (state->stageUsed + size > state->stageCap)
	{
		HnswBuildLinkPending(state);
		if (state->onDisk)
			return false;
	}
	sv = (StagedVector *) (state->stage + state->stageUsed);
	sv->heaptid = *heaptid;
	sv->key = *key;
	sv->level = DrawLevel(state);
	memcpy(StagedVectorGetVector(sv), vec, VARSIZE(vec));
	state->staged[state->npending++] = (uint32) state->stageUsed;
	state->stageUsed += size;
	if (state->npending >= WindowSize(state))
		HnswBuildLinkPending(state);
	return true;
}
