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
 * See src/README "Build".
 *
 * src/hnswbuild.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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
 * Deferred linking (LinkPending): every participant keeps its prepared
 * vectors aside and links them later, encoded only then, so that an element
 * linked later is stored and searched for exactly as an immediate insert
 * would do it, whatever the quantization and the column's type.  The first
 * window of a participant's vectors is linked in scan order, later windows
 * of up to HNSW_BUILD_WINDOW in groups around HNSW_BUILD_PIVOTS pivots
 * (fewer for small windows: at least HNSW_BUILD_MIN_GROUP vectors per
 * pivot).  A vector that no longer fits the arena goes to HnswInsertOnDisk
 * in the column's type: as a real[] for array columns (HnswVectorToArray).
 */
#define HNSW_BUILD_FIRST_WINDOW	2048
#define HNSW_BUILD_WINDOW		32768
#define HNSW_BUILD_PIVOTS		32
#define HNSW_BUILD_MIN_GROUP	64

/* Rounds of LinkUnreachable at most */
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
	uint16		cut;			/* FlushArena: bytes of the vector on the
								 * page of a head tuple, 0 if whole */
	uint32		listOffset;		/* of the level 0 list, from the start */
	ItemPointerData tid;		/* its tuple, once pages are written */
	ItemPointerData heaptids[HNSW_HEAPTIDS];
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

	/* protected by mutex */
	slock_t		mutex;
	int			dim;			/* of every vector, 0 until the first */
	int			nworkersdone;	/* workers that finished their scan */
	int			npaused;		/* workers waiting for the flush */
	bool		flushed;		/* graph is on pages: insert there */
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
	bool		wroteDirect;	/* wrote pages past shared buffers */
	BlockNumber firstElementBlock;	/* of the arena's pages, once written */
	Size		vecSize;		/* bytes of every stored vector, 0 until
								 * the first */
	double		indtuples;		/* tuples this participant indexed */

	/* vectors kept aside, not yet in the arena (LinkPending) */
	MemoryContext stageCxt;		/* the staging memory's */
	char	   *stage;			/* StagedVectors, allocated at first use */
	Size		stageCap;
	Size		stageUsed;
	uint32	   *staged;			/* offsets in stage, in linking order */
	int			npending;
	int			nwindows;		/* windows linked so far */
	int32	   *firstIds;		/* elements of the first window */
	int			nfirst;

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

extern PGDLLEXPORT void HnswParallelBuildMain(dsm_segment *seg, shm_toc *toc);

static void ReportProgress(HnswBuildState *state);
static void SwitchToDisk(HnswBuildState *state);

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

static inline Vector *
GetVector(BuildElement *e)
{
	return (Vector *) ((char *) e + BUILD_HEADER_SIZE);
}

/*
 * Give a participant's graph the build's dimensions, and with them how its
 * elements store vectors (inline, or a code with the vector out of line;
 * see src/README "Vectors out of line").  Every participant decides alike.
 */
