/* SPDX-License-Identifier: MIT */
/*
 * tests/task.c - tasks: spawn, join, detach, results and error results,
 * nesting, yield order, many tasks at once, corio_run().
 */
#include "util.h"
#include "corio_int.h" /* the stack bounds, to hit the canary exactly */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *ret_arg(void *arg)
{
	return arg;
}

static void *twice(void *arg)
{
	return (void *)((intptr_t)arg * 2);
}

Test(task, run_returns_main_result)
{
	void *r = NULL;
	cr_assert_eq(corio_run(twice, (void *)21, &r), 0);
	cr_assert_eq((intptr_t)r, 42);
}

Test(task, run_rejects_null_main)
{
	cr_assert_eq(corio_run(NULL, NULL, NULL), -EINVAL);
}

static void *spawn_outside(void *arg)
{
	(void)arg;
	return NULL;
}

Test(task, spawn_outside_a_loop_is_eperm)
{
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, spawn_outside, NULL), -EPERM);
	cr_assert_eq(corio_sleep(1), -EPERM);
	cr_assert_eq(corio_nop(), -EPERM);
	char c;
	cr_assert_eq(corio_read(0, &c, 1), -EPERM);
	cr_assert_null(corio_self());
	cr_assert_null(corio_current_loop());
}

static void *many_joined(void *arg)
{
	size_t n = (size_t)(uintptr_t)arg;
	corio_task **t = malloc(n * sizeof(*t));
	cr_assert_not_null(t);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(corio_spawn(&t[i], twice, (void *)(uintptr_t)i), 0, "spawn %zu", i);
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		void *r;
		cr_assert_eq(corio_join(t[i], &r), 0);
		sum += (uint64_t)(uintptr_t)r;
	}
	free(t);
	cr_assert_eq(sum, (uint64_t)n * (n - 1));
	return NULL;
}

Test(task, hundred_thousand_live_tasks_spawned_and_joined)
{
	/* all alive at once: unguarded small stacks, as the option documents */
	corio_loop_options o = {.no_guard_pages = 1, .stack_size = 16 * 1024};
	t_run(many_joined, (void *)(uintptr_t)100000, &o);
}

/* Kernel mappings of this process (lines of /proc/self/maps). */
static long map_count(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	cr_assert_not_null(f);
	long n = 0;
	for (int c; (c = getc(f)) != EOF;)
		n += c == '\n';
	fclose(f);
	return n;
}

static long max_map_count(void)
{
	long max = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	if (f) {
		if (fscanf(f, "%ld", &max) != 1)
			max = 65530;
		fclose(f);
	}
	return max;
}

struct many {
	size_t n;
	long maps_before, maps_live, maps_after;
};

static void *many_measured(void *arg)
{
	struct many *m = arg;
	m->maps_before = map_count();
	corio_task **t = malloc(m->n * sizeof(*t));
	cr_assert_not_null(t);
	for (size_t i = 0; i < m->n; i++)
		cr_assert_eq(corio_spawn(&t[i], twice, (void *)(uintptr_t)i), 0, "spawn %zu", i);
	m->maps_live = map_count();
	uint64_t sum = 0;
	for (size_t i = 0; i < m->n; i++) {
		void *r;
		cr_assert_eq(corio_join(t[i], &r), 0);
		sum += (uint64_t)(uintptr_t)r;
	}
	free(t);
	cr_assert_eq(sum, (uint64_t)m->n * (m->n - 1));
	m->maps_after = map_count();
	return NULL;
}

Test(task, more_live_tasks_than_guard_pages_allow_still_spawn)
{
	/* guard pages on (the default): each takes two mappings, so this
	 * many at once would pass vm.max_map_count if every stack had one */
	struct many m = {.n = (size_t)max_map_count() / 2 + 1000};
	corio_loop_options o = {.stack_size = 16 * 1024};
	t_run(many_measured, &m, &o);
	cr_assert_lt(m.maps_live - m.maps_before, max_map_count() * 3 / 4,
		     "%ld mappings for %zu stacks", m.maps_live - m.maps_before, m.n);
	/* what the pool does not keep was unmapped (256 stacks, two each) */
	cr_assert_lt(m.maps_after - m.maps_before, 2 * 256 + 64, "%ld mappings left behind",
		     m.maps_after - m.maps_before);
}

