/* SPDX-License-Identifier: MIT */
/*
 * hosts.c - /etc/hosts, read once per loop and kept in memory: forward
 * lookups (every line that lists the name, in file order, the line's first
 * name being the canonical one) and reverse lookups (the first name of the
 * first line with the address).  c-ares 1.18 re-reads the file for every
 * lookup, five system calls each time; here the file is stat()ed at most
 * once a second and parsed again only when it changed, as newer c-ares and
 * nscd do.  Names match case-insensitively through a hash table, so large
 * block-list hosts files stay cheap.
 */
#include "dns_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define RECHECK_NS 1000000000ull
#define DEFAULT_PATH "/etc/hosts"

struct hosts_line {
	struct corio__dns_addr addr;
	uint32_t canon; /* offset of the line's first name in the pool */
};

/* One name of one line; the hash table's slots point at these. */
struct hosts_name {
	uint32_t name; /* offset in the pool */
	uint32_t line;
};

#define EMPTY UINT32_MAX

struct corio__hosts {
	char *pool; /* the names, NUL-terminated, as written */
	size_t pool_len, pool_cap;
	struct hosts_line *lines;
	size_t nlines, lines_cap;
	struct hosts_name *names; /* in file order */
	size_t nnames, names_cap;
	uint32_t *slots;          /* index into names, or EMPTY; linear probing */
	size_t nslots;
	uint64_t checked;         /* when the file was last stat()ed */
	struct stat st;           /* what it looked like then */
	bool loaded;
};

/* ---- building the table -------------------------------------------------- */

static uint32_t hash_name(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint32_t)tolower((unsigned char)*s)) * 16777619u;
	return h;
}

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 64;
	while (n < need)
		n *= 2;
	void *p = realloc(*v, n * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = n;
	return 0;
}

/* Linear probing with no deletion: a name's entries lie along its probe
 * sequence in the order they were inserted, which is file order. */
static void slot_put(struct corio__hosts *h, uint32_t idx)
{
	size_t mask = h->nslots - 1;
	size_t i = hash_name(h->pool + h->names[idx].name) & mask;
	while (h->slots[i] != EMPTY)
		i = (i + 1) & mask;
	h->slots[i] = idx;
}

static int rehash(struct corio__hosts *h, size_t nslots)
{
	uint32_t *slots = malloc(nslots * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	free(h->slots);
	h->slots = slots;
	h->nslots = nslots;
	for (size_t i = 0; i < nslots; i++)
		slots[i] = EMPTY;
	for (size_t i = 0; i < h->nnames; i++)
		slot_put(h, (uint32_t)i);
	return 0;
}

static int add_name(struct corio__hosts *h, const char *name, size_t len, uint32_t line)
{
	if (h->pool_len + len + 1 >= EMPTY || h->nnames + 1 >= EMPTY ||
	    grow((void **)&h->pool, &h->pool_cap, h->pool_len + len + 1, 1) ||
	    grow((void **)&h->names, &h->names_cap, h->nnames + 1, sizeof(*h->names)))
		return -ENOMEM;
	if ((h->nnames + 1) * 2 > h->nslots && rehash(h, h->nslots ? h->nslots * 2 : 256))
		return -ENOMEM;
	uint32_t off = (uint32_t)h->pool_len;
	memcpy(h->pool + off, name, len);
	h->pool[off + len] = 0;
	h->pool_len += len + 1;
	if (h->lines[line].canon == EMPTY)
		h->lines[line].canon = off;
	h->names[h->nnames] = (struct hosts_name){off, line};
	slot_put(h, (uint32_t)h->nnames++);
	return 0;
}

static bool parse_addr(const char *tok, struct corio__dns_addr *a)
{
	char buf[INET6_ADDRSTRLEN];
	size_t n = strcspn(tok, "%"); /* a scope is not kept */
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, tok, n);
	buf[n] = 0;
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, buf, &a->a.v4) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, &a->a.v6) == 1)
		a->family = AF_INET6;
	return a->family != 0;
}

