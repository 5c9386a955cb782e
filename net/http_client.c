/* SPDX-License-Identifier: MIT */
/*
 * http_client.c - the HTTP/1.1 client (corio/http.h): requests over a
 * keep-alive pool of streams per origin, at most max_per_origin in flight
 * to one origin (a FIFO semaphore each), response heads parsed as they
 * arrive (resumed, never rescanned) and copied once into the response,
 * bodies read through the parser's decoder (http_body.c), redirects
 * followed, and a request that finds its pooled connection closed by the
 * server retried once on a fresh one.  The connection is a corio_stream,
 * so TLS (DESIGN section 11) slots in at conn_open().
 *
 *   fetch ──► origin_get ──► permit (sem) ──► pool_take / conn_open
 *     ▲                                              │
 *     │ redirect: drain, resolve Location      send_request, read_head
 *     └──────────────────────────────────────────────┤
 *   response_free: body at its end + keep-alive ──► pool_put, else close
 */
#include "http_client_int.h"
#include "http_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_PER_ORIGIN 8
#define DEFAULT_REDIRECTS 5
#define DEFAULT_CONNECT_NS (30ull * 1000000000)
#define DEFAULT_READ_NS (60ull * 1000000000)
#define DEFAULT_IDLE_NS (30ull * 1000000000)
#define DEFAULT_UA "corio/0.1"
#define HEAD_FIELDS 100                /* header lines kept per response */
#define MAX_INTERIM 16                 /* 1xx answers before the real one */
#define DRAIN_MAX ((uint64_t)64 << 10) /* a redirect's body read to reuse */

/* A connection: in a response while in use, else on its origin's stack. */
struct conn {
	struct conn *next;   /* on origin.idle */
	corio_stream *s;     /* owns the socket (a TLS stream, later) */
	uint64_t idle_since; /* loop time it went back to the pool */
};

/* Everything requests to one scheme://host:port share. */
struct origin {
	struct origin *next;   /* on client.origins */
	bool https;
	char host[CORIO__URL_HOST_MAX + 1];
	char port[6];
	corio_sem permits;     /* max_per_origin: requests in flight */
	struct conn *idle;     /* idle connections, the most recent first */
};

struct corio_http_client {
	corio_http_client_options o;  /* defaults filled in */
	struct corio__http_limits lim; /* parser limits (defaults) */
	struct origin *origins;
	corio_http_response *spare;   /* freed responses, reused */
	corio_tls_ctx *own_tls;       /* the default https context, made on first use */
	unsigned live;                /* responses handed out, not yet freed */
};

struct corio_http_response {
	corio_http_client *c;
	struct origin *o;       /* holds one of its permits while set */
	struct conn *conn;      /* the connection the body comes from */
	corio_http_response *next_spare;
	int status;
	int64_t length;         /* Content-Length, -1 if unknown */
	bool keep_alive;        /* the connection may carry another request */
	struct corio__http_reader body;
	char *head;             /* a copy of the head: fields point into it */
	size_t head_cap;
	size_t nfields;
	struct corio__http_header fields[HEAD_FIELDS];
};

/* ---- connections and origins ------------------------------------------ */

static void conn_close(struct conn *k)
{
	if (!k)
		return;
	corio_stream_close(k->s);
	free(k);
}

static corio_tls_ctx *tls_ctx(corio_http_client *c, int *err)
{
	static const corio_tls_options client;
	if (c->o.tls)
		return c->o.tls;
	if (!c->own_tls)
		*err = corio_tls_ctx_new(&c->own_tls, &client);
	return c->own_tls;
}

/* The TLS handshake, under the connect timeout. */
static int conn_tls(corio_http_client *c, struct origin *o, struct conn *k)
{
	int err = 0;
	corio_tls_ctx *ctx = tls_ctx(c, &err);
	if (err)
		return err;
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + c->o.connect_timeout_ns);
	err = corio_tls_stream_upgrade(k->s, ctx, o->host);
	corio_timeout_pop(&sc);
	return err;
}