/* Stacks past the guard budget are still checked: by the canary. */
static void *sleeper(void *arg)
{
	(void)arg;
	corio_sleep(60000 * MS);
	return NULL;
}

static void *smash_limit(void *arg)
{
	(void)arg;
	corio_task *self = corio_self();
	if (self->stack.guarded) { /* an exit, not the signal the test wants */
		fputs("a stack past the guard budget has a guard page\n", stderr);
		_exit(3);
	}
	memset(self->stack.lo, 0x5a, 64); /* what an overflow to the limit does */
	corio_yield();
	return NULL;
}

static void *smash_after_budget(void *arg)
{
	(void)arg;
	for (long i = 0; i < max_map_count() / 4 + 100; i++)
		cr_assert_eq(corio_spawn(NULL, sleeper, NULL), 0);
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, smash_limit, NULL), 0);
	corio_join(t, NULL);
	cr_assert_fail("the canary was not checked");
	return NULL;
}

Test(task, stacks_past_the_guard_budget_get_the_canary, .signal = SIGABRT)
{
	corio_loop_options o = {.stack_size = 16 * 1024};
	t_run(smash_after_budget, NULL, &o);
}

static void *churn(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++) {
		corio_task *t;
		cr_assert_eq(corio_spawn(&t, ret_arg, (void *)(intptr_t)i), 0);
		void *r;
		cr_assert_eq(corio_join(t, &r), 0);
		cr_assert_eq((intptr_t)r, i);
	}
	return NULL;
}

Test(task, hundred_thousand_guarded_tasks_in_sequence_reuse_stacks)
{
	t_run(churn, NULL, NULL);
}

static void *nest(void *arg)
{
	intptr_t depth = (intptr_t)arg;
	if (depth == 0)
		return (void *)1;
	corio_task *a, *b;
	cr_assert_eq(corio_spawn(&a, nest, (void *)(depth - 1)), 0);
	cr_assert_eq(corio_spawn(&b, nest, (void *)(depth - 1)), 0);
	void *ra, *rb;
	cr_assert_eq(corio_join(a, &ra), 0);
	cr_assert_eq(corio_join(b, &rb), 0);
	return (void *)((intptr_t)ra + (intptr_t)rb);
}

Test(task, nested_spawns_form_a_tree)
{
	void *r = t_run(nest, (void *)10, NULL);
	cr_assert_eq((intptr_t)r, 1024);
}

static void *fails(void *arg)
{
	(void)arg;
	return CORIO_ERR_PTR(-EIO);
}

static void *join_error(void *arg)
{
	(void)arg;
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, fails, NULL), 0);
	void *r = NULL;
	cr_assert_eq(corio_join(t, &r), 0, "an error result is still a normal finish");
	cr_assert(corio_is_err(r));
	cr_assert_eq(corio_ptr_err(r), -EIO);
	cr_assert_not(corio_is_err(NULL));
	cr_assert_not(corio_is_err((void *)&r));
	cr_assert_eq(corio_ptr_err((void *)&r), 0);
	return NULL;
}

Test(task, error_results_round_trip_through_join)
{
	t_run(join_error, NULL, NULL);
}

static int order[8];
static int order_len;

static void *yielder(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int i = 0; i < 2; i++) {
		order[order_len++] = id;
		corio_yield();
	}
	return NULL;
}

static void *yield_main(void *arg)
{
	(void)arg;
	corio_task *a, *b;
	cr_assert_eq(corio_spawn(&a, yielder, (void *)1), 0);
	cr_assert_eq(corio_spawn(&b, yielder, (void *)2), 0);
	cr_assert_eq(corio_join(a, NULL), 0);
	cr_assert_eq(corio_join(b, NULL), 0);
	return NULL;
}

Test(task, yield_runs_ready_tasks_in_fifo_order)
{
	order_len = 0;
	t_run(yield_main, NULL, NULL);
	int want[] = {1, 2, 1, 2};
	cr_assert_eq(order_len, 4);
	cr_assert_arr_eq(order, want, sizeof(want));
}

