/* SPDX-License-Identifier: MIT */
/*
 * sync.c - the FIFO wait queue every blocking primitive is built on, and
 * the caller-allocated primitives: mutex, semaphore, event and condition
 * variable.  Hand-off is direct: a release pops the longest waiter, gives it
 * the lock or permit and wakes it with 0, so a woken task owns what it was
 * given even if it is cancelled before it runs (corio__wake() ignores a task
 * that is no longer WAITING).  An interrupt unlinks a still-queued waiter
 * and wakes it with the error: it never held anything, so nothing needs to
 * be passed on.  Channels (chan.c) and net/ (listeners, streams, the
 * server) use the same queue.
 */
#include "corio_int.h"
#include "corio/sync.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* ---- wait queues ---------------------------------------------------- */

static void waitq_unlink(struct corio__waiter *w)
{
	if (!w->q)
		return;
	corio__list_remove(&w->q->list, &w->link);
	w->q = NULL;
}

static void waiter_describe(const struct corio__wait *wait, char *buf, size_t n)
{
	const struct corio__waiter *w = corio__container_of(wait, struct corio__waiter, w);
	snprintf(buf, n, "%s (queue %p)", w->what ? w->what : "a wait queue", (void *)w->q);
}

static void waiter_interrupt(corio_task *t, struct corio__wait *wait, int err)
{
	struct corio__waiter *w = corio__container_of(wait, struct corio__waiter, w);
	waitq_unlink(w);
	corio__wake(t, err);
}

/* Queue @w for the current task and suspend until a hand-off (0), an
 * interrupt or a close (the error).  The caller has already checked
 * corio__interrupted(). */
int corio__waitq_wait(struct corio__waitq *q, struct corio__waiter *w)
{
	w->w.interrupt = waiter_interrupt;
	w->w.describe = waiter_describe;
	w->task = corio__current();
	w->q = q;
	corio__list_push_back(&q->list, &w->link);
	return corio__suspend(&w->w);
}

/* Take the longest waiter off @q; the caller hands it what it waited for
 * (a lock, a message), then wakes it with corio__wake(w->task, 0). */
struct corio__waiter *corio__waitq_pop(struct corio__waitq *q)
{
	struct corio__waiter *w = corio__list_entry(q->list.head, struct corio__waiter, link);
	if (!w)
		return NULL;
	/* queued implies suspended on this record: see corio__waitq_wait() */
	assert(w->task->state == CORIO__T_WAITING && w->task->wait == &w->w);
	waitq_unlink(w);
	return w;
}

/* Wake the longest waiter with @res, for a hand-off that fits in the
 * result (a permit: 0; an accepted fd; "look again").  False if nobody
 * waits. */
bool corio__waitq_wake_one(struct corio__waitq *q, int res)
{
	struct corio__waiter *w = corio__waitq_pop(q);
	if (!w)
		return false;
	corio__wake(w->task, res);
	return true;
}

void corio__waitq_wake_all(struct corio__waitq *q, int res)
{
	while (corio__waitq_wake_one(q, res))
		;
}

/* 0 if the calling task may block now, else why not: -EPERM outside
 * tasks, or the interruption to report (-ECANCELED, -ETIMEDOUT). */
int corio__may_block(void)
{
	corio_task *t = corio__current();
	return t ? corio__interrupted(t) : -EPERM;
}

/* ---- mutex ---------------------------------------------------------- */

void corio_mutex_init(corio_mutex *m)
{
	memset(m, 0, sizeof(*m));
}

int corio_mutex_lock(corio_mutex *m)
{
	int err = corio__may_block();
	if (err)
		return err;
	corio_task *t = corio__current();
	if (!m->owner) {
		m->owner = t;
		return 0;
	}
	if (m->owner == t)
		return -EDEADLK;
	struct corio__waiter w = {0};
	/* on 0, corio_mutex_unlock() has made us the owner */
	w.what = "a mutex";
	return corio__waitq_wait(&m->waiters, &w);
}

int corio_mutex_trylock(corio_mutex *m)
{
	corio_task *t = corio__current();
	if (!t)
		return -EPERM;
	if (m->owner)
		return -EBUSY;
	m->owner = t;
	return 0;
}

