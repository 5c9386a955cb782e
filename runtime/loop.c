/* SPDX-License-Identifier: MIT */
/*
 * loop.c - the event loop: creation and teardown, the turn (ready tasks and
 * callbacks, then due timers, then one backend poll that submits and reaps),
 * call_soon, the cross-thread queue woken through an eventfd the backend
 * keeps a read on, corio_run(), and debug mode's report of live tasks.
 */
#include "corio_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

__thread corio_loop *corio__tls_loop __attribute__((tls_model("initial-exec")));

#ifdef CORIO__ASAN
#define DEFAULT_STACK ((size_t)256 * 1024)
#else
#define DEFAULT_STACK ((size_t)64 * 1024)
#endif
#define DEFAULT_POOL 256
#define DEFAULT_SLACK (1000ull * 1000)

corio_loop *corio_current_loop(void)
{
	return corio__tls_loop;
}

const char *corio_loop_backend(corio_loop *loop)
{
	return loop ? loop->be->name : "";
}

/* ---- callback records ----------------------------------------------- */

struct corio__cb *corio__cb_alloc(corio_loop *l)
{
	struct corio__cb *cb = l->cb_free;
	if (cb) {
		l->cb_free = (struct corio__cb *)(void *)cb->r.next;
		return cb;
	}
	return malloc(sizeof(*cb));
}

void corio__cb_release(corio_loop *l, struct corio__cb *cb)
{
	cb->r.next = (struct corio__runnable *)(void *)l->cb_free; /* r is first */
	l->cb_free = cb;
}

int corio_call_soon(corio_loop *l, void (*fn)(void *), void *arg)
{
	if (!l || !fn)
		return -EINVAL;
	if (corio__stale(l))
		return -EBADFD;
	struct corio__cb *cb = corio__cb_alloc(l);
	if (!cb)
		return -ENOMEM;
	cb->r.kind = CORIO__RUN_CB;
	cb->fn = fn;
	cb->arg = arg;
	corio__runq_push(&l->runq, &cb->r);
	return 0;
}

/* ---- cross-thread --------------------------------------------------- */

/* The eventfd half of a wake-up: any thread, any backend. */
void corio__loop_wake_fd(corio_loop *l)
{
	uint64_t one = 1;
	ssize_t r;
	do
		r = write(l->wake_fd, &one, sizeof(one));
	while (r < 0 && errno == EINTR);
}

/* Wake @l once per batch of records.  From a task or callback of another
 * running loop whose backend can post into @l's (io_uring MSG_RING), the
 * caller's ring carries the wake-up at its next enter; from anywhere else
 * the eventfd does.  Either arrival runs corio__loop_woken(). */
static void wake_loop(corio_loop *l)
{
	if (!atomic_load(&l->sleeping))
		return; /* awake: it looks at ts_pending before it sleeps */
	if (atomic_exchange(&l->wake_armed, 1))
		return; /* a wake-up is on its way and the loop has not had it yet */
	corio_loop *self = corio__tls_loop;
	if (self && self != l)
		self->st.wakeups_sent++;
	if (self && self != l && self->running && !self->closing && self->be->wake_from &&
	    pthread_equal(pthread_self(), self->owner) && self->be->wake_from(self, l))
		return;
	corio__loop_wake_fd(l);
}

int corio_call_threadsafe(corio_loop *l, void (*fn)(void *), void *arg)
{
	if (!l || !fn)
		return -EINVAL;
	if (corio__stale(l))
		return -EBADFD; /* its eventfd would wake the parent's loop */
	struct corio__cb *cb = malloc(sizeof(*cb));
	if (!cb)
		return -ENOMEM;
	cb->r.kind = CORIO__RUN_CB;
	cb->fn = fn;
	cb->arg = arg;
	corio__call_threadsafe_rec(l, cb);
	return 0;
}

void corio__call_threadsafe_rec(corio_loop *l, struct corio__cb *cb)
{
	pthread_mutex_lock(&l->ts_lock);
	corio__runq_push(&l->ts_q, &cb->r);
	atomic_store(&l->ts_pending, 1);
	pthread_mutex_unlock(&l->ts_lock);
	if (corio__tls_loop && corio__tls_loop != l)
		corio__tls_loop->st.msgs_sent++;
	wake_loop(l);
}

