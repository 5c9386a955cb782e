/* SPDX-License-Identifier: MIT */
/*
 * bench/echo.c - echo servers side by side: corio (corio_serve, a task per
 * connection, streams) on its io_uring backend and, the same program, on
 * its epoll backend; a hand-written epoll loop (the baseline), libuv, and
 * a hand-written io_uring loop without coroutines (the limit).
 *
 * Two load generators, each a program apart, both in the tables:
 *  - batch: this program's own, on io_uring (multishot receive into
 *    provided buffers, the sends of a turn in one enter), so that it costs
 *    less per round trip than any server;
 *  - pingpong: bench-echo-pingpong (bench/echo_pingpong.c), plain epoll,
 *    one send() per message, as most real clients are written.
 * In both, N connections each send an M-byte message and wait for its
 * echo, over and over.  Streaming runs either generator with a window:
 * each connection keeps W messages in flight, and the figure is echoed
 * MB/s, where a server that batches its system calls should show it.
 * Every echo is checked.
 *
 * Figures: round trips per second (MB/s when streaming), p50/p99 latency,
 * the server's CPU time per round trip over the measured window (from
 * /proc/PID/schedstat; a busy machine disturbs it much less than
 * throughput) and, for corio, its system calls and task switches per
 * round trip (corio_loop_get_stats(), which the server prints on SIGUSR1
 * at both ends of the window): counts that do not move with the
 * machine's noise.  Servers run pinned to CPU 0, the generators to CPU 1;
 * each round runs every contender once, in an order that rotates; each
 * figure is the median of its rounds, printed with its min-max.  One
 * machine-readable line per figure (bench.h), then Markdown tables.
 *
 *   bench-echo [--quick|--full] [--rounds N] [--duration S] [--warmup S]
 *              [--conns 1,50,500] [--sizes 64,4096] [--window W]
 *              [--only batch|pingpong|stream|stream_epoll]
 *   bench-echo --server [port]     (the corio server alone; the backend
 *                                   from $CORIO_BACKEND, as any program;
 *                                   SIGUSR1 prints a STATS line)
 *   bench-echo --client PORT [--conns N] [--sizes M] [--duration S]
 *                                  (the batch generator alone)
 *
 * --quick (bench/run's default): 5 rounds of 2 s after 0.5 s of warm-up,
 * on 50 x 64 B and 500 x 4 KiB with both generators, and streaming on
 * 50 x 64 B and 50 x 4 KiB (batch generator), 50 x 64 B (epoll one);
 * --full: 3 s windows, the whole grid (1, 50, 500 connections x 64 B,
 * 4 KiB) with both generators, streaming on 50 x 64 B and 4 KiB with
 * both.
 */
#include <corio.h>

#include "bench.h"
#include "echo_batch.h"

#include <errno.h>
#include <liburing.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <math.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the corio server ---------------------------------------------------- */

static void *echo_handler(void *arg)
{
	corio_conn *c = arg;
	char buf[16384];
	ssize_t n;
	while ((n = corio_stream_read(c->stream, buf, sizeof(buf))) > 0)
		if (corio_stream_write(c->stream, buf, (size_t)n) < 0)
			break;
	return NULL;
}

/* On SIGUSR1, one line on stdout with the loop's counters and the
 * server's: bench-echo reads it at both ends of a measured window (and
 * bench-idle while it holds its connections). */
static void *stats_task(void *arg)
{
	corio_server *srv = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	int sig;
	while (corio_signal_wait(&set, &sig) == 0) {
		corio_loop_stats st;
		corio_serve_stats ss;
		corio_loop_get_stats(corio_current_loop(), &st);
		corio_server_stats(srv, &ss);
		long rss = -1;
		FILE *f = fopen("/proc/self/statm", "r");
		if (f) {
			long pages;
			if (fscanf(f, "%*s %ld", &pages) == 1)
				rss = pages * (sysconf(_SC_PAGESIZE) / 1024);
			fclose(f);
		}
		unsigned long long sends = 0; /* send ops, of every kind */
		for (unsigned k = 0; k < CORIO_STATS_OP_KINDS; k++)
			if (corio_op_name(k) && !strncmp(corio_op_name(k), "send", 4))
				sends += st.ops[k];
		printf("STATS turns=%llu enters=%llu sqes=%llu cqes=%llu switches=%llu "
		       "accepted=%llu active=%llu rss_kib=%ld sends=%llu\n",
		       (unsigned long long)st.turns, (unsigned long long)st.enters,
		       (unsigned long long)st.sqes, (unsigned long long)st.cqes,
		       (unsigned long long)st.switches, (unsigned long long)ss.accepted,
		       (unsigned long long)ss.active, rss, sends);
		fflush(stdout);
	}
	return NULL;
}

