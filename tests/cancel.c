/* SPDX-License-Identifier: MIT */
/*
 * tests/cancel.c - cancellation and timeout scopes: cancel while sleeping,
 * while reading a pipe (no byte lost), while joining, before the task ran;
 * stickiness; shields; nested timeout scopes firing inner and outer.
 */
#include "util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
	int *res = arg;
	*res = corio_sleep(10ull * 1000 * MS);
	return NULL;
}

static void *cancel_sleep_main(void *arg)
{
	(void)arg;
	int res = 1;
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, sleeper, &res), 0);
	cr_assert_eq(corio_sleep(1 * MS), 0);
	uint64_t t0 = t_clock();
	corio_cancel(t);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(res, -ECANCELED);
	cr_assert_lt(t_clock() - t0, 1000 * MS, "cancel must not wait for the sleep");
	return NULL;
}

Test(cancel, cancel_while_sleeping)
{
	t_run(cancel_sleep_main, NULL, NULL);
}

struct pipe_reader {
	int fd;
	ssize_t res;
	char buf[64];
};

static void *pipe_reader(void *arg)
{
	struct pipe_reader *r = arg;
	r->res = corio_read(r->fd, r->buf, sizeof(r->buf));
	return NULL;
}

static void *cancel_read_main(void *arg)
{
	(void)arg;
	int p[2];
	t_pipe(p);
	struct pipe_reader r = {.fd = p[0], .res = 1};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, pipe_reader, &r), 0);
	cr_assert_eq(corio_sleep(2 * MS), 0); /* the read is in the kernel now */
	corio_cancel(t);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(r.res, -ECANCELED);
	/* the cancelled read took nothing: what we write now is all there */
	cr_assert_eq(write(p[1], "after-cancel", 12), 12);
	char buf[64];
	ssize_t n = corio_read(p[0], buf, sizeof(buf));
	cr_assert_eq(n, 12);
	cr_assert_eq(memcmp(buf, "after-cancel", 12), 0);
	corio_close(p[0]);
	corio_close(p[1]);
	return NULL;
}

Test(cancel, cancel_during_pipe_read_loses_no_bytes)
{
	t_run(cancel_read_main, NULL, NULL);
}

static void *read_then_more(void *arg)
{
	struct pipe_reader *r = arg;
	r->res = corio_read(r->fd, r->buf, sizeof(r->buf));
	/* the cancel is delivered here at the latest, at the next call */
	return (void *)(intptr_t)corio_nop();
}

/* Data arrives and the cancel is requested in the same turn.  Whichever
 * wins in the kernel, the bytes must be seen exactly once: returned by the
 * cancelled read, or still in the pipe. */
static void *race_main(void *arg)
{
	CORIO_TEST_NO_FAULTS("a cut read is neither outcome it asserts");
	int *won = arg;
	for (int i = 0; i < 200; i++) {
		int p[2];
		t_pipe(p);
		struct pipe_reader r = {.fd = p[0], .res = 1};
		corio_task *t;
		cr_assert_eq(corio_spawn(&t, read_then_more, &r), 0);
		cr_assert_eq(corio_nop(), 0); /* the read is submitted */
		cr_assert_eq(write(p[1], "xyz", 3), 3);
		corio_cancel(t);
		cr_assert_eq(corio_join(t, NULL), -ECANCELED);
		corio_close(p[1]);
		char b[8];
		ssize_t left = corio_read(p[0], b, sizeof(b));
		if (r.res == 3) {
			won[0]++;
			cr_assert_eq(memcmp(r.buf, "xyz", 3), 0);
			cr_assert_eq(left, 0, "nothing left in the pipe");
		} else {
			won[1]++;
			cr_assert_eq(r.res, -ECANCELED);
			cr_assert_eq(left, 3, "the bytes stayed in the pipe");
		}
		corio_close(p[0]);
	}
	return NULL;
}

Test(cancel, cancel_racing_completion_sees_each_byte_once)
{
	int won[2] = {0, 0};
	t_run(race_main, won, NULL);
	cr_assert_eq(won[0] + won[1], 200);
	cr_log_info("read won %d times, cancel won %d times", won[0], won[1]);
}

