/* SPDX-License-Identifier: MIT */
/*
 * bufring.c - the loop's provided receive buffers: one io_uring buffer
 * ring (group CORIO__NET_BGID) that every stream's multishot receive picks
 * from.  The kernel takes a buffer only when data arrives, and streams copy
 * the data out and give the buffer back in the same completion, so the
 * pool stays small however many connections sit idle.  Registered on first
 * use; a kernel without buffer rings (before 5.19) leaves streams on the
 * plain path.
 */
#include "net_int.h"
#include "uring_int.h"

#include <sys/mman.h>

#define NBUFS 1024u    /* a power of two, as the ring requires */
#define BUFSIZE 4096u  /* 4 MiB in all, touched only as used */

static size_t ring_bytes(void)
{
	return NBUFS * sizeof(struct io_uring_buf);
}

static void *map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static bool setup(struct corio__net *n)
{
	struct corio__uring *u = n->loop->be_data;
	struct io_uring_buf_ring *br = map(ring_bytes()); /* page-aligned, as required */
	char *bufs = map((size_t)NBUFS * BUFSIZE);
	if (!br || !bufs)
		goto fail;
	struct io_uring_buf_reg reg = {
		.ring_addr = (uint64_t)(uintptr_t)br,
		.ring_entries = NBUFS,
		.bgid = CORIO__NET_BGID,
	};
	if (io_uring_register_buf_ring(&u->ring, &reg, 0))
		goto fail;
	io_uring_buf_ring_init(br);
	for (unsigned i = 0; i < NBUFS; i++)
		io_uring_buf_ring_add(br, bufs + (size_t)i * BUFSIZE, BUFSIZE, (unsigned short)i,
				      io_uring_buf_ring_mask(NBUFS), (int)i);
	io_uring_buf_ring_advance(br, NBUFS);
	n->br = br;
	n->bufs = bufs;
	n->nbufs = NBUFS;
	n->bufsize = BUFSIZE;
	return true;
fail:
	if (br)
		munmap(br, ring_bytes());
	if (bufs)
		munmap(bufs, (size_t)NBUFS * BUFSIZE);
	return false;
}

bool corio__net_bufs_ready(struct corio__net *n)
{
	if (corio__likely(n->br_state != 0))
		return n->br_state > 0;
	n->br_state = -1;
	if (n->loop->be != &corio__uring_backend || !setup(n))
		return false;
	n->br_state = 1;
	return true;
}

const char *corio__net_buf(struct corio__net *n, unsigned bid)
{
	return n->bufs + (size_t)bid * n->bufsize;
}

/* Give buffer @bid back to the kernel.  Each buffer is either in the ring
 * or in the hands of exactly one completion, so the ring never overfills. */
void corio__net_buf_recycle(struct corio__net *n, unsigned bid)
{
	struct io_uring_buf_ring *br = n->br;
	io_uring_buf_ring_add(br, n->bufs + (size_t)bid * n->bufsize, n->bufsize,
			      (unsigned short)bid, io_uring_buf_ring_mask(n->nbufs), 0);
	io_uring_buf_ring_advance(br, 1);
}

/* At teardown, once no receive is in flight. */
void corio__net_bufs_free(struct corio__net *n)
{
	if (n->br_state <= 0)
		return;
	struct corio__uring *u = n->loop->be_data;
	io_uring_unregister_buf_ring(&u->ring, CORIO__NET_BGID);
	munmap(n->br, ring_bytes());
	munmap(n->bufs, (size_t)n->nbufs * n->bufsize);
	n->br_state = 0;
	n->br = NULL;
	n->bufs = NULL;
}
