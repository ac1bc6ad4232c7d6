/*-------------------------------------------------------------------------
 *
 * coordconn.c
 *	  Connections from the coordinator to shard servers: a per-backend cache
 *	  keyed by user mapping, connection parameters built like postgres_fdw's,
 *	  cleanup at abort, and a per-backend record of copies that failed.
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
	bool		invalidated;	/* server or mapping changed: reconnect */
	bool		setup_done;		/* session settings sent */
	bool		password_required;
	char		ef_search[32];	/* hnsw.ef_search set on the shard, or "" */
	int			nstatements;	/* prepared statements of the session */
	uint32		next_statement; /* id of the next one; never reused */
	CoordStatement statements[COORD_MAX_STATEMENTS];
};

/* When a copy that failed becomes a first choice again */
typedef struct CoordHealth
{
	Oid			serverid;		/* hash key */
	TimestampTz retry_after;
} CoordHealth;


static HTAB *ConnHash = NULL;

/* Bumped whenever a connection is opened or closed (see coordexec.c) */
uint64		coord_conn_epoch = 0;
static HTAB *HealthHash = NULL;

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
	CoordConnResetSession(cc);
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
	CoordHealth *h;

	if (HealthHash == NULL)
		return true;
	h = hash_search(HealthHash, &serverid, HASH_FIND, NULL);
	return h == NULL || GetCurrentTimestamp() >= h->retry_after;
}

/* Record that serverid answered, or failed just now */
void
CoordMarkServer(Oid serverid, bool healthy)
{
	CoordHealth *h;

	if (ConnHash == NULL)
		CoordConnInitCache();
	if (healthy)
	{
		hash_search(HealthHash, &serverid, HASH_REMOVE, NULL);
		return;
	}
	h = hash_search(HealthHash, &serverid, HASH_ENTER, NULL);
	h->retry_after = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												 coord_retry_interval);
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
	ctl.entrysize = sizeof(CoordHealth);
	HealthHash = hash_create("hnsw coordinator shard health", 8, &ctl,
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
