/* SPDX-License-Identifier: MIT */
/*
 * serve.c - corio_serve(): an accepting task and a task per connection.
 * The task that runs the server only waits: for a stop (a call, a signal
 * taken with corio_signal_wait(), or its own cancellation), then for the acceptor to
 * end, then for the handlers during the grace period, and finally for the
 * handlers it had to cancel.  At the connection limit the acceptor pauses
 * the listener (the kernel backlog holds newcomers); when accept runs out
 * of descriptors it backs off, and any connection that ends wakes it.
 */
#include "net_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_GRACE (10ull * 1000 * 1000 * 1000)
#define BACKOFF_MIN (10ull * 1000 * 1000)    /* 10 ms */
#define BACKOFF_MAX (1000ull * 1000 * 1000)  /* 1 s */

struct conn {
	corio_conn c;
	corio_task *task;
	struct corio__node node; /* on the server's running handlers */
};

struct corio_server {
	corio_loop *loop;
	int lfd;
	corio_fn handler;
	corio_serve_options o;
	corio_stream_options so; /* per connection */
	int state;               /* 0: new, 1: running, 2: ran */
	bool stopping;
	bool own_lfd;            /* close lfd once the last accepts are done */
	int fatal;               /* an accept error that ends the server */
	corio_task *acceptor;
	corio_task *sigtask;
	sigset_t sigs;        /* the stop signals */
	struct corio__list conns; /* running handlers */
	corio_serve_stats st;
	struct corio__waitq runner; /* corio_server_run() waiting */
	struct corio__waitq slot;   /* the acceptor waiting for room */
};

/* ---- connections -------------------------------------------------------- */

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	corio_server *s = c->c.server;
	s->handler(&c->c);
	corio_stream_close(c->c.stream); /* flushes unless we were cancelled */
	corio__list_remove(&s->conns, &c->node);
	free(c);
	s->st.active--;
	corio__waitq_wake_one(&s->slot, 0);
	if (s->stopping && !s->st.active)
		corio__waitq_wake_one(&s->runner, 0);
	return NULL;
}

/* Start a handler for @fd, which is closed if that fails. */
static int conn_start(corio_server *s, int fd, const struct sockaddr_storage *peer,
		      socklen_t plen)
{
	struct conn *c = calloc(1, sizeof(*c));
	int err = c ? corio_stream_new(&c->c.stream, fd, &s->so) : -ENOMEM;
	if (err) {
		free(c);
		close(fd);
		return err;
	}
	c->c.fd = fd;
	c->c.peer = *peer;
	c->c.peer_len = plen;
	c->c.server = s;
	c->c.arg = s->o.arg;
	corio_task_options to = {.stack_size = s->o.stack_size, .name = "serve-conn"};
	err = corio_spawn_ex(s->loop, &c->task, conn_main, c, &to);
	if (err) {
		corio_stream_close(c->c.stream); /* closes fd; nothing to flush */
		free(c);
		return err;
	}
	corio_detach(c->task); /* it unlinks itself before it ends */
	corio__list_push_back(&s->conns, &c->node);
	if (++s->st.active > s->st.peak)
		s->st.peak = s->st.active;
	s->st.accepted++;
	return 0;
}

static void nodelay(int fd, const struct sockaddr_storage *peer)
{
	int on = 1;
	if (peer->ss_family == AF_INET || peer->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* Start a handler for @fd, accepted elsewhere or without its address. */
static int conn_add(corio_server *s, int fd)
{
	struct sockaddr_storage peer = {0};
	socklen_t plen = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &plen))
		plen = 0;
	nodelay(fd, &peer);
	return conn_start(s, fd, &peer, plen);
}

/* ---- accepting ---------------------------------------------------------- */

/* Errors accept(2) reports for one connection (pending network errors,
 * aborted handshakes): skip it and go on. */
static bool transient(int err)
{
	switch (err) {
	case -ECONNABORTED: case -EPROTO: case -EPERM: case -EINTR: case -EAGAIN:
	case -ENETDOWN: case -ENOPROTOOPT: case -EHOSTDOWN: case -ENONET:
	case -EHOSTUNREACH: case -EOPNOTSUPP: case -ENETUNREACH: case -ETIMEDOUT:
		return true;
	}
	return false;
}

