/* SPDX-License-Identifier: MIT */
/*
 * test_threads.c - one handle shared by reader, iterator and writer threads
 * keeps every read consistent (logkeep.h "Threading", SPEC §7).
 *
 * Goal: reads run concurrently with each other and with writes, writes
 * from several threads are serialised and grouped, and none of it shows a
 * reader anything it should not see:
 *  - a key written before the threads started is always found;
 *  - a value is always one that was written for that key, whole (its
 *    payload is a function of key and version, so a torn or mixed-up value
 *    is caught), never a value a batch overwrote within itself;
 *  - a commit that returned before a read started is visible to it, and a
 *    reader never sees a key's version go backwards;
 *  - a batch is atomic: a value names the version its batch gave a partner
 *    key, and a later read of that partner sees at least that version;
 *  - an iterator returns every key once, each no older than the commits
 *    that returned before it was opened; lk_count() of a namespace whose
 *    keys are only overwritten never changes;
 *  - at the end every key holds its last committed value, and still does
 *    after close and reopen.
 *
 * Method: black box, logkeep.h and pthreads only, in a mkdtemp() directory
 * under /tmp removed at the end.  NKEYS keys are written at version 0.
 * Writer w owns the keys i with i % WRITERS == w, so each key's versions
 * rise in commit order; a writer publishes a key's version in attempted[]
 * before its commit and in committed[] after the commit returned.  A
 * reader loads committed[i], reads, then loads attempted[i]: the version
 * it got must lie between the two.  The writers also put and delete keys
 * of a "scratch" namespace, whose final state they record.  Each writer
 * does a fixed number of record writes (single puts, batches, deletes),
 * so the run's length does not depend on timing; readers (paced, see
 * READ_PAUSE_EVERY) and the iterator thread run until the writers are
 * done.  Segments are small so that they rotate under the readers.  The
 * run is deterministic in its writes (a fixed seed per thread), not in its
 * interleaving.  It is meant to run under ThreadSanitizer too.
 *
 * Usage: test_threads [OPS_PER_WRITER] (default 20000; 1000 is enough
 * under valgrind --tool=helgrind).  Statuses are checked with check.h's
 * CHECK_ST(want, expr) and CHECK_OK(expr), which on failure print the
 * file, line, expression, both statuses and lk_errmsg(), and abort
 * leaving the data directory; other facts with EXPECT(cond, fmt, ...).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logkeep.h"

/* A failed check ends the run through fail_now(), below, which keeps the
 * data directory. */
#define CHECK_FAIL() fail_now()
#include "check.h"

/* ---------------------------------------------------------------------- */
/* Checks                                                                 */
/* ---------------------------------------------------------------------- */

static char root[64], path[128];

/* Ends a failed run, leaving the data directory for a post-mortem. */
static _Noreturn void fail_now(void)
{
	fprintf(stderr, "  data directory kept: %s\n", path);
	abort();
}

#define EXPECT(cond, ...)                                                     \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: expected %s\n  ", __FILE__,   \
				__LINE__, #cond);                             \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
			fail_now();                                           \
		}                                                             \
	} while (0)

/* ---------------------------------------------------------------------- */
/* The workload                                                           */
/* ---------------------------------------------------------------------- */

#define NKEYS 2000
#define WRITERS 2
#define READERS 4
#define SCRATCH_KEYS 64       /* per writer */
#define PAYLOAD_BYTES_MAX 700 /* past 256, so some values are compressed */
#define VALUE_BYTES_MAX (64 + PAYLOAD_BYTES_MAX)
#define BATCH_KEYS_MAX 8
#define NO_PARTNER 99999u
/* Readers pause READ_PAUSE_NS after every READ_PAUSE_EVERY operations.
 * Unpaced, four readers and two writers oversubscribe two cores and the
 * run takes about 20 s instead of 5 (20k writes per writer, slowest
 * commit near 40 ms, measured).  The pause keeps the suite short; it is
 * not needed for correctness: readers confirm keys after releasing the
 * index lock, and writers take it first (see db.c). */
