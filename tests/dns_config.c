/* SPDX-License-Identifier: MIT */
/*
 * tests/dns_config.c - the dns suite, continued: the server lists that
 * corio_dns_set_servers() and $CORIO_DNS_SERVERS accept and refuse (read
 * back from the c-ares channel, white box), the errors a lookup gives
 * when the servers are there but will not help, and the text
 * corio_strerror() gives dns's codes through the runtime's registry.
 */
#include "dns_int.h" /* white box: the channel's server list */
#include "dns_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- server lists ---------------------------------------------------------- */

/* The current loop's servers as c-ares holds them: "a:port,[v6]:port". */
static void servers_now(char *out, size_t outlen)
{
	struct corio__dns *d = corio__dns_find(corio_current_loop());
	struct ares_addr_port_node *list = NULL;
	cr_assert(d && d->ch, "no channel");
	cr_assert_eq(ares_get_servers_ports(d->ch, &list), ARES_SUCCESS);
	out[0] = 0;
	for (struct ares_addr_port_node *p = list; p; p = p->next) {
		char a[INET6_ADDRSTRLEN], one[INET6_ADDRSTRLEN + 16];
		inet_ntop(p->family, &p->addr, a, sizeof(a));
		const char *fmt = p->family == AF_INET6 ? "%s[%s]:%d" : "%s%s:%d";
		snprintf(one, sizeof(one), fmt, out[0] ? "," : "", a, p->udp_port);
		strncat(out, one, outlen - strlen(out) - 1);
	}
	ares_free_data(list);
}

/* Each list, and what c-ares must then hold (NULL: refused, -EINVAL). */
static const struct {
	const char *csv, *servers;
} server_lists[] = {
	{"127.0.0.1", "127.0.0.1:53"},
	{"127.0.0.1:5353", "127.0.0.1:5353"},
	{"192.0.2.1:1,192.0.2.2:65535", "192.0.2.1:1,192.0.2.2:65535"},
	{"::1", "[::1]:53"},
	{"2001:db8::1:53", "[2001:db8::1:53]:53"}, /* an address, not a port */
	{"::ffff:192.0.2.1", "[::ffff:192.0.2.1]:53"},
	{"[::1]", "[::1]:53"},
	{"[2001:db8::1]:5353", "[2001:db8::1]:5353"},
	{"[::1]:53,127.0.0.1,2001:db8::2", "[::1]:53,127.0.0.1:53,[2001:db8::2]:53"},
	/* ports: 1..65535, digits only */
	{"127.0.0.1:99999", NULL},
	{"127.0.0.1:65536", NULL},
	{"127.0.0.1:0", NULL},
	{"127.0.0.1:", NULL},
	{"127.0.0.1:5a", NULL},
	{"127.0.0.1:+53", NULL},
	{"127.0.0.1:-1", NULL},
	{"127.0.0.1:0000053", NULL},
	{"1.2.3.4:53:53", NULL},
	/* brackets: around an IPv6 address, closed, then nothing or a port */
	{"[::1", NULL},
	{"[::1]:", NULL},
	{"[::1]x", NULL},
	{"[::1]:99999", NULL},
	{"::1]", NULL},
	{"[127.0.0.1]:53", NULL},
	{"[]", NULL},
	{"[]:53", NULL},
	{"[[::1]]", NULL},
	/* empty entries and junk */
	{"127.0.0.1,", NULL},
	{",127.0.0.1", NULL},
	{"127.0.0.1,,::1", NULL},
	{",", NULL},
	{"127.0.0.1, ::1", NULL},
	{" 127.0.0.1", NULL},
	{"127.0.0.1 ", NULL},
	{"not-an-ip", NULL},
	{"localhost:53", NULL},
	{"127.1", NULL},
	{"256.0.0.1", NULL},
	{"0x7f.0.0.1", NULL},
	{"fe80::1%lo", NULL},
	{"2001:db8:0:0:0:0:0:0:1", NULL},
};

