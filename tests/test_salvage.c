/* SPDX-License-Identifier: MIT */
/*
 * test_salvage.c - lk_salvage() and LK_OPEN_SALVAGE (SPEC §5): what they
 * keep and what they name lost, and a power cut at every I/O call of an
 * applied salvage: the damaged file is kept at every moment (the file
 * itself or its NAME.broken copy, byte for byte), and salvage run again
 * leaves a directory that opens strictly and verifies clean.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io_fault.h"
#include "logkeep.h"
#include "record.h"
#include "segment.h"
#include "testutil.h"

#define DIR "/db"
#define SEG1 "0000000000000001.seg"
#define SEG2 "0000000000000002.seg"
#define KEYS 300

static void key_of(char *buf, int i)
{
	snprintf(buf, 16, "key%04d", i);
}

static void value_of(char *buf, int i)
{
	snprintf(buf, 64, "value-%04d-0123456789abcdef", i);
}

/* KEYS single durable puts in segments of 4 KiB; key i has seq i + 1. */
static void make_db(const lk_io *io)
{
	lk_options o = test_options(io);
	char k[16], v[64];
	lk_db *db;

	o.segment_size_bytes = 4096;
	CHECK_OK(lk_open(&db, DIR, &o));
	for (int i = 0; i < KEYS; i++) {
		key_of(k, i);
		value_of(v, i);
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, k, strlen(k), v, strlen(v),
				0));
	}
	CHECK_OK(lk_close(db));
}

/* The puts of segment 2, as seqs first..last; damages the one in the
 * middle, whose seq goes to *hit. */
static void damage_seg2(const lk_io *io, uint64_t *first, uint64_t *last,
			uint64_t *hit)
{
	struct rec_list l;
	size_t mid;

	list_records(&l, io, DIR, SEG2);
	*first = *last = 0;
	for (size_t i = 0; i < l.n; i++) {
		if (!l.v[i].seq)
			continue;
		if (!*first)
			*first = l.v[i].seq;
		*last = l.v[i].seq;
	}
	CHECK(*first > 1 && *last > *first + 4);
	for (mid = l.n / 2; mid < l.n && !l.v[mid].seq; mid++)
		;
	CHECK(mid < l.n);
	*hit = l.v[mid].seq;
	flip_bit(io, DIR, SEG2, l.v[mid].offset + 6, 2);
}

/* Every key outside segment 2's seqs reads back; returns how many keys
 * of segment 2 are missing. */
static int check_keys(lk_db *db, uint64_t first, uint64_t last)
{
	char k[16], v[64];
	int missing = 0;

	for (int i = 0; i < KEYS; i++) {
		uint64_t seq = (uint64_t)i + 1;
		void *got = NULL;
		size_t len = 0;
		lk_status st;

		key_of(k, i);
		value_of(v, i);
		st = lk_get(&got, &len, db, LK_NS_DEFAULT, k, strlen(k));
		if (seq >= first && seq <= last) {
			CHECK(st == LK_OK || st == LK_NOT_FOUND);
			missing += st == LK_NOT_FOUND;
		} else {
			CHECK_OK(st);
			CHECK(len == strlen(v) && memcmp(got, v, len) == 0);
		}
		lk_free(got);
	}
	return missing;
}

struct lost {
	uint64_t first, last, records;
	int ranges;
};

static void on_step(void *arg, const lk_salvage_step *s)
{
	struct lost *l = arg;

	if (s->action != LK_SALVAGE_LOST)
		return;
	if (!l->ranges++ || s->seq_first < l->first)
		l->first = s->seq_first;
	if (s->seq_last > l->last)
		l->last = s->seq_last;
	l->records += s->records;
}

static void on_problem(void *arg, const lk_problem *p)
{
	int *n = arg;

	if (p->kind != LK_PROBLEM_TORN_TAIL)
		++*n;
}

/* The plan names the damaged record's group lost, changes nothing; the
 * applied salvage keeps everything else, and the directory then opens
 * strictly and verifies clean.  LK_OPEN_SALVAGE does the same in open. */
