/* SPDX-License-Identifier: MIT */
/*
 * db.c - the public entry points of logkeep.h: open and close, reads,
 * writes, stats and reports, each a thin call into the module that does
 * the work (namespaces in ns.c, iterators in iter.c, batches in commit.c,
 * replay in recovery.c); the handle's layout and lock order are in
 * handle.h.
 *
 * A read holds ix_lock shared for the whole lookup, including the pread
 * that confirms a candidate's key and fetches its value: the index never
 * keeps keys, so a record's bytes are the only proof that a hash match is
 * the key asked for.  Holding the lock keeps the segment table stable
 * under the read (compaction will remove segments under the exclusive
 * lock), and the writer takes it exclusively only to apply a group
 * already on disk.
 */
#include <assert.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "alloc.h"
#include "backup.h"
#include "commit.h"
#include "compact.h"
#include "endian.h"
#include "error.h"
#include "ns.h"
#include "recovery.h"
#include "scrub.h"
#include "segtable.h"
#include "snapshot.h"

const char *lk_version(void)
{
	return LK_VERSION_STRING;
}

void lk_free(void *ptr)
{
	mem_free(ptr);
}

/* ---------------------------------------------------------------------- */
/* Open and close                                                         */
/* ---------------------------------------------------------------------- */

static void db_free(struct lk_db *db)
{
	const lk_io *io = db->io;

	scrub_free(db);
	compact_stop(db);
	commit_free(db); /* also an open that failed after commit_init */
	compact_free(db);
	snapshot_free(db);
	segtable_free(db);
	compressor_free(db->cmp);
	ns_free(db);
	if (db->lock)
		io->close(io->ctx, db->lock);
	if (db->dir)
		io->dir_close(io->ctx, db->dir);
	db->magic = DB_MAGIC_CLOSED;
	mem_free(db);
}


static lk_status check_options(const lk_options *o)
{
	if (o->version != LK_OPTIONS_VERSION)
		return err_set(LK_INVALID, "options version %u, this library "
				           "knows 1 to %u: use LK_OPTIONS_INIT",
			       o->version, LK_OPTIONS_VERSION);
	if (o->flags & ~(LK_OPEN_CREATE | LK_OPEN_READONLY | LK_OPEN_SALVAGE))
		return err_set(LK_INVALID, "unknown open flags 0x%x", o->flags);
	if ((o->flags & LK_OPEN_SALVAGE) && (o->flags & LK_OPEN_READONLY))
		return err_set(LK_INVALID, "LK_OPEN_SALVAGE changes the "
					   "directory: not with LK_OPEN_READONLY");
	if (o->sync != LK_SYNC_ALWAYS && o->sync != LK_SYNC_INTERVAL &&
	    o->sync != LK_SYNC_NONE)
		return err_set(LK_INVALID, "unknown sync mode %d", (int)o->sync);
	if (o->sync == LK_SYNC_INTERVAL &&
	    (o->sync_interval_ms == 0 || o->sync_interval_ms > 3600000))
		return err_set(LK_INVALID, "sync interval of %u ms: 1 ms to 1 h",
			       o->sync_interval_ms);
	if (o->segment_size_bytes < LK_SEGMENT_SIZE_MIN_BYTES ||
	    o->segment_size_bytes > LK_SEGMENT_SIZE_MAX_BYTES)
		return err_set(LK_INVALID, "segment size %" PRIu64 ": %u to %u "
				           "bytes",
			       o->segment_size_bytes, LK_SEGMENT_SIZE_MIN_BYTES,
			       LK_SEGMENT_SIZE_MAX_BYTES);
	if (o->compact_dead_pct > 99 || o->compact_idle_pct > 99 ||
	    (o->compact_dead_pct &&
	     (o->compact_idle_pct == 0 ||
	      o->compact_idle_pct > o->compact_dead_pct)))
		return err_set(LK_INVALID, "compaction at %u%% dead, %u%% when "
				           "idle: 1 to 99, idle at most the "
				           "other (or 0 for none)",
			       o->compact_dead_pct, o->compact_idle_pct);
	if (o->snapshot_every_bytes &&
	    o->snapshot_every_bytes < LK_SNAPSHOT_EVERY_MIN_BYTES)
		return err_set(LK_INVALID, "a snapshot every %" PRIu64 " bytes "
				           "of log: 0 (none) or at least %u",
			       o->snapshot_every_bytes,
			       LK_SNAPSHOT_EVERY_MIN_BYTES);
	if (o->reserve_bytes < LK_RESERVE_MIN_BYTES ||
	    o->reserve_bytes > LK_RESERVE_MAX_BYTES)
		return err_set(LK_INVALID, "a space reserve of %" PRIu64
				           " bytes: %u to %u",
			       o->reserve_bytes, LK_RESERVE_MIN_BYTES,
			       LK_RESERVE_MAX_BYTES);
	if (o->memory_bytes_max && o->memory_bytes_max < LK_MEMORY_MIN_BYTES)
		return err_set(LK_INVALID, "a memory budget of %" PRIu64
				           " bytes: 0 (none) or at least %u",
			       o->memory_bytes_max, LK_MEMORY_MIN_BYTES);
	if (o->compact_idle_ms > 3600000)
		return err_set(LK_INVALID, "compaction idle time of %u ms: at "
				           "most 1 h",
			       o->compact_idle_ms);
	return LK_OK;
}