void corio_loop_stop(corio_loop *l)
{
	if (!l || corio__stale(l))
		return;
	atomic_store(&l->stop, 1);
	if (!pthread_equal(pthread_self(), l->owner) || !l->running)
		wake_loop(l);
}

/* Move cross-thread callbacks to the ready queue.  Records from other
 * threads were malloc'd; they are freed after running (see run_cb). */
static void drain_threadsafe(corio_loop *l)
{
	if (!atomic_load_explicit(&l->ts_pending, memory_order_acquire))
		return;
	pthread_mutex_lock(&l->ts_lock);
	struct corio__runnable *r;
	while ((r = corio__runq_pop(&l->ts_q))) {
		corio__runq_push(&l->runq, r);
		l->st.msgs_received++;
	}
	atomic_store(&l->ts_pending, 0);
	pthread_mutex_unlock(&l->ts_lock);
}

static void arm_wake(corio_loop *l)
{
	if (l->wake_inflight || l->closing)
		return;
	memset(&l->wake_op, 0, sizeof(l->wake_op));
	l->wake_op.code = CORIO__OP_READ;
	l->wake_op.fd = l->wake_fd;
	l->wake_op.buf = &l->wake_buf;
	l->wake_op.len = sizeof(l->wake_buf);
	l->wake_op.off = (uint64_t)-1;
	l->wake_op.complete = corio__loop_wake_complete;
	l->wake_inflight = true;
	l->be->submit(l, &l->wake_op);
}

/* A wake-up arrived (eventfd read or a MSG_RING completion).  Only moves
 * records to the ready queue: the backend may call it while reaping. */
void corio__loop_woken(corio_loop *l)
{
	/* Clear before draining: a producer that queues after the drain sees
	 * the flag down and sends another wake-up. */
	atomic_store(&l->wake_armed, 0);
	l->st.wakeups++;
	drain_threadsafe(l);
}

void corio__loop_wake_complete(struct corio__op *op, int res, uint32_t flags)
{
	(void)res;
	(void)flags;
	corio_loop *l = corio__container_of(op, corio_loop, wake_op);
	l->wake_inflight = false;
	corio__loop_woken(l);
	arm_wake(l);
}

/* ---- modules and what they may ask of the loop ------------------------ */

int corio__module_attach(corio_loop *l, const struct corio__module *m, void *state)
{
	if (l->closing)
		return -ESHUTDOWN;
	if (corio__module_state(l, m))
		return -EEXIST;
	if (l->n_mods == CORIO__MAX_MODULES)
		return -ENOSPC;
	l->mods[l->n_mods].m = m;
	l->mods[l->n_mods].state = state;
	l->n_mods++;
	return 0;
}

void *corio__module_state(const corio_loop *l, const struct corio__module *m)
{
	for (unsigned i = 0; i < l->n_mods; i++)
		if (l->mods[i].m == m)
			return l->mods[i].state;
	return NULL;
}

/* The modules' hooks for an fd about to close (a listener's queued
 * connections, a resolver's socket), newest module first. */
void corio__modules_fd_closing(corio_loop *l, int fd)
{
	for (unsigned i = l->n_mods; i--;)
		if (l->mods[i].m->fd_closing)
			l->mods[i].m->fd_closing(l->mods[i].state, fd);
}

/* Before close(2) of an fd the loop may have waited on: the modules and
 * the backend let go of it (waiters get -ECANCELED), since the kernel may
 * hand the number out again at once for another file. */
void corio__fd_closing(corio_loop *l, int fd)
{
	if (!l)
		return;
	corio__modules_fd_closing(l, fd);
	l->be->forget(l, fd);
}

unsigned corio__loop_caps(const corio_loop *l)
{
	return l->caps;
}

bool corio__loop_is_owner(const corio_loop *l)
{
	return pthread_equal(pthread_self(), l->owner) && !corio__stale(l);
}

