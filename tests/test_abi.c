/* SPDX-License-Identifier: MIT */
/*
 * test_abi.c - a program built against an older logkeep.h keeps its
 * memory when it runs against this library (logkeep.h convention 5).
 *
 * Goal: every struct the library reads or writes for a caller is read or
 * written at the version the caller set, never a byte past it; a version
 * of 0 or one newer than the library's is LK_INVALID with nothing
 * written.
 *
 * Method: black box, the public header only.  Each older version of
 * lk_options, lk_stats and lk_recovery_report is declared here exactly as
 * that version of logkeep.h declared it (see `git log -p
 * include/logkeep.h`), inside a struct followed by a canary of 0xa5
 * bytes, and so is the newest version.  The library is called with the
 * version set; the canary must be untouched and the fields of that
 * version must agree with what the newest version of the struct reports.
 * Structs the library only reads are allocated at their exact size, so
 * that ASan catches a read past them.  lk_segment_info is checked the
 * same way as an array, whose elements the library must step through at
 * the caller's size, and lk_ns_stats (one version so far) as a struct.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "logkeep.h"

/* ---------------------------------------------------------------------- */
/* The old layouts, as their logkeep.h declared them                      */
/* ---------------------------------------------------------------------- */

/* lk_options version 1 (c29dcaf .. 6737bb8) */
struct options_v1 {
	uint32_t version;
	uint32_t flags;
	lk_sync_mode sync;
	uint32_t sync_interval_ms;
	uint64_t segment_size_bytes;
	const struct lk_io *io;
};

/* lk_options version 2 (359b4ed .. 942c3cd) */
struct options_v2 {
	uint32_t version;
	uint32_t flags;
	lk_sync_mode sync;
	uint32_t sync_interval_ms;
	uint64_t segment_size_bytes;
	const struct lk_io *io;
	uint32_t compact_dead_pct;
	uint32_t compact_idle_pct;
	uint32_t compact_idle_ms;
	uint64_t compact_rate_bytes;
};

/* lk_options version 4 (7b24d16 .. 2740324) */
struct options_v4 {
	struct options_v2 v2;
	uint64_t snapshot_every_bytes;
	uint64_t scrub_rate_bytes;
	lk_problem_fn scrub_fn;
	void *scrub_arg;
};

/* lk_options version 6 (a6297d6 .. f4c7922): version 5 added
 * reserve_bytes, version 6 map_bytes_max */
struct options_v6 {
	struct options_v4 v4;
	uint64_t reserve_bytes;
	uint64_t map_bytes_max;
};

/* lk_stats version 1 (c29dcaf .. 6737bb8) */
struct stats_v1 {
	uint32_t version;
	uint32_t segment_count;
	uint64_t live_keys;
	uint64_t disk_bytes;
	uint64_t live_bytes;
	uint64_t dead_bytes;
	uint64_t index_bytes;
	uint64_t index_slots;
	uint64_t seq_last;
	uint64_t commits;
	uint64_t sync_calls;
	uint64_t write_groups;
};

/* lk_stats version 2 (as 942c3cd left it) */
struct stats_v2 {
	struct stats_v1 v1;
	uint64_t log_bytes_written;
	uint64_t compactions;
	uint64_t compact_bytes_read;
	uint64_t compact_bytes_written;
	uint64_t compact_segments_removed;
	uint64_t compact_records_dropped;
	uint64_t compact_us;
	uint64_t compact_stall_max_us;
	uint64_t compact_failures;
};

/* lk_stats version 4 (as 77206f9 left it) */
struct stats_v4 {
	struct stats_v2 v2;
	uint64_t snapshot_serial;
	uint64_t snapshot_age_ms;
	uint64_t snapshot_behind_bytes;
	uint64_t snapshots_written;
	uint64_t snapshot_bytes_written;
	uint64_t snapshot_failures;
	uint64_t scrub_segments;
	uint64_t scrub_bytes;
	uint64_t scrub_damage;
	uint64_t scrub_passes;
};

/* lk_stats version 6 (a6297d6 .. f4c7922): version 5 added the
 * compaction totals, version 6 the mappings */
