/* SPDX-License-Identifier: MIT */
/*
 * tests/http_client.c - the HTTP/1.1 client: a table of good and bad URLs
 * and of redirect references; against a private nginx (tests/
 * http_fixtures.c): files of 0 B to 1 MiB read whole, streamed and written
 * to an fd, keep-alive reuse and the per-origin cap (nginx's $connection),
 * redirects (relative, absolute, 303 and POST->GET, 307 keeping POST, a
 * loop -> -ELOOP), 404; against small raw servers run as tasks (corio's
 * own corio_serve): chunked and until-close bodies, 100 Continue, malformed
 * heads and framing, a pooled connection the server drops (retried once
 * for GET, not for POST), cancellation mid-body (the connection is closed,
 * the pool still serves), read and total timeouts; and examples/downloader
 * run as a program.
 */
#include "util.h"
#include "http_client_int.h"
#include "http_fixtures.h"

#include <corio/http.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- URLs (pure) ------------------------------------------------------ */

struct url_case {
	const char *url;
	int err;
	const char *host, *port, *target; /* target as sent ("/" prefixed) */
};

static const struct url_case url_cases[] = {
	{"http://example.com/", 0, "example.com", "80", "/"},
	{"http://Example.COM", 0, "example.com", "80", "/"},
	{"HTTP://h:8080/a/b?x=1&y=%20#frag", 0, "h", "8080", "/a/b?x=1&y=%20"},
	{"http://h?q=1", 0, "h", "80", "/?q=1"},
	{"http://h:/p", 0, "h", "80", "/p"},
	{"http://127.0.0.1:0080/x", 0, "127.0.0.1", "80", "/x"},
	{"http://[::1]:9000/v6", 0, "::1", "9000", "/v6"},
	{"http://[2001:DB8::1]/", 0, "2001:db8::1", "80", "/"},
	{"https://h/", 0, "h", "443", "/"},
	{"http://my_host.local.:81/", 0, "my_host.local.", "81", "/"},
	{"ftp://h/", -EPROTONOSUPPORT, NULL, NULL, NULL},
	{"gopher://h/", -EPROTONOSUPPORT, NULL, NULL, NULL},
	{"", -EINVAL, NULL, NULL, NULL},
	{"http:/h/", -EINVAL, NULL, NULL, NULL},
	{"http//h/", -EINVAL, NULL, NULL, NULL},
	{"://h/", -EINVAL, NULL, NULL, NULL},
	{"h/path", -EINVAL, NULL, NULL, NULL},
	{"http:///path", -EINVAL, NULL, NULL, NULL},
	{"http://:80/", -EINVAL, NULL, NULL, NULL},
	{"http://user:pw@h/", -EINVAL, NULL, NULL, NULL},
	{"http://user@h/", -EINVAL, NULL, NULL, NULL},
	{"http://h:0/", -EINVAL, NULL, NULL, NULL},
	{"http://h:65536/", -EINVAL, NULL, NULL, NULL},
	{"http://h:123456/", -EINVAL, NULL, NULL, NULL},
	{"http://h:8a/", -EINVAL, NULL, NULL, NULL},
	{"http://h:80:81/", -EINVAL, NULL, NULL, NULL},
	{"http://[::1/", -EINVAL, NULL, NULL, NULL},
	{"http://[::1]x/", -EINVAL, NULL, NULL, NULL},
	{"http://[fe80::1%25eth0]/", -EINVAL, NULL, NULL, NULL},
	{"http://[not-v6]/", -EINVAL, NULL, NULL, NULL},
	{"http://::1/", -EINVAL, NULL, NULL, NULL},
	{"http://h/a b", -EINVAL, NULL, NULL, NULL},
	{"http://h/a\r\nHost: evil", -EINVAL, NULL, NULL, NULL},
	{"http://h/\x7f", -EINVAL, NULL, NULL, NULL},
	{"http://h/caf\xc3\xa9", -EINVAL, NULL, NULL, NULL},
	{"http://h/%zz", -EINVAL, NULL, NULL, NULL},
	{"http://h/%4", -EINVAL, NULL, NULL, NULL},
	{"http://h..x/", -EINVAL, NULL, NULL, NULL},
	{"http://.h/", -EINVAL, NULL, NULL, NULL},
	{"http://h!/", -EINVAL, NULL, NULL, NULL},
};

