/* SPDX-License-Identifier: MIT */
/*
 * test_cond.c - conditional batches (lk_batch_require).
 *
 * Goal: a batch whose conditions hold is written whole; one whose
 * condition does not hold writes nothing, returns LK_CONFLICT and names
 * the condition; deleted and expired keys are absent; a batch of
 * conditions alone checks without writing; and the check and the writes
 * are one step however many threads commit at once, also when their
 * batches share one group commit (the leader checks each against the
 * ones before it in the group).
 *
 * Method: the memory I/O layer with syncs made slow (200 us), so that
 * concurrent commits share groups; 8 threads racing to create the same
 * 1,000 keys, each key counted, and the groups counted too.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "commit.h"
#include "testutil.h"

#define DIR "/db"
#define THREADS 8
#define IDS 1000

static lk_io *mem;
static lk_io slow; /* mem, whose syncs take 200 us: commits form groups */
static lk_db *db;

static lk_status slow_sync(void *ctx, lk_io_file *f)
{
	struct timespec ts = { 0, 200000 };

	nanosleep(&ts, NULL);
	return mem->sync(ctx, f);
}

static int setup(void **state)
{
	lk_options o;

	(void)state;
	CHECK_OK(lk_io_memory_new(&mem));
	slow = *mem;
	slow.sync = slow_sync;
	o = test_options(&slow);
	CHECK_OK(lk_open(&db, DIR, &o));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	CHECK_OK(lk_close(db));
	lk_io_memory_free(mem);
	return 0;
}

static lk_status put_if(const char *key, lk_cond cond, const char *want,
			const char *value)
{
	lk_batch *b;
	lk_status st;

	CHECK_OK(lk_batch_new(&b));
	CHECK_OK(lk_batch_require(b, LK_NS_DEFAULT, key, strlen(key), cond,
				  want, want ? strlen(want) : 0));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, key, strlen(key), value,
			      strlen(value), 0));
	st = lk_commit(db, b);
	lk_batch_free(b);
	return st;
}

/* The value of key, or NULL; caller frees. */
static char *value_of(const char *key)
{
	void *v = NULL;
	size_t n;
	lk_status st = lk_get(&v, &n, db, LK_NS_DEFAULT, key, strlen(key));

	if (st == LK_NOT_FOUND)
		return NULL;
	CHECK_OK(st);
	return v;
}

static void check_value(const char *key, const char *want)
{
	char *v = value_of(key);

	if (!want) {
		CHECK(v == NULL);
		return;
	}
	CHECK(v != NULL && strcmp(v, want) == 0);
	lk_free(v);
}

static void absent_present_and_value_conditions(void **state)
{
	(void)state;
	CHECK_OK(put_if("node-1", LK_IF_ABSENT, NULL, "v1"));
	check_value("node-1", "v1");
	CHECK_ST(LK_CONFLICT, put_if("node-1", LK_IF_ABSENT, NULL, "v2"));
	CHECK(strstr(lk_errmsg(), "condition 1") != NULL);
	CHECK(strstr(lk_errmsg(), "node-1") != NULL);
	check_value("node-1", "v1");

	CHECK_OK(put_if("node-1", LK_IF_PRESENT, NULL, "v2"));
	check_value("node-1", "v2");
	CHECK_ST(LK_CONFLICT, put_if("node-9", LK_IF_PRESENT, NULL, "x"));
	check_value("node-9", NULL);

	CHECK_OK(put_if("node-1", LK_IF_VALUE, "v2", "v3"));
	check_value("node-1", "v3");
	CHECK_ST(LK_CONFLICT, put_if("node-1", LK_IF_VALUE, "v2", "v4"));
	CHECK_ST(LK_CONFLICT, put_if("node-1", LK_IF_VALUE, "v", "v4"));
	CHECK_ST(LK_CONFLICT, put_if("node-9", LK_IF_VALUE, "", "v4"));
	check_value("node-1", "v3");
}

