/* SPDX-License-Identifier: MIT */
/*
 * epoll.c - the epoll backend: the same ops as io_uring, done the classic
 * way.  An op on a pollable fd (socket, pipe, eventfd, tty) first tries
 * its syscall without blocking; on EAGAIN it waits on the fd's record,
 * which is registered once, edge-triggered for both directions, and keeps
 * one FIFO of waiters per direction.  An edge retries the waiters of its
 * direction in order until one would block again; polls only look, so
 * they never queue behind the others.  Ops that finish at once go on a
 * completion list the next poll delivers, so a completion never reaches a
 * task that has not suspended yet.  A record is trusted for as long as it
 * lives: every fd corio waits on is closed through corio_close() (or
 * corio__fd_closing()), which forgets it, so no op pays a system call to
 * check it.  A number closed with plain close(2) and reused is the
 * caller's bug (io.h); only a number accept hands out is checked, for free.
 *
 * Sockets: accept, connect (EINPROGRESS, then writability and SO_ERROR),
 * recv/send and the msg forms (MSG_WAITALL kept across edges on byte
 * streams, as the ring does it), shutdown.  Sockets are read and written
 * with MSG_DONTWAIT, so their flags stay as the caller set them (only a
 * listener is made non-blocking, to accept); pipes and ttys are made
 * non-blocking while the backend knows them and get their flags back
 * after.  Multishot receive (CORIO__OP_RECV_MULTI) is served as the ring
 * serves it, from buffer groups: the op waits on the fd holding no
 * memory; on an edge it takes a free buffer, receives into it and
 * completes with the buffer's id and F_MORE, again until the socket would
 * block; EOF, an error, a cancel or an empty group (-ENOBUFS) end it.
 * Multishot accept has no form here (no CORIO__CAP_ACCEPT_MULTI): a plain
 * accept costs the same system calls, and multishot would add a
 * getpeername() to every accept that wants the address.
 *
 * Regular files: a read whose pages are cached is done inline with
 * RWF_NOWAIT; every other file op, and the ops on paths (open, statx,
 * fsync, rename, ...), run on the offload pool, as libuv does.
 */
#include "corio_int.h"
#include "epoll_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Every system call below counts in the loop's stats (enters): the
 * names are wrapped here, after the headers, so no call can be missed. */
#define COUNTED(call) (corio__count_enter(), (call))
#define fcntl(...) COUNTED(fcntl(__VA_ARGS__))
#define epoll_ctl(...) COUNTED(epoll_ctl(__VA_ARGS__))
#define epoll_pwait2(...) COUNTED(epoll_pwait2(__VA_ARGS__))
#define getsockopt(...) COUNTED(getsockopt(__VA_ARGS__))
#define poll(...) COUNTED(poll(__VA_ARGS__))
#define recv(...) COUNTED(recv(__VA_ARGS__))
#define send(...) COUNTED(send(__VA_ARGS__))
#define recvmsg(...) COUNTED(recvmsg(__VA_ARGS__))
#define sendmsg(...) COUNTED(sendmsg(__VA_ARGS__))
#define read(...) COUNTED(read(__VA_ARGS__))
#define connect(...) COUNTED(connect(__VA_ARGS__))
#define accept4(...) COUNTED(accept4(__VA_ARGS__))
#define shutdown(...) COUNTED(shutdown(__VA_ARGS__))
#define preadv2(...) COUNTED(preadv2(__VA_ARGS__))

#define MAX_EVENTS 256

static struct corio__epoll *E(corio_loop *l)
{
	return l->be_data;
}

/* The op a waiter or completion list node belongs to (NULL: none). */
static struct corio__op *op_of(struct corio__node *n)
{
	return corio__list_entry(n, struct corio__op, ep_link);
}

/* ---- completion list ------------------------------------------------ */

static void epoll_done(corio_loop *l, struct corio__op *op, int res)
{
	struct corio__epoll *e = E(l);
	op->res = res;
	corio__list_push_back(&e->done, &op->ep_link);
}

static unsigned deliver(corio_loop *l, struct corio__epoll *e)
{
	/* what the completions queue meanwhile (an op resubmitted from one,
	 * and completed at once) waits for the next turn, as on io_uring: a
	 * retry that keeps failing at once must not hold the loop here */
	struct corio__list batch = e->done; /* nothing else takes ops off it */
	e->done = (struct corio__list){0};
	unsigned n = 0;
	struct corio__node *node;
	while ((node = corio__list_pop_front(&batch))) {
		struct corio__op *op = op_of(node);
		e->inflight--;
		l->st.cqes++;
		n++;
		op->complete(op, corio__op_res(op, op->res), 0);
	}
	return n;
}

