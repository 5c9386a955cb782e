/* SPDX-License-Identifier: MIT */
/*
 * examples/cp.c - copy files, and directory trees with -r, with many
 * operations in flight: the tree is walked on the offload pool (readdir
 * has no io_uring op), several files are copied at once, and each copy is
 * itself pipelined by corio_copy_fd.  On a terminal, copies of 64 MiB or
 * more show a progress bar drawn by a task of its own.  Like GNU cp it
 * refuses to copy a file onto itself or a directory into itself: the walk
 * checks, before anything is opened for writing.
 *
 *   cp [-r] [-q] SRC DST
 *   cp [-r] [-q] SRC... DIR
 */
#include <corio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILES_AT_ONCE 4
#define SLICE ((size_t)32 << 20) /* progress is counted per slice */
#define BAR_MIN ((uint64_t)64 << 20)

/* One thing to create at the destination, in walk order (parents first). */
struct item {
	char *src, *dst;
	mode_t mode; /* type and permissions of the source */
	uint64_t size;
};

struct plan {
	struct item *v;
	size_t len, cap;
	uint64_t total; /* bytes of regular files */
	int err;        /* first walk error */
	const char *err_path; /* the source it was met under */
	char *why;      /* for a refusal: the whole line to print (malloc'd) */
};

struct run {
	struct plan plan;
	size_t next;     /* next item for a copier */
	uint64_t done;   /* bytes copied so far */
	int err;
	bool finished;
};

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);
	if (p)
		sprintf(p, "%s%s%s", a, la && a[la - 1] == '/' ? "" : "/", b);
	return p;
}

/* ---- the walk (on a worker thread: plain blocking calls) ------------ */

struct walk {
	struct plan *plan;
	char **srcs;
	int nsrc;
	const char *dst;
	bool into_dir, recursive;
};

static int add(struct plan *p, const char *src, const char *dst, const struct stat *st)
{
	if (p->len == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct item *v = realloc(p->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	struct item *it = &p->v[p->len];
	it->src = strdup(src);
	it->dst = strdup(dst);
	if (!it->src || !it->dst)
		return free(it->src), free(it->dst), -ENOMEM;
	it->mode = st->st_mode;
	it->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
	p->total += it->size;
	p->len++;
	return 0;
}

static bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Stop the walk with the line cp is to print (the first one wins). */
static int refuse(struct walk *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (!w->plan->why && vasprintf(&w->plan->why, fmt, ap) < 0)
		w->plan->why = NULL; /* then the generic line is printed */
	va_end(ap);
	return -EINVAL;
}

static int walk_one(struct walk *w, const char *src, const char *dst, const struct stat *st);

static int walk_dir(struct walk *w, const char *src, const char *dst)
{
	DIR *d = opendir(src);
	if (!d)
		return -errno;
	int err = 0;
	for (struct dirent *e; !err && (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *s = join(src, e->d_name), *t = join(dst, e->d_name);
		struct stat st;
		if (!s || !t)
			err = -ENOMEM;
		else
			err = lstat(s, &st) ? -errno : walk_one(w, s, t, &st);
		free(s);
		free(t);
	}
	closedir(d);
	return err;
}

/* Plan @src (of stat @st) to go to @dst, and with -r what it holds. */
static int walk_one(struct walk *w, const char *src, const char *dst, const struct stat *st)
{
	if (S_ISDIR(st->st_mode) && !w->recursive)
		return -EISDIR;
	/* stat, not lstat: through a hard or symbolic link @dst may be @src
	 * itself, and opening it with O_TRUNC would empty the source. */
	struct stat at;
	if (stat(dst, &at) == 0 && same_inode(st, &at))
		return refuse(w, "'%s' and '%s' are the same file", src, dst);
	int err = add(w->plan, src, dst, st);
	if (err || !S_ISDIR(st->st_mode))
		return err;
	return walk_dir(w, src, dst);
}

/* Open, O_PATH, the nearest directory that exists on the way up from
 * @path: @path itself, its parent, ..., at last "." or "/". */
static int nearest_dir(const char *path)
{
	char *p = malloc(strlen(path) + 2); /* room for "." even if @path is "" */
	if (!p)
		return -ENOMEM;
	strcpy(p, path);
	int fd;
	for (;;) {
		fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0 || (errno != ENOENT && errno != ENOTDIR))
			break;
		char *slash = strrchr(p, '/');
		if (slash && slash != p)
			*slash = 0; /* "a/b" -> "a" */
		else if (slash && p[1])
			p[1] = 0; /* "/a" -> "/" */
		else if (strcmp(p, "."))
			strcpy(p, "."); /* "a" -> "." */
		else
			break;
	}
	if (fd < 0)
		fd = -errno;
	free(p);
	return fd;
}

/* 1 if the directory of stat @dir is @path or one of its ancestors (so
 * copying @dir to @path would copy it into itself), 0 if not.  @path need
 * not exist: the walk up starts at its nearest existing directory and
 * goes by "..", which is the real tree whatever links @path went through. */
static int holds(const struct stat *dir, const char *path)
{
	int fd = nearest_dir(path), ret = 0;
	struct stat st, below = {0}; /* no directory has inode 0 */
	while (fd >= 0) {
		if (fstat(fd, &st)) {
			ret = -errno;
			break;
		}
		if (same_inode(&st, dir) || same_inode(&st, &below)) {
			ret = same_inode(&st, dir); /* else at the root: its ".." is itself */
			break;
		}
		below = st;
		int up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0)
			up = -errno; /* before close() may touch errno */
		close(fd);
		fd = up;
	}
	if (fd < 0)
		return fd;
	close(fd);
	return ret;
}

/* A source named on the command line.  As GNU cp does, a symbolic link
 * is followed without -r and copied as a link with -r. */
static int walk_top(struct walk *w, const char *src, const char *dst)
{
	struct stat st;
	if (w->recursive ? lstat(src, &st) : stat(src, &st))
		return -errno;
	/* /dev/zero would never end, a FIFO may never start: cp is for files */
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))
		return refuse(w, "cannot copy '%s': not a regular file or directory", src);
	if (S_ISDIR(st.st_mode) && w->recursive) {
		int in = holds(&st, dst);
		if (in < 0)
			return in;
		if (in)
			return refuse(w, "cannot copy a directory, '%s', into itself, '%s'", src,
				      dst);
	}
	return walk_one(w, src, dst, &st);
}

