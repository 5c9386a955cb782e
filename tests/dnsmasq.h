/* SPDX-License-Identifier: MIT */
/*
 * dnsmasq.h - a test fixture: a private dnsmasq (Debian's dnsmasq-base)
 * answering only from the records it is given (and NXDOMAIN or REFUSED to
 * the rest), on a free loopback port, killed when the fixture stops (or
 * when the test process dies).
 */
#ifndef CORIO_TEST_DNSMASQ_H
#define CORIO_TEST_DNSMASQ_H

#include <sys/types.h>

struct t_dnsmasq {
	pid_t pid;        /* 0 when not running */
	int port;         /* UDP and TCP, on 127.0.0.1 */
	char server[32];  /* "127.0.0.1:<port>", for corio_dns_set_servers() */
	char dir[64];     /* temp dir: pid file and log */
};

/* Path of the dnsmasq binary, or NULL if it is not installed. */
const char *t_dnsmasq_path(void);

/*
 * Start dnsmasq with --no-resolv --no-hosts --local=/#/ (it knows only what
 * @records says and answers NXDOMAIN to the rest) plus @records, a NULL-
 * terminated list of options such as "--host-record=a.test,192.0.2.1".
 * Returns once it accepts connections.  0, or a negative errno.
 */
int t_dnsmasq_start(struct t_dnsmasq *d, const char *const *records);

/*
 * The same with no --local=/#/ and no upstream server: dnsmasq (2.90)
 * answers REFUSED to every name @records does not cover.
 */
int t_dnsmasq_start_refusing(struct t_dnsmasq *d, const char *const *records);

/* Stop it and remove its files.  Safe on a fixture that never started. */
void t_dnsmasq_stop(struct t_dnsmasq *d);

#endif
