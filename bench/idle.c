/* SPDX-License-Identifier: MIT */
/*
 * bench/idle.c - how much memory corio_serve needs to hold many idle
 * connections: bench-echo's server (corio_serve, a task and a stream per
 * connection, the echo handler waiting in its read) on each backend,
 * while this program opens N connections to it (100 000 by default) and
 * leaves them quiet.  Once the server reports every handler running, its
 * resident set (from its own STATS line, which it prints on SIGUSR1) is
 * the figure, against a target of 1 GiB.  Then a sample of the
 * connections is checked to still echo, and everything is torn down.
 *
 * One source address has about 28 000 ephemeral ports towards one
 * listener, so the connections come from 127.0.0.2, 127.0.0.3, ... (every
 * 127/8 address is local), 25 000 each, with IP_BIND_ADDRESS_NO_PORT.
 * Both processes need N + a few hundred descriptors: RLIMIT_NOFILE is
 * raised (with CAP_SYS_RESOURCE it may go up to fs.nr_open) and the server
 * inherits it.  Where the hard limit cannot be raised (a container
 * without that capability), the run uses as many connections as the
 * limit allows and also prints the figure for N projected from the
 * measured growth per connection, marked as such.
 *
 *   bench-idle [--quick|--full] [--rounds N] [--conns N]
 */
#include "bench.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PER_ADDRESS 25000
#define TARGET_MIB 1024.0
#define MAX_ROUNDS 9

struct server {
	pid_t pid;
	int port;
	struct bench_lines out; /* its stdout */
};

struct stats {
	unsigned long long accepted, active;
	long rss_kib;
};

/* bench-echo --server on backend @b, next to this program. */
static int start_server(int b, struct server *s)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 32);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	strcpy(slash ? slash + 1 : exe, "bench-echo");
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		setenv("CORIO_BACKEND", bench_backends[b].env, 1);
		execl(exe, exe, "--server", "0", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*s = (struct server){.pid = pid, .out = {.fd = p[0]}};
	char line[128], backend[16] = "";
	if (pid < 0 || bench_read_line(&s->out, line, sizeof(line), 5000) ||
	    sscanf(line, "PORT %d %15s", &s->port, backend) != 2 ||
	    strcmp(backend, bench_backends[b].loop)) {
		fprintf(stderr, "bench-idle: %s server did not start\n", bench_backends[b].key);
		return -1;
	}
	return 0;
}

static int server_stats(struct server *s, struct stats *st)
{
	char line[512];
	if (kill(s->pid, SIGUSR1) || bench_read_line(&s->out, line, sizeof(line), 10000) ||
	    sscanf(line,
		   "STATS turns=%*u enters=%*u sqes=%*u cqes=%*u switches=%*u accepted=%llu "
		   "active=%llu rss_kib=%ld",
		   &st->accepted, &st->active, &st->rss_kib) != 3)
		return -1;
	return 0;
}

static int stop_server(struct server *s)
{
	kill(s->pid, SIGTERM);
	int st = 0;
	for (int i = 0; i < 3000; i++) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			close(s->out.fd);
			return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
		}
		usleep(10000);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	close(s->out.fd);
	return -1;
}

/* Connection @i, from 127.0.0.(2 + i / PER_ADDRESS), to the server. */
static int connect_one(int i, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int on = 1;
	struct sockaddr_in src = {.sin_family = AF_INET};
	src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i / PER_ADDRESS));
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof(on)) ||
	    bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Closed with a reset: no TIME_WAIT left to hold the 4-tuples. */
static void close_all(int *fds, int n)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	for (int i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fds[i]);
		fds[i] = -1;
	}
}

/* A byte out and back on every @step-th connection. */
static int check_echo(const int *fds, int n, int step)
{
	for (int i = 0; i < n; i += step) {
		char c = (char)i, back = 0;
		struct pollfd pf = {.fd = fds[i], .events = POLLIN};
		if (send(fds[i], &c, 1, MSG_NOSIGNAL) != 1 || poll(&pf, 1, 5000) != 1 ||
		    recv(fds[i], &back, 1, 0) != 1 || back != c)
			return -1;
	}
	return 0;
}