static void report_bad_unlock(const corio_mutex *m, const corio_task *t)
{
	corio_loop *l = corio__tls_loop;
	if (!l || !l->debug)
		return;
	const char *holder = m->owner ? m->owner->name : "nobody";
	if (t)
		fprintf(stderr, "corio: task '%s' unlocked a mutex it does not hold "
			"(holder: %s); ignored\n", t->name, holder);
	else
		fprintf(stderr, "corio: a mutex was unlocked from outside tasks "
			"(holder: %s); ignored\n", holder);
}

void corio_mutex_unlock(corio_mutex *m)
{
	corio_task *t = corio__current();
	if (corio__unlikely(!t || m->owner != t)) {
		report_bad_unlock(m, t);
		return;
	}
	struct corio__waiter *w = corio__waitq_pop(&m->waiters);
	m->owner = w ? w->task : NULL;
	if (w)
		corio__wake(w->task, 0);
}

/* ---- semaphore ------------------------------------------------------ */

void corio_sem_init(corio_sem *s, unsigned value, unsigned bound)
{
	memset(s, 0, sizeof(*s));
	s->value = value;
	s->bound = bound && bound < value ? value : bound;
}

int corio_sem_try_acquire(corio_sem *s)
{
	/* value > 0 only while nobody waits, so this cannot jump the queue */
	if (!s->value)
		return -EAGAIN;
	s->value--;
	return 0;
}

int corio_sem_acquire(corio_sem *s)
{
	int err = corio__may_block();
	if (err)
		return err;
	if (!corio_sem_try_acquire(s))
		return 0;
	struct corio__waiter w = {0};
	/* on 0, corio_sem_release() handed its permit to us */
	w.what = "a semaphore";
	return corio__waitq_wait(&s->waiters, &w);
}

int corio_sem_release(corio_sem *s)
{
	if (corio__waitq_wake_one(&s->waiters, 0))
		return 0;
	if (s->value == UINT_MAX || (s->bound && s->value >= s->bound))
		return -EOVERFLOW;
	s->value++;
	return 0;
}

unsigned corio_sem_value(const corio_sem *s)
{
	return s->value;
}

/* ---- event ---------------------------------------------------------- */

void corio_event_init(corio_event *e)
{
	memset(e, 0, sizeof(*e));
}

void corio_event_set(corio_event *e)
{
	e->set = 1;
	corio__waitq_wake_all(&e->waiters, 0);
}

void corio_event_clear(corio_event *e)
{
	e->set = 0;
}

int corio_event_is_set(const corio_event *e)
{
	return e->set;
}

int corio_event_wait(corio_event *e)
{
	int err = corio__may_block();
	if (err)
		return err;
	if (e->set)
		return 0;
	struct corio__waiter w = {0};
	w.what = "an event";
	return corio__waitq_wait(&e->waiters, &w);
}

/* ---- condition variable --------------------------------------------- */

void corio_cond_init(corio_cond *c)
{
	memset(c, 0, sizeof(*c));
}

/* Lock @m even if the caller is cancelled or past its deadline: the
 * shield defers both, so the lock cannot fail (the caller does not hold
 * @m, so no -EDEADLK either). */
static void relock(corio_mutex *m)
{
	corio_scope shield;
	corio_shield_push(&shield);
	int err = corio_mutex_lock(m);
	assert(err == 0);
	(void)err;
	corio_shield_pop(&shield);
}

int corio_cond_wait(corio_cond *c, corio_mutex *m)
{
	corio_task *t = corio__current();
	if (!t || m->owner != t)
		return -EPERM;
	int err = corio__interrupted(t);
	if (err)
		return err;
	struct corio__waiter w = {0};
	/* Unlocking never switches tasks, so no signal can slip in between
	 * the unlock and joining the queue. */
	corio_mutex_unlock(m);
	w.what = "a condition";
	err = corio__waitq_wait(&c->waiters, &w);
	relock(m);
	return err;
}

void corio_cond_signal(corio_cond *c)
{
	corio__waitq_wake_one(&c->waiters, 0);
}

void corio_cond_broadcast(corio_cond *c)
{
	corio__waitq_wake_all(&c->waiters, 0);
}
