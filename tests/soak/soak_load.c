/* SPDX-License-Identifier: MIT */
/*
 * tests/soak/soak_load.c - the soak's load generator: N echo connections
 * over one epoll loop in plain C (no corio, so that a corio bug cannot hide
 * on both sides).  Each connection sends chunks of a pseudo-random byte
 * stream of its own (seeded per connection), checks every byte that comes
 * back against the same stream, and after a think time sends the next;
 * after a random number of round trips it hangs up and connects again
 * (churn, so that accept and close run all along).  At the end every
 * connection finishes its round trip and closes.
 *
 *   soak_load -p PORT [-c CONNS] [-d SECONDS] [-t THINK_MS] [-s MAX_CHUNK]
 *             [-l LIFE] [-r REPORT_S] [host]
 *
 * Defaults: 100 connections, 10 s, 100 ms think time, chunks of 1-4096
 * bytes, about 100 round trips per connection (-l 0: no churn), progress
 * every 10 s (the stress suite kills it with -9 mid-transfer).  Prints a progress line every REPORT_S seconds and a final line
 * "soak_load: ... lost 0 corrupt 0 errors 0"; exits 0 only if no byte was
 * lost or wrong, no connection failed and every round trip completed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECTS_IN_FLIGHT 256
#define DRAIN_MS 60000 /* how long the last round trips may take */

enum state { IDLE, CONNECTING, TRIP, THINKING, DONE };

struct conn {
	int fd;
	enum state st;
	uint64_t seed;    /* of this connection's byte stream */
	uint64_t tx, rx;  /* stream offsets sent and verified */
	uint64_t chunk_end; /* tx offset where the current chunk ends */
	uint32_t trips_left; /* before a reconnect */
	uint32_t gen;     /* reconnections so far */
};

struct opts {
	const char *host;
	int port;
	unsigned conns;
	double secs;
	unsigned think_ms, max_chunk, life, report_s;
};

struct totals {
	uint64_t bytes, trips, connects, connect_errors, drops, lost, corrupt, extra;
};

static struct conn *conns;
static struct opts O;
static struct totals T;
static int ep;
static struct sockaddr_in dst;
static unsigned open_conns, connecting;
/* connections thinking, in order of wake time (the think time is fixed) */
static unsigned *q;
static uint64_t *q_when;
static unsigned q_head, q_len;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Bytes [off, off+n) of the stream @seed. */
static void stream_fill(uint64_t seed, uint64_t off, uint8_t *p, size_t n)
{
	uint64_t word = mix(seed ^ (off >> 3));
	for (size_t i = 0; i < n; i++, off++) {
		if (i && !(off & 7))
			word = mix(seed ^ (off >> 3));
		p[i] = (uint8_t)(word >> ((off & 7) * 8));
	}
}

static uint64_t rnd(uint64_t *s)
{
	*s = mix(*s);
	return *s;
}

static void q_push(unsigned i)
{
	unsigned at = (q_head + q_len++) % O.conns;
	q[at] = i;
	q_when[at] = now_ms() + O.think_ms;
}

static void start_connect(unsigned i);

static void conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
		open_conns--;
	}
}

/* A connection that failed: what it had in flight is lost. */
static void conn_failed(struct conn *c, const char *why, int err)
{
	if (T.drops + T.connect_errors < 10)
		fprintf(stderr, "soak_load: connection %ld %s: %s (%llu bytes in flight)\n",
			(long)(c - conns), why, strerror(err), (unsigned long long)(c->tx - c->rx));
	T.lost += c->tx - c->rx;
	if (c->st == CONNECTING) {
		T.connect_errors++;
		connecting--;
	} else {
		T.drops++;
	}
	conn_close(c);
	c->st = DONE;
}

static void next_chunk(struct conn *c, uint64_t *rs)
{
	c->chunk_end = c->tx + 1 + rnd(rs) % O.max_chunk;
	c->st = TRIP;
}

static void try_send(struct conn *c)
{
	static uint8_t buf[65536];
	while (c->st == TRIP && c->tx < c->chunk_end) {
		size_t n = c->chunk_end - c->tx;
		n = n > sizeof(buf) ? sizeof(buf) : n;
		stream_fill(c->seed, c->tx, buf, n);
		ssize_t k = send(c->fd, buf, n, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_failed(c, "send", errno);
			return;
		}
		c->tx += (uint64_t)k;
	}
}

