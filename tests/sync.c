/* SPDX-License-Identifier: MIT */
/*
 * tests/sync.c - mutex, semaphore, event and condition variable: FIFO
 * fairness, hand-off that survives a cancellation arriving after it, waiters
 * that leave the queue on cancel or timeout without taking anything, and a
 * throttle that never lets more than N tasks through under random
 * cancellations.
 */
#include "util.h"

#include <criterion/redirect.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>


/* Let every task that is ready now run (and block) before we go on. */
static void settle(void)
{
	for (int i = 0; i < 3; i++)
		corio_yield();
}

static corio_task *spawn(corio_fn fn, void *arg)
{
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, fn, arg), 0);
	return t;
}

static void *join(corio_task *t)
{
	void *r = NULL;
	cr_assert_eq(corio_join(t, &r), 0, "join");
	return r;
}

static unsigned xorshift(unsigned *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Does the calling task hold @m?  Locking a mutex one holds is -EDEADLK;
 * the shield keeps a cancelled caller from failing before that check. */
static bool holds(corio_mutex *m)
{
	corio_scope sh;
	corio_shield_push(&sh);
	int err = corio_mutex_lock(m);
	if (!err)
		corio_mutex_unlock(m);
	corio_shield_pop(&sh);
	return err == -EDEADLK;
}

/* ---- mutex ---------------------------------------------------------- */

struct mx {
	corio_mutex m;
	int inside;   /* tasks between lock and unlock */
	int order[8]; /* who got the lock, in order */
	int n;
};

struct mx_arg {
	struct mx *s;
	int id;
	int ret;
};

static void *locker(void *p)
{
	struct mx_arg *a = p;
	a->ret = corio_mutex_lock(&a->s->m);
	if (a->ret)
		return NULL;
	cr_assert_eq(a->s->inside++, 0, "two tasks inside the lock");
	a->s->order[a->s->n++] = a->id;
	corio_yield(); /* hold it across a switch */
	corio_yield();
	a->s->inside--;
	corio_mutex_unlock(&a->s->m);
	return NULL;
}

static void *mutex_fifo_main(void *p)
{
	struct mx s = {0};
	struct mx_arg a[5];
	corio_task *t[5];
	corio_mutex_init(&s.m);
	cr_assert_eq(corio_mutex_lock(&s.m), 0);
	for (int i = 0; i < 5; i++) {
		a[i] = (struct mx_arg){.s = &s, .id = i};
		t[i] = spawn(locker, &a[i]);
	}
	settle();
	cr_assert_eq(s.n, 0, "a waiter got a held lock");
	corio_mutex_unlock(&s.m);
	for (int i = 0; i < 5; i++) {
		join(t[i]);
		cr_assert_eq(a[i].ret, 0);
		cr_assert_eq(s.order[i], i, "lock not granted in FIFO order");
	}
	cr_assert_eq(corio_mutex_trylock(&s.m), 0, "mutex left locked");
	corio_mutex_unlock(&s.m);
	return NULL;
}

Test(sync, mutex_excludes_and_grants_in_fifo_order, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(mutex_fifo_main, NULL, NULL);
}

static void *mutex_trylock_main(void *p)
{
	corio_mutex m;
	corio_mutex_init(&m);
	cr_assert_eq(corio_mutex_trylock(&m), 0);
	cr_assert_eq(corio_mutex_trylock(&m), -EBUSY);
	cr_assert_eq(corio_mutex_lock(&m), -EDEADLK);
	corio_mutex_unlock(&m);
	cr_assert_eq(corio_mutex_trylock(&m), 0);
	corio_mutex_unlock(&m);
	return NULL;
}

Test(sync, mutex_trylock_busy_and_relock_deadlk)
{
	t_run(mutex_trylock_main, NULL, NULL);
}

static void *bad_unlocker(void *p)
{
	corio_mutex_unlock(p); /* not ours: must be ignored */
	return NULL;
}

static void *mutex_owner_main(void *p)
{
	char *me = p; /* our name, to find in the report */
	snprintf(me, 64, "%s", corio_task_name(corio_self()));
	corio_mutex m;
	corio_mutex_init(&m);
	cr_assert_eq(corio_mutex_lock(&m), 0);
	join(spawn(bad_unlocker, &m));
	cr_assert(holds(&m), "another task's unlock released our lock");
	corio_mutex_unlock(&m);
	corio_mutex_unlock(&m); /* not held any more: ignored too */
	cr_assert_eq(corio_mutex_trylock(&m), 0);
	corio_mutex_unlock(&m);
	return NULL;
}

Test(sync, mutex_unlock_by_non_owner_is_ignored, .init = cr_redirect_stderr)
{
	corio_loop_options o = {.debug = 1}; /* and reported on stderr */
	char me[64];
	t_run(mutex_owner_main, me, &o);
	fflush(stderr);
	char buf[4096] = {0}, want[128];
	size_t n = fread(buf, 1, sizeof(buf) - 1, cr_get_redirected_stderr());
	buf[n] = '\0';
	/* the other task's unlock, while we held it; then ours, after */
	snprintf(want, sizeof(want), "does not hold (holder: %s); ignored", me);
	char *first = strstr(buf, want);
	cr_assert_not_null(first, "no report of the foreign unlock: %s", buf);
	cr_assert_not_null(strstr(first, "does not hold (holder: nobody); ignored"),
			   "no report of the second unlock: %s", buf);
}

static void *mutex_cancel_queued_main(void *p)
{
	struct mx s = {0};
	struct mx_arg a[3];
	corio_task *t[3];
	cr_assert_eq(corio_mutex_lock(&s.m), 0);
	for (int i = 0; i < 3; i++) {
		a[i] = (struct mx_arg){.s = &s, .id = i};
		t[i] = spawn(locker, &a[i]);
	}
	settle();
	corio_cancel(t[0]); /* queued first: leaves without the lock */
	corio_mutex_unlock(&s.m);
	cr_assert_eq(corio_join(t[0], NULL), -ECANCELED);
	cr_assert_eq(a[0].ret, -ECANCELED);
	join(t[1]);
	join(t[2]);
	cr_assert_eq(a[1].ret, 0);
	cr_assert_eq(a[2].ret, 0);
	cr_assert_eq(s.n, 2);
	cr_assert_eq(s.order[0], 1, "the lock went to the cancelled waiter");
	cr_assert_eq(s.order[1], 2);
	cr_assert_eq(corio_mutex_trylock(&s.m), 0, "mutex left locked");
	corio_mutex_unlock(&s.m);
	return NULL;
}

Test(sync, mutex_cancelled_waiter_leaves_without_lock, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(mutex_cancel_queued_main, NULL, NULL);
}

struct handoff {
	corio_mutex m;
	int ret;
	bool held;
};

static void *handoff_locker(void *p)
{
	struct handoff *h = p;
	h->ret = corio_mutex_lock(&h->m);
	h->held = holds(&h->m);
	if (!h->ret)
		corio_mutex_unlock(&h->m);
	return NULL;
}

static void *mutex_handoff_main(void *p)
{
	struct handoff h = {0};
	cr_assert_eq(corio_mutex_lock(&h.m), 0);
	corio_task *t = spawn(handoff_locker, &h);
	settle();
	corio_mutex_unlock(&h.m); /* hands the lock to t ... */
	corio_cancel(t);          /* ... which is cancelled before it runs */
	cr_assert_eq(corio_mutex_trylock(&h.m), -EBUSY, "hand-off was taken back");
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(h.ret, 0, "a lock handed over was lost to the cancel");
	cr_assert(h.held);
	cr_assert_eq(corio_mutex_trylock(&h.m), 0, "mutex left locked");
	corio_mutex_unlock(&h.m);
	return NULL;
}

Test(sync, mutex_handoff_kept_when_cancelled_before_running, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(mutex_handoff_main, NULL, NULL);
}

static void *timed_locker(void *p)
{
	struct mx_arg *a = p;
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 20 * MS);
	a->ret = corio_mutex_lock(&a->s->m);
	corio_timeout_pop(&sc);
	cr_assert(sc.expired);
	return NULL;
}

