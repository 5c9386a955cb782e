/* SPDX-License-Identifier: MIT */
/*
 * corio/runtime.h - the runtime core: event loops, tasks (stackful
 * coroutines), callbacks and timers, time and timeout scopes, the basic
 * I/O ops and error strings.  This header is the API reference for those
 * parts; it includes only libc and POSIX headers.
 *
 * Conventions used throughout corio:
 *  - functions returning int or ssize_t return >= 0 on success and a
 *    negative errno value on failure (liburing/libuv style);
 *  - output parameters are written only on success;
 *  - "suspends" means the call may switch away from the calling task and
 *    must therefore be called from inside a task (otherwise -EPERM).  Every
 *    suspending call is a cancellation point: see corio_cancel().
 */
#ifndef CORIO_RUNTIME_H
#define CORIO_RUNTIME_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CORIO_API __attribute__((visibility("default")))
#else
#define CORIO_API
#endif

/** An event loop.  Belongs to one thread. */
typedef struct corio_loop corio_loop;
/** A task: a function running on its own stack inside a loop. */
typedef struct corio_task corio_task;
/** A pending callback scheduled with corio_call_later()/corio_call_at(). */
typedef struct corio_timer corio_timer;
/** The body of a task.  Its return value is the task's result. */
typedef void *(*corio_fn)(void *arg);

/** Which backend a loop uses (corio_loop_options.backend). */
enum corio_backend_kind {
	CORIO_BACKEND_DEFAULT = 0, /**< $CORIO_BACKEND, else io_uring, else epoll */
	CORIO_BACKEND_URING = 1,   /**< io_uring only: fail if it cannot be set up */
	CORIO_BACKEND_EPOLL = 2,   /**< epoll only */
};

/** Loop options.  Zero-initialise: {0} means the defaults. */
typedef struct corio_loop_options {
	/** enum corio_backend_kind. */
	int backend;
	/** Submission queue entries for io_uring (0: 1024).  Rounded up to a
	 *  power of two; the completion queue is sized 4x. */
	unsigned ring_entries;
	/** Default task stack size in bytes (0: 64 KiB; larger under ASan).
	 *  Rounded up to pages, and to at least 16 KiB. */
	size_t stack_size;
	/** Do not put a guard page below task stacks; a canary at the stack
	 *  limit is then checked on every switch instead.  Each guarded stack
	 *  costs two kernel mappings out of vm.max_map_count (65530 by
	 *  default), so even without this option only the first quarter of
	 *  that many live stacks in the process (about 16 000) get a guard
	 *  page, and the rest the canary: spawning never fails for want of
	 *  mappings before memory runs out. */
	int no_guard_pages;
	/** Keep at most this many freed stacks for reuse (0: 256). */
	unsigned stack_pool_max;
	/** Enable debug mode as $CORIO_DEBUG=1 would. */
	int debug;
	/** Timer slack in ns (0: 1 ms, libuv's resolution; 1: none).  The loop
	 *  sleeps until the nearest deadline rounded up to a multiple of it, so
	 *  timers close together cost one kernel wait.  Timers never fire
	 *  early; they may fire late by up to the slack. */
	uint64_t timer_slack_ns;
	/** Fault injection, as $CORIO_FAULTS ("seed:rate[:kinds]", see
	 *  enum corio_fault_kind); it overrides the variable, and "" turns
	 *  faults off whatever the variable says.  NULL: $CORIO_FAULTS.  A
	 *  string that does not parse makes corio_loop_new() fail with
	 *  -EINVAL. */
	const char *faults;
} corio_loop_options;

/** Task options for corio_spawn_ex().  Zero-initialise. */
typedef struct corio_task_options {
	/** Stack size in bytes (0: the loop's default).  Rounded up to pages,
	 *  and to at least 16 KiB. */
	size_t stack_size;
	/** A name shown by debug mode and stack-overflow reports (copied,
	 *  truncated to 31 bytes).  NULL: "task-<id>". */
	const char *name;
} corio_task_options;

/* ------------------------------------------------------------------ */
/* Loops                                                               */

/**
 * corio_loop_new() - create an event loop for the calling thread.
 * @out:  receives the loop.
 * @opts: options, or NULL for the defaults.
 * Return: 0, -ENOMEM, -EINVAL (bad option, or a $CORIO_FAULTS that does
 * not parse: see enum corio_fault_kind), or the error the backend met
 * (for example -EPERM or -ENOSYS when io_uring was forced but is disabled).
 */
