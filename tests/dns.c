/* SPDX-License-Identifier: MIT */
/*
 * tests/dns.c - name lookups against a private dnsmasq on a loopback port
 * (tests/dnsmasq.c): address records of each family, NXDOMAIN, a server
 * that never answers, /etc/hosts and numeric hosts without any server,
 * cancellation and deadlines in the middle of a lookup, ten thousand
 * lookups at once, names rejected before any packet leaves, fd reuse.
 * tests/dns_records.c has reverse lookups, MX/TXT/SRV/CNAME and hosts
 * files, tests/dns_config.c server lists and error codes; all three link
 * into the one dns suite.
 */
#include "dns_int.h" /* white box: the fd-reuse counter */
#include "dns_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Leaks must fail the test: LeakSanitizer's report at exit comes after
 * criterion has counted the test as passed. */
#if defined(__SANITIZE_ADDRESS__)
#define T_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_LSAN 1
#endif
#endif
#ifdef T_LSAN
#include <sanitizer/lsan_interface.h>
#define LEAKS() __lsan_do_recoverable_leak_check()
#else
#define LEAKS() 0
#endif

struct t_dnsmasq dnsmasq;
static char big_txt[64 + BIG_STRINGS * (BIG_LEN + 3)];

static void fixture_up(void)
{
	/* three 200-byte strings: the answer outgrows 512 bytes, dnsmasq
	 * truncates it over UDP and c-ares must retry over TCP */
	char *p = big_txt + sprintf(big_txt, "--txt-record=big.corio.test");
	for (int i = 0; i < BIG_STRINGS; i++) {
		*p++ = ',';
		memset(p, 'a' + i, BIG_LEN);
		p += BIG_LEN;
	}
	*p = 0;
	const char *const records[] = {
		"--host-record=dual.corio.test,192.0.2.10,2001:db8::10",
		"--host-record=v4.corio.test,192.0.2.4",
		"--host-record=v6.corio.test,2001:db8::6",
		"--host-record=he.corio.test,127.0.0.1,::1",
		"--cname=www.corio.test,dual.corio.test",
		"--mx-host=corio.test,mail.corio.test,10",
		"--mx-host=corio.test,backup.corio.test,20",
		"--txt-record=txt.corio.test,v=spf1 -all,second part",
		"--txt-record=txt.corio.test,another record",
		big_txt,
		"--srv-host=_sip._tcp.corio.test,sip.corio.test,5060,10,60",
		"--srv-host=_sip._tcp.corio.test,sip2.corio.test,5061,20,30",
		"--address=/par.corio.test/10.1.2.3",
		NULL,
	};
	int err = t_dnsmasq_start(&dnsmasq, records);
	if (err != -ENOENT)
		cr_assert_eq(err, 0, "dnsmasq did not start: %s", strerror(-err));
}

static void fixture_down(void)
{
	t_dnsmasq_stop(&dnsmasq);
}

TestSuite(dns, .init = fixture_up, .fini = fixture_down);

void dns_run(corio_fn fn, void *arg)
{
	t_run(fn, arg, NULL);
	cr_assert_eq(LEAKS(), 0, "memory leaked: see LeakSanitizer's report above");
}

void use_dnsmasq(void)
{
	corio_loop *l = corio_current_loop();
	corio_dns_options o = {.timeout_ms = 2000, .tries = 2, .no_search = 1};
	cr_assert_eq(corio_dns_set_options(l, &o), 0);
	cr_assert_eq(corio_dns_set_servers(l, dnsmasq.server), 0);
}

/* ---- helpers ------------------------------------------------------------ */