bool corio__loop_closing(const corio_loop *l)
{
	return l->closing;
}

void corio__op_submit(corio_loop *l, struct corio__op *op)
{
	if (op->code < CORIO_STATS_OP_KINDS)
		l->st.ops[op->code]++;
	op->fault = 0;
	if (corio__unlikely(l->faults.on))
		corio__fault_submit(l, op, true);
	l->be->submit(l, op);
}

void corio__op_cancel(corio_loop *l, struct corio__op *op)
{
	l->be->cancel(l, op);
}

/* ---- counters ------------------------------------------------------- */

int corio_loop_get_stats(corio_loop *l, corio_loop_stats *out)
{
	if (!l || !out)
		return -EINVAL;
	if (corio__stale(l))
		return -EBADFD;
	*out = l->st;
	return 0;
}

const char *corio_op_name(unsigned kind)
{
	static const char *const names[CORIO_STATS_OP_KINDS] = {
		[CORIO__OP_NOP] = "nop",
		[CORIO__OP_READ] = "read",
		[CORIO__OP_WRITE] = "write",
		[CORIO__OP_OPENAT] = "openat",
		[CORIO__OP_CLOSE] = "close",
		[CORIO__OP_READV] = "readv",
		[CORIO__OP_WRITEV] = "writev",
		[CORIO__OP_FSYNC] = "fsync",
		[CORIO__OP_STATX] = "statx",
		[CORIO__OP_UNLINKAT] = "unlinkat",
		[CORIO__OP_RENAMEAT] = "renameat",
		[CORIO__OP_MKDIRAT] = "mkdirat",
		[CORIO__OP_FALLOCATE] = "fallocate",
		[CORIO__OP_SPLICE] = "splice",
		[CORIO__OP_POLL] = "poll",
		[CORIO__OP_WAITID] = "waitid",
		[CORIO__OP_ACCEPT] = "accept",
		[CORIO__OP_ACCEPT_MULTI] = "accept_multi",
		[CORIO__OP_CONNECT] = "connect",
		[CORIO__OP_RECV] = "recv",
		[CORIO__OP_RECV_MULTI] = "recv_multi",
		[CORIO__OP_SEND] = "send",
		[CORIO__OP_RECVMSG] = "recvmsg",
		[CORIO__OP_SENDMSG] = "sendmsg",
		[CORIO__OP_SHUTDOWN] = "shutdown",
	};
	return kind < CORIO_STATS_OP_KINDS ? names[kind] : NULL;
}

/* ---- creation ------------------------------------------------------- */

static bool env_flag(const char *name)
{
	const char *v = getenv(name);
	return v && *v && strcmp(v, "0") != 0;
}

/* Say once per process why io_uring is not used. */
static void fallback_notice(int err)
{
	static atomic_int said;
	if (atomic_exchange(&said, 1))
		return;
	fprintf(stderr,
		"corio: io_uring is not available (%s); using the epoll backend. "
		"Set CORIO_BACKEND=epoll to choose it without this notice, or "
		"CORIO_BACKEND=uring to fail instead.\n",
		corio_strerror(err));
}

/* Errors that mean io_uring is off here, not that something is broken:
 * no syscall (old kernel, seccomp), forbidden (sysctl, seccomp, LSM), or
 * the locked-memory limit. */
static bool uring_unavailable(int err)
{
	return err == -ENOSYS || err == -EPERM || err == -EACCES || err == -ENOMEM ||
	       err == -EOPNOTSUPP; /* a kernel too old for what we need */
}

static int pick_backend(corio_loop *l, const corio_loop_options *o)
{
	int kind = o->backend;
	const char *env = getenv("CORIO_BACKEND");
	if (kind == CORIO_BACKEND_DEFAULT && env && *env) {
		if (!strcmp(env, "uring") || !strcmp(env, "io_uring"))
			kind = CORIO_BACKEND_URING;
		else if (!strcmp(env, "epoll"))
			kind = CORIO_BACKEND_EPOLL;
		else
			return -EINVAL;
	}
	if (kind < CORIO_BACKEND_DEFAULT || kind > CORIO_BACKEND_EPOLL)
		return -EINVAL;
	if (kind != CORIO_BACKEND_EPOLL) {
		l->be = &corio__uring_backend;
		int err = l->be->init(l, o);
		if (!err || kind == CORIO_BACKEND_URING || !uring_unavailable(err))
			return err;
		fallback_notice(err);
	}
	l->be = &corio__epoll_backend;
	return l->be->init(l, o);
}