CORIO_API int corio_loop_new(corio_loop **out, const corio_loop_options *opts);

/**
 * corio_loop_free() - destroy a loop that has no live task.
 * Pending corio_call_later() timers and unreleased timer handles are
 * released.  Return: 0, or -EBUSY if tasks are still alive (nothing is
 * freed then: cancel them, for instance with corio_loop_cancel_all(), and
 * run the loop again) or if called from inside the loop.
 * It returns int, not void, so that a leak is an error the caller sees.
 * Ops the backend still has in flight once every task is gone (those of
 * the resolver and of listeners and streams, which it cancels) are waited
 * for while they keep coming back; if none comes back for 5 seconds it
 * returns -EBUSY and frees nothing they may still write to (call it
 * again later).  -EPERM from a thread other than the loop's, -EBADFD for
 * a loop of the parent of a forked process.
 */
CORIO_API int corio_loop_free(corio_loop *loop);

/**
 * corio_loop_run() - run the loop on the calling thread until no task,
 * timer or callback is left, or until corio_loop_stop().
 * Return: 0, -EBUSY if the loop is already running, -EPERM if called from
 * another thread than the one that created it, or a fatal backend error.
 */
CORIO_API int corio_loop_run(corio_loop *loop);

/** corio_loop_stop() - make corio_loop_run() return after the current
 *  turn.  Thread-safe; may be called before corio_loop_run(). */
CORIO_API void corio_loop_stop(corio_loop *loop);

/** corio_loop_cancel_all() - corio_cancel() every live task of the loop. */
CORIO_API void corio_loop_cancel_all(corio_loop *loop);

/** corio_current_loop() - the loop running on this thread, NULL outside. */
CORIO_API corio_loop *corio_current_loop(void);

/** corio_loop_backend() - "io_uring" or "epoll". */
CORIO_API const char *corio_loop_backend(corio_loop *loop);

/**
 * corio_run() - asyncio.run(): create a loop with default options, run
 * @main(@arg) as its first task until it returns, cancel whatever tasks it
 * left behind, wait for them, and free the loop.
 * @result: receives main's return value (may be NULL).
 * Return: 0, -ECANCELED if main was cancelled, or a corio_loop_new() error.
 */
CORIO_API int corio_run(corio_fn main, void *arg, void **result);

/* ------------------------------------------------------------------ */
/* Many cores: a loop per thread (DESIGN.md section 12)                 */

/** Options of corio_run_threads_ex().  Zero-initialise. */
typedef struct corio_threads_options {
	/** Pin loop i to the i-th CPU the process may run on (cycling). */
	int pin;
	/** When a main returns an error pointer (corio_is_err()), cancel
	 *  every other loop's main task. */
	int stop_all_on_failure;
	/** Leave SIGINT and SIGTERM alone (by default they are blocked in
	 *  every thread of the group while it runs, and either one cancels
	 *  every main task: see corio_run_threads()). */
	int no_signals;
	/** Options of every loop (NULL: defaults). */
	const corio_loop_options *loop;
	/** How a stop (signal, corio_run_threads_stop(), a failure with
	 *  stop_all_on_failure) reaches each loop: NULL cancels its main
	 *  task; else @on_stop(@on_stop_arg) runs on each loop's thread, as a
	 *  callback (it must not suspend), once per stop asked. */
	void (*on_stop)(void *arg);
	void *on_stop_arg;
	/** A loop that has just sent to another loop (corio_call_threadsafe(),
	 *  a corio_xchan_* signal) and has nothing left to do polls for the
	 *  answer in memory this long before it sleeps in the kernel, and a
	 *  loop that sends to one that polls skips the kernel wake-up: a
	 *  round trip between two awake loops then makes no system call.
	 *  0: 20 µs; negative: never.  Never when the process may run on one
	 *  CPU only, or with one loop.  Costs up to that much CPU per sleep
	 *  after a send (corio_loop_stats: spins, spin_hits). */
	int64_t spin_ns;
} corio_threads_options;

