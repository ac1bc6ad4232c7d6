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
 * changes (sockets change while connecting and failing over), and kept for
 * the next search while it still fits (GetWaitSet), freed on error.  No
 * libpq call that can wait for the network runs outside this loop:
 * connections are nonblocking, and a copy given up is closed, not
 * cancelled (see coordconn.c).  A copy that fails at the connection level
 * (cannot connect, connection lost, server shutting down or not accepting
 * connections) or exceeds hnsw.shard_timeout is abandoned -- its connection
 * is closed, which ends its query on the shard -- and the next copy is
 * tried; so a copy that stops answering altogether (a frozen server) costs
 * a search hnsw.shard_timeout.  An error the shard raises for the query
 * itself is the user's error, and is re-raised with the shard's SQLSTATE.
 *
 * What shards return is checked before it is used: each query's result
 * must have the columns the request expects (CoordRequest.nfields), of the
 * expected types (CheckShape); values are checked where they are converted
 * (coordsearch.c).  A request with stream set reads its rows in libpq's
 * single-row mode and appends each to the shard's spool (coordspool.c), so
 * libpq holds one row at a time and the rows are bounded by work_mem in
 * memory, the rest in a temporary file; with whole set too, each query's
 * result is read whole and then spooled, which saves libpq a result per
 * row when the caller knows a result is small.
 *
 * Each request is sent as one pipeline: optional session settings, the
 * query once per query vector, and one Sync; so a shard sees one round trip
 * per search, batch or not.  (A request with alone set, such as VACUUM
 * through hnsw._shard_exec, has a Sync after the settings too, in the same
 * round trip: its command runs outside any transaction block.)  A search's
 * query is a statement prepared on the shard session the first time its
 * text is sent (the Prepare travels in the same pipeline), so later
 * searches with the same text cost the shard neither parse analysis nor,
 * once the plan is cached, planning.
 *
 * A request with open_snapshot (the first phase of a two-phase batch,
 * coordsearch.c) begins with BEGIN ISOLATION LEVEL REPEATABLE READ, and
 * its connection stays busy in that transaction after the Sync; the
 * request with in_snapshot (the second phase) runs on that same connection
 * and ends with COMMIT.  The second phase has no failover: it is valid
 * only in the first's snapshot; if it fails, the caller starts over.
 *
 * Copies are tried in the order CoordChooseCopies (coordconn.c) gives:
 * healthy ones first, fewer requests in flight and lower recent latency
 * first.  A short read (CoordRequest.hedge: a single search) is hedged:
 * when its copy has not answered some time after its request was sent
 * (hnsw.hedge_delay, or adaptively the 95th percentile latency of the
 * shard's fastest copy), the next copy is asked too, and the first to
 * answer wins.  So a shard's request is a job with up to two tasks (copies in
 * flight) drawing on one order of copies; each task fails over on its
 * own, and the job fails when both have run out of copies.  The loser's
 * connection drains its late answer (CoordConnDrain) if its request went
 * out whole, and is closed otherwise, which ends its query on the shard.
 * Hedges are limited to COORD_HEDGE_RATE of the hedgeable requests
 * (beyond a burst of COORD_HEDGE_BURST), so that a slow deployment is not
 * made slower by twice the work.  Batches and the two phases of a batch
 * are never hedged: a batch's time is the shards' work, which a hedge
 * would double, and the second phase must run where the first did.  See
 * src/COORDINATOR "Hedging".
 *
 * src/coordexec.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "coord.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/*
 * client_connection_check_interval of every shard session: how soon a shard
 * notices that the coordinator closed the connection of a query it gave up
 * on, and ends that query (see coordconn.c).
 */
#define COORD_CHECK_INTERVAL_MS	1000

/* The least memory a spool gets, however many shards share work_mem */
#define COORD_MIN_SPOOL_BUDGET	(64 * 1024)

/*
 * At most this fraction of the hedgeable requests of a backend is hedged,
 * beyond a burst of COORD_HEDGE_BURST hedges (a token bucket): in a
 * deployment where every copy is slow, hedges would only add load.
 */
#define COORD_HEDGE_RATE	0.1
#define COORD_HEDGE_BURST	10.0

/*
 * How long the connection of a hedge's loser may drain its late answer
 * (CoordConnDrain) before it is closed, at most: long enough for a
 * network stall or a slow search to end (a search takes milliseconds), a
 * tenth of hnsw.shard_timeout's default, and never longer than the
 * loser's own hnsw.shard_timeout.
 */
#define COORD_DRAIN_MS		1000

typedef enum CoordTaskState
{
	TASK_IDLE,					/* not started: a hedge not (yet) sent */
	TASK_CONNECTING,
	TASK_RECEIVING,
	TASK_DONE,
	TASK_FAILED					/* out of copies, or lost a hedge race */
} CoordTaskState;

typedef struct CoordJob CoordJob;

