/* SPDX-License-Identifier: MIT */
/*
 * test_compact.c - compaction (SPEC §6): what it keeps, what it drops, and
 * what a power cut in the middle of it leaves.
 *
 * Method: random puts, overwrites and deletes against a model (the value
 * each key should hold), on the in-memory layer with 4 KiB segments so
 * that a few hundred writes make dozens of segments; then lk_compact(),
 * reads of every key, a scan of every record on disk (no dead put left in
 * a sealed segment, no key twice), and a reopen.  The tombstone rule and
 * crash safety run on the fault layer: a power cut at every I/O call of a
 * compaction, each followed by a reboot and a strict reopen that must find
 * the model's state, with no deleted key back.  The background thread
 * runs against writer, reader, iterator and backup threads.  The
 * compaction totals (lk_stats version 5) are checked across reopens,
 * read-only ones too, and after a power cut at every I/O call of a
 * compaction and its snapshot (the old totals or the new, nothing else).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <stdatomic.h>

#include "alloc.h"
#include "io_fault.h"
#include "testutil.h"

#define DIR "/db"
#define NKEYS 64
#define T0_MS UINT64_C(1800000000000)

/* The model: the value seed each key holds, or -1 when absent. */
static int model[NKEYS];

static void key_of(char k[16], int i)
{
	snprintf(k, 16, "key-%03d", i);
}

/* Values of 20 to 400 bytes, made from a seed. */
static size_t value_of(char v[512], int seed)
{
	size_t n = 20 + (size_t)(seed * 37 % 230); /* never compressed */

	for (size_t i = 0; i < n; i++)
		v[i] = (char)('a' + (seed + (int)i * 7) % 26);
	return n;
}

static lk_options options(const lk_io *io)
{
	lk_options o = test_options(io);

	o.segment_size_bytes = 4096;
	o.compact_dead_pct = 0; /* only lk_compact() */
	o.snapshot_every_bytes = 1u << 30; /* and the snapshot after it */
	return o;
}

/* `n` random writes: 1 in 5 a delete. */
static void churn(lk_db *db, int n, uint64_t seed)
{
	char k[16], v[512];

	for (int i = 0; i < n; i++) {
		uint64_t r = (seed + (uint64_t)i) * 0x9e3779b97f4a7c15u;
		int key = (int)((r >> 20) % NKEYS);

		key_of(k, key);
		if ((r >> 40) % 5 == 0) {
			CHECK_OK(lk_del(db, LK_NS_DEFAULT, k, strlen(k)));
			model[key] = -1;
		} else {
			int s = (int)((r >> 8) % 100000);

			CHECK_OK(lk_put(db, LK_NS_DEFAULT, k, strlen(k), v,
					value_of(v, s), 0));
			model[key] = s;
		}
	}
}

static void check_model(lk_db *db)
{
	char k[16], v[512];

	for (int i = 0; i < NKEYS; i++) {
		void *got = NULL;
		size_t len = 0;
		lk_status st;

		key_of(k, i);
		st = lk_get(&got, &len, db, LK_NS_DEFAULT, k, strlen(k));
		if (model[i] < 0) {
			if (st != LK_NOT_FOUND)
				fprintf(stderr, "%s: deleted, came back\n", k);
			CHECK_ST(LK_NOT_FOUND, st);
			continue;
		}
		CHECK_OK(st);
		CHECK(len == value_of(v, model[i]) && memcmp(got, v, len) == 0);
		lk_free(got);
	}
}

/* ---- every record on disk ---- */

struct disk {
	int puts[NKEYS];       /* puts of each key in sealed segments */
	int dels[NKEYS];
	int dead_puts;         /* puts in sealed segments not the model's */
	int segments;
	int expired_puts;
};

struct lister {
	const lk_io *io;
	lk_io_dir *dir;
	struct disk *d;
	uint64_t newest;
};

static lk_status find_newest(void *arg, const char *name)
{
	struct lister *l = arg;
	uint64_t seq;
	uint32_t gen;

	if (seg_parse_name(name, &seq, &gen) && seq > l->newest)
		l->newest = seq;
	return LK_OK;
}

static lk_status scan_one(void *arg, const char *name)
{
	struct lister *l = arg;
	uint8_t hdr[SEG_HEADER_BYTES];
	uint64_t pos = SEG_HEADER_BYTES, seq;
	struct seg_reader r;
	struct segment *s;
	const char *why;
	uint32_t gen;
	size_t got;

	if (!seg_parse_name(name, &seq, &gen))
		return LK_OK;
	l->d->segments++;
	CHECK_OK(seg_open(&s, l->io, l->dir, name, 0));
	CHECK_OK(l->io->pread(l->io->ctx, s->file, hdr, sizeof hdr, 0, &got));
	CHECK_OK(seg_header_decode(&s->hdr, hdr, &why));
	s->db_seed = record_hash(s->hdr.db_id, SEG_DB_ID_BYTES, 0);
	CHECK_OK(seg_reader_init(&r, l->io, s, s->file_size));
	for (;;) {
		struct record rec;
		char v[512];
		int key;

		if (pos >= r.end ||
		    seg_reader_record(&r, pos, &rec, &why) != LK_OK)
			break;
		pos += rec.size;
		if (rec.type > REC_DEL || rec.ns != LK_NS_DEFAULT ||
		    seq == l->newest)
			continue;
		if (rec.key_len != 7 || memcmp(rec.key, "key-", 4) != 0)
			continue; /* filler */
		CHECK(sscanf((const char *)rec.key + 4, "%3d", &key) == 1);
		if (rec.type == REC_DEL) {
			l->d->dels[key]++;
			continue;
		}
		l->d->puts[key]++;
		if (rec.expire_at_ms)
			l->d->expired_puts++;
		if (model[key] < 0 ||
		    rec.value_len != value_of(v, model[key]) ||
		    memcmp(rec.value, v, rec.value_len) != 0)
			l->d->dead_puts++;
	}
	seg_reader_free(&r);
	seg_close(s, l->io);
	return LK_OK;
}

/* Scans every segment but the newest (the active one, which compaction
 * leaves alone). */
