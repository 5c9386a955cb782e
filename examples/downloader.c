/* SPDX-License-Identifier: MIT */
/*
 * examples/downloader.c - fetch many files from one web server at once:
 * the seeds' "flags" program (aiohttp under a semaphore, with a progress
 * bar), in corio.  A semaphore of -c permits bounds the downloads in
 * flight; each runs as a task that GETs BASE/NAME over the client's
 * keep-alive pool and writes the body straight into DIR/NAME with corio's
 * file I/O.  On a terminal a bar shows done/total, rate and ETA; otherwise
 * a plain line per second.  A summary by status ends the run.
 */
#include <corio.h>
#include <corio/http.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ERRORS_SHOWN 10
#define URL_MAX 4096

static const char usage[] =
	"usage: downloader [-c N] [-o DIR] [-q] BASE_URL NAME...\n"
	"       downloader [-c N] [-o DIR] [-q] -f FILE BASE_URL\n"
	"       downloader [-c N] [-o DIR] [-q] -n COUNT [-p PATTERN] BASE_URL\n"
	"\n"
	"Download BASE_URL/NAME for every NAME into DIR/NAME, N at a time, over\n"
	"keep-alive connections (at most N to the server).\n"
	"\n"
	"  -c N        downloads in flight at once (default 10)\n"
	"  -o DIR      directory for the files, created if missing (default .)\n"
	"  -f FILE     read the names from FILE, one per line ('-': stdin)\n"
	"  -n COUNT    the names are PATTERN with 0..COUNT-1 put in for its %d\n"
	"  -p PATTERN  printf pattern with one %d (default \"%d\"), e.g. f%05d.bin\n"
	"  -q          no progress display\n"
	"  --ca-file F https: trust only the CA certificates in PEM file F\n"
	"  --insecure  https: skip certificate checks (for tests only)\n"
	"  -h, --help  this text\n"
	"\n"
	"A name may hold '/' (a path under BASE_URL); its file in DIR has each\n"
	"'/' turned into '_'.  Names with \"..\" components are refused.\n"
	"The run ends with a count per status, e.g. \"200: 998  404: 2  errors: 0\"\n"
	"(errors: no response at all); the exit status is 0 only if every file\n"
	"came with a 2xx status, 1 otherwise, 2 for bad usage.\n";

struct run {
	corio_http_client *client;
	corio_tls_ctx *tls;  /* --ca-file / --insecure, else NULL */
	corio_sem slots;   /* one permit per download in flight */
	unsigned conc;     /* its permits */
	int dirfd;
	const char *base;  /* without a trailing '/' */
	size_t total, done, errors;
	uint64_t bytes;
	uint64_t t0;
	unsigned status[600]; /* responses by status code */
	unsigned shown;       /* errors printed so far */
	bool tty, quiet;
};

struct job {
	struct run *run;
	char name[];
};

/* ---- names ------------------------------------------------------------- */

struct names {
	char **v;
	size_t n, cap;
};

static int add_name(struct names *ns, const char *s, size_t len)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 256;
		char **v = realloc(ns->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ns->v = v;
		ns->cap = cap;
	}
	if (!(ns->v[ns->n] = strndup(s, len)))
		return -ENOMEM;
	ns->n++;
	return 0;
}

static int names_from_file(struct names *ns, const char *path)
{
	void *data;
	size_t len;
	int err = corio_read_file(strcmp(path, "-") ? path : "/dev/stdin", &data, &len);
	if (err)
		return err;
	for (char *p = data, *end = p + len; p < end && !err;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *e = nl ? nl : end;
		size_t l = (size_t)(e - p);
		if (l && p[l - 1] == '\r')
			l--;
		if (l)
			err = add_name(ns, p, l);
		p = e + 1;
	}
	free(data);
	return err;
}

static int names_from_pattern(struct names *ns, long count, const char *pattern)
{
	const char *pc = strstr(pattern, "%");
	/* one conversion: %d with an optional 0-padded width */
	size_t k = pc ? 1 + strspn(pc + 1, "0123456789") : 0;
	if (!pc || pc[k] != 'd' || strchr(pc + k + 1, '%'))
		return -EINVAL;
	char buf[512];
	for (long i = 0; i < count; i++) {
		int n = snprintf(buf, sizeof(buf), pattern, (int)i);
		if (n < 0 || (size_t)n >= sizeof(buf))
			return -ENAMETOOLONG;
		int err = add_name(ns, buf, (size_t)n);
		if (err)
			return err;
	}
	return 0;
}

static bool name_ok(const char *name)
{
	if (!*name || name[0] == '/')
		return false;
	for (const char *p = name; *p; p = strchr(p, '/') ? strchr(p, '/') + 1 : p + strlen(p))
		if (!strncmp(p, "..", 2) && (p[2] == '/' || !p[2]))
			return false;
	return true;
}

