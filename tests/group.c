/* SPDX-License-Identifier: MIT */
/*
 * tests/group.c - task groups, gather and wait_any: completion order,
 * fail-fast, cancellation flowing from an owner to its grandchildren,
 * freeing a group with children still running, and every waiting call
 * under a timeout scope or a cancelled caller.
 */
#include "util.h"

#include <errno.h>
#include <stdint.h>

#define LONG_SLEEP (10000 * MS) /* only ever ended by a cancel */

static corio_group *group(void)
{
	corio_group *g;
	cr_assert_eq(corio_group_new(&g), 0);
	return g;
}

static corio_task *gspawn(corio_group *g, corio_fn fn, void *arg)
{
	corio_task *t;
	cr_assert_eq(corio_group_spawn(g, &t, fn, arg), 0);
	return t;
}

static corio_task *spawn(corio_fn fn, void *arg)
{
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, fn, arg), 0);
	return t;
}

/* A child that sleeps, records how the sleep ended, and returns its own
 * index or an error. */
struct kid {
	int idx;
	uint64_t sleep_ns;
	uint64_t until; /* if set: sleep until this corio_now() time instead */
	int fail;      /* return CORIO_ERR_PTR(fail) after the sleep if set */
	int sleep_ret; /* what corio_sleep() returned */
	bool finished;
};

static void *kid(void *p)
{
	struct kid *k = p;
	k->sleep_ret = k->until ? corio_sleep_until(k->until) : corio_sleep(k->sleep_ns);
	k->finished = true;
	if (k->fail && !k->sleep_ret)
		return CORIO_ERR_PTR(k->fail);
	return k->sleep_ret ? CORIO_ERR_PTR(k->sleep_ret) : (void *)(intptr_t)k->idx;
}

/* A child that finishes only when the test sets its event: no race with
 * the clock, however loaded the machine. */
struct gated {
	int idx;
	corio_event go;
	int ret;
	bool finished;
};

static void *gated(void *p)
{
	struct gated *k = p;
	k->ret = corio_event_wait(&k->go);
	k->finished = true;
	return (void *)(intptr_t)k->idx;
}

/* ---- groups --------------------------------------------------------- */

static void *as_completed_main(void *p)
{
	static const int ms[5] = {50, 10, 40, 20, 30};
	static const int expect[5] = {1, 3, 4, 2, 0};
	struct kid k[5];
	corio_group *g = group();
	/* twice: once waiting in next() as they finish, once draining a queue
	 * of children that all finished before the first next() */
	for (int round = 0; round < 2; round++) {
		/* one base for all: each child's deadline is absolute, so the
		 * order holds however late a child starts on a loaded machine */
		uint64_t base = corio_now();
		for (int i = 0; i < 5; i++) {
			k[i] = (struct kid){.idx = i, .until = base + (uint64_t)ms[i] * MS};
			gspawn(g, kid, &k[i]);
		}
		if (round == 1)
			corio_sleep_until(base + 80 * MS);
		for (int i = 0; i < 5; i++) {
			corio_task *t = corio_group_next(g);
			cr_assert_not_null(t);
			void *r;
			cr_assert_eq(corio_join(t, &r), 0);
			cr_assert_eq((intptr_t)r, expect[i],
				     "round %d: completion order differs from sleep order", round);
		}
		cr_assert_null(corio_group_next(g), "next with no child left");
	}
	cr_assert_eq(corio_group_wait(g), 0);
	corio_group_free(g);
	return NULL;
}

Test(group, next_yields_children_in_completion_order, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(as_completed_main, NULL, NULL);
}

/* A sibling busy computing (not blocked) when the failure happens sees
 * the cancellation at its next blocking call. */
struct busy {
	const bool *failed; /* the failing sibling has returned */
	int saw;            /* what its first blocking call returned */
};

static void *busy_kid(void *p)
{
	struct busy *b = p;
	while (!*b->failed)
		corio_yield(); /* not a cancellation point */
	b->saw = corio_nop();
	return NULL;
}