struct stats_v6 {
	struct stats_v4 v4;
	uint64_t compactions_total;
	uint64_t compact_bytes_read_total;
	uint64_t compact_bytes_written_total;
	uint64_t compact_segments_removed_total;
	uint64_t compact_records_dropped_total;
	uint64_t map_bytes;
	uint32_t map_segments;
	uint32_t pread_segments;
};

/* lk_recovery_report version 1 (c29dcaf .. 6737bb8): version 2 inserted
 * compaction_leftovers before seq_last. */
struct report_v1 {
	uint32_t version;
	uint32_t segments_read;
	uint64_t records_replayed;
	uint64_t records_discarded;
	uint64_t bytes_cut;
	uint64_t cut_segment_seq;
	uint64_t cut_offset;
	uint64_t zero_tail_bytes;
	uint64_t segments_removed;
	uint64_t seq_last;
	uint64_t duration_us;
	int snapshot_used;
	char snapshot_note[LK_NOTE_BYTES];
	char tail_note[LK_NOTE_BYTES];
};

/* lk_recovery_report version 3 (74d30e1 .. 2270710): version 4 added
 * snapshot_damaged at the end. */
struct report_v3 {
	uint32_t version;
	uint32_t segments_read;
	uint64_t records_replayed;
	uint64_t records_discarded;
	uint64_t bytes_cut;
	uint64_t cut_segment_seq;
	uint64_t cut_offset;
	uint64_t zero_tail_bytes;
	uint64_t segments_removed;
	uint64_t compaction_leftovers;
	uint64_t seq_last;
	uint64_t duration_us;
	int snapshot_used;
	char snapshot_note[LK_NOTE_BYTES];
	char tail_note[LK_NOTE_BYTES];
	uint64_t replaced_unread;
	uint64_t replaced_read;
};

#define CANARY_BYTES 64
#define CANARY 0xa5

/* A struct of the caller's version, then the canary. */
#define GUARDED(type)                                                        \
	struct {                                                             \
		type s;                                                      \
		uint8_t canary[CANARY_BYTES];                                \
	}

static void fill(void *p, size_t size)
{
	memset(p, CANARY, size);
}

static int untouched(const uint8_t *p, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (p[i] != CANARY)
			return 0;
	return 1;
}

/* ---------------------------------------------------------------------- */
/* The fixture                                                            */
/* ---------------------------------------------------------------------- */

#define KEYS 300

struct fixture {
	char root[64];
	char path[128];
	lk_db *db;
	lk_stats stats;           /* the newest version, for comparison */
	lk_recovery_report report;
};

/* A database of several 4 KiB segments, reopened (so that the report
 * counts records) and written once more (so that commits count). */
