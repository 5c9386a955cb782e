/* SPDX-License-Identifier: MIT */
/*
 * http_parse.c - HTTP/1.1 heads and body framing (RFC 9112), in place.
 * A head is parsed in two passes: a resumable byte scan that finds its end
 * and rejects what is wrong byte by byte (control characters, bare CR or
 * LF, limits), then one parse of the complete head (start line, fields,
 * framing).  The body decoder is a byte-level state machine.  Only libc:
 * the fuzzers compile this file on its own.
 */
#include "http_parse.h"

#include <string.h>

enum {
	BAD = -400,
	TOO_LONG = -414,
	TOO_BIG = -431,
	NOT_IMPL = -501,
	VERSION = -505,
	LINE_OVER = -2, /* scan: the start line outgrew its budget */
};

/* Method, SP, SP, "HTTP/1.1", CRLF: a start line's bytes besides the
 * target; plus room for a few leading empty lines. */
#define LINE_EXTRA (CORIO__HTTP_METHOD_MAX + 12 + 8)

/* Limits with defaults filled in and caps applied. */
struct lims {
	size_t target, head, fields, ext, trailer;
};

static size_t pick(size_t v, size_t def)
{
	if (v == 0)
		v = def;
	return v > CORIO__HTTP_LIMIT_CAP ? CORIO__HTTP_LIMIT_CAP : v;
}

static struct lims get_lims(const struct corio__http_limits *l)
{
	static const struct corio__http_limits zero;
	if (!l)
		l = &zero;
	return (struct lims){
		.target = pick(l->max_target, 8192),
		.head = pick(l->max_head, 16384),
		.fields = pick(l->max_headers, 100),
		.ext = pick(l->max_chunk_ext, 1024),
		.trailer = pick(l->max_trailer, 8192),
	};
}

/* ---- character classes (RFC 9110 section 5.6) ---- */

static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* field-vchar / SP / HTAB: what a field value, a reason phrase or a
 * trailer value may hold (obs-text included). */
static bool is_vchar_ws(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int hexval(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

static bool name_is(const struct corio__http_header *h, const char *s)
{
	size_t n = strlen(s);
	return h->name_len == n && ieq(h->name, s, n);
}

/* ---- the scan: where does the head end, is every byte allowed ---- */

/* Bytes of leading empty lines (CRLF pairs) present in b[0..len). */
static size_t leading_crlf(const unsigned char *b, size_t len)
{
	size_t i = 0;
	while (i + 1 < len && b[i] == '\r' && b[i + 1] == '\n')
		i += 2;
	return i;
}

struct scan {
	size_t skip;    /* leading empty lines */
	size_t le;      /* index of the start line's LF */
};

/* The first LF in b[skip..from), else le (the first one seen after). */
static size_t first_lf(const unsigned char *b, size_t skip, size_t from,
                       size_t le)
{
	const unsigned char *nl = NULL;
	if (from > skip)
		nl = memchr(b + skip, '\n', from - skip);
	return nl ? (size_t)(nl - b) : le;
}

/*
 * Scan b[from..len), knowing b[0..from) passed an earlier scan.  Each
 * verdict depends only on the bytes up to the position it is made at, so
 * any split of the input between calls gives the same answer.  The start
 * line must end (LF) before index max_line; the field section may hold
 * max_head bytes after it.  Where the start line ends matters only to
 * those limits and to the caller, so b[skip..from) is searched for it
 * only when a limit is near or the head is complete: a head trickling in
 * is otherwise never rescanned.  Returns the head length, INCOMPLETE,
 * BAD, TOO_BIG or LINE_OVER.
 */
static int scan_head(const unsigned char *b, size_t len, size_t from,
                     size_t max_line, size_t max_head, struct scan *s)
{
	size_t skip = leading_crlf(b, len);
	size_t le = SIZE_MAX; /* the start line's LF, if seen */
	if (from > len)
		from = 0;
	bool looked = from <= skip; /* b[skip..from) searched for it */
	s->skip = skip;
	for (size_t i = from; i < len; i++) {
		if (i >= max_line || i > skip + max_head) {
			if (!looked)
				le = first_lf(b, skip, from, le);
			looked = true;
			if (le == SIZE_MAX && i >= max_line)
				return LINE_OVER;
			if (le != SIZE_MAX && i - le > max_head)
				return TOO_BIG;
		}
		unsigned char c = b[i];
		if (i > 0 && b[i - 1] == '\r' && c != '\n')
			return BAD; /* bare CR */
		if (c >= 0x20 && c != 0x7f)
			continue;
		if (c == '\t' || c == '\r')
			continue;
		if (c != '\n' || i == 0 || b[i - 1] != '\r')
			return BAD; /* control character or bare LF */
		if (i < skip)
			continue;
		/* An empty line after the first LF past the leading ones. */
		if (i >= skip + 2 && b[i - 2] == '\n') {
			s->le = looked ? le : first_lf(b, skip, from, le);
			return (int)(i + 1);
		}
		if (le == SIZE_MAX)
			le = i;
	}
	return CORIO__HTTP_INCOMPLETE;
}

/* ---- start lines ---- */

/* "HTTP/" DIGIT "." DIGIT and nothing after; only 1.0 and 1.1 served. */
static int parse_version(const unsigned char *v, size_t n, int *minor)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || !is_digit(v[5]) ||
	    v[6] != '.' || !is_digit(v[7]))
		return BAD;
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return VERSION;
	*minor = v[7] - '0';
	return 0;
}

