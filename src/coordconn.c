/*-------------------------------------------------------------------------
 *
 * coordconn.c
 *	  Connections from the coordinator to shard servers: a per-backend cache
 *	  keyed by user mapping, connection parameters built like postgres_fdw's,
 *	  cleanup at abort, draining the late answers of hedges' losers; and
 *	  per-backend statistics of the copies (failures, latencies) that order
 *	  the copies a request tries.
 *
 * A connection is "busy" while a request of CoordExecute() is in flight on
 * it.  A request that ends normally leaves it idle and reusable.  If the
 * transaction or subtransaction aborts while a connection is busy (query
 * cancel, statement_timeout, an error on another shard), the abort callback
 * closes the connection: its protocol state is unknown, and a fresh
 * connection is cheaper than reasoning about it.
 *
 * No call here or in coordexec.c waits for the network outside
 * CoordExecute's latch-aware wait loop.  Connections are opened with
 * PQconnectStartParams and driven by that loop; every connection is in
 * libpq's nonblocking mode from the moment it is up, so sending never
 * blocks and PQfinish does not wait to flush its Terminate message.  A
 * query the coordinator gives up on is not cancelled with PQcancel, which
 * in PostgreSQL 15's libpq connects, sends and waits for the server to
 * close the socket, all blocking: a frozen server (a paused VM, a network
 * black hole) holds it for ever, and no interrupt ends it.  The connection
 * is closed instead, and every shard session runs with
 * client_connection_check_interval (COORD_CHECK_INTERVAL_MS, set by
 * coordexec.c with the session settings), so the shard notices the lost
 * client within that interval and ends the query, even while it waits for
 * a lock.  See src/COORDINATOR "Connections" and "Cancel".
 *
 * A connection whose request lost a hedge race (coordexec.c) stays busy
 * while it drains the late answer (CoordConnDrain): it is read at the
 * start of the backend's next requests, and the connection is idle again
 * at its Sync, or closed if the answer is an error or does not come in
 * time.
 *
 * A pipelined request is one implicit transaction on the shard, and a
 * search only reads; the one exception is the two-phase batch search
 * (coordsearch.c), whose first request opens a REPEATABLE READ transaction
 * and keeps its connection busy until a second request on it ends the
 * transaction, or an abort closes it.  A connection found idle in a
 * transaction anyway gets a ROLLBACK at the head of its next request, and
 * its session settings are sent again after it.
 *
 * src/coordconn.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "access/xact.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "coord.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

/*
 * Statements prepared on a shard session, so that a search costs the shard
 * no parse analysis and, once its plan is cached, no planning.  A session
 * keeps at most COORD_MAX_STATEMENTS; further texts run unnamed.
 */
#define COORD_MAX_STATEMENTS	16

typedef struct CoordStatement
{
	char	   *sql;			/* in TopMemoryContext */
	uint32		id;				/* named "hnsw_<id>" on the shard */
} CoordStatement;

/*
 * Connection cache entry.  The key is the user mapping OID, as in
 * postgres_fdw: one connection per (local user, server).
 */
struct CoordConn
{
	Oid			umid;			/* hash key: user mapping OID */
	PGconn	   *conn;			/* connection, or NULL */
	Oid			serverid;
	bool		busy;			/* a request is in flight */
	bool		draining;		/* busy with the late answer of a request
								 * that lost a hedge race */
	TimestampTz drain_since;	/* when the late request was sent */
	TimestampTz drain_deadline; /* close it then if still draining */
	bool		invalidated;	/* server or mapping changed: reconnect */
	bool		setup_done;		/* session settings sent */
	bool		password_required;
	char		ef_search[32];	/* hnsw.ef_search set on the shard, or "" */
	int			nstatements;	/* prepared statements of the session */
	uint32		next_statement; /* id of the next one; never reused */
	CoordStatement statements[COORD_MAX_STATEMENTS];
};

/*
 * What this backend knows of one server as a copy of a shard: whether it
 * failed lately, and how long it takes to answer a short search (see
 * CoordChooseCopies, and src/COORDINATOR "Health and latency").
 */