static void scan_disk(struct disk *d, const lk_io *io)
{
	struct lister l = { io, NULL, d, 0 };

	memset(d, 0, sizeof *d);
	CHECK_OK(io->dir_open(io->ctx, DIR, 0, &l.dir));
	CHECK_OK(io->dir_list(io->ctx, l.dir, find_newest, &l));
	CHECK_OK(io->dir_list(io->ctx, l.dir, scan_one, &l));
	io->dir_close(io->ctx, l.dir);
}

/* ---------------------------------------------------------------------- */

static void keeps_every_live_record_and_drops_every_dead_one(void **state)
{
	lk_options o;
	lk_stats before = LK_STATS_INIT, after = LK_STATS_INIT;
	struct disk d;
	lk_io *io;
	lk_db *db;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	o = options(io);
	CHECK_OK(lk_open(&db, DIR, &o));
	churn(db, 1500, 1);
	CHECK_OK(lk_stats_get(&before, db));
	scan_disk(&d, io);
	CHECK(d.dead_puts > 500); /* there is something to drop */

	CHECK_OK(lk_compact(db));
	check_model(db);
	CHECK_OK(lk_stats_get(&after, db));
	CHECK(after.compactions > 0);
	CHECK(after.compact_records_dropped > 0);
	CHECK(after.segment_count < before.segment_count);
	CHECK(after.disk_bytes < before.disk_bytes / 2);
	CHECK(after.live_keys == before.live_keys);
	scan_disk(&d, io);
	CHECK(d.dead_puts == 0);
	for (int i = 0; i < NKEYS; i++)
		CHECK(d.puts[i] <= 1);

	/* Writes go on, and a second compaction finds the new garbage. */
	churn(db, 300, 2);
	CHECK_OK(lk_compact(db));
	check_model(db);
	CHECK_OK(lk_close(db));

	CHECK_OK(lk_open(&db, DIR, &o));
	check_model(db);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

/* Tombstones: deleted keys stay deleted across compaction and reopen,
 * whichever runs the compaction chose; once everything is compacted from
 * the oldest segment no tombstone needs to stay. */
static void deleted_keys_never_come_back(void **state)
{
	lk_options o;
	struct disk d;
	lk_io *io;
	lk_db *db;
	char k[16], v[512];

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	o = options(io);
	CHECK_OK(lk_open(&db, DIR, &o));
	/* old values of keys 0..9 at the start of the log */
	for (int i = 0; i < 10; i++) {
		key_of(k, i);
		model[i] = 1000 + i;
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, k, strlen(k), v,
				value_of(v, model[i]), 0));
	}
	for (int i = 10; i < NKEYS; i++)
		model[i] = -1;
	churn(db, 600, 3);
	for (int i = 0; i < 10; i++) {
		key_of(k, i);
		CHECK_OK(lk_del(db, LK_NS_DEFAULT, k, strlen(k)));
		model[i] = -1;
	}
	churn(db, 200, 4);
	for (int i = 0; i < 10; i++) {
		key_of(k, i);
		CHECK_OK(lk_del(db, LK_NS_DEFAULT, k, strlen(k)));
		model[i] = -1;
	}
	CHECK_OK(lk_compact(db));
	check_model(db);
	CHECK_OK(lk_close(db));
	CHECK_OK(lk_open(&db, DIR, &o));
	check_model(db);
	CHECK_OK(lk_close(db));
	scan_disk(&d, io);
	for (int i = 0; i < NKEYS; i++)
		if (model[i] < 0)
			CHECK(d.puts[i] == 0 || d.dels[i] > 0);
	lk_io_memory_free(io);
}

static void expired_records_are_dropped(void **state)
{
	lk_options o;
	struct disk d;
	lk_stats st = LK_STATS_INIT;
	lk_io *io;
	lk_db *db;
	char k[16], v[512];

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	lk_io_memory_set_time_ms(io, T0_MS);
	o = options(io);
	CHECK_OK(lk_open(&db, DIR, &o));
	for (int i = 0; i < NKEYS; i++) {
		key_of(k, i);
		model[i] = i;
		/* even keys expire a minute from now */
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, k, strlen(k), v,
				value_of(v, i), i % 2 ? 0 : T0_MS + 60000));
	}
	for (int i = 0; i < 40; i++) { /* seal the segments above */
		snprintf(k, sizeof k, "fill-%03d", i);
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, k, strlen(k), v, 300, 0));
	}
	lk_io_memory_set_time_ms(io, T0_MS + 120000);
	for (int i = 0; i < NKEYS; i += 2)
		model[i] = -1;
	check_model(db);
	CHECK_OK(lk_compact(db));
	check_model(db);
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(st.compact_records_dropped > 0);
	CHECK(st.live_keys == NKEYS / 2 + 40);
	/* no expired put left in a sealed segment: each is gone, or (with
	 * older segments before its run) a tombstone */
	scan_disk(&d, io);
	CHECK(d.expired_puts == 0);
	for (int i = 0; i < NKEYS; i += 2)
		CHECK(d.puts[i] == 0);
	CHECK_OK(lk_close(db));
	/* and they stay gone, whatever the clock says after reopening */
	lk_io_memory_set_time_ms(io, T0_MS);
	CHECK_OK(lk_open(&db, DIR, &o));
	check_model(db);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

/* A power cut at every I/O call of a compaction: the reopened store holds
 * the model's state (compaction changes no data), deleted keys included,
 * and a second open finds nothing left to clean. */
