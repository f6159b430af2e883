/* SPDX-License-Identifier: MIT */
/*
 * test_segment.c - segment files (engine/segment.h): their names, their
 * 64-byte header and the windowed reader that scans their records.
 *
 * Goal: every segment has exactly one file name and every other spelling
 * is refused; the header has the documented layout, round-trips, and no
 * damaged, foreign or out-of-order header is accepted (a newer format is
 * told apart as LK_VERSION); the reader returns each record in turn, the
 * last one ending at the reader's end, says LK_CORRUPT where a record is
 * cut short, and tells a zeroed tail from one with data in it, across window
 * boundaries and around a record larger than its first window.
 *
 * Method: names and headers are checked against literal strings and
 * bytes; hostile headers are damaged and then given a correct checksum
 * again (reseal()) so that the check under test, not the checksum, must
 * refuse them.  Reader tests run on the in-memory I/O layer: a fixture
 * creates a segment with seg_create(), append() pwrites records encoded
 * with the segment's seed after the header, and truncate/pwrite make the
 * tails.  Statuses are checked with check.h's macros, which on failure
 * print the file, line, expression, both statuses and lk_errmsg(); calls
 * that give the segment code's reason for a rejection (`why`) are checked
 * with CHECK_ST_WHY(want, expr, why) and CHECK_OK_WHY(expr, why), which
 * print that reason too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "endian.h"
#include "io.h"
#include "logkeep_limits.h"
#include "record.h"
#include "segment.h"

/* ---------------------------------------------------------------------- */
/* Checks                                                                 */
/* ---------------------------------------------------------------------- */

/* The segment code's reason for its last rejection.  CHECK_ST_WHY and
 * CHECK_OK_WHY clear it before the call and print it on failure. */
static const char *why;

/* Every file of a data directory is told apart by one parser: segments,
 * snapshots and unfinished snapshots, each only in canonical form. */
static void directory_file_names_have_one_parser(void **state)
{
	static const struct {
		const char *name;
		enum dir_file kind;
		uint64_t number;
		uint32_t generation;
	} cases[] = {
		{ "0000000000000001.seg", DIR_FILE_SEGMENT, 1, 0 },
		{ "00000000000000ff.1a.seg", DIR_FILE_SEGMENT, 255, 26 },
		{ "000000000000002a.snap", DIR_FILE_SNAPSHOT, 42, 0 },
		{ "000000000000002a.snap.tmp", DIR_FILE_SNAPSHOT_TMP, 42, 0 },
		{ "0000000000000000.snap", DIR_FILE_OTHER, 0, 0 },
		{ "000000000000002A.snap", DIR_FILE_OTHER, 0, 0 },
		{ "000000000000002a.1.snap", DIR_FILE_OTHER, 0, 0 },
		{ "000000000000002a.snap.tmp.x", DIR_FILE_OTHER, 0, 0 },
		{ "000000000000002a.snapx", DIR_FILE_OTHER, 0, 0 },
		{ "00000000000002a.snap", DIR_FILE_OTHER, 0, 0 },
		{ "aside.000000000000002a.snap", DIR_FILE_OTHER, 0, 0 },
		{ "LOCK", DIR_FILE_OTHER, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t n = 0;
		uint32_t g = 0;
		enum dir_file k = dir_file_parse(cases[i].name, &n, &g);

		assert_int_equal(k, cases[i].kind);
		if (k == DIR_FILE_OTHER)
			continue;
		assert_int_equal(n, cases[i].number);
		assert_int_equal(g, cases[i].generation);
	}
}

/* ---------------------------------------------------------------------- */
/* Headers                                                                */
/* ---------------------------------------------------------------------- */

static struct seg_header header_example(void)
{
	struct seg_header h;

	memset(&h, 0, sizeof h);
	h.version = LK_FORMAT_VERSION;
	for (unsigned i = 0; i < SEG_DB_ID_BYTES; i++)
		h.db_id[i] = (uint8_t)(0x10 + i);
	h.seq = 3;
	h.seq_prev = 2;
	h.record_seq_base = 1000;
	h.generation = 0;
	return h;
}

/* Gives damaged header bytes a correct checksum again. */
static void reseal(uint8_t b[SEG_HEADER_BYTES])
{
	put_u32(b + 60, (uint32_t)record_hash(b, 60, 0));
}

static void assert_same_header(const struct seg_header *a,
			       const struct seg_header *b)
{
	assert_int_equal(a->version, b->version);
	assert_memory_equal(a->db_id, b->db_id, SEG_DB_ID_BYTES);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->seq_prev, b->seq_prev);
	assert_int_equal(a->record_seq_base, b->record_seq_base);
	assert_int_equal(a->generation, b->generation);
}

/* ---------------------------------------------------------------------- */
/* The fixture: a memory file system with one new segment                 */
/* ---------------------------------------------------------------------- */