void addr_list(const struct addrinfo *res, char *out, size_t outlen)
{
	out[0] = 0;
	for (const struct addrinfo *p = res; p; p = p->ai_next) {
		char buf[INET6_ADDRSTRLEN];
		const void *a = p->ai_family == AF_INET
					? (const void *)&((struct sockaddr_in *)p->ai_addr)->sin_addr
					: (const void *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr;
		inet_ntop(p->ai_family, a, buf, sizeof(buf));
		if (strstr(out, buf))
			continue;
		if (out[0])
			strncat(out, ",", outlen - strlen(out) - 1);
		strncat(out, buf, outlen - strlen(out) - 1);
	}
}

int resolve(const char *name, int family, char *out, size_t outlen)
{
	struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int err = corio_getaddrinfo(name, "80", &hints, &res);
	if (!err) {
		cr_assert_not_null(res);
		for (struct addrinfo *p = res; p; p = p->ai_next) {
			cr_assert_eq(p->ai_socktype, SOCK_STREAM);
			cr_assert_eq(p->ai_protocol, IPPROTO_TCP);
			cr_assert_eq(ntohs(((struct sockaddr_in *)p->ai_addr)->sin_port), 80);
		}
		addr_list(res, out, outlen);
		corio_freeaddrinfo(res);
	}
	return err;
}

/* A UDP "server" that reads every query and never answers. */
struct silent {
	int fd;
	char server[32];
	unsigned queries;
	corio_task *task;
};

static void *silent_loop(void *arg)
{
	struct silent *s = arg;
	char buf[1500];
	while (corio_read(s->fd, buf, sizeof(buf)) > 0)
		s->queries++;
	return NULL;
}

static void silent_start(struct silent *s)
{
	memset(s, 0, sizeof(*s));
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s->fd, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	cr_assert_eq(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(s->server, sizeof(s->server), "127.0.0.1:%d", ntohs(sa.sin_port));
	cr_assert_eq(corio_spawn(&s->task, silent_loop, s), 0);
}

static void silent_stop(struct silent *s)
{
	corio_cancel(s->task);
	corio_join(s->task, NULL);
	close(s->fd);
}

/* Silent server configured for the current loop: @timeout_ms, one try. */
static void use_silent(struct silent *s, unsigned timeout_ms)
{
	corio_loop *l = corio_current_loop();
	corio_dns_options o = {.timeout_ms = timeout_ms, .tries = 1, .no_search = 1};
	silent_start(s);
	cr_assert_eq(corio_dns_set_options(l, &o), 0);
	cr_assert_eq(corio_dns_set_servers(l, s->server), 0);
}

/* ---- address records ---------------------------------------------------- */

static void *records_main(void *arg)
{
	(void)arg;
	char got[256];
	use_dnsmasq();
	cr_assert_eq(resolve("v4.corio.test", AF_UNSPEC, got, sizeof(got)), 0);
	cr_assert_str_eq(got, "192.0.2.4");
	cr_assert_eq(resolve("v4.corio.test", AF_INET, got, sizeof(got)), 0);
	cr_assert_str_eq(got, "192.0.2.4");
	cr_assert_eq(resolve("v4.corio.test", AF_INET6, got, sizeof(got)), CORIO_ENODATA);

	cr_assert_eq(resolve("v6.corio.test", AF_UNSPEC, got, sizeof(got)), 0);
	cr_assert_str_eq(got, "2001:db8::6");
	cr_assert_eq(resolve("v6.corio.test", AF_INET6, got, sizeof(got)), 0);
	cr_assert_str_eq(got, "2001:db8::6");
	cr_assert_eq(resolve("v6.corio.test", AF_INET, got, sizeof(got)), CORIO_ENODATA);

	cr_assert_eq(resolve("dual.corio.test", AF_UNSPEC, got, sizeof(got)), 0);
	cr_assert(!strcmp(got, "192.0.2.10,2001:db8::10") ||
			  !strcmp(got, "2001:db8::10,192.0.2.10"),
		  "dual: %s", got);
	cr_assert_eq(resolve("dual.corio.test", AF_INET, got, sizeof(got)), 0);
	cr_assert_str_eq(got, "192.0.2.10");
	cr_assert_eq(resolve("dual.corio.test", AF_INET6, got, sizeof(got)), 0);
	cr_assert_str_eq(got, "2001:db8::10");
	return NULL;
}

Test(dns, a_only_aaaa_only_and_dual_records)
{
	NEED_DNSMASQ();
	dns_run(records_main, NULL);
}

static void *nxdomain_main(void *arg)
{
	(void)arg;
	char got[64];
	use_dnsmasq();
	int err = resolve("nope.corio.test", AF_UNSPEC, got, sizeof(got));
	cr_assert_eq(err, CORIO_ENOTFOUND, "%s", corio_strerror(err));
	cr_assert_str_eq(corio_strerror(err), "Name does not resolve");
	unsigned char *ans;
	size_t len;
	cr_assert_eq(corio_dns_query("nope.corio.test", CORIO_DNS_MX, &ans, &len),
		     CORIO_ENOTFOUND);
	return NULL;
}

Test(dns, nxdomain_is_enotfound)
{
	NEED_DNSMASQ();
	dns_run(nxdomain_main, NULL);
}

static void *socktypes_main(void *arg)
{
	(void)arg;
	use_dnsmasq();
	struct addrinfo *res, *p;
	int n = 0;
	/* no hints: one entry per socket type, as glibc */
	cr_assert_eq(corio_getaddrinfo("v4.corio.test", NULL, NULL, &res), 0);
	for (p = res; p; p = p->ai_next, n++)
		cr_assert_eq(p->ai_family, AF_INET);
	cr_assert_eq(n, 3);
	corio_freeaddrinfo(res);
	/* a service name, v4-mapped answers for an IPv4-only name */
	struct addrinfo h = {.ai_family = AF_INET6, .ai_flags = AI_V4MAPPED,
			     .ai_socktype = SOCK_DGRAM};
	cr_assert_eq(corio_getaddrinfo("v4.corio.test", "domain", &h, &res), 0);
	char got[128];
	addr_list(res, got, sizeof(got));
	cr_assert_str_eq(got, "::ffff:192.0.2.4");
	cr_assert_eq(ntohs(((struct sockaddr_in6 *)res->ai_addr)->sin6_port), 53);
	cr_assert_eq(res->ai_protocol, IPPROTO_UDP);
	corio_freeaddrinfo(res);
	/* the canonical name follows the CNAME */
	h = (struct addrinfo){.ai_family = AF_INET, .ai_flags = AI_CANONNAME,
			      .ai_socktype = SOCK_STREAM};
	cr_assert_eq(corio_getaddrinfo("www.corio.test", "80", &h, &res), 0);
	cr_assert_str_eq(res->ai_canonname, "dual.corio.test");
	addr_list(res, got, sizeof(got));
	cr_assert_str_eq(got, "192.0.2.10");
	corio_freeaddrinfo(res);
	cr_assert_eq(corio_getaddrinfo("v4.corio.test", "no-such-service", NULL, &res),
		     CORIO_ENOSERVICE);
	return NULL;
}

Test(dns, getaddrinfo_follows_glibc_conventions)
{
	NEED_DNSMASQ();
	dns_run(socktypes_main, NULL);
}

/* ---- a server that never answers ---------------------------------------- */

static void *silent_main(void *arg)
{
	(void)arg;
	struct silent s;
	use_silent(&s, 300);
	char got[64];
	uint64_t t0 = t_clock();
	int err = resolve("quiet.corio.test", AF_UNSPEC, got, sizeof(got));
	uint64_t ms = (t_clock() - t0) / MS;
	cr_assert_eq(err, CORIO_ETIMEOUT, "%s", corio_strerror(err));
	cr_assert_geq(ms, 280, "gave up after %llu ms, before the timeout", (unsigned long long)ms);
	cr_assert_leq(ms, 1500, "took %llu ms for a 300 ms timeout", (unsigned long long)ms);
	cr_assert_geq(s.queries, 2, "the A and AAAA queries reached the server");
	silent_stop(&s);
	return NULL;
}

Test(dns, silent_server_gives_etimeout_within_the_timeout)
{
	dns_run(silent_main, NULL);
}

/* ---- no server needed ---------------------------------------------------- */

static void *no_server_main(void *arg)
{
	const char *servers = arg;
	cr_assert_eq(corio_dns_set_servers(corio_current_loop(), servers), 0);
	char got[128];
	uint64_t t0 = t_clock();
	cr_assert_eq(resolve("192.0.2.1", AF_UNSPEC, got, sizeof(got)), 0);
	cr_assert_str_eq(got, "192.0.2.1");
	cr_assert_eq(resolve("2001:db8::1", AF_UNSPEC, got, sizeof(got)), 0);
	cr_assert_str_eq(got, "2001:db8::1");
	cr_assert_eq(resolve("2001:db8::1", AF_INET, got, sizeof(got)), CORIO_EFAMILY);
	cr_assert_eq(resolve("localhost", AF_INET, got, sizeof(got)), 0, "from /etc/hosts");
	cr_assert_str_eq(got, "127.0.0.1");
	struct addrinfo h = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *res;
	cr_assert_eq(corio_getaddrinfo(NULL, "8080", &h, &res), 0);
	addr_list(res, got, sizeof(got));
	cr_assert_str_eq(got, "0.0.0.0,::");
	corio_freeaddrinfo(res);
	h.ai_flags = AI_NUMERICHOST;
	cr_assert_eq(corio_getaddrinfo("v4.corio.test", "80", &h, &res), CORIO_ENOTFOUND);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80)};
	inet_pton(AF_INET, "192.0.2.1", &sa.sin_addr);
	char host[64], serv[16];
	cr_assert_eq(corio_getnameinfo((struct sockaddr *)&sa, sizeof(sa), host, sizeof(host),
				       serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV), 0);
	cr_assert_str_eq(host, "192.0.2.1");
	cr_assert_str_eq(serv, "80");
	uint64_t ms = (t_clock() - t0) / MS;
	cr_assert_lt(ms, 500, "no network wait expected, took %llu ms", (unsigned long long)ms);
	return NULL;
}

