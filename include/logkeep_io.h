/* SPDX-License-Identifier: MIT */
/*
 * logkeep_io.h - the I/O layer: every system call the library makes goes
 * through one table of functions (struct lk_io), which an embedder may
 * supply in lk_options.io, as SQLite's VFS and LevelDB's Env allow: to run
 * on another file system, to count or throttle I/O, or to test on a file
 * system in memory.  NULL in lk_options.io means lk_io_posix().
 *
 * The library ships two tables: lk_io_posix(), the real thing, and the
 * in-memory file system of lk_io_memory_new().  A table of one's own may
 * wrap either (copy it, replace some slots, keep the ctx of the wrapped
 * one for the calls passed on).
 *
 * Version rule
 * ------------
 * A table of version N has the fields of version N, in the order below,
 * and no others; fields are only ever appended.  lk_open() and lk_verify()
 * accept every version from LK_IO_VERSION_MIN to LK_IO_VERSION and refuse
 * any other with LK_INVALID before touching anything, and a NULL slot of
 * the table's version likewise.
 *   1  files, directories, the lock, now_ms and mono_us.
 *   2  thread_start, thread_join and the sleeps (wait_*).  With a table of
 *      version 1 the library takes the monotonic clock, the threads and the
 *      sleeps of the background threads all from lk_io_posix(), so that
 *      their deadlines and their clock agree; the table's own mono_us is
 *      then not used.
 *
 * Contracts every table keeps
 * ---------------------------
 * The library checks the results of every call against them (assertions
 * that stay on in release builds): a table that breaks one stops the
 * process with a message naming the call, as a bad pointer would.
 *
 *  1. Statuses.  A call returns LK_OK or a status its slot lists; besides
 *     those, every call that returns a status may fail with LK_IO
 *     (anything else), LK_NOSPACE (the device or a quota is full) or
 *     LK_NOMEM (out of memory), except sync and dir_sync, which return
 *     LK_OK or LK_IO only, and thread_start and wait_new, which return
 *     LK_OK or LK_NOMEM only.  A failing call sets the thread's detail
 *     (lk_errmsg()) with the call, the file name and the system's words:
 *     lk_io_fail() does that.
 *  2. Out-parameters.  A failing open, lock, dir_open, thread_start or
 *     wait_new leaves *file, *dir, *t or *w NULL; a successful one sets
 *     it non-NULL.
 *  3. Reads and writes.  pwrite writes all n bytes or fails; on failure a
 *     prefix of them may have been written.  pread returns LK_OK with
 *     *got == n, or with *got < n only at end of file; *got never exceeds
 *     n.  pwrite past the end and a growing truncate fill the gap with
 *     zeroes; a pwrite of 0 bytes changes nothing.
 *  4. Durability.  sync makes the file's data, and the metadata needed to
 *     read it back (its size), durable: fdatasync.  dir_sync makes the
 *     creates, renames and unlinks made in the directory durable.  A failed
 *     sync or dir_sync returns LK_IO whatever the cause, and the library
 *     never retries it: the system may have dropped what it could not
 *     write.  Data whose sync has not returned LK_OK may be lost, torn or
 *     garbled by a power cut; directory operations not yet synced may be
 *     undone, in any suffix of the order they were made.
 *  5. Names.  A file name is a plain name inside its directory: 1 to
 *     LK_IO_NAME_BYTES_MAX bytes, no '/', not "." or "..".  A table refuses
 *     any other with LK_INVALID (the library never passes one).  dir_open
 *     takes a path, which is the table's business.
 *  6. Files.  open and lock accept regular files only and never block: a
 *     FIFO, a device, a socket or a directory under the name is LK_IO at
 *     once.  Files are created readable and writable by the owner only,
 *     and directories likewise (0600, 0700 on POSIX).  A file unlinked or
 *     replaced by a rename stays readable and writable through the handles
 *     open on it; rename replaces its target atomically, and renaming a
 *     file onto itself does nothing.
 *  7. Handles.  A handle is used only between the call that made it and
 *     its close; close and dir_close accept NULL and never fail.
 *  8. Threads.  The library calls a table from several threads at once
 *     (writers, readers, the interval syncer, compaction): every call must
 *     be safe against every other, including pread and pwrite on the same
 *     file at different offsets, except that a handle is not closed while
 *     another call uses it.  dir_list calls back on the calling thread and
 *     must let the callback use the table.
 *  9. Clocks.  now_ms is the wall clock, for expiry and for timestamps
 *     written to disk only; it may jump (a router without a hardware clock
 *     jumps hours at its first NTP sync).  mono_us never goes back and
 *     times every interval and deadline of the library.
 */
