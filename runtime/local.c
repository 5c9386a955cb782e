/* SPDX-License-Identifier: MIT */
/*
 * local.c - task-local values (asyncio's contextvars): keys made once per
 * process, a value per task and key.  A spawned task starts with its
 * parent's values; later sets on either side stay their own.  A value is
 * boxed with a count of the tasks holding it, so that its destructor runs
 * once, when the last of them lets go (sets another value or ends).
 *
 *   task A ---locals---> [ box0 | NULL | box2 ]      box: refs, value
 *   task B (spawned by A) shares box0 and box2 (refs 2) until it sets its own
 */
#include "corio_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 1024u

struct corio__local {
	unsigned refs;  /* tasks holding it (all on one loop, one thread) */
	unsigned key;   /* index, for the destructor */
	void *value;
};

struct corio__locals {
	unsigned n;                   /* slots in v */
	struct corio__local *v[];     /* by key - 1; NULL: no value */
};

static atomic_uint nkeys;
static void (*dtors[MAX_KEYS])(void *);

int corio_local_key_new(corio_local_key *out, void (*dtor)(void *))
{
	if (!out)
		return -EINVAL;
	unsigned k = atomic_fetch_add(&nkeys, 1);
	if (k >= MAX_KEYS)
		return -EAGAIN; /* keys are few and never freed, like pthread's */
	dtors[k] = dtor;
	*out = k + 1; /* 0 stays invalid: a zeroed key is never valid */
	return 0;
}

void *corio_local_get(corio_local_key key)
{
	corio_task *t = corio__current();
	struct corio__locals *ls = t ? t->locals : NULL;
	if (!ls || key - 1 >= ls->n)
		return NULL;
	struct corio__local *b = ls->v[key - 1];
	return b ? b->value : NULL;
}

static void drop(struct corio__local *b)
{
	if (b && !--b->refs) {
		void (*dtor)(void *) = dtors[b->key];
		void *v = b->value;
		free(b);
		if (dtor && v)
			dtor(v);
	}
}

/* Room for @key in @t's slots. */
static int reserve(corio_task *t, unsigned key)
{
	struct corio__locals *ls = t->locals;
	if (ls && key <= ls->n)
		return 0;
	unsigned n = ls ? ls->n : 0, want = n ? n : 4;
	while (want < key)
		want *= 2;
	struct corio__locals *g = realloc(ls, sizeof(*g) + want * sizeof(g->v[0]));
	if (!g)
		return -ENOMEM;
	memset(g->v + n, 0, (want - n) * sizeof(g->v[0]));
	g->n = want;
	t->locals = g;
	return 0;
}

int corio_local_set(corio_local_key key, void *value)
{
	corio_task *t = corio__current();
	if (!t)
		return -EPERM;
	if (key == 0 || key > atomic_load(&nkeys) || key > MAX_KEYS)
		return -EINVAL;
	struct corio__locals *ls = t->locals;
	struct corio__local *cur = ls && key <= ls->n ? ls->v[key - 1] : NULL;
	if (cur && cur->value == value)
		return 0; /* already ours (or shared): a new box would destroy it */
	struct corio__local *b = NULL;
	if (value) {
		b = malloc(sizeof(*b));
		if (!b)
			return -ENOMEM;
		*b = (struct corio__local){.refs = 1, .key = key - 1, .value = value};
	}
	int err = reserve(t, key);
	if (err) {
		free(b);
		return err;
	}
	struct corio__local *old = t->locals->v[key - 1];
	t->locals->v[key - 1] = b;
	drop(old);
	return 0;
}

int corio__locals_inherit(corio_task *child, const corio_task *parent)
{
	const struct corio__locals *p = parent->locals;
	if (!p)
		return 0;
	size_t bytes = sizeof(*p) + p->n * sizeof(p->v[0]);
	struct corio__locals *c = malloc(bytes);
	if (!c)
		return -ENOMEM;
	memcpy(c, p, bytes);
	for (unsigned i = 0; i < c->n; i++)
		if (c->v[i])
			c->v[i]->refs++;
	child->locals = c;
	return 0;
}

void corio__locals_release(corio_task *t)
{
	/* a destructor may set values again: let go until none is left */
	struct corio__locals *ls;
	while ((ls = t->locals)) {
		t->locals = NULL;
		for (unsigned i = 0; i < ls->n; i++)
			drop(ls->v[i]);
		free(ls);
	}
}
