/* SPDX-License-Identifier: MIT */
/*
 * tests/process.c - subprocesses: 10 MiB through `cat` and back while a
 * ticker proves the loop never blocked, exit statuses, kill, spawn errors,
 * stderr and /dev/null wiring, environment and working directory,
 * cancelled and concurrent waits, and the pidfd-poll path used where the
 * kernel has no waitid op.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern bool corio__no_ring_ops; /* internal: no waitid op, poll the pidfd */

static int status_of(char *const argv[])
{
	corio_process *p;
	cr_assert_eq(corio_process_spawn(&p, argv, NULL), 0);
	int st = -1;
	cr_assert_eq(corio_process_wait(p, &st), 0);
	int again = -1;
	cr_assert_eq(corio_process_wait(p, &again), 0, "a second wait gets it too");
	cr_assert_eq(again, st);
	cr_assert_eq(corio_process_kill(p, SIGTERM), -ESRCH);
	corio_process_free(p);
	return st;
}

/* ---- cat round trip -------------------------------------------------- */

#define CAT_LEN ((size_t)10 << 20)

struct pump {
	int fd;
	unsigned char *buf;
	size_t len;
	corio_process *p;
};

static void *feed(void *arg)
{
	struct pump *f = arg;
	/* uneven pieces, to cross pipe-buffer boundaries at odd places */
	for (size_t off = 0; off < f->len;) {
		size_t n = 1 + (off * 7919) % 200000;
		if (n > f->len - off)
			n = f->len - off;
		cr_assert_eq(corio_write_full(f->fd, f->buf + off, n, -1), (ssize_t)n);
		off += n;
	}
	cr_assert_eq(corio_process_close_fd(f->p, 0), 0, "EOF for cat");
	return NULL;
}

struct ticks {
	unsigned n;
	uint64_t max_gap; /* longest time between two ticks, off-CPU waits excluded */
};

/* Nanoseconds the thread of @fd (its /proc/thread-self/schedstat) has
 * spent runnable but waiting for a CPU; 0 if the kernel does not say. */
static uint64_t cpu_wait(int fd)
{
	char buf[128];
	ssize_t n = fd >= 0 ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	unsigned long long run, wait;
	return sscanf(buf, "%llu %llu", &run, &wait) == 2 ? wait : 0;
}

static void *ticker(void *arg)
{
	struct ticks *t = arg;
	/* a loaded machine keeps the loop off the CPU now and then; that is
	 * not the loop blocking, so leave the time it waited for a CPU out
	 * of the gaps */
	int sched = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	uint64_t last = t_clock(), last_wait = cpu_wait(sched);
	while (!corio_sleep(MS)) {
		uint64_t now = t_clock(), wait = cpu_wait(sched);
		uint64_t gap = now - last, waited = wait - last_wait;
		gap = waited < gap ? gap - waited : 0;
		if (gap > t->max_gap)
			t->max_gap = gap;
		last = now;
		last_wait = wait;
		t->n++;
	}
	if (sched >= 0)
		close(sched);
	return NULL;
}

