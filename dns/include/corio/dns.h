/* SPDX-License-Identifier: MIT */
/*
 * corio/dns.h - name lookups that suspend only the calling task.  Each
 * loop owns one c-ares channel, created on first use and destroyed with the
 * loop; its sockets are polled by the loop's backend.  The calls mirror
 * POSIX (getaddrinfo, getnameinfo) so that code can switch with one line,
 * and add raw record queries with parsers for MX, TXT, SRV and CNAME.
 *
 * Errors are negative: errno values, or the name-lookup codes declared
 * below (CORIO_ENOTFOUND, CORIO_ETIMEOUT, ...), never EAI_*.
 * corio_strerror() explains each.  (The codes used to be declared in
 * corio/runtime.h: code that includes only that header and uses them must
 * now include <corio/dns.h>, or <corio.h>, which includes both.)
 *
 * A lookup whose task is cancelled or times out returns at once
 * (-ECANCELED, -ETIMEDOUT); the query itself is abandoned inside the
 * resolver and its answer freed when it arrives.
 *
 * Servers come from /etc/resolv.conf, or from $CORIO_DNS_SERVERS, or from
 * corio_dns_set_servers() (strongest first: the call, the variable, the
 * file).  /etc/hosts is read before any server is asked.  The variable
 * takes the same list as corio_dns_set_servers() ("" counts as unset); if
 * it is malformed, nothing falls back to resolv.conf: corio_getaddrinfo()
 * of a name (numeric hosts still work), corio_getnameinfo(),
 * corio_dns_query() and corio_dns_set_options() fail with -EINVAL until
 * corio_dns_set_servers() overrides it.
 */
#ifndef CORIO_DNS_H
#define CORIO_DNS_H

#include <corio/runtime.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* From <netdb.h>; declared here so that this header needs no feature
 * macros for the prototypes below. */
struct addrinfo;
struct sockaddr;

/*
 * The name-lookup codes.  They lie in -5099..-5001: below -4096, outside
 * the errno range, and never colliding with glibc's EAI_* values.
 */
enum corio_error {
	CORIO_ENOTFOUND = -5001,  /**< the name does not exist (NXDOMAIN) */
	CORIO_ENODATA = -5002,    /**< the name has no records of that type */
	CORIO_ETIMEOUT = -5003,   /**< no DNS server answered in time */
	CORIO_ESERVFAIL = -5004,  /**< the server failed (SERVFAIL) */
	CORIO_EBADNAME = -5005,   /**< malformed name: empty, too long, NUL */
	CORIO_EREFUSED = -5006,   /**< every server refused the query */
	CORIO_EFORMERR = -5007,   /**< the server could not parse the query */
	CORIO_EBADRESP = -5008,   /**< malformed reply */
	CORIO_ENOSERVICE = -5009, /**< unknown service name */
	CORIO_EFAMILY = -5010,    /**< address family not supported */
	CORIO_ECONNECTION = -5011, /**< could not reach any server */
	CORIO_EDNS = -5012,       /**< any other resolver failure */
};

/** Per-loop resolver options (corio_dns_set_options()).  Zero-initialise:
 *  {0} means the system's settings and corio's defaults. */
typedef struct corio_dns_options {
	/** Time to wait for the first answer of each try, in milliseconds.  It
	 *  doubles after each round through all servers (c-ares behaviour).
	 *  0: resolv.conf "options timeout:", else 5000. */
	unsigned timeout_ms;
	/** Tries per server before giving up.  0: resolv.conf "attempts:",
	 *  else 4. */
	unsigned tries;
	/** >0: spread queries over the servers in turn; <0: always start
	 *  with the first; 0: resolv.conf "options rotate". */
	int rotate;
	/** Nonzero: never append resolv.conf's search domains. */
	int no_search;
	/** Lookups handed to c-ares at the same time; the others wait in
	 *  FIFO order (still cancellable).  A local resolver drops queries it
	 *  has no buffer room for, so an unbounded burst costs retries.
	 *  0: 64. */
	unsigned max_inflight;
	/** The hosts file (copied).  NULL: /etc/hosts.  It is kept in memory
	 *  and read again when it changes (checked at most once a second). */
	const char *hosts_file;
} corio_dns_options;

/**
 * corio_dns_set_options() - configure @loop's resolver.  Takes effect for
 * lookups started afterwards; options not set keep the system's values.
 * May be called before corio_loop_run() or from a task of @loop; never
 * suspends.  @o may be NULL for the defaults.
 * Return: 0; -EBUSY while lookups of @loop are in flight; -EINVAL (bad
 * value, $CORIO_DNS_SERVERS malformed); -ENOMEM; CORIO_EDNS if c-ares
 * could not be set up.
 */
