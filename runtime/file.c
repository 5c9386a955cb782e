/* SPDX-License-Identifier: MIT */
/*
 * file.c - files (DESIGN.md section 9): one op per call (open, pread,
 * readv, fsync, statx, rename, ...), run in the ring when the backend's
 * probe has the opcode and as a plain syscall on the offload pool when it
 * has not; the helpers built on them that never return short (read_full,
 * read_file, write_file with its crash-safe atomic mode); O_DIRECT buffers;
 * and corio_copy_fd, which keeps several reads and writes in flight.
 */
#include "corio_int.h"
#include "uring_int.h"
#include "corio/io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* Largest transfer per op: keeps op->len in 32 bits and, being a multiple
 * of every O_DIRECT alignment, keeps later chunks aligned too. */
#define MAX_XFER ((size_t)1 << 30)

bool corio__no_ring_ops;

/* The io_uring opcode of each op, plus one (0: none). */
static const uint8_t ring_opcode[] = {
	[CORIO__OP_NOP] = IORING_OP_NOP + 1,
	[CORIO__OP_READ] = IORING_OP_READ + 1,
	[CORIO__OP_WRITE] = IORING_OP_WRITE + 1,
	[CORIO__OP_OPENAT] = IORING_OP_OPENAT + 1,
	[CORIO__OP_CLOSE] = IORING_OP_CLOSE + 1,
	[CORIO__OP_READV] = IORING_OP_READV + 1,
	[CORIO__OP_WRITEV] = IORING_OP_WRITEV + 1,
	[CORIO__OP_FSYNC] = IORING_OP_FSYNC + 1,
	[CORIO__OP_STATX] = IORING_OP_STATX + 1,
	[CORIO__OP_UNLINKAT] = IORING_OP_UNLINKAT + 1,
	[CORIO__OP_RENAMEAT] = IORING_OP_RENAMEAT + 1,
	[CORIO__OP_MKDIRAT] = IORING_OP_MKDIRAT + 1,
	[CORIO__OP_FALLOCATE] = IORING_OP_FALLOCATE + 1,
	[CORIO__OP_SPLICE] = IORING_OP_SPLICE + 1,
	[CORIO__OP_POLL] = IORING_OP_POLL_ADD + 1,
	[CORIO__OP_WAITID] = CORIO__IORING_OP_WAITID + 1,
};

/* Does the backend take @code itself?  io_uring: when its probe has the
 * opcode.  epoll: the read/write family, which it waits for on pollable
 * fds (pipes, sockets, ttys) and hands to the pool for regular files. */
static bool in_ring(corio_loop *l, uint8_t code)
{
	if (corio__no_ring_ops || code >= sizeof(ring_opcode) || !ring_opcode[code])
		return false;
	if (l->be == &corio__epoll_backend)
		return code == CORIO__OP_READ || code == CORIO__OP_WRITE ||
		       code == CORIO__OP_READV || code == CORIO__OP_WRITEV;
	return corio__uring_has_op(l, ring_opcode[code] - 1u);
}

ssize_t corio__op_run_any(struct corio__op *op)
{
	corio_loop *l = corio__tls_loop;
	if (!l || !l->current)
		return -EPERM;
	return in_ring(l, op->code) ? corio__op_run(op) : corio__op_run_offload(op);
}

/* ---- reads and writes ----------------------------------------------- */

static ssize_t xfer(uint8_t code, int fd, const void *buf, size_t n, uint64_t off)
{
	if (n > INT_MAX || (!buf && n))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	struct corio__op op = {
		.code = code, .fd = fd, .buf = (void *)buf, .len = (uint32_t)n, .off = off};
	return corio__op_run_any(&op);
}

ssize_t corio_pread(int fd, void *buf, size_t n, off_t off)
{
	return off < 0 ? -EINVAL : xfer(CORIO__OP_READ, fd, buf, n, (uint64_t)off);
}

ssize_t corio_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return off < 0 ? -EINVAL : xfer(CORIO__OP_WRITE, fd, buf, n, (uint64_t)off);
}

static ssize_t vec(uint8_t code, int fd, const struct iovec *iov, int cnt, uint64_t off)
{
	if (cnt < 0 || cnt > IOV_MAX || (!iov && cnt))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	struct corio__op op = {.code = code, .fd = fd, .off = off};
	op.u.vec.iov = iov;
	op.u.vec.nr = (uint32_t)cnt;
	return corio__op_run_any(&op);
}

