/* SPDX-License-Identifier: MIT */
/*
 * error.c - corio_strerror(): text for negative errno values and for
 * corio's own codes (below -4096, see corio/runtime.h).
 */
#include "corio_int.h"

#include <stdio.h>
#include <string.h>

static const char *own_code(int err)
{
	switch (err) {
	case CORIO_ENOTFOUND: return "Name does not resolve";
	case CORIO_ENODATA: return "Name has no records of the requested type";
	case CORIO_ETIMEOUT: return "DNS server did not answer in time";
	case CORIO_ESERVFAIL: return "DNS server failed to complete the lookup";
	case CORIO_EBADNAME: return "Malformed domain name";
	case CORIO_EREFUSED: return "DNS server refused the query";
	case CORIO_EFORMERR: return "DNS server could not parse the query";
	case CORIO_EBADRESP: return "Malformed reply from the DNS server";
	case CORIO_ENOSERVICE: return "Unknown service name";
	case CORIO_EFAMILY: return "Address family not supported for this lookup";
	case CORIO_ECONNECTION: return "Could not reach any DNS server";
	case CORIO_EDNS: return "DNS resolver error";
	default: return NULL;
	}
}

const char *corio_strerror(int err)
{
	static __thread char buf[48];
	if (err == 0)
		return "Success";
	const char *s = own_code(err);
	if (s)
		return s;
	if (err < 0 && err > -4096) {
		s = strerrordesc_np(-err);
		if (s)
			return s;
	}
	snprintf(buf, sizeof(buf), "Unknown error %d", err);
	return buf;
}
