/* SPDX-License-Identifier: MIT */
/*
 * io_check.c - the contract of logkeep_io.h, asserted once for every call
 * of the engine, whatever table the caller gave (io.h: struct io_check).
 *
 * Method.  lk_open() and lk_verify() install a checking table around the
 * caller's; every slot of it asserts the call's preconditions (handles not
 * NULL, names plain, flags valid, buffers present), passes the call on
 * unchanged, and asserts its postconditions:
 *   - the status is LK_OK or one the slot may return (statuses_ok);
 *   - a failure set the thread's detail (err_serial moved);
 *   - pread: *got <= n; open, lock, dir_open, thread_start, wait_new: the
 *     out-parameter is set exactly when the call succeeded;
 *   - sync and dir_sync: LK_OK or LK_IO, nothing else (a failed sync is
 *     never retried, and LK_NOSPACE would invite a retry);
 *   - wait_until: 0 or 1;
 *   - map: *addr is set exactly when the call succeeded (a table of
 *     version 1 or 2 declines every map here, so the engine needs no
 *     test of the version).
 * The checks are LK_ASSERT, on in release builds: a table that breaks its
 * contract is a programmer's error, found at the call instead of as a
 * corrupt log later.  No call is added or reordered (the crash explorer
 * counts the same calls with or without it), and nothing is allocated.
 *
 * Not checked: that a handle is still open (the wrapper keeps no state
 * per handle; the sanitizer build catches a use after close), and the
 * monotonic clock across threads (two readers may see their readings in
 * either order).
 *
 * The slots are named chk_<slot of lk_io>.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "contract.h"
#include "error.h"
#include "io.h"

#define BIT(st) (1u << (unsigned)(st))

/* What every call that returns a status may fail with (contract 1). */
#define ANY_FAILURE (BIT(LK_IO) | BIT(LK_NOSPACE) | BIT(LK_NOMEM))
#define NAMED_FAILURE (ANY_FAILURE | BIT(LK_INVALID) | BIT(LK_NOT_FOUND))

static const struct io_check *check_of(void *ctx)
{
	const struct io_check *c = ctx;

	LK_ASSERT(c != NULL && c->inner != NULL && c->table.ctx == c);
	return c;
}

/* The postcondition every status-returning call shares: st is LK_OK or
 * one of `allowed`, and a failure set the detail.  Returns st. */
static lk_status outcome(lk_status st, unsigned allowed, uint64_t serial)
{
	LK_ASSERT(st == LK_OK ||
		  ((unsigned)st < 32 && (BIT(st) & allowed) != 0));
	LK_ASSERT(st == LK_OK || err_serial() != serial);
	return st;
}

static void check_name(const char *call, const char *name)
{
	uint64_t serial = err_serial();

	/* The engine makes its names: a bad one is its bug, not the
	 * table's to refuse. */
	LK_ASSERT(io_check_name(call, name) == LK_OK);
	LK_ASSERT(err_serial() == serial);
}

/* ---------------------------------------------------------------------- */
/* Directories                                                            */
/* ---------------------------------------------------------------------- */

static lk_status chk_dir_open(void *ctx, const char *path, int create,
			      lk_io_dir **dir)
{
	const struct io_check *c = check_of(ctx);
	uint64_t serial = err_serial();
	lk_status st;

	LK_ASSERT(path != NULL && dir != NULL);
	st = c->inner->dir_open(c->inner->ctx, path, create, dir);
	LK_ASSERT((st == LK_OK) == (*dir != NULL));
	return outcome(st, NAMED_FAILURE, serial);
}

/* dir_list returns its callback's status unchanged: only a status that
 * did not come from the callback is the table's and checked. */
struct list_tap {
	lk_io_list_fn fn;
	void *arg;
	lk_status stopped_with; /* LK_OK: the callback never stopped it */
};

static lk_status tap(void *arg, const char *name)
{
	struct list_tap *t = arg;
	lk_status st;

	LK_ASSERT(name != NULL && name[0] != '\0');
	st = t->fn(t->arg, name);
	t->stopped_with = st;
	return st;
}

