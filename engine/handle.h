/* SPDX-License-Identifier: MIT */
/*
 * handle.h - the state of a database handle, struct lk_db, which the modules
 * of the engine share.  The modules point one way (README, "Source
 * layout"):
 *
 *   record, io, compress  <-  segment  <-  index  <-  handle (this)
 *        <-  segtable  <-  commit  <-  snapshot  <-  {recovery, compact,
 *        ns}  <-  scrub, backup, iter  <-  db.c (the public entry points)
 *   (reserve and lockmark, the LOCK file's, under commit and recovery)
 *
 * Each declares its functions in its own header (segtable.h, commit.h,
 * snapshot.h, recovery.h, compact.h, scrub.h, backup.h) and keeps its
 * state in a struct that only its .c file defines (struct segtable,
 * committer, namespaces, snapshots, compactor, scrubber): the handle
 * holds pointers to them, and a module reaches another's state only
 * through that module's functions.  What the handle itself holds is what
 * every module reads and nothing changes after open: the I/O table, the
 * directory, the options, the database id, the compressor; plus the
 * magic and the use counts of handle.c, and the recovery report that
 * open fills.  tests/include_graph.sh prints the graph and fails on a
 * cycle.
 *
 * Locks, in the order they are taken (their ranks in lock.h, which
 * asserts the order and every "caller holds" in all builds), each in the
 * state of the module named:
 *   compact_mu one compaction at a time (compactor); held across all its
 *              steps, it takes log_mu (lk_compact seals the active
 *              segment) and ix_lock briefly, never write_mu.
 *   ns_mu      the table of namespace names (namespaces); lk_ns_open
 *              holds it while it commits a new name, so it comes before
 *              write_mu.
 *   write_mu   the queue of committers (committer); the head of the
 *              queue is the leader and the only thread that appends to
 *              the log.
 *   log_mu     the active segment's write state (data_end, file_size,
 *              synced_end) between the leader and the interval syncer
 *              (committer; commit_log_lock() for the modules above).
 *   ix_lock    rwlock: the index, the segment table and each segment's
 *              live_bytes (segtable; segtable_rdlock() and _wrlock()).
 *              Readers hold it shared while they look up and read a
 *              record; the leader holds it exclusively while it applies
 *              a synced group, and while it adds a segment.
 *   compact_cv_mu  the compactor's stop flag, taken alone (compactor).
 *   wait_mu    the change feeds waiting for a commit (committer), taken
 *              alone: by a feed that starts or ends a wait, and by a
 *              committer that wakes them after applying its group.
 * The leader never holds ix_lock while it writes or syncs, so readers
 * wait at most for the in-memory part of a commit.
 */
#ifndef LK_HANDLE_H
#define LK_HANDLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "compress.h"
#include "index.h"
#include "io.h"
#include "lock.h"
#include "logkeep_limits.h"
#include "segment.h"

#define DB_MAGIC 0x6c6b6462u /* "lkdb" */
#define DB_MAGIC_CLOSING 0x6c6b6463u /* lk_close() is checking the users */
#define DB_MAGIC_CLOSED 0x6c6b6478u

struct segtable; /* segtable.c */
struct committer; /* commit.c */
struct compactor; /* compact.c */
struct namespaces; /* ns.c */
struct snapshots; /* snapshot.c */
struct scrubber; /* scrub.c */

/* The kinds of use that lk_close() waits for (see users below). */
enum db_use { DB_USE_ITER, DB_USE_WRITE, DB_USE_BACKUP, DB_USE_COUNT };

struct lk_db {
	_Atomic uint32_t magic;
	const lk_io *io;  /* &io_check.table: the caller's, checked */
	struct io_check io_check;
	lk_io_dir *dir;
	lk_io_file *lock;
	lk_options opts;
	int readonly;
	uint8_t db_id[SEG_DB_ID_BYTES];
	struct compressor *cmp;

	/* The callers' uses that lk_close() must not free from under them:
	 * open iterators, writing calls in progress (lk_commit, lk_put,
	 * lk_del, lk_ns_open, lk_sync, lk_compact, lk_snapshot) and
	 * backups in progress.  Reads are not counted: they keep the hot
	 * path free of a shared counter, and the header asks that they have
	 * returned.  A use counts itself in and
	 * then checks the magic (db_enter); lk_close() moves the magic to
	 * DB_MAGIC_CLOSING and then reads the counts.  The atomics are
	 * sequentially consistent, so one of the two sees the other: the use
	 * is refused, or the close is (and puts DB_MAGIC back). */
	_Atomic uint32_t users[DB_USE_COUNT];

	/* The modules' own state, each defined in its .c file. */
	struct segtable *tab;
	struct committer *commit;
	struct namespaces *ns;
	struct snapshots *snap;
	struct compactor *compact;
	struct scrubber *scrub;

	lk_recovery_report report; /* filled by recovery_open */
};

/* ---- handle.c ---- */

/* LK_OK if db is an open handle; LK_INVALID (NULL), LK_MISUSE. */
lk_status handle_check(const struct lk_db *db);

/* Counts a use of db in and checks that the handle is open: LK_OK, and
 * the caller calls handle_leave() when the use ends; or LK_INVALID (NULL)
 * or LK_MISUSE (closed, or being closed), counted out already. */
lk_status handle_enter(struct lk_db *db, enum db_use use);
void handle_leave(struct lk_db *db, enum db_use use);

/* 1 if rec has expired by the handle's wall clock. */
int handle_expired(const struct lk_db *db, const struct record *rec);

#endif /* LK_HANDLE_H */
