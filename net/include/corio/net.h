/* SPDX-License-Identifier: MIT */
/*
 * corio/net.h - sockets, buffered streams and servers.
 * Socket calls are kernel ops driven by the loop: the calling task suspends
 * and the socket itself stays in blocking mode (on io_uring the ring does
 * the waiting; on epoll corio reads and writes with MSG_DONTWAIT, and only
 * a listener is made non-blocking while corio accepts on it, until
 * corio_close()).  Close every socket corio has waited on with
 * corio_close() (corio/io.h), the one close path.  Streams add a read buffer and a write buffer to a socket;
 * corio_serve() runs a task per connection.  Conventions are those of
 * corio/runtime.h: >= 0 or a negative errno, outputs written on success.
 *
 * Where the kernel has them (io_uring, Linux 5.19 / 6.0), listeners use
 * multishot accept and streams use multishot receive into a ring of
 * provided buffers shared by the whole loop; elsewhere both take a plain
 * path with the same behaviour.  CORIO_NET_PLAIN=1 in the environment
 * (read when a loop first uses the network) forces the plain paths.
 */
#ifndef CORIO_NET_H
#define CORIO_NET_H

#include <corio/runtime.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Sockets                                                             */

/** corio_tcp_listen() flags. */
enum corio_listen_flags {
	CORIO_LISTEN_REUSEPORT = 1u << 0, /**< set SO_REUSEPORT (a listener per loop) */
	CORIO_LISTEN_V6ONLY = 1u << 1,    /**< an IPv6 listener takes no IPv4 */
};

/**
 * corio_tcp_listen() - a listening TCP socket.
 * @host:    numeric address ("127.0.0.1", "::1"), "localhost" (127.0.0.1),
 *           or NULL for every address: a dual-stack "::" socket with
 *           IPV6_V6ONLY off (plain 0.0.0.0 where IPv6 is unavailable).
 * @port:    numeric port; "0" picks a free one (see corio_sock_port()).
 * @backlog: listen(2) backlog; <= 0 means SOMAXCONN.
 * @flags:   enum corio_listen_flags.  SO_REUSEADDR is always set.
 * The socket is blocking and close-on-exec.  Does not suspend.
 * Return: the socket, -EINVAL (bad host or port: names are not resolved
 * here), or the socket(2)/bind(2)/listen(2) error (-EADDRINUSE, ...).
 */
CORIO_API int corio_tcp_listen(const char *host, const char *port, int backlog,
			       unsigned flags);

/**
 * corio_tcp_connect() - resolve @host (corio_getaddrinfo(): numeric
 * addresses, /etc/hosts, then DNS) and connect a new TCP socket to it the
 * Happy Eyeballs v2 way (RFC 8305): addresses in RFC 6724 order with the
 * address families interleaved, a new attempt started every 250 ms or as
 * soon as the running ones have failed, the first to connect wins and the
 * others are cancelled (all are reaped before the call returns).
 * TCP_NODELAY is set on the result.  Suspends.
 * Return: the connected socket; a name error (CORIO_ENOTFOUND, ...); the
 * first connect error if every address failed (-ECONNREFUSED, ...); or
 * -ECANCELED / -ETIMEDOUT if the caller was interrupted.
 */
CORIO_API int corio_tcp_connect(const char *host, const char *port);

/**
 * corio_udp_bind() - a UDP socket bound to @host:@port (NULL host: the
 * dual-stack wildcard, as corio_tcp_listen()).  Does not suspend.
 * Return: the socket or a negative errno as corio_tcp_listen().
 */
CORIO_API int corio_udp_bind(const char *host, const char *port);

/**
 * corio_unix_listen() - a listening Unix stream socket at @path (an
 * existing socket file there is an error: -EADDRINUSE).  A @path starting
 * with '@' names the abstract namespace.  Does not suspend.
 * Return: the socket, -ENAMETOOLONG, or the bind(2)/listen(2) error.
 */
CORIO_API int corio_unix_listen(const char *path, int backlog);

/** corio_unix_connect() - a Unix stream socket connected to @path ('@':
 *  abstract).  Suspends.  Return: the socket or a negative errno
 *  (-ENOENT, -ECONNREFUSED, -ENAMETOOLONG, ...). */
