/* SPDX-License-Identifier: MIT */
/*
 * stream.c - buffered streams: creation, reading (read, read_exactly,
 * read_until), closing.  The receive op belongs to the stream, not to the
 * reading task: a reader that is cancelled or times out simply stops
 * waiting, and whatever arrives later stays buffered for the next call, so
 * no byte is ever lost and no task stack is ever written by the kernel.
 * With multishot receive the op stays armed between reads (and is paused
 * when too much piles up unread); on the plain path a single recv into
 * rbuf is armed whenever a reader needs data.  See stream_int.h.
 */
#include "stream_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>


#define DEFAULT_LIMIT ((size_t)64 * 1024)
#define DEFAULT_HIGH_WATER ((size_t)64 * 1024)
#define RBUF_MIN ((size_t)16 * 1024) /* plain path: room per recv; first size */
#define RBUF_KEEP RBUF_MIN            /* multishot: bigger ones go when empty */
#define XIN_CAP ((size_t)32 * 1024)  /* transport: the plain receive's buffer */
#define XCHUNK ((size_t)16 * 1024)   /* transport: room per decrypt (a record) */
#define XBATCH ((size_t)64 * 1024)   /* transport: decrypt ahead up to this */

static size_t rlen(const struct corio_stream *s)
{
	return s->rtail - s->rhead;
}

/* Does data reach the stream by copy (multishot's provided buffers),
 * rather than by a receive into rbuf?  (A transport's plaintext is made
 * in rbuf by the reader, so it counts as the latter.) */
static bool copies(const struct corio_stream *s)
{
	return s->ms && !s->x;
}

/* May rbuf move?  Not while the plain recv writes into it. */
static bool rbuf_movable(const struct corio_stream *s)
{
	return copies(s) || s->x || s->rstate == NET_IDLE;
}

/* Bytes received and not yet read: plaintext, and a transport's
 * ciphertext (multishot pauses on the sum). */
static size_t held(const struct corio_stream *s)
{
	return rlen(s) + (s->x ? s->x->in_pending(s) : 0);
}

/* An empty buffer starts over at 0.  On the multishot path a big one is
 * freed (a burst should not stay pinned to a stream that goes quiet); a
 * small one is kept so that busy streams do not churn the allocator. */
static void rbuf_tidy(struct corio_stream *s)
{
	if (rlen(s) || s->lent_active || !rbuf_movable(s))
		return;
	s->rhead = s->rtail = 0;
	if (copies(s) && s->rcap > RBUF_KEEP) {
		free(s->rbuf);
		s->rbuf = NULL;
		s->rcap = 0;
	}
}

static void consume(struct corio_stream *s, size_t k)
{
	s->rhead += k;
	s->scan = 0;
	rbuf_tidy(s);
}

/* Make room for @need more bytes after rtail.  Only when rbuf_movable(). */
static int rbuf_reserve(struct corio_stream *s, size_t need)
{
	if (s->rcap - s->rtail >= need)
		return 0;
	size_t len = rlen(s);
	if (!s->lent_active && s->rhead && s->rcap - len >= need) {
		memmove(s->rbuf, s->rbuf + s->rhead, len);
		s->rhead = 0;
		s->rtail = len;
		return 0;
	}
	size_t cap = s->rcap ? s->rcap : RBUF_MIN;
	while (cap - len < need) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	char *p = malloc(cap);
	if (!p)
		return -ENOMEM;
	if (len)
		memcpy(p, s->rbuf + s->rhead, len);
	if (s->lent_active && !s->lent)
		s->lent = s->rbuf; /* the returned line lives there: keep it */
	else
		free(s->rbuf);
	s->rbuf = p;
	s->rcap = cap;
	s->rhead = 0;
	s->rtail = len;
	return 0;
}

/* Put @k bytes the caller had taken back in front of the buffer. */
static int unread(struct corio_stream *s, const char *p, size_t k)
{
	if (!k)
		return 0;
	if (s->rhead < k) {
		size_t len = rlen(s);
		char *q = malloc(k + len + 1);
		if (!q)
			return s->rerr = -ENOMEM; /* the stream cannot stay whole */
		if (len)
			memcpy(q + k, s->rbuf + s->rhead, len);
		free(s->rbuf);
		s->rbuf = q;
		s->rcap = k + len + 1;
		s->rhead = k;
		s->rtail = k + len;
	}
	s->rhead -= k;
	memcpy(s->rbuf + s->rhead, p, k);
	s->scan = 0;
	return 0;
}