typedef struct CoordCopyStats
{
	Oid			serverid;		/* hash key */
	TimestampTz retry_after;	/* a copy that failed is a last choice until
								 * then */
	int			draining;		/* its connections that are draining */
	int			nsamples;		/* latencies recorded (saturates) */
	double		srtt;			/* smoothed latency, ms */
	double		rttvar;			/* smoothed mean deviation from it, ms */
	double		p95;			/* estimate of its 95th percentile, ms */
} CoordCopyStats;

/*
 * Copy choice and hedging.  Weights of a latency sample, as in TCP's
 * retransmission timer (RFC 6298): the smoothed latency moves 1/8 of the
 * way to each sample, its mean deviation 1/4.  The 95th percentile is
 * estimated by stochastic approximation: a sample above the estimate
 * raises it by 0.95 steps, one below lowers it by 0.05, a step being
 * COORD_P95_STEP of the smoothed latency; so outliers move it by a step,
 * whatever their size.  The adaptive hedge delay is that estimate, at
 * least COORD_MIN_HEDGE_DELAY_MS and at most TCP's timeout (the smoothed
 * latency plus four mean deviations), which bounds it while the estimate
 * finds its level and after a slow spell.  Copies within COORD_TIE_FACTOR
 * of the best, or within its mean deviation, take turns; a copy passed
 * over for a faster one moves COORD_DRIFT of its distance closer to the
 * faster one's figures, so that it is tried again after a while and a
 * copy that recovered gets its share back.
 */
#define COORD_SRTT_GAIN			0.125
#define COORD_RTTVAR_GAIN		0.25
#define COORD_P95_STEP			0.5
#define COORD_MIN_HEDGE_DELAY_MS 1.0
#define COORD_TIE_FACTOR		1.25
#define COORD_DRIFT				0.1


static HTAB *ConnHash = NULL;

/* Bumped whenever a connection is opened or closed (see coordexec.c) */
uint64		coord_conn_epoch = 0;
static HTAB *HealthHash = NULL;

/* Connections of ConnHash that are draining */
static int	ndraining = 0;

/* libpq's connection keywords, fetched once (malloc'd by libpq) */
static PQconninfoOption *LibpqOptions = NULL;

static void CoordConnInitCache(void);
static bool IsLibpqOption(const char *keyword);
static void CoordXactCallback(XactEvent event, void *arg);
static void CoordSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
								 SubTransactionId parentSubid, void *arg);
static void CoordInvalCallback(Datum arg, int cacheid, uint32 hashvalue);
static void CoordAbortCleanup(void);
static void CoordConnResetSession(CoordConn *cc);
static void CoordConnForgetStatements(CoordConn *cc);
static CoordCopyStats *CopyStats(Oid serverid, bool create);
static void CoordConnEndDrain(CoordConn *cc);
static int	CompareCopyRanks(const void *a, const void *b);

/*
 * Return the cache entry for the current user's mapping on serverid,
 * creating it without connecting.  A cached connection that is broken or
 * whose server or mapping changed is closed here, unless busy.
 *
 * Raises an error if the user has no mapping for the server.
 */
CoordConn *
CoordGetConn(Oid serverid)
{
	UserMapping *um;
	CoordConn  *cc;
	bool		found;

	if (ConnHash == NULL)
		CoordConnInitCache();

	um = GetUserMapping(GetUserId(), serverid);
	cc = hash_search(ConnHash, &um->umid, HASH_ENTER, &found);
	if (!found)
	{
		cc->conn = NULL;
		cc->busy = false;
		cc->draining = false;
		cc->invalidated = false;
		cc->nstatements = 0;
		cc->next_statement = 0;
	}
	cc->serverid = serverid;
	if (cc->conn != NULL && !cc->busy &&
		(cc->invalidated || PQstatus(cc->conn) != CONNECTION_OK ||
		 PQpipelineStatus(cc->conn) == PQ_PIPELINE_ABORTED))
		CoordConnDrop(cc);
	return cc;
}

