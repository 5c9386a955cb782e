/* SPDX-License-Identifier: MIT */
/*
 * tests/faults.c - fault injection (corio_loop_options.faults and
 * $CORIO_FAULTS): bad specs are refused; each kind is injected (the
 * loop's counters say so) and survived: the error reaches the caller or
 * corio retries it, nothing leaks (the suite runs under ASan), nothing
 * hangs; no byte is lost or repeated through streams and the *_all calls
 * under short counts and -EINTR; and the same seed replays the same
 * faults.  Every loop here names its spec, so $CORIO_FAULTS does not
 * change these tests.
 */
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static corio_loop_options opts(const char *spec)
{
	corio_loop_options o = {0};
	o.faults = spec;
	return o;
}

/* Run @fn(@arg) as the main task of a loop with faults @spec. */
static void *run_spec(const char *spec, corio_fn fn, void *arg)
{
	corio_loop_options o = opts(spec);
	return t_run(fn, arg, &o);
}

/* The same with a fresh temporary directory as @fn's argument. */
static void run_in_tmpdir(const char *spec, corio_fn fn)
{
	char *dir = t_tmpdir();
	run_spec(spec, fn, dir);
	t_rmtree(dir);
	free(dir);
}

static corio_loop_stats stats(void)
{
	corio_loop_stats st;
	cr_assert_eq(corio_loop_get_stats(corio_current_loop(), &st), 0);
	return st;
}

static uint64_t injected(enum corio_fault_kind k)
{
	return stats().faults_by_kind[k];
}

/* The byte at stream position @i: any lost, repeated or moved byte shows. */
static unsigned char pat(size_t i)
{
	return (unsigned char)((i * 2654435761u) >> 13 ^ i >> 8);
}

static void fill(unsigned char *p, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pat(off + i);
}

static size_t bad_at(const unsigned char *p, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pat(off + i))
			return i;
	return SIZE_MAX;
}

/* Bytes waiting in @fd, read with a plain syscall (never faulted). */
static ssize_t drain_plain(int fd, unsigned char *buf, size_t n)
{
	return recv(fd, buf, n, MSG_DONTWAIT);
}

static bool is_uring(void)
{
	return !strcmp(corio_loop_backend(corio_current_loop()), "io_uring");
}

/* ---- specs --------------------------------------------------------------- */

Test(faults, bad_specs_fail_loop_creation)
{
	static const char *const bad[] = {
		"x", "1", "1:", "1:2", "1:-0.1", "-1:0.1", " 1:0.1", "1:0.1x",
		"1:0.5:", "1:0.5:bogus", "1:0.5:short,", "1:0.5:short,,eintr", "1:nan",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		corio_loop *l = NULL;
		corio_loop_options o = opts(bad[i]);
		cr_expect_eq(corio_loop_new(&l, &o), -EINVAL, "spec \"%s\" was taken", bad[i]);
	}
	static const char *const good[] = {
		"", "1:0", "0x2a:0.5", "7:1:short", "7:0.01:short,eintr,eagain,reset,pipe,nobufs,nomem,sqfull",
		"7:.5:all",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		corio_loop *l = NULL;
		corio_loop_options o = opts(good[i]);
		cr_expect_eq(corio_loop_new(&l, &o), 0, "spec \"%s\" refused", good[i]);
		if (l)
			cr_expect_eq(corio_loop_free(l), 0);
	}
}

/* From the environment: refused likewise (with a line on stderr), and
 * the option, even "", overrides the variable. */
Test(faults, env_spec_is_read_and_checked)
{
	corio_loop *l = NULL;
	setenv("CORIO_FAULTS", "1:0.5:nope", 1);
	cr_expect_eq(corio_loop_new(&l, NULL), -EINVAL);
	corio_loop_options o = opts("");
	cr_assert_eq(corio_loop_new(&l, &o), 0);
	cr_expect_eq(corio_loop_free(l), 0);
	setenv("CORIO_FAULTS", "1:1:nomem", 1);
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	cr_expect_eq(corio_loop_free(l), 0);
	unsetenv("CORIO_FAULTS");
}