static void
SetGraphDimensions(HnswGraph *graph, int dim)
{
	graph->dim = dim;
	if (dim > 0)
		graph->quantization = HnswCodeQuantization(dim, graph->m,
												   graph->exactQuantization);
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

#if defined(MADV_HUGEPAGE) || defined(MADV_POPULATE_WRITE)
/*
 * Give the kernel advice (madvise) on the whole pages of pagesize within
 * arena[0..size).  A hint only: an error (a kernel that does not know the
 * advice) changes nothing.
 */
static void
AdviseArena(char *arena, Size size, Size pagesize, int advice)
{
	uintptr_t	start = TYPEALIGN(pagesize, (uintptr_t) arena);
	uintptr_t	end = TYPEALIGN_DOWN(pagesize, (uintptr_t) arena + size);

	if (end > start)
		(void) madvise((void *) start, end - start, advice);
}
#endif

/*
 * The layer search of hnswsearchlayer.h over the arena: candidates are
 * element numbers, a neighbour not visited yet is its number and vector.
 */
typedef struct ArenaSearch
{
	HnswBuildState *state;
	const Vector *q;
} ArenaSearch;

typedef struct ArenaItem
{
	int32		id;
	const Vector *vec;
} ArenaItem;

/*
 * The neighbours of c on level lc not visited yet, marked visited now.
 * Takes c's lock in share mode while copying its list (parallel builds).
 */
static pg_attribute_always_inline int
ArenaExpand(ArenaSearch *as, BuildNeighbor *c, int lc, ArenaItem *items)
{
	HnswBuildState *state = as->state;
	BuildElement *ce = GetElement(state, c->id);
	BuildNeighbor nbuf[2 * HNSW_MAX_M];
	BuildList  *list;
	int			nn;
	int			n = 0;

	if (ce->level < lc)
		return -1;
	list = GetList(ce, lc, state->shared->m);
	LockElement(state, ce, LW_SHARED);
	nn = list->length;
	memcpy(nbuf, list->items, sizeof(BuildNeighbor) * nn);
	UnlockElement(state, ce);

	for (int i = 0; i < nn; i++)
	{
		int32		id = nbuf[i].id;

		if (state->visited[id] == state->tag)
			continue;
		state->visited[id] = state->tag;
		items[n].id = id;
		items[n].vec = GetVector(GetElement(state, id));
		n++;
	}
	return n;
}

static pg_attribute_always_inline bool
ArenaLoad(ArenaSearch *as, ArenaItem item, BuildNeighbor *cand)
{
	cand->id = item.id;
	cand->distance = HnswDistance(as->state->graph, as->q, item.vec);
	return true;
}

#define SL_PREFIX		Arena
#define SL_STATE		ArenaSearch
#define SL_CAND			BuildNeighbor
#define SL_ITEM			ArenaItem
#define SL_MAX_ITEMS	(2 * HNSW_MAX_M)
#define SL_ENTRY(st, cand) \
	((st)->state->visited[(cand)->id] = (st)->state->tag, true)
#define SL_EXPAND(st, cand, lc, items)	ArenaExpand(st, cand, lc, items)
#define SL_PREFETCH(st, item) \
	HnswPrefetchBytes((item).vec, (st)->state->vecSize)
#define SL_LOAD(st, item, bound, cand)	ArenaLoad(st, item, cand)
#define SL_RESULT(st, cand)		true
#define SL_SEEN(st, cand)		((void) 0)
#include "hnswsearchlayer.h"

/*
 * Search one layer of the arena for the ef elements nearest q (Algorithm 2)
 * from state->entries[0..nentries), whose distances are known.  The result,
 * nearest first, replaces the entries; return its length.
 *
 * Takes each expanded element's lock in share mode while copying its list
 * (parallel builds); holds no lock on return.
 */
static int
SearchLayer(HnswBuildState *state, const Vector *q, int nentries, int ef,
			int lc)
{
	ArenaSearch as;
	Arena_Heap	C;
	Arena_Heap	W;

	if (++state->tag == 0)
	{
		memset(state->visited, 0, sizeof(uint32) * state->shared->maxElements);
		state->tag = 1;
	}
	state->graph->scratchOf = NULL;
	as.state = state;
	as.q = q;
	C.items = state->cand;
	C.cap = state->candCap;
	W.items = state->res;
	W.cap = state->resCap;
	Arena_SearchLayer(&as, state->entries, nentries, ef, lc, &C, &W);
	state->cand = C.items;
	state->candCap = C.cap;
	state->res = W.items;
	state->resCap = W.cap;

	nentries = W.n;
	for (int i = nentries - 1; i >= 0; i--)
		state->entries[i] = Arena_HeapPop(&W);
	return nentries;
}

/*
 * Choose up to max neighbours among candidates (nearest first) into out, as
 * HnswSelectNeighbors does in the build: the paper's heuristic, then the
 * nearest candidates it passed over (keepPrunedConnections).  Under inner
 * product, which is no metric, the nearest are kept.
 */
static void
SelectNeighbors(HnswBuildState *state, BuildNeighbor *candidates, int n,
				int max, BuildList *out)
{
	HnswGraph  *graph = state->graph;
	bool		simple = graph->metric == HNSW_METRIC_IP && !graph->normalize;
	bool		chosen[HNSW_MAX_EF_CONSTRUCTION];
	int			nout = 0;

	for (int i = 0; i < n; i++)
		chosen[i] = false;
	for (int i = 0; i < n && nout < max; i++)
	{
		Vector	   *v = GetVector(GetElement(state, candidates[i].id));
		bool		good = true;

		for (int j = 0; j < nout && !simple; j++)
		{
			if (HnswDistance(graph, v,
							 GetVector(GetElement(state, out->items[j].id))) <
				candidates[i].distance)
			{
				good = false;
				break;
			}
		}
		if (good)
		{
			out->items[nout++] = candidates[i];
			chosen[i] = true;
		}
	}
	out->nkept = nout;
	for (int i = 0; i < n && nout < max; i++)
		if (!chosen[i])
			out->items[nout++] = candidates[i];
	out->length = nout;
}

/*
 * Does the heuristic keep cands[i], given the candidates chosen before it?
 * It is kept unless some chosen one is nearer to it than the owner of the
 * list is.  With skip, the chosen ones skip marks are not compared (they
 * are known not to reject it).  Computes up to one distance per chosen
 * candidate compared.
 */
static bool
KeepCandidate(HnswBuildState *state, BuildNeighbor *cands, bool *chosen,
			  bool *skip, int i)
{
	Vector	   *v = GetVector(GetElement(state, cands[i].id));

	for (int j = 0; j < i; j++)
	{
		if (chosen[j] && !(skip && skip[j]) &&
			HnswDistance(state->graph, v,
						 GetVector(GetElement(state, cands[j].id))) <
			cands[i].distance)
			return false;
	}
	return true;
}

/*
 * Link target to the element newId on level lc.  A full list is pruned with
 * the neighbour-selection heuristic, as hnswlib does, and the slots it
 * leaves are filled with the nearest candidates it passed over.
 *
 * The heuristic decides each candidate, in distance order, by the kept ones
 * before it alone.  When the list's last decisions are known (list->nkept:
 * items[0..nkept) were kept, the rest were not), most of them still hold
 * and are not recomputed; see src/README "Build".  The decisions are those
 * a full pass of the heuristic would make.
 *
 * Holds target's lock in exclusive mode throughout (parallel builds).
 */
static void
AddReverseLink(HnswBuildState *state, int32 targetId, int32 newId,
			   float distance, int lc)
{
	HnswGraph  *graph = state->graph;
	BuildElement *target = GetElement(state, targetId);
	BuildList  *list = GetList(target, lc, state->shared->m);
	int			cap = HNSW_LEVEL_CAPACITY(lc, state->shared->m);
	BuildNeighbor cands[2 * HNSW_MAX_M + 1];
	bool		known[2 * HNSW_MAX_M + 1];
	bool		chosen[2 * HNSW_MAX_M + 1];
	int			n = 0;
	int			newPos = -1;
	int			nkept = 0;
	int			nout = 0;
	bool		decided;
	bool		dropped = false;
	bool		simple = graph->metric == HNSW_METRIC_IP && !graph->normalize;

	LockElement(state, target, LW_EXCLUSIVE);
	if (list->length < cap)
	{
		list->items[list->length].id = newId;
		list->items[list->length].distance = distance;
		list->length++;
		/* the newcomer is undecided, and so the list */
		list->nkept = 0;
		UnlockElement(state, target);
		return;
	}

	/* insertion sort of the list plus the newcomer, nearest first */
	for (int i = 0; i <= list->length; i++)
	{
		BuildNeighbor c;
		bool		k = i < list->nkept;
		int			j;

		if (i < list->length)
			c = list->items[i];
		else
		{
			c.id = newId;
			c.distance = distance;
		}
		for (j = n; j > 0 && cands[j - 1].distance > c.distance; j--)
		{
			cands[j] = cands[j - 1];
			known[j] = known[j - 1];
		}
		cands[j] = c;
		known[j] = k;
		chosen[n] = false;
		n++;
	}
	for (int i = 0; i < n; i++)
		if (cands[i].id == newId)
			newPos = i;
	decided = list->nkept > 0 && !simple;

	/*
	 * The heuristic.  With the last decisions known, only what changed since
	 * is examined.  The newcomer is decided afresh.  A candidate kept last
	 * time was not rejected by anything kept last time, so it is kept again
	 * unless a candidate kept now but not then rejects it (the newcomer, or
	 * one rejected last time and kept now).  A candidate rejected last time
	 * was rejected by one kept last time: while every candidate kept last
	 * time is still kept, it stays rejected; once one is not, it is
	 * examined again in full.  So the decisions are those of a full pass.
	 * (Before the newcomer, nothing has changed: no distance is computed.)
	 */
	graph->scratchOf = NULL;
	for (int i = 0; i < n && nkept < cap; i++)
	{
		bool		good;

		if (simple)
			good = true;
		else if (!decided || i == newPos)
			good = KeepCandidate(state, cands, chosen, NULL, i);
		else if (known[i])
		{
			good = KeepCandidate(state, cands, chosen, known, i);
			if (!good)
				dropped = true;
		}
		else if (!dropped)
			good = false;
		else
			good = KeepCandidate(state, cands, chosen, NULL, i);

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
	for (int i = 0; i < n && nout < cap; i++)
		if (!chosen[i])
			list->items[nout++] = cands[i];
	list->length = nout;
	list->nkept = nkept;
	UnlockElement(state, target);
}

/*
 * Take a number and room in the arena for an element of the given level
 * with vector code and one heap TID, and fill it in with empty lists.
 * Return its number, or -1 (and mark the arena full) if there is no room.
 */
static int32
NewElement(HnswBuildState *state, int level, const Vector *code,
		   ItemPointer heaptid)
{
	HnswBuildShared *shared = state->shared;
	int			m = shared->m;
	Size		size = BUILD_ELEMENT_SIZE(level, m, VARSIZE(code));
	uint32		id;
	uint64		off;
	BuildElement *e;

	id = pg_atomic_fetch_add_u32(&shared->nelements, 1);
	off = pg_atomic_fetch_add_u64(&shared->areaUsed, size);
	if (id >= shared->maxElements || off + size > shared->areaSize)
	{
		pg_atomic_write_u32(&shared->full, 1);
		return -1;
	}
	state->offsets[id] = off;
	e = GetElement(state, id);
	memset(e, 0, BUILD_HEADER_SIZE);
	LWLockInitialize(&e->lock, shared->tranche);
	e->level = level;
	e->listOffset = BUILD_HEADER_SIZE + MAXALIGN(VARSIZE(code));
	memset((char *) e + e->listOffset, 0, BUILD_LIST_OFFSET(level + 1, m));
	e->heaptids[0] = *heaptid;
	e->nheaptids = 1;
	memcpy(GetVector(e), code, VARSIZE(code));
	return (int32) id;
}

/*
 * When the graph keeps vectors out of line, write element id's vector to
 * the index pages now (HnswWriteExactVector, unlogged while building) and
 * store the link in the element's code; only the code stays in the arena.
 * The link's bytes follow the code, which other participants may be
 * reading meanwhile; they read the link only when the pages are written.
 */
static void
WriteOutOfLine(HnswBuildState *state, int32 id, const Vector *vec)
{
	if (HnswGraphOutOfLine(state->graph))
		HnswWriteExactVector(state->graph, vec,
							 GetVector(GetElement(state, id)));
}

/*
 * Link element id, complete but not yet reachable, into the arena's graph
 * (Algorithm 1), searching with q: its vector as given (exact, where the
 * element keeps a code).  Identical vectors share an element while it has
 * room for their heap TIDs: if one takes id's heap TID, id is dropped (its
 * number becomes a hole, its bytes stay unused).
 *
 * Locks: the entry lock and one element lock at a time, never two.
 * Memory: the lists chosen are palloc'd in the current context.
 */
static void
LinkElement(HnswBuildState *state, int32 id, const Vector *q)
{
	HnswBuildShared *shared = state->shared;
	HnswGraph  *graph = state->graph;
	int			m = shared->m;
	BuildElement *e = GetElement(state, id);
	Vector	   *code = GetVector(e);
	int			level = e->level;
	int32		ep;
	int			epLevel;
	int			nentries;
	BuildList  *lists[HNSW_MAX_LEVEL + 1];
	BuildNeighbor *nearest;

	if (shared->parallel)
		LWLockAcquire(&shared->entryLock, LW_SHARED);
	ep = shared->entry;
	if (shared->parallel)
		LWLockRelease(&shared->entryLock);

	if (ep < 0)
	{
		/* the first element, unless another participant was quicker */
		if (shared->parallel)
			LWLockAcquire(&shared->entryLock, LW_EXCLUSIVE);
		ep = shared->entry;
		if (ep < 0)
		{
			WriteOutOfLine(state, id, q);
			shared->entry = id;
		}
		if (shared->parallel)
			LWLockRelease(&shared->entryLock);
		if (ep < 0)
			return;
	}

	/* greedy descent from the entry point, then ef_construction per level */
	epLevel = GetElement(state, ep)->level;
	graph->scratchOf = NULL;
	state->entries[0].id = ep;
	state->entries[0].distance = HnswDistance(graph, q,
											  GetVector(GetElement(state, ep)));
	nentries = 1;
	for (int lc = epLevel; lc > level; lc--)
		nentries = SearchLayer(state, q, nentries, 1, lc);
	for (int lc = Min(level, epLevel); lc >= 0; lc--)
	{
		int			cap = HNSW_LEVEL_CAPACITY(lc, m);

		nentries = SearchLayer(state, q, nentries, shared->efConstruction, lc);
		lists[lc] = palloc(BUILD_LIST_SIZE(cap));
		SelectNeighbors(state, state->entries, nentries, cap, lists[lc]);
	}

	/*
	 * An identical vector takes the heap TID if it has room.  Identical
	 * vectors tie for nearest: try each of them, so that they fill up one
	 * after another instead of leaving many elements with one TID.  The
	 * entries hold the search on level 0, nearest first.
	 */
	nearest = state->entries;
	for (int i = 0; i < nentries; i++)
	{
		BuildElement *ne = GetElement(state, nearest[i].id);
		bool		added = false;

		if (nearest[i].distance != nearest[0].distance)
			break;
		if (ne->nheaptids >= HNSW_HEAPTIDS)
			continue;
		if (HnswGraphOutOfLine(graph))
		{
			/* codes differ in their links: compare the vectors */
			if (!HnswVectorMatches(graph, GetVector(ne), q))
				continue;
		}
		else if (VARSIZE(GetVector(ne)) != VARSIZE(code) ||
				 memcmp(GetVector(ne), code, VARSIZE(code)) != 0)
			continue;
		LockElement(state, ne, LW_EXCLUSIVE);
		if (ne->nheaptids < HNSW_HEAPTIDS)
		{
			ne->heaptids[ne->nheaptids++] = e->heaptids[0];
			added = true;
		}
		UnlockElement(state, ne);
		if (added)
		{
			state->offsets[id] = 0;
			return;
		}
	}

	WriteOutOfLine(state, id, q);
	for (int lc = 0; lc <= Min(level, epLevel); lc++)
		memcpy(GetList(e, lc, m), lists[lc],
			   BUILD_LIST_SIZE(lists[lc]->length));

	/* the element is complete: link it in */
	for (int lc = 0; lc <= Min(level, epLevel); lc++)
		for (int i = 0; i < lists[lc]->length; i++)
			AddReverseLink(state, lists[lc]->items[i].id, id,
						   lists[lc]->items[i].distance, lc);

	if (level > epLevel)
	{
		if (shared->parallel)
			LWLockAcquire(&shared->entryLock, LW_EXCLUSIVE);
		if (level > GetElement(state, shared->entry)->level)
			shared->entry = id;
		if (shared->parallel)
			LWLockRelease(&shared->entryLock);
	}
}

/*
 * Add the prepared vector vec, as an element of the given level, to the
 * arena's graph and link it.  Return its number (a hole if an identical
 * vector took its heap TID), or -1, having changed nothing, if the arena
 * has no room for the element.  The code is palloc'd in the current
 * context.
 */
static int32
InsertInArena(HnswBuildState *state, int level, Vector *vec,
			  ItemPointer heaptid)
{
	Vector	   *code;
	int32		id;

	code = HnswEncodeVector(state->graph, vec, CurrentMemoryContext);
	state->vecSize = VARSIZE(code);
	id = NewElement(state, level, code, heaptid);
	if (id >= 0)
		LinkElement(state, id, vec);
	return id;
}

/* A new element's level, at most the highest one that fits a page */
static inline int
DrawLevel(HnswBuildState *state)
{
	return Min(HnswRandomLevel(state->shared->m), state->maxLevel);
}

/* A vector kept aside, in the participant's private staging memory */
typedef struct StagedVector
{
	ItemPointerData heaptid;
	uint8		level;
	/* the prepared vector follows, at STAGED_VECTOR_OFFSET */
} StagedVector;

#define STAGED_VECTOR_OFFSET	MAXALIGN(sizeof(StagedVector))
#define StagedVectorGetVector(sv) \
	((Vector *) ((char *) (sv) + STAGED_VECTOR_OFFSET))

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
 * Order the staged vectors so that consecutive ones are near each other:
 * each is grouped with its nearest pivot (ChoosePivots; squared L2,
 * whatever the metric: it only groups), and the groups follow one another
 * in the pivots' order, each in the order its vectors arrived.  Linked in
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
	int			npivots = ChoosePivots(state);
	const float *pivots[HNSW_BUILD_PIVOTS];
	int			start[HNSW_BUILD_PIVOTS + 1];
	uint8	   *group;
	uint32	   *ordered;

	if (npivots < 2)
		return;
	for (int p = 0; p < npivots; p++)
	{
		Vector	   *code = GetVector(GetElement(state, state->shared->pivots[p]));
		float	   *x;

		/* a code decodes to an approximation, which is enough to group by */
		x = palloc(sizeof(float) * dim);
		HnswDecodeVector(code, x);
		pivots[p] = x;
	}

	/* each vector's nearest pivot, then a stable counting sort */
	group = palloc(n);
	memset(start, 0, sizeof(start));
	for (int i = 0; i < n; i++)
	{
		const float *x = StagedVectorGetVector(GetStaged(state, i))->x;
		float		best = FLT_MAX;
		int			g = 0;

		for (int p = 0; p < npivots; p++)
		{
			float		d = VectorL2SquaredDistance(pivots[p], x, dim);

			if (d < best)
			{
				best = d;
				g = p;
			}
		}
		group[i] = (uint8) g;
		start[g + 1]++;
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	for (int p = 1; p <= npivots; p++)
		start[p] += start[p - 1];
	ordered = palloc(sizeof(uint32) * n);
	for (int i = 0; i < n; i++)
		ordered[start[group[i]]++] = state->staged[i];
	memcpy(state->staged, ordered, sizeof(uint32) * n);
	pfree(ordered);
	pfree(group);
}

/*
 * Add and link every vector this participant has staged: the first window
 * in the order the scan gave them (the graph's skeleton), later ones
 * ordered by OrderPending.  A vector for which the arena has no room goes
 * to the pages (SwitchToDisk first), as do all after it.  Called when the
 * staging memory or the window is full, at the end of the participant's
 * scan, and before it stops adding to the arena.
 * Memory: a context of its own, reset after every vector.
 */
static void
LinkPending(HnswBuildState *state)
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
		Vector	   *vec = StagedVectorGetVector(sv);
		int32		id = -1;

		if (!state->onDisk)
			id = InsertInArena(state, sv->level, vec, &sv->heaptid);
		if (id >= 0)
		{
			if (state->nwindows == 0 && state->offsets[id] != 0)
				state->firstIds[state->nfirst++] = id;
		}
		else
		{
			SwitchToDisk(state);
			HnswInsertOnDisk(state->index,
							 state->graph->arrays ? HnswVectorToArray(vec) :
							 PointerGetDatum(vec),
							 &sv->heaptid, true);
		}
		MemoryContextReset(state->linkCxt);
		/* progress counts a staged tuple once it is linked */
		pg_atomic_fetch_add_u64(&state->shared->tuplesDone, 1);
		ReportProgress(state);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextSwitchTo(oldcxt);
	state->npending = 0;
	state->stageUsed = 0;
	state->nwindows++;
}

/*
 * Keep the prepared vec of heap tuple heaptid aside, to be linked with its
 * window (LinkPending); link the window first if the staging memory has no
 * room for it, and after it if the window is full.  Return false if the
 * vector was not kept because linking the window filled the arena: the
 * caller inserts it into the pages.
 */
static bool
StageVector(HnswBuildState *state, Vector *vec, ItemPointer heaptid)
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
		LinkPending(state);
		if (state->onDisk)
			return false;
	}
	sv = (StagedVector *) (state->stage + state->stageUsed);
	sv->heaptid = *heaptid;
	sv->level = DrawLevel(state);
	memcpy(StagedVectorGetVector(sv), vec, VARSIZE(vec));
	state->staged[state->npending++] = (uint32) state->stageUsed;
	state->stageUsed += size;
	if (state->npending >= (state->nwindows == 0 ? HNSW_BUILD_FIRST_WINDOW :
							HNSW_BUILD_WINDOW))
		LinkPending(state);
	return true;
}

