/* SPDX-License-Identifier: MIT */
/*
 * tests/threads.c - many cores: corio_run_threads() (indexes, results,
 * stop-all on failure and on SIGTERM), loop-to-loop thread-safe calls
 * (ping-pong with sequence numbers: none lost, none duplicated; every pair
 * of 4 loops), a task cancelled from another loop, cross-loop channels,
 * and servers on every loop (REUSEPORT, and one acceptor handing fds out).
 * $CORIO_PINGPONG sets the ping-pong's round trips (the 'stress' suite
 * runs ten million).
 */
#include "util.h"

#include <corio/http.h>
#include <corio/net.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- indexes and results ---------------------------------------------- */

struct idx {
	atomic_uint seen_mask;
	atomic_int in_task;
};

static void *report_index(void *arg)
{
	struct idx *x = arg;
	unsigned i = corio_loop_index();
	atomic_fetch_or(&x->seen_mask, 1u << i);
	if (corio_loop_at(i) == corio_current_loop() && corio_loop_count() > i)
		atomic_fetch_add(&x->in_task, 1);
	corio_sleep(1 * MS); /* every loop runs at once: they overlap */
	return (void *)(uintptr_t)(100 + i);
}

static void run_indexes(unsigned n)
{
	struct idx x = {0};
	void *res[8];
	cr_assert_eq(corio_run_threads(n, report_index, &x, res), 0);
	cr_assert_eq(atomic_load(&x.seen_mask), (1u << n) - 1);
	cr_assert_eq(atomic_load(&x.in_task), (int)n);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq((uintptr_t)res[i], 100 + i);
	cr_assert_eq(corio_loop_index(), 0);
	cr_assert_null(corio_loop_at(1));
}

Test(threads, two_loops_have_indexes_0_1_and_return_their_results, .timeout = WAIT_TEST_TIMEOUT)
{
	run_indexes(2);
}

Test(threads, four_loops_pinned_have_indexes_and_results, .timeout = WAIT_TEST_TIMEOUT)
{
	struct idx x = {0};
	void *res[4];
	corio_threads_options o = {.pin = 1};
	cr_assert_eq(corio_run_threads_ex(4, report_index, &x, res, &o), 0);
	cr_assert_eq(atomic_load(&x.seen_mask), 0xfu);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq((uintptr_t)res[i], 100 + i);
}

static void *count_loops(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
	return NULL;
}

Test(threads, zero_means_one_loop_per_allowed_cpu, .timeout = WAIT_TEST_TIMEOUT)
{
	cpu_set_t set;
	cr_assert_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	atomic_int n = 0;
	cr_assert_eq(corio_run_threads(0, count_loops, &n, NULL), 0);
	cr_assert_eq(n, CPU_COUNT(&set));
}

/* ---- stopping ---------------------------------------------------------- */

static void *fail_first_sleep_others(void *arg)
{
	(void)arg;
	if (corio_loop_index() == 0) {
		corio_sleep(5 * MS);
		return CORIO_ERR_PTR(-EIO);
	}
	int err = corio_sleep(10000 * MS);
	return err ? CORIO_ERR_PTR(err) : NULL;
}

Test(threads, a_failing_main_stops_all_when_asked, .timeout = WAIT_TEST_TIMEOUT)
{
	void *res[4];
	corio_threads_options o = {.stop_all_on_failure = 1};
	uint64_t t0 = t_clock();
	cr_assert_eq(corio_run_threads_ex(4, fail_first_sleep_others, NULL, res, &o), 0);
	cr_assert_lt(t_clock() - t0, 5000 * MS);
	cr_assert_eq(res[0], CORIO_ERR_PTR(-EIO));
	for (int i = 1; i < 4; i++)
		cr_assert_eq(res[i], CORIO_ERR_PTR(-ECANCELED));
}

static void *sleep_then_term(void *arg)
{
	(void)arg;
	if (corio_loop_index() == 1) {
		corio_sleep(10 * MS);
		kill(getpid(), SIGTERM); /* blocked in every thread: the watcher reads it */
	}
	int err = corio_sleep(10000 * MS);
	return err ? CORIO_ERR_PTR(err) : NULL;
}

Test(threads, sigterm_cancels_every_main_and_returns, .timeout = WAIT_TEST_TIMEOUT)
{
	void *res[2];
	uint64_t t0 = t_clock();
	cr_assert_eq(corio_run_threads(2, sleep_then_term, NULL, res), 0);
	cr_assert_lt(t_clock() - t0, 5000 * MS);
	cr_assert_eq(res[0], CORIO_ERR_PTR(-ECANCELED));
	cr_assert_eq(res[1], CORIO_ERR_PTR(-ECANCELED));
	sigset_t now;
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	cr_assert_not(sigismember(&now, SIGTERM)); /* the mask is restored */
}

/* ---- ping-pong between two loops ----------------------------------------- */

enum { WINDOW = 8 };

struct pp;
struct msg {
	struct pp *pp;
	unsigned stream;
	uint64_t seq;
};

