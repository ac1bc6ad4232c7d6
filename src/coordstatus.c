/*-------------------------------------------------------------------------
 *
 * coordstatus.c
 *	  hnsw.shard_status: ask every copy of every shard of a distributed
 *	  table, at the same time, whether it answers, whether it is a standby,
 *	  how many rows it holds and whether its tables have an hnsw index.
 *
 * src/coordstatus.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "coord.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

static void EmitStatus(ReturnSetInfo *rsinfo, CoordShard **copies,
					   CoordShard **owners, CoordRequest **requests,
					   int ncopies);
static char *BuildStatusQuery(CoordShard *shard);

/*
 * hnsw.shard_status(rel regclass)
 * returns table (shard name, server name, role text, answers bool,
 *				  in_recovery bool, row_count bigint, hnsw_index bool,
 *				  error text)
 *
 * Needs SELECT on the table or one of its columns, and no row-level
 * security for the caller (the counts would include rows it may not see).
 * One row per copy of each shard.  A copy that does not answer within
 * hnsw.shard_timeout, or fails the status query, has answers = false and
 * the reason in error; this function never fails because a shard does.
 */
PG_FUNCTION_INFO_V1(hnsw_shard_status);
Datum
hnsw_shard_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid = PG_GETARG_OID(0);
	CoordTable *table;
	CoordShard **copies;
	CoordRequest **requests;
	CoordShard **owners;
	int			ncopies = 0;
	int			n;
	ListCell   *lc;
	int			i;

	/* row counts: as count(*) needs, SELECT on the table or a column */
	CoordCheckRead(relid, NULL, "hnsw.shard_status", NULL);
	InitMaterializedSRF(fcinfo, 0);
	table = CoordGetTable(relid);

	foreach(lc, table->shards)
		ncopies += ((CoordShard *) lfirst(lc))->ncopies;
	copies = palloc(sizeof(CoordShard *) * ncopies);
	owners = palloc(sizeof(CoordShard *) * ncopies);
	requests = palloc(sizeof(CoordRequest *) * ncopies);

	/* every copy is its own one-copy shard here, so all are asked */
	n = 0;
	foreach(lc, table->shards)
	{
		CoordShard *shard = lfirst(lc);
		char	   *sql = BuildStatusQuery(shard);

		for (i = 0; i < shard->ncopies; i++)
		{
			CoordShard *one = palloc0(sizeof(CoordShard));
			CoordRequest *req = palloc0(sizeof(CoordRequest));

			one->serverid = shard->copies[i];
			one->name = shard->copynames[i];
			one->parts = shard->parts;
			one->ncopies = 1;
			one->copies = &shard->copies[i];
			one->copynames = &shard->copynames[i];
			req->sql = sql;
			req->nqueries = 1;
			req->values = palloc0(sizeof(char **));
			req->lengths = palloc0(sizeof(int *));
			req->soft_errors = true;
			copies[n] = one;
			owners[n] = shard;
			requests[n] = req;
			n++;
		}
	}

	EmitStatus(rsinfo, copies, owners, requests, ncopies);
	return (Datum) 0;
}

/*
 * Ask the copies, and put one row per copy in the SRF's tuplestore.  The
 * copies' results (libpq memory) are freed on every path.
 */
static void
EmitStatus(ReturnSetInfo *rsinfo, CoordShard **copies, CoordShard **owners,
		   CoordRequest **requests, int ncopies)
{
	CoordResult *volatile results = NULL;
	int			i;

	PG_TRY();
	{
		results = CoordExecute(copies, requests, ncopies);
		for (i = 0; i < ncopies; i++)
		{
			Datum		values[8];
			bool		nulls[8] = {false, false, false, false, true, true, true, true};
			PGresult   *res = results[i].ok ? results[i].results[0] : NULL;

			values[0] = CStringGetDatum(owners[i]->name);
			values[0] = DirectFunctionCall1(namein, values[0]);
			values[1] = DirectFunctionCall1(namein, CStringGetDatum(copies[i]->name));
			values[2] = CStringGetTextDatum(copies[i]->serverid == owners[i]->serverid ?
											"primary" : "replica");
			values[3] = BoolGetDatum(res != NULL && PQntuples(res) == 1);
			if (DatumGetBool(values[3]))
			{
				values[4] = BoolGetDatum(strcmp(PQgetvalue(res, 0, 0), "t") == 0);
				values[5] = DirectFunctionCall1(int8in,
												CStringGetDatum(PQgetvalue(res, 0, 1)));
				values[6] = BoolGetDatum(strcmp(PQgetvalue(res, 0, 2), "t") == 0);
				nulls[4] = nulls[5] = nulls[6] = false;
			}
			else
			{
				values[7] = CStringGetTextDatum(results[i].error ? results[i].error :
												"no answer");
				nulls[7] = false;
			}
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	PG_CATCH();
	{
		CoordFreeResults(results, ncopies, 1);
		PG_RE_THROW();
	}
	PG_END_TRY();
	CoordFreeResults(results, ncopies, 1);
}

/*
 * Build the status query for shard's tables: standby or not, total rows,
 * and whether every table has an index of the hnsw access method.
 */
static char *
BuildStatusQuery(CoordShard *shard)
{
	StringInfoData counts;
	StringInfoData tables;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&counts);
	initStringInfo(&tables);
	foreach(lc, shard->parts)
	{
		CoordPart  *part = lfirst(lc);

		appendStringInfo(&counts, "%s(SELECT count(*) FROM %s)",
						 first ? "" : " + ", part->remote_table);
		appendStringInfo(&tables, "%s(%s::pg_catalog.regclass)",
						 first ? "" : ", ", quote_literal_cstr(part->remote_table));
		first = false;
	}
	return psprintf("SELECT pg_catalog.pg_is_in_recovery(), %s, "
					"(SELECT pg_catalog.bool_and(EXISTS ("
					"SELECT FROM pg_catalog.pg_index i"
					" JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
					" JOIN pg_catalog.pg_am a ON a.oid = c.relam"
					" WHERE i.indrelid = t.r AND a.amname = 'hnsw'))"
					" FROM (VALUES %s) t(r))",
					counts.data, tables.data);
}