static void *fail_fast_main(void *p)
{
	struct kid k[3];
	corio_group *g = group();
	struct busy busy = {.failed = &k[2].finished, .saw = 1};
	for (int i = 0; i < 2; i++) {
		k[i] = (struct kid){.idx = i, .sleep_ns = LONG_SLEEP};
		gspawn(g, kid, &k[i]);
	}
	k[2] = (struct kid){.idx = 2, .sleep_ns = 5 * MS, .fail = -EIO};
	gspawn(g, busy_kid, &busy);
	gspawn(g, kid, &k[2]);
	uint64_t t0 = t_clock();
	cr_assert_eq(corio_group_wait(g), -EIO, "wait did not return the failure");
	cr_assert_lt(t_clock() - t0, 2000 * MS, "siblings were not cancelled");
	for (int i = 0; i < 2; i++) {
		cr_assert(k[i].finished, "wait returned before a sibling was gone");
		cr_assert_eq(k[i].sleep_ret, -ECANCELED);
	}
	cr_assert_eq(busy.saw, -ECANCELED, "a busy sibling missed the cancel");
	corio_group_free(g);
	return NULL;
}

Test(group, fail_fast_cancels_siblings_and_wait_returns_the_error, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(fail_fast_main, NULL, NULL);
}

static void *keep_going_main(void *p)
{
	/* absolute deadlines from one clock read: which failure comes first
	 * must not depend on when each child got to run */
	uint64_t base = corio_now();
	struct kid k[3] = {
		{.idx = 0, .until = base + 30 * MS},
		{.idx = 1, .until = base + 5 * MS, .fail = -EIO},
		{.idx = 2, .until = base + 10 * MS, .fail = -ENOENT},
	};
	corio_group *g;
	corio_group_options o = {.keep_going = 1};
	cr_assert_eq(corio_group_new_ex(&g, &o), 0);
	for (int i = 0; i < 3; i++)
		gspawn(g, kid, &k[i]);
	cr_assert_eq(corio_group_wait(g), -EIO, "not the first failure");
	cr_assert_eq(k[0].sleep_ret, 0, "keep_going cancelled a sibling");
	corio_group_free(g);
	return NULL;
}

Test(group, keep_going_records_first_failure_without_cancelling, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(keep_going_main, NULL, NULL);
}

static void *cancel_is_not_failure_main(void *p)
{
	struct kid k[2] = {{.sleep_ns = LONG_SLEEP}, {.sleep_ns = LONG_SLEEP}};
	corio_group *g = group();
	gspawn(g, kid, &k[0]);
	corio_task *t1 = gspawn(g, kid, &k[1]);
	corio_yield();
	corio_cancel(t1); /* one child alone: not a failure, no fail-fast */
	corio_task *t = corio_group_next(g);
	cr_assert_eq(t, t1);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_not(k[0].finished, "cancelling one child cancelled its sibling");
	corio_group_cancel(g);
	cr_assert_eq(corio_group_wait(g), 0, "group_cancel counted as a failure");
	cr_assert_eq(k[0].sleep_ret, -ECANCELED);
	/* spawning into a cancelled group: the child starts cancelled */
	struct kid late = {.sleep_ns = LONG_SLEEP};
	gspawn(g, kid, &late);
	cr_assert_eq(corio_group_wait(g), 0);
	cr_assert_eq(late.sleep_ret, -ECANCELED);
	corio_group_free(g);
	return NULL;
}

Test(group, cancelling_children_is_not_a_failure, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(cancel_is_not_failure_main, NULL, NULL);
}

/* owner -> child (owns a group) -> grandchild.  The owner is inside a
 * shield when it is cancelled, so only the cancel hook (not the owner's own
 * wait or free) can reach the grandchild in time. */
struct family {
	struct kid grandchild;
	int child_wait_ret;
	int owner_wait_ret;
	bool child_cleaned_up;
	bool grandchild_done_in_shield; /* seen by the owner right after it */
};

