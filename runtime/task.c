/* SPDX-License-Identifier: MIT */
/*
 * task.c - tasks: spawning, the switch between a task and the scheduler
 * (with the ASan fiber annotations), suspending and waking, joining,
 * detaching, and cancellation.  A task is interrupted (cancel, deadline)
 * only while suspended in a call whose wait record has an interrupt hook;
 * whether a call should fail at once is decided by corio__interrupted().
 */
#include "corio_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#ifdef CORIO__ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/* TSan knows threads, not stacks switched by hand: each task is a fiber
 * of its own, and every switch below says which one runs next. */
#ifdef CORIO__TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#define TSAN_SWITCH(fiber) __tsan_switch_to_fiber((fiber), 0)
#else
#define TSAN_SWITCH(fiber) ((void)0)
#endif

#define MAX_STACK ((size_t)1 << 30)
#define SLOW_TASK_NS (100ull * 1000 * 1000)

/* ---- switching ------------------------------------------------------ */

/*
 * Three switches exist: scheduler -> task (corio__run_task), task ->
 * scheduler, and task -> task: a task that suspends hands the CPU straight
 * to the next ready task of the turn, skipping a round trip through the
 * scheduler.  Under ASan each one is announced with the fiber API; the
 * scheduler's own stack bounds are learnt on the first entry from it.
 */

#ifdef CORIO__ASAN
static inline size_t stack_len(const corio_task *t)
{
	return (size_t)(t->stack.hi - t->stack.lo);
}
#endif

/* In a task, right after a switch brought it back. */
static inline void resumed(corio_loop *l, corio_task *t)
{
#ifdef CORIO__ASAN
	const void *bottom;
	size_t size;
	__sanitizer_finish_switch_fiber(t ? t->asan_fake : NULL, &bottom, &size);
	if (l->from_sched) {
		l->sched_stack_bottom = bottom;
		l->sched_stack_size = size;
	}
#else
	(void)l;
	(void)t;
#endif
}

static void switch_to_task(corio_loop *l, corio_task *t)
{
#ifdef CORIO__ASAN
	void *fake = NULL;
	__sanitizer_start_switch_fiber(&fake, t->stack.lo, stack_len(t));
	l->from_sched = true;
	l->st.switches++;
	corio__switch(&l->sched_sp, t->sp);
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
	l->st.switches++;
#ifdef CORIO__TSAN
	l->tsan_sched = __tsan_get_current_fiber();
#endif
	TSAN_SWITCH(t->tsan_fiber);
	corio__switch(&l->sched_sp, t->sp);
#endif
}

static void switch_to_sched(corio_loop *l, corio_task *t, bool final)
{
#ifdef CORIO__ASAN
	__sanitizer_start_switch_fiber(final ? NULL : &t->asan_fake,
				       l->sched_stack_bottom, l->sched_stack_size);
#else
	(void)final;
#endif
	l->st.switches++;
	TSAN_SWITCH(l->tsan_sched);
	corio__switch(&t->sp, l->sched_sp);
	resumed(l, t);
}

static void switch_to_next(corio_loop *l, corio_task *t, corio_task *next)
{
#ifdef CORIO__ASAN
	__sanitizer_start_switch_fiber(&t->asan_fake, next->stack.lo, stack_len(next));
	l->from_sched = false;
#endif
	l->st.switches++;
	TSAN_SWITCH(next->tsan_fiber);
	corio__switch(&t->sp, next->sp);
	resumed(l, t);
}

/* Leave the running task @t (already queued or suspended): run the next
 * ready task of this turn directly if there is one, else the scheduler. */
static void switch_out(corio_loop *l, corio_task *t)
{
	if (!t->stack.guarded)
		corio__stack_check(t);
	struct corio__runnable *r = l->runq.head;
	if (l->budget && r && r->kind == CORIO__RUN_TASK && !l->debug) {
		corio_task *next = (corio_task *)(void *)r;
		corio__runq_pop(&l->runq);
		l->budget--;
		next->state = CORIO__T_RUNNING;
		if (next == t)
			return; /* a yield with nobody else to run */
		l->current = next;
		switch_to_next(l, t, next);
		return;
	}
	switch_to_sched(l, t, false);
}

static void warn_slow(corio_task *t, uint64_t ns)
{
	if (ns > SLOW_TASK_NS)
		fprintf(stderr,
			"corio: task '%s' ran %" PRIu64
			" ms without suspending; the loop was blocked meanwhile\n",
			corio_task_name(t), ns / 1000000);
}