static bool resource(int err)
{
	return err == -EMFILE || err == -ENFILE || err == -ENOBUFS || err == -ENOMEM;
}

/* Out of descriptors or memory: sleep, doubling up to a second, but wake
 * as soon as a connection ends and frees what we lacked. */
static int back_off(corio_server *s, uint64_t *delay)
{
	s->st.accept_errors++;
	*delay = *delay ? *delay * 2 : BACKOFF_MIN;
	if (*delay > BACKOFF_MAX)
		*delay = BACKOFF_MAX;
	int err = corio__net_wait(&s->slot, corio_now() + *delay, NULL);
	return err == -ETIMEDOUT || err == 0 ? 0 : err;
}

/* Accept one connection and start its task.  0, or what ends the loop. */
static int accept_one(corio_server *s, uint64_t *delay)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	int fd = corio_accept(s->lfd, (struct sockaddr *)&peer, &plen);
	if (fd < 0) {
		if (fd == -ECANCELED || transient(fd))
			return fd == -ECANCELED ? fd : 0;
		if (resource(fd))
			return back_off(s, delay);
		s->fatal = fd;
		corio__waitq_wake_one(&s->runner, 0);
		return fd;
	}
	*delay = 0;
	nodelay(fd, &peer);
	if (conn_start(s, fd, &peer, plen))
		return back_off(s, delay);
	return 0;
}

static void *acceptor_main(void *arg)
{
	corio_server *s = arg;
	uint64_t delay = 0;
	for (;;) {
		int err;
		if (s->o.max_conns && s->st.active >= s->o.max_conns) {
			corio__listener_pause(s->loop, s->lfd);
			err = corio__net_wait(&s->slot, 0, NULL);
		} else {
			err = accept_one(s, &delay);
		}
		if (err)
			return NULL;
	}
}

/* ---- signals ---------------------------------------------------------- */

/* The stop signals come through the runtime's one signal path
 * (corio_signal_wait), which reads them on the loop's thread. */
static void *sig_main(void *arg)
{
	corio_server *s = arg;
	int signo;
	if (corio_signal_wait(&s->sigs, &signo) == 0)
		corio_server_stop(s);
	return NULL;
}

static int sig_start(corio_server *s)
{
	sigemptyset(&s->sigs);
	for (const int *p = s->o.stop_signals; *p; p++)
		if (sigaddset(&s->sigs, *p) || *p == SIGKILL || *p == SIGSTOP)
			return -EINVAL;
	/* blocked now, so that one arriving before the task waits stays
	 * pending for it instead of killing us */
	int err = corio_signal_block(&s->sigs);
	if (err)
		return err;
	corio_task_options to = {.name = "serve-signals"};
	return corio_spawn_ex(s->loop, &s->sigtask, sig_main, s, &to);
}

/* ---- the server ------------------------------------------------------- */

int corio_server_new(corio_server **out, int lfd, corio_fn handler, const corio_serve_options *o)
{
	static const corio_serve_options defaults;
	if (!out || lfd < -1 || !handler)
		return -EINVAL;
	corio_loop *l = corio__tls_loop;
	if (!l)
		return -EPERM;
	corio_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = l;
	s->lfd = lfd;
	s->handler = handler;
	s->o = o ? *o : defaults;
	if (s->o.stream)
		s->so = *s->o.stream;
	if (s->o.idle_timeout_ns)
		s->so.idle_timeout_ns = s->o.idle_timeout_ns;
	if (s->o.read_timeout_ns)
		s->so.read_timeout_ns = s->o.read_timeout_ns;
	s->o.grace_ns = s->o.grace_ns ? s->o.grace_ns : DEFAULT_GRACE;
	*out = s;
	return 0;
}

/* Wait (shielded) until every handler has ended. */
static void drain(corio_server *s)
{
	corio_scope sh;
	corio_shield_push(&sh);
	while (s->st.active)
		corio__net_wait(&s->runner, 0, NULL);
	corio_shield_pop(&sh);
}

static void reap_task(corio_task *t)
{
	corio_scope sh;
	corio_shield_push(&sh);
	corio_cancel(t);
	corio_join(t, NULL);
	corio_shield_pop(&sh);
}

/* ---- the last accepts of a graceful stop ------------------------------- */