static void *mutex_timeout_main(void *p)
{
	struct mx s = {0};
	struct mx_arg a0 = {.s = &s, .id = 0}, a1 = {.s = &s, .id = 1};
	cr_assert_eq(corio_mutex_lock(&s.m), 0);
	corio_task *t0 = spawn(timed_locker, &a0);
	corio_task *t1 = spawn(locker, &a1);
	join(t0);
	cr_assert_eq(a0.ret, -ETIMEDOUT);
	corio_mutex_unlock(&s.m);
	join(t1);
	cr_assert_eq(a1.ret, 0, "the waiter behind the timed-out one lost its turn");
	cr_assert_eq(corio_mutex_trylock(&s.m), 0, "mutex left locked");
	corio_mutex_unlock(&s.m);
	return NULL;
}

Test(sync, mutex_lock_times_out_and_mutex_stays_usable, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(mutex_timeout_main, NULL, NULL);
}

/* ---- cancellation is sticky, shields defer it ----------------------- */

static void *sticky_main(void *p)
{
	corio_mutex m;
	corio_sem s;
	corio_event e;
	corio_mutex_init(&m);
	corio_sem_init(&s, 1, 0);
	corio_event_init(&e);
	corio_event_set(&e);
	corio_cancel(corio_self());
	/* nothing would block, yet each call is a cancellation point */
	cr_assert_eq(corio_mutex_lock(&m), -ECANCELED);
	cr_assert_eq(corio_sem_acquire(&s), -ECANCELED);
	cr_assert_eq(corio_event_wait(&e), -ECANCELED);
	cr_assert_eq(corio_sem_value(&s), 1, "a cancelled acquire took a permit");
	corio_scope sh;
	corio_shield_push(&sh);
	cr_assert_eq(corio_mutex_lock(&m), 0);
	cr_assert_eq(corio_sem_acquire(&s), 0);
	cr_assert_eq(corio_event_wait(&e), 0);
	corio_shield_pop(&sh);
	corio_mutex_unlock(&m);
	cr_assert_eq(corio_sem_release(&s), 0);
	return NULL;
}