/* ---- op kinds ------------------------------------------------------- */

/* attempt() results that are not an op's result: wait for an edge in the
 * op's direction, or (a Unix connect to a full backlog, which no edge
 * announces) try again on the next turn. */
#define EP_WAIT INT_MIN
#define EP_RETRY (INT_MIN + 1)

static bool multishot(const struct corio__op *op)
{
	return op->code == CORIO__OP_RECV_MULTI;
}

/* A POLL op for both directions waits with the readers, but an edge for
 * writing must reach it too: the record counts them. */
static bool polls_out_too(const struct corio__op *op)
{
	return op->code == CORIO__OP_POLL && (op->u.poll_mask & POLLOUT) &&
	       (op->u.poll_mask & POLLIN);
}

/* Does @op take something from its fd (data, room, a connection), so that
 * the waiters of its direction must take turns?  Polls and error-queue
 * reads only look: they never wait behind others, nor hold others up. */
static bool consumes(const struct corio__op *op)
{
	if (op->code == CORIO__OP_POLL)
		return false;
	return op->code != CORIO__OP_RECVMSG || !(op->u.net.flags & MSG_ERRQUEUE);
}

static bool xfer_op(const struct corio__op *op)
{
	return op->code == CORIO__OP_RECV || op->code == CORIO__OP_SEND ||
	       op->code == CORIO__OP_RECVMSG || op->code == CORIO__OP_SENDMSG;
}

/* The result of a waiting op cut off by a cancel or a close: bytes that
 * MSG_WAITALL already moved count, as in the ring, so none are lost. */
static int cut_short(const struct corio__op *op, int err)
{
	return xfer_op(op) && op->ep_done ? (int)op->ep_done : err;
}

/* Which direction an op waits in: 0 readable, 1 writable. */
static int op_dir(const struct corio__op *op)
{
	switch (op->code) {
	case CORIO__OP_POLL:
		return (op->u.poll_mask & POLLOUT) && !(op->u.poll_mask & POLLIN);
	case CORIO__OP_WRITE:
	case CORIO__OP_WRITEV:
	case CORIO__OP_CONNECT:
	case CORIO__OP_SEND:
	case CORIO__OP_SENDMSG:
		return 1;
	default:
		return 0;
	}
}

/* ---- waiter lists --------------------------------------------------- */

static void list_push(struct corio__list *q, struct corio__op *op)
{
	corio__list_push_back(q, &op->ep_link);
}

static void list_unlink(struct corio__list *q, struct corio__op *op)
{
	corio__list_remove(q, &op->ep_link);
}

static void park(struct corio__epoll *e, struct corio__ep_fd *r, struct corio__op *op,
		 int how)
{
	op->ep_fd = r;
	if (how == EP_RETRY) {
		op->ep_dir = 2;
		list_push(&e->retry, op);
		return;
	}
	op->ep_dir = (uint8_t)op_dir(op);
	list_push(&r->wait[op->ep_dir], op);
	r->takers[op->ep_dir] += consumes(op);
	r->both += polls_out_too(op);
}

/* Take @op off whichever list it waits on (a record's or the retry list). */
static void unpark(struct corio__epoll *e, struct corio__op *op)
{
	struct corio__ep_fd *r = op->ep_fd;
	if (op->ep_dir == 2) {
		list_unlink(&e->retry, op);
	} else {
		list_unlink(&r->wait[op->ep_dir], op);
		r->takers[op->ep_dir] -= consumes(op);
		r->both -= polls_out_too(op);
	}
	op->ep_fd = NULL;
}

/* ---- fd records ----------------------------------------------------- */

/* Make @r's fd non-blocking, remembering its flags to put back when the
 * backend lets go of it (a pipe or tty may be shared with other
 * processes).  Sockets are read and written with MSG_DONTWAIT and need
 * this only to accept. */
static void nonblock_on(struct corio__ep_fd *r)
{
	if (r->saved_fl >= 0)
		return;
	int fl = fcntl(r->fd, F_GETFL);
	if (fl >= 0 && !(fl & O_NONBLOCK) && fcntl(r->fd, F_SETFL, fl | O_NONBLOCK) == 0)
		r->saved_fl = fl;
}

static void flags_restore(struct corio__ep_fd *r)
{
	if (r->saved_fl >= 0)
		fcntl(r->fd, F_SETFL, r->saved_fl);
	r->saved_fl = -1;
}

/* Put @fd in the epoll set under a new generation.  0, 1 if it was there
 * already (EEXIST), or -errno (EPERM: not pollable). */