/*
 * Start connecting cc, without waiting.  Returns the new PGconn, which the
 * caller drives with PQconnectPoll, or NULL with *errstr (palloc'd) when
 * libpq cannot even start.
 *
 * Connection parameters are the server's and the user mapping's libpq
 * options.  As in postgres_fdw, a non-superuser must have a password in the
 * mapping (unless a superuser set password_required 'false' on it), and
 * CoordConnCheckPassword must then see that the server really asked for it.
 */
PGconn *
CoordConnStart(CoordConn *cc, char **errstr)
{
	ForeignServer *server = GetForeignServer(cc->serverid);
	UserMapping *um = GetUserMapping(GetUserId(), cc->serverid);
	int			n = list_length(server->options) + list_length(um->options) + 3;
	const char **keywords = palloc(sizeof(char *) * n);
	const char **values = palloc(sizeof(char *) * n);
	bool		have_password = false;
	ListCell   *lc;
	PGconn	   *conn;
	int			i = 0;

	Assert(cc->conn == NULL);
	cc->password_required = true;
	foreach(lc, um->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "password_required") == 0)
			cc->password_required = defGetBoolean(def);
		else if (strcmp(def->defname, "password") == 0 &&
				 defGetString(def)[0] != '\0')
			have_password = true;
	}
	if (!superuser() && cc->password_required && !have_password)
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required to connect to server \"%s\"",
						server->servername),
				 errdetail("Non-superusers must provide a password in the user mapping.")));

	foreach(lc, server->options)
	{
		DefElem    *def = lfirst(lc);

		if (IsLibpqOption(def->defname))
		{
			keywords[i] = def->defname;
			values[i++] = defGetString(def);
		}
	}
	foreach(lc, um->options)
	{
		DefElem    *def = lfirst(lc);

		if (IsLibpqOption(def->defname))
		{
			keywords[i] = def->defname;
			values[i++] = defGetString(def);
		}
	}
	keywords[i] = "fallback_application_name";
	values[i++] = "hnsw coordinator";
	keywords[i] = "client_encoding";
	values[i++] = GetDatabaseEncodingName();
	keywords[i] = NULL;
	values[i] = NULL;

	if (!AcquireExternalFD())
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not connect to server \"%s\"", server->servername),
				 errdetail("There are too many open files on the local server."),
				 errhint("Raise the server's max_files_per_process and/or \"ulimit -n\" limits.")));

	conn = PQconnectStartParams(keywords, values, false);
	coord_conn_epoch++;
	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
	{
		*errstr = conn ? pchomp(PQerrorMessage(conn)) : pstrdup("out of memory");
		PQfinish(conn);
		ReleaseExternalFD();
		return NULL;
	}
	cc->conn = conn;
	cc->invalidated = false;
	CoordConnResetSession(cc);
	return conn;
}

/* Return cc's connection, or NULL */
PGconn *
CoordConnPGconn(CoordConn *cc)
{
	return cc->conn;
}

/*
 * Once connected, check that a non-superuser's password was really used,
 * so that a mapping without one cannot borrow the coordinator's OS identity
 * (trust or peer authentication on the shard).  Closes the connection and
 * raises an error if not.
 */
void
CoordConnCheckPassword(CoordConn *cc)
{
	if (superuser() || !cc->password_required ||
		PQconnectionUsedPassword(cc->conn))
		return;

	CoordConnDrop(cc);
	ereport(ERROR,
			(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
			 errmsg("password is required to connect to server \"%s\"",
					GetForeignServer(cc->serverid)->servername),
			 errdetail("Non-superuser cannot connect if the server does not request a password."),
			 errhint("Target server's authentication method must be changed or set password_required=false in the user mapping attributes.")));
}

/* Mark cc as having a request in flight, or not */
void
CoordConnSetBusy(CoordConn *cc, bool busy)
{
	cc->busy = busy;
}

/* Is a request in flight on cc? */
bool
CoordConnIsBusy(CoordConn *cc)
{
	return cc->busy;
}

/* Does the session on cc still need its settings? */
bool
CoordConnNeedsSetup(CoordConn *cc)
{
	return !cc->setup_done;
}

