/* SPDX-License-Identifier: MIT */
/*
 * test_scrub.c - damage in the part of the log that open does not read
 * (SPEC §5, §6): what open, lk_scrub() and lk_verify() each report.
 *
 * Method: a database of a few 4 KiB segments on the in-memory layer,
 * closed with an index snapshot, so that the next open loads the snapshot
 * and reads none of the sealed segments.  One bit is flipped in a record
 * in the middle of the log (not at its tail, not in the snapshot), and the
 * test follows what each of the three sees.  Clean logs - after writes,
 * a reopen (the active segment's hash is then read back at its seal),
 * compactions - must scrub clean, so that the check cannot pass by
 * reporting everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"

#define DIR "/db"
#define SEG2 "0000000000000002.seg"
#define KEYS 300

static lk_io *mem;

static int setup(void **state)
{
	(void)state;
	CHECK_OK(lk_io_memory_new(&mem));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	lk_io_memory_free(mem);
	mem = NULL;
	return 0;
}

static lk_options options(void)
{
	lk_options o = test_options(mem);

	o.segment_size_bytes = 4096;
	return o;
}

static void put_range(lk_db *db, int from, int to, int round)
{
	for (int i = from; i < to; i++) {
		char k[16], v[64];

		snprintf(k, sizeof k, "key%04d", i);
		snprintf(v, sizeof v, "value-%04d-round-%d-0123456789", i, round);
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, k, strlen(k), v, strlen(v),
				0));
	}
}

/* What a scrub or verify reported (the first problem). */
struct seen {
	int problems;
	uint64_t seq, offset;
	lk_problem_kind kind;
};

static void on_problem(void *arg, const lk_problem *p)
{
	struct seen *s = arg;

	if (p->kind == LK_PROBLEM_TORN_TAIL || p->kind == LK_PROBLEM_LEFTOVER)
		return;
	if (!s->problems++) {
		s->seq = p->segment_seq;
		s->offset = p->offset;
		s->kind = p->kind;
	}
	CHECK(p->file && p->what && p->what[0]);
}

static void make_db(void)
{
	lk_options o = options();
	lk_db *db;

	CHECK_OK(lk_open(&db, DIR, &o));
	put_range(db, 0, KEYS, 0);
	CHECK_OK(lk_snapshot(db));
	CHECK_OK(lk_close(db));
}

/* The offset of a put in the middle of segment 2 (not its first record,
 * not its last). */
static uint64_t middle_record(void)
{
	struct rec_list l;

	list_records(&l, mem, DIR, SEG2);
	CHECK(l.n > 8);
	for (size_t i = l.n / 2; i < l.n; i++)
		if (l.v[i].type == REC_PUT)
			return l.v[i].offset;
	CHECK(0 && "no put in segment 2");
	return 0;
}

static void mid_log_bit_flip_behind_a_snapshot(void **state)
{
	lk_options o = options();
	struct seen scrubbed = { 0 }, verified = { 0 };
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_stats st = LK_STATS_INIT;
	uint64_t at;
	lk_db *db;

	(void)state;
	make_db();
	at = middle_record();
	flip_bit(mem, DIR, SEG2, at + 12, 3); /* in the key or value */

	/* Open: loads the snapshot and does not read segment 2. */
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.snapshot_used);
	CHECK(rep.records_replayed == 0);

	/* The scrub names the segment and the record. */
	CHECK_ST(LK_CORRUPT, lk_scrub(db, on_problem, &scrubbed));
	CHECK(strstr(lk_errmsg(), "segment 2") != NULL);
	CHECK(scrubbed.problems == 1 && scrubbed.kind == LK_PROBLEM_CORRUPT);
	CHECK(scrubbed.seq == 2 && scrubbed.offset == at);
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(st.scrub_damage == 1);
	CHECK(st.scrub_segments == st.segment_count);
	CHECK(st.scrub_bytes > 0);

	/* Nothing more is acknowledged on top of it; reads go on. */
	CHECK_ST(LK_CORRUPT, lk_put(db, LK_NS_DEFAULT, "new", 3, "v", 1, 0));
	CHECK(strstr(lk_errmsg(), "scrub found damage") != NULL);
	CHECK_OK(lk_exists(db, LK_NS_DEFAULT, "key0299", 7));
	CHECK_OK(lk_close(db));

	/* Verify reads everything and names the same place. */
	CHECK_ST(LK_CORRUPT, lk_verify(&rep, DIR, &o, on_problem, &verified));
	CHECK(verified.seq == 2 && verified.offset == at);
}

