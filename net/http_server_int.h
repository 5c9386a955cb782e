/* SPDX-License-Identifier: MIT */
/*
 * http_server_int.h - the server's records (http_server.c): one server,
 * one connection per task (on that task's stack), one request per
 * connection at a time, reused for every request on it so that the hot
 * path allocates nothing.  Never installed.
 *
 *   conn ----- req (reused) ---- p, hdrs[] -> the head, in the stream's
 *    |                                         buffer (or hbuf once the
 *    |                                         handler reads the body)
 *    +-- out: responses of the current batch, one stream write per batch
 */
#ifndef CORIO_HTTP_SERVER_INT_H
#define CORIO_HTTP_SERVER_INT_H

#include "http_int.h"

struct corio__hsrv;

/* A growable byte buffer, kept for the connection's life. */
struct corio__hbuf {
	char *p;
	size_t len, cap;
};

enum corio__hresp {
	HRESP_NONE = 0, /* not answered yet */
	HRESP_DONE,     /* answered whole */
	HRESP_STREAM,   /* a streamed response is under way */
};

struct corio_http_request {
	struct corio__hconn *c;
	struct corio__http_request p; /* the parsed head */
	char *head;                   /* where the head lives now */
	size_t head_len;
	bool head_copied;             /* head moved to c->hcopy */
	bool is_head;                 /* method HEAD: no body in the answer */
	bool continue_sent;           /* "100 Continue" went out */
	bool close;                   /* the connection ends after this one */
	bool chunked;                 /* the streamed answer is chunked */
	bool no_body;                 /* the answer carries no body */
	uint8_t resp;                 /* enum corio__hresp */
	struct corio__http_reader body;
	struct corio__hbuf xh;        /* headers from corio_http_set_header */
};

struct corio__hconn {
	struct corio__hsrv *srv;
	corio_stream *s;
	corio_task *task;
	struct corio__node node;      /* on srv->idle while waiting for a request */
	bool idle;
	bool broken;                  /* a write failed, or a response was cut */
	int pipe[2];                  /* for splice, made on first use */
	struct corio__http_header *hdrs; /* srv->max_headers entries */
	struct corio__hbuf out;       /* the batch of responses */
	struct corio__hbuf hcopy;     /* the head, once the body is read */
	struct corio_http_request req;
};

struct corio__hsrv {
	corio_http_handler h;
	void *arg;
	corio_server *server;
	struct corio__http_limits lim;
	uint64_t head_ns, body_ns, idle_ns, max_body;
	const char *server_name;
	size_t server_name_len;
	corio_stream_options sopts;
	corio_tls_ctx *tls;           /* https: a server context, else NULL */
	struct corio__list idle;      /* connections waiting for a request */
};

#endif
