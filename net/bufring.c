/* SPDX-License-Identifier: MIT */
/*
 * bufring.c - the loop's provided receive buffers: one buffer group (the
 * runtime's, corio_mod.h) that every stream's RECV_MULTI op picks from.
 * The backend hands a buffer over only when data arrives, and streams copy
 * the data out and give the buffer back in the same completion, so the
 * pool stays small however many connections sit idle.  Made on first use;
 * where the backend has none, streams keep to the plain path.
 */
#include "net_int.h"

#define NBUFS 512u     /* a power of two, as the ring requires */
#define BUFSIZE 16384u /* 8 MiB in all, touched only as used */

bool corio__net_bufs_ready(struct corio__net *n)
{
	if (corio__likely(n->br_state != 0))
		return n->br_state > 0;
	n->br_state = corio__bufgroup_new(n->loop, NBUFS, BUFSIZE, &n->bg) ? -1 : 1;
	return n->br_state > 0;
}

const char *corio__net_buf(struct corio__net *n, unsigned bid)
{
	return corio__bufgroup_buf(n->bg, bid);
}

void corio__net_buf_recycle(struct corio__net *n, unsigned bid)
{
	corio__bufgroup_recycle(n->bg, bid);
}

/* At teardown, once no receive is in flight. */
void corio__net_bufs_free(struct corio__net *n)
{
	corio__bufgroup_free(n->bg);
	n->bg = NULL;
	n->br_state = 0;
}
