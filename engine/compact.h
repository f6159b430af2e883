/* SPDX-License-Identifier: MIT */
/*
 * compact.h - compaction (compact.c): on demand and on its background thread.
 */
#ifndef LK_COMPACT_H
#define LK_COMPACT_H

#include "segtable.h"

/* Sets up compaction and starts its thread on a writable handle with
 * automatic compaction on.  Returns LK_OK, LK_NOMEM. */
lk_status compact_init(struct lk_db *db);
/* Stops the thread (a compaction in progress gives up at its next write
 * and leaves the log as it was); lk_compact() calls fail after it. */
void compact_stop(struct lk_db *db);
void compact_free(struct lk_db *db);

/* lk_compact() (see logkeep.h) on a handle that db.c counted in. */
lk_status compact_run(struct lk_db *db);

#endif /* LK_COMPACT_H */