static lk_status chk_dir_list(void *ctx, lk_io_dir *dir, lk_io_list_fn fn,
			      void *arg)
{
	const struct io_check *c = check_of(ctx);
	struct list_tap t = { fn, arg, LK_OK };
	uint64_t serial = err_serial();
	lk_status st;

	LK_ASSERT(dir != NULL && fn != NULL);
	st = c->inner->dir_list(c->inner->ctx, dir, tap, &t);
	if (st != LK_OK && st == t.stopped_with)
		return st;
	LK_ASSERT(t.stopped_with == LK_OK); /* a stop ends the listing */
	return outcome(st, ANY_FAILURE, serial);
}

static lk_status chk_dir_sync(void *ctx, lk_io_dir *dir)
{
	const struct io_check *c = check_of(ctx);
	uint64_t serial = err_serial();

	LK_ASSERT(dir != NULL);
	return outcome(c->inner->dir_sync(c->inner->ctx, dir), BIT(LK_IO),
		       serial);
}

static void chk_dir_close(void *ctx, lk_io_dir *dir)
{
	const struct io_check *c = check_of(ctx);

	c->inner->dir_close(c->inner->ctx, dir);
}

static lk_status chk_rename(void *ctx, lk_io_dir *dir, const char *from,
			    const char *to)
{
	const struct io_check *c = check_of(ctx);
	uint64_t serial = err_serial();

	LK_ASSERT(dir != NULL);
	check_name("rename", from);
	check_name("rename to", to);
	return outcome(c->inner->rename(c->inner->ctx, dir, from, to),
		       NAMED_FAILURE | BIT(LK_EXISTS), serial);
}

static lk_status chk_unlink(void *ctx, lk_io_dir *dir, const char *name)
{
	const struct io_check *c = check_of(ctx);
	uint64_t serial = err_serial();

	LK_ASSERT(dir != NULL);
	check_name("unlink", name);
	return outcome(c->inner->unlink(c->inner->ctx, dir, name),
		       NAMED_FAILURE, serial);
}

static lk_status chk_lock(void *ctx, lk_io_dir *dir, const char *name,
			  lk_io_file **file)
{
	const struct io_check *c = check_of(ctx);
	uint64_t serial = err_serial();
	lk_status st;

	LK_ASSERT(dir != NULL && file != NULL);
	check_name("lock", name);
	st = c->inner->lock(c->inner->ctx, dir, name, file);
	LK_ASSERT((st == LK_OK) == (*file != NULL));
	return outcome(st, NAMED_FAILURE | BIT(LK_BUSY), serial);
}

/* ---------------------------------------------------------------------- */
/* Files                                                                  */
/* ---------------------------------------------------------------------- */

static lk_status chk_open(void *ctx, lk_io_dir *dir, const char *name,
			  uint32_t flags, lk_io_file **file)
{
	const struct io_check *c = check_of(ctx);
	uint64_t serial = err_serial();
	lk_status st;

	LK_ASSERT(dir != NULL && file != NULL);
	LK_ASSERT((flags & ~(LK_IO_WRITE | LK_IO_CREATE | LK_IO_EXCL)) == 0);
	LK_ASSERT(!(flags & LK_IO_CREATE) || (flags & LK_IO_WRITE));
	LK_ASSERT(!(flags & LK_IO_EXCL) || (flags & LK_IO_CREATE));
	check_name("open", name);
	st = c->inner->open(c->inner->ctx, dir, name, flags, file);
	LK_ASSERT((st == LK_OK) == (*file != NULL));
	return outcome(st, NAMED_FAILURE | BIT(LK_EXISTS), serial);
}

static lk_status chk_pread(void *ctx, lk_io_file *file, void *buf, size_t n,
			   uint64_t offset, size_t *got)
{
	const struct io_check *c = check_of(ctx);
	uint64_t serial = err_serial();
	lk_status st;

	LK_ASSERT(file != NULL && got != NULL && (buf != NULL || n == 0));
	*got = 0;
	st = c->inner->pread(c->inner->ctx, file, buf, n, offset, got);
	LK_ASSERT(*got <= n);
	return outcome(st, ANY_FAILURE | BIT(LK_INVALID), serial);
}

