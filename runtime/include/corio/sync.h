/* SPDX-License-Identifier: MIT */
/*
 * corio/sync.h - structured concurrency and synchronisation between the
 * tasks of one loop: task groups (nurseries), gather and wait_any, and the
 * primitives mutex, semaphore, event, condition variable and channel.
 * This header is their API reference; conventions as in corio/runtime.h.
 *
 * Every primitive is FIFO-fair and cancellation-safe.  Whoever releases a
 * lock, a permit or a message hands it directly to the longest waiter, which
 * owns it from that moment: if that waiter is cancelled (or its deadline
 * passes) before it runs again, its call still succeeds, and the
 * cancellation is seen at its next suspending call.  A waiter interrupted
 * while still queued leaves the queue having taken nothing, so what would
 * have been handed to it goes to the next waiter.  Nothing is lost or
 * duplicated.  None of this is thread-safe: share these objects only between
 * tasks (and callbacks) of one loop.
 */
#ifndef CORIO_SYNC_H
#define CORIO_SYNC_H

#include <corio/runtime.h>

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Task groups                                                         */

/** A group of child tasks, owned by the task that created it. */
typedef struct corio_group corio_group;

/** Group options for corio_group_new_ex().  Zero-initialise. */
typedef struct corio_group_options {
	/** 0 (default, as trio's nursery): the first child that fails
	 *  cancels its siblings.  1: failures are recorded, siblings go on. */
	int keep_going;
} corio_group_options;

/**
 * corio_group_new() - create an empty group owned by the calling task (no
 * owner when called from outside a task).  Cancelling the owner cancels
 * every child of its groups at once (and so, through the children's own
 * groups, the grandchildren); shields protect the owner's own calls, not
 * its children.  A group created by a cancelled owner starts cancelled.
 * Free the group before the owner returns; if it does not, the group
 * loses its owner (nothing cancels it any more) but stays valid.
 * Return: 0, -EPERM outside a loop, -EINVAL (NULL @out), -ENOMEM.
 */
CORIO_API int corio_group_new(corio_group **out);

/** corio_group_new_ex() - corio_group_new() with options @o (may be NULL). */
CORIO_API int corio_group_new_ex(corio_group **out, const corio_group_options *o);

/**
 * corio_group_spawn() - start @fn(@arg) as a child of @g (corio_spawn()).
 * A child fails by returning CORIO_ERR_PTR(-err); a child that was
 * cancelled on its own (corio_cancel() on it, or by the group) does not
 * count as a failure, whatever it returns.  The group holds the child until
 * corio_group_next() hands it over: until then don't corio_join() or
 * corio_detach() it (corio_cancel() is fine).  A child spawned into a
 * cancelled group starts cancelled.
 * @out: receives the child (may be NULL).
 * Return: 0, or a corio_spawn() error.
 */
CORIO_API int corio_group_spawn(corio_group *g, corio_task **out, corio_fn fn, void *arg);

/** corio_group_spawn_ex() - corio_group_spawn() with task options @o. */
CORIO_API int corio_group_spawn_ex(corio_group *g, corio_task **out, corio_fn fn, void *arg,
				   const corio_task_options *o);

/**
 * corio_group_next() - the next child to finish, in completion order
 * (curio's `async for task in group`).  Suspends until one finishes.  The
 * child leaves the group: the caller must corio_join() it (which frees it
 * and gives its result) or corio_detach() it.
 * Return: the child; NULL when the group holds no child any more, or when
 * the caller is cancelled or its deadline passes while it waits
 * (corio_checkpoint() then says which; the children go on), or when another
 * task is already waiting on @g.  A child that has already finished is
 * returned even to a cancelled caller, without suspending.
 */
CORIO_API corio_task *corio_group_next(corio_group *g);

/**
 * corio_group_wait() - wait until every child has finished and join them
 * (their handles become invalid).  Suspends, unless no child is running:
 * then it only joins the finished ones, even for a cancelled caller.
 * Return: 0; the error of the first child that failed (under fail-fast,
 * returned only once its cancelled siblings are gone too); -ECANCELED or
 * -ETIMEDOUT if the caller is interrupted (the children still running stay
 * in the group: call it again, or corio_group_free()); -EBUSY if another
 * task is waiting on @g; -EPERM outside a task while children still run.
 */
CORIO_API int corio_group_wait(corio_group *g);

/** corio_group_cancel() - cancel every child of @g, and any child spawned
 *  into it from now on.  Not a failure: corio_group_wait() then returns 0
 *  unless a child did fail.  Never suspends. */