/*
 * The links of arena element id, for the walk of hnswreach.c: every level's
 * list, on levels above 0 only to elements that have the level.
 */
static int
ArenaLinks(void *arg, uint32 id, uint32 *out)
{
	HnswBuildState *state = (HnswBuildState *) arg;
	BuildElement *e = GetElement(state, id);
	int			m = state->shared->m;
	int			n = 0;

	for (int lc = 0; lc <= e->level; lc++)
	{
		BuildList  *list = GetList(e, lc, m);

		for (int i = 0; i < list->length; i++)
		{
			int32		t = list->items[i].id;

			if (lc == 0 || GetElement(state, t)->level >= lc)
				out[n++] = t;
		}
	}
	return n;
}

/*
 * Make the level-0 list of the reached element via link to id at
 * distance: in a free slot, or in place of its furthest link that is not
 * in the walk's tree, so that no element stops being reachable.  Return
 * false if the list has no such slot.
 */
static bool
LinkBack(HnswBuildState *state, HnswReach *reach, int32 via, int32 id,
		 float distance)
{
	BuildList  *list = GetList(GetElement(state, via), 0, state->shared->m);
	int			victim = -1;

	if (list->length < HNSW_LEVEL_CAPACITY(0, state->shared->m))
		victim = list->length++;
	else
	{
		for (int j = 0; j < list->length; j++)
			if (!HnswReachIsTree(reach, via, list->items[j].id) &&
				(victim < 0 ||
				 list->items[j].distance > list->items[victim].distance))
				victim = j;
		if (victim < 0)
			return false;
	}
	list->items[victim].id = id;
	list->items[victim].distance = distance;
	return true;
}

