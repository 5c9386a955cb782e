/* SPDX-License-Identifier: MIT */
/*
 * tests/net.c - sockets as ops on loopback: TCP over IPv4, IPv6 and a
 * dual-stack listener, UDP, Unix stream and datagram sockets, refused and
 * timed-out connects, multishot accept (queued connections, cancel, close
 * with connections queued) and the same through the plain path
 * (CORIO_NET_PLAIN=1), msg forms, half-close and bad arguments.
 */
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static char *port_str(int fd, char *buf)
{
	int port = corio_sock_port(fd);
	cr_assert_gt(port, 0, "corio_sock_port: %d", port);
	sprintf(buf, "%d", port);
	return buf;
}

struct echo_once {
	int lfd;
	int peer_family;
};

/* Accept one connection, echo until EOF, close. */
static void *echo_once(void *arg)
{
	struct echo_once *e = arg;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = corio_accept(e->lfd, (struct sockaddr *)&ss, &len);
	cr_assert_geq(fd, 0, "accept: %s", corio_strerror(fd));
	e->peer_family = ss.ss_family;
	char buf[4096];
	ssize_t n;
	while ((n = corio_recv(fd, buf, sizeof(buf), 0)) > 0)
		cr_assert_eq(corio_send_all(fd, buf, (size_t)n, 0), n);
	cr_assert_eq(n, 0, "recv: %s", corio_strerror((int)n));
	corio_close(fd);
	return NULL;
}

/* Connect to @host:@port, send a message, read it back, close. */
static void round_trip(const char *host, const char *port)
{
	int fd = corio_tcp_connect(host, port);
	cr_assert_geq(fd, 0, "connect %s: %s", host, corio_strerror(fd));
	const char msg[] = "hello over loopback";
	cr_assert_eq(corio_send_all(fd, msg, sizeof(msg), 0), (ssize_t)sizeof(msg));
	char buf[64];
	cr_assert_eq(corio_recv_all(fd, buf, sizeof(msg), 0), (ssize_t)sizeof(msg));
	cr_assert_eq(memcmp(buf, msg, sizeof(msg)), 0);
	cr_assert_eq(corio_shutdown(fd, SHUT_WR), 0);
	cr_assert_eq(corio_recv(fd, buf, sizeof(buf), 0), 0, "EOF after the echo");
	corio_close(fd);
}

struct tcp_case {
	const char *listen_host, *connect_host;
	int family;
};

static void *tcp_main(void *arg)
{
	struct tcp_case *c = arg;
	int lfd = corio_tcp_listen(c->listen_host, "0", 16, 0);
	cr_assert_geq(lfd, 0, "listen: %s", corio_strerror(lfd));
	struct echo_once e = {.lfd = lfd};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, echo_once, &e), 0);
	char port[16];
	round_trip(c->connect_host, port_str(lfd, port));
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert_eq(e.peer_family, c->family);
	cr_assert_eq(corio_close(lfd), 0);
	return NULL;
}

Test(net, tcp_ipv4_round_trip)
{
	struct tcp_case c = {"127.0.0.1", "127.0.0.1", AF_INET};
	t_run(tcp_main, &c, NULL);
}

Test(net, tcp_ipv6_loopback_round_trip)
{
	struct tcp_case c = {"::1", "::1", AF_INET6};
	t_run(tcp_main, &c, NULL);
}

Test(net, dual_stack_listener_takes_ipv4)
{
	/* NULL host: "::" with IPV6_V6ONLY off, so IPv4 clients arrive as
	 * v4-mapped IPv6 peers */
	struct tcp_case c = {NULL, "127.0.0.1", AF_INET6};
	t_run(tcp_main, &c, NULL);
}

Test(net, dual_stack_listener_takes_ipv6)
{
	struct tcp_case c = {NULL, "::1", AF_INET6};
	t_run(tcp_main, &c, NULL);
}

Test(net, localhost_connects_over_loopback)
{
	struct tcp_case c = {"localhost", "localhost", AF_INET};
	t_run(tcp_main, &c, NULL);
}