/* scheme ":" and something: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static bool is_scheme(const char *t, size_t n)
{
	size_t i;
	if (!(lower((unsigned char)t[0]) >= 'a' && lower((unsigned char)t[0]) <= 'z'))
		return false;
	for (i = 1; i < n && t[i] != ':'; i++) {
		unsigned char c = lower((unsigned char)t[i]);
		if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '+' ||
		      c == '-' || c == '.'))
			return false;
	}
	return i + 1 < n; /* a ':' with something after it */
}

/* host ":" port, nothing else (CONNECT's authority-form). */
static bool is_authority(const char *t, size_t n)
{
	size_t colon = n;
	for (size_t i = 0; i < n; i++) {
		if (strchr("/?#@", t[i]))
			return false;
		if (t[i] == ':')
			colon = i;
	}
	if (colon == 0 || colon + 1 >= n)
		return false;
	for (size_t i = colon + 1; i < n; i++)
		if (!is_digit((unsigned char)t[i]))
			return false;
	return true;
}

static int target_form(struct corio__http_request *r)
{
	const char *t = r->target;
	size_t n = r->target_len;
	bool connect = r->method_len == 7 && !memcmp(r->method, "CONNECT", 7);
	if (connect) {
		r->form = CORIO__HTTP_TARGET_AUTHORITY;
		return is_authority(t, n) ? 0 : BAD;
	}
	if (n == 1 && t[0] == '*') {
		r->form = CORIO__HTTP_TARGET_ASTERISK;
		return r->method_len == 7 && !memcmp(r->method, "OPTIONS", 7) ?
		       0 : BAD;
	}
	if (t[0] == '/') {
		r->form = CORIO__HTTP_TARGET_ORIGIN;
		return 0;
	}
	r->form = CORIO__HTTP_TARGET_ABSOLUTE;
	return is_scheme(t, n) ? 0 : BAD;
}

/*
 * method SP request-target SP HTTP-version, in p[0..n) without its CRLF.
 * With !complete, p[0..n) is a prefix cut at the line budget: report the
 * first fault in it, and BAD if it has none (the line is too long).
 */
static int parse_request_line(const unsigned char *p, size_t n, bool complete,
                              size_t max_target, struct corio__http_request *r)
{
	size_t i = 0;
	while (i < n && is_tchar(p[i]))
		if (++i > CORIO__HTTP_METHOD_MAX)
			return NOT_IMPL;
	if (i == 0 || i == n || p[i] != ' ')
		return BAD;
	r->method = (const char *)p;
	r->method_len = i++;
	size_t ts = i;
	for (; i < n && p[i] != ' '; i++) {
		if (i - ts >= max_target)
			return TOO_LONG;
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return BAD;
	}
	if (i == n || i == ts || !complete)
		return BAD;
	r->target = (const char *)p + ts;
	r->target_len = i - ts;
	int rc = parse_version(p + i + 1, n - i - 1, &r->minor_version);
	return rc < 0 ? rc : target_form(r);
}