Test(sync, cancelled_task_fails_at_once_unless_shielded)
{
	corio_loop *loop;
	cr_assert_eq(corio_loop_new(&loop, NULL), 0);
	corio_task *t;
	cr_assert_eq(corio_spawn_ex(loop, &t, sticky_main, NULL, NULL), 0);
	cr_assert_eq(corio_loop_run(loop), 0);
	/* it cancelled itself, so join reports -ECANCELED */
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(corio_loop_free(loop), 0);
}

Test(sync, blocking_calls_outside_a_task_are_eperm)
{
	corio_mutex m;
	corio_sem s;
	corio_event e;
	corio_cond c;
	corio_mutex_init(&m);
	corio_sem_init(&s, 1, 1);
	corio_event_init(&e);
	corio_cond_init(&c);
	cr_assert_eq(corio_mutex_lock(&m), -EPERM);
	cr_assert_eq(corio_mutex_trylock(&m), -EPERM);
	cr_assert_eq(corio_sem_acquire(&s), -EPERM);
	cr_assert_eq(corio_event_wait(&e), -EPERM);
	cr_assert_eq(corio_cond_wait(&c, &m), -EPERM);
	/* the non-blocking semaphore calls work anywhere */
	cr_assert_eq(corio_sem_try_acquire(&s), 0);
	cr_assert_eq(corio_sem_try_acquire(&s), -EAGAIN);
	cr_assert_eq(corio_sem_release(&s), 0);
}

/* ---- semaphore ------------------------------------------------------ */

Test(sync, sem_counts_and_bounded_release_overflows)
{
	corio_sem s;
	corio_sem_init(&s, 2, 3);
	cr_assert_eq(corio_sem_try_acquire(&s), 0);
	cr_assert_eq(corio_sem_try_acquire(&s), 0);
	cr_assert_eq(corio_sem_try_acquire(&s), -EAGAIN);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(corio_sem_release(&s), 0);
	cr_assert_eq(corio_sem_value(&s), 3);
	cr_assert_eq(corio_sem_release(&s), -EOVERFLOW);
	cr_assert_eq(corio_sem_value(&s), 3, "a refused release changed the count");
	corio_sem_init(&s, 4, 2); /* bound below value: raised to it */
	cr_assert_eq(corio_sem_release(&s), -EOVERFLOW);
	corio_sem_init(&s, 0, 0); /* unbounded */
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(corio_sem_release(&s), 0);
	cr_assert_eq(corio_sem_value(&s), 1000);
}

struct sq {
	corio_sem s;
	int order[6];
	int n;
};

struct sq_arg {
	struct sq *q;
	int id;
	int ret;
};

static void *sem_waiter(void *p)
{
	struct sq_arg *a = p;
	a->ret = corio_sem_acquire(&a->q->s);
	if (!a->ret)
		a->q->order[a->q->n++] = a->id;
	return NULL;
}

