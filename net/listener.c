/* SPDX-License-Identifier: MIT */
/*
 * listener.c - multishot accept.  A listening socket that corio_accept()
 * is used on gets a heap record, found by fd number, that owns one
 * long-lived multishot accept and a queue of accepted descriptors nobody
 * has claimed yet.  Tasks in corio_accept() take from the queue or wait in
 * FIFO order.  The record is freed only when its accept is not in the
 * kernel (NET_IDLE): after corio_close() or at loop teardown it is
 * orphaned, its accept cancelled, and the final completion frees it.
 *
 *   IDLE --arm--> ARMED --cancel--> CANCELLING
 *     ^             |                   |
 *     +--final CQE--+-------------------+   (then re-arm if tasks wait)
 */
#include "net_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Once this many accepted connections wait unclaimed, the kernel's accept
 * is cancelled and the backlog holds the rest: a server that stopped
 * accepting (at its connection limit) does not go on taking them. */
#define QUEUE_PAUSE 32

struct corio__listener {
	struct corio__net *net;
	int fd;
	struct corio__op op;  /* the multishot accept */
	uint8_t state;        /* enum corio__net_op_state */
	bool paused;          /* don't re-arm until the next corio_accept() */
	bool orphan;          /* closed: free once the accept is out of the kernel */
	bool delivered;       /* the kernel accepted at least once (see ended()) */
	int *q;               /* ring of accepted fds, qlen from qhead */
	unsigned qhead, qlen, qcap;
	struct corio__waitq waiters;
};

/* ---- the queue -------------------------------------------------------- */

static int q_push(struct corio__listener *ls, int fd)
{
	if (ls->qlen == ls->qcap) {
		unsigned cap = ls->qcap ? ls->qcap * 2 : 16;
		int *q = malloc(cap * sizeof(*q));
		if (!q)
			return -ENOMEM;
		for (unsigned i = 0; i < ls->qlen; i++)
			q[i] = ls->q[(ls->qhead + i) % ls->qcap];
		free(ls->q);
		ls->q = q;
		ls->qcap = cap;
		ls->qhead = 0;
	}
	ls->q[(ls->qhead + ls->qlen) % ls->qcap] = fd;
	ls->qlen++;
	return 0;
}

static int q_pop(struct corio__listener *ls)
{
	int fd = ls->q[ls->qhead];
	ls->qhead = (ls->qhead + 1) % ls->qcap;
	ls->qlen--;
	return fd;
}

/* ---- the multishot accept --------------------------------------------- */

static void listener_complete(struct corio__op *op, int res, uint32_t flags);

static void arm(struct corio__listener *ls)
{
	memset(&ls->op, 0, sizeof(ls->op));
	ls->op.code = CORIO__OP_ACCEPT_MULTI;
	ls->op.fd = ls->fd;
	ls->op.u.net.flags = SOCK_CLOEXEC;
	ls->op.complete = listener_complete;
	ls->state = NET_ARMED;
	corio__net_submit(ls->net, &ls->op);
}

static void cancel(struct corio__listener *ls)
{
	if (ls->state != NET_ARMED)
		return;
	ls->state = NET_CANCELLING;
	corio__op_cancel(ls->net->loop, &ls->op);
}

static void listener_free(struct corio__listener *ls)
{
	while (ls->qlen)
		close(q_pop(ls));
	free(ls->q);
	free(ls);
}

static void deliver(struct corio__listener *ls, int fd)
{
	ls->delivered = true;
	if (ls->orphan) {
		close(fd);
		return;
	}
	if (corio__waitq_wake_one(&ls->waiters, fd))
		return;
	if (q_push(ls, fd)) {
		close(fd); /* no memory to keep it: the client sees a reset */
		return;
	}
	if (ls->qlen >= QUEUE_PAUSE)
		cancel(ls);
}

/* The multishot accept ended with @res. */
static void ended(struct corio__listener *ls, int res)
{
	if (res == -EINVAL && !ls->delivered) {
		/* the kernel refused multishot on a socket that listens (we
		 * checked): serve everyone through plain accepts from now on */
		ls->net->ms_accept = false;
		corio__waitq_wake_all(&ls->waiters, CORIO__NET_RETRY);
		return;
	}
	if (res < 0 && res != -ECANCELED)
		corio__waitq_wake_one(&ls->waiters, res); /* EMFILE & co: one at a time */
	if (ls->waiters.list.head && !ls->paused)
		arm(ls);
}