static void *child_with_group(void *p)
{
	struct family *f = p;
	corio_group *g = group();
	gspawn(g, kid, &f->grandchild);
	f->child_wait_ret = corio_group_wait(g);
	corio_group_free(g);
	f->child_cleaned_up = true;
	return NULL;
}

static void *owner(void *p)
{
	struct family *f = p;
	corio_group *g = group();
	gspawn(g, child_with_group, f);
	corio_scope sh;
	corio_shield_push(&sh);
	/* cancelled meanwhile, but shielded: give the cancel up to 5 s to
	 * reach the grandchild through the hooks alone */
	uint64_t until = t_clock() + 5000 * MS;
	while (!f->grandchild.finished && t_clock() < until)
		corio_sleep(1 * MS);
	corio_shield_pop(&sh);
	f->grandchild_done_in_shield = f->grandchild.finished;
	f->owner_wait_ret = corio_group_wait(g);
	corio_group_free(g);
	return NULL;
}

static void *grandchildren_main(void *p)
{
	struct family f = {.grandchild.sleep_ns = LONG_SLEEP};
	corio_task *o = spawn(owner, &f);
	corio_sleep(5 * MS);
	cr_assert_not(f.grandchild.finished);
	uint64_t t0 = t_clock();
	corio_cancel(o);
	cr_assert_eq(corio_join(o, NULL), -ECANCELED);
	cr_assert_lt(t_clock() - t0, 2000 * MS);
	cr_assert(f.grandchild_done_in_shield, "cancel did not reach the grandchild at once");
	cr_assert_eq(f.grandchild.sleep_ret, -ECANCELED);
	/* by then every child was gone: nothing to wait for, so no error */
	cr_assert_eq(f.owner_wait_ret, 0);
	cr_assert_eq(f.child_wait_ret, -ECANCELED);
	cr_assert(f.child_cleaned_up, "the owner's free did not join its child");
	return NULL;
}

Test(group, owner_cancellation_reaches_grandchildren, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(grandchildren_main, NULL, NULL);
}

/* Children that need a moment to clean up after the cancel: free must
 * wait for that. */
static void *slow_cleanup_kid(void *p)
{
	int *cleaned = p;
	corio_sleep(LONG_SLEEP);
	corio_scope sh;
	corio_shield_push(&sh);
	int err = corio_sleep(5 * MS); /* cleanup that must finish */
	corio_shield_pop(&sh);
	if (!err)
		(*cleaned)++;
	return NULL;
}

static void *free_joins_main(void *p)
{
	int cleaned = 0;
	corio_group *g = group();
	for (int i = 0; i < 4; i++)
		gspawn(g, slow_cleanup_kid, &cleaned);
	struct kid done_kid = {.sleep_ns = 0};
	gspawn(g, kid, &done_kid); /* finished and unreported at free */
	/* wait on the kid itself, not on the clock: a loaded machine can
	 * run the kid's zero sleep after a short sleep of ours */
	uint64_t until = t_clock() + 5000 * MS;
	while (!done_kid.finished && t_clock() < until)
		corio_sleep(1 * MS);
	cr_assert(done_kid.finished);
	corio_group_free(g);
	cr_assert_eq(cleaned, 4, "free returned before its children finished");
	return NULL;
}

Test(group, free_cancels_and_joins_running_children, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(free_joins_main, NULL, NULL);
}

static void *cancelled_owner(void *p)
{
	int *cleaned = p;
	corio_group *g = group();
	for (int i = 0; i < 3; i++)
		gspawn(g, slow_cleanup_kid, cleaned);
	cr_assert_eq(corio_group_wait(g), -ECANCELED);
	cr_assert_null(corio_group_next(g), "next waited in a cancelled task");
	cr_assert_eq(corio_checkpoint(), -ECANCELED);
	corio_group_free(g); /* shielded: still waits for the children */
	return NULL;
}

static void *free_when_cancelled_main(void *p)
{
	int cleaned = 0;
	corio_task *o = spawn(cancelled_owner, &cleaned);
	corio_sleep(2 * MS);
	corio_cancel(o);
	cr_assert_eq(corio_join(o, NULL), -ECANCELED);
	cr_assert_eq(cleaned, 3, "free in a cancelled owner left children behind");
	return NULL;
}

