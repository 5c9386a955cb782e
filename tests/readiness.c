/* SPDX-License-Identifier: MIT */
/*
 * tests/readiness.c - behaviour every backend must share, written for the
 * parts the epoll backend does by hand (readiness, edges, its per-fd
 * records): an fd number reused after corio_close(), idle pipes that
 * must not hold the offload pool, MSG_WAITALL and MSG_DONTWAIT, a poll for
 * both directions, a Unix connect that waits for room in the backlog, and
 * streams fed while their reader is busy or ending with data and FIN at
 * once.  The suite runs once per backend, like all the others.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

static void t_socketpair(int sv[2])
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* ---- an fd number reused after corio_close() -------------------------------- */

/* An fd corio has waited on is closed with corio_close() (io.h): the
 * backends then forget it, and a new file under the same number waits
 * right.  (A plain close(2) and reuse is the caller's bug: the epoll
 * backend trusts its record rather than check it on every wait.) */

struct feeder {
	int fd;
	const char *msg;
	uint64_t delay;
};

static void *feed_later(void *arg)
{
	struct feeder *f = arg;
	corio_sleep(f->delay);
	cr_assert_eq(write(f->fd, f->msg, strlen(f->msg)), (ssize_t)strlen(f->msg));
	return NULL;
}

static void *reuse_main(void *arg)
{
	(void)arg;
	int a[2], b[2];
	char buf[16];
	/* wait on a socket, so that the backend keeps what it knows of it */
	t_socketpair(a);
	corio_task *t;
	struct feeder f = {.fd = a[1], .msg = "one", .delay = 5 * MS};
	cr_assert_eq(corio_spawn(&t, feed_later, &f), 0);
	cr_assert_eq(corio_recv(a[0], buf, sizeof(buf), 0), 3);
	cr_assert_eq(corio_join(t, NULL), 0);
	int num = a[0];
	cr_assert_eq(corio_close(a[0]), 0);
	corio_close(a[1]);
	/* the next socket gets the same number; waiting on it must work */
	t_socketpair(b);
	cr_assert_eq(b[0], num, "the fd number was reused");
	f = (struct feeder){.fd = b[1], .msg = "two", .delay = 5 * MS};
	cr_assert_eq(corio_spawn(&t, feed_later, &f), 0);
	cr_assert_eq(corio_recv(b[0], buf, sizeof(buf), 0), 3);
	cr_assert_eq(memcmp(buf, "two", 3), 0);
	cr_assert_eq(corio_join(t, NULL), 0);
	/* and as a pipe, read with corio_read, which must not block the loop */
	cr_assert_eq(corio_close(b[0]), 0);
	int p[2];
	t_pipe(p);
	cr_assert_eq(p[0], num);
	f = (struct feeder){.fd = p[1], .msg = "three", .delay = 5 * MS};
	cr_assert_eq(corio_spawn(&t, feed_later, &f), 0);
	cr_assert_eq(corio_read(p[0], buf, sizeof(buf)), 5);
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert_eq(corio_close(p[0]), 0);
	corio_close(p[1]);
	corio_close(b[1]);
	/* and as a socket wrapped in a stream, whose receive is multishot */
	int c[2];
	t_socketpair(c);
	cr_assert(c[0] == num || c[1] == num, "the fd number was reused");
	int mine = c[0] == num ? c[0] : c[1], peer = c[0] == num ? c[1] : c[0];
	corio_stream *s;
	cr_assert_eq(corio_stream_new(&s, mine, NULL), 0);
	f = (struct feeder){.fd = peer, .msg = "four", .delay = 5 * MS};
	cr_assert_eq(corio_spawn(&t, feed_later, &f), 0);
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 5000 * MS);
	cr_assert_eq(corio_stream_read(s, buf, sizeof(buf)), 4);
	corio_timeout_pop(&sc);
	cr_assert_eq(corio_join(t, NULL), 0);
	corio_stream_close(s);
	corio_close(peer);
	return NULL;
}

Test(readiness, an_fd_number_reused_after_corio_close_still_waits_right, .timeout = 20)
{
	CORIO_TEST_NO_FAULTS("asserts that a single recv is whole");
	t_run(reuse_main, NULL, NULL);
}

/* ---- corio_close under waiting tasks ------------------------------------ */

struct fd_waiter {
	int fd, how; /* 0 recv, 1 poll, 2 read */
	ssize_t res;
};

