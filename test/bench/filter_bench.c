/*-------------------------------------------------------------------------
 *
 * filter_bench.c
 *	  Benchmark of filtered k-NN over libpq:
 *
 *		SELECT id FROM items WHERE <filter> ORDER BY embedding <-> $1 LIMIT k
 *
 *	  with the plan the planner picks by itself and with each plan forced
 *	  (the hnsw index scan, a bitmap scan of a btree index with an exact
 *	  sort, a sequential scan with an exact sort), with and without btree
 *	  indexes on the filter columns; recall@k against exact filtered search.
 *	  Each kind of plan has a connection of its own, and they take turns
 *	  query by query.
 *
 * The table is Fashion-MNIST's 60,000 training images, "items (id int,
 * label int, grp int, embedding vector(784))": label is the image's class
 * (0 to 9), so a filter on it is correlated with the vectors (the rows that
 * match lie together, far from most queries), and grp = id % 100 is not.
 * The queries are the first Q test images.  pgvector runs with
 * hnsw.iterative_scan = relaxed_order (hnsw's default).  See
 * test/bench/README.md "Filtered search".
 *
 * A returned row counts as a hit when it matches the filter and its exact
 * distance is no larger than the k-th exact distance among the matching
 * rows (within a relative 1e-5), so ties are not held against the index.
 *
 * IDENTIFICATION
 *	  test/bench/filter_bench.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "bench_common.h"
#include "libpq-fe.h"

#define FASHION_MNIST_DIR	"/usr/share/datasets/fashion-mnist"
#define COPY_CHUNK			(1024 * 1024)
#define MAX_FILTERS			16

/* A filter the client can evaluate: column op value, or no filter */
typedef enum FilterColumn
{
	COL_NONE,
	COL_ID,
	COL_LABEL,
	COL_GRP
} FilterColumn;

typedef enum FilterOp
{
	OP_EQ,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE
} FilterOp;

typedef struct Filter
{
	const char *sql;			/* as written in the WHERE clause, "" if none */
	FilterColumn column;
	FilterOp	op;
	long		value;
	long		matching;		/* rows that match */
} Filter;

/* How a query is planned: by the planner, or one kind of plan forced */
typedef enum PlanMode
{
	PLAN_PLANNER,				/* no enable_* setting */
	PLAN_HNSW,					/* the hnsw index scan */
	PLAN_BITMAP,				/* bitmap scan of a btree index, then a sort */
	PLAN_SEQSCAN				/* sequential scan, then a sort */
} PlanMode;

static const char *const plan_names[] = {"planner", "hnsw", "bitmap", "seqscan"};

typedef struct Options
{
	const char *conninfo;
	const char *extension;
	const char *label;
	const char *data_dir;
	const char *table;
	const char *index_columns;	/* key columns after the vector */
	const char *csv;
	int			nqueries;
	int			k;
	int			ef_search;
	int			repeat;
	int			m;
	int			ef_construction;
	bool		reuse;
	bool		force;
	int			btree;			/* 0: without, 1: with, 2: both, in turn */
	long		max_sort_rows;	/* force no sorted plan of more rows */
	Filter		filters[MAX_FILTERS];
	int			nfilters;
} Options;

static Options opts;
static FILE *csv_out;

static void
usage(int status)
{
	printf("Usage: filter_bench [options]\n"
		   "  -d, --conninfo STR      libpq connection string\n"
		   "  --extension NAME        hnsw (default) or vector (pgvector)\n"
		   "  --label STR             name of this run in the output\n"
		   "  --data-dir DIR          Fashion-MNIST files (default %s)\n"
		   "  --table NAME            table (default items)\n"
		   "  --index-columns LIST    more key columns after the vector (default none;\n"
		   "                          ignored for pgvector, whose hnsw has one)\n"
		   "  -q, --queries N         test images used as queries (default 300)\n"
		   "  -k N                    LIMIT (default 10)\n"
		   "  --ef N                  hnsw.ef_search (default 40)\n"
		   "  --m N, --ef-construction N   index options (default 16, 64)\n"
		   "  --repeat N              timed passes per plan, the fastest counts (default 3)\n"
		   "  --filter SQL            a filter (repeatable; default: none, grp < 30,\n"
		   "                          label = 3, grp = 7); \"column op integer\" over\n"
		   "                          id, label, grp, or \"none\"\n"
		   "  --btree off|on|both     btree indexes on label and grp (default both)\n"
		   "  --no-force              only the planner's plan\n"
		   "  --max-sort-rows N       force no bitmap or sequential scan for a filter\n"
		   "                          passing more rows than this (default 10000)\n"
		   "  --reuse                 keep the table and its index if they exist\n"
		   "  --csv FILE              append one line per measurement\n",
		   FASHION_MNIST_DIR);
	exit(status);
}