Test(group, free_works_when_the_owner_is_cancelled, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(free_when_cancelled_main, NULL, NULL);
}

static void *wait_timeout_main(void *p)
{
	struct gated k = {.idx = 0};
	struct kid quick_kid = {.idx = 1, .sleep_ns = 0};
	corio_group *g = group();
	gspawn(g, gated, &k);
	gspawn(g, kid, &quick_kid);
	/* let the quick kid finish first: under load its zero sleep could
	 * otherwise outlast the timeout scope below */
	uint64_t until = t_clock() + 5000 * MS;
	while (!quick_kid.finished && t_clock() < until)
		corio_sleep(1 * MS);
	cr_assert(quick_kid.finished);
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 15 * MS);
	cr_assert_eq(corio_group_wait(g), -ETIMEDOUT);
	cr_assert_null(corio_group_next(g), "next did not time out");
	corio_timeout_pop(&sc);
	cr_assert(quick_kid.finished);
	cr_assert_not(k.finished, "the timeout touched a child");
	corio_event_set(&k.go);
	cr_assert_eq(corio_group_wait(g), 0, "group unusable after a timeout");
	cr_assert_eq(k.ret, 0);
	corio_group_free(g);
	return NULL;
}

Test(group, wait_and_next_time_out_leaving_children_running, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(wait_timeout_main, NULL, NULL);
}

static void *next_to_cancelled_main(void *p)
{
	struct kid k = {.idx = 9, .sleep_ns = 0};
	corio_group *g = group();
	gspawn(g, kid, &k);
	/* the child must have finished before we cancel ourselves: wait on
	 * it, not on the clock */
	uint64_t until = t_clock() + 5000 * MS;
	while (!k.finished && t_clock() < until)
		corio_sleep(1 * MS);
	cr_assert(k.finished);
	corio_cancel(corio_self());
	/* a finished child is handed out without blocking, even now */
	corio_task *t = corio_group_next(g);
	cr_assert_not_null(t);
	void *r;
	cr_assert_eq(corio_join(t, &r), 0);
	cr_assert_eq((intptr_t)r, 9);
	corio_group_free(g);
	return NULL;
}

Test(group, next_hands_out_finished_child_to_cancelled_caller)
{
	corio_loop *loop;
	cr_assert_eq(corio_loop_new(&loop, NULL), 0);
	corio_task *t;
	cr_assert_eq(corio_spawn_ex(loop, &t, next_to_cancelled_main, NULL, NULL), 0);
	cr_assert_eq(corio_loop_run(loop), 0);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(corio_loop_free(loop), 0);
}

static void *free_outside_main(void *p)
{
	corio_group **gp = p;
	*gp = group();
	static struct kid k = {.sleep_ns = LONG_SLEEP};
	gspawn(*gp, kid, &k);
	corio_sleep(1 * MS); /* the child is asleep now */
	corio_loop_stop(corio_current_loop());
	return NULL;
}

Test(group, free_outside_a_task_detaches_cancelled_children, .timeout = WAIT_TEST_TIMEOUT)
{
	corio_loop *loop;
	corio_group *g = NULL;
	cr_assert_eq(corio_loop_new(&loop, NULL), 0);
	corio_task *t;
	cr_assert_eq(corio_spawn_ex(loop, &t, free_outside_main, &g, NULL), 0);
	cr_assert_eq(corio_loop_run(loop), 0);
	cr_assert_eq(corio_join(t, NULL), 0);
	corio_group_free(g);
	cr_assert_eq(corio_loop_run(loop), 0, "the cancelled child did not finish");
	cr_assert_eq(corio_loop_free(loop), 0, "a child was left alive");
}

/* ---- gather --------------------------------------------------------- */