Test(net, plain_path_tcp_round_trip)
{
	setenv("CORIO_NET_PLAIN", "1", 1); /* no multishot accept */
	struct tcp_case c = {"127.0.0.1", "127.0.0.1", AF_INET};
	t_run(tcp_main, &c, NULL);
}

/* ---- connect failures --------------------------------------------------- */

static void *refused_main(void *arg)
{
	(void)arg;
	/* a port that was free a moment ago and has no listener now */
	int lfd = corio_tcp_listen("127.0.0.1", "0", 1, 0);
	char port[16];
	port_str(lfd, port);
	corio_close(lfd);
	cr_assert_eq(corio_tcp_connect("127.0.0.1", port), -ECONNREFUSED);
	cr_assert_eq(corio_tcp_connect("::1", port), -ECONNREFUSED);
	return NULL;
}

Test(net, connect_to_closed_port_is_refused)
{
	t_run(refused_main, NULL, NULL);
}

static void *blackhole_main(void *arg)
{
	(void)arg;
	/* A listener that never accepts, backlog 0: once its queue holds a
	 * connection or two, the kernel drops further SYNs silently. */
	int lfd = corio_tcp_listen("127.0.0.1", "0", 1, 0);
	cr_assert_eq(listen(lfd, 0), 0);
	char port[16];
	port_str(lfd, port);
	int fill[8], nfill = 0, res = 0;
	uint64_t t0 = 0;
	while (nfill < 8) {
		corio_scope sc;
		t0 = t_clock();
		corio_timeout_push(&sc, corio_now() + 300 * MS);
		res = corio_tcp_connect("127.0.0.1", port);
		corio_timeout_pop(&sc);
		if (res < 0)
			break;
		fill[nfill++] = res;
	}
	cr_assert_eq(res, -ETIMEDOUT, "got %d (%s) after %d connects", res, corio_strerror(res),
		     nfill);
	uint64_t took = t_clock() - t0;
	cr_assert(took >= 250 * MS && took < 3000 * MS, "the deadline decided: %llu ms",
		  (unsigned long long)(took / MS));
	while (nfill)
		corio_close(fill[--nfill]);
	corio_close(lfd);
	return NULL;
}

Test(net, connect_to_blackhole_times_out_under_a_scope)
{
	t_run(blackhole_main, NULL, NULL);
}

static void *bad_host_main(void *arg)
{
	(void)arg;
	/* names go through the loop's resolver: with no server configured a
	 * real name fails at once with a corio name error, offline */
	cr_assert_eq(corio_dns_set_servers(corio_current_loop(), ""), 0);
	int err = corio_tcp_connect("example.invalid", "80");
	cr_assert_lt(err, -4096, "a name error, got %d (%s)", err, corio_strerror(err));
	cr_assert_eq(corio_tcp_connect(NULL, "80"), -EINVAL);
	cr_assert_eq(corio_tcp_connect("127.0.0.1", NULL), -EINVAL);
	cr_assert_eq(corio_tcp_listen("not-an-ip", "0", 1, 0), -EINVAL);
	cr_assert_eq(corio_tcp_listen(NULL, NULL, 1, 0), -EINVAL);
	return NULL;
}

Test(net, bad_hosts_and_unresolvable_names_give_clear_errors)
{
	t_run(bad_host_main, NULL, NULL);
}

/* ---- UDP ---------------------------------------------------------------- */

struct udp_case {
	const char *host;
	int rounds;
};

static void *udp_peer(void *arg)
{
	int fd = *(int *)arg;
	char buf[2048];
	for (;;) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		ssize_t n = corio_recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
		cr_assert_geq(n, 0, "recvfrom: %s", corio_strerror((int)n));
		if (n == 4 && !memcmp(buf, "quit", 4))
			return NULL;
		for (ssize_t i = 0; i < n; i++)
			buf[i] = (char)(buf[i] ^ 0x20);
		cr_assert_eq(corio_sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len), n);
	}
}