static void *env_nomem_main(void *arg)
{
	(void)arg;
	int fd = corio_open("/dev/null", O_RDONLY, 0);
	cr_expect_eq(fd, -ENOMEM);
	cr_expect_eq(stats().faults_by_kind[CORIO_FAULT_NOMEM], 1);
	return NULL;
}

static void *dump_nomem_main(void *arg)
{
	(void)arg;
	cr_assert_eq(corio_open("/dev/null", O_RDONLY, 0), -ENOMEM);
	cr_assert_eq(corio_open("/dev/null", O_RDONLY, 0), -ENOMEM);
	char *text = t_loop_dump();
	cr_expect_not_null(strstr(text, "faults injected: 2 (nomem 2)"), "%s", text);
	free(text);
	return NULL;
}

Test(faults, the_dump_counts_faults_by_kind, .timeout = WAIT_TEST_TIMEOUT)
{
	run_spec("1:1:nomem", dump_nomem_main, NULL);
}

Test(faults, env_spec_injects, .timeout = WAIT_TEST_TIMEOUT)
{
	setenv("CORIO_FAULTS", "1:1:nomem", 1);
	t_run(env_nomem_main, NULL, NULL);
	unsetenv("CORIO_FAULTS");
}

/* ---- short counts -------------------------------------------------------- */

#define SHORT_N (256 * 1024)

/* Every recv and send cut: the bytes past each count stay in the socket
 * and arrive in order, and some counts are exactly 1. */
static void *short_socket_main(void *arg)
{
	(void)arg;
	int sv[2];
	t_tcp_pair(sv);
	unsigned char *out = malloc(SHORT_N), *in = malloc(SHORT_N);
	fill(out, 0, SHORT_N);
	size_t sent = 0, got = 0;
	unsigned ones = 0, sends = 0;
	while (got < SHORT_N) {
		if (sent < SHORT_N) {
			ssize_t r = corio_send(sv[0], out + sent, SHORT_N - sent, 0);
			cr_assert_gt(r, 0, "send: %s", corio_strerror((int)r));
			cr_expect_lt((size_t)r, SHORT_N - sent + (SHORT_N - sent == 1),
				     "a send was not cut");
			sent += (size_t)r;
			sends++;
		}
		ssize_t r = corio_recv(sv[1], in + got, SHORT_N - got, 0);
		cr_assert_gt(r, 0, "recv: %s", corio_strerror((int)r));
		ones += r == 1;
		got += (size_t)r;
	}
	cr_expect_eq(bad_at(in, 0, SHORT_N), SIZE_MAX, "bytes lost or reordered");
	cr_expect_gt(ones, 0, "no count of exactly 1");
	cr_expect_geq(injected(CORIO_FAULT_SHORT), sends);
	cr_expect_eq(stats().faults, injected(CORIO_FAULT_SHORT));
	corio_close(sv[0]);
	corio_close(sv[1]);
	free(out);
	free(in);
	return NULL;
}

Test(faults, short_counts_on_sockets_keep_every_byte, .timeout = WAIT_TEST_TIMEOUT)
{
	run_spec("11:1:short", short_socket_main, NULL);
}

/* corio_send_all, corio_recv_all, corio_write_full and corio_read_full
 * finish what a cut leaves. */
static void *short_all_main(void *arg)
{
	const char *dir = arg;
	unsigned char *out = malloc(SHORT_N), *in = malloc(SHORT_N);
	fill(out, 0, SHORT_N);
	int sv[2];
	t_tcp_pair(sv);
	cr_assert_eq(corio_send_all(sv[0], out, SHORT_N / 4, 0), SHORT_N / 4);
	cr_assert_eq(corio_recv_all(sv[1], in, SHORT_N / 4, 0), SHORT_N / 4);
	cr_expect_eq(bad_at(in, 0, SHORT_N / 4), SIZE_MAX);
	corio_close(sv[0]);
	corio_close(sv[1]);

	char path[4200];
	snprintf(path, sizeof(path), "%s/f", dir);
	int fd = corio_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	ssize_t wf = corio_write_full(fd, out, SHORT_N, 0);
	cr_assert_eq(wf, SHORT_N, "write_full: %zd", wf);
	memset(in, 0, SHORT_N);
	cr_assert_eq(corio_read_full(fd, in, SHORT_N, 0), SHORT_N);
	cr_expect_eq(bad_at(in, 0, SHORT_N), SIZE_MAX);
	/* at the file position too: a cut read advances it by its count */
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	memset(in, 0, SHORT_N);
	cr_assert_eq(corio_read_full(fd, in, SHORT_N, -1), SHORT_N);
	cr_expect_eq(bad_at(in, 0, SHORT_N), SIZE_MAX);
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	cr_expect_eq(st.st_size, SHORT_N);
	cr_assert_eq(corio_close(fd), 0);
	cr_expect_gt(injected(CORIO_FAULT_SHORT), 4);
	free(out);
	free(in);
	return NULL;
}