#ifndef LOGKEEP_IO_H
#define LOGKEEP_IO_H

#include <stddef.h>
#include <stdint.h>

#include "logkeep.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version this header describes, and the oldest the library takes. */
#define LK_IO_VERSION 3u
#define LK_IO_VERSION_MIN 1u

/* A file name is one path component of NAME_MAX bytes, as on Linux. */
#define LK_IO_NAME_BYTES_MAX 255u

/* Opaque to the library; each table defines its own. */
typedef struct lk_io_file lk_io_file;
typedef struct lk_io_dir lk_io_dir;
typedef struct lk_io_thread lk_io_thread;
typedef struct lk_io_wait lk_io_wait;

/* open flags: LK_IO_CREATE only with LK_IO_WRITE, LK_IO_EXCL only with
 * LK_IO_CREATE. */
#define LK_IO_READ 0x0u    /* read only */
#define LK_IO_WRITE 0x1u   /* read and write */
#define LK_IO_CREATE 0x2u  /* create if missing */
#define LK_IO_EXCL 0x4u    /* with LK_IO_CREATE: LK_EXISTS if present */

/* A dir_list callback: LK_OK goes on, anything else stops the listing. */
typedef lk_status (*lk_io_list_fn)(void *arg, const char *name);

typedef struct lk_io {
	uint32_t version; /* LK_IO_VERSION_MIN..LK_IO_VERSION */
	void *ctx;        /* passed to every call */

	/* ---- version 1: directories ---- */

	/* Opens directory `path`; with create set, creates it first (and
	 * makes its entry durable in its parent) if missing.  LK_NOT_FOUND
	 * if it does not exist (without create) or is not a directory;
	 * LK_INVALID for an empty path. */
	lk_status (*dir_open)(void *ctx, const char *path, int create,
			      lk_io_dir **dir);
	/* Calls fn for every entry but "." and ".." in some order; stops at
	 * fn's first status other than LK_OK and returns it. */
	lk_status (*dir_list)(void *ctx, lk_io_dir *dir, lk_io_list_fn fn,
			      void *arg);
	/* See contract 4.  LK_OK or LK_IO. */
	lk_status (*dir_sync)(void *ctx, lk_io_dir *dir);
	void (*dir_close)(void *ctx, lk_io_dir *dir);

	/* LK_NOT_FOUND if `from` does not exist; LK_INVALID (a name). */
	lk_status (*rename)(void *ctx, lk_io_dir *dir, const char *from,
			    const char *to);
	/* LK_NOT_FOUND if `name` does not exist; LK_INVALID (the name). */
	lk_status (*unlink)(void *ctx, lk_io_dir *dir, const char *name);

	/* Takes an exclusive lock on file `name` (created if missing) for as
	 * long as *file stays open, against every other holder in this
	 * process and in others: LK_BUSY at once if one has it.  Released by
	 * close.  LK_INVALID (the name); LK_IO if not a regular file. */
	lk_status (*lock)(void *ctx, lk_io_dir *dir, const char *name,
			  lk_io_file **file);

	/* ---- version 1: files ---- */

	/* LK_NOT_FOUND (missing, without LK_IO_CREATE), LK_EXISTS (present,
	 * with LK_IO_EXCL), LK_INVALID (the name); LK_IO if not a regular
	 * file. */
	lk_status (*open)(void *ctx, lk_io_dir *dir, const char *name,
			  uint32_t flags, lk_io_file **file);
	/* See contract 3.  LK_INVALID: offset + n past what the table can
	 * address. */
	lk_status (*pread)(void *ctx, lk_io_file *file, void *buf, size_t n,
			   uint64_t offset, size_t *got);
	/* See contract 3.  LK_INVALID as pread; LK_IO if opened
	 * read-only. */
	lk_status (*pwrite)(void *ctx, lk_io_file *file, const void *buf,
			    size_t n, uint64_t offset);
	/* See contract 4.  LK_OK or LK_IO. */
	lk_status (*sync)(void *ctx, lk_io_file *file);
	/* Sets the size.  LK_INVALID as pread; LK_IO if opened
	 * read-only. */
	lk_status (*truncate)(void *ctx, lk_io_file *file, uint64_t size);
	/* The size as reads see it. */
	lk_status (*size)(void *ctx, lk_io_file *file, uint64_t *size);
	void (*close)(void *ctx, lk_io_file *file);

	/* ---- version 1: clocks (contract 9) ---- */

	/* Wall time, ms since the epoch. */
	uint64_t (*now_ms)(void *ctx);
	/* Monotonic time, us from an arbitrary origin. */
	uint64_t (*mono_us)(void *ctx);

	/* ---- version 2: threads and sleeps ---- */

	/* fn(arg) runs on a new thread until it returns; thread_join waits
	 * for that and frees t.  thread_start returns LK_OK or LK_NOMEM (no
	 * thread).  The library joins every thread it starts. */
	lk_status (*thread_start)(void *ctx, lk_io_thread **t,
				  void (*fn)(void *arg), void *arg);
	void (*thread_join)(void *ctx, lk_io_thread *t);

	/* The sleeps of the background threads, and of a committer that
	 * waits (at most 20 ms) for others to share its group's fdatasync
	 * (logkeep.h, Durability), on the caller's own thread; wait_stop
	 * may then come from another committer.  wait_until sleeps until
	 * mono_us reaches deadline_us, or until wait_stop(w) is called,
	 * whichever comes first, and returns 1 if w is stopped, else 0 (it
	 * may also return early: callers look at the clock).  wait_stop is
	 * final: it wakes every sleeper of w, and every later wait_until on
	 * w returns 1 at once.  wait_new returns LK_OK or LK_NOMEM. */
	lk_status (*wait_new)(void *ctx, lk_io_wait **w);
	void (*wait_free)(void *ctx, lk_io_wait *w);
	int (*wait_until)(void *ctx, lk_io_wait *w, uint64_t deadline_us);
	void (*wait_stop)(void *ctx, lk_io_wait *w);

	/* ---- version 3: read-only mappings ---- */

	/* Maps the first n bytes of file read-only and shared (mmap with
	 * PROT_READ, MAP_SHARED): *addr shows the file's bytes until unmap,
	 * the handle's later writes included.  The library maps only files
	 * it does not write while they are mapped, at most their size, and
	 * never truncates a mapped file; a table may still keep such a
	 * promise for the whole mapping.  It maps sealed segments, and
	 * while a writable open replays a segment, that one (the newest
	 * included: unmapped before it is written to).  It maps a file
	 * once at a time, and unmaps it before closing the handle (a
	 * handle a power cut killed included).  Declining is allowed and
	 * costs nothing but speed: on any failure (LK_INVALID: this table
	 * does not map, or not this much; LK_NOMEM: no address space;
	 * LK_IO) the library reads the file with pread, as with a table
	 * of version 2.  *addr is NULL on failure. */
	lk_status (*map)(void *ctx, lk_io_file *file, size_t n,
			 const void **addr);
	/* Ends a mapping map made: the same file, address and n. */
	void (*unmap)(void *ctx, lk_io_file *file, const void *addr,
		      size_t n);
} lk_io;

