/* SPDX-License-Identifier: MIT */
/*
 * fuzz_response.c - libFuzzer target for corio__http_parse_response.  The
 * first input byte picks the request method (GET, HEAD, CONNECT or none),
 * the rest is the response.  Checks pointers, the framing rules that must
 * always hold, split-independence, and runs the body decoder.
 */
#include "fuzz_common.h"
#include "http_parse.h"

#define CAP 64

static void inside(const char *b, size_t n, const char *p, size_t len)
{
	CHECK(p >= b && len <= n && (size_t)(p - b) <= n - len);
}

static int parse(const char *b, size_t n, size_t last, const char *m,
                 struct corio__http_response *r,
                 const struct corio__http_limits *l)
{
	struct corio__http_header h[CAP];
	int rc = corio__http_parse_response(b, n, last, m, m ? strlen(m) : 0,
	                                    r, h, CAP, l);
	if (rc > 0) {
		inside(b, (size_t)rc, r->reason, r->reason_len);
		CHECK(r->nheaders <= CAP);
		for (size_t i = 0; i < r->nheaders; i++) {
			inside(b, (size_t)rc, h[i].name, h[i].name_len);
			inside(b, (size_t)rc, h[i].value, h[i].value_len);
		}
	}
	return rc;
}

static void one(const char *b, size_t n, const char *m, uint32_t seed,
                const struct corio__http_limits *l)
{
	struct corio__http_response r, r2;
	int rc = parse(b, n, 0, m, &r, l);
	CHECK(rc == CORIO__HTTP_INCOMPLETE || rc == -400 || rc == -431 ||
	      rc == -501 || rc == -505 || (rc > 0 && (size_t)rc <= n));
	if (rc > 0) {
		CHECK(r.status >= 100 && r.status <= 999);
		bool none = (m && !strcmp(m, "HEAD")) || r.status < 200 ||
		            r.status == 204 || r.status == 304 ||
		            (m && !strcmp(m, "CONNECT") && r.status < 300);
		if (none)
			CHECK(r.body == CORIO__HTTP_BODY_NONE);
		if (r.body == CORIO__HTTP_BODY_CLOSE)
			CHECK(!r.keep_alive);
	}
	for (int pass = 0; pass < 2; pass++) {
		size_t have = 0, last = 0;
		int rc2;
		for (;;) {
			size_t left = n - have;
			if (left)
				have += pass ? 1 + fz_next(&seed) % left : 1;
			rc2 = parse(b, have, last, m, &r2, l);
			if (rc2 != CORIO__HTTP_INCOMPLETE || have == n)
				break;
			last = have;
		}
		CHECK(rc2 == rc);
		if (rc > 0)
			CHECK(r2.status == r.status && r2.body == r.body &&
			      r2.content_length == r.content_length);
	}
	if (rc > 0) {
		struct corio__http_body d;
		size_t used, pl;
		char *rest = fz_dup((const uint8_t *)b + rc, n - (size_t)rc);
		corio__http_body_init(&d, r.body, r.content_length, l);
		int br = corio__http_body_decode(&d, rest, n - (size_t)rc,
		                                 &used, &pl);
		if (br >= 0)
			CHECK(pl <= used && used <= n - (size_t)rc);
		free(rest);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "HEAD", "CONNECT", NULL };
	static const struct corio__http_limits small = {
		.max_target = 8, .max_head = 64, .max_headers = 3,
		.max_chunk_ext = 4, .max_trailer = 16,
	};
	if (size == 0)
		return 0;
	const char *m = methods[data[0] & 3];
	char *b = fz_dup(data + 1, size - 1);
	uint32_t seed = fz_hash(data, size);
	one(b, size - 1, m, seed, NULL);
	one(b, size - 1, m, seed, &small);
	free(b);
	return 0;
}
