/* SPDX-License-Identifier: MIT */
/*
 * core.c - the runtime core against its peers, side by side in one run:
 * task yield vs a bare Boost.Context jump and vs swapcontext, spawn+join
 * vs pthread_create+join, 10 000 tasks alive at once vs as many threads,
 * NOPs through the ring vs a hand-written liburing loop, and a million callback
 * timers (optionally sleeping tasks) vs libuv timers: time, CPU and memory,
 * in one child process per contender so that RSS is measured cleanly.
 * corio runs on both backends (io_uring, epoll): even a figure that never
 * calls into the kernel pays for each loop turn's poll.  Every round runs
 * the three contenders (corio on io_uring, corio on epoll, the peer) in an
 * order that rotates, pinned to the same CPU; medians over the rounds are
 * printed as one machine-readable line per figure (bench.h), then as a
 * Markdown table.
 */
#include "bench.h"

#include <corio/sync.h>

#include <errno.h>
#include <liburing.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <uv.h>

#define MAX_ROUNDS 101
#define NOP_TASKS 1000u
#define RING_ENTRIES 1024u /* corio's default ring_entries */
#define SEED 0x5eed5eed12345678ull

/* ---- configuration ---------------------------------------------------- */

struct cfg {
	bool quick;
	int rounds;
	long yield_n;        /* round trips per round, against swapcontext */
	long switch_n;       /* round trips per round, against Boost.Context */
	long spawn_n;        /* spawn+join pairs per round */
	long live_n;         /* tasks alive at once per round */
	long timers_n;       /* timers per round */
	long nop_per_task;   /* NOPs each of the NOP_TASKS tasks does */
	long sleepers_n;     /* sleeping tasks (0, the default: skip) */
	const char *only;    /* run just this figure group (for profiling) */
};

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--quick|--full] [--rounds N] [--sleepers N]\n"
		"       [--only yield|spawn|live|nop|timers|sleepers]\n",
		argv0);
	exit(2);
}

static void parse_args(int argc, char **argv, struct cfg *c)
{
	c->quick = false;
	c->sleepers_n = 0;
	c->rounds = 5;
	c->only = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			c->quick = true;
		else if (!strcmp(argv[i], "--full"))
			c->quick = false;
		else if (!strcmp(argv[i], "--sleepers") && i + 1 < argc)
			c->sleepers_n = atol(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			c->only = argv[++i];
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			c->rounds = atoi(argv[++i]);
		else
			usage(argv[0]);
	}
	if (c->rounds < 1 || c->rounds > MAX_ROUNDS)
		usage(argv[0]);
	if (c->sleepers_n < 0)
		usage(argv[0]);
	/* swapcontext and pthread_create make syscalls (about 1-2 us each on
	 * the 2-core VMs this runs on): their counts bound the run time. */
	c->yield_n = c->quick ? 50000 : 500000;
	/* no syscall on either side: enough for a window of 0.1-0.5 s */
	c->switch_n = c->quick ? 2000000 : 10000000;
	c->spawn_n = c->quick ? 3000 : 20000;
	c->live_n = 10000;
	c->timers_n = c->quick ? 200000 : 1000000;
	c->nop_per_task = c->quick ? 200 : 1000;
}

/* ---- helpers ---------------------------------------------------------- */

static void pin_cpu0(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		bench_die("sched_setaffinity(CPU 0)", errno);
}

/* splitmix64: the one delay sequence every timer contender draws from */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Delays are whole milliseconds in 0..999: libuv's timer resolution, so
 * both contenders get exactly the same deadlines. */
static unsigned next_delay_ms(uint64_t *s)
{
	return (unsigned)(rng_next(s) % 1000);
}

/* A numeric field of /proc/self/status (sizes in KiB), -1 if absent. */
static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Make VmHWM start again from the current RSS (Linux >= 4.0). */
static void reset_peak_rss(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

static double cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];
	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* ---- figures ------------------------------------------------------------ */

/* The contenders of a figure: corio on each backend, then the peer. */
enum { PEER = BENCH_NBACKENDS, NCONT };

struct figure {
	const char *key;      /* machine-readable name */
	const char *what;     /* human description */
	const char *unit;
	const char *peer;     /* what corio is compared with */
	const char *peer_key; /* its machine-readable name */
	bool higher_better;
	double target;        /* minimum advantage of corio, judged per backend; 0: none */
	double v[NCONT][MAX_ROUNDS]; /* per contender and round */
	int n;
	const char *note;     /* parameters (key=value ...), or NULL */
};

/* Contender @a's advantage over @b: above 1, @a is better; NAN when it is
 * undefined (a zero count). */
static double advantage(const struct figure *f, int a, int b)
{
	double x = median(f->v[a], f->n), y = median(f->v[b], f->n);
	double num = f->higher_better ? x : y, den = f->higher_better ? y : x;
	return den > 0 ? num / den : NAN;
}

static const char *verdict(const struct figure *f, int b)
{
	if (!f->target)
		return "INFO";
	return advantage(f, b, PEER) >= f->target ? "PASS" : "FAIL";
}