CORIO_API void corio_group_cancel(corio_group *g);

/**
 * corio_group_free() - cancel the children still running, join every
 * child still held, and free @g.  Waits inside a shield, so it works even
 * when the caller is cancelled; it suspends until the cancelled children
 * finish.  Called outside a task, the running children are cancelled and
 * detached instead.  No task may be waiting on @g.  NULL is ignored.
 */
CORIO_API void corio_group_free(corio_group *g);

/* ------------------------------------------------------------------ */
/* Combinators                                                         */

/**
 * corio_gather() - wait until all @n @tasks have finished, then join them
 * all and store their results in submission order: @results[i] is what
 * tasks[i] returned, or CORIO_ERR_PTR(-ECANCELED) if it was cancelled.  A
 * failing task does not stop the wait for the others.  Suspends.
 * @results: may be NULL.
 * The tasks must be joinable (not detached, not being joined, not held by a
 * group) and must not be joined by anyone else while the call waits.
 * Return: 0 if every task succeeded, else the error of the lowest-index
 * task that failed (a corio_is_err() result, or -ECANCELED); -EINVAL (bad
 * array, a task listed twice, not joinable, or the caller itself).  If the
 * caller is cancelled or its deadline passes first: -ECANCELED or
 * -ETIMEDOUT, no task is joined and @results is untouched.  Outside a task:
 * -EAGAIN unless all have finished.
 */
CORIO_API int corio_gather(corio_task **tasks, size_t n, void **results);

/**
 * corio_wait_any() - wait until one of the @n @tasks has finished.  Joins
 * nothing.  Suspends unless one has already finished.  Same requirements on
 * the tasks as corio_gather().
 * Return: the index of the first to finish (of those already finished, the
 * lowest index); -EINVAL; -ECANCELED or -ETIMEDOUT if the caller is
 * interrupted first; -EAGAIN outside a task when none has finished.
 */
CORIO_API int corio_wait_any(corio_task **tasks, size_t n);

/* ------------------------------------------------------------------ */
/* Primitives.  Fields are private: use the functions.                 */

/* Private: the intrusive list every part of corio uses (its functions
 * are internal), here because primitives embed one. */
struct corio__node {
	struct corio__node *prev, *next;
};
struct corio__list {
	struct corio__node *head, *tail;
};

/** A FIFO of tasks blocked on a primitive.  Private. */
struct corio__waitq {
	struct corio__list list; /* private: waiters, the longest first */
};

/** A mutual-exclusion lock held by one task at a time. */
typedef struct corio_mutex {
	struct corio__waitq waiters; /* private: tasks blocked in lock() */
	corio_task *owner;           /* private: the holder, NULL if unlocked */
} corio_mutex;

/** A counting semaphore, optionally bounded. */
typedef struct corio_sem {
	struct corio__waitq waiters; /* private: tasks blocked in acquire() */
	unsigned value;              /* private: free permits (0 while any wait) */
	unsigned bound;              /* private: most free permits, 0: none */
} corio_sem;

/** An event flag tasks can wait for. */
typedef struct corio_event {
	struct corio__waitq waiters; /* private: tasks blocked in wait() */
	int set;                     /* private: 1 once set, until cleared */
} corio_event;

/** A condition variable, used with a corio_mutex. */
typedef struct corio_cond {
	struct corio__waitq waiters; /* private: tasks blocked in wait() */
} corio_cond;

/** corio_mutex_init() - make @m an unlocked mutex.  Equivalent to
 *  zero-filling it.  A mutex needs no destruction. */
CORIO_API void corio_mutex_init(corio_mutex *m);

/**
 * corio_mutex_lock() - lock @m, waiting in FIFO order behind earlier
 * callers.  Suspends if @m is held.
 * Return: 0 (the caller holds @m); -ECANCELED or -ETIMEDOUT (not locked;
 * a cancelled task fails at once even if @m is free); -EDEADLK if the caller
 * already holds it; -EPERM outside a task.
 */
CORIO_API int corio_mutex_lock(corio_mutex *m);

/** corio_mutex_trylock() - lock @m if it is free.  Never suspends.
 *  Return: 0, -EBUSY if held (by anyone, the caller included), -EPERM
 *  outside a task. */
CORIO_API int corio_mutex_trylock(corio_mutex *m);

