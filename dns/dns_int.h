/* SPDX-License-Identifier: MIT */
/*
 * dns_int.h - the resolver's internals shared by the files of dns/: the
 * per-loop resolver (resolver.c), the request record every lookup goes
 * through, and the helpers the lookup files use.  Never installed.
 *
 * Life of a request (heap, because it may outlive its task):
 *
 *   corio__dns_run() --slot free--> STARTED --c-ares callback--> DONE: task woken
 *         |                            |
 *         +--no slot--> QUEUED         +--task interrupted--> ABANDONED: the
 *                         |                 callback frees it when it comes
 *                         +--interrupted--> freed at once (c-ares never saw it)
 */
#ifndef CORIO_DNS_INT_H
#define CORIO_DNS_INT_H

#include "corio_mod.h"
#include "corio/dns.h"

#include <ares.h>
#include <netinet/in.h>
#include <stdio.h>

struct corio__dns;
struct corio__hosts;

/* One address a lookup found (from /etc/hosts or from c-ares). */
struct corio__dns_addr {
	int family; /* AF_INET or AF_INET6 */
	uint32_t scope;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} a;
};

/* What the kernel says about reaching one destination (route.c). */
struct corio__dns_route {
	struct corio__dns_addr src; /* the source address it would use */
	bool known;                 /* the kernel answered */
	bool usable;                /* it has a route */
};
#define CORIO__DNS_ROUTE_BATCH 16

/* The addresses of a lookup, and the canonical name they belong to. */
struct corio__dns_addrs {
	struct corio__dns_addr *v;
	size_t n, cap;
	char *canon; /* malloc'd, or NULL */
};

struct corio__dns_req {
	struct corio__wait wait;       /* interrupt hook while the task waits */
	corio_task *task;              /* the waiting task; NULL once abandoned */
	struct corio__dns *dns;
	/* Hands the lookup to c-ares.  Its callback may run inside. */
	void (*start)(struct corio__dns_req *r);
	/* Frees the record and any result it holds (the task is gone). */
	void (*drop)(struct corio__dns_req *r);
	/* The name asked about, for refused.c; the caller's: read only while
	 * it waits.  NULL: no answer is matched to this request. */
	const char *name;
	struct corio__node node;       /* in dns->queue while QUEUED, then in
					* dns->started until c-ares answers */
	uint64_t refused_by;           /* bit i: server i answered REFUSED */
	int status;                    /* ARES_* once done */
	bool queued;                   /* waiting for a slot */
	bool done;                     /* c-ares answered */
	bool abandoned;                /* the task left; free on answer */
};

/* The request on dns->queue or dns->started that @n links. */
static inline struct corio__dns_req *corio__dns_req_of(struct corio__node *n)
{
	return corio__list_entry(n, struct corio__dns_req, node);
}

/* A socket c-ares opened.  The loop polls it with heap ops owned by this
 * record; the record outlives the fd until both ops are back. */
struct corio__dns_sock {
	struct corio__op rd, wr;       /* POLLIN and POLLOUT polls */
	struct corio__dns *dns;
	struct corio__node node;       /* in dns->socks, or dns->closed_socks */
	int fd;
	bool want_rd, want_wr;         /* what c-ares asked for last */
	bool rd_busy, wr_busy;         /* that poll is with the kernel */
	bool closed;                   /* c-ares closed the fd: never use it */
	bool in_process;               /* inside ares_process_fd for it */
};

struct corio__dns {
	corio_loop *loop;
	ares_channel ch;               /* NULL until created (or if it failed) */
	bool closing;                  /* the loop is being freed */
	/* configuration, applied whenever the channel is (re)built */
	corio_dns_options opts;
	char *servers;                 /* from corio_dns_set_servers(), or NULL */
	char *hosts_path;              /* copy of opts.hosts_file, or NULL */
	struct corio__hosts *hosts;    /* the hosts file in memory (hosts.c) */
	int probe4, probe6;            /* UDP sockets for source selection, or -1 */
	int nl;                        /* rtnetlink socket (route.c), or -1 */
	uint32_t nl_seq;               /* its next request number */
	unsigned char *nl_buf;         /* room for a batch of its replies */
	bool servers_set;              /* servers (possibly "") came from the API */
	bool no_servers;               /* the channel has no server at all */
	struct ares_addr_port_node *ares_servers; /* the channel's, in its order
					* (refused.c), or NULL */
	uint64_t min_try_ns;           /* shortest per-try timeout in effect */
	/* sockets */
	struct corio__list socks;      /* live records: c-ares has the fd open */
	struct corio__list closed_socks; /* closed, a poll not back yet */
	uint64_t fd_reused;            /* an fd reopened while its old record
					* waited: counted for the tests */
	/* requests */
	unsigned inflight;             /* handed to c-ares, abandoned included */
	unsigned waiting;              /* of those, a task still waits for */
	unsigned max_inflight;
	struct corio__list queue;      /* QUEUED requests, FIFO */
	struct corio__list started;    /* handed to c-ares, not answered yet */
	bool pumping;                  /* starting queued requests */
	/* the ares_timeout() timer */
	corio_timer *timer;
	uint64_t timer_when;
};

