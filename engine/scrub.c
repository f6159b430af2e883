/* SPDX-License-Identifier: MIT */
/*
 * scrub.c - re-verifying the sealed part of the log while the database is
 * in use (SPEC §5, §6).
 *
 * Why.  Open reads only what it replays.  With a snapshot, that is the log
 * after the snapshot's position; the sealed segments before it are taken
 * on the snapshot's word (their size and the hash of their last 64 bytes
 * match) and are not read.  A bit that flips in the middle of one of them
 * would otherwise surface only when a read or a compaction trips over it,
 * and a later open without the snapshot would then refuse the directory.
 * The scrub reads them on purpose, early, and says where the damage is.
 *
 * Method, per segment (pinned, so a compaction that removes it
 * meanwhile does not pull the file away; no lock is held while reading):
 *
 *   0. the active segment, up to its data end: record by record;
 *   1. find the seal at the segment's data end (seg_find_seal);
 *   2. format 2: hash every byte before the seal (one streaming read, no
 *      parsing) and compare with the seal's segment_hash;
 *   3. on a mismatch, a missing seal, or a version 1 seal (which has no
 *      hash), read the segment record by record to name the first record
 *      that fails, by offset; if every record passes, the mismatch is
 *      named at the seal.
 *
 * Then the newest snapshot file: its header and both hashes.  Damage
 * there is reported and counted but latches nothing: it costs the next
 * open a full replay, not data.
 *
 * The background scrub (a writable handle with scrub_rate_bytes > 0) runs
 * the same pass on its own thread: the first a second after open, so that
 * what an open from a snapshot did not read is checked soon, then one
 * every SCRUB_PERIOD_S.  It reads in 64 KiB steps, and after each
 * SCRUB_SLICE_BYTES (and at the end of each segment) it sleeps as long as
 * reading them should have taken at scrub_rate_bytes, on the I/O layer's
 * monotonic clock, so it never takes more than that share of a slow
 * flash device.  A closing handle stops it after the read in progress
 * (a 64 KiB step; a reader window of up to 1 MiB, or one large record,
 * where it walks records): the segment it was in, those after it and the
 * snapshot wait for the next pass, so lk_close() no longer waits for a
 * segment or the snapshot to be read whole.  Damage found before the stop
 * is reported all the same: a hash mismatch whose walk to the bad record
 * is cut short is named at the seal, as when the walk finds none.
 *
 * What it does with damage: reports each damaged segment through the
 * caller's lk_problem_fn, counts it in the handle's stats, and latches a
 * writable handle (LK_CORRUPT for every later write, as a failed sync
 * latches LK_HALTED), so that no write is acknowledged on top of a log
 * that a full replay would refuse.  Reads go on.
 */
#include <inttypes.h>
#include <stdio.h>

#include "alloc.h"
#include "commit.h"
#include "error.h"
#include "scrub.h"
#include "snapshot.h"

/* The first pass waits this long after open, so that a daemon's start
 * (its first reads and writes) does not compete with it. */
#define SCRUB_START_DELAY_US (1000u * 1000u)
/* Then a pass every six hours: bit rot is slow, and reads of a router's
 * flash cost power, not wear. */
#define SCRUB_PERIOD_S (6u * 3600u)
/* The background pass sleeps after each slice of this many bytes: at the
 * default 4 MiB/s, a quarter of a second after a read of 1 MiB, so that
 * a slow device is never held by more than that, and the thread wakes
 * four times a second while it reads (after a whole 16 MiB segment, the
 * device was held for the segment's read, then left alone for 4 s). */
#define SCRUB_SLICE_BYTES (1024u * 1024u)
/* walk_records reports its progress to the pace at least this often, as
 * the 64 KiB steps of seg_hash_read and snapshot_scrub do. */
#define SCRUB_STEP_BYTES (64u * 1024u)

/* The scrub's state (db->scrub): its thread, the sleep that stopping it
 * ends, and its counts for lk_stats_get(). */
struct scrubber {
	lk_io_thread *thread; /* or NULL */
	lk_io_wait *wait;
	_Atomic int stopping; /* set by scrub_stop(): the pass ends */
	_Atomic uint64_t segments, bytes, damage, passes;
};

/* A pass's pacing, the arg of its struct seg_pace: the background pass
 * sleeps after each slice and ends after the step in progress once the
 * handle is closing; lk_scrub() reads on at full speed. */
