/* SPDX-License-Identifier: MIT */
/*
 * epoll.c - the epoll backend: the same ops as io_uring, done the classic
 * way.  An op on a pollable fd (socket, pipe, eventfd, tty) first tries
 * its syscall non-blocking; on EAGAIN it waits on the fd's record, which is
 * registered once, edge-triggered for both directions, and keeps one FIFO
 * of waiters per direction.  An edge retries the waiters of its direction
 * in order until one would block again.  Ops that finish at once go on a
 * completion list the next poll delivers, so a completion never reaches a
 * task that has not suspended yet.  Regular files go to the offload pool.
 */
#include "corio_int.h"
#include "epoll_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256

static struct corio__epoll *E(corio_loop *l)
{
	return l->be_data;
}

/* ---- completion list ------------------------------------------------ */

static void epoll_done(corio_loop *l, struct corio__op *op, int res)
{
	struct corio__epoll *e = E(l);
	op->res = res;
	op->ep_next = NULL;
	*e->done_tail = op;
	e->done_tail = &op->ep_next;
}

static unsigned deliver(struct corio__epoll *e)
{
	unsigned n = 0;
	while (e->done) {
		struct corio__op *op = e->done;
		e->done = op->ep_next;
		if (!e->done)
			e->done_tail = &e->done;
		e->inflight--;
		n++;
		op->complete(op, op->res, 0);
	}
	return n;
}

/* ---- fd records ----------------------------------------------------- */

static void list_push(struct corio__ep_list *q, struct corio__op *op)
{
	op->ep_next = NULL;
	op->ep_prev = q->tail;
	if (q->tail)
		q->tail->ep_next = op;
	else
		q->head = op;
	q->tail = op;
}

static void list_unlink(struct corio__ep_list *q, struct corio__op *op)
{
	if (op->ep_prev)
		op->ep_prev->ep_next = op->ep_next;
	else
		q->head = op->ep_next;
	if (op->ep_next)
		op->ep_next->ep_prev = op->ep_prev;
	else
		q->tail = op->ep_prev;
	op->ep_next = op->ep_prev = NULL;
}

/* The record for @fd, created (and the fd made non-blocking and put in
 * the epoll set) on first use.  NULL with *err set on failure. */
static struct corio__ep_fd *fd_record(corio_loop *l, int fd, int *err)
{
	struct corio__epoll *e = E(l);
	if ((unsigned)fd >= e->nfds) {
		unsigned n = e->nfds ? e->nfds : 64;
		while (n <= (unsigned)fd)
			n *= 2;
		struct corio__ep_fd **v = realloc(e->fds, n * sizeof(*v));
		if (!v) {
			*err = -ENOMEM;
			return NULL;
		}
		memset(v + e->nfds, 0, (n - e->nfds) * sizeof(*v));
		e->fds = v;
		e->nfds = n;
	}
	struct corio__ep_fd *r = e->fds[fd];
	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r) {
		*err = -ENOMEM;
		return NULL;
	}
	r->fd = fd;
	r->gen = ++e->gen;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		*err = -errno;
		free(r);
		return NULL;
	}
	r->is_file = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode);
	if (!r->is_file) {
		struct epoll_event ev = {
			.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
			.data.u64 = (uint64_t)(unsigned)fd | ((uint64_t)r->gen << 32)};
		if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 || errno == EEXIST) {
			int fl = fcntl(fd, F_GETFL);
			if (fl >= 0 && !(fl & O_NONBLOCK))
				fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		} else if (errno == EPERM) {
			r->is_file = true; /* not pollable (/dev/null, /dev/full) */
		} else {
			*err = -errno;
			free(r);
			return NULL;
		}
	}
	e->fds[fd] = r;
	return r;
}

/* Forget @fd before it is closed: its waiters get -ECANCELED.  Called by
 * corio_close() so that a reused fd number starts afresh. */
void corio__epoll_forget(corio_loop *l, int fd)
{
	struct corio__epoll *e = E(l);
	if ((unsigned)fd >= e->nfds || !e->fds[fd])
		return;
	struct corio__ep_fd *r = e->fds[fd];
	for (int d = 0; d < 2; d++)
		while (r->wait[d].head) {
			struct corio__op *op = r->wait[d].head;
			list_unlink(&r->wait[d], op);
			epoll_done(l, op, -ECANCELED);
		}
	if (!r->is_file)
		epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
	free(r);
	e->fds[fd] = NULL;
}