static void *wait_on_fd(void *arg)
{
	struct fd_waiter *w = arg;
	char buf[16];
	corio_scope sc; /* a bound, so that a miss fails rather than hangs */
	corio_timeout_push(&sc, corio_now() + 5000 * MS);
	w->res = w->how == 0   ? corio_recv(w->fd, buf, sizeof(buf), 0)
		 : w->how == 1 ? corio_poll(w->fd, POLLIN)
			       : corio_read(w->fd, buf, sizeof(buf));
	corio_timeout_pop(&sc);
	return NULL;
}

static void *close_wakes_main(void *arg)
{
	(void)arg;
	int sv[2], p[2];
	t_socketpair(sv);
	t_pipe(p);
	struct fd_waiter w[3] = {{sv[0], 0, 1}, {sv[0], 1, 1}, {p[0], 2, 1}};
	corio_task *t[3];
	for (int i = 0; i < 3; i++)
		cr_assert_eq(corio_spawn(&t[i], wait_on_fd, &w[i]), 0);
	corio_sleep(10 * MS);
	uint64_t t0 = t_clock();
	cr_assert_eq(corio_close(sv[0]), 0);
	cr_assert_eq(corio_close(p[0]), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(corio_join(t[i], NULL), 0);
	cr_assert_lt(t_clock() - t0, 2000 * MS, "the waiters were not woken by the close");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(w[i].res, -ECANCELED, "waiter %d got %zd", i, w[i].res);
	corio_close(sv[1]);
	corio_close(p[1]);
	return NULL;
}

Test(readiness, corio_close_ends_the_waits_on_the_fd, .timeout = 20)
{
	t_run(close_wakes_main, NULL, NULL);
}

/* ---- idle pipes and the pool -------------------------------------------------- */

enum { IDLE_READERS = 64 };

struct idle_pipe {
	int p[2];
	char got;
};

static void *pipe_reader(void *arg)
{
	struct idle_pipe *ip = arg;
	cr_assert_eq(corio_read(ip->p[0], &ip->got, 1), 1);
	return NULL;
}

static void *idle_pipes_main(void *arg)
{
	const char *file = arg;
	struct idle_pipe ps[IDLE_READERS];
	corio_task *ts[IDLE_READERS];
	for (int i = 0; i < IDLE_READERS; i++) {
		t_pipe(ps[i].p);
		cr_assert_eq(corio_spawn(&ts[i], pipe_reader, &ps[i]), 0);
	}
	cr_assert_eq(corio_sleep(5 * MS), 0); /* every reader waits now */
	/* file work still gets done: no worker is stuck in a pipe read */
	uint64_t t0 = t_clock();
	void *data = NULL;
	size_t len = 0;
	cr_assert_eq(corio_write_file(file, "contents", 8, 0), 0);
	cr_assert_eq(corio_read_file(file, &data, &len), 0);
	cr_assert_eq(len, 8);
	free(data);
	cr_assert_lt(t_clock() - t0, 2000 * MS, "file calls waited for idle pipes");
	for (int i = 0; i < IDLE_READERS; i++)
		cr_assert_eq(write(ps[i].p[1], "x", 1), 1);
	for (int i = 0; i < IDLE_READERS; i++) {
		cr_assert_eq(corio_join(ts[i], NULL), 0);
		cr_assert_eq(ps[i].got, 'x');
		corio_close(ps[i].p[0]);
		corio_close(ps[i].p[1]);
	}
	return NULL;
}

Test(readiness, idle_pipe_reads_do_not_hold_the_offload_pool, .timeout = 20)
{
	char *dir = t_tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/f", dir);
	t_run(idle_pipes_main, path, NULL);
	t_rmtree(dir);
	free(dir);
}

/* ---- recv flags ------------------------------------------------------------------ */

struct dribble {
	int fd;
	int pieces;
};

static void *dribble(void *arg)
{
	struct dribble *d = arg;
	for (int i = 0; i < d->pieces; i++) {
		corio_sleep(3 * MS);
		char c = (char)('a' + i);
		cr_assert_eq(corio_send(d->fd, &c, 1, 0), 1);
	}
	return NULL;
}

static void *flags_main(void *arg)
{
	(void)arg;
	int sv[2];
	t_socketpair(sv);
	char buf[8];
	/* nothing there and asked not to wait */
	cr_assert_eq(corio_recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT), -EAGAIN);
	/* MSG_WAITALL: one call gathers pieces sent apart */
	struct dribble d = {.fd = sv[1], .pieces = 5};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, dribble, &d), 0);
	cr_assert_eq(corio_recv(sv[0], buf, 5, MSG_WAITALL), 5);
	cr_assert_eq(memcmp(buf, "abcde", 5), 0);
	cr_assert_eq(corio_join(t, NULL), 0);
	/* MSG_WAITALL stops short at EOF with what it has */
	cr_assert_eq(corio_send(sv[1], "xy", 2, 0), 2);
	cr_assert_eq(shutdown(sv[1], SHUT_WR), 0);
	cr_assert_eq(corio_recv(sv[0], buf, 8, MSG_WAITALL), 2);
	cr_assert_eq(corio_recv(sv[0], buf, 8, 0), 0);
	corio_close(sv[0]);
	corio_close(sv[1]);
	return NULL;
}

