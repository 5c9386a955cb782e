/* SPDX-License-Identifier: MIT */
/*
 * tests/dns_records.c - the dns suite, continued: reverse lookups, MX,
 * TXT (over TCP when too big for UDP), SRV and CNAME records and their
 * parsers, and hosts files (forward, reverse, canonical names, RFC 6724
 * order, reloading, precedence over the servers).
 */
#include "dns_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- reverse lookups ------------------------------------------------------ */

/* corio_dns_query() that must succeed; says why when it does not. */
static void query_ok(const char *name, int type, unsigned char **ans, size_t *len)
{
	int err = corio_dns_query(name, type, ans, len);
	cr_assert_eq(err, 0, "query %s type %d: %s", name, type, corio_strerror(err));
}

static void *reverse_main(void *arg)
{
	(void)arg;
	use_dnsmasq();
	struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(53)};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
	inet_pton(AF_INET, "192.0.2.10", &v4.sin_addr);
	inet_pton(AF_INET6, "2001:db8::10", &v6.sin6_addr);
	char host[256], serv[32];
	cr_assert_eq(corio_getnameinfo((struct sockaddr *)&v4, sizeof(v4), host, sizeof(host),
				       serv, sizeof(serv), 0), 0);
	cr_assert_str_eq(host, "dual.corio.test");
	cr_assert_str_eq(serv, "domain");
	cr_assert_eq(corio_getnameinfo((struct sockaddr *)&v6, sizeof(v6), host, sizeof(host),
				       serv, sizeof(serv), NI_NUMERICSERV), 0);
	cr_assert_str_eq(host, "dual.corio.test");
	cr_assert_str_eq(serv, "80");
	/* unknown address: numeric unless a name is required */
	inet_pton(AF_INET, "192.0.2.99", &v4.sin_addr);
	cr_assert_eq(corio_getnameinfo((struct sockaddr *)&v4, sizeof(v4), host, sizeof(host),
				       NULL, 0, 0), 0);
	cr_assert_str_eq(host, "192.0.2.99");
	cr_assert_eq(corio_getnameinfo((struct sockaddr *)&v4, sizeof(v4), host, sizeof(host),
				       NULL, 0, NI_NAMEREQD), CORIO_ENOTFOUND);
	/* too small a buffer leaves it untouched */
	inet_pton(AF_INET, "192.0.2.10", &v4.sin_addr);
	char small[4] = "xyz";
	cr_assert_eq(corio_getnameinfo((struct sockaddr *)&v4, sizeof(v4), small, sizeof(small),
				       NULL, 0, 0), -EOVERFLOW);
	cr_assert_str_eq(small, "xyz");
	return NULL;
}

Test(dns, reverse_lookups_of_both_families)
{
	NEED_DNSMASQ();
	dns_run(reverse_main, NULL);
}

/* ---- records ------------------------------------------------------------- */

static void *mx_main(void *arg)
{
	(void)arg;
	use_dnsmasq();
	unsigned char *ans;
	size_t len, n;
	query_ok("corio.test", CORIO_DNS_MX, &ans, &len);
	corio_dns_mx *mx;
	cr_assert_eq(corio_dns_parse_mx(ans, len, &mx, &n), 0);
	cr_assert_eq(n, 2);
	int mail = mx[0].priority == 10 ? 0 : 1;
	cr_assert_str_eq(mx[mail].host, "mail.corio.test");
	cr_assert_eq(mx[mail].priority, 10);
	cr_assert_str_eq(mx[1 - mail].host, "backup.corio.test");
	cr_assert_eq(mx[1 - mail].priority, 20);
	corio_dns_free(mx);
	corio_dns_srv *srv;
	cr_assert_eq(corio_dns_parse_srv(ans, len, &srv, &n), CORIO_ENODATA, "no SRV in an MX reply");
	corio_dns_free(ans);
	return NULL;
}

Test(dns, mx_records_parse)
{
	NEED_DNSMASQ();
	dns_run(mx_main, NULL);
}

static bool has_txt(const corio_dns_txt *t, size_t n, const char *want)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].len == strlen(want) && !memcmp(t[i].data, want, t[i].len))
			return true;
	return false;
}

