/* SPDX-License-Identifier: MIT */
/*
 * fuzz_stream.c - libFuzzer target for the buffered stream's reading
 * (net/stream.c) over a real AF_UNIX socket pair.  A writer task sends
 * the payload in chunks whose sizes come from the input, while a reader
 * task runs read_until / read_exactly / read calls the input picks, each
 * checked against a model of the byte stream: every call returns exactly
 * the next bytes written (no loss, no duplication, no reordering), or the
 * documented error (-EMSGSIZE past the line limit with nothing consumed,
 * -EPIPE at the end with the rest still buffered).
 *
 * Input: flags, delimiter length, delimiter, limit, chunk sizes, calls,
 * payload:
 *   [0]     flags: 1 plain receive (no multishot), 2 the writer shuts its
 *           side down at the end (a fresh pair, end-of-stream checks),
 *           4 the writer writes through a stream (else raw sends),
 *           8 no yield between chunks, 16 the epoll loop
 *   [1]     delimiter length 1..4 (low 2 bits + 1), then its bytes
 *           (a NUL becomes '\n': the delimiter is a C string)
 *   [.]     line limit (0: the default, 64 KiB)
 *   [.]     n, then n chunk sizes (0: the rest), used in a cycle
 *   [.]     m, then m calls, used in a cycle: low 2 bits 0/1 read_until,
 *           2 read_exactly, 3 read, of 1 + (byte >> 2) bytes
 *   rest    the payload
 *
 * The loops (io_uring and epoll) and a socket pair are made once per
 * process; each input gets streams over dup()s of the pair, and leaves
 * the pair empty (checked), so nothing carries over to the next input.
 */
#include "fuzz_common.h"
#include "corio.h"

#include <stdbool.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

enum { F_PLAIN = 1, F_EOF = 2, F_WSTREAM = 4, F_NOYIELD = 8, F_EPOLL = 16 };
enum { OP_UNTIL, OP_UNTIL2, OP_EXACTLY, OP_READ };

struct input {
	unsigned flags;
	char delim[5];
	size_t dlen, limit;
	const uint8_t *chunks, *ops, *payload;
	size_t nchunks, nops, total;
};

struct run {
	const struct input *in;
	int rfd, wfd; /* the reader's and the writer's ends (owned by the run) */
};

static corio_loop *loops[2]; /* io_uring (or NULL), epoll */
static int pair[2] = {-1, -1};

static bool parse_input(const uint8_t *d, size_t n, struct input *in)
{
	size_t p = 0;
	memset(in, 0, sizeof(*in));
	if (n < 2)
		return false;
	in->flags = d[p++];
	in->dlen = 1 + (d[p++] & 3);
	if (n - p < in->dlen + 3)
		return false;
	for (size_t i = 0; i < in->dlen; i++, p++)
		in->delim[i] = d[p] ? (char)d[p] : '\n';
	in->limit = d[p++];
	in->nchunks = d[p++];
	if (n - p < in->nchunks + 1)
		return false;
	in->chunks = d + p;
	p += in->nchunks;
	in->nops = d[p++];
	if (n - p < in->nops)
		return false;
	in->ops = d + p;
	p += in->nops;
	in->payload = d + p;
	in->total = n - p;
	return true;
}

static corio_stream *stream_on(int fd, const struct input *in)
{
	corio_stream_options o = {.limit = in->limit, .plain = !!(in->flags & F_PLAIN)};
	corio_stream *s;
	int rc = corio_stream_new(&s, fd, &o);
	CHECK(rc == 0);
	return s;
}

static void *writer(void *arg)
{
	struct run *r = arg;
	const struct input *in = r->in;
	corio_stream *ws = in->flags & F_WSTREAM ? stream_on(r->wfd, in) : NULL;
	size_t off = 0;
	for (size_t i = 0; off < in->total; i++) {
		size_t k = in->nchunks ? in->chunks[i % in->nchunks] : 0;
		if (!k || k > in->total - off)
			k = in->total - off;
		ssize_t w = ws ? corio_stream_write(ws, in->payload + off, k)
			       : corio_send_all(r->wfd, in->payload + off, k, 0);
		CHECK(w == (ssize_t)k);
		off += k;
		if (!(in->flags & F_NOYIELD))
			corio_yield();
	}
	if (in->flags & F_EOF)
		CHECK((ws ? corio_stream_shutdown(ws) : corio_shutdown(r->wfd, SHUT_WR)) == 0);
	if (ws)
		CHECK(corio_stream_close(ws) == 0);
	else
		CHECK(corio_close(r->wfd) == 0);
	return NULL;
}

/* Where the first delimiter at or after @pos ends, or 0 if none. */
static size_t delim_end(const struct input *in, size_t pos)
{
	const uint8_t *hit = memmem(in->payload + pos, in->total - pos, in->delim, in->dlen);
	return hit ? (size_t)(hit - in->payload) + in->dlen : 0;
}

static void same(const struct input *in, size_t pos, const void *got, size_t n)
{
	CHECK(pos + n <= in->total && !memcmp(in->payload + pos, got, n));
}

