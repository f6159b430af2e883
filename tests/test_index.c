/* SPDX-License-Identifier: MIT */
/*
 * test_index.c - the in-memory hash index (engine/index.h) maps each
 * (namespace, key) to the location of its newest record, whatever the
 * hashes, and stays within its memory budget.
 *
 * Goal: every key put is found at its latest location until it is
 * deleted, no two keys are confused, even when they share a hash (the
 * index keeps only 31 bits of it and no key), the per-namespace counters
 * are exact, and a million keys cost at most 24 bytes each.
 *
 * Method: the index holds no keys, so the tests keep them in a fake key
 * store: a location's offset is the id of a key in a test-side table, and
 * the ix_key_eq_fn callback compares the key asked for with that entry (a
 * second store for the million-key test derives the key from the id
 * instead of keeping it).  Hashes are passed explicitly, so the tests can
 * give many keys the same hash and drive candidate verification and the
 * Robin Hood backward shift.  The model tests run 100,000 seeded random
 * operations against a plain array that says what each key should map
 * to.  As the engine does, every put is preceded by index_reserve(), since
 * index_put() asserts that room was made.  Statuses are checked with
 * check.h's CHECK_ST(want, expr) and CHECK_OK(expr), which on failure
 * print the file, line, expression, both statuses and lk_errmsg().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "check.h"
#include "endian.h"
#include "error.h"
#include "index.h"
#include "logkeep_limits.h"
#include "record.h"
#include "segment.h"

/* ---------------------------------------------------------------------- */
/* The fake key store                                                     */
/* ---------------------------------------------------------------------- */

#define KEY_BYTES_MAX 24u

struct key {
	uint8_t ns;
	uint8_t len;
	char bytes[KEY_BYTES_MAX];
};

/* Keys by id; a location's offset is the id of its key. */
struct store {
	struct key *keys;
	uint32_t count;
	uint64_t calls;       /* key checks the index asked for */
	lk_status fail_with;  /* LK_OK, or what every key check returns */
	uint32_t exact_size;  /* if nonzero, the size a key check reports */
};

static struct store store;

static lk_status store_key_eq(void *ctx, struct ix_loc *loc, const void *key,
			      size_t key_len, int *equal)
{
	struct store *s = ctx;
	const struct key *k;

	assert_ptr_equal(s, &store);
	s->calls++;
	if (s->fail_with != LK_OK)
		return err_set(s->fail_with, "reading the key at offset %u",
			       loc->offset);
	assert_true(loc->offset < s->count);
	assert_true(loc->seg >= 1 && loc->seg < IX_SEG_SLOTS);
	k = &s->keys[loc->offset];
	*equal = k->len == key_len && memcmp(k->bytes, key, key_len) == 0;
	if (s->exact_size)
		loc->size = s->exact_size;
	return LK_OK;
}

/* Makes keys 0..count-1, named "<prefix>-<id / ns_count>", in namespace
 * namespaces[id % ns_count]: the same key text recurs in each namespace. */
static void store_make(uint32_t count, const char *prefix,
		       const uint8_t *namespaces, uint32_t ns_count)
{
	free(store.keys);
	memset(&store, 0, sizeof store);
	store.keys = calloc(count, sizeof *store.keys);
	assert_non_null(store.keys);
	store.count = count;
	for (uint32_t id = 0; id < count; id++) {
		struct key *k = &store.keys[id];
		int n = snprintf(k->bytes, sizeof k->bytes, "%s-%u", prefix,
				 id / ns_count);

		assert_true(n > 0 && (size_t)n < sizeof k->bytes);
		k->len = (uint8_t)n;
		k->ns = namespaces[id % ns_count];
	}
}

static void store_free(void)
{
	free(store.keys);
	memset(&store, 0, sizeof store);
}

static uint64_t real_hash(uint32_t id)
{
	const struct key *k = &store.keys[id];

	return record_key_hash(k->ns, k->bytes, k->len);
}

/* Location number `version` of key id: the offset names the key, the
 * segment slot and size tell versions apart. */
static struct ix_loc loc_of(uint32_t id, uint32_t version)
{
	struct ix_loc loc;

	loc.seg = 1 + version % (IX_SEG_SLOTS - 1);
	loc.offset = id;
	loc.size = version % IX_SIZE_LARGE;
	return loc;
}

static void assert_same_loc(struct ix_loc a, struct ix_loc b)
{
	assert_int_equal(a.seg, b.seg);
	assert_int_equal(a.offset, b.offset);
	assert_int_equal(a.size, b.size);
}

/* Shorthands over the store: put, get and del key id with `hash`. */
static lk_status put(struct index *ix, uint32_t id, uint64_t hash,
		     struct ix_loc loc, int expiring, struct ix_loc *old,
		     int *had_old)
{
	const struct key *k = &store.keys[id];
	lk_status st = index_reserve(ix, 1);

	if (st != LK_OK)
		return st;
	return index_put(ix, k->ns, hash, expiring, k->bytes, k->len, loc,
			 store_key_eq, &store, old, had_old);
}

static lk_status get(struct index *ix, uint32_t id, uint64_t hash,
		     struct ix_loc *loc, int *expiring)
{
	const struct key *k = &store.keys[id];

	return index_get(ix, k->ns, hash, k->bytes, k->len, store_key_eq,
			 &store, loc, expiring);
}

static lk_status del(struct index *ix, uint32_t id, uint64_t hash,
		     struct ix_loc *old, int *had_old)
{
	const struct key *k = &store.keys[id];

	return index_del(ix, k->ns, hash, k->bytes, k->len, store_key_eq,
			 &store, old, had_old);
}

/* Puts a key known to be absent. */
static void put_new(struct index *ix, uint32_t id, uint64_t hash,
		    struct ix_loc loc, int expiring)
{
	struct ix_loc old;
	int had_old = -1;

	CHECK_OK(put(ix, id, hash, loc, expiring, &old, &had_old));
	assert_int_equal(had_old, 0);
}

static void assert_found(struct index *ix, uint32_t id, uint64_t hash,
			 struct ix_loc want)
{
	struct ix_loc loc;
	int expiring;

	CHECK_OK(get(ix, id, hash, &loc, &expiring));
	assert_same_loc(loc, want);
}

static void assert_absent(struct index *ix, uint32_t id, uint64_t hash)
{
	struct ix_loc loc;

	CHECK_ST(LK_NOT_FOUND, get(ix, id, hash, &loc, NULL));
}

/* A deterministic generator (splitmix64), so a failure replays. */
static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static int teardown(void **state)
{
	index_free(*state);
	store_free();
	return 0;
}

