/* SPDX-License-Identifier: MIT */
/*
 * test_feed.c - the change feed (logkeep.h, "The change feed"): committed
 * records in sequence order from a cursor, across segments and
 * compactions, gaps where compaction dropped records and none where it
 * did not, a wait that a commit ends, bounded memory whatever the
 * backlog, and the handle's rules (lk_close refuses while a feed is
 * open; a read-only handle feeds what it opened).
 *
 * Method: a workload writes records through the public API while the
 * test keeps a model of them in order (namespace, key, value or delete);
 * the feed must give back exactly the model's records of the namespaces
 * it reads, in order, with increasing numbers.  Most cases run on the
 * in-memory I/O layer with small segments (many of them); the waiter runs
 * on the POSIX layer, with real threads, and under TSan in CI.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define DIR "db"
#define MODEL_MAX 40000

struct op {
	uint32_t ns;
	int del;
	char key[24];
	char value[64]; /* big values are made again from the key */
	uint64_t seq;   /* filled from the feed's first full read */
};

static struct op model[MODEL_MAX];
static size_t nmodel;

static lk_options options(const lk_io *io, uint64_t segment_bytes)
{
	lk_options o = LK_OPTIONS_INIT;

	o.io = io;
	o.segment_size_bytes = segment_bytes;
	o.compact_dead_pct = 0; /* compaction when the test says */
	o.snapshot_every_bytes = 0;
	o.scrub_rate_bytes = 0;
	return o;
}

/* A database on the memory layer (path NULL) or in a new temporary
 * directory of the POSIX layer, with the ledger and cache namespaces
 * registered (the catalog's two records, numbers 1 and 2) when names is
 * set. */
struct env {
	lk_io *io;
	lk_db *db;
	lk_options o;
	char path[256];
	uint32_t ledger, cache;
};

static void env_open(struct env *e, int posix, uint64_t segment_bytes,
		     int names)
{
	memset(e, 0, sizeof *e);
	nmodel = 0;
	if (posix)
		CHECK(make_temp_dir(e->path, sizeof e->path, "feed") == 0);
	else
		CHECK_OK(lk_io_memory_new(&e->io));
	e->o = options(e->io, segment_bytes);
	CHECK_OK(lk_open(&e->db, posix ? e->path : DIR, &e->o));
	if (names) {
		CHECK_OK(lk_ns_open(&e->ledger, e->db, "ledger"));
		CHECK_OK(lk_ns_open(&e->cache, e->db, "cache"));
	}
}

static void env_close(struct env *e)
{
	if (e->db)
		CHECK_OK(lk_close(e->db));
	if (e->io)
		lk_io_memory_free(e->io);
	else
		remove_tree(e->path);
}

#define BIG_BYTES 5000 /* compressible: stored as a zstd frame */

static size_t value_of(char *buf, const struct op *op, int big)
{
	if (!big)
		return strlen(op->value);
	for (size_t i = 0; i < BIG_BYTES; i++)
		buf[i] = "ledger"[i % 6] + (char)(i / 1000);
	return BIG_BYTES;
}

static void put(lk_db *db, uint32_t ns, const char *key, const char *value)
{
	struct op *op = &model[nmodel++];

	CHECK(nmodel <= MODEL_MAX);
	memset(op, 0, sizeof *op);
	op->ns = ns;
	snprintf(op->key, sizeof op->key, "%s", key);
	snprintf(op->value, sizeof op->value, "%s", value);
	CHECK_OK(lk_put(db, ns, key, strlen(key), value, strlen(value), 0));
}

static void del(lk_db *db, uint32_t ns, const char *key)
{
	struct op *op = &model[nmodel++];

	CHECK(nmodel <= MODEL_MAX);
	memset(op, 0, sizeof *op);
	op->ns = ns;
	op->del = 1;
	snprintf(op->key, sizeof op->key, "%s", key);
	CHECK_OK(lk_del(db, ns, key, strlen(key)));
}

/* A ledger namespace (keys written once) and a cache (the same few keys
 * overwritten and deleted): n rounds. */