static int setup(void **state)
{
	static struct fixture fx;
	lk_options o = LK_OPTIONS_INIT;
	char key[32];

	memset(&fx, 0, sizeof fx);
	if (make_temp_dir(fx.root, sizeof fx.root, "abi") != 0)
		return -1;
	snprintf(fx.path, sizeof fx.path, "%s/db", fx.root);
	o.segment_size_bytes = LK_SEGMENT_SIZE_MIN_BYTES;
	if (lk_open(&fx.db, fx.path, &o) != LK_OK)
		return -1;
	for (int i = 0; i < KEYS; i++) {
		snprintf(key, sizeof key, "key-%04d", i);
		if (lk_put(fx.db, LK_NS_DEFAULT, key, strlen(key), "value", 5,
			   0) != LK_OK)
			return -1;
	}
	if (lk_close(fx.db) != LK_OK ||
	    lk_open(&fx.db, fx.path, &o) != LK_OK ||
	    lk_put(fx.db, LK_NS_DEFAULT, "key-0000", 8, "again", 5, 0) != LK_OK)
		return -1;
	fx.stats.version = LK_STATS_VERSION;
	fx.report.version = LK_REPORT_VERSION;
	if (lk_stats_get(&fx.stats, fx.db) != LK_OK ||
	    lk_recovery(&fx.report, fx.db) != LK_OK)
		return -1;
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	lk_status st = lk_close(fx->db);

	remove_tree(fx->root);
	return st == LK_OK ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* lk_stats                                                               */
/* ---------------------------------------------------------------------- */

static void check_stats_v1(const struct stats_v1 *s, const lk_stats *now)
{
	assert_int_equal(s->version, 1);
	assert_int_equal(s->segment_count, now->segment_count);
	assert_int_equal(s->live_keys, KEYS);
	assert_int_equal(s->disk_bytes, now->disk_bytes);
	assert_int_equal(s->live_bytes, now->live_bytes);
	assert_int_equal(s->dead_bytes, now->dead_bytes);
	assert_int_equal(s->index_slots, now->index_slots);
	assert_int_equal(s->seq_last, now->seq_last);
	assert_int_equal(s->commits, 1);
	assert_true(s->segment_count > 2);
}

static void stats_version_1_fills_its_fields_and_not_a_byte_more(void **state)
{
	struct fixture *fx = *state;
	GUARDED(struct stats_v1) g;

	fill(&g, sizeof g);
	g.s.version = 1;
	CHECK_OK(lk_stats_get((lk_stats *)(void *)&g.s, fx->db));
	assert_true(untouched(g.canary, sizeof g.canary));
	check_stats_v1(&g.s, &fx->stats);
}

static void stats_version_2_fills_its_fields_and_not_a_byte_more(void **state)
{
	struct fixture *fx = *state;
	GUARDED(struct stats_v2) g;

	fill(&g, sizeof g);
	g.s.v1.version = 2;
	CHECK_OK(lk_stats_get((lk_stats *)(void *)&g.s, fx->db));
	assert_true(untouched(g.canary, sizeof g.canary));
	g.s.v1.version = 1; /* for check_stats_v1 */
	check_stats_v1(&g.s.v1, &fx->stats);
	assert_int_equal(g.s.log_bytes_written, fx->stats.log_bytes_written);
	assert_true(g.s.log_bytes_written > 0);
	assert_int_equal(g.s.compactions, 0);
	assert_int_equal(g.s.compact_failures, 0);
}

static void stats_version_4_fills_its_fields_and_not_a_byte_more(void **state)
{
	struct fixture *fx = *state;
	GUARDED(struct stats_v4) g;

	fill(&g, sizeof g);
	g.s.v2.v1.version = 4;
	CHECK_OK(lk_stats_get((lk_stats *)(void *)&g.s, fx->db));
	assert_true(untouched(g.canary, sizeof g.canary));
	g.s.v2.v1.version = 1; /* for check_stats_v1 */
	check_stats_v1(&g.s.v2.v1, &fx->stats);
	assert_int_equal(g.s.v2.compactions, 0);
	assert_int_equal(g.s.snapshot_serial, fx->stats.snapshot_serial);
	assert_int_equal(g.s.snapshots_written, fx->stats.snapshots_written);
	assert_int_equal(g.s.scrub_passes, fx->stats.scrub_passes);
}

/* Version 7 appended the memory budget's fields after pread_segments. */
static void stats_version_6_fills_its_fields_and_not_a_byte_more(void **state)
{
	struct fixture *fx = *state;
	GUARDED(struct stats_v6) g;

	fill(&g, sizeof g);
	g.s.v4.v2.v1.version = 6;
	CHECK_OK(lk_stats_get((lk_stats *)(void *)&g.s, fx->db));
	assert_true(untouched(g.canary, sizeof g.canary));
	g.s.v4.v2.v1.version = 1; /* for check_stats_v1 */
	check_stats_v1(&g.s.v4.v2.v1, &fx->stats);
	assert_int_equal(g.s.map_bytes, fx->stats.map_bytes);
	assert_int_equal(g.s.map_segments, fx->stats.map_segments);
	assert_int_equal(g.s.pread_segments, fx->stats.pread_segments);
	assert_true(g.s.map_segments + g.s.pread_segments > 1);
}

static void stats_newest_version_fills_every_field_and_not_a_byte_more(void **state)
{
	struct fixture *fx = *state;
	GUARDED(lk_stats) g;

	fill(&g, sizeof g);
	g.s.version = LK_STATS_VERSION;
	CHECK_OK(lk_stats_get(&g.s, fx->db));
	assert_true(untouched(g.canary, sizeof g.canary));
	assert_int_equal(g.s.version, LK_STATS_VERSION);
	assert_int_equal(g.s.live_keys, KEYS);
	assert_int_equal(g.s.snapshots_written, fx->stats.snapshots_written);
	assert_int_equal(g.s.snapshot_failures, 0);
	/* version 5: no compaction ever ran on the fixture */
	assert_int_equal(g.s.compactions_total, 0);
	assert_int_equal(g.s.compact_bytes_read_total, 0);
	assert_int_equal(g.s.compact_bytes_written_total, 0);
	assert_int_equal(g.s.compact_segments_removed_total, 0);
	assert_int_equal(g.s.compact_records_dropped_total, 0);
	/* version 7: no budget; what is charged is the index and mappings */
	assert_int_equal(g.s.memory_bytes_max, 0);
	assert_int_equal(g.s.memory_bytes, g.s.index_bytes + g.s.map_bytes);
	assert_true(g.s.memory_keys_room >
		    (uint64_t)LK_INDEX_SLOTS_MAX / 2 - KEYS);
}

/* ---------------------------------------------------------------------- */
/* lk_recovery_report                                                     */
/* ---------------------------------------------------------------------- */

static void check_report_v1(const struct report_v1 *r,
			    const lk_recovery_report *now)
{
	assert_int_equal(r->version, 1);
	assert_int_equal(r->segments_read, now->segments_read);
	assert_int_equal(r->records_replayed, now->records_replayed);
	assert_int_equal(r->records_discarded, now->records_discarded);
	assert_int_equal(r->bytes_cut, now->bytes_cut);
	assert_int_equal(r->segments_removed, now->segments_removed);
	assert_int_equal(r->seq_last, now->seq_last);
	assert_int_equal(r->duration_us, now->duration_us);
	assert_int_equal(r->snapshot_used, now->snapshot_used);
	assert_string_equal(r->snapshot_note, now->snapshot_note);
	assert_string_equal(r->tail_note, now->tail_note);
	assert_true(r->seq_last > 0 && r->segments_read > 2);
}

static void report_version_1_gets_its_own_layout_and_not_a_byte_more(void **state)
{
	struct fixture *fx = *state;
	GUARDED(struct report_v1) g;

	fill(&g, sizeof g);
	g.s.version = 1;
	CHECK_OK(lk_recovery((lk_recovery_report *)(void *)&g.s, fx->db));
	assert_true(untouched(g.canary, sizeof g.canary));
	check_report_v1(&g.s, &fx->report);
}

static void report_version_3_gets_its_own_layout_and_not_a_byte_more(void **state)
{
	struct fixture *fx = *state;
	GUARDED(struct report_v3) g;

	fill(&g, sizeof g);
	g.s.version = 3;
	CHECK_OK(lk_recovery((lk_recovery_report *)(void *)&g.s, fx->db));
	assert_true(untouched(g.canary, sizeof g.canary));
	assert_int_equal(g.s.version, 3);
	assert_int_equal(g.s.segments_read, fx->report.segments_read);
	assert_int_equal(g.s.records_replayed, fx->report.records_replayed);
	assert_int_equal(g.s.compaction_leftovers,
			 fx->report.compaction_leftovers);
	assert_int_equal(g.s.seq_last, fx->report.seq_last);
	assert_int_equal(g.s.snapshot_used, fx->report.snapshot_used);
	assert_string_equal(g.s.snapshot_note, fx->report.snapshot_note);
	assert_string_equal(g.s.tail_note, fx->report.tail_note);
	assert_int_equal(g.s.replaced_unread, fx->report.replaced_unread);
	assert_int_equal(g.s.replaced_read, fx->report.replaced_read);
	assert_true(g.s.seq_last > 0 && g.s.segments_read > 2);
}

static void report_newest_version_fills_every_field_and_not_a_byte_more(void **state)
{
	struct fixture *fx = *state;
	GUARDED(lk_recovery_report) g;

	fill(&g, sizeof g);
	g.s.version = LK_REPORT_VERSION;
	CHECK_OK(lk_recovery(&g.s, fx->db));
	assert_true(untouched(g.canary, sizeof g.canary));
	assert_int_equal(g.s.version, LK_REPORT_VERSION);
	assert_int_equal(g.s.seq_last, fx->report.seq_last);
	assert_int_equal(g.s.compaction_leftovers, 0);
	assert_string_equal(g.s.tail_note, fx->report.tail_note);
	assert_string_equal(g.s.snapshot_damaged, ""); /* none was */
}

static void problem_ignored(void *arg, const lk_problem *p)
{
	(void)arg;
	(void)p;
}

static void verify_writes_a_version_1_report_and_not_a_byte_more(void **state)
{
	struct fixture *fx = *state;
	GUARDED(struct report_v1) g;

	CHECK_OK(lk_close(fx->db));
	fx->db = NULL;
	fill(&g, sizeof g);
	g.s.version = 1;
	CHECK_OK(lk_verify((lk_recovery_report *)(void *)&g.s, fx->path, NULL,
			   problem_ignored, NULL));
	assert_true(untouched(g.canary, sizeof g.canary));
	assert_int_equal(g.s.version, 1);
	assert_true(g.s.seq_last > 0 && g.s.segments_read > 2);
	assert_int_equal(g.s.bytes_cut, 0);
}

/* ---------------------------------------------------------------------- */
/* lk_options (read only: allocated at their exact size for ASan)        */
/* ---------------------------------------------------------------------- */

static void options_version_1_are_read_and_the_rest_defaulted(void **state)
{
	struct fixture *fx = *state;
	struct options_v1 *o = malloc(sizeof *o);
	GUARDED(struct options_v1) g;
	lk_stats st = LK_STATS_INIT;
	lk_db *db;

	CHECK_OK(lk_close(fx->db));
	fx->db = NULL;
	assert_non_null(o);
	fill(&g, sizeof g);
	memset(&g.s, 0, sizeof g.s);
	g.s.version = 1;
	g.s.flags = LK_OPEN_READONLY;
	g.s.sync = LK_SYNC_ALWAYS;
	g.s.sync_interval_ms = 100;
	g.s.segment_size_bytes = LK_SEGMENT_SIZE_MIN_BYTES;
	*o = g.s;
	CHECK_OK(lk_open(&db, fx->path, (const lk_options *)(void *)o));
	CHECK_ST(LK_READONLY, lk_put(db, LK_NS_DEFAULT, "k", 1, "v", 1, 0));
	CHECK_OK(lk_stats_get(&st, db));
	assert_int_equal(st.live_keys, KEYS);
	CHECK_OK(lk_close(db));
	CHECK_OK(lk_open(&db, fx->path, (const lk_options *)(void *)&g.s));
	CHECK_OK(lk_close(db));
	assert_true(untouched(g.canary, sizeof g.canary));
	free(o);
}

static void options_version_2_are_read_and_the_rest_defaulted(void **state)
{
	struct fixture *fx = *state;
	struct options_v2 *o = malloc(sizeof *o);
	lk_db *db;

	CHECK_OK(lk_close(fx->db));
	fx->db = NULL;
	assert_non_null(o);
	memset(o, 0, sizeof *o);
	o->version = 2;
	o->flags = 0;
	o->sync = LK_SYNC_NONE;
	o->sync_interval_ms = 100;
	o->segment_size_bytes = LK_SEGMENT_SIZE_MIN_BYTES;
	o->compact_dead_pct = 0;
	CHECK_OK(lk_open(&db, fx->path, (const lk_options *)(void *)o));
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "k", 1, "v", 1, 0));
	CHECK_OK(lk_close(db));
	/* a version 2 field is read: a bad one is refused */
	o->compact_dead_pct = 100;
	CHECK_ST(LK_INVALID, lk_open(&db, fx->path,
				     (const lk_options *)(void *)o));
	assert_null(db);
	free(o);
}