static int setup(void **state)
{
	struct index *ix;

	if (index_new(&ix) != LK_OK)
		return -1;
	*state = ix;
	return 0;
}

static const uint8_t one_ns[] = { 1 };

/* ---------------------------------------------------------------------- */
/* Basic operations                                                       */
/* ---------------------------------------------------------------------- */

static void empty_index_finds_nothing(void **state)
{
	struct index *ix = *state;

	store_make(1, "k", one_ns, 1);
	assert_absent(ix, 0, real_hash(0));
	assert_int_equal(index_keys(ix), 0);
	assert_int_equal(index_count(ix, 1), 0);
	assert_int_equal(store.calls, 0);
}

static void put_then_get_returns_the_location(void **state)
{
	struct index *ix = *state;

	store_make(3, "k", one_ns, 1);
	put_new(ix, 0, real_hash(0), loc_of(0, 10), 0);
	put_new(ix, 1, real_hash(1), loc_of(1, 11), 0);
	assert_found(ix, 0, real_hash(0), loc_of(0, 10));
	assert_found(ix, 1, real_hash(1), loc_of(1, 11));
	assert_absent(ix, 2, real_hash(2));
	assert_int_equal(index_keys(ix), 2);
	assert_int_equal(index_count(ix, 1), 2);
}

static void replace_returns_the_old_location(void **state)
{
	struct index *ix = *state;
	struct ix_loc old;
	int had_old = -1;

	store_make(1, "k", one_ns, 1);
	put_new(ix, 0, real_hash(0), loc_of(0, 1), 0);
	CHECK_OK(put(ix, 0, real_hash(0), loc_of(0, 2), 0, &old, &had_old));
	assert_int_equal(had_old, 1);
	assert_same_loc(old, loc_of(0, 1));
	assert_found(ix, 0, real_hash(0), loc_of(0, 2));
	assert_int_equal(index_keys(ix), 1);
	assert_int_equal(index_count(ix, 1), 1);
}

static void delete_returns_the_old_location_and_forgets_the_key(void **state)
{
	struct index *ix = *state;
	struct ix_loc old;
	int had_old = -1;

	store_make(2, "k", one_ns, 1);
	put_new(ix, 0, real_hash(0), loc_of(0, 5), 0);
	put_new(ix, 1, real_hash(1), loc_of(1, 6), 0);
	CHECK_OK(del(ix, 0, real_hash(0), &old, &had_old));
	assert_int_equal(had_old, 1);
	assert_same_loc(old, loc_of(0, 5));
	assert_absent(ix, 0, real_hash(0));
	assert_found(ix, 1, real_hash(1), loc_of(1, 6));
	assert_int_equal(index_keys(ix), 1);
	assert_int_equal(index_count(ix, 1), 1);
}

static void delete_of_an_absent_key_is_ok_without_old(void **state)
{
	struct index *ix = *state;
	struct ix_loc old;
	int had_old = -1;

	store_make(2, "k", one_ns, 1);
	CHECK_OK(del(ix, 0, real_hash(0), &old, &had_old));
	assert_int_equal(had_old, 0);
	put_new(ix, 1, real_hash(1), loc_of(1, 1), 0);
	/* absent although a key with its hash is present */
	had_old = -1;
	CHECK_OK(del(ix, 0, real_hash(1), &old, &had_old));
	assert_int_equal(had_old, 0);
	assert_int_equal(index_keys(ix), 1);
	/* and twice in a row */
	CHECK_OK(del(ix, 1, real_hash(1), &old, &had_old));
	assert_int_equal(had_old, 1);
	CHECK_OK(del(ix, 1, real_hash(1), &old, &had_old));
	assert_int_equal(had_old, 0);
	assert_int_equal(index_keys(ix), 0);
	assert_int_equal(index_count(ix, 1), 0);
}

static void location_fields_keep_their_full_range(void **state)
{
	struct index *ix = *state;
	struct ix_loc loc;

	store_make(4, "k", one_ns, 1);
	/* the offset names the key, so vary the segment slot and size */
	loc = (struct ix_loc){ 1, 0, 0 };
	put_new(ix, 0, real_hash(0), loc, 0);
	assert_found(ix, 0, real_hash(0), loc);
	loc = (struct ix_loc){ IX_SEG_SLOTS - 1, 1, IX_SIZE_LARGE - 1 };
	put_new(ix, 1, real_hash(1), loc, 0);
	assert_found(ix, 1, real_hash(1), loc);
	loc = (struct ix_loc){ 2048, 2, IX_SIZE_LARGE };
	put_new(ix, 2, real_hash(2), loc, 0);
	assert_found(ix, 2, real_hash(2), loc);
}

static void large_sizes_saturate_and_the_key_check_may_give_them(void **state)
{
	struct index *ix = *state;
	struct ix_loc loc;

	store_make(2, "k", one_ns, 1);
	put_new(ix, 0, real_hash(0), (struct ix_loc){ 3, 0, 100000 }, 0);
	put_new(ix, 1, real_hash(1), (struct ix_loc){ 3, 1, LK_RECORD_BYTES_MAX },
		0);
	/* the slot holds 12 bits of size: a large one reads back saturated */
	CHECK_OK(get(ix, 0, real_hash(0), &loc, NULL));
	assert_int_equal(loc.size, IX_SIZE_LARGE);
	assert_int_equal(loc.offset, 0);
	assert_int_equal(loc.seg, 3);
	/* ... unless the key check, having read the record, says its size */
	store.exact_size = 100000;
	CHECK_OK(get(ix, 0, real_hash(0), &loc, NULL));
	assert_int_equal(loc.size, 100000);
}

static void failed_key_check_fails_the_operation_and_changes_nothing(
	void **state)
{
	struct index *ix = *state;
	struct ix_loc loc, old;
	int had_old = -1;

	store_make(2, "k", one_ns, 1);
	put_new(ix, 0, 42, loc_of(0, 1), 0);
	store.fail_with = LK_IO;
	/* key 1 shares key 0's hash, so the index must read key 0 */
	CHECK_ST(LK_IO, get(ix, 1, 42, &loc, NULL));
	CHECK_ST(LK_IO, put(ix, 1, 42, loc_of(1, 1), 0, &old, &had_old));
	CHECK_ST(LK_IO, del(ix, 0, 42, &old, &had_old));
	assert_non_null(strstr(lk_errmsg(), "reading the key"));
	store.fail_with = LK_OK;
	assert_int_equal(index_keys(ix), 1);
	assert_int_equal(index_count(ix, 1), 1);
	assert_found(ix, 0, 42, loc_of(0, 1));
	assert_absent(ix, 1, 42);
}