struct fixture {
	lk_io *io;
	lk_io_dir *dir;
	struct segment *seg;
	uint64_t end;          /* where append() writes next */
};

static struct fixture fixture;

static int setup(void **state)
{
	struct fixture *fx = &fixture;
	struct seg_header h = header_example();

	memset(fx, 0, sizeof *fx);
	if (lk_io_memory_new(&fx->io) != LK_OK)
		return -1;
	if (fx->io->dir_open(fx->io->ctx, "db", 1, &fx->dir) != LK_OK)
		return -1;
	if (seg_create(&fx->seg, fx->io, fx->dir, &h) != LK_OK) {
		print_error("seg_create: %s\n", lk_errmsg());
		return -1;
	}
	fx->end = SEG_HEADER_BYTES;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	seg_close(fx->seg, fx->io);
	fx->io->dir_close(fx->io->ctx, fx->dir);
	lk_io_memory_free(fx->io);
	return 0;
}

static uint8_t enc[LK_RECORD_BYTES_MAX + 64];
static uint8_t big[LK_VALUE_BYTES_MAX];

/* Appends r, encoded for its place in the segment, and returns its
 * offset. */
static uint64_t append(struct fixture *fx, const struct record *r)
{
	uint64_t off = fx->end;
	size_t n = record_encode(enc, r, fx->seg->hdr.record_seq_base,
				 seg_seed(fx->seg, off));

	CHECK_OK(fx->io->pwrite(fx->io->ctx, fx->seg->file, enc, n, off));
	fx->end += n;
	return off;
}

/* A put, a delete and a commit: the smallest honest group. */
static void append_group(struct fixture *fx, uint64_t offsets[3])
{
	struct record del = { 0 };

	offsets[0] = append(fx, &(struct record){
		.type = REC_PUT, .ns = 1, .seq = 1001,
		.key = (const uint8_t *)"node/1", .key_len = 6,
		.value = (const uint8_t *)"started", .value_len = 7 });
	del.type = REC_DEL;
	del.ns = 1;
	del.seq = 1002;
	del.key = (const uint8_t *)"node/2";
	del.key_len = 6;
	offsets[1] = append(fx, &del);
	offsets[2] = append(fx, &(struct record){
		.type = REC_COMMIT, .seq = 1000, .durable_upto = 64,
		.count = 2 });
}

static void fx_truncate(struct fixture *fx, uint64_t size)
{
	CHECK_OK(fx->io->truncate(fx->io->ctx, fx->seg->file, size));
}

static void write_byte(struct fixture *fx, uint64_t off, uint8_t byte)
{
	CHECK_OK(fx->io->pwrite(fx->io->ctx, fx->seg->file, &byte, 1, off));
}

/* ---------------------------------------------------------------------- */
/* Names                                                                  */
/* ---------------------------------------------------------------------- */

static void name_of_generation_zero_is_sixteen_hex_digits(void **state)
{
	char name[SEG_NAME_BYTES];
	uint64_t seq = 0;
	uint32_t gen = 99;

	(void)state;
	seg_name(name, 1, 0);
	assert_string_equal(name, "0000000000000001.seg");
	assert_true(seg_parse_name(name, &seq, &gen));
	assert_int_equal(seq, 1);
	assert_int_equal(gen, 0);

	seg_name(name, UINT64_C(0xabcdef0123), 0);
	assert_string_equal(name, "000000abcdef0123.seg");
	assert_true(seg_parse_name(name, &seq, &gen));
	assert_int_equal(seq, UINT64_C(0xabcdef0123));

	seg_name(name, UINT64_MAX, 0);
	assert_string_equal(name, "ffffffffffffffff.seg");
	assert_true(seg_parse_name(name, &seq, &gen));
	assert_int_equal(seq, UINT64_MAX);
	assert_int_equal(gen, 0);
}

static void name_of_a_later_generation_carries_it_in_hex(void **state)
{
	char name[SEG_NAME_BYTES];
	uint64_t seq = 0;
	uint32_t gen = 0;

	(void)state;
	seg_name(name, 5, 1);
	assert_string_equal(name, "0000000000000005.1.seg");
	assert_true(seg_parse_name(name, &seq, &gen));
	assert_int_equal(seq, 5);
	assert_int_equal(gen, 1);

	seg_name(name, 5, 0xa0);
	assert_string_equal(name, "0000000000000005.a0.seg");
	assert_true(seg_parse_name(name, &seq, &gen));
	assert_int_equal(gen, 0xa0);

	seg_name(name, UINT64_MAX, UINT32_MAX);
	assert_string_equal(name, "ffffffffffffffff.ffffffff.seg");
	assert_true(seg_parse_name(name, &seq, &gen));
	assert_int_equal(seq, UINT64_MAX);
	assert_int_equal(gen, UINT32_MAX);
}