/* ---- the receive op ------------------------------------------------------ */

static void ms_complete(struct corio__op *op, int res, uint32_t flags);
static void plain_complete(struct corio__op *op, int res, uint32_t flags);

static int rop_arm(struct corio_stream *s, size_t need)
{
	memset(&s->rop, 0, sizeof(s->rop));
	s->rop.fd = s->fd;
	if (s->ms) {
		s->rop.code = CORIO__OP_RECV_MULTI;
		s->rop.u.net.bg = s->net->bg;
		s->rop.complete = ms_complete;
	} else if (s->x) {
		if (!s->xin && !(s->xin = malloc(XIN_CAP)))
			return -ENOMEM;
		s->rop.code = s->sock ? CORIO__OP_RECV : CORIO__OP_READ;
		s->rop.off = (uint64_t)-1;
		s->rop.buf = s->xin;
		s->rop.len = (uint32_t)XIN_CAP;
		s->rop.complete = plain_complete;
	} else {
		int err = rbuf_reserve(s, need > RBUF_MIN ? need : RBUF_MIN);
		if (err)
			return err;
		size_t room = s->rcap - s->rtail;
		s->rop.code = s->sock ? CORIO__OP_RECV : CORIO__OP_READ;
		s->rop.off = (uint64_t)-1;
		s->rop.buf = s->rbuf + s->rtail;
		s->rop.len = room > INT_MAX ? INT_MAX : (uint32_t)room;
		s->rop.complete = plain_complete;
	}
	s->rstate = NET_ARMED;
	corio__net_submit(s->net, &s->rop);
	return 0;
}

/* A reader needs data (@need bytes buffered in all, plain path): get a
 * receive into the kernel unless one is there or can bring nothing.
 * The one buffered receive path serves both backends: multishot with the
 * loop's buffer group where the backend has one; else (a kernel before
 * 5.19, a pipe or tty, plain streams) one receive at a time into rbuf. */
static int want_data(struct corio_stream *s, size_t need)
{
	if (s->eof || s->rerr || s->xeof || s->xerr || s->rstate != NET_IDLE)
		return 0;
	if (s->ms && !corio__net_bufs_ready(s->net))
		s->ms = false;
	size_t more = need > rlen(s) ? need - rlen(s) : 1;
	return rop_arm(s, more);
}

/* Is the waiting reader's wish met? */
static bool reader_ready(const struct corio_stream *s)
{
	if (s->eof || s->rerr || !copies(s))
		return true;
	if (s->dst)
		return s->dst_all ? s->dst_got == s->dst_len : s->dst_got > 0;
	return rlen(s) > 0;
}

static void reader_wake(struct corio_stream *s)
{
	if (s->readers.list.head && reader_ready(s))
		corio__waitq_wake_one(&s->readers, 0);
}

/* Copy a completion's data: into the waiting reader's buffer first. */
static void take(struct corio_stream *s, const char *p, size_t len)
{
	s->rgot_data = true;
	s->rprogress = corio__now(s->loop);
	if (s->x) {
		int err = s->x->feed(s, p, len);
		if (err)
			s->rerr = err;
		return;
	}
	if (s->dst) {
		size_t k = s->dst_len - s->dst_got;
		k = k < len ? k : len;
		memcpy(s->dst + s->dst_got, p, k);
		s->dst_got += k;
		p += k;
		len -= k;
	}
	if (!len)
		return;
	if (rbuf_reserve(s, len)) {
		s->rerr = -ENOMEM; /* cannot keep it: say so rather than skip bytes */
		return;
	}
	memcpy(s->rbuf + s->rtail, p, len);
	s->rtail += len;
}

static void recv_failed(struct corio_stream *s, int res)
{
	if (res == -ECANCELED)
		return; /* we asked (backpressure, close) */
	if (res == -ENOBUFS) {
		s->net->enobufs++; /* the ring ran dry: re-armed below if wanted */
		return;
	}
	if (res == -EINTR)
		return; /* nothing was taken: re-armed below if wanted */
	if (res == -EINVAL && !s->rgot_data && s->ms) {
		s->net->ms_recv = false; /* refused: the plain path from now on */
		s->ms = false;
		return;
	}
	*(s->x ? &s->xerr : &s->rerr) = res;
}