static void *cat_main(void *arg)
{
	(void)arg;
	char *argv[] = {"cat", NULL};
	corio_process_options o = {.stdio = {CORIO_STDIO_PIPE, CORIO_STDIO_PIPE}};
	corio_process *p;
	cr_assert_eq(corio_process_spawn(&p, argv, &o), 0);
	cr_assert_eq(corio_process_fd(p, 2), -1);
	unsigned char *in = malloc(CAT_LEN), *out = malloc(CAT_LEN);
	for (size_t i = 0; i < CAT_LEN; i++)
		in[i] = (unsigned char)(i * 131 + (i >> 11));
	struct ticks ticks = {0};
	corio_task *tick, *w;
	cr_assert_eq(corio_spawn(&tick, ticker, &ticks), 0);
	struct pump f = {corio_process_fd(p, 0), in, CAT_LEN, p};
	cr_assert_eq(corio_spawn(&w, feed, &f), 0);
	uint64_t t0 = t_clock();
	ssize_t n = corio_read_full(corio_process_fd(p, 1), out, CAT_LEN, -1);
	uint64_t took = t_clock() - t0;
	cr_assert_eq(n, (ssize_t)CAT_LEN);
	char extra;
	cr_assert_eq(corio_read(corio_process_fd(p, 1), &extra, 1), 0, "EOF after the data");
	corio_cancel(tick); /* stop measuring before we hog the loop ourselves */
	corio_join(tick, NULL);
	cr_assert_eq(memcmp(in, out, CAT_LEN), 0);
	cr_assert_eq(corio_join(w, NULL), 0);
	int st;
	cr_assert_eq(corio_process_wait(p, &st), 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the ticker ran all along: a loop blocked by the transfer would give
	 * no tick and one stall as long as the transfer.  The margins are for
	 * sanitizers and loaded machines (time spent waiting for a CPU is
	 * already left out of max_gap: see ticker()). */
	/* a fast machine moves 10 MiB in a few ms: ask for ticks, not a rate */
	cr_assert_geq(ticks.n, 2u, "%u ticks in %lu ms", ticks.n, (unsigned long)(took / MS));
	cr_assert_lt(ticks.max_gap, took / 2 + 250 * MS, "the loop stalled for %lu of %lu ms",
		     (unsigned long)(ticks.max_gap / MS), (unsigned long)(took / MS));
	corio_process_free(p);
	free(in);
	free(out);
	return NULL;
}

Test(process, cat_round_trips_10mib_while_a_ticker_keeps_ticking, .timeout = 60)
{
	t_run(cat_main, NULL, NULL);
}

/* ---- status and kill ------------------------------------------------ */

static void *status_main(void *arg)
{
	(void)arg;
	char *ok[] = {"true", NULL}, *seven[] = {"/bin/sh", "-c", "exit 7", NULL};
	char *selfkill[] = {"/bin/sh", "-c", "kill -USR1 $$", NULL};
	int st = status_of(ok);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = status_of(seven);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 7);
	st = status_of(selfkill);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1);
	return NULL;
}

Test(process, exit_status_is_reported)
{
	t_run(status_main, NULL, NULL);
}

Test(process, exit_status_through_a_pidfd_poll)
{
	corio__no_ring_ops = true;
	t_run(status_main, NULL, NULL);
	corio__no_ring_ops = false;
}

static void *kill_main(void *arg)
{
	(void)arg;
	/* the child must not inherit our blocked SIGTERM */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	cr_assert_eq(corio_signal_block(&set), 0);
	char *argv[] = {"sleep", "30", NULL};
	corio_process *p;
	cr_assert_eq(corio_process_spawn(&p, argv, NULL), 0);
	cr_assert_gt(corio_process_pid(p), 0);
	corio_sleep(10 * MS);
	cr_assert_eq(corio_process_kill(p, SIGTERM), 0);
	int st;
	uint64_t t0 = t_clock();
	cr_assert_eq(corio_process_wait(p, &st), 0);
	cr_assert_lt(t_clock() - t0, 5000 * MS);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "status %x", st);
	corio_process_free(p);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return NULL;
}

Test(process, kill_terminates_and_the_status_says_so)
{
	t_run(kill_main, NULL, NULL);
}

/* ---- wiring and errors ---------------------------------------------- */

static void *read_all(int fd, char *buf, size_t cap)
{
	ssize_t n = corio_read_full(fd, buf, cap - 1, -1);
	cr_assert_geq(n, 0);
	buf[n] = '\0';
	return buf;
}