Test(faults, all_calls_finish_cut_transfers, .timeout = WAIT_TEST_TIMEOUT)
{
	run_in_tmpdir("12:0.7:short", short_all_main);
}

struct feed {
	int fd;
	const unsigned char *p;
	size_t n;
};

static void *pipe_feeder(void *arg)
{
	struct feed *f = arg;
	for (size_t off = 0; off < f->n;) {
		ssize_t r = corio_write(f->fd, f->p + off, f->n - off);
		cr_assert_gt(r, 0, "write: %s", corio_strerror((int)r));
		off += (size_t)r;
	}
	cr_assert_eq(corio_close(f->fd), 0); /* the end, for the splice */
	return NULL;
}

/* readv/writev lose their last iovecs; a splice moves less, and
 * corio_copy_fd from a pipe goes on until everything is there. */
static void *short_vec_main(void *arg)
{
	const char *dir = arg;
	char path[4200];
	snprintf(path, sizeof(path), "%s/v", dir);
	int fd = corio_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	unsigned char v[300], back[300];
	fill(v, 0, sizeof(v));
	struct iovec w[3] = {{v, 100}, {v + 100, 100}, {v + 200, 100}};
	ssize_t r = corio_pwritev(fd, w, 3, 0);
	cr_expect(r == 100 || r == 200, "pwritev of 3 iovecs: %zd", r);
	cr_assert_eq(corio_write_full(fd, v + r, sizeof(v) - (size_t)r, r), (ssize_t)sizeof(v) - r);
	struct iovec rd[3] = {{back, 100}, {back + 100, 100}, {back + 200, 100}};
	r = corio_preadv(fd, rd, 3, 0);
	cr_expect(r == 100 || r == 200, "preadv of 3 iovecs: %zd", r);
	cr_expect_eq(bad_at(back, 0, (size_t)r), SIZE_MAX);
	cr_assert_eq(corio_close(fd), 0);

	size_t n = (size_t)1 << 20;
	unsigned char *big = malloc(n), *got = malloc(n);
	fill(big, 0, n);
	int p[2];
	t_pipe(p);
	snprintf(path, sizeof(path), "%s/s", dir);
	int out = corio_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(out, 0);
	struct feed f = {p[1], big, n};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, pipe_feeder, &f), 0);
	uint64_t before = injected(CORIO_FAULT_SHORT);
	cr_assert_eq(corio_copy_fd(p[0], out, n), (ssize_t)n);
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_expect_gt(injected(CORIO_FAULT_SHORT), before + 2);
	cr_assert_eq(corio_read_full(out, got, n, 0), (ssize_t)n);
	cr_expect_eq(bad_at(got, 0, n), SIZE_MAX, "a byte lost or repeated");
	cr_assert_eq(corio_close(p[0]), 0);
	cr_assert_eq(corio_close(out), 0);
	free(big);
	free(got);
	return NULL;
}

Test(faults, short_vectors_and_splices_lose_nothing, .timeout = WAIT_TEST_TIMEOUT)
{
	run_in_tmpdir("15:1:short", short_vec_main);
}

/* ---- streams: 4 MiB under short counts and -EINTR ------------------------ */

#define STREAM_N ((size_t)4 << 20)

struct pair {
	corio_stream *w, *r;
	unsigned seed;
};

