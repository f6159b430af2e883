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
			memset(&lost, 0, sizeof lost);
			CHECK_OK(lk_salvage(&rep, DIR, &o, 1, on_step, &lost));
			CHECK(rep.applied && rep.files_rewritten == 1 &&
			      rep.ranges_lost == 1 && rep.unknown_lost == 1);
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

/* lk_log_read's item for the seal: the rule it names, if any. */
struct seal_seen {
	const char *file; /* NULL: SEG2 */
	uint64_t offset;
	char what[128];
	int damage;
};

static int on_item(void *arg, const lk_log_item *it)
{
	struct seal_seen *s = arg;

	if (strcmp(it->file, s->file ? s->file : SEG2) != 0)
		return 0;
	if (it->kind == LK_LOG_DAMAGE)
		s->damage++;
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

/* A seal re-encoded with a record count one higher, its checksum right: a
 * rule between records, not damage to bytes.  Open refuses it, verify
 * names it at the seal, lk_log_read (what dump and salvage see) names the
 * same rule there, and salvage rewrites the segment keeping every record:
 * after it the directory opens strictly with every key. */
static void seal_with_a_forged_record_count(void **state)
{
	lk_salvage_report rep = { .version = LK_SALVAGE_REPORT_VERSION };
	lk_recovery_report vrep = LK_REPORT_INIT;
	struct seal_seen seen = { 0 };
	struct named named = { 0 };
	struct record seal = { 0 };
	struct lost lost = { 0 };
	struct seg_header h;
	struct rec_list l;
	struct blob b;
	const char *why = NULL;
	uint8_t buf[64];
	uint64_t at, seed;
	lk_options o;
	size_t len;
	lk_db *db;
	lk_io *io;
	int problems = 0;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	o = test_options(io);
	make_db(io);
	list_records(&l, io, DIR, SEG2);
	CHECK(l.v[l.n - 1].type == REC_SEAL);
	at = l.v[l.n - 1].offset;
	b = file_read(io, DIR, SEG2);
	CHECK_OK_WHY(seg_header_decode(&h, b.p, &why), why);
	seed = record_seed(record_hash(h.db_id, SEG_DB_ID_BYTES, 0), h.seq,
			   h.generation, at);
	CHECK_OK_WHY(record_decode(&seal, b.p + at, b.n - (size_t)at,
				   h.record_seq_base, seed, &why),
		     why);
	seal.count++;
	len = record_encode(buf, &seal, h.record_seq_base, seed);
	CHECK(len == l.v[l.n - 1].size);
	corrupt_bytes(io, DIR, SEG2, at, buf, len);
	free(b.p);

	CHECK_ST(LK_CORRUPT, lk_open(&db, DIR, &o));
	CHECK(strstr(lk_errmsg(), "seal's record count") != NULL);
	CHECK_ST(LK_CORRUPT, lk_verify(&vrep, DIR, &o, on_named, &named));
	CHECK(named.problems == 1 && named.seg == 2 && named.offset == at);
	CHECK(strstr(named.what, "seal's record count") != NULL);
	seen.offset = at;
	CHECK_OK(lk_log_read(DIR, &o, 0, on_item, &seen));
	CHECK(strstr(seen.what, "seal's record count") != NULL);

	CHECK_OK(lk_salvage(&rep, DIR, &o, 1, on_step, &lost));
	CHECK(rep.applied && rep.files_rewritten == 1 && lost.ranges == 0);
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK(check_keys(db, 1, 0) == 0); /* every key */
	CHECK_OK(lk_close(db));
	CHECK_OK(lk_verify(&vrep, DIR, &o, on_problem, &problems));
	CHECK(problems == 0);
	lk_io_memory_free(io);
}

/* The catalog record that gives namespace "bb" its id, re-encoded to give
 * it the id of "aa" instead, its checksum right: open refuses an id given
 * to two names, and lk_log_read named no rule there (it checked each
 * catalog record alone), so salvage kept the segment and the directory it
 * left still failed a strict open.  Now the rule is one (order.h). */
static void catalog_id_given_to_a_second_name(void **state)
{
	lk_salvage_report rep = { .version = LK_SALVAGE_REPORT_VERSION };
	lk_recovery_report vrep = LK_REPORT_INIT;
	struct seal_seen seen = { 0 };
	struct lost lost = { 0 };
	struct seg_header h;
	struct rec_list l;
	struct blob b;
	const char *why = NULL;
	uint32_t aa, bb;
	uint64_t at = 0, seed = 0;
	struct record cat = { 0 };
	uint8_t buf[64], value[1];
	lk_options o;
	size_t len;
	lk_db *db;
	lk_io *io;
	int problems = 0;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	o = test_options(io);
	o.segment_size_bytes = 4096;
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_ns_open(&aa, db, "aa"));
	CHECK_OK(lk_ns_open(&bb, db, "bb"));
	CHECK_OK(lk_close(db));
	make_db(io); /* the keys, in segments after the first */

	list_records(&l, io, DIR, "0000000000000001.seg");
	b = file_read(io, DIR, "0000000000000001.seg");
	CHECK_OK_WHY(seg_header_decode(&h, b.p, &why), why);
	for (size_t i = 0; i < l.n && !at; i++) {
		uint64_t sd = record_seed(record_hash(h.db_id, SEG_DB_ID_BYTES,
						      0),
					  h.seq, h.generation, l.v[i].offset);

		CHECK_OK_WHY(record_decode(&cat, b.p + l.v[i].offset,
					   l.v[i].size, h.record_seq_base, sd,
					   &why),
			     why);
		if (cat.type == REC_PUT && cat.ns == 0 && cat.key_len == 2 &&
		    memcmp(cat.key, "bb", 2) == 0) {
			at = l.v[i].offset;
			seed = sd;
		}
	}
	CHECK(at > 0 && cat.value[0] == bb);
	value[0] = (uint8_t)aa;
	cat.value = value;
	len = record_encode(buf, &cat, h.record_seq_base, seed);
	CHECK(len == cat.size);
	corrupt_bytes(io, DIR, "0000000000000001.seg", at, buf, len);
	free(b.p);

	CHECK_ST(LK_CORRUPT, lk_open(&db, DIR, &o));
	CHECK(strstr(lk_errmsg(), "namespace catalog") != NULL);
	seen.file = "0000000000000001.seg";
	seen.offset = at;
	CHECK_OK(lk_log_read(DIR, &o, 0, on_item, &seen));
	CHECK(strstr(seen.what, "namespace catalog") != NULL);

	CHECK_OK(lk_salvage(&rep, DIR, &o, 1, on_step, &lost));
	CHECK(rep.applied && rep.files_rewritten == 1);
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK(check_keys(db, 1, 0) == 0); /* every key of the default one */
	CHECK_OK(lk_close(db));
	CHECK_OK(lk_verify(&vrep, DIR, &o, on_problem, &problems));
	CHECK(problems == 0);
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
		cmocka_unit_test(power_cut_anywhere_in_a_salvage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
