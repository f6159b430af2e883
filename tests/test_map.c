/* SPDX-License-Identifier: MIT */
/*
 * test_map.c - reads through mappings (logkeep_io.h version 3,
 * lk_options.map_bytes_max): sealed segments are read where they lie, the
 * newest and those past the cap with pread, a table that does not map
 * (version 2, or one that declines) loses nothing but speed, a mapping
 * outlives compaction for the readers that hold it, and a mapped record
 * is checked like a read one.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>

#include "testutil.h"

#define DIR "db"
#define NKEYS 600
#define BIG_EVERY 97        /* every 97th key gets a large value */
#define BIG_BYTES 9000      /* past the index's 4095-byte size field */

static lk_options options(const lk_io *io, uint64_t map_bytes_max)
{
	lk_options o = LK_OPTIONS_INIT;

	o.io = io;
	o.segment_size_bytes = 8 * 1024;
	o.compact_dead_pct = 0; /* compaction when the test says */
	o.snapshot_every_bytes = 0;
	o.map_bytes_max = map_bytes_max;
	return o;
}

static size_t value_of(char *v, size_t cap, int key, int round)
{
	size_t n = key % BIG_EVERY == 0 ? BIG_BYTES : 40 + (size_t)key % 60;

	uint64_t x = (uint64_t)key * 2654435761u + (uint64_t)round + 1;

	CHECK(n <= cap);
	for (size_t i = 0; i < n; i++) { /* incompressible: stored raw */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v[i] = (char)x;
	}
	return n;
}

static void fill(lk_db *db, int round)
{
	static char v[BIG_BYTES];
	char k[16];

	for (int i = 0; i < NKEYS; i++) {
		size_t n = value_of(v, sizeof v, i, round);

		snprintf(k, sizeof k, "key%05d", i);
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, k, strlen(k), v, n, 0));
	}
}

static void check_all(lk_db *db, int round)
{
	static char want[BIG_BYTES];
	char k[16];

	for (int i = 0; i < NKEYS; i++) {
		size_t n = value_of(want, sizeof want, i, round), len;
		void *got;

		snprintf(k, sizeof k, "key%05d", i);
		CHECK_OK(lk_get(&got, &len, db, LK_NS_DEFAULT, k, strlen(k)));
		CHECK(len == n && memcmp(got, want, n) == 0);
		CHECK(((char *)got)[len] == 0);
		lk_free(got);
	}
}

static lk_stats stats(lk_db *db)
{
	lk_stats s = LK_STATS_INIT;

	CHECK_OK(lk_stats_get(&s, db));
	CHECK(s.map_segments + s.pread_segments == s.segment_count);
	return s;
}

/* ---------------------------------------------------------------------- */

/* With the default cap every sealed segment is mapped and only the newest
 * is read with pread; the records, large ones included, read back right,
 * before and after a reopen; closing gives every mapped byte back. */
static void sealed_segments_are_read_through_mappings(void **state)
{
	lk_options o;
	lk_stats s;
	lk_io *io;
	lk_db *db;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	o = options(io, LK_MAP_BYTES_DEFAULT);
	CHECK_OK(lk_open(&db, DIR, &o));
	fill(db, 1);
	s = stats(db);
	CHECK(s.segment_count > 10);
	CHECK(s.pread_segments == 1);
	CHECK(s.map_segments == s.segment_count - 1);
	CHECK(s.map_bytes > 0 && s.map_bytes < s.disk_bytes);
	check_all(db, 1);
	CHECK_OK(lk_close(db));

	CHECK_OK(lk_open(&db, DIR, &o));
	s = stats(db);
	CHECK(s.pread_segments == 1 && s.map_segments > 10);
	check_all(db, 1);
	fill(db, 2); /* overwrites confirm keys through the mappings */
	check_all(db, 2);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

/* The cap holds: segments past it are read with pread, and 0 maps
 * nothing; either way every record reads back. */
static void the_cap_bounds_what_is_mapped(void **state)
{
	const uint64_t caps[] = { 0, 40 * 1024, 3 * 9 * 1024 };
	lk_options o;
	lk_stats s;
	lk_io *io;
	lk_db *db;

	(void)state;
	for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
		CHECK_OK(lk_io_memory_new(&io));
		o = options(io, caps[c]);
		CHECK_OK(lk_open(&db, DIR, &o));
		fill(db, 1);
		s = stats(db);
		CHECK(s.map_bytes <= caps[c]);
		if (caps[c] == 0)
			CHECK(s.map_segments == 0);
		else
			CHECK(s.map_segments >= 1 && s.pread_segments > 2);
		check_all(db, 1);
		CHECK_OK(lk_close(db));

		CHECK_OK(lk_open(&db, DIR, &o));
		s = stats(db);
		CHECK(s.map_bytes <= caps[c]);
		check_all(db, 1);
		CHECK_OK(lk_close(db));
		lk_io_memory_free(io);
	}
}

