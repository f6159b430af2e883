/* SPDX-License-Identifier: MIT */
/*
 * bench_util.h - what logkeep-bench (bench.c and its files) and
 * logkeep-mesh-bench (mesh_bench.c) share: a bijective mix of ids, a
 * pseudo-random permutation that needs no memory, the monotonic clock,
 * percentiles of a sorted array and of a histogram, removing a scratch
 * directory, the resident memory of this process.
 * Header-only (static inline), so that each bench stays free of a helper
 * library.
 */
#ifndef LK_BENCH_UTIL_H
#define LK_BENCH_UTIL_H

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* splitmix64's finaliser: a bijection on 64-bit integers. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

/* A pseudo-random permutation of [0, n) that needs no memory: a four-round
 * Feistel network on the smallest even number of bits that covers n, with
 * cycle walking (re-encrypt until the result is below n; the domain is at
 * most 4n, so that takes under four rounds on average). */
struct perm {
	uint64_t n;
	unsigned half_bits;
	uint64_t half_mask;
	uint64_t round_keys[4];
};

/* n is at most 2^62 (the domain must fit in 64 bits). */
static inline void perm_init(struct perm *p, uint64_t n, uint64_t seed)
{
	unsigned bits = 2;

	assert(n > 0 && n <= UINT64_C(1) << 62);
	while ((UINT64_C(1) << bits) < n)
		bits += 2;
	p->n = n;
	p->half_bits = bits / 2;
	p->half_mask = (UINT64_C(1) << p->half_bits) - 1;
	for (unsigned i = 0; i < 4; i++)
		p->round_keys[i] = mix64(seed * 4 + i + 1);
}

static inline uint64_t perm_at(const struct perm *p, uint64_t i)
{
	uint64_t x = i;

	assert(i < p->n);
	do {
		uint64_t l = x >> p->half_bits;
		uint64_t r = x & p->half_mask;

		for (unsigned k = 0; k < 4; k++) {
			uint64_t t = l ^ (mix64(r ^ p->round_keys[k]) &
					  p->half_mask);
			l = r;
			r = t;
		}
		x = (l << p->half_bits) | r;
	} while (x >= p->n);
	return x;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	int rc = clock_gettime(CLOCK_MONOTONIC, &ts);

	assert(rc == 0);
	(void)rc;
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) +
	       (uint64_t)ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a;
	double y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank percentile of sorted[0..count), 0 < pct <= 100. */
static inline double percentile(const double *sorted, size_t count,
				unsigned pct)
{
	size_t rank;

	assert(pct > 0 && pct <= 100);
	if (count == 0)
		return NAN;
	rank = (count * pct + 99) / 100; /* ceil(count * pct / 100) */
	assert(rank >= 1 && rank <= count);
	return sorted[rank - 1];
}

/* A latency histogram in bounded memory: values in nanoseconds, exact
 * below 2 * HIST_SUB, then HIST_SUB linear buckets per power of two, so
 * that a percentile is within 1/HIST_SUB (1.6%) of the value and a million
 * samples cost 30 KiB instead of 8 MB (the bench's memory would otherwise
 * count in the engine's peak RSS). */
#define HIST_SUB_BITS 6
#define HIST_SUB (UINT64_C(1) << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct histogram {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t buckets[HIST_BUCKETS];
};

static inline size_t hist_index(uint64_t ns)
{
	unsigned shift = 0;

	if (ns < 2 * HIST_SUB)
		return (size_t)ns;
	while ((ns >> shift) >= 2 * HIST_SUB)
		shift++;
	/* ns >> shift is in [HIST_SUB, 2 * HIST_SUB) */
	size_t i = (size_t)((shift + 1) * HIST_SUB + (ns >> shift) - HIST_SUB);
	assert(i < HIST_BUCKETS);
	return i;
}

/* The middle of bucket i's range of values. */
static inline double hist_value(size_t i)
{
	assert(i < HIST_BUCKETS);
	if (i < 2 * HIST_SUB)
		return (double)i;
	unsigned shift = (unsigned)(i / HIST_SUB) - 1;
	uint64_t low = (i % HIST_SUB + HIST_SUB) << shift;
	return (double)low + (double)(UINT64_C(1) << shift) / 2;
}

static inline void hist_add(struct histogram *h, uint64_t ns)
{
	h->buckets[hist_index(ns)]++;
	h->count++;
	h->sum_ns += ns;
}

static inline void hist_merge(struct histogram *into,
			      const struct histogram *from)
{
	for (size_t i = 0; i < HIST_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
	into->count += from->count;
	into->sum_ns += from->sum_ns;
}

/* The nearest-rank percentile in microseconds, NAN when empty. */
static inline double hist_percentile_us(const struct histogram *h,
					unsigned pct)
{
	uint64_t rank, seen = 0;

	assert(pct > 0 && pct <= 100);
	if (h->count == 0)
		return NAN;
	rank = (h->count * pct + 99) / 100; /* ceil(count * pct / 100) */
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank)
			return hist_value(i) / 1e3;
	}
	assert(false); /* the buckets hold count samples */
	return NAN;
}

/* Removes path and, if it is a directory, everything under it, without
 * following symbolic links. */
static inline bool remove_tree(const char *path)
{
	struct stat st;
	struct dirent *de;
	bool ok = true;
	DIR *d;

	if (lstat(path, &st) != 0)
		return errno == ENOENT;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == 0;
	d = opendir(path);
	if (d == NULL)
		return false;
	while ((de = readdir(d)) != NULL) {
		char child[PATH_MAX];
		int len;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		len = snprintf(child, sizeof child, "%s/%s", path, de->d_name);
		if (len < 0 || (size_t)len >= sizeof child || !remove_tree(child))
			ok = false;
	}
	closedir(d);
	return ok && rmdir(path) == 0;
}

/* The "NAME: N kB" line of a /proc file of this process (NAME holds its
 * colon), or -1 when the file or the line is not there. */
static inline long proc_kib(const char *path, const char *name)
{
	FILE *f = fopen(path, "r");
	size_t len = strlen(name);
	char line[128];
	long v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, name, len) == 0 &&
		    sscanf(line + len, " %ld kB", &v) == 1)
			break;
	}
	fclose(f);
	return v;
}

/* This process's resident memory now (Linux /proc/self/status VmRSS),
 * or -1: what a child forked now starts with at most.  Not getrusage's
 * peak, which on Linux keeps the peak of whatever ran before exec (under
 * meson test, a Python interpreter). */
static inline long rss_now_kib(void)
{
	return proc_kib("/proc/self/status", "VmRSS:");
}

#endif /* LK_BENCH_UTIL_H */