/* The active segment, before the snapshot's position, is not read by
 * open either: the scrub walks it up to its data end. */
static void bit_flip_in_the_active_segment_behind_a_snapshot(void **state)
{
	lk_options o = options();
	struct seen seen = { 0 };
	char name[SEG_NAME_BYTES];
	lk_segment_info segs[64];
	lk_recovery_report rep = LK_REPORT_INIT;
	struct rec_list l;
	size_t n;
	lk_db *db;

	(void)state;
	make_db();
	segs[0].version = LK_SEGMENT_INFO_VERSION;
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_segment_list(segs, 64, &n, db));
	CHECK_OK(lk_close(db));
	seg_name(name, segs[n - 1].seq, 0);
	list_records(&l, mem, DIR, name);
	CHECK(l.n >= 2 && l.v[0].type == REC_PUT);
	flip_bit(mem, DIR, name, l.v[0].offset + 10, 0);

	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.snapshot_used);
	CHECK_ST(LK_CORRUPT, lk_scrub(db, on_problem, &seen));
	CHECK(seen.seq == segs[n - 1].seq && seen.offset == l.v[0].offset);
	CHECK_OK(lk_close(db));
}

static void clean_log_scrubs_clean(lk_db *db)
{
	struct seen seen = { 0 };
	lk_stats st = LK_STATS_INIT;

	CHECK_OK(lk_scrub(db, on_problem, &seen));
	CHECK(seen.problems == 0);
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(st.scrub_damage == 0);
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "after", 5, "scrub", 5, 0));
}

/* Seals written from the running hash, from a hash read back after a
 * reopen, and by compaction all agree with the bytes. */
static void clean_logs_scrub_clean(void **state)
{
	lk_options o = options();
	lk_recovery_report rep = LK_REPORT_INIT;
	struct seen seen = { 0 };
	lk_db *db;

	(void)state;
	CHECK_OK(lk_open(&db, DIR, &o));
	put_range(db, 0, KEYS, 0);
	clean_log_scrubs_clean(db);
	CHECK_OK(lk_close(db));

	CHECK_OK(lk_open(&db, DIR, &o)); /* the active one's hash is gone */
	put_range(db, 0, KEYS, 1);       /* its seal reads it back */
	clean_log_scrubs_clean(db);
	CHECK_OK(lk_compact(db));
	clean_log_scrubs_clean(db);
	CHECK_OK(lk_close(db));

	CHECK_OK(lk_verify(&rep, DIR, &o, on_problem, &seen));
	CHECK(seen.problems == 0);
}

/* A seal whose hash does not match the bytes, though every record passes
 * its own checksum (a forged or misdirected write): scrub and verify name
 * the seal. */
