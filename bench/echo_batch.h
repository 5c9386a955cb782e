/* SPDX-License-Identifier: MIT */
/*
 * bench/echo_batch.h - bench-echo's batch load generator, the machinery:
 * N connections on one io_uring, multishot receive into provided
 * buffers, every send of a turn in one enter, each connection keeping
 * window messages in flight (1: ping-pong), every echo checked.
 * bench/echo.c drives it (drive(), run_client()) and samples the server
 * at the ends of the measured window.  Header only, included by
 * bench/echo.c alone.
 */
#ifndef CORIO_BENCH_ECHO_BATCH_H
#define CORIO_BENCH_ECHO_BATCH_H

#include "bench.h"

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/socket.h>

/*
 * The generator runs on io_uring itself (multishot receive into provided
 * buffers, sends batched into one enter per turn) so that it costs less
 * per round trip than any of the servers: a generator that saturates
 * first makes every server look alike.
 */
#define GBUFS 2048u
#define GBUFSZ 4096u
#define GBGID 7

enum { G_RECV = 1, G_SEND };

struct samples {
	uint32_t *v;
	size_t n, cap;
};

static void sample(struct samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1 << 16;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

#define MAX_WINDOW 256

/* A connection keeps up to window messages in flight, all the same
 * message, sent from one buffer holding it window times over; one send
 * in flight at a time (two sends on a socket could interleave), carrying
 * every message the window has room for. */
struct cconn {
	int fd;
	uint64_t recvd;   /* echoed bytes so far */
	uint64_t sent;    /* messages handed to the kernel */
	uint64_t done;    /* messages whose echo is whole */
	unsigned sending; /* messages in the send in flight (0: none) */
	char *msg;
	uint64_t t0[MAX_WINDOW]; /* when message k went out, at k % window */
};

struct gen {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	char *bufs;
	struct cconn *cs;
	int conns;
	size_t size;
	unsigned window;   /* messages in flight per connection */
	uint64_t from, to; /* the measured window */
	struct samples s;
	uint64_t rts;      /* every round trip, warm-up included */
	int err;
};

static struct io_uring_sqe *gsqe(struct gen *g)
{
	struct io_uring_sqe *q;
	while (!(q = io_uring_get_sqe(&g->ring)))
		io_uring_submit(&g->ring);
	return q;
}

static void g_recv(struct gen *g, int i)
{
	struct io_uring_sqe *q = gsqe(g);
	io_uring_prep_recv_multishot(q, g->cs[i].fd, NULL, 0, 0);
	q->flags |= IOSQE_BUFFER_SELECT;
	q->buf_group = GBGID;
	io_uring_sqe_set_data64(q, (uint64_t)G_RECV << 32 | (uint32_t)i);
}

/* Send every message the window has room for, in one send, unless a
 * send is in flight (its completion calls this again). */
static void g_send(struct gen *g, int i, uint64_t now)
{
	struct cconn *c = &g->cs[i];
	unsigned k = (unsigned)(c->done + g->window - c->sent);
	if (c->sending || !k)
		return;
	for (unsigned m = 0; m < k; m++)
		c->t0[(c->sent + m) % g->window] = now;
	c->sent += k;
	c->sending = k;
	struct io_uring_sqe *q = gsqe(g);
	io_uring_prep_send(q, c->fd, c->msg, k * g->size, MSG_NOSIGNAL | MSG_WAITALL);
	io_uring_sqe_set_data64(q, (uint64_t)G_SEND << 32 | (uint32_t)i);
}

static void g_on_send(struct gen *g, int i, int res)
{
	struct cconn *c = &g->cs[i];
	if (res != (int)(c->sending * g->size))
		g->err = -1; /* short or failed send */
	c->sending = 0;
	g_send(g, i, bench_now_ns());
}

static void g_recycle(struct gen *g, unsigned bid)
{
	io_uring_buf_ring_add(g->br, g->bufs + (size_t)bid * GBUFSZ, GBUFSZ, (unsigned short)bid,
			      io_uring_buf_ring_mask(GBUFS), 0);
	io_uring_buf_ring_advance(g->br, 1);
}

/* Part of an echo: check it against what was sent; when it is whole,
 * time the round trip and send the next message. */
static void g_on_recv(struct gen *g, int i, int res, unsigned flags)
{
	struct cconn *c = &g->cs[i];
	if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
		const char *p = g->bufs + (size_t)bid * GBUFSZ;
		if (c->recvd + (uint64_t)res > c->sent * g->size)
			g->err = -1; /* more than was sent */
		/* the stream is the message over and over: check it piece by
		 * piece, each within one message */
		for (size_t k = 0; k < (size_t)res && !g->err;) {
			size_t off = (size_t)((c->recvd + k) % g->size);
			size_t n = g->size - off < (size_t)res - k ? g->size - off : (size_t)res - k;
			if (memcmp(p + k, c->msg + off, n))
				g->err = -1; /* a wrong echo */
			k += n;
		}
		c->recvd += (uint64_t)res;
		g_recycle(g, bid);
		uint64_t t1 = 0;
		while ((c->done + 1) * g->size <= c->recvd) {
			t1 = t1 ? t1 : bench_now_ns();
			uint64_t t0 = c->t0[c->done % g->window];
			g->rts++;
			c->done++;
			if (t0 >= g->from && t1 <= g->to)
				sample(&g->s, t1 - t0);
		}
		if (t1)
			g_send(g, i, t1);
	}
	if (flags & IORING_CQE_F_MORE)
		return;
	if (res == -ENOBUFS || res > 0)
		g_recv(g, i);
	else
		g->err = -1; /* the server hung up */
}

static int g_setup(struct gen *g)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
	p.cq_entries = 8192;
	if (io_uring_queue_init_params(2048, &g->ring, &p)) {
		memset(&p, 0, sizeof(p));
		if (io_uring_queue_init_params(2048, &g->ring, &p))
			return -1;
	}
	g->br = mmap(NULL, GBUFS * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g->bufs = mmap(NULL, (size_t)GBUFS * GBUFSZ, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)g->br,
				       .ring_entries = GBUFS, .bgid = GBGID};
	if (g->br == MAP_FAILED || g->bufs == MAP_FAILED ||
	    io_uring_register_buf_ring(&g->ring, &reg, 0))
		return -1;
	io_uring_buf_ring_init(g->br);
	for (unsigned i = 0; i < GBUFS; i++)
		io_uring_buf_ring_add(g->br, g->bufs + (size_t)i * GBUFSZ, GBUFSZ,
				      (unsigned short)i, io_uring_buf_ring_mask(GBUFS), (int)i);
	io_uring_buf_ring_advance(g->br, GBUFS);
	return 0;
}

static void g_teardown(struct gen *g)
{
	io_uring_queue_exit(&g->ring);
	munmap(g->br, GBUFS * sizeof(struct io_uring_buf));
	munmap(g->bufs, (size_t)GBUFS * GBUFSZ);
	for (int i = 0; i < g->conns; i++) {
		if (g->cs[i].fd > 0)
			close(g->cs[i].fd);
		free(g->cs[i].msg);
	}
	free(g->cs);
	free(g->s.v);
}

static int client_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	int on = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return fd;
}

#endif