/* One copy of a shard at work on the shard's request */
typedef struct CoordTask
{
	CoordJob   *job;			/* the shard's request */
	CoordTaskState state;
	int			copy;			/* copy being tried */
	bool		reused;			/* its connection came from the cache */
	CoordConn  *cc;
	PGconn	   *conn;
	bool		want_write;		/* wait for the socket to be writable */
	bool		fired;			/* the socket is ready */
	bool		noisy;			/* finished, but its socket keeps firing */
	uint32		want_ev;		/* this round's events; 0 = not waiting */
	TimestampTz tried;			/* when this copy was tried */
	TimestampTz sent;			/* when the request was sent; 0 = not yet */
	TimestampTz deadline;		/* give up on this copy then; 0 = never */
	int			command;		/* pipeline command being read */
	int			first_query;	/* pipeline position of the first query */
	int			prepare_cmd;	/* pipeline position of a Prepare, or -1 */
	bool		prepared_ok;	/* that Prepare succeeded */
	bool		checked;		/* the current command's shape is checked */
	int			early_syncs;	/* Syncs before the query's own still to
								 * come (CoordRequest.alone) */
	PGresult   *error;			/* first error the shard returned */
	PGresult   *current;		/* a result being read, freed on error */
	PGresult  **results;		/* [nqueries], a request that does not
								 * stream: this copy's results so far */
	CoordSpool *spool;			/* a stream request: this copy's rows */
} CoordTask;

/* One shard's request: the copies to try and the tasks trying them */
struct CoordJob
{
	CoordShard *shard;
	CoordRequest *req;
	CoordResult *res;			/* the winner's results are moved here */
	int		   *order;			/* copy indexes in the order to try them */
	int			ntry;			/* length of order */
	int			next;			/* next position in order */
	CoordTask  *tasks;			/* [2]: the first copy's, and a hedge */
	bool		may_hedge;
	TimestampTz hedge_at;		/* ask a second copy then; 0 = not */
	Size		budget;			/* memory of a spool */
};

/*
 * Rotates the first choice among the healthy copies of a shard: one step
 * per CoordExecute, so that each shard's first choice moves from call to
 * call, however many shards a call has
 */
static uint32 copy_rotor = 0;

/* Hedges this backend may still send (see COORD_HEDGE_RATE) */
static double hedge_tokens = COORD_HEDGE_BURST;

/*
 * The wait set of the last round, kept across searches: building one costs
 * an epoll_create, an epoll_ctl per socket and a close, a good part of a
 * single search's own CPU time.  It is reused while it waits for the same
 * events on the same sockets of the same connections, and no connection
 * was opened or closed since it was built (a closed socket leaves the epoll
 * set; a new one may get the same number).  In TopMemoryContext; forgotten
 * on error.
 */
typedef struct CachedWaitSet
{
	WaitEventSet *set;
	int			capacity;		/* sockets it can hold */
	int			nsockets;		/* sockets it holds */
	uint64		epoch;			/* coord_conn_epoch when built */
	PGconn	  **conns;			/* per socket, in set order */
	pgsocket   *socks;
	uint32	   *evs;
} CachedWaitSet;

static CachedWaitSet wait_cache = {NULL, 0, 0, 0, NULL, NULL, NULL};

static bool TaskActive(CoordTask *task);
static void JobStart(CoordJob *job, CoordTask *tasks, int index);
static void JobHedge(CoordJob *job, TimestampTz now);
static void JobWon(CoordTask *task);
static void JobClear(CoordJob *job);
static bool TaskTryCopy(CoordTask *task, int copy);
static void TaskNextCopy(CoordTask *task);
static void TaskAbandon(CoordTask *task, TimestampTz now);
static void TaskCopyFailed(CoordTask *task, const char *why, bool server_fault);
static void TaskSend(CoordTask *task);
static void TaskAdvance(CoordTask *task);
static void TaskReceive(CoordTask *task);
static void TaskDone(CoordTask *task);
static bool CheckShape(CoordTask *task, PGresult *res);
static char *RemoteTypeName(Oid type);
static bool IsConnectionError(PGconn *conn, PGresult *res);
static void ReportRemoteError(CoordTask *task);
static void TaskClear(CoordTask *task);
static WaitEventSet *GetWaitSet(CoordTask *tasks, int ntasks, int *insocket,
								int *nsockets, bool connecting);
static void ForgetWaitSet(void);

/*
 * Run requests[i] on a copy of shards[i], all at once, and return one
 * CoordResult per shard.  A shard none of whose copies answered has
 * ok = false and its last error; the caller decides whether that is fatal.
 *
 * The PGresults in the CoordResults are libpq's (malloc'd) and the spools
 * of stream requests may have temporary files: the caller must pass them to
 * CoordFreeResults, also on error (PG_TRY).  If this function raises an
 * error it frees them itself; connections with a request still in flight
 * are then closed by the abort callback of coordconn.c.  Spools share
 * work_mem (at least COORD_MIN_SPOOL_BUDGET each) and are allocated in the
 * current memory context.
 */