Test(http_client, url_table_of_good_and_bad_urls)
{
	for (size_t i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
		const struct url_case *c = &url_cases[i];
		struct corio__url u;
		int err = corio__url_parse(c->url, &u);
		cr_expect_eq(err, c->err, "%s: %d, want %d", c->url, err, c->err);
		if (err || c->err)
			continue;
		char target[256];
		snprintf(target, sizeof(target), "%s%.*s", u.target_slash ? "/" : "",
			 (int)u.target_len, u.target);
		cr_expect_str_eq(u.host, c->host, "%s", c->url);
		cr_expect_str_eq(u.port, c->port, "%s", c->url);
		cr_expect_str_eq(target, c->target, "%s", c->url);
	}
}

static const char *const ref_cases[][3] = {
	{"http://a/b/c/d;p?q", "g", "http://a/b/c/g"},
	{"http://a/b/c/d;p?q", "./g", "http://a/b/c/g"},
	{"http://a/b/c/d;p?q", "g/", "http://a/b/c/g/"},
	{"http://a/b/c/d;p?q", "/g", "http://a/g"},
	{"http://a/b/c/d;p?q", "//g/x", "http://g/x"},
	{"http://a/b/c/d;p?q", "?y", "http://a/b/c/d;p?y"},
	{"http://a/b/c/d;p?q", "g?y", "http://a/b/c/g?y"},
	{"http://a/b/c/d;p?q", "#s", "http://a/b/c/d;p?q"},
	{"http://a/b/c/d;p?q", "..", "http://a/b/"},
	{"http://a/b/c/d;p?q", "../g", "http://a/b/g"},
	{"http://a/b/c/d;p?q", "../../../g", "http://a/g"},
	{"http://a/b/c/d;p?q", "/./g", "http://a/g"},
	{"http://a/b/c/d;p?q", "g/../h", "http://a/b/c/h"},
	{"http://a:81", "x", "http://a:81/x"},
	{"http://a/b", "https://c/d", "https://c/d"},
	{"http://a/b", "HTTP://C:9/", "HTTP://C:9/"},
};

Test(http_client, redirect_references_resolve_as_rfc3986_says)
{
	for (size_t i = 0; i < sizeof(ref_cases) / sizeof(ref_cases[0]); i++) {
		struct corio__url u;
		cr_assert_eq(corio__url_parse(ref_cases[i][0], &u), 0);
		char *out = NULL;
		const char *ref = ref_cases[i][1];
		cr_expect_eq(corio__url_resolve(ref_cases[i][0], &u, ref, strlen(ref), &out), 0,
			     "%s", ref);
		cr_expect_str_eq(out ? out : "", ref_cases[i][2], "%s + %s", ref_cases[i][0], ref);
		free(out);
	}
	struct corio__url u;
	char *out = NULL;
	cr_assert_eq(corio__url_parse("http://a/b", &u), 0);
	cr_expect_eq(corio__url_resolve("http://a/b", &u, "", 0, &out), -EINVAL);
	cr_expect_eq(corio__url_resolve("http://a/b", &u, "a b", 3, &out), -EINVAL);
}

/* ---- nginx ------------------------------------------------------------ */

static const size_t sizes[] = {0, 1, 4096, 1 << 20};

static unsigned char pattern(size_t i, size_t size)
{
	return (unsigned char)((i * 131 + size * 7 + (i >> 9)) & 0xff);
}

static void *make_data(size_t size)
{
	unsigned char *p = malloc(size ? size : 1);
	cr_assert_not_null(p);
	for (size_t i = 0; i < size; i++)
		p[i] = pattern(i, size);
	return p;
}

static void check_data(const void *data, size_t len, size_t size)
{
	cr_assert_eq(len, size, "got %zu bytes, want %zu", len, size);
	const unsigned char *p = data;
	for (size_t i = 0; i < size; i++)
		if (p[i] != pattern(i, size))
			cr_assert_fail("byte %zu of %zu differs", i, size);
}

static const char nginx_conf[] =
	"absolute_redirect off;\n"
	"location /files/ { add_header X-Conn $connection always; }\n"
	"location = /r1 { return 302 /r2; }\n"
	"location = /r2 { return 301 files/f1; }\n"
	"location = /abs { return 302 http://127.0.0.1:$server_port/files/f4096; }\n"
	"location = /loop { return 302 /loop; }\n"
	"location = /p303 { return 303 /files/f1; }\n"
	"location = /p302 { return 302 /files/f1; }\n"
	"location = /p307 { return 307 /files/f1; }\n"
	"location = /nolocation { return 302; }\n";

static struct t_nginx ngx;

static void nginx_up(void)
{
	if (!t_nginx_path())
		cr_skip_test("nginx is not installed (apt-get install nginx-light)");
	int err = t_nginx_start(&ngx, &(struct t_nginx_options){.server = nginx_conf});
	cr_assert_eq(err, 0, "nginx: %s", strerror(-err));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "files/f%zu", sizes[i]);
		void *d = make_data(sizes[i]);
		cr_assert_eq(t_nginx_put(&ngx, name, d, sizes[i]), 0);
		free(d);
	}
}

