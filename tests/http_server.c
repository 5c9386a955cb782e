/* SPDX-License-Identifier: MIT */
/*
 * tests/http_server.c - corio_http_serve() over real loopback sockets: a
 * server on its own loop in its own thread, clients in the test's thread
 * (raw sockets with receive timeouts, curl, python3's http.client).
 * Malformed and smuggling-shaped requests earn their status and a close;
 * keep-alive, HEAD, bodies (length, chunked, 100-continue), pipelining,
 * streamed and file responses, timeouts and graceful stop.  Every wait is
 * for an event (EOF, a child's exit) under a bound.
 */
#include "http_fixtures.h"
#include "util.h"

#include <corio/http.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the server under test ----------------------------------------------- */

static char file_path[256];
static atomic_int slow_started;

static int sink(corio_http_request *req)
{
	char buf[8192];
	size_t total = 0;
	ssize_t n;
	while ((n = corio_http_request_read(req, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	if (n < 0)
		return (int)n;
	char out[32];
	int k = snprintf(out, sizeof(out), "%zu\n", total);
	return corio_http_respond(req, 200, "text/plain", out, (size_t)k);
}

static int echo(corio_http_request *req)
{
	char buf[16384];
	int err = corio_http_respond_start(req, 200, "application/octet-stream");
	ssize_t n = 0;
	while (!err && (n = corio_http_request_read(req, buf, sizeof(buf))) > 0)
		err = corio_http_write(req, buf, (size_t)n);
	if (!err && n < 0)
		err = (int)n;
	return err ? err : corio_http_finish(req);
}

static int stream(corio_http_request *req)
{
	int err = corio_http_respond_start(req, 200, "text/plain");
	for (int i = 0; i < 5 && !err; i++)
		err = corio_http_write(req, "chunk\n", 6);
	return err ? err : corio_http_finish(req);
}

static int file(corio_http_request *req)
{
	int fd = open(file_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int err = corio_http_respond_file(req, 206, "application/octet-stream", fd, 100, 1000);
	close(fd);
	return err;
}

/* 64 MiB of a sparse file, for a client that stops reading: the handler's
 * result tells the test how the send ended (1 while it runs). */
static atomic_int big_result;

static int big(corio_http_request *req)
{
	char path[300];
	snprintf(path, sizeof(path), "%s.big", file_path);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	unlink(path);
	int err = ftruncate(fd, 64 << 20) ? -errno : 0;
	atomic_store(&big_result, 1);
	if (!err)
		err = corio_http_respond_file(req, 200, "application/octet-stream", fd, 0, 64 << 20);
	close(fd);
	atomic_store(&big_result, err ? err : 2);
	return err;
}

static int handler(corio_http_request *req, void *arg)
{
	(void)arg;
	const char *t = corio_http_request_target(req);
	if (strncmp(t, "/hello", 6) == 0) {
		/* the body names the target, so pipelined answers can be told apart */
		char body[512];
		int n = snprintf(body, sizeof(body), "hello %s\n", t);
		corio_http_set_header(req, "X-Test", "yes");
		return corio_http_respond(req, 200, "text/plain", body, (size_t)n);
	}
	if (strcmp(t, "/sink") == 0)
		return sink(req);
	if (strcmp(t, "/echo") == 0)
		return echo(req);
	if (strcmp(t, "/noread") == 0)
		return corio_http_respond(req, 200, "text/plain", "ok\n", 3);
	if (strcmp(t, "/stream") == 0)
		return stream(req);
	if (strcmp(t, "/file") == 0)
		return file(req);
	if (strcmp(t, "/big") == 0)
		return big(req);
	if (strcmp(t, "/error") == 0)
		return -EIO;
	if (strcmp(t, "/forget") == 0)
		return 0;
	if (strcmp(t, "/slow") == 0) {
		atomic_store(&slow_started, 1);
		corio_sleep(300 * MS);
		return corio_http_respond(req, 200, "text/plain", "slow\n", 5);
	}
	return corio_http_respond(req, 404, "text/plain", "no\n", 3);
}

struct srv {
	pthread_t th;
	corio_loop *_Atomic loop; /* the server's loop, on its own thread */
	bool stopped;
	int lfd, port;
	atomic_int ready;
	int res;
	corio_http_serve_options o;
};

static struct srv S;

static void *srv_task(void *arg)
{
	struct srv *s = arg;
	atomic_store(&s->ready, 1);
	s->res = corio_http_serve(s->lfd, handler, NULL, &s->o);
	corio_close(s->lfd);
	return NULL;
}

static void *srv_thread(void *arg)
{
	corio_loop *loop;
	cr_assert_eq(corio_loop_new(&loop, NULL), 0);
	atomic_store(&((struct srv *)arg)->loop, loop);
	corio_task *t;
	cr_assert_eq(corio_spawn_ex(loop, &t, srv_task, arg, NULL), 0);
	cr_assert_eq(corio_loop_run(loop), 0);
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert_eq(corio_loop_free(loop), 0);
	return NULL;
}

static const int stop_sigs[] = {SIGUSR1, 0};

static void srv_start(void)
{
	/* SIGUSR1 stops the server: blocked here, so the server's thread
	 * (which inherits the mask) takes it with its signalfd */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	memset(&S, 0, sizeof(S));
	S.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(S.lfd, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	cr_assert_eq(bind(S.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(S.lfd, 128), 0);
	cr_assert_eq(getsockname(S.lfd, (struct sockaddr *)&sa, &len), 0);
	S.port = ntohs(sa.sin_port);
	S.o.head_timeout_ns = 500 * MS;
	S.o.keepalive_timeout_ns = 500 * MS;
	S.o.body_timeout_ns = 3000 * MS;
	S.o.max_body = 4 << 20;
	S.o.serve.stop_signals = stop_sigs;
	S.o.serve.grace_ns = 3000 * MS;
	snprintf(file_path, sizeof(file_path), "/tmp/corio-http-file-%d", getpid());
	FILE *f = fopen(file_path, "we");
	cr_assert(f);
	for (int i = 0; i < 4096; i++)
		fputc('a' + i % 26 + (i / 26) % 2 * ('A' - 'a'), f);
	fclose(f);
	cr_assert_eq(pthread_create(&S.th, NULL, srv_thread, &S), 0);
	while (!atomic_load(&S.ready))
		usleep(1000);
}

/* Stop gracefully (SIGUSR1) and wait for corio_http_serve() to return. */
static void srv_stop(void)
{
	if (!S.stopped) {
		kill(getpid(), SIGUSR1);
		cr_assert_eq(pthread_join(S.th, NULL), 0);
		cr_expect_eq(S.res, 0);
	}
	unlink(file_path);
}

TestSuite(http_server, .init = srv_start, .fini = srv_stop, .timeout = WAIT_TEST_TIMEOUT);

/* ---- raw clients ------------------------------------------------------------ */

static int client(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)S.port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void send_str(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
		if (k <= 0)
			return; /* the server may close first: its answer is what counts */
		s += k;
		n -= (size_t)k;
	}
}

/* Read until EOF (1) or the receive timeout / an error (0). */
static int read_all(int fd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	for (;;) {
		ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
		if (k == 0 || (k < 0 && errno == ECONNRESET && n)) {
			buf[n] = 0;
			*len = n;
			return 1;
		}
		if (k < 0 || n + (size_t)k >= cap - 1) {
			buf[n + (k > 0 ? (size_t)k : 0)] = 0;
			*len = n + (k > 0 ? (size_t)k : 0);
			return 0;
		}
		n += (size_t)k;
	}
}

/* Read exactly one response (head + Content-Length body) from @fd,
 * buffering what follows in @st; returns its status, or -1. */
struct rd {
	char buf[1 << 16];
	size_t len;
};

static int read_response(int fd, struct rd *st, char *body, size_t cap, size_t *blen)
{
	for (;;) {
		char *end = memmem(st->buf, st->len, "\r\n\r\n", 4);
		if (end) {
			size_t hl = (size_t)(end - st->buf) + 4;
			int status = atoi(st->buf + 9);
			char *cl = memmem(st->buf, hl, "Content-Length: ", 16);
			size_t bl = cl ? (size_t)atol(cl + 16) : 0;
			if (st->len >= hl + bl) {
				if (body) {
					size_t k = bl < cap - 1 ? bl : cap - 1;
					memcpy(body, st->buf + hl, k);
					body[k] = 0;
					*blen = bl;
				}
				memmove(st->buf, st->buf + hl + bl, st->len - hl - bl);
				st->len -= hl + bl;
				return status;
			}
		}
		if (st->len == sizeof(st->buf))
			return -1;
		ssize_t k = recv(fd, st->buf + st->len, sizeof(st->buf) - st->len, 0);
		if (k <= 0)
			return -1;
		st->len += (size_t)k;
	}
}

/* ---- malformed and smuggling-shaped requests ------------------------------ */

struct bad {
	const char *req;
	int status;
};

#define H11 " HTTP/1.1\r\nHost: a\r\n"
static const struct bad bad[] = {
	/* framing: smuggling shapes */
	{"POST /sink" H11 "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"POST /sink" H11 "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400},
	{"POST /sink" H11 "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
	{"POST /sink" H11 "Content-Length: 3, 4\r\n\r\nabcd", 400},
	{"POST /sink" H11 "Content-Length: +3\r\n\r\nabc", 400},
	{"POST /sink" H11 "Content-Length: -1\r\n\r\n", 400},
	{"POST /sink" H11 "Content-Length: 0x10\r\n\r\n", 400},
	{"POST /sink" H11 "Content-Length: 1 2\r\n\r\n", 400},
	{"POST /sink" H11 "Content-Length: 99999999999999999999999\r\n\r\n", 400},
	{"POST /sink" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
	{"POST /sink" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"POST /sink" H11 "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400},
	{"POST /sink" H11 "Transfer-Encoding: gzip\r\n\r\n", 400},
	{"POST /sink" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
	{"POST /sink HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"POST /sink" H11 "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
	{"POST /sink" H11 "Content-Length : 3\r\n\r\nabc", 400},
	{"POST /sink" H11 "X: a\r\n Content-Length: 3\r\n\r\nabc", 400},
	{"POST /sink" H11 "X: a\r\n\tb\r\n\r\n", 400},
	/* bare CR / LF, control characters */
	{"GET /hello HTTP/1.1\nHost: a\n\n", 400},
	{"GET /hello HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},
	{"GET /hello HTTP/1.1\r\nHost: a\r\nX: b\rc\r\n\r\n", 400},
	{"GET /hello HTTP/1.1\r\nHost: a\r\nX: b\x01\r\n\r\n", 400},
	{"GET /he\x7fllo HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	/* Host */
	{"GET /hello HTTP/1.1\r\n\r\n", 400},
	{"GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
	{"GET /hello HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400},
	/* start line */
	{"GET  /hello HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"GET /hello  HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"GET /hello\r\nHost: a\r\n\r\n", 400},
	{"GET /hello HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
	{"GET /hello http/1.1\r\nHost: a\r\n\r\n", 400},
	{"GET /hello HTTP/1.x\r\nHost: a\r\n\r\n", 400},
	{"G(T /hello HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{" GET /hello HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"GET 127.0.0.1:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"GET /hello HTTP/2.0\r\nHost: a\r\n\r\n", 505},
	{"GET /hello HTTP/1.2\r\nHost: a\r\n\r\n", 505},
	{"GET /hello HTTP/3.0\r\nHost: a\r\n\r\n", 505},
	{"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ /hello HTTP/1.1\r\nHost: a\r\n\r\n", 501},
	/* fields */
	{"GET /hello HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400},
	{"GET /hello HTTP/1.1\r\nHost: a\r\nX b: c\r\n\r\n", 400},
	{"GET /hello HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n", 400},
	{"GET /hello HTTP/1.1\r\nHost: a\r\nX\t: c\r\n\r\n", 400},
	/* chunked bodies, found as the handler reads them */
	{"POST /sink" H11 "Transfer-Encoding: chunked\r\n\r\nZ\r\nabc\r\n0\r\n\r\n", 400},
	{"POST /sink" H11 "Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", 400},
	{"POST /sink" H11 "Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 400},
	{"POST /sink" H11 "Transfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n", 400},
	{"POST /sink" H11 "Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400},
	{"POST /sink" H11 "Transfer-Encoding: chunked\r\n\r\n11111111111111111\r\n", 400},
	{"POST /sink" H11 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX : y\r\n\r\n", 400},
	/* limits */
	{"POST /sink" H11 "Content-Length: 999999999\r\n\r\n", 413},
};

/* The whole head of a request over the limits, built at run time. */
static char *big_request(size_t target, size_t fields)
{
	size_t cap = target + fields * 16 + 256;
	char *r = malloc(cap), *p = r;
	p += sprintf(p, "GET /");
	memset(p, 'a', target);
	p += target;
	p += sprintf(p, " HTTP/1.1\r\nHost: a\r\n");
	for (size_t i = 0; i < fields; i++)
		p += sprintf(p, "X%zu: v\r\n", i);
	strcpy(p, "\r\n");
	return r;
}

/* Send @req (all at once, or @step bytes at a time), expect @status, a
 * Connection: close and then the end of the connection. */
static void expect_rejected(const char *req, size_t len, int status, size_t step, int i)
{
	int fd = client();
	if (!step)
		send_str(fd, req, len);
	for (size_t off = 0; step && off < len; off += step)
		send_str(fd, req + off, len - off < step ? len - off : step);
	static char buf[1 << 16];
	size_t n = 0;
	int eof = read_all(fd, buf, sizeof(buf), &n);
	char want[32];
	snprintf(want, sizeof(want), "HTTP/1.1 %d ", status);
	cr_expect(strncmp(buf, want, strlen(want)) == 0, "case %d: want %d, got \"%.40s\"", i,
		  status, buf);
	cr_expect(strstr(buf, "\r\nConnection: close\r\n") != NULL, "case %d: no close", i);
	cr_expect(eof, "case %d: connection left open", i);
	close(fd);
}

Test(http_server, malformed_requests_get_their_status_and_a_close)
{
	size_t nbad = sizeof(bad) / sizeof(bad[0]);
	cr_assert_geq(nbad, 40);
	for (size_t i = 0; i < nbad; i++) {
		expect_rejected(bad[i].req, strlen(bad[i].req), bad[i].status, 0, (int)i);
	}
	char *r = big_request(9000, 0);
	expect_rejected(r, strlen(r), 414, 0, 1000);
	free(r);
	r = big_request(10, 200);
	expect_rejected(r, strlen(r), 431, 0, 1001);
	free(r);
}

Test(http_server, request_with_nul_in_a_field_name_is_400)
{
	static const char req[] = "GET /hello HTTP/1.1\r\nHost: a\r\nX\0Y: b\r\n\r\n";
	expect_rejected(req, sizeof(req) - 1, 400, 0, 0);
}

Test(http_server, malformed_requests_sent_byte_by_byte)
{
	static const int picks[] = {0, 1, 12, 19, 24, 37, 46};
	for (size_t i = 0; i < sizeof(picks) / sizeof(picks[0]); i++) {
		const struct bad *b = &bad[picks[i]];
		expect_rejected(b->req, strlen(b->req), b->status, 1, picks[i]);
	}
}

/* ---- keep-alive, HEAD, pipelining over raw sockets ------------------------ */

Test(http_server, pipelined_requests_are_answered_in_order)
{
	int fd = client();
	char req[16 * 64], *p = req;
	for (int i = 0; i < 16; i++)
		p += sprintf(p, "GET /hello?i=%d HTTP/1.1\r\nHost: a\r\n\r\n", i);
	send_str(fd, req, (size_t)(p - req));
	static struct rd st;
	st.len = 0;
	for (int i = 0; i < 16; i++) {
		char body[128], want[64];
		size_t bl;
		cr_assert_eq(read_response(fd, &st, body, sizeof(body), &bl), 200, "answer %d", i);
		snprintf(want, sizeof(want), "hello /hello?i=%d\n", i);
		cr_expect_str_eq(body, want);
	}
	close(fd);
}

/* How many send ops the server's loop has started, asked on its own
 * thread (corio_call_threadsafe) and answered through a pipe. */
struct sends_query {
	int pipe[2];
};

static void count_sends(void *arg)
{
	struct sends_query *q = arg;
	corio_loop_stats st;
	uint64_t n = UINT64_MAX;
	if (corio_loop_get_stats(corio_current_loop(), &st) == 0) {
		n = 0;
		for (unsigned k = 0; k < CORIO_STATS_OP_KINDS; k++) {
			const char *name = corio_op_name(k);
			if (name && (!strcmp(name, "send") || !strcmp(name, "sendmsg") ||
				     !strcmp(name, "write") || !strcmp(name, "writev") ||
				     !strcmp(name, "splice")))
				n += st.ops[k];
		}
	}
	ssize_t w = write(q->pipe[1], &n, sizeof(n));
	(void)w;
}

static uint64_t server_sends(void)
{
	struct sends_query q;
	cr_assert_eq(pipe2(q.pipe, O_CLOEXEC), 0);
	cr_assert_eq(corio_call_threadsafe(atomic_load(&S.loop), count_sends, &q), 0);
	struct pollfd pfd = {.fd = q.pipe[0], .events = POLLIN};
	cr_assert_eq(poll(&pfd, 1, 5000), 1, "the server's loop did not answer");
	uint64_t n = 0;
	cr_assert_eq(read(q.pipe[0], &n, sizeof(n)), (ssize_t)sizeof(n));
	close(q.pipe[0]);
	close(q.pipe[1]);
	cr_assert_neq(n, UINT64_MAX);
	return n;
}

Test(http_server, pipelined_answers_leave_in_one_write)
{
	/* 16 requests in one send: the 16 answers leave in one send op of
	 * the server's (its loop's counters say so), and arrive in order */
	int fd = client();
	char req[16 * 64], *p = req;
	for (int i = 0; i < 16; i++)
		p += sprintf(p, "GET /hello?i=%d HTTP/1.1\r\nHost: a\r\n\r\n", i);
	uint64_t before = server_sends();
	send_str(fd, req, (size_t)(p - req));
	static struct rd st;
	st.len = 0;
	for (int i = 0; i < 16; i++) {
		char body[128];
		size_t bl;
		cr_assert_eq(read_response(fd, &st, body, sizeof(body), &bl), 200, "answer %d", i);
	}
	uint64_t after = server_sends();
	cr_expect_eq(after - before, 1, "16 pipelined answers took %llu sends",
		     (unsigned long long)(after - before));
	close(fd);
}

Test(http_server, head_has_the_headers_and_no_body)
{
	int fd = client();
	const char req[] = "HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
	send_str(fd, req, sizeof(req) - 1);
	static struct rd st;
	st.len = 0;
	/* the HEAD answer announces the GET's length but carries nothing */
	for (;;) {
		ssize_t k = recv(fd, st.buf + st.len, sizeof(st.buf) - st.len, 0);
		cr_assert_gt(k, 0);
		st.len += (size_t)k;
		char *e = memmem(st.buf, st.len, "\r\n\r\n", 4);
		if (e && memmem(e + 4, st.len - (size_t)(e + 4 - st.buf), "\r\n\r\n", 4))
			break;
	}
	cr_expect(memmem(st.buf, st.len, "Content-Length: 13\r\n", 20) != NULL);
	char *e = memmem(st.buf, st.len, "\r\n\r\n", 4);
	cr_expect(strncmp(e + 4, "HTTP/1.1 200 OK\r\n", 17) == 0, "HEAD sent a body");
	close(fd);
}

Test(http_server, http10_closes_unless_keep_alive)
{
	int fd = client();
	send_str(fd, "GET /hello HTTP/1.0\r\n\r\n", strlen("GET /hello HTTP/1.0\r\n\r\n"));
	static char buf[4096];
	size_t n;
	cr_expect(read_all(fd, buf, sizeof(buf), &n));
	cr_expect(strstr(buf, "hello /hello") != NULL);
	close(fd);
	fd = client();
	const char ka[] = "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
	send_str(fd, ka, sizeof(ka) - 1);
	static struct rd st;
	st.len = 0;
	cr_expect_eq(read_response(fd, &st, NULL, 0, NULL), 200);
	send_str(fd, ka, sizeof(ka) - 1);
	cr_expect_eq(read_response(fd, &st, NULL, 0, NULL), 200, "kept alive");
	close(fd);
}

Test(http_server, connection_close_is_honoured)
{
	int fd = client();
	const char req[] = "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
	send_str(fd, req, sizeof(req) - 1);
	static char buf[4096];
	size_t n;
	cr_expect(read_all(fd, buf, sizeof(buf), &n));
	cr_expect(strstr(buf, "Connection: close\r\n") != NULL);
	close(fd);
}

Test(http_server, expect_continue_is_sent_when_the_handler_reads)
{
	int fd = client();
	const char head[] = "POST /sink HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
			    "Expect: 100-continue\r\n\r\n";
	send_str(fd, head, sizeof(head) - 1);
	char buf[64];
	ssize_t k = recv(fd, buf, 25, MSG_WAITALL);
	cr_assert_eq(k, 25);
	cr_expect(memcmp(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
	send_str(fd, "abcde", strlen("abcde"));
	static struct rd st;
	st.len = 0;
	char body[32];
	size_t bl;
	cr_expect_eq(read_response(fd, &st, body, sizeof(body), &bl), 200);
	cr_expect_str_eq(body, "5\n");
	close(fd);
}

Test(http_server, expect_continue_unread_gets_no_100_and_a_close)
{
	int fd = client();
	const char head[] = "POST /noread HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
			    "Expect: 100-continue\r\n\r\n";
	send_str(fd, head, sizeof(head) - 1);
	static char buf[4096];
	size_t n;
	cr_expect(read_all(fd, buf, sizeof(buf), &n));
	cr_expect(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
	cr_expect(strstr(buf, "Connection: close\r\n") != NULL);
	close(fd);
}

Test(http_server, small_unread_body_is_discarded_and_the_connection_kept)
{
	int fd = client();
	const char req[] = "POST /noread HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabcde"
			   "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n";
	send_str(fd, req, sizeof(req) - 1);
	static struct rd st;
	st.len = 0;
	cr_expect_eq(read_response(fd, &st, NULL, 0, NULL), 200);
	char body[64];
	size_t bl;
	cr_expect_eq(read_response(fd, &st, body, sizeof(body), &bl), 200);
	cr_expect_str_eq(body, "hello /hello\n");
	close(fd);
}

Test(http_server, handler_error_and_forgotten_answer_are_500)
{
	int fd = client();
	const char req[] = "GET /error HTTP/1.1\r\nHost: a\r\n\r\nGET /forget HTTP/1.1\r\nHost: a\r\n\r\n";
	send_str(fd, req, sizeof(req) - 1);
	static struct rd st;
	st.len = 0;
	cr_expect_eq(read_response(fd, &st, NULL, 0, NULL), 500);
	cr_expect_eq(read_response(fd, &st, NULL, 0, NULL), 500);
	close(fd);
}

Test(http_server, file_range_is_spliced)
{
	int fd = client();
	send_str(fd, "GET /file HTTP/1.1\r\nHost: a\r\n\r\n", strlen("GET /file HTTP/1.1\r\nHost: a\r\n\r\n"));
	static struct rd st;
	st.len = 0;
	static char body[2048];
	size_t bl;
	cr_assert_eq(read_response(fd, &st, body, sizeof(body), &bl), 206);
	cr_assert_eq(bl, 1000);
	for (int i = 0; i < 1000; i++) {
		int j = 100 + i;
		char want = (char)('a' + j % 26 + (j / 26) % 2 * ('A' - 'a'));
		if (body[i] != want)
			cr_assert_fail("byte %d: %c, want %c", i, body[i], want);
	}
	close(fd);
}

/* A client that asks for a big file and stops reading is dropped after the
 * body timeout: the splice waits for room as an op under that timeout,
 * never inside a blocking splice (which on epoll would hold a pool thread
 * no cancel can stop). */
Test(http_server, a_client_that_stops_reading_a_file_is_dropped)
{
	int fd = client();
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	atomic_store(&big_result, 0);
	const char req[] = "GET /big HTTP/1.1\r\nHost: a\r\n\r\n";
	send_str(fd, req, sizeof(req) - 1);
	/* the handler's own end is the event: bounded at 3 s + 5 s */
	int r = 0;
	for (int i = 0; i < 8000 && ((r = atomic_load(&big_result)) == 0 || r == 1); i++)
		usleep(1000);
	cr_assert_eq(r, -ETIMEDOUT, "the file send ended with %d", r);
	close(fd);
}

/* ---- timeouts ----------------------------------------------------------------- */

Test(http_server, slowloris_is_closed_within_the_head_timeout)
{
	int fd = client();
	const char req[] = "GET /hello HTTP/1.1\r\nHost: a\r\nX-Slow: ";
	uint64_t t0 = t_clock();
	bool closed = false;
	for (size_t i = 0; i < 60 && !closed; i++) {
		send_str(fd, req + i % (sizeof(req) - 1), 1);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 100) == 1) {
			char b[256];
			closed = recv(fd, b, sizeof(b), 0) <= 0;
		}
	}
	uint64_t el = t_clock() - t0;
	cr_expect(closed, "still open after %llu ms", (unsigned long long)(el / MS));
	cr_expect_geq(el, 400 * MS);
	cr_expect_leq(el, 2500 * MS);
	close(fd);
}

Test(http_server, idle_keepalive_connection_is_closed)
{
	int fd = client();
	send_str(fd, "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n", strlen("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"));
	static struct rd st;
	st.len = 0;
	cr_assert_eq(read_response(fd, &st, NULL, 0, NULL), 200);
	uint64_t t0 = t_clock();
	char b[16];
	cr_expect_eq(recv(fd, b, sizeof(b), 0), 0);
	uint64_t el = t_clock() - t0;
	cr_expect_geq(el, 400 * MS);
	cr_expect_leq(el, 3000 * MS);
	close(fd);
}

/* ---- curl ------------------------------------------------------------------------ */

static void url(char *out, size_t n, const char *path)
{
	snprintf(out, n, "http://127.0.0.1:%d%s", S.port, path);
}

static char *curl(char *const args[], int *status)
{
	const char *c = t_curl_path();
	if (!c)
		cr_skip_test("curl is not installed");
	char *argv[24];
	int n = 0;
	argv[n++] = (char *)c;
	argv[n++] = "-sS";
	argv[n++] = "--max-time";
	argv[n++] = "10";
	for (int i = 0; args[i] && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	char *out = NULL;
	*status = t_exec(argv, NULL, &out, NULL, 15000);
	return out;
}

Test(http_server, curl_reuses_the_connection)
{
	char u1[64], u2[64];
	url(u1, sizeof(u1), "/hello");
	url(u2, sizeof(u2), "/hello?two");
	int st;
	char *out = curl((char *[]){"-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects} ",
				    u1, u2, NULL}, &st);
	cr_assert_eq(st, 0);
	cr_expect_str_eq(out, "1 0 ");
	free(out);
}

Test(http_server, curl_head)
{
	char u[64];
	url(u, sizeof(u), "/hello");
	int st;
	char *out = curl((char *[]){"-I", u, NULL}, &st);
	cr_assert_eq(st, 0);
	cr_expect(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
	cr_expect(strstr(out, "Content-Length: 13\r\n") != NULL);
	cr_expect(strstr(out, "X-Test: yes\r\n") != NULL);
	free(out);
}

static void make_body(char *path, size_t n)
{
	snprintf(path, 64, "/tmp/corio-http-body-%d", getpid());
	FILE *f = fopen(path, "we");
	cr_assert(f);
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		fputc((int)(x >> 16), f);
	}
	fclose(f);
}

static void post_and_compare(const char *extra_header)
{
	char path[64], u[64], data[80];
	make_body(path, 1 << 20);
	url(u, sizeof(u), "/echo");
	snprintf(data, sizeof(data), "@%s", path);
	int st;
	char *args[12] = {"--data-binary", data, "-H", "Content-Type: application/octet-stream"};
	int n = 4;
	if (extra_header) {
		args[n++] = "-H";
		args[n++] = (char *)extra_header;
	}
	args[n++] = u;
	args[n] = NULL;
	size_t len = 0;
	char *out = NULL;
	const char *c = t_curl_path();
	if (!c)
		cr_skip_test("curl is not installed");
	char *argv[20] = {(char *)c, "-sS", "--max-time", "10"};
	int k = 4;
	for (int i = 0; args[i]; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	st = t_exec(argv, NULL, &out, &len, 15000);
	cr_assert_eq(st, 0);
	cr_assert_eq(len, (size_t)1 << 20);
	FILE *f = fopen(path, "re");
	static char want[1 << 20];
	cr_assert_eq(fread(want, 1, sizeof(want), f), sizeof(want));
	fclose(f);
	cr_expect(memcmp(out, want, len) == 0, "echoed body differs");
	free(out);
	unlink(path);
}

Test(http_server, curl_posts_a_mebibyte_and_gets_it_back)
{
	post_and_compare(NULL);
}

Test(http_server, curl_chunked_upload)
{
	post_and_compare("Transfer-Encoding: chunked");
}

Test(http_server, curl_expect_continue)
{
	post_and_compare("Expect: 100-continue");
}

Test(http_server, curl_reads_a_streamed_response)
{
	char u[64];
	url(u, sizeof(u), "/stream");
	int st;
	char *out = curl((char *[]){"-i", u, NULL}, &st);
	cr_assert_eq(st, 0);
	cr_expect(strstr(out, "Transfer-Encoding: chunked\r\n") != NULL);
	cr_expect(strstr(out, "\r\n\r\nchunk\nchunk\nchunk\nchunk\nchunk\n") != NULL);
	free(out);
}

/* ---- python's http.client -------------------------------------------------------- */

Test(http_server, python_http_client_keeps_alive)
{
	if (access("/usr/bin/python3", X_OK) != 0)
		cr_skip_test("no /usr/bin/python3");
	char port[16], *out = NULL;
	snprintf(port, sizeof(port), "%d", S.port);
	char *argv[] = {"/usr/bin/python3", "-c",
			"import http.client,sys\n"
			"c=http.client.HTTPConnection('127.0.0.1',int(sys.argv[1]),timeout=5)\n"
			"for i in range(20):\n"
			"  c.request('GET','/hello?p=%d'%i)\n"
			"  r=c.getresponse(); b=r.read()\n"
			"  assert r.status==200 and b==('hello /hello?p=%d\\n'%i).encode(), b\n"
			"c.request('POST','/sink',body=b'x'*100000)\n"
			"r=c.getresponse(); assert r.read()==b'100000\\n'\n"
			"print('ok')\n",
			port, NULL};
	int st = t_exec(argv, NULL, &out, NULL, 15000);
	cr_expect_eq(st, 0);
	cr_expect_str_eq(out ? out : "", "ok\n");
	free(out);
}

/* ---- graceful stop -------------------------------------------------------------- */

static void *slow_client(void *arg)
{
	int *res = arg;
	int fd = client();
	send_str(fd, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n", strlen("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"));
	static char buf[4096];
	size_t n;
	int eof = read_all(fd, buf, sizeof(buf), &n);
	*res = eof && strstr(buf, "HTTP/1.1 200 OK\r\n") && strstr(buf, "Connection: close\r\n") &&
	       strstr(buf, "\r\n\r\nslow\n");
	close(fd);
	return NULL;
}

Test(http_server, graceful_stop_finishes_requests_in_flight)
{
	/* an idle keep-alive connection, and one with a request running */
	int idle = client();
	send_str(idle, "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n", strlen("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"));
	static struct rd st;
	st.len = 0;
	cr_assert_eq(read_response(idle, &st, NULL, 0, NULL), 200);
	int ok = 0;
	pthread_t th;
	atomic_store(&slow_started, 0);
	cr_assert_eq(pthread_create(&th, NULL, slow_client, &ok), 0);
	while (!atomic_load(&slow_started))
		usleep(1000);
	uint64_t t0 = t_clock();
	kill(getpid(), SIGUSR1);
	char b[16];
	cr_expect_eq(recv(idle, b, sizeof(b), 0), 0, "idle connection not closed");
	cr_expect_lt(t_clock() - t0, 400 * MS, "idle connection waited for its timeout");
	pthread_join(th, NULL);
	cr_expect(ok, "the request in flight was not answered whole");
	close(idle);
	cr_assert_eq(pthread_join(S.th, NULL), 0);
	cr_expect_eq(S.res, 0);
	S.stopped = true;
}
