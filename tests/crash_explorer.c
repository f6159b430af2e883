/* SPDX-License-Identifier: MIT */
/*
 * crash_explorer.c - power cuts at every I/O call, and faults at every
 * call and every allocation, checked against a model (SPEC §9).
 *
 * Method.  A workload is a script of operations on the public API (puts,
 * deletes, batches, expiring records, large values, syncs, reopens,
 * namespaces) with its options (sync policy, segment size).  The script
 * runs once on the fault-injecting layer (engine/io_fault.h) to count its
 * I/O calls.  Then, for every call number c and several seeds:
 *
 *   run the script with the machine stopping at call c; close the dead
 *   handle; reboot (each unsynced write kept, dropped, torn, zeroed or
 *   garbled; each unsynced directory operation kept or undone);
 *   reopen strictly and read every key back;
 *
 * and the state read back must equal the model's state after some prefix
 * of the script's commits, no shorter than the last commit the API
 * acknowledged as durable, and no longer than the commits attempted.  That
 * one check covers "no acknowledged write lost", "nothing that was never
 * written", "no deleted key back", "batches all or nothing" and "no
 * expired record returned" (the model drops expired records).  A second
 * open must find the same state and nothing left to cut.
 *
 * The fault loops run each script with the Nth allocation failing (once,
 * and from then on), and with the Nth I/O call failing with EIO and with
 * ENOSPC (once, and from then on): every call must return a status
 * (never crash; LeakSanitizer checks for leaks in the sanitizer build),
 * the script stops at the first failure, and a reopen on a healthy layer
 * must again find a prefix no shorter than what was acknowledged.
 *
 * Usage: crash_explorer [--scale N] [--workload NAME]
 *                       [--replay WORKLOAD:CUT:CHOICE]
 * (--scale N: 2 + 4N reboot choices at every cut point; without --scale,
 * the environment variable LK_CRASH_SCALE, else 1.  `meson test` runs
 * scale 1; CI runs LK_CRASH_SCALE=6, the same code with more reboots.
 * --workload NAME: only that workload; the counts are its own.
 * LK_CRASH_STEP=N in the environment cuts the power at every Nth I/O call
 * only (1, 1 + N, ...), with every reboot choice and the recovery
 * trouble there; the fault loops still fail every allocation and I/O
 * call.  For builds run under emulation: .ci/cross.sh runs the armhf and
 * s390x builds under qemu-user, where scale 1 takes ten times as long.)
 * Every failure prints the line that replays it.  The run ends with
 *   crash states: N, workloads: W, acknowledged lost: 0, phantom: 0,
 *   resurrected: 0, violations: 0
 * and exits non-zero if any count but the first two is not 0.
 *
 * Time.  The fault layer's monotonic clock is simulated: the "interval"
 * workloads (LK_SYNC_INTERVAL) move it between writes (OP_ADVANCE), which
 * runs the syncer thread at exactly its deadlines and waits for it, so
 * its syncs are calls like any other, in the same order in every run, and
 * cuts fall in them too.  Their check adds the interval's promise: every
 * commit acknowledged more than the interval (plus one sync, which takes
 * no simulated time) before the cut survives (crash_model.h).
 *
 * New workloads: add a script builder to the `workloads` table.  The
 * "compaction" workload runs lk_compact() between writes (OP_COMPACT), so
 * cuts fall between every pair of its I/O calls; the "snapshots"
 * workloads do the same for lk_snapshot() (OP_SNAPSHOT) and for the
 * opens that load one.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "io_fault.h"
#include "segment.h"
#include "snapshot.h"
#include "crash_model.h"
#include "logkeep.h"

/* ---------------------------------------------------------------------- */
/* Scripts                                                                */
/* ---------------------------------------------------------------------- */

struct workload {
	const char *name;
	struct cm_config cfg;
	void (*build)(struct script *s, uint64_t seed);
};

#define mix cm_mix

static void add(struct script *s, struct op o)
{
	if (s->n < OPS_MAX)
		s->ops[s->n++] = o;
}

static struct op put(uint8_t ns, uint8_t key, uint16_t len, uint32_t vs)
{
	struct op o = { OP_PUT, ns, key, len, vs, 0 };
	return o;
}

static struct op del(uint8_t ns, uint8_t key)
{
	struct op o = { OP_DEL, ns, key, 0, 0, 0 };
	return o;
}

static struct op simple(enum op_kind k)
{
	struct op o = { k, 0, 0, 0, 0, 0 };
	return o;
}