static void *gather_order_main(void *p)
{
	static const int ms[4] = {30, 5, 20, 10};
	struct kid k[4];
	corio_task *t[4];
	void *res[4];
	for (int i = 0; i < 4; i++) {
		k[i] = (struct kid){.idx = i, .sleep_ns = (uint64_t)ms[i] * MS};
		t[i] = spawn(kid, &k[i]);
	}
	cr_assert_eq(corio_gather(t, 4, res), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq((intptr_t)res[i], i, "results not in submission order");
	cr_assert_eq(corio_gather(NULL, 0, NULL), 0);
	return NULL;
}

Test(group, gather_returns_results_in_submission_order, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(gather_order_main, NULL, NULL);
}

static void *gather_error_main(void *p)
{
	struct kid k[4] = {
		{.idx = 0, .sleep_ns = 10 * MS},
		{.idx = 1, .sleep_ns = 8 * MS, .fail = -EIO},
		{.idx = 2, .sleep_ns = 2 * MS, .fail = -ENOENT},
		{.idx = 3, .sleep_ns = 40 * MS},
	};
	corio_task *t[4];
	void *res[4];
	for (int i = 0; i < 4; i++)
		t[i] = spawn(kid, &k[i]);
	cr_assert_eq(corio_gather(t, 4, res), -EIO, "not the lowest-index error");
	cr_assert(k[3].finished, "gather abandoned a task after an error");
	cr_assert_eq((intptr_t)res[0], 0);
	cr_assert_eq(corio_ptr_err(res[1]), -EIO);
	cr_assert_eq(corio_ptr_err(res[2]), -ENOENT);
	cr_assert_eq((intptr_t)res[3], 3);
	return NULL;
}

Test(group, gather_waits_for_all_and_returns_the_first_error, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(gather_error_main, NULL, NULL);
}

static void *gather_cancelled_task_main(void *p)
{
	struct kid k[2] = {{.idx = 0, .sleep_ns = 2 * MS}, {.idx = 1, .sleep_ns = LONG_SLEEP}};
	corio_task *t[2] = {spawn(kid, &k[0]), spawn(kid, &k[1])};
	void *res[2];
	corio_yield();
	corio_cancel(t[1]);
	cr_assert_eq(corio_gather(t, 2, res), -ECANCELED);
	cr_assert_eq((intptr_t)res[0], 0);
	cr_assert_eq(corio_ptr_err(res[1]), -ECANCELED);
	return NULL;
}

Test(group, gather_reports_a_cancelled_task, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(gather_cancelled_task_main, NULL, NULL);
}

static void *gather_timeout_main(void *p)
{
	struct kid k0 = {.idx = 0, .sleep_ns = 2 * MS};
	struct gated k1 = {.idx = 1};
	corio_task *t[2] = {spawn(kid, &k0), spawn(gated, &k1)};
	void *res[2] = {(void *)1, (void *)1};
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 10 * MS);
	cr_assert_eq(corio_gather(t, 2, res), -ETIMEDOUT);
	cr_assert_eq(corio_wait_any(&t[1], 1), -ETIMEDOUT);
	corio_timeout_pop(&sc);
	cr_assert_eq(res[0], (void *)1, "results written on timeout");
	cr_assert_not(k1.finished);
	corio_event_set(&k1.go);
	/* nothing was joined: the tasks are still ours */
	void *r;
	cr_assert_eq(corio_join(t[0], &r), 0);
	cr_assert_eq(corio_join(t[1], &r), 0);
	cr_assert_eq((intptr_t)r, 1);
	return NULL;
}

Test(group, gather_and_wait_any_time_out_leaving_tasks_joinable, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(gather_timeout_main, NULL, NULL);
}

struct gatherer_arg {
	corio_task *t[2];
	int gather_ret;
	int any_ret;
};

static void *gatherer(void *p)
{
	struct gatherer_arg *a = p;
	a->gather_ret = corio_gather(a->t, 2, NULL);
	a->any_ret = corio_wait_any(a->t, 2);
	return NULL;
}