/* 4 significant digits, never an exponent (easy to read and to parse). */
struct num {
	char s[32];
};

static struct num fmt(double v)
{
	struct num n;
	if (isnan(v))
		snprintf(n.s, sizeof(n.s), "n/a");
	else if (v >= 1e4 || v <= -1e4)
		snprintf(n.s, sizeof(n.s), "%.0f", v);
	else
		snprintf(n.s, sizeof(n.s), "%.4g", v);
	if (strchr(n.s, 'e')) /* tiny values */
		snprintf(n.s, sizeof(n.s), "%.6f", v);
	return n;
}

static const char *contender_key(const struct figure *f, int who)
{
	return who == PEER ? f->peer_key : bench_backends[who].key;
}

/* The line bench/report.py reads (see bench.h), then the rounds. */
static void print_line(const struct figure *f)
{
	printf("%s%s%s unit=%s better=%s", f->key, f->note ? " " : "", f->note ? f->note : "",
	       f->unit, f->higher_better ? "higher" : "lower");
	for (int who = 0; who < NCONT; who++)
		printf(" %s=%s", contender_key(f, who), fmt(median(f->v[who], f->n)).s);
	for (int b = 0; b < BENCH_NBACKENDS; b++)
		printf(" %s:%s=%s", bench_backends[b].env, f->peer_key,
		       fmt(advantage(f, b, PEER)).s);
	printf(" uring:epoll=%s", fmt(advantage(f, BENCH_URING, BENCH_EPOLL)).s);
	if (f->target)
		printf(" target>=%g uring=%s epoll=%s", f->target, verdict(f, BENCH_URING),
		       verdict(f, BENCH_EPOLL));
	for (int who = 0; who < NCONT; who++) { /* the spread, for bench/report.py */
		double lo = f->v[who][0], hi = f->v[who][0];
		for (int r = 1; r < f->n; r++) {
			lo = f->v[who][r] < lo ? f->v[who][r] : lo;
			hi = f->v[who][r] > hi ? f->v[who][r] : hi;
		}
		printf(" min:%s=%s max:%s=%s", contender_key(f, who), fmt(lo).s,
		       contender_key(f, who), fmt(hi).s);
	}
	printf("\n#  rounds:");
	for (int who = 0; who < NCONT; who++) {
		printf(" %s=[", contender_key(f, who));
		for (int r = 0; r < f->n; r++)
			printf("%s%s", r ? "," : "", fmt(f->v[who][r]).s);
		printf("]");
	}
	printf("\n");
	fflush(stdout);
}

static void print_table(struct figure **fs, int n, const struct cfg *c)
{
	printf("\n| figure | unit | corio io_uring | corio epoll | peer | peer is "
	       "| io_uring advantage | epoll advantage | target | result (io_uring/epoll) |\n");
	printf("|---|---|---:|---:|---:|---|---:|---:|---:|---|\n");
	for (int i = 0; i < n; i++) {
		const struct figure *f = fs[i];
		char tgt[32] = "-", res[32] = "INFO";
		if (f->target) {
			snprintf(tgt, sizeof(tgt), ">= %g", f->target);
			snprintf(res, sizeof(res), "%s/%s", verdict(f, BENCH_URING),
				 verdict(f, BENCH_EPOLL));
		}
		printf("| %s%s%s%s | %s | %s | %s | %s | %s | %sx | %sx | %s | %s |\n", f->what,
		       f->note ? " (" : "", f->note ? f->note : "", f->note ? ")" : "", f->unit,
		       fmt(median(f->v[BENCH_URING], f->n)).s,
		       fmt(median(f->v[BENCH_EPOLL], f->n)).s, fmt(median(f->v[PEER], f->n)).s,
		       f->peer, fmt(advantage(f, BENCH_URING, PEER)).s,
		       fmt(advantage(f, BENCH_EPOLL, PEER)).s, tgt, res);
	}
	printf("\nMedians of %d rounds (%s mode); each round runs corio on io_uring, corio on "
	       "epoll and the peer, in an order that rotates, pinned to CPU 0. \"advantage\" "
	       "is peer/corio for times, sizes and counts, corio/peer for rates: above 1 means "
	       "corio is better.\n",
	       c->rounds, c->quick ? "quick" : "full");
	printf("\nYield and spawn+join start no op, yet every loop turn ends in the "
	       "backend's poll: io_uring skips the syscall when nothing is in flight, the "
	       "epoll backend calls epoll_pwait2 each turn (runtime/epoll.c, epoll_poll), "
	       "and that is most of what the epoll column measures.  A NOP on epoll "
	       "completes in the loop's next turn with no syscall of its own: no kernel "
	       "round trip, unlike the raw liburing peer's.\n");
}

/* One round of a figure: every contender once, in an order that rotates
 * with the round (the machine is shared and noisy). */
static void run_round(struct figure *f, int r, double (*mine)(const struct cfg *, int),
		      double (*theirs)(const struct cfg *), const struct cfg *c)
{
	for (int k = 0; k < NCONT; k++) {
		int who = (k + r) % NCONT;
		f->v[who][r] = who == PEER ? theirs(c) : mine(c, who);
	}
	f->n = r + 1;
}

