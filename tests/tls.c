/* SPDX-License-Identifier: MIT */
/*
 * tests/tls.c - TLS streams (corio/tls.h) against corio's own TLS server
 * (tasks in the same loop), `openssl s_server` and nginx, with a CA and
 * certificates made at test time (tests/http_fixtures.c): handshakes in
 * TLS 1.2 and 1.3, 16 MiB each way, each verification failure with its
 * own code, cancellation and timeouts mid-handshake and mid-transfer,
 * truncation versus close_notify, session resumption, 1 000 clients.
 */
#include "util.h"
#include "http_fixtures.h"

#include <corio/tls.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct t_certs certs;

static void setup(void)
{
	int err = t_certs_make(&certs);
	if (err == -ENOENT)
		cr_skip_test("no openssl command");
	cr_assert_eq(err, 0, "making certificates failed");
}

static void teardown(void)
{
	t_certs_free(&certs);
}

/* no .timeout: with child processes running, criterion's timer leaks under
 * LeakSanitizer; meson's 300 s bound (tests/meson.build) stops a hang */
TestSuite(tls, .init = setup, .fini = teardown);

/* ---- helpers -------------------------------------------------------- */

static corio_tls_ctx *server_ctx(const char *cert, int maxv)
{
	corio_tls_options o = {.server = 1, .cert_file = cert, .key_file = certs.key,
			       .max_version = maxv};
	corio_tls_ctx *c = NULL;
	cr_assert_eq(corio_tls_ctx_new(&c, &o), 0);
	return c;
}

static corio_tls_ctx *client_ctx(void)
{
	corio_tls_options o = {.ca_file = certs.ca};
	corio_tls_ctx *c = NULL;
	cr_assert_eq(corio_tls_ctx_new(&c, &o), 0);
	return c;
}

static int listen_any(int *port)
{
	int lfd = corio_tcp_listen("127.0.0.1", "0", 0, 0);
	cr_assert_geq(lfd, 0);
	*port = corio_sock_port(lfd);
	return lfd;
}

static int dial(int port)
{
	char p[16];
	snprintf(p, sizeof(p), "%d", port);
	return corio_tcp_connect("127.0.0.1", p);
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static unsigned char *random_bytes(size_t n)
{
	unsigned char *p = malloc(n);
	cr_assert(p);
	uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)t_clock();
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
	return p;
}

/* A corio TLS server for one connection: handshake, then @fn. */
struct srv {
	int lfd;
	corio_tls_ctx *ctx;
	int (*fn)(corio_stream *s, struct srv *v);
	int hs_err;       /* the handshake's result */
	int result;       /* fn's */
	corio_event accepted;
	size_t n;         /* bytes for fn */
};

static void *srv_main(void *arg)
{
	struct srv *v = arg;
	int fd = corio_accept(v->lfd, NULL, NULL);
	corio_event_set(&v->accepted);
	if (fd < 0) {
		v->hs_err = fd;
		return NULL;
	}
	corio_stream *s = NULL;
	v->hs_err = corio_tls_stream_new(&s, fd, v->ctx, NULL);
	if (!v->hs_err) {
		v->result = v->fn ? v->fn(s, v) : 0;
		corio_stream_close(s);
	}
	return NULL;
}

static corio_task *srv_start(struct srv *v, const char *cert, int maxv, int *port)
{
	v->lfd = listen_any(port);
	v->ctx = server_ctx(cert, maxv);
	corio_task *t = NULL;
	cr_assert_eq(corio_spawn(&t, srv_main, v), 0);
	return t;
}

static void srv_end(struct srv *v, corio_task *t)
{
	corio_join(t, NULL);
	corio_close(v->lfd);
	corio_tls_ctx_free(v->ctx);
}

/* ---- handshakes against corio's own server ----------------------------- */

static int echo_line(corio_stream *s, struct srv *v)
{
	(void)v;
	const char *line;
	ssize_t n = corio_stream_readline(s, &line);
	if (n <= 0)
		return (int)n;
	if (corio_stream_write(s, line, (size_t)n) != n)
		return -EIO;
	return corio_stream_flush(s);
}

struct vcase {
	int maxv;
};

