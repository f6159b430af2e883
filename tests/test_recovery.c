/* SPDX-License-Identifier: MIT */
/*
 * test_recovery.c - what lk_open() does with a log that a power cut, a bad
 * flash block or an operator left behind (SPEC §5).
 *
 * Method: build a small database through the public API on the in-memory
 * I/O layer, list its records by offset (testutil.h), then damage the
 * files the way LevelDB's corruption_test does - truncate at every byte of
 * the last record, append zeroes or garbage, flip single bits, delete or
 * forge segments - and check what the next open keeps, cuts, refuses and
 * reports, and that a refused open changes nothing on disk.  A few cases
 * run on real files through the POSIX layer too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "endian.h"
#include "io_fault.h"
#include "lockmark.h"
#include "testutil.h"

#define DIR "/db"
#define SEG1 "0000000000000001.seg"
#define KEYS 20

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

static void key_of(char *buf, int i)
{
	snprintf(buf, 16, "key%04d", i);
}

static void value_of(char *buf, int i)
{
	snprintf(buf, 64, "value-%04d-0123456789abcdef", i);
}

/* Writes keys [from, to) as single durable puts. */
static void put_range(lk_db *db, int from, int to)
{
	char k[16], v[64];

	for (int i = from; i < to; i++) {
		key_of(k, i);
		value_of(v, i);
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, k, strlen(k), v, strlen(v), 0));
	}
}

static void make_db(int keys, uint64_t segment_size)
{
	lk_options o = test_options(mem);
	lk_db *db;

	if (segment_size)
		o.segment_size_bytes = segment_size;
	CHECK_OK(lk_open(&db, DIR, &o));
	put_range(db, 0, keys);
	CHECK_OK(lk_close(db));
}

static int has_key(lk_db *db, int i)
{
	char k[16], v[64];
	size_t len;
	void *got;
	lk_status st;

	key_of(k, i);
	st = lk_get(&got, &len, db, LK_NS_DEFAULT, k, strlen(k));
	if (st == LK_NOT_FOUND)
		return 0;
	CHECK_OK(st);
	value_of(v, i);
	CHECK(len == strlen(v) && memcmp(got, v, len) == 0);
	lk_free(got);
	return 1;
}

static lk_status open_db(lk_db **db, uint32_t flags)
{
	lk_options o = test_options(mem);

	o.flags = flags;
	return lk_open(db, DIR, &o);
}

/* The last record of type `type` in the list, by index. */
static size_t last_of(const struct rec_list *l, uint8_t type)
{
	for (size_t i = l->n; i-- > 0;)
		if (l->v[i].type == type)
			return i;
	CHECK(0 && "no record of that type");
	return 0;
}

static uint64_t end_of(const struct rec_list *l, size_t i)
{
	return l->v[i].offset + l->v[i].size;
}

static int all_zero(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* ---------------------------------------------------------------------- */

static void truncated_tail_is_cut_and_reported_at_every_offset(void **state)
{
	struct rec_list l;
	struct blob orig;
	size_t put, commit;
	uint64_t prev_end;

	(void)state;
	make_db(KEYS, 0);
	list_records(&l, mem, DIR, SEG1);
	orig = file_read(mem, DIR, SEG1);
	put = last_of(&l, REC_PUT);
	commit = put + 1;
	CHECK(l.v[commit].type == REC_COMMIT);
	prev_end = l.v[put].offset; /* the previous group's commit ends here */

	for (uint64_t c = l.v[put].offset; c < l.data_end; c++) {
		uint64_t kept_end = c >= end_of(&l, commit) ? end_of(&l, commit)
							    : prev_end;
		lk_recovery_report rep = LK_REPORT_INIT;
		lk_db *db;

		file_write(mem, DIR, SEG1, orig.p, (size_t)c);
		CHECK_OK(open_db(&db, 0));
		CHECK_OK(lk_recovery(&rep, db));
		if (all_zero((uint8_t *)orig.p + kept_end, c - kept_end)) {
			/* A checksum is seeded by the random database id: one in
			 * 256 begins with a zero byte, and a cut inside those
			 * zeroes leaves a tail that is free space, not damage
			 * (torn_tail_of_zero_bytes_is_free_space). */
			CHECK(rep.bytes_cut == 0);
			CHECK(rep.zero_tail_bytes == c - kept_end);
		} else {
			CHECK(rep.bytes_cut == c - kept_end);
		}
		if (rep.bytes_cut) {
			CHECK(rep.cut_segment_seq == 1);
			CHECK(rep.cut_offset == kept_end);
			CHECK(strstr(rep.tail_note, "cut") != NULL);
		}
		for (int i = 0; i < KEYS - 1; i++)
			CHECK(has_key(db, i));
		CHECK(has_key(db, KEYS - 1) == (c >= end_of(&l, commit)));
		CHECK_OK(lk_close(db));

		/* The cut is on disk: a second open finds nothing to cut. */
		CHECK_OK(open_db(&db, 0));
		CHECK_OK(lk_recovery(&rep, db));
		CHECK(rep.bytes_cut == 0);
		CHECK(has_key(db, KEYS - 1) == (c >= end_of(&l, commit)));
		CHECK_OK(lk_close(db));
	}
	free(orig.p);
}

/* Regression (CI, ASan run under load): a power cut that leaves only the
 * first bytes of a record whose checksum begins with zero bytes.  The tail
 * is indistinguishable from prefill and is treated as such: nothing is
 * cut, the committed keys stay, and the next write goes there.  The test
 * above expected a cut and failed once in a few hundred runs; here the
 * database id is drawn until such a checksum turns up. */
static void torn_tail_of_zero_bytes_is_free_space(void **state)
{
	struct rec_list l;
	struct blob orig = { NULL, 0 };
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *db;
	size_t put = 0;
	int tries;

	(void)state;
	for (tries = 0; tries < 8192; tries++) {
		lk_io_memory_free(mem);
		CHECK_OK(lk_io_memory_new(&mem));
		make_db(KEYS, 0);
		list_records(&l, mem, DIR, SEG1);
		put = last_of(&l, REC_PUT);
		orig = file_read(mem, DIR, SEG1);
		if (((uint8_t *)orig.p)[l.v[put].offset] == 0)
			break;
		free(orig.p);
		orig.p = NULL;
	}
	CHECK(orig.p != NULL); /* (255/256)^8192: about 1e-14 */

	file_write(mem, DIR, SEG1, orig.p, (size_t)l.v[put].offset + 1);
	CHECK_OK(open_db(&db, 0));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.bytes_cut == 0);
	CHECK(rep.zero_tail_bytes == 1);
	for (int k = 0; k < KEYS - 1; k++)
		CHECK(has_key(db, k));
	CHECK(!has_key(db, KEYS - 1));
	put_range(db, KEYS - 1, KEYS); /* written over the zero */
	CHECK_OK(lk_close(db));
	CHECK_OK(open_db(&db, 0));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.bytes_cut == 0);
	CHECK(has_key(db, KEYS - 1));
	CHECK_OK(lk_close(db));
	free(orig.p);
}

static void zero_tail_is_free_space_not_damage(void **state)
{
	static const uint8_t zeroes[70000];
	const size_t lens[] = { 1, 7, 100, 4096, sizeof zeroes };
	struct rec_list l;
	struct blob orig;

	(void)state;
	make_db(KEYS, 0);
	list_records(&l, mem, DIR, SEG1);
	orig = file_read(mem, DIR, SEG1);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		lk_recovery_report rep = LK_REPORT_INIT;
		lk_db *db;

		file_write(mem, DIR, SEG1, orig.p, (size_t)l.data_end);
		corrupt_bytes(mem, DIR, SEG1, l.data_end, zeroes, lens[i]);
		CHECK_OK(open_db(&db, 0));
		CHECK_OK(lk_recovery(&rep, db));
		CHECK(rep.bytes_cut == 0);
		CHECK(rep.zero_tail_bytes == lens[i]);
		for (int k = 0; k < KEYS; k++)
			CHECK(has_key(db, k));
		/* and the zeroes are reused by the next write */
		put_range(db, KEYS, KEYS + 1);
		CHECK_OK(lk_close(db));
		CHECK_OK(open_db(&db, 0));
		CHECK(has_key(db, KEYS));
		CHECK_OK(lk_close(db));
	}
	free(orig.p);
}

static void garbage_tail_is_cut_and_reported(void **state)
{
	const size_t lens[] = { 1, 8, 17, 100, 4096 };
	struct rec_list l;
	struct blob orig;
	uint8_t junk[4096];

	(void)state;
	srand(7);
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(rand() | 1);
	make_db(KEYS, 0);
	list_records(&l, mem, DIR, SEG1);
	orig = file_read(mem, DIR, SEG1);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		lk_recovery_report rep = LK_REPORT_INIT;
		lk_db *db;

		file_write(mem, DIR, SEG1, orig.p, (size_t)l.data_end);
		corrupt_bytes(mem, DIR, SEG1, l.data_end, junk, lens[i]);
		CHECK_OK(open_db(&db, 0));
		CHECK_OK(lk_recovery(&rep, db));
		CHECK(rep.bytes_cut == lens[i]);
		CHECK(rep.cut_offset == l.data_end);
		for (int k = 0; k < KEYS; k++)
			CHECK(has_key(db, k));
		CHECK_OK(lk_close(db));
	}
	free(orig.p);
}

