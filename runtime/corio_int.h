/* SPDX-License-Identifier: MIT */
/*
 * corio_int.h - internal structures shared by the runtime's files: the
 * loop, the task record, the op record every blocking call fills on its
 * stack, and the backend interface (uring.c today, epoll.c later) that turns
 * ops into kernel work.  Never installed.
 *
 * Task states:
 *
 *        spawn             resumed by loop               fn returns
 *   ----------> READY --------------------> RUNNING ----------------> DONE
 *                 ^                          |   |
 *                 |   corio__wake()          |   | corio_yield()
 *                 +------ WAITING <----------+   +--------> READY
 *                            corio__suspend()
 *
 * Stack of a task (one mmap; the task record sits at its top):
 *
 *   high  +------------------------+ <- map + map_size
 *         | struct corio_task      |
 *         +------------------------+ <- hi (16-byte aligned)
 *         | stack, grows down      |
 *         |          ...           |
 *         +------------------------+ <- lo (canary here without guard)
 *         | guard (PROT_NONE)      |
 *   low   +------------------------+ <- map
 */
#ifndef CORIO_INT_H
#define CORIO_INT_H

#include "corio/runtime.h"
#include "corio_mod.h"
#include "faults_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>


#if defined(__SANITIZE_THREAD__)
#define CORIO__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CORIO__TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CORIO__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORIO__ASAN 1
#endif
#endif

/* Something the loop can run in a turn: a task or a callback record. */
/* CB_EXT: a callback record its owner keeps (never freed or pooled by
 * the loop), e.g. inside a waiter on a task's stack. */
enum { CORIO__RUN_TASK = 1, CORIO__RUN_CB = 2, CORIO__RUN_CB_EXT = 3 };
struct corio__runnable {
	struct corio__runnable *next; /* ready-queue link */
	int kind;                     /* CORIO__RUN_* */
};

struct corio__runq {
	struct corio__runnable *head;
	struct corio__runnable **tail;
	size_t len;
};

/* A call_soon / call_threadsafe record. */
struct corio__cb {
	struct corio__runnable r;
	void (*fn)(void *);
	void *arg;
};

/* Told once, on the finishing task's stack, that @t's fn has returned
 * (state DONE, result set), before its joiner is woken.  Must not suspend. */
struct corio__done_hook {
	void (*fn)(struct corio__done_hook *h, corio_task *t);
};

enum corio__task_state {
	CORIO__T_READY,
	CORIO__T_RUNNING,
	CORIO__T_WAITING,
	CORIO__T_DONE,
};

/* The smallest task stack: smaller requests, per spawn or per loop, get it. */
#define CORIO__MIN_STACK ((size_t)16 * 1024)

/* Freed stacks beyond the pool are unmapped this many at a time, or
 * once they map this many bytes together. */
#define CORIO__UNMAP_BATCH 256
#define CORIO__UNMAP_BYTES ((size_t)32 << 20)

struct corio__stack {
	char *map;       /* start of the mapping (guard page first, if any) */
	size_t map_size; /* whole mapping */
	char *lo;        /* lowest usable byte */
	char *hi;        /* top of the usable stack (16-byte aligned) */
	bool guarded;    /* a PROT_NONE guard lies below lo */
};

struct corio_task {
	struct corio__runnable r; /* must stay first */
	void *sp;                 /* saved stack pointer while switched out */
	corio_loop *loop;
	struct corio__wait *wait; /* what it is suspended on, if interruptible */
	int wake_res;             /* value corio__suspend() returns */
	uint8_t state;            /* enum corio__task_state */
	bool cancelled;           /* corio_cancel() was called before DONE */
	bool detached;            /* frees itself when DONE */
	bool has_joiner;          /* a join is waiting */
	uint32_t n_expired;       /* expired timeout scopes still pushed */
	corio_scope *scope;       /* innermost timeout or shield scope */
	corio_task *joiner;       /* task suspended in corio_join() on us */
	corio_fn fn;
	void *arg;
	void *result;
	uint64_t id;
	struct corio__node all;   /* in the loop's unfreed tasks, or its stack pool */
	struct corio__stack stack;
	uint64_t run_start; /* debug mode: when it was last resumed */
	struct corio__locals *locals; /* task-local values (local.c), or NULL */
	uint64_t wait_since;      /* loop time it last suspended */
	uint64_t interrupted_at;  /* loop time a wait of it was last interrupted */
	uint64_t cancelled_at;    /* loop time it was cancelled */
	uint8_t reported;         /* debug reports made about it (dump.c) */
	void *asan_fake;    /* ASan fake-stack handle while switched out */
	void *tsan_fiber;   /* TSan: the task's fiber (CORIO__TSAN builds) */
	char name[32];
	/* group.c (issue #3): who besides a joiner hears that fn returned (a
	 * group holding the task, a gather or wait_any call), the task's links
	 * in its group's lists, and the groups it owns (cancelled with it). */
	struct corio__done_hook *done_hook;
	struct corio__node sib;    /* in its group's running or done list */
	struct corio__list groups; /* corio_group, by their olink */
};

