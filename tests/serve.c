/* SPDX-License-Identifier: MIT */
/*
 * tests/serve.c - corio_serve(): a thousand clients pushing a mebibyte
 * each through an echo server in another thread (checksums compared), peer
 * resets that reach only their handler, accept running out of descriptors
 * (RLIMIT_NOFILE lowered) and recovering, the connection limit, graceful
 * stop by call (grace, then cancel) and by signal, cancellation of the
 * serving task, slowloris timeouts, Unix-socket servers.
 */
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static void port_of(int fd, char *buf)
{
	int port = corio_sock_port(fd);
	cr_assert_gt(port, 0);
	snprintf(buf, 16, "%d", port);
}

/* The echo handler: everything read is written back; at end of stream the
 * server closes the stream, flushing what is left. */
static void *echo_handler(void *arg)
{
	corio_conn *c = arg;
	char buf[16384];
	ssize_t n;
	while ((n = corio_stream_read(c->stream, buf, sizeof(buf))) > 0)
		if (corio_stream_write(c->stream, buf, (size_t)n) < 0)
			break;
	return NULL;
}

/* A server on its own loop in its own thread: the clients run on the
 * test's loop, so both cores work and nothing is shared by accident. */
struct srv_thread {
	int lfd;
	corio_fn handler;
	corio_serve_options o;
	pthread_t th;
	corio_loop *loop;
	corio_server *srv;
	atomic_int ready;
	int res;
	corio_serve_stats st;
};

static void *srv_task(void *arg)
{
	struct srv_thread *t = arg;
	cr_assert_eq(corio_server_new(&t->srv, t->lfd, t->handler, &t->o), 0);
	atomic_store(&t->ready, 1);
	t->res = corio_server_run(t->srv);
	corio_server_stats(t->srv, &t->st);
	corio_server_free(t->srv);
	return NULL;
}

static void *srv_thread_main(void *arg)
{
	struct srv_thread *t = arg;
	cr_assert_eq(corio_loop_new(&t->loop, NULL), 0);
	corio_task *task;
	cr_assert_eq(corio_spawn_ex(t->loop, &task, srv_task, t, NULL), 0);
	cr_assert_eq(corio_loop_run(t->loop), 0);
	cr_assert_eq(corio_join(task, NULL), 0);
	cr_assert_eq(corio_loop_free(t->loop), 0);
	return NULL;
}

static void srv_start(struct srv_thread *t)
{
	cr_assert_eq(pthread_create(&t->th, NULL, srv_thread_main, t), 0);
	while (!atomic_load(&t->ready))
		usleep(1000);
}

static void stop_cb(void *arg)
{
	corio_server_stop(arg);
}

static void srv_stop(struct srv_thread *t)
{
	cr_assert_eq(corio_call_threadsafe(t->loop, stop_cb, t->srv), 0);
	cr_assert_eq(pthread_join(t->th, NULL), 0);
}

/* ---- a thousand clients, a mebibyte each ------------------------------------ */

/* FNV-style hash over 64-bit words, fed in pieces of any size. */
struct sum {
	uint64_t h, carry;
	unsigned ncarry;
	uint64_t bytes;
};

static void sum_add(struct sum *s, const unsigned char *p, size_t n)
{
	s->bytes += n;
	while (n && s->ncarry) {
		s->carry |= (uint64_t)*p++ << (8 * s->ncarry);
		n--;
		if (++s->ncarry == 8) {
			s->h = (s->h ^ s->carry) * 0x100000001b3ull;
			s->carry = s->ncarry = 0;
		}
	}
	for (; n >= 8; n -= 8, p += 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		s->h = (s->h ^ w) * 0x100000001b3ull;
	}
	while (n--) {
		s->carry |= (uint64_t)*p++ << (8 * s->ncarry);
		s->ncarry++;
	}
}

struct client {
	const char *port;
	uint64_t seed;
	size_t total;
	corio_stream *s;
	struct sum sent, got;
	int err;
};