ssize_t corio_readv(int fd, const struct iovec *iov, int iovcnt)
{
	return vec(CORIO__OP_READV, fd, iov, iovcnt, (uint64_t)-1);
}

ssize_t corio_writev(int fd, const struct iovec *iov, int iovcnt)
{
	return vec(CORIO__OP_WRITEV, fd, iov, iovcnt, (uint64_t)-1);
}

ssize_t corio_preadv(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	return off < 0 ? -EINVAL : vec(CORIO__OP_READV, fd, iov, iovcnt, (uint64_t)off);
}

ssize_t corio_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
	return off < 0 ? -EINVAL : vec(CORIO__OP_WRITEV, fd, iov, iovcnt, (uint64_t)off);
}

/* One full transfer: loops on short counts.  Stops at EOF (reads) and
 * keeps the count when an error follows progress (see corio/io.h). */
static ssize_t full(uint8_t code, int fd, const void *buf, size_t n, off_t off)
{
	if (off < -1 || n > SSIZE_MAX)
		return -EINVAL;
	size_t done = 0;
	while (done < n) {
		size_t want = n - done < MAX_XFER ? n - done : MAX_XFER;
		uint64_t at = off == -1 ? (uint64_t)-1 : (uint64_t)off + done;
		ssize_t r = xfer(code, fd, (const char *)buf + done, want, at);
		if (r == -EINTR)
			continue;
		if (r == 0 && code == CORIO__OP_WRITE)
			r = -EIO; /* a write that makes no progress would spin */
		if (r <= 0)
			return done ? (ssize_t)done : r;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

ssize_t corio_read_full(int fd, void *buf, size_t n, off_t off)
{
	return full(CORIO__OP_READ, fd, buf, n, off);
}

ssize_t corio_write_full(int fd, const void *buf, size_t n, off_t off)
{
	return full(CORIO__OP_WRITE, fd, buf, n, off);
}

/* Write everything or say why not: 0 or a negative errno. */
static int write_all(int fd, const void *buf, size_t n, off_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = full(CORIO__OP_WRITE, fd, (const char *)buf + done, n - done,
				 off == -1 ? -1 : off + (off_t)done);
		if (r < 0)
			return (int)r;
		done += (size_t)r;
	}
	return 0;
}

/* ---- metadata and the rest ------------------------------------------ */

int corio_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	if (!path)
		return -EINVAL;
	struct corio__op op = {.code = CORIO__OP_OPENAT, .fd = -1};
	op.u.path.path = path;
	op.u.path.dirfd = dirfd;
	op.u.path.flags = flags | O_CLOEXEC;
	op.u.path.mode = mode;
	return (int)corio__op_run_any(&op);
}

int corio_open(const char *path, int flags, mode_t mode)
{
	return corio_openat(AT_FDCWD, path, flags, mode);
}

int corio_fsync(int fd, unsigned flags)
{
	if (flags & ~CORIO_FSYNC_DATA)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	struct corio__op op = {.code = CORIO__OP_FSYNC, .fd = fd};
	op.u.datasync = (flags & CORIO_FSYNC_DATA) != 0;
	return (int)corio__op_run_any(&op);
}

static void close_complete(struct corio__op *op, int res, uint32_t flags)
{
	(void)flags;
	op->res = res;
	corio__wake(op->task, res);
}

static void close_interrupt(corio_task *t, struct corio__wait *w, int err)
{
	/* nothing to do: the close is not interruptible, its CQE wakes us */
	(void)t;
	(void)w;
	(void)err;
}

int corio_close(int fd)
{
	if (fd < 0)
		return -EBADF;
	corio_loop *l = corio__tls_loop;
	if (!l || !l->current || !in_ring(l, CORIO__OP_CLOSE)) {
		/* the backend ends the waits on @fd now; close(2) never
		 * blocks for long */
		corio__fd_closing(l, fd);
		return close(fd) ? -errno : 0;
	}
	/* The ring's close comes hard-linked behind a cancel of every op on
	 * the file (uring.c), so only the modules need telling first. */
	corio__modules_fd_closing(l, fd);
	struct corio__op op = {.code = CORIO__OP_CLOSE, .fd = fd};
	op.complete = close_complete;
	op.task = l->current;
	op.wait.interrupt = close_interrupt;
	op.wait.describe = corio__op_describe;
	l->be->submit(l, &op);
	return corio__suspend(&op.wait);
}

