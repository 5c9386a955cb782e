/* SPDX-License-Identifier: MIT */
/*
 * tests/stream.c - buffered streams on loopback TCP: lines split across
 * packets, over-long lines (-EMSGSIZE, data kept), read_exactly's all or
 * nothing (early EOF, cancellation), no byte lost to cancelled reads,
 * half-close, write backpressure with bounded memory, receive pausing,
 * slowloris read and idle timeouts, peer resets, close flushing, and idle
 * streams that pin no receive buffer.  Most run on both receive paths:
 * multishot with provided buffers, and plain recv.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static void tcp_pair(int *a, int *b)
{
	int sv[2];
	t_tcp_pair(sv);
	*a = sv[0];
	*b = sv[1];
}

struct sc {
	int plain; /* corio_stream_options.plain */
};

static corio_stream *stream(int fd, const struct sc *c, corio_stream_options o)
{
	o.plain = c->plain;
	corio_stream *s;
	cr_assert_eq(corio_stream_new(&s, fd, &o), 0);
	return s;
}

static void send_str(int fd, const char *s)
{
	size_t n = strlen(s);
	cr_assert_eq(corio_send_all(fd, s, n, 0), (ssize_t)n);
}

/* Bytes waiting in @fd's receive queue, not yet taken by anyone. */
static size_t inq(int fd)
{
	int n = 0;
	cr_assert_eq(ioctl(fd, FIONREAD, &n), 0);
	return (size_t)n;
}

static uint64_t rng(uint64_t *x)
{
	*x += 0x9e3779b97f4a7c15ull;
	uint64_t z = *x;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- lines ---------------------------------------------------------------- */

static void *lines_peer(void *arg)
{
	int fd = *(int *)arg;
	const char *parts[] = {"alpha\nbe", "ta\ngam", "ma\n", "tail-without-newline"};
	for (int i = 0; i < 4; i++) {
		send_str(fd, parts[i]);
		corio_sleep(3 * MS);
	}
	shutdown(fd, SHUT_WR);
	return NULL;
}

static void *lines_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *s = stream(a, arg, (corio_stream_options){0});
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, lines_peer, &b), 0);
	const char *want[] = {"alpha\n", "beta\n", "gamma\n", "tail-without-newline"};
	for (int i = 0; i < 4; i++) {
		const char *line;
		ssize_t n = corio_stream_readline(s, &line);
		cr_assert_eq(n, (ssize_t)strlen(want[i]), "line %d: %zd", i, n);
		cr_assert_eq(memcmp(line, want[i], (size_t)n), 0);
	}
	const char *line;
	cr_assert_eq(corio_stream_readline(s, &line), 0, "end of stream");
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert_eq(corio_stream_close(s), 0);
	close(b);
	return NULL;
}

Test(stream, readline_splits_lines_across_packets)
{
	t_run(lines_main, &(struct sc){0}, NULL);
}

Test(stream, plain_readline_splits_lines_across_packets)
{
	t_run(lines_main, &(struct sc){1}, NULL);
}

static void *delim_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *s = stream(a, arg, (corio_stream_options){0});
	send_str(b, "GET / HTTP/1.0\r\nHost: x\r\n\r\nbody");
	const char *line;
	cr_assert_eq(corio_stream_read_until(s, "\r\n", &line), 16);
	cr_assert_eq(memcmp(line, "GET / HTTP/1.0\r\n", 16), 0);
	cr_assert_eq(corio_stream_read_until(s, "\r\n", &line), 9);
	cr_assert_eq(corio_stream_read_until(s, "\r\n", &line), 2);
	cr_assert_eq(corio_stream_read_until(s, "", &line), -EINVAL);
	char body[8];
	cr_assert_eq(corio_stream_read_exactly(s, body, 4), 4);
	cr_assert_eq(memcmp(body, "body", 4), 0);
	corio_stream_close(s);
	close(b);
	return NULL;
}

Test(stream, read_until_a_two_byte_delimiter)
{
	t_run(delim_main, &(struct sc){0}, NULL);
}

/* A returned line stays valid while more data arrives and the buffer has
 * to grow or move, until the next read call. */
static void *lent_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *s = stream(a, arg, (corio_stream_options){0});
	send_str(b, "first line\n");
	const char *line;
	cr_assert_eq(corio_stream_readline(s, &line), 11);
	static char junk[48 * 1024];
	memset(junk, 'j', sizeof(junk));
	junk[sizeof(junk) - 1] = '\n';
	cr_assert_eq(corio_send_all(b, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	cr_assert_eq(corio_sleep(20 * MS), 0); /* arrives meanwhile */
	cr_assert_eq(memcmp(line, "first line\n", 11), 0);
	cr_assert_eq(corio_stream_readline(s, &line), (ssize_t)sizeof(junk));
	cr_assert_eq(line[0], 'j');
	corio_stream_close(s);
	close(b);
	return NULL;
}

Test(stream, returned_line_survives_buffer_growth)
{
	t_run(lent_main, &(struct sc){0}, NULL);
}

static void *too_long_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *s = stream(a, arg, (corio_stream_options){.limit = 1024});
	static char big[2000];
	memset(big, 'x', sizeof(big));
	cr_assert_eq(corio_send_all(b, big, sizeof(big), 0), (ssize_t)sizeof(big));
	send_str(b, "\nshort\n");
	const char *line;
	cr_assert_eq(corio_stream_readline(s, &line), -EMSGSIZE);
	cr_assert_geq(corio_stream_buffered(s), 1024, "the data is kept");
	/* the caller can still take the over-long line and go on */
	size_t got = 0;
	char buf[512];
	while (got < sizeof(big)) {
		ssize_t n = corio_stream_read(s, buf, sizeof(buf) < sizeof(big) - got ? sizeof(buf)
										      : sizeof(big) - got);
		cr_assert_gt(n, 0);
		for (ssize_t i = 0; i < n; i++)
			cr_assert_eq(buf[i], 'x');
		got += (size_t)n;
	}
	cr_assert_eq(corio_stream_readline(s, &line), 1);
	cr_assert_eq(corio_stream_readline(s, &line), 6);
	cr_assert_eq(memcmp(line, "short\n", 6), 0);
	corio_stream_close(s);
	close(b);
	return NULL;
}