/* One failed condition among several: nothing of the batch is written,
 * the batch keeps its operations, and the status names the second. */
static void failed_batch_writes_nothing_and_names_its_condition(
	void **state)
{
	lk_batch *b;
	lk_stats st = LK_STATS_INIT;
	uint64_t commits;

	(void)state;
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "taken", 5, "x", 1, 0));
	CHECK_OK(lk_stats_get(&st, db));
	commits = st.commits;
	CHECK_OK(lk_batch_new(&b));
	CHECK_OK(lk_batch_require(b, LK_NS_DEFAULT, "free", 4, LK_IF_ABSENT,
				  NULL, 0));
	CHECK_OK(lk_batch_require(b, LK_NS_DEFAULT, "taken", 5, LK_IF_ABSENT,
				  NULL, 0));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "free", 4, "a", 1, 0));
	CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, "taken", 5));
	CHECK_ST(LK_CONFLICT, lk_commit(db, b));
	CHECK(strstr(lk_errmsg(), "condition 2") != NULL);
	CHECK(strstr(lk_errmsg(), "taken") != NULL);
	CHECK(lk_batch_failed_condition(b) == 2);
	CHECK(lk_batch_count(b) == 2 && lk_batch_conditions(b) == 2);
	check_value("free", NULL);
	check_value("taken", "x");
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(st.commits == commits);
	lk_batch_clear(b);
	CHECK(lk_batch_failed_condition(b) == 0);
	lk_batch_free(b);
}

/* Deleted and expired keys are absent; a batch of conditions alone
 * checks without writing anything. */
static void deleted_and_expired_keys_are_absent(void **state)
{
	lk_batch *b;
	lk_stats st = LK_STATS_INIT;
	uint64_t bytes;

	(void)state;
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "gone", 4, "x", 1, 0));
	CHECK_OK(lk_del(db, LK_NS_DEFAULT, "gone", 4));
	CHECK_OK(put_if("gone", LK_IF_ABSENT, NULL, "back"));
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "old", 3, "x", 1, 1)); /* 1970 */
	CHECK_OK(put_if("old", LK_IF_ABSENT, NULL, "new"));
	check_value("old", "new");

	CHECK_OK(lk_stats_get(&st, db));
	bytes = st.log_bytes_written;
	CHECK_OK(lk_batch_new(&b));
	CHECK_OK(lk_batch_require(b, LK_NS_DEFAULT, "gone", 4, LK_IF_VALUE,
				  "back", 4));
	CHECK_OK(lk_batch_require(b, LK_NS_DEFAULT, "never", 5, LK_IF_ABSENT,
				  NULL, 0));
	CHECK_OK(lk_commit(db, b));
	CHECK_OK(lk_batch_require(b, LK_NS_DEFAULT, "never", 5, LK_IF_PRESENT,
				  NULL, 0));
	CHECK_ST(LK_CONFLICT, lk_commit(db, b));
	lk_batch_free(b);
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(st.log_bytes_written == bytes);
}

/* Compressed values compare by their bytes as the caller gave them. */
static void value_condition_on_a_compressed_value(void **state)
{
	static char big[8192];

	(void)state;
	memset(big, 'z', sizeof big - 1);
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "big", 3, big, strlen(big), 0));
	CHECK_OK(put_if("big", LK_IF_VALUE, big, "small"));
	check_value("big", "small");
}

