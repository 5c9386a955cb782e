/* SPDX-License-Identifier: MIT */
/*
 * tests/examples.c - the example programs, run as a user runs them: cp on
 * real files in a temp dir (it must never truncate its own source), every
 * example's --help and its answer to an unknown option, and the two
 * servers on a loopback ephemeral port dropping clients that stay silent
 * or trickle.  tests/meson.build says where examples/ built the programs
 * (CORIO_EXAMPLES_DIR).  No corio loop here: plain syscalls.
 */
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEC (1000 * MS)
#define OUT_MAX 65536
/* A program that runs to completion must do so within this. */
#define RUN_LIMIT (20 * SEC)

static const char *const all_examples[] = {
	"spinner", "pipeline", "throttle", "cp", "echo_server", "charfinder",
};

/* ---- running a program ----------------------------------------------------- */

static char *bin(const char *name)
{
	const char *dir = getenv("CORIO_EXAMPLES_DIR");
	cr_assert_not_null(dir, "CORIO_EXAMPLES_DIR unset: run this through meson test");
	char *p;
	cr_assert_geq(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

/* In the child before exec: @fd becomes descriptor @to (/dev/null when
 * @fd < 0). */
static void child_fd(int fd, int to)
{
	if (fd < 0)
		fd = open("/dev/null", O_RDWR);
	if (fd < 0 || dup2(fd, to) < 0)
		_exit(126);
}

/* Start example @name with @args (NULL-terminated, without argv[0]) in
 * @cwd (NULL: here).  Its stdout and stderr go to pipes whose read ends
 * land in *@out and *@err; a NULL @err leaves stderr to the test's. */
static pid_t start(const char *cwd, const char *name, const char *const *args, int *out,
		   int *err)
{
	const char *argv[16] = {NULL};
	argv[0] = bin(name);
	for (int i = 0; args[i]; i++) {
		cr_assert_lt(i + 2, 16);
		argv[i + 1] = args[i];
	}
	int po[2], pe[2] = {-1, -1};
	t_pipe(po);
	if (err)
		t_pipe(pe);
	pid_t parent = getpid(), pid = fork();
	cr_assert_geq(pid, 0, "fork");
	if (pid == 0) {
		/* the program dies with the test: a failed assertion leaves no
		 * server behind (checking getppid() closes the race with fork) */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(126);
		if (cwd && chdir(cwd))
			_exit(126);
		child_fd(-1, 0);
		child_fd(po[1], 1);
		if (err)
			child_fd(pe[1], 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	free((char *)argv[0]);
	close(po[1]);
	*out = po[0];
	if (err) {
		close(pe[1]);
		*err = pe[0];
	}
	return pid;
}

/* Wait for @pid until @deadline (t_clock()), killing it after that.
 * Return: its exit code, 128 + signal, or -1 if it had to be killed. */
static int reap(pid_t pid, uint64_t deadline)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0), st, killed = 0;
	cr_assert_geq(pfd, 0, "pidfd_open: %s", strerror(errno));
	struct pollfd p = {.fd = pfd, .events = POLLIN};
	uint64_t now = t_clock();
	int ms = now < deadline ? (int)((deadline - now) / MS) : 0;
	if (poll(&p, 1, ms) == 0) {
		kill(pid, SIGKILL); /* ours: started by start() */
		killed = 1;
	}
	close(pfd);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	if (killed)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct ran {
	int status;         /* as reap() */
	char out[OUT_MAX];  /* stdout, NUL-terminated (cut at OUT_MAX - 1) */
	char err[OUT_MAX];  /* stderr, likewise */
};

/* Append what @fd has to @buf; 0 once it reached end of file. */
static int drain(int fd, char *buf)
{
	size_t len = strlen(buf);
	char scratch[4096];
	ssize_t n = read(fd, scratch, sizeof(scratch));
	if (n <= 0)
		return 0;
	size_t keep = (size_t)n < OUT_MAX - 1 - len ? (size_t)n : OUT_MAX - 1 - len;
	memcpy(buf + len, scratch, keep);
	buf[len + keep] = 0;
	return 1;
}

/* Run example @name with @args in @cwd to completion (at most RUN_LIMIT). */
static struct ran *run(const char *cwd, const char *name, const char *const *args)
{
	struct ran *r = calloc(1, sizeof(*r));
	cr_assert_not_null(r);
	int fds[2];
	pid_t pid = start(cwd, name, args, &fds[0], &fds[1]);
	char *bufs[2] = {r->out, r->err};
	uint64_t deadline = t_clock() + RUN_LIMIT;
	struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
	while ((p[0].fd >= 0 || p[1].fd >= 0) && t_clock() < deadline) {
		if (poll(p, 2, 100) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd >= 0 && p[i].revents && !drain(fds[i], bufs[i]))
				p[i].fd = -1;
		}
	}
	r->status = reap(pid, deadline);
	close(fds[0]);
	close(fds[1]);
	cr_assert_neq(r->status, -1, "%s ran for over %llu s", name,
		      (unsigned long long)(RUN_LIMIT / SEC));
	return r;
}

/* ---- files ----------------------------------------------------------------- */

static char *path(const char *dir, const char *name)
{
	char *p;
	cr_assert_geq(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static void put(const char *dir, const char *name, const void *data, size_t len)
{
	char *p = path(dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0, "create %s", p);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	free(p);
}

/* @name in @dir holds exactly @len bytes equal to @data. */
static void expect_file(const char *dir, const char *name, const void *data, size_t len)
{
	char *p = path(dir, name), *got = malloc(len + 1);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s", p);
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq((size_t)st.st_size, len, "%s has %lld bytes, not %zu", p,
		     (long long)st.st_size, len);
	cr_assert_eq(read(fd, got, len + 1), (ssize_t)len);
	cr_assert_eq(memcmp(got, data, len), 0, "%s changed", p);
	close(fd);
	free(got);
	free(p);
}

static int exists(const char *dir, const char *name)
{
	char *p = path(dir, name);
	struct stat st;
	int r = lstat(p, &st) == 0;
	free(p);
	return r;
}

/* @len bytes of xorshift noise: no emptied or zeroed file passes for them. */
static unsigned char *pattern(size_t len)
{
	unsigned char *p = malloc(len);
	cr_assert_not_null(p);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

/* ---- cp never copies a file onto itself ------------------------------------ */

#define BIG ((size_t)3 << 20)

/* cp refused: exit 1, @why on stderr (expected, not asserted: the caller
 * goes on to check that the source is untouched). */
static void expect_refusal(const struct ran *r, const char *why)
{
	cr_expect_eq(r->status, 1, "exit %d, stderr: %s", r->status, r->err);
	cr_expect_not_null(strstr(r->err, why), "stderr lacks '%s': %s", why, r->err);
}

static void refuse_same_file(const char *dst, const char *setup)
{
	char *dir = t_tmpdir();
	unsigned char *data = pattern(BIG);
	put(dir, "big.bin", data, BIG);
	if (!strcmp(setup, "hard link")) {
		char *a = path(dir, "big.bin"), *b = path(dir, dst);
		cr_assert_eq(link(a, b), 0);
		free(a), free(b);
	} else if (!strcmp(setup, "symlink")) {
		char *b = path(dir, dst);
		cr_assert_eq(symlink("big.bin", b), 0);
		free(b);
	}
	struct ran *r = run(dir, "cp", (const char *[]){"big.bin", dst, NULL});
	expect_refusal(r, "are the same file");
	expect_file(dir, "big.bin", data, BIG);
	free(r);
	free(data);
	t_rmtree(dir);
	free(dir);
}

Test(examples, cp_refuses_to_copy_a_file_onto_itself)
{
	refuse_same_file("big.bin", "");
}

Test(examples, cp_refuses_to_copy_a_file_into_its_own_directory)
{
	refuse_same_file(".", "");
}

Test(examples, cp_refuses_a_hard_link_to_the_source_as_destination)
{
	refuse_same_file("other.bin", "hard link");
}

Test(examples, cp_refuses_a_symlink_to_the_source_as_destination)
{
	refuse_same_file("link.bin", "symlink");
}

/* tree/f and tree/sub/deep/g, each holding its own name. */
static char *make_tree(void)
{
	char *dir = t_tmpdir();
	const char *dirs[] = {"tree", "tree/sub", "tree/sub/deep"};
	for (int i = 0; i < 3; i++) {
		char *p = path(dir, dirs[i]);
		cr_assert_eq(mkdir(p, 0755), 0);
		free(p);
	}
	put(dir, "tree/f", "tree/f", 6);
	put(dir, "tree/sub/deep/g", "tree/sub/deep/g", 15);
	return dir;
}

static void refuse_into_itself(const char *dst, const char *made)
{
	char *dir = make_tree();
	struct ran *r = run(dir, "cp", (const char *[]){"-r", "tree", dst, NULL});
	expect_refusal(r, "into itself");
	cr_assert(!exists(dir, made), "cp made %s", made);
	expect_file(dir, "tree/f", "tree/f", 6);
	expect_file(dir, "tree/sub/deep/g", "tree/sub/deep/g", 15);
	free(r);
	t_rmtree(dir);
	free(dir);
}

Test(examples, cp_refuses_to_copy_a_directory_into_itself)
{
	refuse_into_itself("tree/a", "tree/a");
}

Test(examples, cp_refuses_to_copy_a_directory_into_a_deeper_descendant)
{
	refuse_into_itself("tree/sub/deep/a", "tree/sub/deep/a");
}

Test(examples, cp_refuses_to_copy_a_directory_into_itself_as_a_child)
{
	/* tree is a directory, so the copy would be tree/tree */
	refuse_into_itself("tree", "tree/tree");
}

Test(examples, cp_refuses_a_character_device)
{
	char *dir = t_tmpdir();
	struct ran *r = run(dir, "cp", (const char *[]){"/dev/zero", "zeros", NULL});
	expect_refusal(r, "not a regular file");
	cr_assert(!exists(dir, "zeros"), "cp made an empty file for /dev/zero");
	free(r);
	t_rmtree(dir);
	free(dir);
}

/* The refusals must not stop the copies cp is for. */
Test(examples, cp_still_copies_files_and_trees)
{
	char *dir = make_tree();
	unsigned char *data = pattern(BIG);
	put(dir, "big.bin", data, BIG);
	put(dir, "old.bin", "old", 3);
	struct ran *r = run(dir, "cp", (const char *[]){"big.bin", "old.bin", NULL});
	cr_assert_eq(r->status, 0, "stderr: %s", r->err);
	expect_file(dir, "old.bin", data, BIG);
	free(r);
	r = run(dir, "cp", (const char *[]){"-r", "tree", "copy", NULL});
	cr_assert_eq(r->status, 0, "stderr: %s", r->err);
	expect_file(dir, "copy/f", "tree/f", 6);
	expect_file(dir, "copy/sub/deep/g", "tree/sub/deep/g", 15);
	expect_file(dir, "big.bin", data, BIG);
	free(r);
	free(data);
	t_rmtree(dir);
	free(dir);
}

/* ---- --help and unknown options ---------------------------------------------- */

Test(examples, every_example_answers_help_with_usage_on_stdout, .timeout = 60)
{
	for (size_t i = 0; i < sizeof(all_examples) / sizeof(all_examples[0]); i++) {
		const char *flags[] = {"--help", "-h"};
		for (int k = 0; k < 2; k++) {
			struct ran *r = run(NULL, all_examples[i], (const char *[]){flags[k], NULL});
			cr_expect_eq(r->status, 0, "%s %s: exit %d", all_examples[i], flags[k],
				     r->status);
			cr_expect_not_null(strcasestr(r->out, "usage"), "%s %s printed: %s",
					   all_examples[i], flags[k], r->out);
			free(r);
		}
	}
}

Test(examples, every_example_rejects_an_unknown_option_with_usage_on_stderr, .timeout = 60)
{
	for (size_t i = 0; i < sizeof(all_examples) / sizeof(all_examples[0]); i++) {
		struct ran *r = run(NULL, all_examples[i], (const char *[]){"--no-such-option", NULL});
		cr_expect_eq(r->status, 2, "%s: exit %d", all_examples[i], r->status);
		cr_expect_not_null(strcasestr(r->err, "usage"), "%s wrote to stderr: %s",
				   all_examples[i], r->err);
		cr_expect_eq(r->out[0], 0, "%s wrote to stdout: %s", all_examples[i], r->out);
		free(r);
	}
}

/* ---- the servers drop idle clients ------------------------------------------ */

/* A few lines in the shape of Debian's UnicodeData.txt. */
static const char ucd[] =
	"0041;LATIN CAPITAL LETTER A;Lu;0;L;;;;;N;;;;0061;\n"
	"00A2;CENT SIGN;Sc;0;ET;;;;;N;;;;;\n"
	"1F431;CAT FACE;So;0;ON;;;;;N;;;;;\n"
	"1F638;GRINNING CAT FACE WITH SMILING EYES;So;0;ON;;;;;N;;;;;\n";

struct server {
	pid_t pid;
	int out;  /* its stdout */
	int port; /* where it listens, on 127.0.0.1 */
	char *dir;
};

/* Start @name with @args (the last ones "127.0.0.1", "0": an ephemeral
 * port) and read its stdout up to "Serving on HOST:PORT". */
static void server_start(struct server *s, const char *name, const char *const *args)
{
	s->pid = start(NULL, name, args, &s->out, NULL);
	char buf[OUT_MAX] = "";
	uint64_t deadline = t_clock() + 10 * SEC;
	const char *at;
	while (!(at = strstr(buf, "Serving on ")) || !strchr(at, '\n')) {
		struct pollfd p = {.fd = s->out, .events = POLLIN};
		cr_assert(t_clock() < deadline, "%s did not start serving: %s", name, buf);
		if (poll(&p, 1, 100) == 1)
			cr_assert(drain(s->out, buf), "%s ended: %s", name, buf);
	}
	cr_assert_eq(sscanf(at, "Serving on %*[^:]:%d", &s->port), 1, "%s", buf);
}

static void server_stop(struct server *s)
{
	kill(s->pid, SIGTERM); /* a graceful stop: grace period of a second */
	int status = reap(s->pid, t_clock() + 10 * SEC);
	close(s->out);
	cr_expect_eq(status, 0, "server exit %d", status);
	if (s->dir) {
		t_rmtree(s->dir);
		free(s->dir);
	}
}

static void charfinder_start(struct server *s, const char *idle, const char *read_s)
{
	s->dir = t_tmpdir();
	put(s->dir, "UnicodeData.txt", ucd, sizeof(ucd) - 1);
	char *f = path(s->dir, "UnicodeData.txt");
	server_start(s, "charfinder",
		     (const char *[]){"-f", f, "--idle-timeout", idle, "--read-timeout", read_s,
				      "127.0.0.1", "0", NULL});
	free(f);
}

static int client(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
		     strerror(errno));
	return fd;
}

/* Read (and drop) what the server sends until it closes the connection:
 * 0 when it did, 1 if @until (t_clock()) came first. */
static int wait_closed(int fd, uint64_t until)
{
	for (;;) {
		uint64_t now = t_clock();
		if (now >= until)
			return 1;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)((until - now + MS - 1) / MS)) == 0)
			return 1;
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 0;
		cr_assert_geq(n, 0, "read: %s", strerror(errno));
	}
}

/* A client that connects and says nothing is dropped after the idle
 * timeout (@idle_s), well before @limit_s. */
static void expect_silent_client_dropped(struct server *s, double idle_s, double limit_s)
{
	int fd = client(s->port);
	uint64_t t0 = t_clock();
	int still_open = wait_closed(fd, t0 + (uint64_t)(limit_s * SEC));
	double took = (double)(t_clock() - t0) / SEC;
	close(fd);
	cr_expect_eq(still_open, 0, "a silent client was still connected after %.1f s", took);
	cr_expect_geq(took, idle_s * 0.8, "dropped after %.2f s, before the idle timeout", took);
}

Test(examples, charfinder_answers_a_query, .timeout = WAIT_TEST_TIMEOUT)
{
	struct server s = {0};
	charfinder_start(&s, "5", "5");
	int fd = client(s.port);
	const char q[] = "cat face\r\n";
	cr_assert_eq(write(fd, q, sizeof(q) - 1), (ssize_t)sizeof(q) - 1);
	char buf[OUT_MAX] = "";
	uint64_t deadline = t_clock() + 10 * SEC;
	while (!strstr(buf, "found\r\n")) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		cr_assert(t_clock() < deadline, "no answer: %s", buf);
		if (poll(&p, 1, 100) == 1)
			cr_assert(drain(fd, buf), "closed early: %s", buf);
	}
	cr_expect_not_null(strstr(buf, "U+1F431\t\xf0\x9f\x90\xb1\tCAT FACE\r\n"), "%s", buf);
	cr_expect_not_null(strstr(buf, "2 found\r\n"), "%s", buf);
	close(fd);
	server_stop(&s);
}

