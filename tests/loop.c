/* SPDX-License-Identifier: MIT */
/*
 * tests/loop.c - loop lifecycle: backend name, freeing with live tasks is
 * an error, run from the wrong thread, nested run, stop before run, bad
 * options, debug mode's reports, and corio_strerror.
 */
#include "util.h"

#include <criterion/redirect.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Test(loop, new_and_free_with_defaults)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	const char *want = getenv("CORIO_BACKEND") ? getenv("CORIO_BACKEND") : "io_uring";
	cr_assert_str_eq(corio_loop_backend(l), strcmp(want, "uring") ? want : "io_uring");
	cr_assert_eq(corio_loop_run(l), 0, "an empty loop returns at once");
	cr_assert_eq(corio_loop_free(l), 0);
	cr_assert_eq(corio_loop_free(NULL), 0);
	cr_assert_eq(corio_loop_new(NULL, NULL), -EINVAL);
}

Test(loop, bad_options_are_rejected)
{
	corio_loop *l;
	corio_loop_options o = {.ring_entries = 1u << 30};
	cr_assert_eq(corio_loop_new(&l, &o), -EINVAL);
	corio_loop_options o2 = {.backend = 42};
	cr_assert_eq(corio_loop_new(&l, &o2), -EINVAL);
	corio_loop_options o3 = {.stack_size = (size_t)8 << 30};
	cr_assert_eq(corio_loop_new(&l, &o3), -EINVAL);
}

static void *sleepy(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)corio_sleep(3600ull * 1000 * MS);
}

Test(loop, free_with_live_tasks_is_ebusy_and_frees_nothing)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	corio_task *t;
	cr_assert_eq(corio_spawn_ex(l, &t, sleepy, NULL, NULL), 0);
	cr_assert_eq(corio_loop_free(l), -EBUSY);
	corio_cancel(t);
	cr_assert_eq(corio_loop_run(l), 0);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(corio_loop_free(l), 0);
}

static void *nested_run(void *arg)
{
	corio_loop *l = arg;
	cr_assert_eq(corio_loop_run(l), -EBUSY);
	cr_assert_eq(corio_loop_free(l), -EBUSY);
	cr_assert_eq(corio_current_loop(), l);
	cr_assert_str_eq(corio_loop_backend(corio_current_loop()), corio_loop_backend(l));
	return NULL;
}

Test(loop, run_inside_itself_is_ebusy)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	corio_task *t;
	cr_assert_eq(corio_spawn_ex(l, &t, nested_run, l, NULL), 0);
	cr_assert_eq(corio_loop_run(l), 0);
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert_null(corio_current_loop(), "reset after run");
	cr_assert_eq(corio_loop_free(l), 0);
}

static void *run_elsewhere(void *arg)
{
	return (void *)(intptr_t)corio_loop_run(arg);
}

Test(loop, run_from_another_thread_is_eperm)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	pthread_t th;
	void *r;
	cr_assert_eq(pthread_create(&th, NULL, run_elsewhere, l), 0);
	pthread_join(th, &r);
	cr_assert_eq((intptr_t)r, -EPERM);
	cr_assert_eq(corio_loop_free(l), 0);
}

static void count(void *arg)
{
	(*(int *)arg)++;
}

Test(loop, stop_before_run_runs_one_turn)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	int n = 0;
	cr_assert_eq(corio_call_soon(l, count, &n), 0);
	cr_assert_eq(corio_call_later(l, 3600ull * 1000 * MS, count, &n, NULL), 0);
	corio_loop_stop(l);
	cr_assert_eq(corio_loop_run(l), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(corio_loop_free(l), 0);
}

static void *busy(void *arg)
{
	(void)arg;
	uint64_t t0 = t_clock();
	while (t_clock() - t0 < 150 * MS)
		;
	return NULL;
}

static void *forgotten(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)corio_sleep(3600ull * 1000 * MS);
}

Test(loop, debug_mode_reports_slow_tasks_and_live_tasks, .init = cr_redirect_stderr)
{
	corio_loop *l;
	corio_loop_options o = {.debug = 1};
	cr_assert_eq(corio_loop_new(&l, &o), 0);
	corio_task *a, *b;
	cr_assert_eq(corio_spawn_ex(l, &a, busy, NULL, &(corio_task_options){.name = "hog"}), 0);
	cr_assert_eq(corio_spawn_ex(l, &b, forgotten, NULL,
				    &(corio_task_options){.name = "forgotten"}),
		     0);
	corio_call_later(l, 200 * MS, (void (*)(void *))corio_loop_stop, l, NULL);
	cr_assert_eq(corio_loop_run(l), 0);
	cr_assert_eq(corio_loop_free(l), -EBUSY);
	corio_cancel(b);
	cr_assert_eq(corio_loop_run(l), 0);
	cr_assert_eq(corio_join(a, NULL), 0);
	cr_assert_eq(corio_join(b, NULL), -ECANCELED);
	cr_assert_eq(corio_loop_free(l), 0);
	fflush(stderr);
	char buf[4096] = {0};
	FILE *f = cr_get_redirected_stderr();
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	cr_assert_not_null(strstr(buf, "task 'hog' ran"), "slow task warning missing: %s", buf);
	cr_assert_not_null(strstr(buf, "'forgotten' waiting"), "live task dump missing: %s",
			   buf);
}

Test(loop, strerror_knows_errno_and_corio_codes)
{
	cr_assert_str_eq(corio_strerror(-ECANCELED), "Operation canceled");
	cr_assert_str_eq(corio_strerror(-ETIMEDOUT), "Connection timed out");
	cr_assert_str_eq(corio_strerror(0), "Success");
	/* the name-lookup codes' text comes with dns/: tests/dns.c */
	cr_assert_not_null(strstr(corio_strerror(-99999), "Unknown error"));
	cr_assert_lt(CORIO_ENOTFOUND, -4096, "outside the errno range");
	void *p = CORIO_ERR_PTR(CORIO_ETIMEOUT);
	cr_assert(corio_is_err(p));
	cr_assert_eq(corio_ptr_err(p), CORIO_ETIMEOUT);
}

