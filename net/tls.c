/* SPDX-License-Identifier: MIT */
/*
 * tls.c - TLS as a stream transport (corio/tls.h, DESIGN section 11).
 * OpenSSL sees two memory BIOs and never the socket: the stream's receive
 * op feeds ciphertext into rbio, the reader's SSL_read makes plaintext in
 * rbuf, SSL_write turns the write queue into ciphertext in wbio, which the
 * send op takes (stream_int.h draws it).  So nothing here blocks; the
 * handshake waits with corio__stream_fill(), an op like any other.
 * OpenSSL's error queue is per thread and tasks interleave on one thread:
 * it is cleared before every SSL call and read right after.
 */
#include "stream_int.h"
#include "corio/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SEC 1000000000ull
#define DEF_HANDSHAKE_NS (30 * SEC)
#define DEF_CLOSE_NS SEC
#define SESS_MAX 256 /* client sessions kept per context */
#define TLS_ERR_FIRST (-5199)
#define TLS_ERR_LAST (-5101)

static const unsigned char alpn_h1[] = "\x08http/1.1";

/* A resumable session for one host:port (client contexts). */
struct sess {
	struct sess *next;
	char *key;
	SSL_SESSION *ss;
};

struct corio_tls_ctx {
	SSL_CTX *ssl;
	bool server;
	bool insecure;
	uint64_t hs_ns, close_ns;
	pthread_mutex_t lock;    /* sessions: a context may serve many loops */
	struct sess *sessions;   /* the most recent first */
	unsigned nsess;
};

/* One connection's TLS state: the stream's xs. */
struct tls {
	SSL *ssl;
	BIO *rbio;          /* ciphertext in (owned by ssl) */
	BIO *wbio;          /* ciphertext out (owned by ssl) */
	corio_tls_ctx *ctx;
	char *key;          /* client: "host:port" for the session cache */
	bool ready;         /* the handshake is done */
	bool ended;         /* close_notify is queued */
};

/* ---- errors ------------------------------------------------------------ */

/* OpenSSL's reason for the last TLS failure on this thread. */
static __thread char last_reason[160];

static void reason_set(const char *why)
{
	snprintf(last_reason, sizeof(last_reason), "%s", why ? why : "");
}

/* Take the reason off OpenSSL's queue (and empty it). */
static void reason_take(void)
{
	unsigned long e = ERR_peek_last_error();
	if (e) {
		const char *r = ERR_reason_error_string(e);
		if (r)
			reason_set(r);
		else
			ERR_error_string_n(e, last_reason, sizeof(last_reason));
	}
	ERR_clear_error();
}

static const char *tls_base(int err)
{
	switch (err) {
	case CORIO_ETLS_CERT: return "TLS certificate not trusted";
	case CORIO_ETLS_EXPIRED: return "TLS certificate expired or not yet valid";
	case CORIO_ETLS_HOSTNAME: return "TLS certificate does not match the host name";
	case CORIO_ETLS_HANDSHAKE: return "TLS handshake failed";
	case CORIO_ETLS_PROTO: return "TLS protocol error";
	case CORIO_ETLS_TRUNCATED: return "TLS connection closed without close_notify";
	case CORIO_ETLS_CONFIG: return "TLS context setup failed";
	default: return NULL;
	}
}

static const char *tls_text(int err)
{
	static __thread char buf[256];
	const char *base = tls_base(err);
	if (!base || !last_reason[0] || err == CORIO_ETLS_TRUNCATED)
		return base;
	snprintf(buf, sizeof(buf), "%s (%s)", base, last_reason);
	return buf;
}

/* Registered at load time: any program that can get a TLS code has this
 * file linked in, so the text is there before the first code. */
__attribute__((constructor)) static void tls_errors_at_load(void)
{
	(void)corio__strerror_register(TLS_ERR_FIRST, TLS_ERR_LAST, tls_text);
}

/* A failed handshake: the verification result says most. */
static int hs_error(struct tls *t)
{
	long v = t->ctx->server ? X509_V_OK : SSL_get_verify_result(t->ssl);
	if (v == X509_V_OK) {
		reason_take();
		return CORIO_ETLS_HANDSHAKE;
	}
	ERR_clear_error();
	reason_set(X509_verify_cert_error_string(v));
	switch (v) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return CORIO_ETLS_EXPIRED;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return CORIO_ETLS_HOSTNAME;
	default:
		return CORIO_ETLS_CERT;
	}
}

/* ---- the transport hooks (stream_int.h) ------------------------------- */