struct pp {
	uint64_t rounds;        /* round trips in all */
	uint64_t expect[2][WINDOW]; /* next sequence number per side and stream */
	uint64_t bad[2];        /* out of order, lost or duplicated */
	uint64_t back;          /* round trips completed (loop 0) */
	struct msg m[WINDOW];
	corio_event done[2];
	int call_errs;
};

static void on_pong(void *arg);

static void on_ping(void *arg) /* on loop 1 */
{
	struct msg *m = arg;
	if (m->seq != m->pp->expect[1][m->stream]++)
		m->pp->bad[1]++;
	if (corio_call_threadsafe(corio_loop_at(0), on_pong, m))
		m->pp->call_errs++;
}

static void on_pong(void *arg) /* on loop 0 */
{
	struct msg *m = arg;
	struct pp *pp = m->pp;
	if (m->seq != pp->expect[0][m->stream]++)
		pp->bad[0]++;
	if (++pp->back == pp->rounds) {
		corio_event_set(&pp->done[0]);
		return;
	}
	m->seq += 1;
	if (m->seq * WINDOW + m->stream < pp->rounds &&
	    corio_call_threadsafe(corio_loop_at(1), on_ping, m))
		pp->call_errs++;
}

static void finish_peer(void *arg)
{
	corio_event_set(arg);
}

static void *pingpong_main(void *arg)
{
	struct pp *pp = arg;
	unsigned me = corio_loop_index();
	if (me == 0) {
		for (unsigned s = 0; s < WINDOW && s < pp->rounds; s++) {
			pp->m[s] = (struct msg){.pp = pp, .stream = s};
			cr_assert_eq(corio_call_threadsafe(corio_loop_at(1), on_ping, &pp->m[s]), 0);
		}
	}
	corio_event_wait(&pp->done[me]);
	if (me == 0)
		corio_call_threadsafe(corio_loop_at(1), finish_peer, &pp->done[1]);
	return NULL;
}

static uint64_t env_rounds(void)
{
	const char *v = getenv("CORIO_PINGPONG");
	return v && *v ? strtoull(v, NULL, 10) : 200000;
}

Test(threads, pingpong_between_two_loops_loses_and_duplicates_nothing,
     .timeout = 600)
{
	struct pp *pp = calloc(1, sizeof(*pp));
	pp->rounds = env_rounds();
	corio_event_init(&pp->done[0]);
	corio_event_init(&pp->done[1]);
	cr_assert_eq(corio_run_threads(2, pingpong_main, pp, NULL), 0);
	cr_assert_eq(pp->back, pp->rounds);
	cr_assert_eq(pp->bad[0] + pp->bad[1], 0);
	cr_assert_eq(pp->call_errs, 0);
	uint64_t got = 0;
	for (int s = 0; s < WINDOW; s++) {
		got += pp->expect[1][s];
		cr_assert_eq(pp->expect[0][s], pp->expect[1][s]);
	}
	cr_assert_eq(got, pp->rounds);
	free(pp);
}

/* ---- every pair of four loops ------------------------------------------- */

enum { PAIRS_LOOPS = 4, PAIRS_MSGS = 20000 };

struct pairs {
	uint32_t next[PAIRS_LOOPS][PAIRS_LOOPS]; /* [to][from]: expected seq, on "to" */
	uint32_t bad[PAIRS_LOOPS];
	uint32_t got[PAIRS_LOOPS];
	corio_event all_in[PAIRS_LOOPS];
};

struct pmsg {
	struct pairs *p;
	unsigned from, to;
	uint32_t seq;
};

static void on_pair_msg(void *arg)
{
	struct pmsg *m = arg;
	struct pairs *p = m->p;
	if (p->next[m->to][m->from]++ != m->seq)
		p->bad[m->to]++;
	if (++p->got[m->to] == PAIRS_MSGS * (PAIRS_LOOPS - 1))
		corio_event_set(&p->all_in[m->to]);
	free(m);
}

static void *pairs_main(void *arg)
{
	struct pairs *p = arg;
	unsigned me = corio_loop_index();
	for (uint32_t s = 0; s < PAIRS_MSGS; s++) {
		for (unsigned to = 0; to < PAIRS_LOOPS; to++) {
			if (to == me)
				continue;
			struct pmsg *m = malloc(sizeof(*m));
			*m = (struct pmsg){.p = p, .from = me, .to = to, .seq = s};
			cr_assert_eq(corio_call_threadsafe(corio_loop_at(to), on_pair_msg, m), 0);
		}
		if (s % 256 == 0)
			corio_yield(); /* let our own loop take its messages meanwhile */
	}
	corio_event_wait(&p->all_in[me]);
	return NULL;
}

Test(threads, messages_between_every_pair_of_four_loops_arrive_once_in_order,
     .timeout = WAIT_TEST_TIMEOUT)
{
	struct pairs *p = calloc(1, sizeof(*p));
	for (int i = 0; i < PAIRS_LOOPS; i++)
		corio_event_init(&p->all_in[i]);
	cr_assert_eq(corio_run_threads(PAIRS_LOOPS, pairs_main, p, NULL), 0);
	for (unsigned to = 0; to < PAIRS_LOOPS; to++) {
		cr_assert_eq(p->bad[to], 0);
		for (unsigned from = 0; from < PAIRS_LOOPS; from++)
			cr_assert_eq(p->next[to][from], from == to ? 0 : PAIRS_MSGS);
	}
	free(p);
}

