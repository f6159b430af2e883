/* SPDX-License-Identifier: MIT */
/*
 * test_budget.c - the memory budget (lk_options.memory_bytes_max; logkeep.h
 * "The memory budget"): the index and the mappings stay within it; past
 * it, a commit that would add keys is refused with LK_TOO_BIG and a
 * message naming the budget, nothing is lost, reads, overwrites and
 * deletes go on, and stats say how close the handle is.
 *
 * Method: the in-memory I/O layer, small segments, no automatic
 * compaction or snapshot (nothing changes the index behind the test).
 * Keys are put one at a time until the budget refuses one; the count
 * must be exactly the memory_keys_room that stats gave before, so the
 * room a daemon reads is the room it gets.  Every key written is then
 * read back, on the handle and after a reopen.  With the mapping cap at
 * 0 only the index is charged, which makes the figures exact; one test
 * leaves mappings on and checks what is charged at every step.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#define DIR "db"
#define BUDGET LK_MEMORY_MIN_BYTES

static lk_options options(const lk_io *io, uint64_t budget,
			  uint64_t map_bytes_max)
{
	lk_options o = LK_OPTIONS_INIT;

	o.io = io;
	o.segment_size_bytes = 8 * 1024;
	o.compact_dead_pct = 0;
	o.snapshot_every_bytes = 0;
	o.map_bytes_max = map_bytes_max;
	o.memory_bytes_max = budget;
	return o;
}

/* A new database in a new in-memory file system. */
static lk_db *open_new(lk_io **io, lk_options *o, uint64_t budget,
		       uint64_t map_bytes_max)
{
	lk_db *db;

	CHECK_OK(lk_io_memory_new(io));
	*o = options(*io, budget, map_bytes_max);
	CHECK_OK(lk_open(&db, DIR, o));
	return db;
}

static lk_stats stats(lk_db *db)
{
	lk_stats s = LK_STATS_INIT;

	CHECK_OK(lk_stats_get(&s, db));
	CHECK(s.memory_bytes == s.index_bytes + s.map_bytes);
	return s;
}

static void key_of(char *k, size_t cap, int i)
{
	snprintf(k, cap, "key%06d", i);
}

static size_t value_of(char *v, size_t cap, int i, int round)
{
	return (size_t)snprintf(v, cap, "value %d of key %d", round, i);
}

static lk_status put(lk_db *db, int i, int round)
{
	char k[16], v[48];
	size_t n = value_of(v, sizeof v, i, round);

	key_of(k, sizeof k, i);
	return lk_put(db, LK_NS_DEFAULT, k, strlen(k), v, n, 0);
}

/* Key i holds its value of `round`. */
static void check_key(lk_db *db, int i, int round)
{
	char k[16], want[48];
	size_t n = value_of(want, sizeof want, i, round), len;
	void *got;

	key_of(k, sizeof k, i);
	CHECK_OK(lk_get(&got, &len, db, LK_NS_DEFAULT, k, strlen(k)));
	CHECK(len == n && memcmp(got, want, n) == 0);
	lk_free(got);
}

static void check_absent(lk_db *db, int i)
{
	char k[16];
	void *got;
	size_t len;

	key_of(k, sizeof k, i);
	CHECK_ST(LK_NOT_FOUND, lk_get(&got, &len, db, LK_NS_DEFAULT, k,
				      strlen(k)));
}

/* Puts keys from..., one a commit, until the budget refuses one;
 * returns how many went in. */
static int fill_to_the_budget(lk_db *db, int from)
{
	lk_status st;
	int i = from;

	while ((st = put(db, i, 1)) == LK_OK)
		i++;
	CHECK_ST(LK_TOO_BIG, st);
	return i - from;
}

static void check_refusal_message(void)
{
	char want[64];

	snprintf(want, sizeof want, "memory budget of %u bytes", BUDGET);
	CHECK(strstr(lk_errmsg(), want));
	CHECK(strstr(lk_errmsg(), "memory_bytes_max"));
	CHECK(strstr(lk_errmsg(), "the index takes"));
	CHECK(strstr(lk_errmsg(), "need an index of"));
	CHECK(strstr(lk_errmsg(), "nothing written"));
}