static void a_unique_hash_needs_one_key_check(void **state)
{
	struct index *ix = *state;
	struct ix_loc loc;

	store_make(100, "k", one_ns, 1);
	for (uint32_t id = 0; id < 100; id++)
		put_new(ix, id, real_hash(id), loc_of(id, id), 0);
	store.calls = 0;
	for (uint32_t id = 0; id < 100; id++)
		CHECK_OK(get(ix, id, real_hash(id), &loc, NULL));
	assert_int_equal(store.calls, 100);
	/* a miss whose hash no key has reads no key at all */
	store.calls = 0;
	CHECK_ST(LK_NOT_FOUND,
		 index_get(ix, 1, UINT64_C(0x0123456789abcdef), "zz", 2,
			   store_key_eq, &store, &loc, NULL));
	assert_int_equal(store.calls, 0);
}

/* ---------------------------------------------------------------------- */
/* Namespaces and counters                                                */
/* ---------------------------------------------------------------------- */

static void same_key_and_hash_in_two_namespaces_are_two_entries(void **state)
{
	static const uint8_t namespaces[] = { 1, 2 };
	struct index *ix = *state;
	struct ix_loc old;
	int had_old;

	/* ids 0 and 1 are both "k-0", in namespaces 1 and 2 */
	store_make(2, "k", namespaces, 2);
	assert_string_equal(store.keys[0].bytes, store.keys[1].bytes);
	put_new(ix, 0, 99, loc_of(0, 1), 0);
	put_new(ix, 1, 99, loc_of(1, 2), 1);
	assert_found(ix, 0, 99, loc_of(0, 1));
	assert_found(ix, 1, 99, loc_of(1, 2));
	assert_int_equal(index_count(ix, 1), 1);
	assert_int_equal(index_count(ix, 2), 1);
	assert_int_equal(index_expiring(ix, 1), 0);
	assert_int_equal(index_expiring(ix, 2), 1);
	CHECK_OK(del(ix, 0, 99, &old, &had_old));
	assert_int_equal(had_old, 1);
	assert_absent(ix, 0, 99);
	assert_found(ix, 1, 99, loc_of(1, 2));
	assert_int_equal(index_count(ix, 1), 0);
	assert_int_equal(index_count(ix, 2), 1);
}

static void expiring_counts_follow_puts_replaces_and_deletes(void **state)
{
	static const uint8_t namespaces[] = { 4, 5 };
	struct index *ix = *state;
	struct ix_loc old, loc;
	int had_old, expiring = -1;

	store_make(6, "k", namespaces, 2); /* ids 0, 2, 4 in ns 4 */
	put_new(ix, 0, real_hash(0), loc_of(0, 1), 1);
	put_new(ix, 2, real_hash(2), loc_of(2, 1), 1);
	put_new(ix, 4, real_hash(4), loc_of(4, 1), 0);
	put_new(ix, 1, real_hash(1), loc_of(1, 1), 1);
	assert_int_equal(index_expiring(ix, 4), 2);
	assert_int_equal(index_expiring(ix, 5), 1);
	assert_int_equal(index_count(ix, 4), 3);
	CHECK_OK(get(ix, 0, real_hash(0), &loc, &expiring));
	assert_int_equal(expiring, 1);
	CHECK_OK(get(ix, 4, real_hash(4), &loc, &expiring));
	assert_int_equal(expiring, 0);

	/* expiring -> not expiring */
	CHECK_OK(put(ix, 0, real_hash(0), loc_of(0, 2), 0, &old, &had_old));
	assert_int_equal(index_expiring(ix, 4), 1);
	/* not expiring -> expiring */
	CHECK_OK(put(ix, 4, real_hash(4), loc_of(4, 2), 1, &old, &had_old));
	assert_int_equal(index_expiring(ix, 4), 2);
	/* expiring -> expiring */
	CHECK_OK(put(ix, 2, real_hash(2), loc_of(2, 2), 1, &old, &had_old));
	assert_int_equal(index_expiring(ix, 4), 2);
	CHECK_OK(get(ix, 4, real_hash(4), &loc, &expiring));
	assert_int_equal(expiring, 1);
	/* deleting an expiring key */
	CHECK_OK(del(ix, 2, real_hash(2), &old, &had_old));
	assert_int_equal(index_expiring(ix, 4), 1);
	/* deleting a key that does not expire */
	CHECK_OK(del(ix, 0, real_hash(0), &old, &had_old));
	assert_int_equal(index_expiring(ix, 4), 1);
	assert_int_equal(index_count(ix, 4), 1);
	assert_int_equal(index_expiring(ix, 5), 1);
	assert_int_equal(index_count(ix, 5), 1);
}

struct visits {
	uint32_t *seen;      /* by key id */
	uint32_t count;
	int ns;              /* what foreach was asked for */
	uint32_t *version;   /* by key id: the location's version */
	uint8_t *expiring;   /* by key id */
};

static void visit(void *arg, uint8_t ns, struct ix_loc loc, int expiring)
{
	struct visits *v = arg;

	assert_true(loc.offset < store.count);
	assert_int_equal(ns, store.keys[loc.offset].ns);
	if (v->ns >= 0)
		assert_int_equal(ns, v->ns);
	assert_same_loc(loc, loc_of(loc.offset, v->version[loc.offset]));
	assert_int_equal(expiring, v->expiring[loc.offset]);
	v->seen[loc.offset]++;
	v->count++;
}

static void foreach_visits_each_entry_of_a_namespace_once(void **state)
{
	static const uint8_t namespaces[] = { 0, 1, 2, 255 };
	enum { N = 4000 };
	struct index *ix = *state;
	uint32_t seen[N], version[N];
	uint8_t expiring[N];
	struct visits v = { seen, 0, 0, version, expiring };
	struct ix_loc old;
	int had_old;

	store_make(N, "k", namespaces, 4);
	for (uint32_t id = 0; id < N; id++) {
		version[id] = id * 7u;
		expiring[id] = id % 3 == 0;
		put_new(ix, id, real_hash(id), loc_of(id, version[id]),
			expiring[id]);
	}
	/* delete every fifth key */
	for (uint32_t id = 0; id < N; id += 5)
		CHECK_OK(del(ix, id, real_hash(id), &old, &had_old));

	for (int ns = -1; ns < 256; ns++) {
		uint32_t want = 0;

		memset(seen, 0, sizeof seen);
		v.count = 0;
		v.ns = ns;
		index_foreach(ix, ns, visit, &v);
		for (uint32_t id = 0; id < N; id++) {
			int in_ns = ns < 0 || store.keys[id].ns == ns;
			uint32_t times = in_ns && id % 5 != 0 ? 1 : 0;

			assert_int_equal(seen[id], times);
			want += times;
		}
		assert_int_equal(v.count, want);
		if (ns >= 0)
			assert_int_equal(index_count(ix, (uint8_t)ns), want);
		else
			assert_int_equal(index_keys(ix), want);
	}
}