/* HTTP-version SP 3DIGIT [SP reason-phrase], without its CRLF. */
static int parse_status_line(const unsigned char *p, size_t n,
                             struct corio__http_response *r)
{
	if (n < 12 || p[8] != ' ')
		return BAD;
	int rc = parse_version(p, 8, &r->minor_version);
	if (rc < 0)
		return rc;
	if (!is_digit(p[9]) || !is_digit(p[10]) || !is_digit(p[11]) ||
	    p[9] == '0')
		return BAD;
	r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	r->reason = (const char *)p + n;
	r->reason_len = 0;
	if (n == 12)
		return 0;
	if (p[12] != ' ')
		return BAD;
	for (size_t i = 13; i < n; i++)
		if (!is_vchar_ws(p[i]))
			return BAD;
	r->reason = (const char *)p + 13;
	r->reason_len = n - 13;
	return 0;
}

/* ---- field lines ---- */

/*
 * The field section p[0..n), which ends with an empty line and, as the
 * scan proved, has a LF after every CR and no other control character
 * than HTAB.  Stores up to cap fields; one more is TOO_BIG.
 */
static int parse_fields(const unsigned char *p, size_t n,
                        struct corio__http_header *h, size_t cap,
                        size_t *count)
{
	size_t i = 0, k = 0;
	while (i < n && p[i] != '\r') {
		if (k == cap)
			return TOO_BIG;
		size_t ns = i;
		while (i < n && is_tchar(p[i]))
			i++;
		/* obs-fold, whitespace before the colon, a bad name */
		if (i == ns || i == n || p[i] != ':')
			return BAD;
		h[k].name = (const char *)p + ns;
		h[k].name_len = i - ns;
		for (i++; i < n && is_ws(p[i]); i++)
			;
		size_t vs = i, ve = i;
		for (; i < n && p[i] != '\r'; i++) {
			if (!is_vchar_ws(p[i]))
				return BAD;
			if (!is_ws(p[i]))
				ve = i + 1;
		}
		h[k].value = (const char *)p + vs;
		h[k].value_len = ve - vs;
		k++;
		i += 2;
	}
	*count = k;
	return 0;
}

/* ---- framing fields ---- */

/* Fold one Content-Length value ("5" or "5, 5") into *cl; every value
 * seen must be the same, all digits, below 2^63. */
static int merge_length(const char *v, size_t n, bool *seen, uint64_t *cl)
{
	size_t i = 0;
	for (;;) {
		while (i < n && is_ws((unsigned char)v[i]))
			i++;
		if (i == n || !is_digit((unsigned char)v[i]))
			return BAD;
		uint64_t x = 0;
		for (; i < n && is_digit((unsigned char)v[i]); i++) {
			unsigned d = (unsigned)(v[i] - '0');
			if (x > (UINT64_C(0x7fffffffffffffff) - d) / 10)
				return BAD;
			x = x * 10 + d;
		}
		while (i < n && is_ws((unsigned char)v[i]))
			i++;
		if (*seen && x != *cl)
			return BAD;
		*seen = true;
		*cl = x;
		if (i == n)
			return 0;
		if (v[i++] != ',')
			return BAD;
	}
}

/* What the Transfer-Encoding fields, taken together in order, say. */
struct te {
	bool present;
	unsigned chunked;   /* "chunked" elements */
	bool last_chunked;  /* the last element so far is "chunked" */
	bool unknown;       /* another coding */
	bool bad;           /* an element that is not token [params] */
};

/* Fold one Transfer-Encoding value into *te. */
static void merge_te(const char *v, size_t n, struct te *te)
{
	size_t i = 0;
	te->present = true;
	while (i <= n) {
		size_t s = i;
		while (i < n && v[i] != ',')
			i++;
		size_t e = i++;
		while (s < e && is_ws((unsigned char)v[s]))
			s++;
		while (e > s && is_ws((unsigned char)v[e - 1]))
			e--;
		if (s == e)
			continue; /* empty list element */
		size_t t = s;
		while (t < e && is_tchar((unsigned char)v[t]))
			t++;
		size_t rest = t;
		while (rest < e && is_ws((unsigned char)v[rest]))
			rest++;
		if (t == s || (rest < e && v[rest] != ';')) {
			te->bad = true;
			continue;
		}
		/* chunked takes no parameters: with some it is not chunked */
		bool ch = t - s == 7 && ieq(v + s, "chunked", 7) && rest == e;
		if (ch)
			te->chunked++;
		else if (t - s == 7 && ieq(v + s, "chunked", 7))
			te->bad = true;
		else
			te->unknown = true;
		te->last_chunked = ch;
	}
}

