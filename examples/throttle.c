/* SPDX-License-Identifier: MIT */
/*
 * throttle.c - the throttled downloader from Fluent Python's asyncio
 * chapter: 100 tasks each "fetch" an item (here: sleep a random time), but a
 * semaphore of 5 lets only five fetch at once.  The main task reports each
 * fetch as it completes, in completion order (asyncio.as_completed), using
 * a task group.
 *
 * Usage: throttle [seed]      (same seed, same fetch times)
 */
#include <corio.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#define ITEMS 100
#define CONCURRENCY 5
#define MIN_MS 10
#define MAX_MS 120

struct fetch {
	int id;
	unsigned ms;        /* how long this fetch takes */
	corio_sem *throttle;
	int *in_flight;     /* fetches running right now */
	int *peak;          /* the most that ever ran at once */
};

static void *fetch(void *p)
{
	struct fetch *f = p;
	int err = corio_sem_acquire(f->throttle);
	if (err)
		return CORIO_ERR_PTR(err);
	if (++*f->in_flight > *f->peak)
		*f->peak = *f->in_flight;
	err = corio_sleep((uint64_t)f->ms * 1000000); /* the "download" */
	--*f->in_flight;
	corio_sem_release(f->throttle);
	return err ? CORIO_ERR_PTR(err) : f;
}

/* Show each finished fetch as it arrives; return how many succeeded. */
static int report(corio_group *g, const int *in_flight, uint64_t t0)
{
	int done = 0, ok = 0;
	corio_task *t;
	while ((t = corio_group_next(g))) {
		void *r = NULL;
		int err = corio_join(t, &r);
		if (!err)
			err = corio_ptr_err(r);
		done++;
		if (err) {
			printf("[%3d/%d] a fetch failed: %s\n", done, ITEMS, corio_strerror(err));
			continue;
		}
		const struct fetch *f = r;
		ok++;
		printf("[%3d/%d] item %2d took %3u ms, done at %4llu ms (in flight: %d)\n", done,
		       ITEMS, f->id, f->ms, (unsigned long long)((corio_now() - t0) / 1000000),
		       *in_flight);
	}
	return ok;
}

struct plan {
	struct fetch f[ITEMS];
	unsigned total_ms; /* what fetching one after another would take */
};

static void *throttle_main(void *arg)
{
	struct plan *plan = arg;
	corio_sem throttle;
	int in_flight = 0, peak = 0;
	corio_group *g;
	corio_sem_init(&throttle, CONCURRENCY, CONCURRENCY);
	int err = corio_group_new(&g);
	if (err)
		return CORIO_ERR_PTR(err);
	uint64_t t0 = corio_now();
	for (int i = 0; i < ITEMS && !err; i++) {
		struct fetch *f = &plan->f[i];
		f->throttle = &throttle;
		f->in_flight = &in_flight;
		f->peak = &peak;
		err = corio_group_spawn(g, NULL, fetch, f);
	}
	int ok = report(g, &in_flight, t0);
	corio_group_free(g);
	double secs = (double)(corio_now() - t0) / 1e9;
	printf("%d of %d fetched in %.2f s, at most %d at once (one by one: %.2f s)\n", ok,
	       ITEMS, secs, peak, plan->total_ms / 1e3);
	return err ? CORIO_ERR_PTR(err) : NULL;
}

static void usage(FILE *f)
{
	fputs("usage: throttle [SEED]\n"
	      "Fetch 100 items (sleeps of 10-120 ms) in 100 tasks, at most 5 at\n"
	      "once, and report each as it completes.  The same SEED (a number,\n"
	      "default 2024) gives the same fetch times.\n"
	      "  -h, --help  show this help\n",
	      f);
}

/* The SEED argument (@n of them at @args) into *@seed; -1 if it is not a
 * single number. */
static int parse_seed(int n, char **args, unsigned *seed)
{
	if (n == 0)
		return 0;
	char *end;
	errno = 0;
	unsigned long v = strtoul(args[0], &end, 0);
	/* strtoul would take "" and "x" as 0 and "-1" as ULONG_MAX */
	if (n > 1 || end == args[0] || *end || errno || args[0][0] == '-' || v > UINT_MAX)
		return -1;
	*seed = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	static struct plan plan;
	unsigned seed = 2024;
	int opt = getopt_long(argc, argv, "h", longopts, NULL);
	if (opt == 'h')
		return usage(stdout), 0;
	if (opt != -1 || parse_seed(argc - optind, argv + optind, &seed))
		return usage(stderr), 2;
	for (int i = 0; i < ITEMS; i++) {
		plan.f[i].id = i;
		plan.f[i].ms = MIN_MS + (unsigned)rand_r(&seed) % (MAX_MS - MIN_MS + 1);
		plan.total_ms += plan.f[i].ms;
	}
	void *res = NULL;
	int err = corio_run(throttle_main, &plan, &res);
	if (!err)
		err = corio_ptr_err(res);
	if (err) {
		fprintf(stderr, "throttle: %s\n", corio_strerror(err));
		return 1;
	}
	return 0;
}