CoordResult *
CoordExecute(CoordShard **shards, CoordRequest **requests, int nshards)
{
	int			ntasks = 2 * nshards;
	CoordJob   *jobs = palloc0(sizeof(CoordJob) * nshards);
	CoordTask  *tasks = palloc0(sizeof(CoordTask) * ntasks);
	CoordResult *results = palloc0(sizeof(CoordResult) * nshards);
	WaitEvent  *events = palloc(sizeof(WaitEvent) * (ntasks + 2));
	int		   *insocket = palloc(sizeof(int) * ntasks);
	int			nsockets = 0;
	int			nstream = 0;
	Size		budget;
	int			i;

	for (i = 0; i < nshards; i++)
		nstream += requests[i]->stream ? 1 : 0;
	copy_rotor++;
	/* the late answers of earlier searches' hedge losers */
	CoordConnPollDrains();
	budget = Max((Size) work_mem * 1024 / Max(nstream, 1), COORD_MIN_SPOOL_BUDGET);

	PG_TRY();
	{
		for (i = 0; i < nshards; i++)
		{
			CoordJob   *job = &jobs[i];

			job->shard = shards[i];
			job->req = requests[i];
			job->res = &results[i];
			job->budget = budget;
			job->tasks = &tasks[2 * i];
			job->tasks[0].job = job;
			job->tasks[1].job = job;
			job->res->results = palloc0(sizeof(PGresult *) * Max(requests[i]->nqueries, 1));
			JobStart(job, tasks, i);
		}

		for (;;)
		{
			int			nactive = 0;
			long		timeout = -1;
			TimestampTz now = GetCurrentTimestamp();
			bool		latch = false;
			bool		connecting = false;
			WaitEventSet *set;
			int			nfired;

			CHECK_FOR_INTERRUPTS();

			/* a copy that took too long is abandoned for the next one */
			for (i = 0; i < ntasks; i++)
			{
				CoordTask  *task = &tasks[i];

				if (TaskActive(task) &&
					PQsocket(task->conn) == PGINVALID_SOCKET)
					TaskCopyFailed(task, pchomp(PQerrorMessage(task->conn)), true);
				else if (TaskActive(task) &&
						 task->deadline != 0 && now >= task->deadline)
				{
					char	   *why = psprintf("no answer within hnsw.shard_timeout (%d ms)",
											   coord_shard_timeout);

					task->reused = false;	/* slow, not stale: next copy */
					TaskCopyFailed(task, why, true);
				}
			}

			/* a copy that is late gets company */
			for (i = 0; i < nshards; i++)
			{
				if (jobs[i].hedge_at != 0 && now >= jobs[i].hedge_at)
					JobHedge(&jobs[i], now);
			}

			/* what each task waits for, and the time left */
			for (i = 0; i < ntasks; i++)
			{
				CoordTask  *task = &tasks[i];

				task->want_ev = 0;
				if (task->state == TASK_CONNECTING)
					task->want_ev = task->want_write ? WL_SOCKET_WRITEABLE : WL_SOCKET_READABLE;
				else if (task->state == TASK_RECEIVING)
					task->want_ev = WL_SOCKET_READABLE |
						(task->want_write ? WL_SOCKET_WRITEABLE : 0);
				else
					continue;
				/* libpq may switch sockets while it tries a host's addresses */
				if (task->state == TASK_CONNECTING)
					connecting = true;
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
			for (i = 0; i < nshards; i++)
			{
				if (jobs[i].hedge_at != 0)
				{
					/* rounded up: never wakes before it */
					long		ms = TimestampDifferenceMilliseconds(now, jobs[i].hedge_at);

					if (timeout < 0 || ms < timeout)
						timeout = ms;
				}
			}
			set = GetWaitSet(tasks, ntasks, insocket, &nsockets, connecting);

			nfired = WaitEventSetWait(set, timeout, events, nsockets + 2,
									  PG_WAIT_EXTENSION);
			for (i = 0; i < nfired; i++)
			{
				CoordTask  *task;

				if (events[i].events & WL_LATCH_SET)
					latch = true;
				if (events[i].pos < 2 || events[i].pos >= nsockets + 2)
					continue;
				task = &tasks[insocket[events[i].pos - 2]];
				if (task->want_ev != 0)
					task->fired = true;

				/*
				 * A finished task's idle connection has something to say (a
				 * notice, or the server closed it): read it, and if that
				 * fails, leave the socket out of the set.
				 */
				else if (!PQconsumeInput(task->conn) ||
						 PQstatus(task->conn) != CONNECTION_OK)
					task->noisy = true;
			}

			if (latch)
			{
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
			}
			for (i = 0; i < ntasks; i++)
			{
				if (tasks[i].fired)
				{
					tasks[i].fired = false;
					TaskAdvance(&tasks[i]);
				}
			}
		}
	}
	PG_CATCH();
	{
		ForgetWaitSet();
		for (i = 0; i < ntasks; i++)
			TaskClear(&tasks[i]);
		for (i = 0; i < nshards; i++)
			JobClear(&jobs[i]);
		PG_RE_THROW();
	}
	PG_END_TRY();

	return results;
}

/* Is task waiting for its copy (connecting, or for the answer)? */
static bool
TaskActive(CoordTask *task)
{
	return task->state == TASK_CONNECTING || task->state == TASK_RECEIVING;
}

/*
 * Order the copies of job's shard and start on the first.  tasks are the
 * call's tasks, those before job's started: a copy they are at work on
 * counts as busy for the order (a server that is a copy of two shards).
 * index is job's position in the call.
 */
static void
JobStart(CoordJob *job, CoordTask *tasks, int index)
{
	CoordShard *shard = job->shard;
	CoordRequest *req = job->req;
	int		   *inflight;
	int			c;
	int			t;

	job->order = palloc(sizeof(int) * shard->ncopies);
	if (req->in_snapshot)
	{
		/* only the copy whose transaction holds the snapshot */
		job->order[0] = req->snapshot_copy;
		job->ntry = 1;
		TaskNextCopy(&job->tasks[0]);
		return;
	}

	inflight = palloc0(sizeof(int) * shard->ncopies);
	for (t = 0; t < 2 * index; t++)
	{
		CoordTask  *other = &tasks[t];

		if (!TaskActive(other))
			continue;
		for (c = 0; c < shard->ncopies; c++)
		{
			if (other->job->shard->copies[other->copy] == shard->copies[c])
				inflight[c]++;
		}
	}
	CoordChooseCopies(shard, inflight, copy_rotor + index, job->order);
	pfree(inflight);
	job->ntry = shard->ncopies;

	job->may_hedge = req->hedge && job->ntry > 1 && coord_hedge_delay != 0 &&
		!req->open_snapshot && !req->no_timeout && !req->soft_errors;
	if (job->may_hedge)
		hedge_tokens = Min(hedge_tokens + COORD_HEDGE_RATE, COORD_HEDGE_BURST);
	TaskNextCopy(&job->tasks[0]);
}

/*
 * job's first copy is late: ask another copy too, if the hedging budget
 * allows: the first of the copies not tried yet that is healthy and has an
 * idle connection open.  A copy that would have to connect first is not
 * asked: connecting costs round trips and a process on the shard, more
 * than a hedge saves, and the connection would be closed again whenever
 * the hedge lost while still connecting.  Nor is a copy whose connection
 * drains a late answer (CoordConnDrain).  Called once per job at most.
 */
static void
JobHedge(CoordJob *job, TimestampTz now)
{
	CoordTask  *first = &job->tasks[0];
	CoordTask  *hedge = &job->tasks[1];
	int			i;

	job->hedge_at = 0;
	if (hedge->state != TASK_IDLE || !TaskActive(first))
		return;
	for (i = job->next; i < job->ntry; i++)
	{
		Oid			server = job->shard->copies[job->order[i]];

		if (CoordServerHealthy(server) && CoordServerConnIdle(server))
			break;
	}
	if (i >= job->ntry)
		return;
	/* that copy is the next to try */
	if (i != job->next)
	{
		int			c = job->order[i];

		memmove(&job->order[job->next + 1], &job->order[job->next],
				sizeof(int) * (i - job->next));
		job->order[job->next] = c;
	}
	if (hedge_tokens < 1)
	{
		ereport(DEBUG1,
				(errmsg_internal("hnsw: no answer from server \"%s\" for shard \"%s\" after %.1f ms; not hedging (budget spent)",
								 job->shard->copynames[first->copy], job->shard->name,
								 (now - first->sent) / 1000.0)));
		return;
	}
	hedge_tokens -= 1;
	ereport(DEBUG1,
			(errmsg_internal("hnsw: no answer from server \"%s\" for shard \"%s\" after %.1f ms; asking server \"%s\" too",
							 job->shard->copynames[first->copy], job->shard->name,
							 (now - first->sent) / 1000.0,
							 job->shard->copynames[job->order[job->next]])));
	TaskNextCopy(hedge);
}

/*
 * task's copy answered (its Sync arrived) first: abandon the other task if
 * it is still at work (TaskAbandon), record the latencies of a hedgeable
 * request, and move task's results into the shard's CoordResult.
 */
static void
JobWon(CoordTask *task)
{
	CoordJob   *job = task->job;
	CoordResult *res = job->res;
	CoordTask  *other = &job->tasks[task == &job->tasks[0] ? 1 : 0];
	TimestampTz now = GetCurrentTimestamp();

	job->hedge_at = 0;
	if (TaskActive(other))
	{
		TimestampTz since = other->sent != 0 ? other->sent : other->tried;

		ereport(DEBUG1,
				(errmsg_internal("hnsw: server \"%s\" answered first for shard \"%s\"",
								 job->shard->copynames[task->copy], job->shard->name)));
		/* it took at least this long */
		if (job->req->hedge)
			CoordRecordLatency(job->shard->copies[other->copy],
							   (now - since) / 1000.0, true);
		TaskAbandon(other, now);
	}
	/*
	 * Its latency, unless its pipeline had more to do than the search: a
	 * session's settings, a Prepare (and the planning with it) are paid once
	 * per connection, and would make a copy look slow for long.
	 */
	if (job->req->hedge && task->sent != 0 && task->error == NULL &&
		task->first_query == 0 && task->prepare_cmd < 0)
		CoordRecordLatency(job->shard->copies[task->copy],
						   (now - task->sent) / 1000.0, false);

	res->copy = task->copy;
	if (task->spool != NULL)
	{
		res->spool = task->spool;
		task->spool = NULL;
	}
	if (task->results != NULL)
	{
		memcpy(res->results, task->results,
			   sizeof(PGresult *) * job->req->nqueries);
		memset(task->results, 0, sizeof(PGresult *) * job->req->nqueries);
	}
}

/* Free what job's result holds from libpq and its spool, on error */
static void
JobClear(CoordJob *job)
{
	CoordResult *res = job->res;
	int			q;

	if (res == NULL || res->results == NULL)
		return;
	CoordSpoolFree(res->spool);
	res->spool = NULL;
	for (q = 0; q < job->req->nqueries; q++)
	{
		PQclear(res->results[q]);
		res->results[q] = NULL;
	}
	PQclear(res->remote_error);
	res->remote_error = NULL;
}

/*
 * Return a wait set for the latch, postmaster death, and the sockets of
 * tasks: the cached one if it holds the same sockets of the same
 * connections, else a new one that replaces it.  Socket position 2 + j is
 * tasks[insocket[j]]'s, for j < *nsockets.  A task that waits has its
 * want_ev; a finished one still holding its connection stays in the set,
 * waiting for readability (so that the next search, on the same
 * connections, finds the set as it needs it); the caller ignores its
 * events.  While a task is connecting the set is always rebuilt.
 */
static WaitEventSet *
GetWaitSet(CoordTask *tasks, int ntasks, int *insocket, int *nsockets,
		   bool connecting)
{
	CachedWaitSet *wc = &wait_cache;
	int			n = 0;
	int			i;
	int			j;

	for (i = 0; i < ntasks; i++)
	{
		CoordTask  *task = &tasks[i];
		bool		include = (task->want_ev != 0);

		/*
		 * A finished task's connection, if still open, unless another task
		 * uses it now or an earlier one is in the set with it (a server
		 * that is a copy of two shards has one connection; epoll takes a
		 * socket once).
		 */
		if (!include && task->state == TASK_DONE && task->conn != NULL &&
			CoordConnPGconn(task->cc) == task->conn && !task->noisy &&
			PQsocket(task->conn) != PGINVALID_SOCKET)
		{
			include = true;
			for (j = 0; j < ntasks && include; j++)
			{
				if (j != i && tasks[j].conn == task->conn &&
					(tasks[j].want_ev != 0 || j < i))
					include = false;
			}
		}
		if (include)
			insocket[n++] = i;
	}
	*nsockets = n;

	if (wc->set != NULL && !connecting && wc->epoch == coord_conn_epoch &&
		wc->nsockets == n)
	{
		bool		same = true;

		for (j = 0; j < n && same; j++)
		{
			CoordTask  *task = &tasks[insocket[j]];

			same = (wc->conns[j] == task->conn &&
					wc->socks[j] == PQsocket(task->conn));
		}
		if (same)
		{
			/* events may differ: a task waits for writability, or is done */
			for (j = 0; j < n; j++)
			{
				uint32		ev = tasks[insocket[j]].want_ev;

				if (ev == 0)
					ev = WL_SOCKET_READABLE;
				if (wc->evs[j] != ev)
				{
					ModifyWaitEvent(wc->set, j + 2, ev, NULL);
					wc->evs[j] = ev;
				}
			}
			return wc->set;
		}
	}

	ForgetWaitSet();
	if (wc->capacity < n)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);

		if (wc->conns != NULL)
		{
			pfree(wc->conns);
			pfree(wc->socks);
			pfree(wc->evs);
		}
		wc->capacity = Max(n, 8);
		wc->conns = palloc(sizeof(PGconn *) * wc->capacity);
		wc->socks = palloc(sizeof(pgsocket) * wc->capacity);
		wc->evs = palloc(sizeof(uint32) * wc->capacity);
		MemoryContextSwitchTo(oldcxt);
	}
	wc->set = CreateWaitEventSet(TopMemoryContext, n + 2);
	AddWaitEventToSet(wc->set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wc->set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (j = 0; j < n; j++)
	{
		CoordTask  *task = &tasks[insocket[j]];

		wc->conns[j] = task->conn;
		wc->socks[j] = PQsocket(task->conn);
		wc->evs[j] = task->want_ev != 0 ? task->want_ev : WL_SOCKET_READABLE;
		AddWaitEventToSet(wc->set, wc->evs[j], wc->socks[j], NULL, NULL);
	}
	wc->nsockets = n;
	wc->epoch = coord_conn_epoch;
	return wc->set;
}

