/*-------------------------------------------------------------------------
 *
 * coordexec.c
 *	  Fan-out: run one request on every selected shard at the same time,
 *	  failing over between the copies of a shard.
 *
 * Every shard's request is a small state machine driven by one wait loop:
 *
 *	  connecting  (PQconnectPoll; only when no cached connection)
 *	  receiving   (request sent in pipeline mode; results read as they come)
 *	  done | failed
 *
 * The loop waits on all shard sockets and the process latch together in a
 * WaitEventSet, so query cancel, statement_timeout and postmaster death are
 * noticed while shards work; the set is rebuilt when what a task waits for
 * changes (sockets change while connecting and failing over), and freed on
 * the way out, error or not.  A copy that fails at the connection level (cannot
 * connect, connection lost, server shutting down or not accepting
 * connections) or exceeds hnsw.shard_timeout is abandoned -- its query is
 * cancelled -- and the next copy is tried.  An error the shard raises for
 * the query itself is the user's error, and is re-raised with the shard's
 * SQLSTATE.
 *
 * Each request is sent as one pipeline: optional session settings, the
 * query once per query vector, and one Sync; so a shard sees one round trip
 * per search, batch or not.  A search's query is a statement prepared on
 * the shard session the first time its text is sent (the Prepare travels
 * in the same pipeline), so later searches with the same text cost the
 * shard neither parse analysis nor, once the plan is cached, planning.
 *
 * src/coordexec.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "coord.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"

typedef enum CoordTaskState
{
	TASK_CONNECTING,
	TASK_RECEIVING,
	TASK_DONE,
	TASK_FAILED
} CoordTaskState;

/* One shard's request in flight */
typedef struct CoordTask
{
	CoordShard *shard;
	CoordRequest *req;
	CoordResult *res;
	CoordTaskState state;
	int		   *order;			/* copy indexes in the order to try them */
	int			next;			/* next position in order */
	int			copy;			/* copy being tried */
	bool		reused;			/* its connection came from the cache */
	CoordConn  *cc;
	PGconn	   *conn;
	bool		want_write;		/* wait for the socket to be writable */
	bool		fired;			/* the socket is ready */
	uint32		conn_gen;		/* bumped whenever conn changes */
	/* what the wait set holds for this task, to know when to rebuild it */
	bool		in_set;
	uint32		set_gen;
	uint32		set_ev;
	uint32		want_ev;		/* this round's events; 0 = not waiting */
	TimestampTz deadline;		/* give up on this copy then; 0 = never */
	int			command;		/* pipeline command being read */
	int			first_query;	/* pipeline position of the first query */
	int			prepare_cmd;	/* pipeline position of a Prepare, or -1 */
	bool		prepared_ok;	/* that Prepare succeeded */
	PGresult   *error;			/* first error the shard returned */
} CoordTask;

/* Rotates the first choice among the healthy copies of a shard */
static uint32 copy_rotor = 0;

static void TaskNextCopy(CoordTask *task);
static void TaskCopyFailed(CoordTask *task, const char *why, bool server_fault);
static void TaskSend(CoordTask *task);
static void TaskAdvance(CoordTask *task);
static void TaskReceive(CoordTask *task);
static bool IsConnectionError(PGconn *conn, PGresult *res);
static void ReportRemoteError(CoordTask *task);
static void TaskClear(CoordTask *task);

/*
 * Run requests[i] on a copy of shards[i], all at once, and return one
 * CoordResult per shard.  A shard none of whose copies answered has
 * ok = false and its last error; the caller decides whether that is fatal.
 *
 * The PGresults in the CoordResults are libpq's (malloc'd): the caller must
 * pass them to CoordFreeResults, also on error (PG_TRY).  If this function
 * raises an error it frees them itself; connections with a request still in
 * flight are then cancelled and closed by the abort callback of
 * coordconn.c.
 */