static void *handshake_versions(void *arg)
{
	const struct vcase *vc = arg;
	struct srv v = {.fn = echo_line};
	int port;
	corio_task *t = srv_start(&v, certs.cert, vc->maxv, &port);
	corio_tls_ctx *c = client_ctx();
	corio_stream *s = NULL;
	cr_assert_eq(corio_tls_stream_new(&s, dial(port), c, "localhost"), 0);
	cr_expect_eq(corio_tls_stream_version(s), vc->maxv);
	cr_expect_str_eq(corio_tls_stream_alpn(s), "http/1.1");
	cr_assert_eq(corio_stream_write(s, "hello tls\n", 10), 10);
	const char *line;
	cr_assert_eq(corio_stream_readline(s, &line), 10);
	cr_expect_eq(memcmp(line, "hello tls\n", 10), 0);
	cr_expect_eq(corio_stream_read(s, (char[4]){0}, 4), 0, "close_notify: a clean end");
	cr_expect_eq(corio_stream_close(s), 0);
	srv_end(&v, t);
	cr_expect_eq(v.hs_err, 0);
	cr_expect_eq(v.result, 0);
	corio_tls_ctx_free(c);
	return NULL;
}

Test(tls, handshake_tls13_then_readline_and_clean_end)
{
	struct vcase vc = {0x0304};
	t_run(handshake_versions, &vc, NULL);
}

Test(tls, handshake_tls12_then_readline_and_clean_end)
{
	struct vcase vc = {0x0303};
	t_run(handshake_versions, &vc, NULL);
}

static void *by_ip_literal(void *arg)
{
	(void)arg;
	struct srv v = {.fn = echo_line};
	int port;
	corio_task *t = srv_start(&v, certs.cert, 0, &port);
	corio_tls_ctx *c = client_ctx();
	corio_stream *s = NULL;
	cr_assert_eq(corio_tls_stream_new(&s, dial(port), c, "127.0.0.1"), 0);
	cr_assert_eq(corio_stream_write(s, "x\n", 2), 2);
	const char *line;
	cr_expect_eq(corio_stream_readline(s, &line), 2);
	corio_stream_close(s);
	srv_end(&v, t);
	corio_tls_ctx_free(c);
	return NULL;
}

Test(tls, ip_literal_is_checked_against_ip_san)
{
	t_run(by_ip_literal, NULL, NULL);
}

/* ---- verification failures ------------------------------------------- */

struct fcase {
	const char *cert;
	const char *name;
	int want;
};

static void *verify_fails(void *arg)
{
	const struct fcase *fc = arg;
	struct srv v = {0};
	int port;
	corio_task *t = srv_start(&v, fc->cert, 0, &port);
	corio_tls_ctx *c = client_ctx();
	corio_stream *s = NULL;
	int err = corio_tls_stream_new(&s, dial(port), c, fc->name);
	cr_expect_eq(err, fc->want, "got %d (%s), want %d", err, corio_strerror(err), fc->want);
	cr_expect_null(s);
	cr_expect(strchr(corio_strerror(err), '('), "OpenSSL's reason: %s", corio_strerror(err));
	srv_end(&v, t);
	cr_expect_eq(v.hs_err, CORIO_ETLS_HANDSHAKE, "server: %d", v.hs_err);
	corio_tls_ctx_free(c);
	return NULL;
}

Test(tls, unknown_ca_fails_with_cert_error)
{
	struct fcase fc = {certs.selfsigned, "localhost", CORIO_ETLS_CERT};
	t_run(verify_fails, &fc, NULL);
}

Test(tls, expired_certificate_fails_with_expired_error)
{
	struct fcase fc = {certs.expired, "localhost", CORIO_ETLS_EXPIRED};
	t_run(verify_fails, &fc, NULL);
}

Test(tls, wrong_host_name_fails_with_hostname_error)
{
	struct fcase fc = {certs.other, "localhost", CORIO_ETLS_HOSTNAME};
	t_run(verify_fails, &fc, NULL);
}

Test(tls, contexts_refuse_bad_files_and_options)
{
	corio_tls_ctx *c = NULL;
	corio_tls_options o = {.server = 1, .cert_file = "/nonexistent", .key_file = certs.key};
	cr_expect_eq(corio_tls_ctx_new(&c, &o), CORIO_ETLS_CONFIG);
	o.cert_file = certs.ca; /* not the key's certificate */
	cr_expect_eq(corio_tls_ctx_new(&c, &o), CORIO_ETLS_CONFIG);
	o = (corio_tls_options){.server = 1};
	cr_expect_eq(corio_tls_ctx_new(&c, &o), -EINVAL);
	o = (corio_tls_options){.max_version = 0x0302};
	cr_expect_eq(corio_tls_ctx_new(&c, &o), -EINVAL);
	cr_expect_null(c);
	cr_expect_str_eq(corio_strerror(CORIO_ETLS_TRUNCATED),
			 "TLS connection closed without close_notify");
}

