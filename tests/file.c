/* SPDX-License-Identifier: MIT */
/*
 * tests/file.c - files: a 256 MiB write/read-back with random offsets and
 * sizes, short reads at EOF, errors reported rather than crashed, O_DIRECT,
 * crash-safe atomic writes, whole-file helpers, metadata ops, the
 * pipelined copy, cancellation, and the same ops on the offload pool.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

extern bool corio__no_ring_ops; /* internal: run file ops on the pool */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void fill(void *p, size_t n)
{
	uint64_t *w = p;
	for (size_t i = 0; i < n / 8; i++)
		w[i] = rnd();
	for (size_t i = n / 8 * 8; i < n; i++)
		((unsigned char *)p)[i] = (unsigned char)rnd();
}

static uint64_t checksum(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static char *path_in(const char *dir, const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	cr_assert_not_null(p);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

/* ---- 256 MiB, random offsets and sizes -------------------------------- */

#define BIG ((size_t)256 << 20)
#define WORKERS 16

struct seg {
	size_t off, len;
};

struct big {
	int fd;
	unsigned char *buf;
	struct seg *segs;
	size_t nsegs, next;
	bool write;
	size_t bad;      /* segments that moved short or failed */
	ssize_t bad_res; /* the first such result */
};

/* Random-sized pieces covering [0, BIG), in random order. */
static size_t make_segments(struct seg **out)
{
	size_t cap = 4096, n = 0, off = 0;
	struct seg *s = malloc(cap * sizeof(*s));
	while (off < BIG) {
		size_t len = 1 + rnd() % (rnd() & 1 ? 4096 : (1u << 20));
		if (len > BIG - off)
			len = BIG - off;
		if (n == cap)
			s = realloc(s, (cap *= 2) * sizeof(*s));
		s[n++] = (struct seg){off, len};
		off += len;
	}
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1);
		struct seg t = s[i];
		s[i] = s[j];
		s[j] = t;
	}
	*out = s;
	return n;
}

/* Every third piece goes through preadv/pwritev split in three. */
static ssize_t move_seg(struct big *b, const struct seg *s, size_t i)
{
	unsigned char *p = b->buf + s->off;
	if (i % 3 == 0 && s->len >= 3) {
		size_t a = s->len / 3, c = s->len - 2 * a;
		struct iovec v[3] = {{p, a}, {p + a, a}, {p + 2 * a, c}};
		return b->write ? corio_pwritev(b->fd, v, 3, (off_t)s->off)
				: corio_preadv(b->fd, v, 3, (off_t)s->off);
	}
	return b->write ? corio_write_full(b->fd, p, s->len, (off_t)s->off)
			: corio_read_full(b->fd, p, s->len, (off_t)s->off);
}

static void *big_worker(void *arg)
{
	struct big *b = arg;
	while (b->next < b->nsegs) {
		size_t i = b->next++;
		ssize_t r = move_seg(b, &b->segs[i], i);
		if (r != (ssize_t)b->segs[i].len && !b->bad++)
			b->bad_res = r;
	}
	return NULL;
}

static void run_workers(struct big *b)
{
	corio_task *t[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		cr_assert_eq(corio_spawn(&t[i], big_worker, b), 0);
	for (int i = 0; i < WORKERS; i++)
		cr_assert_eq(corio_join(t[i], NULL), 0);
	cr_assert_eq(b->bad, 0, "%zu segments failed, first with %zd", b->bad, b->bad_res);
}

static void *big_main(void *arg)
{
	const char *dir = arg;
	char *path = path_in(dir, "big");
	int fd = corio_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0, "open: %s", corio_strerror(fd));
	unsigned char *src = malloc(BIG), *dst = malloc(BIG);
	cr_assert(src && dst);
	fill(src, BIG);
	struct big b = {.fd = fd, .buf = src, .write = true};
	b.nsegs = make_segments(&b.segs);
	run_workers(&b);
	free(b.segs);
	b = (struct big){.fd = fd, .buf = dst, .write = false};
	b.nsegs = make_segments(&b.segs);
	run_workers(&b);
	free(b.segs);
	cr_assert_eq(checksum(src, BIG), checksum(dst, BIG));
	cr_assert_eq(memcmp(src, dst, BIG), 0);
	free(src);
	free(dst);
	cr_assert_eq(corio_close(fd), 0);
	free(path);
	return NULL;
}