Test(stream, over_long_line_gives_emsgsize_and_keeps_the_data)
{
	t_run(too_long_main, &(struct sc){0}, NULL);
}

Test(stream, plain_over_long_line_gives_emsgsize)
{
	t_run(too_long_main, &(struct sc){1}, NULL);
}

static void *limit_edge_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *s = stream(a, arg, (corio_stream_options){.limit = 16});
	send_str(b, "fifteen-chars!!\n" "sixteen-chars!!!\n");
	const char *line;
	cr_assert_eq(corio_stream_readline(s, &line), 16, "a line of exactly the limit");
	cr_assert_eq(corio_stream_readline(s, &line), -EMSGSIZE, "one byte over");
	corio_stream_close(s);
	close(b);
	return NULL;
}

Test(stream, line_limit_counts_the_delimiter)
{
	t_run(limit_edge_main, &(struct sc){0}, NULL);
}

/* ---- read_exactly --------------------------------------------------------- */

static void *early_eof_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *s = stream(a, arg, (corio_stream_options){0});
	send_str(b, "0123456789");
	shutdown(b, SHUT_WR);
	char buf[16];
	cr_assert_eq(corio_stream_read_exactly(s, buf, 16), -EPIPE);
	cr_assert_eq(corio_stream_buffered(s), 10, "how much arrived");
	cr_assert_eq(corio_stream_read(s, buf, sizeof(buf)), 10);
	cr_assert_eq(memcmp(buf, "0123456789", 10), 0);
	cr_assert_eq(corio_stream_read(s, buf, sizeof(buf)), 0);
	corio_stream_close(s);
	close(b);
	return NULL;
}

Test(stream, read_exactly_reports_early_eof_and_keeps_the_bytes)
{
	t_run(early_eof_main, &(struct sc){0}, NULL);
}

Test(stream, plain_read_exactly_reports_early_eof)
{
	t_run(early_eof_main, &(struct sc){1}, NULL);
}

struct pumper {
	int fd;
	size_t total;
	uint64_t seed;
};

/* Send @total pseudo-random bytes in pieces of random size. */
static void *pump(void *arg)
{
	struct pumper *p = arg;
	uint64_t x = p->seed, y = p->seed ^ 0x55;
	static char buf[70000];
	size_t sent = 0;
	while (sent < p->total) {
		size_t k = 1 + rng(&y) % sizeof(buf);
		k = k < p->total - sent ? k : p->total - sent;
		for (size_t i = 0; i < k; i++)
			buf[i] = (char)rng(&x);
		cr_assert_eq(corio_send_all(p->fd, buf, k, 0), (ssize_t)k);
		sent += k;
	}
	return NULL;
}

static void *exactly_many_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *s = stream(a, arg, (corio_stream_options){0});
	struct pumper p = {.fd = b, .total = 1 << 20, .seed = 7};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, pump, &p), 0);
	uint64_t x = 7, y = 99;
	static char buf[100000];
	size_t got = 0;
	while (got < p.total) {
		size_t k = 1 + rng(&y) % sizeof(buf);
		k = k < p.total - got ? k : p.total - got;
		cr_assert_eq(corio_stream_read_exactly(s, buf, k), (ssize_t)k);
		for (size_t i = 0; i < k; i++)
			cr_assert_eq(buf[i], (char)rng(&x), "byte %zu", got + i);
		got += k;
	}
	cr_assert_eq(corio_join(t, NULL), 0);
	corio_stream_close(s);
	close(b);
	return NULL;
}

Test(stream, read_exactly_across_many_packets)
{
	t_run(exactly_many_main, &(struct sc){0}, NULL);
}

Test(stream, plain_read_exactly_across_many_packets)
{
	t_run(exactly_many_main, &(struct sc){1}, NULL);
}

struct reader {
	corio_stream *s;
	ssize_t res;
	char buf[64];
	size_t n;
	int exactly;
};

static void *reader_task(void *arg)
{
	struct reader *r = arg;
	r->res = r->exactly ? corio_stream_read_exactly(r->s, r->buf, r->n)
			    : corio_stream_read(r->s, r->buf, r->n);
	return NULL;
}

static void *cancel_exactly_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *s = stream(a, arg, (corio_stream_options){0});
	struct reader r = {.s = s, .n = 10, .exactly = 1, .res = 1};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, reader_task, &r), 0);
	send_str(b, "01234");
	/* half of it arrived: wait until the stream took it from the socket
	 * (into rbuf, or on the copying paths into the reader's buffer),
	 * then give the loop a turn to hand it over */
	uint64_t until = t_clock() + 5000 * MS;
	while (inq(a) && t_clock() < until)
		cr_assert_eq(corio_sleep(1 * MS), 0);
	cr_assert_eq(inq(a), 0, "the waiting reader never took the bytes");
	cr_assert_eq(corio_sleep(1 * MS), 0);
	corio_cancel(t);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(r.res, -ECANCELED);
	/* nothing consumed: all 5 bytes are buffered, or (a receive still in
	 * flight) soon will be, or are still in the socket */
	until = t_clock() + 5000 * MS;
	while (corio_stream_buffered(s) + inq(a) != 5 && t_clock() < until)
		cr_assert_eq(corio_sleep(1 * MS), 0);
	cr_assert_eq(corio_stream_buffered(s) + inq(a), 5, "nothing consumed");
	send_str(b, "56789");
	char buf[10];
	cr_assert_eq(corio_stream_read_exactly(s, buf, 10), 10);
	cr_assert_eq(memcmp(buf, "0123456789", 10), 0);
	corio_stream_close(s);
	close(b);
	return NULL;
}

