/* SPDX-License-Identifier: MIT */
/*
 * tests/chan.c - channels: FIFO order through the ring and through waiting
 * senders, rendezvous at capacity 0, close, timeouts, and message
 * conservation when receivers (or senders) are cancelled on either side of
 * a hand-off, ending in 8 producers x 8 consumers x 100 000 messages with
 * consumers cancelled at random.
 */
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


static void settle(void)
{
	for (int i = 0; i < 3; i++)
		corio_yield();
}

static corio_task *spawn(corio_fn fn, void *arg)
{
	corio_task *t;
	cr_assert_eq(corio_spawn(&t, fn, arg), 0);
	return t;
}

static corio_chan *chan(size_t cap)
{
	corio_chan *ch;
	cr_assert_eq(corio_chan_new(&ch, sizeof(int), cap), 0);
	return ch;
}

static unsigned xorshift(unsigned *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A task that sends or receives one int and reports how it went. */
struct one {
	corio_chan *ch;
	int val;
	int ret;
	uint64_t timeout_ns; /* 0: none */
};

static void *one_io(struct one *o, bool send)
{
	corio_scope sc;
	if (o->timeout_ns)
		corio_timeout_push(&sc, corio_now() + o->timeout_ns);
	o->ret = send ? corio_chan_send(o->ch, &o->val) : corio_chan_recv(o->ch, &o->val);
	if (o->timeout_ns)
		corio_timeout_pop(&sc);
	return NULL;
}

static void *sender(void *p)
{
	return one_io(p, true);
}

static void *receiver(void *p)
{
	return one_io(p, false);
}

/* ---- basics --------------------------------------------------------- */

Test(chan, new_rejects_bad_sizes)
{
	corio_chan *ch = NULL;
	cr_assert_eq(corio_chan_new(NULL, 4, 4), -EINVAL);
	cr_assert_eq(corio_chan_new(&ch, SIZE_MAX, 2), -EINVAL);
	cr_assert_eq(corio_chan_new(&ch, SIZE_MAX / 2, 2), -EINVAL);
	cr_assert_null(ch, "out written on failure");
	cr_assert_eq(corio_chan_try_send(NULL, &ch), -EINVAL);
	cr_assert_eq(corio_chan_new(&ch, 4, 1), 0);
	cr_assert_eq(corio_chan_try_send(ch, NULL), -EINVAL);
	cr_assert_eq(corio_chan_try_recv(ch, NULL), -EINVAL);
	corio_chan_free(ch);
	corio_chan_free(NULL);
}

Test(chan, buffered_try_ops_work_outside_tasks_in_fifo_order)
{
	corio_chan *ch = chan(4);
	int v;
	cr_assert_eq(corio_chan_try_recv(ch, &v), -EAGAIN);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(corio_chan_try_send(ch, &i), 0);
	cr_assert_eq(corio_chan_try_send(ch, &v), -EAGAIN, "sent past capacity");
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(corio_chan_try_recv(ch, &v), 0);
		cr_assert_eq(v, i);
	}
	for (int i = 4; i < 7; i++) /* wrap around the ring */
		cr_assert_eq(corio_chan_try_send(ch, &i), 0);
	for (int i = 3; i < 7; i++) {
		cr_assert_eq(corio_chan_try_recv(ch, &v), 0);
		cr_assert_eq(v, i, "ring lost FIFO order across the wrap");
	}
	cr_assert_eq(corio_chan_try_recv(ch, &v), -EAGAIN);
	cr_assert_eq(corio_chan_send(ch, &v), -EPERM);
	cr_assert_eq(corio_chan_recv(ch, &v), -EPERM);
	corio_chan_free(ch);
}

