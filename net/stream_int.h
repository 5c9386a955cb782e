/* SPDX-License-Identifier: MIT */
/*
 * stream_int.h - the stream record, shared by stream.c (lifecycle and
 * reading) and stream_write.c (writing).  Never installed.
 *
 * Read buffer (rbuf):
 *
 *   0          rhead                rtail            rcap
 *   +-----------+--------------------+----------------+
 *   | consumed  | buffered, unread   | free           |
 *   +-----------+--------------------+----------------+
 *                                     ^ plain path: the recv in flight
 *                                       writes here, so rbuf must not move
 *
 * With multishot receive the kernel fills a provided buffer and the
 * completion copies it out: straight into the buffer of a reader waiting
 * in read()/read_exactly() (dst), the rest into rbuf.  Nothing the kernel
 * touches belongs to the stream then, so rbuf may move at any time, except
 * that a line returned by read_until() points into it until the next read
 * call (lent_active; a buffer replaced meanwhile is parked in 'lent').
 *
 * Write buffers: writes append to wq; when no send is in flight, wq and
 * wf swap and one send op takes all of wf.  So any number of writes made
 * while a send is in the kernel leave together in the next op.
 *
 * A transport (x: TLS, tls.c) sits between the socket and these buffers:
 *
 *   recv op ──► xin / provided buf ──► x->feed ──► [ciphertext in x]
 *                                                       │ x->decrypt (fetch)
 *   reader ◄── rbuf (plaintext) ◄───────────────────────┘
 *   writer ──► wq (plaintext) ──► x->encrypt ──► [ciphertext in x]
 *                                                       │ x->out_take
 *   send op ◄── wf (ciphertext) ◄───────────────────────┘
 *
 * The kernel never touches rbuf then (the plain receive fills xin, which
 * lives until the record is freed), so rbuf may always move; the raw end
 * and errors of the socket wait in xeof/xerr until the transport has
 * turned what came before them into plaintext.  A plain stream has x NULL
 * and pays one branch where bytes enter rbuf and where they leave wq.
 */
#ifndef CORIO_STREAM_INT_H
#define CORIO_STREAM_INT_H

#include "net_int.h"

#include <errno.h>

struct corio__wbuf {
	char *p;
	size_t len; /* bytes in p */
	size_t off; /* bytes of p the kernel has taken (wf only) */
	size_t cap;
};

struct corio_stream;

/* A transport under a stream (tls.c).  Every hook runs on the loop's
 * thread, from a task or from a completion; none suspends. */
struct corio__stream_xport {
	/* Ciphertext arrived (a copy is kept).  0 or a negative errno. */
	int (*feed)(struct corio_stream *s, const char *p, size_t n);
	/* Up to @n bytes of plaintext into @buf: their count; 0 if more
	 * ciphertext is needed; CORIO__XPORT_EOF at the peer's clean end;
	 * else an error.  Looks at s->xeof/s->xerr once out of ciphertext. */
	ssize_t (*decrypt)(struct corio_stream *s, char *buf, size_t n);
	/* Ciphertext received, not yet decrypted. */
	size_t (*in_pending)(const struct corio_stream *s);
	/* Encrypt @n bytes of plaintext.  0 or a negative error. */
	int (*encrypt)(struct corio_stream *s, const char *p, size_t n);
	/* Ciphertext waiting to be sent. */
	size_t (*out_pending)(const struct corio_stream *s);
	/* Move up to @n bytes of it into @buf; their count. */
	size_t (*out_take)(struct corio_stream *s, char *buf, size_t n);
	/* Before the last flush of close or shutdown (close_notify); no
	 * encrypt after it.  Called through corio__stream_xend(). */
	void (*end)(struct corio_stream *s);
	/* Free the state, once no op is in flight. */
	void (*free)(void *state);
};
#define CORIO__XPORT_EOF (-9001) /* internal: below corio's error ranges */

struct corio_stream {
	corio_loop *loop;
	struct corio__net *net;
	int fd;
	bool sock;              /* a socket: RECV/SEND ops, else READ/WRITE */
	bool ms;                /* multishot receive with provided buffers */
	bool orphan;            /* closed: freed once no op or caller is left */
	unsigned users;         /* tasks inside a read or write call */
	bool reading;           /* a task is inside a read call (one at a time) */
	bool writing;           /* a task is inside a write call (one at a time) */
	corio_stream_options o; /* defaults filled in */
	size_t rmax;            /* multishot: pause receiving with this much buffered */
	struct corio__node node; /* on the loop's open streams (net->streams) */