Test(file, random_offsets_and_sizes_256mib_read_back_equal, .timeout = 120)
{
	CORIO_TEST_NO_FAULTS("asserts that each single preadv/pwritev is whole");
	char *dir = t_tmpdir();
	t_run(big_main, dir, NULL);
	t_rmtree(dir);
	free(dir);
}

/* ---- short reads, errors -------------------------------------------- */

static void *eof_main(void *arg)
{
	char *path = path_in(arg, "small");
	char data[1000], buf[4096];
	memset(data, 'x', sizeof(data));
	cr_assert_eq(corio_write_file(path, data, sizeof(data), 0), 0);
	int fd = corio_open(path, O_RDONLY, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(corio_read_full(fd, buf, sizeof(buf), 0), 1000, "short only at EOF");
	cr_assert_eq(corio_pread(fd, buf, sizeof(buf), 900), 100);
	cr_assert_eq(corio_pread(fd, buf, sizeof(buf), 1000), 0);
	cr_assert_eq(corio_pread(fd, buf, sizeof(buf), 5000), 0);
	/* at the file position: 600, then 400, then EOF */
	cr_assert_eq(corio_read_full(fd, buf, 600, -1), 600);
	cr_assert_eq(corio_read_full(fd, buf, sizeof(buf), -1), 400);
	cr_assert_eq(corio_read(fd, buf, sizeof(buf)), 0);
	cr_assert_eq(corio_close(fd), 0);
	free(path);
	return NULL;
}

Test(file, short_read_at_eof_returns_the_count)
{
	char *dir = t_tmpdir();
	t_run(eof_main, dir, NULL);
	t_rmtree(dir);
	free(dir);
}

static void *errors_main(void *arg)
{
	const char *dir = arg;
	char *missing = path_in(dir, "no/such/file");
	char buf[16] = "0123456789abcdef";
	void *data;
	size_t len;
	cr_assert_eq(corio_open(missing, O_RDONLY, 0), -ENOENT);
	cr_assert_eq(corio_read_file(missing, &data, &len), -ENOENT);
	cr_assert_eq(corio_open(dir, O_WRONLY, 0), -EISDIR);
	cr_assert_eq(corio_read_file(dir, &data, &len), -EISDIR);
	cr_assert_eq(corio_write_file(dir, buf, 4, CORIO_WRITE_ATOMIC), -EISDIR);
	int fd = corio_open(dir, O_RDONLY | O_DIRECTORY, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(corio_read(fd, buf, sizeof(buf)), -EISDIR);
	corio_close(fd);
	int closed = dup(0);
	close(closed);
	cr_assert_eq(corio_read(closed, buf, sizeof(buf)), -EBADF);
	cr_assert_eq(corio_pwrite(closed, buf, sizeof(buf), 0), -EBADF);
	cr_assert_eq(corio_fsync(closed, 0), -EBADF);
	cr_assert_eq(corio_close(closed), -EBADF);
	cr_assert_eq(corio_pread(0, buf, 1, -5), -EINVAL);
	cr_assert_eq(corio_fsync(0, 0x80), -EINVAL);
	int full = corio_open("/dev/full", O_WRONLY, 0);
	cr_assert_geq(full, 0);
	cr_assert_eq(corio_write(full, buf, sizeof(buf)), -ENOSPC);
	cr_assert_eq(corio_write_full(full, buf, sizeof(buf), -1), -ENOSPC);
	cr_assert_eq(corio_close(full), 0);
	cr_assert_eq(corio_write_file("/dev/full", buf, 16, 0), -ENOSPC);
	free(missing);
	return NULL;
}

Test(file, enoent_eisdir_ebadf_enospc_are_reported)
{
	char *dir = t_tmpdir();
	t_run(errors_main, dir, NULL);
	t_rmtree(dir);
	free(dir);
}

Test(file, calls_outside_a_task_say_eperm)
{
	char buf[4];
	cr_assert_eq(corio_pread(0, buf, 4, 0), -EPERM);
	cr_assert_eq(corio_open("/", O_RDONLY, 0), -EPERM);
	int fds[2];
	t_pipe(fds);
	cr_assert_eq(corio_close(fds[0]), 0, "close works anywhere");
	cr_assert_eq(corio_close(fds[1]), 0);
}

/* ---- O_DIRECT ------------------------------------------------------- */

/* A directory where O_DIRECT works: the test dir, else /var/tmp. */
static char *direct_dir(void)
{
	char *dir = t_tmpdir();
	char *probe = path_in(dir, "probe");
	int fd = open(probe, O_RDWR | O_CREAT | O_DIRECT, 0600);
	free(probe);
	if (fd >= 0) {
		close(fd);
		return dir;
	}
	t_rmtree(dir);
	free(dir);
	dir = strdup("/var/tmp/corio-direct-XXXXXX");
	if (!mkdtemp(dir))
		return free(dir), NULL;
	probe = path_in(dir, "probe");
	fd = open(probe, O_RDWR | O_CREAT | O_DIRECT, 0600);
	free(probe);
	if (fd >= 0) {
		close(fd);
		return dir;
	}
	t_rmtree(dir);
	free(dir);
	return NULL;
}

static void *direct_main(void *arg)
{
	char *path = path_in(arg, "direct");
	int fd = corio_open(path, O_RDWR | O_CREAT | O_DIRECT, 0600);
	cr_assert_geq(fd, 0, "open O_DIRECT: %s", corio_strerror(fd));
	size_t mem = 4096, off = 4096;
	int err = corio_dio_alignment(fd, &mem, &off);
	cr_assert(err == 0 || err == -EOPNOTSUPP, "%s", corio_strerror(err));
	void *a, *b;
	cr_assert_eq(corio_aligned_alloc(&a, 0, 1 << 20), 0);
	cr_assert_eq(corio_aligned_alloc(&b, 0, 1 << 20), 0);
	cr_assert_eq((uintptr_t)a % 4096, 0);
	fill(a, 1 << 20);
	cr_assert_eq(corio_write_full(fd, a, 1 << 20, 0), 1 << 20);
	cr_assert_eq(corio_read_full(fd, b, 1 << 20, 0), 1 << 20);
	cr_assert_eq(memcmp(a, b, 1 << 20), 0);
	/* misaligned buffer, offset, length: a clear -EINVAL */
	cr_assert_eq(corio_pread(fd, (char *)b + 1, 4096, 0), -EINVAL);
	cr_assert_eq(corio_pwrite(fd, (char *)a + 1, 4096, 0), -EINVAL);
	cr_assert_eq(corio_pread(fd, b, 4096, 1), -EINVAL);
	cr_assert_eq(corio_pread(fd, b, 100, 0), -EINVAL);
	cr_assert_eq(corio_aligned_alloc(&a, 3000, 10), -EINVAL);
	free(a);
	free(b);
	cr_assert_eq(corio_close(fd), 0);
	free(path);
	return NULL;
}

Test(file, odirect_aligned_works_misaligned_is_einval)
{
	char *dir = direct_dir();
	if (!dir)
		cr_skip_test("no filesystem here supports O_DIRECT (tmpfs before 6.6?)");
	t_run(direct_main, dir, NULL);
	t_rmtree(dir);
	free(dir);
}

/* ---- whole files and atomic writes ---------------------------------- */

static void *wholefile_main(void *arg)
{
	char *path = path_in(arg, "whole");
	char *big = malloc(3 << 20);
	fill(big, 3 << 20);
	cr_assert_eq(corio_write_file(path, big, 3 << 20, CORIO_WRITE_SYNC), 0);
	void *data;
	size_t len;
	cr_assert_eq(corio_read_file(path, &data, &len), 0);
	cr_assert_eq(len, (size_t)3 << 20);
	cr_assert_eq(memcmp(data, big, len), 0);
	free(data);
	cr_assert_eq(corio_write_file(path, "", 0, CORIO_WRITE_ATOMIC), 0);
	cr_assert_eq(corio_read_file(path, &data, &len), 0);
	cr_assert_eq(len, 0);
	cr_assert_eq(((char *)data)[0], '\0', "NUL-terminated");
	free(data);
	/* a file whose size says 0 but has content */
	cr_assert_eq(corio_read_file("/proc/self/status", &data, &len), 0);
	cr_assert(len > 0 && strstr(data, "Pid:"));
	free(data);
	free(big);
	free(path);
	return NULL;
}

Test(file, read_file_and_write_file_round_trip)
{
	char *dir = t_tmpdir();
	t_run(wholefile_main, dir, NULL);
	t_rmtree(dir);
	free(dir);
}

#define OLD_LEN ((size_t)4 << 20)
#define NEW_LEN ((size_t)3 << 20)

static bool content_is(const char *path, int c, size_t len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	char *buf = malloc(len + 1);
	ssize_t n = 0, r;
	while ((r = read(fd, buf + n, len + 1 - (size_t)n)) > 0)
		n += r;
	close(fd);
	bool ok = (size_t)n == len;
	for (size_t i = 0; ok && i < len; i++)
		ok = buf[i] == c;
	free(buf);
	return ok;
}

static size_t entries(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	cr_assert_eq(fscanf(f, "%zu", &n), 1);
	pclose(f);
	return n;
}

struct flip {
	const char *path;
	int ready; /* write end of a pipe: a byte once the writing starts */
};

/* Child process: rewrite the file atomically, old and new in turn, until
 * killed. */
static void *flipper(void *arg)
{
	struct flip *f = arg;
	char *a = malloc(OLD_LEN), *b = malloc(NEW_LEN);
	memset(a, 'o', OLD_LEN);
	memset(b, 'n', NEW_LEN);
	/* tell the parent: from now on a kill lands in the middle of a write */
	if (write(f->ready, "w", 1) != 1)
		_exit(4);
	close(f->ready);
	for (unsigned i = 0;; i++) {
		int err = i & 1 ? corio_write_file(f->path, a, OLD_LEN, CORIO_WRITE_ATOMIC)
				: corio_write_file(f->path, b, NEW_LEN, CORIO_WRITE_ATOMIC);
		if (err)
			_exit(3);
	}
	return NULL;
}

Test(file, atomic_write_killed_midway_leaves_old_or_new, .timeout = 60)
{
	char *dir = t_tmpdir();
	char *path = path_in(dir, "atomic");
	int fd = open(path, O_WRONLY | O_CREAT, 0640);
	char *old = malloc(OLD_LEN);
	memset(old, 'o', OLD_LEN);
	cr_assert_eq(write(fd, old, OLD_LEN), (ssize_t)OLD_LEN);
	close(fd);
	free(old);
	for (int round = 0; round < 12; round++) {
		int ready[2];
		t_pipe(ready);
		pid_t pid = fork();
		if (pid == 0) { /* no cr_assert in here: see tests/signal.c */
			close(ready[0]);
			struct flip f = {.path = path, .ready = ready[1]};
			corio_run(flipper, &f, NULL);
			_exit(2);
		}
		cr_assert_geq(pid, 0);
		close(ready[1]);
		/* the delay counts from the first write, not from the fork: a
		 * slow start must not let the kill land before any write */
		char c;
		cr_assert_eq(read(ready[0], &c, 1), 1, "the writer never started");
		close(ready[0]);
		usleep(2000 + (useconds_t)(rnd() % 40000));
		kill(pid, SIGKILL);
		int st;
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		cr_assert(WIFSIGNALED(st), "the writer failed (status %x)", st);
		cr_assert(content_is(path, 'o', OLD_LEN) || content_is(path, 'n', NEW_LEN),
			  "round %d: torn file", round);
		struct stat sb;
		cr_assert_eq(stat(path, &sb), 0);
		cr_assert_eq(sb.st_mode & 0777, 0640, "mode kept");
	}
	t_rmtree(dir);
	free(path);
	free(dir);
}

struct cancel_write {
	const char *path;
	char *data;
	int err;
};

static void *atomic_writer(void *arg)
{
	struct cancel_write *c = arg;
	c->err = corio_write_file(c->path, c->data, (size_t)64 << 20, CORIO_WRITE_ATOMIC);
	return NULL;
}

static void *atomic_cancel_main(void *arg)
{
	const char *dir = arg;
	char *path = path_in(dir, "target");
	cr_assert_eq(corio_write_file(path, "old", 3, 0), 0);
	struct cancel_write c = {.path = path, .data = malloc((size_t)64 << 20)};
	memset(c.data, 'n', (size_t)64 << 20);
	for (int delay = 0; delay < 6; delay++) {
		corio_task *t;
		cr_assert_eq(corio_spawn(&t, atomic_writer, &c), 0);
		corio_sleep((uint64_t)delay * 3 * MS);
		corio_cancel(t);
		corio_join(t, NULL);
		cr_assert(c.err == -ECANCELED || c.err == 0, "%s", corio_strerror(c.err));
		cr_assert_eq(entries(dir), 1, "no temporary file left behind");
		void *d;
		size_t len;
		cr_assert_eq(corio_read_file(path, &d, &len), 0);
		cr_assert(len == 3 ? memcmp(d, "old", 3) == 0 : len == (size_t)64 << 20);
		free(d);
		cr_assert_eq(corio_write_file(path, "old", 3, 0), 0);
	}
	free(c.data);
	free(path);
	return NULL;
}

Test(file, atomic_write_cancelled_keeps_old_or_new_and_no_temp)
{
	char *dir = t_tmpdir();
	t_run(atomic_cancel_main, dir, NULL);
	t_rmtree(dir);
	free(dir);
}

/* ---- metadata ------------------------------------------------------- */

static void *meta_main(void *arg)
{
	const char *dir = arg;
	char *sub = path_in(dir, "sub"), *a = path_in(dir, "sub/a"), *b = path_in(dir, "sub/b");
	cr_assert_eq(corio_mkdir(sub, 0755), 0);
	cr_assert_eq(corio_mkdir(sub, 0755), -EEXIST);
	int fd = corio_open(a, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, "O_CLOEXEC added");
	cr_assert_eq(corio_fallocate(fd, 0, 0, 1 << 20), 0);
	cr_assert_eq(corio_fsync(fd, CORIO_FSYNC_DATA), 0);
	cr_assert_eq(corio_fsync(fd, 0), 0);
	struct statx st;
	cr_assert_eq(corio_statx(AT_FDCWD, a, 0, STATX_SIZE | STATX_MODE, &st), 0);
	cr_assert_eq(st.stx_size, 1u << 20);
	cr_assert_eq(st.stx_mode & 0777, 0600);
	cr_assert_eq(corio_statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &st), 0);
	cr_assert_eq(corio_close(fd), 0);
	cr_assert_eq(corio_rename(a, b, 0), 0);
	cr_assert_eq(corio_statx(AT_FDCWD, a, 0, STATX_SIZE, &st), -ENOENT);
	cr_assert_eq(corio_rename(b, b, RENAME_NOREPLACE), -EEXIST);
	cr_assert_eq(corio_unlink(sub, AT_REMOVEDIR), -ENOTEMPTY);
	cr_assert_eq(corio_unlink(b, 0), 0);
	cr_assert_eq(corio_unlink(b, 0), -ENOENT);
	cr_assert_eq(corio_unlink(sub, AT_REMOVEDIR), 0);
	free(sub);
	free(a);
	free(b);
	return NULL;
}

Test(file, mkdir_statx_fallocate_fsync_rename_unlink)
{
	char *dir = t_tmpdir();
	t_run(meta_main, dir, NULL);
	t_rmtree(dir);
	free(dir);
}

static void *vec_main(void *arg)
{
	char *path = path_in(arg, "vec");
	int fd = corio_open(path, O_RDWR | O_CREAT, 0600);
	char x[] = "hello ", y[] = "world";
	struct iovec w[2] = {{x, 6}, {y, 5}};
	cr_assert_eq(corio_writev(fd, w, 2), 11);
	cr_assert_eq(corio_pwritev(fd, w + 1, 1, 100), 5);
	char a[6] = {0}, b[6] = {0};
	struct iovec r[2] = {{a, 5}, {b, 5}};
	cr_assert_eq(corio_preadv(fd, r, 2, 1), 10);
	cr_assert_str_eq(a, "ello ");
	cr_assert_str_eq(b, "world");
	cr_assert_eq(corio_readv(fd, r, 2), 10, "file position is 11, 10 zero bytes follow");
	cr_assert_eq(corio_readv(fd, r, -1), -EINVAL);
	cr_assert_eq(corio_close(fd), 0);
	free(path);
	return NULL;
}

Test(file, vectored_reads_and_writes)
{
	CORIO_TEST_NO_FAULTS("asserts that single reads and writes are whole");
	char *dir = t_tmpdir();
	t_run(vec_main, dir, NULL);
	t_rmtree(dir);
	free(dir);
}

/* ---- copying -------------------------------------------------------- */

#define COPY_LEN (((size_t)48 << 20) + 12345)

static void *copy_main(void *arg)
{
	const char *dir = arg;
	char *src = path_in(dir, "src"), *dst = path_in(dir, "dst");
	char *data = malloc(COPY_LEN);
	fill(data, COPY_LEN);
	cr_assert_eq(corio_write_file(src, data, COPY_LEN, 0), 0);
	int in = corio_open(src, O_RDONLY, 0), out = corio_open(dst, O_WRONLY | O_CREAT, 0600);
	cr_assert_eq(lseek(in, 5, SEEK_SET), 5);
	cr_assert_eq(corio_copy_fd(in, out, CORIO_COPY_ALL), (ssize_t)COPY_LEN - 5);
	cr_assert_eq(lseek(in, 0, SEEK_CUR), (off_t)COPY_LEN, "positions advanced");
	cr_assert_eq(lseek(out, 0, SEEK_CUR), (off_t)COPY_LEN - 5);
	cr_assert_eq(corio_copy_fd(in, out, CORIO_COPY_ALL), 0, "at EOF");
	cr_assert_eq(corio_copy_fd(in, out, 0), 0);
	corio_close(out);
	void *back;
	size_t len;
	cr_assert_eq(corio_read_file(dst, &back, &len), 0);
	cr_assert_eq(len, COPY_LEN - 5);
	cr_assert_eq(memcmp(back, data + 5, len), 0);
	free(back);
	/* a limit */
	out = corio_open(dst, O_WRONLY | O_TRUNC, 0);
	lseek(in, 0, SEEK_SET);
	cr_assert_eq(corio_copy_fd(in, out, 1000000), 1000000);
	cr_assert_eq(lseek(out, 0, SEEK_CUR), 1000000);
	corio_close(out);
	corio_close(in);
	free(data);
	free(src);
	free(dst);
	return NULL;
}

Test(file, copy_fd_pipelined_between_files)
{
	char *dir = t_tmpdir();
	t_run(copy_main, dir, NULL);
	t_rmtree(dir);
	free(dir);
}

struct feeder {
	int fd;
	const char *data;
	size_t len;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	cr_assert_eq(corio_write_full(f->fd, f->data, f->len, -1), (ssize_t)f->len);
	corio_close(f->fd);
	return NULL;
}

static void *copy_pipe_main(void *arg)
{
	char *dst = path_in(arg, "from-pipe");
	size_t n = (size_t)5 << 20;
	char *data = malloc(n);
	fill(data, n);
	int p[2];
	t_pipe(p);
	struct feeder f = {p[1], data, n};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, feed, &f), 0);
	int out = corio_open(dst, O_WRONLY | O_CREAT, 0600);
	cr_assert_eq(corio_copy_fd(p[0], out, CORIO_COPY_ALL), (ssize_t)n);
	cr_assert_eq(corio_join(t, NULL), 0);
	corio_close(p[0]);
	corio_close(out);
	void *back;
	size_t len;
	cr_assert_eq(corio_read_file(dst, &back, &len), 0);
	cr_assert(len == n && memcmp(back, data, n) == 0);
	free(back);
	free(data);
	free(dst);
	return NULL;
}

