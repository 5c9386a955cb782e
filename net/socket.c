/* SPDX-License-Identifier: MIT */
/*
 * socket.c - sockets as ops: connect, recv/send and their msg/addr forms,
 * shutdown, plain accept; making listening and connected sockets from
 * numeric addresses; and the loop's net state with its teardown, which
 * cancels net's long-lived ops and reaps them before the backend goes.
 * Sockets stay blocking: on io_uring the ring does the waiting, and the
 * epoll backend passes MSG_DONTWAIT.
 */
#include "net_int.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the loop's net state ------------------------------------------- */

static bool env_flag(const char *name)
{
	const char *v = getenv(name);
	return v && *v && strcmp(v, "0") != 0;
}

static void net_fd_closing(void *state, int fd);
static unsigned net_drain(void *state);
static void net_free(void *state);

static const struct corio__module net_module = {
	.name = "net",
	.fd_closing = net_fd_closing,
	.drain = net_drain,
	.free = net_free,
};

struct corio__net *corio__net_find(corio_loop *l)
{
	return l ? corio__module_state(l, &net_module) : NULL;
}

struct corio__net *corio__net_get(corio_loop *l)
{
	if (!l)
		return NULL;
	struct corio__net *n = corio__module_state(l, &net_module);
	if (corio__likely(n != NULL))
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->loop = l;
	/* CORIO_NET_PLAIN=1 forces the plain paths, to test and compare them */
	bool plain = env_flag("CORIO_NET_PLAIN");
	unsigned caps = corio__loop_caps(l);
	n->ms_accept = !plain && (caps & CORIO__CAP_ACCEPT_MULTI);
	n->ms_recv = !plain && (caps & CORIO__CAP_RECV_MULTI);
	if (corio__module_attach(l, &net_module, n)) {
		free(n);
		return NULL;
	}
	return n;
}

void corio__net_submit(struct corio__net *n, struct corio__op *op)
{
	n->inflight++;
	corio__op_submit(n->loop, op);
}

void corio__net_op_done(struct corio__net *n)
{
	n->inflight--;
}

/* Before any fd closes: a listener's multishot accept keeps the socket
 * alive in the kernel and its queued connections open. */
static void net_fd_closing(void *state, int fd)
{
	corio__listener_forget(state, fd);
}

/* corio_loop_free(), no task left: cancel every long-lived op once; the
 * loop then waits for their final completions (each moves a record back
 * to NET_IDLE and frees it). */
static unsigned net_drain(void *state)
{
	struct corio__net *n = state;
	if (!n->draining) {
		n->draining = true;
		corio__listeners_fini(n);
		corio__streams_fini(n);
	}
	return n->inflight;
}

static void net_free(void *state)
{
	struct corio__net *n = state;
	corio__net_bufs_free(n);
	free(n->lst);
	free(n);
}

/* ---- waiting for a condition ------------------------------------------ */

int corio__net_wait(struct corio__waitq *q, uint64_t deadline, bool *own_timeout)
{
	int err = corio__may_block();
	if (err)
		return err;
	struct corio__waiter w = {.what = "a stream or listener"};
	if (!deadline)
		return corio__waitq_wait(q, &w);
	corio_scope sc;
	corio_timeout_push(&sc, deadline);
	/* a deadline already past expires the scope at once */
	int res = corio__interrupted(corio_self());
	if (!res)
		res = corio__waitq_wait(q, &w);
	corio_timeout_pop(&sc);
	if (own_timeout)
		*own_timeout = sc.expired && res == -ETIMEDOUT;
	return res;
}

/* ---- plain socket ops ------------------------------------------------ */

/* MSG_PEEK with MSG_WAITALL is refused: the ring's WAITALL retry (and
 * the epoll backend's gathering) would peek the same bytes again past
 * the first ones. */
static bool peek_waitall(int flags)
{
	return (flags & (MSG_PEEK | MSG_WAITALL)) == (MSG_PEEK | MSG_WAITALL);
}

static ssize_t buf_op(uint8_t code, int fd, const void *buf, size_t n, int flags)
{
	if (n > INT_MAX || (!buf && n) || peek_waitall(flags))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	struct corio__op op = {
		.code = code, .fd = fd, .buf = (void *)buf, .len = (uint32_t)n};
	op.u.net.flags = flags;
	return corio__op_run(&op);
}

ssize_t corio_recv(int fd, void *buf, size_t n, int flags)
{
	return buf_op(CORIO__OP_RECV, fd, buf, n, flags);
}

ssize_t corio_send(int fd, const void *buf, size_t n, int flags)
{
	return buf_op(CORIO__OP_SEND, fd, buf, n, flags | MSG_NOSIGNAL);
}