static void torn_write_over_zero_prefill_is_cut(void **state)
{
	struct rec_list l;
	struct blob b;
	size_t put;
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *db;

	(void)state;
	make_db(KEYS, 0);
	list_records(&l, mem, DIR, SEG1);
	/* A crash that lost the clean-close mark and half of the last group:
	 * its second half reads as zeroes (never written), as after a torn
	 * sector write into the prefilled area. */
	put = last_of(&l, REC_PUT);
	b = file_read(mem, DIR, SEG1);
	memset(b.p + l.v[put].offset + l.v[put].size / 2, 0,
	       b.n - (size_t)(l.v[put].offset + l.v[put].size / 2));
	file_write(mem, DIR, SEG1, b.p, b.n);
	CHECK_OK(open_db(&db, 0));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.cut_offset == l.v[put].offset);
	CHECK(rep.bytes_cut == b.n - l.v[put].offset);
	CHECK(!has_key(db, KEYS - 1) && has_key(db, KEYS - 2));
	CHECK_OK(lk_close(db));
	free(b.p);
}

static void bit_flip_before_the_tail_fails_open_naming_segment_and_offset(
	void **state)
{
	struct rec_list l;
	struct blob orig;

	(void)state;
	make_db(KEYS, 0);
	list_records(&l, mem, DIR, SEG1);
	orig = file_read(mem, DIR, SEG1);
	/* every record but the clean-close mark: the mark's claim of
	 * durability makes even the last group's damage visible */
	for (size_t r = 0; r + 1 < l.n; r++) {
		const uint64_t at[] = { l.v[r].offset, l.v[r].offset + 4,
					l.v[r].offset + l.v[r].size - 1 };

		for (size_t a = 0; a < 3; a++) {
			char want[64];
			struct blob after;
			lk_db *db;

			file_write(mem, DIR, SEG1, orig.p, orig.n);
			flip_bit(mem, DIR, SEG1, at[a], (int)(r + a) % 8);
			CHECK_ST(LK_CORRUPT, open_db(&db, 0));
			CHECK(db == NULL);
			snprintf(want, sizeof want, "offset %" PRIu64,
				 l.v[r].offset);
			CHECK(strstr(lk_errmsg(), "segment 1") != NULL);
			CHECK(strstr(lk_errmsg(), want) != NULL);
			/* a refused open changes nothing */
			after = file_read(mem, DIR, SEG1);
			CHECK(after.n == orig.n);
			CHECK(memcmp(after.p, orig.p, 16) == 0 || at[a] < 16);
			orig.p[at[a]] ^= (uint8_t)(1u << ((r + a) % 8));
			CHECK(memcmp(after.p, orig.p, orig.n) == 0);
			orig.p[at[a]] ^= (uint8_t)(1u << ((r + a) % 8));
			free(after.p);
		}
	}
	free(orig.p);
}

static void damage_in_last_group_after_a_crash_is_a_torn_tail(void **state)
{
	struct rec_list l;
	size_t put;
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *db;

	(void)state;
	make_db(KEYS, 0);
	list_records(&l, mem, DIR, SEG1);
	/* Without the clean-close mark (a power cut), nothing vouches for
	 * the last group: damage there is what a torn write looks like. */
	put = last_of(&l, REC_PUT);
	truncate_to(mem, DIR, SEG1, l.v[l.n - 1].offset);
	flip_bit(mem, DIR, SEG1, l.v[put].offset + 6, 2);
	CHECK_OK(open_db(&db, 0));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.cut_offset == l.v[put].offset);
	CHECK(!has_key(db, KEYS - 1));
	for (int i = 0; i < KEYS - 1; i++)
		CHECK(has_key(db, i));
	CHECK_OK(lk_close(db));
}

static void batch_cut_anywhere_is_all_or_nothing(void **state)
{
	struct rec_list l;
	struct blob orig;
	lk_batch *b;
	lk_db *db;
	size_t commit, first;
	char k[16], v[64];

	(void)state;
	CHECK_OK(open_db(&db, LK_OPEN_CREATE));
	put_range(db, 0, 5);
	CHECK_OK(lk_batch_new(&b));
	for (int i = 100; i < 130; i++) {
		key_of(k, i);
		value_of(v, i);
		CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, k, strlen(k), v,
				      strlen(v), 0));
	}
	key_of(k, 1);
	CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, k, strlen(k)));
	key_of(k, 3);
	CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, k, strlen(k)));
	CHECK_OK(lk_commit(db, b));
	lk_batch_free(b);
	CHECK_OK(lk_close(db));

	list_records(&l, mem, DIR, SEG1);
	orig = file_read(mem, DIR, SEG1);
	commit = last_of(&l, REC_COMMIT) - 1; /* before the close mark */
	CHECK(l.v[commit].type == REC_COMMIT);
	first = commit - 32;
	CHECK(l.v[first - 1].type == REC_COMMIT);
	for (uint64_t c = l.v[first].offset; c <= end_of(&l, commit); c++) {
		int whole = c == end_of(&l, commit);

		file_write(mem, DIR, SEG1, orig.p, (size_t)c);
		CHECK_OK(open_db(&db, 0));
		for (int i = 100; i < 130; i++)
			CHECK(has_key(db, i) == whole);
		CHECK(has_key(db, 1) == !whole && has_key(db, 3) == !whole);
		CHECK(has_key(db, 0) && has_key(db, 2) && has_key(db, 4));
		CHECK_OK(lk_close(db));
	}
	free(orig.p);
}

/* ---------------------------------------------------------------------- */
/* Several segments                                                       */
/* ---------------------------------------------------------------------- */

static lk_status count_segment(void *arg, const char *name)
{
	uint64_t seq;
	uint32_t gen;

	*(int *)arg += seg_parse_name(name, &seq, &gen);
	return LK_OK;
}

/* Segment files in the directory, every generation. */
static int segment_count(void)
{
	lk_io_dir *d;
	int n = 0;

	CHECK_OK(mem->dir_open(mem->ctx, DIR, 0, &d));
	CHECK_OK(mem->dir_list(mem->ctx, d, count_segment, &n));
	mem->dir_close(mem->ctx, d);
	return n;
}

static void missing_middle_segment_refuses_open_naming_it(void **state)
{
	lk_db *db;

	(void)state;
	make_db(300, 4096);
	CHECK(segment_count() >= 4);
	remove_file(mem, DIR, "0000000000000002.seg");
	CHECK_ST(LK_CORRUPT, open_db(&db, 0));
	CHECK(strstr(lk_errmsg(), "segment 3") != NULL);
	CHECK(strstr(lk_errmsg(), "previous segment 2 is missing") != NULL);
}

/* What lk_verify reported, by kind (on_problem below). */
struct seen {
	int torn, corrupt, other;
	uint64_t first_offset;
};

static void on_problem(void *arg, const lk_problem *p);

static void missing_first_segment_refuses_open(void **state)
{
	lk_options o = test_options(mem);
	struct seen seen = { 0 };
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *db;

	(void)state;
	make_db(300, 4096);
	remove_file(mem, DIR, SEG1);
	CHECK_ST(LK_CORRUPT, open_db(&db, 0));
	CHECK(strstr(lk_errmsg(), "previous segment 1 is missing") != NULL);
	/* and verify says so too (it once passed over the first segment) */
	CHECK_ST(LK_CORRUPT, lk_verify(&rep, DIR, &o, on_problem, &seen));
	CHECK(seen.other == 1);
	CHECK(strstr(lk_errmsg(), "previous segment 1 is missing") != NULL);
}

/* The newest segment's file removed: its commits (here a delete and a put)
 * would be silently undone and the deleted key back.  The seal of the
 * segment before it says that a successor was created (format 2). */
static void missing_newest_segment_refuses_open_naming_it(void **state)
{
	lk_options o = test_options(mem);
	char name[SEG_NAME_BYTES], k[16];
	struct seen seen = { 0 };
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *db;
	int n;

	(void)state;
	make_db(300, 4096);
	CHECK_OK(open_db(&db, 0));
	key_of(k, 7);
	CHECK_OK(lk_del(db, LK_NS_DEFAULT, k, strlen(k)));
	put_range(db, 300, 301);
	CHECK_OK(lk_close(db));
	n = segment_count();
	CHECK(n >= 4);
	seg_name(name, (uint64_t)n, 0);
	remove_file(mem, DIR, name);

	CHECK_ST(LK_CORRUPT, open_db(&db, 0));
	CHECK(strstr(lk_errmsg(), "the newest segment is missing") != NULL);
	CHECK_ST(LK_CORRUPT, open_db(&db, LK_OPEN_READONLY));
	CHECK_ST(LK_CORRUPT, lk_verify(&rep, DIR, &o, on_problem, &seen));
	CHECK(seen.other == 1 && seen.corrupt == 0);
	CHECK(strstr(lk_errmsg(), "the newest segment is missing") != NULL);
	CHECK(segment_count() == n - 1); /* the refusals changed nothing */
}