static void *server_main(void *arg)
{
	int lfd = corio_tcp_listen("127.0.0.1", arg, 4096, 0);
	if (lfd < 0) {
		fprintf(stderr, "bench-echo: listen: %s\n", corio_strerror(lfd));
		return CORIO_ERR_PTR(lfd);
	}
	corio_serve_options o = {.stop_signals = (const int[]){SIGTERM, SIGINT, 0}};
	corio_server *srv = NULL;
	corio_task *stats = NULL;
	int err = corio_server_new(&srv, lfd, echo_handler, &o);
	if (!err)
		err = corio_spawn(&stats, stats_task, srv);
	if (!err) {
		/* the backend too: the parent checks it ran the one it asked for */
		printf("PORT %d %s\n", corio_sock_port(lfd),
		       corio_loop_backend(corio_current_loop()));
		fflush(stdout);
		err = corio_server_run(srv);
	}
	if (stats) {
		corio_cancel(stats);
		corio_join(stats, NULL);
	}
	corio_server_free(srv);
	corio_close(lfd);
	if (err)
		fprintf(stderr, "bench-echo: server: %s\n", corio_strerror(err));
	return err ? CORIO_ERR_PTR(err) : NULL;
}

static int run_server(const char *port)
{
	/* blocked before any thread starts: the stats task takes it */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	corio_signal_block(&set);
	void *res = NULL;
	int err = corio_run(server_main, (void *)port, &res);
	return err || corio_is_err(res) ? 1 : 0;
}

/* ---- time, pinning, statistics ---------------------------------------- */

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sysconf(_SC_NPROCESSORS_ONLN) > cpu)
		sched_setaffinity(0, sizeof(set), &set);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- the load generator -------------------------------------------------- */

struct result {
	double rt_per_s, mb_per_s, p50_us, p99_us;
	double cpu_us_rt;  /* server run time per round trip, measured window */
	double enters_rt, switches_rt, sends_rt; /* corio's, per round trip; NAN for peers */
};

/* ---- the server under test, as the generators see it ------------------- */

static struct {
	pid_t pid;
	bool corio;      /* it prints a STATS line on SIGUSR1 */
	struct bench_lines out; /* its stdout */
} server = {.out.fd = -1};

struct sample {
	uint64_t cpu_ns;           /* its run time so far */
	uint64_t enters, switches, sends; /* corio's counters, if stats */
	bool stats;
};

/* The server's run time (/proc/PID/schedstat: precise, and the servers
 * are single-threaded) and, for corio, its counters. */
static void server_sample(struct sample *s)
{
	char path[64];
	unsigned long long ns = 0, e, sw, sn = 0;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)server.pid);
	FILE *f = server.pid > 0 ? fopen(path, "r") : NULL;
	if (f) {
		if (fscanf(f, "%llu", &ns) != 1)
			ns = 0;
		fclose(f);
	}
	s->cpu_ns = ns;
	s->stats = false;
	char line[512];
	if (server.corio && kill(server.pid, SIGUSR1) == 0 &&
	    !bench_read_line(&server.out, line, sizeof(line), 2000) &&
	    sscanf(line, "STATS turns=%*u enters=%llu sqes=%*u cqes=%*u switches=%llu", &e,
		   &sw) == 2) {
		const char *p = strstr(line, " sends=");
		s->enters = e;
		s->switches = sw;
		s->sends = p && sscanf(p, " sends=%llu", &sn) == 1 ? sn : 0;
		s->stats = true;
	}
}

/* The figures of a window from its two samples and its round trips. */
static void window_figures(const struct sample *a, const struct sample *b, uint64_t rts,
			   struct result *r)
{
	double n = (double)rts;
	r->cpu_us_rt = b->cpu_ns > a->cpu_ns && rts ? (double)(b->cpu_ns - a->cpu_ns) / 1e3 / n : 0;
	r->enters_rt = r->switches_rt = r->sends_rt = NAN;
	if (a->stats && b->stats && rts) {
		r->enters_rt = (double)(b->enters - a->enters) / n;
		r->switches_rt = (double)(b->switches - a->switches) / n;
		r->sends_rt = (double)(b->sends - a->sends) / n;
	}
}

struct window {
	struct sample s0, s1; /* the server at the window's ends */
	uint64_t rts0, rts1;  /* round trips done by then */
};

