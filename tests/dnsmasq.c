/* SPDX-License-Identifier: MIT */
/*
 * dnsmasq.c - see dnsmasq.h.  The port is found by binding UDP and TCP
 * sockets to port 0; another process may grab it before dnsmasq does, so
 * a start whose dnsmasq exits early is retried on a fresh port.  Test
 * processes running side by side take turns at this (a lock file): else
 * two could pick the same port, and the one whose dnsmasq lost the bind
 * would find the other's listening and talk to the wrong server.
 */
#include "dnsmasq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#define MAX_ARGS 64
#define READY_MS 3000

const char *t_dnsmasq_path(void)
{
	static const char *const paths[] = {"/usr/sbin/dnsmasq", "/usr/bin/dnsmasq",
					    "/usr/local/sbin/dnsmasq"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

/* A port free for both UDP and TCP right now, or -errno.  The TCP check
 * uses SO_REUSEADDR as dnsmasq does: a port some closed connection keeps
 * in TIME_WAIT is fine for a listener. */
static int free_port_once(void)
{
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = loopback(0);
	socklen_t len = sizeof(sa);
	int port = -EADDRINUSE, one = 1;
	if (t >= 0)
		setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (u >= 0 && t >= 0 && bind(u, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(u, (struct sockaddr *)&sa, &len) == 0 &&
	    bind(t, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		port = ntohs(sa.sin_port);
	if (u >= 0)
		close(u);
	if (t >= 0)
		close(t);
	return port;
}

/* Many tries: while thousands of loopback connections are open (a soak
 * or a benchmark beside the suite), most free UDP ports are taken in TCP. */
static int free_port(void)
{
	int port = -EADDRINUSE;
	for (int i = 0; i < 1000 && port < 0; i++)
		port = free_port_once();
	return port;
}

static void child(const struct t_dnsmasq *d, char **argv, pid_t parent)
{
	/* die with the test process, whatever ends it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	char log[96];
	snprintf(log, sizeof(log), "%s/log", d->dir);
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	execv(argv[0], argv);
	_exit(127);
}

static int spawn(struct t_dnsmasq *d, const char *const *records, bool refuse)
{
	static char fixed[][32] = {"-k", "--conf-file=/dev/null", "--user=root",
				   "--no-resolv", "--no-hosts",
				   "--listen-address=127.0.0.1", "--bind-interfaces",
				   "--log-facility=-"};
	static char local_all[] = "--local=/#/";
	char port[32], pid[96];
	char *argv[MAX_ARGS];
	int n = 0;
	argv[n++] = (char *)t_dnsmasq_path();
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		argv[n++] = fixed[i];
	if (!refuse)
		argv[n++] = local_all;
	snprintf(port, sizeof(port), "--port=%d", d->port);
	snprintf(pid, sizeof(pid), "--pid-file=%s/pid", d->dir);
	argv[n++] = port;
	argv[n++] = pid;
	for (; records && *records && n < MAX_ARGS - 1; records++)
		argv[n++] = (char *)*records;
	argv[n] = NULL;
	pid_t parent = getpid();
	pid_t p = fork();
	if (p < 0)
		return -errno;
	if (p == 0)
		child(d, argv, parent);
	d->pid = p;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* dnsmasq opens its UDP and TCP sockets together, before it serves: once
 * TCP connects, both are there.  0, or -ECHILD if it exited (port taken). */
static int wait_ready(struct t_dnsmasq *d)
{
	for (int waited = 0; waited < READY_MS; waited += 5) {
		int status;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			return -ECHILD;
		}
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sa = loopback(d->port);
		int ok = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (s >= 0)
			close(s);
		if (ok)
			return 0;
		sleep_ms(5);
	}
	return -ETIMEDOUT;
}

static int start(struct t_dnsmasq *d, const char *const *records, bool refuse)
{
	memset(d, 0, sizeof(*d));
	if (!t_dnsmasq_path())
		return -ENOENT;
	snprintf(d->dir, sizeof(d->dir), "/tmp/corio-dnsmasq-XXXXXX");
	if (!mkdtemp(d->dir))
		return -errno;
	int lock = open("/tmp/corio-dnsmasq.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock >= 0)
		while (flock(lock, LOCK_EX) != 0 && errno == EINTR)
			;
	int err = -EADDRINUSE;
	for (int attempt = 0; attempt < 10 && err; attempt++) {
		d->port = free_port();
		if (d->port < 0)
			continue; /* taken between the two binds: try another */
		err = spawn(d, records, refuse);
		if (!err)
			err = wait_ready(d);
		if (err == -ETIMEDOUT)
			break;
	}
	if (lock >= 0)
		close(lock); /* and with it the lock */
	if (err) {
		t_dnsmasq_stop(d);
		return err;
	}
	snprintf(d->server, sizeof(d->server), "127.0.0.1:%d", d->port);
	return 0;
}

int t_dnsmasq_start(struct t_dnsmasq *d, const char *const *records)
{
	return start(d, records, false);
}

int t_dnsmasq_start_refusing(struct t_dnsmasq *d, const char *const *records)
{
	return start(d, records, true);
}

void t_dnsmasq_stop(struct t_dnsmasq *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		int status, waited = 0;
		while (waitpid(d->pid, &status, WNOHANG) == 0 && waited < 1000) {
			sleep_ms(2);
			waited += 2;
		}
		if (waited >= 1000) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &status, 0);
		}
		d->pid = 0;
	}
	if (d->dir[0]) {
		char path[96];
		snprintf(path, sizeof(path), "%s/log", d->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/pid", d->dir);
		unlink(path);
		rmdir(d->dir);
		d->dir[0] = 0;
	}
}
