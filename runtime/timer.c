/* SPDX-License-Identifier: MIT */
/*
 * timer.c - the loop's clock and timers.  One 4-ary min-heap per loop
 * holds every deadline: corio_call_later/at callbacks, sleeping tasks and
 * timeout scopes; nodes are embedded in their owners (a heap record, the
 * sleeping task's stack, the caller's corio_scope), so a million sleeping
 * tasks cost a heap slot each and no syscall.  The loop's wait carries the
 * nearest deadline.  Ties run in insertion order (the seq field).
 */
#include "corio_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ARITY 4
#define NOT_IN_HEAP UINT32_MAX

struct corio_timer {
	struct corio__timer_node node;
	corio_loop *loop;
	void (*fn)(void *);
	void *arg;
	bool has_handle;             /* the user holds it: free on cancel */
	struct corio__node hlink; /* in loop->handles, if has_handle */
};

uint64_t corio__clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t corio__now(corio_loop *l)
{
	if (!l->now_valid) {
		l->now = corio__clock();
		l->now_valid = true;
	}
	return l->now;
}

uint64_t corio_now(void)
{
	corio_loop *l = corio__tls_loop;
	return l ? corio__now(l) : corio__clock();
}

/* ---- the heap --------------------------------------------------------- */

static bool before(const struct corio__timer_node *a, const struct corio__timer_node *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void place(struct corio__timer_heap *h, uint32_t i, struct corio__timer_node *n)
{
	h->v[i] = n;
	n->heap_idx = i;
}

static void sift_up(struct corio__timer_heap *h, uint32_t i)
{
	struct corio__timer_node *n = h->v[i];
	while (i > 0) {
		uint32_t p = (i - 1) / ARITY;
		if (!before(n, h->v[p]))
			break;
		place(h, i, h->v[p]);
		i = p;
	}
	place(h, i, n);
}

static void sift_down(struct corio__timer_heap *h, uint32_t i)
{
	struct corio__timer_node *n = h->v[i];
	for (;;) {
		uint32_t c = i * ARITY + 1, best = UINT32_MAX;
		for (uint32_t k = c; k < c + ARITY && k < h->len; k++)
			if (best == UINT32_MAX || before(h->v[k], h->v[best]))
				best = k;
		if (best == UINT32_MAX || !before(h->v[best], n))
			break;
		place(h, i, h->v[best]);
		i = best;
	}
	place(h, i, n);
}

static int heap_push(corio_loop *l, struct corio__timer_node *n)
{
	struct corio__timer_heap *h = &l->timers;
	if (h->len == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 64;
		void *v = realloc(h->v, (size_t)cap * sizeof(*h->v));
		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	n->seq = h->seq++;
	h->v[h->len] = n;
	sift_up(h, h->len++);
	return 0;
}

static void heap_remove(corio_loop *l, struct corio__timer_node *n)
{
	struct corio__timer_heap *h = &l->timers;
	uint32_t i = n->heap_idx;
	if (i == NOT_IN_HEAP)
		return;
	n->heap_idx = NOT_IN_HEAP;
	struct corio__timer_node *last = h->v[--h->len];
	if (i == h->len)
		return;
	place(h, i, last);
	if (i > 0 && before(last, h->v[(i - 1) / ARITY]))
		sift_up(h, i);
	else
		sift_down(h, i);
}

int corio__timers_init(corio_loop *l)
{
	memset(&l->timers, 0, sizeof(l->timers));
	return 0;
}

/* Nanoseconds the loop may sleep: until the nearest deadline rounded up to
 * a multiple of the timer slack, so that deadlines close together end one
 * kernel wait instead of one each (timers may fire late by up to the
 * slack, never early).  0 if one is due, -1 if there is none. */
int64_t corio__timers_next(corio_loop *l)
{
	if (!l->timers.len)
		return -1;
	uint64_t when = l->timers.v[0]->when, now = corio__clock();
	if (when <= now)
		return 0;
	uint64_t slack = l->timer_slack;
	if (slack > 1 && when < UINT64_MAX - slack)
		when = (when + slack - 1) / slack * slack;
	return (int64_t)(when - now);
}

/* ---- callbacks ------------------------------------------------------ */

static void handle_unlink(corio_loop *l, corio_timer *t)
{
	corio__list_remove(&l->handles, &t->hlink);
}

void corio__timers_fini(corio_loop *l)
{
	struct corio__timer_heap *h = &l->timers;
	/* Only callback timers can be left: tasks (and their sleeps and
	 * scopes) are gone by now. */
	while (h->len) {
		struct corio__timer_node *n = h->v[0];
		heap_remove(l, n);
		corio_timer *t = corio__container_of(n, corio_timer, node);
		l->user_timers--;
		if (!t->has_handle)
			free(t);
	}
	struct corio__node *n;
	while ((n = corio__list_pop_front(&l->handles)))
		free(corio__container_of(n, corio_timer, hlink));
	free(h->v);
	memset(h, 0, sizeof(*h));
}

int corio_call_at(corio_loop *l, uint64_t when_ns, void (*fn)(void *), void *arg,
		  corio_timer **out)
{
	if (!l || !fn)
		return -EINVAL;
	if (corio__stale(l))
		return -EBADFD;
	corio_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->node.when = when_ns;
	t->node.kind = CORIO__TK_CALLBACK;
	t->loop = l;
	t->fn = fn;
	t->arg = arg;
	if (heap_push(l, &t->node)) {
		free(t);
		return -ENOMEM;
	}
	l->user_timers++;
	if (out) {
		t->has_handle = true;
		corio__list_push_front(&l->handles, &t->hlink);
		*out = t;
	}
	return 0;
}

int corio_call_later(corio_loop *l, uint64_t delay_ns, void (*fn)(void *), void *arg,
		     corio_timer **out)
{
	if (!l)
		return -EINVAL;
	uint64_t now = corio__now(l); /* the one time base, as corio_sleep() */
	uint64_t when = delay_ns > UINT64_MAX - now ? UINT64_MAX : now + delay_ns;
	return corio_call_at(l, when, fn, arg, out);
}

void corio_timer_cancel(corio_timer *t)
{
	if (!t)
		return;
	corio_loop *l = t->loop;
	if (t->node.heap_idx != NOT_IN_HEAP) {
		heap_remove(l, &t->node);
		l->user_timers--;
	}
	if (t->has_handle) {
		handle_unlink(l, t);
		free(t);
	}
}

/* ---- sleeping ------------------------------------------------------- */

struct sleep_wait {
	struct corio__wait w;
	struct corio__timer_node node;
	corio_task *task;
};

static void sleep_describe(const struct corio__wait *w, char *buf, size_t n)
{
	const struct sleep_wait *sw = corio__container_of(w, struct sleep_wait, w);
	uint64_t now = corio__now(sw->task->loop);
	if (sw->node.when > now)
		snprintf(buf, n, "a sleep, due in %.3f s", (double)(sw->node.when - now) / 1e9);
	else
		snprintf(buf, n, "a sleep, due %.3f s ago", (double)(now - sw->node.when) / 1e9);
}

static void sleep_interrupt(corio_task *t, struct corio__wait *w, int err)
{
	struct sleep_wait *sw = corio__container_of(w, struct sleep_wait, w);
	heap_remove(t->loop, &sw->node);
	corio__wake(t, err);
}

int corio_sleep_until(uint64_t when_ns)
{
	corio_task *t = corio__current();
	if (!t)
		return -EPERM;
	int err = corio__interrupted(t);
	if (err)
		return err;
	struct sleep_wait sw = {
		.w.interrupt = sleep_interrupt, .w.describe = sleep_describe, .task = t};
	sw.node.when = when_ns;
	sw.node.kind = CORIO__TK_SLEEP;
	if (heap_push(t->loop, &sw.node))
		return -ENOMEM;
	return corio__suspend(&sw.w);
}

/* One time base (DESIGN section 3): a delay counts from the turn's clock,
 * as corio_now() reads it, so deadlines set in one turn keep their order
 * however long the turn takes. */
int corio_sleep(uint64_t ns)
{
	corio_loop *l = corio__tls_loop;
	if (!l || !l->current)
		return -EPERM;
	uint64_t now = corio__now(l);
	return corio_sleep_until(ns > UINT64_MAX - now ? UINT64_MAX : now + ns);
}

/* ---- timeout scopes ------------------------------------------------- */

static void scope_expire(corio_scope *s)
{
	corio_task *t = s->task;
	s->expired = 1;
	t->n_expired++;
	if (!corio__shielded_from(t, s))
		corio__interrupt(t, -ETIMEDOUT);
}

void corio_timeout_push(corio_scope *s, uint64_t deadline_ns)
{
	corio_task *t = corio__current();
	memset(s, 0, sizeof(*s));
	s->node.heap_idx = NOT_IN_HEAP;
	if (!t)
		return;
	s->task = t;
	s->outer = t->scope;
	t->scope = s;
	s->node.when = deadline_ns;
	s->node.kind = CORIO__TK_SCOPE;
	if (deadline_ns <= corio__now(t->loop) || heap_push(t->loop, &s->node)) {
		/* already due, or no memory to track it: failing early is the
		 * safe side of a deadline */
		s->expired = 1;
		t->n_expired++;
	}
}

void corio_timeout_pop(corio_scope *s)
{
	corio_task *t = s->task;
	if (!t || t->scope != s)
		return;
	heap_remove(t->loop, &s->node);
	if (s->expired)
		t->n_expired--;
	t->scope = s->outer;
}

/* ---- firing ----------------------------------------------------------- */

static void fire(corio_loop *l, struct corio__timer_node *n)
{
	switch (n->kind) {
	case CORIO__TK_CALLBACK: {
		corio_timer *t = corio__container_of(n, corio_timer, node);
		l->user_timers--;
		void (*fn)(void *) = t->fn;
		void *arg = t->arg;
		if (!t->has_handle)
			free(t);
		fn(arg);
		break;
	}
	case CORIO__TK_SLEEP: {
		struct sleep_wait *sw = corio__container_of(n, struct sleep_wait, node);
		corio__wake(sw->task, 0);
		break;
	}
	case CORIO__TK_SCOPE:
		scope_expire(corio__container_of(n, corio_scope, node));
		break;
	}
}

/* Fire every timer that is due.  Timers added meanwhile with a deadline
 * already passed wait for the next turn, so a callback that re-arms itself
 * with delay 0 cannot starve the loop. */
void corio__timers_fire(corio_loop *l)
{
	struct corio__timer_heap *h = &l->timers;
	if (!h->len)
		return;
	uint64_t now = corio__clock();
	l->now = now;
	l->now_valid = true;
	uint64_t limit = h->seq;
	while (h->len && h->v[0]->when <= now && h->v[0]->seq < limit) {
		struct corio__timer_node *n = h->v[0];
		heap_remove(l, n);
		fire(l, n);
	}
}