int corio_poll(int fd, unsigned events)
{
	if (fd < 0)
		return -EBADF;
	events &= 0xffffu;
	if (!events)
		return -EINVAL;
	struct corio__op op = {.code = CORIO__OP_POLL, .fd = fd};
	op.u.poll_mask = events;
	return (int)corio__op_run(&op);
}

int corio_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *out)
{
	if (!path || !out)
		return -EINVAL;
	struct statx st;
	struct corio__op op = {.code = CORIO__OP_STATX, .fd = -1};
	op.u.statx.path = path;
	op.u.statx.buf = &st;
	op.u.statx.dirfd = dirfd;
	op.u.statx.flags = flags;
	op.u.statx.mask = mask;
	int err = (int)corio__op_run_any(&op);
	if (!err)
		*out = st;
	return err;
}

static int path_op(uint8_t code, const char *path, int flags, mode_t mode)
{
	if (!path)
		return -EINVAL;
	struct corio__op op = {.code = code, .fd = -1};
	op.u.path.path = path;
	op.u.path.dirfd = AT_FDCWD;
	op.u.path.flags = flags;
	op.u.path.mode = mode;
	return (int)corio__op_run_any(&op);
}

int corio_unlink(const char *path, int flags)
{
	if (flags & ~AT_REMOVEDIR)
		return -EINVAL;
	return path_op(CORIO__OP_UNLINKAT, path, flags, 0);
}

int corio_mkdir(const char *path, mode_t mode)
{
	return path_op(CORIO__OP_MKDIRAT, path, 0, mode);
}

int corio_rename(const char *from, const char *to, unsigned flags)
{
	if (!from || !to)
		return -EINVAL;
	struct corio__op op = {.code = CORIO__OP_RENAMEAT, .fd = -1};
	op.u.rename.from = from;
	op.u.rename.to = to;
	op.u.rename.from_dir = op.u.rename.to_dir = AT_FDCWD;
	op.u.rename.flags = flags;
	return (int)corio__op_run_any(&op);
}

int corio_fallocate(int fd, int mode, off_t off, off_t len)
{
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	struct corio__op op = {.code = CORIO__OP_FALLOCATE, .fd = fd, .off = (uint64_t)off};
	op.u.falloc.len = (uint64_t)len;
	op.u.falloc.mode = mode;
	return (int)corio__op_run_any(&op);
}

/* ---- O_DIRECT ------------------------------------------------------- */

int corio_aligned_alloc(void **out, size_t align, size_t size)
{
	if (!align)
		align = 4096;
	if (!out || (align & (align - 1)) || align < sizeof(void *))
		return -EINVAL;
	if (size > SIZE_MAX - align)
		return -ENOMEM;
	size = size ? (size + align - 1) & ~(align - 1) : align;
	void *p;
	int err = posix_memalign(&p, align, size);
	if (err)
		return -err;
	*out = p;
	return 0;
}

int corio_dio_alignment(int fd, size_t *mem_align, size_t *off_align)
{
	struct statx st;
	int err = corio_statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &st);
	if (err)
		return err;
	if (!(st.stx_mask & STATX_DIOALIGN))
		return -EOPNOTSUPP;
	if (mem_align)
		*mem_align = st.stx_dio_mem_align;
	if (off_align)
		*off_align = st.stx_dio_offset_align;
	return 0;
}

/* ---- whole files ---------------------------------------------------- */