/*
 * Closing a listener resets every connection still in its accept queue,
 * and with SO_REUSEPORT no other listener takes them over.  So a graceful
 * stop (drain_on_stop) first seals a TCP listener: a socket filter drops
 * segments with SYN and no ACK, so no new handshake starts on it (the
 * client's SYN goes unanswered; its retransmission meets the next server
 * on the port, or a refusal once we closed), while handshakes already
 * under way complete (their final ACK passes).  Then it accepts until
 * none came for SETTLE (those handshakes in flight), stops the multishot
 * accept and takes what it had queued, then what the kernel still holds
 * (non-blocking accepts until EAGAIN).  Nothing can join the queue after
 * that but a handshake whose final ACK comes more than SETTLE after the
 * last connection: only such a client (a round trip over SETTLE, or a
 * lost ACK) meets a reset when the listener closes.  A listener that
 * cannot be sealed (not TCP) is drained until none came within
 * QUEUED_WAIT; a client connecting between that and the close is reset.
 */
#define QUEUED_WAIT (2ull * 1000 * 1000)
#define SETTLE (20ull * 1000 * 1000)
#define TAKE_POLL (50ull * 1000)
#define TAKE_MAX (1000ull * 1000 * 1000)

static bool seal(int lfd)
{
	/* a socket filter on TCP sees the TCP header at offset 0 */
	static const struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),         /* the flags byte */
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),      /* SYN | ACK */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1), /* SYN alone? */
		BPF_STMT(BPF_RET | BPF_K, 0),                   /* drop it */
		BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),         /* keep the rest */
	};
	int proto = 0;
	socklen_t len = sizeof(proto);
	if (getsockopt(lfd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) || proto != IPPROTO_TCP)
		return false;
	struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]),
				  .filter = (struct sock_filter *)code};
	return setsockopt(lfd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == 0;
}

/* Seal @lfd and hand every connection it still holds to @take(@ctx, fd);
 * see above.  Shielded: a stop's last accepts are not cancelled. */
static void last_accepts(int lfd, void (*take)(void *ctx, int fd), void *ctx)
{
	corio_loop *l = corio_current_loop();
	corio_scope sh;
	corio_shield_push(&sh);
	uint64_t quiet = seal(lfd) ? SETTLE : QUEUED_WAIT;
	for (;;) {
		corio_scope sc;
		corio_timeout_push(&sc, corio_now() + quiet);
		int fd = corio_accept(lfd, NULL, NULL);
		corio_timeout_pop(&sc);
		if (fd >= 0)
			take(ctx, fd);
		else if (fd == -ETIMEDOUT || !transient(fd))
			break;
	}
	corio__listener_pause(l, lfd);
	uint64_t end = corio_now() + TAKE_MAX;
	for (;;) {
		int fd = corio__listener_take(l, lfd);
		if (fd >= 0)
			take(ctx, fd);
		else if (fd != -EINPROGRESS || corio_now() > end)
			break;
		else
			corio_sleep(TAKE_POLL); /* the multishot's cancel is on its way */
	}
	/* non-blocking for these accepts: a process sharing the listener
	 * may take the last connection between our check and the accept, and a
	 * blocking accept4 would then hold this thread for good */
	int fl = fcntl(lfd, F_GETFL);
	bool set = fl >= 0 && !(fl & O_NONBLOCK) && fcntl(lfd, F_SETFL, fl | O_NONBLOCK) == 0;
	if (fl >= 0 && ((fl & O_NONBLOCK) || set)) {
		for (;;) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				take(ctx, fd);
			else if (errno == EAGAIN || errno == EWOULDBLOCK || !transient(-errno))
				break;
		}
	}
	if (set)
		fcntl(lfd, F_SETFL, fl);
	corio_shield_pop(&sh);
}

static void take_conn(void *ctx, int fd)
{
	conn_add(ctx, fd);
}