static void *udp_main(void *arg)
{
	struct udp_case *c = arg;
	int srv = corio_udp_bind(c->host, "0");
	cr_assert_geq(srv, 0, "udp bind: %s", corio_strerror(srv));
	int cli = corio_udp_bind(c->host, "0");
	cr_assert_geq(cli, 0);
	struct sockaddr_storage to;
	socklen_t tolen = sizeof(to);
	cr_assert_eq(getsockname(srv, (struct sockaddr *)&to, &tolen), 0);
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, udp_peer, &srv), 0);
	for (int i = 0; i < c->rounds; i++) {
		char msg[64], back[64];
		int n = snprintf(msg, sizeof(msg), "datagram number %d", i);
		cr_assert_eq(corio_sendto(cli, msg, (size_t)n, 0, (struct sockaddr *)&to, tolen), n);
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		cr_assert_eq(corio_recvfrom(cli, back, sizeof(back), 0, (struct sockaddr *)&from, &flen),
			     n);
		cr_assert_eq(flen, tolen, "the reply comes from the server's address");
		for (int k = 0; k < n; k++)
			cr_assert_eq(back[k], (char)(msg[k] ^ 0x20));
	}
	cr_assert_eq(corio_sendto(cli, "quit", 4, 0, (struct sockaddr *)&to, tolen), 4);
	cr_assert_eq(corio_join(t, NULL), 0);
	corio_close(srv);
	corio_close(cli);
	return NULL;
}

Test(net, udp_round_trips_ipv4)
{
	struct udp_case c = {"127.0.0.1", 200};
	t_run(udp_main, &c, NULL);
}

Test(net, udp_round_trips_ipv6)
{
	struct udp_case c = {"::1", 200};
	t_run(udp_main, &c, NULL);
}

static void *udp_too_big_main(void *arg)
{
	(void)arg;
	int fd = corio_udp_bind("127.0.0.1", "0");
	struct sockaddr_storage to;
	socklen_t len = sizeof(to);
	getsockname(fd, (struct sockaddr *)&to, &len);
	static char big[70000];
	cr_assert_eq(corio_sendto(fd, big, sizeof(big), 0, (struct sockaddr *)&to, len), -EMSGSIZE);
	corio_close(fd);
	return NULL;
}

Test(net, oversized_datagram_is_emsgsize)
{
	t_run(udp_too_big_main, NULL, NULL);
}

/* ---- Unix sockets --------------------------------------------------------- */

struct unix_case {
	char path[200];
};

static void *unix_server(void *arg)
{
	int lfd = *(int *)arg;
	int fd = corio_accept(lfd, NULL, NULL);
	cr_assert_geq(fd, 0);
	char buf[256];
	ssize_t n;
	while ((n = corio_recv(fd, buf, sizeof(buf), 0)) > 0)
		cr_assert_eq(corio_send_all(fd, buf, (size_t)n, 0), n);
	corio_close(fd);
	return NULL;
}

static void *unix_stream_main(void *arg)
{
	struct unix_case *c = arg;
	int lfd = corio_unix_listen(c->path, 8);
	cr_assert_geq(lfd, 0, "unix listen: %s", corio_strerror(lfd));
	cr_assert_eq(corio_unix_listen(c->path, 8), -EADDRINUSE);
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, unix_server, &lfd), 0);
	int fd = corio_unix_connect(c->path);
	cr_assert_geq(fd, 0, "unix connect: %s", corio_strerror(fd));
	for (int i = 0; i < 100; i++) {
		char msg[32], back[32];
		int n = snprintf(msg, sizeof(msg), "unix %d", i);
		cr_assert_eq(corio_send_all(fd, msg, (size_t)n, 0), n);
		cr_assert_eq(corio_recv_all(fd, back, (size_t)n, 0), n);
		cr_assert_eq(memcmp(back, msg, (size_t)n), 0);
	}
	corio_close(fd);
	cr_assert_eq(corio_join(t, NULL), 0);
	corio_close(lfd);
	return NULL;
}