/* ---------------------------------------------------------------------- */
/* Hash collisions                                                        */
/* ---------------------------------------------------------------------- */

/* Puts `same` keys that all have hash `h` among as many keys with their
 * real hashes, alternating, so that the colliding run is interleaved
 * with displaced strangers; then replaces, deletes and re-checks them. */
static void check_colliding_keys(struct index *ix, uint64_t h, uint32_t same)
{
	uint32_t n = 2 * same;
	struct ix_loc loc, old;
	int had_old;

	store_make(n, "c", one_ns, 1);
#define HASH_OF(id) ((id) % 2 == 0 ? h : real_hash(id))
	for (uint32_t id = 0; id < n; id++)
		put_new(ix, id, HASH_OF(id), loc_of(id, 1), 0);
	assert_int_equal(index_keys(ix), n);
	for (uint32_t id = 0; id < n; id++)
		assert_found(ix, id, HASH_OF(id), loc_of(id, 1));

	/* a key that is not there but shares the hash: every candidate is
	 * read and refused */
	store.calls = 0;
	CHECK_ST(LK_NOT_FOUND, index_get(ix, 1, h, "absent", 6, store_key_eq,
					 &store, &loc, NULL));
	assert_true(store.calls >= same);

	/* replace each colliding key: it keeps its one entry */
	for (uint32_t id = 0; id < n; id += 2) {
		CHECK_OK(put(ix, id, h, loc_of(id, 2), id % 4 == 0, &old,
			     &had_old));
		assert_int_equal(had_old, 1);
		assert_same_loc(old, loc_of(id, 1));
	}
	assert_int_equal(index_keys(ix), n);
	assert_int_equal(index_expiring(ix, 1), (same + 1) / 2);

	/* delete every third key, colliding or not: the backward shift must
	 * keep every other key reachable */
	for (uint32_t id = 0; id < n; id += 3) {
		CHECK_OK(del(ix, id, HASH_OF(id), &old, &had_old));
		assert_int_equal(had_old, 1);
		assert_int_equal(old.offset, id);
	}
	for (uint32_t id = 0; id < n; id++) {
		if (id % 3 == 0)
			assert_absent(ix, id, HASH_OF(id));
		else
			assert_found(ix, id, HASH_OF(id),
				     loc_of(id, id % 2 == 0 ? 2 : 1));
	}
	/* then everything, from the far end of the run back */
	for (uint32_t id = n; id-- > 0;) {
		CHECK_OK(del(ix, id, HASH_OF(id), &old, &had_old));
		assert_int_equal(had_old, id % 3 != 0);
		for (uint32_t other = 0; other < id; other += 97)
			if (other % 3 != 0)
				CHECK_OK(get(ix, other, HASH_OF(other), &loc,
					     NULL));
	}
#undef HASH_OF
	assert_int_equal(index_keys(ix), 0);
	assert_int_equal(index_count(ix, 1), 0);
	assert_int_equal(index_expiring(ix, 1), 0);
	for (uint32_t id = 0; id < n; id++)
		CHECK_ST(LK_NOT_FOUND, index_get(ix, 1, id % 2 == 0 ? h
								    : real_hash(id),
						 store.keys[id].bytes,
						 store.keys[id].len, store_key_eq,
						 &store, &loc, NULL));
}

static void keys_with_the_same_hash_stay_distinct(void **state)
{
	check_colliding_keys(*state, UINT64_C(0x1234567890abcdef), 1000);
}

static void colliding_run_wraps_around_the_table_end(void **state)
{
	/* The largest hash homes in the last slot: its run wraps to slot 0. */
	check_colliding_keys(*state, UINT64_MAX, 1000);
}

static void colliding_run_at_the_table_start(void **state)
{
	check_colliding_keys(*state, 0, 1000);
}

static void hashes_equal_in_their_top_31_bits_collide(void **state)
{
	/* The index keeps 31 bits of the hash: these differ only below. */
	struct index *ix = *state;
	const uint64_t base = UINT64_C(0xabcdef0000000000);

	store_make(64, "t", one_ns, 1);
	for (uint32_t id = 0; id < 64; id++)
		put_new(ix, id, base | id, loc_of(id, id), 0);
	for (uint32_t id = 0; id < 64; id++)
		assert_found(ix, id, base | id, loc_of(id, id));
	/* key 0 looked up with key 1's hash: still key 0, because only the
	 * kept bits count and the key decides */
	assert_found(ix, 0, base | 1, loc_of(0, 0));
}

/* ---------------------------------------------------------------------- */
/* The model tests                                                        */
/* ---------------------------------------------------------------------- */

#define MODEL_KEYS 20000u
#define MODEL_OPS 100000u

static const uint8_t model_ns[] = { 0, 1, 7, 42, 255 };
#define MODEL_NS_COUNT (sizeof model_ns / sizeof model_ns[0])

/* A hash with only 512 values: ~40 keys per hash, in every namespace. */
static uint64_t clumped_hash(uint32_t id)
{
	uint64_t z = (uint64_t)(id % 512) * UINT64_C(0x9E3779B97F4A7C15);

	return z ^ (z >> 29);
}

static void check_model_counts(struct index *ix, const uint32_t *version,
			       const uint8_t *expiring)
{
	uint64_t count[256] = { 0 }, exp[256] = { 0 }, total = 0;

	for (uint32_t id = 0; id < MODEL_KEYS; id++) {
		if (!version[id])
			continue;
		count[store.keys[id].ns]++;
		exp[store.keys[id].ns] += expiring[id];
		total++;
	}
	for (unsigned ns = 0; ns < 256; ns++) {
		assert_int_equal(index_count(ix, (uint8_t)ns), count[ns]);
		assert_int_equal(index_expiring(ix, (uint8_t)ns), exp[ns]);
	}
	assert_int_equal(index_keys(ix), total);
}

/* 100,000 random puts, deletes and gets over 20,000 keys in five
 * namespaces, each checked against the model: version[id] is the version
 * of the key's location, 0 if absent. */