static void bad_conditions_are_refused(void **state)
{
	lk_batch *b;

	(void)state;
	CHECK_OK(lk_batch_new(&b));
	CHECK_ST(LK_INVALID, lk_batch_require(b, LK_NS_DEFAULT, "k", 1,
					      (lk_cond)9, NULL, 0));
	CHECK_ST(LK_INVALID, lk_batch_require(b, LK_NS_DEFAULT, "k", 1,
					      LK_IF_ABSENT, "v", 1));
	CHECK_ST(LK_INVALID, lk_batch_require(b, LK_NS_DEFAULT, NULL, 1,
					      LK_IF_ABSENT, NULL, 0));
	CHECK_ST(LK_INVALID, lk_batch_require(b, LK_NS_DEFAULT, "k", 1,
					      LK_IF_VALUE, NULL, 3));
	for (unsigned i = 0; i < LK_BATCH_CONDS_MAX; i++)
		CHECK_OK(lk_batch_require(b, LK_NS_DEFAULT, "k", 1,
					  LK_IF_ABSENT, NULL, 0));
	CHECK_ST(LK_TOO_BIG, lk_batch_require(b, LK_NS_DEFAULT, "k", 1,
					      LK_IF_ABSENT, NULL, 0));
	lk_batch_clear(b);
	CHECK(lk_batch_conditions(b) == 0);
	lk_batch_free(b);
}

/* lk_get_ex's sequence number is the token of an optimistic update. */
static lk_status put_if_seq(const char *key, uint64_t seq, const char *value)
{
	lk_batch *b;
	lk_status st;

	CHECK_OK(lk_batch_new(&b));
	CHECK_OK(lk_batch_require_seq(b, LK_NS_DEFAULT, key, strlen(key), seq));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, key, strlen(key), value,
			      strlen(value), 0));
	st = lk_commit(db, b);
	lk_batch_free(b);
	return st;
}

static uint64_t seq_of(const char *key)
{
	uint64_t seq, exp;

	CHECK_OK(lk_get_ex(NULL, NULL, &seq, &exp, db, LK_NS_DEFAULT, key,
			   strlen(key)));
	CHECK(seq > 0 && exp == 0);
	return seq;
}

static void sequence_number_condition(void **state)
{
	uint64_t s1, s2, seq = 7, exp = 7;
	void *v;
	size_t len;
	lk_batch *b;

	(void)state;
	CHECK_ST(LK_NOT_FOUND, lk_get_ex(&v, &len, &seq, &exp, db,
					 LK_NS_DEFAULT, "n", 1));
	CHECK(v == NULL && len == 0 && seq == 0 && exp == 0);
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "n", 1, "v1", 2, 0));
	CHECK_OK(lk_get_ex(&v, &len, &s1, NULL, db, LK_NS_DEFAULT, "n", 1));
	CHECK(len == 2 && memcmp(v, "v1", 2) == 0);
	lk_free(v);

	/* unchanged since the read: the update goes in */
	CHECK_OK(put_if_seq("n", s1, "v2"));
	s2 = seq_of("n");
	CHECK(s2 > s1);
	/* a stale token, even for the same value written again */
	CHECK_ST(LK_CONFLICT, put_if_seq("n", s1, "v3"));
	CHECK(strstr(lk_errmsg(), "sequence number") != NULL);
	check_value("n", "v2");
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "n", 1, "v2", 2, 0));
	CHECK_ST(LK_CONFLICT, put_if_seq("n", s2, "v3"));
	/* deleted, then recreated: a new record, a new number */
	s2 = seq_of("n");
	CHECK_OK(lk_del(db, LK_NS_DEFAULT, "n", 1));
	CHECK_ST(LK_CONFLICT, put_if_seq("n", s2, "v3"));
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "n", 1, "v2", 2, 0));
	CHECK_ST(LK_CONFLICT, put_if_seq("n", s2, "v3"));
	/* the number survives compaction and a reopen */
	s2 = seq_of("n");
	for (int i = 0; i < 50; i++)
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, "other", 5, "x", 1, 0));
	CHECK_OK(lk_compact(db));
	CHECK(seq_of("n") == s2);
	CHECK_OK(lk_close(db));
	{
		lk_options o = test_options(&slow);

		CHECK_OK(lk_open(&db, DIR, &o));
	}
	CHECK(seq_of("n") == s2);
	CHECK_OK(put_if_seq("n", s2, "v4"));
	check_value("n", "v4");

	/* a write earlier in the same batch has no number yet */
	CHECK_OK(lk_batch_new(&b));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "m", 1, "a", 1, 0));
	CHECK_OK(lk_commit(db, b));
	CHECK_OK(lk_batch_require_seq(b, LK_NS_DEFAULT, "m", 1, seq_of("m")));
	CHECK_OK(lk_commit(db, b));
	CHECK_ST(LK_INVALID, lk_batch_require_seq(b, LK_NS_DEFAULT, "m", 1, 0));
	CHECK_ST(LK_INVALID, lk_batch_require(b, LK_NS_DEFAULT, "m", 1,
					      LK_IF_SEQ, NULL, 0));
	lk_batch_free(b);
}

