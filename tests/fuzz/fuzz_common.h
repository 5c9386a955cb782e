/* SPDX-License-Identifier: MIT */
/*
 * fuzz_common.h - what the libFuzzer targets share: an abort-on-failure
 * check that works with NDEBUG, and a split generator derived from the
 * input itself so every run is reproducible.
 */
#ifndef CORIO_FUZZ_COMMON_H
#define CORIO_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
	abort(); } } while (0)

static inline uint32_t fz_hash(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h | 1;
}

static inline uint32_t fz_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A copy in a heap block of exactly n bytes, so ASan sees any over-read. */
static inline char *fz_dup(const uint8_t *p, size_t n)
{
	char *b = malloc(n ? n : 1);
	CHECK(b);
	if (n)
		memcpy(b, p, n);
	return b;
}

/* The same with a NUL after it (n + 1 bytes), for parsers of C strings. */
static inline char *fz_str(const uint8_t *p, size_t n)
{
	char *b = malloc(n + 1);
	CHECK(b);
	if (n)
		memcpy(b, p, n);
	b[n] = 0;
	return b;
}

#endif