/* The backend seam.  Everything above speaks in ops; only the backend
 * talks to the kernel's event interfaces. */
struct corio__backend {
	const char *name;
	int (*init)(corio_loop *loop, const corio_loop_options *o);
	void (*fini)(corio_loop *loop);
	/* Queue @op; its completion arrives through op->complete(). */
	void (*submit)(corio_loop *loop, struct corio__op *op);
	/* Ask the kernel to cancel @op; op->complete() still follows. */
	void (*cancel)(corio_loop *loop, struct corio__op *op);
	/* Submit what is queued, wait up to @timeout_ns (0: don't block,
	 * <0: forever) and dispatch completions.  <0 on a fatal error. */
	int (*poll)(corio_loop *loop, int64_t timeout_ns);
	/* @fd is about to be closed with close(2): every op waiting on it
	 * ends with -ECANCELED (now, or through its own completion) and the
	 * backend drops what it keeps for the number. */
	void (*forget)(corio_loop *loop, int fd);
	/* From @self's thread (a task or callback of running @self), post a
	 * wake-up into loop @target through the kernel: it must end in a
	 * corio__loop_woken(@target) on @target's thread, or, if the post
	 * fails later, in corio__loop_wake_fd(@target).  False: cannot (then
	 * the caller writes the eventfd).  NULL: never can. */
	bool (*wake_from)(corio_loop *self, corio_loop *target);
	/* Hand what is queued to the kernel without waiting or dispatching
	 * anything (wake-ups posted by wake_from, before the loop stops
	 * turning).  NULL: nothing is ever left queued. */
	void (*flush)(corio_loop *loop);
	/* Ops submitted whose final completion has not been dispatched yet
	 * (the loop's own reads included): teardown waits for none. */
	unsigned (*inflight)(corio_loop *loop);
	/* Provided receive buffers (corio_mod.h); NULL: none, and no
	 * CORIO__CAP_RECV_MULTI.  init fills g->be, may fail. */
	int (*bufgroup_init)(corio_loop *loop, struct corio__bufgroup *g);
	void (*bufgroup_recycle)(struct corio__bufgroup *g, unsigned bid);
	void (*bufgroup_fini)(struct corio__bufgroup *g);
};

/* A group of provided receive buffers (bufgroup.c, the backends). */
struct corio__bufgroup {
	corio_loop *loop;
	char *bufs;       /* nbufs buffers of bufsize bytes, one mapping */
	unsigned nbufs;   /* a power of two */
	unsigned bufsize;
	uint16_t id;      /* the group's id in the backend */
	void *be;         /* the backend's part (io_uring: the buffer ring) */
};

struct corio__timer_heap {
	struct corio__timer_node **v; /* 4-ary min-heap on (when, seq) */
	uint32_t len, cap;
	uint64_t seq; /* next insertion number */
};

enum corio__timer_kind {
	CORIO__TK_CALLBACK = 1, /* a corio_timer */
	CORIO__TK_SLEEP,        /* a task in corio_sleep() */
	CORIO__TK_SCOPE,        /* a timeout scope's deadline */
};

