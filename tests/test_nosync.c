/* SPDX-License-Identifier: MIT */
/*
 * test_nosync.c - no-sync writes (LK_BATCH_NOSYNC, lk_ns_set_nosync) under
 * LK_SYNC_ALWAYS keep their promise (logkeep.h): they reach the operating
 * system before lk_commit returns, so a crash of the process keeps them;
 * they neither cause nor wait for an fdatasync; a power cut may take them
 * but nothing durable, and never leaves a log that fails to open; and the
 * next durable commit makes them durable too.
 *
 * Method: the fault-injecting layer.  A crash of the process is a reboot
 * that keeps every pending write (FAULT_KEEP_ALL: the kernel had them); a
 * power cut drops them all (FAULT_DROP_ALL) or decides each from a seed
 * (FAULT_RANDOM).  Its count of fdatasyncs (FK_SYNC) and the handle's
 * lk_stats tell who synced.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io_fault.h"
#include "testutil.h"

#define DIR "/db"

static struct fault_fs *fs;

static int setup(void **state)
{
	(void)state;
	CHECK_OK(fault_new(&fs, 11));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fault_free(fs);
	fs = NULL;
	return 0;
}

/* Opens DIR on io with namespace "cache" marked no-sync. */
static lk_db *open_on(const lk_io *io, uint32_t *cache)
{
	lk_options o = test_options(io);
	lk_db *db;

	o.flags = LK_OPEN_CREATE;
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_ns_open(cache, db, "cache"));
	CHECK_OK(lk_ns_set_nosync(db, *cache, 1));
	return db;
}

static lk_db *open_db(uint32_t *cache)
{
	return open_on(fault_io(fs), cache);
}

static void put_n(lk_db *db, uint32_t ns, char prefix, int from, int to)
{
	char k[16];

	for (int i = from; i < to; i++) {
		snprintf(k, sizeof k, "%c%05d", prefix, i);
		CHECK_OK(lk_put(db, ns, k, strlen(k), k, strlen(k), 0));
	}
}

static int count_n(lk_db *db, uint32_t ns, char prefix, int n)
{
	char k[16];
	int found = 0;

	for (int i = 0; i < n; i++) {
		lk_status st;

		snprintf(k, sizeof k, "%c%05d", prefix, i);
		st = lk_exists(db, ns, k, strlen(k));
		if (st == LK_OK)
			found++;
		else
			CHECK_ST(LK_NOT_FOUND, st);
	}
	return found;
}

/* The handle dies with the machine (or only the process, by mode). */
static void crash(lk_db *db, enum fault_mode mode, uint64_t seed)
{
	fault_cut_at(fs, 1);
	(void)lk_close(db);
	fault_reboot(fs, mode, seed, NULL);
}

static void nosync_writes_cause_no_fdatasync(void **state)
{
	lk_stats a = LK_STATS_INIT, b = LK_STATS_INIT;
	uint32_t cache;
	uint64_t syncs;
	lk_batch *batch;
	lk_db *db;

	(void)state;
	db = open_db(&cache);
	put_n(db, LK_NS_DEFAULT, 'd', 0, 1); /* the LOCK mark's sync */
	CHECK_OK(lk_stats_get(&a, db));
	syncs = fault_calls(fs, FK_SYNC);
	put_n(db, cache, 'c', 0, 1000);
	CHECK_OK(lk_stats_get(&b, db));
	assert_int_equal(fault_calls(fs, FK_SYNC), syncs);
	assert_int_equal(b.sync_calls, a.sync_calls);
	assert_int_equal(b.commits - a.commits, 1000);
	/* the same by the batch flag, on a durable namespace */
	CHECK_OK(lk_batch_new(&batch));
	for (int i = 0; i < 100; i++) {
		CHECK_OK(lk_batch_set_flags(batch, LK_BATCH_NOSYNC));
		CHECK_OK(lk_batch_put(batch, LK_NS_DEFAULT, "k", 1, "v", 1, 0));
		CHECK_OK(lk_commit(db, batch));
	}
	assert_int_equal(fault_calls(fs, FK_SYNC), syncs);
	/* the flag goes with the batch: the next commit is durable */
	CHECK_OK(lk_batch_put(batch, LK_NS_DEFAULT, "k", 1, "v", 1, 0));
	CHECK_OK(lk_commit(db, batch));
	assert_int_equal(fault_calls(fs, FK_SYNC), syncs + 1);
	/* a batch touching a durable namespace is durable */
	CHECK_OK(lk_batch_put(batch, cache, "c", 1, "v", 1, 0));
	CHECK_OK(lk_batch_put(batch, LK_NS_DEFAULT, "k", 1, "v", 1, 0));
	CHECK_OK(lk_commit(db, batch));
	assert_int_equal(fault_calls(fs, FK_SYNC), syncs + 2);
	/* and durable namespaces sync every commit */
	put_n(db, LK_NS_DEFAULT, 'd', 1, 101);
	assert_int_equal(fault_calls(fs, FK_SYNC), syncs + 102);
	CHECK_ST(LK_INVALID, lk_batch_set_flags(batch, 0x2));
	CHECK_ST(LK_INVALID, lk_ns_set_nosync(db, 0, 1));
	lk_batch_free(batch);
	CHECK_OK(lk_close(db));
}