static void salvage_keeps_all_but_the_damaged_group(void **state)
{
	lk_salvage_report rep = { .version = LK_SALVAGE_REPORT_VERSION };
	lk_recovery_report vrep = LK_REPORT_INIT;
	uint64_t first, last, hit;
	struct lost lost = { 0 };
	lk_options o;
	struct blob before, after;
	lk_db *db;
	lk_io *io;
	int problems = 0;

	(void)state;
	for (int via_open = 0; via_open < 2; via_open++) {
		CHECK_OK(lk_io_memory_new(&io));
		o = test_options(io);
		make_db(io);
		damage_seg2(io, &first, &last, &hit);
		CHECK_ST(LK_CORRUPT, lk_open(&db, DIR, &o));

		memset(&lost, 0, sizeof lost);
		before = file_read(io, DIR, SEG2);
		CHECK_OK(lk_salvage(&rep, DIR, &o, 0, on_step, &lost));
		after = file_read(io, DIR, SEG2);
		CHECK(rep.needed && !rep.applied);
		CHECK(before.n == after.n &&
		      memcmp(before.p, after.p, before.n) == 0);
		free(after.p);
		/* single puts: the damaged record's group is itself (its
		 * bytes fail their checksum: how many records they held is
		 * not known) */
		CHECK(lost.ranges == 1 && lost.first == hit &&
		      lost.last == hit && lost.records == 0);

		if (via_open) {
			o.flags = LK_OPEN_SALVAGE;
			CHECK_OK(lk_open(&db, DIR, &o));
			o.flags = 0;
		} else {
			/* a name no snapshot has: not the pre-repair
			 * snapshot that an applied salvage removes */
			file_write(io, DIR, "ffffffffffffffff.snap", "x", 1);
			memset(&lost, 0, sizeof lost);
			CHECK_OK(lk_salvage(&rep, DIR, &o, 1, on_step, &lost));
			CHECK(rep.applied && rep.files_rewritten == 1 &&
			      rep.ranges_lost == 1 && rep.unknown_lost == 1);
			after = file_read(io, DIR, "ffffffffffffffff.snap");
			CHECK(after.n == 1);
			free(after.p);
			CHECK_OK(lk_open(&db, DIR, &o));
		}
		CHECK(check_keys(db, hit, hit) == 1);
		CHECK_OK(lk_close(db));
		after = file_read(io, DIR, SEG2 ".broken");
		CHECK(before.n == after.n &&
		      memcmp(before.p, after.p, before.n) == 0);
		free(after.p);
		free(before.p);
		problems = 0;
		CHECK_OK(lk_verify(&vrep, DIR, &o, on_problem, &problems));
		CHECK(problems == 0);
		lk_io_memory_free(io);
	}
}

/* lk_log_read's item at offset of file: the rule it names, if any. */
struct item_seen {
	const char *file;
	uint64_t offset;
	char what[128];
};

static int on_item(void *arg, const lk_log_item *it)
{
	struct item_seen *s = arg;

	if (strcmp(it->file, s->file) != 0)
		return 0;
	if (it->offset == s->offset && it->what)
		snprintf(s->what, sizeof s->what, "%s", it->what);
	return 0;
}

struct named {
	uint64_t seg, offset;
	int problems;
	char what[160];
};

static void on_named(void *arg, const lk_problem *p)
{
	struct named *n = arg;

	if (p->kind == LK_PROBLEM_TORN_TAIL)
		return;
	if (!n->problems++) {
		n->seg = p->segment_seq;
		n->offset = p->offset;
		snprintf(n->what, sizeof n->what, "%s", p->what);
	}
}

/* A record of a segment file, decoded as stored, to be re-encoded with
 * other fields and a right checksum: a record that breaks a rule between
 * records, not one damaged. */
struct forged {
	const char *file;
	struct record rec;
	uint64_t at, seq_base, seed;
	struct blob b; /* the file, which rec points into */
};

/* Decodes the i-th record of file (list_records' order) into f. */
static void forge_read(struct forged *f, const lk_io *io, const char *file,
		       const struct rec_list *l, size_t i)
{
	struct seg_header h;
	const char *why = NULL;

	f->file = file;
	f->b = file_read(io, DIR, file);
	CHECK_OK_WHY(seg_header_decode(&h, f->b.p, &why), why);
	f->at = l->v[i].offset;
	f->seq_base = h.record_seq_base;
	f->seed = record_seed(record_hash(h.db_id, SEG_DB_ID_BYTES, 0), h.seq,
			      h.generation, f->at);
	CHECK_OK_WHY(record_decode(&f->rec, f->b.p + f->at, l->v[i].size,
				   f->seq_base, f->seed, &why),
		     why);
}

/* Writes f->rec back in its place, the same size, and frees the copy. */
static void forge_write(struct forged *f, const lk_io *io)
{
	uint8_t buf[64];
	size_t len = record_encode(buf, &f->rec, f->seq_base, f->seed);

	CHECK(len == f->rec.size);
	corrupt_bytes(io, DIR, f->file, f->at, buf, len);
	free(f->b.p);
}

/* After a forged record in a sealed segment: open refuses the directory
 * naming `rule`, lk_log_read (what dump and salvage see) names it at the
 * record, and salvage rewrites that one segment; the directory then opens
 * strictly with every key of make_db and verifies clean. */
