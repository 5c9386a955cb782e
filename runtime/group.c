/* SPDX-License-Identifier: MIT */
/*
 * group.c - structured concurrency: task groups (trio's nurseries, curio's
 * TaskGroup) and the combinators gather and wait_any.  Both learn that a
 * task finished through its done hook, which task.c calls on the finishing
 * task's stack before waking any joiner.
 *
 * A group's children sit on one of two lists, linked through the tasks'
 * sib link:
 *
 *   spawn --> running --(fn returns: child_done)--> done queue
 *                                                      | corio_group_next()
 *                                                      v
 *                                      the caller's: corio_join() it
 *
 * The owner (the task that created the group) lists its groups in
 * t->groups; task.c calls corio__groups_cancel() from corio_cancel(), so
 * cancelling the owner cancels the children, and they in turn cancel
 * theirs.  An owner that finishes leaves its groups ownerless.
 */
#include "corio_int.h"
#include "corio/sync.h"

#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>

struct corio_group {
	struct corio__done_hook hook;  /* each child's done_hook points here */
	corio_loop *loop;
	corio_task *owner;             /* NULL: created outside tasks, or gone */
	struct corio__node olink;      /* in the owner's list of groups */
	struct corio__list running;    /* children whose fn has not returned */
	struct corio__list done;       /* finished, not yet handed out: FIFO */
	corio_task *waiter;            /* task suspended in next() or wait() */
	int err;                       /* the first child failure, or 0 */
	bool keep_going;               /* failures do not cancel siblings */
	bool cancelled;                /* every child is, and will be, cancelled */
};

/* ---- lists ---------------------------------------------------------- */

static corio_task *sib_task(struct corio__node *n)
{
	return corio__list_entry(n, corio_task, sib);
}

static void running_push(corio_group *g, corio_task *t)
{
	corio__list_push_front(&g->running, &t->sib);
}

static void running_unlink(corio_group *g, corio_task *t)
{
	corio__list_remove(&g->running, &t->sib);
}

static void done_push(corio_group *g, corio_task *t)
{
	corio__list_push_back(&g->done, &t->sib);
}

/* Hand the oldest finished child over: it no longer belongs to @g. */
static corio_task *done_pop(corio_group *g)
{
	corio_task *t = sib_task(corio__list_pop_front(&g->done));
	t->done_hook = NULL;
	return t;
}

static void owner_link(corio_group *g, corio_task *owner)
{
	g->owner = owner;
	corio__list_push_front(&owner->groups, &g->olink);
}

static void owner_unlink(corio_group *g)
{
	if (!g->owner)
		return;
	corio__list_remove(&g->owner->groups, &g->olink);
	g->owner = NULL;
}

static void child_done(struct corio__done_hook *h, corio_task *t);

/* The group @t runs in, or NULL (dump.c). */
const corio_group *corio__task_group(const corio_task *t)
{
	if (!t->done_hook || t->done_hook->fn != child_done)
		return NULL;
	return corio__container_of(t->done_hook, corio_group, hook);
}

/* ---- hooks from task.c ---------------------------------------------- */

static void child_done(struct corio__done_hook *h, corio_task *t)
{
	corio_group *g = corio__container_of(h, corio_group, hook);
	running_unlink(g, t);
	done_push(g, t);
	/* a child cancelled on its own is not a failure, whatever it returns */
	if (!t->cancelled && corio_is_err(t->result) && !g->err) {
		g->err = corio_ptr_err(t->result);
		if (!g->keep_going)
			corio_group_cancel(g);
	}
	if (g->waiter) {
		corio_task *w = g->waiter;
		g->waiter = NULL;
		corio__wake(w, 0);
	}
}

void corio__task_finished(corio_task *t)
{
	while (!corio__list_empty(&t->groups))
		owner_unlink(corio__container_of(t->groups.head, corio_group, olink));
	if (t->done_hook)
		t->done_hook->fn(t->done_hook, t);
}

void corio__groups_cancel(corio_task *owner)
{
	for (struct corio__node *n = owner->groups.head; n; n = n->next)
		corio_group_cancel(corio__container_of(n, corio_group, olink));
}