/* The size of the directory's LOCK file, which holds the space reserve. */
static long lock_size(const char *path)
{
	char name[512];
	long size;
	FILE *f;

	snprintf(name, sizeof name, "%s/LOCK", path);
	f = fopen(name, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	fclose(f);
	return size;
}

/* A version 4 caller knows no reserve_bytes and gets the default; a
 * version 5 one sets it, in range, and the LOCK file follows, down too. */
static void options_version_4_get_the_default_reserve(void **state)
{
	struct fixture *fx = *state;
	struct options_v4 *o = malloc(sizeof *o);
	lk_options now = LK_OPTIONS_INIT;
	lk_db *db;

	CHECK_OK(lk_close(fx->db));
	fx->db = NULL;
	assert_non_null(o);
	memset(o, 0, sizeof *o);
	o->v2.version = 4;
	o->v2.sync = LK_SYNC_ALWAYS;
	o->v2.sync_interval_ms = 100;
	o->v2.segment_size_bytes = LK_SEGMENT_SIZE_MIN_BYTES;
	CHECK_OK(lk_open(&db, fx->path, (const lk_options *)(void *)o));
	CHECK_OK(lk_close(db));
	assert_int_equal(lock_size(fx->path), LK_RESERVE_BYTES);

	now.reserve_bytes = LK_RESERVE_MIN_BYTES;
	CHECK_OK(lk_open(&db, fx->path, &now));
	CHECK_OK(lk_close(db));
	assert_int_equal(lock_size(fx->path), LK_RESERVE_MIN_BYTES);
	now.reserve_bytes = LK_RESERVE_MIN_BYTES - 1;
	CHECK_ST(LK_INVALID, lk_open(&db, fx->path, &now));
	now.reserve_bytes = (uint64_t)LK_RESERVE_MAX_BYTES + 1;
	CHECK_ST(LK_INVALID, lk_open(&db, fx->path, &now));
	assert_int_equal(lock_size(fx->path), LK_RESERVE_MIN_BYTES);
	free(o);
}

/* A version 6 caller, allocated at its exact size (ASan catches a read
 * past it), knows no memory budget and gets none: it writes on past what
 * the smallest budget holds; a version 7 one sets it, at least
 * LK_MEMORY_MIN_BYTES, and stats report it. */
static void options_version_6_get_no_memory_budget(void **state)
{
	struct fixture *fx = *state;
	struct options_v6 *o = malloc(sizeof *o);
	lk_options now = LK_OPTIONS_INIT;
	lk_stats st = LK_STATS_INIT;
	char key[32];
	lk_db *db;

	CHECK_OK(lk_close(fx->db));
	fx->db = NULL;
	assert_non_null(o);
	memset(o, 0, sizeof *o);
	o->v4.v2.version = 6;
	o->v4.v2.sync = LK_SYNC_NONE;
	o->v4.v2.sync_interval_ms = 100;
	o->v4.v2.segment_size_bytes = LK_SEGMENT_SIZE_MIN_BYTES;
	o->reserve_bytes = LK_RESERVE_MIN_BYTES;
	o->map_bytes_max = LK_MAP_BYTES_DEFAULT;
	CHECK_OK(lk_open(&db, fx->path, (const lk_options *)(void *)o));
	for (int i = 0; i < 6000; i++) { /* 4000 fill LK_MEMORY_MIN_BYTES */
		snprintf(key, sizeof key, "more-%05d", i);
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, key, strlen(key), "v", 1, 0));
	}
	CHECK_OK(lk_stats_get(&st, db));
	assert_int_equal(st.memory_bytes_max, 0);
	assert_true(st.index_bytes > LK_MEMORY_MIN_BYTES);
	CHECK_OK(lk_close(db));

	now.memory_bytes_max = LK_MEMORY_MIN_BYTES - 1;
	CHECK_ST(LK_INVALID, lk_open(&db, fx->path, &now));
	now.memory_bytes_max = LK_MEMORY_MIN_BYTES;
	CHECK_OK(lk_open(&db, fx->path, &now));
	CHECK_OK(lk_stats_get(&st, db));
	assert_int_equal(st.memory_bytes_max, LK_MEMORY_MIN_BYTES);
	CHECK_OK(lk_close(db));
	free(o);
}

