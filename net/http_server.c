/* SPDX-License-Identifier: MIT */
/*
 * http_server.c - corio_http_serve(): HTTP/1.1 on corio_serve(), a task per
 * connection running requests one after the other.  Heads are parsed in
 * place in the stream's buffer (copied only if the handler reads the
 * body); responses are formatted into the connection's batch buffer and
 * leave in one stream write once no further complete request is buffered
 * (pipelining); file bodies are spliced through a pipe.
 */
#include "http_server_int.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/sockios.h>
#include <unistd.h>

#define SEC (1000ull * 1000 * 1000)
#define DEF_HEAD_NS (10 * SEC)
#define DEF_BODY_NS (30 * SEC)
#define DEF_IDLE_NS (5 * SEC)
#define DEF_MAX_BODY ((uint64_t)8 << 20)
#define DEF_MAX_HEADERS 100
/* Unread request bodies up to this are read and dropped to keep the
 * connection; larger ones close it after the response. */
#define DISCARD_MAX ((uint64_t)64 * 1024)
/* A batch buffer over this is written out at once. */
#define OUT_FLUSH ((size_t)64 * 1024)
/* Lingering close: bytes and time spent draining a client's unread
 * request so that our response is not destroyed by a reset. */
#define LINGER_BYTES ((size_t)256 * 1024)
#define LINGER_NS (SEC / 2)
#define SPLICE_MAX ((size_t)64 * 1024)
#define MS_NS (1000ull * 1000)
#define STOP_POLL_NS (50ull * 1000 * 1000)

/* ---- buffers ------------------------------------------------------------- */