static void process_crash_keeps_nosync_writes(void **state)
{
	uint32_t cache;
	lk_db *db;

	(void)state;
	db = open_db(&cache);
	put_n(db, cache, 'c', 0, 300);
	crash(db, FAULT_KEEP_ALL, 0);
	db = open_db(&cache);
	assert_int_equal(count_n(db, cache, 'c', 300), 300);
	CHECK_OK(lk_close(db));
}

static void power_cut_takes_nosync_writes_only(void **state)
{
	uint32_t cache;
	lk_db *db;

	(void)state;
	db = open_db(&cache);
	put_n(db, LK_NS_DEFAULT, 'd', 0, 50);
	put_n(db, cache, 'c', 0, 50);
	crash(db, FAULT_DROP_ALL, 0);
	db = open_db(&cache);
	assert_int_equal(count_n(db, LK_NS_DEFAULT, 'd', 50), 50);
	assert_int_equal(count_n(db, cache, 'c', 50), 0);
	CHECK_OK(lk_close(db));
}

static void durable_commit_makes_earlier_nosync_writes_durable(void **state)
{
	uint32_t cache;
	lk_db *db;

	(void)state;
	db = open_db(&cache);
	put_n(db, cache, 'c', 0, 50);
	put_n(db, LK_NS_DEFAULT, 'd', 0, 1);
	crash(db, FAULT_DROP_ALL, 0);
	db = open_db(&cache);
	assert_int_equal(count_n(db, cache, 'c', 50), 50);
	assert_int_equal(count_n(db, LK_NS_DEFAULT, 'd', 1), 1);
	/* so does lk_sync */
	put_n(db, cache, 'e', 0, 50);
	CHECK_OK(lk_sync(db));
	crash(db, FAULT_DROP_ALL, 0);
	db = open_db(&cache);
	assert_int_equal(count_n(db, cache, 'e', 50), 50);
	CHECK_OK(lk_close(db));
}

/* Random power cuts after interleaved durable and no-sync writes: the
 * open never fails, every durable write is there, and the no-sync writes
 * after the last durable one survive as a prefix (commit order). */
static void random_power_cuts_keep_durable_writes_and_a_prefix(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 200; seed++) {
		uint32_t cache;
		lk_db *db;
		int kept, prefix = 1;

		fault_free(fs);
		CHECK_OK(fault_new(&fs, seed));
		db = open_db(&cache);
		for (int round = 0; round < 4; round++) {
			put_n(db, cache, 'c', round * 10, round * 10 + 10);
			put_n(db, LK_NS_DEFAULT, 'd', round, round + 1);
		}
		put_n(db, cache, 'c', 40, 80);
		crash(db, FAULT_RANDOM, seed);
		db = open_db(&cache);
		assert_int_equal(count_n(db, LK_NS_DEFAULT, 'd', 4), 4);
		kept = count_n(db, cache, 'c', 80);
		CHECK(kept >= 40);
		for (int i = 0; i < 80; i++) {
			char k[16];
			int here;

			snprintf(k, sizeof k, "c%05d", i);
			here = lk_exists(db, cache, k, strlen(k)) == LK_OK;
			CHECK(here == (i < kept));
			prefix &= here == (i < kept);
		}
		CHECK(prefix);
		CHECK_OK(lk_close(db));
	}
}