CORIO_API int corio_unix_connect(const char *path);

/** corio_sock_port() - the local port @fd is bound to (host order), for
 *  sockets bound with port "0".  Return: the port, or -EBADF, -ENOTSOCK,
 *  -EAFNOSUPPORT (not an IP socket). */
CORIO_API int corio_sock_port(int fd);

/**
 * corio_accept() - wait for a connection on the listening socket @lfd.
 * @addr/@len: if @addr is non-NULL, receive the peer's address (@len is its
 * capacity on input and the address length on output), as accept(2).
 * On io_uring kernels with multishot accept, one long-lived accept per
 * listener keeps accepting into a short queue that this call serves; the
 * queue stops the kernel (the backlog holds connections) once a few dozen
 * are waiting unclaimed.  A listener, like every fd corio waits on, must
 * be closed with corio_close() (io.h), which also closes the connections
 * still queued: the listener's record is found by fd number, with no
 * system call, so a number closed with plain close(2) and reused would
 * still find the old record.
 * The new socket is blocking and close-on-exec.  Suspends.
 * Return: the new socket; -ECANCELED, -ETIMEDOUT; -EMFILE/-ENFILE (out of
 * descriptors: the connection stays in the backlog, try again later); or
 * another accept(2) error (-EBADF, -EINVAL when @lfd does not listen).
 */
CORIO_API int corio_accept(int lfd, struct sockaddr *addr, socklen_t *len);

/** corio_connect() - connect @fd to @sa.  Suspends.  Return: 0,
 *  -ECONNREFUSED, -ETIMEDOUT (a timeout scope ran out, or the kernel gave
 *  up), -ECANCELED, or another connect(2) error. */
CORIO_API int corio_connect(int fd, const struct sockaddr *sa, socklen_t len);

/**
 * corio_recv() - receive up to @n bytes into @buf, as recv(2) on a blocking
 * socket.  @buf must stay valid until the call returns (it returns only
 * once the kernel has let go of it, even when cancelled).  Suspends.
 * MSG_WAITALL gathers @n bytes on a byte stream (a cancel or timeout
 * returns what came so far, if anything); MSG_PEEK with MSG_WAITALL is
 * refused, since io_uring's retry would peek the same bytes twice.
 * Return: bytes received (0: orderly shutdown by the peer), -ECANCELED,
 * -ETIMEDOUT, -EINVAL (@n over INT_MAX, MSG_PEEK|MSG_WAITALL), or the
 * recv(2) error (-ECONNRESET, ...).
 */
CORIO_API ssize_t corio_recv(int fd, void *buf, size_t n, int flags);

/** corio_send() - send up to @n bytes from @buf; MSG_NOSIGNAL is always
 *  added (-EPIPE instead of SIGPIPE).  May be short, as send(2).  Suspends.
 *  Return: bytes sent or a negative errno as corio_recv(). */
CORIO_API ssize_t corio_send(int fd, const void *buf, size_t n, int flags);

/**
 * corio_send_all() - send all @n bytes, looping over short sends.
 * Suspends.  Return: @n, or a negative errno; on error (including
 * cancellation) an unknown prefix of @buf may have been sent.
 */
CORIO_API ssize_t corio_send_all(int fd, const void *buf, size_t n, int flags);

/** corio_recv_all() - receive exactly @n bytes unless the peer shuts
 *  down first.  Suspends.  Return: @n, the smaller count received before
 *  end of stream, -EINVAL for MSG_PEEK (use corio_recv), or a negative
 *  errno (bytes received before an error are in @buf but not counted). */
CORIO_API ssize_t corio_recv_all(int fd, void *buf, size_t n, int flags);

/** corio_recvfrom() - recvfrom(2): a datagram (or stream bytes) and the
 *  sender's address in @addr/@len (either may be NULL).  Suspends.
 *  Return: bytes received or a negative errno. */
CORIO_API ssize_t corio_recvfrom(int fd, void *buf, size_t n, int flags,
				 struct sockaddr *addr, socklen_t *len);

/** corio_sendto() - sendto(2) with MSG_NOSIGNAL.  Suspends.  Return:
 *  bytes sent or a negative errno (-EMSGSIZE for an oversized datagram). */
