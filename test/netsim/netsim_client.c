/*-------------------------------------------------------------------------
 *
 * netsim_client.c
 *	  What the coordinator costs: the same k-NN searches run by hnsw.search
 *	  on a coordinator and by a client that asks every shard at once
 *	  itself, through the same network, interleaved.
 *
 * Given the coordinator of a simulation (test/perl/HnswSim.pm: a
 * distributed table "items" of one foreign partition per shard, and its
 * query vectors in the table "queries") and the shards' addresses (their
 * proxies), the program reads the query vectors, then for a while or a
 * number of searches picks a query at random and runs it both ways, in
 * alternating order:
 *
 *	  coordinator  SELECT id FROM hnsw.search(NULL::items, $1, k), a
 *				   prepared statement, over the caller's connection to the
 *				   coordinator
 *	  direct	   the statement the coordinator sends each shard (ids and
 *				   distances, ORDER BY the distance LIMIT k, prepared, binary
 *				   parameter and rows) sent to every shard at once on one
 *				   connection each, the answers read as they come (poll), and
 *				   merged into the global k as the coordinator merges them
 *
 * with the shards' hnsw.ef_search set to the coordinator's, so both are
 * the same search.  It prints one line of p50 / p99 / mean latency for
 * each, their ratios, how often the two answers were the same ids in the
 * same order (anything below 1.0 is a bug or a tie), and the p50 of a
 * prepared "SELECT 1" on the coordinator, run between the two: the hop to
 * the coordinator that the client asking the shards itself saves.
 *
 * IDENTIFICATION
 *	  test/netsim/netsim_client.c
 *
 *-------------------------------------------------------------------------
 */
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "../bench/bench_common.h"
#include "libpq-fe.h"

#define MAX_SHARDS	64

/* A candidate from a shard */
typedef struct Hit
{
	int64_t		id;
	double		dist;
	int			shard;
	int			rank;
} Hit;

static const char *coord_info;
static const char *shard_info[MAX_SHARDS];
static int	nshards;
static int	k = 10;
static double seconds = 10;
static long max_searches = 0;
static unsigned int seed = 1;

static PGconn *coord;
static PGconn *shards[MAX_SHARDS];

static void
usage(int status)
{
	printf("Usage: netsim_client -c COORDINATOR -s SHARD [-s SHARD ...] [options]\n"
		   "  -c, --coordinator=CONNINFO  the coordinator (table items, queries)\n"
		   "  -s, --shard=CONNINFO        a shard, in the partitions' order (repeat)\n"
		   "  -k K                        neighbours per search (default 10)\n"
		   "  -T, --seconds=S             run that long (default 10)\n"
		   "  -n, --searches=N            or that many searches each way\n"
		   "  --seed=N                    of the choice of queries (default 1)\n");
	exit(status);
}

/* Read the big-endian int64 at p */
static int64_t
get_int8(const char *p)
{
	uint32_t	hi,
				lo;

	memcpy(&hi, p, 4);
	memcpy(&lo, p + 4, 4);
	return (int64_t) (((uint64_t) ntohl(hi) << 32) | ntohl(lo));
}