struct corio_loop {
	const struct corio__backend *be;
	void *be_data;       /* the backend's state */
	pthread_t owner;     /* thread that created it and runs it */
	void *sched_sp;      /* the scheduler's saved stack pointer */
	corio_task *current; /* running task, NULL in the scheduler */
	uint64_t now;        /* cached clock for this turn, if now_valid */
	bool now_valid;      /* cleared at the start of each turn */
	size_t budget;       /* ready entries this turn may still run */
	struct corio__runq runq;
	struct corio__timer_heap timers;
	uint32_t user_timers; /* pending corio_call_later/at timers */
	struct corio__list handles; /* corio_timer handles not yet released */
	struct corio__list tasks; /* every unfreed task, by its all link */
	uint64_t live_tasks;  /* tasks not DONE */
	uint64_t next_id;
	struct corio__cb *cb_free; /* free callback records */
	/* stacks */
	size_t stack_size;      /* default usable size */
	bool guard_pages;
	unsigned pool_max, pool_len;
	size_t pool_map_size; /* mapping size of a default stack */
	struct corio__list pool; /* free default-size stacks, by their all link */
	struct corio__unmap {
		char *map;
		size_t size;
	} unmap[CORIO__UNMAP_BATCH]; /* stacks to unmap together (stack.c) */
	unsigned unmap_len;
	size_t unmap_bytes;
	/* cross-thread */
	pthread_mutex_t ts_lock;
	struct corio__runq ts_q;  /* corio_call_threadsafe records */
	atomic_int ts_pending;    /* ts_q may be non-empty */
	atomic_int wake_armed;    /* an eventfd write is already pending */
	atomic_int stop;
	int wake_fd;              /* eventfd the backend keeps a read on */
	struct corio__op wake_op; /* that read */
	uint64_t wake_buf;
	bool wake_inflight;
	/* many cores (threads.c): a sender wakes the loop through the kernel
	 * only while it sleeps there; after sending to another loop, it
	 * polls for the answer a moment before sleeping */
	atomic_int sleeping;      /* in (or committed to) the kernel's wait */
	uint64_t spin_ns;         /* 0: never */
	uint64_t spin_mark;       /* st.msgs_sent when we last looked */
	uint32_t spin_tries, spin_good; /* this probe window: spins, hits */
	uint32_t spin_skip;       /* sleeps left without spinning (it did not pay) */
	uint32_t spin_backoff;    /* the next skip, doubled while spins miss */
	bool running;
	bool closing;
	bool debug;
	uint64_t interrupts; /* debug counters */
	/* ASan: the scheduler's own stack, learnt when a task is entered
	 * from it (from_sched) */
	const void *sched_stack_bottom;
	size_t sched_stack_size;
	bool from_sched;
	void *tsan_sched; /* TSan: the fiber of the thread running the loop */
	uint64_t timer_slack; /* ns; waits end on a multiple of it */
	/* created on first use, freed with the loop */
	struct corio__pool *offload;    /* offload.c: its side of the shared pool */
	struct corio__sigstate *sigs;   /* signal.c: signalfd and waiters */
	/* modules above the runtime (dns/, net/): their per-loop state and
	 * hooks, in the order they attached (corio_mod.h) */
	struct {
		const struct corio__module *m;
		void *state;
	} mods[CORIO__MAX_MODULES];
	unsigned n_mods;
	unsigned caps; /* CORIO__CAP_*, set by the backend's init */
	uint16_t next_bgid; /* buffer group ids handed out (bufgroup.c) */
	unsigned fork_gen;  /* corio__fork_gen when made: see corio__stale() */
	corio_loop_stats st; /* counters (corio_loop_get_stats()) */
	uint64_t debug_checked; /* debug mode: last check of late tasks (dump.c) */
	unsigned sigquit_seen;  /* debug mode: SIGQUITs already dumped for */
	struct corio__faults faults; /* fault injection (faults.c), if .on */
};

static inline corio_task *corio__current(void)
{
	corio_loop *l = corio__tls_loop;
	return l ? l->current : NULL;
}

/* runq */
static inline void corio__runq_init(struct corio__runq *q)
{
	q->head = NULL;
	q->tail = &q->head;
	q->len = 0;
}
static inline void corio__runq_push(struct corio__runq *q, struct corio__runnable *r)
{
	r->next = NULL;
	*q->tail = r;
	q->tail = &r->next;
	q->len++;
}
static inline struct corio__runnable *corio__runq_pop(struct corio__runq *q)
{
	struct corio__runnable *r = q->head;
	if (r) {
		q->head = r->next;
		if (!q->head)
			q->tail = &q->head;
		q->len--;
	}
	return r;
}

/* Make a suspended task ready; corio__suspend() will return @res.  A task
 * that is not suspended (already woken) is left alone. */
