/*-------------------------------------------------------------------------
 *
 * bench_common.c
 *	  Error exits, clocks, dataset loading and the vector wire format,
 *	  shared by hnsw_bench and coord_bench.
 *
 * IDENTIFICATION
 *	  test/bench/bench_common.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include "bench_common.h"

const char *bench_progname = "bench";

/*
 * Print an error message and exit.
 */
void
fatal(const char *fmt,...)
{
	va_list		ap;
	char		msg[16384];
	size_t		len;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* libpq's messages end in a newline already */
	len = strlen(msg);
	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0';
	fprintf(stderr, "%s: %s\n", bench_progname, msg);
	exit(1);
}

/*
 * Allocate memory or die.
 */
void *
xmalloc(size_t size)
{
	void	   *p = malloc(size > 0 ? size : 1);

	if (p == NULL)
		fatal("out of memory allocating %zu bytes", size);
	return p;
}

/*
 * Allocate zeroed memory or die.
 */
void *
xcalloc(size_t size)
{
	void	   *p = calloc(1, size > 0 ? size : 1);

	if (p == NULL)
		fatal("out of memory allocating %zu bytes", size);
	return p;
}

/*
 * Return the monotonic clock in seconds.
 */
double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * Return the 1-minute load average, or -1 where /proc/loadavg is missing.
 */
double
load_average(void)
{
	FILE	   *f = fopen("/proc/loadavg", "r");
	double		load = -1;

	if (f != NULL)
	{
		if (fscanf(f, "%lf", &load) != 1)
			load = -1;
		fclose(f);
	}
	return load;
}

/*
 * Print a server NOTICE or WARNING as it arrives (e.g. a build that
 * outgrows maintenance_work_mem says so).
 */
static void
notice_processor(void *arg, const char *message)
{
	(void) arg;
	fprintf(stderr, "%s", message);
}

/*
 * Connect to conninfo, or die with libpq's message.
 */
PGconn *
bench_connect(const char *conninfo)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
		fatal("could not connect to \"%s\": %s", conninfo, PQerrorMessage(conn));
	PQsetNoticeProcessor(conn, notice_processor, NULL);
	return conn;
}

/*
 * Run a command that returns no rows, or die with the server's message.
 */
void
exec_command(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
		fatal("%s failed: %s", sql, PQerrorMessage(conn));
	PQclear(res);
}

/*
 * Run a formatted command that returns no rows, or die.
 */
void
exec_commandf(PGconn *conn, const char *fmt,...)
{
	char		sql[8192];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	exec_command(conn, sql);
}

/*
 * Compare doubles for qsort.
 */
int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * Return the big-endian 32-bit integer at p.
 */
static uint32_t
read_be32(const unsigned char *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
		((uint32_t) p[2] << 8) | p[3];
}

/*
 * Read a gzip-compressed idx3-ubyte file (big-endian header: magic 0x803,
 * count, rows, columns; then one unsigned byte per pixel) into floats
 * 0..255, keeping at most "limit" images (0: all).
 */
Dataset
read_idx_images(const char *path, long limit)
{
	Dataset		ds;
	char		cmd[4096];
	FILE	   *f;
	unsigned char hdr[16];
	uint32_t	magic,
				count,
				rows,
				cols;
	unsigned char *pixels;
	size_t		nbytes;

	if (strchr(path, '\'') != NULL)
		fatal("data file names must not contain single quotes: \"%s\"", path);
	snprintf(cmd, sizeof(cmd), "gzip -dc '%s'", path);
	f = popen(cmd, "r");
	if (f == NULL)
		fatal("could not run \"%s\": %s", cmd, strerror(errno));
	if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr))
		fatal("could not read the idx header of \"%s\" (is the package "
			  "dataset-fashion-mnist installed?)", path);
	magic = read_be32(hdr + 0);
	count = read_be32(hdr + 4);
	rows = read_be32(hdr + 8);
	cols = read_be32(hdr + 12);
	if (magic != 0x803)
		fatal("\"%s\" is not an idx3-ubyte file (magic 0x%x)", path, magic);

	ds.n = (limit > 0 && limit < (long) count) ? limit : (long) count;
	ds.dim = (int) (rows * cols);
	nbytes = (size_t) ds.n * ds.dim;
	pixels = xmalloc(nbytes);
	if (fread(pixels, 1, nbytes, f) != nbytes)
		fatal("\"%s\" is truncated", path);
	pclose(f);					/* gzip may die of SIGPIPE if we stop early */

	ds.data = xmalloc(nbytes * sizeof(float));
	for (size_t i = 0; i < nbytes; i++)
		ds.data[i] = (float) pixels[i];
	free(pixels);
	return ds;
}

/*
 * Read a gzip-compressed idx1-ubyte file (big-endian header: magic 0x801,
 * count; then one unsigned byte per item), keeping at most "limit" items
 * (0: all); *n receives how many.  Fashion-MNIST's labels are the classes
 * of its images, 0 to 9.
 */
unsigned char *
read_idx_labels(const char *path, long limit, long *n)
{
	char		cmd[4096];
	FILE	   *f;
	unsigned char hdr[8];
	uint32_t	magic,
				count;
	unsigned char *labels;

	if (strchr(path, '\'') != NULL)
		fatal("data file names must not contain single quotes: \"%s\"", path);
	snprintf(cmd, sizeof(cmd), "gzip -dc '%s'", path);
	f = popen(cmd, "r");
	if (f == NULL)
		fatal("could not run \"%s\": %s", cmd, strerror(errno));
	if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr))
		fatal("could not read the idx header of \"%s\" (is the package "
			  "dataset-fashion-mnist installed?)", path);
	magic = read_be32(hdr + 0);
	count = read_be32(hdr + 4);
	if (magic != 0x801)
		fatal("\"%s\" is not an idx1-ubyte file (magic 0x%x)", path, magic);
	*n = (limit > 0 && limit < (long) count) ? limit : (long) count;
	labels = xmalloc((size_t) *n);
	if (fread(labels, 1, (size_t) *n, f) != (size_t) *n)
		fatal("\"%s\" is truncated", path);
	pclose(f);
	return labels;
}

/*
 * Write a vector in binary form (int16 dim, int16 unused, float4 values,
 * all big-endian) at dst; return the bytes written.
 */
size_t
put_vector(char *dst, const float *v, int dim)
{
	uint16_t	h[2] = {htons((uint16_t) dim), 0};

	memcpy(dst, h, sizeof(h));
	for (int i = 0; i < dim; i++)
	{
		uint32_t	bits;

		memcpy(&bits, &v[i], sizeof(bits));
		bits = htonl(bits);
		memcpy(dst + 4 + 4 * i, &bits, 4);
	}
	return 4 + 4 * (size_t) dim;
}