static long
parse_long(const char *name, const char *value, long min, long max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || *end != '\0' || end == value || v < min || v > max)
		fatal("invalid value for %s: \"%s\"", name, value);
	return v;
}

/* Parse "column op value" or "none" into a filter */
static void
add_filter(const char *sql)
{
	Filter	   *f;
	char		col[32];
	char		op[4];
	long		value;
	int			n = 0;

	if (opts.nfilters >= MAX_FILTERS)
		fatal("at most %d filters", MAX_FILTERS);
	f = &opts.filters[opts.nfilters++];
	memset(f, 0, sizeof(*f));
	if (strcmp(sql, "none") == 0 || sql[0] == '\0')
	{
		f->sql = "";
		f->column = COL_NONE;
		return;
	}
	if (sscanf(sql, "%31s %3s %ld%n", col, op, &value, &n) != 3 ||
		sql[n] != '\0')
		fatal("filter \"%s\" is not \"column op integer\"", sql);
	f->sql = sql;
	f->value = value;
	if (strcmp(col, "id") == 0)
		f->column = COL_ID;
	else if (strcmp(col, "label") == 0)
		f->column = COL_LABEL;
	else if (strcmp(col, "grp") == 0)
		f->column = COL_GRP;
	else
		fatal("filter \"%s\": the column must be id, label or grp", sql);
	if (strcmp(op, "=") == 0)
		f->op = OP_EQ;
	else if (strcmp(op, "<") == 0)
		f->op = OP_LT;
	else if (strcmp(op, "<=") == 0)
		f->op = OP_LE;
	else if (strcmp(op, ">") == 0)
		f->op = OP_GT;
	else if (strcmp(op, ">=") == 0)
		f->op = OP_GE;
	else
		fatal("filter \"%s\": the operator must be =, <, <=, > or >=", sql);
}