static void run_figure(struct figure *f, double (*mine)(const struct cfg *, int),
		       double (*theirs)(const struct cfg *), const struct cfg *c)
{
	for (int r = 0; r < c->rounds; r++)
		run_round(f, r, mine, theirs, c);
	print_line(f);
}

/* Run @body(@arg) as the only task of a fresh loop on backend @b with
 * options @o (may be NULL). */
static void run_in_loop(int b, corio_fn body, void *arg, const corio_loop_options *o)
{
	int err = bench_run_on(b, o, body, arg, NULL);
	if (err)
		bench_die(bench_backends[b].key, err);
}

/* ---- 1. yield round trip ------------------------------------------------ */

struct yield_state {
	long n;
	uint64_t t0, t1;
	bool done;
};

static void *yield_partner(void *p)
{
	struct yield_state *s = p;
	while (!s->done)
		corio_yield();
	return NULL;
}

/* Task A: with B also ready, each corio_yield() lets B run once. */
static void *yield_main(void *p)
{
	struct yield_state *s = p;
	corio_task *b;
	int err = corio_spawn(&b, yield_partner, s);
	if (err)
		bench_die("corio_spawn", err);
	for (int i = 0; i < 10000; i++) /* warm-up; B starts running */
		corio_yield();
	s->t0 = bench_now_ns();
	for (long i = 0; i < s->n; i++)
		corio_yield();
	s->t1 = bench_now_ns();
	s->done = true;
	corio_join(b, NULL);
	return NULL;
}

static double corio_yield_n(int b, long n)
{
	struct yield_state s = {.n = n};
	run_in_loop(b, yield_main, &s, NULL);
	return (double)(s.t1 - s.t0) / (double)s.n;
}

static double corio_yield_rt(const struct cfg *c, int b)
{
	return corio_yield_n(b, c->yield_n);
}

#ifdef BENCH_BOOST_CONTEXT
static double corio_yield_rt_long(const struct cfg *c, int b)
{
	return corio_yield_n(b, c->switch_n);
}

/*
 * Boost.Context's fcontext, the bare switch that Boost.Coroutine2 and
 * Boost.Fiber are built on, called from C: its two extern "C" entry points
 * (boost/context/detail/fcontext.hpp), declared here with the same types.
 * transfer_t is two pointers, which the SysV x86-64 and AAPCS64 ABIs
 * return in two registers in C as in C++.  Linked with -lboost_context.
 */
typedef void *bctx_fcontext;
typedef struct {
	bctx_fcontext fctx;
	void *data;
} bctx_transfer;
extern bctx_transfer jump_fcontext(bctx_fcontext const to, void *vp);
extern bctx_fcontext make_fcontext(void *sp, size_t size, void (*fn)(bctx_transfer));

/* B: each jump back to A is half a round trip; it never returns. */
static void bctx_partner(bctx_transfer t)
{
	for (;;)
		t = jump_fcontext(t.fctx, NULL);
}

static double peer_boost_rt(const struct cfg *c)
{
	enum { STACK = 64 * 1024 };
	char *stack = malloc(STACK);
	if (!stack)
		bench_die("malloc", ENOMEM);
	/* the stack grows down: make_fcontext takes its top */
	bctx_transfer t = {make_fcontext(stack + STACK, STACK, bctx_partner), NULL};
	for (int i = 0; i < 10000; i++)
		t = jump_fcontext(t.fctx, NULL);
	uint64_t t0 = bench_now_ns();
	for (long i = 0; i < c->switch_n; i++)
		t = jump_fcontext(t.fctx, NULL);
	uint64_t t1 = bench_now_ns();
	free(stack); /* B is parked mid-loop and owns nothing */
	return (double)(t1 - t0) / (double)c->switch_n;
}
#endif /* BENCH_BOOST_CONTEXT (bench/meson.build: libboost-context-dev) */

static ucontext_t uc_main, uc_a, uc_b;
static struct yield_state uc_state;

static void uc_partner(void)
{
	for (;;)
		swapcontext(&uc_b, &uc_a);
}

static void uc_first(void)
{
	for (int i = 0; i < 10000; i++)
		swapcontext(&uc_a, &uc_b);
	uc_state.t0 = bench_now_ns();
	for (long i = 0; i < uc_state.n; i++)
		swapcontext(&uc_a, &uc_b);
	uc_state.t1 = bench_now_ns();
	/* returning resumes uc_main through uc_link */
}

static void uc_make(ucontext_t *uc, void *stack, size_t size, void (*fn)(void))
{
	if (getcontext(uc) != 0)
		bench_die("getcontext", errno);
	uc->uc_stack.ss_sp = stack;
	uc->uc_stack.ss_size = size;
	uc->uc_link = &uc_main;
	makecontext(uc, fn, 0);
}