Test(readiness, recv_honours_msg_waitall_and_msg_dontwait, .timeout = 20)
{
	t_run(flags_main, NULL, NULL);
}

/* ---- a poll for both directions --------------------------------------------------- */

static void *drain_later(void *arg)
{
	int fd = *(int *)arg;
	corio_sleep(10 * MS);
	char buf[65536];
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	return NULL;
}

static void *poll_both_main(void *arg)
{
	(void)arg;
	int sv[2];
	t_socketpair(sv);
	int sz = 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	/* fill sv[0]'s send side until it would block */
	char buf[4096] = {0};
	while (corio_send(sv[0], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	/* neither readable nor writable now: the poll waits until the peer
	 * drains, and then reports writable */
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, drain_later, &sv[1]), 0);
	uint64_t t0 = t_clock();
	int ev = corio_poll(sv[0], POLLIN | POLLOUT);
	cr_assert_geq(ev, 0, "poll: %s", corio_strerror(ev));
	cr_assert(ev & POLLOUT, "events %#x", ev);
	cr_assert_geq(t_clock() - t0, 5 * MS, "the poll waited for the drain");
	cr_assert_eq(corio_join(t, NULL), 0);
	corio_close(sv[0]);
	corio_close(sv[1]);
	return NULL;
}

Test(readiness, a_poll_for_both_directions_wakes_on_writable, .timeout = 20)
{
	t_run(poll_both_main, NULL, NULL);
}

/* ---- a Unix connect waits for room in the backlog ----------------------------------- */

struct backlog {
	struct sockaddr_un sa;
	int lfd;
	int accepted;
};

static void *accept_later(void *arg)
{
	struct backlog *b = arg;
	corio_sleep(20 * MS);
	for (;;) {
		int fd = corio_accept(b->lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		b->accepted++;
		corio_close(fd);
	}
}

static void *backlog_main(void *arg)
{
	struct backlog *b = arg;
	b->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(b->lfd, 0);
	cr_assert_eq(bind(b->lfd, (struct sockaddr *)&b->sa, sizeof(b->sa)), 0);
	cr_assert_eq(listen(b->lfd, 0), 0);
	/* fill the backlog with plain non-blocking connects */
	int held[8], nheld = 0;
	for (; nheld < 8; nheld++) {
		held[nheld] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (connect(held[nheld], (struct sockaddr *)&b->sa, sizeof(b->sa)) != 0) {
			cr_assert_eq(errno, EAGAIN, "connect: %s", strerror(errno));
			corio_close(held[nheld]);
			break;
		}
	}
	cr_assert_lt(nheld, 8, "the backlog filled up");
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, accept_later, b), 0);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint64_t t0 = t_clock();
	int rc = corio_connect(fd, (struct sockaddr *)&b->sa, sizeof(b->sa));
	cr_assert_eq(rc, 0, "connect: %s", corio_strerror(rc));
	cr_assert_geq(t_clock() - t0, 10 * MS, "it waited for the accepts");
	corio_close(fd);
	corio_cancel(t);
	corio_join(t, NULL);
	cr_assert_geq(b->accepted, 1);
	for (int i = 0; i < nheld; i++)
		corio_close(held[i]);
	corio_close(b->lfd);
	return NULL;
}

Test(readiness, a_unix_connect_waits_for_room_in_the_backlog, .timeout = 20)
{
	struct backlog b = {.sa.sun_family = AF_UNIX};
	char *dir = t_tmpdir();
	snprintf(b.sa.sun_path, sizeof(b.sa.sun_path), "%s/s", dir);
	t_run(backlog_main, &b, NULL);
	t_rmtree(dir);
	free(dir);
}