/* Read the big-endian float8 at p */
static double
get_float8(const char *p)
{
	uint64_t	bits = (uint64_t) get_int8(p);
	double		d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

/* Prepare sql as statement name on conn, or die */
static void
prepare(PGconn *conn, const char *name, const char *sql)
{
	PGresult   *res = PQprepare(conn, name, sql, 1, NULL);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fatal("could not prepare \"%s\": %s", sql, PQerrorMessage(conn));
	PQclear(res);
}

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
 * Run the query (binary vector param, len bytes) on every shard at once;
 * the global k nearest ids into ids.  Returns how many.
 */
static int
search_direct(const char *param, int len, int64_t *ids, Hit *hits)
{
	const char *values[1] = {param};
	int			lengths[1] = {len};
	int			formats[1] = {1};
	struct pollfd pfd[MAX_SHARDS];
	bool		done[MAX_SHARDS] = {false};
	int			left = nshards;
	int			nhits = 0;
	int			n;

	for (int s = 0; s < nshards; s++)
	{
		if (!PQsendQueryPrepared(shards[s], "knn", 1, values, lengths, formats, 1))
			fatal("shard %d: %s", s + 1, PQerrorMessage(shards[s]));
		pfd[s].fd = PQsocket(shards[s]);
		pfd[s].events = POLLIN;
	}
	while (left > 0)
	{
		if (poll(pfd, nshards, -1) < 0)
			fatal("poll failed");
		for (int s = 0; s < nshards; s++)
		{
			if (done[s] || !(pfd[s].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			if (!PQconsumeInput(shards[s]))
				fatal("shard %d: %s", s + 1, PQerrorMessage(shards[s]));
			while (!done[s] && !PQisBusy(shards[s]))
			{
				PGresult   *res = PQgetResult(shards[s]);

				if (res == NULL)
				{
					done[s] = true;
					pfd[s].fd = -1;
					left--;
					break;
				}
				if (PQresultStatus(res) != PGRES_TUPLES_OK)
					fatal("shard %d: %s", s + 1, PQerrorMessage(shards[s]));
				for (int r = 0; r < PQntuples(res); r++)
				{
					hits[nhits].id = get_int8(PQgetvalue(res, r, 0));
					hits[nhits].dist = get_float8(PQgetvalue(res, r, 1));
					hits[nhits].shard = s;
					hits[nhits].rank = r;
					nhits++;
				}
				PQclear(res);
			}
		}
	}
	qsort(hits, nhits, sizeof(Hit), cmp_hit);
	n = nhits < k ? nhits : k;
	for (int i = 0; i < n; i++)
		ids[i] = hits[i].id;
	return n;
}

/* Run the query through the coordinator; ids into ids; return how many */
static int
search_coord(const char *param, int len, int64_t *ids)
{
	const char *values[1] = {param};
	int			lengths[1] = {len};
	int			formats[1] = {1};
	PGresult   *res = PQexecPrepared(coord, "search", 1, values, lengths, formats, 1);
	int			n;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fatal("hnsw.search: %s", PQerrorMessage(coord));
	n = PQntuples(res) < k ? PQntuples(res) : k;
	for (int i = 0; i < n; i++)
		ids[i] = get_int8(PQgetvalue(res, i, 0));
	PQclear(res);
	return n;
}

/* p-th quantile of the sorted v[0 .. n - 1] */
static double
quantile(const double *v, long n, double p)
{
	return v[(long) (p * (n - 1) + 0.5)];
}

static double
mean(const double *v, long n)
{
	double		sum = 0;

	for (long i = 0; i < n; i++)
		sum += v[i];
	return sum / n;
}

int
main(int argc, char **argv)
{
	static struct option long_options[] = {
		{"coordinator", required_argument, NULL, 'c'},
		{"shard", required_argument, NULL, 's'},
		{"seconds", required_argument, NULL, 'T'},
		{"searches", required_argument, NULL, 'n'},
		{"seed", required_argument, NULL, 1},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	PGresult   *res;
	char		sql[1024];
	char	  **qv;
	int		   *qlen;
	int			nq;
	double	   *lat_direct;
	double	   *lat_coord;
	double	   *lat_hop;
	long		cap;
	long		n = 0;
	long		agree = 0;
	Hit		   *hits;
	int64_t    *ids_direct;
	int64_t    *ids_coord;
	double		start;
	int			c;

	bench_progname = "netsim_client";
	while ((c = getopt_long(argc, argv, "c:s:k:T:n:h", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'c':
				coord_info = optarg;
				break;
			case 's':
				if (nshards == MAX_SHARDS)
					fatal("at most %d shards", MAX_SHARDS);
				shard_info[nshards++] = optarg;
				break;
			case 'k':
				k = atoi(optarg);
				break;
			case 'T':
				seconds = atof(optarg);
				break;
			case 'n':
				max_searches = atol(optarg);
				break;
			case 1:
				seed = (unsigned int) atol(optarg);
				break;
			case 'h':
				usage(0);
				break;
			default:
				usage(1);
		}
	}
	if (coord_info == NULL || nshards == 0 || k < 1 || k > 1000 ||
		seconds <= 0 || max_searches < 0 || optind < argc)
		usage(1);

	/* the queries, as binary vectors ready to send */
	coord = bench_connect(coord_info);
	res = PQexecParams(coord, "SELECT v FROM queries ORDER BY qid", 0, NULL, NULL,
					   NULL, NULL, 1);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) == 0)
		fatal("no queries: %s", PQerrorMessage(coord));
	nq = PQntuples(res);
	qv = xmalloc(sizeof(char *) * nq);
	qlen = xmalloc(sizeof(int) * nq);
	for (int i = 0; i < nq; i++)
	{
		qlen[i] = PQgetlength(res, i, 0);
		qv[i] = xmalloc(qlen[i]);
		memcpy(qv[i], PQgetvalue(res, i, 0), qlen[i]);
	}
	PQclear(res);

	snprintf(sql, sizeof(sql),
			 "SELECT id FROM hnsw.search(NULL::items, $1::vector, %d)", k);
	prepare(coord, "search", sql);
	prepare(coord, "hop", "SELECT $1::int");

	/* the shards: the coordinator's ef_search, its query */
	res = PQexec(coord, "SELECT current_setting('hnsw.ef_search')");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fatal("%s", PQerrorMessage(coord));
	for (int s = 0; s < nshards; s++)
	{
		shards[s] = bench_connect(shard_info[s]);
		exec_commandf(shards[s], "SET hnsw.ef_search = %s", PQgetvalue(res, 0, 0));
		snprintf(sql, sizeof(sql),
				 "SELECT id, embedding OPERATOR(public.<->) $1::public.vector "
				 "FROM public.items ORDER BY 2 LIMIT %d", k);
		prepare(shards[s], "knn", sql);
	}
	PQclear(res);

	cap = max_searches > 0 ? max_searches : 1024;
	lat_direct = xmalloc(sizeof(double) * cap);
	lat_coord = xmalloc(sizeof(double) * cap);
	lat_hop = xmalloc(sizeof(double) * cap);
	hits = xmalloc(sizeof(Hit) * (size_t) k * nshards);
	ids_direct = xmalloc(sizeof(int64_t) * k);
	ids_coord = xmalloc(sizeof(int64_t) * k);
	srandom(seed);

	start = now_seconds();
	while (max_searches > 0 ? n < max_searches : now_seconds() - start < seconds)
	{
		int			q = random() % nq;
		int			nd = 0;
		int			nc = 0;

		if (n == cap)
		{
			cap *= 2;
			lat_direct = realloc(lat_direct, sizeof(double) * cap);
			lat_coord = realloc(lat_coord, sizeof(double) * cap);
			lat_hop = realloc(lat_hop, sizeof(double) * cap);
			if (lat_direct == NULL || lat_coord == NULL || lat_hop == NULL)
				fatal("out of memory");
		}
		/* alternate which goes first: neither always finds warm caches */
		for (int turn = 0; turn < 2; turn++)
		{
			double		t0 = now_seconds();

			if ((turn == 0) == (n % 2 == 0))
			{
				nd = search_direct(qv[q], qlen[q], ids_direct, hits);
				lat_direct[n] = (now_seconds() - t0) * 1000;
			}
			else
			{
				nc = search_coord(qv[q], qlen[q], ids_coord);
				lat_coord[n] = (now_seconds() - t0) * 1000;
			}
		}
		if (nd == nc && memcmp(ids_direct, ids_coord, sizeof(int64_t) * nd) == 0)
			agree++;
		{
			const char *one[1] = {"1"};
			double		t0 = now_seconds();

			res = PQexecPrepared(coord, "hop", 1, one, NULL, NULL, 0);
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
				fatal("%s", PQerrorMessage(coord));
			PQclear(res);
			lat_hop[n] = (now_seconds() - t0) * 1000;
		}
		n++;
	}
	if (n == 0)
		fatal("no search ran");

	qsort(lat_direct, n, sizeof(double), cmp_double);
	qsort(lat_coord, n, sizeof(double), cmp_double);
	qsort(lat_hop, n, sizeof(double), cmp_double);
	printf("shards=%d searches=%ld direct_p50=%.3f direct_p99=%.3f direct_mean=%.3f "
		   "coord_p50=%.3f coord_p99=%.3f coord_mean=%.3f "
		   "ratio_p50=%.3f ratio_p99=%.3f agree=%.4f hop_p50=%.3f\n",
		   nshards, n,
		   quantile(lat_direct, n, 0.5), quantile(lat_direct, n, 0.99), mean(lat_direct, n),
		   quantile(lat_coord, n, 0.5), quantile(lat_coord, n, 0.99), mean(lat_coord, n),
		   quantile(lat_coord, n, 0.5) / quantile(lat_direct, n, 0.5),
		   quantile(lat_coord, n, 0.99) / quantile(lat_direct, n, 0.99),
		   (double) agree / n, quantile(lat_hop, n, 0.5));

	for (int s = 0; s < nshards; s++)
		PQfinish(shards[s]);
	PQfinish(coord);
	return 0;
}
