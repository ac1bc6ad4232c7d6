/*-------------------------------------------------------------------------
 *
 * hnswarena.c
 *	  The graph of CREATE INDEX in memory: an arena of elements (shared
 *	  memory in a parallel build) and the algorithm on it, searching
 *	  (hnswsearchlayer.h), choosing neighbours, linking and pruning reverse
 *	  links, and linking the elements no search reaches before the graph is
 *	  written.
 *
 * See src/README "Build".
 *
 * src/hnswarena.c
 *
 *-------------------------------------------------------------------------
 */

#include "postgres.h"

#include "hnswbuild.h"

/*
 * The layer search of hnswsearchlayer.h over the arena: candidates are
 * element numbers, a neighbour not visited yet is its number and vector.
 */
typedef struct ArenaSearch
{
	HnswBuildState *state;
	const HnswCode *q;
} ArenaSearch;

typedef struct ArenaItem
{
	int32		id;
	const HnswCode *vec;
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

/*
 * Start bringing the header and the list on level lc of c's element into
 * the cache: it is expanded next.  Its list is where a vector of
 * state->vecSize bytes ends (a dense one; a hint only otherwise).
 */
static pg_attribute_always_inline void
ArenaPrefetchLinks(ArenaSearch *as, BuildNeighbor *c, int lc)
{
	HnswBuildState *state = as->state;
	char	   *e = (char *) GetElement(state, c->id);
	int			m = state->shared->m;

	HnswPrefetchBytes(e, 1);
	HnswPrefetchBytes(e + BUILD_HEADER_SIZE + MAXALIGN(state->vecSize) +
					  BUILD_LIST_OFFSET(lc, m),
					  BUILD_LIST_SIZE(lc == 0 ? 2 * m : m));
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
#define SL_PREFETCH_LINKS(st, cand, lc)	ArenaPrefetchLinks(st, &(cand), lc)
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
SearchLayer(HnswBuildState *state, const HnswCode *q, int nentries, int ef,
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
 * The distance from element id to its farthest link on level lc; -infinity
 * if it has none there.  Takes the element's lock in share mode.
 */
static float
FarthestLink(HnswBuildState *state, int32 id, int lc)
{
	BuildElement *e = GetElement(state, id);
	BuildList  *list;
	float		farthest = -INFINITY;

	if (e->level < lc)
		return farthest;
	list = GetList(e, lc, state->shared->m);
	LockElement(state, e, LW_SHARED);
	for (int i = 0; i < list->length; i++)
		farthest = Max(farthest, list->items[i].distance);
	UnlockElement(state, e);
	return farthest;
}

/*
 * The descent of HnswDescend (hnswsearch.c) over the arena: from the entry
 * in state->entries[0], on level top, to level bottom, greedy but for the
 * levels of 2 or more from the first whose search stops outside its
 * element's farthest link, searched with HNSW_UPPER_BEAM candidates.  The
 * entries of level bottom replace state->entries; return their number.
 */
static int
Descend(HnswBuildState *state, const HnswCode *q, int top, int bottom)
{
	int			nentries = 1;
	bool		wide = false;

	for (int lc = top; lc > bottom; lc--)
	{
		float		farthest;

		nentries = SearchLayer(state, q, nentries,
							   wide && lc >= 2 ? HNSW_UPPER_BEAM : 1, lc);
		if (!wide && lc >= 2 &&
			(farthest = FarthestLink(state, state->entries[0].id, lc)) >
			-INFINITY && state->entries[0].distance > farthest)
		{
			wide = true;
			nentries = SearchLayer(state, q, nentries, HNSW_UPPER_BEAM, lc);
		}
	}
	return nentries;
}

/* Neighbour selection of hnswselect.h over the arena */
#define SEL_PREFIX		Arena
#define SEL_STATE		HnswBuildState
#define SEL_CAND		BuildNeighbor
#define SEL_USABLE(st, c)	true
#define SEL_DIST(st, a, b) \
	HnswDistance((st)->graph, GetVector(GetElement(st, (a)->id)), \
				 GetVector(GetElement(st, (b)->id)))
#define SEL_SAME(st, a, b)	false
#define SEL_SIMPLE(st) \
	((st)->graph->metric == HNSW_METRIC_IP && !(st)->graph->normalize)
#include "hnswselect.h"

/*
 * Choose up to max neighbours among candidates (nearest first) into out:
 * the paper's heuristic, then the nearest candidates it passed over
 * (keepPrunedConnections), recording in out->nkept how many the heuristic
 * kept.  Under inner product, which is no metric, the nearest are kept.
 */
static void
SelectNeighbors(HnswBuildState *state, BuildNeighbor *candidates, int n,
				int max, BuildList *out)
{
	int			nkept;

	out->length = Arena_Select(state, candidates, n, max, true, out->items,
							   &nkept);
	out->nkept = nkept;
}

/*
 * Link target to the element newId on level lc.  A full list is pruned with
 * the neighbour-selection heuristic, as hnswlib does, and the slots it
 * leaves are filled with the nearest candidates it passed over: it gives up
 * one link, chosen by Arena_Drop (hnswselect.h), as an insert into the
 * pages does.  The list remembers the heuristic's verdicts (list->nkept:
 * items[0..nkept) were kept, the rest were not), so that its next pruning
 * recomputes only those that can have changed; see src/README "Build".
 *
 * Holds target's lock in exclusive mode throughout (parallel builds).
 */
static void
AddReverseLink(HnswBuildState *state, int32 targetId, int32 newId,
			   float distance, int lc)
{
	BuildElement *target = GetElement(state, targetId);
	BuildList  *list = GetList(target, lc, state->shared->m);
	int			cap = HNSW_LEVEL_CAPACITY(lc, state->shared->m);
	BuildNeighbor cands[2 * HNSW_MAX_M + 1];
	bool		last[2 * HNSW_MAX_M + 1];
	bool		kept[2 * HNSW_MAX_M + 1];
	int			n = 0;
	int			newPos = -1;
	int			drop;
	int			nout = 0;

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
			last[j] = last[j - 1];
		}
		cands[j] = c;
		last[j] = i < list->nkept;
		n++;
	}
	for (int i = 0; i < n; i++)
		if (cands[i].id == newId)
			newPos = i;

	state->graph->scratchOf = NULL;
	drop = Arena_Drop(state, cands, n, newPos, false,
					  list->nkept > 0 ? last : NULL, kept);

	/* kept ones first, then the others but the one given up */
	list->nkept = 0;
	for (int i = 0; i < n; i++)
		if (kept[i])
		{
			list->items[nout++] = cands[i];
			list->nkept++;
		}
	for (int i = 0; i < n; i++)
		if (!kept[i] && i != drop)
			list->items[nout++] = cands[i];
	list->length = nout;
	UnlockElement(state, target);
}

/*
 * Take a number and room in the arena for an element of the given level
 * with vector code and one heap TID, and fill it in with empty lists.
 * Return its number, or -1 (and mark the arena full) if there is no room.
 */
static int32
NewElement(HnswBuildState *state, int level, const HnswCode *code,
		   ItemPointer heaptid, const HnswKey *key)
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
	e->key = *key;
	memcpy(GetVector(e), code, VARSIZE(code));
	return (int32) id;
}

