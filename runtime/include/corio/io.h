/* SPDX-License-Identifier: MIT */
/*
 * corio/io.h - files, the offload pool, signals and subprocesses.  Every
 * file call is one io_uring op where the kernel has it (probed once per
 * loop) and a plain system call on the offload pool where it has not, so
 * the same code runs on every kernel and backend.  Conventions as in
 * corio/runtime.h: >= 0 or a negative errno, output parameters written
 * only on success, "suspends" marks calls that must run inside a task
 * (-EPERM otherwise) and are cancellation points.
 *
 * Buffers passed to a suspending call must stay valid until it returns;
 * it returns only once the kernel (or the worker thread) let go of them,
 * even when the task is cancelled or its deadline passes (the cancellation
 * invariant, DESIGN.md section 2).
 */
#ifndef CORIO_IO_H
#define CORIO_IO_H

#include <corio/runtime.h>

#include <signal.h>
#include <sys/select.h> /* sigset_t, also in strict C99 builds */
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iovec;
struct statx;

/* ------------------------------------------------------------------ */
/* Files: one op each                                                  */

/**
 * corio_open() - open(2) @path.  Suspends.
 * @flags: open(2) flags; O_CLOEXEC is added (spawned processes get only
 *         the descriptors they are given).  O_DIRECT works: see
 *         corio_aligned_alloc().
 * Return: the new descriptor, -ECANCELED, -ETIMEDOUT, -EPERM, -EINVAL
 * (NULL @path) or the open(2) error (-ENOENT, -EISDIR, -EACCES, ...).
 * If the task is cancelled after the kernel opened the file, the
 * descriptor is returned (not leaked); the next call sees the cancel.
 */
CORIO_API int corio_open(const char *path, int flags, mode_t mode);

/** corio_openat() - corio_open() relative to directory @dirfd
 *  (AT_FDCWD: the working directory).  Suspends. */
CORIO_API int corio_openat(int dirfd, const char *path, int flags, mode_t mode);

/*
 * corio_read() and corio_write() (at the file position) are declared in
 * corio/runtime.h.  All reads and writes may be short, as read(2).
 *
 * When plain pread(2) is as good: a read that hits the page cache is a
 * memcpy, and for one task reading alone the ring round trip plus two
 * task switches cost about what the syscall costs (bench/file.md).  corio
 * pulls ahead as soon as several reads are in flight, cached or not,
 * because one io_uring_enter carries all of them; and only corio keeps
 * the loop running while a read waits for the disk.  Code that is not in
 * a task, or that reads small cached files once at startup, may as well
 * call pread(2).
 */

/**
 * corio_pread() - read up to @n bytes at offset @off into @buf, leaving
 * the file position alone.  Suspends.  With O_DIRECT, @buf, @n and @off
 * must be aligned (corio_dio_alignment()), else -EINVAL.
 * Return: bytes read (0 at or past EOF), -EINVAL (@off < 0, @n > INT_MAX,
 * NULL @buf, misaligned O_DIRECT), -EBADF, -EISDIR, -ECANCELED,
 * -ETIMEDOUT, -EPERM, or the pread(2) error.
 */
CORIO_API ssize_t corio_pread(int fd, void *buf, size_t n, off_t off);

/** corio_pwrite() - write up to @n bytes from @buf at offset @off.
 *  Suspends.  Return: bytes written or a negative errno as corio_pread(),
 *  -ENOSPC when the device is full. */
CORIO_API ssize_t corio_pwrite(int fd, const void *buf, size_t n, off_t off);

/**
 * corio_readv(), corio_writev() - scatter/gather at the file position;
 * corio_preadv(), corio_pwritev() - at offset @off.  Suspends.  @iov
 * (up to IOV_MAX entries) and the buffers it points to must stay valid
 * until the call returns.  Return: bytes transferred (may be short) or a
 * negative errno as corio_pread(); -EINVAL for @iovcnt outside 0..IOV_MAX.
 */
