/* SPDX-License-Identifier: MIT */
/*
 * tests/timer.c - callbacks and timers: deadline order, FIFO among equal
 * deadlines, never early, cancellation of handles, call_soon, thousands of
 * sleeping tasks, and timers keeping the loop alive.
 */
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct fired {
	corio_loop *loop;
	int ids[64];
	uint64_t at[64];
	uint64_t due[64];
	int n;
};

struct tcb {
	struct fired *f;
	int id;
	uint64_t due;
};

static void record(void *arg)
{
	struct tcb *c = arg;
	c->f->ids[c->f->n] = c->id;
	c->f->at[c->f->n] = t_clock();
	c->f->due[c->f->n] = c->due;
	c->f->n++;
}

Test(timer, fire_in_deadline_order_fifo_on_ties_never_early)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	struct fired f = {.loop = l};
	/* delays in ms; ids 3,4,5 share a deadline and must keep their order */
	static const int delay[] = {30, 10, 20, 15, 15, 15, 1, 25};
	struct tcb cbs[8];
	uint64_t base = corio_now();
	for (int i = 0; i < 8; i++) {
		cbs[i] = (struct tcb){.f = &f, .id = i, .due = base + delay[i] * MS};
		cr_assert_eq(corio_call_at(l, cbs[i].due, record, &cbs[i], NULL), 0);
	}
	cr_assert_eq(corio_loop_run(l), 0);
	int want[] = {6, 1, 3, 4, 5, 2, 7, 0};
	cr_assert_eq(f.n, 8);
	cr_assert_arr_eq(f.ids, want, sizeof(want));
	for (int i = 0; i < 8; i++)
		cr_assert_geq(f.at[i], f.due[i], "timer %d fired early", f.ids[i]);
	cr_assert_eq(corio_loop_free(l), 0);
}

static void bump(void *arg)
{
	(*(int *)arg)++;
}

Test(timer, cancelled_handles_never_fire_and_release_cleanly)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	int hits = 0;
	corio_timer *a, *b, *c;
	cr_assert_eq(corio_call_later(l, 5 * MS, bump, &hits, &a), 0);
	cr_assert_eq(corio_call_later(l, 10 * MS, bump, &hits, &b), 0);
	cr_assert_eq(corio_call_later(l, 1 * MS, bump, &hits, &c), 0);
	corio_timer_cancel(a);
	cr_assert_eq(corio_loop_run(l), 0);
	cr_assert_eq(hits, 2);
	corio_timer_cancel(b); /* after it fired: only releases */
	corio_timer_cancel(NULL);
	/* c is never released by hand: corio_loop_free must (ASan checks) */
	(void)c;
	cr_assert_eq(corio_loop_free(l), 0);
}

Test(timer, pending_timers_are_released_with_the_loop)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	int hits = 0;
	corio_timer *h;
	cr_assert_eq(corio_call_later(l, 3600ull * 1000 * MS, bump, &hits, NULL), 0);
	cr_assert_eq(corio_call_later(l, 3600ull * 1000 * MS, bump, &hits, &h), 0);
	corio_loop_stop(l);
	cr_assert_eq(corio_loop_run(l), 0);
	cr_assert_eq(hits, 0);
	cr_assert_eq(corio_loop_free(l), 0);
}

struct soon {
	corio_loop *l;
	int seq[4];
	int n;
};

static void soon_a(void *arg);
static void soon_b(void *arg)
{
	struct soon *s = arg;
	s->seq[s->n++] = 2;
}
static void soon_a(void *arg)
{
	struct soon *s = arg;
	s->seq[s->n++] = 1;
	cr_assert_eq(corio_call_soon(s->l, soon_b, s), 0);
}