static void power_cut_anywhere_in_a_compaction(void **state)
{
	uint64_t cuts = 0, leftovers = 0, snapshot_cuts = 0;

	(void)state;
	for (uint64_t cut = 1;; cut++) {
		struct fault_fs *fs;
		lk_recovery_report rep = LK_REPORT_INIT;
		lk_options o;
		lk_db *db;
		lk_status st;

		for (int i = 0; i < NKEYS; i++)
			model[i] = -1;
		CHECK_OK(fault_new(&fs, cut));
		o = options(fault_io(fs));
		CHECK_OK(lk_open(&db, DIR, &o));
		churn(db, 400, 5);
		fault_cut_at(fs, cut);
		st = lk_compact(db);
		fault_cut_at(fs, 0);
		if (!fault_is_cut(fs)) {
			/* the compaction ran whole: every cut point done */
			CHECK_OK(st);
			CHECK_OK(lk_close(db));
			fault_free(fs);
			break;
		}
		if (st == LK_OK) {
			/* cut in the snapshot after the compaction: it
			 * failed, the compaction stands */
			lk_stats sst = LK_STATS_INIT;

			CHECK_OK(lk_stats_get(&sst, db));
			CHECK(sst.snapshot_failures == 1);
			snapshot_cuts++;
		}
		(void)lk_close(db);
		fault_reboot(fs, FAULT_RANDOM, cut * 7919, NULL);
		cuts++;
		CHECK_OK(lk_open(&db, DIR, &o));
		CHECK_OK(lk_recovery(&rep, db));
		leftovers += rep.compaction_leftovers;
		check_model(db);
		CHECK_OK(lk_close(db));
		CHECK_OK(lk_open(&db, DIR, &o));
		CHECK_OK(lk_recovery(&rep, db));
		CHECK(rep.compaction_leftovers == 0 && rep.bytes_cut == 0);
		check_model(db);
		CHECK_OK(lk_close(db));
		fault_free(fs);
	}
	print_message("power cuts during compaction: %" PRIu64 " states (%"
		      PRIu64 " in the snapshot after it), %" PRIu64 " leftover "
		      "files removed at open\n", cuts, snapshot_cuts,
		      leftovers);
	CHECK(cuts > 20);
	CHECK(snapshot_cuts > 3);
	CHECK(leftovers > 0);
}

/* verify names an interrupted compaction's file as a leftover, not as
 * damage, and a writing open removes it. */
static int leftover_problems;
static void count_leftover(void *arg, const lk_problem *p)
{
	(void)arg;
	CHECK(p->kind == LK_PROBLEM_LEFTOVER || p->kind == LK_PROBLEM_TORN_TAIL);
	leftover_problems += p->kind == LK_PROBLEM_LEFTOVER;
}

static void verify_reports_leftovers_and_open_removes_them(void **state)
{
	struct fault_fs *fs;
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_options o;
	lk_db *db;
	int found = 0;

	(void)state;
	/* the first cut that leaves a compaction output behind */
	for (uint64_t cut = 1; cut < 400 && !found; cut++) {
		CHECK_OK(fault_new(&fs, 1));
		o = options(fault_io(fs));
		for (int i = 0; i < NKEYS; i++)
			model[i] = -1;
		CHECK_OK(lk_open(&db, DIR, &o));
		churn(db, 400, 6);
		fault_cut_at(fs, cut);
		(void)lk_compact(db);
		(void)lk_close(db);
		fault_reboot(fs, FAULT_KEEP_ALL, 1, NULL);
		leftover_problems = 0;
		CHECK_OK(lk_verify(&rep, DIR, &o, count_leftover, NULL));
		if (leftover_problems > 0) {
			found = 1;
			CHECK(rep.compaction_leftovers ==
			      (uint64_t)leftover_problems);
			o.flags = LK_OPEN_READONLY;
			CHECK_OK(lk_open(&db, DIR, &o));
			check_model(db);
			CHECK_OK(lk_close(db));
			o.flags = 0;
			CHECK_OK(lk_open(&db, DIR, &o));
			CHECK_OK(lk_recovery(&rep, db));
			CHECK(rep.compaction_leftovers ==
			      (uint64_t)leftover_problems);
			check_model(db);
			CHECK_OK(lk_close(db));
			leftover_problems = 0;
			CHECK_OK(lk_verify(&rep, DIR, &o, count_leftover, NULL));
			CHECK(leftover_problems == 0);
		}
		fault_free(fs);
	}
	CHECK(found);
}

static void misuse_and_options(void **state)
{
	lk_options o;
	lk_io *io;
	lk_db *db;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	o = options(io);
	CHECK_ST(LK_INVALID, lk_compact(NULL));
	o.compact_dead_pct = 30;
	o.compact_idle_pct = 50; /* above the other */
	CHECK_ST(LK_INVALID, lk_open(&db, DIR, &o));
	o.compact_dead_pct = 100;
	CHECK_ST(LK_INVALID, lk_open(&db, DIR, &o));
	/* a version 1 struct stops before the compaction fields */
	o = options(io);
	o.version = 1;
	o.compact_dead_pct = 12345; /* past a v1 struct: never read */
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_compact(db)); /* nothing to do */
	CHECK_OK(lk_close(db));
	o = options(io);
	o.flags = LK_OPEN_READONLY;
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_ST(LK_READONLY, lk_compact(db));
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

/* ---- the background thread against everything else ---- */

#define BG_KEYS 400

static lk_db *bg_db;
static atomic_int bg_stop;
static atomic_uint bg_round;

static void bg_value(char v[64], int key, unsigned round)
{
	snprintf(v, 64, "v-%04d-%08u-0123456789abcdef0123456789", key, round);
}

/* Rewrites every key, round after round; readers check that a key's
 * value is of a round no older than the last finished one. */
static void *bg_writer(void *arg)
{
	char k[16], v[64];

	(void)arg;
	for (unsigned round = 1; !atomic_load(&bg_stop) && round < 60; round++) {
		for (int i = 0; i < BG_KEYS; i++) {
			key_of(k, i);
			bg_value(v, i, round);
			CHECK_OK(lk_put(bg_db, LK_NS_DEFAULT, k, strlen(k), v,
					strlen(v), 0));
		}
		atomic_store(&bg_round, round);
	}
	return NULL;
}

static void *bg_reader(void *arg)
{
	char k[16];

	(void)arg;
	while (!atomic_load(&bg_stop)) {
		unsigned done = atomic_load(&bg_round);
		lk_iter *it;
		const void *key, *value;
		size_t klen, vlen;
		int n = 0;

		for (int i = 0; i < BG_KEYS; i += 7) {
			void *got;
			size_t len;
			unsigned round;
			int key_no;

			key_of(k, i);
			CHECK_OK(lk_get(&got, &len, bg_db, LK_NS_DEFAULT, k,
					strlen(k)));
			CHECK(sscanf(got, "v-%4d-%8u", &key_no, &round) == 2);
			CHECK(key_no == i && round >= done);
			lk_free(got);
		}
		CHECK_OK(lk_iter_open(&it, bg_db, LK_NS_DEFAULT, NULL, 0));
		while (lk_iter_next(it, &key, &klen, &value, &vlen, NULL) ==
		       LK_OK)
			n++;
		lk_iter_close(it);
		CHECK(n == BG_KEYS);
	}
	return NULL;
}

