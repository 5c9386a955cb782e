/* SPDX-License-Identifier: MIT */
/*
 * offload.c - the offload pool (DESIGN.md section 5): one fixed set of
 * worker threads per process, shared by its loops and started on first
 * use, that run blocking or CPU-bound functions while the loops keep
 * going.  Jobs are records owned by their submitter (usually on a waiting
 * task's stack); a bounded shared queue feeds the workers, overflow waits
 * on the submitting loop's side, and finished jobs come back to the loop
 * that submitted them through that loop's eventfd, which it keeps a read
 * on, so a burst of completions costs one wakeup.  Also runs ops the backend cannot do
 * (corio__op_exec) so file calls work on every backend and kernel.
 */
#include "corio_int.h"
#include "corio/io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h> /* renameat2 */
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define QUEUE_PER_THREAD 64u

/* Where a job is.  Only its loop's thread moves a job into or out of
 * OVERFLOW; QUEUED -> RUNNING -> FINISHED happen under the workers' lock. */
enum { J_NEW, J_OVERFLOW, J_QUEUED, J_RUNNING, J_FINISHED, J_DONE };

/* The process's worker threads, shared by every loop that offloads, made
 * by the first one (sized once, from the CPUs online) and joined when the
 * last one is freed.  One lock guards the shared queue and every loop's
 * finished list. */
struct workers {
	pthread_mutex_t lock;
	pthread_cond_t cv;        /* workers wait here for jobs */
	pthread_cond_t idle;      /* a job finished (a freed loop waits for its own) */
	struct corio__list queue; /* shared queue (lock) */
	unsigned queued, cap;     /* its length and bound (lock) */
	bool shutdown;            /* workers must exit (lock) */
	pthread_t *threads;
	unsigned nthreads;
	unsigned users;           /* loops with a pool (users_lock) */
	unsigned fork_gen;        /* corio__fork_gen when made */
};

static pthread_mutex_t users_lock = PTHREAD_MUTEX_INITIALIZER;
static struct workers *shared_workers; /* (users_lock) */

/* A loop's side of the pool: where its finished jobs come back. */
struct corio__pool {
	struct workers *w;
	struct corio__list finished;    /* run, not yet delivered (w->lock) */
	bool notify_armed;              /* an eventfd write is pending (w->lock) */
	unsigned running;               /* its jobs queued or running (w->lock) */
	/* loop thread only */
	struct corio__list overflow;    /* waiting for room in the queue */
	corio_loop *loop;
	unsigned outstanding;     /* submitted, done() not yet run */
	int efd;                  /* workers -> loop */
	struct corio__op ev_op;   /* the loop's read of efd */
	uint64_t ev_buf;
	bool ev_inflight;
	bool closing;             /* the loop is being freed */
};

/* ---- the shared queue (lock held) ----------------------------------- */

static struct corio__job *job_of(struct corio__node *n)
{
	return corio__list_entry(n, struct corio__job, link);
}

/* ---- workers -------------------------------------------------------- */

/* Hand a finished job to its loop.  True if the eventfd must be written:
 * only the first completion since the loop last drained writes it. */
static bool finish_locked(struct corio__pool *p, struct corio__job *j)
{
	j->state = J_FINISHED;
	p->running--;
	corio__list_push_back(&p->finished, &j->link);
	pthread_cond_broadcast(&p->w->idle);
	if (p->notify_armed)
		return false;
	p->notify_armed = true;
	return true;
}

static struct corio__job *next_locked(struct workers *w)
{
	while (corio__list_empty(&w->queue) && !w->shutdown)
		pthread_cond_wait(&w->cv, &w->lock);
	if (w->shutdown)
		return NULL; /* nothing is queued: every loop withdrew its jobs */
	struct corio__job *j = job_of(corio__list_pop_front(&w->queue));
	w->queued--;
	j->state = J_RUNNING;
	return j;
}

static void notify(int efd)
{
	uint64_t one = 1;
	ssize_t r;
	do
		r = write(efd, &one, sizeof(one));
	while (r < 0 && errno == EINTR);
}

static void *worker(void *arg)
{
	struct workers *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->lock);
		struct corio__job *j = next_locked(w);
		pthread_mutex_unlock(&w->lock);
		if (!j)
			return NULL;
		struct corio__pool *p = j->pool;
		j->run(j);
		/* the job is the loop's again from here: do not touch it after.
		 * The eventfd is written under the lock: a loop being freed
		 * closes it once none of its jobs is running (withdraw_all). */
		pthread_mutex_lock(&w->lock);
		if (finish_locked(p, j))
			notify(p->efd);
		pthread_mutex_unlock(&w->lock);
	}
}