static int x_feed(struct corio_stream *s, const char *p, size_t n)
{
	struct tls *t = s->xs;
	return BIO_write(t->rbio, p, (int)n) == (int)n ? 0 : -ENOMEM;
}

static void out_kick(struct corio_stream *s)
{
	struct tls *t = s->xs;
	if (BIO_ctrl_pending(t->wbio))
		corio__stream_kick(s);
}

static ssize_t x_decrypt(struct corio_stream *s, char *buf, size_t n)
{
	struct tls *t = s->xs;
	size_t got = 0;
	ERR_clear_error();
	int r = SSL_read_ex(t->ssl, buf, n, &got);
	ssize_t ret = (ssize_t)got;
	if (r != 1) {
		switch (SSL_get_error(t->ssl, r)) {
		case SSL_ERROR_WANT_READ: /* a partial record, or nothing */
			ret = s->xerr ? s->xerr : s->xeof ? CORIO_ETLS_TRUNCATED : 0;
			break;
		case SSL_ERROR_ZERO_RETURN:
			ret = CORIO__XPORT_EOF;
			break;
		default:
			reason_take();
			ret = CORIO_ETLS_PROTO;
			break;
		}
		ERR_clear_error();
	}
	out_kick(s); /* a key update's answer, an alert */
	return ret;
}

static size_t x_in_pending(const struct corio_stream *s)
{
	const struct tls *t = s->xs;
	return BIO_ctrl_pending(t->rbio) + (size_t)SSL_pending(t->ssl);
}

static int x_encrypt(struct corio_stream *s, const char *p, size_t n)
{
	struct tls *t = s->xs;
	while (n) {
		size_t done = 0;
		ERR_clear_error();
		if (SSL_write_ex(t->ssl, p, n, &done) != 1) {
			reason_take();
			return CORIO_ETLS_PROTO;
		}
		p += done;
		n -= done;
	}
	return 0;
}

static size_t x_out_pending(const struct corio_stream *s)
{
	const struct tls *t = s->xs;
	return BIO_ctrl_pending(t->wbio);
}

static size_t x_out_take(struct corio_stream *s, char *buf, size_t n)
{
	struct tls *t = s->xs;
	int r = BIO_read(t->wbio, buf, n > INT32_MAX ? INT32_MAX : (int)n);
	return r > 0 ? (size_t)r : 0;
}

static void x_end(struct corio_stream *s)
{
	struct tls *t = s->xs;
	if (!t->ready || t->ended || s->werr)
		return;
	t->ended = true;
	ERR_clear_error();
	(void)SSL_shutdown(t->ssl); /* queues close_notify; the peer's may never come */
	ERR_clear_error();
	corio__stream_kick(s);
}

static void x_free(void *state)
{
	struct tls *t = state;
	SSL_free(t->ssl);
	free(t->key);
	free(t);
}

static const struct corio__stream_xport xport = {
	.feed = x_feed,
	.decrypt = x_decrypt,
	.in_pending = x_in_pending,
	.encrypt = x_encrypt,
	.out_pending = x_out_pending,
	.out_take = x_out_take,
	.end = x_end,
	.free = x_free,
};

/* ---- client sessions, per host:port ---------------------------------- */

/* OpenSSL hands us a new session (TLS 1.3: a ticket after the handshake,
 * read by some later SSL_read).  1: we keep the reference. */
static int sess_new(SSL *ssl, SSL_SESSION *ss)
{
	struct tls *t = SSL_get_app_data(ssl);
	if (!t || !t->key || !SSL_SESSION_is_resumable(ss))
		return 0;
	corio_tls_ctx *c = t->ctx;
	pthread_mutex_lock(&c->lock);
	struct sess **pp = &c->sessions, *e = NULL;
	for (; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->key, t->key)) {
			e = *pp;
			*pp = e->next;
			SSL_SESSION_free(e->ss);
			c->nsess--;
			break;
		}
	if (!e && (e = calloc(1, sizeof(*e))) && !(e->key = strdup(t->key))) {
		free(e);
		e = NULL;
	}
	if (e) {
		e->ss = ss;
		e->next = c->sessions;
		c->sessions = e;
		c->nsess++;
	}
	while (c->nsess > SESS_MAX) { /* drop the oldest */
		struct sess **q = &c->sessions;
		while ((*q)->next)
			q = &(*q)->next;
		SSL_SESSION_free((*q)->ss);
		free((*q)->key);
		free(*q);
		*q = NULL;
		c->nsess--;
	}
	pthread_mutex_unlock(&c->lock);
	return e ? 1 : 0;
}