CORIO_API ssize_t corio_sendto(int fd, const void *buf, size_t n, int flags,
			       const struct sockaddr *addr, socklen_t len);

/** corio_recvmsg() - recvmsg(2).  @msg and everything it points to must
 *  stay valid until the call returns.  Suspends.  Return: bytes received
 *  or a negative errno; @msg's output fields are set as recvmsg(2) does. */
CORIO_API ssize_t corio_recvmsg(int fd, struct msghdr *msg, int flags);

/** corio_sendmsg() - sendmsg(2) with MSG_NOSIGNAL.  Suspends.  Return:
 *  bytes sent (may be short on stream sockets) or a negative errno. */
CORIO_API ssize_t corio_sendmsg(int fd, const struct msghdr *msg, int flags);

/** corio_shutdown() - shutdown(2): SHUT_RD, SHUT_WR or SHUT_RDWR.
 *  Suspends.  Return: 0, -ENOTCONN, -EINVAL, -EBADF, -ECANCELED. */
CORIO_API int corio_shutdown(int fd, int how);

/* ------------------------------------------------------------------ */
/* Streams                                                             */

/**
 * A buffered byte stream over a connected socket or a pipe (asyncio's
 * reader and writer in one).  One task reads and one task writes at a time: a read
 * call (read, read_exactly, read_until, readline) holds the reading side
 * from entry to return, whatever it is doing (waiting for data, woken and
 * not yet run, copying), and a second read call meanwhile fails at once
 * with -EBUSY, consuming nothing; likewise write and writev for the
 * writing side, so one task's bytes never interleave with another's.
 * flush, shutdown and close may be called by any task.
 */
typedef struct corio_stream corio_stream;

/** Stream options.  Zero-initialise: {0} means the defaults. */
typedef struct corio_stream_options {
	/** corio_stream_read_until(): the longest line accepted, delimiter
	 *  included (0: 64 KiB).  Longer lines give -EMSGSIZE. */
	size_t limit;
	/** corio_stream_write() blocks while more than this is buffered and
	 *  not yet taken by the kernel (0: 64 KiB). */
	size_t high_water;
	/** ...and resumes when it drops to this (0: high_water / 4). */
	size_t low_water;
	/** Each read call must finish within this (0: no limit): a client
	 *  that trickles a line byte by byte (slowloris) gets -ETIMEDOUT. */
	uint64_t read_timeout_ns;
	/** Any wait on the stream (read, write, flush) that sees no progress
	 *  for this long fails with -ETIMEDOUT (0: no limit). */
	uint64_t idle_timeout_ns;
	/** Never use provided-buffer rings and multishot receive (they are
	 *  used where the kernel has them); for tests and comparisons. */
	int plain;
} corio_stream_options;

/**
 * corio_stream_new() - wrap @fd (which the stream then owns and
 * corio_stream_close() closes) in a stream: a connected socket, or any
 * other file corio can wait on, such as a pipe to or from a child process
 * (corio_process_fd(): read its output line by line) or a tty.  Sockets
 * are read and written with recv/send, other files with read/write; on
 * those the stream always takes the plain path (one read op at a time into
 * its own buffer: io_uring's multishot receive takes sockets only), and
 * corio_stream_shutdown() gives -ENOTSOCK.  Writing to a pipe whose reader
 * has gone raises SIGPIPE, as write(2) does, unless it is ignored.  No
 * buffer is allocated until data flows: an idle stream costs a few hundred
 * bytes; with provided buffers a socket stream waiting for data pins no
 * receive buffer.
 * Return: 0, -EINVAL (@fd < 0, low_water > high_water), -EBADF, -ENOMEM,
 * -EPERM outside a loop.  Does not suspend.
 */
CORIO_API int corio_stream_new(corio_stream **out, int fd, const corio_stream_options *o);

/**
 * corio_stream_read() - read what is buffered, up to @n bytes, waiting for
 * data only when nothing is buffered.  Suspends.
 * Return: bytes read (>= 1), 0 at end of stream, -ECANCELED, -ETIMEDOUT
 * (a scope, or the stream's read/idle timeout), -EBUSY (another task is
 * inside a read call on @s, waiting or not), or the connection's error (-ECONNRESET, ...) once buffered
 * data has been read.  An interrupted read loses nothing: data that
 * arrives later is kept for the next call.
 */