static void run_model(struct index *ix, uint64_t (*hash)(uint32_t),
		      uint64_t seed)
{
	static uint32_t version[MODEL_KEYS];
	static uint8_t expiring[MODEL_KEYS];
	uint32_t next_version = 1;
	struct ix_loc loc, old;
	int had_old, exp;

	memset(version, 0, sizeof version);
	memset(expiring, 0, sizeof expiring);
	store_make(MODEL_KEYS, "model", model_ns, MODEL_NS_COUNT);
	rng_state = seed;
	for (uint32_t op = 0; op < MODEL_OPS; op++) {
		uint64_t r = rng();
		uint32_t id = (uint32_t)(r % MODEL_KEYS);
		unsigned what = (unsigned)((r >> 32) % 8);

		if (what < 4) { /* put */
			uint32_t v = next_version++;
			int e = (r >> 40) % 4 == 0;

			CHECK_OK(put(ix, id, hash(id), loc_of(id, v), e, &old,
				     &had_old));
			assert_int_equal(had_old, version[id] != 0);
			if (had_old)
				assert_same_loc(old, loc_of(id, version[id]));
			version[id] = v;
			expiring[id] = (uint8_t)e;
		} else if (what < 6) { /* delete */
			CHECK_OK(del(ix, id, hash(id), &old, &had_old));
			assert_int_equal(had_old, version[id] != 0);
			if (had_old)
				assert_same_loc(old, loc_of(id, version[id]));
			version[id] = 0;
			expiring[id] = 0;
		} else { /* get */
			lk_status st = get(ix, id, hash(id), &loc, &exp);

			if (version[id]) {
				CHECK_OK(st);
				assert_same_loc(loc, loc_of(id, version[id]));
				assert_int_equal(exp, expiring[id]);
			} else {
				CHECK_ST(LK_NOT_FOUND, st);
			}
		}
		if (op % 10000 == 9999)
			check_model_counts(ix, version, expiring);
	}
	for (uint32_t id = 0; id < MODEL_KEYS; id++) {
		if (version[id]) {
			CHECK_OK(get(ix, id, hash(id), &loc, &exp));
			assert_same_loc(loc, loc_of(id, version[id]));
		} else {
			CHECK_ST(LK_NOT_FOUND,
				 get(ix, id, hash(id), &loc, &exp));
		}
	}
	check_model_counts(ix, version, expiring);
}

static void random_operations_match_a_reference_map(void **state)
{
	run_model(*state, real_hash, 1);
}

static void random_operations_with_clumped_hashes_match_the_map(void **state)
{
	run_model(*state, clumped_hash, 2);
}

/* ---------------------------------------------------------------------- */
/* Growth and memory                                                      */
/* ---------------------------------------------------------------------- */

static void reserve_grows_and_keeps_every_entry(void **state)
{
	enum { N = 800 };
	static const uint8_t namespaces[] = { 3, 4 };
	struct index *ix = *state;
	uint64_t slots;

	store_make(N, "g", namespaces, 2);
	CHECK_OK(index_reserve(ix, N));
	slots = index_slots(ix);
	for (uint32_t id = 0; id < N; id++)
		CHECK_OK(index_put(ix, store.keys[id].ns, real_hash(id),
				   id % 2, store.keys[id].bytes,
				   store.keys[id].len, loc_of(id, id + 1),
				   store_key_eq, &store,
				   &(struct ix_loc){ 0 }, &(int){ 0 }));
	/* room that was made is not made again */
	CHECK_OK(index_reserve(ix, 0));
	assert_int_equal(index_slots(ix), slots);

	CHECK_OK(index_reserve(ix, 100000));
	assert_true(index_slots(ix) * 4 >= (uint64_t)(N + 100000) * 5);
	assert_int_equal(index_keys(ix), N);
	assert_int_equal(index_count(ix, 3), N / 2);
	assert_int_equal(index_count(ix, 4), N / 2);
	assert_int_equal(index_expiring(ix, 4), N / 2);
	assert_int_equal(index_expiring(ix, 3), 0);
	for (uint32_t id = 0; id < N; id++)
		assert_found(ix, id, real_hash(id), loc_of(id, id + 1));

	/* and a reserve that fits changes nothing */
	slots = index_slots(ix);
	CHECK_OK(index_reserve(ix, 1000));
	assert_int_equal(index_slots(ix), slots);
}

static void reserve_past_the_slot_limit_is_too_big(void **state)
{
	struct index *ix = *state;
	uint64_t slots = index_slots(ix);

	store_make(1, "k", one_ns, 1);
	put_new(ix, 0, real_hash(0), loc_of(0, 1), 0);
	CHECK_ST(LK_TOO_BIG, index_reserve(ix, LK_INDEX_SLOTS_MAX));
	assert_non_null(strstr(lk_errmsg(), "index"));
	assert_int_equal(index_slots(ix), slots);
	assert_found(ix, 0, real_hash(0), loc_of(0, 1));
}

/* The memory budget's bound (index_reserve_within): the table grows by
 * half while that fits, then once to the largest table under the bound,
 * so that exactly index_keys_room() keys go in; the next growth is
 * refused with LK_TOO_BIG before anything is allocated, and the table
 * and every key stay as they were. */
static void reserve_within_a_bound_uses_it_all_and_refuses_past_it(void **state)
{
	enum { N = 5000 };
	struct index *ix = *state;
	uint64_t bound = index_bytes(ix) * 3, room, slots, n = 0;
	lk_status st = LK_OK;

	store_make(N, "b", one_ns, 1);
	room = index_keys_room(ix, bound);
	assert_true(room > 1000 && room < N);
	assert_int_equal(index_keys_room(ix, UINT64_MAX),
			 (uint64_t)LK_INDEX_SLOTS_MAX * 4 / 5);
	for (; n < N; n++) {
		st = index_reserve_within(ix, 1, bound);
		if (st != LK_OK)
			break;
		CHECK_OK(index_put(ix, store.keys[n].ns, real_hash((uint32_t)n),
				   0, store.keys[n].bytes, store.keys[n].len,
				   loc_of((uint32_t)n, 1), store_key_eq, &store,
				   &(struct ix_loc){ 0 }, &(int){ 0 }));
	}
	CHECK_ST(LK_TOO_BIG, st);
	assert_non_null(strstr(lk_errmsg(), "bound"));
	assert_int_equal(n, room);
	assert_true(index_bytes(ix) <= bound);
	assert_true(index_bytes(ix) + IX_SLOT_BYTES > bound); /* all of it */
	assert_int_equal(index_keys_room(ix, bound), 0);
	assert_true(index_bytes_for(n + 1) > bound);
	slots = index_slots(ix);
	CHECK_ST(LK_TOO_BIG, index_reserve_within(ix, 1, bound));
	assert_int_equal(index_slots(ix), slots);
	for (uint32_t id = 0; id < n; id++)
		assert_found(ix, id, real_hash(id), loc_of(id, 1));
	/* a bound under the table: what room the table has, no growth */
	CHECK_OK(index_del(ix, store.keys[0].ns, real_hash(0),
			   store.keys[0].bytes, store.keys[0].len,
			   store_key_eq, &store, &(struct ix_loc){ 0 },
			   &(int){ 0 }));
	assert_int_equal(index_keys_room(ix, 0), 1);
	CHECK_OK(index_reserve_within(ix, 1, 0));
	CHECK_ST(LK_TOO_BIG, index_reserve_within(ix, 2, 0));
	assert_int_equal(index_slots(ix), slots);
	/* without a bound it grows on */
	CHECK_OK(index_reserve_within(ix, 2, UINT64_MAX));
	assert_true(index_slots(ix) > slots);
}

