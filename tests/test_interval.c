/* SPDX-License-Identifier: MIT */
/*
 * test_interval.c - LK_SYNC_INTERVAL keeps its promise (logkeep.h): a
 * write older than the interval plus one sync survives a power cut, on the
 * monotonic clock whatever the wall clock does; a failed interval sync
 * is reported by lk_close() if nothing else reported it; and the sleeps and threads
 * of the I/O table (engine/io.h, simclock.h) that the syncer runs on
 * behave as the engine trusts them to.
 *
 * Method: the engine runs on the fault-injecting layer, whose monotonic
 * clock is simulated and moves only by fault_advance_us(), which returns
 * once the syncer has done what fell due (no sleeps, no timing).  A power
 * cut is fault_cut_at() followed by fault_reboot(FAULT_DROP_ALL): every
 * write not made durable by a sync is gone.  The sync count of the layer
 * (fault_calls(FK_SYNC)) tells whether the syncer ran.  The sleeps are
 * tested on the memory layer (simulated) and on the POSIX layer (a stop
 * that ends a sleep of an hour, no timing either).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "io_fault.h"
#include "testutil.h"

#define INTERVAL_MS 1000u
#define INTERVAL_US (INTERVAL_MS * UINT64_C(1000))
#define WALL_MS UINT64_C(1800000000000)
#define HOUR_MS (3600u * UINT64_C(1000))

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */
/* ---------------------------------------------------------------------- */

static lk_db *open_interval(struct fault_fs *fs)
{
	lk_options o = test_options(fault_io(fs));
	lk_db *db;

	o.sync = LK_SYNC_INTERVAL;
	o.sync_interval_ms = INTERVAL_MS;
	CHECK_OK(lk_open(&db, "/db", &o));
	return db;
}

static void put_n(lk_db *db, char prefix, int n)
{
	char k[16]; /* room for any int: -Wformat-truncation at -O0 */

	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof k, "%c%02d", prefix, i);
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, k, 3, k, 3, 0));
	}
}

/* How many of prefix's n keys the database holds. */
static int count_n(lk_db *db, char prefix, int n)
{
	int found = 0;
	char k[16]; /* room for any int: -Wformat-truncation at -O0 */

	for (int i = 0; i < n; i++) {
		void *v;
		size_t len;
		lk_status st;

		snprintf(k, sizeof k, "%c%02d", prefix, i);
		st = lk_get(&v, &len, db, LK_NS_DEFAULT, k, 3);
		if (st == LK_OK) {
			CHECK(len == 3 && memcmp(v, k, 3) == 0);
			lk_free(v);
			found++;
		} else {
			CHECK_ST(LK_NOT_FOUND, st);
		}
	}
	return found;
}

/* The power goes now: the handle dies, every unsynced write is lost. */
static void power_cut(struct fault_fs *fs, lk_db *db)
{
	fault_cut_at(fs, 1);
	(void)lk_close(db);
	fault_reboot(fs, FAULT_DROP_ALL, 0, NULL);
}

/* ---------------------------------------------------------------------- */
/* The syncer                                                             */
/* ---------------------------------------------------------------------- */

static void writes_older_than_the_interval_survive_a_power_cut(void **state)
{
	struct fault_fs *fs;
	uint64_t syncs;
	lk_db *db;

	(void)state;
	CHECK_OK(fault_new(&fs, 1));
	fault_set_time_ms(fs, WALL_MS);
	db = open_interval(fs);
	put_n(db, 'a', 20);
	syncs = fault_calls(fs, FK_SYNC);
	/* One interval after the open, the syncer syncs them. */
	fault_advance_us(fs, INTERVAL_US);
	CHECK(fault_calls(fs, FK_SYNC) > syncs);
	/* Newer writes wait for the next interval. */
	put_n(db, 'b', 20);
	fault_advance_us(fs, INTERVAL_US / 2);
	power_cut(fs, db);

	db = open_interval(fs);
	assert_int_equal(count_n(db, 'a', 20), 20);
	assert_int_equal(count_n(db, 'b', 20), 0);
	CHECK_OK(lk_close(db));
	fault_free(fs);
}

/* No-sync writes (lk_ns_set_nosync) give the syncer no work: intervals
 * pass without an fdatasync; the first durable write brings it back, and
 * its sync covers the no-sync writes before it. */