/* ---- tables that do not map ---- */

static lk_status declining_map(void *ctx, lk_io_file *file, size_t n,
			       const void **addr)
{
	(void)ctx;
	(void)file;
	(void)n;
	*addr = NULL;
	return lk_io_fail(LK_INVALID, "mmap: this table does not map");
}

static void tables_that_do_not_map_are_read_with_pread(void **state)
{
	lk_io *io;
	lk_io table;
	lk_options o;
	lk_stats s;
	lk_db *db;

	(void)state;
	for (int kind = 0; kind < 2; kind++) {
		CHECK_OK(lk_io_memory_new(&io));
		table = *io;
		if (kind == 0) {
			table.version = 2; /* stops before map and unmap */
			table.map = NULL;
			table.unmap = NULL;
		} else {
			table.map = declining_map;
		}
		o = options(&table, LK_MAP_BYTES_DEFAULT);
		CHECK_OK(lk_open(&db, DIR, &o));
		fill(db, 1);
		s = stats(db);
		CHECK(s.map_segments == 0 && s.map_bytes == 0);
		CHECK(s.pread_segments == s.segment_count);
		check_all(db, 1);
		CHECK_OK(lk_close(db));
		CHECK_OK(lk_open(&db, DIR, &o));
		check_all(db, 1);
		CHECK_OK(lk_close(db));
		lk_io_memory_free(io);
	}

	/* A version 3 table must have both slots. */
	CHECK_OK(lk_io_memory_new(&io));
	table = *io;
	table.unmap = NULL;
	o = options(&table, LK_MAP_BYTES_DEFAULT);
	CHECK_ST(LK_INVALID, lk_open(&db, DIR, &o));
	CHECK(strstr(lk_errmsg(), "unmap") != NULL);
	lk_io_memory_free(io);
}

/* ---- compaction ---- */

/* An iterator pins the segments it reads, mapped ones included:
 * compaction removes their files from the log, and the iterator still
 * reads the old records where they lie; the mapped bytes come back once
 * it is closed. */
static void mappings_outlive_compaction_for_their_readers(void **state)
{
	static char want[BIG_BYTES];
	lk_options o;
	lk_stats s1, s2, s3;
	lk_iter *it;
	lk_io *io;
	lk_db *db;
	int seen = 0;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	o = options(io, LK_MAP_BYTES_DEFAULT);
	CHECK_OK(lk_open(&db, DIR, &o));
	fill(db, 1);
	fill(db, 2); /* round 1 is dead now */
	CHECK_OK(lk_iter_open(&it, db, LK_NS_DEFAULT, NULL, 0));
	s1 = stats(db);
	CHECK_OK(lk_compact(db));
	s2 = stats(db);
	CHECK(s2.compactions > 0 && s2.segment_count < s1.segment_count);
	/* the iterator's segments are still mapped, out of the table */
	CHECK(s2.map_bytes > 0);
	for (;;) {
		const void *k, *v;
		size_t kl, vl, n;
		char key[16];
		lk_status st = lk_iter_next(it, &k, &kl, &v, &vl, NULL);
		int i;

		if (st == LK_NOT_FOUND)
			break;
		CHECK_OK(st);
		CHECK(kl == 8 && memcmp(k, "key", 3) == 0);
		memcpy(key, k, kl);
		key[kl] = 0;
		i = atoi(key + 3);
		n = value_of(want, sizeof want, i, 2);
		CHECK(vl == n && memcmp(v, want, n) == 0);
		seen++;
	}
	CHECK(seen == NKEYS);
	lk_iter_close(it);
	s3 = stats(db);
	CHECK(s3.map_bytes < s2.map_bytes); /* the old files are unmapped */
	check_all(db, 2);
	CHECK_OK(lk_close(db));

	CHECK_OK(lk_open(&db, DIR, &o));
	check_all(db, 2);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

/* ---- replay without reads (format 3, REC_F_REPLACES) ---- */

static lk_recovery_report reopen(lk_db **db, const lk_options *o)
{
	lk_recovery_report r = LK_REPORT_INIT;

	CHECK_OK(lk_open(db, DIR, o));
	CHECK_OK(lk_recovery(&r, *db));
	CHECK(!r.snapshot_used); /* snapshot_every_bytes 0: the whole log */
	return r;
}

/* An overwrite of a key whose record lies in a mapped segment names that
 * record; replaying the log repoints the key by the name, reading none of
 * the older records, and a claim gone stale (the key written again in the
 * same batch, or after a compaction moved it) costs a read and nothing
 * else.  Large records (past the index's size field) are confirmed by
 * reading: their exact size is on disk only. */
static void replay_repoints_overwritten_keys_without_reading(void **state)
{
	lk_recovery_report r;
	lk_options o;
	lk_batch *b;
	lk_io *io;
	lk_db *db;
	int big = (NKEYS + BIG_EVERY - 1) / BIG_EVERY;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	o = options(io, LK_MAP_BYTES_DEFAULT);
	CHECK_OK(lk_open(&db, DIR, &o));
	fill(db, 1);
	CHECK_OK(lk_close(db));
	r = reopen(&db, &o);
	CHECK(r.replaced_unread == 0 && r.replaced_read == 0);
	fill(db, 2); /* every round-1 record is sealed and mapped now */
	CHECK_OK(lk_close(db));

	r = reopen(&db, &o);
	CHECK(r.replaced_unread + r.replaced_read == NKEYS);
	CHECK(r.replaced_read == (uint64_t)big);
	check_all(db, 2);

	/* the same key twice in one batch: both name round 2's record, the
	 * second finds the first's in its place */
	CHECK_OK(lk_batch_new(&b));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "key00001", 8, "x", 1, 0));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "key00001", 8, "y", 1, 0));
	CHECK_OK(lk_commit(db, b));
	lk_batch_free(b);
	CHECK_OK(lk_compact(db)); /* moves live records: claims go stale */
	fill(db, 3);
	CHECK_OK(lk_close(db));

	r = reopen(&db, &o);
	check_all(db, 3);
	CHECK(r.replaced_unread > 0);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