/* ---- the loop side -------------------------------------------------- */

static void ev_complete(struct corio__op *op, int res, uint32_t flags);

/* The read is armed only while jobs are out: an idle pool costs the loop
 * nothing (the backend can skip its syscall when only the loop's own
 * wakeup read is in flight).  A completion that comes while it is not
 * armed stays counted in the eventfd, so the next read returns at once. */
static void arm_read(struct corio__pool *p)
{
	if (p->ev_inflight || p->closing || !p->outstanding)
		return;
	struct corio__op *op = &p->ev_op;
	*op = (struct corio__op){.code = CORIO__OP_READ, .fd = p->efd, .buf = &p->ev_buf,
				 .len = sizeof(p->ev_buf), .off = (uint64_t)-1,
				 .complete = ev_complete};
	p->ev_inflight = true;
	p->loop->be->submit(p->loop, op);
}

/* Move overflow jobs into the shared queue while it has room. */
static void refill(struct corio__pool *p)
{
	if (corio__list_empty(&p->overflow))
		return;
	struct workers *w = p->w;
	pthread_mutex_lock(&w->lock);
	bool moved = false;
	while (!corio__list_empty(&p->overflow) && w->queued < w->cap) {
		struct corio__job *j = job_of(corio__list_pop_front(&p->overflow));
		corio__list_push_back(&w->queue, &j->link);
		j->state = J_QUEUED;
		w->queued++;
		p->running++;
		moved = true;
	}
	if (moved)
		pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->lock);
}

static void deliver(struct corio__pool *p, struct corio__job *j)
{
	j->state = J_DONE;
	p->outstanding--;
	j->done(j);
}

/* Deliver what the workers finished, oldest first. */
static void drain(struct corio__pool *p)
{
	pthread_mutex_lock(&p->w->lock);
	struct corio__list done = p->finished;
	p->finished = (struct corio__list){0};
	p->notify_armed = false; /* a worker finishing after this writes again */
	pthread_mutex_unlock(&p->w->lock);
	refill(p);
	struct corio__node *n;
	while ((n = corio__list_pop_front(&done)))
		deliver(p, job_of(n));
}

static void workers_put(struct workers *w);

static void pool_free(struct corio__pool *p)
{
	close(p->efd);
	workers_put(p->w);
	free(p);
}

static void ev_complete(struct corio__op *op, int res, uint32_t flags)
{
	(void)res;
	(void)flags;
	struct corio__pool *p = corio__container_of(op, struct corio__pool, ev_op);
	p->ev_inflight = false;
	if (p->closing) {
		pool_free(p); /* the last reference: corio__offload_fini left it to us */
		return;
	}
	drain(p);
	arm_read(p);
}

/* ---- start and stop ------------------------------------------------- */

static unsigned default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 2 ? 2u : (unsigned)n;
}

static void stop_workers(struct workers *w, unsigned started)
{
	pthread_mutex_lock(&w->lock);
	w->shutdown = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(w->threads[i], NULL);
}

/* Workers block every asynchronous signal: signals meant for the program
 * go to its own threads (or to corio_signal_wait's signalfd). */
static int start_workers(struct workers *w)
{
	sigset_t all, old;
	sigfillset(&all);
	static const int sync_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};
	for (size_t i = 0; i < sizeof(sync_sigs) / sizeof(sync_sigs[0]); i++)
		sigdelset(&all, sync_sigs[i]);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = 0;
	unsigned i;
	for (i = 0; i < w->nthreads && !err; i++)
		err = -pthread_create(&w->threads[i], NULL, worker, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		stop_workers(w, i - 1);
	return err;
}

static void workers_destroy(struct workers *w)
{
	pthread_cond_destroy(&w->idle);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->lock);
	free(w->threads);
	free(w);
}

static int workers_new(struct workers **out)
{
	struct workers *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->nthreads = default_threads();
	w->cap = w->nthreads * QUEUE_PER_THREAD;
	w->fork_gen = corio__fork_gen;
	w->threads = calloc(w->nthreads, sizeof(*w->threads));
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->idle, NULL);
	int err = w->threads ? start_workers(w) : -ENOMEM;
	if (err) {
		workers_destroy(w);
		return err;
	}
	*out = w;
	return 0;
}

