/* SPDX-License-Identifier: MIT */
/*
 * io.h - the engine's side of the I/O layer: every system call the engine
 * makes goes through one table of functions (logkeep_io.h), so that
 * embedders, tests and fuzzers can substitute an in-memory file system or
 * one that injects faults and simulates power cuts.
 *
 * Implementations:
 *   io_posix.c   the real thing; the only file that calls open, pread,
 *                pwrite, fdatasync, rename, ... and the only file that
 *                looks at errno (translated once, into lk_status + detail).
 *   io_memory.c  a file system in memory, for tests, fuzzers and embedders
 *                that want a throwaway store.
 *   memfs.c      the file system in memory that io_memory.c and
 *                io_fault.c share.
 *   io_fault.c   the fault-injecting layer (tests and fuzzers only).
 *   io_check.c   the checking table around any of them.
 *   simclock.c   the simulated monotonic clock, threads and sleeps of the
 *                memory and fault layers.
 *
 * The table itself, its version rule and the contract of every call are
 * public (include/logkeep_io.h), since embedders may supply their own.
 * This header adds what only the engine needs: the name rule every layer
 * applies, and the checking table (io_check.c) through which the engine
 * makes every call, whatever table the caller gave.
 */
#ifndef LK_IO_H
#define LK_IO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "contract.h"
#include "error.h"
#include "logkeep.h"
#include "logkeep_io.h"

/* The engine's name for the public limit (logkeep_io.h). */
#define IO_NAME_BYTES_MAX LK_IO_NAME_BYTES_MAX

/* io_check.c: the contract of logkeep_io.h, asserted once for every call.
 * The engine never calls a caller's table directly: lk_open() and
 * lk_verify() install a struct io_check around it, and the engine calls
 * the checking table (io_check_install's result) instead.  It passes
 * every call on unchanged (no call added, none reordered), and asserts
 * the arguments (names, flags, buffers) before and the results (status
 * among the slot's, *got <= n, out-parameters set or NULL, the detail set
 * on failure) after. */
struct io_check {
	lk_io table;            /* what the engine calls; ctx points here */
	const lk_io *inner;     /* the caller's table */
	const lk_io *timing;    /* mono_us, threads, sleeps: inner, or the
				 * POSIX layer's for a version 1 table */
};

/* Checks the caller's table (its version, no NULL slot) and makes c's
 * checking table around it; returns &c->table, or NULL with LK_INVALID in
 * the detail, having changed nothing.  c must outlive every call made
 * through the result. */
const lk_io *io_check_install(struct io_check *c, const lk_io *inner);

/* The rule every layer applies to a file name before anything else:
 * 1 to IO_NAME_BYTES_MAX bytes, no '/', not "." or "..".  Returns LK_OK or
 * LK_INVALID with the detail set; `call` names the operation. */
static inline lk_status io_check_name(const char *call, const char *name)
{
	size_t len;

	LK_ASSERT(name != NULL); /* the engine's names are never NULL */
	len = strnlen(name, IO_NAME_BYTES_MAX + 1);

	if (len == 0 || len > IO_NAME_BYTES_MAX || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return err_set(LK_INVALID,
			       "%s \"%.64s\": not a plain file name of 1 to %u "
			       "bytes", call, name, IO_NAME_BYTES_MAX);
	return LK_OK;
}

#endif /* LK_IO_H */