Test(file, copy_fd_from_a_pipe_splices)
{
	char *dir = t_tmpdir();
	t_run(copy_pipe_main, dir, NULL);
	t_rmtree(dir);
	free(dir);
}

static void *copy_zero_main(void *arg)
{
	/* /dev/zero refuses copy_file_range: the pipelined reads and writes */
	char *dst = path_in(arg, "zeros");
	size_t n = ((size_t)20 << 20) + 777;
	int in = corio_open("/dev/zero", O_RDONLY, 0);
	int out = corio_open(dst, O_RDWR | O_CREAT, 0600);
	cr_assert_eq(corio_copy_fd(in, out, n), (ssize_t)n);
	struct statx st;
	cr_assert_eq(corio_statx(out, "", AT_EMPTY_PATH, STATX_SIZE, &st), 0);
	cr_assert_eq(st.stx_size, n);
	char *back = malloc(n);
	cr_assert_eq(corio_read_full(out, back, n, 0), (ssize_t)n);
	size_t nonzero = 0;
	for (size_t i = 0; i < n; i++)
		nonzero += back[i] != 0;
	cr_assert_eq(nonzero, 0); /* one assert: --full-stats reports each */
	free(back);
	corio_close(in);
	corio_close(out);
	free(dst);
	return NULL;
}

