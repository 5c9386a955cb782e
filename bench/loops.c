/* SPDX-License-Identifier: MIT */
/*
 * bench/loops.c - many cores.  Loop-to-loop messages (corio_call_threadsafe
 * between two loops of corio_run_threads: the MSG_RING path and the
 * eventfd path; with and without the loops' bounded spin before sleeping)
 * beside a pthread mutex+condvar hand-off (plain, and with the same bounded
 * spin) and a pipe between two threads, same rounds, rotating: round trip
 * (one message in flight) and throughput (a window of 64).  Then an echo server and an HTTP hello
 * server with 1 and 2 loops (corio_serve_threads, corio_http_serve_threads,
 * REUSEPORT) in a child process, loaded by 500 keep-alive connections:
 * requests/s, the server's CPU µs per request (from /proc/PID/stat), the
 * ratio of 2 loops to 1 per round, and how the connections spread over the
 * loops.
 * Medians with min-max.  Usage: bench-loops [--quick|--full] [--pin] [--rtt]
 * [--rounds N] (--rtt: the round trips only).
 */
#include <corio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 15
static int pin; /* --pin: threads and loops on fixed CPUs (off: on a shared
		 * machine a pinned thread waits behind others' work) */
#define WINDOW 64

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct fig {
	double v[MAX_RUNS];
	int n;
};

static void add(struct fig *f, double v)
{
	f->v[f->n++] = v;
}

static double med(struct fig *f)
{
	qsort(f->v, (size_t)f->n, sizeof(double), cmp_d);
	return f->v[f->n / 2];
}

/* ---- corio: two loops ------------------------------------------------- */

struct l2l {
	uint64_t rounds, sent, back;
	unsigned window;
	corio_event done[2];
};

static void on_back(void *arg);

static void on_there(void *arg) /* loop 1: reply */
{
	corio_call_threadsafe(corio_loop_at(0), on_back, arg);
}

static void on_back(void *arg) /* loop 0 */
{
	struct l2l *x = arg;
	if (++x->back == x->rounds) {
		corio_event_set(&x->done[0]);
		return;
	}
	if (x->sent < x->rounds) {
		x->sent++;
		corio_call_threadsafe(corio_loop_at(1), on_there, x);
	}
}

static void set_ev(void *arg)
{
	corio_event_set(arg);
}

static void *l2l_main(void *arg)
{
	struct l2l *x = arg;
	unsigned me = corio_loop_index();
	if (me == 0)
		for (unsigned i = 0; i < x->window; i++) {
			x->sent++;
			corio_call_threadsafe(corio_loop_at(1), on_there, x);
		}
	corio_event_wait(&x->done[me]);
	if (me == 0)
		corio_call_threadsafe(corio_loop_at(1), set_ev, &x->done[1]);
	if (getenv("BENCH_LOOPS_STATS")) {
		corio_loop_stats st;
		corio_loop_get_stats(corio_current_loop(), &st);
		fprintf(stderr, "loop %u: turns %llu enters %llu sent %llu received %llu "
			"wakeups %llu/%llu spins %llu hits %llu\n", me,
			(unsigned long long)st.turns, (unsigned long long)st.enters,
			(unsigned long long)st.msgs_sent, (unsigned long long)st.msgs_received,
			(unsigned long long)st.wakeups_sent, (unsigned long long)st.wakeups,
			(unsigned long long)st.spins, (unsigned long long)st.spin_hits);
	}
	return NULL;
}

/* ns per message round trip (@window 1) or per message (@window > 1). */
static double run_l2l(uint64_t rounds, unsigned window, bool eventfd, bool spin)
{
	struct l2l x = {.rounds = rounds, .window = window};
	corio_event_init(&x.done[0]);
	corio_event_init(&x.done[1]);
	if (eventfd)
		setenv("CORIO_NO_MSG_RING", "1", 1);
	corio_threads_options o = {.pin = pin, .no_signals = 1, .spin_ns = spin ? 0 : -1};
	uint64_t t0 = now_ns();
	corio_run_threads_ex(2, l2l_main, &x, NULL, &o);
	uint64_t t = now_ns() - t0;
	unsetenv("CORIO_NO_MSG_RING");
	return (double)t / (double)rounds;
}

/* ---- peers: condvar hand-off and a pipe --------------------------------- */

struct cv {
	pthread_mutex_t m;
	pthread_cond_t c;
	uint64_t ball;   /* odd: with the other thread */
	uint64_t rounds;
};

static cpu_set_t main_cpus; /* the main thread's own, restored after a peer run */

