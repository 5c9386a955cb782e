/* SPDX-License-Identifier: MIT */
/*
 * tests/offload.c - the offload pool: many jobs complete, a queued job is
 * withdrawn by a cancel (or a deadline) without running, a running one is
 * waited for and its result kept, and the workers stop with the loop.
 */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

static unsigned pool_size(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 2 ? 2u : (unsigned)n;
}

static int threads_now(void)
{
	DIR *d = opendir("/proc/self/task");
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* ---- many jobs ------------------------------------------------------ */

#define JOBS 10000

static void *square(void *arg)
{
	uintptr_t x = (uintptr_t)arg;
	for (unsigned i = 0; i < 200; i++)
		__asm__ volatile("" ::: "memory"); /* a little work */
	return (void *)(x * x);
}

static void *one_job(void *arg)
{
	void *r = NULL;
	int err = corio_offload(square, arg, &r);
	return err ? CORIO_ERR_PTR(err) : r;
}

static void *many_main(void *arg)
{
	(void)arg;
	corio_task **t = malloc(JOBS * sizeof(*t));
	/* one assert per check, not per job: --full-stats reports each */
	size_t spawned = 0, right = 0;
	for (uintptr_t i = 0; i < JOBS; i++)
		spawned += corio_spawn(&t[i], one_job, (void *)i) == 0;
	cr_assert_eq(spawned, JOBS);
	for (uintptr_t i = 0; i < JOBS; i++) {
		void *r = NULL;
		right += corio_join(t[i], &r) == 0 && (uintptr_t)r == i * i;
	}
	cr_assert_eq(right, JOBS, "every job completed with its own result");
	free(t);
	return NULL;
}

Test(offload, ten_thousand_jobs_all_complete, .timeout = 120)
{
	/* stacks: 10 000 guarded ones would need 20 000 mappings, fine */
	t_run(many_main, NULL, NULL);
}

/* ---- cancellation --------------------------------------------------- */

struct gate {
	sem_t open;        /* posted by the test to let blockers finish */
	atomic_int started;
	atomic_int ran;    /* the victim's job ran */
};

static void *blocker(void *arg)
{
	struct gate *g = arg;
	atomic_fetch_add(&g->started, 1);
	while (sem_wait(&g->open) && errno == EINTR)
		;
	return (void *)42;
}

static void *marker(void *arg)
{
	struct gate *g = arg;
	atomic_store(&g->ran, 1);
	return (void *)7;
}

struct call {
	corio_fn fn;
	void *arg;
	void *result;
	int err;      /* corio_offload's return */
	int next_err; /* the call after it */
};

static void *offload_task(void *arg)
{
	struct call *c = arg;
	c->err = corio_offload(c->fn, c->arg, &c->result);
	/* a cancel that came while the job ran is seen here */
	c->next_err = corio_nop();
	return c->result;
}

#define MAX_POOL 512

static void occupy_workers(struct gate *g, corio_task **t, struct call *calls)
{
	unsigned n = pool_size();
	cr_assert_leq(n, MAX_POOL);
	for (unsigned i = 0; i < n; i++) {
		calls[i] = (struct call){.fn = blocker, .arg = g};
		cr_assert_eq(corio_spawn(&t[i], offload_task, &calls[i]), 0);
	}
	while ((unsigned)atomic_load(&g->started) < n)
		corio_sleep(MS);
}

static void release_workers(struct gate *g, corio_task **t)
{
	unsigned n = pool_size();
	for (unsigned i = 0; i < n; i++)
		sem_post(&g->open);
	for (unsigned i = 0; i < n; i++) {
		void *r;
		cr_assert_eq(corio_join(t[i], &r), 0);
		cr_assert_eq((uintptr_t)r, 42);
	}
}

struct queued {
	int want;    /* -ECANCELED or -ETIMEDOUT */
	bool queued; /* every worker is busy and the job goes in now */
};

static void *queued_main(void *arg)
{
	struct queued *q = arg;
	int want = q->want;
	struct gate g = {0};
	sem_init(&g.open, 0, 0);
	corio_task *t[MAX_POOL];
	struct call calls[MAX_POOL];
	occupy_workers(&g, t, calls);
	/* every worker is busy: this job waits in the queue */
	corio_scope scope;
	if (want == -ETIMEDOUT)
		corio_timeout_push(&scope, corio_now() + 10 * MS);
	uint64_t t0 = t_clock();
	void *r = NULL;
	q->queued = true; /* seen by others only once we are suspended below */
	int err = corio_offload(marker, &g, &r);
	if (want == -ETIMEDOUT)
		corio_timeout_pop(&scope);
	cr_assert_eq(err, want, "%s", corio_strerror(err));
	cr_assert_lt(t_clock() - t0, 1000 * MS, "returned without waiting for the workers");
	cr_assert_null(r, "result untouched");
	corio_scope shield; /* we may be cancelled: still clean up */
	corio_shield_push(&shield);
	release_workers(&g, t);
	corio_shield_pop(&shield);
	cr_assert_eq(atomic_load(&g.ran), 0, "the withdrawn job never ran");
	sem_destroy(&g.open);
	return NULL;
}

struct canceller {
	corio_task *victim;
	const struct queued *q;
};

/* Cancel the victim once its job really waits in the queue: a cancel that
 * came while the pool was still starting would find no job to withdraw. */
static void *cancel_when_queued(void *arg)
{
	struct canceller *c = arg;
	uint64_t until = t_clock() + 5000 * MS;
	while (!c->q->queued && t_clock() < until)
		corio_sleep(1 * MS);
	cr_assert(c->q->queued, "the workers never all got busy");
	corio_sleep(10 * MS);
	corio_cancel(c->victim);
	return NULL;
}

static void *queued_cancel_task(void *arg)
{
	return queued_main(arg);
}

static void *queued_cancel_main(void *arg)
{
	(void)arg;
	struct queued q = {.want = -ECANCELED};
	corio_task *t, *c;
	corio_scope shield;
	cr_assert_eq(corio_spawn(&t, queued_cancel_task, &q), 0);
	struct canceller cc = {.victim = t, .q = &q};
	cr_assert_eq(corio_spawn(&c, cancel_when_queued, &cc), 0);
	cr_assert_eq(corio_join(c, NULL), 0);
	corio_shield_push(&shield);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	corio_shield_pop(&shield);
	return NULL;
}

Test(offload, queued_job_cancelled_returns_ecanceled_and_never_runs)
{
	t_run(queued_cancel_main, NULL, NULL);
}

Test(offload, queued_job_past_its_deadline_returns_etimedout)
{
	struct queued q = {.want = -ETIMEDOUT};
	t_run(queued_main, &q, NULL);
}

/* Past the shared queue's bound, jobs wait on the loop's side: a cancel
 * withdraws those too. */
#define BACKLOG 3000

static void *backlog_main(void *arg)
{
	(void)arg;
	struct gate g = {0};
	sem_init(&g.open, 0, 0);
	corio_task *t[MAX_POOL], **waiting = malloc(BACKLOG * sizeof(*waiting));
	struct call calls[MAX_POOL], *backlog = calloc(BACKLOG, sizeof(*backlog));
	occupy_workers(&g, t, calls);
	size_t spawned = 0, withdrawn = 0;
	for (size_t i = 0; i < BACKLOG; i++) {
		backlog[i] = (struct call){.fn = marker, .arg = &g, .err = 1};
		spawned += corio_spawn(&waiting[i], offload_task, &backlog[i]) == 0;
	}
	cr_assert_eq(spawned, BACKLOG);
	corio_sleep(10 * MS); /* all of them submitted and waiting */
	for (size_t i = BACKLOG; i-- > 0;) /* newest first: from the overflow */
		corio_cancel(waiting[i]);
	for (size_t i = 0; i < BACKLOG; i++) {
		corio_join(waiting[i], NULL);
		withdrawn += backlog[i].err == -ECANCELED;
	}
	cr_assert_eq(withdrawn, BACKLOG, "every waiting job withdrawn");
	release_workers(&g, t);
	cr_assert_eq(atomic_load(&g.ran), 0, "none of them ran");
	/* the pool still works */
	void *r;
	cr_assert_eq(corio_offload(square, (void *)5, &r), 0);
	cr_assert_eq((uintptr_t)r, 25);
	free(waiting);
	free(backlog);
	sem_destroy(&g.open);
	return NULL;
}

Test(offload, queued_and_overflowed_jobs_are_all_withdrawn)
{
	t_run(backlog_main, NULL, NULL);
}

static void *running_main(void *arg)
{
	(void)arg;
	struct gate g = {0};
	sem_init(&g.open, 0, 0);
	struct call c = {.fn = blocker, .arg = &g};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, offload_task, &c), 0);
	while (!atomic_load(&g.started))
		corio_sleep(MS);
	corio_cancel(t);
	corio_sleep(20 * MS);
	cr_assert_not(corio_task_done(t), "a running job is waited for");
	sem_post(&g.open);
	/* the task finished its work; it counts as cancelled */
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(c.err, 0, "the job's own call succeeded");
	cr_assert_eq((uintptr_t)c.result, 42, "with the job's result");
	cr_assert_eq(c.next_err, -ECANCELED, "cancel delivered at the next call");
	sem_destroy(&g.open);
	return NULL;
}

Test(offload, running_job_cancelled_is_waited_for_and_its_result_kept)
{
	t_run(running_main, NULL, NULL);
}

/* ---- lifetime ------------------------------------------------------- */

static void *one_main(void *arg)
{
	(void)arg;
	void *r;
	cr_assert_eq(corio_offload(square, (void *)3, &r), 0);
	cr_assert_eq((uintptr_t)r, 9);
	cr_assert_eq(threads_now() >= (int)pool_size(), 1);
	return NULL;
}

Test(offload, workers_start_on_first_use_and_stop_with_the_loop)
{
	int before = threads_now();
	t_run(one_main, NULL, NULL);
	/* a joined thread may linger in /proc/self/task for a moment after
	 * pthread_join() returned: give it time to go */
	uint64_t until = t_clock() + 5000 * MS;
	while (threads_now() != before && t_clock() < until)
		usleep(1000);
	cr_assert_eq(threads_now(), before, "every worker joined by corio_loop_free");
	void *r;
	cr_assert_eq(corio_offload(square, (void *)3, &r), -EPERM);
	cr_assert_eq(corio_offload(NULL, NULL, &r), -EINVAL);
}