static void nginx_down(void)
{
	t_nginx_stop(&ngx);
}

static char *url_of(const char *base, const char *path)
{
	char *u;
	cr_assert_geq(asprintf(&u, "%s%s", base, path), 0);
	return u;
}

static corio_http_client *client(unsigned per_origin)
{
	corio_http_client *c;
	corio_http_client_options o = {.max_per_origin = per_origin};
	cr_assert_eq(corio_http_client_new(&c, &o), 0);
	return c;
}

/* GET @path from nginx: its status, and its body in *@body (if non-NULL). */
static int get(corio_http_client *c, const char *path, char **body, size_t *len)
{
	char *u = url_of(ngx.url, path);
	corio_http_response *r;
	int err = corio_http_get(c, u, &r);
	free(u);
	if (err)
		return err;
	int st = corio_http_response_status(r);
	if (body)
		cr_assert_eq(corio_http_response_body(r, body, len, 0), 0);
	corio_http_response_free(r);
	return st;
}

static void *files_whole(void *arg)
{
	corio_http_client *c = client(0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char path[32], *body;
		size_t len;
		snprintf(path, sizeof(path), "/files/f%zu", sizes[i]);
		cr_assert_eq(get(c, path, &body, &len), 200);
		check_data(body, len, sizes[i]);
		cr_assert_eq(body[len], '\0');
		free(body);
	}
	corio_http_client_free(c);
	return NULL;
}

Test(http_client, files_of_0_1_4k_1m_bytes_arrive_whole, .init = nginx_up, .fini = nginx_down)
{
	t_run(files_whole, NULL, NULL);
}

static void *files_streamed(void *arg)
{
	corio_http_client *c = client(0);
	char *u = url_of(ngx.url, "/files/f1048576");
	corio_http_response *r;
	cr_assert_eq(corio_http_get(c, u, &r), 0);
	cr_assert_eq(corio_http_response_length(r), 1 << 20);
	cr_assert_str_eq(corio_http_response_header(r, "content-length"), "1048576");
	cr_assert_null(corio_http_response_header(r, "X-Absent"));
	char *all = malloc(1 << 20), buf[777];
	size_t n = 0;
	ssize_t k;
	while ((k = corio_http_response_read(r, buf, sizeof(buf))) > 0) {
		cr_assert_leq(n + (size_t)k, (size_t)1 << 20);
		memcpy(all + n, buf, (size_t)k);
		n += (size_t)k;
	}
	cr_assert_eq(k, 0);
	check_data(all, n, 1 << 20);
	free(all);
	corio_http_response_free(r);
	/* a small limit on the buffered form */
	cr_assert_eq(corio_http_get(c, u, &r), 0);
	char *body;
	size_t len;
	cr_assert_eq(corio_http_response_body(r, &body, &len, 1000), -EMSGSIZE);
	corio_http_response_free(r);
	free(u);
	corio_http_client_free(c);
	return NULL;
}

Test(http_client, a_body_streams_in_small_reads_and_a_limit_holds, .init = nginx_up,
     .fini = nginx_down)
{
	t_run(files_streamed, NULL, NULL);
}

static void *to_fd(void *arg)
{
	char *dir = t_tmpdir(), path[256];
	snprintf(path, sizeof(path), "%s/out", dir);
	corio_http_client *c = client(0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *u, name[32];
		snprintf(name, sizeof(name), "/files/f%zu", sizes[i]);
		u = url_of(ngx.url, name);
		corio_http_response *r;
		cr_assert_eq(corio_http_get(c, u, &r), 0);
		int fd = corio_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		cr_assert_geq(fd, 0);
		cr_assert_eq(corio_http_response_to_fd(r, fd), (int64_t)sizes[i]);
		cr_assert_eq(corio_close(fd), 0);
		corio_http_response_free(r);
		void *data;
		size_t len;
		cr_assert_eq(corio_read_file(path, &data, &len), 0);
		check_data(data, len, sizes[i]);
		free(data);
		free(u);
	}
	corio_http_client_free(c);
	t_rmtree(dir);
	free(dir);
	return NULL;
}

Test(http_client, to_fd_writes_files_of_every_size, .init = nginx_up, .fini = nginx_down)
{
	t_run(to_fd, NULL, NULL);
}