/* ---- 16 MiB each way -------------------------------------------------- */

#define BULK ((size_t)16 << 20)

static int echo_all(corio_stream *s, struct srv *v)
{
	static char buf[65536]; /* one server per test */
	size_t total = 0;
	for (;;) {
		ssize_t n = corio_stream_read(s, buf, sizeof(buf));
		if (n <= 0)
			return n < 0 ? (int)n : (total == v->n ? 0 : -EIO);
		total += (size_t)n;
		if (corio_stream_write(s, buf, (size_t)n) != n)
			return -EIO;
	}
}

struct sender {
	corio_stream *s;
	const unsigned char *p;
	size_t n;
	int err;
};

static void *send_all(void *arg)
{
	struct sender *w = arg;
	for (size_t off = 0; off < w->n && !w->err;) {
		size_t k = w->n - off < 100000 ? w->n - off : 100000; /* odd sizes: partial records */
		ssize_t r = corio_stream_write(w->s, w->p + off, k);
		if (r < 0)
			w->err = (int)r;
		off += k;
	}
	if (!w->err)
		w->err = corio_stream_shutdown(w->s); /* close_notify, then FIN */
	return NULL;
}

static void *bulk_echo(void *arg)
{
	(void)arg;
	struct srv v = {.fn = echo_all, .n = BULK};
	int port;
	corio_task *t = srv_start(&v, certs.cert, 0, &port);
	corio_tls_ctx *c = client_ctx();
	corio_stream *s = NULL;
	cr_assert_eq(corio_tls_stream_new(&s, dial(port), c, "localhost"), 0);
	unsigned char *data = random_bytes(BULK), *back = malloc(BULK);
	struct sender w = {.s = s, .p = data, .n = BULK};
	corio_task *wt;
	cr_assert_eq(corio_spawn(&wt, send_all, &w), 0);
	size_t got = 0;
	while (got < BULK) {
		ssize_t n = corio_stream_read(s, back + got, BULK - got < 70000 ? BULK - got : 70000);
		cr_assert_gt(n, 0, "read: %zd (%s) at %zu", n, corio_strerror((int)n), got);
		got += (size_t)n;
	}
	cr_expect_eq(corio_stream_read(s, back, 1), 0);
	corio_join(wt, NULL);
	cr_expect_eq(w.err, 0);
	cr_expect_eq(fnv(14695981039346656037ull, data, BULK), fnv(14695981039346656037ull, back, BULK));
	corio_stream_close(s);
	srv_end(&v, t);
	cr_expect_eq(v.result, 0, "server: %d", v.result);
	free(data);
	free(back);
	corio_tls_ctx_free(c);
	return NULL;
}

Test(tls, sixteen_mib_each_way_through_corio_echo_server)
{
	t_run(bulk_echo, NULL, NULL);
}

/* ---- truncation and close_notify -------------------------------------- */

static int hello_then_cut(corio_stream *s, struct srv *v)
{
	(void)v;
	corio_stream_write(s, "hello", 5);
	int err = corio_stream_flush(s);
	/* the FIN without close_notify: what a truncation attack looks like */
	shutdown(corio_stream_fd(s), SHUT_WR);
	return err;
}

static void *truncated(void *arg)
{
	(void)arg;
	struct srv v = {.fn = hello_then_cut};
	int port;
	corio_task *t = srv_start(&v, certs.cert, 0, &port);
	corio_tls_ctx *c = client_ctx();
	corio_stream *s = NULL;
	cr_assert_eq(corio_tls_stream_new(&s, dial(port), c, "localhost"), 0);
	char buf[5];
	cr_expect_eq(corio_stream_read_exactly(s, buf, 5), 5);
	cr_expect_eq(memcmp(buf, "hello", 5), 0);
	ssize_t n = corio_stream_read(s, buf, 5);
	cr_expect_eq(n, CORIO_ETLS_TRUNCATED, "got %zd", n);
	corio_stream_close(s);
	srv_end(&v, t);
	corio_tls_ctx_free(c);
	return NULL;
}

Test(tls, peer_closing_without_close_notify_reports_truncation)
{
	t_run(truncated, NULL, NULL);
}

/* ---- cancellation and timeouts ----------------------------------------- */

/* A server that accepts, takes the ClientHello and never answers. */
struct silent {
	int lfd;
	corio_event got_hello;
};