struct seg_names {
	char v[64][SEG_NAME_BYTES];
	int n;
};

static lk_status name_segment(void *arg, const char *name)
{
	struct seg_names *s = arg;
	uint64_t seq;
	uint32_t gen;

	if (seg_parse_name(name, &seq, &gen) && s->n < 64)
		snprintf(s->v[s->n++], SEG_NAME_BYTES, "%s", name);
	return LK_OK;
}

/* Removes every segment file of DIR on io; returns the largest one's
 * size (0: there was none). */
static uint64_t remove_every_segment(const lk_io *io)
{
	struct seg_names names = { .n = 0 };
	uint64_t largest = 0;
	lk_io_dir *d;
	lk_status st = io->dir_open(io->ctx, DIR, 0, &d);

	if (st == LK_NOT_FOUND) /* a cut before it was made */
		return 0;
	CHECK_OK(st);
	CHECK_OK(io->dir_list(io->ctx, d, name_segment, &names));
	io->dir_close(io->ctx, d);
	for (int i = 0; i < names.n; i++) {
		struct blob b = file_read(io, DIR, names.v[i]);

		if (b.n > largest)
			largest = b.n;
		free(b.p);
		remove_file(io, DIR, names.v[i]);
	}
	return largest;
}

/* Every segment file removed: nothing in the segments is left to say so,
 * and open once made the directory a new, empty database (and removed
 * the snapshot as unused).  The LOCK file's mark and the snapshot each
 * say that a log was there. */
static void every_segment_missing_refuses_open_and_changes_nothing(
	void **state)
{
	lk_options o = test_options(mem);
	struct seen seen = { 0 };
	lk_recovery_report rep = LK_REPORT_INIT;
	struct blob snap;
	lk_db *db;

	(void)state;
	make_db(300, 4096);
	CHECK_OK(open_db(&db, 0));
	CHECK_OK(lk_snapshot(db));
	CHECK_OK(lk_close(db));
	CHECK(remove_every_segment(mem) > SEG_HEADER_BYTES);

	CHECK_ST(LK_CORRUPT, open_db(&db, 0));
	CHECK(strstr(lk_errmsg(), "the whole log is missing") != NULL);
	CHECK(strstr(lk_errmsg(), "LOCK file") != NULL);
	CHECK_ST(LK_CORRUPT, open_db(&db, LK_OPEN_READONLY));
	CHECK_ST(LK_CORRUPT, lk_verify(&rep, DIR, &o, on_problem, &seen));
	CHECK(seen.other == 1 && seen.corrupt == 0);
	CHECK(strstr(lk_errmsg(), "the whole log is missing") != NULL);
	CHECK(segment_count() == 0); /* nothing created, */
	snap = file_read(mem, DIR, "0000000000000001.snap"); /* none removed */
	CHECK(snap.n > 0);
	free(snap.p);

	/* without the mark, the snapshot says it */
	file_write(mem, DIR, "LOCK", "", 0);
	CHECK_ST(LK_CORRUPT, open_db(&db, 0));
	CHECK(strstr(lk_errmsg(), "a snapshot of its log is here") != NULL);
}

/* What is not a lost log: a new directory that never held a record
 * opens (and reopens) empty, and a LOCK file without a mark, as every
 * directory made before the mark has, is marked by the next writable
 * open, after which the loss is caught. */
static void new_and_unmarked_directories_open(void **state)
{
	uint8_t id[SEG_DB_ID_BYTES];
	lk_io_dir *d;
	lk_db *db;
	int marked;

	(void)state;
	CHECK_OK(open_db(&db, LK_OPEN_CREATE));
	CHECK_OK(lk_close(db));
	CHECK_OK(open_db(&db, 0));
	CHECK_OK(lk_close(db));
	CHECK(segment_count() == 0);

	make_db(10, 0);
	file_write(mem, DIR, "LOCK", "", 0); /* as before the mark */
	CHECK_OK(open_db(&db, LK_OPEN_READONLY)); /* a reader writes nothing */
	CHECK(has_key(db, 3));
	CHECK_OK(lk_close(db));
	CHECK_OK(mem->dir_open(mem->ctx, DIR, 0, &d));
	CHECK_OK(lockmark_read(mem, d, NULL, &marked, id));
	CHECK(!marked);
	CHECK_OK(open_db(&db, 0));
	CHECK_OK(lk_close(db));
	CHECK_OK(lockmark_read(mem, d, NULL, &marked, id));
	mem->dir_close(mem->ctx, d);
	CHECK(marked);
	remove_every_segment(mem);
	CHECK_ST(LK_CORRUPT, open_db(&db, 0));
}

/* The mark is durable before the first record is written: a power cut at
 * each I/O call of creating a directory and putting into it, each reboot
 * keeping all, none or a random part of what was not synced, then every
 * segment removed: an open refuses whenever a removed segment held a
 * record.  Where they held none, it may refuse too (the first segment's
 * header was durable, and so the mark) or open as new (it was not). */
static void power_cut_anywhere_in_a_first_put_keeps_the_loss_detectable(
	void **state)
{
	static const enum fault_mode modes[] = { FAULT_DROP_ALL,
						 FAULT_KEEP_ALL, FAULT_RANDOM };
	uint64_t states = 0, refused = 0, opened = 0;

	(void)state;
	for (uint64_t cut = 1;; cut++) {
		int ran_whole = 0;

		for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
			struct fault_fs *fs;
			lk_options o;
			lk_db *db = NULL;
			uint64_t held;
			lk_status st;

			CHECK_OK(fault_new(&fs, cut));
			o = test_options(fault_io(fs));
			o.segment_size_bytes = 4096;
			fault_cut_at(fs, cut);
			if (lk_open(&db, DIR, &o) == LK_OK) {
				(void)lk_put(db, LK_NS_DEFAULT, "k", 1, "v", 1,
					     0);
				(void)lk_close(db);
			}
			fault_cut_at(fs, 0);
			if (!fault_is_cut(fs)) {
				ran_whole = 1;
				fault_free(fs);
				break;
			}
			fault_reboot(fs, modes[m], cut * 31 + m, NULL);
			states++;
			held = remove_every_segment(fault_io(fs));
			st = lk_open(&db, DIR, &o);
			if (st == LK_OK)
				CHECK_OK(lk_close(db));
			if (held > SEG_HEADER_BYTES)
				CHECK_ST(LK_CORRUPT, st);
			if (st != LK_OK) {
				CHECK_ST(LK_CORRUPT, st);
				CHECK(strstr(lk_errmsg(), "whole log is missing"));
				refused++;
			} else {
				opened++;
			}
			fault_free(fs);
		}
		if (ran_whole)
			break;
	}
	print_message("power cuts in a first put: %" PRIu64 " states, %"
		      PRIu64 " refused, %" PRIu64 " opened as new\n", states,
		      refused, opened);
	CHECK(states > 20 && refused > 0 && opened > 0);
}

/* A rotation creates the next segment before it seals the active one; a
 * power cut between the two leaves an unsealed segment and an empty one
 * after it.  That is not damage: open removes the empty one and goes on
 * writing where the log ended. */
static void rotation_cut_before_the_seal_is_recovered(void **state)
{
	lk_options o = test_options(mem);
	char name[SEG_NAME_BYTES], prev[SEG_NAME_BYTES];
	struct seen seen = { 0 };
	uint8_t hdr[SEG_HEADER_BYTES];
	struct seg_header h;
	const char *why = NULL;
	lk_recovery_report rep = LK_REPORT_INIT;
	struct blob b;
	lk_db *db;
	int n;

	(void)state;
	make_db(300, 4096);
	n = segment_count();
	seg_name(prev, (uint64_t)n, 0);
	b = file_read(mem, DIR, prev);
	CHECK_OK_WHY(seg_header_decode(&h, b.p, &why), why);
	free(b.p);
	h.seq_prev = h.seq;
	h.seq++;
	h.record_seq_base += 1000;
	seg_header_encode(hdr, &h);
	seg_name(name, h.seq, 0);
	file_write(mem, DIR, name, hdr, sizeof hdr);

	CHECK_OK(lk_verify(&rep, DIR, &o, on_problem, &seen));
	CHECK(seen.torn == 1 && seen.corrupt == 0 && seen.other == 0);
	CHECK(rep.segments_removed == 1);

	CHECK_OK(open_db(&db, LK_OPEN_READONLY)); /* reported, left alone */
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.segments_removed == 1);
	CHECK(has_key(db, 299));
	CHECK_OK(lk_close(db));
	CHECK(segment_count() == n + 1);

	CHECK_OK(open_db(&db, 0));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.segments_removed == 1);
	CHECK(segment_count() == n);
	put_range(db, 300, 400); /* rotates again, over the same number */
	CHECK_OK(lk_close(db));
	CHECK_OK(open_db(&db, 0));
	CHECK(has_key(db, 299) && has_key(db, 399));
	CHECK_OK(lk_close(db));
}

/* Format version 1 sealed a segment before it created the next, so a
 * power cut could leave a sealed newest segment: such logs still open. */
