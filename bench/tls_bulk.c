/* SPDX-License-Identifier: MIT */
/*
 * bench/tls_bulk.c - the corio side of bench/tls.py's client-to-server bulk
 * figure: one TLS connection to 127.0.0.1:PORT, "GET PATH HTTP/1.0", then
 * everything the server sends is read through the TLS stream into one
 * buffer and dropped, as `openssl s_client -quiet >/dev/null` does with it.
 * The certificate is checked against CA_FILE for "localhost".  Prints the
 * plaintext bytes received (head included) and the seconds from connect
 * to the server's close_notify:
 *
 *   bench-tls-bulk PORT PATH CA_FILE   ->   "bytes=N seconds=S"
 *
 * Exit status 0 only if the stream ended with close_notify (a truncated
 * transfer is an error, not a figure).
 */
#include <corio.h>
#include <corio/tls.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUF_SIZE (256 * 1024)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct job {
	const char *port, *path, *ca_file;
	uint64_t bytes;
	double seconds;
};

static void *fetch(void *arg)
{
	struct job *j = arg;
	corio_tls_options o = { .ca_file = j->ca_file, .min_version = 0x0304 };
	corio_tls_ctx *ctx = NULL;
	corio_stream *s = NULL;
	char *buf = malloc(BUF_SIZE);
	char req[512];
	intptr_t err = -ENOMEM;

	if (!buf)
		return (void *)err;
	err = corio_tls_ctx_new(&ctx, &o);
	if (err < 0)
		goto out;
	uint64_t t0 = now_ns();
	int fd = corio_tcp_connect("127.0.0.1", j->port);
	if (fd < 0) {
		err = fd;
		goto out;
	}
	err = corio_tls_stream_new(&s, fd, ctx, "localhost");
	if (err < 0)
		goto out;
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", j->path);
	err = corio_stream_write(s, req, (size_t)n);
	if (err >= 0)
		err = corio_stream_flush(s);
	while (err >= 0) {
		ssize_t got = corio_stream_read(s, buf, BUF_SIZE);
		if (got <= 0) {
			err = got;
			break;
		}
		j->bytes += (uint64_t)got;
	}
	j->seconds = (double)(now_ns() - t0) / 1e9;
out:
	if (s)
		corio_stream_close(s);
	corio_tls_ctx_free(ctx);
	free(buf);
	return (void *)err;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: bench-tls-bulk PORT PATH CA_FILE\n");
		return 2;
	}
	struct job j = { .port = argv[1], .path = argv[2], .ca_file = argv[3] };
	void *res = NULL;
	int rc = corio_run(fetch, &j, &res);
	if (rc < 0 || (intptr_t)res < 0) {
		fprintf(stderr, "bench-tls-bulk: %s\n",
			corio_strerror(rc < 0 ? rc : (int)(intptr_t)res));
		return 1;
	}
	printf("bytes=%llu seconds=%.6f\n", (unsigned long long)j.bytes, j.seconds);
	return 0;
}
