/* SPDX-License-Identifier: MIT */
/*
 * fuzz_body.c - libFuzzer target for the body decoder.  The first byte
 * picks a mode:
 *   0  the rest is a chunked body: whole, byte by byte and in random
 *      splits must agree (result, bytes consumed, payload)
 *   1  the rest is a payload: encoded as chunks (sizes, extensions and
 *      trailers drawn from a seed) it must decode back exactly, in any
 *      split, with the bytes after the body left alone
 *   2  Content-Length framing: the length is drawn from the input, the
 *      payload must be a prefix of the input
 */
#include "fuzz_common.h"
#include "http_parse.h"

struct res {
	int rc;
	size_t used;
	size_t plen;
	char *payload;
};

/* Decode in[0..n) in pieces (step 0: whole, 1: bytes, else random). */
static void decode(const char *in, size_t n, int step, uint32_t seed,
                   enum corio__http_body_kind kind, uint64_t cl,
                   const struct corio__http_limits *l, struct res *o)
{
	struct corio__http_body d;
	o->payload = malloc(n ? n : 1);
	o->plen = 0;
	o->used = 0;
	corio__http_body_init(&d, kind, cl, l);
	for (;;) {
		size_t left = n - o->used, k = left;
		if (step == 1 && k > 1)
			k = 1;
		else if (step > 1 && k > 1)
			k = 1 + fz_next(&seed) % k;
		/* exact-size copy: ASan catches a read past the piece */
		char *p = malloc(k ? k : 1);
		memcpy(p, in + o->used, k);
		size_t used = 0, pl = 0;
		o->rc = corio__http_body_decode(&d, p, k, &used, &pl);
		if (o->rc >= 0) {
			CHECK(used <= k && pl <= used);
			CHECK(o->rc == 1 || used == k);
			memcpy(o->payload + o->plen, p, pl);
			o->plen += pl;
			o->used += used;
			CHECK(d.total == o->plen);
		}
		free(p);
		if (o->rc != 0 || o->used == n)
			break;
	}
	if (o->rc == 0 && kind != CORIO__HTTP_BODY_CLOSE)
		CHECK(corio__http_body_eof(&d) == (corio__http_body_done(&d) ? 0 : -400));
}

static void agree(const char *in, size_t n, uint32_t seed,
                  enum corio__http_body_kind kind, uint64_t cl,
                  const struct corio__http_limits *l, struct res *w)
{
	decode(in, n, 0, seed, kind, cl, l, w);
	for (int step = 1; step < 4; step++) {
		struct res o;
		decode(in, n, step, seed + (uint32_t)step, kind, cl, l, &o);
		CHECK(o.rc == w->rc);
		if (w->rc >= 0) {
			CHECK(o.used == w->used && o.plen == w->plen);
			CHECK(!memcmp(o.payload, w->payload, w->plen));
		}
		free(o.payload);
	}
}

static size_t encode(const char *p, size_t n, char *out, uint32_t *s)
{
	static const char *const ext[] = {
		"", ";a", ";a=b", " ; a = \"q\\\"x\"", ";x=1;y=\"\"",
	};
	size_t o = 0, i = 0;
	while (i < n) {
		size_t c = 1 + fz_next(s) % 64;
		if (c > n - i)
			c = n - i;
		o += (size_t)sprintf(out + o, "%s%zX%s\r\n",
		                     fz_next(s) % 4 ? "" : "000", c,
		                     ext[fz_next(s) % 5]);
		memcpy(out + o, p + i, c);
		o += c;
		i += c;
		o += (size_t)sprintf(out + o, "\r\n");
	}
	o += (size_t)sprintf(out + o, "0%s\r\n%s\r\n", ext[fz_next(s) % 5],
	                     fz_next(s) % 2 ? "" : "T: v\r\nU:\r\n");
	return o;
}

static void roundtrip(const char *p, size_t n, uint32_t seed)
{
	char *enc = malloc(n * 2 + 64 * (n / 1 + 1) + 64);
	uint32_t s = seed;
	size_t e = encode(p, n, enc, &s);
	memcpy(enc + e, "NEXT", 4);
	struct res w;
	agree(enc, e + 4, seed, CORIO__HTTP_BODY_CHUNKED, 0, NULL, &w);
	CHECK(w.rc == 1);
	CHECK(w.used == e);
	CHECK(w.plen == n && !memcmp(w.payload, p, n));
	free(w.payload);
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct corio__http_limits small = {
		.max_chunk_ext = 6, .max_trailer = 20, .max_headers = 2,
	};
	if (size == 0)
		return 0;
	uint32_t seed = fz_hash(data, size);
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	struct res w;
	switch (data[0] % 3) {
	case 0:
		agree(in, n, seed, CORIO__HTTP_BODY_CHUNKED, 0,
		      data[0] & 4 ? &small : NULL, &w);
		free(w.payload);
		break;
	case 1:
		roundtrip(in, n, seed);
		break;
	default: {
		uint64_t cl = n ? seed % (n * 2) : 0;
		agree(in, n, seed, CORIO__HTTP_BODY_LENGTH, cl, NULL, &w);
		CHECK(w.rc == (cl <= n ? 1 : 0));
		CHECK(w.plen == (cl <= n ? cl : n));
		CHECK(!memcmp(w.payload, in, w.plen));
		free(w.payload);
		break;
	}
	}
	return 0;
}
