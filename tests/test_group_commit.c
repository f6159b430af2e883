/* SPDX-License-Identifier: MIT */
/*
 * test_group_commit.c - concurrent durable commits share fdatasyncs, and
 * none of them returns before the sync that covers its data (SPEC §5).
 *
 * Method: an I/O layer that wraps the in-memory one.  Each pwrite gets a
 * number, and the layer remembers, for every key it sees in the written
 * bytes, the number of the write that carried it.  An fdatasync takes a
 * millisecond, like a flash device, and on return records the last write
 * number it covered.  Eight threads commit durable puts at once; each
 * checks, the moment lk_put returns, that the write holding its key is
 * covered by a completed sync.  At the end the number of syncs must be
 * well below the number of commits.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "testutil.h"
#include "commit.h"

#define THREADS 8
#define PUTS_PER_THREAD 150
#define KEY_FMT "gc-key-%d-%04d"

static const lk_io *inner;
static lk_io wrap;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t writes;         /* pwrites so far */
static uint64_t synced_upto;    /* the last write a completed sync covered */
static uint64_t syncs;
static uint64_t key_write[THREADS][PUTS_PER_THREAD];

static void note_keys(const void *buf, size_t n, uint64_t write_no)
{
	const char *p = buf, *end = p + n;

	/* Keys are written raw into records; find each "gc-key-" in the
	 * bytes and parse the thread and index after it. */
	while (p < end) {
		const char *hit = memchr(p, 'g', (size_t)(end - p));
		int t, i;

		if (!hit)
			break;
		if (end - hit >= 16 && memcmp(hit, "gc-key-", 7) == 0 &&
		    sscanf(hit, "gc-key-%d-%4d", &t, &i) == 2 && t >= 0 &&
		    t < THREADS && i >= 0 && i < PUTS_PER_THREAD)
			key_write[t][i] = write_no;
		p = hit + 1;
	}
}

static lk_status w_pwrite(void *ctx, lk_io_file *f, const void *buf,
			  size_t n, uint64_t off)
{
	lk_status st;

	(void)ctx;
	pthread_mutex_lock(&mu);
	note_keys(buf, n, ++writes);
	st = inner->pwrite(inner->ctx, f, buf, n, off);
	pthread_mutex_unlock(&mu);
	return st;
}

static lk_status w_sync(void *ctx, lk_io_file *f)
{
	struct timespec ms = { 0, 1000 * 1000 };
	uint64_t covers;
	lk_status st;

	(void)ctx;
	pthread_mutex_lock(&mu);
	covers = writes; /* everything written before the sync started */
	pthread_mutex_unlock(&mu);
	nanosleep(&ms, NULL);
	st = inner->sync(inner->ctx, f);
	pthread_mutex_lock(&mu);
	if (covers > synced_upto)
		synced_upto = covers;
	syncs++;
	pthread_mutex_unlock(&mu);
	return st;
}

static lk_db *db;
static int violations;

/* A new memory file system, wrapped: `wrap` is its table with pwrite and,
 * if given, sync replaced. */
static lk_io *wrap_memory(lk_status (*pw)(void *, lk_io_file *, const void *,
					  size_t, uint64_t),
			  lk_status (*sy)(void *, lk_io_file *))
{
	lk_io *mem;

	CHECK_OK(lk_io_memory_new(&mem));
	inner = mem;
	wrap = *mem;
	wrap.pwrite = pw;
	if (sy)
		wrap.sync = sy;
	return mem;
}

