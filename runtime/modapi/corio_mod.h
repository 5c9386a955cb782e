/* SPDX-License-Identifier: MIT */
/*
 * corio_mod.h - the runtime as the modules above it (dns/, net/) see it:
 * the op record a blocking call fills, the op kinds and capability bits the
 * backends serve, the wait queues, and the registry through which a module
 * keeps per-loop state with an fd-closing hook and a teardown hook.  The
 * loop itself stays opaque here: a module compiles with this header, its
 * own internal headers and the public ones, nothing else.  Never installed.
 */
#ifndef CORIO_MOD_H
#define CORIO_MOD_H

#include "corio/runtime.h"
#include "corio/sync.h"
#include "corio_list.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CORIO__HIDDEN __attribute__((visibility("hidden")))
#define corio__likely(x) __builtin_expect(!!(x), 1)
#define corio__unlikely(x) __builtin_expect(!!(x), 0)

/* The loop running on this thread (NULL outside corio_loop_run). */
extern __thread corio_loop *corio__tls_loop
	__attribute__((tls_model("initial-exec"))) CORIO__HIDDEN;

/* How a suspended task can be woken early (cancel, deadline).  The hook
 * must either wake the task now with @err or arrange that it is woken later
 * (an op waits for its own completion).  Called at most once per reason,
 * possibly several times in all; it must be idempotent. */
struct corio__wait {
	void (*interrupt)(corio_task *t, struct corio__wait *w, int err);
	/* What the task waits on, in words, for corio_loop_dump() (NULL:
	 * "something").  Writes at most @n bytes, NUL included. */
	void (*describe)(const struct corio__wait *w, char *buf, size_t n);
};

/* ---- ops ------------------------------------------------------------ */

/* Op kinds.  Every backend serves every kind (the epoll backend through
 * readiness or the offload pool), except those behind a capability bit. */
enum corio__op_code {
	CORIO__OP_NOP = 1,
	CORIO__OP_READ,
	CORIO__OP_WRITE,
	CORIO__OP_MAX_CORE,
	/* files and processes (file.c, signal.c, process.c): a block of
	 * its own so that other modules can add theirs without clashing */
	CORIO__OP_OPENAT = 32, /* u.path */
	CORIO__OP_CLOSE,       /* fd */
	CORIO__OP_READV,       /* fd, off, u.vec */
	CORIO__OP_WRITEV,      /* fd, off, u.vec */
	CORIO__OP_FSYNC,       /* fd, u.datasync */
	CORIO__OP_STATX,       /* u.statx */
	CORIO__OP_UNLINKAT,    /* u.path (flags: AT_REMOVEDIR) */
	CORIO__OP_RENAMEAT,    /* u.rename */
	CORIO__OP_MKDIRAT,     /* u.path */
	CORIO__OP_FALLOCATE,   /* fd, off, u.falloc */
	CORIO__OP_SPLICE,      /* fd -> u.splice.fd_out, len bytes */
	CORIO__OP_POLL,        /* fd, u.poll_mask; res: revents */
	CORIO__OP_WAITID,      /* u.waitid (P_PIDFD, pidfd in fd) */
	/* net/: a block of its own, from 64 */
	CORIO__OP_ACCEPT = 64, /* one accept: net.addr/net.addrlen, net.flags */
	CORIO__OP_ACCEPT_MULTI, /* multishot accept (no address), net.flags;
				 * CORIO__CAP_ACCEPT_MULTI */
	CORIO__OP_CONNECT,      /* net.addr, net.addrlen_in */
	CORIO__OP_RECV,         /* buf/len, net.flags */
	CORIO__OP_RECV_MULTI,   /* receives into buffers of net.bg until
				 * cancelled; CORIO__CAP_RECV_MULTI */
	CORIO__OP_SEND,         /* buf/len, net.flags */
	CORIO__OP_RECVMSG,      /* buf is a struct msghdr *, net.flags */
	CORIO__OP_SENDMSG,      /* buf is a struct msghdr *, net.flags */
	CORIO__OP_SHUTDOWN,     /* net.flags is the "how" */
};

/* Flags a completion carries (op->complete's @flags); the same bits as
 * the kernel's IORING_CQE_F_*, which uring.c checks at compile time. */
#define CORIO__CQE_F_BUFFER (1u << 0) /* a buffer of the group was used */
#define CORIO__CQE_F_MORE (1u << 1)   /* more completions follow */
#define CORIO__CQE_BUFFER_SHIFT 16    /* buffer id in the upper bits */

struct iovec;
struct statx;
struct corio__ep_fd;
struct corio__job;
struct corio__bufgroup;