static void names_round_trip(void **state)
{
	char name[SEG_NAME_BYTES];
	uint64_t x = 88172645463325252ull;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		uint64_t seq, seq2 = 0;
		uint32_t gen, gen2 = 1;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		seq = (x >> (i % 64)) | 1; /* all widths, never 0 */
		gen = i % 3 == 0 ? 0 : (uint32_t)(x >> (32 + i % 32));
		seg_name(name, seq, gen);
		assert_true(seg_parse_name(name, &seq2, &gen2));
		assert_int_equal(seq2, seq);
		assert_int_equal(gen2, gen);
	}
}

static void non_canonical_names_are_rejected(void **state)
{
	static const char *const names[] = {
		"0000000000000001.SEG",          /* uppercase suffix */
		"000000000000000A.seg",          /* uppercase hex */
		"000000000000000a.A.seg",
		"000000000000001.seg",           /* 15 digits */
		"00000000000000001.seg",         /* 17 digits */
		"0000000000000000.seg",          /* seq 0 */
		"0000000000000000.1.seg",
		"0000000000000001.seg~",         /* trailing junk */
		"0000000000000001.segx",
		"0000000000000001.seg ",
		"0000000000000001.seg.tmp",      /* an unfinished rewrite */
		"0000000000000001.tmp",
		"0000000000000001.1.seg.tmp",
		"0000000000000001.0.seg",        /* generation 0 spelled out */
		"0000000000000001.01.seg",       /* leading zero */
		"0000000000000001.100000000.seg",/* generation past 32 bits */
		"0000000000000001..seg",
		"0000000000000001.g.seg",
		"0000000000000001.-1.seg",
		"0000000000000001",
		"0000000000000001.",
		" 0000000000000001.seg",
		"+000000000000001.seg",
		"x000000000000001.seg",
		".seg",
		"",
		"LOCK",
		"snapshot",
	};
	uint64_t seq = 77;
	uint32_t gen = 77;

	(void)state;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (seg_parse_name(names[i], &seq, &gen)) {
			print_error("\"%s\" was accepted as seq %llu gen %u\n",
				    names[i], (unsigned long long)seq, gen);
			fail();
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Headers                                                                */
/* ---------------------------------------------------------------------- */

/* Sequence numbers stay below 2^62 so that none can wrap: a header whose
 * base is 0 or past REC_SEQ_MAX is refused (it was once accepted, and a
 * write then asserted on the wrapped numbering). */
static void header_with_sequence_numbers_out_of_range_is_rejected(void **state)
{
	struct seg_header h = header_example(), d;
	const uint64_t bases[] = { 0, REC_SEQ_MAX + 1, UINT64_MAX };
	uint8_t b[SEG_HEADER_BYTES];

	(void)state;
	for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
		seg_header_encode(b, &h);
		put_u64(b + 48, bases[i]);
		put_u32(b + 60, (uint32_t)record_hash(b, 60, 0));
		CHECK_ST_WHY(LK_CORRUPT, seg_header_decode(&d, b, &why), why);
		CHECK(strstr(why, "sequence base") != NULL);
	}
	/* the segment's own position too: rotation adds one to it */
	seg_header_encode(b, &h);
	put_u64(b + 32, REC_SEQ_MAX + 1);
	put_u32(b + 60, (uint32_t)record_hash(b, 60, 0));
	CHECK_ST_WHY(LK_CORRUPT, seg_header_decode(&d, b, &why), why);
}

static void header_round_trips(void **state)
{
	struct seg_header h = header_example(), d;
	uint8_t b[SEG_HEADER_BYTES];

	(void)state;
	seg_header_encode(b, &h);
	CHECK_OK_WHY(seg_header_decode(&d, b, &why), why);
	assert_same_header(&h, &d);

	h.seq = REC_SEQ_MAX;
	h.seq_prev = REC_SEQ_MAX - 1;
	h.record_seq_base = REC_SEQ_MAX;
	h.generation = UINT32_MAX;
	memset(h.db_id, 0xff, sizeof h.db_id);
	seg_header_encode(b, &h);
	CHECK_OK_WHY(seg_header_decode(&d, b, &why), why);
	assert_same_header(&h, &d);

	/* the first segment has no predecessor */
	h.seq = 1;
	h.seq_prev = 0;
	seg_header_encode(b, &h);
	CHECK_OK_WHY(seg_header_decode(&d, b, &why), why);
	assert_same_header(&h, &d);
}

static void header_has_the_documented_layout(void **state)
{
	static const uint8_t want[60] = {
		'L', 'K', 'S', 'E', 'G', '\r', '\n', 0x1a,     /* magic */
		0x03, 0x00,                                    /* version */
		0x40, 0x00,                                    /* header_bytes */
		0x00, 0x00, 0x00, 0x00,                        /* flags */
		0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, /* db_id */
		0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* seq */
		0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq_prev */
		0xe8, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* seq base */
		0x04, 0x03, 0x02, 0x01,                        /* generation */
	};
	struct seg_header h = header_example();
	uint8_t b[SEG_HEADER_BYTES];

	(void)state;
	h.seq = UINT64_C(0x0102030405060708);
	h.seq_prev = 7;
	h.record_seq_base = 1000;
	h.generation = 0x01020304u;
	seg_header_encode(b, &h);
	assert_memory_equal(b, want, sizeof want);
	assert_int_equal(get_u32(b + 60), (uint32_t)record_hash(want, 60, 0));
}

static void header_with_bad_magic_is_rejected(void **state)
{
	struct seg_header h = header_example(), d;
	uint8_t good[SEG_HEADER_BYTES], b[SEG_HEADER_BYTES];

	(void)state;
	seg_header_encode(good, &h);
	for (unsigned i = 0; i < 8; i++) {
		memcpy(b, good, sizeof b);
		b[i] ^= 0x20; /* what a text-mode transfer might do */
		reseal(b);
		CHECK_ST_WHY(LK_CORRUPT, seg_header_decode(&d, b, &why), why);
		assert_non_null(strstr(why, "magic"));
	}
	/* "\r\n" turned into "\n" shifts everything after it */
	memcpy(b, good, 5);
	memcpy(b + 5, good + 6, sizeof b - 6);
	b[63] = 0;
	reseal(b);
	CHECK_ST_WHY(LK_CORRUPT, seg_header_decode(&d, b, &why), why);
	/* a record's bytes where a header should be */
	memset(b, 0, sizeof b);
	CHECK_ST_WHY(LK_CORRUPT, seg_header_decode(&d, b, &why), why);
}

static void header_with_any_flipped_bit_is_rejected(void **state)
{
	struct seg_header h = header_example(), d;
	uint8_t b[SEG_HEADER_BYTES];

	(void)state;
	seg_header_encode(b, &h);
	for (unsigned bit = 0; bit < SEG_HEADER_BYTES * 8; bit++) {
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		why = NULL;
		if (seg_header_decode(&d, b, &why) != LK_CORRUPT) {
			print_error("flipping bit %u of byte %u: not corrupt\n",
				    bit % 8, bit / 8);
			fail();
		}
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	CHECK_OK_WHY(seg_header_decode(&d, b, &why), why);
}

static void header_of_a_newer_format_is_a_version_error(void **state)
{
	struct seg_header h = header_example(), d;
	uint8_t b[SEG_HEADER_BYTES];

	(void)state;
	seg_header_encode(b, &h);
	put_u16(b + 8, LK_FORMAT_VERSION + 1);
	reseal(b);
	CHECK_ST_WHY(LK_VERSION, seg_header_decode(&d, b, &why), why);
	assert_int_equal(d.version, LK_FORMAT_VERSION + 1);

	put_u16(b + 8, 0xffff);
	reseal(b);
	CHECK_ST_WHY(LK_VERSION, seg_header_decode(&d, b, &why), why);
}

static void header_with_seq_zero_is_rejected(void **state)
{
	struct seg_header h = header_example(), d;
	uint8_t b[SEG_HEADER_BYTES];

	(void)state;
	seg_header_encode(b, &h);
	put_u64(b + 32, 0);
	put_u64(b + 40, 0);
	reseal(b);
	CHECK_ST_WHY(LK_CORRUPT, seg_header_decode(&d, b, &why), why);
}

static void header_whose_predecessor_is_not_older_is_rejected(void **state)
{
	struct seg_header h = header_example(), d;
	uint8_t b[SEG_HEADER_BYTES];

	(void)state;
	seg_header_encode(b, &h);
	put_u64(b + 40, h.seq); /* itself */
	reseal(b);
	CHECK_ST_WHY(LK_CORRUPT, seg_header_decode(&d, b, &why), why);
	put_u64(b + 40, h.seq + 1);
	reseal(b);
	CHECK_ST_WHY(LK_CORRUPT, seg_header_decode(&d, b, &why), why);
	put_u64(b + 40, UINT64_MAX);
	reseal(b);
	CHECK_ST_WHY(LK_CORRUPT, seg_header_decode(&d, b, &why), why);
	put_u64(b + 40, h.seq - 1);
	reseal(b);
	CHECK_OK_WHY(seg_header_decode(&d, b, &why), why);
}

static void header_with_unknown_size_or_flags_is_rejected(void **state)
{
	struct seg_header h = header_example(), d;
	uint8_t good[SEG_HEADER_BYTES], b[SEG_HEADER_BYTES];

	(void)state;
	seg_header_encode(good, &h);
	memcpy(b, good, sizeof b);
	put_u16(b + 10, 128);
	reseal(b);
	CHECK_ST_WHY(LK_CORRUPT, seg_header_decode(&d, b, &why), why);
	memcpy(b, good, sizeof b);
	put_u32(b + 12, 1);
	reseal(b);
	CHECK_ST_WHY(LK_CORRUPT, seg_header_decode(&d, b, &why), why);
}

/* ---------------------------------------------------------------------- */
/* Creating and opening                                                   */
/* ---------------------------------------------------------------------- */

static void created_segment_holds_its_header_under_its_name(void **state)
{
	struct fixture *fx = *state;
	struct seg_header h = header_example(), d;
	uint8_t b[SEG_HEADER_BYTES];
	struct segment *s;
	size_t got = 0;
	uint64_t size = 0;

	assert_string_equal(fx->seg->name, "0000000000000003.seg");
	assert_int_equal(fx->seg->data_end, SEG_HEADER_BYTES);
	assert_int_equal(fx->seg->file_size, SEG_HEADER_BYTES);
	assert_int_equal(fx->seg->synced_end, SEG_HEADER_BYTES);
	assert_same_header(&fx->seg->hdr, &h);

	CHECK_OK(seg_open(&s, fx->io, fx->dir, "0000000000000003.seg", 0));
	assert_int_equal(s->file_size, SEG_HEADER_BYTES);
	CHECK_OK(fx->io->pread(fx->io->ctx, s->file, b, sizeof b, 0, &got));
	assert_int_equal(got, SEG_HEADER_BYTES);
	CHECK_OK_WHY(seg_header_decode(&d, b, &why), why);
	assert_same_header(&d, &h);
	CHECK_OK(fx->io->size(fx->io->ctx, s->file, &size));
	assert_int_equal(size, SEG_HEADER_BYTES);
	seg_close(s, fx->io);
	seg_close(NULL, fx->io);
}

static void creating_an_existing_segment_fails_and_keeps_it(void **state)
{
	struct fixture *fx = *state;
	struct seg_header h = header_example(), d;
	uint8_t b[SEG_HEADER_BYTES];
	uint64_t offsets[3];
	struct segment *s = (struct segment *)1;
	uint64_t size = 0;
	size_t got;

	append_group(fx, offsets);
	h.record_seq_base = 5; /* a different header for the same name */
	CHECK_ST(LK_EXISTS, seg_create(&s, fx->io, fx->dir, &h));
	assert_null(s);
	assert_non_null(strstr(lk_errmsg(), "0000000000000003.seg"));
	CHECK_OK(fx->io->pread(fx->io->ctx, fx->seg->file, b, sizeof b, 0,
			       &got));
	CHECK_OK_WHY(seg_header_decode(&d, b, &why), why);
	assert_int_equal(d.record_seq_base, 1000);
	CHECK_OK(fx->io->size(fx->io->ctx, fx->seg->file, &size));
	assert_int_equal(size, fx->end);
}

static void opening_a_missing_segment_is_not_found(void **state)
{
	struct fixture *fx = *state;
	struct segment *s = (struct segment *)1;

	CHECK_ST(LK_NOT_FOUND, seg_open(&s, fx->io, fx->dir,
					"0000000000000004.seg", 0));
	assert_null(s);
}

static void seed_binds_database_segment_generation_and_offset(void **state)
{
	struct fixture *fx = *state;
	struct seg_header h = header_example();
	uint64_t db_seed = record_hash(h.db_id, SEG_DB_ID_BYTES, 0);

	assert_int_equal(fx->seg->db_seed, db_seed);
	assert_int_equal(seg_seed(fx->seg, 64),
			 record_seed(db_seed, h.seq, h.generation, 64));
	assert_true(seg_seed(fx->seg, 64) != seg_seed(fx->seg, 65));
}

/* ---------------------------------------------------------------------- */
/* The reader                                                             */
/* ---------------------------------------------------------------------- */

static void reader_walks_records_then_reports_end(void **state)
{
	struct fixture *fx = *state;
	struct seg_reader r;
	struct record rec;
	uint64_t offsets[3], off;

	append_group(fx, offsets);
	CHECK_OK(seg_reader_init(&r, fx->io, fx->seg, fx->end));
	off = SEG_HEADER_BYTES;

	CHECK_OK_WHY(seg_reader_record(&r, off, &rec, &why), why);
	assert_int_equal(off, offsets[0]);
	assert_int_equal(rec.type, REC_PUT);
	assert_int_equal(rec.seq, 1001);
	assert_memory_equal(rec.key, "node/1", 6);
	assert_int_equal(rec.value_len, 7);
	assert_memory_equal(rec.value, "started", 7);
	off += rec.size;

	CHECK_OK_WHY(seg_reader_record(&r, off, &rec, &why), why);
	assert_int_equal(off, offsets[1]);
	assert_int_equal(rec.type, REC_DEL);
	assert_int_equal(rec.seq, 1002);
	assert_memory_equal(rec.key, "node/2", 6);
	off += rec.size;

	CHECK_OK_WHY(seg_reader_record(&r, off, &rec, &why), why);
	assert_int_equal(off, offsets[2]);
	assert_int_equal(rec.type, REC_COMMIT);
	assert_int_equal(rec.count, 2);
	off += rec.size;

	assert_int_equal(off, fx->end); /* the walk ends at r.end */
	assert_int_equal(r.end, fx->end);
	seg_reader_free(&r);
	seg_reader_free(&r); /* twice is harmless */
}

/* A read at the reader's end is the caller's mistake, not an outcome:
 * every walk stops at r.end.  The contract aborts (in a child). */
static void reading_at_the_readers_end_aborts(void **state)
{
	struct fixture *fx = *state;
	struct seg_reader r;
	struct record rec;
	int status = 0;
	pid_t pid;

	CHECK_OK(seg_reader_init(&r, fx->io, fx->seg, SEG_HEADER_BYTES));
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		(void)seg_reader_record(&r, SEG_HEADER_BYTES, &rec, &why);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	seg_reader_free(&r);
}

static void record_cut_short_at_end_of_file_is_corrupt(void **state)
{
	struct fixture *fx = *state;
	struct record rec;
	uint64_t offsets[3], last, full;

	append_group(fx, offsets);
	last = append(fx, &(struct record){
		.type = REC_PUT, .ns = 2, .seq = 1003, .flags = REC_F_EXPIRY,
		.expire_at_ms = 1234, .key = (const uint8_t *)"path/a/b",
		.key_len = 8, .value = (const uint8_t *)"bundle",
		.value_len = 6 });
	full = fx->end;
	/* every length of the last record, from its full size down to one
	 * byte: the records before it still read, it is corrupt */
	for (uint64_t cut = full - 1; cut > last; cut--) {
		struct seg_reader r;
		uint64_t off = SEG_HEADER_BYTES;

		fx_truncate(fx, cut);
		CHECK_OK(seg_reader_init(&r, fx->io, fx->seg, cut));
		for (int i = 0; i < 3; i++) {
			CHECK_OK_WHY(seg_reader_record(&r, off, &rec, &why),
				     why);
			off += rec.size;
		}
		assert_int_equal(off, last);
		CHECK_ST_WHY(LK_CORRUPT,
			     seg_reader_record(&r, off, &rec, &why), why);
		assert_non_null(why);
		seg_reader_free(&r);
	}
}

static void reader_reads_no_further_than_its_end(void **state)
{
	struct fixture *fx = *state;
	struct seg_reader r;
	struct record rec;
	uint64_t offsets[3];

	append_group(fx, offsets);
	/* the file goes on, the reader's end is before the commit */
	CHECK_OK(seg_reader_init(&r, fx->io, fx->seg, offsets[2]));
	CHECK_OK_WHY(seg_reader_record(&r, offsets[0], &rec, &why), why);
	CHECK_OK_WHY(seg_reader_record(&r, offsets[1], &rec, &why), why);
	/* the second record ends at r.end: a walk stops there */
	assert_int_equal(offsets[1] + rec.size, r.end);
	seg_reader_free(&r);

	/* an end inside a record: that record runs past the end */
	CHECK_OK(seg_reader_init(&r, fx->io, fx->seg, offsets[2] + 5));
	CHECK_OK_WHY(seg_reader_record(&r, offsets[1], &rec, &why), why);
	CHECK_ST_WHY(LK_CORRUPT,
		     seg_reader_record(&r, offsets[2], &rec, &why), why);
	seg_reader_free(&r);
}

static void reader_get_past_the_end_returns_what_there_is(void **state)
{
	struct fixture *fx = *state;
	struct seg_reader r;
	uint64_t offsets[3];
	const uint8_t *p;
	size_t got = 0;

	append_group(fx, offsets);
	CHECK_OK(seg_reader_init(&r, fx->io, fx->seg, fx->end));
	CHECK_OK(seg_reader_get(&r, 0, 8, &p, &got));
	assert_int_equal(got, 8);
	assert_memory_equal(p, "LKSEG\r\n\x1a", 8);
	CHECK_OK(seg_reader_get(&r, fx->end - 3, 10, &p, &got)); /* short */
	assert_int_equal(got, 3);
	CHECK_OK(seg_reader_get(&r, fx->end, 1, &p, &got));
	assert_int_equal(got, 0);
	seg_reader_free(&r);
}

static void record_at_another_offset_or_segment_is_corrupt(void **state)
{
	struct fixture *fx = *state;
	struct record one = put_rec("node/1", "x", 1001), rec;
	struct seg_reader r;
	size_t n;

	/* the bytes of a record written at offset 64 of segment 3 ... */
	n = record_encode(enc, &one, 1000, seg_seed(fx->seg, 64));
	/* ... copied to offset 64 + n */
	CHECK_OK(fx->io->pwrite(fx->io->ctx, fx->seg->file, enc, n, 64 + n));
	/* ... and a record sealed for segment 4 at offset 64 */
	n = record_encode(enc, &one, 1000,
			  record_seed(fx->seg->db_seed, 4, 0, 64));
	CHECK_OK(fx->io->pwrite(fx->io->ctx, fx->seg->file, enc, n, 64));
	CHECK_OK(seg_reader_init(&r, fx->io, fx->seg, 64 + 2 * n));
	CHECK_ST_WHY(LK_CORRUPT, seg_reader_record(&r, 64, &rec, &why), why);
	assert_string_equal(why, "checksum mismatch");
	CHECK_ST_WHY(LK_CORRUPT,
		     seg_reader_record(&r, 64 + n, &rec, &why), why);
	assert_string_equal(why, "checksum mismatch");
	seg_reader_free(&r);
}

static void reader_walks_records_across_window_boundaries(void **state)
{
	enum { COUNT = 7000 };
	struct fixture *fx = *state;
	struct seg_reader r;
	struct record rec;
	char key[32], value[700];
	uint64_t off = SEG_HEADER_BYTES;

	memset(value, 'v', sizeof value - 1);
	value[sizeof value - 1] = 0;
	for (uint32_t i = 0; i < COUNT; i++) {
		snprintf(key, sizeof key, "key-%u", i);
		value[i % (sizeof value - 1)] = 0; /* lengths vary */
		append(fx, &(struct record){
			.type = REC_PUT, .ns = 1, .seq = 1001 + i,
			.key = (const uint8_t *)key,
			.key_len = (uint32_t)strlen(key),
			.value = (const uint8_t *)value,
			.value_len = (uint32_t)strlen(value) });
		value[i % (sizeof value - 1)] = 'v';
	}
	assert_true(fx->end > 2 * 1024 * 1024); /* past two windows */
	CHECK_OK(seg_reader_init(&r, fx->io, fx->seg, fx->end));
	for (uint32_t i = 0; i < COUNT; i++) {
		CHECK_OK_WHY(seg_reader_record(&r, off, &rec, &why), why);
		snprintf(key, sizeof key, "key-%u", i);
		assert_int_equal(rec.seq, 1001 + i);
		assert_int_equal(rec.key_len, strlen(key));
		assert_memory_equal(rec.key, key, rec.key_len);
		assert_int_equal(rec.value_len, i % (sizeof value - 1));
		off += rec.size;
	}
	assert_int_equal(off, r.end);
	seg_reader_free(&r);
}

static void reader_grows_its_window_for_the_largest_record(void **state)
{
	struct fixture *fx = *state;
	static uint8_t key[LK_KEY_BYTES_MAX];
	struct seg_reader r;
	struct record rec;
	uint64_t off[4];

	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 13u + 1u);
	memset(key, 'K', sizeof key);
	off[0] = append(fx, &(struct record){
		.type = REC_PUT, .ns = 1, .seq = 1001,
		.key = (const uint8_t *)"small", .key_len = 5 });
	off[1] = append(fx, &(struct record){
		.type = REC_PUT, .ns = 1, .seq = 1002, .key = key,
		.key_len = LK_KEY_BYTES_MAX, .value = big,
		.value_len = LK_VALUE_BYTES_MAX, .flags = REC_F_EXPIRY,
		.expire_at_ms = 1 });
	off[2] = append(fx, &(struct record){
		.type = REC_PUT, .ns = 1, .seq = 1003, .key = key,
		.key_len = 1, .value = big, .value_len = 1000 });
	off[3] = append(fx, &(struct record){
		.type = REC_COMMIT, .seq = 1000, .durable_upto = 64,
		.count = 3 });
	assert_true(off[2] - off[1] > 1024 * 1024);

	CHECK_OK(seg_reader_init(&r, fx->io, fx->seg, fx->end));
	CHECK_OK_WHY(seg_reader_record(&r, off[0], &rec, &why), why);
	CHECK_OK_WHY(seg_reader_record(&r, off[1], &rec, &why), why);
	assert_int_equal(rec.value_len, LK_VALUE_BYTES_MAX);
	assert_memory_equal(rec.value, big, LK_VALUE_BYTES_MAX);
	assert_int_equal(rec.key_len, LK_KEY_BYTES_MAX);
	assert_int_equal(off[1] + rec.size, off[2]);
	CHECK_OK_WHY(seg_reader_record(&r, off[2], &rec, &why), why);
	assert_memory_equal(rec.value, big, 1000);
	CHECK_OK_WHY(seg_reader_record(&r, off[3], &rec, &why), why);
	assert_int_equal(rec.count, 3);
	/* and back to the start: the window moves backwards too */
	CHECK_OK_WHY(seg_reader_record(&r, off[0], &rec, &why), why);
	assert_memory_equal(rec.key, "small", 5);
	seg_reader_free(&r);
}

static void zeroed_tail_is_told_from_data(void **state)
{
	struct fixture *fx = *state;
	struct seg_reader r;
	uint64_t offsets[3], data_end, size;

	append_group(fx, offsets);
	data_end = fx->end;
	/* zeroes past the data, longer than the reader's window */
	size = data_end + 3 * 1024 * 1024 + 17;
	fx_truncate(fx, size);

	CHECK_OK(seg_reader_init(&r, fx->io, fx->seg, size));
	assert_true(seg_reader_zero_from(&r, data_end));
	assert_true(seg_reader_zero_from(&r, size - 1));
	assert_true(seg_reader_zero_from(&r, size)); /* nothing left */
	assert_false(seg_reader_zero_from(&r, data_end - 1));
	assert_false(seg_reader_zero_from(&r, SEG_HEADER_BYTES));
	seg_reader_free(&r);

	/* one byte of data anywhere in the tail makes it not zero: at the
	 * start, inside and at the end of the first window, in the later
	 * ones, and in the last byte */
	const uint64_t spots[] = { data_end, data_end + 700000,
				   data_end + 1024 * 1024 - 1,
				   data_end + 1024 * 1024 + 5,
				   data_end + 2 * 1024 * 1024 + 123456,
				   size - 1 };
	for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
		write_byte(fx, spots[i], 0x01);
		CHECK_OK(seg_reader_init(&r, fx->io, fx->seg, size));
		assert_false(seg_reader_zero_from(&r, data_end));
		assert_true(seg_reader_zero_from(&r, spots[i] + 1));
		seg_reader_free(&r);
		write_byte(fx, spots[i], 0x00);
	}
}

