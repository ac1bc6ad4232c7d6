/*-------------------------------------------------------------------------
 *
 * hnswselect.h
 *	  Neighbour selection, the heuristic of Algorithm 4 of the paper, and
 *	  the link a full list gives up for a newcomer, written once and
 *	  instantiated for each way of reaching elements, in the manner of
 *	  lib/simplehash.h: the build's arena (hnswarena.c) and the index's
 *	  pages (hnswsearch.c, for inserts and vacuum).
 *
 * Define before including:
 *
 *	SEL_PREFIX		prefix of the names declared
 *	SEL_STATE		type of the state passed to the macros below
 *	SEL_CAND		a candidate: any struct with a float distance (from the
 *					element whose list is chosen, the owner)
 *	SEL_USABLE(st, c)	may candidate *c be chosen (and compared)?
 *	SEL_DIST(st, a, b)	the distance between candidates *a and *b
 *	SEL_SAME(st, a, b)	are *a and *b the same element?
 *	SEL_SIMPLE(st)	choose the nearest, without the heuristic (inner
 *					product, which is no metric: an element need not be
 *					nearest to itself)
 *
 * and optionally (for SEL_PREFIX_Drop without remembered verdicts):
 *
 *	SEL_COMPARE(st, a, b, d)	set the float *d to the distance between *a
 *					and *b and evaluate to NULL, or to whichever of a and b
 *					cannot be compared (its element vanished); by default
 *					SEL_DIST, which cannot fail
 *
 * Declared:
 *
 *	bool SEL_PREFIX_Keeps(st, cands, chosen, skip, i): does the heuristic
 *		keep cands[i], given which of cands[0..i) are chosen?  It does
 *		unless a chosen one is nearer to it than the owner is (or is the
 *		same element).  With skip, the chosen ones skip marks are not
 *		compared (known not to reject it).  Computes a distance per chosen
 *		candidate compared, in order, up to the first that rejects it.
 *
 *	int SEL_PREFIX_Select(st, cands, n, max, keepPruned, out, &nkept):
 *		choose up to max of cands[0..n) (nearest first) into out: those the
 *		heuristic keeps, in order (*nkept of them), then, with keepPruned
 *		(the paper's keepPrunedConnections), the nearest it passed over
 *		until out is full.  Unusable candidates are never chosen.  Return
 *		the number chosen.  n is at most HNSW_MAX_EF_CONSTRUCTION.
 *
 *	int SEL_PREFIX_Drop(st, cands, n, newcomer, force, last, kept): which
 *		candidate does a full list give up for a newcomer?  cands[0..n) are
 *		the list plus the newcomer (cands[newcomer]), nearest first, all
 *		usable; n is at most 2 * HNSW_MAX_M + 1.  The list keeps what
 *		SEL_PREFIX_Select(st, cands, n, n - 1, true, ...) would choose, so
 *		it gives up exactly one: the furthest candidate the heuristic rejects,
 *		or the furthest of all if it rejects none (or under SEL_SIMPLE).
 *		Return its index.  Two ways to get there, one answer:
 *
 *		- kept NULL (inserts into the pages, which remember nothing): only
 *		  the verdicts that decide the answer are computed, asked for from
 *		  the furthest candidate down and computed on demand
 *		  (SEL_PREFIX_Verdict); the first rejected one is the answer, and
 *		  a few distances usually decide it.  With force, the newcomer is never
 *		  given up.  A candidate that cannot be compared (SEL_COMPARE) is
 *		  given up at once.
 *
 *		- kept not NULL (the build's arena, which remembers each list's
 *		  verdicts): every verdict is computed into kept[0..n), and what
 *		  the list's last pruning decided, last[0..n) (true: kept; NULL if
 *		  the list was never pruned), is reused where it cannot have
 *		  changed; see src/README "Build".  force must be false.
 *
 * src/hnswselect.h
 *
 *-------------------------------------------------------------------------
 */