static void *stream_writer(void *arg)
{
	struct pair *p = arg;
	unsigned char *buf = malloc(65536);
	size_t off = 0;
	unsigned x = p->seed;
	while (off < STREAM_N) {
		x = x * 1103515245u + 12345u;
		size_t k = 1 + (x >> 8) % 65536;
		if (k > STREAM_N - off)
			k = STREAM_N - off;
		fill(buf, off, k);
		ssize_t r = corio_stream_write(p->w, buf, k);
		cr_assert_eq(r, (ssize_t)k, "stream write: %s", corio_strerror((int)r));
		off += k;
	}
	cr_assert_eq(corio_stream_flush(p->w), 0);
	free(buf);
	return NULL;
}

static void *stream_reader(void *arg)
{
	struct pair *p = arg;
	unsigned char *buf = malloc(65536);
	size_t off = 0;
	unsigned x = p->seed ^ 0x5555;
	while (off < STREAM_N) {
		x = x * 1103515245u + 12345u;
		size_t k = 1 + (x >> 8) % 65536;
		if (k > STREAM_N - off)
			k = STREAM_N - off;
		ssize_t r = (x & 1) ? corio_stream_read_exactly(p->r, buf, k)
				    : corio_stream_read(p->r, buf, k);
		cr_assert_gt(r, 0, "stream read at %zu: %s", off, corio_strerror((int)r));
		cr_assert_eq(bad_at(buf, off, (size_t)r), SIZE_MAX, "byte lost or repeated near %zu",
			     off);
		off += (size_t)r;
	}
	free(buf);
	return NULL;
}

static void *stream_main(void *arg)
{
	const int *plain = arg;
	int sv[2];
	t_tcp_pair(sv);
	corio_stream_options so = {0};
	so.plain = *plain;
	struct pair p = {.seed = 99};
	cr_assert_eq(corio_stream_new(&p.w, sv[0], &so), 0);
	cr_assert_eq(corio_stream_new(&p.r, sv[1], &so), 0);
	corio_task *w, *r;
	cr_assert_eq(corio_spawn(&w, stream_writer, &p), 0);
	cr_assert_eq(corio_spawn(&r, stream_reader, &p), 0);
	cr_assert_eq(corio_join(w, NULL), 0);
	cr_assert_eq(corio_join(r, NULL), 0);
	/* and the end of the stream after it: nothing more, nothing less */
	cr_assert_eq(corio_stream_close(p.w), 0);
	char c;
	cr_expect_eq(corio_stream_read(p.r, &c, 1), 0);
	cr_assert_eq(corio_stream_close(p.r), 0);
	corio_loop_stats st = stats();
	cr_expect_gt(st.faults_by_kind[CORIO_FAULT_SHORT], 0);
	cr_expect_gt(st.faults_by_kind[CORIO_FAULT_EINTR], 0);
	return NULL;
}

Test(faults, stream_4mib_under_short_and_eintr, .timeout = 60)
{
	int plain = 0;
	run_spec("13:0.2:short,eintr", stream_main, &plain);
}

Test(faults, plain_stream_4mib_under_short_and_eintr, .timeout = 60)
{
	int plain = 1;
	run_spec("14:0.2:short,eintr", stream_main, &plain);
}

/* ---- -EINTR -------------------------------------------------------------- */

/* A plain call hands -EINTR to its caller, having moved nothing; the
 * *_all calls retry it. */
