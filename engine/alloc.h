/* SPDX-License-Identifier: MIT */
/*
 * alloc.h - every heap allocation of the engine goes through here, so that
 * the fault loops of the crash tests can fail the Nth allocation (once, or
 * from then on) and prove that each failure returns LK_NOMEM cleanly.
 */
#ifndef LK_ALLOC_H
#define LK_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *mem_alloc(size_t size);
void *mem_calloc(size_t count, size_t size);
void *mem_realloc(void *ptr, size_t size);
/* mem_realloc of an array of count elements of size bytes each: NULL,
 * as for no memory, when count * size does not fit a size_t (on 32-bit,
 * 2^27 elements of 32 bytes), instead of a block of the wrapped size. */
void *mem_realloc_array(void *ptr, size_t count, size_t size);
void mem_free(void *ptr);

/* mem_alloc for a large table that is read at random (the index): huge
 * pages where the kernel gives them.  Not zeroed; freed with mem_free.
 * NULL, as for no memory, for a size that rounding up to whole huge
 * pages would wrap. */
void *mem_alloc_table(size_t size);

/* Test hook: the allocation numbered `nth` (1 = the next one) fails, and
 * with `sticky` every one after it too.  nth 0 disarms.  Returns how many
 * allocations were made since the last call (so a loop can find its end). */
uint64_t mem_fail_at(uint64_t nth, int sticky);

/* Test hook: the largest single request (failed ones too) since the last
 * call, which it resets: lets a test prove that hostile input made no
 * large allocation. */
size_t mem_largest(void);

/* Test hook: the bytes of the requests of MEM_LARGE_BYTES or more (failed
 * ones too) since the last call, which it resets: lets a test prove what
 * an operation allocates beside a table.  Small requests are not counted,
 * so that the hook costs the hot path a comparison. */
#define MEM_LARGE_BYTES ((size_t)64 << 10)
uint64_t mem_large_bytes(void);

#endif /* LK_ALLOC_H */