struct corio__op {
	/* Called by the backend with the result of each completion. */
	void (*complete)(struct corio__op *op, int res, uint32_t flags);
	corio_task *task;        /* waiting task (task ops) */
	struct corio__wait wait; /* interrupt hook while the task waits */
	int32_t res;             /* the result, once completed */
	uint8_t code;            /* enum corio__op_code */
	bool cancel_sent;        /* an async cancel was requested */
	uint16_t fault;          /* faults.c: the errno a stand-in completes
				  * with instead of the op (0: none) */
	int fd;
	void *buf;
	uint32_t len;
	uint64_t off; /* file offset; (uint64_t)-1: the file position */
	/* epoll backend: where the op waits */
	struct corio__node ep_link;          /* waiter list or completion list */
	struct corio__ep_fd *ep_fd;          /* fd record it waits on, or NULL */
	uint8_t ep_dir;                      /* 0 readable, 1 writable, 2 retry */
	uint32_t ep_done;                    /* bytes moved so far (MSG_WAITALL);
					      * connect: 1 once in progress */
	struct corio__job *ep_job;           /* offload job running it, or NULL */
	/* Arguments of the op kinds that need more than fd/buf/len/off. */
	union {
		struct {
			const char *path;
			int dirfd;
			int flags;     /* open(2) flags; AT_REMOVEDIR for unlink */
			uint32_t mode; /* creation mode */
		} path;
		struct {
			const struct iovec *iov;
			uint32_t nr;
			int rwflags; /* RWF_* */
		} vec;
		bool datasync; /* fdatasync rather than fsync */
		struct {
			const char *path;
			struct statx *buf;
			int dirfd;
			int flags; /* AT_* */
			uint32_t mask;
		} statx;
		struct {
			const char *from, *to;
			int from_dir, to_dir;
			uint32_t flags; /* RENAME_* */
		} rename;
		struct {
			uint64_t len;
			int mode; /* FALLOC_FL_* */
		} falloc;
		struct {
			int fd_out;
			uint32_t flags;   /* SPLICE_F_* */
			uint64_t off_out; /* (uint64_t)-1: no offset (a pipe) */
		} splice;
		uint32_t poll_mask; /* POLL* events */
		struct {
			void *info; /* siginfo_t the kernel fills */
			int options; /* WEXITED, ... */
		} waitid;
		struct {
			void *addr;           /* sockaddr: connect (in), accept (out) */
			socklen_t *addrlen;   /* accept: capacity in, length out */
			socklen_t addrlen_in; /* connect: length of addr */
			int flags;            /* MSG_*, SOCK_* (accept), how (shutdown) */
			struct corio__bufgroup *bg; /* RECV_MULTI: buffers to fill */
		} net;
	} u;
};

/* Run @op for the current task: submit, suspend until its completion (a
 * cancel or deadline asks the backend to cancel it and still waits), and
 * return its result.  -EPERM outside a task. */
ssize_t corio__op_run(struct corio__op *op) CORIO__HIDDEN;
/* A long-lived op (owned by a module's heap record, not a task): queue it;
 * its completions arrive through op->complete() from the loop's reap. */
void corio__op_submit(corio_loop *l, struct corio__op *op) CORIO__HIDDEN;
/* Ask the backend to end @op early; op->complete() still follows. */
void corio__op_cancel(corio_loop *l, struct corio__op *op) CORIO__HIDDEN;
/* For an fd that will be closed by other means than corio_close() (c-ares
 * closes its own sockets): the modules and the backend let go of it, and
 * ops waiting on it end with -ECANCELED.  Never suspends. */
void corio__fd_closing(corio_loop *l, int fd) CORIO__HIDDEN;

/* ---- what the loop's backend can do ---------------------------------- */

enum {
	CORIO__CAP_ACCEPT_MULTI = 1u << 0, /* CORIO__OP_ACCEPT_MULTI */
	CORIO__CAP_RECV_MULTI = 1u << 1,   /* CORIO__OP_RECV_MULTI, buffer groups */
	CORIO__CAP_SHUTDOWN = 1u << 2,     /* CORIO__OP_SHUTDOWN is an op */
};
unsigned corio__loop_caps(const corio_loop *l) CORIO__HIDDEN;

/* Provided receive buffers: @nbufs buffers of @bufsize bytes that a
 * RECV_MULTI op fills as data arrives, so idle receivers hold no memory.
 * A completion with CORIO__CQE_F_BUFFER hands buffer (flags >> SHIFT) to
 * its op, which gives it back with corio__bufgroup_recycle(), once.
 * -EOPNOTSUPP where the backend (or kernel) has none. */
int corio__bufgroup_new(corio_loop *l, unsigned nbufs, unsigned bufsize,
			struct corio__bufgroup **out) CORIO__HIDDEN;