static void *eintr_main(void *arg)
{
	(void)arg;
	int sv[2];
	t_tcp_pair(sv);
	unsigned char out[4096], in[4096];
	fill(out, 0, sizeof(out));
	unsigned seen = 0;
	size_t got = 0;
	for (int i = 0; i < 64; i++) {
		ssize_t r = corio_send(sv[0], out, sizeof(out), 0);
		if (r == -EINTR) {
			seen++;
			cr_expect_eq(drain_plain(sv[1], in, sizeof(in)), -1, "an -EINTR send sent");
			continue;
		}
		cr_assert_eq(r, (ssize_t)sizeof(out));
		size_t k = 0;
		while (k < sizeof(out)) {
			ssize_t q = corio_recv(sv[1], in + k, sizeof(out) - k, 0);
			if (q == -EINTR) {
				seen++;
				continue;
			}
			cr_assert_gt(q, 0);
			k += (size_t)q;
		}
		cr_expect_eq(bad_at(in, 0, sizeof(out)), SIZE_MAX);
		got++;
	}
	cr_expect_gt(seen, 0);
	cr_expect_gt(got, 0);
	cr_expect_eq(injected(CORIO_FAULT_EINTR), seen);
	/* the *_all calls see none of it */
	unsigned char *big = malloc(SHORT_N), *back = malloc(SHORT_N);
	fill(big, 0, SHORT_N);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(corio_send_all(sv[0], big, 8192, 0), 8192, "send_all");
		cr_assert_eq(corio_recv_all(sv[1], back, 8192, 0), 8192, "recv_all");
		cr_expect_eq(bad_at(back, 0, 8192), SIZE_MAX);
	}
	free(big);
	free(back);
	corio_close(sv[0]);
	corio_close(sv[1]);
	return NULL;
}

Test(faults, eintr_reaches_the_caller_or_is_retried, .timeout = WAIT_TEST_TIMEOUT)
{
	run_spec("21:0.4:eintr", eintr_main, NULL);
}

/* ---- -EAGAIN ------------------------------------------------------------- */

static void *eagain_main(void *arg)
{
	(void)arg;
	int sv[2];
	t_tcp_pair(sv);
	cr_assert_eq(send(sv[0], "abc", 3, 0), 3);
	char buf[8];
	/* only where the caller asked not to wait */
	cr_expect_eq(corio_recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
	cr_expect_eq(injected(CORIO_FAULT_EAGAIN), 1);
	cr_expect_eq(corio_recv(sv[1], buf, 1, 0), 1, "a blocking recv got a fault");
	cr_expect_eq(buf[0], 'a');
	cr_expect_eq(injected(CORIO_FAULT_EAGAIN), 1);
	cr_expect_eq(drain_plain(sv[1], (unsigned char *)buf, sizeof(buf)), 2, "bytes lost");
	corio_close(sv[0]);
	corio_close(sv[1]);
	return NULL;
}

Test(faults, eagain_only_when_asked_not_to_wait, .timeout = WAIT_TEST_TIMEOUT)
{
	run_spec("31:1:eagain", eagain_main, NULL);
}

/* ---- -ECONNRESET, -ECONNABORTED, -EPIPE, -ENOBUFS ------------------------- */

static void *reset_main(void *arg)
{
	(void)arg;
	int sv[2];
	t_tcp_pair(sv);
	cr_assert_eq(send(sv[0], "hello", 5, 0), 5);
	char buf[8];
	cr_expect_eq(corio_recv(sv[1], buf, sizeof(buf), 0), -ECONNRESET);
	cr_expect_eq(corio_send(sv[1], "x", 1, 0), -ECONNRESET);
	/* nothing was taken from the socket */
	cr_expect_eq(drain_plain(sv[1], (unsigned char *)buf, sizeof(buf)), 5);
	/* a stream reports it to its reader */
	corio_stream *s;
	cr_assert_eq(corio_stream_new(&s, sv[1], NULL), 0);
	cr_expect_eq(corio_stream_read(s, buf, sizeof(buf)), -ECONNRESET);
	cr_assert_eq(corio_stream_close(s), 0);
	corio_close(sv[0]);

	/* accept: the connection is "reset" in the backlog; the next one
	 * (made by hand) is still there for a plain accept */
	int lfd = corio_tcp_listen("127.0.0.1", "0", 4, 0);
	cr_assert_geq(lfd, 0);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
	int c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&ss, len), 0);
	cr_expect_eq(corio_accept(lfd, NULL, NULL), -ECONNABORTED);
	int a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	cr_expect_geq(a, 0, "the connection was taken from the backlog");
	if (a >= 0)
		close(a);
	close(c);
	cr_assert_eq(corio_close(lfd), 0);
	cr_expect_eq(injected(CORIO_FAULT_RESET), 4);
	return NULL;
}

Test(faults, reset_reaches_the_caller_and_takes_nothing, .timeout = WAIT_TEST_TIMEOUT)
{
	setenv("CORIO_NET_PLAIN", "1", 1); /* one accept op per call */
	run_spec("41:1:reset", reset_main, NULL);
}

