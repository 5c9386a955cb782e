/* SPDX-License-Identifier: MIT */
/*
 * faults_int.h - fault injection (faults.c; the rules are in
 * corio/runtime.h at enum corio_fault_kind): a loop's seeded generator
 * and the three hooks the op paths call.  Never installed.
 */
#ifndef CORIO_FAULTS_INT_H
#define CORIO_FAULTS_INT_H

#include "corio_mod.h"

#include <stdbool.h>
#include <stdint.h>

struct corio__faults {
	bool on;            /* a spec with a rate above 0 was given */
	bool always;        /* rate 1: every draw hits */
	uint64_t threshold; /* a draw below it hits (rate * 2^64) */
	uint64_t state;     /* the generator (splitmix64) */
	unsigned kinds;     /* 1u << enum corio_fault_kind */
	bool sq_next;       /* an op drew: its SQE may meet sqfull (the
			     * runtime's own SQEs never draw, so that other
			     * threads' wake-ups cannot move the sequence) */
};

/* Parse "seed:rate[:kinds]" into *@f: 0 or -EINVAL. */
int corio__faults_parse(const char *spec, struct corio__faults *f) CORIO__HIDDEN;
/* A kind's name in specs ("short", "eintr", ...), NULL past the last. */
const char *corio__fault_name(unsigned kind) CORIO__HIDDEN;
/* At loop creation: the option's spec, else $CORIO_FAULTS.  0 or -EINVAL
 * (for the variable, also a line on stderr saying what is wrong). */
int corio__faults_init(corio_loop *l, const corio_loop_options *o) CORIO__HIDDEN;
/* Before @op goes to the backend (faults on): maybe cut its length or
 * mark it to complete with an error instead (op->fault).  @long_lived:
 * a module's heap op (corio__op_submit), not a task's. */
void corio__fault_submit(corio_loop *l, struct corio__op *op, bool long_lived) CORIO__HIDDEN;
/* io_uring, before taking an op's SQE (faults on): act as if the queue
 * were full?  *@busy: and as if the kernel first said -EBUSY. */
bool corio__fault_sq_full(corio_loop *l, bool *busy) CORIO__HIDDEN;

/* The result a completion of @op carries to its owner: a stand-in for a
 * faulted op turns its success into the fault's error.  Every backend
 * passes every op completion through it. */
static inline int corio__op_res(struct corio__op *op, int res)
{
	if (corio__likely(!op->fault))
		return res;
	int err = -(int)op->fault;
	op->fault = 0;
	return res >= 0 ? err : res;
}

#endif /* CORIO_FAULTS_INT_H */