/* Free the cached wait set, if any */
static void
ForgetWaitSet(void)
{
	if (wait_cache.set != NULL)
		FreeWaitEventSet(wait_cache.set);
	wait_cache.set = NULL;
	wait_cache.nsockets = 0;
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
		PQclear(results[i].remote_error);
		results[i].remote_error = NULL;
		CoordSpoolFree(results[i].spool);
		results[i].spool = NULL;
		if (results[i].results == NULL)
			continue;
		for (q = 0; q < nqueries; q++)
		{
			PQclear(results[i].results[q]);
			results[i].results[q] = NULL;
		}
	}
}

/* Free what task holds from libpq and its spool (not the connection) */
static void
TaskClear(CoordTask *task)
{
	int			q;

	if (task->job == NULL)
		return;
	CoordSpoolFree(task->spool);
	task->spool = NULL;
	PQclear(task->current);
	task->current = NULL;
	for (q = 0; task->results != NULL && q < task->job->req->nqueries; q++)
	{
		PQclear(task->results[q]);
		task->results[q] = NULL;
	}
	PQclear(task->error);
	task->error = NULL;
}

/*
 * Start task on copy of its shard: send the request at once on a cached
 * connection, or start connecting.  Returns false, with the reason in the
 * shard's result, if the copy cannot be started.
 */