static void *client_writer(void *arg)
{
	struct client *c = arg;
	uint64_t x = c->seed, buf[1024];
	for (size_t done = 0; done < c->total; done += sizeof(buf)) {
		for (size_t i = 0; i < 1024; i++) {
			x += 0x9e3779b97f4a7c15ull;
			buf[i] = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
		}
		sum_add(&c->sent, (unsigned char *)buf, sizeof(buf));
		if (corio_stream_write(c->s, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
			c->err = -EIO;
			return NULL;
		}
	}
	c->err = corio_stream_shutdown(c->s); /* half-close: the echo goes on */
	return NULL;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	int fd = corio_tcp_connect("127.0.0.1", c->port);
	cr_assert_geq(fd, 0, "connect: %s", corio_strerror(fd));
	cr_assert_eq(corio_stream_new(&c->s, fd, NULL), 0);
	corio_task *w;
	cr_assert_eq(corio_spawn(&w, client_writer, c), 0);
	unsigned char buf[16384];
	ssize_t n;
	while ((n = corio_stream_read(c->s, buf, sizeof(buf))) > 0)
		sum_add(&c->got, buf, (size_t)n);
	cr_assert_eq(n, 0, "read: %s", corio_strerror((int)n));
	cr_assert_eq(corio_join(w, NULL), 0);
	corio_stream_close(c->s);
	return NULL;
}

struct echo_case {
	int clients;
	size_t bytes;
	char port[16];
};

static void *echo_clients(void *arg)
{
	struct echo_case *e = arg;
	struct client *cs = calloc((size_t)e->clients, sizeof(*cs));
	corio_task **ts = calloc((size_t)e->clients, sizeof(*ts));
	for (int i = 0; i < e->clients; i++) {
		cs[i] = (struct client){.port = e->port, .seed = (uint64_t)i * 7919 + 1,
					.total = e->bytes};
		cr_assert_eq(corio_spawn(&ts[i], client_main, &cs[i]), 0);
	}
	for (int i = 0; i < e->clients; i++) {
		cr_assert_eq(corio_join(ts[i], NULL), 0);
		cr_assert_eq(cs[i].err, 0, "client %d: %s", i, corio_strerror(cs[i].err));
		cr_assert_eq(cs[i].got.bytes, cs[i].sent.bytes, "client %d", i);
		cr_assert_eq(cs[i].got.h, cs[i].sent.h, "client %d: checksums differ", i);
	}
	free(cs);
	free(ts);
	return NULL;
}

static void run_echo(int clients, size_t bytes)
{
	struct srv_thread t = {.handler = echo_handler};
	t.lfd = corio_tcp_listen("127.0.0.1", "0", 4096, 0);
	cr_assert_geq(t.lfd, 0);
	struct echo_case e = {.clients = clients, .bytes = bytes};
	port_of(t.lfd, e.port);
	srv_start(&t);
	uint64_t t0 = t_clock();
	t_run(echo_clients, &e, NULL);
	uint64_t ms = (t_clock() - t0) / MS;
	srv_stop(&t);
	cr_assert_eq(t.res, 0);
	cr_assert_eq(t.st.accepted, (uint64_t)clients);
	cr_assert_eq(t.st.cancelled, 0);
	cr_log_info("%d clients x %zu bytes echoed in %llu ms", clients, bytes,
		    (unsigned long long)ms);
	close(t.lfd);
}

Test(serve, thousand_clients_a_mebibyte_each_checksums_equal, .timeout = 120)
{
	run_echo(1000, 1 << 20);
}

Test(serve, plain_path_hundred_clients_a_mebibyte_each, .timeout = 60)
{
	setenv("CORIO_NET_PLAIN", "1", 1);
	run_echo(100, 1 << 20);
}

/* ---- servers on the test's own loop --------------------------------------- */

/* What the handlers below saw. */
struct seen {
	int active, peak, done;
	int errors[64];
	int nerrors;
	int stubborn;         /* handlers that ignore a stop */
	corio_server *srv;
};

static void note_error(struct seen *s, int err)
{
	if (s->nerrors < 64)
		s->errors[s->nerrors++] = err;
}

/* Echo, and record how the connection ended. */
static void *recording_echo(void *arg)
{
	corio_conn *c = arg;
	struct seen *s = c->arg;
	if (++s->active > s->peak)
		s->peak = s->active;
	char buf[4096];
	ssize_t n;
	while ((n = corio_stream_read(c->stream, buf, sizeof(buf))) > 0) {
		ssize_t w = corio_stream_write(c->stream, buf, (size_t)n);
		if (w < 0) {
			n = w;
			break;
		}
		if ((w = corio_stream_flush(c->stream)) < 0) {
			n = w;
			break;
		}
	}
	if (n < 0)
		note_error(s, (int)n);
	s->active--;
	s->done++;
	return NULL;
}

struct local {
	int lfd;
	corio_fn handler;
	corio_serve_options o;
	corio_server *srv;
	int res;
	corio_serve_stats st;
};

static void *local_server(void *arg)
{
	struct local *l = arg;
	l->res = corio_server_run(l->srv);
	corio_server_stats(l->srv, &l->st);
	return NULL;
}

static corio_task *local_start(struct local *l, char *port)
{
	l->lfd = corio_tcp_listen("127.0.0.1", "0", 64, 0);
	cr_assert_geq(l->lfd, 0);
	port_of(l->lfd, port);
	cr_assert_eq(corio_server_new(&l->srv, l->lfd, l->handler, &l->o), 0);
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, local_server, l), 0);
	return t;
}