/* Record that the session settings were applied on cc */
void
CoordConnSetupDone(CoordConn *cc)
{
	cc->setup_done = true;
}

/* Return the hnsw.ef_search value set on cc's session, "" if none */
const char *
CoordConnEfSearch(CoordConn *cc)
{
	return cc->ef_search;
}

/* Record the hnsw.ef_search value set on cc's session ("" after RESET) */
void
CoordConnSetEfSearch(CoordConn *cc, const char *value)
{
	strlcpy(cc->ef_search, value, sizeof(cc->ef_search));
}

/*
 * The shard rolled back (or will roll back) the transaction that set cc's
 * session settings: send them again with the next request.
 */
void
CoordConnResetSettings(CoordConn *cc)
{
	cc->setup_done = false;
	strlcpy(cc->ef_search, "?", sizeof(cc->ef_search));
}

/*
 * Close cc's connection, if any, without waiting for anything.
 *
 * A query still running on it is not cancelled: the shard notices the
 * closed connection within client_connection_check_interval and ends it
 * (see the head of this file).  libpq's nonblocking mode, set as soon as
 * the connection was up, makes PQfinish try its Terminate message once
 * and close the socket even if the server reads nothing.
 */
void
CoordConnDrop(CoordConn *cc)
{
	if (cc->conn == NULL)
		return;
	if (PQstatus(cc->conn) == CONNECTION_OK && !PQisnonblocking(cc->conn))
		(void) PQsetnonblocking(cc->conn, 1);
	PQfinish(cc->conn);
	coord_conn_epoch++;
	ReleaseExternalFD();
	cc->conn = NULL;
	cc->busy = false;
	CoordConnEndDrain(cc);
	CoordConnResetSession(cc);
}

/*
 * cc's request lost a hedge race (coordexec.c) but was sent whole: keep
 * the connection busy while the late answer comes, instead of closing it,
 * so that the copy keeps its session (a new one costs the shard a process
 * and the next request a connection's round trips).  The answer is read
 * and thrown away by CoordConnPollDrain, at the start of the backend's
 * next requests; the connection is idle again once the answer's Sync has
 * come, and is closed if an error comes instead, or if deadline passes
 * first (which ends the query on the shard, see the head of this file);
 * the copy's latency is then at least the time since the request was sent
 * (since), and is recorded so.  A query cancel, or any abort, closes it
 * as well, as every busy one.
 */
void
CoordConnDrain(CoordConn *cc, TimestampTz since, TimestampTz deadline)
{
	Assert(cc->busy && cc->conn != NULL && !cc->draining);
	cc->draining = true;
	cc->drain_since = since;
	cc->drain_deadline = deadline;
	ndraining++;
	CopyStats(cc->serverid, true)->draining++;
}

/*
 * Has the current user an open connection to serverid that no request
 * uses (not busy, not draining)?  A connection that drains is read first
 * (CoordConnPollDrain): the late answer may be in.  Unlike CoordGetConn,
 * raises no error when the user has no mapping for the server (there is
 * then no connection).
 */
bool
CoordServerConnIdle(Oid serverid)
{
	HeapTuple	tp;
	Oid			umid;
	CoordConn  *cc;

	if (ConnHash == NULL)
		return false;
	/* the user's own mapping, else PUBLIC's, as GetUserMapping looks */
	tp = SearchSysCache2(USERMAPPINGUSERSERVER,
						 ObjectIdGetDatum(GetUserId()),
						 ObjectIdGetDatum(serverid));
	if (!HeapTupleIsValid(tp))
		tp = SearchSysCache2(USERMAPPINGUSERSERVER,
							 ObjectIdGetDatum(InvalidOid),
							 ObjectIdGetDatum(serverid));
	if (!HeapTupleIsValid(tp))
		return false;
	umid = ((Form_pg_user_mapping) GETSTRUCT(tp))->oid;
	ReleaseSysCache(tp);
	cc = hash_search(ConnHash, &umid, HASH_FIND, NULL);
	if (cc != NULL && cc->draining)
		(void) CoordConnPollDrain(cc);
	return cc != NULL && cc->conn != NULL && !cc->busy && !cc->invalidated &&
		PQstatus(cc->conn) == CONNECTION_OK;
}

