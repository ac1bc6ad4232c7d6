/*-------------------------------------------------------------------------
 *
 * coordddl.c
 *	  hnsw._shard_exec: run one command on each of several servers at the
 *	  same time, for hnsw.create_distributed_table (creating shard tables,
 *	  loading them, building their indexes on all shards at once).
 *
 * Each command runs in its own implicit transaction on its server and is
 * committed there when it succeeds, whatever the coordinator's transaction
 * does later: the caller undoes remote work itself on failure (see
 * create_distributed_table in src/sql/coord.sql).  If a command fails, the
 * shard's error is raised (with its SQLSTATE) and commands still running
 * elsewhere are cancelled.  hnsw.shard_timeout does not apply (index builds
 * are long); statement_timeout and query cancel do.  This is arbitrary
 * remote SQL under the caller's user mappings, so EXECUTE is revoked from
 * PUBLIC.
 *
 * src/coordddl.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "coord.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"

static ArrayType *CollectFirstValues(CoordResult *results, int n);

/*
 * hnsw._shard_exec(servers name[], commands text[]) returns text[]
 *
 * Run commands[i] on servers[i], all at once, no failover.  Returns the
 * first column of the first row each command returned (NULL if none).
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
