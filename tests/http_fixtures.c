/* SPDX-License-Identifier: MIT */
/*
 * http_fixtures.c - see http_fixtures.h.  The port is found by binding a
 * socket to port 0; another process may take it before nginx binds it,
 * so a start whose nginx exits early is retried on a fresh port, and test
 * processes take turns at this (a lock file), as tests/dnsmasq.c does.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif
#include "http_fixtures.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY_MS 5000
#define ECHO_MODULE "/usr/lib/nginx/modules/ngx_http_echo_module.so"

const char *t_nginx_path(void)
{
	static const char *const paths[] = {"/usr/sbin/nginx", "/usr/bin/nginx",
					    "/usr/local/sbin/nginx"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

int t_nginx_have_echo(void)
{
	return access(ECHO_MODULE, R_OK) == 0;
}

const char *t_curl_path(void)
{
	static const char *const paths[] = {"/usr/bin/curl", "/usr/local/bin/curl"};
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

/* A TCP port free right now (SO_REUSEADDR, as nginx binds), or -errno. */
static int free_port(void)
{
	int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (t < 0)
		return -errno;
	struct sockaddr_in sa = loopback(0);
	socklen_t len = sizeof(sa);
	int one = 1, port = -EADDRINUSE;
	setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(t, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(t, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(t);
	return port;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int mkdirs_for(const char *path)
{
	char tmp[512];
	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

int t_nginx_put(const struct t_nginx *n, const char *name, const void *data, size_t len)
{
	char path[512];
	while (*name == '/')
		name++;
	if (snprintf(path, sizeof(path), "%s/%s", n->root, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	int err = mkdirs_for(path);
	if (err)
		return err;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	const char *p = data;
	while (len) {
		ssize_t k = write(fd, p, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			err = k < 0 ? -errno : -EIO;
			break;
		}
		p += k;
		len -= (size_t)k;
	}
	close(fd);
	return err;
}

static int write_conf(const struct t_nginx *n, const struct t_nginx_options *o)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/nginx.conf", n->dir);
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	if (o->echo_module)
		fprintf(f, "load_module %s;\n", ECHO_MODULE);
	if (geteuid() == 0)
		fprintf(f, "user root;\n"); /* the root is in a 0700 temp dir */
	fprintf(f,
		"daemon off;\nmaster_process off;\nworker_processes 1;\n"
		"pid %s/nginx.pid;\nerror_log %s/error.log warn;\n"
		"events { worker_connections 1024; }\n"
		"http {\n"
		"  default_type application/octet-stream;\n"
		"  %s\n"
		"  sendfile on;\n  tcp_nopush on;\n"
		"  keepalive_timeout 65;\n  keepalive_requests 100000;\n"
		"  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
		"  %s\n"
		"  server {\n"
		"    listen 127.0.0.1:%d%s;\n"
		"    root %s;\n",
		n->dir, n->dir,
		o->access_log ? "" : "access_log off;", n->dir, n->dir,
		o->http ? o->http : "", n->port, o->tls_cert ? " ssl" : "", n->root);
	if (o->tls_cert)
		fprintf(f,
			"    ssl_certificate %s;\n    ssl_certificate_key %s;\n"
			"    ssl_protocols %s;\n    ssl_session_cache shared:SSL:1m;\n",
			o->tls_cert, o->tls_key, o->tls_protocols ? o->tls_protocols : "TLSv1.2 TLSv1.3");
	fprintf(f, "    %s\n  }\n}\n", o->server ? o->server : "");
	if (o->access_log)
		fprintf(f, "# access log: %s/access.log\n", n->dir);
	return fclose(f) == 0 ? 0 : -EIO;
}

static int spawn(struct t_nginx *n)
{
	char conf[128], errlog[128];
	snprintf(conf, sizeof(conf), "%s/nginx.conf", n->dir);
	snprintf(errlog, sizeof(errlog), "%s/error.log", n->dir);
	pid_t parent = getpid();
	pid_t p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(t_nginx_path(), "nginx", "-p", n->dir, "-e", errlog, "-c", conf,
		      (char *)NULL);
		_exit(127);
	}
	n->pid = p;
	return 0;
}

/* Connectable means listening; 0, or -ECHILD if nginx exited first. */
static int wait_ready(struct t_nginx *n)
{
	for (int waited = 0; waited < READY_MS; waited += 5) {
		int status;
		if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
			n->pid = 0;
			return -ECHILD;
		}
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sa = loopback(n->port);
		int ok = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (s >= 0)
			close(s);
		if (ok)
			return 0;
		sleep_ms(5);
	}
	return -ETIMEDOUT;
}

static int make_dirs(struct t_nginx *n)
{
	snprintf(n->dir, sizeof(n->dir), "/tmp/corio-nginx-XXXXXX");
	if (!mkdtemp(n->dir)) {
		n->dir[0] = 0;
		return -errno;
	}
	snprintf(n->root, sizeof(n->root), "%s/www", n->dir);
	if (mkdir(n->root, 0755) != 0)
		return -errno;
	return 0;
}

int t_nginx_start(struct t_nginx *n, const struct t_nginx_options *o)
{
	static const struct t_nginx_options none;
	if (!o)
		o = &none;
	memset(n, 0, sizeof(*n));
	if (!t_nginx_path() || (o->echo_module && !t_nginx_have_echo()))
		return -ENOENT;
	int err = make_dirs(n);
	if (err) {
		t_nginx_stop(n);
		return err;
	}
	int lock = open("/tmp/corio-nginx.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock >= 0)
		while (flock(lock, LOCK_EX) != 0 && errno == EINTR)
			;
	err = -EADDRINUSE;
	for (int attempt = 0; attempt < 10 && err; attempt++) {
		n->port = free_port();
		if (n->port < 0)
			continue;
		err = write_conf(n, o);
		if (!err)
			err = spawn(n);
		if (!err)
			err = wait_ready(n);
		if (err == -ETIMEDOUT)
			break;
	}
	if (lock >= 0)
		close(lock);
	if (err) {
		char path[128];
		snprintf(path, sizeof(path), "%s/error.log", n->dir);
		fprintf(stderr, "t_nginx_start: %s (see %s)\n", strerror(-err), path);
		if (n->pid > 0) {
			kill(n->pid, SIGKILL);
			waitpid(n->pid, NULL, 0);
			n->pid = 0;
		}
		return err; /* the dir stays for the log; t_nginx_stop removes it */
	}
	snprintf(n->host, sizeof(n->host), "127.0.0.1:%d", n->port);
	snprintf(n->url, sizeof(n->url), "%s://127.0.0.1:%d", o->tls_cert ? "https" : "http",
		 n->port);
	return 0;
}

/* Wait for @pid to exit, at most @ms; 1 if reaped. */
static int reap(pid_t pid, int *status, int ms)
{
	for (int waited = 0; waited <= ms; waited += 2) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return 1;
		sleep_ms(2);
	}
	return 0;
}

static void rmtree(const char *dir)
{
	pid_t p = fork();
	if (p == 0) {
		execl("/bin/rm", "rm", "-rf", "--", dir, (char *)NULL);
		_exit(127);
	}
	if (p > 0)
		waitpid(p, NULL, 0);
}

void t_nginx_stop(struct t_nginx *n)
{
	if (n->pid > 0) {
		int status;
		kill(n->pid, SIGTERM);
		if (!reap(n->pid, &status, 2000)) {
			kill(n->pid, SIGKILL);
			waitpid(n->pid, &status, 0);
		}
		n->pid = 0;
	}
	if (n->dir[0] && strncmp(n->dir, "/tmp/corio-nginx-", 17) == 0)
		rmtree(n->dir);
	n->dir[0] = 0;
}

/* ---- running client programs ----------------------------------------- */

static void exec_child(char *const argv[], const char *in_path, int out_fd)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
	if (in < 0)
		_exit(126);
	dup2(in, 0);
	dup2(out_fd, 1);
	execv(argv[0], argv);
	_exit(127);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read @fd to EOF into a growing buffer, until @deadline (ms). */
static int slurp(int fd, char **out, size_t *len, uint64_t deadline)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		uint64_t now = now_ms();
		if (now >= deadline) {
			free(buf);
			return -ETIMEDOUT;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue; /* timed out: the clock check above ends it */
		if (n == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t k = read(fd, buf + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

int t_exec(char *const argv[], const char *in_path, char **out, size_t *out_len,
	   int timeout_ms)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int err = -errno;
		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0)
		exec_child(argv, in_path, p[1]);
	close(p[1]);
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	char *buf = NULL;
	size_t len = 0;
	int err = slurp(p[0], &buf, &len, deadline);
	close(p[0]);
	int status = 0;
	uint64_t now = now_ms();
	if (err || !reap(pid, &status, now < deadline ? (int)(deadline - now) : 0)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		free(buf);
		return err && err != -ETIMEDOUT ? err : -1;
	}
	if (out)
		*out = buf;
	else
		free(buf);
	if (out_len)
		*out_len = len;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- certificates and openssl s_server ------------------------------- */

int t_certs_make(struct t_certs *c)
{
	memset(c, 0, sizeof(*c));
	if (access("/usr/bin/openssl", X_OK) != 0)
		return -ENOENT;
	snprintf(c->dir, sizeof(c->dir), "/tmp/corio-certs-XXXXXX");
	if (!mkdtemp(c->dir)) {
		c->dir[0] = 0;
		return -errno;
	}
	snprintf(c->ca, sizeof(c->ca), "%s/ca.pem", c->dir);
	snprintf(c->key, sizeof(c->key), "%s/srv.key", c->dir);
	snprintf(c->cert, sizeof(c->cert), "%s/srv.pem", c->dir);
	snprintf(c->expired, sizeof(c->expired), "%s/expired.pem", c->dir);
	snprintf(c->other, sizeof(c->other), "%s/other.pem", c->dir);
	snprintf(c->selfsigned, sizeof(c->selfsigned), "%s/self.pem", c->dir);
	static const char script[] =
		"set -e; cd \"$1\"; exec 2>gen.log; o=/usr/bin/openssl\n"
		"$o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key\n"
		"$o req -x509 -new -key ca.key -subj /CN=corio-test-ca -days 2 -out ca.pem\n"
		"$o genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out srv.key\n"
		"$o req -new -key srv.key -subj /CN=localhost -out srv.csr\n"
		"sign() { printf 'subjectAltName=%s\\nbasicConstraints=CA:FALSE\\n"
		"extendedKeyUsage=serverAuth\\n' \"$2\" >ext.cnf;\n"
		"  $o x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
		" -days \"$3\" -extfile ext.cnf -out \"$1\"; }\n"
		"sign srv.pem DNS:localhost,IP:127.0.0.1,IP:::1 2\n"
		"sign expired.pem DNS:localhost,IP:127.0.0.1,IP:::1 -1\n"
		"sign other.pem DNS:other.test 2\n"
		"$o req -x509 -new -key srv.key -subj /CN=localhost -days 2"
		" -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -out self.pem\n";
	char *argv[] = {"/bin/sh", "-c", (char *)script, "sh", c->dir, NULL};
	char *out = NULL;
	int st = t_exec(argv, NULL, &out, NULL, 20000);
	free(out);
	return st == 0 ? 0 : -EIO;
}

void t_certs_free(struct t_certs *c)
{
	if (c->dir[0])
		rmtree(c->dir);
	c->dir[0] = 0;
}

int t_sserver_start(struct t_sserver *s, const char *cert, const char *key, const char *dir,
		    const char *const *extra)
{
	memset(s, 0, sizeof(*s));
	if (access("/usr/bin/openssl", X_OK) != 0)
		return -ENOENT;
	for (int attempt = 0; attempt < 5; attempt++) {
		s->port = free_port();
		char port[16];
		snprintf(port, sizeof(port), "%d", s->port);
		const char *argv[32] = {"openssl", "s_server", "-accept", port, "-cert", cert,
					"-key", key, "-quiet", "-naccept", "1000000"};
		int n = 11;
		for (; extra && *extra && n < 30; extra++)
			argv[n++] = *extra;
		argv[n] = NULL;
		pid_t parent = getpid();
		pid_t p = fork();
		if (p < 0)
			return -errno;
		if (p == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(127);
			if (dir && chdir(dir) != 0)
				_exit(127);
			int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (fd >= 0) {
				dup2(fd, 0);
				dup2(fd, 1);
			}
			execv("/usr/bin/openssl", (char *const *)argv);
			_exit(127);
		}
		s->pid = p;
		struct t_nginx fake = {.pid = p, .port = s->port};
		int err = wait_ready(&fake);
		if (!err)
			return 0;
		if (fake.pid) {
			kill(p, SIGKILL);
			waitpid(p, NULL, 0);
		}
		s->pid = 0;
		if (err == -ETIMEDOUT)
			return err;
	}
	return -EADDRINUSE;
}

void t_sserver_stop(struct t_sserver *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		int st;
		if (!reap(s->pid, &st, 2000)) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
		}
	}
	s->pid = 0;
}
