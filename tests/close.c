/* SPDX-License-Identifier: MIT */
/*
 * tests/close.c - the one close path: corio_close() on any fd corio may
 * wait on (socket, pipe, listener) ends every wait on it with -ECANCELED
 * and then closes it, so the peer sees the end at once, whether it is
 * called from a task or from a callback; and loop teardown is bounded.
 */
#include "util.h"
#include "corio_int.h" /* white box: teardown's bound */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum how { FROM_TASK, FROM_CALLBACK };
enum what { RECV, SEND, POLL, ACCEPT, PIPE_READ };

struct waiter {
	int fd;
	enum what what;
	int res;
	bool started;
};

static void *wait_on_fd(void *p)
{
	struct waiter *w = p;
	char c = 0;
	w->started = true;
	switch (w->what) {
	case RECV:
		w->res = (int)corio_recv(w->fd, &c, 1, 0);
		break;
	case SEND: /* the socket buffers are full: waits for room */
		w->res = (int)corio_send(w->fd, &c, 1, 0);
		break;
	case POLL:
		w->res = corio_poll(w->fd, POLLIN);
		break;
	case ACCEPT:
		w->res = corio_accept(w->fd, NULL, NULL);
		break;
	case PIPE_READ:
		w->res = (int)corio_read(w->fd, &c, 1);
		break;
	}
	return NULL;
}

static void close_cb(void *arg)
{
	int *fd = arg;
	cr_assert_eq(corio_close(*fd), 0);
}

struct plan {
	enum how how;
	enum what what;
};

/* The other end must see the close at once: EOF (or a hang-up) on a
 * socket or pipe, within a bounded wait for the event itself. */
static void peer_sees_end(int peer)
{
	struct pollfd p = {.fd = peer, .events = POLLIN};
	int n = poll(&p, 1, 5000);
	cr_assert_eq(n, 1, "the peer saw nothing: the close did not happen");
	char buf[4096];
	ssize_t r;
	do
		r = read(peer, buf, sizeof(buf)); /* drain what a sender left */
	while (r > 0);
	cr_assert(r == 0 || errno == ECONNRESET, "peer: %zd %s", r, strerror(errno));
}

static void *close_main(void *arg)
{
	struct plan *pl = arg;
	int fds[2], peer = -1;
	struct waiter w = {.what = pl->what, .res = 1};
	if (pl->what == PIPE_READ) {
		t_pipe(fds);
		w.fd = fds[0];
		peer = fds[1];
	} else if (pl->what == ACCEPT) {
		w.fd = corio_tcp_listen("127.0.0.1", "0", 4, 0);
		cr_assert_geq(w.fd, 0);
	} else {
		t_tcp_pair(fds);
		w.fd = fds[0];
		peer = fds[1];
		/* small buffers, so that a send of 16 MiB has to wait */
		int small = 4096;
		setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		static char fill[4096];
		while (pl->what == SEND && send(fds[0], fill, sizeof(fill), MSG_DONTWAIT) > 0)
			;
	}
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, wait_on_fd, &w), 0);
	while (!w.started)
		corio_yield();
	for (int i = 0; i < 3; i++)
		corio_yield(); /* the wait is in the kernel / parked */
	int fd = w.fd;
	switch (pl->how) {
	case FROM_TASK:
		cr_assert_eq(corio_close(fd), 0);
		break;
	case FROM_CALLBACK:
		cr_assert_eq(corio_call_soon(corio_current_loop(), close_cb, &fd), 0);
		break;
	}
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 5000 * MS);
	int err = corio_join(t, NULL);
	corio_timeout_pop(&sc);
	if (err) {
		corio_cancel(t);
		corio_join(t, NULL);
		cr_assert_fail("the waiter was not woken by the close (%d)", err);
	}
	cr_assert_eq(w.res, -ECANCELED, "the waiter got %d", w.res);
	if (peer >= 0) {
		if (pl->what != PIPE_READ)
			peer_sees_end(peer);
		else
			cr_assert_eq(fcntl(fd, F_GETFD), -1, "the pipe end is still open");
		close(peer);
	}
	return NULL;
}

#define CLOSE_TEST(name, h, wh)                                                        \
	Test(close, name, .timeout = WAIT_TEST_TIMEOUT)                                 \
	{                                                                               \
		struct plan pl = {.how = h, .what = wh};                                \
		t_run(close_main, &pl, NULL);                                           \
	}

CLOSE_TEST(from_a_task_ends_a_recv, FROM_TASK, RECV)
CLOSE_TEST(from_a_task_ends_a_send, FROM_TASK, SEND)
CLOSE_TEST(from_a_task_ends_a_poll, FROM_TASK, POLL)
CLOSE_TEST(from_a_task_ends_an_accept, FROM_TASK, ACCEPT)
CLOSE_TEST(from_a_task_ends_a_pipe_read, FROM_TASK, PIPE_READ)
CLOSE_TEST(from_a_callback_ends_a_recv, FROM_CALLBACK, RECV)
CLOSE_TEST(from_a_callback_ends_a_send, FROM_CALLBACK, SEND)
CLOSE_TEST(from_a_callback_ends_a_poll, FROM_CALLBACK, POLL)
CLOSE_TEST(from_a_callback_ends_a_pipe_read, FROM_CALLBACK, PIPE_READ)

/* ---- teardown --------------------------------------------------------- */

/* A module whose op never comes back (a bug, or a kernel that will not
 * let go): corio_loop_free() gives up after the bound with -EBUSY instead
 * of hanging, frees nothing the op may still use, and succeeds once the
 * module has nothing left in flight. */
static unsigned stuck_ops = 1;
static int stuck_freed;

static unsigned stuck_drain(void *state)
{
	(void)state;
	return stuck_ops;
}

static void stuck_free(void *state)
{
	(void)state;
	stuck_freed++;
}

static const struct corio__module stuck_module = {
	.name = "stuck", .drain = stuck_drain, .free = stuck_free};

Test(close, loop_free_is_bounded_when_an_op_never_returns)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	cr_assert_eq(corio__module_attach(l, &stuck_module, NULL), 0);
	uint64_t saved = corio__teardown_idle_ns;
	corio__teardown_idle_ns = 200 * MS;
	uint64_t t0 = t_clock();
	cr_assert_eq(corio_loop_free(l), -EBUSY);
	uint64_t took = t_clock() - t0;
	cr_assert_geq(took, 200 * MS);
	cr_assert_lt(took, 5000 * MS, "teardown took %llu ms", (unsigned long long)(took / MS));
	cr_assert_eq(stuck_freed, 0, "state freed while an op was in flight");
	stuck_ops = 0;
	cr_assert_eq(corio_loop_free(l), 0);
	cr_assert_eq(stuck_freed, 1);
	corio__teardown_idle_ns = saved;
}
