/* SPDX-License-Identifier: MIT */
/*
 * bench.c - logkeep-bench, the benchmark of SPEC §10: the same workloads
 * run against logkeep and against the engines a user would pick instead,
 * in one run, reported as medians over repetitions and as logkeep/peer
 * ratios taken within each repetition (report.c).
 *
 * Design
 * ------
 * engines[] lists the drivers that were built (engine.h is the interface;
 * one file per engine under engines/, compiled when its library is
 * installed).  For each repetition the harness probes the machine's
 * physical limits (probe.c), then runs every engine in turn, the order
 * rotated by one engine per repetition so that no engine always runs
 * first (on a fresh page cache) or last (after the others' writeback).
 *
 * One engine's repetition is a sequence of processes, each forked from
 * the harness, which never calls an engine itself: every process starts
 * without engine state, its peak RSS (wait4's rusage) is the engine's
 * plus the harness's few MiB at the fork, and a reopen is a real restart.
 * Each process sends its figures back through a pipe as a struct results
 * (NAN where it measured nothing), which the harness merges:
 *
 *   load      open an empty directory; batched random fill; durable
 *             single puts alternating with the 4 KiB append+fdatasync
 *             baseline; close (timed).  The harness then measures the
 *             closed directory's bytes on disk.
 *   replay    (engines with snapshot files: logkeep) the snapshots
 *             hidden, open (a full replay of the log) + first get.
 *   main      reopen after the clean close: open + first get, timed;
 *             random gets of present and absent keys; overwrites in
 *             batches, and a wait for background work; the 90/10
 *             get/durable-put mix; WRITER_THREADS threads of durable
 *             puts; close.  Bytes on disk again.
 *   reopen    open + first get after the main process closed.
 *   killed    a writer overwrites in synced batches, reporting each
 *             acknowledged batch through a pipe, and kills itself with
 *             SIGKILL.
 *   recover   open + first get after the kill, then every acknowledged
 *             write read back.
 *
 * Every adapter call returns success or failure with a message; the
 * harness's own checks (a hit with a wrong value, a miss that was found,
 * a count that differs) fail the same way.  The first failure ends the
 * run with exit status 1, so --smoke under `meson test` passes only if
 * every call of every engine succeeded and every value read back was
 * right.
 *
 * Data
 * ----
 * Nothing is stored by the bench: key id i is 16 bytes of a bijective mix
 * of i (distinct ids give distinct keys), its value 100 pseudo-random
 * bytes seeded by i (not compressible), and orders are pseudo-random
 * permutations of [0, n) computed on the fly.  So the bench's own memory
 * is a few blocks of 1000 operations and some histograms.
 *
 *   ids [0, N)                 the fill, in permuted order; the hits
 *   ids [N, N + D)             the durable single puts: new keys
 *   WRITER_ID_BASE + i*W + t   writer thread t's i-th put: new keys
 *   MISS_ID_BASE + [0, N)      the misses: never written
 *
 * A value is seeded by its id and a salt.  Every workload writes the
 * salt SALT_VALUE (so the overwrites and the mix rewrite the same bytes
 * and every later read can be checked), except the killed writer, whose
 * SALT_KILLED values differ from what was there: finding them after its
 * crash shows that its writes survived, not the fill's.
 *
 * Timing
 * ------
 * CLOCK_MONOTONIC.  Keys and values are made and results checked outside
 * the timed regions.  Batches are timed one by one; single operations one
 * by one into latency histograms (bench_util.h), whose sum is the engine
 * time a rate is computed from.  Nothing is asserted about a figure (the
 * machine is shared and noisy): the bench reports.
 */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "engine.h"
#include "logkeep.h"
#include "probe.h"
#include "report.h"
#include "results.h"

/* ---------------------------------------------------------------------- */
/* Parameters                                                             */
/* ---------------------------------------------------------------------- */

#define KEY_BYTES 16u
#define VALUE_BYTES 100u
#define BATCH_OPS 1000u  /* puts per batch in the fill and overwrites */
#define BLOCK_OPS 1000u  /* operations prepared, timed, then checked */

#define KEYS_DEFAULT UINT64_C(1000000)
#define DURABLE_COUNT_DEFAULT UINT64_C(5000)
#define MIX_COUNT_DEFAULT UINT64_C(50000)   /* 5,000 of them durable puts */
#define WRITER_COUNT_DEFAULT UINT64_C(5000) /* per thread */
#define BUDGET_S_DEFAULT 5.0
/* 4 repetitions of 1M keys take about 15 minutes on the development
 * machine (2 shared cores; 5 took 19). */
#define REPS_DEFAULT 4u

#define SMOKE_KEYS UINT64_C(2000)
#define SMOKE_DURABLE_COUNT UINT64_C(50)
#define SMOKE_MIX_COUNT UINT64_C(500)
#define SMOKE_WRITER_COUNT UINT64_C(25)

/* Background work is done when nothing changed for this long: logkeep's
 * compaction thread and an LSM's flushes and compactions start within a
 * second of the writes that need them. */
#define SETTLE_QUIET_MS 3000u
#define SMOKE_SETTLE_QUIET_MS 300u

/* The 90/10 mix: MIX_PUT_PERCENT of its operations are durable puts. */
#define MIX_PUT_PERCENT 10u
#define WRITER_THREADS 4u

#define BASELINE_WRITE_BYTES 4096u

/* 2^32 keys is far past any machine this runs on, and keeps every written
 * id below WRITER_ID_BASE, and the writers' below MISS_ID_BASE
 * (WRITER_COUNT_MAX * WRITER_THREADS < 2^38). */
#define KEYS_MAX (UINT64_C(1) << 32)
#define WRITER_ID_BASE (UINT64_C(1) << 38)
#define MISS_ID_BASE (UINT64_C(1) << 40)
#define DURABLE_COUNT_MAX UINT64_C(10000000)
#define MIX_COUNT_MAX UINT64_C(1000000000)
#define WRITER_COUNT_MAX UINT64_C(10000000)
#define BUDGET_S_MAX 3600.0
#define REPS_MAX 100u

/* The physical-limits probe: 500 syncs give a p99 from 5 samples above
 * it; 128 MiB outlasts the device's write cache on this kind of VM. */
#define PROBE_SYNCS 500u
#define PROBE_FILE_BYTES (UINT64_C(128) << 20)
#define PROBE_READS 200000u
#define SMOKE_PROBE_SYNCS 10u
#define SMOKE_PROBE_FILE_BYTES (UINT64_C(1) << 20)
#define SMOKE_PROBE_READS 1000u
/* The memory probes: the index's size (20 bytes a key, the bench's
 * target bound) and a snapshot's (12 a key); 2M dependent reads take
 * about a second.  The group commit probe runs 2 s per writer count. */
#define PROBE_INDEX_BYTES_PER_KEY 20u
#define PROBE_SNAPSHOT_BYTES_PER_KEY 12u
#define PROBE_CHASE_READS 2000000u
#define PROBE_GC_SECONDS 2.0
#define SMOKE_PROBE_CHASE_READS 1000u
#define SMOKE_PROBE_GC_SECONDS 0.05

#define SEED_FILL UINT64_C(1)
#define SEED_GET_HIT UINT64_C(2)
#define SEED_GET_MISS UINT64_C(3)
#define SEED_OVERWRITE UINT64_C(4)
#define SEED_KILLED UINT64_C(5)
#define SEED_MIX UINT64_C(6)
#define SALT_KEY UINT64_C(0x6c6f676b65657031)   /* "logkeep1" */
#define SALT_VALUE UINT64_C(0x76616c7565736565) /* "valuesee" */
#define SALT_BASELINE UINT64_C(0x626173656c696e65) /* "baseline" */
#define SALT_KILLED UINT64_C(0x6b696c6c65642121)   /* "killed!!" */
#define SALT_MIX UINT64_C(0x6d69787475726521)      /* "mixture!" */

/* ---------------------------------------------------------------------- */
/* The engines that were built                                            */
/* ---------------------------------------------------------------------- */

/* logkeep first: the ratios are logkeep / each other engine. */
static const struct engine_ops *const engines[] = {
	&logkeep_engine,
	&logkeep_map64_engine,
#ifdef LK_BENCH_SQLITE
	&sqlite_engine,
#endif
#ifdef LK_BENCH_LMDB
	&lmdb_engine,
#endif
#ifdef LK_BENCH_ROCKSDB
	&rocksdb_engine,
#endif
#ifdef LK_BENCH_LEVELDB
	&leveldb_engine,
#endif
#ifdef LK_BENCH_TKRZW
	&tkrzw_in_place_engine,
	&tkrzw_appending_engine,
#endif
};
#define ENGINE_COUNT (sizeof engines / sizeof engines[0])

/* ---------------------------------------------------------------------- */
/* Keys, values and orders                                                */
/* ---------------------------------------------------------------------- */