/* The caller's options in this library's version: an older struct stops
 * before the fields added since, which take their defaults. */
static lk_status take_options(lk_options *o, const lk_options *given)
{
	lk_status st = LK_OK;

	lk_options_init(o);
	if (given)
		st = abi_read(o, ABI_OPTIONS, given);
	return st != LK_OK ? st : check_options(o);
}

/* An open's first part, up to the replay: the handle, its directory and
 * lock, and the tables the replay fills.  With snap_ignore the replay
 * will take the whole log whatever snapshot there is (lk_verify compares
 * the two).  *out is freed with db_free on failure too. */
static lk_status open_start(struct lk_db **out, const char *path,
			    const lk_options *opts, int snap_ignore)
{
	struct io_check probe;
	struct lk_db *db;
	const lk_io *io;
	lk_status st;

	*out = NULL;
	if (!io_check_install(&probe, opts->io ? opts->io : lk_io_posix()))
		return LK_INVALID; /* a version or a slot; nothing touched */
	db = mem_calloc(1, sizeof *db);
	if (!db)
		return err_set(LK_NOMEM, "allocating the database handle");
	*out = db;
	db->magic = DB_MAGIC;
	io = io_check_install(&db->io_check, probe.inner);
	db->io = io;
	db->opts = *opts;
	db->opts.io = probe.inner;
	db->readonly = (opts->flags & LK_OPEN_READONLY) != 0;
	db->report.version = LK_REPORT_VERSION;

	st = io->dir_open(io->ctx, path,
			  !db->readonly && (opts->flags & LK_OPEN_CREATE), &db->dir);
	if (st != LK_OK) {
		err_prefix("opening data directory %s", path);
		return st;
	}
	if (!db->readonly) {
		st = io->lock(io->ctx, db->dir, "LOCK", &db->lock);
		if (st == LK_BUSY)
			err_set(st, "data directory %s is in use by another "
				    "writer", path);
		if (st != LK_OK)
			return st;
	}
	st = segtable_init(db);
	if (st == LK_OK)
		st = compressor_new(&db->cmp);
	if (st == LK_OK)
		st = snapshot_init(db, snap_ignore);
	return st;
}

/* lk_open without salvage. */
static lk_status open_db(lk_db **out, const char *path,
			 const lk_options *opts)
{
	lk_options o;
	struct lk_db *db;
	lk_status st;

	if (!out)
		return err_set(LK_INVALID, "lk_open: NULL out-pointer");
	*out = NULL;
	if (!path || !*path)
		return err_set(LK_INVALID, "lk_open: no path");
	st = take_options(&o, opts);
	if (st != LK_OK)
		return st;
	st = open_start(&db, path, &o, 0);
	if (st == LK_OK)
		st = recovery_open(db);
	if (st == LK_OK)
		st = ns_load(db);
	if (st == LK_OK)
		st = commit_init(db);
	if (st == LK_OK)
		st = compact_init(db);
	if (st == LK_OK)
		st = scrub_init(db);
	if (st != LK_OK)
		goto fail;
	/* The space reserve (reserve.h), once nothing can refuse the open:
	 * a refused open changes nothing on disk.  Best effort. */
	if (!db->readonly) {
		commit_reserve_fill(db);
		commit_mark_log(db);
	}
	*out = db;
	return LK_OK;

fail:
	if (db)
		db_free(db);
	return st;
}

lk_status lk_open(lk_db **out, const char *path, const lk_options *opts)
{
	lk_salvage_report rep = { .version = LK_SALVAGE_REPORT_VERSION };
	lk_status st = open_db(out, path, opts);

	if (st != LK_CORRUPT || !opts || !(opts->flags & LK_OPEN_SALVAGE))
		return st;
	/* The strict open refused damage and changed nothing: salvage, then
	 * open what was kept, strictly. */
	st = lk_salvage(&rep, path, opts, 1, NULL, NULL);
	if (st != LK_OK) {
		err_prefix("salvaging %s", path);
		return st;
	}
	st = open_db(out, path, opts);
	if (st == LK_OK)
		snprintf((*out)->report.tail_note,
			 sizeof (*out)->report.tail_note,
			 "salvaged: %" PRIu64 " files rewritten, %" PRIu64
			 " set aside, %" PRIu64 " ranges of sequence numbers "
			 "lost (lk_salvage tells which)",
			 rep.files_rewritten, rep.files_aside, rep.ranges_lost);
	return st;
}

