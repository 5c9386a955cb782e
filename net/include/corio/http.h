/* SPDX-License-Identifier: MIT */
/*
 * corio/http.h - HTTP/1.1 on corio's streams: a server that runs a handler
 * per request on top of corio_serve() (keep-alive, pipelining, streamed
 * request bodies, bodies from memory, chunked streams or file ranges sent
 * without a copy through user space), and a client with a keep-alive pool
 * per origin (DNS and Happy Eyeballs through corio_tcp_connect(), bounded
 * redirects, bodies streamed to a buffer, a callback loop or an fd).
 *
 * Framing follows RFC 9112 strictly: a request whose framing is ambiguous
 * (Content-Length with Transfer-Encoding, a repeated or non-final chunked,
 * a bad Content-Length, obs-fold, a bare CR, whitespace before a colon, a
 * missing or repeated Host) is answered 400 (501 for an unknown transfer
 * coding) and its connection closed, because lenient framing is how
 * request smuggling happens.
 *
 * Every call that waits is a cancellation point and honours timeout
 * scopes (corio_timeout_push()), like any other corio call.
 */
#ifndef CORIO_HTTP_H
#define CORIO_HTTP_H

#include <corio/net.h>
#include <corio/tls.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Server                                                              */

/** One request on a server connection; valid inside the handler only. */
typedef struct corio_http_request corio_http_request;

/**
 * A request handler.  It reads the request (method, target, headers, body
 * with corio_http_request_read()) and answers it once, with
 * corio_http_respond(), corio_http_respond_file() or a streamed response
 * (corio_http_respond_start(), corio_http_write(), corio_http_finish()).
 * Return: 0, or a negative errno.  A handler that returns an error before
 * it answered gets a 500 sent for it; one that returns 0 without answering
 * also gets a 500 (a bug in the handler, logged in debug mode).  An error
 * after a streamed response started closes the connection (the client sees
 * a truncated body, never a wrong one).
 */
typedef int (*corio_http_handler)(corio_http_request *req, void *arg);

/** Options for corio_http_serve().  Zero-initialise; grows at the end. */
typedef struct corio_http_serve_options {
	/** The connection server underneath: connection cap, stop signals,
	 *  grace period, stack size (its idle and read timeouts are replaced
	 *  by the three below; its arg is the server's own). */
	corio_serve_options serve;
	/** A request head must arrive whole within this (0: 10 s); a slow
	 *  or silent client is closed (slowloris).  */
	uint64_t head_timeout_ns;
	/** Each read of a request body must make progress within this
	 *  (0: 30 s). */
	uint64_t body_timeout_ns;
	/** An idle keep-alive connection is closed after this (0: 5 s). */
	uint64_t keepalive_timeout_ns;
	/** Largest request body accepted (0: 8 MiB); a larger declared
	 *  Content-Length is answered 413 before the handler runs, a chunked
	 *  body that grows past it fails corio_http_request_read() with
	 *  -EMSGSIZE and the connection is closed after a 413. */
	uint64_t max_body;
	/** Parser limits (0: defaults): request target bytes (8 KiB, 414
	 *  beyond), header section bytes (16 KiB, 431 beyond) and header
	 *  lines (100, 431 beyond). */
	size_t max_target;
	size_t max_head;
	size_t max_headers;
	/** Value of a Server header on every response (NULL: none). */
	const char *server_name;
	/** https: a server context (corio_tls_ctx_new() with .server = 1);
	 *  each connection's handshake runs in its task, under the head
	 *  timeout and the context's handshake timeout (NULL: plain http).
	 *  File responses are then read and encrypted rather than spliced. */
	corio_tls_ctx *tls;
} corio_http_serve_options;

/**
 * corio_http_serve() - serve HTTP/1.1 on the listening socket @lfd until
 * stopped (a stop signal in @o->serve, or the caller's cancellation), each
 * connection in a task of its own, each request answered by @h(req, @arg).
 * Keep-alive (HTTP/1.1 by default, HTTP/1.0 with "Connection: keep-alive");
 * pipelined requests are answered in order and the replies to the requests
 * of one receive leave in one write; HEAD is answered without a body;
 * "Expect: 100-continue" gets its interim response when the handler first
 * reads the body.  @lfd stays open and owned by the caller.  Suspends.
 * Return: 0 after a stop; -ECANCELED if the caller was cancelled;
 * -EINVAL (bad @lfd, NULL @h, bad options), -EPERM outside a task,
 * -ENOMEM.
 */
CORIO_API int corio_http_serve(int lfd, corio_http_handler h, void *arg,
		     const corio_http_serve_options *o);

/**
 * corio_http_serve_threads() - corio_http_serve() on every loop of a
 * corio_run_threads() group, with one call, as corio_serve_threads() does
 * for connections: binds @host:@port once per loop (SO_REUSEPORT), or
 * once for all with @to->single_acceptor, and serves each connection on
 * the loop that got it, @h(req, @arg) running there (so @h and @arg must
 * be fine on any loop's thread; corio_loop_index() tells which).  @o as
 * corio_http_serve()'s (NULL: defaults; o->serve.stop_signals is ignored,
 * drain_on_stop is forced on); a @o->tls context serves every loop.
 * SIGINT or SIGTERM stops every loop gracefully (see corio_serve_threads():
 * connections that completed their handshake before the stop are served,
 * idle keep-alive connections closed).  Blocks the calling thread; not
 * from a task.  Return: 0 after a stop, -EINVAL (bad options), a listen
 * error (nothing ran), or the first server error.
 */
