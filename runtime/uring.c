/* SPDX-License-Identifier: MIT */
/*
 * uring.c - the io_uring backend.  Sets the ring up with the best flags
 * the kernel takes (SINGLE_ISSUER|DEFER_TASKRUN, then COOP_TASKRUN, then
 * none), probes opcodes once, turns ops into SQEs whose user_data is the
 * op's address, and submits everything queued in one io_uring_enter per
 * loop turn together with the wait.  No completion is ever dropped: a full
 * SQ is flushed, -EBUSY/-EAGAIN from the kernel (CQ overflow backlog) is
 * answered by reaping and retrying.
 */
#include "corio_int.h"
#include "uring_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>

_Static_assert(CORIO__CQE_F_BUFFER == IORING_CQE_F_BUFFER, "completion flags");
_Static_assert(CORIO__CQE_F_MORE == IORING_CQE_F_MORE, "completion flags");
_Static_assert(CORIO__CQE_BUFFER_SHIFT == IORING_CQE_BUFFER_SHIFT, "completion flags");

#define DEFAULT_ENTRIES 1024u
#define MAX_ENTRIES 32768u

static struct corio__uring *U(corio_loop *l)
{
	return l->be_data;
}

/* ---- setup ---------------------------------------------------------- */

static int ring_try(struct corio__uring *u, unsigned entries, unsigned flags)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = flags | IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 4;
	int err = io_uring_queue_init_params(entries, &u->ring, &p);
	if (!err) {
		u->setup_flags = p.flags;
		u->features = p.features;
	}
	return err;
}

static int ring_setup(struct corio__uring *u, unsigned entries)
{
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
			IORING_SETUP_SUBMIT_ALL,
		IORING_SETUP_SUBMIT_ALL,
		0,
	};
	int err = -EINVAL;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		err = ring_try(u, entries, tries[i]);
		if (err != -EINVAL)
			return err; /* success, or a reason no flag set will fix */
	}
	return err;
}

static void probe(struct corio__uring *u)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(&u->ring);
	if (!p)
		return;
	for (unsigned i = 0; i < p->ops_len && i < CORIO__URING_MAX_OP; i++)
		u->has_op[i] = (p->ops[i].flags & IO_URING_OP_SUPPORTED) != 0;
	io_uring_free_probe(p);
}

/* Multishot accept arrived in 5.19, multishot receive in 6.0: the probe
 * knows the opcodes but not their flags.  Asking the kernel's version
 * beats finding out from a failed op in the middle of a read; a refusal
 * at run time (-EINVAL) still falls back (net/). */