/* The shared workers, made on first use.  In the child of a fork the
 * parent's are gone (threads do not survive fork): forgotten, not freed. */
static int workers_get(struct workers **out)
{
	int err = 0;
	pthread_mutex_lock(&users_lock);
	if (shared_workers && shared_workers->fork_gen != corio__fork_gen)
		shared_workers = NULL;
	if (!shared_workers)
		err = workers_new(&shared_workers);
	if (!err) {
		shared_workers->users++;
		*out = shared_workers;
	}
	pthread_mutex_unlock(&users_lock);
	return err;
}

static void workers_put(struct workers *w)
{
	pthread_mutex_lock(&users_lock);
	bool last = --w->users == 0;
	if (last && shared_workers == w)
		shared_workers = NULL;
	pthread_mutex_unlock(&users_lock);
	if (!last)
		return;
	stop_workers(w, w->nthreads);
	workers_destroy(w);
}

static int pool_get(corio_loop *l, struct corio__pool **out)
{
	if (!l->offload) {
		if (l->closing)
			return -ESHUTDOWN;
		struct corio__pool *p = calloc(1, sizeof(*p));
		if (!p)
			return -ENOMEM;
		p->loop = l;
		p->efd = eventfd(0, EFD_CLOEXEC);
		int err = p->efd < 0 ? -errno : workers_get(&p->w);
		if (err) {
			if (p->efd >= 0)
				close(p->efd);
			free(p);
			return err;
		}
		l->offload = p;
	}
	*out = l->offload;
	return 0;
}

/* Take @p's jobs back from the shared queue and wait for its running
 * ones (the workers are shared: they are not stopped for one loop). */
static void withdraw_all(struct corio__pool *p)
{
	struct workers *w = p->w;
	struct corio__list mine = {0};
	pthread_mutex_lock(&w->lock);
	struct corio__node *n, *tmp;
	corio__list_for_each_safe(n, tmp, &w->queue) {
		if (job_of(n)->pool != p)
			continue;
		corio__list_remove(&w->queue, n);
		w->queued--;
		p->running--;
		corio__list_push_back(&mine, n);
	}
	while (p->running)
		pthread_cond_wait(&w->idle, &w->lock);
	pthread_mutex_unlock(&w->lock);
	while ((n = corio__list_pop_front(&p->overflow)) || (n = corio__list_pop_front(&mine))) {
		struct corio__job *j = job_of(n);
		j->res = -ECANCELED;
		deliver(p, j);
	}
}

/* Called by corio_loop_free() before the backend stops.  No task is alive,
 * so no job can be waiting; whatever is left is cancelled anyway. */
void corio__offload_fini(corio_loop *l)
{
	struct corio__pool *p = l->offload;
	if (!p)
		return;
	withdraw_all(p);
	drain(p);
	l->offload = NULL;
	p->closing = true;
	if (p->ev_inflight)
		l->be->cancel(l, &p->ev_op); /* ev_complete frees the pool */
	else
		pool_free(p);
}

/* ---- the internal API ----------------------------------------------- */

int corio__offload_submit(corio_loop *l, struct corio__job *j)
{
	struct corio__pool *p;
	int err = pool_get(l, &p);
	if (err)
		return err;
	j->res = 0;
	j->pool = p;
	p->outstanding++;
	arm_read(p);
	if (corio__list_empty(&p->overflow)) {
		struct workers *w = p->w;
		pthread_mutex_lock(&w->lock);
		bool room = w->queued < w->cap;
		if (room) {
			corio__list_push_back(&w->queue, &j->link);
			j->state = J_QUEUED;
			w->queued++;
			p->running++;
			pthread_cond_signal(&w->cv);
		}
		pthread_mutex_unlock(&w->lock);
		if (room)
			return 0;
	}
	corio__list_push_back(&p->overflow, &j->link);
	j->state = J_OVERFLOW;
	return 0;
}

bool corio__offload_cancel(corio_loop *l, struct corio__job *j)
{
	struct corio__pool *p = l->offload;
	if (!p)
		return false;
	bool removed = true;
	pthread_mutex_lock(&p->w->lock); /* workers move state on: read it locked */
	if (j->state == J_OVERFLOW) {
		corio__list_remove(&p->overflow, &j->link);
	} else if (j->state == J_QUEUED) {
		corio__list_remove(&p->w->queue, &j->link);
		p->w->queued--;
		p->running--;
	} else {
		removed = false; /* running or finished: done() follows */
	}
	pthread_mutex_unlock(&p->w->lock);
	if (!removed)
		return false;
	j->res = -ECANCELED;
	deliver(p, j);
	refill(p);
	return true;
}