/* Takes the handle from DB_MAGIC to DB_MAGIC_CLOSING unless a use is in
 * progress (see handle.h): LK_OK, or LK_MISUSE with the handle left open. */
static lk_status close_begin(struct lk_db *db)
{
	uint32_t open = DB_MAGIC, iters, writes, backups;

	if (!atomic_compare_exchange_strong(&db->magic, &open,
					    DB_MAGIC_CLOSING))
		return err_set(LK_MISUSE, "lk_close: the handle is closed or "
					  "being closed");
	iters = atomic_load(&db->users[DB_USE_ITER]);
	writes = atomic_load(&db->users[DB_USE_WRITE]);
	backups = atomic_load(&db->users[DB_USE_BACKUP]);
	if (iters == 0 && writes == 0 && backups == 0)
		return LK_OK;
	atomic_store(&db->magic, DB_MAGIC);
	return err_set(LK_MISUSE, "lk_close: %u iterators open, %u writes "
				  "and %u backups running; close the "
				  "iterators and wait for the calls, then "
				  "close again (the handle is still open)",
		       iters, writes, backups);
}

lk_status lk_close(lk_db *db)
{
	lk_status st;

	if (!db)
		return LK_OK;
	st = handle_check(db);
	if (st == LK_OK)
		st = close_begin(db);
	if (st != LK_OK)
		return st;
	scrub_stop(db);
	compact_stop(db);
	commit_stop(db);
	st = commit_close(db);
	/* The next open loads this instead of replaying the log.  Not
	 * taking it costs that replay, not data: its failure is not the
	 * close's. */
	if (st == LK_OK && !db->readonly && db->opts.snapshot_every_bytes &&
	    !commit_halted(db) &&
	    snapshot_behind(db) >= LK_SNAPSHOT_CLOSE_MIN_BYTES) {
		(void)compact_snapshot(db, 1);
	}
	db_free(db);
	return st;
}

/* Runs fn(db) as a use of db that lk_close() waits for (handle.h). */
static lk_status as_use(lk_db *db, enum db_use use,
			lk_status (*fn)(struct lk_db *db))
{
	lk_status st = handle_enter(db, use);

	if (st != LK_OK)
		return st;
	st = fn(db);
	handle_leave(db, use);
	return st;
}

static lk_status snapshot_now(struct lk_db *db)
{
	if (db->readonly)
		return err_set(LK_READONLY, "lk_snapshot: the handle is "
					    "read-only");
	return compact_snapshot(db, 0);
}

lk_status lk_snapshot(lk_db *db)
{
	return as_use(db, DB_USE_WRITE, snapshot_now);
}

lk_status lk_recovery(lk_recovery_report *report, lk_db *db)
{
	lk_status st = handle_check(db);

	if (st != LK_OK)
		return st;
	return abi_write(report, ABI_REPORT, &db->report);
}

/* ---------------------------------------------------------------------- */
/* Reads                                                                  */
/* ---------------------------------------------------------------------- */

/* Looks key up (segtable_lookup) after checking the handle and key. */
static lk_status lookup(struct lk_db *db, uint32_t ns, const void *key,
			size_t key_len, struct record *rec,
			struct seg_hold *hold)
{
	lk_status st = handle_check(db);

	hold->buf = NULL;
	hold->pin = NULL;
	if (st == LK_OK)
		st = commit_check_key(ns, key, key_len);
	return st != LK_OK ? st
			   : segtable_lookup(db, ns, key, key_len, rec, hold);
}

/* Turns a decoded put into a caller-owned value, and releases what held
 * the record.  A raw value read into a buffer is moved to its start (the
 * buffer has room for the NUL: rec->size > value_len), so it needs no
 * second allocation; one in a mapping is copied out. */
static lk_status take_value(struct lk_db *db, const struct record *rec,
			    struct seg_hold *hold, void **value,
			    size_t *value_len)
{
	lk_status st = LK_OK;
	uint8_t *out;

	if (rec->flags & REC_F_ZSTD) {
		uint8_t *raw;
		size_t raw_len;

		st = compressor_unpack(db->cmp, rec->value, rec->value_len, &raw,
				       &raw_len);
		segtable_release(db, hold);
		if (st != LK_OK)
			return st;
		*value = raw;
		*value_len = raw_len;
		return LK_OK;
	}
	if (hold->buf) {
		out = hold->buf;
		hold->buf = NULL;
		memmove(out, rec->value, rec->value_len);
	} else {
		out = mem_alloc((size_t)rec->value_len + 1);
		if (out)
			memcpy(out, rec->value, rec->value_len);
	}
	segtable_release(db, hold);
	if (!out)
		return err_set(LK_NOMEM, "allocating a %" PRIu32 "-byte value",
			       rec->value_len);
	out[rec->value_len] = 0;
	*value = out;
	*value_len = rec->value_len;
	return LK_OK;
}

