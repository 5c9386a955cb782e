/* SPDX-License-Identifier: MIT */
/*
 * bench/echo.c - echo servers side by side: corio (corio_serve, a task per
 * connection, streams) on its io_uring backend and, the same program, on
 * its epoll backend; a hand-written epoll loop (the baseline), libuv, and
 * a hand-written io_uring loop without coroutines (the limit).  One
 * load generator for all (on io_uring, so that it is never the first to
 * saturate): N connections, each sending an M-byte message and waiting for
 * its echo, over and over; every echo is checked.  Figures: round trips
 * per second, p50/p99 latency, and the server's CPU time per round trip
 * over the measured window (from /proc/PID/schedstat), which a busy
 * machine disturbs much less than throughput.  Servers run pinned to CPU
 * 0, the generator to CPU 1; each round runs every contender once, in an
 * order that rotates, and each figure is the median of its rounds.
 * Prints one machine-readable line per figure (bench.h) and Markdown
 * tables.
 *
 *   bench-echo [--quick|--full] [--rounds N] [--duration S] [--warmup S]
 *              [--conns 1,50,500] [--sizes 64,4096]
 *   bench-echo --server [port]     (the corio server alone; the backend
 *                                   from $CORIO_BACKEND, as any program)
 *   bench-echo --client PORT [--conns N] [--sizes M] [--duration S]
 *                                  (the load generator alone)
 */
#include <corio.h>

#include "bench.h"

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

static void *server_main(void *arg)
{
	int lfd = corio_tcp_listen("127.0.0.1", arg, 4096, 0);
	if (lfd < 0) {
		fprintf(stderr, "bench-echo: listen: %s\n", corio_strerror(lfd));
		return CORIO_ERR_PTR(lfd);
	}
	/* the backend too: the parent checks it ran the one it asked for */
	printf("PORT %d %s\n", corio_sock_port(lfd), corio_loop_backend(corio_current_loop()));
	fflush(stdout);
	corio_serve_options o = {.stop_signals = (const int[]){SIGTERM, SIGINT, 0}};
	int err = corio_serve(lfd, echo_handler, &o);
	corio_close(lfd);
	return err ? CORIO_ERR_PTR(err) : NULL;
}

static int run_server(const char *port)
{
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

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the load generator -------------------------------------------------- */

struct result {
	double rt_per_s, p50_us, p99_us;
	uint64_t all_rts;  /* every round trip, warm-up included */
	double cpu_us_rt;  /* server run time per round trip, measured window */
};

/*
 * The generator runs on io_uring itself (multishot receive into provided
 * buffers, sends batched into one enter per turn) so that it costs less
 * per round trip than any of the servers: a generator that saturates
 * first makes every server look alike.
 */
#define GBUFS 2048u
#define GBUFSZ 4096u
#define GBGID 7

enum { G_RECV = 1, G_SEND };

struct samples {
	uint32_t *v;
	size_t n, cap;
};

static void sample(struct samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1 << 16;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

struct cconn {
	int fd;
	size_t got;   /* bytes of the echo received so far */
	uint64_t t0;  /* when the message went out */
	char *msg;
};

struct gen {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	char *bufs;
	struct cconn *cs;
	int conns;
	size_t size;
	uint64_t from, to; /* the measured window */
	struct samples s;
	uint64_t rts;      /* every round trip, warm-up included */
	int err;
};

static pid_t server_pid;

/* The server's run time so far in ns (/proc/PID/schedstat: precise, and
 * the servers are single-threaded); 0 if unknown. */
static uint64_t server_ns(void)
{
	char path[64];
	unsigned long long ns = 0;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)server_pid);
	FILE *f = server_pid > 0 ? fopen(path, "r") : NULL;
	if (f) {
		if (fscanf(f, "%llu", &ns) != 1)
			ns = 0;
		fclose(f);
	}
	return ns;
}