static void seal_hash_mismatch_is_named_at_the_seal(void **state)
{
	lk_options o = options();
	struct seen scrubbed = { 0 }, verified = { 0 };
	lk_recovery_report rep = LK_REPORT_INIT;
	struct rec_list l;
	struct record seal = { 0 };
	uint8_t buf[64];
	struct blob b;
	struct seg_header h;
	const char *why = NULL;
	uint64_t at;
	size_t len;
	lk_db *db;

	(void)state;
	make_db();
	list_records(&l, mem, DIR, SEG2);
	CHECK(l.v[l.n - 1].type == REC_SEAL);
	at = l.v[l.n - 1].offset;
	b = file_read(mem, DIR, SEG2);
	CHECK_OK_WHY(seg_header_decode(&h, b.p, &why), why);
	CHECK_OK_WHY(record_decode(&seal, b.p + at, b.n - (size_t)at,
				   h.record_seq_base,
				   record_seed(record_hash(h.db_id,
							   SEG_DB_ID_BYTES, 0),
					       h.seq, h.generation, at),
				   &why),
		     why);
	CHECK(seal.flags & REC_F_SEG_HASH);
	seal.seg_hash ^= 1;
	len = record_encode(buf, &seal, h.record_seq_base,
			    record_seed(record_hash(h.db_id, SEG_DB_ID_BYTES,
						    0),
					h.seq, h.generation, at));
	CHECK(len == l.v[l.n - 1].size);
	corrupt_bytes(mem, DIR, SEG2, at, buf, len);
	free(b.p);

	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_ST(LK_CORRUPT, lk_scrub(db, on_problem, &scrubbed));
	CHECK(scrubbed.seq == 2 && scrubbed.offset == at);
	CHECK(strstr(lk_errmsg(), "segment hash mismatch") != NULL);
	CHECK_OK(lk_close(db));
	CHECK_ST(LK_CORRUPT, lk_verify(&rep, DIR, &o, on_problem, &verified));
	CHECK(verified.seq == 2 && verified.offset == at);
}

/* The background scrub finds the same damage by itself, at its rate, on
 * the I/O layer's clock (simulated here: it runs only as the test moves
 * the clock), tells scrub_fn, and latches the handle. */
static void background_scrub_finds_damage_at_its_rate(void **state)
{
	lk_options o = options();
	struct seen seen = { 0 };
	lk_stats st = LK_STATS_INIT;
	uint64_t at, before;
	lk_db *db;

	(void)state;
	make_db();
	at = middle_record();
	flip_bit(mem, DIR, SEG2, at + 12, 3);
	o.scrub_rate_bytes = 4096; /* a segment a second */
	o.scrub_fn = on_problem;
	o.scrub_arg = &seen;
	CHECK_OK(lk_open(&db, DIR, &o));

	/* Nothing before its start delay... */
	lk_io_memory_advance_us(mem, 900 * 1000);
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(st.scrub_segments == 0 && seen.problems == 0);
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "early", 5, "write", 5, 0));

	/* ... then about a segment a second ... */
	lk_io_memory_advance_us(mem, 2500 * 1000);
	CHECK_OK(lk_stats_get(&st, db));
	before = st.scrub_segments;
	CHECK(before >= 2 && before <= 4);
	CHECK(st.segment_count > before); /* not all of them yet */

	/* ... until the pass is done: 20 s is more than it needs. */
	lk_io_memory_advance_us(mem, 20 * 1000 * 1000);
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(st.scrub_passes == 1);
	CHECK(st.scrub_damage == 1);
	CHECK(seen.problems == 1 && seen.seq == 2 && seen.offset == at);
	CHECK_ST(LK_CORRUPT, lk_put(db, LK_NS_DEFAULT, "late", 4, "w", 1, 0));
	CHECK_OK(lk_close(db));
}

/* A clean log: the background scrub finds nothing and writes go on. */
static void background_scrub_of_a_clean_log_changes_nothing(void **state)
{
	lk_options o = options();
	struct seen seen = { 0 };
	lk_stats st = LK_STATS_INIT;
	lk_db *db;

	(void)state;
	make_db();
	o.scrub_rate_bytes = 1024 * 1024;
	o.scrub_fn = on_problem;
	o.scrub_arg = &seen;
	CHECK_OK(lk_open(&db, DIR, &o));
	lk_io_memory_advance_us(mem, 5 * 1000 * 1000);
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(st.scrub_passes == 1 && st.scrub_damage == 0);
	CHECK(st.scrub_segments == st.segment_count);
	CHECK(seen.problems == 0);
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "after", 5, "scrub", 5, 0));
	CHECK_OK(lk_close(db));
}

/* The snapshot goes bad after open loaded it: the scrub reads it whole,
 * names it, counts it, and latches nothing (the log is intact; the next
 * open replays it instead). */
