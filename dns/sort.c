/* SPDX-License-Identifier: MIT */
/*
 * sort.c - the addresses a lookup found, and their order: RFC 6724
 * destination address selection, as glibc applies it, so that the first
 * entry is the one a client should try first (Happy Eyeballs interleaves
 * from there).  The source address the kernel would use for each
 * destination comes from connect() on a UDP socket (no packet is sent) and
 * getsockname(); the loop keeps one such probe socket per family (and
 * dissolves its association before each probe) instead of opening and
 * closing one per address as c-ares and glibc do.
 * Implemented rules: 1 (usable), 2 (matching scope), 5 (matching label),
 * 6 (precedence), 8 (smaller scope), 9 (longest matching prefix, IPv6),
 * 10 (otherwise keep the order); 3, 4 and 7 need facts Linux does not
 * expose cheaply and are skipped, like everyone else does.
 */
#include "dns_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SCOPE_LINK 0x2
#define SCOPE_SITE 0x5
#define SCOPE_GLOBAL 0xe

/* ---- the list ---------------------------------------------------------- */

int corio__dns_addrs_push(struct corio__dns_addrs *l, const struct corio__dns_addr *a)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		void *v = realloc(l->v, cap * sizeof(*l->v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *a;
	return 0;
}

void corio__dns_addrs_free(struct corio__dns_addrs *l)
{
	free(l->v);
	free(l->canon);
	memset(l, 0, sizeof(*l));
}

/* ---- RFC 6724 section 2.1: the default policy table ------------------------ */

struct policy {
	uint8_t prefix[16];
	int len, precedence, label;
};

/* Longest prefixes first, so the first match is the right one. */
static const struct policy policies[] = {
	{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, 50, 0}, /* ::1 */
	{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, 35, 4},       /* ::ffff:0:0/96 */
	{{0}, 96, 1, 3},                                                /* ::/96 */
	{{0x20, 0x01, 0, 0}, 32, 5, 5},                                 /* 2001::/32 */
	{{0x20, 0x02}, 16, 30, 2},                                      /* 2002::/16 */
	{{0x3f, 0xfe}, 16, 1, 12},                                      /* 3ffe::/16 */
	{{0xfe, 0xc0}, 10, 1, 11},                                      /* fec0::/10 */
	{{0xfc}, 7, 3, 13},                                             /* fc00::/7 */
	{{0}, 0, 40, 1},                                                /* ::/0 */
};

static int common_prefix(const struct in6_addr *a, const struct in6_addr *b)
{
	int bits = 0;
	for (int i = 0; i < 16; i++) {
		uint8_t x = a->s6_addr[i] ^ b->s6_addr[i];
		if (!x)
			bits += 8;
		else
			return bits + __builtin_clz((unsigned)x) - 24;
	}
	return bits;
}

static const struct policy *policy_of(const struct in6_addr *a)
{
	for (size_t i = 0;; i++) {
		struct in6_addr p;
		memcpy(p.s6_addr, policies[i].prefix, 16);
		if (common_prefix(a, &p) >= policies[i].len)
			return &policies[i];
	}
}

/* RFC 6724 section 3: IPv4 loopback and link-local count as link scope. */
static int scope_of(const struct in6_addr *a)
{
	const uint8_t *b = a->s6_addr;
	if (b[0] == 0xff)
		return b[1] & 0xf;
	if (IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a))
		return SCOPE_LINK;
	if (IN6_IS_ADDR_SITELOCAL(a))
		return SCOPE_SITE;
	if (IN6_IS_ADDR_V4MAPPED(a) && (b[12] == 127 || (b[12] == 169 && b[13] == 254)))
		return SCOPE_LINK;
	return SCOPE_GLOBAL;
}

/* ---- sources ---------------------------------------------------------- */

static void to_v6(const struct corio__dns_addr *a, struct in6_addr *out)
{
	if (a->family == AF_INET6) {
		*out = a->a.v6;
		return;
	}
	memset(out, 0, sizeof(*out));
	out->s6_addr[10] = out->s6_addr[11] = 0xff;
	memcpy(&out->s6_addr[12], &a->a.v4, 4);
}

/* The source address for @a, as v6 (v4-mapped for IPv4); false if the
 * kernel has no route to it. */