struct result {
	double rss_mib, base_mib, kib_per_conn, connect_s;
};

/* One backend, one round: 0 with the figures, or -1 (said why). */
static int one_round(int b, int conns, int *fds, struct result *r)
{
	struct server s;
	struct stats st;
	if (start_server(b, &s))
		return -1;
	const char *who = bench_backends[b].key;
	int err = server_stats(&s, &st);
	long base = st.rss_kib;
	uint64_t t0 = bench_now_ns();
	int n = 0;
	while (!err && n < conns) {
		int fd = connect_one(n, s.port);
		if (fd < 0) {
			fprintf(stderr, "bench-idle: %s: connection %d: %s\n", who, n,
				strerror(-fd));
			err = -1;
			break;
		}
		fds[n++] = fd;
		/* keep the listener's queue short: wait for the accepts */
		if (n % 2000 == 0)
			for (int k = 0; k < 1000 && !err; k++) {
				err = server_stats(&s, &st);
				if (err || st.accepted + 2000 >= (unsigned long long)n)
					break;
				usleep(1000);
			}
	}
	r->connect_s = (double)(bench_now_ns() - t0) / 1e9;
	/* every handler running (30 s at most) */
	for (int k = 0; !err && k < 3000; k++) {
		err = server_stats(&s, &st);
		if (!err && st.active >= (unsigned long long)conns)
			break;
		usleep(10000);
	}
	if (!err && st.active < (unsigned long long)conns) {
		fprintf(stderr, "bench-idle: %s: %llu of %d handlers running\n", who, st.active,
			conns);
		err = -1;
	}
	if (!err && check_echo(fds, n, conns / 100 ? conns / 100 : 1)) {
		fprintf(stderr, "bench-idle: %s: a connection did not echo\n", who);
		err = -1;
	}
	if (!err) {
		r->rss_mib = (double)st.rss_kib / 1024.0;
		r->base_mib = (double)base / 1024.0;
		r->kib_per_conn = (double)(st.rss_kib - base) / conns;
	}
	close_all(fds, n);
	if (stop_server(&s))
		fprintf(stderr, "bench-idle: %s server did not stop cleanly\n", who);
	return err ? -1 : 0;
}

/* RLIMIT_NOFILE up to @want, else as high as the hard limit allows;
 * returns the soft limit now in force. */
static rlim_t raise_nofile(rlim_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	if (rl.rlim_cur >= want)
		return rl.rlim_cur;
	struct rlimit up = {.rlim_cur = want, .rlim_max = rl.rlim_max > want ? rl.rlim_max : want};
	if (!setrlimit(RLIMIT_NOFILE, &up)) /* above the hard limit: CAP_SYS_RESOURCE */
		return want;
	rl.rlim_cur = rl.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &rl) ? 0 : rl.rlim_cur;
}

