/* SPDX-License-Identifier: MIT */
/*
 * bench/sync.c - corio's channel and mutex beside their thread peers, in
 * the same run:
 *
 *  - channel ping-pong: two tasks bounce a message through two rendezvous
 *    channels; peer: two threads bounce 8 bytes through two pipes.
 *  - contended mutex: two tasks take turns on a corio_mutex, each holding
 *    it across a yield so that every acquisition is a hand-off to a blocked
 *    waiter; peer: two threads hammer one pthread mutex.
 *
 * corio runs on CPU 0 (one loop, one thread), once on each backend; the
 * peer threads are pinned one to CPU 0 and one to CPU 1.  Each round runs
 * the three contenders in an order that rotates; each figure is the median
 * over the rounds.  Prints one machine-readable line per figure (bench.h),
 * then a Markdown table.  Usage: bench-sync [--quick|--full] [--rounds N]
 */
#include <corio.h>

#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 15

struct config {
	bool quick;
	int runs;
	uint64_t chan_msgs, pipe_msgs;   /* round trips per run */
	uint64_t mutex_ops, pthread_ops; /* acquisitions per task/thread */
	int peer_cpu_b;                  /* CPU of the second peer thread */
};

static uint64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int pin_self(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* ---- corio: channel ping-pong --------------------------------------- */

struct pingpong {
	corio_chan *ping, *pong;
	uint64_t round_trips;
	uint64_t ns;
};

static void *ponger(void *p)
{
	struct pingpong *pp = p;
	uint64_t v;
	while (corio_chan_recv(pp->ping, &v) == 0)
		if (corio_chan_send(pp->pong, &v))
			break;
	return NULL;
}

static void *pinger(void *p)
{
	struct pingpong *pp = p;
	corio_task *t;
	if (corio_spawn(&t, ponger, pp))
		return CORIO_ERR_PTR(-ENOMEM);
	uint64_t v = 0, t0 = clock_ns();
	for (uint64_t i = 0; i < pp->round_trips; i++) {
		if (corio_chan_send(pp->ping, &i) || corio_chan_recv(pp->pong, &v) || v != i)
			return CORIO_ERR_PTR(-EPROTO);
	}
	pp->ns = clock_ns() - t0;
	corio_chan_close(pp->ping);
	corio_join(t, NULL);
	return NULL;
}

/* messages per second (each round trip is two messages), on backend @b */
static double corio_pingpong(const struct config *cf, int b)
{
	uint64_t round_trips = cf->chan_msgs;
	struct pingpong pp = {.round_trips = round_trips};
	int err = corio_chan_new(&pp.ping, sizeof(uint64_t), 0);
	if (!err)
		err = corio_chan_new(&pp.pong, sizeof(uint64_t), 0);
	void *res = NULL;
	if (!err)
		err = bench_run_on(b, NULL, pinger, &pp, &res);
	if (!err)
		err = corio_ptr_err(res);
	if (err)
		bench_die("corio ping-pong", err);
	corio_chan_free(pp.ping);
	corio_chan_free(pp.pong);
	return 2.0 * (double)round_trips * 1e9 / (double)pp.ns;
}

/* ---- peer: pipe ping-pong between two threads ----------------------- */

struct pipes {
	int ping[2], pong[2];
	int cpu;
};

static void xfer(int rfd, int wfd, uint64_t *v)
{
	if (rfd >= 0 && read(rfd, v, sizeof(*v)) != (ssize_t)sizeof(*v))
		bench_die("pipe read", errno);
	if (wfd >= 0 && write(wfd, v, sizeof(*v)) != (ssize_t)sizeof(*v))
		bench_die("pipe write", errno);
}

static void *pipe_ponger(void *p)
{
	struct pipes *ps = p;
	uint64_t v = 0;
	pin_self(ps->cpu);
	while (v != UINT64_MAX)
		xfer(ps->ping[0], ps->pong[1], &v);
	return NULL;
}

static double pipe_pingpong(const struct config *cf)
{
	uint64_t round_trips = cf->pipe_msgs;
	struct pipes ps = {.cpu = cf->peer_cpu_b};
	if (pipe(ps.ping) || pipe(ps.pong))
		bench_die("pipe", errno);
	pthread_t th;
	if (pthread_create(&th, NULL, pipe_ponger, &ps))
		bench_die("pthread_create", EAGAIN);
	uint64_t v = 0, t0 = clock_ns();
	for (uint64_t i = 0; i < round_trips; i++) {
		v = i;
		xfer(-1, ps.ping[1], &v);
		xfer(ps.pong[0], -1, &v);
	}
	uint64_t ns = clock_ns() - t0;
	v = UINT64_MAX;
	xfer(-1, ps.ping[1], &v);
	pthread_join(th, NULL);
	for (int i = 0; i < 2; i++) {
		close(ps.ping[i]);
		close(ps.pong[i]);
	}
	return 2.0 * (double)round_trips * 1e9 / (double)ns;
}

/* ---- corio: contended mutex ----------------------------------------- */

struct contended {
	corio_mutex m;
	uint64_t ops_each;
	uint64_t counter;
	uint64_t ns;
};

static void *contender(void *p)
{
	struct contended *c = p;
	for (uint64_t i = 0; i < c->ops_each; i++) {
		if (corio_mutex_lock(&c->m))
			return CORIO_ERR_PTR(-EPROTO);
		c->counter++;
		corio_yield(); /* the other task now blocks on the lock */
		corio_mutex_unlock(&c->m);
	}
	return NULL;
}

static void *mutex_main(void *p)
{
	struct contended *c = p;
	corio_task *t[2];
	uint64_t t0 = clock_ns();
	for (int i = 0; i < 2; i++)
		if (corio_spawn(&t[i], contender, c))
			return CORIO_ERR_PTR(-ENOMEM);
	for (int i = 0; i < 2; i++)
		corio_join(t[i], NULL);
	c->ns = clock_ns() - t0;
	return c->counter == 2 * c->ops_each ? NULL : CORIO_ERR_PTR(-EPROTO);
}

static double corio_mutex_rate(const struct config *cf, int b)
{
	struct contended c = {.ops_each = cf->mutex_ops};
	corio_mutex_init(&c.m);
	void *res = NULL;
	int err = bench_run_on(b, NULL, mutex_main, &c, &res);
	if (!err)
		err = corio_ptr_err(res);
	if (err)
		bench_die("corio mutex", err);
	return (double)c.counter * 1e9 / (double)c.ns;
}

/* ---- peer: pthread mutex, two threads ------------------------------- */

struct pcontended {
	pthread_mutex_t m;
	uint64_t ops_each;
	uint64_t counter;
	int cpu[2];
};

struct pworker {
	struct pcontended *c;
	int cpu;
};

static void *pthread_contender(void *p)
{
	struct pworker *w = p;
	pin_self(w->cpu);
	for (uint64_t i = 0; i < w->c->ops_each; i++) {
		pthread_mutex_lock(&w->c->m);
		w->c->counter++;
		pthread_mutex_unlock(&w->c->m);
	}
	return NULL;
}

static double pthread_mutex_rate(const struct config *cf)
{
	uint64_t ops_each = cf->pthread_ops;
	struct pcontended c = {.ops_each = ops_each};
	struct pworker w[2] = {{&c, 0}, {&c, cf->peer_cpu_b}};
	pthread_t th[2];
	pthread_mutex_init(&c.m, NULL);
	uint64_t t0 = clock_ns();
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, pthread_contender, &w[i]))
			bench_die("pthread_create", EAGAIN);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	uint64_t ns = clock_ns() - t0;
	pthread_mutex_destroy(&c.m);
	if (c.counter != 2 * ops_each)
		bench_die("pthread mutex lost updates", EPROTO);
	return (double)c.counter * 1e9 / (double)ns;
}