CORIO_API int corio_dns_set_options(corio_loop *loop, const corio_dns_options *o);

/**
 * corio_dns_set_servers() - use these DNS servers for @loop, overriding
 * $CORIO_DNS_SERVERS and /etc/resolv.conf.  @csv is a comma-separated list
 * of "ipv4", "ipv4:port", "ipv6", "[ipv6]" or "[ipv6]:port": numeric
 * addresses (dotted quads, no IPv6 scope), ports 1..65535 in decimal
 * digits (default 53), no empty entry, no space;
 * "" means no server at all (only /etc/hosts and numeric hosts resolve;
 * other names fail with CORIO_ECONNECTION); NULL goes back to the
 * environment and resolv.conf.  Never suspends.
 * Return: 0; -EINVAL (malformed list, which changes nothing; NULL @loop;
 * NULL @csv with $CORIO_DNS_SERVERS malformed); -EBUSY while lookups of
 * @loop are in flight; -ENOMEM; CORIO_EDNS.
 */
CORIO_API int corio_dns_set_servers(corio_loop *loop, const char *csv);

/**
 * corio_getaddrinfo() - getaddrinfo(3) for tasks: translate @node and/or
 * @service into socket addresses.  Suspends while the servers are asked
 * (a cancellation point in any case).
 * @node:    host name, numeric IPv4/IPv6 address (a "%scope" suffix is
 *           understood), or NULL for the wildcard (AI_PASSIVE) or loopback
 *           address.  Numeric hosts, NULL and names in /etc/hosts never
 *           touch the network, nor do "localhost" and names under it
 *           (RFC 6761: the loopback addresses if /etc/hosts lacks them).
 *           A name listed in /etc/hosts for the other family only is
 *           asked of the servers, as glibc does.
 * @service: port number or service name from /etc/services, or NULL.
 * @hints:   as POSIX, or NULL: ai_family AF_UNSPEC, AF_INET or AF_INET6;
 *           ai_socktype 0 (one entry per socket type, as glibc),
 *           SOCK_STREAM, SOCK_DGRAM or SOCK_RAW; ai_flags AI_PASSIVE,
 *           AI_CANONNAME, AI_NUMERICHOST, AI_NUMERICSERV, AI_V4MAPPED,
 *           AI_ALL, AI_ADDRCONFIG (accepted, not applied).
 * @res:     receives the list on success (sorted per RFC 6724); free it
 *           with corio_freeaddrinfo().
 * Return: 0; CORIO_ENOTFOUND (no such name, or AI_NUMERICHOST and @node is
 * not numeric); CORIO_ENODATA (the name has no address of that family);
 * CORIO_ETIMEOUT; CORIO_ESERVFAIL; CORIO_EREFUSED (every server refused
 * the query); CORIO_ECONNECTION (no server could be reached, or those that
 * could refused, or none is configured); CORIO_EBADRESP; CORIO_EBADNAME
 * (empty, over 253 bytes, a label over 63, an empty label, or a NUL byte
 * written as "\000"; checked before any I/O); CORIO_ENOSERVICE;
 * CORIO_EFAMILY (unknown family, or a numeric host of the other family);
 * -EINVAL (bad flags, NULL @res, both @node and @service NULL, a name
 * to look up with $CORIO_DNS_SERVERS malformed);
 * -ESOCKTNOSUPPORT; -ENOMEM; -ECANCELED; -ETIMEDOUT; -EPERM outside a
 * task.
 */
CORIO_API int corio_getaddrinfo(const char *node, const char *service,
				const struct addrinfo *hints, struct addrinfo **res);
/*
 * Happy Eyeballs (RFC 8305) on top: run an AF_INET6 and an AF_INET lookup
 * in two tasks and start connecting when the first answers; cancelling the
 * other returns at once and its answer is dropped when it comes.
 */

/** corio_freeaddrinfo() - free a list from corio_getaddrinfo().  NULL is
 *  ignored.  (Each entry is one allocation plus its ai_canonname, as in
 *  glibc, but pair the calls all the same.) */
CORIO_API void corio_freeaddrinfo(struct addrinfo *res);

/**
 * corio_getnameinfo() - getnameinfo(3) for tasks: the host name (reverse
 * lookup, PTR) and/or service name of @sa.  Suspends.
 * @host/@hostlen: receives the name, NUL-terminated (NULL: don't look up).
 * @serv/@servlen: receives the service (NULL: don't look up).
 * @flags: NI_NUMERICHOST, NI_NUMERICSERV, NI_NAMEREQD, NI_NOFQDN, NI_DGRAM
 *         from <netdb.h>.
 * Both buffers are written only on success.  /etc/hosts is looked at
 * first.  (c-ares 1.18 folds a failed PTR query, timeout included, into
 * "no name": the numeric form, or CORIO_ENOTFOUND with NI_NAMEREQD.)
 * Return: 0; CORIO_ENOTFOUND (no name and NI_NAMEREQD); CORIO_ECONNECTION
 * (NI_NAMEREQD, no name in /etc/hosts, no server configured); CORIO_EFAMILY
 * (not AF_INET/AF_INET6); -EINVAL (bad flags or length, both buffers
 * NULL, $CORIO_DNS_SERVERS malformed); -EOVERFLOW (a buffer is too
 * small); -ENOMEM; -ECANCELED; -ETIMEDOUT; -EPERM outside a task.
 */