static lk_status snap_name_one(void *arg, const char *name)
{
	size_t n = strlen(name);

	if (n > 5 && strcmp(name + n - 5, ".snap") == 0)
		snprintf(arg, 64, "%.63s", name);
	return LK_OK;
}

static void damaged_snapshot_is_reported_not_latched(void **state)
{
	lk_options o = options();
	struct seen seen = { 0 };
	char name[64] = "";
	lk_recovery_report rep = LK_REPORT_INIT;
	struct blob b;
	lk_io_dir *d;
	lk_db *db;

	(void)state;
	make_db();
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.snapshot_used);
	CHECK_OK(mem->dir_open(mem->ctx, DIR, 0, &d));
	CHECK_OK(mem->dir_list(mem->ctx, d, snap_name_one, name));
	mem->dir_close(mem->ctx, d);
	CHECK(name[0]);
	b = file_read(mem, DIR, name);
	CHECK(b.n > 200);
	free(b.p);
	flip_bit(mem, DIR, name, b.n - 40, 2); /* in the entries */

	CHECK_ST(LK_CORRUPT, lk_scrub(db, on_problem, &seen));
	CHECK(seen.problems == 1 && seen.seq == 0);
	CHECK(strstr(lk_errmsg(), "snapshot") != NULL);
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "still", 5, "writes", 6, 0));
	CHECK_OK(lk_close(db));
	CHECK_OK(lk_open(&db, DIR, &o)); /* the log, replayed */
	CHECK_OK(lk_exists(db, LK_NS_DEFAULT, "still", 5));
	CHECK_OK(lk_close(db));
}

/* An I/O table over `inner` that counts what threads other than the
 * test's read of segment and snapshot files: the background scrub's
 * reads, here.  Armed with gate_at, it also holds the first such read of
 * a segment at that offset until the handle's sleeps are stopped (the
 * scrub's wait_stop, which lk_close() calls), and counts what that thread
 * reads after it in after_gate. */
static const lk_io *inner;
static pthread_t test_thread;
static pthread_mutex_t watch_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cv = PTHREAD_COND_INITIALIZER;
static lk_io_file *watched[64];
static int watched_snap[64];
static _Atomic uint64_t bg_seg_bytes, bg_snap_bytes;
static uint64_t gate_at;     /* 0: no gate */
static int gate_held, gate_passed, stop_seen;
static pthread_t gate_thread;
static uint64_t after_gate;

static lk_status watch_open(void *ctx, lk_io_dir *dir, const char *name,
			    uint32_t flags, lk_io_file **f)
{
	lk_status st = inner->open(ctx, dir, name, flags, f);
	size_t n = strlen(name);
	int snap = n > 5 && strcmp(name + n - 5, ".snap") == 0;

	pthread_mutex_lock(&watch_mu);
	if (st == LK_OK && (snap || (n > 4 && !strcmp(name + n - 4, ".seg"))))
		for (int i = 0; i < 64; i++)
			if (!watched[i]) {
				watched[i] = *f;
				watched_snap[i] = snap;
				break;
			}
	pthread_mutex_unlock(&watch_mu);
	return st;
}

/* Holds the gated read until stop_seen (30 s at most: a test that fails,
 * not one that hangs). */
static void hold_at_gate(void)
{
	struct timespec give_up;

	clock_gettime(CLOCK_REALTIME, &give_up);
	give_up.tv_sec += 30;
	gate_held = 1;
	gate_thread = pthread_self();
	pthread_cond_broadcast(&watch_cv);
	while (!stop_seen)
		if (pthread_cond_timedwait(&watch_cv, &watch_mu, &give_up))
			break;
	gate_passed = 1;
}

