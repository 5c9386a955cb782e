/* SPDX-License-Identifier: MIT */
/*
 * http_body.c - message bodies read from a stream (http_int.h): the
 * parser's decoder runs over the stream's own buffer in place, the payload
 * goes to the caller's buffer, and exactly the body's bytes are consumed,
 * so what follows it stays buffered for the next message.
 */
#include "http_int.h"

#include <errno.h>
#include <string.h>

void corio__http_reader_init(struct corio__http_reader *r, corio_stream *s,
			     enum corio__http_body_kind kind, uint64_t content_length,
			     const struct corio__http_limits *lim, uint64_t max)
{
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->max = max;
	corio__http_body_init(&r->dec, kind, content_length, lim);
}

bool corio__http_reader_done(const struct corio__http_reader *r)
{
	return corio__http_body_done(&r->dec);
}

static ssize_t fail(struct corio__http_reader *r, int err)
{
	r->err = err;
	return err;
}

/* The stream ended: complete for a body that runs until close, cut short
 * for any other. */
static ssize_t at_eof(struct corio__http_reader *r)
{
	if (corio__http_body_eof(&r->dec) < 0)
		return fail(r, -ECONNRESET);
	return 0;
}

ssize_t corio__http_reader_read(struct corio__http_reader *r, void *buf, size_t n)
{
	if (r->err)
		return r->err;
	if (!n)
		return 0;
	size_t want = 1;
	for (;;) {
		if (corio__http_body_done(&r->dec))
			return 0;
		char *p;
		size_t len;
		int err = corio__stream_peek(r->s, want, &p, &len);
		if (err)
			return fail(r, err);
		if (len < want) /* the peer's end came first */
			return len ? fail(r, -ECONNRESET) : at_eof(r);
		/* never more input than @n: the payload out of it then fits */
		size_t in = len < n ? len : n, consumed, payload;
		int res = corio__http_body_decode(&r->dec, p, in, &consumed, &payload);
		if (res < 0)
			return fail(r, -EPROTO);
		if (r->max && r->dec.total > r->max)
			return fail(r, -EMSGSIZE);
		memcpy(buf, p, payload);
		corio__stream_consume(r->s, consumed);
		if (payload)
			return (ssize_t)payload;
		/* framing only (a chunk line, a CRLF): more bytes needed */
		want = consumed ? 1 : len + 1;
	}
}

int corio__http_reader_skip(struct corio__http_reader *r, uint64_t limit)
{
	char scratch[4096];
	uint64_t left = limit;
	while (!corio__http_body_done(&r->dec)) {
		if (!left)
			return -E2BIG;
		size_t n = left < sizeof(scratch) ? (size_t)left : sizeof(scratch);
		ssize_t k = corio__http_reader_read(r, scratch, n);
		if (k < 0)
			return (int)k;
		if (!k)
			break; /* until close: the stream ended it */
		left -= (uint64_t)k;
	}
	return 0;
}