static void build_single_puts(struct script *s, uint64_t seed)
{
	for (uint32_t i = 0; i < 40; i++)
		add(s, put(0, (uint8_t)(mix(seed + i) % KEYS), 24,
			   (uint32_t)i * 2));
}

static void build_batches(struct script *s, uint64_t seed)
{
	uint32_t v = 0;

	for (int b = 0; b < 10; b++) {
		uint16_t n = (uint16_t)(1 + mix(seed + (uint64_t)b) % 12);
		struct op o = simple(OP_BATCH);

		o.len = n;
		add(s, o);
		for (uint16_t i = 0; i < n; i++) {
			uint64_t r = mix(seed * 31 + (uint64_t)b * 97 + i);
			uint8_t key = (uint8_t)(r % KEYS);

			if (r % 5 == 0)
				add(s, del(0, key));
			else
				add(s, put(0, key, 40, v += 2));
		}
	}
}

static void build_deletes(struct script *s, uint64_t seed)
{
	uint32_t v = 0;

	for (uint8_t k = 0; k < 16; k++)
		add(s, put(0, k, 30, v += 2));
	for (int i = 0; i < 30; i++) {
		uint64_t r = mix(seed + (uint64_t)i);

		if (r % 3)
			add(s, del(0, (uint8_t)(r % 16)));
		else
			add(s, put(0, (uint8_t)(r % 16), 30, v += 2));
	}
}

/* Puts that create a key only if it is absent or replace it only if it
 * is there, among deletes and plain puts of 8 keys, so that conditions
 * hold and fail in turn; a reopen in the middle, so that some are
 * checked against the index recovery rebuilt. */
static void build_conditional(struct script *s, uint64_t seed)
{
	uint32_t v = 0;

	for (int i = 0; i < 48; i++) {
		uint64_t r = mix(seed * 7 + (uint64_t)i);
		uint8_t key = (uint8_t)(r % 8);
		struct op o = put(0, key, 32, v += 2);

		switch (r / 8 % 5) {
		case 0:
			add(s, del(0, key));
			continue;
		case 1:
			break;
		case 2:
		case 3:
			o.kind = OP_PUT_IF_ABSENT;
			break;
		default:
			o.kind = OP_PUT_IF_PRESENT;
			break;
		}
		add(s, o);
		if (i == 24)
			add(s, simple(OP_REOPEN));
	}
}

static void build_ttl(struct script *s, uint64_t seed)
{
	for (uint32_t i = 0; i < 30; i++) {
		struct op o = put(0, (uint8_t)(mix(seed + i) % 24), 20, i * 2);

		/* a third already expired, a third far in the future */
		if (i % 3 == 1)
			o.expire_at_ms = CLOCK_START_MS - 1000;
		else if (i % 3 == 2)
			o.expire_at_ms = CLOCK_START_MS + 3600 * 1000;
		add(s, o);
	}
}

static void build_large_values(struct script *s, uint64_t seed)
{
	for (uint32_t i = 0; i < 16; i++) {
		/* even seeds compress (over 256 bytes), odd ones do not */
		uint16_t len = (uint16_t)(300 + mix(seed + i) % 3000);

		add(s, put(0, (uint8_t)(i % 10), len, i));
	}
}

static void build_rotation(struct script *s, uint64_t seed)
{
	for (uint32_t i = 0; i < 60; i++)
		add(s, put(0, (uint8_t)(mix(seed + i) % KEYS), 120, i * 2));
}

static void build_sync_none(struct script *s, uint64_t seed)
{
	for (uint32_t i = 0; i < 40; i++) {
		add(s, put(0, (uint8_t)(mix(seed + i) % KEYS), 50, i * 2));
		if (i % 10 == 9)
			add(s, simple(OP_SYNC));
	}
}

static void build_reopen_and_namespaces(struct script *s, uint64_t seed)
{
	add(s, simple(OP_NS));
	for (uint32_t i = 0; i < 30; i++) {
		uint64_t r = mix(seed + i);

		add(s, put((uint8_t)(r & 1), (uint8_t)(r % 20), 30, i * 2));
		if (i == 12)
			add(s, simple(OP_REOPEN));
		if (i % 7 == 6)
			add(s, del((uint8_t)((r >> 8) & 1), (uint8_t)(r % 20)));
	}
}

/* Overwrites, deletes and expiring records over small segments, with
 * compactions between them (and a reopen), so that cuts land in every
 * step of a compaction and in the cleanup at open. */
