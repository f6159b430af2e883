/* SPDX-License-Identifier: MIT */
/*
 * compact.h - compaction (compact.c): on demand and on its background thread.
 */
#ifndef LK_COMPACT_H
#define LK_COMPACT_H

#include "segtable.h"

/* Makes db->compact, and starts the thread on a writable handle with
 * automatic compaction or snapshots on.  Returns LK_OK, LK_NOMEM, or the
 * I/O table's thread_start status (db->compact may be set: free it). */
lk_status compact_init(struct lk_db *db);
/* Stops the thread (a compaction in progress gives up at its next write
 * and leaves the log as it was); safe when it never started, and twice. */
void compact_stop(struct lk_db *db);
/* Stops the thread and frees db->compact; safe when compact_init never
 * ran. */
void compact_free(struct lk_db *db);

/* A snapshot (snapshot.c), taken while no compaction runs: lk_snapshot()
 * with automatic 0 (its status), the one lk_close() leaves with 1 (a
 * failure counts in the stats and returns LK_OK). */
lk_status compact_snapshot(struct lk_db *db, int automatic);

/* Its counts: the compact_* fields of *stats and compactions, this
 * handle's and the database's totals (snapshot.h, "Compaction totals").
 * Takes no lock. */
void compact_stats(const struct lk_db *db, lk_stats *stats);

/* lk_compact() (see logkeep.h) on a handle that db.c counted in. */
lk_status compact_run(struct lk_db *db);

#endif /* LK_COMPACT_H */