static void version_1_log_ending_in_a_sealed_segment_opens(void **state)
{
	char name[SEG_NAME_BYTES];
	lk_db *db;
	int n;

	(void)state;
	make_db(300, 4096);
	n = segment_count();
	for (int i = 1; i <= n; i++) {
		uint8_t hdr[SEG_HEADER_BYTES];
		struct blob b;

		seg_name(name, (uint64_t)i, 0);
		b = file_read(mem, DIR, name);
		memcpy(hdr, b.p, sizeof hdr);
		free(b.p);
		put_u16(hdr + 8, 1);
		put_u32(hdr + 60, (uint32_t)record_hash(hdr, 60, 0));
		corrupt_bytes(mem, DIR, name, 0, hdr, sizeof hdr);
	}
	seg_name(name, (uint64_t)n, 0);
	remove_file(mem, DIR, name);
	CHECK_OK(open_db(&db, 0));
	CHECK(has_key(db, 0));
	put_range(db, 300, 310);
	CHECK_OK(lk_close(db));
	CHECK_OK(open_db(&db, 0));
	CHECK(has_key(db, 305));
	CHECK_OK(lk_close(db));
}

static void bit_flip_in_a_sealed_segment_fails_open(void **state)
{
	struct rec_list l;
	char want[64];
	lk_db *db;

	(void)state;
	make_db(300, 4096);
	list_records(&l, mem, DIR, "0000000000000002.seg");
	CHECK(l.v[l.n - 1].type == REC_SEAL);
	flip_bit(mem, DIR, "0000000000000002.seg", l.v[3].offset + 9, 5);
	CHECK_ST(LK_CORRUPT, open_db(&db, 0));
	snprintf(want, sizeof want, "segment 2 (0000000000000002.seg) offset %"
		 PRIu64, l.v[3].offset);
	CHECK(strstr(lk_errmsg(), want) != NULL);
}

static void truncated_sealed_segment_fails_open(void **state)
{
	struct rec_list l;
	lk_db *db;

	(void)state;
	make_db(300, 4096);
	list_records(&l, mem, DIR, "0000000000000002.seg");
	truncate_to(mem, DIR, "0000000000000002.seg", l.v[l.n - 1].offset);
	CHECK_ST(LK_CORRUPT, open_db(&db, 0));
	CHECK(strstr(lk_errmsg(), "without its seal") != NULL);
}

static void every_record_survives_rotation_and_reopen(void **state)
{
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *db;

	(void)state;
	make_db(300, 4096);
	CHECK_OK(open_db(&db, 0));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.segments_read == (uint32_t)segment_count());
	CHECK(rep.records_replayed == 300);
	for (int i = 0; i < 300; i++)
		CHECK(has_key(db, i));
	CHECK_OK(lk_close(db));
}

static void segment_torn_while_created_is_removed(void **state)
{
	char name[SEG_NAME_BYTES];
	uint8_t half[30];
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *db;
	int n;

	(void)state;
	make_db(300, 4096);
	n = segment_count();
	seg_name(name, (uint64_t)n + 1, 0);
	memset(half, 0, sizeof half);
	memcpy(half, "LKSEG\r\n\032", 8);
	file_write(mem, DIR, name, half, sizeof half);

	/* read-only: reported, left alone */
	CHECK_OK(open_db(&db, LK_OPEN_READONLY));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.segments_removed == 1);
	CHECK_OK(lk_close(db));
	CHECK(segment_count() == n + 1);

	CHECK_OK(open_db(&db, 0));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.segments_removed == 1);
	CHECK(has_key(db, 299));
	put_range(db, 300, 310);
	CHECK_OK(lk_close(db));
	CHECK_OK(open_db(&db, 0));
	CHECK(has_key(db, 305));
	CHECK_OK(lk_close(db));
}

static void segment_of_another_database_is_refused(void **state)
{
	lk_options o = test_options(mem);
	struct blob other;
	lk_db *db;

	(void)state;
	make_db(10, 0);
	o.segment_size_bytes = 4096;
	CHECK_OK(lk_open(&db, "/other", &o));
	put_range(db, 0, 100);
	CHECK_OK(lk_close(db));
	other = file_read(mem, "/other", "0000000000000002.seg");
	file_write(mem, DIR, "0000000000000002.seg", other.p, other.n);
	free(other.p);
	/* segment 1 of DIR is not sealed, so the foreign segment 2 shows
	 * first as a chain break or as foreign: either way, refused */
	CHECK_ST(LK_CORRUPT, open_db(&db, 0));
	CHECK(strstr(lk_errmsg(), "another database") != NULL ||
	      strstr(lk_errmsg(), "without its seal") != NULL);
}

static void unknown_format_version_is_refused(void **state)
{
	uint8_t hdr[SEG_HEADER_BYTES];
	struct blob b;
	lk_db *db;

	(void)state;
	make_db(10, 0);
	b = file_read(mem, DIR, SEG1);
	memcpy(hdr, b.p, sizeof hdr);
	put_u16(hdr + 8, LK_FORMAT_VERSION + 1);
	put_u32(hdr + 60, (uint32_t)record_hash(hdr, 60, 0));
	corrupt_bytes(mem, DIR, SEG1, 0, hdr, sizeof hdr);
	free(b.p);
	CHECK_ST(LK_VERSION, open_db(&db, 0));
	CHECK(strstr(lk_errmsg(), "version") != NULL);
}

static void read_only_open_reports_a_torn_tail_and_changes_nothing(void **state)
{
	const uint8_t junk[] = { 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02 };
	struct rec_list l;
	struct blob before, after;
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *db;

	(void)state;
	make_db(KEYS, 0);
	list_records(&l, mem, DIR, SEG1);
	corrupt_bytes(mem, DIR, SEG1, l.data_end, junk, sizeof junk);
	before = file_read(mem, DIR, SEG1);
	CHECK_OK(open_db(&db, LK_OPEN_READONLY));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.bytes_cut == before.n - l.data_end);
	CHECK(has_key(db, KEYS - 1));
	CHECK_ST(LK_READONLY, lk_put(db, LK_NS_DEFAULT, "k", 1, "v", 1, 0));
	CHECK_OK(lk_close(db));
	after = file_read(mem, DIR, SEG1);
	CHECK(after.n == before.n && memcmp(after.p, before.p, after.n) == 0);
	free(before.p);
	free(after.p);
}

/* ---------------------------------------------------------------------- */
/* lk_verify                                                              */
/* ---------------------------------------------------------------------- */

static void on_problem(void *arg, const lk_problem *p)
{
	struct seen *s = arg;

	if (p->kind == LK_PROBLEM_TORN_TAIL) {
		s->torn++;
	} else if (p->kind == LK_PROBLEM_CORRUPT) {
		if (!s->corrupt++)
			s->first_offset = p->offset;
	} else {
		s->other++;
	}
	CHECK(p->what && p->file);
}

static void on_problem_ignore(void *arg, const lk_problem *p)
{
	(void)arg;
	(void)p;
}

static void verify_tells_torn_tail_from_damage_and_goes_on(void **state)
{
	lk_options o = test_options(mem);
	lk_recovery_report rep = LK_REPORT_INIT;
	struct rec_list l2, l3;
	struct seen s = { 0 };

	(void)state;
	make_db(300, 4096);
	CHECK_OK(lk_verify(&rep, DIR, &o, on_problem, &s));
	CHECK(s.torn == 0 && s.corrupt == 0 && s.other == 0);
	CHECK(rep.records_replayed == 300);

	list_records(&l2, mem, DIR, "0000000000000002.seg");
	list_records(&l3, mem, DIR, "0000000000000003.seg");
	flip_bit(mem, DIR, "0000000000000002.seg", l2.v[2].offset + 5, 1);
	flip_bit(mem, DIR, "0000000000000003.seg", l3.v[4].offset + 5, 1);
	memset(&s, 0, sizeof s);
	CHECK_ST(LK_CORRUPT, lk_verify(&rep, DIR, &o, on_problem, &s));
	CHECK(s.corrupt == 2);
	CHECK(s.first_offset == l2.v[2].offset);
}

/* Each problem names the sequence numbers it takes from the log, in log
 * order: damage mid-log from the group it broke to the next commit, a
 * missing segment its records, a missing newest segment every one after
 * the last kept, a torn tail the group it cuts, a duplicate none. */
struct seq_seen {
	lk_problem_kind kind[8];
	uint64_t segment[8], first[8], last[8];
	int n;
};

static void on_problem_seqs(void *arg, const lk_problem *p)
{
	struct seq_seen *s = arg;

	CHECK(s->n < 8);
	s->kind[s->n] = p->kind;
	s->segment[s->n] = p->segment_seq;
	s->first[s->n] = p->seq_first;
	s->last[s->n] = p->seq_last;
	s->n++;
}

/* The first and last put sequence numbers of segment `seq`. */
static void seg_seqs(uint64_t seq, uint64_t *first, uint64_t *last)
{
	char name[SEG_NAME_BYTES];
	struct rec_list l;

	seg_name(name, seq, 0);
	list_records(&l, mem, DIR, name);
	*first = *last = 0;
	for (size_t i = 0; i < l.n; i++) {
		if (!l.v[i].seq)
			continue;
		if (!*first)
			*first = l.v[i].seq;
		*last = l.v[i].seq;
	}
}