/**
 * corio_run_threads() - run @n loops (0: one per CPU the process may run
 * on, from sched_getaffinity), each on a thread of its own, each with
 * @main(@arg) as its first task as corio_run() has it; return once all
 * have ended.  Every loop exists before any main starts, and is freed only
 * after all have ended, so a task may corio_call_threadsafe() any loop of
 * the group (corio_loop_at()) while the group runs.
 *
 * Stopping: SIGINT and SIGTERM are blocked in the calling thread (and so
 * in the loop threads, which inherit the mask) and read by the calling
 * thread through a signalfd while the group runs; each one cancels every
 * main task through a thread-safe call to its loop, so mains end through
 * their normal cancellation paths (a corio_serve() stops accepting and
 * drains, say).  The signal mask is restored at the end.
 * corio_run_threads_stop() does the same from inside.
 *
 * @results: n slots (may be NULL): main's return value, or
 * CORIO_ERR_PTR(-ECANCELED) for a main cancelled before it ended.
 * Return: 0 once all loops ran (whatever their mains returned), -EINVAL,
 * -EBUSY inside a group, -ENOMEM, or the first loop's creation error (then
 * no main ran).  Blocks the calling thread; not from a task.
 */
CORIO_API int corio_run_threads(unsigned n, corio_fn main, void *arg, void **results);
/** corio_run_threads() with options (NULL: as corio_run_threads()). */
CORIO_API int corio_run_threads_ex(unsigned n, corio_fn main, void *arg, void **results,
				   const corio_threads_options *o);
/** corio_loop_index() - 0..n-1 on the loops of corio_run_threads(), 0
 *  elsewhere. */
CORIO_API unsigned corio_loop_index(void);
/** corio_loop_count() - the group's n inside corio_run_threads(), else 1. */
CORIO_API unsigned corio_loop_count(void);
/** corio_loop_at() - loop @i of the calling thread's group (NULL if out
 *  of range); outside a group, the current loop for 0.  Use it only
 *  through thread-safe calls (corio_call_threadsafe(), corio_xchan_*). */
CORIO_API corio_loop *corio_loop_at(unsigned i);
/** corio_run_threads_stop() - from a loop of a group: cancel every main
 *  task, as SIGINT does.  Thread-safe; does nothing outside a group. */
CORIO_API void corio_run_threads_stop(void);

/*
 * fork(2).  A child process gets no working loop from its parent: the
 * ring, the epoll set, the eventfds and the worker threads belong to the
 * parent.  corio notices the fork by itself.  In the child:
 *  - every call naming a loop made before the fork (corio_loop_run,
 *    corio_loop_free, corio_spawn_ex, corio_call_soon/later/at,
 *    corio_call_threadsafe, ...) fails at once with -EBADFD and touches
 *    none of the parent's kernel objects (corio_loop_stop and
 *    corio_loop_cancel_all do nothing);
 *  - code that was running in a task is plain code outside any loop:
 *    corio_self() is NULL and blocking calls return -EPERM;
 *  - corio_run() (or corio_loop_new()) makes a fresh loop that works
 *    fully: files, sockets, the offload pool, name lookups.
 * A child forked inside a task must end with _exit() or exec, never by
 * returning from the task's function (that would resume the parent's
 * scheduler, which is gone).  To run a program, corio_process_spawn() is
 * the simpler way.
 */

/*
 * Fault injection: $CORIO_FAULTS=seed:rate[:kinds] (read when a loop is
 * made) or corio_loop_options.faults, the same string.  seed: an unsigned
 * number (0x.. for hex); rate: the probability, 0 to 1, that an op which
 * can meet a fault meets one (0.01: one in a hundred); kinds: a comma list
 * of the names below (default: all).  Each loop draws from a generator of
 * its own, seeded with seed, once per op that can meet one of the kinds
 * asked for (and once per io_uring submission for sqfull), so the same
 * seed and the same program replay the same faults.  A spec that does
 * not parse makes corio_loop_new() fail with -EINVAL, from the option or
 * from the variable (then with one line on stderr saying why): a typo
 * never silently runs a test without its faults.
 *
 * Faults are ones the kernel could give for the op and its file, and they
 * reach the caller exactly as the kernel's would, through the op's own
 * completion.  An error is injected *instead of* the op: the op never
 * reaches the kernel (a stand-in completes with the error), so nothing
 * was transferred, accepted or consumed, and nothing is lost or sent
 * twice when the caller retries.  A short count is a real one: the
 * request is cut before the kernel sees it, so the bytes past the count
 * stay where they were (in the socket, pipe or file) for the next call.
 * Never faulted: closes, cancels, timeouts, connects, shutdowns, fsyncs,
 * NOPs, loop-to-loop wake-ups, and the runtime's own ops (its eventfd,
 * signalfd and resolver reads and polls).
 */
