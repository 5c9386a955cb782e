/* SPDX-License-Identifier: MIT */
/*
 * bench/echo_pingpong.c - bench-echo's second load generator, written
 * apart from the first and sharing nothing with it or with corio: plain
 * epoll, level-triggered, non-blocking sockets, the way most real clients
 * are written.  N connections to 127.0.0.1:PORT.
 *
 * With a window of 1 (ping-pong) each connection sends one M-byte message
 * with one send() and waits until the whole echo is back before it sends
 * the next.  With a window of W > 1 (streaming) each connection keeps up
 * to W messages in flight: whenever the echoes make room it sends as many
 * whole messages as fit, in one send(), so the server sees bursts.  Every
 * echoed byte is checked against what was sent (a pattern that depends on
 * the connection and the offset in the stream).
 *
 * After the warm-up it prints "START" on its own line (bench-echo then
 * reads the server's counters), "END" when the measured window is over,
 * and then one line:
 *
 *   RESULT rts=N bytes=B secs=S p50_us=X p99_us=Y
 *
 * rts: messages whose echo completed inside the window; bytes: echoed
 * bytes received inside it; the latencies of messages sent and echoed
 * inside it.  Exit 1 on a wrong echo, a hang-up or a failed connect.
 *
 *   bench-echo-pingpong PORT CONNS SIZE WARMUP_S DURATION_S [WINDOW]
 */
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_WINDOW 256
#define READ_SIZE 65536

struct conn {
	int fd;
	unsigned char *pat;  /* the pattern, twice over: any slice is contiguous */
	size_t period;
	uint64_t sent, recvd; /* stream offsets */
	bool want_out;        /* EPOLLOUT armed: a send was cut short */
	uint64_t t0[MAX_WINDOW]; /* when message k went out, at k % window */
};

static size_t size, window;
static uint64_t from_ns, to_ns;
static uint64_t rts, bytes;      /* inside the window */
static uint32_t *lat;            /* ns, messages sent and echoed inside it */
static size_t nlat, caplat;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fail(const char *what)
{
	fprintf(stderr, "bench-echo-pingpong: %s\n", what);
	exit(1);
}

static void keep_latency(uint64_t ns)
{
	if (nlat == caplat) {
		caplat = caplat ? caplat * 2 : 1 << 16;
		lat = realloc(lat, caplat * sizeof(*lat));
		if (!lat)
			fail("out of memory");
	}
	lat[nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static int connect_one(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		fail("connect failed");
	int on = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		fail("fcntl failed");
	return fd;
}

/* The stream a connection sends: a byte pattern with a period longer than
 * the window, different for each connection. */
static void make_pattern(struct conn *c, int i)
{
	c->period = size * window < READ_SIZE ? READ_SIZE : size * window;
	c->pat = malloc(2 * c->period);
	if (!c->pat)
		fail("out of memory");
	for (size_t k = 0; k < c->period; k++)
		c->pat[k] = c->pat[k + c->period] = (unsigned char)(k * 7 + k / 251 + (size_t)i * 131);
}

static void arm(int ep, struct conn *c, int i, bool out)
{
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = (uint32_t)i};
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev))
		fail("epoll_ctl failed");
	c->want_out = out;
}

/* Send whole messages while the window has room for one (ping-pong: one
 * message when the last echo is complete), what a cut-short send left
 * first. */
static void pump(int ep, struct conn *c, int i)
{
	uint64_t limit = c->recvd + size * window;
	/* only whole messages: the end of the last one fully in the window */
	uint64_t end = c->sent % size ? c->sent + (size - c->sent % size) : c->sent;
	while (end + size <= limit)
		end += size;
	uint64_t now = 0;
	while (c->sent < end) {
		size_t off = (size_t)(c->sent % c->period), n = (size_t)(end - c->sent);
		if (n > c->period)
			n = c->period;
		if (!now)
			now = now_ns();
		for (uint64_t k = (c->sent + size - 1) / size; k * size < c->sent + n; k++)
			c->t0[k % window] = now; /* messages starting in this send */
		ssize_t w = send(c->fd, c->pat + off, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN)
			break; /* messages not started get a fresh time on the retry */
		if (w <= 0)
			fail("send failed: the server hung up");
		c->sent += (uint64_t)w;
	}
	bool out = c->sent < end;
	if (out != c->want_out)
		arm(ep, c, i, out);
}

