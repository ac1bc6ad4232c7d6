/*-------------------------------------------------------------------------
 *
 * coordspool.c
 *	  The rows a shard returned for a search, kept in memory up to a budget
 *	  and in a temporary file past it.
 *
 * A search reads shards' rows one at a time (libpq's single-row mode, see
 * coordexec.c) and appends each to its shard's spool, so that libpq never
 * holds more than one row and the coordinator's memory for the answers is
 * bounded by work_mem whatever k and the number of queries are.  The rows
 * of a pipelined request arrive query after query, so each query's rows
 * are contiguous; the spool records where each query's rows start, and a
 * cursor reads them from there, in order, or reads one row at a known
 * position (the second phase of a two-phase batch, coordsearch.c).
 *
 * A row is stored as its length (uint32, the bytes after it), then for each
 * field its length (int32, -1 for null) and, unless null, its bytes and a
 * terminating zero byte (receive functions may rely on one, as on
 * PQgetvalue's): the binary values as the shard sent them.  Nothing is
 * converted here.
 *
 * Rows are appended to one buffer in memory while the spool stays within
 * its budget; the first row past it moves the buffer to a temporary file
 * (BufFile, so temp_file_limit applies and the file is removed on abort),
 * where every later row goes.  Appending and reading do not interleave:
 * a spool is filled by one CoordExecute() and read after it.
 *
 * src/coordspool.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "coord.h"
#include "storage/buffile.h"
#include "utils/memutils.h"

struct CoordSpool
{
	MemoryContext cxt;			/* where the spool and its buffer live */
	Size		budget;			/* bytes the buffer may take */
	int			nqueries;
	int64	   *start;			/* [nqueries] offset of each query's rows */
	int64	   *count;			/* [nqueries] number of each query's rows */
	int			last;			/* the query rows were last added to */
	int64		length;			/* bytes of rows in total */
	char	   *mem;			/* rows in memory, or NULL once in file */
	Size		memsize;		/* allocated size of mem */
	BufFile    *file;			/* rows in a temporary file, or NULL */
};

/* Bytes of the length word that starts each row and each field */
#define SPOOL_WORD	4

static void SpoolWrite(CoordSpool *spool, const void *data, Size len);
static void SpoolRead(CoordSpool *spool, int64 offset, void *data, Size len);

/*
 * Create an empty spool for the rows of nqueries queries, in the current
 * memory context, that keeps up to budget bytes in memory.
 */
CoordSpool *
CoordSpoolCreate(int nqueries, Size budget)
{
	CoordSpool *spool = palloc0(sizeof(CoordSpool));

	spool->cxt = CurrentMemoryContext;
	spool->budget = budget;
	spool->nqueries = nqueries;
	spool->start = palloc0(sizeof(int64) * Max(nqueries, 1));
	spool->count = palloc0(sizeof(int64) * Max(nqueries, 1));
	return spool;
}

/*
 * Append row of res, a result of query number q, to spool.  Queries'
 * rows must come in query order.  Moves the rows to a temporary file when
 * they outgrow the budget.
 */
void
CoordSpoolAdd(CoordSpool *spool, int q, PGresult *res, int row)
{
	int			nfields = PQnfields(res);
	Size		reclen = 0;
	uint32		word;
	int			i;

	if (q < spool->last || q >= spool->nqueries)
		elog(ERROR, "hnsw: rows of query %d arrived out of order", q);
	spool->last = q;
	if (spool->count[q] == 0)
		spool->start[q] = spool->length;

	for (i = 0; i < nfields; i++)
		reclen += SPOOL_WORD + (PQgetisnull(res, row, i) ? 0 : PQgetlength(res, row, i) + 1);
	if (reclen > PG_UINT32_MAX - SPOOL_WORD)
		elog(ERROR, "hnsw: row of %zu bytes from a shard is too large", reclen);

	/* past the budget: everything so far, and what follows, to a file */
	if (spool->file == NULL &&
		(Size) spool->length + SPOOL_WORD + reclen > spool->budget)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(spool->cxt);

		spool->file = BufFileCreateTemp(false);
		MemoryContextSwitchTo(oldcxt);
		if (spool->length > 0)
			BufFileWrite(spool->file, spool->mem, spool->length);
		if (spool->mem != NULL)
			pfree(spool->mem);
		spool->mem = NULL;
		spool->memsize = 0;
	}

	word = (uint32) reclen;
	SpoolWrite(spool, &word, SPOOL_WORD);
	for (i = 0; i < nfields; i++)
	{
		int32		len = PQgetisnull(res, row, i) ? -1 : PQgetlength(res, row, i);

		SpoolWrite(spool, &len, SPOOL_WORD);
		if (len >= 0)
			SpoolWrite(spool, PQgetvalue(res, row, i), len + 1);
	}
	spool->count[q]++;
}

/* Forget every row of spool (the copy that sent them failed) */
void
CoordSpoolReset(CoordSpool *spool)
{
	if (spool->file != NULL)
		BufFileClose(spool->file);
	spool->file = NULL;
	spool->length = 0;
	spool->last = 0;
	memset(spool->start, 0, sizeof(int64) * Max(spool->nqueries, 1));
	memset(spool->count, 0, sizeof(int64) * Max(spool->nqueries, 1));
}