/**
 * corio_mutex_unlock() - release @m, handing it to the longest waiter if
 * any.  Only the holder may unlock: an unlock by another task (or from
 * outside a task) is ignored, and reported on stderr in debug mode
 * (CORIO_DEBUG=1).  Never suspends.
 */
CORIO_API void corio_mutex_unlock(corio_mutex *m);

/** corio_sem_init() - make @s a semaphore with @value free permits; with
 *  a @bound other than 0, releases may never make more than @bound permits
 *  free (a @bound below @value is raised to @value). */
CORIO_API void corio_sem_init(corio_sem *s, unsigned value, unsigned bound);

/**
 * corio_sem_acquire() - take a permit from @s, waiting in FIFO order while
 * none is free.  Suspends.
 * Return: 0 (the caller holds a permit); -ECANCELED or -ETIMEDOUT (no
 * permit taken); -EPERM outside a task.
 */
CORIO_API int corio_sem_acquire(corio_sem *s);

/** corio_sem_try_acquire() - take a permit if one is free.  Never
 *  suspends; may be called outside tasks.  Return: 0, -EAGAIN. */
CORIO_API int corio_sem_try_acquire(corio_sem *s);

/** corio_sem_release() - give a permit back: to the longest waiter if
 *  any, else to the free count.  Never suspends; may be called outside
 *  tasks.  Return: 0, -EOVERFLOW if the free count would pass the bound
 *  (or UINT_MAX); nothing changes then. */
CORIO_API int corio_sem_release(corio_sem *s);

/** corio_sem_value() - the number of free permits (0 while tasks wait). */
CORIO_API unsigned corio_sem_value(const corio_sem *s);

/** corio_event_init() - make @e a clear event.  Equivalent to
 *  zero-filling it. */
CORIO_API void corio_event_init(corio_event *e);

/** corio_event_set() - set @e and wake every task waiting for it.  Tasks
 *  woken return 0 even if @e is cleared before they run.  Never suspends. */
CORIO_API void corio_event_set(corio_event *e);

/** corio_event_clear() - clear @e.  Never suspends. */
CORIO_API void corio_event_clear(corio_event *e);

/** corio_event_is_set() - 1 if @e is set, else 0. */
CORIO_API int corio_event_is_set(const corio_event *e);

/** corio_event_wait() - wait until @e is set (return at once if it is).
 *  Suspends.  Return: 0, -ECANCELED, -ETIMEDOUT, -EPERM outside a task. */
CORIO_API int corio_event_wait(corio_event *e);

/** corio_cond_init() - make @c a condition variable with no waiter.
 *  Equivalent to zero-filling it. */
CORIO_API void corio_cond_init(corio_cond *c);

/**
 * corio_cond_wait() - release @m, which the caller must hold, wait for a
 * signal on @c, then lock @m again.  Suspends.  @m is held again whenever
 * the call returns, whatever it returns: relocking is done inside a shield,
 * so an interrupted waiter may still wait for the lock.  As with any
 * condition variable, check the predicate in a loop.
 * Return: 0 (signalled); -ECANCELED or -ETIMEDOUT (no signal consumed: it
 * goes to the next waiter); -EPERM if the caller does not hold @m (nothing
 * done).
 */
CORIO_API int corio_cond_wait(corio_cond *c, corio_mutex *m);

/** corio_cond_signal() - wake the longest waiter of @c, if any.  Never
 *  suspends. */
CORIO_API void corio_cond_signal(corio_cond *c);

/** corio_cond_broadcast() - wake every waiter of @c.  Never suspends. */
CORIO_API void corio_cond_broadcast(corio_cond *c);

/* ------------------------------------------------------------------ */
/* Channels                                                            */

/** A bounded FIFO queue of fixed-size items between tasks of one loop. */
typedef struct corio_chan corio_chan;

/**
 * corio_chan_new() - create a channel of items of @item_size bytes that
 * holds up to @capacity items.  With @capacity 0 it is a rendezvous: a
 * send completes only when a receiver takes the item.  Items are copied in
 * and out with memcpy.
 * Return: 0, -EINVAL (NULL @out, or a size that overflows), -ENOMEM.
 */
CORIO_API int corio_chan_new(corio_chan **out, size_t item_size, size_t capacity);

/**
 * corio_chan_send() - copy the item at @item into @ch: straight into the
 * buffer of the longest waiting receiver, else into the queue, else wait
 * in FIFO order for room (or, at capacity 0, for a receiver).  Suspends.
 * Return: 0 (the item is delivered or queued; it will be received exactly
 * once unless the channel is freed first); -EPIPE if @ch is closed or gets
 * closed while the caller waits (the item is not delivered); -ECANCELED or
 * -ETIMEDOUT (not delivered); -EPERM outside a task; -EINVAL (NULL @ch,
 * or NULL @item with a non-zero item size).
 */