static void *committer(void *arg)
{
	int t = (int)(intptr_t)arg;
	char key[32], value[64];

	for (int i = 0; i < PUTS_PER_THREAD; i++) {
		uint64_t w, s;

		snprintf(key, sizeof key, KEY_FMT, t, i);
		snprintf(value, sizeof value, "value of %s", key);
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, key, strlen(key), value,
				strlen(value), 0));
		pthread_mutex_lock(&mu);
		w = key_write[t][i];
		s = synced_upto;
		if (w == 0 || w > s)
			violations++;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static void concurrent_durable_puts_share_fdatasyncs(void **state)
{
	lk_options o;
	pthread_t th[THREADS];
	lk_stats stats = LK_STATS_INIT;
	lk_io *mem;
	uint64_t puts = THREADS * PUTS_PER_THREAD;

	(void)state;
	mem = wrap_memory(w_pwrite, w_sync);
	o = test_options(&wrap);
	CHECK_OK(lk_open(&db, "/gc", &o));
	syncs = 0;
	for (int t = 0; t < THREADS; t++)
		CHECK(pthread_create(&th[t], NULL, committer,
				     (void *)(intptr_t)t) == 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	CHECK_OK(lk_stats_get(&stats, db));
	printf("# %" PRIu64 " durable puts from %d threads: %" PRIu64
	       " fdatasyncs (%" PRIu64 " counted by the engine), %" PRIu64
	       " write groups, %.1f commits per sync\n",
	       puts, THREADS, syncs, stats.sync_calls, stats.write_groups,
	       (double)puts / (double)syncs);
	CHECK(violations == 0);
	CHECK(stats.commits == puts);
	/* Each group costs one sync (plus one per prefill extension and
	 * segment creation); sharing must cut them well below one per put. */
	CHECK(stats.write_groups < puts / 2);
	CHECK(syncs < puts / 2);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PUTS_PER_THREAD; i++) {
			char key[32];

			snprintf(key, sizeof key, KEY_FMT, t, i);
			CHECK_OK(lk_exists(db, LK_NS_DEFAULT, key, strlen(key)));
		}
	CHECK_OK(lk_close(db));
	lk_io_memory_free(mem);
}

static void single_committer_syncs_once_per_put(void **state)
{
	lk_options o;
	lk_stats stats = LK_STATS_INIT;
	lk_io *mem;
	char key[32];

	(void)state;
	mem = wrap_memory(w_pwrite, w_sync);
	o = test_options(&wrap);
	CHECK_OK(lk_open(&db, "/one", &o));
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof key, "one-%d", i);
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, key, strlen(key), "v", 1, 0));
	}
	CHECK_OK(lk_stats_get(&stats, db));
	CHECK(stats.write_groups == 50);
	CHECK(stats.sync_calls >= 50);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(mem);
}

static uint64_t growths;

static lk_status grow_pwrite(void *ctx, lk_io_file *f, const void *buf,
			     size_t n, uint64_t off)
{
	uint64_t size;

	(void)ctx;
	CHECK_OK(inner->size(inner->ctx, f, &size));
	if (off + n > size)
		growths++;
	return inner->pwrite(inner->ctx, f, buf, n, off);
}

/* A durable commit that grows the file makes fdatasync commit metadata
 * too; small commits must land in zero-prefilled space instead. */
static void small_durable_commits_overwrite_prefilled_space(void **state)
{
	lk_options o;
	lk_io *mem;
	char key[32];

	(void)state;
	mem = wrap_memory(grow_pwrite, NULL);
	o = test_options(&wrap);
	CHECK_OK(lk_open(&db, "/prefill", &o));
	growths = 0;
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof key, "prefill-%d", i);
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, key, strlen(key),
				"a value of some length", 22, 0));
	}
	printf("# 2000 durable puts grew the file %" PRIu64 " times\n",
	       growths);
	/* one growth per prefill chunk (16 KiB at first) plus the header */
	CHECK(growths < 2000 / 50);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(mem);
}

/* ---- a commit held in its sync while another thread closes ---- */

static pthread_cond_t held_cv = PTHREAD_COND_INITIALIZER;
static lk_io *gate_mem;
static int gate_closed, in_gate;

static lk_status held_pwrite(void *ctx, lk_io_file *f, const void *buf,
			     size_t n, uint64_t off)
{
	(void)ctx;
	return inner->pwrite(inner->ctx, f, buf, n, off);
}

/* While gate_closed, a sync says so and waits for the gate; that sync
 * takes 40 s by the simulated clock of gate_mem (the gathering tests: so
 * the next head waits as long as a head may, GATHER_WAIT_US_MAX, by that
 * clock: until the test moves it, or an arrival wakes the head). */
static lk_status gate_sync(void *ctx, lk_io_file *f)
{
	(void)ctx;
	pthread_mutex_lock(&mu);
	if (gate_closed) {
		in_gate = 1;
		pthread_cond_broadcast(&held_cv);
		while (gate_closed)
			pthread_cond_wait(&held_cv, &mu);
		in_gate = 0;
		lk_io_memory_advance_us(gate_mem, 40u * 1000 * 1000);
	}
	pthread_mutex_unlock(&mu);
	return inner->sync(inner->ctx, f);
}

