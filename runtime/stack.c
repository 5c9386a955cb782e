/* SPDX-License-Identifier: MIT */
/*
 * stack.c - task stacks: one mmap per task holding a guard page, the stack
 * and, at its top, the task record itself (see the diagram in corio_int.h).
 * Freed default-size stacks wait in a per-loop pool for the next spawn;
 * the ones the pool has no room for are unmapped in batches, adjacent
 * mappings with one munmap, since every munmap costs a TLB flush.
 * Guard pages are budgeted: each costs a kernel mapping out of
 * vm.max_map_count, so past a quarter of it (about 16 000 live guarded
 * stacks by default, across the process) new stacks get the canary
 * instead, as with corio_loop_options.no_guard_pages.
 * Also owns stack-overflow reporting: a SIGSEGV handler on an alternate
 * signal stack names the task whose guard page was hit; without guard
 * pages a canary at the stack limit is checked on every switch.
 */
#include "corio_int.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORIO__VALGRIND 1
#endif

#define GUARD_SIZE ((size_t)16 * 1024)
#define CANARY 0xC0410DEADC0FFEE5ull
#define CANARY_WORDS 4

static size_t page_size(void)
{
	/* loops on several threads ask at once: the same value, atomically */
	static _Atomic size_t ps;
	size_t v = atomic_load_explicit(&ps, memory_order_relaxed);
	if (!v) {
		v = (size_t)sysconf(_SC_PAGESIZE);
		atomic_store_explicit(&ps, v, memory_order_relaxed);
	}
	return v;
}

static size_t round_up(size_t n, size_t a)
{
	return (n + a - 1) / a * a;
}

static void canary_set(corio_task *t)
{
	uint64_t *w = (uint64_t *)(void *)t->stack.lo;
	for (int i = 0; i < CANARY_WORDS; i++)
		w[i] = CANARY;
}

static size_t guard_size(bool guarded)
{
	return guarded ? round_up(GUARD_SIZE, page_size()) : 0;
}

/* Bytes mapped for a stack of @size usable bytes plus the task record. */
size_t corio__stack_map_size(size_t size, bool guarded)
{
	size_t rec = round_up(sizeof(corio_task), 64);
	return round_up(guard_size(guarded) + round_up(size, page_size()) + rec,
			page_size());
}

/* Guarded stacks the process may hold: a quarter of vm.max_map_count
 * (each takes two mappings, so half of them), leaving the rest to malloc,
 * files, rings and threads. */
static long guard_budget(void)
{
	static atomic_long budget;
	long b = atomic_load_explicit(&budget, memory_order_relaxed);
	if (b)
		return b;
	long max = 65530;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	if (f) {
		if (fscanf(f, "%ld", &max) != 1 || max < 64)
			max = 65530;
		fclose(f);
	}
	b = max / 4;
	atomic_store_explicit(&budget, b, memory_order_relaxed);
	return b;
}

static atomic_long guarded_live; /* guarded stacks mapped, all loops */

/* Map a stack of @size usable bytes plus the task record.  The guard
 * area is always part of the mapping: without a guard (no budget left,
 * or the mprotect failed for want of mappings) it is usable stack, so
 * every default stack has the same size and can go to the pool. */