static void *pipe_main(void *arg)
{
	(void)arg;
	int sv[2];
	t_tcp_pair(sv);
	unsigned char buf[8];
	cr_expect_eq(corio_send(sv[0], "x", 1, 0), -EPIPE);
	cr_expect_eq(corio_send_all(sv[0], "xyz", 3, 0), -EPIPE);
	cr_expect_eq(drain_plain(sv[1], buf, sizeof(buf)), -1, "a failed send sent");
	int p[2];
	t_pipe(p);
	cr_expect_eq(corio_write(p[1], "x", 1), -EPIPE);
	cr_assert_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	cr_expect_eq(read(p[0], buf, 1), -1, "a failed write wrote");
	corio_close(p[0]);
	corio_close(p[1]);
	corio_close(sv[0]);
	corio_close(sv[1]);
	cr_expect_eq(injected(CORIO_FAULT_PIPE), 3);
	return NULL;
}

Test(faults, epipe_reaches_the_caller, .timeout = WAIT_TEST_TIMEOUT)
{
	run_spec("51:1:pipe", pipe_main, NULL);
}

/* ---- -ENOBUFS ------------------------------------------------------------ */

/* A send hands it to the caller; a multishot receive that ends with it
 * (its buffer ring ran dry) is armed again by the stream, so the reader
 * sees nothing of it. */
static void *nobufs_main(void *arg)
{
	(void)arg;
	int sv[2];
	t_tcp_pair(sv);
	unsigned seen = 0;
	for (int i = 0; i < 32; i++) {
		ssize_t r = corio_send(sv[0], "0123456789", 10, 0);
		cr_assert(r == 10 || r == -ENOBUFS, "send: %s", corio_strerror((int)r));
		seen += r == -ENOBUFS;
	}
	cr_expect_gt(seen, 0);
	cr_expect_eq(injected(CORIO_FAULT_NOBUFS), seen);
	corio_stream *s;
	cr_assert_eq(corio_stream_new(&s, sv[1], NULL), 0);
	char buf[16];
	for (int i = 0; i < 32 - (int)seen; i++) {
		cr_assert_eq(corio_stream_read_exactly(s, buf, 10), 10);
		cr_expect_eq(memcmp(buf, "0123456789", 10), 0);
		cr_assert_eq(send(sv[0], "0123456789", 10, 0), 10);
	}
	cr_assert_eq(corio_stream_close(s), 0);
	corio_close(sv[0]);
	return NULL;
}

Test(faults, enobufs_reaches_a_sender_and_is_rearmed_by_streams, .timeout = WAIT_TEST_TIMEOUT)
{
	run_spec("61:0.5:nobufs", nobufs_main, NULL);
}

/* ---- -ENOMEM ------------------------------------------------------------- */

static void *nomem_main(void *arg)
{
	const char *dir = arg;
	char path[4200];
	snprintf(path, sizeof(path), "%s/f", dir);
	cr_assert_eq(corio_write_file(path, "data", 4, 0), -ENOMEM);
	cr_expect_eq(access(path, F_OK), -1, "a failed open made the file");
	struct statx sx;
	cr_expect_eq(corio_statx(AT_FDCWD, dir, 0, STATX_BASIC_STATS, &sx), -ENOMEM);
	void *data = NULL;
	size_t len = 0;
	cr_expect_eq(corio_read_file("/etc/hostname", &data, &len), -ENOMEM);
	int sv[2];
	t_tcp_pair(sv);
	cr_expect_eq(corio_send(sv[0], "x", 1, 0), -ENOMEM);
	cr_assert_eq(send(sv[0], "y", 1, 0), 1);
	char c;
	cr_expect_eq(corio_recv(sv[1], &c, 1, 0), -ENOMEM);
	cr_expect_eq(recv(sv[1], &c, 1, 0), 1);
	cr_expect_eq(c, 'y');
	/* the listener's accept (multishot where there is one) */
	int lfd = corio_tcp_listen("127.0.0.1", "0", 4, 0);
	cr_assert_geq(lfd, 0);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&ss, &sl), 0);
	int cl = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(cl, (struct sockaddr *)&ss, sl), 0);
	cr_expect_eq(corio_accept(lfd, NULL, NULL), -ENOMEM);
	close(cl);
	cr_assert_eq(corio_close(lfd), 0);
	corio_close(sv[0]);
	corio_close(sv[1]);
	cr_expect_eq(injected(CORIO_FAULT_NOMEM), 6);
	return NULL;
}

