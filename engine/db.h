/* SPDX-License-Identifier: MIT */
/*
 * db.h - the database handle, shared by the modules that make up lk_db:
 * recovery.c (open: find segments, replay, cut a torn tail), commit.c
 * (batches, group commit, sync policies, rotation) and db.c (the public
 * entry points, reads, namespaces, stats).
 *
 * Locks, in the order they are taken:
 *   compact_mu one compaction at a time (compact.c); held across all its
 *              steps, it takes log_mu (lk_compact seals the active
 *              segment) and ix_lock briefly, never write_mu.
 *   write_mu   the queue of committers; the head of the queue is the
 *              leader and the only thread that appends to the log.
 *   log_mu     the active segment's write state (data_end, file_size,
 *              synced_end) between the leader and the interval syncer.
 *   ix_lock    rwlock: the index, the segment table and each segment's
 *              live_bytes.  Readers hold it shared while they look up and
 *              read a record; the leader holds it exclusively while it
 *              applies a synced group, and while it adds a segment.
 *   ns_mu      the table of namespace names.
 * The leader never holds ix_lock while it writes or syncs, so readers
 * wait at most for the in-memory part of a commit.
 */
#ifndef LK_DB_H
#define LK_DB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "compress.h"
#include "index.h"
#include "io.h"
#include "logkeep_limits.h"
#include "segment.h"

#define DB_MAGIC 0x6c6b6462u /* "lkdb" */
#define DB_MAGIC_CLOSED 0x6c6b6478u

struct writer; /* commit.c */

struct lk_db {
	uint32_t magic;
	const lk_io *io;  /* &io_check.table: the caller's, checked */
	struct io_check io_check;
	lk_io_dir *dir;
	lk_io_file *lock;
	lk_options opts;
	int readonly;
	uint8_t db_id[SEG_DB_ID_BYTES];

	pthread_rwlock_t ix_lock;
	struct index *ix;
	struct segment *segs[IX_SEG_SLOTS]; /* by slot; [0] unused */
	_Atomic uint32_t seg_count;
	struct segment *active;  /* the newest segment; NULL before the first */
	struct segment *next_seg; /* created by a rotation whose seal failed,
				     for the next one (under log_mu) */
	_Atomic uint64_t seq_last;

	pthread_mutex_t write_mu;
	struct writer *wq_head, *wq_tail;
	pthread_mutex_t log_mu;
	_Atomic int halted;      /* 0, or LK_HALTED once a sync failed, or
				    LK_CORRUPT once the scrub found damage */
	uint8_t *group_buf;
	size_t group_cap;
	int wrote;               /* a group was written since open */

	lk_io_thread *syncer;    /* the interval syncer, or NULL */
	lk_io_wait *syncer_wait; /* its sleep; stopped at close */
	int closing;             /* under log_mu */

	struct compressor *cmp;

	pthread_mutex_t ns_mu;
	char *ns_names[LK_NS_COUNT_MAX + 1];

	/* compact.c: compact_mu lets one compaction run at a time, taken
	 * before ix_lock; compact_stop (under compact_cv_mu) and stopping
	 * compact_wait end the thread's sleeps and the rate limit's. */
	pthread_mutex_t compact_mu;
	pthread_mutex_t compact_cv_mu;
	lk_io_wait *compact_wait;
	lk_io_thread *compactor; /* or NULL */
	int compact_inited;
	int compact_stop;        /* under compact_cv_mu */

	/* snapshot.c: the newest snapshot, under compact_mu (the atomics
	 * are read by stats without it) */
	_Atomic uint64_t snap_serial; /* its file's serial; 0: none */
	uint64_t snap_next_serial; /* for the next one */
	uint64_t snap_seg_seq, snap_pos; /* its log position */
	uint32_t snap_seg_gen;
	uint64_t snap_compactions; /* db->compactions when it was taken */
	_Atomic uint64_t snap_log_mark;    /* log_bytes_written then */
	_Atomic uint64_t snap_behind_open; /* log replayed past it at open */
	_Atomic uint64_t snap_created_ms;  /* wall clock; 0: none */
	_Atomic uint64_t snapshots_written, snapshot_bytes_written,
		snapshot_failures;
	int snap_ignore; /* open replays the whole log (lk_verify's check) */

	/* open: where the namespace catalog's entries are, when a snapshot
	 * said so, so that loading the names need not walk the index */
	struct ix_loc catalog_locs[LK_NS_COUNT_MAX + 1];
	size_t catalog_n;
	int catalog_known;

	lk_recovery_report report;
	_Atomic uint64_t commits, sync_calls, write_groups;
	_Atomic uint64_t log_bytes_written; /* commits, seals, prefill */
	_Atomic uint64_t scrub_segments, scrub_bytes, scrub_damage; /* scrub.c */
	_Atomic uint64_t compactions, compact_bytes_read, compact_bytes_written,
		compact_segments_removed, compact_records_dropped, compact_us,
		compact_stall_max_us, compact_failures;
};