static bool kernel_at_least(int major, int minor)
{
	struct utsname un;
	int ma = 0, mi = 0;
	if (uname(&un) || sscanf(un.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

static unsigned caps(const struct corio__uring *u)
{
	unsigned c = 0;
	if (u->has_op[IORING_OP_ACCEPT] && kernel_at_least(5, 19))
		c |= CORIO__CAP_ACCEPT_MULTI;
	if (u->has_op[IORING_OP_RECV] && kernel_at_least(6, 0))
		c |= CORIO__CAP_RECV_MULTI;
	if (u->has_op[IORING_OP_SHUTDOWN])
		c |= CORIO__CAP_SHUTDOWN;
	return c;
}

static int uring_init(corio_loop *l, const corio_loop_options *o)
{
	unsigned entries = o->ring_entries ? o->ring_entries : DEFAULT_ENTRIES;
	if (entries > MAX_ENTRIES)
		return -EINVAL;
	struct corio__uring *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	int err = ring_setup(u, entries);
	if (err) {
		free(u);
		return err;
	}
	if (!(u->features & IORING_FEAT_EXT_ARG) || corio__uring_pretend_no_ext_arg) {
		/* Before 5.11 a wait with a timeout costs liburing an SQE of its
		 * own and a completion we would have to filter: take epoll. */
		io_uring_queue_exit(&u->ring);
		free(u);
		return -EOPNOTSUPP;
	}
	probe(u);
	u->loop = l;
	u->msg_ring = u->has_op[IORING_OP_MSG_RING] && !getenv("CORIO_NO_MSG_RING");
	l->be_data = u;
	l->caps = caps(u);
	if (l->debug)
		fprintf(stderr, "corio: io_uring ring with %u entries%s%s\n",
			u->ring.sq.ring_entries,
			(u->setup_flags & IORING_SETUP_DEFER_TASKRUN) ? ", DEFER_TASKRUN" : "",
			(u->setup_flags & IORING_SETUP_COOP_TASKRUN) ? ", COOP_TASKRUN" : "");
	return 0;
}

bool corio__uring_has_op(corio_loop *l, unsigned opcode)
{
	return l->be == &corio__uring_backend && opcode < CORIO__URING_MAX_OP &&
	       U(l)->has_op[opcode];
}

/* ---- completions ------------------------------------------------------ */

/* A completion taken off the ring, not dispatched yet. */
struct corio__cqe {
	struct corio__op *op;
	int res;
	uint32_t flags;
};

/* A loop-to-loop wake-up, never an op: either another loop posted it
 * here (move the threadsafe records to the ready queue; nothing runs), or
 * one this ring posted failed (the target's CQ was full, say): the target
 * gets the eventfd instead, so a wake-up is never lost. */
static void wake_cqe(struct corio__uring *u, uint64_t data, int res)
{
	if (data == CORIO__URING_UD_WAKE) {
		corio__loop_woken(u->loop);
		return;
	}
	if (res < 0)
		corio__loop_wake_fd((corio_loop *)(uintptr_t)(data & ~CORIO__URING_UD_TAGS));
}

/* Post a wake-up into @target's ring through ours: the SQE goes in with
 * our next enter (the end of this turn), and only a failure comes back
 * here (CQE_SKIP_SUCCESS).  @target must outlive the post, as it must
 * outlive any corio_call_threadsafe() naming it. */
static bool uring_wake_from(corio_loop *l, corio_loop *target)
{
	struct corio__uring *u = U(l);
	if (!u->msg_ring || target->be != &corio__uring_backend)
		return false;
	struct io_uring_sqe *sqe = corio__uring_sqe(l);
	io_uring_prep_msg_ring(sqe, U(target)->ring.ring_fd, 0, CORIO__URING_UD_WAKE, 0);
	if (u->features & IORING_FEAT_CQE_SKIP)
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)target | CORIO__URING_UD_WAKE_FAILED);
	l->st.sqes++;
	return true;
}

static int enter(struct corio__uring *u, unsigned wait_nr, struct __kernel_timespec *ts);

static void uring_flush(corio_loop *l)
{
	if (io_uring_sq_ready(&U(l)->ring))
		enter(U(l), 0, NULL);
}

/* Copy up to @max CQEs off the ring into @out and advance the ring.  The
 * async-cancel requests' own completions (no op) and liburing's timeout
 * completions (kernels without IORING_FEAT_EXT_ARG, which init refuses;
 * kept as a guard) are dropped here. */
static unsigned take(struct corio__uring *u, struct corio__cqe *out, unsigned max, unsigned *seen)
{
	struct io_uring_cqe *cqes[128];
	unsigned n = io_uring_peek_batch_cqe(&u->ring, cqes, max < 128 ? max : 128), k = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t data = cqes[i]->user_data;
		if (!data || data == LIBURING_UDATA_TIMEOUT)
			continue;
		if (corio__unlikely(data & CORIO__URING_UD_TAGS)) {
			wake_cqe(u, data, cqes[i]->res);
			continue;
		}
		out[k].op = (struct corio__op *)(uintptr_t)data;
		out[k].res = cqes[i]->res;
		out[k].flags = cqes[i]->flags;
		k++;
	}
	io_uring_cq_advance(&u->ring, n);
	*seen = n;
	return k;
}

static void dispatch(struct corio__uring *u, struct corio__cqe *c, unsigned n)
{
	if (n && corio__tls_loop)
		corio__tls_loop->st.cqes += n;
	for (unsigned i = 0; i < n; i++) {
		if (!(c[i].flags & IORING_CQE_F_MORE))
			u->inflight--;
		c[i].op->complete(c[i].op, corio__op_res(c[i].op, c[i].res), c[i].flags);
	}
}

static unsigned reap(struct corio__uring *u);

/* Make room in a full completion ring without running anything: the
 * CQEs move to the stash, which the loop's next reap dispatches first.
 * Used from submission paths, which may run on any task's small stack
 * or between the two SQEs of a linked pair. */
