/*-------------------------------------------------------------------------
 *
 * netsim_proxy.c
 *	  A fault-injecting TCP proxy, put in front of a shard server so that
 *	  tests and benchmarks can give it a slow, lossy or dead network.
 *
 * One process forwards one listening port on loopback to one target port
 * on loopback.  Every chunk of bytes read from one side is queued with the
 * time it may be written to the other side; chunks of one direction of one
 * connection leave in the order they came, so the byte stream is delayed
 * but never reordered.  While traffic flows, one-line commands on a control
 * port (listed in usage() and test/netsim/README.md) add latency with
 * jitter, limit bandwidth, stall queries, reset connections, refuse them,
 * or swallow them in a black hole.
 *
 * It is a single-threaded poll() loop: ppoll's timeout has nanosecond
 * resolution and the timer slack is set to the minimum, so sub-millisecond
 * latencies are honoured to within the scheduler's delay.  It talks to
 * loopback addresses only, by design: it is a test tool.
 *
 * IDENTIFICATION
 *	  test/netsim/netsim_proxy.c
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_MAX		(64 * 1024) /* most bytes read into one chunk */
#define QUEUE_MAX		(1024 * 1024)	/* stop reading a side past this */
#define CONTROL_LINE_MAX 256

/* one chunk of bytes on its way, or end of stream when len is 0 */
typedef struct Chunk
{
	struct Chunk *next;
	int64_t		due;			/* monotonic microseconds it may leave at */
	size_t		len;
	size_t		off;			/* bytes of it already written */
	char		data[];
} Chunk;

/* one direction of a connection */
typedef struct Flow
{
	int		   *from;			/* the socket read from ... */
	int		   *to;				/* ... and the one written to */
	Chunk	   *head;
	Chunk	   *tail;
	size_t		queued;			/* bytes in the queue */
	int64_t		last_due;		/* due time of the newest chunk: order */
	bool		eof_read;		/* end of stream queued: read no more */
	bool		done;			/* end of stream passed on */
	bool		blocked;		/* a due chunk did not fit: wait for POLLOUT */
	int			link;			/* 0 = to the server, 1 = to the client */
} Flow;

typedef struct Conn
{
	struct Conn *next;
	unsigned long id;
	int			client;
	int			server;			/* -1 until connecting starts */
	bool		connected;		/* the connection to the server is made */
	Flow		up;				/* client to server */
	Flow		down;			/* server to client */
} Conn;

/* a connection to the control port */
typedef struct Control
{
	struct Control *next;
	int			fd;
	size_t		len;
	char		line[CONTROL_LINE_MAX];
} Control;

/* what the network does now; changed by control commands */
static struct
{
	int64_t		latency;		/* microseconds, each direction */
	int64_t		jitter;
	int64_t		bandwidth;		/* bytes per second, 0 = unlimited */
	int64_t		stall;			/* microseconds */
	double		stall_percent;
	bool		refuse;
	bool		blackhole;
} net;

/* counters reported by "status" */
static struct
{
	unsigned long accepted;
	unsigned long active;
	unsigned long long bytes[2];	/* [0] to the server, [1] to the client */
	unsigned long stalls;
	unsigned long resets;
} stats;

static struct sockaddr_in listen_addr;
static struct sockaddr_in target_addr;
static struct sockaddr_in control_addr;
static int	listen_fd = -1;
static int	control_fd = -1;
static Conn *conns;
static Control *controls;
static int64_t link_free[2];	/* when each direction's link is next idle */
static uint64_t rng_state;
static bool verbose;
static const char *progname = "netsim_proxy";

