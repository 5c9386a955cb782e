/* SPDX-License-Identifier: MIT */
/*
 * threads.c - many cores (DESIGN.md section 12): corio_run_threads() runs
 * one loop per thread, each with main(arg) as its first task, and turns
 * SIGINT/SIGTERM into a cancellation of every main task.  The loops see
 * each other (corio_loop_at()) only through thread-safe calls.
 *
 * Lifetime: every loop is made before any main starts (a barrier), and
 * freed by its own thread only after every loop has ended and the
 * signal watcher has stopped (a second barrier, which the calling thread
 * joins), so a thread-safe call to a loop of the group never meets a
 * freed loop while the group runs.
 */
#include "corio_int.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* How long a loop that just sent to another polls for the answer before
 * it sleeps (corio_threads_options.spin_ns). */
#define DEFAULT_SPIN_NS (20ull * 1000)

struct member {
	struct group *g;
	unsigned index;
	pthread_t thread;
	corio_loop *loop;   /* made by its own thread */
	corio_task *main;   /* its main task; touched on its loop's thread only */
	void *result;
	int err;            /* loop creation or run error */
};

struct group {
	unsigned n;
	corio_fn fn;
	void *arg;
	corio_threads_options o;
	int cpus[CPU_SETSIZE]; /* allowed CPUs, in order */
	unsigned ncpus;
	pthread_mutex_t gate_lock;
	pthread_cond_t gate;     /* opens once every thread was created */
	bool open;               /* (gate_lock) */
	pthread_barrier_t made;  /* n + 1: every loop exists (or failed) */
	pthread_barrier_t freed; /* n + 1: all ended, watcher stopped */
	atomic_uint ended;
	atomic_int failed;       /* a loop could not be made */
	atomic_int stopping;     /* stop-all was asked (signal or failure) */
	int done_fd;             /* eventfd: the last loop ended */
	struct member m[];
};

static __thread struct member *tls_member;

unsigned corio_loop_index(void)
{
	return tls_member ? tls_member->index : 0;
}

unsigned corio_loop_count(void)
{
	return tls_member ? tls_member->g->n : 1;
}

corio_loop *corio_loop_at(unsigned i)
{
	if (!tls_member)
		return i == 0 ? corio__tls_loop : NULL;
	return i < tls_member->g->n ? tls_member->g->m[i].loop : NULL;
}

/* ---- sleeping, and waiting for an answer without sleeping --------------- */

/*
 * A sender wakes a loop through the kernel (MSG_RING or eventfd) only if
 * the loop sleeps there (l->sleeping); an awake loop finds the records at
 * its next turn.  No wake-up is lost: a sender raises ts_pending, then
 * reads sleeping; a loop about to sleep raises sleeping, then reads
 * ts_pending (all sequentially consistent), so one of them sees the
 * other.  wake_armed (one wake-up per batch) is raised only by a sender
 * that does send one, so it still means "a wake-up is on its way".
 *
 * A loop that has just sent to another loop and has nothing left to do
 * would sleep, and the answer would cost a kernel wake-up and a trip
 * through the scheduler at each end.  Instead it polls ts_pending in
 * memory for a moment (spin_ns) first, awake, so the answer needs no
 * wake-up either.  Only a loop that sent since it last slept spins, so a
 * server whose loops do not talk never does; a group on one allowed CPU
 * never spins.
 */