/* ---- a task cancelled from another loop --------------------------------- */

struct xcancel {
	corio_xchan *tasks; /* corio_task *, loop 1 -> loop 0 */
	int sleeper_res;
};

static void *long_sleep(void *arg)
{
	(void)arg;
	int err = corio_sleep(10000 * MS);
	return err ? CORIO_ERR_PTR(err) : NULL;
}

static void cancel_it(void *arg)
{
	corio_cancel(arg); /* on the task's own loop */
}

static void *xcancel_main(void *arg)
{
	struct xcancel *x = arg;
	if (corio_loop_index() == 1) {
		corio_task *t;
		cr_assert_eq(corio_spawn(&t, long_sleep, NULL), 0);
		cr_assert_eq(corio_xchan_send(x->tasks, &t), 0);
		x->sleeper_res = corio_join(t, NULL);
		return NULL;
	}
	corio_task *t;
	cr_assert_eq(corio_xchan_recv(x->tasks, &t), 0);
	cr_assert_eq(corio_call_threadsafe(corio_loop_at(1), cancel_it, t), 0);
	return NULL;
}

Test(threads, a_task_is_cancelled_from_another_loop_by_a_message, .timeout = WAIT_TEST_TIMEOUT)
{
	struct xcancel x = {0};
	cr_assert_eq(corio_xchan_new(&x.tasks, sizeof(corio_task *), 1), 0);
	uint64_t t0 = t_clock();
	cr_assert_eq(corio_run_threads(2, xcancel_main, &x, NULL), 0);
	cr_assert_lt(t_clock() - t0, 5000 * MS);
	cr_assert_eq(x.sleeper_res, -ECANCELED);
	corio_xchan_free(x.tasks);
}

/* ---- cross-loop channels ----------------------------------------------- */

enum { XC_LOOPS = 4, XC_ITEMS = 20000 };

struct xc {
	corio_xchan *ch;
	atomic_uchar seen[XC_LOOPS][XC_ITEMS];
	atomic_int producers_left;
	atomic_int dupes;
	atomic_uint ticks_while_blocked;
};

static void *xc_consumer(void *arg)
{
	struct xc *x = arg;
	uint32_t item;
	int err;
	while ((err = corio_xchan_recv(x->ch, &item)) == 0)
		if (atomic_fetch_add(&x->seen[item >> 24][item & 0xffffff], 1))
			atomic_fetch_add(&x->dupes, 1);
	cr_assert_eq(err, -EPIPE);
	return NULL;
}

static void *xc_ticker(void *arg)
{
	struct xc *x = arg;
	while (corio_sleep(1 * MS) == 0)
		atomic_fetch_add(&x->ticks_while_blocked, 1);
	return NULL;
}

static void *xc_main(void *arg)
{
	struct xc *x = arg;
	uint32_t me = corio_loop_index();
	corio_task *c, *tick;
	cr_assert_eq(corio_spawn(&c, xc_consumer, x), 0);
	cr_assert_eq(corio_spawn(&tick, xc_ticker, x), 0);
	for (uint32_t i = 0; i < XC_ITEMS; i++) {
		uint32_t item = me << 24 | i;
		cr_assert_eq(corio_xchan_send(x->ch, &item), 0);
	}
	if (atomic_fetch_sub(&x->producers_left, 1) == 1)
		corio_xchan_close(x->ch);
	cr_assert_eq(corio_join(c, NULL), 0);
	corio_cancel(tick);
	corio_join(tick, NULL);
	return NULL;
}

Test(threads, xchan_between_four_loops_delivers_every_item_once, .timeout = WAIT_TEST_TIMEOUT)
{
	struct xc *x = calloc(1, sizeof(*x));
	cr_assert_eq(corio_xchan_new(&x->ch, sizeof(uint32_t), 4), 0);
	x->producers_left = XC_LOOPS;
	cr_assert_eq(corio_run_threads(XC_LOOPS, xc_main, x, NULL), 0);
	cr_assert_eq(x->dupes, 0);
	for (int l = 0; l < XC_LOOPS; l++)
		for (int i = 0; i < XC_ITEMS; i++)
			cr_assert_eq(x->seen[l][i], 1, "item %d of loop %d", i, l);
	corio_xchan_free(x->ch);
	free(x);
}

struct bp {
	corio_xchan *ch;
	int ticks;
	int recv_res;
};

static void *bp_ticker(void *arg)
{
	struct bp *b = arg;
	for (int i = 0; i < 5; i++) {
		corio_sleep(2 * MS);
		b->ticks++;
	}
	return NULL;
}

