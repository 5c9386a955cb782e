/* SPDX-License-Identifier: MIT */
/*
 * parse.c - the corio_dns_parse_*() helpers.  MX, TXT and SRV go through
 * c-ares's parsers; CNAME (which c-ares 1.18 has no parser for) through a
 * small walk of the answer section.  Each result is repacked into one
 * allocation, the array first and its strings after it:
 *
 *   +---------+---------+-----+------------------------------+
 *   | rec[0]  | rec[1]  | ... | "str0\0" "str1\0" ...        |
 *   +---------+---------+-----+------------------------------+
 *
 * so that corio_dns_free() (free) releases everything at once.
 */
#include "dns_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

CORIO__DNS_ERRORS_AT_LOAD

#define HEADER_LEN 12
#define RR_FIXED_LEN 10 /* type, class, ttl, rdlength */
#define TYPE_CNAME 5

static int parse_error(int status)
{
	switch (status) {
	case ARES_ENODATA: return CORIO_ENODATA;
	case ARES_ENOMEM: return -ENOMEM;
	default: return CORIO_EBADRESP;
	}
}

static int check_args(const unsigned char *answer, size_t len, const void *out,
		      const size_t *n)
{
	if (!answer || !out || !n)
		return -EINVAL;
	return len > INT_MAX || len < HEADER_LEN ? CORIO_EBADRESP : 0;
}

/* Copy @s to *@cursor and advance it; return the copy. */
static char *pack(char **cursor, const void *s, size_t len)
{
	char *dst = *cursor;
	memcpy(dst, s, len);
	dst[len] = 0;
	*cursor += len + 1;
	return dst;
}

/* ---- MX ---------------------------------------------------------------- */

int corio_dns_parse_mx(const unsigned char *answer, size_t len, corio_dns_mx **out, size_t *n)
{
	int err = check_args(answer, len, out, n);
	if (err)
		return err;
	struct ares_mx_reply *mx = NULL;
	int st = ares_parse_mx_reply(answer, (int)len, &mx);
	if (st != ARES_SUCCESS)
		return parse_error(st);
	size_t count = 0, bytes = 0;
	for (struct ares_mx_reply *p = mx; p; p = p->next, count++)
		bytes += strlen(p->host) + 1;
	corio_dns_mx *arr = count ? malloc(count * sizeof(*arr) + bytes) : NULL;
	if (arr) {
		char *cur = (char *)(arr + count);
		size_t i = 0;
		for (struct ares_mx_reply *p = mx; p; p = p->next, i++) {
			arr[i].host = pack(&cur, p->host, strlen(p->host));
			arr[i].priority = p->priority;
		}
		*out = arr;
		*n = count;
	}
	ares_free_data(mx);
	return arr ? 0 : count ? -ENOMEM : CORIO_ENODATA;
}

/* ---- SRV --------------------------------------------------------------- */

int corio_dns_parse_srv(const unsigned char *answer, size_t len, corio_dns_srv **out,
			size_t *n)
{
	int err = check_args(answer, len, out, n);
	if (err)
		return err;
	struct ares_srv_reply *srv = NULL;
	int st = ares_parse_srv_reply(answer, (int)len, &srv);
	if (st != ARES_SUCCESS)
		return parse_error(st);
	size_t count = 0, bytes = 0;
	for (struct ares_srv_reply *p = srv; p; p = p->next, count++)
		bytes += strlen(p->host) + 1;
	corio_dns_srv *arr = count ? malloc(count * sizeof(*arr) + bytes) : NULL;
	if (arr) {
		char *cur = (char *)(arr + count);
		size_t i = 0;
		for (struct ares_srv_reply *p = srv; p; p = p->next, i++) {
			arr[i].target = pack(&cur, p->host, strlen(p->host));
			arr[i].priority = p->priority;
			arr[i].weight = p->weight;
			arr[i].port = p->port;
		}
		*out = arr;
		*n = count;
	}
	ares_free_data(srv);
	return arr ? 0 : count ? -ENOMEM : CORIO_ENODATA;
}

/* ---- TXT --------------------------------------------------------------- */

/* c-ares returns one chunk per character-string, flagged where a record
 * starts; a record is the concatenation of its chunks. */
static void txt_sizes(const struct ares_txt_ext *txt, size_t *records, size_t *bytes)
{
	*records = *bytes = 0;
	for (const struct ares_txt_ext *p = txt; p; p = p->next) {
		if (p->record_start || !*records) {
			++*records;
			++*bytes; /* the record's NUL */
		}
		*bytes += p->length;
	}
}