CORIO_API int corio_http_serve_threads(const char *host, const char *port, corio_http_handler h,
				       void *arg, const corio_http_serve_options *o,
				       const corio_serve_threads_options *to);

/** corio_http_request_method() - the method, e.g. "GET" (NUL-terminated,
 *  valid until the handler returns). */
CORIO_API const char *corio_http_request_method(const corio_http_request *r);

/** corio_http_request_target() - the request target as sent, e.g.
 *  "/a/b?x=1" (not percent-decoded; valid until the handler returns). */
CORIO_API const char *corio_http_request_target(const corio_http_request *r);

/** corio_http_request_header() - the value of the first header named
 *  @name (case-insensitive), with surrounding whitespace removed, or NULL
 *  if absent.  Valid until the handler returns. */
CORIO_API const char *corio_http_request_header(const corio_http_request *r, const char *name);

/** corio_http_request_version() - 0 for HTTP/1.0, 1 for HTTP/1.1. */
CORIO_API int corio_http_request_version(const corio_http_request *r);

/** corio_http_request_body_length() - the declared Content-Length, or -1
 *  for a chunked body (0 when there is none). */
CORIO_API int64_t corio_http_request_body_length(const corio_http_request *r);

/**
 * corio_http_request_read() - read up to @n bytes of the request body into
 * @buf.  The body is streamed from the connection as the handler reads it,
 * never buffered whole.  Suspends.
 * Return: bytes read, 0 at the end of the body; -ETIMEDOUT (no progress
 * within body_timeout_ns), -EMSGSIZE (past max_body), -EPROTO (malformed
 * chunked framing), -ECONNRESET, -ECANCELED.  After an error the
 * connection is closed once the handler returns.
 */
CORIO_API ssize_t corio_http_request_read(corio_http_request *r, void *buf, size_t n);

/**
 * corio_http_set_header() - add a header to the response not yet started
 * (copied).  Content-Length, Transfer-Encoding, Date and Connection are the
 * server's to set.  Return: 0, -EINVAL (bad name or value: CR, LF, NUL),
 * -EALREADY (the response has started), -ENOMEM.
 */
CORIO_API int corio_http_set_header(corio_http_request *r, const char *name, const char *value);

/**
 * corio_http_respond() - answer with @status and the @len bytes of @body
 * (Content-Length framing; @content_type may be NULL for none).  The
 * request body the handler did not read is discarded (or, if too large to
 * discard cheaply, the connection is closed after the response).  The reply
 * is queued and leaves with the others of its batch.  Suspends.
 * Return: 0; -EALREADY (already answered), -EINVAL (status outside
 * 200..999: an interim 1xx is not an answer), -EPIPE / -ECONNRESET (the client went away), -ECANCELED.
 */
CORIO_API int corio_http_respond(corio_http_request *r, int status, const char *content_type,
		       const void *body, size_t len);

/**
 * corio_http_respond_file() - answer with @status and @len bytes of the
 * file @fd from offset @off, sent with splice (no copy through user
 * space).  @fd stays the caller's.  Suspends.
 * Return: as corio_http_respond(), and -EIO or another error of the file
 * (a response already under way is then cut off by closing the
 * connection).
 */
CORIO_API int corio_http_respond_file(corio_http_request *r, int status, const char *content_type,
			    int fd, off_t off, uint64_t len);

/**
 * corio_http_respond_start() - start a streamed response with @status:
 * chunked in HTTP/1.1, until close in HTTP/1.0.  Then corio_http_write()
 * any number of times and corio_http_finish() once.  Suspends.
 * Return: as corio_http_respond().
 */
CORIO_API int corio_http_respond_start(corio_http_request *r, int status, const char *content_type);

/** corio_http_write() - send @n bytes of a streamed response's body.
 *  Suspends (backpressure).  Return: 0, -EINVAL (not started), -EPIPE,
 *  -ECONNRESET, -ECANCELED. */
CORIO_API int corio_http_write(corio_http_request *r, const void *buf, size_t n);

/** corio_http_finish() - end a streamed response.  Suspends.
 *  Return: 0, -EINVAL (not started), -EPIPE, -ECONNRESET, -ECANCELED. */
CORIO_API int corio_http_finish(corio_http_request *r);

/* ------------------------------------------------------------------ */
/* Client                                                              */


/** A client: a pool of keep-alive connections per origin. */
typedef struct corio_http_client corio_http_client;

/** A response being received; its body is read with the calls below. */
typedef struct corio_http_response corio_http_response;

/** Options for corio_http_client_new().  Zero-initialise; grows at the
 *  end. */