static void local_end(struct local *l, corio_task *t)
{
	corio_server_stop(l->srv);
	cr_assert_eq(corio_join(t, NULL), 0);
	corio_server_free(l->srv);
	corio_close(l->lfd);
}

/* Connect, send @msg, expect it back. */
static int ping(const char *port, const char *msg)
{
	int fd = corio_tcp_connect("127.0.0.1", port);
	if (fd < 0)
		return fd;
	size_t n = strlen(msg);
	char buf[128];
	if (corio_send_all(fd, msg, n, 0) != (ssize_t)n || corio_recv_all(fd, buf, n, 0) != (ssize_t)n ||
	    memcmp(buf, msg, n)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

static void hard_reset(int fd)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void *reset_main(void *arg)
{
	(void)arg;
	struct seen seen = {0};
	char port[16];
	struct local l = {.handler = recording_echo, .o = {.arg = &seen}};
	corio_task *t = local_start(&l, port);
	int keep = ping(port, "a bystander");
	cr_assert_geq(keep, 0);
	/* a client that sends, then resets in the middle of the echo */
	for (int i = 0; i < 8; i++) {
		int fd = ping(port, "about to vanish");
		cr_assert_geq(fd, 0);
		static char junk[256 * 1024];
		cr_assert_eq(corio_send_all(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
		hard_reset(fd);
	}
	while (seen.done < 8)
		cr_assert_eq(corio_sleep(1 * MS), 0);
	cr_assert_eq(seen.nerrors, 8);
	for (int i = 0; i < seen.nerrors; i++)
		cr_assert(seen.errors[i] == -ECONNRESET || seen.errors[i] == -EPIPE,
			  "handler %d saw %s", i, corio_strerror(seen.errors[i]));
	/* nothing else broke: the bystander and newcomers are served */
	char buf[16];
	cr_assert_eq(corio_send_all(keep, "still here", 10, 0), 10);
	cr_assert_eq(corio_recv_all(keep, buf, 10, 0), 10);
	int fd = ping(port, "newcomer");
	cr_assert_geq(fd, 0);
	close(fd);
	close(keep);
	local_end(&l, t);
	cr_assert_eq(l.res, 0);
	return NULL;
}

Test(serve, peer_reset_reaches_only_its_handler)
{
	t_run(reset_main, NULL, NULL);
}

/* ---- out of descriptors ------------------------------------------------------ */

struct holder {
	int fd;
	const char *port;
	int ok;
};

/* A client on a socket made before the limit was lowered: connect, get
 * the echo, hold the connection a while, hang up. */
static void *holding_client(void *arg)
{
	struct holder *h = arg;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(h->port))};
	sin.sin_addr.s_addr = htonl(0x7f000001);
	if (corio_connect(h->fd, (struct sockaddr *)&sin, sizeof(sin)))
		return NULL;
	char buf[5];
	if (corio_send_all(h->fd, "ping\n", 5, 0) == 5 && corio_recv_all(h->fd, buf, 5, 0) == 5 &&
	    !memcmp(buf, "ping\n", 5))
		h->ok = 1;
	corio_sleep(30 * MS);
	close(h->fd);
	return NULL;
}

static void *emfile_main(void *arg)
{
	(void)arg;
	enum { N = 12, ROOM = 3 };
	struct seen seen = {0};
	char port[16];
	struct local l = {.handler = recording_echo, .o = {.arg = &seen}};
	corio_task *srv = local_start(&l, port);
	struct holder hs[N];
	int top = 0;
	for (int i = 0; i < N; i++) {
		hs[i] = (struct holder){.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
					.port = port};
		cr_assert_geq(hs[i].fd, 0);
		top = hs[i].fd > top ? hs[i].fd : top;
	}
	/* room for ROOM accepted sockets, no more */
	struct rlimit old, low;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)(top + 1 + ROOM);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	corio_task *ts[N];
	for (int i = 0; i < N; i++)
		cr_assert_eq(corio_spawn(&ts[i], holding_client, &hs[i]), 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(corio_join(ts[i], NULL), 0);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	for (int i = 0; i < N; i++)
		cr_assert(hs[i].ok, "client %d was served", i);
	local_end(&l, srv);
	cr_assert_eq(l.res, 0);
	cr_assert_eq(l.st.accepted, N);
	cr_assert_geq(l.st.accept_errors, 1, "accept did run out of descriptors");
	return NULL;
}

Test(serve, accept_survives_emfile_and_resumes_when_fds_free_up)
{
	t_run(emfile_main, NULL, NULL);
}

Test(serve, plain_accept_survives_emfile)
{
	setenv("CORIO_NET_PLAIN", "1", 1);
	t_run(emfile_main, NULL, NULL);
}

/* ---- the connection limit ----------------------------------------------------- */

static void *limit_main(void *arg)
{
	(void)arg;
	enum { N = 10, MAX = 4 };
	struct seen seen = {0};
	char port[16];
	struct local l = {.handler = recording_echo, .o = {.arg = &seen, .max_conns = MAX}};
	corio_task *srv = local_start(&l, port);
	struct holder hs[N];
	corio_task *ts[N];
	for (int i = 0; i < N; i++) {
		hs[i] = (struct holder){.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
					.port = port};
		cr_assert_eq(corio_spawn(&ts[i], holding_client, &hs[i]), 0);
	}
	for (int i = 0; i < N; i++)
		cr_assert_eq(corio_join(ts[i], NULL), 0);
	for (int i = 0; i < N; i++)
		cr_assert(hs[i].ok, "client %d was served", i);
	local_end(&l, srv);
	cr_assert_eq(seen.peak, MAX, "at most %d handlers at once, saw %d", MAX, seen.peak);
	cr_assert_eq(l.st.peak, MAX);
	cr_assert_eq(l.st.accepted, N);
	return NULL;
}

Test(serve, accepting_pauses_at_the_connection_limit)
{
	t_run(limit_main, NULL, NULL);
}

/* ---- stopping ------------------------------------------------------------- */

/* Handlers of two kinds: polite ones finish their current exchange and
 * leave once the server is stopping; stubborn ones wait for more input
 * forever and must be cancelled when the grace period runs out. */
static void *mixed_handler(void *arg)
{
	corio_conn *c = arg;
	struct seen *s = c->arg;
	const char *line;
	s->active++;
	for (;;) {
		ssize_t n = corio_stream_readline(c->stream, &line);
		if (n <= 0) {
			note_error(s, (int)n);
			break;
		}
		bool stubborn = line[0] == 's';
		if (corio_stream_write(c->stream, line, (size_t)n) < 0 || corio_stream_flush(c->stream))
			break;
		if (!stubborn && corio_server_stopping(c->server))
			break; /* polite: done after this exchange */
	}
	s->active--;
	s->done++;
	return NULL;
}

static int line_client(const char *port, const char *line)
{
	int fd = corio_tcp_connect("127.0.0.1", port);
	cr_assert_geq(fd, 0);
	size_t n = strlen(line);
	char buf[64];
	cr_assert_eq(corio_send_all(fd, line, n, 0), (ssize_t)n);
	cr_assert_eq(corio_recv_all(fd, buf, n, 0), (ssize_t)n);
	return fd;
}

static void *graceful_main(void *arg)
{
	(void)arg;
	struct seen seen = {0};
	char port[16];
	/* a grace long enough for the polite round trips below even on a
	 * loaded machine: they must end inside it */
	struct local l = {.handler = mixed_handler,
			  .o = {.arg = &seen, .grace_ns = 1000 * MS}};
	corio_task *srv = local_start(&l, port);
	int polite[3], stubborn[2];
	for (int i = 0; i < 3; i++)
		polite[i] = line_client(port, "polite\n");
	for (int i = 0; i < 2; i++)
		stubborn[i] = line_client(port, "stubborn\n");
	cr_assert_eq(seen.active, 5);
	uint64_t t0 = t_clock();
	corio_server_stop(l.srv);
	cr_assert(corio_server_stopping(l.srv));
	/* during the grace period the polite ones finish their exchange */
	char buf[16];
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(corio_send_all(polite[i], "polite\n", 7, 0), 7);
		cr_assert_eq(corio_recv_all(polite[i], buf, 7, 0), 7, "served during the grace");
		cr_assert_eq(corio_recv(polite[i], buf, 1, 0), 0, "then closed");
	}
	/* no new connection is served once stopping */
	int late = corio_tcp_connect("127.0.0.1", port);
	cr_assert_eq(corio_join(srv, NULL), 0);
	uint64_t took = t_clock() - t0;
	cr_assert_eq(l.res, 0);
	cr_assert(took >= 990 * MS && took < 3000 * MS, "stop took %llu ms",
		  (unsigned long long)(took / MS));
	cr_assert_eq(l.st.cancelled, 2, "the stubborn ones were cancelled");
	cr_assert_eq(l.st.accepted, 5);
	cr_assert_eq(seen.active, 0);
	cr_assert_eq(seen.done, 5);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(corio_recv(stubborn[i], buf, 1, 0), 0, "closed by the server");
		close(stubborn[i]);
	}
	for (int i = 0; i < 3; i++)
		close(polite[i]);
	if (late >= 0)
		close(late);
	corio_server_free(l.srv);
	corio_close(l.lfd);
	return NULL;
}