static void *bp_main(void *arg)
{
	struct bp *b = arg;
	int v = 7;
	if (corio_loop_index() == 0) {
		cr_assert_eq(corio_xchan_send(b->ch, &v), 0); /* fills it */
		corio_task *t;
		cr_assert_eq(corio_spawn(&t, bp_ticker, b), 0);
		/* blocks until loop 1 takes the first item; the ticker runs meanwhile */
		cr_assert_eq(corio_xchan_send(b->ch, &v), 0);
		cr_assert_eq(b->ticks, 5);
		corio_xchan_close(b->ch);
		corio_join(t, NULL);
		return NULL;
	}
	corio_sleep(50 * MS);
	int got;
	cr_assert_eq(corio_xchan_recv(b->ch, &got), 0);
	cr_assert_eq(corio_xchan_recv(b->ch, &got), 0);
	cr_assert_eq(got, 7);
	b->recv_res = corio_xchan_recv(b->ch, &got);
	return NULL;
}

Test(threads, xchan_backpressure_suspends_the_task_not_its_loop, .timeout = WAIT_TEST_TIMEOUT)
{
	struct bp b = {0};
	cr_assert_eq(corio_xchan_new(&b.ch, sizeof(int), 1), 0);
	cr_assert_eq(corio_run_threads(2, bp_main, &b, NULL), 0);
	cr_assert_eq(b.recv_res, -EPIPE);
	corio_xchan_free(b.ch);
}

struct xcw {
	corio_xchan *ch;
	int res;
};

static void *xc_waiter(void *arg)
{
	struct xcw *w = arg;
	int v;
	w->res = corio_xchan_recv(w->ch, &v);
	return NULL;
}

static void *xcancel_waiter_main(void *arg)
{
	struct xcw *w = arg;
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, xc_waiter, w), 0);
	corio_sleep(2 * MS);
	corio_cancel(t);
	corio_join(t, NULL);
	int v = 1; /* the cancelled waiter left the queue: the item stays */
	cr_assert_eq(corio_xchan_try_send(w->ch, &v), 0);
	cr_assert_eq(corio_xchan_try_recv(w->ch, &v), 0);
	return NULL;
}

Test(threads, a_cancelled_xchan_waiter_leaves_at_once, .timeout = WAIT_TEST_TIMEOUT)
{
	struct xcw w = {0};
	cr_assert_eq(corio_xchan_new(&w.ch, sizeof(int), 2), 0);
	cr_assert_null(t_run(xcancel_waiter_main, &w, NULL));
	cr_assert_eq(w.res, -ECANCELED);
	corio_xchan_free(w.ch);
}

/* ---- one offload pool for all loops ------------------------------------- */

enum { OFF_LOOPS = 4, OFF_JOBS = 500, OFF_MAX_IDS = 64 };

struct off {
	pthread_mutex_t lock;
	pthread_t ids[OFF_MAX_IDS];
	int nids;
	atomic_int wrong_loop;
};

static void *record_worker(void *arg)
{
	struct off *o = arg;
	pthread_mutex_lock(&o->lock);
	int i;
	for (i = 0; i < o->nids && !pthread_equal(o->ids[i], pthread_self()); i++)
		;
	if (i == o->nids && o->nids < OFF_MAX_IDS)
		o->ids[o->nids++] = pthread_self();
	pthread_mutex_unlock(&o->lock);
	usleep(100);
	return arg;
}

static void *offload_main(void *arg)
{
	struct off *o = arg;
	corio_loop *me = corio_current_loop();
	for (int i = 0; i < OFF_JOBS; i++) {
		void *r;
		cr_assert_eq(corio_offload(record_worker, o, &r), 0);
		cr_assert_eq(r, o);
		if (corio_current_loop() != me)
			atomic_fetch_add(&o->wrong_loop, 1);
	}
	return NULL;
}

Test(threads, loops_share_one_offload_pool_and_get_their_own_jobs_back,
     .timeout = WAIT_TEST_TIMEOUT)
{
	struct off o = {.lock = PTHREAD_MUTEX_INITIALIZER};
	cr_assert_eq(corio_run_threads(OFF_LOOPS, offload_main, &o, NULL), 0);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int pool = cpus < 2 ? 2 : (int)cpus;
	cr_assert_leq(o.nids, pool, "%d workers for %d loops: one pool of %d", o.nids,
		      OFF_LOOPS, pool);
	cr_assert_eq(o.wrong_loop, 0);
}

/* ---- servers on every loop --------------------------------------------- */

enum { SRV_MAX_LOOPS = 4 };

struct srv {
	atomic_int port;
	atomic_uint per_loop[SRV_MAX_LOOPS];
	unsigned conns;       /* client connections */
	bool stop_live;       /* signal while the connections are open */
	int client_err;
	corio_serve_stats stats[SRV_MAX_LOOPS];
};

static void *echo_handler(void *arg)
{
	corio_conn *c = arg;
	struct srv *s = c->arg;
	atomic_fetch_add(&s->per_loop[corio_loop_index()], 1);
	char buf[64];
	ssize_t n;
	while ((n = corio_stream_read(c->stream, buf, sizeof(buf))) > 0) {
		if (corio_stream_write(c->stream, buf, (size_t)n) < 0 ||
		    corio_stream_flush(c->stream) < 0)
			break;
	}
	return NULL;
}