enum corio_fault_kind {
	/** "short": a read, recv, write, send or splice moves fewer bytes
	 *  than asked (exactly 1 in a quarter of them): regular files
	 *  (not O_DIRECT), pipes and stream sockets only (a datagram
	 *  would be cut); never a recv with MSG_WAITALL; readv/writev with
	 *  more than one iovec lose the last ones. */
	CORIO_FAULT_SHORT,
	/** "eintr": -EINTR from accept, recv/send and their msg forms, and
	 *  read/write/readv/writev of pipes and sockets, splice, poll. */
	CORIO_FAULT_EINTR,
	/** "eagain": -EAGAIN, only where the caller asked not to wait
	 *  (MSG_DONTWAIT, RWF_NOWAIT). */
	CORIO_FAULT_EAGAIN,
	/** "reset": -ECONNRESET from recv/send/read/write on connected
	 *  stream sockets (a multishot receive included); -ECONNABORTED
	 *  from accept (the connection died in the backlog). */
	CORIO_FAULT_RESET,
	/** "pipe": -EPIPE from send/write on stream sockets and pipes. */
	CORIO_FAULT_PIPE,
	/** "nobufs": -ENOBUFS from send/sendmsg, and as the end of a
	 *  multishot receive (its buffer ring ran dry). */
	CORIO_FAULT_NOBUFS,
	/** "nomem": -ENOMEM from accept, recv/send, read/write, splice,
	 *  poll, open, statx, unlink, rename, mkdir, multishot ops. */
	CORIO_FAULT_NOMEM,
	/** "sqfull": io_uring only: the submission queue is found full, so
	 *  what is queued goes to the kernel before the op's SQE is taken,
	 *  half the time after a -EBUSY (completions moved aside). */
	CORIO_FAULT_SQFULL,
	CORIO_FAULT_KINDS
};

/** Op kinds counted in corio_loop_stats.ops (see corio_op_name()). */
#define CORIO_STATS_OP_KINDS 80

/**
 * Counters of a loop since it was made (corio_loop_get_stats()): what an
 * io_uring-against-epoll comparison shows per request, and what no noise
 * of the machine changes.  Plain counters, always on.
 */
typedef struct corio_loop_stats {
	uint64_t turns;    /**< turns of the loop */
	uint64_t enters;   /**< system calls the backend made: io_uring_enter
			    *   (and register), or epoll_wait, epoll_ctl and
			    *   each recv, send, accept, read... it tried */
	uint64_t sqes;     /**< ops handed to the backend (io_uring: SQEs,
			    *   cancels included; epoll: ops submitted) */
	uint64_t cqes;     /**< completions delivered */
	uint64_t switches; /**< context switches between tasks and the loop */
	uint64_t ops[CORIO_STATS_OP_KINDS]; /**< ops started, by kind */
	/* Fault injection (enum corio_fault_kind): 0 unless it is on. */
	uint64_t faults;                              /**< faults injected */
	uint64_t faults_by_kind[CORIO_FAULT_KINDS];   /**< the same, by kind */
	/* -- many cores (threads.c, xchan.c): one block, appended -- */
	uint64_t msgs_sent;     /**< thread-safe calls (corio_call_threadsafe(),
				 *   xchan signals) made from this loop to others */
	uint64_t msgs_received; /**< thread-safe calls from other threads
				 *   (loops, workers) run on this loop */
	uint64_t wakeups_sent;  /**< wake-ups this loop sent another (a MSG_RING
				 *   post, or an eventfd write): one per batch */
	uint64_t wakeups;       /**< wake-ups that reached this loop (MSG_RING
				 *   completions, eventfd reads) */
	uint64_t spins;         /**< times it polled for an answer before
				 *   sleeping (corio_threads_options.spin_ns) */
	uint64_t spin_hits;     /**< ... and a message came meanwhile */
	/* -- end of the many-cores block -- */
} corio_loop_stats;

/** corio_loop_get_stats() - copy @loop's counters into *@out.  Return: 0,
 *  -EINVAL (NULL argument), -EBADFD (a loop of the parent of a fork). */