/* No-sync and durable commits form groups of their own: a durable batch
 * that joined a group led by a no-sync one would be acknowledged without
 * its fdatasync.  Four threads of each kind on a layer whose syncs are
 * slow (so that groups form), then a power cut that drops every write not
 * synced: every durable commit is there. */
static lk_io slow;
static const lk_io *fast;

static long sync_ns = 200000;

static lk_status slow_sync(void *ctx, lk_io_file *f)
{
	struct timespec ts = { 0, sync_ns };

	nanosleep(&ts, NULL);
	return fast->sync(ctx, f);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000000 };

	nanosleep(&ts, NULL);
}

/* The fault layer with syncs made slow, so that commits form groups. */
static lk_db *open_slow(uint32_t *cache)
{
	fast = fault_io(fs);
	slow = *fast;
	slow.sync = slow_sync;
	return open_on(&slow, cache);
}

struct worker {
	lk_db *db;
	uint32_t ns;
	char prefix;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	put_n(w->db, w->ns, w->prefix, 0, 200);
	return NULL;
}

static void mixed_threads_keep_every_durable_commit(void **state)
{
	pthread_t t[8];
	struct worker w[8];
	uint32_t cache;
	uint64_t syncs;
	lk_db *db;

	(void)state;
	db = open_slow(&cache);
	put_n(db, LK_NS_DEFAULT, 'x', 0, 1);
	syncs = fault_calls(fs, FK_SYNC);
	for (int i = 0; i < 8; i++) {
		w[i].db = db;
		w[i].ns = i % 2 ? cache : LK_NS_DEFAULT;
		w[i].prefix = (char)('a' + i);
		CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0);
	}
	for (int i = 0; i < 8; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	print_message("800 durable and 800 no-sync commits: %llu fdatasyncs\n",
		      (unsigned long long)(fault_calls(fs, FK_SYNC) - syncs));
	for (int i = 0; i < 8; i++)
		assert_int_equal(count_n(db, w[i].ns, w[i].prefix, 200), 200);
	crash(db, FAULT_DROP_ALL, 0);
	db = open_slow(&cache);
	for (int i = 0; i < 8; i += 2)
		assert_int_equal(count_n(db, LK_NS_DEFAULT, w[i].prefix, 200),
				 200);
	CHECK_OK(lk_close(db));
}

/* The queue behind a durable commit's 100 ms fdatasync: a no-sync batch,
 * then a durable one.  The no-sync batch leads the next group and must
 * leave the durable one to a group of its own; the power goes as soon as
 * the durable one is acknowledged, and it is there.  (Were the queue
 * formed otherwise on a loaded machine, the test would still hold; it is
 * the order above that the bug needs.) */
static void *put_one(void *arg)
{
	struct worker *w = arg;

	put_n(w->db, w->ns, w->prefix, 0, 1);
	return NULL;
}

static void durable_commit_never_rides_in_a_nosync_group(void **state)
{
	pthread_t t[3];
	struct worker w[3];
	uint32_t cache;
	lk_db *db;

	(void)state;
	db = open_slow(&cache);
	put_n(db, LK_NS_DEFAULT, 'x', 0, 1);
	sync_ns = 100000000;
	for (int i = 0; i < 3; i++) {
		w[i].db = db;
		w[i].ns = i == 1 ? cache : LK_NS_DEFAULT;
		w[i].prefix = (char)('a' + i);
		CHECK(pthread_create(&t[i], NULL, put_one, &w[i]) == 0);
		sleep_ms(20);
	}
	for (int i = 0; i < 3; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	sync_ns = 200000;
	crash(db, FAULT_DROP_ALL, 0);
	db = open_slow(&cache);
	assert_int_equal(count_n(db, LK_NS_DEFAULT, 'a', 1), 1);
	assert_int_equal(count_n(db, LK_NS_DEFAULT, 'c', 1), 1);
	CHECK_OK(lk_close(db));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(nosync_writes_cause_no_fdatasync),
		T(process_crash_keeps_nosync_writes),
		T(power_cut_takes_nosync_writes_only),
		T(durable_commit_makes_earlier_nosync_writes_durable),
		T(random_power_cuts_keep_durable_writes_and_a_prefix),
		T(mixed_threads_keep_every_durable_commit),
		T(durable_commit_never_rides_in_a_nosync_group),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