Test(chan, zero_size_items_count_like_any_other)
{
	corio_chan *ch;
	cr_assert_eq(corio_chan_new(&ch, 0, 2), 0);
	cr_assert_eq(corio_chan_try_send(ch, NULL), 0);
	cr_assert_eq(corio_chan_try_send(ch, NULL), 0);
	cr_assert_eq(corio_chan_try_send(ch, NULL), -EAGAIN);
	cr_assert_eq(corio_chan_try_recv(ch, NULL), 0);
	cr_assert_eq(corio_chan_try_recv(ch, NULL), 0);
	cr_assert_eq(corio_chan_try_recv(ch, NULL), -EAGAIN);
	corio_chan_free(ch);
}

static void *blocked_senders_main(void *p)
{
	corio_chan *ch = chan(2);
	struct one s[5];
	corio_task *t[5];
	for (int i = 0; i < 5; i++) {
		s[i] = (struct one){.ch = ch, .val = i};
		t[i] = spawn(sender, &s[i]);
	}
	settle();
	cr_assert(corio_task_done(t[1]), "a send with room blocked");
	cr_assert_not(corio_task_done(t[2]), "a send on a full channel returned");
	for (int i = 0; i < 5; i++) {
		int v;
		cr_assert_eq(corio_chan_recv(ch, &v), 0);
		cr_assert_eq(v, i, "items out of order through waiting senders");
	}
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(corio_join(t[i], NULL), 0);
		cr_assert_eq(s[i].ret, 0);
	}
	corio_chan_free(ch);
	return NULL;
}

Test(chan, waiting_senders_refill_the_ring_in_fifo_order, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(blocked_senders_main, NULL, NULL);
}