CORIO_API ssize_t corio_readv(int fd, const struct iovec *iov, int iovcnt);
CORIO_API ssize_t corio_writev(int fd, const struct iovec *iov, int iovcnt);
CORIO_API ssize_t corio_preadv(int fd, const struct iovec *iov, int iovcnt, off_t off);
CORIO_API ssize_t corio_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off);

/** corio_fsync() flag: flush the data and only the metadata needed to
 *  read it back (fdatasync(2)). */
#define CORIO_FSYNC_DATA 1u

/** corio_fsync() - flush @fd to stable storage.  Suspends.
 *  Return: 0, -EINVAL (unknown @flags), -EBADF, -EIO, -ECANCELED,
 *  -ETIMEDOUT, -EPERM. */
CORIO_API int corio_fsync(int fd, unsigned flags);

/**
 * corio_close() - close @fd.  Always closes it: it is not a cancellation
 * point (a cancelled task closing its files must not leak them), and
 * outside a task it calls close(2) directly.  May suspend.
 * It is THE close path for any fd corio has waited on (or made a stream
 * or listener of): tasks still waiting on @fd get -ECANCELED, and the
 * backend and the modules drop what they keep for the number.  On
 * io_uring the cancel is by open file: ops waiting on a dup(2) of @fd end
 * with -ECANCELED too.  Closing such an fd with plain close(2) and then
 * reusing its number is a bug in the caller: the epoll backend and net's
 * listeners trust their records (no system call per wait to check them)
 * and would go on treating the new file as the old one.
 * Return: 0, -EBADF, or an error the file reports on close (-EIO, NFS).
 */
CORIO_API int corio_close(int fd);

/**
 * corio_poll() - wait until @fd is ready for @events (POLLIN, POLLOUT,
 * POLLPRI, ...; POLLERR and POLLHUP are always reported), for driving a
 * library that does its own non-blocking I/O on a socket or pipe.  A
 * cancellation point.  On io_uring, TCP urgent data wakes a POLLPRI
 * poll only if POLLIN is asked too (the kernel's wake-up names POLLIN).
 * Return: the ready events (> 0), -EBADF, -EINVAL (no @events),
 * -ECANCELED, -ETIMEDOUT, -EPERM (not in a task).
 */
CORIO_API int corio_poll(int fd, unsigned events);

/**
 * corio_statx() - statx(2): @path relative to @dirfd (AT_FDCWD), or @dirfd
 * itself with @path "" and AT_EMPTY_PATH in @flags.  @mask: STATX_* fields
 * wanted (STATX_BASIC_STATS).  Suspends.
 * Return: 0 and *@out filled, -ENOENT, -ENOTDIR, -EBADF, -EINVAL (NULL
 * @path or @out), -ECANCELED, -ETIMEDOUT, -EPERM, or the statx(2) error.
 */
CORIO_API int corio_statx(int dirfd, const char *path, int flags, unsigned mask,
			  struct statx *out);

/** corio_unlink() - remove @path; with AT_REMOVEDIR in @flags, an empty
 *  directory.  Suspends.  Return: 0 or -ENOENT, -EISDIR, -ENOTEMPTY, ... */
CORIO_API int corio_unlink(const char *path, int flags);

/** corio_rename() - rename @from to @to, replacing it atomically.
 *  @flags: renameat2(2) flags (RENAME_NOREPLACE, RENAME_EXCHANGE) or 0.
 *  Suspends.  Return: 0 or the renameat2(2) error. */
CORIO_API int corio_rename(const char *from, const char *to, unsigned flags);

/** corio_mkdir() - create directory @path.  Suspends.
 *  Return: 0, -EEXIST, -ENOENT, ... */
CORIO_API int corio_mkdir(const char *path, mode_t mode);

/** corio_fallocate() - fallocate(2): reserve (or, with FALLOC_FL_* in
 *  @mode, punch or zero) @len bytes at @off.  Suspends.
 *  Return: 0, -EINVAL (negative @off or @len), -ENOSPC, -EOPNOTSUPP, ... */
