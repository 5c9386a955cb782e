/* SPDX-License-Identifier: MIT */
/*
 * tests/stack.c - task stacks: deep recursion within the size works, an
 * overflow dies by SIGSEGV with a message naming the task (guard page), or
 * by SIGABRT when guards are off and the canary is hit, and stack sizes
 * per spawn are honoured.
 */
#include "util.h"
#include "corio_int.h" /* the stack bounds, to hit the canary exactly */

#include <signal.h>
#include <string.h>

/* Each level puts ~1 KiB on the stack; the compiler can't elide it. */
static __attribute__((noinline)) unsigned recurse(unsigned depth)
{
	volatile char pad[1000];
	memset((char *)pad, (int)depth, sizeof(pad));
	if (depth == 0)
		return pad[10];
	return recurse(depth - 1) + pad[depth % sizeof(pad)];
}

static void *deep(void *arg)
{
	unsigned depth = (unsigned)(uintptr_t)arg;
	return (void *)(uintptr_t)(recurse(depth) + 1);
}

Test(stack, deep_recursion_within_the_stack_size_works)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	corio_task *t;
	/* 1 MiB stack, ~400 KiB of frames (ASan frames are larger) */
	corio_task_options o = {.stack_size = 1 << 20, .name = "deep"};
	cr_assert_eq(corio_spawn_ex(l, &t, deep, (void *)(uintptr_t)400, &o), 0);
	cr_assert_eq(corio_loop_run(l), 0);
	void *r;
	cr_assert_eq(corio_join(t, &r), 0);
	cr_assert_neq(r, NULL);
	cr_assert_eq(corio_loop_free(l), 0);
}

static void *overflow(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)recurse(100000); /* ~100 MB: far past any stack */
}

static void run_overflow(const corio_loop_options *lo)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, lo), 0);
	corio_task *t;
	corio_task_options o = {.stack_size = 64 * 1024, .name = "runaway"};
	cr_assert_eq(corio_spawn_ex(l, &t, overflow, NULL, &o), 0);
	corio_loop_run(l);
	cr_assert_fail("the overflow did not kill the process");
}

Test(stack, overflow_hits_the_guard_and_dies_by_sigsegv, .signal = SIGSEGV)
{
	run_overflow(NULL);
}

/* An overflow that stops at the stack limit: it writes over the lowest
 * words of the stack (where the canary lives) and then suspends. */
static void *smash_limit(void *arg)
{
	(void)arg;
	corio_task *self = corio_self();
	memset(self->stack.lo, 0x5a, 64);
	corio_yield();
	return NULL;
}

Test(stack, canary_catches_overflow_without_guard_pages, .signal = SIGABRT)
{
	corio_loop_options lo = {.no_guard_pages = 1};
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, &lo), 0);
	corio_task *t;
	corio_task_options o = {.name = "smasher"};
	cr_assert_eq(corio_spawn_ex(l, &t, smash_limit, NULL, &o), 0);
	corio_loop_run(l);
	cr_assert_fail("the canary was not checked");
}

static void *stack_probe(void *arg)
{
	(void)arg;
	volatile char buf[200 * 1024]; /* fits only in a larger stack */
	memset((char *)buf, 1, sizeof(buf));
	return (void *)(uintptr_t)buf[100];
}

Test(stack, per_spawn_stack_size_is_honoured)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	corio_task *t;
	corio_task_options o = {.stack_size = 2 << 20};
	cr_assert_eq(corio_spawn_ex(l, &t, stack_probe, NULL, &o), 0);
	cr_assert_eq(corio_loop_run(l), 0);
	void *r;
	cr_assert_eq(corio_join(t, &r), 0);
	cr_assert_eq((uintptr_t)r, 1);
	cr_assert_eq(corio_loop_free(l), 0);
}

static void *own_stack(void *arg)
{
	(void)arg;
	return corio_self()->stack.map;
}

/* A default below the minimum is raised at the loop as at each spawn, so
 * the stacks still go back to the pool and come out again. */
static void *tiny_default_main(void *arg)
{
	(void)arg;
	void *first = NULL;
	for (int i = 0; i < 3; i++) {
		corio_task *t;
		cr_assert_eq(corio_spawn(&t, own_stack, NULL), 0);
		void *map;
		cr_assert_eq(corio_join(t, &map), 0);
		if (!first)
			first = map;
		cr_assert_eq(map, first, "round %d got a new stack: not pooled", i);
	}
	return NULL;
}

Test(stack, a_tiny_default_stack_size_still_pools)
{
	corio_loop_options o = {.stack_size = 4096};
	t_run(tiny_default_main, NULL, &o);
}