static void *wiring_main(void *arg)
{
	(void)arg;
	char out[256], err[256];
	char *both[] = {"/bin/sh", "-c", "echo out; echo err >&2; cat", NULL};
	corio_process_options o = {
		.stdio = {CORIO_STDIO_DEVNULL, CORIO_STDIO_PIPE, CORIO_STDIO_PIPE}};
	corio_process *p;
	cr_assert_eq(corio_process_spawn(&p, both, &o), 0);
	cr_assert_str_eq(read_all(corio_process_fd(p, 1), out, sizeof(out)), "out\n");
	cr_assert_str_eq(read_all(corio_process_fd(p, 2), err, sizeof(err)), "err\n");
	cr_assert_eq(corio_process_wait(p, NULL), 0);
	corio_process_free(p);
	/* stderr into stdout; environment and working directory */
	char *env[] = {"FOO=bar", NULL};
	char *show[] = {"/bin/sh", "-c", "echo $FOO; pwd >&2", NULL};
	o = (corio_process_options){
		.stdio = {0, CORIO_STDIO_PIPE, CORIO_STDIO_STDOUT}, .envp = env, .cwd = "/"};
	cr_assert_eq(corio_process_spawn(&p, show, &o), 0);
	cr_assert_str_eq(read_all(corio_process_fd(p, 1), out, sizeof(out)), "bar\n/\n");
	cr_assert_eq(corio_process_wait(p, NULL), 0);
	corio_process_free(p);
	return NULL;
}

Test(process, stdio_pipes_devnull_stderr_to_stdout_env_and_cwd)
{
	t_run(wiring_main, NULL, NULL);
}

Test(process, spawn_errors_are_reported)
{
	corio_process *p = NULL;
	char *missing[] = {"/no/such/program", NULL}, *nopath[] = {"no-such-program-x", NULL};
	char *empty[] = {NULL};
	cr_assert_eq(corio_process_spawn(&p, missing, NULL), -ENOENT);
	cr_assert_eq(corio_process_spawn(&p, nopath, NULL), -ENOENT);
	cr_assert_eq(corio_process_spawn(&p, empty, NULL), -EINVAL);
	corio_process_options bad = {.stdio = {CORIO_STDIO_STDOUT}};
	char *ok[] = {"true", NULL};
	cr_assert_eq(corio_process_spawn(&p, ok, &bad), -EINVAL);
	cr_assert_null(p, "output untouched on failure");
	cr_assert_eq(corio_process_wait(NULL, NULL), -EINVAL);
}

/* ---- waits ---------------------------------------------------------- */

static void *waiter(void *arg)
{
	int st = -1;
	int err = corio_process_wait(arg, &st);
	return CORIO_ERR_PTR(err ? err : st);
}

static void *waits_main(void *arg)
{
	(void)arg;
	/* a child that outlives any stall of ours: it is killed once the
	 * cancel is done, so the test does not wait for it */
	char *argv[] = {"sleep", "30", NULL};
	corio_process *p;
	cr_assert_eq(corio_process_spawn(&p, argv, NULL), 0);
	corio_task *a, *b, *c;
	cr_assert_eq(corio_spawn(&a, waiter, p), 0);
	cr_assert_eq(corio_spawn(&b, waiter, p), 0);
	cr_assert_eq(corio_spawn(&c, waiter, p), 0);
	corio_sleep(5 * MS);
	corio_cancel(c);
	cr_assert_eq(corio_join(c, NULL), -ECANCELED);
	cr_assert_not(corio_task_done(a) || corio_task_done(b), "the cancel woke the others");
	cr_assert_eq(corio_process_kill(p, SIGKILL), 0);
	void *ra, *rb;
	cr_assert_eq(corio_join(a, &ra), 0);
	cr_assert_eq(corio_join(b, &rb), 0);
	int st = (int)(intptr_t)ra;
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "both waiters see the kill: %x", st);
	cr_assert_eq((intptr_t)rb, (intptr_t)ra);
	corio_process_free(p);
	return NULL;
}

Test(process, concurrent_and_cancelled_waits)
{
	t_run(waits_main, NULL, NULL);
}

Test(process, concurrent_and_cancelled_waits_through_a_pidfd_poll)
{
	corio__no_ring_ops = true;
	t_run(waits_main, NULL, NULL);
	corio__no_ring_ops = false;
}