static struct io_uring_sqe *gsqe(struct gen *g)
{
	struct io_uring_sqe *q;
	while (!(q = io_uring_get_sqe(&g->ring)))
		io_uring_submit(&g->ring);
	return q;
}

static void g_recv(struct gen *g, int i)
{
	struct io_uring_sqe *q = gsqe(g);
	io_uring_prep_recv_multishot(q, g->cs[i].fd, NULL, 0, 0);
	q->flags |= IOSQE_BUFFER_SELECT;
	q->buf_group = GBGID;
	io_uring_sqe_set_data64(q, (uint64_t)G_RECV << 32 | (uint32_t)i);
}

static void g_send(struct gen *g, int i, uint64_t now)
{
	struct cconn *c = &g->cs[i];
	c->got = 0;
	c->t0 = now;
	struct io_uring_sqe *q = gsqe(g);
	io_uring_prep_send(q, c->fd, c->msg, g->size, MSG_NOSIGNAL | MSG_WAITALL);
	io_uring_sqe_set_data64(q, (uint64_t)G_SEND << 32 | (uint32_t)i);
}

static void g_recycle(struct gen *g, unsigned bid)
{
	io_uring_buf_ring_add(g->br, g->bufs + (size_t)bid * GBUFSZ, GBUFSZ, (unsigned short)bid,
			      io_uring_buf_ring_mask(GBUFS), 0);
	io_uring_buf_ring_advance(g->br, 1);
}

/* Part of an echo: check it against what was sent; when it is whole,
 * time the round trip and send the next message. */
static void g_on_recv(struct gen *g, int i, int res, unsigned flags)
{
	struct cconn *c = &g->cs[i];
	if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
		if (c->got + (size_t)res > g->size ||
		    memcmp(g->bufs + (size_t)bid * GBUFSZ, c->msg + c->got, (size_t)res))
			g->err = -1; /* a wrong echo */
		c->got += (size_t)res;
		g_recycle(g, bid);
		if (c->got == g->size) {
			uint64_t t1 = bench_now_ns();
			g->rts++;
			if (c->t0 >= g->from && t1 <= g->to)
				sample(&g->s, t1 - c->t0);
			g_send(g, i, t1);
		}
	}
	if (flags & IORING_CQE_F_MORE)
		return;
	if (res == -ENOBUFS || res > 0)
		g_recv(g, i);
	else
		g->err = -1; /* the server hung up */
}

static int g_setup(struct gen *g)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
	p.cq_entries = 8192;
	if (io_uring_queue_init_params(2048, &g->ring, &p)) {
		memset(&p, 0, sizeof(p));
		if (io_uring_queue_init_params(2048, &g->ring, &p))
			return -1;
	}
	g->br = mmap(NULL, GBUFS * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g->bufs = mmap(NULL, (size_t)GBUFS * GBUFSZ, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)g->br,
				       .ring_entries = GBUFS, .bgid = GBGID};
	if (g->br == MAP_FAILED || g->bufs == MAP_FAILED ||
	    io_uring_register_buf_ring(&g->ring, &reg, 0))
		return -1;
	io_uring_buf_ring_init(g->br);
	for (unsigned i = 0; i < GBUFS; i++)
		io_uring_buf_ring_add(g->br, g->bufs + (size_t)i * GBUFSZ, GBUFSZ,
				      (unsigned short)i, io_uring_buf_ring_mask(GBUFS), (int)i);
	io_uring_buf_ring_advance(g->br, GBUFS);
	return 0;
}

static void g_teardown(struct gen *g)
{
	io_uring_queue_exit(&g->ring);
	munmap(g->br, GBUFS * sizeof(struct io_uring_buf));
	munmap(g->bufs, (size_t)GBUFS * GBUFSZ);
	for (int i = 0; i < g->conns; i++) {
		if (g->cs[i].fd > 0)
			close(g->cs[i].fd);
		free(g->cs[i].msg);
	}
	free(g->cs);
	free(g->s.v);
}

static int client_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int on = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return fd;
}

