/* SPDX-License-Identifier: MIT */
/*
 * process.c - subprocesses, asyncio's create_subprocess_exec in C:
 * posix_spawn with optional pipes for stdin/stdout/stderr, a pidfd for
 * each child so that waiting and killing can never hit a recycled pid, and
 * corio_process_wait through the kernel's waitid op where the probe finds
 * it (6.7+), else through a poll on the pidfd followed by a waitid that
 * cannot block.
 */
#include "corio_int.h"
#include "uring_int.h"
#include "corio/io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct corio_process {
	pid_t pid;
	int pidfd;
	int fds[3];  /* our ends of the stdio pipes, -1 if none */
	int status;  /* waitpid-style, once reaped */
	bool reaped;
};

/* ---- spawning ------------------------------------------------------- */

static bool options_ok(const corio_process_options *o)
{
	for (int i = 0; i < 3; i++) {
		int m = o->stdio[i];
		if (m < CORIO_STDIO_INHERIT || m > CORIO_STDIO_STDOUT)
			return false;
		if (m == CORIO_STDIO_STDOUT && i != 2)
			return false;
		if (m == CORIO_STDIO_FD && o->stdio_fd[i] < 0)
			return false;
	}
	return true;
}

/* A pipe whose child end is not 0..2, so that wiring one stdio slot can
 * never clobber the source of the next. */
static int make_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	for (int i = 0; i < 2; i++) {
		if (fds[i] > 2)
			continue;
		int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (moved < 0) {
			int err = -errno;
			close(fds[0]);
			close(fds[1]);
			return err;
		}
		close(fds[i]);
		fds[i] = moved;
	}
	return 0;
}

/* Wire stdio slot @i; the child's end of a pipe goes to @child[i]. */
static int wire(corio_process *p, const corio_process_options *o, int i,
		posix_spawn_file_actions_t *fa, int child[3])
{
	int pp[2];
	int err = 0;
	switch (o->stdio[i]) {
	case CORIO_STDIO_PIPE:
		err = make_pipe(pp);
		if (err)
			return err;
		p->fds[i] = i == 0 ? pp[1] : pp[0];
		child[i] = i == 0 ? pp[0] : pp[1];
		return -posix_spawn_file_actions_adddup2(fa, child[i], i);
	case CORIO_STDIO_DEVNULL:
		return -posix_spawn_file_actions_addopen(fa, i, "/dev/null",
							 i == 0 ? O_RDONLY : O_WRONLY, 0);
	case CORIO_STDIO_FD:
		return -posix_spawn_file_actions_adddup2(fa, o->stdio_fd[i], i);
	case CORIO_STDIO_STDOUT:
		return -posix_spawn_file_actions_adddup2(fa, 1, 2);
	default:
		return 0;
	}
}

/* Undo what the parent blocked for corio_signal_wait(): the child starts
 * with no signal blocked and every one at its default action. */
static int child_signals(posix_spawnattr_t *at)
{
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	int err = posix_spawnattr_setsigmask(at, &none);
	if (!err)
		err = posix_spawnattr_setsigdefault(at, &all);
	if (!err)
		err = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	return -err;
}

static int launch(corio_process *p, char *const argv[], const corio_process_options *o,
		  posix_spawn_file_actions_t *fa, posix_spawnattr_t *at)
{
	int child[3] = {-1, -1, -1};
	int err = child_signals(at);
	for (int i = 0; i < 3 && !err; i++)
		err = wire(p, o, i, fa, child);
	if (!err && o->cwd)
		err = -posix_spawn_file_actions_addchdir_np(fa, o->cwd);
	char *const *envp = o->envp ? o->envp : environ;
	if (!err && strchr(argv[0], '/'))
		err = -posix_spawn(&p->pid, argv[0], fa, at, argv, envp);
	else if (!err)
		err = -posix_spawnp(&p->pid, argv[0], fa, at, argv, envp);
	for (int i = 0; i < 3; i++)
		if (child[i] >= 0)
			close(child[i]);
	return err;
}

static void close_ours(corio_process *p)
{
	for (int i = 0; i < 3; i++) {
		if (p->fds[i] >= 0) {
			corio__fd_closing(corio__tls_loop, p->fds[i]);
			close(p->fds[i]);
		}
		p->fds[i] = -1;
	}
}