Test(stream, cancelled_read_exactly_consumes_nothing)
{
	t_run(cancel_exactly_main, &(struct sc){0}, NULL);
}

Test(stream, plain_cancelled_read_exactly_consumes_nothing)
{
	t_run(cancel_exactly_main, &(struct sc){1}, NULL);
}

static void *cancel_read_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *s = stream(a, arg, (corio_stream_options){0});
	struct reader r = {.s = s, .n = 64, .res = 1};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, reader_task, &r), 0);
	cr_assert_eq(corio_sleep(5 * MS), 0);
	corio_cancel(t);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(r.res, -ECANCELED);
	send_str(b, "after the cancel");
	char buf[64];
	cr_assert_eq(corio_stream_read_exactly(s, buf, 16), 16);
	cr_assert_eq(memcmp(buf, "after the cancel", 16), 0);
	/* a timeout scope on a read works the same way */
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 20 * MS);
	cr_assert_eq(corio_stream_read(s, buf, sizeof(buf)), -ETIMEDOUT);
	corio_timeout_pop(&sc);
	send_str(b, "later");
	cr_assert_eq(corio_stream_read_exactly(s, buf, 5), 5);
	cr_assert_eq(memcmp(buf, "later", 5), 0);
	corio_stream_close(s);
	close(b);
	return NULL;
}

Test(stream, cancelled_read_loses_no_bytes)
{
	t_run(cancel_read_main, &(struct sc){0}, NULL);
}

Test(stream, plain_cancelled_read_loses_no_bytes)
{
	t_run(cancel_read_main, &(struct sc){1}, NULL);
}

static void *busy_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *s = stream(a, arg, (corio_stream_options){0});
	struct reader r = {.s = s, .n = 4, .res = 1};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, reader_task, &r), 0);
	cr_assert_eq(corio_sleep(2 * MS), 0);
	char c;
	cr_assert_eq(corio_stream_read(s, &c, 1), -EBUSY, "one reader at a time");
	send_str(b, "ok!!");
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert_eq(r.res, 4);
	corio_stream_close(s);
	close(b);
	return NULL;
}

Test(stream, second_reader_gets_ebusy)
{
	t_run(busy_main, &(struct sc){0}, NULL);
}

/* One reader and one writer at a time, whatever state the first is in:
 * waiting, or woken by a completion but not yet run.  The intruder yields
 * every turn, so it runs ahead of a task that the turn's completions have
 * just woken; each of its calls must get -EBUSY, and must neither take
 * the first one's bytes nor restart its call. */
struct intruder {
	corio_stream *s;
	const ssize_t *first; /* the first task's result: 1 while it runs */
	bool write;
	int tries;
	ssize_t bad; /* the first result other than -EBUSY, or 0 */
};

static void *intrude(void *arg)
{
	struct intruder *in = arg;
	while (*in->first == 1) {
		char c = 'B';
		corio_scope sc; /* with the guard missing, the call would wait */
		corio_timeout_push(&sc, corio_now() + 200 * MS);
		ssize_t r = in->write ? corio_stream_write(in->s, &c, 1)
				      : corio_stream_read(in->s, &c, 1);
		corio_timeout_pop(&sc);
		if (r != -EBUSY && !in->bad)
			in->bad = r ? r : -1;
		in->tries++;
		corio_yield();
	}
	return NULL;
}

static void join_soon(corio_task *t);

static void *second_reader_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *s = stream(a, arg, (corio_stream_options){0});
	struct reader r = {.s = s, .n = 8, .exactly = 1, .res = 1};
	corio_task *t, *u;
	cr_assert_eq(corio_spawn(&t, reader_task, &r), 0);
	cr_assert_eq(corio_sleep(2 * MS), 0); /* it waits now */
	struct intruder in = {.s = s, .first = &r.res};
	cr_assert_eq(corio_spawn(&u, intrude, &in), 0);
	send_str(b, "abcd");
	cr_assert_eq(corio_sleep(5 * MS), 0);
	send_str(b, "efgh");
	join_soon(t);
	join_soon(u);
	cr_assert_eq(r.res, 8, "%s", corio_strerror((int)r.res));
	cr_assert_eq(memcmp(r.buf, "abcdefgh", 8), 0, "no byte lost or taken");
	cr_assert_gt(in.tries, 0);
	cr_assert_eq(in.bad, 0, "the second reader got %zd", in.bad);
	corio_stream_close(s);
	close(b);
	return NULL;
}

Test(stream, second_reader_gets_ebusy_while_the_first_is_woken_not_run)
{
	t_run(second_reader_main, &(struct sc){0}, NULL);
}

Test(stream, plain_second_reader_gets_ebusy_while_the_first_is_woken_not_run)
{
	t_run(second_reader_main, &(struct sc){1}, NULL);
}

struct big_write {
	corio_stream *s;
	size_t n;
	ssize_t res;
};

static void *big_writer(void *arg)
{
	struct big_write *w = arg;
	char *buf = malloc(w->n);
	memset(buf, 'A', w->n);
	w->res = corio_stream_write(w->s, buf, w->n);
	free(buf);
	return NULL;
}

