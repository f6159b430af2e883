/* SPDX-License-Identifier: MIT */
/*
 * lockmark.h - the mark in the LOCK file (lockmark.c): that this data
 * directory has held a log, and of which database.
 *
 * A directory with no segment file is either new or has lost its whole
 * log, and nothing in the segments can tell which: the chain's links
 * (recovery.c) only find a segment missing between or after others.  So
 * once the log has a segment, the LOCK file (the only file besides
 * segments and snapshots, SPEC §4) carries a mark: its first
 * LOCKMARK_BYTES hold
 *
 *   magic "LKMARK\0\1" (8) | database id (16) | xxh3 of the 24 before (8)
 *
 * and the space reserve (reserve.h) the rest.  It is written, and the
 * file synced, only after the first segment's header and directory entry
 * are durable (commit.c), and at a writable open of a log that has
 * segments but no mark yet (a directory from before the mark, or one
 * whose mark a power cut lost).  Segments never go back to none, so an
 * open that finds the mark and no segment refuses the directory:
 * LK_CORRUPT, "every segment of the log is missing".
 *
 * The mark holds nothing acknowledged: a torn or lost mark only reads as
 * absent, and the next writable open writes it again.  Its failure to
 * write or sync is not a reason to refuse a write (the detection it gives
 * waits for the next open), and the sync is not retried.
 */
#ifndef LK_LOCKMARK_H
#define LK_LOCKMARK_H

#include <stdint.h>

#include "io.h"
#include "segment.h"

#define LOCKMARK_BYTES 32u

/* Writes the mark of database db_id at the start of f, the writer's LOCK
 * file, and syncs f.  Returns LK_OK or the failing call's status. */
lk_status lockmark_write(const lk_io *io, lk_io_file *f,
			 const uint8_t db_id[SEG_DB_ID_BYTES]);

/* Reads the mark from f, or with f NULL from the LOCK file of dir opened
 * for reading (absent: no mark).  Returns LK_OK with *marked 1 and db_id
 * set, or *marked 0 (no LOCK file, too short, or not a valid mark); or
 * LK_IO, LK_NOMEM. */
lk_status lockmark_read(const lk_io *io, lk_io_dir *dir, lk_io_file *f,
			int *marked, uint8_t db_id[SEG_DB_ID_BYTES]);

#endif /* LK_LOCKMARK_H */