static void verify_names_the_sequence_numbers_each_problem_takes(void **st)
{
	lk_options o = test_options(mem);
	lk_recovery_report rep = LK_REPORT_INIT;
	uint64_t f2, l2, f4, l4, f5, l5, fn, ln;
	char name[SEG_NAME_BYTES], k[16];
	struct seq_seen s = { 0 };
	struct rec_list r2;
	lk_db *db;
	int n;

	(void)st;
	make_db(800, 4096);
	n = segment_count();
	CHECK(n >= 7);
	seg_seqs(2, &f2, &l2);
	seg_seqs(4, &f4, &l4);
	seg_seqs(5, &f5, &l5);
	seg_seqs((uint64_t)n, &fn, &ln);
	CHECK(f2 > 1 && l2 > f2 && f4 > l2 && f5 == l4 + 1);

	/* damage in segment 2 (its third record), segment 4 missing */
	list_records(&r2, mem, DIR, "0000000000000002.seg");
	CHECK(r2.v[2].seq == f2 + 1); /* single puts: put, commit, put */
	flip_bit(mem, DIR, "0000000000000002.seg", r2.v[2].offset + 5, 1);
	remove_file(mem, DIR, "0000000000000004.seg");
	CHECK_ST(LK_CORRUPT, lk_verify(&rep, DIR, &o, on_problem_seqs, &s));
	CHECK(s.n == 2);
	CHECK(s.kind[0] == LK_PROBLEM_CORRUPT && s.segment[0] == 2);
	CHECK(s.first[0] == f2 + 1 && s.last[0] == f2 + 1);
	CHECK(s.kind[1] == LK_PROBLEM_MISSING && s.segment[1] == 5);
	CHECK(s.first[1] == f4 && s.last[1] == l4);

	/* the newest segment missing: everything after the last kept */
	lk_io_memory_free(mem);
	CHECK_OK(lk_io_memory_new(&mem));
	o = test_options(mem);
	make_db(800, 4096);
	seg_name(name, (uint64_t)n, 0);
	remove_file(mem, DIR, name);
	memset(&s, 0, sizeof s);
	CHECK_ST(LK_CORRUPT, lk_verify(&rep, DIR, &o, on_problem_seqs, &s));
	CHECK(s.n == 1 && s.kind[0] == LK_PROBLEM_MISSING);
	CHECK(s.first[0] == fn && s.last[0] == 0);

	/* a torn tail: the group it cuts */
	lk_io_memory_free(mem);
	CHECK_OK(lk_io_memory_new(&mem));
	o = test_options(mem);
	make_db(800, 4096);
	CHECK_OK(open_db(&db, 0));
	{
		lk_batch *b;

		CHECK_OK(lk_batch_new(&b));
		for (int i = 0; i < 3; i++) {
			key_of(k, 400 + i);
			CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, k, strlen(k),
					      "v", 1, 0));
		}
		CHECK_OK(lk_commit(db, b));
		lk_batch_free(b);
	}
	CHECK_OK(lk_close(db));
	n = segment_count();
	seg_name(name, (uint64_t)n, 0);
	{
		struct rec_list l;
		size_t c;

		list_records(&l, mem, DIR, name);
		/* c - 1: the batch's commit, after its 3 puts (the close's
		 * empty commit may follow) */
		for (c = l.n; c >= 4 && !(l.v[c - 1].type == REC_COMMIT &&
					  l.v[c - 2].seq && l.v[c - 3].seq &&
					  l.v[c - 4].seq);
		     c--)
			;
		CHECK(c >= 4);
		/* the batch's commit torn: its 3 puts are cut */
		truncate_to(mem, DIR, name, l.v[c - 1].offset + 2);
		memset(&s, 0, sizeof s);
		CHECK_OK(lk_verify(&rep, DIR, &o, on_problem_seqs, &s));
		CHECK(s.n == 1 && s.kind[0] == LK_PROBLEM_TORN_TAIL);
		CHECK(s.first[0] == l.v[c - 4].seq);
		CHECK(s.last[0] == l.v[c - 2].seq);
	}
}

static void verify_reports_a_torn_tail_as_not_damage(void **state)
{
	const uint8_t junk[] = { 0x11, 0x22, 0x33 };
	lk_options o = test_options(mem);
	lk_recovery_report rep = LK_REPORT_INIT;
	struct rec_list l;
	struct seen s = { 0 };

	(void)state;
	make_db(KEYS, 0);
	list_records(&l, mem, DIR, SEG1);
	corrupt_bytes(mem, DIR, SEG1, l.data_end, junk, sizeof junk);
	CHECK_OK(lk_verify(&rep, DIR, &o, on_problem, &s));
	CHECK(s.torn == 1 && s.corrupt == 0);
	CHECK(rep.cut_offset == l.data_end && rep.bytes_cut > 0);
}

/* ---------------------------------------------------------------------- */
/* Real files                                                             */
/* ---------------------------------------------------------------------- */

static void posix_torn_tail_and_bit_flip(void **state)
{
	const lk_io *px = lk_io_posix();
	char dir[64];
	lk_options o = test_options(px);
	struct rec_list l;
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *db;

	(void)state;
	CHECK(make_temp_dir(dir, sizeof dir, "recovery") == 0);
	CHECK_OK(lk_open(&db, dir, &o));
	put_range(db, 0, KEYS);
	CHECK_OK(lk_close(db));
	list_records(&l, px, dir, SEG1);
	truncate_to(px, dir, SEG1, l.data_end - 3);
	CHECK_OK(lk_open(&db, dir, &o));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.bytes_cut > 0);
	CHECK_OK(lk_close(db));
	flip_bit(px, dir, SEG1, l.v[1].offset + 2, 0);
	CHECK_ST(LK_CORRUPT, lk_open(&db, dir, &o));
	CHECK(remove_tree(dir) == 0);
}

/* Before, a read-only open and lk_verify waited forever for a writer of
 * the FIFO; the alarm turns such a hang into a failure. */