/* The peer shut its side down (a transport decides what that means). */
static void got_eof(struct corio_stream *s)
{
	*(s->x ? &s->xeof : &s->eof) = true;
}

static void ms_complete(struct corio__op *op, int res, uint32_t flags)
{
	struct corio_stream *s = corio__container_of(op, struct corio_stream, rop);
	if (flags & CORIO__CQE_F_BUFFER) {
		unsigned bid = flags >> CORIO__CQE_BUFFER_SHIFT;
		if (res > 0 && !s->orphan)
			take(s, corio__net_buf(s->net, bid), (size_t)res);
		corio__net_buf_recycle(s->net, bid);
	}
	if (res == 0)
		got_eof(s);
	else if (res < 0)
		recv_failed(s, res);
	if (flags & CORIO__CQE_F_MORE) {
		if (held(s) >= s->rmax && s->rstate == NET_ARMED) {
			/* nobody reads: stop taking data, the socket buffer
			 * (and then TCP) holds the rest */
			s->rstate = NET_CANCELLING;
			corio__op_cancel(s->loop, &s->rop);
		}
	} else {
		s->rstate = NET_IDLE;
		corio__net_op_done(s->net);
		if (s->orphan) {
			corio__stream_maybe_free(s);
			return;
		}
		if (s->readers.list.head && held(s) < s->rmax && want_data(s, 0))
			s->rerr = -ENOMEM;
	}
	reader_wake(s);
}

/* The final completion of the one-shot receive op: the stream, or NULL
 * if it was closed meanwhile (and is now freed). */
static struct corio_stream *rop_ended(struct corio__op *op)
{
	struct corio_stream *s = corio__container_of(op, struct corio_stream, rop);
	s->rstate = NET_IDLE;
	corio__net_op_done(s->net);
	if (!s->orphan)
		return s;
	corio__stream_maybe_free(s);
	return NULL;
}

static void plain_complete(struct corio__op *op, int res, uint32_t flags)
{
	(void)flags;
	struct corio_stream *s = rop_ended(op);
	if (!s)
		return;
	if (res > 0 && s->x) {
		take(s, s->xin, (size_t)res);
	} else if (res > 0) {
		s->rgot_data = true;
		s->rprogress = corio__now(s->loop);
		s->rtail += (size_t)res;
	} else if (res == 0) {
		got_eof(s);
	} else if (res == -EINTR) {
		/* nothing was taken: the reader looks again and re-arms */
		corio__waitq_wake_one(&s->readers, 0);
		return;
	} else if (res != -ECANCELED) {
		*(s->x ? &s->xerr : &s->rerr) = res;
	}
	reader_wake(s);
}

/* ---- waiting ------------------------------------------------------------ */

/* Wait in @q under the call's deadline and the idle timeout.  0 means
 * "look again": woken, or the idle clock restarted because *@progress
 * moved while we slept. */
int corio__stream_wait(struct corio_stream *s, struct corio__waitq *q, uint64_t call_deadline,
		       const uint64_t *progress)
{
	uint64_t start = corio__now(s->loop), dl = call_deadline;
	if (s->o.idle_timeout_ns) {
		uint64_t idle = start + s->o.idle_timeout_ns;
		if (!dl || idle < dl)
			dl = idle;
	}
	bool own = false;
	int res = corio__net_wait(q, dl, &own);
	if (s->orphan) /* closed by another task after we were woken */
		return -ECANCELED;
	if (res == -ETIMEDOUT && own && *progress >= start &&
	    (!call_deadline || corio__clock() < call_deadline))
		return 0;
	return res < 0 ? res : 0;
}

static int read_wait(struct corio_stream *s, uint64_t deadline)
{
	return corio__stream_wait(s, &s->readers, deadline, &s->rprogress);
}

/* A transport: turn ciphertext into plaintext in rbuf until @need bytes
 * are there (and read ahead a little while ciphertext waits).  true if
 * anything changed: data, the end, an error. */