/* ---- fork ----------------------------------------------------------- */

unsigned corio__fork_gen;

/* In the child of a fork: no loop runs on this (the only) thread any
 * more, and every loop made so far is stale (corio__stale()).  Code that
 * was a task goes on as plain code outside any loop: corio_run() makes a
 * fresh loop for it. */
static void forked_child(void)
{
	corio__fork_gen++;
	corio__tls_loop = NULL;
}

static void atfork_once(void)
{
	pthread_atfork(NULL, NULL, forked_child);
}

static int loop_init(corio_loop *l, const corio_loop_options *o)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, atfork_once);
	l->fork_gen = corio__fork_gen;
	l->owner = pthread_self();
	l->debug = o->debug || env_flag("CORIO_DEBUG");
	l->stack_size = o->stack_size ? o->stack_size : DEFAULT_STACK;
	if (l->stack_size > ((size_t)1 << 30) || o->ring_entries > 32768)
		return -EINVAL;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	l->stack_size = (l->stack_size + ps - 1) / ps * ps;
	if (l->stack_size < CORIO__MIN_STACK) /* as a spawn would: then it pools */
		l->stack_size = CORIO__MIN_STACK;
	l->guard_pages = !o->no_guard_pages;
	l->timer_slack = o->timer_slack_ns ? o->timer_slack_ns : DEFAULT_SLACK;
	l->pool_max = o->stack_pool_max ? o->stack_pool_max : DEFAULT_POOL;
	l->pool_map_size = corio__stack_map_size(l->stack_size, l->guard_pages);
	corio__runq_init(&l->runq);
	corio__runq_init(&l->ts_q);
	l->now = corio__clock();
	int err = corio__faults_init(l, o);
	if (err)
		return err;
	err = corio__thread_altstack();
	if (err)
		return err;
	l->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (l->wake_fd < 0)
		return -errno;
	if (pthread_mutex_init(&l->ts_lock, NULL)) {
		close(l->wake_fd);
		return -ENOMEM;
	}
	corio__timers_init(l);
	err = pick_backend(l, o);
	if (err) {
		pthread_mutex_destroy(&l->ts_lock);
		close(l->wake_fd);
		return err;
	}
	arm_wake(l);
	if (l->debug)
		corio__debug_attach(l);
	return 0;
}

int corio_loop_new(corio_loop **out, const corio_loop_options *opts)
{
	static const corio_loop_options defaults;
	if (!out)
		return -EINVAL;
	corio_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	int err = loop_init(l, opts ? opts : &defaults);
	if (err) {
		free(l);
		return err;
	}
	*out = l;
	return 0;
}

/* ---- teardown ------------------------------------------------------- */

static void dump_tasks(corio_loop *l, const char *when)
{
	static const char *const names[] = {"ready", "running", "waiting", "done"};
	fprintf(stderr, "corio: %" PRIu64 " task(s) alive %s:\n", l->live_tasks, when);
	for (struct corio__node *n = l->tasks.head; n; n = n->next) {
		corio_task *t = corio__container_of(n, corio_task, all);
		if (t->state != CORIO__T_DONE)
			fprintf(stderr, "corio:   '%s' %s%s\n", corio_task_name(t), names[t->state],
				t->cancelled ? " (cancelled)" : "");
	}
}

static void free_record(struct corio__runnable *r)
{
	if (r->kind != CORIO__RUN_CB_EXT) /* its owner's */
		free(r); /* only callbacks can be left: tasks are gone */
}