lk_status lk_get_ex(void **value, size_t *value_len, uint64_t *seq,
		    uint64_t *expire_at_ms, lk_db *db, uint32_t ns,
		    const void *key, size_t key_len)
{
	struct seg_hold hold;
	struct record rec;
	lk_status st;

	if (value)
		*value = NULL;
	if (value_len)
		*value_len = 0;
	if (seq)
		*seq = 0;
	if (expire_at_ms)
		*expire_at_ms = 0;
	st = lookup(db, ns, key, key_len, &rec, &hold);
	if (st != LK_OK)
		return st;
	if (seq)
		*seq = rec.seq;
	if (expire_at_ms)
		*expire_at_ms = rec.expire_at_ms;
	if (!value) {
		segtable_release(db, &hold);
		return LK_OK;
	}
	{
		size_t len = 0;

		st = take_value(db, &rec, &hold, value, &len);
		if (st == LK_OK && value_len)
			*value_len = len;
	}
	if (st != LK_OK) { /* as promised: nothing half-filled */
		if (seq)
			*seq = 0;
		if (expire_at_ms)
			*expire_at_ms = 0;
	}
	return st;
}

lk_status lk_locate(uint64_t *segment_seq, uint64_t *offset, lk_db *db,
		    uint32_t ns, const void *key, size_t key_len)
{
	struct seg_hold hold;
	struct record rec;
	lk_status st = handle_check(db);

	if (st == LK_OK)
		st = commit_check_key(ns, key, key_len);
	if (st != LK_OK)
		return st;
	if (!segment_seq || !offset)
		return err_set(LK_INVALID, "lk_locate: NULL output");
	st = segtable_locate(db, ns, key, key_len, &rec, &hold, segment_seq,
			     offset);
	if (st == LK_OK)
		segtable_release(db, &hold);
	return st;
}

uint64_t lk_now_ms(lk_db *db)
{
	return handle_check(db) == LK_OK ? db->io->now_ms(db->io->ctx) : 0;
}

const lk_io *lk_db_io(lk_db *db)
{
	return handle_check(db) == LK_OK ? db->io : NULL;
}

lk_status lk_db_id(uint8_t id[LK_DB_ID_BYTES], lk_db *db)
{
	lk_status st = handle_check(db);

	_Static_assert(LK_DB_ID_BYTES == SEG_DB_ID_BYTES,
		       "the public id is the segment header's");
	if (st != LK_OK)
		return st;
	if (!id)
		return err_set(LK_INVALID, "lk_db_id: NULL output");
	memcpy(id, db->db_id, LK_DB_ID_BYTES);
	return LK_OK;
}

lk_status lk_get(void **value, size_t *value_len, lk_db *db, uint32_t ns,
		 const void *key, size_t key_len)
{
	return lk_get_ex(value, value_len, NULL, NULL, db, ns, key, key_len);
}

lk_status lk_exists(lk_db *db, uint32_t ns, const void *key, size_t key_len)
{
	return lk_get(NULL, NULL, db, ns, key, key_len);
}

struct count_ctx {
	struct lk_db *db;
	uint64_t expired;
	lk_status st;
};

static void count_expired(void *arg, uint8_t ns, struct ix_loc loc,
			  int expiring)
{
	struct count_ctx *cc = arg;
	struct record rec;
	uint8_t *buf;

	(void)ns;
	if (!expiring || cc->st != LK_OK)
		return;
	cc->st = segtable_read(cc->db, loc, &rec, &buf);
	if (cc->st == LK_OK && handle_expired(cc->db, &rec))
		cc->expired++;
	mem_free(buf);
}

lk_status lk_count(uint64_t *count, lk_db *db, uint32_t ns)
{
	struct count_ctx cc = { db, 0, LK_OK };
	lk_status st = handle_check(db);

	if (st != LK_OK)
		return st;
	if (!count)
		return err_set(LK_INVALID, "lk_count: NULL count");
	if (ns == 0 || ns > LK_NS_COUNT_MAX)
		return err_set(LK_INVALID, "namespace %u out of range", ns);
	segtable_rdlock(db);
	*count = index_count(segtable_index(db), (uint8_t)ns);
	/* Only records that carry an expiry need a read to be counted. */
	if (index_expiring(segtable_index(db), (uint8_t)ns))
		index_foreach(segtable_index(db), (int)ns, count_expired, &cc);
	segtable_unlock(db);
	*count -= cc.expired;
	return cc.st;
}