static void *not_found(void *arg)
{
	corio_http_client *c = client(0);
	char *body;
	size_t len;
	cr_assert_eq(get(c, "/files/missing", &body, &len), 404);
	free(body);
	corio_http_client_free(c);
	return NULL;
}

Test(http_client, a_missing_file_is_404, .init = nginx_up, .fini = nginx_down)
{
	t_run(not_found, NULL, NULL);
}

static void *keepalive(void *arg)
{
	corio_http_client *c = client(0);
	char first[32] = "";
	for (int i = 0; i < 20; i++) {
		char *u = url_of(ngx.url, "/files/f4096");
		corio_http_response *r;
		cr_assert_eq(corio_http_get(c, u, &r), 0);
		free(u);
		const char *conn = corio_http_response_header(r, "X-Conn");
		cr_assert_not_null(conn);
		if (!i)
			snprintf(first, sizeof(first), "%s", conn);
		cr_assert_str_eq(conn, first, "request %d came on a new connection", i);
		char *body;
		size_t len;
		cr_assert_eq(corio_http_response_body(r, &body, &len, 0), 0);
		free(body);
		corio_http_response_free(r);
	}
	corio_http_client_free(c);
	return NULL;
}

Test(http_client, sequential_requests_reuse_one_connection, .init = nginx_up, .fini = nginx_down)
{
	t_run(keepalive, NULL, NULL);
}

/* The per-origin cap: 30 tasks, at most 3 requests in flight, at most 3
 * distinct connections. */
struct cap_run {
	corio_http_client *c;
	int inflight, peak;
	char conns[8][32];
	int nconns;
	int ok;
};

static void *cap_task(void *arg)
{
	struct cap_run *t = arg;
	char *u = url_of(ngx.url, "/files/f4096");
	corio_http_response *r;
	cr_assert_eq(corio_http_get(t->c, u, &r), 0);
	free(u);
	if (++t->inflight > t->peak)
		t->peak = t->inflight;
	const char *conn = corio_http_response_header(r, "X-Conn");
	int i;
	for (i = 0; i < t->nconns; i++)
		if (!strcmp(t->conns[i], conn))
			break;
	if (i == t->nconns && t->nconns < 8)
		snprintf(t->conns[t->nconns++], 32, "%s", conn);
	char *body;
	size_t len;
	cr_assert_eq(corio_http_response_body(r, &body, &len, 0), 0); /* suspends */
	check_data(body, len, 4096);
	free(body);
	t->inflight--;
	corio_http_response_free(r);
	t->ok++;
	return NULL;
}

static void *cap(void *arg)
{
	struct cap_run t = {.c = client(3)};
	corio_task *tasks[30];
	for (int i = 0; i < 30; i++)
		cr_assert_eq(corio_spawn(&tasks[i], cap_task, &t), 0);
	cr_assert_eq(corio_gather(tasks, 30, NULL), 0);
	cr_assert_eq(t.ok, 30);
	cr_assert_leq(t.peak, 3);
	cr_assert_leq(t.nconns, 3);
	cr_assert_geq(t.nconns, 1);
	corio_http_client_free(t.c);
	return NULL;
}

Test(http_client, max_per_origin_caps_requests_and_connections, .init = nginx_up,
     .fini = nginx_down)
{
	t_run(cap, NULL, NULL);
}

static void *redirects(void *arg)
{
	corio_http_client *c = client(0);
	char *body;
	size_t len;
	cr_assert_eq(get(c, "/r1", &body, &len), 200); /* 302 /r2, 301 relative */
	check_data(body, len, 1);
	free(body);
	cr_assert_eq(get(c, "/abs", &body, &len), 200);
	check_data(body, len, 4096);
	free(body);
	cr_assert_eq(get(c, "/loop", NULL, NULL), -ELOOP);
	int st = get(c, "/nolocation", NULL, NULL);
	cr_assert_eq(st, 302, "%d", st);
	/* 303 and 302 turn POST into GET (nginx answers POST to a file 405) */
	const char *post[] = {"/p303", "/p302", "/p307"};
	const int want[] = {200, 200, 405};
	for (int i = 0; i < 3; i++) {
		char *u = url_of(ngx.url, post[i]);
		corio_http_response *r;
		cr_assert_eq(corio_http_fetch(c, "POST", u, (const char *[]){"X-A: b", NULL},
					      "data", 4, &r), 0);
		cr_assert_eq(corio_http_response_status(r), want[i], "%s", post[i]);
		corio_http_response_free(r);
		free(u);
	}
	corio_http_client_free(c);
	/* no redirects: the 3xx comes back; a limit of 1 */
	corio_http_client_options o = {.max_redirects = CORIO_HTTP_NO_REDIRECTS};
	cr_assert_eq(corio_http_client_new(&c, &o), 0);
	cr_assert_eq(get(c, "/r1", NULL, NULL), 302);
	corio_http_client_free(c);
	o.max_redirects = 1;
	cr_assert_eq(corio_http_client_new(&c, &o), 0);
	cr_assert_eq(get(c, "/r1", NULL, NULL), -ELOOP);
	cr_assert_eq(get(c, "/r2", NULL, NULL), 200);
	corio_http_client_free(c);
	return NULL;
}