static void *sem_fifo_main(void *p)
{
	struct sq q = {0};
	struct sq_arg a[6];
	corio_task *t[6];
	corio_sem_init(&q.s, 0, 0);
	for (int i = 0; i < 6; i++) {
		a[i] = (struct sq_arg){.q = &q, .id = i};
		t[i] = spawn(sem_waiter, &a[i]);
	}
	settle();
	corio_cancel(t[2]); /* cancelled while queued */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(corio_sem_release(&q.s), 0);
	corio_cancel(t[1]); /* cancelled after its permit was handed over */
	settle();
	cr_assert_eq(q.n, 3);
	cr_assert_eq(q.order[0], 0);
	cr_assert_eq(q.order[1], 1, "a handed permit was lost to the cancel");
	cr_assert_eq(q.order[2], 3, "the permit went to the cancelled waiter");
	cr_assert_eq(a[2].ret, -ECANCELED);
	cr_assert_eq(corio_sem_value(&q.s), 0);
	corio_sem_release(&q.s);
	corio_sem_release(&q.s);
	for (int i = 0; i < 6; i++)
		corio_join(t[i], NULL);
	cr_assert_eq(q.n, 5);
	cr_assert_eq(corio_sem_value(&q.s), 0, "permits appeared or vanished");
	return NULL;
}

Test(sync, sem_fifo_with_queued_and_handed_off_cancels, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(sem_fifo_main, NULL, NULL);
}

/* The downloader's throttle: N permits, many workers, and cancellations of
 * waiters, of holders, and of waiters just handed a permit.  Workers queue
 * in spawn order, so right after a release the lowest-numbered worker
 * still inside acquire is the one the permit was just handed to. */
#define THR_N 5
#define THR_WORKERS 300

enum { W_NEW, W_ACQUIRING, W_HOLDING, W_DONE };

struct throttle {
	corio_sem s;
	corio_task *t[THR_WORKERS];
	int state[THR_WORKERS];
	int holders, max_holders;
	int done;
	int cancelled_waiting, cancelled_holding, kept_after_cancel;
	int bad_release;
	unsigned rng;
};

struct worker {
	struct throttle *th;
	int id;
};

static void cancel_just_handed(struct throttle *th)
{
	for (int i = 0; i < THR_WORKERS; i++) {
		if (th->state[i] == W_ACQUIRING) {
			corio_cancel(th->t[i]);
			return;
		}
	}
}

static void hold_and_release(struct throttle *th, int id)
{
	th->state[id] = W_HOLDING;
	if (corio_checkpoint() == -ECANCELED)
		th->kept_after_cancel++; /* the permit was handed before the cancel */
	if (++th->holders > th->max_holders)
		th->max_holders = th->holders;
	cr_assert_leq(th->holders, THR_N, "more than N tasks hold the semaphore");
	if (corio_sleep((xorshift(&th->rng) % 1000) * 1000) == -ECANCELED)
		th->cancelled_holding++;
	th->holders--;
	if (corio_sem_release(&th->s))
		th->bad_release++; /* a duplicated permit would overflow the bound */
	if (xorshift(&th->rng) % 3 == 0)
		cancel_just_handed(th);
}

static void *throttled(void *p)
{
	struct worker *w = p;
	struct throttle *th = w->th;
	th->state[w->id] = W_ACQUIRING;
	if (corio_sem_acquire(&th->s))
		th->cancelled_waiting++;
	else
		hold_and_release(th, w->id);
	th->state[w->id] = W_DONE;
	th->done++;
	return NULL;
}

static void *throttle_main(void *p)
{
	static struct throttle th;
	static struct worker w[THR_WORKERS];
	th = (struct throttle){.rng = 12345};
	corio_sem_init(&th.s, THR_N, THR_N);
	for (int i = 0; i < THR_WORKERS; i++) {
		w[i] = (struct worker){.th = &th, .id = i};
		th.t[i] = spawn(throttled, &w[i]);
	}
	while (th.done < THR_WORKERS) { /* and random cancellations */
		corio_task *victim = th.t[xorshift(&th.rng) % THR_WORKERS];
		if (!corio_task_done(victim))
			corio_cancel(victim);
		corio_sleep(300 * 1000);
	}
	for (int i = 0; i < THR_WORKERS; i++)
		corio_join(th.t[i], NULL);
	cr_assert_eq(th.max_holders, THR_N, "the semaphore was never saturated");
	cr_assert_eq(th.bad_release, 0);
	cr_assert_eq(corio_sem_value(&th.s), THR_N, "permits leaked or duplicated");
	cr_assert_gt(th.cancelled_waiting, 0, "no waiter was cancelled");
	cr_assert_gt(th.cancelled_holding, 0, "no holder was cancelled");
	cr_assert_gt(th.kept_after_cancel, 0, "hand-off-then-cancel never happened");
	return NULL;
}

