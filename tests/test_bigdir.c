/* SPDX-License-Identifier: MIT */
/*
 * test_bigdir.c - a data directory larger than the mapping cap opens and
 * reads whole within a 32-bit address space (SPEC §7; issue 12, point 3).
 *
 * Goal: on a 32-bit host (armhf, in the cross build under qemu-user) the
 * default cap, LK_MAP_BYTES_DEFAULT, is 256 MiB of a 3 GiB address space.
 * A log of more than that must open with the default options, map sealed
 * segments only up to the cap, read the rest with pread, and return every
 * value, with stats that say so.  On a 64-bit host the default cap is
 * 64 GiB, so the test sets the 32-bit default explicitly: the same
 * directory, the same cap, the same checks on every host.
 *
 * Method: black box (logkeep.h only).  About 325 MiB of incompressible
 * values (xorshift bytes, 256 KiB each, so that zstd stores them as they
 * are) go into 32 MiB segments, unsynced (LK_SYNC_NONE: the test is about
 * reading, and a close syncs).  The directory is then opened again with
 * the cap and every value is read back with lk_get and through an
 * iterator, regenerated from its key and compared.  Each value is freed
 * before the next is read, so the test's own memory stays at one value.
 * Temporary directory under /tmp (check.h), removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "logkeep.h"

/* The default cap of a 32-bit process (logkeep.h, LK_MAP_BYTES_DEFAULT). */
#define CAP_32_BYTES ((uint64_t)256 << 20)
#define VALUE_BYTES (256u * 1024u)
#define SEGMENT_BYTES (32u * 1024u * 1024u)
/* 1,300 values of 256 KiB: 325 MiB, more than the cap and two segments. */
#define VALUES 1300u

_Static_assert(VALUE_BYTES <= LK_VALUE_BYTES_MAX, "a value fits a record");
_Static_assert((uint64_t)VALUES * VALUE_BYTES >
		       CAP_32_BYTES + 2u * SEGMENT_BYTES,
	       "the log is larger than the cap by two segments");

/* The value of key i: VALUE_BYTES of xorshift64 output seeded by i. */
static void value_of(uint8_t *v, uint32_t i)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (i + 1u);

	for (size_t k = 0; k < VALUE_BYTES; k += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		for (size_t b = 0; b < 8; b++)
			v[k + b] = (uint8_t)(x >> (8 * b));
	}
}

static lk_options options(void)
{
	lk_options o = LK_OPTIONS_INIT;

	o.sync = LK_SYNC_NONE;
	o.segment_size_bytes = SEGMENT_BYTES;
	o.compact_dead_pct = 0;
	o.snapshot_every_bytes = 0;
	o.scrub_rate_bytes = 0;
	/* the 32-bit default, which a 32-bit host gets without asking */
	if (sizeof(void *) < 8)
		assert_int_equal(o.map_bytes_max, CAP_32_BYTES);
	else
		o.map_bytes_max = CAP_32_BYTES;
	return o;
}

static void a_log_larger_than_the_map_cap_opens_and_reads_whole(void **state)
{
	lk_options o = options();
	lk_stats s = LK_STATS_INIT;
	uint8_t *want = malloc(VALUE_BYTES);
	char root[256], dir[512], key[16];
	lk_db *db = NULL;
	lk_iter *it = NULL;
	const void *k, *v;
	size_t klen, vlen;
	uint64_t count = 0, seen = 0;
	lk_status st;

	(void)state;
	assert_non_null(want);
	assert_int_equal(make_temp_dir(root, sizeof root, "bigdir"), 0);
	snprintf(dir, sizeof dir, "%s/db", root);

	CHECK_OK(lk_open(&db, dir, &o));
	for (uint32_t i = 0; i < VALUES; i++) {
		value_of(want, i);
		snprintf(key, sizeof key, "big%05u", i);
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, key, strlen(key), want,
				VALUE_BYTES, 0));
	}
	CHECK_OK(lk_close(db));

	db = NULL;
	CHECK_OK(lk_open(&db, dir, &o));
	CHECK_OK(lk_stats_get(&s, db));
	print_message("log %llu bytes in %u segments: %llu bytes mapped in "
		      "%u, %u read with pread (cap %llu)\n",
		      (unsigned long long)s.disk_bytes, s.segment_count,
		      (unsigned long long)s.map_bytes, s.map_segments,
		      s.pread_segments, (unsigned long long)CAP_32_BYTES);
	/* the log is larger than the cap; what is mapped is within it, and
	 * the segments past it (and the newest) are read with pread */
	assert_true(s.disk_bytes > CAP_32_BYTES + SEGMENT_BYTES);
	assert_true(s.map_bytes <= CAP_32_BYTES);
	assert_true(s.map_bytes > CAP_32_BYTES - 2u * SEGMENT_BYTES);
	assert_true(s.map_segments >= 1);
	assert_true(s.pread_segments >= 2);
	assert_int_equal(s.map_segments + s.pread_segments, s.segment_count);

	for (uint32_t i = 0; i < VALUES; i++) {
		void *got = NULL;
		size_t got_len = 0;

		value_of(want, i);
		snprintf(key, sizeof key, "big%05u", i);
		CHECK_OK(lk_get(&got, &got_len, db, LK_NS_DEFAULT, key,
				strlen(key)));
		assert_int_equal(got_len, VALUE_BYTES);
		assert_memory_equal(got, want, VALUE_BYTES);
		lk_free(got);
	}
	CHECK_OK(lk_count(&count, db, LK_NS_DEFAULT));
	assert_int_equal(count, VALUES);
	CHECK_OK(lk_iter_open(&it, db, LK_NS_DEFAULT, NULL, 0));
	while ((st = lk_iter_next(it, &k, &klen, &v, &vlen, NULL)) == LK_OK) {
		unsigned i = 0;

		assert_int_equal(klen, 8);
		assert_int_equal(sscanf((const char *)k + 3, "%5u", &i), 1);
		value_of(want, i);
		assert_int_equal(vlen, VALUE_BYTES);
		assert_memory_equal(v, want, VALUE_BYTES);
		seen++;
	}
	CHECK_ST(LK_NOT_FOUND, st);
	lk_iter_close(it);
	assert_int_equal(seen, VALUES);
	/* reading all of it mapped nothing past the cap */
	CHECK_OK(lk_stats_get(&s, db));
	assert_true(s.map_bytes <= CAP_32_BYTES);
	CHECK_OK(lk_close(db));

	free(want);
	assert_int_equal(remove_tree(root), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			a_log_larger_than_the_map_cap_opens_and_reads_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