static void
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"conninfo", required_argument, NULL, 'd'},
		{"extension", required_argument, NULL, 1},
		{"label", required_argument, NULL, 2},
		{"data-dir", required_argument, NULL, 3},
		{"table", required_argument, NULL, 4},
		{"index-columns", required_argument, NULL, 5},
		{"queries", required_argument, NULL, 'q'},
		{"ef", required_argument, NULL, 6},
		{"m", required_argument, NULL, 7},
		{"ef-construction", required_argument, NULL, 8},
		{"repeat", required_argument, NULL, 9},
		{"filter", required_argument, NULL, 10},
		{"btree", required_argument, NULL, 11},
		{"no-force", no_argument, NULL, 12},
		{"reuse", no_argument, NULL, 13},
		{"csv", required_argument, NULL, 14},
		{"max-sort-rows", required_argument, NULL, 15},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;

	opts.conninfo = "";
	opts.extension = "hnsw";
	opts.data_dir = FASHION_MNIST_DIR;
	opts.table = "items";
	opts.index_columns = NULL;
	opts.nqueries = 300;
	opts.k = 10;
	opts.ef_search = 40;
	opts.repeat = 3;
	opts.m = 16;
	opts.ef_construction = 64;
	opts.force = true;
	opts.btree = 2;
	opts.max_sort_rows = 10000;

	while ((c = getopt_long(argc, argv, "d:q:k:h", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				opts.conninfo = optarg;
				break;
			case 1:
				opts.extension = optarg;
				break;
			case 2:
				opts.label = optarg;
				break;
			case 3:
				opts.data_dir = optarg;
				break;
			case 4:
				opts.table = optarg;
				break;
			case 5:
				opts.index_columns = optarg;
				break;
			case 'q':
				opts.nqueries = (int) parse_long("--queries", optarg, 1, 10000);
				break;
			case 'k':
				opts.k = (int) parse_long("-k", optarg, 1, 1000);
				break;
			case 6:
				opts.ef_search = (int) parse_long("--ef", optarg, 1, 1000);
				break;
			case 7:
				opts.m = (int) parse_long("--m", optarg, 2, 100);
				break;
			case 8:
				opts.ef_construction = (int) parse_long("--ef-construction", optarg, 4, 1000);
				break;
			case 9:
				opts.repeat = (int) parse_long("--repeat", optarg, 1, 100);
				break;
			case 10:
				add_filter(optarg);
				break;
			case 11:
				if (strcmp(optarg, "off") == 0)
					opts.btree = 0;
				else if (strcmp(optarg, "on") == 0)
					opts.btree = 1;
				else if (strcmp(optarg, "both") == 0)
					opts.btree = 2;
				else
					fatal("--btree must be off, on or both");
				break;
			case 12:
				opts.force = false;
				break;
			case 13:
				opts.reuse = true;
				break;
			case 14:
				opts.csv = optarg;
				break;
			case 15:
				opts.max_sort_rows = parse_long("--max-sort-rows", optarg, 0, LONG_MAX);
				break;
			case 'h':
				usage(0);
				break;
			default:
				usage(1);
		}
	}
	if (optind < argc)
		fatal("unexpected argument \"%s\"", argv[optind]);
	if (strcmp(opts.extension, "hnsw") != 0 && strcmp(opts.extension, "vector") != 0)
		fatal("--extension must be hnsw or vector");
	if (strspn(opts.table, "abcdefghijklmnopqrstuvwxyz_0123456789") != strlen(opts.table))
		fatal("--table must be a lower-case identifier");
	if (opts.index_columns == NULL)
		opts.index_columns = "";
	if (strspn(opts.index_columns, "abcdefghijklmnopqrstuvwxyz_0123456789, ") !=
		strlen(opts.index_columns))
		fatal("--index-columns must be a list of column names");
	if (opts.label == NULL)
		opts.label = strcmp(opts.extension, "hnsw") == 0 ? "hnsw" : "pgvector";
	if (opts.nfilters == 0)
	{
		add_filter("none");
		add_filter("grp < 30");
		add_filter("label = 3");
		add_filter("grp = 7");
	}
}

/* Does row i (label lab) match filter f? */
static bool
filter_matches(const Filter *f, long i, int lab)
{
	long		v;

	switch (f->column)
	{
		case COL_NONE:
			return true;
		case COL_ID:
			v = i;
			break;
		case COL_LABEL:
			v = lab;
			break;
		case COL_GRP:
			v = i % 100;
			break;
		default:
			return false;
	}
	switch (f->op)
	{
		case OP_EQ:
			return v == f->value;
		case OP_LT:
			return v < f->value;
		case OP_LE:
			return v <= f->value;
		case OP_GT:
			return v > f->value;
		case OP_GE:
			return v >= f->value;
	}
	return false;
}

/* Squared L2 distance in double precision */
static double
l2_squared(const float *a, const float *b, int dim)
{
	double		s = 0;

	for (int i = 0; i < dim; i++)
	{
		double		d = (double) a[i] - (double) b[i];

		s += d * d;
	}
	return s;
}

/* Squared L2 distance in float, vectorizable: only to rank candidates */
static float
l2_squared_fast(const float *restrict a, const float *restrict b, int dim)
{
	float		s = 0;

	for (int i = 0; i < dim; i++)
	{
		float		d = a[i] - b[i];

		s += d * d;
	}
	return s;
}

/*
 * The exact k-th nearest distance (squared) of every query among the rows
 * of every filter: kth[f * nq + q], INFINITY when fewer than k rows match.
 * Candidates are ranked in float, then the best 4k re-scored in double.
 */