/*
 * When element id's code links to its vector out of line, write the vector to
 * the index pages now (HnswWriteExactVector, unlogged while building) and
 * store the link in the element's code; only the code stays in the arena.
 * The link's bytes follow the code, which other participants may be
 * reading meanwhile; they read the link only when the pages are written.
 */
static void
WriteOutOfLine(HnswBuildState *state, int32 id, const HnswCode *vec)
{
	if (HnswVectorHasLink(GetVector(GetElement(state, id))))
		HnswWriteExactVector(state->graph, vec,
							 GetVector(GetElement(state, id)));
}

/*
 * Return the arena's entry point, or -1 after making element id, the first,
 * the entry point (writing its vector out of line first), unless another
 * participant was quicker.  Takes the entry lock (parallel builds).
 */
static int32
EntryOrFirst(HnswBuildState *state, int32 id, const HnswCode *q)
{
	HnswBuildShared *shared = state->shared;
	int32		ep;

	if (shared->parallel)
		LWLockAcquire(&shared->entryLock, LW_SHARED);
	ep = shared->entry;
	if (shared->parallel)
		LWLockRelease(&shared->entryLock);
	if (ep >= 0)
		return ep;

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
	return ep;
}

/*
 * Give element id's heap TID to an element with an identical vector and room
 * for it among nearest[0..n) (the search on level 0, nearest first), q being
 * id's vector as given; return whether one took it.  Identical vectors tie
 * for nearest: each of them is tried, so that they fill up one after
 * another instead of leaving many elements with one TID.  Takes one element
 * lock at a time, exclusive (parallel builds).
 */