/*
 * Link every element that no search from the entry point can reach (one
 * that pruning left without incoming links, or a group of elements linking
 * only to each other) from the nearest of its own level-0 neighbours that
 * is reachable and has a slot to give (LinkBack).  What it reaches becomes
 * reachable too, and no reachable element stops being so; an element none
 * of whose neighbours is reachable yet is tried again in a later round, for
 * a few rounds at most.  Distances are known already; nothing is computed.
 * Leader only, while no participant changes the arena.  Returns how many
 * links were made.  See src/README "Build".
 */
static int
LinkUnreachable(HnswBuildState *state, uint32 nelements)
{
	int			m = state->shared->m;
	HnswReach	reach;
	int			linked = 0;

	if (state->shared->entry < 0)
		return 0;
	HnswReachInit(&reach, nelements, ArenaLinks, state);
	HnswReachFrom(&reach, state->shared->entry);
	for (int round = 0; round < HNSW_BUILD_LINK_ROUNDS; round++)
	{
		bool		missed = false;

		for (uint32 id = 0; id < nelements; id++)
		{
			BuildList  *own;
			bool		tried[2 * HNSW_MAX_M] = {0};

			if (state->offsets[id] == 0 || HnswReached(&reach, id))
				continue;
			missed = true;
			own = GetList(GetElement(state, id), 0, m);

			/* its reached neighbours, nearest first */
			for (;;)
			{
				int			via = -1;

				for (int i = 0; i < own->length; i++)
					if (!tried[i] && HnswReached(&reach, own->items[i].id) &&
						(via < 0 ||
						 own->items[i].distance < own->items[via].distance))
						via = i;
				if (via < 0)
					break;		/* perhaps in a later round */
				tried[via] = true;
				if (LinkBack(state, &reach, own->items[via].id, id,
							 own->items[via].distance))
				{
					linked++;
					HnswReachAdd(&reach, own->items[via].id, id);
					break;
				}
			}
		}
		if (!missed)
			break;
	}
	HnswReachFree(&reach);
	return linked;
}