/* ---- streams: data while the reader is busy; data and FIN at once ------------------ */

/* "a" at once; "b" and the hang-up 2 ms later, while the reader is busy. */
static void *send_pieces(void *arg)
{
	int fd = *(int *)arg;
	cr_assert_eq(corio_send(fd, "a", 1, 0), 1);
	corio_sleep(2 * MS);
	cr_assert_eq(corio_send(fd, "b", 1, 0), 1);
	corio_close(fd);
	return NULL;
}

static void *busy_reader_main(void *arg)
{
	(void)arg;
	for (int round = 0; round < 10; round++) {
		int sv[2];
		t_socketpair(sv);
		corio_stream *s;
		cr_assert_eq(corio_stream_new(&s, sv[0], NULL), 0);
		corio_task *t;
		cr_assert_eq(corio_spawn(&t, send_pieces, &sv[1]), 0);
		/* each read takes what is there (less than asked for); the
		 * reader is busy while the rest and the hang-up arrive */
		char got[8];
		size_t n = 0;
		ssize_t r;
		while ((r = corio_stream_read(s, got + n, sizeof(got) - n)) > 0) {
			n += (size_t)r;
			cr_assert_eq(corio_sleep(10 * MS), 0);
		}
		cr_assert_eq(r, 0, "round %d: %s", round, corio_strerror((int)r));
		cr_assert_eq(n, 2, "round %d", round);
		cr_assert_eq(memcmp(got, "ab", 2), 0);
		cr_assert_eq(corio_join(t, NULL), 0);
		corio_stream_close(s);
	}
	return NULL;
}

Test(readiness, a_stream_gets_what_arrived_while_its_reader_was_busy, .timeout = 20)
{
	t_run(busy_reader_main, NULL, NULL);
}

/* Once the reader waits: the last data and the hang-up together. */
static void *last_words(void *arg)
{
	int fd = *(int *)arg;
	corio_sleep(3 * MS);
	cr_assert_eq(write(fd, "cdefg", 5), 5);
	corio_close(fd);
	return NULL;
}

static void *data_and_fin_main(void *arg)
{
	(void)arg;
	for (int round = 0; round < 20; round++) {
		int sv[2];
		t_socketpair(sv);
		corio_stream *s;
		cr_assert_eq(corio_stream_new(&s, sv[0], NULL), 0);
		corio_task *t;
		cr_assert_eq(corio_spawn(&t, last_words, &sv[1]), 0);
		char buf[16];
		cr_assert_eq(corio_stream_read(s, buf, sizeof(buf)), 5, "round %d", round);
		cr_assert_eq(corio_stream_read(s, buf, sizeof(buf)), 0, "round %d: EOF", round);
		cr_assert_eq(corio_join(t, NULL), 0);
		corio_stream_close(s);
	}
	return NULL;
}

Test(readiness, a_stream_sees_eof_that_came_with_its_last_data, .timeout = 20)
{
	t_run(data_and_fin_main, NULL, NULL);
}

/* ---- polls never queue behind takers, nor hold them up ------------------------------ */

struct waiter {
	int fd;
	ssize_t res;
	bool done;
};

static void *poll_rdhup(void *arg)
{
	struct waiter *w = arg;
	w->res = corio_poll(w->fd, POLLRDHUP);
	w->done = true;
	return NULL;
}

static void *recv_some(void *arg)
{
	struct waiter *w = arg;
	char buf[16];
	w->res = corio_recv(w->fd, buf, sizeof(buf), 0);
	w->done = true;
	return NULL;
}

