/*-------------------------------------------------------------------------
 *
 * hnswselect.h
 *	  Neighbour selection, the heuristic of Algorithm 4 of the paper,
 *	  written once and instantiated for each way of reaching elements, in
 *	  the manner of lib/simplehash.h: the build's arena (hnswarena.c) and
 *	  the index's pages (hnswsearch.c).
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
 * src/hnswselect.h
 *
 *-------------------------------------------------------------------------
 */

#define SEL_MAKE_NAME_(a, b)	CppConcat(a, b)
#define SEL_MAKE_NAME(name)		SEL_MAKE_NAME_(SEL_PREFIX, CppConcat(_, name))
#define SEL_KEEPS		SEL_MAKE_NAME(Keeps)
#define SEL_SELECT		SEL_MAKE_NAME(Select)

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

#undef SEL_MAKE_NAME_
#undef SEL_MAKE_NAME
#undef SEL_KEEPS
#undef SEL_SELECT
#undef SEL_PREFIX
#undef SEL_STATE
#undef SEL_CAND
#undef SEL_USABLE
#undef SEL_DIST
#undef SEL_SAME
#undef SEL_SIMPLE
