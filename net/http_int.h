/* SPDX-License-Identifier: MIT */
/*
 * http_int.h - what the server (http_server.c) and the client
 * (http_client.c) share: a message body read from a stream through the
 * parser's decoder (http_body.c).  Never installed.
 */
#ifndef CORIO_HTTP_INT_H
#define CORIO_HTTP_INT_H

#include "corio/http.h"
#include "http_parse.h"
#include "stream_int.h"

/*
 * A body on a stream, decoded as it is read: Content-Length, chunked or
 * until close, straight from the stream's buffer into the caller's (one
 * copy), never buffered whole.  The bytes after the body stay in the
 * stream for the next message (pipelining, keep-alive).
 */
struct corio__http_reader {
	corio_stream *s;
	struct corio__http_body dec;
	uint64_t max;  /* payload bytes allowed (0: no limit) */
	int err;       /* sticky: the body cannot be read on */
};

/* Read the body framed as @kind (@content_length for LENGTH) from @s;
 * @lim: the parser's limits for chunk extensions and trailers (NULL:
 * defaults); @max: -EMSGSIZE past this many payload bytes (0: none). */
void corio__http_reader_init(struct corio__http_reader *r, corio_stream *s,
			     enum corio__http_body_kind kind, uint64_t content_length,
			     const struct corio__http_limits *lim, uint64_t max) CORIO__HIDDEN;

/* Up to @n payload bytes into @buf.  Suspends.  Return: bytes, 0 at the
 * end of the body; -EPROTO (malformed framing), -EMSGSIZE (over @max),
 * -ECONNRESET (the peer closed before the end), or the stream's errors
 * (-ETIMEDOUT, -ECANCELED, ...).  An error is sticky. */
ssize_t corio__http_reader_read(struct corio__http_reader *r, void *buf, size_t n) CORIO__HIDDEN;

/* Read and drop the rest of the body, at most @limit more payload bytes.
 * Return: 0 once the body ended (the stream is at the next message),
 * -E2BIG if more than @limit remain (read nothing more: close instead),
 * or an error of corio__http_reader_read(). */
int corio__http_reader_skip(struct corio__http_reader *r, uint64_t limit) CORIO__HIDDEN;

/* Has the body been read to its end? */
bool corio__http_reader_done(const struct corio__http_reader *r) CORIO__HIDDEN;

#endif