static void workload(lk_db *db, uint32_t ledger, uint32_t cache, int n,
		     int from)
{
	char k[24], v[64];

	for (int i = from; i < from + n; i++) {
		snprintf(k, sizeof k, "entry%06d", i);
		snprintf(v, sizeof v, "entry %d of the ledger", i);
		put(db, ledger, k, v);
		snprintf(k, sizeof k, "path%02d", i % 16);
		snprintf(v, sizeof v, "route %d", i);
		if (i % 7 == 3)
			del(db, cache, k);
		else
			put(db, cache, k, v);
	}
}

static int op_matches(const struct op *op, const lk_feed_item *it)
{
	if (it->ns != op->ns || it->key_len != strlen(op->key) ||
	    memcmp(it->key, op->key, it->key_len) != 0)
		return 0;
	if (op->del)
		return it->kind == LK_FEED_DEL && it->value_len == 0;
	return it->kind == LK_FEED_PUT && it->value_len == strlen(op->value) &&
	       memcmp(it->value, op->value, it->value_len) == 0;
}

static int wanted(uint32_t ns, const uint32_t *set, size_t n)
{
	if (n == 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (set[i] == ns)
			return 1;
	return 0;
}

/* Reads the feed to its end and checks it against model[from..) of the
 * namespaces set: every record in order, numbers increasing, no gap.
 * Returns the number of records read. */
static size_t read_all_check(lk_feed *f, size_t from, const uint32_t *set,
			     size_t nset)
{
	lk_feed_item it = LK_FEED_ITEM_INIT;
	uint64_t last = lk_feed_cursor(f);
	size_t m = from, got = 0;
	lk_status st;

	while ((st = lk_feed_next(&it, f)) == LK_OK) {
		CHECK(it.kind != LK_FEED_GAP);
		CHECK(it.seq > last && it.seq_last == it.seq);
		last = it.seq;
		while (m < nmodel && !wanted(model[m].ns, set, nset))
			m++;
		CHECK(m < nmodel);
		CHECK(op_matches(&model[m], &it));
		model[m].seq = it.seq;
		CHECK(lk_feed_cursor(f) == it.seq);
		m++;
		got++;
	}
	CHECK_ST(LK_NOT_FOUND, st);
	while (m < nmodel && !wanted(model[m].ns, set, nset))
		m++;
	CHECK(m == nmodel);
	return got;
}

static uint32_t segments(lk_db *db)
{
	lk_stats s = LK_STATS_INIT;

	CHECK_OK(lk_stats_get(&s, db));
	return s.segment_count;
}

/* ---------------------------------------------------------------------- */

/* Every record, in order, across many segments: a feed of every
 * namespace, and one of a single namespace that passes over the other
 * and the catalog of names without calling it a gap. */
static void records_come_in_sequence_order_across_segments(void **state)
{
	struct env e;
	lk_feed *f;

	(void)state;
	env_open(&e, 0, 8 * 1024, 1);
	workload(e.db, e.ledger, e.cache, 1500, 0);
	CHECK(segments(e.db) > 10);

	CHECK_OK(lk_feed_open(&f, e.db, 0, NULL, 0));
	CHECK(read_all_check(f, 0, NULL, 0) == nmodel);
	lk_feed_close(f);

	CHECK_OK(lk_feed_open(&f, e.db, 0, &e.ledger, 1));
	CHECK(read_all_check(f, 0, &e.ledger, 1) == 1500);
	lk_feed_close(f);
	env_close(&e);
}

/* A value stored compressed comes out as it was put, and an expired
 * record is passed with its expiry: the feed is the history. */
static void compressed_values_come_out_whole(void **state)
{
	static char big[BIG_BYTES];
	lk_feed_item it = LK_FEED_ITEM_INIT;
	struct op op = { 0 };
	struct env e;
	lk_feed *f;

	(void)state;
	env_open(&e, 0, 64 * 1024, 0);
	value_of(big, &op, 1);
	CHECK_OK(lk_put(e.db, LK_NS_DEFAULT, "big", 3, big, BIG_BYTES, 77));
	CHECK_OK(lk_feed_open(&f, e.db, 0, NULL, 0));
	CHECK_OK(lk_feed_next(&it, f));
	CHECK(it.kind == LK_FEED_PUT && it.ns == LK_NS_DEFAULT);
	CHECK(it.value_len == BIG_BYTES && memcmp(it.value, big, BIG_BYTES) == 0);
	CHECK(it.expire_at_ms == 77);
	CHECK_ST(LK_NOT_FOUND, lk_feed_next(&it, f));
	lk_feed_close(f);
	env_close(&e);
}

/* Opened at any cursor, a feed gives exactly what follows it; and a
 * cursor kept from a feed read part way resumes where it stopped, also
 * after a reopen. */
static void a_feed_resumes_at_any_cursor(void **state)
{
	lk_feed_item it = LK_FEED_ITEM_INIT;
	struct env e;
	lk_feed *f;
	uint64_t cursor;

	(void)state;
	env_open(&e, 0, 8 * 1024, 1);
	workload(e.db, e.ledger, e.cache, 400, 0);
	CHECK_OK(lk_feed_open(&f, e.db, 0, NULL, 0));
	read_all_check(f, 0, NULL, 0); /* fills model[].seq */
	lk_feed_close(f);

	for (size_t i = 0; i < nmodel; i += 7) {
		CHECK_OK(lk_feed_open(&f, e.db, model[i].seq, NULL, 0));
		CHECK(read_all_check(f, i + 1, NULL, 0) == nmodel - i - 1);
		lk_feed_close(f);
	}
	CHECK_OK(lk_feed_open(&f, e.db, 0, &e.ledger, 1));
	for (int i = 0; i < 123; i++)
		CHECK_OK(lk_feed_next(&it, f));
	cursor = lk_feed_cursor(f);
	CHECK(cursor == it.seq);
	lk_feed_close(f);
	CHECK_OK(lk_close(e.db));
	CHECK_OK(lk_open(&e.db, DIR, &e.o));
	CHECK_OK(lk_feed_open(&f, e.db, cursor, &e.ledger, 1));
	CHECK_OK(lk_feed_next(&it, f));
	CHECK(it.key_len == 11 && memcmp(it.key, "entry000123", 11) == 0);
	lk_feed_close(f);
	env_close(&e);
}

/* Reads a feed of the ledger that has delivered entries up to number
 * `done` - 1 (the last at sequence number last) to its end: every entry
 * once, in order, gaps between them.  Returns the entries read. */
static size_t read_ledger(lk_feed *f, uint32_t ledger, size_t done,
			  uint64_t last)
{
	lk_feed_item it = LK_FEED_ITEM_INIT;
	lk_status st;

	while ((st = lk_feed_next(&it, f)) == LK_OK) {
		char k[24];

		CHECK(it.seq > last && it.seq_last >= it.seq);
		last = it.seq_last;
		if (it.kind == LK_FEED_GAP)
			continue;
		snprintf(k, sizeof k, "entry%06zu", done);
		CHECK(it.ns == ledger && it.key_len == strlen(k) &&
		      memcmp(it.key, k, it.key_len) == 0);
		done++;
	}
	CHECK_ST(LK_NOT_FOUND, st);
	return done;
}

/* After a compaction the ledger's records are all still delivered, in
 * order, while the numbers of the cache's dropped records come as gaps;
 * every number is delivered, in a gap, or a catalog entry; the cache's
 * live values are delivered.  A feed that was reading when the
 * compaction ran goes on without losing or repeating a record. */
static void compaction_makes_gaps_only_where_records_were_dropped(void **state)
{
	static uint8_t seen[MODEL_MAX * 2];
	lk_feed_item it = LK_FEED_ITEM_INIT;
	lk_stats s = LK_STATS_INIT;
	struct env e;
	lk_feed *f, *early;
	uint64_t last = 0, gaps = 0, gap_numbers = 0, records = 0;
	size_t ledger_n = 0;
	lk_status st;

	(void)state;
	env_open(&e, 0, 8 * 1024, 1);
	workload(e.db, e.ledger, e.cache, 1200, 0);
	/* a feed part way through the log before the compaction */
	CHECK_OK(lk_feed_open(&early, e.db, 0, &e.ledger, 1));
	for (int i = 0; i < 100; i++)
		CHECK_OK(lk_feed_next(&it, early));
	CHECK(it.kind == LK_FEED_PUT);
	CHECK_OK(lk_compact(e.db));
	CHECK_OK(lk_stats_get(&s, e.db));
	CHECK(s.compact_records_dropped > 1000);
	workload(e.db, e.ledger, e.cache, 100, 1200); /* and after it */
	CHECK_OK(lk_stats_get(&s, e.db));
	CHECK(read_ledger(early, e.ledger, 100, it.seq) == 1300);
	lk_feed_close(early);

	/* a feed of everything from the start, after the compaction */
	CHECK_OK(lk_feed_open(&f, e.db, 0, NULL, 0));
	while ((st = lk_feed_next(&it, f)) == LK_OK) {
		CHECK(it.seq > last && it.seq_last >= it.seq);
		CHECK(it.seq_last < sizeof seen);
		for (uint64_t n = it.seq; n <= it.seq_last; n++)
			seen[n] = 1;
		/* only the catalog's two names are passed over silently */
		CHECK(it.seq - last - 1 == 0 || it.seq <= 3);
		last = it.seq_last;
		CHECK(lk_feed_cursor(f) == last);
		if (it.kind == LK_FEED_GAP) {
			gaps++;
			gap_numbers += it.seq_last - it.seq + 1;
			continue;
		}
		records++;
		ledger_n += it.ns == e.ledger;
		CHECK(it.ns == e.ledger || it.ns == e.cache);
	}
	CHECK_ST(LK_NOT_FOUND, st);
	CHECK(last == s.seq_last && lk_feed_cursor(f) == s.seq_last);
	CHECK(ledger_n == 1300); /* the ledger lost nothing */
	CHECK(gaps > 0 && gap_numbers >= 1000);
	CHECK(records + gap_numbers + 2 == s.seq_last);
	lk_feed_close(f);
	CHECK_OK(lk_feed_open(&f, e.db, 0, &e.ledger, 1));
	CHECK(read_ledger(f, e.ledger, 0, 0) == 1300);
	lk_feed_close(f);

	/* the cache's live values are among what was delivered */
	for (int k = 0; k < 16; k++) {
		char key[24];
		uint64_t seq;

		snprintf(key, sizeof key, "path%02d", k);
		st = lk_get_ex(NULL, NULL, &seq, NULL, e.db, e.cache, key,
			       strlen(key));
		if (st == LK_NOT_FOUND)
			continue;
		CHECK_OK(st);
		CHECK(seq < sizeof seen && seen[seq]);
		CHECK_OK(lk_feed_open(&f, e.db, seq - 1, &e.cache, 1));
		CHECK_OK(lk_feed_next(&it, f));
		CHECK(it.kind == LK_FEED_PUT && it.seq == seq);
		lk_feed_close(f);
	}
	env_close(&e);
}

/* Reads a feed to its end; returns the records read. */
static size_t drain(lk_feed *f)
{
	lk_feed_item it = LK_FEED_ITEM_INIT;
	size_t n = 0;
	lk_status st;

	while ((st = lk_feed_next(&it, f)) == LK_OK)
		n++;
	CHECK_ST(LK_NOT_FOUND, st);
	return n;
}

/* The feed holds one record at a time, whatever the backlog: the largest
 * allocation while it reads 30,000 records (27 segments of 256 KiB) is
 * its read window, the size of a segment at most, as for 300 records in
 * one (a window is no larger than the bytes it may read). */
static void memory_is_bounded_whatever_the_backlog(void **state)
{
	const size_t counts[] = { 300, 30000 };
	size_t largest[2];

	(void)state;
	for (int c = 0; c < 2; c++) {
		char k[24], v[200];
		struct env e;
		lk_batch *b;
		lk_feed *f;

		env_open(&e, 0, 256 * 1024, 0);
		CHECK_OK(lk_batch_new(&b));
		memset(v, 'x', sizeof v);
		for (size_t i = 0; i < counts[c]; i++) {
			snprintf(k, sizeof k, "k%08zu", i);
			v[0] = (char)('a' + i % 26);
			CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, k, strlen(k), v,
					      sizeof v, 0));
			if (lk_batch_count(b) == 500)
				CHECK_OK(lk_commit(e.db, b));
		}
		CHECK_OK(lk_commit(e.db, b));
		lk_batch_free(b);
		(void)mem_largest();
		CHECK_OK(lk_feed_open(&f, e.db, 0, NULL, 0));
		CHECK(drain(f) == counts[c]);
		lk_feed_close(f);
		largest[c] = mem_largest();
		env_close(&e);
	}
	CHECK(largest[0] <= largest[1]);
	CHECK(largest[1] <= 256 * 1024 + 64 * 1024);
}

