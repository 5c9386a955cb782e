/* SPDX-License-Identifier: MIT */
/*
 * resolver.c - the per-loop resolver: one c-ares channel per loop, built on
 * first use from the loop's options, rebuilt when they change, destroyed
 * with the loop.  It owns the request life cycle shared by every lookup
 * (start or queue, suspend, wake, abandon), the throttle that keeps a burst
 * of lookups from overrunning the server, the loop timer that follows
 * ares_timeout(), and the mapping of c-ares status codes to corio's.
 * The sockets c-ares opens are polled by sock.c; refused.c tells refusals
 * from unreachable servers.
 */
#include "dns_int.h"

#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

CORIO__DNS_ERRORS_AT_LOAD

/* Lookups in flight: an AF_UNSPEC lookup is two queries, and 128 answers
 * fit the default 208 KiB socket receive buffer (ours and the server's)
 * with room to spare; beyond that, bursts overflow it and the lost
 * queries wait for a retry. */
#define DEFAULT_MAX_INFLIGHT 64
#define MS 1000000ull

/* ---- status codes --------------------------------------------------- */

int corio__dns_error(const struct corio__dns *d, int status)
{
	switch (status) {
	case ARES_SUCCESS: return 0;
	case ARES_ENODATA: return CORIO_ENODATA;
	case ARES_EFORMERR: return CORIO_EFORMERR;
	case ARES_ESERVFAIL: return CORIO_ESERVFAIL;
	case ARES_ENOTFOUND:
	case ARES_ENONAME:
		/* With no server, "not in /etc/hosts" is all we know. */
		return d && d->no_servers ? CORIO_ECONNECTION : CORIO_ENOTFOUND;
	case ARES_EREFUSED: return CORIO_EREFUSED;
	case ARES_EBADQUERY:
	case ARES_EBADNAME:
	case ARES_EBADSTR: return CORIO_EBADNAME;
	case ARES_EBADFAMILY: return CORIO_EFAMILY;
	case ARES_EBADRESP: return CORIO_EBADRESP;
	case ARES_ECONNREFUSED:
	case ARES_EOF: return CORIO_ECONNECTION;
	case ARES_ETIMEOUT: return CORIO_ETIMEOUT;
	case ARES_ENOMEM: return -ENOMEM;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED: return -ECANCELED;
	case ARES_EBADFLAGS:
	case ARES_EBADHINTS: return -EINVAL;
	case ARES_ESERVICE: return CORIO_ENOSERVICE;
	default: return CORIO_EDNS;
	}
}

/* ---- the ares_timeout() timer ----------------------------------------- */

static void timer_stop(struct corio__dns *d)
{
	if (d->timer) {
		corio_timer_cancel(d->timer);
		d->timer = NULL;
	}
}

static void timer_fire(void *arg)
{
	struct corio__dns *d = arg;
	corio_timer_cancel(d->timer); /* releases the handle of a fired timer */
	d->timer = NULL;
	if (d->ch)
		ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	corio__dns_timer_update(d);
}

/*
 * Keep one loop timer at (or before) c-ares's next deadline.  Only while a
 * task waits: a pending timer keeps corio_loop_run() going, and abandoned
 * queries alone must not hold the loop up (they are finished by the next
 * lookup's processing or by the loop's teardown).  ares_timeout() walks
 * every query, so it is skipped when the timer is already due within the
 * shortest per-try timeout: no query sent now can have an earlier deadline.
 * Firing early is harmless; the timer then computes the next one.
 */
void corio__dns_timer_update(struct corio__dns *d)
{
	if (d->closing || !d->ch)
		return;
	if (!d->waiting) {
		timer_stop(d);
		return;
	}
	uint64_t now = corio__clock();
	if (d->timer && d->timer_when <= now + d->min_try_ns)
		return;
	struct timeval tv, *next = ares_timeout(d->ch, NULL, &tv);
	if (!next) {
		timer_stop(d);
		return;
	}
	/* ares_timeout() rounds down to whole milliseconds: add one so the
	 * timer never fires just before the deadline and spins. */
	uint64_t when = now + (uint64_t)next->tv_sec * 1000000000ull +
			(uint64_t)next->tv_usec * 1000ull + MS;
	if (d->timer && d->timer_when <= when)
		return;
	timer_stop(d);
	if (corio_call_at(d->loop, when, timer_fire, d, &d->timer) == 0)
		d->timer_when = when;
	else
		d->timer = NULL; /* no memory: the queries end when polls fire */
}