#define READ_PAUSE_EVERY 4
#define READ_PAUSE_NS 100000L
#define HEAD_BYTES 36 /* "KKKKK VVVVVVVVVV D PPPPP QQQQQQQQQQ|" */

static unsigned long ops_per_writer = 20000;

static lk_db *db;
static uint32_t scratch_ns;

/* Per key: the newest version a writer is committing, and the newest
 * whose commit has returned. */
static _Atomic uint32_t attempted[NKEYS];
static _Atomic uint32_t committed[NKEYS];
static atomic_int writers_running;
static atomic_ulong reads_done, iterations_done;

/* What the writers leave behind: each key's final version, and which of
 * their scratch keys exist. */
static uint32_t final_version[NKEYS];
static int scratch_present[WRITERS][SCRATCH_KEYS];

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdu;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53u;
	x ^= x >> 33;
	return x;
}

static void key_name(char *buf, size_t cap, uint32_t i)
{
	snprintf(buf, cap, "key-%05" PRIu32, i);
}

/* A value: "KEY VERSION DEAD PARTNER PARTNER_VERSION|" and a payload whose
 * length and bytes follow from key and version.  DEAD is 'd' for a value
 * that a later put of the same batch overwrites: nobody may ever see it. */
static size_t make_value(char *buf, uint32_t i, uint32_t version, int dead,
			 uint32_t partner, uint32_t partner_version)
{
	uint64_t h = mix(((uint64_t)i << 32) | version);
	size_t len = (size_t)(h % PAYLOAD_BYTES_MAX);
	int n = snprintf(buf, 64, "%05" PRIu32 " %010" PRIu32 " %c %05" PRIu32
				  " %010" PRIu32 "|",
			 i, version, dead ? 'd' : 'l', partner, partner_version);

	for (size_t k = 0; k < len; k++)
		buf[(size_t)n + k] = (char)('a' + mix(h + k) % 26);
	return (size_t)n + len;
}

struct parsed {
	uint32_t key, version, partner, partner_version;
	char dead;
};

/* Checks that value is whole and belongs to key i; fills *p. */
static void parse_value(struct parsed *p, const void *value, size_t len,
			uint32_t i)
{
	char want[VALUE_BYTES_MAX];
	char head[64];
	size_t want_len;

	EXPECT(len >= HEAD_BYTES && len <= VALUE_BYTES_MAX,
	       "key %u: a value of %zu bytes", i, len);
	memcpy(head, value, HEAD_BYTES);
	head[HEAD_BYTES] = '\0';
	EXPECT(sscanf(head, "%5" SCNu32 " %10" SCNu32 " %c %5" SCNu32
			    " %10" SCNu32 "|",
		      &p->key, &p->version, &p->dead, &p->partner,
		      &p->partner_version) == 5,
	       "key %u: unparsable value \"%s\"", i, head);
	EXPECT(p->key == i, "key %u holds the value of key %u", i, p->key);
	want_len = make_value(want, i, p->version, p->dead == 'd', p->partner,
			      p->partner_version);
	EXPECT(want_len == len && memcmp(want, value, len) == 0,
	       "key %u version %u: the value is torn or garbled (%zu bytes, "
	       "want %zu)", i, p->version, len, want_len);
	EXPECT(p->dead == 'l', "key %u: saw version %u, which its own batch "
			       "overwrote", i, p->version);
}

/* ---------------------------------------------------------------------- */
/* Writers                                                                */
/* ---------------------------------------------------------------------- */

struct writer {
	int id;
	pthread_t thread;
	uint64_t rng;
	double commit_s_max; /* the slowest lk_put, lk_del or lk_commit */
	uint32_t version[NKEYS]; /* of the keys this writer owns */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void note_latency(struct writer *w, double t0)
{
	double t = now_s() - t0;

	if (t > w->commit_s_max)
		w->commit_s_max = t;
}

static uint32_t owned_key(struct writer *w)
{
	uint32_t slot = (uint32_t)(rng_next(&w->rng) % (NKEYS / WRITERS));

	return slot * WRITERS + (uint32_t)w->id;
}

static void put_one(struct writer *w, char *value)
{
	uint32_t i = owned_key(w);
	uint32_t v = ++w->version[i];
	char key[16];
	size_t len = make_value(value, i, v, 0, NO_PARTNER, 0);

	key_name(key, sizeof key, i);
	double t0;

	atomic_store(&attempted[i], v);
	t0 = now_s();
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, key, strlen(key), value, len, 0));
	note_latency(w, t0);
	atomic_store(&committed[i], v);
}