/* ---- waiting for a job from a task ---------------------------------- */

struct waiter {
	struct corio__job job;
	struct corio__wait wait;
	corio_task *task;
	bool cancel_sent;
};

static void waiter_done(struct corio__job *j)
{
	struct waiter *w = corio__container_of(j, struct waiter, job);
	corio__wake(w->task, j->res);
}

/* A queued job is taken back at once; a running one is waited for. */
static void waiter_interrupt(corio_task *t, struct corio__wait *cw, int err)
{
	(void)err;
	struct waiter *w = corio__container_of(cw, struct waiter, wait);
	if (w->cancel_sent)
		return;
	w->cancel_sent = true;
	corio__offload_cancel(t->loop, &w->job);
}

/* Submit @w's job (run already set) and suspend until it is done.  0 once
 * it ran; -ECANCELED or -ETIMEDOUT if it was taken back unrun. */
static void waiter_describe(const struct corio__wait *w, char *buf, size_t n)
{
	(void)w;
	snprintf(buf, n, "a function on the offload pool");
}

static int waiter_run(struct waiter *w)
{
	int err = corio__may_block();
	if (err)
		return err;
	corio_loop *l = corio__tls_loop;
	w->task = l->current;
	w->job.done = waiter_done;
	w->wait.interrupt = waiter_interrupt;
	w->wait.describe = waiter_describe;
	w->cancel_sent = false;
	err = corio__offload_submit(l, &w->job);
	if (err)
		return err;
	return corio__await(w->task, &w->wait, &w->cancel_sent);
}

struct call {
	struct waiter w;
	corio_fn fn;
	void *arg;
	void *result;
};

static void call_run(struct corio__job *j)
{
	struct call *c = corio__container_of(j, struct call, w.job);
	c->result = c->fn(c->arg);
}

int corio_offload(corio_fn fn, void *arg, void **result)
{
	if (!fn)
		return -EINVAL;
	struct call c = {.w.job.run = call_run, .fn = fn, .arg = arg};
	int err = waiter_run(&c.w);
	if (!err && result)
		*result = c.result;
	return err;
}

/* ---- ops run as plain syscalls on a worker -------------------------- */

/* The read/write family, by position or at op->off (-1 on errno). */
ssize_t corio__rw_exec(struct corio__op *op)
{
	bool pos = op->off == (uint64_t)-1;
	off_t off = (off_t)op->off;
	switch (op->code) {
	case CORIO__OP_READ:
		return pos ? read(op->fd, op->buf, op->len) : pread(op->fd, op->buf, op->len, off);
	case CORIO__OP_WRITE:
		return pos ? write(op->fd, op->buf, op->len)
			   : pwrite(op->fd, op->buf, op->len, off);
	case CORIO__OP_READV:
		return preadv2(op->fd, op->u.vec.iov, (int)op->u.vec.nr, pos ? -1 : off,
			       op->u.vec.rwflags);
	default: /* CORIO__OP_WRITEV */
		return pwritev2(op->fd, op->u.vec.iov, (int)op->u.vec.nr, pos ? -1 : off,
				op->u.vec.rwflags);
	}
}

/* On a worker thread no cancel can stop a splice that waits, and a
 * socket's blocking mode is its own (corio keeps sockets blocking): with
 * SPLICE_F_NONBLOCK asked, a socket at the far end is made non-blocking
 * for the call, so the splice gives -EAGAIN rather than wait for room.
 * The epoll backend's own socket ops use MSG_DONTWAIT and do not mind. */
static ssize_t splice_exec(struct corio__op *op)
{
	loff_t in = (loff_t)op->off, out = (loff_t)op->u.splice.off_out;
	int fd_out = op->u.splice.fd_out, fl = -1;
	struct stat st;
	if ((op->u.splice.flags & SPLICE_F_NONBLOCK) && fstat(fd_out, &st) == 0 &&
	    S_ISSOCK(st.st_mode) && (fl = fcntl(fd_out, F_GETFL)) >= 0 && !(fl & O_NONBLOCK))
		fcntl(fd_out, F_SETFL, fl | O_NONBLOCK);
	else
		fl = -1;
	ssize_t r = splice(op->fd, op->off == (uint64_t)-1 ? NULL : &in, fd_out,
			   op->u.splice.off_out == (uint64_t)-1 ? NULL : &out, op->len,
			   op->u.splice.flags);
	int saved = errno;
	if (fl >= 0)
		fcntl(fd_out, F_SETFL, fl);
	errno = saved;
	return r;
}

