/* SPDX-License-Identifier: MIT */
/*
 * tests/stress.c - corio servers under abuse, each in a process of its own
 * (tests/soak/soak_server) watched from outside through /proc: an accept
 * storm past RLIMIT_NOFILE (the server neither dies nor spins, keeps its
 * connections and takes the rest as descriptors free up), a load generator
 * killed with SIGKILL mid-transfer (every one of its connections is closed
 * and the server serves on), and slowloris clients against
 * corio_http_serve() (closed by the head and keep-alive timeouts while
 * others are served).  The clients here are plain sockets and
 * tests/soak/soak_load, never corio.  Each test is bounded in time.
 */
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEC (1000 * MS)

/* ---- a child process and what /proc says about it ------------------------ */

struct child {
	pid_t pid;
	int out;      /* its stdout */
	char buf[4096];
	size_t len;   /* bytes of buf holding output not yet taken as lines */
};

static void child_start(struct child *c, const char *path, char *const argv[])
{
	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	c->pid = fork();
	cr_assert_geq(c->pid, 0);
	if (c->pid == 0) {
		/* dies with the test, even one that fails an assertion */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], 1);
		execv(path, argv);
		_exit(127);
	}
	close(p[1]);
	c->out = p[0];
	c->len = 0;
}

/* The child's next output line (NUL-terminated, in @line), waiting until
 * @deadline; -1 at end of output or past the deadline. */
static int child_line(struct child *c, char *line, size_t size, uint64_t deadline)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			size_t k = n < size - 1 ? n : size - 1;
			memcpy(line, c->buf, k);
			line[k] = 0;
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return 0;
		}
		uint64_t now = t_clock();
		if (now >= deadline || c->len == sizeof(c->buf))
			return -1;
		struct pollfd pfd = {.fd = c->out, .events = POLLIN};
		if (poll(&pfd, 1, (int)((deadline - now) / MS) + 1) <= 0)
			continue;
		ssize_t n = read(c->out, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
}

/* Wait for the child's exit; its status as waitpid() gives it. */
static int child_wait(struct child *c)
{
	int status;
	cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
	close(c->out);
	c->pid = 0;
	return status;
}

/* How many descriptors @pid holds numbered below @below. */
static int fds_below(pid_t pid, int below)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	cr_assert_not_null(d, "%s", path);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.' && atoi(e->d_name) < below;
	closedir(d);
	return n;
}

static int fd_count(pid_t pid)
{
	return fds_below(pid, INT_MAX);
}

/* User plus system CPU time of @pid, in clock ticks. */
static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* after the command name */
	cr_assert_not_null(p);
	unsigned long ut = 0, st = 0;
	cr_assert_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st),
		     2);
	return (long)(ut + st);
}

/* Wait until @pid holds at most @want descriptors (or @deadline). */
static int fds_settle(pid_t pid, int want, uint64_t deadline)
{
	int n;
	while ((n = fd_count(pid)) > want && t_clock() < deadline)
		usleep(20 * 1000);
	return n;
}

/* ---- plain clients -------------------------------------------------------- */

static int connect_to(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0, "%s", strerror(errno));
	int on = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return fd;
}

/* ---- the server under test ------------------------------------------------ */

struct server {
	struct child c;
	int port;
	int base_fds; /* descriptors once it listens, before any client */
};

