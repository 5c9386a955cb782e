/* SPDX-License-Identifier: MIT */
/*
 * pipeline.c - the "averager" pipeline from Fluent Python's chapter on
 * coroutines, with tasks and channels in place of generators and send():
 *
 *   producer --(one channel per key)--> averager tasks --(results)--> report
 *
 * The producer feeds each series of weights and heights to its own averager
 * and closes the channel when the series ends (the book sends None); each
 * averager then sends its count and mean to the report task, which prints
 * them sorted by key.  The averagers and the producer run in a task group:
 * if one fails, the others are cancelled.
 *
 * Build: ninja -C build && ./build/examples/pipeline
 */
#include <corio.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The book's sample: weights (kg) and heights (m) of two school classes. */
struct series {
	const char *key; /* "group;unit" */
	const double *values;
	size_t n;
};

static const double girls_kg[] = {40.9, 38.5, 44.3, 42.2, 45.2, 41.7, 44.5, 38.0, 40.6, 44.5};
static const double girls_m[] = {1.6, 1.51, 1.4, 1.3, 1.41, 1.39, 1.33, 1.46, 1.45, 1.43};
static const double boys_kg[] = {39.0, 40.8, 43.2, 40.8, 43.1, 38.6, 41.4, 40.6, 36.3};
static const double boys_m[] = {1.38, 1.5, 1.32, 1.25, 1.37, 1.48, 1.25, 1.49, 1.46};

#define SERIES(key, v) {key, v, sizeof(v) / sizeof(v[0])}
static const struct series data[] = {
	SERIES("girls;kg", girls_kg),
	SERIES("girls;m", girls_m),
	SERIES("boys;kg", boys_kg),
	SERIES("boys;m", boys_m),
};
#define NSERIES (sizeof(data) / sizeof(data[0]))

/* What an averager reports when its input ends. */
struct result {
	const char *key;
	unsigned count;
	double average;
};

struct averager {
	const char *key;
	corio_chan *in;  /* doubles from the producer */
	corio_chan *out; /* struct result to the report */
};

static void *averager(void *p)
{
	struct averager *a = p;
	double total = 0, term;
	unsigned count = 0;
	int err;
	while ((err = corio_chan_recv(a->in, &term)) == 0) {
		total += term;
		count++;
	}
	if (err != -EPIPE) /* cancelled: the series is incomplete */
		return CORIO_ERR_PTR(err);
	struct result r = {a->key, count, count ? total / count : 0};
	err = corio_chan_send(a->out, &r);
	return err ? CORIO_ERR_PTR(err) : NULL;
}

static void *producer(void *p)
{
	struct averager *a = p; /* one per series, in data[] order */
	for (size_t i = 0; i < NSERIES; i++) {
		for (size_t j = 0; j < data[i].n; j++) {
			int err = corio_chan_send(a[i].in, &data[i].values[j]);
			if (err)
				return CORIO_ERR_PTR(err);
		}
		corio_chan_close(a[i].in); /* the book's group.send(None) */
	}
	return NULL;
}

static int by_key(const void *x, const void *y)
{
	return strcmp(((const struct result *)x)->key, ((const struct result *)y)->key);
}

static void print_result(const struct result *r)
{
	const char *semi = strchr(r->key, ';');
	int glen = (int)(semi - r->key);
	printf("%2u %-5.*s averaging %.2f%s\n", r->count, glen, r->key, r->average, semi + 1);
}

static void *report(void *p)
{
	corio_chan *results = p;
	struct result r[NSERIES];
	size_t n = 0;
	while (n < NSERIES && corio_chan_recv(results, &r[n]) == 0)
		n++;
	qsort(r, n, sizeof(r[0]), by_key);
	for (size_t i = 0; i < n; i++)
		print_result(&r[i]);
	return NULL;
}

/* Channels are rendezvous (capacity 0): like generator.send(), a value is
 * handed straight to the averager, which runs before the next one comes. */
static int open_channels(struct averager *a, corio_chan *results)
{
	for (size_t i = 0; i < NSERIES; i++) {
		int err = corio_chan_new(&a[i].in, sizeof(double), 0);
		if (err)
			return err;
		a[i].key = data[i].key;
		a[i].out = results;
	}
	return 0;
}

static int run_pipeline(struct averager *a, corio_chan *results)
{
	corio_task *rep;
	corio_group *g = NULL;
	int err = corio_spawn(&rep, report, results);
	if (err)
		return err;
	err = corio_group_new(&g);
	for (size_t i = 0; !err && i < NSERIES; i++)
		err = corio_group_spawn(g, NULL, averager, &a[i]);
	if (!err)
		err = corio_group_spawn(g, NULL, producer, a);
	if (!err)
		err = corio_group_wait(g);
	corio_group_free(g);
	corio_chan_close(results); /* lets the report finish even after a failure */
	corio_join(rep, NULL);
	return err;
}

static void *pipeline_main(void *arg)
{
	(void)arg;
	struct averager a[NSERIES] = {0};
	corio_chan *results = NULL;
	int err = corio_chan_new(&results, sizeof(struct result), 0);
	if (!err)
		err = open_channels(a, results);
	if (!err)
		err = run_pipeline(a, results);
	for (size_t i = 0; i < NSERIES; i++)
		corio_chan_free(a[i].in);
	corio_chan_free(results);
	return err ? CORIO_ERR_PTR(err) : NULL;
}

static void usage(FILE *f)
{
	fputs("usage: pipeline\n"
	      "Average the weights and heights of two school classes through a\n"
	      "pipeline of tasks and channels, and print the averages by key.\n"
	      "  -h, --help  show this help\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	int opt = getopt_long(argc, argv, "h", longopts, NULL);
	if (opt == 'h')
		return usage(stdout), 0;
	if (opt != -1 || optind < argc) /* it takes no arguments */
		return usage(stderr), 2;
	void *res = NULL;
	int err = corio_run(pipeline_main, NULL, &res);
	if (!err)
		err = corio_ptr_err(res);
	if (err) {
		fprintf(stderr, "pipeline: %s\n", corio_strerror(err));
		return 1;
	}
	return 0;
}