static void fifo_named_like_a_segment_fails_every_open_without_blocking(
	void **state)
{
	const lk_io *px = lk_io_posix();
	lk_options o = test_options(px);
	struct seen seen = { 0 };
	lk_recovery_report rep = LK_REPORT_INIT;
	char dir[64], fifo[128];
	lk_db *db;

	(void)state;
	CHECK(make_temp_dir(dir, sizeof dir, "fifo") == 0);
	CHECK_OK(lk_open(&db, dir, &o));
	put_range(db, 0, KEYS);
	CHECK_OK(lk_close(db));
	snprintf(fifo, sizeof fifo, "%s/00000000000000ff.seg", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	alarm(30);
	CHECK_ST(LK_IO, lk_open(&db, dir, &o));
	CHECK(strstr(lk_errmsg(), "00000000000000ff.seg") != NULL);
	o.flags = LK_OPEN_READONLY;
	CHECK_ST(LK_IO, lk_open(&db, dir, &o));
	CHECK(strstr(lk_errmsg(), "not a regular file (a FIFO)") != NULL);
	CHECK_ST(LK_IO, lk_verify(&rep, dir, &o, on_problem, &seen));
	CHECK(seen.other == 1);
	alarm(0);
	CHECK(remove_tree(dir) == 0);
}

/* The bytes an open reads, through a wrapped POSIX layer. */
static const lk_io *counted_inner;
static uint64_t counted_bytes;

static lk_status counting_pread(void *ctx, lk_io_file *f, void *buf,
				size_t n, uint64_t offset, size_t *got)
{
	lk_status st = counted_inner->pread(ctx, f, buf, n, offset, got);

	counted_bytes += *got;
	return st;
}

/* `truncate -s 8G` on the newest segment: before, every open read all 8
 * GiB of zeroes (time linear in the apparent size).  Now a segment file
 * larger than any segment logkeep writes is damage, refused after reading
 * the header, and nothing on disk changes. */
static void sparse_tail_past_the_segment_limit_is_refused_unread(void **state)
{
	const uint64_t huge = UINT64_C(8) << 30;
	const lk_io *px = lk_io_posix();
	lk_io counted = *px;
	lk_options o = test_options(&counted);
	lk_io_file *f;
	lk_io_dir *d;
	uint64_t size;
	char dir[64];
	lk_db *db;

	(void)state;
	counted_inner = px;
	counted.pread = counting_pread;
	CHECK(make_temp_dir(dir, sizeof dir, "sparse") == 0);
	CHECK_OK(lk_open(&db, dir, &o));
	put_range(db, 0, KEYS);
	CHECK_OK(lk_close(db));
	truncate_to(px, dir, SEG1, huge);

	counted_bytes = 0;
	CHECK_ST(LK_CORRUPT, lk_open(&db, dir, &o));
	CHECK(strstr(lk_errmsg(), SEG1) != NULL);
	CHECK(strstr(lk_errmsg(), "larger than any segment") != NULL);
	CHECK(counted_bytes < 1024 * 1024);
	o.flags = LK_OPEN_READONLY;
	counted_bytes = 0;
	CHECK_ST(LK_CORRUPT, lk_open(&db, dir, &o));
	CHECK(counted_bytes < 1024 * 1024);

	CHECK_OK(px->dir_open(px->ctx, dir, 0, &d));
	CHECK_OK(px->open(px->ctx, d, SEG1, LK_IO_READ, &f));
	CHECK_OK(px->size(px->ctx, f, &size));
	CHECK(size == huge); /* the refused writing open kept it as it was */
	px->close(px->ctx, f);
	px->dir_close(px->ctx, d);
	CHECK(remove_tree(dir) == 0);
}

/* ---------------------------------------------------------------------- */
/* Readers beside a writer                                                */
/* ---------------------------------------------------------------------- */

/* A layer over the memory one whose dir_list runs `between` once the
 * listing is taken, as if another process acted between a reader's
 * listing and its opens. */
static lk_io beside;
static void (*between)(void);
static unsigned listings;

static lk_status beside_dir_list(void *ctx, lk_io_dir *dir, lk_io_list_fn fn,
				 void *arg)
{
	lk_status st = mem->dir_list(ctx, dir, fn, arg);

	listings++;
	if (between)
		between();
	return st;
}

static lk_db *writer;

/* The writer's compaction rewrites the sealed segments and removes them. */
static void compact_once(void)
{
	between = NULL;
	CHECK_OK(lk_compact(writer));
}

/* Several sealed segments, every key written eight times: a compaction
 * rewrites and removes them. */
static void open_writer_with_dead_segments(void)
{
	lk_options o = test_options(mem);

	o.segment_size_bytes = 4096;
	CHECK_OK(lk_open(&writer, DIR, &o));
	for (int round = 0; round < 8; round++)
		put_range(writer, 0, KEYS);
	beside = *mem;
	beside.dir_list = beside_dir_list;
	listings = 0;
}

static void check_every_key(lk_db *db)
{
	for (int i = 0; i < KEYS; i++)
		CHECK(has_key(db, i));
}

static void read_only_open_retries_when_compaction_removes_a_listed_segment(
	void **state)
{
	lk_options o = test_options(&beside);
	lk_stats st = { .version = LK_STATS_VERSION };
	lk_db *db;

	(void)state;
	open_writer_with_dead_segments();
	CHECK_OK(lk_stats_get(&st, writer));
	CHECK(st.segment_count > 2);
	o.flags = LK_OPEN_READONLY;
	between = compact_once;
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK(between == NULL); /* the compaction did run in between */
	CHECK(listings >= 3);   /* listed, found stale, listed again (twice) */
	check_every_key(db);
	CHECK_OK(lk_close(db));
	CHECK_OK(lk_close(writer));
}

static void verify_retries_when_compaction_removes_a_listed_segment(
	void **state)
{
	lk_options o = test_options(&beside);
	lk_recovery_report rep = LK_REPORT_INIT;
	struct seen s = { 0 };

	(void)state;
	open_writer_with_dead_segments();
	between = compact_once;
	CHECK_OK(lk_verify(&rep, DIR, &o, on_problem, &s));
	CHECK(between == NULL);
	CHECK(s.torn == 0 && s.corrupt == 0 && s.other == 0);
	CHECK(rep.records_replayed >= KEYS);
	CHECK_OK(lk_close(writer));
}

/* A segment file that comes and goes at every listing, at a place in
 * the log a compaction's output would take. */
static void flicker(void)
{
	static const char name[] = "0000000000000001.5.seg";
	lk_io_dir *d;
	lk_io_file *f;

	CHECK_OK(mem->dir_open(mem->ctx, DIR, 0, &d));
	if (mem->unlink(mem->ctx, d, name) == LK_NOT_FOUND) {
		CHECK_OK(mem->open(mem->ctx, d, name,
				   LK_IO_WRITE | LK_IO_CREATE, &f));
		mem->close(mem->ctx, f);
	}
	mem->dir_close(mem->ctx, d);
}

/* A rotation between the listings adds a segment past the newest: the
 * open goes on with the log as first listed. */
static void rotate_once(void)
{
	lk_options o = test_options(mem);
	char v[64];
	lk_db *db;

	between = NULL;
	o.segment_size_bytes = 4096;
	CHECK_OK(lk_open(&db, DIR, &o));
	memset(v, 'r', sizeof v);
	for (int i = 0; i < 100; i++)
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, "rot", 3, v, sizeof v, 0));
	CHECK_OK(lk_close(db));
}

/* A rotation drops the active segment's zero prefill when it seals it:
 * a reader that took the file's size before saw it longer than it is
 * now.  Here every size is reported 4 KiB longer than the file: the
 * bytes past the end are nothing, not damage (the race once failed
 * read_only_opens_beside_compactions_succeed under ThreadSanitizer). */
static lk_status longer_size(void *ctx, lk_io_file *f, uint64_t *size)
{
	lk_status st = mem->size(ctx, f, size);

	*size += 4096;
	return st;
}

static void read_only_open_beside_a_seal_that_shrank_the_file(void **state)
{
	lk_options o = test_options(&beside), wo = test_options(mem);
	char name[SEG_NAME_BYTES];
	lk_db *db, *w;
	int n;

	(void)state;
	make_db(KEYS, 4096);
	beside = *mem;
	beside.size = longer_size;
	o.flags = LK_OPEN_READONLY;
	CHECK_OK(lk_open(&db, DIR, &o)); /* the newest one seen longer */
	check_every_key(db);
	CHECK_OK(lk_close(db));

	/* A sealed one seen longer, before the empty successor of a
	 * rotation that has just happened: the writer rotates, and the
	 * successor's records are dropped to leave it as it was created. */
	n = segment_count();
	wo.segment_size_bytes = 4096;
	CHECK_OK(lk_open(&w, DIR, &wo));
	for (int i = 0; segment_count() == n; i++) {
		char k[16];

		snprintf(k, sizeof k, "more%04d", i);
		CHECK_OK(lk_put(w, LK_NS_DEFAULT, k, strlen(k),
				"0123456789abcdef0123456789", 26, 0));
	}
	CHECK_OK(lk_close(w));
	seg_name(name, (uint64_t)n + 1, 0);
	truncate_to(mem, DIR, name, SEG_HEADER_BYTES);
	CHECK_OK(lk_open(&db, DIR, &o));
	check_every_key(db);
	CHECK_OK(lk_close(db));
}

static void read_only_open_ignores_a_segment_a_rotation_added(void **state)
{
	lk_options o = test_options(&beside);
	unsigned undisturbed;
	lk_db *db;

	(void)state;
	make_db(KEYS, 0);
	beside = *mem;
	beside.dir_list = beside_dir_list;
	o.flags = LK_OPEN_READONLY;
	listings = 0;
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_close(db));
	undisturbed = listings;
	listings = 0;
	between = rotate_once;
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK(between == NULL);
	/* not taken again; one more listing finds the successor that
	 * makes the seal of the newest segment opened legitimate */
	CHECK(listings == undisturbed + 1);
	check_every_key(db);
	CHECK_OK(lk_close(db));
}

static void read_only_open_gives_up_busy_when_the_listing_never_settles(
	void **state)
{
	lk_options o = test_options(&beside);
	lk_db *db;

	(void)state;
	make_db(KEYS, 0);
	beside = *mem;
	beside.dir_list = beside_dir_list;
	listings = 0;
	o.flags = LK_OPEN_READONLY;
	between = flicker;
	CHECK_ST(LK_BUSY, lk_open(&db, DIR, &o));
	CHECK(listings == 20); /* two listings per attempt, ten attempts */
	between = NULL;
}

/* ---------------------------------------------------------------------- */
/* Forged segments: valid checksums, impossible structure                  */
/* ---------------------------------------------------------------------- */

/* A segment written record by record with correct checksums, so that only
 * the structural checks can refuse it. */
struct forge {
	uint8_t buf[1 << 21];
	size_t len;
	struct seg_header h;
	uint64_t db_seed;
};

static const uint8_t forged_db_id[SEG_DB_ID_BYTES] = "forged-database";

static void forge_begin(struct forge *f, uint64_t seq, uint64_t seq_prev,
			uint64_t seq_base, uint32_t generation)
{
	memset(&f->h, 0, sizeof f->h);
	f->h.version = LK_FORMAT_VERSION;
	memcpy(f->h.db_id, forged_db_id, SEG_DB_ID_BYTES);
	f->h.seq = seq;
	f->h.seq_prev = seq_prev;
	f->h.record_seq_base = seq_base;
	f->h.generation = generation;
	f->db_seed = record_hash(forged_db_id, SEG_DB_ID_BYTES, 0);
	seg_header_encode(f->buf, &f->h);
	f->len = SEG_HEADER_BYTES;
}

static void forge_record(struct forge *f, uint8_t type, uint64_t seq,
			 uint32_t durable_upto, uint64_t count)
{
	struct record r = { 0 };
	char key[16];

	r.type = type;
	r.seq = type <= REC_DEL ? seq : f->h.record_seq_base;
	if (type <= REC_DEL) {
		snprintf(key, sizeof key, "fk%" PRIu64, seq);
		r.key = (const uint8_t *)key;
		r.key_len = (uint32_t)strlen(key);
		r.ns = LK_NS_DEFAULT;
		r.value = (const uint8_t *)"forged";
		r.value_len = type == REC_PUT ? 6 : 0;
	}
	r.durable_upto = durable_upto;
	r.count = count;
	CHECK(f->len + record_encoded_size(&r, f->h.record_seq_base) <=
	      sizeof f->buf);
	f->len += record_encode(f->buf + f->len, &r, f->h.record_seq_base,
				record_seed(f->db_seed, f->h.seq,
					    f->h.generation, f->len));
}