static int ep_add(struct corio__epoll *e, int fd, uint32_t *gen)
{
	uint32_t g = e->gen + 1;
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = (uint64_t)(unsigned)fd | ((uint64_t)g << 32)};
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		return errno == EEXIST ? 1 : -errno;
	e->gen = g;
	*gen = g;
	return 0;
}

/* What kind of file @fd is: 1 socket, 0 another pollable candidate, -1 a
 * regular file, directory or block device (never waits on epoll). */
static int fd_kind(int fd, int *err)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		*err = -errno;
		return 0;
	}
	*err = 0;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode))
		return -1;
	return S_ISSOCK(st.st_mode);
}

/* Forget @fd's record; its waiters complete with @res.  @ours: the fd is
 * still the file we registered, so its flags are put back. */
static void forget(corio_loop *l, int fd, int res, bool ours)
{
	struct corio__epoll *e = E(l);
	if ((unsigned)fd >= e->nfds || !e->fds[fd])
		return;
	struct corio__ep_fd *r = e->fds[fd];
	for (int d = 0; d < 2; d++)
		while (r->wait[d].head) {
			struct corio__op *op = op_of(r->wait[d].head);
			unpark(e, op);
			epoll_done(l, op, cut_short(op, res));
		}
	for (struct corio__op *op = op_of(e->retry.head), *next; op; op = next) {
		next = op_of(op->ep_link.next);
		if (op->ep_fd == r) {
			unpark(e, op);
			epoll_done(l, op, res);
		}
	}
	if (r->kicked)
		corio__list_remove(&e->kick, &r->kick);
	if (ours)
		flags_restore(r);
	epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
	free(r);
	e->fds[fd] = NULL;
}

/* The record for pollable @fd, created on first use: put
 * in the epoll set once, edge-triggered for both directions; a pipe, tty
 * or eventfd is made non-blocking.  Returns 0 and *@out = NULL for a
 * regular file or any fd epoll refuses (/dev/null): its ops go to the
 * pool.  Files get no record, so closing one with close(2) leaves nothing
 * stale. */