static void *server_lists_main(void *arg)
{
	(void)arg;
	corio_loop *l = corio_current_loop();
	const char *before = "192.0.2.53:5300";
	char got[256];
	for (size_t i = 0; i < sizeof(server_lists) / sizeof(server_lists[0]); i++) {
		const char *csv = server_lists[i].csv, *want = server_lists[i].servers;
		cr_assert_eq(corio_dns_set_servers(l, before), 0);
		int err = corio_dns_set_servers(l, csv);
		servers_now(got, sizeof(got));
		if (want) {
			cr_assert_eq(err, 0, "'%s': %s", csv, corio_strerror(err));
			cr_assert_str_eq(got, want, "'%s'", csv);
		} else {
			cr_assert_eq(err, -EINVAL, "'%s' was taken as %s", csv, got);
			cr_assert_str_eq(got, before, "'%s' changed the servers", csv);
		}
	}
	/* a name long enough to overrun any buffer an entry is copied to */
	char long_entry[600];
	memset(long_entry, '1', sizeof(long_entry) - 1);
	long_entry[sizeof(long_entry) - 1] = 0;
	cr_assert_eq(corio_dns_set_servers(l, long_entry), -EINVAL);
	/* "" is no server at all: only numeric hosts and /etc/hosts */
	cr_assert_eq(corio_dns_set_servers(l, ""), 0);
	cr_assert(corio__dns_find(l)->no_servers);
	return NULL;
}

Test(dns, server_lists_are_checked_entry_by_entry)
{
	dns_run(server_lists_main, NULL);
}

/* $CORIO_DNS_SERVERS malformed: the first lookup that needs the servers
 * (and corio_dns_set_options()) says so; corio_dns_set_servers() still
 * overrides it. */
static void *bad_env_main(void *arg)
{
	(void)arg;
	corio_loop *l = corio_current_loop();
	char got[64];
	int err = resolve("v4.corio.test", AF_INET, got, sizeof(got));
	cr_assert_eq(err, -EINVAL, "lookup with a malformed $CORIO_DNS_SERVERS: %s",
		     corio_strerror(err));
	cr_assert_eq(corio_dns_set_options(l, NULL), -EINVAL);
	cr_assert_eq(corio_dns_set_servers(l, dnsmasq.server), 0);
	cr_assert_eq(resolve("v4.corio.test", AF_INET, got, sizeof(got)), 0);
	cr_assert_str_eq(got, "192.0.2.4");
	cr_assert_eq(corio_dns_set_servers(l, NULL), -EINVAL, "back to the variable");
	return NULL;
}

Test(dns, malformed_corio_dns_servers_fails_the_first_lookup)
{
	NEED_DNSMASQ();
	/* c-ares alone took the port modulo 65536: dnsmasq's, here */
	char bad[48];
	snprintf(bad, sizeof(bad), "127.0.0.1:%d", dnsmasq.port + 65536);
	cr_assert_eq(setenv("CORIO_DNS_SERVERS", bad, 1), 0);
	dns_run(bad_env_main, NULL);
}

/* ---- servers that will not help ------------------------------------------- */

struct refusers {
	struct t_dnsmasq a, b;
};

/* Two dnsmasqs that refuse every name but ok.corio.test. */
static void refusers_start(struct refusers *r)
{
	const char *const records[] = {"--host-record=ok.corio.test,192.0.2.7", NULL};
	int err = t_dnsmasq_start_refusing(&r->a, records);
	if (!err)
		err = t_dnsmasq_start_refusing(&r->b, records);
	if (err)
		t_dnsmasq_stop(&r->a);
	cr_assert_eq(err, 0, "dnsmasq did not start: %s", strerror(-err));
}

static void refusers_stop(struct refusers *r)
{
	t_dnsmasq_stop(&r->a);
	t_dnsmasq_stop(&r->b);
}

/* Point the current loop at @csv, with short timeouts. */
static void use_servers(const char *csv)
{
	corio_loop *l = corio_current_loop();
	corio_dns_options o = {.timeout_ms = 2000, .tries = 2, .no_search = 1};
	cr_assert_eq(corio_dns_set_options(l, &o), 0);
	cr_assert_eq(corio_dns_set_servers(l, csv), 0);
}