static void forge_write(struct forge *f, const char *name)
{
	char canon[SEG_NAME_BYTES];

	if (!name) {
		seg_name(canon, f->h.seq, f->h.generation);
		name = canon;
	}
	file_write(mem, DIR, name, f->buf, f->len);
}

/* A sealed segment 1 holding one committed put, for use before a forged
 * segment 2. */
static void forge_good_first(void)
{
	static struct forge f;

	forge_begin(&f, 1, 0, 1, 0);
	forge_record(&f, REC_PUT, 1, 0, 0);
	forge_record(&f, REC_COMMIT, 0, 0, 1);
	forge_record(&f, REC_SEAL, 0, (uint32_t)f.len, 1);
	forge_write(&f, NULL);
}

/* A newest segment holding one committed put, so that the forged segment
 * before it is judged as a sealed one: an empty newest segment after an
 * unsealed one is a rotation cut by a power loss, judged as a tail. */
static void forge_successor(struct forge *f, uint64_t seq, uint64_t prev,
			    uint64_t base)
{
	forge_begin(f, seq, prev, base, 0);
	forge_record(f, REC_PUT, base, 0, 0);
	forge_record(f, REC_COMMIT, 0, 0, 1);
	forge_write(f, NULL);
}

/* Opens; wants LK_CORRUPT with `why` in the detail. */
static void refused_for(const char *why)
{
	lk_db *db;

	CHECK_ST(LK_CORRUPT, open_db(&db, 0));
	if (!strstr(lk_errmsg(), why)) {
		fprintf(stderr, "wanted \"%s\" in \"%s\"\n", why, lk_errmsg());
		CHECK(0 && "the refusal names another problem");
	}
}

/* A refused open makes no repair at all: the torn newest segment stays
 * when the segment before it turns out damaged (found by fuzz_open). */
static void refused_open_keeps_a_torn_newest_segment(void **state)
{
	static struct forge f;
	char name[SEG_NAME_BYTES];
	uint8_t half[30];
	struct blob b;
	lk_db *db;

	(void)state;
	forge_begin(&f, 1, 0, 1, 0);
	forge_record(&f, REC_PUT, 1, 0, 0);
	forge_record(&f, REC_COMMIT, 0, 0, 1);
	forge_record(&f, REC_COMMIT, 0, 1u << 20, 0); /* damage ... */
	forge_record(&f, REC_COMMIT, 0, (uint32_t)f.len, 0); /* ... synced */
	forge_write(&f, NULL);
	seg_name(name, 2, 0);
	memset(half, 0, sizeof half);
	memcpy(half, "LKSEG\r\n\032", 8);
	file_write(mem, DIR, name, half, sizeof half);

	refused_for("in data a later commit says was synced");
	CHECK(segment_count() == 2);
	CHECK_ST(LK_CORRUPT, open_db(&db, 0));
	CHECK(segment_count() == 2);
	b = file_read(mem, DIR, SEG1);
	CHECK(b.n == f.len && memcmp(b.p, f.buf, b.n) == 0);
	free(b.p);
}

static void forged_sealed_segment_with_data_after_its_seal_is_refused(
	void **state)
{
	static struct forge f;

	(void)state;
	forge_begin(&f, 1, 0, 1, 0);
	forge_record(&f, REC_PUT, 1, 0, 0);
	forge_record(&f, REC_COMMIT, 0, 0, 1);
	forge_record(&f, REC_SEAL, 0, 0, 1);
	forge_record(&f, REC_COMMIT, 0, 0, 0);
	forge_write(&f, NULL);
	forge_successor(&f, 2, 1, 2);
	refused_for("data after the seal record");
}

static void forged_sequence_going_back_is_refused(void **state)
{
	static struct forge f;

	(void)state;
	forge_good_first();
	forge_begin(&f, 2, 1, 1, 0); /* base 1: seq 1 again */
	forge_record(&f, REC_PUT, 1, 0, 0);
	forge_record(&f, REC_COMMIT, 0, 0, 1);
	forge_record(&f, REC_SEAL, 0, 0, 1);
	forge_write(&f, NULL);
	forge_successor(&f, 3, 2, 5);
	refused_for("sequence number does not increase");
}

static void forged_commit_claiming_the_future_is_refused(void **state)
{
	static struct forge f;

	(void)state;
	forge_begin(&f, 1, 0, 1, 0);
	forge_record(&f, REC_PUT, 1, 0, 0);
	forge_record(&f, REC_COMMIT, 0, 1u << 20, 1);
	forge_record(&f, REC_SEAL, 0, 0, 1);
	forge_write(&f, NULL);
	forge_successor(&f, 2, 1, 2);
	refused_for("commit claims durability past itself");
}

static void forged_commit_count_mismatch_is_refused(void **state)
{
	static struct forge f;

	(void)state;
	forge_begin(&f, 1, 0, 1, 0);
	forge_record(&f, REC_PUT, 1, 0, 0);
	forge_record(&f, REC_PUT, 2, 0, 0);
	forge_record(&f, REC_COMMIT, 0, 0, 1);
	forge_record(&f, REC_SEAL, 0, 0, 2);
	forge_write(&f, NULL);
	forge_successor(&f, 2, 1, 3);
	refused_for("commit count does not match its group");
}

static void forged_seal_inside_a_group_is_refused(void **state)
{
	static struct forge f;

	(void)state;
	forge_begin(&f, 1, 0, 1, 0);
	forge_record(&f, REC_PUT, 1, 0, 0);
	forge_record(&f, REC_SEAL, 0, 0, 0);
	forge_write(&f, NULL);
	forge_successor(&f, 2, 1, 2);
	refused_for("seal inside an uncommitted group");
}

static void forged_seal_with_wrong_count_is_refused(void **state)
{
	static struct forge f;

	(void)state;
	forge_begin(&f, 1, 0, 1, 0);
	forge_record(&f, REC_PUT, 1, 0, 0);
	forge_record(&f, REC_COMMIT, 0, 0, 1);
	forge_record(&f, REC_SEAL, 0, 0, 7);
	forge_write(&f, NULL);
	forge_successor(&f, 2, 1, 2);
	refused_for("seal's record count does not match");
}

static void forged_group_larger_than_the_format_allows_is_refused(
	void **state)
{
	static struct forge f;

	(void)state;
	forge_begin(&f, 1, 0, 1, 0);
	for (uint64_t i = 1; i <= LK_BATCH_OPS_MAX + 1; i++)
		forge_record(&f, REC_DEL, i, 0, 0);
	forge_record(&f, REC_COMMIT, 0, 0, LK_BATCH_OPS_MAX + 1);
	forge_record(&f, REC_SEAL, 0, 0, LK_BATCH_OPS_MAX + 1);
	forge_write(&f, NULL);
	forge_successor(&f, 2, 1, LK_BATCH_OPS_MAX + 2);
	refused_for("group larger than the format allows");
}

static void forged_file_name_and_header_disagreeing_is_refused(void **state)
{
	static struct forge f;

	(void)state;
	forge_good_first();
	forge_begin(&f, 3, 1, 2, 0);
	forge_write(&f, "0000000000000002.seg");
	refused_for("file name and header disagree");
}

/* Two generations at one log position are what a compaction leaves when
 * cut before it removed the old file: a complete (sealed) new generation
 * replaces the old one, an incomplete one is dropped. */
static void two_generations_at_one_position_keep_the_complete_one(
	void **state)
{
	static struct forge f;
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *db;

	(void)state;
	forge_good_first();
	forge_begin(&f, 2, 1, 2, 0); /* the successor a seal promises */
	forge_write(&f, NULL);
	forge_begin(&f, 1, 0, 1, 1);
	forge_record(&f, REC_PUT, 1, 0, 0);
	forge_record(&f, REC_COMMIT, 0, 0, 1); /* no seal: cut short */
	forge_write(&f, NULL); /* 0000000000000001.1.seg */
	CHECK_OK(open_db(&db, 0));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.compaction_leftovers == 1);
	CHECK_OK(lk_close(db));
	CHECK(segment_count() == 2);
	{
		struct blob b = file_read(mem, DIR, SEG1);

		CHECK(b.n > 0);
		free(b.p);
	}

	forge_begin(&f, 1, 0, 1, 1);
	forge_record(&f, REC_SEAL, 0, 0, 0); /* complete, and empty */
	forge_write(&f, NULL);
	CHECK_OK(open_db(&db, LK_OPEN_READONLY));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.compaction_leftovers == 1);
	CHECK_ST(LK_NOT_FOUND, lk_exists(db, LK_NS_DEFAULT, "fk1", 3));
	CHECK_OK(lk_close(db));
	CHECK(segment_count() == 3);
	CHECK_OK(open_db(&db, 0));
	CHECK_ST(LK_NOT_FOUND, lk_exists(db, LK_NS_DEFAULT, "fk1", 3));
	CHECK_OK(lk_close(db));
	CHECK(segment_count() == 2);
}

