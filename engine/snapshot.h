/* SPDX-License-Identifier: MIT */
/*
 * snapshot.h - index snapshots: the hash index as of a log position, so
 * that open loads it and replays only the log after that position.
 *
 * A snapshot is a file named <serial as 16 hex digits>.snap, written as
 * <serial>.snap.tmp, fdatasynced, renamed, and the directory synced; the
 * older snapshot is removed after that.  The file's layout, its limits and
 * its codec are in snapshot_format.h.
 *
 * Trust.  Open uses the newest snapshot that passes every check: its
 * header (with its index capacity no larger than its key count needs, so
 * that a load never allocates more than about twice the file's size),
 * both hashes, the database id, and the log: each listed segment
 * must be the file now at that place in the chain (same seq, generation,
 * links), every one but the last sealed with the same size, the last at
 * least as long as the position, and each one's tail_hash must match;
 * each data_end must end a commit record (or the seal, whose count must
 * be the entry's ops), each segment's and each namespace's live bytes
 * must be what the index entries that point into it add up to, and the
 * namespaces' together the segments' (a version 1 file, without the
 * namespaces', has them summed from its entries: adopt_ns_bytes).  The
 * hashes guard against damage, not against a forger who recomputes them:
 * a snapshot forged with consistent hashes and counters (say, one that
 * drops keys and the live bytes they held) is only caught by lk_verify(),
 * which compares it with a replay of the whole log.
 * A compaction renames the segments it rewrites, so a snapshot taken
 * before it never matches afterwards: one is written after each
 * compaction.  Anything else falls back to replaying the whole log, and
 * the recovery report says why.
 *
 * Compaction totals.  The counts of every compaction since the database
 * was created (runs, bytes read and written, segments removed, records
 * dropped) live in the snapshot file, in a block of their own with its
 * own hash (snapshot_format.h).  Open takes them from the newest
 * snapshot file whose header and totals pass their checks, whether or
 * not its index is used (a compaction since renamed segments it names:
 * its totals are still the newest the disk has); the compactor starts
 * from them (compact_init) and each snapshot it writes carries them
 * forward.  A writing open keeps the file they came from, used or not,
 * until a new snapshot holds them.  Why the snapshot and not the log:
 *  - Crash safety comes with the file: it is written whole under a
 *    temporary name, synced and renamed, so a power cut leaves the old
 *    file or the new one, and the totals in it are the old or the new
 *    ones, never a mix; damaged ones fail their hash and bounds and are
 *    not used (an older file's are, or none).
 *  - It reads back bounded: 48 bytes at a fixed place, each total at most
 *    SNAP_TOTAL_MAX, the counts consistent with each other.
 *  - A snapshot follows every compaction when snapshots are automatic
 *    (the default), so the totals on disk are those of the last
 *    compaction.  Carrying them in the seal of each compaction's output
 *    segment instead would make them as durable as the compaction itself,
 *    but it changes the record grammar and the segment format version,
 *    and the seal's size, which segment.c's seal search, recovery's
 *    search for durability claims and the snapshot's 64-byte tail checks
 *    are all built on: a larger risk to the log's crash safety than the
 *    counts are worth.
 * What that costs: the totals are as new as the newest snapshot.  A
 * power cut between a compaction and the snapshot after it loses that
 * compaction's counts (the totals stay the previous snapshot's); with
 * snapshot_every_bytes 0, only lk_snapshot() keeps them.  lk_stats()
 * says so next to the fields.
 */
#ifndef LK_SNAPSHOT_H
#define LK_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "handle.h"
#include "snapshot_format.h"

#define SNAP_NAME_BYTES 40u
#define SNAP_NOTE_NONE "no snapshot: the whole log was replayed"

/* Makes db->snap before recovery_open; with ignore, open replays the
 * whole log whatever snapshot there is (lk_verify's comparison).
 * Returns LK_OK, LK_NOMEM. */
lk_status snapshot_init(struct lk_db *db, int ignore);
void snapshot_free(struct lk_db *db); /* safe when init never ran */

/* The snapshot_* fields of *stats.  Takes no lock. */
void snapshot_stats(const struct lk_db *db, lk_stats *stats);
/* The newest snapshot's file serial; 0: none. */
uint64_t snapshot_serial(const struct lk_db *db);
/* The name of the newest snapshot file open found damaged (failing its
 * own checks, or another database's: not merely older than the log), with
 * *why set; NULL when none was. */
const char *snapshot_damaged(const struct lk_db *db, const char **why);
/* The compaction totals open found (see "Compaction totals" above);
 * zero when none. */
void snapshot_totals(const struct lk_db *db, struct snap_totals *totals);

/* After open: 1 with *locs and *n set when the snapshot open loaded says
 * where every entry of the namespace catalog is (ns.c loads the names
 * from there), 0 when the index must be walked for them. */
int snapshot_catalog(const struct lk_db *db, const struct ix_loc **locs,
		     size_t *n);
/* Open tells what it replayed after the loaded snapshot: `behind` log
 * bytes, and whether they registered namespaces (then the catalog's
 * list is incomplete). */
void snapshot_opened(struct lk_db *db, uint64_t behind, int catalog_changed);