/* Free spool, its memory and its file */
void
CoordSpoolFree(CoordSpool *spool)
{
	if (spool == NULL)
		return;
	if (spool->file != NULL)
		BufFileClose(spool->file);
	if (spool->mem != NULL)
		pfree(spool->mem);
	pfree(spool->start);
	pfree(spool->count);
	pfree(spool);
}

/* The number of rows of query q in spool (0 for no spool) */
int64
CoordSpoolCount(CoordSpool *spool, int q)
{
	return spool == NULL ? 0 : spool->count[q];
}

/*
 * Set cur to read the rows of query q of spool, from the first.  cur must
 * be zeroed before its first use; its buffers are allocated in the current
 * memory context when it reads, and kept for its next reads.
 */
void
CoordSpoolSeek(CoordSpool *spool, CoordSpoolCursor *cur, int q)
{
	cur->spool = spool;
	cur->next = spool->start[q];
	cur->left = spool->count[q];
}

/*
 * Read the next row of cur's query into cur->row; false if there is none.
 * The row stays valid until the next read with cur.
 */
bool
CoordSpoolNext(CoordSpoolCursor *cur)
{
	if (cur->left <= 0)
		return false;
	cur->next = CoordSpoolReadAt(cur, cur->next);
	cur->left--;
	return true;
}

/*
 * Read the row at offset of cur's spool into cur->row and return the
 * offset of the row after it.  In memory the row's values point into the
 * spool; from a file they are read into the cursor's buffer.
 */
int64
CoordSpoolReadAt(CoordSpoolCursor *cur, int64 offset)
{
	CoordSpool *spool = cur->spool;
	CoordRow   *row = &cur->row;
	uint32		reclen;
	char	   *p;
	char	   *end;

	if (offset < 0 || offset + SPOOL_WORD > spool->length)
		elog(ERROR, "hnsw: spool offset " INT64_FORMAT " out of range", offset);
	SpoolRead(spool, offset, &reclen, SPOOL_WORD);
	if (offset + SPOOL_WORD + reclen > spool->length)
		elog(ERROR, "hnsw: spooled row at " INT64_FORMAT " is truncated", offset);
	if (spool->file == NULL)
		p = spool->mem + offset + SPOOL_WORD;
	else
	{
		if (cur->bufsize < reclen)
		{
			if (cur->buf != NULL)
				pfree(cur->buf);
			cur->bufsize = Max(reclen, 1024);
			cur->buf = MemoryContextAllocHuge(CurrentMemoryContext, cur->bufsize);
		}
		SpoolRead(spool, offset + SPOOL_WORD, cur->buf, reclen);
		p = cur->buf;
	}
	end = p + reclen;

	row->offset = offset;
	row->nfields = 0;
	while (p < end)
	{
		int32		len;

		if (row->nfields == row->maxfields)
		{
			int			n = Max(8, row->maxfields * 2);

			row->values = row->values ?
				repalloc(row->values, sizeof(char *) * n) :
				palloc(sizeof(char *) * n);
			row->lengths = row->lengths ?
				repalloc(row->lengths, sizeof(int) * n) :
				palloc(sizeof(int) * n);
			row->maxfields = n;
		}
		memcpy(&len, p, SPOOL_WORD);
		p += SPOOL_WORD;
		if (len >= end - p)
			elog(ERROR, "hnsw: spooled row at " INT64_FORMAT " is corrupt", offset);
		row->values[row->nfields] = (len < 0) ? NULL : p;
		row->lengths[row->nfields] = (len < 0) ? -1 : len;
		row->nfields++;
		if (len >= 0)
			p += len + 1;
	}
	return offset + SPOOL_WORD + reclen;
}

/* Append len bytes to spool, in memory or in its file */
static void
SpoolWrite(CoordSpool *spool, const void *data, Size len)
{
	if (spool->file != NULL)
		BufFileWrite(spool->file, (void *) data, len);
	else
	{
		if (spool->length + len > spool->memsize)
		{
			Size		newsize = Max(spool->memsize * 2, 8192);

			while (newsize < spool->length + len)
				newsize *= 2;
			newsize = Min(newsize, Max(spool->budget, spool->length + len));
			if (spool->mem == NULL)
				spool->mem = MemoryContextAllocHuge(spool->cxt, newsize);
			else
				spool->mem = repalloc_huge(spool->mem, newsize);
			spool->memsize = newsize;
		}
		memcpy(spool->mem + spool->length, data, len);
	}
	spool->length += len;
}

/* Read len bytes at offset of spool */
static void
SpoolRead(CoordSpool *spool, int64 offset, void *data, Size len)
{
	if (spool->file == NULL)
	{
		memcpy(data, spool->mem + offset, len);
		return;
	}

	/* a temporary file is a chain of 1 GB segments: seek by block */
	if (BufFileSeekBlock(spool->file, (long) (offset / BLCKSZ)) != 0 ||
		BufFileSeek(spool->file, 0, (off_t) (offset % BLCKSZ), SEEK_CUR) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not seek in temporary file of a distributed search: %m")));
	if (BufFileRead(spool->file, data, len) != len)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read from temporary file of a distributed search: %m")));
}