ssize_t corio_send_all(int fd, const void *buf, size_t n, int flags)
{
	const char *p = buf;
	size_t done = 0;
	while (done < n) {
		size_t k = n - done > INT_MAX ? INT_MAX : n - done;
		/* MSG_WAITALL: the kernel itself retries short stream sends */
		ssize_t r = corio_send(fd, p + done, k, flags | MSG_WAITALL);
		if (r == -EINTR)
			continue; /* nothing was sent */
		if (r < 0)
			return r;
		if (r == 0)
			return -EPIPE;
		done += (size_t)r;
	}
	return (ssize_t)n;
}

ssize_t corio_recv_all(int fd, void *buf, size_t n, int flags)
{
	if (flags & MSG_PEEK)
		return -EINVAL; /* each round would peek the same bytes again */
	char *p = buf;
	size_t done = 0;
	while (done < n) {
		size_t k = n - done > INT_MAX ? INT_MAX : n - done;
		ssize_t r = corio_recv(fd, p + done, k, flags);
		if (r == -EINTR)
			continue; /* nothing was received */
		if (r < 0)
			return r;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static ssize_t msg_op(uint8_t code, int fd, const struct msghdr *msg, int flags)
{
	if (!msg || peek_waitall(flags))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	struct corio__op op = {.code = code, .fd = fd, .buf = (void *)msg};
	op.u.net.flags = flags;
	return corio__op_run(&op);
}

ssize_t corio_recvmsg(int fd, struct msghdr *msg, int flags)
{
	return msg_op(CORIO__OP_RECVMSG, fd, msg, flags);
}

ssize_t corio_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return msg_op(CORIO__OP_SENDMSG, fd, msg, flags | MSG_NOSIGNAL);
}

ssize_t corio_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
		       socklen_t *len)
{
	if (n > INT_MAX || (!buf && n) || (addr && !len))
		return -EINVAL;
	struct iovec iov = {.iov_base = buf, .iov_len = n};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (addr) {
		msg.msg_name = addr;
		msg.msg_namelen = *len;
	}
	ssize_t r = msg_op(CORIO__OP_RECVMSG, fd, &msg, flags);
	if (r >= 0 && addr)
		*len = msg.msg_namelen;
	return r;
}

ssize_t corio_sendto(int fd, const void *buf, size_t n, int flags,
		     const struct sockaddr *addr, socklen_t len)
{
	if (n > INT_MAX || (!buf && n))
		return -EINVAL;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = n};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (addr) {
		msg.msg_name = (void *)addr;
		msg.msg_namelen = len;
	}
	return msg_op(CORIO__OP_SENDMSG, fd, &msg, flags | MSG_NOSIGNAL);
}

int corio_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (!sa)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	struct corio__op op = {.code = CORIO__OP_CONNECT, .fd = fd};
	op.u.net.addr = (void *)sa;
	op.u.net.addrlen_in = len;
	return (int)corio__op_run(&op);
}

int corio_shutdown(int fd, int how)
{
	if (fd < 0)
		return -EBADF;
	corio_loop *l = corio__tls_loop;
	if (l && !(corio__loop_caps(l) & CORIO__CAP_SHUTDOWN)) {
		/* shutdown(2) never blocks: without the op, just a checkpoint */
		int err = corio_checkpoint();
		if (err)
			return err;
		return shutdown(fd, how) ? -errno : 0;
	}
	struct corio__op op = {.code = CORIO__OP_SHUTDOWN, .fd = fd};
	op.u.net.flags = how;
	return (int)corio__op_run(&op);
}

/* One accept op on the task's stack: the path without multishot. */
static int accept_once(int lfd, struct sockaddr *addr, socklen_t *len)
{
	struct corio__op op = {.code = CORIO__OP_ACCEPT, .fd = lfd};
	op.u.net.addr = addr;
	op.u.net.addrlen = len;
	op.u.net.flags = SOCK_CLOEXEC;
	return (int)corio__op_run(&op);
}

int corio_accept(int lfd, struct sockaddr *addr, socklen_t *len)
{
	if (lfd < 0)
		return -EBADF;
	if (addr && !len)
		return -EINVAL;
	struct corio__net *n = corio__net_get(corio__tls_loop);
	if (!n || !n->ms_accept)
		return accept_once(lfd, addr, len);
	for (;;) {
		int fd = corio__listener_accept(n, lfd);
		if (fd == CORIO__NET_RETRY)
			return accept_once(lfd, addr, len); /* multishot refused */
		if (fd < 0 || !addr)
			return fd;
		/* multishot accept reports no address: ask the socket */
		socklen_t l = *len;
		if (getpeername(fd, addr, &l) == 0) {
			*len = l;
			return fd;
		}
		close(fd); /* reset before we saw it: nobody to talk to */
	}
}