/* Read @fd to EOF into a growing buffer that starts at @hint + 1 bytes. */
static int slurp(int fd, uint64_t hint, char **data, size_t *len)
{
	if (hint > SSIZE_MAX - 1)
		return -EFBIG;
	size_t cap = hint < 4095 ? 4096 : (size_t)hint + 1, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			return -ENOMEM;
		ssize_t r = corio_read(fd, buf + n, cap - 1 - n < MAX_XFER ? cap - 1 - n : MAX_XFER);
		if (r < 0 && r != -EINTR) {
			free(buf);
			return (int)r;
		}
		if (r == 0)
			break;
		n += r > 0 ? (size_t)r : 0;
		if (n + 1 == cap) {
			char *bigger = cap > SSIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
			if (!bigger)
				free(buf);
			buf = bigger;
			cap *= 2;
		}
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

int corio_read_file(const char *path, void **data, size_t *len)
{
	if (!path || !data || !len)
		return -EINVAL;
	int fd = corio_open(path, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	struct statx st;
	int err = corio_statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE, &st);
	if (!err && S_ISDIR(st.stx_mode))
		err = -EISDIR;
	char *buf = NULL;
	size_t n = 0;
	if (!err)
		err = slurp(fd, st.stx_size, &buf, &n);
	corio_close(fd);
	if (err)
		return err;
	*data = buf;
	*len = n;
	return 0;
}

static int write_plain(const char *path, const void *data, size_t len, int flags)
{
	int fd = corio_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0)
		return fd;
	int err = write_all(fd, data, len, 0);
	if (!err && (flags & CORIO_WRITE_SYNC))
		err = corio_fsync(fd, 0);
	int cerr = corio_close(fd);
	return err ? err : cerr;
}

/* fsync the directory holding @path, so a rename in it is durable. */
static int sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!dir)
		return -ENOMEM;
	int fd = corio_open(dir, O_RDONLY | O_DIRECTORY, 0);
	free(dir);
	if (fd < 0)
		return fd;
	int err = corio_fsync(fd, 0);
	corio_close(fd);
	/* a filesystem that cannot sync directories has nothing more to give */
	return err == -EINVAL || err == -EOPNOTSUPP ? 0 : err;
}

/* Create a fresh temporary file next to @path; its name goes to @tmp. */
static int open_temp(const char *path, char *tmp, size_t size, mode_t mode)
{
	static atomic_uint counter;
	for (int tries = 0; tries < 16; tries++) {
		unsigned salt = (unsigned)corio__clock() ^ (atomic_fetch_add(&counter, 1) * 0x9e3779b9u);
		snprintf(tmp, size, "%s.%08x.tmp", path, salt);
		int fd = corio_open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
		if (fd != -EEXIST)
			return fd;
	}
	return -EEXIST;
}

/* Data into the temp file, durably, then the one atomic step: rename. */
static int fill_and_rename(int fd, const char *tmp, const char *path, const void *data,
			   size_t len)
{
	int err = write_all(fd, data, len, 0);
	if (!err)
		err = corio_fsync(fd, 0);
	int cerr = corio_close(fd);
	if (!err)
		err = cerr;
	if (!err)
		err = corio_rename(tmp, path, 0);
	return err;
}

static int write_atomic(const char *path, const void *data, size_t len)
{
	struct statx st;
	mode_t mode = 0666;
	int err = corio_statx(AT_FDCWD, path, 0, STATX_TYPE | STATX_MODE, &st);
	if (!err && S_ISDIR(st.stx_mode))
		return -EISDIR;
	if (!err)
		mode = st.stx_mode & 07777; /* umask may narrow it, never widen */
	else if (err != -ENOENT)
		return err;
	size_t size = strlen(path) + 16;
	char *tmp = malloc(size);
	if (!tmp)
		return -ENOMEM;
	int fd = open_temp(path, tmp, size, mode);
	err = fd < 0 ? fd : fill_and_rename(fd, tmp, path, data, len);
	if (err && fd >= 0) {
		corio_scope shield; /* the cleanup must run even if cancelled */
		corio_shield_push(&shield);
		corio_unlink(tmp, 0);
		corio_shield_pop(&shield);
	}
	free(tmp);
	return err ? err : sync_parent(path);
}

int corio_write_file(const char *path, const void *data, size_t len, int flags)
{
	if (!path || (!data && len) || (flags & ~(CORIO_WRITE_ATOMIC | CORIO_WRITE_SYNC)))
		return -EINVAL;
	if (!*path)
		return -ENOENT;
	if (flags & CORIO_WRITE_ATOMIC)
		return write_atomic(path, data, len);
	return write_plain(path, data, len, flags);
}

/* ---- copying -------------------------------------------------------- */

#define COPY_CHUNK ((size_t)256 * 1024)
#define RANGE_CHUNK ((size_t)8 << 20)
#define COPY_DEPTH 8
#define SPLICE_CHUNK ((size_t)1 << 20)

