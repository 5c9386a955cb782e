/* SPDX-License-Identifier: MIT */
/*
 * fuzz_url.c - libFuzzer target for the HTTP client's URLs (net/http_url.c).
 * The input up to its first newline is a URL, the rest a redirect
 * reference.  A URL that parses must have a clean origin (lowercase host
 * of allowed bytes, or an IPv6 literal; a port that reads back as its
 * number) and a target inside the string with no fragment and nothing a
 * request line could be smuggled through; put back together from its
 * parts it must parse to the same parts.  A relative reference resolved
 * against it must give a URL that parses, with the same origin, a path
 * free of dot segments and the reference's query.
 */
#include "fuzz_common.h"
#include "http_client_int.h"

#include <errno.h>
#include <stdio.h>

static bool host_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_';
}

static void check_url(const char *url, const struct corio__url *u)
{
	size_t n = strlen(url), hl = strnlen(u->host, sizeof(u->host));
	CHECK(hl >= 1 && hl < sizeof(u->host));
	for (size_t i = 0; i < hl; i++)
		CHECK(u->ipv6 ? (host_byte(u->host[i]) || u->host[i] == ':') : host_byte(u->host[i]));
	CHECK(u->port_num >= 1);
	char port[8];
	snprintf(port, sizeof(port), "%u", (unsigned)u->port_num);
	CHECK(!strcmp(port, u->port));
	CHECK(u->default_port == (u->port_num == (u->https ? 443 : 80)));
	CHECK(u->target >= url && u->target_len <= n &&
	      (size_t)(u->target - url) <= n - u->target_len);
	CHECK(!u->target_len || u->target[0] == '/' || u->target[0] == '?');
	CHECK(u->target_slash == (!u->target_len || u->target[0] == '?'));
	for (size_t i = 0; i < u->target_len; i++) {
		unsigned char c = (unsigned char)u->target[i];
		CHECK(c > 0x20 && c < 0x7f && c != '#');
	}
}

static void same_parts(const struct corio__url *a, const struct corio__url *b)
{
	CHECK(a->https == b->https && a->ipv6 == b->ipv6 && a->port_num == b->port_num &&
	      a->default_port == b->default_port && !strcmp(a->host, b->host) &&
	      !strcmp(a->port, b->port));
}

/* The URL written again from its parts parses to the same parts. */
static void round_trip(const struct corio__url *u)
{
	size_t cap = 32 + sizeof(u->host) + u->target_len;
	char *s = malloc(cap);
	CHECK(s);
	int k = snprintf(s, cap, "%s://%s%s%s:%s", u->https ? "https" : "http",
			 u->ipv6 ? "[" : "", u->host, u->ipv6 ? "]" : "", u->port);
	CHECK(k > 0 && (size_t)k + u->target_len < cap);
	memcpy(s + k, u->target, u->target_len);
	s[(size_t)k + u->target_len] = 0;
	struct corio__url v;
	CHECK(corio__url_parse(s, &v) == 0);
	same_parts(u, &v);
	CHECK(v.target_len == u->target_len && !memcmp(v.target, u->target, u->target_len));
	free(s);
}

static bool has_scheme(const char *r, size_t n)
{
	if (!n || !((r[0] | 0x20) >= 'a' && (r[0] | 0x20) <= 'z'))
		return false;
	for (size_t i = 1; i < n; i++) {
		if (r[i] == ':')
			return true;
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.", r[i]))
			return false;
	}
	return false;
}

/* A path with no "." or ".." segment left. */
static void no_dots(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i + 1;
		while (j < n && p[j] != '/')
			j++;
		size_t seg = j - i - 1; /* after the '/' */
		CHECK(!(seg == 1 && p[i + 1] == '.'));
		CHECK(!(seg == 2 && p[i + 1] == '.' && p[i + 2] == '.'));
		i = j;
	}
}

static void resolve(const char *base, const struct corio__url *bu, const uint8_t *ref,
		    size_t rn)
{
	char *r = fz_dup(ref, rn), *out = NULL;
	int rc = corio__url_resolve(base, bu, r, rn, &out);
	CHECK(rc == 0 || rc == -EINVAL);
	if (rc) {
		free(r);
		return;
	}
	CHECK(out && strlen(out) < 2 * (strlen(base) + rn) + 8);
	const char *hash = memchr(r, '#', rn);
	size_t rl = hash ? (size_t)(hash - r) : rn;
	struct corio__url v;
	int prc = corio__url_parse(out, &v);
	if (!has_scheme(r, rl) && !(rl >= 2 && r[0] == '/' && r[1] == '/')) {
		/* relative: the base's origin, a clean path, the new query */
		CHECK(prc == 0);
		check_url(out, &v);
		same_parts(bu, &v);
		CHECK(v.target_len >= 1 && v.target[0] == '/');
		const char *vq = memchr(v.target, '?', v.target_len);
		size_t vpath = vq ? (size_t)(vq - v.target) : v.target_len;
		no_dots(v.target, vpath);
		const char *rq = memchr(r, '?', rl);
		if (rq) {
			size_t ql = rl - (size_t)(rq - r);
			CHECK(vq && v.target_len - vpath == ql && !memcmp(vq, rq, ql));
		}
	} else if (prc == 0) {
		check_url(out, &v);
	}
	free(out);
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t ul = nl ? (size_t)(nl - data) : size;
	char *url = fz_str(data, ul);
	struct corio__url u;
	int rc = corio__url_parse(url, &u);
	CHECK(rc == 0 || rc == -EINVAL || rc == -EPROTONOSUPPORT);
	if (rc == 0) {
		check_url(url, &u);
		round_trip(&u);
		if (nl)
			resolve(url, &u, nl + 1, size - ul - 1);
	}
	free(url);
	return 0;
}