/* ---- requests --------------------------------------------------------- */

static void queue_push(struct corio__dns *d, struct corio__dns_req *r)
{
	r->queued = true;
	corio__list_push_back(&d->queue, &r->node);
}

static void queue_remove(struct corio__dns *d, struct corio__dns_req *r)
{
	corio__list_remove(&d->queue, &r->node);
	r->queued = false;
}

static void req_start(struct corio__dns *d, struct corio__dns_req *r)
{
	d->inflight++;
	d->waiting++;
	corio__list_push_back(&d->started, &r->node);
	r->start(r); /* may call corio__dns_finish() before it returns */
}

/* Start queued requests while there is room.  Re-entry (a queued request
 * answered inside its own start) is folded into the outer loop. */
static void pump(struct corio__dns *d)
{
	if (d->pumping || d->closing)
		return;
	d->pumping = true;
	while (!corio__list_empty(&d->queue) && d->inflight < d->max_inflight) {
		struct corio__dns_req *r = corio__dns_req_of(d->queue.head);
		queue_remove(d, r);
		req_start(d, r);
	}
	d->pumping = false;
}

/* Called by each lookup's c-ares callback once its result is stored. */
void corio__dns_finish(struct corio__dns_req *r, int status)
{
	struct corio__dns *d = r->dns;
	r->status = status;
	r->done = true;
	corio__list_remove(&d->started, &r->node);
	d->inflight--;
	if (r->abandoned) {
		r->drop(r);
	} else {
		d->waiting--;
		corio__task_wake(r->task, 0); /* a no-op if it runs: answered at once */
	}
	pump(d);
	if (!d->waiting)
		timer_stop(d);
}

/* The waiting task was cancelled or its deadline passed: let it go now.
 * A queued request is simply dropped; a started one stays with c-ares,
 * which will answer into a record nobody reads. */
static void req_interrupt(corio_task *t, struct corio__wait *w, int err)
{
	struct corio__dns_req *r = corio__container_of(w, struct corio__dns_req, wait);
	struct corio__dns *d = r->dns;
	if (r->queued) {
		queue_remove(d, r);
		r->drop(r);
	} else {
		r->abandoned = true;
		r->task = NULL;
		d->waiting--;
		if (!d->waiting)
			timer_stop(d);
	}
	corio__task_wake(t, err);
}

/*
 * Run @r for the calling task.  Return: 0 when c-ares answered (r->status
 * says how), or -ECANCELED/-ETIMEDOUT if the task was interrupted; then @r
 * no longer belongs to the caller.
 */
static void req_describe(const struct corio__wait *w, char *buf, size_t n)
{
	(void)w;
	snprintf(buf, n, "a name lookup");
}

int corio__dns_run(struct corio__dns *d, struct corio__dns_req *r)
{
	r->dns = d;
	r->task = corio_self();
	r->wait.interrupt = req_interrupt;
	r->wait.describe = req_describe;
	if (corio__list_empty(&d->queue) && d->inflight < d->max_inflight) {
		req_start(d, r);
		if (r->done)
			return 0; /* numeric, /etc/hosts, or an immediate error */
		corio__dns_timer_update(d);
	} else {
		queue_push(d, r);
	}
	return corio__suspend(&r->wait);
}

/* ---- the channel ------------------------------------------------------ */

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static int library_status;

static void library_init(void)
{
	library_status = ares_library_init(ARES_LIB_INIT_ALL);
}

static const char *servers_wanted(const struct corio__dns *d)
{
	if (d->servers_set)
		return d->servers;
	const char *env = getenv("CORIO_DNS_SERVERS");
	return env && *env ? env : NULL;
}

