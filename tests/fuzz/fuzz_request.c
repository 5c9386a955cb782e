/* SPDX-License-Identifier: MIT */
/*
 * fuzz_request.c - libFuzzer target for corio__http_parse_request: the
 * input is a request head (and maybe more).  Checks that parsed pointers
 * lie inside the head, that feeding byte by byte and in random splits
 * gives the same answer as the whole, that a complete head parses the
 * same alone, and runs the body decoder over what follows.
 */
#include "fuzz_common.h"
#include "http_parse.h"

#define CAP 128

static int parse(const char *b, size_t n, size_t last,
                 struct corio__http_request *r, struct corio__http_header *h,
                 const struct corio__http_limits *l)
{
	return corio__http_parse_request(b, n, last, r, h, CAP, l);
}

static void inside(const char *b, size_t n, const char *p, size_t len)
{
	CHECK(p >= b && len <= n && (size_t)(p - b) <= n - len);
}

static void check_complete(const char *b, int rc,
                           const struct corio__http_request *r,
                           const struct corio__http_header *h)
{
	size_t n = (size_t)rc;
	inside(b, n, r->method, r->method_len);
	inside(b, n, r->target, r->target_len);
	CHECK(r->method_len >= 1 && r->method_len <= CORIO__HTTP_METHOD_MAX);
	CHECK(r->target_len >= 1);
	CHECK(r->minor_version == 0 || r->minor_version == 1);
	CHECK(r->nheaders <= CAP);
	for (size_t i = 0; i < r->nheaders; i++) {
		inside(b, n, h[i].name, h[i].name_len);
		inside(b, n, h[i].value, h[i].value_len);
		CHECK(h[i].name_len >= 1);
		for (size_t k = 0; k < h[i].value_len; k++)
			CHECK(h[i].value[k] != '\r' && h[i].value[k] != '\n');
	}
	if (r->host)
		inside(b, n, r->host, r->host_len);
	CHECK(r->minor_version == 0 || r->host);
	CHECK(r->body != CORIO__HTTP_BODY_CLOSE);
	CHECK((r->body == CORIO__HTTP_BODY_LENGTH) == (r->content_length > 0));
	CHECK(b[n - 1] == '\n' && b[n - 2] == '\r' && b[n - 3] == '\n');
}

/* Feed b[0..n) in pieces; the answer once complete or at the end. */
static int fed(const char *b, size_t n, uint32_t seed, int bytewise,
               struct corio__http_request *r, struct corio__http_header *h,
               const struct corio__http_limits *l)
{
	size_t have = 0, last = 0;
	for (;;) {
		size_t left = n - have;
		if (left)
			have += bytewise ? 1 : 1 + fz_next(&seed) % left;
		int rc = parse(b, have, last, r, h, l);
		if (rc != CORIO__HTTP_INCOMPLETE || have == n)
			return rc;
		last = have;
	}
}

static void body(char *b, size_t n, const struct corio__http_request *r)
{
	struct corio__http_body d;
	size_t used = 0, pl = 0;
	corio__http_body_init(&d, r->body, r->content_length, NULL);
	int rc = corio__http_body_decode(&d, b, n, &used, &pl);
	CHECK(rc >= -431 && rc <= 1);
	if (rc >= 0) {
		CHECK(used <= n && pl <= used);
		CHECK(rc == 1 || used == n);
	}
}

static void one(const uint8_t *data, size_t size,
                const struct corio__http_limits *l)
{
	char *b = fz_dup(data, size);
	struct corio__http_request r, r2;
	struct corio__http_header h[CAP], h2[CAP];
	int rc = parse(b, size, 0, &r, h, l);
	CHECK(rc == CORIO__HTTP_INCOMPLETE || rc == -400 || rc == -414 ||
	      rc == -431 || rc == -501 || rc == -505 ||
	      (rc > 0 && (size_t)rc <= size));
	if (rc > 0)
		check_complete(b, rc, &r, h);
	CHECK(fed(b, size, 0, 1, &r2, h2, l) == rc);
	CHECK(fed(b, size, fz_hash(data, size), 0, &r2, h2, l) == rc);
	if (rc > 0) {
		CHECK(r2.nheaders == r.nheaders && r2.body == r.body &&
		      r2.content_length == r.content_length &&
		      r2.keep_alive == r.keep_alive && r2.target == r.target);
		/* the head alone parses the same */
		char *head = fz_dup(data, (size_t)rc);
		CHECK(parse(head, (size_t)rc, 0, &r2, h2, l) == rc);
		free(head);
		body(b + rc, size - (size_t)rc, &r);
	}
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct corio__http_limits small = {
		.max_target = 16, .max_head = 96, .max_headers = 4,
	};
	one(data, size, NULL);
	one(data, size, &small);
	return 0;
}