/* One line: "address name [alias...] [# comment]". */
static int parse_line(struct corio__hosts *h, char *line)
{
	line[strcspn(line, "#")] = 0;
	const char *sep = " \t\r\n";
	char *save, *tok = strtok_r(line, sep, &save);
	struct corio__dns_addr a;
	if (!tok || !parse_addr(tok, &a))
		return 0;
	if (grow((void **)&h->lines, &h->lines_cap, h->nlines + 1, sizeof(*h->lines)))
		return -ENOMEM;
	uint32_t idx = (uint32_t)h->nlines;
	h->lines[idx] = (struct hosts_line){a, EMPTY};
	while ((tok = strtok_r(NULL, sep, &save)))
		if (add_name(h, tok, strlen(tok), idx))
			return -ENOMEM;
	if (h->lines[idx].canon != EMPTY)
		h->nlines++; /* an address with no name is no entry */
	return 0;
}

static void hosts_clear(struct corio__hosts *h)
{
	h->pool_len = h->nlines = h->nnames = 0;
	for (size_t i = 0; i < h->nslots; i++)
		h->slots[i] = EMPTY;
}

static int hosts_parse(struct corio__hosts *h, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	int err = 0;
	while (!err && getline(&line, &cap, f) >= 0)
		err = parse_line(h, line);
	free(line);
	return err;
}

static int hosts_load(struct corio__hosts *h, const char *path)
{
	hosts_clear(h);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT || errno == EACCES ? 0 : -errno;
	int err = hosts_parse(h, f);
	fclose(f);
	return err;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The table, re-read if the file changed (looked at once a second). */
static struct corio__hosts *hosts_get(struct corio__dns *d)
{
	struct corio__hosts *h = d->hosts;
	if (!h && !(h = d->hosts = calloc(1, sizeof(*h))))
		return NULL;
	uint64_t now = corio__clock();
	if (h->loaded && now - h->checked < RECHECK_NS)
		return h;
	h->checked = now;
	const char *path = d->hosts_path ? d->hosts_path : DEFAULT_PATH;
	struct stat st;
	if (stat(path, &st) < 0)
		memset(&st, 0, sizeof(st)); /* gone: an empty table */
	if (h->loaded && same_file(&st, &h->st))
		return h;
	h->st = st;
	h->loaded = hosts_load(h, path) == 0;
	if (!h->loaded)
		hosts_clear(h); /* no memory: retry on the next lookup */
	return h;
}

int corio__hosts_read(struct corio__dns *d, FILE *f)
{
	struct corio__hosts *h = d->hosts;
	if (!h && !(h = d->hosts = calloc(1, sizeof(*h))))
		return -ENOMEM;
	hosts_clear(h);
	int err = hosts_parse(h, f);
	if (err)
		hosts_clear(h);
	h->loaded = err == 0;
	h->checked = corio__clock();
	memset(&h->st, 0, sizeof(h->st)); /* as for a file that is gone */
	return err;
}

/* ---- lookups ----------------------------------------------------------- */

void corio__hosts_free(struct corio__dns *d)
{
	struct corio__hosts *h = d->hosts;
	if (!h)
		return;
	free(h->pool);
	free(h->lines);
	free(h->names);
	free(h->slots);
	free(h);
	d->hosts = NULL;
}

int corio__hosts_find(struct corio__dns *d, const char *name, int family,
		      struct corio__dns_addrs *out)
{
	struct corio__hosts *h = hosts_get(d);
	if (!h || !h->nslots)
		return 0;
	size_t mask = h->nslots - 1, i = hash_name(name) & mask;
	for (; h->slots[i] != EMPTY; i = (i + 1) & mask) {
		const struct hosts_name *e = &h->names[h->slots[i]];
		if (strcasecmp(h->pool + e->name, name))
			continue;
		const struct hosts_line *l = &h->lines[e->line];
		if (family != AF_UNSPEC && l->addr.family != family)
			continue;
		if (!out->canon && !(out->canon = strdup(h->pool + l->canon)))
			return -ENOMEM;
		if (corio__dns_addrs_push(out, &l->addr))
			return -ENOMEM;
	}
	/* listed with the other family only: not found here, as with glibc's
	 * files service, and the servers are asked */
	return out->n ? 1 : 0;
}

const char *corio__hosts_name(struct corio__dns *d, int family, const void *addr)
{
	struct corio__hosts *h = hosts_get(d);
	size_t len = family == AF_INET ? 4 : 16;
	for (size_t i = 0; h && i < h->nlines; i++)
		if (h->lines[i].addr.family == family && !memcmp(&h->lines[i].addr.a, addr, len))
			return h->pool + h->lines[i].canon;
	return NULL;
}