static void unpin_self(void)
{
	pthread_setaffinity_np(pthread_self(), sizeof(main_cpus), &main_cpus);
}

static void pin_self(int cpu)
{
	if (!pin)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *cv_peer(void *arg)
{
	struct cv *c = arg;
	pin_self(1);
	pthread_mutex_lock(&c->m);
	for (;;) {
		while (!(c->ball & 1))
			pthread_cond_wait(&c->c, &c->m);
		c->ball++;
		pthread_cond_signal(&c->c);
		if (c->ball >= 2 * c->rounds)
			break;
	}
	pthread_mutex_unlock(&c->m);
	return NULL;
}

static double run_condvar(uint64_t rounds)
{
	struct cv c = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER,
		       .rounds = rounds};
	pthread_t t;
	pin_self(0);
	pthread_create(&t, NULL, cv_peer, &c);
	uint64_t t0 = now_ns();
	pthread_mutex_lock(&c.m);
	for (uint64_t i = 0; i < rounds; i++) {
		c.ball++;
		pthread_cond_signal(&c.c);
		while (c.ball & 1)
			pthread_cond_wait(&c.c, &c.m);
	}
	pthread_mutex_unlock(&c.m);
	uint64_t dt = now_ns() - t0;
	pthread_join(t, NULL);
	unpin_self();
	return (double)dt / (double)rounds;
}

/* The condvar hand-off with the same bounded spin as corio's loops
 * (spin_ns, 20 µs): each side polls the ball before it waits. */
#define CV_SPIN_NS 20000

struct cvs {
	pthread_mutex_t m;
	pthread_cond_t c;
	_Atomic uint64_t ball; /* odd: with the other thread */
	uint64_t rounds;
};

static void cvs_pass(struct cvs *c)
{
	pthread_mutex_lock(&c->m);
	atomic_fetch_add(&c->ball, 1);
	pthread_cond_signal(&c->c);
	pthread_mutex_unlock(&c->m);
}

static void cvs_await(struct cvs *c, uint64_t want)
{
	uint64_t end = now_ns() + CV_SPIN_NS;
	do
		for (int i = 0; i < 32; i++)
			if (atomic_load(&c->ball) == want)
				return;
	while (now_ns() < end);
	pthread_mutex_lock(&c->m);
	while (atomic_load(&c->ball) != want)
		pthread_cond_wait(&c->c, &c->m);
	pthread_mutex_unlock(&c->m);
}

static void *cvs_peer(void *arg)
{
	struct cvs *c = arg;
	pin_self(1);
	for (uint64_t i = 0; i < c->rounds; i++) {
		cvs_await(c, 2 * i + 1);
		cvs_pass(c);
	}
	return NULL;
}

static double run_condvar_spin(uint64_t rounds)
{
	struct cvs c = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER,
			.rounds = rounds};
	pthread_t t;
	pin_self(0);
	pthread_create(&t, NULL, cvs_peer, &c);
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < rounds; i++) {
		cvs_pass(&c);
		cvs_await(&c, 2 * i + 2);
	}
	uint64_t dt = now_ns() - t0;
	pthread_join(t, NULL);
	unpin_self();
	return (double)dt / (double)rounds;
}

struct pp {
	int to[2], from[2];
	uint64_t rounds;
};

static void *pipe_peer(void *arg)
{
	struct pp *p = arg;
	pin_self(1);
	char b;
	for (uint64_t i = 0; i < p->rounds; i++)
		if (read(p->to[0], &b, 1) != 1 || write(p->from[1], &b, 1) != 1)
			break;
	return NULL;
}

static double run_pipe(uint64_t rounds)
{
	struct pp p = {.rounds = rounds};
	if (pipe(p.to) || pipe(p.from))
		return 0;
	pthread_t t;
	pin_self(0);
	pthread_create(&t, NULL, pipe_peer, &p);
	uint64_t t0 = now_ns();
	char b = 'x';
	for (uint64_t i = 0; i < rounds; i++)
		if (write(p.to[1], &b, 1) != 1 || read(p.from[0], &b, 1) != 1)
			break;
	uint64_t dt = now_ns() - t0;
	pthread_join(t, NULL);
	unpin_self();
	close(p.to[0]), close(p.to[1]), close(p.from[0]), close(p.from[1]);
	return (double)dt / (double)rounds;
}

/* ---- echo: 1 and 2 loops ------------------------------------------------ */

#define ECHO_CONNS 500
#define ECHO_MSG 64

/* In the child: each loop's kernel enters and turns, as the last echo
 * connection to end on it saw them (the load has stopped by then). */
static uint64_t child_enters[2], child_turns[2];

