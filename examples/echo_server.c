/* SPDX-License-Identifier: MIT */
/*
 * examples/echo_server.c - the echo server of PEP 492, in C: every client
 * gets its own task, which reads whatever arrives and writes it back.
 * Reads like blocking code; one thread serves them all.  Ctrl-C stops the
 * server gracefully: no new clients, a moment for the current ones, then
 * "Server shut down."
 *
 *   echo_server [host [port]]      (default 127.0.0.1 8000)
 *   then, in another terminal:  nc 127.0.0.1 8000
 */
#include <corio.h>

#include <ctype.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

struct args {
	const char *host, *port;
};

/* "host:port" of a peer, numerically (no name lookup, so no waiting). */
static void peer_name(const corio_conn *c, char *out, size_t len)
{
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	if (getnameinfo((const struct sockaddr *)&c->peer, c->peer_len, host, sizeof(host), serv,
			sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(out, len, "?");
	else
		snprintf(out, len, "%s:%s", host, serv);
}

/* The first bytes of @p, printable, for the log line. */
static void preview(const char *p, size_t n, char *out)
{
	size_t k = 0;
	for (; k < n && k < 10; k++)
		out[k] = isprint((unsigned char)p[k]) ? p[k] : '.';
	out[k] = 0;
}

static void *handle_connection(void *arg)
{
	corio_conn *c = arg;
	char who[NI_MAXHOST + NI_MAXSERV + 2];
	peer_name(c, who, sizeof(who));
	printf("New connection from %s\n", who);
	char buf[8192], shown[11];
	ssize_t n;
	while ((n = corio_stream_read(c->stream, buf, sizeof(buf))) > 0) {
		preview(buf, (size_t)n, shown);
		printf("Sending '%s'... back to %s\n", shown, who);
		if (corio_stream_write(c->stream, buf, (size_t)n) < 0)
			break;
	}
	printf("Connection from %s closed\n", who);
	return NULL; /* corio_serve closes the stream, flushing it first */
}

static void *echo_server(void *arg)
{
	struct args *a = arg;
	int lfd = corio_tcp_listen(a->host, a->port, 128, 0);
	if (lfd < 0) {
		fprintf(stderr, "echo_server: cannot listen on %s:%s: %s\n", a->host, a->port,
			corio_strerror(lfd));
		return CORIO_ERR_PTR(lfd);
	}
	printf("Serving on %s:%d. Hit Ctrl-C to stop.\n", a->host, corio_sock_port(lfd));
	corio_serve_options o = {
		.stop_signals = (const int[]){SIGINT, SIGTERM, 0},
		.grace_ns = 1000ull * 1000 * 1000, /* clients get a second, then are cut */
	};
	int err = corio_serve(lfd, handle_connection, &o);
	corio_sock_close(lfd);
	return err ? CORIO_ERR_PTR(err) : NULL;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct args a = {argc > 1 ? argv[1] : "127.0.0.1", argc > 2 ? argv[2] : "8000"};
	void *res = NULL;
	int err = corio_run(echo_server, &a, &res);
	if (err || corio_is_err(res))
		return 1;
	printf("\nServer shut down.\n");
	return 0;
}
