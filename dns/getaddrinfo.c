/* SPDX-License-Identifier: MIT */
/*
 * getaddrinfo.c - corio_getaddrinfo()/corio_freeaddrinfo(): POSIX shapes,
 * glibc's conventions (one entry per socket type when none is asked for,
 * the wildcard and loopback addresses for a NULL node, AI_V4MAPPED), corio
 * error codes.  Services, numeric hosts and NULL nodes are handled here
 * without a lookup; names go to c-ares (which reads /etc/hosts, then asks
 * the servers, then sorts per RFC 6724) through the resolver's requests.
 */
#include "dns_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

CORIO__DNS_ERRORS_AT_LOAD

#define KNOWN_FLAGS                                                                    \
	(AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_NUMERICSERV | AI_V4MAPPED |   \
	 AI_ALL | AI_ADDRCONFIG)

/* One socket type to emit per address, with its port. */
struct kind {
	int socktype, protocol;
	uint16_t port; /* network order */
};

/* What a request asks for, worked out before any lookup. */
struct want {
	struct addrinfo h; /* the hints, defaults filled in */
	struct kind kinds[3];
	int nkinds;
};

/* An entry and its address in one allocation, as glibc does it. */
struct entry {
	struct addrinfo ai;
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} sa;
};

struct list {
	struct addrinfo *head, **tail;
};

/* ---- hints and services ------------------------------------------------ */

static int check_hints(const struct addrinfo *h, const char *node)
{
	if (h->ai_flags & ~KNOWN_FLAGS)
		return -EINVAL;
	if ((h->ai_flags & AI_CANONNAME) && !node)
		return -EINVAL;
	if (h->ai_family != AF_UNSPEC && h->ai_family != AF_INET && h->ai_family != AF_INET6)
		return CORIO_EFAMILY;
	if (h->ai_socktype != 0 && h->ai_socktype != SOCK_STREAM &&
	    h->ai_socktype != SOCK_DGRAM && h->ai_socktype != SOCK_RAW)
		return -ESOCKTNOSUPPORT;
	return 0;
}

/* Port of @service for @proto ("tcp"/"udp") in network order, or -1. */
static int service_port(const char *service, const char *proto)
{
	struct servent se, *res = NULL;
	char buf[1024];
	if (getservbyname_r(service, proto, &se, buf, sizeof(buf), &res) || !res)
		return -1;
	return (uint16_t)res->s_port;
}

static int numeric_service(const char *service, uint16_t *port)
{
	char *end;
	if (service[0] < '0' || service[0] > '9')
		return -1;
	unsigned long v = strtoul(service, &end, 10);
	if (*end || v > 65535)
		return CORIO_ENOSERVICE;
	*port = htons((uint16_t)v);
	return 0;
}

static void add_kind(struct want *w, int socktype, int protocol, uint16_t port)
{
	w->kinds[w->nkinds++] = (struct kind){socktype, protocol, port};
}

static int kinds_any(struct want *w, const char *service, int num, uint16_t port)
{
	if (!service) {
		add_kind(w, SOCK_STREAM, IPPROTO_TCP, 0);
		add_kind(w, SOCK_DGRAM, IPPROTO_UDP, 0);
		add_kind(w, SOCK_RAW, 0, 0);
		return 0;
	}
	if (num == 0) {
		add_kind(w, SOCK_STREAM, IPPROTO_TCP, port);
		add_kind(w, SOCK_DGRAM, IPPROTO_UDP, port);
		return 0;
	}
	int tcp = service_port(service, "tcp"), udp = service_port(service, "udp");
	if (tcp >= 0)
		add_kind(w, SOCK_STREAM, IPPROTO_TCP, (uint16_t)tcp);
	if (udp >= 0)
		add_kind(w, SOCK_DGRAM, IPPROTO_UDP, (uint16_t)udp);
	return w->nkinds ? 0 : CORIO_ENOSERVICE;
}