Test(file, copy_fd_pipelined_reads_and_writes)
{
	char *dir = t_tmpdir();
	t_run(copy_zero_main, dir, NULL);
	t_rmtree(dir);
	free(dir);
}

static void *copier(void *arg)
{
	int *fds = arg;
	return CORIO_ERR_PTR((int)corio_copy_fd(fds[0], fds[1], CORIO_COPY_ALL));
}

static void *copy_cancel_main(void *arg)
{
	char *dst = path_in(arg, "cancelled");
	int fds[2] = {corio_open("/dev/zero", O_RDONLY, 0),
		      corio_open(dst, O_WRONLY | O_CREAT, 0600)};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, copier, fds), 0);
	corio_sleep(20 * MS);
	corio_cancel(t);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	corio_close(fds[0]);
	corio_close(fds[1]);
	free(dst);
	return NULL;
}

Test(file, copy_fd_cancelled_stops_all_its_ops)
{
	char *dir = t_tmpdir();
	t_run(copy_cancel_main, dir, NULL);
	t_rmtree(dir);
	free(dir);
}

/* ---- cancellation --------------------------------------------------- */

static void *blocked_reader(void *arg)
{
	int fd = *(int *)arg;
	char buf[8];
	return CORIO_ERR_PTR((int)corio_read(fd, buf, sizeof(buf)));
}

