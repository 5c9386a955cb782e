/* SPDX-License-Identifier: MIT */
/*
 * bench/file.c - corio's side of the file benchmarks that bench/file.sh
 * runs beside fio and GNU cp: random 4 KiB reads (O_DIRECT or buffered)
 * from N concurrent tasks, sequential large reads, and a whole-file copy
 * with corio_copy_fd.  Prints one machine-readable "key=value" line,
 * which names the backend that ran (from $CORIO_BACKEND, as in any corio
 * program: file.sh runs each figure on both).
 *
 *   bench-file rand  FILE [--direct] [--bs 4096] [--tasks 32] [--seconds 5]
 *   bench-file seq   FILE [--direct] [--bs 131072] [--tasks 32] [--seconds 5]
 *   bench-file copy  SRC DST
 */
#include <corio.h>

#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct opts {
	const char *mode, *file, *dst;
	bool direct;
	size_t bs;
	unsigned tasks;
	double seconds;
};

struct shared {
	const struct opts *o;
	int fd;
	uint64_t size;     /* file size, a multiple of bs */
	uint64_t deadline; /* corio_now() when to stop */
	uint64_t next;     /* sequential mode: next offset */
	uint64_t ops, bytes;
	int err;
};

/* xorshift per task: offsets must not repeat in step across tasks */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void *reader(void *arg)
{
	struct shared *sh = arg;
	const struct opts *o = sh->o;
	void *buf;
	if (corio_aligned_alloc(&buf, 0, o->bs))
		return NULL;
	uint64_t seed = (uintptr_t)&buf ^ bench_now_ns(), blocks = sh->size / o->bs;
	bool rnd = !strcmp(o->mode, "rand");
	while (corio_now() < sh->deadline && !sh->err) {
		uint64_t off;
		if (rnd) {
			off = next_rand(&seed) % blocks * o->bs;
		} else {
			off = sh->next;
			sh->next = off + o->bs >= sh->size ? 0 : off + o->bs;
		}
		ssize_t r = corio_pread(sh->fd, buf, o->bs, (off_t)off);
		if (r < 0) {
			sh->err = (int)r;
			break;
		}
		sh->ops++;
		sh->bytes += (uint64_t)r;
	}
	free(buf);
	return NULL;
}

static void *read_main(void *arg)
{
	struct shared *sh = arg;
	const struct opts *o = sh->o;
	sh->fd = corio_open(o->file, O_RDONLY | (o->direct ? O_DIRECT : 0), 0);
	if (sh->fd < 0) {
		sh->err = sh->fd;
		return NULL;
	}
	struct stat st;
	fstat(sh->fd, &st);
	sh->size = (uint64_t)st.st_size / o->bs * o->bs;
	if (!sh->size) {
		sh->err = -EINVAL;
		return NULL;
	}
	corio_task **t = calloc(o->tasks, sizeof(*t));
	uint64_t t0 = bench_now_ns();
	sh->deadline = corio_now() + (uint64_t)(o->seconds * 1e9);
	for (unsigned i = 0; i < o->tasks; i++)
		corio_spawn(&t[i], reader, sh);
	for (unsigned i = 0; i < o->tasks; i++)
		corio_join(t[i], NULL);
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	printf("iops=%.0f mibps=%.1f backend=%s\n", (double)sh->ops / secs,
	       (double)sh->bytes / secs / 1048576.0, corio_loop_backend(corio_current_loop()));
	free(t);
	corio_close(sh->fd);
	return NULL;
}

static void *copy_main(void *arg)
{
	const struct opts *o = arg;
	uint64_t t0 = bench_now_ns();
	int in = corio_open(o->file, O_RDONLY, 0);
	int out = corio_open(o->dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || out < 0) {
		fprintf(stderr, "open: %s\n", corio_strerror(in < 0 ? in : out));
		return CORIO_ERR_PTR(-EIO);
	}
	ssize_t n = corio_copy_fd(in, out, CORIO_COPY_ALL);
	int cerr = corio_close(out);
	corio_close(in);
	if (n < 0 || cerr < 0) {
		fprintf(stderr, "copy: %s\n", corio_strerror(n < 0 ? (int)n : cerr));
		return CORIO_ERR_PTR(-EIO);
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	printf("seconds=%.3f mibps=%.1f backend=%s\n", secs, (double)n / secs / 1048576.0,
	       corio_loop_backend(corio_current_loop()));
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench-file rand|seq FILE [--direct] [--bs N] [--tasks N] "
			"[--seconds S]\n       bench-file copy SRC DST\n");
	return 2;
}

static int parse(int argc, char **argv, struct opts *o)
{
	if (argc < 3)
		return -1;
	*o = (struct opts){.mode = argv[1], .file = argv[2], .tasks = 32, .seconds = 5};
	bool copy = !strcmp(o->mode, "copy");
	o->bs = !strcmp(o->mode, "seq") ? 131072 : 4096;
	if (copy) {
		o->dst = argc > 3 ? argv[3] : NULL;
		return o->dst ? 0 : -1;
	}
	if (strcmp(o->mode, "rand") && strcmp(o->mode, "seq"))
		return -1;
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--direct"))
			o->direct = true;
		else if (!strcmp(argv[i], "--bs") && i + 1 < argc)
			o->bs = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--tasks") && i + 1 < argc)
			o->tasks = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			o->seconds = strtod(argv[++i], NULL);
		else
			return -1;
	}
	return o->bs && o->tasks ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct opts o;
	if (parse(argc, argv, &o))
		return usage();
	void *res = NULL;
	int err;
	if (!strcmp(o.mode, "copy")) {
		err = corio_run(copy_main, &o, &res);
	} else {
		struct shared sh = {.o = &o};
		err = corio_run(read_main, &sh, &res);
		if (!err && sh.err)
			err = sh.err;
	}
	if (!err && corio_is_err(res))
		err = corio_ptr_err(res);
	if (err) {
		fprintf(stderr, "bench-file: %s\n", corio_strerror(err));
		return 1;
	}
	return 0;
}