CoordResult *
CoordExecute(CoordShard **shards, CoordRequest **requests, int nshards)
{
	CoordTask  *tasks = palloc0(sizeof(CoordTask) * nshards);
	CoordResult *results = palloc0(sizeof(CoordResult) * nshards);
	WaitEvent  *events = palloc(sizeof(WaitEvent) * (nshards + 2));
	WaitEventSet *volatile set = NULL;
	int			i;

	PG_TRY();
	{
		for (i = 0; i < nshards; i++)
		{
			CoordTask  *task = &tasks[i];
			CoordShard *shard = shards[i];
			int			n = 0;
			int			j;
			uint32		start = copy_rotor++;

			task->shard = shard;
			task->req = requests[i];
			task->res = &results[i];
			task->res->results = palloc0(sizeof(PGresult *) * requests[i]->nqueries);

			/* healthy copies first, starting at a rotating one; then the rest */
			task->order = palloc(sizeof(int) * shard->ncopies);
			for (j = 0; j < shard->ncopies; j++)
			{
				int			c = (start + j) % shard->ncopies;

				if (CoordServerHealthy(shard->copies[c]))
					task->order[n++] = c;
			}
			for (j = 0; j < shard->ncopies; j++)
			{
				if (!CoordServerHealthy(shard->copies[j]))
					task->order[n++] = j;
			}
			TaskNextCopy(task);
		}

		for (;;)
		{
			int			nactive = 0;
			long		timeout = -1;
			TimestampTz now = GetCurrentTimestamp();
			bool		latch = false;
			bool		rebuild = false;
			int			nfired;

			CHECK_FOR_INTERRUPTS();

			/* a copy that took too long is abandoned for the next one */
			for (i = 0; i < nshards; i++)
			{
				CoordTask  *task = &tasks[i];

				if ((task->state == TASK_CONNECTING ||
					 task->state == TASK_RECEIVING) &&
					PQsocket(task->conn) == PGINVALID_SOCKET)
					TaskCopyFailed(task, pchomp(PQerrorMessage(task->conn)), true);
				else if ((task->state == TASK_CONNECTING ||
						  task->state == TASK_RECEIVING) &&
						 task->deadline != 0 && now >= task->deadline)
				{
					char	   *why = psprintf("no answer within hnsw.shard_timeout (%d ms)",
											   coord_shard_timeout);

					task->reused = false;	/* slow, not stale: next copy */
					TaskCopyFailed(task, why, true);
				}
			}

			/*
			 * What each task waits for; the wait set is rebuilt only when
			 * that changed (a connection came or went, or a task started or
			 * stopped waiting for writability), since building it costs
			 * several system calls and a batch's answers arrive in many
			 * rounds.
			 */
			for (i = 0; i < nshards; i++)
			{
				CoordTask  *task = &tasks[i];
				bool		active = (task->state == TASK_CONNECTING ||
									  task->state == TASK_RECEIVING);

				task->want_ev = 0;
				if (task->state == TASK_CONNECTING)
					task->want_ev = task->want_write ? WL_SOCKET_WRITEABLE : WL_SOCKET_READABLE;
				else if (task->state == TASK_RECEIVING)
					task->want_ev = WL_SOCKET_READABLE |
						(task->want_write ? WL_SOCKET_WRITEABLE : 0);
				/* libpq may switch sockets while it tries a host's addresses */
				if (active != task->in_set ||
					task->state == TASK_CONNECTING ||
					(active && (task->set_gen != task->conn_gen ||
								task->set_ev != task->want_ev)))
					rebuild = true;
				if (!active)
					continue;
				nactive++;
				if (task->deadline != 0)
				{
					long		ms = TimestampDifferenceMilliseconds(now, task->deadline) + 1;

					if (timeout < 0 || ms < timeout)
						timeout = ms;
				}
			}
			if (nactive == 0)
				break;
			if (rebuild || set == NULL)
			{
				if (set != NULL)
					FreeWaitEventSet(set);
				set = NULL;
				set = CreateWaitEventSet(CurrentMemoryContext, nshards + 2);
				AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
				AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
				for (i = 0; i < nshards; i++)
				{
					CoordTask  *task = &tasks[i];

					task->in_set = (task->want_ev != 0);
					if (!task->in_set)
						continue;
					AddWaitEventToSet(set, task->want_ev, PQsocket(task->conn),
									  NULL, task);
					task->set_gen = task->conn_gen;
					task->set_ev = task->want_ev;
				}
			}

			nfired = WaitEventSetWait(set, timeout, events, nactive + 2,
									  PG_WAIT_EXTENSION);
			for (i = 0; i < nfired; i++)
			{
				if (events[i].events & WL_LATCH_SET)
					latch = true;
				else if (events[i].user_data != NULL)
					((CoordTask *) events[i].user_data)->fired = true;
			}

			if (latch)
			{
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
			}
			for (i = 0; i < nshards; i++)
			{
				if (tasks[i].fired)
				{
					tasks[i].fired = false;
					TaskAdvance(&tasks[i]);
				}
			}
		}
		if (set != NULL)
			FreeWaitEventSet(set);
		set = NULL;
	}
	PG_CATCH();
	{
		if (set != NULL)
			FreeWaitEventSet(set);
		for (i = 0; i < nshards; i++)
			TaskClear(&tasks[i]);
		PG_RE_THROW();
	}
	PG_END_TRY();

	return results;
}

