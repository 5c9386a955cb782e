/* SPDX-License-Identifier: MIT */
/*
 * tests/threads_tsan_main.c - the runner of the TSan build's suites (see
 * tests/threads_tsan/criterion/criterion.h): each test in a child process,
 * in order; the exit status says whether all passed, and TSan's reports
 * (exitcode 66 in the child) count as failures.  Argument: a substring a
 * test's name must contain (optional).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TESTS 256

static struct {
	const char *name;
	void (*fn)(void);
} tests[MAX_TESTS];
static int ntests;

void shim_register(const char *name, void (*fn)(void));
void shim_fail(const char *file, int line, const char *expr);

void shim_register(const char *name, void (*fn)(void))
{
	if (ntests < MAX_TESTS) {
		tests[ntests].name = name;
		tests[ntests].fn = fn;
		ntests++;
	}
}

void shim_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
	_exit(1);
}

int main(int argc, char **argv)
{
	int failed = 0, ran = 0;
	for (int i = 0; i < ntests; i++) {
		if (argc > 1 && !strstr(tests[i].name, argv[1]))
			continue;
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			tests[i].fn();
			fflush(NULL);
			_exit(0);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
		printf("[%s] %s\n", ok ? "PASS" : "FAIL", tests[i].name);
		failed += !ok;
		ran++;
	}
	printf("tsan: %d tests, %d failed\n", ran, failed);
	return failed ? 1 : 0;
}
