/*-------------------------------------------------------------------------
 *
 * coord.h
 *	  The distributed k-NN coordinator: shared structs and prototypes,
 *	  grouped by the file that defines them.
 *
 * A distributed table is a partitioned table on the coordinator whose
 * partitions are postgres_fdw foreign tables.  A "shard" here is one foreign
 * server that holds one or more of those partitions; its "copies" are that
 * server and the replica servers declared with hnsw.add_replica().  A search
 * sends one request per selected shard, to one copy at a time, all shards at
 * once, and merges what comes back.
 *
 * src/coord.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef HNSW_COORD_H
#define HNSW_COORD_H

#include "access/attnum.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq-fe.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "utils/timestamp.h"
#include "vectortype.h"

/* One foreign partition of a distributed table */
typedef struct CoordPart
{
	Oid			relid;			/* the foreign table on the coordinator */
	char	   *relname;		/* its name, for messages */
	char	   *remote_table;	/* quoted "schema"."table" on the shard */
	char	  **remote_cols;	/* quoted remote column name per parent
								 * column (NULL for dropped columns) */
	char	   *remote_partcol; /* quoted remote partition column */
	bool		is_default;		/* DEFAULT partition of a LIST table */
	int			nvalues;		/* LIST bound values (integer keys only) */
	int64	   *values;
	/* filled per search: values to ask for, or all of them */
	bool		selected;
	List	   *want;			/* int64 values, as palloc'd int64 * */
	bool		want_all;		/* no WHERE clause needed */
} CoordPart;

/* One shard: a server holding partitions, and its copies */
typedef struct CoordShard
{
	Oid			serverid;		/* the primary server */
	char	   *name;			/* its name, for messages */
	List	   *parts;			/* CoordPart * */
	int			ncopies;		/* 1 + number of replicas */
	Oid		   *copies;			/* server OIDs, primary first */
	char	  **copynames;
} CoordShard;

/* A distributed table, as the catalogs describe it */
typedef struct CoordTable
{
	Oid			relid;
	char	   *relname;
	TupleDesc	tupdesc;		/* the parent's row type */
	AttrNumber	partattnum;		/* partition column of the parent */
	Oid			parttype;
	bool		is_list;		/* LIST partitioned (pruning possible) */
	int			nparts;			/* number of foreign partitions */
	List	   *shards;			/* CoordShard *, in partition bound order */
} CoordTable;

/*
 * One request to one shard: the same SQL text run nqueries times with
 * different parameters, pipelined, so the shard sees one round trip.
 */
typedef struct CoordRequest
{
	const char *sql;
	int			nparams;
	int			nqueries;
	const char ***values;		/* [nqueries][nparams] */
	int		  **lengths;		/* [nqueries][nparams] */
	const int  *formats;		/* [nparams] */
	bool		binary_result;
	int			nfields;		/* columns each query must return; 0 =
								 * unchecked */
	const Oid  *types;			/* [nfields] their types on the coordinator
								 * (base types of domains) */
	const char *const *colnames;	/* [nfields] their names, for messages */
	bool		stream;			/* rows are read one at a time into
								 * CoordResult.spool, not kept by libpq */
	bool		whole;			/* stream, but each query's result is read
								 * whole before it is spooled (no single-row
								 * mode): for results known to be small */
	const char *ef_search;		/* value to set on the shard, or NULL */
	bool		soft_errors;	/* a query error fails the copy, not the
								 * search (hnsw.shard_status) */
	bool		no_timeout;		/* ignore hnsw.shard_timeout (DDL, index
								 * builds); statement_timeout still applies */
	bool		prepare;		/* run sql as a statement prepared on the
								 * shard session (one statement; kept for
								 * the next request with the same text) */
	bool		open_snapshot;	/* run in a REPEATABLE READ transaction that
								 * stays open, its connection held (also
								 * after a query error in it), until a
								 * request with in_snapshot on the same copy
								 * ends it */
	bool		keep_errors;	/* a query error ends the request: kept in
								 * CoordResult.remote_error, not raised */
	bool		in_snapshot;	/* run on copy snapshot_copy, in the
								 * transaction an open_snapshot request left
								 * open there, then commit (nqueries may be
								 * 0: only end it); no other copy is tried */
	int			snapshot_copy;
	bool		alone;			/* the query (nqueries 1, no snapshot) is the
								 * only command between two Syncs, so that
								 * it may be one that cannot run in a
								 * pipeline or transaction block (VACUUM) */
	bool		hedge;			/* a short read (a single search): when its
								 * copy is late (hnsw.hedge_delay) another
								 * copy is asked too, and its latency is a
								 * sample of the copy's (coordconn.c) */
} CoordRequest;

/* The rows a shard returned for a stream request (coordspool.c) */
typedef struct CoordSpool CoordSpool;

/* One row read from a spool: each field's binary value, NULL if null */
typedef struct CoordRow
{
	int			nfields;
	const char **values;
	int		   *lengths;		/* -1 for null */
	int			maxfields;		/* room in values and lengths */
	int64		offset;			/* where the row is in its spool */
} CoordRow;

/* Reads a spool's rows; zero it before its first use */
typedef struct CoordSpoolCursor
{
	CoordSpool *spool;
	int64		next;			/* offset of the next row */
	int64		left;			/* rows of the query not yet read */
	CoordRow	row;			/* the row read last */
	char	   *buf;			/* row read from a file */
	Size		bufsize;
} CoordSpoolCursor;