static void nosync_writes_are_not_synced_by_the_interval(void **state)
{
	struct fault_fs *fs;
	uint64_t syncs;
	lk_batch *b;
	lk_db *db;

	(void)state;
	CHECK_OK(fault_new(&fs, 3));
	fault_set_time_ms(fs, WALL_MS);
	db = open_interval(fs);
	CHECK_OK(lk_ns_set_nosync(db, LK_NS_DEFAULT, 1));
	put_n(db, 'a', 20); /* the first write syncs the LOCK file's mark */
	syncs = fault_calls(fs, FK_SYNC);
	for (int i = 0; i < 5; i++)
		fault_advance_us(fs, INTERVAL_US);
	assert_int_equal(fault_calls(fs, FK_SYNC), syncs);
	/* one durable write: the next interval syncs it and 'a' with it */
	CHECK_OK(lk_ns_set_nosync(db, LK_NS_DEFAULT, 0));
	CHECK_OK(lk_batch_new(&b));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "z00", 3, "z00", 3, 0));
	CHECK_OK(lk_commit(db, b));
	fault_advance_us(fs, INTERVAL_US);
	CHECK(fault_calls(fs, FK_SYNC) > syncs);
	/* and a no-sync batch by its flag, on a durable namespace */
	syncs = fault_calls(fs, FK_SYNC);
	CHECK_OK(lk_batch_set_flags(b, LK_BATCH_NOSYNC));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "b00", 3, "b00", 3, 0));
	CHECK_OK(lk_commit(db, b));
	fault_advance_us(fs, INTERVAL_US * 2);
	assert_int_equal(fault_calls(fs, FK_SYNC), syncs);
	lk_batch_free(b);
	power_cut(fs, db);

	db = open_interval(fs);
	assert_int_equal(count_n(db, 'a', 20), 20);
	assert_int_equal(count_n(db, 'z', 1), 1);
	assert_int_equal(count_n(db, 'b', 1), 0);
	CHECK_OK(lk_close(db));
	fault_free(fs);
}

static void every_write_is_synced_one_interval_after_the_last_sync(
	void **state)
{
	struct fault_fs *fs;
	lk_db *db;

	(void)state;
	CHECK_OK(fault_new(&fs, 2));
	fault_set_time_ms(fs, WALL_MS);
	db = open_interval(fs);
	/* Writes at 0, 0.3, 0.6 and 0.9 intervals after the open, and at
	 * 1.2 and 1.5: the sync at 1.0 covers the first four, the one at 2.0
	 * the next two, and the power goes at 2.1. */
	put_n(db, 'a', 5);
	fault_advance_us(fs, INTERVAL_US * 3 / 10);
	put_n(db, 'b', 5);
	fault_advance_us(fs, INTERVAL_US * 3 / 10);
	put_n(db, 'c', 5);
	fault_advance_us(fs, INTERVAL_US * 3 / 10);
	put_n(db, 'd', 5);
	fault_advance_us(fs, INTERVAL_US * 3 / 10); /* 1.2: synced at 1.0 */
	put_n(db, 'e', 5);
	fault_advance_us(fs, INTERVAL_US * 3 / 10);
	put_n(db, 'f', 5);
	fault_advance_us(fs, INTERVAL_US * 6 / 10); /* 2.1: synced at 2.0 */
	put_n(db, 'g', 5);
	power_cut(fs, db);

	db = open_interval(fs);
	assert_int_equal(count_n(db, 'a', 5) + count_n(db, 'b', 5) +
				 count_n(db, 'c', 5) + count_n(db, 'd', 5) +
				 count_n(db, 'e', 5) + count_n(db, 'f', 5),
			 30);
	assert_int_equal(count_n(db, 'g', 5), 0);
	CHECK_OK(lk_close(db));
	fault_free(fs);
}

static void interval_sync_follows_the_monotonic_clock_not_the_wall_clock(
	void **state)
{
	struct fault_fs *fs;
	uint64_t syncs;
	lk_db *db;

	(void)state;
	CHECK_OK(fault_new(&fs, 3));
	fault_set_time_ms(fs, WALL_MS);
	db = open_interval(fs);
	put_n(db, 'a', 5);
	syncs = fault_calls(fs, FK_SYNC);
	/* The first NTP sync of a router without a hardware clock: the
	 * wall clock jumps hours, forward then back.  Nothing is due. */
	fault_set_time_ms(fs, WALL_MS + 10 * HOUR_MS);
	fault_advance_us(fs, INTERVAL_US / 2);
	fault_set_time_ms(fs, WALL_MS - 10 * HOUR_MS);
	fault_advance_us(fs, INTERVAL_US / 2 - 1);
	assert_int_equal(fault_calls(fs, FK_SYNC), syncs);
	/* and the interval still ends on time */
	fault_advance_us(fs, 1);
	CHECK(fault_calls(fs, FK_SYNC) > syncs);
	CHECK_OK(lk_close(db));
	fault_free(fs);
}

static void close_after_a_failed_interval_sync_reports_the_loss(void **state)
{
	struct fault_fs *fs;
	lk_db *db;

	(void)state;
	CHECK_OK(fault_new(&fs, 4));
	fault_set_time_ms(fs, WALL_MS);
	db = open_interval(fs);
	put_n(db, 'a', 5);
	/* The syncer's fdatasync fails: the handle latches, and nobody
	 * writes again to hear LK_HALTED; close must tell. */
	fault_fail(fs, FK_SYNC, 1, LK_IO, 0);
	fault_advance_us(fs, INTERVAL_US);
	CHECK_ST(LK_HALTED, lk_close(db));
	CHECK(strstr(lk_errmsg(), "may be lost") != NULL);
	fault_free(fs);
}

