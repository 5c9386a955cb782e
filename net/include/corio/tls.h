/* SPDX-License-Identifier: MIT */
/*
 * corio/tls.h - TLS connections as corio streams (OpenSSL 3 underneath,
 * never named here).  OpenSSL works on memory buffers only; the bytes move
 * through the stream's own receive and send ops, so a TLS stream behaves
 * like any other: every blocking point is a corio op that cancellation and
 * timeout scopes reach, on both backends, and every corio_stream_* call
 * (read, read_exactly, read_until, write, flush, shutdown, close) works on
 * it unchanged.
 *
 * Errors are negative: errno values, or the TLS codes below, which
 * corio_strerror() explains with OpenSSL's own reason for the last TLS
 * failure seen on the calling thread (e.g. "TLS certificate not trusted
 * (unable to get local issuer certificate)").  The reason is kept per
 * thread, so read it right after the failing call, before another TLS
 * call on the same thread fails.
 */
#ifndef CORIO_TLS_H
#define CORIO_TLS_H

#include <corio/net.h>

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The TLS codes.  They lie in -5199..-5101: below -4096, outside the errno
 * range and the name-lookup codes of corio/dns.h.
 */
enum corio_tls_error {
	CORIO_ETLS_CERT = -5101,      /**< peer certificate not trusted (unknown CA, self-signed, bad chain) */
	CORIO_ETLS_EXPIRED = -5102,   /**< peer certificate expired or not yet valid */
	CORIO_ETLS_HOSTNAME = -5103,  /**< peer certificate is for another name */
	CORIO_ETLS_HANDSHAKE = -5104, /**< handshake failed (no shared version or cipher, peer's alert, ...) */
	CORIO_ETLS_PROTO = -5105,     /**< malformed or unexpected record after the handshake */
	CORIO_ETLS_TRUNCATED = -5106, /**< the peer closed without close_notify */
	CORIO_ETLS_CONFIG = -5107,    /**< context setup: unreadable certificate, key or CA file, key mismatch */
};

/** A TLS context: verification settings, certificate and key, session
 *  cache.  Shared by many streams (and loops); free it after them. */
typedef struct corio_tls_ctx corio_tls_ctx;

/** Options for corio_tls_ctx_new().  Zero-initialise; grows at the end. */
typedef struct corio_tls_options {
	/** 0: a client context, 1: a server context. */
	int server;
	/** Client: trust only the roots in this PEM file (NULL: the system
	 *  store). */
	const char *ca_file;
	/** Server: the certificate chain (PEM, leaf first). */
	const char *cert_file;
	/** Server: its private key (PEM). */
	const char *key_file;
	/** Client: skip certificate and host name verification.  FOR TESTS
	 *  ONLY: it makes TLS worthless against an active attacker. */
	int insecure;
	/** Lowest and highest protocol version, 0x0303 (TLS 1.2) or 0x0304
	 *  (TLS 1.3) (0: TLS 1.2 and no upper bound). */
	int min_version;
	int max_version;
	/** The handshake must finish within this (0: 30 s). */
	uint64_t handshake_timeout_ns;
	/** corio_stream_close() waits at most this for close_notify and the
	 *  data before it to leave (0: 1 s). */
	uint64_t close_timeout_ns;
} corio_tls_options;

/**
 * corio_tls_ctx_new() - a client or server context.  Client: verifies the
 * peer's chain against the system store (or @o->ca_file) and its name
 * (corio_tls_stream_new()'s @server_name), offers ALPN "http/1.1" and
 * resumes sessions per host:port.  Server: loads @o->cert_file and
 * @o->key_file, selects ALPN "http/1.1" when offered.  Does not suspend.
 * Return: 0 and *@out; -EINVAL (NULL @out or @o, a server without cert or
 * key, a bad version); CORIO_ETLS_CONFIG (a file unreadable or malformed,
 * the key does not match); -ENOMEM.
 */
CORIO_API int corio_tls_ctx_new(corio_tls_ctx **out, const corio_tls_options *o);

/** corio_tls_ctx_free() - free @ctx (NULL: nothing) once no stream made
 *  with it is open. */
CORIO_API void corio_tls_ctx_free(corio_tls_ctx *ctx);

/**
 * corio_tls_stream_new() - run a TLS handshake over the connected socket
 * @fd and return a stream carrying plaintext.  A client context sends
 * @server_name as SNI (not for an IP literal) and checks the certificate
 * against it (a DNS name or an IP address); NULL is allowed only with an
 * insecure or a server context.  The call owns @fd from the start: on
 * success the stream closes it, on failure it is closed before the call
 * returns.  Suspends; a cancellation point (the handshake's ops are
 * cancelled and waited for).
 *
 * On the stream, a read returns 0 only at the peer's close_notify; a peer
 * that closes the socket without one gives CORIO_ETLS_TRUNCATED.
 * corio_stream_shutdown() sends close_notify, then the FIN;
 * corio_stream_close() sends close_notify, bounded by
 * corio_tls_options.close_timeout_ns.
 *
 * Return: 0 and *@out; -EINVAL; -EPERM (outside a task); CORIO_ETLS_CERT,
 * CORIO_ETLS_EXPIRED, CORIO_ETLS_HOSTNAME, CORIO_ETLS_HANDSHAKE;
 * -ECONNRESET or -EPIPE (the peer left mid-handshake); -ETIMEDOUT (the
 * handshake timeout, or a caller's scope); -ECANCELED; -ENOMEM.
 */
CORIO_API int corio_tls_stream_new(corio_stream **out, int fd, corio_tls_ctx *ctx,
				   const char *server_name);

/**
 * corio_tls_stream_upgrade() - corio_tls_stream_new() on a stream that
 * exists already (a plain one, from corio_stream_new() or corio_serve(),
 * with nothing read or written yet): the handshake runs on it, and from
 * then on it carries plaintext.  On failure the stream stays the caller's
 * to close.  Suspends.  Return: as corio_tls_stream_new(); -EBUSY (the
 * stream is TLS already, or a read or write is under way).
 */
CORIO_API int corio_tls_stream_upgrade(corio_stream *s, corio_tls_ctx *ctx,
				       const char *server_name);

/** corio_tls_stream_alpn() - the protocol ALPN selected ("http/1.1"), or
 *  NULL (none, or not a TLS stream). */
CORIO_API const char *corio_tls_stream_alpn(const corio_stream *s);

/** corio_tls_stream_version() - 0x0303 (TLS 1.2), 0x0304 (TLS 1.3), or 0
 *  (not a TLS stream). */
CORIO_API int corio_tls_stream_version(const corio_stream *s);

/** corio_tls_stream_resumed() - 1 if the handshake resumed a session, 0
 *  if not (or not a TLS stream). */
CORIO_API int corio_tls_stream_resumed(const corio_stream *s);

#ifdef __cplusplus
}
#endif

#endif /* CORIO_TLS_H */