static void on_readable(int ep, struct conn *c, int i, unsigned char *buf)
{
	ssize_t r = recv(c->fd, buf, READ_SIZE, 0);
	if (r < 0 && errno == EAGAIN)
		return;
	if (r <= 0)
		fail("the server hung up");
	if ((uint64_t)r > c->sent - c->recvd)
		fail("wrong echo: more bytes than were sent");
	for (size_t done = 0; done < (size_t)r;) {
		size_t off = (size_t)((c->recvd + done) % c->period), n = (size_t)r - done;
		if (n > c->period)
			n = c->period;
		if (memcmp(buf + done, c->pat + off, n))
			fail("wrong echo: the bytes differ from those sent");
		done += n;
	}
	uint64_t t = now_ns(), before = c->recvd;
	c->recvd += (uint64_t)r;
	bool in = t >= from_ns && t <= to_ns;
	if (in)
		bytes += (uint64_t)r;
	/* messages whose last byte came in with this read */
	for (uint64_t k = before / size; (k + 1) * size <= c->recvd; k++) {
		if (!in)
			continue;
		rts++;
		uint64_t t0 = c->t0[k % window];
		if (t0 >= from_ns)
			keep_latency(t - t0);
	}
	pump(ep, c, i);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 6 || argc > 7) {
		fprintf(stderr, "usage: bench-echo-pingpong PORT CONNS SIZE WARMUP_S DURATION_S "
				"[WINDOW]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int port = atoi(argv[1]), nconns = atoi(argv[2]);
	size = (size_t)atol(argv[3]);
	double warmup = atof(argv[4]), dur = atof(argv[5]);
	window = argc > 6 ? (size_t)atol(argv[6]) : 1;
	if (port <= 0 || nconns < 1 || size < 1 || dur <= 0 || warmup < 0 || window < 1 ||
	    window > MAX_WINDOW)
		fail("bad arguments");
	struct conn *cs = calloc((size_t)nconns, sizeof(*cs));
	unsigned char *buf = malloc(READ_SIZE);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!cs || !buf || ep < 0)
		fail("out of memory or descriptors");
	for (int i = 0; i < nconns; i++) {
		cs[i].fd = connect_one(port);
		make_pattern(&cs[i], i);
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev))
			fail("epoll_ctl failed");
	}
	from_ns = now_ns() + (uint64_t)(warmup * 1e9);
	to_ns = from_ns + (uint64_t)(dur * 1e9);
	for (int i = 0; i < nconns; i++)
		pump(ep, &cs[i], i);
	bool started = false;
	static struct epoll_event evs[512];
	for (;;) {
		uint64_t t = now_ns();
		if (t >= to_ns)
			break;
		if (!started && t >= from_ns) {
			started = true;
			printf("START\n");
			fflush(stdout);
		}
		int n = epoll_wait(ep, evs, 512, 100);
		if (n < 0 && errno != EINTR)
			fail("epoll_wait failed");
		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(ep, &cs[i], i, buf);
			else if (evs[k].events & EPOLLOUT)
				pump(ep, &cs[i], i);
		}
	}
	printf("END\n"); /* before anything else: the server is sampled now */
	fflush(stdout);
	if (!started || !rts)
		fail("no echo completed inside the window");
	qsort(lat, nlat, sizeof(*lat), cmp_u32);
	printf("RESULT rts=%llu bytes=%llu secs=%.3f p50_us=%.1f p99_us=%.1f\n",
	       (unsigned long long)rts, (unsigned long long)bytes, dur,
	       nlat ? lat[nlat / 2] / 1e3 : 0.0, nlat ? lat[nlat * 99 / 100] / 1e3 : 0.0);
	fflush(stdout);
	for (int i = 0; i < nconns; i++) {
		close(cs[i].fd);
		free(cs[i].pat);
	}
	free(cs);
	free(buf);
	free(lat);
	close(ep);
	return 0;
}
