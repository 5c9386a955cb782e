/* SPDX-License-Identifier: MIT */
/*
 * tests/uring.c - white-box tests of the io_uring backend's submission
 * path: a tiny ring flooded with far more ops than it holds, with and
 * without the kernel pushing back (-EBUSY), and the features it requires.
 * They skip on the epoll backend.
 */
#include "util.h"
#include "uring_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool on_uring(void)
{
	const char *b = getenv("CORIO_BACKEND");
	return !b || !*b || strcmp(b, "epoll") != 0;
}

#define FLOOD 20000

static void *nop_task(void *arg)
{
	int *done = arg;
	for (int i = 0; i < 4; i++)
		cr_assert_eq(corio_nop(), 0);
	(*done)++;
	return NULL;
}

static void *flood_main(void *arg)
{
	int *done = arg;
	static corio_task *t[FLOOD];
	for (int i = 0; i < FLOOD; i++)
		cr_assert_eq(corio_spawn(&t[i], nop_task, done), 0);
	for (int i = 0; i < FLOOD; i++)
		cr_assert_eq(corio_join(t[i], NULL), 0);
	return NULL;
}

/* 80 000 NOPs through a 4-entry ring (16 CQEs), the kernel answering
 * -EBUSY to every other flush of a full queue: every op completes once,
 * and no completion is ever dispatched inside a submission (on whatever
 * task stack asked for an SQE). */
Test(uring, a_small_ring_flooded_never_dispatches_inside_submit)
{
	if (!on_uring())
		cr_skip_test("io_uring only");
	corio_loop_options o = {.ring_entries = 4};
	int done = 0;
	corio__uring_dispatched_in_sqe = 0;
	corio__uring_fake_busy = 100000;
	t_run(flood_main, &done, &o);
	corio__uring_fake_busy = 0;
	cr_assert_eq(done, FLOOD);
	cr_assert_eq(corio__uring_dispatched_in_sqe, 0,
		     "%lu completions were dispatched inside corio__uring_sqe()",
		     corio__uring_dispatched_in_sqe);
}

/* A close from a task is a cancel hard-linked to the close: with the SQ
 * one entry short of full, the pair must still go in together and the
 * waiter on the fd must be woken. */
struct pair_arg {
	int fd;
	int res;
};

static void *recv_waiter(void *p)
{
	struct pair_arg *a = p;
	char c;
	a->res = (int)corio_recv(a->fd, &c, 1, 0);
	return NULL;
}

static void *close_pair_main(void *p)
{
	(void)p;
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct pair_arg a = {.fd = sv[0], .res = 1};
	corio_task *w, *n[3];
	cr_assert_eq(corio_spawn(&w, recv_waiter, &a), 0);
	corio_yield(); /* the receive is in the kernel */
	int done = 0;
	/* three NOP tasks queue SQEs first in the next turn: the 4-entry SQ
	 * then has one free slot when the close asks for two */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(corio_spawn(&n[i], nop_task, &done), 0);
	corio_yield();
	cr_assert_eq(corio_close(sv[0]), 0);
	cr_assert_eq(corio_join(w, NULL), 0);
	cr_assert_eq(a.res, -ECANCELED);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(corio_join(n[i], NULL), 0);
	close(sv[1]);
	return NULL;
}

Test(uring, a_close_split_by_a_full_queue_still_cancels_first)
{
	if (!on_uring())
		cr_skip_test("io_uring only");
	corio_loop_options o = {.ring_entries = 4};
	t_run(close_pair_main, NULL, &o);
}

/* Kernels before 5.11 lack IORING_FEAT_EXT_ARG: liburing would then add
 * timeout SQEs of its own whose completions carry LIBURING_UDATA_TIMEOUT.
 * The backend refuses such a ring; the default falls back to epoll with
 * the notice, and an explicit io_uring fails with -EOPNOTSUPP. */
Test(uring, a_kernel_without_ext_arg_falls_back_to_epoll)
{
	if (!on_uring())
		cr_skip_test("io_uring only");
	corio__uring_pretend_no_ext_arg = true;
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, &(corio_loop_options){.backend = CORIO_BACKEND_URING}),
		     -EOPNOTSUPP);
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	cr_assert_str_eq(corio_loop_backend(l), "epoll");
	cr_assert_eq(corio_loop_free(l), 0);
	corio__uring_pretend_no_ext_arg = false;
}

/* Completions a submission stashed (the kernel said -EBUSY) are work: the
 * loop must not then block in io_uring_enter for a completion that only
 * a stashed one can cause.  Four NOPs fill a 4-entry SQ and complete; four
 * idle receives fill it again; the task waiting for the first NOP's byte
 * meets -EBUSY and stashes the NOP completions. */
static int st_sv[2], st_idle[2];

static void *st_first(void *a)
{
	(void)a;
	cr_assert_eq(corio_nop(), 0);
	char c = 'x';
	cr_assert_eq(write(st_sv[1], &c, 1), 1); /* what the waiter waits for */
	return NULL;
}

static void *st_nop(void *a)
{
	(void)a;
	cr_assert_eq(corio_nop(), 0);
	return NULL;
}

static void *st_idle_recv(void *a)
{
	(void)a;
	char c;
	return (void *)(intptr_t)corio_recv(st_idle[0], &c, 1, 0);
}

static void *st_waiter(void *a)
{
	(void)a;
	char c;
	corio__uring_fake_busy = 1; /* the next flush of a full SQ: -EBUSY */
	return (void *)(intptr_t)corio_recv(st_sv[0], &c, 1, 0);
}

static void *stash_main(void *a)
{
	(void)a;
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st_sv), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st_idle), 0);
	corio_task *n[4], *r[4], *w;
	cr_assert_eq(corio_spawn(&n[0], st_first, NULL), 0);
	for (int i = 1; i < 4; i++)
		cr_assert_eq(corio_spawn(&n[i], st_nop, NULL), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(corio_spawn(&r[i], st_idle_recv, NULL), 0);
	cr_assert_eq(corio_spawn(&w, st_waiter, NULL), 0);
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 5000 * MS);
	void *res = NULL;
	int err = corio_join(w, &res);
	corio_timeout_pop(&sc);
	cr_assert_eq(err, 0, "the loop slept on its stashed completions");
	cr_assert_eq((intptr_t)res, 1);
	close(st_idle[1]);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(corio_join(n[i], NULL), 0);
		cr_assert_eq(corio_join(r[i], NULL), 0);
	}
	corio_close(st_idle[0]);
	corio_close(st_sv[0]);
	close(st_sv[1]);
	return NULL;
}

Test(uring, stashed_completions_are_dispatched_before_the_loop_sleeps)
{
	if (!on_uring())
		cr_skip_test("io_uring only");
	t_run(stash_main, NULL, &(corio_loop_options){.ring_entries = 4});
	corio__uring_fake_busy = 0;
}
