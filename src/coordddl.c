/*-------------------------------------------------------------------------
 *
 * coordddl.c
 *	  What hnsw.create_distributed_table needs on the shards:
 *	  hnsw._shard_exec runs one command on each of several servers at the
 *	  same time (creating shard tables, building their indexes on all shards
 *	  at once); hnsw._shard_copy streams the rows of a table to the shards
 *	  with COPY.  The CoordCopy functions, which drive one shard connection
 *	  outside CoordExecute's pipeline (COPY, several statements at once),
 *	  serve hnsw.move_partition too (coordmove.c).
 *
 * Each command runs in its own implicit transaction on its server and is
 * committed there when it succeeds, whatever the coordinator's transaction
 * does later: the caller undoes remote work itself on failure (see
 * create_distributed_table in src/sql/coord.sql).  If a command fails, the
 * shard's error is raised (with its SQLSTATE) and the connections of
 * commands still running elsewhere are closed (the shards end those
 * commands; coordconn.c).  hnsw.shard_timeout does not apply (index builds
 * and loads are long); statement_timeout and query cancel do.  This is
 * arbitrary remote SQL under the caller's user mappings, so EXECUTE is
 * revoked from PUBLIC.
 *
 * src/coordddl.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_type.h"
#include "coord.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

/* Rows are sent to a shard in chunks of about this many bytes */
#define COPY_CHUNK_BYTES	(64 * 1024)

/* Rows read from the table at a time */
#define COPY_FETCH_ROWS		1000

/* Partition value -> shard, for routing rows */
typedef struct CopyRoute
{
	int64		value;			/* hash key */
	int			shard;			/* index into the CopyShards */
} CopyRoute;

static ArrayType *CollectFirstValues(CoordResult *results, int n);
static void AppendCopyValue(StringInfo buf, const char *s);

/*
 * hnsw._shard_exec(servers name[], commands text[]) returns text[]
 *
 * Run commands[i] on servers[i], all at once, no failover.  Returns the
 * first column of the first row each command returned (NULL if none).
 * Each command is sent alone, outside any transaction block, so it may be
 * VACUUM.
 */
PG_FUNCTION_INFO_V1(hnsw_shard_exec);
Datum
hnsw_shard_exec(PG_FUNCTION_ARGS)
{
	ArrayType  *servers = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *commands = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *sv;
	Datum	   *cv;
	bool	   *snulls;
	bool	   *cnulls;
	int			ns;
	int			nc;
	CoordShard **shards;
	CoordRequest **requests;
	CoordResult *volatile results = NULL;
	ArrayType  *volatile out = NULL;
	int			i;

	deconstruct_array(servers, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR,
					  &sv, &snulls, &ns);
	deconstruct_array(commands, TEXTOID, -1, false, TYPALIGN_INT,
					  &cv, &cnulls, &nc);
	if (ns != nc)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("servers and commands must have the same length")));

	shards = palloc(sizeof(CoordShard *) * ns);
	requests = palloc(sizeof(CoordRequest *) * ns);
	for (i = 0; i < ns; i++)
	{
		CoordShard *shard = palloc0(sizeof(CoordShard));
		CoordRequest *req = palloc0(sizeof(CoordRequest));

		if (snulls[i] || cnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("servers and commands must not be null")));
		shard->name = pstrdup(NameStr(*DatumGetName(sv[i])));
		shard->serverid = CoordGetPostgresFdwServer(shard->name, false);
		shard->ncopies = 1;
		shard->copies = &shard->serverid;
		shard->copynames = &shard->name;
		req->sql = TextDatumGetCString(cv[i]);
		req->nqueries = 1;
		req->no_timeout = true; /* an index build takes what it takes */
		req->alone = true;		/* VACUUM may be one */
		req->values = palloc0(sizeof(char **));
		req->lengths = palloc0(sizeof(int *));
		shards[i] = shard;
		requests[i] = req;
	}

	PG_TRY();
	{
		results = CoordExecute(shards, requests, ns);
		for (i = 0; i < ns; i++)
		{
			if (!results[i].ok)
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("could not run a command on server \"%s\"",
								shards[i]->name),
						 errdetail("%s.", results[i].error ? results[i].error : "No answer")));
		}
		out = CollectFirstValues(results, ns);
	}
	PG_CATCH();
	{
		CoordFreeResults(results, ns, 1);
		PG_RE_THROW();
	}
	PG_END_TRY();
	CoordFreeResults(results, ns, 1);
	PG_RETURN_ARRAYTYPE_P(out);
}