static void stash_cqes(struct corio__uring *u)
{
	for (;;) {
		if (u->stash_len + 128 > u->stash_cap) {
			unsigned cap = u->stash_cap ? u->stash_cap * 2 : 256;
			struct corio__cqe *v = realloc(u->stash, cap * sizeof(*v));
			if (!v) {
				/* No memory to move them aside: the one way left to
				 * make room is to run them here (as before the stash) */
				reap(u);
				return;
			}
			u->stash = v;
			u->stash_cap = cap;
		}
		unsigned seen;
		u->stash_len += take(u, u->stash + u->stash_len, 128, &seen);
		if (seen < 128)
			return;
	}
}

/* Dispatch what was stashed, then batches off the ring: a completion
 * callback may queue, submit or even reap again without upsetting us. */
static unsigned reap(struct corio__uring *u)
{
	unsigned total = 0, n, seen;
	if (corio__unlikely(u->in_submit))
		corio__uring_dispatched_in_sqe++; /* a bug: tests look */
	do {
		/* What was stashed is older than anything on the ring: it goes
		 * first, every time (a callback may stash more meanwhile), so
		 * that the completions of one op are seen in their order. */
		while (u->stash_len) {
			struct corio__cqe *v = u->stash;
			unsigned len = u->stash_len;
			u->stash = NULL;
			u->stash_len = u->stash_cap = 0;
			dispatch(u, v, len);
			free(v);
			total += len;
		}
		struct corio__cqe done[128];
		n = take(u, done, 128, &seen);
		dispatch(u, done, n);
		total += n;
	} while (seen == 128 || u->stash_len);
	return total;
}

/* One io_uring_enter: submit what is queued, then wait for at least
 * @wait_nr completions or @ts.  Retries what the kernel asks us to retry,
 * making room by stashing completions (never dispatching them here). */
static int enter(struct corio__uring *u, unsigned wait_nr, struct __kernel_timespec *ts)
{
	for (;;) {
		int ret;
		corio__count_enter(); /* each of these always enters */
		if (ts) {
			struct io_uring_cqe *cqe;
			ret = io_uring_submit_and_wait_timeout(&u->ring, &cqe, wait_nr, ts,
							       NULL);
		} else if (wait_nr) {
			ret = io_uring_submit_and_wait(&u->ring, wait_nr);
		} else {
			ret = io_uring_submit_and_get_events(&u->ring);
		}
		if (ret >= 0 || ret == -ETIME || ret == -EINTR)
			return 0;
		if (ret == -EBUSY || ret == -EAGAIN) {
			/* completions are backed up: make room and retry, and
			 * don't wait for more while some are stashed */
			stash_cqes(u);
			wait_nr = 0;
			ts = NULL;
			continue;
		}
		return ret;
	}
}

static bool uring_ready(corio_loop *l)
{
	return io_uring_cq_ready(&U(l)->ring) != 0;
}

static int uring_poll(corio_loop *l, int64_t timeout_ns)
{
	struct corio__uring *u = U(l);
	int err;
	if (u->stash_len)
		timeout_ns = 0; /* stashed completions are work: never block on them */
	if (timeout_ns && corio__loop_spin_due(l)) {
		if (io_uring_sq_ready(&u->ring) && (err = enter(u, 0, NULL)))
			return err; /* our posts go out before we poll for answers */
		if (corio__loop_spin(l, uring_ready))
			timeout_ns = 0;
	}
	if (timeout_ns && !corio__loop_sleep_begin(l))
		timeout_ns = 0; /* a message came: take it, don't sleep */
	if (timeout_ns == 0) {
		/* Nothing queued and nothing but the loop's own wake read in
		 * flight: no syscall is needed to learn nothing. */
		if (!io_uring_sq_ready(&u->ring) && u->inflight <= (unsigned)l->wake_inflight &&
		    !u->stash_len)
			return 0;
		err = enter(u, 0, NULL);
	} else if (timeout_ns < 0) {
		err = enter(u, 1, NULL);
	} else {
		struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000,
					       .tv_nsec = timeout_ns % 1000000000};
		err = enter(u, 1, &ts);
	}
	corio__loop_sleep_end(l);
	reap(u);
	return err;
}

