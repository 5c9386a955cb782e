/* SPDX-License-Identifier: MIT */
/*
 * refused.c - telling "every server refused" from "no server could be
 * reached".  c-ares 1.18 moves on to the next server when one answers
 * REFUSED, as it should, but once all have, it ends the query with
 * ARES_ECONNREFUSED, the status of servers it could not reach.  The UDP
 * answers it reads pass through sock.c's socket functions: a REFUSED one
 * marks the started requests for its question's name as refused by the
 * server it came from, and a request that ends in ARES_ECONNREFUSED after
 * every server of the channel refused it gets CORIO_EREFUSED.  (Answers
 * over TCP are not looked at: a refusal there still reads as
 * CORIO_ECONNECTION.)
 */
#include "dns_int.h"

#include <arpa/inet.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#define HEADER_LEN 12
#define RCODE_REFUSED 5
#define DEFAULT_PORT 53
#define MAX_SERVERS 64 /* bits of corio__dns_req.refused_by */

/* After the channel is built: its servers, in the order it numbers them. */
void corio__dns_refused_setup(struct corio__dns *d)
{
	corio__dns_refused_reset(d);
	if (ares_get_servers_ports(d->ch, &d->ares_servers) != ARES_SUCCESS)
		d->ares_servers = NULL; /* no memory: refusals read as before */
}

void corio__dns_refused_reset(struct corio__dns *d)
{
	if (d->ares_servers)
		ares_free_data(d->ares_servers);
	d->ares_servers = NULL;
}

static bool same_server(const struct ares_addr_port_node *s, const struct sockaddr *from)
{
	int port = s->udp_port ? s->udp_port : DEFAULT_PORT;
	if (from->sa_family != s->family)
		return false;
	if (s->family == AF_INET) {
		const struct sockaddr_in *a = (const void *)from;
		return ntohs(a->sin_port) == port &&
		       !memcmp(&a->sin_addr, &s->addr.addr4, sizeof(a->sin_addr));
	}
	const struct sockaddr_in6 *a = (const void *)from;
	return ntohs(a->sin6_port) == port &&
	       !memcmp(&a->sin6_addr, &s->addr.addr6, sizeof(a->sin6_addr));
}

/* Bit i for each server i at @from (a list may name one twice). */
static uint64_t servers_at(const struct corio__dns *d, const struct sockaddr *from)
{
	uint64_t bits = 0;
	unsigned i = 0;
	for (const struct ares_addr_port_node *s = d->ares_servers; s && i < MAX_SERVERS;
	     s = s->next, i++)
		if (same_server(s, from))
			bits |= 1ull << i;
	return bits;
}

/* @qname is @name, or @name with a search domain after it. */
static bool asked_about(const char *qname, const char *name)
{
	size_t n = strlen(name);
	if (n && name[n - 1] == '.')
		n--;
	return !strncasecmp(qname, name, n) && (qname[n] == 0 || qname[n] == '.');
}

static bool is_refusal(const unsigned char *buf, size_t len)
{
	/* a response (QR), rcode REFUSED, a question to say what for */
	return len >= HEADER_LEN && len <= INT_MAX && (buf[2] & 0x80) &&
	       (buf[3] & 0x0f) == RCODE_REFUSED && (buf[4] | buf[5]);
}

/* sock.c: c-ares read the datagram @buf from @from. */
void corio__dns_answer_seen(struct corio__dns *d, const unsigned char *buf, size_t len,
			    const struct sockaddr *from)
{
	char *qname;
	long enclen;
	if (!is_refusal(buf, len))
		return;
	uint64_t bits = servers_at(d, from);
	const unsigned char *question = buf + HEADER_LEN;
	if (!bits || ares_expand_name(question, buf, (int)len, &qname, &enclen))
		return;
	for (struct corio__node *n = d->started.head; n; n = n->next) {
		struct corio__dns_req *r = corio__dns_req_of(n);
		if (!r->abandoned && r->name && asked_about(qname, r->name))
			r->refused_by |= bits;
	}
	ares_free_string(qname);
}

static bool refused_by_all(const struct corio__dns_req *r)
{
	unsigned n = 0;
	for (const struct ares_addr_port_node *s = r->dns->ares_servers; s; s = s->next)
		n++;
	if (n == 0 || n > MAX_SERVERS)
		return false;
	uint64_t all = n == MAX_SERVERS ? ~0ull : (1ull << n) - 1;
	return (r->refused_by & all) == all;
}

int corio__dns_req_error(const struct corio__dns_req *r)
{
	if (r->status == ARES_ECONNREFUSED && refused_by_all(r))
		return CORIO_EREFUSED;
	return corio__dns_error(r->dns, r->status);
}