char *corio__bufgroup_buf(struct corio__bufgroup *g, unsigned bid) CORIO__HIDDEN;
void corio__bufgroup_recycle(struct corio__bufgroup *g, unsigned bid) CORIO__HIDDEN;
/* Only once no op uses the group any more. */
void corio__bufgroup_free(struct corio__bufgroup *g) CORIO__HIDDEN;

/* ---- tasks, time, waiting -------------------------------------------- */

int corio__suspend(struct corio__wait *w) CORIO__HIDDEN;
/* Make a task suspended with corio__suspend() ready; it returns @res. */
void corio__task_wake(corio_task *t, int res) CORIO__HIDDEN;
/* The error a blocking call made now by @t should fail with, or 0. */
int corio__interrupted(corio_task *t) CORIO__HIDDEN;
/* 0 when the calling task may suspend now, else why not. */
int corio__may_block(void) CORIO__HIDDEN;
/* @l's clock for this turn (the time base of every deadline). */
uint64_t corio__now(corio_loop *l) CORIO__HIDDEN;
/* A fresh CLOCK_MONOTONIC reading, in ns. */
uint64_t corio__clock(void) CORIO__HIDDEN;
bool corio__loop_is_owner(const corio_loop *l) CORIO__HIDDEN;
bool corio__loop_closing(const corio_loop *l) CORIO__HIDDEN;

/* FIFO wait queues (sync.c; struct corio__waitq is in corio/sync.h).  A
 * waiter lives on its task's stack and is queued only while that task is
 * WAITING on it.  Whoever takes it off the queue with corio__waitq_pop()
 * makes the hand-off (lock, message) and then wakes the task with 0;
 * corio__waitq_wake_one() does both when the result is all there is to
 * hand over.  An interrupt (cancel, deadline) unlinks it and wakes it with
 * the error, so an interrupted waiter never consumed anything. */
struct corio__waiter {
	struct corio__wait w;        /* interrupt hook: unlink, wake with err */
	corio_task *task;            /* the waiting task */
	struct corio__node link;     /* in the queue */
	struct corio__waitq *q;      /* queue it is on, NULL once off it */
	void *item;                  /* chan.c: the item to send or the buffer */
	const char *what;            /* for corio_loop_dump(): "a mutex", ... */
};
int corio__waitq_wait(struct corio__waitq *q, struct corio__waiter *w) CORIO__HIDDEN;
struct corio__waiter *corio__waitq_pop(struct corio__waitq *q) CORIO__HIDDEN;
bool corio__waitq_wake_one(struct corio__waitq *q, int res) CORIO__HIDDEN;
void corio__waitq_wake_all(struct corio__waitq *q, int res) CORIO__HIDDEN;

/* ---- modules' per-loop state ------------------------------------------ */

/* A module that keeps state per loop (dns's channel, net's listeners and
 * streams) attaches it once, with hooks the loop calls without knowing
 * whose they are:
 *   fd_closing  @fd is about to be closed (corio_close): drop what is held
 *               on it.  Never suspends.  May be NULL.
 *   drain       corio_loop_free(), no task left: cancel every long-lived
 *               op (the first call), and return how many of the module's
 *               ops are still in the kernel.  Called again after each
 *               backend wait until it returns 0, within one bounded time
 *               for the whole loop (see corio_loop_free()).
 *   free        after drain returned 0: free the state.
 * Modules are drained and freed in the reverse order of attaching. */
struct corio__module {
	const char *name;
	void (*fd_closing)(void *state, int fd);
	unsigned (*drain)(void *state);
	void (*free)(void *state);
};
#define CORIO__MAX_MODULES 8
/* -EEXIST if @m is attached already, -ENOSPC past CORIO__MAX_MODULES,
 * -ESHUTDOWN while the loop is being freed. */
int corio__module_attach(corio_loop *l, const struct corio__module *m,
			 void *state) CORIO__HIDDEN;
/* The state attached for @m, or NULL. */
void *corio__module_state(const corio_loop *l, const struct corio__module *m) CORIO__HIDDEN;

/* ---- text for modules' own error codes -------------------------------- */

/* A module whose calls return codes of its own (below -4095, outside the
 * errno range; dns: CORIO_ENOTFOUND, ...) gives corio_strerror() their
 * text, so that the runtime never names them: @fn(err) for each err in
 * @lo..@hi, NULL where it has none.  Register before any such code can
 * reach the user (dns does it at load time).  Thread-safe; a range stays
 * registered for good.
 * Return: 0 (also if @lo..@hi is there already with @fn); -EINVAL (@hi
 * above -4096, @lo above @hi, NULL @fn); -EEXIST (overlaps another
 * range); -ENOSPC (CORIO__MAX_ERROR_RANGES registered). */
#define CORIO__MAX_ERROR_RANGES 8
int corio__strerror_register(int lo, int hi, const char *(*fn)(int err)) CORIO__HIDDEN;

#endif /* CORIO_MOD_H */