Test(dns, numeric_hosts_and_etc_hosts_with_no_server_at_all)
{
	dns_run(no_server_main, "");
}

Test(dns, numeric_hosts_and_etc_hosts_with_an_unreachable_server)
{
	dns_run(no_server_main, "127.0.0.1:9"); /* discard port: nobody there */
}

static void *empty_servers_main(void *arg)
{
	(void)arg;
	cr_assert_eq(corio_dns_set_servers(corio_current_loop(), ""), 0);
	char got[64];
	cr_assert_eq(resolve("v4.corio.test", AF_UNSPEC, got, sizeof(got)), CORIO_ECONNECTION);
	unsigned char *ans;
	size_t len;
	cr_assert_eq(corio_dns_query("corio.test", CORIO_DNS_MX, &ans, &len), CORIO_ECONNECTION);
	return NULL;
}

Test(dns, no_server_means_econnection_for_real_names)
{
	dns_run(empty_servers_main, NULL);
}

/* ---- cancellation and deadlines ------------------------------------------ */

struct victim {
	int err;
	uint64_t returned;
};

static void *victim_task(void *arg)
{
	struct victim *v = arg;
	char got[64];
	v->err = resolve("stuck.corio.test", AF_UNSPEC, got, sizeof(got));
	v->returned = t_clock();
	return NULL;
}