CORIO_API int corio_loop_get_stats(corio_loop *loop, corio_loop_stats *out);

/**
 * corio_loop_dump() - write a live view of @loop to @out: every task that
 * has not ended, with its name, state, what it waits on (an op and its fd,
 * a sleep and when it is due, a mutex, a channel, a join, a group...) and
 * for how long, whether it is cancelled or past a deadline, and its group;
 * then the counters of corio_loop_get_stats().  Call it from the loop's
 * thread (a task, a callback, or between runs).  In debug mode
 * (CORIO_DEBUG=1), SIGQUIT (Ctrl-\) dumps every debug loop to stderr at
 * its next turn, unless the program handles SIGQUIT itself; debug mode also
 * reports, once each, a wait that goes on more than a second after its
 * task was cancelled or its deadline passed, and a cancelled task still
 * alive five seconds on.
 */
CORIO_API void corio_loop_dump(corio_loop *loop, FILE *out);

/** corio_op_name() - the name of op kind @kind in corio_loop_stats.ops
 *  ("recv", "read", ...), or NULL for an index no op kind uses. */
CORIO_API const char *corio_op_name(unsigned kind);

/* ------------------------------------------------------------------ */
/* Callbacks                                                           */

/** corio_call_soon() - run @fn(@arg) on @loop's thread in the next turn.
 *  Not thread-safe (see corio_call_threadsafe()).  Return: 0, -ENOMEM. */
CORIO_API int corio_call_soon(corio_loop *loop, void (*fn)(void *), void *arg);

/**
 * corio_call_later() - run @fn(@arg) once, at corio_now() + @delay_ns.
 * @out: if non-NULL, receives a handle that stays valid until it is passed
 *       to corio_timer_cancel() (which must then be done exactly once, after
 *       the timer fired or not) or until the loop is freed.  With NULL the
 *       timer can't be cancelled and releases itself after it fires.
 * Callbacks with equal deadlines run in the order they were scheduled; a
 * callback never runs before its deadline.  Pending timers keep
 * corio_loop_run() going.  Return: 0, -ENOMEM.
 */
CORIO_API int corio_call_later(corio_loop *loop, uint64_t delay_ns, void (*fn)(void *),
			       void *arg, corio_timer **out);

/** corio_call_at() - like corio_call_later() at the absolute time
 *  @when_ns on the corio_now() clock. */
CORIO_API int corio_call_at(corio_loop *loop, uint64_t when_ns, void (*fn)(void *),
			    void *arg, corio_timer **out);

/** corio_timer_cancel() - stop @t from firing if it has not, and release
 *  the handle.  NULL is ignored. */
CORIO_API void corio_timer_cancel(corio_timer *t);

/**
 * corio_call_threadsafe() - run @fn(@arg) on @loop's thread soon.  May be
 * called from any thread, including many at once; wakes the loop if it
 * sleeps.  Every successful call runs exactly once while the loop runs;
 * calls still queued when the loop is freed are dropped.
 * Return: 0, -ENOMEM.
 */
CORIO_API int corio_call_threadsafe(corio_loop *loop, void (*fn)(void *), void *arg);

/* ------------------------------------------------------------------ */
/* Tasks                                                               */

/**
 * corio_spawn() - start @fn(@arg) as a new task on the current loop.
 * The task starts running in a later turn, never inside this call.
 * @out: receives the task, which must later be passed to corio_join() or
 *       corio_detach(); NULL detaches it at once.
 * Return: 0, -EPERM outside a loop, -ENOMEM (no memory or no kernel
 * mapping left for the stack).
 */
CORIO_API int corio_spawn(corio_task **out, corio_fn fn, void *arg);

/** corio_spawn_ex() - corio_spawn() on @loop (NULL: the current loop) with
 *  options @o (may be NULL).  Must be called on @loop's thread.
 *  Return: as corio_spawn(), and -EINVAL for a stack size over 1 GiB. */
CORIO_API int corio_spawn_ex(corio_loop *loop, corio_task **out, corio_fn fn, void *arg,
			     const corio_task_options *o);