static void *walk(void *arg)
{
	struct walk *w = arg;
	for (int i = 0; i < w->nsrc && !w->plan->err; i++) {
		char *copy = strdup(w->srcs[i]);
		char *dst = copy && w->into_dir ? join(w->dst, basename(copy)) : strdup(w->dst);
		int err = copy && dst ? walk_top(w, w->srcs[i], dst) : -ENOMEM;
		if (err) {
			w->plan->err = err;
			w->plan->err_path = w->srcs[i];
		}
		free(copy);
		free(dst);
	}
	return NULL;
}

/* ---- copying (tasks on the loop) ------------------------------------ */

static int copy_file(struct run *r, const struct item *it)
{
	int in = corio_open(it->src, O_RDONLY, 0);
	if (in < 0)
		return in;
	int out = corio_open(it->dst, O_WRONLY | O_CREAT | O_TRUNC, it->mode & 07777);
	if (out < 0) {
		corio_close(in);
		return out;
	}
	ssize_t n;
	do {
		n = corio_copy_fd(in, out, SLICE);
		if (n > 0)
			r->done += (uint64_t)n;
	} while (n == (ssize_t)SLICE);
	int err = corio_close(out);
	corio_close(in);
	return n < 0 ? (int)n : err;
}

static int make_dirs(const struct plan *p)
{
	for (size_t i = 0; i < p->len; i++) {
		if (!S_ISDIR(p->v[i].mode))
			continue;
		int err = corio_mkdir(p->v[i].dst, (p->v[i].mode & 07777) | 0700);
		if (err && err != -EEXIST) {
			fprintf(stderr, "cp: %s: %s\n", p->v[i].dst, corio_strerror(err));
			return err;
		}
	}
	return 0;
}