Test(serve, graceful_stop_with_live_connections)
{
	t_run(graceful_main, NULL, NULL);
}

static void *raise_later(void *arg)
{
	corio_sleep(30 * MS);
	raise(*(int *)arg); /* to this thread, where the server blocked it */
	return NULL;
}

static void *signal_main(void *arg)
{
	(void)arg;
	struct seen seen = {0};
	int lfd = corio_tcp_listen("127.0.0.1", "0", 16, 0);
	char port[16];
	port_of(lfd, port);
	int sig = SIGUSR1;
	corio_serve_options o = {.arg = &seen, .stop_signals = (const int[]){SIGUSR1, SIGUSR2, 0},
				 .grace_ns = 100 * MS};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, raise_later, &sig), 0);
	uint64_t t0 = t_clock();
	cr_assert_eq(corio_serve(lfd, recording_echo, &o), 0);
	cr_assert_lt(t_clock() - t0, 2000 * MS);
	cr_assert_eq(corio_join(t, NULL), 0);
	corio_close(lfd);
	return NULL;
}

Test(serve, a_signal_stops_the_server)
{
	t_run(signal_main, NULL, NULL);
}

static void *serve_task(void *arg)
{
	struct local *l = arg;
	l->res = corio_serve(l->lfd, l->handler, &l->o);
	return NULL;
}