int main(int argc, char **argv)
{
	int conns = 100000, rounds = 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			rounds = 1;
		else if (!strcmp(argv[i], "--full"))
			rounds = 3;
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--conns") && i + 1 < argc)
			conns = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: bench-idle [--quick|--full] [--rounds N] "
					"[--conns N]\n");
			return 2;
		}
	}
	if (conns < 1 || conns > 16 * PER_ADDRESS || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "bench-idle: conns 1..%d, rounds 1..%d\n", 16 * PER_ADDRESS,
			MAX_ROUNDS);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int want = conns;
	rlim_t lim = raise_nofile((rlim_t)conns + 1024);
	if (lim < (rlim_t)conns + 1024) {
		if (lim < 2048) {
			fprintf(stderr, "bench-idle: RLIMIT_NOFILE is %llu and cannot be raised; "
					"skipped\n",
				(unsigned long long)lim);
			return 77;
		}
		conns = (int)(lim - 1024);
		printf("# bench-idle: RLIMIT_NOFILE cannot be raised past %llu here (no "
		       "CAP_SYS_RESOURCE): measured with %d connections, %d projected\n",
		       (unsigned long long)lim, conns, want);
	}
	int *fds = malloc((size_t)conns * sizeof(*fds));
	if (!fds)
		bench_die("malloc", ENOMEM);
	for (int i = 0; i < conns; i++)
		fds[i] = -1;
	printf("# bench-idle: %d idle connections to bench-echo's server (corio_serve, the "
	       "echo handler), %d round(s) per backend, from %d source addresses\n",
	       conns, rounds, (conns + PER_ADDRESS - 1) / PER_ADDRESS);
	static double v[4][BENCH_NBACKENDS][MAX_ROUNDS];
	int n[BENCH_NBACKENDS] = {0};
	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < BENCH_NBACKENDS; k++) {
			int b = (k + r) % BENCH_NBACKENDS;
			struct result res;
			if (one_round(b, conns, fds, &res))
				return 1;
			printf("#  %s: RSS %.1f MiB (%.1f before the connections), %.2f KiB per "
			       "connection; connected in %.1f s\n",
			       bench_backends[b].key, res.rss_mib, res.base_mib, res.kib_per_conn,
			       res.connect_s);
			fflush(stdout);
			v[0][b][n[b]] = res.rss_mib;
			v[1][b][n[b]] = res.kib_per_conn;
			v[2][b][n[b]++] = res.connect_s;
		}
	double rss[BENCH_NBACKENDS], per[BENCH_NBACKENDS];
	for (int b = 0; b < BENCH_NBACKENDS; b++) {
		rss[b] = bench_median(v[0][b], n[b]);
		per[b] = bench_median(v[1][b], n[b]);
	}
	printf("idle.rss_mib conns=%d unit=MiB better=lower corio_uring=%.1f corio_epoll=%.1f "
	       "target<=%g uring=%s epoll=%s\n",
	       conns, rss[BENCH_URING], rss[BENCH_EPOLL], TARGET_MIB,
	       rss[BENCH_URING] <= TARGET_MIB ? "PASS" : "FAIL",
	       rss[BENCH_EPOLL] <= TARGET_MIB ? "PASS" : "FAIL");
	printf("idle.kib_per_conn conns=%d unit=KiB better=lower corio_uring=%.2f "
	       "corio_epoll=%.2f\n",
	       conns, per[BENCH_URING], per[BENCH_EPOLL]);
	double proj[BENCH_NBACKENDS];
	for (int b = 0; b < BENCH_NBACKENDS; b++)
		proj[b] = rss[b] + per[b] * (want - conns) / 1024.0;
	if (want != conns)
		printf("idle.rss_mib_projected conns=%d measured=%d unit=MiB better=lower "
		       "corio_uring=%.1f corio_epoll=%.1f target<=%g uring=%s epoll=%s\n",
		       want, conns, proj[BENCH_URING], proj[BENCH_EPOLL], TARGET_MIB,
		       proj[BENCH_URING] <= TARGET_MIB ? "PASS" : "FAIL",
		       proj[BENCH_EPOLL] <= TARGET_MIB ? "PASS" : "FAIL");
	printf("\n| %d idle connections held by corio_serve | corio io_uring | corio epoll | "
	       "target |\n|---|---:|---:|---|\n",
	       conns);
	printf("| server RSS, MiB | %.1f | %.1f | <= %g (%s / %s) |\n", rss[BENCH_URING],
	       rss[BENCH_EPOLL], TARGET_MIB, rss[BENCH_URING] <= TARGET_MIB ? "PASS" : "FAIL",
	       rss[BENCH_EPOLL] <= TARGET_MIB ? "PASS" : "FAIL");
	printf("| RSS growth per connection, KiB | %.2f | %.2f | |\n", per[BENCH_URING],
	       per[BENCH_EPOLL]);
	if (want != conns)
		printf("| projected for %d connections (not measured), MiB | %.1f | %.1f | <= %g "
		       "(%s / %s) |\n",
		       want, proj[BENCH_URING], proj[BENCH_EPOLL], TARGET_MIB,
		       proj[BENCH_URING] <= TARGET_MIB ? "PASS" : "FAIL",
		       proj[BENCH_EPOLL] <= TARGET_MIB ? "PASS" : "FAIL");
	printf("\nMedian of %d round(s); RSS from the server's /proc/self/statm once every "
	       "handler runs and a sample of 1 in 100 connections has echoed a byte.\n",
	       rounds);
	free(fds);
	return 0;
}