static void *cancel_main(void *arg)
{
	(void)arg;
	struct silent s;
	use_silent(&s, 500);
	struct victim v = {0};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, victim_task, &v), 0);
	cr_assert_eq(corio_sleep(50 * MS), 0);
	uint64_t t0 = t_clock();
	corio_cancel(t);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(v.err, -ECANCELED);
	/* "at once": well under the 500 ms the query itself would take,
	 * with room for a loaded machine */
	cr_assert_lt((v.returned - t0) / MS, 250, "a cancelled lookup returns at once");
	/* the abandoned query times out inside c-ares and is freed then */
	cr_assert_eq(corio_sleep(700 * MS), 0);
	silent_stop(&s);
	return NULL;
}

Test(dns, cancel_mid_lookup_returns_at_once)
{
	dns_run(cancel_main, NULL);
}

static void *deadline_main(void *arg)
{
	(void)arg;
	struct silent s;
	use_silent(&s, 2000);
	char got[64];
	corio_scope sc;
	uint64_t t0 = t_clock();
	corio_timeout_push(&sc, t0 + 100 * MS); /* corio_now() is the turn's start */
	int err = resolve("stuck.corio.test", AF_UNSPEC, got, sizeof(got));
	corio_timeout_pop(&sc);
	uint64_t ms = (t_clock() - t0) / MS;
	cr_assert_eq(err, -ETIMEDOUT);
	cr_assert(sc.expired);
	cr_assert(ms >= 95 && ms < 500, "returned after %llu ms", (unsigned long long)ms);
	silent_stop(&s);
	/* main returns with the query still pending in c-ares (2 s): the loop
	 * must not wait for it, and its teardown must free it */
	return NULL;
}

