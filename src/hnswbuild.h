/*-------------------------------------------------------------------------
 *
 * hnswbuild.h
 *	  CREATE INDEX for hnsw, shared by its files: the arena's elements, the
 *	  state of a build and of each participant, and the functions of
 *	  hnswbuild.c (the access method's callbacks and the heap scan),
 *	  hnswarena.c (the graph in memory), hnswbuildorder.c (grouped
 *	  insertion), hnswbuildwrite.c (writing pages) and hnswbuildparallel.c
 *	  (parallel workers).  Not for the rest of the access method.
 *
 * See src/README "Build".
 *
 * src/hnswbuild.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_HNSWBUILD_H
#define HNSW_HNSWBUILD_H

#include <float.h>
#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "executor/instrument.h"
#include "hnsw.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "storage/smgr.h"
#include "storage/condition_variable.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* Keys of the parallel build's shared memory table of contents */
#define HNSW_KEY_SHARED			UINT64CONST(0xA000000000000001)
#define HNSW_KEY_SCAN			UINT64CONST(0xA000000000000002)
#define HNSW_KEY_ARENA			UINT64CONST(0xA000000000000003)
#define HNSW_KEY_QUERY_TEXT		UINT64CONST(0xA000000000000004)
#define HNSW_KEY_WAL_USAGE		UINT64CONST(0xA000000000000005)
#define HNSW_KEY_BUFFER_USAGE	UINT64CONST(0xA000000000000006)

/* Element pages written (and WAL-logged) at once when writing the arena */
#define HNSW_WRITE_BATCH		XLR_MAX_BLOCK_ID

/* The smallest page size of the platforms we know (madvise ranges) */
#define HNSW_OS_PAGE_SIZE		4096

/* Transparent huge pages of x86-64 and most others (a hint; see below) */
#define HNSW_HUGE_PAGE_SIZE		(2 * 1024 * 1024)

/*
 * Deferred linking (HnswBuildLinkPending): every participant keeps its prepared
 * vectors aside and links them later, encoded only then, so that an element
 * linked later is stored and searched for exactly as an immediate insert
 * would do it, whatever the quantization and the column's type.  The first
 * window of a participant's vectors is linked in scan order, later windows
 * (an eighth of the elements made so far, HNSW_BUILD_FIRST_WINDOW to
 * HNSW_BUILD_WINDOW vectors) in groups around HNSW_BUILD_PIVOTS pivots
 * (fewer for small windows: at least HNSW_BUILD_MIN_GROUP vectors per
 * pivot).  A vector that no longer fits the arena goes to HnswInsertOnDisk
 * in the column's type: as a real[] for array columns (HnswVectorToArray).
 */
#define HNSW_BUILD_FIRST_WINDOW	2048
#define HNSW_BUILD_WINDOW		32768
#define HNSW_BUILD_WINDOW_SHARE	8
#define HNSW_BUILD_PIVOTS		32
#define HNSW_BUILD_MIN_GROUP	64

/* Rounds of HnswArenaLinkUnreachable at most */
#define HNSW_BUILD_LINK_ROUNDS	4

/* One neighbour of an element of the build graph */
typedef struct BuildNeighbor
{
	int32		id;				/* element number in the arena */
	float		distance;		/* from the owner (or the query) */
} BuildNeighbor;

/* The neighbours of one element on one level */
typedef struct BuildList
{
	int16		length;
	int16		nkept;			/* items[0..nkept) passed the heuristic when
								 * the list was last chosen or pruned, the
								 * rest failed it; 0 if never decided */
	BuildNeighbor items[FLEXIBLE_ARRAY_MEMBER];
} BuildList;

/*
 * An element of the build graph.  The vector, as the index stores it,
 * follows the header (so a search finds it without reading the header),
 * then the level + 1 lists, level 0 first.  Nothing but the lists and the
 * heap TIDs changes once the element is linked.
 */
typedef struct BuildElement
{
	LWLock		lock;			/* protects lists and heap TIDs (parallel) */
	uint8		level;
	uint8		nheaptids;
	uint16		cut;			/* HnswBuildFlushArena: bytes of the vector on the
								 * page of a head tuple, 0 if whole */
	uint32		listOffset;		/* of the level 0 list, from the start */
	ItemPointerData tid;		/* its tuple, once pages are written */
	ItemPointerData heaptids[HNSW_HEAPTIDS];
	HnswKey		key;			/* its filter column's value */
} BuildElement;

#define BUILD_HEADER_SIZE		MAXALIGN(sizeof(BuildElement))
#define BUILD_LIST_SIZE(cap)	(offsetof(BuildList, items) + (cap) * sizeof(BuildNeighbor))
/* offset of the list of level lc from the level 0 list */
#define BUILD_LIST_OFFSET(lc, m) \
	((lc) == 0 ? 0 : \
	 BUILD_LIST_SIZE(2 * (m)) + ((lc) - 1) * BUILD_LIST_SIZE(m))
