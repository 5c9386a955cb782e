/* SPDX-License-Identifier: MIT */
/*
 * faults.c - fault injection (DESIGN.md section 13; the user's rules are
 * in corio/runtime.h at enum corio_fault_kind).  Each loop with faults on
 * keeps a seeded generator; an op on its way to the backend draws once
 * and may have its length cut (a real short count: the kernel sees the
 * smaller request) or be marked to complete with an error instead of
 * running (the backend submits a stand-in NOP, corio__op_res() turns its
 * 0 into the error), so no fault ever loses or repeats a byte, an fd or
 * a buffer.  The io_uring backend also asks, per submission, whether to
 * act as if its SQ were full.
 */
#include "corio_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define BIT(k) (1u << (k))
#define ALL_KINDS (BIT(CORIO_FAULT_KINDS) - 1u)

static const char *const kind_names[CORIO_FAULT_KINDS] = {
	[CORIO_FAULT_SHORT] = "short",   [CORIO_FAULT_EINTR] = "eintr",
	[CORIO_FAULT_EAGAIN] = "eagain", [CORIO_FAULT_RESET] = "reset",
	[CORIO_FAULT_PIPE] = "pipe",     [CORIO_FAULT_NOBUFS] = "nobufs",
	[CORIO_FAULT_NOMEM] = "nomem",   [CORIO_FAULT_SQFULL] = "sqfull",
};

const char *corio__fault_name(unsigned kind)
{
	return kind < CORIO_FAULT_KINDS ? kind_names[kind] : NULL;
}

/* ---- the spec --------------------------------------------------------- */

/* One name of the kinds list, @len bytes at @p: its bit, 0 if unknown. */
static unsigned kind_bit(const char *p, size_t len)
{
	if (len == 3 && !memcmp(p, "all", 3))
		return ALL_KINDS;
	for (unsigned k = 0; k < CORIO_FAULT_KINDS; k++)
		if (strlen(kind_names[k]) == len && !memcmp(p, kind_names[k], len))
			return BIT(k);
	return 0;
}

static int parse_kinds(const char *p, unsigned *out)
{
	unsigned m = 0;
	for (;;) {
		size_t len = strcspn(p, ",");
		unsigned b = kind_bit(p, len);
		if (!b)
			return -EINVAL; /* unknown or empty name */
		m |= b;
		if (!p[len])
			break;
		p += len + 1;
	}
	*out = m;
	return 0;
}

int corio__faults_parse(const char *spec, struct corio__faults *f)
{
	char *end;
	if (!spec || !(*spec >= '0' && *spec <= '9'))
		return -EINVAL; /* strtoull would take a sign or blanks */
	errno = 0;
	unsigned long long seed = strtoull(spec, &end, 0);
	if (errno || *end != ':')
		return -EINVAL;
	const char *r = end + 1;
	if (!((*r >= '0' && *r <= '9') || *r == '.'))
		return -EINVAL;
	double rate = strtod(r, &end);
	if (end == r || !isfinite(rate) || rate < 0 || rate > 1 || (*end && *end != ':'))
		return -EINVAL;
	unsigned kinds = ALL_KINDS;
	if (*end == ':' && parse_kinds(end + 1, &kinds))
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	f->on = rate > 0;
	f->always = rate >= 1;
	/* below 1, rate * 2^64 stays below 2^64 */
	f->threshold = f->always ? 0 : (uint64_t)(rate * 18446744073709551616.0);
	f->state = seed;
	f->kinds = kinds;
	return 0;
}

int corio__faults_init(corio_loop *l, const corio_loop_options *o)
{
	const char *spec = o->faults;
	bool env = !spec;
	if (env)
		spec = getenv("CORIO_FAULTS");
	if (!spec || !*spec)
		return 0;
	int err = corio__faults_parse(spec, &l->faults);
	/* the loops of corio_run_threads() each their own sequence; loop 0
	 * (and a lone loop) the seed's own */
	l->faults.state += 0x632be59bd9b4e019ull * corio_loop_index();
	if (err && env) /* opt-in, like debug mode: say why the loop fails */
		fprintf(stderr,
			"corio: CORIO_FAULTS=\"%s\" is not seed:rate[:kinds] (rate 0..1; kinds a "
			"comma list of short,eintr,eagain,reset,pipe,nobufs,nomem,sqfull,all)\n",
			spec);
	return err;
}

/* ---- the generator ---------------------------------------------------- */

