/* SPDX-License-Identifier: MIT */
/*
 * http_parse.h - HTTP/1.1 message parsing (RFC 9112) as pure functions over
 * a caller's buffer: request and response heads parsed in place, framing
 * derived strictly from the head, and a resumable body decoder
 * (Content-Length, chunked, until close) that works in place.  No I/O, no
 * allocation, no dependency but libc: the server (http_server.c), the
 * client (http_client.c), the tests and the fuzzers all call these.
 * Internal: never installed.
 *
 * Results.  The head parsers return
 *
 *   > 0                      the head is complete; this many bytes of the
 *                            buffer belong to it (leading empty lines, the
 *                            start line, the fields and the final CRLF)
 *   CORIO__HTTP_INCOMPLETE   (-1) more bytes are needed
 *   -400, -414, -431,        an error: the negated HTTP status a server
 *   -501, -505               answers with before it closes the connection
 *
 * Strictness.  Lenient framing is how request smuggling happens, so every
 * ambiguity is an error, never a guess: a bare CR or bare LF anywhere,
 * NUL and other control characters, obs-fold (a field line starting with
 * SP or HTAB), whitespace between a field name and its colon, a missing or
 * repeated Host in HTTP/1.1, Content-Length together with
 * Transfer-Encoding, a repeated or non-final "chunked", Content-Length
 * values that are not all digits or that disagree.
 *
 * Resuming.  A caller reading a head from a socket calls the parser each
 * time more bytes arrive, with the same buffer start, the new length and
 * the length it passed last time (last_len; 0 the first time).  Until the
 * head is complete only bytes from last_len on are examined (the start
 * line, at most max_target + 52 bytes, is searched again for its end only
 * once the field section nears its limit), so a head trickling in byte by
 * byte costs linear time.  Once the end of the head is found the head is
 * parsed once, from its start.  The answer never
 * depends on how the bytes were split between calls: any split gives the
 * same result as the whole input at once.
 */
#ifndef CORIO_HTTP_PARSE_H
#define CORIO_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* More input needed (head parsers); the body decoder returns 0 instead. */
#define CORIO__HTTP_INCOMPLETE (-1)

/* Longest method accepted; a longer one is answered with 501 (no server
 * implements a method that long). */
#define CORIO__HTTP_METHOD_MAX 32

/*
 * Limits.  Zero-initialisable: a zero field takes its default.  Any value
 * is capped at CORIO__HTTP_LIMIT_CAP so that head lengths fit in an int.
 */
#define CORIO__HTTP_LIMIT_CAP (16u << 20)
struct corio__http_limits {
	/* Request target bytes (default 8192).  Longer: 414.  A response's
	 * status line may be this long plus 44 bytes; longer: -400. */
	size_t max_target;
	/* Bytes of the field section: every field line with its CRLF and the
	 * final empty line, not the start line (default 16384).  More: 431. */
	size_t max_head;
	/* Field lines in a head, and in a chunked body's trailer section
	 * (default 100).  More: 431.  The head parsers also answer 431 when
	 * the caller's header array is full, whichever is smaller. */
	size_t max_headers;
	/* Bytes of a chunk line after the size digits, up to its CR: the
	 * extensions (default 1024).  More: 400. */
	size_t max_chunk_ext;
	/* Bytes of a chunked body's trailer section including its final
	 * empty line (default 8192).  More: -431 from the body decoder. */
	size_t max_trailer;
};

/* One field line, pointing into the parsed buffer.  The value has its
 * leading and trailing whitespace removed; it may be empty. */
struct corio__http_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* How a message's body is delimited (RFC 9112 section 6.3). */
enum corio__http_body_kind {
	CORIO__HTTP_BODY_NONE = 0, /* no body (or Content-Length: 0) */
	CORIO__HTTP_BODY_LENGTH,   /* exactly content_length bytes (> 0) */
	CORIO__HTTP_BODY_CHUNKED,  /* chunked transfer coding */
	CORIO__HTTP_BODY_CLOSE,    /* until the peer closes (responses only) */
};

/* Form of a request target (RFC 9112 section 3.2). */
enum corio__http_target_form {
	CORIO__HTTP_TARGET_ORIGIN = 0, /* "/path?query" */
	CORIO__HTTP_TARGET_ABSOLUTE,   /* "http://host/path" (proxies; servers
	                                  must accept it too) */
	CORIO__HTTP_TARGET_AUTHORITY,  /* "host:port", CONNECT only */
	CORIO__HTTP_TARGET_ASTERISK,   /* "*", OPTIONS only */
};

/* A parsed request head.  Pointers point into the caller's buffer, which
 * must outlive their use. */