bool corio__loop_sleep_begin(corio_loop *l)
{
	if (!l->running)
		return true; /* waiting for its own ops (teardown): the queue
			      * and a stop are for the next corio_loop_run() */
	atomic_store(&l->sleeping, 1);
	/* both loads seq_cst: with the store above they pair with the
	 * sender's store-then-load of ts_pending or stop and sleeping (a
	 * relaxed load of stop could be read before the store is seen, on
	 * arm64, and a stop from another thread be lost) */
	if (atomic_load(&l->ts_pending) || atomic_load(&l->stop)) {
		atomic_store_explicit(&l->sleeping, 0, memory_order_relaxed);
		return false;
	}
	return true;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

static uint64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Spinning pays only when the other loop's thread is on a CPU of its own
 * and answers within spin_ns; on a machine busier than it has CPUs the
 * spinner only takes time from the thread it waits for.  So spins are
 * judged in windows of SPIN_WINDOW: a window with fewer than half hits
 * stops spinning for a number of sleeps that doubles (up to SPIN_SKIP_MAX)
 * while windows keep missing, and resets once one pays. */
#define SPIN_WINDOW 32
#define SPIN_SKIP_MIN 256
#define SPIN_SKIP_MAX 65536

static void spin_judge(corio_loop *l, bool hit)
{
	l->spin_good += hit;
	if (++l->spin_tries < SPIN_WINDOW)
		return;
	if (2 * l->spin_good < l->spin_tries) {
		l->spin_skip = l->spin_backoff ? l->spin_backoff : SPIN_SKIP_MIN;
		l->spin_backoff = l->spin_skip < SPIN_SKIP_MAX ? 2 * l->spin_skip : SPIN_SKIP_MAX;
	} else {
		l->spin_backoff = 0;
	}
	l->spin_tries = l->spin_good = 0;
}

bool corio__loop_spin_due(corio_loop *l)
{
	if (!l->spin_ns || l->spin_mark == l->st.msgs_sent)
		return false;
	l->spin_mark = l->st.msgs_sent;
	if (l->spin_skip) {
		l->spin_skip--;
		return false;
	}
	return true;
}

bool corio__loop_spin(corio_loop *l, bool (*ready)(corio_loop *l))
{
	l->st.spins++;
	bool work = false;
	uint64_t end = clock_ns() + l->spin_ns;
	do {
		for (int i = 0; i < 32; i++) {
			if (atomic_load_explicit(&l->ts_pending, memory_order_relaxed))
				goto out;
			cpu_relax();
		}
		if (ready && ready(l)) {
			work = true;
			break;
		}
	} while (clock_ns() < end);
out:;
	bool hit = atomic_load(&l->ts_pending);
	spin_judge(l, hit);
	l->st.spin_hits += hit;
	return hit || work;
}

/* ---- stopping every loop --------------------------------------------- */

/* On member @p's loop thread: cancel its main task, if still running. */
static void cancel_main(void *p)
{
	struct member *m = p;
	if (m->g->o.on_stop)
		m->g->o.on_stop(m->g->o.on_stop_arg);
	else if (m->main)
		corio_cancel(m->main);
}

static void stop_all(struct group *g, const struct member *except)
{
	atomic_store(&g->stopping, 1);
	for (unsigned i = 0; i < g->n; i++)
		if (&g->m[i] != except && g->m[i].loop)
			corio_call_threadsafe(g->m[i].loop, cancel_main, &g->m[i]);
}

void corio_run_threads_stop(void)
{
	if (tls_member)
		stop_all(tls_member->g, NULL);
}

/* ---- a loop thread ---------------------------------------------------- */

static void pin(struct member *m)
{
	struct group *g = m->g;
	if (!g->o.pin || !g->ncpus)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(g->cpus[m->index % g->ncpus], &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *main_task(void *p)
{
	struct member *m = p;
	void *res = m->g->fn(m->g->arg);
	if (corio_is_err(res) && m->g->o.stop_all_on_failure)
		stop_all(m->g, m);
	/* as corio_run(): what main left behind is cancelled once it ends */
	corio_task *self = corio_self();
	struct corio__node *n, *tmp;
	corio__list_for_each_safe(n, tmp, &self->loop->tasks) {
		corio_task *t = corio__container_of(n, corio_task, all);
		if (t != self)
			corio_cancel(t);
	}
	return res;
}

static void run_member(struct member *m)
{
	corio_loop *l = m->loop;
	int err = corio_spawn_ex(l, &m->main, main_task, m,
				 &(corio_task_options){.name = "main"});
	if (!err)
		err = corio_loop_run(l);
	if (l->live_tasks) { /* stopped early: cancel the rest, let them end */
		corio_loop_cancel_all(l);
		corio_loop_run(l);
	}
	if (m->main) {
		void *res = NULL;
		int jerr = corio_join(m->main, &res);
		m->result = jerr ? CORIO_ERR_PTR(jerr) : res;
		m->main = NULL;
	}
	m->err = err;
}

static void member_ended(struct group *g)
{
	if (atomic_fetch_add(&g->ended, 1) + 1 == g->n) {
		uint64_t one = 1;
		ssize_t r;
		do
			r = write(g->done_fd, &one, sizeof(one));
		while (r < 0 && errno == EINTR);
	}
}

static void *thread_main(void *p)
{
	struct member *m = p;
	struct group *g = m->g;
	tls_member = m;
	pthread_mutex_lock(&g->gate_lock);
	while (!g->open)
		pthread_cond_wait(&g->gate, &g->gate_lock);
	pthread_mutex_unlock(&g->gate_lock);
	pin(m);
	int err = corio_loop_new(&m->loop, g->o.loop);
	if (err) {
		m->loop = NULL;
		m->err = err;
		atomic_store(&g->failed, 1);
	} else if (g->ncpus > 1 && g->n > 1 && g->o.spin_ns >= 0) {
		m->loop->spin_ns = g->o.spin_ns ? (uint64_t)g->o.spin_ns : DEFAULT_SPIN_NS;
	}
	pthread_barrier_wait(&g->made);
	if (!atomic_load(&g->failed))
		run_member(m);
	member_ended(g);
	pthread_barrier_wait(&g->freed);
	if (m->loop) {
		int ferr = corio_loop_free(m->loop);
		if (ferr && !m->err)
			m->err = ferr;
	}
	tls_member = NULL;
	return NULL;
}

/* ---- the calling thread: start, watch signals, collect ----------------- */

static void allowed_cpus(struct group *g)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			g->cpus[g->ncpus++] = c;
}

/* Until every loop ended: SIGINT/SIGTERM (blocked in every thread of the
 * group, read here through a signalfd) cancel every main task. */
static void watch(struct group *g, int sfd)
{
	struct pollfd pf[2] = {{.fd = g->done_fd, .events = POLLIN},
			       {.fd = sfd, .events = POLLIN}};
	while (atomic_load(&g->ended) < g->n) {
		int r = poll(pf, sfd >= 0 ? 2 : 1, -1);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && sfd >= 0 && (pf[1].revents & POLLIN)) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				;
			stop_all(g, NULL);
		}
	}
}