static void build_compaction(struct script *s, uint64_t seed)
{
	struct op o;

	for (uint32_t i = 0; i < 72; i++) {
		uint64_t r = mix(seed + i);
		uint8_t key = (uint8_t)(r % 12);

		if (i % 9 == 4) {
			add(s, del(0, key));
		} else {
			o = put(0, key, 150, i * 2);
			if (i % 11 == 3) /* expired at the clock's start */
				o.expire_at_ms = CLOCK_START_MS - 1;
			add(s, o);
		}
		if (i % 24 == 23)
			add(s, simple(OP_COMPACT));
		if (i == 40)
			add(s, simple(OP_REOPEN));
	}
}

/* Sealed segments full of overwritten values, then a few newer puts in
 * the active segment (too few dead bytes there for lk_compact to seal
 * it), then a compaction: under sync "none" those newer puts are not yet
 * durable when compaction judges the older values dead. */
static void build_compaction_unsynced(struct script *s, uint64_t seed)
{
	for (uint32_t round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < 36; i++)
			add(s, put(0, (uint8_t)(i % 12), 300,
				   (uint32_t)(round * 100 + i) * 2));
		for (uint32_t i = 0; i < 2; i++)
			add(s, put(0, (uint8_t)((mix(seed + round) + i) % 12),
				   40, (uint32_t)(round * 100 + 50 + i) * 2));
		add(s, simple(OP_COMPACT));
	}
}

/* Snapshots between overwrites, deletes, a namespace and a compaction,
 * and reopens that load them: cuts land in every step of writing one
 * (temporary file, sync, rename, directory sync, removing the old one),
 * in a load, and in the replay after it. */
static void build_snapshots(struct script *s, uint64_t seed)
{
	add(s, simple(OP_NS));
	for (uint32_t i = 0; i < 60; i++) {
		uint64_t r = mix(seed + i);
		uint8_t key = (uint8_t)(r % 14);

		if (i % 8 == 5)
			add(s, del((uint8_t)(r >> 9 & 1), key));
		else
			add(s, put((uint8_t)(r >> 9 & 1), key, 120, i * 2));
		if (i % 15 == 14)
			add(s, simple(OP_SNAPSHOT));
		if (i == 30)
			add(s, simple(OP_COMPACT)); /* the snapshot is stale */
		if (i == 35 || i == 50)
			add(s, simple(OP_REOPEN));
	}
}

/* Under sync "none" a snapshot makes the log durable up to its position
 * before it names that position. */
static void build_snapshots_unsynced(struct script *s, uint64_t seed)
{
	for (uint32_t i = 0; i < 40; i++) {
		add(s, put(0, (uint8_t)(mix(seed + i) % 10), 200, i * 2));
		if (i % 13 == 12)
			add(s, simple(OP_SNAPSHOT));
		if (i == 27)
			add(s, simple(OP_REOPEN));
	}
}

/* LK_SYNC_INTERVAL: the clock moves between writes by steps from a tenth
 * of the interval to two and a half intervals (OP_ADVANCE), so that
 * cuts land before, in and after each sync of the syncer, with writes of
 * every age behind them. */
#define INTERVAL_MS CM_SYNC_INTERVAL_MS

static struct op advance_us(uint64_t us)
{
	struct op o = simple(OP_ADVANCE);

	o.value_seed = (uint32_t)us;
	return o;
}

static void build_interval(struct script *s, uint64_t seed)
{
	static const uint32_t tenths[] = { 1, 0, 3, 7, 0, 12, 2, 25, 5, 10 };

	for (uint32_t i = 0; i < 40; i++) {
		add(s, put(0, (uint8_t)(mix(seed + i) % KEYS), 40, i * 2));
		add(s, advance_us(tenths[mix(seed * 7 + i) % 10] *
				  INTERVAL_MS * 100u));
	}
}

/* The same over small segments, with batches, deletes and a reopen:
 * rotations seal (and sync) a segment between the syncer's syncs. */
static void build_interval_rotation(struct script *s, uint64_t seed)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < 30; i++) {
		uint64_t r = mix(seed + i);

		if (i % 5 == 4) {
			struct op b = simple(OP_BATCH);

			b.len = 3;
			add(s, b);
			add(s, put(0, (uint8_t)(r % 16), 300, v += 2));
			add(s, del(0, (uint8_t)((r >> 8) % 16)));
			add(s, put(0, (uint8_t)((r >> 16) % 16), 300, v += 2));
		} else if (i % 7 == 3) {
			add(s, del(0, (uint8_t)(r % 16)));
		} else {
			add(s, put(0, (uint8_t)(r % 16), 300, v += 2));
		}
		add(s, advance_us((r >> 24) % 16 * INTERVAL_MS * 200u));
		if (i == 17)
			add(s, simple(OP_REOPEN));
	}
}

