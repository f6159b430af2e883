/* SPDX-License-Identifier: MIT */
/*
 * io_fault.h - the fault-injecting I/O layer: a file system in memory that
 * knows what has reached stable storage and what has not, fails chosen
 * calls, and simulates power cuts.  Linked into tests and fuzzers only
 * (liblogkeep_fault.a); it never ships in the library.
 *
 * The model (after SQLite's test6.c and LevelDB's fault-injection Env):
 *
 *   - Every file has a durable image and a list of pending operations
 *     (writes and truncates) made since its last sync.  Reads see the
 *     durable image with every pending operation applied, as a running
 *     system would.  sync (fdatasync) makes the file's pending operations
 *     durable.
 *   - Every directory has durable entries and a list of pending entry
 *     operations (create, rename, unlink) made since its last dir_sync.
 *     dir_sync makes them durable.  A file's data can be durable while its
 *     name is not: a power cut then loses the whole file.
 *   - A power cut (fault_reboot) decides each pending operation from one
 *     seed.  A pending write is kept, dropped, torn (a prefix of it, in
 *     whole 512-byte sectors of the file), zero-filled or filled with
 *     garbage, each independently, so later writes may survive earlier
 *     ones; a pending truncate is kept or dropped.  Pending directory
 *     operations survive as a prefix, in the order they were made, the
 *     way a journaling file system commits metadata.
 *   - fault_fail() makes the Nth call of a kind fail with LK_IO or
 *     LK_NOSPACE, once or from then on; a failing write first writes a
 *     random prefix of its bytes (a short write).
 *   - fault_set_capacity() makes the file system a device of a given
 *     size: writes past it fail with LK_NOSPACE, as on a full disk.
 *   - fault_cut_at() stops the machine at the Nth call: that call and
 *     every later one fail, until fault_reboot() decides what the disk
 *     kept.
 *
 * Every random choice comes from the seed given to fault_new() or
 * fault_reboot(), so a failure replays exactly from (seed, call number).
 */
#ifndef LK_IO_FAULT_H
#define LK_IO_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

struct fault_fs;

/* Call kinds, for counting and for failing the Nth one. */
enum fault_kind {
	FK_DIR_OPEN,
	FK_DIR_LIST,
	FK_DIR_SYNC,
	FK_RENAME,
	FK_UNLINK,
	FK_LOCK,
	FK_OPEN,
	FK_READ,
	FK_WRITE,
	FK_SYNC,
	FK_TRUNCATE,
	FK_SIZE,
	FK_KINDS,
	FK_ANY = FK_KINDS /* every kind above */
};

/* A new, empty file system.  seed drives short writes and the choices of
 * fault_fail().  Returns LK_OK, LK_NOMEM. */
lk_status fault_new(struct fault_fs **fs, uint64_t seed);

/* Frees the file system.  Handles still open on it are freed too. */
void fault_free(struct fault_fs *fs);

/* The I/O table to put in lk_options.io; valid until fault_free(). */
const lk_io *fault_io(struct fault_fs *fs);

/* Calls of kind k (FK_ANY: of every kind) since fault_new().  close,
 * dir_close, the clocks, threads and sleeps are not counted and never
 * fail. */
uint64_t fault_calls(const struct fault_fs *fs, enum fault_kind k);

/* The nth call of kind k from now (1: the next one) fails with status
 * (LK_IO or LK_NOSPACE), and with sticky every later one of that kind
 * too.  nth 0 disarms kind k.  One rule per kind; FK_ANY sets one rule
 * that counts calls of every kind. */
void fault_fail(struct fault_fs *fs, enum fault_kind k, uint64_t nth,
		lk_status status, int sticky);

/* The machine stops at the nth call of any kind from now (1: the next):
 * that call and every later one fail with LK_IO, as if it had lost power
 * just before it.  nth 0 disarms. */
void fault_cut_at(struct fault_fs *fs, uint64_t nth);

/* 1 once a cut set by fault_cut_at() has happened. */
int fault_is_cut(const struct fault_fs *fs);

/* What a reboot decided. */
struct fault_outcome {
	uint64_t writes_kept, writes_dropped, writes_torn, writes_zeroed,
		writes_garbled;
	uint64_t truncates_kept, truncates_dropped;
	uint64_t dirops_kept, dirops_undone;
};

/* How fault_reboot() decides.  FAULT_RANDOM uses the seed for each
 * choice; the others apply one outcome to every pending operation (and
 * keep or undo every directory operation), for tests that want the
 * extremes. */
enum fault_mode {
	FAULT_RANDOM,
	FAULT_KEEP_ALL,
	FAULT_DROP_ALL,
};

/* Simulates the power loss: decides every pending operation (see above),
 * makes the result durable, and kills every open handle (every call on
 * one but close fails with LK_IO from now on).  Disarms fault_fail() and
 * fault_cut_at().  out may be NULL. */
void fault_reboot(struct fault_fs *fs, enum fault_mode mode, uint64_t seed,
		  struct fault_outcome *out);

/* Pending operations (file and directory) not yet durable. */
size_t fault_pending(const struct fault_fs *fs);

/* A device of `bytes` bytes (0: no limit, the default): a pwrite or a
 * truncate that would take the sum of every file's size (as reads see
 * it; unlinked files still open count) past it fails with LK_NOSPACE
 * and changes nothing, as a full file system does.  Writes within a
 * file's size, and shrinking truncates, always fit.  Directory entries
 * take no space. */
void fault_set_capacity(struct fault_fs *fs, uint64_t bytes);

/* The wall clock seen by the engine (expiry); starts at the real time. */
void fault_set_time_ms(struct fault_fs *fs, uint64_t now_ms);

/* The monotonic clock, the threads and the sleeps are simulated
 * (simclock.h): time moves only by fault_advance_us(), which returns when
 * the background threads of a handle on fs (the interval syncer,
 * compaction) have done what fell due by then.  Their I/O calls then
 * happen in the same order in every run, so a cut at call N replays.
 * The caller holds no lock of a handle on fs. */
void fault_advance_us(struct fault_fs *fs, uint64_t us);

/* The simulated time (mono_us) of the first call since fault_new() that
 * a cut or a rule of fault_fail() failed; 0 if none has. */
uint64_t fault_failed_at_us(const struct fault_fs *fs);

#endif /* LK_IO_FAULT_H */