static void *cancel_main(void *arg)
{
	(void)arg;
	struct seen seen = {0};
	struct local l = {.handler = mixed_handler, .o = {.arg = &seen}};
	l.lfd = corio_tcp_listen("127.0.0.1", "0", 16, 0);
	char port[16];
	port_of(l.lfd, port);
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, serve_task, &l), 0);
	int fds[4];
	for (int i = 0; i < 4; i++)
		fds[i] = line_client(port, "stubborn\n");
	corio_cancel(t);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(l.res, -ECANCELED, "serve ran to its end and said why");
	cr_assert_eq(seen.active, 0, "every handler ended");
	cr_assert_eq(seen.done, 4);
	for (int i = 0; i < 4; i++) {
		char c;
		cr_assert_eq(corio_recv(fds[i], &c, 1, 0), 0);
		close(fds[i]);
	}
	corio_close(l.lfd);
	return NULL;
}

Test(serve, cancelling_the_serving_task_ends_every_connection)
{
	t_run(cancel_main, NULL, NULL);
}

static void *stop_first_main(void *arg)
{
	(void)arg;
	int lfd = corio_tcp_listen("127.0.0.1", "0", 16, 0);
	corio_server *s;
	cr_assert_eq(corio_server_new(&s, lfd, echo_handler, NULL), 0);
	corio_server_stop(s);
	cr_assert_eq(corio_server_run(s), 0);
	cr_assert_eq(corio_server_run(s), -EBUSY);
	corio_server_free(s);
	cr_assert_eq(corio_serve(lfd, NULL, NULL), -EINVAL);
	cr_assert_eq(corio_serve(-1, echo_handler, NULL), -EINVAL);
	close(lfd);
	return NULL;
}