static void options_init_gives_the_defaults_at_this_version(void **state)
{
	const lk_options want = LK_OPTIONS_INIT;
	lk_options o;

	(void)state;
	memset(&o, 0xff, sizeof o);
	lk_options_init(&o);
	assert_int_equal(o.version, LK_OPTIONS_VERSION);
	assert_int_equal(o.flags, want.flags);
	assert_int_equal(o.segment_size_bytes, want.segment_size_bytes);
	assert_int_equal(o.snapshot_every_bytes, want.snapshot_every_bytes);
	assert_int_equal(o.map_bytes_max, LK_MAP_BYTES_DEFAULT);
	assert_int_equal(o.memory_bytes_max, 0); /* no budget */
	assert_null(o.io);
}

/* ---------------------------------------------------------------------- */
/* Versions the library does not know                                     */
/* ---------------------------------------------------------------------- */

static void unknown_versions_are_invalid_and_nothing_is_written(void **state)
{
	struct fixture *fx = *state;
	const uint32_t bad[] = { 0, LK_STATS_VERSION + 1 };
	GUARDED(lk_stats) s;
	GUARDED(lk_recovery_report) r;
	GUARDED(lk_segment_info) i;
	lk_options o = LK_OPTIONS_INIT;
	size_t n = 99;
	lk_db *db = (lk_db *)1;

	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		fill(&s, sizeof s);
		s.s.version = bad[k];
		CHECK_ST(LK_INVALID, lk_stats_get(&s.s, fx->db));
		assert_true(untouched((uint8_t *)&s + 4, sizeof s - 4));
	}
	for (uint32_t v = 0; v <= LK_REPORT_VERSION + 1;
	     v += LK_REPORT_VERSION + 1) {
		fill(&r, sizeof r);
		r.s.version = v;
		CHECK_ST(LK_INVALID, lk_recovery(&r.s, fx->db));
		assert_true(untouched((uint8_t *)&r + 4, sizeof r - 4));
	}
	for (uint32_t v = 0; v <= LK_SEGMENT_INFO_VERSION + 1;
	     v += LK_SEGMENT_INFO_VERSION + 1) {
		fill(&i, sizeof i);
		i.s.version = v;
		CHECK_ST(LK_INVALID, lk_segment_list(&i.s, 1, &n, fx->db));
		assert_true(untouched((uint8_t *)&i + 4, sizeof i - 4));
		assert_int_equal(n, 99);
	}
	CHECK_OK(lk_close(fx->db));
	fx->db = NULL;
	for (uint32_t v = 0; v <= LK_OPTIONS_VERSION + 1;
	     v += LK_OPTIONS_VERSION + 1) {
		o.version = v;
		CHECK_ST(LK_INVALID, lk_open(&db, fx->path, &o));
		assert_null(db);
		db = (lk_db *)1;
	}
}