CORIO_API int corio_getnameinfo(const struct sockaddr *sa, socklen_t len, char *host,
				size_t hostlen, char *serv, size_t servlen, int flags);

/** DNS record types for corio_dns_query() (RFC 1035 and successors). */
enum corio_dns_type {
	CORIO_DNS_A = 1,
	CORIO_DNS_NS = 2,
	CORIO_DNS_CNAME = 5,
	CORIO_DNS_SOA = 6,
	CORIO_DNS_PTR = 12,
	CORIO_DNS_MX = 15,
	CORIO_DNS_TXT = 16,
	CORIO_DNS_AAAA = 28,
	CORIO_DNS_SRV = 33,
	CORIO_DNS_CAA = 257,
};

/**
 * corio_dns_query() - ask the servers for records of @type (class IN) for
 * @name, applying the search domains as res_search(3) does.  Suspends.
 * @answer: receives the raw reply message (RFC 1035 wire format), to be
 *          freed with corio_dns_free(); hand it to the parsers below.
 * @len:    receives its length.
 * Return: 0; CORIO_ENOTFOUND (NXDOMAIN); CORIO_ENODATA (no record of that
 * type); CORIO_ETIMEOUT; CORIO_ESERVFAIL; CORIO_EREFUSED; CORIO_EFORMERR;
 * CORIO_ECONNECTION (both as corio_getaddrinfo()); CORIO_EBADNAME (as
 * corio_getaddrinfo()); -EINVAL
 * (@type not in 1..65535, NULL pointers, $CORIO_DNS_SERVERS malformed);
 * -ENOMEM; -ECANCELED;
 * -ETIMEDOUT; -EPERM outside a task.
 */
CORIO_API int corio_dns_query(const char *name, int type, unsigned char **answer,
			      size_t *len);

/** An MX record. */
typedef struct corio_dns_mx {
	const char *host;  /**< mail exchanger */
	uint16_t priority; /**< lower is preferred */
} corio_dns_mx;

/** A TXT record: its character-strings joined, NUL-terminated (the data
 *  may itself contain NUL bytes: use @len). */
typedef struct corio_dns_txt {
	const unsigned char *data;
	size_t len;
} corio_dns_txt;

/** An SRV record (RFC 2782). */
typedef struct corio_dns_srv {
	const char *target;
	uint16_t priority; /**< lower is preferred */
	uint16_t weight;   /**< share among equal priorities */
	uint16_t port;
} corio_dns_srv;

/** A CNAME record: @name is an alias of @target. */
typedef struct corio_dns_cname {
	const char *name;
	const char *target;
} corio_dns_cname;

/*
 * The parsers take a reply from corio_dns_query() and return the records
 * of their type in the answer section, in the order the server gave them,
 * as one array in a single allocation (strings included): free it with
 * corio_dns_free().  They never suspend and need no loop.
 * Return: 0 and *@out, *@n set; CORIO_ENODATA (no record of that type);
 * CORIO_EBADRESP (malformed reply); -EINVAL (NULL pointers); -ENOMEM.
 */
/** corio_dns_parse_mx() - the MX records of @answer. */
CORIO_API int corio_dns_parse_mx(const unsigned char *answer, size_t len, corio_dns_mx **out,
				 size_t *n);
/** corio_dns_parse_txt() - the TXT records of @answer. */
CORIO_API int corio_dns_parse_txt(const unsigned char *answer, size_t len,
				  corio_dns_txt **out, size_t *n);
/** corio_dns_parse_srv() - the SRV records of @answer. */
CORIO_API int corio_dns_parse_srv(const unsigned char *answer, size_t len,
				  corio_dns_srv **out, size_t *n);
/** corio_dns_parse_cname() - the CNAME records of @answer (a chain comes
 *  in order: each target is the next record's name). */
CORIO_API int corio_dns_parse_cname(const unsigned char *answer, size_t len,
				    corio_dns_cname **out, size_t *n);

/** corio_dns_free() - free a reply from corio_dns_query() or an array
 *  from a corio_dns_parse_*() function.  NULL is ignored. */
CORIO_API void corio_dns_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* CORIO_DNS_H */