static double *
ground_truth(const Dataset *base, const unsigned char *labels,
			 const Dataset *queries)
{
	int			nq = opts.nqueries;
	int			nf = opts.nfilters;
	int			keep = opts.k * 4;
	double	   *kth = xmalloc(sizeof(double) * nf * nq);
	float	   *dist = xmalloc(sizeof(float) * base->n);
	long	   *best = xmalloc(sizeof(long) * keep);
	float	   *bestd = xmalloc(sizeof(float) * keep);
	double	   *exact = xmalloc(sizeof(double) * keep);

	for (int q = 0; q < nq; q++)
	{
		const float *qv = queries->data + (size_t) q * queries->dim;

		for (long i = 0; i < base->n; i++)
			dist[i] = l2_squared_fast(qv, base->data + (size_t) i * base->dim,
									  base->dim);
		for (int f = 0; f < nf; f++)
		{
			int			n = 0;

			/* the keep nearest by float distance, by insertion */
			for (long i = 0; i < base->n; i++)
			{
				int			j;

				if (!filter_matches(&opts.filters[f], i, labels[i]))
					continue;
				if (n == keep && dist[i] >= bestd[n - 1])
					continue;
				j = n < keep ? n++ : n - 1;
				while (j > 0 && bestd[j - 1] > dist[i])
				{
					bestd[j] = bestd[j - 1];
					best[j] = best[j - 1];
					j--;
				}
				bestd[j] = dist[i];
				best[j] = i;
			}
			if (n < opts.k)
			{
				kth[f * nq + q] = INFINITY;
				continue;
			}
			for (int j = 0; j < n; j++)
				exact[j] = l2_squared(qv, base->data + (size_t) best[j] * base->dim,
									  base->dim);
			qsort(exact, n, sizeof(double), cmp_double);
			kth[f * nq + q] = exact[opts.k - 1];
		}
	}
	for (int f = 0; f < nf; f++)
	{
		opts.filters[f].matching = 0;
		for (long i = 0; i < base->n; i++)
			if (filter_matches(&opts.filters[f], i, labels[i]))
				opts.filters[f].matching++;
	}
	free(dist);
	free(best);
	free(bestd);
	free(exact);
	return kth;
}

static void
flush_copy(PGconn *conn, char *buf, size_t *len)
{
	if (*len > 0 && PQputCopyData(conn, buf, (int) *len) != 1)
		fatal("COPY failed: %s", PQerrorMessage(conn));
	*len = 0;
}