static void *rendezvous_main(void *p)
{
	corio_chan *ch = chan(0);
	int v = 7;
	cr_assert_eq(corio_chan_try_send(ch, &v), -EAGAIN, "rendezvous without receiver");
	struct one s = {.ch = ch, .val = 42};
	corio_task *t = spawn(sender, &s);
	settle();
	cr_assert_not(corio_task_done(t), "rendezvous send returned with no receiver");
	cr_assert_eq(corio_chan_recv(ch, &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert_eq(s.ret, 0);
	/* receiver first: a try_send hands the item over directly */
	struct one r = {.ch = ch};
	t = spawn(receiver, &r);
	settle();
	v = 43;
	cr_assert_eq(corio_chan_try_send(ch, &v), 0);
	cr_assert_eq(corio_chan_try_recv(ch, &v), -EAGAIN, "rendezvous kept an item");
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert_eq(r.ret, 0);
	cr_assert_eq(r.val, 43);
	corio_chan_free(ch);
	return NULL;
}

Test(chan, capacity_zero_is_a_rendezvous, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(rendezvous_main, NULL, NULL);
}

/* ---- close ---------------------------------------------------------- */

static void *close_main(void *p)
{
	corio_chan *ch = chan(1);
	struct one r[3], s[2];
	corio_task *rt[3], *st[2];
	for (int i = 0; i < 3; i++) {
		r[i] = (struct one){.ch = ch};
		rt[i] = spawn(receiver, &r[i]);
	}
	settle();
	corio_chan_close(ch);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(corio_join(rt[i], NULL), 0);
		cr_assert_eq(r[i].ret, -EPIPE, "close did not wake a receiver");
	}
	corio_chan_free(ch);

	ch = chan(1);
	for (int i = 0; i < 2; i++) {
		s[i] = (struct one){.ch = ch, .val = 10 + i};
		st[i] = spawn(sender, &s[i]);
	}
	settle(); /* 10 is queued, 11 waits */
	corio_chan_close(ch);
	corio_chan_close(ch); /* again: nothing */
	for (int i = 0; i < 2; i++)
		cr_assert_eq(corio_join(st[i], NULL), 0);
	cr_assert_eq(s[0].ret, 0);
	cr_assert_eq(s[1].ret, -EPIPE, "close did not wake a sender");
	int v = 0;
	cr_assert_eq(corio_chan_send(ch, &v), -EPIPE);
	cr_assert_eq(corio_chan_try_send(ch, &v), -EPIPE);
	cr_assert_eq(corio_chan_recv(ch, &v), 0, "queued item lost at close");
	cr_assert_eq(v, 10);
	cr_assert_eq(corio_chan_recv(ch, &v), -EPIPE);
	cr_assert_eq(corio_chan_try_recv(ch, &v), -EPIPE);
	corio_chan_free(ch);
	return NULL;
}

Test(chan, close_wakes_every_waiter_and_keeps_queued_items, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(close_main, NULL, NULL);
}

static void *free_main(void *p)
{
	corio_chan *ch = chan(0);
	struct one r = {.ch = ch};
	corio_task *t = spawn(receiver, &r);
	settle();
	corio_chan_free(ch);
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert_eq(r.ret, -EPIPE);
	return NULL;
}

Test(chan, free_wakes_waiters_with_epipe, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(free_main, NULL, NULL);
}

/* ---- cancellation around a hand-off --------------------------------- */

/* Two receivers wait; the first is cancelled before the send: the item
 * must go to the second. */
static void *cancel_before_handoff_main(void *p)
{
	corio_chan *ch = chan((size_t)(intptr_t)p);
	struct one r[2] = {{.ch = ch}, {.ch = ch}};
	corio_task *t[2] = {spawn(receiver, &r[0]), spawn(receiver, &r[1])};
	settle();
	corio_cancel(t[0]);
	int v = 5;
	cr_assert_eq(corio_chan_send(ch, &v), 0);
	cr_assert_eq(corio_join(t[0], NULL), -ECANCELED);
	cr_assert_eq(corio_join(t[1], NULL), 0);
	cr_assert_eq(r[0].ret, -ECANCELED);
	cr_assert_eq(r[1].ret, 0, "the item went to the cancelled receiver");
	cr_assert_eq(r[1].val, 5);
	cr_assert_eq(corio_chan_try_recv(ch, &v), -EAGAIN, "the item was duplicated");
	corio_chan_free(ch);
	return NULL;
}

Test(chan, receiver_cancelled_before_handoff_passes_item_to_next, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(cancel_before_handoff_main, (void *)(intptr_t)0, NULL);
	t_run(cancel_before_handoff_main, (void *)(intptr_t)3, NULL);
}

/* The item is handed to the first receiver, which is cancelled in the
 * same turn before it runs: it must keep the item (not lose it, and not
 * let the second receiver see it too). */
static void *cancel_after_handoff_main(void *p)
{
	corio_chan *ch = chan((size_t)(intptr_t)p);
	struct one r[2] = {{.ch = ch}, {.ch = ch}};
	corio_task *t[2] = {spawn(receiver, &r[0]), spawn(receiver, &r[1])};
	settle();
	int v = 6;
	cr_assert_eq(corio_chan_send(ch, &v), 0);
	corio_cancel(t[0]);
	settle();
	cr_assert_not(corio_task_done(t[1]), "second receiver got an item too");
	v = 7;
	cr_assert_eq(corio_chan_send(ch, &v), 0);
	cr_assert_eq(corio_join(t[0], NULL), -ECANCELED);
	cr_assert_eq(corio_join(t[1], NULL), 0);
	cr_assert_eq(r[0].ret, 0, "an item handed over was lost to the cancel");
	cr_assert_eq(r[0].val, 6);
	cr_assert_eq(r[1].ret, 0);
	cr_assert_eq(r[1].val, 7);
	corio_chan_free(ch);
	return NULL;
}

Test(chan, receiver_cancelled_after_handoff_keeps_item, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(cancel_after_handoff_main, (void *)(intptr_t)0, NULL);
	t_run(cancel_after_handoff_main, (void *)(intptr_t)3, NULL);
}

/* Senders: one cancelled while waiting does not deliver; one cancelled
 * after its item was taken reports success. */
static void *sender_cancel_main(void *p)
{
	corio_chan *ch = chan((size_t)(intptr_t)p);
	int v, filler = -1;
	for (size_t i = 0; i < (size_t)(intptr_t)p; i++)
		cr_assert_eq(corio_chan_try_send(ch, &filler), 0);
	struct one s[3] = {{.ch = ch, .val = 1}, {.ch = ch, .val = 2}, {.ch = ch, .val = 3}};
	corio_task *t[3] = {spawn(sender, &s[0]), spawn(sender, &s[1]), spawn(sender, &s[2])};
	settle();
	corio_cancel(t[0]); /* still queued: 1 is never delivered */
	do
		cr_assert_eq(corio_chan_recv(ch, &v), 0);
	while (v == filler);
	cr_assert_eq(v, 2, "a cancelled sender's item was delivered");
	corio_cancel(t[1]); /* its item is already taken */
	cr_assert_eq(corio_chan_recv(ch, &v), 0);
	cr_assert_eq(v, 3);
	cr_assert_eq(corio_chan_try_recv(ch, &v), -EAGAIN);
	for (int i = 0; i < 3; i++)
		corio_join(t[i], NULL);
	cr_assert_eq(s[0].ret, -ECANCELED);
	cr_assert_eq(s[1].ret, 0, "sender told its delivered item failed");
	cr_assert_eq(s[2].ret, 0);
	corio_chan_free(ch);
	return NULL;
}

Test(chan, cancelled_sender_delivers_only_if_already_taken, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(sender_cancel_main, (void *)(intptr_t)0, NULL);
	t_run(sender_cancel_main, (void *)(intptr_t)2, NULL);
}

static void *timeout_main(void *p)
{
	corio_chan *ch = chan(1);
	struct one r = {.ch = ch, .timeout_ns = 10 * MS};
	corio_task *t = spawn(receiver, &r);
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert_eq(r.ret, -ETIMEDOUT);
	int v = 1;
	cr_assert_eq(corio_chan_send(ch, &v), 0); /* fills the ring */
	struct one s = {.ch = ch, .val = 2, .timeout_ns = 10 * MS};
	t = spawn(sender, &s);
	cr_assert_eq(corio_join(t, NULL), 0);
	cr_assert_eq(s.ret, -ETIMEDOUT);
	cr_assert_eq(corio_chan_recv(ch, &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(corio_chan_try_recv(ch, &v), -EAGAIN, "a timed-out send delivered");
	v = 3;
	cr_assert_eq(corio_chan_try_send(ch, &v), 0);
	cr_assert_eq(corio_chan_try_recv(ch, &v), 0);
	cr_assert_eq(v, 3);
	corio_chan_free(ch);
	return NULL;
}

Test(chan, send_and_recv_time_out_leaving_the_channel_consistent, .timeout = WAIT_TEST_TIMEOUT)
{
	t_run(timeout_main, NULL, NULL);
}

/* ---- conservation under random cancellation ------------------------- */

#define PRODUCERS 8
#define CONSUMERS 8

struct flow {
	corio_chan *ch;
	uint32_t per_producer;
	uint8_t *seen;        /* times each message was received */
	uint64_t received;
	uint64_t sum;
	uint64_t kept_after_cancel;  /* got a message, then found itself cancelled */
	uint64_t cancelled_in_recv;  /* recv returned -ECANCELED */
	uint64_t cancels;
	uint64_t errors;      /* unexpected returns (counted, not asserted:
			       * --full-stats makes each cr_assert costly) */
	corio_task *consumers[CONSUMERS];
	bool stop;
	unsigned rng;
};

struct producer_arg {
	struct flow *f;
	uint32_t first;
};

static void *producer(void *p)
{
	struct producer_arg *a = p;
	for (uint32_t i = 0; i < a->f->per_producer; i++) {
		uint32_t id = a->first + i;
		if (corio_chan_send(a->f->ch, &id))
			a->f->errors++;
		if ((id & 7) == 0)
			corio_yield();
	}
	return NULL;
}

static void *consumer(void *p)
{
	struct flow *f = p;
	for (;;) {
		uint32_t id;
		int r = corio_chan_recv(f->ch, &id);
		if (r == -EPIPE)
			return NULL;
		if (r == -ECANCELED) {
			f->cancelled_in_recv++;
			return NULL;
		}
		if (r) {
			f->errors++;
			return NULL;
		}
		f->seen[id]++;
		f->received++;
		f->sum += id;
		if (corio_checkpoint() == -ECANCELED) {
			f->kept_after_cancel++;
			return NULL;
		}
		if ((xorshift(&f->rng) & 3) == 0)
			corio_yield(); /* let the ring fill up now and then */
	}
}

static void *canceller(void *p)
{
	struct flow *f = p;
	while (!f->stop) {
		unsigned k = xorshift(&f->rng) % CONSUMERS;
		corio_cancel(f->consumers[k]);
		corio_join(f->consumers[k], NULL);
		if (corio_spawn(&f->consumers[k], consumer, f))
			f->errors++; /* not cr_assert: see struct flow */
		f->cancels++;
		for (unsigned n = xorshift(&f->rng) % 4; n; n--)
			corio_yield();
	}
	return NULL;
}

static void *conservation_main(void *p)
{
	struct flow *f = p;
	uint64_t total = (uint64_t)PRODUCERS * f->per_producer;
	struct producer_arg pa[PRODUCERS];
	corio_task *prod[PRODUCERS];
	for (int i = 0; i < CONSUMERS; i++)
		f->consumers[i] = spawn(consumer, f);
	for (int i = 0; i < PRODUCERS; i++) {
		pa[i] = (struct producer_arg){.f = f, .first = (uint32_t)i * f->per_producer};
		prod[i] = spawn(producer, &pa[i]);
	}
	corio_task *c = spawn(canceller, f);
	for (int i = 0; i < PRODUCERS; i++)
		cr_assert_eq(corio_join(prod[i], NULL), 0);
	f->stop = true;
	cr_assert_eq(corio_join(c, NULL), 0);
	corio_chan_close(f->ch); /* the rest drain what is queued, then -EPIPE */
	for (int i = 0; i < CONSUMERS; i++)
		cr_assert_eq(corio_join(f->consumers[i], NULL), 0);
	cr_assert_eq(f->errors, 0, "a send or recv failed unexpectedly");
	cr_assert_eq(f->received, total, "messages lost or duplicated");
	cr_assert_eq(f->sum, total * (total - 1) / 2, "checksum mismatch");
	uint64_t bad = 0, first_bad = 0;
	for (uint64_t id = 0; id < total; id++)
		if (f->seen[id] != 1 && !bad++)
			first_bad = id;
	cr_assert_eq(bad, 0, "%llu messages not received exactly once (first: %llu, %u times)",
		     (unsigned long long)bad, (unsigned long long)first_bad, f->seen[first_bad]);
	return NULL;
}

static void run_conservation(size_t cap, uint32_t per_producer)
{
	struct flow f = {.per_producer = per_producer, .rng = 0x9e3779b9u};
	f.seen = calloc((size_t)PRODUCERS * per_producer, 1);
	cr_assert_not_null(f.seen);
	cr_assert_eq(corio_chan_new(&f.ch, sizeof(uint32_t), cap), 0);
	t_run(conservation_main, &f, NULL);
	corio_chan_free(f.ch);
	free(f.seen);
	cr_assert_gt(f.cancels, 100, "too few cancellations to prove anything");
	cr_assert_gt(f.cancelled_in_recv, 0, "no consumer was cancelled while waiting");
	cr_assert_gt(f.kept_after_cancel, 0, "no consumer was cancelled after a hand-off");
	cr_log_info("cap %zu: %llu cancels, %llu while waiting, %llu after a hand-off", cap,
		    (unsigned long long)f.cancels, (unsigned long long)f.cancelled_in_recv,
		    (unsigned long long)f.kept_after_cancel);
}

Test(chan, conservation_8x8x100k_with_random_consumer_cancels, .timeout = WAIT_TEST_TIMEOUT)
{
	run_conservation(4, 100000);
}

Test(chan, conservation_rendezvous_with_random_consumer_cancels, .timeout = WAIT_TEST_TIMEOUT)
{
	run_conservation(0, 100000);
}