static void *refused_main(void *arg)
{
	struct refusers *r = arg;
	char csv[80], got[64];
	unsigned char *ans;
	size_t len;
	snprintf(csv, sizeof(csv), "%s,%s", r->a.server, r->b.server);
	use_servers(csv);
	/* the fixture answers: these servers are reachable */
	cr_assert_eq(resolve("ok.corio.test", AF_INET, got, sizeof(got)), 0);
	cr_assert_str_eq(got, "192.0.2.7");
	int err = resolve("refused.corio.test", AF_UNSPEC, got, sizeof(got));
	cr_assert_eq(err, CORIO_EREFUSED, "%s", corio_strerror(err));
	cr_assert_eq(resolve("refused.corio.test", AF_INET6, got, sizeof(got)),
		     CORIO_EREFUSED);
	err = corio_dns_query("refused.corio.test", CORIO_DNS_MX, &ans, &len);
	cr_assert_eq(err, CORIO_EREFUSED, "%s", corio_strerror(err));
	cr_assert_str_eq(corio_strerror(CORIO_EREFUSED), "DNS server refused the query");
	/* refused by one, the other unreachable (discard port, nobody there) */
	snprintf(csv, sizeof(csv), "%s,127.0.0.1:9", r->a.server);
	use_servers(csv);
	err = resolve("refused.corio.test", AF_INET, got, sizeof(got));
	cr_assert_eq(err, CORIO_ECONNECTION, "%s", corio_strerror(err));
	/* one server refusing is no answer: the next one is asked */
	snprintf(csv, sizeof(csv), "%s,%s", r->a.server, dnsmasq.server);
	use_servers(csv);
	cr_assert_eq(resolve("v4.corio.test", AF_INET, got, sizeof(got)), 0);
	cr_assert_str_eq(got, "192.0.2.4");
	return NULL;
}

Test(dns, every_server_refusing_is_erefused)
{
	NEED_DNSMASQ();
	struct refusers r;
	refusers_start(&r);
	dns_run(refused_main, &r);
	refusers_stop(&r);
}

/* ---- error codes and their text ------------------------------------------- */

static const char *test_text(int err)
{
	return err == -6001 ? "Test code one" : NULL;
}

Test(dns, strerror_knows_the_codes_a_module_registers)
{
	const char *(*fn)(int) = test_text;
	cr_assert_eq(corio__strerror_register(-6009, -6001, fn), 0);
	cr_assert_str_eq(corio_strerror(-6001), "Test code one");
	cr_assert_not_null(strstr(corio_strerror(-6002), "Unknown error"), "no text");
	cr_assert_eq(corio__strerror_register(-6009, -6001, fn), 0, "again: a no-op");
	cr_assert_eq(corio__strerror_register(-6005, -6000, fn), -EEXIST);
	cr_assert_eq(corio__strerror_register(-5050, -5050, fn), -EEXIST, "dns's block");
	cr_assert_eq(corio__strerror_register(-100, -1, fn), -EINVAL, "errno range");
	cr_assert_eq(corio__strerror_register(-6101, -6109, fn), -EINVAL, "lo > hi");
	cr_assert_eq(corio__strerror_register(-6101, -6101, NULL), -EINVAL);
	int err = 0;
	for (int i = 0; i < 64 && !err; i++)
		err = corio__strerror_register(-7000 - i, -7000 - i, fn);
	cr_assert_eq(err, -ENOSPC, "the table is bounded");
	cr_assert_str_eq(corio_strerror(-6001), "Test code one");
	cr_assert_str_eq(corio_strerror(-ETIMEDOUT), "Connection timed out");
}

Test(dns, every_dns_code_has_its_text)
{
	static const struct {
		int err;
		const char *text;
	} codes[] = {
		{CORIO_ENOTFOUND, "Name does not resolve"},
		{CORIO_ENODATA, "Name has no records of the requested type"},
		{CORIO_ETIMEOUT, "DNS server did not answer in time"},
		{CORIO_ESERVFAIL, "DNS server failed to complete the lookup"},
		{CORIO_EBADNAME, "Malformed domain name"},
		{CORIO_EREFUSED, "DNS server refused the query"},
		{CORIO_EFORMERR, "DNS server could not parse the query"},
		{CORIO_EBADRESP, "Malformed reply from the DNS server"},
		{CORIO_ENOSERVICE, "Unknown service name"},
		{CORIO_EFAMILY, "Address family not supported for this lookup"},
		{CORIO_ECONNECTION, "Could not reach any DNS server"},
		{CORIO_EDNS, "DNS resolver error"},
	};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		cr_assert_lt(codes[i].err, -4096, "outside the errno range");
		cr_assert_str_eq(corio_strerror(codes[i].err), codes[i].text);
	}
}
