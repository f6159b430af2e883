/* SPDX-License-Identifier: MIT */
/*
 * io.h - the I/O layer: every system call the engine makes goes through one
 * table of functions, so that tests and fuzzers can substitute an in-memory
 * file system or one that injects faults and simulates power cuts.
 *
 * Implementations:
 *   io_posix.c   the real thing; the only file that calls open, pread,
 *                pwrite, fdatasync, rename, ... and the only file that
 *                looks at errno (translated once, into lk_status + detail).
 *   io_memory.c  a file system in memory, for tests, fuzzers and embedders
 *                that want a throwaway store.
 *   (tests)      the fault-injecting layer (io_fault.c).
 *   simclock.c   the simulated monotonic clock, threads and sleeps of the
 *                memory and fault layers.
 *
 * Contracts every implementation keeps:
 *   - Functions return LK_OK or a status: LK_NOT_FOUND (no such file),
 *     LK_EXISTS (exclusive create of an existing file), LK_BUSY (lock held),
 *     LK_NOSPACE (ENOSPC, EDQUOT), LK_IO (anything else), LK_NOMEM.  On
 *     failure they set the thread's error detail (error.h) with the call,
 *     the file name and the system's words.
 *   - pwrite writes all n bytes or fails; on failure a prefix may have
 *     been written.  pread returns fewer bytes only at end of file.
 *   - sync is fdatasync: data and the metadata needed to read it back.
 *     dir_sync makes creates, renames and unlinks in the directory durable.
 *   - File names are plain names inside the directory: no '/'.
 *   - Files are created 0600 and opened close-on-exec and without
 *     following symbolic links; directories are created 0700.
 *   - open and lock accept regular files only: a FIFO, a device, a socket
 *     or a directory under the name is LK_IO ("not a regular file") at
 *     once, without blocking and without opening a device.  dir_open of a
 *     path that is not a directory is LK_NOT_FOUND.
 *   - Clocks, threads and sleeps go through the table too (version 2), so
 *     that the memory and fault layers run the background threads (the
 *     interval syncer, compaction) on simulated time: a test moves the
 *     clock, and no test sleeps.  Every interval and deadline of the
 *     engine is on mono_us; now_ms (the wall clock, which a router
 *     without a hardware clock sees jump hours at its first NTP sync) is
 *     for expiry and timestamps written to disk only.
 */
#ifndef LK_IO_H
#define LK_IO_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "logkeep.h"

/* 2: thread_start, thread_join and the sleeps (wait_*) */
#define LK_IO_VERSION 2u

/* A file name is one path component of NAME_MAX bytes, as on Linux. */
#define IO_NAME_BYTES_MAX 255u

/* Opaque to the engine; each implementation defines its own. */
typedef struct lk_io_file lk_io_file;
typedef struct lk_io_dir lk_io_dir;
typedef struct lk_io_thread lk_io_thread;
typedef struct lk_io_wait lk_io_wait;

/* open flags */
#define LK_IO_READ 0x0u    /* read only */
#define LK_IO_WRITE 0x1u   /* read and write */
#define LK_IO_CREATE 0x2u  /* create if missing (with LK_IO_WRITE) */
#define LK_IO_EXCL 0x4u    /* with LK_IO_CREATE: fail LK_EXISTS if present */

typedef lk_status (*lk_io_list_fn)(void *arg, const char *name);