/* The echo of the whole chunk is back. */
static void trip_done(struct conn *c, bool ending)
{
	T.trips++;
	if (ending) {
		c->st = DONE;
		conn_close(c);
		return;
	}
	if (--c->trips_left == 0) {
		conn_close(c);
		c->gen++;
		start_connect((unsigned)(c - conns));
		return;
	}
	c->st = THINKING;
	q_push((unsigned)(c - conns));
}

static void try_recv(struct conn *c, bool ending)
{
	static uint8_t buf[65536], want[65536];
	for (;;) {
		ssize_t k = recv(c->fd, buf, sizeof(buf), 0);
		if (k == 0) {
			conn_failed(c, "closed by the server", ECONNRESET);
			return;
		}
		if (k < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_failed(c, "recv", errno);
			return;
		}
		size_t n = (size_t)k;
		if (c->rx + n > c->tx) {
			T.extra += c->rx + n - c->tx;
			n = (size_t)(c->tx - c->rx);
		}
		stream_fill(c->seed, c->rx, want, n);
		if (memcmp(buf, want, n)) {
			for (size_t i = 0; i < n; i++)
				T.corrupt += buf[i] != want[i];
			fprintf(stderr, "soak_load: connection %ld: wrong bytes at offset %llu\n",
				(long)(c - conns), (unsigned long long)c->rx);
		}
		c->rx += n;
		T.bytes += n;
		if (c->st == TRIP && c->rx == c->chunk_end && c->tx == c->chunk_end)
			trip_done(c, ending);
		if (c->fd < 0 || c->st != TRIP)
			return; /* closed, or the next recv would find nothing */
	}
}

static void start_connect(unsigned i)
{
	struct conn *c = &conns[i];
	uint64_t rs = mix(c->seed ^ c->gen);
	c->seed = rs;
	c->tx = c->rx = c->chunk_end = 0;
	c->trips_left = O.life ? 1 + (uint32_t)(rnd(&rs) % (2 * O.life)) : UINT32_MAX;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->st = CONNECTING;
	connecting++;
	if (c->fd < 0) {
		conn_failed(c, "socket", errno);
		return;
	}
	open_conns++;
	int on = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET,
				 .data.u64 = i | (uint64_t)c->gen << 32};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev)) {
		conn_failed(c, "epoll_ctl", errno);
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) && errno != EINPROGRESS)
		conn_failed(c, "connect", errno);
}

static void connected(struct conn *c, bool ending)
{
	int err = 0;
	socklen_t len = sizeof(err);
	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		conn_failed(c, "connect", err);
		return;
	}
	connecting--;
	T.connects++;
	if (ending) {
		c->st = DONE;
		conn_close(c);
		return;
	}
	uint64_t rs = mix(c->seed + 1);
	next_chunk(c, &rs);
	try_send(c);
}

/* @tag: the connection's index and its generation when the event was
 * asked for: an event for a socket closed earlier in this batch must not
 * reach the one that replaced it. */
static void on_event(uint64_t tag, uint32_t events, bool ending)
{
	struct conn *c = &conns[(uint32_t)tag];
	if (c->fd < 0 || c->gen != (uint32_t)(tag >> 32))
		return;
	if (c->st == CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		connected(c, ending);
		if (c->fd < 0 || c->st != TRIP)
			return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		try_recv(c, ending);
	if (c->fd >= 0 && c->st == TRIP && (events & EPOLLOUT))
		try_send(c);
}

/* Wake the connections whose think time is over. */
static void wake_thinkers(uint64_t now, bool ending)
{
	while (q_len && q_when[q_head] <= now) {
		struct conn *c = &conns[q[q_head]];
		q_head = (q_head + 1) % O.conns;
		q_len--;
		if (ending) {
			c->st = DONE;
			conn_close(c);
			continue;
		}
		uint64_t rs = mix(c->seed ^ c->tx);
		next_chunk(c, &rs);
		try_send(c);
	}
}

static void report(uint64_t t0, const char *what)
{
	printf("%s t %.0f open %u connects %llu trips %llu bytes %llu lost %llu corrupt %llu "
	       "extra %llu drops %llu connect_errors %llu\n",
	       what, (double)(now_ms() - t0) / 1000, open_conns, (unsigned long long)T.connects,
	       (unsigned long long)T.trips, (unsigned long long)T.bytes,
	       (unsigned long long)T.lost, (unsigned long long)T.corrupt,
	       (unsigned long long)T.extra, (unsigned long long)T.drops,
	       (unsigned long long)T.connect_errors);
}

static unsigned busy(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < O.conns; i++)
		n += conns[i].st == TRIP || conns[i].st == CONNECTING;
	return n;
}