/* Free the libpq results in results[0 .. nshards - 1] */
void
CoordFreeResults(CoordResult *results, int nshards, int nqueries)
{
	int			i;
	int			q;

	if (results == NULL)
		return;
	for (i = 0; i < nshards; i++)
	{
		if (results[i].results == NULL)
			continue;
		for (q = 0; q < nqueries; q++)
		{
			PQclear(results[i].results[q]);
			results[i].results[q] = NULL;
		}
	}
}

/* Free what task holds from libpq (not the connection) */
static void
TaskClear(CoordTask *task)
{
	int			q;

	if (task->res == NULL || task->res->results == NULL)
		return;
	for (q = 0; q < task->req->nqueries; q++)
	{
		PQclear(task->res->results[q]);
		task->res->results[q] = NULL;
	}
	PQclear(task->error);
	task->error = NULL;
}

/*
 * Start on the next copy of task's shard: send the request at once on a
 * cached connection, or start connecting.  With no copy left, the task has
 * failed.
 */
static void
TaskNextCopy(CoordTask *task)
{
	CoordShard *shard = task->shard;

	while (task->next < shard->ncopies)
	{
		char	   *errstr = NULL;

		task->copy = task->order[task->next++];
		task->cc = CoordGetConn(shard->copies[task->copy]);

		/*
		 * A server that is a copy of two shards of this search (a
		 * misconfiguration, but possible) has one connection: one request
		 * at a time on it.
		 */
		if (CoordConnIsBusy(task->cc))
		{
			task->res->error = psprintf("server \"%s\": connection in use by another shard of this search",
										shard->copynames[task->copy]);
			continue;
		}
		task->conn = CoordConnPGconn(task->cc);
		task->conn_gen++;
		task->deadline = (coord_shard_timeout > 0 && !task->req->no_timeout) ?
			TimestampTzPlusMilliseconds(GetCurrentTimestamp(), coord_shard_timeout) : 0;
		task->want_write = false;

		if (task->conn != NULL)
		{
			task->reused = true;
			CoordConnSetBusy(task->cc, true);
			TaskSend(task);
			return;
		}
		task->reused = false;
		task->conn = CoordConnStart(task->cc, &errstr);
		task->conn_gen++;
		if (task->conn == NULL)
		{
			errstr[strcspn(errstr, "\n")] = '\0';
			task->res->error = psprintf("server \"%s\": %s",
										shard->copynames[task->copy], errstr);
			CoordMarkServer(shard->copies[task->copy], false);
			continue;
		}
		CoordConnSetBusy(task->cc, true);
		/* libpq: before the first PQconnectPoll, wait for writability */
		task->state = TASK_CONNECTING;
		task->want_write = true;
		return;
	}
	task->state = TASK_FAILED;
	task->conn = NULL;
	task->cc = NULL;
}

/*
 * The current copy failed at the connection level or took too long:
 * cancel what it runs, close its connection, and try the next copy.  A
 * cached connection that turns out dead is first replaced by a fresh one to
 * the same copy, since the server may just have restarted.  Unless
 * server_fault is false (a query error hnsw.shard_status reports), the copy
 * becomes a last choice for hnsw.shard_retry_interval.
 */
static void
TaskCopyFailed(CoordTask *task, const char *why, bool server_fault)
{
	char	   *line = pstrdup(why);
	int			q;

	/* libpq's messages may run on with hints; the first line says it */
	line[strcspn(line, "\n")] = '\0';
	task->res->error = psprintf("server \"%s\": %s",
								task->shard->copynames[task->copy], line);
	ereport(DEBUG1,
			(errmsg_internal("hnsw: abandoning server \"%s\" for shard \"%s\": %s",
							 task->shard->copynames[task->copy],
							 task->shard->name, line)));
	PQclear(task->error);
	task->error = NULL;
	for (q = 0; q < task->req->nqueries; q++)
	{
		PQclear(task->res->results[q]);
		task->res->results[q] = NULL;
	}
	CoordConnDrop(task->cc, true);

	if (task->reused && server_fault)
	{
		task->next--;			/* same copy again, on a new connection */
		TaskNextCopy(task);
		return;
	}
	if (server_fault)
		CoordMarkServer(task->shard->copies[task->copy], false);
	TaskNextCopy(task);
}