/* A record that fails its checksum stops the feed with LK_CORRUPT naming
 * the segment and the offset, the cursor before it, every time it is
 * asked; once the byte is back, the feed goes on from that record. */
static void a_damaged_record_is_named_and_the_cursor_stays(void **state)
{
	lk_feed_item it = LK_FEED_ITEM_INIT;
	struct rec_list recs;
	char name[SEG_NAME_BYTES], where[64];
	struct env e;
	lk_feed *f;
	uint64_t off = 0, seq = 0, cursor;
	lk_status st;

	(void)state;
	env_open(&e, 0, 8 * 1024, 1);
	workload(e.db, e.ledger, e.cache, 400, 0);
	seg_name(name, 2, 0);
	list_records(&recs, e.io, DIR, name);
	for (size_t i = 0; i < recs.n && !off; i++)
		if (recs.v[i].type == REC_PUT && i >= 5) {
			off = recs.v[i].offset;
			seq = recs.v[i].seq;
		}
	CHECK(off > 0);
	flip_bit(e.io, DIR, name, off + 6, 3);
	CHECK_OK(lk_feed_open(&f, e.db, 0, NULL, 0));
	while ((st = lk_feed_next(&it, f)) == LK_OK)
		;
	CHECK_ST(LK_CORRUPT, st);
	snprintf(where, sizeof where, "segment 2 (%s) offset %" PRIu64, name,
		 off);
	CHECK(strstr(lk_errmsg(), where) != NULL);
	cursor = lk_feed_cursor(f);
	CHECK(cursor == seq - 1);
	CHECK_ST(LK_CORRUPT, lk_feed_next(&it, f));
	CHECK(lk_feed_cursor(f) == cursor);
	flip_bit(e.io, DIR, name, off + 6, 3);
	CHECK_OK(lk_feed_next(&it, f));
	CHECK(it.seq == seq);
	lk_feed_close(f);
	env_close(&e);
}