/* Is cc draining the late answer of a hedge's loser? */
bool
CoordConnIsDraining(CoordConn *cc)
{
	return cc->draining;
}

/* cc no longer drains (its answer came, or it is closed) */
static void
CoordConnEndDrain(CoordConn *cc)
{
	CoordCopyStats *st;

	if (!cc->draining)
		return;
	cc->draining = false;
	ndraining--;
	st = CopyStats(cc->serverid, false);
	if (st != NULL && st->draining > 0)
		st->draining--;
}

/*
 * Read without waiting what has come of the late answer cc drains.  At
 * its Sync the connection is idle again (if the shard is out of any
 * transaction); an error in it, a broken connection or the drain's
 * deadline close the connection.  Returns whether cc still drains.
 */
bool
CoordConnPollDrain(CoordConn *cc)
{
	PGconn	   *conn = cc->conn;
	const char *why = NULL;
	TimestampTz now;

	if (!cc->draining)
		return false;
	if (PQflush(conn) < 0 || !PQconsumeInput(conn))
		why = "connection lost";
	while (why == NULL && !PQisBusy(conn))
	{
		PGresult   *res = PQgetResult(conn);
		ExecStatusType status;

		if (res == NULL)
		{
			/* end of one command's results; the next is at the head */
			if (PQstatus(conn) != CONNECTION_OK)
				why = "connection lost";
			continue;
		}
		status = PQresultStatus(res);
		PQclear(res);
		if (status == PGRES_PIPELINE_SYNC)
		{
			if (PQtransactionStatus(conn) != PQTRANS_IDLE)
			{
				why = "transaction left open";	/* cannot happen */
				break;
			}
			CoordConnEndDrain(cc);
			cc->busy = false;
			return false;
		}
		/* its settings or its statement may be gone: a new session */
		if (status == PGRES_FATAL_ERROR)
			why = "error in its late answer";
	}
	now = GetCurrentTimestamp();
	if (why == NULL && PQstatus(conn) == CONNECTION_OK &&
		now < cc->drain_deadline)
		return true;
	if (why == NULL)
		CoordRecordLatency(cc->serverid, (now - cc->drain_since) / 1000.0, true);
	if (message_level_is_interesting(DEBUG1))
	{
		ForeignServer *server = GetForeignServerExtended(cc->serverid,
														 FSV_MISSING_OK);

		ereport(DEBUG1,
				(errmsg_internal("hnsw: closing the connection to server \"%s\": %s",
								 server ? server->servername : "?",
								 why ? why : "its late answer did not come in time")));
	}
	CoordConnDrop(cc);
	return false;
}

/* CoordConnPollDrain every connection that drains */
void
CoordConnPollDrains(void)
{
	HASH_SEQ_STATUS status;
	CoordConn  *cc;

	if (ndraining == 0)
		return;
	hash_seq_init(&status, ConnHash);
	while ((cc = hash_seq_search(&status)) != NULL)
		(void) CoordConnPollDrain(cc);
}

/* Forget what cc's session had set and prepared: it is a new session */
static void
CoordConnResetSession(CoordConn *cc)
{
	cc->setup_done = false;
	cc->ef_search[0] = '\0';
	CoordConnForgetStatements(cc);
}

/*
 * The name of the statement prepared on cc's session for sql, written to
 * name (COORD_STATEMENT_NAME_LEN bytes).  *prepare says whether the caller
 * must send the Prepare first (in the same pipeline, before executing it);
 * the statement is recorded as prepared from now on.  Returns false when
 * the session has as many statements as it may keep: run sql unnamed.
 */