/* COPY every base row into the table in binary form */
static void
copy_rows(PGconn *conn, const Dataset *base, const unsigned char *labels)
{
	static const char signature[] = "PGCOPY\n\377\r\n";
	size_t		rowmax = 2 + 3 * 8 + 4 + 4 + 4 * (size_t) base->dim;
	size_t		cap = COPY_CHUNK > rowmax * 2 ? COPY_CHUNK : rowmax * 2;
	char	   *buf = xmalloc(cap);
	size_t		len;
	char		sql[256];
	PGresult   *res;
	uint32_t	zero = 0;
	int16_t		trailer = (int16_t) htons((uint16_t) -1);

	snprintf(sql, sizeof(sql),
			 "COPY %s (id, label, grp, embedding) FROM STDIN (FORMAT binary)",
			 opts.table);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN)
		fatal("%s failed: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	memcpy(buf, signature, 11);
	memcpy(buf + 11, &zero, 4);
	memcpy(buf + 15, &zero, 4);
	len = 19;
	for (long i = 0; i < base->n; i++)
	{
		uint16_t	nfields = htons(4);
		uint32_t	intlen = htonl(4);
		uint32_t	vals[3] = {htonl((uint32_t) i), htonl(labels[i]),
		htonl((uint32_t) (i % 100))};
		uint32_t	veclen = htonl(4 + 4 * (uint32_t) base->dim);

		if (len + rowmax > cap)
			flush_copy(conn, buf, &len);
		memcpy(buf + len, &nfields, 2);
		len += 2;
		for (int c = 0; c < 3; c++)
		{
			memcpy(buf + len, &intlen, 4);
			memcpy(buf + len + 4, &vals[c], 4);
			len += 8;
		}
		memcpy(buf + len, &veclen, 4);
		len += 4;
		len += put_vector(buf + len, base->data + (size_t) i * base->dim, base->dim);
	}
	memcpy(buf + len, &trailer, 2);
	len += 2;
	flush_copy(conn, buf, &len);
	if (PQputCopyEnd(conn, NULL) != 1)
		fatal("COPY failed: %s", PQerrorMessage(conn));
	while ((res = PQgetResult(conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fatal("COPY failed: %s", PQerrorMessage(conn));
		PQclear(res);
	}
	free(buf);
}

/* The first column of the first row of a query, malloc'd; NULL if none */
static char *
query_value(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	char	   *v = NULL;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fatal("%s failed: %s", sql, PQerrorMessage(conn));
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
	{
		v = xmalloc(strlen(PQgetvalue(res, 0, 0)) + 1);
		strcpy(v, PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return v;
}

/* Load the table and build the index, unless --reuse finds them */
static void
setup_table(PGconn *conn, const Dataset *base, const unsigned char *labels)
{
	char		sql[1024];
	char	   *v;
	double		t0;

	exec_commandf(conn, "CREATE EXTENSION IF NOT EXISTS %s", opts.extension);
	snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM pg_class WHERE relname = '%s_embedding_idx'",
			 opts.table);
	v = query_value(conn, sql);
	if (opts.reuse && v != NULL && strcmp(v, "1") == 0)
	{
		free(v);
		printf("reusing %s and its index\n", opts.table);
		return;
	}
	free(v);
	exec_commandf(conn, "DROP TABLE IF EXISTS %s", opts.table);
	exec_commandf(conn, "CREATE TABLE %s (id int, label int, grp int, embedding vector(%d))",
				  opts.table, base->dim);
	t0 = now_seconds();
	copy_rows(conn, base, labels);
	exec_commandf(conn, "VACUUM ANALYZE %s", opts.table);
	printf("loaded %ld rows in %.1f s\n", base->n, now_seconds() - t0);
	/* pgvector's hnsw indexes one column: its run is the side-by-side one */
	if (strcmp(opts.extension, "vector") == 0 && opts.index_columns[0])
	{
		printf("pgvector: index on embedding alone (not %s)\n", opts.index_columns);
		opts.index_columns = "";
	}
	snprintf(sql, sizeof(sql),
			 "CREATE INDEX %s_embedding_idx ON %s USING hnsw (embedding vector_l2_ops%s%s) "
			 "WITH (m = %d, ef_construction = %d)",
			 opts.table, opts.table, opts.index_columns[0] ? ", " : "",
			 opts.index_columns, opts.m, opts.ef_construction);
	t0 = now_seconds();
	exec_command(conn, sql);
	printf("%s: %.1f s\n", sql, now_seconds() - t0);
	exec_commandf(conn, "ANALYZE %s", opts.table);
	snprintf(sql, sizeof(sql),
			 "SELECT pg_relation_size('%s_embedding_idx')", opts.table);
	v = query_value(conn, sql);
	printf("index size %.1f MB\n", atof(v) / 1048576.0);
	free(v);
}

/* Create or drop the btree indexes on label and grp */
static void
set_btree(PGconn *conn, bool on)
{
	if (on)
	{
		exec_commandf(conn, "CREATE INDEX IF NOT EXISTS %s_label_idx ON %s (label)",
					  opts.table, opts.table);
		exec_commandf(conn, "CREATE INDEX IF NOT EXISTS %s_grp_idx ON %s (grp)",
					  opts.table, opts.table);
	}
	else
	{
		exec_commandf(conn, "DROP INDEX IF EXISTS %s_label_idx", opts.table);
		exec_commandf(conn, "DROP INDEX IF EXISTS %s_grp_idx", opts.table);
	}
	exec_commandf(conn, "ANALYZE %s", opts.table);
}

/* The settings that make the planner choose one kind of plan */
static void
set_plan_mode(PGconn *conn, PlanMode mode)
{
	exec_command(conn, "RESET enable_seqscan; RESET enable_bitmapscan; "
				 "RESET enable_indexscan; RESET enable_sort");
	switch (mode)
	{
		case PLAN_PLANNER:
			break;
		case PLAN_HNSW:
			exec_command(conn, "SET enable_seqscan = off; SET enable_bitmapscan = off; "
						 "SET enable_sort = off");
			break;
		case PLAN_BITMAP:
			exec_command(conn, "SET enable_seqscan = off; SET enable_indexscan = off");
			break;
		case PLAN_SEQSCAN:
			exec_command(conn, "SET enable_indexscan = off; SET enable_bitmapscan = off");
			break;
	}
}

/* Text form of a vector, for EXPLAIN */
static char *
vector_text(const float *v, int dim)
{
	char	   *s = xmalloc((size_t) dim * 16 + 3);
	size_t		len = 0;

	s[len++] = '[';
	for (int i = 0; i < dim; i++)
		len += sprintf(s + len, "%s%g", i ? "," : "", (double) v[i]);
	s[len++] = ']';
	s[len] = '\0';
	return s;
}

/*
 * Summarise the plan EXPLAIN gives for the prepared statement: its scan
 * node and whether a sort follows, and the total cost, into plan (size n).
 */
static void
explain_plan(PGconn *conn, const float *qv, int dim, char *plan, size_t n)
{
	char	   *vec = vector_text(qv, dim);
	char	   *sql = xmalloc(strlen(vec) + 64);
	PGresult   *res;
	const char *scan = "?";
	bool		sort = false;
	double		cost = -1;
	char		scanbuf[256];

	sprintf(sql, "EXPLAIN EXECUTE knn('%s')", vec);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fatal("EXPLAIN failed: %s", PQerrorMessage(conn));
	for (int i = 0; i < PQntuples(res); i++)
	{
		const char *line = PQgetvalue(res, i, 0);
		const char *c;

		if (i == 0 && (c = strstr(line, "cost=")) != NULL &&
			(c = strstr(c, "..")) != NULL)
			cost = atof(c + 2);
		if (strstr(line, "Sort") != NULL && strstr(line, "Sort Key") == NULL)
			sort = true;
		if (strstr(line, "Seq Scan") != NULL)
			scan = "Seq Scan";
		else if (strstr(line, "Bitmap Heap Scan") != NULL)
			scan = "Bitmap Heap Scan";
		else if ((c = strstr(line, "Index Scan using ")) != NULL)
		{
			int			len = (int) strcspn(c + 17, " ");

			snprintf(scanbuf, sizeof(scanbuf), "Index Scan %.*s", len, c + 17);
			scan = scanbuf;
		}
	}
	snprintf(plan, n, "%s%s (cost %.0f)", sort ? "Sort <- " : "", scan, cost);
	PQclear(res);
	free(sql);
	free(vec);
}

typedef struct Result
{
	double		qps;
	double		recall;
	long		hits;
	long		wrong;			/* rows that do not match the filter */
	long		shorter;		/* queries given fewer than k rows */
	double		best;			/* seconds of the fastest pass */
	double		pass;			/* seconds of the current pass */
	char		plan[300];
} Result;

/*
 * Run query q on conn; return the seconds it took.  With r, count its hits,
 * rows that fail the filter and a short answer.
 */
static double
run_query(PGconn *conn, const Dataset *base, const unsigned char *labels,
		  const Dataset *queries, int q, const Filter *f, const double *kth,
		  char *param, Result *r)
{
	const float *qv = queries->data + (size_t) q * queries->dim;
	const char *values[1] = {param};
	int			len = (int) (4 + 4 * (size_t) queries->dim);
	int			fmt = 1;
	PGresult   *res;
	double		start;
	double		t;
	int			n;

	put_vector(param, qv, queries->dim);
	start = now_seconds();
	res = PQexecPrepared(conn, "knn", 1, values, &len, &fmt, 1);
	t = now_seconds() - start;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fatal("query %d failed: %s", q, PQerrorMessage(conn));
	n = PQntuples(res);
	if (r != NULL)
	{
		if (n < opts.k && f->matching >= opts.k)
			r->shorter++;
		for (int i = 0; i < n && i < opts.k; i++)
		{
			uint32_t	id;
			long		row;

			memcpy(&id, PQgetvalue(res, i, 0), 4);
			row = (long) ntohl(id);
			if (row < 0 || row >= base->n || !filter_matches(f, row, labels[row]))
			{
				r->wrong++;
				continue;
			}
			if (l2_squared(qv, base->data + (size_t) row * base->dim, base->dim) <=
				kth[q] * (1 + 1e-5))
				r->hits++;
		}
	}
	PQclear(res);
	return t;
}

/*
 * Measure one filter with every plan mode whose conns[mode] is not NULL.
 * Each connection has its mode's settings.  The modes take turns query by
 * query, so that the load of other processes weighs on all of them alike,
 * and each query starts with another mode (the first one to run a query
 * warms the caches for the others):
 * a pass that counts hits, then opts.repeat timed passes; a mode's QPS is
 * the queries over the sum of their latencies in its fastest pass.
 */
static void
measure(PGconn **conns, Oid vector_oid, const Dataset *base,
		const unsigned char *labels, const Dataset *queries, const Filter *f,
		const double *kth, Result *results)
{
	char		sql[1024];
	char	   *param = xmalloc(4 + 4 * (size_t) queries->dim);
	int			nq = opts.nqueries;
	long		expected = 0;

	snprintf(sql, sizeof(sql), "SELECT id FROM %s %s%s ORDER BY embedding <-> $1 LIMIT %d",
			 opts.table, f->sql[0] ? "WHERE " : "", f->sql, opts.k);
	for (int mode = 0; mode <= PLAN_SEQSCAN; mode++)
	{
		PGresult   *res;

		memset(&results[mode], 0, sizeof(Result));
		results[mode].best = INFINITY;
		if (conns[mode] == NULL)
			continue;
		exec_command(conns[mode], "DEALLOCATE ALL");
		res = PQprepare(conns[mode], "knn", sql, 1, &vector_oid);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fatal("PREPARE %s failed: %s", sql, PQerrorMessage(conns[mode]));
		PQclear(res);
	}

	for (int pass = 0; pass <= opts.repeat; pass++)
	{
		for (int mode = 0; mode <= PLAN_SEQSCAN; mode++)
			results[mode].pass = 0;
		for (int q = 0; q < nq; q++)
			for (int i = 0; i <= PLAN_SEQSCAN; i++)
			{
				/* each mode first in turn: the first warms the caches */
				int			mode = (q + i) % (PLAN_SEQSCAN + 1);

				if (conns[mode] == NULL)
					continue;
				results[mode].pass +=
					run_query(conns[mode], base, labels, queries, q, f, kth, param,
							  pass == 0 ? &results[mode] : NULL);
			}
		for (int mode = 0; mode <= PLAN_SEQSCAN; mode++)
			if (pass > 0 && results[mode].pass < results[mode].best)
				results[mode].best = results[mode].pass;
	}

	for (int q = 0; q < nq; q++)
		expected += isinf(kth[q]) ? 0 : opts.k;
	for (int mode = 0; mode <= PLAN_SEQSCAN; mode++)
	{
		Result	   *r = &results[mode];

		if (conns[mode] == NULL)
			continue;
		r->qps = nq / r->best;
		r->recall = expected > 0 ? (double) r->hits / expected : 1.0;
		/* the plan the statement runs by now (a generic one after five runs) */
		explain_plan(conns[mode], queries->data, queries->dim, r->plan, sizeof(r->plan));
	}
	free(param);
}

/* Connect with the settings of a plan mode */
static PGconn *
connect_mode(PlanMode mode)
{
	PGconn	   *conn = bench_connect(opts.conninfo);

	/* no notices of DROP ... IF EXISTS */
	exec_command(conn, "SET client_min_messages = warning");
	exec_commandf(conn, "SET hnsw.ef_search = %d", opts.ef_search);
	if (strcmp(opts.extension, "vector") == 0)
		exec_command(conn, "SET hnsw.iterative_scan = relaxed_order");
	set_plan_mode(conn, mode);
	return conn;
}

int
main(int argc, char **argv)
{
	char		path[4096];
	Dataset		base;
	Dataset		queries;
	unsigned char *labels;
	long		nlabels;
	double	   *kth;
	PGconn	   *conns[PLAN_SEQSCAN + 1];
	PGconn	   *conn;
	char	   *v;
	Oid			vector_oid;
	double		unfiltered[2] = {0, 0};

	bench_progname = "filter_bench";
	parse_options(argc, argv);
	if (opts.csv)
	{
		csv_out = strcmp(opts.csv, "-") == 0 ? stdout : fopen(opts.csv, "a");
		if (csv_out == NULL)
			fatal("could not open \"%s\": %s", opts.csv, strerror(errno));
	}

	snprintf(path, sizeof(path), "%s/train-images-idx3-ubyte.gz", opts.data_dir);
	base = read_idx_images(path, 0);
	snprintf(path, sizeof(path), "%s/train-labels-idx1-ubyte.gz", opts.data_dir);
	labels = read_idx_labels(path, 0, &nlabels);
	if (nlabels != base.n)
		fatal("%ld labels for %ld images", nlabels, base.n);
	snprintf(path, sizeof(path), "%s/t10k-images-idx3-ubyte.gz", opts.data_dir);
	queries = read_idx_images(path, opts.nqueries);
	opts.nqueries = (int) queries.n;

	for (int mode = 0; mode <= PLAN_SEQSCAN; mode++)
		conns[mode] = connect_mode((PlanMode) mode);
	conn = conns[PLAN_PLANNER];
	setup_table(conn, &base, labels);
	v = query_value(conn, "SELECT 'vector'::regtype::oid");
	vector_oid = (Oid) strtoul(v, NULL, 10);
	free(v);

	printf("computing the exact answers of %d queries for %d filters\n",
		   opts.nqueries, opts.nfilters);
	kth = ground_truth(&base, labels, &queries);

	printf("%-10s %-6s %-10s %-8s %8s %7s %6s %6s  %s\n", "run", "btree", "filter",
		   "plan", "QPS", "recall", "ratio", "load", "plan chosen");
	for (int b = 0; b < 2; b++)
	{
		if ((opts.btree == 0 && b == 1) || (opts.btree == 1 && b == 0))
			continue;
		set_btree(conn, b == 1);
		for (int fi = 0; fi < opts.nfilters; fi++)
		{
			const Filter *f = &opts.filters[fi];
			PGconn	   *active[PLAN_SEQSCAN + 1];
			Result		results[PLAN_SEQSCAN + 1];
			double		load = load_average();

			for (int mode = 0; mode <= PLAN_SEQSCAN; mode++)
			{
				active[mode] = conns[mode];
				if (mode != PLAN_PLANNER && !opts.force)
					active[mode] = NULL;
				if (mode == PLAN_BITMAP && (b == 0 || f->column == COL_NONE))
					active[mode] = NULL;
				/* sorting most of the table: a few queries per second */
				if ((mode == PLAN_BITMAP || mode == PLAN_SEQSCAN) &&
					f->matching > opts.max_sort_rows)
					active[mode] = NULL;
			}
			measure(active, vector_oid, &base, labels, &queries, f,
					kth + (size_t) fi * opts.nqueries, results);
			if (f->column == COL_NONE)
				unfiltered[b] = results[PLAN_PLANNER].qps;
			for (int mode = 0; mode <= PLAN_SEQSCAN; mode++)
			{
				Result	   *r = &results[mode];
				double		ratio;
				char		ratiotext[32];

				if (active[mode] == NULL)
					continue;
				ratio = unfiltered[b] > 0 ? r->qps / unfiltered[b] : -1;
				snprintf(ratiotext, sizeof(ratiotext), ratio < 0 ? "-" : "%.2f", ratio);
				printf("%-10s %-6s %-10s %-8s %8.1f %7.4f %6s %6.2f  %s%s\n",
					   opts.label, b ? "on" : "off", f->sql[0] ? f->sql : "none",
					   plan_names[mode], r->qps, r->recall, ratiotext, load,
					   r->plan, r->wrong || r->shorter ? " !" : "");
				if (r->wrong || r->shorter)
					printf("    %ld rows not matching the filter, %ld queries short of %d rows\n",
						   r->wrong, r->shorter, opts.k);
				if (csv_out)
					fprintf(csv_out, "%s,%s,%s,%s,%ld,%d,%d,%.1f,%.4f,%.3f,%ld,%ld,\"%s\"\n",
							opts.label, b ? "on" : "off",
							f->sql[0] ? f->sql : "none", plan_names[mode],
							f->matching, opts.ef_search, opts.k, r->qps, r->recall,
							ratio, r->wrong, r->shorter, r->plan);
			}
			fflush(stdout);
			if (csv_out)
				fflush(csv_out);
		}
	}
	for (int mode = 0; mode <= PLAN_SEQSCAN; mode++)
		PQfinish(conns[mode]);
	return 0;
}
