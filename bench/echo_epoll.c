/* SPDX-License-Identifier: MIT */
/*
 * bench/echo_epoll.c - the baseline for bench-echo: the tightest
 * single-threaded epoll echo server we know how to write.  Level-triggered,
 * one read and one write per readiness, one shared buffer, no allocation
 * on the hot path.  Listens on 127.0.0.1, prints "PORT <n>", runs until
 * SIGTERM or SIGINT.
 *
 *   bench-echo-epoll [port]
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void accept_all(int ep, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		int on = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

/* Write all of it; an echo server whose peer stops reading may block
 * here, which a benchmark client never does. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EAGAIN) {
			struct epoll_event ev;
			int ep = epoll_create1(EPOLL_CLOEXEC);
			ev.events = EPOLLOUT;
			ev.data.fd = fd;
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			epoll_wait(ep, &ev, 1, 1000);
			close(ep);
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	int lfd = peer_listen(argc > 1 ? atoi(argv[1]) : 0, SOCK_NONBLOCK, "bench-echo-epoll");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	static struct epoll_event evs[512];
	static char buf[65536];
	while (!stop) {
		int n = epoll_wait(ep, evs, 512, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				accept_all(ep, lfd);
				continue;
			}
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r > 0 && write_all(fd, buf, (size_t)r) == 0)
				continue;
			if (r < 0 && errno == EAGAIN)
				continue;
			close(fd); /* EOF or error; closing removes it from epoll */
		}
	}
	return 0;
}