static const char *soak_path(const char *name)
{
	static char path[4096];
	const char *dir = getenv("CORIO_SOAK_DIR");
	cr_assert_not_null(dir, "CORIO_SOAK_DIR is not set (meson test sets it)");
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* Start soak_server with @args (NULL-terminated, at most 8). */
static void server_start(struct server *s, const char *const *args)
{
	char *argv[10] = {"soak_server"};
	for (int i = 0; args[i]; i++)
		argv[i + 1] = (char *)args[i];
	child_start(&s->c, soak_path("soak_server"), argv);
	char line[256], backend[32];
	cr_assert_eq(child_line(&s->c, line, sizeof(line), t_clock() + 10 * SEC), 0,
		     "the server did not start");
	cr_assert_eq(sscanf(line, "port %d backend %31s", &s->port, backend), 2, "%s", line);
	/* the line comes before the server runs, which opens a signalfd
	 * yet: one client served and gone, and the count is the baseline */
	int fd = connect_to(s->port);
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	char buf[512];
	cr_assert_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	cr_assert_gt(recv(fd, buf, sizeof(buf), 0), 0, "the server answers");
	int with = fd_count(s->c.pid);
	close(fd);
	s->base_fds = fds_settle(s->c.pid, with - 1, t_clock() + 5 * SEC);
	cr_assert_eq(s->base_fds, with - 1);
}

/* SIGTERM; the server must stop cleanly.  Returns its accept_errors
 * (echo server), or 0. */
static unsigned long server_stop(struct server *s)
{
	cr_assert_eq(kill(s->c.pid, SIGTERM), 0);
	char line[256];
	unsigned long errors = 0;
	while (child_line(&s->c, line, sizeof(line), t_clock() + 10 * SEC) == 0)
		sscanf(line, "stopped accepted %*u peak %*u accept_errors %lu", &errors);
	int status = child_wait(&s->c);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server status %#x", status);
	return errors;
}

/* Read exactly @n bytes within @ms; 0, or -1 (short, closed, timeout). */
static int read_within(int fd, void *buf, size_t n, int ms)
{
	uint64_t deadline = t_clock() + (uint64_t)ms * MS;
	size_t got = 0;
	while (got < n) {
		uint64_t now = t_clock();
		if (now >= deadline)
			return -1;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)((deadline - now) / MS) + 1) <= 0)
			continue;
		ssize_t k = recv(fd, (char *)buf + got, n - got, MSG_DONTWAIT);
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

/* Send @msg and expect it echoed within @ms. */
static bool echoes(int fd, const char *msg, int ms)
{
	size_t n = strlen(msg);
	char buf[256];
	return send(fd, msg, n, MSG_NOSIGNAL) == (ssize_t)n && read_within(fd, buf, n, ms) == 0 &&
	       !memcmp(buf, msg, n);
}

/* ---- accept meets EMFILE -------------------------------------------------- */

enum { STORM = 150, NOFILE = 48 };

/* Those of @fds (-1: done) whose echo of "x" has come back, closed if
 * @close_them, else marked in @echoed.  The number that came back. */
static int take_echoes(int *fds, bool *echoed, bool close_them)
{
	int n = 0;
	for (int i = 0; i < STORM; i++) {
		char ch;
		if (fds[i] < 0 || echoed[i] || recv(fds[i], &ch, 1, MSG_DONTWAIT) != 1)
			continue;
		cr_assert_eq(ch, 'x');
		n++;
		if (close_them) {
			close(fds[i]);
			fds[i] = -1;
		} else {
			echoed[i] = true;
		}
	}
	return n;
}

