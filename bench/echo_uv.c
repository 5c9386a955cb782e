/* SPDX-License-Identifier: MIT */
/*
 * bench/echo_uv.c - the libuv peer for bench-echo: the classic libuv echo
 * server (the read callback hands its buffer to a write request, the write
 * callback gives it back), with buffers from a free list rather than a
 * fresh 64 KiB malloc per read (which makes glibc trim and regrow its heap
 * on every message), and TCP_NODELAY like the others.  Listens on
 * 127.0.0.1, prints "PORT <n>", stops on SIGTERM or SIGINT.
 *
 *   bench-echo-uv [port]
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#define BUFSZ 65536

/* A write request and the buffer it sends, recycled through a free list. */
struct wreq {
	char data[BUFSZ]; /* first: a read buffer's address is its wreq's */
	uv_write_t req;
	uv_buf_t buf;
	struct wreq *next;
};

static uv_loop_t *loop;
static struct wreq *pool;

static struct wreq *get(void)
{
	struct wreq *w = pool;
	if (w)
		pool = w->next;
	else
		w = malloc(sizeof(*w));
	return w;
}

static void put(struct wreq *w)
{
	w->next = pool;
	pool = w;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	struct wreq *w = get();
	buf->base = w ? w->data : NULL;
	buf->len = w ? BUFSZ : 0;
}

static void on_close(uv_handle_t *h)
{
	free(h);
}

static void on_written(uv_write_t *req, int status)
{
	(void)status;
	put((struct wreq *)(void *)((char *)req - offsetof(struct wreq, req)));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct wreq *w = (struct wreq *)(void *)buf->base;
	if (n > 0) {
		w->buf = uv_buf_init(buf->base, (unsigned)n);
		if (uv_write(&w->req, s, &w->buf, 1, on_written) == 0)
			return;
	}
	if (w)
		put(w);
	if (n < 0 && !uv_is_closing((uv_handle_t *)s))
		uv_close((uv_handle_t *)s, on_close);
}

static void on_connection(uv_stream_t *server, int status)
{
	if (status < 0)
		return;
	uv_tcp_t *c = malloc(sizeof(*c));
	uv_tcp_init(loop, c);
	if (uv_accept(server, (uv_stream_t *)c) == 0) {
		uv_tcp_nodelay(c, 1);
		uv_read_start((uv_stream_t *)c, on_alloc, on_read);
	} else {
		uv_close((uv_handle_t *)c, on_close);
	}
}

static void on_signal(uv_signal_t *h, int sig)
{
	(void)sig;
	uv_stop(h->loop);
}

int main(int argc, char **argv)
{
	loop = uv_default_loop();
	uv_tcp_t server;
	uv_tcp_init(loop, &server);
	struct sockaddr_in addr;
	uv_ip4_addr("127.0.0.1", argc > 1 ? atoi(argv[1]) : 0, &addr);
	if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) ||
	    uv_listen((uv_stream_t *)&server, 4096, on_connection)) {
		fprintf(stderr, "bench-echo-uv: cannot listen\n");
		return 1;
	}
	int len = sizeof(addr);
	uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &len);
	printf("PORT %d\n", ntohs(addr.sin_port));
	fflush(stdout);
	uv_signal_t term, intr;
	uv_signal_init(loop, &term);
	uv_signal_start(&term, on_signal, SIGTERM);
	uv_signal_init(loop, &intr);
	uv_signal_start(&intr, on_signal, SIGINT);
	uv_run(loop, UV_RUN_DEFAULT);
	return 0;
}