static lk_status chk_pwrite(void *ctx, lk_io_file *file, const void *buf,
			    size_t n, uint64_t offset)
{
	const struct io_check *c = check_of(ctx);
	uint64_t serial = err_serial();

	LK_ASSERT(file != NULL && (buf != NULL || n == 0));
	return outcome(c->inner->pwrite(c->inner->ctx, file, buf, n, offset),
		       ANY_FAILURE | BIT(LK_INVALID), serial);
}

static lk_status chk_sync(void *ctx, lk_io_file *file)
{
	const struct io_check *c = check_of(ctx);
	uint64_t serial = err_serial();

	LK_ASSERT(file != NULL);
	return outcome(c->inner->sync(c->inner->ctx, file), BIT(LK_IO),
		       serial);
}

static lk_status chk_truncate(void *ctx, lk_io_file *file, uint64_t size)
{
	const struct io_check *c = check_of(ctx);
	uint64_t serial = err_serial();

	LK_ASSERT(file != NULL);
	return outcome(c->inner->truncate(c->inner->ctx, file, size),
		       ANY_FAILURE | BIT(LK_INVALID), serial);
}

static lk_status chk_size(void *ctx, lk_io_file *file, uint64_t *size)
{
	const struct io_check *c = check_of(ctx);
	uint64_t serial = err_serial();

	LK_ASSERT(file != NULL && size != NULL);
	return outcome(c->inner->size(c->inner->ctx, file, size), ANY_FAILURE,
		       serial);
}

static void chk_close(void *ctx, lk_io_file *file)
{
	const struct io_check *c = check_of(ctx);

	c->inner->close(c->inner->ctx, file);
}

/* ---------------------------------------------------------------------- */
/* Clocks, threads and sleeps                                             */
/* ---------------------------------------------------------------------- */

static uint64_t chk_now_ms(void *ctx)
{
	const struct io_check *c = check_of(ctx);

	return c->inner->now_ms(c->inner->ctx);
}

static uint64_t chk_mono_us(void *ctx)
{
	const struct io_check *c = check_of(ctx);

	return c->timing->mono_us(c->timing->ctx);
}

static lk_status chk_thread_start(void *ctx, lk_io_thread **t,
				  void (*fn)(void *arg), void *arg)
{
	const struct io_check *c = check_of(ctx);
	uint64_t serial = err_serial();
	lk_status st;

	LK_ASSERT(t != NULL && fn != NULL);
	st = c->timing->thread_start(c->timing->ctx, t, fn, arg);
	LK_ASSERT((st == LK_OK) == (*t != NULL));
	return outcome(st, BIT(LK_NOMEM), serial);
}

static void chk_thread_join(void *ctx, lk_io_thread *t)
{
	const struct io_check *c = check_of(ctx);

	LK_ASSERT(t != NULL);
	c->timing->thread_join(c->timing->ctx, t);
}

static lk_status chk_wait_new(void *ctx, lk_io_wait **w)
{
	const struct io_check *c = check_of(ctx);
	uint64_t serial = err_serial();
	lk_status st;

	LK_ASSERT(w != NULL);
	st = c->timing->wait_new(c->timing->ctx, w);
	LK_ASSERT((st == LK_OK) == (*w != NULL));
	return outcome(st, BIT(LK_NOMEM), serial);
}

static void chk_wait_free(void *ctx, lk_io_wait *w)
{
	const struct io_check *c = check_of(ctx);

	c->timing->wait_free(c->timing->ctx, w);
}

static int chk_wait_until(void *ctx, lk_io_wait *w, uint64_t deadline_us)
{
	const struct io_check *c = check_of(ctx);
	int stopped;

	LK_ASSERT(w != NULL);
	stopped = c->timing->wait_until(c->timing->ctx, w, deadline_us);
	LK_ASSERT(stopped == 0 || stopped == 1);
	return stopped;
}

static void chk_wait_stop(void *ctx, lk_io_wait *w)
{
	const struct io_check *c = check_of(ctx);

	LK_ASSERT(w != NULL);
	c->timing->wait_stop(c->timing->ctx, w);
}

/* ---------------------------------------------------------------------- */
/* Mappings (version 3)                                                   */
/* ---------------------------------------------------------------------- */