static double peer_swapcontext_rt(const struct cfg *c)
{
	enum { STACK = 64 * 1024 };
	void *sa = malloc(STACK), *sb = malloc(STACK);
	if (!sa || !sb)
		bench_die("malloc", ENOMEM);
	uc_state = (struct yield_state){.n = c->yield_n};
	uc_make(&uc_a, sa, STACK, uc_first);
	uc_make(&uc_b, sb, STACK, uc_partner);
	if (swapcontext(&uc_main, &uc_a) != 0)
		bench_die("swapcontext", errno);
	free(sa);
	free(sb);
	return (double)(uc_state.t1 - uc_state.t0) / (double)uc_state.n;
}

/* ---- 2. spawn + join ---------------------------------------------------- */

static void *empty_task(void *p)
{
	return p;
}

struct spawn_state {
	long n;
	uint64_t t0, t1;
};

static void spawn_join_one(void)
{
	corio_task *t;
	int err = corio_spawn(&t, empty_task, NULL);
	if (err)
		bench_die("corio_spawn", err);
	err = corio_join(t, NULL);
	if (err)
		bench_die("corio_join", err);
}

static void *spawn_main(void *p)
{
	struct spawn_state *s = p;
	for (int i = 0; i < 1000; i++)
		spawn_join_one();
	s->t0 = bench_now_ns();
	for (long i = 0; i < s->n; i++)
		spawn_join_one();
	s->t1 = bench_now_ns();
	return NULL;
}

static double corio_spawn_join(const struct cfg *c, int b)
{
	struct spawn_state s = {.n = c->spawn_n};
	run_in_loop(b, spawn_main, &s, NULL);
	return (double)(s.t1 - s.t0) / (double)s.n;
}

static void pthread_spawn_join_one(void)
{
	pthread_t th;
	int err = pthread_create(&th, NULL, empty_task, NULL);
	if (err)
		bench_die("pthread_create", err);
	err = pthread_join(th, NULL);
	if (err)
		bench_die("pthread_join", err);
}

static double peer_pthread_spawn_join(const struct cfg *c)
{
	for (int i = 0; i < 100; i++)
		pthread_spawn_join_one();
	uint64_t t0 = bench_now_ns();
	for (long i = 0; i < c->spawn_n; i++)
		pthread_spawn_join_one();
	return (double)(bench_now_ns() - t0) / (double)c->spawn_n;
}

/* ---- 2b. many live tasks ------------------------------------------------ */

/* LIVE_N tasks alive at once: all are created, all wait on one signal,
 * then all are released and joined.  The peer does the same with threads
 * of the same stack size; fresh stacks on both sides (a new loop, new
 * threads), so this is the cost of mapping, touching and unmapping them. */
#define LIVE_STACK ((size_t)64 * 1024)

struct live_state {
	long n, parked;
	corio_event go;
	uint64_t t0, t1;
};

static void *live_task(void *p)
{
	struct live_state *s = p;
	s->parked++;
	if (corio_event_wait(&s->go))
		bench_die("corio_event_wait", EIO);
	return NULL;
}

static void *live_main(void *p)
{
	struct live_state *s = p;
	corio_task **t = malloc((size_t)s->n * sizeof(*t));
	if (!t)
		bench_die("malloc", ENOMEM);
	corio_event_init(&s->go);
	s->t0 = bench_now_ns();
	for (long i = 0; i < s->n; i++) {
		int err = corio_spawn(&t[i], live_task, s);
		if (err)
			bench_die("corio_spawn", err);
	}
	while (s->parked < s->n)
		corio_yield();
	corio_event_set(&s->go);
	for (long i = 0; i < s->n; i++)
		corio_join(t[i], NULL);
	s->t1 = bench_now_ns();
	free(t);
	return NULL;
}

static double corio_live(const struct cfg *c, int b)
{
	struct live_state s = {.n = c->live_n};
	corio_loop_options o = {.stack_size = LIVE_STACK};
	run_in_loop(b, live_main, &s, &o);
	return (double)(s.t1 - s.t0) / (double)s.n;
}

/* The threads' side: the last to park wakes the creator, which then
 * releases them all with one broadcast (no thundering herd per thread). */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t all_parked, go_cv;
	long parked, n;
	bool go;
} live_threads = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
		  PTHREAD_COND_INITIALIZER, 0, 0, false};

static void *live_thread(void *p)
{
	(void)p;
	pthread_mutex_lock(&live_threads.lock);
	if (++live_threads.parked == live_threads.n)
		pthread_cond_signal(&live_threads.all_parked);
	while (!live_threads.go)
		pthread_cond_wait(&live_threads.go_cv, &live_threads.lock);
	pthread_mutex_unlock(&live_threads.lock);
	return NULL;
}