/*
 * Write pages[0..npages) of the graph, filled in private memory, at blknos
 * (the next blocks of the index, in order) past shared buffers, as nbtree's
 * build does; WAL-log them first if logged.  hnswbuild syncs the file at
 * the end (a checkpoint cannot flush what is not in shared buffers).
 */
static void
WritePages(HnswBuildState *state, BlockNumber *blknos, char *pages,
		   int npages, bool logged)
{
	Relation	index = state->index;
	Page		pagev[HNSW_WRITE_BATCH];

	if (blknos[0] != smgrnblocks(RelationGetSmgr(index), MAIN_FORKNUM))
		elog(ERROR, "unexpected block %u while writing hnsw index \"%s\"",
			 blknos[0], RelationGetRelationName(index));
	for (int i = 0; i < npages; i++)
		pagev[i] = (Page) (pages + BLCKSZ * i);
	if (logged)
		log_newpages(&index->rd_node, MAIN_FORKNUM, npages, blknos, pagev,
					 true);
	for (int i = 0; i < npages; i++)
	{
		PageSetChecksumInplace(pagev[i], blknos[i]);
		smgrextend(RelationGetSmgr(index), MAIN_FORKNUM, blknos[i],
				   (char *) pagev[i], true);
	}
	state->wroteDirect = true;
}

/*
 * The heap TID capacity CREATE INDEX gives an element with n heap TIDs:
 * room for just those (even, for the vector's alignment).  Inserts of the
 * same vector later go to a new element when it is full.
 */
static inline int
TidRoom(int n)
{
	return Max(2, TYPEALIGN(2, n));
}

/* Fewest bytes of a vector worth putting in a head tuple */
#define HNSW_MIN_CUT		64

/*
 * Decide whether element e of an index with packed = on, whose tuple of
 * size bytes does not fit the room bytes left on its page, is cut into a
 * head tuple that ends the page and a tail tuple that starts the next
 * (src/README "Page layout"); if so set e->cut to the bytes of its vector
 * that stay on the page.  Only elements HnswMinCutSize allows are cut, and
 * only if at least HNSW_MIN_CUT bytes of the vector fit.
 */
static bool
PlaceCut(HnswGraph *graph, BuildElement *e, Size size, Size room)
{
	Size		codeSize = HNSW_CODE_SIZE(graph->dim, graph->quantization);
	Size		headSize;

	if (HnswMinCutSize(graph) == 0 || room < sizeof(ItemIdData))
		return false;
	/* a multiple of 8, so the vector's bytes on the page are one of 4 */
	headSize = TYPEALIGN_DOWN(MAXIMUM_ALIGNOF, room - sizeof(ItemIdData));
	if (headSize < size - codeSize + HNSW_MIN_CUT)
		return false;
	e->cut = headSize - (size - codeSize);
	Assert(e->cut % 4 == 0 && e->cut < codeSize);
	return true;
}

/*
 * Form in head the head tuple of tup, a whole element tuple of size bytes
 * whose vector keeps its first cut bytes on the page: the header and heap
 * TIDs, those bytes (the Vector's VARSIZE saying so), the slots.  Return
 * its size.
 */
static Size
FormHead(HnswElementTuple tup, Size size, Size cut, char *head)
{
	Size		before = (char *) HnswTupleVector(tup) - (char *) tup;
	Size		codeSize = VARSIZE(HnswTupleVector(tup));
	Size		slotBytes = size - before - codeSize;
	HnswElementTuple h = (HnswElementTuple) head;

	memcpy(head, tup, before + cut);
	memcpy(head + before + cut, HnswTupleGetSlots(tup), slotBytes);
	h->type = HNSW_HEAD_TUPLE;
	SET_VARSIZE(HnswTupleVector(h), cut);
	return before + cut + slotBytes;
}

