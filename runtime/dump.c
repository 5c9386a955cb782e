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
#include "faults_int.h"

#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

#define CHECK_EVERY_NS CORIO__DEBUG_TICK_NS /* debug checks, at most this often */

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
	if (s->faults) {
		fprintf(out, "  faults injected: %" PRIu64 " (", s->faults);
		const char *sep = "";
		for (unsigned k = 0; k < CORIO_FAULT_KINDS; k++)
			if (s->faults_by_kind[k]) {
				fprintf(out, "%s%s %" PRIu64, sep, corio__fault_name(k),
					s->faults_by_kind[k]);
				sep = ", ";
			}
		fputs(")\n", out);
	}
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

/* SIGQUIT in debug mode: the handler only bumps a counter (nothing else
 * is safe there: a loop may be freed on another thread meanwhile); each
 * debug loop notices at its next turn, which comes within
 * CORIO__DEBUG_TICK_NS while it has live tasks, and dumps itself. */
static atomic_uint sigquit_gen;
static atomic_int debug_users;
static struct sigaction before; /* SIGQUIT's action before we took it */
static atomic_int installed;

static void on_sigquit(int sig)
{
	(void)sig;
	atomic_fetch_add(&sigquit_gen, 1);
}

bool corio__debug_dump_due(corio_loop *l)
{
	unsigned g = atomic_load_explicit(&sigquit_gen, memory_order_relaxed);
	if (g == l->sigquit_seen)
		return false;
	l->sigquit_seen = g;
	return true;
}

void corio__debug_attach(corio_loop *l)
{
	l->sigquit_seen = atomic_load(&sigquit_gen);
	if (atomic_fetch_add(&debug_users, 1) != 0)
		return;
	/* only if nobody else wants SIGQUIT: a program's own handler wins */
	struct sigaction old;
	if (sigaction(SIGQUIT, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
	    !(old.sa_flags & SA_SIGINFO)) {
		struct sigaction sa = {.sa_handler = on_sigquit, .sa_flags = SA_RESTART};
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGQUIT, &sa, &before) == 0)
			atomic_store(&installed, 1);
	}
}

/* The last debug loop gone: SIGQUIT goes back to what it was. */
void corio__debug_detach(corio_loop *l)
{
	(void)l;
	if (atomic_fetch_sub(&debug_users, 1) != 1)
		return;
	struct sigaction cur;
	if (atomic_exchange(&installed, 0) && sigaction(SIGQUIT, NULL, &cur) == 0 &&
	    cur.sa_handler == on_sigquit)
		sigaction(SIGQUIT, &before, NULL);
}