/* ---- submission ------------------------------------------------------- */

/* Tests: the next this many submits from a full SQ report -EBUSY, as a
 * kernel with a completion backlog does; and how many completions were
 * dispatched from inside corio__uring_sqe() (must stay 0). */
unsigned corio__uring_fake_busy;
bool corio__uring_pretend_no_ext_arg;
unsigned long corio__uring_dispatched_in_sqe;

/* The SQ is full: hand what is queued to the kernel.  @busy: as if it
 * first said -EBUSY (fault injection). */
static void sq_full(struct corio__uring *u, bool busy)
{
	int ret;
	if (busy || corio__uring_fake_busy) {
		if (!busy)
			corio__uring_fake_busy--;
		ret = -EBUSY;
	} else {
		corio__count_enter();
		ret = io_uring_submit(&u->ring);
	}
	if (ret == -EBUSY || ret == -EAGAIN)
		stash_cqes(u); /* room without running any completion */
}

/* A free SQE, flushing the queue to the kernel when it is full. */
struct io_uring_sqe *corio__uring_sqe(corio_loop *l)
{
	struct corio__uring *u = U(l);
	struct io_uring_sqe *sqe;
	u->in_submit = true;
	while (!(sqe = io_uring_get_sqe(&u->ring)))
		sq_full(u, false);
	u->in_submit = false;
	return sqe;
}

/* Fault injection: the SQ "is full" before @l's next op takes an SQE. */
static void sq_fault(corio_loop *l)
{
	bool busy = false;
	if (!corio__fault_sq_full(l, &busy))
		return;
	struct corio__uring *u = U(l);
	u->in_submit = true;
	if (busy)
		sq_full(u, true);
	sq_full(u, false);
	u->in_submit = false;
}

/* Room for @n SQEs in a row (a linked pair must not be split by a flush). */
static void sq_reserve(corio_loop *l, unsigned n)
{
	struct corio__uring *u = U(l);
	u->in_submit = true;
	while (io_uring_sq_space_left(&u->ring) < n) {
		corio__count_enter();
		int ret = io_uring_submit(&u->ring);
		if (ret == -EBUSY || ret == -EAGAIN)
			stash_cqes(u);
	}
	u->in_submit = false;
}

/* Ops on an open file (file.c, process.c). */
static void prep_file(struct io_uring_sqe *sqe, struct corio__op *op)
{
	switch (op->code) {
	case CORIO__OP_OPENAT:
		io_uring_prep_openat(sqe, op->u.path.dirfd, op->u.path.path, op->u.path.flags,
				     op->u.path.mode);
		break;
	case CORIO__OP_CLOSE:
		io_uring_prep_close(sqe, op->fd);
		break;
	case CORIO__OP_READV:
		io_uring_prep_readv2(sqe, op->fd, op->u.vec.iov, op->u.vec.nr, op->off,
				     op->u.vec.rwflags);
		break;
	case CORIO__OP_WRITEV:
		io_uring_prep_writev2(sqe, op->fd, op->u.vec.iov, op->u.vec.nr, op->off,
				      op->u.vec.rwflags);
		break;
	case CORIO__OP_FSYNC:
		io_uring_prep_fsync(sqe, op->fd, op->u.datasync ? IORING_FSYNC_DATASYNC : 0);
		break;
	case CORIO__OP_FALLOCATE:
		io_uring_prep_fallocate(sqe, op->fd, op->u.falloc.mode, (off_t)op->off,
					(off_t)op->u.falloc.len);
		break;
	default: /* CORIO__OP_SPLICE */
		io_uring_prep_splice(sqe, op->fd, (int64_t)op->off, op->u.splice.fd_out,
				     (int64_t)op->u.splice.off_out, op->len, op->u.splice.flags);
		break;
	}
}

