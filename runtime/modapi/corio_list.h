/* SPDX-License-Identifier: MIT */
/*
 * corio_list.h - the one intrusive doubly-linked list every part of corio
 * uses for its queues and registries.  A list is a head and a tail pointer;
 * a node is two links embedded in the record it lists.  Both are valid
 * when zero-initialised (an empty list, an unlinked node), so records made
 * with calloc or {0} need no init call.  Never installed.
 *
 *   list.head -> [a] <-> [b] <-> [c] <- list.tail     (a.prev, c.next: NULL)
 */
#ifndef CORIO_LIST_H
#define CORIO_LIST_H

#include "corio/sync.h" /* struct corio__node and corio__list */

#include <stdbool.h>
#include <stddef.h>

#define corio__container_of(ptr, type, member)                                         \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* The record holding node @n (NULL stays NULL). */
#define corio__list_entry(n, type, member)                                             \
	((n) ? corio__container_of((n), type, member) : (type *)NULL)

static inline bool corio__list_empty(const struct corio__list *l)
{
	return !l->head;
}

static inline void corio__list_push_back(struct corio__list *l, struct corio__node *n)
{
	n->next = NULL;
	n->prev = l->tail;
	if (l->tail)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
}

static inline void corio__list_push_front(struct corio__list *l, struct corio__node *n)
{
	n->prev = NULL;
	n->next = l->head;
	if (l->head)
		l->head->prev = n;
	else
		l->tail = n;
	l->head = n;
}

/* Take @n, which must be on @l, off it; its links are cleared. */
static inline void corio__list_remove(struct corio__list *l, struct corio__node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
}

static inline struct corio__node *corio__list_pop_front(struct corio__list *l)
{
	struct corio__node *n = l->head;
	if (n)
		corio__list_remove(l, n);
	return n;
}

/* Visit every node; @n may be removed (or the record freed) in the body. */
#define corio__list_for_each_safe(n, tmp, l)                                           \
	for ((n) = (l)->head, (tmp) = (n) ? (n)->next : NULL; (n);                      \
	     (n) = (tmp), (tmp) = (n) ? (n)->next : NULL)

#endif /* CORIO_LIST_H */
