/* SPDX-License-Identifier: MIT */
/*
 * error.c - corio_strerror(): text for negative errno values, and for the
 * codes of the modules above the runtime (dns: corio/dns.h), which
 * register their block of codes with its text here, so that the runtime
 * never names them (corio__strerror_register(), corio_mod.h).
 */
#include "corio_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* A module's block of codes, and its text for them. */
struct error_range {
	int lo, hi;
	const char *(*fn)(int err);
};

/* Appended under the lock, each entry complete before the count covers
 * it; read without the lock, never changed once counted. */
static struct error_range ranges[CORIO__MAX_ERROR_RANGES];
static atomic_uint nranges;
static pthread_mutex_t ranges_lock = PTHREAD_MUTEX_INITIALIZER;

/* 0 if @lo..@hi may be added as the @n-th range, 1 if it is there already. */
static int range_check(int lo, int hi, const char *(*fn)(int), unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const struct error_range *r = &ranges[i];
		if (r->lo == lo && r->hi == hi && r->fn == fn)
			return 1;
		if (lo <= r->hi && r->lo <= hi)
			return -EEXIST;
	}
	return n < CORIO__MAX_ERROR_RANGES ? 0 : -ENOSPC;
}

int corio__strerror_register(int lo, int hi, const char *(*fn)(int err))
{
	if (!fn || lo > hi || hi > -4096)
		return -EINVAL;
	pthread_mutex_lock(&ranges_lock);
	unsigned n = atomic_load_explicit(&nranges, memory_order_relaxed);
	int err = range_check(lo, hi, fn, n);
	if (!err) {
		ranges[n] = (struct error_range){lo, hi, fn};
		atomic_store_explicit(&nranges, n + 1, memory_order_release);
	}
	pthread_mutex_unlock(&ranges_lock);
	return err > 0 ? 0 : err;
}

static const char *module_code(int err)
{
	unsigned n = atomic_load_explicit(&nranges, memory_order_acquire);
	for (unsigned i = 0; i < n; i++)
		if (err >= ranges[i].lo && err <= ranges[i].hi)
			return ranges[i].fn(err);
	return NULL;
}

const char *corio_strerror(int err)
{
	static __thread char buf[48];
	if (err == 0)
		return "Success";
	const char *s = err < -4095 ? module_code(err) : NULL;
	if (s)
		return s;
	if (err < 0 && err > -4096) {
		s = strerrordesc_np(-err);
		if (s)
			return s;
	}
	snprintf(buf, sizeof(buf), "Unknown error %d", err);
	return buf;
}
