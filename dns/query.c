/* SPDX-License-Identifier: MIT */
/*
 * query.c - corio_dns_query(): a raw record query (ares_search, so the
 * search domains apply as with res_search) whose reply is copied out for
 * the caller; parse.c reads it.
 */
#include "dns_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

CORIO__DNS_ERRORS_AT_LOAD

#define CLASS_IN 1

struct query_req {
	struct corio__dns_req r;
	const char *name; /* the caller's: read only while it waits */
	int type;
	unsigned char *buf; /* copy of the reply */
	size_t len;
};

static void query_callback(void *arg, int status, int timeouts, unsigned char *abuf,
			   int alen)
{
	(void)timeouts;
	struct query_req *q = arg;
	if (status == ARES_SUCCESS && abuf && alen > 0) {
		q->buf = malloc((size_t)alen);
		if (q->buf) {
			memcpy(q->buf, abuf, (size_t)alen);
			q->len = (size_t)alen;
		} else {
			status = ARES_ENOMEM;
		}
	} else if (status == ARES_SUCCESS) {
		status = ARES_EBADRESP;
	}
	corio__dns_finish(&q->r, status);
}

static void query_start(struct corio__dns_req *r)
{
	struct query_req *q = corio__container_of(r, struct query_req, r);
	ares_search(r->dns->ch, q->name, CLASS_IN, q->type, query_callback, q);
}

static void query_drop(struct corio__dns_req *r)
{
	struct query_req *q = corio__container_of(r, struct query_req, r);
	free(q->buf);
	free(q);
}

static int run(struct corio__dns *d, struct query_req *q, unsigned char **answer,
	       size_t *len)
{
	int err = corio__dns_run(d, &q->r);
	if (err)
		return err; /* interrupted: q is the resolver's now */
	err = corio__dns_req_error(&q->r);
	if (!err) {
		*answer = q->buf;
		*len = q->len;
		q->buf = NULL;
	}
	query_drop(&q->r);
	return err;
}

int corio_dns_query(const char *name, int type, unsigned char **answer, size_t *len)
{
	if (!name || !answer || !len || type < 1 || type > 65535)
		return -EINVAL;
	corio_task *t = corio_self();
	if (!t)
		return -EPERM;
	int err = corio__interrupted(t);
	if (err || (err = corio__dns_check_name(name)))
		return err;
	struct corio__dns *d;
	if ((err = corio__dns_get(corio__tls_loop, &d)))
		return err;
	if (d->no_servers)
		return CORIO_ECONNECTION; /* c-ares would say ESERVFAIL */
	struct query_req *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->r.start = query_start;
	q->r.drop = query_drop;
	q->name = name;
	q->r.name = name;
	q->type = type;
	return run(d, q, answer, len);
}

void corio_dns_free(void *p)
{
	free(p);
}