/**
 * corio_join() - wait for @t to finish, then free it.  Suspends.
 * @result: receives the task's return value (may be NULL).
 * Return: 0; -ECANCELED if @t was cancelled before it finished (it is
 * freed, and *@result still receives what its function returned, so that
 * nothing it owns is lost; often CORIO_ERR_PTR(-ECANCELED)); -EINVAL if @t is already being joined or is
 * detached; -EDEADLK if @t is the caller.  If the *caller* is cancelled or
 * its timeout expires while it waits, returns that error (-ECANCELED or
 * -ETIMEDOUT) and @t is left running and unjoined: join it later (inside a
 * shield if the caller is cancelled) or detach it.  Called from outside any
 * task (for example after corio_loop_run() returned), joins a task that
 * has finished and returns -EAGAIN for one that has not.
 */
CORIO_API int corio_join(corio_task *t, void **result);

/**
 * corio_cancel() - cancel @t.  Cancellation is sticky: from now on every
 * suspending call @t makes fails at once with -ECANCELED, and the one it is
 * suspended in (if any) is interrupted.  An I/O op in flight is cancelled
 * in the kernel and the call returns only once the kernel has let go of its
 * buffer; if the op completed first, its real result is returned and the
 * cancellation is seen at the next call.  A task cancelled before it ran
 * still runs (so it can release what its argument owns), starting
 * cancelled.  Cancelling a finished task does nothing.  May be called on
 * the current task.  Never suspends.
 */
CORIO_API void corio_cancel(corio_task *t);

/** corio_detach() - let @t free itself when it finishes (at once if it has
 *  finished).  @t must not be used afterwards. */
CORIO_API void corio_detach(corio_task *t);

/** corio_self() - the running task, NULL outside tasks. */
CORIO_API corio_task *corio_self(void);

/* ------------------------------------------------------------------ */
/* Task-local values (asyncio's contextvars)                           */

/** A key for task-local values; 0 is never a valid key. */
typedef unsigned corio_local_key;

/**
 * corio_local_key_new() - make a key for task-local values, once per
 * process (keys are never freed; at most 1024).  Thread-safe.
 * @dtor: run with a value once no task holds it any more (NULL: none).
 *        It runs on the stack of the task that let go last, and must not
 *        suspend.
 * Return: 0, -EINVAL (NULL @out), -EAGAIN (no key left).
 */
CORIO_API int corio_local_key_new(corio_local_key *out, void (*dtor)(void *));

/**
 * corio_local_get() - the calling task's value for @key: the one it set,
 * or the one its parent had when it was spawned; NULL if none (and
 * outside a task).  Never suspends; a few instructions.
 */
CORIO_API void *corio_local_get(corio_local_key key);

/**
 * corio_local_set() - set the calling task's value for @key (NULL
 * removes it).  Tasks spawned from now on start with it; tasks spawned
 * before, and the parent, keep theirs.  Never suspends.
 * Return: 0, -EPERM (outside a task), -EINVAL (a key never made),
 * -ENOMEM.
 */
CORIO_API int corio_local_set(corio_local_key key, void *value);

/** corio_task_name() - @t's name ("task-<id>" when none was given). */
CORIO_API const char *corio_task_name(const corio_task *t);

/** corio_task_done() - 1 if @t has finished, else 0. */
CORIO_API int corio_task_done(const corio_task *t);

/** corio_yield() - let every other ready task run, then continue.  Not a
 *  cancellation point.  Outside a task it does nothing. */
CORIO_API void corio_yield(void);

/** corio_checkpoint() - a cancellation point that does not block: -ECANCELED
 *  or -ETIMEDOUT if the calling task has been interrupted, else 0. */
CORIO_API int corio_checkpoint(void);

/*
 * Errors from tasks, kernel style: a task returns CORIO_ERR_PTR(-EIO) and
 * whoever joins it tests the result with corio_is_err() and recovers the
 * code with corio_ptr_err().  Valid for -4095 .. -1 and for corio's own
 * codes down to CORIO_ERR_MIN.
 */
#define CORIO_ERR_MIN (-8191)
#define CORIO_ERR_PTR(err) ((void *)(intptr_t)(err))
/** corio_is_err() - 1 if @result was made by CORIO_ERR_PTR(), else 0. */
static inline int corio_is_err(const void *result)
{
	return (uintptr_t)result >= (uintptr_t)(intptr_t)CORIO_ERR_MIN;
}
/** corio_ptr_err() - the negative code inside an error result, else 0. */
static inline int corio_ptr_err(const void *result)
{
	return corio_is_err(result) ? (int)(intptr_t)result : 0;
}

