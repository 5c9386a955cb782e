/* SPDX-License-Identifier: MIT */
/* util.c - see util.h. */
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void *t_run(corio_fn fn, void *arg, const corio_loop_options *o)
{
	corio_loop *loop;
	cr_assert_eq(corio_loop_new(&loop, o), 0, "corio_loop_new");
	corio_task *t;
	cr_assert_eq(corio_spawn_ex(loop, &t, fn, arg, NULL), 0, "spawn main");
	cr_assert_eq(corio_loop_run(loop), 0, "corio_loop_run");
	void *res = NULL;
	cr_assert_eq(corio_join(t, &res), 0, "main task did not finish cleanly");
	cr_assert_eq(corio_loop_free(loop), 0, "tasks left alive after the loop ran");
	return res;
}

void t_pipe(int fds[2])
{
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0, "pipe2");
}

void t_tcp_pair(int sv[2])
{
	int lfd = corio_tcp_listen("127.0.0.1", "0", 4, 0);
	cr_assert_geq(lfd, 0, "listen: %s", corio_strerror(lfd));
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
	sv[0] = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(connect(sv[0], (struct sockaddr *)&ss, len), 0);
	sv[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(sv[1], 0);
	close(lfd);
}

uint64_t t_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

char *t_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p = malloc(4096);
	cr_assert_not_null(p);
	snprintf(p, 4096, "%s/corio-test-XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(p), "mkdtemp");
	return p;
}

void t_rmtree(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

char *t_loop_dump(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cr_assert_not_null(f);
	corio_loop_dump(corio_current_loop(), f);
	fclose(f);
	return text;
}
