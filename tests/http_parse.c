/* SPDX-License-Identifier: MIT */
/*
 * tests/http_parse.c - the HTTP/1.1 parser (net/http_parse.c): a table of
 * malformed and smuggling-shaped requests with the status each earns, fed
 * whole (ending right before a no-access page), byte by byte and in random
 * splits; valid requests compared with Debian's http-parser 2.9 as a
 * differential oracle (test only); responses' framing; the chunked
 * decoder in place; the helpers.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http_parse.h"

#ifdef HAVE_HTTP_PARSER
#include <http_parser.h>
#endif

#define NHDR 128

static unsigned xorshift(unsigned *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A copy of msg that ends right before a PROT_NONE page, so any read past
 * the end faults.  Freed with unguard(). */
static char *guarded(const char *msg, size_t len, size_t *maplen)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t n = (len + pg - 1) / pg * pg + pg;
	char *m = mmap(NULL, n, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(m, MAP_FAILED);
	cr_assert_eq(mprotect(m + n - pg, pg, PROT_NONE), 0);
	char *p = m + n - pg - len;
	memcpy(p, msg, len);
	*maplen = n;
	return p;
}

static void unguard(char *p, size_t len, size_t maplen)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char *m = p + len + pg - maplen;
	munmap(m, maplen);
}

/* ---- feeding a request (head, then body) in pieces ---- */

enum { WHOLE, BYTES, RANDOM };

struct outcome {
	int status;      /* 200: head and body complete; -1: incomplete */
	size_t head_len;
	size_t used;     /* head + body bytes */
	size_t plen;
	char *payload;
};

static size_t piece(int mode, unsigned *seed, size_t left)
{
	if (mode == WHOLE)
		return left;
	if (mode == BYTES)
		return 1;
	size_t most = left < 48 ? left : 48;
	return 1 + xorshift(seed) % most;
}

static void run(const char *msg, size_t len, int mode, unsigned seed,
                struct outcome *o)
{
	size_t maplen;
	char *buf = guarded(msg, len, &maplen);
	struct corio__http_request req;
	struct corio__http_header h[NHDR];
	size_t have = 0, last = 0;
	int r;
	memset(o, 0, sizeof *o);
	o->payload = malloc(len + 1);
	o->status = -1;
	for (;;) {
		if (have < len)
			have += piece(mode, &seed, len - have);
		r = corio__http_parse_request(buf, have, last, &req, h, NHDR,
		                              NULL);
		if (r != CORIO__HTTP_INCOMPLETE || have == len)
			break;
		last = have;
	}
	if (r == CORIO__HTTP_INCOMPLETE)
		goto out;
	if (r < 0) {
		o->status = -r;
		goto out;
	}
	cr_assert_leq((size_t)r, have);
	o->head_len = (size_t)r;
	struct corio__http_body d;
	corio__http_body_init(&d, req.body, req.content_length, NULL);
	size_t pos = (size_t)r;
	for (;;) {
		size_t used, pl;
		int br = corio__http_body_decode(&d, buf + pos, have - pos,
		                                 &used, &pl);
		if (br < 0) {
			o->status = -br;
			goto out;
		}
		cr_assert_leq(pl, used);
		memcpy(o->payload + o->plen, buf + pos, pl);
		o->plen += pl;
		pos += used;
		if (br == 1) {
			o->status = 200;
			o->used = pos;
			goto out;
		}
		cr_assert_eq(pos, have);
		if (have == len)
			goto out;
		have += piece(mode, &seed, len - have);
	}
out:
	unguard(buf, len, maplen);
}

/* Whole, byte by byte and in 21 random splits: one answer, returned; a
 * whole message (200) must have used every byte. */
static int check_splits(const char *name, const char *msg, size_t len)
{
	struct outcome w, o;
	run(msg, len, WHOLE, 1, &w);
	for (int k = 0; k < 22; k++) {
		run(msg, len, k == 0 ? BYTES : RANDOM, 0x9e3779b9u * (k + 1), &o);
		cr_assert_eq(o.status, w.status, "%s: split %d gave %d, whole %d",
		             name, k, o.status, w.status);
		cr_assert_eq(o.head_len, w.head_len, "%s", name);
		cr_assert_eq(o.used, w.used, "%s", name);
		/* after an error the payload decoded before it is moot */
		if (w.status == 200 || w.status == -1) {
			cr_assert_eq(o.plen, w.plen, "%s", name);
			cr_assert(!memcmp(o.payload, w.payload, w.plen), "%s", name);
		}
		free(o.payload);
	}
	free(w.payload);
	return w.status;
}

struct row {
	const char *name;
	const char *msg;
	size_t len;
	int want; /* 200 accepted (whole message), -1 incomplete, or status */
};

#define R(name, lit, want) { name, lit, sizeof(lit) - 1, want }
#define H11 " HTTP/1.1\r\nHost: a\r\n"
#define POST "POST / HTTP/1.1\r\nHost: a\r\n"
#define CHUNKED POST "Transfer-Encoding: chunked\r\n\r\n"