	/* reading */
	char *rbuf;
	size_t rcap, rhead, rtail;
	char *lent;             /* replaced buffer a returned line points into */
	bool lent_active;       /* a returned line points into rbuf */
	size_t scan;            /* read_until: bytes from rhead already searched */
	bool eof;               /* the peer shut down its side */
	int rerr;               /* the connection's error, once seen */
	struct corio__op rop;   /* multishot or plain receive */
	uint8_t rstate;         /* enum corio__net_op_state */
	bool rgot_data;         /* rop delivered data at least once */
	struct corio__waitq readers;
	char *dst;              /* multishot: a waiting reader's own buffer */
	size_t dst_len, dst_got;
	bool dst_all;           /* wake the reader only when dst is full */
	uint64_t rprogress;     /* loop time data last arrived */

	/* writing */
	struct corio__wbuf wq;  /* being filled */
	struct corio__wbuf wf;  /* in the kernel */
	struct corio__op wop;
	uint8_t wstate;         /* enum corio__net_op_state */
	int werr;               /* a send failed: sticky */
	size_t wwant;           /* wake writers once this little is pending */
	struct corio__waitq writers;
	uint64_t wprogress;     /* loop time a send last completed */

	/* transport (NULL: plain) */
	const struct corio__stream_xport *x;
	void *xs;               /* its state, freed with the stream */
	char *xin;              /* plain receive path: the kernel fills this */
	bool xeof;              /* the socket's end, not yet passed up */
	int xerr;               /* the socket's error, not yet passed up */
	uint64_t close_ns;      /* close: bound on the last flush (0: none) */
};

/* stream.c */
int corio__stream_wait(struct corio_stream *s, struct corio__waitq *q, uint64_t call_deadline,
		       const uint64_t *progress) CORIO__HIDDEN;
void corio__stream_maybe_free(struct corio_stream *s) CORIO__HIDDEN;

/* Every call that may suspend runs between these two: a stream closed by
 * another task meanwhile is freed only once the last caller has left. */
static inline void corio__stream_enter(struct corio_stream *s)
{
	s->users++;
}

static inline ssize_t corio__stream_leave(struct corio_stream *s, ssize_t ret)
{
	if (!--s->users && s->orphan)
		corio__stream_maybe_free(s);
	return ret;
}

/* A read or write call holds its side (*@side: s->reading or s->writing)
 * from entry to return, whatever it does meanwhile (waits, is woken but not
 * yet run, copies): a second task gets -EBUSY rather than a share of the
 * first one's bytes or a reset of its progress.  A queue of waiters could
 * not tell: a woken task is off the queue before it runs. */
static inline int corio__stream_take(struct corio_stream *s, bool *side)
{
	if (*side)
		return -EBUSY;
	*side = true;
	corio__stream_enter(s);
	return 0;
}

static inline ssize_t corio__stream_give(struct corio_stream *s, bool *side, ssize_t ret)
{
	*side = false;
	return corio__stream_leave(s, ret);
}

/*
 * For a protocol parser above streams (http/): the bytes buffered, in
 * place.  corio__stream_peek() waits until at least @min bytes are
 * buffered (under the stream's read and idle timeouts), or the peer's end
 * came first, then lends them: *@p (writable: a decoder may rewrite them
 * in place) and *@len, which may be less than @min only at the end of the
 * stream (0: nothing more will come).  They stay valid, and in place,
 * until the next read call on the stream, whatever arrives meanwhile;
 * copy what must live longer.  corio__stream_consume() drops @n of them
 * from the front.
 * Returns 0, -EMSGSIZE (@min is over the stream's limit), or the errors of
 * corio_stream_read().  One reader at a time, as for every read call.
 */
int corio__stream_peek(corio_stream *s, size_t min, char **p, size_t *len) CORIO__HIDDEN;
void corio__stream_consume(corio_stream *s, size_t n) CORIO__HIDDEN;

/* stream.c: a transport's handshake.  Arm a receive unless one is in
 * flight and wait for a completion under @deadline (0: none): 0 means
 * look again (something arrived, or the socket ended: s->xeof, s->xerr).
 * The caller holds the reading side. */
int corio__stream_fill(struct corio_stream *s, uint64_t deadline) CORIO__HIDDEN;

/* stream_write.c */
/* Hand what is queued (and a transport's ciphertext) to a send op unless
 * one is in flight.  Any context. */
void corio__stream_kick(struct corio_stream *s) CORIO__HIDDEN;
/* A transport's end (close_notify) behind everything written so far:
 * plaintext still queued is encrypted first.  Then flush. */
void corio__stream_xend(struct corio_stream *s) CORIO__HIDDEN;
size_t corio__stream_wpending(const struct corio_stream *s) CORIO__HIDDEN;
void corio__stream_wfree(struct corio_stream *s) CORIO__HIDDEN;

#endif