Test(dns, deadline_mid_lookup_and_teardown_free_the_abandoned_query)
{
	uint64_t t0 = t_clock();
	dns_run(deadline_main, NULL);
	cr_assert_lt((t_clock() - t0) / MS, 1500, "the abandoned query (2 s) held the loop up");
}

struct queued {
	int done, cancelled;
};

static void *queued_task(void *arg)
{
	struct queued *q = arg;
	char got[64];
	int err = resolve("stuck.corio.test", AF_INET, got, sizeof(got));
	if (err == -ECANCELED)
		q->cancelled++;
	q->done++;
	return NULL;
}

static void *queued_main(void *arg)
{
	(void)arg;
	struct silent s;
	silent_start(&s);
	corio_loop *l = corio_current_loop();
	corio_dns_options o = {.timeout_ms = 2000, .tries = 1, .max_inflight = 2};
	cr_assert_eq(corio_dns_set_options(l, &o), 0);
	cr_assert_eq(corio_dns_set_servers(l, s.server), 0);
	struct queued q = {0};
	corio_task *t[20];
	for (int i = 0; i < 20; i++)
		cr_assert_eq(corio_spawn(&t[i], queued_task, &q), 0);
	/* wait for the first two to arrive, then give any others that
	 * slipped past the limit time to show up too */
	uint64_t until = t_clock() + 5000 * MS;
	while (s.queries < 2 && t_clock() < until)
		cr_assert_eq(corio_sleep(1 * MS), 0);
	cr_assert_eq(corio_sleep(30 * MS), 0);
	cr_assert_eq(s.queries, 2, "only max_inflight lookups reach the server");
	cr_assert_eq(corio_dns_set_servers(l, s.server), -EBUSY);
	for (int i = 0; i < 20; i++)
		corio_cancel(t[i]);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(corio_join(t[i], NULL), -ECANCELED);
	cr_assert_eq(q.cancelled, 20);
	silent_stop(&s);
	return NULL;
}

Test(dns, throttled_lookups_wait_in_line_and_cancel_cleanly)
{
	dns_run(queued_main, NULL);
}

/* ---- many at once -------------------------------------------------------- */

#define PARALLEL 10000

struct parallel {
	int ok, failed, first_err;
};

static void *parallel_task(void *arg)
{
	struct parallel *p = arg;
	static int seq;
	char name[64], got[64];
	snprintf(name, sizeof(name), "n%d.par.corio.test", seq++); /* all distinct */
	int err = resolve(name, AF_INET, got, sizeof(got));
	if (!err && !strcmp(got, "10.1.2.3")) {
		p->ok++;
	} else {
		if (!p->failed)
			p->first_err = err;
		p->failed++;
	}
	return NULL;
}

static void *parallel_main(void *arg)
{
	(void)arg;
	use_dnsmasq();
	struct parallel p = {0};
	uint64_t t0 = t_clock();
	for (int i = 0; i < PARALLEL; i++)
		cr_assert_eq(corio_spawn(NULL, parallel_task, &p), 0);
	while (p.ok + p.failed < PARALLEL)
		cr_assert_eq(corio_sleep(5 * MS), 0);
	cr_assert_eq(p.failed, 0, "%d failed, first: %s", p.failed, corio_strerror(p.first_err));
	cr_log_info("%d lookups in %llu ms", PARALLEL, (unsigned long long)((t_clock() - t0) / MS));
	return NULL;
}

Test(dns, ten_thousand_parallel_lookups, .timeout = 120)
{
	NEED_DNSMASQ();
	dns_run(parallel_main, NULL);
}

/* ---- bad names ------------------------------------------------------------ */