static const struct row table[] = {
	/* accepted */
	R("simple get", "GET /" H11 "\r\n", 200),
	R("absolute-form target", "GET http://a/b?c" H11 "\r\n", 200),
	R("asterisk-form for OPTIONS", "OPTIONS *" H11 "\r\n", 200),
	R("authority-form for CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 200),
	R("HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 200),
	R("leading empty line skipped", "\r\nGET /" H11 "\r\n", 200),
	R("content-length body", POST "Content-Length: 5\r\n\r\nhello", 200),
	R("content-length list of equal values", POST "Content-Length: 5, 5\r\n\r\nhello", 200),
	R("content-length repeated equal", POST "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 200),
	R("chunked", CHUNKED "5\r\nhello\r\n0\r\n\r\n", 200),
	R("chunked any case", POST "Transfer-Encoding: ChUnKeD\r\n\r\n0\r\n\r\n", 200),
	R("chunk ext with BWS before ';'", CHUNKED "5 ;a = b\r\nhello\r\n0\r\n\r\n", 200),
	R("chunk ext quoted", CHUNKED "5;a=\"x;y\\\"\"\r\nhello\r\n0;z\r\n\r\n", 200),
	R("trailer fields", CHUNKED "2\r\nhi\r\n0\r\nX-Sum: 1\r\nY:\r\n\r\n", 200),
	R("empty TE list elements", POST "Transfer-Encoding: ,chunked,\r\n\r\n0\r\n\r\n", 200),
	R("obs-text in a value", "GET /" H11 "X: \xc3\xa9\r\n\r\n", 200),
	/* incomplete */
	R("head cut short", "GET /" H11, -1),
	R("body cut short", POST "Content-Length: 10\r\n\r\nhello", -1),
	R("chunked cut short", CHUNKED "5\r\nhel", -1),
	/* request line */
	R("NUL in target", "GET /\0x" H11 "\r\n", 400),
	R("NUL in method", "G\0T /" H11 "\r\n", 400),
	R("missing version", "GET /\r\nHost: a\r\n\r\n", 400),
	R("lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400),
	R("space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
	R("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
	R("HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
	R("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505),
	R("HTTP/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400),
	R("asterisk with GET", "GET *" H11 "\r\n", 400),
	R("CONNECT with origin-form", "CONNECT /" H11 "\r\n", 400),
	R("CONNECT without port", "CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	R("two spaces", "GET  /" H11 "\r\n", 400),
	R("tab separator", "GET\t/" H11 "\r\n", 400),
	R("bad method char", "G(ET /" H11 "\r\n", 400),
	R("non-ASCII target", "GET /\xff" H11 "\r\n", 400),
	R("relative target", "GET a/b" H11 "\r\n", 400),
	R("bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n", 400),
	R("bare LF after CRLF lines", "GET /" H11 "\n", 400),
	R("bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400),
	/* fields */
	R("NUL in value", "GET /" H11 "X: a\0b\r\n\r\n", 400),
	R("control char in value", "GET /" H11 "X: a\x01\r\n\r\n", 400),
	R("DEL in value", "GET /" H11 "X: a\x7f\r\n\r\n", 400),
	R("bare CR in value", "GET /" H11 "X: a\rb\r\n\r\n", 400),
	R("obs-fold", "GET /" H11 "X: a\r\n b\r\n\r\n", 400),
	R("obs-fold with tab", "GET /" H11 "X: a\r\n\tb\r\n\r\n", 400),
	R("whitespace after request line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
	R("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
	R("tab before colon", "GET /" H11 "X\t: a\r\n\r\n", 400),
	R("space in name", "GET /" H11 "X Y: a\r\n\r\n", 400),
	R("bad char in name", "GET /" H11 "X@Y: a\r\n\r\n", 400),
	R("empty name", "GET /" H11 ": a\r\n\r\n", 400),
	R("no colon", "GET /" H11 "X\r\n\r\n", 400),
	R("HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400),
	R("two Hosts", "GET /" H11 "Host: b\r\n\r\n", 400),
	R("two Hosts in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400),
	R("Host with a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
	R("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
	/* framing */
	R("CL and TE", POST "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
	R("TE and CL", POST "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400),
	R("TE gzip, chunked", POST "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
	R("TE gzip then chunked fields", POST "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
	R("TE chunked, gzip", POST "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400),
	R("TE gzip alone", POST "Transfer-Encoding: gzip\r\n\r\n", 400),
	R("TE chunked twice", POST "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
	R("TE chunked in two fields", POST "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
	R("TE chunked with parameter", POST "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 400),
	R("TE empty", POST "Transfer-Encoding:\r\n\r\n", 400),
	R("TE xchunked", POST "Transfer-Encoding: xchunked\r\n\r\n", 400),
	R("TE chunked junk", POST "Transfer-Encoding: chunked x\r\n\r\n0\r\n\r\n", 400),
	R("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
	R("CL not digits", POST "Content-Length: abc\r\n\r\n", 400),
	R("CL empty", POST "Content-Length:\r\n\r\n", 400),
	R("CL negative", POST "Content-Length: -1\r\n\r\n", 400),
	R("CL plus sign", POST "Content-Length: +5\r\n\r\nhello", 400),
	R("CL hex", POST "Content-Length: 0x5\r\n\r\nhello", 400),
	R("CL inner space", POST "Content-Length: 1 2\r\n\r\n", 400),
	R("CL overflow", POST "Content-Length: 99999999999999999999\r\n\r\n", 400),
	R("CL 2^63", POST "Content-Length: 9223372036854775808\r\n\r\n", 400),
	R("CL list differing", POST "Content-Length: 5, 6\r\n\r\nhello", 400),
	R("CL list empty element", POST "Content-Length: 5,\r\n\r\nhello", 400),
	R("CL repeated differing", POST "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400),
	/* chunked body */
	R("chunk size 0x10", CHUNKED "0x10\r\n", 400),
	R("chunk size trailing space", CHUNKED "5 \r\nhello\r\n0\r\n\r\n", 400),
	R("chunk size 17 hex digits", CHUNKED "00000000000000005\r\nhello\r\n0\r\n\r\n", 400),
	R("chunk size 16 f's then data missing", CHUNKED "ffffffffffffffff\r\nab", -1),
	R("chunk size empty", CHUNKED "\r\nhello\r\n0\r\n\r\n", 400),
	R("chunk size junk", CHUNKED "5x\r\nhello\r\n0\r\n\r\n", 400),
	R("chunk size negative", CHUNKED "-5\r\nhello\r\n0\r\n\r\n", 400),
	R("chunk data without CRLF", CHUNKED "5\r\nhelloX\r\n0\r\n\r\n", 400),
	R("chunk data with LF only", CHUNKED "5\r\nhello\n0\r\n\r\n", 400),
	R("chunk line bare LF", CHUNKED "5\nhello\r\n0\r\n\r\n", 400),
	R("chunk ext without name", CHUNKED "5;\r\nhello\r\n0\r\n\r\n", 400),
	R("chunk ext bad value", CHUNKED "5;a=\r\nhello\r\n0\r\n\r\n", 400),
	R("chunk ext trailing space", CHUNKED "5;a=b \r\nhello\r\n0\r\n\r\n", 400),
	R("chunk ext bare CR in quote", CHUNKED "5;a=\"\r\"\r\nhello\r\n0\r\n\r\n", 400),
	R("trailer obs-fold", CHUNKED "0\r\nX: a\r\n b\r\n\r\n", 400),
	R("trailer space before colon", CHUNKED "0\r\nX : a\r\n\r\n", 400),
	R("trailer control char", CHUNKED "0\r\nX: \x01\r\n\r\n", 400),
	R("trailer without final CRLF LF", CHUNKED "0\r\n\r\r\n", 400),
};

Test(http_parse, table_of_requests_gets_the_same_answer_in_any_split)
{
	size_t n = sizeof table / sizeof table[0];
	cr_assert_geq(n, 40);
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &table[i];
		int got = check_splits(r->name, r->msg, r->len);
		cr_expect_eq(got, r->want, "%s: got %d, want %d", r->name, got,
		             r->want);
		if (got == 200) {
			struct outcome w;
			run(r->msg, r->len, WHOLE, 1, &w);
			cr_expect_eq(w.used, r->len, "%s: left bytes over", r->name);
			free(w.payload);
		}
	}
}

/* Rows too long to write out: built here, checked the same way. */
static char *repeat(const char *head, char c, size_t n, const char *tail,
                    size_t *len)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *s = malloc(hl + n + tl + 1);
	memcpy(s, head, hl);
	memset(s + hl, c, n);
	memcpy(s + hl + n, tail, tl + 1);
	*len = hl + n + tl;
	return s;
}

static void expect_built(const char *name, char *s, size_t len, int want)
{
	int got = check_splits(name, s, len);
	cr_expect_eq(got, want, "%s: got %d, want %d", name, got, want);
	free(s);
}

Test(http_parse, limits_answer_414_431_and_501)
{
	size_t len;
	char *s = repeat("GET /", 'a', 8191, H11 "\r\n", &len);
	expect_built("target of 8192 bytes", s, len, 200);
	s = repeat("GET /", 'a', 8192, H11 "\r\n", &len);
	expect_built("target of 8193 bytes", s, len, 414);
	s = repeat("GET /", 'a', 20000, "", &len);
	expect_built("endless target", s, len, 414);
	s = repeat("GET /", 'a', 8100, "", &len);
	s = realloc(s, len + 300);
	memcpy(s + len, " HTTP/1.1", 9);
	memset(s + len + 9, 'x', 200);
	len += 209;
	expect_built("endless version", s, len, 400);
	s = repeat("", 'G', 33, " /" H11 "\r\n", &len);
	expect_built("method of 33 bytes", s, len, 501);
	s = repeat("", 'G', 32, " /" H11 "\r\n", &len);
	expect_built("method of 32 bytes", s, len, 200);
	s = repeat("GET /" H11 "X: ", 'v', 17000, "\r\n\r\n", &len);
	expect_built("huge field", s, len, 431);
	s = repeat("GET /" H11 "X: ", 'v', 20000, "", &len);
	expect_built("endless field", s, len, 431);

	char *m = malloc(101 * 16 + 64);
	int k = sprintf(m, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 100; i++)
		k += sprintf(m + k, "X-%d: v\r\n", i);
	k += sprintf(m + k, "Host: a\r\n\r\n");
	expect_built("101 fields", m, (size_t)k, 431);
	m = malloc(101 * 16 + 64);
	k = sprintf(m, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < 99; i++)
		k += sprintf(m + k, "X-%d: v\r\n", i);
	k += sprintf(m + k, "\r\n");
	expect_built("100 fields", m, (size_t)k, 200);

	s = repeat(CHUNKED "1;e=", 'x', 1021, "\r\nx\r\n0\r\n\r\n", &len);
	expect_built("chunk ext of 1024 bytes", s, len, 200);
	s = repeat(CHUNKED "1;e=", 'x', 1022, "\r\nx\r\n0\r\n\r\n", &len);
	expect_built("chunk ext of 1025 bytes", s, len, 400);
	s = repeat(CHUNKED "0\r\nX: ", 'x', 9000, "\r\n\r\n", &len);
	expect_built("trailer over 8 KiB", s, len, 431);
}

Test(http_parse, limits_struct_overrides_defaults)
{
	struct corio__http_limits l = { .max_target = 4, .max_headers = 1 };
	struct corio__http_request r;
	struct corio__http_header h[4];
	const char *a = "GET /abcd HTTP/1.1\r\nHost: a\r\n\r\n";
	const char *b = "GET /abc HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
	cr_expect_eq(corio__http_parse_request(a, strlen(a), 0, &r, h, 4, &l),
	             -414);
	cr_expect_eq(corio__http_parse_request(b, strlen(b), 0, &r, h, 4, &l),
	             -431);
	/* the caller's array is a limit too */
	cr_expect_eq(corio__http_parse_request(b, strlen(b), 0, &r, h, 1, NULL),
	             -431);
	cr_expect_eq(corio__http_parse_request(b, strlen(b), 0, &r, h, 2, NULL),
	             (int)strlen(b));
}

static int req(const char *s, struct corio__http_request *r,
               struct corio__http_header *h)
{
	return corio__http_parse_request(s, strlen(s), 0, r, h, NHDR, NULL);
}

Test(http_parse, request_fields_and_framing)
{
	struct corio__http_request r;
	struct corio__http_header h[NHDR];
	const char *s = "\r\nPOST /x?y HTTP/1.1\r\nHost:  ex.com:80 \r\n"
	                "Content-Length: 3\r\nExpect: 100-Continue\r\n"
	                "X-Empty:\r\n\r\nabc";
	cr_assert_eq(req(s, &r, h), (int)strlen(s) - 3);
	cr_expect_eq(r.method_len, 4);
	cr_expect(!memcmp(r.method, "POST", 4));
	cr_expect_eq(r.target_len, 4);
	cr_expect(!memcmp(r.target, "/x?y", 4));
	cr_expect_eq(r.form, CORIO__HTTP_TARGET_ORIGIN);
	cr_expect_eq(r.minor_version, 1);
	cr_expect_eq(r.nheaders, 4);
	cr_expect_eq(r.host_len, 9);
	cr_expect(!memcmp(r.host, "ex.com:80", 9));
	cr_expect_eq(r.body, CORIO__HTTP_BODY_LENGTH);
	cr_expect_eq(r.content_length, 3);
	cr_expect(r.keep_alive);
	cr_expect(r.expect_continue);
	cr_expect_eq(h[3].value_len, 0);
	const struct corio__http_header *f =
		corio__http_find_header(h, r.nheaders, "content-LENGTH", 14);
	cr_assert_not_null(f);
	cr_expect_eq(f, &h[1]);
	cr_expect_null(corio__http_find_header(h, r.nheaders, "Host2", 5));

	cr_assert_gt(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", &r, h), 0);
	cr_expect(!r.keep_alive);
	cr_expect_eq(r.body, CORIO__HTTP_BODY_NONE);
	cr_assert_gt(req("GET / HTTP/1.0\r\n\r\n", &r, h), 0);
	cr_expect(!r.keep_alive);
	cr_expect_null(r.host);
	cr_assert_gt(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n", &r, h), 0);
	cr_expect(r.keep_alive);
	cr_expect(!r.expect_continue); /* HTTP/1.0 ignores it */
	cr_assert_gt(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", &r, h), 0);
	cr_expect(r.upgrade);
	cr_assert_gt(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &r, h), 0);
	cr_expect_eq(r.body, CORIO__HTTP_BODY_NONE);
	cr_assert_gt(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0009223372036854775807\r\n\r\n", &r, h), 0);
	cr_expect_eq(r.content_length, UINT64_C(9223372036854775807));
	cr_assert_gt(req("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &r, h), 0);
	cr_expect_eq(r.form, CORIO__HTTP_TARGET_ASTERISK);
	cr_assert_gt(req("CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n", &r, h), 0);
	cr_expect_eq(r.form, CORIO__HTTP_TARGET_AUTHORITY);
	cr_assert_gt(req("GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n", &r, h), 0);
	cr_expect_eq(r.form, CORIO__HTTP_TARGET_ABSOLUTE);
}

Test(http_parse, resuming_reads_only_new_bytes_and_agrees)
{
	struct corio__http_request r;
	struct corio__http_header h[NHDR];
	char buf[64] = "GET / HTTP/1.1\r\nHost: a\r\n";
	size_t n = strlen(buf);
	cr_assert_eq(corio__http_parse_request(buf, n, 0, &r, h, NHDR, NULL),
	             CORIO__HTTP_INCOMPLETE);
	/* Bytes before last_len are not looked at again: poisoning them
	 * with a NUL is not noticed. */
	strcat(buf, "\r\n");
	buf[22] = '\0';
	int got = corio__http_parse_request(buf, n + 2, n, &r, h, NHDR, NULL);
	cr_expect(got == -400 || got == (int)n + 2);
	buf[22] = 'x';
	cr_expect_eq(corio__http_parse_request(buf, n + 2, n, &r, h, NHDR, NULL),
	             (int)n + 2);
	/* last_len beyond len is taken as 0 */
	cr_expect_eq(corio__http_parse_request(buf, n + 2, 999, &r, h, NHDR,
	                                       NULL), (int)n + 2);
	/* output is written only on success */
	memset(&r, 0x5a, sizeof r);
	cr_expect_eq(corio__http_parse_request("GET", 3, 0, &r, h, NHDR, NULL),
	             CORIO__HTTP_INCOMPLETE);
	cr_expect_eq(((unsigned char *)&r)[0], 0x5a);
}

/* ---- responses ---- */

static int resp(const char *s, const char *m, struct corio__http_response *r)
{
	struct corio__http_header h[NHDR];
	return corio__http_parse_response(s, strlen(s), 0, m, m ? strlen(m) : 0,
	                                  r, h, NHDR, NULL);
}

Test(http_parse, response_framing_follows_rfc9112_section_6_3)
{
	struct corio__http_response r;
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n";
	cr_assert_eq(resp(s, "GET", &r), (int)strlen(s));
	cr_expect_eq(r.status, 200);
	cr_expect_eq(r.reason_len, 2);
	cr_expect(!memcmp(r.reason, "OK", 2));
	cr_expect_eq(r.body, CORIO__HTTP_BODY_LENGTH);
	cr_expect_eq(r.content_length, 12);
	cr_expect(r.keep_alive);
	cr_assert_gt(resp(s, "HEAD", &r), 0);
	cr_expect_eq(r.body, CORIO__HTTP_BODY_NONE);
	cr_assert_gt(resp("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", NULL, &r), 0);
	cr_expect_eq(r.body, CORIO__HTTP_BODY_NONE);
	cr_assert_gt(resp("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", NULL, &r), 0);
	cr_expect_eq(r.body, CORIO__HTTP_BODY_NONE);
	cr_assert_gt(resp("HTTP/1.1 100 Continue\r\n\r\n", NULL, &r), 0);
	cr_expect_eq(r.body, CORIO__HTTP_BODY_NONE);
	cr_expect_eq(r.status, 100);
	cr_assert_gt(resp("HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT", &r), 0);
	cr_expect_eq(r.body, CORIO__HTTP_BODY_NONE);
	cr_assert_gt(resp("HTTP/1.1 200\r\n\r\n", NULL, &r), 0);
	cr_expect_eq(r.body, CORIO__HTTP_BODY_CLOSE);
	cr_expect(!r.keep_alive);
	cr_expect_eq(r.reason_len, 0);
	cr_assert_gt(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", NULL, &r), 0);
	cr_expect_eq(r.body, CORIO__HTTP_BODY_CHUNKED);
	cr_assert_gt(resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", NULL, &r), 0);
	cr_expect(!r.keep_alive);
	cr_assert_gt(resp("HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n", NULL, &r), 0);
	cr_expect(r.keep_alive);
	cr_assert_gt(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", NULL, &r), 0);
	cr_expect(!r.keep_alive);

	cr_expect_eq(resp("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", NULL, &r), -400);
	cr_expect_eq(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", NULL, &r), -501);
	cr_expect_eq(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", NULL, &r), -400);
	cr_expect_eq(resp("HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", NULL, &r), -400);
	cr_expect_eq(resp("HTTP/2 200 OK\r\n\r\n", NULL, &r), -400);
	cr_expect_eq(resp("HTTP/2.0 200 OK\r\n\r\n", NULL, &r), -505);
	cr_expect_eq(resp("HTTP/1.1 099 X\r\n\r\n", NULL, &r), -400);
	cr_expect_eq(resp("HTTP/1.1 2000 X\r\n\r\n", NULL, &r), -400);
	cr_expect_eq(resp("HTTP/1.1 200 O\x01K\r\n\r\n", NULL, &r), -400);
	cr_expect_eq(resp("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", NULL, &r), -400);
	cr_expect_eq(resp("HTTP/1.1 200 OK\r\nX : a\r\n\r\n", NULL, &r), -400);
	cr_expect_eq(resp("HTTP/1.1 200 OK\r\n", NULL, &r), CORIO__HTTP_INCOMPLETE);
}

/* ---- the body decoder ---- */

/* Encode p[0..n) as chunks of random sizes with random extensions. */
static size_t encode_chunked(const char *p, size_t n, char *out, unsigned *seed)
{
	size_t o = 0, i = 0;
	while (i < n) {
		size_t c = 1 + xorshift(seed) % 300;
		if (c > n - i)
			c = n - i;
		o += (size_t)sprintf(out + o, "%zx%s\r\n", c,
		                     xorshift(seed) % 3 ? "" : " ; k=\"v\"");
		memcpy(out + o, p + i, c);
		o += c;
		i += c;
		out[o++] = '\r';
		out[o++] = '\n';
	}
	o += (size_t)sprintf(out + o, "0\r\nT: x\r\n\r\nNEXT");
	return o;
}

Test(http_parse, chunked_decodes_in_place_in_any_split)
{
	unsigned seed = 12345;
	size_t n = 5000;
	char *p = malloc(n), *enc = malloc(n * 2 + 10000), *buf = malloc(n * 3 + 10000);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)xorshift(&seed);
	size_t elen = encode_chunked(p, n, enc, &seed);
	for (int mode = WHOLE; mode <= RANDOM; mode++) {
		struct corio__http_body d;
		corio__http_body_init(&d, CORIO__HTTP_BODY_CHUNKED, 0, NULL);
		size_t pos = 0, got = 0;
		int rc = 0;
		while (rc == 0) {
			size_t k = piece(mode, &seed, elen - pos);
			memcpy(buf, enc + pos, k);
			size_t used, pl;
			rc = corio__http_body_decode(&d, buf, k, &used, &pl);
			cr_assert_geq(rc, 0);
			cr_assert(!memcmp(buf, p + got, pl));
			got += pl;
			pos += used;
		}
		cr_expect_eq(got, n);
		cr_expect_eq(d.total, n);
		cr_expect_eq(elen - pos, 4); /* "NEXT" is the next message's */
		cr_expect(corio__http_body_done(&d));
		size_t used = 9, pl = 9;
		cr_expect_eq(corio__http_body_decode(&d, buf, 4, &used, &pl), 1);
		cr_expect_eq(used, 0);
		cr_expect_eq(corio__http_body_eof(&d), 0);
	}
	free(p);
	free(enc);
	free(buf);
}

Test(http_parse, length_and_close_bodies_and_eof)
{
	struct corio__http_body d;
	char buf[16] = "helloGET";
	size_t used, pl;
	corio__http_body_init(&d, CORIO__HTTP_BODY_LENGTH, 5, NULL);
	cr_expect_eq(corio__http_body_decode(&d, buf, 3, &used, &pl), 0);
	cr_expect_eq(used, 3);
	cr_expect_eq(corio__http_body_eof(&d), -400);
	corio__http_body_init(&d, CORIO__HTTP_BODY_LENGTH, 5, NULL);
	cr_expect_eq(corio__http_body_decode(&d, buf, 8, &used, &pl), 1);
	cr_expect_eq(used, 5);
	cr_expect_eq(pl, 5);
	corio__http_body_init(&d, CORIO__HTTP_BODY_LENGTH, 0, NULL);
	cr_expect(corio__http_body_done(&d));
	cr_expect_eq(corio__http_body_decode(&d, buf, 8, &used, &pl), 1);
	cr_expect_eq(used, 0);
	corio__http_body_init(&d, CORIO__HTTP_BODY_CLOSE, 0, NULL);
	cr_expect_eq(corio__http_body_decode(&d, buf, 8, &used, &pl), 0);
	cr_expect_eq(pl, 8);
	cr_expect_eq(corio__http_body_eof(&d), 0);
	cr_expect(corio__http_body_done(&d));
	corio__http_body_init(&d, CORIO__HTTP_BODY_CHUNKED, 0, NULL);
	memcpy(buf, "5\r\nhel", 6);
	cr_expect_eq(corio__http_body_decode(&d, buf, 6, &used, &pl), 0);
	cr_expect_eq(corio__http_body_eof(&d), -400);
	/* an error sticks */
	corio__http_body_init(&d, CORIO__HTTP_BODY_CHUNKED, 0, NULL);
	cr_expect_eq(corio__http_body_decode(&d, (char[]){"x"}, 1, &used, &pl), -400);
	cr_expect_eq(corio__http_body_decode(&d, (char[]){"0"}, 1, &used, &pl), -400);
}

Test(http_parse, has_token_reads_comma_lists)
{
	const char *v = " Keep-Alive ,, Upgrade ;x=1,close";
	size_t n = strlen(v);
	cr_expect(corio__http_has_token(v, n, "keep-alive", 10));
	cr_expect(corio__http_has_token(v, n, "upgrade", 7));
	cr_expect(corio__http_has_token(v, n, "CLOSE", 5));
	cr_expect(!corio__http_has_token(v, n, "clos", 4));
	cr_expect(!corio__http_has_token(v, n, "", 0));
	cr_expect(!corio__http_has_token("", 0, "close", 5));
	cr_expect(!corio__http_has_token("closed", 6, "close", 5));
}

/* ---- differential: Debian's http-parser 2.9 as the oracle ---- */

#ifdef HAVE_HTTP_PARSER
struct omsg {
	char method[16];
	char url[256];
	int minor;
	char fields[2048]; /* "name\0value\0" ... */
	size_t flen;
	int keep_alive;
	int chunked;
	uint64_t content_length;
	char body[256];
	size_t blen;
	bool done;
};

struct oracle {
	struct omsg m[4];
	int n;
	bool in_value;
};

static struct omsg *cur(http_parser *p)
{
	struct oracle *o = p->data;
	return &o->m[o->n];
}

static void add(char *dst, size_t *dl, size_t cap, const char *s, size_t n)
{
	cr_assert_lt(*dl + n, cap);
	memcpy(dst + *dl, s, n);
	*dl += n;
}

static int on_url(http_parser *p, const char *s, size_t n)
{
	size_t l = strlen(cur(p)->url);
	add(cur(p)->url, &l, sizeof cur(p)->url, s, n);
	return 0;
}

static int on_field(http_parser *p, const char *s, size_t n)
{
	struct oracle *o = p->data;
	struct omsg *m = cur(p);
	if (o->in_value || m->flen == 0) {
		if (m->flen)
			m->fields[m->flen++] = '\0';
		o->in_value = false;
	}
	add(m->fields, &m->flen, sizeof m->fields, s, n);
	return 0;
}

static int on_value(http_parser *p, const char *s, size_t n)
{
	struct oracle *o = p->data;
	struct omsg *m = cur(p);
	if (!o->in_value) {
		m->fields[m->flen++] = '\0';
		o->in_value = true;
	}
	add(m->fields, &m->flen, sizeof m->fields, s, n);
	return 0;
}

static int on_headers(http_parser *p)
{
	struct oracle *o = p->data;
	struct omsg *m = cur(p);
	if (m->flen && o->in_value)
		m->fields[m->flen++] = '\0';
	else if (m->flen) /* last field had an empty value */
		m->fields[m->flen++] = '\0', m->fields[m->flen++] = '\0';
	o->in_value = false;
	snprintf(m->method, sizeof m->method, "%s",
	         http_method_str((enum http_method)p->method));
	m->minor = p->http_minor;
	m->keep_alive = http_should_keep_alive(p);
	m->chunked = (p->flags & F_CHUNKED) != 0;
	m->content_length = p->content_length;
	return 0;
}

static int on_body(http_parser *p, const char *s, size_t n)
{
	add(cur(p)->body, &cur(p)->blen, sizeof cur(p)->body, s, n);
	return 0;
}

static int on_complete(http_parser *p)
{
	struct oracle *o = p->data;
	o->m[o->n].done = true;
	o->n++;
	return 0;
}

static void oracle_parse(const char *s, size_t n, struct oracle *o)
{
	http_parser p;
	http_parser_settings cb = {
		.on_url = on_url, .on_header_field = on_field,
		.on_header_value = on_value, .on_headers_complete = on_headers,
		.on_body = on_body, .on_message_complete = on_complete,
	};
	memset(o, 0, sizeof *o);
	http_parser_init(&p, HTTP_REQUEST);
	p.data = o;
	size_t used = http_parser_execute(&p, &cb, s, n);
	cr_assert_eq(used, n, "oracle rejected: %s",
	             http_errno_description(HTTP_PARSER_ERRNO(&p)));
}

/* Ours over the same bytes, one message after another, compared with the
 * oracle's record of each. */
static void compare(const char *s, size_t n)
{
	struct oracle o;
	oracle_parse(s, n, &o);
	char *buf = malloc(n);
	memcpy(buf, s, n);
	size_t pos = 0;
	int k = 0;
	for (; pos < n; k++) {
		struct corio__http_request r;
		struct corio__http_header h[NHDR];
		int hl = corio__http_parse_request(buf + pos, n - pos, 0, &r, h,
		                                   NHDR, NULL);
		cr_assert_gt(hl, 0, "ours rejected message %d of <%s>: %d", k, s, hl);
		cr_assert_lt(k, o.n);
		const struct omsg *m = &o.m[k];
		cr_expect_eq(strlen(m->method), r.method_len);
		cr_expect(!memcmp(m->method, r.method, r.method_len), "%s", s);
		cr_expect_eq(strlen(m->url), r.target_len, "%s", s);
		cr_expect(!memcmp(m->url, r.target, r.target_len), "%s", s);
		cr_expect_eq(m->minor, r.minor_version, "%s", s);
		cr_expect_eq(m->keep_alive != 0, r.keep_alive, "keep-alive: %s", s);
		cr_expect_eq(m->chunked != 0, r.body == CORIO__HTTP_BODY_CHUNKED, "%s", s);
		if (!m->chunked && m->content_length != UINT64_MAX)
			cr_expect_eq(m->content_length, r.content_length, "%s", s);
		else if (!m->chunked)
			cr_expect_eq(r.body, CORIO__HTTP_BODY_NONE, "%s", s);
		/* fields, in order */
		const char *f = m->fields;
		for (size_t i = 0; i < r.nheaders; i++) {
			cr_assert_lt((size_t)(f - m->fields), m->flen, "%s", s);
			size_t nl = strlen(f);
			cr_expect_eq(nl, h[i].name_len, "%s", s);
			cr_expect(!memcmp(f, h[i].name, nl), "%s", s);
			f += nl + 1;
			size_t vl = strlen(f);
			cr_expect_eq(vl, h[i].value_len, "value of %.*s in %s",
			             (int)h[i].name_len, h[i].name, s);
			cr_expect(!memcmp(f, h[i].value, vl), "%s", s);
			f += vl + 1;
		}
		/* the oracle reports trailer fields as fields; we drop them */
		if (m->chunked)
			cr_expect_leq((size_t)(f - m->fields), m->flen, "%s", s);
		else
			cr_expect_eq((size_t)(f - m->fields), m->flen, "%s", s);
		pos += (size_t)hl;
		struct corio__http_body d;
		size_t used, pl;
		corio__http_body_init(&d, r.body, r.content_length, NULL);
		cr_assert_eq(corio__http_body_decode(&d, buf + pos, n - pos,
		                                     &used, &pl), 1);
		cr_expect_eq(pl, m->blen, "%s", s);
		cr_expect(!memcmp(buf + pos, m->body, pl), "%s", s);
		pos += used;
	}
	cr_expect_eq(k, o.n, "%s", s);
	free(buf);
}
#endif

static const char *const valid[] = {
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /index.html?q=1&r=%20x HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, Close\r\nUpgrade: foo\r\n\r\n",
	"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n",
	"DELETE /x/y HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET http://example.com:8080/a/b?c HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	"PUT /p HTTP/1.1\r\nHost: a\r\ncontent-length: 11\r\nContent-Type: text/plain\r\n\r\nhello world",
	"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nA;name=val\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n",
	"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n1\r\nx\r\n0\r\n\r\n",
	"PATCH /p HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi",
	"GET /%C3%A9 HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Tab:\tv\t w\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Obs: caf\xc3\xa9\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nCookie: a=b; c=d\r\nCookie: e=f\r\n\r\n",
	"GET / HTTP/1.1\r\nhost: A.B.C\r\nACCEPT-encoding: gzip, deflate\r\n\r\n",
	"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	/* pipelined pairs */
	"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
	"POST /1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nz",
	"GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"HEAD /1 HTTP/1.1\r\nHost: a\r\n\r\nDELETE /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\ndata",
	"POST /1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
};

Test(http_parse, valid_requests_agree_with_http_parser)
{
#ifndef HAVE_HTTP_PARSER
	cr_skip_test("libhttp-parser-dev is not installed: no oracle");
#else
	size_t n = sizeof valid / sizeof valid[0];
	cr_assert_geq(n, 30);
	for (size_t i = 0; i < n; i++)
		compare(valid[i], strlen(valid[i]));
#endif
}

Test(http_parse, valid_requests_give_one_answer_in_any_split)
{
	/* The first message of each, through the split checker. */
	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		struct corio__http_request r;
		struct corio__http_header h[NHDR];
		const char *s = valid[i];
		int hl = corio__http_parse_request(s, strlen(s), 0, &r, h, NHDR,
		                                   NULL);
		cr_assert_gt(hl, 0, "%s", s);
		cr_expect_eq(check_splits(s, s, strlen(s)), 200, "%s", s);
	}
}
