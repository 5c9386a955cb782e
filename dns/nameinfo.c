/* SPDX-License-Identifier: MIT */
/*
 * nameinfo.c - corio_getnameinfo(): reverse lookups (PTR, or /etc/hosts)
 * and service names through ares_getnameinfo(), with POSIX flags and
 * corio error codes.  Numeric-only requests are answered by c-ares inside
 * the call, without any I/O.
 */
#include "dns_int.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

CORIO__DNS_ERRORS_AT_LOAD

#define KNOWN_FLAGS (NI_NUMERICHOST | NI_NUMERICSERV | NI_NAMEREQD | NI_NOFQDN | NI_DGRAM)

struct gni_req {
	struct corio__dns_req r;
	union {
		struct sockaddr sa;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} addr;
	socklen_t len;
	int flags;         /* ARES_NI_* */
	bool want_host, want_serv;
	char *host, *serv; /* the answer: ours from /etc/hosts, or c-ares's */
};

static void gni_callback(void *arg, int status, int timeouts, char *node, char *service)
{
	(void)timeouts;
	struct gni_req *g = arg;
	if (status == ARES_SUCCESS) {
		if (node && !g->host && !(g->host = strdup(node)))
			status = ARES_ENOMEM;
		if (service && !(g->serv = strdup(service)))
			status = ARES_ENOMEM;
	}
	corio__dns_finish(&g->r, status);
}

static void gni_start(struct corio__dns_req *r)
{
	struct gni_req *g = corio__container_of(r, struct gni_req, r);
	ares_getnameinfo(r->dns->ch, &g->addr.sa, g->len, g->flags, gni_callback, g);
}

static void gni_drop(struct corio__dns_req *r)
{
	struct gni_req *g = corio__container_of(r, struct gni_req, r);
	free(g->host);
	free(g->serv);
	free(g);
}

static int ares_flags(int flags, bool want_host, bool want_serv)
{
	int f = 0;
	if (flags & NI_NUMERICHOST)
		f |= ARES_NI_NUMERICHOST;
	if (flags & NI_NUMERICSERV)
		f |= ARES_NI_NUMERICSERV;
	if (flags & NI_NAMEREQD)
		f |= ARES_NI_NAMEREQD;
	if (flags & NI_NOFQDN)
		f |= ARES_NI_NOFQDN;
	if (flags & NI_DGRAM)
		f |= ARES_NI_DGRAM;
	if (want_host)
		f |= ARES_NI_LOOKUPHOST;
	if (want_serv)
		f |= ARES_NI_LOOKUPSERVICE;
	return f;
}

/* Copy the address with the exact length c-ares insists on. */
static int copy_addr(struct gni_req *g, const struct sockaddr *sa, socklen_t len)
{
	if (!sa || len < (socklen_t)sizeof(sa->sa_family))
		return -EINVAL;
	if (sa->sa_family == AF_INET)
		g->len = sizeof(struct sockaddr_in);
	else if (sa->sa_family == AF_INET6)
		g->len = sizeof(struct sockaddr_in6);
	else
		return CORIO_EFAMILY;
	if (len < g->len)
		return -EINVAL;
	memcpy(&g->addr, sa, g->len);
	return 0;
}

/* Both answers fit, or neither buffer is touched. */
static int deliver(const struct gni_req *g, char *host, size_t hostlen, char *serv,
		   size_t servlen)
{
	bool want_host = g->want_host, want_serv = g->want_serv;
	const char *h = g->host ? g->host : "", *s = g->serv ? g->serv : "";
	if ((want_host && strlen(h) >= hostlen) || (want_serv && strlen(s) >= servlen))
		return -EOVERFLOW;
	if (want_host)
		memcpy(host, h, strlen(h) + 1);
	if (want_serv)
		memcpy(serv, s, strlen(s) + 1);
	return 0;
}

/* NI_NOFQDN: drop our own domain from a name in it (as c-ares does). */
static void strip_own_domain(char *name)
{
	char me[256];
	if (gethostname(me, sizeof(me)) < 0)
		return;
	me[sizeof(me) - 1] = 0;
	const char *dom = strchr(me, '.');
	size_t n = strlen(name), k = dom ? strlen(dom) : 0;
	if (dom && n > k && !strcasecmp(name + n - k, dom))
		name[n - k] = 0;
}

/* /etc/hosts answers the host part itself; with no server configured, a
 * miss becomes the numeric form (or CORIO_ECONNECTION if a name is
 * required) instead of a query. */
static int from_hosts(struct corio__dns *d, struct gni_req *g)
{
	if (!g->want_host || (g->flags & ARES_NI_NUMERICHOST))
		return 0;
	const void *addr = g->addr.sa.sa_family == AF_INET ? (const void *)&g->addr.v4.sin_addr
							   : (const void *)&g->addr.v6.sin6_addr;
	const char *name = corio__hosts_name(d, g->addr.sa.sa_family, addr);
	if (name) {
		if (!(g->host = strdup(name)))
			return -ENOMEM;
		if (g->flags & ARES_NI_NOFQDN)
			strip_own_domain(g->host);
		g->flags &= ~ARES_NI_LOOKUPHOST;
	} else if (d->no_servers) {
		if (g->flags & ARES_NI_NAMEREQD)
			return CORIO_ECONNECTION;
		g->flags |= ARES_NI_NUMERICHOST;
	}
	return 0;
}

static int run(struct gni_req *g, char *host, size_t hostlen, char *serv, size_t servlen)
{
	struct corio__dns *d;
	int err = corio__dns_get(corio__tls_loop, &d);
	if (!err)
		err = from_hosts(d, g);
	if (err) {
		gni_drop(&g->r);
		return err;
	}
	if (g->flags & (ARES_NI_LOOKUPHOST | ARES_NI_LOOKUPSERVICE)) {
		err = corio__dns_run(d, &g->r);
		if (err)
			return err; /* interrupted: g is the resolver's now */
	} else {
		g->r.status = ARES_SUCCESS; /* all from /etc/hosts */
	}
	if (g->r.status == ARES_SUCCESS)
		err = deliver(g, host, hostlen, serv, servlen);
	else
		err = corio__dns_error(d, g->r.status);
	gni_drop(&g->r);
	return err;
}

int corio_getnameinfo(const struct sockaddr *sa, socklen_t len, char *host, size_t hostlen,
		      char *serv, size_t servlen, int flags)
{
	bool want_host = host && hostlen, want_serv = serv && servlen;
	if ((flags & ~KNOWN_FLAGS) || (!want_host && !want_serv))
		return -EINVAL;
	if ((flags & NI_NUMERICHOST) && (flags & NI_NAMEREQD))
		return -EINVAL;
	struct gni_req *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	int err = copy_addr(g, sa, len);
	corio_task *t = corio_self();
	if (!err && !t)
		err = -EPERM;
	if (!err)
		err = corio__interrupted(t);
	if (err) {
		free(g);
		return err;
	}
	g->r.start = gni_start;
	g->r.drop = gni_drop;
	g->flags = ares_flags(flags, want_host, want_serv);
	g->want_host = want_host;
	g->want_serv = want_serv;
	return run(g, host, hostlen, serv, servlen);
}