/* 8 threads each add 1 to one counter 200 times by read, condition on
 * the sequence number, write; a conflict retries.  No increment is lost
 * or doubled: the counter ends at 8 x 200. */
#define INCREMENTS 200

static void *increment(void *arg)
{
	int *conflicts = arg;

	for (int i = 0; i < INCREMENTS; i++) {
		for (;;) {
			char buf[24];
			void *v;
			size_t len;
			uint64_t seq;
			lk_status st;

			CHECK_OK(lk_get_ex(&v, &len, &seq, NULL, db,
					   LK_NS_DEFAULT, "ctr", 3));
			snprintf(buf, sizeof buf, "%ld",
				 strtol(v, NULL, 10) + 1);
			lk_free(v);
			st = put_if_seq("ctr", seq, buf);
			if (st == LK_OK)
				break;
			CHECK_ST(LK_CONFLICT, st);
			(*conflicts)++;
		}
	}
	return NULL;
}

static void optimistic_increments_lose_nothing(void **state)
{
	pthread_t t[THREADS];
	int conflicts[THREADS] = { 0 }, total = 0;
	char want[24];

	(void)state;
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "ctr", 3, "0", 1, 0));
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, increment, &conflicts[i]) ==
		      0);
	for (int i = 0; i < THREADS; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		total += conflicts[i];
	}
	snprintf(want, sizeof want, "%d", THREADS * INCREMENTS);
	check_value("ctr", want);
	print_message("%d increments by %d threads: %d conflicts retried\n",
		      THREADS * INCREMENTS, THREADS, total);
}

/* lk_purge_expired deletes what expired, now, and counts it. */
static void purge_deletes_expired_records_only(void **state)
{
	uint64_t keys, removed, past = lk_now_ms(db) - 1;
	char k[8];

	(void)state;
	CHECK(past > 0);
	for (int i = 0; i < 8; i++) {
		snprintf(k, sizeof k, "t%d", i);
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, k, 2, "v", 1,
				i < 5 ? past : 0));
	}
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "later", 5, "v", 1,
			past + 3600u * 1000u));
	CHECK_OK(lk_ns_keys(&keys, db, LK_NS_DEFAULT));
	assert_int_equal(keys, 9);
	CHECK_OK(lk_purge_expired(&removed, db, LK_NS_DEFAULT));
	assert_int_equal(removed, 5);
	CHECK_OK(lk_ns_keys(&keys, db, LK_NS_DEFAULT));
	assert_int_equal(keys, 4);
	CHECK_OK(lk_purge_expired(&removed, db, LK_NS_DEFAULT));
	assert_int_equal(removed, 0);
	check_value("t7", "v");
	check_value("later", "v");
	CHECK_ST(LK_INVALID, lk_purge_expired(&removed, db, 0));
	CHECK_ST(LK_INVALID, lk_purge_expired(NULL, db, LK_NS_DEFAULT));

	/* Its delete holds only while the key is that expired record: set
	 * again (with a new sequence number), it stays. */
	{
		lk_stats st = LK_STATS_INIT;
		lk_batch *b;
		uint64_t old;

		CHECK_OK(lk_put(db, LK_NS_DEFAULT, "x", 1, "v", 1, past));
		CHECK_OK(lk_stats_get(&st, db));
		old = st.seq_last;
		CHECK_OK(lk_batch_new(&b));
		CHECK_OK(commit_require_expired(b, LK_NS_DEFAULT, "x", 1, old));
		CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, "x", 1));
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, "x", 1, "new", 3, 0));
		CHECK_ST(LK_CONFLICT, lk_commit(db, b));
		check_value("x", "new");
		/* expired again under a newer number: the old one is stale */
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, "x", 1, "v", 1, past));
		CHECK_ST(LK_CONFLICT, lk_commit(db, b));
		CHECK_OK(lk_stats_get(&st, db));
		lk_batch_clear(b);
		CHECK_OK(commit_require_expired(b, LK_NS_DEFAULT, "x", 1,
						st.seq_last));
		CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, "x", 1));
		CHECK_OK(lk_commit(db, b));
		lk_batch_free(b);
	}
}