/* Sets the calling thread's detail (lk_errmsg()) from a printf format and
 * returns status, for tables of one's own: `return lk_io_fail(LK_IO,
 * "pwrite %s: %s", name, why);`.  status must not be LK_OK. */
#if defined(__GNUC__)
#define LK_IO_PRINTF_ __attribute__((format(printf, 2, 3)))
#else
#define LK_IO_PRINTF_
#endif
LK_API lk_status lk_io_fail(lk_status status, const char *fmt, ...)
	LK_IO_PRINTF_;

/* The POSIX layer: a static table, never freed, safe to share between
 * handles and threads. */
LK_API const lk_io *lk_io_posix(void);

/* The in-memory layer.  Each lk_io_memory_new() is an independent file
 * system; directories are named by path strings.  sync does nothing: no
 * power cut can happen to it.  Its clocks are simulated: the wall clock
 * starts at the real time and moves only by lk_io_memory_set_time_ms();
 * the monotonic clock moves only by lk_io_memory_advance_us(), so the
 * background threads of a handle on it (interval sync, compaction) run
 * only when the caller moves it; a sleep on a thread the handle did not
 * start moves it to the sleep's deadline at once (its syncs take no
 * simulated time, so its committers never wait for each other).
 * lk_io_memory_new returns LK_OK or
 * LK_NOMEM; free it after closing every handle on it. */
LK_API lk_status lk_io_memory_new(lk_io **io);
LK_API void lk_io_memory_free(lk_io *io);
LK_API void lk_io_memory_set_time_ms(lk_io *io, uint64_t now_ms);
/* Moves the monotonic clock us microseconds on, deadline by deadline, and
 * returns when every background thread started on io has done what fell
 * due and sleeps again.  The caller holds no lock of a handle on io: call
 * it between API calls. */
LK_API void lk_io_memory_advance_us(lk_io *io, uint64_t us);

#ifdef __cplusplus
}
#endif

#endif /* LOGKEEP_IO_H */