/* The verdict on Transfer-Encoding: 0 (chunked), BAD or NOT_IMPL. */
static int te_verdict(const struct te *te)
{
	if (te->bad || te->chunked > 1 || !te->last_chunked)
		return BAD;
	return te->unknown ? NOT_IMPL : 0;
}

/* Host: uri-host [":" port], possibly empty: unreserved, pct-encoded,
 * sub-delims, ':' and the brackets of an IP literal. */
static bool host_ok(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		bool alnum = is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z');
		if (!alnum && (c == 0 || !strchr("-._~%!$&'()*+,;=:[]", c)))
			return false;
	}
	return true;
}

/* What a head's fields say about framing and the connection. */
struct facts {
	struct te te;
	bool cl_seen;
	uint64_t cl;
	unsigned hosts;
	const struct corio__http_header *host;
	bool close, keep_alive, conn_upgrade, upgrade, expect_continue;
};

static int gather(const struct corio__http_header *h, size_t n,
                  struct facts *f)
{
	memset(f, 0, sizeof *f);
	for (size_t k = 0; k < n; k++, h++) {
		if (name_is(h, "content-length")) {
			if (merge_length(h->value, h->value_len, &f->cl_seen,
			                 &f->cl) < 0)
				return BAD;
		} else if (name_is(h, "transfer-encoding")) {
			merge_te(h->value, h->value_len, &f->te);
		} else if (name_is(h, "host")) {
			f->hosts++;
			f->host = h;
		} else if (name_is(h, "connection")) {
			f->close |= corio__http_has_token(h->value,
			                   h->value_len, "close", 5);
			f->keep_alive |= corio__http_has_token(h->value,
			                   h->value_len, "keep-alive", 10);
			f->conn_upgrade |= corio__http_has_token(h->value,
			                   h->value_len, "upgrade", 7);
		} else if (name_is(h, "upgrade")) {
			f->upgrade = true;
		} else if (name_is(h, "expect")) {
			f->expect_continue |= h->value_len == 12 &&
			        ieq(h->value, "100-continue", 12);
		}
	}
	return 0;
}

static bool keeps_alive(int minor, const struct facts *f)
{
	return !f->close && (minor >= 1 || f->keep_alive);
}

static void set_length(enum corio__http_body_kind *body, uint64_t *cl,
                       uint64_t n)
{
	*body = n ? CORIO__HTTP_BODY_LENGTH : CORIO__HTTP_BODY_NONE;
	*cl = n;
}

/* RFC 9112 sections 3.2 and 6 for a request. */
static int request_framing(struct corio__http_request *r,
                           const struct facts *f)
{
	if (f->hosts > 1 || (r->minor_version == 1 && f->hosts == 0))
		return BAD;
	if (f->host && !host_ok(f->host->value, f->host->value_len))
		return BAD;
	r->host = f->host ? f->host->value : NULL;
	r->host_len = f->host ? f->host->value_len : 0;
	r->keep_alive = keeps_alive(r->minor_version, f);
	r->expect_continue = r->minor_version == 1 && f->expect_continue;
	r->upgrade = f->conn_upgrade && f->upgrade;
	set_length(&r->body, &r->content_length, 0);
	if (f->te.present) {
		if (r->minor_version == 0 || f->cl_seen)
			return BAD;
		int rc = te_verdict(&f->te);
		if (rc < 0)
			return rc;
		r->body = CORIO__HTTP_BODY_CHUNKED;
	} else if (f->cl_seen) {
		set_length(&r->body, &r->content_length, f->cl);
	}
	return 0;
}