static void store_u64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The first half is a bijection of id, so distinct ids give distinct keys. */
static void make_key(uint8_t key[KEY_BYTES], uint64_t id)
{
	_Static_assert(KEY_BYTES == 16, "a key is two 64-bit words");
	store_u64(key, mix64(id));
	store_u64(key + 8, mix64(id ^ SALT_KEY));
}

/* len pseudo-random bytes from seed (splitmix64). */
static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t state = mix64(seed);

	for (size_t i = 0; i < len; i += 8) {
		state += UINT64_C(0x9e3779b97f4a7c15);
		uint64_t r = mix64(state);
		size_t n = len - i < 8 ? len - i : 8;
		for (size_t j = 0; j < n; j++)
			buf[i + j] = (uint8_t)(r >> (8 * j));
	}
}

/* salt: SALT_VALUE, or SALT_KILLED for the killed writer's values. */
static void make_value(uint8_t value[VALUE_BYTES], uint64_t id,
		       uint64_t salt)
{
	fill_random(value, VALUE_BYTES, id ^ salt);
}

/* ---------------------------------------------------------------------- */
/* What the harness measures itself                                       */
/* ---------------------------------------------------------------------- */

static double ops_per_s(uint64_t ops, uint64_t ns)
{
	if (ns == 0)
		return NAN;
	return (double)ops * 1e9 / (double)ns;
}

/* Bytes allocated to path and everything under it (st_blocks: what the
 * file system gave it, so a sparse map counts what it holds and a
 * preallocated segment what it reserved), without following links. */
static bool disk_bytes(const char *path, double *bytes)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return false;
	*bytes += (double)st.st_blocks * 512.0;
	if (!S_ISDIR(st.st_mode))
		return true;
	DIR *d = opendir(path);
	if (d == NULL)
		return false;
	bool ok = true;
	struct dirent *de;
	while (ok && (de = readdir(d)) != NULL) {
		char child[PATH_MAX];
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		int len = snprintf(child, sizeof child, "%s/%s", path,
				   de->d_name);
		ok = len >= 0 && (size_t)len < sizeof child &&
		     disk_bytes(child, bytes);
	}
	closedir(d);
	return ok;
}

/* Bytes this process (all its threads) caused to be written to storage:
 * Linux /proc/self/io write_bytes, counted when a page is dirtied (by
 * write or through a map), or NAN. */
static double device_bytes_written(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	double v = NAN;

	if (f == NULL)
		return NAN;
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned long long n;

		if (sscanf(line, "write_bytes: %llu", &n) == 1)
			v = (double)n;
	}
	fclose(f);
	return v;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static bool write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO; /* a write of 0 bytes for len > 0 */
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* Reads up to len bytes, fewer only at end of file; -1 on error. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* ---------------------------------------------------------------------- */
/* A run: one engine's repetition                                         */
/* ---------------------------------------------------------------------- */

struct config {
	uint64_t keys;
	uint64_t durable_count;
	uint64_t mix_count;
	uint64_t writer_count;   /* per thread */
	double budget_s;         /* of each durable workload */
	unsigned reps;
	unsigned settle_quiet_ms;
	struct probe_config probe;
	bool selected[ENGINE_COUNT];
	const char *dir;         /* --dir, or NULL for a mkdtemp */
	const char *json_path;   /* --json, or NULL */
	const char *md_path;     /* --md, or NULL for stdout */
	const char *plot_dir;    /* --plot, or NULL */
	bool keep;
	bool smoke;
};

/* Scratch for one block of operations. */
struct block {
	uint8_t keys[BLOCK_OPS][KEY_BYTES];
	uint8_t values[BLOCK_OPS][VALUE_BYTES];
	size_t value_lens[BLOCK_OPS];
	bool found[BLOCK_OPS];
	uint64_t ids[BLOCK_OPS];
	struct bench_kv kv[BLOCK_OPS];
};

/* What a later process of the same run needs to know. */
struct carry {
	uint64_t durable_done;   /* ids [N, N + durable_done) written */
	uint64_t writer_done[WRITER_THREADS];
	uint64_t killed_acked;   /* the killed writer's acknowledged puts */
};

struct run {
	const struct config *cfg;
	struct engine engine;
	char dir[PATH_MAX];     /* the engine's database directory */
	char root[PATH_MAX];    /* the repetition's directory */
	struct results res;     /* this process's figures */
	struct carry carry;
	struct block *blk;      /* in a child only */
	long rss_peak_kib;      /* in the harness: the largest child's */
};

static uint64_t writers_done(const struct carry *c)
{
	uint64_t n = 0;

	for (unsigned t = 0; t < WRITER_THREADS; t++)
		n += c->writer_done[t];
	return n;
}

static uint64_t killed_count(const struct config *cfg);

/* Fills blk->kv[0..count) with the keys and values (of salt) of
 * blk->ids. */
static void block_prepare_puts(struct block *blk, size_t count,
			       uint64_t salt)
{
	assert(count <= BLOCK_OPS);
	for (size_t j = 0; j < count; j++) {
		make_key(blk->keys[j], blk->ids[j]);
		make_value(blk->values[j], blk->ids[j], salt);
		blk->kv[j] = (struct bench_kv){ blk->keys[j], KEY_BYTES,
						blk->values[j], VALUE_BYTES };
	}
}

/* Gets blk->ids[0..count) into the block, each timed into h (NULL: not
 * timed).  Only the engine calls are timed, one clock read apart. */
static bool block_get(struct run *r, size_t count, struct histogram *h)
{
	struct block *blk = r->blk;
	struct engine *e = &r->engine;

	for (size_t j = 0; j < count; j++)
		make_key(blk->keys[j], blk->ids[j]);
	uint64_t t = now_ns();
	for (size_t j = 0; j < count; j++) {
		if (!e->ops->get(e, blk->keys[j], KEY_BYTES, blk->values[j],
				 VALUE_BYTES, &blk->value_lens[j],
				 &blk->found[j]))
			return false;
		if (h != NULL) {
			uint64_t t1 = now_ns();
			hist_add(h, t1 - t);
			t = t1;
		}
	}
	return true;
}

static bool check_value(struct engine *e, uint64_t id, bool found,
			const uint8_t *value, size_t value_len, uint64_t salt,
			const char *what)
{
	uint8_t expected[VALUE_BYTES];

	if (!found)
		return engine_failf(e, "%s: key id %" PRIu64 " not found",
				    what, id);
	make_value(expected, id, salt);
	if (value_len != VALUE_BYTES ||
	    memcmp(value, expected, VALUE_BYTES) != 0)
		return engine_failf(e, "%s: key id %" PRIu64 ": wrong value "
				    "(%zu bytes)", what, id, value_len);
	return true;
}

/* Checks that every key of the block was found with its value (of
 * salt). */
static bool block_check_hits(struct run *r, size_t count, uint64_t salt,
			     const char *what)
{
	struct block *blk = r->blk;

	for (size_t j = 0; j < count; j++) {
		if (!check_value(&r->engine, blk->ids[j], blk->found[j],
				 blk->values[j], blk->value_lens[j], salt,
				 what))
			return false;
	}
	return true;
}

/* Calls the engine's stats with every field NAN first (engine.h, 5). */
static bool stats_of(struct engine *e, struct engine_stats *st)
{
	double *d = (double *)(void *)st;

	_Static_assert(sizeof *st % sizeof(double) == 0,
		       "struct engine_stats is only doubles");
	for (size_t i = 0; i < sizeof *st / sizeof(double); i++)
		d[i] = NAN;
	return e->ops->stats(e, st);
}

/* Where the engine counts its keys, they must be the keys written. */
static bool check_live_keys(struct engine *e, const struct engine_stats *st,
			    uint64_t keys, const char *when)
{
	if (!isnan(st->live_keys) && st->live_keys != (double)keys)
		return engine_failf(e, "%s: the engine counts %.0f keys, %"
				    PRIu64 " were written", when,
				    st->live_keys, keys);
	return true;
}

/* Waits until the engine's background work is done: neither its
 * compaction count nor this process's device writes changed for
 * settle_quiet_ms (at most SETTLE_LIMIT_MS).  *settled_s: how long after
 * the call the last change was seen; *st: the engine's stats then. */
#define SETTLE_POLL_MS 100u
#define SETTLE_LIMIT_MS 300000u

/* Equal, or both NAN (not counted). */
static bool same(double a, double b)
{
	return a == b || (isnan(a) && isnan(b));
}