static void channel_options(struct corio__dns *d, struct ares_options *o, int *mask)
{
	/* /etc/hosts is ours (hosts.c): c-ares only talks to servers.  With
	 * no server at all, the lookups never reach c-ares (it would answer
	 * ESERVFAIL, and 1.18 leaks the query doing so). */
	static char dns_only[] = "b";
	memset(o, 0, sizeof(*o));
	o->sock_state_cb = corio__dns_sock_state;
	o->sock_state_cb_data = d;
	o->lookups = dns_only;
	*mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS;
	if (d->opts.timeout_ms) {
		o->timeout = (int)d->opts.timeout_ms;
		*mask |= ARES_OPT_TIMEOUTMS;
	}
	if (d->opts.tries) {
		o->tries = (int)d->opts.tries;
		*mask |= ARES_OPT_TRIES;
	}
	if (d->opts.rotate)
		*mask |= d->opts.rotate > 0 ? ARES_OPT_ROTATE : ARES_OPT_NOROTATE;
	if (d->opts.no_search)
		*mask |= ARES_OPT_DOMAINS; /* with ndomains 0 */
}

/* The shortest time any query sent from now on may wait for a try. */
static uint64_t channel_min_try(ares_channel ch)
{
	struct ares_options o;
	int mask = 0;
	uint64_t ns = 1000 * MS;
	if (ares_save_options(ch, &o, &mask) == ARES_SUCCESS) {
		if (o.timeout > 0)
			ns = (uint64_t)o.timeout * MS;
		ares_destroy_options(&o);
	}
	return ns;
}

static void channel_destroy(struct corio__dns *d)
{
	timer_stop(d);
	if (d->ch) {
		/* Pending queries are answered ARES_EDESTRUCTION, sockets
		 * closed: their polls are cancelled and come back later. */
		ares_channel ch = d->ch;
		d->ch = NULL;
		ares_destroy(ch);
	}
	corio__dns_refused_reset(d);
}

/* Hand c-ares the servers asked for; none: it keeps resolv.conf's. */
static int channel_servers(ares_channel ch, const char *csv)
{
	struct ares_addr_port_node *list;
	if (!csv || !*csv)
		return 0;
	int err = corio__dns_servers_parse(csv, &list);
	if (err)
		return err;
	int st = ares_set_servers_ports(ch, list);
	free(list);
	return st == ARES_SUCCESS ? 0 : st == ARES_ENOMEM ? -ENOMEM : CORIO_EDNS;
}

static int channel_build(struct corio__dns *d)
{
	pthread_once(&library_once, library_init);
	if (library_status != ARES_SUCCESS)
		return CORIO_EDNS;
	const char *servers = servers_wanted(d);
	struct ares_options o;
	int mask;
	channel_options(d, &o, &mask);
	ares_channel ch;
	int st = ares_init_options(&ch, &o, mask);
	if (st != ARES_SUCCESS)
		return st == ARES_ENOMEM ? -ENOMEM : CORIO_EDNS;
	ares_set_socket_callback(ch, corio__dns_sock_created, d);
	ares_set_socket_functions(ch, &corio__dns_sock_funcs, d);
	int err = channel_servers(ch, servers);
	if (err) {
		ares_destroy(ch);
		return err;
	}
	d->ch = ch;
	corio__dns_refused_setup(d);
	d->no_servers = servers && !*servers;
	d->min_try_ns = channel_min_try(ch);
	d->max_inflight = d->opts.max_inflight ? d->opts.max_inflight : DEFAULT_MAX_INFLIGHT;
	return 0;
}

static unsigned dns_drain(void *state);
static void dns_free(void *state);

static const struct corio__module dns_module = {
	.name = "dns",
	.drain = dns_drain,
	.free = dns_free,
};

struct corio__dns *corio__dns_find(corio_loop *l)
{
	return corio__module_state(l, &dns_module);
}

/* The loop's resolver record, created (without a channel) if need be. */
static int dns_obtain(corio_loop *l, struct corio__dns **out)
{
	if (!l)
		return -EINVAL;
	if (!corio__loop_is_owner(l))
		return -EPERM;
	if (corio__loop_closing(l))
		return -ESHUTDOWN;
	struct corio__dns *d = corio__module_state(l, &dns_module);
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return -ENOMEM;
		d->loop = l;
		d->max_inflight = DEFAULT_MAX_INFLIGHT;
		d->probe4 = d->probe6 = d->nl = -1;
		int err = corio__module_attach(l, &dns_module, d);
		if (err) {
			free(d);
			return err;
		}
	}
	*out = d;
	return 0;
}