/* Socket types and ports to emit for each address. */
static int plan_kinds(struct want *w, const char *service)
{
	const struct addrinfo *h = &w->h;
	uint16_t port = 0;
	int num = -1;
	if (service && !*service)
		service = NULL; /* as glibc: "" is no service */
	if (service) {
		num = numeric_service(service, &port);
		if (num < -1 || (num < 0 && (h->ai_flags & AI_NUMERICSERV)))
			return CORIO_ENOSERVICE;
	}
	int st = h->ai_socktype, proto = h->ai_protocol;
	if (!st && proto == IPPROTO_TCP)
		st = SOCK_STREAM;
	else if (!st && proto == IPPROTO_UDP)
		st = SOCK_DGRAM;
	else if (!st && proto)
		st = SOCK_RAW;
	if (!st)
		return kinds_any(w, service, num, port);
	if (st == SOCK_RAW) {
		if (service)
			return CORIO_ENOSERVICE; /* raw sockets have no ports */
		add_kind(w, SOCK_RAW, proto, 0);
		return 0;
	}
	if (!proto)
		proto = st == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
	if (service && num < 0) {
		int p = service_port(service, st == SOCK_STREAM ? "tcp" : "udp");
		if (p < 0)
			return CORIO_ENOSERVICE;
		port = (uint16_t)p;
	}
	add_kind(w, st, proto, port);
	return 0;
}

/* ---- building the list ------------------------------------------------- */

void corio_freeaddrinfo(struct addrinfo *res)
{
	while (res) {
		struct addrinfo *next = res->ai_next;
		free(res->ai_canonname);
		free(res);
		res = next;
	}
}

/* Append one entry per socket type for the address @addr of @family. */
static int emit(struct list *l, const struct want *w, int family, const void *addr,
		uint32_t scope)
{
	for (int i = 0; i < w->nkinds; i++) {
		struct entry *e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		e->ai.ai_flags = w->h.ai_flags;
		e->ai.ai_family = family;
		e->ai.ai_socktype = w->kinds[i].socktype;
		e->ai.ai_protocol = w->kinds[i].protocol;
		e->ai.ai_addr = (struct sockaddr *)&e->sa;
		if (family == AF_INET) {
			e->sa.v4.sin_family = AF_INET;
			e->sa.v4.sin_port = w->kinds[i].port;
			memcpy(&e->sa.v4.sin_addr, addr, sizeof(e->sa.v4.sin_addr));
			e->ai.ai_addrlen = sizeof(e->sa.v4);
		} else {
			e->sa.v6.sin6_family = AF_INET6;
			e->sa.v6.sin6_port = w->kinds[i].port;
			memcpy(&e->sa.v6.sin6_addr, addr, sizeof(e->sa.v6.sin6_addr));
			e->sa.v6.sin6_scope_id = scope;
			e->ai.ai_addrlen = sizeof(e->sa.v6);
		}
		*l->tail = &e->ai;
		l->tail = &e->ai.ai_next;
	}
	return 0;
}

/* An IPv4 address as AF_INET, or as ::ffff:a.b.c.d when v4-mapped. */
static int emit_v4(struct list *l, const struct want *w, const struct in_addr *a)
{
	if (w->h.ai_family != AF_INET6)
		return emit(l, w, AF_INET, a, 0);
	struct in6_addr m;
	memset(&m, 0, sizeof(m));
	m.s6_addr[10] = m.s6_addr[11] = 0xff;
	memcpy(&m.s6_addr[12], a, 4);
	return emit(l, w, AF_INET6, &m, 0);
}

/* Hand the list over, with the canonical name on its first entry. */
static int finish_list(struct list *l, const struct want *w, const char *canon,
		       struct addrinfo **res)
{
	if (!l->head)
		return CORIO_ENODATA;
	if ((w->h.ai_flags & AI_CANONNAME) && canon) {
		l->head->ai_canonname = strdup(canon);
		if (!l->head->ai_canonname) {
			corio_freeaddrinfo(l->head);
			l->head = NULL; /* so that the caller's cleanup is a no-op */
			return -ENOMEM;
		}
	}
	*res = l->head;
	return 0;
}

/* NULL node: the wildcard (AI_PASSIVE) or loopback addresses, in glibc's
 * order (IPv4 first for a listener, IPv6 first for a client). */
static int from_null(const struct want *w, struct addrinfo **res)
{
	bool passive = w->h.ai_flags & AI_PASSIVE;
	struct in_addr v4 = {htonl(passive ? INADDR_ANY : INADDR_LOOPBACK)};
	const struct in6_addr *v6 = passive ? &in6addr_any : &in6addr_loopback;
	int fam = w->h.ai_family;
	struct list l = {NULL, &l.head};
	int err = 0;
	if (passive && fam != AF_INET6)
		err = emit(&l, w, AF_INET, &v4, 0);
	if (!err && fam != AF_INET)
		err = emit(&l, w, AF_INET6, v6, 0);
	if (!err && !passive && fam != AF_INET6)
		err = emit(&l, w, AF_INET, &v4, 0);
	if (err) {
		corio_freeaddrinfo(l.head);
		return err;
	}
	return finish_list(&l, w, NULL, res);
}