static bool settle(struct run *r, double *settled_s, struct engine_stats *st)
{
	struct engine *e = &r->engine;

	if (!e->ops->background_work) {
		*settled_s = 0;
		return stats_of(e, st);
	}
	uint64_t t0 = now_ns(), quiet_since = t0;
	if (!stats_of(e, st))
		return false;
	double last_compactions = st->compactions;
	double last_written = device_bytes_written();
	for (;;) {
		sleep_ms(SETTLE_POLL_MS);
		if (!stats_of(e, st))
			return false;
		double written = device_bytes_written();
		uint64_t now = now_ns();
		if (!same(st->compactions, last_compactions) ||
		    !same(written, last_written)) {
			quiet_since = now;
			last_compactions = st->compactions;
			last_written = written;
		}
		if (now - quiet_since >=
			    (uint64_t)r->cfg->settle_quiet_ms * 1000000u ||
		    now - t0 >= (uint64_t)SETTLE_LIMIT_MS * 1000000u)
			break;
	}
	*settled_s = (double)(quiet_since - t0) / 1e9;
	return true;
}

/* Opens the closed database and gets one key (id, of salt), each timed:
 * what a restarting daemon waits before its first answer. */
static bool timed_open_get(struct run *r, uint64_t id, uint64_t salt,
			   double *open_ms, double *get_us, double *total_ms)
{
	struct engine *e = &r->engine;
	uint8_t key[KEY_BYTES], value[VALUE_BYTES];
	size_t value_len = 0;
	bool found = false;

	make_key(key, id);
	uint64_t t0 = now_ns();
	if (!e->ops->open(e, r->dir))
		return false;
	uint64_t t1 = now_ns();
	if (!e->ops->get(e, key, KEY_BYTES, value, VALUE_BYTES, &value_len,
			 &found))
		return false;
	uint64_t t2 = now_ns();
	if (open_ms != NULL)
		*open_ms = (double)(t1 - t0) / 1e6;
	if (get_us != NULL)
		*get_us = (double)(t2 - t1) / 1e3;
	*total_ms = (double)(t2 - t0) / 1e6;
	return check_value(e, id, found, value, value_len, salt,
			   "first get after open");
}

/* The first key the gets look up, and the reopens' first get. */
static uint64_t first_hit_id(const struct config *cfg)
{
	struct perm order;

	perm_init(&order, cfg->keys, SEED_GET_HIT);
	return perm_at(&order, 0);
}

/* ---------------------------------------------------------------------- */
/* Workloads                                                              */
/* ---------------------------------------------------------------------- */

/* Batched random fill: N keys in permuted order, BATCH_OPS per batch,
 * then the wait for background work: the device's writes over the
 * logical bytes are the fill's write amplification. */
static bool run_fill(struct run *r)
{
	_Static_assert(BATCH_OPS <= BLOCK_OPS, "a batch fits in a block");
	struct engine *e = &r->engine;
	struct engine_stats st;
	uint64_t n = r->cfg->keys;
	struct perm order;
	uint64_t ns = 0;
	double settled_s;

	double written0 = device_bytes_written();
	perm_init(&order, n, SEED_FILL);
	for (uint64_t i = 0; i < n; i += BATCH_OPS) {
		size_t count = (size_t)(n - i < BATCH_OPS ? n - i : BATCH_OPS);
		for (size_t j = 0; j < count; j++)
			r->blk->ids[j] = perm_at(&order, i + j);
		block_prepare_puts(r->blk, count, SALT_VALUE);

		uint64_t t0 = now_ns();
		if (!e->ops->put_batch(e, r->blk->kv, count))
			return false;
		ns += now_ns() - t0;
	}
	r->res.fill_s = (double)ns / 1e9;
	r->res.fill_ops_s = ops_per_s(n, ns);
	if (!settle(r, &settled_s, &st))
		return false;
	r->res.fill_device_write_amp = (device_bytes_written() - written0) /
				       ((double)n * (KEY_BYTES + VALUE_BYTES));
	return check_live_keys(e, &st, n, "after the fill");
}

/* Durable single puts of new keys into the filled database, and two
 * file-level baselines (append 4 KiB to a plain file, fdatasync; write
 * 4 KiB over a synced block, fdatasync: the disk's limit for a durable
 * write that does not grow its file, as an engine's commit into
 * prefilled or reused space), in alternating rounds of DURABLE_ROUND
 * operations each, until durable_count of each or the time budget.  Alternating matters on a
 * shared machine: the other tenants' load drifts over seconds, and two
 * figures taken one after the other would compare the drift, not the two
 * writers. */
#define DURABLE_ROUND 100

static bool baseline_op(struct engine *e, int fd, const uint8_t *buf,
			const char *path)
{
	if (!write_all(fd, buf, BASELINE_WRITE_BYTES))
		return engine_failf(e, "baseline: write %s: %s", path,
				    strerror(errno));
	if (fdatasync(fd) != 0)
		return engine_failf(e, "baseline: fdatasync %s: %s", path,
				    strerror(errno));
	return true;
}

static bool inplace_op(struct engine *e, int fd, uint8_t *buf, uint64_t i,
		       const char *path)
{
	buf[0] = (uint8_t)i; /* a change the sync must write */
	if (pwrite(fd, buf, BASELINE_WRITE_BYTES, 0) !=
	    (ssize_t)BASELINE_WRITE_BYTES)
		return engine_failf(e, "in-place baseline: pwrite %s: %s",
				    path, strerror(errno));
	if (fdatasync(fd) != 0)
		return engine_failf(e, "in-place baseline: fdatasync %s: %s",
				    path, strerror(errno));
	return true;
}

static bool run_durable(struct run *r)
{
	struct engine *e = &r->engine;
	struct block *blk = r->blk;
	uint8_t buf[BASELINE_WRITE_BYTES], ibuf[BASELINE_WRITE_BYTES];
	char path[PATH_MAX], ipath[PATH_MAX];
	uint64_t budget_ns = (uint64_t)(r->cfg->budget_s * 1e9);
	uint64_t done = 0, base_done = 0, in_done = 0;
	uint64_t count = r->cfg->durable_count;
	struct histogram *lat = calloc(3, sizeof *lat);
	struct histogram *base_lat = lat + 1, *in_lat = lat + 2;
	bool ok = false;
	int ifd = -1;

	if (lat == NULL)
		return engine_failf(e, "durable puts: out of memory");
	int len = snprintf(path, sizeof path, "%s/%s.baseline", r->root,
			   e->ops->name);
	if (len < 0 || (size_t)len >= sizeof path) {
		free(lat);
		return engine_failf(e, "baseline: path too long");
	}
	fill_random(buf, sizeof buf, SALT_BASELINE);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		      0600);
	if (fd < 0) {
		free(lat);
		return engine_failf(e, "baseline: open %s: %s", path,
				    strerror(errno));
	}
	/* the in-place block exists and is synced before the clock starts */
	len = snprintf(ipath, sizeof ipath, "%s.inplace", path);
	if (len < 0 || (size_t)len >= sizeof ipath) {
		engine_failf(e, "in-place baseline: path too long");
		goto out;
	}
	fill_random(ibuf, sizeof ibuf, SALT_BASELINE + 1);
	ifd = open(ipath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (ifd < 0 || !write_all(ifd, ibuf, sizeof ibuf) || fsync(ifd) != 0) {
		engine_failf(e, "in-place baseline: %s: %s", ipath,
			     strerror(errno));
		goto out;
	}

	uint64_t start = now_ns();
	while (done < count && now_ns() - start < budget_ns) {
		for (size_t i = 0; i < DURABLE_ROUND && done < count; i++) {
			blk->ids[0] = r->cfg->keys + done;
			block_prepare_puts(blk, 1, SALT_VALUE);
			uint64_t t0 = now_ns();
			if (!e->ops->put_durable(e, &blk->kv[0]))
				goto out;
			hist_add(lat, now_ns() - t0);
			r->carry.durable_done = ++done;
		}
		for (size_t i = 0; i < DURABLE_ROUND && base_done < count; i++) {
			uint64_t t0 = now_ns();
			if (!baseline_op(e, fd, buf, path))
				goto out;
			hist_add(base_lat, now_ns() - t0);
			base_done++;
		}
		for (size_t i = 0; i < DURABLE_ROUND && in_done < count; i++) {
			uint64_t t0 = now_ns();
			if (!inplace_op(e, ifd, ibuf, in_done, ipath))
				goto out;
			hist_add(in_lat, now_ns() - t0);
			in_done++;
		}
	}
	r->res.durable_ops = (double)done;
	r->res.durable_ops_s = ops_per_s(done, lat->sum_ns);
	r->res.durable_p50_us = hist_percentile_us(lat, 50);
	r->res.durable_p99_us = hist_percentile_us(lat, 99);
	r->res.baseline_ops_s = ops_per_s(base_done, base_lat->sum_ns);
	r->res.baseline_p50_us = hist_percentile_us(base_lat, 50);
	r->res.baseline_p99_us = hist_percentile_us(base_lat, 99);
	r->res.durable_vs_baseline =
		r->res.durable_ops_s / r->res.baseline_ops_s;
	r->res.inplace_ops_s = ops_per_s(in_done, in_lat->sum_ns);
	r->res.inplace_p50_us = hist_percentile_us(in_lat, 50);
	r->res.durable_vs_inplace =
		r->res.durable_ops_s / r->res.inplace_ops_s;
	ok = true;
out:
	free(lat);
	if (ifd >= 0 && close(ifd) != 0 && ok)
		ok = engine_failf(e, "in-place baseline: close %s: %s", ipath,
				  strerror(errno));
	if (ifd >= 0 && unlink(ipath) != 0 && ok)
		ok = engine_failf(e, "in-place baseline: unlink %s: %s", ipath,
				  strerror(errno));
	if (close(fd) != 0 && ok)
		ok = engine_failf(e, "baseline: close %s: %s", path,
				  strerror(errno));
	if (unlink(path) != 0 && ok)
		ok = engine_failf(e, "baseline: unlink %s: %s", path,
				  strerror(errno));
	return ok;
}