static bool xpull(struct corio_stream *s, size_t need)
{
	bool moved = false;
	while (!s->eof && !s->rerr &&
	       (rlen(s) < need || (rlen(s) < XBATCH && s->x->in_pending(s)))) {
		int err = rbuf_reserve(s, XCHUNK);
		if (err) {
			s->rerr = err;
			return true;
		}
		ssize_t n = s->x->decrypt(s, s->rbuf + s->rtail, s->rcap - s->rtail);
		if (n == 0)
			break;
		if (n > 0)
			s->rtail += (size_t)n;
		else if (n == CORIO__XPORT_EOF)
			s->eof = true;
		else
			s->rerr = (int)n;
		moved = true;
	}
	return moved;
}

/* Get more data (@need bytes buffered in all): take what is there, or
 * wait for it under the call's deadline.  0: look again. */
static int fetch(struct corio_stream *s, size_t need, uint64_t deadline)
{
	if (s->orphan) /* a woken reader that lost the stream meanwhile */
		return -ECANCELED;
	if (s->x && xpull(s, need))
		return 0;
	int err = want_data(s, need);
	return err ? err : read_wait(s, deadline);
}

int corio__stream_fill(struct corio_stream *s, uint64_t deadline)
{
	if (s->orphan)
		return -ECANCELED;
	int err = want_data(s, 1);
	return err ? err : read_wait(s, deadline);
}

/* Every read call starts here (holding the reading side): the previous
 * line may go, a cancellation point, and the call's own deadline. */
static int read_begin(struct corio_stream *s, uint64_t *deadline)
{
	if (!corio_self())
		return -EPERM;
	if (s->lent_active) {
		s->lent_active = false;
		free(s->lent);
		s->lent = NULL;
		rbuf_tidy(s);
	}
	*deadline = s->o.read_timeout_ns ? corio__now(s->loop) + s->o.read_timeout_ns : 0;
	return corio_checkpoint();
}

static void dst_set(struct corio_stream *s, char *p, size_t n, bool all)
{
	s->dst = p;
	s->dst_len = n;
	s->dst_got = 0;
	s->dst_all = all;
}

static size_t dst_clear(struct corio_stream *s)
{
	size_t got = s->dst_got;
	s->dst = NULL;
	s->dst_len = s->dst_got = 0;
	return got;
}

/* ---- reading ------------------------------------------------------------ */

static size_t copy_out(struct corio_stream *s, void *buf, size_t n)
{
	size_t k = n < rlen(s) ? n : rlen(s);
	if (!k)
		return 0; /* rbuf may be NULL */
	memcpy(buf, s->rbuf + s->rhead, k);
	consume(s, k);
	return k;
}

static ssize_t stream_read(corio_stream *s, void *buf, size_t n)
{
	if ((!buf && n) || n > SSIZE_MAX)
		return -EINVAL;
	uint64_t dl;
	int err = read_begin(s, &dl);
	if (err)
		return err;
	while (n) {
		if (rlen(s))
			return (ssize_t)copy_out(s, buf, n);
		if (s->rerr)
			return s->rerr;
		if (s->eof)
			return 0;
		if (copies(s))
			dst_set(s, buf, n, false);
		err = fetch(s, 1, dl);
		size_t got = dst_clear(s);
		if (got)
			return (ssize_t)got;
		if (err)
			return err;
	}
	return 0;
}

/* read_exactly on the plain path: gather @n bytes in rbuf, then copy. */
static ssize_t exactly_plain(struct corio_stream *s, char *buf, size_t n, uint64_t dl)
{
	for (;;) {
		if (rlen(s) >= n) {
			copy_out(s, buf, n);
			return (ssize_t)n;
		}
		if (s->rerr)
			return s->rerr;
		if (s->eof)
			return -EPIPE;
		int err = fetch(s, n, dl);
		if (err)
			return err;
	}
}

static ssize_t stream_read_exactly(corio_stream *s, void *buf, size_t n)
{
	if ((!buf && n) || n > SSIZE_MAX)
		return -EINVAL;
	uint64_t dl;
	int err = read_begin(s, &dl);
	if (err || !n)
		return err;
	char *p = buf;
	size_t got = 0;
	/* multishot: copy as it comes, straight into @buf; on failure put it
	 * all back, so that nothing is consumed unless everything is */
	while (copies(s)) {
		got += copy_out(s, p + got, n - got);
		if (got == n)
			return (ssize_t)n;
		if (s->rerr || s->eof) {
			err = s->rerr ? s->rerr : -EPIPE;
			return unread(s, p, got) ? s->rerr : err;
		}
		dst_set(s, p + got, n - got, true);
		err = fetch(s, n, dl);
		got += dst_clear(s);
		if (err)
			return unread(s, p, got) ? s->rerr : err;
	}
	if (unread(s, p, got)) /* multishot refused meanwhile */
		return s->rerr;
	return exactly_plain(s, p, n, dl);
}