struct window {
	uint64_t cpu0, cpu1; /* server run time at the window's ends */
	uint64_t rts0, rts1; /* round trips done by then */
};

static void drive(struct gen *g, struct window *w)
{
	bool started = false;
	uint64_t t;
	while (!g->err && (t = bench_now_ns()) < g->to) {
		if (!started && t >= g->from) {
			started = true;
			w->cpu0 = server_ns();
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
			else if (cqe->res != (int)g->size)
				g->err = -1; /* short or failed send */
			n++;
		}
		io_uring_cq_advance(&g->ring, n);
	}
	w->cpu1 = server_ns();
	w->rts1 = g->rts;
}

static int run_client(int port, int conns, size_t size, double warmup, double dur,
		      struct result *r)
{
	struct gen g = {.conns = conns, .size = size};
	g.cs = calloc((size_t)conns, sizeof(*g.cs));
	int err = g_setup(&g);
	for (int i = 0; i < conns && !err; i++) {
		g.cs[i].msg = malloc(size);
		for (size_t k = 0; k < size; k++)
			g.cs[i].msg[k] = (char)(i * 131 + k * 7);
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
		r->rt_per_s = (double)g.s.n / dur;
		r->p50_us = g.s.v[g.s.n / 2] / 1e3;
		r->p99_us = g.s.v[g.s.n * 99 / 100] / 1e3;
		r->all_rts = g.rts;
		r->cpu_us_rt = w.cpu1 > w.cpu0 && w.rts1 > w.rts0
				       ? (double)(w.cpu1 - w.cpu0) / 1e3 / (double)(w.rts1 - w.rts0)
				       : 0;
	}
	g_teardown(&g);
	return err ? -1 : 0;
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
	for (int i = 0; i < NC; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/%s", slash ? self : ".", exes[i]);
		present[i] = access(paths[i], X_OK) == 0;
		if (!present[i])
			fprintf(stderr, "bench-echo: %s not built, skipping %s\n", exes[i], names[i]);
	}
}

/* Start contender @c pinned to CPU 0 (corio on the backend it stands for,
 * forced: no fallback); its port arrives on a pipe. */
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
	char line[64] = {0}, backend[16] = "";
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	if (pid < 0 || poll(&pf, 1, 5000) != 1 || read(p[0], line, sizeof(line) - 1) <= 0 ||
	    sscanf(line, "PORT %d %15s", port, backend) < 1 ||
	    (is_corio(c) && strcmp(backend, bench_backends[c].loop))) {
		close(p[0]);
		if (pid > 0)
			kill(pid, SIGKILL);
		return -1;
	}
	close(p[0]);
	return pid;
}

