/* SPDX-License-Identifier: MIT */
/*
 * bench/peer.h - what the hand-written peer echo servers share (they use
 * no corio): a listening socket on 127.0.0.1 whose port is announced on
 * stdout as "PORT <n>" for bench-echo.  Header only.
 */
#ifndef CORIO_BENCH_PEER_H
#define CORIO_BENCH_PEER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

/* Listen on 127.0.0.1:@port (0: any) with socket(2) flags @type_flags
 * (SOCK_NONBLOCK, ...), print "PORT <n>"; exit(1) naming @who on error. */
static inline int peer_listen(int port, int type_flags, const char *who)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | type_flags, 0);
	int on = 1;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 4096)) {
		fprintf(stderr, "%s: listen: ", who);
		perror(NULL);
		exit(1);
	}
	socklen_t len = sizeof(sin);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	printf("PORT %d\n", ntohs(sin.sin_port));
	fflush(stdout);
	return fd;
}

#endif