struct pacer {
	struct lk_db *db;
	int background;
	uint64_t unpaid;  /* read since the last sleep */
	uint64_t read;    /* read in all (the stats' scrub_bytes) */
	int stopped;      /* closing: the pass ends, whatever a read said */
};

struct scrub_item {
	struct segment *seg;
	uint64_t data_end;
	int sealed;
};

/* Reads s record by record up to data_end; on the first failure sets
 * *offset and *why and returns LK_CORRUPT.  LK_OK if every record passes. */
static lk_status walk_records(const lk_io *io, struct segment *s,
			      uint64_t data_end, uint64_t *offset,
			      const char **why, const struct seg_pace *pace)
{
	struct seg_reader r;
	uint64_t pos = SEG_HEADER_BYTES, paced = 0;
	lk_status st;

	st = seg_reader_init(&r, io, s, data_end);
	while (st == LK_OK && pos < data_end) {
		struct record rec;

		st = seg_reader_record(&r, pos, &rec, why);
		if (st == LK_OK)
			pos += rec.size;
		if (st == LK_OK &&
		    (pos - paced >= SCRUB_STEP_BYTES || pos >= data_end)) {
			st = pace->fn(pace->arg, pos - paced);
			paced = pos;
		}
	}
	seg_reader_free(&r);
	if (st != LK_OK)
		*offset = pos;
	return st;
}

/* Checks one segment (the active one record by record up to its data
 * end).  Returns LK_OK, LK_CORRUPT with *offset and *why set, an I/O or
 * memory status, or pace's status when it stopped the reads. */
static lk_status scrub_one(const lk_io *io, const struct scrub_item *it,
			   uint64_t *offset, const char **why,
			   const struct seg_pace *pace)
{
	static const char mismatch[] = "segment hash mismatch: the bytes "
				       "before the seal are not the ones it "
				       "was written over";
	struct segment *s = it->seg;
	struct record seal;
	uint64_t seal_at = 0, hash;
	int found, differs = 0;
	lk_status st;

	if (!it->sealed)
		return walk_records(io, s, it->data_end, offset, why, pace);
	st = seg_find_seal(s, io, it->data_end, &seal, &seal_at, &found);
	if (st != LK_OK)
		return st;
	if (found && (seal.flags & REC_F_SEG_HASH)) {
		st = seg_hash_read(s, io, seal_at, &hash, pace);
		if (st != LK_OK && st != LK_CORRUPT)
			return st;
		if (st == LK_OK && hash == seal.seg_hash)
			return LK_OK;
		differs = st == LK_OK;
	} else if (!found) {
		seal_at = it->data_end;
	}
	/* No hash to go by, or it disagrees: find the place. */
	st = walk_records(io, s, it->data_end, offset, why, pace);
	if (st != LK_OK && !(differs && st != LK_CORRUPT))
		return st;
	/* Every record passed, or a mismatch whose walk a failed read or
	 * a closing handle cut short: damage all the same, at the seal. */
	*offset = seal_at;
	if (differs) {
		*why = mismatch;
		return LK_CORRUPT;
	}
	if (seal_at == it->data_end) {
		*why = "the segment does not end with its seal";
		return LK_CORRUPT;
	}
	if (seal.flags & REC_F_SEG_HASH) {
		*why = mismatch;
		return LK_CORRUPT;
	}
	return LK_OK; /* version 1, every record passes */
}

/* Pins every segment of the table, in no particular order, with its data
 * end.  The active segment is included: below its data end nothing
 * changes any more, and a snapshot's position is often inside it, so open
 * did not read that part either.  Caller holds nothing; this takes
 * log_mu (the active segment's data_end) and ix_lock, in that order. */
static lk_status collect(struct lk_db *db, struct scrub_item **out,
			 size_t *n)
{
	struct scrub_item *v;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	v = mem_calloc(IX_SEG_SLOTS, sizeof *v);
	if (!v)
		return err_set(LK_NOMEM, "lk_scrub: %u segments",
			       (unsigned)IX_SEG_SLOTS);
	commit_log_lock(db);
	segtable_rdlock(db);
	for (uint32_t i = 1; i < IX_SEG_SLOTS; i++) {
		struct segment *s = segtable_at(db, i);

		if (!s || s->installing)
			continue;
		segtable_pin(s);
		v[k].seg = s;
		v[k].data_end = s->data_end;
		v[k].sealed = s->sealed;
		k++;
	}
	segtable_unlock(db);
	commit_log_unlock(db);
	*out = v;
	*n = k;
	return LK_OK;
}