Test(sync, sem_of_n_never_held_by_more_than_n_under_cancellation, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(throttle_main, NULL, NULL);
}

static void *timed_acquirer(void *p)
{
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 10 * MS);
	int ret = corio_sem_acquire(p);
	corio_timeout_pop(&sc);
	return (void *)(intptr_t)ret;
}

static void *sem_timeout_main(void *p)
{
	corio_sem s;
	corio_sem_init(&s, 0, 1);
	corio_task *t = spawn(timed_acquirer, &s);
	cr_assert_eq((intptr_t)join(t), -ETIMEDOUT);
	cr_assert_eq(corio_sem_release(&s), 0);
	cr_assert_eq(corio_sem_value(&s), 1, "the timed-out waiter took the permit");
	cr_assert_eq(corio_sem_try_acquire(&s), 0);
	return NULL;
}

Test(sync, sem_acquire_times_out_and_takes_no_permit, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(sem_timeout_main, NULL, NULL);
}

/* ---- event ---------------------------------------------------------- */

static void *event_waiter(void *p)
{
	return (void *)(intptr_t)corio_event_wait(p);
}

static void *event_main(void *p)
{
	corio_event e;
	corio_task *t[4];
	corio_event_init(&e);
	for (int i = 0; i < 4; i++)
		t[i] = spawn(event_waiter, &e);
	settle();
	for (int i = 0; i < 4; i++)
		cr_assert_not(corio_task_done(t[i]), "returned before the event was set");
	corio_event_set(&e);
	corio_event_clear(&e); /* too late: they were woken */
	for (int i = 0; i < 4; i++)
		cr_assert_eq((intptr_t)join(t[i]), 0);
	cr_assert_not(corio_event_is_set(&e));
	corio_event_set(&e);
	cr_assert_eq(corio_event_wait(&e), 0, "wait on a set event blocked");
	cr_assert(corio_event_is_set(&e));
	return NULL;
}

Test(sync, event_set_wakes_every_waiter, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(event_main, NULL, NULL);
}

static void *timed_event_waiter(void *p)
{
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 10 * MS);
	int ret = corio_event_wait(p);
	corio_timeout_pop(&sc);
	return (void *)(intptr_t)ret;
}

static void *event_timeout_main(void *p)
{
	corio_event e;
	corio_event_init(&e);
	corio_task *timed = spawn(timed_event_waiter, &e);
	corio_task *plain = spawn(event_waiter, &e);
	cr_assert_eq((intptr_t)join(timed), -ETIMEDOUT);
	cr_assert_not(corio_task_done(plain));
	corio_event_set(&e);
	cr_assert_eq((intptr_t)join(plain), 0);
	return NULL;
}

Test(sync, event_wait_times_out_and_event_stays_usable, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(event_timeout_main, NULL, NULL);
}

/* ---- condition variable --------------------------------------------- */

struct cv {
	corio_mutex m;
	corio_cond c;
	int tickets;
	int order[4];
	int n;
};

struct cv_arg {
	struct cv *s;
	int id;
	int ret;      /* what corio_cond_wait() returned last */
	bool held;    /* the mutex was held when it returned */
	bool timeout; /* wait under a 10 ms timeout scope */
};

static void *cond_waiter(void *p)
{
	struct cv_arg *a = p;
	struct cv *s = a->s;
	corio_scope sc;
	cr_assert_eq(corio_mutex_lock(&s->m), 0);
	if (a->timeout)
		corio_timeout_push(&sc, corio_now() + 10 * MS);
	while (!s->tickets) {
		a->ret = corio_cond_wait(&s->c, &s->m);
		a->held = holds(&s->m);
		if (a->ret)
			break;
	}
	if (a->timeout)
		corio_timeout_pop(&sc);
	if (!a->ret) {
		s->tickets--;
		s->order[s->n++] = a->id;
	}
	corio_mutex_unlock(&s->m);
	return NULL;
}