static void small_buffers(int fd);

static void *second_writer_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	small_buffers(a);
	small_buffers(b);
	corio_stream *s = stream(a, arg, (corio_stream_options){.high_water = 16 * 1024});
	struct big_write w = {.s = s, .n = 1 << 20, .res = 1};
	corio_task *t, *u;
	cr_assert_eq(corio_spawn(&t, big_writer, &w), 0);
	cr_assert_eq(corio_sleep(5 * MS), 0); /* blocked at the high-water mark */
	struct intruder in = {.s = s, .first = &w.res, .write = true};
	cr_assert_eq(corio_spawn(&u, intrude, &in), 0);
	static char buf[65536];
	size_t got = 0;
	while (got < w.n) {
		ssize_t n = corio_recv(b, buf, sizeof(buf) < w.n - got ? sizeof(buf) : w.n - got, 0);
		cr_assert_gt(n, 0);
		for (ssize_t i = 0; i < n; i++)
			cr_assert_eq(buf[i], 'A', "byte %zu is not the first writer's", got + (size_t)i);
		got += (size_t)n;
	}
	join_soon(t);
	join_soon(u);
	cr_assert_eq(w.res, (ssize_t)w.n);
	cr_assert_gt(in.tries, 0);
	cr_assert_eq(in.bad, 0, "the second writer got %zd", in.bad);
	corio_close(b);
	corio_stream_close(s);
	return NULL;
}

Test(stream, second_writer_gets_ebusy_while_the_first_is_blocked_or_woken)
{
	t_run(second_writer_main, &(struct sc){0}, NULL);
}

Test(stream, plain_second_writer_gets_ebusy_while_the_first_is_blocked_or_woken)
{
	t_run(second_writer_main, &(struct sc){1}, NULL);
}

/* ---- half-close, resets, closing ----------------------------------------- */

/* Join @t, giving it 5 s: a task that hangs is cancelled and reaped, and
 * the test fails rather than stalls. */
static void join_soon(corio_task *t)
{
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 5000 * MS);
	int err = corio_join(t, NULL);
	corio_timeout_pop(&sc);
	if (err == -ETIMEDOUT) {
		corio_cancel(t);
		corio_join(t, NULL);
	}
	cr_assert_eq(err, 0, "the task did not finish: %s", corio_strerror(err));
}

/* Another task closes the stream under a waiting reader or writer: the
 * waiter gets -ECANCELED at once, bytes already in its buffer are kept,
 * and the record outlives it (ASan checks that). */
static void *close_under_reader_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *s = stream(a, arg, (corio_stream_options){0});
	struct reader r1 = {.s = s, .n = 8, .exactly = 1};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, reader_task, &r1), 0);
	send_str(b, "abc"); /* part of what read_exactly waits for */
	uint64_t until = t_clock() + 5000 * MS;
	while (inq(a) && t_clock() < until)
		corio_sleep(1 * MS);
	corio_sleep(5 * MS);
	uint64_t t0 = t_clock();
	cr_assert_eq(corio_stream_close(s), 0);
	join_soon(t);
	cr_assert_lt(t_clock() - t0, 1000 * MS);
	cr_assert_eq(r1.res, -ECANCELED);
	close(b);

	/* a plain read with nothing there */
	tcp_pair(&a, &b);
	s = stream(a, arg, (corio_stream_options){0});
	struct reader r2 = {.s = s, .n = sizeof(r2.buf)};
	cr_assert_eq(corio_spawn(&t, reader_task, &r2), 0);
	corio_sleep(5 * MS);
	cr_assert_eq(corio_stream_close(s), 0);
	join_soon(t);
	cr_assert_eq(r2.res, -ECANCELED);
	close(b);
	return NULL;
}

Test(stream, close_under_a_waiting_reader_wakes_it)
{
	t_run(close_under_reader_main, &(struct sc){0}, NULL);
}

Test(stream, plain_close_under_a_waiting_reader_wakes_it)
{
	t_run(close_under_reader_main, &(struct sc){.plain = 1}, NULL);
}

static void *half_close_peer(void *arg)
{
	corio_stream *s = arg;
	/* read the whole request, until the client's half-close */
	char buf[256];
	size_t got = 0;
	ssize_t n;
	while ((n = corio_stream_read(s, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)n;
	cr_assert_eq(n, 0);
	cr_assert_eq(got, 13);
	cr_assert_eq(corio_stream_write(s, "response to: ", 13), 13);
	cr_assert_eq(corio_stream_write(s, buf, got), (ssize_t)got);
	cr_assert_eq(corio_stream_close(s), 0);
	return NULL;
}

static void *half_close_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *cli = stream(a, arg, (corio_stream_options){0});
	corio_stream *srv = stream(b, arg, (corio_stream_options){0});
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, half_close_peer, srv), 0);
	cr_assert_eq(corio_stream_write(cli, "the request\r\n", 13), 13);
	cr_assert_eq(corio_stream_shutdown(cli), 0); /* no more writing... */
	char buf[64];
	cr_assert_eq(corio_stream_read_exactly(cli, buf, 26), 26); /* ...still reading */
	cr_assert_eq(memcmp(buf, "response to: the request\r\n", 26), 0);
	cr_assert_eq(corio_stream_read(cli, buf, sizeof(buf)), 0);
	cr_assert_eq(corio_join(t, NULL), 0);
	corio_stream_close(cli);
	return NULL;
}

Test(stream, half_close_then_keep_reading)
{
	t_run(half_close_main, &(struct sc){0}, NULL);
}

