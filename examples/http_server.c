/* SPDX-License-Identifier: MIT */
/*
 * examples/http_server.c - an HTTP/1.1 server on corio_http_serve(): "/"
 * and "/hello" answer "Hello, World!", "/echo" streams a request body
 * back, and every other path is a file under --root, sent with splice
 * (Range: bytes=A-B gives a 206).  Paths never leave the root: ".." and
 * "." segments (also percent-encoded) are refused with 403, and the file
 * is opened with openat2(RESOLVE_BENEATH), so a symlink pointing out of
 * the root gives 404.  SIGINT or SIGTERM stops it gracefully.  With
 * --threads N it runs N loops, one per thread (0: one per CPU), each
 * accepting on its own SO_REUSEPORT listener (corio_http_serve_threads()).
 *
 *   http_server [--host ADDR] [--port PORT] [--root DIR] [--server-name NAME]
 *               [--threads N]
 *   then:  curl -v http://127.0.0.1:8080/hello
 */
#include <corio.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct args {
	const char *host, *port, *root, *name;
	const char *cert, *key; /* https when both are given */
	int rootfd;
	long threads;           /* -1: one loop on this thread; 0: one per CPU */
};

static const char hello[] = "Hello, World!\n";

static int echo(corio_http_request *req)
{
	char buf[16384];
	int err = corio_http_respond_start(req, 200, "application/octet-stream");
	ssize_t n;
	while (!err && (n = corio_http_request_read(req, buf, sizeof(buf))) > 0)
		err = corio_http_write(req, buf, (size_t)n);
	if (!err && n < 0)
		err = (int)n;
	return err ? err : corio_http_finish(req);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode the path of @target (query dropped) into @out, relative
 * (no leading '/').  403 for "." or ".." segments, a NUL, or a decoded
 * '/' ("%2F") inside a segment; 400 for a bad escape; else 0. */
static int clean_path(const char *target, char *out, size_t cap)
{
	if (target[0] != '/')
		return 400;
	size_t n = 0, seg = 0;
	for (const char *p = target + 1;; p++) {
		char ch = *p;
		bool end = !ch || ch == '?' || ch == '#';
		if (end || ch == '/') {
			size_t len = n - seg;
			if ((len == 1 && out[seg] == '.') ||
			    (len == 2 && out[seg] == '.' && out[seg + 1] == '.'))
				return 403;
			if (end)
				break;
		}
		if (ch == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
			if (lo < 0)
				return 400;
			ch = (char)(hi * 16 + lo);
			if (!ch || ch == '/')
				return 403;
			p += 2;
		}
		if (n + 2 > cap)
			return 414;
		out[n++] = ch;
		if (ch == '/')
			seg = n;
	}
	out[n] = 0;
	return 0;
}

static const char *content_type(const char *path)
{
	static const char *const types[][2] = {
		{".html", "text/html"},  {".txt", "text/plain"},  {".css", "text/css"},
		{".js", "text/javascript"}, {".json", "application/json"},
		{".png", "image/png"},   {".jpg", "image/jpeg"},  {".svg", "image/svg+xml"},
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i][0]) == 0)
			return types[i][1];
	return "application/octet-stream";
}

/* "bytes=A-B", "bytes=A-", "bytes=-N" against @size: 1 and the range, 0
 * for none (or one we do not handle: the whole file), -1 unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	char *end;
	const char *p = h + 6;
	if (*p == '-') {
		unsigned long long n = strtoull(p + 1, &end, 10);
		if (*end || end == p + 1 || !n || !size)
			return *end ? 0 : -1;
		*len = n < size ? n : size;
		*off = size - *len;
		return 1;
	}
	unsigned long long a = strtoull(p, &end, 10), b = size ? size - 1 : 0;
	if (end == p || *end != '-')
		return 0;
	if (end[1]) {
		char *e2;
		b = strtoull(end + 1, &e2, 10);
		if (*e2 || b < a)
			return 0;
	}
	if (a >= size)
		return -1;
	if (b >= size)
		b = size - 1;
	*off = a;
	*len = b - a + 1;
	return 1;
}

static int open_beneath(int rootfd, const char *rel)
{
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

static int send_file(corio_http_request *req, int fd, const char *path)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return corio_http_respond(req, 404, "text/plain", "not found\n", 10);
	uint64_t off = 0, len = (uint64_t)st.st_size;
	int r = parse_range(corio_http_request_header(req, "Range"), len, &off, &len);
	if (r < 0) {
		char cr[48];
		snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)st.st_size);
		corio_http_set_header(req, "Content-Range", cr);
		return corio_http_respond(req, 416, "text/plain", NULL, 0);
	}
	if (r > 0) {
		char cr[80];
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)off,
			 (unsigned long long)(off + len - 1), (unsigned long long)st.st_size);
		corio_http_set_header(req, "Content-Range", cr);
	}
	return corio_http_respond_file(req, r > 0 ? 206 : 200, content_type(path), fd,
				       (off_t)off, len);
}

static int static_file(corio_http_request *req, const struct args *a)
{
	char rel[4096];
	int st = clean_path(corio_http_request_target(req), rel, sizeof(rel));
	if (st)
		return corio_http_respond(req, st, "text/plain", "refused\n", 8);
	int fd = open_beneath(a->rootfd, rel);
	if (fd >= 0) {
		struct stat sb;
		if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			int idx = openat(fd, "index.html", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			close(fd);
			fd = idx;
			if (fd >= 0)
				strcpy(rel, "index.html");
		}
	}
	if (fd < 0)
		return corio_http_respond(req, 404, "text/plain", "not found\n", 10);
	int err = send_file(req, fd, rel);
	close(fd);
	return err;
}

static int handle(corio_http_request *req, void *arg)
{
	const struct args *a = arg;
	const char *m = corio_http_request_method(req), *t = corio_http_request_target(req);
	if (strcmp(t, "/") == 0 || strcmp(t, "/hello") == 0)
		return corio_http_respond(req, 200, "text/plain", hello, sizeof(hello) - 1);
	if (strcmp(t, "/echo") == 0 && strcmp(m, "POST") == 0)
		return echo(req);
	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
		corio_http_set_header(req, "Allow", "GET, HEAD");
		return corio_http_respond(req, 405, "text/plain", "method not allowed\n", 19);
	}
	if (a->rootfd < 0)
		return corio_http_respond(req, 404, "text/plain", "not found\n", 10);
	return static_file(req, a);
}

/* The server's options; with --cert/--key, a TLS server context (freed
 * by the caller with corio_tls_ctx_free()).  Return: 0, or -1 (said). */