static double peer_pthread_live(const struct cfg *c)
{
	pthread_t *th = malloc((size_t)c->live_n * sizeof(*th));
	pthread_attr_t a;
	if (!th || pthread_attr_init(&a) || pthread_attr_setstacksize(&a, LIVE_STACK))
		bench_die("pthread setup", ENOMEM);
	live_threads.parked = 0;
	live_threads.n = c->live_n;
	live_threads.go = false;
	uint64_t t0 = bench_now_ns();
	for (long i = 0; i < c->live_n; i++) {
		int err = pthread_create(&th[i], &a, live_thread, NULL);
		if (err)
			bench_die("pthread_create", err);
	}
	pthread_mutex_lock(&live_threads.lock);
	while (live_threads.parked < c->live_n)
		pthread_cond_wait(&live_threads.all_parked, &live_threads.lock);
	live_threads.go = true;
	pthread_cond_broadcast(&live_threads.go_cv);
	pthread_mutex_unlock(&live_threads.lock);
	for (long i = 0; i < c->live_n; i++)
		pthread_join(th[i], NULL);
	uint64_t t1 = bench_now_ns();
	pthread_attr_destroy(&a);
	free(th);
	return (double)(t1 - t0) / (double)c->live_n;
}

/* ---- 3. a million timers, one child process per contender --------------- */

/* What a timer child reports to its parent through a pipe. */
struct timer_result {
	double wall_ms;  /* first timer scheduled .. last one fired */
	double sched_ns; /* per timer, scheduling only */
	double cpu_ms;   /* user + system CPU of the child over the same span */
	double rss_mb;   /* peak RSS growth over the span (VmHWM - VmRSS) */
	double sleeps;   /* voluntary context switches: times the loop slept */
	long fired;
};

struct timer_span {
	long rss0, vcsw0;
	double cpu0;
	uint64_t t0, t1;
};

static void span_begin(struct timer_span *s)
{
	reset_peak_rss();
	s->rss0 = status_kib("VmRSS");
	s->vcsw0 = status_kib("voluntary_ctxt_switches");
	s->cpu0 = cpu_ms();
	s->t0 = bench_now_ns();
}

static void span_end(const struct timer_span *s, long n, struct timer_result *r)
{
	uint64_t t2 = bench_now_ns();
	r->wall_ms = (double)(t2 - s->t0) / 1e6;
	r->sched_ns = (double)(s->t1 - s->t0) / (double)n;
	r->cpu_ms = cpu_ms() - s->cpu0;
	r->rss_mb = (double)(status_kib("VmHWM") - s->rss0) / 1024.0;
	r->sleeps = (double)(status_kib("voluntary_ctxt_switches") - s->vcsw0);
}

static void on_corio_timer(void *arg)
{
	(*(long *)arg)++;
}

/* The child's loop, on backend @b. */
static corio_loop *child_loop(int b, corio_loop_options o)
{
	o.backend = bench_backends[b].kind;
	corio_loop *l;
	int err = corio_loop_new(&l, &o);
	if (err)
		bench_die("corio_loop_new", err);
	return l;
}

static void corio_timers_child(int b, long n, struct timer_result *r)
{
	corio_loop *l = child_loop(b, (corio_loop_options){0});
	int err;
	struct timer_span s;
	uint64_t rng = SEED;
	span_begin(&s);
	for (long i = 0; i < n; i++) {
		uint64_t d = (uint64_t)next_delay_ms(&rng) * 1000000u;
		err = corio_call_later(l, d, on_corio_timer, &r->fired, NULL);
		if (err)
			bench_die("corio_call_later", err);
	}
	s.t1 = bench_now_ns();
	err = corio_loop_run(l);
	if (err)
		bench_die("corio_loop_run", err);
	span_end(&s, n, r);
	corio_loop_free(l);
}

static void on_uv_timer(uv_timer_t *h)
{
	(*(long *)h->data)++;
}

/* The peer gets its cheapest layout: one array of handles and no close. */
static void uv_timers_child(long n, struct timer_result *r)
{
	uv_loop_t loop;
	int err = uv_loop_init(&loop);
	if (err)
		bench_die("uv_loop_init", err);
	struct timer_span s;
	uint64_t rng = SEED;
	span_begin(&s);
	uv_timer_t *h = malloc((size_t)n * sizeof(*h));
	if (!h)
		bench_die("malloc", ENOMEM);
	for (long i = 0; i < n; i++) {
		uv_timer_init(&loop, &h[i]);
		h[i].data = &r->fired;
		/* libuv measures a timeout from its cached loop time;
		 * corio_call_later() from the moment of the call.  Refresh
		 * the cache so both mean "delay from now". */
		uv_update_time(&loop);
		uv_timer_start(&h[i], on_uv_timer, next_delay_ms(&rng), 0);
	}
	s.t1 = bench_now_ns();
	uv_run(&loop, UV_RUN_DEFAULT);
	span_end(&s, n, r);
}

/* Sleeping tasks count their wake-ups here (in the child process). */
static long sleepers_woke;

/* Task that sleeps the delay it was given, as a million of them will. */
static void *sleeper(void *p)
{
	if (corio_sleep((uint64_t)(uintptr_t)p * 1000000u) == 0)
		sleepers_woke++;
	return NULL;
}

/* 1M sleeping tasks: needs small stacks and no guard pages (one mapping
 * per task instead of two, under vm.max_map_count). */