static void open_gate(void)
{
	pthread_mutex_lock(&mu);
	gate_closed = 0;
	pthread_cond_broadcast(&held_cv);
	pthread_mutex_unlock(&mu);
}

static void *held_put(void *arg)
{
	lk_status *st = arg;

	*st = lk_put(db, LK_NS_DEFAULT, "held", 4, "value", 5, 0);
	return NULL;
}

/* lk_close() while lk_put is in its fdatasync in another thread: refused,
 * nothing freed; the put completes and the next close succeeds. */
static void close_during_a_commit_is_misuse_and_the_commit_completes(void **state)
{
	lk_status put_st = LK_IO;
	lk_options o;
	pthread_t th;
	lk_io *mem;

	(void)state;
	mem = wrap_memory(held_pwrite, gate_sync);
	gate_mem = mem;
	o = test_options(&wrap);
	CHECK_OK(lk_open(&db, "/held", &o));
	pthread_mutex_lock(&mu);
	gate_closed = 1;
	pthread_mutex_unlock(&mu);
	CHECK(pthread_create(&th, NULL, held_put, &put_st) == 0);
	pthread_mutex_lock(&mu);
	while (!in_gate)
		pthread_cond_wait(&held_cv, &mu);
	pthread_mutex_unlock(&mu);

	CHECK_ST(LK_MISUSE, lk_close(db));

	open_gate();
	CHECK(pthread_join(th, NULL) == 0);
	CHECK_OK(put_st);
	CHECK_OK(lk_exists(db, LK_NS_DEFAULT, "held", 4));
	CHECK_OK(lk_close(db));
	lk_io_memory_free(mem);
}

/* ---- gathering: the next head waits for the writers of the last group ---- */

/* A gathering head sleeps here, really, until an arrival stops its wait
 * or the test makes it run out (the memory table's own sleep would move
 * the simulated clock past the deadline at once). */
static lk_io_wait *stopped[8];
static lk_io_wait *sleeping; /* the wait a head sleeps in, or NULL */
static int expire_pending, stuck;
static uint64_t longest_wait_us;

static int was_stopped(lk_io_wait *w)
{
	for (int i = 0; i < 8; i++)
		if (stopped[i] == w)
			return 1;
	return 0;
}

static int gate_wait_until(void *ctx, lk_io_wait *w, uint64_t deadline_us)
{
	int st;

	uint64_t now = inner->mono_us(inner->ctx);
	struct timespec give_up;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &give_up);
	give_up.tv_sec += 30; /* a wait nothing ends fails, not hangs */
	pthread_mutex_lock(&mu);
	if (deadline_us - now > longest_wait_us)
		longest_wait_us = deadline_us - now;
	sleeping = w;
	pthread_cond_broadcast(&held_cv);
	while (!was_stopped(w) && !expire_pending)
		if (pthread_cond_timedwait(&held_cv, &mu, &give_up) != 0) {
			stuck++;
			break;
		}
	st = was_stopped(w);
	if (!st) {
		expire_pending = 0;
		if (deadline_us > now)
			lk_io_memory_advance_us(gate_mem, deadline_us - now);
	}
	sleeping = NULL;
	pthread_cond_broadcast(&held_cv);
	pthread_mutex_unlock(&mu);
	return st;
}

static void gate_wait_stop(void *ctx, lk_io_wait *w)
{
	pthread_mutex_lock(&mu);
	for (int i = 0; i < 8; i++)
		if (!stopped[i]) {
			stopped[i] = w;
			break;
		}
	pthread_cond_broadcast(&held_cv);
	pthread_mutex_unlock(&mu);
	inner->wait_stop(ctx, w);
}

static void gate_wait_free(void *ctx, lk_io_wait *w)
{
	pthread_mutex_lock(&mu);
	for (int i = 0; i < 8; i++)
		if (stopped[i] == w)
			stopped[i] = NULL;
	pthread_mutex_unlock(&mu);
	inner->wait_free(ctx, w);
}