static lk_status watch_pread(void *ctx, lk_io_file *f, void *buf, size_t n,
			     uint64_t off, size_t *got)
{
	lk_status st = inner->pread(ctx, f, buf, n, off, got);
	int i;

	pthread_mutex_lock(&watch_mu);
	for (i = 0; i < 64 && f != watched[i]; i++)
		;
	if (st == LK_OK && i < 64 &&
	    !pthread_equal(pthread_self(), test_thread)) {
		atomic_fetch_add(watched_snap[i] ? &bg_snap_bytes
						 : &bg_seg_bytes,
				 *got);
		if (gate_passed && pthread_equal(pthread_self(), gate_thread))
			after_gate += *got;
		else if (gate_at && !gate_held && !watched_snap[i] &&
			 off == gate_at)
			hold_at_gate();
	}
	pthread_mutex_unlock(&watch_mu);
	return st;
}

static void watch_wait_stop(void *ctx, lk_io_wait *w)
{
	pthread_mutex_lock(&watch_mu);
	stop_seen = 1;
	pthread_cond_broadcast(&watch_cv);
	pthread_mutex_unlock(&watch_mu);
	inner->wait_stop(ctx, w);
}

static void watch_close(void *ctx, lk_io_file *f)
{
	pthread_mutex_lock(&watch_mu);
	for (int i = 0; i < 64; i++)
		if (watched[i] == f)
			watched[i] = NULL;
	pthread_mutex_unlock(&watch_mu);
	inner->close(ctx, f);
}

static lk_io watching(const lk_io *io)
{
	lk_io w = *io;

	inner = io;
	test_thread = pthread_self();
	atomic_store(&bg_seg_bytes, 0);
	atomic_store(&bg_snap_bytes, 0);
	gate_at = 0;
	gate_held = gate_passed = stop_seen = 0;
	after_gate = 0;
	w.open = watch_open;
	w.pread = watch_pread;
	w.close = watch_close;
	w.wait_stop = watch_wait_stop;
	return w;
}

/* A database of 3,000 incompressible 2,000-byte values in 4 MiB
 * segments (the first sealed, the second active), closed with a
 * snapshot. */
static void make_big_db(const char *dir, lk_options o)
{
	uint8_t v[2000];
	uint64_t x = 1;
	lk_batch *b;
	lk_db *db;

	o.segment_size_bytes = 4u << 20;
	CHECK_OK(lk_open(&db, dir, &o));
	CHECK_OK(lk_batch_new(&b));
	for (int i = 0; i < 3000; i++) {
		char k[16];

		for (size_t j = 0; j < sizeof v; j++) {
			x = x * 6364136223846793005u + 1442695040888963407u;
			v[j] = (uint8_t)(x >> 56);
		}
		snprintf(k, sizeof k, "key%05d", i);
		CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, k, strlen(k), v,
				      sizeof v, 0));
		if (lk_batch_count(b) == 50)
			CHECK_OK(lk_commit(db, b));
	}
	lk_batch_free(b);
	CHECK_OK(lk_snapshot(db));
	CHECK_OK(lk_close(db));
}

/* The background scrub reads at its rate a slice at a time, not a segment
 * at a time: in the middle of a 4 MiB segment it sleeps after 1 MiB.  And
 * a closing handle stops it where it is: lk_close() once waited while it
 * read the rest of the segment it was in and then the whole snapshot
 * (16 MiB and 12 MiB on a large database: seconds on a router's flash). */
static void a_closing_handle_stops_the_scrub_where_it_is(void **state)
{
	lk_options o = options();
	lk_io watch = watching(mem);
	lk_db *db;

	(void)state;
	make_big_db(DIR, o);
	o.io = &watch;
	o.scrub_rate_bytes = 1u << 20; /* a slice a second */
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK(atomic_load(&bg_seg_bytes) == 0);
	/* Its start delay is a second: then it reads one slice of the first
	 * segment (a step is 64 KiB) and sleeps. */
	lk_io_memory_advance_us(mem, 1100 * 1000);
	CHECK(atomic_load(&bg_seg_bytes) >= (1u << 20));
	CHECK(atomic_load(&bg_seg_bytes) <= (1u << 20) + (64u << 10));
	CHECK(atomic_load(&bg_snap_bytes) == 0);

	atomic_store(&bg_seg_bytes, 0);
	CHECK_OK(lk_close(db));
	CHECK(atomic_load(&bg_seg_bytes) == 0);
	CHECK(atomic_load(&bg_snap_bytes) == 0);
	for (int i = 0; i < 64; i++)
		CHECK(watched[i] == NULL);
}