static void *bad_names_main(void *arg)
{
	(void)arg;
	struct silent s;
	use_silent(&s, 200);
	char long_name[300], long_label[80], got[64];
	memset(long_name, 'a', sizeof(long_name));
	for (int i = 50; i < 254; i += 50)
		long_name[i] = '.';
	long_name[254] = 0; /* 254 characters */
	memset(long_label, 'b', 64);
	strcpy(long_label + 64, ".test");
	const char *bad[] = {"", ".", "a..b", ".a", long_name, long_label, "nul\\000here.test",
			     "bad\\256.test", "trailing\\"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(resolve(bad[i], AF_UNSPEC, got, sizeof(got)), CORIO_EBADNAME,
			     "'%s'", bad[i]);
		unsigned char *ans;
		size_t len;
		cr_assert_eq(corio_dns_query(bad[i], CORIO_DNS_A, &ans, &len), CORIO_EBADNAME);
	}
	long_name[253] = 0; /* 253 characters: the longest legal name */
	corio_scope sc;
	corio_timeout_push(&sc, t_clock() + 50 * MS); /* corio_now() may be stale */
	cr_assert_eq(resolve(long_name, AF_UNSPEC, got, sizeof(got)), -ETIMEDOUT);
	corio_timeout_pop(&sc);
	/* its A and AAAA queries were sent: wait until both arrived, then
	 * a little more so that any stray one would be counted too */
	uint64_t until = t_clock() + 5000 * MS;
	while (s.queries < 2 && t_clock() < until)
		cr_assert_eq(corio_sleep(1 * MS), 0);
	cr_assert_eq(corio_sleep(20 * MS), 0);
	cr_assert_eq(s.queries, 2, "only the legal name reached the server");
	silent_stop(&s);
	return NULL;
}

Test(dns, bad_names_fail_without_touching_the_network)
{
	dns_run(bad_names_main, NULL);
}

/* ---- configuration and odds and ends -------------------------------------- */

static void *env_main(void *arg)
{
	(void)arg;
	char got[64];
	cr_assert_eq(resolve("v4.corio.test", AF_INET, got, sizeof(got)), 0);
	cr_assert_str_eq(got, "192.0.2.4");
	return NULL;
}

Test(dns, corio_dns_servers_from_the_environment)
{
	NEED_DNSMASQ();
	cr_assert_eq(setenv("CORIO_DNS_SERVERS", dnsmasq.server, 1), 0);
	dns_run(env_main, NULL);
}

static void *sequential_main(void *arg)
{
	(void)arg;
	use_dnsmasq();
	char got[64];
	/* c-ares closes its sockets when no query is left.  After an answer
	 * over TCP, the UDP socket is closed with its poll still armed, and
	 * the next lookup gets the same fd number back before that poll has
	 * been cancelled: the new socket must get its own record. */
	for (int i = 0; i < 100; i++) {
		unsigned char *ans;
		size_t len;
		cr_assert_eq(corio_dns_query("big.corio.test", CORIO_DNS_TXT, &ans, &len), 0);
		corio_dns_free(ans);
		cr_assert_eq(resolve("dual.corio.test", AF_INET, got, sizeof(got)), 0);
		cr_assert_str_eq(got, "192.0.2.10");
	}
	/* on io_uring a cancelled poll comes back a turn later, so the race
	 * must have happened; other backends may cancel at once */
	if (!strcmp(corio_loop_backend(corio_current_loop()), "io_uring"))
		cr_assert_gt(corio__dns_find(corio_current_loop())->fd_reused, 0, "the race was not exercised");
	return NULL;
}

Test(dns, sequential_lookups_survive_fd_reuse)
{
	NEED_DNSMASQ();
	dns_run(sequential_main, NULL);
}

static void *bad_args_main(void *arg)
{
	(void)arg;
	struct addrinfo *res;
	struct addrinfo h = {.ai_family = AF_UNIX};
	cr_assert_eq(corio_getaddrinfo("x.test", NULL, &h, &res), CORIO_EFAMILY);
	h = (struct addrinfo){.ai_flags = 0x4000000};
	cr_assert_eq(corio_getaddrinfo("x.test", NULL, &h, &res), -EINVAL);
	cr_assert_eq(corio_getaddrinfo(NULL, NULL, NULL, &res), -EINVAL);
	cr_assert_eq(corio_getaddrinfo("127.0.0.1", "99999", NULL, &res), CORIO_ENOSERVICE);
	h = (struct addrinfo){.ai_socktype = SOCK_RAW};
	cr_assert_eq(corio_getaddrinfo("127.0.0.1", "80", &h, &res), CORIO_ENOSERVICE);
	cr_assert_eq(corio_dns_set_servers(corio_current_loop(), "not-an-ip"), -EINVAL);
	corio_dns_options o = {.timeout_ms = 0x80000000u};
	cr_assert_eq(corio_dns_set_options(corio_current_loop(), &o), -EINVAL);
	unsigned char *ans;
	size_t len;
	cr_assert_eq(corio_dns_query("x.test", 0, &ans, &len), -EINVAL);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char host[8];
	cr_assert_eq(corio_getnameinfo((struct sockaddr *)&sa, 4, host, sizeof(host), NULL, 0, 0),
		     -EINVAL);
	cr_assert_eq(corio_getnameinfo((struct sockaddr *)&sa, sizeof(sa), NULL, 0, NULL, 0, 0),
		     -EINVAL);
	return NULL;
}

