/* SPDX-License-Identifier: MIT */
/*
 * http_client_int.h - what the HTTP client's files share: URLs parsed into
 * an origin and a request target (http_url.c), and redirect targets
 * resolved against the URL that answered them.  Never installed.
 */
#ifndef CORIO_HTTP_CLIENT_INT_H
#define CORIO_HTTP_CLIENT_INT_H

#include "corio_mod.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest host accepted: a DNS name (253) or an IPv6 literal. */
#define CORIO__URL_HOST_MAX 255

/*
 * A parsed absolute http(s) URL.  The origin is copied (the host lowercased,
 * without the brackets of an IPv6 literal); the target points into the
 * parsed string.  Userinfo ("user:pw@host") is refused: credentials in
 * URLs leak into logs, and "http://good@evil/" is a phishing staple.
 */
struct corio__url {
	bool https;
	bool ipv6;                          /* host was a bracketed literal */
	char host[CORIO__URL_HOST_MAX + 1]; /* NUL-terminated */
	char port[6];                       /* decimal, NUL-terminated */
	uint16_t port_num;
	bool default_port;                  /* 80 for http, 443 for https */
	/* Path and query as they appear ("/a/b?x=1"), the fragment dropped.
	 * An empty path is sent as "/": target_slash says to prefix one
	 * ("http://h" or "http://h?q"). */
	const char *target;
	size_t target_len;
	bool target_slash;
};

/* Parse @url (NUL-terminated).  Return: 0; -EINVAL (malformed: no
 * "scheme://", bad host or port, userinfo, a control character, space or
 * non-ASCII byte, an empty host); -EPROTONOSUPPORT (a scheme other than
 * http and https). */
int corio__url_parse(const char *url, struct corio__url *u) CORIO__HIDDEN;

/* Resolve the reference @ref (a Location value: absolute, "//host/p",
 * "/p", "p", "../p", "?q") against @base (the URL string @bu was parsed
 * from), RFC 3986 section 5.2, into a new NUL-terminated string allocated
 * with malloc().  Return: 0, -EINVAL (an empty or malformed reference),
 * -ENOMEM. */
int corio__url_resolve(const char *base, const struct corio__url *bu, const char *ref,
		       size_t ref_len, char **out) CORIO__HIDDEN;

#endif