/* Reads of the running handle through mappings: small segments, so that
 * most records lie in sealed (mapped) ones; overwrites that confirm keys
 * there; reads after a compaction removed mapped files and mapped its
 * output, and after reopens whose recovery cut a torn tail. */
static void build_mapped_reads(struct script *s, uint64_t seed)
{
	for (uint32_t i = 0; i < 40; i++) {
		uint64_t r = mix(seed + i);
		uint8_t key = (uint8_t)(r % 16);

		if (i % 10 == 7)
			add(s, del(0, key));
		else
			add(s, put(0, key, (uint16_t)(300 + r % 700),
				   i * 2 + 1)); /* incompressible */
		if (i % 8 == 7)
			add(s, simple(OP_READ));
		if (i == 20) {
			add(s, simple(OP_COMPACT));
			add(s, simple(OP_READ));
		}
		if (i == 14 || i == 30) {
			add(s, simple(OP_REOPEN));
			add(s, simple(OP_READ));
		}
	}
}

/* The snapshots workload with every load in two parts, the second on a
 * thread of its own: small tables take that path only by the hook. */
static void build_snapshots_two_threads(struct script *s, uint64_t seed)
{
	snapshot_split_keys_min(1);
	build_snapshots(s, seed);
}

/* The mapped-reads script on 1 MiB segments, with the readers' window at
 * its least (4 KiB): a recovery's replay then checks most overwrites
 * against the record they replace in the segment it replays through a
 * mapping of that segment (recovery.c, replay_key_eq), not in its
 * window. */
static void build_replay_mapped(struct script *s, uint64_t seed)
{
	(void)seg_reader_window_max(1);
	build_mapped_reads(s, seed);
}

static const struct workload workloads[] = {
	{ "single-puts", { LK_SYNC_ALWAYS, 1u << 20 }, build_single_puts },
	{ "batches", { LK_SYNC_ALWAYS, 1u << 20 }, build_batches },
	{ "deletes", { LK_SYNC_ALWAYS, 1u << 20 }, build_deletes },
	{ "ttl", { LK_SYNC_ALWAYS, 1u << 20 }, build_ttl },
	{ "conditional", { LK_SYNC_ALWAYS, 1u << 20 }, build_conditional },
	{ "large-values", { LK_SYNC_ALWAYS, 1u << 20 }, build_large_values },
	{ "rotation", { LK_SYNC_ALWAYS, 4096 }, build_rotation },
	{ "small-segments-none", { LK_SYNC_NONE, 4096 }, build_sync_none },
	{ "reopen-namespaces", { LK_SYNC_ALWAYS, 4096 },
	  build_reopen_and_namespaces },
	{ "compaction", { LK_SYNC_ALWAYS, 4096 }, build_compaction },
	{ "mapped-reads", { LK_SYNC_ALWAYS, 4096 }, build_mapped_reads },
	/* the index runs ahead of the disk: what compaction drops as dead
	 * must have been made dead by durable records */
	{ "compaction-sync-none", { LK_SYNC_NONE, 4096 },
	  build_compaction_unsynced },
	{ "snapshots", { LK_SYNC_ALWAYS, 4096 }, build_snapshots },
	{ "snapshots-sync-none", { LK_SYNC_NONE, 4096 },
	  build_snapshots_unsynced },
	/* every write older than the interval plus one sync survives */
	{ "interval", { LK_SYNC_INTERVAL, 1u << 20 },
	  build_interval },
	{ "interval-rotation", { LK_SYNC_INTERVAL, 4096 },
	  build_interval_rotation },
	/* the snapshots workload's shape (its own seed: the seed is the
	 * place in this table, so new workloads go last), each snapshot
	 * loaded by two threads (snapshot.h) */
	{ "snapshots-two-threads", { LK_SYNC_ALWAYS, 4096 },
	  build_snapshots_two_threads },
	{ "replay-mapped", { LK_SYNC_ALWAYS, 1u << 20 }, build_replay_mapped },
};
#define WORKLOADS (sizeof workloads / sizeof workloads[0])

/* Builds workload wl's script; a builder may change the snapshot loads'
 * threshold or the readers' window for its run, which starts from the
 * defaults. */
static void build_workload(size_t wl, struct script *s)
{
	snapshot_split_keys_min(0);
	(void)seg_reader_window_max(0);
	workloads[wl].build(s, wl + 1);
}

struct tally {
	uint64_t cuts; /* states reached by a power cut alone */
	uint64_t recovery_cuts; /* ... and a second one during recovery */
	uint64_t recovery_faults; /* ... and a failed call during recovery */
	uint64_t states, lost, phantom, resurrected, violations, refused;
	uint64_t alloc_sites, io_sites;
	uint64_t newest_removed; /* states whose newest segment was removed */
	uint64_t all_removed;    /* ... and then every segment */
};