/*
 * Form in out the tail tuple of tup, whose head at headTid keeps the first
 * cut bytes of its vector; return its size.
 */
static Size
FormTail(HnswElementTuple tup, Size cut, ItemPointer headTid, char *out)
{
	HnswTailTuple t = (HnswTailTuple) out;
	Size		codeSize = VARSIZE(HnswTupleVector(tup));

	memset(t, 0, HNSW_TAIL_HEADER_SIZE);
	t->type = HNSW_TAIL_TUPLE;
	t->head = *headTid;
	memcpy(t->data, (char *) HnswTupleVector(tup) + cut, codeSize - cut);
	return HNSW_TAIL_HEADER_SIZE + codeSize - cut;
}

/* Put a tuple on a page being filled, where FlushArena placed it */
static void
AddBuiltTuple(HnswBuildState *state, Page page, char *tup, Size size,
			  ItemPointer tid)
{
	if (PageAddItem(page, (Item) tup, size, InvalidOffsetNumber, false,
					false) != ItemPointerGetOffsetNumber(tid))
		elog(ERROR, "failed to add tuple to hnsw index \"%s\"",
			 RelationGetRelationName(state->index));
}

/*
 * Write the arena's graph to pages after the metapage (and any vectors
 * written out of line), in element order, then record the entry point.
 * The element pages are formed in private memory and written past shared
 * buffers (WritePages); when final (the graph is the whole index) they are
 * WAL-logged as they are written, otherwise (the arena filled up and
 * inserts into the pages follow) hnswbuild logs the whole index at its
 * end.  The metapage and the pages of vectors out of line are in shared
 * buffers and logged at the end.  Leader only, while no participant
 * changes the arena.  Tuples are formed by HnswFormElementTuple from a
 * stand-in element whose neighbours carry only their TIDs, with room for
 * just their heap TIDs; an element too large for the rest of its page may
 * be cut into a head and a tail tuple (PlaceCut).
 */
static void
FlushArena(HnswBuildState *state, bool final)
{
	HnswBuildShared *shared = state->shared;
	HnswGraph  *graph = state->graph;
	Relation	index = state->index;
	int			m = shared->m;
	uint32		nelements = Min(pg_atomic_read_u32(&shared->nelements),
								shared->maxElements);
	Size		pageSpace = BLCKSZ - MAXALIGN(SizeOfPageHeaderData) -
		MAXALIGN(sizeof(HnswPageOpaqueData));
	Size		used = pageSpace;
	/* after the metapage and any vectors written out of line meanwhile */
	BlockNumber firstBlkno = RelationGetNumberOfBlocks(index) - 1;
	BlockNumber blkno = firstBlkno;
	OffsetNumber off = InvalidOffsetNumber;
	HnswElementTuple tup;
	char	   *head;			/* a head or tail tuple being formed */
	ItemPointerData tail;
	HnswElementData elem;
	HnswNeighborList *lists[HNSW_MAX_LEVEL + 1];
	HnswElementData *stubs;
	char	   *pages;			/* HNSW_WRITE_BATCH pages being filled */
	BlockNumber blknos[HNSW_WRITE_BATCH];
	int			npages = 0;
	Page		page = NULL;
	bool		logged = final && RelationNeedsWAL(index);
	bool		packed = HnswGetPacked(index);
	int			linked;
	int			dim;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE,
								 PROGRESS_HNSW_PHASE_WRITE);
	state->firstElementBlock = firstBlkno + 1;
	SpinLockAcquire(&shared->mutex);
	dim = shared->dim;
	SpinLockRelease(&shared->mutex);
	SetGraphDimensions(graph, dim);

	/*
	 * Under inner product, which is no metric, elements without incoming
	 * links are mostly ones no query ranks first; linking them would take
	 * links from the hubs searches go through.
	 */
	linked = graph->metric != HNSW_METRIC_IP || graph->normalize ?
		LinkUnreachable(state, nelements) : 0;
	ereport(DEBUG1,
			(errmsg_internal("hnsw build of \"%s\": %u elements, %d unreachable ones linked to",
							 RelationGetRelationName(index), nelements,
							 linked)));

	/*
	 * First give every element its place, so links can be written.  Large
	 * elements that do not fit the rest of a page are cut there (PlaceCut).
	 */
	for (uint32 id = 0; id < nelements; id++)
	{
		BuildElement *e;
		Size		size;
		Size		need;

		if (state->offsets[id] == 0)
			continue;			/* numbered, but the arena was full */
		e = GetElement(state, id);
		size = HnswElementTupleSize(graph, e->level, TidRoom(e->nheaptids));
		need = MAXALIGN(size) + sizeof(ItemIdData);
		e->cut = 0;
		if (used + need <= pageSpace)
		{
			off++;
			used += need;
		}
		else if (packed && blkno != firstBlkno &&
				 PlaceCut(graph, e, size, pageSpace - used))
		{
			/* the head ends this page, the tail starts the next */
			off++;
			ItemPointerSet(&e->tid, blkno, off);
			blkno++;
			off = FirstOffsetNumber;
			used = MAXALIGN(HNSW_TAIL_HEADER_SIZE +
							HNSW_CODE_SIZE(graph->dim, graph->quantization) -
							e->cut) + sizeof(ItemIdData);
			continue;
		}
		else
		{
			blkno++;
			off = FirstOffsetNumber;
			used = need;
		}
		ItemPointerSet(&e->tid, blkno, off);
	}

	tup = palloc(HNSW_MAX_TUPLE_SIZE);
	head = palloc(HNSW_MAX_TUPLE_SIZE);
	stubs = palloc0(sizeof(HnswElementData) * HNSW_SLOTS(HNSW_MAX_LEVEL, m));
	for (int lc = 0; lc <= HNSW_MAX_LEVEL; lc++)
		lists[lc] = palloc(offsetof(HnswNeighborList, items) +
						   sizeof(HnswCandidate) * HNSW_LEVEL_CAPACITY(lc, m));
	memset(&elem, 0, sizeof(elem));
	elem.neighbors = lists;

	pages = palloc(BLCKSZ * HNSW_WRITE_BATCH);
	for (uint32 id = 0; id < nelements; id++)
	{
		BuildElement *e;
		Size		size;
		int			nstubs = 0;

		if (state->offsets[id] == 0)
			continue;
		e = GetElement(state, id);
		if (page == NULL ||
			ItemPointerGetBlockNumber(&e->tid) != blknos[npages - 1])
		{
			if (npages == HNSW_WRITE_BATCH)
			{
				WritePages(state, blknos, pages, npages, logged);
				npages = 0;
			}
			blknos[npages] = ItemPointerGetBlockNumber(&e->tid);
			page = pages + BLCKSZ * npages;
			npages++;
			HnswInitPage(page);
		}

		elem.level = e->level;
		elem.nheaptids = e->nheaptids;
		memcpy(elem.heaptids, e->heaptids, sizeof(ItemPointerData) * e->nheaptids);
		elem.vec = GetVector(e);
		for (int lc = 0; lc <= e->level; lc++)
		{
			BuildList  *bl = GetList(e, lc, m);

			lists[lc]->length = bl->length;
			for (int i = 0; i < bl->length; i++)
			{
				HnswElementData *stub = &stubs[nstubs++];

				stub->tid = GetElement(state, bl->items[i].id)->tid;
				lists[lc]->items[i].element = stub;
				lists[lc]->items[i].distance = bl->items[i].distance;
			}
		}
		size = HnswFormElementTuple(graph, &elem, tup, TidRoom(e->nheaptids));
		if (e->cut != 0)
		{
			/* a head, then its tail on the next page */
			size = FormHead(tup, size, e->cut, head);
			AddBuiltTuple(state, page, head, size, &e->tid);
			if (npages == HNSW_WRITE_BATCH)
			{
				WritePages(state, blknos, pages, npages, logged);
				npages = 0;
			}
			blknos[npages] = ItemPointerGetBlockNumber(&e->tid) + 1;
			page = pages + BLCKSZ * npages;
			npages++;
			HnswInitPage(page);
			size = FormTail(tup, e->cut, &e->tid, head);
			ItemPointerSet(&tail, blknos[npages - 1], FirstOffsetNumber);
			AddBuiltTuple(state, page, head, size, &tail);
		}
		else
			AddBuiltTuple(state, page, (char *) tup, size, &e->tid);
		CHECK_FOR_INTERRUPTS();
	}
	if (npages > 0)
		WritePages(state, blknos, pages, npages, logged);
	pfree(pages);
	pfree(tup);
	pfree(head);
	pfree(stubs);
	for (int lc = 0; lc <= HNSW_MAX_LEVEL; lc++)
		pfree(lists[lc]);

	if (shared->entry >= 0)
	{
		BuildElement *ep = GetElement(state, shared->entry);

		HnswUpdateMetaEntry(index, true, graph->dim, &ep->tid, ep->level, false);
	}
	if (blkno != firstBlkno)
		HnswUpdateMetaInsertPage(index, true, blkno);
}

