/* SPDX-License-Identifier: MIT */
/*
 * util.h - helpers shared by the criterion suites: run a test body as the
 * main task of a fresh loop, make pipes and temp dirs, read the clock.
 */
#ifndef CORIO_TEST_UTIL_H
#define CORIO_TEST_UTIL_H

#include <corio.h>
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#define MS (1000000ull)
/* criterion .timeout for tests that wait: a hang fails instead of stalling */
#define WAIT_TEST_TIMEOUT 30

/* For a test that cannot hold under fault injection by its nature (it
 * asserts an exact error path, or counts system calls or ops): skip it,
 * with @reason, when $CORIO_FAULTS is set (.ci/run runs the suite so). */
#define CORIO_TEST_NO_FAULTS(reason)                                          \
	do {                                                                  \
		const char *corio_f_ = getenv("CORIO_FAULTS");                \
		if (corio_f_ && *corio_f_)                                    \
			cr_skip_test("not under CORIO_FAULTS: %s", (reason)); \
	} while (0)

/* Run @fn(@arg) as the main task of a new loop (options @o may be NULL),
 * assert the loop ran cleanly and was freed, and return main's result. */
void *t_run(corio_fn fn, void *arg, const corio_loop_options *o);

/* pipe2(O_CLOEXEC) that asserts. */
void t_pipe(int fds[2]);

/* A connected loopback TCP pair, with plain syscalls (on loopback the
 * kernel completes the handshake at once); asserts. */
void t_tcp_pair(int sv[2]);

/* Monotonic nanoseconds, read fresh. */
uint64_t t_clock(void);

/* A fresh temporary directory (removed with t_rmtree). */
char *t_tmpdir(void);
/* corio_loop_dump() of the current loop, as a string to free(). */
char *t_loop_dump(void);
void t_rmtree(const char *dir);

#endif