/* Each allocation of a feed, failed in turn, returns LK_NOMEM with the
 * cursor where it was; the next call goes on, and the records delivered
 * are exactly those of a run without failures. */
static void failed_allocations_lose_and_repeat_nothing(void **state)
{
	static char big[BIG_BYTES];
	static uint64_t want[4096];
	lk_feed_item it = LK_FEED_ITEM_INIT;
	struct op op = { 0 };
	size_t nwant = 0;
	struct env e;
	lk_feed *f;
	int failed = 1;
	uint64_t n;

	(void)state;
	env_open(&e, 0, 8 * 1024, 1);
	workload(e.db, e.ledger, e.cache, 150, 0);
	value_of(big, &op, 1);
	for (int i = 0; i < 3; i++)
		CHECK_OK(lk_put(e.db, e.ledger, &"abc"[i], 1, big, BIG_BYTES, 0));
	CHECK_OK(lk_feed_open(&f, e.db, 0, &e.ledger, 1));
	while (lk_feed_next(&it, f) == LK_OK)
		want[nwant++] = it.seq;
	lk_feed_close(f);
	CHECK(nwant == 153);

	for (n = 1; failed; n++) {
		size_t got = 0;
		lk_status st;

		failed = 0;
		mem_fail_at(n, 0);
		st = lk_feed_open(&f, e.db, 0, &e.ledger, 1);
		if (st == LK_NOMEM) {
			failed = 1;
			CHECK_OK(lk_feed_open(&f, e.db, 0, &e.ledger, 1));
		}
		while ((st = lk_feed_next(&it, f)) != LK_NOT_FOUND) {
			uint64_t cursor = lk_feed_cursor(f);

			if (st == LK_NOMEM) {
				failed = 1;
				CHECK(lk_feed_cursor(f) == cursor);
				continue;
			}
			CHECK_OK(st);
			CHECK(got < nwant && it.seq == want[got]);
			got++;
		}
		CHECK(got == nwant);
		mem_fail_at(0, 0);
		lk_feed_close(f);
	}
	CHECK(n > 4); /* the feed, its window, a value, a window again */
	env_close(&e);
}