static void *echo_handler(void *arg)
{
	corio_conn *c = arg;
	char buf[4096];
	ssize_t n;
	while ((n = corio_stream_read(c->stream, buf, sizeof(buf))) > 0)
		if (corio_stream_write(c->stream, buf, (size_t)n) < 0 ||
		    corio_stream_flush(c->stream) < 0)
			break;
	corio_loop_stats st;
	unsigned i = corio_loop_index();
	if (i < 2 && !corio_loop_get_stats(corio_current_loop(), &st)) {
		child_enters[i] = st.enters;
		child_turns[i] = st.turns;
	}
	return NULL;
}

static const char hello[] = "Hello, World!\n";

static int hello_handler(corio_http_request *r, void *arg)
{
	(void)arg;
	return corio_http_respond(r, 200, "text/plain", hello, sizeof(hello) - 1);
}

static int ready_fd = -1;

static void on_ready(int port, void *arg)
{
	(void)arg;
	if (write(ready_fd, &port, sizeof(port)) != sizeof(port))
		_exit(1);
}

/* The child: serve (echo, or HTTP hello) until SIGTERM, then write the
 * per-loop accept counts. */
static void serve_child(unsigned loops, bool http, int wfd)
{
	ready_fd = wfd;
	corio_serve_stats st[2] = {{0}};
	corio_serve_options o = {.grace_ns = 100ull * 1000 * 1000};
	corio_serve_threads_options to = {.threads = loops, .pin = pin, .ready = on_ready,
					  .stats = st, .nstats = 2};
	corio_http_serve_options ho = {.serve = o};
	int err = http ? corio_http_serve_threads("127.0.0.1", "0", hello_handler, NULL, &ho, &to)
		       : corio_serve_threads("127.0.0.1", "0", echo_handler, &o, &to);
	uint64_t acc[4] = {st[0].accepted, st[1].accepted, child_enters[0] + child_enters[1],
			   child_turns[0] + child_turns[1]};
	if (write(wfd, acc, sizeof(acc)) != sizeof(acc))
		_exit(1);
	_exit(err ? 1 : 0);
}

static uint64_t proc_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, stt = 0;
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	if (p)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt);
	return ut + stt;
}

struct load {
	int port;
	int first, count; /* connections of this thread */
	int *fds;
	atomic_int *go;   /* 1: run, 2: stop */
	bool http;
	uint64_t reqs;
};

static const char http_req[] = "GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n";

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

/* One HTTP response (one request is in flight per connection, so nothing
 * follows it): read until the head and its Content-Length bytes are in. */
static bool read_http(int fd)
{
	char buf[1024];
	size_t len = 0, want = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			return false;
		len += (size_t)r;
		buf[len] = 0;
		if (!want) {
			const char *end = strstr(buf, "\r\n\r\n");
			const char *cl = strstr(buf, "Content-Length:");
			if (!end)
				continue;
			if (!cl || strncmp(buf, "HTTP/1.1 200", 12))
				return false;
			want = (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10);
		}
		if (len >= want)
			return len == want;
		if (len == sizeof(buf) - 1)
			return false;
	}
}

/* Send one request on each connection, then read each answer back. */
static void *load_main(void *arg)
{
	struct load *l = arg;
	char buf[ECHO_MSG];
	memset(buf, 'a', sizeof(buf));
	const char *req = l->http ? http_req : buf;
	size_t rlen = l->http ? sizeof(http_req) - 1 : sizeof(buf);
	while (atomic_load(l->go) == 0)
		;
	while (atomic_load(l->go) == 1) {
		for (int i = 0; i < l->count; i++)
			if (write(l->fds[l->first + i], req, rlen) != (ssize_t)rlen)
				return NULL;
		for (int i = 0; i < l->count; i++)
			if (!(l->http ? read_http(l->fds[l->first + i])
				      : read_n(l->fds[l->first + i], buf, sizeof(buf))))
				return NULL;
		l->reqs += (uint64_t)l->count;
	}
	return NULL;
}

struct echo_res {
	double rps, cpu_us_per_req, spread; /* spread: max deviation from even, % */
	double enters_per_req;              /* echo: the loops' kernel enters */
};

static int connect_to(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	int on = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return fd;
}