/* ---- groups --------------------------------------------------------- */

int corio_group_new_ex(corio_group **out, const corio_group_options *o)
{
	corio_loop *l = corio__tls_loop;
	if (!out)
		return -EINVAL;
	if (!l)
		return -EPERM;
	corio_group *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->hook.fn = child_done;
	g->loop = l;
	g->keep_going = o && o->keep_going;
	corio_task *owner = l->current;
	if (owner) {
		owner_link(g, owner);
		g->cancelled = owner->cancelled;
	}
	*out = g;
	return 0;
}

int corio_group_new(corio_group **out)
{
	return corio_group_new_ex(out, NULL);
}

int corio_group_spawn_ex(corio_group *g, corio_task **out, corio_fn fn, void *arg,
			 const corio_task_options *o)
{
	if (!g)
		return -EINVAL;
	corio_task *t;
	int err = corio_spawn_ex(g->loop, &t, fn, arg, o);
	if (err)
		return err;
	t->done_hook = &g->hook;
	running_push(g, t);
	if (g->cancelled)
		corio_cancel(t);
	if (out)
		*out = t;
	return 0;
}

int corio_group_spawn(corio_group *g, corio_task **out, corio_fn fn, void *arg)
{
	return corio_group_spawn_ex(g, out, fn, arg, NULL);
}

void corio_group_cancel(corio_group *g)
{
	/* children spawned since the group was cancelled started cancelled */
	if (!g || g->cancelled)
		return;
	g->cancelled = true;
	/* Cancelling never finishes a task on the spot, so the list holds
	 * still while we walk it. */
	for (struct corio__node *n = g->running.head; n; n = n->next)
		corio_cancel(sib_task(n));
}

struct group_wait {
	struct corio__wait w;
	corio_group *g;
};

static void group_wait_describe(const struct corio__wait *w, char *buf, size_t n)
{
	const struct group_wait *gw = corio__container_of(w, struct group_wait, w);
	snprintf(buf, n, "a child of group %p", (void *)gw->g);
}

static void group_wait_interrupt(corio_task *t, struct corio__wait *w, int err)
{
	struct group_wait *gw = corio__container_of(w, struct group_wait, w);
	gw->g->waiter = NULL;
	corio__wake(t, err);
}

/* Suspend until some child of @g finishes (0) or the caller is
 * interrupted (its error). */
static int wait_child(corio_group *g)
{
	if (g->waiter)
		return -EBUSY;
	int err = corio__may_block();
	if (err)
		return err;
	struct group_wait gw = {
		.w.interrupt = group_wait_interrupt, .w.describe = group_wait_describe, .g = g};
	g->waiter = corio__current();
	return corio__suspend(&gw.w);
}

corio_task *corio_group_next(corio_group *g)
{
	if (!g)
		return NULL;
	while (corio__list_empty(&g->done))
		if (corio__list_empty(&g->running) || wait_child(g))
			return NULL;
	return done_pop(g);
}

static void join_done(corio_group *g)
{
	while (!corio__list_empty(&g->done))
		corio_join(done_pop(g), NULL);
}

int corio_group_wait(corio_group *g)
{
	if (!g)
		return -EINVAL;
	for (;;) {
		join_done(g);
		if (corio__list_empty(&g->running))
			return g->err;
		int err = wait_child(g);
		if (err)
			return err;
	}
}

/* Outside tasks nobody can wait: let the (cancelled) children free
 * themselves when they finish. */
static void detach_running(corio_group *g)
{
	while (!corio__list_empty(&g->running)) {
		corio_task *t = sib_task(g->running.head);
		running_unlink(g, t);
		t->done_hook = NULL;
		corio_detach(t);
	}
}

void corio_group_free(corio_group *g)
{
	if (!g)
		return;
	corio_group_cancel(g);
	if (corio__current()) {
		corio_scope shield;
		corio_shield_push(&shield);
		corio_group_wait(g);
		corio_shield_pop(&shield);
	}
	detach_running(g); /* only if we could not wait */
	join_done(g);
	owner_unlink(g);
	free(g);
}