/* ---------------------------------------------------------------------- */

/* The commit that would grow the index past the budget is refused, with
 * the room stats promised used to the last key; the refused key is not
 * there, every other one is; the index within the budget. */
static void a_write_past_the_budget_is_refused_and_nothing_is_lost(void **state)
{
	lk_options o;
	lk_stats s;
	lk_io *io;
	lk_db *db;
	int n;

	(void)state;
	db = open_new(&io, &o, BUDGET, 0);
	s = stats(db);
	CHECK(s.memory_bytes_max == BUDGET);
	CHECK(s.memory_keys_room > 3000 && s.memory_keys_room < 5000);
	n = fill_to_the_budget(db, 0);
	check_refusal_message();
	CHECK((uint64_t)n == s.memory_keys_room);
	s = stats(db);
	CHECK(s.live_keys == (uint64_t)n);
	CHECK(s.memory_keys_room == 0);
	CHECK(s.memory_bytes <= BUDGET && s.map_bytes == 0);
	CHECK(s.memory_bytes + 12 > BUDGET); /* its last growth used it all */
	check_absent(db, n);
	for (int i = 0; i < n; i++)
		check_key(db, i, 1);
	CHECK_ST(LK_TOO_BIG, put(db, n, 1)); /* and again */
	CHECK_OK(lk_close(db));

	/* a reopen holds them all, and the budget still holds */
	CHECK_OK(lk_open(&db, DIR, &o));
	for (int i = 0; i < n; i++)
		check_key(db, i, 1);
	check_absent(db, n);
	CHECK(stats(db).memory_keys_room == 0);
	CHECK_ST(LK_TOO_BIG, put(db, n, 1));
	check_refusal_message();
	CHECK_OK(lk_close(db));

	/* no budget (0, the default): the same directory takes more */
	o.memory_bytes_max = 0;
	CHECK_OK(lk_open(&db, DIR, &o));
	s = stats(db);
	CHECK(s.memory_bytes_max == 0);
	CHECK(s.memory_keys_room > (uint64_t)LK_INDEX_SLOTS_MAX / 2);
	for (int i = n; i < n + 1000; i++)
		CHECK_OK(put(db, i, 1));
	CHECK(stats(db).memory_bytes > BUDGET);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

/* At the budget, overwrites (of expired keys too) and deletes pass, a
 * batch that mixes an overwrite with a new key is refused whole, and a
 * delete makes room for exactly one new key. */
static void overwrites_and_deletes_pass_at_the_budget(void **state)
{
	const char *expired = "expired";
	lk_batch *b;
	lk_options o;
	lk_io *io;
	lk_db *db;
	char k[16];
	int n;

	(void)state;
	db = open_new(&io, &o, BUDGET, 0);
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, expired, strlen(expired), "x", 1,
			1)); /* expired since 1970 */
	n = fill_to_the_budget(db, 0);
	CHECK(stats(db).memory_keys_room == 0);

	/* single overwrites, and one of a key that has expired */
	for (int i = 0; i < n; i += 7)
		CHECK_OK(put(db, i, 2));
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, expired, strlen(expired), "y", 1,
			0));
	/* a batch of overwrites and deletes */
	CHECK_OK(lk_batch_new(&b));
	for (int i = 1; i < 40; i += 2) {
		char v[48];
		size_t len = value_of(v, sizeof v, i, 3);

		key_of(k, sizeof k, i);
		CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, k, strlen(k), v, len,
				      0));
	}
	key_of(k, sizeof k, 2);
	CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, k, strlen(k)));
	CHECK_OK(lk_commit(db, b));
	check_absent(db, 2);
	/* the delete made room for one key, and one only */
	CHECK(stats(db).memory_keys_room == 1);
	CHECK_OK(put(db, n, 1));
	CHECK_ST(LK_TOO_BIG, put(db, n + 1, 1));
	/* an overwrite and a new key: the batch is refused whole */
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "key000001", 9, "no", 2, 0));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "brand-new", 9, "no", 2, 0));
	CHECK_ST(LK_TOO_BIG, lk_commit(db, b));
	check_refusal_message();
	lk_batch_free(b);
	check_key(db, 1, 3);

	for (int round = 0; round < 2; round++) {
		for (int i = 0; i <= n; i++) {
			if (i == 2)
				check_absent(db, i);
			else if (i < 40 && i % 2 == 1)
				check_key(db, i, 3);
			else if (i % 7 == 0 && i < n)
				check_key(db, i, 2);
			else
				check_key(db, i, 1);
		}
		CHECK_OK(lk_close(db));
		CHECK_OK(lk_open(&db, DIR, &o));
		/* the overwrites replayed at the budget did not grow the
		 * index past it (regression: the replay once reserved a
		 * slot for every put) */
		CHECK(stats(db).memory_bytes <= BUDGET);
		CHECK(stats(db).memory_keys_room == 0);
	}
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