static void background_compaction_under_load(void **state)
{
	char path[256], copy[300];
	pthread_t w, r[2];
	lk_options o = LK_OPTIONS_INIT;
	lk_stats st = LK_STATS_INIT;
	lk_db *b;

	(void)state;
	CHECK(make_temp_dir(path, sizeof path, "compact") == 0);
	o.segment_size_bytes = 64 * 1024;
	o.sync = LK_SYNC_NONE;
	o.compact_dead_pct = 30;
	o.compact_idle_pct = 10;
	o.compact_idle_ms = 50;
	o.compact_rate_bytes = 0;
	/* and snapshots every 64 KiB of log, after every pass, at close */
	o.snapshot_every_bytes = LK_SNAPSHOT_EVERY_MIN_BYTES;
	CHECK_OK(lk_open(&bg_db, path, &o));
	atomic_store(&bg_stop, 0);
	atomic_store(&bg_round, 0);
	{
		char k[16], v[64];

		for (int i = 0; i < BG_KEYS; i++) {
			key_of(k, i);
			bg_value(v, i, 0);
			CHECK_OK(lk_put(bg_db, LK_NS_DEFAULT, k, strlen(k), v,
					strlen(v), 0));
		}
	}
	CHECK(pthread_create(&w, NULL, bg_writer, NULL) == 0);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&r[i], NULL, bg_reader, NULL) == 0);
	/* a backup in the middle of it all */
	while (atomic_load(&bg_round) < 20)
		sched_yield();
	snprintf(copy, sizeof copy, "%s/copy", path);
	CHECK_OK(lk_backup(bg_db, copy, NULL, NULL));
	pthread_join(w, NULL);
	atomic_store(&bg_stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(r[i], NULL);
	/* The thread looks every 200 ms and compacts when the writes stop
	 * if not before, then writes the pass's snapshot: wait for both
	 * (bounded), not for a time. */
	for (int i = 0; i < 3000; i++) {
		CHECK_OK(lk_stats_get(&st, bg_db));
		if (st.compactions > 0 && st.snapshots_written > 0)
			break;
		usleep(10000);
	}
	print_message("background: %" PRIu64 " compactions, %" PRIu64
		      " segments removed, longest index hold %" PRIu64 " us, %"
		      PRIu64 " snapshots\n",
		      st.compactions, st.compact_segments_removed,
		      st.compact_stall_max_us, st.snapshots_written);
	CHECK(st.compactions > 0);
	CHECK(st.snapshots_written > 0 && st.snapshot_failures == 0);
	CHECK_OK(lk_close(bg_db));

	/* the copy opens and holds every key */
	o.compact_dead_pct = 0;
	CHECK_OK(lk_open(&b, copy, &o));
	CHECK_OK(lk_stats_get(&st, b));
	CHECK(st.live_keys == BG_KEYS);
	CHECK_OK(lk_close(b));
	CHECK_OK(lk_open(&b, path, &o));
	CHECK_OK(lk_stats_get(&st, b));
	CHECK(st.live_keys == BG_KEYS);
	{
		lk_recovery_report rep = LK_REPORT_INIT;
		char k[16], v[64];

		CHECK_OK(lk_recovery(&rep, b));
		CHECK(rep.snapshot_used);
		for (int i = 0; i < BG_KEYS; i++) { /* the last round's */
			void *got;
			size_t len;

			key_of(k, i);
			bg_value(v, i, atomic_load(&bg_round));
			CHECK_OK(lk_get(&got, &len, b, LK_NS_DEFAULT, k,
					strlen(k)));
			CHECK(len == strlen(v) && memcmp(got, v, len) == 0);
			lk_free(got);
		}
	}
	CHECK_OK(lk_close(b));
	remove_tree(path);
}

/* A new memory file system with a database in DIR after n writes. */
static lk_db *open_churned(lk_io **io, int n, uint64_t seed)
{
	lk_options o;
	lk_db *db;

	CHECK_OK(lk_io_memory_new(io));
	o = options(*io);
	CHECK_OK(lk_open(&db, DIR, &o));
	churn(db, n, seed);
	return db;
}

/* The names and sizes of the files in DIR, as one string. */
struct dir_state {
	const lk_io *io;
	lk_io_dir *dir;
	char text[16384];
	size_t len;
	int skip_lock; /* leave out the LOCK file (the space reserve) */
};

static lk_status note_file(void *arg, const char *name)
{
	struct dir_state *ds = arg;
	lk_io_file *f;
	uint64_t size = 0;

	if (ds->skip_lock && strcmp(name, "LOCK") == 0)
		return LK_OK;
	CHECK_OK(ds->io->open(ds->io->ctx, ds->dir, name, LK_IO_READ, &f));
	CHECK_OK(ds->io->size(ds->io->ctx, f, &size));
	ds->io->close(ds->io->ctx, f);
	ds->len += (size_t)snprintf(ds->text + ds->len,
				    sizeof ds->text - ds->len, "%s %" PRIu64
				    "\n", name, size);
	CHECK(ds->len < sizeof ds->text);
	return LK_OK;
}

static void dir_state(struct dir_state *ds, const lk_io *io, int skip_lock)
{
	memset(ds, 0, sizeof *ds);
	ds->io = io;
	ds->skip_lock = skip_lock;
	CHECK_OK(io->dir_open(io->ctx, DIR, 0, &ds->dir));
	CHECK_OK(io->dir_list(io->ctx, ds->dir, note_file, ds));
	io->dir_close(io->ctx, ds->dir);
}

/* A snapshot lets a writing open skip the old segments, so a flipped bit
 * in one is first met by the compaction that copies it.  Before, lk_compact
 * had already sealed the active segment and started a new one when it
 * returned LK_CORRUPT; now it reads what it will copy first, and refuses
 * with the directory as it was. */