/* index_reserve() promises LK_TOO_BIG past LK_INDEX_SLOTS_MAX, and
 * index_put() relies on its LK_OK to mean there is room.  A count so
 * large that keys + extra, or that times 5/4, overflows 64 bits must not
 * wrap around into "room enough".  (Regression: it once did.) */
static void reserve_of_more_keys_than_can_exist_is_too_big(void **state)
{
	struct index *ix = *state;
	uint64_t slots = index_slots(ix);

	store_make(1, "k", one_ns, 1);
	put_new(ix, 0, real_hash(0), loc_of(0, 1), 0);
	/* keys + extra wraps to 0 */
	CHECK_ST(LK_TOO_BIG, index_reserve(ix, UINT64_MAX));
	/* (keys + extra) * 5 wraps to a small number */
	CHECK_ST(LK_TOO_BIG, index_reserve(ix, UINT64_C(0x3333333333333333)));
	assert_int_equal(index_slots(ix), slots);
	assert_found(ix, 0, real_hash(0), loc_of(0, 1));
}

/* The million-key store: key id is its 8 bytes, little-endian, so the
 * key check needs no table. */
static lk_status synthetic_key_eq(void *ctx, struct ix_loc *loc,
				  const void *key, size_t key_len, int *equal)
{
	(void)ctx;
	*equal = key_len == 8 && get_u64(key) == loc->offset;
	return LK_OK;
}

static void offsets_keep_all_32_bits(void **state)
{
	static const uint32_t offsets[] = { 0, 1, 0x7fffffffu, 0x80000000u,
					    0xfffffffeu, UINT32_MAX };
	struct index *ix = *state;
	struct ix_loc loc, old;
	int had_old;
	uint8_t key[8];

	CHECK_OK(index_reserve(ix, 6));
	for (size_t i = 0; i < 6; i++) {
		put_u64(key, offsets[i]);
		CHECK_OK(index_put(ix, 1, record_key_hash(1, key, 8), 0, key, 8,
				   (struct ix_loc){ 9, offsets[i], 33 },
				   synthetic_key_eq, NULL, &old, &had_old));
	}
	for (size_t i = 0; i < 6; i++) {
		put_u64(key, offsets[i]);
		CHECK_OK(index_get(ix, 1, record_key_hash(1, key, 8), key, 8,
				   synthetic_key_eq, NULL, &loc, NULL));
		assert_int_equal(loc.offset, offsets[i]);
		assert_int_equal(loc.seg, 9);
		assert_int_equal(loc.size, 33);
	}
}

static void million_keys_cost_at_most_24_bytes_each(void **state)
{
	enum { N = 1000000 };
	struct index *ix = *state;
	struct ix_loc loc, old;
	int had_old;
	uint8_t key[8];

	for (uint32_t id = 0; id < N; id++) {
		struct ix_loc at = { 1 + id % (IX_SEG_SLOTS - 1), id, 40 };

		put_u64(key, id);
		CHECK_OK(index_reserve(ix, 1));
		CHECK_OK(index_put(ix, (uint8_t)(id % 4),
				   record_key_hash(id % 4, key, 8), 0, key, 8,
				   at, synthetic_key_eq, NULL, &old,
				   &had_old));
		assert_int_equal(had_old, 0);
		/* the bound holds at every size once the fixed part is
		 * amortised, not only at the end */
		if (id >= 100000 && id % 1000 == 0)
			assert_true(index_bytes(ix) <= 24 * (uint64_t)(id + 1));
	}
	assert_int_equal(index_keys(ix), N);
	print_message("      %llu keys, %llu slots, %.1f bytes per key\n",
		      (unsigned long long)index_keys(ix),
		      (unsigned long long)index_slots(ix),
		      (double)index_bytes(ix) / (double)index_keys(ix));
	assert_true(index_bytes(ix) <= 24 * index_keys(ix));
	assert_true(index_bytes(ix) >= IX_SLOT_BYTES * index_slots(ix));
	for (uint32_t id = 0; id < N; id += 7) {
		put_u64(key, id);
		CHECK_OK(index_get(ix, (uint8_t)(id % 4),
				   record_key_hash(id % 4, key, 8), key, 8,
				   synthetic_key_eq, NULL, &loc, NULL));
		assert_int_equal(loc.offset, id);
		assert_int_equal(loc.seg, 1 + id % (IX_SEG_SLOTS - 1));
	}
	for (unsigned ns = 0; ns < 4; ns++)
		assert_int_equal(index_count(ix, (uint8_t)ns), N / 4);
}

/* The table's allocation is rounded up to whole 2 MiB pages: a size
 * within a page of SIZE_MAX (on 32-bit, past 4 GiB - 2 MiB) is refused,
 * not wrapped to a block of 0 bytes that the caller would then fill.
 * The index asks for at most LK_INDEX_SLOTS_MAX slots (1.5 GiB), so no
 * caller reaches it today: this pins the helper's own bound. */
static void table_allocation_that_rounding_would_wrap_is_refused(void **state)
{
	const size_t huge = (size_t)2 << 20;
	void *p;

	(void)state;
	assert_null(mem_alloc_table(SIZE_MAX));
	assert_null(mem_alloc_table(SIZE_MAX - (huge - 1) + 1));
	assert_null(mem_alloc_table(SIZE_MAX - huge / 2));
	p = mem_alloc_table(2 * huge); /* the smallest rounded size */
	assert_non_null(p);
	memset(p, 0xa5, 2 * huge);
	mem_free(p);
}