/* Gets of every filled key, in another permuted order. */
static bool run_get_hits(struct run *r)
{
	uint64_t n = r->cfg->keys;
	struct histogram *h = calloc(1, sizeof *h);
	struct perm order;
	bool ok = false;

	if (h == NULL)
		return engine_failf(&r->engine, "gets: out of memory");
	perm_init(&order, n, SEED_GET_HIT);
	for (uint64_t i = 0; i < n; i += BLOCK_OPS) {
		size_t count = (size_t)(n - i < BLOCK_OPS ? n - i : BLOCK_OPS);
		for (size_t j = 0; j < count; j++)
			r->blk->ids[j] = perm_at(&order, i + j);
		if (!block_get(r, count, h) ||
		    !block_check_hits(r, count, SALT_VALUE, "get of a hit"))
			goto out;
	}
	r->res.get_hit_ops_s = ops_per_s(h->count, h->sum_ns);
	r->res.get_hit_p50_us = hist_percentile_us(h, 50);
	r->res.get_hit_p99_us = hist_percentile_us(h, 99);
	ok = true;
out:
	free(h);
	return ok;
}

/* As many gets of keys never written. */
static bool run_get_misses(struct run *r)
{
	uint64_t n = r->cfg->keys;
	struct histogram *h = calloc(1, sizeof *h);
	struct perm order;
	bool ok = false;

	if (h == NULL)
		return engine_failf(&r->engine, "gets: out of memory");
	perm_init(&order, n, SEED_GET_MISS);
	for (uint64_t i = 0; i < n; i += BLOCK_OPS) {
		size_t count = (size_t)(n - i < BLOCK_OPS ? n - i : BLOCK_OPS);
		for (size_t j = 0; j < count; j++)
			r->blk->ids[j] = MISS_ID_BASE + perm_at(&order, i + j);
		if (!block_get(r, count, h))
			goto out;
		for (size_t j = 0; j < count; j++) {
			if (r->blk->found[j]) {
				engine_failf(&r->engine, "get of a miss: key "
					     "id %" PRIu64 " was found",
					     r->blk->ids[j]);
				goto out;
			}
		}
	}
	r->res.get_miss_ops_s = ops_per_s(h->count, h->sum_ns);
	r->res.get_miss_p50_us = hist_percentile_us(h, 50);
	r->res.get_miss_p99_us = hist_percentile_us(h, 99);
	ok = true;
out:
	free(h);
	return ok;
}

/* Untimed: the durable puts survived the reopen with their values. */
static bool run_check_durable(struct run *r)
{
	uint64_t done = r->carry.durable_done;

	for (uint64_t i = 0; i < done; i += BLOCK_OPS) {
		size_t count = (size_t)(done - i < BLOCK_OPS ? done - i
							     : BLOCK_OPS);
		for (size_t j = 0; j < count; j++)
			r->blk->ids[j] = r->cfg->keys + i + j;
		if (!block_get(r, count, NULL) ||
		    !block_check_hits(r, count, SALT_VALUE,
				      "get of a durable put"))
			return false;
	}
	return true;
}

/* As many random overwrites as keys (with repeats), in synced batches of
 * BATCH_OPS like the fill (the slowest batch is the longest write stall a
 * writer saw), then the wait for background work.  Write amplification
 * over the overwrites' logical bytes, background work included, as the
 * kernel counts this process's writes to storage (/proc/self/io: for
 * every engine alike; it includes the file system's rewrites of partial
 * pages at each sync), and for logkeep also as the engine counts its
 * writes (log appends, zero prefill, compaction output), then with its
 * index snapshots added. */
static bool run_overwrite(struct run *r)
{
	struct engine *e = &r->engine;
	uint64_t n = r->cfg->keys;
	uint64_t ns = 0, slowest = 0;
	struct engine_stats st;
	uint64_t x = SEED_OVERWRITE;
	struct histogram *h = calloc(1, sizeof *h);
	bool ok = false;

	if (h == NULL)
		return engine_failf(e, "overwrites: out of memory");
	double written0 = device_bytes_written();
	if (!stats_of(e, &st))
		goto out;
	double log0 = st.log_bytes_written;
	double compact0 = st.compact_bytes_written;
	double snaps0 = st.snapshots_written;
	double snap_bytes0 = st.snapshot_bytes_written;

	for (uint64_t i = 0; i < n; i += BATCH_OPS) {
		size_t count = (size_t)(n - i < BATCH_OPS ? n - i : BATCH_OPS);
		for (size_t j = 0; j < count; j++) {
			x = mix64(x + i + j);
			r->blk->ids[j] = x % n;
		}
		block_prepare_puts(r->blk, count, SALT_VALUE);
		uint64_t t0 = now_ns();
		if (!e->ops->put_batch(e, r->blk->kv, count))
			goto out;
		uint64_t t = now_ns() - t0;
		hist_add(h, t);
		ns += t;
		if (t > slowest)
			slowest = t;
	}
	r->res.overwrite_ops_s = ops_per_s(n, ns);
	r->res.overwrite_p99_ms = hist_percentile_us(h, 99) / 1e3;
	r->res.overwrite_stall_ms = (double)slowest / 1e6;

	if (!settle(r, &r->res.settle_s, &st))
		goto out;
	double user = (double)n * (KEY_BYTES + VALUE_BYTES);
	r->res.overwrite_device_write_amp =
		(device_bytes_written() - written0) / user;
	/* logkeep's own counts (NAN for the others) */
	r->res.compactions = st.compactions;
	r->res.compact_mb_s = st.compact_bytes_written / 1e6 / st.compact_s;
	r->res.compact_stall_us = st.compact_stall_us;
	r->res.compact_bytes_written = st.compact_bytes_written - compact0;
	r->res.overwrite_write_amp = (st.log_bytes_written - log0 +
				      st.compact_bytes_written - compact0) /
				     user;
	double snaps = st.snapshots_written - snaps0;
	double snap_bytes = st.snapshot_bytes_written - snap_bytes0;
	r->res.overwrite_snapshots = snaps;
	if (snaps > 0)
		r->res.snapshot_bytes_per_key =
			snap_bytes / snaps / (double)st.live_keys;
	r->res.overwrite_write_amp_snap = (st.log_bytes_written - log0 +
					   st.compact_bytes_written - compact0 +
					   snap_bytes) /
					  user;
	ok = true;
out:
	free(h);
	return ok;
}

/* The 90/10 mix: mix_count operations on random present keys (or the
 * time budget), each a get (checked) or, MIX_PUT_PERCENT of them, a
 * durable put of the same bytes.  The rate is over the engine time of
 * both kinds. */
static bool run_mix(struct run *r)
{
	struct engine *e = &r->engine;
	struct block *blk = r->blk;
	uint64_t n = r->cfg->keys, count = r->cfg->mix_count;
	uint64_t budget_ns = (uint64_t)(r->cfg->budget_s * 1e9);
	struct histogram *h = calloc(2, sizeof *h);
	struct histogram *gets = h, *puts = h + 1;
	bool ok = false;

	if (h == NULL)
		return engine_failf(e, "mix: out of memory");
	uint64_t start = now_ns();
	for (uint64_t i = 0; i < count; i++) {
		/* the clock is read once per 64 operations, outside the
		 * timed calls */
		if (i % 64 == 0 && now_ns() - start >= budget_ns)
			break;
		uint64_t x = mix64(SEED_MIX ^ mix64(i));
		blk->ids[0] = x % n;
		if (mix64(x ^ SALT_MIX) % 100 < MIX_PUT_PERCENT) {
			block_prepare_puts(blk, 1, SALT_VALUE);
			uint64_t t0 = now_ns();
			if (!e->ops->put_durable(e, &blk->kv[0]))
				goto out;
			hist_add(puts, now_ns() - t0);
		} else {
			if (!block_get(r, 1, gets) ||
			    !block_check_hits(r, 1, SALT_VALUE,
					      "get in the mix"))
				goto out;
		}
	}
	r->res.mix_ops_s = ops_per_s(gets->count + puts->count,
				     gets->sum_ns + puts->sum_ns);
	r->res.mix_get_p99_us = hist_percentile_us(gets, 99);
	r->res.mix_put_p50_us = hist_percentile_us(puts, 50);
	r->res.mix_put_p99_us = hist_percentile_us(puts, 99);
	ok = true;
out:
	free(h);
	return ok;
}

