/* SPDX-License-Identifier: MIT */
/*
 * http_url.c - the HTTP client's URLs: absolute http(s) URLs split into an
 * origin (scheme, host, port) and a request target, strictly (what is not
 * plainly valid is -EINVAL, never guessed at), and redirect references
 * resolved against the URL that answered them (RFC 3986 section 5.2).
 */
#include "http_client_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Length of "scheme:" at the start of @s (RFC 3986: ALPHA *( ALPHA / DIGIT
 * / "+" / "-" / "." ) ":"), without the colon; 0 if there is none. */
static size_t scheme_len(const char *s, size_t n)
{
	if (!n || !is_alpha(s[0]))
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (c == ':')
			return i;
		if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
			return 0;
	}
	return 0;
}

/* A target's bytes: visible ASCII, percent signs followed by two hex
 * digits.  Spaces, controls and non-ASCII bytes would let a URL smuggle a
 * second request line. */
static bool target_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f)
			return false;
		if (c == '%' && (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2])))
			return false;
	}
	return true;
}

static int parse_host(const char *h, size_t n, struct corio__url *u)
{
	if (n && h[0] == '[') {
		if (n < 3 || h[n - 1] != ']' || n - 2 > 45)
			return -EINVAL;
		char lit[46];
		memcpy(lit, h + 1, n - 2);
		lit[n - 2] = '\0';
		struct in6_addr a;
		if (inet_pton(AF_INET6, lit, &a) != 1) /* also refuses zone ids */
			return -EINVAL;
		for (size_t i = 0; i <= n - 2; i++)
			u->host[i] = lower(lit[i]);
		u->ipv6 = true;
		return 0;
	}
	if (!n || n > 253 || h[0] == '.' || h[0] == '-')
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_')
			return -EINVAL;
		if (c == '.' && i + 1 < n && h[i + 1] == '.')
			return -EINVAL;
		u->host[i] = lower(c);
	}
	u->host[n] = '\0';
	return 0;
}

static int parse_port(const char *p, size_t n, struct corio__url *u)
{
	unsigned v = u->https ? 443 : 80;
	if (n) { /* "host:" with no digits means the default (RFC 3986 3.2.3) */
		if (n > 5)
			return -EINVAL;
		v = 0;
		for (size_t i = 0; i < n; i++) {
			if (!is_digit(p[i]))
				return -EINVAL;
			v = v * 10 + (unsigned)(p[i] - '0');
		}
		if (!v || v > 65535)
			return -EINVAL;
	}
	u->port_num = (uint16_t)v;
	u->default_port = v == (u->https ? 443u : 80u);
	char tmp[6];
	int k = 0;
	do
		tmp[k++] = (char)('0' + v % 10);
	while (v /= 10);
	for (int i = 0; i < k; i++)
		u->port[i] = tmp[k - 1 - i];
	u->port[k] = '\0';
	return 0;
}

static int parse_scheme(const char *url, size_t n, struct corio__url *u, size_t *after)
{
	size_t sl = scheme_len(url, n);
	if (!sl || n < sl + 3 || url[sl + 1] != '/' || url[sl + 2] != '/')
		return -EINVAL;
	if (sl == 4 && !strncasecmp(url, "http", 4))
		u->https = false;
	else if (sl == 5 && !strncasecmp(url, "https", 5))
		u->https = true;
	else
		return -EPROTONOSUPPORT;
	*after = sl + 3;
	return 0;
}

int corio__url_parse(const char *url, struct corio__url *out)
{
	if (!url || !out)
		return -EINVAL;
	struct corio__url u;
	memset(&u, 0, sizeof(u));
	size_t n = strlen(url), a;
	int err = parse_scheme(url, n, &u, &a);
	if (err)
		return err;
	size_t e = a; /* the authority runs to the first '/', '?' or '#' */
	while (e < n && url[e] != '/' && url[e] != '?' && url[e] != '#')
		e++;
	const char *auth = url + a;
	size_t alen = e - a;
	if (memchr(auth, '@', alen))
		return -EINVAL; /* userinfo: refused */
	/* the port's colon: after the bracket of an IPv6 literal */
	const char *hend = auth + alen, *colon = NULL;
	const char *from = alen && auth[0] == '[' ? memchr(auth, ']', alen) : auth;
	if (!from)
		return -EINVAL;
	colon = memchr(from, ':', (size_t)(hend - from));
	size_t hlen = colon ? (size_t)(colon - auth) : alen;
	if ((err = parse_host(auth, hlen, &u)) ||
	    (err = parse_port(colon ? colon + 1 : hend, colon ? (size_t)(hend - colon - 1) : 0, &u)))
		return err;
	const char *hash = memchr(url + e, '#', n - e);
	u.target = url + e;
	u.target_len = (size_t)((hash ? hash : url + n) - u.target);
	if (!target_ok(u.target, u.target_len))
		return -EINVAL;
	u.target_slash = !u.target_len || u.target[0] == '?';
	*out = u;
	return 0;
}