/* State shared by corio_copy_fd and its worker tasks (one loop thread:
 * no locks).  Offsets are relative to the start positions. */
struct copy {
	int in, out;
	uint64_t in_off, out_off; /* where the copy starts in each file */
	uint64_t len;             /* bytes wanted */
	uint64_t next;            /* next chunk to claim */
	uint64_t eof;             /* where the input ended, if seen */
	uint64_t copied;
	int err;                  /* first error */
	bool no_range;            /* copy_file_range refused: read/write */
	bool range_ok;            /* it worked once: later errors are real */
	unsigned live;            /* workers still running */
	corio_task *parent;
	corio_task *workers[COPY_DEPTH];
	struct corio__wait wait;
};

/* Read one buffer (looping over short reads until it is full or at EOF)
 * and write it out. */
static ssize_t copy_chunk(struct copy *c, void *buf, uint64_t at, size_t want)
{
	ssize_t r = corio_read_full(c->in, buf, want, (off_t)(c->in_off + at));
	if (r < 0)
		return r;
	if ((size_t)r < want && at + (uint64_t)r < c->eof)
		c->eof = at + (uint64_t)r;
	if (r > 0) {
		int err = write_all(c->out, buf, (size_t)r, (off_t)(c->out_off + at));
		if (err)
			return err;
		c->copied += (uint64_t)r;
	}
	return r;
}

/* copy_file_range(2) on a worker: the kernel moves the pages itself
 * (one copy, or a reflink on filesystems that share extents). */
struct range_job {
	int in, out;
	loff_t in_off, out_off;
	size_t len;
	ssize_t res;
};