bool
CoordConnStatement(CoordConn *cc, const char *sql, char *name, bool *prepare)
{
	CoordStatement *st;
	int			i;

	for (i = 0; i < cc->nstatements; i++)
	{
		st = &cc->statements[i];
		if (strcmp(st->sql, sql) == 0)
		{
			snprintf(name, COORD_STATEMENT_NAME_LEN, "hnsw_%u", st->id);
			*prepare = false;
			return true;
		}
	}
	if (cc->nstatements == COORD_MAX_STATEMENTS)
		return false;
	st = &cc->statements[cc->nstatements++];
	st->sql = MemoryContextStrdup(TopMemoryContext, sql);
	st->id = cc->next_statement++;
	snprintf(name, COORD_STATEMENT_NAME_LEN, "hnsw_%u", st->id);
	*prepare = true;
	return true;
}

/* Forget every statement of cc's session: the session is gone */
static void
CoordConnForgetStatements(CoordConn *cc)
{
	int			i;

	for (i = 0; i < cc->nstatements; i++)
		pfree(cc->statements[i].sql);
	cc->nstatements = 0;
}

/*
 * Forget the statement for sql on cc's session: its Prepare failed or was
 * skipped after an earlier error in the same pipeline, so it does not exist
 * on the shard.  Names are never reused, so the next request prepares it
 * afresh under a new name.
 */
void
CoordConnForgetStatement(CoordConn *cc, const char *sql)
{
	int			i;

	for (i = 0; i < cc->nstatements; i++)
	{
		if (strcmp(cc->statements[i].sql, sql) != 0)
			continue;
		pfree(cc->statements[i].sql);
		cc->statements[i] = cc->statements[--cc->nstatements];
		return;
	}
}

/*
 * Is serverid a first choice?  A copy that failed less than
 * hnsw.shard_retry_interval ago is not.
 */
bool
CoordServerHealthy(Oid serverid)
{
	CoordCopyStats *st = CopyStats(serverid, false);

	return st == NULL || GetCurrentTimestamp() >= st->retry_after;
}

/* Record that serverid answered, or failed just now */
void
CoordMarkServer(Oid serverid, bool healthy)
{
	CoordCopyStats *st = CopyStats(serverid, !healthy);

	if (st == NULL)
		return;
	st->retry_after = healthy ? 0 :
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(), coord_retry_interval);
}

/* A copy of a shard, ranked by CoordChooseCopies */
typedef struct CopyRank
{
	int			copy;			/* index in the shard's copies */
	int			inflight;		/* requests of this search on it */
	double		est;			/* smoothed latency; 0 if none recorded */
	CoordCopyStats *st;			/* NULL if nothing recorded */
} CopyRank;

/*
 * Write into order (shard->ncopies entries) the copies of shard in the
 * order a request should try them, adaptively: copies that failed within
 * hnsw.shard_retry_interval last (in their declared order); before them,
 * fewer requests of this backend in flight first (inflight[c], for copy
 * c: another shard's request of the same search on the same server),
 * then lower smoothed latency.  A copy with no latency recorded counts as
 * the fastest, so that every copy is tried early; a copy whose connection
 * drains a late answer (CoordConnDrain) counts as one in flight.  Copies
 * within COORD_TIE_FACTOR of the first, or within its mean deviation,
 * take turns, by seq (callers pass a number that changes from request to
 * request), so that equal copies share the reads.  Every copy passed over
 * for a faster first choice drifts toward its figures (COORD_DRIFT): a
 * copy that was slow is tried again after some requests, and one that
 * recovered gets its share back.
 *
 * The statistics are this backend's (there is no shared memory): each
 * session learns its copies' latencies from its own searches, and the
 * load other sessions put on a copy shows in those latencies.
 */
