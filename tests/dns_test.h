/* SPDX-License-Identifier: MIT */
/*
 * dns_test.h - what the files of the dns suite share: the dnsmasq fixture
 * it starts for each test, the helpers that point a loop at it, and
 * resolve() and friends.  See tests/dns.c.
 */
#ifndef CORIO_TEST_DNS_H
#define CORIO_TEST_DNS_H

#include "dnsmasq.h"
#include "util.h"

#include <netdb.h>
#include <stddef.h>

/* big.corio.test: this many strings of this many bytes (over 512 in all) */
#define BIG_STRINGS 3
#define BIG_LEN 200

#define NEED_DNSMASQ()                                                                 \
	do {                                                                           \
		if (!dnsmasq.pid)                                                      \
			cr_skip_test("dnsmasq is not installed (dnsmasq-base)");      \
	} while (0)

/* The fixture of the running test. */
extern struct t_dnsmasq dnsmasq;

/* t_run(), then fail if anything leaked (under ASan). */
void dns_run(corio_fn fn, void *arg);

/* Point the current loop at the fixture, with short timeouts. */
void use_dnsmasq(void);

/* "a,b,c": the distinct addresses of @res in order. */
void addr_list(const struct addrinfo *res, char *out, size_t outlen);

/* corio_getaddrinfo(@name, "80") with @family and SOCK_STREAM: the error,
 * and the addresses in @out on success (checking port and socket type). */
int resolve(const char *name, int family, char *out, size_t outlen);

#endif
