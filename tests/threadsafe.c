/* SPDX-License-Identifier: MIT */
/*
 * tests/threadsafe.c - corio_call_threadsafe() from several threads at
 * once (each call delivered exactly once, the sleeping loop woken) and
 * corio_loop_stop() from another thread.
 */
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>

enum { THREADS = 4, CALLS = 10000 };

struct shared {
	corio_loop *loop;
	unsigned char *seen; /* one slot per call */
	int delivered;
	int dupes;
	atomic_int started;
};

struct call {
	struct shared *s;
	int slot;
};

static struct call calls[THREADS * CALLS];

static void on_call(void *arg)
{
	struct call *c = arg;
	if (c->s->seen[c->slot]++)
		c->s->dupes++;
	c->s->delivered++;
}

static void *producer(void *arg)
{
	struct call *base = arg;
	for (int i = 0; i < CALLS; i++)
		cr_assert_eq(corio_call_threadsafe(base[i].s->loop, on_call, &base[i]), 0);
	return NULL;
}

static void *waiter(void *arg)
{
	struct shared *s = arg;
	/* keep the loop alive (and mostly asleep) until everything arrived */
	while (s->delivered < THREADS * CALLS)
		cr_assert_eq(corio_sleep(1 * MS), 0);
	return NULL;
}

Test(threadsafe, four_threads_ten_thousand_calls_each_exactly_once)
{
	struct shared s = {0};
	s.seen = calloc(THREADS * CALLS, 1);
	cr_assert_eq(corio_loop_new(&s.loop, NULL), 0);
	for (int i = 0; i < THREADS * CALLS; i++)
		calls[i] = (struct call){.s = &s, .slot = i};
	corio_task *w;
	cr_assert_eq(corio_spawn_ex(s.loop, &w, waiter, &s, NULL), 0);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, producer, &calls[i * CALLS]), 0);
	cr_assert_eq(corio_loop_run(s.loop), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(corio_join(w, NULL), 0);
	cr_assert_eq(s.delivered, THREADS * CALLS);
	cr_assert_eq(s.dupes, 0);
	for (int i = 0; i < THREADS * CALLS; i++)
		cr_assert_eq(s.seen[i], 1, "call %d delivered %d times", i, s.seen[i]);
	cr_assert_eq(corio_loop_free(s.loop), 0);
	free(s.seen);
}

static int woke;


static void *blocked_reader(void *arg)
{
	/* blocks the loop in the kernel with no timer to wake it */
	int *p = arg;
	char c;
	while (!woke)
		cr_assert_eq(corio_read(p[0], &c, 1), 1);
	return NULL;
}

static void poke(void *arg)
{
	int *p = arg;
	woke = 1;
	cr_assert_eq(write(p[1], "x", 1), 1);
}

static void *poker(void *arg)
{
	void **a = arg;
	usleep(20000);
	corio_call_threadsafe(a[0], poke, a[1]);
	return NULL;
}

Test(threadsafe, wakes_a_loop_sleeping_in_the_kernel)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	int p[2];
	t_pipe(p);
	woke = 0;
	corio_task *t;
	cr_assert_eq(corio_spawn_ex(l, &t, blocked_reader, p, NULL), 0);
	void *args[2] = {l, p};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, poker, args), 0);
	cr_assert_eq(corio_loop_run(l), 0);
	pthread_join(th, NULL);
	cr_assert_eq(woke, 1);
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert_eq(corio_loop_free(l), 0);
	close(p[0]);
	close(p[1]);
}

static void *stopper(void *arg)
{
	usleep(20000);
	corio_loop_stop(arg);
	return NULL;
}

static void *forever(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)corio_sleep(3600ull * 1000 * MS);
}

Test(threadsafe, loop_stop_from_another_thread)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	corio_task *t;
	cr_assert_eq(corio_spawn_ex(l, &t, forever, NULL, NULL), 0);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, stopper, l), 0);
	uint64_t t0 = t_clock();
	cr_assert_eq(corio_loop_run(l), 0);
	cr_assert_lt(t_clock() - t0, 2000 * MS);
	pthread_join(th, NULL);
	cr_assert_eq(corio_loop_free(l), -EBUSY, "a live task must block free");
	corio_loop_cancel_all(l);
	cr_assert_eq(corio_loop_run(l), 0);
	void *r;
	cr_assert_eq(corio_join(t, &r), -ECANCELED);
	cr_assert_eq(corio_loop_free(l), 0);
}
