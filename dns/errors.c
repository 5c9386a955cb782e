/* SPDX-License-Identifier: MIT */
/*
 * errors.c - the text of dns's own codes (corio/dns.h), handed to
 * corio_strerror() through the runtime's registry: the runtime never names
 * them.  Each file of dns whose public calls can return one of them
 * registers the text at load time (CORIO__DNS_ERRORS_AT_LOAD), so that a
 * static link pulling in any such call pulls in the text too.
 */
#include "dns_int.h"

static const char *dns_text(int err)
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

void corio__dns_errors_register(void)
{
	/* Nothing else registers dns's block; if it failed all the same,
	 * corio_strerror() would say "Unknown error", which is all we could
	 * do about it here. */
	int first = CORIO__DNS_ERR_FIRST, last = CORIO__DNS_ERR_LAST;
	(void)corio__strerror_register(first, last, dns_text);
}
