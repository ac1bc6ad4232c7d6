/*-------------------------------------------------------------------------
 *
 * coord_bench.c
 *	  Benchmark of the distributed k-NN search (issue 5): hnsw.search and
 *	  hnsw.search_batch on a coordinator against the ways stock PostgreSQL
 *	  and a hand-written client query the same shards, side by side.
 *
 * Given a coordinator and N shard servers (test/bench/coord_run starts
 * them), the program loads Fashion-MNIST training rows into "items (id int,
 * part int, embedding vector(784))" on every shard (shard i holds rows
 * i * R .. (i + 1) * R - 1, with part = i), builds an hnsw index on each
 * shard (all at once), sets up the coordinator's partitioned table of
 * postgres_fdw foreign partitions, and then times, one query at a time on
 * one client, with the first Q test images as queries:
 *
 *	  a  direct     one shard queried directly (its share of the data)
 *	  b  fdw        SELECT id FROM items ORDER BY embedding <-> $1 LIMIT k on
 *					the coordinator's partitioned table (plain postgres_fdw)
 *	  c  fdw-cte    a MATERIALIZED CTE over a UNION ALL of per-partition
 *					ORDER BY ... LIMIT k subqueries (async foreign scans)
 *	  d  client     all shards at once over libpq (prepared statements), ids
 *					and distances, merged on the client
 *	  d2 client-rows  the same, full rows (id, part, embedding) of all k per
 *					shard
 *	  d3 client-2phase  ids and distances first, then full rows of the
 *					global k only, fetched by id from their shards
 *	  e  search     SELECT id FROM hnsw.search(NULL::items, $1, k)
 *	  f  batch      hnsw.search_batch of all Q queries in one call
 *	  g  shard batches  all Q queries sent to every shard at once, as Q
 *					pipelined unprepared statements, Q pipelined executions
 *					of a prepared statement, or one LATERAL statement
 *
 * and reports p50 / p99 latency and QPS of each, and how often each method's
 * ids equal the client's (d): with the same shards and ef_search they are
 * the same search, so anything below 1.0 is a bug or a tie.
 *
 * IDENTIFICATION
 *	  test/bench/coord_bench.c
 *
 *-------------------------------------------------------------------------
 */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include "bench_common.h"
#include "libpq-fe.h"

#define FASHION_MNIST_DIR	"/usr/share/datasets/fashion-mnist"
#define MAX_SHARDS			16
#define COPY_CHUNK			(1024 * 1024)

typedef struct Options
{
	const char *coordinator;
	const char *shards[MAX_SHARDS];
	int			nshards;
	const char *data_dir;
	long		rows_per_shard;
	int			nqueries;
	int			fdw_queries;	/* queries for (b), which is slow */
	int			k;
	int			ef_search;
	int			m;
	int			ef_construction;
	int			repeat;
	bool		no_load;
	const char *only;			/* comma-separated method names, or NULL */
} Options;

/* One method's timings */
typedef struct Stats
{
	int			n;
	double		p50_ms;
	double		p99_ms;
	double		qps;
	double		agree;			/* fraction of queries whose ids equal (d)'s */
} Stats;

/* A candidate from a shard */
typedef struct Hit
{
	int32_t		id;
	double		dist;
	int			shard;
	int			rank;
} Hit;

static Options opts;
static Dataset base;
static Dataset queries;
static PGconn *coord;
static PGconn *shard_conns[MAX_SHARDS];
static Oid	vector_oid;
static Oid	vector_array_oid;
static int32_t *reference;		/* (d)'s ids, [nqueries][k]; -1 = none */

static void
usage(int status)
{
	printf("Usage: coord_bench -c COORDINATOR -s SHARD [-s SHARD ...] [options]\n"
		   "  -c, --coordinator=CONNINFO  the coordinator database\n"
		   "  -s, --shard=CONNINFO        a shard database (repeat; host, port, dbname\n"
		   "                              and user are also used for CREATE SERVER)\n"
		   "  --data-dir=DIR              Fashion-MNIST idx files (default %s)\n"
		   "  --rows-per-shard=N          (default 15000)\n"
		   "  -q, --queries=Q             test images used as queries (default 1000)\n"
		   "  --fdw-queries=N             queries for the plain postgres_fdw query (default 50)\n"
		   "  -k K                        (default 10)\n"
		   "  --ef-search=E               hnsw.ef_search everywhere (default 40)\n"
		   "  --m=M --ef-construction=E   index options (default 16, 64)\n"
		   "  --repeat=N                  timed passes per method; the fastest counts (default 3)\n"
		   "  --only=LIST                 methods to run: direct,fdw,fdw-cte,client,\n"
		   "                              client-rows,client-2phase,search,batch,shard-batch\n"
		   "  --no-load                   keep the shards' tables and the coordinator's setup\n",
		   FASHION_MNIST_DIR);
	exit(status);
}

static long
parse_long(const char *name, const char *value, long min, long max)
{
	char	   *end;
	long		v = strtol(value, &end, 10);

	if (*value == '\0' || *end != '\0' || v < min || v > max)
		fatal("invalid %s \"%s\" (expected %ld..%ld)", name, value, min, max);
	return v;
}