static void *cond_signal_main(void *p)
{
	struct cv s = {0};
	struct cv_arg a[4];
	corio_task *t[4];
	corio_mutex_init(&s.m);
	corio_cond_init(&s.c);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct cv_arg){.s = &s, .id = i};
		t[i] = spawn(cond_waiter, &a[i]);
	}
	settle();
	cr_assert_eq(corio_mutex_lock(&s.m), 0);
	s.tickets = 2;
	corio_cond_signal(&s.c);
	corio_cond_signal(&s.c);
	corio_mutex_unlock(&s.m);
	settle();
	cr_assert_eq(s.n, 2);
	cr_assert_eq(s.order[0], 0, "signal did not wake the longest waiter");
	cr_assert_eq(s.order[1], 1);
	cr_assert_not(corio_task_done(t[2]));
	corio_mutex_lock(&s.m);
	s.tickets = 2;
	corio_cond_broadcast(&s.c);
	corio_mutex_unlock(&s.m);
	for (int i = 0; i < 4; i++) {
		join(t[i]);
		cr_assert_eq(a[i].ret, 0);
		cr_assert(a[i].held, "cond_wait returned without the mutex");
	}
	cr_assert_eq(s.n, 4);
	return NULL;
}

Test(sync, cond_signal_wakes_longest_waiter_broadcast_wakes_all, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(cond_signal_main, NULL, NULL);
}

static void *cond_cancel_main(void *p)
{
	struct cv s = {0};
	struct cv_arg a[2];
	corio_task *t[2];
	for (int i = 0; i < 2; i++) {
		a[i] = (struct cv_arg){.s = &s, .id = i};
		t[i] = spawn(cond_waiter, &a[i]);
	}
	settle();
	/* cancel the first waiter while we hold the mutex, then signal once:
	 * the signal must reach the second, and the first must come back
	 * holding the mutex (so only after we release it) */
	cr_assert_eq(corio_mutex_lock(&s.m), 0);
	corio_cancel(t[0]);
	s.tickets = 1;
	corio_cond_signal(&s.c);
	settle();
	cr_assert_not(corio_task_done(t[0]), "returned from cond_wait without the mutex");
	corio_mutex_unlock(&s.m);
	cr_assert_eq(corio_join(t[0], NULL), -ECANCELED);
	join(t[1]);
	cr_assert_eq(a[0].ret, -ECANCELED);
	cr_assert(a[0].held, "cancelled cond_wait returned without the mutex");
	cr_assert_eq(a[1].ret, 0, "the signal was lost to the cancelled waiter");
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.order[0], 1);
	return NULL;
}

Test(sync, cond_cancelled_waiter_returns_locked_and_signal_goes_on, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(cond_cancel_main, NULL, NULL);
}

static void *cond_timeout_main(void *p)
{
	struct cv s = {0};
	struct cv_arg a0 = {.s = &s, .id = 0, .timeout = true};
	struct cv_arg a1 = {.s = &s, .id = 1};
	corio_task *t0 = spawn(cond_waiter, &a0);
	corio_task *t1 = spawn(cond_waiter, &a1);
	join(t0);
	cr_assert_eq(a0.ret, -ETIMEDOUT);
	cr_assert(a0.held, "timed-out cond_wait returned without the mutex");
	corio_mutex_lock(&s.m);
	s.tickets = 1;
	corio_cond_signal(&s.c);
	corio_mutex_unlock(&s.m);
	join(t1);
	cr_assert_eq(a1.ret, 0);
	cr_assert_eq(s.tickets, 0);
	cr_assert_eq(corio_mutex_trylock(&s.m), 0, "mutex left locked");
	corio_mutex_unlock(&s.m);
	return NULL;
}

Test(sync, cond_wait_times_out_holding_the_mutex, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(cond_timeout_main, NULL, NULL);
}

static void *cond_eperm_main(void *p)
{
	corio_mutex m;
	corio_cond c;
	corio_mutex_init(&m);
	corio_cond_init(&c);
	cr_assert_eq(corio_cond_wait(&c, &m), -EPERM, "waited without holding the mutex");
	corio_cond_signal(&c); /* no waiter: nothing happens */
	corio_cond_broadcast(&c);
	return NULL;
}

Test(sync, cond_wait_without_the_mutex_is_eperm)
{
	t_run(cond_eperm_main, NULL, NULL);
}