/* The background pass: sleeps what reading the bytes read since the last
 * sleep takes at the rate (a sleep may end early: logkeep_io.h).  Returns
 * 1 (and marks the pass stopped) if the handle is closing. */
static int settle(struct pacer *p)
{
	struct lk_db *db = p->db;
	const lk_io *io = db->io;
	uint64_t rate = db->opts.scrub_rate_bytes, bytes = p->unpaid;
	uint64_t us = bytes / rate * 1000000u + bytes % rate * 1000000u / rate;
	uint64_t due = io->mono_us(io->ctx) + us;

	p->unpaid = 0;
	while (!p->stopped) {
		if (atomic_load(&db->scrub->stopping) ||
		    io->wait_until(io->ctx, db->scrub->wait, due))
			p->stopped = 1;
		else if (io->mono_us(io->ctx) >= due)
			break;
	}
	return p->stopped;
}

/* struct seg_pace's fn: counts the step and, in the background, sleeps
 * after a slice; ends the read (LK_BUSY, which the pass does not report:
 * it looks at p->stopped) once the handle is closing. */
static lk_status pace(void *arg, uint64_t bytes)
{
	struct pacer *p = arg;

	p->read += bytes;
	if (!p->background)
		return LK_OK;
	p->unpaid += bytes;
	if (atomic_load(&p->db->scrub->stopping))
		p->stopped = 1;
	else if (p->unpaid >= SCRUB_SLICE_BYTES)
		(void)settle(p);
	return p->stopped ? LK_BUSY : LK_OK;
}

/* Counts one damaged segment, keeps the first for the message and tells
 * the caller's fn. */
static void report(struct lk_db *db, const struct segment *s,
		   uint64_t offset, const char *why, lk_problem_fn fn,
		   void *arg, char *first, size_t cap, size_t *damaged)
{
	(*damaged)++;
	atomic_fetch_add(&db->scrub->damage, 1);
	if (!db->readonly) {
		/* Nothing more is acknowledged on top of it (see above). */
		commit_latch_damage(db);
	}
	if (!first[0])
		snprintf(first, cap, "segment %" PRIu64 " (%s) offset %" PRIu64
				     ": %s",
			 s->hdr.seq, s->name, offset, why);
	if (fn) {
		lk_problem p = { LK_PROBLEM_CORRUPT, s->hdr.seq, offset,
				 s->name, why, 0, 0 };

		fn(arg, &p);
	}
}

/* The newest snapshot: its hashes, read whole.  Damage is reported and
 * counted, not latched: the log is intact, and the next open replays it
 * instead of loading the snapshot; the next snapshot replaces it. */
static lk_status scrub_snapshot(struct lk_db *db, lk_problem_fn fn, void *arg,
				char *first, size_t cap, size_t *damaged,
				const struct seg_pace *pace)
{
	const struct pacer *pacer = pace->arg;
	char name[SNAP_NAME_BYTES];
	uint64_t offset = 0, bytes = 0;
	const char *why = NULL;
	lk_status st = snapshot_scrub(db, name, &offset, &why, &bytes, pace);

	atomic_fetch_add(&db->scrub->bytes, bytes);
	if (pacer->stopped)
		return LK_OK; /* closing: the next pass */
	if (st != LK_CORRUPT) {
		if (st != LK_OK)
			err_prefix("lk_scrub: reading snapshot %s", name);
		return st;
	}
	(*damaged)++;
	atomic_fetch_add(&db->scrub->damage, 1);
	if (!first[0])
		snprintf(first, cap, "snapshot %s offset %" PRIu64 ": %s", name,
			 offset, why);
	if (fn) {
		lk_problem p = { LK_PROBLEM_CORRUPT, 0, offset, name, why,
				 0, 0 };

		fn(arg, &p);
	}
	return LK_OK;
}