Test(faults, enomem_reaches_the_caller_and_leaks_nothing, .timeout = WAIT_TEST_TIMEOUT)
{
	run_in_tmpdir("71:1:nomem", nomem_main);
}

/* ---- a full submission queue (io_uring) ---------------------------------- */

struct sq {
	int fd;
	unsigned n;
};

static void *sq_reader(void *arg)
{
	struct sq *q = arg;
	unsigned char buf[64];
	size_t off = 0;
	while (off < (size_t)q->n * 64) {
		ssize_t r = corio_read(q->fd, buf, sizeof(buf));
		cr_assert_gt(r, 0);
		cr_assert_eq(bad_at(buf, off, (size_t)r), SIZE_MAX);
		off += (size_t)r;
	}
	return NULL;
}

static void *sqfull_main(void *arg)
{
	(void)arg;
	if (!is_uring())
		return CORIO_ERR_PTR(-EOPNOTSUPP);
	int p[2];
	t_pipe(p);
	struct sq q = {.fd = p[0], .n = 200};
	corio_task *t[4];
	for (int i = 0; i < 3; i++)
		cr_assert_eq(corio_spawn(&t[i], (corio_fn)(void *)corio_nop, NULL), 0);
	cr_assert_eq(corio_spawn(&t[3], sq_reader, &q), 0);
	unsigned char buf[64];
	for (unsigned i = 0; i < q.n; i++) {
		fill(buf, (size_t)i * 64, 64);
		cr_assert_eq(corio_write(p[1], buf, 64), 64);
		cr_assert_eq(corio_nop(), 0);
	}
	for (int i = 0; i < 4; i++)
		cr_assert_eq(corio_join(t[i], NULL), 0);
	corio_close(p[0]);
	corio_close(p[1]);
	corio_loop_stats st = stats();
	cr_expect_gt(st.faults_by_kind[CORIO_FAULT_SQFULL], 100);
	cr_expect_eq(st.faults, st.faults_by_kind[CORIO_FAULT_SQFULL]);
	return NULL;
}

Test(faults, sqfull_flushes_and_loses_nothing, .timeout = WAIT_TEST_TIMEOUT)
{
	if (run_spec("81:1:sqfull", sqfull_main, NULL) == CORIO_ERR_PTR(-EOPNOTSUPP))
		cr_skip_test("sqfull is an io_uring fault (this loop runs epoll)");
}

/* ---- replay -------------------------------------------------------------- */

#define REPLAY_OPS 200

struct replay {
	const char *dir;
	long res[REPLAY_OPS * 4];
	uint64_t by_kind[CORIO_FAULT_KINDS];
};

/* Another thread keeps waking the loop meanwhile: how often it does
 * depends on timing, and the runtime's own re-armed wake-up reads must
 * not move the fault sequence (they once drew sqfull). */
struct poster {
	corio_loop *loop;
	atomic_bool stop;
};

static void nothing(void *arg)
{
	(void)arg;
}

static void *poster_main(void *arg)
{
	struct poster *p = arg;
	while (!atomic_load(&p->stop)) {
		corio_call_threadsafe(p->loop, nothing, NULL);
		usleep(20);
	}
	return NULL;
}

/* A program whose ops do not depend on timing: one task, files and a
 * socket pair drained between steps; every result is recorded. */