static inline void corio__wake(corio_task *t, int res)
{
	if (t->state != CORIO__T_WAITING)
		return;
	t->wake_res = res;
	t->wait = NULL;
	t->state = CORIO__T_READY;
	corio__runq_push(&t->loop->runq, &t->r);
}

/* switch_*.S */
void corio__switch(void **save_sp, void *to_sp) CORIO__HIDDEN;
void corio__trampoline(void) CORIO__HIDDEN;

/* stack.c */
int corio__stack_get(corio_loop *loop, size_t size, corio_task **out) CORIO__HIDDEN;
void corio__stack_put(corio_loop *loop, corio_task *t) CORIO__HIDDEN;
void corio__stack_pool_drain(corio_loop *loop) CORIO__HIDDEN;
void corio__stack_flush(corio_loop *loop) CORIO__HIDDEN;
void corio__stack_check(corio_task *t) CORIO__HIDDEN;
int corio__thread_altstack(void) CORIO__HIDDEN;
void *corio__stack_init_frame(corio_task *t) CORIO__HIDDEN;
size_t corio__stack_map_size(size_t size, bool guarded) CORIO__HIDDEN;

/* local.c: a child's locals start as its parent's; a task's are let go
 * when it ends */
int corio__locals_inherit(corio_task *child, const corio_task *parent) CORIO__HIDDEN;
void corio__locals_release(corio_task *t) CORIO__HIDDEN;

/* task.c */
void corio__task_entry(corio_task *t) __attribute__((noreturn)) CORIO__HIDDEN;
void corio__run_task(corio_loop *loop, corio_task *t) CORIO__HIDDEN;
void corio__interrupt(corio_task *t, int err) CORIO__HIDDEN;
bool corio__shielded_from(corio_task *t, corio_scope *s) CORIO__HIDDEN;
void corio__task_free(corio_task *t) CORIO__HIDDEN;


/* group.c: hooks called from task.c; a task's group, for dump.c */
const corio_group *corio__task_group(const corio_task *t) CORIO__HIDDEN;
void corio__task_finished(corio_task *t) CORIO__HIDDEN;
void corio__groups_cancel(corio_task *owner) CORIO__HIDDEN;

/* timer.c */
int corio__timers_init(corio_loop *loop) CORIO__HIDDEN;
void corio__timers_fini(corio_loop *loop) CORIO__HIDDEN;
void corio__timers_fire(corio_loop *loop) CORIO__HIDDEN;
int64_t corio__timers_next(corio_loop *loop) CORIO__HIDDEN;
/* corio__now(): @l's clock for this turn, read once per turn, on first
 * use.  Never read l->now directly; it is stale until something asked.
 * The runtime's own hot paths use this inline form of it. */
static inline uint64_t corio__loop_now(corio_loop *l)
{
	if (corio__likely(l->now_valid))
		return l->now;
	return corio__now(l);
}

/* op.c */
void corio__op_describe(const struct corio__wait *w, char *buf, size_t n) CORIO__HIDDEN;
int corio__await(corio_task *t, struct corio__wait *w, const bool *cancel_sent) CORIO__HIDDEN;

/* offload.c: the worker pool, shared by the process's loops, started on
 * first use; each loop has its side of it, where its jobs come back.  A job
 * is owned by its submitter and must stay valid until its done() has run
 * on the loop thread (the cancellation invariant, for threads).  Once
 * corio__offload_submit() returned 0, done() always follows: with res 0
 * after run(), or -ECANCELED if corio__offload_cancel() withdrew it (then
 * done() runs inside that call) or the loop was freed first.  A backend
 * without a kernel op for a file call (epoll) runs it with
 * corio__op_run_offload(), which gives a task the corio__op_run() contract. */
struct corio__job {
	void (*run)(struct corio__job *j);  /* on a worker thread */
	void (*done)(struct corio__job *j); /* on the loop thread, once */
	struct corio__node link;            /* in one of the pool's lists (private) */
	struct corio__pool *pool;           /* its loop's side of the pool (private) */
	int res;   /* 0 once run() returned, -ECANCELED if it never ran */
	int state; /* private */
};
int corio__offload_submit(corio_loop *loop, struct corio__job *j) CORIO__HIDDEN;
bool corio__offload_cancel(corio_loop *loop, struct corio__job *j) CORIO__HIDDEN;
void corio__offload_fini(corio_loop *loop) CORIO__HIDDEN;
ssize_t corio__op_exec(struct corio__op *op) CORIO__HIDDEN;
ssize_t corio__rw_exec(struct corio__op *op) CORIO__HIDDEN;
ssize_t corio__op_run_offload(struct corio__op *op) CORIO__HIDDEN;