/* The stop sequence: no more accepting, a grace period, then cancel. */
static void wind_down(corio_server *s, bool graceful)
{
	s->stopping = true;
	if (s->acceptor) {
		reap_task(s->acceptor);
		s->acceptor = NULL;
		if (graceful && s->o.drain_on_stop)
			last_accepts(s->lfd, take_conn, s);
		corio__listener_pause(s->loop, s->lfd);
	}
	if (s->own_lfd && s->lfd >= 0) {
		corio_scope sh;
		corio_shield_push(&sh);
		corio_close(s->lfd);
		corio_shield_pop(&sh);
		s->lfd = -1;
	}
	if (graceful && s->st.active) {
		uint64_t deadline = corio_now() + s->o.grace_ns;
		while (s->st.active) {
			bool own = false;
			int err = corio__net_wait(&s->runner, deadline, &own);
			if (err < 0)
				break; /* the grace period is over, or we are cancelled */
		}
	}
	struct corio__node *n, *tmp;
	corio__list_for_each_safe(n, tmp, &s->conns) {
		struct conn *c = corio__list_entry(n, struct conn, node);
		corio_cancel(c->task);
		s->st.cancelled++;
	}
	drain(s);
	if (s->sigtask) {
		reap_task(s->sigtask);
		s->sigtask = NULL;
	}
}

int corio_server_run(corio_server *s)
{
	if (!s)
		return -EINVAL;
	if (corio_current_loop() != s->loop || !corio_self())
		return -EPERM;
	if (s->state)
		return -EBUSY;
	s->state = 1;
	int err = 0;
	if (!s->stopping && s->o.stop_signals && s->o.stop_signals[0])
		err = sig_start(s);
	corio_task_options to = {.name = "serve-accept"};
	if (!err && !s->stopping && s->lfd >= 0)
		err = corio_spawn_ex(s->loop, &s->acceptor, acceptor_main, s, &to);
	while (!err && !s->stopping && !s->fatal)
		err = corio__net_wait(&s->runner, 0, NULL);
	wind_down(s, !err);
	s->state = 2;
	return err ? err : s->fatal;
}

void corio_server_stop(corio_server *s)
{
	if (!s || s->stopping)
		return;
	s->stopping = true;
	corio__waitq_wake_one(&s->runner, 0);
}

int corio_server_add(corio_server *s, int fd)
{
	if (!s || fd < 0) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	int err = 0;
	if (corio_current_loop() != s->loop)
		err = -EPERM;
	else if (s->state != 1 || s->stopping)
		err = -ESHUTDOWN;
	if (err) {
		close(fd);
		return err;
	}
	return conn_add(s, fd);
}

int corio_server_stopping(const corio_server *s)
{
	return s && s->stopping;
}

void corio_server_stats(const corio_server *s, corio_serve_stats *out)
{
	if (s && out)
		*out = s->st;
}

void corio_server_free(corio_server *s)
{
	if (s && s->state != 1)
		free(s);
}

int corio_serve(int lfd, corio_fn handler, const corio_serve_options *o)
{
	corio_server *s;
	if (lfd < 0)
		return -EINVAL; /* -1 (no listener) is for corio_server_new() */
	int err = corio_server_new(&s, lfd, handler, o);
	if (err)
		return err;
	err = corio_server_run(s);
	corio_server_free(s);
	return err;
}

/* ---- serving on every loop ---------------------------------------------- */

/* What the loops of corio_serve_threads() share.  servers[i], stop[i] and
 * feeders[i] belong to loop i's thread. */
struct multi {
	unsigned n;
	int *lfds;                /* a listener per loop, or lfds[0] only */
	bool single;
	corio_fn handler;
	corio_serve_options o;
	corio_xchan **feed;       /* single acceptor: fds for loop i */
	corio_server **servers;
	bool *stop;               /* a stop was asked before the server existed */
	corio_task **dispatcher;  /* loop 0's accepting task (single acceptor) */
	corio_serve_stats *stats;
	int *errs;
	const struct corio__serve_layer *layer; /* NULL: plain corio_serve() */
};

/* On each loop's thread, once per stop: a graceful server stop; with a
 * single acceptor, loop 0's dispatcher is cancelled instead and the other
 * loops stop once it has handed out what was queued. */
static void multi_stop(void *arg)
{
	struct multi *m = arg;
	unsigned i = corio_loop_index();
	m->stop[i] = true;
	if (m->single) {
		if (i == 0 && m->dispatcher[0])
			corio_cancel(m->dispatcher[0]);
		return;
	}
	if (m->servers[i])
		corio_server_stop(m->servers[i]);
}

