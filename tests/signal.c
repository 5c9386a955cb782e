/* SPDX-License-Identifier: MIT */
/*
 * tests/signal.c - corio_signal_wait: kill() wakes the waiting task, a
 * signal that came first is kept, each signal wakes one waiter, a waiter
 * can be cancelled.  Each case runs in a forked child: the test process
 * has threads of its own (criterion's) that do not block the signals, and
 * corio_signal_block() must run before any thread starts.
 */
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run @fn as the main task of a loop in a child process that blocked
 * SIGUSR1, SIGUSR2 and SIGHUP first; the child's exit code is @fn's
 * result (0: passed), which the test asserts. */
static void in_child(corio_fn fn)
{
	/* no cr_assert in the child: it would talk to criterion's runner
	 * through a socket whose thread did not survive the fork */
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigaddset(&set, SIGUSR2);
		sigaddset(&set, SIGHUP);
		if (corio_signal_block(&set))
			_exit(100);
		void *res = NULL;
		int err = corio_run(fn, NULL, &res);
		_exit(err ? 101 : (int)(intptr_t)res);
	}
	cr_assert_geq(pid, 0);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "child died of signal %d", WTERMSIG(st));
	cr_assert_eq(WEXITSTATUS(st), 0, "child check %d failed", WEXITSTATUS(st));
}

#define CHECK(n, cond)                                                                  \
	do {                                                                            \
		if (!(cond))                                                            \
			return (void *)(intptr_t)(n);                                   \
	} while (0)

static sigset_t one(int sig)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	return s;
}

static void *send_later(void *arg)
{
	int sig = (int)(intptr_t)arg;
	corio_sleep(20 * MS);
	kill(getpid(), sig);
	return NULL;
}

static void *ticker(void *arg)
{
	unsigned *ticks = arg;
	for (;;) {
		if (corio_sleep(MS))
			return NULL;
		++*ticks;
	}
}

static void *kill_main(void *arg)
{
	(void)arg;
	unsigned ticks = 0;
	corio_task *tick;
	CHECK(1, corio_spawn(&tick, ticker, &ticks) == 0);
	CHECK(2, corio_spawn(NULL, send_later, (void *)(intptr_t)SIGUSR1) == 0);
	sigset_t set = one(SIGUSR1);
	sigaddset(&set, SIGHUP);
	int signo = 0;
	CHECK(3, corio_signal_wait(&set, &signo) == 0);
	CHECK(4, signo == SIGUSR1);
	CHECK(5, ticks >= 1); /* the loop ran meanwhile */
	corio_cancel(tick);
	corio_join(tick, NULL);
	return NULL;
}

Test(signal, kill_wakes_the_waiting_task)
{
	in_child(kill_main);
}

struct waiter {
	sigset_t set;
	int signo;
	int err;
};

static void *wait_task(void *arg)
{
	struct waiter *w = arg;
	w->err = corio_signal_wait(&w->set, &w->signo);
	return NULL;
}

static void *pending_main(void *arg)
{
	(void)arg;
	kill(getpid(), SIGUSR2); /* blocked: pending in the kernel */
	sigset_t set = one(SIGUSR2);
	int signo = 0;
	CHECK(1, corio_signal_wait(&set, &signo) == 0);
	CHECK(2, signo == SIGUSR2);
	/* read by the loop while nobody waited for it: kept for later */
	set = one(SIGUSR1);
	sigaddset(&set, SIGHUP);
	CHECK(3, corio_spawn(NULL, send_later, (void *)(intptr_t)SIGUSR1) == 0);
	CHECK(4, corio_signal_wait(&set, &signo) == 0 && signo == SIGUSR1);
	struct waiter w = {.set = one(SIGUSR2)};
	corio_task *t;
	CHECK(5, corio_spawn(&t, wait_task, &w) == 0);
	corio_sleep(2 * MS);
	kill(getpid(), SIGHUP);
	corio_sleep(5 * MS);
	sigset_t hup = one(SIGHUP);
	CHECK(6, corio_signal_wait(&hup, &signo) == 0 && signo == SIGHUP);
	kill(getpid(), SIGUSR2);
	CHECK(7, corio_join(t, NULL) == 0 && w.signo == SIGUSR2);
	return NULL;
}

Test(signal, a_signal_sent_before_the_wait_is_kept)
{
	in_child(pending_main);
}

static void *many_main(void *arg)
{
	(void)arg;
	struct waiter w[3] = {{.set = one(SIGUSR1)}, {.set = one(SIGUSR1)}, {.set = one(SIGUSR2)}};
	corio_task *t[3];
	for (int i = 0; i < 3; i++) {
		CHECK(1, corio_spawn(&t[i], wait_task, &w[i]) == 0);
		corio_sleep(MS); /* fix the waiting order */
	}
	kill(getpid(), SIGUSR1);
	CHECK(2, corio_join(t[0], NULL) == 0 && w[0].err == 0 && w[0].signo == SIGUSR1);
	corio_sleep(10 * MS);
	CHECK(3, !corio_task_done(t[1])); /* one signal, one waiter */
	kill(getpid(), SIGUSR2);
	kill(getpid(), SIGUSR1);
	CHECK(4, corio_join(t[1], NULL) == 0 && w[1].signo == SIGUSR1);
	CHECK(5, corio_join(t[2], NULL) == 0 && w[2].signo == SIGUSR2);
	return NULL;
}

Test(signal, each_signal_wakes_the_longest_waiter)
{
	in_child(many_main);
}

static void *cancel_main(void *arg)
{
	(void)arg;
	struct waiter w = {.set = one(SIGUSR1)};
	corio_task *t;
	CHECK(1, corio_spawn(&t, wait_task, &w) == 0);
	corio_sleep(5 * MS);
	corio_cancel(t);
	CHECK(2, corio_join(t, NULL) == -ECANCELED && w.err == -ECANCELED);
	/* the signal now goes to the next waiter */
	CHECK(3, corio_spawn(NULL, send_later, (void *)(intptr_t)SIGUSR1) == 0);
	int signo;
	sigset_t set = one(SIGUSR1);
	CHECK(4, corio_signal_wait(&set, &signo) == 0 && signo == SIGUSR1);
	sigset_t empty;
	sigemptyset(&empty);
	CHECK(5, corio_signal_wait(&empty, &signo) == -EINVAL);
	return NULL;
}

Test(signal, a_cancelled_wait_returns_ecanceled)
{
	in_child(cancel_main);
}

Test(signal, outside_a_task_is_eperm)
{
	sigset_t set = one(SIGUSR1);
	int signo;
	cr_assert_eq(corio_signal_wait(&set, &signo), -EPERM);
}