/* Move task on after its socket became ready */
static void
TaskAdvance(CoordTask *task)
{
	if (task->state == TASK_CONNECTING)
	{
		switch (PQconnectPoll(task->conn))
		{
			case PGRES_POLLING_READING:
				task->want_write = false;
				break;
			case PGRES_POLLING_WRITING:
				task->want_write = true;
				break;
			case PGRES_POLLING_OK:
				CoordConnCheckPassword(task->cc);
				TaskSend(task);
				break;
			default:
				TaskCopyFailed(task, pchomp(PQerrorMessage(task->conn)), true);
				break;
		}
	}
	else if (task->state == TASK_RECEIVING)
		TaskReceive(task);
}

/*
 * Send task's request on its connection as one pipeline: session settings
 * the connection still needs, the query once per parameter set, and Sync.
 */
static void
TaskSend(CoordTask *task)
{
	PGconn	   *conn = task->conn;
	CoordRequest *req = task->req;
	const char *ef = CoordConnEfSearch(task->cc);
	char		stmt[COORD_STATEMENT_NAME_LEN];
	bool		prepare = false;
	bool		named = false;
	int			q;
	int			flushed;

	task->command = 0;
	task->first_query = 0;
	task->prepare_cmd = -1;
	task->prepared_ok = false;
	task->state = TASK_RECEIVING;

	if (PQpipelineStatus(conn) == PQ_PIPELINE_OFF &&
		(PQsetnonblocking(conn, 1) != 0 || PQenterPipelineMode(conn) != 1))
		goto failed;

	/* names in remote SQL are qualified: a search_path cannot redirect them */
	if (CoordConnNeedsSetup(task->cc))
	{
		if (!PQsendQueryParams(conn, "SET search_path = pg_catalog",
							   0, NULL, NULL, NULL, NULL, 0))
			goto failed;
		task->first_query++;
		CoordConnSetupDone(task->cc);
	}

	/* the caller's ef_search, set for the session only when it changes */
	if (req->ef_search != NULL && strcmp(req->ef_search, ef) != 0)
	{
		const char *values[1] = {req->ef_search};

		if (!PQsendQueryParams(conn,
							   "SELECT pg_catalog.set_config('hnsw.ef_search', $1, false)",
							   1, NULL, values, NULL, NULL, 0))
			goto failed;
		task->first_query++;
		CoordConnSetEfSearch(task->cc, req->ef_search);
	}
	else if (req->ef_search == NULL && ef[0] != '\0')
	{
		if (!PQsendQueryParams(conn, "RESET hnsw.ef_search",
							   0, NULL, NULL, NULL, NULL, 0))
			goto failed;
		task->first_query++;
		CoordConnSetEfSearch(task->cc, "");
	}

	/* a statement prepared once per session: no parse analysis per query */
	if (req->prepare &&
		CoordConnStatement(task->cc, req->sql, stmt, &prepare))
	{
		if (prepare)
		{
			if (!PQsendPrepare(conn, stmt, req->sql, req->nparams, NULL))
				goto failed;
			task->prepare_cmd = task->first_query++;
		}
		named = true;
	}

	for (q = 0; q < req->nqueries; q++)
	{
		if (named ?
			!PQsendQueryPrepared(conn, stmt, req->nparams,
								 req->values[q], req->lengths[q], req->formats,
								 req->binary_result ? 1 : 0) :
			!PQsendQueryParams(conn, req->sql, req->nparams, NULL,
							   req->values[q], req->lengths[q], req->formats,
							   req->binary_result ? 1 : 0))
			goto failed;
	}
	if (!PQpipelineSync(conn))
		goto failed;
	flushed = PQflush(conn);
	if (flushed < 0)
		goto failed;
	task->want_write = (flushed == 1);

	/*
	 * While flushing, libpq may have read the answer already; the socket
	 * would then not become readable again, so look now.
	 */
	if (!task->want_write)
		TaskReceive(task);
	return;

failed:
	TaskCopyFailed(task, pchomp(PQerrorMessage(conn)), true);
}

/*
 * Read what has arrived for task without blocking.  When the pipeline's
 * Sync arrives the request is done: the results are kept, or the shard's
 * error is handled.
 */