/* WRITER_THREADS threads of durable puts of new keys on the one handle,
 * writer_count each or until the time budget.  An engine that cannot
 * take concurrent writers (engine.h, 3) gets them one at a time through
 * a mutex, and the lock's wait counts in the latency: that is what its
 * callers would see. */
struct writer {
	struct run *r;
	unsigned index;
	struct engine engine;     /* shares r->engine.impl; its own err */
	pthread_mutex_t *lock;    /* NULL: the engine takes them at once */
	uint64_t deadline_ns;
	uint64_t done;
	bool ok;
	struct histogram hist;
};

static uint64_t writer_id(unsigned thread, uint64_t i)
{
	return WRITER_ID_BASE + i * WRITER_THREADS + thread;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint8_t key[KEY_BYTES], value[VALUE_BYTES];
	struct bench_kv kv = { key, KEY_BYTES, value, VALUE_BYTES };

	w->ok = true;
	for (uint64_t i = 0; i < w->r->cfg->writer_count; i++) {
		uint64_t id = writer_id(w->index, i);
		make_key(key, id);
		make_value(value, id, SALT_VALUE);
		uint64_t t0 = now_ns();
		if (t0 >= w->deadline_ns)
			break;
		if (w->lock != NULL)
			pthread_mutex_lock(w->lock);
		bool ok = w->engine.ops->put_durable(&w->engine, &kv);
		if (w->lock != NULL)
			pthread_mutex_unlock(w->lock);
		if (!ok) {
			w->ok = false;
			break;
		}
		hist_add(&w->hist, now_ns() - t0);
		w->done = i + 1;
	}
	return NULL;
}