/* ---- references (RFC 3986 section 5.2) --------------------------------- */

/* Drop the last segment of out[0..*len), and its '/'. */
static void pop_segment(char *out, size_t *len)
{
	while (*len && out[*len - 1] != '/')
		(*len)--;
	if (*len)
		(*len)--;
}

/* remove_dot_segments (5.2.4): the path in[0..n) into out, which has room
 * for n + 1 bytes.  Returns the output length. */
static size_t remove_dots(const char *in, size_t n, char *out)
{
	const char *p = in, *end = in + n;
	size_t len = 0;
	while (p < end) {
		size_t left = (size_t)(end - p);
		if (left >= 3 && !memcmp(p, "../", 3))
			p += 3;
		else if (left >= 2 && !memcmp(p, "./", 2))
			p += 2;
		else if (left >= 3 && !memcmp(p, "/./", 3))
			p += 2;
		else if (left == 2 && !memcmp(p, "/.", 2))
			p = "/", end = p + 1;
		else if (left >= 4 && !memcmp(p, "/../", 4))
			p += 3, pop_segment(out, &len);
		else if (left == 3 && !memcmp(p, "/..", 3))
			p = "/", end = p + 1, pop_segment(out, &len);
		else if ((left == 1 && p[0] == '.') || (left == 2 && !memcmp(p, "..", 2)))
			p = end;
		else {
			const char *q = p + 1;
			while (q < end && *q != '/')
				q++;
			memcpy(out + len, p, (size_t)(q - p));
			len += (size_t)(q - p);
			p = q;
		}
	}
	return len;
}

/* Join prefix, a path to clean and a query-or-nothing into a new string. */
static int build(const char *pre, size_t pre_len, const char *dir, size_t dir_len,
		 const char *path, size_t path_len, const char *q, size_t q_len, char **out)
{
	size_t plen = dir_len + path_len;
	char *tmp = malloc(plen + 1);
	char *s = malloc(pre_len + plen + 2 + q_len + 1);
	if (!tmp || !s) {
		free(tmp);
		free(s);
		return -ENOMEM;
	}
	memcpy(tmp, dir, dir_len);
	memcpy(tmp + dir_len, path, path_len);
	memcpy(s, pre, pre_len);
	size_t k = remove_dots(tmp, plen, s + pre_len);
	free(tmp);
	if (!k || s[pre_len] != '/') { /* a path always starts with '/' */
		memmove(s + pre_len + 1, s + pre_len, k);
		s[pre_len] = '/';
		k++;
	}
	memcpy(s + pre_len + k, q, q_len);
	s[pre_len + k + q_len] = '\0';
	*out = s;
	return 0;
}

int corio__url_resolve(const char *base, const struct corio__url *bu, const char *ref,
		       size_t ref_len, char **out)
{
	const char *hash = memchr(ref, '#', ref_len);
	if (hash)
		ref_len = (size_t)(hash - ref);
	if (!ref_len && !hash)
		return -EINVAL;
	if (!target_ok(ref, ref_len))
		return -EINVAL;
	size_t sl = scheme_len(ref, ref_len);
	size_t scheme_end = (size_t)(strchr(base, ':') - base);
	const char *pre = base;
	size_t pre_len = (size_t)(bu->target - base);
	char *s;
	if (sl || (ref_len >= 2 && ref[0] == '/' && ref[1] == '/')) {
		/* absolute, or network-path ("//host/p"): keep the base's scheme */
		size_t keep = sl ? 0 : scheme_end + 1;
		if (!(s = malloc(keep + ref_len + 1)))
			return -ENOMEM;
		memcpy(s, base, keep);
		memcpy(s + keep, ref, ref_len);
		s[keep + ref_len] = '\0';
		*out = s;
		return 0;
	}
	const char *bq = memchr(bu->target, '?', bu->target_len);
	size_t bpath = bq ? (size_t)(bq - bu->target) : bu->target_len;
	const char *rq = memchr(ref, '?', ref_len);
	size_t rpath = rq ? (size_t)(rq - ref) : ref_len;
	const char *q = rq ? rq : ref + ref_len;
	size_t q_len = ref_len - rpath;
	if (!ref_len) /* "#frag" alone: the base itself */
		return build(pre, pre_len, bu->target, bpath, "", 0, bq ? bq : "",
			     bq ? bu->target_len - bpath : 0, out);
	if (ref[0] == '/')
		return build(pre, pre_len, "", 0, ref, rpath, q, q_len, out);
	if (!rpath) /* "?q": the base's path with a new query */
		return build(pre, pre_len, bu->target, bpath, "", 0, q, q_len, out);
	size_t dir = bpath; /* merge (5.2.3): the base's path up to its last '/' */
	while (dir && bu->target[dir - 1] != '/')
		dir--;
	return build(pre, pre_len, dir ? bu->target : "/", dir ? dir : 1, ref, rpath, q, q_len,
		     out);
}