/* The first value each command returned, as a text[] */
static ArrayType *
CollectFirstValues(CoordResult *results, int n)
{
	Datum	   *values = palloc0(sizeof(Datum) * n);
	bool	   *nulls = palloc(sizeof(bool) * n);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i;

	for (i = 0; i < n; i++)
	{
		PGresult   *res = results[i].results[0];

		nulls[i] = (res == NULL || PQntuples(res) < 1 || PQnfields(res) < 1 ||
					PQgetisnull(res, 0, 0));
		if (!nulls[i])
			values[i] = CStringGetTextDatum(PQgetvalue(res, 0, 0));
	}
	return construct_md_array(values, nulls, 1, dims, lbs, TEXTOID, -1,
							  false, TYPALIGN_INT);
}

/*
 * hnsw._shard_copy(rel regclass, part_values bigint[], part_servers name[])
 * returns bigint
 *
 * Copy every row of rel, a table partitioned on an integer column, to the
 * table of the same schema, name and columns on the server its partition
 * value is given to (part_values[i] to part_servers[i]), all servers at
 * once, and return the number of rows copied.  Each server's rows go in one
 * COPY FROM STDIN inside one transaction there, committed when all its rows
 * arrived; a server that stores fewer rows than it was sent (a trigger
 * skipped some) is an error.
 *
 * The rows are read through a cursor COPY_FETCH_ROWS at a time and sent in
 * chunks of COPY_CHUNK_BYTES, each written out before the next is made, so
 * memory stays bounded whatever the table's size.  Every wait is on the
 * latch and the one socket it waits for, so cancel and statement_timeout
 * interrupt it; connections are taken from (and made by) the coordinator's
 * cache, marked busy while copying, so that an error closes them and the
 * shards roll their COPY back.  The caller must keep rel from changing
 * (create_distributed_table holds EXCLUSIVE lock on it) and needs SELECT
 * on it (the rows are read with the caller's privileges).
 */