Test(examples, charfinder_drops_a_silent_client, .timeout = WAIT_TEST_TIMEOUT)
{
	struct server s = {0};
	charfinder_start(&s, "2", "20");
	expect_silent_client_dropped(&s, 2, 10);
	server_stop(&s);
}

/* A byte every 2 s is progress, so the idle timeout (3 s) never fires:
 * only the read timeout (6 s) ends a query line that never ends. */
Test(examples, charfinder_drops_a_client_trickling_a_byte_every_2s, .timeout = WAIT_TEST_TIMEOUT)
{
	struct server s = {0};
	charfinder_start(&s, "3", "6");
	int fd = client(s.port);
	uint64_t t0 = t_clock(), deadline = t0 + 15 * SEC;
	int still_open;
	while ((still_open = wait_closed(fd, t_clock() + 2 * SEC)) && t_clock() < deadline)
		send(fd, "x", 1, MSG_NOSIGNAL); /* fails once closed: the next wait sees it */
	double took = (double)(t_clock() - t0) / SEC;
	close(fd);
	cr_expect_eq(still_open, 0, "a trickling client was still connected after %.1f s", took);
	cr_expect_geq(took, 4.0, "dropped after %.2f s: the trickle should outlive the idle timeout",
		      took);
	server_stop(&s);
}

Test(examples, echo_server_drops_a_silent_client, .timeout = WAIT_TEST_TIMEOUT)
{
	struct server s = {0};
	server_start(&s, "echo_server",
		     (const char *[]){"--idle-timeout", "2", "127.0.0.1", "0", NULL});
	expect_silent_client_dropped(&s, 2, 10);
	server_stop(&s);
}
