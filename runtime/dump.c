/* SPDX-License-Identifier: MIT */
/*
 * dump.c - a live view of a loop: corio_loop_dump() lists every task with
 * what it waits on and since when, and the loop's counters.  In debug mode
 * a SIGQUIT (Ctrl-\) dumps every debug loop to stderr instead of killing
 * the process, and the loop reports, once each, ops still in the kernel
 * long after their task was cancelled or its deadline passed, and
 * cancelled tasks that go on for long without ending.
 */
#include "corio_int.h"

#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#define CHECK_EVERY_NS CORIO__DEBUG_TICK_NS /* debug checks, at most this often */
#define MAX_DEBUG_LOOPS 64

/* A wait this long past its interrupt, a cancelled task this long alive
 * (tests shorten them). */
uint64_t corio__debug_late_ns = 1000ull * 1000 * 1000;
uint64_t corio__debug_grace_ns = 5000ull * 1000 * 1000;

static const char *const state_names[] = {"ready", "running", "waiting", "done"};

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

static void describe(const corio_task *t, char *buf, size_t n)
{
	if (t->wait && t->wait->describe)
		t->wait->describe(t->wait, buf, n);
	else
		snprintf(buf, n, "something");
}

static void dump_task(const corio_task *t, uint64_t now, FILE *out)
{
	fprintf(out, "  '%s' #%" PRIu64 " %s", corio_task_name(t), t->id, state_names[t->state]);
	if (t->state == CORIO__T_WAITING) {
		char what[160];
		describe(t, what, sizeof(what));
		fprintf(out, " on %s for %.3f s", what,
			secs(now > t->wait_since ? now - t->wait_since : 0));
	}
	if (t->cancelled)
		fprintf(out, ", cancelled");
	if (t->n_expired)
		fprintf(out, ", deadline passed");
	const corio_group *g = corio__task_group(t);
	if (g)
		fprintf(out, ", in group %p", (const void *)g);
	fputc('\n', out);
}

void corio_loop_dump(corio_loop *l, FILE *out)
{
	if (!l || !out || corio__stale(l))
		return;
	uint64_t now = corio__now(l);
	fprintf(out, "corio: loop %p (%s): %" PRIu64 " live task(s)\n", (void *)l, l->be->name,
		l->live_tasks);
	for (struct corio__node *n = l->tasks.head; n; n = n->next) {
		const corio_task *t = corio__container_of(n, corio_task, all);
		if (t->state != CORIO__T_DONE)
			dump_task(t, now, out);
	}
	const corio_loop_stats *s = &l->st;
	fprintf(out,
		"  counters: turns %" PRIu64 ", kernel enters %" PRIu64 ", sqes %" PRIu64
		", cqes %" PRIu64 ", switches %" PRIu64 "\n  ops:",
		s->turns, s->enters, s->sqes, s->cqes, s->switches);
	for (unsigned k = 0; k < CORIO_STATS_OP_KINDS; k++)
		if (s->ops[k])
			fprintf(out, " %s %" PRIu64, corio_op_name(k) ? corio_op_name(k) : "?",
				s->ops[k]);
	fputc('\n', out);
	fflush(out);
}

/* ---- debug mode --------------------------------------------------------- */

static void report(const corio_task *t, uint64_t now)
{
	char what[160];
	describe(t, what, sizeof(what));
	fprintf(stderr,
		"corio: debug: task '%s' still waits on %s, %.3f s after it was %s "
		"(the wait does not end when asked)\n",
		corio_task_name(t), what, secs(now - t->interrupted_at),
		t->cancelled ? "cancelled" : "past its deadline");
}

/* Once per CHECK_EVERY_NS at most: tasks whose wait outlives the cancel or
 * deadline that interrupted it, and cancelled tasks that do not end (a
 * shield, or code that goes on after -ECANCELED). */
void corio__debug_check(corio_loop *l)
{
	uint64_t now = corio__now(l);
	if (now - l->debug_checked < CHECK_EVERY_NS)
		return;
	l->debug_checked = now;
	for (struct corio__node *n = l->tasks.head; n; n = n->next) {
		corio_task *t = corio__container_of(n, corio_task, all);
		if (t->state == CORIO__T_DONE)
			continue;
		/* interrupted during this very wait, which has not ended */
		if (t->state == CORIO__T_WAITING && t->interrupted_at && !(t->reported & 1) &&
		    t->wait_since <= t->interrupted_at &&
		    now - t->interrupted_at > corio__debug_late_ns) {
			t->reported |= 1;
			report(t, now);
		}
		if (t->cancelled_at && !(t->reported & 2) &&
		    now - t->cancelled_at > corio__debug_grace_ns) {
			t->reported |= 2;
			fprintf(stderr, "corio: debug: task '%s' was cancelled %.3f s ago and has "
					"not ended\n",
				corio_task_name(t), secs(now - t->cancelled_at));
		}
	}
}

/* SIGQUIT in debug mode: each debug loop dumps itself at its next turn. */
static _Atomic(corio_loop *) debug_loops[MAX_DEBUG_LOOPS];

static void on_sigquit(int sig)
{
	(void)sig;
	for (unsigned i = 0; i < MAX_DEBUG_LOOPS; i++) {
		corio_loop *l = atomic_load(&debug_loops[i]);
		if (!l)
			continue;
		atomic_store(&l->dump_pending, 1);
		uint64_t one = 1;
		ssize_t r = write(l->wake_fd, &one, sizeof(one));
		(void)r;
	}
}

void corio__debug_attach(corio_loop *l)
{
	for (unsigned i = 0; i < MAX_DEBUG_LOOPS; i++) {
		corio_loop *none = NULL;
		if (atomic_compare_exchange_strong(&debug_loops[i], &none, l))
			break;
	}
	/* only if nobody else wants SIGQUIT: a program's own handler wins */
	struct sigaction old;
	if (sigaction(SIGQUIT, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
	    !(old.sa_flags & SA_SIGINFO)) {
		struct sigaction sa = {.sa_handler = on_sigquit, .sa_flags = SA_RESTART};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGQUIT, &sa, NULL);
	}
}

void corio__debug_detach(corio_loop *l)
{
	for (unsigned i = 0; i < MAX_DEBUG_LOOPS; i++) {
		corio_loop *me = l;
		atomic_compare_exchange_strong(&debug_loops[i], &me, NULL);
	}
}