static void *woken_then_cancelled(void *arg)
{
	(void)arg;
	int p[2];
	t_pipe(p);
	struct pipe_reader r = {.fd = p[0], .res = 1};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, read_then_more, &r), 0);
	cr_assert_eq(corio_sleep(2 * MS), 0);
	cr_assert_eq(write(p[1], "xyz", 3), 3);
	while (r.res == 1) /* turns until the read has completed */
		cr_assert_eq(corio_nop(), 0);
	corio_cancel(t);
	void *next;
	cr_assert_eq(corio_join(t, &next), -ECANCELED);
	cr_assert_eq(r.res, 3, "a read that completed returns its bytes");
	cr_assert_eq(memcmp(r.buf, "xyz", 3), 0);
	corio_close(p[0]);
	corio_close(p[1]);
	return NULL;
}

Test(cancel, completed_read_keeps_its_bytes_and_cancel_lands_next)
{
	t_run(woken_then_cancelled, NULL, NULL);
}

static void *joiner(void *arg)
{
	corio_task *target = arg;
	return (void *)(intptr_t)corio_join(target, NULL);
}

static void *cancel_join_main(void *arg)
{
	(void)arg;
	int res = 0;
	corio_task *sleepy, *j;
	cr_assert_eq(corio_spawn(&sleepy, sleeper, &res), 0);
	cr_assert_eq(corio_spawn(&j, joiner, sleepy), 0);
	cr_assert_eq(corio_sleep(1 * MS), 0);
	corio_cancel(j);
	void *jr;
	cr_assert_eq(corio_join(j, &jr), -ECANCELED);
	/* the target is untouched and can still be joined */
	cr_assert_not(corio_task_done(sleepy));
	corio_cancel(sleepy);
	cr_assert_eq(corio_join(sleepy, NULL), -ECANCELED);
	return NULL;
}

Test(cancel, cancel_while_waiting_to_join)
{
	t_run(cancel_join_main, NULL, NULL);
}

static void *counts_calls(void *arg)
{
	int *calls = arg;
	for (int i = 0; i < 3; i++)
		if (corio_sleep(1) == -ECANCELED)
			(*calls)++;
	return NULL;
}

static void *cancel_before_start_main(void *arg)
{
	(void)arg;
	int calls = 0;
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, counts_calls, &calls), 0);
	corio_cancel(t); /* before it ever ran */
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(calls, 3, "it ran, and every suspending call failed (sticky)");
	return NULL;
}

Test(cancel, task_cancelled_before_start_runs_cancelled)
{
	t_run(cancel_before_start_main, NULL, NULL);
}

static void *self_cancel(void *arg)
{
	(void)arg;
	corio_cancel(corio_self());
	cr_assert_eq(corio_checkpoint(), -ECANCELED);
	cr_assert_eq(corio_nop(), -ECANCELED);
	corio_scope sh;
	corio_shield_push(&sh);
	cr_assert_eq(corio_nop(), 0, "shielded");
	cr_assert_eq(corio_sleep(1 * MS), 0, "shielded");
	corio_shield_pop(&sh);
	cr_assert_eq(corio_sleep(1 * MS), -ECANCELED, "delivered after the shield");
	return NULL;
}

Test(cancel, shield_defers_cancellation)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	corio_task *t;
	cr_assert_eq(corio_spawn_ex(l, &t, self_cancel, NULL, NULL), 0);
	cr_assert_eq(corio_loop_run(l), 0);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(corio_loop_free(l), 0);
}

static void *shielded_sleeper(void *arg)
{
	int *res = arg;
	corio_scope sh;
	corio_shield_push(&sh);
	res[0] = corio_sleep(5 * MS); /* cancel arrives meanwhile */
	corio_shield_pop(&sh);
	res[1] = corio_sleep(1000 * MS);
	return NULL;
}

static void *shield_blocks_interrupt_main(void *arg)
{
	(void)arg;
	int res[2] = {1, 1};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, shielded_sleeper, res), 0);
	cr_assert_eq(corio_sleep(1 * MS), 0);
	corio_cancel(t);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(res[0], 0, "the shielded sleep was not interrupted");
	cr_assert_eq(res[1], -ECANCELED);
	return NULL;
}

Test(cancel, shield_protects_a_call_already_suspended)
{
	t_run(shield_blocks_interrupt_main, NULL, NULL);
}

/* ---- timeout scopes ------------------------------------------------- */

static void *scope_basic(void *arg)
{
	(void)arg;
	corio_scope s;
	uint64_t t0 = t_clock();
	corio_timeout_push(&s, corio_now() + 20 * MS);
	int r = corio_sleep(10ull * 1000 * MS);
	uint64_t el = t_clock() - t0;
	cr_assert_eq(r, -ETIMEDOUT);
	cr_assert_eq(corio_nop(), -ETIMEDOUT, "sticky inside the scope");
	corio_timeout_pop(&s);
	cr_assert_eq(s.expired, 1);
	cr_assert_geq(el, 15 * MS);
	cr_assert_lt(el, 2000 * MS);
	cr_assert_eq(corio_nop(), 0, "gone after the pop");
	return NULL;
}