CORIO_API ssize_t corio_stream_read(corio_stream *s, void *buf, size_t n);

/**
 * corio_stream_read_exactly() - read exactly @n bytes.  All or nothing:
 * when it fails, no byte is consumed.  Suspends.
 * Return: @n; -EPIPE if the stream ended first: the bytes that did arrive
 * stay buffered and corio_stream_buffered() tells how many (a following
 * corio_stream_read() returns them); -ECANCELED, -ETIMEDOUT (again
 * nothing consumed); or the connection's error.
 */
CORIO_API ssize_t corio_stream_read_exactly(corio_stream *s, void *buf, size_t n);

/**
 * corio_stream_read_until() - read up to and including the delimiter
 * @delim (a non-empty C string).  *@line points into the stream's buffer
 * and stays valid until the next call on the stream; it is not
 * NUL-terminated, and it is the stream's memory: never free() it (hence
 * const).  At end of stream a last piece without delimiter is
 * returned as is (check its end).  Suspends.
 * Return: the line's length, delimiter included; 0 at end of stream;
 * -EMSGSIZE if no delimiter came within the stream's limit (the data stays
 * buffered: corio_stream_read() gets it); -EINVAL (empty @delim);
 * -ECANCELED, -ETIMEDOUT (nothing consumed); or the connection's error.
 */
CORIO_API ssize_t corio_stream_read_until(corio_stream *s, const char *delim,
					  const char **line);

/** corio_stream_readline() - corio_stream_read_until(@s, "\n", @line). */
CORIO_API ssize_t corio_stream_readline(corio_stream *s, const char **line);

/**
 * corio_stream_write() - queue @n bytes from @buf (copied: @buf is free
 * when the call returns) and start sending.  The task waits only while
 * more than the high-water mark is buffered (backpressure), so memory
 * stays bounded by about twice that.  Never short.  Suspends.
 * Return: @n; -EPIPE/-ECONNRESET (an earlier send failed: the connection
 * is broken and buffered data is dropped); -ECANCELED, -ETIMEDOUT (a
 * prefix of @buf may have been queued and will still be sent); -EBUSY
 * (another task is inside a write on @s: nothing was queued).
 */
CORIO_API ssize_t corio_stream_write(corio_stream *s, const void *buf, size_t n);

/** corio_stream_writev() - corio_stream_write() of @cnt pieces, sent
 *  together (one send op for what fits the buffer).  Return: the total. */
CORIO_API ssize_t corio_stream_writev(corio_stream *s, const struct iovec *iov, int cnt);

/** corio_stream_flush() - asyncio's drain, all the way: wait until the
 *  kernel has taken every buffered byte.  Suspends.  Return: 0, the send
 *  error, -ECANCELED, -ETIMEDOUT. */
CORIO_API int corio_stream_flush(corio_stream *s);

/** corio_stream_shutdown() - flush, then shut the sending side down
 *  (half-close: the peer reads end of stream, we keep reading).
 *  Suspends.  Return: 0 or an error as corio_stream_flush(). */
CORIO_API int corio_stream_shutdown(corio_stream *s);

/**
 * corio_stream_close() - flush, cancel what is still in flight on the
 * fd, close it with corio_close() and free the stream.  Always frees @s,
 * even when the flush fails or the task is cancelled (then unsent data is
 * dropped).  Suspends while flushing (put it under a timeout scope to
 * bound that).  Return: 0, the flush error, or else the close error.
 * NULL is ignored.
 */
CORIO_API int corio_stream_close(corio_stream *s);

/** corio_stream_fd() - the stream's socket (still owned by the stream). */
CORIO_API int corio_stream_fd(const corio_stream *s);

/** corio_stream_buffered() - bytes read from the socket, not yet taken. */
CORIO_API size_t corio_stream_buffered(const corio_stream *s);

/** corio_stream_write_buffered() - bytes written, not yet taken by the
 *  kernel. */
CORIO_API size_t corio_stream_write_buffered(const corio_stream *s);

