/* SPDX-License-Identifier: MIT */
/*
 * servers.c - the server lists of corio_dns_set_servers() and
 * $CORIO_DNS_SERVERS, checked and parsed here rather than by c-ares, whose
 * CSV parser (1.18) takes a port modulo 65536, a lone "[" and an empty
 * last entry, yet refuses "[v6]" without a port.  The resolver hands
 * c-ares the parsed list (ares_set_servers_ports()).
 */
#include "dns_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PORT 53

/* "1".."65535", digits only. */
static int parse_port(const char *s, size_t n, int *port)
{
	int v = 0;
	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

/* The @n bytes at @s, a numeric address of @family, into @node. */
static int parse_addr(const char *s, size_t n, int family,
		      struct ares_addr_port_node *node)
{
	char buf[INET6_ADDRSTRLEN];
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (inet_pton(family, buf, &node->addr) != 1)
		return -EINVAL;
	node->family = family;
	return 0;
}

/* "[v6]" or "[v6]:port". */
static int parse_bracketed(const char *s, size_t n, struct ares_addr_port_node *node,
			   int *port)
{
	const char *end = memchr(s, ']', n);
	if (!end)
		return -EINVAL;
	size_t alen = (size_t)(end - s) - 1, rest = n - (size_t)(end - s) - 1;
	int err = parse_addr(s + 1, alen, AF_INET6, node);
	if (err || !rest)
		return err;
	return end[1] == ':' ? parse_port(end + 2, rest - 1, port) : -EINVAL;
}

/* One entry: "v4", "v4:port", "v6", "[v6]" or "[v6]:port".  An IPv6
 * address has two colons at least, so one colon means "v4:port". */
static int parse_entry(const char *s, size_t n, struct ares_addr_port_node *node)
{
	int port = DEFAULT_PORT, err;
	const char *colon = memchr(s, ':', n);
	if (n && s[0] == '[') {
		err = parse_bracketed(s, n, node, &port);
	} else if (colon && !memchr(colon + 1, ':', n - (size_t)(colon - s) - 1)) {
		err = parse_addr(s, (size_t)(colon - s), AF_INET, node);
		if (!err)
			err = parse_port(colon + 1, n - (size_t)(colon - s) - 1, &port);
	} else {
		err = parse_addr(s, n, colon ? AF_INET6 : AF_INET, node);
	}
	node->udp_port = node->tcp_port = port;
	return err;
}

int corio__dns_servers_parse(const char *csv, struct ares_addr_port_node **out)
{
	size_t n = 1;
	for (const char *p = csv; *p; p++)
		n += *p == ',';
	struct ares_addr_port_node *v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	const char *s = csv;
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(s, ",");
		int err = parse_entry(s, len, &v[i]);
		if (err) {
			free(v);
			return err;
		}
		v[i].next = i + 1 < n ? &v[i + 1] : NULL;
		s += len + 1;
	}
	*out = v;
	return 0;
}