/* A batch of n distinct keys, each value naming the next key of the batch
 * and the version it gets; sometimes a key is first put with a value the
 * batch then overwrites, and sometimes a scratch key rides along. */
static unsigned long put_batch(struct writer *w, lk_batch *b, char *value)
{
	uint32_t keys[BATCH_KEYS_MAX], versions[BATCH_KEYS_MAX];
	size_t n = 2 + (size_t)(rng_next(&w->rng) % (BATCH_KEYS_MAX - 1));
	unsigned long ops = 0;
	char key[16];
	double t0;

	for (size_t k = 0; k < n; k++) {
		int dup;

		do {
			keys[k] = owned_key(w);
			dup = 0;
			for (size_t j = 0; j < k; j++)
				dup |= keys[j] == keys[k];
		} while (dup);
	}
	for (size_t k = 0; k < n; k++) {
		uint32_t i = keys[k];

		if (rng_next(&w->rng) % 4 == 0) {
			/* A put its own batch overwrites. */
			size_t len = make_value(value, i, ++w->version[i], 1,
						NO_PARTNER, 0);

			key_name(key, sizeof key, i);
			CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, key,
					      strlen(key), value, len, 0));
			ops++;
		}
		versions[k] = ++w->version[i];
	}
	for (size_t k = 0; k < n; k++) {
		size_t next = (k + 1) % n;
		size_t len = make_value(value, keys[k], versions[k], 0,
					keys[next], versions[next]);

		key_name(key, sizeof key, keys[k]);
		CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, key, strlen(key), value,
				      len, 0));
		ops++;
		atomic_store(&attempted[keys[k]], versions[k]);
	}
	if (rng_next(&w->rng) % 2 == 0) {
		uint32_t s = (uint32_t)(rng_next(&w->rng) % SCRATCH_KEYS);

		snprintf(key, sizeof key, "w%d-%" PRIu32, w->id, s);
		CHECK_OK(lk_batch_del(b, scratch_ns, key, strlen(key)));
		scratch_present[w->id][s] = 0;
		ops++;
	}
	t0 = now_s();
	CHECK_OK(lk_commit(db, b));
	note_latency(w, t0);
	EXPECT(lk_batch_count(b) == 0, "a committed batch holds %zu ops",
	       lk_batch_count(b));
	for (size_t k = 0; k < n; k++)
		atomic_store(&committed[keys[k]], versions[k]);
	return ops;
}