static void rule_seen_and_salvaged(lk_io *io, const struct forged *f,
				   const char *rule)
{
	lk_salvage_report rep = { .version = LK_SALVAGE_REPORT_VERSION };
	lk_recovery_report vrep = LK_REPORT_INIT;
	lk_options o = test_options(io);
	struct item_seen seen = { f->file, f->at, "" };
	struct lost lost = { 0 };
	lk_db *db;
	int problems = 0;

	CHECK_ST(LK_CORRUPT, lk_open(&db, DIR, &o));
	CHECK(strstr(lk_errmsg(), rule) != NULL);
	CHECK_OK(lk_log_read(DIR, &o, 0, on_item, &seen));
	CHECK(strstr(seen.what, rule) != NULL);

	CHECK_OK(lk_salvage(&rep, DIR, &o, 1, on_step, &lost));
	CHECK(rep.applied && rep.files_rewritten == 1);
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK(check_keys(db, 1, 0) == 0); /* every key */
	CHECK_OK(lk_close(db));
	CHECK_OK(lk_verify(&vrep, DIR, &o, on_problem, &problems));
	CHECK(problems == 0);
}

/* A seal re-encoded with a record count one higher: verify also names it
 * at the seal, and salvage loses no record (fails without lk_log_read's
 * rule). */
static void seal_with_a_forged_record_count(void **state)
{
	lk_recovery_report vrep = LK_REPORT_INIT;
	struct named named = { 0 };
	struct forged f;
	struct rec_list l;
	lk_options o;
	lk_io *io;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	o = test_options(io);
	make_db(io);
	list_records(&l, io, DIR, SEG2);
	CHECK(l.v[l.n - 1].type == REC_SEAL);
	forge_read(&f, io, SEG2, &l, l.n - 1);
	f.rec.count++;
	forge_write(&f, io);

	CHECK_ST(LK_CORRUPT, lk_verify(&vrep, DIR, &o, on_named, &named));
	CHECK(named.problems == 1 && named.seg == 2 && named.offset == f.at);
	CHECK(strstr(named.what, "seal's record count") != NULL);
	rule_seen_and_salvaged(io, &f, "seal's record count");
	lk_io_memory_free(io);
}

/* The catalog record that gives namespace "bb" its id, re-encoded to give
 * it the id of "aa" instead: open refuses an id given to two names, and
 * lk_log_read named no rule there (it checked each catalog record alone),
 * so salvage kept the segment and the directory it left still failed a
 * strict open.  Now the rule is one (order.h). */
static void catalog_id_given_to_a_second_name(void **state)
{
	struct forged f = { 0 };
	struct rec_list l;
	uint32_t aa, bb;
	uint8_t value[1];
	lk_options o;
	lk_db *db;
	lk_io *io;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	o = test_options(io);
	o.segment_size_bytes = 4096;
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_ns_open(&aa, db, "aa"));
	CHECK_OK(lk_ns_open(&bb, db, "bb"));
	CHECK_OK(lk_close(db));
	make_db(io); /* the keys, in segments after the first */

	list_records(&l, io, DIR, SEG1);
	for (size_t i = 0; i < l.n; i++) {
		forge_read(&f, io, SEG1, &l, i);
		if (f.rec.type == REC_PUT && f.rec.ns == 0 &&
		    f.rec.key_len == 2 && memcmp(f.rec.key, "bb", 2) == 0)
			break;
		free(f.b.p);
		f.b.p = NULL;
	}
	CHECK(f.b.p != NULL && f.rec.value[0] == bb);
	value[0] = (uint8_t)aa;
	f.rec.value = value;
	forge_write(&f, io);
	rule_seen_and_salvaged(io, &f, "namespace catalog");
	lk_io_memory_free(io);
}

/* The newest segment file and the sequence numbers in the directory. */
struct log_end {
	char newest[64];
	uint64_t seq_max;
};

static int on_end(void *arg, const lk_log_item *it)
{
	struct log_end *e = arg;

	if (it->kind == LK_LOG_SEGMENT)
		snprintf(e->newest, sizeof e->newest, "%s", it->file);
	if ((it->kind == LK_LOG_PUT || it->kind == LK_LOG_DEL) &&
	    it->seq > e->seq_max)
		e->seq_max = it->seq;
	return 0;
}

/* The newest segment file gone (its predecessor is sealed, so salvage
 * knows one is missing): salvage creates an empty successor whose
 * numbering skips every sequence number the missing segments may have
 * given, and names that whole range lost; the next write takes a number
 * past it, never one a lost record had (a shipped copy may hold it). */