static int run(void)
{
	struct epoll_event evs[512];
	uint64_t t0 = now_ms(), end = t0 + (uint64_t)(O.secs * 1000);
	uint64_t next_report = t0 + O.report_s * 1000ull, drain_end = 0;
	unsigned started = 0;
	bool ending = false;
	for (;;) {
		uint64_t now = now_ms();
		if (!ending && now >= end) {
			ending = true;
			drain_end = now + DRAIN_MS;
		}
		while (started < O.conns && connecting < CONNECTS_IN_FLIGHT && !ending)
			start_connect(started++);
		wake_thinkers(ending ? UINT64_MAX : now, ending);
		if (ending && (!busy() || now >= drain_end))
			break;
		if (now >= next_report) {
			report(t0, "progress");
			next_report += O.report_s * 1000ull;
		}
		uint64_t until = ending ? drain_end : end;
		if (q_len && q_when[q_head] < until)
			until = q_when[q_head];
		if (next_report < until)
			until = next_report;
		int ms = until > now ? (int)(until - now) : 0;
		int n = epoll_wait(ep, evs, 512, ms);
		if (n < 0 && errno != EINTR) {
			perror("soak_load: epoll_wait");
			return 1;
		}
		for (int k = 0; k < n; k++)
			on_event(evs[k].data.u64, evs[k].events, ending);
	}
	unsigned unfinished = busy();
	for (unsigned i = 0; i < O.conns; i++)
		if (conns[i].st == TRIP || conns[i].st == CONNECTING)
			T.lost += conns[i].tx - conns[i].rx;
	report(t0, "soak_load:");
	if (unfinished)
		fprintf(stderr, "soak_load: %u round trips never completed\n", unfinished);
	bool ok = !unfinished && !T.lost && !T.corrupt && !T.extra && !T.drops &&
		  !T.connect_errors;
	for (unsigned i = 0; i < O.conns; i++)
		conn_close(&conns[i]);
	return ok ? 0 : 1;
}

static int usage(void)
{
	fputs("usage: soak_load -p PORT [-c CONNS] [-d SECONDS] [-t THINK_MS] [-s MAX_CHUNK]\n"
	      "                 [-l LIFE] [-r REPORT_S] [HOST]\n",
	      stderr);
	return 2;
}

static int setup(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < O.conns + 16) {
			fprintf(stderr, "soak_load: RLIMIT_NOFILE %llu is too low for %u connections\n",
				(unsigned long long)rl.rlim_cur, O.conns);
			return -1;
		}
	}
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)O.port);
	if (inet_pton(AF_INET, O.host, &dst.sin_addr) != 1) {
		fprintf(stderr, "soak_load: %s: not an IPv4 address\n", O.host);
		return -1;
	}
	conns = calloc(O.conns, sizeof(*conns));
	q = calloc(O.conns, sizeof(*q));
	q_when = calloc(O.conns, sizeof(*q_when));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || !q || !q_when || ep < 0) {
		perror("soak_load");
		return -1;
	}
	for (unsigned i = 0; i < O.conns; i++) {
		conns[i].fd = -1;
		conns[i].seed = mix(0x50a4 + i);
	}
	return 0;
}

int main(int argc, char **argv)
{
	O = (struct opts){.host = "127.0.0.1", .conns = 100, .secs = 10, .think_ms = 100,
			  .max_chunk = 4096, .life = 100, .report_s = 10};
	int opt;
	while ((opt = getopt(argc, argv, "p:c:d:t:s:l:r:")) != -1) {
		switch (opt) {
		case 'p': O.port = atoi(optarg); break;
		case 'c': O.conns = (unsigned)atoi(optarg); break;
		case 'd': O.secs = atof(optarg); break;
		case 't': O.think_ms = (unsigned)atoi(optarg); break;
		case 's': O.max_chunk = (unsigned)atoi(optarg); break;
		case 'l': O.life = (unsigned)atoi(optarg); break;
		case 'r': O.report_s = (unsigned)atoi(optarg); break;
		default: return usage();
		}
	}
	if (optind < argc)
		O.host = argv[optind++];
	if (optind < argc || O.port <= 0 || O.port > 65535 || !O.conns || !O.max_chunk ||
	    !O.report_s)
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (setup())
		return 1;
	return run();
}