static void *gather_caller_cancel_main(void *p)
{
	/* gated: neither child can finish before the gatherer is cancelled
	 * and joined, however late the loop gets to them */
	struct gated k[2] = {{.idx = 0}, {.idx = 1}};
	struct gatherer_arg a = {.t = {spawn(gated, &k[0]), spawn(gated, &k[1])}};
	corio_task *g = spawn(gatherer, &a);
	corio_sleep(2 * MS);
	corio_cancel(g);
	cr_assert_eq(corio_join(g, NULL), -ECANCELED);
	cr_assert_eq(a.gather_ret, -ECANCELED);
	cr_assert_eq(a.any_ret, -ECANCELED);
	cr_assert_not(k[0].finished || k[1].finished, "a cancelled gather touched a task");
	corio_event_set(&k[0].go);
	corio_event_set(&k[1].go);
	/* the tasks are untouched and can be gathered again */
	void *res[2];
	cr_assert_eq(corio_gather(a.t, 2, res), 0);
	cr_assert_eq((intptr_t)res[0], 0);
	cr_assert_eq((intptr_t)res[1], 1);
	cr_assert_eq(k[0].ret, 0);
	cr_assert_eq(k[1].ret, 0);
	return NULL;
}

Test(group, gather_and_wait_any_respect_caller_cancellation, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(gather_caller_cancel_main, NULL, NULL);
}

static void *gather_invalid_main(void *p)
{
	struct kid k = {.sleep_ns = 1 * MS};
	corio_task *t = spawn(kid, &k);
	corio_task *dup[2] = {t, t};
	corio_task *self[1] = {corio_self()};
	cr_assert_eq(corio_gather(dup, 2, NULL), -EINVAL);
	cr_assert_eq(corio_wait_any(dup, 2), -EINVAL);
	cr_assert_eq(corio_gather(self, 1, NULL), -EINVAL);
	cr_assert_eq(corio_wait_any(NULL, 1), -EINVAL);
	cr_assert_eq(corio_wait_any(dup, 0), -EINVAL);
	corio_group *g = group();
	corio_task *member = gspawn(g, kid, &k);
	cr_assert_eq(corio_gather(&member, 1, NULL), -EINVAL, "gathered a group's child");
	corio_group_free(g);
	cr_assert_eq(corio_join(t, NULL), 0, "a refused gather left the task marked");
	return NULL;
}

Test(group, gather_and_wait_any_reject_bad_task_lists, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(gather_invalid_main, NULL, NULL);
}

/* ---- wait_any ------------------------------------------------------- */

static void *release_later(void *p)
{
	corio_sleep(5 * MS);
	corio_event_set(p);
	return NULL;
}

static void *wait_any_main(void *p)
{
	struct gated k[3] = {{.idx = 0}, {.idx = 1}, {.idx = 2}};
	corio_task *t[3];
	for (int i = 0; i < 3; i++)
		t[i] = spawn(gated, &k[i]);
	corio_task *rel = spawn(release_later, &k[1].go);
	cr_assert_eq(corio_wait_any(t, 3), 1);
	cr_assert_not(k[0].finished || k[2].finished);
	corio_event_set(&k[2].go);
	corio_yield();
	cr_assert_eq(corio_wait_any(t, 3), 1, "already finished: lowest index");
	cr_assert_eq(corio_wait_any((corio_task *[]){t[0], t[2]}, 2), 1);
	corio_event_set(&k[0].go);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(corio_join(t[i], NULL), 0);
	cr_assert_eq(corio_join(rel, NULL), 0);
	return NULL;
}

Test(group, wait_any_returns_the_first_to_finish, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(wait_any_main, NULL, NULL);
}

static void *quick(void *p)
{
	return p;
}

/* Both finish in the same turn: a spawned first, so a finishes first,
 * though it is listed second. */
static void *wait_any_same_turn_main(void *p)
{
	corio_task *a = spawn(quick, NULL), *b = spawn(quick, NULL);
	cr_assert_eq(corio_wait_any((corio_task *[]){b, a}, 2), 1, "not the first to finish");
	corio_join(a, NULL);
	corio_join(b, NULL);
	return NULL;
}

Test(group, wait_any_orders_finishes_within_one_turn, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(wait_any_same_turn_main, NULL, NULL);
}