/* ------------------------------------------------------------------ */
/* Time, sleeping and timeout scopes                                   */

/** corio_now() - CLOCK_MONOTONIC in nanoseconds, as read once per turn of
 *  the loop (fresh outside a loop).  It is the one time base: corio_sleep(d)
 *  is exactly corio_sleep_until(corio_now() + d), and corio_call_later()
 *  and timeout scopes count from it too, so deadlines set in one turn keep
 *  their order however long the turn takes (a long turn makes them all
 *  come due sooner in wall time, never out of order). */
CORIO_API uint64_t corio_now(void);

/** corio_sleep() - suspend the calling task until corio_now() + @ns.
 *  Return: 0, -ECANCELED, -ETIMEDOUT (a timeout scope expired), -EPERM. */
CORIO_API int corio_sleep(uint64_t ns);

/** corio_sleep_until() - as corio_sleep() until corio_now() >= @when_ns. */
CORIO_API int corio_sleep_until(uint64_t when_ns);

struct corio__timer_node {
	uint64_t when;     /* deadline, ns */
	uint64_t seq;      /* insertion order: FIFO among equal deadlines */
	uint32_t heap_idx; /* index in the loop's heap, UINT32_MAX if not in it */
	uint32_t kind;     /* what firing means (internal) */
};

/**
 * A timeout scope (trio's fail_after): lives on the caller's stack between
 * corio_timeout_push() and corio_timeout_pop().  Fields are private except
 * @expired, which is 1 after pop if this scope's own deadline passed.
 */
typedef struct corio_scope {
	struct corio__timer_node node; /* private */
	struct corio_scope *outer;     /* private */
	corio_task *task;              /* private */
	int shield;                    /* private */
	int expired;                   /* 1 once the deadline passed */
} corio_scope;

/**
 * corio_timeout_push() - open a timeout scope on the calling task: once
 * corio_now() reaches @deadline_ns, the suspending call in progress and
 * every later one inside the scope fail with -ETIMEDOUT.  Scopes nest; each
 * must be popped in reverse order by the same task.  Outside a task: no-op.
 */
CORIO_API void corio_timeout_push(corio_scope *s, uint64_t deadline_ns);

/** corio_timeout_pop() - close the innermost scope @s.  After it,
 *  @s->expired tells whether this scope's deadline passed. */
CORIO_API void corio_timeout_pop(corio_scope *s);

/**
 * corio_shield_push() - open a shield on the calling task: inside it,
 * cancellation of the task and the deadlines of outer scopes are deferred
 * (timeout scopes opened inside the shield still work).  They take effect
 * at the first suspending call after corio_shield_pop().  Use it for
 * cleanup that must finish, such as joining children after a cancel.
 */
CORIO_API void corio_shield_push(corio_scope *s);
/** corio_shield_pop() - close the shield @s (innermost scope). */
CORIO_API void corio_shield_pop(corio_scope *s);

/* ------------------------------------------------------------------ */
/* Basic I/O ops (files get more in corio/io.h)                        */

/** corio_nop() - one round trip through the backend (an io_uring NOP).
 *  Suspends.  Return: 0, -ECANCELED, -ETIMEDOUT, -EPERM. */
CORIO_API int corio_nop(void);

/**
 * corio_read() - read up to @n bytes from @fd (at its file position) into
 * @buf.  Suspends until data or EOF.  @buf must stay valid until the call
 * returns, which is after the kernel let go of it even when cancelled.
 * Return: bytes read (0 at EOF), -ECANCELED, -ETIMEDOUT, -EPERM, -EINVAL
 * (@n over INT_MAX or NULL @buf with @n > 0), or the read(2) error.
 */
CORIO_API ssize_t corio_read(int fd, void *buf, size_t n);

/** corio_write() - write up to @n bytes from @buf to @fd.  May be short,
 *  as write(2).  Suspends.  Return: bytes written or a negative errno as
 *  corio_read(). */
CORIO_API ssize_t corio_write(int fd, const void *buf, size_t n);

/* ------------------------------------------------------------------ */
/* Errors                                                              */

/* Name-lookup codes (CORIO_ENOTFOUND, ...) are dns's: see corio/dns.h. */

/** corio_strerror() - text for any code corio returns: negative errno
 *  values and corio's own codes.  Never NULL; thread-safe. */
CORIO_API const char *corio_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* CORIO_RUNTIME_H */