/* splitmix64: one 64-bit state, every value once per period; enough for
 * choosing faults, and trivially replayed from the seed. */
static uint64_t next(struct corio__faults *f)
{
	uint64_t z = (f->state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static bool hit(struct corio__faults *f)
{
	uint64_t v = next(f);
	return f->always || v < f->threshold;
}

/* ---- which faults an op could really meet ------------------------------ */

/* What @fd is, as far as faults care (system calls made only once a draw
 * has hit, and not counted in the loop's stats). */
enum fd_class { FC_OTHER, FC_FILE, FC_PIPE, FC_STREAM, FC_DGRAM };

static enum fd_class fd_class(int fd)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st))
		return FC_OTHER;
	if (S_ISREG(st.st_mode)) {
		int fl = fcntl(fd, F_GETFL);
		return fl >= 0 && !(fl & O_DIRECT) ? FC_FILE : FC_OTHER;
	}
	if (S_ISFIFO(st.st_mode))
		return FC_PIPE;
	if (!S_ISSOCK(st.st_mode))
		return FC_OTHER;
	int type = 0;
	socklen_t len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len))
		return FC_OTHER;
	/* a seqpacket record cut short would lose its tail: a datagram here */
	return type == SOCK_STREAM ? FC_STREAM : FC_DGRAM;
}

/* recv, send and their msg forms (on a socket by definition). */
static unsigned net_kinds(const struct corio__op *op, enum fd_class c)
{
	bool out = op->code == CORIO__OP_SEND || op->code == CORIO__OP_SENDMSG;
	int fl = op->u.net.flags;
	unsigned m = BIT(CORIO_FAULT_EINTR) | BIT(CORIO_FAULT_NOMEM);
	if (fl & MSG_DONTWAIT)
		m |= BIT(CORIO_FAULT_EAGAIN);
	if (out)
		m |= BIT(CORIO_FAULT_NOBUFS);
	if (c == FC_STREAM) {
		m |= BIT(CORIO_FAULT_RESET);
		if (out)
			m |= BIT(CORIO_FAULT_PIPE);
		/* a recv with MSG_WAITALL is short only at EOF: the caller
		 * would take a cut one for the end of the stream */
		bool plain = op->code == CORIO__OP_SEND ||
			     (op->code == CORIO__OP_RECV && !(fl & MSG_WAITALL));
		if (plain && op->len > 1)
			m |= BIT(CORIO_FAULT_SHORT);
	}
	return m;
}

/* read, write, readv, writev on any fd. */
static unsigned rw_kinds(const struct corio__op *op, enum fd_class c)
{
	bool out = op->code == CORIO__OP_WRITE || op->code == CORIO__OP_WRITEV;
	bool vec = op->code == CORIO__OP_READV || op->code == CORIO__OP_WRITEV;
	unsigned m = BIT(CORIO_FAULT_NOMEM);
	if (vec && (op->u.vec.rwflags & RWF_NOWAIT))
		m |= BIT(CORIO_FAULT_EAGAIN);
	if (c == FC_PIPE || c == FC_STREAM || c == FC_DGRAM)
		m |= BIT(CORIO_FAULT_EINTR);
	if (c == FC_STREAM)
		m |= BIT(CORIO_FAULT_RESET);
	if (out && (c == FC_STREAM || c == FC_PIPE))
		m |= BIT(CORIO_FAULT_PIPE);
	if ((c == FC_FILE || c == FC_PIPE || c == FC_STREAM) &&
	    (vec ? op->u.vec.nr > 1 : op->len > 1))
		m |= BIT(CORIO_FAULT_SHORT);
	return m;
}