static void *replay_main(void *arg)
{
	struct replay *rp = arg;
	struct poster post = {.loop = corio_current_loop()};
	pthread_t poster;
	cr_assert_eq(pthread_create(&poster, NULL, poster_main, &post), 0);
	char path[4200];
	snprintf(path, sizeof(path), "%s/r", rp->dir);
	int fd = corio_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	while (fd == -ENOMEM)
		fd = corio_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	unsigned char buf[1000], in[1000];
	fill(buf, 0, sizeof(buf));
	long *out = rp->res;
	for (int i = 0; i < REPLAY_OPS; i++) {
		*out++ = corio_pwrite(fd, buf, sizeof(buf), (off_t)i * 1000);
		*out++ = corio_pread(fd, in, sizeof(in), (off_t)i * 1000);
		ssize_t s = corio_send(sv[0], buf, sizeof(buf), 0);
		*out++ = s;
		*out++ = corio_recv(sv[1], in, s > 0 ? (size_t)s : 1, MSG_DONTWAIT);
		while (drain_plain(sv[1], in, sizeof(in)) > 0)
			;
	}
	atomic_store(&post.stop, true);
	pthread_join(poster, NULL);
	corio_close(sv[0]);
	corio_close(sv[1]);
	cr_assert_eq(corio_close(fd), 0);
	memcpy(rp->by_kind, stats().faults_by_kind, sizeof(rp->by_kind));
	return NULL;
}


Test(faults, same_seed_replays_the_same_faults, .timeout = WAIT_TEST_TIMEOUT)
{
	char *dir = t_tmpdir();
	static struct replay a, b, c;
	a.dir = b.dir = c.dir = dir;
	run_spec("1234:0.3", replay_main, &a);
	run_spec("1234:0.3", replay_main, &b);
	run_spec("1235:0.3", replay_main, &c);
	t_rmtree(dir);
	free(dir);
	uint64_t total = 0;
	for (int k = 0; k < CORIO_FAULT_KINDS; k++)
		total += a.by_kind[k];
	cr_expect_gt(total, 50, "too few faults to compare");
	cr_expect_gt(a.by_kind[CORIO_FAULT_SHORT], 0);
	cr_expect_gt(a.by_kind[CORIO_FAULT_EAGAIN], 0);
	cr_expect_eq(memcmp(a.by_kind, b.by_kind, sizeof(a.by_kind)), 0, "counts differ");
	for (int i = 0; i < REPLAY_OPS * 4; i++)
		cr_assert_eq(a.res[i], b.res[i], "op %d: %ld then %ld", i, a.res[i], b.res[i]);
	cr_expect_neq(memcmp(a.res, c.res, sizeof(a.res)), 0, "another seed, the same faults");
}

/* ---- a retry that fails every time does not hold the loop ---------------- */

/* At rate 1 a stream's own retries (-EINTR on send, -ENOBUFS on the
 * multishot receive) meet the fault again at once.  The loop must still
 * run its turns: the caller's timeout scope ends the wait.  On epoll the
 * completions a completion queued used to run in the same delivery, for
 * ever. */
static void *endless_retry_main(void *arg)
{
	bool reading = arg != NULL;
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	corio_stream *s;
	cr_assert_eq(corio_stream_new(&s, sv[0], NULL), 0);
	if (!reading)
		cr_assert_eq(send(sv[1], "x", 1, 0), 1); /* unused: the write side */
	else
		cr_assert_eq(send(sv[1], "hello", 5, 0), 5);
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 200 * MS);
	ssize_t r;
	if (reading) {
		char buf[16];
		r = corio_stream_read(s, buf, sizeof(buf));
	} else {
		r = corio_stream_write(s, "hello", 5);
		if (r >= 0)
			r = corio_stream_flush(s);
	}
	cr_expect_eq(r, -ETIMEDOUT, "%zd", r);
	cr_expect_gt(stats().faults, 10);
	corio_stream_close(s); /* its flush too is bounded by the scope */
	corio_timeout_pop(&sc);
	close(sv[1]);
	return NULL;
}

Test(faults, a_send_that_always_meets_eintr_does_not_hold_the_loop, .timeout = WAIT_TEST_TIMEOUT)
{
	run_spec("1:1:eintr", endless_retry_main, NULL);
}

Test(faults, a_receive_that_always_meets_enobufs_does_not_hold_the_loop,
     .timeout = WAIT_TEST_TIMEOUT)
{
	run_spec("1:1:nobufs", endless_retry_main, (void *)1);
}