/* Scheduler side: run @t until the chain of tasks it starts comes back. */
void corio__run_task(corio_loop *l, corio_task *t)
{
	l->current = t;
	t->state = CORIO__T_RUNNING;
	uint64_t t0 = l->debug ? corio__clock() : 0;
	switch_to_task(l, t);
	corio_task *last = l->current; /* the task that switched back */
	l->current = NULL;
	if (l->debug)
		warn_slow(last, corio__clock() - t0);
	if (last->state == CORIO__T_DONE && last->detached)
		corio__task_free(last);
}

void corio__task_entry(corio_task *t)
{
	corio_loop *l = t->loop;
	resumed(l, NULL);
	void *r = t->fn(t->arg);
	if (t->locals)
		corio__locals_release(t); /* destructors run on the task's stack */
	t->result = r;
	t->state = CORIO__T_DONE;
	l->live_tasks--;
	if (t->done_hook || !corio__list_empty(&t->groups))
		corio__task_finished(t);
	if (t->joiner)
		corio__wake(t->joiner, 0);
	if (!t->stack.guarded)
		corio__stack_check(t);
	/* always through the scheduler: it frees the stack of a detached task */
	switch_to_sched(l, t, true);
	__builtin_unreachable();
}

/* ---- suspending and waking ------------------------------------------ */

int corio__suspend(struct corio__wait *w)
{
	corio_loop *l = corio__tls_loop;
	corio_task *t = l->current;
	t->wait = w;
	t->wait_since = corio__loop_now(l);
	t->state = CORIO__T_WAITING;
	switch_out(l, t);
	t->wait = NULL;
	return t->wake_res;
}

void corio__interrupt(corio_task *t, int err)
{
	if (t->state == CORIO__T_WAITING && t->wait && t->wait->interrupt) {
		t->loop->interrupts++;
		t->interrupted_at = corio__now(t->loop);
		t->wait->interrupt(t, t->wait, err);
	}
}

/* Is scope @s (or the task itself, for @s == NULL) hidden behind a shield
 * opened inside it? */
bool corio__shielded_from(corio_task *t, corio_scope *s)
{
	for (corio_scope *c = t->scope; c && c != s; c = c->outer)
		if (c->shield)
			return true;
	return false;
}

/* What a suspending call should fail with right now: -ECANCELED if the
 * task is cancelled and not shielded, -ETIMEDOUT if a visible timeout
 * scope has expired, else 0. */
int corio__interrupted(corio_task *t)
{
	if (corio__likely(!t->cancelled && !t->n_expired))
		return 0;
	bool timed = false;
	for (corio_scope *s = t->scope; s; s = s->outer) {
		if (s->shield)
			return timed ? -ETIMEDOUT : 0;
		if (s->expired)
			timed = true;
	}
	if (t->cancelled)
		return -ECANCELED;
	return timed ? -ETIMEDOUT : 0;
}

int corio_checkpoint(void)
{
	corio_task *t = corio__current();
	return t ? corio__interrupted(t) : 0;
}

void corio_yield(void)
{
	corio_loop *l = corio__tls_loop;
	corio_task *t = l ? l->current : NULL;
	if (!t)
		return;
	t->state = CORIO__T_READY;
	corio__runq_push(&l->runq, &t->r);
	switch_out(l, t);
}

/* ---- spawning ------------------------------------------------------- */

int corio_spawn_ex(corio_loop *loop, corio_task **out, corio_fn fn, void *arg,
		   const corio_task_options *o)
{
	if (!loop)
		loop = corio__tls_loop;
	if (!loop)
		return -EPERM;
	if (corio__stale(loop))
		return -EBADFD;
	if (!fn)
		return -EINVAL;
	if (loop->closing)
		return -ESHUTDOWN;
	size_t size = o && o->stack_size ? o->stack_size : loop->stack_size;
	if (size > MAX_STACK)
		return -EINVAL;
	if (size < CORIO__MIN_STACK)
		size = CORIO__MIN_STACK;
	corio_task *t;
	int err = corio__stack_get(loop, size, &t);
	if (err)
		return err;
	corio_task *parent = loop->current;
	if (parent && parent->locals && (err = corio__locals_inherit(t, parent))) {
		corio__stack_put(loop, t);
		return err;
	}
	t->r.kind = CORIO__RUN_TASK;
	t->loop = loop;
	t->fn = fn;
	t->arg = arg;
	t->id = ++loop->next_id;
	if (o && o->name)
		snprintf(t->name, sizeof(t->name), "%s", o->name);
	/* else named "task-<id>" on first use: formatting is most of a spawn */
	t->sp = corio__stack_init_frame(t);
#ifdef CORIO__TSAN
	t->tsan_fiber = __tsan_create_fiber(0);
#endif
	corio__list_push_front(&loop->tasks, &t->all);
	loop->live_tasks++;
	t->state = CORIO__T_READY;
	corio__runq_push(&loop->runq, &t->r);
	if (out)
		*out = t;
	else
		t->detached = true;
	return 0;
}