/* A close that comes while the scrub reads (not while it sleeps) stops it
 * after that read: the scrub looks at the handle's closing between its
 * 64 KiB steps, not only at its next sleep, a MiB later.  On the system's
 * I/O and clock: the in-memory layer's clock waits for the scrub to sleep,
 * which a read held at the gate never does.  Takes the scrub's start
 * delay, a second. */
static void a_close_during_a_read_stops_the_scrub_after_it(void **state)
{
	lk_options o = test_options(lk_io_posix());
	lk_io watch;
	char dir[128];
	lk_db *db;
	int held;

	(void)state;
	CHECK(make_temp_dir(dir, sizeof dir, "scrubstop") == 0);
	o.sync = LK_SYNC_NONE;
	make_big_db(dir, o);
	watch = watching(lk_io_posix());
	o.io = &watch;
	o.scrub_rate_bytes = 1u << 20;
	CHECK_OK(lk_open(&db, dir, &o));
	/* the hash's second step in the first segment it reads */
	pthread_mutex_lock(&watch_mu);
	gate_at = 64u << 10;
	stop_seen = 0; /* whatever open stopped */
	{
		struct timespec give_up;

		clock_gettime(CLOCK_REALTIME, &give_up);
		give_up.tv_sec += 30;
		while (!gate_held)
			if (pthread_cond_timedwait(&watch_cv, &watch_mu,
						   &give_up))
				break;
	}
	held = gate_held;
	pthread_mutex_unlock(&watch_mu);
	CHECK(held);
	CHECK_OK(lk_close(db));
	CHECK(gate_passed);
	CHECK(after_gate == 0);
	CHECK(atomic_load(&bg_snap_bytes) == 0);
	CHECK(remove_tree(dir) == 0);
}

/* Damage that the scrub has found, a segment hash that does not match,
 * is reported even when a close stops the walk that looks for the bad
 * record: named at the seal, as when the walk finds no bad record.  A
 * stopped walk once dropped it: no report, no latch. */
static void damage_found_before_a_close_is_reported(void **state)
{
	static struct rec_list l;
	lk_options o = options();
	lk_io watch = watching(mem);
	struct seen seen = { 0 }, full = { 0 };
	uint64_t at = 0, seal = 0;
	lk_db *db;

	(void)state;
	make_big_db(DIR, o);
	list_records(&l, mem, DIR, "0000000000000001.seg");
	for (size_t i = 0; i < l.n; i++) {
		if (l.v[i].type == REC_PUT && !at &&
		    l.v[i].offset > (7u << 19)) /* past 3.5 MiB */
			at = l.v[i].offset;
		if (l.v[i].type == REC_SEAL)
			seal = l.v[i].offset;
	}
	CHECK(at > 0 && seal > at);
	flip_bit(mem, DIR, "0000000000000001.seg", at + 40, 3);

	o.io = &watch;
	o.scrub_rate_bytes = 1u << 20;
	o.scrub_fn = on_problem;
	o.scrub_arg = &seen;
	CHECK_OK(lk_open(&db, DIR, &o));
	/* the hash of the whole segment, then the walk's first window */
	for (int i = 0; i < 30 && atomic_load(&bg_seg_bytes) < (9u << 19); i++)
		lk_io_memory_advance_us(mem, 1000 * 1000);
	CHECK(atomic_load(&bg_seg_bytes) >= (9u << 19));
	CHECK(atomic_load(&bg_seg_bytes) < (6u << 20));
	CHECK(seen.problems == 0); /* the walk is far from the record */
	(void)lk_close(db);
	CHECK(seen.problems == 1 && seen.seq == 1 && seen.offset == seal);

	/* a whole pass names the record itself */
	o = options();
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_ST(LK_CORRUPT, lk_scrub(db, on_problem, &full));
	CHECK(full.problems == 1 && full.seq == 1 && full.offset == at);
	(void)lk_close(db);
}