Test(serve, stop_before_run_returns_at_once)
{
	t_run(stop_first_main, NULL, NULL);
}

static void *not_listening_main(void *arg)
{
	(void)arg;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(corio_serve(fd, echo_handler, NULL), -EINVAL);
	close(fd);
	return NULL;
}

Test(serve, a_socket_that_does_not_listen_is_an_error)
{
	t_run(not_listening_main, NULL, NULL);
}

/* ---- timeouts and Unix sockets -------------------------------------------- */

static void *slow_client(void *arg)
{
	int fd = *(int *)arg;
	/* a byte at a time, never a whole line */
	for (int i = 0; i < 50; i++)
		if (corio_send(fd, "z", 1, 0) != 1 || corio_sleep(10 * MS))
			break;
	return NULL;
}

static void *slowloris_main(void *arg)
{
	(void)arg;
	struct seen seen = {0};
	char port[16];
	struct local l = {.handler = mixed_handler,
			  .o = {.arg = &seen, .read_timeout_ns = 100 * MS}};
	corio_task *srv = local_start(&l, port);
	int fd = corio_tcp_connect("127.0.0.1", port);
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, slow_client, &fd), 0);
	while (!seen.done)
		cr_assert_eq(corio_sleep(5 * MS), 0);
	cr_assert_eq(seen.nerrors, 1);
	cr_assert_eq(seen.errors[0], -ETIMEDOUT);
	corio_cancel(t);
	corio_join(t, NULL);
	close(fd);
	local_end(&l, srv);
	return NULL;
}

Test(serve, slowloris_clients_time_out)
{
	t_run(slowloris_main, NULL, NULL);
}