static void scratch_op(struct writer *w)
{
	uint32_t s = (uint32_t)(rng_next(&w->rng) % SCRATCH_KEYS);
	char key[16];
	double t0 = now_s();

	snprintf(key, sizeof key, "w%d-%" PRIu32, w->id, s);
	if (rng_next(&w->rng) % 2 == 0) {
		CHECK_OK(lk_put(db, scratch_ns, key, strlen(key), "here", 4, 0));
		scratch_present[w->id][s] = 1;
	} else {
		CHECK_OK(lk_del(db, scratch_ns, key, strlen(key)));
		scratch_present[w->id][s] = 0;
	}
	note_latency(w, t0);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char value[VALUE_BYTES_MAX];
	unsigned long ops = 0;
	lk_batch *b = NULL;

	CHECK_OK(lk_batch_new(&b));
	while (ops < ops_per_writer) {
		unsigned roll = (unsigned)(rng_next(&w->rng) % 100);

		if (roll < 55) {
			put_one(w, value);
			ops++;
		} else if (roll < 85) {
			ops += put_batch(w, b, value);
		} else {
			scratch_op(w);
			ops++;
		}
	}
	lk_batch_free(b);
	for (uint32_t i = (uint32_t)w->id; i < NKEYS; i += WRITERS)
		final_version[i] = w->version[i];
	atomic_fetch_sub(&writers_running, 1);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Readers                                                                */
/* ---------------------------------------------------------------------- */

struct reader {
	pthread_t thread;
	uint64_t rng;
	uint32_t last_seen[NKEYS]; /* the newest version this reader saw */
};

/* Reads key i and checks the version against what was committed before
 * and attempted after; returns what it found. */
static struct parsed read_key(struct reader *r, uint32_t i)
{
	uint32_t floor = atomic_load(&committed[i]), ceiling;
	struct parsed p;
	void *value = NULL;
	size_t len = 0;
	char key[16];

	key_name(key, sizeof key, i);
	CHECK_OK(lk_get(&value, &len, db, LK_NS_DEFAULT, key, strlen(key)));
	ceiling = atomic_load(&attempted[i]);
	EXPECT(((const char *)value)[len] == '\0', "key %u: no NUL", i);
	parse_value(&p, value, len, i);
	lk_free(value);
	EXPECT(p.version >= floor, "key %u: read version %u after the commit "
				   "of version %u had returned",
	       i, p.version, floor);
	EXPECT(p.version <= ceiling, "key %u: read version %u, never written "
				     "(newest attempted %u)",
	       i, p.version, ceiling);
	EXPECT(p.version >= r->last_seen[i], "key %u: version went back from "
					     "%u to %u",
	       i, r->last_seen[i], p.version);
	r->last_seen[i] = p.version;
	return p;
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	unsigned long n = 0;
	char key[16];

	while (atomic_load(&writers_running) > 0 || n < 20000) {
		uint32_t i = (uint32_t)(rng_next(&r->rng) % NKEYS);
		unsigned roll = (unsigned)(rng_next(&r->rng) % 10);

		if (roll < 7) {
			struct parsed p = read_key(r, i);

			/* Batch atomicity: the partner is at least as new as
			 * the batch that wrote this value made it. */
			if (p.partner != NO_PARTNER) {
				struct parsed q;

				EXPECT(p.partner < NKEYS, "key %u: partner %u",
				       i, p.partner);
				q = read_key(r, p.partner);
				EXPECT(q.version >= p.partner_version,
				       "key %u version %u was committed with "
				       "key %u version %u, but that key reads "
				       "as version %u",
				       i, p.version, p.partner,
				       p.partner_version, q.version);
			}
		} else if (roll < 9) {
			key_name(key, sizeof key, i);
			CHECK_OK(lk_exists(db, LK_NS_DEFAULT, key, strlen(key)));
		} else {
			lk_status st;

			snprintf(key, sizeof key, "w%d-%d", (int)(i % WRITERS),
				 (int)(i % SCRATCH_KEYS));
			st = lk_exists(db, scratch_ns, key, strlen(key));
			EXPECT(st == LK_OK || st == LK_NOT_FOUND,
			       "scratch key %s: %s: %s", key, lk_strerror(st),
			       lk_errmsg());
		}
		n++;
		if (n % READ_PAUSE_EVERY == 0) {
			struct timespec pause = { 0, READ_PAUSE_NS };

			nanosleep(&pause, NULL);
		}
	}
	atomic_fetch_add(&reads_done, n);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Iterators, counts and stats                                            */
/* ---------------------------------------------------------------------- */

static uint32_t floors[NKEYS];
static unsigned char seen[NKEYS];

/* Iterates the default namespace (with an optional "key-0NN" prefix) and
 * checks each key once, no older than floors[]. */
static void iterate_once(uint64_t *rng)
{
	char prefix[16] = "";
	uint32_t lo = 0, hi = NKEYS;
	const void *key, *value;
	size_t key_len, value_len;
	uint64_t expire;
	lk_iter *it = NULL;
	lk_status st;
	uint32_t n = 0;

	if (rng_next(rng) % 2) {
		uint32_t hundred = (uint32_t)(rng_next(rng) % (NKEYS / 100));

		snprintf(prefix, sizeof prefix, "key-%03" PRIu32, hundred);
		lo = hundred * 100;
		hi = lo + 100;
	}
	for (uint32_t i = 0; i < NKEYS; i++)
		floors[i] = atomic_load(&committed[i]);
	memset(seen, 0, sizeof seen);
	CHECK_OK(lk_iter_open(&it, db, LK_NS_DEFAULT, prefix, strlen(prefix)));
	while ((st = lk_iter_next(it, &key, &key_len, &value, &value_len,
				  &expire)) == LK_OK) {
		char name[16];
		unsigned i;
		struct parsed p;

		EXPECT(key_len == 9, "iterated a key of %zu bytes", key_len);
		memcpy(name, key, 9);
		name[9] = '\0';
		EXPECT(sscanf(name, "key-%5u", &i) == 1 && i < NKEYS,
		       "iterated key \"%s\"", name);
		EXPECT(i >= lo && i < hi, "prefix \"%s\" gave key %s", prefix,
		       name);
		EXPECT(!seen[i], "iteration returned %s twice", name);
		seen[i] = 1;
		EXPECT(expire == 0, "%s: expiry %" PRIu64, name, expire);
		parse_value(&p, value, value_len, i);
		EXPECT(p.version >= floors[i], "%s: iterated version %u, older "
					       "than version %u committed "
					       "before lk_iter_open",
		       name, p.version, floors[i]);
		EXPECT(p.version <= atomic_load(&attempted[i]),
		       "%s: iterated version %u was never written", name,
		       p.version);
		n++;
	}
	CHECK_ST(LK_NOT_FOUND, st);
	lk_iter_close(it);
	EXPECT(n == hi - lo, "iteration with prefix \"%s\" returned %u keys, "
			     "want %u", prefix, n, hi - lo);
}

static void *iterator_main(void *arg)
{
	uint64_t rng = (uint64_t)(uintptr_t)arg;
	unsigned long n = 0;

	while (atomic_load(&writers_running) > 0 || n < 5) {
		uint64_t count = 0;
		lk_stats stats = LK_STATS_INIT;

		iterate_once(&rng);
		CHECK_OK(lk_count(&count, db, LK_NS_DEFAULT));
		EXPECT(count == NKEYS, "lk_count of the default namespace is "
				       "%" PRIu64 ", want %d", count, NKEYS);
		CHECK_OK(lk_count(&count, db, scratch_ns));
		EXPECT(count <= WRITERS * SCRATCH_KEYS, "lk_count of scratch "
			"is %" PRIu64, count);
		CHECK_OK(lk_stats_get(&stats, db));
		EXPECT(stats.live_keys >= NKEYS, "stats: %" PRIu64 " live keys",
		       stats.live_keys);
		EXPECT(stats.segment_count >= 1, "stats: no segment");
		n++;
	}
	atomic_fetch_add(&iterations_done, n);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* The final state                                                        */
/* ---------------------------------------------------------------------- */

static void check_final_state(const char *when)
{
	static struct reader fresh;
	uint64_t count = 0;
	char key[16];
	uint32_t present = 0;

	memset(&fresh, 0, sizeof fresh);
	for (uint32_t i = 0; i < NKEYS; i++) {
		struct parsed p = read_key(&fresh, i);

		EXPECT(p.version == final_version[i], "%s: key %u holds version "
			"%u, but its last commit was version %u",
		       when, i, p.version, final_version[i]);
	}
	CHECK_OK(lk_count(&count, db, LK_NS_DEFAULT));
	EXPECT(count == NKEYS, "%s: lk_count %" PRIu64, when, count);
	for (int w = 0; w < WRITERS; w++) {
		for (int s = 0; s < SCRATCH_KEYS; s++) {
			snprintf(key, sizeof key, "w%d-%d", w, s);
			CHECK_ST(scratch_present[w][s] ? LK_OK : LK_NOT_FOUND,
				 lk_exists(db, scratch_ns, key, strlen(key)));
			present += (uint32_t)scratch_present[w][s];
		}
	}
	CHECK_OK(lk_count(&count, db, scratch_ns));
	EXPECT(count == present, "%s: %" PRIu64 " scratch keys, want %u", when,
	       count, present);
}

/* ---------------------------------------------------------------------- */
/* Setup and the run                                                      */
/* ---------------------------------------------------------------------- */

static lk_options options(void)
{
	lk_options opts = LK_OPTIONS_INIT;

	/* Rotate every few hundred commits, under the readers. */
	opts.segment_size_bytes = 256 * 1024;
	return opts;
}

static void write_initial_keys(void)
{
	char key[16], value[VALUE_BYTES_MAX];
	lk_batch *b = NULL;

	CHECK_OK(lk_batch_new(&b));
	for (uint32_t i = 0; i < NKEYS; i++) {
		size_t len = make_value(value, i, 0, 0, NO_PARTNER, 0);

		key_name(key, sizeof key, i);
		CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, key, strlen(key), value,
				      len, 0));
		if (lk_batch_count(b) == 500)
			CHECK_OK(lk_commit(db, b));
	}
	CHECK_OK(lk_commit(db, b));
	lk_batch_free(b);
}

int main(int argc, char **argv)
{
	static struct writer writers[WRITERS];
	static struct reader readers[READERS];
	lk_options opts = options();
	pthread_t iterator;
	double t0 = now_s(), slowest = 0;
	lk_stats stats = LK_STATS_INIT;

	if (argc > 1)
		ops_per_writer = strtoul(argv[1], NULL, 10);
	if (make_temp_dir(root, sizeof root, "threads") != 0)
		return 1;
	snprintf(path, sizeof path, "%s/db", root);

	CHECK_OK(lk_open(&db, path, &opts));
	CHECK_OK(lk_ns_open(&scratch_ns, db, "scratch"));
	write_initial_keys();

	atomic_store(&writers_running, WRITERS);
	for (int w = 0; w < WRITERS; w++) {
		writers[w].id = w;
		writers[w].rng = 0x1234567u + (uint64_t)w * 0x9e3779b9u;
		EXPECT(pthread_create(&writers[w].thread, NULL, writer_main,
				      &writers[w]) == 0, "pthread_create");
	}
	for (int r = 0; r < READERS; r++) {
		readers[r].rng = 0xabcdefu + (uint64_t)r * 0x85ebca6bu;
		EXPECT(pthread_create(&readers[r].thread, NULL, reader_main,
				      &readers[r]) == 0, "pthread_create");
	}
	EXPECT(pthread_create(&iterator, NULL, iterator_main,
			      (void *)(uintptr_t)0x5151u) == 0,
	       "pthread_create");
	for (int w = 0; w < WRITERS; w++)
		pthread_join(writers[w].thread, NULL);
	for (int r = 0; r < READERS; r++)
		pthread_join(readers[r].thread, NULL);
	pthread_join(iterator, NULL);

	CHECK_OK(lk_stats_get(&stats, db));
	for (int w = 0; w < WRITERS; w++)
		if (writers[w].commit_s_max > slowest)
			slowest = writers[w].commit_s_max;
	/* Figures for the reader of the log, never checked (SPEC §10). */
	printf("%d writers x %lu record writes, %lu reads, %lu iterations; "
	       "%" PRIu64 " commits in %" PRIu64 " groups, %" PRIu64
	       " syncs, %" PRIu32 " segments; slowest commit %.3f s; "
	       "%.1f s in all\n",
	       WRITERS, ops_per_writer, atomic_load(&reads_done),
	       atomic_load(&iterations_done), stats.commits, stats.write_groups,
	       stats.sync_calls, stats.segment_count, slowest, now_s() - t0);

	check_final_state("after the run");
	CHECK_OK(lk_close(db));
	db = NULL;
	CHECK_OK(lk_open(&db, path, &opts));
	check_final_state("after reopen");
	CHECK_OK(lk_close(db));
	remove_tree(root);
	printf("ok\n");
	return 0;
}