static void on_ready(int port, void *arg)
{
	atomic_store(&((struct srv *)arg)->port, port);
}

static int client_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Read @n bytes: TCP may deliver an echo in pieces (under fault
 * injection's short sends, it does). */
static bool read_n(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static void *client_main(void *arg)
{
	struct srv *s = arg;
	while (!atomic_load(&s->port))
		usleep(1000);
	int *fds = calloc(s->conns, sizeof(int));
	for (unsigned i = 0; i < s->conns; i++) {
		char buf[4];
		fds[i] = client_connect(s->port);
		if (fds[i] < 0 || write(fds[i], "hi\n", 3) != 3 || !read_n(fds[i], buf, 3) ||
		    memcmp(buf, "hi\n", 3))
			s->client_err++;
	}
	if (!s->stop_live)
		for (unsigned i = 0; i < s->conns; i++)
			close(fds[i]);
	kill(getpid(), SIGTERM);
	if (s->stop_live) {
		for (unsigned i = 0; i < s->conns; i++) {
			char c;
			if (read(fds[i], &c, 1) != 0) /* the server ends it: EOF */
				s->client_err++;
			close(fds[i]);
		}
	}
	free(fds);
	return NULL;
}

/* Run a server on @loops loops against one client thread; SIGTERM (from
 * the client) stops it. */
static int run_server(struct srv *s, unsigned loops, bool single)
{
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL); /* the client thread inherits it */
	pthread_t client;
	cr_assert_eq(pthread_create(&client, NULL, client_main, s), 0);
	corio_serve_options o = {.arg = s, .grace_ns = 100 * MS};
	corio_serve_threads_options to = {.threads = loops, .single_acceptor = single,
					  .ready = on_ready, .ready_arg = s,
					  .stats = s->stats, .nstats = SRV_MAX_LOOPS};
	int err = corio_serve_threads("127.0.0.1", "0", echo_handler, &o, &to);
	pthread_join(client, NULL);
	return err;
}

static void check_spread(struct srv *s, unsigned loops)
{
	unsigned total = 0;
	for (unsigned i = 0; i < loops; i++) {
		cr_assert_gt(s->per_loop[i], 0, "loop %u served nothing", i);
		cr_assert_eq(s->stats[i].accepted, s->per_loop[i]);
		total += s->per_loop[i];
	}
	cr_assert_eq(total, s->conns);
}

Test(threads, every_loop_of_two_accepts_on_its_reuseport_listener, .timeout = WAIT_TEST_TIMEOUT)
{
	struct srv s = {.conns = 64};
	cr_assert_eq(run_server(&s, 2, false), 0);
	cr_assert_eq(s.client_err, 0);
	check_spread(&s, 2);
}

Test(threads, every_loop_of_four_accepts_on_its_reuseport_listener, .timeout = WAIT_TEST_TIMEOUT)
{
	struct srv s = {.conns = 128};
	cr_assert_eq(run_server(&s, 4, false), 0);
	cr_assert_eq(s.client_err, 0);
	check_spread(&s, 4);
}

Test(threads, a_single_acceptor_deals_connections_to_four_loops_in_turn,
     .timeout = WAIT_TEST_TIMEOUT)
{
	struct srv s = {.conns = 8};
	cr_assert_eq(run_server(&s, 4, true), 0);
	cr_assert_eq(s.client_err, 0);
	check_spread(&s, 4);
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(s.per_loop[i], 2);
}

Test(threads, sigterm_stops_every_loop_with_live_connections, .timeout = WAIT_TEST_TIMEOUT)
{
	struct srv s = {.conns = 16, .stop_live = true};
	cr_assert_eq(run_server(&s, 4, false), 0);
	cr_assert_eq(s.client_err, 0);
	unsigned cancelled = 0;
	for (unsigned i = 0; i < 4; i++)
		cancelled += (unsigned)s.stats[i].cancelled;
	cr_assert_eq(cancelled, 16, "idle handlers cancelled after the grace period");
}

Test(threads, sigterm_stops_a_single_acceptor_with_live_connections,
     .timeout = WAIT_TEST_TIMEOUT)
{
	struct srv s = {.conns = 8, .stop_live = true};
	cr_assert_eq(run_server(&s, 2, true), 0);
	cr_assert_eq(s.client_err, 0);
	cr_assert_eq(s.stats[0].cancelled + s.stats[1].cancelled, 8);
}

/* ---- a graceful stop never resets a connection it let in ---------------- */

/*
 * Two loops, REUSEPORT.  A "holder" connection on each loop keeps its
 * server in the grace period.  Phase 1: both loops are blocked (a blocking
 * read in a handler) while the client completes 32 handshakes, sends on
 * each and sends SIGTERM: all 32 were queued before the stop and must be
 * served.  Phase 2: once both holders report their server stopping, 16
 * more clients connect 100 ms later; each must be served or never connected (or get
 * a clean EOF) -- a handshake that completed and then met a reset when a
 * listener closed would lose its request.
 */
enum { LATE_QUEUED = 32, LATE_AFTER = 16, LATE_LOOPS = 2 };

struct late {
	atomic_int port;
	int release[2];      /* a byte per blocked holder */
	int queued_ok, queued_bad;
	int after_served, after_refused, after_reset, after_other;
};

static void *late_handler(void *arg)
{
	corio_conn *c = arg;
	struct late *t = c->arg;
	char buf[64];
	ssize_t n = corio_stream_read(c->stream, buf, sizeof(buf));
	if (n == 4 && !memcmp(buf, "who\n", 4)) {
		char b = (char)('0' + corio_loop_index());
		corio_stream_write(c->stream, &b, 1);
		corio_stream_flush(c->stream);
		n = corio_stream_read(c->stream, buf, sizeof(buf));
		if (n <= 0)
			return NULL; /* not kept as a holder */
		corio_stream_write(c->stream, "B", 1);
		corio_stream_flush(c->stream);
		/* the loop's thread stops here until the client releases it */
		while (read(t->release[0], &b, 1) < 0 && errno == EINTR)
			;
		while (!corio_server_stopping(c->server))
			if (corio_sleep(1 * MS))
				return NULL;
		corio_stream_write(c->stream, "S", 1);
		corio_stream_flush(c->stream);
		while (corio_stream_read(c->stream, buf, sizeof(buf)) > 0)
			;
		return NULL;
	}
	while (n > 0) {
		if (corio_stream_write(c->stream, buf, (size_t)n) < 0 ||
		    corio_stream_flush(c->stream) < 0)
			break;
		n = corio_stream_read(c->stream, buf, sizeof(buf));
	}
	return NULL;
}

static void on_ready_late(int port, void *arg)
{
	atomic_store(&((struct late *)arg)->port, port);
}

static bool read_exact(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

/* Non-blocking connects to @port, waited for together up to @ms. */
static void connect_all(int port, int *fds, int n, int ms)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	uint64_t end = t_clock() + (uint64_t)ms * MS;
	for (;;) {
		struct pollfd pf[LATE_QUEUED];
		int k = 0;
		for (int i = 0; i < n; i++)
			pf[i] = (struct pollfd){.fd = fds[i], .events = POLLOUT};
		uint64_t now = t_clock();
		if (now >= end || poll(pf, (nfds_t)n, (int)((end - now) / MS) + 1) < 0)
			break;
		for (int i = 0; i < n; i++)
			k += fds[i] < 0 || (pf[i].revents & (POLLOUT | POLLERR | POLLHUP));
		if (k == n)
			break;
	}
	for (int i = 0; i < n; i++) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		struct pollfd pf = {.fd = fds[i], .events = POLLOUT};
		if (fds[i] < 0)
			continue;
		if (poll(&pf, 1, 0) != 1 || getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &soerr, &len) ||
		    soerr) {
			close(fds[i]); /* never connected (SYN unanswered) or refused */
			fds[i] = -1;
			continue;
		}
		int fl = fcntl(fds[i], F_GETFL);
		fcntl(fds[i], F_SETFL, fl & ~O_NONBLOCK);
	}
}