Test(http_client, redirects_followed_bounded_and_post_becomes_get, .init = nginx_up,
     .fini = nginx_down)
{
	t_run(redirects, NULL, NULL);
}

static void *refusals(void *arg)
{
	corio_http_client *c = client(0);
	corio_http_response *r = NULL;
	cr_assert_eq(corio_http_get(c, "ftp://127.0.0.1/", &r), -EPROTONOSUPPORT);
	cr_assert_eq(corio_http_get(c, "http://127.0.0.1:80:80/", &r), -EINVAL);
	cr_assert_eq(corio_http_fetch(c, "GET", "http://127.0.0.1/",
				      (const char *[]){"Bad Header: x", NULL}, NULL, 0, &r),
		     -EINVAL);
	cr_assert_eq(corio_http_fetch(c, "GET", "http://127.0.0.1/",
				      (const char *[]){"Content-Length: 5", NULL}, NULL, 0, &r),
		     -EINVAL);
	cr_assert_eq(corio_http_fetch(c, "G T", "http://127.0.0.1/", NULL, NULL, 0, &r), -EINVAL);
	cr_assert_null(r);
	/* a closed port on loopback */
	int lfd = corio_tcp_listen("127.0.0.1", "0", 1, 0);
	char u[64];
	int closed = corio_sock_port(lfd);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/", closed);
	corio_close(lfd);
	cr_assert_eq(corio_http_get(c, u, &r), -ECONNREFUSED);
	snprintf(u, sizeof(u), "https://127.0.0.1:%d/", closed);
	cr_assert_eq(corio_http_get(c, u, &r), -ECONNREFUSED);
	corio_http_client_free(c);
	return NULL;
}

Test(http_client, other_schemes_bad_urls_and_headers_are_refused)
{
	t_run(refusals, NULL, NULL);
}

/* ---- raw servers -------------------------------------------------------- */

struct raw;
typedef void (*raw_fn)(struct raw *r, corio_stream *s, int idx);

/* A tiny server on the test's own loop: each connection runs @fn. */
struct raw {
	raw_fn fn;
	int lfd;
	char url[64];
	corio_server *srv;
	corio_task *task;
	int conns;         /* connections accepted */
	int eofs;          /* handlers that saw the client close */
	corio_event event; /* set by handlers at a step a test waits for */
};

static void *raw_handler(void *arg)
{
	corio_conn *cn = arg;
	struct raw *r = cn->arg;
	r->fn(r, cn->stream, r->conns++);
	return NULL;
}

static void *raw_serve(void *arg)
{
	struct raw *r = arg;
	corio_server_run(r->srv);
	return NULL;
}

static void raw_start(struct raw *r, raw_fn fn)
{
	memset(r, 0, sizeof(*r));
	r->fn = fn;
	corio_event_init(&r->event);
	r->lfd = corio_tcp_listen("127.0.0.1", "0", 0, 0);
	cr_assert_geq(r->lfd, 0);
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d", corio_sock_port(r->lfd));
	corio_serve_options o = {.arg = r, .grace_ns = 1 * MS};
	cr_assert_eq(corio_server_new(&r->srv, r->lfd, raw_handler, &o), 0);
	cr_assert_eq(corio_spawn(&r->task, raw_serve, r), 0);
}

static void raw_stop(struct raw *r)
{
	corio_server_stop(r->srv);
	cr_assert_eq(corio_join(r->task, NULL), 0);
	corio_server_free(r->srv);
	corio_close(r->lfd);
}

/* Read one request head; 0 at end of stream. */
static int read_req(corio_stream *s)
{
	const char *line;
	ssize_t n = corio_stream_read_until(s, "\r\n\r\n", &line);
	return n > 0 && line[n - 1] == '\n';
}

static void say(corio_stream *s, const char *text)
{
	cr_assert_eq(corio_stream_write(s, text, strlen(text)), (ssize_t)strlen(text));
	corio_stream_flush(s);
}

static void wait_eof(struct raw *r, corio_stream *s)
{
	char b[256];
	while (corio_stream_read(s, b, sizeof(b)) > 0)
		;
	r->eofs++;
	corio_event_set(&r->event);
}