/* ---- driver --------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The contenders of a figure: corio on each backend, then the peer. */
enum { PEER = BENCH_NBACKENDS, NCONT };

/* A rate measured for each contender: medians and ranges. */
struct figure {
	const char *key, *unit, *what, *peer_key, *peer_what;
	double (*mine)(const struct config *, int backend);
	double (*theirs)(const struct config *);
	double med[NCONT], lo[NCONT], hi[NCONT];
};

/* Every contender once per round, in an order that rotates with the
 * round: noise hits them all. */
static void measure(const struct config *cf, struct figure *f)
{
	double v[NCONT][MAX_RUNS];
	for (int r = 0; r < cf->runs; r++)
		for (int k = 0; k < NCONT; k++) {
			int who = (k + r) % NCONT;
			v[who][r] = who == PEER ? f->theirs(cf) : f->mine(cf, who);
		}
	for (int who = 0; who < NCONT; who++) {
		f->med[who] = median(v[who], cf->runs); /* sorts */
		f->lo[who] = v[who][0];
		f->hi[who] = v[who][cf->runs - 1];
	}
}

static void print_line(const struct figure *f)
{
	printf("%s unit=%s better=higher", f->key, f->unit);
	for (int b = 0; b < BENCH_NBACKENDS; b++)
		printf(" %s=%.0f", bench_backends[b].key, f->med[b]);
	printf(" %s=%.0f", f->peer_key, f->med[PEER]);
	for (int b = 0; b < BENCH_NBACKENDS; b++)
		printf(" %s:%s=%.2f", bench_backends[b].env, f->peer_key, f->med[b] / f->med[PEER]);
	printf(" uring:epoll=%.2f\n", f->med[BENCH_URING] / f->med[BENCH_EPOLL]);
	fflush(stdout);
}

