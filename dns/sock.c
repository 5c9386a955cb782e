/* SPDX-License-Identifier: MIT */
/*
 * sock.c - the c-ares sockets as the loop sees them.  c-ares announces each
 * socket, and what it wants from it, through ARES_OPT_SOCK_STATE_CB; we
 * keep one record per socket and poll it with single-shot poll ops that
 * live in the record (never on a task's stack).  A completed poll hands the
 * fd to ares_process_fd() and is armed again while c-ares still wants it:
 * level-style, because c-ares reads TCP one recv() per call.
 *
 * c-ares may close a socket and open another with the same fd number while
 * a poll on the old one is still with the kernel.  So the op points at the
 * record, not at an fd: a closed record leaves the live list at once, its
 * polls are cancelled, and it is freed only when both have come back; the
 * new socket gets a record of its own.
 *
 * c-ares also does its socket calls through the functions at the end of
 * this file, which do what its own would and show refused.c each UDP
 * answer it reads.
 */
#include "dns_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static struct corio__dns_sock *sock_find(struct corio__dns *d, int fd)
{
	for (struct corio__node *n = d->socks.head; n; n = n->next)
		if (corio__dns_sock_of(n)->fd == fd)
			return corio__dns_sock_of(n);
	return NULL;
}

static void sock_maybe_free(struct corio__dns_sock *s)
{
	if (!s->closed || s->rd_busy || s->wr_busy || s->in_process)
		return;
	corio__list_remove(&s->dns->closed_socks, &s->node);
	free(s);
}

/* The fd is gone (or about to be): forget it, call the polls back. */
void corio__dns_sock_close(struct corio__dns_sock *s)
{
	struct corio__dns *d = s->dns;
	corio_loop *l = d->loop;
	corio__list_remove(&d->socks, &s->node);
	s->closed = true;
	corio__list_push_front(&d->closed_socks, &s->node);
	if (s->rd_busy)
		corio__op_cancel(l, &s->rd);
	if (s->wr_busy)
		corio__op_cancel(l, &s->wr);
	corio__fd_closing(l, s->fd); /* c-ares closes it next; the number may return */
	sock_maybe_free(s);
}

static void poll_done(struct corio__dns_sock *s, bool rd, int res);

static void rd_complete(struct corio__op *op, int res, uint32_t flags)
{
	(void)flags;
	poll_done(corio__container_of(op, struct corio__dns_sock, rd), true, res);
}

static void wr_complete(struct corio__op *op, int res, uint32_t flags)
{
	(void)flags;
	poll_done(corio__container_of(op, struct corio__dns_sock, wr), false, res);
}

static void poll_submit(struct corio__dns_sock *s, struct corio__op *op, uint32_t events,
			void (*complete)(struct corio__op *, int, uint32_t))
{
	corio_loop *l = s->dns->loop;
	memset(op, 0, sizeof(*op));
	op->code = CORIO__OP_POLL;
	op->fd = s->fd;
	op->u.poll_mask = events;
	op->complete = complete;
	corio__op_submit(l, op);
}

/* Make sure a poll is with the kernel for each thing c-ares wants.  A poll
 * for something it no longer wants is left to fire once and lapse. */
static void sock_arm(struct corio__dns_sock *s)
{
	if (s->closed || s->dns->closing)
		return;
	if (s->want_rd && !s->rd_busy) {
		s->rd_busy = true;
		poll_submit(s, &s->rd, POLLIN, rd_complete);
	}
	if (s->want_wr && !s->wr_busy) {
		s->wr_busy = true;
		poll_submit(s, &s->wr, POLLOUT, wr_complete);
	}
}

static void poll_done(struct corio__dns_sock *s, bool rd, int res)
{
	struct corio__dns *d = s->dns;
	if (rd)
		s->rd_busy = false;
	else
		s->wr_busy = false;
	bool wanted = rd ? s->want_rd : s->want_wr;
	if (!s->closed && wanted && res != -ECANCELED && d->ch) {
		/* Errors and hang-ups count as readiness: c-ares finds out
		 * what happened from its own recv or send. */
		int fd = s->fd;
		s->in_process = true;
		ares_process_fd(d->ch, rd ? fd : ARES_SOCKET_BAD, rd ? ARES_SOCKET_BAD : fd);
		s->in_process = false;
	}
	if (s->closed) {
		sock_maybe_free(s);
	} else if (res >= 0) {
		/* A failed poll (not a socket error: those come as revents)
		 * is not re-armed, or it could fail again forever; the
		 * queries on it end by timeout instead. */
		sock_arm(s);
	}
	corio__dns_timer_update(d);
}

/* For the tests: the same fd number came back while a record of its old
 * socket still waits for a poll. */
static void count_reuse(struct corio__dns *d, int fd)
{
	for (struct corio__node *n = d->closed_socks.head; n; n = n->next)
		if (corio__dns_sock_of(n)->fd == fd) {
			d->fd_reused++;
			return;
		}
}

void corio__dns_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct corio__dns *d = data;
	struct corio__dns_sock *s = sock_find(d, fd);
	if (!readable && !writable) {
		if (s)
			corio__dns_sock_close(s);
		return;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return; /* unpolled: its queries end by timeout */
		s->dns = d;
		s->fd = fd;
		corio__list_push_front(&d->socks, &s->node);
		count_reuse(d, fd);
	}
	s->want_rd = readable != 0;
	s->want_wr = writable != 0;
	sock_arm(s);
}

int corio__dns_sock_created(ares_socket_t fd, int type, void *data)
{
	(void)type;
	struct corio__dns *d = data;
	/* A live record with this number means its socket was closed without
	 * a word to us: retire it before the new socket is announced. */
	struct corio__dns_sock *s = sock_find(d, fd);
	if (s)
		corio__dns_sock_close(s);
	return ARES_SUCCESS;
}

/* ---- the socket calls c-ares makes ----------------------------------------- */

/* As c-ares sets its own up: non-blocking, close-on-exec, no Nagle. */
static ares_socket_t sock_open(int af, int type, int protocol, void *data)
{
	(void)data;
	int fd = socket(af, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol), one = 1;
	if (fd < 0)
		return ARES_SOCKET_BAD;
	if (type == SOCK_STREAM)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int sock_close_fd(ares_socket_t fd, void *data)
{
	(void)data;
	return close(fd);
}

static int sock_connect(ares_socket_t fd, const struct sockaddr *sa, ares_socklen_t len,
			void *data)
{
	(void)data;
	return connect(fd, sa, len);
}

/* c-ares reads UDP with an address to check, TCP without. */
static ares_ssize_t sock_recvfrom(ares_socket_t fd, void *buf, size_t len, int flags,
				  struct sockaddr *from, ares_socklen_t *fromlen,
				  void *data)
{
	ssize_t n = recvfrom(fd, buf, len, flags, from, fromlen);
	if (n > 0 && from)
		corio__dns_answer_seen(data, buf, (size_t)n, from);
	return n;
}

/* No SIGPIPE from a server that closed its end of a TCP connection. */
static ares_ssize_t sock_sendv(ares_socket_t fd, const struct iovec *iov, int n,
			       void *data)
{
	(void)data;
	struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
	return sendmsg(fd, &m, MSG_NOSIGNAL);
}

const struct ares_socket_functions corio__dns_sock_funcs = {
	.asocket = sock_open,
	.aclose = sock_close_fd,
	.aconnect = sock_connect,
	.arecvfrom = sock_recvfrom,
	.asendv = sock_sendv,
};