static int conn_open(corio_http_client *c, struct origin *o, struct conn **out)
{
	struct conn *k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + c->o.connect_timeout_ns);
	int fd = corio_tcp_connect(o->host, o->port);
	corio_timeout_pop(&sc);
	if (fd < 0) {
		free(k);
		return fd;
	}
	corio_stream_options so = {.read_timeout_ns = c->o.read_timeout_ns,
				   .idle_timeout_ns = c->o.read_timeout_ns};
	int err = corio_stream_new(&k->s, fd, &so);
	if (err) {
		corio_close(fd);
		free(k);
		return err;
	}
	if (o->https && (err = conn_tls(c, o, k))) {
		conn_close(k);
		return err;
	}
	*out = k;
	return 0;
}

/* A pooled connection the server has closed (or sent unasked-for bytes
 * on) is dropped here when the stream already knows; otherwise the first
 * request on it finds out, and is retried (fetch_on). */
static bool conn_usable(const corio_http_client *c, const struct conn *k, uint64_t now)
{
	const corio_stream *s = k->s;
	if (s->x && (s->xeof || s->xerr || s->x->in_pending(s)))
		return false; /* TLS: the server's close_notify or alert waits there */
	return !s->eof && !s->rerr && !s->werr && !corio_stream_buffered(s) &&
	       now - k->idle_since < c->o.idle_timeout_ns;
}

static struct conn *pool_take(corio_http_client *c, struct origin *o)
{
	uint64_t now = corio_now();
	while (o->idle) {
		struct conn *k = o->idle;
		o->idle = k->next;
		if (conn_usable(c, k, now))
			return k;
		conn_close(k);
	}
	return NULL;
}

static void pool_put(struct origin *o, struct conn *k)
{
	k->idle_since = corio_now();
	k->next = o->idle;
	o->idle = k;
}

static struct origin *origin_get(corio_http_client *c, const struct corio__url *u)
{
	for (struct origin *o = c->origins; o; o = o->next)
		if (o->https == u->https && !strcmp(o->port, u->port) && !strcmp(o->host, u->host))
			return o;
	struct origin *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->https = u->https;
	memcpy(o->host, u->host, sizeof(o->host));
	memcpy(o->port, u->port, sizeof(o->port));
	corio_sem_init(&o->permits, c->o.max_per_origin, 0);
	o->next = c->origins;
	c->origins = o;
	return o;
}

/* ---- the request ------------------------------------------------------ */

/* Pieces of a request gathered for one writev (flushed early if many). */
struct out {
	corio_stream *s;
	struct iovec v[48];
	int n;
	int err;
};

static void put(struct out *w, const char *p, size_t n)
{
	if (w->err || !n)
		return;
	w->v[w->n++] = (struct iovec){.iov_base = (void *)p, .iov_len = n};
	if (w->n == (int)(sizeof(w->v) / sizeof(w->v[0]))) {
		ssize_t k = corio_stream_writev(w->s, w->v, w->n);
		w->err = k < 0 ? (int)k : 0;
		w->n = 0;
	}
}

static void puts_(struct out *w, const char *s)
{
	put(w, s, strlen(s));
}

static int out_end(struct out *w)
{
	if (!w->err && w->n) {
		ssize_t k = corio_stream_writev(w->s, w->v, w->n);
		w->err = k < 0 ? (int)k : 0;
	}
	return w->err;
}

/* What one request carries (it changes along redirects). */
struct req {
	const char *method;
	const struct corio__url *u;
	const char *const *headers;
	const void *body;
	size_t len;
	bool strip_credentials; /* redirected to another origin */
	bool has_ua;            /* the caller sent a User-Agent */
};

static bool header_is(const char *line, const char *name)
{
	size_t n = strlen(name);
	return !strncasecmp(line, name, n) && line[n] == ':';
}

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A caller's header line: "Name: value", a token name, no control bytes
 * but HTAB in the value, and none of the fields whose framing is ours. */