static void drive(struct gen *g, struct window *w)
{
	bool started = false;
	uint64_t t;
	while (!g->err && (t = bench_now_ns()) < g->to) {
		if (!started && t >= g->from) {
			started = true;
			server_sample(&w->s0);
			w->rts0 = g->rts;
		}
		struct __kernel_timespec ts = {.tv_nsec = 100 * 1000 * 1000};
		struct io_uring_cqe *cqe;
		io_uring_submit_and_wait_timeout(&g->ring, &cqe, 1, &ts, NULL);
		unsigned head, n = 0;
		io_uring_for_each_cqe(&g->ring, head, cqe)
		{
			int i = (int)(uint32_t)cqe->user_data;
			if (cqe->user_data >> 32 == G_RECV)
				g_on_recv(g, i, cqe->res, cqe->flags);
			else
				g_on_send(g, i, cqe->res);
			n++;
		}
		io_uring_cq_advance(&g->ring, n);
	}
	server_sample(&w->s1);
	w->rts1 = g->rts;
}

/* @window 1: ping-pong; more: streaming. */
static int run_client(int port, int conns, size_t size, unsigned window, double warmup,
		      double dur, struct result *r)
{
	struct gen g = {.conns = conns, .size = size, .window = window};
	if (window < 1 || window > MAX_WINDOW || !(g.cs = calloc((size_t)conns, sizeof(*g.cs))))
		return -1;
	int err = g_setup(&g);
	for (int i = 0; i < conns && !err; i++) {
		g.cs[i].msg = malloc(size * window);
		if (!g.cs[i].msg) {
			err = 1;
			break;
		}
		for (size_t k = 0; k < size * window; k++)
			g.cs[i].msg[k] = (char)((size_t)i * 131 + (k % size) * 7);
		g.cs[i].fd = client_connect(port);
		err = g.cs[i].fd < 0;
	}
	g.from = bench_now_ns() + (uint64_t)(warmup * 1e9);
	g.to = g.from + (uint64_t)(dur * 1e9);
	for (int i = 0; i < conns && !err; i++) {
		g_recv(&g, i);
		g_send(&g, i, bench_now_ns());
	}
	struct window w = {0};
	if (!err)
		drive(&g, &w);
	err = err || g.err || !g.s.n;
	if (!err) {
		qsort(g.s.v, g.s.n, sizeof(*g.s.v), cmp_u32);
		r->rt_per_s = (double)(w.rts1 - w.rts0) / dur;
		r->p50_us = g.s.v[g.s.n / 2] / 1e3;
		r->p99_us = g.s.v[g.s.n * 99 / 100] / 1e3;
		r->mb_per_s = r->rt_per_s * (double)size / 1e6;
		window_figures(&w.s0, &w.s1, w.rts1 - w.rts0, r);
	}
	g_teardown(&g);
	return err ? -1 : 0;
}

/* ---- the second generator: bench-echo-pingpong, a program apart ------- */

static char pingpong_path[PATH_MAX];

/* Run bench-echo-pingpong against the server on @port (on this CPU, as
 * affinity is inherited), sampling the server when it says its window
 * starts and ends; @window 1 is ping-pong, more is streaming. */