static void *closer(void *arg)
{
	int fd = *(int *)arg;
	corio_cancel(corio_self());
	cr_assert_eq(corio_nop(), -ECANCELED);
	cr_assert_eq(corio_close(fd), 0, "close is not a cancellation point");
	return NULL;
}

static void *cancel_main(void *arg)
{
	(void)arg;
	int p[2];
	t_pipe(p);
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, blocked_reader, &p[0]), 0);
	corio_sleep(5 * MS);
	corio_cancel(t);
	void *res = NULL;
	cr_assert_eq(corio_join(t, &res), -ECANCELED);
	/* the bytes written after the cancel are still there */
	cr_assert_eq(write(p[1], "abc", 3), 3);
	char buf[4];
	cr_assert_eq(corio_read(p[0], buf, sizeof(buf)), 3);
	cr_assert_eq(corio_spawn(&t, closer, &p[1]), 0);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(fcntl(p[1], F_GETFD), -1, "the fd is closed");
	corio_close(p[0]);
	return NULL;
}

Test(file, cancelled_read_returns_and_close_still_closes)
{
	CORIO_TEST_NO_FAULTS("asserts that single reads and writes are whole");
	t_run(cancel_main, NULL, NULL);
}

/* ---- without the ring ----------------------------------------------- */

Test(file, ops_work_on_the_offload_pool_when_the_ring_lacks_them)
{
	CORIO_TEST_NO_FAULTS("asserts that single reads and writes are whole");
	corio__no_ring_ops = true;
	char *dir = t_tmpdir();
	t_run(eof_main, dir, NULL);
	t_run(meta_main, dir, NULL);
	t_run(vec_main, dir, NULL);
	t_run(wholefile_main, dir, NULL);
	t_run(copy_main, dir, NULL);
	t_run(copy_zero_main, dir, NULL);
	t_run(errors_main, dir, NULL);
	corio__no_ring_ops = false;
	t_rmtree(dir);
	free(dir);
}