Test(cancel, timeout_scope_interrupts_sleep)
{
	t_run(scope_basic, NULL, NULL);
}

static void *scope_nested_inner(void *arg)
{
	(void)arg;
	corio_scope outer, inner;
	corio_timeout_push(&outer, corio_now() + 2000 * MS);
	corio_timeout_push(&inner, corio_now() + 10 * MS);
	cr_assert_eq(corio_sleep(5000 * MS), -ETIMEDOUT);
	corio_timeout_pop(&inner);
	cr_assert_eq(inner.expired, 1);
	cr_assert_eq(corio_sleep(1 * MS), 0, "outer scope still open, not due");
	corio_timeout_pop(&outer);
	cr_assert_eq(outer.expired, 0);
	return NULL;
}

Test(cancel, nested_scopes_inner_fires_first)
{
	t_run(scope_nested_inner, NULL, NULL);
}

static void *scope_nested_outer(void *arg)
{
	(void)arg;
	corio_scope outer, inner;
	corio_timeout_push(&outer, corio_now() + 10 * MS);
	corio_timeout_push(&inner, corio_now() + 5000 * MS);
	cr_assert_eq(corio_sleep(5000 * MS), -ETIMEDOUT);
	corio_timeout_pop(&inner);
	cr_assert_eq(inner.expired, 0);
	cr_assert_eq(corio_nop(), -ETIMEDOUT, "the outer deadline still holds");
	corio_timeout_pop(&outer);
	cr_assert_eq(outer.expired, 1);
	cr_assert_eq(corio_nop(), 0);
	return NULL;
}

Test(cancel, nested_scopes_outer_fires_through_inner)
{
	t_run(scope_nested_outer, NULL, NULL);
}

static void *scope_read(void *arg)
{
	(void)arg;
	int p[2];
	t_pipe(p);
	char buf[8];
	corio_scope s;
	corio_timeout_push(&s, corio_now() + 10 * MS);
	cr_assert_eq(corio_read(p[0], buf, sizeof(buf)), -ETIMEDOUT);
	corio_timeout_pop(&s);
	cr_assert_eq(write(p[1], "ok", 2), 2);
	cr_assert_eq(corio_read(p[0], buf, sizeof(buf)), 2, "timed-out read took nothing");
	corio_close(p[0]);
	corio_close(p[1]);
	/* a deadline already in the past fails the first call */
	corio_timeout_push(&s, corio_now() - 1);
	cr_assert_eq(corio_nop(), -ETIMEDOUT);
	corio_timeout_pop(&s);
	cr_assert_eq(s.expired, 1);
	return NULL;
}

Test(cancel, timeout_scope_interrupts_pipe_read_without_loss)
{
	CORIO_TEST_NO_FAULTS("asserts that single reads and writes are whole");
	t_run(scope_read, NULL, NULL);
}

static void *scope_join(void *arg)
{
	(void)arg;
	int res = 0;
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, sleeper, &res), 0);
	corio_scope s;
	corio_timeout_push(&s, corio_now() + 5 * MS);
	cr_assert_eq(corio_join(t, NULL), -ETIMEDOUT);
	corio_timeout_pop(&s);
	corio_cancel(t);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	return NULL;
}

Test(cancel, timeout_scope_interrupts_join)
{
	t_run(scope_join, NULL, NULL);
}

static void *cancelled_cleanup(void *arg)
{
	(void)arg;
	int res = 0;
	corio_task *child;
	cr_assert_eq(corio_spawn(&child, sleeper, &res), 0);
	int r = corio_sleep(10ull * 1000 * MS);
	cr_assert_eq(r, -ECANCELED);
	/* cleanup after a cancel: cancel the child and reap it in a shield */
	corio_cancel(child);
	corio_scope sh;
	corio_shield_push(&sh);
	int jr = corio_join(child, NULL);
	corio_shield_pop(&sh);
	return (void *)(intptr_t)jr;
}

static void *cleanup_main(void *arg)
{
	(void)arg;
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, cancelled_cleanup, NULL), 0);
	cr_assert_eq(corio_sleep(1 * MS), 0);
	corio_cancel(t);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	return NULL;
}

Test(cancel, cancelled_task_reaps_its_child_inside_a_shield)
{
	t_run(cleanup_main, NULL, NULL);
}