Test(dns, bad_arguments_give_clear_errors)
{
	dns_run(bad_args_main, NULL);
	struct addrinfo *res;
	cr_assert_eq(corio_getaddrinfo("127.0.0.1", NULL, NULL, &res), -EPERM, "outside a task");
	cr_assert_str_eq(corio_strerror(CORIO_ETIMEOUT), "DNS server did not answer in time");
	cr_assert_str_eq(corio_strerror(CORIO_EBADNAME), "Malformed domain name");
}

/* ---- Happy Eyeballs ------------------------------------------------------ */

/* he.corio.test has ::1 and 127.0.0.1.  On port P, ::1 blackholes (a
 * listener whose backlog is full: the kernel drops further SYNs) and
 * 127.0.0.1 answers.  IPv6 is tried first (RFC 6724), so the IPv4 attempt
 * starts 250 ms later and must win; the stuck IPv6 attempt is cancelled. */
static void *happy_main(void *arg)
{
	(void)arg;
	use_dnsmasq();
	/* the kernel picks P for ::1, but 127.0.0.1:P may be held by another
	 * socket (TIME_WAIT from another suite): then try another P */
	int l6 = -1, l4 = -1;
	struct sockaddr_in6 a6;
	socklen_t len;
	for (int attempt = 0; attempt < 10 && l4 < 0; attempt++) {
		if (l6 >= 0)
			close(l6);
		l6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert_geq(l6, 0);
		int one = 1;
		setsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		a6 = (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
		cr_assert_eq(bind(l6, (struct sockaddr *)&a6, sizeof(a6)), 0);
		cr_assert_eq(listen(l6, 0), 0);
		len = sizeof(a6);
		getsockname(l6, (struct sockaddr *)&a6, &len);
		l4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cr_assert_geq(l4, 0);
		struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = a6.sin6_port,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		if (bind(l4, (struct sockaddr *)&a4, sizeof(a4)) == 0)
			break;
		cr_assert_eq(errno, EADDRINUSE, "bind 127.0.0.1:%d: %s", ntohs(a6.sin6_port),
			     strerror(errno));
		close(l4);
		l4 = -1;
	}
	cr_assert_geq(l4, 0, "no port free on both ::1 and 127.0.0.1 in 10 tries");
	cr_assert_eq(listen(l4, 16), 0);
	int fill[4];
	for (int i = 0; i < 4; i++) { /* fill the queue; later SYNs are dropped */
		fill[i] = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		connect(fill[i], (struct sockaddr *)&a6, sizeof(a6));
	}
	corio_sleep(20 * MS);
	char port[16];
	snprintf(port, sizeof(port), "%d", ntohs(a6.sin6_port));
	uint64_t t0 = t_clock();
	int fd = corio_tcp_connect("he.corio.test", port);
	uint64_t took = t_clock() - t0;
	cr_assert_geq(fd, 0, "connect failed: %s", corio_strerror(fd));
	struct sockaddr_storage peer;
	len = sizeof(peer);
	cr_assert_eq(getpeername(fd, (struct sockaddr *)&peer, &len), 0);
	cr_assert_eq(peer.ss_family, AF_INET, "the IPv4 attempt should have won");
	cr_assert(took >= 200 * MS && took < 3000 * MS,
		  "IPv6 first, IPv4 about 250 ms later: took %llu ms",
		  (unsigned long long)(took / MS));
	corio_close(fd);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(l4);
	close(l6);
	return NULL;
}

Test(dns, happy_eyeballs_v6_blackhole_v4_answers, .timeout = 30)
{
	dns_run(happy_main, NULL);
}
