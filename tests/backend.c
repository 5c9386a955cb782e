/* SPDX-License-Identifier: MIT */
/*
 * tests/backend.c - backend selection: the options field and
 * $CORIO_BACKEND, and the automatic fallback to epoll when io_uring is
 * forbidden (a seccomp filter makes io_uring_setup fail with EPERM, as
 * Docker's default profile does), with its one-line notice.
 */
#include "util.h"

#include <criterion/redirect.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Make io_uring_setup(2) fail with EPERM in this process from now on. */
static void forbid_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
	cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	cr_assert_eq(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog), 0);
}

static void *work(void *arg)
{
	(void)arg;
	int p[2];
	t_pipe(p);
	cr_assert_eq(corio_write(p[1], "ok", 2), 2);
	char buf[4];
	cr_assert_eq(corio_read(p[0], buf, sizeof(buf)), 2);
	cr_assert_eq(corio_sleep(1 * MS), 0);
	cr_assert_eq(corio_nop(), 0);
	corio_close(p[0]);
	corio_close(p[1]);
	return (void *)corio_loop_backend(corio_current_loop());
}

Test(backend, falls_back_to_epoll_when_io_uring_is_forbidden, .init = cr_redirect_stderr)
{
	CORIO_TEST_NO_FAULTS("asserts that single reads and writes are whole");
	unsetenv("CORIO_BACKEND");
	forbid_io_uring();
	const char *name = t_run(work, NULL, NULL);
	cr_assert_str_eq(name, "epoll");
	/* a second loop falls back silently: the notice is said once */
	name = t_run(work, NULL, NULL);
	cr_assert_str_eq(name, "epoll");
	fflush(stderr);
	char buf[1024] = {0};
	size_t n = fread(buf, 1, sizeof(buf) - 1, cr_get_redirected_stderr());
	buf[n] = '\0';
	cr_assert_not_null(strstr(buf, "io_uring is not available (Operation not permitted)"),
			   "notice: %s", buf);
	cr_assert_not_null(strstr(buf, "CORIO_BACKEND=epoll"), "notice: %s", buf);
	char *second = strstr(strstr(buf, "corio:") + 1, "corio:");
	cr_assert_null(second, "the notice was printed twice: %s", buf);
}

Test(backend, forced_io_uring_fails_instead_of_falling_back)
{
	forbid_io_uring();
	corio_loop *l;
	setenv("CORIO_BACKEND", "uring", 1);
	cr_assert_eq(corio_loop_new(&l, NULL), -EPERM);
	unsetenv("CORIO_BACKEND");
	corio_loop_options o = {.backend = CORIO_BACKEND_URING};
	cr_assert_eq(corio_loop_new(&l, &o), -EPERM);
}

Test(backend, chosen_by_option_and_environment)
{
	unsetenv("CORIO_BACKEND");
	corio_loop *l;
	corio_loop_options o = {.backend = CORIO_BACKEND_EPOLL};
	cr_assert_eq(corio_loop_new(&l, &o), 0);
	cr_assert_str_eq(corio_loop_backend(l), "epoll");
	cr_assert_eq(corio_loop_free(l), 0);
	setenv("CORIO_BACKEND", "epoll", 1);
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	cr_assert_str_eq(corio_loop_backend(l), "epoll");
	cr_assert_eq(corio_loop_free(l), 0);
	setenv("CORIO_BACKEND", "io_uring", 1);
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	cr_assert_str_eq(corio_loop_backend(l), "io_uring");
	cr_assert_eq(corio_loop_free(l), 0);
	setenv("CORIO_BACKEND", "kqueue", 1);
	cr_assert_eq(corio_loop_new(&l, NULL), -EINVAL);
	unsetenv("CORIO_BACKEND");
}

Test(backend, same_program_gives_same_results_on_both)
{
	CORIO_TEST_NO_FAULTS("asserts that single reads and writes are whole");
	unsetenv("CORIO_BACKEND");
	corio_loop_options u = {.backend = CORIO_BACKEND_URING};
	corio_loop_options e = {.backend = CORIO_BACKEND_EPOLL};
	cr_assert_str_eq(t_run(work, NULL, &u), "io_uring");
	cr_assert_str_eq(t_run(work, NULL, &e), "epoll");
}