/* lk_purge_expired: one pass.  Under the shared lock, without I/O, it
 * takes the locations of the namespace's records that carry an expiry
 * and pins the segment table (as an iterator does); then, with no lock
 * held, it reads each and deletes the expired ones, each by a batch of
 * its own conditioned on its record still being that expired one. */
struct purge_ctx {
	struct ix_loc *locs;
	size_t n, cap;
};

static void collect_expiring(void *arg, uint8_t ns, struct ix_loc loc,
			     int expiring)
{
	struct purge_ctx *pc = arg;

	(void)ns;
	if (expiring && pc->n < pc->cap)
		pc->locs[pc->n++] = loc;
}

/* Deletes the record at loc if it expired; *removed counts it. */
static lk_status purge_one(struct lk_db *db, struct segment *s,
			   struct ix_loc loc, lk_batch *one, uint64_t *removed)
{
	struct record rec;
	uint8_t *buf = NULL;
	lk_status st = segtable_read_at(db, s, loc, &rec, &buf);

	if (st == LK_OK && handle_expired(db, &rec)) {
		st = commit_require_expired(one, rec.ns, rec.key, rec.key_len,
					    rec.seq);
		if (st == LK_OK)
			st = lk_batch_del(one, rec.ns, rec.key, rec.key_len);
		/* an expired record is never read again: losing its
		 * tombstone at a power cut loses nothing */
		if (st == LK_OK)
			st = lk_batch_set_flags(one, LK_BATCH_NOSYNC);
		if (st == LK_OK)
			st = lk_commit(db, one);
		if (st == LK_OK)
			(*removed)++;
		else if (st == LK_CONFLICT) /* set again meanwhile */
			st = LK_OK;
		lk_batch_clear(one);
	}
	mem_free(buf);
	return st;
}

lk_status lk_purge_expired(uint64_t *removed, lk_db *db, uint32_t ns)
{
	struct purge_ctx pc = { NULL, 0, 0 };
	struct segment **pins = NULL;
	lk_batch *one = NULL;
	lk_status st = handle_check(db);

	if (st != LK_OK)
		return st;
	if (!removed)
		return err_set(LK_INVALID, "lk_purge_expired: NULL count");
	*removed = 0;
	if (ns == 0 || ns > LK_NS_COUNT_MAX)
		return err_set(LK_INVALID, "namespace %u out of range", ns);
	if (db->readonly)
		return err_set(LK_READONLY, "the database was opened read-only");
	pins = mem_calloc(IX_SEG_SLOTS, sizeof *pins);
	st = pins ? lk_batch_new(&one) : err_set(LK_NOMEM, "lk_purge_expired");
	if (st != LK_OK)
		goto out;
	segtable_rdlock(db);
	pc.cap = (size_t)index_expiring(segtable_index(db), (uint8_t)ns);
	pc.locs = mem_alloc((pc.cap ? pc.cap : 1) * sizeof *pc.locs);
	if (pc.locs) {
		index_foreach(segtable_index(db), (int)ns, collect_expiring,
			      &pc);
		for (uint32_t i = 1; i < IX_SEG_SLOTS; i++) {
			pins[i] = segtable_at(db, i);
			if (pins[i])
				segtable_pin(pins[i]);
		}
	}
	segtable_unlock(db);
	if (!pc.locs) {
		st = err_set(LK_NOMEM, "lk_purge_expired: %zu locations",
			     pc.cap);
		goto out;
	}
	for (size_t i = 0; st == LK_OK && i < pc.n; i++)
		st = purge_one(db, pins[pc.locs[i].seg], pc.locs[i], one,
			       removed);
out:
	for (uint32_t i = 1; pins && i < IX_SEG_SLOTS; i++)
		if (pins[i])
			segtable_unpin(db, pins[i]);
	mem_free(pins);
	mem_free(pc.locs);
	lk_batch_free(one);
	return st;
}

/* ---------------------------------------------------------------------- */
/* Writes                                                                 */
/* ---------------------------------------------------------------------- */

static lk_status write_one(lk_db *db, uint8_t type, uint32_t ns,
			   const void *key, size_t key_len, const void *value,
			   size_t value_len, uint64_t expire_at_ms)
{
	lk_batch *b;
	lk_status st = handle_check(db);

	if (st != LK_OK)
		return st;
	st = commit_check_key(ns, key, key_len);
	if (st != LK_OK)
		return st;
	st = lk_batch_new(&b);
	if (st != LK_OK)
		return st;
	st = batch_add(b, type, ns, key, key_len, value, value_len,
		       expire_at_ms);
	if (st == LK_OK)
		st = lk_commit(db, b);
	lk_batch_free(b);
	return st;
}