/* ---- db.c ---- */

/* Checks a caller's namespace and key: LK_OK, LK_INVALID, LK_TOO_BIG. */
lk_status db_check_key(uint32_t ns, const void *key, size_t key_len);

/* Reads and decodes the record at loc into a buffer the caller frees
 * (*buf).  Verifies the checksum.  Caller holds ix_lock (shared). */
lk_status db_read_record(struct lk_db *db, struct ix_loc loc,
			 struct record *rec, uint8_t **buf);

/* The key-compare callback for the index (ctx is the db). */
lk_status db_key_eq(void *ctx, struct ix_loc *loc, const void *key,
		    size_t key_len, int *equal);

/* Adds a segment to the table, which takes its first reference (caller
 * holds ix_lock exclusively or is single-threaded in open).  Returns
 * LK_TOO_BIG past the limit. */
lk_status db_add_segment(struct lk_db *db, struct segment *s);

/* Takes s out of the table (caller holds ix_lock exclusively); the
 * caller then drops the table's reference with db_seg_unpin() after
 * releasing the lock. */
void db_remove_segment(struct lk_db *db, struct segment *s);

/* A reference that keeps s open after ix_lock is released: taken while
 * s is in the table (caller holds ix_lock), dropped without locks.  The
 * last drop closes the segment. */
void db_seg_pin(struct segment *s);
void db_seg_unpin(struct lk_db *db, struct segment *s);

/* db_read_record through a pinned segment, without ix_lock. */
lk_status db_read_at(struct lk_db *db, struct segment *s, struct ix_loc loc,
		     struct record *rec, uint8_t **buf);

/* Applies one committed put or delete to the index and the live-byte
 * counts.  Caller holds ix_lock exclusively.  `loc.size` is exact. */
lk_status db_apply(struct lk_db *db, const struct record *rec,
		   struct ix_loc loc, uint64_t key_hash, ix_key_eq_fn eq,
		   void *eq_ctx);

/* Loads the namespace catalog (namespace 0) from the index. */
lk_status db_load_namespaces(struct lk_db *db);

/* ---- recovery.c ---- */

/* Finds, checks and replays the segments of db->dir into db (strict: cuts
 * a torn tail of the newest segment unless read-only, refuses damage
 * elsewhere).  Fills db->report.  Returns LK_OK, LK_CORRUPT, LK_VERSION,
 * LK_IO, LK_NOMEM, LK_TOO_BIG. */
lk_status recovery_open(struct lk_db *db);

/* The offline check behind lk_verify(): scans every segment of dir without
 * changing anything and calls fn for each problem, continuing past damage.
 * Returns LK_OK if nothing worse than a torn tail was found, LK_CORRUPT,
 * LK_VERSION, LK_IO, LK_NOMEM. */
lk_status recovery_verify(lk_recovery_report *report, const lk_io *io,
			  lk_io_dir *dir, lk_problem_fn fn, void *arg);

/* ---- compact.c ---- */

/* Sets up compaction and starts its thread on a writable handle with
 * automatic compaction on.  Returns LK_OK, LK_NOMEM. */
lk_status compact_init(struct lk_db *db);
/* Stops the thread (a compaction in progress gives up at its next write
 * and leaves the log as it was); lk_compact() calls fail after it. */
void compact_stop(struct lk_db *db);
void compact_free(struct lk_db *db);

/* ---- scrub.c ---- */

/* lk_scrub(): checks every sealed segment (see scrub.c), calling fn (may
 * be NULL) for each damaged one.  Returns LK_OK, LK_CORRUPT (and latches
 * a writable handle), LK_IO, LK_NOMEM. */
lk_status scrub_run(struct lk_db *db, lk_problem_fn fn, void *arg);

/* The status and detail of a write refused because the handle latched
 * (db->halted): a failed sync, or damage found by the scrub. */
lk_status db_refuse_halted(struct lk_db *db, const char *call);

/* ---- commit.c ---- */

lk_status commit_init(struct lk_db *db);   /* starts the interval syncer */
void commit_stop(struct lk_db *db);        /* stops it */
/* Syncs and writes the clean-close commit marker (see record.h). */
lk_status commit_close(struct lk_db *db);
lk_status commit_batch(struct lk_db *db, lk_batch *batch);
/* Adds an operation without the public checks: namespace 0 (the catalog)
 * is written only by db.c, through this. */
lk_status batch_add(lk_batch *b, uint8_t type, uint32_t ns, const void *key,
		    size_t key_len, const void *value, size_t value_len,
		    uint64_t expire_at_ms);
lk_status commit_sync(struct lk_db *db);
/* commit_sync for a caller that holds log_mu. */
lk_status commit_sync_held(struct lk_db *db);
/* Seals the active segment and starts the next when more than an eighth
 * of it is dead, so that lk_compact() can reach that garbage too. */
lk_status commit_seal_if_dead(struct lk_db *db);

#endif /* LK_DB_H */
