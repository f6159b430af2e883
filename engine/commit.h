/* SPDX-License-Identifier: MIT */
/*
 * commit.h - batches, group commit, sync policies and rotation (commit.c).
 */
#ifndef LK_COMMIT_H
#define LK_COMMIT_H

#include "segtable.h"

/* Checks a caller's namespace and key: LK_OK, LK_INVALID, LK_TOO_BIG. */
lk_status commit_check_key(uint32_t ns, const void *key, size_t key_len);
/* The key of operation i of batch b. */
void batch_op_key(const lk_batch *b, size_t i, const void **key,
		  size_t *key_len);
/* A condition for lk_purge_expired: key's record is seq and expired, so
 * that a delete never takes a value set again meanwhile. */
lk_status commit_require_expired(lk_batch *b, uint32_t ns, const void *key,
				 size_t key_len, uint64_t seq);
/* Marks writes to namespace ns (checked by the caller) no-sync or not
 * (lk_ns_set_nosync); a batch all of whose writes are no-sync is one. */
void commit_set_nosync(struct lk_db *db, uint8_t ns, int nosync);

/* The status and detail of a write refused because the handle latched
 * (commit_halted): a failed sync, or damage found by the scrub. */
lk_status commit_refuse_halted(struct lk_db *db, const char *call);

/* Makes db->commit, and starts the interval syncer under
 * LK_SYNC_INTERVAL.  Returns LK_OK, LK_NOMEM, or the I/O table's
 * thread_start status (db->commit may be set: commit_free() it). */
lk_status commit_init(struct lk_db *db);
void commit_stop(struct lk_db *db); /* stops the syncer; safe twice */
/* Stops the syncer and frees db->commit with the segment a failed
 * rotation left; safe when commit_init never ran. */
void commit_free(struct lk_db *db);

/* log_mu, the lock of the active segment's write state (its data_end,
 * file_size, synced_end), which the leader holds while it appends and
 * syncs: taken by whoever needs the log's end to stand still (stats,
 * snapshot, compaction, scrub, backup), before ix_lock (handle.h). */
void commit_log_lock(struct lk_db *db);
void commit_log_unlock(struct lk_db *db);
int commit_log_held(const struct lk_db *db);

/* The latch: LK_OK, or LK_HALTED once a sync failed, or LK_CORRUPT once
 * the scrub found damage; writes are refused from then on (see
 * commit_refuse_halted).  commit_latch_damage sets LK_CORRUPT unless
 * the handle has latched already. */
lk_status commit_halted(const struct lk_db *db);
void commit_latch_damage(struct lk_db *db);

/* Commits since open (the compactor's measure of quiet), and the bytes
 * this handle appended to the log (commits, seals, prefill). */
uint64_t commit_count(const struct lk_db *db);
uint64_t commit_log_bytes(const struct lk_db *db);
/* The commits, sync_calls, write_groups and log_bytes_written of *stats.
 * Takes no lock. */
void commit_stats(const struct lk_db *db, lk_stats *stats);
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

/* The space reserve (reserve.h) of a writable handle.  Drawing gives at
 * least need_bytes of it (UINT64_MAX: all) back to the device for a
 * write that frees space and failed with LK_NOSPACE, and returns the
 * bytes given (0: none held, or the truncate failed: the write is not
 * worth another try); puts are refused from then on until a fill makes
 * the reserve whole.  Filling grows it again as far as the device
 * allows; a failure only means a smaller reserve.  Caller holds log_mu
 * for the _held form; commit_reserve_fill takes it. */
uint64_t commit_reserve_draw_held(struct lk_db *db, uint64_t need_bytes);
void commit_reserve_fill(struct lk_db *db);

/* Waiting for commits (the change feed, feed.c).  A waiter registers an
 * lk_io_wait of the handle's I/O layer; every commit that applies a group
 * stops (wakes) the registered waits after it has published seq_last, so
 * that a waiter that registers and then finds seq_last unchanged is sure
 * to be woken by the next commit.  A stopped wait is final (logkeep_io.h):
 * the waiter makes a new one for its next wait.  commit_waiter_wake
 * stops w's wait now, if it has one (lk_feed_stop).  All take wait_mu
 * alone. */
struct commit_waiter {
	lk_io_wait *wait;  /* NULL while not waiting */
	struct commit_waiter *next;
};
void commit_waiter_add(struct lk_db *db, struct commit_waiter *w,
		       lk_io_wait *wait);
void commit_waiter_remove(struct lk_db *db, struct commit_waiter *w);
void commit_waiter_wake(struct lk_db *db, struct commit_waiter *w);

/* At a writable open, once nothing can refuse it: writes the LOCK file's
 * mark (lockmark.h) if the log has segments and the mark is missing or of
 * another database.  The rotation that creates the first segment writes
 * it too.  Best effort. */
void commit_mark_log(struct lk_db *db);

/* Gathering (commit.c), for tests. */
struct commit_gathering {
	size_t queued;       /* writers queued now, the head included */
	int head_gathering;  /* the head is waiting for writers */
	uint64_t led_by_arrival; /* groups the writer completing the count led */
	uint64_t expired;    /* waits that ran out before the count */
};
void commit_gathering(struct lk_db *db, struct commit_gathering *g);

#endif /* LK_COMMIT_H */