/* ---- numeric hosts ------------------------------------------------------- */

/* "fe80::1%eth0" or "fe80::1%2": the address and its scope. */
static int parse_v6(const char *node, struct in6_addr *a, uint32_t *scope)
{
	char buf[INET6_ADDRSTRLEN];
	const char *pct = strchr(node, '%');
	size_t n = pct ? (size_t)(pct - node) : strlen(node);
	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, node, n);
	buf[n] = 0;
	if (inet_pton(AF_INET6, buf, a) != 1)
		return 0;
	*scope = 0;
	if (!pct)
		return 1;
	char *end;
	unsigned long v = strtoul(pct + 1, &end, 10);
	if (pct[1] && !*end && v <= UINT32_MAX)
		*scope = (uint32_t)v;
	else if (!(*scope = if_nametoindex(pct + 1)))
		return -1;
	return 1;
}

/* 1 and *@res if @node is a numeric address, 0 if it is not, or an error. */
static int from_numeric(const char *node, const struct want *w, struct addrinfo **res)
{
	struct in_addr v4;
	struct in6_addr v6;
	uint32_t scope;
	struct list l = {NULL, &l.head};
	int err, fam = w->h.ai_family;
	if (inet_pton(AF_INET, node, &v4) == 1) {
		if (fam == AF_INET6 && !(w->h.ai_flags & AI_V4MAPPED))
			return CORIO_EFAMILY;
		err = emit_v4(&l, w, &v4);
	} else {
		int r = parse_v6(node, &v6, &scope);
		if (r <= 0)
			return r < 0 ? CORIO_ENOTFOUND : 0;
		if (fam == AF_INET)
			return CORIO_EFAMILY;
		err = emit(&l, w, AF_INET6, &v6, scope);
	}
	if (!err)
		err = finish_list(&l, w, node, res);
	if (err) {
		corio_freeaddrinfo(l.head);
		return err;
	}
	return 1;
}

/* ---- names ------------------------------------------------------------- */

struct gai_req {
	struct corio__dns_req r;
	const char *node; /* the caller's: read only while it waits */
	struct ares_addrinfo_hints hints;
	struct ares_addrinfo *ai;
};

static void gai_callback(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	(void)timeouts;
	struct gai_req *g = arg;
	g->ai = res;
	corio__dns_finish(&g->r, status);
}

static void gai_start(struct corio__dns_req *r)
{
	struct gai_req *g = corio__container_of(r, struct gai_req, r);
	ares_getaddrinfo(r->dns->ch, g->node, NULL, &g->hints, gai_callback, g);
}

static void gai_drop(struct corio__dns_req *r)
{
	struct gai_req *g = corio__container_of(r, struct gai_req, r);
	if (g->ai)
		ares_freeaddrinfo(g->ai);
	free(g);
}

/* c-ares's answer as an address list; the canonical name is the end of
 * the CNAME chain. */
static int from_ares(const struct ares_addrinfo *ai, const char *node,
		     struct corio__dns_addrs *out)
{
	const char *canon = node;
	for (const struct ares_addrinfo_cname *c = ai->cnames; c; c = c->next)
		if (c->name)
			canon = c->name;
	if (!(out->canon = strdup(canon)))
		return -ENOMEM;
	for (const struct ares_addrinfo_node *n = ai->nodes; n; n = n->ai_next) {
		struct corio__dns_addr a = {.family = n->ai_family};
		if (n->ai_family == AF_INET) {
			a.a.v4 = ((const struct sockaddr_in *)(const void *)n->ai_addr)->sin_addr;
		} else if (n->ai_family == AF_INET6) {
			const struct sockaddr_in6 *sa = (const void *)n->ai_addr;
			a.a.v6 = sa->sin6_addr;
			a.scope = sa->sin6_scope_id;
		} else {
			continue;
		}
		if (corio__dns_addrs_push(out, &a))
			return -ENOMEM;
	}
	return out->n ? 0 : CORIO_ENODATA;
}

static int ask_servers(struct corio__dns *d, const char *node, int family,
		       struct corio__dns_addrs *out)
{
	struct gai_req *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->r.start = gai_start;
	g->r.drop = gai_drop;
	g->node = node;
	g->r.name = node;
	g->hints.ai_family = family;
	g->hints.ai_flags = ARES_AI_NOSORT; /* sort.c orders them, cheaper */
	int err = corio__dns_run(d, &g->r);
	if (err)
		return err; /* interrupted: g is the resolver's now */
	if (g->r.status == ARES_SUCCESS)
		err = from_ares(g->ai, node, out);
	else
		err = corio__dns_req_error(&g->r);
	gai_drop(&g->r);
	return err;
}