static int run_pingpong(int port, int conns, size_t size, int window, double warmup,
			double dur, struct result *r)
{
	char a[6][32];
	snprintf(a[0], sizeof(a[0]), "%d", port);
	snprintf(a[1], sizeof(a[1]), "%d", conns);
	snprintf(a[2], sizeof(a[2]), "%zu", size);
	snprintf(a[3], sizeof(a[3]), "%g", warmup);
	snprintf(a[4], sizeof(a[4]), "%g", dur);
	snprintf(a[5], sizeof(a[5]), "%d", window);
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		execl(pingpong_path, pingpong_path, a[0], a[1], a[2], a[3], a[4], a[5],
		      (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	struct bench_lines out = {.fd = p[0]};
	struct sample s0, s1;
	char line[256];
	unsigned long long rts = 0, bytes = 0;
	double secs = 0, p50 = 0, p99 = 0;
	int wait_ms = (int)((warmup + dur) * 1000) + 30000; /* connects included */
	int err = pid < 0 || bench_read_line(&out, line, sizeof(line), wait_ms) ||
		  strcmp(line, "START");
	if (!err) {
		server_sample(&s0);
		err = bench_read_line(&out, line, sizeof(line), wait_ms) || strcmp(line, "END");
	}
	if (!err) {
		server_sample(&s1);
		err = bench_read_line(&out, line, sizeof(line), 10000) ||
		      sscanf(line, "RESULT rts=%llu bytes=%llu secs=%lf p50_us=%lf p99_us=%lf", &rts,
			     &bytes, &secs, &p50, &p99) != 5 ||
		      !rts || secs <= 0;
	}
	close(p[0]);
	int st = 0;
	if (pid > 0) {
		if (err)
			kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	if (err || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	r->rt_per_s = (double)rts / secs;
	r->mb_per_s = (double)bytes / secs / 1e6;
	r->p50_us = p50;
	r->p99_us = p99;
	window_figures(&s0, &s1, rts, r);
	return 0;
}

/* ---- contenders -------------------------------------------------------- */

/* corio on each backend (BENCH_URING, BENCH_EPOLL: the same program), then
 * the peers. */
enum { RAW_EPOLL = BENCH_NBACKENDS, LIBUV, RAW_URING, NC };
static const char *const names[NC] = {"corio_uring", "corio_epoll", "raw_epoll", "libuv",
				      "raw_uring"};
static const char *const labels[NC] = {"corio io_uring", "corio epoll", "raw epoll", "libuv",
				       "raw liburing"};
static const char *const exes[NC] = {"bench-echo", "bench-echo", "bench-echo-epoll",
				     "bench-echo-uv", "bench-echo-uring"};
static char paths[NC][PATH_MAX];
static bool present[NC];

static bool is_corio(int c)
{
	return c < BENCH_NBACKENDS;
}

static void find_contenders(void)
{
	char self[PATH_MAX - 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = 0;
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = 0;
	const char *dir = slash ? self : ".";
	for (int i = 0; i < NC; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir, exes[i]);
		present[i] = access(paths[i], X_OK) == 0;
		if (!present[i])
			fprintf(stderr, "bench-echo: %s not built, skipping %s\n", exes[i], names[i]);
	}
	snprintf(pingpong_path, sizeof(pingpong_path), "%s/bench-echo-pingpong", dir);
}

/* Start contender @c pinned to CPU 0 (corio on the backend it stands for,
 * forced: no fallback); its port comes first on its stdout, which stays
 * open for the STATS lines. */
static pid_t spawn(int c, int *port)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		pin(0);
		dup2(p[1], 1);
		if (is_corio(c)) {
			setenv("CORIO_BACKEND", bench_backends[c].env, 1);
			execl(paths[c], paths[c], "--server", "0", (char *)NULL);
		} else {
			execl(paths[c], paths[c], "0", (char *)NULL);
		}
		_exit(127);
	}
	close(p[1]);
	server.out = (struct bench_lines){.fd = p[0]};
	char line[64], backend[16] = "";
	if (pid < 0 || bench_read_line(&server.out, line, sizeof(line), 5000) ||
	    sscanf(line, "PORT %d %15s", port, backend) < 1 ||
	    (is_corio(c) && strcmp(backend, bench_backends[c].loop))) {
		close(p[0]);
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		return -1;
	}
	server.pid = pid;
	server.corio = is_corio(c);
	return pid;
}

/* Stop it with SIGTERM; it must exit cleanly within 5 s. */
static int stop_server(pid_t pid)
{
	kill(pid, SIGTERM);
	close(server.out.fd);
	server.out.fd = -1;
	server.pid = 0;
	for (int i = 0; i < 500; i++) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* ---- the grid ----------------------------------------------------------- */

enum { GEN_BATCH, GEN_PINGPONG, GEN_STREAM, GEN_STREAM_EPOLL, NGEN };
static const char *const gen_keys[NGEN] = {"batch", "pingpong", "stream", "stream_epoll"};
static const char *const gen_titles[NGEN] = {
	"Batch generator (io_uring: multishot receive, the sends of a turn in one enter)",
	"Ping-pong generator (bench-echo-pingpong: epoll, one send() per message)",
	"Streaming, batch generator (W messages in flight per connection, sent together)",
	"Streaming, epoll generator (bench-echo-pingpong with a window of W messages)",
};

static bool streaming(int gen)
{
	return gen == GEN_STREAM || gen == GEN_STREAM_EPOLL;
}

struct cell {
	int gen, conns, size;
};

struct opts {
	int rounds, window;
	double warmup, duration;
	bool quick;
	int conns[8], nconns;
	int sizes[8], nsizes;
	unsigned gens; /* bit per generator */
	struct cell cells[64];
	int ncells;
};

/* What is measured at each grid point (struct result's fields). */
enum { RT, MBS, P50, P99, CPU, ENT, SW, SND, NM };

static const struct metric {
	const char *key, *unit, *better, *title;
	int prec; /* decimals printed */
} metrics[NM] = {
	[RT] = {"rt_per_s", "rt/s", "higher", "Round trips per second (higher is better)", 0},
	[MBS] = {"mb_per_s", "MB/s", "higher", "Echoed MB/s (higher is better)", 1},
	[P50] = {"p50_us", "us", "lower", "Latency p50, µs", 1},
	[P99] = {"p99_us", "us", "lower", "Latency p99, µs", 1},
	[CPU] = {"server_cpu_us_per_rt", "us", "lower",
		 "Server CPU time per round trip, µs (lower is better; less sensitive to a "
		 "busy machine than throughput)",
		 2},
	[ENT] = {"syscalls_per_rt", "calls", "lower",
		 "corio's system calls per round trip (corio_loop_stats.enters)", 3},
	[SW] = {"switches_per_rt", "switches", "lower",
		"corio's task switches per round trip (corio_loop_stats.switches)", 3},
	[SND] = {"sends_per_rt", "sends", "lower",
		 "corio's send ops per round trip (corio_loop_stats.ops)", 3},
};

/* The throughput figure of a cell: MB/s when streaming. */
static int headline(const struct cell *c)
{
	return streaming(c->gen) ? MBS : RT;
}

static int stream_window; /* for the lines */

struct figure {
	struct cell cell;
	int n[NC];          /* rounds that each contender completed */
	double med[NM][NC]; /* medians over those rounds, NAN: none */
	double lo[NM][NC], hi[NM][NC];
};

static int one_round(int c, const struct opts *o, const struct cell *cl, struct result *r)
{
	int port;
	pid_t pid = spawn(c, &port);
	if (pid < 0) {
		fprintf(stderr, "bench-echo: %s did not start\n", names[c]);
		return -1;
	}
	int err;
	if (cl->gen == GEN_BATCH || cl->gen == GEN_STREAM)
		err = run_client(port, cl->conns, (size_t)cl->size,
				 cl->gen == GEN_STREAM ? (unsigned)o->window : 1, o->warmup,
				 o->duration, r);
	else
		err = run_pingpong(port, cl->conns, (size_t)cl->size,
				   cl->gen == GEN_STREAM_EPOLL ? o->window : 1, o->warmup,
				   o->duration, r);
	if (stop_server(pid))
		fprintf(stderr, "bench-echo: %s did not stop cleanly\n", names[c]);
	if (err)
		fprintf(stderr, "bench-echo: %s failed (wrong echo or connection error)\n", names[c]);
	if (!err && is_corio(c) && isnan(r->enters_rt))
		fprintf(stderr, "bench-echo: %s printed no STATS line\n", names[c]);
	return err;
}

static void measure(const struct opts *o, struct figure *f)
{
	static double v[NM][NC][32];
	int n[NC] = {0};
	for (int r = 0; r < o->rounds; r++) {
		for (int k = 0; k < NC; k++) {
			int c = (k + r) % NC; /* rotate who goes first */
			struct result res;
			if (!present[c] || one_round(c, o, &f->cell, &res))
				continue;
			const double x[NM] = {res.rt_per_s, res.mb_per_s, res.p50_us, res.p99_us,
					      res.cpu_us_rt, res.enters_rt, res.switches_rt,
					      res.sends_rt};
			for (int m = 0; m < NM; m++)
				v[m][c][n[c]] = x[m];
			n[c]++;
		}
	}
	for (int c = 0; c < NC; c++) {
		f->n[c] = n[c];
		for (int m = 0; m < NM; m++) {
			bool ok = n[c] && !isnan(v[m][c][0]);
			f->med[m][c] = ok ? bench_median(v[m][c], n[c]) : NAN;
			f->lo[m][c] = ok ? v[m][c][0] : NAN; /* sorted by bench_median() */
			f->hi[m][c] = ok ? v[m][c][n[c] - 1] : NAN;
		}
	}
}

static double ratio(double a, double b)
{
	return b > 0 && !isnan(a) && !isnan(b) ? a / b : NAN;
}

/* @a's advantage over @b on metric @m: above 1, @a is better. */
static double advantage(const struct figure *f, int m, int a, int b)
{
	return strcmp(metrics[m].better, "higher") ? ratio(f->med[m][b], f->med[m][a])
						   : ratio(f->med[m][a], f->med[m][b]);
}

/* The min-max ranges of @a and @b on metric @m overlap: their medians
 * are within this run's noise of each other. */
static bool overlap(const struct figure *f, int m, int a, int b)
{
	return f->lo[m][a] <= f->hi[m][b] && f->lo[m][b] <= f->hi[m][a];
}

/* The figures of a grid point, a line each (bench.h): the medians, then
 * the advantages of corio's backends, then each contender's min and max.
 * A contender with no figure is left out. */
static void print_lines(const struct figure *f)
{
	const struct cell *cl = &f->cell;
	for (int m = 0; m < NM; m++) {
		if (m == RT || m == MBS) {
			if (m != headline(cl))
				continue;
		}
		printf("echo.%s gen=%s conns=%d size=%d", metrics[m].key, gen_keys[cl->gen],
		       cl->conns, cl->size);
		if (streaming(cl->gen))
			printf(" window=%d", stream_window);
		printf(" unit=%s better=%s", metrics[m].unit, metrics[m].better);
		for (int c = 0; c < NC; c++)
			if (!isnan(f->med[m][c]))
				printf(" %s=%.*f", names[c], metrics[m].prec, f->med[m][c]);
		if (m == headline(cl) || m == CPU)
			for (int b = 0; b < BENCH_NBACKENDS; b++)
				for (int c = b + 1; c < NC; c++)
					if (!isnan(advantage(f, m, b, c)))
						printf(" %s:%s=%.3f", bench_backends[b].env,
						       c == BENCH_EPOLL ? "epoll" : names[c],
						       advantage(f, m, b, c));
		for (int c = 0; c < NC; c++)
			if (!isnan(f->med[m][c]))
				printf(" min:%s=%.*f max:%s=%.*f", names[c], metrics[m].prec,
				       f->lo[m][c], names[c], metrics[m].prec, f->hi[m][c]);
		printf("\n");
	}
	fflush(stdout);
}

/* ---- tables -------------------------------------------------------------- */

/* "median (min–max)" of contender @c on metric @m, or "-". */
static const char *cellf(const struct figure *f, int m, int c)
{
	static char s[8][64];
	static int k;
	char *out = s[k++ % 8];
	int p = metrics[m].prec;
	if (isnan(f->med[m][c]))
		snprintf(out, 64, "-");
	else
		snprintf(out, 64, "%.*f (%.*f–%.*f)", p, f->med[m][c], p, f->lo[m][c], p,
			 f->hi[m][c]);
	return out;
}

/* A ratio, marked ≈ when the two min-max ranges overlap. */
static void print_ratio(const struct figure *f, int m, int a, int b, double r)
{
	if (isnan(r))
		printf(" - |");
	else
		printf(" %.2f%s |", r, overlap(f, m, a, b) ? " ≈" : "");
}

static void table_head(const char *title, const char *const *extra, int nextra)
{
	printf("\n%s:\n\n| conns | size |", title);
	for (int c = 0; c < NC; c++)
		printf(" %s |", labels[c]);
	for (int i = 0; i < nextra; i++)
		printf(" %s |", extra[i]);
	printf("\n|---:|---:|");
	for (int c = 0; c < NC + nextra; c++)
		printf("---:|");
	printf("\n");
}

/* Throughput: corio's advantage over each (above 1: corio is better). */
static void print_throughput(const struct figure *fs, int n, int gen)
{
	static const char *const extra[] = {"io_uring vs epoll", "corio io_uring vs raw epoll",
					    "corio io_uring vs raw liburing",
					    "corio epoll vs raw epoll"};
	int m = streaming(gen) ? MBS : RT;
	table_head(metrics[m].title, extra, 4);
	for (int i = 0; i < n; i++) {
		const struct figure *f = &fs[i];
		if (f->cell.gen != gen)
			continue;
		printf("| %d | %d |", f->cell.conns, f->cell.size);
		for (int c = 0; c < NC; c++)
			printf(" %s |", cellf(f, m, c));
		print_ratio(f, m, BENCH_URING, BENCH_EPOLL, advantage(f, m, BENCH_URING, BENCH_EPOLL));
		print_ratio(f, m, BENCH_URING, RAW_EPOLL, advantage(f, m, BENCH_URING, RAW_EPOLL));
		print_ratio(f, m, BENCH_URING, RAW_URING, advantage(f, m, BENCH_URING, RAW_URING));
		print_ratio(f, m, BENCH_EPOLL, RAW_EPOLL, advantage(f, m, BENCH_EPOLL, RAW_EPOLL));
		printf("\n");
	}
}

/* Server CPU: corio's cost over each peer's (below 1: corio is cheaper),
 * against the targets (io_uring: <= 1.0 raw epoll, <= 1.1 raw liburing). */
static void print_cpu(const struct figure *fs, int n, int gen)
{
	static const char *const extra[] = {"corio io_uring / raw epoll (target <= 1.0)",
					    "corio io_uring / raw liburing (target <= 1.1)",
					    "corio epoll / raw epoll"};
	table_head(metrics[CPU].title, extra, 3);
	for (int i = 0; i < n; i++) {
		const struct figure *f = &fs[i];
		if (f->cell.gen != gen)
			continue;
		printf("| %d | %d |", f->cell.conns, f->cell.size);
		for (int c = 0; c < NC; c++)
			printf(" %s |", cellf(f, CPU, c));
		double a = ratio(f->med[CPU][BENCH_URING], f->med[CPU][RAW_EPOLL]);
		double b = ratio(f->med[CPU][BENCH_URING], f->med[CPU][RAW_URING]);
		print_ratio(f, CPU, BENCH_URING, RAW_EPOLL, a);
		print_ratio(f, CPU, BENCH_URING, RAW_URING, b);
		print_ratio(f, CPU, BENCH_EPOLL, RAW_EPOLL,
			    ratio(f->med[CPU][BENCH_EPOLL], f->med[CPU][RAW_EPOLL]));
		printf("\n");
	}
}

static void print_latency(const struct figure *fs, int n, int gen)
{
	table_head("Latency p50 / p99, µs (medians)", NULL, 0);
	for (int i = 0; i < n; i++) {
		const struct figure *f = &fs[i];
		if (f->cell.gen != gen)
			continue;
		printf("| %d | %d |", f->cell.conns, f->cell.size);
		for (int c = 0; c < NC; c++)
			printf(isnan(f->med[P50][c]) ? " - |" : " %.0f / %.0f |", f->med[P50][c],
			       f->med[P99][c]);
		printf("\n");
	}
}

static void print_counters(const struct figure *fs, int n, int gen)
{
	printf("\ncorio's counters per round trip (corio_loop_get_stats() over the window; "
	       "median (min–max)):\n\n| conns | size | io_uring: syscalls | io_uring: task "
	       "switches | io_uring: send ops | epoll: syscalls | epoll: task switches | epoll: "
	       "send ops |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < n; i++) {
		const struct figure *f = &fs[i];
		if (f->cell.gen != gen)
			continue;
		printf("| %d | %d |", f->cell.conns, f->cell.size);
		for (int b = 0; b < BENCH_NBACKENDS; b++)
			printf(" %s | %s | %s |", cellf(f, ENT, b), cellf(f, SW, b), cellf(f, SND, b));
		printf("\n");
	}
}

static void print_tables(const struct figure *fs, int n, const struct opts *o)
{
	for (int g = 0; g < NGEN; g++) {
		bool any = false;
		for (int i = 0; i < n; i++)
			any |= fs[i].cell.gen == g;
		if (!any)
			continue;
		printf("\n### %s", gen_titles[g]);
		if (streaming(g))
			printf(", W = %d; target: corio io_uring >= 1.2x raw epoll", o->window);
		printf("\n");
		print_throughput(fs, n, g);
		print_cpu(fs, n, g);
		print_latency(fs, n, g);
		print_counters(fs, n, g);
	}
	printf("\nMedians of %d rounds of %g s (after %g s of warm-up), min–max in brackets. "
	       "\"A vs B\" is A's throughput over B's (above 1: A is better); \"A / B\" is A's "
	       "CPU per round trip over B's (below 1: A is cheaper). ≈ marks a ratio whose "
	       "two contenders' min–max ranges overlap: within this run's noise.\n",
	       o->rounds, o->duration, o->warmup);
}

/* ---- options and main ---------------------------------------------------- */

static int parse_list(const char *s, int *v, int max)
{
	int n = 0;
	for (char *end; *s && n < max; s = *end ? end + 1 : end) {
		v[n++] = (int)strtol(s, &end, 10);
		if (end == s || v[n - 1] < 1)
			return -1;
	}
	return n;
}

static void add_cell(struct opts *o, int gen, int conns, int size)
{
	if (o->ncells < (int)(sizeof(o->cells) / sizeof(o->cells[0])))
		o->cells[o->ncells++] = (struct cell){gen, conns, size};
}

/* The grid: quick, unless --conns or --sizes say otherwise, keeps the
 * cells 50 x 64 B and 500 x 4 KiB; streaming runs 50 connections, at
 * 64 B and 4 KiB (quick: the epoll generator at 64 B only). */
static void make_cells(struct opts *o, bool custom)
{
	static const int quick_pairs[][2] = {{50, 64}, {500, 4096}};
	for (int g = GEN_BATCH; g <= GEN_PINGPONG; g++) {
		if (!(o->gens & 1u << g))
			continue;
		if (o->quick && !custom) {
			for (int i = 0; i < 2; i++)
				add_cell(o, g, quick_pairs[i][0], quick_pairs[i][1]);
			continue;
		}
		for (int i = 0; i < o->nconns; i++)
			for (int k = 0; k < o->nsizes; k++)
				add_cell(o, g, o->conns[i], o->sizes[k]);
	}
	for (int g = GEN_STREAM; g <= GEN_STREAM_EPOLL; g++) {
		if (!(o->gens & 1u << g))
			continue;
		/* quick: the epoll generator at 64 B only */
		int nsizes = o->quick && !custom && g == GEN_STREAM_EPOLL ? 1 : o->nsizes;
		for (int k = 0; k < nsizes; k++)
			add_cell(o, g, custom ? o->conns[0] : 50, o->sizes[k]);
	}
}

static int parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.rounds = 5, .warmup = 0.5, .duration = 3.0, .window = 16,
			   .nconns = 3, .conns = {1, 50, 500}, .nsizes = 2, .sizes = {64, 4096},
			   .gens = (1u << NGEN) - 1};
	bool custom = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--full")) {
			o->quick = false;
			o->duration = 3.0;
		} else if (!strcmp(a, "--quick")) {
			o->quick = true;
			o->duration = 2.0;
		} else if (!strcmp(a, "--rounds") && v) {
			o->rounds = atoi(argv[++i]);
		} else if (!strcmp(a, "--duration") && v) {
			o->duration = atof(argv[++i]);
		} else if (!strcmp(a, "--warmup") && v) {
			o->warmup = atof(argv[++i]);
		} else if (!strcmp(a, "--window") && v) {
			o->window = atoi(argv[++i]);
		} else if (!strcmp(a, "--conns") && v) {
			o->nconns = parse_list(argv[++i], o->conns, 8);
			custom = true;
		} else if (!strcmp(a, "--sizes") && v) {
			o->nsizes = parse_list(argv[++i], o->sizes, 8);
			custom = true;
		} else if (!strcmp(a, "--only") && v) {
			i++;
			o->gens = 0;
			for (int g = 0; g < NGEN; g++)
				if (!strcmp(argv[i], gen_keys[g]))
					o->gens = 1u << g;
		} else {
			return -1;
		}
	}
	if (o->rounds < 1 || o->rounds > 32 || o->duration <= 0 || o->warmup < 0 ||
	    o->nconns < 1 || o->nsizes < 1 || !o->gens || o->window < 1 || o->window > 256)
		return -1;
	make_cells(o, custom);
	return 0;
}

