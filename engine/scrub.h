/* SPDX-License-Identifier: MIT */
/*
 * scrub.h - the scrub (scrub.c): lk_scrub() and the background pass.
 */
#ifndef LK_SCRUB_H
#define LK_SCRUB_H

#include "segtable.h"

/* lk_scrub(): checks every sealed segment (see scrub.c), calling fn (may
 * be NULL) for each damaged one.  Returns LK_OK, LK_CORRUPT (and latches
 * a writable handle), LK_IO, LK_NOMEM. */
lk_status scrub_run(struct lk_db *db, lk_problem_fn fn, void *arg);

/* Makes db->scrub, and starts the background scrub of a writable handle
 * with scrub_rate_bytes > 0.  Returns LK_OK, LK_NOMEM (db->scrub may be
 * set: scrub_free() it). */
lk_status scrub_init(struct lk_db *db);
/* Stops the background scrub (a pass in progress ends after the read in
 * progress, scrub.c, leaving the rest of its segment, the segments after
 * it and the snapshot to the next pass); safe to call when it never
 * started, and twice. */
void scrub_stop(struct lk_db *db);
/* Stops it and frees db->scrub; safe when scrub_init never ran. */
void scrub_free(struct lk_db *db);

/* Its counts: the scrub_* fields of *stats.  Takes no lock. */
void scrub_stats(const struct lk_db *db, lk_stats *stats);

#endif /* LK_SCRUB_H */
