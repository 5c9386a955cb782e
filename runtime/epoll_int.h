/* SPDX-License-Identifier: MIT */
/*
 * epoll_int.h - the epoll backend's state.  Never installed.
 */
#ifndef CORIO_EPOLL_INT_H
#define CORIO_EPOLL_INT_H

#include "corio_int.h"

/* One per fd the backend has seen: registered once, edge-triggered. */
struct corio__ep_fd {
	int fd;
	uint32_t gen;                    /* tells a stale event from a fresh fd */
	bool sock;                       /* recv/send with MSG_DONTWAIT serve read/write */
	bool stream;                     /* a byte-stream socket: MSG_WAITALL gathers */
	int saved_fl;                    /* flags before O_NONBLOCK was set, or -1 */
	unsigned takers[2];              /* waiters that consume, per direction */
	unsigned both;                   /* readers that are POLLIN|POLLOUT polls */
	struct corio__list wait[2];       /* [0] readers, [1] writers */
	struct corio__node kick;         /* on the loop's kick list */
	bool kicked;                     /* ...while this is set */
};

/* A buffer group's free buffer ids (bufgroup_init): a stack, so that the
 * buffer used last, still warm in the cache, is used next. */
struct corio__ep_bufs {
	unsigned nfree;
	uint16_t id[];
};

struct corio__epoll {
	int epfd;
	struct corio__ep_fd **fds; /* indexed by fd */
	unsigned nfds;
	uint32_t gen;
	struct corio__list retry;             /* ops tried again every turn */
	struct corio__list kick;             /* records whose readers are tried
					      * on the next poll, edge or not */
	unsigned busy_turns;                 /* turns in a row without epoll_wait */
	struct corio__list done;             /* finished, not yet delivered */
	unsigned inflight;                   /* submitted, not yet delivered */
};

void corio__epoll_forget(corio_loop *l, int fd) CORIO__HIDDEN;

#endif