static ssize_t path_exec(struct corio__op *op)
{
	switch (op->code) {
	case CORIO__OP_OPENAT:
		return openat(op->u.path.dirfd, op->u.path.path, op->u.path.flags,
			      (mode_t)op->u.path.mode);
	case CORIO__OP_STATX:
		return statx(op->u.statx.dirfd, op->u.statx.path, op->u.statx.flags,
			     op->u.statx.mask, op->u.statx.buf);
	case CORIO__OP_UNLINKAT:
		return unlinkat(op->u.path.dirfd, op->u.path.path, op->u.path.flags);
	case CORIO__OP_RENAMEAT:
		return renameat2(op->u.rename.from_dir, op->u.rename.from, op->u.rename.to_dir,
				 op->u.rename.to, op->u.rename.flags);
	default: /* CORIO__OP_MKDIRAT */
		return mkdirat(op->u.path.dirfd, op->u.path.path, (mode_t)op->u.path.mode);
	}
}

static ssize_t misc_exec(struct corio__op *op)
{
	switch (op->code) {
	case CORIO__OP_NOP:
		return 0;
	case CORIO__OP_CLOSE:
		return close(op->fd);
	case CORIO__OP_FSYNC:
		return op->u.datasync ? fdatasync(op->fd) : fsync(op->fd);
	case CORIO__OP_FALLOCATE:
		return fallocate(op->fd, op->u.falloc.mode, (off_t)op->off,
				 (off_t)op->u.falloc.len);
	case CORIO__OP_POLL: {
		struct pollfd pfd = {.fd = op->fd, .events = (short)op->u.poll_mask};
		int n = poll(&pfd, 1, -1);
		return n > 0 ? pfd.revents : n;
	}
	default: /* CORIO__OP_WAITID */
		return waitid((idtype_t)P_PIDFD, (id_t)op->fd, op->u.waitid.info,
			      op->u.waitid.options);
	}
}

/* Do what @op describes with the plain system call.  Blocks the calling
 * thread, so it runs on a worker.  Result as the backend would give it. */
ssize_t corio__op_exec(struct corio__op *op)
{
	ssize_t r;
	switch (op->code) {
	case CORIO__OP_READ:
	case CORIO__OP_WRITE:
	case CORIO__OP_READV:
	case CORIO__OP_WRITEV:
		r = corio__rw_exec(op);
		break;
	case CORIO__OP_SPLICE:
		r = splice_exec(op);
		break;
	case CORIO__OP_OPENAT:
	case CORIO__OP_STATX:
	case CORIO__OP_UNLINKAT:
	case CORIO__OP_RENAMEAT:
	case CORIO__OP_MKDIRAT:
		r = path_exec(op);
		break;
	default:
		r = misc_exec(op);
		break;
	}
	return r < 0 ? -errno : r;
}

struct op_job {
	struct waiter w;
	struct corio__op *op;
	ssize_t res;
};

static void op_job_run(struct corio__job *j)
{
	struct op_job *o = corio__container_of(j, struct op_job, w.job);
	/* a faulted op runs not at all (faults.c) */
	o->res = o->op->fault ? -(ssize_t)o->op->fault : corio__op_exec(o->op);
}

/* corio__op_run() for ops the backend lacks: same contract, including the
 * cancellation invariant (a running syscall is waited for).  A syscall
 * that can block for ever (a read on an idle pipe) holds a worker until it
 * returns, and a cancelled task waits for it: keep such ops in the ring. */
ssize_t corio__op_run_offload(struct corio__op *op)
{
	corio_loop *l = corio__tls_loop;
	op->fault = 0;
	if (l && corio__unlikely(l->faults.on) && l->current)
		corio__fault_submit(l, op, false);
	struct op_job o = {.w.job.run = op_job_run, .op = op};
	int err = waiter_run(&o.w);
	op->fault = 0;
	if (err)
		return err;
	op->res = (int32_t)o.res;
	return o.res;
}
