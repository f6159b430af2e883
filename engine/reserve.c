/* SPDX-License-Identifier: MIT */
/*
 * reserve.c - the space reserve in the LOCK file (see reserve.h).
 */
#include "alloc.h"
#include "contract.h"
#include "logkeep_limits.h"
#include "reserve.h"

/* The default reserve in four writes: few calls at the first open (each
 * one a cut point of the crash tests), and a nearly full device still
 * gives most of what it has. */
#define CHUNK_BYTES (LK_RESERVE_BYTES / 4u)

lk_status reserve_fill(const lk_io *io, lk_io_file *f, uint64_t want_bytes,
		       uint64_t *held_bytes)
{
	uint64_t size = 0;
	uint8_t *zeroes;
	lk_status st, sync_st;

	LK_ASSERT(io != NULL && f != NULL && held_bytes != NULL);
	st = io->size(io->ctx, f, &size);
	if (st != LK_OK)
		return st;
	*held_bytes = size;
	if (size > want_bytes) /* a smaller reserve_bytes than before */
		return reserve_shrink(io, f, want_bytes, held_bytes);
	if (size == want_bytes)
		return LK_OK;
	/* The zeroes are allocated for the fill and freed after: a static
	 * array would stay resident (the kernel's write path faults its pages
	 * in, even in .bss: 436 KiB of RSS measured for a 256 KiB pwrite),
	 * and a const one would also take 256 KiB of the library file. */
	zeroes = mem_calloc(1, CHUNK_BYTES);
	if (zeroes == NULL)
		return LK_NOMEM;
	/* Chunk by chunk, so that a nearly full device still gives what it
	 * has: a failed pwrite may leave a prefix, which the size counts. */
	while (st == LK_OK && size < want_bytes) {
		size_t n = want_bytes - size < CHUNK_BYTES
				   ? (size_t)(want_bytes - size)
				   : CHUNK_BYTES;

		st = io->pwrite(io->ctx, f, zeroes, n, size);
		if (st == LK_OK)
			size += n;
	}
	if (st != LK_OK && io->size(io->ctx, f, &size) != LK_OK)
		size = *held_bytes; /* what it was known to hold */
	mem_free(zeroes);
	*held_bytes = size;
	sync_st = io->sync(io->ctx, f);
	return st != LK_OK ? st : sync_st;
}

lk_status reserve_shrink(const lk_io *io, lk_io_file *f, uint64_t keep_bytes,
			 uint64_t *held_bytes)
{
	lk_status st;

	LK_ASSERT(io != NULL && f != NULL && held_bytes != NULL);
	LK_ASSERT(keep_bytes < *held_bytes);
	st = io->truncate(io->ctx, f, keep_bytes);
	if (st == LK_OK) {
		*held_bytes = keep_bytes;
		st = io->sync(io->ctx, f);
	}
	return st;
}