static int fd_record(corio_loop *l, int fd, struct corio__ep_fd **out)
{
	struct corio__epoll *e = E(l);
	*out = NULL;
	if (fd < 0)
		return -EBADF;
	if ((unsigned)fd < e->nfds && e->fds[fd]) {
		*out = e->fds[fd];
		return 0;
	}
	int err, kind = fd_kind(fd, &err);
	if (err || kind < 0)
		return err;
	if ((unsigned)fd >= e->nfds) {
		unsigned n = e->nfds ? e->nfds : 64;
		while (n <= (unsigned)fd)
			n *= 2;
		struct corio__ep_fd **v = realloc(e->fds, n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memset(v + e->nfds, 0, (n - e->nfds) * sizeof(*v));
		e->fds = v;
		e->nfds = n;
	}
	struct corio__ep_fd *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	err = ep_add(e, fd, &r->gen);
	if (err < 0) {
		free(r);
		return err == -EPERM ? 0 : err; /* EPERM: not pollable */
	}
	r->fd = fd;
	r->saved_fl = -1;
	r->sock = kind == 1;
	if (r->sock) {
		/* MSG_WAITALL gathers on byte streams only, as in the ring */
		int type = 0;
		socklen_t len = sizeof(type);
		getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
		r->stream = type == SOCK_STREAM || type == SOCK_SEQPACKET;
	} else {
		nonblock_on(r);
	}
	e->fds[fd] = r;
	*out = r;
	return 0;
}

/* Forget @fd before it is closed: its waiters get -ECANCELED.  Called by
 * corio_close() so that a reused fd number starts afresh. */
void corio__epoll_forget(corio_loop *l, int fd)
{
	forget(l, fd, -ECANCELED, true);
}

/* ---- trying an op --------------------------------------------------- */

/* A readiness check that never blocks, as IORING_OP_POLL_ADD reports it:
 * the events that are set, or EP_WAIT. */
static int poll_now(struct corio__op *op)
{
	struct pollfd p = {.fd = op->fd, .events = (short)(op->u.poll_mask & 0xffffu)};
	int n = poll(&p, 1, 0);
	if (n < 0)
		return -errno;
	if (p.revents & POLLNVAL)
		return -EBADF;
	return n ? (int)(uint16_t)p.revents : EP_WAIT;
}

/* A syscall's return as an op result; EAGAIN means wait. */
static int sys_result(ssize_t r)
{
	if (r >= 0)
		return r > INT_MAX ? INT_MAX : (int)r;
	return errno == EAGAIN || errno == EWOULDBLOCK ? EP_WAIT : -errno;
}

/* The caller's msghdr with what has moved skipped, in a copy of its
 * iovecs (theirs stay untouched), sent or received once. */
static ssize_t msg_rest(struct corio__op *op, struct msghdr *m, int fl)
{
	size_t skip = op->ep_done, i = 0;
	while (i < m->msg_iovlen && skip >= m->msg_iov[i].iov_len)
		skip -= m->msg_iov[i++].iov_len;
	size_t cnt = m->msg_iovlen - i;
	struct iovec small[8], *v = cnt <= 8 ? small : malloc(cnt * sizeof(*v));
	if (!v) {
		errno = ENOMEM;
		return -1;
	}
	if (cnt) {
		memcpy(v, m->msg_iov + i, cnt * sizeof(*v));
		v[0].iov_base = (char *)v[0].iov_base + skip;
		v[0].iov_len -= skip;
	}
	struct msghdr rest = {.msg_iov = v, .msg_iovlen = cnt};
	ssize_t n = op->code == CORIO__OP_RECVMSG ? recvmsg(op->fd, &rest, fl)
						  : sendmsg(op->fd, &rest, fl);
	int err = errno;
	if (n >= 0 && op->code == CORIO__OP_RECVMSG)
		m->msg_flags |= rest.msg_flags;
	if (v != small)
		free(v);
	errno = err;
	return n;
}

static size_t msg_len(const struct msghdr *m)
{
	size_t n = 0;
	for (size_t i = 0; i < m->msg_iovlen; i++)
		n += m->msg_iov[i].iov_len;
	return n;
}

/* recv/send and their msg forms.  MSG_WAITALL on a byte stream waits, as
 * in the ring, until everything has moved (or EOF, or an error after some
 * progress, which reports the progress); op->ep_done keeps the count
 * across edges.  A caller's MSG_DONTWAIT gets -EAGAIN (or the progress)
 * instead of waiting. */
static int xfer_now(struct corio__ep_fd *r, struct corio__op *op)
{
	int fl = op->u.net.flags;
	bool msg = op->code == CORIO__OP_RECVMSG || op->code == CORIO__OP_SENDMSG;
	size_t want = msg ? msg_len(op->buf) : op->len;
	/* a datagram is sent whole or not at all, and received one at a time */
	bool all = (fl & MSG_WAITALL) &&
		   (r->stream || op->code == CORIO__OP_SEND || op->code == CORIO__OP_SENDMSG);
	for (;;) {
		ssize_t n;
		char *p = (char *)op->buf + op->ep_done;
		if (msg && op->ep_done)
			n = msg_rest(op, op->buf, fl | MSG_DONTWAIT);
		else if (msg)
			n = op->code == CORIO__OP_RECVMSG ? recvmsg(op->fd, op->buf, fl | MSG_DONTWAIT)
							  : sendmsg(op->fd, op->buf, fl | MSG_DONTWAIT);
		else if (op->code == CORIO__OP_RECV)
			n = recv(op->fd, p, want - op->ep_done, fl | MSG_DONTWAIT);
		else
			n = send(op->fd, p, want - op->ep_done, fl | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		int res = sys_result(n);
		if (res == EP_WAIT && !(fl & MSG_DONTWAIT))
			return EP_WAIT;
		if (res < 0)
			return op->ep_done ? (int)op->ep_done : res == EP_WAIT ? -EAGAIN : res;
		op->ep_done += (uint32_t)res;
		if (!all || res == 0 || op->ep_done >= want || op->ep_done >= INT_MAX)
			return (int)op->ep_done;
	}
}

/* connect(2), non-blocking for the call only: EINPROGRESS waits for
 * writability, then SO_ERROR tells how it went. */
static int connect_now(struct corio__op *op)
{
	if (!op->ep_done) {
		int fl = fcntl(op->fd, F_GETFL);
		bool flip = fl >= 0 && !(fl & O_NONBLOCK);
		if (flip)
			fcntl(op->fd, F_SETFL, fl | O_NONBLOCK);
		int rc = connect(op->fd, op->u.net.addr, op->u.net.addrlen_in);
		int err = errno;
		if (flip)
			fcntl(op->fd, F_SETFL, fl);
		if (rc == 0)
			return 0;
		if (err == EINPROGRESS || err == EINTR) {
			op->ep_done = 1;
			return EP_WAIT;
		}
		return err == EAGAIN ? EP_RETRY : -err;
	}
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return -errno;
	if (err)
		return -err;
	struct pollfd p = {.fd = op->fd, .events = POLLOUT};
	if (poll(&p, 1, 0) < 0)
		return -errno;
	return (p.revents & POLLOUT) ? 0 : EP_WAIT;
}

/* One non-blocking try of the other ops.  Sockets take MSG_DONTWAIT and
 * no offset; a listener is made non-blocking to accept. */
static ssize_t syscall_now(struct corio__ep_fd *r, struct corio__op *op)
{
	int fl = op->u.net.flags; /* meaningful for the net ops only */
	switch (op->code) {
	case CORIO__OP_ACCEPT:
		nonblock_on(r);
		return accept4(op->fd, op->u.net.addr, op->u.net.addrlen, fl);
	case CORIO__OP_SHUTDOWN:
		return shutdown(op->fd, fl);
	default:
		break;
	}
	if (!r->sock)
		return corio__rw_exec(op); /* READ, WRITE, READV, WRITEV */
	if (op->code == CORIO__OP_READ)
		return recv(op->fd, op->buf, op->len, MSG_DONTWAIT);
	if (op->code == CORIO__OP_WRITE)
		return send(op->fd, op->buf, op->len, MSG_DONTWAIT);
	struct msghdr m = {.msg_iov = (struct iovec *)op->u.vec.iov,
			   .msg_iovlen = op->u.vec.nr};
	return op->code == CORIO__OP_READV ? recvmsg(op->fd, &m, MSG_DONTWAIT)
					   : sendmsg(op->fd, &m, MSG_DONTWAIT);
}

/* Try @op once on @r.  Returns the result, EP_WAIT or EP_RETRY. */
static int attempt(struct corio__ep_fd *r, struct corio__op *op)
{
	switch (op->code) {
	case CORIO__OP_POLL:
		return poll_now(op);
	case CORIO__OP_RECV:
	case CORIO__OP_SEND:
	case CORIO__OP_RECVMSG:
	case CORIO__OP_SENDMSG:
		return xfer_now(r, op);
	case CORIO__OP_CONNECT:
		return connect_now(op);
	case CORIO__OP_ACCEPT_MULTI:
		/* no epoll form (no CORIO__CAP_ACCEPT_MULTI) */
		return -EINVAL;
	default:
		break;
	}
	ssize_t n;
	do
		n = syscall_now(r, op);
	while (n < 0 && errno == EINTR);
	return sys_result(n);
}

/* Regular files are always "ready" to epoll, yet a read may wait for the
 * disk: their ops run on the offload pool, as libuv does.  The job record
 * is the backend's own, freed when the pool hands the op back. */
struct file_job {
	struct corio__job job;
	struct corio__op *op;
	corio_loop *loop;
	ssize_t res;
};

static void file_job_run(struct corio__job *j)
{
	struct file_job *f = corio__container_of(j, struct file_job, job);
	f->res = corio__op_exec(f->op);
}

static void file_job_done(struct corio__job *j)
{
	struct file_job *f = corio__container_of(j, struct file_job, job);
	struct corio__op *op = f->op;
	op->ep_job = NULL;
	epoll_done(f->loop, op, j->res == -ECANCELED ? -ECANCELED : (int)f->res);
	free(f);
}

static void offload_op(corio_loop *l, struct corio__op *op)
{
	struct file_job *f = calloc(1, sizeof(*f));
	int err = f ? 0 : -ENOMEM;
	if (f) {
		f->op = op;
		f->loop = l;
		f->job.run = file_job_run;
		f->job.done = file_job_done;
		op->ep_job = &f->job;
		err = corio__offload_submit(l, &f->job);
	}
	if (err) {
		op->ep_job = NULL;
		free(f);
		epoll_done(l, op, err);
	}
}

/* ---- multishot receive, buffer groups ------------------------------- */

static int epoll_bufgroup_init(corio_loop *l, struct corio__bufgroup *g)
{
	(void)l;
	struct corio__ep_bufs *b = malloc(sizeof(*b) + g->nbufs * sizeof(b->id[0]));
	if (!b)
		return -ENOMEM;
	/* the lowest ids on top: a light load touches few pages */
	for (unsigned i = 0; i < g->nbufs; i++)
		b->id[i] = (uint16_t)(g->nbufs - 1 - i);
	b->nfree = g->nbufs;
	g->be = b;
	return 0;
}

static void epoll_bufgroup_recycle(struct corio__bufgroup *g, unsigned bid)
{
	struct corio__ep_bufs *b = g->be;
	b->id[b->nfree++] = (uint16_t)bid;
}

static void epoll_bufgroup_fini(struct corio__bufgroup *g)
{
	free(g->be);
}

/* One receive into a free buffer of @op's group.  > 0: bytes, with
 * *@bid the buffer, handed to the op's owner; else the op's final result
 * (0 EOF, -ENOBUFS: no free buffer) or EP_WAIT. */
static int multi_recv(struct corio__ep_fd *r, struct corio__op *op, unsigned *bid)
{
	struct corio__bufgroup *g = op->u.net.bg;
	struct corio__ep_bufs *b = g->be;
	if (!b->nfree)
		return -ENOBUFS; /* as the kernel ends it when the ring is dry */
	*bid = b->id[b->nfree - 1];
	char *p = corio__bufgroup_buf(g, *bid);
	ssize_t n;
	do
		n = r->sock ? recv(op->fd, p, g->bufsize, op->u.net.flags | MSG_DONTWAIT)
			    : read(op->fd, p, g->bufsize);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		b->nfree--;
	return sys_result(n);
}

/*
 * Serve multishot @op on @r after an edge with events @m (0: a kick, no
 * edge): a completion per buffer filled, made now (the op belongs to a
 * heap record, not to a task that may not have suspended yet), until the
 * fd would block (EP_WAIT) or a final result.  A short receive after an
 * edge means the socket is empty: any later data brings its own edge, so
 * the receive that would only say EAGAIN is skipped (one system call per
 * message saved), unless the edge said the peer is gone (the FIN behind
 * the data brings no edge of its own) or this is a kick.
 * The owner copies the data out and recycles the buffer in the
 * completion, and may cancel the op there (backpressure): the op is then
 * off its list, its final -ECANCELED queued, and this stops.
 */
static int multi_now(struct corio__ep_fd *r, struct corio__op *op, uint32_t m)
{
	bool to_end = !m || (m & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
	for (;;) {
		unsigned bid;
		int res = multi_recv(r, op, &bid);
		if (res <= 0 || res == EP_WAIT)
			return res;
		op->complete(op, res,
			     CORIO__CQE_F_BUFFER | CORIO__CQE_F_MORE |
				     (bid << CORIO__CQE_BUFFER_SHIFT));
		if (!op->ep_fd || (!to_end && (unsigned)res < op->u.net.bg->bufsize))
			return EP_WAIT;
	}
}

/* Try @r's readers on the next poll, whether an edge comes or not: data
 * may have arrived before the op waited, and its edge gone by. */
static void kick(struct corio__epoll *e, struct corio__ep_fd *r)
{
	if (r->kicked)
		return;
	r->kicked = true;
	corio__list_push_back(&e->kick, &r->kick);
}

static void serve(corio_loop *l, struct corio__ep_fd *r, int dir, uint32_t m);

static void kicks_run(corio_loop *l)
{
	struct corio__epoll *e = E(l);
	struct corio__node *n;
	while ((n = corio__list_pop_front(&e->kick))) {
		struct corio__ep_fd *r = corio__list_entry(n, struct corio__ep_fd, kick);
		r->kicked = false;
		serve(l, r, 0, 0);
	}
}

/* A multishot op waits on its fd at once and is first tried on the next
 * poll, where its completions may run its owner's code. */
static void multi_submit(corio_loop *l, struct corio__ep_fd *r, struct corio__op *op, int err)
{
	if (!err && (!r || !op->u.net.bg || op->u.net.bg->loop != l))
		err = r ? -EINVAL : -ENOTSOCK;
	if (err) {
		epoll_done(l, op, err);
		return;
	}
	park(E(l), r, op, EP_WAIT);
	kick(E(l), r);
}

/* ---- submitting, cancelling, edges --------------------------------- */

/* Ops that run on the pool whatever the fd: paths, sync, space, splice,
 * waitid.  The rest wait for readiness on pollable fds. */
static bool pool_only(uint8_t code)
{
	return code >= CORIO__OP_OPENAT && code < CORIO__OP_ACCEPT &&
	       code != CORIO__OP_READV && code != CORIO__OP_WRITEV && code != CORIO__OP_POLL;
}

/* A connect starts a socket's life, as an accept does: a record under
 * its number with nobody waiting is let go, so that a number closed with
 * plain close(2) and reused for a new socket (a common slip) is
 * registered afresh.  One epoll_ctl per connect, none per wait. */
static void connect_starts(corio_loop *l, int fd)
{
	struct corio__epoll *e = E(l);
	struct corio__ep_fd *r = (unsigned)fd < e->nfds ? e->fds[fd] : NULL;
	if (r && !r->wait[0].head && !r->wait[1].head && !r->kicked)
		forget(l, fd, -EBADF, false);
}

/* @op finished with @res.  A socket accept made is a fresh fd, so any
 * record under its number is stale (closed with plain close(2)). */
static void finish(corio_loop *l, struct corio__op *op, int res)
{
	if (op->code == CORIO__OP_ACCEPT && res >= 0)
		forget(l, res, -EBADF, false);
	epoll_done(l, op, res);
}

/*
 * A read of a regular file whose pages are cached is a memcpy: try it
 * here with RWF_NOWAIT, as io_uring does inline, and leave to the pool
 * only reads that would wait for the disk (or fail, or find EOF: the pool
 * gives the real answer).  Not with O_DIRECT, where "no wait" still waits
 * for the device.  True with *@res set if the read is done.
 */
static bool cached_read(struct corio__op *op, int *res)
{
	if (op->code != CORIO__OP_READ && op->code != CORIO__OP_READV)
		return false;
	int fl = fcntl(op->fd, F_GETFL);
	if (fl < 0 || (fl & O_DIRECT) || (fl & O_ACCMODE) == O_WRONLY)
		return false;
	struct iovec one = {.iov_base = op->buf, .iov_len = op->len};
	bool vec = op->code == CORIO__OP_READV;
	ssize_t n = preadv2(op->fd, vec ? op->u.vec.iov : &one, vec ? (int)op->u.vec.nr : 1,
			    op->off == (uint64_t)-1 ? -1 : (off_t)op->off,
			    (vec ? op->u.vec.rwflags : 0) | RWF_NOWAIT);
	if (n <= 0)
		return false;
	*res = n > INT_MAX ? INT_MAX : (int)n;
	return true;
}

/* @op's fd has no record: a regular file (or the like) for the pool. */
static void no_record(corio_loop *l, struct corio__op *op)
{
	int res;
	if (op->code >= CORIO__OP_ACCEPT)
		epoll_done(l, op, -ENOTSOCK);
	else if (cached_read(op, &res))
		epoll_done(l, op, res);
	else
		offload_op(l, op);
}

static int try_on(struct corio__ep_fd *r, struct corio__op *op)
{
	int dir = op_dir(op);
	/* FIFO: with takers queued, a newcomer taker must not jump the line */
	if (consumes(op) && r->takers[dir])
		return EP_WAIT;
	return attempt(r, op);
}

static void epoll_submit(corio_loop *l, struct corio__op *op)
{
	struct corio__epoll *e = E(l);
	e->inflight++;
	l->st.sqes++;
	op->ep_fd = NULL;
	op->ep_job = NULL;
	op->ep_done = 0;
	if (op->code == CORIO__OP_NOP || corio__unlikely(op->fault)) {
		epoll_done(l, op, 0); /* a faulted op's stand-in: corio__op_res() */
		return;
	}
	if (pool_only(op->code)) {
		offload_op(l, op);
		return;
	}
	if (op->code == CORIO__OP_CONNECT)
		connect_starts(l, op->fd);
	struct corio__ep_fd *r;
	int err = fd_record(l, op->fd, &r);
	if (multishot(op)) {
		multi_submit(l, r, op, err);
		return;
	}
	if (err) {
		epoll_done(l, op, err);
		return;
	}
	if (!r) {
		no_record(l, op);
		return;
	}
	int res = try_on(r, op);
	if (res == EP_WAIT || res == EP_RETRY)
		park(e, r, op, res);
	else
		finish(l, op, res);
}

static void epoll_cancel(corio_loop *l, struct corio__op *op)
{
	if (op->ep_fd) {
		unpark(E(l), op);
		epoll_done(l, op, cut_short(op, -ECANCELED));
	} else if (op->ep_job) {
		/* taken back if it has not started; a running job is waited for */
		corio__offload_cancel(l, op->ep_job);
	}
	/* else: already on the completion list */
}

/* Try waiting @op again after an edge with events @m (0: none known);
 * true if it finished. */
static bool retry_one(corio_loop *l, struct corio__op *op, uint32_t m)
{
	struct corio__epoll *e = E(l);
	struct corio__ep_fd *r = op->ep_fd;
	int res = multishot(op) ? multi_now(r, op, m) : attempt(r, op);
	if (res == EP_RETRY && op->ep_dir != 2) {
		/* a Unix backlog is full: no edge will say when it is not */
		unpark(e, op);
		park(e, r, op, EP_RETRY);
		return false;
	}
	if (res == EP_WAIT || res == EP_RETRY || !op->ep_fd)
		return false; /* waits, or a multishot op ended by its owner */
	unpark(e, op);
	finish(l, op, res);
	return true;
}

/* An edge on @r for direction @dir: its takers in order until one would
 * block again; every poll among them looks, whatever the takers do. */
static void serve(corio_loop *l, struct corio__ep_fd *r, int dir, uint32_t m)
{
	bool blocked = false;
	for (struct corio__op *op = op_of(r->wait[dir].head), *next; op; op = next) {
		next = op_of(op->ep_link.next);
		bool taker = consumes(op);
		if (taker && blocked)
			continue;
		if (!retry_one(l, op, m) && taker)
			blocked = true;
	}
}

/* A write edge for the both-ways POLL ops among the readers. */
static void serve_poll_out(corio_loop *l, struct corio__ep_fd *r, uint32_t m)
{
	for (struct corio__op *op = op_of(r->wait[0].head), *next; op && r->both; op = next) {
		next = op_of(op->ep_link.next);
		if (polls_out_too(op))
			retry_one(l, op, m);
	}
}

static void dispatch(corio_loop *l, struct epoll_event *ev)
{
	struct corio__epoll *e = E(l);
	unsigned fd = (unsigned)(ev->data.u64 & 0xffffffffu);
	uint32_t gen = (uint32_t)(ev->data.u64 >> 32);
	if (fd >= e->nfds || !e->fds[fd] || e->fds[fd]->gen != gen)
		return; /* an event for a record that is gone */
	struct corio__ep_fd *r = e->fds[fd];
	uint32_t m = ev->events;
	if (m & (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		serve(l, r, 0, m);
	if (m & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
		serve(l, r, 1, m);
		if (r->both)
			serve_poll_out(l, r, m);
	}
}

/* How long a connect waiting for room in a Unix backlog sleeps between
 * tries: nothing announces the room. */
#define RETRY_NS (1000 * 1000)

/* While the loop has work (tasks to run, completions to deliver), this
 * many turns in a row may skip epoll_wait: io_uring looks at its
 * completion ring for free, epoll pays a system call to look.  Edges keep
 * in the kernel meanwhile; the bound keeps a loop that only yields from
 * starving its fds. */
#define BUSY_TURNS 32

static int epoll_poll(corio_loop *l, int64_t timeout_ns)
{
	struct corio__epoll *e = E(l);
	if (!corio__list_empty(&e->done) || !corio__list_empty(&e->kick))
		timeout_ns = 0;
	else if (e->retry.head && (timeout_ns < 0 || timeout_ns > RETRY_NS))
		timeout_ns = RETRY_NS;
	if (timeout_ns && corio__loop_spin_due(l) && corio__loop_spin(l, NULL))
		timeout_ns = 0;
	if (timeout_ns && !corio__loop_sleep_begin(l))
		timeout_ns = 0; /* a message came: take it, don't sleep */
	if (timeout_ns == 0 && e->busy_turns < BUSY_TURNS) {
		e->busy_turns++;
		kicks_run(l);
		deliver(l, e);
		return 0;
	}
	e->busy_turns = 0;
	struct epoll_event evs[MAX_EVENTS];
	struct timespec ts, *tsp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	int n = epoll_pwait2(e->epfd, evs, MAX_EVENTS, tsp, NULL);
	if (n < 0 && errno == ENOSYS) { /* kernels before 5.11 */
		int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
		n = epoll_wait(e->epfd, evs, MAX_EVENTS, ms);
	}
	corio__loop_sleep_end(l);
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	for (int i = 0; i < n; i++)
		dispatch(l, &evs[i]);
	for (struct corio__op *op = op_of(e->retry.head), *next; op; op = next) {
		next = op_of(op->ep_link.next);
		retry_one(l, op, 0);
	}
	kicks_run(l);
	deliver(l, e);
	return 0;
}

/* ---- setup ---------------------------------------------------------- */

static int epoll_init(corio_loop *l, const corio_loop_options *o)
{
	(void)o;
	struct corio__epoll *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0) {
		int err = -errno;
		free(e);
		return err;
	}
	l->be_data = e;
	l->caps = CORIO__CAP_RECV_MULTI;
	return 0;
}

static unsigned epoll_inflight(corio_loop *l)
{
	return E(l)->inflight;
}

/* Called once nothing is in flight (corio_loop_free()'s drain). */
static void epoll_fini(corio_loop *l)
{
	struct corio__epoll *e = E(l);
	for (unsigned i = 0; i < e->nfds; i++) {
		struct corio__ep_fd *r = e->fds[i];
		uint32_t gen;
		/* put back the flags of fds still ours (not closed and reused) */
		if (r && r->saved_fl >= 0 && ep_add(e, r->fd, &gen) == 1)
			flags_restore(r);
		free(r);
	}
	free(e->fds);
	close(e->epfd);
	free(e);
	l->be_data = NULL;
}

const struct corio__backend corio__epoll_backend = {
	.name = "epoll",
	.init = epoll_init,
	.fini = epoll_fini,
	.submit = epoll_submit,
	.cancel = epoll_cancel,
	.poll = epoll_poll,
	.forget = corio__epoll_forget,
	.inflight = epoll_inflight,
	.bufgroup_init = epoll_bufgroup_init,
	.bufgroup_recycle = epoll_bufgroup_recycle,
	.bufgroup_fini = epoll_bufgroup_fini,
};