/* ---- doing an op ---------------------------------------------------- */

/* Which direction an op waits in: 0 readable, 1 writable. */
static int op_dir(const struct corio__op *op)
{
	if (op->code == CORIO__OP_POLL)
		return (op->u.poll_mask & POLLOUT) && !(op->u.poll_mask & POLLIN);
	return op->code == CORIO__OP_WRITE ? 1 : 0;
}

/* A readiness check that never blocks, as IORING_OP_POLL_ADD reports it:
 * the events that are set, or -EAGAIN to wait for an edge. */
static int poll_now(struct corio__op *op)
{
	struct pollfd p = {.fd = op->fd, .events = (short)op->u.poll_mask};
	int n = poll(&p, 1, 0);
	if (n < 0)
		return -errno;
	if (p.revents & POLLNVAL)
		return -EBADF;
	return n ? (int)(uint16_t)p.revents : -EAGAIN;
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

/* Try @op's syscall once.  Returns the result, or -EAGAIN to wait. */
static int attempt(struct corio__op *op)
{
	ssize_t r;
	switch (op->code) {
	case CORIO__OP_READ:
		r = read(op->fd, op->buf, op->len);
		break;
	case CORIO__OP_WRITE:
		r = write(op->fd, op->buf, op->len);
		break;
	case CORIO__OP_POLL:
		return poll_now(op);
	default:
		return -ENOSYS; /* an op this backend does not implement yet */
	}
	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (int)r;
}

static void park(struct corio__ep_fd *r, struct corio__op *op)
{
	int dir = op_dir(op);
	op->ep_fd = r;
	op->ep_dir = (uint8_t)dir;
	list_push(&r->wait[dir], op);
}

static void epoll_submit(corio_loop *l, struct corio__op *op)
{
	struct corio__epoll *e = E(l);
	e->inflight++;
	op->ep_fd = NULL;
	op->ep_job = NULL;
	if (op->code == CORIO__OP_NOP) {
		epoll_done(l, op, 0);
		return;
	}
	int err = 0;
	struct corio__ep_fd *r = fd_record(l, op->fd, &err);
	if (!r) {
		epoll_done(l, op, err);
		return;
	}
	if (r->is_file) {
		offload_op(l, op);
		return;
	}
	int dir = op_dir(op);
	/* FIFO: with waiters queued, a newcomer must not jump the line */
	int res = r->wait[dir].head ? -EAGAIN : attempt(op);
	if (res == -EAGAIN)
		park(r, op);
	else
		epoll_done(l, op, res);
}

static void epoll_cancel(corio_loop *l, struct corio__op *op)
{
	if (op->ep_fd) {
		list_unlink(&op->ep_fd->wait[op->ep_dir], op);
		op->ep_fd = NULL;
		epoll_done(l, op, -ECANCELED);
	} else if (op->ep_job) {
		/* taken back if it has not started; a running job is waited for */
		corio__offload_cancel(l, op->ep_job);
	}
	/* else: already on the completion list */
}

/* An edge on @r for direction @dir: serve its waiters in order until one
 * would block again. */
static void serve(corio_loop *l, struct corio__ep_fd *r, int dir)
{
	struct corio__op *op;
	while ((op = r->wait[dir].head)) {
		int res = attempt(op);
		if (res == -EAGAIN)
			break;
		list_unlink(&r->wait[dir], op);
		op->ep_fd = NULL;
		epoll_done(l, op, res);
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
	if (m & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		serve(l, r, 0);
	if (m & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		serve(l, r, 1);
}

static int epoll_poll(corio_loop *l, int64_t timeout_ns)
{
	struct corio__epoll *e = E(l);
	if (e->done)
		timeout_ns = 0;
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
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	for (int i = 0; i < n; i++)
		dispatch(l, &evs[i]);
	deliver(e);
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
	e->done_tail = &e->done;
	l->be_data = e;
	return 0;
}

static void epoll_fini(corio_loop *l)
{
	struct corio__epoll *e = E(l);
	if (l->wake_inflight)
		epoll_cancel(l, &l->wake_op);
	deliver(e);
	for (unsigned i = 0; i < e->nfds; i++)
		free(e->fds[i]);
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
};
