/* SPDX-License-Identifier: MIT */
/*
 * connect.c - corio_tcp_connect(): resolve a name with the loop's resolver
 * and connect the Happy Eyeballs v2 way (RFC 8305): addresses in the
 * resolver's RFC 6724 order with the families interleaved, a new attempt
 * every 250 ms or as soon as the running ones have all failed, the first
 * connection wins and the others are cancelled.  Each attempt is a task,
 * so cancelling the caller cancels them all; they are always reaped before
 * the call returns.
 */
#include "net_int.h"

#include <corio/dns.h>
#include <corio/sync.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ATTEMPT_DELAY_NS (250ull * 1000 * 1000) /* RFC 8305's recommendation */
#define MAX_ATTEMPTS 16

struct race {
	corio_event changed; /* set when an attempt wins or fails */
	int winner;          /* the connected fd, -1 until one wins */
	int err;             /* the first real failure, for the caller */
	unsigned running;
};

struct attempt {
	struct race *race;
	const struct addrinfo *ai;
};

static void *attempt_main(void *arg)
{
	struct attempt *a = arg;
	struct race *r = a->race;
	int fd = socket(a->ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int err = fd < 0 ? -errno : corio_connect(fd, a->ai->ai_addr, a->ai->ai_addrlen);
	if (!err && r->winner < 0) {
		r->winner = fd;
		fd = -1;
	} else if (err && err != -ECANCELED && !r->err) {
		r->err = err;
	}
	if (fd >= 0)
		corio_close(fd); /* failed, or connected second */
	r->running--;
	corio_event_set(&r->changed);
	return NULL;
}

/* The addresses to try, families alternating from the first one's. */
static size_t interleave(const struct addrinfo *res, const struct addrinfo **out)
{
	size_t n = 0;
	const struct addrinfo *next[2] = {res, res};
	int fam[2] = {res->ai_family, 0};
	for (const struct addrinfo *p = res; p; p = p->ai_next)
		if (p->ai_family != fam[0]) {
			fam[1] = p->ai_family;
			break;
		}
	for (int turn = 0; n < MAX_ATTEMPTS; turn ^= 1) {
		const struct addrinfo *p = next[turn];
		while (p && p->ai_family != fam[turn])
			p = p->ai_next;
		if (!p) {
			p = next[turn ^ 1];
			while (p && p->ai_family != fam[turn ^ 1])
				p = p->ai_next;
			if (!p)
				break;
			turn ^= 1;
		}
		out[n++] = p;
		next[turn] = p->ai_next;
	}
	return n;
}

/* Wait until an attempt changes the race, for at most @ns (0: no limit).
 * 0 when it changed or the delay ran out; the caller's interruption else. */
static int wait_change(struct race *r, uint64_t ns)
{
	if (r->winner >= 0 || !r->running)
		return 0;
	corio_event_clear(&r->changed);
	if (!ns)
		return corio_event_wait(&r->changed);
	corio_scope s;
	corio_timeout_push(&s, corio_now() + ns);
	int err = corio_event_wait(&r->changed);
	corio_timeout_pop(&s);
	return err && s.expired ? 0 : err;
}

static int race(const struct addrinfo **order, size_t n)
{
	struct race r = {.winner = -1};
	corio_event_init(&r.changed);
	struct attempt at[MAX_ATTEMPTS];
	corio_task *t[MAX_ATTEMPTS];
	size_t started = 0;
	int err = 0;
	for (size_t i = 0; i < n && r.winner < 0 && !err; i++) {
		at[i] = (struct attempt){.race = &r, .ai = order[i]};
		err = corio_spawn(&t[i], attempt_main, &at[i]);
		if (err)
			break;
		started++;
		r.running++;
		err = wait_change(&r, i + 1 < n ? ATTEMPT_DELAY_NS : 0);
	}
	while (!err && r.winner < 0 && r.running)
		err = wait_change(&r, 0);
	/* losers (and everyone, if we were interrupted) stop; reap them all */
	corio_scope sh;
	corio_shield_push(&sh);
	for (size_t i = 0; i < started; i++)
		corio_cancel(t[i]);
	for (size_t i = 0; i < started; i++)
		corio_join(t[i], NULL);
	corio_shield_pop(&sh);
	if (err || r.winner < 0) {
		if (r.winner >= 0)
			corio_close(r.winner);
		return err ? err : (r.err ? r.err : -ECONNREFUSED);
	}
	int one = 1;
	setsockopt(r.winner, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* as asyncio */
	return r.winner;
}

int corio_tcp_connect(const char *host, const char *port)
{
	if (!host || !port)
		return -EINVAL;
	struct addrinfo hints;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	struct addrinfo *res;
	int err = corio_getaddrinfo(host, port, &hints, &res);
	if (err)
		return err;
	const struct addrinfo *order[MAX_ATTEMPTS];
	size_t n = interleave(res, order);
	err = race(order, n);
	corio_freeaddrinfo(res);
	return err;
}