static void compaction_refused_for_damage_changes_nothing(void **state)
{
	struct dir_state before, after;
	struct rec_list l;
	lk_options o;
	lk_io *io;
	lk_db *db = open_churned(&io, 600, 5);

	(void)state;
	o = options(io);
	CHECK_OK(lk_snapshot(db));
	churn(db, 20, 6); /* the active segment has dead bytes to seal */
	CHECK_OK(lk_close(db));
	list_records(&l, io, DIR, "0000000000000001.seg");
	CHECK(l.n > 4);
	flip_bit(io, DIR, "0000000000000001.seg", l.v[2].offset + 12, 3);

	CHECK_OK(lk_open(&db, DIR, &o));
	dir_state(&before, io, 0);
	CHECK_ST(LK_CORRUPT, lk_compact(db));
	CHECK(strstr(lk_errmsg(), "0000000000000001.seg") != NULL);
	dir_state(&after, io, 0);
	if (strcmp(before.text, after.text) != 0)
		fprintf(stderr, "before:\n%safter:\n%s", before.text,
			after.text);
	CHECK(strcmp(before.text, after.text) == 0);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

/* Read-only opens (the tools' get, scan, backup) beside a writer whose
 * compactions remove segments between their listing and their opens:
 * every one succeeds (recovery.c takes the listing again).  The
 * interleaving is up to the scheduler; the deterministic case is in
 * test_recovery.c. */
static atomic_int ro_done;

static void *ro_opener(void *arg)
{
	const lk_io *io = arg;
	lk_options o = options(io);
	unsigned opens = 0;

	o.flags = LK_OPEN_READONLY;
	while (!atomic_load(&ro_done) || opens == 0) {
		lk_db *db;

		CHECK_OK(lk_open(&db, DIR, &o));
		CHECK_OK(lk_close(db));
		opens++;
	}
	return NULL;
}

static void read_only_opens_beside_compactions_succeed(void **state)
{
	pthread_t t;
	lk_io *io;
	lk_db *db = open_churned(&io, 300, 7);

	(void)state;
	atomic_store(&ro_done, 0);
	CHECK(pthread_create(&t, NULL, ro_opener, io) == 0);
	for (int round = 0; round < 30; round++) {
		churn(db, 100, 100 + (uint64_t)round);
		CHECK_OK(lk_compact(db));
	}
	atomic_store(&ro_done, 1);
	CHECK(pthread_join(t, NULL) == 0);
	check_model(db);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

/* ---------------------------------------------------------------------- */
/* A full device                                                          */
/* ---------------------------------------------------------------------- */

/* Room for the space reserve (LK_RESERVE_BYTES) and a log of a few
 * thousand records in 64 KiB segments. */
#define FULL_DEVICE_BYTES (3u * 1024u * 1024u)

static void full_key(char k[16], int i)
{
	snprintf(k, 16, "full-%06d", i);
}

static lk_status full_put(lk_db *db, int i)
{
	char k[16], v[512];
	size_t n;

	full_key(k, i);
	n = value_of(v, i);
	return lk_put(db, LK_NS_DEFAULT, k, strlen(k), v, n, 0);
}

/* Keys below `upto` that `kept` says are there hold their value; the
 * others are absent. */
static void full_check(lk_db *db, int upto, int (*kept)(int))
{
	for (int i = 0; i < upto; i++) {
		char k[16], v[512];
		size_t n = value_of(v, i), got_len = 0;
		void *got = NULL;
		lk_status st;

		full_key(k, i);
		st = lk_get(&got, &got_len, db, LK_NS_DEFAULT, k, strlen(k));
		if (kept(i)) {
			CHECK_OK(st);
			CHECK(got_len == n && memcmp(got, v, n) == 0);
		} else {
			CHECK_ST(LK_NOT_FOUND, st);
		}
		lk_free(got);
	}
}

static int full_filled;
static int kept_after_fill(int i)
{
	return i < full_filled;
}
static int kept_after_deletes(int i)
{
	return i < full_filled && i % 4 == 0;
}
static int kept_after_two_deletes(int i)
{
	return i < full_filled && i != 1 && i != 5;
}
static int kept_after_refill(int i)
{
	return kept_after_deletes(i) || i >= full_filled;
}

/* A database in DIR on a new fault file system of FULL_DEVICE_BYTES,
 * filled with full_put() until LK_NOSPACE; sets full_filled.  With
 * dead_pct, the background thread compacts past it (on the simulated
 * clock: only when the test moves it). */
static lk_db *full_device(struct fault_fs **fs, lk_options *o,
			  uint64_t segment_size_bytes, unsigned dead_pct)
{
	lk_db *db;
	lk_status st;
	int n;

	CHECK_OK(fault_new(fs, 1));
	fault_set_capacity(*fs, FULL_DEVICE_BYTES);
	*o = test_options(fault_io(*fs));
	o->segment_size_bytes = segment_size_bytes;
	o->compact_dead_pct = dead_pct;
	CHECK_OK(lk_open(&db, DIR, o));
	for (n = 0; (st = full_put(db, n)) == LK_OK; n++)
		;
	CHECK_ST(LK_NOSPACE, st);
	full_filled = n;
	return db;
}

/* Deletes every key of the n filled but those whose number is a multiple
 * of four: three quarters of the log become dead. */
static void delete_three_of_four(lk_db *db, int n)
{
	for (int i = 0; i < n; i++) {
		char k[16];

		if (i % 4 == 0)
			continue;
		full_key(k, i);
		CHECK_OK(lk_del(db, LK_NS_DEFAULT, k, strlen(k)));
	}
}

/* Once puts have filled the device, deletes still succeed (their
 * tombstones draw on the reserve), compaction frees the space they made
 * dead, and puts succeed again; nothing acknowledged is lost, across a
 * reopen too.  Before the reserve, the deletes failed with LK_NOSPACE
 * and nothing could free space again. */
static void full_device_is_recovered_by_deletes_and_compaction(void **state)
{
	struct fault_fs *fs;
	lk_options o;
	lk_db *db;
	int n, more;

	(void)state;
	db = full_device(&fs, &o, 64u * 1024u, 0);
	n = full_filled;
	CHECK(n > 5000); /* the device held the log, not just the reserve */
	/* a refused put leaves nothing visible, and stays refused */
	CHECK_ST(LK_NOSPACE, full_put(db, n));
	full_check(db, n + 1, kept_after_fill);

	delete_three_of_four(db, n);
	/* what the deletes drew on is not for puts */
	CHECK_ST(LK_NOSPACE, full_put(db, n));
	full_check(db, n + 1, kept_after_deletes);

	CHECK_OK(lk_compact(db));
	/* the space of three quarters of the records is free again */
	for (more = 0; more < n / 2; more++)
		CHECK_OK(full_put(db, n + more));
	full_check(db, n + more, kept_after_refill);
	CHECK_OK(lk_close(db));
	CHECK_OK(lk_open(&db, DIR, &o));
	full_check(db, n + more, kept_after_refill);
	CHECK_OK(lk_close(db));
	fault_free(fs);
}

/* 1 if the line of file `name` (its size) is in both states. */
static int same_line(const struct dir_state *a, const struct dir_state *b,
		     const char *name)
{
	const char *x = strstr(a->text, name), *y = strstr(b->text, name);

	return x && y && strcspn(x, "\n") == strcspn(y, "\n") &&
	       strncmp(x, y, strcspn(x, "\n")) == 0;
}

/* The background thread frees a full device as lk_compact() does: after
 * the deletes, moving the clock lets it compact, and puts succeed again. */
static void background_compaction_frees_a_full_device(void **state)
{
	struct fault_fs *fs;
	lk_options o;
	lk_stats stats = LK_STATS_INIT;
	lk_db *db;
	int n, more;

	(void)state;
	db = full_device(&fs, &o, 64u * 1024u, 50);
	n = full_filled;
	delete_three_of_four(db, n);
	CHECK_ST(LK_NOSPACE, full_put(db, n));
	fault_advance_us(fs, UINT64_C(5000000)); /* polls every 200 ms */
	CHECK_OK(lk_stats_get(&stats, db));
	CHECK(stats.compactions > 0);
	/* the thread leaves up to compact_dead_pct of the log dead */
	for (more = 0; more < n / 4; more++)
		CHECK_OK(full_put(db, n + more));
	full_check(db, n + more, kept_after_refill);
	CHECK_OK(lk_close(db));
	fault_free(fs);
}

/* A compaction whose new segment does not fit even in the reserve is
 * refused with LK_NOSPACE and leaves the log as it was: the partial new
 * segment is removed, and every record reads as before, across a reopen
 * too. */
static void compaction_that_does_not_fit_leaves_the_log_as_it_was(
	void **state)
{
	struct dir_state before, after;
	struct fault_fs *fs;
	lk_options o;
	lk_db *db;
	int n;

	(void)state;
	/* segments of more live data than half the reserve */
	db = full_device(&fs, &o, 1024u * 1024u, 0);
	n = full_filled;
	for (int i = 1; i < 8; i += 4) {
		char k[16];

		full_key(k, i);
		CHECK_OK(lk_del(db, LK_NS_DEFAULT, k, strlen(k)));
	}
	/* The first call seals the deletes' segment and compacts it (its
	 * run fits), then meets segment 1, which does not.  The second
	 * finds the same (and rewrites the tombstones' segment again, as
	 * every lk_compact() does). */
	dir_state(&before, fault_io(fs), 1);
	for (int call = 0; call < 2; call++) {
		CHECK_ST(LK_NOSPACE, lk_compact(db));
		CHECK(strstr(lk_errmsg(), "no run's live data fits") != NULL);
		dir_state(&after, fault_io(fs), 1);
		if (!same_line(&before, &after, "0000000000000001.seg") ||
		    !same_line(&before, &after, "0000000000000002.seg"))
			fprintf(stderr, "before:\n%safter:\n%s", before.text,
				after.text);
		CHECK(same_line(&before, &after, "0000000000000001.seg"));
		CHECK(same_line(&before, &after, "0000000000000002.seg"));
		CHECK(strstr(after.text, "0000000000000001.1.seg") == NULL);
		CHECK(strstr(after.text, "0000000000000002.1.seg") == NULL);
	}
	full_check(db, n, kept_after_two_deletes);
	CHECK_OK(lk_close(db));
	CHECK_OK(lk_open(&db, DIR, &o));
	full_check(db, n, kept_after_two_deletes);
	CHECK_OK(lk_close(db));
	fault_free(fs);
}

/* A power cut at every I/O call of deletes and a compaction on a full
 * device (smaller, so that each cut point is quick to reach): the reopen
 * on the still full device finds every key that was not deleted, every
 * acknowledged delete, and each batch of deletes all or nothing. */
#define CUT_DEVICE_BYTES (1152u * 1024u)
#define CUT_DEL_BATCH 64

static int cut_fill(lk_db *db)
{
	lk_batch *b;
	lk_status st = LK_OK;
	int n = 0;

	CHECK_OK(lk_batch_new(&b));
	/* batches first, then single puts for the last bytes */
	for (int size = 16; size >= 1; size /= 16) {
		for (st = LK_OK; st == LK_OK;) {
			for (int i = 0; i < size; i++) {
				char k[16], v[512];
				size_t len;

				full_key(k, n + i);
				len = value_of(v, n + i);
				CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, k,
						      strlen(k), v, len, 0));
			}
			st = lk_commit(db, b);
			if (st == LK_OK)
				n += size;
			lk_batch_clear(b);
		}
		CHECK_ST(LK_NOSPACE, st);
	}
	lk_batch_free(b);
	return n;
}