/* ---- damage ---- */

/* A mapped record is checked like a read one: a byte changed in a sealed
 * segment's file under a running handle (the mapping shows it, as the
 * page cache does) makes the get LK_CORRUPT, naming the segment. */
static void a_changed_byte_under_a_mapping_is_corruption(void **state)
{
	char path[256], name[300];
	lk_options o;
	lk_stats s;
	lk_db *db;
	void *got;
	size_t len;
	uint64_t seg, off;
	int fd;
	char flip;

	(void)state;
	CHECK(make_temp_dir(path, sizeof path, "map") == 0);
	o = options(NULL, LK_MAP_BYTES_DEFAULT);
	CHECK_OK(lk_open(&db, path, &o));
	fill(db, 1);
	s = stats(db);
	CHECK(s.map_segments > 1);
	CHECK_OK(lk_locate(&seg, &off, db, LK_NS_DEFAULT, "key00001", 8));
	CHECK(seg < s.segment_count); /* in a sealed segment */
	snprintf(name, sizeof name, "%s/%016" PRIx64 ".seg", path, seg);
	fd = open(name, O_RDWR);
	CHECK(fd >= 0);
	/* the last byte of the record: its value */
	CHECK(pread(fd, &flip, 1, (off_t)off + 20) == 1);
	flip ^= 0x20;
	CHECK(pwrite(fd, &flip, 1, (off_t)off + 20) == 1);
	CHECK_ST(LK_CORRUPT, lk_get(&got, &len, db, LK_NS_DEFAULT, "key00001", 8));
	CHECK(strstr(lk_errmsg(), "checksum") != NULL);
	CHECK(strstr(lk_errmsg(), ".seg") != NULL); /* names the file */
	flip ^= 0x20;
	CHECK(pwrite(fd, &flip, 1, (off_t)off + 20) == 1);
	close(fd);
	CHECK_OK(lk_get(&got, &len, db, LK_NS_DEFAULT, "key00001", 8));
	lk_free(got);
	check_all(db, 1);
	CHECK_OK(lk_close(db));
	remove_tree(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sealed_segments_are_read_through_mappings),
		cmocka_unit_test(the_cap_bounds_what_is_mapped),
		cmocka_unit_test(tables_that_do_not_map_are_read_with_pread),
		cmocka_unit_test(mappings_outlive_compaction_for_their_readers),
		cmocka_unit_test(replay_repoints_overwritten_keys_without_reading),
		cmocka_unit_test(a_changed_byte_under_a_mapping_is_corruption),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