Test(net, unix_stream_socket_in_a_directory)
{
	char *dir = t_tmpdir();
	struct unix_case c;
	snprintf(c.path, sizeof(c.path), "%s/sock", dir);
	t_run(unix_stream_main, &c, NULL);
	t_rmtree(dir);
	free(dir);
}

Test(net, unix_stream_socket_abstract)
{
	struct unix_case c;
	snprintf(c.path, sizeof(c.path), "@corio-test-%d", (int)getpid());
	t_run(unix_stream_main, &c, NULL);
}

static void *unix_errors_main(void *arg)
{
	(void)arg;
	char longp[200];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	cr_assert_eq(corio_unix_listen(longp, 1), -ENAMETOOLONG);
	cr_assert_eq(corio_unix_connect("/nonexistent/corio.sock"), -ENOENT);
	return NULL;
}

Test(net, unix_errors)
{
	t_run(unix_errors_main, NULL, NULL);
}

static void *unix_dgram_main(void *arg)
{
	(void)arg;
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
	for (int i = 0; i < 50; i++) {
		char msg[32], back[64];
		int n = snprintf(msg, sizeof(msg), "dgram %d", i);
		cr_assert_eq(corio_send(sv[0], msg, (size_t)n, 0), n);
		/* datagrams keep their boundaries: a big buffer gets one */
		cr_assert_eq(corio_recv(sv[1], back, sizeof(back), 0), n);
		cr_assert_eq(memcmp(back, msg, (size_t)n), 0);
	}
	/* sendmsg gathers, recvmsg scatters */
	char a[] = "gath", b[] = "ered";
	struct iovec out[2] = {{a, 4}, {b, 4}};
	struct msghdr m = {.msg_iov = out, .msg_iovlen = 2};
	cr_assert_eq(corio_sendmsg(sv[1], &m, 0), 8);
	char x[3], y[5];
	struct iovec in[2] = {{x, 3}, {y, 5}};
	struct msghdr r = {.msg_iov = in, .msg_iovlen = 2};
	cr_assert_eq(corio_recvmsg(sv[0], &r, 0), 8);
	cr_assert_eq(memcmp(x, "gat", 3), 0);
	cr_assert_eq(memcmp(y, "hered", 5), 0);
	corio_close(sv[0]);
	corio_close(sv[1]);
	return NULL;
}

Test(net, unix_datagram_round_trips)
{
	t_run(unix_dgram_main, NULL, NULL);
}

/* ---- accept ------------------------------------------------------------- */

struct many {
	int lfd;
	int n;
	int accepted;
	char port[16];
};

static void *acceptor_n(void *arg)
{
	struct many *m = arg;
	for (int i = 0; i < m->n; i++) {
		int fd = corio_accept(m->lfd, NULL, NULL);
		cr_assert_geq(fd, 0, "accept %d: %s", i, corio_strerror(fd));
		char c;
		cr_assert_eq(corio_recv(fd, &c, 1, 0), 1);
		cr_assert_eq(corio_send(fd, &c, 1, 0), 1);
		corio_close(fd);
		m->accepted++;
	}
	return NULL;
}

static void *connector(void *arg)
{
	struct many *m = arg;
	int fd = corio_tcp_connect("127.0.0.1", m->port);
	cr_assert_geq(fd, 0, "connect: %s", corio_strerror(fd));
	char c = 'x';
	cr_assert_eq(corio_send(fd, &c, 1, 0), 1);
	cr_assert_eq(corio_recv(fd, &c, 1, 0), 1);
	corio_close(fd);
	return NULL;
}

static void *many_main(void *arg)
{
	struct many *m = arg;
	m->lfd = corio_tcp_listen("127.0.0.1", "0", 1024, 0);
	port_str(m->lfd, m->port);
	corio_task *acc;
	cr_assert_eq(corio_spawn(&acc, acceptor_n, m), 0);
	corio_task **ts = calloc((size_t)m->n, sizeof(*ts));
	for (int i = 0; i < m->n; i++)
		cr_assert_eq(corio_spawn(&ts[i], connector, m), 0);
	for (int i = 0; i < m->n; i++)
		cr_assert_eq(corio_join(ts[i], NULL), 0);
	free(ts);
	cr_assert_eq(corio_join(acc, NULL), 0);
	cr_assert_eq(m->accepted, m->n);
	corio_close(m->lfd);
	return NULL;
}