static void
parse_options(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{"coordinator", required_argument, NULL, 'c'},
		{"shard", required_argument, NULL, 's'},
		{"queries", required_argument, NULL, 'q'},
		{"data-dir", required_argument, NULL, 1},
		{"rows-per-shard", required_argument, NULL, 2},
		{"fdw-queries", required_argument, NULL, 3},
		{"ef-search", required_argument, NULL, 4},
		{"m", required_argument, NULL, 5},
		{"ef-construction", required_argument, NULL, 6},
		{"repeat", required_argument, NULL, 7},
		{"no-load", no_argument, NULL, 8},
		{"only", required_argument, NULL, 9},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;

	opts.data_dir = FASHION_MNIST_DIR;
	opts.rows_per_shard = 15000;
	opts.nqueries = 1000;
	opts.fdw_queries = 50;
	opts.k = 10;
	opts.ef_search = 40;
	opts.m = 16;
	opts.ef_construction = 64;
	opts.repeat = 3;
	while ((c = getopt_long(argc, argv, "c:s:q:k:h", long_opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'c':
				opts.coordinator = optarg;
				break;
			case 's':
				if (opts.nshards == MAX_SHARDS)
					fatal("at most %d shards", MAX_SHARDS);
				opts.shards[opts.nshards++] = optarg;
				break;
			case 'q':
				opts.nqueries = (int) parse_long("--queries", optarg, 1, 10000);
				break;
			case 'k':
				opts.k = (int) parse_long("-k", optarg, 1, 1000);
				break;
			case 1:
				opts.data_dir = optarg;
				break;
			case 2:
				opts.rows_per_shard = parse_long("--rows-per-shard", optarg, 1, 1000000);
				break;
			case 3:
				opts.fdw_queries = (int) parse_long("--fdw-queries", optarg, 0, 10000);
				break;
			case 4:
				opts.ef_search = (int) parse_long("--ef-search", optarg, 1, 1000);
				break;
			case 5:
				opts.m = (int) parse_long("--m", optarg, 2, 100);
				break;
			case 6:
				opts.ef_construction = (int) parse_long("--ef-construction", optarg, 4, 1000);
				break;
			case 7:
				opts.repeat = (int) parse_long("--repeat", optarg, 1, 100);
				break;
			case 8:
				opts.no_load = true;
				break;
			case 9:
				opts.only = optarg;
				break;
			case 'h':
				usage(0);
				break;
			default:
				usage(1);
		}
	}
	if (optind < argc || opts.coordinator == NULL || opts.nshards == 0)
		usage(1);
	if (opts.fdw_queries > opts.nqueries)
		opts.fdw_queries = opts.nqueries;
}

/*
 * Should method "name" run?
 */
static bool
wanted(const char *name)
{
	const char *p = opts.only;
	size_t		len = strlen(name);

	if (p == NULL)
		return true;
	while ((p = strstr(p, name)) != NULL)
	{
		if ((p == opts.only || p[-1] == ',') && (p[len] == '\0' || p[len] == ','))
			return true;
		p += len;
	}
	return false;
}

/* ---------------------------------------------------------------------
 * libpq helpers
 * ---------------------------------------------------------------------
 */

/*
 * Connect or die; only warnings are reported from here on.
 */
static PGconn *
connect_to(const char *conninfo)
{
	PGconn	   *conn = bench_connect(conninfo);

	exec_command(conn, "SET client_min_messages = warning");
	return conn;
}

static void
prepare(PGconn *conn, const char *name, const char *sql, int nparams, const Oid *types)
{
	PGresult   *res = PQprepare(conn, name, sql, nparams, types);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fatal("PREPARE of \"%s\" failed: %s", sql, PQerrorMessage(conn));
	PQclear(res);
}

/*
 * Wait for the one result of the command sent on conn, or die.
 */
static PGresult *
get_result(PGconn *conn, const char *what)
{
	PGresult   *res = PQgetResult(conn);
	PGresult   *extra;

	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
		fatal("%s failed: %s", what, PQerrorMessage(conn));
	while ((extra = PQgetResult(conn)) != NULL)
		PQclear(extra);
	return res;
}

static int32_t
get_int4(const PGresult *res, int row, int col)
{
	uint32_t	v;

	memcpy(&v, PQgetvalue(res, row, col), 4);
	return (int32_t) ntohl(v);
}

static double
get_float8(const PGresult *res, int row, int col)
{
	uint32_t	w[2];
	uint64_t	bits;
	double		d;

	memcpy(w, PQgetvalue(res, row, col), 8);
	bits = ((uint64_t) ntohl(w[0]) << 32) | ntohl(w[1]);
	memcpy(&d, &bits, 8);
	return d;
}

/* ---------------------------------------------------------------------
 * Setup
 * ---------------------------------------------------------------------
 */

/*
 * COPY base rows [from, to) into items on conn in binary, part = part.
 */
static void
copy_rows(PGconn *conn, long from, long to, int part)
{
	static const char signature[] = "PGCOPY\n\377\r\n";
	size_t		rowmax = 2 + 8 + 8 + 4 + 4 + 4 * (size_t) base.dim;
	size_t		cap = COPY_CHUNK + rowmax;
	char	   *buf = xcalloc(cap);
	size_t		len;
	uint32_t	zero = 0;
	int16_t		trailer = (int16_t) htons((uint16_t) -1);
	PGresult   *res;

	res = PQexec(conn, "COPY items (id, part, embedding) FROM STDIN (FORMAT binary)");
	if (PQresultStatus(res) != PGRES_COPY_IN)
		fatal("COPY failed: %s", PQerrorMessage(conn));
	PQclear(res);
	memcpy(buf, signature, 11);
	memcpy(buf + 11, &zero, 4);
	memcpy(buf + 15, &zero, 4);
	len = 19;
	for (long i = from; i < to; i++)
	{
		uint16_t	nfields = htons(3);
		uint32_t	four = htonl(4);
		uint32_t	id = htonl((uint32_t) i);
		uint32_t	p = htonl((uint32_t) part);
		uint32_t	veclen = htonl(4 + 4 * (uint32_t) base.dim);

		if (len + rowmax > COPY_CHUNK)
		{
			if (PQputCopyData(conn, buf, (int) len) != 1)
				fatal("COPY failed: %s", PQerrorMessage(conn));
			len = 0;
		}
		memcpy(buf + len, &nfields, 2);
		memcpy(buf + len + 2, &four, 4);
		memcpy(buf + len + 6, &id, 4);
		memcpy(buf + len + 10, &four, 4);
		memcpy(buf + len + 14, &p, 4);
		memcpy(buf + len + 18, &veclen, 4);
		len += 22;
		len += put_vector(buf + len, base.data + (size_t) i * base.dim, base.dim);
	}
	memcpy(buf + len, &trailer, 2);
	len += 2;
	if (PQputCopyData(conn, buf, (int) len) != 1 || PQputCopyEnd(conn, NULL) != 1)
		fatal("COPY failed: %s", PQerrorMessage(conn));
	while ((res = PQgetResult(conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fatal("COPY failed: %s", PQerrorMessage(conn));
		PQclear(res);
	}
	free(buf);
}

/*
 * Load every shard and build its indexes, all shards at once.
 */
static void
load_shards(void)
{
	char		sql[1024];
	double		t0 = now_seconds();

	for (int s = 0; s < opts.nshards; s++)
	{
		PGconn	   *conn = shard_conns[s];
		PGresult   *res;

		exec_command(conn, "CREATE EXTENSION IF NOT EXISTS hnsw");
		exec_command(conn, "DROP TABLE IF EXISTS items");
		exec_commandf(conn, "CREATE TABLE items (id int, part int, embedding vector(%d))",
					  base.dim);
		copy_rows(conn, s * opts.rows_per_shard, (s + 1) * opts.rows_per_shard, s);
		/* searches on the shard use the benchmark's ef_search, whoever asks */
		res = PQexec(conn, "SELECT pg_catalog.quote_ident(current_database())");
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			fatal("%s", PQerrorMessage(conn));
		exec_commandf(conn, "ALTER DATABASE %s SET hnsw.ef_search = %d",
					  PQgetvalue(res, 0, 0), opts.ef_search);
		PQclear(res);
	}
	printf("loaded %d shards x %ld rows in %.1f s\n", opts.nshards, opts.rows_per_shard,
		   now_seconds() - t0);

	/* index builds run on all shards at the same time */
	t0 = now_seconds();
	snprintf(sql, sizeof(sql),
			 "CREATE INDEX items_embedding_idx ON items USING hnsw (embedding vector_l2_ops) "
			 "WITH (m = %d, ef_construction = %d); "
			 "CREATE INDEX items_id_idx ON items (id)",
			 opts.m, opts.ef_construction);
	for (int s = 0; s < opts.nshards; s++)
		if (!PQsendQuery(shard_conns[s], sql))
			fatal("%s", PQerrorMessage(shard_conns[s]));
	for (int s = 0; s < opts.nshards; s++)
	{
		PGresult   *res;

		while ((res = PQgetResult(shard_conns[s])) != NULL)
		{
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
				fatal("index build failed: %s", PQerrorMessage(shard_conns[s]));
			PQclear(res);
		}
	}
	for (int s = 0; s < opts.nshards; s++)
		exec_command(shard_conns[s], "VACUUM ANALYZE items");
	printf("built the indexes (m = %d, ef_construction = %d) on all shards at once in %.1f s\n",
		   opts.m, opts.ef_construction, now_seconds() - t0);
}

/*
 * Set up the coordinator: servers, user mappings, and the partitioned table
 * items whose partition items_<s> is shard s's items.
 */
static void
setup_coordinator(void)
{
	exec_command(coord, "CREATE EXTENSION IF NOT EXISTS hnsw");
	exec_command(coord, "CREATE EXTENSION IF NOT EXISTS postgres_fdw");
	exec_command(coord, "DROP TABLE IF EXISTS items");
	for (int s = 0; s < opts.nshards; s++)
		exec_commandf(coord, "DROP SERVER IF EXISTS bench_shard%d CASCADE", s);
	exec_commandf(coord, "CREATE TABLE items (id int, part int, embedding vector(%d)) "
				  "PARTITION BY LIST (part)", base.dim);
	for (int s = 0; s < opts.nshards; s++)
	{
		PQconninfoOption *ci = PQconninfoParse(opts.shards[s], NULL);
		char		options[2048] = "";
		char		user[256] = "postgres";

		if (ci == NULL)
			fatal("invalid shard conninfo \"%s\"", opts.shards[s]);
		for (PQconninfoOption *o = ci; o->keyword != NULL; o++)
		{
			if (o->val == NULL)
				continue;
			if (strcmp(o->keyword, "user") == 0)
				snprintf(user, sizeof(user), "%s", o->val);
			else if (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "port") == 0 ||
					 strcmp(o->keyword, "dbname") == 0 || strcmp(o->keyword, "hostaddr") == 0)
			{
				size_t		len = strlen(options);

				snprintf(options + len, sizeof(options) - len, "%s %s '%s'",
						 len > 0 ? "," : "", o->keyword, o->val);
			}
		}
		PQconninfoFree(ci);
		/* extensions: the distance operator ships; async_capable: (c) is async */
		exec_commandf(coord, "CREATE SERVER bench_shard%d FOREIGN DATA WRAPPER postgres_fdw "
					  "OPTIONS (%s, extensions 'hnsw', async_capable 'true')", s, options);
		exec_commandf(coord, "CREATE USER MAPPING FOR CURRENT_USER SERVER bench_shard%d "
					  "OPTIONS (user '%s')", s, user);
		exec_commandf(coord, "CREATE FOREIGN TABLE items_%d PARTITION OF items "
					  "FOR VALUES IN (%d) SERVER bench_shard%d OPTIONS (table_name 'items')",
					  s, s, s);
	}
	exec_command(coord, "ANALYZE items");
}

/*
 * Print the plan of sql with the first query vector as $1.
 */
static void
show_plan(PGconn *conn, const char *title, const char *sql)
{
	char		explain[8192];
	char	   *param = xcalloc(4 + 4 * (size_t) queries.dim);
	const char *values[1] = {param};
	int			lengths[1];
	int			formats[1] = {1};
	PGresult   *res;

	lengths[0] = (int) put_vector(param, queries.data, queries.dim);
	snprintf(explain, sizeof(explain), "EXPLAIN (VERBOSE, COSTS OFF) %s", sql);
	res = PQexecParams(conn, explain, 1, &vector_oid, values, lengths, formats, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fatal("EXPLAIN failed: %s", PQerrorMessage(conn));
	/* the plan's nodes and remote SQL; vector literals make lines long */
	printf("\nplan of %s:\n", title);
	for (int i = 0; i < PQntuples(res); i++)
	{
		const char *line = PQgetvalue(res, i, 0);

		if (strstr(line, "Output:") != NULL || strstr(line, "Function Call:") != NULL)
			continue;
		/* the beginning and the end (ORDER BY, LIMIT) of long lines */
		if (strlen(line) > 130)
			printf("  %.70s ... %s\n", line, line + strlen(line) - 50);
		else
			printf("  %s\n", line);
	}
	PQclear(res);
	free(param);
}

/* ---------------------------------------------------------------------
 * Methods
 * ---------------------------------------------------------------------
 */

typedef enum Method
{
	M_DIRECT,
	M_FDW,
	M_FDW_CTE,
	M_CLIENT,
	M_CLIENT_ROWS,
	M_CLIENT_2PHASE,
	M_SEARCH
} Method;

static int
cmp_hit(const void *a, const void *b)
{
	const Hit  *x = a;
	const Hit  *y = b;

	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	if (x->shard != y->shard)
		return x->shard - y->shard;
	return x->rank - y->rank;
}

/*
 * Send prepared statement "stmt" with the vector param to every shard, wait
 * for all, and merge the (id, ..., distance) rows into the global k nearest,
 * ids into got[] (sorted); distcol is the distance column.  Returns the
 * number found.  hits receives the winners.
 */
static int
client_fanout(const char *stmt, const char *param, int paramlen, int distcol,
			  int32_t *got, Hit *hits)
{
	const char *values[1] = {param};
	int			lengths[1] = {paramlen};
	int			formats[1] = {1};
	int			nhits = 0;
	int			n;

	for (int s = 0; s < opts.nshards; s++)
		if (!PQsendQueryPrepared(shard_conns[s], stmt, 1, values, lengths, formats, 1))
			fatal("%s", PQerrorMessage(shard_conns[s]));
	for (int s = 0; s < opts.nshards; s++)
	{
		PGresult   *res = get_result(shard_conns[s], "shard query");

		for (int r = 0; r < PQntuples(res); r++)
		{
			hits[nhits].id = get_int4(res, r, 0);
			hits[nhits].dist = get_float8(res, r, distcol);
			hits[nhits].shard = s;
			hits[nhits].rank = r;
			nhits++;
		}
		PQclear(res);
	}
	qsort(hits, nhits, sizeof(Hit), cmp_hit);
	n = nhits < opts.k ? nhits : opts.k;
	for (int i = 0; i < n; i++)
		got[i] = hits[i].id;
	return n;
}

/*
 * Phase 2 of the two-phase client: fetch the full rows of the winners from
 * the shards that hold them, all shards at once.
 */
static void
client_fetch_rows(const Hit *hits, int n)
{
	bool		asked[MAX_SHARDS] = {false};

	for (int s = 0; s < opts.nshards; s++)
	{
		char		ids[4096];
		size_t		len = 0;
		const char *values[1] = {ids};

		ids[len++] = '{';
		for (int i = 0; i < n; i++)
			if (hits[i].shard == s)
				len += snprintf(ids + len, sizeof(ids) - len, "%s%d",
								len > 1 ? "," : "", hits[i].id);
		if (len == 1)
			continue;
		snprintf(ids + len, sizeof(ids) - len, "}");
		if (!PQsendQueryPrepared(shard_conns[s], "fetch", 1, values, NULL, NULL, 1))
			fatal("%s", PQerrorMessage(shard_conns[s]));
		asked[s] = true;
	}
	for (int s = 0; s < opts.nshards; s++)
		if (asked[s])
			PQclear(get_result(shard_conns[s], "fetch by id"));
}

/*
 * Run query q with method m; ids of the answer into got[]; return how many.
 */
static int
run_one(Method m, int q, char *param, int32_t *got, Hit *hits)
{
	const char *values[1] = {param};
	int			lengths[1];
	int			formats[1] = {1};
	PGresult   *res;
	PGconn	   *conn;
	int			n;

	lengths[0] = (int) put_vector(param, queries.data + (size_t) q * queries.dim, queries.dim);
	switch (m)
	{
		case M_CLIENT:
			return client_fanout("knn", param, lengths[0], 1, got, hits);
		case M_CLIENT_ROWS:
			return client_fanout("knn_rows", param, lengths[0], 3, got, hits);
		case M_CLIENT_2PHASE:
			n = client_fanout("knn", param, lengths[0], 1, got, hits);
			client_fetch_rows(hits, n);
			return n;
		case M_DIRECT:
			conn = shard_conns[0];
			break;
		default:
			conn = coord;
			break;
	}
	res = PQexecPrepared(conn, m == M_DIRECT ? "direct" : m == M_FDW ? "fdw" :
						 m == M_FDW_CTE ? "fdw_cte" : "search",
						 1, values, lengths, formats, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fatal("query %d failed: %s", q, PQerrorMessage(conn));
	n = PQntuples(res) < opts.k ? PQntuples(res) : opts.k;
	for (int i = 0; i < n; i++)
		got[i] = get_int4(res, i, 0);
	PQclear(res);
	return n;
}

/*
 * Does got[0..n) equal the reference answer of query q?
 */
static bool
agrees(int q, const int32_t *got, int n)
{
	const int32_t *ref = reference + (size_t) q * opts.k;

	for (int i = 0; i < opts.k; i++)
		if ((i < n ? got[i] : -1) != ref[i])
			return false;
	return true;
}

/*
 * Is m one of the postgres_fdw methods?  Each of their queries makes every
 * shard read and sort all its rows, which evicts the index from the CPU
 * caches: interleaved with them, the methods after them would run cold.
 * They get a pass of their own.
 */
static bool
heavy_method(Method m)
{
	return m == M_FDW || m == M_FDW_CTE;
}

/*
 * One pass of the single-query methods ms[0 .. nm - 1] that are heavy (or
 * not), interleaved: every query is run by each method in turn, so all
 * methods see the same load (the machine may be shared).  Each method's
 * latencies go to lat[m][q] and its agreement with (d) to agree[m].  The
 * reference (d) must come first, and the light pass before the heavy one.
 */
static void
measure_pass(const Method *ms, int nm, int nq, double **lat, int *agree,
			 bool heavy)
{
	char	   *param = xcalloc(4 + 4 * (size_t) queries.dim);
	int32_t    *got = xcalloc(sizeof(int32_t) * opts.k);
	Hit		   *hits = xcalloc(sizeof(Hit) * opts.k * opts.nshards);

	for (int m = 0; m < nm; m++)
	{
		if (heavy_method(ms[m]) == heavy)
			agree[m] = 0;
	}
	for (int q = 0; q < nq; q++)
	{
		for (int m = 0; m < nm; m++)
		{
			double		t0;
			int			n;

			if (heavy_method(ms[m]) != heavy)
				continue;

			/* the slow plain postgres_fdw query runs on a prefix only */
			if (ms[m] == M_FDW && q >= opts.fdw_queries)
				continue;
			t0 = now_seconds();
			n = run_one(ms[m], q, param, got, hits);
			lat[m][q] = now_seconds() - t0;
			if (ms[m] == M_CLIENT)
			{
				for (int i = 0; i < opts.k; i++)
					reference[(size_t) q * opts.k + i] = i < n ? got[i] : -1;
			}
			agree[m] += agrees(q, got, n) ? 1 : 0;
		}
	}
	free(param);
	free(got);
	free(hits);
}

/*
 * Statistics of n latencies (sorted in place); QPS is n over their sum, the
 * rate one client gets.
 */
static Stats
latency_stats(double *lat, int n, int agree)
{
	Stats		st;
	double		sum = 0;

	for (int q = 0; q < n; q++)
		sum += lat[q];
	qsort(lat, n, sizeof(double), cmp_double);
	st.n = n;
	st.p50_ms = lat[(n - 1) / 2] * 1000;
	st.p99_ms = lat[(int) ((n - 1) * 0.99)] * 1000;
	st.qps = n / sum;
	st.agree = (double) agree / n;
	return st;
}

static void
print_row(const char *label, const char *what, Stats st)
{
	printf("%-3s %-50s %7d %9.3f %9.3f %9.1f %7.3f\n", label, what, st.n,
		   st.p50_ms, st.p99_ms, st.qps, st.agree);
	fflush(stdout);
}

/*
 * Build the binary form of a one-dimensional vector[] of queries [0, nq).
 */
static char *
vector_array(int nq, int *len)
{
	size_t		vlen = 4 + 4 * (size_t) queries.dim;
	char	   *buf = xcalloc(20 + nq * (4 + vlen));
	uint32_t	hdr[5] = {htonl(1), 0, htonl(vector_oid), htonl((uint32_t) nq), htonl(1)};
	size_t		off = sizeof(hdr);

	memcpy(buf, hdr, sizeof(hdr));
	for (int q = 0; q < nq; q++)
	{
		uint32_t	l = htonl((uint32_t) vlen);

		memcpy(buf + off, &l, 4);
		off += 4;
		off += put_vector(buf + off, queries.data + (size_t) q * queries.dim, queries.dim);
	}
	*len = (int) off;
	return buf;
}

/*
 * (f): one hnsw.search_batch call with all queries; "p50" and "p99" are
 * the call's time.
 */
static Stats
run_batch(void)
{
	int			len;
	char	   *arr = vector_array(opts.nqueries, &len);
	const char *values[1] = {arr};
	int			formats[1] = {1};
	int32_t    *got = xcalloc(sizeof(int32_t) * opts.nqueries * opts.k);
	int		   *cnt = xcalloc(sizeof(int) * opts.nqueries);
	int			agree = 0;
	double		t0 = now_seconds();
	PGresult   *res = PQexecPrepared(coord, "batch", 1, values, &len, formats, 1);
	double		secs = now_seconds() - t0;
	Stats		st;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fatal("hnsw.search_batch failed: %s", PQerrorMessage(coord));
	for (int r = 0; r < PQntuples(res); r++)
	{
		int			q = get_int4(res, r, 0) - 1;

		if (q < 0 || q >= opts.nqueries || cnt[q] >= opts.k)
			fatal("hnsw.search_batch returned an unexpected query ordinal %d", q + 1);
		got[(size_t) q * opts.k + cnt[q]++] = get_int4(res, r, 1);
	}
	PQclear(res);
	for (int q = 0; q < opts.nqueries; q++)
		agree += agrees(q, got + (size_t) q * opts.k, cnt[q]) ? 1 : 0;
	st.n = opts.nqueries;
	st.qps = opts.nqueries / secs;
	st.p50_ms = st.p99_ms = secs * 1000;
	st.agree = (double) agree / opts.nqueries;
	free(got);
	free(cnt);
	free(arr);
	return st;
}

/*
 * (g): every query sent to every shard at once, in one of three forms, as a
 * batch would reach a shard (0: pipelined unprepared statements, 1:
 * pipelined executions of a prepared statement, 2: one LATERAL statement);
 * tells what a coordinator could get out of the shards for a batch.
 */
static const char *const shard_batch_names[] = {
	"shards: Q unprepared statements, pipelined",
	"shards: Q prepared executions, pipelined",
	"shards: one LATERAL statement over unnest($1)"
};

static Stats
run_shard_batch(int form)
{
	char		sql[1024];
	char	   *param = xcalloc(4 + 4 * (size_t) queries.dim);
	int			alen = 0;
	char	   *arr = form == 2 ? vector_array(opts.nqueries, &alen) : NULL;
	double		t0 = now_seconds();
	double		secs;
	Stats		st;

	snprintf(sql, sizeof(sql), form == 2 ?
			 "SELECT q.i, r.id, r.d FROM unnest($1::vector[]) WITH ORDINALITY q(v, i) "
			 "CROSS JOIN LATERAL (SELECT id, embedding <-> q.v AS d FROM items "
			 "ORDER BY embedding <-> q.v LIMIT %d) r" :
			 "SELECT id, embedding <-> $1 FROM items ORDER BY 2 LIMIT %d", opts.k);
	for (int s = 0; s < opts.nshards; s++)
	{
		PGconn	   *conn = shard_conns[s];
		int			formats[1] = {1};

		if (form == 2)
		{
			const char *values[1] = {arr};

			if (!PQsendQueryParams(conn, sql, 1, &vector_array_oid, values, &alen, formats, 1))
				fatal("%s", PQerrorMessage(conn));
			continue;
		}
		if (!PQenterPipelineMode(conn))
			fatal("%s", PQerrorMessage(conn));
		for (int q = 0; q < opts.nqueries; q++)
		{
			const char *values[1] = {param};
			int			len = (int) put_vector(param, queries.data + (size_t) q * queries.dim,
											   queries.dim);
			int			ok = form == 0 ?
				PQsendQueryParams(conn, sql, 1, &vector_oid, values, &len, formats, 1) :
				PQsendQueryPrepared(conn, "knn", 1, values, &len, formats, 1);

			if (!ok)
				fatal("%s", PQerrorMessage(conn));
		}
		if (!PQpipelineSync(conn))
			fatal("%s", PQerrorMessage(conn));
	}
	for (int s = 0; s < opts.nshards; s++)
	{
		PGconn	   *conn = shard_conns[s];
		PGresult   *res;

		if (form == 2)
		{
			PQclear(get_result(conn, "LATERAL batch"));
			continue;
		}
		for (;;)
		{
			res = PQgetResult(conn);
			if (res == NULL)
				continue;		/* end of one statement's results */
			if (PQresultStatus(res) == PGRES_PIPELINE_SYNC)
			{
				PQclear(res);
				break;
			}
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
				fatal("pipelined query failed: %s", PQerrorMessage(conn));
			PQclear(res);
		}
		if (!PQexitPipelineMode(conn))
			fatal("%s", PQerrorMessage(conn));
	}
	secs = now_seconds() - t0;
	st.n = opts.nqueries;
	st.qps = opts.nqueries / secs;
	st.p50_ms = st.p99_ms = secs * 1000;
	st.agree = NAN;
	free(param);
	free(arr);
	return st;
}

int
main(int argc, char **argv)
{
	char		path[4096];
	char		sql[8192];
	size_t		len;
	PGresult   *res;

	bench_progname = "coord_bench";
	parse_options(argc, argv);
	snprintf(path, sizeof(path), "%s/train-images-idx3-ubyte.gz", opts.data_dir);
	base = read_idx_images(path, opts.rows_per_shard * opts.nshards);
	if (base.n < opts.rows_per_shard * opts.nshards)
		fatal("the data set has %ld rows, fewer than %ld", base.n,
			  opts.rows_per_shard * opts.nshards);
	snprintf(path, sizeof(path), "%s/t10k-images-idx3-ubyte.gz", opts.data_dir);
	queries = read_idx_images(path, opts.nqueries);
	opts.nqueries = (int) queries.n;
	reference = xcalloc(sizeof(int32_t) * opts.nqueries * opts.k);

	coord = connect_to(opts.coordinator);
	for (int s = 0; s < opts.nshards; s++)
		shard_conns[s] = connect_to(opts.shards[s]);
	if (!opts.no_load)
	{
		load_shards();
		setup_coordinator();
	}
	res = PQexec(coord, "SELECT 'vector'::regtype::oid, 'vector[]'::regtype::oid");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fatal("%s", PQerrorMessage(coord));
	vector_oid = (Oid) strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	vector_array_oid = (Oid) strtoul(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	/* every shard has the same type OIDs only if created alike: check */
	for (int s = 0; s < opts.nshards; s++)
	{
		res = PQexec(shard_conns[s], "SELECT 'vector'::regtype::oid");
		if (PQresultStatus(res) != PGRES_TUPLES_OK ||
			(Oid) strtoul(PQgetvalue(res, 0, 0), NULL, 10) != vector_oid)
			fatal("shard %d's vector type OID differs from the coordinator's", s);
		PQclear(res);
		exec_commandf(shard_conns[s], "SET hnsw.ef_search = %d", opts.ef_search);
	}
	exec_commandf(coord, "SET hnsw.ef_search = %d", opts.ef_search);

	/* the statements */
	snprintf(sql, sizeof(sql), "SELECT id FROM items ORDER BY embedding <-> $1 LIMIT %d", opts.k);
	prepare(shard_conns[0], "direct", sql, 1, &vector_oid);
	prepare(coord, "fdw", sql, 1, &vector_oid);
	len = (size_t) snprintf(sql, sizeof(sql), "WITH c AS MATERIALIZED (");
	for (int s = 0; s < opts.nshards; s++)
		len += snprintf(sql + len, sizeof(sql) - len,
						"%s(SELECT id, embedding <-> $1 AS d FROM items_%d "
						"ORDER BY embedding <-> $1 LIMIT %d)",
						s > 0 ? " UNION ALL " : "", s, opts.k);
	snprintf(sql + len, sizeof(sql) - len, ") SELECT id FROM c ORDER BY d LIMIT %d", opts.k);
	prepare(coord, "fdw_cte", sql, 1, &vector_oid);
	if (wanted("fdw-cte"))
		show_plan(coord, "(c), the MATERIALIZED CTE over the foreign partitions", sql);
	snprintf(sql, sizeof(sql), "SELECT id FROM hnsw.search(NULL::items, $1, %d)", opts.k);
	prepare(coord, "search", sql, 1, &vector_oid);
	snprintf(sql, sizeof(sql), "SELECT query, (item).id FROM hnsw.search_batch(NULL::items, $1, %d)",
			 opts.k);
	prepare(coord, "batch", sql, 1, &vector_array_oid);
	for (int s = 0; s < opts.nshards; s++)
	{
		int32_t		int4arr = 1007; /* int4[] */

		snprintf(sql, sizeof(sql),
				 "SELECT id, embedding <-> $1 FROM items ORDER BY 2 LIMIT %d", opts.k);
		prepare(shard_conns[s], "knn", sql, 1, &vector_oid);
		snprintf(sql, sizeof(sql),
				 "SELECT id, part, embedding, embedding <-> $1 FROM items ORDER BY 4 LIMIT %d",
				 opts.k);
		prepare(shard_conns[s], "knn_rows", sql, 1, &vector_oid);
		prepare(shard_conns[s], "fetch", "SELECT id, part, embedding FROM items WHERE id = ANY($1)",
				1, (Oid *) &int4arr);
	}
	if (wanted("client"))
		show_plan(shard_conns[0], "(d), a shard's part of the client's query",
				  "SELECT id, embedding <-> $1 FROM items ORDER BY 2 LIMIT 10");

	if (wanted("shard-batch"))
		show_plan(shard_conns[0], "the LATERAL batch statement on a shard (one query)",
				  "SELECT q.i, r.id, r.d FROM unnest(ARRAY[$1::vector]) WITH ORDINALITY q(v, i) "
				  "CROSS JOIN LATERAL (SELECT id, embedding <-> q.v AS d FROM items "
				  "ORDER BY embedding <-> q.v LIMIT 10) r");

	/*
	 * Passes: the first warms the caches and is not counted.  In each pass
	 * the single-query methods run interleaved query by query (the
	 * postgres_fdw ones after the others, see heavy_method), then the
	 * batch and the shard batches once each; per method the pass with the
	 * best p50 (for batches: the fastest) counts.
	 */
	{
		static const struct
		{
			Method		m;
			const char *name;
			const char *label;
			const char *what;
		}			all[] = {
			{M_CLIENT, "client", "d", "client: all shards at once, ids + distances"},
			{M_DIRECT, "direct", "a", "one shard directly"},
			{M_FDW, "fdw", "b", "postgres_fdw, plain query on the partitioned table"},
			{M_FDW_CTE, "fdw-cte", "c", "postgres_fdw, MATERIALIZED CTE of UNION ALL"},
			{M_CLIENT_ROWS, "client-rows", "d2", "client: all shards at once, full rows"},
			{M_CLIENT_2PHASE, "client-2phase", "d3", "client: ids first, then full rows of the k"},
			{M_SEARCH, "search", "e", "hnsw.search"},
		};
		int			nall = sizeof(all) / sizeof(all[0]);
		Method		ms[8];
		int			idx[8];
		int			nm = 0;
		double	   *lat[8];
		int			agree[8];
		Stats		best[8] = {{0}};
		Stats		best_batch = {0};
		Stats		best_g[3] = {{0}};

		for (int a = 0; a < nall; a++)
		{
			/* (d) always: it is the reference */
			if (a > 0 && !wanted(all[a].name))
				continue;
			if (all[a].m == M_FDW && opts.fdw_queries == 0)
				continue;
			idx[nm] = a;
			ms[nm] = all[a].m;
			lat[nm] = xcalloc(sizeof(double) * opts.nqueries);
			nm++;
		}
		printf("\n%d shards x %ld rows, %d queries, k = %d, ef_search = %d, %d timed passes "
			   "(the best counts); load average %.2f\n",
			   opts.nshards, opts.rows_per_shard, opts.nqueries, opts.k, opts.ef_search,
			   opts.repeat, load_average());
		fflush(stdout);
		for (int pass = 0; pass <= opts.repeat; pass++)
		{
			measure_pass(ms, nm, opts.nqueries, lat, agree, false);
			measure_pass(ms, nm, opts.nqueries, lat, agree, true);
			for (int m = 0; pass > 0 && m < nm; m++)
			{
				Stats		st = latency_stats(lat[m], ms[m] == M_FDW ? opts.fdw_queries :
											   opts.nqueries, agree[m]);

				if (best[m].n == 0 || st.p50_ms < best[m].p50_ms)
					best[m] = st;
			}
			if (wanted("batch"))
			{
				Stats		st = run_batch();

				if (pass > 0 && st.qps > best_batch.qps)
					best_batch = st;
			}
			for (int form = 0; wanted("shard-batch") && form < 3; form++)
			{
				Stats		st = run_shard_batch(form);

				if (pass > 0 && st.qps > best_g[form].qps)
					best_g[form] = st;
			}
			printf("pass %d done; load average %.2f\n", pass, load_average());
			fflush(stdout);
		}

		printf("\n%-3s %-50s %7s %9s %9s %9s %7s\n", "", "method", "queries", "p50 ms",
			   "p99 ms", "QPS", "= (d)");
		for (int m = 0; m < nm; m++)
			print_row(all[idx[m]].label, all[idx[m]].what, best[m]);
		if (wanted("batch"))
			print_row("f", "hnsw.search_batch, all queries in one call", best_batch);
		for (int form = 0; wanted("shard-batch") && form < 3; form++)
			print_row("g", shard_batch_names[form], best_g[form]);
		for (int m = 0; m < nm; m++)
		{
			if (ms[m] != M_SEARCH)
				continue;
			printf("\nhnsw.search p50 / client (d) p50: %.2f\n", best[m].p50_ms / best[0].p50_ms);
			for (int c = 0; c < nm; c++)
				if (ms[c] == M_FDW_CTE)
					printf("CTE (c) p50 / hnsw.search p50: %.2f\n", best[c].p50_ms / best[m].p50_ms);
		}
		for (int m = 0; m < nm; m++)
			if (ms[m] == M_SEARCH && wanted("batch"))
				printf("hnsw.search_batch QPS / hnsw.search QPS: %.2f\n",
					   best_batch.qps / best[m].qps);
	}
	printf("load average at the end %.2f\n", load_average());
	printf("(a: one shard's 1/%d of the data; b: the first %d queries only; f, g: p50 and\n"
		   " p99 are the whole batch's time; = (d): fraction of queries whose ids equal the\n"
		   " client's; QPS of a, b, c, d, e: queries over the sum of their latencies)\n",
		   opts.nshards, opts.fdw_queries);

	PQfinish(coord);
	for (int s = 0; s < opts.nshards; s++)
		PQfinish(shard_conns[s]);
	return 0;
}