static void
usage(FILE *out)
{
	fprintf(out,
			"%s forwards TCP connections on loopback and injects network faults.\n\n"
			"Usage:\n"
			"  %s -l [ADDR:]PORT -t [ADDR:]PORT -c [ADDR:]PORT [OPTION]...\n\n"
			"Options:\n"
			"  -l, --listen=[ADDR:]PORT   accept connections here\n"
			"  -t, --target=[ADDR:]PORT   forward them to this server\n"
			"  -c, --control=[ADDR:]PORT  accept one-line commands here\n"
			"  -e, --execute=COMMAND      run a control command at start (repeatable)\n"
			"  -s, --seed=N               seed of the random draws (default: the time)\n"
			"  -v, --verbose              log connections to standard error\n"
			"  -h, --help                 show this help, then exit\n\n"
			"Addresses must be on loopback (127.0.0.0/8); ADDR defaults to 127.0.0.1.\n\n"
			"Control commands (durations in milliseconds, fractions allowed):\n"
			"  latency MS [JITTER_MS]   delay each chunk, each direction, by MS +- JITTER_MS\n"
			"  bandwidth BYTES_PER_S    limit each direction of the proxy (0 = no limit)\n"
			"  stall MS PERCENT         hold PERCENT of the chunks to the server for MS more\n"
			"  reset                    close every connection with a RST\n"
			"  refuse on|off            refuse new connections\n"
			"  blackhole on|off         accept, but never connect or forward\n"
			"  normal                   all faults off\n"
			"  status                   settings and counters\n"
			"Each command is answered by one line: \"ok ...\" or \"error: ...\".\n",
			progname, progname);
}

/* Print a message to standard error; exit if it is fatal. */
static void
report(bool is_fatal, const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (is_fatal)
		exit(1);
}

#define fatal(...) report(true, __VA_ARGS__)
#define logmsg(...) do { if (verbose) report(false, __VA_ARGS__); } while (0)

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Return a uniform draw in [0, 1) (xorshift64*). */
static double
random_unit(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return ((rng_state * UINT64_C(2685821657736338717)) >> 11) * (1.0 / 9007199254740992.0);
}

/*
 * Parse "[ADDR:]PORT" into *addr; ADDR must be an IPv4 loopback address.
 * Return false if it is not that.
 */
static bool
parse_address(const char *s, struct sockaddr_in *addr)
{
	char		host[64] = "127.0.0.1";
	const char *colon = strrchr(s, ':');
	const char *port = s;
	char	   *end;
	long		p;

	if (colon)
	{
		if (colon - s >= (long) sizeof(host))
			return false;
		memcpy(host, s, colon - s);
		host[colon - s] = '\0';
		port = colon + 1;
	}
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &addr->sin_addr) != 1 ||
		(ntohl(addr->sin_addr.s_addr) >> 24) != 127)
		return false;
	errno = 0;
	p = strtol(port, &end, 10);
	if (errno || *port == '\0' || *end != '\0' || p < 0 || p > 65535)
		return false;
	addr->sin_port = htons((uint16_t) p);
	return true;
}

static void
set_nonblocking(int fd)
{
	int			flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		fatal("could not make socket non-blocking: %s", strerror(errno));
}

/* Open a non-blocking listening socket on *addr, or return -1 (errno set). */
static int
open_listener(const struct sockaddr_in *addr)
{
	int			fd = socket(AF_INET, SOCK_STREAM, 0);
	int			one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *) addr, sizeof(*addr)) < 0 ||
		listen(fd, 128) < 0)
	{
		int			save = errno;

		close(fd);
		errno = save;
		return -1;
	}
	set_nonblocking(fd);
	return fd;
}

/*
 * Close a socket with a RST instead of a FIN: a zero linger time makes
 * close() abort the connection.
 */