static void corio_sleepers_child(int b, long n, struct timer_result *r)
{
	corio_loop *l = child_loop(b, (corio_loop_options){.no_guard_pages = 1,
							  .stack_size = 16 * 1024});
	int err;
	struct timer_span s;
	uint64_t rng = SEED;
	span_begin(&s);
	for (long i = 0; i < n; i++) {
		uintptr_t d = next_delay_ms(&rng);
		err = corio_spawn_ex(l, NULL, sleeper, (void *)d, NULL);
		if (err)
			bench_die("corio_spawn_ex (sleeper)", err);
	}
	s.t1 = bench_now_ns();
	err = corio_loop_run(l);
	if (err)
		bench_die("corio_loop_run", err);
	r->fired = sleepers_woke;
	span_end(&s, n, r);
	corio_loop_free(l);
}

enum { C_CORIO_TIMERS, C_UV_TIMERS, C_CORIO_SLEEPERS };

/* Contender @which (on backend @b if it is corio's) in a child process. */
static void run_timer_child(int which, int b, long n, struct timer_result *out)
{
	int fd[2];
	if (pipe(fd) != 0)
		bench_die("pipe", errno);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork", errno);
	if (pid == 0) {
		close(fd[0]);
		struct timer_result r = {0};
		if (which == C_CORIO_TIMERS)
			corio_timers_child(b, n, &r);
		else if (which == C_UV_TIMERS)
			uv_timers_child(n, &r);
		else
			corio_sleepers_child(b, n, &r);
		ssize_t w = write(fd[1], &r, sizeof(r));
		_exit(w == (ssize_t)sizeof(r) ? 0 : 1);
	}
	close(fd[1]);
	ssize_t got = read(fd[0], out, sizeof(*out));
	close(fd[0]);
	int st;
	waitpid(pid, &st, 0);
	if (got != (ssize_t)sizeof(*out) || !WIFEXITED(st) || WEXITSTATUS(st))
		bench_die("timer child failed", EIO);
	if (out->fired != n) {
		fprintf(stderr, "bench-core: timer child %d fired %ld of %ld\n", which,
			out->fired, n);
		exit(1);
	}
}

struct timer_figs {
	struct figure wall, cpu, rss, sched, sleeps;
};

static void store_timer(struct timer_figs *t, int r, int who, const struct timer_result *x)
{
	t->wall.v[who][r] = x->wall_ms;
	t->cpu.v[who][r] = x->cpu_ms;
	t->rss.v[who][r] = x->rss_mb;
	t->sched.v[who][r] = x->sched_ns;
	t->sleeps.v[who][r] = x->sleeps;
	t->wall.n = t->cpu.n = t->rss.n = t->sched.n = t->sleeps.n = r + 1;
}

/* Rounds as run_round(), each contender in a child process of its own. */
static void run_timer_figs(struct timer_figs *t, int corio_kind, long n, const struct cfg *c)
{
	for (int r = 0; r < c->rounds; r++) {
		for (int k = 0; k < NCONT; k++) {
			int who = (k + r) % NCONT;
			struct timer_result x;
			run_timer_child(who == PEER ? C_UV_TIMERS : corio_kind, who, n, &x);
			store_timer(t, r, who, &x);
		}
	}
	print_line(&t->wall);
	print_line(&t->cpu);
	print_line(&t->rss);
	print_line(&t->sched);
	print_line(&t->sleeps);
}

/* ---- 4. NOPs through the ring ------------------------------------------ */

struct nop_state {
	long per_task;
	unsigned ready, finished;
	bool go;
	uint64_t t0, t1;
};

static void *nop_worker(void *p)
{
	struct nop_state *s = p;
	if (corio_nop() != 0) /* warm-up: the stack is touched, the op path hot */
		bench_die("corio_nop", EIO);
	s->ready++;
	while (!s->go)
		corio_yield();
	for (long i = 0; i < s->per_task; i++) {
		int err = corio_nop();
		if (err)
			bench_die("corio_nop", err);
	}
	if (++s->finished == NOP_TASKS)
		s->t1 = bench_now_ns();
	return NULL;
}

static void *nop_main(void *p)
{
	struct nop_state *s = p;
	static corio_task *w[NOP_TASKS];
	for (unsigned i = 0; i < NOP_TASKS; i++) {
		int err = corio_spawn(&w[i], nop_worker, s);
		if (err)
			bench_die("corio_spawn", err);
	}
	while (s->ready < NOP_TASKS)
		corio_yield();
	s->t0 = bench_now_ns();
	s->go = true;
	for (unsigned i = 0; i < NOP_TASKS; i++)
		corio_join(w[i], NULL);
	return NULL;
}

static double corio_nop_mops(const struct cfg *c, int b)
{
	struct nop_state s = {.per_task = c->nop_per_task};
	corio_loop_options o = {.ring_entries = RING_ENTRIES};
	run_in_loop(b, nop_main, &s, &o);
	return (double)NOP_TASKS * (double)s.per_task / ((double)(s.t1 - s.t0) / 1e3);
}

