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

#define MAX_STACK ((size_t)1 << 30)
#define MIN_STACK ((size_t)16 * 1024)
#define SLOW_TASK_NS (100ull * 1000 * 1000)

/* ---- switching ------------------------------------------------------ */

static void switch_to_task(corio_loop *l, corio_task *t)
{
#ifdef CORIO__ASAN
	void *fake = NULL;
	__sanitizer_start_switch_fiber(&fake, t->stack.lo,
				       (size_t)(t->stack.hi - t->stack.lo));
	corio__switch(&l->sched_sp, t->sp);
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
	corio__switch(&l->sched_sp, t->sp);
#endif
}

static void switch_to_sched(corio_loop *l, corio_task *t, bool final)
{
	if (!t->stack.guarded)
		corio__stack_check(t);
#ifdef CORIO__ASAN
	__sanitizer_start_switch_fiber(final ? NULL : &t->asan_fake,
				       l->sched_stack_bottom, l->sched_stack_size);
	corio__switch(&t->sp, l->sched_sp);
	__sanitizer_finish_switch_fiber(t->asan_fake, &l->sched_stack_bottom,
					&l->sched_stack_size);
#else
	(void)final;
	corio__switch(&t->sp, l->sched_sp);
#endif
}

static void warn_slow(corio_task *t, uint64_t ns)
{
	if (ns > SLOW_TASK_NS)
		fprintf(stderr,
			"corio: task '%s' ran %" PRIu64
			" ms without suspending; the loop was blocked meanwhile\n",
			t->name, ns / 1000000);
}

/* Scheduler side: run @t until it suspends, yields or finishes. */
void corio__run_task(corio_loop *l, corio_task *t)
{
	l->current = t;
	t->state = CORIO__T_RUNNING;
	uint64_t t0 = l->debug ? corio__clock() : 0;
	switch_to_task(l, t);
	l->current = NULL;
	if (l->debug)
		warn_slow(t, corio__clock() - t0);
	if (t->state == CORIO__T_DONE && t->detached)
		corio__task_free(t);
}

void corio__task_entry(corio_task *t)
{
	corio_loop *l = t->loop;
#ifdef CORIO__ASAN
	__sanitizer_finish_switch_fiber(NULL, &l->sched_stack_bottom, &l->sched_stack_size);
#endif
	void *r = t->fn(t->arg);
	t->result = r;
	t->state = CORIO__T_DONE;
	l->live_tasks--;
	if (t->done_hook || t->groups)
		corio__task_finished(t);
	if (t->joiner)
		corio__wake(t->joiner, 0);
	switch_to_sched(l, t, true);
	__builtin_unreachable();
}

/* ---- suspending and waking ------------------------------------------ */

int corio__suspend(struct corio__wait *w)
{
	corio_loop *l = corio__tls_loop;
	corio_task *t = l->current;
	t->wait = w;
	t->state = CORIO__T_WAITING;
	switch_to_sched(l, t, false);
	t->wait = NULL;
	return t->wake_res;
}

void corio__wake(corio_task *t, int res)
{
	if (t->state != CORIO__T_WAITING)
		return;
	t->wake_res = res;
	t->wait = NULL;
	t->state = CORIO__T_READY;
	corio__runq_push(&t->loop->runq, &t->r);
}

void corio__interrupt(corio_task *t, int err)
{
	if (t->state == CORIO__T_WAITING && t->wait && t->wait->interrupt) {
		t->loop->interrupts++;
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
	switch_to_sched(l, t, false);
}

/* ---- spawning ------------------------------------------------------- */

int corio_spawn_ex(corio_loop *loop, corio_task **out, corio_fn fn, void *arg,
		   const corio_task_options *o)
{
	if (!loop)
		loop = corio__tls_loop;
	if (!loop)
		return -EPERM;
	if (!fn)
		return -EINVAL;
	if (loop->closing)
		return -ESHUTDOWN;
	size_t size = o && o->stack_size ? o->stack_size : loop->stack_size;
	if (size > MAX_STACK)
		return -EINVAL;
	if (size < MIN_STACK)
		size = MIN_STACK;
	corio_task *t;
	int err = corio__stack_get(loop, size, &t);
	if (err)
		return err;
	t->r.kind = CORIO__RUN_TASK;
	t->loop = loop;
	t->fn = fn;
	t->arg = arg;
	t->id = ++loop->next_id;
	if (o && o->name)
		snprintf(t->name, sizeof(t->name), "%s", o->name);
	else
		snprintf(t->name, sizeof(t->name), "task-%" PRIu64, t->id);
	t->sp = corio__stack_init_frame(t);
	t->all_prev = NULL;
	t->all_next = loop->tasks;
	if (loop->tasks)
		loop->tasks->all_prev = t;
	loop->tasks = t;
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
	if (t->all_prev)
		t->all_prev->all_next = t->all_next;
	else
		l->tasks = t->all_next;
	if (t->all_next)
		t->all_next->all_prev = t->all_prev;
	corio__stack_put(l, t);
}

/* ---- join, detach, cancel ------------------------------------------- */

struct join_wait {
	struct corio__wait w;
	corio_task *target;
};

static void join_interrupt(corio_task *me, struct corio__wait *w, int err)
{
	struct join_wait *jw = corio__container_of(w, struct join_wait, w);
	jw->target->joiner = NULL;
	corio__wake(me, err);
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
		struct join_wait jw = {.w.interrupt = join_interrupt, .target = t};
		t->joiner = me;
		err = corio__suspend(&jw.w);
		if (err)
			return err;
	}
	int ret = t->cancelled ? -ECANCELED : 0;
	if (!ret && result)
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
	if (t->groups)
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
	return t ? t->name : "";
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
