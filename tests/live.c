/* SPDX-License-Identifier: MIT */
/*
 * tests/live.c - a live view of a running loop: the counters of
 * corio_loop_get_stats(), corio_loop_dump()'s account of what each task
 * waits on, and debug mode's reports (late waits, cancelled tasks that
 * live on, a dump on SIGQUIT).
 */
#include "util.h"
#include "corio_int.h" /* white box: debug mode's thresholds */

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned kind_of(const char *name)
{
	for (unsigned k = 0; k < CORIO_STATS_OP_KINDS; k++)
		if (corio_op_name(k) && !strcmp(corio_op_name(k), name))
			return k;
	cr_assert_fail("no op kind named %s", name);
	return 0;
}

static void *stats_main(void *arg)
{
	(void)arg;
	corio_loop *l = corio_current_loop();
	corio_loop_stats a, b;
	cr_assert_eq(corio_loop_get_stats(l, &a), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(corio_nop(), 0);
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(write(sv[1], "x", 1), 1);
	char c;
	cr_assert_eq(corio_recv(sv[0], &c, 1, 0), 1);
	cr_assert_eq(corio_loop_get_stats(l, &b), 0);
	unsigned nop = kind_of("nop"), recv = kind_of("recv");
	cr_assert_eq(b.ops[nop] - a.ops[nop], 100);
	cr_assert_eq(b.ops[recv] - a.ops[recv], 1);
	cr_assert_geq(b.sqes - a.sqes, 101);
	cr_assert_geq(b.cqes - a.cqes, 101);
	cr_assert_geq(b.switches - a.switches, 202, "a suspend and a resume per op");
	cr_assert_geq(b.turns - a.turns, 1);
	cr_assert_gt(b.enters - a.enters, 0, "a receive reaches the kernel on either backend");
	corio_close(sv[0]);
	corio_close(sv[1]);
	cr_assert_eq(corio_loop_get_stats(NULL, &b), -EINVAL);
	cr_assert_null(corio_op_name(CORIO_STATS_OP_KINDS));
	return NULL;
}

Test(live, stats_count_ops_completions_switches_and_kernel_enters)
{
	t_run(stats_main, NULL, NULL);
}

/* ---- corio_loop_dump ---------------------------------------------------- */

static corio_mutex mu;
static int recv_fd;

static void *sleeper(void *arg)
{
	(void)arg;
	return CORIO_ERR_PTR(corio_sleep(10000 * MS));
}

static void *receiver(void *arg)
{
	(void)arg;
	char c;
	return CORIO_ERR_PTR((int)corio_recv(recv_fd, &c, 1, 0));
}

static void *locker(void *arg)
{
	(void)arg;
	int err = corio_mutex_lock(&mu);
	if (!err)
		corio_mutex_unlock(&mu);
	return CORIO_ERR_PTR(err);
}

static void *joiner(void *arg)
{
	corio_join(arg, NULL); /* -ECANCELED once the sleeper is cancelled */
	return NULL;
}

static void *dump_main(void *arg)
{
	(void)arg;
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	recv_fd = sv[0];
	corio_mutex_init(&mu);
	cr_assert_eq(corio_mutex_lock(&mu), 0);
	corio_task *s, *r, *k, *j;
	cr_assert_eq(corio_spawn_ex(NULL, &s, sleeper, NULL, &(corio_task_options){.name = "sleepy"}),
		     0);
	cr_assert_eq(corio_spawn(&r, receiver, NULL), 0);
	cr_assert_eq(corio_spawn(&k, locker, NULL), 0);
	corio_group *g;
	cr_assert_eq(corio_group_new(&g), 0);
	cr_assert_eq(corio_group_spawn(g, &j, joiner, s), 0);
	for (int i = 0; i < 4; i++)
		corio_yield();
	char *text = t_loop_dump();
	char want[64];
	snprintf(want, sizeof(want), "on recv on fd %d for ", sv[0]);
	cr_assert_not_null(strstr(text, "a sleep, due in"), "%s", text);
	cr_assert_not_null(strstr(text, want), "%s", text);
	cr_assert_not_null(strstr(text, "a mutex"), "%s", text);
	cr_assert_not_null(strstr(text, "a join of 'sleepy'"), "%s", text);
	cr_assert_not_null(strstr(text, "in group"), "%s", text);
	cr_assert_not_null(strstr(text, "counters: turns"), "%s", text);
	free(text);
	corio_cancel(s);
	corio_cancel(r);
	corio_mutex_unlock(&mu);
	cr_assert_eq(corio_group_wait(g), 0);
	corio_group_free(g); /* the joiner joined (and freed) the sleeper */
	corio_join(r, NULL);
	corio_join(k, NULL);
	corio_close(sv[0]);
	corio_close(sv[1]);
	return NULL;
}

Test(live, dump_says_what_each_task_waits_on)
{
	t_run(dump_main, NULL, NULL);
}

/* ---- debug mode --------------------------------------------------------- */

/* Run @fn in a debug loop with stderr going to a temp file; return what
 * was written there. */
static char *with_stderr_captured(corio_fn fn)
{
	char path[] = "/tmp/corio-live-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	t_run(fn, NULL, &(corio_loop_options){.debug = 1});
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	off_t len = lseek(fd, 0, SEEK_END);
	char *text = calloc(1, (size_t)len + 1);
	cr_assert_eq(pread(fd, text, (size_t)len, 0), len);
	close(fd);
	return text;
}

static atomic_int job_started;

static void *slow_job(void *arg)
{
	(void)arg;
	atomic_store(&job_started, 1);
	usleep(400 * 1000); /* a worker the cancel cannot stop */
	return NULL;
}

static void *offload_waiter(void *arg)
{
	(void)arg;
	return CORIO_ERR_PTR(corio_offload(slow_job, NULL, NULL));
}

static void *shielded(void *arg)
{
	(void)arg;
	/* goes on after its cancel: catches -ECANCELED and keeps sleeping
	 * inside a shield */
	corio_scope sh;
	corio_shield_push(&sh);
	corio_sleep(400 * MS);
	corio_shield_pop(&sh);
	return NULL;
}

static void *late_main(void *arg)
{
	(void)arg;
	corio_task *a, *b;
	cr_assert_eq(corio_spawn_ex(NULL, &a, offload_waiter, NULL,
				    &(corio_task_options){.name = "offloaded"}), 0);
	cr_assert_eq(corio_spawn_ex(NULL, &b, shielded, NULL,
				    &(corio_task_options){.name = "stubborn"}), 0);
	while (!atomic_load(&job_started))
		corio_sleep(MS); /* the job runs on a worker now */
	corio_cancel(a);
	corio_cancel(b);
	corio_join(a, NULL);
	corio_join(b, NULL);
	return NULL;
}

Test(live, debug_mode_reports_late_waits_and_cancelled_tasks_that_live_on)
{
	uint64_t late = corio__debug_late_ns, grace = corio__debug_grace_ns;
	corio__debug_late_ns = 100 * MS;
	corio__debug_grace_ns = 150 * MS;
	char *text = with_stderr_captured(late_main);
	corio__debug_late_ns = late;
	corio__debug_grace_ns = grace;
	cr_assert_not_null(strstr(text, "task 'offloaded' still waits on a function on the offload "
					"pool"),
			   "%s", text);
	cr_assert_not_null(strstr(text, "task 'stubborn' was cancelled"), "%s", text);
	cr_assert_null(strstr(text, "task 'stubborn' still waits"),
		       "a shielded wait was never interrupted: %s", text);
	free(text);
}

static void *quit_main(void *arg)
{
	(void)arg;
	cr_assert_eq(raise(SIGQUIT), 0);
	for (int i = 0; i < 200; i++)
		cr_assert_eq(corio_sleep(MS), 0); /* a few turns: the dump comes in one */
	return NULL;
}

Test(live, debug_mode_dumps_on_sigquit)
{
	char *text = with_stderr_captured(quit_main);
	cr_assert_not_null(strstr(text, "live task(s)"), "%s", text);
	cr_assert_not_null(strstr(text, "waiting on a sleep"), "%s", text);
	free(text);
}