Test(stream, plain_half_close_then_keep_reading)
{
	t_run(half_close_main, &(struct sc){1}, NULL);
}

static void reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(fd); /* RST instead of FIN */
}

static void *reset_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *s = stream(a, arg, (corio_stream_options){0});
	send_str(b, "partial");
	char buf[64];
	cr_assert_eq(corio_stream_read(s, buf, 7), 7);
	reset(b);
	ssize_t n = corio_stream_read(s, buf, sizeof(buf));
	cr_assert_eq(n, -ECONNRESET, "read after a reset: %zd", n);
	cr_assert_eq(corio_stream_read(s, buf, sizeof(buf)), -ECONNRESET, "sticky");
	/* writing to a reset connection fails too, sooner or later */
	ssize_t w = 0;
	for (int i = 0; i < 100 && w >= 0; i++) {
		w = corio_stream_write(s, buf, sizeof(buf));
		if (w >= 0)
			w = corio_stream_flush(s);
	}
	cr_assert(w == -EPIPE || w == -ECONNRESET, "write after a reset: %zd", w);
	corio_stream_close(s);
	return NULL;
}

Test(stream, peer_reset_gives_econnreset)
{
	t_run(reset_main, &(struct sc){0}, NULL);
}

Test(stream, plain_peer_reset_gives_econnreset)
{
	t_run(reset_main, &(struct sc){1}, NULL);
}

struct big_writer {
	corio_stream *s;
	size_t total;
};

/* Write @total patterned bytes in one call and close right away: close
 * must flush what is still buffered before it closes. */
static void *write_and_close(void *arg)
{
	struct big_writer *w = arg;
	char *big = malloc(w->total);
	for (size_t i = 0; i < w->total; i++)
		big[i] = (char)(i * 7);
	cr_assert_eq(corio_stream_write(w->s, big, w->total), (ssize_t)w->total);
	free(big); /* the stream copied it */
	cr_assert_eq(corio_stream_close(w->s), 0);
	return NULL;
}

static void *close_flush_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	struct big_writer w = {.s = stream(a, arg, (corio_stream_options){0}), .total = 1 << 20};
	corio_stream *peer = stream(b, arg, (corio_stream_options){0});
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, write_and_close, &w), 0);
	static char in[1 << 16];
	size_t got = 0;
	ssize_t n;
	while ((n = corio_stream_read(peer, in, sizeof(in))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			cr_assert_eq(in[i], (char)((got + (size_t)i) * 7), "byte %zu", got + (size_t)i);
		got += (size_t)n;
	}
	cr_assert_eq(n, 0, "EOF after all the data");
	cr_assert_eq(got, w.total);
	cr_assert_eq(corio_join(t, NULL), 0);
	corio_stream_close(peer);
	return NULL;
}

Test(stream, close_flushes_what_is_buffered)
{
	t_run(close_flush_main, &(struct sc){0}, NULL);
}

Test(stream, plain_close_flushes_what_is_buffered)
{
	t_run(close_flush_main, &(struct sc){1}, NULL);
}

static void *writev_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream *s = stream(a, arg, (corio_stream_options){0});
	struct iovec iov[3] = {{"head:", 5}, {"", 0}, {"body;tail", 9}};
	cr_assert_eq(corio_stream_writev(s, iov, 3), 14);
	cr_assert_eq(corio_stream_flush(s), 0);
	cr_assert_eq(corio_stream_write_buffered(s), 0);
	char buf[14];
	cr_assert_eq(corio_recv_all(b, buf, 14, 0), 14);
	cr_assert_eq(memcmp(buf, "head:body;tail", 14), 0);
	corio_stream_close(s);
	close(b);
	return NULL;
}

Test(stream, writev_sends_the_pieces_in_order)
{
	t_run(writev_main, &(struct sc){0}, NULL);
}

/* ---- backpressure ------------------------------------------------------------ */

struct flood {
	corio_stream *s;
	size_t chunk, total, written;
	int res;
};

static void *flood_writer(void *arg)
{
	struct flood *f = arg;
	char *buf = malloc(f->chunk);
	memset(buf, 'w', f->chunk);
	while (f->written < f->total) {
		ssize_t n = corio_stream_write(f->s, buf, f->chunk);
		if (n < 0) {
			f->res = (int)n;
			break;
		}
		f->written += (size_t)n;
	}
	free(buf);
	return NULL;
}

static void small_buffers(int fd)
{
	int v = 16 * 1024;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
}

/* Wait until *@counter stops moving (the writer is blocked): two quiet
 * 50 ms windows in a row, within 5 s.  A writer that moves again after one
 * quiet window was only starved of CPU on a loaded machine, not blocked:
 * start counting again rather than fail. */
static size_t wait_stalled(const size_t *counter)
{
	uint64_t until = t_clock() + 5000 * MS;
	size_t v = *counter;
	int quiet = 0;
	while (quiet < 2 && t_clock() < until) {
		cr_assert_eq(corio_sleep(50 * MS), 0);
		if (*counter == v) {
			quiet++;
		} else {
			v = *counter;
			quiet = 0;
		}
	}
	cr_assert_eq(quiet, 2, "the writer never blocked");
	return v;
}