static void *silent_main(void *arg)
{
	struct silent *z = arg;
	int fd = corio_accept(z->lfd, NULL, NULL);
	char buf[4096];
	if (fd >= 0 && corio_recv(fd, buf, sizeof(buf), 0) > 0)
		corio_event_set(&z->got_hello);
	corio_recv(fd, buf, sizeof(buf), 0); /* until the client leaves */
	corio_close(fd);
	return NULL;
}

struct hs_client {
	int port;
	corio_tls_ctx *ctx;
	int err;
};

static void *hs_client_main(void *arg)
{
	struct hs_client *h = arg;
	corio_stream *s = NULL;
	h->err = corio_tls_stream_new(&s, dial(h->port), h->ctx, "localhost");
	if (!h->err)
		corio_stream_close(s);
	return NULL;
}

static void *cancel_handshake(void *arg)
{
	int mode = *(int *)arg; /* 0: cancel, 1: handshake timeout, 2: caller's scope */
	struct silent z = {0};
	int port;
	z.lfd = listen_any(&port);
	corio_task *st, *ct;
	cr_assert_eq(corio_spawn(&st, silent_main, &z), 0);
	corio_tls_options o = {.ca_file = certs.ca,
			       .handshake_timeout_ns = mode == 1 ? 100 * MS : 0};
	struct hs_client h = {.port = port};
	cr_assert_eq(corio_tls_ctx_new(&h.ctx, &o), 0);
	if (mode == 2) {
		corio_scope sc;
		uint64_t t0 = corio_now();
		corio_timeout_push(&sc, t0 + 100 * MS);
		hs_client_main(&h);
		corio_timeout_pop(&sc);
		cr_expect_eq(h.err, -ETIMEDOUT);
	} else {
		cr_assert_eq(corio_spawn(&ct, hs_client_main, &h), 0);
		cr_assert_eq(corio_event_wait(&z.got_hello), 0);
		if (mode == 0)
			corio_cancel(ct);
		corio_join(ct, NULL);
		cr_expect_eq(h.err, mode == 0 ? -ECANCELED : -ETIMEDOUT, "got %d", h.err);
	}
	corio_join(st, NULL);
	corio_close(z.lfd);
	corio_tls_ctx_free(h.ctx);
	return NULL;
}

Test(tls, cancel_mid_handshake_against_a_silent_server)
{
	int mode = 0;
	t_run(cancel_handshake, &mode, NULL);
}

Test(tls, handshake_timeout_against_a_silent_server)
{
	int mode = 1;
	t_run(cancel_handshake, &mode, NULL);
}

Test(tls, callers_timeout_scope_reaches_the_handshake)
{
	int mode = 2;
	t_run(cancel_handshake, &mode, NULL);
}

/* The server sends v->n bytes, then waits for the client to go. */
static int send_then_wait(corio_stream *s, struct srv *v)
{
	unsigned char *p = random_bytes(v->n);
	ssize_t w = corio_stream_write(s, p, v->n);
	free(p);
	if (w < 0)
		return (int)w;
	char c;
	corio_stream_read(s, &c, 1); /* the client's close */
	return 0;
}

struct reader {
	corio_stream *s;
	size_t want;
	corio_event got;
	int err;
};

static void *read_forever(void *arg)
{
	struct reader *r = arg;
	static char buf[32768];
	size_t total = 0;
	for (;;) {
		ssize_t n = corio_stream_read(r->s, buf, sizeof(buf));
		if (n <= 0) {
			r->err = (int)n;
			return NULL;
		}
		total += (size_t)n;
		if (total >= r->want)
			corio_event_set(&r->got);
	}
}

static void *cancel_transfer(void *arg)
{
	int mode = *(int *)arg; /* 0: cancel, 1: timeout scope */
	struct srv v = {.fn = send_then_wait, .n = 4 << 20};
	int port;
	corio_task *t = srv_start(&v, certs.cert, 0, &port);
	corio_tls_ctx *c = client_ctx();
	struct reader r = {.want = v.n};
	cr_assert_eq(corio_tls_stream_new(&r.s, dial(port), c, "localhost"), 0);
	if (mode == 0) {
		corio_task *rt;
		cr_assert_eq(corio_spawn(&rt, read_forever, &r), 0);
		cr_assert_eq(corio_event_wait(&r.got), 0);
		corio_cancel(rt);
		corio_join(rt, NULL);
		cr_expect_eq(r.err, -ECANCELED);
	} else {
		corio_scope sc;
		corio_timeout_push(&sc, corio_now() + 2000 * MS);
		read_forever(&r);
		corio_timeout_pop(&sc);
		cr_expect_eq(r.err, -ETIMEDOUT);
		cr_expect(corio_event_is_set(&r.got));
	}
	corio_stream_close(r.s);
	srv_end(&v, t);
	corio_tls_ctx_free(c);
	return NULL;
}