/* The outcome of a request to one shard, filled by CoordExecute() */
typedef struct CoordResult
{
	bool		ok;				/* some copy answered */
	int			copy;			/* index of the copy that answered */
	PGresult  **results;		/* [nqueries], owned until CoordFreeResults */
	char	   *error;			/* palloc'd; why the last copy failed */
	PGresult   *remote_error;	/* keep_errors: the query's error (ok is
								 * false), freed by CoordFreeResults */
	bool		held;			/* open_snapshot: the copy's connection is
								 * held in its open transaction */
	CoordSpool *spool;			/* stream: the rows of every query */
} CoordResult;

/* in coordguc.c */
extern int	coord_shard_timeout;
extern bool coord_allow_partial_results;
extern int	coord_retry_interval;
extern int	coord_hedge_delay;
extern void CoordInit(void);

/* in coordacl.c */
extern void CoordCheckRead(Oid relid, Bitmapset *columns,
						   const char *funcname, const char *hint);

/* in coordcatalog.c */
extern CoordTable *CoordGetTable(Oid relid);

/* coordfilter.c */
extern char *CoordFilterSQL(CoordTable *table, const char *filter,
							Bitmapset **attnums);
extern List *CoordGetReplicas(void);
extern Oid	CoordGetPostgresFdwServer(const char *servername, bool missing_ok);

/* in coordconn.c */
typedef struct CoordConn CoordConn;
extern uint64 coord_conn_epoch;
extern CoordConn *CoordGetConn(Oid serverid);
extern PGconn *CoordConnStart(CoordConn *cc, char **errstr);
extern PGconn *CoordConnPGconn(CoordConn *cc);
extern void CoordConnCheckPassword(CoordConn *cc);
extern void CoordConnSetBusy(CoordConn *cc, bool busy);
extern bool CoordConnIsBusy(CoordConn *cc);
extern bool CoordConnNeedsSetup(CoordConn *cc);
extern void CoordConnSetupDone(CoordConn *cc);
extern const char *CoordConnEfSearch(CoordConn *cc);
extern void CoordConnSetEfSearch(CoordConn *cc, const char *value);
extern void CoordConnResetSettings(CoordConn *cc);
extern void CoordConnDrop(CoordConn *cc);
extern void CoordConnDrain(CoordConn *cc, TimestampTz since,
						   TimestampTz deadline);
extern bool CoordConnIsDraining(CoordConn *cc);
extern bool CoordServerConnIdle(Oid serverid);
extern bool CoordConnPollDrain(CoordConn *cc);
extern void CoordConnPollDrains(void);
#define COORD_STATEMENT_NAME_LEN 24
extern bool CoordConnStatement(CoordConn *cc, const char *sql, char *name,
							   bool *prepare);
extern void CoordConnForgetStatement(CoordConn *cc, const char *sql);
extern bool CoordServerHealthy(Oid serverid);
extern void CoordMarkServer(Oid serverid, bool healthy);
extern void CoordChooseCopies(CoordShard *shard, const int *inflight,
							  uint32 seq, int *order);
extern void CoordRecordLatency(Oid serverid, double ms, bool censored);
extern double CoordHedgeDelay(CoordShard *shard);

/* in coordddl.c */
/*
 * One shard connection driven outside CoordExecute: COPY, or statements
 * sent with the simple query protocol.  Busy from CoordCopyConnect until
 * CoordCopyFinish or CoordCopyRelease, so that an error closes it.
 */
typedef struct CoordCopy
{
	CoordShard *shard;
	PGconn	   *conn;
	CoordConn  *cc;
	StringInfoData buf;			/* COPY text not yet handed to libpq */
	uint64		sent;			/* rows handed to libpq */
	bool		source;			/* rows come from it (for messages) */
} CoordCopy;
extern void CoordCopyConnect(CoordCopy *cs, int nshards);
extern void CoordCopyStart(CoordCopy *cs, const char *sql);
extern void CoordCopySend(CoordCopy *cs, const char *sql);
extern void CoordCopyPut(CoordCopy *cs, bool all);
extern void CoordCopyFinish(CoordCopy *cs, const char *sql);
extern void CoordCopyRelease(CoordCopy *cs, const char *sql);
extern PGresult *CoordCopyGetResult(CoordCopy *cs);
extern void CoordCopyWait(CoordCopy *cs, int events);
extern void CoordCopyLost(CoordCopy *cs) pg_attribute_noreturn();

/* in coordexec.c */
extern CoordResult *CoordExecute(CoordShard **shards, CoordRequest **requests,
								 int nshards);
extern void CoordFreeResults(CoordResult *results, int nshards, int nqueries);
extern void CoordRaiseRemoteError(PGresult *res, const char *server,
								  const char *sql);

/* in coordspool.c */
extern CoordSpool *CoordSpoolCreate(int nqueries, Size budget);
extern void CoordSpoolAdd(CoordSpool *spool, int q, PGresult *res, int row);
extern void CoordSpoolReset(CoordSpool *spool);
extern void CoordSpoolFree(CoordSpool *spool);
extern int64 CoordSpoolCount(CoordSpool *spool, int q);
extern void CoordSpoolSeek(CoordSpool *spool, CoordSpoolCursor *cur, int q);
extern bool CoordSpoolNext(CoordSpoolCursor *cur);
extern int64 CoordSpoolReadAt(CoordSpoolCursor *cur, int64 offset);

/* in coordsearch.c (coordplan.c recognises them by their address) */
extern PGDLLEXPORT Datum hnsw_search(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum hnsw_search_batch(PG_FUNCTION_ARGS);

/* in coordplan.c */
extern void CoordPruneSearchColumns(Query *parse);

/* in coordorder.c */
extern int *CoordBatchOrder(Datum *queries, int nqueries, VectorType type);

#endif							/* HNSW_COORD_H */