struct corio__http_request {
	const char *method;  /* a token, case-sensitive ("GET") */
	size_t method_len;
	const char *target;  /* as sent, not decoded */
	size_t target_len;
	enum corio__http_target_form form;
	int minor_version;   /* 0 or 1: HTTP/1.0 or HTTP/1.1 */
	size_t nheaders;     /* fields stored in the caller's array */
	const char *host;    /* Host's value; NULL if absent (HTTP/1.0 only) */
	size_t host_len;
	/* Framing (RFC 9112 section 6.3).  A request never has
	 * CORIO__HTTP_BODY_CLOSE: without Content-Length or chunked its body
	 * is empty. */
	enum corio__http_body_kind body;
	uint64_t content_length; /* body == CORIO__HTTP_BODY_LENGTH; else 0 */
	/* The connection may carry another request after this one: HTTP/1.1
	 * unless Connection has "close"; HTTP/1.0 only if Connection has
	 * "keep-alive" (and not "close"). */
	bool keep_alive;
	/* HTTP/1.1 with "Expect: 100-continue" (ignored in HTTP/1.0 as RFC
	 * 9110 section 10.1.1 requires).  Other expectations are left to the
	 * server to find in the headers (it may answer 417). */
	bool expect_continue;
	/* Connection lists "upgrade" and an Upgrade field is present. */
	bool upgrade;
};

/*
 * corio__http_parse_request - parse a request head in place.
 * @buf, @len:   the bytes received so far (need not be NUL-terminated)
 * @last_len:    @len of the previous call on the same buffer that returned
 *               CORIO__HTTP_INCOMPLETE, 0 on the first call (a value above
 *               @len is taken as 0)
 * @req:         filled in only when the head is complete
 * @headers, @cap: the caller's array for field lines; its contents are
 *               unspecified unless the head is complete
 * @lim:         limits, NULL for all defaults
 *
 * Leading empty lines (CRLF) before the request line are skipped and
 * counted in the head length (RFC 9112 section 2.2).
 *
 * Return: the head length (> 0) when complete; CORIO__HTTP_INCOMPLETE;
 * or the status the server answers with, negated, before it closes:
 *   -400  malformed: bad method/target/field syntax, bare CR or LF, a
 *         control character, obs-fold, whitespace before a colon, a
 *         missing version, "*" with a method other than OPTIONS, an
 *         authority-form target with a method other than CONNECT,
 *         missing/repeated Host in HTTP/1.1, repeated Host in HTTP/1.0,
 *         Content-Length with Transfer-Encoding, a bad or disagreeing
 *         Content-Length, Transfer-Encoding in HTTP/1.0, Transfer-Encoding
 *         whose last coding is not "chunked" or that repeats it
 *   -414  the request target is longer than lim->max_target
 *   -431  the field section is longer than lim->max_head, or has more
 *         field lines than lim->max_headers or @cap
 *   -501  a transfer coding other than chunked (e.g. "gzip, chunked"), or
 *         a method longer than CORIO__HTTP_METHOD_MAX
 *   -505  a well-formed HTTP version other than 1.0 and 1.1
 * When a head has several faults, which one is reported depends only on
 * the bytes, never on how they were split between calls: byte-level
 * faults and limits first, in input order, then the start line, the
 * fields in order, and last the framing rules.
 */
int corio__http_parse_request(const char *buf, size_t len, size_t last_len,
                              struct corio__http_request *req,
                              struct corio__http_header *headers, size_t cap,
                              const struct corio__http_limits *lim);

/* A parsed response head; pointers point into the caller's buffer. */
struct corio__http_response {
	int minor_version;   /* 0 or 1 */
	int status;          /* 100..999 */
	const char *reason;  /* may be empty */
	size_t reason_len;
	size_t nheaders;
	/* Framing, which depends on the request too: no body for a response
	 * to HEAD, for 1xx, 204 and 304, and for 2xx to CONNECT (the
	 * connection becomes a tunnel); otherwise chunked, Content-Length, or
	 * until close.  A 1xx response is followed by the final response on
	 * the same connection: parse the next head after it. */
	enum corio__http_body_kind body;
	uint64_t content_length; /* body == CORIO__HTTP_BODY_LENGTH; else 0 */
	/* HTTP/1.1 unless Connection has "close"; HTTP/1.0 only with
	 * "keep-alive"; never when the body runs until close. */
	bool keep_alive;
};