/* A table of version 1 or 2 declines every mapping: the engine reads it
 * with pread, as it does when a version 3 table declines. */
static lk_status chk_map(void *ctx, lk_io_file *file, size_t n,
			 const void **addr)
{
	const struct io_check *c = check_of(ctx);
	uint64_t serial = err_serial();
	lk_status st;

	LK_ASSERT(file != NULL && addr != NULL && n > 0);
	*addr = NULL;
	if (c->inner->version < 3)
		return err_set(LK_INVALID, "map: an I/O table of version %u "
					   "does not map", c->inner->version);
	st = c->inner->map(c->inner->ctx, file, n, addr);
	LK_ASSERT((st == LK_OK) == (*addr != NULL));
	return outcome(st, ANY_FAILURE | BIT(LK_INVALID), serial);
}

static void chk_unmap(void *ctx, lk_io_file *file, const void *addr,
		      size_t n)
{
	const struct io_check *c = check_of(ctx);

	LK_ASSERT(file != NULL && addr != NULL && n > 0);
	LK_ASSERT(c->inner->version >= 3); /* only what map gave */
	c->inner->unmap(c->inner->ctx, file, addr, n);
}

/* ---------------------------------------------------------------------- */
/* Installing                                                             */
/* ---------------------------------------------------------------------- */

static const lk_io check_methods = {
	.version = LK_IO_VERSION,
	.ctx = NULL, /* set per installation */
	.dir_open = chk_dir_open,
	.dir_list = chk_dir_list,
	.dir_sync = chk_dir_sync,
	.dir_close = chk_dir_close,
	.rename = chk_rename,
	.unlink = chk_unlink,
	.lock = chk_lock,
	.open = chk_open,
	.pread = chk_pread,
	.pwrite = chk_pwrite,
	.sync = chk_sync,
	.truncate = chk_truncate,
	.size = chk_size,
	.close = chk_close,
	.now_ms = chk_now_ms,
	.mono_us = chk_mono_us,
	.thread_start = chk_thread_start,
	.thread_join = chk_thread_join,
	.wait_new = chk_wait_new,
	.wait_free = chk_wait_free,
	.wait_until = chk_wait_until,
	.wait_stop = chk_wait_stop,
	.map = chk_map,
	.unmap = chk_unmap,
};

/* The name of the first NULL slot of a table of its version, or NULL. */
static const char *missing_slot(const lk_io *io)
{
#define SLOT(name) if (io->name == NULL) return #name
	SLOT(dir_open); SLOT(dir_list); SLOT(dir_sync); SLOT(dir_close);
	SLOT(rename); SLOT(unlink); SLOT(lock); SLOT(open); SLOT(pread);
	SLOT(pwrite); SLOT(sync); SLOT(truncate); SLOT(size); SLOT(close);
	SLOT(now_ms); SLOT(mono_us);
	if (io->version < 2)
		return NULL;
	SLOT(thread_start); SLOT(thread_join); SLOT(wait_new);
	SLOT(wait_free); SLOT(wait_until); SLOT(wait_stop);
	if (io->version < 3)
		return NULL;
	SLOT(map); SLOT(unmap);
#undef SLOT
	return NULL;
}

const lk_io *io_check_install(struct io_check *c, const lk_io *inner)
{
	const char *slot;

	LK_ASSERT(c != NULL && inner != NULL);
	if (inner->version < LK_IO_VERSION_MIN ||
	    inner->version > LK_IO_VERSION) {
		err_set(LK_INVALID, "I/O table version %u: this library "
			"takes versions %u to %u", inner->version,
			LK_IO_VERSION_MIN, LK_IO_VERSION);
		return NULL;
	}
	slot = missing_slot(inner);
	if (slot != NULL) {
		err_set(LK_INVALID, "I/O table version %u: slot %s is NULL",
			inner->version, slot);
		return NULL;
	}
	c->table = check_methods;
	c->table.ctx = c;
	c->inner = inner;
	/* Version 1 has no threads or sleeps: the POSIX layer's, with the
	 * clock their deadlines are on (logkeep_io.h, "Version rule"). */
	c->timing = inner->version >= 2 ? inner : lk_io_posix();
	return &c->table;
}