/* file.c: run @op in the ring if the backend has it, else on the pool */
ssize_t corio__op_run_any(struct corio__op *op) CORIO__HIDDEN;
extern bool corio__no_ring_ops CORIO__HIDDEN; /* tests: force the pool */

/* signal.c */
void corio__signal_fini(corio_loop *loop) CORIO__HIDDEN;

/* dump.c: debug mode's checks and its SIGQUIT dump; a debug loop with
 * live tasks turns at least this often */
#define CORIO__DEBUG_TICK_NS (100ull * 1000 * 1000)
void corio__debug_check(corio_loop *loop) CORIO__HIDDEN;
void corio__debug_attach(corio_loop *loop) CORIO__HIDDEN;
void corio__debug_detach(corio_loop *loop) CORIO__HIDDEN;
bool corio__debug_dump_due(corio_loop *loop) CORIO__HIDDEN;
extern uint64_t corio__debug_late_ns CORIO__HIDDEN;
extern uint64_t corio__debug_grace_ns CORIO__HIDDEN;

/* loop.c */
/* How many forks this process is away from the one that made its loops'
 * kernel objects; a loop made in an ancestor is stale here: its ring,
 * epoll set, eventfds and threads belong to the parent, and every call
 * naming it fails with -EBADFD without touching them. */
extern unsigned corio__fork_gen CORIO__HIDDEN;
static inline bool corio__stale(const corio_loop *l)
{
	return corio__unlikely(l->fork_gen != corio__fork_gen);
}

/* A backend's system call, for the loop's counters. */
static inline void corio__count_enter(void)
{
	corio_loop *l = corio__tls_loop;
	if (l)
		l->st.enters++;
}
void corio__modules_fd_closing(corio_loop *loop, int fd) CORIO__HIDDEN;
extern uint64_t corio__teardown_idle_ns CORIO__HIDDEN;
void corio__loop_wake_complete(struct corio__op *op, int res, uint32_t flags) CORIO__HIDDEN;
void corio__loop_woken(corio_loop *loop) CORIO__HIDDEN;
/* threads.c: the backend is about to sleep.  corio__loop_spin_due(): @l
 * sent a message to another loop since it last slept, and spinning has
 * been paying; then corio__loop_spin() polls in memory for thread-safe
 * records (and @ready(@l), the backend's own free look, may be NULL) for
 * up to l->spin_ns.  True: there is work now, don't sleep. */
bool corio__loop_spin_due(corio_loop *l) CORIO__HIDDEN;
bool corio__loop_spin(corio_loop *l, bool (*ready)(corio_loop *l)) CORIO__HIDDEN;
/* threads.c: the backend is about to wait in the kernel: raise
 * l->sleeping, then look at the thread-safe queue and the stop flag once
 * more.  False: something came (or a stop), don't block; the flag is
 * down again.  corio__loop_sleep_end() after the wait. */
bool corio__loop_sleep_begin(corio_loop *l) CORIO__HIDDEN;
static inline void corio__loop_sleep_end(corio_loop *l)
{
	atomic_store_explicit(&l->sleeping, 0, memory_order_relaxed);
}
/* corio_call_threadsafe() with a record the caller owns (kind
 * CORIO__RUN_CB_EXT, fn and arg set) until fn runs: cannot fail. */
void corio__call_threadsafe_rec(corio_loop *loop, struct corio__cb *cb) CORIO__HIDDEN;
void corio__loop_wake_fd(corio_loop *loop) CORIO__HIDDEN;
struct corio__cb *corio__cb_alloc(corio_loop *loop) CORIO__HIDDEN;
void corio__cb_release(corio_loop *loop, struct corio__cb *cb) CORIO__HIDDEN;


/* backends */
extern const struct corio__backend corio__uring_backend CORIO__HIDDEN;
extern const struct corio__backend corio__epoll_backend CORIO__HIDDEN;

#endif /* CORIO_INT_H */