/* ---------------------------------------------------------------------- */
/* lk_segment_info                                                        */
/* ---------------------------------------------------------------------- */

static void segment_list_fills_the_array_at_its_version_and_not_past_it(void **state)
{
	struct fixture *fx = *state;
	struct {
		lk_segment_info s[2];
		uint8_t canary[CANARY_BYTES];
	} g;
	lk_segment_info all[64] = { LK_SEGMENT_INFO_INIT };
	size_t n = 0, n_all = 0;

	fill(&g, sizeof g);
	g.s[0].version = LK_SEGMENT_INFO_VERSION;
	CHECK_OK(lk_segment_list(g.s, 2, &n, fx->db));
	assert_true(untouched(g.canary, sizeof g.canary));
	assert_int_equal(n, fx->stats.segment_count);
	assert_true(n > 2);
	CHECK_OK(lk_segment_list(all, 64, &n_all, fx->db));
	assert_int_equal(n_all, n);
	for (size_t k = 0; k < 2; k++) {
		assert_int_equal(g.s[k].version, LK_SEGMENT_INFO_VERSION);
		assert_int_equal(g.s[k].seq, all[k].seq);
		assert_int_equal(g.s[k].generation, 0);
		assert_int_equal(g.s[k].sealed, 1);
		assert_int_equal(g.s[k].disk_bytes, all[k].disk_bytes);
		assert_int_equal(g.s[k].live_bytes, all[k].live_bytes);
		assert_int_equal(g.s[k].dead_bytes, all[k].dead_bytes);
	}
	assert_true(g.s[0].seq < g.s[1].seq);
	CHECK_OK(lk_segment_list(NULL, 0, &n, fx->db));
	assert_int_equal(n, n_all);
}