static void free_records(corio_loop *l)
{
	struct corio__runnable *r;
	while ((r = corio__runq_pop(&l->runq)))
		free_record(r);
	while ((r = corio__runq_pop(&l->ts_q)))
		free_record(r);
	while (l->cb_free) {
		struct corio__cb *cb = l->cb_free;
		l->cb_free = (struct corio__cb *)(void *)cb->r.next;
		free(cb);
	}
}

/* How long teardown waits for in-flight ops without any of them coming
 * back before it gives up with -EBUSY.  Tests shorten it. */
uint64_t corio__teardown_idle_ns = 5ull * 1000 * 1000 * 1000;

/* Ops still out: each module's (its drain hook cancels them on the first
 * call) and whatever else the backend has in flight. */
static unsigned pending_ops(corio_loop *l, unsigned *by_mods)
{
	unsigned n = 0;
	for (unsigned i = l->n_mods; i--;)
		if (l->mods[i].m->drain)
			n += l->mods[i].m->drain(l->mods[i].state);
	*by_mods = n;
	return n + l->be->inflight(l);
}

/* The one teardown policy: everything was asked to end; wait while ops
 * keep coming back, give up after corio__teardown_idle_ns without any. */
static int drain_inflight(corio_loop *l)
{
	unsigned by_mods, n = pending_ops(l, &by_mods), last = n;
	uint64_t progress = corio__clock();
	while (n) {
		if (corio__clock() - progress > corio__teardown_idle_ns) {
			if (l->debug)
				fprintf(stderr,
					"corio: corio_loop_free(): %u op(s) still in flight "
					"(%u of modules), giving up\n",
					n, by_mods);
			return -EBUSY;
		}
		if (l->be->poll(l, 50 * 1000 * 1000) < 0)
			return -EBUSY;
		n = pending_ops(l, &by_mods);
		if (n < last)
			progress = corio__clock();
		last = n;
	}
	for (unsigned i = l->n_mods; i--;)
		if (l->mods[i].m->free)
			l->mods[i].m->free(l->mods[i].state);
	l->n_mods = 0;
	return 0;
}

int corio_loop_free(corio_loop *l)
{
	if (!l)
		return 0;
	if (corio__stale(l))
		return -EBADFD; /* the parent's: nothing of it is ours to free */
	if (!pthread_equal(pthread_self(), l->owner))
		return -EPERM; /* its ring answers only the thread that made it */
	if (l->running)
		return -EBUSY;
	if (l->live_tasks) {
		if (l->debug)
			dump_tasks(l, "at corio_loop_free()");
		return -EBUSY;
	}
	l->closing = true;
	if (l->debug)
		corio__debug_detach(l);
	while (l->tasks.head) /* finished, never joined: their handles die here */
		corio__task_free(corio__container_of(l->tasks.head, corio_task, all));
	corio__stack_pool_drain(l);
	corio__offload_fini(l); /* these cancel their loop-owned reads */
	corio__signal_fini(l);
	if (l->wake_inflight)
		l->be->cancel(l, &l->wake_op);
	corio_loop *saved = corio__tls_loop;
	corio__tls_loop = l; /* completions may look for their loop */
	int err = drain_inflight(l);
	corio__tls_loop = saved;
	if (err)
		return err; /* nothing the kernel may still write to was freed */
	l->be->fini(l);
	corio__timers_fini(l);
	free_records(l);
	pthread_mutex_destroy(&l->ts_lock);
	close(l->wake_fd);
	free(l);
	return 0;
}

void corio_loop_cancel_all(corio_loop *l)
{
	struct corio__node *n, *tmp;
	if (l && !corio__stale(l))
		corio__list_for_each_safe(n, tmp, &l->tasks)
			corio_cancel(corio__container_of(n, corio_task, all));
}

/* ---- running -------------------------------------------------------- */

static void run_cb(corio_loop *l, struct corio__cb *cb)
{
	void (*fn)(void *) = cb->fn;
	void *arg = cb->arg;
	corio__cb_release(l, cb);
	fn(arg);
}

/* Run what was ready when the turn began; what becomes ready meanwhile
 * (a task that yields, a callback that calls soon) waits for the next. */
