/* SPDX-License-Identifier: MIT */
/*
 * examples/cp.c - copy files, and directory trees with -r, with many
 * operations in flight: the tree is walked on the offload pool (readdir
 * has no io_uring op), several files are copied at once, and each copy is
 * itself pipelined by corio_copy_fd.  On a terminal, copies of 64 MiB or
 * more show a progress bar drawn by a task of its own.
 *
 *   cp [-r] [-q] SRC DST
 *   cp [-r] [-q] SRC... DIR
 */
#include <corio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
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
	const char *err_path;
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

static int walk_one(struct walk *w, const char *src, const char *dst);

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
		err = s && t ? walk_one(w, s, t) : -ENOMEM;
		free(s);
		free(t);
	}
	closedir(d);
	return err;
}

static int walk_one(struct walk *w, const char *src, const char *dst)
{
	struct stat st;
	if (lstat(src, &st))
		return -errno;
	if (S_ISDIR(st.st_mode) && !w->recursive)
		return -EISDIR;
	int err = add(w->plan, src, dst, &st);
	if (err || !S_ISDIR(st.st_mode))
		return err;
	return walk_dir(w, src, dst);
}

static void *walk(void *arg)
{
	struct walk *w = arg;
	for (int i = 0; i < w->nsrc && !w->plan->err; i++) {
		char *copy = strdup(w->srcs[i]);
		char *dst = copy && w->into_dir ? join(w->dst, basename(copy)) : strdup(w->dst);
		int err = copy && dst ? walk_one(w, w->srcs[i], dst) : -ENOMEM;
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
		fprintf(stderr, "cp: %s: %s\n", r.plan.err_path, corio_strerror(r.plan.err));
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
	return CORIO_ERR_PTR(err ? err : r.err);
}

int main(int argc, char **argv)
{
	struct args a = {0};
	int opt;
	while ((opt = getopt(argc, argv, "rq")) != -1) {
		if (opt == 'r')
			a.recursive = true;
		else if (opt == 'q')
			a.quiet = true;
		else
			return fprintf(stderr, "usage: cp [-r] [-q] SRC... DST\n"), 2;
	}
	if (argc - optind < 2)
		return fprintf(stderr, "usage: cp [-r] [-q] SRC... DST\n"), 2;
	a.srcs = argv + optind;
	a.nsrc = argc - optind - 1;
	a.dst = argv[argc - 1];
	void *res = NULL;
	int err = corio_run(cp_main, &a, &res);
	if (err)
		fprintf(stderr, "cp: %s\n", corio_strerror(err));
	return err || corio_ptr_err(res) ? 1 : 0;
}