CORIO_API int corio_fallocate(int fd, int mode, off_t off, off_t len);

/* ------------------------------------------------------------------ */
/* Files: helpers that never return short                              */

/**
 * corio_read_full() - read @n bytes into @buf at offset @off (-1: at the
 * file position, advancing it), issuing as many reads as it takes.
 * Suspends.  Return: @n; fewer only at EOF or when an error or a cancel
 * stopped it after some bytes arrived (the count is returned so no byte
 * is lost; the next call reports the error); else a negative errno as
 * corio_pread().
 */
CORIO_API ssize_t corio_read_full(int fd, void *buf, size_t n, off_t off);

/** corio_write_full() - write all @n bytes of @buf at @off (-1: at the
 *  file position).  Suspends.  Return: @n; fewer only if an error stopped
 *  it after some bytes were written (the next call reports it); else a
 *  negative errno (-ENOSPC, -EIO, -EBADF, -ECANCELED, ...). */
CORIO_API ssize_t corio_write_full(int fd, const void *buf, size_t n, off_t off);

/**
 * corio_read_file() - read the whole of @path into a new buffer.
 * Suspends.  Works on files whose size is unknown (/proc, pipes).
 * @data: receives a malloc'd buffer the caller frees, NUL-terminated one
 *        byte past the end (so text can be used as a string);
 * @len:  receives the length without that NUL.
 * Return: 0, -ENOENT, -EISDIR, -ENOMEM, -EFBIG, -ECANCELED, -ETIMEDOUT,
 * -EPERM, or another open/read error.
 */
CORIO_API int corio_read_file(const char *path, void **data, size_t *len);

/** corio_write_file() flags. */
#define CORIO_WRITE_ATOMIC 1 /**< all or nothing, even across a crash */
#define CORIO_WRITE_SYNC 2   /**< fsync before returning */

/**
 * corio_write_file() - replace the content of @path with @len bytes of
 * @data, creating it (mode 0666 & ~umask) if needed.  Suspends.
 * With CORIO_WRITE_ATOMIC the data goes to a temporary file in the same
 * directory, which is fsync'd, renamed over @path, and the directory is
 * fsync'd: after a crash @path holds either the old or the new content,
 * never a mix.  An existing file's permission bits are kept (never
 * widened); a symbolic link at @path is replaced, not followed.  On
 * failure (or cancellation) the temporary file is removed.  Without the flag
 * @path is truncated and written in place (CORIO_WRITE_SYNC: then fsync'd).
 * Return: 0, -EINVAL (unknown flags, NULL @path or @data with @len > 0),
 * -ENOENT, -EISDIR, -ENOSPC, -EACCES, -ECANCELED, -ETIMEDOUT, -EPERM, ...
 */
CORIO_API int corio_write_file(const char *path, const void *data, size_t len, int flags);

/**
 * corio_aligned_alloc() - a buffer for O_DIRECT: @size bytes aligned to
 * @align (0: 4096, which suits every common device; else a power of two),
 * @size rounded up to a multiple of @align.  Release it with free().
 * Never suspends.  Return: 0 and *@out set, -EINVAL, -ENOMEM.
 */
CORIO_API int corio_aligned_alloc(void **out, size_t align, size_t size);

/**
 * corio_dio_alignment() - the O_DIRECT alignment @fd needs: @mem_align for
 * buffer addresses, @off_align for offsets and lengths (statx
 * STATX_DIOALIGN).  Both 0 if @fd does not support O_DIRECT.  Suspends.
 * Return: 0, -EOPNOTSUPP (kernel older than 6.1 or a filesystem that does
 * not say: assume 4096), -EBADF, -ECANCELED, -ETIMEDOUT, -EPERM.
 */
CORIO_API int corio_dio_alignment(int fd, size_t *mem_align, size_t *off_align);

