/* SPDX-License-Identifier: MIT */
/*
 * logkeep.h - the public interface of logkeep, an embeddable append-only,
 * log-structured key/value store for Linux mesh routers.
 *
 * What it is
 * ----------
 * A data directory holds segment files: an append-only log of records.
 * An in-memory hash index maps (namespace, key) to the newest record of
 * that key, so a get is one index probe and one pread.  Keys and values are
 * opaque bytes; a record may carry an absolute expiry time.  Writes are
 * grouped into atomic batches; the engine's durability contract decides
 * when a commit returns.
 *
 * Conventions
 * -----------
 *  1. Every function returns an lk_status.  LK_OK is 0 and never changes;
 *     no status is ever renumbered.  lk_strerror() names a status and never
 *     returns NULL.  lk_errmsg() gives the detail of the calling thread's
 *     last failure ("segment 7 offset 4096: checksum mismatch").
 *  2. Out-parameters come first: lk_open(&db, path, &opts).
 *  3. Memory the library returns is owned by the caller and released with
 *     lk_free(), unless the function says otherwise.  Pointers handed out by
 *     an iterator or a change feed stay valid until the next call on it.
 *  4. Closing or freeing NULL is a no-op.  Close iterators and change
 *     feeds before their handle: lk_close() refuses (LK_MISUSE, nothing
 *     freed) while one is open or a write or backup runs.  Using a handle after lk_close()
 *     returns LK_MISUSE where the memory is still ours to look at; do not
 *     rely on it, it is a diagnostic, not a contract.
 *  5. Every struct passed in or got back is versioned (lk_options,
 *     lk_stats, lk_recovery_report, lk_segment_info, lk_ns_stats,
 *     lk_feed_item): its
 *     first field is
 *     `version`, and the caller sets it to the version its program was
 *     built with, LK_*_VERSION, which the _INIT macros and
 *     lk_options_init() do.  The library reads or writes exactly that
 *     version's fields and never a byte past them, so a program built
 *     against an older logkeep.h keeps its memory when linked with a newer
 *     library: options fields a later version added take their defaults,
 *     and results of a later version are not written.  A version of 0, or
 *     newer than the library knows, is LK_INVALID and nothing is written.
 *     Fields are only ever appended.
 *  6. Units are in names: _ms, _bytes, _s.  Times are milliseconds since
 *     the Unix epoch (UTC) unless the name says otherwise.
 *
 * Threading
 * ---------
 * An lk_db handle is shared by any number of threads.  Reads (get, exists,
 * count, iterators) run concurrently with each other and with writes;
 * writes from several threads are serialised and grouped (group commit).
 * An lk_batch or lk_iter belongs to one thread at a time.
 *
 * Durability
 * ----------
 *  - LK_SYNC_ALWAYS (default): lk_commit() returns LK_OK only after the
 *    batch is on stable storage (fdatasync).  Concurrent committers share
 *    one fdatasync; the group after one of several committers waits for
 *    as many (those of the last group and those queued behind it), at
 *    most a quarter of a sync's time and 20 ms, so that they do not
 *    split into half-full groups that take turns.  One committer at a
 *    time does not wait, but once after several stop.  An acknowledged
 *    write survives any power cut.
 *  - LK_SYNC_INTERVAL: a background thread syncs every sync_interval_ms;
 *    a power cut loses at most the writes of the last interval.
 *  - LK_SYNC_NONE: the engine syncs only when a segment is sealed and on
 *    lk_close(); a power cut may lose any write since then.
 *  Under every policy a batch is all-or-nothing across a crash, and the
 *  state after a crash is the state after some prefix of the commits.
 *  If an fdatasync fails, the handle latches: every later write returns
 *  LK_HALTED (reads go on) until the database is closed and reopened;
 *  the failed sync is never retried, because the kernel may already have
 *  dropped the dirty pages it could not write.
 *  LK_NOSPACE rejects a write with nothing of it visible; reads go on and
 *  later writes may succeed once space is freed.  Space can always be
 *  freed: a writable handle keeps reserve_bytes (1 MiB) allocated in
 *  the data directory's LOCK file, and when the device is full a batch
 *  of deletes only (lk_del) and a compaction (lk_compact, the background
 *  thread) draw on it, so that deletes succeed and compaction then frees
 *  what they made dead.  Once the reserve has been drawn on, puts get
 *  LK_NOSPACE until a compaction has freed space and the reserve is whole
 *  again.  On a full device a compaction rewrites only a run whose live
 *  data fits in half the reserve; if none does, it returns LK_NOSPACE and
 *  leaves the log as it was: delete more, or give the device room.
 *
 * Recovery
 * --------
 * lk_open() replays the log.  A torn, zeroed or garbage tail in the newest
 * segment, past its last complete commit, is cut off and reported in the
 * recovery report.  Damage anywhere else fails the open with LK_CORRUPT
 * and a message naming the segment, the offset and the problem; nothing
 * on disk is changed.  A read-only open never changes anything on disk.
 * A log whose newest segment file is missing is refused too: the last
 * segment present is sealed, and a seal is written only once the next
 * segment exists (format version 2).
 *
 * Caveats
 * -------
 *  - One writing handle per data directory, in this process and in others:
 *    a second writer gets LK_BUSY at once.  Read-only handles take no lock
 *    and see the directory as it was when they opened.
 *  - The lock is the kernel's (fcntl) plus a table in this process, so a
 *    forked child of the writer is refused too, and a writer that dies
 *    without lk_close() leaves no stale lock behind.
 *  - Iteration order is log order, not key order.
 *  - Expired records are never returned; they take disk space until
 *    compaction.
 *  - logkeep_limits.h (included here) has every limit and its reason.
 */
#ifndef LOGKEEP_H
#define LOGKEEP_H

#include <stddef.h>
#include <stdint.h>

#include "logkeep_limits.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(LK_BUILDING_LIBRARY) && defined(__GNUC__)
#define LK_API __attribute__((visibility("default")))
#else
#define LK_API
#endif

#define LK_VERSION_STRING "0.1.0"

/* The version of the library linked at run time ("0.1.0"). */
LK_API const char *lk_version(void);

/* ---------------------------------------------------------------------- */
/* Statuses                                                               */
/* ---------------------------------------------------------------------- */

typedef enum lk_status {
	LK_OK = 0,
	LK_NOT_FOUND = 1,  /* key absent or expired; iterator exhausted */
	LK_INVALID = 2,    /* a bad argument: NULL pointer, empty key, bad option */
	LK_MISUSE = 3,     /* the handle is closed or the call is out of order */
	LK_CORRUPT = 4,    /* the data on disk fails a check; see lk_errmsg() */
	LK_IO = 5,         /* an I/O call failed (EIO and the like) */
	LK_NOSPACE = 6,    /* the device is full; nothing of the write is visible */
	LK_BUSY = 7,       /* another writer holds the data directory */
	LK_NOMEM = 8,      /* an allocation failed; nothing changed */
	LK_READONLY = 9,   /* a write on a handle opened read-only */
	LK_HALTED = 10,    /* an earlier sync failed: writes refused until reopen */
	LK_TOO_BIG = 11,   /* a key, value, batch or the index passed a limit
			      (LK_INDEX_SLOTS_MAX, or the memory budget:
			      lk_options.memory_bytes_max); nothing of the
			      write is visible */
	LK_EXISTS = 12,    /* the thing to create is already there */
	LK_VERSION = 13,   /* the data uses a format this library does not know */
	LK_CONFLICT = 14,  /* a condition of the batch (lk_batch_require) did
			      not hold; nothing of the batch was written */
} lk_status;

/* The name of a status ("checksum mismatch" is in lk_errmsg, not here).
 * Never returns NULL; unknown values give "unknown status". */
LK_API const char *lk_strerror(lk_status status);

/* The detail of the last call that failed in the calling thread, e.g.
 * "segment 3 offset 4096: checksum mismatch".  Thread-local, like errno:
 * valid until the next failing call in the same thread.  Never NULL; ""
 * when nothing failed yet. */
LK_API const char *lk_errmsg(void);

/* For layers built on logkeep (the mesh layer, an embedder's own): sets
 * the calling thread's lk_errmsg() detail (printf format) and returns
 * status, which must not be LK_OK. */