static bool header_ok(const char *line)
{
	const char *p = line;
	while (is_tchar(*p))
		p++;
	if (p == line || *p != ':')
		return false;
	for (p++; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return !header_is(line, "Host") && !header_is(line, "Content-Length") &&
	       !header_is(line, "Transfer-Encoding") && !header_is(line, "Connection");
}

static bool method_ok(const char *m)
{
	size_t n = 0;
	while (is_tchar(m[n]))
		n++;
	return n && !m[n] && n <= CORIO__HTTP_METHOD_MAX;
}

static int send_request(corio_http_client *c, corio_stream *s, const struct req *q)
{
	struct out w = {.s = s};
	const struct corio__url *u = q->u;
	char clen[40];
	puts_(&w, q->method);
	put(&w, " /", q->u->target_slash ? 2 : 1);
	put(&w, u->target, u->target_len);
	puts_(&w, u->ipv6 ? " HTTP/1.1\r\nHost: [" : " HTTP/1.1\r\nHost: ");
	puts_(&w, u->host);
	if (u->ipv6)
		put(&w, "]", 1);
	if (!u->default_port) {
		put(&w, ":", 1);
		puts_(&w, u->port);
	}
	if (!q->has_ua) {
		puts_(&w, "\r\nUser-Agent: ");
		puts_(&w, c->o.user_agent);
	}
	put(&w, "\r\n", 2);
	for (const char *const *h = q->headers; h && *h; h++) {
		if (q->strip_credentials &&
		    (header_is(*h, "Authorization") || header_is(*h, "Cookie") ||
		     header_is(*h, "Proxy-Authorization")))
			continue;
		puts_(&w, *h);
		put(&w, "\r\n", 2);
	}
	if (q->len || !strcmp(q->method, "POST") || !strcmp(q->method, "PUT")) {
		int k = snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", q->len);
		put(&w, clen, (size_t)k);
	}
	put(&w, "\r\n", 2);
	put(&w, q->body, q->len);
	return out_end(&w);
}

/* ---- the response head ------------------------------------------------ */

/* Keep the head: copy it (the stream's buffer moves on as the body is
 * read), move the fields' pointers along and end each value with a NUL
 * (the byte after a value is whitespace or the CR of its line). */
static int keep_head(corio_http_response *r, const char *p, size_t n)
{
	if (r->head_cap < n) {
		size_t cap = r->head_cap ? r->head_cap : 1024;
		while (cap < n)
			cap *= 2;
		char *h = realloc(r->head, cap);
		if (!h)
			return -ENOMEM;
		r->head = h;
		r->head_cap = cap;
	}
	memcpy(r->head, p, n);
	for (size_t i = 0; i < r->nfields; i++) {
		struct corio__http_header *f = &r->fields[i];
		f->name = r->head + (f->name - p);
		f->value = r->head + (f->value - p);
		r->head[f->value - r->head + (ptrdiff_t)f->value_len] = '\0';
	}
	return 0;
}

static void take_head(corio_http_response *r, corio_stream *s, const struct corio__http_response *h)
{
	r->status = h->status;
	r->keep_alive = h->keep_alive;
	r->length = h->body == CORIO__HTTP_BODY_LENGTH ? (int64_t)h->content_length
		  : h->body == CORIO__HTTP_BODY_NONE ? 0 : -1;
	corio__http_reader_init(&r->body, s, h->body, h->content_length, &r->c->lim, 0);
}

/* Read and parse the head, feeding the parser only the new bytes each
 * time.  *@got: a byte of the response arrived (no retry after that). */
static int read_head(corio_http_response *r, corio_stream *s, const char *method, bool *got)
{
	size_t last = 0, mlen = strlen(method);
	int interim = 0;
	for (;;) {
		char *p;
		size_t len;
		int err = corio__stream_peek(s, last + 1, &p, &len);
		if (err)
			return err == -EMSGSIZE ? -EPROTO : err;
		if (len)
			*got = true;
		if (len < last + 1)
			return -ECONNRESET; /* closed before the head ended */
		struct corio__http_response h;
		int res = corio__http_parse_response(p, len, last, method, mlen, &h, r->fields,
						     HEAD_FIELDS, &r->c->lim);
		if (res == CORIO__HTTP_INCOMPLETE) {
			last = len;
			continue;
		}
		if (res < 0 || h.status == 101) /* 101: no upgrade was asked for */
			return -EPROTO;
		r->nfields = h.nheaders;
		if (h.status < 200) { /* 100 Continue and friends: the real one follows */
			if (++interim > MAX_INTERIM)
				return -EPROTO; /* a server that never answers for real */
			corio__stream_consume(s, (size_t)res);
			last = 0;
			continue;
		}
		if ((err = keep_head(r, p, (size_t)res)))
			return err;
		corio__stream_consume(s, (size_t)res);
		take_head(r, s, &h);
		return 0;
	}
}

/* ---- one exchange on one origin --------------------------------------- */

static bool idempotent(const char *m)
{
	static const char *const ok[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(m, ok[i]))
			return true;
	return false;
}

/* The errors a connection the server closed while it idled gives. */
static bool stale_error(int err)
{
	return err == -ECONNRESET || err == -EPIPE || err == -ECONNABORTED ||
	       err == CORIO_ETLS_TRUNCATED;
}

static int try_once(corio_http_client *c, struct origin *o, const struct req *q,
		    corio_http_response *r, bool fresh, bool *reused, bool *got)
{
	struct conn *k = fresh ? NULL : pool_take(c, o);
	*reused = k != NULL;
	int err = k ? 0 : conn_open(c, o, &k);
	if (err)
		return err;
	err = send_request(c, k->s, q);
	if (!err)
		err = read_head(r, k->s, q->method, got);
	if (err) {
		conn_close(k);
		return err;
	}
	r->conn = k;
	return 0;
}

/* Send @q and read the response head into @r, holding a permit of the
 * origin (released when @r is freed, or here on failure). */
static int exchange(corio_http_client *c, const struct req *q, corio_http_response *r)
{
	struct origin *o = origin_get(c, q->u);
	if (!o)
		return -ENOMEM;
	int err = corio_sem_acquire(&o->permits);
	if (err)
		return err;
	r->o = o;
	bool reused = false, got = false;
	err = try_once(c, o, q, r, false, &reused, &got);
	/* a pooled connection the server closed meanwhile: once, afresh */
	if (err && reused && !got && stale_error(err) && idempotent(q->method))
		err = try_once(c, o, q, r, true, &reused, &got);
	if (err) {
		corio_sem_release(&o->permits);
		r->o = NULL;
	}
	return err;
}

/* ---- responses -------------------------------------------------------- */

static corio_http_response *resp_get(corio_http_client *c)
{
	corio_http_response *r = c->spare;
	if (r)
		c->spare = r->next_spare;
	else if (!(r = calloc(1, sizeof(*r))))
		return NULL;
	r->c = c;
	r->o = NULL;
	r->conn = NULL;
	r->nfields = 0;
	c->live++;
	return r;
}

void corio_http_response_free(corio_http_response *r)
{
	if (!r)
		return;
	corio_http_client *c = r->c;
	if (r->conn) {
		if (r->keep_alive && corio__http_reader_done(&r->body) && !r->body.err)
			pool_put(r->o, r->conn);
		else
			conn_close(r->conn); /* never reused half-read */
		r->conn = NULL;
	}
	if (r->o)
		corio_sem_release(&r->o->permits);
	r->o = NULL;
	r->next_spare = c->spare;
	c->spare = r;
	c->live--;
}

int corio_http_response_status(const corio_http_response *r)
{
	return r ? r->status : -EINVAL;
}

const char *corio_http_response_header(const corio_http_response *r, const char *name)
{
	if (!r || !name)
		return NULL;
	const struct corio__http_header *h =
		corio__http_find_header(r->fields, r->nfields, name, strlen(name));
	return h ? h->value : NULL;
}

int64_t corio_http_response_length(const corio_http_response *r)
{
	return r ? r->length : -EINVAL;
}

ssize_t corio_http_response_read(corio_http_response *r, void *buf, size_t n)
{
	if (!r || (!buf && n))
		return -EINVAL;
	return corio__http_reader_read(&r->body, buf, n);
}

int corio_http_response_body(corio_http_response *r, char **data, size_t *len, size_t max)
{
	if (!r || !data || !len)
		return -EINVAL;
	if (max && r->length > 0 && (uint64_t)r->length > max)
		return -EMSGSIZE;
	size_t cap = r->length >= 0 ? (size_t)r->length + 1 : 16384, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (r->length >= 0 && n == (size_t)r->length && corio__http_reader_done(&r->body))
			break; /* all there: no growing for the final 0-byte read */
		if (n + 1 == cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t k = corio__http_reader_read(&r->body, buf + n, cap - 1 - n);
		if (k <= 0) {
			if (k < 0) {
				free(buf);
				return (int)k;
			}
			break;
		}
		n += (size_t)k;
		if (max && n > max) {
			free(buf);
			return -EMSGSIZE;
		}
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

/* Write what the decoder makes of the stream's buffered bytes straight
 * from that buffer to @fd: no copy through a buffer of ours.  The peeked
 * bytes stay in place until the next read call, so the write may suspend. */
int64_t corio_http_response_to_fd(corio_http_response *r, int fd)
{
	if (!r || fd < 0)
		return -EINVAL;
	struct corio__http_reader *b = &r->body;
	int64_t total = 0;
	size_t want = 1;
	while (!b->err && !corio__http_body_done(&b->dec)) {
		char *p;
		size_t len, consumed, payload;
		int err = corio__stream_peek(b->s, want, &p, &len);
		if (!err && len < want) { /* the stream ended */
			if (len || corio__http_body_eof(&b->dec) < 0)
				err = -ECONNRESET;
			else
				break;
		}
		if (!err && corio__http_body_decode(&b->dec, p, len, &consumed, &payload) < 0)
			err = -EPROTO;
		if (err)
			return b->err = err;
		if (payload) {
			ssize_t k = corio_write_full(fd, p, payload, -1);
			if (k >= 0 && (size_t)k < payload)
				k = -EIO; /* cannot happen: write_full reports its error next */
			if (k < 0) {
				corio__stream_consume(b->s, consumed);
				return b->err = (int)k;
			}
			total += (int64_t)payload;
		}
		corio__stream_consume(b->s, consumed);
		want = consumed ? 1 : len + 1;
	}
	return b->err ? b->err : total;
}

/* ---- fetch, redirects ------------------------------------------------- */

static bool is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Follow @r's redirect: the next URL in *@url (malloc'd; the old one
 * freed unless it is the caller's @orig), the method and body adjusted. */
static int follow(corio_http_response *r, char **url, const char *orig, struct req *q,
		  const char *loc)
{
	const char *base = *url ? *url : orig;
	int st = r->status;
	char *next;
	int err = corio__url_resolve(base, q->u, loc, strlen(loc), &next);
	if (err)
		return err == -EINVAL ? -EPROTO : err; /* the server's fault */
	/* keep the connection if its body is short */
	corio__http_reader_skip(&r->body, DRAIN_MAX);
	corio_http_response_free(r);
	free(*url);
	*url = next;
	if (strcmp(q->method, "HEAD") &&
	    (st == 303 || ((st == 301 || st == 302) && !strcmp(q->method, "POST")))) {
		q->method = "GET";
		q->body = NULL;
		q->len = 0;
	}
	return 0;
}

static int fetch(corio_http_client *c, struct req *q, const char *url, corio_http_response **out)
{
	char *owned = NULL; /* the URL after redirects */
	struct corio__url u, first;
	int err = 0;
	for (int hops = 0;; hops++) {
		if ((err = corio__url_parse(owned ? owned : url, &u)))
			break;
		if (!hops)
			first = u;
		else if (u.https != first.https || strcmp(u.host, first.host) ||
			 strcmp(u.port, first.port))
			q->strip_credentials = true;
		q->u = &u;
		corio_http_response *r = resp_get(c);
		if (!r) {
			err = -ENOMEM;
			break;
		}
		if ((err = exchange(c, q, r))) {
			corio_http_response_free(r);
			break;
		}
		const char *loc = corio_http_response_header(r, "Location");
		if (!is_redirect(r->status) || c->o.max_redirects < 0 || !loc || !*loc) {
			*out = r;
			break;
		}
		if (hops == c->o.max_redirects) {
			corio_http_response_free(r);
			err = -ELOOP;
			break;
		}
		if ((err = follow(r, &owned, url, q, loc))) {
			corio_http_response_free(r);
			break;
		}
	}
	free(owned);
	return err;
}

int corio_http_fetch(corio_http_client *c, const char *method, const char *url,
		     const char *const *headers, const void *body, size_t len,
		     corio_http_response **out)
{
	if (!c || !method || !url || !out || (!body && len) || !method_ok(method))
		return -EINVAL;
	struct req q = {.method = method, .headers = headers, .body = body, .len = len};
	for (const char *const *h = headers; h && *h; h++) {
		if (!header_ok(*h))
			return -EINVAL;
		q.has_ua |= header_is(*h, "User-Agent");
	}
	corio_scope sc;
	if (c->o.total_timeout_ns)
		corio_timeout_push(&sc, corio_now() + c->o.total_timeout_ns);
	int err = fetch(c, &q, url, out);
	if (c->o.total_timeout_ns)
		corio_timeout_pop(&sc);
	return err;
}

int corio_http_get(corio_http_client *c, const char *url, corio_http_response **out)
{
	return corio_http_fetch(c, "GET", url, NULL, NULL, 0, out);
}

/* ---- the client ------------------------------------------------------- */

int corio_http_client_new(corio_http_client **out, const corio_http_client_options *o)
{
	static const corio_http_client_options defaults;
	if (!out)
		return -EINVAL;
	corio_http_client_options opt = o ? *o : defaults;
	if (opt.max_redirects < CORIO_HTTP_NO_REDIRECTS)
		return -EINVAL;
	for (const char *p = opt.user_agent; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -EINVAL;
	corio_http_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	opt.max_per_origin = opt.max_per_origin ? opt.max_per_origin : DEFAULT_PER_ORIGIN;
	opt.max_redirects = opt.max_redirects ? opt.max_redirects : DEFAULT_REDIRECTS;
	opt.connect_timeout_ns = opt.connect_timeout_ns ? opt.connect_timeout_ns : DEFAULT_CONNECT_NS;
	opt.read_timeout_ns = opt.read_timeout_ns ? opt.read_timeout_ns : DEFAULT_READ_NS;
	opt.idle_timeout_ns = opt.idle_timeout_ns ? opt.idle_timeout_ns : DEFAULT_IDLE_NS;
	opt.user_agent = opt.user_agent ? opt.user_agent : DEFAULT_UA;
	c->o = opt;
	*out = c;
	return 0;
}

void corio_http_client_free(corio_http_client *c)
{
	if (!c)
		return;
	while (c->origins) {
		struct origin *o = c->origins;
		c->origins = o->next;
		while (o->idle) {
			struct conn *k = o->idle;
			o->idle = k->next;
			conn_close(k);
		}
		free(o);
	}
	while (c->spare) {
		corio_http_response *r = c->spare;
		c->spare = r->next_spare;
		free(r->head);
		free(r);
	}
	corio_tls_ctx_free(c->own_tls);
	free(c);
}