/* Hand out @len bytes at rhead as a line that stays put until the next
 * read call. */
static ssize_t lend(struct corio_stream *s, const char **line, size_t len)
{
	*line = s->rbuf + s->rhead;
	s->lent_active = true;
	consume(s, len);
	return (ssize_t)len;
}

/* Look for @delim in what is buffered, from where the last look ended. */
static char *find(struct corio_stream *s, const char *delim, size_t dlen, size_t lim)
{
	size_t from = s->scan > dlen - 1 ? s->scan - (dlen - 1) : 0;
	s->scan = lim;
	if (lim < dlen || from >= lim)
		return NULL;
	return memmem(s->rbuf + s->rhead + from, lim - from, delim, dlen);
}

static ssize_t stream_read_until(corio_stream *s, const char *delim, const char **line)
{
	if (!delim || !*delim || !line)
		return -EINVAL;
	uint64_t dl;
	int err = read_begin(s, &dl);
	if (err)
		return err;
	size_t dlen = strlen(delim);
	for (;;) {
		size_t avail = rlen(s), lim = avail < s->o.limit ? avail : s->o.limit;
		char *hit = find(s, delim, dlen, lim);
		if (hit)
			return lend(s, line, (size_t)(hit - (s->rbuf + s->rhead)) + dlen);
		if (avail >= s->o.limit)
			return -EMSGSIZE;
		if (s->eof && avail)
			return lend(s, line, avail);
		if (s->rerr)
			return s->rerr;
		if (s->eof)
			return 0;
		err = fetch(s, avail + 1, dl);
		if (err)
			return err;
	}
}

/* ---- in place, for protocol parsers (http) ----------------------------- */

/* Wait until @min bytes are buffered (or the peer's end), then lend them:
 * see stream_int.h. */
static int stream_peek(struct corio_stream *s, size_t min, char **p, size_t *len)
{
	if (min > s->o.limit && min > rlen(s))
		return -EMSGSIZE;
	uint64_t dl;
	int err = read_begin(s, &dl);
	if (err)
		return err;
	while (rlen(s) < min) {
		if (s->rerr)
			return s->rerr;
		if (s->eof)
			break;
		err = fetch(s, min, dl);
		if (err)
			return err;
	}
	*p = s->rbuf ? s->rbuf + s->rhead : NULL;
	*len = rlen(s);
	s->lent_active = *len != 0; /* data arriving meanwhile must not move it */
	return 0;
}

int corio__stream_peek(corio_stream *s, size_t min, char **p, size_t *len)
{
	if (!s || !p || !len)
		return -EINVAL;
	int err = corio__stream_take(s, &s->reading);
	return err ? err : (int)corio__stream_give(s, &s->reading, stream_peek(s, min, p, len));
}

void corio__stream_consume(corio_stream *s, size_t n)
{
	consume(s, n < rlen(s) ? n : rlen(s));
}

ssize_t corio_stream_read(corio_stream *s, void *buf, size_t n)
{
	if (!s)
		return -EINVAL;
	int err = corio__stream_take(s, &s->reading);
	return err ? err : corio__stream_give(s, &s->reading, stream_read(s, buf, n));
}

ssize_t corio_stream_read_exactly(corio_stream *s, void *buf, size_t n)
{
	if (!s)
		return -EINVAL;
	int err = corio__stream_take(s, &s->reading);
	return err ? err : corio__stream_give(s, &s->reading, stream_read_exactly(s, buf, n));
}

ssize_t corio_stream_read_until(corio_stream *s, const char *delim, const char **line)
{
	if (!s)
		return -EINVAL;
	int err = corio__stream_take(s, &s->reading);
	return err ? err : corio__stream_give(s, &s->reading, stream_read_until(s, delim, line));
}

ssize_t corio_stream_readline(corio_stream *s, const char **line)
{
	return corio_stream_read_until(s, "\n", line);
}

/* ---- lifecycle -------------------------------------------------------- */