LK_API lk_status lk_fail(lk_status status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Releases memory returned by the library.  NULL is a no-op. */
LK_API void lk_free(void *ptr);

/* ---------------------------------------------------------------------- */
/* Opening and closing                                                    */
/* ---------------------------------------------------------------------- */

typedef struct lk_db lk_db;
struct lk_io; /* the I/O layer: NULL means POSIX; see logkeep_io.h */

typedef enum lk_sync_mode {
	LK_SYNC_ALWAYS = 0,
	LK_SYNC_INTERVAL = 1,
	LK_SYNC_NONE = 2,
} lk_sync_mode;

/* A problem found in the data: by lk_verify() (offline), by lk_scrub() and
 * by the background scrub (see lk_options.scrub_rate_bytes). */
typedef enum lk_problem_kind {
	LK_PROBLEM_TORN_TAIL = 1,  /* a tail that open would cut: not damage */
	LK_PROBLEM_CORRUPT = 2,    /* damage: a record or header fails a check */
	LK_PROBLEM_MISSING = 3,    /* a segment is missing from the chain */
	LK_PROBLEM_FOREIGN = 4,    /* a segment of another database, or a
				      duplicate */
	LK_PROBLEM_VERSION = 5,    /* an unknown format version */
	LK_PROBLEM_IO = 6,         /* a file could not be read */
	LK_PROBLEM_LEFTOVER = 7,   /* a file an interrupted compaction left,
				      which open removes: not damage */
	LK_PROBLEM_SNAPSHOT = 8,   /* a snapshot that fails its checks, is
				      another database's, or disagrees with
				      the log: open replays the log instead
				      (nothing is lost), but it is damage,
				      and lk_salvage sets it aside */
} lk_problem_kind;

typedef struct lk_problem {
	lk_problem_kind kind;
	uint64_t segment_seq;  /* 0 when not about one segment */
	uint64_t offset;       /* byte offset in the segment file */
	const char *file;      /* the file name, valid during the callback */
	const char *what;      /* a sentence, valid during the callback */
	/* The sequence numbers whose records the problem takes from what an
	 * open would otherwise apply: every record written with a number in
	 * seq_first..seq_last (some numbers may never have been used, or
	 * were compacted away).  seq_last 0: every number from seq_first
	 * on, to the end of the log (nothing after the problem commits).
	 * Both 0: none (a duplicate, a leftover, a snapshot: open uses the
	 * log instead) or not known (a file that cannot be read).  Verify
	 * fills them; lk_scrub leaves them 0.  lk_salvage names exactly what
	 * it loses. */
	uint64_t seq_first, seq_last;
} lk_problem;

typedef void (*lk_problem_fn)(void *arg, const lk_problem *problem);

/* lk_options.flags */
#define LK_OPEN_CREATE 0x1u   /* create the directory if it does not exist */
#define LK_OPEN_READONLY 0x2u /* no lock, no writes, nothing changed on disk */
/* Where a strict open refuses damage (LK_CORRUPT), salvage it
 * (lk_salvage, applied) and open what it kept: a daemon that must come
 * back up whatever the disk did.  The report's tail_note says so; what
 * was lost is lk_salvage's to tell (run it without apply first). */
#define LK_OPEN_SALVAGE 0x4u

/* Version 2 added the compaction fields, version 3 the snapshot field,
 * version 4 the scrub's, version 5 the space reserve's, version 6 the
 * mapping cap, version 7 the memory budget; an older struct (without
 * them) is still accepted and gets their defaults (convention 5). */
#define LK_OPTIONS_VERSION 7u

/* Reads of sealed segments go through read-only mappings (no system
 * call, no copy), up to map_bytes_max bytes of segment files in all;
 * segments past it, the newest (still written) and those of an I/O table
 * that does not map are read with pread.  A writable open that replays
 * the log maps the segment it replays, within the same cap and only while
 * it does (none under a memory budget), to check the records that the
 * segment's overwrites replace in it.  The default leaves a 32-bit
 * process most of its 3 GiB address space; mapped pages are the page
 * cache's, which the kernel reclaims under pressure.  A mapped file
 * truncated by another process stops this one (SIGBUS), as with every
 * memory-mapped store: nothing but logkeep writes a data directory. */
#define LK_MAP_BYTES_DEFAULT                                                  \
	(sizeof(void *) >= 8 ? (uint64_t)64 << 30 : (uint64_t)256 << 20)

/* Compaction (see lk_compact) runs on a background thread of a writable
 * handle.  It starts when dead bytes (overwritten, deleted and expired
 * records, commits and seals) pass compact_dead_pct percent of the log,
 * and rewrites only runs of segments at least 60% dead: under a steady
 * write load that bounds the disk used to about 1/(1 - pct) of the live
 * data without rewriting any record many times.  Once no write has come
 * for compact_idle_ms, it goes on until dead bytes are under
 * compact_idle_pct percent, rewriting runs at least 20% dead: a quiet node
 * gets its flash back.  compact_rate_bytes caps what it writes per second
 * (0: no cap) so that a slow flash device keeps serving the daemon. */
typedef struct lk_options {
	uint32_t version;            /* LK_OPTIONS_VERSION */
	uint32_t flags;              /* LK_OPEN_* */
	lk_sync_mode sync;           /* durability policy, see above */
	uint32_t sync_interval_ms;   /* LK_SYNC_INTERVAL period */
	uint64_t segment_size_bytes; /* rotate the active segment past this */
	const struct lk_io *io;      /* NULL: the POSIX layer (logkeep_io.h) */
	/* version 2 */
	uint32_t compact_dead_pct;   /* 1..99; 0: no automatic compaction */
	uint32_t compact_idle_pct;   /* 1..99, at most compact_dead_pct */
	uint32_t compact_idle_ms;    /* quiet time before idle compaction */
	uint64_t compact_rate_bytes; /* bytes written per second; 0: no cap */
	/* version 3 */
	uint64_t snapshot_every_bytes; /* see lk_snapshot; 0: only on demand */
	/* version 4: the background scrub (see lk_scrub) of a writable
	 * handle reads at most scrub_rate_bytes per second (0: no background
	 * scrub); its first pass starts a second after open, then one every
	 * six hours.  Each damaged segment it finds is passed to scrub_fn
	 * (may be NULL), on the scrub's thread, with scrub_arg. */
	uint64_t scrub_rate_bytes;
	lk_problem_fn scrub_fn;
	void *scrub_arg;
	/* version 5: the space reserve (see "Errors" above) a writable
	 * handle keeps in the LOCK file, LK_RESERVE_MIN_BYTES to
	 * LK_RESERVE_MAX_BYTES; LK_RESERVE_BYTES (1 MiB) by default.  On a
	 * full device a compaction rewrites only runs whose live data fits
	 * in half of it: a small flash partition may take less, a log of
	 * large segments more. */
	uint64_t reserve_bytes;
	/* version 6: the most bytes of segment files read through mappings
	 * (LK_MAP_BYTES_DEFAULT above); 0: pread only. */
	uint64_t map_bytes_max;
	/* version 7: the memory budget (see "The memory budget" below):
	 * the most bytes the index and the mappings take together; 0 (the
	 * default): no budget; else at least LK_MEMORY_MIN_BYTES. */
	uint64_t memory_bytes_max;
} lk_options;

/* The memory budget
 * -----------------
 * A daemon on a router with 64 MiB should get a status, not the kernel's
 * out-of-memory killer, when its keys outgrow the memory it can spare.
 * With memory_bytes_max set, the handle charges the index (lk_stats
 * index_bytes) and the mappings (map_bytes) against it:
 *  - The index grows only into what the budget leaves after the
 *    mappings: its usual growth by half, or, when that would pass the
 *    budget, the largest table within it.  A commit whose keys would need
 *    the table to grow past the budget is refused before anything is
 *    written: LK_TOO_BIG, with an lk_errmsg() naming the budget, the
 *    index's and the mappings' bytes now, and the bytes its keys need.
 *    Every key written before stays readable, across reopens; reads go
 *    on; keys may be added again once deletes have made room (a delete
 *    frees its entry at once), or after a reopen with a larger budget.
 *  - Deletes never add keys and always pass.  An overwrite does not add
 *    one either, but only a lookup can tell an overwrite from a new key:
 *    while the table has room, no lookup is made; when a commit would
 *    need a growth past the budget, the committer looks each key of its
 *    puts up (a hash probe and, for a candidate, a read of its key) and
 *    charges only the keys not in the index, so overwrites of existing
 *    keys (expired ones included) pass at the budget too.  Batches that
 *    commit together are admitted one by one, in order: one refused does
 *    not refuse the others.  A key put twice in one batch counts twice.
 *  - Mappings take at most half of the budget: a sealed segment is
 *    mapped only if the mappings, with it, stay within half of it and
 *    leave the index room for its next growth by half; others are read
 *    with pread.  Mappings stay until compaction removes their segment or
 *    the handle closes, so the index always has at least half the budget,
 *    and all of it without mappings (map_bytes_max 0, or an I/O table
 *    that does not map).
 *  - Open never refuses a directory for the budget: a replay builds the
 *    whole index, and a node that cannot start is worse than one that
 *    cannot add keys.  Its stats then show memory_bytes past the budget;
 *    keys are added only while the table has room without growing.
 *  - What the budget does not count: the old table during a growth (held
 *    while the entries move, at most 2/3 of the new one), the per-handle
 *    buffers (a commit group, LK_GROUP_BYTES_MAX; the compressor), a
 *    snapshot's buffers while one is written (384 KiB of entries, a bit
 *    a slot of the table, 256 KiB of segment table; and a copy of the
 *    table, 12 bytes a slot of a smaller one, when deletes left it too
 *    sparse for a load to accept), and the caller's batches and values.
 *    An idle handle adds about 0.7 MiB of its own (README, Footprint).
 *  lk_stats memory_bytes and memory_keys_room say how close the handle
 *  is; `logkeep stats` prints them. */

#define LK_OPTIONS_INIT                                                       \
	{ LK_OPTIONS_VERSION, LK_OPEN_CREATE, LK_SYNC_ALWAYS, 100,            \
	  16u * 1024 * 1024, NULL, 40, 8, 1000, 32u * 1024 * 1024,            \
	  32u * 1024 * 1024, 4u * 1024 * 1024, NULL, NULL, LK_RESERVE_BYTES,  \
	  LK_MAP_BYTES_DEFAULT, 0 }

/* Sets *opts to the defaults, LK_OPTIONS_INIT, at this header's version
 * (inline, so that it writes the struct the caller's compiler sees). */
static inline void lk_options_init(lk_options *opts)
{
	const lk_options defaults = LK_OPTIONS_INIT;

	*opts = defaults;
}

/* Opens (and with LK_OPEN_CREATE creates) the database in directory
 * `path`, replaying its log.  opts may be NULL for the defaults; it is
 * read at the version it says (convention 5).
 * On success *db is a new handle; on failure *db is NULL.
 * Returns LK_OK, LK_INVALID (also an I/O table of a version this library
 * does not take, or with a NULL slot: see logkeep_io.h), LK_NOT_FOUND (no
 * such directory and no LK_OPEN_CREATE, or path is not a directory),
 * LK_BUSY (another writer;
 * read-only: a writer's compactions changed the segment files under ten
 * listings in a row), LK_CORRUPT (also a segment file larger than LK_SEGMENT_FILE_BYTES_MAX, refused unread),
 * LK_VERSION, LK_IO (also a FIFO, device or directory under a segment's or
 * the LOCK file's name: refused at once, never waited on), LK_NOSPACE,
 * LK_NOMEM, LK_TOO_BIG (more segments or keys than the limits allow). */
LK_API lk_status lk_open(lk_db **db, const char *path, const lk_options *opts);

/* Syncs (unless LK_SYNC_NONE already failed), releases the lock and frees
 * the handle.  NULL is a no-op.
 * Close every iterator and feed of the handle first, and wait for the
 * calls of other threads to return: while an iterator or a feed
 * (lk_feed_open) is open, or a write (lk_commit,
 * lk_put, lk_del, lk_ns_open, lk_sync, lk_compact, lk_snapshot) or an
 * lk_backup() is in progress, lk_close() returns LK_MISUSE and frees
 * nothing: the handle stays open and usable, so the caller can close the
 * iterators, wait, and call lk_close() again.  (Reads in other threads
 * are not counted: they must have returned.)
 * Returns LK_OK, LK_MISUSE (as above, or the handle is already closed),
 * LK_IO if the final sync failed, or LK_HALTED if an earlier sync had
 * failed (the handle latched) while writes acknowledged under
 * LK_SYNC_INTERVAL or LK_SYNC_NONE were not yet synced: a power cut may
 * lose them, and a failed interval sync has no other caller to tell.
 * After LK_IO and LK_HALTED the handle is freed all the same. */
LK_API lk_status lk_close(lk_db *db);

/* ---------------------------------------------------------------------- */
/* Namespaces                                                             */
/* ---------------------------------------------------------------------- */

/* A namespace is a small id; LK_NS_DEFAULT always exists, named "default".
 * Other names are registered durably by lk_ns_open().  Names are 1 to
 * LK_NS_NAME_BYTES_MAX bytes of printable ASCII. */
#define LK_NS_DEFAULT 1u

/* Finds namespace `name`, creating it unless the handle is read-only.
 * Returns LK_OK, LK_INVALID (bad name), LK_NOT_FOUND (read-only and
 * absent), LK_TOO_BIG (all ids used), or any write status. */
LK_API lk_status lk_ns_open(uint32_t *ns, lk_db *db, const char *name);

/* Finds namespace `name` without creating it.
 * Returns LK_OK, LK_INVALID, LK_NOT_FOUND. */
LK_API lk_status lk_ns_find(uint32_t *ns, lk_db *db, const char *name);

/* Copies the name of namespace `ns` into buf (NUL-terminated, truncated
 * to cap).  Returns LK_OK, LK_NOT_FOUND, LK_INVALID. */
LK_API lk_status lk_ns_name(char *buf, size_t cap, lk_db *db, uint32_t ns);

/* Marks every write to namespace ns through this handle "no sync" (see
 * LK_BATCH_NOSYNC), or, with nosync 0, durable again.  For data whose loss
 * at a power cut costs a recomputation, not a fact (a path cache).  A
 * setting of the handle, not of the data: each open starts with every
 * namespace durable.  Returns LK_OK, LK_INVALID (ns out of range),
 * LK_MISUSE. */
LK_API lk_status lk_ns_set_nosync(lk_db *db, uint32_t ns, int nosync);

/* ---------------------------------------------------------------------- */
/* Reads                                                                  */
/* ---------------------------------------------------------------------- */

/* Looks up key.  On LK_OK *value is a new buffer of *value_len bytes (plus
 * a NUL byte after them, not counted, for convenience), owned by the
 * caller: release it with lk_free().  value and value_len may be NULL to
 * test existence only.
 * Returns LK_OK, LK_NOT_FOUND (absent, deleted or expired), LK_INVALID,
 * LK_CORRUPT (the record fails its checksum), LK_IO, LK_NOMEM. */
LK_API lk_status lk_get(void **value, size_t *value_len, lk_db *db,
			uint32_t ns, const void *key, size_t key_len);

/* lk_get that also tells the record's sequence number (unique and
 * increasing over the whole database, kept by compaction: the token for
 * lk_batch_require_seq) and its expiry (0: none).  Any output may be
 * NULL.  Statuses as lk_get; on any but LK_OK the outputs are zeroed. */
LK_API lk_status lk_get_ex(void **value, size_t *value_len, uint64_t *seq,
			   uint64_t *expire_at_ms, lk_db *db, uint32_t ns,
			   const void *key, size_t key_len);

/* Where key's live record is: the sequence number of its segment file
 * and its byte offset there, for messages that send an operator to the
 * place (`logkeep dump`).  Returns lk_get's statuses. */
LK_API lk_status lk_locate(uint64_t *segment_seq, uint64_t *offset,
			   lk_db *db, uint32_t ns, const void *key,
			   size_t key_len);

/* The wall clock of the handle's I/O layer, in ms since the epoch: the
 * one expiry is judged by (a simulated one under test layers).  0 for a
 * closed or bad handle. */
LK_API uint64_t lk_now_ms(lk_db *db);

/* The I/O table the handle makes its calls through: the one lk_open()
 * was given (lk_io_posix() for NULL), inside the library's contract
 * checks, with a version 1 table's clock, threads and sleeps taken from
 * lk_io_posix() (logkeep_io.h).  For a layer built on the handle whose
 * background thread must run on the handle's clock, threads and sleeps,
 * so that a test layer reaches it too (the mesh layer's telemetry
 * writer).  Calls through it keep logkeep_io.h's contract.  Valid until
 * lk_close(); NULL for a bad handle. */
LK_API const struct lk_io *lk_db_io(lk_db *db);

/* Copies the database id into id[0..LK_DB_ID_BYTES): 16 random bytes
 * chosen when the directory was created, written in every segment header,
 * kept by compaction, backup and salvage.  A shipper names the database's
 * records by it in another system (a stream's message ids, README "The
 * change feed").  Returns LK_OK, LK_INVALID (NULL), LK_MISUSE. */
#define LK_DB_ID_BYTES 16u
LK_API lk_status lk_db_id(uint8_t id[LK_DB_ID_BYTES], lk_db *db);

/* lk_get without the value. */
LK_API lk_status lk_exists(lk_db *db, uint32_t ns, const void *key,
			   size_t key_len);

/* The number of live, unexpired keys in namespace ns (0 for an id that
 * was never registered).
 * Returns LK_OK, LK_INVALID, LK_IO, LK_CORRUPT, LK_NOMEM. */
LK_API lk_status lk_count(uint64_t *count, lk_db *db, uint32_t ns);

typedef struct lk_iter lk_iter;

/* Iterates the live records of namespace ns whose key starts with prefix
 * (prefix_len 0: all), as of the moment of the call: later writes are not
 * seen.  Order is log order.  Memory: 8 bytes per key of the namespace.
 * Returns LK_OK, LK_INVALID, LK_NOMEM. */
LK_API lk_status lk_iter_open(lk_iter **it, lk_db *db, uint32_t ns,
			      const void *prefix, size_t prefix_len);

/* Moves to the next record.  On LK_OK the pointers are valid until the next
 * call on this iterator; the value is not NUL-terminated (unlike lk_get's).  Returns LK_OK, LK_NOT_FOUND at the end,
 * LK_CORRUPT, LK_IO, LK_NOMEM. */
LK_API lk_status lk_iter_next(lk_iter *it, const void **key, size_t *key_len,
			      const void **value, size_t *value_len,
			      uint64_t *expire_at_ms);

/* Releases the iterator and the segments it holds.  Call it before
 * lk_close() of its handle (which refuses while iterators are open).
 * NULL is a no-op. */
LK_API void lk_iter_close(lk_iter *it);

/* ---------------------------------------------------------------------- */
/* The change feed                                                        */
/* ---------------------------------------------------------------------- */

/* A change feed reads the committed records of chosen namespaces in
 * sequence-number order, from a cursor on: the history of the log, not
 * the state of the keys (an overwritten value and a delete are records
 * like any other, and an expired record is passed with its expiry), so
 * that another system (a shipper to a stream engine) can follow a
 * database.  It reads the segment files a record at a time, whatever the
 * backlog: its memory is a read window (at most 1 MiB, and no more than
 * the segment holds) and the current record (one decompressed value),
 * never the log.  It reads across segments,
 * rotations and compactions: the segment it is reading stays open for it
 * (pinned, as an iterator's) if compaction replaces it meanwhile.
 *
 * Gaps.  Compaction drops records that are no longer the live value of
 * their key (overwritten, deleted, expired) and keeps the numbers of
 * those it copies, so a feed that starts behind a compaction finds some
 * numbers with no record.  It does not skip them silently: it passes an
 * LK_FEED_GAP item naming the range first..last of numbers for which it
 * delivers nothing and some of which have no record left in the log.  The
 * numbers of a gap may also hold records of namespaces the feed does not
 * read (they are merged into it, so that a busy namespace beside a
 * quiet one does not make a gap per record); the feed cannot tell which
 * namespace a dropped record was of, nor which key.  A key written once
 * and never deleted is always live, so compaction never drops its record:
 * such a record is never in a gap unless a salvage (lk_salvage) lost it.
 * The mesh layer's audit ledger keeps its entries and chain links under
 * such keys, but overwrites its heads (the ledger's and each entity's) in
 * the same namespace, so a feed of it meets gaps where old heads were:
 * that no entry is lost is proved by the entries' chain positions, not by
 * the absence of gaps.  Numbers a salvage skipped are a gap too.
 *
 * Cursor.  lk_feed_cursor() is the number up to which every record was
 * delivered or passed over (a record of another namespace, a catalog
 * entry, a gap): open a feed with after_seq at a cursor kept from an
 * earlier one (or at the number of the last record a consumer has
 * acknowledged) and it resumes there, without a duplicate.
 *
 * Threading: a feed belongs to one thread at a time, except
 * lk_feed_stop(), which any thread may call while the owner waits.
 * Close every feed before lk_close() of its handle, which refuses
 * (LK_MISUSE) while one is open, as with iterators. */
typedef struct lk_feed lk_feed;

typedef enum lk_feed_kind {
	LK_FEED_PUT = 1, /* a put: key, value, expiry */
	LK_FEED_DEL = 2, /* a delete: key */
	LK_FEED_GAP = 3, /* numbers seq..seq_last with nothing to deliver,
			    some of them compacted away (see above) */
} lk_feed_kind;

#define LK_FEED_ITEM_VERSION 1u
#define LK_FEED_ITEM_INIT { .version = LK_FEED_ITEM_VERSION }

/* One item of a feed.  Pointers are valid until the next call on the
 * feed; the value is not NUL-terminated. */
typedef struct lk_feed_item {
	uint32_t version;      /* LK_FEED_ITEM_VERSION (the caller's) */
	lk_feed_kind kind;
	uint64_t seq;          /* PUT, DEL: the record's sequence number;
				  GAP: the first number of the range */
	uint64_t seq_last;     /* GAP: the last; PUT, DEL: seq */
	uint32_t ns;           /* PUT, DEL: the namespace id; GAP: 0 */
	const void *key;       /* PUT, DEL */
	size_t key_len;
	const void *value;     /* PUT: decompressed */
	size_t value_len;
	uint64_t expire_at_ms; /* PUT: 0 for none; may have passed */
} lk_feed_item;

/* Opens a feed of the records numbered after after_seq (0: from the
 * start of the log) of namespaces ns[0..ns_count) (ids 1 to
 * LK_NS_COUNT_MAX; ns_count 0: every namespace; the engine's catalog of
 * names is never passed).  A read-only handle works too: it sees the log
 * as it was when it opened.  Returns LK_OK, LK_INVALID (NULL, an id out
 * of range), LK_MISUSE (a closed handle), LK_NOMEM. */
LK_API lk_status lk_feed_open(lk_feed **feed, lk_db *db, uint64_t after_seq,
			      const uint32_t *ns, size_t ns_count);

/* Fills *item (at the version the caller set: LK_FEED_ITEM_INIT) with
 * the next record past the cursor, or the gap before it, and moves the
 * cursor past it.  Waits for no writer but briefly: where it reaches the
 * end of a segment as it knew it, it takes the log's end under the lock
 * a committer holds while it appends and syncs a group (or rotates a
 * segment), and writers wait for it only while it reads a few fields.
 * Returns LK_OK, LK_NOT_FOUND (every committed record past
 * the cursor was read: wait, then call again), LK_CORRUPT (a record that
 * fails its checks, named by segment and offset in lk_errmsg(); the
 * cursor stays before it), LK_IO, LK_NOMEM, LK_INVALID (NULL, or an
 * item version this library does not know), LK_MISUSE (a closed feed or
 * handle). */
LK_API lk_status lk_feed_next(lk_feed_item *item, lk_feed *feed);

/* Waits until a record numbered past the cursor is committed (of any
 * namespace: lk_feed_next may then find nothing to deliver and the
 * caller waits again), for at most timeout_ms of the handle's I/O
 * layer's monotonic clock (0: only looks; on a read-only handle, whose
 * log never grows, it always runs out).  Woken by the commit itself, not
 * by polling: the waiter sleeps on an lk_io_wait (logkeep_io.h), which
 * the committer that applies a group stops.  On the memory and fault
 * layers, whose clock is simulated, a wait of the caller's thread moves
 * that clock to its deadline at once, as every sleep of a caller's
 * thread there does.  Returns LK_OK (there is something past the
 * cursor), LK_NOT_FOUND (timed out), LK_MISUSE (the feed was stopped
 * with lk_feed_stop(), at once on every later call; or a closed feed or
 * handle), LK_NOMEM. */
LK_API lk_status lk_feed_wait(lk_feed *feed, uint32_t timeout_ms);

/* Stops the feed's waits for good, from any thread: a wait in progress
 * returns LK_MISUSE at once, and so does every later one; lk_feed_next
 * still reads.  For a daemon's shutdown: stop, join the thread that
 * waits, then close the feed.  NULL is a no-op; not after
 * lk_feed_close(). */
LK_API void lk_feed_stop(lk_feed *feed);

/* The cursor: every record numbered up to it was delivered or passed
 * over (see above).  after_seq until the first item; 0 for NULL. */
LK_API uint64_t lk_feed_cursor(const lk_feed *feed);

/* Releases the feed and the segment it holds.  Call it before lk_close()
 * of its handle.  NULL is a no-op. */
LK_API void lk_feed_close(lk_feed *feed);

/* ---------------------------------------------------------------------- */
/* Writes                                                                 */
/* ---------------------------------------------------------------------- */

/* expire_at_ms: absolute time after which the record is never returned;
 * 0 means never.  Keys are 1 to LK_KEY_BYTES_MAX bytes, values 0 to
 * LK_VALUE_BYTES_MAX.
 * Write statuses: LK_OK, LK_INVALID, LK_TOO_BIG (also a new key past the
 * memory budget, lk_options.memory_bytes_max), LK_READONLY, LK_HALTED,
 * LK_IO, LK_NOSPACE, LK_NOMEM, LK_MISUSE, and LK_CORRUPT when the record
 * read to confirm that a key is the one being replaced fails its checks
 * (the write is then on disk but the handle halts until reopened).  On any status but LK_OK the
 * write is not visible to readers; after LK_IO from a failed sync it may
 * or may not survive a crash (it was never acknowledged). */
LK_API lk_status lk_put(lk_db *db, uint32_t ns, const void *key,
			size_t key_len, const void *value, size_t value_len,
			uint64_t expire_at_ms);

/* Deletes key (writes a tombstone).  Deleting an absent key is LK_OK.
 * On a full device a delete draws on the space reserve (Durability), so
 * it succeeds where a put gets LK_NOSPACE; so does lk_commit() of a
 * batch that holds only deletes. */
LK_API lk_status lk_del(lk_db *db, uint32_t ns, const void *key,
			size_t key_len);

typedef struct lk_batch lk_batch;

/* A batch collects puts and deletes that lk_commit() applies atomically.
 * The batch copies keys and values.  Returns LK_OK, LK_NOMEM. */
LK_API lk_status lk_batch_new(lk_batch **batch);
/* Statuses: LK_OK, LK_INVALID, LK_TOO_BIG (the batch would pass
 * LK_BATCH_OPS_MAX or LK_BATCH_BYTES_MAX), LK_NOMEM. */
LK_API lk_status lk_batch_put(lk_batch *batch, uint32_t ns, const void *key,
			      size_t key_len, const void *value,
			      size_t value_len, uint64_t expire_at_ms);
LK_API lk_status lk_batch_del(lk_batch *batch, uint32_t ns, const void *key,
			      size_t key_len);
/* Conditions make a batch conditional: lk_commit() checks each against
 * the state the batch's writes would follow, in the writer's turn, so
 * that no other commit comes between the check and the writes ("create
 * the node unless it exists" is one atomic step, with any number of
 * threads).  If any does not hold, nothing of the batch is written and
 * lk_commit() returns LK_CONFLICT, lk_errmsg() naming the condition (its
 * number in the batch, from 1) and its key.  A deleted or expired key is
 * absent.  A batch may hold conditions and no writes: a consistent check.
 *   LK_IF_ABSENT   the key has no live value (value NULL, value_len 0)
 *   LK_IF_PRESENT  the key has a live value (value NULL, value_len 0)
 *   LK_IF_VALUE    its live value is exactly value[0..value_len)
 *   LK_IF_SEQ      its live record has the sequence number given to
 *                  lk_batch_require_seq (not to lk_batch_require)
 * Statuses: LK_OK, LK_INVALID, LK_TOO_BIG (past LK_BATCH_CONDS_MAX or
 * LK_BATCH_BYTES_MAX), LK_MISUSE, LK_NOMEM. */
typedef enum lk_cond {
	LK_IF_ABSENT = 1,
	LK_IF_PRESENT = 2,
	LK_IF_VALUE = 3,
	LK_IF_SEQ = 4,
} lk_cond;
LK_API lk_status lk_batch_require(lk_batch *batch, uint32_t ns,
				  const void *key, size_t key_len, lk_cond cond,
				  const void *value, size_t value_len);
/* The optimistic read-modify-write: read with lk_get_ex, which gives the
 * record's sequence number, build the new value, and commit it with this
 * condition: the batch fails with LK_CONFLICT if any commit replaced,
 * deleted or let expire the key in between.  seq 0 is LK_INVALID (use
 * LK_IF_ABSENT).  A write to the key by an earlier batch of the same
 * commit group has no sequence number yet that a caller could know, so
 * the condition fails against it.  Statuses as lk_batch_require. */
LK_API lk_status lk_batch_require_seq(lk_batch *batch, uint32_t ns,
				      const void *key, size_t key_len,
				      uint64_t seq);
/* Flags of a batch, kept until lk_batch_clear (lk_commit clears them with
 * the batch once written):
 *   LK_BATCH_NOSYNC  the batch reaches the operating system before
 *       lk_commit returns, so it survives a crash of the process, but it
 *       neither waits for nor causes an fdatasync under LK_SYNC_ALWAYS or
 *       LK_SYNC_INTERVAL: a power cut may take it (and only writes like
 *       it; a torn tail is cut as usual).  The next durable commit, an
 *       lk_sync() or a clean close makes it durable too.  Such batches
 *       form groups of their own, so that they never wait behind a sync.
 *       A batch whose writes all go to namespaces marked with
 *       lk_ns_set_nosync() is no-sync without the flag.
 * Returns LK_OK, LK_INVALID (an unknown flag), LK_MISUSE. */
#define LK_BATCH_NOSYNC 0x1u
LK_API lk_status lk_batch_set_flags(lk_batch *batch, uint32_t flags);
/* The number of operations in the batch. */
LK_API size_t lk_batch_count(const lk_batch *batch);
/* After lk_commit returned LK_CONFLICT: the number (from 1, in the order
 * they were added) of the condition that did not hold, so that a layer
 * can say what it meant ("node exists"); 0 otherwise. */
LK_API size_t lk_batch_failed_condition(const lk_batch *batch);
/* The number of conditions in the batch. */
LK_API size_t lk_batch_conditions(const lk_batch *batch);
/* Empties the batch for reuse. */
LK_API void lk_batch_clear(lk_batch *batch);
/* NULL is a no-op. */
LK_API void lk_batch_free(lk_batch *batch);

/* Applies every operation of the batch, all or nothing, and empties it
 * (also of its conditions).  Later operations on the same key win.
 * Returns the write statuses, or LK_CONFLICT (see lk_batch_require); a
 * batch that failed keeps its operations and conditions. */
LK_API lk_status lk_commit(lk_db *db, lk_batch *batch);

/* Forces everything written so far to stable storage (any sync mode).
 * Returns LK_OK, LK_HALTED, LK_IO, LK_READONLY. */
LK_API lk_status lk_sync(lk_db *db);

/* ---------------------------------------------------------------------- */
/* Compaction                                                             */
/* ---------------------------------------------------------------------- */

/* Compacts now, in the calling thread: every run of sealed segments that
 * holds dead bytes is rewritten with only its live records into one new
 * segment (same place in the log, next generation), and the old files are
 * removed.  The active segment is sealed first if more than an eighth of
 * it is dead, so its garbage goes too.  A tombstone is kept while an older
 * segment may still hold its key; an expired record is dropped (or, with
 * older segments behind it, kept as a tombstone).  Reads go on
 * throughout; writes wait only while the index is repointed, a few
 * thousand keys at a time.  Waits for a background compaction in progress.
 * A power cut at any point leaves the old segments or the new one, never
 * a mix: the new segment is synced before any old one is removed, and
 * open removes what an interrupted compaction left.  Rate-limited by
 * compact_rate_bytes like the background thread.  On a full device it
 * draws on the space reserve (Durability) and fills it again once it has
 * freed space; LK_NOSPACE when no run fits, with the log as it was.
 * Returns LK_OK, LK_INVALID, LK_MISUSE, LK_READONLY, LK_HALTED, LK_IO,
 * LK_NOSPACE, LK_NOMEM, LK_TOO_BIG (segment limits), LK_CORRUPT (a record
 * of a segment it would copy fails its check: every such record is read
 * before the active segment is sealed or anything is written, so nothing
 * is changed). */
LK_API lk_status lk_compact(lk_db *db);

/* ---------------------------------------------------------------------- */
/* Snapshots                                                              */
/* ---------------------------------------------------------------------- */

/* An index snapshot is a file in the data directory holding the index as
 * of a position in the log, so that open loads it and replays only the
 * log after that position: at a million keys, milliseconds instead of a
 * replay of the whole log.  It costs about 12 bytes per key to write,
 * and 2 KiB more for each namespace's live bytes.  It also keeps the
 * database's compaction totals (lk_stats version 5), which an open takes
 * from the newest snapshot file whose totals check, used or not; a
 * writing open keeps that file until a new snapshot holds them.
 *
 * With snapshot_every_bytes > 0, a writable handle writes one by itself:
 * whenever that many bytes of log were written since the last one, after
 * each compaction (which makes the last one useless), and at lk_close()
 * when at least LK_SNAPSHOT_CLOSE_MIN_BYTES of log are not covered.  The
 * interval trades write amplification (a snapshot per interval) for the
 * replay after a crash (up to an interval of log).
 *
 * Open reads a snapshot's entries into the index table itself (no buffer
 * beside it) and spreads them there.  It spreads a snapshot of 600,000
 * keys or more with two threads, its own and one from the I/O table's
 * thread_start, unless the handle has a memory budget: once the first
 * half's entries are hashed, the second thread spreads them while the
 * first hashes and spreads the rest.  With no thread to be had, one
 * thread spreads it all.
 *
 * Open trusts a snapshot only if its checksums, the database id and the
 * log all match (a compaction since, a truncated or damaged file, another
 * database's file: the whole log is replayed), and the recovery report's
 * snapshot_used and snapshot_note say which one was used or why none was.
 * A snapshot is written to a temporary file, synced, renamed and the
 * directory synced; a power cut leaves the old snapshot or the new one.
 *
 * lk_snapshot() writes one now (the log is synced first), unless the
 * newest one already holds this exact state.  Writers wait while the
 * index's entries (12 bytes a key) are written to the temporary file
 * through a buffer of at most 384 KiB, into the page cache; the file's
 * sync and rename come after, without them.  Readers never wait.
 * Returns LK_OK, LK_INVALID, LK_MISUSE, LK_READONLY, LK_HALTED, LK_IO,
 * LK_NOSPACE, LK_NOMEM.  A failure leaves the previous snapshot in use
 * and the log writable. */
LK_API lk_status lk_snapshot(lk_db *db);

/* ---------------------------------------------------------------------- */
/* Reports                                                                */
/* ---------------------------------------------------------------------- */

/* Version 2 added compaction_leftovers (before seq_last, the one field
 * ever inserted: a version 1 caller still gets version 1's layout);
 * version 3, replaced_unread and replaced_read; version 4,
 * snapshot_damaged. */
#define LK_REPORT_VERSION 4u
#define LK_REPORT_INIT { .version = LK_REPORT_VERSION }
#define LK_NOTE_BYTES 160

/* What the last lk_open() found and did. */
typedef struct lk_recovery_report {
	uint32_t version;              /* LK_REPORT_VERSION */
	uint32_t segments_read;
	uint64_t records_replayed;     /* committed records applied */
	uint64_t records_discarded;    /* complete records of uncommitted batches */
	uint64_t bytes_cut;            /* torn tail bytes cut (or ignored, read-only) */
	uint64_t cut_segment_seq;      /* segment of the cut; 0 if none */
	uint64_t cut_offset;           /* offset where the cut starts */
	uint64_t zero_tail_bytes;      /* preallocated zeroes after the data */
	uint64_t segments_removed;     /* empty torn segments removed */
	uint64_t compaction_leftovers; /* files of an interrupted compaction
					  removed (or ignored, read-only) */
	uint64_t seq_last;             /* newest committed sequence number */
	uint64_t duration_us;          /* time lk_open() took */
	int snapshot_used;             /* the index came from a snapshot */
	char snapshot_note[LK_NOTE_BYTES]; /* which one, or why none */
	char tail_note[LK_NOTE_BYTES]; /* what was cut and why, or "" */
	/* version 3: keys the replay repointed from an older record, found
	 * by the location the newer record names (format version 3, which
	 * writes it when the older record lay in a mapped segment), or
	 * confirmed by reading the older record's key */
	uint64_t replaced_unread;
	uint64_t replaced_read;
	/* version 4: a snapshot file that open passed over because it failed
	 * its own checks (a checksum, its size, another database's id):
	 * "<name>: <why>", or "" if open met none.  Damage on the medium or
	 * by a hand, worth a warning, where a snapshot of an older state of
	 * the log (a compaction since, a crash) is not; nothing is lost
	 * either way: open used an older snapshot or replayed the log.  The
	 * newest such file is named (open tries the newest few).  A writable
	 * open then removes it with the other snapshot files it does not use,
	 * a few at a time (unless it took the compaction totals from it: then
	 * the next snapshot removes it); a read-only open leaves it, and
	 * lk_verify() reports it as a problem (LK_PROBLEM_SNAPSHOT) when the
	 * log itself passes. */
	char snapshot_damaged[LK_NOTE_BYTES];
} lk_recovery_report;

/* Copies the recovery report of the open that made this handle into
 * *report at the version the caller set in report->version (convention 5;
 * LK_REPORT_INIT sets it).  Returns LK_OK, LK_INVALID (NULL, or a version
 * this library does not know: nothing written), LK_MISUSE. */
LK_API lk_status lk_recovery(lk_recovery_report *report, lk_db *db);

#define LK_STATS_VERSION 7u
#define LK_STATS_INIT { .version = LK_STATS_VERSION }

typedef struct lk_stats {
	uint32_t version;           /* LK_STATS_VERSION */
	uint32_t segment_count;
	uint64_t live_keys;         /* the user's keys in the index (expired
				       included; the namespace catalog not) */
	uint64_t disk_bytes;        /* bytes of all segment files */
	uint64_t live_bytes;        /* bytes of the records the index points at */
	uint64_t dead_bytes;        /* bytes of overwritten and deleted records */
	uint64_t index_bytes;       /* memory of the hash index */
	uint64_t index_slots;       /* capacity of the hash index */
	uint64_t seq_last;          /* newest sequence number */
	uint64_t commits;           /* batches committed by this handle */
	uint64_t sync_calls;        /* fdatasyncs of segment data by this handle */
	uint64_t write_groups;      /* group writes (one or more batches each) */
	/* version 2 */
	uint64_t log_bytes_written; /* appended by commits (zero prefill
				       included) through this handle */
	/* compaction by this handle (the database's: version 5's totals) */
	uint64_t compactions;       /* runs of segments rewritten */
	uint64_t compact_bytes_read;    /* of old segments */
	uint64_t compact_bytes_written; /* of new segments */
	uint64_t compact_segments_removed;
	uint64_t compact_records_dropped; /* dead records left behind */
	uint64_t compact_us;        /* time spent compacting */
	uint64_t compact_stall_max_us;  /* longest hold of the index lock */
	uint64_t compact_failures;  /* background runs that failed (I/O, no
				       space); the thread retries later */
	/* version 3: snapshots */
	uint64_t snapshot_serial;   /* the newest snapshot's number; 0: none */
	uint64_t snapshot_age_ms;   /* since it was taken (0 without one) */
	uint64_t snapshot_behind_bytes; /* log after it: what open replays */
	uint64_t snapshots_written; /* by this handle */
	uint64_t snapshot_bytes_written;
	uint64_t snapshot_failures; /* automatic snapshots that failed (I/O,
				       no space): open replays more log */
	/* version 4: the scrub (lk_scrub), by this handle */
	uint64_t scrub_segments;    /* sealed segments checked */
	uint64_t scrub_bytes;       /* bytes read to check them */
	uint64_t scrub_damage;      /* damaged segments found (each time) */
	uint64_t scrub_passes;      /* background passes finished */
	/* version 5: compaction since the database was created, by every
	 * handle, kept across opens (read-only ones report them too).  The
	 * snapshot file keeps them, so they are as new as the newest
	 * snapshot plus this handle's: a snapshot follows each compaction
	 * when snapshots are automatic, but with snapshot_every_bytes 0 only
	 * lk_snapshot() keeps them, and a power cut between a compaction and
	 * the snapshot after it loses that compaction's counts (never more:
	 * the totals are then the previous snapshot's).  A directory written
	 * before version 5 starts from 0. */
	uint64_t compactions_total;
	uint64_t compact_bytes_read_total;
	uint64_t compact_bytes_written_total;
	uint64_t compact_segments_removed_total;
	uint64_t compact_records_dropped_total;
	/* version 6: reads through mappings (lk_options.map_bytes_max) */
	uint64_t map_bytes;         /* of segment files mapped now */
	uint32_t map_segments;      /* segments mapped now */
	uint32_t pread_segments;    /* segments read with pread: the newest,
				       and those past the cap */
	/* version 7: the memory budget (lk_options.memory_bytes_max) */
	uint64_t memory_bytes_max;  /* the budget; 0: none */
	uint64_t memory_bytes;      /* charged now: index_bytes + map_bytes
				       (past the budget after an open that
				       replayed more keys than it holds) */
	uint64_t memory_keys_room;  /* keys that can still be added before
				       a commit adding keys is refused, with
				       the mappings as they are now (without
				       a budget: up to LK_INDEX_SLOTS_MAX) */
} lk_stats;

/* Fills *stats at the version the caller set in stats->version
 * (convention 5; LK_STATS_INIT sets it).  Returns LK_OK, LK_INVALID (NULL,
 * or a version this library does not know: nothing written), LK_MISUSE. */
LK_API lk_status lk_stats_get(lk_stats *stats, lk_db *db);

#define LK_SEGMENT_INFO_VERSION 1u
#define LK_SEGMENT_INFO_INIT { .version = LK_SEGMENT_INFO_VERSION }

/* One segment file, as lk_segment_list() reports it. */
typedef struct lk_segment_info {
	uint32_t version;       /* LK_SEGMENT_INFO_VERSION */
	uint32_t generation;    /* 0 unless rewritten by compaction */
	uint64_t seq;           /* position in the log */
	uint64_t disk_bytes;    /* the file's size, zero prefill included */
	uint64_t live_bytes;    /* records the index points at */
	uint64_t dead_bytes;    /* overwritten, deleted, commits, seals */
	int sealed;             /* takes no more writes */
} lk_segment_info;

/* Copies the segments, in log order, into out[0..cap) and sets *count to
 * how many there are (more than cap: call again with more room).  The
 * caller sets out[0].version (convention 5); every element is written at
 * that version's size, which is also the step between elements, and gets
 * that version.  out may be NULL when cap is 0.
 * Returns LK_OK, LK_INVALID (NULL, or a version this library does not
 * know: nothing written), LK_MISUSE, LK_NOMEM.
 * (lk_segments(), its unversioned form of 0.1.0, stays in the library for
 * programs built against 0.1.0 but is no longer declared.) */
LK_API lk_status lk_segment_list(lk_segment_info *out, size_t cap,
				 size_t *count, lk_db *db);

/* Deletes the records of namespace ns that have expired, now: reads
 * never return them, but until a compaction reaches them they hold their
 * index slots (lk_ns_keys counts them).  A key set again meanwhile is
 * left alone.  The deletes are no-sync (an expired record is never read
 * again either way) and may draw on the space reserve.  *removed says how
 * many went.  It takes the locations of ns's records that carry an
 * expiry under the index lock, without I/O (12 bytes each), then reads
 * them with no lock held, so writers are not held up by its reads.
 * Returns LK_OK, LK_INVALID, LK_READONLY, LK_NOMEM, or a write status. */
LK_API lk_status lk_purge_expired(uint64_t *removed, lk_db *db, uint32_t ns);

/* The number of keys of namespace ns in the index (expired records
 * included: lk_count() leaves them out at the cost of reading them). */
LK_API lk_status lk_ns_keys(uint64_t *keys, lk_db *db, uint32_t ns);

#define LK_NS_STATS_VERSION 1u
#define LK_NS_STATS_INIT { .version = LK_NS_STATS_VERSION }

/* One namespace, as lk_ns_stats_get() reports it. */
typedef struct lk_ns_stats {
	uint32_t version;       /* LK_NS_STATS_VERSION */
	uint32_t ns;            /* the namespace's id */
	uint64_t keys;          /* its keys in the index, as lk_ns_keys */
	uint64_t live_bytes;    /* bytes of the records the index points at
				   for them, whole records as lk_stats'
				   live_bytes counts them (expired ones
				   included until compaction or
				   lk_purge_expired takes them) */
} lk_ns_stats;

/* Fills *stats for namespace ns (1 to LK_NS_COUNT_MAX; an id never
 * registered has no keys and no bytes) at the version the caller set in
 * stats->version (convention 5; LK_NS_STATS_INIT sets it).  The engine
 * keeps a live-byte count per namespace, not per key (the index's memory
 * per key is what it was), through commits, replay, compaction and
 * snapshots, so the call takes no I/O.  The namespaces' live bytes and
 * the namespace catalog's few bytes add up to lk_stats' live_bytes.
 * Returns LK_OK, LK_INVALID (NULL, ns out of range, or a version this
 * library does not know: nothing written), LK_MISUSE. */
LK_API lk_status lk_ns_stats_get(lk_ns_stats *stats, lk_db *db, uint32_t ns);

/* ---------------------------------------------------------------------- */
/* Backup                                                                 */
/* ---------------------------------------------------------------------- */

/* Called as a long operation moves on: done_bytes of total_bytes. */
typedef void (*lk_progress_fn)(void *arg, uint64_t done_bytes,
			       uint64_t total_bytes);

/* Copies the database into directory dest_path (created if missing; it
 * must be empty) while the handle keeps serving reads and writes: the
 * copy holds every commit acknowledged before the call, ends on a commit,
 * and is synced when LK_OK returns.  Restoring is opening the copy.
 * progress may be NULL.  Returns LK_OK, LK_INVALID, LK_MISUSE, LK_EXISTS
 * (dest_path is not empty), LK_IO, LK_NOSPACE, LK_NOMEM; on failure the
 * partial copy is left in dest_path for the caller to remove. */
LK_API lk_status lk_backup(lk_db *db, const char *dest_path,
			   lk_progress_fn progress, void *arg);

/* ---------------------------------------------------------------------- */
/* Verification                                                           */
/* ---------------------------------------------------------------------- */


/* Checks every segment and record of the directory without changing it,
 * calling fn for each problem found (it keeps going past damage).  The
 * report describes what a read-only open would do; it is written at the
 * version the caller set in report->version (convention 5).  A snapshot
 * that open would use is compared with a replay of the whole log (index
 * entries, key counts, live bytes, seq_last); one that disagrees (forged
 * with consistent checksums), and any snapshot file that fails its own
 * checks (which open passes over), is a problem of kind
 * LK_PROBLEM_SNAPSHOT naming the file, and the call returns LK_CORRUPT:
 * nothing of the log is lost, but the medium or a hand damaged a file
 * (lk_salvage sets it aside).  A snapshot merely older than the log (a
 * crash before the older one was removed) is no problem.  opts (NULL:
 * the defaults): only io is used.  Returns LK_OK when no problem but a
 * torn tail was found, LK_CORRUPT, LK_VERSION, LK_IO (a file that cannot
 * be read or is not a regular file), LK_NOT_FOUND (no such directory, or
 * not a directory), LK_NOMEM, LK_TOO_BIG (more segment files than
 * LK_SEGMENT_COUNT_MAX: what lk_open says first, returned after every
 * other problem was reported), LK_BUSY (as a read-only lk_open),
 * LK_INVALID (NULL, or a struct version this library does not know). */
LK_API lk_status lk_verify(lk_recovery_report *report, const char *path,
			   const lk_options *opts, lk_problem_fn fn, void *arg);

/* ---------------------------------------------------------------------- */
/* Reading the log as stored (logkeep dump)                               */
/* ---------------------------------------------------------------------- */

/* What lk_log_read() passes to its callback, in file order. */
typedef enum lk_log_kind {
	LK_LOG_SEGMENT = 1, /* a segment file begins: its header's fields */
	LK_LOG_PUT = 2,     /* a put record */
	LK_LOG_DEL = 3,     /* a delete record (a tombstone) */
	LK_LOG_COMMIT = 4,  /* closes the group of `count` records before it */
	LK_LOG_SEAL = 5,    /* the last record of a full segment */
	LK_LOG_DAMAGE = 6,  /* bytes that hold no valid record: `what` says
			       why; reading resumes at the next valid one */
	LK_LOG_DISCARD = 7, /* the group of `count` records before `offset`
			       (seq to seq_last) has no commit: recovery
			       never applies it */
	LK_LOG_FREE = 8,    /* zero bytes after the data (the prefill that
			       writes go over): not damage */
} lk_log_kind;

#define LK_LOG_ITEM_VERSION 2u

/* One item.  Pointers are valid during the callback only.  Fields that do
 * not apply to the kind are 0 or NULL. */
typedef struct lk_log_item {
	uint32_t version;        /* LK_LOG_ITEM_VERSION (set by the library) */
	lk_log_kind kind;
	const char *file;        /* the segment file's name */
	uint64_t segment_seq;    /* from its header (0: header unreadable) */
	uint32_t generation;     /* 0 unless rewritten by compaction */
	uint64_t offset;         /* byte offset in the file */
	uint64_t length;         /* bytes of the record or region; SEGMENT:
				    the file's size */
	uint64_t seq;            /* PUT, DEL: the record's sequence number;
				    DISCARD: the group's first */
	uint64_t seq_last;       /* DISCARD: the group's last */
	uint32_t ns;             /* PUT, DEL: the namespace id */
	const char *ns_name;     /* its name, NULL if its catalog record was
				    not read (a single file, or damage) */
	const void *key;         /* PUT, DEL */
	size_t key_len;
	const void *value;       /* PUT: the value, decompressed */
	size_t value_len;
	size_t stored_len;       /* PUT: bytes of the value as stored */
	int compressed;          /* PUT: stored as a zstd frame */
	uint64_t expire_at_ms;   /* PUT: 0 for none */
	int checksum_ok;         /* records: 1; 0 for a record that fails its
				    checksum, shown for what its fields claim
				    (value as stored), inside a DAMAGE item's
				    region */
	uint64_t count;          /* COMMIT: records of its group; SEAL: the
				    segment's committed records; DISCARD */
	uint64_t durable_upto;   /* COMMIT, SEAL */
	const char *what;        /* DAMAGE, DISCARD: why; records: a rule the
				    record breaks ("sequence number does not
				    increase"), else NULL; SEGMENT: why its
				    records are not read, else NULL */
	int tail;                /* DAMAGE: no valid record follows in the
				    newest segment: a torn tail an open cuts;
				    SEGMENT and DAMAGE of a directory's
				    newest segment whose header was cut
				    while it was created: open removes it */
	/* SEGMENT */
	uint32_t format_version;
	uint64_t seq_prev;       /* the segment before it in the log */
	uint64_t record_seq_base;
	const uint8_t *db_id;    /* 16 bytes, or NULL */
	uint64_t total_bytes;    /* of every segment file to be read (for
				    progress), known at the first item */
	/* version 2 (read them only when version is 2 or more: an older
	 * library's items end before them).  PUT, DEL that claim to
	 * replace an older record of their key (format version 3's
	 * `replaces`, README "Record format"): the place of that record,
	 * which a replay repoints the index from without reading it;
	 * replaces_segment_seq is 0 when the record makes no claim. */
	uint64_t replaces_segment_seq;
	uint32_t replaces_generation;
	uint64_t replaces_offset;
} lk_log_item;

/* Returns 0 to go on, anything else to stop (lk_log_read then returns
 * LK_OK). */
typedef int (*lk_log_fn)(void *arg, const lk_log_item *item);

/* Reads the records of the data directory `path`, or of one segment file
 * (any name: a NAME.broken kept aside by repair too), as they are stored,
 * in log order (segment files by seq, then generation), and passes each
 * to fn: every record with its place, damaged regions as such, then goes
 * on after them from the next valid record.  Nothing is changed and no
 * lock is taken: it works on a directory a writer is using (a segment
 * removed meanwhile by its compaction is passed as a SEGMENT item whose
 * `what` says so).  segment != 0 reads only that segment.  It holds one
 * record and one decompressed value at a time, whatever the input.
 * opts (NULL: the defaults): only io is used.
 * Returns LK_OK (damage is passed to fn, not returned), LK_NOT_FOUND (no
 * such directory or file), LK_INVALID, LK_IO, LK_NOMEM, LK_TOO_BIG (more
 * segment files than LK_SEGMENT_COUNT_MAX). */
LK_API lk_status lk_log_read(const char *path, const lk_options *opts,
			     uint64_t segment, lk_log_fn fn, void *arg);

/* ---------------------------------------------------------------------- */
/* Salvage (logkeep repair)                                               */
/* ---------------------------------------------------------------------- */

/* What lk_salvage() does, or would do, step by step. */
typedef enum lk_salvage_action {
	LK_SALVAGE_REWRITE = 1,  /* file is rewritten as new_file with its
				    valid committed records (`records`) */
	LK_SALVAGE_ASIDE = 2,    /* file is renamed new_file (NAME.broken):
				    kept, no longer read */
	LK_SALVAGE_CREATE = 3,   /* new_file, an empty newest segment, is
				    created (the newest one is missing); its
				    numbering starts past every sequence
				    number the missing segments could have
				    given (about 2^37, the LOST step's
				    range), so none names two records */
	LK_SALVAGE_DROP_SNAPSHOT = 4, /* file, a snapshot of the log before
				    the repair, is removed (open replays) */
	LK_SALVAGE_LOST = 5,     /* sequence numbers seq_first..seq_last are
				    lost (seq_last 0: every one after
				    seq_first); `records` of namespace ns
				    (ns_name NULL: of unknown namespaces, and
				    records 0 when their number is unknown) */
	LK_SALVAGE_FALLBACK = 6, /* key of namespace ns lost its value of
				    sequence number seq_first: a read now
				    returns its older value of seq_last (0:
				    the key is gone) */
	LK_SALVAGE_CUT = 7,      /* file's torn tail from `offset`, which
				    any writing open cuts: not salvage's */
} lk_salvage_action;

#define LK_SALVAGE_STEP_VERSION 1u

typedef struct lk_salvage_step {
	uint32_t version;        /* LK_SALVAGE_STEP_VERSION (the library's) */
	lk_salvage_action action;
	const char *file;
	const char *new_file;
	uint64_t segment_seq;
	uint64_t offset;
	uint64_t seq_first, seq_last;
	uint64_t records;
	uint32_t ns;
	const char *ns_name;
	const void *key;
	size_t key_len;
	const char *what;        /* why, a sentence */
} lk_salvage_step;

typedef void (*lk_salvage_fn)(void *arg, const lk_salvage_step *step);

#define LK_SALVAGE_REPORT_VERSION 1u

typedef struct lk_salvage_report {
	uint32_t version;         /* LK_SALVAGE_REPORT_VERSION (caller's) */
	int needed;               /* strict open refuses the directory */
	int applied;              /* the steps were carried out */
	uint64_t files_rewritten;
	uint64_t files_aside;
	uint64_t records_kept;    /* in rewritten files */
	uint64_t records_lost;    /* known to be lost */
	uint64_t ranges_lost;     /* LOST steps */
	uint64_t unknown_lost;    /* LOST steps whose count is unknown */
	uint64_t keys_fallback;   /* FALLBACK steps with an older value */
	uint64_t keys_gone;       /* FALLBACK steps without one */
	uint64_t keys_unlisted;   /* keys of lost records past the first
				     200, not looked up */
	uint64_t ranges_unlisted; /* lost ranges past the first 4096 */
} lk_salvage_report;

/* Salvage (SPEC §5): what to do with a directory that a strict open
 * refuses.  Plans, and with apply carries out: every damaged segment file
 * is rewritten (a new generation, as compaction writes them) with every
 * record of it that passes its checks and whose group's commit was read;
 * a file that cannot be part of the log (a header that fails, another
 * database's, one whose name and header disagree) is renamed NAME.broken,
 * and so is a compaction's leftover (which open would remove: beside a
 * rewritten file, it could be taken for the live one);
 * the chain is relinked over missing segments; a sealed newest segment
 * (the newest is missing) gets an empty successor; snapshots are removed
 * (a damaged one is kept aside).  Every damaged file is kept as
 * NAME.broken; nothing valid is dropped.  Each step goes to fn (may be
 * NULL), and the sequence ranges lost and the keys whose newest value
 * was lost with them (FALLBACK) are named.  After an applied salvage the
 * directory opens strictly.  A ledger or other chain kept by a layer
 * above is not re-chained: check it (logkeep verify does).
 * Crash safety: each new file is synced before the file it replaces is
 * renamed; a crash mid-way leaves a directory that a strict open accepts
 * or refuses, and salvage run again finishes the job.
 * Without apply nothing is changed and no lock is taken; with it, the
 * directory's lock is held (LK_BUSY if a writer has it).  A directory
 * that opens strictly (a torn tail, a compaction's leftovers, which open
 * itself repairs, included) needs nothing: needed 0, CUT steps only.
 * opts (NULL: the defaults): only io is used.  Returns LK_OK, LK_INVALID,
 * LK_NOT_FOUND, LK_BUSY, LK_IO, LK_NOSPACE, LK_NOMEM, LK_TOO_BIG,
 * LK_VERSION (a segment of a newer format: nothing is done). */
LK_API lk_status lk_salvage(lk_salvage_report *report, const char *path,
			    const lk_options *opts, int apply,
			    lk_salvage_fn fn, void *arg);

/* Re-reads every sealed segment of an open database while it serves
 * reads and writes, and calls fn (may be NULL) for each damaged one with
 * its segment and the offset of the first record that fails.
 *
 * What open checks, and what it leaves to this.  An open without a
 * snapshot reads and checks every record of the log.  An open that loads
 * a snapshot reads only the log after it: each sealed segment before it
 * is checked for its size and the hash of its last 64 bytes (against the
 * snapshot's table), not read.  Each seal (format version 2) carries a
 * hash of every byte of its segment before it, so lk_scrub() checks a
 * segment with one sequential read and no parsing, and parses it record
 * by record only to name the place of a mismatch (a version 1 segment,
 * without that hash, is always read record by record).  Then the newest
 * snapshot file, whose header and two hashes are checked in one read; a
 * damaged snapshot is reported (segment_seq 0, its file name) and counted
 * but latches nothing: the log is intact, and the next open replays it.
 *
 * A writable handle with scrub_rate_bytes > 0 (the default) also runs
 * this in the background, on its own thread, at that rate (see
 * lk_options): it sleeps after each MiB it reads, and lk_close() stops
 * it after the read in progress (64 KiB; up to 1 MiB where it walks the
 * active segment's records), leaving the rest of the pass to the next
 * open.  It passes what it finds to scrub_fn.
 *
 * Damage found latches a writable handle: every later write returns
 * LK_CORRUPT ("the scrub found damage"), so that nothing more is
 * acknowledged on top of a log that a full replay would refuse; reads
 * and lk_sync() of what was acknowledged go on.  lk_stats counts the
 * segments checked, the bytes read and the damage found.
 * Returns LK_OK, LK_INVALID, LK_MISUSE, LK_CORRUPT (detail: how many
 * segments, and the first), LK_IO, LK_NOMEM. */
LK_API lk_status lk_scrub(lk_db *db, lk_problem_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif /* LOGKEEP_H */