Test(tls, cancel_mid_transfer_leaves_nothing_behind)
{
	int mode = 0;
	t_run(cancel_transfer, &mode, NULL);
}

Test(tls, timeout_mid_transfer)
{
	int mode = 1;
	t_run(cancel_transfer, &mode, NULL);
}

/* ---- session resumption ---------------------------------------------- */

static int echo_lines(corio_stream *s, struct srv *v)
{
	(void)v;
	const char *line;
	ssize_t n;
	while ((n = corio_stream_readline(s, &line)) > 0)
		if (corio_stream_write(s, line, (size_t)n) != n)
			return -EIO;
	return (int)n;
}

struct multi {
	int lfd;
	corio_tls_ctx *ctx;
	int conns;
	int (*fn)(corio_stream *s, struct srv *v);
};

static void *multi_conn(void *arg)
{
	corio_conn *k = arg;
	struct multi *m = k->arg;
	if (corio_tls_stream_upgrade(k->stream, m->ctx, NULL) == 0)
		m->fn(k->stream, NULL);
	return NULL;
}

static void *multi_main(void *arg)
{
	struct multi *m = arg;
	corio_serve_options o = {.arg = m};
	corio_serve(m->lfd, multi_conn, &o);
	return NULL;
}

static int one_exchange(corio_tls_ctx *c, int port, int *resumed)
{
	corio_stream *s = NULL;
	int err = corio_tls_stream_new(&s, dial(port), c, "localhost");
	if (err)
		return err;
	const char *line;
	if (corio_stream_write(s, "ping\n", 5) != 5 || corio_stream_readline(s, &line) != 5)
		err = -EIO;
	if (resumed)
		*resumed = corio_tls_stream_resumed(s);
	corio_stream_close(s);
	return err;
}

static void *resume(void *arg)
{
	int maxv = *(int *)arg;
	struct multi m = {.fn = echo_lines};
	int port;
	m.lfd = listen_any(&port);
	m.ctx = server_ctx(certs.cert, maxv);
	corio_task *st;
	cr_assert_eq(corio_spawn(&st, multi_main, &m), 0);
	corio_tls_ctx *c = client_ctx();
	int r1 = -1, r2 = -1;
	cr_assert_eq(one_exchange(c, port, &r1), 0);
	cr_assert_eq(one_exchange(c, port, &r2), 0);
	cr_expect_eq(r1, 0);
	cr_expect_eq(r2, 1, "the second connection resumes the first's session");
	corio_cancel(st);
	corio_join(st, NULL);
	corio_close(m.lfd);
	corio_tls_ctx_free(m.ctx);
	corio_tls_ctx_free(c);
	return NULL;
}

Test(tls, second_connection_resumes_the_session_tls13)
{
	int v = 0x0304;
	t_run(resume, &v, NULL);
}

Test(tls, second_connection_resumes_the_session_tls12)
{
	int v = 0x0303;
	t_run(resume, &v, NULL);
}

/* ---- 1 000 concurrent clients ------------------------------------------ */

#define CLIENTS 1000

struct crowd {
	corio_tls_ctx *c;
	int port;
	int ok;
	int first_err;
};

static void *crowd_client(void *arg)
{
	struct crowd *w = arg;
	int err = one_exchange(w->c, w->port, NULL);
	if (!err)
		w->ok++;
	else if (!w->first_err)
		w->first_err = err;
	return NULL;
}

static void *thousand(void *arg)
{
	(void)arg;
	struct multi m = {.fn = echo_lines};
	int port;
	m.lfd = corio_tcp_listen("127.0.0.1", "0", 4096, 0);
	cr_assert_geq(m.lfd, 0);
	port = corio_sock_port(m.lfd);
	m.ctx = server_ctx(certs.cert, 0);
	corio_task *st;
	cr_assert_eq(corio_spawn(&st, multi_main, &m), 0);
	struct crowd w = {.c = client_ctx(), .port = port};
	corio_group *g;
	cr_assert_eq(corio_group_new(&g), 0);
	for (int i = 0; i < CLIENTS; i++)
		cr_assert_eq(corio_group_spawn(g, NULL, crowd_client, &w), 0);
	cr_expect_eq(corio_group_wait(g), 0);
	corio_group_free(g);
	cr_expect_eq(w.ok, CLIENTS, "%d ok, first error %d (%s)", w.ok, w.first_err,
		     corio_strerror(w.first_err));
	corio_cancel(st);
	corio_join(st, NULL);
	corio_close(m.lfd);
	corio_tls_ctx_free(m.ctx);
	corio_tls_ctx_free(w.c);
	return NULL;
}

