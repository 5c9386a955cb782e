/* SPDX-License-Identifier: MIT */
/*
 * uring_int.h - the io_uring backend's state, shared with the modules that
 * prepare their own SQEs (files, sockets).  Never installed.
 */
#ifndef CORIO_URING_INT_H
#define CORIO_URING_INT_H

#include "corio_int.h"

#include <liburing.h>

#define CORIO__URING_MAX_OP 64
/* liburing 2.3 predates IORING_OP_WAITID (kernel 6.7): the probe decides
 * whether it is used, so its number is spelled out here. */
#define CORIO__IORING_OP_WAITID 50

struct corio__uring {
	struct io_uring ring;
	unsigned setup_flags;             /* IORING_SETUP_* the ring got */
	unsigned features;                /* IORING_FEAT_* */
	unsigned inflight;                /* ops submitted, final CQE not dispatched */
	struct corio__cqe *stash;         /* taken off the ring, not dispatched */
	unsigned stash_len, stash_cap;
	bool in_submit;                   /* inside corio__uring_sqe(): no reaping */
	bool has_op[CORIO__URING_MAX_OP]; /* the probe's answer per opcode */
	corio_loop *loop;                 /* the loop this ring serves */
	bool msg_ring;                    /* may post wake-ups into other rings */

};

/* user_data values that are not op addresses (ops are 8-byte aligned):
 * a wake-up another loop posted into this ring with MSG_RING, and the
 * failure of one this ring posted, tagged onto the target loop's address. */
#define CORIO__URING_UD_WAKE ((uint64_t)1)
#define CORIO__URING_UD_WAKE_FAILED ((uint64_t)2)
#define CORIO__URING_UD_TAGS ((uint64_t)7)

struct io_uring_sqe *corio__uring_sqe(corio_loop *l) CORIO__HIDDEN;
bool corio__uring_has_op(corio_loop *l, unsigned opcode) CORIO__HIDDEN;
extern unsigned corio__uring_fake_busy CORIO__HIDDEN;
extern unsigned long corio__uring_dispatched_in_sqe CORIO__HIDDEN;
extern bool corio__uring_pretend_no_ext_arg CORIO__HIDDEN;
struct corio__cqe;
/* uring_buf.c */
int corio__uring_bufgroup_init(corio_loop *l, struct corio__bufgroup *g) CORIO__HIDDEN;
void corio__uring_bufgroup_recycle(struct corio__bufgroup *g, unsigned bid) CORIO__HIDDEN;
void corio__uring_bufgroup_fini(struct corio__bufgroup *g) CORIO__HIDDEN;

#endif