/* ------------------------------------------------------------------ */
/* Servers                                                             */

/** A server: a listener, an accepting task, a task per connection. */
typedef struct corio_server corio_server;

/** What a connection handler gets as its argument.  Owned by the server:
 *  valid until the handler returns. */
typedef struct corio_conn {
	corio_stream *stream; /**< the connection; closed after the handler */
	int fd;               /**< its socket (owned by the stream) */
	struct sockaddr_storage peer; /**< the client's address */
	socklen_t peer_len;
	corio_server *server;
	void *arg; /**< corio_serve_options.arg */
} corio_conn;

/** Server options.  Zero-initialise: {0} means the defaults. */
typedef struct corio_serve_options {
	/** At most this many connections at once (0: no limit); at the
	 *  limit the server stops accepting until one ends. */
	unsigned max_conns;
	/** Stream options for each connection (NULL: defaults). */
	const corio_stream_options *stream;
	/** Override the stream's idle and read timeouts (0: keep them). */
	uint64_t idle_timeout_ns;
	uint64_t read_timeout_ns;
	/** After a stop, how long handlers may run on before they are
	 *  cancelled (0: 10 s). */
	uint64_t grace_ns;
	/** Zero-terminated list of signals that stop the server gracefully,
	 *  e.g. (const int[]){SIGINT, SIGTERM, 0}.  They are blocked in the
	 *  calling thread and taken with corio_signal_wait(), the library's
	 *  one signal path; a program with other threads must block them in
	 *  every thread (corio_signal_block() in main()). */
	const int *stop_signals;
	/** Stack size for connection tasks (0: the loop's default). */
	size_t stack_size;
	/** Handed to handlers as corio_conn.arg. */
	void *arg;
	/** On a graceful stop, first accept the connections already queued
	 *  on the listener (closing a listener resets them, and with
	 *  SO_REUSEPORT nobody else would take them) and serve them within
	 *  the grace period.  A TCP listener is sealed first: a socket
	 *  filter (SO_ATTACH_FILTER) drops new SYNs, so no handshake starts
	 *  on it any more (the client retries, and meets the next server or
	 *  a refusal) while those under way complete and are accepted until
	 *  none came for 20 ms.  The filter stays on the listener
	 *  (SO_DETACH_FILTER to reuse it), and it is the socket's, not the
	 *  fd's: processes sharing the listener (pre-forked workers) stop
	 *  getting new connections too.  Limit: a client whose final
	 *  handshake ACK comes over 20 ms after the last one accepted (a
	 *  longer round trip, a lost ACK) is reset when the listener is
	 *  closed.  corio_serve_threads() sets it. */
	int drain_on_stop;
} corio_serve_options;

/** Counters of a server (corio_server_stats()). */
typedef struct corio_serve_stats {
	uint64_t accepted;      /**< connections accepted */
	uint64_t active;        /**< handlers running now */
	uint64_t peak;          /**< most handlers running at once */
	uint64_t accept_errors; /**< accepts failed for lack of descriptors or memory (retried) */
	uint64_t cancelled;     /**< handlers cancelled when a grace period ran out */
} corio_serve_stats;

/**
 * corio_serve() - serve connections on the listening socket @lfd until
 * stopped by one of @o->stop_signals (or until the calling task is
 * cancelled): each connection gets a task running @handler with a
 * corio_conn * argument; when the handler returns, its stream is closed
 * (flushed first).  Accepting survives running out of descriptors
 * (EMFILE/ENFILE: it backs off and retries, and resumes as soon as a
 * connection ends).  @lfd stays open and owned by the caller.  Suspends.
 * Return: 0 after a stop; -ECANCELED if the caller was cancelled (the
 * connections are then cancelled without grace); -EINVAL; -ENOMEM; or a
 * fatal accept error (-EBADF, -EINVAL when @lfd does not listen).
 */
CORIO_API int corio_serve(int lfd, corio_fn handler, const corio_serve_options *o);

/** corio_server_new() - a server to run with corio_server_run() and stop
 *  with corio_server_stop().  @lfd -1: no listener, only connections
 *  given with corio_server_add().  Return: 0, -EINVAL, -ENOMEM. */