/* RFC 9112 section 6.3 for a response to a request with method m. */
static int response_framing(struct corio__http_response *r,
                            const struct facts *f, const char *m, size_t mn)
{
	int s = r->status;
	bool head = m && mn == 4 && !memcmp(m, "HEAD", 4);
	bool connect = m && mn == 7 && !memcmp(m, "CONNECT", 7);
	if (f->te.present && (f->cl_seen || r->minor_version == 0))
		return BAD;
	int te = f->te.present ? te_verdict(&f->te) : 0;
	r->keep_alive = keeps_alive(r->minor_version, f);
	set_length(&r->body, &r->content_length, 0);
	if (head || s < 200 || s == 204 || s == 304 ||
	    (connect && s < 300))
		return 0;
	if (te < 0)
		return te;
	if (f->te.present)
		r->body = CORIO__HTTP_BODY_CHUNKED;
	else if (f->cl_seen)
		set_length(&r->body, &r->content_length, f->cl);
	else
		r->body = CORIO__HTTP_BODY_CLOSE;
	if (r->body == CORIO__HTTP_BODY_CLOSE)
		r->keep_alive = false;
	return 0;
}

/* ---- heads ---- */

/* The field lines of a head whose start line ends at s->le, and the
 * facts about them the framing rules need: shared by both head parsers. */
static int head_fields(const unsigned char *b, const struct scan *s, int end,
                       struct corio__http_header *headers, size_t cap,
                       const struct lims *l, size_t *n, struct facts *f)
{
	size_t fs = s->le + 1;
	int rc = parse_fields(b + fs, (size_t)end - fs, headers,
	                      cap < l->fields ? cap : l->fields, n);
	return rc < 0 ? rc : gather(headers, *n, f);
}

int corio__http_parse_request(const char *buf, size_t len, size_t last_len,
                              struct corio__http_request *req,
                              struct corio__http_header *headers, size_t cap,
                              const struct corio__http_limits *lim)
{
	const unsigned char *b = (const unsigned char *)buf;
	struct lims l = get_lims(lim);
	struct scan s;
	int end = scan_head(b, len, last_len, l.target + LINE_EXTRA, l.head,
	                    &s);
	if (end == LINE_OVER) {
		struct corio__http_request r;
		size_t max_line = l.target + LINE_EXTRA;
		if (s.skip >= max_line)
			return BAD;
		return parse_request_line(b + s.skip, max_line - s.skip, false,
		                          l.target, &r);
	}
	if (end < 0)
		return end;
	struct corio__http_request r;
	memset(&r, 0, sizeof r);
	int rc = parse_request_line(b + s.skip, s.le - 1 - s.skip, true,
	                            l.target, &r);
	if (rc < 0)
		return rc;
	struct facts f;
	rc = head_fields(b, &s, end, headers, cap, &l, &r.nheaders, &f);
	if (rc == 0)
		rc = request_framing(&r, &f);
	if (rc < 0)
		return rc;
	*req = r;
	return end;
}

int corio__http_parse_response(const char *buf, size_t len, size_t last_len,
                               const char *method, size_t method_len,
                               struct corio__http_response *resp,
                               struct corio__http_header *headers, size_t cap,
                               const struct corio__http_limits *lim)
{
	const unsigned char *b = (const unsigned char *)buf;
	struct lims l = get_lims(lim);
	struct scan s;
	int end = scan_head(b, len, last_len, l.target + LINE_EXTRA, l.head,
	                    &s);
	if (end == LINE_OVER)
		return BAD;
	if (end < 0)
		return end;
	struct corio__http_response r;
	memset(&r, 0, sizeof r);
	int rc = parse_status_line(b + s.skip, s.le - 1 - s.skip, &r);
	if (rc < 0)
		return rc;
	struct facts f;
	rc = head_fields(b, &s, end, headers, cap, &l, &r.nheaders, &f);
	if (rc == 0)
		rc = response_framing(&r, &f, method, method_len);
	if (rc < 0)
		return rc;
	*resp = r;
	return end;
}

/* ---- helpers ---- */

const struct corio__http_header *
corio__http_find_header(const struct corio__http_header *h, size_t n,
                        const char *name, size_t name_len)
{
	for (size_t k = 0; k < n; k++)
		if (h[k].name_len == name_len && ieq(h[k].name, name, name_len))
			return &h[k];
	return NULL;
}

bool corio__http_has_token(const char *v, size_t n, const char *tok,
                           size_t tok_len)
{
	size_t i = 0;
	if (tok_len == 0)
		return false;
	while (i < n) {
		size_t s = i;
		while (i < n && v[i] != ',')
			i++;
		size_t e = i++;
		const char *semi = memchr(v + s, ';', e - s);
		if (semi)
			e = (size_t)(semi - v);
		while (s < e && is_ws((unsigned char)v[s]))
			s++;
		while (e > s && is_ws((unsigned char)v[e - 1]))
			e--;
		if (e - s == tok_len && ieq(v + s, tok, tok_len))
			return true;
	}
	return false;
}