int corio__dns_get(corio_loop *l, struct corio__dns **out)
{
	struct corio__dns *d;
	int err = dns_obtain(l, &d);
	if (!err && !d->ch)
		err = channel_build(d);
	if (!err)
		*out = d;
	return err;
}

/* ---- configuration ---------------------------------------------------- */

/* Rebuild the channel after a configuration change, or put the old
 * configuration back (and its channel) if the new one does not work. */
static int reconfigure(struct corio__dns *d, const corio_dns_options *opts, char *servers,
		       bool servers_set)
{
	corio_dns_options old_opts = d->opts;
	char *old_servers = d->servers;
	bool old_set = d->servers_set;
	d->opts = *opts;
	d->servers = servers;
	d->servers_set = servers_set;
	channel_destroy(d);
	int err = channel_build(d);
	if (err) {
		d->opts = old_opts;
		d->servers = old_servers;
		d->servers_set = old_set;
		free(servers);
		channel_build(d); /* worked before; if not, the next lookup says so */
		return err;
	}
	free(old_servers);
	return 0;
}

static int dns_idle(corio_loop *l, struct corio__dns **out)
{
	int err = dns_obtain(l, out);
	if (err)
		return err;
	return (*out)->inflight || !corio__list_empty(&(*out)->queue) ? -EBUSY : 0;
}

int corio_dns_set_options(corio_loop *l, const corio_dns_options *o)
{
	static const corio_dns_options defaults;
	if (!o)
		o = &defaults;
	if (o->timeout_ms > INT_MAX || o->tries > INT_MAX)
		return -EINVAL;
	struct corio__dns *d;
	int err = dns_idle(l, &d);
	if (err)
		return err;
	char *servers = d->servers ? strdup(d->servers) : NULL;
	char *hosts = o->hosts_file ? strdup(o->hosts_file) : NULL;
	if ((d->servers && !servers) || (o->hosts_file && !hosts)) {
		free(servers);
		free(hosts);
		return -ENOMEM;
	}
	corio_dns_options copy = *o;
	copy.hosts_file = hosts;
	if ((err = reconfigure(d, &copy, servers, d->servers_set))) {
		free(hosts);
		return err;
	}
	free(d->hosts_path);
	d->hosts_path = hosts;
	corio__hosts_free(d); /* read again, maybe from another file */
	return 0;
}

/* Refuse a malformed list before anything changes (the channel parses it
 * again whenever it is built). */
static int servers_check(const char *csv)
{
	struct ares_addr_port_node *list;
	if (!csv || !*csv)
		return 0;
	int err = corio__dns_servers_parse(csv, &list);
	if (!err)
		free(list);
	return err;
}

int corio_dns_set_servers(corio_loop *l, const char *csv)
{
	struct corio__dns *d;
	int err = servers_check(csv);
	if (err || (err = dns_idle(l, &d)))
		return err;
	char *servers = csv ? strdup(csv) : NULL;
	if (csv && !servers)
		return -ENOMEM;
	return reconfigure(d, &d->opts, servers, csv != NULL);
}

/* ---- teardown --------------------------------------------------------- */

/* corio_loop_free(), no task left.  Only abandoned requests can be left
 * (a waiting one belongs to a live task): destroying the channel answers
 * them -ECANCELED and frees them, and c-ares closes its sockets, whose
 * polls the loop then waits for.  Nothing new may start meanwhile. */
static unsigned dns_drain(void *state)
{
	struct corio__dns *d = state;
	if (!d->closing) {
		d->closing = true;
		channel_destroy(d);
		/* c-ares closes all it has; a safety net */
		while (!corio__list_empty(&d->socks))
			corio__dns_sock_close(corio__dns_sock_of(d->socks.head));
	}
	unsigned n = 0;
	for (struct corio__node *s = d->closed_socks.head; s; s = s->next)
		n++;
	return n;
}

static void dns_free(void *state)
{
	struct corio__dns *d = state;
	corio__hosts_free(d);
	corio__dns_probe_close(d);
	free(d->servers);
	free(d->hosts_path);
	free(d);
}