static void *late_client(void *arg)
{
	struct late *t = arg;
	while (!atomic_load(&t->port))
		usleep(1000);
	int port = atomic_load(&t->port);
	int holder[LATE_LOOPS] = {-1, -1}, have = 0;
	for (int tries = 0; have < LATE_LOOPS && tries < 64; tries++) {
		int fd = client_connect(port);
		char b;
		if (fd < 0 || write(fd, "who\n", 4) != 4 || !read_exact(fd, &b, 1)) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		int i = b - '0';
		if (i >= 0 && i < LATE_LOOPS && holder[i] < 0) {
			holder[i] = fd;
			have++;
		} else {
			close(fd);
		}
	}
	cr_assert_eq(have, LATE_LOOPS, "a holder on each loop");
	/* phase 1: both loops blocked; handshakes complete in the kernel */
	for (int i = 0; i < LATE_LOOPS; i++) {
		char b;
		cr_assert_eq(write(holder[i], "block\n", 6), 6);
		cr_assert(read_exact(holder[i], &b, 1) && b == 'B');
	}
	int q[LATE_QUEUED];
	for (int i = 0; i < LATE_QUEUED; i++) {
		q[i] = client_connect(port);
		cr_assert_geq(q[i], 0);
		cr_assert_eq(write(q[i], "hi\n", 3), 3);
	}
	kill(getpid(), SIGTERM);
	cr_assert_eq(write(t->release[1], "xx", LATE_LOOPS), LATE_LOOPS);
	for (int i = 0; i < LATE_QUEUED; i++) {
		char buf[3];
		if (read_exact(q[i], buf, 3) && !memcmp(buf, "hi\n", 3))
			t->queued_ok++;
		else
			t->queued_bad++;
		close(q[i]);
	}
	/* phase 2: every loop is stopping, its holder keeps it in grace */
	for (int i = 0; i < LATE_LOOPS; i++) {
		char b;
		cr_assert(read_exact(holder[i], &b, 1) && b == 'S');
	}
	usleep(100 * 1000); /* the scenario: clients that come 100 ms after the stop */
	int a[LATE_AFTER];
	connect_all(port, a, LATE_AFTER, 300);
	for (int i = 0; i < LATE_AFTER; i++)
		if (a[i] >= 0 && write(a[i], "hi\n", 3) != 3) {
			close(a[i]);
			a[i] = -1;
			t->after_reset++;
		}
	for (int i = 0; i < LATE_LOOPS; i++)
		close(holder[i]); /* the grace period ends, the listeners close */
	for (int i = 0; i < LATE_AFTER; i++) {
		if (a[i] < 0) {
			t->after_refused++;
			continue;
		}
		char buf[3];
		ssize_t r = read(a[i], buf, 3);
		if (r == 3 && !memcmp(buf, "hi\n", 3))
			t->after_served++;
		else if (r == 0)
			t->after_refused++; /* a clean close: nothing was lost silently */
		else if (r < 0 && errno == ECONNRESET)
			t->after_reset++;
		else
			t->after_other++;
		close(a[i]);
	}
	return NULL;
}

