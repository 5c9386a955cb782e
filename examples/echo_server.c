/* SPDX-License-Identifier: MIT */
/*
 * examples/echo_server.c - the echo server of PEP 492, in C: every client
 * gets its own task, which reads whatever arrives and writes it back.
 * Reads like blocking code; one thread serves them all.  Ctrl-C stops the
 * server gracefully: no new clients, a moment for the current ones, then
 * "Server shut down."  A client that goes quiet is dropped after the idle
 * timeout, so forgotten connections do not pile up.  Each connection gets
 * a number, kept as a task-local value (asyncio's contextvars): the tasks
 * a connection's task spawns inherit it, so every log line says which
 * connection it is about without passing the number around.
 *
 * With --threads N it runs N loops, one per thread (0: one per CPU), each
 * accepting on its own SO_REUSEPORT listener (corio_serve_threads()).
 *
 *   echo_server [-i SECONDS] [-r SECONDS] [-t N] [host [port]]   (default 127.0.0.1 8000)
 *   then, in another terminal:  nc 127.0.0.1 8000
 */
#include <corio.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define NS_PER_S 1000000000ull

struct args {
	const char *host, *port;
	uint64_t idle_ns, read_ns; /* the server's stream timeouts */
	long threads;              /* -1: one loop on this thread; 0: one per CPU */
};

/* The connection a task works for: set by its handler, inherited by the
 * tasks it spawns. */
static corio_local_key conn_key;
static atomic_uintptr_t conns_seen; /* over every loop */