#define BUILD_ELEMENT_SIZE(level, m, codesize) \
	(BUILD_HEADER_SIZE + MAXALIGN(codesize) + \
	 MAXALIGN(BUILD_LIST_OFFSET((level) + 1, (m))))

/*
 * State of a build shared by all participants: in dynamic shared memory for
 * a parallel build, in the leader's memory otherwise.
 */
typedef struct HnswBuildShared
{
	/* set by the leader before workers start, then read-only */
	Oid			heaprelid;
	Oid			indexrelid;
	bool		isconcurrent;
	bool		parallel;		/* lock element lists */
	bool		sizedByMemory;	/* arena is maintenance_work_mem, not an
								 * estimate of the table */
	int			m;
	int			efConstruction;
	int			tranche;		/* of the element and entry locks */
	uint32		maxElements;	/* entries of the offset array */
	Size		areaSize;		/* bytes for elements after the offsets */
	Size		stageBytes;		/* staging memory of each participant */
	int			nparticipants;	/* leader and workers planned, 1 if serial */

	/* protected by mutex */
	slock_t		mutex;
	int			dim;			/* of every vector, 0 until the first */
	int			nworkersdone;	/* workers that finished their scan */
	int			npaused;		/* workers waiting for the flush */
	bool		flushed;		/* graph is on pages: insert there */
	Size		codesSize;		/* bytes of the flushed arena's memory that
								 * hold the codes of elements, 0 if none
								 * (hnswbuildcodes.c); set before flushed */
	double		reltuples;		/* heap tuples seen by finished workers */
	double		indtuples;		/* tuples indexed by finished workers */
	ConditionVariable cv;		/* any of the above changed */

	int			npivots;		/* pivots of deferred linking, 0 until
								 * the first participant chooses them */
	int32		pivots[HNSW_BUILD_PIVOTS];	/* their element numbers */

	LWLock		entryLock;		/* protects entry */
	int32		entry;			/* entry point, -1 while empty */

	pg_atomic_uint32 nelements; /* element numbers handed out */
	pg_atomic_uint64 areaUsed;	/* bytes of the area handed out */
	pg_atomic_uint32 full;		/* the arena is full: stop adding to it */
	pg_atomic_uint64 tuplesDone;	/* for progress reports */
} HnswBuildShared;

/* What one participant (leader or worker) of a build keeps */
typedef struct HnswBuildState
{
	HnswBuildShared *shared;
	uint64	   *offsets;		/* element number -> offset in area, 0 if
								 * none */
	char	   *area;
	bool		isLeader;
	Relation	heap;
	Relation	index;
	HnswGraph  *graph;			/* distances, dimensions, quantization */
	MemoryContext tmpCxt;		/* reset after every tuple */
	MemoryContext linkCxt;		/* reset after every element linked later */
	int			maxLevel;		/* highest level an element may have */
	bool		onDisk;			/* graph flushed: insert on pages */
	bool		unreachedLeft;	/* the arena's linking left elements no
								 * search reaches */
	bool		wroteDirect;	/* wrote pages past shared buffers */
	BlockNumber firstElementBlock;	/* of the arena's pages, once written */
	Size		vecSize;		/* bytes of every stored vector, 0 until
								 * the first */
	double		indtuples;		/* tuples this participant indexed */

	/* vectors kept aside, not yet in the arena (HnswBuildLinkPending) */
	MemoryContext stageCxt;		/* the staging memory's */
	char	   *stage;			/* StagedVectors, allocated at first use */
	Size		stageCap;
	Size		stageUsed;
	uint32	   *staged;			/* offsets in stage, in linking order */
	int			npending;
	int			nwindows;		/* windows linked so far */
	int32	   *firstIds;		/* elements of the first window */
	int			nfirst;
	float	   *pivotVectors;	/* the pivots' vectors, decoded, kept out
								 * of the arena (HnswBuildKeepPivots) */
	int			npivotVectors;

	/* searches */
	uint32	   *visited;		/* element number -> tag of last search */
	uint32		tag;
	BuildNeighbor *cand;		/* candidate heap, nearest on top */
	BuildNeighbor *res;			/* result heap, furthest on top */
	BuildNeighbor *entries;		/* entry points of the next layer */
	int			candCap;
	int			resCap;

	/* leader of a parallel build */
	ParallelContext *pcxt;
	int			nworkers;		/* launched */
	Snapshot	snapshot;
	WalUsage   *walusage;
	BufferUsage *bufferusage;
} HnswBuildState;