/* A pidfd for the child just started.  Nobody else can have reaped it
 * yet, so the pid still names our child. */
static int open_pidfd(corio_process *p)
{
	p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
	if (p->pidfd >= 0)
		return 0;
	int err = -errno;
	kill(p->pid, SIGKILL); /* unmanageable: do not leave it running */
	waitpid(p->pid, NULL, 0);
	return err;
}

int corio_process_spawn(corio_process **out, char *const argv[],
			const corio_process_options *o)
{
	static const corio_process_options defaults;
	o = o ? o : &defaults;
	if (!out || !argv || !argv[0] || !*argv[0] || !options_ok(o))
		return -EINVAL;
	corio_process *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fds[0] = p->fds[1] = p->fds[2] = p->pidfd = -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int err = -posix_spawn_file_actions_init(&fa);
	if (err)
		goto out_free;
	err = -posix_spawnattr_init(&at);
	if (err)
		goto out_fa;
	err = launch(p, argv, o, &fa, &at);
	if (!err)
		err = open_pidfd(p);
	posix_spawnattr_destroy(&at);
out_fa:
	posix_spawn_file_actions_destroy(&fa);
out_free:
	if (err) {
		close_ours(p);
		free(p);
		return err;
	}
	*out = p;
	return 0;
}

/* ---- waiting -------------------------------------------------------- */

/* waitid's report as the status word waitpid(2) would give. */
static int wstatus(const siginfo_t *si)
{
	switch (si->si_code) {
	case CLD_EXITED:
		return (si->si_status & 0xff) << 8;
	case CLD_DUMPED:
		return (si->si_status & 0x7f) | 0x80;
	default: /* CLD_KILLED */
		return si->si_status & 0x7f;
	}
}

static bool have_waitid_op(corio_loop *l)
{
	return !corio__no_ring_ops && corio__uring_has_op(l, CORIO__IORING_OP_WAITID);
}

/* One attempt: the waitid op, or a poll on the pidfd and a waitid that
 * does not block.  0 with @si filled (si_pid 0: not exited yet). */
static int wait_once(corio_process *p, siginfo_t *si)
{
	struct corio__op op = {.fd = p->pidfd};
	if (have_waitid_op(corio__tls_loop)) {
		op.code = CORIO__OP_WAITID;
		op.u.waitid.info = si;
		op.u.waitid.options = WEXITED;
		return (int)corio__op_run(&op);
	}
	op.code = CORIO__OP_POLL;
	op.u.poll_mask = POLLIN;
	int r = (int)corio__op_run(&op);
	if (r < 0)
		return r;
	if (waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, si, WEXITED | WNOHANG))
		return -errno;
	return 0;
}

int corio_process_wait(corio_process *p, int *status)
{
	if (!p)
		return -EINVAL;
	if (!corio__current())
		return -EPERM;
	while (!p->reaped) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		int err = wait_once(p, &si);
		if (err == -ECHILD && p->reaped)
			break; /* another task reaped it meanwhile */
		if (err)
			return err;
		if (si.si_pid) {
			p->status = wstatus(&si);
			p->reaped = true;
		}
	}
	if (status)
		*status = p->status;
	return 0;
}

/* ---- the rest ------------------------------------------------------- */

int corio_process_kill(corio_process *p, int sig)
{
	if (!p)
		return -EINVAL;
	if (p->reaped)
		return -ESRCH;
	if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0))
		return -errno;
	return 0;
}

pid_t corio_process_pid(const corio_process *p)
{
	return p ? p->pid : -1;
}

int corio_process_fd(const corio_process *p, int which)
{
	return p && which >= 0 && which < 3 ? p->fds[which] : -1;
}

int corio_process_close_fd(corio_process *p, int which)
{
	if (!p || which < 0 || which > 2)
		return -EINVAL;
	int fd = p->fds[which];
	if (fd < 0)
		return -EBADF;
	p->fds[which] = -1;
	return corio_close(fd);
}

void corio_process_free(corio_process *p)
{
	if (!p)
		return;
	close_ours(p);
	if (!p->reaped) {
		/* reap it if it has already exited; never block */
		siginfo_t si;
		waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG);
	}
	corio__fd_closing(corio__tls_loop, p->pidfd);
	close(p->pidfd);
	free(p);
}