static lk_status scrub_pass(struct lk_db *db, lk_problem_fn fn, void *arg,
			    int background)
{
	const lk_io *io = db->io;
	struct pacer p = { db, background, 0, 0, 0 };
	const struct seg_pace sp = { pace, &p };
	struct scrub_item *v;
	lk_status st, worst = LK_OK;
	char first[LK_ERRMSG_BYTES] = "";
	size_t n, damaged = 0;

	st = collect(db, &v, &n);
	if (st != LK_OK)
		return st;
	for (size_t i = 0; i < n; i++) {
		struct segment *s = v[i].seg;
		uint64_t offset = 0, read = p.read;
		const char *why = NULL;

		st = scrub_one(io, &v[i], &offset, &why, &sp);
		atomic_fetch_add(&db->scrub->bytes, p.read - read);
		if (st == LK_CORRUPT) {
			report(db, s, offset, why, fn, arg, first, sizeof first,
			       &damaged);
		} else if (p.stopped) {
			/* closing: this segment and the rest wait for the
			 * next open */
			break;
		} else if (st != LK_OK) {
			err_prefix("lk_scrub: reading segment %s", s->name);
			if (worst == LK_OK)
				worst = st;
		}
		atomic_fetch_add(&db->scrub->segments, 1);
		if (p.stopped || (background && settle(&p)))
			break;
	}
	for (size_t i = 0; i < n; i++)
		segtable_unpin(db, v[i].seg);
	mem_free(v);
	if (!p.stopped) {
		st = scrub_snapshot(db, fn, arg, first, sizeof first, &damaged,
				    &sp);
		if (st != LK_OK && worst == LK_OK)
			worst = st;
	}
	if (damaged)
		return err_set(LK_CORRUPT, "lk_scrub: %zu damaged segment%s; "
					   "the first: %s",
			       damaged, damaged == 1 ? "" : "s", first);
	return worst;
}

lk_status scrub_run(struct lk_db *db, lk_problem_fn fn, void *arg)
{
	return scrub_pass(db, fn, arg, 0);
}

static void scrubber_main(void *arg)
{
	struct lk_db *db = arg;
	const lk_io *io = db->io;
	uint64_t due_us = io->mono_us(io->ctx) + SCRUB_START_DELAY_US;

	for (;;) {
		if (io->wait_until(io->ctx, db->scrub->wait, due_us))
			return; /* closing */
		if (io->mono_us(io->ctx) < due_us)
			continue; /* woke early */
		(void)scrub_pass(db, db->opts.scrub_fn, db->opts.scrub_arg, 1);
		atomic_fetch_add(&db->scrub->passes, 1);
		due_us = io->mono_us(io->ctx) + SCRUB_PERIOD_S * UINT64_C(1000000);
	}
}

lk_status scrub_init(struct lk_db *db)
{
	const lk_io *io = db->io;
	struct scrubber *sc;
	lk_status st;

	LK_ASSERT(db->scrub == NULL);
	sc = mem_calloc(1, sizeof *sc);
	if (!sc)
		return err_set(LK_NOMEM, "allocating the scrub's state");
	db->scrub = sc;
	if (db->readonly || db->opts.scrub_rate_bytes == 0)
		return LK_OK;
	st = io->wait_new(io->ctx, &sc->wait);
	if (st != LK_OK)
		return err_set(st, "starting the scrub");
	st = io->thread_start(io->ctx, &sc->thread, scrubber_main, db);
	if (st != LK_OK) {
		io->wait_free(io->ctx, sc->wait);
		sc->wait = NULL;
		err_prefix("starting the scrub thread");
	}
	return st;
}

void scrub_stop(struct lk_db *db)
{
	const lk_io *io = db->io;
	struct scrubber *sc = db->scrub;

	if (!sc || !sc->wait)
		return;
	atomic_store(&sc->stopping, 1);
	io->wait_stop(io->ctx, sc->wait);
	if (sc->thread)
		io->thread_join(io->ctx, sc->thread);
	sc->thread = NULL;
	io->wait_free(io->ctx, sc->wait);
	sc->wait = NULL;
}

void scrub_free(struct lk_db *db)
{
	scrub_stop(db);
	mem_free(db->scrub);
	db->scrub = NULL;
}

void scrub_stats(const struct lk_db *db, lk_stats *stats)
{
	const struct scrubber *sc = db->scrub;

	stats->scrub_segments = atomic_load(&sc->segments);
	stats->scrub_bytes = atomic_load(&sc->bytes);
	stats->scrub_damage = atomic_load(&sc->damage);
	stats->scrub_passes = atomic_load(&sc->passes);
}