/** corio_copy_fd() length meaning "until EOF". */
#define CORIO_COPY_ALL ((size_t)-1)

/**
 * corio_copy_fd() - copy up to @len bytes (CORIO_COPY_ALL: until EOF) from
 * @in's file position to @out's, advancing both.  Between two seekable
 * files the copy is cut in chunks, several in flight at once: each is
 * handed to copy_file_range(2) on the offload pool (the kernel copies the
 * pages, or shares extents on filesystems with reflinks), or, where the
 * kernel refuses that pair of files (another filesystem, /dev/zero), read
 * and written through the ring with eight chunks in flight.  When either
 * end is a pipe the data is spliced without passing through user memory;
 * anything else (sockets, ttys, O_APPEND) is copied in sequence.
 * Suspends.  If cancelled, no op is left running when it returns.
 * Return: bytes copied (short only at EOF), or a negative errno from the
 * read or write that failed (part of the data may have been written, and
 * the file positions are then left where they were).
 */
CORIO_API ssize_t corio_copy_fd(int in, int out, size_t len);

/* ------------------------------------------------------------------ */
/* Offload pool                                                        */

/**
 * corio_offload() - run @fn(@arg) on a worker thread of the current loop's
 * pool, suspending only the calling task.  The pool (one thread per CPU,
 * at least 2, every asynchronous signal blocked) starts on first use and
 * stops when the loop is freed; its queue is bounded and callers beyond
 * the bound wait their turn on the loop.  @fn runs on another thread: it
 * must not call corio functions other than corio_call_threadsafe().
 * @result: receives @fn's return value (may be NULL).
 * Cancellation (or a timeout scope expiring): a job that has not started
 * is withdrawn and the call returns -ECANCELED (-ETIMEDOUT); a running job
 * is waited for and its result returned, the cancel being seen by the
 * next suspending call.
 * Return: 0, -EINVAL (NULL @fn), -ECANCELED, -ETIMEDOUT, -EPERM, -ENOMEM
 * or -EAGAIN (the pool's threads could not be started).
 */
CORIO_API int corio_offload(corio_fn fn, void *arg, void **result);

/* ------------------------------------------------------------------ */
/* Signals                                                             */

/**
 * corio_signal_block() - block the signals in @set in the calling thread
 * (pthread_sigmask), so they stay pending until corio_signal_wait() takes
 * them.  Threads inherit the mask of their creator: call it in main()
 * before starting any thread, loop or offload pool, so that no thread can
 * take the signal in its default way (SIGINT and SIGTERM kill the process).
 * The pool's own workers block every asynchronous signal anyway.  Never
 * suspends.  Return: 0, -EINVAL.
 */
CORIO_API int corio_signal_block(const sigset_t *set);

/**
 * corio_signal_wait() - wait until one of the signals in @set arrives and
 * store its number in *@signo.  Suspends.  The loop reads them through one
 * signalfd it owns, so any number of tasks can wait, for the same or
 * different signals; each delivery wakes one task (the one waiting
 * longest whose set holds it).  A signal that arrives while no task waits
 * for it is kept, like a pending signal, for the next wait.  The signals
 * must be blocked in every thread (corio_signal_block()); this call blocks
 * them in the loop's thread as well.  SIGKILL and SIGSTOP cannot be waited.
 * Return: 0, -EINVAL (NULL or empty @set), -ECANCELED, -ETIMEDOUT,
 * -EPERM, -ENOMEM, -EMFILE.
 */
CORIO_API int corio_signal_wait(const sigset_t *set, int *signo);

/* ------------------------------------------------------------------ */
/* Subprocesses                                                        */

/** A child process started by corio_process_spawn(). */
typedef struct corio_process corio_process;