/* ---- gather and wait_any -------------------------------------------- */

/* A caller of corio_gather()/corio_wait_any(), on its stack.  While it
 * runs, every listed task's done_hook points at it (which also exposes a
 * task listed twice). */
struct watch {
	struct corio__done_hook hook;
	struct corio__wait w;
	corio_task *me;
	corio_task **tasks;
	size_t n;
	size_t left;       /* listed tasks still running */
	bool any;          /* wake at the first finish, not the last */
	corio_task *first; /* first listed task to finish while we waited */
};

static void watch_done(struct corio__done_hook *h, corio_task *t)
{
	struct watch *wt = corio__container_of(h, struct watch, hook);
	wt->left--;
	if (!wt->first)
		wt->first = t;
	if (wt->any || !wt->left)
		corio__wake(wt->me, 0);
}

static void unwatch(struct watch *wt, size_t upto)
{
	for (size_t i = 0; i < upto; i++)
		if (wt->tasks[i]->done_hook == &wt->hook)
			wt->tasks[i]->done_hook = NULL;
}

static void watch_interrupt(corio_task *t, struct corio__wait *w, int err)
{
	struct watch *wt = corio__container_of(w, struct watch, w);
	unwatch(wt, wt->n);
	corio__wake(t, err);
}

static bool watchable(const corio_task *t, const corio_task *me)
{
	return t && t != me && !t->detached && !t->joiner && !t->done_hook &&
	       (!me || t->loop == me->loop);
}

/* Hook every listed task; *first_done: the lowest index of those already
 * finished, or -1. */
static int watch_begin(struct watch *wt, long *first_done)
{
	*first_done = -1;
	for (size_t i = 0; i < wt->n; i++) {
		corio_task *t = wt->tasks[i];
		if (!watchable(t, wt->me)) {
			unwatch(wt, i);
			return -EINVAL;
		}
		t->done_hook = &wt->hook;
		if (t->state != CORIO__T_DONE)
			wt->left++;
		else if (*first_done < 0)
			*first_done = (long)i;
	}
	return 0;
}

static int watch_wait(struct watch *wt)
{
	if (!wt->me)
		return -EAGAIN;
	int err = corio__interrupted(wt->me);
	if (err)
		return err;
	wt->w.interrupt = watch_interrupt;
	return corio__suspend(&wt->w);
}

/* Join every task (all have finished); the lowest-index error, or 0. */
static int collect(corio_task **tasks, size_t n, void **results)
{
	int ret = 0;
	for (size_t i = 0; i < n; i++) {
		void *r = CORIO_ERR_PTR(-ECANCELED);
		int err = corio_join(tasks[i], &r);
		if (!err)
			err = corio_ptr_err(r);
		if (!ret)
			ret = err;
		if (results)
			results[i] = r;
	}
	return ret;
}

int corio_gather(corio_task **tasks, size_t n, void **results)
{
	if (!n)
		return 0;
	if (!tasks)
		return -EINVAL;
	struct watch wt = {.hook.fn = watch_done, .me = corio__current(), .tasks = tasks, .n = n};
	long first_done;
	int err = watch_begin(&wt, &first_done);
	if (err)
		return err;
	if (wt.left)
		err = watch_wait(&wt);
	unwatch(&wt, n);
	return err ? err : collect(tasks, n, results);
}

static int index_of(corio_task **tasks, size_t n, const corio_task *t)
{
	size_t i = 0;
	while (i < n && tasks[i] != t)
		i++;
	return (int)i;
}

int corio_wait_any(corio_task **tasks, size_t n)
{
	if (!tasks || !n || n > INT_MAX)
		return -EINVAL;
	struct watch wt = {.hook.fn = watch_done, .me = corio__current(), .tasks = tasks,
			   .n = n, .any = true};
	long first_done;
	int err = watch_begin(&wt, &first_done);
	if (err)
		return err;
	if (first_done < 0)
		err = watch_wait(&wt);
	unwatch(&wt, n);
	if (err)
		return err;
	return first_done >= 0 ? (int)first_done : index_of(tasks, n, wt.first);
}