static struct echo_res run_echo(unsigned loops, bool http, double secs)
{
	struct echo_res r = {0};
	int pfd[2];
	if (pipe(pfd))
		return r;
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		serve_child(loops, http, pfd[1]);
	}
	close(pfd[1]);
	int port = 0;
	if (read(pfd[0], &port, sizeof(port)) != sizeof(port))
		return r;
	int fds[ECHO_CONNS];
	for (int i = 0; i < ECHO_CONNS; i++)
		fds[i] = connect_to(port);
	atomic_int go = 0;
	enum { CLIENTS = 2 };
	struct load ld[CLIENTS];
	pthread_t th[CLIENTS];
	for (int c = 0; c < CLIENTS; c++) {
		ld[c] = (struct load){.port = port, .first = c * ECHO_CONNS / CLIENTS,
				     .count = ECHO_CONNS / CLIENTS, .fds = fds, .go = &go,
				     .http = http};
		pthread_create(&th[c], NULL, load_main, &ld[c]);
	}
	usleep(200 * 1000); /* every connection accepted */
	uint64_t c0 = proc_cpu_ticks(pid), t0 = now_ns();
	atomic_store(&go, 1);
	usleep((useconds_t)(secs * 1e6));
	atomic_store(&go, 2);
	uint64_t reqs = 0;
	for (int c = 0; c < CLIENTS; c++) {
		pthread_join(th[c], NULL);
		reqs += ld[c].reqs;
	}
	uint64_t c1 = proc_cpu_ticks(pid), t1 = now_ns();
	for (int i = 0; i < ECHO_CONNS; i++)
		close(fds[i]);
	kill(pid, SIGTERM);
	uint64_t acc[4] = {0};
	if (read(pfd[0], acc, sizeof(acc)) != sizeof(acc))
		memset(acc, 0, sizeof(acc));
	waitpid(pid, NULL, 0);
	close(pfd[0]);
	double hz = (double)sysconf(_SC_CLK_TCK);
	r.rps = (double)reqs / ((double)(t1 - t0) / 1e9);
	r.cpu_us_per_req = reqs ? (double)(c1 - c0) / hz * 1e6 / (double)reqs : 0;
	/* whole run (warm-up and drain included): enters per request */
	r.enters_per_req = reqs && !http ? (double)acc[2] / (double)reqs : 0;
	if (loops == 2) {
		double even = ECHO_CONNS / 2.0;
		double d = acc[0] > acc[1] ? (double)acc[0] - even : (double)acc[1] - even;
		r.spread = d / even * 100.0;
	}
	return r;
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
	bool quick = true, rtt_only = false;
	int runs = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--full"))
			quick = false;
		else if (!strcmp(argv[i], "--pin"))
			pin = 1;
		else if (!strcmp(argv[i], "--rtt"))
			rtt_only = true;
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: bench-loops [--quick|--full] [--pin] [--rtt] [--rounds 1..%d]\n",
				MAX_RUNS);
			return 2;
		}
	}
	pthread_getaffinity_np(pthread_self(), sizeof(main_cpus), &main_cpus);
	if (runs <= 0 || runs > MAX_RUNS)
		runs = quick ? 3 : 5;
	uint64_t rt = quick ? 100000 : 500000, tp = quick ? 1000000 : 5000000;
	double esecs = quick ? 1.5 : 4.0;
	struct fig rt_ring = {0}, rt_efd = {0}, rt_cv = {0}, rt_pipe = {0};
	struct fig rt_ring_ns = {0}, rt_efd_ns = {0}; /* spin_ns < 0: sleep at once */
	struct fig rt_cvs = {0}; /* condvar with the same bounded spin */
	struct fig tp_ring = {0}, tp_efd = {0};
	struct srvfig {
		struct fig rps1, rps2, cpu1, cpu2, spread, cpu_ratio, ent1, ent2;
	} sf[2] = {0}; /* echo, HTTP hello */
	for (int r = 0; r < runs; r++) {
		for (int k = 0; k < 7; k++) { /* rotate the order each round */
			switch ((k + r) % 7) {
			case 0: add(&rt_ring, run_l2l(rt, 1, false, true)); break;
			case 1: add(&rt_efd, run_l2l(rt, 1, true, true)); break;
			case 2: add(&rt_cv, run_condvar(rt)); break;
			case 3: add(&rt_pipe, run_pipe(rt)); break;
			case 4: add(&rt_ring_ns, run_l2l(rt, 1, false, false)); break;
			case 5: add(&rt_efd_ns, run_l2l(rt, 1, true, false)); break;
			case 6: add(&rt_cvs, run_condvar_spin(rt)); break;
			}
		}
		if (rtt_only)
			continue;
		add(&tp_ring, run_l2l(tp, WINDOW, false, true));
		add(&tp_efd, run_l2l(tp, WINDOW, true, true));
		for (int h = 0; h < 2; h++) { /* echo, then HTTP hello */
			struct echo_res a, b;
			bool http = h == 1;
			if (r % 2) {
				b = run_echo(2, http, esecs);
				a = run_echo(1, http, esecs);
			} else {
				a = run_echo(1, http, esecs);
				b = run_echo(2, http, esecs);
			}
			struct srvfig *f = &sf[h];
			add(&f->rps1, a.rps), add(&f->cpu1, a.cpu_us_per_req);
			add(&f->rps2, b.rps), add(&f->cpu2, b.cpu_us_per_req);
			add(&f->spread, b.spread);
			add(&f->ent1, a.enters_per_req), add(&f->ent2, b.enters_per_req);
			add(&f->cpu_ratio, a.cpu_us_per_req > 0 ? b.cpu_us_per_req / a.cpu_us_per_req : 0);
		}
	}
	struct {
		const char *key, *unit;
		struct fig *f;
	} figs[] = {
		{"l2l_rtt_msg_ring", "ns", &rt_ring}, {"l2l_rtt_eventfd", "ns", &rt_efd},
		{"l2l_rtt_msg_ring_nospin", "ns", &rt_ring_ns},
		{"l2l_rtt_eventfd_nospin", "ns", &rt_efd_ns},
		{"rtt_condvar", "ns", &rt_cv}, {"rtt_condvar_spin20us", "ns", &rt_cvs},
		{"rtt_pipe", "ns", &rt_pipe},
		{"l2l_msg_ring_per_msg_w64", "ns", &tp_ring}, {"l2l_eventfd_per_msg_w64", "ns", &tp_efd},
		{"echo_1loop_rps", "req/s", &sf[0].rps1}, {"echo_2loops_rps", "req/s", &sf[0].rps2},
		{"echo_1loop_cpu_per_req", "us", &sf[0].cpu1},
		{"echo_2loops_cpu_per_req", "us", &sf[0].cpu2},
		{"echo_cpu_per_req_ratio_2loops_1loop", "x", &sf[0].cpu_ratio},
		{"echo_2loops_spread_500conns", "%", &sf[0].spread},
		{"echo_1loop_enters_per_req", "n", &sf[0].ent1},
		{"echo_2loops_enters_per_req", "n", &sf[0].ent2},
		{"http_1loop_rps", "req/s", &sf[1].rps1}, {"http_2loops_rps", "req/s", &sf[1].rps2},
		{"http_1loop_cpu_per_req", "us", &sf[1].cpu1},
		{"http_2loops_cpu_per_req", "us", &sf[1].cpu2},
		{"http_cpu_per_req_ratio_2loops_1loop", "x", &sf[1].cpu_ratio},
		{"http_2loops_spread_500conns", "%", &sf[1].spread},
	};
	printf("# bench-loops: %d rotating rounds, %llu round trips, %llu messages (window %d), "
	       "echo %d conns %.1f s, %s\n",
	       runs, (unsigned long long)rt, (unsigned long long)tp, WINDOW, ECHO_CONNS, esecs,
	       pin ? "pinned" : "not pinned");
	for (size_t i = 0; i < sizeof(figs) / sizeof(figs[0]); i++) {
		struct fig *f = figs[i].f;
		if (!f->n)
			continue;
		double m = med(f);
		printf("%s unit=%s median=%.2f min=%.2f max=%.2f\n", figs[i].key, figs[i].unit, m,
		       f->v[0], f->v[f->n - 1]);
	}
	printf("ratio condvar/msg_ring_rtt=%.2f (target >= 5)\n", med(&rt_cv) / med(&rt_ring));
	printf("ratio condvar/eventfd_rtt=%.2f\n", med(&rt_cv) / med(&rt_efd));
	printf("ratio condvar/msg_ring_rtt_nospin=%.2f\n", med(&rt_cv) / med(&rt_ring_ns));
	printf("ratio condvar_spin/msg_ring_rtt (both spin 20 us)=%.2f\n",
	       med(&rt_cvs) / med(&rt_ring));
	printf("ratio pipe/msg_ring_rtt=%.2f\n", med(&rt_pipe) / med(&rt_ring));
	if (rtt_only)
		return 0;
	for (int h = 0; h < 2; h++) {
		const char *k = h ? "http" : "echo";
		printf("ratio %s cpu_per_req 2loops/1loop=%.2f of medians (target <= 1.1)\n", k,
		       med(&sf[h].cpu2) / med(&sf[h].cpu1));
		printf("ratio %s rps 2loops/1loop=%.2f\n", k, med(&sf[h].rps2) / med(&sf[h].rps1));
		printf("spread %s 2loops at %d conns: %.1f%% from even (target <= 10)\n", k,
		       ECHO_CONNS, med(&sf[h].spread));
	}
	return 0;
}