static void chunked_fn(struct raw *r, corio_stream *s, int idx)
{
	while (read_req(s)) {
		say(s, "HTTP/1.1 100 Continue\r\n\r\n");
		say(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Idx: ");
		char n[16];
		snprintf(n, sizeof(n), "%d\r\n\r\n", idx);
		say(s, n);
		say(s, "5;ext=1\r\nhello\r\n");
		say(s, "1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer: x\r\n\r\n");
	}
}

static void close_fn(struct raw *r, corio_stream *s, int idx)
{
	if (read_req(s))
		say(s, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end");
}

static void *chunked(void *arg)
{
	struct raw srv;
	raw_start(&srv, chunked_fn);
	corio_http_client *c = client(0);
	for (int i = 0; i < 3; i++) {
		char *body, *u = url_of(srv.url, "/c");
		size_t len;
		corio_http_response *r;
		cr_assert_eq(corio_http_get(c, u, &r), 0);
		cr_assert_eq(corio_http_response_status(r), 200);
		cr_assert_eq(corio_http_response_length(r), -1);
		cr_assert_str_eq(corio_http_response_header(r, "x-idx"), "0");
		cr_assert_eq(corio_http_response_body(r, &body, &len, 0), 0);
		cr_assert_str_eq(body, "hello world!");
		free(body);
		corio_http_response_free(r);
		free(u);
	}
	cr_assert_eq(srv.conns, 1); /* kept alive after a chunked body */
	corio_http_client_free(c);
	raw_stop(&srv);

	raw_start(&srv, close_fn);
	c = client(0);
	for (int i = 0; i < 2; i++) {
		char *body, *u = url_of(srv.url, "/c");
		size_t len;
		corio_http_response *r;
		cr_assert_eq(corio_http_get(c, u, &r), 0);
		cr_assert_eq(corio_http_response_body(r, &body, &len, 0), 0);
		cr_assert_str_eq(body, "until the end");
		free(body);
		corio_http_response_free(r);
		free(u);
	}
	cr_assert_eq(srv.conns, 2);
	corio_http_client_free(c);
	raw_stop(&srv);
	return NULL;
}

Test(http_client, chunked_and_until_close_bodies_and_100_continue)
{
	t_run(chunked, NULL, NULL);
}

/* Malformed answers, one per connection, chosen by the request's path. */
static const char *const bad_answers[] = {
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
	"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
	"HTTP/2 200 OK\r\n\r\n",
	"SSH-2.0-OpenSSH\r\n\r\n",
	"HTTP/1.1 200 OK\r\n Folded: x\r\nContent-Length: 0\r\n\r\n",
};

static void bad_fn(struct raw *r, corio_stream *s, int idx)
{
	const char *line;
	ssize_t n = corio_stream_read_until(s, "\r\n\r\n", &line);
	if (n <= 0)
		return;
	int which = line[5] - '0'; /* "GET /N" */
	if (which == 9) {          /* head fine, chunk size not */
		say(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
	} else if (which == 8) {   /* cut short */
		say(s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
	} else {
		say(s, bad_answers[which]);
	}
}

static void *malformed(void *arg)
{
	struct raw srv;
	raw_start(&srv, bad_fn);
	corio_http_client *c = client(0);
	corio_http_response *r;
	for (size_t i = 0; i < sizeof(bad_answers) / sizeof(bad_answers[0]); i++) {
		char path[8];
		snprintf(path, sizeof(path), "/%zu", i);
		char *u = url_of(srv.url, path);
		cr_expect_eq(corio_http_get(c, u, &r), -EPROTO, "answer %zu", i);
		free(u);
	}
	char buf[64], *u = url_of(srv.url, "/9");
	cr_assert_eq(corio_http_get(c, u, &r), 0);
	cr_assert_eq(corio_http_response_read(r, buf, sizeof(buf)), -EPROTO);
	corio_http_response_free(r);
	free(u);
	u = url_of(srv.url, "/8");
	cr_assert_eq(corio_http_get(c, u, &r), 0);
	char *body;
	size_t len;
	cr_assert_eq(corio_http_response_body(r, &body, &len, 0), -ECONNRESET);
	corio_http_response_free(r);
	free(u);
	corio_http_client_free(c);
	raw_stop(&srv);
	return NULL;
}

Test(http_client, malformed_heads_and_framing_are_eproto)
{
	t_run(malformed, NULL, NULL);
}

/* The first connection answers one request, then takes the second and
 * closes without a word: the server closed a pooled connection. */
static void stale_fn(struct raw *r, corio_stream *s, int idx)
{
	while (read_req(s)) {
		say(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		if (idx == 0) {
			read_req(s);
			return;
		}
	}
}

static void *stale(void *arg)
{
	struct raw srv;
	raw_start(&srv, stale_fn);
	corio_http_client *c = client(0);
	char *u = url_of(srv.url, "/s");
	corio_http_response *r;
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(corio_http_get(c, u, &r), 0, "request %d", i);
		char *body;
		size_t len;
		cr_assert_eq(corio_http_response_body(r, &body, &len, 0), 0);
		cr_assert_str_eq(body, "ok");
		free(body);
		corio_http_response_free(r);
	}
	cr_assert_eq(srv.conns, 2); /* one retry, then the new one kept */
	corio_http_client_free(c);
	raw_stop(&srv);

	/* POST is not retried: the caller hears of it */
	raw_start(&srv, stale_fn);
	free(u);
	u = url_of(srv.url, "/s");
	c = client(0);
	cr_assert_eq(corio_http_fetch(c, "POST", u, NULL, "x", 1, &r), 0);
	char buf[8];
	cr_assert_eq(corio_http_response_read(r, buf, sizeof(buf)), 2);
	cr_assert_eq(corio_http_response_read(r, buf, sizeof(buf)), 0);
	corio_http_response_free(r);
	cr_assert_eq(corio_http_fetch(c, "POST", u, NULL, "x", 1, &r), -ECONNRESET);
	cr_assert_eq(srv.conns, 1);
	corio_http_client_free(c);
	raw_stop(&srv);
	free(u);
	return NULL;
}

Test(http_client, a_pooled_connection_the_server_dropped_is_retried_once_for_get)
{
	t_run(stale, NULL, NULL);
}

/* Cancellation mid-body: the server sends a head and part of a body, then
 * waits; the reading task is cancelled; its connection is closed (the
 * server sees the end), and with max_per_origin 1 the next request still
 * gets through, on a new connection. */
static void partial_fn(struct raw *r, corio_stream *s, int idx)
{
	if (!read_req(s))
		return;
	if (idx == 0) {
		say(s, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n0123456789");
		wait_eof(r, s);
		return;
	}
	say(s, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone");
	while (read_req(s))
		say(s, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone");
}

struct cancel_run {
	corio_http_client *c;
	const char *url;
	int got;
	corio_event got10;
};

static void *cancel_reader(void *arg)
{
	struct cancel_run *t = arg;
	corio_http_response *r;
	cr_assert_eq(corio_http_get(t->c, t->url, &r), 0);
	char buf[64];
	ssize_t k;
	while ((k = corio_http_response_read(r, buf, sizeof(buf))) > 0) {
		t->got += (int)k;
		if (t->got == 10)
			corio_event_set(&t->got10);
	}
	cr_assert_eq(k, -ECANCELED);
	corio_http_response_free(r); /* closes: the body was not read */
	return NULL;
}

static void *cancel_mid_body(void *arg)
{
	struct raw srv;
	raw_start(&srv, partial_fn);
	char *u = url_of(srv.url, "/p");
	struct cancel_run t = {.c = client(1), .url = u};
	corio_event_init(&t.got10);
	corio_task *task;
	cr_assert_eq(corio_spawn(&task, cancel_reader, &t), 0);
	cr_assert_eq(corio_event_wait(&t.got10), 0);
	corio_cancel(task);
	cr_assert_eq(corio_join(task, NULL), -ECANCELED);
	cr_assert_eq(corio_event_wait(&srv.event), 0); /* the server saw the close */
	cr_assert_eq(srv.eofs, 1);
	for (int i = 0; i < 3; i++) {
		corio_http_response *r;
		cr_assert_eq(corio_http_get(t.c, u, &r), 0);
		char *body;
		size_t len;
		cr_assert_eq(corio_http_response_body(r, &body, &len, 0), 0);
		cr_assert_str_eq(body, "done");
		free(body);
		corio_http_response_free(r);
	}
	cr_assert_eq(srv.conns, 2);
	corio_http_client_free(t.c);
	free(u);
	raw_stop(&srv);
	return NULL;
}

Test(http_client, cancel_mid_body_closes_the_connection_and_the_pool_serves_on)
{
	t_run(cancel_mid_body, NULL, NULL);
}

/* A server that reads the request and answers nothing ("/t"), or sends
 * a head and then nothing ("/h"). */
static void silent_fn(struct raw *r, corio_stream *s, int idx)
{
	const char *line;
	if (corio_stream_read_until(s, "\r\n\r\n", &line) <= 0)
		return;
	if (line[5] == 'h')
		say(s, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
	wait_eof(r, s);
}

static void *timeouts(void *arg)
{
	struct raw srv;
	raw_start(&srv, silent_fn);
	char *u = url_of(srv.url, "/t");
	corio_http_client *c;
	corio_http_client_options o = {.read_timeout_ns = 100 * MS};
	cr_assert_eq(corio_http_client_new(&c, &o), 0);
	corio_http_response *r;
	uint64_t t0 = corio_now();
	cr_assert_eq(corio_http_get(c, u, &r), -ETIMEDOUT); /* no head */
	uint64_t dt = corio_now() - t0;
	cr_assert_geq(dt, 100 * MS);
	cr_assert_lt(dt, 5000 * MS);
	char *uh = url_of(srv.url, "/h");
	cr_assert_eq(corio_http_get(c, uh, &r), 0); /* a head, then silence */
	free(uh);
	char buf[16];
	cr_assert_eq(corio_http_response_read(r, buf, sizeof(buf)), 3);
	cr_assert_eq(corio_http_response_read(r, buf, sizeof(buf)), -ETIMEDOUT);
	corio_http_response_free(r);
	corio_http_client_free(c);

	/* the total timeout covers the request up to the head */
	corio_http_client_options o2 = {.total_timeout_ns = 150 * MS};
	cr_assert_eq(corio_http_client_new(&c, &o2), 0);
	t0 = corio_now();
	int err = corio_http_get(c, u, &r);
	cr_assert_eq(err, -ETIMEDOUT, "%s", corio_strerror(err));
	dt = corio_now() - t0;
	cr_assert_geq(dt, 150 * MS);
	cr_assert_lt(dt, 5000 * MS);
	corio_http_client_free(c);

	/* a caller's own scope works too */
	c = client(0);
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + 50 * MS);
	cr_assert_eq(corio_http_get(c, u, &r), -ETIMEDOUT);
	corio_timeout_pop(&sc);
	cr_assert(sc.expired);
	corio_http_client_free(c);
	free(u);
	raw_stop(&srv);
	return NULL;
}

Test(http_client, read_total_and_scope_timeouts)
{
	t_run(timeouts, NULL, NULL);
}

/* ---- examples/downloader ------------------------------------------------- */

static int run_downloader(char *const argv[], char **out)
{
	int st = t_exec(argv, NULL, out, NULL, 60000);
	cr_assert_geq(st, 0, "downloader did not finish: %d", st);
	return st;
}

Test(http_client, downloader_fetches_a_numbered_batch_and_sums_up, .init = nginx_up,
     .fini = nginx_down)
{
	const char *prog = getenv("CORIO_DOWNLOADER");
	cr_assert_not_null(prog, "CORIO_DOWNLOADER unset: run this through meson test");
	for (int i = 0; i < 50; i++) {
		char name[32];
		snprintf(name, sizeof(name), "d/f%d", i);
		void *d = make_data(4096 + (size_t)i);
		cr_assert_eq(t_nginx_put(&ngx, name, d, 4096 + (size_t)i), 0);
		free(d);
	}
	char *dir = t_tmpdir(), base[96], *out;
	snprintf(base, sizeof(base), "%s/d/", ngx.url);
	char *argv1[] = {(char *)prog, "-c", "8", "-o", dir, "-n", "50", "-p", "f%d", base, NULL};
	cr_assert_eq(run_downloader(argv1, &out), 0);
	cr_assert(strstr(out, "200: 50  errors: 0"), "%s", out);
	free(out);
	for (int i = 0; i < 50; i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		int fd = open(path, O_RDONLY);
		cr_assert_geq(fd, 0, "%s missing", path);
		char *buf = malloc(8192);
		ssize_t n = read(fd, buf, 8192);
		close(fd);
		check_data(buf, (size_t)n, 4096 + (size_t)i);
		free(buf);
	}
	/* names as arguments, one missing: counted, and the exit status says so */
	char *argv2[] = {(char *)prog, "-q", "-o", dir, base, "f1", "nope", "f2", NULL};
	cr_assert_eq(run_downloader(argv2, &out), 1);
	cr_assert(strstr(out, "200: 2  404: 1  errors: 0"), "%s", out);
	free(out);
	char *argv3[] = {(char *)prog, "--help", NULL};
	cr_assert_eq(run_downloader(argv3, &out), 0);
	cr_assert(strstr(out, "usage: downloader"));
	free(out);
	char *argv4[] = {(char *)prog, "-o", dir, base, "../escape", NULL};
	cr_assert_eq(run_downloader(argv4, &out), 2);
	free(out);
	t_rmtree(dir);
	free(dir);
}