static bool
TaskTryCopy(CoordTask *task, int copy)
{
	CoordJob   *job = task->job;
	CoordShard *shard = job->shard;
	CoordRequest *req = job->req;
	char	   *errstr = NULL;

	task->copy = copy;
	task->cc = CoordGetConn(shard->copies[copy]);
	task->tried = GetCurrentTimestamp();
	task->sent = 0;
	task->want_write = false;
	if (req->stream && task->spool == NULL)
		task->spool = CoordSpoolCreate(req->nqueries, job->budget);
	if (!req->stream && task->results == NULL)
		task->results = palloc0(sizeof(PGresult *) * Max(req->nqueries, 1));

	/*
	 * The second request of a two-phase search runs in the transaction the
	 * first left open: on that connection, which it held, or not at all.
	 */
	if (req->in_snapshot)
	{
		PGTransactionStatusType tstatus;

		task->conn = CoordConnPGconn(task->cc);
		task->reused = false;	/* no fresh connection to this copy */
		task->deadline = coord_shard_timeout > 0 ?
			TimestampTzPlusMilliseconds(task->tried, coord_shard_timeout) : 0;
		tstatus = task->conn ? PQtransactionStatus(task->conn) : PQTRANS_UNKNOWN;

		/* a transaction in error can only be ended */
		if (task->conn == NULL || !CoordConnIsBusy(task->cc) ||
			!(tstatus == PQTRANS_INTRANS ||
			  (tstatus == PQTRANS_INERROR && req->nqueries == 0)))
		{
			job->res->error = psprintf("server \"%s\": the transaction of the first phase was lost",
									   shard->copynames[copy]);
			/* a transaction it may still hold ends with the connection */
			if (task->conn != NULL && CoordConnIsBusy(task->cc))
				CoordConnDrop(task->cc);
			task->conn = NULL;
			return false;
		}
		TaskSend(task);
		return true;
	}

	/*
	 * A connection still draining a late answer (CoordConnDrain) is needed
	 * now: the answer is given up, the connection closed.
	 */
	if (CoordConnIsDraining(task->cc) && CoordConnPollDrain(task->cc))
	{
		ereport(DEBUG1,
				(errmsg_internal("hnsw: closing the connection to server \"%s\": still draining a late answer, and wanted for shard \"%s\"",
								 shard->copynames[copy], shard->name)));
		CoordConnDrop(task->cc);
	}

	/*
	 * A server that is a copy of two shards of this search (a
	 * misconfiguration, but possible) has one connection: one request at a
	 * time on it.
	 */
	if (CoordConnIsBusy(task->cc))
	{
		job->res->error = psprintf("server \"%s\": connection in use by another shard of this search",
								   shard->copynames[copy]);
		return false;
	}
	task->conn = CoordConnPGconn(task->cc);
	task->deadline = (coord_shard_timeout > 0 && !req->no_timeout) ?
		TimestampTzPlusMilliseconds(task->tried, coord_shard_timeout) : 0;

	if (task == &job->tasks[0])
		job->hedge_at = 0;		/* set when the request is sent */

	if (task->conn != NULL)
	{
		task->reused = true;
		CoordConnSetBusy(task->cc, true);
		TaskSend(task);
		return true;
	}
	task->reused = false;
	task->conn = CoordConnStart(task->cc, &errstr);
	if (task->conn == NULL)
	{
		errstr[strcspn(errstr, "\n")] = '\0';
		job->res->error = psprintf("server \"%s\": %s",
								   shard->copynames[copy], errstr);
		CoordMarkServer(shard->copies[copy], false);
		return false;
	}
	CoordConnSetBusy(task->cc, true);
	/* libpq: before the first PQconnectPoll, wait for writability */
	task->state = TASK_CONNECTING;
	task->want_write = true;
	return true;
}