static void
TaskReceive(CoordTask *task)
{
	PGconn	   *conn = task->conn;
	CoordRequest *req = task->req;

	if (task->want_write)
	{
		int			flushed = PQflush(conn);

		if (flushed < 0)
		{
			TaskCopyFailed(task, pchomp(PQerrorMessage(conn)), true);
			return;
		}
		task->want_write = (flushed == 1);
	}
	if (!PQconsumeInput(conn))
	{
		TaskCopyFailed(task, pchomp(PQerrorMessage(conn)), true);
		return;
	}

	while (!PQisBusy(conn))
	{
		PGresult   *res = PQgetResult(conn);
		int			q = task->command - task->first_query;

		if (res == NULL)
		{
			if (PQstatus(conn) != CONNECTION_OK)
			{
				TaskCopyFailed(task, pchomp(PQerrorMessage(conn)), true);
				return;
			}
			task->command++;	/* end of one command's results */
			continue;
		}

		switch (PQresultStatus(res))
		{
			case PGRES_PIPELINE_SYNC:
				PQclear(res);
				if (task->error != NULL)
				{
					bool		conn_error = IsConnectionError(conn, task->error);

					/*
					 * The shard rolled its settings back: send them again.
					 * A statement whose Prepare failed or was skipped does
					 * not exist; those prepared before the error do
					 * (prepared statements are not transactional).
					 */
					CoordConnSetEfSearch(task->cc, "?");
					if (task->prepare_cmd >= 0 && !task->prepared_ok)
						CoordConnForgetStatement(task->cc, req->sql);
					if (req->soft_errors || conn_error)
					{
						const char *primary = PQresultErrorField(task->error,
																 PG_DIAG_MESSAGE_PRIMARY);
						char	   *why = primary ? pstrdup(primary) :
							pchomp(PQresultErrorMessage(task->error));

						TaskCopyFailed(task, why, conn_error);
						return;
					}
					CoordConnSetBusy(task->cc, false);
					ReportRemoteError(task);
				}
				CoordConnSetBusy(task->cc, false);
				CoordMarkServer(task->shard->copies[task->copy], true);
				task->state = TASK_DONE;
				task->res->ok = true;
				task->res->copy = task->copy;
				return;
			case PGRES_TUPLES_OK:
				if (q >= 0 && q < req->nqueries && task->res->results[q] == NULL)
					task->res->results[q] = res;
				else
					PQclear(res);
				break;
			case PGRES_FATAL_ERROR:
				if (task->error == NULL)
					task->error = res;
				else
					PQclear(res);
				break;
			case PGRES_COMMAND_OK:
				if (task->command == task->prepare_cmd)
					task->prepared_ok = true;
				PQclear(res);
				break;
			default:
				PQclear(res);
				break;
		}
	}
	if (PQstatus(conn) != CONNECTION_OK)
		TaskCopyFailed(task, pchomp(PQerrorMessage(conn)), true);
}

/*
 * Is the error in res one that another copy could avoid: the connection
 * broke, or the server is shutting down, starting up or full?
 */
static bool
IsConnectionError(PGconn *conn, PGresult *res)
{
	const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (PQstatus(conn) != CONNECTION_OK || sqlstate == NULL)
		return true;
	return strncmp(sqlstate, "08", 2) == 0 ||
		strcmp(sqlstate, "57P01") == 0 ||	/* admin_shutdown */
		strcmp(sqlstate, "57P02") == 0 ||	/* crash_shutdown */
		strcmp(sqlstate, "57P03") == 0 ||	/* cannot_connect_now */
		strcmp(sqlstate, "53300") == 0 ||	/* too_many_connections */
		strcmp(sqlstate, "40001") == 0; /* recovery conflict on a standby */
}

/*
 * Re-raise the error a shard returned for task's query, with the shard's
 * SQLSTATE, and the server and remote SQL as context.
 */
static void
ReportRemoteError(CoordTask *task)
{
	PGresult   *res = task->error;
	const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *f;
	char	   *primary;
	char	   *detail = NULL;
	char	   *hint = NULL;
	int			code = ERRCODE_CONNECTION_FAILURE;

	if (sqlstate != NULL && strlen(sqlstate) == 5)
		code = MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2],
							 sqlstate[3], sqlstate[4]);
	f = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	primary = pstrdup(f ? f : "could not run query on shard");
	if ((f = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL)) != NULL)
		detail = pstrdup(f);
	if ((f = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT)) != NULL)
		hint = pstrdup(f);
	PQclear(res);
	task->error = NULL;

	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", primary),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0,
			 errcontext("remote SQL command on server \"%s\": %s",
						task->shard->copynames[task->copy], task->req->sql)));
}