static void
close_reset(int fd)
{
	struct linger lg = {1, 0};

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void
free_flow(Flow *f)
{
	while (f->head)
	{
		Chunk	   *c = f->head;

		f->head = c->next;
		free(c);
	}
	f->tail = NULL;
	f->queued = 0;
}

/* Unlink conn from the list, close both its sockets (with a RST if abort). */
static void
drop_conn(Conn *conn, bool abort)
{
	Conn	  **p;

	for (p = &conns; *p != conn; p = &(*p)->next)
		;
	*p = conn->next;
	if (abort)
	{
		close_reset(conn->client);
		close_reset(conn->server);
	}
	else
	{
		close(conn->client);
		if (conn->server >= 0)
			close(conn->server);
	}
	free_flow(&conn->up);
	free_flow(&conn->down);
	stats.active--;
	logmsg("connection %lu %s", conn->id, abort ? "reset" : "closed");
	free(conn);
}

/* Start connecting conn to the target; on failure, reset the client. */
static bool
connect_server(Conn *conn)
{
	int			one = 1;

	conn->server = socket(AF_INET, SOCK_STREAM, 0);
	if (conn->server < 0)
	{
		logmsg("could not create socket: %s", strerror(errno));
		drop_conn(conn, true);
		return false;
	}
	set_nonblocking(conn->server);
	setsockopt(conn->server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(conn->server, (struct sockaddr *) &target_addr,
				sizeof(target_addr)) == 0)
		conn->connected = true;
	else if (errno != EINPROGRESS)
	{
		logmsg("connection %lu: could not connect to the target: %s",
			   conn->id, strerror(errno));
		drop_conn(conn, true);
		return false;
	}
	return true;
}

/*
 * Accept the connections waiting.  In black hole mode they are accepted and
 * left alone: no connection to the server is made until the mode ends.
 */
static void
accept_conns(void)
{
	static unsigned long next_id = 1;
	int			fd;
	int			one = 1;
	Conn	   *conn;

	while (listen_fd >= 0 && (fd = accept(listen_fd, NULL, NULL)) >= 0)
	{
		set_nonblocking(fd);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		conn = calloc(1, sizeof(Conn));
		if (!conn)
			fatal("out of memory");
		conn->id = next_id++;
		conn->client = fd;
		conn->server = -1;
		conn->up.from = &conn->client;
		conn->up.to = &conn->server;
		conn->up.link = 0;
		conn->down.from = &conn->server;
		conn->down.to = &conn->client;
		conn->down.link = 1;
		conn->next = conns;
		conns = conn;
		stats.accepted++;
		stats.active++;
		logmsg("connection %lu accepted%s", conn->id,
			   net.blackhole ? " into the black hole" : "");
		if (!net.blackhole)
			connect_server(conn);
	}
}

/*
 * Return when a chunk of len bytes read now into f may be written out:
 * the latency with its jitter, a stall if one is drawn (queries only), then
 * the link's bandwidth, and never before the chunk read before it.
 */
static int64_t
due_time(Flow *f, size_t len, int64_t now)
{
	int64_t		delay = net.latency;
	int64_t		due;

	if (net.jitter > 0)
		delay += (int64_t) ((2.0 * random_unit() - 1.0) * net.jitter);
	if (delay < 0)
		delay = 0;
	if (f->link == 0 && net.stall > 0 && len > 0 &&
		random_unit() * 100.0 < net.stall_percent)
	{
		delay += net.stall;
		stats.stalls++;
	}
	due = now + delay;
	if (net.bandwidth > 0 && len > 0)
	{
		if (due < link_free[f->link])
			due = link_free[f->link];
		due += (int64_t) len * 1000000 / net.bandwidth;
		link_free[f->link] = due;
	}
	if (due < f->last_due)
		due = f->last_due;
	f->last_due = due;
	return due;
}

/* Append a chunk of len bytes (0: end of stream) to f. */
static void
enqueue(Flow *f, const char *data, size_t len, int64_t now)
{
	Chunk	   *c = malloc(sizeof(Chunk) + len);

	if (!c)
		fatal("out of memory");
	c->next = NULL;
	c->len = len;
	c->off = 0;
	if (len > 0)
		memcpy(c->data, data, len);
	c->due = due_time(f, len, now);
	if (f->tail)
		f->tail->next = c;
	else
		f->head = c;
	f->tail = c;
	f->queued += len;
}

/*
 * Read what f's source has into a new chunk.  Return false if the
 * connection is gone (it has been dropped).
 */
static bool
read_flow(Conn *conn, Flow *f, int64_t now)
{
	static char buf[CHUNK_MAX];
	size_t		want = CHUNK_MAX;
	ssize_t		n;

	/*
	 * Under a bandwidth limit read at most 10 ms worth of bytes at a time,
	 * so that a chunk's serialisation delay stays short.
	 */
	if (net.bandwidth > 0 && (size_t) (net.bandwidth / 100) < want)
		want = net.bandwidth / 100 > 512 ? net.bandwidth / 100 : 512;
	n = recv(*f->from, buf, want, 0);
	if (n > 0)
	{
		enqueue(f, buf, n, now);
		return true;
	}
	if (n == 0)
	{
		enqueue(f, NULL, 0, now);
		f->eof_read = true;
		return true;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return true;
	logmsg("connection %lu: read from the %s failed: %s", conn->id,
		   f->link == 0 ? "client" : "server", strerror(errno));
	drop_conn(conn, true);
	return false;
}

/*
 * Write f's chunks that are due.  Return false if the connection is gone
 * (it has been dropped).
 */
static bool
flush_flow(Conn *conn, Flow *f, int64_t now)
{
	f->blocked = false;
	while (f->head && f->head->due <= now)
	{
		Chunk	   *c = f->head;

		if (c->len == 0)
		{
			shutdown(*f->to, SHUT_WR);
			f->done = true;
		}
		else
		{
			ssize_t		n = send(*f->to, c->data + c->off, c->len - c->off,
								 MSG_NOSIGNAL);

			if (n < 0)
			{
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				{
					f->blocked = true;
					return true;
				}
				logmsg("connection %lu: write to the %s failed: %s", conn->id,
					   f->link == 0 ? "server" : "client", strerror(errno));
				drop_conn(conn, true);
				return false;
			}
			c->off += n;
			stats.bytes[f->link] += n;
			if (c->off < c->len)
			{
				f->blocked = true;
				return true;
			}
			f->queued -= c->len;
		}
		f->head = c->next;
		if (!f->head)
			f->tail = NULL;
		free(c);
	}
	return true;
}

/* Parse a duration in milliseconds into *us; false if it is not one. */
static bool
parse_ms(const char *s, int64_t *us)
{
	char	   *end;
	double		v;

	if (!s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !(v >= 0 && v <= 3600000))
		return false;
	*us = (int64_t) (v * 1000.0 + 0.5);
	return true;
}

/* Parse "on" or "off" into *b. */
static bool
parse_onoff(const char *s, bool *b)
{
	if (s && strcmp(s, "on") == 0)
		*b = true;
	else if (s && strcmp(s, "off") == 0)
		*b = false;
	else
		return false;
	return true;
}

/* Stop or start listening, as net.refuse says; false if it cannot listen. */
static bool
apply_refuse(void)
{
	if (net.refuse && listen_fd >= 0)
	{
		/* pending connections in the backlog get a RST too */
		close(listen_fd);
		listen_fd = -1;
	}
	else if (!net.refuse && listen_fd < 0)
	{
		listen_fd = open_listener(&listen_addr);
		if (listen_fd < 0)
			return false;
	}
	return true;
}

/* Connect the connections the black hole held, now that it is off. */
static void
release_black_hole(void)
{
	Conn	   *conn,
			   *next;

	for (conn = conns; conn; conn = next)
	{
		next = conn->next;
		if (conn->server < 0)
			connect_server(conn);
	}
}

/*
 * Run one control command; write the one-line answer into reply.  Every
 * command either applies completely or not at all.
 */
static void
run_command(char *line, char *reply, size_t size)
{
	char	   *save = NULL;
	char	   *cmd = strtok_r(line, " \t\r\n", &save);
	char	   *a1 = cmd ? strtok_r(NULL, " \t\r\n", &save) : NULL;
	char	   *a2 = a1 ? strtok_r(NULL, " \t\r\n", &save) : NULL;
	char	   *a3 = a2 ? strtok_r(NULL, " \t\r\n", &save) : NULL;
	int64_t		x,
				y = 0;
	bool		b;

	if (!cmd)
		snprintf(reply, size, "error: empty command");
	else if (a3)
		snprintf(reply, size, "error: too many arguments to \"%s\"", cmd);
	else if (strcmp(cmd, "latency") == 0)
	{
		if (!parse_ms(a1, &x) || (a2 && !parse_ms(a2, &y)))
			snprintf(reply, size, "error: usage: latency MS [JITTER_MS]");
		else
		{
			net.latency = x;
			net.jitter = y;
			snprintf(reply, size, "ok");
		}
	}
	else if (strcmp(cmd, "bandwidth") == 0)
	{
		char	   *end;
		long long	v;

		errno = 0;
		v = a1 ? strtoll(a1, &end, 10) : -1;
		if (!a1 || a2 || errno || *end != '\0' || v < 0)
			snprintf(reply, size, "error: usage: bandwidth BYTES_PER_SECOND");
		else
		{
			net.bandwidth = v;
			link_free[0] = link_free[1] = 0;
			snprintf(reply, size, "ok");
		}
	}
	else if (strcmp(cmd, "stall") == 0)
	{
		char	   *end = NULL;
		double		pct = a2 ? strtod(a2, &end) : -1;

		if (!parse_ms(a1, &x) || !a2 || *end != '\0' || !(pct >= 0 && pct <= 100))
			snprintf(reply, size, "error: usage: stall MS PERCENT");
		else
		{
			net.stall = x;
			net.stall_percent = pct;
			snprintf(reply, size, "ok");
		}
	}
	else if (strcmp(cmd, "reset") == 0 && !a1)
	{
		unsigned long n = 0;

		while (conns)
		{
			drop_conn(conns, true);
			n++;
		}
		stats.resets += n;
		snprintf(reply, size, "ok reset %lu connections", n);
	}
	else if (strcmp(cmd, "refuse") == 0 || strcmp(cmd, "blackhole") == 0)
	{
		bool		was_held = net.blackhole;

		if (!parse_onoff(a1, &b) || a2)
			snprintf(reply, size, "error: usage: %s on|off", cmd);
		else if (cmd[0] == 'r')
		{
			net.refuse = b;
			if (apply_refuse())
				snprintf(reply, size, "ok");
			else
				snprintf(reply, size, "error: could not listen again: %s",
						 strerror(errno));
		}
		else
		{
			net.blackhole = b;
			if (was_held && !b)
				release_black_hole();
			snprintf(reply, size, "ok");
		}
	}
	else if (strcmp(cmd, "normal") == 0 && !a1)
	{
		bool		was_held = net.blackhole;

		memset(&net, 0, sizeof(net));
		link_free[0] = link_free[1] = 0;
		if (was_held)
			release_black_hole();
		if (apply_refuse())
			snprintf(reply, size, "ok");
		else
			snprintf(reply, size, "error: could not listen again: %s",
					 strerror(errno));
	}
	else if (strcmp(cmd, "status") == 0 && !a1)
		snprintf(reply, size,
				 "ok latency=%.3f jitter=%.3f bandwidth=%lld stall=%.3f "
				 "stall_percent=%g refuse=%s blackhole=%s accepted=%lu "
				 "active=%lu bytes_to_server=%llu bytes_to_client=%llu "
				 "stalls=%lu resets=%lu",
				 net.latency / 1000.0, net.jitter / 1000.0,
				 (long long) net.bandwidth, net.stall / 1000.0,
				 net.stall_percent, net.refuse ? "on" : "off",
				 net.blackhole ? "on" : "off", stats.accepted, stats.active,
				 stats.bytes[0], stats.bytes[1], stats.stalls, stats.resets);
	else
		snprintf(reply, size, "error: unknown command \"%s\" (see %s --help)",
				 cmd, progname);
}

/*
 * Read what a control connection sent and answer each complete line.
 * Return false when the connection is closed (it has been freed).
 */
static bool
read_control(Control *ctl)
{
	ssize_t		n = recv(ctl->fd, ctl->line + ctl->len,
						 sizeof(ctl->line) - 1 - ctl->len, 0);
	char	   *nl;

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return true;
	if (n <= 0)
	{
		Control   **p;

		for (p = &controls; *p != ctl; p = &(*p)->next)
			;
		*p = ctl->next;
		close(ctl->fd);
		free(ctl);
		return false;
	}
	ctl->len += n;
	ctl->line[ctl->len] = '\0';
	while ((nl = strchr(ctl->line, '\n')) != NULL)
	{
		char		reply[512];
		size_t		rest;

		*nl = '\0';
		logmsg("control: %s", ctl->line);
		run_command(ctl->line, reply, sizeof(reply) - 1);
		strcat(reply, "\n");
		/* a short answer to a waiting client: it fits the socket buffer */
		if (send(ctl->fd, reply, strlen(reply), MSG_NOSIGNAL) < 0)
			logmsg("control: could not answer: %s", strerror(errno));
		rest = ctl->len - (nl + 1 - ctl->line);
		memmove(ctl->line, nl + 1, rest + 1);
		ctl->len = rest;
	}
	if (ctl->len == sizeof(ctl->line) - 1)
	{
		/* a line too long to be a command: drop it */
		ctl->len = 0;
		send(ctl->fd, "error: line too long\n", 21, MSG_NOSIGNAL);
	}
	return true;
}

static void
accept_control(void)
{
	int			fd = accept(control_fd, NULL, NULL);
	Control    *ctl;

	if (fd < 0)
		return;
	set_nonblocking(fd);
	ctl = calloc(1, sizeof(Control));
	if (!ctl)
		fatal("out of memory");
	ctl->fd = fd;
	ctl->next = controls;
	controls = ctl;
}

/* Should f's source be read now? */
static bool
wants_read(Conn *conn, Flow *f)
{
	return !net.blackhole && *f->from >= 0 && !f->eof_read &&
		f->queued < QUEUE_MAX && (f->link == 0 || conn->connected);
}

/* What poll should wait for on fd of conn. */
static short
conn_events(Conn *conn, int fd)
{
	short		ev = 0;

	if (fd < 0 || net.blackhole)
		return 0;
	if (fd == conn->server && !conn->connected)
		return POLLOUT;			/* connect() is done when writable */
	if (fd == *conn->up.from && wants_read(conn, &conn->up))
		ev |= POLLIN;
	if (fd == *conn->down.from && wants_read(conn, &conn->down))
		ev |= POLLIN;
	if ((fd == *conn->up.to && conn->up.blocked) ||
		(fd == *conn->down.to && conn->down.blocked))
		ev |= POLLOUT;
	return ev;
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"listen", required_argument, NULL, 'l'},
		{"target", required_argument, NULL, 't'},
		{"control", required_argument, NULL, 'c'},
		{"execute", required_argument, NULL, 'e'},
		{"seed", required_argument, NULL, 's'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	bool		have_listen = false,
				have_target = false,
				have_control = false;
	char	  **commands = calloc(argc, sizeof(char *));
	int			ncommands = 0;
	struct pollfd *pfds = NULL;
	size_t		pfds_size = 0;
	int			opt;

	rng_state = (uint64_t) time(NULL) * 2654435761u + getpid();
	while ((opt = getopt_long(argc, argv, "l:t:c:e:s:vh", long_options, NULL)) != -1)
	{
		switch (opt)
		{
			case 'l':
				if (!(have_listen = parse_address(optarg, &listen_addr)))
					fatal("invalid listen address \"%s\": [127.x.x.x:]PORT expected", optarg);
				break;
			case 't':
				if (!(have_target = parse_address(optarg, &target_addr)))
					fatal("invalid target address \"%s\": [127.x.x.x:]PORT expected", optarg);
				break;
			case 'c':
				if (!(have_control = parse_address(optarg, &control_addr)))
					fatal("invalid control address \"%s\": [127.x.x.x:]PORT expected", optarg);
				break;
			case 'e':
				commands[ncommands++] = optarg;
				break;
			case 's':
				rng_state = strtoull(optarg, NULL, 10) * 2654435761u + 1;
				break;
			case 'v':
				verbose = true;
				break;
			case 'h':
				usage(stdout);
				exit(0);
			default:
				fprintf(stderr, "Try \"%s --help\" for more information.\n", progname);
				exit(2);
		}
	}
	if (optind < argc || !have_listen || !have_target || !have_control)
	{
		usage(stderr);
		exit(2);
	}
	signal(SIGPIPE, SIG_IGN);
	/* wake up when asked, not up to 50 us later: latencies are short */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	for (int i = 0; i < ncommands; i++)
	{
		char		reply[512];
		char	   *line = strdup(commands[i]);

		run_command(line, reply, sizeof(reply));
		if (strncmp(reply, "ok", 2) != 0)
			fatal("command \"%s\": %s", commands[i], reply);
		free(line);
	}
	if (!net.refuse && (listen_fd = open_listener(&listen_addr)) < 0)
		fatal("could not listen on port %d: %s", ntohs(listen_addr.sin_port),
			  strerror(errno));
	if ((control_fd = open_listener(&control_addr)) < 0)
		fatal("could not listen on control port %d: %s",
			  ntohs(control_addr.sin_port), strerror(errno));
	logmsg("forwarding port %d to port %d, control on port %d",
		   ntohs(listen_addr.sin_port), ntohs(target_addr.sin_port),
		   ntohs(control_addr.sin_port));

	for (;;)
	{
		int64_t		now = now_us();
		int64_t		wake = INT64_MAX;
		size_t		npfds = 0;
		size_t		need = 2;
		struct timespec ts;
		Conn	   *conn,
				   *next;
		Control    *ctl,
				   *nextctl;

		/* send what is due, close what is finished; find the next due time */
		for (conn = conns; conn; conn = next)
		{
			next = conn->next;
			need += 2;
			if (net.blackhole || !conn->connected)
				continue;
			if (!flush_flow(conn, &conn->up, now) ||
				!flush_flow(conn, &conn->down, now))
				continue;
			if (conn->up.done && conn->down.done)
			{
				drop_conn(conn, false);
				continue;
			}
			if (conn->up.head && !conn->up.blocked && conn->up.head->due < wake)
				wake = conn->up.head->due;
			if (conn->down.head && !conn->down.blocked && conn->down.head->due < wake)
				wake = conn->down.head->due;
		}
		for (ctl = controls; ctl; ctl = ctl->next)
			need++;

		/* one pollfd per socket; conns and controls find theirs by order */
		if (need > pfds_size)
		{
			pfds_size = need * 2;
			pfds = realloc(pfds, pfds_size * sizeof(struct pollfd));
			if (!pfds)
				fatal("out of memory");
		}
		pfds[npfds++] = (struct pollfd) {listen_fd, POLLIN, 0};
		pfds[npfds++] = (struct pollfd) {control_fd, POLLIN, 0};
		for (ctl = controls; ctl; ctl = ctl->next)
			pfds[npfds++] = (struct pollfd) {ctl->fd, POLLIN, 0};
		for (conn = conns; conn; conn = conn->next)
		{
			short		ce = conn_events(conn, conn->client);
			short		se = conn_events(conn, conn->server);

			/* a negative fd is ignored by poll */
			pfds[npfds++] = (struct pollfd) {ce ? conn->client : -1, ce, 0};
			pfds[npfds++] = (struct pollfd) {se ? conn->server : -1, se, 0};
		}

		if (wake != INT64_MAX)
		{
			int64_t		wait = wake > now ? wake - now : 0;

			ts.tv_sec = wait / 1000000;
			ts.tv_nsec = (wait % 1000000) * 1000;
		}
		if (ppoll(pfds, npfds, wake != INT64_MAX ? &ts : NULL, NULL) < 0)
		{
			if (errno == EINTR)
				continue;
			fatal("poll failed: %s", strerror(errno));
		}
		now = now_us();

		/*
		 * Connections first (they may drop themselves), then control
		 * commands (which may drop any connection), then new connections
		 * (which the pollfd array does not know yet).
		 */
		npfds = 2;
		for (ctl = controls; ctl; ctl = ctl->next)
			npfds++;
		for (conn = conns; conn; conn = next)
		{
			short		cre = pfds[npfds++].revents;
			short		sre = pfds[npfds++].revents;

			next = conn->next;
			if (sre && conn->server >= 0 && !conn->connected)
			{
				int			err = 0;
				socklen_t	len = sizeof(err);

				if (getsockopt(conn->server, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
					err = errno;
				if (err)
				{
					logmsg("connection %lu: could not connect to the target: %s",
						   conn->id, strerror(err));
					drop_conn(conn, true);
					continue;
				}
				conn->connected = true;
				sre = 0;
			}
			if ((cre & (POLLIN | POLLHUP | POLLERR)) && wants_read(conn, &conn->up) &&
				!read_flow(conn, &conn->up, now))
				continue;
			if ((sre & (POLLIN | POLLHUP | POLLERR)) && wants_read(conn, &conn->down))
				read_flow(conn, &conn->down, now);
			/* POLLOUT: the loop's next flush writes what is due */
		}
		npfds = 2;
		for (ctl = controls; ctl; ctl = nextctl)
		{
			nextctl = ctl->next;
			if (pfds[npfds++].revents)
				read_control(ctl);
		}
		if (pfds[1].revents & POLLIN)
			accept_control();
		if (listen_fd >= 0 && pfds[0].fd == listen_fd && (pfds[0].revents & POLLIN))
			accept_conns();
	}
}
