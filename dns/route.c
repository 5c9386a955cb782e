/* SPDX-License-Identifier: MIT */
/*
 * route.c - the source address the kernel would use for each destination,
 * for the RFC 6724 sort (sort.c).  glibc and c-ares ask with a UDP socket
 * per address: socket, connect, getsockname, close.  Here every address of
 * an answer goes into one netlink message (RTM_GETROUTE, what
 * "ip route get" does) and the replies come back in one recvmmsg: two
 * system calls per answer however many addresses it has.  An address the
 * kernel has no route to is unusable (RFC 6724 rule 1).  Where netlink is
 * not available (a seccomp sandbox, say) the caller probes with a socket.
 */
#include "dns_int.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define REPLY_LEN 1024 /* a route reply is a few hundred bytes */

struct route_req {
	struct nlmsghdr nh;
	struct rtmsg rt;
	unsigned char attrs[RTA_SPACE(16) + RTA_SPACE(4)];
};

static size_t put_attr(unsigned char *at, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)(void *)at;
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	return RTA_SPACE(len);
}

static void build(struct route_req *r, const struct corio__dns_addr *a, uint32_t seq)
{
	size_t alen = a->family == AF_INET ? 4 : 16;
	memset(r, 0, sizeof(*r));
	r->rt.rtm_family = (unsigned char)a->family;
	r->rt.rtm_dst_len = (unsigned char)(alen * 8);
	size_t at = put_attr(r->attrs, RTA_DST, &a->a, alen);
	if (a->family == AF_INET6 && a->scope) /* a link-local zone */
		at += put_attr(r->attrs + at, RTA_OIF, &a->scope, 4);
	r->nh.nlmsg_len = (uint32_t)(NLMSG_LENGTH(sizeof(struct rtmsg)) + at);
	r->nh.nlmsg_type = RTM_GETROUTE;
	r->nh.nlmsg_flags = NLM_F_REQUEST;
	r->nh.nlmsg_seq = seq;
}

/* One reply: fill @out[seq - base] from RTA_PREFSRC, or mark it unusable. */
static void parse(const struct nlmsghdr *h, uint32_t base, size_t n,
		  struct corio__dns_route *out)
{
	size_t i = h->nlmsg_seq - base;
	if (h->nlmsg_seq < base || i >= n)
		return; /* a stray reply from an earlier batch */
	if (h->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(h);
		out[i].known = e->error != 0; /* 0 would be an ack: ask again */
		out[i].usable = false;
		return;
	}
	if (h->nlmsg_type != RTM_NEWROUTE)
		return;
	const struct rtmsg *rt = NLMSG_DATA(h);
	int left = (int)RTM_PAYLOAD(h);
	size_t alen = rt->rtm_family == AF_INET ? 4 : 16;
	for (const struct rtattr *a = RTM_RTA(rt); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
		if (a->rta_type != RTA_PREFSRC || RTA_PAYLOAD(a) != alen)
			continue;
		out[i].src.family = rt->rtm_family;
		memcpy(&out[i].src.a, RTA_DATA(a), alen);
		out[i].known = out[i].usable = true;
	}
}

static int ask(struct corio__dns *d, const struct corio__dns_addr *dst, size_t n,
	       struct corio__dns_route *out)
{
	struct route_req req[CORIO__DNS_ROUTE_BATCH];
	struct iovec iov[CORIO__DNS_ROUTE_BATCH];
	uint32_t base = d->nl_seq;
	d->nl_seq += (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		build(&req[i], &dst[i], base + (uint32_t)i);
		iov[i] = (struct iovec){&req[i], req[i].nh.nlmsg_len};
	}
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct msghdr mh = {.msg_name = &kernel, .msg_namelen = sizeof(kernel),
			    .msg_iov = iov, .msg_iovlen = n};
	if (sendmsg(d->nl, &mh, 0) < 0)
		return -errno;
	/* the kernel answers inside sendmsg(): the replies are queued */
	struct mmsghdr mm[CORIO__DNS_ROUTE_BATCH];
	memset(mm, 0, sizeof(mm));
	for (size_t i = 0; i < n; i++) {
		iov[i] = (struct iovec){d->nl_buf + i * REPLY_LEN, REPLY_LEN};
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	int got = recvmmsg(d->nl, mm, (unsigned)n, MSG_DONTWAIT, NULL);
	for (int i = 0; i < got; i++) {
		const struct nlmsghdr *h = (const void *)(d->nl_buf + (size_t)i * REPLY_LEN);
		unsigned len = mm[i].msg_len;
		for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
			parse(h, base, n, out);
	}
	return 0;
}

int corio__dns_routes(struct corio__dns *d, const struct corio__dns_addr *dst, size_t n,
		      struct corio__dns_route *out)
{
	memset(out, 0, n * sizeof(*out));
	if (d->nl < 0)
		d->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (d->nl < 0)
		return -errno;
	if (!d->nl_buf && !(d->nl_buf = malloc(CORIO__DNS_ROUTE_BATCH * REPLY_LEN)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i += CORIO__DNS_ROUTE_BATCH) {
		size_t k = n - i < CORIO__DNS_ROUTE_BATCH ? n - i : CORIO__DNS_ROUTE_BATCH;
		int err = ask(d, dst + i, k, out + i);
		if (err)
			return err;
	}
	/* connect() refuses a link-local address without its zone; so does
	 * any use of it, whatever route netlink finds */
	for (size_t i = 0; i < n; i++)
		if (dst[i].family == AF_INET6 && !dst[i].scope &&
		    IN6_IS_ADDR_LINKLOCAL(&dst[i].a.v6))
			out[i] = (struct corio__dns_route){.known = true, .usable = false};
	return 0;
}