static void sess_use(struct tls *t)
{
	corio_tls_ctx *c = t->ctx;
	pthread_mutex_lock(&c->lock);
	for (struct sess *e = c->sessions; e; e = e->next)
		if (!strcmp(e->key, t->key)) {
			SSL_set_session(t->ssl, e->ss);
			break;
		}
	pthread_mutex_unlock(&c->lock);
}

/* "name:port" of the peer of @fd, for the session cache. */
static char *sess_key(int fd, const char *name)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int port = 0;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	size_t n = strlen(name) + 8;
	char *k = malloc(n);
	if (k)
		snprintf(k, n, "%s:%d", name, port);
	return k;
}

/* ---- contexts --------------------------------------------------------- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	unsigned char *o = NULL;
	if (SSL_select_next_proto(&o, outlen, alpn_h1, sizeof(alpn_h1) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = o;
	return SSL_TLSEXT_ERR_OK;
}

static bool version_ok(int v)
{
	return v == 0 || v == TLS1_2_VERSION || v == TLS1_3_VERSION;
}

static int ctx_server(SSL_CTX *c, const corio_tls_options *o)
{
	if (SSL_CTX_use_certificate_chain_file(c, o->cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c, o->key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c) != 1)
		return CORIO_ETLS_CONFIG;
	SSL_CTX_set_session_id_context(c, (const unsigned char *)"corio", 5);
	SSL_CTX_set_alpn_select_cb(c, alpn_select, NULL);
	return 0;
}

static int ctx_client(SSL_CTX *c, const corio_tls_options *o)
{
	if (!o->insecure) {
		SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
		int ok = o->ca_file ? SSL_CTX_load_verify_locations(c, o->ca_file, NULL)
				    : SSL_CTX_set_default_verify_paths(c);
		if (ok != 1)
			return CORIO_ETLS_CONFIG;
	}
	if (SSL_CTX_set_alpn_protos(c, alpn_h1, sizeof(alpn_h1) - 1) != 0)
		return -ENOMEM;
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(c, sess_new);
	return 0;
}

int corio_tls_ctx_new(corio_tls_ctx **out, const corio_tls_options *o)
{
	if (!out || !o || !version_ok(o->min_version) || !version_ok(o->max_version) ||
	    (o->server && (!o->cert_file || !o->key_file)))
		return -EINVAL;
	corio_tls_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	ERR_clear_error();
	c->ssl = SSL_CTX_new(o->server ? TLS_server_method() : TLS_client_method());
	if (!c->ssl) {
		free(c);
		return -ENOMEM;
	}
	c->server = o->server;
	c->insecure = o->insecure;
	c->hs_ns = o->handshake_timeout_ns ? o->handshake_timeout_ns : DEF_HANDSHAKE_NS;
	c->close_ns = o->close_timeout_ns ? o->close_timeout_ns : DEF_CLOSE_NS;
	pthread_mutex_init(&c->lock, NULL);
	SSL_CTX_set_min_proto_version(c->ssl, o->min_version ? o->min_version : TLS1_2_VERSION);
	if (o->max_version)
		SSL_CTX_set_max_proto_version(c->ssl, o->max_version);
	int err = o->server ? ctx_server(c->ssl, o) : ctx_client(c->ssl, o);
	if (err) {
		reason_take();
		corio_tls_ctx_free(c);
		return err;
	}
	*out = c;
	return 0;
}

void corio_tls_ctx_free(corio_tls_ctx *c)
{
	if (!c)
		return;
	while (c->sessions) {
		struct sess *e = c->sessions;
		c->sessions = e->next;
		SSL_SESSION_free(e->ss);
		free(e->key);
		free(e);
	}
	SSL_CTX_free(c->ssl);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* ---- streams ---------------------------------------------------------- */

static bool is_ip(const char *name)
{
	unsigned char a[16];
	return inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1;
}

/* The peer's name: SNI (not for an address) and what the certificate
 * must say. */
static int tls_name(struct tls *t, int fd, const char *name)
{
	if (!name || t->ctx->server)
		return 0;
	bool ip = is_ip(name);
	if (!ip && SSL_set_tlsext_host_name(t->ssl, name) != 1)
		return -EINVAL;
	if (!t->ctx->insecure) {
		int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name)
			    : SSL_set1_host(t->ssl, name);
		if (ok != 1)
			return -EINVAL;
	}
	if (!(t->key = sess_key(fd, name)))
		return -ENOMEM;
	sess_use(t);
	return 0;
}

