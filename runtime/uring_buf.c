/* SPDX-License-Identifier: MIT */
/*
 * uring_buf.c - buffer groups on io_uring: a provided-buffer ring
 * registered with the kernel, which takes a buffer only when data arrives
 * for a RECV_MULTI op.  The op's owner copies the data out and gives the
 * buffer back in the same completion, so the ring stays small however many
 * receivers sit idle.  Kernels before 5.19 have no buffer rings: init
 * fails and the caller keeps to plain receives.
 */
#include "corio_int.h"
#include "uring_int.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

static size_t ring_bytes(const struct corio__bufgroup *g)
{
	return g->nbufs * sizeof(struct io_uring_buf);
}

int corio__uring_bufgroup_init(corio_loop *l, struct corio__bufgroup *g)
{
	struct corio__uring *u = l->be_data;
	/* page-aligned, as the kernel requires */
	void *br = mmap(NULL, ring_bytes(g), PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED)
		return -ENOMEM;
	struct io_uring_buf_reg reg = {
		.ring_addr = (uint64_t)(uintptr_t)br,
		.ring_entries = g->nbufs,
		.bgid = g->id,
	};
	int err = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (err) {
		munmap(br, ring_bytes(g));
		return err == -EINVAL ? -EOPNOTSUPP : err;
	}
	io_uring_buf_ring_init(br);
	unsigned mask = io_uring_buf_ring_mask(g->nbufs);
	for (unsigned i = 0; i < g->nbufs; i++)
		io_uring_buf_ring_add(br, g->bufs + (size_t)i * g->bufsize, g->bufsize,
				      (unsigned short)i, mask, (int)i);
	io_uring_buf_ring_advance(br, g->nbufs);
	g->be = br;
	return 0;
}

/* Each buffer is either in the ring or in the hands of exactly one
 * completion, so the ring never overfills. */
void corio__uring_bufgroup_recycle(struct corio__bufgroup *g, unsigned bid)
{
	struct io_uring_buf_ring *br = g->be;
	io_uring_buf_ring_add(br, g->bufs + (size_t)bid * g->bufsize, g->bufsize,
			      (unsigned short)bid, io_uring_buf_ring_mask(g->nbufs), 0);
	io_uring_buf_ring_advance(br, 1);
}

void corio__uring_bufgroup_fini(struct corio__bufgroup *g)
{
	struct corio__uring *u = g->loop->be_data;
	io_uring_unregister_buf_ring(&u->ring, g->id);
	munmap(g->be, ring_bytes(g));
}