static int hb_reserve(struct corio__hbuf *b, size_t n)
{
	if (corio__likely(b->cap - b->len >= n))
		return 0;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap - b->len < n)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void hb_put(struct corio__hbuf *b, const void *p, size_t n)
{
	if (!n)
		return; /* p may be NULL: an empty buffer never allocated */
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

#define HB_LIT(b, s) hb_put((b), (s), sizeof(s) - 1)

static size_t u64_dec(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static void hb_dec(struct corio__hbuf *b, uint64_t v)
{
	b->len += u64_dec(b->p + b->len, v);
}

static void hb_hex(struct corio__hbuf *b, uint64_t v)
{
	char tmp[16];
	size_t n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		b->p[b->len++] = tmp[--n];
}

/* ---- Date, formatted once a second per thread --------------------------- */

static __thread struct {
	time_t sec;
	char s[29]; /* "Sun, 06 Nov 1994 08:49:37 GMT" */
} date_cache = {-1, {0}};

static const char *http_date(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	if (corio__likely(ts.tv_sec == date_cache.sec))
		return date_cache.s;
	static const char days[] = "SunMonTueWedThuFriSat";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char *p = date_cache.s;
	memcpy(p, days + 3 * tm.tm_wday, 3);
	p[3] = ',';
	p[4] = ' ';
	p[5] = (char)('0' + tm.tm_mday / 10);
	p[6] = (char)('0' + tm.tm_mday % 10);
	p[7] = ' ';
	memcpy(p + 8, months + 3 * tm.tm_mon, 3);
	p[11] = ' ';
	int y = tm.tm_year + 1900;
	for (int i = 15; i >= 12; i--, y /= 10)
		p[i] = (char)('0' + y % 10);
	p[16] = ' ';
	int f[3] = {tm.tm_hour, tm.tm_min, tm.tm_sec};
	for (int i = 0; i < 3; i++) {
		p[17 + 3 * i] = (char)('0' + f[i] / 10);
		p[18 + 3 * i] = (char)('0' + f[i] % 10);
		if (i < 2)
			p[19 + 3 * i] = ':';
	}
	memcpy(p + 25, " GMT", 4);
	date_cache.sec = ts.tv_sec;
	return date_cache.s;
}

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* ---- the batch ------------------------------------------------------------ */

/* Hand the batch to the stream (one write: it leaves in one send unless
 * a send is in flight, then with the next). */
static int out_flush(struct corio__hconn *c)
{
	if (!c->out.len || c->broken)
		return c->broken ? -EPIPE : 0;
	ssize_t k = corio_stream_write(c->s, c->out.p, c->out.len);
	c->out.len = 0;
	if (k < 0) {
		c->broken = true;
		return (int)k;
	}
	return 0;
}

/* ---- response heads ------------------------------------------------------ */

enum framing { FR_NONE, FR_LENGTH, FR_CHUNKED, FR_CLOSE };

static bool body_discardable(const struct corio_http_request *r)
{
	const struct corio__http_reader *b = &r->body;
	if (corio__http_reader_done(b))
		return true;
	if (b->err || (r->p.expect_continue && !r->continue_sent))
		return false;
	return b->dec.kind == CORIO__HTTP_BODY_LENGTH &&
	       r->p.content_length - b->dec.total <= DISCARD_MAX;
}

/* Does the connection end after this response?  Decided as its head is
 * written, since the head says so. */
static bool must_close(const struct corio_http_request *r, enum framing fr)
{
	return r->close || !r->p.keep_alive || fr == FR_CLOSE || !body_discardable(r) ||
	       corio_server_stopping(r->c->srv->server);
}

static int put_head(struct corio_http_request *r, int status, const char *ctype,
		    enum framing fr, uint64_t len)
{
	struct corio__hconn *c = r->c;
	struct corio__hsrv *srv = c->srv;
	const char *rs = reason(status);
	size_t rl = strlen(rs), cl = ctype ? strlen(ctype) : 0;
	r->close = must_close(r, fr);
	int err = hb_reserve(&c->out, 160 + rl + cl + srv->server_name_len + r->xh.len);
	if (err)
		return err;
	struct corio__hbuf *b = &c->out;
	HB_LIT(b, "HTTP/1.1 ");
	b->p[b->len++] = (char)('0' + status / 100);
	b->p[b->len++] = (char)('0' + status / 10 % 10);
	b->p[b->len++] = (char)('0' + status % 10);
	b->p[b->len++] = ' ';
	hb_put(b, rs, rl);
	HB_LIT(b, "\r\nDate: ");
	hb_put(b, http_date(), 29);
	HB_LIT(b, "\r\n");
	if (srv->server_name) {
		HB_LIT(b, "Server: ");
		hb_put(b, srv->server_name, srv->server_name_len);
		HB_LIT(b, "\r\n");
	}
	if (ctype) {
		HB_LIT(b, "Content-Type: ");
		hb_put(b, ctype, cl);
		HB_LIT(b, "\r\n");
	}
	if (fr == FR_LENGTH) {
		HB_LIT(b, "Content-Length: ");
		hb_dec(b, len);
		HB_LIT(b, "\r\n");
	} else if (fr == FR_CHUNKED) {
		HB_LIT(b, "Transfer-Encoding: chunked\r\n");
	}
	if (r->close)
		HB_LIT(b, "Connection: close\r\n");
	else if (r->p.minor_version == 0)
		HB_LIT(b, "Connection: keep-alive\r\n");
	hb_put(b, r->xh.p, r->xh.len);
	HB_LIT(b, "\r\n");
	return 0;
}

static bool status_has_body(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

/* Common checks of the respond calls. */
static int respond_begin(corio_http_request *r, int status)
{
	if (!r)
		return -EINVAL;
	if (r->resp != HRESP_NONE)
		return -EALREADY;
	if (status < 200 || status > 999)
		return -EINVAL; /* a 1xx is not an answer: the client would wait on */
	if (r->c->broken)
		return -EPIPE;
	r->no_body = r->is_head || !status_has_body(status);
	return 0;
}

int corio_http_respond(corio_http_request *r, int status, const char *content_type,
		       const void *body, size_t len)
{
	int err = respond_begin(r, status);
	if (err)
		return err;
	if (!body)
		len = 0;
	struct corio__hconn *c = r->c;
	enum framing fr = status_has_body(status) ? FR_LENGTH : FR_NONE;
	if ((err = put_head(r, status, content_type, fr, len)))
		return err;
	r->resp = HRESP_DONE;
	if (r->no_body || !len)
		return c->out.len >= OUT_FLUSH ? out_flush(c) : 0;
	if (len <= OUT_FLUSH) {
		if ((err = hb_reserve(&c->out, len)))
			return err;
		hb_put(&c->out, body, len);
		return c->out.len >= OUT_FLUSH ? out_flush(c) : 0;
	}
	struct iovec iov[2] = {{c->out.p, c->out.len}, {(void *)body, len}};
	ssize_t k = corio_stream_writev(c->s, iov, 2);
	c->out.len = 0;
	if (k < 0) {
		c->broken = true;
		return (int)k;
	}
	return 0;
}

/* ---- files ------------------------------------------------------------------ */

static ssize_t splice_op(int in, uint64_t off, int out, size_t n, unsigned flags)
{
	/* -ERESTARTSYS (512) is what a splice cancelled in the kernel's
	 * worker reports: an interruption, said as such */
	struct corio__op op = {.code = CORIO__OP_SPLICE, .fd = in, .off = off};
	op.len = (uint32_t)n;
	op.u.splice.fd_out = out;
	op.u.splice.off_out = (uint64_t)-1;
	op.u.splice.flags = SPLICE_F_MOVE | flags;
	ssize_t k = corio__op_run(&op);
	return k == -512 ? -EINTR : k;
}

/* Room in @sock's send buffer now, in bytes (0: none): the buffer's size
 * as the kernel keeps it, less the bytes not yet acknowledged. */
static size_t send_room(int sock)
{
	int size = 0, queued = 0;
	socklen_t sl = sizeof(size);
	if (getsockopt(sock, SOL_SOCKET, SO_SNDBUF, &size, &sl) || ioctl(sock, SIOCOUTQ, &queued))
		return SPLICE_MAX; /* cannot tell: let the splice's deadline bound it */
	return size > queued ? (size_t)(size - queued) : 0;
}

/* Move @got bytes from the pipe to the socket.  A splice into a blocking
 * socket waits for room inside the kernel, where on epoll it holds a pool
 * thread no cancel can stop: so it waits for room first, as a cancellable
 * op, and moves no more than there is room for.  A client that takes
 * nothing for the body timeout is dropped like any slow one (-ETIMEDOUT). */
static int pipe_to_socket(struct corio__hconn *c, int sock, size_t got)
{
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + c->srv->body_ns);
	int err = 0;
	while (got && !err) {
		size_t room = send_room(sock);
		if (!room) {
			int pr = corio_poll(sock, POLLOUT); /* revents, or an error */
			if (pr < 0)
				err = pr;
			else if (!(pr & POLLOUT) || send_room(sock) == 0)
				err = corio_sleep(MS_NS); /* writable by poll's measure, not ours */
			continue;
		}
		size_t n = got < room ? got : room;
		/* non-blocking where a worker runs it (epoll): -EAGAIN, not a
		 * wait no cancel could end */
		ssize_t k = splice_op(c->pipe[0], (uint64_t)-1, sock, n, SPLICE_F_NONBLOCK);
		if (k == -EINTR && !corio_checkpoint())
			continue; /* a signal, not a cancel: again */
		if (k == -EAGAIN) {
			int pr = corio_poll(sock, POLLOUT);
			if (pr < 0)
				err = pr;
			continue;
		}
		if (k <= 0) {
			err = k ? (int)k : -EPIPE;
			break;
		}
		got -= (size_t)k;
		corio_timeout_pop(&sc); /* progress: a fresh period */
		corio_timeout_push(&sc, corio_now() + c->srv->body_ns);
	}
	corio_timeout_pop(&sc);
	if (sc.expired && err)
		return -ETIMEDOUT; /* a cancelled splice reports the kernel's -EINTR */
	return err;
}

/* TLS: the file's bytes must go through the stream to be encrypted. */
static int copy_file(struct corio__hconn *c, int fd, off_t off, uint64_t len)
{
	char *buf = malloc(SPLICE_MAX);
	int err = buf ? 0 : -ENOMEM;
	while (len && !err) {
		size_t want = len < SPLICE_MAX ? (size_t)len : SPLICE_MAX;
		ssize_t got = corio_pread(fd, buf, want, off);
		if (got <= 0) {
			err = got ? (int)got : -EIO; /* the file shrank */
			break;
		}
		ssize_t k = corio_stream_write(c->s, buf, (size_t)got);
		err = k < 0 ? (int)k : 0;
		off += got;
		len -= (uint64_t)got;
	}
	free(buf);
	return err;
}

/* Move @len bytes of @fd from @off to the socket through the pipe. */
static int splice_file(struct corio__hconn *c, int fd, off_t off, uint64_t len)
{
	if (c->s->x)
		return copy_file(c, fd, off, len);
	if (c->pipe[0] < 0 && pipe2(c->pipe, O_CLOEXEC) != 0) {
		c->pipe[0] = -1;
		return -errno;
	}
	int sock = corio_stream_fd(c->s);
	while (len) {
		size_t want = len < SPLICE_MAX ? (size_t)len : SPLICE_MAX;
		ssize_t got;
		do
			got = splice_op(fd, (uint64_t)off, c->pipe[1], want, 0);
		while (got == -EINTR && !corio_checkpoint());
		if (got <= 0)
			return got ? (int)got : -EIO; /* the file shrank */
		off += got;
		len -= (uint64_t)got;
		int err = pipe_to_socket(c, sock, (size_t)got);
		if (err)
			return err;
	}
	return 0;
}

int corio_http_respond_file(corio_http_request *r, int status, const char *content_type,
			    int fd, off_t off, uint64_t len)
{
	if (fd < 0 || off < 0)
		return -EINVAL;
	int err = respond_begin(r, status);
	if (err)
		return err;
	struct corio__hconn *c = r->c;
	enum framing fr = status_has_body(status) ? FR_LENGTH : FR_NONE;
	if ((err = put_head(r, status, content_type, fr, len)))
		return err;
	r->resp = HRESP_DONE;
	if (r->no_body || !len)
		return 0;
	/* the head and the batch before it go first, all the way */
	if ((err = out_flush(c)) || (err = corio_stream_flush(c->s)) ||
	    (err = splice_file(c, fd, off, len))) {
		c->broken = true; /* cut off: the client sees a short body */
		r->close = true;
	}
	return err;
}

/* ---- streamed responses ---------------------------------------------------- */

int corio_http_respond_start(corio_http_request *r, int status, const char *content_type)
{
	int err = respond_begin(r, status);
	if (err)
		return err;
	enum framing fr = FR_NONE;
	if (status_has_body(status))
		fr = r->p.minor_version ? FR_CHUNKED : FR_CLOSE;
	r->chunked = fr == FR_CHUNKED;
	if ((err = put_head(r, status, content_type, fr, 0)))
		return err;
	r->resp = HRESP_STREAM;
	return 0;
}

int corio_http_write(corio_http_request *r, const void *buf, size_t n)
{
	if (!r || r->resp != HRESP_STREAM || (n && !buf))
		return -EINVAL;
	struct corio__hconn *c = r->c;
	if (c->broken)
		return -EPIPE;
	if (r->no_body || !n)
		return 0;
	int err = hb_reserve(&c->out, 24);
	if (err)
		return err;
	if (r->chunked) {
		hb_hex(&c->out, n);
		HB_LIT(&c->out, "\r\n");
	}
	char crlf[] = "\r\n";
	struct iovec iov[3] = {{c->out.p, c->out.len}, {(void *)buf, n}, {crlf, 2}};
	ssize_t k = corio_stream_writev(c->s, iov, r->chunked ? 3 : 2);
	c->out.len = 0;
	if (k < 0) {
		c->broken = true;
		return (int)k;
	}
	return 0;
}

int corio_http_finish(corio_http_request *r)
{
	if (!r || r->resp != HRESP_STREAM)
		return -EINVAL;
	struct corio__hconn *c = r->c;
	r->resp = HRESP_DONE;
	if (c->broken)
		return -EPIPE;
	if (r->no_body || !r->chunked)
		return 0;
	int err = hb_reserve(&c->out, 5);
	if (err)
		return err;
	HB_LIT(&c->out, "0\r\n\r\n");
	return 0;
}

/* ---- headers of the answer -------------------------------------------------- */

static bool is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool reserved_name(const char *n, size_t len)
{
	static const char *const names[] = {"content-length", "transfer-encoding", "date",
					    "connection"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && strncasecmp(names[i], n, len) == 0)
			return true;
	return false;
}

int corio_http_set_header(corio_http_request *r, const char *name, const char *value)
{
	if (!r || !name || !value)
		return -EINVAL;
	if (r->resp != HRESP_NONE)
		return -EALREADY;
	size_t nl = strlen(name), vl = strlen(value);
	if (!nl || reserved_name(name, nl))
		return -EINVAL;
	for (size_t i = 0; i < nl; i++)
		if (!is_tchar((unsigned char)name[i]))
			return -EINVAL;
	for (size_t i = 0; i < vl; i++)
		if (value[i] == '\r' || value[i] == '\n')
			return -EINVAL;
	int err = hb_reserve(&r->xh, nl + vl + 4);
	if (err)
		return err;
	hb_put(&r->xh, name, nl);
	HB_LIT(&r->xh, ": ");
	hb_put(&r->xh, value, vl);
	HB_LIT(&r->xh, "\r\n");
	return 0;
}

/* ---- the request ------------------------------------------------------------ */

const char *corio_http_request_method(const corio_http_request *r)
{
	return r ? r->p.method : NULL;
}

const char *corio_http_request_target(const corio_http_request *r)
{
	return r ? r->p.target : NULL;
}

int corio_http_request_version(const corio_http_request *r)
{
	return r ? r->p.minor_version : -EINVAL;
}

int64_t corio_http_request_body_length(const corio_http_request *r)
{
	if (!r)
		return -EINVAL;
	if (r->p.body == CORIO__HTTP_BODY_CHUNKED)
		return -1;
	return (int64_t)r->p.content_length;
}

const char *corio_http_request_header(const corio_http_request *r, const char *name)
{
	if (!r || !name)
		return NULL;
	const struct corio__http_header *h =
		corio__http_find_header(r->c->hdrs, r->p.nheaders, name, strlen(name));
	return h ? h->value : NULL;
}

#define REBASE(ptr) ((ptr) = (ptr) ? to + ((const char *)(ptr) - from) : NULL)

/* The body is about to be read, which may move the stream's buffer: move
 * the head (already NUL-terminated in place) to a buffer of our own. */
static int copy_head(corio_http_request *r)
{
	struct corio__hconn *c = r->c;
	c->hcopy.len = 0;
	int err = hb_reserve(&c->hcopy, r->head_len);
	if (err)
		return err;
	hb_put(&c->hcopy, r->head, r->head_len);
	const char *from = r->head, *to = c->hcopy.p;
	REBASE(r->p.method);
	REBASE(r->p.target);
	REBASE(r->p.host);
	for (size_t i = 0; i < r->p.nheaders; i++) {
		REBASE(c->hdrs[i].name);
		REBASE(c->hdrs[i].value);
	}
	r->head = c->hcopy.p;
	r->head_copied = true;
	return 0;
}

ssize_t corio_http_request_read(corio_http_request *r, void *buf, size_t n)
{
	if (!r || (!buf && n))
		return -EINVAL;
	struct corio__hconn *c = r->c;
	if (corio__http_reader_done(&r->body))
		return 0;
	int err;
	if (!r->head_copied && (err = copy_head(r)))
		return err;
	if (r->p.expect_continue && !r->continue_sent && r->resp == HRESP_NONE) {
		if ((err = hb_reserve(&c->out, 32)))
			return err;
		HB_LIT(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
		r->continue_sent = true;
		if ((err = out_flush(c)))
			return err;
	}
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + c->srv->body_ns);
	ssize_t k = corio__http_reader_read(&r->body, buf, n);
	corio_timeout_pop(&sc);
	return k;
}

/* ---- the connection ---------------------------------------------------------- */

/* NUL-terminate the method, the target and each value in place: each is
 * followed by a byte of the head the parser has done with (SP, OWS, CR). */
static void terminate_in_place(struct corio__hconn *c)
{
	struct corio__http_request *p = &c->req.p;
	((char *)p->method)[p->method_len] = 0;
	((char *)p->target)[p->target_len] = 0;
	for (size_t i = 0; i < p->nheaders; i++)
		((char *)c->hdrs[i].value)[c->hdrs[i].value_len] = 0;
}

/* Peek at what is buffered, waiting (until @deadline) only when less
 * than @want bytes are: the batch leaves before any wait. */
static int peek(struct corio__hconn *c, size_t want, uint64_t deadline, char **p, size_t *len)
{
	if (corio_stream_buffered(c->s) >= want)
		return corio__stream_peek(c->s, want, p, len);
	int err = out_flush(c);
	if (err)
		return err;
	corio_scope sc;
	corio_timeout_push(&sc, deadline);
	err = corio__stream_peek(c->s, want, p, len);
	corio_timeout_pop(&sc);
	return err;
}

static void set_idle(struct corio__hconn *c, bool idle)
{
	if (idle == c->idle)
		return;
	c->idle = idle;
	if (idle)
		corio__list_push_back(&c->srv->idle, &c->node);
	else
		corio__list_remove(&c->srv->idle, &c->node);
}

/* The next request head: its length, 0 to close quietly (the client
 * left, went quiet, or we stop), or a parser status, negated. */
static int read_head(struct corio__hconn *c, bool first)
{
	struct corio__hsrv *srv = c->srv;
	size_t last = 0, want = 1;
	char *p;
	size_t len;
	if (!corio_stream_buffered(c->s)) {
		set_idle(c, true);
		if (corio_server_stopping(srv->server)) {
			set_idle(c, false);
			return 0;
		}
		int err = peek(c, 1, corio_now() + (first ? srv->head_ns : srv->idle_ns), &p, &len);
		set_idle(c, false);
		if (err || !len)
			return 0;
	}
	uint64_t deadline = corio_now() + srv->head_ns;
	for (;;) {
		int err = peek(c, want, deadline, &p, &len);
		if (err || len < want)
			return 0;
		int r = corio__http_parse_request(p, len, last, &c->req.p, c->hdrs,
						  srv->lim.max_headers, &srv->lim);
		if (r > 0) {
			c->req.head = p;
			c->req.head_len = (size_t)r;
			return r;
		}
		if (r != CORIO__HTTP_INCOMPLETE)
			return r;
		last = len;
		want = len + 1;
	}
}

static void req_reset(struct corio__hconn *c)
{
	struct corio_http_request *r = &c->req;
	struct corio__hbuf xh = r->xh;
	memset(r, 0, offsetof(struct corio_http_request, body));
	r->xh = xh;
	r->xh.len = 0;
	r->c = c;
}

/* An answer of ours (errors, and for handlers that gave none). */
static void answer(struct corio_http_request *r, int status, bool close)
{
	const char *text = reason(status);
	char body[64];
	size_t n = (size_t)snprintf(body, sizeof(body), "%s\n", text);
	r->close = r->close || close;
	r->xh.len = 0;
	corio_http_respond(r, status, "text/plain", body, n);
}

/* Drain what the client still sends after our last response, for a
 * while, so that closing does not reset the connection under it. */
static void linger(struct corio__hconn *c)
{
	if (c->broken || out_flush(c) || corio_stream_shutdown(c->s))
		return;
	corio_scope sc;
	corio_timeout_push(&sc, corio_now() + LINGER_NS);
	char buf[4096];
	size_t total = 0;
	ssize_t k;
	while (total < LINGER_BYTES && (k = corio_stream_read(c->s, buf, sizeof(buf))) > 0)
		total += (size_t)k;
	corio_timeout_pop(&sc);
}

static int status_of_read_error(int err)
{
	switch (err) {
	case -EMSGSIZE: return 413;
	case -ETIMEDOUT: return 408;
	default: return 400;
	}
}

/* After the handler: answer for it if it did not, end a streamed
 * answer, drop the unread body.  Return: keep the connection? */
static bool request_end(struct corio_http_request *r, int rc)
{
	struct corio__hconn *c = r->c;
	if (r->resp == HRESP_NONE) {
		int st = r->body.err ? status_of_read_error(r->body.err) : 500;
		answer(r, st, r->body.err != 0);
	} else if (r->resp == HRESP_STREAM) {
		if (rc < 0 || corio_http_finish(r) < 0)
			c->broken = true;
	}
	if (c->broken)
		return false;
	if (r->close)
		return false;
	if (!corio__http_reader_done(&r->body)) {
		corio_scope sc;
		corio_timeout_push(&sc, corio_now() + c->srv->body_ns);
		int err = corio__http_reader_skip(&r->body, DISCARD_MAX);
		corio_timeout_pop(&sc);
		if (err)
			return false;
	}
	return true;
}

/* One request whose head (@hl bytes) is at the front of the stream. */
static bool serve_request(struct corio__hconn *c, int hl)
{
	struct corio__hsrv *srv = c->srv;
	struct corio_http_request *r = &c->req;
	terminate_in_place(c);
	corio__stream_consume(c->s, (size_t)hl);
	r->is_head = r->p.method_len == 4 && memcmp(r->p.method, "HEAD", 4) == 0;
	corio__http_reader_init(&r->body, c->s, r->p.body, r->p.content_length, &srv->lim,
				srv->max_body);
	if (r->p.body == CORIO__HTTP_BODY_LENGTH && r->p.content_length > srv->max_body) {
		r->body.err = -EMSGSIZE; /* never read: the answer closes */
		answer(r, 413, true);
		return false;
	}
	int rc = srv->h(r, srv->arg);
	return request_end(r, rc);
}

static void conn_loop(struct corio__hconn *c)
{
	for (bool first = true;; first = false) {
		req_reset(c);
		int hl = read_head(c, first);
		if (!hl)
			break;
		if (hl < 0) {
			c->req.p.keep_alive = false;
			corio__http_reader_init(&c->req.body, c->s, CORIO__HTTP_BODY_NONE, 0, NULL, 0);
			answer(&c->req, -hl, true);
			linger(c);
			break;
		}
		if (!serve_request(c, hl)) {
			if (!c->broken && !corio__http_reader_done(&c->req.body))
				linger(c);
			break;
		}
	}
	out_flush(c);
}

static void *conn_main(void *arg)
{
	corio_conn *cc = arg;
	struct corio__hsrv *srv = cc->arg;
	struct corio__hconn c;
	memset(&c, 0, sizeof(c));
	c.srv = srv;
	c.s = cc->stream;
	c.task = corio_self();
	c.pipe[0] = c.pipe[1] = -1;
	c.hdrs = malloc(srv->lim.max_headers * sizeof(*c.hdrs));
	bool ok = c.hdrs != NULL;
	if (ok && srv->tls) { /* the handshake, under the head's timeout too */
		corio_scope sc;
		corio_timeout_push(&sc, corio_now() + srv->head_ns);
		ok = corio_tls_stream_upgrade(c.s, srv->tls, NULL) == 0;
		corio_timeout_pop(&sc);
	}
	if (ok)
		conn_loop(&c);
	set_idle(&c, false);
	if (c.pipe[0] >= 0) {
		close(c.pipe[0]);
		close(c.pipe[1]);
	}
	free(c.hdrs);
	free(c.out.p);
	free(c.hcopy.p);
	free(c.req.xh.p);
	return NULL;
}

/* ---- the server ------------------------------------------------------------ */

/* On a stop, connections waiting for their next request are closed at
 * once rather than at the end of the grace period (corio_serve() lets
 * running handlers finish).  The stop has no hook, so look every 50 ms. */
static void *stop_watch(void *arg)
{
	struct corio__hsrv *srv = arg;
	while (corio_sleep(STOP_POLL_NS) == 0) {
		if (!corio_server_stopping(srv->server))
			continue;
		for (struct corio__node *n = srv->idle.head; n; n = n->next)
			corio_cancel(corio__list_entry(n, struct corio__hconn, node)->task);
	}
	return NULL;
}

static uint64_t or_default(uint64_t v, uint64_t def)
{
	return v ? v : def;
}

static int srv_init(struct corio__hsrv *srv, corio_http_handler h, void *arg,
		    const corio_http_serve_options *o)
{
	memset(srv, 0, sizeof(*srv));
	srv->h = h;
	srv->arg = arg;
	srv->head_ns = or_default(o->head_timeout_ns, DEF_HEAD_NS);
	srv->body_ns = or_default(o->body_timeout_ns, DEF_BODY_NS);
	srv->idle_ns = or_default(o->keepalive_timeout_ns, DEF_IDLE_NS);
	srv->max_body = or_default(o->max_body, DEF_MAX_BODY);
	srv->lim.max_target = o->max_target;
	srv->lim.max_head = o->max_head;
	srv->lim.max_headers = o->max_headers ? o->max_headers : DEF_MAX_HEADERS;
	if (srv->lim.max_headers > 10000)
		return -EINVAL;
	srv->tls = o->tls;
	srv->server_name = o->server_name;
	if (o->server_name) {
		srv->server_name_len = strlen(o->server_name);
		if (strpbrk(o->server_name, "\r\n"))
			return -EINVAL;
	}
	if (o->serve.stream)
		srv->sopts = *o->serve.stream;
	srv->sopts.read_timeout_ns = 0; /* ours: head, body, idle */
	return 0;
}

/* @srv from @o, and the connection server's options: *@so, a copy of
 * o->serve (possibly adjusted by the caller), gets what HTTP needs. */
static int srv_setup(struct corio__hsrv *srv, corio_http_handler h, void *arg,
		     const corio_http_serve_options *o, corio_serve_options *so)
{
	int err = srv_init(srv, h, arg, o);
	if (err)
		return err;
	so->arg = srv;
	so->stream = &srv->sopts;
	so->read_timeout_ns = 0;
	/* the stream's idle timeout guards the writes (a client that never
	 * reads); the reads run under our own, shorter, deadlines */
	uint64_t idle = srv->body_ns > srv->head_ns ? srv->body_ns : srv->head_ns;
	so->idle_timeout_ns = (idle > srv->idle_ns ? idle : srv->idle_ns) + SEC;
	return 0;
}

static void unwatch(corio_task *watch)
{
	corio_cancel(watch);
	corio_scope sh;
	corio_shield_push(&sh);
	corio_join(watch, NULL);
	corio_shield_pop(&sh);
}

int corio_http_serve(int lfd, corio_http_handler h, void *arg, const corio_http_serve_options *o)
{
	static const corio_http_serve_options defaults;
	if (lfd < 0 || !h)
		return -EINVAL;
	if (!corio_self())
		return -EPERM;
	if (!o)
		o = &defaults;
	struct corio__hsrv srv;
	corio_serve_options so = o->serve;
	int err = srv_setup(&srv, h, arg, o, &so);
	if (err)
		return err;
	if ((err = corio_server_new(&srv.server, lfd, conn_main, &so)))
		return err;
	corio_task *watch = NULL;
	if ((err = corio_spawn(&watch, stop_watch, &srv))) {
		corio_server_free(srv.server);
		return err;
	}
	err = corio_server_run(srv.server);
	unwatch(watch);
	corio_server_free(srv.server);
	return err;
}

/* ---- on every loop ------------------------------------------------------- */

struct hthreads {
	corio_http_handler h;
	void *arg;
	const corio_http_serve_options *o;
};

struct hloop { /* one loop's HTTP server */
	struct corio__hsrv srv;
	corio_task *watch;
};

static int hloop_init(void *ctx, corio_serve_options *so, void **state)
{
	struct hthreads *t = ctx;
	struct hloop *hl = calloc(1, sizeof(*hl));
	if (!hl)
		return -ENOMEM;
	int err = srv_setup(&hl->srv, t->h, t->arg, t->o, so);
	if (err) {
		free(hl);
		return err;
	}
	*state = hl;
	return 0;
}

static int hloop_start(void *state, corio_server *s)
{
	struct hloop *hl = state;
	hl->srv.server = s;
	return corio_spawn(&hl->watch, stop_watch, &hl->srv);
}

static void hloop_end(void *state)
{
	struct hloop *hl = state;
	if (hl->watch)
		unwatch(hl->watch);
	free(hl);
}

int corio_http_serve_threads(const char *host, const char *port, corio_http_handler h,
			     void *arg, const corio_http_serve_options *o,
			     const corio_serve_threads_options *to)
{
	static const corio_http_serve_options defaults;
	if (!h)
		return -EINVAL;
	if (!o)
		o = &defaults;
	struct corio__hsrv probe; /* the options are checked before any loop starts */
	corio_serve_options so = o->serve;
	int err = srv_setup(&probe, h, arg, o, &so);
	if (err)
		return err;
	struct hthreads t = {.h = h, .arg = arg, .o = o};
	struct corio__serve_layer ly = {.ctx = &t, .init = hloop_init, .start = hloop_start,
					.end = hloop_end};
	return corio__serve_threads(host, port, conn_main, &o->serve, to, &ly);
}