/*
 * corio__http_parse_response - parse a response head in place.
 * @method, @method_len: the request's method ("HEAD" and "CONNECT"
 *               change the framing); NULL means an ordinary method
 * Other parameters and the return value are as for
 * corio__http_parse_request, with these errors:
 *   -400  malformed (as for requests, without the Host and target rules),
 *         a status line longer than lim->max_target + 44, a status code
 *         not 100..999, Content-Length with Transfer-Encoding, a repeated
 *         or non-final "chunked"
 *   -431  field section or field count over the limits
 *   -501  a transfer coding other than chunked (this client decodes no
 *         other; RFC 9112 would read such a body until close)
 *   -505  a version other than HTTP/1.0 and HTTP/1.1
 * "HTTP/1.1 200\r\n" (no space after the code) is accepted.
 */
int corio__http_parse_response(const char *buf, size_t len, size_t last_len,
                               const char *method, size_t method_len,
                               struct corio__http_response *resp,
                               struct corio__http_header *headers, size_t cap,
                               const struct corio__http_limits *lim);

/*
 * Body decoder: a resumable state machine over the bytes that follow a
 * head, one per message.  Zero-initialise it or call
 * corio__http_body_init.  Opaque fields: read only 'total'.
 */
struct corio__http_body {
	enum corio__http_body_kind kind;
	uint64_t total;      /* payload bytes produced so far */
	/* private */
	uint64_t left;       /* LENGTH: bytes left; CHUNKED: left in chunk */
	int state;
	unsigned digits;     /* size digits read on this chunk line */
	size_t ext;          /* bytes of extensions on this chunk line */
	size_t tbytes;       /* bytes of the trailer section so far */
	size_t tfields;      /* trailer field lines so far */
	size_t max_ext, max_trailer, max_fields;
};

/*
 * corio__http_body_init - prepare @d for a body framed as @kind.
 * @content_length: the length for CORIO__HTTP_BODY_LENGTH (0 makes it
 *               CORIO__HTTP_BODY_NONE); ignored otherwise
 * @lim:         limits (NULL: defaults) for chunk extensions and trailers
 * Typically called with a parsed head's body and content_length.
 */
void corio__http_body_init(struct corio__http_body *d,
                           enum corio__http_body_kind kind,
                           uint64_t content_length,
                           const struct corio__http_limits *lim);

/*
 * corio__http_body_decode - decode body bytes in place.
 * @buf, @len:   the next bytes after what earlier calls consumed; with
 *               chunked framing they are rewritten: the payload decoded in
 *               this call is moved to the front, buf[0..*payload)
 * @consumed:    input bytes that belonged to the body (<= @len)
 * @payload:     payload bytes now at the start of @buf (<= *consumed)
 *
 * Any split of the input gives the same payload and the same result, even
 * one byte per call.  A chunked body's extensions are checked and skipped
 * (BWS before ';' and '=' is allowed as RFC 9112 section 7.1.1's grammar
 * says, whitespace after the size with no ';' is not); its trailer fields
 * are checked with the head's field rules and dropped.
 *
 * Return:
 *   1     the body ended (in this call or before: later calls return 1
 *         with nothing consumed); bytes from buf + *consumed on belong to
 *         the next message
 *   0     all @len bytes consumed, more are needed (for
 *         CORIO__HTTP_BODY_CLOSE: until the peer closes; see
 *         corio__http_body_eof)
 *   -400  malformed chunked framing: a size that is empty, has a non-hex
 *         digit ("0x10") or more than 16 digits, a bad extension or one
 *         longer than max_chunk_ext, data not followed by CRLF, a bare CR
 *         or LF, a bad trailer field
 *   -431  trailer section over max_trailer bytes or max_headers fields
 * @consumed and @payload are written only when the result is >= 0; after
 * an error the decoder stays in error and the connection must close.
 */
int corio__http_body_decode(struct corio__http_body *d, char *buf, size_t len,
                            size_t *consumed, size_t *payload);

/*
 * corio__http_body_eof - the peer closed; is the body complete?
 * Return: 0 if the body ended (or runs until close, which ends it now),
 * -400 if it was cut short.
 */
int corio__http_body_eof(struct corio__http_body *d);

/* True once the body has ended. */
bool corio__http_body_done(const struct corio__http_body *d);

/*
 * corio__http_find_header - first field named @name (ASCII
 * case-insensitive) among @n fields; NULL if none.
 */
const struct corio__http_header *
corio__http_find_header(const struct corio__http_header *h, size_t n,
                        const char *name, size_t name_len);

/*
 * corio__http_has_token - does the comma-separated list @value (a field
 * value such as Connection's) hold the token @tok?  Elements are
 * compared ASCII case-insensitively, ignoring OWS around them and any
 * parameters after a ';' ("gzip;q=1" holds "gzip").  Empty elements are
 * skipped.
 */
bool corio__http_has_token(const char *value, size_t value_len,
                           const char *tok, size_t tok_len);

#endif