#define SEL_MAKE_NAME_(a, b)	CppConcat(a, b)
#define SEL_MAKE_NAME(name)		SEL_MAKE_NAME_(SEL_PREFIX, CppConcat(_, name))
#define SEL_KEEPS		SEL_MAKE_NAME(Keeps)
#define SEL_SELECT		SEL_MAKE_NAME(Select)
#define SEL_VERDICT		SEL_MAKE_NAME(Verdict)
#define SEL_DROP_ALL	SEL_MAKE_NAME(DropAll)
#define SEL_DROP		SEL_MAKE_NAME(Drop)

#ifndef SEL_COMPARE
#define SEL_COMPARE(st, a, b, d) \
	(*(d) = SEL_DIST(st, a, b), (SEL_CAND *) NULL)
#endif

/* the verdicts of SEL_PREFIX_Drop's lazy way */
#ifndef SEL_VERDICT_UNKNOWN
#define SEL_VERDICT_UNKNOWN		0
#define SEL_VERDICT_KEPT		1
#define SEL_VERDICT_REJECTED	2
#endif

static pg_attribute_always_inline bool
SEL_KEEPS(SEL_STATE *st, SEL_CAND *cands, const bool *chosen,
		  const bool *skip, int i)
{
	for (int j = 0; j < i; j++)
	{
		if (!chosen[j] || (skip != NULL && skip[j]))
			continue;
		if (SEL_SAME(st, &cands[i], &cands[j]) ||
			SEL_DIST(st, &cands[i], &cands[j]) < cands[i].distance)
			return false;
	}
	return true;
}

static pg_attribute_always_inline int
SEL_SELECT(SEL_STATE *st, SEL_CAND *cands, int n, int max, bool keepPruned,
		   SEL_CAND *out, int *nkept)
{
	bool		chosen[HNSW_MAX_EF_CONSTRUCTION];
	bool		usable[HNSW_MAX_EF_CONSTRUCTION];
	int			nout = 0;

	Assert(n <= HNSW_MAX_EF_CONSTRUCTION);
	for (int i = 0; i < n; i++)
		chosen[i] = usable[i] = false;
	for (int i = 0; i < n && nout < max; i++)
	{
		if (!SEL_USABLE(st, &cands[i]))
			continue;
		usable[i] = true;
		if (SEL_SIMPLE(st) || SEL_KEEPS(st, cands, chosen, NULL, i))
		{
			out[nout++] = cands[i];
			chosen[i] = true;
		}
	}
	*nkept = nout;

	/*
	 * Keep pruned connections: fill the slots the heuristic left empty with
	 * the nearest candidates it passed over.  Without this, a list pruned on
	 * a reverse link keeps only the candidates that pass the heuristic,
	 * often far fewer than its slots, and a search needs a larger ef for
	 * the same recall (inserts without it: recall@10 0.955 instead of 0.983
	 * at ef_search 10 on 10,000 Fashion-MNIST rows; see src/README
	 * "Insert").  The loop above looked at every candidate if out is not
	 * full, so usable[] is known for all.
	 */
	for (int i = 0; keepPruned && i < n && nout < max; i++)
	{
		bool		taken = chosen[i] || !usable[i];

		for (int j = 0; j < nout && !taken; j++)
			taken = SEL_SAME(st, &out[j], &cands[i]);
		if (!taken)
			out[nout++] = cands[i];
	}
	return nout;
}

/*
 * Return whether the heuristic keeps cands[i] (SEL_PREFIX_Drop's lazy way):
 * whether no kept candidate nearer to the owner than i is nearer to i than
 * the owner is.  Verdicts are computed on demand and remembered in
 * verdict[]: a nearer candidate's verdict is needed only when it is nearer
 * to i than the owner, and the nearest candidates, the likeliest to be, are
 * tried first.
 *
 * If a candidate cannot be compared, set *failed to its index and return
 * false; the verdicts are then meaningless.
 */
static bool
SEL_VERDICT(SEL_STATE *st, SEL_CAND *cands, int8 *verdict, int i,
			int *failed)
{
	bool		kept = true;

	if (verdict[i] != SEL_VERDICT_UNKNOWN)
		return verdict[i] == SEL_VERDICT_KEPT;

	for (int j = 0; j < i; j++)
	{
		if (!SEL_SAME(st, &cands[i], &cands[j]))
		{
			SEL_CAND   *bad;
			float		d;

			if ((bad = SEL_COMPARE(st, &cands[i], &cands[j], &d)) != NULL)
			{
				*failed = bad - cands;
				return false;
			}
			if (!(d < cands[i].distance))
				continue;
		}
		/* j is nearer to i than the owner is (or is i): rejects it if kept */
		if (SEL_VERDICT(st, cands, verdict, j, failed))
		{
			kept = false;
			break;
		}
		if (*failed >= 0)
			return false;
	}
	verdict[i] = kept ? SEL_VERDICT_KEPT : SEL_VERDICT_REJECTED;
	return kept;
}