/* Stop it with SIGTERM; it must exit cleanly within 5 s. */
static int stop_server(pid_t pid)
{
	kill(pid, SIGTERM);
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

struct opts {
	int rounds;
	double warmup, duration;
	int conns[8], nconns;
	int sizes[8], nsizes;
};

/* What is measured at each grid point (struct result's fields). */
enum { RT, P50, P99, CPU, NM };

static const struct metric {
	const char *key, *unit, *better;
	int prec;          /* decimals printed */
	const char *title; /* of its table */
} metrics[NM] = {
	[RT] = {"rt_per_s", "rt/s", "higher", 0,
		"Round trips per second (higher is better); \"vs X\" is corio's rt/s over "
		"X's, on io_uring / on epoll (above 1: corio is better):"},
	[P50] = {"p50_us", "us", "lower", 1, "Latency p50, µs (lower is better):"},
	[P99] = {"p99_us", "us", "lower", 1, "Latency p99, µs (lower is better):"},
	[CPU] = {"server_cpu_us_per_rt", "us", "lower", 2,
		 "Server CPU time per round trip, µs (lower is better; less sensitive to a "
		 "busy machine than rt/s):"},
};

struct figure {
	int conns, size;
	int n[NC];             /* rounds that each contender completed */
	double m[NM][NC];      /* medians over those rounds */
	double lo[NC], hi[NC]; /* spread of rt/s over the rounds */
};

static int one_round(int c, const struct opts *o, int conns, int size, struct result *r)
{
	int port;
	pid_t pid = spawn(c, &port);
	if (pid < 0) {
		fprintf(stderr, "bench-echo: %s did not start\n", names[c]);
		return -1;
	}
	server_pid = pid;
	int err = run_client(port, conns, (size_t)size, o->warmup, o->duration, r);
	server_pid = 0;
	if (stop_server(pid))
		fprintf(stderr, "bench-echo: %s did not stop cleanly\n", names[c]);
	if (err)
		fprintf(stderr, "bench-echo: %s failed (wrong echo or connection error)\n", names[c]);
	return err;
}

static void measure(const struct opts *o, struct figure *f)
{
	double v[NM][NC][32];
	int n[NC] = {0};
	for (int r = 0; r < o->rounds; r++) {
		for (int k = 0; k < NC; k++) {
			int c = (k + r) % NC; /* rotate who goes first */
			struct result res;
			if (!present[c] || one_round(c, o, f->conns, f->size, &res))
				continue;
			v[RT][c][n[c]] = res.rt_per_s;
			v[CPU][c][n[c]] = res.cpu_us_rt;
			v[P50][c][n[c]] = res.p50_us;
			v[P99][c][n[c]++] = res.p99_us;
		}
	}
	for (int c = 0; c < NC; c++) {
		f->n[c] = n[c];
		for (int k = 0; k < NM; k++)
			f->m[k][c] = n[c] ? median(v[k][c], n[c]) : 0;
		f->lo[c] = n[c] ? v[RT][c][0] : 0; /* sorted by median() */
		f->hi[c] = n[c] ? v[RT][c][n[c] - 1] : 0;
	}
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

/* The figures of a grid point, a line each (bench.h).  A contender that
 * completed no round is left out. */
static void print_lines(const struct figure *f)
{
	for (int k = 0; k < NM; k++) {
		printf("echo.%s conns=%d size=%d unit=%s better=%s", metrics[k].key, f->conns,
		       f->size, metrics[k].unit, metrics[k].better);
		for (int c = 0; c < NC; c++)
			if (f->n[c])
				printf(" %s=%.*f", names[c], metrics[k].prec, f->m[k][c]);
		if (k == RT) /* round trips: corio's advantages */
			for (int b = 0; b < BENCH_NBACKENDS; b++)
				for (int c = b + 1; c < NC; c++)
					if (f->n[b] && f->n[c])
						printf(" %s:%s=%.3f", bench_backends[b].env,
						       c == BENCH_EPOLL ? "epoll" : names[c],
						       ratio(f->m[RT][b], f->m[RT][c]));
		printf("\n");
	}
	fflush(stdout);
}

/* A table of metric @k per grid point and contender. */
static void print_metric(const struct figure *fs, int n, int k)
{
	printf("\n%s\n\n| conns | size |", metrics[k].title);
	for (int c = 0; c < NC; c++)
		printf(" %s |", labels[c]);
	printf("\n|---:|---:|");
	for (int c = 0; c < NC; c++)
		printf("---:|");
	printf("\n");
	for (int i = 0; i < n; i++) {
		printf("| %d | %d |", fs[i].conns, fs[i].size);
		for (int c = 0; c < NC; c++)
			printf(fs[i].n[c] ? " %.*f |" : " - |", metrics[k].prec, fs[i].m[k][c]);
		printf("\n");
	}
}

static void print_table(const struct figure *fs, int n)
{
	printf("\n%s\n\n| conns | size |", metrics[RT].title);
	for (int c = 0; c < NC; c++)
		printf(" %s |", labels[c]);
	printf(" io_uring/epoll |");
	for (int c = BENCH_NBACKENDS; c < NC; c++)
		printf(" vs %s |", labels[c]);
	printf("\n|---:|---:|");
	for (int c = 0; c < 2 * NC - BENCH_NBACKENDS + 1; c++)
		printf("---:|");
	printf("\n");
	for (int i = 0; i < n; i++) {
		const struct figure *f = &fs[i];
		printf("| %d | %d |", f->conns, f->size);
		const double *rt = f->m[RT];
		for (int c = 0; c < NC; c++)
			printf(" %.0f |", rt[c]);
		printf(" %.2f |", ratio(rt[BENCH_URING], rt[BENCH_EPOLL]));
		for (int c = BENCH_NBACKENDS; c < NC; c++)
			printf(" %.2f / %.2f |", ratio(rt[BENCH_URING], rt[c]),
			       ratio(rt[BENCH_EPOLL], rt[c]));
		printf("\n");
	}
	for (int k = P50; k < NM; k++)
		print_metric(fs, n, k);
	printf("\nSpread of rt/s over the rounds (min-max):\n");
	for (int i = 0; i < n; i++) {
		printf("  conns=%d size=%d:", fs[i].conns, fs[i].size);
		for (int c = 0; c < NC; c++)
			printf(" %s %.0f-%.0f", names[c], fs[i].lo[c], fs[i].hi[c]);
		printf("\n");
	}
}

static int parse_list(const char *s, int *v, int max)
{
	int n = 0;
	for (char *end; *s && n < max; s = *end ? end + 1 : end) {
		v[n++] = (int)strtol(s, &end, 10);
		if (end == s)
			return -1;
	}
	return n;
}

static int parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.rounds = 5, .warmup = 0.5, .duration = 2.0, .nconns = 3,
			   .conns = {1, 50, 500}, .nsizes = 2, .sizes = {64, 4096}};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--full")) {
			continue; /* the defaults */
		} else if (!strcmp(a, "--quick")) {
			o->rounds = 3;
			o->warmup = 0.2;
			o->duration = 0.5;
		} else if (!strcmp(a, "--rounds") && v) {
			o->rounds = atoi(argv[++i]);
		} else if (!strcmp(a, "--duration") && v) {
			o->duration = atof(argv[++i]);
		} else if (!strcmp(a, "--warmup") && v) {
			o->warmup = atof(argv[++i]);
		} else if (!strcmp(a, "--conns") && v) {
			o->nconns = parse_list(argv[++i], o->conns, 8);
		} else if (!strcmp(a, "--sizes") && v) {
			o->nsizes = parse_list(argv[++i], o->sizes, 8);
		} else {
			return -1;
		}
	}
	if (o->rounds < 1 || o->rounds > 32 || o->duration <= 0 || o->nconns < 1 || o->nsizes < 1)
		return -1;
	return 0;
}

/* --client PORT [options]: drive a server started by hand (profiling). */
static int client_only(int port, const struct opts *o)
{
	struct result r;
	if (run_client(port, o->conns[0], (size_t)o->sizes[0], o->warmup, o->duration, &r))
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
	struct opts o;
	if (parse(argc, argv, &o)) {
		fprintf(stderr, "usage: bench-echo [--quick|--full] [--rounds N] [--duration S] "
				"[--warmup S] [--conns 1,50,500] [--sizes 64,4096]\n");
		return 2;
	}
	pin(1);
	if (port)
		return client_only(port, &o);
	find_contenders();
	printf("# bench-echo: medians of %d rounds of %g s after a %g s warm-up; servers on "
	       "CPU 0, load generator on CPU 1\n",
	       o.rounds, o.duration, o.warmup);
	struct figure fs[64];
	int n = 0;
	for (int i = 0; i < o.nconns; i++)
		for (int k = 0; k < o.nsizes; k++) {
			fs[n] = (struct figure){.conns = o.conns[i], .size = o.sizes[k]};
			measure(&o, &fs[n]);
			print_lines(&fs[n++]);
		}
	print_table(fs, n);
	return 0;
}