static void missing_newest_segment_numbers_are_never_reused(void **state)
{
	lk_salvage_report rep = { .version = LK_SALVAGE_REPORT_VERSION };
	lk_recovery_report rrep = LK_REPORT_INIT;
	struct log_end before = { "", 0 }, after = { "", 0 };
	struct lost lost = { 0 };
	lk_options o;
	lk_db *db;
	lk_io *io;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	o = test_options(io);
	make_db(io);
	CHECK_OK(lk_log_read(DIR, &o, 0, on_end, &after));
	CHECK(after.seq_max == KEYS);
	remove_file(io, DIR, after.newest); /* the active one: unsealed */
	CHECK_OK(lk_log_read(DIR, &o, 0, on_end, &before));
	CHECK(before.seq_max < KEYS);

	CHECK_OK(lk_salvage(&rep, DIR, &o, 1, on_step, &lost));
	CHECK(rep.applied && lost.ranges == 1);
	CHECK(lost.first == before.seq_max + 1);
	CHECK(lost.last > before.seq_max + (UINT64_C(1) << 36));
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "after", 5, "repair", 6, 0));
	CHECK_OK(lk_close(db));
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_recovery(&rrep, db));
	CHECK(rrep.seq_last == lost.last + 1);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

/* The files of DIR that hold `want` byte for byte: segment 2 itself or a
 * finished copy of it (NAME.broken[.N], not the temporary). */
struct kept {
	const lk_io *io;
	const struct blob *want;
	int copies;
};

static lk_status one_file(void *arg, const char *name)
{
	struct kept *k = arg;
	size_t n = strlen(name);
	struct blob b;

	if (strncmp(name, SEG2, strlen(SEG2)) != 0 ||
	    (n > 4 && strcmp(name + n - 4, ".tmp") == 0))
		return LK_OK;
	b = file_read(k->io, DIR, name);
	if (b.n == k->want->n && memcmp(b.p, k->want->p, b.n) == 0)
		k->copies++;
	free(b.p);
	return LK_OK;
}

static int copies_kept(const lk_io *io, const struct blob *want)
{
	struct kept k = { io, want, 0 };
	lk_io_dir *d;

	CHECK_OK(io->dir_open(io->ctx, DIR, 0, &d));
	CHECK_OK(io->dir_list(io->ctx, d, one_file, &k));
	io->dir_close(io->ctx, d);
	return k.copies;
}

static void power_cut_anywhere_in_a_salvage(void **state)
{
	uint64_t cuts = 0;

	(void)state;
	for (uint64_t cut = 1;; cut++) {
		lk_salvage_report rep = { .version = LK_SALVAGE_REPORT_VERSION };
		lk_recovery_report vrep = LK_REPORT_INIT;
		uint64_t first, last, hit;
		struct fault_fs *fs;
		struct blob damaged;
		const lk_io *io;
		lk_options o;
		lk_status st;
		lk_db *db;
		int problems = 0;

		CHECK_OK(fault_new(&fs, cut));
		io = fault_io(fs);
		o = test_options(io);
		make_db(io);
		damage_seg2(io, &first, &last, &hit);
		/* the damage is on the disk before the salvage starts */
		fault_reboot(fs, FAULT_KEEP_ALL, 0, NULL);
		damaged = file_read(io, DIR, SEG2);

		fault_cut_at(fs, cut);
		st = lk_salvage(&rep, DIR, &o, 1, NULL, NULL);
		fault_cut_at(fs, 0);
		if (!fault_is_cut(fs)) {
			/* the salvage ran whole: every cut point done */
			CHECK_OK(st);
			CHECK(copies_kept(io, &damaged) == 1);
			free(damaged.p);
			fault_free(fs);
			break;
		}
		fault_reboot(fs, FAULT_RANDOM, cut * 7919, NULL);
		cuts++;
		if (copies_kept(io, &damaged) < 1)
			fprintf(stderr, "cut at call %" PRIu64 ": the damaged "
				"file is neither there nor kept\n", cut);
		CHECK(copies_kept(io, &damaged) >= 1);

		/* salvage finishes the job; the directory then opens */
		CHECK_OK(lk_salvage(&rep, DIR, &o, 1, NULL, NULL));
		CHECK_OK(lk_open(&db, DIR, &o));
		(void)check_keys(db, first, last);
		CHECK_OK(lk_close(db));
		CHECK_OK(lk_verify(&vrep, DIR, &o, on_problem, &problems));
		CHECK(problems == 0);
		CHECK(copies_kept(io, &damaged) >= 1);
		free(damaged.p);
		fault_free(fs);
	}
	print_message("power cuts during salvage: %" PRIu64 " states\n", cuts);
	CHECK(cuts > 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(salvage_keeps_all_but_the_damaged_group),
		cmocka_unit_test(seal_with_a_forged_record_count),
		cmocka_unit_test(catalog_id_given_to_a_second_name),
		cmocka_unit_test(missing_newest_segment_numbers_are_never_reused),
		cmocka_unit_test(power_cut_anywhere_in_a_salvage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
