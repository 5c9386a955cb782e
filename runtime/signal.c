/* SPDX-License-Identifier: MIT */
/*
 * signal.c - corio_signal_wait(): tasks wait for signals through one
 * signalfd per loop, created on first use.  The loop keeps a poll on it
 * while anyone waits and reads it on its own thread (a signalfd hands out
 * the signals pending for the thread that reads it, so the read must not
 * happen on a kernel worker).  Each signal read wakes the task that has
 * waited longest for it, or is kept as pending for the next wait.
 */
#include "corio_int.h"
#include "corio/io.h"

#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* A task in corio_signal_wait(), on its stack. */
struct sigwaiter {
	struct corio__wait wait;
	corio_task *task;
	sigset_t set;
	int signo; /* what woke it */
	struct corio__node link; /* in the state's waiters */
};

struct corio__sigstate {
	corio_loop *loop;
	int fd;                         /* the signalfd (non-blocking) */
	sigset_t mask;                  /* what it takes: grows, never shrinks */
	sigset_t pending;               /* read, not yet claimed by a waiter */
	struct corio__list waiters;     /* struct sigwaiter, longest first */
	struct corio__op poll_op;       /* the loop's poll on fd */
	bool inflight;
	bool closing;                   /* the loop is being freed */
};

int corio_signal_block(const sigset_t *set)
{
	if (!set)
		return -EINVAL;
	return -pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* ---- waiters -------------------------------------------------------- */

static void unlink_waiter(struct corio__sigstate *s, struct sigwaiter *w)
{
	corio__list_remove(&s->waiters, &w->link);
}

/* Give @signo to the longest waiter for it, else keep it pending. */
static void dispatch(struct corio__sigstate *s, int signo)
{
	struct corio__node *n, *tmp;
	corio__list_for_each_safe(n, tmp, &s->waiters) {
		struct sigwaiter *w = corio__container_of(n, struct sigwaiter, link);
		if (sigismember(&w->set, signo) == 1) {
			unlink_waiter(s, w);
			w->signo = signo;
			corio__wake(w->task, 0);
			return;
		}
	}
	sigaddset(&s->pending, signo);
}

/* Read every signal the signalfd holds for us now (never blocks). */
static void drain(struct corio__sigstate *s)
{
	struct signalfd_siginfo si[8];
	for (;;) {
		ssize_t r = read(s->fd, si, sizeof(si));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		for (size_t i = 0; i < (size_t)r / sizeof(si[0]); i++)
			dispatch(s, (int)si[i].ssi_signo);
	}
}

/* ---- the loop's poll ------------------------------------------------ */

static void poll_complete(struct corio__op *op, int res, uint32_t flags);

static void arm(struct corio__sigstate *s)
{
	if (s->inflight || s->closing || corio__list_empty(&s->waiters))
		return;
	s->poll_op = (struct corio__op){.code = CORIO__OP_POLL, .fd = s->fd,
					.complete = poll_complete};
	s->poll_op.u.poll_mask = POLLIN;
	s->inflight = true;
	s->loop->be->submit(s->loop, &s->poll_op);
}

static void state_free(struct corio__sigstate *s)
{
	close(s->fd);
	free(s);
}

static void poll_complete(struct corio__op *op, int res, uint32_t flags)
{
	(void)res;
	(void)flags;
	struct corio__sigstate *s = corio__container_of(op, struct corio__sigstate, poll_op);
	s->inflight = false;
	if (s->closing) {
		state_free(s); /* corio__signal_fini left this to us */
		return;
	}
	drain(s);
	arm(s);
}

static int state_get(corio_loop *l, struct corio__sigstate **out)
{
	if (!l->sigs) {
		struct corio__sigstate *s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		sigemptyset(&s->mask);
		sigemptyset(&s->pending);
		s->fd = signalfd(-1, &s->mask, SFD_NONBLOCK | SFD_CLOEXEC);
		if (s->fd < 0) {
			int err = -errno;
			free(s);
			return err;
		}
		s->loop = l;
		l->sigs = s;
	}
	*out = l->sigs;
	return 0;
}

/* Make the signalfd take @set too.  Blocking them in this thread keeps
 * them from being handled the default way before we read them. */
static int widen(struct corio__sigstate *s, const sigset_t *set)
{
	bool grows = false;
	for (int sig = 1; sig < NSIG && !grows; sig++)
		grows = sigismember(set, sig) == 1 && sigismember(&s->mask, sig) != 1;
	if (!grows)
		return 0; /* already taken, and blocked in this (the loop's) thread */
	sigset_t m;
	sigorset(&m, &s->mask, set);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	if (signalfd(s->fd, &m, 0) < 0)
		return -errno;
	s->mask = m;
	return 0;
}

void corio__signal_fini(corio_loop *l)
{
	struct corio__sigstate *s = l->sigs;
	if (!s)
		return;
	l->sigs = NULL;
	s->closing = true;
	if (s->inflight)
		l->be->cancel(l, &s->poll_op); /* poll_complete frees it */
	else
		state_free(s);
}

/* ---- waiting -------------------------------------------------------- */

static void waiter_describe(const struct corio__wait *w, char *buf, size_t n)
{
	(void)w;
	snprintf(buf, n, "a signal (corio_signal_wait)");
}

static void waiter_interrupt(corio_task *t, struct corio__wait *cw, int err)
{
	struct sigwaiter *w = corio__container_of(cw, struct sigwaiter, wait);
	unlink_waiter(t->loop->sigs, w);
	corio__wake(t, err);
}

/* A signal of @set already read, if any: claims it. */
static int take_pending(struct corio__sigstate *s, const sigset_t *set)
{
	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(&s->pending, sig) == 1 && sigismember(set, sig) == 1) {
			sigdelset(&s->pending, sig);
			return sig;
		}
	}
	return 0;
}

int corio_signal_wait(const sigset_t *set, int *signo)
{
	corio_task *t = corio__current();
	if (!t)
		return -EPERM;
	if (!set)
		return -EINVAL;
	struct sigwaiter w = {.task = t, .set = *set};
	sigdelset(&w.set, SIGKILL);
	sigdelset(&w.set, SIGSTOP);
	if (sigisemptyset(&w.set))
		return -EINVAL;
	struct corio__sigstate *s = NULL;
	int err = corio__interrupted(t);
	if (!err)
		err = state_get(t->loop, &s);
	if (!err)
		err = widen(s, &w.set);
	if (err)
		return err;
	drain(s);
	int sig = take_pending(s, &w.set);
	if (!sig) {
		w.wait.interrupt = waiter_interrupt;
		w.wait.describe = waiter_describe;
		corio__list_push_back(&s->waiters, &w.link);
		arm(s);
		err = corio__suspend(&w.wait);
		if (err)
			return err;
		sig = w.signo;
	}
	if (signo)
		*signo = sig;
	return 0;
}