/* ---------------------------------------------------------------------- */
/* Waiting                                                                */
/* ---------------------------------------------------------------------- */

/* A wait that runs out takes this long; one a commit ends, a few ms. */
#define WAIT_MS 60000u

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void pause_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* The next item, waiting for it as long as it takes: each wait must be
 * ended by a commit, long before it would run out. */
static void next_waiting(lk_feed_item *it, lk_feed *f)
{
	lk_status st;

	while ((st = lk_feed_next(it, f)) == LK_NOT_FOUND) {
		uint64_t t0 = now_ms();

		CHECK_OK(lk_feed_wait(f, WAIT_MS));
		CHECK(now_ms() - t0 < WAIT_MS / 2);
	}
	CHECK_OK(st);
}

struct thread_arg {
	lk_db *db;
	lk_feed *f;
	int rounds;
	lk_status st;
};

static void *writer_main(void *p)
{
	struct thread_arg *a = p;

	for (int i = 0; i < a->rounds; i++) {
		char k[24];

		pause_ms(i % 3 == 0 ? 5 : 0); /* the waiter is asleep, or not */
		snprintf(k, sizeof k, "w%04d", i);
		CHECK_OK(lk_put(a->db, LK_NS_DEFAULT, k, strlen(k), "v", 1, 0));
	}
	return NULL;
}