/* A reader beside the writer may expect more bytes than the file holds
 * (a seal dropped the zero prefill after it took the size): what is past
 * the end is nothing, and only the bytes the file holds decide. */
static void tail_past_end_of_file_holds_nothing(void **state)
{
	struct fixture *fx = *state;
	struct seg_reader r;
	uint64_t offsets[3];

	append_group(fx, offsets);
	fx_truncate(fx, fx->end + 100);
	/* the reader expects 100 more bytes than the file has */
	CHECK_OK(seg_reader_init(&r, fx->io, fx->seg, fx->end + 200));
	assert_true(seg_reader_zero_from(&r, fx->end));
	assert_false(seg_reader_zero_from(&r, SEG_HEADER_BYTES));
	seg_reader_free(&r);
}

/* ---------------------------------------------------------------------- */
/* The table                                                              */
/* ---------------------------------------------------------------------- */

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* names */
		cmocka_unit_test(name_of_generation_zero_is_sixteen_hex_digits),
		cmocka_unit_test(name_of_a_later_generation_carries_it_in_hex),
		cmocka_unit_test(names_round_trip),
		cmocka_unit_test(non_canonical_names_are_rejected),
		cmocka_unit_test(directory_file_names_have_one_parser),
		/* headers */
		cmocka_unit_test(header_round_trips),
		cmocka_unit_test(header_with_sequence_numbers_out_of_range_is_rejected),
		cmocka_unit_test(header_has_the_documented_layout),
		cmocka_unit_test(header_with_bad_magic_is_rejected),
		cmocka_unit_test(header_with_any_flipped_bit_is_rejected),
		cmocka_unit_test(header_of_a_newer_format_is_a_version_error),
		cmocka_unit_test(header_with_seq_zero_is_rejected),
		cmocka_unit_test(header_whose_predecessor_is_not_older_is_rejected),
		cmocka_unit_test(header_with_unknown_size_or_flags_is_rejected),
		/* creating and opening */
		TEST(created_segment_holds_its_header_under_its_name),
		TEST(creating_an_existing_segment_fails_and_keeps_it),
		TEST(opening_a_missing_segment_is_not_found),
		TEST(seed_binds_database_segment_generation_and_offset),
		/* the reader */
		TEST(reader_walks_records_then_reports_end),
		TEST(reading_at_the_readers_end_aborts),
		TEST(record_cut_short_at_end_of_file_is_corrupt),
		TEST(reader_reads_no_further_than_its_end),
		TEST(reader_get_past_the_end_returns_what_there_is),
		TEST(record_at_another_offset_or_segment_is_corrupt),
		TEST(reader_walks_records_across_window_boundaries),
		TEST(reader_grows_its_window_for_the_largest_record),
		TEST(zeroed_tail_is_told_from_data),
		TEST(tail_past_end_of_file_holds_nothing),
	};

	return cmocka_run_group_tests_name("segment", tests, NULL, NULL);
}