/* Path ops, polls and process waits (file.c, signal.c, process.c). */
static void prep_path(struct io_uring_sqe *sqe, struct corio__op *op)
{
	switch (op->code) {
	case CORIO__OP_STATX:
		io_uring_prep_statx(sqe, op->u.statx.dirfd, op->u.statx.path,
				    op->u.statx.flags, op->u.statx.mask, op->u.statx.buf);
		break;
	case CORIO__OP_UNLINKAT:
		io_uring_prep_unlinkat(sqe, op->u.path.dirfd, op->u.path.path,
				       op->u.path.flags);
		break;
	case CORIO__OP_RENAMEAT:
		io_uring_prep_renameat(sqe, op->u.rename.from_dir, op->u.rename.from,
				       op->u.rename.to_dir, op->u.rename.to,
				       op->u.rename.flags);
		break;
	case CORIO__OP_MKDIRAT:
		io_uring_prep_mkdirat(sqe, op->u.path.dirfd, op->u.path.path, op->u.path.mode);
		break;
	case CORIO__OP_POLL:
		io_uring_prep_poll_add(sqe, op->fd, op->u.poll_mask);
		break;
	default: /* CORIO__OP_WAITID: idtype in len, id in fd (no liburing helper) */
		io_uring_prep_rw(CORIO__IORING_OP_WAITID, sqe, op->fd, NULL, P_PIDFD, 0);
		sqe->file_index = (uint32_t)op->u.waitid.options;
		sqe->addr2 = (uint64_t)(uintptr_t)op->u.waitid.info;
		break;
	}
}

/* Socket ops (net/).  MSG_NOSIGNAL and the other flags are chosen by the
 * caller; the backend only translates. */
static void prep_net(struct io_uring_sqe *sqe, struct corio__op *op)
{
	switch (op->code) {
	case CORIO__OP_ACCEPT:
		io_uring_prep_accept(sqe, op->fd, op->u.net.addr, op->u.net.addrlen,
				     op->u.net.flags);
		break;
	case CORIO__OP_ACCEPT_MULTI:
		io_uring_prep_multishot_accept(sqe, op->fd, NULL, NULL, op->u.net.flags);
		break;
	case CORIO__OP_CONNECT:
		io_uring_prep_connect(sqe, op->fd, op->u.net.addr, op->u.net.addrlen_in);
		break;
	case CORIO__OP_RECV:
		io_uring_prep_recv(sqe, op->fd, op->buf, op->len, op->u.net.flags);
		break;
	case CORIO__OP_RECV_MULTI:
		io_uring_prep_recv_multishot(sqe, op->fd, NULL, 0, op->u.net.flags);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = op->u.net.bg->id;
		break;
	case CORIO__OP_SEND:
		io_uring_prep_send(sqe, op->fd, op->buf, op->len, op->u.net.flags);
		break;
	case CORIO__OP_RECVMSG:
		io_uring_prep_recvmsg(sqe, op->fd, op->buf, (unsigned)op->u.net.flags);
		break;
	case CORIO__OP_SENDMSG:
		io_uring_prep_sendmsg(sqe, op->fd, op->buf, (unsigned)op->u.net.flags);
		break;
	case CORIO__OP_SHUTDOWN:
		io_uring_prep_shutdown(sqe, op->fd, op->u.net.flags);
		break;
	}
}

static void prep(struct io_uring_sqe *sqe, struct corio__op *op)
{
	switch (op->code) {
	case CORIO__OP_ACCEPT:
	case CORIO__OP_ACCEPT_MULTI:
	case CORIO__OP_CONNECT:
	case CORIO__OP_RECV:
	case CORIO__OP_RECV_MULTI:
	case CORIO__OP_SEND:
	case CORIO__OP_RECVMSG:
	case CORIO__OP_SENDMSG:
	case CORIO__OP_SHUTDOWN:
		prep_net(sqe, op);
		break;
	case CORIO__OP_NOP:
		io_uring_prep_nop(sqe);
		break;
	case CORIO__OP_READ:
		io_uring_prep_read(sqe, op->fd, op->buf, op->len, op->off);
		break;
	case CORIO__OP_WRITE:
		io_uring_prep_write(sqe, op->fd, op->buf, op->len, op->off);
		break;
	case CORIO__OP_OPENAT:
	case CORIO__OP_CLOSE:
	case CORIO__OP_READV:
	case CORIO__OP_WRITEV:
	case CORIO__OP_FSYNC:
	case CORIO__OP_FALLOCATE:
	case CORIO__OP_SPLICE:
		prep_file(sqe, op);
		break;
	case CORIO__OP_STATX:
	case CORIO__OP_UNLINKAT:
	case CORIO__OP_RENAMEAT:
	case CORIO__OP_MKDIRAT:
	case CORIO__OP_POLL:
	case CORIO__OP_WAITID:
		prep_path(sqe, op);
		break;
	default:
		/* an op code this backend does not know: a bug in corio */
		fprintf(stderr, "corio: io_uring backend got unknown op %u\n", op->code);
		abort();
	}
}