static void run_late(bool single)
{
	struct late t = {0};
	t_pipe(t.release);
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL); /* the client thread inherits it */
	pthread_t client;
	cr_assert_eq(pthread_create(&client, NULL, late_client, &t), 0);
	corio_serve_options o = {.arg = &t, .grace_ns = 10000 * MS};
	corio_serve_threads_options to = {.threads = LATE_LOOPS, .ready = on_ready_late,
					  .ready_arg = &t, .single_acceptor = single};
	int err = corio_serve_threads("127.0.0.1", "0", late_handler, &o, &to);
	pthread_join(client, NULL);
	cr_assert_eq(err, 0);
	cr_assert_eq(t.queued_ok, LATE_QUEUED, "%d of %d queued before the stop served",
		     t.queued_ok, LATE_QUEUED);
	if (getenv("LATE_DEBUG"))
		fprintf(stderr, "late: %d served, %d not let in, %d reset, %d other\n",
			t.after_served, t.after_refused, t.after_reset, t.after_other);
	cr_assert_eq(t.after_reset + t.after_other, 0,
		     "late connections: %d served, %d not let in, %d reset, %d other",
		     t.after_served, t.after_refused, t.after_reset, t.after_other);
	close(t.release[0]);
	close(t.release[1]);
}

Test(threads, a_stop_serves_what_was_queued_and_never_resets_a_late_connection,
     .timeout = WAIT_TEST_TIMEOUT)
{
	run_late(false);
}

Test(threads, a_single_acceptor_stop_serves_the_queue_and_never_resets_a_late_one,
     .timeout = WAIT_TEST_TIMEOUT)
{
	run_late(true);
}

/* ---- HTTP on every loop -------------------------------------------------- */

enum { HT_LOOPS = 2, HT_CONNS = 48, HT_REQS = 25 };

struct ht {
	atomic_int port;
	atomic_uint per_loop[HT_LOOPS];
	int ok, bad;
	unsigned served_by[HT_LOOPS]; /* answers the client saw, by loop */
};

static int ht_handler(corio_http_request *r, void *arg)
{
	struct ht *t = arg;
	unsigned i = corio_loop_index();
	atomic_fetch_add(&t->per_loop[i], 1);
	char body[256];
	int n = snprintf(body, sizeof(body), "%u %s", i, corio_http_request_target(r));
	return corio_http_respond(r, 200, "text/plain", body, (size_t)n);
}

static void on_ready_ht(int port, void *arg)
{
	atomic_store(&((struct ht *)arg)->port, port);
}

/* One response off @fd: its body into @body (NUL-terminated); -1 if bad. */
static int ht_read_response(int fd, char *body, size_t cap)
{
	char head[1024];
	size_t len = 0;
	while (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4)) {
		if (len == sizeof(head) - 1 || read(fd, head + len, 1) != 1)
			return -1;
		len++;
	}
	head[len] = 0;
	const char *cl = strcasestr(head, "\r\nContent-Length:");
	if (strncmp(head, "HTTP/1.1 200", 12) || !cl)
		return -1;
	size_t n = strtoul(cl + 17, NULL, 10);
	if (n >= cap || !read_exact(fd, body, n))
		return -1;
	body[n] = 0;
	return (int)n;
}

static void *ht_client(void *arg)
{
	struct ht *t = arg;
	while (!atomic_load(&t->port))
		usleep(1000);
	int fds[HT_CONNS];
	for (int c = 0; c < HT_CONNS; c++)
		fds[c] = client_connect(atomic_load(&t->port));
	for (int k = 0; k < HT_REQS; k++) {
		for (int c = 0; c < HT_CONNS; c++) { /* every connection kept alive */
			char req[128], body[256], want[64];
			int n = snprintf(req, sizeof(req),
					 "GET /c%d/r%d HTTP/1.1\r\nHost: x\r\n\r\n", c, k);
			snprintf(want, sizeof(want), "/c%d/r%d", c, k);
			unsigned loop;
			char target[64];
			if (fds[c] < 0 || write(fds[c], req, (size_t)n) != n ||
			    ht_read_response(fds[c], body, sizeof(body)) < 0 ||
			    sscanf(body, "%u %63s", &loop, target) != 2 || loop >= HT_LOOPS ||
			    strcmp(target, want)) {
				t->bad++;
				continue;
			}
			t->ok++;
			t->served_by[loop]++;
		}
	}
	for (int c = 0; c < HT_CONNS; c++)
		if (fds[c] >= 0)
			close(fds[c]);
	kill(getpid(), SIGTERM);
	return NULL;
}