/* A thread that waits on the feed is woken by each commit of another
 * thread: each wait returns LK_OK long before its timeout of a minute
 * (a wait that missed its commit would sleep it out), and the records
 * come in order. */
static void a_waiter_is_woken_by_a_commit_from_another_thread(void **state)
{
	lk_feed_item it = LK_FEED_ITEM_INIT;
	struct thread_arg a = { 0 };
	struct env e;
	pthread_t t;
	int got = 0;

	(void)state;
	env_open(&e, 1, 1024 * 1024, 0);
	CHECK_OK(lk_feed_open(&a.f, e.db, 0, NULL, 0));
	CHECK_ST(LK_NOT_FOUND, lk_feed_next(&it, a.f));
	a.db = e.db;
	a.rounds = 60;
	CHECK(pthread_create(&t, NULL, writer_main, &a) == 0);
	while (got < a.rounds) {
		char k[24];

		next_waiting(&it, a.f);
		snprintf(k, sizeof k, "w%04d", got++);
		CHECK(it.kind == LK_FEED_PUT && it.key_len == 5 &&
		      memcmp(it.key, k, 5) == 0);
	}
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_ST(LK_NOT_FOUND, lk_feed_next(&it, a.f));
	lk_feed_close(a.f);
	env_close(&e);
}

#define FOLLOW_ROUNDS 3000

static void *compacting_writer_main(void *p)
{
	struct thread_arg *a = p;
	uint32_t ledger, cache;

	CHECK_OK(lk_ns_find(&ledger, a->db, "ledger"));
	CHECK_OK(lk_ns_find(&cache, a->db, "cache"));
	for (int i = 0; i < FOLLOW_ROUNDS; i += 100) {
		workload(a->db, ledger, cache, 100, i);
		if (i % 500 == 0)
			CHECK_OK(lk_compact(a->db));
	}
	return NULL;
}