/* 8 threads create the same 1,000 ids at once: each id exactly once,
 * every other attempt LK_CONFLICT, and the value is its creator's. */
struct racer {
	int id;
	int created, conflicts;
	char mine[IDS];
};

static void *race(void *arg)
{
	struct racer *r = arg;
	char key[16], value[16];

	snprintf(value, sizeof value, "by-%d", r->id);
	/* half start at 0, half at IDS / 2: four threads want the same id
	 * at once (the same group, mostly), and groups hold two ids */
	for (int j = 0; j < IDS; j++) {
		int i = (j + (r->id % 2) * IDS / 2) % IDS;
		lk_status st;

		snprintf(key, sizeof key, "id-%04d", i);
		st = put_if(key, LK_IF_ABSENT, NULL, value);
		if (st == LK_OK) {
			r->created++;
			r->mine[i] = 1;
		} else {
			CHECK_ST(LK_CONFLICT, st);
			r->conflicts++;
		}
	}
	return NULL;
}

static void racing_creators_create_each_id_once(void **state)
{
	pthread_t t[THREADS];
	static struct racer r[THREADS];
	lk_stats st = LK_STATS_INIT;
	int created = 0;

	(void)state;
	for (int i = 0; i < THREADS; i++) {
		memset(&r[i], 0, sizeof r[i]);
		r[i].id = i;
		CHECK(pthread_create(&t[i], NULL, race, &r[i]) == 0);
	}
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	for (int i = 0; i < THREADS; i++) {
		created += r[i].created;
		CHECK(r[i].created + r[i].conflicts == IDS);
	}
	CHECK(created == IDS);
	for (int i = 0; i < IDS; i++) {
		char key[16], want[16];
		int owners = 0, owner = -1;

		for (int k = 0; k < THREADS; k++)
			if (r[k].mine[i]) {
				owners++;
				owner = k;
			}
		CHECK(owners == 1);
		snprintf(key, sizeof key, "id-%04d", i);
		snprintf(want, sizeof want, "by-%d", owner);
		check_value(key, want);
	}
	CHECK_OK(lk_stats_get(&st, db));
	print_message("%d creations of %d ids by %d threads: %" PRIu64
		      " write groups for %" PRIu64 " commits\n",
		      THREADS * IDS, IDS, THREADS, st.write_groups,
		      st.commits);
	/* the leader checked batches against others of its own group */
	CHECK(st.write_groups < st.commits);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(absent_present_and_value_conditions),
		T(failed_batch_writes_nothing_and_names_its_condition),
		T(deleted_and_expired_keys_are_absent),
		T(value_condition_on_a_compressed_value),
		T(bad_conditions_are_refused),
		T(racing_creators_create_each_id_once),
		T(sequence_number_condition),
		T(optimistic_increments_lose_nothing),
		T(purge_deletes_expired_records_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