void
CoordChooseCopies(CoordShard *shard, const int *inflight, uint32 seq,
				  int *order)
{
	int			n = shard->ncopies;
	CopyRank   *ranks = palloc(sizeof(CopyRank) * n);
	bool	   *last = palloc0(sizeof(bool) * n);
	TimestampTz now = GetCurrentTimestamp();
	CopyRank   *first;
	int			nhealthy = 0;
	int			ntied;
	int			i;
	int			o;

	for (i = 0; i < n; i++)
	{
		CoordCopyStats *st = CopyStats(shard->copies[i], false);

		if (st != NULL && now < st->retry_after)
		{
			last[i] = true;
			continue;
		}
		ranks[nhealthy].copy = i;
		ranks[nhealthy].inflight = inflight[i] + (st != NULL ? st->draining : 0);
		ranks[nhealthy].est = (st != NULL && st->nsamples > 0) ? st->srtt : 0;
		ranks[nhealthy].st = st;
		nhealthy++;
	}
	if (nhealthy > 1)
		qsort(ranks, nhealthy, sizeof(CopyRank), CompareCopyRanks);

	/*
	 * Copies about as fast as the best take turns: within COORD_TIE_FACTOR
	 * of it, or within its mean deviation, whichever is more
	 */
	ntied = Min(nhealthy, 1);
	if (nhealthy > 0)
	{
		double		limit = ranks[0].est * COORD_TIE_FACTOR;

		if (ranks[0].st != NULL && ranks[0].st->nsamples > 0)
			limit = Max(limit, ranks[0].est + ranks[0].st->rttvar);
		while (ntied < nhealthy &&
			   ranks[ntied].inflight == ranks[0].inflight &&
			   ranks[ntied].est <= limit)
			ntied++;
	}
	for (i = 0; i < ntied; i++)
		order[i] = ranks[(seq + i) % ntied].copy;
	for (i = ntied; i < nhealthy; i++)
		order[i] = ranks[i].copy;
	o = nhealthy;
	for (i = 0; i < n; i++)
	{
		if (last[i])
			order[o++] = i;
	}

	/* the slower ones drift toward the first choice */
	first = ntied > 0 ? &ranks[seq % ntied] : NULL;
	for (i = 0; first != NULL && first->st != NULL && i < nhealthy; i++)
	{
		CoordCopyStats *st = ranks[i].st;

		if (st == NULL || st == first->st || st->nsamples == 0 ||
			first->st->nsamples == 0 || st->srtt <= first->st->srtt)
			continue;
		st->srtt -= (st->srtt - first->st->srtt) * COORD_DRIFT;
		st->rttvar -= (st->rttvar - first->st->rttvar) * COORD_DRIFT;
	}
	pfree(ranks);
	pfree(last);
}

/* qsort comparator of CopyRanks: fewer in flight, then faster, first */
static int
CompareCopyRanks(const void *a, const void *b)
{
	const CopyRank *x = a;
	const CopyRank *y = b;

	if (x->inflight != y->inflight)
		return x->inflight < y->inflight ? -1 : 1;
	if (x->est != y->est)
		return x->est < y->est ? -1 : 1;
	return x->copy - y->copy;
}

/*
 * Record that serverid answered a short search (CoordRequest.hedge) in ms
 * milliseconds, or, if censored, had not answered after ms when another
 * copy did.  That only says the latency is at least ms: it moves the
 * smoothed latency when ms is more than it, and the 95th percentile when
 * ms is more than that; it is ignored otherwise.
 */
void
CoordRecordLatency(Oid serverid, double ms, bool censored)
{
	CoordCopyStats *st = CopyStats(serverid, true);
	double		step;

	if (st->nsamples == 0)
	{
		st->srtt = ms;
		st->rttvar = ms / 2;
		st->p95 = st->srtt + 4 * st->rttvar;
		st->nsamples = 1;
		return;
	}
	if (!censored || ms > st->srtt)
	{
		st->rttvar += (fabs(ms - st->srtt) - st->rttvar) * COORD_RTTVAR_GAIN;
		st->srtt += (ms - st->srtt) * COORD_SRTT_GAIN;
	}
	step = st->srtt * COORD_P95_STEP;
	if (ms > st->p95)
		st->p95 += step * 0.95;
	else if (!censored)
		st->p95 -= step * 0.05;
	st->p95 = Min(st->p95, st->srtt + 4 * st->rttvar);
	if (st->nsamples < INT_MAX)
		st->nsamples++;
}

