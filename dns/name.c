/* SPDX-License-Identifier: MIT */
/*
 * name.c - the check every name passes before a lookup may touch the
 * network.  Names are in the text form c-ares takes: labels separated by
 * dots, an optional final dot, "\c" for a literal character and "\DDD"
 * for a byte in decimal (so "\000" is the only way to spell an embedded
 * NUL, which no host name may contain).  Limits are RFC 1035's, on the
 * wire form: 63 bytes per label, 255 for the whole name (253 characters
 * of plain text without the final dot).
 */
#include "dns_int.h"

#include <ctype.h>

#define MAX_LABEL 63
#define MAX_WIRE 255

/* Decode the escape at @p (just after the backslash) into *@byte; return
 * the number of characters it used, 0 if malformed. */
static int unescape(const char *p, unsigned *byte)
{
	if (isdigit((unsigned char)p[0])) {
		if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
			return 0;
		*byte = (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 +
			(unsigned)(p[2] - '0');
		return *byte > 255 ? 0 : 3;
	}
	if (!p[0])
		return 0;
	*byte = (unsigned char)p[0];
	return 1;
}

int corio__dns_check_name(const char *name)
{
	size_t wire = 1; /* the root label's length byte */
	size_t label = 0;
	const char *p = name;
	if (!p || !*p)
		return CORIO_EBADNAME;
	while (*p) {
		if (*p == '.') {
			if (!label)
				return CORIO_EBADNAME; /* "..", ".x", or just "." */
			wire += label + 1;
			label = 0;
			p++;
			continue;
		}
		if (*p == '\\') {
			unsigned byte;
			int used = unescape(p + 1, &byte);
			if (!used || byte == 0)
				return CORIO_EBADNAME;
			p += 1 + used;
		} else {
			p++;
		}
		if (++label > MAX_LABEL || wire + label + 1 > MAX_WIRE)
			return CORIO_EBADNAME;
	}
	return 0;
}