typedef struct lk_io {
	uint32_t version; /* LK_IO_VERSION */
	void *ctx;        /* passed to every call */

	/* Directories.  dir_open creates the directory (0700) when create is
	 * set; LK_NOT_FOUND otherwise if it does not exist. */
	lk_status (*dir_open)(void *ctx, const char *path, int create,
			      lk_io_dir **dir);
	/* Calls fn for every entry but "." and ".."; stops at fn's first
	 * status other than LK_OK and returns it. */
	lk_status (*dir_list)(void *ctx, lk_io_dir *dir, lk_io_list_fn fn,
			      void *arg);
	lk_status (*dir_sync)(void *ctx, lk_io_dir *dir);
	void (*dir_close)(void *ctx, lk_io_dir *dir);

	lk_status (*rename)(void *ctx, lk_io_dir *dir, const char *from,
			    const char *to);
	lk_status (*unlink)(void *ctx, lk_io_dir *dir, const char *name);

	/* Takes an exclusive advisory lock on file `name` (created 0600 if
	 * missing) for as long as *file stays open: LK_BUSY at once if another
	 * holder has it.  Released by close. */
	lk_status (*lock)(void *ctx, lk_io_dir *dir, const char *name,
			  lk_io_file **file);

	/* Files. */
	lk_status (*open)(void *ctx, lk_io_dir *dir, const char *name,
			  uint32_t flags, lk_io_file **file);
	lk_status (*pread)(void *ctx, lk_io_file *file, void *buf, size_t n,
			   uint64_t offset, size_t *got);
	lk_status (*pwrite)(void *ctx, lk_io_file *file, const void *buf,
			    size_t n, uint64_t offset);
	lk_status (*sync)(void *ctx, lk_io_file *file);
	lk_status (*truncate)(void *ctx, lk_io_file *file, uint64_t size);
	lk_status (*size)(void *ctx, lk_io_file *file, uint64_t *size);
	void (*close)(void *ctx, lk_io_file *file);

	/* Clocks: wall time for expiry (ms since the epoch), and a monotonic
	 * clock for intervals and reports (us, arbitrary origin). */
	uint64_t (*now_ms)(void *ctx);
	uint64_t (*mono_us)(void *ctx);

	/* Threads (version 2): fn(arg) runs on a new thread until it
	 * returns; thread_join waits for that and frees t.  thread_start
	 * returns LK_OK or LK_NOMEM (no thread). */
	lk_status (*thread_start)(void *ctx, lk_io_thread **t,
				  void (*fn)(void *arg), void *arg);
	void (*thread_join)(void *ctx, lk_io_thread *t);

	/* Sleeps (version 2), for the background threads.  wait_until
	 * sleeps until mono_us reaches deadline_us, or until wait_stop(w)
	 * is called, whichever comes first, and returns 1 if w is stopped,
	 * else 0 (it may also return early: callers look at the clock).
	 * wait_stop is final: it wakes every sleeper of w, and every later
	 * wait_until on w returns 1 at once.  wait_new returns LK_OK or
	 * LK_NOMEM. */
	lk_status (*wait_new)(void *ctx, lk_io_wait **w);
	void (*wait_free)(void *ctx, lk_io_wait *w);
	int (*wait_until)(void *ctx, lk_io_wait *w, uint64_t deadline_us);
	void (*wait_stop)(void *ctx, lk_io_wait *w);
} lk_io;

/* The POSIX layer (a static table; never freed). */
const lk_io *lk_io_posix(void);

/* The in-memory layer.  Each lk_io_memory_new() is an independent file
 * system; directories are named by path strings.  Its clocks are
 * simulated: the wall clock starts at the real time and moves only by
 * lk_io_memory_set_time_ms(); the monotonic clock moves only by
 * lk_io_memory_advance_us() (see simclock.h), so the background threads
 * of a handle on it (interval sync, compaction) run only when a test
 * moves it. */
LK_API lk_status lk_io_memory_new(lk_io **io);
LK_API void lk_io_memory_free(lk_io *io);
LK_API void lk_io_memory_set_time_ms(lk_io *io, uint64_t now_ms);
/* Moves the monotonic clock us microseconds on, deadline by deadline, and
 * returns when every background thread started on io has done what fell
 * due and sleeps again (simclock_advance_us).  The caller holds no lock
 * of a handle on io. */
LK_API void lk_io_memory_advance_us(lk_io *io, uint64_t us);

/* The rule every layer applies to a file name before anything else:
 * 1 to IO_NAME_BYTES_MAX bytes, no '/', not "." or "..".  Returns LK_OK or
 * LK_INVALID with the detail set; `call` names the operation. */
static inline lk_status io_check_name(const char *call, const char *name)
{
	size_t len;

	assert(name != NULL); /* the engine's names are never NULL */
	len = strnlen(name, IO_NAME_BYTES_MAX + 1);

	if (len == 0 || len > IO_NAME_BYTES_MAX || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return err_set(LK_INVALID,
			       "%s \"%.64s\": not a plain file name of 1 to %u "
			       "bytes", call, name, IO_NAME_BYTES_MAX);
	return LK_OK;
}

#endif /* LK_IO_H */