static void *watcher_main(void *arg)
{
	(void)arg;
	int sv[2];
	t_socketpair(sv);
	/* a hang-up watcher first, then a reader: data must reach the reader */
	struct waiter p = {.fd = sv[0]}, r = {.fd = sv[0]};
	corio_task *tp, *tr;
	cr_assert_eq(corio_spawn(&tp, poll_rdhup, &p), 0);
	cr_assert_eq(corio_sleep(2 * MS), 0);
	cr_assert_eq(corio_spawn(&tr, recv_some, &r), 0);
	cr_assert_eq(corio_sleep(2 * MS), 0);
	cr_assert_eq(write(sv[1], "hi", 2), 2);
	for (int i = 0; i < 100 && !r.done; i++)
		cr_assert_eq(corio_sleep(1 * MS), 0);
	cr_assert(r.done, "the reader behind a POLLRDHUP watcher got nothing");
	cr_assert_eq(r.res, 2);
	cr_assert_not(p.done, "no hang-up yet");
	corio_close(sv[1]);
	cr_assert_eq(corio_join(tp, NULL), 0);
	cr_assert_geq(p.res, 0);
	cr_assert(p.res & POLLRDHUP, "events %#zx", p.res);
	/* a two-way poll behind a waiting reader sees the socket writable */
	int sw[2];
	t_socketpair(sw);
	struct waiter r2 = {.fd = sw[0]};
	corio_task *t2;
	cr_assert_eq(corio_spawn(&t2, recv_some, &r2), 0);
	cr_assert_eq(corio_sleep(2 * MS), 0);
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 2000 * MS);
	int ev = corio_poll(sw[0], POLLIN | POLLOUT);
	corio_timeout_pop(&sc);
	cr_assert_gt(ev, 0, "poll: %s", corio_strerror(ev));
	cr_assert(ev & POLLOUT, "events %#x", ev);
	corio_close(sw[1]);
	cr_assert_eq(corio_join(t2, NULL), 0);
	cr_assert_eq(corio_join(tr, NULL), 0);
	corio_close(sw[0]);
	corio_close(sv[0]);
	return NULL;
}

Test(readiness, polls_neither_wait_behind_readers_nor_hold_them_up, .timeout = 20)
{
	CORIO_TEST_NO_FAULTS("asserts that single reads and writes are whole");
	t_run(watcher_main, NULL, NULL);
}

/* ---- MSG_WAITALL: progress survives a timeout; datagrams; msg forms --------------- */

static void *late_half(void *arg)
{
	int fd = *(int *)arg;
	corio_sleep(10 * MS);
	cr_assert_eq(write(fd, "56789", 5), 5);
	return NULL;
}

static void *waitall_main(void *arg)
{
	(void)arg;
	int sv[2];
	t_socketpair(sv);
	char buf[100];
	/* 10 bytes there, 100 wanted, a deadline: the 10 come back */
	cr_assert_eq(write(sv[1], "0123456789", 10), 10);
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 30 * MS);
	ssize_t r = corio_recv(sv[0], buf, sizeof(buf), MSG_WAITALL);
	corio_timeout_pop(&sc);
	cr_assert_eq(r, 10, "recv: %zd (%s)", r, corio_strerror((int)r));
	cr_assert_eq(memcmp(buf, "0123456789", 10), 0);
	/* recvmsg gathers across arrivals too */
	cr_assert_eq(write(sv[1], "01234", 5), 5);
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, late_half, &sv[1]), 0);
	struct iovec iov[2] = {{buf, 3}, {buf + 3, 7}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
	cr_assert_eq(corio_recvmsg(sv[0], &m, MSG_WAITALL), 10);
	cr_assert_eq(memcmp(buf, "0123456789", 10), 0);
	cr_assert_eq(corio_join(t, NULL), 0);
	corio_close(sv[0]);
	corio_close(sv[1]);
	/* datagrams: MSG_WAITALL still means one datagram */
	int dg[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dg), 0);
	cr_assert_eq(write(dg[1], "aaaaa", 5), 5);
	cr_assert_eq(write(dg[1], "bbbbb", 5), 5);
	cr_assert_eq(corio_recv(dg[0], buf, sizeof(buf), MSG_WAITALL), 5);
	cr_assert_eq(corio_recv(dg[0], buf, sizeof(buf), MSG_WAITALL), 5);
	cr_assert_eq(memcmp(buf, "bbbbb", 5), 0);
	corio_close(dg[0]);
	corio_close(dg[1]);
	return NULL;
}

Test(readiness, msg_waitall_keeps_progress_and_spares_datagrams, .timeout = 20)
{
	t_run(waitall_main, NULL, NULL);
}

/* ---- a socket's number reused by a regular file ----------------------------------- */

static void *sock_to_file_main(void *arg)
{
	const char *path = arg;
	int sv[2];
	t_socketpair(sv);
	char buf[16];
	cr_assert_eq(write(sv[1], "x", 1), 1);
	cr_assert_eq(corio_recv(sv[0], buf, sizeof(buf), 0), 1);
	int num = sv[0];
	corio_close(sv[0]);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_eq(fd, num, "the number was reused");
	cr_assert_eq(write(fd, "hello", 5), 5);
	cr_assert_eq(corio_pread(fd, buf, sizeof(buf), 0), 5);
	cr_assert_eq(memcmp(buf, "hello", 5), 0);
	corio_close(fd);
	corio_close(sv[1]);
	return NULL;
}

