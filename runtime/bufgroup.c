/* SPDX-License-Identifier: MIT */
/*
 * bufgroup.c - provided receive buffers as modules see them (corio_mod.h):
 * the memory is one lazily touched mapping made here; the backend decides
 * how buffers reach RECV_MULTI ops (a registered ring on io_uring).
 */
#include "corio_int.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

int corio__bufgroup_new(corio_loop *l, unsigned nbufs, unsigned bufsize,
			struct corio__bufgroup **out)
{
	if (!nbufs || (nbufs & (nbufs - 1)) || nbufs > 32768 || !bufsize)
		return -EINVAL;
	if (!l->be->bufgroup_init)
		return -EOPNOTSUPP;
	struct corio__bufgroup *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->loop = l;
	g->nbufs = nbufs;
	g->bufsize = bufsize;
	g->id = l->next_bgid++;
	size_t bytes = (size_t)nbufs * bufsize;
	g->bufs = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->bufs == MAP_FAILED) {
		free(g);
		return -ENOMEM;
	}
	int err = l->be->bufgroup_init(l, g);
	if (err) {
		munmap(g->bufs, bytes);
		free(g);
		return err;
	}
	*out = g;
	return 0;
}

char *corio__bufgroup_buf(struct corio__bufgroup *g, unsigned bid)
{
	return g->bufs + (size_t)bid * g->bufsize;
}

void corio__bufgroup_recycle(struct corio__bufgroup *g, unsigned bid)
{
	g->loop->be->bufgroup_recycle(g, bid);
}

void corio__bufgroup_free(struct corio__bufgroup *g)
{
	if (!g)
		return;
	g->loop->be->bufgroup_fini(g);
	munmap(g->bufs, (size_t)g->nbufs * g->bufsize);
	free(g);
}