/* ---- one download ------------------------------------------------------- */

static void report(struct run *r, const char *name, const char *what, int err)
{
	r->errors++;
	if (r->shown++ < MAX_ERRORS_SHOWN)
		fprintf(stderr, "%s%s: %s: %s\n", r->tty && !r->quiet ? "\r\033[K" : "", name, what,
			corio_strerror(err));
}

/* The body into DIR/NAME ('/' in NAME made '_'). */
static int save(struct run *r, corio_http_response *resp, const char *name, uint64_t *n)
{
	char file[512];
	snprintf(file, sizeof(file), "%s", name);
	for (char *p = file; *p; p++)
		if (*p == '/')
			*p = '_';
	int fd = corio_openat(r->dirfd, file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fd;
	int64_t k = corio_http_response_to_fd(resp, fd);
	int err = corio_close(fd);
	if (k < 0)
		return (int)k;
	*n = (uint64_t)k;
	return err;
}

static void *download(void *arg)
{
	struct job *j = arg;
	struct run *r = j->run;
	char url[URL_MAX];
	snprintf(url, sizeof(url), "%s/%s", r->base, j->name);
	corio_http_response *resp;
	int err = corio_http_get(r->client, url, &resp);
	if (err) {
		report(r, j->name, "GET", err);
	} else {
		int st = corio_http_response_status(resp);
		uint64_t n = 0;
		if (st >= 200 && st < 300) {
			if ((err = save(r, resp, j->name, &n)))
				report(r, j->name, "save", err);
		} else {
			char *body; /* read it, so the connection stays in the pool */
			size_t len;
			if (!corio_http_response_body(resp, &body, &len, 65536))
				free(body);
		}
		if (!err)
			r->status[st < 600 ? st : 599]++;
		r->bytes += n;
		corio_http_response_free(resp);
	}
	r->done++;
	free(j);
	corio_sem_release(&r->slots);
	return NULL;
}

/* ---- progress ----------------------------------------------------------- */

static void progress_line(struct run *r, bool final)
{
	double secs = (double)(corio_now() - r->t0) / 1e9;
	double rate = secs > 0 ? (double)r->done / secs : 0;
	double mib = (double)r->bytes / (1 << 20);
	unsigned pct = r->total ? (unsigned)(r->done * 100 / r->total) : 100;
	long eta = rate > 0 ? (long)((double)(r->total - r->done) / rate + 0.5) : 0;
	if (r->tty) {
		char bar[31];
		size_t fill = r->total ? r->done * 30 / r->total : 30;
		for (size_t i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[30] = '\0';
		fprintf(stderr, "\r\033[K[%s] %zu/%zu %3u%% %.0f files/s %.1f MiB/s ETA %ld:%02ld%s",
			bar, r->done, r->total, pct, rate, secs > 0 ? mib / secs : 0, eta / 60,
			eta % 60, final ? "\n" : "");
	} else {
		fprintf(stderr, "downloader: %zu/%zu (%u%%) %.0f files/s, %.1f MiB\n", r->done,
			r->total, pct, rate, mib);
	}
}

static void *ticker(void *arg)
{
	struct run *r = arg;
	uint64_t every = r->tty ? 100000000ull : 1000000000ull;
	while (corio_sleep(every) == 0)
		progress_line(r, false);
	return NULL;
}

/* ---- main --------------------------------------------------------------- */

struct opts {
	unsigned conc;
	const char *dir, *file, *pattern, *base;
	long count;
	bool quiet;
	const char *ca_file; /* https: our own roots */
	bool insecure;       /* https: no verification (tests) */
	char **args;
	int nargs;
};

static int summary(struct run *r)
{
	double secs = (double)(corio_now() - r->t0) / 1e9;
	bool ok = !r->errors;
	for (int st = 0; st < 600; st++) {
		if (!r->status[st])
			continue;
		printf("%d: %u  ", st, r->status[st]);
		ok &= st >= 200 && st < 300;
	}
	printf("errors: %zu\n", r->errors);
	printf("%zu files, %.1f MiB in %.2f s (%.0f files/s)\n", r->done,
	       (double)r->bytes / (1 << 20), secs, secs > 0 ? (double)r->done / secs : 0);
	fflush(stdout);
	return ok ? 0 : 1;
}

static int fetch_all(struct run *r, struct names *ns)
{
	corio_task *tick = NULL;
	if (!r->quiet && corio_spawn(&tick, ticker, r))
		tick = NULL;
	int err = 0;
	for (size_t i = 0; i < ns->n && !err; i++) {
		size_t len = strlen(ns->v[i]);
		struct job *j = malloc(sizeof(*j) + len + 1);
		if (!j || (err = corio_sem_acquire(&r->slots))) {
			free(j);
			err = err ? err : -ENOMEM;
			break;
		}
		j->run = r;
		memcpy(j->name, ns->v[i], len + 1);
		corio_task *t;
		if ((err = corio_spawn(&t, download, j))) {
			free(j);
			corio_sem_release(&r->slots);
			break;
		}
		corio_detach(t);
	}
	/* wait for the last ones: every permit back */
	for (unsigned k = 0; k < r->conc; k++)
		corio_sem_acquire(&r->slots);
	if (tick) {
		corio_cancel(tick);
		corio_join(tick, NULL);
		progress_line(r, true);
	}
	return err;
}

static int prepare(struct run *r, const struct opts *o, struct names *ns)
{
	int err = 0;
	if (o->file)
		err = names_from_file(ns, o->file);
	else if (o->count >= 0)
		err = names_from_pattern(ns, o->count, o->pattern);
	for (int i = 0; i < o->nargs && !err; i++)
		err = add_name(ns, o->args[i], strlen(o->args[i]));
	if (err) {
		fprintf(stderr, "downloader: names: %s\n", corio_strerror(err));
		return 2;
	}
	for (size_t i = 0; i < ns->n; i++) {
		if (!name_ok(ns->v[i])) {
			fprintf(stderr, "downloader: refusing the name '%s'\n", ns->v[i]);
			return 2;
		}
	}
	err = corio_mkdir(o->dir, 0755);
	if (err && err != -EEXIST) {
		fprintf(stderr, "downloader: %s: %s\n", o->dir, corio_strerror(err));
		return 1;
	}
	if ((r->dirfd = corio_open(o->dir, O_RDONLY | O_DIRECTORY, 0)) < 0) {
		fprintf(stderr, "downloader: %s: %s\n", o->dir, corio_strerror(r->dirfd));
		return 1;
	}
	corio_http_client_options co = {.max_per_origin = o->conc};
	if (o->ca_file || o->insecure) {
		corio_tls_options to = {.ca_file = o->ca_file, .insecure = o->insecure};
		if ((err = corio_tls_ctx_new(&r->tls, &to))) {
			fprintf(stderr, "downloader: TLS: %s\n", corio_strerror(err));
			return 1;
		}
		co.tls = r->tls;
	}
	if ((err = corio_http_client_new(&r->client, &co))) {
		fprintf(stderr, "downloader: %s\n", corio_strerror(err));
		return 1;
	}
	return 0;
}

static void *main_task(void *arg)
{
	const struct opts *o = arg;
	static struct run r; /* large (the status table): not on the stack */
	struct names ns = {0};
	r.base = o->base;
	r.conc = o->conc;
	r.tty = isatty(2);
	r.quiet = o->quiet;
	r.dirfd = -1;
	corio_sem_init(&r.slots, o->conc, 0);
	intptr_t code = prepare(&r, o, &ns);
	if (!code) {
		r.total = ns.n;
		r.t0 = corio_now();
		int err = fetch_all(&r, &ns);
		if (err)
			fprintf(stderr, "downloader: %s\n", corio_strerror(err));
		code = summary(&r) || err;
	}
	corio_http_client_free(r.client);
	corio_tls_ctx_free(r.tls);
	if (r.dirfd >= 0)
		corio_close(r.dirfd);
	for (size_t i = 0; i < ns.n; i++)
		free(ns.v[i]);
	free(ns.v);
	return (void *)code;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
						 {"ca-file", required_argument, NULL, 'C'},
						 {"insecure", no_argument, NULL, 'k'},
						 {0}};
	struct opts o = {.conc = 10, .dir = ".", .pattern = "%d", .count = -1};
	int c;
	while ((c = getopt_long(argc, argv, "c:o:f:n:p:qh", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'c':
			o.conc = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !o.conc || o.conc > 100000)
				goto bad;
			break;
		case 'o': o.dir = optarg; break;
		case 'f': o.file = optarg; break;
		case 'n':
			o.count = strtol(optarg, &end, 10);
			if (*end || o.count < 0)
				goto bad;
			break;
		case 'p': o.pattern = optarg; break;
		case 'q': o.quiet = true; break;
		case 'C': o.ca_file = optarg; break;
		case 'k': o.insecure = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: goto bad;
		}
	}
	if (optind >= argc)
		goto bad;
	char *base = strdup(argv[optind]);
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		base[--bl] = '\0';
	o.base = base;
	o.args = argv + optind + 1;
	o.nargs = argc - optind - 1;
	if ((o.file != NULL) + (o.count >= 0) + (o.nargs > 0) != 1) {
		free(base);
		goto bad;
	}
	void *res = NULL;
	int err = corio_run(main_task, &o, &res);
	free(base);
	if (err) {
		fprintf(stderr, "downloader: %s\n", corio_strerror(err));
		return 1;
	}
	return (int)(intptr_t)res;
bad:
	fputs(usage, stderr);
	return 2;
}
