/* SPDX-License-Identifier: MIT */
/*
 * tests/local.c - task-local values: a task's own, inherited at spawn and
 * then independent on both sides, destructors run once when the last
 * holder lets go, and spawns without locals paying nothing.
 */
#include "util.h"
#include "corio_int.h" /* white box: a spawn without locals allocates none */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static corio_local_key key_id, key_owned;
static int freed;

static void count_free(void *p)
{
	freed++;
	free(p);
}

static void make_keys(void)
{
	if (!key_id) {
		cr_assert_eq(corio_local_key_new(&key_id, NULL), 0);
		cr_assert_eq(corio_local_key_new(&key_owned, count_free), 0);
	}
	freed = 0;
}

static void *read_id(void *arg)
{
	(void)arg;
	return corio_local_get(key_id);
}

static void *child_sets_its_own(void *arg)
{
	(void)arg;
	void *seen = corio_local_get(key_id);
	cr_assert_eq(corio_local_set(key_id, (void *)(uintptr_t)99), 0);
	cr_assert_eq((uintptr_t)corio_local_get(key_id), 99);
	corio_task *g;
	cr_assert_eq(corio_spawn(&g, read_id, NULL), 0);
	void *r;
	cr_assert_eq(corio_join(g, &r), 0);
	cr_assert_eq((uintptr_t)r, 99, "a grandchild starts with its parent's value");
	return seen;
}

static void *inherit_main(void *arg)
{
	(void)arg;
	cr_assert_null(corio_local_get(key_id), "no value yet");
	cr_assert_eq(corio_local_set(key_id, (void *)(uintptr_t)7), 0);
	corio_task *a, *b;
	cr_assert_eq(corio_spawn(&a, child_sets_its_own, NULL), 0);
	cr_assert_eq(corio_spawn(&b, read_id, NULL), 0);
	/* set after spawning: the children keep what they got */
	cr_assert_eq(corio_local_set(key_id, (void *)(uintptr_t)8), 0);
	void *ra, *rb;
	cr_assert_eq(corio_join(a, &ra), 0);
	cr_assert_eq(corio_join(b, &rb), 0);
	cr_assert_eq((uintptr_t)ra, 7, "the child saw its parent's value at spawn");
	cr_assert_eq((uintptr_t)rb, 7, "a later set by the parent is not the child's");
	cr_assert_eq((uintptr_t)corio_local_get(key_id), 8, "the child's set is not the parent's");
	cr_assert_eq(corio_local_set(key_id, NULL), 0);
	cr_assert_null(corio_local_get(key_id));
	return NULL;
}

Test(local, inherited_at_spawn_then_independent_on_both_sides)
{
	make_keys();
	t_run(inherit_main, NULL, NULL);
}

static void *hold(void *arg)
{
	corio_event *go = arg;
	cr_assert_not_null(corio_local_get(key_owned));
	cr_assert_eq(corio_event_wait(go), 0);
	cr_assert_eq(freed, 0, "freed while a task still holds it");
	return NULL;
}

static void *dtor_main(void *arg)
{
	(void)arg;
	cr_assert_eq(corio_local_set(key_owned, malloc(32)), 0);
	corio_event go;
	corio_event_init(&go);
	corio_task *t[3];
	for (int i = 0; i < 3; i++)
		cr_assert_eq(corio_spawn(&t[i], hold, &go), 0);
	corio_yield();
	/* the parent lets go first: the children still hold the value */
	cr_assert_eq(corio_local_set(key_owned, NULL), 0);
	cr_assert_eq(freed, 0);
	corio_event_set(&go);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(corio_join(t[i], NULL), 0);
	cr_assert_eq(freed, 1, "the destructor runs once, after the last holder");
	/* a value a task still holds when it ends is let go then */
	cr_assert_eq(corio_local_set(key_owned, malloc(16)), 0);
	return NULL;
}

Test(local, destructor_runs_once_when_the_last_holder_lets_go)
{
	make_keys();
	t_run(dtor_main, NULL, NULL);
	cr_assert_eq(freed, 2, "the value main held at its end was destroyed");
}

static void *plain_child(void *arg)
{
	(void)arg;
	cr_assert_null(corio_self()->locals, "a spawn without locals allocated some");
	return NULL;
}

static void *misuse_main(void *arg)
{
	(void)arg;
	cr_assert_eq(corio_local_set(0, (void *)1), -EINVAL);
	cr_assert_eq(corio_local_set(100000, (void *)1), -EINVAL);
	cr_assert_null(corio_local_get(0));
	cr_assert_null(corio_local_get(100000));
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, plain_child, NULL), 0);
	cr_assert_eq(corio_join(t, NULL), 0);
	return NULL;
}

Test(local, bad_keys_and_no_task_are_refused_and_spawns_without_locals_pay_nothing)
{
	make_keys();
	cr_assert_eq(corio_local_set(key_id, (void *)1), -EPERM);
	cr_assert_null(corio_local_get(key_id));
	cr_assert_eq(corio_local_key_new(NULL, NULL), -EINVAL);
	t_run(misuse_main, NULL, NULL);
}

static void *leaf(void *arg)
{
	(void)arg;
	cr_assert_not_null(corio_local_get(key_owned));
	return NULL;
}

static void *many_main(void *arg)
{
	(void)arg;
	cr_assert_eq(corio_local_set(key_owned, malloc(8)), 0);
	enum { N = 10000 };
	static corio_task *t[N];
	for (int i = 0; i < N; i++)
		cr_assert_eq(corio_spawn(&t[i], leaf, NULL), 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(corio_join(t[i], NULL), 0);
	cr_assert_eq(freed, 0);
	return NULL;
}

Test(local, ten_thousand_children_share_one_value)
{
	make_keys();
	t_run(many_main, NULL, NULL);
	cr_assert_eq(freed, 1);
}

static void *same_again(void *arg)
{
	(void)arg;
	void *p = malloc(16);
	cr_assert_eq(corio_local_set(key_owned, p), 0);
	cr_assert_eq(corio_local_set(key_owned, p), 0); /* the value it holds */
	cr_assert_eq(freed, 0, "set to the value held destroyed it");
	return NULL;
}

static void *child_resets_inherited(void *arg)
{
	(void)arg;
	cr_assert_eq(corio_local_set(key_owned, corio_local_get(key_owned)), 0);
	return NULL;
}

static void *reset_main(void *arg)
{
	(void)arg;
	cr_assert_eq(corio_local_set(key_owned, malloc(16)), 0);
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, child_resets_inherited, NULL), 0);
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert_eq(freed, 0, "the child's end destroyed the parent's value");
	return NULL;
}

Test(local, setting_the_value_already_held_keeps_it)
{
	make_keys();
	t_run(same_again, NULL, NULL);
	cr_assert_eq(freed, 1, "destroyed %d times", freed);
	freed = 0;
	t_run(reset_main, NULL, NULL);
	cr_assert_eq(freed, 1, "destroyed %d times", freed);
}