/* ---------------------------------------------------------------------- */
/* lk_ns_stats                                                            */
/* ---------------------------------------------------------------------- */

static void ns_stats_fill_their_version_and_not_a_byte_more(void **state)
{
	struct fixture *fx = *state;
	GUARDED(lk_ns_stats) g;
	uint64_t keys = 0;

	fill(&g, sizeof g);
	g.s.version = LK_NS_STATS_VERSION;
	CHECK_OK(lk_ns_stats_get(&g.s, fx->db, LK_NS_DEFAULT));
	assert_true(untouched(g.canary, sizeof g.canary));
	assert_int_equal(g.s.version, LK_NS_STATS_VERSION);
	assert_int_equal(g.s.ns, LK_NS_DEFAULT);
	CHECK_OK(lk_ns_keys(&keys, fx->db, LK_NS_DEFAULT));
	assert_int_equal(g.s.keys, keys);
	assert_int_equal(g.s.keys, KEYS);
	/* the default namespace has no catalog entry: it holds every live
	 * byte */
	assert_int_equal(g.s.live_bytes, fx->stats.live_bytes);
	for (uint32_t v = 0; v <= LK_NS_STATS_VERSION + 1;
	     v += LK_NS_STATS_VERSION + 1) {
		fill(&g, sizeof g);
		g.s.version = v;
		CHECK_ST(LK_INVALID, lk_ns_stats_get(&g.s, fx->db, 1));
		assert_true(untouched((uint8_t *)&g + 4, sizeof g - 4));
	}
	for (uint32_t ns = 0; ns <= LK_NS_COUNT_MAX + 1;
	     ns += LK_NS_COUNT_MAX + 1) {
		fill(&g, sizeof g);
		g.s.version = LK_NS_STATS_VERSION;
		CHECK_ST(LK_INVALID, lk_ns_stats_get(&g.s, fx->db, ns));
		assert_true(untouched((uint8_t *)&g + 4, sizeof g - 4));
	}
	CHECK_ST(LK_INVALID, lk_ns_stats_get(NULL, fx->db, 1));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(stats_version_1_fills_its_fields_and_not_a_byte_more),
		T(stats_version_2_fills_its_fields_and_not_a_byte_more),
		T(stats_version_4_fills_its_fields_and_not_a_byte_more),
		T(stats_version_6_fills_its_fields_and_not_a_byte_more),
		T(stats_newest_version_fills_every_field_and_not_a_byte_more),
		T(report_version_1_gets_its_own_layout_and_not_a_byte_more),
		T(report_version_3_gets_its_own_layout_and_not_a_byte_more),
		T(report_newest_version_fills_every_field_and_not_a_byte_more),
		T(verify_writes_a_version_1_report_and_not_a_byte_more),
		T(options_version_1_are_read_and_the_rest_defaulted),
		T(options_version_2_are_read_and_the_rest_defaulted),
		T(options_version_4_get_the_default_reserve),
		T(options_version_6_get_no_memory_budget),
		T(options_init_gives_the_defaults_at_this_version),
		T(unknown_versions_are_invalid_and_nothing_is_written),
		T(segment_list_fills_the_array_at_its_version_and_not_past_it),
		T(ns_stats_fill_their_version_and_not_a_byte_more),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