int corio_spawn(corio_task **out, corio_fn fn, void *arg)
{
	return corio_spawn_ex(NULL, out, fn, arg, NULL);
}

void corio__task_free(corio_task *t)
{
	corio_loop *l = t->loop;
	corio__list_remove(&l->tasks, &t->all);
#ifdef CORIO__TSAN
	if (t->tsan_fiber)
		__tsan_destroy_fiber(t->tsan_fiber);
	t->tsan_fiber = NULL;
#endif
	corio__stack_put(l, t);
}

/* ---- join, detach, cancel ------------------------------------------- */

struct join_wait {
	struct corio__wait w;
	corio_task *target;
};

static void join_describe(const struct corio__wait *w, char *buf, size_t n)
{
	const struct join_wait *jw = corio__container_of(w, struct join_wait, w);
	snprintf(buf, n, "a join of '%s'", corio_task_name(jw->target));
}

static void join_interrupt(corio_task *me, struct corio__wait *w, int err)
{
	struct join_wait *jw = corio__container_of(w, struct join_wait, w);
	jw->target->joiner = NULL;
	corio__wake(me, err);
}

void corio__task_wake(corio_task *t, int res)
{
	corio__wake(t, res);
}

int corio_join(corio_task *t, void **result)
{
	if (!t)
		return -EINVAL;
	corio_task *me = corio__current();
	if (t == me)
		return -EDEADLK;
	if (t->detached || t->joiner || (me && me->loop != t->loop))
		return -EINVAL;
	if (t->state != CORIO__T_DONE) {
		if (!me)
			return -EAGAIN;
		int err = corio__interrupted(me);
		if (err)
			return err;
		struct join_wait jw = {
			.w.interrupt = join_interrupt, .w.describe = join_describe, .target = t};
		t->joiner = me;
		err = corio__suspend(&jw.w);
		if (err)
			return err;
	}
	/* A task cancelled that finished anyway still returned something,
	 * perhaps memory it owns: hand it over with the error. */
	int ret = t->cancelled ? -ECANCELED : 0;
	if (result)
		*result = t->result;
	corio__task_free(t);
	return ret;
}

void corio_detach(corio_task *t)
{
	if (!t || t->detached)
		return;
	if (t->state == CORIO__T_DONE && t != corio__current())
		corio__task_free(t);
	else
		t->detached = true;
}

void corio_cancel(corio_task *t)
{
	if (!t || t->state == CORIO__T_DONE)
		return;
	t->cancelled = true;
	if (!t->cancelled_at)
		t->cancelled_at = corio__now(t->loop);
	if (!corio__list_empty(&t->groups))
		corio__groups_cancel(t);
	if (!corio__shielded_from(t, NULL))
		corio__interrupt(t, -ECANCELED);
}

corio_task *corio_self(void)
{
	return corio__current();
}

const char *corio_task_name(const corio_task *t)
{
	if (!t)
		return "";
	if (!t->name[0]) {
		corio_task *mut = (corio_task *)t; /* the name cache is ours */
		snprintf(mut->name, sizeof(mut->name), "task-%" PRIu64, t->id);
	}
	return t->name;
}

int corio_task_done(const corio_task *t)
{
	return t && t->state == CORIO__T_DONE;
}

/* ---- shields -------------------------------------------------------- */

void corio_shield_push(corio_scope *s)
{
	corio_task *t = corio__current();
	memset(s, 0, sizeof(*s));
	s->node.heap_idx = UINT32_MAX;
	if (!t)
		return;
	s->task = t;
	s->shield = 1;
	s->outer = t->scope;
	t->scope = s;
}

void corio_shield_pop(corio_scope *s)
{
	corio_task *t = s->task;
	if (!t || t->scope != s)
		return;
	t->scope = s->outer;
}