/* Before corio_close()'s close: end every op still on @fd, so that tasks
 * waiting on it get -ECANCELED as on epoll (the ops hold the file, so the
 * close alone would not end them).  Hard-linked: the close runs after it
 * even when it found nothing.  Kernels before 5.19 refuse the fd key with
 * -EINVAL; the close goes ahead then. */
static void cancel_fd_ops(corio_loop *l, int fd)
{
	struct io_uring_sqe *sqe = corio__uring_sqe(l);
	io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
	sqe->flags |= IOSQE_IO_HARDLINK;
	io_uring_sqe_set_data(sqe, NULL);
}

static void uring_submit(corio_loop *l, struct corio__op *op)
{
	l->st.sqes++;
	if (corio__unlikely(op->code == CORIO__OP_CLOSE)) {
		sq_reserve(l, 2);
		cancel_fd_ops(l, op->fd);
		l->st.sqes++;
	} else if (corio__unlikely(l->faults.on)) {
		sq_fault(l);
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&U(l)->ring);
	if (corio__unlikely(!sqe))
		sqe = corio__uring_sqe(l);
	if (corio__unlikely(op->fault))
		io_uring_prep_nop(sqe); /* a stand-in: it ends with the fault */
	else
		prep(sqe, op);
	io_uring_sqe_set_data(sqe, op);
	U(l)->inflight++;
}

static void uring_cancel(corio_loop *l, struct corio__op *op)
{
	l->st.sqes++;
	struct io_uring_sqe *sqe = corio__uring_sqe(l);
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
	io_uring_sqe_set_data(sqe, NULL);
}

static unsigned uring_inflight(corio_loop *l)
{
	return U(l)->inflight;
}

/* close(2) from outside a task, or of an fd a module closes itself: end
 * the ops on @fd first (they hold the file, so the close alone would not
 * end them).  What is still queued goes in first, so that the cancel sees
 * it.  Without synchronous cancel (before 6.0) an async one by fd is
 * submitted at once; before 5.19 neither exists and waits on a closed
 * socket end only with its peer. */
static void uring_forget(corio_loop *l, int fd)
{
	struct corio__uring *u = U(l);
	if (u->inflight <= (unsigned)l->wake_inflight && !io_uring_sq_ready(&u->ring))
		return; /* nothing can be waiting on it */
	if (io_uring_sq_ready(&u->ring))
		enter(u, 0, NULL);
	struct io_uring_sync_cancel_reg reg = {
		.fd = fd,
		.flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL,
		.timeout = {.tv_sec = -1, .tv_nsec = -1},
	};
	l->st.enters++;
	int ret;
	do
		ret = io_uring_register_sync_cancel(&u->ring, &reg);
	while (ret == -EINTR);
	if (ret == -EINVAL || ret == -ENOSYS || ret == -EOPNOTSUPP) {
		struct io_uring_sqe *sqe = corio__uring_sqe(l);
		io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data(sqe, NULL);
		l->st.sqes++;
		enter(u, 0, NULL);
	}
}

/* Called once nothing is in flight (corio_loop_free()'s drain). */
static void uring_fini(corio_loop *l)
{
	struct corio__uring *u = U(l);
	free(u->stash);
	io_uring_queue_exit(&u->ring);
	free(u);
	l->be_data = NULL;
}

const struct corio__backend corio__uring_backend = {
	.name = "io_uring",
	.init = uring_init,
	.fini = uring_fini,
	.submit = uring_submit,
	.cancel = uring_cancel,
	.poll = uring_poll,
	.forget = uring_forget,
	.inflight = uring_inflight,
	.wake_from = uring_wake_from,
	.flush = uring_flush,
	.bufgroup_init = corio__uring_bufgroup_init,
	.bufgroup_recycle = corio__uring_bufgroup_recycle,
	.bufgroup_fini = corio__uring_bufgroup_fini,
};