/* Hand @fd to a loop's channel; closed if that channel is gone. */
static void hand_over(struct multi *m, unsigned to, int fd)
{
	corio_scope sh;
	corio_shield_push(&sh); /* a connection accepted is never dropped */
	if (corio_xchan_send(m->feed[to], &fd))
		close(fd);
	corio_shield_pop(&sh);
}

struct deal {
	struct multi *m;
	unsigned next;
};

static void deal_one(void *ctx, int fd)
{
	struct deal *d = ctx;
	hand_over(d->m, d->next, fd);
	d->next = (d->next + 1) % d->m->n;
}

/* Loop 0, single acceptor: accept and deal connections round robin; when
 * cancelled (a stop), deal out what is still queued (last_accepts()),
 * close the listener, then close every loop's channel. */
static void *dispatcher_main(void *arg)
{
	struct multi *m = arg;
	unsigned next = 0;
	int lfd = m->lfds[0];
	for (;;) {
		int fd = corio_accept(lfd, NULL, NULL);
		if (fd == -ECANCELED)
			break;
		if (fd < 0) {
			if (transient(fd))
				continue;
			if (!resource(fd))
				break;
			corio_sleep(BACKOFF_MIN);
			continue;
		}
		hand_over(m, next, fd);
		next = (next + 1) % m->n;
	}
	struct deal d = {m, next};
	last_accepts(lfd, deal_one, &d);
	corio_scope sh;
	corio_shield_push(&sh);
	corio_close(lfd);
	m->lfds[0] = -1;
	for (unsigned i = 0; i < m->n; i++)
		corio_xchan_close(m->feed[i]);
	corio_shield_pop(&sh);
	return NULL;
}

/* Each loop, single acceptor: serve what loop 0 deals us; stop our server
 * once the channel is closed and empty. */
static void *feeder_main(void *arg)
{
	struct multi *m = arg;
	unsigned i = corio_loop_index();
	corio_server *s = m->servers[i];
	int fd;
	while (corio_xchan_recv(m->feed[i], &fd) == 0)
		corio_server_add(s, fd);
	corio_server_stop(s);
	return NULL;
}

/* Loop i's server: made (with the layer's state for this loop, if any),
 * run until a stop, its counters kept, freed. */
static int multi_serve(struct multi *m, unsigned i)
{
	const struct corio__serve_layer *ly = m->layer;
	corio_serve_options so = m->o;
	void *state = NULL;
	corio_server *s = NULL;
	int err = ly ? ly->init(ly->ctx, &so, &state) : 0;
	if (!err)
		err = corio_server_new(&s, m->single ? -1 : m->lfds[i], m->handler, &so);
	if (!err && ly && (err = ly->start(state, s))) {
		corio_server_free(s);
		s = NULL;
	}
	if (err) {
		if (ly && state)
			ly->end(state);
		if (!m->single)
			close(m->lfds[i]);
		return err;
	}
	s->own_lfd = !m->single; /* closed right after its last accepts */
	m->servers[i] = s;
	corio_task *feeder = NULL;
	if (m->single) {
		corio_spawn_ex(NULL, &feeder, feeder_main, m, &(corio_task_options){.name = "serve-feed"});
		if (i == 0)
			corio_spawn_ex(NULL, &m->dispatcher[0], dispatcher_main, m,
				       &(corio_task_options){.name = "serve-deal"});
		if (m->stop[0] && i == 0)
			corio_cancel(m->dispatcher[0]);
	} else if (m->stop[i]) {
		corio_server_stop(s);
	}
	err = corio_server_run(s);
	if (feeder)
		corio_join(feeder, NULL);
	if (i == 0 && m->dispatcher[0]) {
		corio_join(m->dispatcher[0], NULL);
		m->dispatcher[0] = NULL;
	}
	if (ly)
		ly->end(state);
	corio_server_stats(s, &m->stats[i]);
	m->servers[i] = NULL;
	corio_server_free(s);
	return err;
}

static void *multi_main(void *arg)
{
	struct multi *m = arg;
	unsigned i = corio_loop_index();
	int err = multi_serve(m, i);
	m->errs[i] = err;
	return NULL;
}

/* The listeners: the first on @port (maybe "0"), the others on the port
 * it got. */