static struct tally tally;

/* Checks one state through the model and tallies the verdict; a failure
 * prints the line that replays it. */
static int check(const struct script *s, const struct plan *p,
		 const struct workload *w, const lk_io *io,
		 const struct outcome *oc, size_t wl, uint64_t cut, int choice)
{
	char detail[320];
	enum cm_verdict v = cm_check(s, p, &w->cfg, io, oc, detail,
				     sizeof detail);

	tally.states++;
	if (v == CM_OK)
		return 1;
	tally.violations++;
	tally.refused += v == CM_REFUSED;
	tally.phantom += v == CM_PHANTOM;
	tally.lost += v == CM_LOST;
	tally.resurrected += v == CM_NOT_PREFIX;
	fprintf(stderr,
		"FAIL %s: workload %s, at call %" PRIu64 ", choice %d: %s\n"
		"  replay: crash_explorer --replay %zu:%" PRIu64 ":%d\n",
		cm_verdict_name(v), w->name, cut, choice, detail, wl, cut,
		choice);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The loops                                                              */
/* ---------------------------------------------------------------------- */

/* A failure is named by (workload, call or allocation number, choice):
 * choices below ALLOC_CHOICE are power cuts (0: drop all pending, 1: keep
 * all, then random reboots); ALLOC_CHOICE + 0/1: that allocation fails
 * once/from then on; IO_CHOICE + 0..3: that I/O call fails with EIO,
 * ENOSPC, then the same from then on; RECOVERY_CHOICE + c: after the
 * cut and reboot 2, the reopen is cut at its call c and rebooted again;
 * RECOVERY_FAULT_CHOICE + c: after reboot 3, the reopen's call c fails. */
#define ALLOC_CHOICE 1000
#define IO_CHOICE 2000
#define RECOVERY_CHOICE 3000 /* + the reopen's call cut: see below */
#define RECOVERY_FAULT_CHOICE 4000 /* + the reopen's call that fails */

/* Random reboots per cut point, besides "keep all" and "drop all";
 * --scale multiplies it. */
static int choices_random = 4;

static uint64_t seed_of(size_t wl, uint64_t cut, int choice)
{
	return mix(mix(wl + 1) ^ (cut * 1000003u) ^ (uint64_t)choice);
}

static struct fault_fs *new_fs(uint64_t seed)
{
	struct fault_fs *fs;

	if (fault_new(&fs, seed) != LK_OK) {
		fprintf(stderr, "fault_new failed\n");
		exit(2);
	}
	fault_set_time_ms(fs, CLOCK_START_MS);
	return fs;
}

struct newest {
	uint64_t seq;
	char name[SEG_NAME_BYTES];
	int count;
	char all[LK_SEGMENT_COUNT_MAX][SEG_NAME_BYTES]; /* the first ones */
};

static lk_status find_newest(void *arg, const char *name)
{
	struct newest *n = arg;
	uint64_t seq;
	uint32_t gen;

	if (!seg_parse_name(name, &seq, &gen))
		return LK_OK;
	if (n->count < (int)LK_SEGMENT_COUNT_MAX)
		snprintf(n->all[n->count], SEG_NAME_BYTES, "%s", name);
	n->count++;
	if (seq >= n->seq) {
		n->seq = seq;
		snprintf(n->name, sizeof n->name, "%s", name);
	}
	return LK_OK;
}

/* Then every segment file gone: the LOCK file's mark (lockmark.h) is
 * durable before the first record is written, so while any removed
 * segment held a record, an open must refuse ("missing"), never open an
 * empty database. */
static void remove_all(const struct workload *w, const lk_io *io,
		       size_t wl, uint64_t cut, int choice)
{
	lk_options o = cm_options(&w->cfg, io);
	struct newest *n = calloc(1, sizeof *n);
	uint64_t held = 0;
	lk_io_dir *d;
	lk_status st;
	lk_db *db;

	if (!n || io->dir_open(io->ctx, "/db", 0, &d) != LK_OK) {
		free(n);
		return;
	}
	st = io->dir_list(io->ctx, d, find_newest, n);
	for (int i = 0; st == LK_OK && i < n->count &&
			i < (int)LK_SEGMENT_COUNT_MAX;
	     i++) {
		lk_io_file *f;
		uint64_t size = 0;

		st = io->open(io->ctx, d, n->all[i], LK_IO_READ, &f);
		if (st == LK_OK) {
			st = io->size(io->ctx, f, &size);
			io->close(io->ctx, f);
		}
		if (size > held)
			held = size;
		if (st == LK_OK)
			st = io->unlink(io->ctx, d, n->all[i]);
	}
	if (st == LK_OK && n->count > 0)
		st = io->dir_sync(io->ctx, d);
	io->dir_close(io->ctx, d);
	if (st != LK_OK || n->count == 0) {
		free(n);
		return;
	}
	free(n);
	tally.all_removed++;
	st = lk_open(&db, "/db", &o);
	if (st == LK_OK)
		lk_close(db);
	if (held <= SEG_HEADER_BYTES ||
	    (st == LK_CORRUPT && strstr(lk_errmsg(), "missing")))
		return;
	tally.violations++;
	fprintf(stderr,
		"FAIL every segment removed, not detected: workload %s, at "
		"call %" PRIu64 ", choice %d: the largest held %" PRIu64
		" bytes, open said %s\n  replay: crash_explorer --replay "
		"%zu:%" PRIu64 ":%d\n",
		w->name, cut, choice, held, lk_strerror(st), wl, cut, choice);
}

/* After a good crash state: the operator's mistake of the newest segment
 * file gone (format 2, SPEC §4).  When it held any record, a strict open
 * must refuse, naming it, never open a shorter log; when it held only its
 * header, open may also go on (a rotation cut before its seal). */
static void remove_newest(const struct workload *w, const lk_io *io,
			  size_t wl, uint64_t cut, int choice)
{
	lk_options o = cm_options(&w->cfg, io);
	struct newest n = { 0 };
	uint64_t size = 0;
	lk_io_dir *d;
	lk_io_file *f;
	lk_status st;
	lk_db *db;

	if (io->dir_open(io->ctx, "/db", 0, &d) != LK_OK)
		return;
	st = io->dir_list(io->ctx, d, find_newest, &n);
	if (st == LK_OK && n.count >= 2 &&
	    io->open(io->ctx, d, n.name, LK_IO_READ, &f) == LK_OK) {
		st = io->size(io->ctx, f, &size);
		io->close(io->ctx, f);
		if (st == LK_OK)
			st = io->unlink(io->ctx, d, n.name);
		if (st == LK_OK)
			st = io->dir_sync(io->ctx, d);
	} else {
		st = LK_NOT_FOUND;
	}
	io->dir_close(io->ctx, d);
	if (st != LK_OK)
		return;
	tally.newest_removed++;
	st = lk_open(&db, "/db", &o);
	if (st == LK_OK)
		lk_close(db);
	if (size <= SEG_HEADER_BYTES || (st == LK_CORRUPT &&
					 strstr(lk_errmsg(), "missing")))
		return;
	tally.violations++;
	fprintf(stderr,
		"FAIL newest segment removed, not detected: workload %s, at "
		"call %" PRIu64 ", choice %d: %s (%" PRIu64 " bytes) removed, "
		"open said %s\n  replay: crash_explorer --replay %zu:%" PRIu64
		":%d\n",
		w->name, cut, choice, n.name, size, lk_strerror(st), wl, cut,
		choice);
}

static void one_cut(const struct script *s, const struct plan *p, size_t wl,
		    uint64_t cut, int choice)
{
	const struct workload *w = &workloads[wl];
	uint64_t seed = seed_of(wl, cut, choice);
	struct fault_fs *fs = new_fs(seed);
	enum fault_mode mode = choice == 0   ? FAULT_DROP_ALL
			       : choice == 1 ? FAULT_KEEP_ALL
					     : FAULT_RANDOM;
	struct outcome oc;

	fault_cut_at(fs, cut);
	tally.cuts++;
	cm_run(&oc, s, &w->cfg, fs);
	fault_reboot(fs, mode, seed, NULL);
	if (check(s, p, w, fault_io(fs), &oc, wl, cut, choice) &&
	    choice < 2) {
		remove_newest(w, fault_io(fs), wl, cut, choice);
		remove_all(w, fault_io(fs), wl, cut, choice);
	}
	fault_free(fs);
}

/* Trouble during recovery.  The workload is cut at `cut` and rebooted at
 * random; then the reopen itself meets trouble at each of its I/O calls
 * in turn (truncating a torn tail, syncing, removing a torn segment...):
 *
 *   fail == 0: the power is cut again at that call, and the machine
 *              reboots once more;
 *   fail == 1: that call fails with EIO (the open must refuse cleanly or
 *              recover);
 *
 * and the next open, on a healthy layer, must find an admissible state.
 * Recovery must be safe to interrupt: each of its steps leaves a state
 * that the next open recovers the same way. */
static void trouble_during_recovery(const struct script *s,
				    const struct plan *p, size_t wl,
				    uint64_t cut, int fail)
{
	const struct workload *w = &workloads[wl];
	lk_options opts = cm_options(&w->cfg, NULL);
	int done = 0;

	for (uint64_t c2 = 1; !done; c2++) {
		uint64_t seed = seed_of(wl, cut, 2 + fail), before;
		struct fault_fs *fs = new_fs(seed);
		struct outcome oc;
		lk_db *db = NULL;

		fault_cut_at(fs, cut);
		cm_run(&oc, s, &w->cfg, fs);
		fault_reboot(fs, FAULT_RANDOM, seed, NULL);
		opts.io = fault_io(fs);
		before = fault_calls(fs, FK_ANY);
		if (fail)
			fault_fail(fs, FK_ANY, c2, LK_IO, 0);
		else
			fault_cut_at(fs, c2);
		if (lk_open(&db, "/db", &opts) == LK_OK)
			lk_close(db);
		/* the reopen made fewer calls than c2: no trouble reached it */
		done = fault_calls(fs, FK_ANY) - before < c2;
		if (!done) {
			if (fail) {
				tally.recovery_faults++;
				fault_fail(fs, FK_ANY, 0, LK_IO, 0);
			} else {
				tally.recovery_cuts++;
				fault_reboot(fs, FAULT_RANDOM, mix(seed + c2),
					     NULL);
			}
			check(s, p, w, fault_io(fs), &oc, wl, cut,
			      (fail ? RECOVERY_FAULT_CHOICE : RECOVERY_CHOICE) +
				      (int)c2);
		}
		fault_free(fs);
	}
}

/* Counts the I/O calls and allocations of a clean run. */
static void measure(const struct script *s, size_t wl, uint64_t *calls,
		    uint64_t *allocs)
{
	struct fault_fs *fs = new_fs(1);
	struct outcome oc;

	mem_fail_at(0, 0);
	cm_run(&oc, s, &workloads[wl].cfg, fs);
	*allocs = mem_fail_at(0, 0);
	*calls = fault_calls(fs, FK_ANY);
	if (oc.first_error != LK_OK || oc.durable != oc.attempted) {
		fprintf(stderr, "workload %s fails without faults: %s: %s\n",
			workloads[wl].name, lk_strerror(oc.first_error),
			lk_errmsg());
		exit(2);
	}
	fault_free(fs);
}

static void crash_loop(size_t wl, uint64_t calls, uint64_t step)
{
	struct script s = { .n = 0 };
	struct plan p;

	build_workload(wl, &s);
	cm_plan(&p, &s);
	for (uint64_t cut = 1; cut <= calls + 1; cut += step) {
		for (int choice = 0; choice < 2 + choices_random; choice++)
			one_cut(&s, &p, wl, cut, choice);
		trouble_during_recovery(&s, &p, wl, cut, 0);
		trouble_during_recovery(&s, &p, wl, cut, 1);
	}
}

/* Fails allocation n (once, or from then on with sticky), stops at the
 * first failure, then checks on a healthy reopen. */
static void one_alloc_fault(const struct script *s, const struct plan *p,
			    size_t wl, uint64_t n, int sticky)
{
	struct fault_fs *fs = new_fs(seed_of(wl, n, ALLOC_CHOICE + sticky));
	struct outcome oc;

	mem_fail_at(n, sticky);
	cm_run(&oc, s, &workloads[wl].cfg, fs);
	mem_fail_at(0, 0);
	tally.alloc_sites++;
	fault_reboot(fs, FAULT_KEEP_ALL, 0, NULL);
	check(s, p, &workloads[wl], fault_io(fs), &oc, wl, n,
	      ALLOC_CHOICE + sticky);
	fault_free(fs);
}

/* Fails I/O call n of any kind with EIO (v even) or ENOSPC (v odd), once
 * (v < 2) or from then on, then cuts the power (random) and checks. */
static void one_io_fault(const struct script *s, const struct plan *p,
			 size_t wl, uint64_t n, int v)
{
	static const lk_status kinds[] = { LK_IO, LK_NOSPACE };
	uint64_t seed = seed_of(wl, n, IO_CHOICE + v);
	struct fault_fs *fs = new_fs(seed);
	struct outcome oc;

	fault_fail(fs, FK_ANY, n, kinds[v & 1], v >> 1);
	cm_run(&oc, s, &workloads[wl].cfg, fs);
	tally.io_sites++;
	fault_reboot(fs, FAULT_RANDOM, seed, NULL);
	check(s, p, &workloads[wl], fault_io(fs), &oc, wl, n, IO_CHOICE + v);
	fault_free(fs);
}

static void fault_loops(size_t wl, uint64_t calls, uint64_t allocs)
{
	struct script s = { .n = 0 };
	struct plan p;

	build_workload(wl, &s);
	cm_plan(&p, &s);
	for (uint64_t n = 1; n <= allocs; n++)
		for (int sticky = 0; sticky < 2; sticky++)
			one_alloc_fault(&s, &p, wl, n, sticky);
	for (uint64_t n = 1; n <= calls; n++)
		for (int v = 0; v < 4; v++)
			one_io_fault(&s, &p, wl, n, v);
}

static int replay(const char *spec)
{
	struct script s = { .n = 0 };
	unsigned long long cut;
	struct plan p;
	size_t wl;
	int choice;

	if (sscanf(spec, "%zu:%llu:%d", &wl, &cut, &choice) != 3 ||
	    wl >= WORKLOADS) {
		fprintf(stderr, "--replay WORKLOAD:CUT:CHOICE\n");
		return 2;
	}
	build_workload(wl, &s);
	cm_plan(&p, &s);
	if (choice < ALLOC_CHOICE)
		one_cut(&s, &p, wl, cut, choice);
	else if (choice < IO_CHOICE)
		one_alloc_fault(&s, &p, wl, cut, choice - ALLOC_CHOICE);
	else if (choice < RECOVERY_CHOICE)
		one_io_fault(&s, &p, wl, cut, choice - IO_CHOICE);
	else
		trouble_during_recovery(&s, &p, wl, cut,
					choice >= RECOVERY_FAULT_CHOICE);
	printf("replayed: %s\n", tally.violations ? "FAILED" : "ok");
	return tally.violations ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *env = getenv("LK_CRASH_SCALE");
	const char *step_env = getenv("LK_CRASH_STEP");
	const char *only = NULL;
	uint64_t scale = env ? strtoull(env, NULL, 10) : 1;
	uint64_t step = step_env ? strtoull(step_env, NULL, 10) : 1;
	size_t ran = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc)
			scale = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--workload") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "--replay") == 0 && i + 1 < argc)
			return replay(argv[++i]);
		else {
			fprintf(stderr, "usage: crash_explorer [--scale N] "
					"[--workload NAME] "
					"[--replay W:CUT:CHOICE]\n");
			return 2;
		}
	}
	if (scale == 0 || scale > 200)
		scale = 1;
	if (step == 0 || step > 1000)
		step = 1;
	choices_random = 4 * (int)scale;
	for (size_t wl = 0; wl < WORKLOADS; wl++) {
		struct script s = { .n = 0 };
		uint64_t calls, allocs;

		if (only && strcmp(only, workloads[wl].name) != 0)
			continue;
		ran++;
		build_workload(wl, &s);
		measure(&s, wl, &calls, &allocs);
		printf("# workload %-20s %3zu ops, %4" PRIu64
		       " I/O calls, %5" PRIu64 " allocations\n",
		       workloads[wl].name, s.n, calls, allocs);
		fflush(stdout);
		crash_loop(wl, calls, step);
		fault_loops(wl, calls, allocs);
	}
	if (ran == 0) {
		fprintf(stderr, "no workload named %s\n", only);
		return 2;
	}
	printf("crash states: %" PRIu64 ", workloads: %zu, acknowledged lost: "
	       "%" PRIu64 ", phantom: %" PRIu64 ", resurrected: %" PRIu64
	       ", violations: %" PRIu64 "\n",
	       tally.states, ran, tally.lost, tally.phantom,
	       tally.resurrected, tally.violations);
	printf("# power-cut states: %" PRIu64 " (%d reboot choices per cut "
	       "point, a cut point every %" PRIu64 " I/O call(s)), cut again "
	       "during recovery: %" PRIu64
	       ", EIO during recovery: %" PRIu64 ", fault-loop states: %" PRIu64
	       "\n",
	       tally.cuts, 2 + choices_random, step, tally.recovery_cuts,
	       tally.recovery_faults,
	       tally.states - tally.cuts - tally.recovery_cuts -
		       tally.recovery_faults);
	printf("# allocation-failure sites: %" PRIu64
	       ", I/O-failure sites: %" PRIu64 ", refused opens: %" PRIu64
	       "\n",
	       tally.alloc_sites, tally.io_sites, tally.refused);
	printf("# newest segment removed after a cut: %" PRIu64
	       " states, each refused or holding no record; then every "
	       "segment: %" PRIu64 " states, the same\n",
	       tally.newest_removed, tally.all_removed);
	return tally.violations ? 1 : 0;
}