/* ---- batches that commit together ---- */

#define WRITERS 4
#define COMMITS 60

struct writer_arg {
	lk_db *db;
	int id, adds;    /* adds: puts new keys; else overwrites */
	int from;        /* the first key it writes */
	int ok, refused, other;
	int message_ok;  /* every refusal's lk_errmsg named the budget */
};

static void *writer_main(void *p)
{
	struct writer_arg *a = p;

	a->message_ok = 1;
	for (int c = 0; c < COMMITS; c++) {
		lk_status st = put(a->db, a->from + c, a->adds ? 1 : 2);

		if (st == LK_OK)
			a->ok++;
		else if (st == LK_TOO_BIG)
			a->refused++;
		else
			a->other++;
		if (st == LK_TOO_BIG &&
		    !strstr(lk_errmsg(), "memory budget of"))
			a->message_ok = 0;
	}
	return NULL;
}

/* Writers that add keys and writers that overwrite commit at once, so
 * that their batches share groups however the threads run: each batch
 * is admitted or refused on its own keys, never for another's. */
static void a_refused_batch_does_not_refuse_its_group(void **state)
{
	struct writer_arg args[WRITERS];
	pthread_t t[WRITERS];
	lk_options o;
	lk_io *io;
	lk_db *db;
	int n;

	(void)state;
	db = open_new(&io, &o, BUDGET, 0); /* syncs make followers queue */
	n = fill_to_the_budget(db, 0);
	CHECK(n > WRITERS * COMMITS);
	for (int w = 0; w < WRITERS; w++) {
		memset(&args[w], 0, sizeof args[w]);
		args[w].db = db;
		args[w].id = w;
		args[w].adds = w % 2;
		args[w].from = args[w].adds ? n + 1000 * (w + 1) : w * COMMITS;
		CHECK(pthread_create(&t[w], NULL, writer_main, &args[w]) == 0);
	}
	for (int w = 0; w < WRITERS; w++)
		CHECK(pthread_join(t[w], NULL) == 0);
	for (int w = 0; w < WRITERS; w++) {
		CHECK(args[w].other == 0);
		CHECK(args[w].message_ok);
		if (args[w].adds)
			CHECK(args[w].refused == COMMITS);
		else
			CHECK(args[w].ok == COMMITS);
	}
	CHECK(stats(db).live_keys == (uint64_t)n);
	for (int i = 0; i < n; i++)
		check_key(db, i, i < (WRITERS / 2) * 2 * COMMITS &&
					 (i / COMMITS) % 2 == 0
				 ? 2
				 : 1);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

/* ---- open ---- */

/* A directory whose index is larger than the budget still opens (a node
 * that cannot start is worse than one that cannot add keys): stats show
 * it past the budget, every key reads back, keys are added only while
 * the table has room without growing, overwrites and deletes pass. */
static void open_over_the_budget_succeeds_and_refuses_growth(void **state)
{
	enum { KEYS = 6000 };
	lk_options o;
	lk_stats s;
	lk_io *io;
	lk_db *db;
	uint64_t room;

	(void)state;
	db = open_new(&io, &o, 0, 0);
	for (int i = 0; i < KEYS; i++)
		CHECK_OK(put(db, i, 1));
	CHECK_OK(lk_close(db));

	o.memory_bytes_max = BUDGET;
	CHECK_OK(lk_open(&db, DIR, &o));
	s = stats(db);
	CHECK(s.memory_bytes > BUDGET);
	CHECK(s.live_keys == KEYS);
	room = s.memory_keys_room; /* what the table holds as it is */
	CHECK(room < KEYS);
	CHECK((uint64_t)fill_to_the_budget(db, KEYS) == room);
	check_refusal_message();
	CHECK(stats(db).index_bytes == s.index_bytes); /* it never grew */
	CHECK_OK(put(db, 0, 2));
	CHECK_OK(lk_del(db, LK_NS_DEFAULT, "key000001", 9));
	for (int i = 2; i < KEYS + (int)room; i++)
		check_key(db, i, 1);
	check_key(db, 0, 2);
	check_absent(db, 1);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

static void a_budget_under_the_minimum_is_invalid(void **state)
{
	lk_options o;
	lk_io *io;
	lk_db *db;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	o = options(io, LK_MEMORY_MIN_BYTES - 1, 0);
	CHECK_ST(LK_INVALID, lk_open(&db, DIR, &o));
	CHECK(strstr(lk_errmsg(), "memory budget"));
	o.memory_bytes_max = 1;
	CHECK_ST(LK_INVALID, lk_open(&db, DIR, &o));
	lk_io_memory_free(io);
}

/* ---- mappings ---- */

/* With mappings on, the index and the mappings together stay within the
 * budget at every step; mappings take at most half of it, so some
 * segments are read with pread; every key reads back, and the keys that
 * fit are fewer than without mappings but at least what half the budget
 * holds. */
static void the_budget_covers_the_mappings(void **state)
{
	const uint64_t budget = 256 * 1024;
	char v[200];
	lk_options o;
	lk_stats s;
	lk_io *io;
	lk_db *db;
	lk_status st = LK_OK;
	int n = 0, alone;

	(void)state;
	memset(v, 'v', sizeof v);
	CHECK_OK(lk_io_memory_new(&io));
	o = options(io, budget, LK_MAP_BYTES_DEFAULT);
	o.sync = LK_SYNC_NONE;
	CHECK_OK(lk_open(&db, DIR, &o));
	for (; st == LK_OK; n++) {
		char k[16];

		key_of(k, sizeof k, n);
		snprintf(v, sizeof v, "%d", n);
		st = lk_put(db, LK_NS_DEFAULT, k, strlen(k), v, sizeof v, 0);
		if (n % 256 == 0)
			CHECK(stats(db).memory_bytes <= budget);
	}
	n--;
	CHECK_ST(LK_TOO_BIG, st);
	CHECK(strstr(lk_errmsg(), "mappings"));
	s = stats(db);
	CHECK(s.memory_bytes <= budget);
	CHECK(s.map_bytes > 0 && s.map_segments > 0);
	CHECK(s.map_bytes <= budget / 2);
	/* half of 256 KiB: (131072 - 4112) / 12 slots, 4/5 of them full */
	CHECK(n >= (131072 - 4112) / 12 * 4 / 5);
	CHECK(s.pread_segments > 1);
	for (int i = 0; i < n; i++) {
		char k[16];
		void *got;
		size_t len;

		key_of(k, sizeof k, i);
		CHECK_OK(lk_get(&got, &len, db, LK_NS_DEFAULT, k, strlen(k)));
		CHECK(len == sizeof v && atoi(got) == i);
		lk_free(got);
	}
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);

	/* the index alone fits more */
	CHECK_OK(lk_io_memory_new(&io));
	o = options(io, budget, 0);
	CHECK_OK(lk_open(&db, DIR, &o));
	alone = (int)stats(db).memory_keys_room;
	CHECK(alone > n);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_write_past_the_budget_is_refused_and_nothing_is_lost),
		cmocka_unit_test(overwrites_and_deletes_pass_at_the_budget),
		cmocka_unit_test(a_refused_batch_does_not_refuse_its_group),
		cmocka_unit_test(open_over_the_budget_succeeds_and_refuses_growth),
		cmocka_unit_test(a_budget_under_the_minimum_is_invalid),
		cmocka_unit_test(the_budget_covers_the_mappings),
	};

	return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