/** What a child's stdin, stdout or stderr is connected to. */
enum corio_stdio {
	CORIO_STDIO_INHERIT = 0, /**< the parent's descriptor */
	CORIO_STDIO_PIPE = 1,    /**< a pipe; our end: corio_process_fd() */
	CORIO_STDIO_DEVNULL = 2, /**< /dev/null */
	CORIO_STDIO_FD = 3,      /**< the descriptor in stdio_fd[] */
	CORIO_STDIO_STDOUT = 4,  /**< stderr only: wherever stdout goes */
};

/** Options for corio_process_spawn().  Zero-initialise. */
typedef struct corio_process_options {
	/** enum corio_stdio for the child's stdin, stdout and stderr. */
	int stdio[3];
	/** The descriptors used with CORIO_STDIO_FD (not closed by corio). */
	int stdio_fd[3];
	/** Environment ("NAME=value", NULL-terminated); NULL: the caller's. */
	char *const *envp;
	/** Working directory of the child; NULL: the caller's. */
	const char *cwd;
} corio_process_options;

/**
 * corio_process_spawn() - start @argv[0] with arguments @argv (searched in
 * $PATH if it has no '/'), asyncio's create_subprocess_exec.  Never
 * suspends (posix_spawn holds the loop's thread only until the child has
 * called exec, typically well under a millisecond).  The child starts with every signal unblocked and at its
 * default action, whatever the parent blocked for corio_signal_wait().
 * Pipe ends are blocking, close-on-exec descriptors for corio_read(),
 * corio_write() and streams.
 * @out: receives the process, released with corio_process_free().
 * @o:   options, or NULL: inherit stdin, stdout and stderr.
 * Return: 0, -EINVAL (empty @argv, bad option), -ENOENT / -EACCES /
 * -ENOEXEC (the program cannot be run), -ENOMEM, -EMFILE, -EAGAIN,
 * -ENOSYS (kernel without pidfd, before 5.3).
 */
CORIO_API int corio_process_spawn(corio_process **out, char *const argv[],
				  const corio_process_options *o);

/**
 * corio_process_wait() - wait for @p to exit and reap it.  Suspends.  The
 * kernel's waitid op is used where the probe finds it (6.7+), else the
 * loop polls the process's pidfd.  Several tasks may wait; all get the
 * status, and so does any later call.
 * @status: receives a waitpid(2)-style status: WIFEXITED(), WEXITSTATUS(),
 *          WIFSIGNALED(), WTERMSIG() apply (may be NULL).
 * Return: 0, -ECANCELED, -ETIMEDOUT, -EPERM, -EINVAL (NULL @p), -ECHILD
 * (reaped by someone else, for instance SIGCHLD set to SIG_IGN).
 */
CORIO_API int corio_process_wait(corio_process *p, int *status);

/** corio_process_kill() - send @sig to @p through its pidfd (so never to
 *  another process that reused the pid).  Never suspends.  Return: 0,
 *  -ESRCH (already reaped), -EINVAL (bad @sig), -EPERM. */
CORIO_API int corio_process_kill(corio_process *p, int sig);

/** corio_process_pid() - @p's process id. */
CORIO_API pid_t corio_process_pid(const corio_process *p);

/** corio_process_fd() - our end of the pipe to the child's stdin (@which
 *  0), stdout (1) or stderr (2); -1 if that one is not a pipe or was
 *  closed.  The descriptor stays owned by @p. */
CORIO_API int corio_process_fd(const corio_process *p, int which);

/** corio_process_close_fd() - close our end of pipe @which (0..2), for
 *  instance stdin to send the child EOF.  May suspend (corio_close()).
 *  Return: 0, -EBADF (no such pipe or already closed), -EINVAL. */
CORIO_API int corio_process_close_fd(corio_process *p, int which);

/**
 * corio_process_free() - close the pipes still open and release @p.
 * Never suspends.  Wait for the process first: a child freed while it
 * runs keeps running, unreaped (a zombie once it exits, until this
 * process exits or reaps it otherwise).  NULL is ignored.
 */
CORIO_API void corio_process_free(corio_process *p);

#ifdef __cplusplus
}
#endif
#endif /* CORIO_IO_H */