static int multi_listen(struct multi *m, const char *host, const char *port, int backlog)
{
	unsigned count = m->single ? 1 : m->n;
	unsigned flags = m->single ? 0 : CORIO_LISTEN_REUSEPORT;
	char buf[16];
	for (unsigned i = 0; i < count; i++) {
		int fd = corio_tcp_listen(host, port, backlog, flags);
		if (fd < 0) {
			while (i--)
				close(m->lfds[i]);
			return fd;
		}
		m->lfds[i] = fd;
		if (i == 0) {
			snprintf(buf, sizeof(buf), "%d", corio_sock_port(fd));
			port = buf;
		}
	}
	return 0;
}

static int multi_alloc(struct multi *m)
{
	m->lfds = calloc(m->n, sizeof(*m->lfds));
	m->feed = calloc(m->n, sizeof(*m->feed));
	m->servers = calloc(m->n, sizeof(*m->servers));
	m->stop = calloc(m->n, sizeof(*m->stop));
	m->dispatcher = calloc(1, sizeof(*m->dispatcher));
	m->stats = calloc(m->n, sizeof(*m->stats));
	m->errs = calloc(m->n, sizeof(*m->errs));
	if (!m->lfds || !m->feed || !m->servers || !m->stop || !m->dispatcher || !m->stats ||
	    !m->errs)
		return -ENOMEM;
	for (unsigned i = 0; m->single && i < m->n; i++) {
		int err = corio_xchan_new(&m->feed[i], sizeof(int), 64);
		if (err)
			return err;
	}
	return 0;
}

static void multi_free(struct multi *m)
{
	for (unsigned i = 0; m->feed && i < m->n; i++) {
		int fd; /* anything never taken (a loop that failed) */
		while (m->feed[i] && corio_xchan_try_recv(m->feed[i], &fd) == 0)
			close(fd);
		corio_xchan_free(m->feed[i]);
	}
	free(m->lfds);
	free(m->feed);
	free(m->servers);
	free(m->stop);
	free(m->dispatcher);
	free(m->stats);
	free(m->errs);
}

static unsigned allowed_cpus(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	return sched_getaffinity(0, sizeof(set), &set) ? 1 : (unsigned)CPU_COUNT(&set);
}

static int multi_run(struct multi *m, const corio_serve_threads_options *to)
{
	corio_threads_options ro = {.pin = to->pin, .on_stop = multi_stop, .on_stop_arg = m};
	void **res = calloc(m->n, sizeof(*res));
	if (!res)
		return -ENOMEM;
	int err = corio_run_threads_ex(m->n, multi_main, m, res, &ro);
	for (unsigned i = 0; !err && i < m->n; i++)
		if (corio_is_err(res[i]))
			err = (int)(intptr_t)res[i];
		else if (m->errs[i])
			err = m->errs[i];
	for (unsigned i = 0; to->stats && i < m->n && i < to->nstats; i++)
		to->stats[i] = m->stats[i];
	free(res);
	return err;
}

int corio__serve_threads(const char *host, const char *port, corio_fn handler,
			 const corio_serve_options *o, const corio_serve_threads_options *to,
			 const struct corio__serve_layer *layer)
{
	static const corio_serve_threads_options no_to;
	if (!handler || !port)
		return -EINVAL;
	to = to ? to : &no_to;
	struct multi m = {.n = to->threads ? to->threads : allowed_cpus(),
			  .single = to->single_acceptor, .handler = handler, .layer = layer};
	if (o)
		m.o = *o;
	m.o.stop_signals = NULL; /* corio_run_threads() has SIGINT and SIGTERM */
	m.o.drain_on_stop = 1;
	int err = multi_alloc(&m);
	if (!err)
		err = multi_listen(&m, host, port, to->backlog);
	if (err) {
		multi_free(&m);
		return err;
	}
	if (to->ready)
		to->ready(corio_sock_port(m.lfds[0]), to->ready_arg);
	err = multi_run(&m, to);
	if (m.single && m.lfds[0] >= 0) /* loop 0 never dealt */
		close(m.lfds[0]);
	multi_free(&m);
	return err;
}

int corio_serve_threads(const char *host, const char *port, corio_fn handler,
			const corio_serve_options *o, const corio_serve_threads_options *to)
{
	return corio__serve_threads(host, port, handler, o, to, NULL);
}