static void run_ready(corio_loop *l)
{
	/* tasks that suspend run the next ones directly, spending the budget */
	l->budget = l->runq.len;
	while (l->budget) {
		l->budget--;
		struct corio__runnable *r = corio__runq_pop(&l->runq);
		if (r->kind == CORIO__RUN_TASK) {
			corio__run_task(l, (corio_task *)(void *)r);
		} else if (corio__unlikely(r->kind == CORIO__RUN_CB_EXT)) {
			struct corio__cb *cb = (struct corio__cb *)(void *)r;
			cb->fn(cb->arg); /* may end the record's life */
		} else {
			run_cb(l, (struct corio__cb *)(void *)r);
		}
	}
}

static bool alive(corio_loop *l)
{
	return l->live_tasks || l->user_timers || l->runq.len ||
	       atomic_load_explicit(&l->ts_pending, memory_order_relaxed);
}

int corio_loop_run(corio_loop *l)
{
	if (!l)
		return -EINVAL;
	if (corio__stale(l))
		return -EBADFD;
	if (l->running)
		return -EBUSY;
	if (!pthread_equal(pthread_self(), l->owner))
		return -EPERM;
	corio_loop *saved = corio__tls_loop;
	corio__tls_loop = l;
	l->running = true;
	int err = 0;
	for (;;) {
		l->now_valid = false; /* read again on demand: see corio_now() */
		l->st.turns++;
		drain_threadsafe(l);
		run_ready(l);
		corio__timers_fire(l);
		if (corio__unlikely(l->debug)) {
			if (corio__debug_dump_due(l))
				corio_loop_dump(l, stderr);
			corio__debug_check(l);
		}
		if (atomic_load_explicit(&l->stop, memory_order_relaxed) || !alive(l))
			break;
		int64_t timeout = l->runq.len ? 0 : corio__timers_next(l);
		if (corio__unlikely(l->debug) && l->live_tasks &&
		    (timeout < 0 || timeout > (int64_t)CORIO__DEBUG_TICK_NS))
			timeout = (int64_t)CORIO__DEBUG_TICK_NS; /* its checks need turns */
		if (timeout)
			corio__stack_flush(l);
		err = l->be->poll(l, timeout);
		if (err < 0)
			break;
		err = 0;
	}
	corio__stack_flush(l);
	if (l->be->flush) /* wake-ups this turn posted to other loops */
		l->be->flush(l);
	atomic_store(&l->stop, 0);
	l->running = false;
	corio__tls_loop = saved;
	if (l->debug && l->live_tasks)
		dump_tasks(l, "at loop exit");
	return err;
}

/* ---- corio_run ------------------------------------------------------ */

struct run_main {
	corio_fn fn;
	void *arg;
	void *result;
	corio_task *task;
	int err;
};

static void *main_wrapper(void *p)
{
	struct run_main *m = p;
	m->result = m->fn(m->arg);
	/* asyncio.run: whatever main left behind is cancelled once it ends */
	corio_task *self = corio__current();
	struct corio__node *n, *tmp;
	corio__list_for_each_safe(n, tmp, &self->loop->tasks) {
		corio_task *t = corio__container_of(n, corio_task, all);
		if (t != self)
			corio_cancel(t);
	}
	return m->result;
}

int corio_run(corio_fn main, void *arg, void **result)
{
	if (!main)
		return -EINVAL;
	corio_loop *l;
	int err = corio_loop_new(&l, NULL);
	if (err)
		return err;
	struct run_main m = {.fn = main, .arg = arg};
	err = corio_spawn_ex(l, &m.task, main_wrapper, &m, &(corio_task_options){.name = "main"});
	if (!err)
		err = corio_loop_run(l);
	if (!err && m.task) {
		err = corio_join(m.task, NULL);
		if (!err && result)
			*result = m.result;
	}
	if (l->live_tasks) {
		/* stopped early: cancel the rest and let them finish */
		corio_loop_cancel_all(l);
		corio_loop_run(l);
	}
	int ferr = corio_loop_free(l);
	return err ? err : ferr;
}