Test(readiness, a_socket_number_reused_by_a_file_after_corio_close_reads_the_file, .timeout = 20)
{
	CORIO_TEST_NO_FAULTS("asserts that single reads and writes are whole");
	char *dir = t_tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/f", dir);
	t_run(sock_to_file_main, path, NULL);
	t_rmtree(dir);
	free(dir);
}

/* ---- urgent data, and peeking -------------------------------------------- */

static void *send_urgent(void *arg)
{
	corio_sleep(10 * MS);
	cr_assert_eq(send(*(int *)arg, "!", 1, MSG_OOB), 1);
	return NULL;
}

static int poll_for_urgent(unsigned events)
{
	int sv[2];
	t_tcp_pair(sv);
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, send_urgent, &sv[1]), 0);
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 5000 * MS);
	int r = corio_poll(sv[0], events);
	corio_timeout_pop(&sc);
	cr_assert_eq(corio_join(t, NULL), 0);
	corio_close(sv[0]);
	corio_close(sv[1]);
	return r;
}

static void *urgent_main(void *arg)
{
	(void)arg;
	int r = poll_for_urgent(POLLIN | POLLPRI);
	cr_assert(r > 0 && (r & POLLPRI), "poll for urgent data gave %d", r);
	/* POLLPRI alone: io_uring's wake-up names POLLIN only (io.h) */
	if (!strcmp(corio_loop_backend(corio_current_loop()), "epoll"))
		cr_assert_eq(poll_for_urgent(POLLPRI), POLLPRI);

	int sv[2];
	t_tcp_pair(sv);
	cr_assert_eq(write(sv[1], "hello", 5), 5);
	char buf[16];
	cr_assert_eq(corio_recv(sv[0], buf, 10, MSG_PEEK | MSG_WAITALL), -EINVAL);
	struct iovec iov = {buf, 10};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	cr_assert_eq(corio_recvmsg(sv[0], &mh, MSG_PEEK | MSG_WAITALL), -EINVAL);
	cr_assert_eq(corio_recv_all(sv[0], buf, 5, MSG_PEEK), -EINVAL);
	cr_assert_eq(corio_recv(sv[0], buf, 10, MSG_PEEK), 5, "peeking alone works");
	cr_assert_eq(corio_recv(sv[0], buf, 10, 0), 5, "and consumed nothing");
	corio_close(sv[0]);
	corio_close(sv[1]);
	return NULL;
}

Test(readiness, urgent_data_wakes_a_poll_and_peek_waitall_is_refused, .timeout = 20)
{
	t_run(urgent_main, NULL, NULL);
}

/* ---- the caller's fd flags --------------------------------------------------------- */

static bool nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	cr_assert_geq(fl, 0);
	return fl & O_NONBLOCK;
}

static void *fd_flags_main(void *arg)
{
	(void)arg;
	int lfd = corio_tcp_listen("127.0.0.1", "0", 8, 0);
	cr_assert_geq(lfd, 0);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
	int c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(corio_connect(c, (struct sockaddr *)&ss, len), 0);
	cr_assert_not(nonblocking(c), "corio_connect left the socket non-blocking");
	int s = corio_accept(lfd, NULL, NULL);
	cr_assert_geq(s, 0);
	cr_assert_not(nonblocking(s), "the accepted socket is blocking (net.h)");
	/* a pipe read through corio, then closed: a dup of it shows the
	 * flags the pipe had before */
	int p[2];
	t_pipe(p);
	int keep = dup(p[0]);
	cr_assert_eq(write(p[1], "z", 1), 1);
	char ch;
	cr_assert_eq(corio_read(p[0], &ch, 1), 1);
	cr_assert_eq(corio_close(p[0]), 0);
	cr_assert_not(nonblocking(keep), "the pipe's flags were put back");
	int lkeep = dup(lfd);
	cr_assert_eq(corio_close(lfd), 0);
	cr_assert_not(nonblocking(lkeep), "the listener's flags were put back");
	corio_close(lkeep);
	corio_close(keep);
	corio_close(p[1]);
	corio_close(s);
	corio_close(c);
	return NULL;
}

Test(readiness, the_callers_fd_flags_are_kept_or_put_back, .timeout = 20)
{
	t_run(fd_flags_main, NULL, NULL);
}