/* errors.c: gives corio_strerror() the text of the codes of corio/dns.h,
 * the block -5099..-5001.  A file whose public calls can return one of
 * them says CORIO__DNS_ERRORS_AT_LOAD once: a static link that pulls the
 * file in then registers the text before main(), and so before any of
 * those codes can reach the caller. */
#define CORIO__DNS_ERR_FIRST (-5099)
#define CORIO__DNS_ERR_LAST (-5001)
void corio__dns_errors_register(void) CORIO__HIDDEN;
#define CORIO__DNS_ERRORS_AT_LOAD                                                      \
	__attribute__((constructor)) static void dns_errors_at_load(void)              \
	{                                                                              \
		corio__dns_errors_register();                                          \
	}

/* resolver.c */
/* The loop's resolver if one was made, else NULL (tests, white box). */
struct corio__dns *corio__dns_find(corio_loop *l) CORIO__HIDDEN;
int corio__dns_get(corio_loop *loop, struct corio__dns **out) CORIO__HIDDEN;
int corio__dns_run(struct corio__dns *d, struct corio__dns_req *r) CORIO__HIDDEN;
void corio__dns_finish(struct corio__dns_req *r, int status) CORIO__HIDDEN;
int corio__dns_error(const struct corio__dns *d, int ares_status) CORIO__HIDDEN;
void corio__dns_timer_update(struct corio__dns *d) CORIO__HIDDEN;

/* sock.c: the c-ares socket callbacks, and the socket functions c-ares
 * uses instead of its own (they show refused.c the answers it reads) */
extern const struct ares_socket_functions corio__dns_sock_funcs CORIO__HIDDEN;
void corio__dns_sock_state(void *data, ares_socket_t fd, int readable,
			   int writable) CORIO__HIDDEN;
int corio__dns_sock_created(ares_socket_t fd, int type, void *data) CORIO__HIDDEN;
void corio__dns_sock_close(struct corio__dns_sock *s) CORIO__HIDDEN;

/* The record on dns->socks or dns->closed_socks that @n links (NULL: NULL). */
static inline struct corio__dns_sock *corio__dns_sock_of(struct corio__node *n)
{
	return corio__list_entry(n, struct corio__dns_sock, node);
}

/* refused.c: c-ares 1.18 reports a lookup that every server refused as
 * ARES_ECONNREFUSED, as if none could be reached; the answers it reads
 * over UDP tell the two apart. */
void corio__dns_refused_setup(struct corio__dns *d) CORIO__HIDDEN;
void corio__dns_refused_reset(struct corio__dns *d) CORIO__HIDDEN;
void corio__dns_answer_seen(struct corio__dns *d, const unsigned char *buf, size_t len,
			    const struct sockaddr *from) CORIO__HIDDEN;
/* The corio code for finished request @r (corio__dns_error(), refusals
 * counted). */
int corio__dns_req_error(const struct corio__dns_req *r) CORIO__HIDDEN;

/* servers.c: a non-empty server list as c-ares takes it (one allocation:
 * free() it), or -EINVAL if any entry is malformed, or -ENOMEM. */
int corio__dns_servers_parse(const char *csv, struct ares_addr_port_node **out) CORIO__HIDDEN;

/* name.c */
int corio__dns_check_name(const char *name) CORIO__HIDDEN;

/* hosts.c: 1 and @out filled if /etc/hosts lists @name with @family,
 * 0 if not, or -ENOMEM. */
int corio__hosts_find(struct corio__dns *d, const char *name, int family,
		      struct corio__dns_addrs *out) CORIO__HIDDEN;
const char *corio__hosts_name(struct corio__dns *d, int family, const void *addr) CORIO__HIDDEN;
void corio__hosts_free(struct corio__dns *d) CORIO__HIDDEN;
/* Tests and fuzzing: @d's table parsed from the text @f, as if its file
 * had just been read.  It stays while the file at d->hosts_path stays
 * absent.  0 or -ENOMEM (then the table is empty). */
int corio__hosts_read(struct corio__dns *d, FILE *f) CORIO__HIDDEN;

/* route.c: 0 and @out filled (entries the kernel did not answer stay
 * !known), or a negative errno if netlink cannot be used. */
int corio__dns_routes(struct corio__dns *d, const struct corio__dns_addr *dst, size_t n,
		      struct corio__dns_route *out) CORIO__HIDDEN;

/* sort.c */
int corio__dns_addrs_push(struct corio__dns_addrs *l,
			  const struct corio__dns_addr *a) CORIO__HIDDEN;
void corio__dns_addrs_free(struct corio__dns_addrs *l) CORIO__HIDDEN;
int corio__dns_sort(struct corio__dns *d, struct corio__dns_addrs *l) CORIO__HIDDEN;
void corio__dns_probe_close(struct corio__dns *d) CORIO__HIDDEN;

#endif