Test(stress, accept_storm_past_emfile_neither_dies_nor_spins, .timeout = 90)
{
	char nofile[16];
	snprintf(nofile, sizeof(nofile), "%d", NOFILE);
	struct server s;
	server_start(&s, (const char *[]){"-n", nofile, NULL});
	/* RLIMIT_NOFILE bounds descriptor numbers: the connections it can
	 * hold at once are the free numbers below the limit */
	int room = NOFILE - fds_below(s.c.pid, NOFILE);
	cr_assert_gt(room, 8);
	cr_assert_lt(room, STORM);
	/* the storm: every connection completes in the kernel's backlog and
	 * asks for its echo at once */
	int fds[STORM];
	bool echoed[STORM] = {0};
	for (int i = 0; i < STORM; i++) {
		fds[i] = connect_to(s.port);
		cr_assert_eq(send(fds[i], "x", 1, MSG_NOSIGNAL), 1);
	}
	/* the server fills its descriptor table: those it took are echoed */
	int served = 0;
	uint64_t deadline = t_clock() + 20 * SEC;
	while (served < room && t_clock() < deadline) {
		served += take_echoes(fds, echoed, false);
		usleep(5 * 1000);
	}
	cr_assert_eq(served, room, "served %d of the %d it has room for", served, room);
	cr_assert_eq(fds_below(s.c.pid, NOFILE), NOFILE, "the server is at its limit");
	/* out of descriptors, with the listener readable: it must back off,
	 * not spin (a spinning loop burns about 200 ticks in these 2 s) */
	long t0 = cpu_ticks(s.c.pid);
	usleep(2 * 1000 * 1000);
	long burnt = cpu_ticks(s.c.pid) - t0;
	cr_assert_lt(burnt, 40, "the server used %ld ticks in 2 s while out of descriptors", burnt);
	cr_assert_eq(take_echoes(fds, echoed, false), 0, "no one was accepted past the limit");
	/* the connections it holds are still served */
	for (int i = 0, checked = 0; i < STORM && checked < 5; i++)
		if (echoed[i]) {
			cr_assert(echoes(fds[i], "still here", 2000), "held connection %d", i);
			checked++;
		}
	/* as its clients hang up, the server accepts the rest */
	for (int i = 0; i < STORM; i++)
		if (echoed[i]) {
			close(fds[i]);
			fds[i] = -1;
		}
	int rest = STORM - room;
	deadline = t_clock() + 30 * SEC;
	while (rest > 0 && t_clock() < deadline) {
		rest -= take_echoes(fds, echoed, true);
		usleep(5 * 1000);
	}
	cr_assert_eq(rest, 0, "%d connections were never accepted after descriptors freed up", rest);
	cr_assert_eq(fds_settle(s.c.pid, s.base_fds, t_clock() + 10 * SEC), s.base_fds);
	int fd = connect_to(s.port);
	cr_assert(echoes(fd, "after the storm", 2000));
	close(fd);
	cr_assert_geq(server_stop(&s), 1, "accept did run out of descriptors");
}

/* ---- peers that vanish ---------------------------------------------------- */

/* Run soak_load against @port; its child (the caller waits or kills). */
static void load_start(struct child *c, int port, const char *conns, const char *secs,
		       const char *think, const char *chunk)
{
	char p[16];
	snprintf(p, sizeof(p), "%d", port);
	char *argv[] = {"soak_load", "-p", p, "-c", (char *)conns, "-d", (char *)secs,
			"-t", (char *)think, "-s", (char *)chunk, "-l", "0", "-r", "1", NULL};
	child_start(c, soak_path("soak_load"), argv);
}

Test(stress, peers_killed_mid_transfer_are_all_closed, .timeout = 90)
{
	enum { CONNS = 300 };
	struct server s;
	server_start(&s, (const char *[]){NULL});
	int bystander = connect_to(s.port);
	cr_assert(echoes(bystander, "before", 2000));
	for (int round = 0; round < 2; round++) {
		struct child load;
		load_start(&load, s.port, "300", "120", "0", "65536");
		/* wait until all its connections are up and echoing */
		char line[512];
		unsigned open = 0;
		unsigned long long trips = 0;
		uint64_t deadline = t_clock() + 30 * SEC;
		while (open < CONNS || trips < 2 * CONNS) {
			cr_assert_eq(child_line(&load, line, sizeof(line), deadline), 0,
				     "the load generator never got going");
			sscanf(line, "progress t %*s open %u connects %*u trips %llu", &open, &trips);
		}
		cr_assert_geq(fd_count(s.c.pid), s.base_fds + CONNS);
		cr_assert_eq(kill(load.pid, SIGKILL), 0);
		int status = child_wait(&load);
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		/* every connection of the dead peer is closed: only the
		 * bystander's descriptor is left */
		int n = fds_settle(s.c.pid, s.base_fds + 1, t_clock() + 15 * SEC);
		cr_assert_eq(n, s.base_fds + 1, "round %d: %d descriptors, %d expected", round, n,
			     s.base_fds + 1);
	}
	cr_assert(echoes(bystander, "after", 2000));
	close(bystander);
	/* and new clients are served, every byte checked */
	struct child load;
	load_start(&load, s.port, "50", "1", "10", "4096");
	int status = child_wait(&load);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "load status %#x", status);
	cr_assert_eq(fds_settle(s.c.pid, s.base_fds, t_clock() + 10 * SEC), s.base_fds);
	server_stop(&s);
}

