/* SPDX-License-Identifier: MIT */
/*
 * bench/bench.h - what the benchmark programs share: the two corio
 * backends that every corio figure is measured on, in the same rounds as
 * its peers, and a fresh loop on one of them.  Header only: each program
 * is built from its one .c file (bench/meson.build).
 *
 * The machine-readable line every program prints per figure, which
 * bench/report.py turns into the summary table:
 *
 *   KEY [PARAM=V ...] unit=U better=higher|lower corio_uring=N corio_epoll=N
 *       [PEER=N ...] [anything else]
 *
 * The contenders are the run of NAME=NUMBER fields right after better=;
 * the first field that is not one (a ratio "a/b=1.2", a verdict) ends it.
 */
#ifndef CORIO_BENCH_H
#define CORIO_BENCH_H

#include <corio/runtime.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Monotonic nanoseconds, read fresh. */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "PROGRAM: WHAT: reason" on stderr, then exit(1).  @err: errno or -errno. */
static inline void bench_die(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
		strerror(err < 0 ? -err : err));
	exit(1);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median of @v[0..@n), which it leaves sorted (so v[0] is the
 * smallest and v[n - 1] the largest). */
static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Lines read from a pipe (another process's stdout), through a buffer:
 * a line may come in pieces, or two in one read. */
struct bench_lines {
	int fd;
	size_t n;
	char buf[1024];
};

/* The next line into @out (without its newline) within @ms; -1 on a
 * timeout, end of file, an error, or a line longer than @cap. */
static inline int bench_read_line(struct bench_lines *l, char *out, size_t cap, int ms)
{
	for (;;) {
		char *nl = memchr(l->buf, '\n', l->n);
		if (nl) {
			size_t len = (size_t)(nl - l->buf);
			if (len >= cap)
				return -1;
			memcpy(out, l->buf, len);
			out[len] = 0;
			l->n -= len + 1;
			memmove(l->buf, nl + 1, l->n);
			return 0;
		}
		struct pollfd pf = {.fd = l->fd, .events = POLLIN};
		ssize_t r;
		if (l->n == sizeof(l->buf) || poll(&pf, 1, ms) != 1 ||
		    (r = read(l->fd, l->buf + l->n, sizeof(l->buf) - l->n)) <= 0)
			return -1;
		l->n += (size_t)r;
	}
}

/* The corio contenders, in the order they are printed. */
enum { BENCH_URING, BENCH_EPOLL, BENCH_NBACKENDS };

/* What each is called in the lines and what corio_loop_backend() says. */
static const struct bench_backend {
	const char *key;    /* machine-readable name */
	const char *env;    /* $CORIO_BACKEND value */
	const char *loop;   /* corio_loop_backend() */
	int kind;           /* corio_loop_options.backend */
} bench_backends[BENCH_NBACKENDS] = {
	{"corio_uring", "uring", "io_uring", CORIO_BACKEND_URING},
	{"corio_epoll", "epoll", "epoll", CORIO_BACKEND_EPOLL},
};

/*
 * Run @body(@arg) as the first task of a fresh loop on backend @b
 * (BENCH_URING or BENCH_EPOLL) with options @o (NULL: the defaults; its
 * backend field is overridden), until the loop has nothing left to do;
 * then free the loop.  The backend is forced, never a fallback.
 * Return: 0 with @body's result in *@result (if not NULL), -EPROTO if the
 * loop runs another backend, or the first corio error.
 */
static inline int bench_run_on(int b, const corio_loop_options *o, corio_fn body, void *arg,
			       void **result)
{
	corio_loop_options opts = o ? *o : (corio_loop_options){0};
	opts.backend = bench_backends[b].kind;
	corio_loop *l;
	corio_task *t;
	int err = corio_loop_new(&l, &opts);
	if (err)
		return err;
	if (strcmp(corio_loop_backend(l), bench_backends[b].loop))
		err = -EPROTO;
	if (!err)
		err = corio_spawn_ex(l, &t, body, arg, NULL);
	if (!err)
		err = corio_loop_run(l);
	if (!err)
		err = corio_join(t, result);
	int ferr = corio_loop_free(l);
	return err ? err : ferr;
}

#endif