Test(net, three_hundred_connections_accepted_one_by_one)
{
	struct many m = {.n = 300};
	t_run(many_main, &m, NULL);
}

Test(net, plain_path_three_hundred_connections)
{
	setenv("CORIO_NET_PLAIN", "1", 1);
	struct many m = {.n = 300};
	t_run(many_main, &m, NULL);
}

struct acc_res {
	int lfd;
	int res;
};

static void *accept_into(void *arg)
{
	struct acc_res *a = arg;
	a->res = corio_accept(a->lfd, NULL, NULL);
	return NULL;
}

static void *cancel_accept_main(void *arg)
{
	(void)arg;
	int lfd = corio_tcp_listen("127.0.0.1", "0", 16, 0);
	char port[16];
	port_str(lfd, port);
	struct acc_res a = {.lfd = lfd, .res = 1};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, accept_into, &a), 0);
	cr_assert_eq(corio_sleep(5 * MS), 0);
	corio_cancel(t);
	cr_assert_eq(corio_join(t, NULL), -ECANCELED);
	cr_assert_eq(a.res, -ECANCELED);
	/* the connection that comes next is not lost to the cancelled task */
	int c = corio_tcp_connect("127.0.0.1", port);
	cr_assert_geq(c, 0);
	int fd = corio_accept(lfd, NULL, NULL);
	cr_assert_geq(fd, 0);
	cr_assert_eq(corio_send(c, "z", 1, 0), 1);
	char z;
	cr_assert_eq(corio_recv(fd, &z, 1, 0), 1);
	cr_assert_eq(z, 'z');
	corio_close(fd);
	corio_close(c);
	corio_close(lfd);
	return NULL;
}

Test(net, cancelled_accept_loses_no_connection)
{
	t_run(cancel_accept_main, NULL, NULL);
}

Test(net, plain_path_cancelled_accept)
{
	setenv("CORIO_NET_PLAIN", "1", 1);
	t_run(cancel_accept_main, NULL, NULL);
}

static void *close_queued_main(void *arg)
{
	(void)arg;
	int lfd = corio_tcp_listen("127.0.0.1", "0", 16, 0);
	char port[16];
	port_str(lfd, port);
	/* accept once to arm the listener, then leave connections queued */
	int c0 = corio_tcp_connect("127.0.0.1", port);
	int a0 = corio_accept(lfd, NULL, NULL);
	cr_assert_geq(a0, 0);
	int cs[4];
	for (int i = 0; i < 4; i++)
		cs[i] = corio_tcp_connect("127.0.0.1", port);
	cr_assert_eq(corio_sleep(20 * MS), 0);
	cr_assert_eq(corio_close(lfd), 0);
	/* closing the listener closed what it had queued: the clients see EOF */
	for (int i = 0; i < 4; i++) {
		char c;
		ssize_t r = corio_recv(cs[i], &c, 1, 0);
		cr_assert(r == 0 || r == -ECONNRESET, "client %d got %zd", i, r);
		corio_close(cs[i]);
	}
	corio_close(a0);
	corio_close(c0);
	return NULL;
}

Test(net, close_of_a_listener_closes_queued_connections)
{
	t_run(close_queued_main, NULL, NULL);
}

static void *close_waiter_main(void *arg)
{
	(void)arg;
	int lfd = corio_tcp_listen("127.0.0.1", "0", 16, 0);
	struct acc_res a = {.lfd = lfd, .res = 1};
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, accept_into, &a), 0);
	cr_assert_eq(corio_sleep(5 * MS), 0);
	corio_close(lfd);
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert(a.res == -EBADF || a.res == -ECANCELED || a.res == -EINVAL,
		  "accept on a closed listener: %d", a.res);
	return NULL;
}