/*
 * SEL_PREFIX_Drop's way with remembered verdicts: a pass of the heuristic
 * over every candidate into kept[], the newcomer at cands[newcomer].
 *
 * The heuristic decides each candidate by the kept ones before it alone.
 * With the last pruning's verdicts (last), only what changed since is
 * examined.  The newcomer is decided afresh.  A candidate kept last time was
 * not rejected by anything kept last time, so it is kept again unless a
 * candidate kept now but not then rejects it (the newcomer, or one rejected
 * last time and kept now).  A candidate rejected last time was rejected by
 * one kept last time: while every candidate kept last time is still kept,
 * it stays rejected; once one is not, it is examined again in full.  So the
 * verdicts are those of a full pass.  (Before the newcomer, nothing has
 * changed: no distance is computed.)  The pass stops at n - 1 kept: the
 * last candidate is then left undecided, not kept.
 */
static pg_attribute_always_inline int
SEL_DROP_ALL(SEL_STATE *st, SEL_CAND *cands, int n, int newcomer,
			 const bool *last, bool *kept)
{
	bool		simple = SEL_SIMPLE(st);
	bool		decided = last != NULL && !simple;
	bool		dropped = false;
	int			nkept = 0;

	for (int i = 0; i < n; i++)
		kept[i] = false;
	for (int i = 0; i < n && nkept < n - 1; i++)
	{
		bool		good;

		if (simple)
			good = true;
		else if (!decided || i == newcomer)
			good = SEL_KEEPS(st, cands, kept, NULL, i);
		else if (last[i])
		{
			good = SEL_KEEPS(st, cands, kept, last, i);
			if (!good)
				dropped = true;
		}
		else if (!dropped)
			good = false;
		else
			good = SEL_KEEPS(st, cands, kept, NULL, i);

		if (good)
		{
			kept[i] = true;
			nkept++;
		}
	}

	/* the furthest not kept: exactly one is not */
	for (int i = n - 1; i > 0; i--)
		if (!kept[i])
			return i;
	return 0;
}

static int
SEL_DROP(SEL_STATE *st, SEL_CAND *cands, int n, int newcomer, bool force,
		 const bool *last, bool *kept)
{
	int8		verdict[2 * HNSW_MAX_M + 1];
	int			failed = -1;

	Assert(n >= 2 && n <= 2 * HNSW_MAX_M + 1);
	Assert(newcomer >= 0 && newcomer < n);
	if (kept != NULL)
	{
		Assert(!force);
		return SEL_DROP_ALL(st, cands, n, newcomer, last, kept);
	}

	/* the furthest candidate the heuristic rejects */
	for (int i = 0; i < n; i++)
		verdict[i] = SEL_VERDICT_UNKNOWN;
	for (int i = n - 1; i >= 0 && !SEL_SIMPLE(st); i--)
	{
		bool		keeps;

		if (force && i == newcomer)
			continue;
		keeps = SEL_VERDICT(st, cands, verdict, i, &failed);
		if (failed >= 0)
			return failed;
		if (!keeps)
			return i;
	}

	/* none rejected (or inner product): the furthest */
	return force && newcomer == n - 1 ? n - 2 : n - 1;
}

#undef SEL_MAKE_NAME_
#undef SEL_MAKE_NAME
#undef SEL_KEEPS
#undef SEL_SELECT
#undef SEL_VERDICT
#undef SEL_DROP_ALL
#undef SEL_DROP
#undef SEL_COMPARE
#undef SEL_PREFIX
#undef SEL_STATE
#undef SEL_CAND
#undef SEL_USABLE
#undef SEL_DIST
#undef SEL_SAME
#undef SEL_SIMPLE