static int detached_ran;

static void *detached_body(void *arg)
{
	(void)arg;
	corio_sleep(1 * MS);
	detached_ran++;
	return NULL;
}

static void *detach_main(void *arg)
{
	(void)arg;
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, detached_body, NULL), 0);
	corio_detach(t);
	cr_assert_eq(corio_spawn(NULL, detached_body, NULL), 0);
	/* a finished task detached later frees at once */
	cr_assert_eq(corio_spawn(&t, ret_arg, NULL), 0);
	corio_yield();
	cr_assert(corio_task_done(t));
	corio_detach(t);
	return NULL;
}

Test(task, detached_tasks_run_to_completion_and_free_themselves)
{
	detached_ran = 0;
	t_run(detach_main, NULL, NULL); /* t_run asserts the loop frees cleanly */
	cr_assert_eq(detached_ran, 2);
}

static void *join_misuse(void *arg)
{
	(void)arg;
	cr_assert_eq(corio_join(corio_self(), NULL), -EDEADLK);
	cr_assert_eq(corio_join(NULL, NULL), -EINVAL);
	return NULL;
}

Test(task, join_misuse_is_reported)
{
	t_run(join_misuse, NULL, NULL);
}

static void *named(void *arg)
{
	(void)arg;
	return (void *)corio_task_name(corio_self());
}

Test(task, names_are_kept_and_defaulted)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	corio_task *a, *b;
	corio_task_options o = {.name = "worker"};
	cr_assert_eq(corio_spawn_ex(l, &a, named, NULL, &o), 0);
	cr_assert_eq(corio_spawn_ex(l, &b, named, NULL, NULL), 0);
	cr_assert_eq(corio_loop_run(l), 0);
	void *ra, *rb;
	cr_assert_str_eq(corio_task_name(a), "worker");
	cr_assert_eq(strncmp(corio_task_name(b), "task-", 5), 0);
	cr_assert_eq(corio_join(a, &ra), 0);
	cr_assert_eq(corio_join(b, &rb), 0);
	cr_assert_eq(corio_loop_free(l), 0);
}

Test(task, join_from_outside_waits_for_nothing)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	corio_task *t;
	cr_assert_eq(corio_spawn_ex(l, &t, twice, (void *)4, NULL), 0);
	cr_assert_eq(corio_join(t, NULL), -EAGAIN, "not finished: no loop to wait in");
	cr_assert_eq(corio_loop_run(l), 0);
	void *r;
	cr_assert_eq(corio_join(t, &r), 0);
	cr_assert_eq((intptr_t)r, 8);
	cr_assert_eq(corio_loop_free(l), 0);
}

Test(task, spawn_rejects_bad_arguments)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	corio_task *t;
	cr_assert_eq(corio_spawn_ex(l, &t, NULL, NULL, NULL), -EINVAL);
	corio_task_options huge = {.stack_size = (size_t)4 << 30};
	cr_assert_eq(corio_spawn_ex(l, &t, twice, NULL, &huge), -EINVAL);
	cr_assert_eq(corio_loop_free(l), 0);
}

/* A task cancelled while it waits, that finishes anyway with memory it
 * owns: the join returns -ECANCELED and still hands the result over, so
 * nothing leaks (LeakSanitizer would see the buffer otherwise). */
static void *owns_result(void *arg)
{
	(void)arg;
	char *buf = malloc(64);
	cr_assert(buf);
	strcpy(buf, "still mine");
	int err = corio_sleep(10 * 1000 * MS);
	cr_assert_eq(err, -ECANCELED);
	return buf;
}

static void *cancel_join_main(void *arg)
{
	(void)arg;
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, owns_result, NULL), 0);
	corio_yield(); /* let it start and suspend */
	corio_cancel(t);
	void *res = NULL;
	cr_assert_eq(corio_join(t, &res), -ECANCELED);
	cr_assert_not_null(res, "the result of a cancelled task that finished was dropped");
	cr_assert_str_eq(res, "still mine");
	free(res);
	return NULL;
}

Test(task, join_of_a_cancelled_task_hands_over_its_result)
{
	t_run(cancel_join_main, NULL, NULL);
}