static unsigned raw_ring_flags; /* what the raw peer's ring got */

/* The same flag ladder as runtime/uring.c's ring_setup(). */
static int raw_ring_init(struct io_uring *ring)
{
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
			IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_SUBMIT_ALL,
		0,
	};
	int err = -EINVAL;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]) && err == -EINVAL; i++) {
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		p.flags = tries[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = RING_ENTRIES * 4;
		err = io_uring_queue_init_params(RING_ENTRIES, ring, &p);
		raw_ring_flags = p.flags;
	}
	return err;
}

/* Refill to @depth in flight, submit and wait once, reap everything. */
static long raw_nop_batches(struct io_uring *ring, long total, unsigned depth)
{
	long submitted = 0, completed = 0;
	unsigned inflight = 0;
	uint64_t sum = 0;
	while (completed < total) {
		while (inflight < depth && submitted < total) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
			io_uring_prep_nop(sqe);
			io_uring_sqe_set_data64(sqe, (uint64_t)submitted);
			inflight++;
			submitted++;
		}
		int ret = io_uring_submit_and_wait(ring, 1);
		if (ret < 0 && ret != -EINTR)
			bench_die("io_uring_submit_and_wait", ret);
		struct io_uring_cqe *cqes[128];
		unsigned n;
		while ((n = io_uring_peek_batch_cqe(ring, cqes, 128)) > 0) {
			for (unsigned i = 0; i < n; i++) {
				if (cqes[i]->res != 0)
					bench_die("raw nop", cqes[i]->res);
				sum += cqes[i]->user_data;
			}
			io_uring_cq_advance(ring, n);
			completed += n;
			inflight -= n;
		}
	}
	return (long)(sum & 1); /* keep the reads */
}

static double peer_raw_nop_mops(const struct cfg *c)
{
	struct io_uring ring;
	int err = raw_ring_init(&ring);
	if (err)
		bench_die("io_uring_queue_init_params", err);
	raw_nop_batches(&ring, NOP_TASKS, NOP_TASKS); /* warm-up */
	long total = (long)NOP_TASKS * c->nop_per_task;
	uint64_t t0 = bench_now_ns();
	raw_nop_batches(&ring, total, NOP_TASKS);
	uint64_t t1 = bench_now_ns();
	io_uring_queue_exit(&ring);
	return (double)total / ((double)(t1 - t0) / 1e3);
}

/* ---- main --------------------------------------------------------------- */

/* The target: a yield round trip (through the scheduler and a loop turn)
 * at most twice a bare Boost.Context round trip (two jumps). */
#ifdef BENCH_BOOST_CONTEXT
static struct figure f_yield = {
	.key = "core.yield_rt_ns", .what = "yield round trip (A->B->A)", .unit = "ns",
	.peer = "Boost.Context jump_fcontext x2", .peer_key = "boost_context", .target = 0.5};
#endif
static struct figure f_yield_uc = {
	.key = "core.yield_uc_rt_ns", .what = "yield round trip (A->B->A), short run",
	.unit = "ns", .peer = "swapcontext x2", .peer_key = "swapcontext"};
static struct figure f_spawn = {
	.key = "core.spawn_join_ns", .what = "spawn+join empty task", .unit = "ns",
	.peer = "pthread_create+join",
	.peer_key = "pthread", .target = 50};
static struct figure f_live = {
	.key = "core.live_ns", .what = "10000 live tasks: create, park, release, join",
	.unit = "ns/task", .peer = "pthreads, same stack size", .peer_key = "pthreads",
	.note = "stack=64KiB"};
static struct figure f_nop = {
	.key = "core.nop_mops", .what = "NOPs, 1000 tasks / 1000 in flight", .unit = "Mops/s",
	.peer = "raw liburing loop", .peer_key = "raw_uring", .higher_better = true, .target = 0.8};
#define NOTE_LEN 64
static char timers_note[NOTE_LEN], sleepers_note[NOTE_LEN];
#define UV_PEER .peer = "libuv timers", .peer_key = "libuv"
static struct timer_figs f_timers = {
	.wall = {.key = "core.timers_wall_ms", .what = "timers, 0-1 s delays: wall", .unit = "ms",
		 UV_PEER, .note = timers_note},
	.cpu = {.key = "core.timers_cpu_ms", .what = "timers: CPU", .unit = "ms",
		UV_PEER, .note = timers_note},
	.rss = {.key = "core.timers_rss_mb", .what = "timers: peak RSS growth", .unit = "MiB",
		UV_PEER, .note = timers_note},
	.sched = {.key = "core.timers_sched_ns", .what = "timers: schedule one",
		  .unit = "ns", UV_PEER, .note = timers_note},
	.sleeps = {.key = "core.timers_wakeups", .what = "timers: loop sleeps (vol. ctx sw.)",
		   .unit = "count", UV_PEER, .note = timers_note},
};
static struct timer_figs f_sleepers = {
	.wall = {.key = "core.sleepers_wall_ms", .what = "sleeping tasks, 0-1 s: wall",
		 .unit = "ms", UV_PEER, .note = sleepers_note},
	.cpu = {.key = "core.sleepers_cpu_ms", .what = "sleeping tasks: CPU", .unit = "ms",
		UV_PEER, .note = sleepers_note},
	.rss = {.key = "core.sleepers_rss_mb", .what = "sleeping tasks: peak RSS growth",
		.unit = "MiB", UV_PEER, .note = sleepers_note},
	.sched = {.key = "core.sleepers_spawn_ns", .what = "sleeping tasks: spawn one",
		  .unit = "ns", UV_PEER, .note = sleepers_note},
	.sleeps = {.key = "core.sleepers_wakeups", .what = "sleeping tasks: loop sleeps",
		   .unit = "count", UV_PEER, .note = sleepers_note},
};