static void txt_fill(const struct ares_txt_ext *txt, corio_dns_txt *arr, size_t records)
{
	unsigned char *cur = (unsigned char *)(arr + records);
	corio_dns_txt *rec = NULL;
	for (const struct ares_txt_ext *p = txt; p; p = p->next) {
		if (p->record_start || !rec) {
			if (rec)
				*cur++ = 0;
			rec = rec ? rec + 1 : arr;
			rec->data = cur;
			rec->len = 0;
		}
		memcpy(cur, p->txt, p->length);
		cur += p->length;
		rec->len += p->length;
	}
	if (rec)
		*cur = 0;
}

int corio_dns_parse_txt(const unsigned char *answer, size_t len, corio_dns_txt **out,
			size_t *n)
{
	int err = check_args(answer, len, out, n);
	if (err)
		return err;
	struct ares_txt_ext *txt = NULL;
	int st = ares_parse_txt_reply_ext(answer, (int)len, &txt);
	if (st != ARES_SUCCESS)
		return parse_error(st);
	size_t records, bytes;
	txt_sizes(txt, &records, &bytes);
	corio_dns_txt *arr = records ? malloc(records * sizeof(*arr) + bytes) : NULL;
	if (arr) {
		txt_fill(txt, arr, records);
		*out = arr;
		*n = records;
	}
	ares_free_data(txt);
	return arr ? 0 : records ? -ENOMEM : CORIO_ENODATA;
}

/* ---- CNAME ------------------------------------------------------------- */

struct cname_walk {
	corio_dns_cname *arr; /* NULL on the sizing pass */
	char *cur;
	size_t count, bytes;
};

static int skip_name(const unsigned char *a, size_t len, size_t *pos)
{
	char *name;
	long enc;
	if (ares_expand_name(a + *pos, a, (int)len, &name, &enc) != ARES_SUCCESS)
		return CORIO_EBADRESP;
	ares_free_string(name);
	*pos += (size_t)enc;
	return 0;
}

/* One CNAME record at @pos (its owner name) with rdata at @rdata. */
static int cname_record(const unsigned char *a, size_t len, size_t pos, size_t rdata,
			struct cname_walk *w)
{
	char *owner, *target;
	long enc;
	if (ares_expand_name(a + pos, a, (int)len, &owner, &enc) != ARES_SUCCESS)
		return CORIO_EBADRESP;
	if (ares_expand_name(a + rdata, a, (int)len, &target, &enc) != ARES_SUCCESS) {
		ares_free_string(owner);
		return CORIO_EBADRESP;
	}
	if (w->arr) {
		w->arr[w->count].name = pack(&w->cur, owner, strlen(owner));
		w->arr[w->count].target = pack(&w->cur, target, strlen(target));
	}
	w->count++;
	w->bytes += strlen(owner) + strlen(target) + 2;
	ares_free_string(owner);
	ares_free_string(target);
	return 0;
}

static int cname_walk(const unsigned char *a, size_t len, struct cname_walk *w)
{
	unsigned qd = (unsigned)a[4] << 8 | a[5], an = (unsigned)a[6] << 8 | a[7];
	size_t pos = HEADER_LEN;
	int err = 0;
	for (unsigned i = 0; i < qd && !err; i++) {
		err = skip_name(a, len, &pos);
		pos += 4; /* qtype, qclass */
		if (pos > len)
			return CORIO_EBADRESP;
	}
	for (unsigned i = 0; i < an && !err; i++) {
		size_t owner = pos;
		if (pos >= len)
			return CORIO_EBADRESP;
		if ((err = skip_name(a, len, &pos)))
			break;
		if (pos + RR_FIXED_LEN > len)
			return CORIO_EBADRESP;
		unsigned type = (unsigned)a[pos] << 8 | a[pos + 1];
		size_t rdlen = (size_t)a[pos + 8] << 8 | a[pos + 9];
		pos += RR_FIXED_LEN;
		if (pos + rdlen > len)
			return CORIO_EBADRESP;
		if (type == TYPE_CNAME)
			err = cname_record(a, len, owner, pos, w);
		pos += rdlen;
	}
	return err;
}

int corio_dns_parse_cname(const unsigned char *answer, size_t len, corio_dns_cname **out,
			  size_t *n)
{
	int err = check_args(answer, len, out, n);
	if (err)
		return err;
	struct cname_walk w = {0};
	if ((err = cname_walk(answer, len, &w)))
		return err;
	if (!w.count)
		return CORIO_ENODATA;
	size_t count = w.count;
	w.arr = malloc(count * sizeof(*w.arr) + w.bytes);
	if (!w.arr)
		return -ENOMEM;
	w.cur = (char *)(w.arr + count);
	w.count = w.bytes = 0;
	if ((err = cname_walk(answer, len, &w))) {
		free(w.arr);
		return err;
	}
	*out = w.arr;
	*n = count;
	return 0;
}