/* RFC 6761: "localhost" and names under it are the loopback addresses
 * and are never sent to a server. */
static bool is_localhost(const char *node)
{
	size_t n = strlen(node);
	if (n && node[n - 1] == '.')
		n--;
	return (n == 9 && !strncasecmp(node, "localhost", 9)) ||
	       (n > 10 && !strncasecmp(node + n - 10, ".localhost", 10));
}

static int loopback(int family, struct corio__dns_addrs *out)
{
	struct corio__dns_addr v6 = {.family = AF_INET6, .a.v6 = IN6ADDR_LOOPBACK_INIT};
	struct corio__dns_addr v4 = {.family = AF_INET, .a.v4.s_addr = htonl(INADDR_LOOPBACK)};
	if ((family != AF_INET && corio__dns_addrs_push(out, &v6)) ||
	    (family != AF_INET6 && corio__dns_addrs_push(out, &v4)))
		return -ENOMEM;
	return 0;
}

/* /etc/hosts, then localhost, then the servers. */
static int find(struct corio__dns *d, const char *node, int family, struct corio__dns_addrs *out)
{
	int r = corio__hosts_find(d, node, family, out);
	if (r)
		return r < 0 ? r : 0;
	if (is_localhost(node))
		return loopback(family, out);
	if (d->no_servers)
		return CORIO_ECONNECTION;
	return ask_servers(d, node, family, out);
}

/* The entries, in sorted order; AI_V4MAPPED puts real IPv6 addresses
 * first and maps IPv4 ones only if there are none (or with AI_ALL). */
static int emit_all(const struct corio__dns_addrs *a, const struct want *w,
		    struct addrinfo **res)
{
	struct list l = {NULL, &l.head};
	int err = 0;
	bool mapped = w->h.ai_family == AF_INET6 && (w->h.ai_flags & AI_V4MAPPED);
	for (size_t i = 0; i < a->n && !err; i++)
		if (!mapped || a->v[i].family == AF_INET6)
			err = emit(&l, w, a->v[i].family, &a->v[i].a, a->v[i].scope);
	if (mapped && (!l.head || (w->h.ai_flags & AI_ALL)))
		for (size_t i = 0; i < a->n && !err; i++)
			if (a->v[i].family == AF_INET)
				err = emit_v4(&l, w, &a->v[i].a.v4);
	if (!err)
		err = finish_list(&l, w, a->canon, res);
	if (err)
		corio_freeaddrinfo(l.head);
	return err;
}

static int lookup(const char *node, const struct want *w, struct addrinfo **res)
{
	struct corio__dns *d;
	int err = corio__dns_get(corio__tls_loop, &d);
	if (err)
		return err;
	int family = w->h.ai_family;
	if (family == AF_INET6 && (w->h.ai_flags & AI_V4MAPPED))
		family = AF_UNSPEC; /* IPv4 answers may be mapped */
	struct corio__dns_addrs addrs = {0};
	err = find(d, node, family, &addrs);
	if (!err && !addrs.canon && !(addrs.canon = strdup(node)))
		err = -ENOMEM;
	if (!err)
		err = corio__dns_sort(d, &addrs);
	if (!err)
		err = emit_all(&addrs, w, res);
	corio__dns_addrs_free(&addrs);
	return err;
}

int corio_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		      struct addrinfo **res)
{
	struct want w;
	memset(&w, 0, sizeof(w));
	if (hints) {
		w.h.ai_flags = hints->ai_flags;
		w.h.ai_family = hints->ai_family;
		w.h.ai_socktype = hints->ai_socktype;
		w.h.ai_protocol = hints->ai_protocol;
	} else {
		w.h.ai_flags = AI_V4MAPPED | AI_ADDRCONFIG; /* glibc's default */
	}
	if (!res || (!node && !service))
		return -EINVAL;
	int err = check_hints(&w.h, node);
	if (err)
		return err;
	corio_task *t = corio_self();
	if (!t)
		return -EPERM;
	if ((err = corio__interrupted(t)) || (err = plan_kinds(&w, service)))
		return err;
	if (!node)
		return from_null(&w, res);
	err = from_numeric(node, &w, res);
	if (err)
		return err > 0 ? 0 : err;
	if (w.h.ai_flags & AI_NUMERICHOST)
		return CORIO_ENOTFOUND;
	if ((err = corio__dns_check_name(node)))
		return err;
	return lookup(node, &w, res);
}
