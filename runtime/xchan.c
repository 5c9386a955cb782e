/* SPDX-License-Identifier: MIT */
/*
 * xchan.c - cross-loop channels (corio_xchan_*): a bounded ring of
 * fixed-size items behind a mutex, shared by tasks of any loops, for
 * handing work or connections from loop to loop.  A task that finds the
 * ring full (or empty) queues a waiter on its own stack and suspends; its
 * thread keeps running its loop.  Whoever changes the ring pops the
 * longest waiter of the other side and signals it -- directly on its own
 * loop, else through a thread-safe call with a record inside the waiter
 * (no allocation, so a signal cannot be lost).  A signal means "look
 * again": the woken task retries under the lock.
 *
 * A waiter is off its queue once signalled, and then stays suspended until
 * the signal arrives even if it is cancelled meanwhile (its record is on
 * its stack); a cancelled task that was not yet signalled leaves at once.
 * A signalled waiter always retries before it fails, so no signal is lost.
 */
#include "corio_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct xwaiter {
	struct corio__wait w;     /* first: the interrupt hook's argument */
	struct corio__node link;  /* in senders or receivers (lock) */
	struct corio__list *q;    /* the queue it is on, NULL once signalled */
	corio_xchan *ch;
	corio_task *task;
	corio_loop *loop;         /* the task's loop */
	struct corio__cb cb;      /* the signal, when it crosses loops */
};

struct corio_xchan {
	pthread_mutex_t lock;
	size_t item_size;
	size_t cap;                   /* ring slots, >= 1 */
	size_t head, len;             /* oldest item, items queued */
	struct corio__list senders;   /* xwaiter, waiting for room */
	struct corio__list receivers; /* xwaiter, waiting for an item */
	bool closed;
	unsigned char ring[];
};

int corio_xchan_new(corio_xchan **out, size_t item_size, size_t capacity)
{
	size_t bytes;
	if (!out || !capacity || __builtin_mul_overflow(item_size, capacity, &bytes) ||
	    bytes > SIZE_MAX - sizeof(corio_xchan))
		return -EINVAL;
	corio_xchan *ch = calloc(1, sizeof(*ch) + bytes);
	if (!ch)
		return -ENOMEM;
	if (pthread_mutex_init(&ch->lock, NULL)) {
		free(ch);
		return -ENOMEM;
	}
	ch->item_size = item_size;
	ch->cap = capacity;
	*out = ch;
	return 0;
}

/* ---- signals ---------------------------------------------------------- */

static void signal_arrived(void *p)
{
	struct xwaiter *w = p;
	corio__task_wake(w->task, 0);
}

/* Take the longest waiter off @q (lock held); NULL if none. */
static struct xwaiter *pop_waiter(struct corio__list *q)
{
	struct corio__node *n = corio__list_pop_front(q);
	if (!n)
		return NULL;
	struct xwaiter *w = corio__list_entry(n, struct xwaiter, link);
	w->q = NULL;
	return w;
}

/* After the lock is dropped: wake @w's task on its loop. */
static void send_signal(struct xwaiter *w)
{
	if (!w)
		return;
	if (corio__tls_loop == w->loop && corio__loop_is_owner(w->loop)) {
		corio__task_wake(w->task, 0);
		return;
	}
	w->cb.r.kind = CORIO__RUN_CB_EXT;
	w->cb.fn = signal_arrived;
	w->cb.arg = w;
	corio__call_threadsafe_rec(w->loop, &w->cb);
}

/* The waiting task was cancelled or its deadline passed: if it is still
 * queued, it leaves now; if signalled, the signal is on its way and the
 * task takes it (then fails at its next wait). */
static void interrupt(corio_task *t, struct corio__wait *cw, int err)
{
	struct xwaiter *w = (struct xwaiter *)(void *)cw;
	pthread_mutex_lock(&w->ch->lock);
	bool queued = w->q != NULL;
	if (queued) {
		corio__list_remove(w->q, &w->link);
		w->q = NULL;
	}
	pthread_mutex_unlock(&w->ch->lock);
	if (queued)
		corio__task_wake(t, err);
}

