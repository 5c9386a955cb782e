/* SPDX-License-Identifier: MIT */
/*
 * stream_write.c - the sending half of a stream.  Writes copy into wq and
 * return at once while less than the high-water mark is pending; one send
 * op at a time (owned by the stream, so the writing task need not wait for
 * it) takes everything queued, and MSG_WAITALL makes the kernel finish
 * short sends itself.  A failed send is sticky: later writes report it and
 * buffered data is dropped, since the connection is gone.
 */
#include "stream_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Buffers bigger than this are freed once everything has been sent;
 * smaller ones stay, so that busy streams do not churn the allocator. */
#define WBUF_KEEP ((size_t)16 * 1024)
#define WBUF_MIN ((size_t)4096)

size_t corio__stream_wpending(const struct corio_stream *s)
{
	size_t n = s->wq.len + (s->wf.len - s->wf.off);
	return s->x ? n + s->x->out_pending(s) : n;
}

void corio__stream_wfree(struct corio_stream *s)
{
	free(s->wq.p);
	free(s->wf.p);
	memset(&s->wq, 0, sizeof(s->wq));
	memset(&s->wf, 0, sizeof(s->wf));
}

static void wbuf_trim(struct corio__wbuf *b)
{
	if (b->len || b->cap <= WBUF_KEEP)
		return;
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void send_complete(struct corio__op *op, int res, uint32_t flags);

static void send_arm(struct corio_stream *s)
{
	size_t left = s->wf.len - s->wf.off;
	memset(&s->wop, 0, sizeof(s->wop));
	/* a pipe's short writes are finished by send_complete() re-arming */
	s->wop.code = s->sock ? CORIO__OP_SEND : CORIO__OP_WRITE;
	s->wop.fd = s->fd;
	s->wop.buf = s->wf.p + s->wf.off;
	s->wop.len = left > INT_MAX ? INT_MAX : (uint32_t)left;
	s->wop.off = (uint64_t)-1;
	if (s->sock)
		s->wop.u.net.flags = MSG_NOSIGNAL | MSG_WAITALL;
	s->wop.complete = send_complete;
	s->wstate = NET_ARMED;
	corio__net_submit(s->net, &s->wop);
}

static void writers_wake(struct corio_stream *s)
{
	if (s->werr || corio__stream_wpending(s) <= s->wwant)
		corio__waitq_wake_all(&s->writers, 0);
}

/* A transport: wq holds plaintext, wf ciphertext.  Encrypt what is
 * queued into the transport, behind the ciphertext already there (a send
 * in flight does not matter: it took its bytes out before these).  0 or
 * the error, now sticky. */
static int xencrypt(struct corio_stream *s)
{
	if (!s->wq.len || s->werr)
		return s->werr;
	int err = s->x->encrypt(s, s->wq.p, s->wq.len);
	s->wq.len = 0;
	if (err) {
		s->werr = err;
		writers_wake(s);
	}
	return err;
}

/* Give the send op all the ciphertext there is. */
static void xsend_next(struct corio_stream *s)
{
	if (xencrypt(s))
		return;
	size_t k = s->x->out_pending(s);
	if (!k)
		return;
	if (s->wf.cap < k) { /* wf is not in the kernel: it may move */
		char *p = realloc(s->wf.p, k);
		if (!p) {
			s->werr = -ENOMEM;
			writers_wake(s);
			return;
		}
		s->wf.p = p;
		s->wf.cap = k;
	}
	s->wf.len = s->x->out_take(s, s->wf.p, k);
	s->wf.off = 0;
	send_arm(s);
}

/* If the kernel has nothing of ours, give it everything queued. */
static void send_next(struct corio_stream *s)
{
	if (s->wstate != NET_IDLE || s->werr || s->orphan)
		return;
	if (s->x) {
		xsend_next(s);
		return;
	}
	if (!s->wq.len)
		return;
	struct corio__wbuf t = s->wf;
	s->wf = s->wq;
	s->wf.off = 0;
	s->wq = t;
	s->wq.len = s->wq.off = 0;
	send_arm(s);
}

static void send_complete(struct corio__op *op, int res, uint32_t flags)
{
	(void)flags;
	struct corio_stream *s = corio__container_of(op, struct corio_stream, wop);
	s->wstate = NET_IDLE;
	corio__net_op_done(s->net);
	if (s->orphan) {
		corio__stream_maybe_free(s);
		return;
	}
	if (res == -EINTR) {
		send_arm(s); /* nothing was sent: the same bytes again */
	} else if (res > 0) {
		s->wprogress = corio__now(s->loop);
		s->wf.off += (size_t)res;
		if (s->wf.off < s->wf.len) {
			send_arm(s);
		} else {
			s->wf.len = s->wf.off = 0;
			send_next(s);
			wbuf_trim(&s->wf);
			wbuf_trim(&s->wq);
		}
	} else {
		s->werr = res ? res : -EPIPE;
		s->wq.len = 0;
		s->wf.len = s->wf.off = 0;
	}
	writers_wake(s);
}

void corio__stream_kick(struct corio_stream *s)
{
	send_next(s);
}

void corio__stream_xend(struct corio_stream *s)
{
	/* plaintext still queued (a send was in flight) goes before the end:
	 * after it the transport takes no more */
	if (!xencrypt(s))
		s->x->end(s);
}

static int wq_append(struct corio_stream *s, const char *p, size_t k)
{
	struct corio__wbuf *b = &s->wq;
	if (b->cap - b->len < k) {
		size_t cap = b->cap ? b->cap : WBUF_MIN;
		while (cap - b->len < k)
			cap *= 2;
		char *q = realloc(b->p, cap); /* wq is never in the kernel */
		if (!q)
			return -ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, k);
	b->len += k;
	return 0;
}

static int write_wait(struct corio_stream *s, size_t want)
{
	s->wwant = want;
	return corio__stream_wait(s, &s->writers, 0, &s->wprogress);
}

static int write_begin(struct corio_stream *s)
{
	if (!corio_self())
		return -EPERM;
	int err = corio_checkpoint();
	return err ? err : s->werr;
}

static size_t room(const struct corio_stream *s)
{
	size_t p = corio__stream_wpending(s);
	return p < s->o.high_water ? s->o.high_water - p : 0;
}

static ssize_t stream_writev(corio_stream *s, const struct iovec *iov, int cnt)
{
	if (cnt < 0 || (!iov && cnt))
		return -EINVAL;
	size_t total = 0;
	for (int i = 0; i < cnt; i++) {
		if ((!iov[i].iov_base && iov[i].iov_len) || iov[i].iov_len > SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	int err = write_begin(s);
	if (err)
		return err;
	size_t off = 0;
	for (int i = 0; i < cnt;) {
		size_t k = iov[i].iov_len - off, r = room(s);
		if (k && !r) {
			send_next(s);
			if ((err = write_wait(s, s->o.low_water)) || (err = s->werr))
				return err;
			continue;
		}
		k = k < r ? k : r;
		if ((err = wq_append(s, (const char *)iov[i].iov_base + off, k)))
			return err;
		off += k;
		if (off == iov[i].iov_len) {
			i++;
			off = 0;
		}
	}
	send_next(s);
	return (ssize_t)total;
}

ssize_t corio_stream_writev(corio_stream *s, const struct iovec *iov, int cnt)
{
	if (!s)
		return -EINVAL;
	int err = corio__stream_take(s, &s->writing);
	return err ? err : corio__stream_give(s, &s->writing, stream_writev(s, iov, cnt));
}

ssize_t corio_stream_write(corio_stream *s, const void *buf, size_t n)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = n};
	return corio_stream_writev(s, &iov, 1);
}

static int stream_flush(corio_stream *s)
{
	int err = write_begin(s);
	if (err)
		return err;
	send_next(s);
	while (!s->werr && (corio__stream_wpending(s) || s->wstate != NET_IDLE))
		if ((err = write_wait(s, 0)))
			return err;
	return s->werr;
}

int corio_stream_flush(corio_stream *s)
{
	if (!s)
		return -EINVAL;
	corio__stream_enter(s);
	return (int)corio__stream_leave(s, stream_flush(s));
}

int corio_stream_shutdown(corio_stream *s)
{
	if (!s)
		return -EINVAL;
	corio__stream_enter(s);
	int err = stream_flush(s);
	if (!err && s->x && !s->orphan) {
		corio__stream_xend(s); /* close_notify before the FIN */
		err = stream_flush(s);
	}
	if (!err)
		err = s->orphan ? -ECANCELED : corio_shutdown(s->fd, SHUT_WR);
	return (int)corio__stream_leave(s, err);
}

size_t corio_stream_write_buffered(const corio_stream *s)
{
	return s ? corio__stream_wpending(s) : 0;
}