static void *range_run(void *arg)
{
	struct range_job *j = arg;
	size_t done = 0;
	while (done < j->len) {
		ssize_t r = copy_file_range(j->in, &j->in_off, j->out, &j->out_off,
					    j->len - done, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			j->res = -errno;
			return NULL;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	j->res = (ssize_t)done;
	return NULL;
}

/* Errors that mean "this pair of files cannot do copy_file_range". */
static bool range_unsupported(ssize_t r)
{
	return r == -EXDEV || r == -EINVAL || r == -EOPNOTSUPP || r == -ENOSYS ||
	       r == -EBADF;
}

static ssize_t range_chunk(struct copy *c, uint64_t at, size_t want)
{
	struct range_job j = {c->in, c->out, (loff_t)(c->in_off + at),
			      (loff_t)(c->out_off + at), want, 0};
	int err = corio_offload(range_run, &j, NULL);
	if (err)
		return err;
	if (j.res >= 0 && (size_t)j.res < want && at + (uint64_t)j.res < c->eof)
		c->eof = at + (uint64_t)j.res;
	if (j.res > 0) {
		c->copied += (uint64_t)j.res;
		c->range_ok = true;
	}
	return j.res;
}

/* Copy [at, at + want) with reads and writes, a buffer at a time. */
static ssize_t copy_span(struct copy *c, void *buf, uint64_t at, size_t want)
{
	for (size_t done = 0; done < want;) {
		size_t n = want - done < COPY_CHUNK ? want - done : COPY_CHUNK;
		ssize_t r = copy_chunk(c, buf, at + done, n);
		if (r < 0)
			return r;
		if ((size_t)r < n)
			break; /* EOF */
		done += n;
	}
	return 0;
}

/* Copy one claimed chunk: in the kernel if this pair of files allows. */
static ssize_t copy_claimed(struct copy *c, void *buf, uint64_t at, size_t want)
{
	if (!c->no_range) {
		ssize_t r = range_chunk(c, at, want);
		if (r >= 0 || !range_unsupported(r) || c->range_ok)
			return r;
		c->no_range = true; /* it cannot: reads and writes from now on */
	}
	return copy_span(c, buf, at, want);
}

static void *copy_worker(void *arg)
{
	struct copy *c = arg;
	void *buf = NULL;
	int err = corio_aligned_alloc(&buf, 0, COPY_CHUNK);
	while (!err && !c->err && c->next < c->len && c->next < c->eof) {
		uint64_t at = c->next;
		size_t chunk = c->no_range ? COPY_CHUNK : RANGE_CHUNK;
		size_t want = c->len - at < chunk ? (size_t)(c->len - at) : chunk;
		c->next += want;
		ssize_t r = copy_claimed(c, buf, at, want);
		err = r < 0 ? (int)r : 0;
	}
	if (err && !c->err)
		c->err = err;
	free(buf);
	if (--c->live == 0)
		corio__wake(c->parent, 0);
	return NULL;
}

/* The parent is interrupted: stop the workers; the last one wakes us. */
static void copy_interrupt(corio_task *t, struct corio__wait *w, int err)
{
	(void)t;
	(void)err;
	struct copy *c = corio__container_of(w, struct copy, wait);
	for (unsigned i = 0; i < COPY_DEPTH; i++)
		corio_cancel(c->workers[i]);
}

static ssize_t copy_parallel(struct copy *c)
{
	corio_task *self = corio__current();
	c->parent = self;
	c->eof = UINT64_MAX;
	c->wait.interrupt = copy_interrupt;
	unsigned n = 0;
	for (; n < COPY_DEPTH && (uint64_t)n * COPY_CHUNK < c->len; n++)
		if (corio_spawn(&c->workers[n], copy_worker, c))
			break;
	if (!n)
		return -ENOMEM;
	c->live = n;
	while (c->live)
		corio__suspend(&c->wait);
	for (unsigned i = 0; i < n; i++)
		corio_join(c->workers[i], NULL); /* all done: frees at once */
	if (c->err) {
		/* workers we cancelled say -ECANCELED: report why we did */
		int why = corio__interrupted(self);
		return why ? why : c->err;
	}
	lseek(c->in, (off_t)(c->in_off + c->copied), SEEK_SET);
	lseek(c->out, (off_t)(c->out_off + c->copied), SEEK_SET);
	return (ssize_t)c->copied;
}

/* One end is a pipe: let the kernel move the pages (file positions are
 * used and advanced by the splice itself). */
static ssize_t copy_splice(int in, int out, uint64_t len)
{
	uint64_t done = 0;
	while (done < len) {
		struct corio__op op = {.code = CORIO__OP_SPLICE, .fd = in, .off = (uint64_t)-1};
		op.len = (uint32_t)(len - done < SPLICE_CHUNK ? len - done : SPLICE_CHUNK);
		op.u.splice.fd_out = out;
		op.u.splice.off_out = (uint64_t)-1;
		op.u.splice.flags = SPLICE_F_MOVE;
		ssize_t r = corio__op_run_any(&op);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return done ? (ssize_t)done : r;
		if (r == 0)
			break;
		done += (uint64_t)r;
	}
	return (ssize_t)done;
}

/* Anything else: one buffer, read then write, in order. */
static ssize_t copy_serial(int in, int out, uint64_t len)
{
	void *buf;
	int err = corio_aligned_alloc(&buf, 0, COPY_CHUNK);
	uint64_t done = 0;
	while (!err && done < len) {
		size_t want = len - done < COPY_CHUNK ? (size_t)(len - done) : COPY_CHUNK;
		ssize_t r = corio_read(in, buf, want);
		if (r == 0)
			break;
		err = r < 0 ? (r == -EINTR ? 0 : (int)r) : write_all(out, buf, (size_t)r, -1);
		done += r > 0 && !err ? (uint64_t)r : 0;
	}
	free(buf);
	return err ? err : (ssize_t)done;
}

static bool is_fifo(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

ssize_t corio_copy_fd(int in, int out, size_t len)
{
	if (in < 0 || out < 0)
		return -EBADF;
	if (!corio__current())
		return -EPERM;
	int err = corio_checkpoint();
	if (err)
		return err;
	uint64_t want = len > SSIZE_MAX ? SSIZE_MAX : len;
	if (!want)
		return 0;
	if (is_fifo(in) || is_fifo(out)) {
		ssize_t r = copy_splice(in, out, want);
		if (r != -EINVAL)
			return r; /* -EINVAL: an end splice cannot handle */
	}
	off_t in_pos = lseek(in, 0, SEEK_CUR), out_pos = lseek(out, 0, SEEK_CUR);
	int fl = fcntl(out, F_GETFL);
	if (in_pos < 0 || out_pos < 0 || fl < 0 || (fl & O_APPEND))
		return copy_serial(in, out, want);
	struct copy c = {.in = in, .out = out, .in_off = (uint64_t)in_pos,
			 .out_off = (uint64_t)out_pos, .len = want};
	return copy_parallel(&c);
}