/* A feed follows a writer that compacts as it goes, waiting whenever it
 * has caught up: every ledger entry once and in order, numbers always
 * increasing, whatever the compactions took from under it. */
static void a_feed_follows_writes_and_compactions_as_they_happen(void **state)
{
	lk_feed_item it = LK_FEED_ITEM_INIT;
	struct thread_arg a = { 0 };
	struct env e;
	pthread_t t;
	uint64_t last = 0;
	int ledger_n = 0;

	(void)state;
	env_open(&e, 1, 16 * 1024, 1);
	/* 6,000 commits: not synced, which changes nothing for the feed */
	CHECK_OK(lk_close(e.db));
	e.o.sync = LK_SYNC_NONE;
	CHECK_OK(lk_open(&e.db, e.path, &e.o));
	CHECK_OK(lk_feed_open(&a.f, e.db, 0, NULL, 0));
	a.db = e.db;
	CHECK(pthread_create(&t, NULL, compacting_writer_main, &a) == 0);
	while (ledger_n < FOLLOW_ROUNDS) {
		char k[24];

		next_waiting(&it, a.f);
		CHECK(it.seq > last && it.seq_last >= it.seq);
		last = it.seq_last;
		if (it.kind == LK_FEED_GAP || it.ns != e.ledger)
			continue;
		snprintf(k, sizeof k, "entry%06d", ledger_n++);
		CHECK(it.key_len == strlen(k) && memcmp(it.key, k, it.key_len) == 0);
	}
	CHECK(pthread_join(t, NULL) == 0);
	(void)drain(a.f); /* the cache's last records, if any */
	{
		lk_stats s = LK_STATS_INIT;

		CHECK_OK(lk_stats_get(&s, e.db));
		CHECK(s.compactions > 0 && s.compact_segments_removed > 0);
		CHECK(lk_feed_cursor(a.f) == s.seq_last);
	}
	lk_feed_close(a.f);
	env_close(&e);
}

static void *waiter_main(void *p)
{
	struct thread_arg *a = p;

	a->st = lk_feed_wait(a->f, WAIT_MS);
	return NULL;
}

/* lk_feed_stop ends a wait in progress (a minute long) from another
 * thread, and every wait after it, with LK_MISUSE; reads go on. */
static void a_stop_ends_a_wait_from_another_thread(void **state)
{
	lk_feed_item it = LK_FEED_ITEM_INIT;
	struct thread_arg a = { 0 };
	struct env e;
	pthread_t t;

	(void)state;
	env_open(&e, 1, 1024 * 1024, 0);
	CHECK_OK(lk_feed_open(&a.f, e.db, 0, NULL, 0));
	CHECK(pthread_create(&t, NULL, waiter_main, &a) == 0);
	pause_ms(20);
	lk_feed_stop(a.f);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_ST(LK_MISUSE, a.st);
	CHECK_ST(LK_MISUSE, lk_feed_wait(a.f, WAIT_MS));
	CHECK_OK(lk_put(e.db, LK_NS_DEFAULT, "k", 1, "v", 1, 0));
	CHECK_OK(lk_feed_next(&it, a.f));
	lk_feed_close(a.f);
	env_close(&e);
}

/* A timed wait ends on the I/O layer's clock: on the memory layer,
 * whose clock is simulated, it returns LK_NOT_FOUND at once, time having
 * passed; with something committed past the cursor it returns LK_OK. */
static void a_wait_times_out_on_the_io_clock(void **state)
{
	lk_feed_item it = LK_FEED_ITEM_INIT;
	struct env e;
	lk_feed *f;

	(void)state;
	env_open(&e, 0, 64 * 1024, 0);
	CHECK_OK(lk_feed_open(&f, e.db, 0, NULL, 0));
	CHECK_ST(LK_NOT_FOUND, lk_feed_wait(f, 0));
	CHECK_ST(LK_NOT_FOUND, lk_feed_wait(f, 250));
	CHECK_OK(lk_put(e.db, LK_NS_DEFAULT, "k", 1, "v", 1, 0));
	CHECK_OK(lk_feed_wait(f, 0));
	CHECK_OK(lk_feed_wait(f, 250));
	CHECK_OK(lk_feed_next(&it, f));
	CHECK_ST(LK_NOT_FOUND, lk_feed_wait(f, 250));
	lk_feed_close(f);
	env_close(&e);
}