/* Deletes keys i % 4 != 0 below n in batches; returns how many batches
 * were acknowledged, stopping at the first failure. */
static int cut_deletes(lk_db *db, int n)
{
	lk_batch *b;
	int acked = 0, in = 0;

	CHECK_OK(lk_batch_new(&b));
	for (int i = 0; i < n; i++) {
		char k[16];

		if (i % 4 == 0)
			continue;
		full_key(k, i);
		CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, k, strlen(k)));
		if (++in < CUT_DEL_BATCH && i + 1 < n)
			continue;
		if (lk_commit(db, b) != LK_OK)
			break;
		acked++;
		in = 0;
		lk_batch_clear(b);
	}
	lk_batch_free(b);
	return acked;
}

/* The keys of deleted batch `acked` (the one a cut may have stopped) are
 * all there or all gone; earlier batches are gone, later ones there, and
 * keys never deleted hold their values. */
static void cut_check(lk_db *db, int n, int acked)
{
	int del_no = 0, batch_gone = -1;

	for (int i = 0; i < n; i++) {
		char k[16], v[512];
		size_t len = value_of(v, i), got_len = 0;
		void *got = NULL;
		int batch = del_no / CUT_DEL_BATCH;
		lk_status st;

		full_key(k, i);
		st = lk_get(&got, &got_len, db, LK_NS_DEFAULT, k, strlen(k));
		if (st == LK_OK)
			CHECK(got_len == len && memcmp(got, v, len) == 0);
		else
			CHECK_ST(LK_NOT_FOUND, st);
		lk_free(got);
		if (i % 4 == 0) {
			CHECK_OK(st); /* never deleted */
			continue;
		}
		del_no++;
		if (batch < acked) {
			CHECK_ST(LK_NOT_FOUND, st);
		} else if (batch == acked) {
			if (batch_gone < 0)
				batch_gone = st == LK_NOT_FOUND;
			CHECK(batch_gone == (st == LK_NOT_FOUND));
		} else {
			CHECK_OK(st);
		}
	}
}