lk_status lk_put(lk_db *db, uint32_t ns, const void *key, size_t key_len,
		 const void *value, size_t value_len, uint64_t expire_at_ms)
{
	return write_one(db, REC_PUT, ns, key, key_len, value, value_len,
			 expire_at_ms);
}

lk_status lk_del(lk_db *db, uint32_t ns, const void *key, size_t key_len)
{
	return write_one(db, REC_DEL, ns, key, key_len, NULL, 0, 0);
}

lk_status lk_commit(lk_db *db, lk_batch *batch)
{
	lk_status st = handle_enter(db, DB_USE_WRITE);

	if (st != LK_OK)
		return st;
	st = commit_batch(db, batch);
	handle_leave(db, DB_USE_WRITE);
	return st;
}

lk_status lk_compact(lk_db *db)
{
	return as_use(db, DB_USE_WRITE, compact_run);
}

lk_status lk_backup(lk_db *db, const char *dest_path, lk_progress_fn fn,
		    void *arg)
{
	lk_status st;

	if (!dest_path || !*dest_path)
		return err_set(LK_INVALID, "lk_backup: no destination");
	/* lk_close() refuses while the backup runs: it reads the segments
	 * without any lock of the handle. */
	st = handle_enter(db, DB_USE_BACKUP);
	if (st != LK_OK)
		return st;
	st = backup_run(db, dest_path, fn, arg);
	handle_leave(db, DB_USE_BACKUP);
	return st;
}

lk_status lk_sync(lk_db *db)
{
	return as_use(db, DB_USE_WRITE, commit_sync);
}

lk_status lk_scrub(lk_db *db, lk_problem_fn fn, void *arg)
{
	lk_status st = handle_check(db);

	return st != LK_OK ? st : scrub_run(db, fn, arg);
}

/* ---------------------------------------------------------------------- */
/* Stats and verification                                                 */
/* ---------------------------------------------------------------------- */

lk_status lk_stats_get(lk_stats *out, lk_db *db)
{
	lk_stats all = LK_STATS_INIT, *stats = &all;
	const struct index *ix;
	lk_status st = handle_check(db);
	size_t size;

	if (st != LK_OK)
		return st;
	if (!out)
		return err_set(LK_INVALID, "lk_stats_get: NULL stats");
	st = abi_size(&size, ABI_STATS, out->version);
	if (st != LK_OK)
		return st;
	commit_log_lock(db);
	segtable_rdlock(db);
	for (uint32_t i = 1; i < IX_SEG_SLOTS; i++) {
		const struct segment *s = segtable_at(db, i);

		if (!s || s->installing)
			continue;
		stats->segment_count++;
		stats->disk_bytes += s->file_size;
		stats->live_bytes += s->live_bytes;
		stats->dead_bytes += s->data_end - SEG_HEADER_BYTES - s->live_bytes;
		if (seg_mapped(s))
			stats->map_segments++;
		else
			stats->pread_segments++;
	}
	stats->map_bytes = segtable_map_bytes(db);
	stats->memory_bytes_max = db->opts.memory_bytes_max;
	stats->memory_bytes = index_bytes(segtable_index(db)) + stats->map_bytes;
	stats->memory_keys_room = segtable_keys_room(db);
	/* the namespace catalog's entries are the engine's, not the user's */
	ix = segtable_index(db);
	stats->live_keys = index_keys(ix) - index_count(ix, 0);
	stats->index_bytes = index_bytes(ix);
	stats->index_slots = index_slots(ix);
	segtable_unlock(db);
	commit_log_unlock(db);
	stats->seq_last = segtable_seq_last(db);
	commit_stats(db, stats);
	compact_stats(db, stats);
	snapshot_stats(db, stats);
	scrub_stats(db, stats);
	return abi_write(out, ABI_STATS, stats);
}