/* ---- bodies ---- */

/*
 * Chunked body states (RFC 9112 section 7.1), one byte at a time except
 * B_DATA, which takes as many bytes as the chunk has left:
 *
 *   B_SIZE --hex--> B_SIZE --';'--> B_EXT_NAME0 --tchar--> B_EXT_NAME ...
 *     |  \--SP--> B_SIZE_WS --';'--^           ('=' B_EXT_VAL0, a token
 *     CR                                        or quoted-string, ';' again)
 *     v
 *   B_SIZE_LF --LF, size>0--> B_DATA --> B_DATA_CR --> B_DATA_LF --> B_SIZE
 *     \--LF, size 0--> B_TR_LINE --CR--> B_END_LF --LF--> B_DONE
 *                        \--tchar--> B_TR_NAME --':'--> B_TR_VALUE
 *                                    --CR--> B_TR_LF --LF--> B_TR_LINE
 *
 * A negative state is the error the decoder stopped with.
 */
enum {
	B_SIZE, B_SIZE_WS, B_EXT_NAME0, B_EXT_NAME, B_EXT_NAME_WS,
	B_EXT_VAL0, B_EXT_TOKEN, B_EXT_QUOTED, B_EXT_QESC, B_EXT_END,
	B_SIZE_LF, B_DATA, B_DATA_CR, B_DATA_LF,
	B_TR_LINE, B_TR_NAME, B_TR_VALUE, B_TR_LF, B_END_LF, B_DONE,
};

void corio__http_body_init(struct corio__http_body *d,
                           enum corio__http_body_kind kind,
                           uint64_t content_length,
                           const struct corio__http_limits *lim)
{
	struct lims l = get_lims(lim);
	memset(d, 0, sizeof *d);
	if (kind == CORIO__HTTP_BODY_LENGTH && content_length == 0)
		kind = CORIO__HTTP_BODY_NONE;
	d->kind = kind;
	d->left = kind == CORIO__HTTP_BODY_LENGTH ? content_length : 0;
	d->state = kind == CORIO__HTTP_BODY_NONE ? B_DONE : B_SIZE;
	d->max_ext = l.ext;
	d->max_trailer = l.trailer;
	d->max_fields = l.fields;
}

/* After a chunk size's digits: extensions, up to the CR. */
static int chunk_ext(struct corio__http_body *d, unsigned char c)
{
	int st = d->state;
	if (c == '\r' && (st == B_EXT_NAME || st == B_EXT_TOKEN ||
	                  st == B_EXT_END))
		return B_SIZE_LF;
	if (++d->ext > d->max_ext)
		return BAD;
	if (is_ws(c) && st != B_EXT_QUOTED && st != B_EXT_QESC) {
		if (st == B_EXT_NAME)
			return B_EXT_NAME_WS;
		return st == B_EXT_TOKEN || st == B_EXT_END ? B_SIZE_WS : st;
	}
	switch (st) {
	case B_SIZE_WS:
	case B_EXT_END:
		return c == ';' ? B_EXT_NAME0 : BAD;
	case B_EXT_NAME0:
		return is_tchar(c) ? B_EXT_NAME : BAD;
	case B_EXT_NAME:
	case B_EXT_NAME_WS:
		if (c == '=')
			return B_EXT_VAL0;
		if (c == ';')
			return B_EXT_NAME0;
		return st == B_EXT_NAME && is_tchar(c) ? st : BAD;
	case B_EXT_VAL0:
		if (c == '"')
			return B_EXT_QUOTED;
		return is_tchar(c) ? B_EXT_TOKEN : BAD;
	case B_EXT_TOKEN:
		if (c == ';')
			return B_EXT_NAME0;
		return is_tchar(c) ? st : BAD;
	case B_EXT_QUOTED:
		if (c == '"')
			return B_EXT_END;
		if (c == '\\')
			return B_EXT_QESC;
		return is_vchar_ws(c) ? st : BAD;
	default: /* B_EXT_QESC */
		return is_vchar_ws(c) ? B_EXT_QUOTED : BAD;
	}
}