static int stack_map(corio_loop *loop, size_t size, corio_task **out)
{
	size_t guard = guard_size(loop->guard_pages);
	size_t rec = round_up(sizeof(corio_task), 64);
	size_t total = corio__stack_map_size(size, loop->guard_pages);
	char *map = mmap(NULL, total, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (map == MAP_FAILED)
		return -ENOMEM;
	if (guard) {
		if (atomic_fetch_add(&guarded_live, 1) >= guard_budget() ||
		    mprotect(map, guard, PROT_NONE) != 0) {
			atomic_fetch_sub(&guarded_live, 1);
			guard = 0;
		}
	}
	corio_task *t = (corio_task *)(void *)(map + total - rec);
	memset(t, 0, sizeof(*t));
	t->stack.map = map;
	t->stack.map_size = total;
	t->stack.lo = map + guard;
	t->stack.hi = (char *)((uintptr_t)t & ~(uintptr_t)15);
	t->stack.guarded = guard != 0;
#ifdef CORIO__VALGRIND
	VALGRIND_STACK_REGISTER(t->stack.lo, t->stack.hi);
#endif
	*out = t;
	return 0;
}

static int by_address(const void *a, const void *b)
{
	const struct corio__unmap *x = a, *y = b;
	return x->map < y->map ? -1 : x->map > y->map;
}

/* Unmap the stacks put aside, each run of adjacent ones with one call.
 * The loop also calls this before it may block, so dead stacks never
 * hold their memory across an idle wait. */
void corio__stack_flush(corio_loop *loop)
{
	struct corio__unmap *v = loop->unmap;
	size_t n = loop->unmap_len;
	if (!n)
		return;
	qsort(v, n, sizeof(*v), by_address);
	for (size_t i = 0; i < n;) {
		char *start = v[i].map;
		size_t len = v[i].size;
		for (i++; i < n && v[i].map == start + len; i++)
			len += v[i].size;
		munmap(start, len);
	}
	loop->unmap_len = 0;
	loop->unmap_bytes = 0;
}

static void stack_unmap(corio_loop *loop, corio_task *t)
{
	if (t->stack.guarded)
		atomic_fetch_sub(&guarded_live, 1);
	loop->unmap[loop->unmap_len++] = (struct corio__unmap){t->stack.map, t->stack.map_size};
	loop->unmap_bytes += t->stack.map_size;
	/* a few large stacks are flushed at once: their pages may all be in use */
	if (loop->unmap_len == CORIO__UNMAP_BATCH || loop->unmap_bytes >= CORIO__UNMAP_BYTES)
		corio__stack_flush(loop);
}

/* Only stacks of the loop's default size are pooled: that is what nearly
 * every spawn asks for, and it keeps the pool a plain list. */
int corio__stack_get(corio_loop *loop, size_t size, corio_task **out)
{
	size = round_up(size, page_size());
	if (size == loop->stack_size && !corio__list_empty(&loop->pool)) {
		/* every pooled stack has the default size: see corio__stack_put() */
		corio_task *t = corio__container_of(corio__list_pop_front(&loop->pool),
						    corio_task, all);
		loop->pool_len--;
		struct corio__stack st = t->stack;
		memset(t, 0, sizeof(*t));
		t->stack = st;
		if (!st.guarded)
			canary_set(t);
		*out = t;
		return 0;
	}
	int err = stack_map(loop, size, out);
	if (!err && !(*out)->stack.guarded)
		canary_set(*out);
	return err;
}

void corio__stack_put(corio_loop *loop, corio_task *t)
{
	if (t->stack.map_size == loop->pool_map_size && !loop->closing &&
	    loop->pool_len < loop->pool_max) {
		corio__list_push_front(&loop->pool, &t->all);
		loop->pool_len++;
		return;
	}
	stack_unmap(loop, t);
}

void corio__stack_pool_drain(corio_loop *loop)
{
	struct corio__node *n;
	while ((n = corio__list_pop_front(&loop->pool)))
		stack_unmap(loop, corio__container_of(n, corio_task, all));
	loop->pool_len = 0;
	corio__stack_flush(loop);
}

static void write_str(const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(STDERR_FILENO, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Decimal digits of @n into @buf (at least 24 bytes), async-signal-safe. */
static const char *utoa(uint64_t n, char *buf)
{
	int i = 23;
	buf[i] = '\0';
	do {
		buf[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n && i > 0);
	return buf + i;
}

static void report_overflow(corio_task *t, const char *how)
{
	char num[24];
	write_str("corio: stack overflow in task '");
	if (t->name[0]) {
		write_str(t->name);
	} else { /* default names are formatted lazily: not in a handler */
		write_str("task-");
		write_str(utoa(t->id, num));
	}
	write_str("' (");
	write_str(utoa((uint64_t)(t->stack.hi - t->stack.lo), num));
	write_str("-byte stack, ");
	write_str(how);
	write_str("); give it a larger corio_task_options.stack_size\n");
}

/* Called on every switch away from a task whose stack has no guard. */
void corio__stack_check(corio_task *t)
{
	const uint64_t *w = (const uint64_t *)(const void *)t->stack.lo;
	for (int i = 0; i < CANARY_WORDS; i++) {
		if (w[i] != CANARY) {
			report_overflow(t, "canary overwritten");
			abort();
		}
	}
}

void *corio__stack_init_frame(corio_task *t)
{
	/* x86_64: 8 bytes of control words, r15..r12, rbx, rbp, return
	 * address; aarch64: a 176-byte frame.  The stack pointer after the
	 * frame is popped must be 16-byte aligned. */
	uintptr_t top = (uintptr_t)t->stack.hi - 16;
	top &= ~(uintptr_t)15;
#if defined(__x86_64__)
	uint64_t *f = (uint64_t *)(top - 64);
	memset(f, 0, 64);
	uint32_t mx = 0x1F80, cw = 0x037F;
	memcpy((char *)f, &mx, 4);
	memcpy((char *)f + 4, &cw, 4);
	/* f[1..6]: r15 r14 r13 r12 rbx rbp */
	f[3] = (uint64_t)(uintptr_t)corio__task_entry; /* r13 */
	f[4] = (uint64_t)(uintptr_t)t;                 /* r12 */
	f[7] = (uint64_t)(uintptr_t)corio__trampoline;        /* ret */
	return f;
#elif defined(__aarch64__)
	uint64_t *f = (uint64_t *)(top - 176);
	memset(f, 0, 176);
	f[0] = (uint64_t)(uintptr_t)t;                        /* x19 */
	f[1] = (uint64_t)(uintptr_t)corio__task_entry; /* x20 */
	f[11] = (uint64_t)(uintptr_t)corio__trampoline;       /* x30 */
	return f;
#else
#error "corio supports x86_64 and aarch64"
#endif
}

/* ---- overflow reporting --------------------------------------------- */

static struct sigaction old_segv, old_bus;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;

static bool in_guard(corio_task *t, uintptr_t addr)
{
	uintptr_t map = (uintptr_t)t->stack.map, lo = (uintptr_t)t->stack.lo;
	/* A big frame can step over the guard; 64 KiB below it still counts. */
	return t->stack.guarded && addr < lo && addr + 65536 >= map;
}

static void chain(int sig, siginfo_t *si, void *uc, struct sigaction *old)
{
	if (old->sa_flags & SA_SIGINFO) {
		if (old->sa_sigaction) {
			old->sa_sigaction(sig, si, uc);
			return;
		}
	} else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	/* default action: restore it and let the fault happen again */
	signal(sig, SIG_DFL);
}

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
	corio_loop *l = corio__tls_loop;
	corio_task *t = l ? l->current : NULL;
	if (t && in_guard(t, (uintptr_t)si->si_addr)) {
		report_overflow(t, "guard page hit");
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		return; /* the faulting access runs again and kills us */
	}
	chain(sig, si, uc, sig == SIGBUS ? &old_bus : &old_segv);
}

static void install_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = segv_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
}

/* Give this thread an alternate signal stack if it has none, so that the
 * handler can run when a task has used up its own.  The stack is leaked
 * on purpose: it must outlive every loop of the thread. */
int corio__thread_altstack(void)
{
	static __thread bool done;
	if (done)
		return 0;
	stack_t cur;
	if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) {
		done = true;
	} else {
		size_t sz = 64 * 1024;
		void *mem = mmap(NULL, sz, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			return -ENOMEM;
		stack_t ss = {.ss_sp = mem, .ss_size = sz, .ss_flags = 0};
		if (sigaltstack(&ss, NULL) != 0) {
			munmap(mem, sz);
			return -errno;
		}
		done = true;
	}
	pthread_once(&handler_once, install_handler);
	return 0;
}
