/* SPDX-License-Identifier: MIT */
/*
 * bench/echo_uring.c - the limit for bench-echo: a hand-written io_uring
 * echo server with no coroutines at all.  DEFER_TASKRUN ring, multishot
 * accept, multishot receive into a provided-buffer ring, and the echo sent
 * straight from the provided buffer, which goes back to the ring when the
 * send completes.  One io_uring_enter per loop turn.  Listens on
 * 127.0.0.1, prints "PORT <n>", stops on SIGTERM or SIGINT.
 *
 *   bench-echo-uring [port]
 */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"

#define NBUFS 1024u
#define BUFSZ 4096u
#define BGID 1

enum { K_ACCEPT = 1, K_RECV, K_SEND };

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t ud(int kind, int fd, unsigned bid)
{
	return (uint64_t)kind << 48 | (uint64_t)bid << 32 | (uint32_t)fd;
}

static struct io_uring_sqe *sqe(void)
{
	struct io_uring_sqe *s;
	while (!(s = io_uring_get_sqe(&ring)))
		io_uring_submit(&ring);
	return s;
}

static void arm_recv(int fd)
{
	struct io_uring_sqe *s = sqe();
	io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = BGID;
	io_uring_sqe_set_data64(s, ud(K_RECV, fd, 0));
}

static void recycle(unsigned bid)
{
	io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, (unsigned short)bid,
			      io_uring_buf_ring_mask(NBUFS), 0);
	io_uring_buf_ring_advance(br, 1);
}

static void on_recv(int fd, int res, unsigned flags)
{
	if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
		struct io_uring_sqe *s = sqe();
		io_uring_prep_send(s, fd, bufs + (size_t)bid * BUFSZ, (size_t)res,
				   MSG_NOSIGNAL | MSG_WAITALL);
		io_uring_sqe_set_data64(s, ud(K_SEND, fd, bid));
	}
	if (flags & IORING_CQE_F_MORE)
		return;
	if (res == -ENOBUFS || res > 0)
		arm_recv(fd); /* the ring ran dry, or it just ended: go on */
	else
		close(fd);
}

static void on_accept(int lfd, int res, unsigned flags)
{
	if (res >= 0) {
		int on = 1;
		setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		arm_recv(res);
	}
	if (!(flags & IORING_CQE_F_MORE)) {
		struct io_uring_sqe *s = sqe();
		io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
		io_uring_sqe_set_data64(s, ud(K_ACCEPT, lfd, 0));
	}
}

static void setup(void)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
	p.cq_entries = 4096;
	if (io_uring_queue_init_params(1024, &ring, &p)) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE;
		p.cq_entries = 4096;
		if (io_uring_queue_init_params(1024, &ring, &p)) {
			fprintf(stderr, "bench-echo-uring: no io_uring\n");
			exit(1);
		}
	}
	br = mmap(NULL, NBUFS * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bufs = mmap(NULL, (size_t)NBUFS * BUFSZ, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)br,
				       .ring_entries = NBUFS, .bgid = BGID};
	if (br == MAP_FAILED || bufs == MAP_FAILED || io_uring_register_buf_ring(&ring, &reg, 0)) {
		fprintf(stderr, "bench-echo-uring: no provided-buffer ring\n");
		exit(1);
	}
	io_uring_buf_ring_init(br);
	for (unsigned i = 0; i < NBUFS; i++)
		io_uring_buf_ring_add(br, bufs + (size_t)i * BUFSZ, BUFSZ, (unsigned short)i,
				      io_uring_buf_ring_mask(NBUFS), (int)i);
	io_uring_buf_ring_advance(br, NBUFS);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: enter returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setup();
	int lfd = peer_listen(argc > 1 ? atoi(argv[1]) : 0, 0, "bench-echo-uring");
	on_accept(lfd, -1, 0); /* arms the first accept */
	while (!stop) {
		if (io_uring_submit_and_wait(&ring, 1) < 0 && errno != EINTR && stop)
			break;
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			uint64_t d = cqe->user_data;
			int fd = (int)(uint32_t)d, kind = (int)(d >> 48);
			unsigned bid = (unsigned)(d >> 32) & 0xffff;
			if (kind == K_ACCEPT)
				on_accept(fd, cqe->res, cqe->flags);
			else if (kind == K_RECV)
				on_recv(fd, cqe->res, cqe->flags);
			else if (kind == K_SEND)
				recycle(bid);
			n++;
		}
		io_uring_cq_advance(&ring, n);
	}
	io_uring_queue_exit(&ring);
	return 0;
}