static int again; /* the first writer commits again once a head gathers */
static _Atomic int finished; /* puts of one_put and lone_puts returned */

static int head_gathering(void)
{
	struct commit_gathering g;

	commit_gathering(db, &g);
	return g.head_gathering;
}

static void *first_writer(void *arg)
{
	(void)arg;
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "a-1", 3, "v", 1, 0));
	if (!again)
		return NULL;
	for (int ms = 0; ms < 10000 && !head_gathering(); ms++) {
		struct timespec one = { 0, 1000 * 1000 }; /* none: fails below */

		nanosleep(&one, NULL);
	}
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "a-2", 3, "v", 1, 0));
	return NULL;
}

static void *one_put(void *arg)
{
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, arg, strlen(arg), "v", 1, 0));
	finished++;
	return NULL;
}

static void *one_del(void *arg)
{
	CHECK_OK(lk_del(db, LK_NS_DEFAULT, arg, strlen(arg)));
	finished++;
	return NULL;
}

static void *lone_puts(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++) {
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, "lone", 4, "v", 1, 0));
		finished++;
	}
	return NULL;
}

/* Until `want` puts have returned: whenever a head sleeps in its wait,
 * the wait runs out.  Returns how many times. */
static int run_out_waits(int want)
{
	int moved = 0;

	for (int ms = 0; ms < 10000 && finished < want; ms++) {
		struct timespec one = { 0, 1000 * 1000 };

		pthread_mutex_lock(&mu);
		if (sleeping) {
			expire_pending = 1;
			pthread_cond_broadcast(&held_cv);
			while (sleeping)
				pthread_cond_wait(&held_cv, &mu);
			moved++;
		}
		pthread_mutex_unlock(&mu);
		nanosleep(&one, NULL);
	}
	CHECK(finished == want);
	return moved;
}

/* A memory file system whose syncs the gate can hold and whose sleeps
 * the test ends, and a handle on it in `dir`. */
static lk_io *open_gated(const char *dir)
{
	lk_io *mem = wrap_memory(held_pwrite, gate_sync);
	lk_options o;

	gate_mem = mem;
	longest_wait_us = 0;
	stuck = 0;
	wrap.wait_until = gate_wait_until;
	wrap.wait_stop = gate_wait_stop;
	wrap.wait_free = gate_wait_free;
	o = test_options(&wrap);
	CHECK_OK(lk_open(&db, dir, &o));
	return mem;
}

/* Starts the first writer with the gate closed, and returns once its
 * sync is held. */
static void hold_first_writer(pthread_t *a, int come_back)
{
	again = come_back;
	finished = 0;
	pthread_mutex_lock(&mu);
	gate_closed = 1;
	pthread_mutex_unlock(&mu);
	CHECK(pthread_create(a, NULL, first_writer, NULL) == 0);
	pthread_mutex_lock(&mu);
	while (!in_gate)
		pthread_cond_wait(&held_cv, &mu);
	pthread_mutex_unlock(&mu);
}

static void wait_queued(size_t n)
{
	struct commit_gathering g;

	do {
		struct timespec ms = { 0, 1000 * 1000 };

		nanosleep(&ms, NULL);
		commit_gathering(db, &g);
	} while (g.queued < n);
}

/* One writer's sync is held while three others queue; then the group of
 * one ends with three queued behind it, so the next head waits for four.
 * With come_back, the first writer commits again while it waits, and
 * leads all four in one group; without, the wait runs out and the head
 * leads the three.  Then a lone writer: after the four, its first commit
 * waits for them and that wait runs out; after the three, whose wait ran
 * out, it never waits.  A crowd that stops costs one wait, no more.
 * A wait ends only when an arrival or the test ends it (or, failing, after
 * 30 s): nothing here depends on timing. */
