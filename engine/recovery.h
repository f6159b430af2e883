/* SPDX-License-Identifier: MIT */
/*
 * recovery.h - opening a data directory (recovery.c): find the segments, check their
 * chain, load a snapshot, replay, and judge the tail; and the offline
 * check behind lk_verify().
 */
#ifndef LK_RECOVERY_H
#define LK_RECOVERY_H

#include "segtable.h"

/* Finds, checks and replays the segments of db->dir into db (strict: cuts
 * a torn tail of the newest segment unless read-only, refuses damage
 * elsewhere).  Fills db->report.  Returns LK_OK, LK_CORRUPT, LK_VERSION,
 * LK_IO, LK_NOMEM, LK_TOO_BIG. */
lk_status recovery_open(struct lk_db *db);

/* The offline check behind lk_verify(): scans every segment of dir without
 * changing anything and calls fn for each problem, continuing past damage.
 * With replay (a read-only handle made up to snapshot_init, its snapshot
 * ignored, or NULL), the same pass also replays the log into it, as a
 * read-only open would, while no damage is seen: the segments become
 * replay's, and it is comparable with a snapshot once the call returns
 * LK_OK (one read of the log for both checks).  With read_ahead (io is
 * the system's), a helper thread reads the next segment into the page
 * cache while the scan checks one.  Returns LK_OK if nothing worse than a
 * torn tail was found, LK_CORRUPT, LK_VERSION, LK_IO, LK_NOMEM. */
lk_status recovery_verify(lk_recovery_report *report, const lk_io *io,
			  lk_io_dir *dir, lk_problem_fn fn, void *arg,
			  struct lk_db *replay, int read_ahead);

#endif /* LK_RECOVERY_H */