/* Report the tuples all participants have indexed so far (leader) */
static void
ReportProgress(HnswBuildState *state)
{
	if (state->isLeader)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE,
									 (int64) pg_atomic_read_u64(&state->shared->tuplesDone));
}

/*
 * The leader: wait until every worker has finished its scan or, with
 * paused, is waiting for the graph to be flushed.  Worker errors are thrown
 * here by CHECK_FOR_INTERRUPTS in the sleep.
 */
static void
WaitForWorkers(HnswBuildState *state, bool paused)
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
		ReportProgress(state);
		ConditionVariableTimedSleep(&shared->cv, 1000,
									WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
	}
	ConditionVariableCancelSleep();
}

/*
 * The arena is full: from now on this participant inserts into the pages.
 * The leader waits for every worker to stop at the arena (or finish),
 * writes the graph to pages and wakes them; a worker waits for that.
 */
static void
SwitchToDisk(HnswBuildState *state)
{
	HnswBuildShared *shared = state->shared;

	if (state->onDisk)
		return;
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
		WaitForWorkers(state, true);
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
		FlushArena(state, false);
		SpinLockAcquire(&shared->mutex);
		shared->flushed = true;
		SpinLockRelease(&shared->mutex);
		ConditionVariableBroadcast(&shared->cv);
		pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE,
									 PROGRESS_HNSW_PHASE_LOAD);
	}
	state->onDisk = true;
}

/*
 * This participant adds no more to the arena (it is full): link what it
 * added and has not linked yet, then insert into the pages from now on.
 */
static void
StopAddingToArena(HnswBuildState *state)
{
	LinkPending(state);
	SwitchToDisk(state);
}

/*
 * Index one heap tuple: table_index_build_scan's callback, in every
 * participant.
 */
static void
BuildCallback(Relation index, ItemPointer tid, Datum *values,
			  bool *isnull, bool tupleIsAlive, void *arg)
{
	HnswBuildState *state = (HnswBuildState *) arg;
	HnswBuildShared *shared = state->shared;
	MemoryContext oldcxt;
	int			dim;
	bool		linkLater = false;

	/* NULLs are not indexed */
	if (isnull[0])
		return;

	oldcxt = MemoryContextSwitchTo(state->tmpCxt);
	if (!state->onDisk && pg_atomic_read_u32(&shared->full))
		StopAddingToArena(state);
	if (!state->onDisk)
	{
		Vector	   *vec = HnswPrepareVector(state->graph, values[0]);

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
				shared->dim = vec->dim;
			dim = shared->dim;
			SpinLockRelease(&shared->mutex);
			SetGraphDimensions(state->graph, dim);
		}
		state->maxLevel = HnswCheckVector(state->graph, vec);
		if (StageVector(state, vec, tid))
			linkLater = true;
		else if (state->onDisk ||
				 InsertInArena(state, DrawLevel(state), vec, tid) < 0)
		{
			StopAddingToArena(state);
			HnswInsertOnDisk(index, values[0], tid, true);
		}
	}
	else
		HnswInsertOnDisk(index, values[0], tid, true);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(state->tmpCxt);

	state->indtuples++;
	if (!linkLater)
		pg_atomic_fetch_add_u64(&shared->tuplesDone, 1);
	ReportProgress(state);
}


/*
 * Set up one participant of a build over shared: its own graph (distance
 * functions, quantization), scratch memory for searches and the lock
 * tranche's name.  Memory comes from the current context.
 */
static void
InitParticipant(HnswBuildState *state, HnswBuildShared *shared, char *arena,
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
	state->entries = palloc(sizeof(BuildNeighbor) * (ef + 2));
	LWLockRegisterTranche(shared->tranche, "hnsw build");
}

/*
 * Size the arena: maintenance_work_mem, or for a parallel build (whose
 * arena is shared memory, allocated at once) less if the table's estimated
 * rows need less.  Return the bytes for offsets and elements together, and
 * in *maxElements how many elements of the smallest size would fit.
 */