CORIO_API int corio_chan_send(corio_chan *ch, const void *item);

/**
 * corio_chan_recv() - take the oldest item of @ch into @item, waiting in
 * FIFO order if there is none.  Items queued before a close can still be
 * received.  Suspends.
 * Return: 0; -EPIPE if @ch is closed and empty; -ECANCELED or -ETIMEDOUT
 * (no item taken: it goes to the next receiver); -EPERM outside a task;
 * -EINVAL as corio_chan_send().
 */
CORIO_API int corio_chan_recv(corio_chan *ch, void *item);

/** corio_chan_try_send() - corio_chan_send() without waiting.  May be
 *  called outside tasks.  Return: 0, -EAGAIN (no room and no receiver),
 *  -EPIPE (closed), -EINVAL. */
CORIO_API int corio_chan_try_send(corio_chan *ch, const void *item);

/** corio_chan_try_recv() - corio_chan_recv() without waiting.  May be
 *  called outside tasks.  Return: 0, -EAGAIN (nothing to take), -EPIPE
 *  (closed and empty), -EINVAL. */
CORIO_API int corio_chan_try_recv(corio_chan *ch, void *item);

/** corio_chan_close() - refuse further sends and wake every waiter: the
 *  waiting senders and receivers return -EPIPE.  Queued items stay
 *  receivable.  Closing again does nothing.  Never suspends. */
CORIO_API void corio_chan_close(corio_chan *ch);

/** corio_chan_free() - close @ch (waking its waiters, which must not use
 *  it afterwards) and free it with any items still queued.  NULL is
 *  ignored. */
CORIO_API void corio_chan_free(corio_chan *ch);

/* ------------------------------------------------------------------ */
/* Cross-loop channels                                                 */

/**
 * A bounded channel between loops (threads): like corio_chan, but any
 * task of any loop may send or receive, and the non-blocking try_ calls
 * work from any thread.  A task that must wait (ring full on send, empty
 * on receive) suspends; its thread keeps running its loop, which is woken
 * through corio_call_threadsafe()'s path (MSG_RING between io_uring loops)
 * when the other side makes progress.  Items are copied (item_size bytes);
 * hand over a pointer or an fd to move ownership of bigger things.
 */
typedef struct corio_xchan corio_xchan;

/** corio_xchan_new() - a channel of @capacity (>= 1) items of @item_size
 *  bytes.  Return: 0, -EINVAL, -ENOMEM. */
CORIO_API int corio_xchan_new(corio_xchan **out, size_t item_size, size_t capacity);
/** corio_xchan_send() - copy *@item in, waiting while the channel is full.
 *  Suspends.  Return: 0, -EPIPE (closed), -ECANCELED, -ETIMEDOUT, -EPERM
 *  (outside a task), -EINVAL.  A cancelled sender's item was not sent. */
CORIO_API int corio_xchan_send(corio_xchan *ch, const void *item);
/** corio_xchan_recv() - take the oldest item into *@item, waiting while
 *  the channel is empty.  Suspends.  Return: 0, -EPIPE (closed and
 *  empty), -ECANCELED, -ETIMEDOUT, -EPERM, -EINVAL. */
CORIO_API int corio_xchan_recv(corio_xchan *ch, void *item);
/** corio_xchan_try_send() - as send, without waiting: -EAGAIN when full.
 *  Thread-safe, from any thread. */
CORIO_API int corio_xchan_try_send(corio_xchan *ch, const void *item);
/** corio_xchan_try_recv() - as recv, without waiting: -EAGAIN when empty.
 *  Thread-safe, from any thread. */
CORIO_API int corio_xchan_try_recv(corio_xchan *ch, void *item);
/** corio_xchan_close() - no more sends; queued items stay receivable,
 *  then receivers get -EPIPE.  Wakes every waiter.  Thread-safe. */
CORIO_API void corio_xchan_close(corio_xchan *ch);
/** corio_xchan_free() - free @ch with any items still queued, once no
 *  task uses it or waits on it any more.  NULL is ignored. */
CORIO_API void corio_xchan_free(corio_xchan *ch);

#ifdef __cplusplus
}
#endif
#endif /* CORIO_SYNC_H */