/* The kinds @op could meet (before the spec's choice). */
static unsigned op_kinds(const struct corio__op *op, bool long_lived)
{
	switch (op->code) {
	case CORIO__OP_ACCEPT:
		return BIT(CORIO_FAULT_EINTR) | BIT(CORIO_FAULT_RESET) | BIT(CORIO_FAULT_NOMEM);
	case CORIO__OP_ACCEPT_MULTI:
		return BIT(CORIO_FAULT_NOMEM);
	case CORIO__OP_RECV_MULTI:
		return BIT(CORIO_FAULT_NOBUFS) | BIT(CORIO_FAULT_NOMEM) |
		       (fd_class(op->fd) == FC_STREAM ? BIT(CORIO_FAULT_RESET) : 0);
	case CORIO__OP_RECV:
	case CORIO__OP_SEND:
	case CORIO__OP_RECVMSG:
	case CORIO__OP_SENDMSG:
		return net_kinds(op, fd_class(op->fd));
	case CORIO__OP_READ:
	case CORIO__OP_WRITE:
	case CORIO__OP_READV:
	case CORIO__OP_WRITEV:
		return rw_kinds(op, fd_class(op->fd));
	case CORIO__OP_SPLICE:
		return BIT(CORIO_FAULT_EINTR) | BIT(CORIO_FAULT_NOMEM) |
		       (op->len > 1 ? BIT(CORIO_FAULT_SHORT) : 0);
	case CORIO__OP_POLL: /* a module's polls are the resolver's own */
		return long_lived ? 0 : BIT(CORIO_FAULT_EINTR) | BIT(CORIO_FAULT_NOMEM);
	case CORIO__OP_OPENAT:
	case CORIO__OP_STATX:
	case CORIO__OP_UNLINKAT:
	case CORIO__OP_RENAMEAT:
	case CORIO__OP_MKDIRAT:
		return BIT(CORIO_FAULT_NOMEM);
	default: /* NOP, CLOSE, CONNECT, SHUTDOWN, FSYNC, FALLOCATE, WAITID */
		return 0;
	}
}

/* Could @op meet any fault at all, whatever its fd?  Decides whether it
 * draws, without a system call. */
static bool may_fault(const struct corio__op *op, bool long_lived, unsigned kinds)
{
	switch (op->code) {
	case CORIO__OP_NOP:
	case CORIO__OP_CLOSE:
	case CORIO__OP_CONNECT:
	case CORIO__OP_SHUTDOWN:
	case CORIO__OP_FSYNC:
	case CORIO__OP_FALLOCATE:
	case CORIO__OP_WAITID:
		return false;
	case CORIO__OP_POLL:
		return !long_lived && (kinds & ~BIT(CORIO_FAULT_SQFULL));
	default:
		return (kinds & ~BIT(CORIO_FAULT_SQFULL)) != 0;
	}
}

/* ---- applying one ----------------------------------------------------- */

static int kind_errno(const struct corio__op *op, unsigned k)
{
	switch (k) {
	case CORIO_FAULT_EINTR:
		return EINTR;
	case CORIO_FAULT_EAGAIN:
		return EAGAIN;
	case CORIO_FAULT_RESET:
		return op->code == CORIO__OP_ACCEPT ? ECONNABORTED : ECONNRESET;
	case CORIO_FAULT_PIPE:
		return EPIPE;
	case CORIO_FAULT_NOBUFS:
		return ENOBUFS;
	default:
		return ENOMEM;
	}
}

/* Cut @op's request: a length from 1 to len - 1 (1 itself a quarter of
 * the time), or fewer iovecs. */
static void cut(struct corio__faults *f, struct corio__op *op)
{
	uint64_t v = next(f);
	if (op->code == CORIO__OP_READV || op->code == CORIO__OP_WRITEV) {
		op->u.vec.nr = 1 + (uint32_t)(v % (op->u.vec.nr - 1));
		return;
	}
	op->len = (v & 3) == 0 ? 1 : 1 + (uint32_t)((v >> 2) % (op->len - 1));
}

void corio__fault_submit(corio_loop *l, struct corio__op *op, bool long_lived)
{
	struct corio__faults *f = &l->faults;
	f->sq_next = true;
	if (!may_fault(op, long_lived, f->kinds) || !hit(f))
		return;
	unsigned m = op_kinds(op, long_lived) & f->kinds & ~BIT(CORIO_FAULT_SQFULL);
	if (!m)
		return;
	/* one of the kinds left, each as likely */
	unsigned n = (unsigned)__builtin_popcount(m), pick = (unsigned)(next(f) % n), k = 0;
	for (;; k++)
		if ((m & BIT(k)) && !pick--)
			break;
	if (k == CORIO_FAULT_SHORT)
		cut(f, op);
	else
		op->fault = (uint16_t)kind_errno(op, k);
	l->st.faults++;
	l->st.faults_by_kind[k]++;
}

bool corio__fault_sq_full(corio_loop *l, bool *busy)
{
	struct corio__faults *f = &l->faults;
	bool mine = f->sq_next;
	f->sq_next = false;
	if (!mine || !(f->kinds & BIT(CORIO_FAULT_SQFULL)) || !hit(f))
		return false;
	*busy = next(f) & 1;
	l->st.faults++;
	l->st.faults_by_kind[CORIO_FAULT_SQFULL]++;
	return true;
}
