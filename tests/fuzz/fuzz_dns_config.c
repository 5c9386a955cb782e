/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dns_config.c - libFuzzer target for the resolver's text parsers.
 * The first byte picks one, the rest is its input:
 *   0  a hosts file (dns/hosts.c, read through corio__hosts_read()): every
 *      word of it is looked up; a name found has addresses of the family
 *      asked for only, the two families add up to the lookup of either,
 *      case does not matter, and the first and last address found map
 *      back to a name that is found again (the first 16 words)
 *   1  a server list as corio_dns_set_servers() and $CORIO_DNS_SERVERS
 *      take it (dns/servers.c): each entry an address and a port 1-65535,
 *      one per comma, and the list written back out parses the same
 *   2  a name for corio__dns_check_name() (dns/name.c): without escapes it
 *      is accepted exactly when its labels are 1-63 bytes and the wire
 *      form at most 255
 */
#include "fuzz_common.h"
#include "dns_int.h"

#include <arpa/inet.h>
#include <errno.h>

#define MAX_WORDS 16 /* a lookup costs a few allocations: keep runs fast */

static char absent[] = "/nonexistent/corio-fuzz-hosts";

static size_t lookup(struct corio__dns *d, const char *name, int family,
		     struct corio__dns_addrs *out)
{
	memset(out, 0, sizeof(*out));
	int rc = corio__hosts_find(d, name, family, out);
	CHECK(rc == 0 || rc == 1);
	CHECK((rc == 1) == (out->n > 0));
	CHECK(!rc || out->canon);
	for (size_t i = 0; i < out->n; i++) {
		int f = out->v[i].family;
		CHECK(f == AF_INET || f == AF_INET6);
		CHECK(family == AF_UNSPEC || f == family);
	}
	return out->n;
}

static void upper(char *s)
{
	for (; *s; s++)
		if (*s >= 'a' && *s <= 'z')
			*s = (char)(*s - 'a' + 'A');
}

static void hosts_word(struct corio__dns *d, char *w)
{
	struct corio__dns_addrs all, v4, v6;
	size_t n = lookup(d, w, AF_UNSPEC, &all);
	CHECK(n == lookup(d, w, AF_INET, &v4) + lookup(d, w, AF_INET6, &v6));
	corio__dns_addrs_free(&v4);
	corio__dns_addrs_free(&v6);
	for (size_t i = 0; i < all.n; i += all.n - 1 > i ? all.n - 1 - i : 1) {
		const struct corio__dns_addr *a = &all.v[i]; /* the first and the last */
		const char *back = corio__hosts_name(d, a->family, &a->a);
		CHECK(back);
		char *copy = strdup(back);
		CHECK(copy);
		CHECK(lookup(d, copy, a->family, &v4) >= 1);
		corio__dns_addrs_free(&v4);
		free(copy);
	}
	upper(w);
	CHECK(lookup(d, w, AF_UNSPEC, &v6) == n);
	corio__dns_addrs_free(&v6);
	corio__dns_addrs_free(&all);
}

static void hosts(const uint8_t *p, size_t n)
{
	struct corio__dns d = {.hosts_path = absent};
	FILE *f = fmemopen(n ? (void *)p : "", n, "r");
	CHECK(f);
	CHECK(corio__hosts_read(&d, f) == 0);
	fclose(f);
	char *text = fz_str(p, n), *save, *w;
	int words = 0;
	for (char *s = text; s < text + n && words < MAX_WORDS; s += strlen(s) + 1)
		for (w = strtok_r(s, " \t\r\n#", &save); w && words < MAX_WORDS;
		     w = strtok_r(NULL, " \t\r\n#", &save), words++)
			hosts_word(&d, w);
	free(text);
	corio__hosts_free(&d);
}

static void servers(const uint8_t *p, size_t n)
{
	char *csv = fz_str(p, n);
	size_t len = strlen(csv), entries = 1;
	for (size_t i = 0; i < len; i++)
		entries += csv[i] == ',';
	struct ares_addr_port_node *v = NULL;
	int rc = corio__dns_servers_parse(csv, &v);
	CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	free(csv);
	if (rc)
		return;
	char *out = malloc(entries * (INET6_ADDRSTRLEN + 9)), *o = out;
	CHECK(out);
	size_t k = 0;
	for (const struct ares_addr_port_node *s = v; s; s = s->next, k++) {
		CHECK(s->family == AF_INET || s->family == AF_INET6);
		CHECK(s->udp_port >= 1 && s->udp_port <= 65535 && s->tcp_port == s->udp_port);
		char a[INET6_ADDRSTRLEN];
		CHECK(inet_ntop(s->family, &s->addr, a, sizeof(a)));
		o += sprintf(o, s->family == AF_INET ? "%s%s:%d" : "%s[%s]:%d", k ? "," : "", a,
			     s->udp_port);
	}
	CHECK(k == entries);
	struct ares_addr_port_node *w = NULL;
	CHECK(corio__dns_servers_parse(out, &w) == 0);
	const struct ares_addr_port_node *x = v, *y = w;
	for (; x && y; x = x->next, y = y->next)
		CHECK(x->family == y->family && x->udp_port == y->udp_port &&
		      !memcmp(&x->addr, &y->addr, x->family == AF_INET ? 4 : 16));
	CHECK(!x && !y);
	free(out);
	free(v);
	free(w);
}

/* Without escapes: the labels between the dots (a final dot allowed)
 * are 1-63 bytes, and the wire form (a length byte per label, the root's
 * zero) is at most 255. */
static bool plain_name_ok(const char *s)
{
	size_t n = strlen(s), wire = 1, label = 0;
	if (n && s[n - 1] == '.')
		n--;
	if (!n)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			label++;
			continue;
		}
		if (!label || label > 63)
			return false;
		wire += label + 1;
		label = 0;
	}
	return wire <= 255;
}

static void name(const uint8_t *p, size_t n)
{
	char *s = fz_str(p, n);
	int rc = corio__dns_check_name(s);
	CHECK(rc == 0 || rc == CORIO_EBADNAME);
	if (!strchr(s, '\\'))
		CHECK((rc == 0) == plain_name_ok(s));
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	switch (data[0] % 3) {
	case 0: hosts(data + 1, size - 1); break;
	case 1: servers(data + 1, size - 1); break;
	default: name(data + 1, size - 1); break;
	}
	return 0;
}