PG_FUNCTION_INFO_V1(hnsw_shard_copy);
Datum
hnsw_shard_copy(PG_FUNCTION_ARGS)
{
	Oid			relid;
	ArrayType  *valarr;
	ArrayType  *srvarr;
	Datum	   *vals;
	Datum	   *srvs;
	bool	   *vnulls;
	bool	   *snulls;
	int			nvals;
	int			nsrvs;
	Relation	rel;
	PartitionKey key;
	AttrNumber	partattnum;
	Oid			parttype;
	TupleDesc	desc;
	Bitmapset  *readcols = NULL;
	StringInfoData cols;
	StringInfoData query;
	char	   *qualname;
	char	   *copy_sql;
	CoordCopy  *cs;
	int			nshards = 0;
	HTAB	   *routes;
	HASHCTL		ctl;
	Portal		portal;
	int			partcol = -1;	/* position among the columns read */
	int			ncols = 0;
	FmgrInfo   *outfuncs;
	MemoryContext rowcxt;
	int			nestlevel;
	uint64		total = 0;
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("arguments of hnsw._shard_copy must not be null")));
	relid = PG_GETARG_OID(0);
	valarr = PG_GETARG_ARRAYTYPE_P(1);
	srvarr = PG_GETARG_ARRAYTYPE_P(2);
	deconstruct_array(valarr, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &vals, &vnulls, &nvals);
	deconstruct_array(srvarr, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR,
					  &srvs, &snulls, &nsrvs);
	if (nvals != nsrvs)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("partition values and servers must have the same length")));

	/* the table, its partition column and its columns */
	LockRelationOid(relid, AccessShareLock);
	rel = try_relation_open(relid, NoLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a partitioned table",
						RelationGetRelationName(rel))));
	key = RelationGetPartitionKey(rel);
	partattnum = key->partnatts == 1 ? key->partattrs[0] : InvalidAttrNumber;
	parttype = key->parttypid[0];
	if (partattnum == InvalidAttrNumber ||
		(parttype != INT2OID && parttype != INT4OID && parttype != INT8OID))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table \"%s\" must be partitioned on one integer column",
						RelationGetRelationName(rel))));
	desc = RelationGetDescr(rel);
	initStringInfo(&cols);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);

		if (attr->attisdropped)
			continue;
		readcols = bms_add_member(readcols, attr->attnum);
		if (attr->attnum == partattnum)
			partcol = ncols;
		appendStringInfo(&cols, "%s%s", ncols > 0 ? ", " : "",
						 quote_identifier(NameStr(attr->attname)));
		ncols++;
	}
	qualname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										  RelationGetRelationName(rel));
	relation_close(rel, NoLock);

	/* every row must be read: no row-level security may hide some */
	CoordCheckRead(relid, readcols, "hnsw._shard_copy", NULL);
	initStringInfo(&query);
	appendStringInfo(&query, "SELECT %s FROM %s", cols.data, qualname);
	copy_sql = psprintf("BEGIN; SET LOCAL datestyle = ISO; "
						"SET LOCAL intervalstyle = postgres; "
						"COPY %s (%s) FROM STDIN; COMMIT",
						qualname, cols.data);

	/* the servers, each once, and where each partition value goes */
	cs = palloc0(sizeof(CoordCopy) * nsrvs);
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(CopyRoute);
	ctl.hcxt = CurrentMemoryContext;
	routes = hash_create("hnsw._shard_copy routes", Max(nvals, 16), &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (i = 0; i < nvals; i++)
	{
		const char *name;
		int			s;
		CopyRoute  *route;
		int64		value;
		bool		found;

		if (vnulls[i] || snulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("partition values and servers must not be null")));
		name = NameStr(*DatumGetName(srvs[i]));
		for (s = 0; s < nshards; s++)
		{
			if (strcmp(cs[s].shard->name, name) == 0)
				break;
		}
		if (s == nshards)
		{
			CoordShard *shard = palloc0(sizeof(CoordShard));

			shard->name = pstrdup(name);
			shard->serverid = CoordGetPostgresFdwServer(name, false);
			shard->ncopies = 1;
			shard->copies = &shard->serverid;
			shard->copynames = &shard->name;
			cs[s].shard = shard;
			initStringInfo(&cs[s].buf);
			nshards++;
		}
		value = DatumGetInt64(vals[i]);
		route = hash_search(routes, &value, HASH_ENTER, &found);
		if (found && route->shard != s)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("partition value " INT64_FORMAT " is given to two servers",
							value)));
		route->shard = s;
	}

	/*
	 * The rows are written out as postgres_fdw writes parameters: in text
	 * forms that read back the same on any server (ISO dates, postgres
	 * intervals, floats with all their digits).  Restored at the end, or
	 * by the abort of an error.
	 */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("datestyle", "ISO", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("intervalstyle", "postgres", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("extra_float_digits", "3", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	/* the rows, as the caller may read them */
	SPI_connect();
	portal = SPI_cursor_open_with_args(NULL, query.data, 0, NULL, NULL, NULL,
									   true, CURSOR_OPT_NO_SCROLL);

	/* connected everywhere before any COPY starts: they run all at once */
	if (nshards > 0)
		CoordCopyConnect(cs, nshards);
	for (i = 0; i < nshards; i++)
		CoordCopyStart(&cs[i], copy_sql);

	outfuncs = NULL;
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw._shard_copy rows",
								   ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		uint64		r;

		SPI_cursor_fetch(portal, true, COPY_FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		if (outfuncs == NULL)
		{
			/* the cursor's columns, one per column of cols (in SPI's memory) */
			TupleDesc	rdesc = SPI_tuptable->tupdesc;

			outfuncs = palloc(sizeof(FmgrInfo) * rdesc->natts);
			for (i = 0; i < rdesc->natts; i++)
			{
				Oid			outfn;
				bool		varlena;

				getTypeOutputInfo(TupleDescAttr(rdesc, i)->atttypid, &outfn, &varlena);
				fmgr_info(outfn, &outfuncs[i]);
			}
		}
		for (r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	rdesc = SPI_tuptable->tupdesc;
			MemoryContext oldcxt = MemoryContextSwitchTo(rowcxt);
			CopyRoute  *route = NULL;
			CoordCopy  *to;
			bool		isnull;
			Datum		d;
			int64		value = 0;

			d = heap_getattr(tup, partcol + 1, rdesc, &isnull);
			if (!isnull)
			{
				value = parttype == INT2OID ? DatumGetInt16(d) :
					parttype == INT4OID ? DatumGetInt32(d) : DatumGetInt64(d);
				route = hash_search(routes, &value, HASH_FIND, NULL);
			}
			if (isnull)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("a row of table %s has a null partition value",
								qualname)));
			if (route == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("partition value " INT64_FORMAT " of a row of table %s is given to no server",
								value, qualname)));
			to = &cs[route->shard];
			for (i = 0; i < rdesc->natts; i++)
			{
				if (i > 0)
					appendStringInfoChar(&to->buf, '\t');
				d = heap_getattr(tup, i + 1, rdesc, &isnull);
				if (isnull)
					appendStringInfoString(&to->buf, "\\N");
				else
					AppendCopyValue(&to->buf, OutputFunctionCall(&outfuncs[i], d));
			}
			appendStringInfoChar(&to->buf, '\n');
			to->sent++;
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(rowcxt);
			if (to->buf.len >= COPY_CHUNK_BYTES)
				CoordCopyPut(to, false);
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);

	/* the rest, the end of each COPY, and each shard's verdict */
	for (i = 0; i < nshards; i++)
		CoordCopyPut(&cs[i], true);
	for (i = 0; i < nshards; i++)
	{
		CoordCopyFinish(&cs[i], copy_sql);
		total += cs[i].sent;
	}
	PG_RETURN_INT64((int64) total);
}