static int make(struct run *r, const struct item *it)
{
	if (S_ISDIR(it->mode))
		return 0; /* made before the copiers started */
	if (S_ISLNK(it->mode)) {
		char target[4096];
		ssize_t n = readlink(it->src, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		return symlink(target, it->dst) ? -errno : 0;
	}
	if (!S_ISREG(it->mode))
		return 0; /* devices, fifos, sockets: skipped, like cp -r without -a */
	return copy_file(r, it);
}

static void *copier(void *arg)
{
	struct run *r = arg;
	while (!r->err && r->next < r->plan.len) {
		const struct item *it = &r->plan.v[r->next++];
		int err = make(r, it);
		if (err) {
			fprintf(stderr, "cp: %s: %s\n", it->dst, corio_strerror(err));
			r->err = err;
		}
	}
	return NULL;
}

/* ---- progress ------------------------------------------------------- */

static void draw(const struct run *r, uint64_t t0)
{
	const int width = 30;
	uint64_t total = r->plan.total ? r->plan.total : 1;
	int fill = (int)(r->done * (uint64_t)width / total);
	double secs = (double)(corio_now() - t0) / 1e9;
	fprintf(stderr, "\r[%.*s%*s] %3d%% %7.1f / %.1f MiB %7.1f MiB/s", fill,
		"##############################", width - fill, "",
		(int)(r->done * 100 / total), (double)r->done / 1048576.0,
		(double)r->plan.total / 1048576.0,
		secs > 0 ? (double)r->done / 1048576.0 / secs : 0.0);
}

static void *progress(void *arg)
{
	struct run *r = arg;
	uint64_t t0 = corio_now();
	while (!r->finished && !corio_sleep(100 * 1000000ull))
		draw(r, t0);
	draw(r, t0);
	fputc('\n', stderr);
	return NULL;
}

/* ---- main ----------------------------------------------------------- */

struct args {
	char **srcs;
	int nsrc;
	const char *dst;
	bool recursive, quiet;
};

/* Walk the sources on the pool, create the directories in walk order
 * (parents first), then copy the files FILES_AT_ONCE at a time. */
static void *cp_main(void *arg)
{
	struct args *a = arg;
	struct statx st;
	bool dst_dir = corio_statx(AT_FDCWD, a->dst, 0, STATX_TYPE, &st) == 0 &&
		       S_ISDIR(st.stx_mode);
	if (a->nsrc > 1 && !dst_dir) {
		fprintf(stderr, "cp: %s is not a directory\n", a->dst);
		return CORIO_ERR_PTR(-ENOTDIR);
	}
	struct run r = {0};
	struct walk w = {&r.plan, a->srcs, a->nsrc, a->dst, dst_dir, a->recursive};
	int err = corio_offload(walk, &w, NULL);
	if (!err && r.plan.err) {
		if (r.plan.why)
			fprintf(stderr, "cp: %s\n", r.plan.why);
		else
			fprintf(stderr, "cp: %s: %s\n", r.plan.err_path,
				corio_strerror(r.plan.err));
		err = r.plan.err;
	}
	if (!err)
		err = make_dirs(&r.plan); /* in walk order: parents first */
	corio_task *bar = NULL, *t[FILES_AT_ONCE];
	if (!err && !a->quiet && isatty(2) && r.plan.total >= BAR_MIN)
		corio_spawn(&bar, progress, &r);
	int n = 0;
	while (!err && n < FILES_AT_ONCE && corio_spawn(&t[n], copier, &r) == 0)
		n++;
	for (int i = 0; i < n; i++)
		corio_join(t[i], NULL);
	r.finished = true;
	if (bar)
		corio_join(bar, NULL);
	for (size_t i = 0; i < r.plan.len; i++) {
		free(r.plan.v[i].src);
		free(r.plan.v[i].dst);
	}
	free(r.plan.v);
	free(r.plan.why);
	return CORIO_ERR_PTR(err ? err : r.err);
}

static void usage(FILE *f)
{
	fputs("usage: cp [-r] [-q] SRC DST\n"
	      "       cp [-r] [-q] SRC... DIR\n"
	      "Copy files, and with -r directory trees, several at once.\n"
	      "  -r, --recursive  copy directories; symbolic links in them stay links\n"
	      "  -q, --quiet      no progress bar (shown on a terminal from 64 MiB)\n"
	      "  -h, --help       show this help\n"
	      "A source is a regular file, a symbolic link to one, or with -r a\n"
	      "directory.  Devices, FIFOs and sockets named as sources are refused;\n"
	      "met inside a tree, they are skipped.  A file copied onto itself (also\n"
	      "through a link) or a directory into itself is refused before anything\n"
	      "is written.  Exit status: 0, 1 on an error, 2 on bad usage.\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"recursive", no_argument, NULL, 'r'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct args a = {0};
	int opt;
	while ((opt = getopt_long(argc, argv, "rqh", longopts, NULL)) != -1) {
		if (opt == 'r')
			a.recursive = true;
		else if (opt == 'q')
			a.quiet = true;
		else if (opt == 'h')
			return usage(stdout), 0;
		else
			return usage(stderr), 2;
	}
	if (argc - optind < 2)
		return usage(stderr), 2;
	a.srcs = argv + optind;
	a.nsrc = argc - optind - 1;
	a.dst = argv[argc - 1];
	void *res = NULL;
	int err = corio_run(cp_main, &a, &res);
	if (err)
		fprintf(stderr, "cp: %s\n", corio_strerror(err));
	return err || corio_ptr_err(res) ? 1 : 0;
}