Test(tls, thousand_concurrent_clients_against_corio_server)
{
	t_run(thousand, NULL, NULL);
}

/* ---- openssl s_server -------------------------------------------------- */

struct scase {
	const char *flag; /* "-tls1_2" or "-tls1_3" */
	int version;
};

static void *against_s_server(void *arg)
{
	const struct scase *sc = arg;
	size_t n = 1 << 20;
	unsigned char *data = random_bytes(n);
	char path[128];
	snprintf(path, sizeof(path), "%s/file.bin", certs.dir);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	cr_assert_eq(fwrite(data, 1, n, f), n);
	fclose(f);
	struct t_sserver srv;
	const char *extra[] = {sc->flag, "-WWW", NULL};
	int err = t_sserver_start(&srv, certs.cert, certs.key, certs.dir, extra);
	cr_assert_eq(err, 0, "s_server: %d", err);
	corio_tls_ctx *c = client_ctx();
	corio_stream *s = NULL;
	err = corio_tls_stream_new(&s, dial(srv.port), c, "localhost");
	cr_assert_eq(err, 0, "%s", corio_strerror(err));
	cr_expect_eq(corio_tls_stream_version(s), sc->version);
	const char req[] = "GET /file.bin HTTP/1.0\r\n\r\n";
	cr_assert_eq(corio_stream_write(s, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	const char *line;
	ssize_t k;
	while ((k = corio_stream_readline(s, &line)) > 2) /* the head, to its blank line */
		;
	cr_assert_eq(k, 2);
	unsigned char *back = malloc(n);
	cr_assert_eq(corio_stream_read_exactly(s, back, n), (ssize_t)n);
	cr_expect_eq(memcmp(back, data, n), 0);
	corio_stream_close(s);
	t_sserver_stop(&srv);
	corio_tls_ctx_free(c);
	free(data);
	free(back);
	return NULL;
}

Test(tls, s_server_tls13_handshake_and_download)
{
	struct scase sc = {"-tls1_3", 0x0304};
	t_run(against_s_server, &sc, NULL);
}

Test(tls, s_server_tls12_handshake_and_download)
{
	struct scase sc = {"-tls1_2", 0x0303};
	t_run(against_s_server, &sc, NULL);
}

/* ---- nginx and the HTTP layer ------------------------------------------ */

static int nginx_tls(struct t_nginx *n, const char *protocols)
{
	struct t_nginx_options o = {.tls_cert = certs.cert, .tls_key = certs.key,
				    .tls_protocols = protocols};
	int err = t_nginx_start(n, &o);
	if (err == -ENOENT)
		cr_skip_test("nginx is not installed");
	cr_assert_eq(err, 0, "nginx: %d", err);
	return n->port;
}

static void *nginx_handshake(void *arg)
{
	const struct scase *sc = arg;
	struct t_nginx n;
	int port = nginx_tls(&n, sc->flag);
	cr_assert_eq(t_nginx_put(&n, "hi.txt", "hello\n", 6), 0);
	corio_tls_ctx *c = client_ctx();
	corio_stream *s = NULL;
	int err = corio_tls_stream_new(&s, dial(port), c, "localhost");
	cr_assert_eq(err, 0, "%s", corio_strerror(err));
	cr_expect_eq(corio_tls_stream_version(s), sc->version);
	cr_expect_str_eq(corio_tls_stream_alpn(s), "http/1.1");
	const char req[] = "GET /hi.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	cr_assert_eq(corio_stream_write(s, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	const char *line;
	cr_assert_gt(corio_stream_readline(s, &line), 0);
	cr_expect_eq(strncmp(line, "HTTP/1.1 200", 12), 0);
	ssize_t k;
	while ((k = corio_stream_readline(s, &line)) > 2)
		;
	char body[6];
	cr_assert_eq(corio_stream_read_exactly(s, body, 6), 6);
	cr_expect_eq(memcmp(body, "hello\n", 6), 0);
	cr_expect_eq(corio_stream_read(s, body, 1), 0, "nginx ends with close_notify");
	corio_stream_close(s);
	corio_tls_ctx_free(c);
	t_nginx_stop(&n);
	return NULL;
}

Test(tls, nginx_tls13_handshake)
{
	struct scase sc = {"TLSv1.3", 0x0304};
	t_run(nginx_handshake, &sc, NULL);
}

Test(tls, nginx_tls12_handshake)
{
	struct scase sc = {"TLSv1.2", 0x0303};
	t_run(nginx_handshake, &sc, NULL);
}

static uint64_t body_sum(corio_http_response *r, size_t *len)
{
	static unsigned char buf[65536];
	uint64_t h = 14695981039346656037ull;
	*len = 0;
	ssize_t n;
	while ((n = corio_http_response_read(r, buf, sizeof(buf))) > 0) {
		h = fnv(h, buf, (size_t)n);
		*len += (size_t)n;
	}
	cr_expect_eq(n, 0, "body: %zd (%s)", n, corio_strerror((int)n));
	return h;
}

static void *https_download(void *arg)
{
	(void)arg;
	struct t_nginx n;
	nginx_tls(&n, NULL);
	unsigned char *data = random_bytes(BULK);
	cr_assert_eq(t_nginx_put(&n, "big.bin", data, BULK), 0);
	corio_http_client_options o = {.tls = client_ctx()};
	corio_http_client *hc;
	cr_assert_eq(corio_http_client_new(&hc, &o), 0);
	char url[128];
	snprintf(url, sizeof(url), "https://localhost:%d/big.bin", n.port);
	for (int i = 0; i < 2; i++) { /* the second one on the pooled connection */
		corio_http_response *r = NULL;
		int err = corio_http_get(hc, url, &r);
		cr_assert_eq(err, 0, "%s", corio_strerror(err));
		cr_expect_eq(corio_http_response_status(r), 200);
		size_t len;
		uint64_t h = body_sum(r, &len);
		cr_expect_eq(len, BULK);
		cr_expect_eq(h, fnv(14695981039346656037ull, data, BULK));
		corio_http_response_free(r);
	}
	corio_http_client_free(hc);
	/* the default context trusts the system's roots, not our test CA */
	cr_assert_eq(corio_http_client_new(&hc, NULL), 0);
	corio_http_response *r = NULL;
	int err = corio_http_get(hc, url, &r);
	cr_expect_eq(err, CORIO_ETLS_CERT, "%d %s", err, corio_strerror(err));
	corio_http_client_free(hc);
	corio_tls_ctx_free(o.tls);
	t_nginx_stop(&n);
	free(data);
	return NULL;
}

Test(tls, http_client_downloads_16mib_over_https_from_nginx)
{
	t_run(https_download, NULL, NULL);
}

/* corio_http_serve with TLS: an upload's checksum, and "hello". */
static int sum_handler(corio_http_request *req, void *arg)
{
	(void)arg;
	static unsigned char buf[65536];
	uint64_t h = 14695981039346656037ull;
	size_t len = 0;
	ssize_t n;
	while ((n = corio_http_request_read(req, buf, sizeof(buf))) > 0) {
		h = fnv(h, buf, (size_t)n);
		len += (size_t)n;
	}
	if (n < 0)
		return (int)n;
	char out[64];
	int k = snprintf(out, sizeof(out), "%zu %016llx\n", len, (unsigned long long)h);
	return corio_http_respond(req, 200, "text/plain", out, (size_t)k);
}

struct hsrv {
	int lfd, port;
	corio_http_serve_options o;
};

static void *hsrv_main(void *arg)
{
	struct hsrv *h = arg;
	corio_http_serve(h->lfd, sum_handler, NULL, &h->o);
	return NULL;
}

static corio_task *hsrv_start(struct hsrv *h)
{
	h->lfd = listen_any(&h->port);
	h->o.tls = server_ctx(certs.cert, 0);
	h->o.max_body = 64 << 20;
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, hsrv_main, h), 0);
	return t;
}