/* One read_until: the new position; *@stuck if it made no progress
 * (-EMSGSIZE, or skipped because it would wait forever). */
static size_t until(corio_stream *s, const struct input *in, size_t pos, bool eof, bool *stuck)
{
	size_t limit = in->limit ? in->limit : 64 * 1024, end = delim_end(in, pos);
	size_t left = in->total - pos;
	if (!(end && end - pos <= limit) && left < limit && !eof) {
		*stuck = true; /* it would wait for bytes that never come */
		return pos;
	}
	const char *line;
	ssize_t got = corio_stream_read_until(s, in->delim, &line);
	if (end && end - pos <= limit) {
		CHECK(got == (ssize_t)(end - pos));
	} else if (left >= limit) {
		CHECK(got == -EMSGSIZE);
		CHECK(corio_stream_buffered(s) >= limit);
		*stuck = true;
		return pos;
	} else {
		CHECK(got == (ssize_t)left); /* the last piece, or 0 */
	}
	same(in, pos, line, (size_t)got);
	return pos + (size_t)got;
}

static size_t exactly(corio_stream *s, const struct input *in, size_t pos, size_t n, bool eof,
		      char *buf, bool *stuck)
{
	size_t left = in->total - pos;
	if (n > left && !eof)
		n = left; /* it would wait for bytes that never come */
	ssize_t got = corio_stream_read_exactly(s, buf, n);
	if (n > left) {
		CHECK(got == -EPIPE);
		CHECK(corio_stream_buffered(s) == left); /* nothing consumed */
		*stuck = true;
		return pos;
	}
	CHECK(got == (ssize_t)n);
	same(in, pos, buf, n);
	return pos + n;
}

static size_t readsome(corio_stream *s, const struct input *in, size_t pos, size_t n, bool eof,
		       char *buf)
{
	size_t left = in->total - pos;
	if (!left && !eof)
		return pos;
	ssize_t got = corio_stream_read(s, buf, n);
	CHECK(got >= (left ? 1 : 0) && (size_t)got <= (n < left ? n : left));
	same(in, pos, buf, (size_t)got);
	return pos + (size_t)got;
}

static void *reader(void *arg)
{
	struct run *r = arg;
	const struct input *in = r->in;
	bool eof = in->flags & F_EOF;
	corio_task *w;
	CHECK(corio_spawn(&w, writer, r) == 0);
	corio_stream *s = stream_on(r->rfd, in);
	char buf[64];
	size_t pos = 0;
	bool stuck = false;
	for (size_t i = 0; pos < in->total; i++) {
		unsigned op = in->nops ? in->ops[i % in->nops] : 0;
		size_t n = 1 + (op >> 2);
		if (stuck) /* after -EMSGSIZE or -EPIPE: take some bytes */
			op = OP_READ;
		stuck = false;
		switch (op & 3) {
		case OP_UNTIL:
		case OP_UNTIL2: pos = until(s, in, pos, eof, &stuck); break;
		case OP_EXACTLY: pos = exactly(s, in, pos, n, eof, buf, &stuck); break;
		default: pos = readsome(s, in, pos, n, eof, buf); break;
		}
	}
	CHECK(corio_join(w, NULL) == 0);
	if (eof) {
		const char *line;
		CHECK(corio_stream_read_until(s, in->delim, &line) == 0);
		CHECK(corio_stream_read(s, buf, sizeof(buf)) == 0);
		CHECK(corio_stream_read_exactly(s, buf, 1) == -EPIPE);
	} else {
		/* the writer is done and everything was read: nothing extra
		 * in the stream or the socket (no duplicated bytes) */
		int q = -1;
		CHECK(corio_stream_buffered(s) == 0);
		CHECK(ioctl(corio_stream_fd(s), FIONREAD, &q) == 0 && q == 0);
	}
	CHECK(corio_stream_close(s) == 0);
	return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	corio_loop_options u = {.backend = CORIO_BACKEND_URING};
	corio_loop_options e = {.backend = CORIO_BACKEND_EPOLL};
	if (corio_loop_new(&loops[0], &u))
		loops[0] = NULL; /* io_uring unavailable: epoll for all */
	CHECK(corio_loop_new(&loops[1], &e) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;
	if (!parse_input(data, size, &in))
		return 0;
	struct run r = {.in = &in};
	if (in.flags & F_EOF) {
		int sv[2];
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
		r.rfd = sv[0];
		r.wfd = sv[1];
	} else {
		r.rfd = fcntl(pair[0], F_DUPFD_CLOEXEC, 0);
		r.wfd = fcntl(pair[1], F_DUPFD_CLOEXEC, 0);
		CHECK(r.rfd >= 0 && r.wfd >= 0);
	}
	corio_loop *l = loops[(in.flags & F_EPOLL) || !loops[0]];
	corio_task *t;
	CHECK(corio_spawn_ex(l, &t, reader, &r, NULL) == 0);
	CHECK(corio_loop_run(l) == 0);
	CHECK(corio_join(t, NULL) == 0);
	return 0;
}