/*
 * Start task on the next copy of its shard that can be started.  With no
 * copy left, the task has failed (and the shard with it, unless the job's
 * other task is still at work).
 */
static void
TaskNextCopy(CoordTask *task)
{
	CoordJob   *job = task->job;

	while (job->next < job->ntry)
	{
		if (TaskTryCopy(task, job->order[job->next++]))
			return;
	}
	task->state = TASK_FAILED;
	task->conn = NULL;
	task->cc = NULL;
	if (task == &job->tasks[0])
		job->hedge_at = 0;
}

/*
 * task lost the race to the other copy of its shard; forget what it
 * received.  If its request was sent whole and is a short read, its
 * connection drains the late answer (CoordConnDrain), for at most
 * COORD_DRAIN_MS, and is reused once that has come; otherwise it is
 * closed, which ends its query on the shard (see coordconn.c).  Its copy
 * is not marked as failed: it was only later.
 */
static void
TaskAbandon(CoordTask *task, TimestampTz now)
{
	CoordJob   *job = task->job;
	bool		drain;

	drain = task->state == TASK_RECEIVING && !task->want_write &&
		task->error == NULL && job->req->hedge && !job->req->open_snapshot;
	TaskClear(task);
	if (drain)
	{
		TimestampTz deadline = TimestampTzPlusMilliseconds(now, COORD_DRAIN_MS);

		if (task->deadline != 0 && task->deadline < deadline)
			deadline = task->deadline;
		ereport(DEBUG1,
				(errmsg_internal("hnsw: server \"%s\" lost the race for shard \"%s\"; draining its answer",
								 job->shard->copynames[task->copy], job->shard->name)));
		CoordConnDrain(task->cc, task->sent, deadline);
	}
	else
	{
		ereport(DEBUG1,
				(errmsg_internal("hnsw: server \"%s\" lost the race for shard \"%s\"; closing its connection",
								 job->shard->copynames[task->copy], job->shard->name)));
		CoordConnDrop(task->cc);
	}
	task->conn = NULL;
	task->cc = NULL;
	task->state = TASK_FAILED;
}

/*
 * The current copy failed at the connection level or took too long:
 * close its connection (which ends what it runs, see coordconn.c), forget
 * what it sent, and try the next copy.  A cached connection that turns out
 * dead is first replaced by a fresh one to the same copy, since the server
 * may just have restarted.  Unless server_fault is false (a query error
 * hnsw.shard_status reports), the copy becomes a last choice for
 * hnsw.shard_retry_interval.
 */