/* ---------------------------------------------------------------------- */
/* The sleeps of the I/O table                                            */
/* ---------------------------------------------------------------------- */

struct sleeper {
	const lk_io *io;
	lk_io_wait *wait;
	uint64_t deadline_us;
	int wakes, stopped;
};

/* Sleeps to each deadline in turn, a millisecond apart, until stopped. */
static void sleeper_main(void *arg)
{
	struct sleeper *s = arg;

	for (;;) {
		if (s->io->wait_until(s->io->ctx, s->wait, s->deadline_us)) {
			s->stopped = 1;
			return;
		}
		if (s->io->mono_us(s->io->ctx) >= s->deadline_us) {
			s->wakes++;
			s->deadline_us += 1000;
		}
	}
}

static void simulated_sleeper_wakes_exactly_at_its_deadlines(void **state)
{
	struct sleeper s = { 0 };
	lk_io_thread *t;
	lk_io *io;
	uint64_t t0;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	s.io = io;
	t0 = io->mono_us(io->ctx);
	s.deadline_us = t0 + 1000;
	CHECK_OK(io->wait_new(io->ctx, &s.wait));
	CHECK_OK(io->thread_start(io->ctx, &t, sleeper_main, &s));
	/* advance returns once the sleeper has done what fell due */
	lk_io_memory_advance_us(io, 999);
	assert_int_equal(s.wakes, 0);
	lk_io_memory_advance_us(io, 1);
	assert_int_equal(s.wakes, 1);
	/* ten deadlines in one advance: each one met, in turn */
	lk_io_memory_advance_us(io, 10500);
	assert_int_equal(s.wakes, 11);
	assert_int_equal(io->mono_us(io->ctx), t0 + 11500);
	io->wait_stop(io->ctx, s.wait);
	io->thread_join(io->ctx, t);
	CHECK(s.stopped);
	io->wait_free(io->ctx, s.wait);
	lk_io_memory_free(io);
}

static void caller_sleeping_moves_simulated_time_to_its_deadline(
	void **state)
{
	lk_io_wait *w;
	lk_io *io;
	uint64_t t0;

	(void)state;
	CHECK_OK(lk_io_memory_new(&io));
	CHECK_OK(io->wait_new(io->ctx, &w));
	t0 = io->mono_us(io->ctx);
	assert_int_equal(io->wait_until(io->ctx, w, t0 + 5000), 0);
	assert_int_equal(io->mono_us(io->ctx), t0 + 5000);
	/* a deadline in the past returns at once, and time stays */
	assert_int_equal(io->wait_until(io->ctx, w, t0), 0);
	assert_int_equal(io->mono_us(io->ctx), t0 + 5000);
	io->wait_stop(io->ctx, w);
	assert_int_equal(io->wait_until(io->ctx, w, t0 + 9000), 1);
	io->wait_free(io->ctx, w);
	lk_io_memory_free(io);
}

static void posix_sleep_ends_at_its_stop(void **state)
{
	const lk_io *io = lk_io_posix();
	struct sleeper s = { 0 };
	lk_io_thread *t;

	(void)state;
	s.io = io;
	/* a deadline passed: returns 0 at once */
	CHECK_OK(io->wait_new(io->ctx, &s.wait));
	assert_int_equal(io->wait_until(io->ctx, s.wait,
					io->mono_us(io->ctx) - 1),
			 0);
	/* a sleep of an hour ends when stopped */
	s.deadline_us = io->mono_us(io->ctx) + HOUR_MS * 1000u;
	CHECK_OK(io->thread_start(io->ctx, &t, sleeper_main, &s));
	io->wait_stop(io->ctx, s.wait);
	io->thread_join(io->ctx, t);
	CHECK(s.stopped && s.wakes == 0);
	io->wait_free(io->ctx, s.wait);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			writes_older_than_the_interval_survive_a_power_cut),
		cmocka_unit_test(
			every_write_is_synced_one_interval_after_the_last_sync),
		cmocka_unit_test(nosync_writes_are_not_synced_by_the_interval),
		cmocka_unit_test(
			interval_sync_follows_the_monotonic_clock_not_the_wall_clock),
		cmocka_unit_test(
			close_after_a_failed_interval_sync_reports_the_loss),
		cmocka_unit_test(
			simulated_sleeper_wakes_exactly_at_its_deadlines),
		cmocka_unit_test(
			caller_sleeping_moves_simulated_time_to_its_deadline),
		cmocka_unit_test(posix_sleep_ends_at_its_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