typedef struct corio_http_client_options {
	/** Client context for https (NULL: one with the system's roots). */
	corio_tls_ctx *tls;
	/** Keep-alive connections kept per origin, and at most this many
	 *  requests in flight to one origin at once; more wait (0: 8). */
	unsigned max_per_origin;
	/** Redirects followed (301, 302, 303, 307, 308) before -ELOOP
	 *  (0: 5; CORIO_HTTP_NO_REDIRECTS: none, the 3xx is returned). */
	int max_redirects;
	/** Time to connect, including the name lookup (0: 30 s). */
	uint64_t connect_timeout_ns;
	/** Each read of a response head or body must make progress within
	 *  this (0: 60 s). */
	uint64_t read_timeout_ns;
	/** A whole request, from the call to the end of the response head
	 *  (0: none; the body is read under read_timeout_ns, or under a
	 *  scope of the caller's). */
	uint64_t total_timeout_ns;
	/** An idle pooled connection is closed after this (0: 30 s). */
	uint64_t idle_timeout_ns;
	/** User-Agent header (NULL: "corio/VERSION"). */
	const char *user_agent;
} corio_http_client_options;

#define CORIO_HTTP_NO_REDIRECTS (-1)

/** corio_http_client_new() - make a client (@o may be NULL: defaults).
 *  Return: 0, -EINVAL, -ENOMEM. */
CORIO_API int corio_http_client_new(corio_http_client **out, const corio_http_client_options *o);

/** corio_http_client_free() - close the pooled connections and free @c.
 *  Responses still open must be freed first.  NULL is ignored. */
CORIO_API void corio_http_client_free(corio_http_client *c);

/**
 * corio_http_get() - GET @url ("http[s]://host[:port]/path?query"; IPv6
 * literals in brackets) and return once the response head has arrived;
 * the body is then read from *@out.  Redirects are followed.  https
 * connections are pooled per origin like plain ones, verified with the
 * options' context or, if it is NULL, a client context with the system's
 * roots made on first use.  Suspends.
 * Return: 0; -EINVAL (a malformed URL), -EPROTONOSUPPORT (a scheme other
 * than http and https), -ELOOP (too many redirects), the TLS codes of
 * corio/tls.h (CORIO_ETLS_CERT, CORIO_ETLS_HOSTNAME, ...),
 * CORIO_ENOTFOUND and the other name-lookup codes, -ECONNREFUSED,
 * -ETIMEDOUT, -EPROTO (a malformed response), -ECONNRESET, -ECANCELED,
 * -ENOMEM.
 */
CORIO_API int corio_http_get(corio_http_client *c, const char *url, corio_http_response **out);

/**
 * corio_http_fetch() - corio_http_get() with any @method, extra request
 * headers @headers (NULL-terminated array of "Name: value" strings, may be
 * NULL) and a request body of @len bytes (Content-Length framing; NULL/0:
 * none).  Redirects change POST to GET on 301/302/303, as browsers do.
 * Return: as corio_http_get(), and -EINVAL for a bad header line.
 */
CORIO_API int corio_http_fetch(corio_http_client *c, const char *method, const char *url,
		     const char *const *headers, const void *body, size_t len,
		     corio_http_response **out);

/** corio_http_response_status() - the status code, e.g. 200. */
CORIO_API int corio_http_response_status(const corio_http_response *r);

/** corio_http_response_header() - the first header named @name
 *  (case-insensitive), or NULL.  Valid until the response is freed. */
CORIO_API const char *corio_http_response_header(const corio_http_response *r, const char *name);

/** corio_http_response_length() - the Content-Length, or -1 when the
 *  length is not known in advance (chunked, until close). */
CORIO_API int64_t corio_http_response_length(const corio_http_response *r);

/**
 * corio_http_response_read() - read up to @n bytes of the body into @buf.
 * Suspends.  Return: bytes read, 0 at the end of the body; -ETIMEDOUT,
 * -EPROTO (malformed framing), -ECONNRESET (closed before the declared
 * end), -ECANCELED.
 */
CORIO_API ssize_t corio_http_response_read(corio_http_response *r, void *buf, size_t n);

/**
 * corio_http_response_body() - read the whole body into a buffer of its
 * own, NUL-terminated for convenience (*@len excludes the NUL), released
 * with free().  Suspends.  Return: 0, -EMSGSIZE (longer than @max bytes;
 * 0: no limit), and the errors of corio_http_response_read().
 */
CORIO_API int corio_http_response_body(corio_http_response *r, char **data, size_t *len, size_t max);

/**
 * corio_http_response_to_fd() - write the rest of the body to @fd (a file
 * or a pipe; corio's file I/O, short writes retried).  Suspends.
 * Return: the bytes written, or an error of reading or of writing.
 */
CORIO_API int64_t corio_http_response_to_fd(corio_http_response *r, int fd);

/**
 * corio_http_response_free() - release @r.  A response whose body was read
 * to its end gives its connection back to the pool; one freed early closes
 * it (a connection is never reused half-read).  May suspend, to close.
 * NULL is ignored.
 */
CORIO_API void corio_http_response_free(corio_http_response *r);

#ifdef __cplusplus
}
#endif

#endif /* CORIO_HTTP_H */
