/* SPDX-License-Identifier: MIT */
/*
 * chan.c - channels: a ring of fixed-size items plus two FIFO wait queues
 * (sync.c), one of blocked senders, each pointing at the item it offers,
 * and one of blocked receivers, each pointing at its buffer.
 *
 * Every transfer is a direct hand-off made by the task that finds the
 * other side waiting: a sender that finds a receiver queued copies its item
 * into that receiver's buffer and wakes it with 0; a receiver that takes
 * from a full ring moves the longest sender's item into the freed slot (or,
 * at capacity 0, takes the sender's item itself) and wakes it with 0.  A
 * woken waiter's transfer is therefore already done and it returns 0 even
 * if it is cancelled before it runs.  A waiter interrupted while queued
 * leaves without touching anything, so the next one gets the item.
 * Invariants: receivers wait only while the ring is empty and no sender
 * waits; senders wait only while the ring is full and no receiver waits.
 */
#include "corio_int.h"
#include "corio/sync.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct corio_chan {
	size_t item_size;
	size_t cap;                    /* ring slots; 0: rendezvous */
	size_t head;                   /* slot of the oldest queued item */
	size_t len;                    /* items queued */
	struct corio__waitq senders;   /* waiter.item: the item offered */
	struct corio__waitq receivers; /* waiter.item: where to copy to */
	bool closed;
	unsigned char ring[];          /* cap * item_size bytes */
};

int corio_chan_new(corio_chan **out, size_t item_size, size_t capacity)
{
	size_t bytes;
	if (!out || __builtin_mul_overflow(item_size, capacity, &bytes) ||
	    bytes > SIZE_MAX - sizeof(corio_chan))
		return -EINVAL;
	corio_chan *ch = calloc(1, sizeof(*ch) + bytes);
	if (!ch)
		return -ENOMEM;
	ch->item_size = item_size;
	ch->cap = capacity;
	*out = ch;
	return 0;
}

static void copy(const corio_chan *ch, void *dst, const void *src)
{
	if (ch->item_size) /* item pointers may be NULL for empty items */
		memcpy(dst, src, ch->item_size);
}

static unsigned char *slot(corio_chan *ch, size_t i)
{
	return ch->ring + (ch->head + i) % ch->cap * ch->item_size;
}

/* The ring lost its oldest item: let the longest sender fill the room. */
static void refill(corio_chan *ch)
{
	struct corio__waiter *w = corio__waitq_pop(&ch->senders);
	if (!w)
		return;
	copy(ch, slot(ch, ch->len++), w->item);
	corio__wake(w->task, 0);
}

static bool bad_args(const corio_chan *ch, const void *item)
{
	return !ch || (!item && ch->item_size);
}

int corio_chan_try_send(corio_chan *ch, const void *item)
{
	if (bad_args(ch, item))
		return -EINVAL;
	if (ch->closed)
		return -EPIPE;
	struct corio__waiter *w = corio__waitq_pop(&ch->receivers);
	if (w) {
		copy(ch, w->item, item);
		corio__wake(w->task, 0);
		return 0;
	}
	if (ch->len == ch->cap)
		return -EAGAIN;
	copy(ch, slot(ch, ch->len++), item);
	return 0;
}

int corio_chan_try_recv(corio_chan *ch, void *item)
{
	if (bad_args(ch, item))
		return -EINVAL;
	if (ch->len) {
		copy(ch, item, slot(ch, 0));
		ch->head = (ch->head + 1) % ch->cap;
		ch->len--;
		refill(ch);
		return 0;
	}
	/* an empty ring with a sender waiting: only at capacity 0 */
	struct corio__waiter *w = corio__waitq_pop(&ch->senders);
	if (w) {
		copy(ch, item, w->item);
		corio__wake(w->task, 0);
		return 0;
	}
	return ch->closed ? -EPIPE : -EAGAIN;
}

int corio_chan_send(corio_chan *ch, const void *item)
{
	int err = corio__may_block();
	if (err)
		return err;
	err = corio_chan_try_send(ch, item);
	if (err != -EAGAIN)
		return err;
	struct corio__waiter w = {.item = (void *)item};
	w.what = "a channel send";
	return corio__waitq_wait(&ch->senders, &w);
}

int corio_chan_recv(corio_chan *ch, void *item)
{
	int err = corio__may_block();
	if (err)
		return err;
	err = corio_chan_try_recv(ch, item);
	if (err != -EAGAIN)
		return err;
	struct corio__waiter w = {.item = item};
	w.what = "a channel receive";
	return corio__waitq_wait(&ch->receivers, &w);
}

void corio_chan_close(corio_chan *ch)
{
	if (!ch || ch->closed)
		return;
	ch->closed = true;
	corio__waitq_wake_all(&ch->receivers, -EPIPE);
	corio__waitq_wake_all(&ch->senders, -EPIPE);
}

void corio_chan_free(corio_chan *ch)
{
	if (!ch)
		return;
	corio_chan_close(ch);
	free(ch);
}
