/* SPDX-License-Identifier: MIT */
/*
 * tests/op.c - the op engine on real fds: reads and writes on pipes and
 * eventfds, many ops in flight from many tasks, bad arguments.
 */
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void *nops(void *arg)
{
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(corio_nop(), 0);
	(*(int *)arg)++;
	return NULL;
}

static void *many_nops(void *arg)
{
	(void)arg;
	int done = 0;
	for (int i = 0; i < 500; i++)
		cr_assert_eq(corio_spawn(NULL, nops, &done), 0);
	while (done < 500)
		cr_assert_eq(corio_sleep(1 * MS), 0);
	return NULL;
}

Test(op, half_a_million_nops_from_500_tasks)
{
	t_run(many_nops, NULL, NULL);
}

struct pump {
	int fd;
	size_t total;
	uint64_t sum;
};

static void *pipe_writer(void *arg)
{
	struct pump *p = arg;
	char buf[4096];
	size_t sent = 0;
	uint64_t seed = 1;
	while (sent < p->total) {
		size_t n = sizeof(buf) < p->total - sent ? sizeof(buf) : p->total - sent;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			buf[i] = (char)(seed >> 56);
			p->sum += (unsigned char)buf[i];
		}
		size_t off = 0;
		while (off < n) { /* corio_write may be short, like write(2) */
			ssize_t w = corio_write(p->fd, buf + off, n - off);
			cr_assert_gt(w, 0);
			off += (size_t)w;
		}
		sent += n;
	}
	corio_close(p->fd);
	return NULL;
}

static void *pipe_reader(void *arg)
{
	struct pump *p = arg;
	char buf[1000];
	ssize_t n;
	while ((n = corio_read(p->fd, buf, sizeof(buf))) > 0) {
		p->total += (size_t)n;
		for (ssize_t i = 0; i < n; i++)
			p->sum += (unsigned char)buf[i];
	}
	cr_assert_eq(n, 0, "EOF expected, got %zd", n);
	return NULL;
}

static void *pump_main(void *arg)
{
	(void)arg;
	int p[2];
	t_pipe(p);
	struct pump w = {.fd = p[1], .total = 8 << 20}, r = {.fd = p[0]};
	corio_task *a, *b;
	cr_assert_eq(corio_spawn(&a, pipe_writer, &w), 0);
	cr_assert_eq(corio_spawn(&b, pipe_reader, &r), 0);
	cr_assert_eq(corio_join(a, NULL), 0);
	cr_assert_eq(corio_join(b, NULL), 0);
	cr_assert_eq(r.total, w.total);
	cr_assert_eq(r.sum, w.sum);
	corio_close(p[0]);
	return NULL;
}

Test(op, eight_mib_through_a_pipe_between_tasks)
{
	t_run(pump_main, NULL, NULL);
}

static void *efd_main(void *arg)
{
	(void)arg;
	int fd = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	uint64_t v = 5;
	cr_assert_eq(corio_write(fd, &v, sizeof(v)), 8);
	v = 0;
	cr_assert_eq(corio_read(fd, &v, sizeof(v)), 8);
	cr_assert_eq(v, 5);
	corio_close(fd);
	return NULL;
}

Test(op, eventfd_read_and_write)
{
	t_run(efd_main, NULL, NULL);
}

static void *bad_args(void *arg)
{
	(void)arg;
	char c;
	cr_assert_eq(corio_read(-1, &c, 1), -EBADF);
	cr_assert_eq(corio_read(0, NULL, 1), -EINVAL);
	cr_assert_eq(corio_write(1, &c, (size_t)INT_MAX + 1), -EINVAL);
	int p[2];
	t_pipe(p);
	corio_close(p[1]);
	cr_assert_eq(corio_write(p[0], "x", 1), -EBADF, "write to a read end");
	cr_assert_eq(corio_read(p[0], &c, 1), 0, "EOF");
	corio_close(p[0]);
	cr_assert_eq(corio_read(p[0], &c, 1), -EBADF, "closed fd");
	return NULL;
}

Test(op, bad_arguments_give_clear_errors)
{
	t_run(bad_args, NULL, NULL);
}

struct flood {
	int done;
	int fds[2];
};

static void *flood_reader(void *arg)
{
	struct flood *f = arg;
	char c;
	/* parked in the kernel while the ring is flooded with nops */
	cr_assert_eq(corio_read(f->fds[0], &c, 1), 1);
	f->done++;
	return NULL;
}

static void *flood_nops(void *arg)
{
	struct flood *f = arg;
	for (int i = 0; i < 50; i++)
		cr_assert_eq(corio_nop(), 0);
	f->done++;
	return NULL;
}

static void *flood_main(void *arg)
{
	(void)arg;
	struct flood f = {0};
	t_pipe(f.fds);
	enum { READERS = 100, NOPPERS = 3000 };
	for (int i = 0; i < READERS; i++)
		cr_assert_eq(corio_spawn(NULL, flood_reader, &f), 0);
	for (int i = 0; i < NOPPERS; i++)
		cr_assert_eq(corio_spawn(NULL, flood_nops, &f), 0);
	while (f.done < NOPPERS)
		cr_assert_eq(corio_sleep(1 * MS), 0);
	char buf[READERS];
	memset(buf, 'r', sizeof(buf));
	cr_assert_eq(write(f.fds[1], buf, sizeof(buf)), READERS);
	while (f.done < NOPPERS + READERS)
		cr_assert_eq(corio_sleep(1 * MS), 0);
	corio_close(f.fds[0]);
	corio_close(f.fds[1]);
	return NULL;
}

Test(op, tiny_ring_full_sq_and_cq_overflow_lose_nothing)
{
	/* 8 SQ entries, 32 CQ entries, 3100 ops in flight at once */
	corio_loop_options o = {.ring_entries = 8};
	t_run(flood_main, NULL, &o);
}