static void free_of_null_is_a_no_op(void **state)
{
	(void)state;
	index_free(NULL);
}

/* ---------------------------------------------------------------------- */
/* Snapshots: export, and import in one part or two                       */
/* ---------------------------------------------------------------------- */

#define IMPORT_SEGS 4u
#define IMPORT_SEG_END (UINT64_C(1) << 32)

static const uint8_t import_ns[] = { 1, 2, 7 };

/* The location of key id in exported(): its offset is the id, as the
 * store wants, and the ids start past the segment header. */
static struct ix_loc import_loc(uint32_t id)
{
	struct ix_loc at = { 1 + id % IMPORT_SEGS, id,
			     id % 97 == 0 ? IX_SIZE_LARGE : 40 };

	return at;
}

static uint64_t import_hash(uint32_t id, int clump)
{
	return clump ? clumped_hash(id) : real_hash(id);
}

/* An index of n keys (ids SEG_HEADER_BYTES on) in three namespaces, with
 * the real or the clumped hashes, some expiring and some large, each in
 * one of IMPORT_SEGS segments; exported into *out (segment slot s
 * numbered s), its capacity in *cap. */
static struct index *exported(uint32_t n, int clump, uint8_t **out,
			      uint32_t *cap)
{
	uint16_t seg_map[IX_SEG_SLOTS] = { 0 };
	struct index *ix;
	size_t bytes;

	store_make(SEG_HEADER_BYTES + n, "imp", import_ns, sizeof import_ns);
	CHECK_OK(index_new(&ix));
	for (uint32_t id = SEG_HEADER_BYTES; id < SEG_HEADER_BYTES + n; id++)
		put_new(ix, id, import_hash(id, clump), import_loc(id),
			id % 5 == 0);
	for (uint32_t s = 1; s <= IMPORT_SEGS; s++)
		seg_map[s] = (uint16_t)s;
	*cap = index_export_slots(ix);
	assert_int_equal(*cap, index_slots(ix));
	bytes = (size_t)IX_EXPORT_BITMAP_BYTES(*cap) + (size_t)n * IX_SLOT_BYTES;
	*out = malloc(bytes);
	assert_non_null(*out);
	assert_int_equal(index_export(ix, seg_map, *out, NULL), 0);
	return ix;
}

struct import_sums {
	uint64_t seg[2][IMPORT_SEGS + 1];
	uint64_t ns_bytes[LK_NS_COUNT_MAX + 1];
};

/* Imports the export at `in` into ix: in one part when cut is 0, else
 * in two cut at `cut`, the second part placed first.  Returns the
 * status, *why, and the sums in *sums. */
static lk_status import(struct index *ix, const uint8_t *in, uint32_t cap,
			uint64_t keys, uint32_t cut, struct import_sums *sums,
			const char **why)
{
	static const uint32_t seg_map[IMPORT_SEGS + 1] = { 0, 1, 2, 3, 4 };
	uint64_t seg_end[IMPORT_SEGS + 1];
	uint64_t second_sums[2][IMPORT_SEGS + 1] = { { 0 } };
	const uint8_t *entries = in + IX_EXPORT_BITMAP_BYTES(cap);
	struct ix_import *im = calloc(2, sizeof *im);
	uint64_t first;
	lk_status st;

	assert_non_null(im);
	memset(sums, 0, sizeof *sums);
	for (uint32_t s = 0; s <= IMPORT_SEGS; s++)
		seg_end[s] = IMPORT_SEG_END;
	st = index_import_begin(ix, &im[0], cap, keys, in, seg_map,
				IMPORT_SEGS, seg_end, why);
	im[0].seg_bytes = sums->seg[0];
	im[0].seg_large = sums->seg[1];
	if (st == LK_OK && cut) {
		first = index_import_split(ix, &im[0], &im[1], cut);
		im[1].seg_bytes = second_sums[0];
		im[1].seg_large = second_sums[1];
		st = index_import_add(ix, &im[1],
				      entries + first * IX_SLOT_BYTES,
				      (size_t)(keys - first), why);
		if (st == LK_OK)
			st = index_import_add(ix, &im[0], entries,
					      (size_t)first, why);
		if (st == LK_OK)
			st = index_import_join(ix, &im[0], &im[1], why);
	} else {
		for (uint64_t done = 0; st == LK_OK && done < keys;) {
			size_t n = keys - done < 1000 ? (size_t)(keys - done)
						      : 1000;

			st = index_import_add(ix, &im[0],
					      entries + done * IX_SLOT_BYTES,
					      n, why);
			done += n;
		}
	}
	if (st == LK_OK)
		st = index_import_end(ix, &im[0], why);
	memcpy(sums->ns_bytes, im[0].ns_bytes, sizeof sums->ns_bytes);
	free(im);
	return st;
}

/* A load in two parts places what a load in one does, wherever the cut:
 * every key at its location, the counts, the sums the caller holds
 * against its live bytes, the digest. */
static void import_in_two_parts_equals_import_in_one(void **state)
{
	static const uint64_t seg_ids[IX_SEG_SLOTS] = { 0, 11, 12, 13, 14 };

	(void)state;
	for (int clump = 0; clump < 2; clump++) {
		uint32_t cap, n = 20000;
		uint8_t *in;
		struct index *orig = exported(n, clump, &in, &cap);
		const uint32_t cuts[] = { 64, cap / 5 * 2, cap / 2,
					  (cap - 1) / 64 * 64 };
		struct import_sums one, two;
		struct index *a, *b;
		const char *why = NULL;

		CHECK_OK(index_new(&a));
		CHECK_OK(import(a, in, cap, n, 0, &one, &why));
		assert_int_equal(index_digest(a, seg_ids),
				 index_digest(orig, seg_ids));
		for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
			CHECK_OK(index_new(&b));
			CHECK_OK(import(b, in, cap, n, cuts[c], &two, &why));
			assert_int_equal(index_digest(b, seg_ids),
					 index_digest(a, seg_ids));
			assert_memory_equal(&one, &two, sizeof one);
			assert_int_equal(index_keys(b), n);
			for (size_t i = 0; i < sizeof import_ns; i++) {
				assert_int_equal(index_count(b, import_ns[i]),
						 index_count(orig, import_ns[i]));
				assert_int_equal(
					index_expiring(b, import_ns[i]),
					index_expiring(orig, import_ns[i]));
			}
			for (uint32_t id = SEG_HEADER_BYTES;
			     id < SEG_HEADER_BYTES + n; id += 13)
				assert_found(b, id, import_hash(id, clump),
					     import_loc(id));
			index_free(b);
		}
		index_free(a);
		index_free(orig);
		free(in);
	}
}

