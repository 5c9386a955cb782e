/* SPDX-License-Identifier: MIT */
/*
 * tests/soak/soak_server.c - the server side of the soak and of the stress
 * suite: corio_serve() echoing every byte back, or corio_http_serve()
 * answering "ok" (--http).  Silent per connection (unlike
 * examples/echo_server, which logs every read), so that its RSS and fd
 * count are the runtime's, not stdio's.  It prints one line once it
 * listens, "port P backend B pid N", and on SIGINT/SIGTERM stops
 * gracefully, printing the server's counters.
 *
 *   soak_server [-n NOFILE] [-i IDLE_S] [-H HEAD_S] [-K KEEPALIVE_S] [--http] [PORT]
 *
 * -n sets RLIMIT_NOFILE (default: raised to the hard limit), so that a
 * test can make accept run out of descriptors in this process only.
 */
#include <corio.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define NS_PER_S 1000000000ull

struct args {
	const char *port;
	long nofile;      /* 0: raise to the hard limit */
	double idle_s;    /* stream idle timeout; 0: none */
	double head_s;    /* --http: head timeout; 0: the default */
	double keep_s;    /* --http: keep-alive timeout; 0: the default */
	int http;
};

static const int stop_signals[] = {SIGINT, SIGTERM, 0};

static void *echo_handler(void *arg)
{
	corio_conn *c = arg;
	char buf[16384];
	ssize_t n;
	while ((n = corio_stream_read(c->stream, buf, sizeof(buf))) > 0)
		if (corio_stream_write(c->stream, buf, (size_t)n) < 0)
			break;
	return NULL;
}

static int http_handler(corio_http_request *r, void *arg)
{
	(void)arg;
	return corio_http_respond(r, 200, "text/plain", "ok\n", 3);
}

static void print_stats(const corio_serve_stats *st)
{
	printf("stopped accepted %llu peak %llu accept_errors %llu cancelled %llu\n",
	       (unsigned long long)st->accepted, (unsigned long long)st->peak,
	       (unsigned long long)st->accept_errors, (unsigned long long)st->cancelled);
}

static int serve_echo(int lfd, const struct args *a)
{
	corio_serve_options o = {
		.stop_signals = stop_signals,
		.grace_ns = NS_PER_S,
		.idle_timeout_ns = (uint64_t)(a->idle_s * (double)NS_PER_S),
	};
	corio_server *s;
	int err = corio_server_new(&s, lfd, echo_handler, &o);
	if (err)
		return err;
	err = corio_server_run(s);
	corio_serve_stats st;
	corio_server_stats(s, &st);
	print_stats(&st);
	corio_server_free(s);
	return err;
}

static void *server_main(void *arg)
{
	const struct args *a = arg;
	int lfd = corio_tcp_listen("127.0.0.1", a->port, 4096, 0);
	if (lfd < 0) {
		fprintf(stderr, "soak_server: listen on %s: %s\n", a->port, corio_strerror(lfd));
		return CORIO_ERR_PTR(lfd);
	}
	printf("port %d backend %s pid %ld\n", corio_sock_port(lfd),
	       corio_loop_backend(corio_current_loop()), (long)getpid());
	int err;
	if (a->http) {
		corio_http_serve_options o = {
			.serve = {.stop_signals = stop_signals, .grace_ns = NS_PER_S},
			.head_timeout_ns = (uint64_t)(a->head_s * (double)NS_PER_S),
			.keepalive_timeout_ns = (uint64_t)(a->keep_s * (double)NS_PER_S),
		};
		err = corio_http_serve(lfd, http_handler, NULL, &o);
		printf("stopped\n");
	} else {
		err = serve_echo(lfd, a);
	}
	corio_close(lfd);
	return err ? CORIO_ERR_PTR(err) : NULL;
}

static int set_nofile(long n)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	rl.rlim_cur = n > 0 ? (rlim_t)n : rl.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &rl) ? -errno : 0;
}

static int usage(void)
{
	fputs("usage: soak_server [-n NOFILE] [-i IDLE_S] [-H HEAD_S] [-K KEEPALIVE_S] [--http]\n"
	      "                   [PORT]\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"nofile", required_argument, NULL, 'n'},
		{"idle", required_argument, NULL, 'i'},
		{"head", required_argument, NULL, 'H'},
		{"keepalive", required_argument, NULL, 'K'},
		{"http", no_argument, NULL, 'w'},
		{0},
	};
	struct args a = {.port = "0", .idle_s = 300};
	int opt;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt_long(argc, argv, "n:i:H:K:", longopts, NULL)) != -1) {
		if (opt == 'n')
			a.nofile = atol(optarg);
		else if (opt == 'i')
			a.idle_s = atof(optarg);
		else if (opt == 'H')
			a.head_s = atof(optarg);
		else if (opt == 'K')
			a.keep_s = atof(optarg);
		else if (opt == 'w')
			a.http = 1;
		else
			return usage();
	}
	if (argc - optind > 1)
		return usage();
	if (optind < argc)
		a.port = argv[optind];
	int err = set_nofile(a.nofile);
	if (err) {
		fprintf(stderr, "soak_server: RLIMIT_NOFILE: %s\n", corio_strerror(err));
		return 1;
	}
	void *res = NULL;
	err = corio_run(server_main, &a, &res);
	if (err || corio_is_err(res)) {
		fprintf(stderr, "soak_server: %s\n", corio_strerror(err ? err : (int)(intptr_t)res));
		return 1;
	}
	return 0;
}