static bool wanted(const struct cfg *c, const char *name)
{
	return !c->only || !strcmp(c->only, name);
}

static void print_ring_flags(void)
{
	printf("#  raw peer ring: %u SQ / %u CQ entries, flags%s%s%s%s\n", RING_ENTRIES,
	       RING_ENTRIES * 4,
	       raw_ring_flags & IORING_SETUP_SINGLE_ISSUER ? " SINGLE_ISSUER" : "",
	       raw_ring_flags & IORING_SETUP_DEFER_TASKRUN ? " DEFER_TASKRUN" : "",
	       raw_ring_flags & IORING_SETUP_COOP_TASKRUN ? " COOP_TASKRUN" : "",
	       raw_ring_flags & IORING_SETUP_SUBMIT_ALL ? " SUBMIT_ALL" : "");
}

/* Figures measured in this process, one call per contender and round. */
static int run_pairs(const struct cfg *c, struct figure **all)
{
	static const struct {
		const char *name;
		struct figure *f;
		double (*mine)(const struct cfg *, int);
		double (*theirs)(const struct cfg *);
	} pairs[] = {
#ifdef BENCH_BOOST_CONTEXT
		{"yield", &f_yield, corio_yield_rt_long, peer_boost_rt},
#endif
		{"yield", &f_yield_uc, corio_yield_rt, peer_swapcontext_rt},
		{"spawn", &f_spawn, corio_spawn_join, peer_pthread_spawn_join},
		{"live", &f_live, corio_live, peer_pthread_live},
		{"nop", &f_nop, corio_nop_mops, peer_raw_nop_mops},
	};
	int n = 0;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		if (!wanted(c, pairs[i].name))
			continue;
		run_figure(pairs[i].f, pairs[i].mine, pairs[i].theirs, c);
		if (pairs[i].f == &f_nop)
			print_ring_flags();
		all[n++] = pairs[i].f;
	}
	return n;
}

/* Figures measured in child processes (timers, sleeping tasks). */
static int run_timer_groups(const struct cfg *c, struct figure **all)
{
	const struct {
		const char *name;
		struct timer_figs *t;
		int kind;
		long n;
		char *note;
		const char *fmt;
	} groups[] = {
		{"timers", &f_timers, C_CORIO_TIMERS, c->timers_n, timers_note, "n=%ld"},
		{"sleepers", &f_sleepers, C_CORIO_SLEEPERS, c->sleepers_n, sleepers_note,
		 "n=%ld stack=16KiB no_guard_pages"},
	};
	int n = 0;
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		if (!wanted(c, groups[g].name) || !groups[g].n)
			continue;
		snprintf(groups[g].note, NOTE_LEN, groups[g].fmt, groups[g].n);
		run_timer_figs(groups[g].t, groups[g].kind, groups[g].n, c);
		all[n++] = &groups[g].t->wall;
		all[n++] = &groups[g].t->cpu;
		all[n++] = &groups[g].t->rss;
		all[n++] = &groups[g].t->sched;
		all[n++] = &groups[g].t->sleeps;
	}
	return n;
}

/* Exits 0 even when a target is missed: the verdicts are in the output. */
int main(int argc, char **argv)
{
	struct cfg c;
	parse_args(argc, argv, &c);
	pin_cpu0();
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# bench-core: %s mode, %d rounds, pinned to CPU 0; yield n=%ld (Boost.Context) "
	       "and %ld (swapcontext), spawn n=%ld, live n=%ld, timers n=%ld, nop %u tasks x %ld, "
	       "sleepers n=%ld\n",
	       c.quick ? "quick" : "full", c.rounds, c.switch_n, c.yield_n, c.spawn_n, c.live_n,
	       c.timers_n,
	       NOP_TASKS, c.nop_per_task, c.sleepers_n);

	struct figure *all[24];
	int nfig = run_pairs(&c, all);
	nfig += run_timer_groups(&c, all + nfig);
	print_table(all, nfig, &c);
	int met = 0, ntarget = 0;
	for (int i = 0; i < nfig; i++)
		for (int b = 0; b < BENCH_NBACKENDS && all[i]->target; b++) {
			ntarget++;
			met += !strcmp(verdict(all[i], b), "PASS");
		}
	printf("\n%d of %d targets met (each target once per backend).\n", met, ntarget);
	return 0;
}