/* Queue a waiter on @q (lock held, dropped here) and suspend. */
static int wait_on(corio_xchan *ch, struct corio__list *q)
{
	struct xwaiter w = {.w = {.interrupt = interrupt}, .q = q, .ch = ch,
			    .task = corio__current(), .loop = corio__tls_loop};
	corio__list_push_back(q, &w.link);
	pthread_mutex_unlock(&ch->lock);
	return corio__suspend(&w.w);
}

/* ---- the ring ---------------------------------------------------------- */

static unsigned char *slot(corio_xchan *ch, size_t i)
{
	return ch->ring + (ch->head + i) % ch->cap * ch->item_size;
}

/* Lock held.  0, -EPIPE (closed) or -EAGAIN (full); *@wake: a receiver to
 * signal once the lock is dropped. */
static int put_locked(corio_xchan *ch, const void *item, struct xwaiter **wake)
{
	if (ch->closed)
		return -EPIPE;
	if (ch->len == ch->cap)
		return -EAGAIN;
	if (ch->item_size)
		memcpy(slot(ch, ch->len), item, ch->item_size);
	ch->len++;
	*wake = pop_waiter(&ch->receivers);
	return 0;
}

static int take_locked(corio_xchan *ch, void *item, struct xwaiter **wake)
{
	if (!ch->len)
		return ch->closed ? -EPIPE : -EAGAIN;
	if (ch->item_size)
		memcpy(item, slot(ch, 0), ch->item_size);
	ch->head = (ch->head + 1) % ch->cap;
	ch->len--;
	*wake = pop_waiter(&ch->senders);
	return 0;
}

static bool bad_args(const corio_xchan *ch, const void *item)
{
	return !ch || (!item && ch->item_size);
}

int corio_xchan_try_send(corio_xchan *ch, const void *item)
{
	if (bad_args(ch, item))
		return -EINVAL;
	struct xwaiter *wake = NULL;
	pthread_mutex_lock(&ch->lock);
	int err = put_locked(ch, item, &wake);
	pthread_mutex_unlock(&ch->lock);
	send_signal(wake);
	return err;
}

int corio_xchan_try_recv(corio_xchan *ch, void *item)
{
	if (bad_args(ch, item))
		return -EINVAL;
	struct xwaiter *wake = NULL;
	pthread_mutex_lock(&ch->lock);
	int err = take_locked(ch, item, &wake);
	pthread_mutex_unlock(&ch->lock);
	send_signal(wake);
	return err;
}

/* put_locked() or take_locked() on @item, waiting on @waiters while the
 * channel is full (or empty): the send and the receive in one. */
static int xfer(corio_xchan *ch, void *item, bool send, struct corio__list *waiters)
{
	if (bad_args(ch, item))
		return -EINVAL;
	for (;;) {
		int err = corio__may_block();
		if (err)
			return err;
		struct xwaiter *wake = NULL;
		pthread_mutex_lock(&ch->lock);
		err = send ? put_locked(ch, item, &wake) : take_locked(ch, item, &wake);
		if (err != -EAGAIN) {
			pthread_mutex_unlock(&ch->lock);
			send_signal(wake);
			return err;
		}
		err = wait_on(ch, waiters); /* unlocks */
		if (err)
			return err;
	}
}

int corio_xchan_send(corio_xchan *ch, const void *item)
{
	return xfer(ch, (void *)item, true, ch ? &ch->senders : NULL);
}

int corio_xchan_recv(corio_xchan *ch, void *item)
{
	return xfer(ch, item, false, ch ? &ch->receivers : NULL);
}

void corio_xchan_close(corio_xchan *ch)
{
	if (!ch)
		return;
	struct corio__list woken = {0};
	pthread_mutex_lock(&ch->lock);
	ch->closed = true;
	struct xwaiter *w;
	while ((w = pop_waiter(&ch->senders)))
		corio__list_push_back(&woken, &w->link);
	while ((w = pop_waiter(&ch->receivers)))
		corio__list_push_back(&woken, &w->link);
	pthread_mutex_unlock(&ch->lock);
	struct corio__node *n;
	while ((n = corio__list_pop_front(&woken)))
		send_signal(corio__list_entry(n, struct xwaiter, link));
}

void corio_xchan_free(corio_xchan *ch)
{
	if (!ch)
		return;
	pthread_mutex_destroy(&ch->lock);
	free(ch);
}