/* ---------------------------------------------------------------------- */
/* The handle's rules                                                     */
/* ---------------------------------------------------------------------- */

/* lk_close refuses while a feed is open and leaves the handle usable;
 * bad arguments are refused. */
static void close_refuses_while_a_feed_is_open(void **state)
{
	lk_feed_item it = LK_FEED_ITEM_INIT, old = { 0 };
	uint32_t bad = LK_NS_COUNT_MAX + 1, zero = 0;
	struct env e;
	lk_feed *f;

	(void)state;
	env_open(&e, 0, 64 * 1024, 0);
	CHECK_ST(LK_INVALID, lk_feed_open(NULL, e.db, 0, NULL, 0));
	CHECK_ST(LK_INVALID, lk_feed_open(&f, e.db, 0, &bad, 1));
	CHECK_ST(LK_INVALID, lk_feed_open(&f, e.db, 0, &zero, 1));
	CHECK_ST(LK_INVALID, lk_feed_open(&f, e.db, 0, NULL, 1));
	CHECK_ST(LK_INVALID, lk_feed_open(&f, NULL, 0, NULL, 0));
	CHECK_OK(lk_feed_open(&f, e.db, 0, NULL, 0));
	CHECK_ST(LK_INVALID, lk_feed_next(&old, f));
	CHECK_ST(LK_INVALID, lk_feed_next(NULL, f));
	CHECK_ST(LK_MISUSE, lk_close(e.db));
	CHECK_OK(lk_put(e.db, LK_NS_DEFAULT, "k", 1, "v", 1, 0));
	CHECK_OK(lk_feed_next(&it, f));
	CHECK(it.kind == LK_FEED_PUT);
	lk_feed_close(f);
	lk_feed_close(NULL);
	lk_feed_stop(NULL);
	CHECK(lk_feed_cursor(NULL) == 0);
	env_close(&e);
}

/* A read-only handle feeds the log as it was when it opened. */
static void a_read_only_handle_feeds_what_it_opened(void **state)
{
	struct env e;
	lk_feed *f;

	(void)state;
	env_open(&e, 0, 8 * 1024, 1);
	workload(e.db, e.ledger, e.cache, 300, 0);
	CHECK_OK(lk_close(e.db));
	e.o.flags = LK_OPEN_READONLY;
	CHECK_OK(lk_open(&e.db, DIR, &e.o));
	CHECK_OK(lk_feed_open(&f, e.db, 0, NULL, 0));
	CHECK(read_all_check(f, 0, NULL, 0) == nmodel);
	CHECK_ST(LK_NOT_FOUND, lk_feed_wait(f, 100));
	lk_feed_close(f);
	env_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(records_come_in_sequence_order_across_segments),
		cmocka_unit_test(compressed_values_come_out_whole),
		cmocka_unit_test(a_feed_resumes_at_any_cursor),
		cmocka_unit_test(compaction_makes_gaps_only_where_records_were_dropped),
		cmocka_unit_test(memory_is_bounded_whatever_the_backlog),
		cmocka_unit_test(a_damaged_record_is_named_and_the_cursor_stays),
		cmocka_unit_test(failed_allocations_lose_and_repeat_nothing),
		cmocka_unit_test(a_waiter_is_woken_by_a_commit_from_another_thread),
		cmocka_unit_test(a_feed_follows_writes_and_compactions_as_they_happen),
		cmocka_unit_test(a_stop_ends_a_wait_from_another_thread),
		cmocka_unit_test(a_wait_times_out_on_the_io_clock),
		cmocka_unit_test(close_refuses_while_a_feed_is_open),
		cmocka_unit_test(a_read_only_handle_feeds_what_it_opened),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