/* Scrubs beside a writer on real files (ThreadSanitizer runs this suite):
 * the segments it pins stay readable while compaction and rotation go on,
 * and nothing the writer does looks like damage. */
struct writer_arg {
	lk_db *db;
	_Atomic int done;
};

static void *writer_main(void *p)
{
	struct writer_arg *w = p;

	for (int round = 0; round < 6; round++) {
		put_range(w->db, 0, KEYS, round);
		CHECK_OK(lk_compact(w->db));
	}
	atomic_store(&w->done, 1);
	return NULL;
}

static void scrub_beside_a_writer_finds_nothing(void **state)
{
	lk_options o = test_options(lk_io_posix());
	struct writer_arg w = { 0 };
	struct seen seen = { 0 };
	char dir[128];
	pthread_t t;
	int scrubs = 0;

	(void)state;
	CHECK(make_temp_dir(dir, sizeof dir, "scrub") == 0);
	o.segment_size_bytes = 4096;
	o.sync = LK_SYNC_NONE;
	CHECK_OK(lk_open(&w.db, dir, &o));
	CHECK(pthread_create(&t, NULL, writer_main, &w) == 0);
	while (!atomic_load(&w.done) || scrubs == 0) {
		CHECK_OK(lk_scrub(w.db, on_problem, &seen));
		scrubs++;
	}
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(seen.problems == 0);
	CHECK_OK(lk_close(w.db));
	CHECK(remove_tree(dir) == 0);
}

/* lk_verify over the system's I/O reads the next segment ahead on a
 * helper thread (recovery.c): with it, verify says what it says over the
 * in-memory layer, clean and damaged (run under ThreadSanitizer in CI). */
static void verify_with_read_ahead(void **state)
{
	lk_options o = test_options(lk_io_posix());
	lk_recovery_report rep = LK_REPORT_INIT;
	struct seen seen = { 0 };
	struct rec_list l;
	char dir[128];
	uint64_t at = 0;
	lk_db *db;

	(void)state;
	CHECK(make_temp_dir(dir, sizeof dir, "verify") == 0);
	o.segment_size_bytes = 4096;
	o.sync = LK_SYNC_NONE;
	CHECK_OK(lk_open(&db, dir, &o));
	for (int round = 0; round < 4; round++)
		put_range(db, 0, KEYS, round);
	CHECK_OK(lk_snapshot(db));
	CHECK_OK(lk_close(db));

	CHECK_OK(lk_verify(&rep, dir, &o, on_problem, &seen));
	CHECK(seen.problems == 0 && rep.records_replayed == 4 * KEYS &&
	      rep.segments_read > 10);

	list_records(&l, lk_io_posix(), dir, SEG2);
	for (size_t i = l.n / 2; i < l.n && !at; i++)
		if (l.v[i].type == REC_PUT)
			at = l.v[i].offset;
	CHECK(at > 0);
	flip_bit(lk_io_posix(), dir, SEG2, at + 12, 3);
	CHECK_ST(LK_CORRUPT, lk_verify(&rep, dir, &o, on_problem, &seen));
	CHECK(seen.problems == 1 && seen.seq == 2 && seen.offset == at);
	CHECK(remove_tree(dir) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(mid_log_bit_flip_behind_a_snapshot),
		T(bit_flip_in_the_active_segment_behind_a_snapshot),
		T(clean_logs_scrub_clean),
		T(seal_hash_mismatch_is_named_at_the_seal),
		T(background_scrub_finds_damage_at_its_rate),
		T(background_scrub_of_a_clean_log_changes_nothing),
		T(scrub_beside_a_writer_finds_nothing),
		T(damaged_snapshot_is_reported_not_latched),
		T(a_closing_handle_stops_the_scrub_where_it_is),
		T(a_close_during_a_read_stops_the_scrub_after_it),
		T(damage_found_before_a_close_is_reported),
		T(verify_with_read_ahead),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