static void power_cut_anywhere_while_a_full_device_is_freed(void **state)
{
	uint64_t cuts = 0;

	(void)state;
	for (uint64_t cut = 1;; cut++) {
		struct fault_fs *fs;
		lk_options o;
		lk_db *db;
		lk_status st = LK_OK;
		int n, acked;

		CHECK_OK(fault_new(&fs, cut));
		fault_set_capacity(fs, CUT_DEVICE_BYTES);
		o = test_options(fault_io(fs));
		o.segment_size_bytes = 16u * 1024u;
		CHECK_OK(lk_open(&db, DIR, &o));
		n = cut_fill(db);
		CHECK(n > 250);
		fault_cut_at(fs, cut);
		acked = cut_deletes(db, n);
		if (!fault_is_cut(fs))
			st = lk_compact(db);
		fault_cut_at(fs, 0);
		if (!fault_is_cut(fs)) {
			/* the whole sequence ran: every cut point done */
			CHECK(acked == (n - (n + 3) / 4 + CUT_DEL_BATCH - 1) /
					       CUT_DEL_BATCH);
			CHECK_OK(st);
			CHECK_OK(lk_close(db));
			fault_free(fs);
			break;
		}
		(void)lk_close(db);
		fault_reboot(fs, FAULT_RANDOM, cut * 7919, NULL);
		cuts++;
		CHECK_OK(lk_open(&db, DIR, &o));
		cut_check(db, n, acked);
		CHECK_OK(lk_close(db));
		fault_free(fs);
	}
	print_message("power cuts while a full device is freed: %" PRIu64
		      " states\n", cuts);
	CHECK(cuts > 50);
}

/* ---- compaction totals across opens ---- */

/* The five totals of lk_stats version 5. */
struct totals {
	uint64_t v[5];
};

static struct totals totals_of(lk_db *db)
{
	lk_stats st = LK_STATS_INIT;
	struct totals t;

	CHECK_OK(lk_stats_get(&st, db));
	t.v[0] = st.compactions_total;
	t.v[1] = st.compact_bytes_read_total;
	t.v[2] = st.compact_bytes_written_total;
	t.v[3] = st.compact_segments_removed_total;
	t.v[4] = st.compact_records_dropped_total;
	return t;
}

/* This handle's counts, as totals. */
static struct totals handle_counts(lk_db *db)
{
	lk_stats st = LK_STATS_INIT;

	CHECK_OK(lk_stats_get(&st, db));
	return (struct totals){ { st.compactions, st.compact_bytes_read,
				  st.compact_bytes_written,
				  st.compact_segments_removed,
				  st.compact_records_dropped } };
}