static bool run_writers(struct run *r)
{
	struct engine *e = &r->engine;
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct writer *w = calloc(WRITER_THREADS, sizeof *w);
	pthread_t threads[WRITER_THREADS];
	unsigned started = 0;
	bool ok = true;

	if (w == NULL)
		return engine_failf(e, "writers: out of memory");
	bool serialise = !e->ops->concurrent_writers;
	struct engine_stats before, after;

	if (!stats_of(e, &before)) {
		free(w);
		return false;
	}
	uint64_t t0 = now_ns();
	for (unsigned t = 0; t < WRITER_THREADS; t++) {
		w[t].r = r;
		w[t].index = t;
		w[t].engine.ops = e->ops;
		w[t].engine.impl = e->impl;
		w[t].engine.keys_max = e->keys_max;
		w[t].lock = serialise ? &lock : NULL;
		w[t].deadline_ns = t0 + (uint64_t)(r->cfg->budget_s * 1e9);
		int rc = pthread_create(&threads[t], NULL, writer_main, &w[t]);
		if (rc != 0) {
			ok = engine_failf(e, "writers: pthread_create: %s",
					  strerror(rc));
			break;
		}
		started++;
	}
	for (unsigned t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
	uint64_t wall = now_ns() - t0;

	struct histogram *all = calloc(1, sizeof *all);
	if (ok && all == NULL)
		ok = engine_failf(e, "writers: out of memory");
	for (unsigned t = 0; ok && t < started; t++) {
		if (!w[t].ok) {
			memcpy(e->err, w[t].engine.err, sizeof e->err);
			ok = false;
			break;
		}
		hist_merge(all, &w[t].hist);
		r->carry.writer_done[t] = w[t].done;
	}
	if (ok) {
		r->res.writers_ops_s = ops_per_s(all->count, wall);
		r->res.writers_p50_us = hist_percentile_us(all, 50);
		r->res.writers_p99_us = hist_percentile_us(all, 99);
		r->res.writers_serialised = serialise ? 1 : 0;
		ok = stats_of(e, &after);
	}
	if (ok && after.syncs > before.syncs)
		r->res.writers_commits_per_sync =
			(after.commits - before.commits) /
			(after.syncs - before.syncs);
	free(all);
	free(w);
	return ok;
}

/* Untimed: every writer thread's acknowledged put reads back. */
static bool run_check_writers(struct run *r)
{
	for (unsigned t = 0; t < WRITER_THREADS; t++) {
		uint64_t done = r->carry.writer_done[t];
		for (uint64_t i = 0; i < done; i += BLOCK_OPS) {
			size_t count = (size_t)(done - i < BLOCK_OPS
							? done - i
							: BLOCK_OPS);
			for (size_t j = 0; j < count; j++)
				r->blk->ids[j] = writer_id(t, i + j);
			if (!block_get(r, count, NULL) ||
			    !block_check_hits(r, count, SALT_VALUE,
					      "get of a writer thread's put"))
				return false;
		}
	}
	return true;
}

/* ---------------------------------------------------------------------- */
/* The processes of a run (each in a child)                               */
/* ---------------------------------------------------------------------- */

/* load: fill, durable puts, close. */
static bool phase_load(struct run *r)
{
	struct engine *e = &r->engine;

	if (!e->ops->open(e, r->dir) || !run_fill(r) || !run_durable(r))
		return false;
	uint64_t t0 = now_ns();
	if (!e->ops->close(e))
		return false;
	r->res.close_ms = (double)(now_ns() - t0) / 1e6;
	return true;
}

/* replay: the same files opened without their snapshots (the harness hid
 * them): what the reopen costs when it has to replay the whole log (no
 * snapshot yet, or one that no longer matches). */
static bool phase_replay(struct run *r)
{
	struct engine *e = &r->engine;
	struct engine_stats st;

	if (!timed_open_get(r, first_hit_id(r->cfg), SALT_VALUE, NULL, NULL,
			    &r->res.replay_ms) ||
	    !stats_of(e, &st))
		return false;
	r->res.replay_snapshot_used = st.snapshot_used;
	r->res.replay_records_replayed = st.records_replayed;
	/* The figure is only what it says if no snapshot was used and the
	 * replay rebuilt every key. */
	if (st.snapshot_used != 0)
		return engine_failf(e, "open with the snapshot files hidden "
				    "used a snapshot");
	if (!check_live_keys(e, &st, r->cfg->keys + r->carry.durable_done,
			     "full replay"))
		return false;
	return e->ops->close(e);
}

/* main: reopen after the clean close, gets, overwrites, mix, writers. */
static bool phase_main(struct run *r)
{
	struct engine *e = &r->engine;
	struct engine_stats st;

	if (!timed_open_get(r, first_hit_id(r->cfg), SALT_VALUE,
			    &r->res.reopen_open_ms, &r->res.reopen_first_get_us,
			    &r->res.reopen_ms) ||
	    !stats_of(e, &st))
		return false;
	r->res.reopen_snapshot_used = st.snapshot_used;
	r->res.records_replayed = st.records_replayed;
	uint64_t keys = r->cfg->keys + r->carry.durable_done;
	if (!check_live_keys(e, &st, keys, "reopen"))
		return false;
	if (e->ops->index_bytes != NULL) {
		if (!e->ops->index_bytes(e, &r->res.index_bytes))
			return false;
		r->res.index_bytes_per_key = r->res.index_bytes / (double)keys;
	}
	if (!run_get_hits(r) || !run_get_misses(r) || !run_check_durable(r) ||
	    !run_overwrite(r) || !run_mix(r) || !run_writers(r) ||
	    !run_check_writers(r) || !stats_of(e, &st))
		return false;
	keys += writers_done(&r->carry);
	r->res.live_keys = (double)keys;
	if (!check_live_keys(e, &st, keys, "the end of the main process"))
		return false;
	return e->ops->close(e);
}

/* reopen: after the main process closed, overwrites done. */
static bool phase_reopen_after(struct run *r)
{
	struct engine *e = &r->engine;
	struct engine_stats st;

	if (!timed_open_get(r, first_hit_id(r->cfg), SALT_VALUE, NULL, NULL,
			    &r->res.reopen_after_ms) ||
	    !stats_of(e, &st))
		return false;
	r->res.reopen_after_snapshot_used = st.snapshot_used;
	r->res.records_replayed_after = st.records_replayed;
	return e->ops->close(e);
}

/* recover: after the killed writer, open + first get (one of its
 * acknowledged writes), then every acknowledged write read back. */
static bool phase_recover(struct run *r)
{
	struct engine *e = &r->engine;
	struct engine_stats st;
	struct perm order;
	uint64_t acked = r->carry.killed_acked;

	perm_init(&order, r->cfg->keys, SEED_KILLED);
	assert(acked > 0);
	if (!timed_open_get(r, perm_at(&order, 0), SALT_KILLED, NULL, NULL,
			    &r->res.killed_reopen_ms) ||
	    !stats_of(e, &st))
		return false;
	r->res.killed_snapshot_used = st.snapshot_used;
	r->res.killed_records_replayed = st.records_replayed;
	for (uint64_t i = 0; i < acked; i += BLOCK_OPS) {
		size_t n = (size_t)(acked - i < BLOCK_OPS ? acked - i
							  : BLOCK_OPS);
		for (size_t j = 0; j < n; j++)
			r->blk->ids[j] = perm_at(&order, i + j);
		if (!block_get(r, n, NULL) ||
		    !block_check_hits(r, n, SALT_KILLED,
				      "get of a killed writer's overwrite"))
			return false;
	}
	r->res.killed_checked = (double)acked;
	uint64_t keys = r->cfg->keys + r->carry.durable_done +
			writers_done(&r->carry);
	if (!check_live_keys(e, &st, keys, "recovery"))
		return false;
	return e->ops->close(e);
}

/* ---------------------------------------------------------------------- */
/* Children                                                               */
/* ---------------------------------------------------------------------- */

/* What a child sends back: one write of at most PIPE_BUF bytes, read
 * whole. */
struct child_report {
	uint32_t ok;
	char err[ENGINE_ERR_BYTES];
	struct results res;
	struct carry carry;
};

typedef bool (*phase_fn)(struct run *r);

/* Forks; the child runs fn on a fresh struct results and never returns.
 * On failure the child closes a handle left open (best effort, the first
 * error kept) and reports the failure. */
static pid_t fork_child(struct run *r, int fds[2])
{
	/* Nothing buffered is written twice: children never flush stdio. */
	fflush(stdout);
	fflush(stderr);
	if (pipe(fds) != 0) {
		engine_failf(&r->engine, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		engine_failf(&r->engine, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		results_init(&r->res);
		r->blk = calloc(1, sizeof *r->blk);
	} else {
		close(fds[1]);
	}
	return pid;
}

static _Noreturn void child_main(struct run *r, int fd, phase_fn fn)
{
	static struct child_report report; /* static: not on the stack */
	struct engine *e = &r->engine;

	bool ok = r->blk != NULL ? fn(r)
				 : engine_failf(e, "out of memory");
	if (e->impl != NULL) {
		assert(!ok); /* a phase closes its handle when it succeeds */
		char first[ENGINE_ERR_BYTES];
		memcpy(first, e->err, sizeof first);
		(void)e->ops->close(e);
		memcpy(e->err, first, sizeof first);
	}
	report.ok = ok;
	memcpy(report.err, e->err, sizeof report.err);
	report.res = r->res;
	report.carry = r->carry;
	if (!write_all(fd, &report, sizeof report))
		_exit(3);
	_exit(ok ? 0 : 1);
}

/* Waits for the child and keeps the largest peak RSS. */
static bool reap(struct run *r, pid_t pid, int *status)
{
	struct rusage ru;

	while (wait4(pid, status, 0, &ru) < 0) {
		if (errno != EINTR)
			return engine_failf(&r->engine, "wait4: %s",
					    strerror(errno));
	}
	if (ru.ru_maxrss > r->rss_peak_kib)
		r->rss_peak_kib = ru.ru_maxrss; /* KiB on Linux */
	return true;
}

/* Runs fn in a child and merges what it measured into r->res. */
static bool run_child(struct run *r, phase_fn fn)
{
	_Static_assert(sizeof(struct child_report) <= PIPE_BUF,
		       "a report is written atomically");
	static struct child_report report;
	int fds[2], status;

	pid_t pid = fork_child(r, fds);
	if (pid < 0)
		return false;
	if (pid == 0)
		child_main(r, fds[1], fn);
	ssize_t got = read_full(fds[0], &report, sizeof report);
	int read_errno = errno;
	close(fds[0]);
	if (!reap(r, pid, &status))
		return false;
	if (got != (ssize_t)sizeof report)
		return engine_failf(&r->engine, "the child ended without a "
				    "report (%s; wait status %d)",
				    got < 0 ? strerror(read_errno)
					    : "short read", status);
	if (!report.ok) {
		memcpy(r->engine.err, report.err, sizeof r->engine.err);
		r->engine.err[sizeof r->engine.err - 1] = '\0';
		return false;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return engine_failf(&r->engine, "the child reported success "
				    "but ended with wait status %d", status);
	for (size_t i = 0; i < figure_count; i++) {
		double v = figure_get(&report.res, &figures[i]);
		if (!isnan(v))
			figure_set(&r->res, &figures[i], v);
	}
	r->carry = report.carry;
	return true;
}

/* The killed writer: a child opens the database as the bench does,
 * overwrites killed_count distinct keys (a permutation) with new values
 * in synced batches of BATCH_OPS, reports each acknowledged batch through
 * the pipe, and kills itself with SIGKILL without closing.
 *
 * Why 100,000: a writer killed at a random moment leaves on average half
 * a snapshot interval of log after logkeep's last snapshot; 100,000
 * records of 16 + 100 bytes are about 12.7 MB of log, some 38% of the
 * default 32 MiB interval, and under a whole one, so the child writes no
 * interval snapshot and the open replays all of its writes (unless a
 * compaction ran in the child: "snapshots it wrote" and "its log after
 * its last snapshot" say what happened). */
#define KILLED_OVERWRITES UINT64_C(100000)

static uint64_t killed_count(const struct config *cfg)
{
	return cfg->keys < KILLED_OVERWRITES ? cfg->keys : KILLED_OVERWRITES;
}

struct killed_msg {
	uint64_t acked;      /* overwrites acknowledged so far */
	double behind_bytes; /* log after its newest snapshot (NAN: none) */
	double snapshots;    /* snapshots it wrote */
};

static _Noreturn void killed_writer(struct run *r, int fd)
{
	struct engine *e = &r->engine;
	uint64_t count = killed_count(r->cfg);
	struct engine_stats st;
	struct perm order;

	if (r->blk == NULL) {
		engine_failf(e, "out of memory");
		goto fail;
	}
	perm_init(&order, r->cfg->keys, SEED_KILLED);
	if (!e->ops->open(e, r->dir))
		goto fail;
	for (uint64_t i = 0; i < count; i += BATCH_OPS) {
		size_t n = (size_t)(count - i < BATCH_OPS ? count - i
							  : BATCH_OPS);
		for (size_t j = 0; j < n; j++)
			r->blk->ids[j] = perm_at(&order, i + j);
		block_prepare_puts(r->blk, n, SALT_KILLED);
		if (!e->ops->put_batch(e, r->blk->kv, n) ||
		    !stats_of(e, &st))
			goto fail;
		struct killed_msg msg = { i + n, st.snapshot_behind_bytes,
					  st.snapshots_written };
		if (!write_all(fd, &msg, sizeof msg)) {
			engine_failf(e, "pipe: %s", strerror(errno));
			goto fail;
		}
	}
	raise(SIGKILL);
	engine_failf(e, "raise(SIGKILL) returned");
fail:
	fprintf(stderr, "\nlogkeep-bench: %s: killed writer (child): %s\n",
		e->ops->name, e->err);
	_exit(1);
}

static bool run_killed(struct run *r)
{
	_Static_assert(sizeof(struct killed_msg) <= PIPE_BUF,
		       "a message is written atomically");
	struct engine *e = &r->engine;
	struct killed_msg msg, last = { 0, NAN, NAN };
	uint64_t count = killed_count(r->cfg);
	int fds[2], status;
	bool ok = true;

	pid_t pid = fork_child(r, fds);
	if (pid < 0)
		return false;
	if (pid == 0)
		killed_writer(r, fds[1]);
	for (;;) {
		ssize_t n = read_full(fds[0], &msg, sizeof msg);
		if (n == 0)
			break; /* the child is gone */
		if (n != (ssize_t)sizeof msg) {
			ok = engine_failf(e, "pipe: %s",
					  n < 0 ? strerror(errno)
						: "a short message");
			break;
		}
		last = msg;
	}
	close(fds[0]);
	if (!reap(r, pid, &status) || !ok)
		return false;
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		return engine_failf(e, "the killed writer ended otherwise "
				    "(wait status %d); its error is above",
				    status);
	if (last.acked != count)
		return engine_failf(e, "the killed writer acknowledged %"
				    PRIu64 " of %" PRIu64 " overwrites",
				    last.acked, count);
	r->carry.killed_acked = last.acked;
	r->res.killed_overwrites = (double)last.acked;
	r->res.killed_behind_bytes = last.behind_bytes;
	r->res.killed_snapshots = last.snapshots;
	return true;
}

/* ---------------------------------------------------------------------- */
/* One engine's repetition, in the harness                                */
/* ---------------------------------------------------------------------- */

/* Bytes on disk of the closed database, and over the logical bytes of
 * keys live keys. */
static bool measure_disk(struct run *r, uint64_t keys, double *bytes,
			 double *amp)
{
	double b = 0;

	if (!disk_bytes(r->dir, &b))
		return engine_failf(&r->engine, "disk usage of %s: %s", r->dir,
				    strerror(errno));
	*bytes = b;
	*amp = b / ((double)keys * (KEY_BYTES + VALUE_BYTES));
	return true;
}

/* The replay process between hiding the snapshot files and putting them
 * back.  If a step fails the files stay hidden: the run stops anyway, and
 * they are removed with the directory. */
static bool run_replay(struct run *r)
{
	struct engine *e = &r->engine;
	size_t hidden = 0, restored = 0;

	if (!e->ops->hide_snapshots(e, r->dir, true, &hidden) ||
	    !run_child(r, phase_replay) ||
	    !e->ops->hide_snapshots(e, r->dir, false, &restored))
		return false;
	r->res.replay_hidden_files = (double)hidden;
	if (restored != hidden)
		return engine_failf(e, "%zu snapshot files hidden, %zu put "
				    "back", hidden, restored);
	return true;
}

/* The steps of a repetition, in order: each relies on the ones before. */
enum step_kind { STEP_CHILD, STEP_REPLAY, STEP_KILLED, STEP_DISK_LOAD,
		 STEP_DISK_END };

struct step {
	const char *name;
	enum step_kind kind;
	phase_fn fn; /* STEP_CHILD */
};

static const struct step steps[] = {
	{ "load (fill, durable puts, close)", STEP_CHILD, phase_load },
	{ "disk after load", STEP_DISK_LOAD, NULL },
	{ "reopen, full replay (snapshots hidden)", STEP_REPLAY, NULL },
	{ "main (reopen, gets, overwrites, mix, writers)", STEP_CHILD,
	  phase_main },
	{ "disk at the end", STEP_DISK_END, NULL },
	{ "reopen after overwrites", STEP_CHILD, phase_reopen_after },
	{ "killed writer", STEP_KILLED, NULL },
	{ "recovery after the kill", STEP_CHILD, phase_recover },
};
#define STEP_COUNT (sizeof steps / sizeof steps[0])

static bool run_step(struct run *r, const struct step *s)
{
	uint64_t keys = r->cfg->keys + r->carry.durable_done;

	switch (s->kind) {
	case STEP_CHILD:
		return run_child(r, s->fn);
	case STEP_REPLAY:
		return r->engine.ops->hide_snapshots == NULL || run_replay(r);
	case STEP_KILLED:
		return run_killed(r);
	case STEP_DISK_LOAD:
		return measure_disk(r, keys, &r->res.disk_bytes,
				    &r->res.space_amplification);
	case STEP_DISK_END:
		return measure_disk(r, keys + writers_done(&r->carry),
				    &r->res.end_disk_bytes,
				    &r->res.end_space_amp);
	}
	return engine_failf(&r->engine, "unknown step");
}

/* Runs every step for one engine in its own directory under root; the
 * figures land in *res.  On failure, prints what failed. */
static bool run_engine(const struct config *cfg, const struct engine_ops *ops,
		       const char *root, unsigned rep, struct results *res)
{
	static struct run run; /* static: PATH_MAX buffers, not the stack */
	struct run *r = &run;
	const char *step = "setup";
	bool ok = false, dir_made = false;

	memset(r, 0, sizeof *r);
	r->cfg = cfg;
	r->engine.ops = ops;
	r->engine.keys_max = cfg->keys + cfg->durable_count +
			     cfg->writer_count * WRITER_THREADS;
	results_init(&r->res);
	int n1 = snprintf(r->root, sizeof r->root, "%s", root);
	int n2 = snprintf(r->dir, sizeof r->dir, "%s/%s", root, ops->name);
	if (n1 < 0 || (size_t)n1 >= sizeof r->root || n2 < 0 ||
	    (size_t)n2 >= sizeof r->dir) {
		engine_failf(&r->engine, "directory name too long");
		goto out;
	}
	/* A fresh directory: never fill, or remove, a database found there. */
	if (mkdir(r->dir, 0700) != 0) {
		engine_failf(&r->engine, "mkdir %s: %s", r->dir,
			     strerror(errno));
		goto out;
	}
	dir_made = true;
	for (size_t i = 0; i < STEP_COUNT; i++) {
		step = steps[i].name;
		fprintf(stderr, "logkeep-bench: rep %u: %s: %s ...", rep + 1,
			ops->name, step);
		uint64_t t0 = now_ns();
		if (!run_step(r, &steps[i])) {
			fprintf(stderr, " failed\n");
			goto out;
		}
		fprintf(stderr, " %.2f s\n", (double)(now_ns() - t0) / 1e9);
	}
	r->res.rss_peak_mib = (double)r->rss_peak_kib / 1024.0;
	ok = true;
out:
	if (!ok)
		fprintf(stderr, "logkeep-bench: %s: %s: %s\n", ops->name, step,
			r->engine.err);
	*res = r->res;
	/* Each engine's files go before the next engine runs, so that the
	 * disk holds one database at a time (and no engine's writeback
	 * lands in another's figures more than it must). */
	if (dir_made && !cfg->keep && !remove_tree(r->dir)) {
		fprintf(stderr, "logkeep-bench: could not remove %s\n", r->dir);
		ok = false;
	}
	return ok;
}

/* ---------------------------------------------------------------------- */
/* Options and main                                                       */
/* ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: logkeep-bench [options]\n"
		"  --keys N             keys to fill (default %" PRIu64 ")\n"
		"  --reps N             repetitions, engine order rotated "
		"(default %u)\n"
		"  --engines A,B,...    only these engines (logkeep is needed "
		"for the ratios)\n"
		"  --durable-count N    most durable single puts, and baseline "
		"writes (default %" PRIu64 ")\n"
		"  --mix-count N        most operations of the 90/10 mix "
		"(default %" PRIu64 ")\n"
		"  --writer-count N     most durable puts per writer thread "
		"(default %" PRIu64 ")\n"
		"  --durable-seconds S  time budget of each of those three "
		"(default %.0f)\n"
		"  --dir PATH           bench directory (default: a new one "
		"under /var/tmp)\n"
		"  --keep               keep the databases at the end\n"
		"  --md FILE            the Markdown report to FILE instead of "
		"stdout\n"
		"  --json FILE          also write every figure as JSON\n"
		"  --plot DIR           also write a plot per workload (gnuplot: "
		"SVG and PNG)\n"
		"  --smoke              tiny run for meson test (%" PRIu64
		" keys, 1 repetition)\n"
		"  --help\n"
		"Engines built in:",
		KEYS_DEFAULT, REPS_DEFAULT, DURABLE_COUNT_DEFAULT,
		MIX_COUNT_DEFAULT, WRITER_COUNT_DEFAULT, BUDGET_S_DEFAULT,
		SMOKE_KEYS);
	for (size_t k = 0; k < ENGINE_COUNT; k++)
		fprintf(f, " %s", engines[k]->name);
	fprintf(f, "\nExit status: 0 when every engine call succeeded and "
		   "every read was right,\n1 otherwise, 2 on bad usage.\n");
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max,
		      uint64_t *out)
{
	char *end = NULL;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end = NULL;

	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0) ||
	    v > BUDGET_S_MAX)
		return false;
	*out = v;
	return true;
}

/* "a,b,c": each a built engine's name. */
static bool parse_engines(struct config *cfg, const char *list)
{
	const char *p = list;

	memset(cfg->selected, 0, sizeof cfg->selected);
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		bool known = false;
		for (size_t k = 0; k < ENGINE_COUNT; k++) {
			if (strlen(engines[k]->name) == len &&
			    strncmp(engines[k]->name, p, len) == 0) {
				cfg->selected[k] = known = true;
			}
		}
		if (!known) {
			fprintf(stderr, "logkeep-bench: --engines: no engine "
				"%.*s built in (see --help)\n", (int)len, p);
			return false;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return true;
}

enum {
	OPT_KEYS = 256,
	OPT_REPS,
	OPT_ENGINES,
	OPT_DURABLE_COUNT,
	OPT_MIX_COUNT,
	OPT_WRITER_COUNT,
	OPT_DURABLE_SECONDS,
	OPT_DIR,
	OPT_KEEP,
	OPT_MD,
	OPT_JSON,
	OPT_PLOT,
	OPT_SMOKE,
	OPT_HELP,
};

static bool parse_count(const char *opt, const char *arg, uint64_t min,
			uint64_t max, uint64_t *out)
{
	if (parse_u64(arg, min, max, out))
		return true;
	fprintf(stderr, "logkeep-bench: --%s: %" PRIu64 " to %" PRIu64 "\n",
		opt, min, max);
	return false;
}

static bool parse_options(struct config *cfg, int argc, char **argv)
{
	static const struct option options[] = {
		{ "keys", required_argument, NULL, OPT_KEYS },
		{ "reps", required_argument, NULL, OPT_REPS },
		{ "engines", required_argument, NULL, OPT_ENGINES },
		{ "durable-count", required_argument, NULL, OPT_DURABLE_COUNT },
		{ "mix-count", required_argument, NULL, OPT_MIX_COUNT },
		{ "writer-count", required_argument, NULL, OPT_WRITER_COUNT },
		{ "durable-seconds", required_argument, NULL,
		  OPT_DURABLE_SECONDS },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "md", required_argument, NULL, OPT_MD },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "plot", required_argument, NULL, OPT_PLOT },
		{ "smoke", no_argument, NULL, OPT_SMOKE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	bool keys_set = false, durable_set = false, mix_set = false;
	bool writer_set = false, reps_set = false;
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_KEYS:
			if (!parse_count("keys", optarg, 1, KEYS_MAX,
					 &cfg->keys))
				return false;
			keys_set = true;
			break;
		case OPT_REPS:
			if (!parse_count("reps", optarg, 1, REPS_MAX, &v))
				return false;
			cfg->reps = (unsigned)v;
			reps_set = true;
			break;
		case OPT_ENGINES:
			if (!parse_engines(cfg, optarg))
				return false;
			break;
		case OPT_DURABLE_COUNT:
			if (!parse_count("durable-count", optarg, 1,
					 DURABLE_COUNT_MAX,
					 &cfg->durable_count))
				return false;
			durable_set = true;
			break;
		case OPT_MIX_COUNT:
			if (!parse_count("mix-count", optarg, 1, MIX_COUNT_MAX,
					 &cfg->mix_count))
				return false;
			mix_set = true;
			break;
		case OPT_WRITER_COUNT:
			if (!parse_count("writer-count", optarg, 1,
					 WRITER_COUNT_MAX, &cfg->writer_count))
				return false;
			writer_set = true;
			break;
		case OPT_DURABLE_SECONDS:
			if (!parse_seconds(optarg, &cfg->budget_s)) {
				fprintf(stderr, "logkeep-bench: "
					"--durable-seconds: above 0, at most "
					"%.0f\n", BUDGET_S_MAX);
				return false;
			}
			break;
		case OPT_DIR:
			cfg->dir = optarg;
			break;
		case OPT_KEEP:
			cfg->keep = true;
			break;
		case OPT_MD:
			cfg->md_path = optarg;
			break;
		case OPT_JSON:
			cfg->json_path = optarg;
			break;
		case OPT_PLOT:
			cfg->plot_dir = optarg;
			break;
		case OPT_SMOKE:
			cfg->smoke = true;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return false;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "logkeep-bench: unexpected argument %s\n",
			argv[optind]);
		return false;
	}
	/* --smoke shrinks the defaults; explicit sizes still win. */
	if (cfg->smoke) {
		if (!keys_set)
			cfg->keys = SMOKE_KEYS;
		if (!durable_set)
			cfg->durable_count = SMOKE_DURABLE_COUNT;
		if (!mix_set)
			cfg->mix_count = SMOKE_MIX_COUNT;
		if (!writer_set)
			cfg->writer_count = SMOKE_WRITER_COUNT;
		if (!reps_set)
			cfg->reps = 1;
		cfg->settle_quiet_ms = SMOKE_SETTLE_QUIET_MS;
		cfg->probe = (struct probe_config){
			.syncs = SMOKE_PROBE_SYNCS,
			.file_bytes = SMOKE_PROBE_FILE_BYTES,
			.reads = SMOKE_PROBE_READS,
			.chase_reads = SMOKE_PROBE_CHASE_READS,
			.gc_seconds = SMOKE_PROBE_GC_SECONDS };
	}
	return true;
}

/* Makes the bench directory: --dir (made if missing) or a new one under
 * /var/tmp (a disk, where /tmp may be memory).  *made: ours to remove. */
static bool make_root(const struct config *cfg, char root[PATH_MAX],
		      bool *made)
{
	*made = false;
	if (cfg->dir == NULL) {
		strcpy(root, "/var/tmp/logkeep-bench.XXXXXX");
		if (mkdtemp(root) == NULL) {
			fprintf(stderr, "logkeep-bench: mkdtemp %s: %s\n",
				root, strerror(errno));
			return false;
		}
		*made = true;
		return true;
	}
	if (strlen(cfg->dir) >= PATH_MAX) {
		fprintf(stderr, "logkeep-bench: --dir too long\n");
		return false;
	}
	strcpy(root, cfg->dir);
	if (mkdir(root, 0700) == 0)
		*made = true;
	else if (errno != EEXIST) {
		fprintf(stderr, "logkeep-bench: mkdir %s: %s\n", root,
			strerror(errno));
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	static struct config cfg = {
		.keys = KEYS_DEFAULT,
		.durable_count = DURABLE_COUNT_DEFAULT,
		.mix_count = MIX_COUNT_DEFAULT,
		.writer_count = WRITER_COUNT_DEFAULT,
		.budget_s = BUDGET_S_DEFAULT,
		.reps = REPS_DEFAULT,
		.settle_quiet_ms = SETTLE_QUIET_MS,
		.probe = { .syncs = PROBE_SYNCS,
			   .file_bytes = PROBE_FILE_BYTES,
			   .reads = PROBE_READS,
			   .chase_reads = PROBE_CHASE_READS,
			   .gc_seconds = PROBE_GC_SECONDS },
	};
	const struct engine_ops *run_engines[ENGINE_COUNT];
	size_t engine_count = 0;
	struct results *res = NULL;
	struct probe *probes = NULL;
	char root[PATH_MAX] = "";
	bool root_made = false;
	int exit_code = 1;

	/* Every field is a figure of the report, so none goes unreported. */
	assert(figure_count * sizeof(double) == sizeof(struct results));
	assert(probe_figure_count * sizeof(double) == sizeof(struct probe));
	for (size_t k = 0; k < ENGINE_COUNT; k++)
		cfg.selected[k] = true;
	if (!parse_options(&cfg, argc, argv))
		return 2;
	/* from the key count, which the options may have set */
	cfg.probe.index_bytes = cfg.keys * PROBE_INDEX_BYTES_PER_KEY;
	cfg.probe.snapshot_bytes = cfg.keys * PROBE_SNAPSHOT_BYTES_PER_KEY;
	for (size_t k = 0; k < ENGINE_COUNT; k++) {
		if (cfg.selected[k])
			run_engines[engine_count++] = engines[k];
	}
	res = calloc((size_t)cfg.reps * engine_count, sizeof *res);
	probes = calloc(cfg.reps, sizeof *probes);
	if (res == NULL || probes == NULL) {
		fprintf(stderr, "logkeep-bench: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < (size_t)cfg.reps * engine_count; i++)
		results_init(&res[i]);
	if (!make_root(&cfg, root, &root_made))
		goto out;

	long rss_harness_kib = rss_now_kib();
	time_t started = time(NULL);
	for (unsigned rep = 0; rep < cfg.reps; rep++) {
		char err[ENGINE_ERR_BYTES];

		fprintf(stderr, "logkeep-bench: rep %u: probe ...", rep + 1);
		uint64_t t0 = now_ns();
		if (!probe_run(&probes[rep], root, &cfg.probe, err,
			       sizeof err)) {
			fprintf(stderr, " failed\nlogkeep-bench: %s\n", err);
			goto out;
		}
		fprintf(stderr, " %.2f s\n", (double)(now_ns() - t0) / 1e9);
		/* Rotated order: engine (rep + i) mod count runs i-th. */
		for (size_t i = 0; i < engine_count; i++) {
			size_t k = (rep + i) % engine_count;
			if (!run_engine(&cfg, run_engines[k], root, rep,
					&res[rep * engine_count + k]))
				goto out;
		}
	}

	struct report rp = {
		.version = LK_VERSION_STRING,
		.smoke = cfg.smoke,
		.keys = cfg.keys,
		.key_bytes = KEY_BYTES,
		.value_bytes = VALUE_BYTES,
		.batch_ops = BATCH_OPS,
		.durable_count = cfg.durable_count,
		.mix_count = cfg.mix_count,
		.mix_put_percent = MIX_PUT_PERCENT,
		.writer_threads = WRITER_THREADS,
		.writer_count = cfg.writer_count,
		.budget_s = cfg.budget_s,
		.killed_count = killed_count(&cfg),
		.dir = root,
		.started = started,
		.wall_s = difftime(time(NULL), started),
		.rss_harness_kib = rss_harness_kib,
		.engine_count = engine_count,
		.engines = run_engines,
		.reps = cfg.reps,
		.res = res,
		.probes = probes,
	};
	if (!report_write(&rp, cfg.md_path, cfg.json_path, cfg.plot_dir))
		goto out;
	exit_code = 0;

out:
	free(res);
	free(probes);
	if (cfg.keep && root[0] != '\0') {
		fprintf(stderr, "logkeep-bench: kept %s\n", root);
	} else if (root_made && !remove_tree(root)) {
		fprintf(stderr, "logkeep-bench: could not remove all of %s\n",
			root);
		exit_code = 1;
	}
	return exit_code;
}