static void hsrv_stop(struct hsrv *h, corio_task *t)
{
	corio_cancel(t);
	corio_join(t, NULL);
	corio_close(h->lfd);
	corio_tls_ctx_free(h->o.tls);
}

static void *https_upload(void *arg)
{
	(void)arg;
	struct hsrv h = {0};
	corio_task *t = hsrv_start(&h);
	unsigned char *data = random_bytes(BULK);
	corio_http_client_options o = {.tls = client_ctx()};
	corio_http_client *hc;
	cr_assert_eq(corio_http_client_new(&hc, &o), 0);
	char url[128], want[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/up", h.port);
	snprintf(want, sizeof(want), "%zu %016llx\n", BULK,
		 (unsigned long long)fnv(14695981039346656037ull, data, BULK));
	corio_http_response *r = NULL;
	int err = corio_http_fetch(hc, "POST", url, NULL, data, BULK, &r);
	cr_assert_eq(err, 0, "%s", corio_strerror(err));
	cr_expect_eq(corio_http_response_status(r), 200);
	char got[64] = {0};
	cr_expect_gt(corio_http_response_read(r, got, sizeof(got) - 1), 0);
	cr_expect_str_eq(got, want);
	corio_http_response_free(r);
	corio_http_client_free(hc);
	corio_tls_ctx_free(o.tls);
	hsrv_stop(&h, t);
	free(data);
	return NULL;
}

Test(tls, http_client_uploads_16mib_to_corio_https_server)
{
	t_run(https_upload, NULL, NULL);
}

static void *curl_https(void *arg)
{
	(void)arg;
	const char *curl = t_curl_path();
	if (!curl)
		cr_skip_test("curl is not installed");
	struct hsrv h = {0};
	corio_task *t = hsrv_start(&h);
	char url[128], out_path[128];
	snprintf(url, sizeof(url), "https://localhost:%d/", h.port);
	snprintf(out_path, sizeof(out_path), "%s/curl.out", certs.dir);
	int fd = open(out_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	char *argv[] = {(char *)curl, "-sS", "--cacert", certs.ca, "--data-binary", "abc",
			"--max-time", "10", url, url, NULL};
	corio_process_options po = {.stdio = {CORIO_STDIO_DEVNULL, CORIO_STDIO_FD,
					      CORIO_STDIO_INHERIT},
				    .stdio_fd = {-1, fd, -1}};
	corio_process *p;
	cr_assert_eq(corio_process_spawn(&p, argv, &po), 0);
	int st = -1;
	cr_assert_eq(corio_process_wait(p, &st), 0);
	corio_process_free(p);
	cr_expect_eq(st, 0, "curl exit status %d", st);
	char got[256] = {0};
	cr_assert_geq(pread(fd, got, sizeof(got) - 1, 0), 0);
	close(fd);
	char want[128];
	uint64_t s = fnv(14695981039346656037ull, (const unsigned char *)"abc", 3);
	snprintf(want, sizeof(want), "3 %016llx\n3 %016llx\n", (unsigned long long)s,
		 (unsigned long long)s);
	cr_expect_str_eq(got, want);
	hsrv_stop(&h, t);
	return NULL;
}

Test(tls, corio_http_serve_with_tls_answers_curl_with_cacert)
{
	t_run(curl_https, NULL, NULL);
}

/* Connection: close over TLS, one request per connection: each answer
 * must arrive whole, then close_notify.  The answer is queued while the
 * server's session tickets are still in the kernel, so it was still
 * plaintext when the close queued close_notify, and was dropped. */
static void *close_per_request(void *arg)
{
	(void)arg;
	struct hsrv h = {0};
	corio_task *t = hsrv_start(&h);
	corio_tls_ctx *c = client_ctx();
	static const char req[] = "GET /hello HTTP/1.1\r\nHost: localhost\r\n"
				  "Connection: close\r\n\r\n";
	char want[64];
	snprintf(want, sizeof(want), "\r\n\r\n0 %016llx\n",
		 (unsigned long long)fnv(14695981039346656037ull, NULL, 0));
	int failed = 0;
	for (int i = 0; i < 200; i++) {
		corio_stream *s = NULL;
		cr_assert_eq(corio_tls_stream_new(&s, dial(h.port), c, "localhost"), 0);
		cr_assert_eq(corio_stream_write(s, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
		cr_assert_eq(corio_stream_flush(s), 0);
		char got[1024];
		size_t len = 0;
		ssize_t n;
		while (len < sizeof(got) - 1 &&
		       (n = corio_stream_read(s, got + len, sizeof(got) - 1 - len)) > 0)
			len += (size_t)n;
		got[len] = 0;
		bool ok = n == 0 && !strncmp(got, "HTTP/1.1 200 ", 13) &&
			  len >= strlen(want) && !strcmp(got + len - strlen(want), want);
		if (!ok && failed++ < 3)
			cr_log_error("request %d: end %zd (%s), %zu bytes: %s", i, n,
				     corio_strerror((int)n), len, got);
		corio_stream_close(s);
	}
	cr_expect_eq(failed, 0, "%d of 200 requests failed", failed);
	corio_tls_ctx_free(c);
	hsrv_stop(&h, t);
	return NULL;
}

Test(tls, connection_close_over_tls_gets_the_whole_answer_then_close_notify)
{
	t_run(close_per_request, NULL, NULL);
}