static void *hwm_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	small_buffers(a);
	small_buffers(b);
	corio_stream_options o = {.high_water = 64 * 1024};
	struct flood f = {.s = stream(a, arg, o), .chunk = 4096, .total = 8u << 20};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, flood_writer, &f), 0);
	/* the peer reads nothing: the writer must stop at the high-water mark */
	size_t w1 = wait_stalled(&f.written);
	cr_assert_lt(w1, (size_t)1 << 20, "and it stopped early: %zu written", w1);
	cr_assert_leq(corio_stream_write_buffered(f.s), o.high_water, "memory stays bounded");
	/* reading releases it; every byte arrives */
	static char in[65536];
	size_t got = 0;
	while (got < f.total) {
		ssize_t n = corio_recv(b, in, sizeof(in), 0);
		cr_assert_gt(n, 0);
		got += (size_t)n;
	}
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert_eq(f.res, 0);
	cr_assert_eq(f.written, f.total);
	corio_stream_close(f.s);
	close(b);
	return NULL;
}

Test(stream, writer_blocks_at_high_water_and_memory_stays_bounded)
{
	t_run(hwm_main, &(struct sc){0}, NULL);
}

Test(stream, plain_writer_blocks_at_high_water)
{
	t_run(hwm_main, &(struct sc){1}, NULL);
}

static void *close_under_writer_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	small_buffers(a);
	small_buffers(b);
	corio_stream *s = stream(a, arg, (corio_stream_options){.high_water = 4096});
	struct flood f = {.s = s, .chunk = 64 * 1024, .total = (size_t)1 << 30};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, flood_writer, &f), 0);
	wait_stalled(&f.written); /* blocked: the peer never reads */
	corio_scope sc; /* close's flush cannot finish: bound it */
	corio_timeout_push(&sc, corio_now() + 50 * MS);
	cr_assert_eq(corio_stream_close(s), -ETIMEDOUT);
	corio_timeout_pop(&sc);
	join_soon(t);
	cr_assert_eq(f.res, -ECANCELED);
	close(b);
	return NULL;
}

Test(stream, close_under_a_blocked_writer_wakes_it)
{
	t_run(close_under_writer_main, &(struct sc){0}, NULL);
}

Test(stream, plain_close_under_a_blocked_writer_wakes_it)
{
	t_run(close_under_writer_main, &(struct sc){.plain = 1}, NULL);
}

/* A task woken by data (or by room to write) that runs only after another
 * task closed the stream: it must not go on with the closed stream. */
struct woken {
	corio_stream *s;
	bool reader; /* close once data came in, else once the queue went out */
	int started;
	ssize_t res;
};

static void *woken_reader(void *arg)
{
	struct woken *w = arg;
	const char *line;
	w->started = 1;
	w->res = corio_stream_readline(w->s, &line);
	return NULL;
}

static void *woken_writer(void *arg)
{
	struct woken *w = arg;
	static char buf[16384];
	w->started = 1;
	w->res = corio_stream_write(w->s, buf, sizeof(buf));
	return NULL;
}

static void *woken_shutter(void *arg)
{
	struct woken *w = arg;
	cr_assert_eq(corio_stream_write(w->s, "x", 1), 1);
	w->started = 1;
	w->res = corio_stream_shutdown(w->s);
	return NULL;
}

/* Runs ahead of the other task in each turn, and closes the stream as
 * soon as that task has been woken: data came in (a reader), or what was
 * queued went out (a writer). */
static bool woken_yet(const struct woken *w)
{
	if (!w->started)
		return false;
	return w->reader ? corio_stream_buffered(w->s) > 0 : corio_stream_write_buffered(w->s) == 0;
}

static void *close_when(void *arg)
{
	struct woken *w = arg;
	uint64_t until = t_clock() + 5000 * MS;
	while (!woken_yet(w) && t_clock() < until)
		corio_yield();
	corio_stream_close(w->s);
	return NULL;
}

static void *woken_main(void *arg)
{
	corio_fn who[] = {woken_reader, woken_writer, woken_shutter};
	for (int i = 0; i < 3; i++) {
		int sv[2];
		cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		struct woken w = {.reader = i == 0};
		w.s = stream(sv[0], arg, (corio_stream_options){.high_water = 4096});
		corio_task *c, *t;
		cr_assert_eq(corio_spawn(&c, close_when, &w), 0);
		cr_assert_eq(corio_spawn(&t, who[i], &w), 0);
		if (i == 0) {
			corio_sleep(5 * MS);
			cr_assert_eq(write(sv[1], "abc", 3), 3); /* no newline */
		}
		join_soon(c);
		join_soon(t);
		cr_assert_eq(w.res, -ECANCELED, "case %d gave %zd", i, w.res);
		close(sv[1]);
	}
	return NULL;
}

Test(stream, woken_then_closed_by_another_task)
{
	t_run(woken_main, &(struct sc){0}, NULL);
}

Test(stream, plain_woken_then_closed_by_another_task)
{
	t_run(woken_main, &(struct sc){.plain = 1}, NULL);
}

static void *never_reads_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	small_buffers(a);
	small_buffers(b);
	struct flood f = {.s = stream(a, arg, (corio_stream_options){0}), .chunk = 1000,
			  .total = (size_t)1 << 40};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, flood_writer, &f), 0);
	/* b never reads */
	size_t w1 = wait_stalled(&f.written);
	cr_assert_lt(w1, (size_t)1 << 20, "%zu written", w1);
	cr_assert_leq(corio_stream_write_buffered(f.s), 64 * 1024);
	/* the peer goes away: the blocked writer gets the error */
	reset(b);
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert(f.res == -EPIPE || f.res == -ECONNRESET, "writer got %d", f.res);
	corio_stream_close(f.s);
	return NULL;
}

Test(stream, a_peer_that_never_reads_blocks_the_writer_until_it_goes)
{
	t_run(never_reads_main, &(struct sc){0}, NULL);
}

