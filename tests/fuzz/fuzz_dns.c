/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dns.c - libFuzzer target for the DNS reply parsers (dns/parse.c):
 * the input is a raw DNS message, given to corio_dns_parse_mx(), _srv(),
 * _txt() and _cname() in a heap block of exactly its size.  Each must
 * answer with one of its documented codes and, on success, hand back
 * records whose strings are NUL-terminated inside the one allocation that
 * corio_dns_free() releases (ASan sees a string that runs past it).  The
 * refusal check of refused.c reads the same bytes as an answer from a
 * server: it may mark the waiting request refused only for a response
 * with rcode REFUSED.
 */
#include "fuzz_common.h"
#include "dns_int.h"

#include <arpa/inet.h>
#include <errno.h>

/* A parser's answer: one of its codes, and records only on success. */
static bool parsed(int rc, const void *v, size_t k)
{
	CHECK(rc == 0 || rc == CORIO_ENODATA || rc == CORIO_EBADRESP || rc == -ENOMEM);
	CHECK(rc ? !v : v && k >= 1);
	return rc == 0;
}

/* A name from the parsers: NUL-terminated, no longer than a message can
 * spell (255 wire bytes, each escaped as "\DDD" at worst). */
static void name_ok(const char *s)
{
	CHECK(s && strlen(s) <= 4 * 255);
}

static void mx(const unsigned char *a, size_t n)
{
	corio_dns_mx *v = NULL;
	size_t k = 0;
	if (!parsed(corio_dns_parse_mx(a, n, &v, &k), v, k))
		return;
	for (size_t i = 0; i < k; i++)
		name_ok(v[i].host);
	corio_dns_free(v);
}

static void srv(const unsigned char *a, size_t n)
{
	corio_dns_srv *v = NULL;
	size_t k = 0;
	if (!parsed(corio_dns_parse_srv(a, n, &v, &k), v, k))
		return;
	for (size_t i = 0; i < k; i++)
		name_ok(v[i].target);
	corio_dns_free(v);
}

static void txt(const unsigned char *a, size_t n)
{
	corio_dns_txt *v = NULL;
	size_t k = 0, total = 0;
	if (!parsed(corio_dns_parse_txt(a, n, &v, &k), v, k))
		return;
	for (size_t i = 0; i < k; i++) {
		CHECK(v[i].data && v[i].data[v[i].len] == 0);
		total += v[i].len;
	}
	CHECK(total <= n); /* every byte of text came from the message */
	corio_dns_free(v);
}

static void cname(const unsigned char *a, size_t n)
{
	corio_dns_cname *v = NULL;
	size_t k = 0;
	if (!parsed(corio_dns_parse_cname(a, n, &v, &k), v, k))
		return;
	/* each record takes its 10 fixed bytes and two names at least */
	CHECK(k <= n / 11);
	for (size_t i = 0; i < k; i++) {
		name_ok(v[i].name);
		name_ok(v[i].target);
	}
	corio_dns_free(v);
}

/* refused.c: the datagram @a from 127.0.0.1:53, the one server, while a
 * request for "example.com" waits. */
static void refusal(const unsigned char *a, size_t n)
{
	struct ares_addr_port_node server = {.family = AF_INET, .udp_port = 53};
	server.addr.addr4.s_addr = htonl(INADDR_LOOPBACK);
	struct corio__dns d = {.ares_servers = &server};
	struct corio__dns_req r = {.dns = &d, .name = "example.com"};
	corio__list_push_back(&d.started, &r.node);
	struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = htons(53)};
	from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	corio__dns_answer_seen(&d, a, n, (const struct sockaddr *)&from);
	CHECK(r.refused_by == 0 || r.refused_by == 1);
	if (r.refused_by)
		CHECK(n >= 12 && (a[2] & 0x80) && (a[3] & 0x0f) == 5);
	corio__list_remove(&d.started, &r.node);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *a = (unsigned char *)fz_dup(data, size);
	mx(a, size);
	srv(a, size);
	txt(a, size);
	cname(a, size);
	refusal(a, size);
	free(a);
	return 0;
}