static bool
GiveToIdentical(HnswBuildState *state, int32 id, const HnswCode *q,
				BuildNeighbor *nearest, int n)
{
	BuildElement *e = GetElement(state, id);
	HnswCode   *code = GetVector(e);

	for (int i = 0; i < n; i++)
	{
		BuildElement *ne = GetElement(state, nearest[i].id);
		bool		added = false;

		if (nearest[i].distance != nearest[0].distance)
			break;
		if (ne->nheaptids >= HNSW_HEAPTIDS || !HnswKeyEqual(&ne->key, &e->key))
			continue;
		if (HnswVectorHasLink(code))
		{
			/* codes differ in their links: compare the vectors */
			if (!HnswVectorMatches(state->graph, GetVector(ne), q))
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
			return true;
	}
	return false;
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
LinkElement(HnswBuildState *state, int32 id, const HnswCode *q)
{
	HnswBuildShared *shared = state->shared;
	HnswGraph  *graph = state->graph;
	int			m = shared->m;
	BuildElement *e = GetElement(state, id);
	int			level = e->level;
	int32		ep;
	int			epLevel;
	int			nentries;
	BuildList  *lists[HNSW_MAX_LEVEL + 1];

	ep = EntryOrFirst(state, id, q);
	if (ep < 0)
		return;

	/* descent from the entry point, then ef_construction per level */
	epLevel = GetElement(state, ep)->level;
	graph->scratchOf = NULL;
	state->entries[0].id = ep;
	state->entries[0].distance = HnswDistance(graph, q,
											  GetVector(GetElement(state, ep)));
	nentries = Descend(state, q, epLevel, level);
	for (int lc = Min(level, epLevel); lc >= 0; lc--)
	{
		int			cap = HNSW_LEVEL_CAPACITY(lc, m);

		nentries = SearchLayer(state, q, nentries, shared->efConstruction, lc);
		lists[lc] = palloc(BUILD_LIST_SIZE(cap));
		SelectNeighbors(state, state->entries, nentries, cap, lists[lc]);
	}

	/* the entries hold the search on level 0, nearest first */
	if (GiveToIdentical(state, id, q, state->entries, nentries))
	{
		state->offsets[id] = 0;
		return;
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
int32
HnswArenaInsert(HnswBuildState *state, int level, HnswCode *vec,
			  ItemPointer heaptid, const HnswKey *key)
{
	HnswCode	   *code;
	int32		id;

	code = HnswEncodeVector(state->graph, vec, CurrentMemoryContext);
	state->vecSize = VARSIZE(code);
	id = NewElement(state, level, code, heaptid, key);
	if (id >= 0)
		LinkElement(state, id, vec);
	return id;
}

/*
 * The level-0 links of arena element id, for the walk of hnswreach.c
 */
static int
ArenaLinks(void *arg, uint32 id, uint32 *out)
{
	HnswBuildState *state = (HnswBuildState *) arg;
	BuildList  *list = GetList(GetElement(state, id), 0, state->shared->m);

	for (int i = 0; i < list->length; i++)
		out[i] = list->items[i].id;
	return list->length;
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
 * links were made, and sets *left to how many elements are still
 * unreached.  See src/README "Build".
 */
int
HnswArenaLinkUnreachable(HnswBuildState *state, uint32 nelements,
						 uint32 *left)
{
	int			m = state->shared->m;
	HnswReach	reach;
	int			linked = 0;

	*left = 0;
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
	for (uint32 id = 0; id < nelements; id++)
		if (state->offsets[id] != 0 && !HnswReached(&reach, id))
			(*left)++;
	HnswReachFree(&reach);
	return linked;
}
