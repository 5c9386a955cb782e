/* SPDX-License-Identifier: MIT */
/*
 * http_fixtures.h - test fixtures for the HTTP suites (server and client):
 * a private nginx (Debian's nginx / nginx-light) in the foreground, one
 * process (master_process off), on a free 127.0.0.1 port, serving a
 * document root in a temp dir, with the test's own configuration lines;
 * killed by PID when the fixture stops (or when the test process dies).
 */
#ifndef CORIO_TEST_HTTP_FIXTURES_H
#define CORIO_TEST_HTTP_FIXTURES_H

#include <stddef.h>
#include <sys/types.h>

struct t_nginx {
	pid_t pid;        /* 0 when not running */
	int port;         /* TCP on 127.0.0.1 */
	char host[32];    /* "127.0.0.1:<port>" */
	char url[48];     /* "http://127.0.0.1:<port>" (no trailing slash) */
	char dir[64];     /* temp dir: nginx.conf, logs, pid, temp files */
	char root[96];    /* <dir>/www: the document root ("location /") */
};

/* Options for t_nginx_start(); zero-initialise. */
struct t_nginx_options {
	/* Lines placed inside server { }, after the fixture's own (listen,
	 * root), e.g. "location = /r { return 302 /x; }" (NULL: none). */
	const char *server;
	/* Lines placed inside http { } before the server block (NULL). */
	const char *http;
	/* Load Debian's echo module (libnginx-mod-http-echo) so that
	 * @server may use echo / echo_flush (chunked bodies, delays);
	 * t_nginx_start() returns -ENOENT if it is not installed. */
	int echo_module;
	/* Write access_log to <dir>/access.log (default: off). */
	int access_log;
	/* TLS: serve https with this certificate chain and key (PEM paths;
	 * NULL: plain http).  The fixture's url then says "https://". */
	const char *tls_cert;
	const char *tls_key;
	/* TLS: "TLSv1.2", "TLSv1.3" or both (NULL: "TLSv1.2 TLSv1.3"). */
	const char *tls_protocols;
};

/* Path of the nginx binary, or NULL if it is not installed. */
const char *t_nginx_path(void);

/* 1 if Debian's echo module is installed (t_nginx_options.echo_module). */
int t_nginx_have_echo(void);

/*
 * Start nginx with the fixture's configuration (1 worker, keep-alive on,
 * sendfile on, access_log off, root <dir>/www) plus @o's lines (@o may
 * be NULL).  Returns once it accepts connections.  0, -ENOENT (nginx or
 * the echo module is missing), -ECHILD (nginx exited: a bad directive;
 * <dir>/error.log says why), -ETIMEDOUT, or another negative errno.
 */
int t_nginx_start(struct t_nginx *n, const struct t_nginx_options *o);

/* Write @len bytes of @data to the file @name under the document root
 * (subdirectories in @name are created) of a started fixture; nginx
 * serves it from then on.  0 or a negative errno. */
int t_nginx_put(const struct t_nginx *n, const char *name, const void *data, size_t len);

/* Stop nginx (SIGTERM by PID, then SIGKILL) and remove the temp dir.
 * Safe on a fixture that never started. */
void t_nginx_stop(struct t_nginx *n);

/*
 * Helpers for running client programs (curl, python3) from tests.
 * t_exec() runs @argv with stdin from @in_path (NULL: /dev/null), its
 * stdout into a malloc'd buffer (*@out, NUL-terminated; *@out_len may be
 * NULL), stderr inherited, and waits for it to exit, at most @timeout_ms
 * (then it is killed by PID).  Return: its exit status (0..255), -1 if it
 * was killed by a signal or timed out, or a negative errno < -1.
 */
int t_exec(char *const argv[], const char *in_path, char **out, size_t *out_len,
	   int timeout_ms);

/* Path of curl, or NULL. */
const char *t_curl_path(void);

/*
 * Certificates for TLS tests, made at test time with the openssl command
 * in a temp dir: a CA, and P-256 server certificates signed by it, all
 * with the same key: good (localhost, 127.0.0.1, ::1), expired (same
 * names, valid until yesterday), other (other.test only).
 */
struct t_certs {
	char dir[64];
	char ca[96];      /* CA certificate (PEM) */
	char key[96];     /* the servers' key */
	char cert[96];    /* good */
	char expired[96];
	char other[96];
	char selfsigned[96]; /* localhost, signed by itself: an unknown CA */
};

/* 0, -ENOENT (no openssl command), or -EIO (a step failed). */
int t_certs_make(struct t_certs *c);
void t_certs_free(struct t_certs *c);

/*
 * `openssl s_server` on a free 127.0.0.1 port with @cert/@key and extra
 * arguments @extra (NULL-terminated, may be NULL), e.g. "-tls1_2",
 * "-WWW"; run from @dir (its -WWW root; NULL: /).  Returns once it
 * accepts connections (polled by connect, bounded).  Killed by PID.
 */
struct t_sserver {
	pid_t pid;
	int port;
};
int t_sserver_start(struct t_sserver *s, const char *cert, const char *key, const char *dir,
		    const char *const *extra);
void t_sserver_stop(struct t_sserver *s);

#endif