Test(threads, http_on_two_reuseport_loops_answers_every_keepalive_request,
     .timeout = WAIT_TEST_TIMEOUT)
{
	struct ht t = {0};
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	pthread_t client;
	cr_assert_eq(pthread_create(&client, NULL, ht_client, &t), 0);
	corio_serve_stats st[HT_LOOPS] = {{0}};
	corio_http_serve_options o = {.serve.grace_ns = 1000 * MS};
	corio_serve_threads_options to = {.threads = HT_LOOPS, .ready = on_ready_ht,
					  .ready_arg = &t, .stats = st, .nstats = HT_LOOPS};
	int err = corio_http_serve_threads("127.0.0.1", "0", ht_handler, &t, &o, &to);
	pthread_join(client, NULL);
	cr_assert_eq(err, 0);
	cr_assert_eq(t.bad, 0);
	cr_assert_eq(t.ok, HT_CONNS * HT_REQS);
	uint64_t conns = 0;
	for (unsigned i = 0; i < HT_LOOPS; i++) {
		cr_assert_gt(t.served_by[i], 0, "loop %u answered nothing", i);
		cr_assert_eq(t.served_by[i], atomic_load(&t.per_loop[i]));
		cr_assert_eq(t.served_by[i] % HT_REQS, 0, "a connection stays on its loop");
		conns += st[i].accepted;
	}
	cr_assert_eq(conns, HT_CONNS);
}

Test(threads, http_serve_threads_refuses_bad_options, .timeout = WAIT_TEST_TIMEOUT)
{
	corio_http_serve_options o = {.max_headers = 20000};
	cr_assert_eq(corio_http_serve_threads("127.0.0.1", "0", ht_handler, NULL, &o, NULL),
		     -EINVAL);
	cr_assert_eq(corio_http_serve_threads("127.0.0.1", "0", NULL, NULL, NULL, NULL), -EINVAL);
}

/* ---- cross-loop traffic in the loop's counters --------------------------- */

enum { ST_MSGS = 1000 };

struct stx {
	unsigned back;
	corio_event done[2];
	corio_loop_stats st[2];
};

static void st_back(void *arg);

static void st_there(void *arg)
{
	corio_call_threadsafe(corio_loop_at(0), st_back, arg);
}

static void st_back(void *arg)
{
	struct stx *x = arg;
	if (++x->back == ST_MSGS)
		corio_event_set(&x->done[0]);
	else
		corio_call_threadsafe(corio_loop_at(1), st_there, x);
}

static void st_set(void *arg)
{
	corio_event_set(arg);
}

static void *stats_main(void *arg)
{
	struct stx *x = arg;
	unsigned me = corio_loop_index();
	if (me == 0)
		corio_call_threadsafe(corio_loop_at(1), st_there, x);
	corio_event_wait(&x->done[me]);
	if (me == 0)
		corio_call_threadsafe(corio_loop_at(1), st_set, &x->done[1]);
	corio_loop_get_stats(corio_current_loop(), &x->st[me]);
	return NULL;
}

Test(threads, loop_stats_count_messages_and_wakeups_between_loops,
     .timeout = WAIT_TEST_TIMEOUT)
{
	struct stx x = {0};
	corio_event_init(&x.done[0]);
	corio_event_init(&x.done[1]);
	/* no spinning: a loop with nothing to do sleeps in the kernel, and
	 * only a sleeping loop is woken through it */
	corio_threads_options o = {.no_signals = 1, .spin_ns = -1};
	cr_assert_eq(corio_run_threads_ex(2, stats_main, &x, NULL, &o), 0);
	cr_assert_eq(x.st[0].spins + x.st[1].spins, 0);
	/* one at a time: loop 0 sent ST_MSGS pings and the final call */
	cr_assert_eq(x.st[0].msgs_sent, ST_MSGS + 1);
	cr_assert_eq(x.st[1].msgs_received, ST_MSGS + 1);
	cr_assert_eq(x.st[1].msgs_sent, ST_MSGS);
	cr_assert_eq(x.st[0].msgs_received, ST_MSGS);
	for (int i = 0; i < 2; i++) {
		cr_assert_geq(x.st[i].wakeups, 1);
		cr_assert_leq(x.st[i].wakeups, x.st[i].msgs_received + 1, "one per batch at most");
		cr_assert_geq(x.st[i].wakeups_sent, 1);
		cr_assert_leq(x.st[i].wakeups_sent, x.st[i].msgs_sent);
	}
}