static int same_totals(struct totals a, struct totals b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

static struct totals add_totals(struct totals a, struct totals b)
{
	for (int i = 0; i < 5; i++)
		a.v[i] += b.v[i];
	return a;
}

static void print_totals(const char *what, struct totals t)
{
	fprintf(stderr, "%s: %" PRIu64 " compactions, %" PRIu64 " read, %"
		PRIu64 " written, %" PRIu64 " segments removed, %" PRIu64
		" dropped\n", what, t.v[0], t.v[1], t.v[2], t.v[3], t.v[4]);
}

/* Opens DIR (read-only or not) and returns its totals and the handle's
 * own compactions. */
static struct totals reopen_totals(const lk_options *o, int readonly,
				   uint64_t *own)
{
	lk_options ro = *o;
	struct totals t;
	lk_db *db;

	if (readonly)
		ro.flags |= LK_OPEN_READONLY;
	CHECK_OK(lk_open(&db, DIR, &ro));
	t = totals_of(db);
	*own = handle_counts(db).v[0];
	CHECK_OK(lk_close(db));
	return t;
}

/* The totals are every handle's compactions: a reopen, read-write or
 * read-only, reports those of the handles before it, and a handle's own
 * counts start at zero and add to them. */
static void compaction_totals_survive_reopen(void **state)
{
	struct totals first, second, t;
	uint64_t own = 99;
	lk_options o;
	lk_io *io;
	lk_db *db;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	o = options(io);
	CHECK_OK(lk_open(&db, DIR, &o));
	t = totals_of(db);
	CHECK(same_totals(t, (struct totals){ { 0 } }));
	churn(db, 1500, 11);
	CHECK_OK(lk_compact(db));
	first = totals_of(db);
	CHECK(same_totals(first, handle_counts(db)));
	CHECK(first.v[0] > 0 && first.v[1] > 0 && first.v[2] > 0 &&
	      first.v[3] >= first.v[0] && first.v[4] > 0);
	CHECK_OK(lk_close(db));

	for (int readonly = 1; readonly >= 0; readonly--) {
		t = reopen_totals(&o, readonly, &own);
		if (!same_totals(t, first)) {
			print_totals("want", first);
			print_totals(readonly ? "read-only" : "read-write", t);
		}
		CHECK(same_totals(t, first));
		CHECK(own == 0);
	}

	CHECK_OK(lk_open(&db, DIR, &o));
	churn(db, 800, 12);
	CHECK_OK(lk_compact(db));
	second = totals_of(db);
	CHECK(same_totals(second, add_totals(first, handle_counts(db))));
	CHECK(second.v[0] > first.v[0]);
	CHECK_OK(lk_close(db));
	for (int readonly = 1; readonly >= 0; readonly--) {
		t = reopen_totals(&o, readonly, &own);
		CHECK(same_totals(t, second));
	}
	lk_io_memory_free(io);
}

/* With automatic snapshots off, only lk_snapshot() keeps the totals: a
 * compaction after the last one makes that snapshot useless for the
 * index (it names rewritten segments), yet its totals are still the
 * newest on disk, and a reopen reports them: the old counts, not none
 * and not the lost compaction's. */
static void totals_of_a_snapshot_the_index_cannot_use_still_count(
	void **state)
{
	lk_recovery_report rep = LK_REPORT_INIT;
	struct totals kept, t;
	uint64_t own;
	lk_options o;
	lk_io *io;
	lk_db *db;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	o = options(io);
	o.snapshot_every_bytes = 0;
	CHECK_OK(lk_open(&db, DIR, &o));
	churn(db, 1500, 21);
	CHECK_OK(lk_compact(db));
	CHECK_OK(lk_snapshot(db));
	kept = totals_of(db);
	CHECK(kept.v[0] > 0);
	churn(db, 1500, 22);
	CHECK_OK(lk_compact(db));
	CHECK(totals_of(db).v[0] > kept.v[0]);
	CHECK_OK(lk_close(db)); /* no snapshot: snapshot_every_bytes 0 */

	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(!rep.snapshot_used);
	CHECK(strstr(rep.snapshot_note, "not in the log any more") != NULL);
	t = totals_of(db);
	if (!same_totals(t, kept)) {
		print_totals("want", kept);
		print_totals("got", t);
	}
	CHECK(same_totals(t, kept));
	check_model(db);
	CHECK_OK(lk_close(db));
	t = reopen_totals(&o, 1, &own);
	CHECK(same_totals(t, kept));
	lk_io_memory_free(io);
}

/* A power cut at every I/O call of a compaction and the snapshot after
 * it: every reopen, read-only and read-write, reports the totals from
 * before the compaction or those after it, never anything else. */
static void power_cut_leaves_the_old_or_the_new_totals(void **state)
{
	struct totals before = { { 0 } }, after = { { 0 } };
	uint64_t cuts = 0, olds = 0, news = 0;

	(void)state;
	for (uint64_t cut = 0;; cut++) { /* cut 0: the reference run */
		struct fault_fs *fs;
		lk_options o;
		lk_db *db;

		for (int i = 0; i < NKEYS; i++)
			model[i] = -1;
		CHECK_OK(fault_new(&fs, cut + 1));
		o = options(fault_io(fs));
		CHECK_OK(lk_open(&db, DIR, &o));
		churn(db, 400, 31);
		CHECK_OK(lk_compact(db)); /* totals on disk: `before` */
		churn(db, 400, 32);
		if (cut == 0) {
			before = totals_of(db);
			CHECK_OK(lk_compact(db));
			after = totals_of(db);
			CHECK(after.v[0] > before.v[0] && before.v[0] > 0);
			CHECK_OK(lk_close(db));
			fault_free(fs);
			continue;
		}
		fault_cut_at(fs, cut);
		(void)lk_compact(db);
		fault_cut_at(fs, 0);
		if (!fault_is_cut(fs)) {
			CHECK(same_totals(totals_of(db), after));
			CHECK_OK(lk_close(db));
			fault_free(fs);
			break;
		}
		(void)lk_close(db);
		fault_reboot(fs, FAULT_RANDOM, cut * 104729, NULL);
		cuts++;
		for (int readonly = 1; readonly >= 0; readonly--) {
			uint64_t own;
			struct totals t = reopen_totals(&o, readonly, &own);

			if (!same_totals(t, before) && !same_totals(t, after)) {
				fprintf(stderr, "cut %" PRIu64 ":\n", cut);
				print_totals("before", before);
				print_totals("after", after);
				print_totals("found", t);
			}
			CHECK(same_totals(t, before) || same_totals(t, after));
			if (!readonly) {
				olds += same_totals(t, before);
				news += same_totals(t, after);
			}
		}
		fault_free(fs);
	}
	print_message("power cuts during a compaction and its snapshot: %"
		      PRIu64 " states, %" PRIu64 " with the old totals, %"
		      PRIu64 " with the new\n", cuts, olds, news);
	CHECK(cuts > 20 && olds > 0 && news > 0);
}

/* The keys a compaction repoints are held in an array (32 bytes a key)
 * that only the index's limit bounds, since a single segment is
 * compacted whatever its count: its doubling passes 4 GiB on 32-bit
 * after 2^26 keys.  Its growth refuses a size that does not fit a
 * size_t instead of allocating the wrapped one.  (A test cannot reach
 * 2^26 keys; this is the helper's bound, at the 32-bit values there.) */
static void moved_keys_array_past_size_max_is_refused(void **state)
{
	uint8_t *p;

	(void)state;
	CHECK(mem_realloc_array(NULL, SIZE_MAX / 32 + 1, 32) == NULL);
	CHECK(mem_realloc_array(NULL, SIZE_MAX, 2) == NULL);
	CHECK(mem_realloc_array(NULL, 2, SIZE_MAX / 2 + 1) == NULL);
	p = mem_realloc_array(NULL, 4096, 32);
	CHECK(p != NULL);
	p[4096 * 32 - 1] = 1;
	p = mem_realloc_array(p, 8192, 32);
	CHECK(p != NULL && p[4096 * 32 - 1] == 1);
	mem_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keeps_every_live_record_and_drops_every_dead_one),
		cmocka_unit_test(deleted_keys_never_come_back),
		cmocka_unit_test(expired_records_are_dropped),
		cmocka_unit_test(power_cut_anywhere_in_a_compaction),
		cmocka_unit_test(verify_reports_leftovers_and_open_removes_them),
		cmocka_unit_test(misuse_and_options),
		cmocka_unit_test(background_compaction_under_load),
		cmocka_unit_test(read_only_opens_beside_compactions_succeed),
		cmocka_unit_test(compaction_refused_for_damage_changes_nothing),
		cmocka_unit_test(
			full_device_is_recovered_by_deletes_and_compaction),
		cmocka_unit_test(background_compaction_frees_a_full_device),
		cmocka_unit_test(
			compaction_that_does_not_fit_leaves_the_log_as_it_was),
		cmocka_unit_test(
			power_cut_anywhere_while_a_full_device_is_freed),
		cmocka_unit_test(compaction_totals_survive_reopen),
		cmocka_unit_test(
			totals_of_a_snapshot_the_index_cannot_use_still_count),
		cmocka_unit_test(power_cut_leaves_the_old_or_the_new_totals),
		cmocka_unit_test(moved_keys_array_past_size_max_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