static void gather_case(int come_back)
{
	static char *names[] = { "b", "c", "d" };
	struct commit_gathering g;
	lk_stats before = LK_STATS_INIT, after = LK_STATS_INIT;
	pthread_t a, th[3];
	lk_io *mem = open_gated("/gather");

	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "warm", 4, "v", 1, 0));
	CHECK_OK(lk_stats_get(&before, db));
	hold_first_writer(&a, come_back);
	for (int i = 0; i < 3; i++)
		CHECK(pthread_create(&th[i], NULL, one_put, names[i]) == 0);
	wait_queued(4);
	open_gate();
	if (!come_back)
		CHECK(run_out_waits(3) == 1);
	CHECK(pthread_join(a, NULL) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(pthread_join(th[i], NULL) == 0);

	CHECK_OK(lk_stats_get(&after, db));
	commit_gathering(db, &g);
	printf("# %s: %" PRIu64 " groups for %" PRIu64 " commits, %" PRIu64
	       " led by the writer that completed the count, %" PRIu64
	       " waits ran out\n", come_back ? "the writer came back" :
	       "the writer did not come back",
	       after.write_groups - before.write_groups,
	       after.commits - before.commits, g.led_by_arrival, g.expired);
	/* the group of a-1, then one of the rest */
	CHECK(after.write_groups - before.write_groups == 2);
	CHECK(after.commits - before.commits == (come_back ? 5u : 4u));
	CHECK(g.led_by_arrival == (come_back ? 1u : 0u));
	CHECK(g.expired == (come_back ? 0u : 1u));
	/* the sync took 40 s: a quarter of it, bounded by 20 ms */
	CHECK(longest_wait_us == 20000);
	CHECK(stuck == 0);

	finished = 0;
	CHECK(pthread_create(&a, NULL, lone_puts, NULL) == 0);
	CHECK(run_out_waits(3) == (come_back ? 1 : 0));
	CHECK(pthread_join(a, NULL) == 0);
	commit_gathering(db, &g);
	CHECK(g.expired == 1);
	CHECK_OK(lk_stats_get(&before, db));
	CHECK(before.write_groups - after.write_groups == 3);

	for (int i = 0; i < 3; i++)
		CHECK_OK(lk_exists(db, LK_NS_DEFAULT, names[i], 1));
	CHECK_OK(lk_exists(db, LK_NS_DEFAULT, "a-1", 3));
	CHECK_ST(come_back ? LK_OK : LK_NOT_FOUND,
		 lk_exists(db, LK_NS_DEFAULT, "a-2", 3));
	CHECK(stuck == 0);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(mem);
}

/* Behind a held put, a delete-only batch and then a put: each group
 * takes one kind, so no head can gather more, and none waits. */
static void no_wait_for_a_group_that_cannot_grow(void)
{
	lk_stats before = LK_STATS_INIT, after = LK_STATS_INIT;
	struct commit_gathering g;
	pthread_t a, b, c;
	lk_io *mem = open_gated("/mixed");

	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "old", 3, "v", 1, 0));
	CHECK_OK(lk_stats_get(&before, db));
	hold_first_writer(&a, 0);
	CHECK(pthread_create(&b, NULL, one_del, "old") == 0);
	wait_queued(2);
	CHECK(pthread_create(&c, NULL, one_put, "m") == 0);
	wait_queued(3);
	open_gate();
	CHECK(run_out_waits(2) == 0); /* a wait would be ended here */
	CHECK(pthread_join(a, NULL) == 0);
	CHECK(pthread_join(b, NULL) == 0);
	CHECK(pthread_join(c, NULL) == 0);
	CHECK_OK(lk_stats_get(&after, db));
	commit_gathering(db, &g);
	CHECK(after.write_groups - before.write_groups == 3);
	CHECK(g.expired == 0 && longest_wait_us == 0);
	CHECK_ST(LK_NOT_FOUND, lk_exists(db, LK_NS_DEFAULT, "old", 3));
	CHECK_OK(lk_exists(db, LK_NS_DEFAULT, "m", 1));
	CHECK_OK(lk_close(db));
	lk_io_memory_free(mem);
}

static void a_gathering_head_waits_for_the_last_group(void **state)
{
	(void)state;
	gather_case(1);
	gather_case(0);
	no_wait_for_a_group_that_cannot_grow();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(concurrent_durable_puts_share_fdatasyncs),
		cmocka_unit_test(single_committer_syncs_once_per_put),
		cmocka_unit_test(small_durable_commits_overwrite_prefilled_space),
		cmocka_unit_test(close_during_a_commit_is_misuse_and_the_commit_completes),
		cmocka_unit_test(a_gathering_head_waits_for_the_last_group),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
