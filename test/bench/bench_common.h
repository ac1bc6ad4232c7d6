/*-------------------------------------------------------------------------
 *
 * bench_common.h
 *	  What the benchmark clients (hnsw_bench, coord_bench) share: error
 *	  exits, clocks, Fashion-MNIST idx files read into memory, and vectors
 *	  in their binary wire form.
 *
 * IDENTIFICATION
 *	  test/bench/bench_common.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>

#include "libpq-fe.h"

/* Names the program in error messages; set by main(). */
extern const char *bench_progname;

/* Print "<bench_progname>: <message>" (trailing newlines dropped) and exit. */
extern void fatal(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));

/* malloc and calloc that exit on failure. */
extern void *xmalloc(size_t size);
extern void *xcalloc(size_t size);

/* The monotonic clock in seconds. */
extern double now_seconds(void);

/*
 * The 1-minute load average, or -1 where /proc/loadavg is missing; on a
 * shared machine it tells how far to trust the numbers.
 */
extern double load_average(void);

/* Connect or die with libpq's message; server NOTICEs go to stderr. */
extern PGconn *bench_connect(const char *conninfo);

/* Run a command (formatted, for the second) returning no rows, or die. */
extern void exec_command(PGconn *conn, const char *sql);
extern void exec_commandf(PGconn *conn, const char *fmt,...) __attribute__((format(printf, 2, 3)));

/* Compare doubles for qsort. */
extern int	cmp_double(const void *a, const void *b);

/* Vectors in memory, row-major. */
typedef struct Dataset
{
	long		n;
	int			dim;
	float	   *data;
} Dataset;

/*
 * Read a gzip-compressed idx3-ubyte file into floats 0..255, keeping at most
 * "limit" images (0: all).  Exits with a message naming the file on any
 * error.
 */
extern Dataset read_idx_images(const char *path, long limit);

/*
 * Read a gzip-compressed idx1-ubyte file of labels, keeping at most "limit"
 * (0: all); *n receives how many.  Exits with a message on any error.
 */
extern unsigned char *read_idx_labels(const char *path, long limit, long *n);

/*
 * Write a vector in binary form (int16 dim, int16 unused, float4 values,
 * all big-endian) at dst; return the bytes written (4 + 4 * dim).
 */
extern size_t put_vector(char *dst, const float *v, int dim);

#endif							/* BENCH_COMMON_H */