static void *unix_main(void *arg)
{
	const char *path = arg;
	struct seen seen = {0};
	struct local l = {.handler = recording_echo, .o = {.arg = &seen}};
	l.lfd = corio_unix_listen(path, 16);
	cr_assert_geq(l.lfd, 0);
	cr_assert_eq(corio_server_new(&l.srv, l.lfd, l.handler, &l.o), 0);
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, local_server, &l), 0);
	for (int i = 0; i < 20; i++) {
		int fd = corio_unix_connect(path);
		cr_assert_geq(fd, 0);
		char buf[6];
		cr_assert_eq(corio_send_all(fd, "unix!\n", 6, 0), 6);
		cr_assert_eq(corio_recv_all(fd, buf, 6, 0), 6);
		cr_assert_eq(memcmp(buf, "unix!\n", 6), 0);
		close(fd);
	}
	local_end(&l, t);
	cr_assert_eq(l.st.accepted, 20);
	return NULL;
}

Test(serve, serves_a_unix_socket)
{
	char *dir = t_tmpdir();
	char path[4200];
	snprintf(path, sizeof(path), "%s/srv.sock", dir);
	t_run(unix_main, path, NULL);
	t_rmtree(dir);
	free(dir);
}

/* A stop signal sent by another process while the server is busy must
 * stop it, every time: one signal path for the whole library (issue #11:
 * serve.c's own signalfd read by the ring lost signals under load). */
struct busy {
	char port[16];
	bool stop;
	unsigned long round_trips;
};

static void *busy_client(void *arg)
{
	struct busy *b = arg;
	int fd = corio_tcp_connect("127.0.0.1", b->port);
	if (fd < 0)
		return NULL;
	char buf[512];
	memset(buf, 'x', sizeof(buf));
	while (!b->stop) {
		if (corio_send_all(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			break;
		if (corio_recv_all(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			break;
		b->round_trips++;
	}
	corio_close(fd);
	return NULL;
}

static void *kill_round_main(void *arg)
{
	(void)arg;
	for (int round = 0; round < 10; round++) {
		struct seen seen = {0};
		struct busy b = {0};
		struct local l = {.handler = recording_echo,
				  .o = {.arg = &seen, .stop_signals = (const int[]){SIGTERM, 0},
					.grace_ns = 200 * MS}};
		l.lfd = corio_tcp_listen("127.0.0.1", "0", 64, 0);
		cr_assert_geq(l.lfd, 0);
		port_of(l.lfd, b.port);
		corio_task *srv, *cl[8];
		cr_assert_eq(corio_spawn(&srv, serve_task, &l), 0);
		for (int i = 0; i < 8; i++)
			cr_assert_eq(corio_spawn(&cl[i], busy_client, &b), 0);
		while (b.round_trips < 200)
			corio_yield(); /* busy now */
		char pid[16];
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		char *argv[] = {"kill", "-TERM", pid, NULL};
		corio_process *p;
		cr_assert_eq(corio_process_spawn(&p, argv, NULL), 0);
		int status;
		cr_assert_eq(corio_process_wait(p, &status), 0);
		corio_process_free(p);
		cr_assert_eq(status, 0, "kill(1) failed");
		corio_scope sc;
		corio_timeout_push(&sc, corio_now() + 5000 * MS);
		int err = corio_join(srv, NULL);
		corio_timeout_pop(&sc);
		b.stop = true;
		if (err) {
			corio_cancel(srv);
			corio_join(srv, NULL);
		}
		for (int i = 0; i < 8; i++)
			corio_join(cl[i], NULL);
		corio_close(l.lfd);
		cr_assert_eq(err, 0, "round %d: the server did not stop on SIGTERM", round);
		cr_assert_eq(l.res, 0, "round %d: serve returned %d", round, l.res);
	}
	return NULL;
}

Test(serve, a_signal_from_another_process_stops_a_busy_server_every_time)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	cr_assert_eq(corio_signal_block(&set), 0); /* before any thread starts */
	t_run(kill_round_main, NULL, NULL);
}