Test(timer, call_soon_runs_in_order_in_later_turns)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	struct soon s = {.l = l};
	cr_assert_eq(corio_call_soon(l, soon_a, &s), 0);
	cr_assert_eq(corio_call_soon(l, soon_b, &s), 0);
	cr_assert_eq(corio_loop_run(l), 0);
	int want[] = {1, 2, 2};
	cr_assert_eq(s.n, 3);
	cr_assert_arr_eq(s.seq, want, sizeof(want));
	cr_assert_eq(corio_call_soon(NULL, soon_a, &s), -EINVAL);
	cr_assert_eq(corio_call_later(l, 0, NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(corio_loop_free(l), 0);
}

static void *sleep_for(void *arg)
{
	uint64_t ns = (uint64_t)(uintptr_t)arg;
	uint64_t t0 = corio_now(); /* the time base a sleep counts from */
	cr_assert_eq(corio_sleep(ns), 0);
	cr_assert_geq(t_clock() - t0, ns, "woke early");
	return NULL;
}

static void *many_sleepers(void *arg)
{
	(void)arg;
	enum { N = 5000 };
	for (int i = 0; i < N; i++)
		cr_assert_eq(corio_spawn(NULL, sleep_for,
					 (void *)(uintptr_t)((uint64_t)(rand() % 50) * MS)),
			     0);
	return NULL;
}

Test(timer, thousands_of_sleeping_tasks_exit_cleanly)
{
	srand(7);
	t_run(many_sleepers, NULL, NULL); /* asserts every task ended and the loop freed */
}

static void *sleep_until_main(void *arg)
{
	(void)arg;
	uint64_t when = corio_now() + 5 * MS;
	cr_assert_eq(corio_sleep_until(when), 0);
	cr_assert_geq(t_clock(), when);
	cr_assert_eq(corio_sleep_until(0), 0, "a past deadline returns at once");
	cr_assert_eq(corio_sleep(0), 0);
	return NULL;
}

Test(timer, sleep_until_waits_for_the_deadline)
{
	t_run(sleep_until_main, NULL, NULL);
}

/* corio_now() inside a task: never behind an earlier reading, never ahead
 * of CLOCK_MONOTONIC, and read again after the loop slept in the kernel
 * (a value cached before the wait would fail the advance checks). */
static void now_check(uint64_t *prev)
{
	uint64_t now = corio_now();
	cr_assert_geq(now, *prev, "corio_now() went backwards");
	uint64_t real = t_clock();
	cr_assert_leq(now, real, "corio_now() ahead of CLOCK_MONOTONIC");
	cr_assert_lt(real - now, 1000 * MS, "corio_now() %llu ms stale",
		     (unsigned long long)((real - now) / MS));
	*prev = now;
}

static void *write_later(void *arg)
{
	int fd = *(int *)arg;
	usleep(30000);
	if (write(fd, "x", 1) != 1)
		abort(); /* no criterion asserts off the test's thread */
	return NULL;
}

static void *now_inside_main(void *arg)
{
	(void)arg;
	uint64_t prev = 0;
	now_check(&prev);
	for (int i = 0; i < 20; i++) {
		corio_yield();
		now_check(&prev);
		cr_assert_eq(corio_sleep(i % 4 ? 0 : 1 * MS), 0);
		now_check(&prev);
	}
	/* a wait ended by a timer */
	uint64_t t0 = corio_now();
	cr_assert_eq(corio_sleep(20 * MS), 0);
	now_check(&prev);
	cr_assert_geq(prev - t0, 20 * MS, "only %llu us after a 20 ms sleep",
		      (unsigned long long)((prev - t0) / 1000));
	/* a wait ended by I/O from another thread, no timer due */
	int fds[2];
	t_pipe(fds);
	pthread_t th;
	t0 = corio_now();
	cr_assert_eq(pthread_create(&th, NULL, write_later, &fds[1]), 0);
	char c;
	cr_assert_eq(corio_read(fds[0], &c, 1), 1);
	now_check(&prev);
	cr_assert_geq(prev - t0, 30 * MS, "only %llu us after a 30 ms wait",
		      (unsigned long long)((prev - t0) / 1000));
	pthread_join(th, NULL);
	close(fds[0]);
	close(fds[1]);
	return NULL;
}

Test(timer, now_is_monotonic_outside_and_inside)
{
	uint64_t a = corio_now(), b = corio_now();
	cr_assert_leq(a, b);
	cr_assert_gt(a, 0);
	t_run(now_inside_main, NULL, NULL);
	cr_assert_geq(corio_now(), b, "outside again, after the loop");
}

/* The time-base test of issue #11: 10 000 tasks each sleep (i % 50) ms,
 * all started in one turn that spawning makes long.  With one time base
 * every deadline is corio_now() + d for the same corio_now(), so the
 * wake-ups must come in order of d. */
#define ORDER_TASKS 10000

struct order {
	uint64_t deadline[ORDER_TASKS]; /* corio_now() + d as each task saw it */
	int woke[ORDER_TASKS];          /* task ids, in wake-up order */
	int n;
};

struct order_arg {
	struct order *o;
	int id;
};

static void *order_sleeper(void *p)
{
	struct order_arg *a = p;
	uint64_t d = (uint64_t)(a->id % 50) * MS;
	a->o->deadline[a->id] = corio_now() + d;
	cr_assert_eq(corio_sleep(d), 0);
	a->o->woke[a->o->n++] = a->id;
	return NULL;
}

static void *order_main(void *p)
{
	struct order *o = p;
	static struct order_arg args[ORDER_TASKS];
	static corio_task *tasks[ORDER_TASKS];
	for (int i = 0; i < ORDER_TASKS; i++) {
		args[i] = (struct order_arg){.o = o, .id = i};
		cr_assert_eq(corio_spawn(&tasks[i], order_sleeper, &args[i]), 0);
	}
	for (int i = 0; i < ORDER_TASKS; i++)
		cr_assert_eq(corio_join(tasks[i], NULL), 0);
	return NULL;
}

Test(timer, sleeps_set_in_one_turn_wake_in_deadline_order)
{
	static struct order o;
	t_run(order_main, &o, NULL);
	cr_assert_eq(o.n, ORDER_TASKS);
	int out_of_order = 0;
	for (int i = 1; i < ORDER_TASKS; i++)
		if (o.deadline[o.woke[i]] < o.deadline[o.woke[i - 1]])
			out_of_order++;
	cr_assert_eq(out_of_order, 0, "%d of %d wake-ups came before an earlier deadline",
		     out_of_order, ORDER_TASKS);
}

/* A callback set for corio_now() + 6 ms cancels the main task; a sleep of
 * 5 ms that the task starts in the same turn, after the turn was made
 * long on purpose, has the earlier deadline and must have fired first
 * (then the cancel finds the task no longer sleeping). */
static void cancel_cb(void *arg)
{
	corio_cancel(arg);
}

static void *later_child(void *arg)
{
	(void)arg;
	corio_loop *l = corio_current_loop();
	uint64_t base = corio_now();
	cr_assert_eq(corio_call_later(l, 6 * MS, cancel_cb, corio_self(), NULL), 0);
	while (t_clock() - base < 20 * MS)
		; /* a long turn */
	return CORIO_ERR_PTR(corio_sleep(5 * MS));
}

static void *later_main(void *arg)
{
	(void)arg;
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, later_child, NULL), 0);
	void *res = NULL;
	cr_assert_eq(corio_join(t, &res), -ECANCELED); /* the callback came, later */
	cr_assert_eq(corio_ptr_err(res), 0,
		     "corio_sleep(5 ms) ended by a callback at +6 ms set before it (%d)",
		     corio_ptr_err(res));
	return NULL;
}

Test(timer, call_later_and_sleep_share_the_time_base)
{
	t_run(later_main, NULL, NULL);
}