/*
 * Open (or take from the cache) a connection to every server of cs, all at
 * once, through CoordExecute, and take them out of its pipeline mode for
 * COPY.  They are marked busy: until CoordCopyFinish releases them, an error
 * makes the abort callback close them (coordconn.c).
 */
void
CoordCopyConnect(CoordCopy *cs, int nshards)
{
	CoordShard **shards = palloc(sizeof(CoordShard *) * nshards);
	CoordRequest **requests = palloc(sizeof(CoordRequest *) * nshards);
	CoordResult *volatile results = NULL;
	int			i;

	for (i = 0; i < nshards; i++)
	{
		CoordRequest *req = palloc0(sizeof(CoordRequest));

		req->sql = "SELECT 1";
		req->nqueries = 1;
		req->values = palloc0(sizeof(char **));
		req->lengths = palloc0(sizeof(int *));
		shards[i] = cs[i].shard;
		requests[i] = req;
	}
	PG_TRY();
	{
		results = CoordExecute(shards, requests, nshards);
		for (i = 0; i < nshards; i++)
		{
			if (!results[i].ok)
				ereport(ERROR,
						(errcode(ERRCODE_CONNECTION_FAILURE),
						 errmsg("could not connect to server \"%s\"",
								cs[i].shard->name),
						 errdetail("%s.", results[i].error ? results[i].error : "No answer")));
		}
	}
	PG_CATCH();
	{
		CoordFreeResults(results, nshards, 1);
		PG_RE_THROW();
	}
	PG_END_TRY();
	CoordFreeResults(results, nshards, 1);

	for (i = 0; i < nshards; i++)
	{
		cs[i].cc = CoordGetConn(cs[i].shard->serverid);
		cs[i].conn = CoordConnPGconn(cs[i].cc);
		if (cs[i].conn == NULL || CoordConnIsBusy(cs[i].cc))
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("lost the connection to server \"%s\"",
							cs[i].shard->name)));
		CoordConnSetBusy(cs[i].cc, true);
		if (PQpipelineStatus(cs[i].conn) != PQ_PIPELINE_OFF &&
			PQexitPipelineMode(cs[i].conn) != 1)
			CoordCopyLost(&cs[i]);
	}
}

/*
 * Send sql (which ends in COPY FROM STDIN) to cs's server and wait until
 * it is ready for rows.  The shard's error is raised with its SQLSTATE.
 */
void
CoordCopyStart(CoordCopy *cs, const char *sql)
{
	if (!PQsendQuery(cs->conn, sql))
		CoordCopyLost(cs);
	CoordCopyPut(cs, true);			/* flushes the query */
	for (;;)
	{
		PGresult   *res = CoordCopyGetResult(cs);

		if (res == NULL)
			CoordCopyLost(cs);
		switch (PQresultStatus(res))
		{
			case PGRES_COMMAND_OK:
				PQclear(res);
				continue;
			case PGRES_COPY_IN:
				PQclear(res);
				return;
			default:
				CoordRaiseRemoteError(res, cs->shard->name, sql);
		}
	}
}

/*
 * Hand cs's buffered rows to libpq and write them out, waiting for the
 * socket as long as it takes (all: also when nothing is buffered, to flush
 * what libpq holds).  libpq's buffer grows rather than refuse data, so each
 * chunk is written before the next is made.
 */
void
CoordCopyPut(CoordCopy *cs, bool all)
{
	int			rc;

	if (cs->buf.len > 0)
	{
		while ((rc = PQputCopyData(cs->conn, cs->buf.data, cs->buf.len)) == 0)
			CoordCopyWait(cs, WL_SOCKET_WRITEABLE);
		if (rc < 0)
			CoordCopyLost(cs);
		resetStringInfo(&cs->buf);
	}
	else if (!all)
		return;
	while ((rc = PQflush(cs->conn)) == 1)
		CoordCopyWait(cs, WL_SOCKET_WRITEABLE);
	if (rc < 0)
		CoordCopyLost(cs);
}