/* The element numbered id */
static inline BuildElement *
GetElement(HnswBuildState *state, int32 id)
{
	return (BuildElement *) (state->area + state->offsets[id]);
}

static inline BuildList *
GetList(BuildElement *e, int lc, int m)
{
	return (BuildList *) ((char *) e + e->listOffset + BUILD_LIST_OFFSET(lc, m));
}

static inline HnswCode *
GetVector(BuildElement *e)
{
	return (HnswCode *) ((char *) e + BUILD_HEADER_SIZE);
}

/*
 * Give a participant's graph the build's dimensions, and with them how its
 * elements store vectors (inline, or a code with the vector out of line;
 * see src/README "Vectors out of line").  Every participant decides alike.
 */
static inline void
SetGraphDimensions(HnswGraph *graph, int dim)
{
	graph->dim = dim;
	if (dim > 0)
		graph->codeKind = HnswCodeKindFor(dim, graph->m, graph->exactKind,
										  graph->graphRequest);
}

static inline void
LockElement(HnswBuildState *state, BuildElement *e, LWLockMode mode)
{
	if (state->shared->parallel)
		LWLockAcquire(&e->lock, mode);
}

static inline void
UnlockElement(HnswBuildState *state, BuildElement *e)
{
	if (state->shared->parallel)
		LWLockRelease(&e->lock);
}

/* A new element's level, at most the highest one that fits a page */
static inline int
DrawLevel(HnswBuildState *state)
{
	int			level = HnswRandomLevel(state->shared->m);

	/* not Min(HnswRandomLevel(...), ...): the macro would draw twice */
	return Min(level, state->maxLevel);
}

#if defined(MADV_HUGEPAGE) || defined(MADV_POPULATE_WRITE)
/*
 * Give the kernel advice (madvise) on the whole pages of pagesize within
 * arena[0..size).  A hint only: an error (a kernel that does not know the
 * advice) changes nothing.
 */
static inline void
AdviseArena(char *arena, Size size, Size pagesize, int advice)
{
	uintptr_t	start = TYPEALIGN(pagesize, (uintptr_t) arena);
	uintptr_t	end = TYPEALIGN_DOWN(pagesize, (uintptr_t) arena + size);

	if (end > start)
		(void) madvise((void *) start, end - start, advice);
}
#endif

/* hnswbuild.c */
extern void HnswBuildReportProgress(HnswBuildState *state);
extern void HnswBuildSwitchToDisk(HnswBuildState *state);
extern void HnswBuildStopAddingToArena(HnswBuildState *state);
extern void HnswBuildCallback(Relation index, ItemPointer tid, Datum *values,
							  bool *isnull, bool tupleIsAlive, void *arg);
extern void HnswBuildInitParticipant(HnswBuildState *state,
									 HnswBuildShared *shared, char *arena,
									 Relation heap, Relation index,
									 bool isLeader);
extern Size HnswBuildSizeArena(Relation heap, Relation index, int m,
							   HnswCodeKind quant, int participants,
							   bool *sizedByMemory, uint32 *maxElements,
							   Size *stageBytes);

/* hnswarena.c */
extern int32 HnswArenaInsert(HnswBuildState *state, int level, HnswCode *vec,
							 ItemPointer heaptid, const HnswKey *key);
extern int	HnswArenaLinkUnreachable(HnswBuildState *state, uint32 nelements,
									 uint32 *left);

/* hnswbuildorder.c */
extern void HnswBuildLinkPending(HnswBuildState *state);
extern void HnswBuildKeepPivots(HnswBuildState *state);
extern bool HnswBuildStageVector(HnswBuildState *state, HnswCode *vec,
								 ItemPointer heaptid, const HnswKey *key);

/* hnswbuildwrite.c */
extern void HnswBuildFlushArena(HnswBuildState *state, bool final);

/* hnswbuildparallel.c */
extern void HnswBuildWaitForWorkers(HnswBuildState *state, bool paused);
extern int	HnswBuildPlanWorkers(Relation heap, Relation index,
								 struct IndexInfo *indexInfo);
extern void HnswBuildInitShared(HnswBuildShared *shared, Relation heap,
								Relation index, struct IndexInfo *indexInfo,
								bool parallel, bool sizedByMemory, Size total,
								uint32 maxElements, Size stageBytes);
extern char *HnswBuildBeginParallel(HnswBuildState *leader, Relation heap,
									Relation index,
									struct IndexInfo *indexInfo, int request,
									HnswBuildShared **sharedOut);
extern void HnswBuildEndParallel(HnswBuildState *state, double *reltuples);
extern PGDLLEXPORT void HnswParallelBuildMain(dsm_segment *seg, shm_toc *toc);

#endif							/* HNSW_HNSWBUILD_H */