/* An entry moved one slot on, into the first slot of a bitmap word,
 * leaves a hole before it that lookups would stop at: a load refuses it,
 * in one part, and in two cut at that slot, where each part alone sees
 * nothing wrong and only the check across the cut can tell. */
static void a_cut_checks_the_probe_order_across_it(void **state)
{
	uint32_t cap, n = 20000, cut = 0;
	uint8_t *in;
	struct index *orig = exported(n, 0, &in, &cap);
	struct import_sums sums;
	const char *why = NULL;
	struct index *ix;

	(void)state;
	for (uint32_t c = 64; c < cap && !cut; c += 64)
		if ((in[(c - 1) / 8] >> ((c - 1) % 8) & 1) &&
		    !(in[c / 8] >> (c % 8) & 1))
			cut = c;
	assert_true(cut > 0);
	in[(cut - 1) / 8] &= (uint8_t)~(1u << ((cut - 1) % 8));
	in[cut / 8] |= (uint8_t)(1u << (cut % 8));
	CHECK_OK(index_new(&ix));
	CHECK_ST(LK_CORRUPT, import(ix, in, cap, n, 0, &sums, &why));
	assert_string_equal(why, "entries out of probe order");
	index_free(ix);
	CHECK_OK(index_new(&ix));
	why = NULL;
	CHECK_ST(LK_CORRUPT, import(ix, in, cap, n, cut, &sums, &why));
	assert_string_equal(why, "entries out of probe order");
	index_free(ix);
	index_free(orig);
	free(in);
}

/* A cut past every entry leaves the second part nothing to place, and
 * the slot at the cut is not yet the table's: a table's memory is not
 * zeroed, and here it is most likely the block of a table imported
 * before, whose slot there held an entry away from its home (under ASan,
 * fill bytes).  The join must not judge that slot. */
static void a_cut_past_every_entry_judges_no_stale_slot(void **state)
{
	uint16_t seg_map[IX_SEG_SLOTS] = { 0 };
	uint32_t cap, cut = 0;
	uint8_t *full, *few;
	struct index *orig = exported(700, 0, &full, &cap), *small, *ix;
	const uint8_t *entries = full + IX_EXPORT_BITMAP_BYTES(cap);
	struct import_sums sums;
	const char *why = NULL;
	uint64_t before = 0;

	(void)state;
	assert_int_equal(cap, 1024);
	/* a cut whose slot holds an entry away from its home */
	for (uint32_t c = 0; c < 320 && !cut; c++) {
		if (full[c / 8] >> (c % 8) & 1) {
			uint32_t h31 = get_u32(entries + before * IX_SLOT_BYTES +
					       8) >> 1;
			uint32_t home = (uint32_t)(((uint64_t)h31 * cap) >> 31);

			if (c % 64 == 0 && c > 0 && home != c)
				cut = c;
			before++;
		}
	}
	assert_true(cut > 0);
	/* three keys at home 0: slots 0, 1 and 2 */
	CHECK_OK(index_new(&small));
	for (uint32_t id = SEG_HEADER_BYTES; id < SEG_HEADER_BYTES + 3; id++)
		put_new(small, id, 0, import_loc(id), 0);
	for (uint32_t s = 1; s <= IMPORT_SEGS; s++)
		seg_map[s] = (uint16_t)s;
	assert_int_equal(index_export_slots(small), cap);
	few = malloc((size_t)IX_EXPORT_BITMAP_BYTES(cap) + 3 * IX_SLOT_BYTES);
	assert_non_null(few);
	assert_int_equal(index_export(small, seg_map, few, NULL), 0);

	/* twice: the second import's table is a new block and the first's
	 * is freed, which the third's most likely is */
	CHECK_OK(index_new(&ix));
	CHECK_OK(import(ix, full, cap, 700, 0, &sums, &why));
	CHECK_OK(import(ix, full, cap, 700, 0, &sums, &why));
	CHECK_OK(import(ix, few, cap, 3, cut, &sums, &why));
	for (uint32_t id = SEG_HEADER_BYTES; id < SEG_HEADER_BYTES + 3; id++)
		assert_found(ix, id, 0, import_loc(id));
	assert_int_equal(index_keys(ix), 3);
	index_free(ix);
	index_free(small);
	index_free(orig);
	free(few);
	free(full);
}

/* ---------------------------------------------------------------------- */
/* The table                                                              */
/* ---------------------------------------------------------------------- */

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* basic operations */
		TEST(empty_index_finds_nothing),
		TEST(put_then_get_returns_the_location),
		TEST(replace_returns_the_old_location),
		TEST(delete_returns_the_old_location_and_forgets_the_key),
		TEST(delete_of_an_absent_key_is_ok_without_old),
		TEST(location_fields_keep_their_full_range),
		TEST(large_sizes_saturate_and_the_key_check_may_give_them),
		TEST(failed_key_check_fails_the_operation_and_changes_nothing),
		TEST(a_unique_hash_needs_one_key_check),
		/* namespaces and counters */
		TEST(same_key_and_hash_in_two_namespaces_are_two_entries),
		TEST(expiring_counts_follow_puts_replaces_and_deletes),
		TEST(foreach_visits_each_entry_of_a_namespace_once),
		/* hash collisions */
		TEST(keys_with_the_same_hash_stay_distinct),
		TEST(colliding_run_wraps_around_the_table_end),
		TEST(colliding_run_at_the_table_start),
		TEST(hashes_equal_in_their_top_31_bits_collide),
		/* the model */
		TEST(random_operations_match_a_reference_map),
		TEST(random_operations_with_clumped_hashes_match_the_map),
		/* snapshots */
		TEST(import_in_two_parts_equals_import_in_one),
		TEST(a_cut_checks_the_probe_order_across_it),
		TEST(a_cut_past_every_entry_judges_no_stale_slot),
		/* growth and memory */
		TEST(reserve_grows_and_keeps_every_entry),
		TEST(reserve_past_the_slot_limit_is_too_big),
		TEST(reserve_within_a_bound_uses_it_all_and_refuses_past_it),
		TEST(reserve_of_more_keys_than_can_exist_is_too_big),
		TEST(offsets_keep_all_32_bits),
		TEST(million_keys_cost_at_most_24_bytes_each),
		TEST(table_allocation_that_rounding_would_wrap_is_refused),
		TEST(free_of_null_is_a_no_op),
	};

	return cmocka_run_group_tests_name("index", tests, NULL, NULL);
}