CORIO_API int corio_server_new(corio_server **out, int lfd, corio_fn handler,
			       const corio_serve_options *o);

/** corio_server_run() - corio_serve() for a server made by
 *  corio_server_new().  Can run once.  Suspends.  Return: as
 *  corio_serve(), and -EBUSY if it is or was already running. */
CORIO_API int corio_server_run(corio_server *s);

/**
 * corio_server_stop() - stop @s gracefully: stop accepting, let handlers
 * run for the grace period, cancel those still running, and make
 * corio_server_run() return once all have ended.  From any task or
 * callback on the server's loop (from other threads, go through
 * corio_call_threadsafe()); before run, makes run return at once.
 * Never suspends.
 */
CORIO_API void corio_server_stop(corio_server *s);

/** corio_server_stopping() - 1 once a stop was asked for: handlers may
 *  check it to finish early. */
CORIO_API int corio_server_stopping(const corio_server *s);

/** corio_server_stats() - the server's counters, copied to @out. */
CORIO_API void corio_server_stats(const corio_server *s, corio_serve_stats *out);

/** corio_server_free() - free a server that is not running.  NULL is
 *  ignored. */
CORIO_API void corio_server_free(corio_server *s);

/**
 * corio_server_add() - serve @fd, a connection accepted elsewhere (another
 * loop's listener, say), on @s as if @s had accepted it: @s owns @fd from
 * the call on, even when it fails.  From a task or callback on @s's loop
 * while @s runs and is not stopping.  A server made with @lfd -1 has no
 * listener and serves only what it is given.  Never suspends.
 * Return: 0, -EPERM (wrong loop), -ESHUTDOWN (not running, or stopping),
 * -ENOMEM.
 */
CORIO_API int corio_server_add(corio_server *s, int fd);

/* ------------------------------------------------------------------ */
/* Serving on every loop (DESIGN.md section 12)                         */

/** corio_serve_threads() options.  Zero-initialise. */
typedef struct corio_serve_threads_options {
	/** Loops, one per thread (0: one per CPU the process may run on). */
	unsigned threads;
	/** One listener, accepted on loop 0, whose connections go to the
	 *  loops in turn (round robin, through cross-loop channels): an even
	 *  spread when connections are few and long.  Default: a
	 *  SO_REUSEPORT listener per loop, each accepting for itself. */
	int single_acceptor;
	/** Pin loop i to the i-th allowed CPU. */
	int pin;
	/** listen(2) backlog of each listener (0: SOMAXCONN). */
	int backlog;
	/** Called once, on the calling thread, when every listener is bound
	 *  (with the port, useful for port "0") and before any loop starts. */
	void (*ready)(int port, void *arg);
	void *ready_arg;
	/** If not NULL: each loop's counters at the end, for up to @nstats
	 *  loops (loop i in stats[i]). */
	corio_serve_stats *stats;
	unsigned nstats;
} corio_serve_threads_options;

/**
 * corio_serve_threads() - corio_serve() on every loop of a
 * corio_run_threads() group, with one call: binds @host:@port (numeric, as
 * corio_tcp_listen()) once per loop with CORIO_LISTEN_REUSEPORT, or once
 * for all with @to->single_acceptor, and serves each connection with
 * @handler on the loop that got it, with options @o (NULL: defaults;
 * stop_signals is ignored, drain_on_stop is forced on).
 *
 * SIGINT or SIGTERM stops every loop gracefully: each stops accepting,
 * seals its listener and accepts what is already queued on it (see
 * drain_on_stop), closes it, and lets its handlers run for the grace
 * period; with a single acceptor, loop 0 does that and hands out what was
 * queued, and then the other loops stop.  A connection whose handshake
 * completed before the stop is served; one that comes after it is never
 * let in (its SYN is dropped, then refused), never reset.  Blocks
 * the calling thread until all loops have ended.  Return: 0 after a stop,
 * a listen error (nothing ran), or the first server error.
 */
CORIO_API int corio_serve_threads(const char *host, const char *port, corio_fn handler,
				  const corio_serve_options *o,
				  const corio_serve_threads_options *to);

#ifdef __cplusplus
}
#endif
#endif /* CORIO_NET_H */