/* ---- slowloris against corio_http_serve() --------------------------------- */

enum { TRICKLERS = 20, IDLERS = 10 };

struct slow {
	int fd;
	uint64_t start, closed_at; /* closed_at 0: still open */
};

/* Read what the server sends; note when it closes. */
static void slow_poll(struct slow *c, uint64_t now)
{
	char buf[1024];
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			continue; /* a 408, say */
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			c->closed_at = now;
			close(c->fd);
			c->fd = -1;
		}
		return;
	}
}

/* One request on a fresh connection; it must be answered "ok" within
 * two seconds (it takes about a millisecond: the margin is for a loaded
 * machine, and still well short of what the slow clients get). */
static void one_request(int port)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
	int fd = connect_to(port);
	uint64_t t0 = t_clock();
	cr_assert_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	char buf[1024];
	size_t got = 0;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		cr_assert_eq(poll(&pfd, 1, 2000), 1, "a request waited over two seconds");
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		cr_assert_geq(n, 0);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = 0;
	cr_assert(!strncmp(buf, "HTTP/1.1 200", 12) && strstr(buf, "\r\n\r\nok\n"), "%s", buf);
	cr_assert_lt(t_clock() - t0, 2 * SEC);
	close(fd);
}

Test(stress, slowloris_is_cut_off_while_others_are_served, .timeout = 60)
{
	/* head timeout 1 s, keep-alive timeout 1 s */
	struct server s;
	server_start(&s, (const char *[]){"--http", "-H", "1", "-K", "1", NULL});
	static const char head[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ";
	static const char whole[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	struct slow cs[TRICKLERS + IDLERS];
	for (int i = 0; i < TRICKLERS + IDLERS; i++) {
		cs[i] = (struct slow){.fd = connect_to(s.port), .start = t_clock()};
		if (i < TRICKLERS) { /* a head that never ends */
			cr_assert_eq(send(cs[i].fd, head, sizeof(head) - 1, MSG_NOSIGNAL),
				     (ssize_t)sizeof(head) - 1);
		} else { /* one request, answered, then silence on keep-alive */
			cr_assert_eq(send(cs[i].fd, whole, sizeof(whole) - 1, MSG_NOSIGNAL),
				     (ssize_t)sizeof(whole) - 1);
		}
	}
	int served = 0, open = TRICKLERS + IDLERS;
	uint64_t deadline = t_clock() + 10 * SEC;
	while (open && t_clock() < deadline) {
		uint64_t now = t_clock();
		open = 0;
		for (int i = 0; i < TRICKLERS + IDLERS; i++) {
			if (cs[i].fd < 0)
				continue;
			if (i < TRICKLERS) /* a byte now and then: never idle */
				send(cs[i].fd, "a", 1, MSG_NOSIGNAL);
			slow_poll(&cs[i], now);
			open += cs[i].fd >= 0;
		}
		one_request(s.port);
		served++;
		usleep(100 * 1000);
	}
	cr_assert_eq(open, 0, "%d slow connections are still open after 10 s", open);
	for (int i = 0; i < TRICKLERS + IDLERS; i++) {
		uint64_t lived = cs[i].closed_at - cs[i].start;
		cr_assert(lived >= 900 * MS && lived < 3 * SEC,
			  "slow connection %d closed after %llu ms (timeout 1 s)", i,
			  (unsigned long long)(lived / MS));
	}
	cr_assert_geq(served, 5);
	cr_assert_eq(fds_settle(s.c.pid, s.base_fds, t_clock() + 10 * SEC), s.base_fds);
	server_stop(&s);
}