static bool source_of(struct corio__dns *d, const struct corio__dns_addr *a,
		      struct in6_addr *src)
{
	int *fd = a->family == AF_INET ? &d->probe4 : &d->probe6;
	if (*fd < 0)
		*fd = socket(a->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return false;
	union {
		struct sockaddr sa;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} dst, me;
	socklen_t len;
	memset(&dst, 0, sizeof(dst));
	if (a->family == AF_INET) {
		dst.v4.sin_family = AF_INET;
		dst.v4.sin_addr = a->a.v4;
		len = sizeof(dst.v4);
	} else {
		dst.v6.sin6_family = AF_INET6;
		dst.v6.sin6_addr = a->a.v6;
		dst.v6.sin6_scope_id = a->scope;
		len = sizeof(dst.v6);
	}
	/* A UDP socket keeps the source address of its first connect():
	 * dissolve the last association (AF_UNSPEC) so the kernel picks
	 * afresh for this destination. */
	struct sockaddr none = {.sa_family = AF_UNSPEC};
	socklen_t mlen = sizeof(me);
	connect(*fd, &none, sizeof(none));
	if (connect(*fd, &dst.sa, len) < 0 || getsockname(*fd, &me.sa, &mlen) < 0)
		return false;
	struct corio__dns_addr s = {.family = a->family};
	if (a->family == AF_INET)
		s.a.v4 = me.v4.sin_addr;
	else
		s.a.v6 = me.v6.sin6_addr;
	to_v6(&s, src);
	return true;
}

void corio__dns_probe_close(struct corio__dns *d)
{
	if (d->probe4 >= 0)
		close(d->probe4);
	if (d->probe6 >= 0)
		close(d->probe6);
	if (d->nl >= 0)
		close(d->nl);
	free(d->nl_buf);
	d->nl_buf = NULL;
	d->probe4 = d->probe6 = d->nl = -1;
}

/* ---- sorting ---------------------------------------------------------- */

struct key {
	struct corio__dns_addr addr;
	size_t index;
	bool usable;
	int scope, src_scope, prec, label, src_label, prefix;
	bool v6; /* a real IPv6 address (rule 9) */
};

/* @rt: what netlink said about @a, if it said anything. */
static void key_init(struct corio__dns *d, struct key *k, const struct corio__dns_addr *a,
		     size_t index, const struct corio__dns_route *rt)
{
	struct in6_addr dst, src;
	to_v6(a, &dst);
	const struct policy *p = policy_of(&dst);
	k->addr = *a;
	k->index = index;
	k->v6 = a->family == AF_INET6;
	k->scope = scope_of(&dst);
	k->prec = p->precedence;
	k->label = p->label;
	if (rt->known) {
		k->usable = rt->usable;
		to_v6(&rt->src, &src);
	} else {
		k->usable = source_of(d, a, &src);
	}
	if (k->usable) {
		k->src_scope = scope_of(&src);
		k->src_label = policy_of(&src)->label;
		k->prefix = common_prefix(&dst, &src);
	}
}

/* <0 when @a goes first. */
static int compare(const void *pa, const void *pb)
{
	const struct key *a = pa, *b = pb;
	if (a->usable != b->usable)
		return a->usable ? -1 : 1; /* rule 1 */
	if (a->usable) {
		bool ma = a->scope == a->src_scope, mb = b->scope == b->src_scope;
		if (ma != mb)
			return ma ? -1 : 1; /* rule 2 */
		ma = a->label == a->src_label;
		mb = b->label == b->src_label;
		if (ma != mb)
			return ma ? -1 : 1; /* rule 5 */
	}
	if (a->prec != b->prec)
		return a->prec > b->prec ? -1 : 1; /* rule 6 */
	if (a->scope != b->scope)
		return a->scope < b->scope ? -1 : 1; /* rule 8 */
	if (a->usable && a->v6 && b->v6 && a->prefix != b->prefix)
		return a->prefix > b->prefix ? -1 : 1; /* rule 9 */
	return a->index < b->index ? -1 : a->index > b->index; /* rule 10 */
}

int corio__dns_sort(struct corio__dns *d, struct corio__dns_addrs *l)
{
	if (l->n < 2)
		return 0; /* nothing to order: no probe needed */
	struct key *k = malloc(l->n * (sizeof(*k) + sizeof(struct corio__dns_route)));
	if (!k)
		return -ENOMEM;
	struct corio__dns_route *rt = (void *)(k + l->n);
	if (corio__dns_routes(d, l->v, l->n, rt))
		memset(rt, 0, l->n * sizeof(*rt)); /* no netlink: probe each */
	for (size_t i = 0; i < l->n; i++)
		key_init(d, &k[i], &l->v[i], i, &rt[i]);
	qsort(k, l->n, sizeof(*k), compare);
	for (size_t i = 0; i < l->n; i++)
		l->v[i] = k[i].addr;
	free(k);
	return 0;
}