/* A log line, prefixed with the calling task's connection number. */
static void log_line(const char *fmt, ...)
{
	uintptr_t id = (uintptr_t)corio_local_get(conn_key);
	va_list ap;
	va_start(ap, fmt);
	if (id)
		printf("[conn %lu] ", (unsigned long)id);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

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

/* The echo itself, in a task of its own spawned by the handler: its log
 * lines carry the connection number it inherited. */
static void *echo_loop(void *arg)
{
	corio_conn *c = arg;
	char buf[8192], shown[11];
	ssize_t n;
	while ((n = corio_stream_read(c->stream, buf, sizeof(buf))) > 0) {
		preview(buf, (size_t)n, shown);
		log_line("Sending '%s'... back", shown);
		if ((n = corio_stream_write(c->stream, buf, (size_t)n)) < 0)
			break;
	}
	return (void *)(intptr_t)n;
}

static void *handle_connection(void *arg)
{
	corio_conn *c = arg;
	corio_local_set(conn_key, (void *)(atomic_fetch_add(&conns_seen, 1) + 1));
	char who[NI_MAXHOST + NI_MAXSERV + 2];
	peer_name(c, who, sizeof(who));
	log_line("New connection from %s", who);
	/* in a group: if the server cancels this handler (its grace ran
	 * out), the group and the echo task in it are cancelled with it */
	intptr_t n = -ENOMEM;
	corio_group *g;
	if (corio_group_new(&g) == 0) {
		if (corio_group_spawn(g, NULL, echo_loop, c) == 0) {
			corio_task *t = corio_group_next(g); /* NULL if we were cancelled */
			void *res = NULL;
			if (t && corio_join(t, &res) == 0)
				n = (intptr_t)res;
			else
				n = -ECANCELED;
		}
		corio_group_free(g); /* cancels and joins whatever is left */
	}
	log_line("Connection from %s %s", who, n == -ETIMEDOUT ? "timed out" : "closed");
	return NULL; /* corio_serve closes the stream, flushing it first */
}

static const int stop_signals[] = {SIGINT, SIGTERM, 0};

static corio_serve_options serve_options(const struct args *a)
{
	return (corio_serve_options){
		.stop_signals = stop_signals,
		.grace_ns = 1000ull * 1000 * 1000, /* clients get a second, then are cut */
		/* without these a client that never sends holds its task forever */
		.idle_timeout_ns = a->idle_ns,
		.read_timeout_ns = a->read_ns,
	};
}

static void say_serving(int port, void *arg)
{
	const struct args *a = arg;
	printf("Serving on %s:%d with %ld loop(s). Hit Ctrl-C to stop.\n", a->host, port,
	       a->threads);
}

/* --threads: a loop per thread, each with its own listener (SIGINT and
 * SIGTERM stop them all gracefully: corio_serve_threads()). */
static int echo_server_threads(struct args *a)
{
	if (corio_local_key_new(&conn_key, NULL))
		return 1;
	if (!a->threads) {
		cpu_set_t set;
		a->threads = sched_getaffinity(0, sizeof(set), &set) ? 1 : CPU_COUNT(&set);
	}
	corio_serve_options o = serve_options(a);
	corio_serve_threads_options to = {.threads = (unsigned)a->threads,
					  .ready = say_serving, .ready_arg = a};
	int err = corio_serve_threads(a->host, a->port, handle_connection, &o, &to);
	if (err) {
		fprintf(stderr, "echo_server: %s:%s: %s\n", a->host, a->port, corio_strerror(err));
		return 1;
	}
	printf("\nServer shut down.\n");
	return 0;
}

static void *echo_server(void *arg)
{
	struct args *a = arg;
	int kerr = corio_local_key_new(&conn_key, NULL);
	if (kerr)
		return CORIO_ERR_PTR(kerr);
	int lfd = corio_tcp_listen(a->host, a->port, 128, 0);
	if (lfd < 0) {
		fprintf(stderr, "echo_server: cannot listen on %s:%s: %s\n", a->host, a->port,
			corio_strerror(lfd));
		return CORIO_ERR_PTR(lfd);
	}
	printf("Serving on %s:%d. Hit Ctrl-C to stop.\n", a->host, corio_sock_port(lfd));
	corio_serve_options o = serve_options(a);
	int err = corio_serve(lfd, handle_connection, &o);
	corio_close(lfd);
	/* what serving cost, in counts no machine noise moves */
	corio_loop_stats st;
	if (!corio_loop_get_stats(corio_current_loop(), &st))
		printf("Loop counters: %llu turns, %llu system calls, %llu ops, %llu completions, "
		       "%llu task switches.\n",
		       (unsigned long long)st.turns, (unsigned long long)st.enters,
		       (unsigned long long)st.sqes, (unsigned long long)st.cqes,
		       (unsigned long long)st.switches);
	return err ? CORIO_ERR_PTR(err) : NULL;
}

static void usage(FILE *f)
{
	fputs("usage: echo_server [-i SECONDS] [-r SECONDS] [-t N] [HOST [PORT]]\n"
	      "Echo back what each client sends, one task per client, on HOST\n"
	      "(default 127.0.0.1) and PORT (default 8000; 0 picks a free port,\n"
	      "shown at start).  Ctrl-C stops the server gracefully.\n"
	      "  -i, --idle-timeout SECONDS  drop a client when nothing moves for\n"
	      "                              this long (default 60)\n"
	      "  -r, --read-timeout SECONDS  drop a client when a read waits this\n"
	      "                              long for data (default 60)\n"
	      "  -t, --threads N             N loops, one per thread, each with\n"
	      "                              its own listener (0: one per CPU)\n"
	      "  -h, --help                  show this help\n",
	      f);
}

/* @s seconds (> 0, at most a day) in *@ns; -1 if @s is not such a number. */
static int parse_timeout(const char *s, uint64_t *ns)
{
	char *end;
	double secs = strtod(s, &end);
	if (end == s || *end || !(secs > 0 && secs <= 86400))
		return -1;
	*ns = (uint64_t)(secs * (double)NS_PER_S);
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{"idle-timeout", required_argument, NULL, 'i'},
		{"read-timeout", required_argument, NULL, 'r'},
		{"threads", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "i:r:t:h", longopts, NULL)) != -1) {
		if (opt == 'h')
			return usage(stdout), 0;
		if (opt == 't') {
			char *end;
			a->threads = strtol(optarg, &end, 10);
			if (end == optarg || *end || a->threads < 0 || a->threads > 1024) {
				fprintf(stderr, "echo_server: %s: not a thread count\n", optarg);
				return usage(stderr), 2;
			}
			continue;
		}
		uint64_t *to = opt == 'i' ? &a->idle_ns : opt == 'r' ? &a->read_ns : NULL;
		if (!to)
			return usage(stderr), 2;
		if (parse_timeout(optarg, to)) {
			fprintf(stderr, "echo_server: %s: not a number of seconds in (0, 86400]\n",
				optarg);
			return usage(stderr), 2;
		}
	}
	if (argc - optind > 2)
		return usage(stderr), 2;
	if (optind < argc)
		a->host = argv[optind];
	if (optind + 1 < argc)
		a->port = argv[optind + 1];
	return -1; /* go on and serve */
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct args a = {"127.0.0.1", "8000", 60 * NS_PER_S, 60 * NS_PER_S, -1};
	int status = parse_args(argc, argv, &a);
	if (status >= 0)
		return status;
	if (a.threads >= 0)
		return echo_server_threads(&a);
	void *res = NULL;
	int err = corio_run(echo_server, &a, &res);
	if (err || corio_is_err(res))
		return 1;
	printf("\nServer shut down.\n");
	return 0;
}