/* Create the threads behind a gate; if one cannot be created, the group
 * shrinks to those that were and is marked failed (none runs its main). */
static int start(struct group *g)
{
	int err = 0;
	unsigned i;
	for (i = 0; i < g->n; i++) {
		g->m[i].g = g;
		g->m[i].index = i;
		err = -pthread_create(&g->m[i].thread, NULL, thread_main, &g->m[i]);
		if (err)
			break;
	}
	if (err) {
		g->n = i;
		atomic_store(&g->failed, 1);
	}
	pthread_barrier_init(&g->made, NULL, g->n + 1);
	pthread_barrier_init(&g->freed, NULL, g->n + 1);
	pthread_mutex_lock(&g->gate_lock);
	g->open = true;
	pthread_cond_broadcast(&g->gate);
	pthread_mutex_unlock(&g->gate_lock);
	return err;
}

static struct group *group_new(unsigned n, corio_fn fn, void *arg,
			       const corio_threads_options *o)
{
	if (!n) {
		cpu_set_t set;
		CPU_ZERO(&set);
		n = sched_getaffinity(0, sizeof(set), &set) ? 1 : (unsigned)CPU_COUNT(&set);
	}
	struct group *g = calloc(1, sizeof(*g) + n * sizeof(g->m[0]));
	if (!g)
		return NULL;
	g->fn = fn;
	g->arg = arg;
	if (o)
		g->o = *o;
	allowed_cpus(g);
	g->n = n;
	pthread_mutex_init(&g->gate_lock, NULL);
	pthread_cond_init(&g->gate, NULL);
	g->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->done_fd < 0) {
		free(g);
		return NULL;
	}
	return g;
}

static int collect(struct group *g, void **results)
{
	int err = 0;
	for (unsigned i = 0; i < g->n; i++) {
		if (!err && g->m[i].err)
			err = g->m[i].err;
		if (results)
			results[i] = g->m[i].result;
	}
	return err;
}

int corio_run_threads_ex(unsigned n, corio_fn main, void *arg, void **results,
			 const corio_threads_options *o)
{
	if (!main || n > CPU_SETSIZE)
		return -EINVAL;
	if (tls_member)
		return -EBUSY; /* no nesting */
	struct group *g = group_new(n, main, arg, o);
	if (!g)
		return -ENOMEM;
	sigset_t sigs, saved;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	int sfd = -1;
	bool watch_signals = !(o && o->no_signals);
	if (watch_signals) {
		pthread_sigmask(SIG_BLOCK, &sigs, &saved); /* the threads inherit it */
		sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	}
	int serr = start(g);
	pthread_barrier_wait(&g->made); /* the loops are there to be stopped */
	watch(g, sfd);
	pthread_barrier_wait(&g->freed);
	for (unsigned i = 0; i < g->n; i++)
		pthread_join(g->m[i].thread, NULL);
	int err = serr ? serr : collect(g, results);
	if (watch_signals) {
		if (sfd >= 0) { /* a signal that came after the end: already handled */
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				;
			close(sfd);
		}
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
	}
	pthread_mutex_destroy(&g->gate_lock);
	pthread_cond_destroy(&g->gate);
	pthread_barrier_destroy(&g->made);
	pthread_barrier_destroy(&g->freed);
	close(g->done_fd);
	free(g);
	return err;
}

int corio_run_threads(unsigned n, corio_fn main, void *arg, void **results)
{
	return corio_run_threads_ex(n, main, arg, results, NULL);
}