static int info_cmp(const void *a, const void *b)
{
	const lk_segment_info *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The segments in log order, newest layout, in a buffer the caller frees. */
static lk_status list_segments(lk_segment_info **out, size_t *count,
			       struct lk_db *db)
{
	lk_segment_info *all;
	size_t n = 0;

	*out = NULL;
	all = mem_alloc(LK_SEGMENT_COUNT_MAX * sizeof *all);
	if (!all)
		return err_set(LK_NOMEM, "listing segments");
	commit_log_lock(db);
	segtable_rdlock(db);
	for (uint32_t i = 1; i < IX_SEG_SLOTS && n < LK_SEGMENT_COUNT_MAX;
	     i++) {
		const struct segment *s = segtable_at(db, i);

		if (!s || s->installing)
			continue;
		all[n].version = LK_SEGMENT_INFO_VERSION;
		all[n].seq = s->hdr.seq;
		all[n].generation = s->hdr.generation;
		all[n].sealed = s->sealed;
		all[n].disk_bytes = s->file_size;
		all[n].live_bytes = s->live_bytes;
		all[n].dead_bytes = s->data_end - SEG_HEADER_BYTES - s->live_bytes;
		n++;
	}
	segtable_unlock(db);
	commit_log_unlock(db);
	qsort(all, n, sizeof *all, info_cmp);
	*out = all;
	*count = n;
	return LK_OK;
}

lk_status lk_segment_list(lk_segment_info *out, size_t cap, size_t *count,
			  lk_db *db)
{
	lk_segment_info *all;
	lk_status st = handle_check(db);
	size_t n = 0, size = 0;

	if (st != LK_OK)
		return st;
	if (!count || (cap && !out))
		return err_set(LK_INVALID, "lk_segment_list: NULL argument");
	if (cap)
		st = abi_size(&size, ABI_SEGMENT_INFO, out[0].version);
	if (st == LK_OK)
		st = list_segments(&all, &n, db);
	if (st != LK_OK)
		return st;
	for (size_t i = 0; i < n && i < cap; i++)
		abi_write_at((char *)out + i * size, ABI_SEGMENT_INFO,
			     out[0].version, &all[i]);
	mem_free(all);
	*count = n;
	return LK_OK;
}

/* lk_segments() as 0.1.0 declared it, without a version, kept so that
 * programs built against 0.1.0 still link and get this frozen layout. */
struct segment_info_v0 {
	uint64_t seq;
	uint32_t generation;
	int sealed;
	uint64_t disk_bytes;
	uint64_t live_bytes;
	uint64_t dead_bytes;
};

LK_API lk_status lk_segments(struct segment_info_v0 *out, size_t cap,
			     size_t *count, lk_db *db);

lk_status lk_segments(struct segment_info_v0 *out, size_t cap,
		      size_t *count, lk_db *db)
{
	lk_segment_info *all;
	lk_status st = handle_check(db);
	size_t n = 0;

	if (st != LK_OK)
		return st;
	if (!count || (cap && !out))
		return err_set(LK_INVALID, "lk_segments: NULL argument");
	st = list_segments(&all, &n, db);
	if (st != LK_OK)
		return st;
	for (size_t i = 0; i < n && i < cap; i++)
		out[i] = (struct segment_info_v0){
			all[i].seq,	   all[i].generation, all[i].sealed,
			all[i].disk_bytes, all[i].live_bytes, all[i].dead_bytes
		};
	mem_free(all);
	*count = n;
	return LK_OK;
}

lk_status lk_ns_keys(uint64_t *keys, lk_db *db, uint32_t ns)
{
	lk_status st = handle_check(db);

	if (st != LK_OK)
		return st;
	if (!keys)
		return err_set(LK_INVALID, "lk_ns_keys: NULL keys");
	if (ns == 0 || ns > LK_NS_COUNT_MAX)
		return err_set(LK_INVALID, "namespace %u out of range", ns);
	segtable_rdlock(db);
	*keys = index_count(segtable_index(db), (uint8_t)ns);
	segtable_unlock(db);
	return LK_OK;
}

lk_status lk_ns_stats_get(lk_ns_stats *out, lk_db *db, uint32_t ns)
{
	lk_ns_stats all = LK_NS_STATS_INIT;
	lk_status st = handle_check(db);

	if (st != LK_OK)
		return st;
	if (ns == 0 || ns > LK_NS_COUNT_MAX)
		return err_set(LK_INVALID, "namespace %u out of range", ns);
	/* a NULL or a version refused: abi_write writes nothing */
	all.ns = ns;
	segtable_rdlock(db);
	all.keys = index_count(segtable_index(db), (uint8_t)ns);
	all.live_bytes = segtable_ns_bytes(db, (uint8_t)ns);
	segtable_unlock(db);
	return abi_write(out, ABI_NS_STATS, &all);
}

/* The report says what a read-only open would do, and the snapshot is
 * part of that: a read-only open judges it with every check it has (db,
 * opened before the scan, or NULL with open_why saying why it failed).  A
 * snapshot it uses is then compared with full, the scan's replay of the
 * whole log, which catches one forged with consistent hashes: a problem,
 * LK_CORRUPT. */
static lk_status check_snapshot(lk_recovery_report *report, struct lk_db *db,
				const char *open_why, struct lk_db *full,
				lk_problem_fn fn, void *arg)
{
	char why[LK_NOTE_BYTES], name[SNAP_NAME_BYTES];
	char damaged[SNAP_NAME_BYTES] = "", damaged_why[LK_NOTE_BYTES];
	const char *d, *dwhy;
	lk_status st = LK_OK;

	if (!db) {
		snprintf(report->snapshot_note, sizeof report->snapshot_note,
			 "not checked: a read-only open failed (%.100s)",
			 open_why);
		return LK_OK;
	}
	report->snapshot_used = db->report.snapshot_used;
	memcpy(report->snapshot_note, db->report.snapshot_note,
	       sizeof report->snapshot_note);
	memcpy(report->snapshot_damaged, db->report.snapshot_damaged,
	       sizeof report->snapshot_damaged);
	/* One that open passed over for failing its own checks. */
	d = snapshot_damaged(db, &dwhy);
	if (d) {
		char text[LK_NOTE_BYTES + 80];
		lk_problem p = { LK_PROBLEM_SNAPSHOT, 0, 0, damaged, text,
				 0, 0 };

		snprintf(damaged, sizeof damaged, "%s", d);
		snprintf(damaged_why, sizeof damaged_why, "%s", dwhy);
		snprintf(text, sizeof text, "%s; open does not use it and "
			 "replays the log instead: nothing is lost",
			 damaged_why);
		fn(arg, &p);
	}
	if (db->report.snapshot_used)
		st = snapshot_matches_replay(db, full, why, sizeof why);
	if (st == LK_CORRUPT) {
		lk_problem p = { LK_PROBLEM_SNAPSHOT, 0, 0, name, why, 0, 0 };

		snprintf(name, sizeof name, "%016" PRIx64 ".snap",
			 snapshot_serial(db));
		fn(arg, &p);
		snprintf(report->snapshot_note, sizeof report->snapshot_note,
			 "snapshot %.21s does not match the log: %.80s", name,
			 why);
		st = err_set(LK_CORRUPT, "snapshot %s does not match the log: "
				         "%s", name, why);
	} else if (st != LK_OK) {
		snprintf(report->snapshot_note, sizeof report->snapshot_note,
			 "not compared with the log (%.100s)", lk_errmsg());
		st = LK_OK;
	}
	if (st == LK_OK && damaged[0])
		st = err_set(LK_CORRUPT, "snapshot %s: %s", damaged,
			     damaged_why);
	return st;
}

lk_status lk_verify(lk_recovery_report *out, const char *path,
		    const lk_options *opts, lk_problem_fn fn, void *arg)
{
	lk_recovery_report all = LK_REPORT_INIT, *report = &all;
	struct lk_db *replay = NULL, *with = NULL;
	char open_why[LK_ERRMSG_BYTES] = "";
	lk_options o;
	struct io_check check;
	const lk_io *io;
	lk_io_dir *dir;
	lk_status st;
	size_t size;

	if (!out || !path || !fn)
		return err_set(LK_INVALID, "lk_verify: NULL argument");
	lk_options_init(&o);
	st = abi_size(&size, ABI_REPORT, out->version);
	if (st == LK_OK && opts) /* only io is used: no other checks */
		st = abi_read(&o, ABI_OPTIONS, opts);
	if (st != LK_OK)
		return st;
	io = io_check_install(&check, o.io ? o.io : lk_io_posix());
	if (!io)
		return LK_INVALID;
	st = io->dir_open(io->ctx, path, 0, &dir);
	if (st != LK_OK) {
		err_prefix("opening data directory %s", path);
		return st;
	}
	/* With a snapshot, the scan also replays the log, to compare with
	 * what an open makes of the snapshot; the open comes first, so that
	 * the replay's index can be sized once for the keys it names. */
	if (snapshot_exists(io, dir)) {
		lk_options_init(&o); /* only io is the caller's */
		o.flags = LK_OPEN_READONLY;
		o.io = check.inner;
		st = open_start(&replay, path, &o, 1);
		if (st == LK_OK && lk_open(&with, path, &o) != LK_OK)
			snprintf(open_why, sizeof open_why, "%s", lk_errmsg());
		if (with)
			(void)index_reserve(segtable_index(replay),
					    index_keys(segtable_index(with)));
	}
	if (st == LK_OK)
		st = recovery_verify(report, io, dir, fn, arg, replay,
				     check.inner == lk_io_posix());
	/* Without a snapshot, an open would replay the log just checked. */
	if (st == LK_OK && replay)
		st = check_snapshot(report, with, open_why, replay, fn, arg);
	else if (st == LK_OK)
		snprintf(report->snapshot_note, sizeof report->snapshot_note,
			 SNAP_NOTE_NONE);
	else if (snapshot_exists(io, dir))
		snprintf(report->snapshot_note, sizeof report->snapshot_note,
			 "not checked: an open refuses the log's damage before "
			 "it would load a snapshot");
	else
		snprintf(report->snapshot_note, sizeof report->snapshot_note,
			 "no snapshot; an open refuses the log's damage");
	(void)lk_close(with); /* read-only: nothing to fail */
	if (replay)
		db_free(replay);
	io->dir_close(io->ctx, dir);
	abi_write_at(out, ABI_REPORT, out->version, report);
	return st;
}