/* 1 for a socket, 0 for another file (a pipe, a tty), -EBADF.  Decided
 * once: a stream keeps its fd for life. */
static int is_socket(int fd)
{
	int type;
	socklen_t len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0)
		return 1;
	return errno == EBADF ? -EBADF : 0;
}

int corio_stream_new(corio_stream **out, int fd, const corio_stream_options *o)
{
	static const corio_stream_options defaults;
	if (!out || fd < 0)
		return -EINVAL;
	corio_loop *l = corio__tls_loop;
	if (!l)
		return -EPERM;
	o = o ? o : &defaults;
	corio_stream_options r = *o;
	r.limit = r.limit ? r.limit : DEFAULT_LIMIT;
	r.high_water = r.high_water ? r.high_water : DEFAULT_HIGH_WATER;
	r.low_water = o->low_water ? o->low_water : r.high_water / 4;
	if (r.low_water > r.high_water)
		return -EINVAL;
	int sock = is_socket(fd);
	if (sock < 0)
		return sock;
	struct corio__net *n = corio__net_get(l);
	struct corio_stream *s = n ? calloc(1, sizeof(*s)) : NULL;
	if (!s)
		return -ENOMEM;
	s->loop = l;
	s->net = n;
	s->fd = fd;
	s->o = r;
	s->sock = sock;
	s->ms = sock && n->ms_recv && !r.plain;
	s->rmax = r.limit > DEFAULT_LIMIT ? r.limit : DEFAULT_LIMIT;
	corio__list_push_back(&n->streams, &s->node);
	*out = s;
	return 0;
}

void corio__stream_maybe_free(struct corio_stream *s)
{
	if (s->rstate != NET_IDLE || s->wstate != NET_IDLE || s->users)
		return; /* the last final completion or caller comes back here */
	free(s->rbuf);
	free(s->lent);
	corio__stream_wfree(s);
	if (s->x)
		s->x->free(s->xs);
	free(s->xin);
	free(s);
}

/* Close the fd and let go: ops still in the kernel are cancelled, tasks
 * waiting in a read or write get -ECANCELED, and the record is freed by
 * the last of the final completions and those callers (the caller
 * calls corio__stream_maybe_free() or leaves after this).  The close is
 * corio_close(), the one close path (it may suspend on io_uring: the
 * caller holds the record meanwhile).  Its result, or 0. */
static int orphan(struct corio_stream *s)
{
	corio__list_remove(&s->net->streams, &s->node);
	s->orphan = true;
	s->dst = NULL;
	if (s->rstate == NET_ARMED) {
		s->rstate = NET_CANCELLING;
		corio__op_cancel(s->loop, &s->rop);
	}
	if (s->wstate == NET_ARMED) {
		s->wstate = NET_CANCELLING;
		corio__op_cancel(s->loop, &s->wop);
	}
	corio__waitq_wake_all(&s->readers, -ECANCELED);
	corio__waitq_wake_all(&s->writers, -ECANCELED);
	int fd = s->fd;
	s->fd = -1;
	return corio_close(fd); /* the kernel's ops hold the file until they end */
}

int corio_stream_close(corio_stream *s)
{
	if (!s)
		return 0;
	int err = 0;
	if (corio_self() && s->x && !s->orphan) {
		corio__stream_xend(s); /* close_notify: its flush is bounded */
		corio_scope sc;
		if (s->close_ns)
			corio_timeout_push(&sc, corio_now() + s->close_ns);
		err = corio_stream_flush(s);
		if (s->close_ns)
			corio_timeout_pop(&sc);
	} else if (corio_self() && (corio__stream_wpending(s) || s->wstate != NET_IDLE)) {
		err = corio_stream_flush(s);
	}
	corio__stream_enter(s);
	int cerr = orphan(s);
	return corio__stream_leave(s, err ? err : cerr);
}

/* At loop teardown, outside any task: corio_close() does not suspend. */
void corio__streams_fini(struct corio__net *n)
{
	while (!corio__list_empty(&n->streams)) {
		struct corio_stream *s =
			corio__list_entry(n->streams.head, struct corio_stream, node);
		orphan(s);
		corio__stream_maybe_free(s);
	}
}

int corio_stream_fd(const corio_stream *s)
{
	return s ? s->fd : -EINVAL;
}

size_t corio_stream_buffered(const corio_stream *s)
{
	return s ? rlen(s) : 0;
}