static Size
SizeArena(Relation heap, Relation index, int m, HnswQuantization quant,
		  int participants, bool *sizedByMemory, uint32 *maxElements,
		  Size *stageBytes)
{
	Size		limit = (Size) maintenance_work_mem * 1024;
	bool		parallel = participants > 1;
	int			dim = TupleDescAttr(RelationGetDescr(index), 0)->atttypmod;
	Size		minSize;
	Size		total;

	/* an eighth for the participants' staging memory (StageVector) */
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
static int
PlanWorkers(Relation heap, Relation index, IndexInfo *indexInfo)
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
static void
InitShared(HnswBuildShared *shared, Relation heap, Relation index,
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
static char *
BeginParallel(HnswBuildState *leader, Relation heap, Relation index,
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

	total = SizeArena(heap, index, HnswGetM(index), HnswGetQuantization(index),
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
	InitShared(shared, heap, index, indexInfo, true, sizedByMemory, total,
			   maxElements, stageBytes);
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
static void
EndParallel(HnswBuildState *state, double *reltuples)
{
	HnswBuildShared *shared = state->shared;
	ParallelContext *pcxt = state->pcxt;

	for (;;)
	{
		int			done;

		if (!state->onDisk && pg_atomic_read_u32(&shared->full))
			StopAddingToArena(state);
		SpinLockAcquire(&shared->mutex);
		done = shared->nworkersdone;
		SpinLockRelease(&shared->mutex);
		if (done >= state->nworkers)
			break;
		ReportProgress(state);
		ConditionVariableTimedSleep(&shared->cv, 1000,
									WAIT_EVENT_PARALLEL_CREATE_INDEX_SCAN);
	}
	ConditionVariableCancelSleep();
	WaitForParallelWorkersToFinish(pcxt);
	ReportProgress(state);

	*reltuples += shared->reltuples;
	state->indtuples += shared->indtuples;
	for (int i = 0; i < pcxt->nworkers_launched; i++)
		InstrAccumParallelQuery(&state->bufferusage[i], &state->walusage[i]);

	if (!state->onDisk)
		FlushArena(state, true);

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

	InitParticipant(&state, shared, arena, heap, index, false);
	indexInfo = BuildIndexInfo(index);
	indexInfo->ii_Concurrent = shared->isconcurrent;
	scan = table_beginscan_parallel(heap, pscan);
	reltuples = table_index_build_scan(heap, index, indexInfo, true, false,
									   BuildCallback, &state, scan);
	LinkPending(&state);

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

/*
 * Build an hnsw index over the existing rows of heap, with parallel workers
 * if PlanWorkers asks for any and some start.  The index's pages are
 * written without WAL and logged at the end with log_newpage_range.
 */
IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswBuildState state;
	HnswBuildShared *shared = NULL;
	char	   *arena = NULL;
	Buffer		metabuf;
	double		reltuples;
	int			nworkers;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data",
			 RelationGetRelationName(index));

	/* the metapage first, so that element pages start at block 1 */
	metabuf = ReadBuffer(index, P_NEW);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	HnswInitMetaPage(BufferGetPage(metabuf), HnswGetM(index),
					 HnswGetEfConstruction(index), HnswGetQuantization(index));
	MarkBufferDirty(metabuf);
	UnlockReleaseBuffer(metabuf);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE,
								 PROGRESS_HNSW_PHASE_LOAD);
	if (heap->rd_rel->reltuples > 0)
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL,
									 (int64) heap->rd_rel->reltuples);

	nworkers = PlanWorkers(heap, index, indexInfo);
	if (nworkers > 0)
	{
		HnswBuildState leader;

		memset(&leader, 0, sizeof(leader));
		arena = BeginParallel(&leader, heap, index, indexInfo, nworkers,
							  &shared);
		if (arena != NULL)
		{
			InitParticipant(&state, shared, arena, heap, index, true);
			state.pcxt = leader.pcxt;
			state.snapshot = leader.snapshot;
			state.nworkers = leader.nworkers;
			state.walusage = leader.walusage;
			state.bufferusage = leader.bufferusage;
		}
	}

	if (arena != NULL)
	{
		TableScanDesc scan;

		scan = table_beginscan_parallel(heap,
										shm_toc_lookup(state.pcxt->toc,
													   HNSW_KEY_SCAN, false));
		reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
										   BuildCallback, &state, scan);
		LinkPending(&state);
		EndParallel(&state, &reltuples);
	}
	else
	{
		bool		sizedByMemory;
		uint32		maxElements;
		Size		total;
		Size		stageBytes;

		total = SizeArena(heap, index, HnswGetM(index),
						  HnswGetQuantization(index), 1, &sizedByMemory,
						  &maxElements, &stageBytes);
		shared = palloc(sizeof(HnswBuildShared));
		InitShared(shared, heap, index, indexInfo, false, sizedByMemory,
				   total, maxElements, stageBytes);
		arena = MemoryContextAllocHuge(CurrentMemoryContext, total);

		/*
		 * Transparent huge pages where the kernel grants them on request
		 * (Linux, THP "madvise" or "always"): a search reads vectors all
		 * over the arena, and with 4 kB pages nearly every one costs a TLB
		 * miss.
		 */
#ifdef MADV_HUGEPAGE
		AdviseArena(arena, total, HNSW_HUGE_PAGE_SIZE, MADV_HUGEPAGE);
#endif
		memset(arena, 0, MAXALIGN(sizeof(uint64) * maxElements));
		InitParticipant(&state, shared, arena, heap, index, true);
		reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
										   BuildCallback, &state, NULL);
		LinkPending(&state);
		if (!state.onDisk)
			FlushArena(&state, true);
		pfree(arena);
	}
	MemoryContextDelete(state.tmpCxt);
	MemoryContextDelete(state.linkCxt);

	/*
	 * Rows inserted into the pages after the arena filled up may have left
	 * elements no search can reach, which the arena's own linking (in
	 * FlushArena) could not see.
	 */
	if (state.onDisk)
		HnswLinkUnreachableBuilt(index);

	/*
	 * WAL: a graph written whole logged its element pages as it wrote them;
	 * the pages before them (metapage, vectors out of line) are logged now.
	 * If inserts into the pages followed (the arena filled up), every page
	 * is logged now.  Pages written past shared buffers are synced, as
	 * nbtree's build does: a checkpoint during the build could not flush
	 * them, and WAL replay would start after their records.
	 */
	if (RelationNeedsWAL(index))
	{
		BlockNumber nblocks = RelationGetNumberOfBlocks(index);

		if (state.wroteDirect && !state.onDisk)
			nblocks = state.firstElementBlock;
		log_newpage_range(index, MAIN_FORKNUM, 0, nblocks, true);
		if (state.wroteDirect)
			smgrimmedsync(RelationGetSmgr(index), MAIN_FORKNUM);
	}

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