static void forged_problems_in_the_newest_segment_are_a_torn_tail(
	void **state)
{
	static struct forge f;
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *db;

	(void)state;
	/* a commit whose count lies, at the end of the log: nothing after
	 * it vouches for it, so it is cut like any torn tail */
	forge_good_first();
	forge_begin(&f, 2, 1, 2, 0);
	forge_record(&f, REC_PUT, 2, 0, 0);
	forge_record(&f, REC_PUT, 3, 0, 0);
	forge_record(&f, REC_COMMIT, 0, 0, 1);
	forge_write(&f, NULL);
	CHECK_OK(open_db(&db, 0));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.cut_segment_seq == 2 && rep.cut_offset == SEG_HEADER_BYTES);
	CHECK(strstr(rep.tail_note, "commit count") != NULL);
	CHECK_ST(LK_NOT_FOUND, lk_exists(db, LK_NS_DEFAULT, "fk2", 3));
	CHECK_OK(lk_exists(db, LK_NS_DEFAULT, "fk1", 3));
	CHECK_OK(lk_close(db));
}

static void too_many_segment_files_are_refused(void **state)
{
	char name[SEG_NAME_BYTES];
	lk_options o = test_options(mem);
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *db;

	(void)state;
	for (uint64_t i = 1; i <= LK_SEGMENT_COUNT_MAX + 1; i++) {
		seg_name(name, i, 0);
		file_write(mem, DIR, name, "", 0);
	}
	CHECK_ST(LK_TOO_BIG, open_db(&db, 0));
	CHECK(strstr(lk_errmsg(), "segments") != NULL);
	/* past twice the limit the listing itself stops */
	for (uint64_t i = LK_SEGMENT_COUNT_MAX + 2;
	     i <= 2 * LK_SEGMENT_COUNT_MAX + 1; i++) {
		seg_name(name, i, 0);
		file_write(mem, DIR, name, "", 0);
	}
	CHECK_ST(LK_TOO_BIG, open_db(&db, 0));
	CHECK_ST(LK_TOO_BIG, lk_verify(&rep, DIR, &o, on_problem_ignore, NULL));
}

static void forged_catalog_giving_one_id_two_names_is_refused(void **state)
{
	static struct forge f;
	struct record r = { 0 };
	const uint8_t id = 2;

	(void)state;
	forge_begin(&f, 1, 0, 1, 0);
	for (int i = 0; i < 2; i++) {
		r.type = REC_PUT;
		r.ns = 0;
		r.seq = (uint64_t)i + 1;
		r.key = (const uint8_t *)(i ? "beta" : "alpha");
		r.key_len = i ? 4 : 5;
		r.value = &id;
		r.value_len = 1;
		f.len += record_encode(f.buf + f.len, &r, 1,
				       record_seed(f.db_seed, 1, 0, f.len));
	}
	forge_record(&f, REC_COMMIT, 0, 0, 2);
	forge_record(&f, REC_SEAL, 0, 0, 2);
	forge_write(&f, NULL);
	forge_successor(&f, 2, 1, 3);
	refused_for("invalid namespace catalog entry");
}

/* Records too large for the index's 12-bit size field, overwritten so
 * that replay must confirm keys by reading the old record back, across
 * more than one read window. */
static void large_records_overwritten_replay_exactly(void **state)
{
	static uint8_t big[9000];
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *db;

	(void)state;
	CHECK_OK(open_db(&db, LK_OPEN_CREATE));
	for (int round = 0; round < 3; round++) {
		for (int k = 0; k < 150; k++) {
			char key[16];

			for (size_t i = 0; i < sizeof big; i++)
				big[i] = (uint8_t)((i * 2654435761u) >> 13 ^
						   (unsigned)(k * 31 + round));
			snprintf(key, sizeof key, "big%03d", k);
			CHECK_OK(lk_put(db, LK_NS_DEFAULT, key, strlen(key),
					big, sizeof big, 0));
		}
	}
	CHECK_OK(lk_close(db));
	CHECK_OK(open_db(&db, 0));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.records_replayed == 450);
	for (int k = 0; k < 150; k++) {
		char key[16];
		size_t len;
		void *v;

		snprintf(key, sizeof key, "big%03d", k);
		CHECK_OK(lk_get(&v, &len, db, LK_NS_DEFAULT, key, strlen(key)));
		CHECK(len == sizeof big &&
		      ((uint8_t *)v)[0] == (uint8_t)(k * 31 + 2));
		lk_free(v);
	}
	{
		lk_stats st = LK_STATS_INIT;
		uint64_t count;

		CHECK_OK(lk_stats_get(&st, db));
		CHECK(st.live_keys == 150);
		CHECK_OK(lk_count(&count, db, LK_NS_DEFAULT));
		CHECK(count == 150);
		/* two thirds of the log are overwritten records */
		CHECK(st.dead_bytes > st.live_bytes);
	}
	CHECK_OK(lk_close(db));
}

static void verify_names_every_kind_of_problem(void **state)
{
	lk_options o = test_options(mem);
	uint8_t hdr[SEG_HEADER_BYTES];
	lk_recovery_report rep = LK_REPORT_INIT;
	struct seen s = { 0 };
	struct blob b;

	(void)state;
	make_db(300, 4096);
	/* segment 2 in a newer format, segment 4 missing */
	b = file_read(mem, DIR, "0000000000000002.seg");
	memcpy(hdr, b.p, sizeof hdr);
	free(b.p);
	put_u16(hdr + 8, LK_FORMAT_VERSION + 1);
	put_u32(hdr + 60, (uint32_t)record_hash(hdr, 60, 0));
	corrupt_bytes(mem, DIR, "0000000000000002.seg", 0, hdr, sizeof hdr);
	remove_file(mem, DIR, "0000000000000004.seg");
	CHECK_ST(LK_VERSION, lk_verify(&rep, DIR, &o, on_problem, &s));
	CHECK(s.other >= 2); /* the version, the missing segment */
	CHECK(strstr(lk_errmsg(), "problems") != NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(truncated_tail_is_cut_and_reported_at_every_offset),
		T(zero_tail_is_free_space_not_damage),
		T(torn_tail_of_zero_bytes_is_free_space),
		T(garbage_tail_is_cut_and_reported),
		T(torn_write_over_zero_prefill_is_cut),
		T(bit_flip_before_the_tail_fails_open_naming_segment_and_offset),
		T(damage_in_last_group_after_a_crash_is_a_torn_tail),
		T(batch_cut_anywhere_is_all_or_nothing),
		T(missing_middle_segment_refuses_open_naming_it),
		T(missing_first_segment_refuses_open),
		T(bit_flip_in_a_sealed_segment_fails_open),
		T(truncated_sealed_segment_fails_open),
		T(every_record_survives_rotation_and_reopen),
		T(segment_torn_while_created_is_removed),
		T(missing_newest_segment_refuses_open_naming_it),
		T(every_segment_missing_refuses_open_and_changes_nothing),
		T(new_and_unmarked_directories_open),
		T(power_cut_anywhere_in_a_first_put_keeps_the_loss_detectable),
		T(rotation_cut_before_the_seal_is_recovered),
		T(version_1_log_ending_in_a_sealed_segment_opens),
		T(refused_open_keeps_a_torn_newest_segment),
		T(segment_of_another_database_is_refused),
		T(unknown_format_version_is_refused),
		T(read_only_open_reports_a_torn_tail_and_changes_nothing),
		T(verify_tells_torn_tail_from_damage_and_goes_on),
		T(verify_reports_a_torn_tail_as_not_damage),
		T(verify_names_the_sequence_numbers_each_problem_takes),
		T(forged_sealed_segment_with_data_after_its_seal_is_refused),
		T(forged_sequence_going_back_is_refused),
		T(forged_commit_claiming_the_future_is_refused),
		T(forged_commit_count_mismatch_is_refused),
		T(forged_seal_inside_a_group_is_refused),
		T(forged_seal_with_wrong_count_is_refused),
		T(forged_group_larger_than_the_format_allows_is_refused),
		T(forged_file_name_and_header_disagreeing_is_refused),
		T(two_generations_at_one_position_keep_the_complete_one),
		T(forged_problems_in_the_newest_segment_are_a_torn_tail),
		T(too_many_segment_files_are_refused),
		T(forged_catalog_giving_one_id_two_names_is_refused),
		T(large_records_overwritten_replay_exactly),
		T(verify_names_every_kind_of_problem),
		T(read_only_open_retries_when_compaction_removes_a_listed_segment),
		T(verify_retries_when_compaction_removes_a_listed_segment),
		T(read_only_open_gives_up_busy_when_the_listing_never_settles),
		T(read_only_open_ignores_a_segment_a_rotation_added),
		T(read_only_open_beside_a_seal_that_shrank_the_file),
		cmocka_unit_test(posix_torn_tail_and_bit_flip),
		cmocka_unit_test(
			fifo_named_like_a_segment_fails_every_open_without_blocking),
		cmocka_unit_test(
			sparse_tail_past_the_segment_limit_is_refused_unread),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
