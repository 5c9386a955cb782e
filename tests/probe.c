/* SPDX-License-Identifier: MIT */
/*
 * tests/probe.c - examples/probe as its users run it: the built program
 * (its path in $CORIO_PROBE, set by tests/meson.build) against a dnsmasq
 * that answers, one that refuses, a closed port and a server that never
 * answers.  A server that fails must be an error with a non-zero exit
 * status, never a list of names "not found".
 */
#include "dnsmasq.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* What one run of the program left behind. */
struct run {
	int status; /* exit status; -1 if it did not exit */
	char out[8192], err[8192];
	uint64_t ms;
};

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
}

/* Run the probe with @args (NULL-terminated), its output in @r. */
static void run_probe(struct run *r, const char *const *args)
{
	const char *probe = getenv("CORIO_PROBE");
	cr_assert_not_null(probe, "CORIO_PROBE: the path of examples/probe");
	char *argv[16], *dir = t_tmpdir(), out[4200], err[4200];
	int n = 0;
	argv[n++] = (char *)probe;
	for (; *args && n < 15; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(err, sizeof(err), "%s/err", dir);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint64_t t0 = t_clock();
	pid_t pid;
	int e = posix_spawn(&pid, probe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(e, 0, "spawn %s: %s", probe, strerror(e));
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	r->ms = (t_clock() - t0) / MS;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
	t_rmtree(dir);
	free(dir);
}

/* The line of @text about @name, in @line ("" if there is none). */
static void line_of(const char *text, const char *name, char *line, size_t len)
{
	line[0] = 0;
	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *hit = strstr(p, name);
		if (hit && hit < p + n) {
			snprintf(line, len, "%.*s", (int)n, p);
			return;
		}
		p += n + (end != NULL);
	}
}

#define NEED_DNSMASQ_BINARY()                                                          \
	do {                                                                           \
		if (!t_dnsmasq_path())                                                 \
			cr_skip_test("dnsmasq is not installed (dnsmasq-base)");      \
	} while (0)

/* ---- the command line ------------------------------------------------------- */

Test(probe, help_prints_the_usage_and_exits_0)
{
	static const char *const flags[] = {"--help", "-h"};
	for (size_t i = 0; i < 2; i++) {
		struct run r;
		const char *const args[] = {flags[i], NULL};
		run_probe(&r, args);
		cr_assert_eq(r.status, 0, "%s: exit %d", flags[i], r.status);
		cr_assert_not_null(strstr(r.out, "usage: probe"), "%s: %s", flags[i],
				   r.out);
		cr_assert_not_null(strstr(r.out, "Exit status"), "statuses documented");
	}
}

Test(probe, bad_command_lines_exit_2)
{
	static const char *const bad[][3] = {
		{"--bogus", NULL},
		{"--server", NULL},
		{"--server", "127.0.0.1:99999"},
		{"--timeout", "0"},
		{"--timeout", "ten"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct run r;
		run_probe(&r, bad[i]);
		cr_assert_eq(r.status, 2, "%s %s: exit %d", bad[i][0],
			     bad[i][1] ? bad[i][1] : "", r.status);
		cr_assert_neq(r.err[0], 0, "%s: says why on stderr", bad[i][0]);
	}
}

/* ---- servers ----------------------------------------------------------------- */

Test(probe, answers_found_or_not_exit_0, .timeout = WAIT_TEST_TIMEOUT)
{
	NEED_DNSMASQ_BINARY();
	struct t_dnsmasq d;
	const char *const records[] = {"--host-record=int.dev,192.0.2.1", NULL};
	cr_assert_eq(t_dnsmasq_start(&d, records), 0);
	struct run r;
	const char *const args[] = {"--server", d.server, NULL};
	run_probe(&r, args);
	t_dnsmasq_stop(&d);
	char line[128];
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	line_of(r.out, "int.dev", line, sizeof(line));
	cr_assert_str_eq(line, "+ int.dev");
	line_of(r.out, "auto.dev", line, sizeof(line));
	cr_assert_str_eq(line, "  auto.dev", "NXDOMAIN: not found");
	cr_assert_str_eq(r.err, "");
}

/* Every name is reported as failed, on stderr, saying how; none of them
 * as "not found". */
static void assert_all_failed(const struct run *r, const char *how)
{
	char line[256];
	static const char *const names[] = {"auto.dev", "case.dev", "int.dev",
					    "void.dev"};
	cr_assert_eq(r->status, 1, "exit %d\nout: %s\nerr: %s", r->status, r->out,
		     r->err);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		line_of(r->out, names[i], line, sizeof(line));
		cr_assert_str_eq(line, "", "%s printed as an answer: %s", names[i], line);
		line_of(r->err, names[i], line, sizeof(line));
		cr_assert_not_null(strstr(line, how), "%s: '%s', not %s", names[i], line,
				   how);
	}
}

Test(probe, closed_port_is_an_error_not_not_found, .timeout = WAIT_TEST_TIMEOUT)
{
	/* the discard port: nobody listens there, the kernel says so */
	struct run r;
	const char *const args[] = {"--server", "127.0.0.1:9", NULL};
	run_probe(&r, args);
	assert_all_failed(&r, "unreachable");
}

Test(probe, refusing_server_is_an_error_not_not_found, .timeout = WAIT_TEST_TIMEOUT)
{
	NEED_DNSMASQ_BINARY();
	struct t_dnsmasq d;
	cr_assert_eq(t_dnsmasq_start_refusing(&d, NULL), 0);
	struct run r;
	const char *const args[] = {"--server", d.server, NULL};
	run_probe(&r, args);
	t_dnsmasq_stop(&d);
	assert_all_failed(&r, "refused");
}

Test(probe, silent_server_is_an_error_not_not_found, .timeout = WAIT_TEST_TIMEOUT)
{
	/* a UDP socket nobody reads: queries go in, nothing comes back */
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	char server[32];
	snprintf(server, sizeof(server), "127.0.0.1:%d", ntohs(sa.sin_port));
	struct run r;
	const char *const args[] = {"--server", server, "--timeout", "1", NULL};
	run_probe(&r, args);
	close(fd);
	assert_all_failed(&r, "timed out");
	cr_assert_lt(r.ms, 5000, "--timeout 1 took %llu ms", (unsigned long long)r.ms);
}