static void *txt_main(void *arg)
{
	(void)arg;
	use_dnsmasq();
	unsigned char *ans;
	size_t len, n;
	query_ok("txt.corio.test", CORIO_DNS_TXT, &ans, &len);
	corio_dns_txt *txt;
	cr_assert_eq(corio_dns_parse_txt(ans, len, &txt, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert(has_txt(txt, n, "v=spf1 -allsecond part"), "strings of a record are joined");
	cr_assert(has_txt(txt, n, "another record"));
	corio_dns_free(txt);
	corio_dns_free(ans);
	/* over 512 bytes: truncated over UDP, fetched again over TCP */
	query_ok("big.corio.test", CORIO_DNS_TXT, &ans, &len);
	cr_assert_gt(len, 512);
	cr_assert_eq(corio_dns_parse_txt(ans, len, &txt, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(txt[0].len, BIG_STRINGS * BIG_LEN);
	cr_assert_eq(txt[0].data[0], 'a');
	cr_assert_eq(txt[0].data[BIG_STRINGS * BIG_LEN - 1], 'a' + BIG_STRINGS - 1);
	cr_assert_eq(txt[0].data[txt[0].len], 0);
	corio_dns_free(txt);
	corio_dns_free(ans);
	return NULL;
}

Test(dns, txt_records_parse_and_big_answers_come_over_tcp)
{
	NEED_DNSMASQ();
	dns_run(txt_main, NULL);
}

static void *srv_cname_main(void *arg)
{
	(void)arg;
	use_dnsmasq();
	unsigned char *ans;
	size_t len, n;
	query_ok("_sip._tcp.corio.test", CORIO_DNS_SRV, &ans, &len);
	corio_dns_srv *srv;
	cr_assert_eq(corio_dns_parse_srv(ans, len, &srv, &n), 0);
	cr_assert_eq(n, 2);
	int first = srv[0].port == 5060 ? 0 : 1;
	cr_assert_str_eq(srv[first].target, "sip.corio.test");
	cr_assert_eq(srv[first].priority, 10);
	cr_assert_eq(srv[first].weight, 60);
	cr_assert_str_eq(srv[1 - first].target, "sip2.corio.test");
	cr_assert_eq(srv[1 - first].port, 5061);
	cr_assert_eq(srv[1 - first].priority, 20);
	cr_assert_eq(srv[1 - first].weight, 30);
	corio_dns_free(srv);
	corio_dns_free(ans);

	query_ok("www.corio.test", CORIO_DNS_CNAME, &ans, &len);
	corio_dns_cname *cn;
	cr_assert_eq(corio_dns_parse_cname(ans, len, &cn, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(cn[0].name, "www.corio.test");
	cr_assert_str_eq(cn[0].target, "dual.corio.test");
	corio_dns_free(cn);
	corio_dns_free(ans);
	/* a truncated reply is refused, not read past its end */
	query_ok("corio.test", CORIO_DNS_MX, &ans, &len);
	corio_dns_mx *mx;
	cr_assert_eq(corio_dns_parse_mx(ans, len - 3, &mx, &n), CORIO_EBADRESP);
	corio_dns_free(ans);
	return NULL;
}

Test(dns, srv_and_cname_records_parse)
{
	NEED_DNSMASQ();
	dns_run(srv_cname_main, NULL);
}

/* ---- a hosts file of our own ------------------------------------------- */

struct hosts_env {
	char *dir;
	char path[4200];
};

static void write_hosts(const struct hosts_env *h, const char *text)
{
	char tmp[4300];
	snprintf(tmp, sizeof(tmp), "%s.new", h->path);
	FILE *f = fopen(tmp, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(rename(tmp, h->path), 0); /* a new inode: a change for sure */
}

static void use_hosts(struct hosts_env *h, const char *servers)
{
	corio_dns_options o = {.hosts_file = h->path, .timeout_ms = 300, .tries = 1};
	cr_assert_eq(corio_dns_set_options(corio_current_loop(), &o), 0);
	cr_assert_eq(corio_dns_set_servers(corio_current_loop(), servers), 0);
}

static bool ipv6_loopback_works(void)
{
	int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(9),
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	bool ok = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

static void *hosts_main(void *arg)
{
	struct hosts_env *h = arg;
	write_hosts(h, "# a comment line\n"
		       "192.0.2.7   Box.Example.test box   # trailing comment\n"
		       "2001:db8::7 box.example.test\n"
		       "127.0.0.1   both.test\n"
		       "::1         both.test\n"
		       "192.0.2.8   only4.test\n"
		       "not-an-address broken.test\n");
	use_hosts(h, ""); /* no server: everything below comes from the file */
	char got[256];
	cr_assert_eq(resolve("box", AF_UNSPEC, got, sizeof(got)), 0, "an alias");
	cr_assert_str_eq(got, "192.0.2.7", "only the line that lists it");
	cr_assert_eq(resolve("box.example.test", AF_UNSPEC, got, sizeof(got)), 0);
	cr_assert(strstr(got, "192.0.2.7") && strstr(got, "2001:db8::7"), "every line: %s", got);
	cr_assert_eq(resolve("BOX.EXAMPLE.TEST", AF_INET, got, sizeof(got)), 0, "any case");
	cr_assert_str_eq(got, "192.0.2.7");
	cr_assert_eq(resolve("only4.test", AF_INET6, got, sizeof(got)), CORIO_ECONNECTION,
		     "not listed for IPv6: the servers would be asked, and there are none");
	cr_assert_eq(resolve("broken.test", AF_UNSPEC, got, sizeof(got)), CORIO_ECONNECTION);
	struct addrinfo hints = {.ai_flags = AI_CANONNAME, .ai_socktype = SOCK_STREAM}, *res;
	cr_assert_eq(corio_getaddrinfo("box", NULL, &hints, &res), 0);
	cr_assert_str_eq(res->ai_canonname, "Box.Example.test", "the line's first name");
	corio_freeaddrinfo(res);
	/* RFC 6724: ::1 (precedence 50) before 127.0.0.1 (35), whatever the
	 * file's order, when IPv6 loopback is usable */
	cr_assert_eq(resolve("both.test", AF_UNSPEC, got, sizeof(got)), 0);
	cr_assert_str_eq(got, ipv6_loopback_works() ? "::1,127.0.0.1" : "127.0.0.1,::1");
	/* reverse, from the same file */
	struct sockaddr_in sa = {.sin_family = AF_INET};
	inet_pton(AF_INET, "192.0.2.7", &sa.sin_addr);
	char host[64];
	cr_assert_eq(corio_getnameinfo((struct sockaddr *)&sa, sizeof(sa), host, sizeof(host),
				       NULL, 0, NI_NAMEREQD), 0);
	cr_assert_str_eq(host, "Box.Example.test");
	/* the file changes: seen within a second or so */
	write_hosts(h, "192.0.2.9 box\n");
	uint64_t t0 = t_clock();
	do {
		cr_assert_eq(corio_sleep(100 * MS), 0);
		cr_assert_eq(resolve("box", AF_INET, got, sizeof(got)), 0);
	} while (strcmp(got, "192.0.2.9") && t_clock() - t0 < 3000 * MS);
	cr_assert_str_eq(got, "192.0.2.9");
	return NULL;
}

Test(dns, hosts_file_forward_reverse_canonical_and_reloaded)
{
	struct hosts_env h;
	h.dir = t_tmpdir();
	snprintf(h.path, sizeof(h.path), "%s/hosts", h.dir);
	dns_run(hosts_main, &h);
	t_rmtree(h.dir);
	free(h.dir);
}

static void *hosts_first_main(void *arg)
{
	struct hosts_env *h = arg;
	write_hosts(h, "192.0.2.55 v4.corio.test\n");
	use_hosts(h, dnsmasq.server);
	char got[64];
	cr_assert_eq(resolve("v4.corio.test", AF_INET, got, sizeof(got)), 0);
	cr_assert_str_eq(got, "192.0.2.55", "/etc/hosts wins over the server, got %s", got);
	cr_assert_eq(resolve("v6.corio.test", AF_INET6, got, sizeof(got)), 0);
	cr_assert_str_eq(got, "2001:db8::6", "names not in the file go to the server");
	return NULL;
}

Test(dns, hosts_file_comes_before_the_servers)
{
	NEED_DNSMASQ();
	struct hosts_env h;
	h.dir = t_tmpdir();
	snprintf(h.path, sizeof(h.path), "%s/hosts", h.dir);
	dns_run(hosts_first_main, &h);
	t_rmtree(h.dir);
	free(h.dir);
}