/* --client PORT [options]: drive a server started by hand (profiling). */
static int client_only(int port, const struct opts *o)
{
	struct result r;
	if (run_client(port, o->conns[0], (size_t)o->sizes[0], 1, o->warmup, o->duration, &r))
		return 1;
	printf("rt/s %.0f p50 %.1f us p99 %.1f us\n", r.rt_per_s, r.p50_us, r.p99_us);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && !strcmp(argv[1], "--server"))
		return run_server(argc > 2 ? argv[2] : "0");
	int port = 0;
	if (argc > 2 && !strcmp(argv[1], "--client")) {
		port = atoi(argv[2]);
		argv += 2;
		argc -= 2;
	}
	static struct opts o;
	if (parse(argc, argv, &o)) {
		fprintf(stderr, "usage: bench-echo [--quick|--full] [--rounds N] [--duration S] "
				"[--warmup S] [--conns 1,50,500] [--sizes 64,4096] [--window W] "
				"[--only batch|pingpong|stream|stream_epoll]\n");
		return 2;
	}
	pin(1);
	if (port)
		return client_only(port, &o);
	find_contenders();
	stream_window = o.window;
	printf("# bench-echo: medians of %d rounds of %g s after a %g s warm-up; servers on "
	       "CPU 0, load generators on CPU 1; streaming window %d\n",
	       o.rounds, o.duration, o.warmup, o.window);
	static struct figure fs[64];
	for (int i = 0; i < o.ncells; i++) {
		fs[i] = (struct figure){.cell = o.cells[i]};
		measure(&o, &fs[i]);
		print_lines(&fs[i]);
	}
	print_tables(fs, o.ncells, &o);
	return 0;
}