static int tls_new(struct tls **out, int fd, corio_tls_ctx *ctx, const char *name)
{
	struct tls *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ctx = ctx;
	ERR_clear_error();
	t->ssl = SSL_new(ctx->ssl);
	t->rbio = BIO_new(BIO_s_mem());
	t->wbio = BIO_new(BIO_s_mem());
	if (!t->ssl || !t->rbio || !t->wbio) {
		BIO_free(t->rbio);
		BIO_free(t->wbio);
		SSL_free(t->ssl);
		free(t);
		ERR_clear_error();
		return -ENOMEM;
	}
	BIO_set_mem_eof_return(t->rbio, -1); /* empty means "more to come" */
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	SSL_set_app_data(t->ssl, t);
	if (ctx->server)
		SSL_set_accept_state(t->ssl);
	else
		SSL_set_connect_state(t->ssl);
	int err = tls_name(t, fd, name);
	ERR_clear_error();
	if (err) {
		x_free(t);
		return err;
	}
	*out = t;
	return 0;
}

/* Drive the handshake: each turn feeds what arrived to OpenSSL, sends
 * what it made, and waits for more (an op: cancellable, under @deadline). */
static int handshake(struct corio_stream *s, struct tls *t, uint64_t deadline)
{
	for (;;) {
		ERR_clear_error();
		int r = SSL_do_handshake(t->ssl);
		int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
		int code = e == SSL_ERROR_NONE || e == SSL_ERROR_WANT_READ ? 0 : hs_error(t);
		ERR_clear_error();
		corio__stream_kick(s); /* our flight, or an alert */
		if (code || r == 1)
			return code;
		if (s->werr)
			return s->werr;
		if (s->rerr)
			return s->rerr;
		if (s->xerr)
			return s->xerr;
		if (s->xeof && !BIO_ctrl_pending(t->rbio))
			return -ECONNRESET;
		int err = corio__stream_fill(s, deadline);
		if (err)
			return err;
	}
}

int corio_tls_stream_upgrade(corio_stream *s, corio_tls_ctx *ctx, const char *name)
{
	if (!s || !ctx || (!ctx->server && !ctx->insecure && !name))
		return -EINVAL;
	if (!corio_self())
		return -EPERM;
	if (s->x || s->reading || s->writing || s->orphan || corio__stream_wpending(s) ||
	    (s->rstate != NET_IDLE && !s->ms))
		return -EBUSY;
	struct tls *t;
	int err = tls_new(&t, s->fd, ctx, name);
	if (err)
		return err;
	s->x = &xport;
	s->xs = t;
	s->close_ns = ctx->close_ns;
	if (s->rtail > s->rhead) { /* arrived already: it was ciphertext */
		if ((err = x_feed(s, s->rbuf + s->rhead, s->rtail - s->rhead)))
			return err;
		s->rhead = s->rtail = 0;
	}
	corio__stream_take(s, &s->reading);
	s->writing = true;
	err = handshake(s, t, corio_now() + ctx->hs_ns);
	s->writing = false;
	t->ready = err == 0;
	return (int)corio__stream_give(s, &s->reading, err);
}

int corio_tls_stream_new(corio_stream **out, int fd, corio_tls_ctx *ctx, const char *name)
{
	if (fd < 0)
		return -EINVAL;
	corio_stream *s = NULL;
	int err = !out || !ctx ? -EINVAL : corio_stream_new(&s, fd, NULL);
	if (err) {
		corio_close(fd);
		return err;
	}
	if ((err = corio_tls_stream_upgrade(s, ctx, name))) {
		corio_stream_close(s);
		return err;
	}
	*out = s;
	return 0;
}

static const struct tls *tls_of(const corio_stream *s)
{
	return s && s->x == &xport ? s->xs : NULL;
}

const char *corio_tls_stream_alpn(const corio_stream *s)
{
	const struct tls *t = tls_of(s);
	const unsigned char *p = NULL;
	unsigned len = 0;
	if (t)
		SSL_get0_alpn_selected(t->ssl, &p, &len);
	return len == 8 && !memcmp(p, "http/1.1", 8) ? "http/1.1" : NULL;
}

int corio_tls_stream_version(const corio_stream *s)
{
	const struct tls *t = tls_of(s);
	return t ? SSL_version(t->ssl) : 0;
}

int corio_tls_stream_resumed(const corio_stream *s)
{
	const struct tls *t = tls_of(s);
	return t ? SSL_session_reused(t->ssl) : 0;
}
