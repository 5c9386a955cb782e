/* SPDX-License-Identifier: MIT */
/*
 * tests/threads_tsan/criterion/criterion.h - just enough of Criterion's
 * test and assertion macros to build tests/threads.c, threadsafe.c,
 * offload.c, signal.c and process.c under ThreadSanitizer, which
 * Criterion itself cannot run under (its BoxFort arena is mapped at an address TSan reserves:
 * "Could not initialize inheritable arena").  tests/threads_tsan_main.c
 * runs each registered test in a child process of its own.
 */
#ifndef CORIO_TSAN_CRITERION_SHIM_H
#define CORIO_TSAN_CRITERION_SHIM_H

#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void shim_register(const char *name, void (*fn)(void));
void shim_fail(const char *file, int line, const char *expr);

#define Test(suite, name, ...)                                                   \
	static void suite##_##name(void);                                        \
	__attribute__((constructor)) static void reg_##suite##_##name(void)      \
	{                                                                        \
		shim_register(#suite "/" #name, suite##_##name);                 \
	}                                                                        \
	static void suite##_##name(void)

#define cr_assert(cond, ...) ((cond) ? (void)0 : shim_fail(__FILE__, __LINE__, #cond))
#define cr_assert_not(cond, ...) cr_assert(!(cond))
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b))
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b))
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b))
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b))
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b))
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b))
#define cr_assert_null(p, ...) cr_assert((p) == NULL)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL)
#define cr_assert_str_eq(a, b, ...) cr_assert(strcmp((a), (b)) == 0)
#define cr_expect cr_assert
#define cr_expect_eq cr_assert_eq

#endif
