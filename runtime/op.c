/* SPDX-License-Identifier: MIT */
/*
 * op.c - the op engine (DESIGN.md section 2).  A blocking call fills a
 * struct corio__op on its task's stack, hands it to the backend and
 * suspends.  If the task is cancelled or its deadline passes meanwhile, the
 * backend is asked to cancel the op, and the task keeps waiting for the
 * op's own completion: only then does the call return, so the kernel is done
 * with the op and its buffer.  An op that completed anyway returns its real
 * result; the interruption is then seen by the next call.
 */
#include "corio_int.h"

#include <errno.h>
#include <stdio.h>
#include <limits.h>

static void op_complete(struct corio__op *op, int res, uint32_t flags)
{
	(void)flags;
	op->res = res;
	corio__wake(op->task, res);
}

static void op_interrupt(corio_task *t, struct corio__wait *w, int err)
{
	(void)err;
	struct corio__op *op = corio__container_of(w, struct corio__op, wait);
	if (op->cancel_sent)
		return;
	op->cancel_sent = true;
	t->loop->be->cancel(t->loop, op);
}

/* Suspend the running task @t on @w.  If we asked for the work to be
 * cancelled (*@cancel_sent) and it was dropped because of that, report why:
 * the task's cancellation or deadline rather than a bare -ECANCELED. */
int corio__await(corio_task *t, struct corio__wait *w, const bool *cancel_sent)
{
	int res = corio__suspend(w);
	if (*cancel_sent && (res == -ECANCELED || res == -EINTR)) {
		int err = corio__interrupted(t);
		if (err)
			return err;
	}
	return res;
}

void corio__op_describe(const struct corio__wait *w, char *buf, size_t n)
{
	const struct corio__op *op = corio__container_of(w, struct corio__op, wait);
	const char *name = corio_op_name(op->code);
	snprintf(buf, n, "%s on fd %d%s", name ? name : "an op", op->fd,
		 op->cancel_sent ? " (cancel sent, waiting for the kernel)" : "");
}

ssize_t corio__op_run(struct corio__op *op)
{
	int err = corio__may_block();
	if (err)
		return err;
	corio_loop *l = corio__tls_loop;
	op->complete = op_complete;
	op->task = l->current;
	op->wait.interrupt = op_interrupt;
	op->wait.describe = corio__op_describe;
	op->cancel_sent = false;
	if (op->code < CORIO_STATS_OP_KINDS)
		l->st.ops[op->code]++;
	op->fault = 0;
	if (corio__unlikely(l->faults.on))
		corio__fault_submit(l, op, false);
	l->be->submit(l, op);
	return corio__await(op->task, &op->wait, &op->cancel_sent);
}

/* Op records are filled field by field, not zero-initialised: they are
 * large (per-kind arguments) and the backend reads only what the kind uses. */
int corio_nop(void)
{
	struct corio__op op;
	op.code = CORIO__OP_NOP;
	op.fd = -1;
	return (int)corio__op_run(&op);
}

static ssize_t rw(uint8_t code, int fd, const void *buf, size_t n, uint64_t off)
{
	if (n > INT_MAX || (!buf && n))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	struct corio__op op;
	op.code = code;
	op.fd = fd;
	op.buf = (void *)buf;
	op.len = (uint32_t)n;
	op.off = off;
	return corio__op_run(&op);
}

ssize_t corio_read(int fd, void *buf, size_t n)
{
	return rw(CORIO__OP_READ, fd, buf, n, (uint64_t)-1);
}

ssize_t corio_write(int fd, const void *buf, size_t n)
{
	return rw(CORIO__OP_WRITE, fd, buf, n, (uint64_t)-1);
}