/* What open needs to replay the log after a loaded snapshot. */
struct snap_start {
	uint32_t seg;      /* the segments in slots 1..seg are covered;
			      replay starts in slot seg at `offset` */
	uint64_t offset;
	int sealed;        /* slot seg ends with its seal at offset */
	uint64_t seq_last;
	uint64_t catalog[LK_NS_COUNT_MAX + 1]; /* as recovery.c keeps it */
};

/* Returns 1 and sets *serial and *tmp if name is a snapshot file name
 * (tmp: an unfinished "<serial>.snap.tmp"), else 0 (dir_file_parse). */
int snapshot_parse_name(const char *name, uint64_t *serial, int *tmp);

/* Open, after the chain of segments is in the table's slots 1..nsegs in
 * log order (its index empty): loads the newest snapshot that matches
 * the log into the index and the segments' counters, and fills *start.
 * Returns LK_OK with *used 1, or *used 0 when none is usable (the report's
 * snapshot_note says why; nothing was changed); or LK_NOMEM. */
lk_status snapshot_load(struct lk_db *db, uint32_t nsegs,
			struct snap_start *start, int *used);

/* A snapshot of at least SNAP_SPLIT_KEYS_MIN keys is loaded by two
 * threads, on a handle without a memory budget (snapshot.c,
 * import_entries): the entries are read into the table itself, and once
 * those of its first half are hashed a second thread spreads them while
 * the opening thread hashes and spreads the rest.  The threshold is
 * where a second thread paid for itself, measured (open + first get of
 * a directory in fresh processes, one thread against two, 15 runs each,
 * medians, two rounds, 2026-12-07, a 2-vCPU guest): at 500,000 keys
 * even and 6% slower, at 1,000,000 19% and 2% faster (an earlier build,
 * which spread the halves the other way round, was 11% slower at
 * 500,000 and even at 750,000).  (When the entries of the
 * second half still went through a buffer of their own, a second thread
 * was 2.4 times slower at 250,000 keys and 2.6 at 500,000, where that
 * buffer was faulted in 4 KiB pages.) */
#define SNAP_SPLIT_KEYS_MIN 600000u

/* Test hook: snapshots of at least `keys` keys are loaded by two threads
 * from now on (0: SNAP_SPLIT_KEYS_MIN again), so that small databases
 * take that path too.  Returns the threshold it replaces.  Not for
 * handles open at the time. */
uint64_t snapshot_split_keys_min(uint64_t keys);

/* lk_verify: compares `with`, a handle opened with a snapshot, against
 * `without`, one opened on the same files replaying the whole log: the
 * index (every entry's namespace, segment, offset, size and expiry), the
 * key counts and live bytes of each namespace, each segment's live bytes
 * and ops, and seq_last.  Returns
 * LK_OK if they agree, LK_CORRUPT with `why` saying where they first
 * differ, or LK_NOMEM. */
lk_status snapshot_matches_replay(struct lk_db *with, struct lk_db *without,
				  char *why, size_t why_bytes);

/* Sets *any to 1 if dir holds a complete snapshot file.  Returns LK_OK
 * or the listing's status (*any is then 0). */
lk_status snapshot_any(const lk_io *io, lk_io_dir *dir, int *any);

/* 1 if dir holds a snapshot file (or cannot be listed), else 0. */
int snapshot_exists(const lk_io *io, lk_io_dir *dir);

/* Writable open, once the log was judged good: removes unfinished and
 * unused snapshot files, but for the one the compaction totals came from
 * (the next snapshot written removes it).  Returns LK_OK or an I/O
 * status. */
lk_status snapshot_cleanup(struct lk_db *db);

/* Writes a snapshot of the index as of the end of the log, unless one of
 * that exact state exists.  The caller (compact.c) keeps compactions
 * from running meanwhile, so that none is half-installed, and passes the
 * database's compaction totals, which the file keeps: a snapshot taken
 * before a compaction (fewer compactions) is not of the same state.
 * Syncs the log first.  Returns LK_OK, LK_HALTED, LK_IO, LK_NOSPACE,
 * LK_NOMEM; a failure leaves the previous snapshot in place and never
 * halts the log. */
lk_status snapshot_write(struct lk_db *db, const struct snap_totals *totals);
/* An automatic snapshot: snapshot_write(), whose failure (it costs a
 * longer replay at the next open, never data) only counts in the stats. */
void snapshot_auto(struct lk_db *db, const struct snap_totals *totals);

/* Log bytes written since the newest snapshot's position (all of them
 * when there is none): what the next open would replay. */
uint64_t snapshot_behind(const struct lk_db *db);

/* The scrub's check of the newest snapshot file: its header, its size and
 * both hashes, in one sequential read (no load) of 64 KiB steps, with
 * pace called after each (segment.h; a status it returns ends the check
 * with that status).  Sets name (the file's) and, on damage, *offset and
 * *why; adds what it read to *bytes_read.  Returns LK_OK (also when there
 * is no snapshot, or it was replaced meanwhile: name is then empty or
 * names the gone file), LK_CORRUPT, LK_IO, LK_NOMEM, or pace's status.
 * A damaged snapshot costs a full replay at the next open, not data: the
 * caller reports it and does not latch. */
lk_status snapshot_scrub(struct lk_db *db, char name[SNAP_NAME_BYTES],
			 uint64_t *offset, const char **why,
			 uint64_t *bytes_read, const struct seg_pace *pace);

#endif /* LK_SNAPSHOT_H */