static void listener_complete(struct corio__op *op, int res, uint32_t flags)
{
	struct corio__listener *ls = corio__container_of(op, struct corio__listener, op);
	if (res >= 0)
		deliver(ls, res);
	if (flags & CORIO__CQE_F_MORE)
		return;
	ls->state = NET_IDLE;
	corio__net_op_done(ls->net);
	if (ls->orphan)
		listener_free(ls);
	else
		ended(ls, res);
}

/* ---- records by fd ---------------------------------------------------- */

/* Detach @ls from its fd: queued connections are closed, waiters get
 * -ECANCELED, and the record goes as soon as the kernel lets go of it. */
static void orphan(struct corio__listener *ls)
{
	struct corio__net *n = ls->net;
	if (ls->fd < n->lst_cap && n->lst[ls->fd] == ls)
		n->lst[ls->fd] = NULL;
	ls->orphan = true;
	while (ls->qlen)
		close(q_pop(ls));
	corio__waitq_wake_all(&ls->waiters, -ECANCELED);
	if (ls->state == NET_IDLE)
		listener_free(ls);
	else
		cancel(ls);
}

static int slot_for(struct corio__net *n, int fd)
{
	if (fd < n->lst_cap)
		return 0;
	int cap = n->lst_cap ? n->lst_cap : 64;
	while (cap <= fd)
		cap *= 2;
	void *v = realloc(n->lst, (size_t)cap * sizeof(*n->lst));
	if (!v)
		return -ENOMEM;
	n->lst = v;
	memset(n->lst + n->lst_cap, 0, (size_t)(cap - n->lst_cap) * sizeof(*n->lst));
	n->lst_cap = cap;
	return 0;
}

static int create(struct corio__net *n, int fd, struct corio__listener **out)
{
	int on = 0;
	socklen_t len = sizeof(on);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len))
		return -errno;
	if (!on)
		return -EINVAL; /* as accept(2) on a socket that does not listen */
	int err = slot_for(n, fd);
	if (err)
		return err;
	struct corio__listener *ls = calloc(1, sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	ls->net = n;
	ls->fd = fd;
	n->lst[fd] = ls;
	*out = ls;
	return 0;
}

/* The record for @fd, made on first use (which checks that @fd is a
 * listening socket).  A record is trusted, with no system call: the
 * listener's fd is closed through corio_close(), whose fd_closing hook
 * lets the record go, so a reused number finds none (net.h). */
static int lookup(struct corio__net *n, int fd, struct corio__listener **out)
{
	struct corio__listener *ls = fd < n->lst_cap ? n->lst[fd] : NULL;
	if (ls) {
		*out = ls;
		return 0;
	}
	return create(n, fd, out);
}

int corio__listener_accept(struct corio__net *n, int lfd)
{
	int err = corio_checkpoint();
	if (err)
		return err;
	struct corio__listener *ls = NULL;
	if ((err = lookup(n, lfd, &ls)))
		return err;
	ls->paused = false;
	if (ls->qlen)
		return q_pop(ls);
	if (ls->state == NET_IDLE)
		arm(ls);
	/* woken with an fd, an error, or -ECANCELED when closed meanwhile; the
	 * record may be gone then, so it is not touched again */
	return corio__net_wait(&ls->waiters, 0, NULL);
}

void corio__listener_pause(corio_loop *l, int lfd)
{
	struct corio__net *n = corio__net_find(l);
	struct corio__listener *ls = n && lfd >= 0 && lfd < n->lst_cap ? n->lst[lfd] : NULL;
	if (!ls)
		return;
	ls->paused = true;
	if (!ls->waiters.list.head)
		cancel(ls);
}

int corio__listener_take(corio_loop *l, int lfd)
{
	struct corio__net *n = corio__net_find(l);
	struct corio__listener *ls = n && lfd >= 0 && lfd < n->lst_cap ? n->lst[lfd] : NULL;
	if (!ls)
		return -EAGAIN;
	if (ls->qlen)
		return q_pop(ls);
	return ls->state == NET_IDLE ? -EAGAIN : -EINPROGRESS;
}

void corio__listener_forget(struct corio__net *n, int fd)
{
	if (fd >= 0 && fd < n->lst_cap && n->lst[fd])
		orphan(n->lst[fd]);
}

void corio__listeners_fini(struct corio__net *n)
{
	for (int fd = 0; fd < n->lst_cap; fd++)
		if (n->lst[fd])
			orphan(n->lst[fd]);
}