/*
 * End cs's COPY and read what the rest of sql returns: the COPY's row
 * count must be the rows sent.  Leaves the connection idle and not busy.
 */
void
CoordCopyFinish(CoordCopy *cs, const char *sql)
{
	PGresult   *res;
	int			rc;
	bool		copied = false;

	while ((rc = PQputCopyEnd(cs->conn, NULL)) == 0)
		CoordCopyWait(cs, WL_SOCKET_WRITEABLE);
	if (rc < 0)
		CoordCopyLost(cs);
	CoordCopyPut(cs, true);
	while ((res = CoordCopyGetResult(cs)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			CoordRaiseRemoteError(res, cs->shard->name, sql);
		if (!copied)
		{
			uint64		stored = strtou64(PQcmdTuples(res), NULL, 10);

			PQclear(res);
			if (stored != cs->sent)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("server \"%s\" stored " UINT64_FORMAT " of the " UINT64_FORMAT " rows sent to it",
								cs->shard->name, stored, cs->sent),
						 errhint("A trigger on the shard's table may have skipped rows.")));
			copied = true;
			continue;
		}
		PQclear(res);
	}
	if (PQstatus(cs->conn) != CONNECTION_OK ||
		PQtransactionStatus(cs->conn) != PQTRANS_IDLE)
		CoordCopyLost(cs);
	CoordConnSetBusy(cs->cc, false);
}

/*
 * The next result of cs's query, waiting for it; NULL at the end.  In
 * libpq's memory: the caller clears it.
 */
PGresult *
CoordCopyGetResult(CoordCopy *cs)
{
	while (PQisBusy(cs->conn))
	{
		CoordCopyWait(cs, WL_SOCKET_READABLE);
		if (!PQconsumeInput(cs->conn))
			CoordCopyLost(cs);
	}
	return PQgetResult(cs->conn);
}

/*
 * Wait until cs's socket is ready for events (or readable: a shard may
 * talk while it takes rows), or the latch is set; then process interrupts.
 */
void
CoordCopyWait(CoordCopy *cs, int events)
{
	int			rc;

	rc = WaitLatchOrSocket(MyLatch,
						   WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | WL_SOCKET_READABLE | events,
						   PQsocket(cs->conn), -1L, PG_WAIT_EXTENSION);
	if (rc & WL_LATCH_SET)
		ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	if ((rc & WL_SOCKET_READABLE) && !PQconsumeInput(cs->conn))
		CoordCopyLost(cs);
}

/*
 * Send sql (any number of statements, simple query protocol) to cs's
 * server and write it out; the caller reads the results with
 * CoordCopyGetResult.
 */
void
CoordCopySend(CoordCopy *cs, const char *sql)
{
	if (!PQsendQuery(cs->conn, sql))
		CoordCopyLost(cs);
	CoordCopyPut(cs, true);
}

/*
 * Read the rest of the results of sql on cs's connection, raising the
 * first error among them, and release the connection, which must be idle
 * at the end: no transaction left open.
 */
void
CoordCopyRelease(CoordCopy *cs, const char *sql)
{
	PGresult   *res;

	while ((res = CoordCopyGetResult(cs)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK &&
			PQresultStatus(res) != PGRES_TUPLES_OK)
			CoordRaiseRemoteError(res, cs->shard->name, sql);
		PQclear(res);
	}
	if (PQstatus(cs->conn) != CONNECTION_OK ||
		PQtransactionStatus(cs->conn) != PQTRANS_IDLE)
		CoordCopyLost(cs);
	CoordConnSetBusy(cs->cc, false);
}

/* Raise an error for a connection that failed while copying */
void
CoordCopyLost(CoordCopy *cs)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 cs->source ?
			 errmsg("could not copy rows from server \"%s\"", cs->shard->name) :
			 errmsg("could not copy rows to server \"%s\"", cs->shard->name),
			 errdetail("%s", pchomp(PQerrorMessage(cs->conn)))));
}

/* Append s to buf escaped for COPY's text format */
static void
AppendCopyValue(StringInfo buf, const char *s)
{
	for (; *s; s++)
	{
		switch (*s)
		{
			case '\\':
				appendStringInfoString(buf, "\\\\");
				break;
			case '\n':
				appendStringInfoString(buf, "\\n");
				break;
			case '\r':
				appendStringInfoString(buf, "\\r");
				break;
			case '\t':
				appendStringInfoString(buf, "\\t");
				break;
			default:
				appendStringInfoChar(buf, *s);
				break;
		}
	}
}