static void *rx_pause_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	small_buffers(a);
	corio_stream *s = stream(a, arg, (corio_stream_options){0});
	struct pumper p = {.fd = b, .total = 8u << 20, .seed = 3};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, pump, &p), 0);
	char c;
	cr_assert_eq(corio_stream_read(s, &c, 1), 1); /* arms the receive */
	cr_assert_eq(corio_sleep(100 * MS), 0);       /* then nobody reads */
	size_t buffered = corio_stream_buffered(s);
	cr_assert_leq(buffered, (size_t)512 * 1024, "receiving paused at %zu bytes", buffered);
	/* nothing was lost around the pause: check every byte */
	uint64_t x = 3;
	cr_assert_eq(c, (char)rng(&x));
	static char buf[50000];
	size_t got = 1;
	while (got < p.total) {
		ssize_t n = corio_stream_read(s, buf, sizeof(buf));
		cr_assert_gt(n, 0);
		for (ssize_t i = 0; i < n; i++)
			cr_assert_eq(buf[i], (char)rng(&x), "byte %zu", got + (size_t)i);
		got += (size_t)n;
	}
	cr_assert_eq(corio_join(t, NULL), 0);
	corio_stream_close(s);
	close(b);
	return NULL;
}

Test(stream, receiving_pauses_when_nobody_reads)
{
	t_run(rx_pause_main, &(struct sc){0}, NULL);
}

/* ---- timeouts ---------------------------------------------------------------- */

static void *trickle(void *arg)
{
	int fd = *(int *)arg;
	for (int i = 0; i < 100; i++) {
		if (corio_send(fd, "x", 1, 0) != 1 || corio_sleep(20 * MS))
			break;
	}
	return NULL;
}

static void *slowloris_main(void *arg)
{
	int a, b;
	tcp_pair(&a, &b);
	corio_stream_options o = {.read_timeout_ns = 150 * MS, .idle_timeout_ns = 100 * MS};
	corio_stream *s = stream(a, arg, o);
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, trickle, &b), 0);
	uint64_t t0 = t_clock();
	const char *line;
	/* a byte every 20 ms keeps the idle timer happy, not the read timer */
	cr_assert_eq(corio_stream_readline(s, &line), -ETIMEDOUT);
	uint64_t took = t_clock() - t0;
	/* 120, not 150: the deadline may start from a clock read a little
	 * before t0; still well clear of the 100 ms idle timeout */
	cr_assert(took >= 120 * MS && took < 1000 * MS, "took %llu ms",
		  (unsigned long long)(took / MS));
	corio_cancel(t);
	corio_join(t, NULL);
	/* silence trips the idle timeout: first take every byte sent, the
	 * stream's and any still in the socket (a send may have raced the
	 * cancel) */
	char buf[256];
	cr_assert_eq(corio_sleep(30 * MS), 0);
	int pending = 0;
	while (corio_stream_buffered(s) || (ioctl(a, FIONREAD, &pending) == 0 && pending > 0))
		cr_assert_gt(corio_stream_read(s, buf, sizeof(buf)), 0);
	t0 = t_clock();
	cr_assert_eq(corio_stream_read(s, buf, sizeof(buf)), -ETIMEDOUT);
	took = t_clock() - t0;
	cr_assert(took >= 90 * MS && took < 1000 * MS, "idle took %llu ms",
		  (unsigned long long)(took / MS));
	/* and the stream still works afterwards */
	send_str(b, "fine\n");
	cr_assert_eq(corio_stream_readline(s, &line), 5);
	corio_stream_close(s);
	close(b);
	return NULL;
}

Test(stream, slowloris_gets_the_read_timeout_silence_the_idle_timeout)
{
	t_run(slowloris_main, &(struct sc){0}, NULL);
}

Test(stream, plain_slowloris_gets_the_read_timeout)
{
	t_run(slowloris_main, &(struct sc){1}, NULL);
}

/* ---- streams over pipes ------------------------------------------------------ */

/* Our end @which of a new child's pipe, made the stream's alone: a dup of
 * it, and the process's own copy closed. */
