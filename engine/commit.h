/* SPDX-License-Identifier: MIT */
/*
 * commit.h - batches, group commit, sync policies and rotation (commit.c).
 */
#ifndef LK_COMMIT_H
#define LK_COMMIT_H

#include "segtable.h"

/* Checks a caller's namespace and key: LK_OK, LK_INVALID, LK_TOO_BIG. */
lk_status commit_check_key(uint32_t ns, const void *key, size_t key_len);

/* The status and detail of a write refused because the handle latched
 * (db->halted): a failed sync, or damage found by the scrub. */
lk_status commit_refuse_halted(struct lk_db *db, const char *call);

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

#endif /* LK_COMMIT_H */