static int serve_options(const struct args *a, corio_http_serve_options *o)
{
	*o = (corio_http_serve_options){.server_name = a->name};
	if (!a->cert)
		return 0;
	corio_tls_options to = {.server = 1, .cert_file = a->cert, .key_file = a->key};
	int err = corio_tls_ctx_new(&o->tls, &to);
	if (err) {
		fprintf(stderr, "http_server: TLS: %s\n", corio_strerror(err));
		return -1;
	}
	return 0;
}

static void *serve_main(void *arg)
{
	struct args *a = arg;
	int lfd = corio_tcp_listen(a->host, a->port, 0, 0);
	if (lfd < 0) {
		fprintf(stderr, "http_server: listen %s:%s: %s\n", a->host, a->port,
			corio_strerror(lfd));
		return (void *)1;
	}
	corio_http_serve_options o;
	if (serve_options(a, &o)) {
		corio_close(lfd);
		return (void *)1;
	}
	printf("Serving on %s://%s:%d/\n", a->cert ? "https" : "http", a->host,
	       corio_sock_port(lfd));
	fflush(stdout);
	o.serve.stop_signals = (const int[]){SIGINT, SIGTERM, 0};
	int err = corio_http_serve(lfd, handle, a, &o);
	corio_close(lfd);
	corio_tls_ctx_free(o.tls);
	printf("Server shut down.\n");
	return err ? (void *)1 : NULL;
}

static void say_serving(int port, void *arg)
{
	const struct args *a = arg;
	printf("Serving on %s://%s:%d/ with %ld loops\n", a->cert ? "https" : "http", a->host,
	       port, a->threads);
	fflush(stdout);
}

/* --threads: a loop per thread, each with its own listener; the handler
 * reads only what main set up, so it runs on any loop (SIGINT and SIGTERM
 * stop them all gracefully: corio_http_serve_threads()). */
static int serve_threads(struct args *a)
{
	corio_http_serve_options o;
	if (serve_options(a, &o))
		return 1;
	if (!a->threads) {
		cpu_set_t set;
		a->threads = sched_getaffinity(0, sizeof(set), &set) ? 1 : CPU_COUNT(&set);
	}
	corio_serve_threads_options to = {.threads = (unsigned)a->threads,
					  .ready = say_serving, .ready_arg = a};
	int err = corio_http_serve_threads(a->host, a->port, handle, a, &o, &to);
	corio_tls_ctx_free(o.tls);
	if (err) {
		fprintf(stderr, "http_server: %s:%s: %s\n", a->host, a->port, corio_strerror(err));
		return 1;
	}
	printf("Server shut down.\n");
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: http_server [--host ADDR] [--port PORT] [--root DIR] "
		   "[--server-name NAME] [--cert PEM --key PEM] [--threads N]\n"
		   "  --cert/--key: serve https with this certificate chain and key\n"
		   "  --threads N: N loops, one per thread (0: one per CPU), each\n"
		   "               with its own SO_REUSEPORT listener\n"
		   "  defaults: 127.0.0.1, 8080, no root (only / and /hello, /echo)\n");
}

int main(int argc, char **argv)
{
	struct args a = {.host = "127.0.0.1", .port = "8080", .rootfd = -1, .threads = -1};
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'H'}, {"port", required_argument, NULL, 'p'},
		{"root", required_argument, NULL, 'r'}, {"server-name", required_argument, NULL, 's'},
		{"cert", required_argument, NULL, 'c'}, {"key", required_argument, NULL, 'k'},
		{"threads", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
		{0, 0, 0, 0},
	};
	int ch;
	char *end;
	while ((ch = getopt_long(argc, argv, "H:p:r:s:t:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'H': a.host = optarg; break;
		case 'p': a.port = optarg; break;
		case 'r': a.root = optarg; break;
		case 's': a.name = optarg; break;
		case 'c': a.cert = optarg; break;
		case 'k': a.key = optarg; break;
		case 't':
			a.threads = strtol(optarg, &end, 10);
			if (end == optarg || *end || a.threads < 0 || a.threads > 1024) {
				fprintf(stderr, "http_server: --threads wants 0..1024\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !a.cert != !a.key) {
		usage(stderr);
		return 2;
	}
	if (a.root && (a.rootfd = open(a.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		perror(a.root);
		return 1;
	}
	if (a.threads >= 0) {
		int rc = serve_threads(&a);
		if (a.rootfd >= 0)
			close(a.rootfd);
		return rc;
	}
	void *res = NULL;
	int err = corio_run(serve_main, &a, &res);
	if (a.rootfd >= 0)
		close(a.rootfd);
	if (err) {
		fprintf(stderr, "http_server: %s\n", corio_strerror(err));
		return 1;
	}
	return res ? 1 : 0;
}