Test(net, close_of_a_listener_wakes_a_waiting_accept)
{
	t_run(close_waiter_main, NULL, NULL);
}

static void *reuseport_main(void *arg)
{
	(void)arg;
	int a = corio_tcp_listen("127.0.0.1", "0", 8, CORIO_LISTEN_REUSEPORT);
	cr_assert_geq(a, 0);
	char port[16];
	port_str(a, port);
	int b = corio_tcp_listen("127.0.0.1", port, 8, CORIO_LISTEN_REUSEPORT);
	cr_assert_geq(b, 0, "second listener on the same port: %s", corio_strerror(b));
	int c = corio_tcp_listen("127.0.0.1", port, 8, 0);
	cr_assert_eq(c, -EADDRINUSE);
	corio_close(a);
	corio_close(b);
	return NULL;
}

Test(net, reuseport_lets_two_listeners_share_a_port)
{
	t_run(reuseport_main, NULL, NULL);
}

static void *not_listening_main(void *arg)
{
	(void)arg;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(corio_accept(fd, NULL, NULL), -EINVAL);
	corio_close(fd);
	cr_assert_eq(corio_accept(-1, NULL, NULL), -EBADF);
	int p[2];
	t_pipe(p);
	int r = corio_accept(p[0], NULL, NULL);
	cr_assert(r == -ENOTSOCK, "accept on a pipe: %d", r);
	corio_close(p[0]);
	corio_close(p[1]);
	char c;
	cr_assert_eq(corio_recv(-1, &c, 1, 0), -EBADF);
	cr_assert_eq(corio_send(3, NULL, 1, 0), -EINVAL);
	cr_assert_eq(corio_connect(-1, NULL, 0), -EINVAL);
	return NULL;
}

Test(net, bad_arguments_give_clear_errors)
{
	t_run(not_listening_main, NULL, NULL);
}

static void *outside(void *arg)
{
	(void)arg;
	return NULL;
}

Test(net, blocking_calls_need_a_task)
{
	char c;
	cr_assert_eq(corio_recv(0, &c, 1, 0), -EPERM);
	cr_assert_eq(corio_accept(0, NULL, NULL), -EPERM);
	t_run(outside, NULL, NULL);
}

static void *reused_fd_main(void *arg)
{
	(void)arg;
	int a = corio_tcp_listen("127.0.0.1", "0", 16, 0);
	char pa[16], pb[16];
	port_str(a, pa);
	/* arm a's multishot accept, then close it (corio_close: the one close
	 * path, which lets the listener record go) */
	int c0 = corio_tcp_connect("127.0.0.1", pa);
	int s0 = corio_accept(a, NULL, NULL);
	cr_assert_geq(s0, 0);
	corio_close(a);
	/* the next listener gets the same number */
	int b = corio_tcp_listen("127.0.0.1", "0", 16, 0);
	cr_assert_eq(b, a, "the fd number is reused (else this test proves nothing)");
	port_str(b, pb);
	int c1 = corio_tcp_connect("127.0.0.1", pb);
	cr_assert_geq(c1, 0);
	int s1 = corio_accept(b, NULL, NULL);
	cr_assert_geq(s1, 0);
	/* s1 is b's connection, not one left over from a */
	cr_assert_eq(corio_send(c1, "b", 1, 0), 1);
	char ch;
	cr_assert_eq(corio_recv(s1, &ch, 1, 0), 1);
	cr_assert_eq(ch, 'b');
	/* and a's socket really went away once its accept was cancelled */
	cr_assert_eq(corio_sleep(10 * MS), 0);
	cr_assert_eq(corio_tcp_connect("127.0.0.1", pa), -ECONNREFUSED);
	corio_close(s0);
	corio_close(c0);
	corio_close(s1);
	corio_close(c1);
	corio_close(b);
	return NULL;
}

Test(net, closed_listener_does_not_haunt_its_fd_number)
{
	t_run(reused_fd_main, NULL, NULL);
}
