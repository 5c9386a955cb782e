/* SPDX-License-Identifier: MIT */
/*
 * net_int.h - what the files of net/ share: the loop's socket state (made
 * on first use, torn down by net_fini before the backend), the provided
 * receive buffers, listener records and a small helper to wait in one of
 * the runtime's wait queues under a deadline.  Never installed.
 */
#ifndef CORIO_NET_INT_H
#define CORIO_NET_INT_H

#include "corio_mod.h"
#include "corio/io.h"
#include "corio/net.h"
#include "corio/sync.h"

/* State of a record's long-lived op (multishot accept or receive, a
 * stream's send).  A record is freed only in NET_IDLE, so no completion
 * can ever land in freed or reused memory: the final CQE (the one
 * without CORIO__CQE_F_MORE) is what moves a record back to NET_IDLE. */
enum corio__net_op_state {
	NET_IDLE = 0,   /* nothing in flight */
	NET_ARMED,      /* in the kernel */
	NET_CANCELLING, /* in the kernel, cancel requested */
};

struct corio__listener;
struct corio_stream;

struct corio__net {
	corio_loop *loop;
	/* listener records by fd number (multishot accept path) */
	struct corio__listener **lst;
	int lst_cap;
	/* provided receive buffers: one group shared by every stream */
	struct corio__bufgroup *bg;
	int br_state;      /* 0: not tried yet, 1: made, -1: unavailable */
	/* features, cleared if the kernel turns them down at run time */
	bool ms_accept;    /* multishot accept */
	bool ms_recv;      /* multishot receive with provided buffers */
	unsigned inflight; /* net-owned ops whose final CQE is pending */
	bool draining;     /* the loop is being freed: ops were cancelled */
	struct corio__list streams; /* open streams (teardown closes them) */
	/* counters, for tests and debug */
	uint64_t enobufs;  /* multishot receives ended by an empty ring */
};

/* socket.c: the loop's net state; NULL outside a loop or without memory */
struct corio__net *corio__net_get(corio_loop *l) CORIO__HIDDEN;
/* socket.c: the loop's net state if it was made, else NULL (l may be NULL) */
struct corio__net *corio__net_find(corio_loop *l) CORIO__HIDDEN;
/* Submit a net-owned (long-lived) op and count it in flight. */
void corio__net_submit(struct corio__net *n, struct corio__op *op) CORIO__HIDDEN;
/* Account for a net-owned op's final completion. */
void corio__net_op_done(struct corio__net *n) CORIO__HIDDEN;

/* bufring.c: provided receive buffers */
bool corio__net_bufs_ready(struct corio__net *n) CORIO__HIDDEN;
const char *corio__net_buf(struct corio__net *n, unsigned bid) CORIO__HIDDEN;
void corio__net_buf_recycle(struct corio__net *n, unsigned bid) CORIO__HIDDEN;
void corio__net_bufs_free(struct corio__net *n) CORIO__HIDDEN;

/* listener.c */
int corio__listener_accept(struct corio__net *n, int lfd) CORIO__HIDDEN;
void corio__listener_pause(corio_loop *l, int lfd) CORIO__HIDDEN;
/* For a final drain, after corio__listener_pause(): a connection the
 * multishot accept queued, -EINPROGRESS while that accept is still in the
 * kernel (more may come), -EAGAIN once there is neither. */
int corio__listener_take(corio_loop *l, int lfd) CORIO__HIDDEN;
void corio__listener_forget(struct corio__net *n, int fd) CORIO__HIDDEN;
void corio__listeners_fini(struct corio__net *n) CORIO__HIDDEN;

/* serve.c: corio_serve_threads() for a server layered on corio_serve()
 * (HTTP).  On each loop, @init(@ctx, so, &state) adapts that loop's copy
 * of the options and makes its state; @start(state, server) runs once the
 * loop's server exists, before it runs; @end(state) after it ran (or when
 * @start failed).  All three on the loop's thread, in a task. */
struct corio__serve_layer {
	void *ctx;
	int (*init)(void *ctx, corio_serve_options *so, void **state);
	int (*start)(void *state, corio_server *s);
	void (*end)(void *state);
};
int corio__serve_threads(const char *host, const char *port, corio_fn handler,
			 const corio_serve_options *o, const corio_serve_threads_options *to,
			 const struct corio__serve_layer *layer) CORIO__HIDDEN;

/* stream.c */
void corio__streams_fini(struct corio__net *n) CORIO__HIDDEN;

/*
 * Tasks waiting for a condition that a completion or another task makes
 * true wait in a runtime queue (sync.c): corio__waitq_wake_one() hands the
 * longest waiter a result, corio__waitq_wake_all() hands it to every
 * waiter, and a cancel or deadline takes a waiter out with that error.
 */
/* Suspend in @q until woken or interrupted.  @deadline (0: none) adds a
 * timeout scope; *@own_timeout (may be NULL) tells whether -ETIMEDOUT came
 * from that deadline rather than from an outer scope. */
int corio__net_wait(struct corio__waitq *q, uint64_t deadline, bool *own_timeout) CORIO__HIDDEN;

/* An internal result: multishot was refused at run time, use the plain
 * path.  Below corio's error range, never seen by users. */
#define CORIO__NET_RETRY (-9000)

#endif