/* A size digit, or what ends the digits. */
static int chunk_size(struct corio__http_body *d, unsigned char c)
{
	int v = hexval(c);
	if (v >= 0) {
		if (++d->digits > 16)
			return BAD;
		d->left = d->left << 4 | (uint64_t)v;
		return B_SIZE;
	}
	if (d->digits == 0)
		return BAD;
	if (c == '\r')
		return B_SIZE_LF;
	if (c == ';' || is_ws(c)) {
		d->ext = 1;
		if (d->ext > d->max_ext)
			return BAD;
		return c == ';' ? B_EXT_NAME0 : B_SIZE_WS;
	}
	return BAD;
}

/* A byte of the trailer section or of the final CRLF. */
static int trailer(struct corio__http_body *d, unsigned char c)
{
	if (++d->tbytes > d->max_trailer)
		return TOO_BIG;
	switch (d->state) {
	case B_TR_LINE:
		if (c == '\r')
			return B_END_LF;
		if (!is_tchar(c))
			return BAD; /* obs-fold or a bad name */
		return ++d->tfields > d->max_fields ? TOO_BIG : B_TR_NAME;
	case B_TR_NAME:
		if (c == ':')
			return B_TR_VALUE;
		return is_tchar(c) ? B_TR_NAME : BAD;
	case B_TR_VALUE:
		if (c == '\r')
			return B_TR_LF;
		return is_vchar_ws(c) ? B_TR_VALUE : BAD;
	case B_TR_LF:
		return c == '\n' ? B_TR_LINE : BAD;
	default: /* B_END_LF */
		return c == '\n' ? B_DONE : BAD;
	}
}

/* One byte in any state but B_DATA and B_DONE: the next state or an
 * error. */
static int chunk_byte(struct corio__http_body *d, unsigned char c)
{
	switch (d->state) {
	case B_SIZE:
		return chunk_size(d, c);
	case B_SIZE_LF:
		if (c != '\n')
			return BAD;
		d->digits = 0;
		d->ext = 0;
		return d->left ? B_DATA : B_TR_LINE;
	case B_DATA_CR:
		return c == '\r' ? B_DATA_LF : BAD;
	case B_DATA_LF:
		d->left = 0;
		return c == '\n' ? B_SIZE : BAD;
	case B_TR_LINE:
	case B_TR_NAME:
	case B_TR_VALUE:
	case B_TR_LF:
	case B_END_LF:
		return trailer(d, c);
	default:
		return chunk_ext(d, c);
	}
}

static int decode_chunked(struct corio__http_body *d, char *buf, size_t len,
                          size_t *consumed, size_t *payload)
{
	size_t in = 0, out = 0;
	while (in < len && d->state != B_DONE) {
		if (d->state == B_DATA) {
			size_t n = len - in;
			if (n > d->left)
				n = (size_t)d->left;
			if (out != in)
				memmove(buf + out, buf + in, n);
			in += n;
			out += n;
			d->left -= n;
			d->total += n;
			if (d->left == 0)
				d->state = B_DATA_CR;
			continue;
		}
		int st = chunk_byte(d, (unsigned char)buf[in++]);
		d->state = st;
		if (st < 0)
			return st;
	}
	*consumed = in;
	*payload = out;
	return d->state == B_DONE;
}

int corio__http_body_decode(struct corio__http_body *d, char *buf, size_t len,
                            size_t *consumed, size_t *payload)
{
	if (d->state < 0)
		return d->state;
	if (d->state == B_DONE) {
		*consumed = 0;
		*payload = 0;
		return 1;
	}
	if (d->kind == CORIO__HTTP_BODY_CHUNKED)
		return decode_chunked(d, buf, len, consumed, payload);
	size_t n = len;
	if (d->kind == CORIO__HTTP_BODY_LENGTH) {
		if (n > d->left)
			n = (size_t)d->left;
		d->left -= n;
		if (d->left == 0)
			d->state = B_DONE;
	}
	d->total += n;
	*consumed = n;
	*payload = n;
	return d->state == B_DONE;
}

int corio__http_body_eof(struct corio__http_body *d)
{
	if (d->state == B_DONE)
		return 0;
	if (d->state >= 0 && d->kind == CORIO__HTTP_BODY_CLOSE) {
		d->state = B_DONE;
		return 0;
	}
	return BAD;
}

bool corio__http_body_done(const struct corio__http_body *d)
{
	return d->state == B_DONE;
}