static int child_end(corio_process *p, int which)
{
	int fd = fcntl(corio_process_fd(p, which), F_DUPFD_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(corio_process_close_fd(p, which), 0);
	return fd;
}

static void *child_lines_main(void *arg)
{
	char *argv[] = {"/bin/sh", "-c", "printf 'a\\nb\\nc\\n'", NULL};
	corio_process_options po = {.stdio = {0, CORIO_STDIO_PIPE, 0}};
	corio_process *p;
	cr_assert_eq(corio_process_spawn(&p, argv, &po), 0);
	corio_stream *s = stream(child_end(p, 1), arg, (corio_stream_options){0});
	const char *want[] = {"a\n", "b\n", "c\n"};
	for (int i = 0; i < 3; i++) {
		const char *line;
		ssize_t n = corio_stream_readline(s, &line);
		cr_assert_eq(n, 2, "line %d: %s", i, corio_strerror((int)n));
		cr_assert_eq(memcmp(line, want[i], 2), 0);
	}
	const char *line;
	cr_assert_eq(corio_stream_readline(s, &line), 0, "end of stream");
	int st;
	cr_assert_eq(corio_process_wait(p, &st), 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_eq(corio_stream_close(s), 0);
	corio_process_free(p);
	return NULL;
}

Test(stream, reads_a_childs_stdout_line_by_line)
{
	t_run(child_lines_main, &(struct sc){0}, NULL);
}

Test(stream, plain_reads_a_childs_stdout_line_by_line)
{
	t_run(child_lines_main, &(struct sc){1}, NULL);
}

static void *child_stdin_main(void *arg)
{
	char *argv[] = {"wc", "-c", NULL};
	corio_process_options po = {.stdio = {CORIO_STDIO_PIPE, CORIO_STDIO_PIPE, 0}};
	corio_process *p;
	cr_assert_eq(corio_process_spawn(&p, argv, &po), 0);
	/* more than a pipe holds, in a small high-water mark: backpressure */
	corio_stream *in = stream(child_end(p, 0), arg, (corio_stream_options){.high_water = 4096});
	corio_stream *out = stream(child_end(p, 1), arg, (corio_stream_options){0});
	static char buf[300000];
	memset(buf, 'x', sizeof(buf));
	for (size_t off = 0; off < sizeof(buf); off += 10000)
		cr_assert_eq(corio_stream_write(in, buf + off, 10000), 10000);
	cr_assert_eq(corio_stream_close(in), 0, "flushed and closed: the child sees EOF");
	const char *line;
	ssize_t n = corio_stream_readline(out, &line);
	cr_assert_gt(n, 0, "%s", corio_strerror((int)n));
	cr_assert_eq(strtol(line, NULL, 10), (long)sizeof(buf), "%.*s", (int)n, line);
	cr_assert_eq(corio_stream_readline(out, &line), 0);
	int st;
	cr_assert_eq(corio_process_wait(p, &st), 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_eq(corio_stream_close(out), 0);
	corio_process_free(p);
	return NULL;
}

Test(stream, writes_a_childs_stdin)
{
	t_run(child_stdin_main, &(struct sc){0}, NULL);
}

Test(stream, plain_writes_a_childs_stdin)
{
	t_run(child_stdin_main, &(struct sc){1}, NULL);
}

/* ---- idle streams ----------------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif

#ifdef T_ASAN
size_t __sanitizer_get_current_allocated_bytes(void);
static size_t heap_bytes(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t heap_bytes(void)
{
	return mallinfo2().uordblks;
}
#endif

struct idle {
	int n, plain;
	int lfd;
	int ready[2], go[2];
	size_t per_stream;
};

/* The clients, in a child process (a process may hold only so many fds):
 * connect, report, wait, then send a byte on each and expect one back. */
static void idle_clients(struct idle *c, struct sockaddr_storage *ss, socklen_t len)
{
	int *fds = malloc((size_t)c->n * sizeof(*fds));
	for (int i = 0; i < c->n; i++) {
		fds[i] = socket(ss->ss_family, SOCK_STREAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)ss, len))
			_exit(10);
	}
	char g;
	if (write(c->ready[1], "r", 1) != 1 || read(c->go[0], &g, 1) != 1)
		_exit(11);
	for (int i = 0; i < c->n; i++)
		if (send(fds[i], "x", 1, 0) != 1)
			_exit(12);
	for (int i = 0; i < c->n; i++)
		if (recv(fds[i], &g, 1, MSG_WAITALL) != 1 || g != 'y')
			_exit(13);
	_exit(0);
}

static void *idle_reader(void *arg)
{
	corio_stream *s = arg;
	char c = 0;
	cr_assert_eq(corio_stream_read(s, &c, 1), 1);
	cr_assert_eq(c, 'x');
	cr_assert_eq(corio_stream_write(s, "y", 1), 1);
	cr_assert_eq(corio_stream_close(s), 0);
	return NULL;
}

static void *idle_main(void *arg)
{
	struct idle *c = arg;
	corio_task **ts = calloc((size_t)c->n, sizeof(*ts));
	corio_stream_options o = {.plain = c->plain};
	size_t before = heap_bytes();
	for (int i = 0; i < c->n; i++) {
		int fd = corio_accept(c->lfd, NULL, NULL);
		cr_assert_geq(fd, 0, "accept %d: %s", i, corio_strerror(fd));
		corio_stream *s;
		cr_assert_eq(corio_stream_new(&s, fd, &o), 0);
		cr_assert_eq(corio_spawn(&ts[i], idle_reader, s), 0);
	}
	char r;
	cr_assert_eq(corio_read(c->ready[0], &r, 1), 1);
	cr_assert_eq(corio_sleep(50 * MS), 0); /* every reader is waiting now */
	size_t after = heap_bytes();
	c->per_stream = (after - before) / (size_t)c->n;
	cr_assert_eq(write(c->go[1], "g", 1), 1);
	for (int i = 0; i < c->n; i++)
		cr_assert_eq(corio_join(ts[i], NULL), 0);
	free(ts);
	corio_close(c->lfd);
	return NULL;
}

static void run_idle(struct idle *c)
{
	c->lfd = corio_tcp_listen("127.0.0.1", "0", 4096, 0);
	cr_assert_geq(c->lfd, 0);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	getsockname(c->lfd, (struct sockaddr *)&ss, &len);
	t_pipe(c->ready);
	t_pipe(c->go);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		idle_clients(c, &ss, len);
	corio_loop_options lo = {.stack_size = 32 * 1024};
	t_run(idle_main, c, &lo);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "clients: status %d", st);
}

Test(stream, ten_thousand_idle_streams_pin_no_receive_buffer, .timeout = 120)
{
	struct idle c = {.n = 10000};
	run_idle(&c);
	/* the stream record and the listener's bookkeeping; no buffer */
	cr_assert_lt(c.per_stream, 1024, "%zu bytes of heap per idle stream", c.per_stream);
}

Test(stream, plain_idle_streams_each_pin_a_receive_buffer)
{
	/* the measure is real: on the plain path each waiting read holds a
	 * buffer in the kernel's hands */
	struct idle c = {.n = 500, .plain = 1};
	run_idle(&c);
	cr_assert_geq(c.per_stream, 16 * 1024, "%zu bytes per stream", c.per_stream);
}
