/*-------------------------------------------------------------------------
 *
 * hnswfilter.c
 *	  The filter column of hnsw: an optional second key column of an integer
 *	  type, whose value each element keeps, so that a scan tests conditions
 *	  on it (WHERE label = 3) inside the graph walk without reading the heap.
 *
 * CREATE INDEX ... USING hnsw (embedding vector_l2_ops, label) gives the
 * index's element tuples the value of label (as an int64, or NULL); the
 * planner hands the scan the conditions on label that the operator family
 * hnsw integer_ops supports (=, <, <=, >, >=) as scan keys.  See src/README
 * "Filter column".
 *
 * src/hnswfilter.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "catalog/pg_type_d.h"
#include "hnsw.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

static void FilterHints(HnswFilter *filter);

/* Is typid one of the integer types a filter column may have? */
static bool
IsFilterType(Oid typid)
{
	return typid == INT2OID || typid == INT4OID || typid == INT8OID;
}

/*
 * Refuse an index whose columns are not a vector column, optionally followed
 * by one integer column (the filter column).  Called by CREATE INDEX before
 * anything else.
 */
void
HnswCheckColumns(Relation index)
{
	int			natts = IndexRelationGetNumberOfKeyAttributes(index);

	if (natts > 2)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("an hnsw index has at most two columns"),
				 errdetail("Index \"%s\" has %d: a vector column and at most one integer column to filter on.",
						   RelationGetRelationName(index), natts)));
	/* as pgvector, which has no class for an integer column: 42704 */
	if (IsFilterType(index->rd_opcintype[0]))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the first column of an hnsw index must be its vector column"),
				 errhint("Put the %s column second: USING hnsw (embedding, %s).",
						 format_type_be(index->rd_opcintype[0]),
						 NameStr(TupleDescAttr(RelationGetDescr(index), 0)->attname))));
	if (natts == 2 && !IsFilterType(index->rd_opcintype[1]))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the second column of an hnsw index must be of type smallint, integer or bigint"),
				 errdetail("Column \"%s\" is of type %s.",
						   NameStr(TupleDescAttr(RelationGetDescr(index), 1)->attname),
						   format_type_be(index->rd_opcintype[1]))));
}

/* HNSW_KEY_SIZE if the index has a filter column, else 0 */
Size
HnswIndexKeySize(Relation index)
{
	return IndexRelationGetNumberOfKeyAttributes(index) > 1 ? HNSW_KEY_SIZE : 0;
}

/* An integer datum of type typid as int64 */
static int64
IntegerDatum(Datum value, Oid typid)
{
	switch (typid)
	{
		case INT2OID:
			return DatumGetInt16(value);
		case INT4OID:
			return DatumGetInt32(value);
		case INT8OID:
			return DatumGetInt64(value);
		default:
			elog(ERROR, "unexpected type %u of an hnsw filter value", typid);
	}
	return 0;					/* keep compiler quiet */
}

/*
 * Set *key to the filter column's value of a row, value (NULL if isnull),
 * or to all zeroes for an index without a filter column.
 */
void
HnswKeyFromDatum(Relation index, Datum value, bool isnull, HnswKey *key)
{
	memset(key, 0, sizeof(HnswKey));
	if (HnswIndexKeySize(index) == 0)
		return;
	key->isnull = isnull;
	if (!isnull)
		key->value = IntegerDatum(value, index->rd_opcintype[1]);
}

/*
 * Return the conditions of a scan's keys, all on the filter column (the
 * only column with search operators), allocated in the current context.
 * A NULL argument meets no row (the operators are strict).
 */
HnswFilter *
HnswFilterFromScanKeys(ScanKey keys, int nkeys)
{
	HnswFilter *filter = palloc0(offsetof(HnswFilter, conds) +
								 sizeof(HnswFilterCond) * Max(nkeys, 1));

	for (int i = 0; i < nkeys; i++)
	{
		ScanKey		key = &keys[i];

		if (key->sk_attno != 2 || key->sk_strategy < BTLessStrategyNumber ||
			key->sk_strategy > BTGreaterStrategyNumber ||
			(key->sk_flags & (SK_ROW_HEADER | SK_SEARCHARRAY |
							  SK_SEARCHNULL | SK_SEARCHNOTNULL)) != 0)
			elog(ERROR, "unexpected scan key on column %d with strategy %d of an hnsw index",
				 key->sk_attno, key->sk_strategy);
		if (key->sk_flags & SK_ISNULL)
		{
			filter->never = true;
			continue;
		}
		filter->conds[filter->nconds].strategy = key->sk_strategy;
		filter->conds[filter->nconds].value =
			IntegerDatum(key->sk_argument, key->sk_subtype);
		filter->nconds++;
	}

	FilterHints(filter);
	return filter;
}

/*
 * Fill in which hints (HnswKeyHint) surely pass and surely fail the
 * filter's conditions.  A value from 0 to HNSW_HINT_MAX_VALUE, and NULL,
 * are named exactly.  A bucket names a value beyond those, so it fails a
 * filter that lets none of them through (its conditions allow only values
 * within the exact ones), and one of an equality with another bucket; it
 * never surely passes.
 */
static void
FilterHints(HnswFilter *filter)
{
	int64		lo = PG_INT64_MIN;
	int64		hi = PG_INT64_MAX;
	bool		empty = filter->never;

	for (int i = 0; i < filter->nconds; i++)
	{
		int64		c = filter->conds[i].value;

		switch (filter->conds[i].strategy)
		{
			case BTLessStrategyNumber:
				if (c == PG_INT64_MIN)
					empty = true;
				else
					hi = Min(hi, c - 1);
				break;
			case BTLessEqualStrategyNumber:
				hi = Min(hi, c);
				break;
			case BTEqualStrategyNumber:
				lo = Max(lo, c);
				hi = Min(hi, c);
				break;
			case BTGreaterEqualStrategyNumber:
				lo = Max(lo, c);
				break;
			default:
				if (c == PG_INT64_MAX)
					empty = true;
				else
					lo = Max(lo, c + 1);
				break;
		}
	}
	empty |= lo > hi;

	for (int h = 0; h < 256; h++)
	{
		HnswKey		key;

		memset(&key, 0, sizeof(key));
		if (h == HNSW_HINT_UNKNOWN)
			continue;
		if (h >= HNSW_HINT_FIRST_BUCKET && h != HNSW_HINT_NULL)
		{
			filter->hintFails[h] = empty ||
				(lo >= 0 && hi <= HNSW_HINT_MAX_VALUE) ||
				(lo == hi && HnswHintBucket(lo) != h);
			continue;
		}
		if (h == HNSW_HINT_NULL)
			key.isnull = true;
		else
			key.value = h - 1;
		filter->hintFails[h] = !HnswFilterMatches(filter, &key);
		filter->hintPasses[h] = !filter->hintFails[h];
	}
}

/* Does a row whose filter column has value key meet every condition? */
bool
HnswFilterMatches(const HnswFilter *filter, const HnswKey *key)
{
	if (filter->never || key->isnull)
		return false;
	for (int i = 0; i < filter->nconds; i++)
	{
		int64		v = key->value;
		int64		c = filter->conds[i].value;
		bool		ok;

		switch (filter->conds[i].strategy)
		{
			case BTLessStrategyNumber:
				ok = v < c;
				break;
			case BTLessEqualStrategyNumber:
				ok = v <= c;
				break;
			case BTEqualStrategyNumber:
				ok = v == c;
				break;
			case BTGreaterEqualStrategyNumber:
				ok = v >= c;
				break;
			default:
				ok = v > c;
				break;
		}
		if (!ok)
			return false;
	}
	return true;
}