/* ---- addresses and new sockets ---------------------------------------- */

static int gai_err(int rc)
{
	switch (rc) {
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_FAMILY:
		return -EAFNOSUPPORT;
	case EAI_SYSTEM:
		return errno ? -errno : -EINVAL;
	default: /* EAI_NONAME (not numeric), EAI_SERVICE, ... */
		return -EINVAL;
	}
}

/* Numeric addresses only (getaddrinfo does not block on them).
 * "localhost" is the loopback: ::1 and 127.0.0.1 to connect to,
 * 127.0.0.1 to bind. */
static int numeric(const char *host, const char *port, int type, bool passive,
		   struct addrinfo **res)
{
	if (!port || !*port)
		return -EINVAL;
	struct addrinfo hints = {
		.ai_socktype = type,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | (passive ? AI_PASSIVE : 0),
	};
	if (host && !strcmp(host, "localhost"))
		host = passive ? "127.0.0.1" : NULL;
	int rc = getaddrinfo(host, port, &hints, res);
	return rc ? gai_err(rc) : 0;
}

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) ? -errno : 0;
}

/* A socket of @type bound to @sa, listening if @backlog >= 0. */
static int bound_socket(int type, const struct sockaddr *sa, socklen_t len, int backlog,
			unsigned flags)
{
	int fd = socket(sa->sa_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int err = 0;
	if (type == SOCK_STREAM)
		err = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (!err && (flags & CORIO_LISTEN_REUSEPORT))
		err = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (!err && sa->sa_family == AF_INET6)
		err = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, !!(flags & CORIO_LISTEN_V6ONLY));
	if (!err && bind(fd, sa, len))
		err = -errno;
	if (!err && backlog >= 0 && listen(fd, backlog ? backlog : SOMAXCONN))
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* The wildcard: dual-stack "::", or 0.0.0.0 where IPv6 is missing. */
static int bind_any(int type, const char *port, int backlog, unsigned flags)
{
	struct addrinfo *ai;
	int err = numeric("::", port, type, true, &ai);
	if (err)
		return err;
	int fd = bound_socket(type, ai->ai_addr, ai->ai_addrlen, backlog, flags);
	freeaddrinfo(ai);
	if (fd != -EAFNOSUPPORT)
		return fd;
	if ((err = numeric("0.0.0.0", port, type, true, &ai)))
		return err;
	fd = bound_socket(type, ai->ai_addr, ai->ai_addrlen, backlog, flags);
	freeaddrinfo(ai);
	return fd;
}

static int bind_host(const char *host, const char *port, int type, int backlog,
		     unsigned flags)
{
	if (!host)
		return bind_any(type, port, backlog, flags);
	struct addrinfo *res;
	int err = numeric(host, port, type, true, &res);
	if (err)
		return err;
	int fd = -EINVAL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = bound_socket(type, ai->ai_addr, ai->ai_addrlen, backlog, flags);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

int corio_tcp_listen(const char *host, const char *port, int backlog, unsigned flags)
{
	if (backlog < 0)
		backlog = 0; /* 0 asks bound_socket for SOMAXCONN */
	return bind_host(host, port, SOCK_STREAM, backlog, flags);
}

int corio_udp_bind(const char *host, const char *port)
{
	return bind_host(host, port, SOCK_DGRAM, -1, 0);
}

static int unix_addr(const char *path, struct sockaddr_un *sun, socklen_t *len)
{
	if (!path || !*path)
		return -EINVAL;
	size_t n = strlen(path);
	if (n >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, n);
	if (path[0] == '@') {
		sun->sun_path[0] = '\0'; /* abstract: no file, no NUL at the end */
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = (socklen_t)sizeof(*sun);
	}
	return 0;
}

/* A Unix stream socket and the address of @path, for listen or connect. */
static int unix_socket(const char *path, struct sockaddr_un *sun, socklen_t *len)
{
	int err = unix_addr(path, sun, len);
	if (err)
		return err;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

int corio_unix_listen(const char *path, int backlog)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd = unix_socket(path, &sun, &len);
	if (fd < 0)
		return fd;
	if (bind(fd, (struct sockaddr *)&sun, len) || listen(fd, backlog > 0 ? backlog : SOMAXCONN)) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int corio_unix_connect(const char *path)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd = unix_socket(path, &sun, &len);
	if (fd < 0)
		return fd;
	int err = corio_connect(fd, (struct sockaddr *)&sun, len);
	if (err) {
		corio_close(fd); /* the backend may have waited on it */
		return err;
	}
	return fd;
}

int corio_sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}