/*
 * How many milliseconds a short search waits for the copy of shard it
 * asked first before another copy is asked too, or -1 for never:
 * hnsw.hedge_delay if positive; if -1, the least of the estimates of the
 * 95th percentile latency of the shard's healthy copies (each at most its
 * smoothed latency plus four mean deviations), at least
 * COORD_MIN_HEDGE_DELAY_MS, or never while none is recorded.  The least:
 * the question is when the other copy would most likely have answered by
 * now; a copy that stalls now and then has a 95th percentile of its own
 * that its stalls pull up, and waiting for that would let them through.
 */
double
CoordHedgeDelay(CoordShard *shard)
{
	TimestampTz now = GetCurrentTimestamp();
	double		delay = -1;
	int			i;

	if (coord_hedge_delay > 0)
		return coord_hedge_delay;
	if (coord_hedge_delay == 0)
		return -1;
	for (i = 0; i < shard->ncopies; i++)
	{
		CoordCopyStats *st = CopyStats(shard->copies[i], false);
		double		d;

		if (st == NULL || st->nsamples == 0 || now < st->retry_after)
			continue;
		d = Min(st->p95, st->srtt + 4 * st->rttvar);
		if (delay < 0 || d < delay)
			delay = d;
	}
	return delay < 0 ? -1 : Max(delay, COORD_MIN_HEDGE_DELAY_MS);
}

/* The statistics of serverid, or NULL if none and not create */
static CoordCopyStats *
CopyStats(Oid serverid, bool create)
{
	CoordCopyStats *st;
	bool		found;

	if (ConnHash == NULL)
	{
		if (!create)
			return NULL;
		CoordConnInitCache();
	}
	st = hash_search(HealthHash, &serverid, create ? HASH_ENTER : HASH_FIND,
					 &found);
	if (create && !found)
	{
		st->retry_after = 0;
		st->draining = 0;
		st->nsamples = 0;
		st->srtt = 0;
		st->rttvar = 0;
		st->p95 = 0;
	}
	return st;
}

/* Create the caches and register the callbacks, once per backend */
static void
CoordConnInitCache(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(CoordConn);
	ConnHash = hash_create("hnsw coordinator connections", 8, &ctl,
						   HASH_ELEM | HASH_BLOBS);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(CoordCopyStats);
	HealthHash = hash_create("hnsw coordinator copy statistics", 8, &ctl,
							 HASH_ELEM | HASH_BLOBS);

	RegisterXactCallback(CoordXactCallback, NULL);
	RegisterSubXactCallback(CoordSubXactCallback, NULL);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, CoordInvalCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, CoordInvalCallback, (Datum) 0);
}

/* Is keyword one of libpq's connection options? */
static bool
IsLibpqOption(const char *keyword)
{
	PQconninfoOption *opt;

	if (LibpqOptions == NULL)
	{
		LibpqOptions = PQconndefaults();
		if (LibpqOptions == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
	}
	/* these are ours to set */
	if (strcmp(keyword, "client_encoding") == 0 ||
		strcmp(keyword, "fallback_application_name") == 0 ||
		strcmp(keyword, "replication") == 0)
		return false;
	for (opt = LibpqOptions; opt->keyword != NULL; opt++)
	{
		if (strcmp(opt->keyword, keyword) == 0)
			return true;
	}
	return false;
}

/* At abort, close the connections with a request in flight */
static void
CoordAbortCleanup(void)
{
	HASH_SEQ_STATUS status;
	CoordConn  *cc;

	if (ConnHash == NULL)
		return;
	hash_seq_init(&status, ConnHash);
	while ((cc = hash_seq_search(&status)) != NULL)
	{
		if (cc->busy)
			CoordConnDrop(cc);
	}
}

static void
CoordXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		CoordAbortCleanup();
}

static void
CoordSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		CoordAbortCleanup();
}

/*
 * A foreign server or user mapping changed: reconnect every cached
 * connection before its next use (cheap, and changes are rare).
 */
static void
CoordInvalCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS status;
	CoordConn  *cc;

	hash_seq_init(&status, ConnHash);
	while ((cc = hash_seq_search(&status)) != NULL)
		cc->invalidated = true;
}