static void
TaskCopyFailed(CoordTask *task, const char *why, bool server_fault)
{
	CoordJob   *job = task->job;
	char	   *line = pstrdup(why);
	int			q;

	/* libpq's messages may run on with hints; the first line says it */
	line[strcspn(line, "\n")] = '\0';
	job->res->error = psprintf("server \"%s\": %s",
							   job->shard->copynames[task->copy], line);
	ereport(DEBUG1,
			(errmsg_internal("hnsw: abandoning server \"%s\" for shard \"%s\": %s",
							 job->shard->copynames[task->copy],
							 job->shard->name, line)));
	PQclear(task->error);
	task->error = NULL;
	for (q = 0; task->results != NULL && q < job->req->nqueries; q++)
	{
		PQclear(task->results[q]);
		task->results[q] = NULL;
	}
	if (task->spool != NULL)
		CoordSpoolReset(task->spool);
	CoordConnDrop(task->cc);
	task->conn = NULL;

	/* same copy again, on a new connection */
	if (task->reused && server_fault && TaskTryCopy(task, task->copy))
		return;
	if (server_fault)
		CoordMarkServer(job->shard->copies[task->copy], false);
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
				/* from now on no libpq call waits to send (coordconn.c) */
				if (PQsetnonblocking(task->conn, 1) != 0)
				{
					TaskCopyFailed(task, pchomp(PQerrorMessage(task->conn)), true);
					break;
				}
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
	CoordRequest *req = task->job->req;
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
	task->sent = GetCurrentTimestamp();

	/*
	 * The first copy of a hedgeable request: when to ask another.  The
	 * clock starts now, not when connecting began: a copy that must connect
	 * first would otherwise be hedged, and its connection closed, each
	 * time, whenever connecting takes longer than its usual answer.
	 */
	if (task->job->may_hedge && task == &task->job->tasks[0] &&
		task->job->tasks[1].state == TASK_IDLE)
	{
		double		delay = CoordHedgeDelay(task->job->shard);

		task->job->hedge_at = delay < 0 ? 0 :
			task->sent + (TimestampTz) (delay * 1000.0);
	}

	if (PQpipelineStatus(conn) == PQ_PIPELINE_OFF &&
		(PQsetnonblocking(conn, 1) != 0 || PQenterPipelineMode(conn) != 1))
		goto failed;

	/* a request that only ends a held transaction sends nothing else */
	if (req->in_snapshot && req->nqueries == 0)
		goto commit;

	/*
	 * A transaction found open (which a two-phase search should not leave)
	 * ends here; its settings end with it.
	 */
	if (!req->in_snapshot && PQtransactionStatus(conn) != PQTRANS_IDLE)
	{
		if (!PQsendQueryParams(conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0))
			goto failed;
		task->first_query++;
		CoordConnResetSettings(task->cc);
	}

	/*
	 * One snapshot for both phases of a two-phase search, so the row
	 * identifiers of the first stay valid for the second.  BEGIN comes
	 * first: the isolation level cannot change once a query ran.
	 */
	if (req->open_snapshot)
	{
		if (!PQsendQueryParams(conn,
							   "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
							   0, NULL, NULL, NULL, NULL, 0))
			goto failed;
		task->first_query++;
	}

	/*
	 * Session settings: names in remote SQL are qualified, so that a
	 * search_path cannot redirect them; and the shard checks that the
	 * coordinator is still there while a query runs, so that closing a
	 * connection ends its query (see coordconn.c).
	 */
	if (CoordConnNeedsSetup(task->cc))
	{
		if (!PQsendQueryParams(conn,
							   "SELECT pg_catalog.set_config('search_path', 'pg_catalog', false), "
							   "pg_catalog.set_config('client_connection_check_interval', '"
							   CppAsString2(COORD_CHECK_INTERVAL_MS) "', false)",
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

	/*
	 * A command that cannot run in a pipeline (VACUUM) must be alone
	 * between two Syncs: the commands before it end at a Sync of their own.
	 */
	task->early_syncs = 0;
	if (req->alone && task->first_query > 0)
	{
		if (!PQpipelineSync(conn))
			goto failed;
		task->early_syncs = 1;
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
commit:
	if (req->in_snapshot)
	{
		if (!PQsendQueryParams(conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0))
			goto failed;
	}
	if (!PQpipelineSync(conn))
		goto failed;

	/*
	 * Rows one at a time: single-row mode is set for each command as it
	 * comes to the head of the pipeline, before libpq reads its rows (here
	 * for the first, in TaskReceive for the others).
	 */
	task->checked = false;
	if (req->stream && !req->whole)
		(void) PQsetSingleRowMode(conn);
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
 * Read what has arrived for task without blocking.  Each query's first
 * result is checked (CheckShape); a stream request's rows go to its spool
 * as they come.  When the pipeline's Sync arrives the request is done
 * (TaskDone).
 */
static void
TaskReceive(CoordTask *task)
{
	PGconn	   *conn = task->conn;
	CoordRequest *req = task->job->req;

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
		bool		shape_ok;
		int			row;

		if (res == NULL)
		{
			if (PQstatus(conn) != CONNECTION_OK)
			{
				TaskCopyFailed(task, pchomp(PQerrorMessage(conn)), true);
				return;
			}
			/* end of one command's results; the next is at the head */
			task->command++;
			task->checked = false;
			if (req->stream && !req->whole)
				(void) PQsetSingleRowMode(conn);
			continue;
		}

		switch (PQresultStatus(res))
		{
			case PGRES_PIPELINE_SYNC:
				PQclear(res);
				if (task->early_syncs > 0)
				{
					/* the next command follows without an end of results */
					task->early_syncs--;
					break;
				}
				TaskDone(task);
				return;
			case PGRES_SINGLE_TUPLE:
			case PGRES_TUPLES_OK:
				if (q < 0 || q >= req->nqueries)
				{
					PQclear(res);
					break;
				}
				/* TaskClear frees res if an error is raised meanwhile */
				task->current = res;
				shape_ok = task->checked || CheckShape(task, res);
				task->checked = true;
				for (row = 0; shape_ok && req->stream && row < PQntuples(res); row++)
					CoordSpoolAdd(task->spool, q, res, row);
				task->current = NULL;
				if (!shape_ok)
				{
					PQclear(res);
					return;		/* the copy failed */
				}
				if (req->stream)
					PQclear(res);
				else if (task->results[q] == NULL)
					task->results[q] = res;
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
 * The Sync of task's pipeline arrived: the request is done.  Its
 * connection stays held if an open_snapshot request left its transaction
 * open (also in error: the caller ends it), is idle again if the shard is
 * out of any transaction, and is closed otherwise (a request that was to
 * commit failed before its COMMIT): every transaction a request opens on a
 * shard ends with the request or the caller's next one.  An error the
 * shard returned is then kept (keep_errors), fails the copy (soft errors,
 * connection errors), or is raised.
 */
static void
TaskDone(CoordTask *task)
{
	PGconn	   *conn = task->conn;
	CoordRequest *req = task->job->req;
	CoordResult *res = task->job->res;
	PGTransactionStatusType tstatus = PQtransactionStatus(conn);

	if (task->error != NULL)
	{
		bool		conn_error = IsConnectionError(conn, task->error);

		/*
		 * The shard rolled its settings back (or will, when an explicit
		 * transaction it left in error is ended): send them again.  A
		 * statement whose Prepare failed or was skipped does not exist;
		 * those prepared before the error do (prepared statements are not
		 * transactional).
		 */
		CoordConnResetSettings(task->cc);
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
	}

	if (req->open_snapshot &&
		(tstatus == PQTRANS_INTRANS || tstatus == PQTRANS_INERROR))
		res->held = true;		/* stays busy; an abort closes it */
	else if (tstatus == PQTRANS_IDLE)
		CoordConnSetBusy(task->cc, false);
	else
	{
		/* closing the connection ends the transaction on the shard */
		CoordConnDrop(task->cc);
		task->conn = NULL;
	}
	task->state = TASK_DONE;
	JobWon(task);

	if (task->error != NULL)
	{
		if (!req->keep_errors)
			ReportRemoteError(task);
		/* the caller decides; the copy did answer */
		res->remote_error = task->error;
		task->error = NULL;
		return;
	}
	CoordMarkServer(task->job->shard->copies[task->copy], true);
	res->ok = true;
}

/*
 * Check res, the first result of a query of task's request: the columns
 * the request expects (none if nfields is 0), of their types, in the
 * format asked for.  A built-in type has the same OID on every server
 * (below FirstGenbkiObjectId), so the OIDs must be equal; a type created
 * later (vector, an enum, a composite) has an OID of its own on each
 * server, so a column of such a type is only required not to be of a
 * built-in one and its values are checked by the type's binary input
 * function, to the last byte (coordsearch.c).  A shard describes a domain
 * column by its base type, so types lists base types.
 *
 * A mismatch raises an error naming the shard, the column and the server;
 * with soft_errors it fails the copy instead, and false is returned.
 */
static bool
CheckShape(CoordTask *task, PGresult *res)
{
	CoordRequest *req = task->job->req;
	const char *shard = task->job->shard->name;
	const char *server = task->job->shard->copynames[task->copy];
	char	   *why = NULL;
	int			i;

	if (req->nfields == 0)
		return true;
	if (PQnfields(res) != req->nfields)
	{
		if (!req->soft_errors)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("shard \"%s\" returned %d columns, expected %d",
							shard, PQnfields(res), req->nfields),
					 errdetail("The answer came from server \"%s\".", server)));
		why = psprintf("returned %d columns, expected %d",
					   PQnfields(res), req->nfields);
	}
	for (i = 0; why == NULL && i < req->nfields; i++)
	{
		Oid			got = PQftype(res, i);
		Oid			want = req->types[i];
		int			format = req->binary_result ? 1 : 0;

		if ((got < FirstGenbkiObjectId || want < FirstGenbkiObjectId) &&
			got != want)
		{
			if (!req->soft_errors)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("shard \"%s\" returned column \"%s\" of type %s, expected %s",
								shard, req->colnames[i], RemoteTypeName(got),
								format_type_be(want)),
						 errdetail("The answer came from server \"%s\".", server)));
			why = psprintf("returned column \"%s\" of type %s, expected %s",
						   req->colnames[i], RemoteTypeName(got), format_type_be(want));
		}
		else if (PQfformat(res, i) != format)
		{
			if (!req->soft_errors)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("shard \"%s\" returned column \"%s\" in %s format, expected %s",
								shard, req->colnames[i],
								format ? "text" : "binary",
								format ? "binary" : "text"),
						 errdetail("The answer came from server \"%s\".", server)));
			why = psprintf("returned column \"%s\" in %s format, expected %s",
						   req->colnames[i], format ? "text" : "binary",
						   format ? "binary" : "text");
		}
	}
	if (why == NULL)
		return true;
	TaskCopyFailed(task, why, false);
	return false;
}

/*
 * The name of type, an OID from a shard: a built-in type's name, else only
 * the OID (it may name another type here, or none)
 */
static char *
RemoteTypeName(Oid type)
{
	if (type < FirstGenbkiObjectId)
		return format_type_be(type);
	return psprintf("OID %u (not built in)", type);
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

	task->error = NULL;
	CoordRaiseRemoteError(res, task->job->shard->copynames[task->copy],
						  task->job->req->sql);
}

/*
 * Raise the error in res, a shard's answer to sql on server, with the
 * shard's SQLSTATE; res is freed.
 */
void
CoordRaiseRemoteError(PGresult *res, const char *server, const char *sql)
{
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

	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", primary),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0,
			 errcontext("remote SQL command on server \"%s\": %s",
						server, sql)));
}