static void print_table(const struct figure *f, int n)
{
	printf("\n| figure (millions/s) | corio io_uring (range) | corio epoll (range) "
	       "| peer (range) | io_uring/peer | epoll/peer |\n"
	       "|---|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < n; i++) {
		printf("| %s |", f[i].what);
		for (int who = 0; who < NCONT; who++)
			printf(" %s%.3f (%.3f-%.3f) |", who == PEER ? f[i].peer_what : "",
			       f[i].med[who] / 1e6, f[i].lo[who] / 1e6, f[i].hi[who] / 1e6);
		printf(" %.2f | %.2f |\n", f[i].med[BENCH_URING] / f[i].med[PEER],
		       f[i].med[BENCH_EPOLL] / f[i].med[PEER]);
	}
	printf("\n# The mutex figures differ in kind: every corio acquisition is a hand-off to\n"
	       "# a blocked task (the holder yields inside the lock), while a pthread thread\n"
	       "# mostly re-takes the lock it just released, on its own core.\n");
}

static int configure(int argc, char **argv, struct config *cf)
{
	cf->quick = false;
	cf->runs = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			cf->quick = true;
		else if (!strcmp(argv[i], "--full"))
			cf->quick = false;
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			cf->runs = atoi(argv[++i]);
		else
			return -1;
	}
	if (!cf->runs)
		cf->runs = cf->quick ? 3 : 5;
	if (cf->runs < 1 || cf->runs > MAX_RUNS)
		return -1;
	cf->chan_msgs = cf->quick ? 200000 : 2000000;
	cf->pipe_msgs = cf->quick ? 20000 : 50000;
	cf->mutex_ops = cf->quick ? 200000 : 2000000;
	cf->pthread_ops = cf->quick ? 1000000 : 10000000;
	cf->peer_cpu_b = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0;
	return 0;
}

int main(int argc, char **argv)
{
	struct config cf;
	if (configure(argc, argv, &cf)) {
		fprintf(stderr, "usage: bench-sync [--quick|--full] [--rounds 1..%d]\n", MAX_RUNS);
		return 2;
	}
	if (pin_self(0))
		bench_die("pinning to CPU 0", EINVAL);
	printf("# bench-sync: %s mode; corio on CPU 0 (one loop thread) on io_uring and on "
	       "epoll; peer threads on CPUs 0 and %d; median of %d rotating rounds\n",
	       cf.quick ? "quick" : "full", cf.peer_cpu_b, cf.runs);
	struct figure f[2] = {
		{.key = "sync.chan_pingpong_msgs_per_s", .unit = "msgs/s",
		 .what = "channel ping-pong, msgs",
		 .peer_key = "pipe_2threads", .peer_what = "pipe between 2 threads: ",
		 .mine = corio_pingpong, .theirs = pipe_pingpong},
		{.key = "sync.mutex_contended_ops_per_s", .unit = "ops/s",
		 .what = "contended mutex, acquisitions",
		 .peer_key = "pthread_mutex", .peer_what = "pthread mutex, 2 threads: ",
		 .mine = corio_mutex_rate, .theirs = pthread_mutex_rate},
	};
	for (int i = 0; i < 2; i++) {
		measure(&cf, &f[i]);
		print_line(&f[i]);
	}
	print_table(f, 2);
	return 0;
}
