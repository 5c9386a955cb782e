/* SPDX-License-Identifier: MIT */
/*
 * spinner.c - the classic first coroutine demo, in C.  One task animates a
 * "|/-\" spinner while another waits for a slow computation (here a 3 s
 * sleep standing in for I/O).  When the answer arrives the spinner is
 * cancelled: its sleep returns -ECANCELED, it wipes its line and ends.
 *
 *   $ ./spinner            # or: ./spinner 1.5  (seconds to "compute")
 */
#include <corio.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000ull

static void *spin(void *arg)
{
	const char *msg = arg;
	static const char frames[] = "|/-\\";
	size_t len = strlen(msg) + 2;
	for (unsigned i = 0;; i++) {
		printf("%c %s", frames[i % 4], msg);
		fflush(stdout);
		for (size_t k = 0; k < len; k++)
			putchar('\b');
		/* every suspending call is a cancellation point */
		if (corio_sleep(NS_PER_S / 10) == -ECANCELED)
			break;
	}
	printf("%*s", (int)len, "");
	for (size_t k = 0; k < len; k++)
		putchar('\b');
	fflush(stdout);
	return NULL;
}

static void *slow_function(void *arg)
{
	/* pretend to wait a long time for I/O */
	double seconds = *(double *)arg;
	corio_sleep((uint64_t)(seconds * NS_PER_S));
	return (void *)(intptr_t)42;
}

static void *supervisor(void *arg)
{
	corio_task *spinner;
	int err = corio_spawn_ex(NULL, &spinner, spin, "thinking!",
				 &(corio_task_options){.name = "spinner"});
	if (err)
		return CORIO_ERR_PTR(err);
	printf("spinner task: '%s'\n", corio_task_name(spinner));
	void *answer = slow_function(arg);
	corio_cancel(spinner);
	corio_join(spinner, NULL); /* -ECANCELED: it was cancelled, as we asked */
	return answer;
}

static void usage(FILE *f)
{
	fputs("usage: spinner [SECONDS]\n"
	      "Spin while a slow computation (a sleep of SECONDS, default 3, under\n"
	      "an hour) runs in another task, then print its answer.\n"
	      "  -h, --help  show this help\n",
	      f);
}

/* The SECONDS argument (@n of them at @args), or -1 if it is not one
 * number in [0, 3600). */
static double parse_seconds(int n, char **args)
{
	if (n == 0)
		return 3.0;
	char *end;
	double seconds = strtod(args[0], &end);
	/* strtod would take "" as 0 and "1x" as 1; NaN fails the range check */
	if (n > 1 || end == args[0] || *end || !(seconds >= 0 && seconds < 3600))
		return -1;
	return seconds;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	int opt = getopt_long(argc, argv, "h", longopts, NULL);
	if (opt == 'h')
		return usage(stdout), 0;
	double seconds = opt == -1 ? parse_seconds(argc - optind, argv + optind) : -1;
	if (seconds < 0)
		return usage(stderr), 2;
	void *result = NULL;
	int err = corio_run(supervisor, &seconds, &result);
	if (err || corio_is_err(result)) {
		fprintf(stderr, "spinner: %s\n",
			corio_strerror(err ? err : corio_ptr_err(result)));
		return 1;
	}
	printf("Answer: %ld\n", (long)(intptr_t)result);
	return 0;
}
