/* SPDX-License-Identifier: MIT */
/*
 * bench.c - logkeep-bench, the benchmark of SPEC §10: the same workloads run
 * against each storage engine in one run, reported as a table on stdout and,
 * with --json FILE, as one JSON object for comparing engines and runs.
 *
 * Design
 * ------
 * Two tables drive everything:
 *
 *   engines[]    adapters: a struct engine_ops of function pointers (open,
 *                close, put_batch, put_durable, get, stats).  logkeep is the
 *                first; the peers of SPEC §10 (SQLite, LMDB, RocksDB) join
 *                the table later, each in its own adapter section.
 *   workloads[]  functions run in order against one open engine; each fills
 *                in some of the engine's figures (struct results).
 *
 * Each engine gets its own subdirectory of the bench directory and the whole
 * workload table.  An adapter call returns true on success; on failure it
 * writes what went wrong into engine->err and returns false.  The harness's
 * own checks (a hit with the wrong value, a miss that was found) fail the
 * same way, and the bench then stops with exit status 1: --smoke under
 * `meson test` passes only if every engine call succeeded and every value
 * read back was right.
 *
 * Data
 * ----
 * Nothing is stored by the bench: key id i is 16 bytes of a bijective mix of
 * i (distinct ids give distinct keys), its value 100 pseudo-random bytes
 * seeded by i (not compressible), and orders are pseudo-random permutations
 * of [0, n) computed on the fly (a Feistel network with cycle walking).  So
 * the bench's own memory is a few blocks of 1000 operations, and the peak
 * RSS is mostly the engine's.
 *
 *   ids [0, N)               the batched fill, in permuted order; the hits
 *   ids [N, N + D)           the durable single puts: new keys, D <= count
 *   ids [2^40, 2^40 + N)     the misses: never written
 *
 * A value is seeded by its id and a salt.  Every workload writes the
 * salt SALT_VALUE (so the overwrites rewrite the same bytes), except the
 * killed writer, whose SALT_KILLED values differ from what was there:
 * finding them after its crash shows its writes survived, not the fill's.
 *
 * Timing
 * ------
 * CLOCK_MONOTONIC.  Keys and values are generated and results checked
 * outside the timed regions: fill and gets prepare a block of up to 1000
 * operations, time the block, then check it.  Durable puts and the baseline
 * are timed one operation at a time, for latency percentiles.  Nothing is
 * asserted about a figure (the machine is shared and noisy): the bench
 * reports.
 *
 * Restart
 * -------
 * logkeep's open loads an index snapshot and replays only the log after
 * it.  Three opens of the database are timed: after a clean close (which
 * writes one), of the same files with the snapshot files renamed aside
 * (the whole log replayed: what an open costs without one), and after a
 * forked writer died by SIGKILL without closing (the log after its last
 * snapshot replayed).  Each reports whether a snapshot was used and the
 * records replayed; n/a for engines without snapshots.
 *
 * The baseline "append 4 KiB + fdatasync" is the one place the bench does
 * I/O on data itself: what one durable write costs on this file system
 * without any engine.  It runs right after each engine's durable puts, in
 * the same directory, so the ratio compares two figures taken under the
 * same load.  (Making and removing the bench directory is housekeeping.)
 */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
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
#include "logkeep.h"

/* ---------------------------------------------------------------------- */
/* Parameters                                                             */
/* ---------------------------------------------------------------------- */

#define KEY_BYTES 16u
#define VALUE_BYTES 100u
#define BATCH_OPS 1000u  /* puts per batch in the fill */
#define BLOCK_OPS 1000u  /* operations prepared, timed, then checked */

#define KEYS_DEFAULT UINT64_C(1000000)
#define DURABLE_COUNT_DEFAULT UINT64_C(5000)
#define DURABLE_BUDGET_S_DEFAULT 5.0
#define SMOKE_KEYS UINT64_C(2000)
#define SMOKE_DURABLE_COUNT UINT64_C(50)

#define BASELINE_WRITE_BYTES 4096u

/* The misses' ids start here; written ids stay below it. */
#define MISS_ID_BASE (UINT64_C(1) << 40)
/* 2^32 keys is far past any machine this runs on, and keeps every written
 * id (fill and durable) below MISS_ID_BASE. */
#define KEYS_MAX (UINT64_C(1) << 32)
#define DURABLE_COUNT_MAX UINT64_C(10000000) /* 80 MB of latency samples */
#define DURABLE_BUDGET_S_MAX 3600.0

#define SEED_FILL UINT64_C(1)
#define SEED_GET_HIT UINT64_C(2)
#define SEED_GET_MISS UINT64_C(3)
#define SEED_OVERWRITE UINT64_C(4)
#define SEED_KILLED UINT64_C(5)
#define SALT_KEY UINT64_C(0x6c6f676b65657031)   /* "logkeep1" */
#define SALT_VALUE UINT64_C(0x76616c7565736565) /* "valuesee" */
#define SALT_BASELINE UINT64_C(0x626173656c696e65) /* "baseline" */
#define SALT_KILLED UINT64_C(0x6b696c6c65642121)   /* "killed!!" */

#define ERR_BYTES 512

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
/* Clocks and figures                                                     */
/* ---------------------------------------------------------------------- */

static double ops_per_s(uint64_t ops, uint64_t ns)
{
	if (ns == 0)
		return NAN;
	return (double)ops * 1e9 / (double)ns;
}

static long rss_peak_kib(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss; /* KiB on Linux */
}

/* ---------------------------------------------------------------------- */
/* The engine adapter                                                     */
/* ---------------------------------------------------------------------- */

struct bench_kv {
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len;
};

/* What an engine can tell about itself; NAN where it cannot. */
struct engine_stats {
	double live_keys;
	double disk_bytes;
	double index_bytes;
	double records_replayed; /* by the open that made the handle */
	double dead_bytes;
	double compactions;      /* by this handle */
	double compact_bytes_written;
	double compact_s;        /* time spent compacting */
	double compact_stall_us; /* longest hold of the index lock */
	double log_bytes_written;
	/* index snapshots (NAN: the engine keeps none) */
	double snapshot_used;    /* 1 if the open loaded one, else 0 */
	double snapshots_written; /* by this handle */
	double snapshot_bytes_written;
	double snapshot_behind_bytes; /* log after the newest: what an open
					 would replay */
	double snapshot_failures;
};

struct engine;

struct engine_ops {
	const char *name; /* also the name of its subdirectory */
	/* Opens the database in directory dir (which exists, maybe empty),
	 * configured so that put_batch and put_durable are durable when they
	 * return. */
	bool (*open)(struct engine *e, const char *dir);
	/* Closes (syncing) and frees the handle, even when it fails. */
	bool (*close)(struct engine *e);
	/* Writes count puts as one atomic, durable batch. */
	bool (*put_batch)(struct engine *e, const struct bench_kv *kv,
			  size_t count);
	/* Writes one put, durable when it returns. */
	bool (*put_durable)(struct engine *e, const struct bench_kv *kv);
	/* Looks up key.  *found says whether it is there; if so its value is
	 * copied into value (at most value_cap bytes) and its whole length
	 * stored in *value_len. */
	bool (*get)(struct engine *e, const void *key, size_t key_len,
		    void *value, size_t value_cap, size_t *value_len,
		    bool *found);
	bool (*stats)(struct engine *e, struct engine_stats *stats);
	/* NULL for an engine without snapshot files.  With the database
	 * closed, renames the snapshot files in dir so that open does not
	 * see them (hide), or back (!hide); *count: the files renamed. */
	bool (*hide_snapshots)(struct engine *e, const char *dir, bool hide,
			       size_t *count);
};

struct engine {
	const struct engine_ops *ops;
	void *impl;         /* the adapter's handle; NULL while closed */
	char err[ERR_BYTES]; /* what the last failure was */
};

static bool failf(struct engine *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool failf(struct engine *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->err, sizeof e->err, fmt, ap);
	va_end(ap);
	return false;
}

/* ---------------------------------------------------------------------- */
/* Adapter: logkeep                                                       */
/* ---------------------------------------------------------------------- */

struct lk_adapter {
	lk_db *db;
	lk_batch *batch; /* reused: lk_commit empties it */
};

/* Call lk_fail before anything that could replace the thread's lk_errmsg. */
static bool logkeep_fail(struct engine *e, const char *call, lk_status status)
{
	assert(status != LK_OK);
	return failf(e, "%s: %s: %s", call, lk_strerror(status), lk_errmsg());
}

static bool logkeep_open(struct engine *e, const char *dir)
{
	assert(e->impl == NULL);
	struct lk_adapter *a = calloc(1, sizeof *a);
	if (a == NULL)
		return failf(e, "out of memory");

	lk_options opts = LK_OPTIONS_INIT;
	opts.sync = LK_SYNC_ALWAYS; /* the default, and what we measure */

	lk_status status = lk_open(&a->db, dir, &opts);
	if (status != LK_OK) {
		logkeep_fail(e, "lk_open", status);
		goto fail;
	}
	status = lk_batch_new(&a->batch);
	if (status != LK_OK) {
		logkeep_fail(e, "lk_batch_new", status);
		goto fail;
	}
	e->impl = a;
	return true;

fail:
	lk_batch_free(a->batch);
	(void)lk_close(a->db); /* already failing: the first error is kept */
	free(a);
	return false;
}

static bool logkeep_close(struct engine *e)
{
	struct lk_adapter *a = e->impl;
	assert(a != NULL);
	e->impl = NULL;

	lk_batch_free(a->batch);
	lk_status status = lk_close(a->db);
	free(a);
	if (status != LK_OK)
		return logkeep_fail(e, "lk_close", status);
	return true;
}

static bool logkeep_put_batch(struct engine *e, const struct bench_kv *kv,
			      size_t count)
{
	struct lk_adapter *a = e->impl;
	assert(a != NULL && count > 0);

	for (size_t i = 0; i < count; i++) {
		lk_status status =
			lk_batch_put(a->batch, LK_NS_DEFAULT, kv[i].key,
				     kv[i].key_len, kv[i].value,
				     kv[i].value_len, 0);
		if (status != LK_OK) {
			logkeep_fail(e, "lk_batch_put", status);
			lk_batch_clear(a->batch);
			return false;
		}
	}
	size_t batched = lk_batch_count(a->batch);
	if (batched != count) {
		lk_batch_clear(a->batch);
		return failf(e, "lk_batch_count: %zu operations after %zu puts",
			     batched, count);
	}
	lk_status status = lk_commit(a->db, a->batch);
	if (status != LK_OK) {
		logkeep_fail(e, "lk_commit", status);
		lk_batch_clear(a->batch);
		return false;
	}
	return true;
}

static bool logkeep_put_durable(struct engine *e, const struct bench_kv *kv)
{
	struct lk_adapter *a = e->impl;
	assert(a != NULL);

	/* Under LK_SYNC_ALWAYS each lk_put is a commit: one fdatasync. */
	lk_status status = lk_put(a->db, LK_NS_DEFAULT, kv->key, kv->key_len,
				  kv->value, kv->value_len, 0);
	if (status != LK_OK)
		return logkeep_fail(e, "lk_put", status);
	return true;
}

static bool logkeep_get(struct engine *e, const void *key, size_t key_len,
			void *value, size_t value_cap, size_t *value_len,
			bool *found)
{
	struct lk_adapter *a = e->impl;
	assert(a != NULL);
	void *got = NULL;
	size_t got_len = 0;

	lk_status status = lk_get(&got, &got_len, a->db, LK_NS_DEFAULT, key,
				  key_len);
	if (status == LK_NOT_FOUND) {
		*found = false;
		*value_len = 0;
		return true;
	}
	if (status != LK_OK)
		return logkeep_fail(e, "lk_get", status);
	if (got == NULL)
		return failf(e, "lk_get: LK_OK with a NULL value");
	memcpy(value, got, got_len < value_cap ? got_len : value_cap);
	lk_free(got);
	*found = true;
	*value_len = got_len;
	return true;
}

static bool logkeep_stats(struct engine *e, struct engine_stats *stats)
{
	struct lk_adapter *a = e->impl;
	assert(a != NULL);
	lk_stats st = LK_STATS_INIT;
	lk_recovery_report report = LK_REPORT_INIT;

	memset(&st, 0, sizeof st);
	st.version = LK_STATS_VERSION;
	lk_status status = lk_stats_get(&st, a->db);
	if (status != LK_OK)
		return logkeep_fail(e, "lk_stats_get", status);

	memset(&report, 0, sizeof report);
	report.version = LK_REPORT_VERSION;
	status = lk_recovery(&report, a->db);
	if (status != LK_OK)
		return logkeep_fail(e, "lk_recovery", status);

	stats->live_keys = (double)st.live_keys;
	stats->disk_bytes = (double)st.disk_bytes;
	stats->index_bytes = (double)st.index_bytes;
	stats->records_replayed = (double)report.records_replayed;
	stats->dead_bytes = (double)st.dead_bytes;
	stats->compactions = (double)st.compactions;
	stats->compact_bytes_written = (double)st.compact_bytes_written;
	stats->compact_s = (double)st.compact_us / 1e6;
	stats->compact_stall_us = (double)st.compact_stall_max_us;
	stats->log_bytes_written = (double)st.log_bytes_written;
	stats->snapshot_used = report.snapshot_used ? 1 : 0;
	stats->snapshots_written = (double)st.snapshots_written;
	stats->snapshot_bytes_written = (double)st.snapshot_bytes_written;
	stats->snapshot_behind_bytes = (double)st.snapshot_behind_bytes;
	stats->snapshot_failures = (double)st.snapshot_failures;
	return true;
}

/* The file names are the engine's (engine/snapshot.h), not the public
 * API's: "<serial as 16 lowercase hex digits>.snap".  Open and its clean-up
 * recognise only those and "<...>.snap.tmp", so "<...>.snap.hidden" is a
 * stranger they leave alone. */
#define SNAP_HEX_DIGITS 16
#define SNAP_SUFFIX ".snap"
#define SNAP_HIDDEN_SUFFIX ".hidden"

/* Whether name is "<16 lowercase hex>.snap", followed by ".hidden" if
 * hidden. */
static bool is_snapshot_name(const char *name, bool hidden)
{
	for (int i = 0; i < SNAP_HEX_DIGITS; i++) {
		char c = name[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	const char *rest = name + SNAP_HEX_DIGITS;
	size_t len = strlen(SNAP_SUFFIX);
	if (strncmp(rest, SNAP_SUFFIX, len) != 0)
		return false;
	return strcmp(rest + len, hidden ? SNAP_HIDDEN_SUFFIX : "") == 0;
}

static bool logkeep_hide_snapshots(struct engine *e, const char *dir,
				   bool hide, size_t *count)
{
	assert(e->impl == NULL); /* only a closed database's files */
	DIR *d = opendir(dir);
	bool ok = true;

	*count = 0;
	if (d == NULL)
		return failf(e, "opendir %s: %s", dir, strerror(errno));
	/* Renaming while reading the directory may show a renamed file
	 * again under its new name; the two names never both match one
	 * pattern, so no file is renamed twice. */
	struct dirent *de;
	while (ok && (de = readdir(d)) != NULL) {
		char from[PATH_MAX], to[PATH_MAX];
		size_t len = strlen(de->d_name);
		int n1, n2;

		if (!is_snapshot_name(de->d_name, !hide))
			continue;
		n1 = snprintf(from, sizeof from, "%s/%s", dir, de->d_name);
		if (hide)
			n2 = snprintf(to, sizeof to, "%s/%s%s", dir,
				      de->d_name, SNAP_HIDDEN_SUFFIX);
		else
			n2 = snprintf(to, sizeof to, "%s/%.*s", dir,
				      (int)(len - strlen(SNAP_HIDDEN_SUFFIX)),
				      de->d_name);
		if (n1 < 0 || (size_t)n1 >= sizeof from || n2 < 0 ||
		    (size_t)n2 >= sizeof to) {
			ok = failf(e, "snapshot file name too long in %s", dir);
			break;
		}
		/* Putting one back may replace a snapshot of the same serial
		 * that the open without them wrote: both describe this
		 * database's log, and open checks whichever it finds. */
		if (rename(from, to) != 0) {
			ok = failf(e, "rename %s: %s", from, strerror(errno));
			break;
		}
		(*count)++;
	}
	closedir(d);
	return ok;
}

static const struct engine_ops logkeep_ops = {
	.name = "logkeep",
	.open = logkeep_open,
	.close = logkeep_close,
	.put_batch = logkeep_put_batch,
	.put_durable = logkeep_put_durable,
	.get = logkeep_get,
	.stats = logkeep_stats,
	.hide_snapshots = logkeep_hide_snapshots,
};

/* The engines of a run, in order.  Peers are appended here. */
static const struct engine_ops *const engines[] = {
	&logkeep_ops,
};
#define ENGINE_COUNT (sizeof engines / sizeof engines[0])

/* ---------------------------------------------------------------------- */
/* Figures                                                                */
/* ---------------------------------------------------------------------- */

/* One engine's figures; NAN until measured, and where not applicable. */
struct results {
	double fill_ops_s;
	double fill_s;
	double durable_ops;
	double durable_ops_s;
	double durable_p50_us;
	double durable_p99_us;
	double baseline_ops;
	double baseline_ops_s;
	double baseline_p50_us;
	double baseline_p99_us;
	double durable_vs_baseline;
	double close_ms;
	double reopen_ms;
	double reopen_snapshot_used;
	double records_replayed;
	double replay_hidden_files;
	double replay_ms;
	double replay_snapshot_used;
	double replay_records_replayed;
	double get_hit_ops_s;
	double get_miss_ops_s;
	double live_keys;
	double index_bytes;
	double index_bytes_per_key;
	double disk_bytes;
	double space_amplification;
	double overwrite_ops_s;
	double overwrite_stall_ms;
	double settle_s;
	double compactions;
	double compact_mb_s;
	double compact_stall_us;
	double overwrite_disk_bytes;
	double overwrite_space_amp;
	double overwrite_write_amp;
	double overwrite_snapshots;
	double overwrite_snapshot_bytes;
	double snapshot_mean_bytes;
	double snapshot_bytes_per_key;
	double overwrite_snapshot_failures;
	double overwrite_write_amp_snap;
	double overwrite_device_write_amp;
	double compact_bytes_written;
	double reopen_after_ms;
	double reopen_after_snapshot_used;
	double records_replayed_after;
	double killed_overwrites;
	double killed_behind_bytes;
	double killed_snapshots;
	double killed_reopen_ms;
	double killed_snapshot_used;
	double killed_records_replayed;
	double killed_checked;
};

/* The rows of the table and the members of each engine's JSON object. */
struct figure {
	const char *label;
	const char *unit;
	const char *json_name;
	size_t offset;
	int decimals;
};

#define FIGURE(label, unit, field, decimals)                                  \
	{ label, unit, #field, offsetof(struct results, field), decimals }

static const struct figure figures[] = {
	FIGURE("fill, batches of 1000, synced", "ops/s", fill_ops_s, 0),
	FIGURE("fill, engine time", "s", fill_s, 3),
	FIGURE("durable puts", "count", durable_ops, 0),
	FIGURE("durable puts", "ops/s", durable_ops_s, 1),
	FIGURE("durable puts latency p50", "us", durable_p50_us, 1),
	FIGURE("durable puts latency p99", "us", durable_p99_us, 1),
	FIGURE("baseline 4 KiB append+fdatasync", "count", baseline_ops, 0),
	FIGURE("baseline 4 KiB append+fdatasync", "ops/s", baseline_ops_s, 1),
	FIGURE("baseline latency p50", "us", baseline_p50_us, 1),
	FIGURE("baseline latency p99", "us", baseline_p99_us, 1),
	FIGURE("durable puts / baseline", "ratio", durable_vs_baseline, 3),
	FIGURE("close", "ms", close_ms, 2),
	FIGURE("reopen after clean close", "ms", reopen_ms, 2),
	FIGURE("snapshot used by it", "0/1", reopen_snapshot_used, 0),
	FIGURE("records replayed by reopen", "count", records_replayed, 0),
	FIGURE("snapshot files hidden", "count", replay_hidden_files, 0),
	FIGURE("reopen, full replay (hidden)", "ms", replay_ms, 2),
	FIGURE("snapshot used by it", "0/1", replay_snapshot_used, 0),
	FIGURE("records replayed by it", "count", replay_records_replayed, 0),
	FIGURE("gets, hits", "ops/s", get_hit_ops_s, 0),
	FIGURE("gets, misses", "ops/s", get_miss_ops_s, 0),
	FIGURE("live keys", "count", live_keys, 0),
	FIGURE("index", "bytes", index_bytes, 0),
	FIGURE("index per live key", "bytes", index_bytes_per_key, 2),
	FIGURE("disk", "bytes", disk_bytes, 0),
	FIGURE("space amplification", "ratio", space_amplification, 3),
	FIGURE("random overwrites, batches of 1000", "ops/s", overwrite_ops_s, 0),
	FIGURE("slowest overwrite batch", "ms", overwrite_stall_ms, 2),
	FIGURE("compaction settled after", "s", settle_s, 1),
	FIGURE("compactions", "count", compactions, 0),
	FIGURE("compaction throughput (written)", "MB/s", compact_mb_s, 1),
	FIGURE("longest index hold, compaction", "us", compact_stall_us, 0),
	FIGURE("disk after overwrites", "bytes", overwrite_disk_bytes, 0),
	FIGURE("space amp. after compaction", "ratio", overwrite_space_amp, 3),
	FIGURE("compaction wrote", "bytes", compact_bytes_written, 0),
	FIGURE("write amp., engine bytes", "ratio", overwrite_write_amp, 3),
	FIGURE("snapshots written", "count", overwrite_snapshots, 0),
	FIGURE("snapshots wrote", "bytes", overwrite_snapshot_bytes, 0),
	FIGURE("snapshot size, mean", "bytes", snapshot_mean_bytes, 0),
	FIGURE("snapshot per live key", "bytes", snapshot_bytes_per_key, 2),
	FIGURE("snapshot failures", "count", overwrite_snapshot_failures, 0),
	FIGURE("write amp., engine + snapshots", "ratio",
	       overwrite_write_amp_snap, 3),
	FIGURE("write amp., device (/proc io)", "ratio",
	       overwrite_device_write_amp, 3),
	FIGURE("reopen after compaction", "ms", reopen_after_ms, 2),
	FIGURE("snapshot used by it", "0/1", reopen_after_snapshot_used, 0),
	FIGURE("records replayed by it", "count", records_replayed_after, 0),
	FIGURE("killed writer: overwrites acked", "count", killed_overwrites,
	       0),
	FIGURE("its log after its last snapshot", "bytes",
	       killed_behind_bytes, 0),
	FIGURE("snapshots it wrote", "count", killed_snapshots, 0),
	FIGURE("reopen after killed writer", "ms", killed_reopen_ms, 2),
	FIGURE("snapshot used by it", "0/1", killed_snapshot_used, 0),
	FIGURE("records replayed by it", "count", killed_records_replayed, 0),
	FIGURE("its acked writes read back", "count", killed_checked, 0),
};
#define FIGURE_COUNT (sizeof figures / sizeof figures[0])

static double figure_value(const struct results *res, const struct figure *f)
{
	return *(const double *)(const void *)((const char *)res + f->offset);
}

static void results_init(struct results *res)
{
	for (size_t i = 0; i < FIGURE_COUNT; i++)
		*(double *)(void *)((char *)res + figures[i].offset) = NAN;
}

/* ---------------------------------------------------------------------- */
/* Workloads                                                              */
/* ---------------------------------------------------------------------- */

struct config {
	uint64_t keys;
	uint64_t durable_count;
	double durable_budget_s;
	const char *dir;       /* --dir, or NULL for a mkdtemp */
	const char *json_path; /* --json, or NULL */
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

/* One engine's run through the workload table. */
struct run {
	const struct config *cfg;
	struct engine engine;
	char root[PATH_MAX];          /* the bench directory */
	char dir[PATH_MAX];           /* the engine's database directory */
	struct results res;
	bool dir_made;                /* dir is ours to remove */
	uint64_t durable_done;        /* ids [N, N + durable_done) written */
	double *latency_us;           /* cfg->durable_count samples */
	struct block *blk;
};

struct workload {
	const char *name;
	bool (*run)(struct run *r);
};

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

/* Gets blk->ids[0..count) into the block and adds the time it took to *ns.
 * Only the engine calls are timed. */
static bool block_get(struct run *r, size_t count, uint64_t *ns)
{
	struct block *blk = r->blk;
	struct engine *e = &r->engine;

	for (size_t j = 0; j < count; j++)
		make_key(blk->keys[j], blk->ids[j]);
	uint64_t t0 = now_ns();
	for (size_t j = 0; j < count; j++) {
		if (!e->ops->get(e, blk->keys[j], KEY_BYTES, blk->values[j],
				 VALUE_BYTES, &blk->value_lens[j],
				 &blk->found[j]))
			return false;
	}
	*ns += now_ns() - t0;
	return true;
}

/* Checks that every key of the block was found with its value (of
 * salt). */
static bool block_check_hits(struct run *r, size_t count, uint64_t salt,
			     const char *what)
{
	struct block *blk = r->blk;
	uint8_t expected[VALUE_BYTES];

	for (size_t j = 0; j < count; j++) {
		uint64_t id = blk->ids[j];
		if (!blk->found[j])
			return failf(&r->engine, "%s: key id %" PRIu64
				     " not found", what, id);
		make_value(expected, id, salt);
		if (blk->value_lens[j] != VALUE_BYTES ||
		    memcmp(blk->values[j], expected, VALUE_BYTES) != 0)
			return failf(&r->engine, "%s: key id %" PRIu64
				     ": wrong value (%zu bytes)", what, id,
				     blk->value_lens[j]);
	}
	return true;
}

/* 1. Batched random fill: N keys in permuted order, BATCH_OPS per batch. */
static bool run_fill(struct run *r)
{
	_Static_assert(BATCH_OPS <= BLOCK_OPS, "a batch fits in a block");
	struct engine *e = &r->engine;
	uint64_t n = r->cfg->keys;
	struct perm order;
	uint64_t ns = 0;

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
	return true;
}

/* Sorts the latencies of count operations that took busy_ns in all. */
static void summarise(double *latency_us, size_t count, uint64_t busy_ns,
		      double *ops, double *ops_s, double *p50_us,
		      double *p99_us)
{
	qsort(latency_us, count, sizeof latency_us[0], cmp_double);
	*ops = (double)count;
	*ops_s = ops_per_s(count, busy_ns);
	*p50_us = percentile(latency_us, count, 50);
	*p99_us = percentile(latency_us, count, 99);
}

static bool write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO; /* a write of 0 bytes for len > 0 */
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* 2 and 3. Durable single puts of new keys into the filled database, and
 * the file-level baseline (append 4 KiB to a plain file, fdatasync), in
 * alternating rounds of DURABLE_ROUND operations each, until durable_count
 * of each or the time budget.  Alternating matters on a shared machine:
 * the other tenants' load drifts over seconds, and two figures taken one
 * after the other would compare the drift, not the two writers. */
#define DURABLE_ROUND 100

static bool baseline_op(struct engine *e, int fd, const uint8_t *buf,
			const char *path)
{
	if (!write_all(fd, buf, BASELINE_WRITE_BYTES))
		return failf(e, "baseline: write %s: %s", path,
			     strerror(errno));
	if (fdatasync(fd) != 0)
		return failf(e, "baseline: fdatasync %s: %s", path,
			     strerror(errno));
	return true;
}

static bool run_durable(struct run *r)
{
	struct engine *e = &r->engine;
	struct block *blk = r->blk;
	uint8_t buf[BASELINE_WRITE_BYTES];
	char path[PATH_MAX];
	uint64_t budget_ns = (uint64_t)(r->cfg->durable_budget_s * 1e9);
	uint64_t put_ns = 0, base_ns = 0;
	size_t done = 0, base_done = 0, count = r->cfg->durable_count;
	double *base_lat = NULL;
	bool ok = false;

	int len = snprintf(path, sizeof path, "%s/%s.baseline", r->root,
			   e->ops->name);
	if (len < 0 || (size_t)len >= sizeof path)
		return failf(e, "baseline: path too long");
	fill_random(buf, sizeof buf, SALT_BASELINE);
	base_lat = malloc((count ? count : 1) * sizeof *base_lat);
	if (!base_lat)
		return failf(e, "baseline: out of memory");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		      0600);
	if (fd < 0) {
		free(base_lat);
		return failf(e, "baseline: open %s: %s", path, strerror(errno));
	}

	uint64_t start = now_ns();
	while (done < count && now_ns() - start < budget_ns) {
		for (size_t i = 0; i < DURABLE_ROUND && done < count; i++) {
			blk->ids[0] = r->cfg->keys + done;
			block_prepare_puts(blk, 1, SALT_VALUE);
			uint64_t t0 = now_ns();
			if (!e->ops->put_durable(e, &blk->kv[0]))
				goto out;
			uint64_t t = now_ns() - t0;
			put_ns += t;
			r->latency_us[done++] = (double)t / 1e3;
			r->durable_done = done;
		}
		for (size_t i = 0; i < DURABLE_ROUND && base_done < count; i++) {
			uint64_t t0 = now_ns();
			if (!baseline_op(e, fd, buf, path))
				goto out;
			uint64_t t = now_ns() - t0;
			base_ns += t;
			base_lat[base_done++] = (double)t / 1e3;
		}
	}
	summarise(r->latency_us, done, put_ns, &r->res.durable_ops,
		  &r->res.durable_ops_s, &r->res.durable_p50_us,
		  &r->res.durable_p99_us);
	summarise(base_lat, base_done, base_ns, &r->res.baseline_ops,
		  &r->res.baseline_ops_s, &r->res.baseline_p50_us,
		  &r->res.baseline_p99_us);
	r->res.durable_vs_baseline =
		r->res.durable_ops_s / r->res.baseline_ops_s;
	ok = true;
out:
	free(base_lat);
	if (close(fd) != 0 && ok)
		ok = failf(e, "baseline: close %s: %s", path, strerror(errno));
	if (unlink(path) != 0 && ok)
		ok = failf(e, "baseline: unlink %s: %s", path, strerror(errno));
	return ok;
}

/* Opens the database (closed), timed, and gets the stats of the open. */
static bool timed_open(struct run *r, double *open_ms,
		       struct engine_stats *stats)
{
	struct engine *e = &r->engine;

	uint64_t t0 = now_ns();
	if (!e->ops->open(e, r->dir))
		return false;
	*open_ms = (double)(now_ns() - t0) / 1e6;
	return e->ops->stats(e, stats);
}

/* Closes and opens again, both timed.  For logkeep the close writes an
 * index snapshot (when at least 1 MiB of log is not covered by one) and
 * the open loads it and replays only the log after it. */
static bool timed_reopen(struct run *r, double *close_ms, double *open_ms,
			 struct engine_stats *stats)
{
	struct engine *e = &r->engine;

	uint64_t t0 = now_ns();
	if (!e->ops->close(e))
		return false;
	*close_ms = (double)(now_ns() - t0) / 1e6;
	return timed_open(r, open_ms, stats);
}

/* 5. Close, then open again, as a daemon restarts.  It runs before the
 * gets so that they also check what the open rebuilt. */
static bool run_reopen(struct run *r)
{
	struct engine_stats stats;

	if (!timed_reopen(r, &r->res.close_ms, &r->res.reopen_ms, &stats))
		return false;
	r->res.reopen_snapshot_used = stats.snapshot_used;
	r->res.records_replayed = stats.records_replayed;
	return true;
}

/* 5b. The same files opened without their snapshots: what the reopen
 * costs when it has to replay the whole log (no snapshot yet, or one
 * that no longer matches).  Close, hide the snapshot files, open (timed),
 * close, put them back and open again, so the workloads after this one
 * find the engine as "reopen" left it.  Engines without snapshot files
 * skip it (n/a).  If a step fails the files stay hidden: the run stops
 * anyway, and they are removed with the directory. */
static bool run_reopen_replay(struct run *r)
{
	struct engine *e = &r->engine;
	struct engine_stats stats;
	uint64_t keys = r->cfg->keys + r->durable_done;
	size_t hidden = 0, restored = 0;
	double ms;

	if (e->ops->hide_snapshots == NULL)
		return true;
	if (!e->ops->close(e) ||
	    !e->ops->hide_snapshots(e, r->dir, true, &hidden) ||
	    !timed_open(r, &r->res.replay_ms, &stats))
		return false;
	r->res.replay_hidden_files = (double)hidden;
	r->res.replay_snapshot_used = stats.snapshot_used;
	r->res.replay_records_replayed = stats.records_replayed;
	/* The figure is only what it says if no snapshot was used, and the
	 * replay rebuilt every key. */
	if (stats.snapshot_used != 0)
		return failf(e, "open with the snapshot files hidden used a "
			     "snapshot");
	if (!isnan(stats.live_keys) && stats.live_keys != (double)keys)
		return failf(e, "full replay: %.0f live keys, %" PRIu64
			     " written", stats.live_keys, keys);
	if (!e->ops->close(e) ||
	    !e->ops->hide_snapshots(e, r->dir, false, &restored))
		return false;
	if (restored != hidden)
		return failf(e, "%zu snapshot files hidden, %zu put back",
			     hidden, restored);
	return timed_open(r, &ms, &stats);
}

/* 4a. Gets of every filled key, in another permuted order. */
static bool run_get_hits(struct run *r)
{
	uint64_t n = r->cfg->keys;
	struct perm order;
	uint64_t ns = 0;

	perm_init(&order, n, SEED_GET_HIT);
	for (uint64_t i = 0; i < n; i += BLOCK_OPS) {
		size_t count = (size_t)(n - i < BLOCK_OPS ? n - i : BLOCK_OPS);
		for (size_t j = 0; j < count; j++)
			r->blk->ids[j] = perm_at(&order, i + j);
		if (!block_get(r, count, &ns) ||
		    !block_check_hits(r, count, SALT_VALUE, "get of a hit"))
			return false;
	}
	r->res.get_hit_ops_s = ops_per_s(n, ns);
	return true;
}

/* 4b. As many gets of keys never written. */
static bool run_get_misses(struct run *r)
{
	uint64_t n = r->cfg->keys;
	struct perm order;
	uint64_t ns = 0;

	perm_init(&order, n, SEED_GET_MISS);
	for (uint64_t i = 0; i < n; i += BLOCK_OPS) {
		size_t count = (size_t)(n - i < BLOCK_OPS ? n - i : BLOCK_OPS);
		for (size_t j = 0; j < count; j++)
			r->blk->ids[j] = MISS_ID_BASE + perm_at(&order, i + j);
		if (!block_get(r, count, &ns))
			return false;
		for (size_t j = 0; j < count; j++) {
			if (r->blk->found[j])
				return failf(&r->engine, "get of a miss: key "
					     "id %" PRIu64 " was found",
					     r->blk->ids[j]);
		}
	}
	r->res.get_miss_ops_s = ops_per_s(n, ns);
	return true;
}

/* Untimed: the durable puts survived the reopen with their values. */
static bool run_check_durable(struct run *r)
{
	uint64_t ns = 0;

	for (uint64_t i = 0; i < r->durable_done; i += BLOCK_OPS) {
		uint64_t left = r->durable_done - i;
		size_t count = (size_t)(left < BLOCK_OPS ? left : BLOCK_OPS);
		for (size_t j = 0; j < count; j++)
			r->blk->ids[j] = r->cfg->keys + i + j;
		if (!block_get(r, count, &ns) ||
		    !block_check_hits(r, count, SALT_VALUE,
				      "get of a durable put"))
			return false;
	}
	return true;
}

/* 6. Index bytes per key and space amplification, from the engine's
 * stats.  The logical size counts every key written, fill and durable. */
static bool run_space(struct run *r)
{
	struct engine_stats stats;
	uint64_t keys = r->cfg->keys + r->durable_done;

	if (!r->engine.ops->stats(&r->engine, &stats))
		return false;
	if (!isnan(stats.live_keys) && stats.live_keys != (double)keys)
		return failf(&r->engine, "stats: %.0f live keys, %" PRIu64
			     " written", stats.live_keys, keys);
	r->res.live_keys = stats.live_keys;
	r->res.index_bytes = stats.index_bytes;
	r->res.index_bytes_per_key = stats.index_bytes / stats.live_keys;
	r->res.disk_bytes = stats.disk_bytes;
	r->res.space_amplification =
		stats.disk_bytes / ((double)keys * (KEY_BYTES + VALUE_BYTES));
	return true;
}

/* Bytes this process caused to be written to storage (Linux
 * /proc/self/io write_bytes), or NAN. */
static double storage_bytes_written(void)
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

/* 7. As many random overwrites as keys, in synced batches of
 * OVERWRITE_BATCH like the fill (the slowest batch is the longest write
 * stall a writer saw), then a wait for automatic compaction to finish:
 * space amplification after it, and write amplification over the
 * overwrites' logical bytes, compaction included: as the engine counts
 * its writes (log appends, zero prefill, compaction output), then with
 * its index snapshots added (one after each compaction pass and one per
 * snapshot interval of log), and as the kernel counts this process's
 * writes to storage (/proc/self/io, which has the snapshots already and
 * adds the file system's rewrites of partial pages at each fdatasync). */
#define OVERWRITE_BATCH 1000u
#define SETTLE_QUIET_MS 3000u
#define SETTLE_LIMIT_MS 300000u

static bool run_overwrite(struct run *r)
{
	struct engine *e = &r->engine;
	uint64_t n = r->cfg->keys;
	uint64_t ns = 0, slowest = 0;
	struct engine_stats st;
	double written0 = storage_bytes_written();
	uint64_t x = SEED_OVERWRITE;

	if (!e->ops->stats(e, &st))
		return false;
	double log0 = st.log_bytes_written;
	double compact0 = st.compact_bytes_written;
	double snaps0 = st.snapshots_written;
	double snap_bytes0 = st.snapshot_bytes_written;
	double snap_failures0 = st.snapshot_failures;

	for (uint64_t i = 0; i < n; i += OVERWRITE_BATCH) {
		size_t count = (size_t)(n - i < OVERWRITE_BATCH
						? n - i
						: OVERWRITE_BATCH);
		for (size_t j = 0; j < count; j++) {
			x = mix64(x + i + j);
			r->blk->ids[j] = x % n;
		}
		block_prepare_puts(r->blk, count, SALT_VALUE);
		uint64_t t0 = now_ns();
		if (!e->ops->put_batch(e, r->blk->kv, count))
			return false;
		uint64_t t = now_ns() - t0;
		ns += t;
		if (t > slowest)
			slowest = t;
	}
	r->res.overwrite_ops_s = ops_per_s(n, ns);
	r->res.overwrite_stall_ms = (double)slowest / 1e6;

	/* Settled: no new compaction for SETTLE_QUIET_MS. */
	uint64_t t0 = now_ns(), quiet_since = t0;
	double last = -1;
	for (;;) {
		if (!e->ops->stats(e, &st))
			return false;
		uint64_t now = now_ns();
		if (st.compactions != last) {
			last = st.compactions;
			quiet_since = now;
		}
		if (isnan(st.compactions) ||
		    now - quiet_since >= SETTLE_QUIET_MS * 1000000ull ||
		    now - t0 >= SETTLE_LIMIT_MS * 1000000ull)
			break;
		sleep_ms(100);
	}
	r->res.settle_s = (double)(quiet_since - t0) / 1e9;
	r->res.compactions = st.compactions;
	r->res.compact_mb_s = st.compact_bytes_written / 1e6 / st.compact_s;
	r->res.compact_stall_us = st.compact_stall_us;
	r->res.overwrite_disk_bytes = st.disk_bytes;
	r->res.overwrite_space_amp =
		st.disk_bytes / (st.live_keys * (KEY_BYTES + VALUE_BYTES));
	double user = (double)n * (KEY_BYTES + VALUE_BYTES);
	r->res.compact_bytes_written = st.compact_bytes_written - compact0;
	r->res.overwrite_write_amp = (st.log_bytes_written - log0 +
				      st.compact_bytes_written - compact0) /
				     user;
	double snaps = st.snapshots_written - snaps0;
	double snap_bytes = st.snapshot_bytes_written - snap_bytes0;
	r->res.overwrite_snapshots = snaps;
	r->res.overwrite_snapshot_bytes = snap_bytes;
	r->res.overwrite_snapshot_failures =
		st.snapshot_failures - snap_failures0;
	if (snaps > 0) {
		r->res.snapshot_mean_bytes = snap_bytes / snaps;
		r->res.snapshot_bytes_per_key =
			r->res.snapshot_mean_bytes / st.live_keys;
	}
	r->res.overwrite_write_amp_snap = (st.log_bytes_written - log0 +
					   st.compact_bytes_written - compact0 +
					   snap_bytes) /
					  user;
	r->res.overwrite_device_write_amp =
		(storage_bytes_written() - written0) / user;
	return true;
}

/* 8. The reopen again, on the compacted log. */
static bool run_reopen_after(struct run *r)
{
	struct engine_stats stats;
	double close_ms;

	if (!timed_reopen(r, &close_ms, &r->res.reopen_after_ms, &stats))
		return false;
	r->res.reopen_after_snapshot_used = stats.snapshot_used;
	r->res.records_replayed_after = stats.records_replayed;
	return true;
}

/* 9. A writer that dies without closing: the parent closes its handle
 * (one writer at a time), a forked child opens the database as the bench
 * does, overwrites KILLED_OVERWRITES distinct keys (a permutation) with
 * new values in synced batches of OVERWRITE_BATCH, reporting each
 * acknowledged batch through a pipe, and kills itself with SIGKILL.  The
 * parent then times the open, which replays the log after the child's
 * last snapshot, reads back every acknowledged write and keeps the handle.
 *
 * Why 100,000: a writer killed at a random moment leaves on average half
 * a snapshot interval of log after its last snapshot; 100,000 records of
 * 16 + 100 bytes are about 12.7 MB of log, some 38% of the default 32 MiB
 * interval, and under a whole one, so the child writes no interval
 * snapshot and the open replays all of its writes (unless a compaction
 * ran in the child: "snapshots it wrote" and "its log after its last
 * snapshot" say what happened). */
#define KILLED_OVERWRITES UINT64_C(100000)

/* The child's overwrites: KILLED_OVERWRITES, or every key if fewer. */
static uint64_t killed_count(const struct config *cfg)
{
	return cfg->keys < KILLED_OVERWRITES ? cfg->keys : KILLED_OVERWRITES;
}

/* What the child sends after each acknowledged batch. */
struct killed_msg {
	uint64_t acked;      /* overwrites acknowledged so far */
	double behind_bytes; /* log after its newest snapshot (NAN: none) */
	double snapshots;    /* snapshots it wrote */
};

/* The child: never returns, and never closes the database. */
static _Noreturn void killed_writer(struct run *r, int fd, uint64_t count)
{
	struct engine *e = &r->engine;
	struct engine_stats st;
	struct perm order;

	perm_init(&order, r->cfg->keys, SEED_KILLED);
	if (!e->ops->open(e, r->dir))
		goto fail;
	for (uint64_t i = 0; i < count; i += OVERWRITE_BATCH) {
		size_t n = (size_t)(count - i < OVERWRITE_BATCH
						? count - i
						: OVERWRITE_BATCH);
		for (size_t j = 0; j < n; j++)
			r->blk->ids[j] = perm_at(&order, i + j);
		block_prepare_puts(r->blk, n, SALT_KILLED);
		if (!e->ops->put_batch(e, r->blk->kv, n) ||
		    !e->ops->stats(e, &st))
			goto fail;
		struct killed_msg msg = { i + n, st.snapshot_behind_bytes,
					  st.snapshots_written };
		/* Under PIPE_BUF bytes: written and read whole. */
		if (!write_all(fd, (const uint8_t *)&msg, sizeof msg)) {
			failf(e, "pipe: %s", strerror(errno));
			goto fail;
		}
	}
	raise(SIGKILL);
	failf(e, "raise(SIGKILL) returned");
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
	struct engine_stats stats;
	struct killed_msg msg, last = { 0, NAN, NAN };
	uint64_t count = killed_count(r->cfg);
	uint64_t ns = 0;
	struct perm order;
	int fds[2], status;

	if (!e->ops->close(e))
		return false;
	if (pipe(fds) != 0)
		return failf(e, "pipe: %s", strerror(errno));
	/* Nothing buffered is written twice; the child never flushes. */
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		failf(e, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return false;
	}
	if (pid == 0) {
		close(fds[0]);
		killed_writer(r, fds[1], count);
	}
	close(fds[1]);
	bool ok = true;
	for (;;) {
		ssize_t n = read(fds[0], &msg, sizeof msg);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			break; /* the child is gone */
		if (n != (ssize_t)sizeof msg) {
			ok = failf(e, "pipe: %s", n < 0 ? strerror(errno)
						       : "a short message");
			break;
		}
		last = msg;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return failf(e, "waitpid: %s", strerror(errno));
	}
	if (!ok)
		return false;
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		return failf(e, "the killed writer ended otherwise (wait "
			     "status %d); its error is above", status);
	if (last.acked != count)
		return failf(e, "the killed writer acknowledged %" PRIu64
			     " of %" PRIu64 " overwrites", last.acked, count);

	if (!timed_open(r, &r->res.killed_reopen_ms, &stats))
		return false;
	r->res.killed_overwrites = (double)last.acked;
	r->res.killed_behind_bytes = last.behind_bytes;
	r->res.killed_snapshots = last.snapshots;
	r->res.killed_snapshot_used = stats.snapshot_used;
	r->res.killed_records_replayed = stats.records_replayed;

	/* Untimed: every acknowledged write is there with the child's value. */
	perm_init(&order, r->cfg->keys, SEED_KILLED);
	for (uint64_t i = 0; i < last.acked; i += BLOCK_OPS) {
		uint64_t left = last.acked - i;
		size_t n = (size_t)(left < BLOCK_OPS ? left : BLOCK_OPS);
		for (size_t j = 0; j < n; j++)
			r->blk->ids[j] = perm_at(&order, i + j);
		if (!block_get(r, n, &ns) ||
		    !block_check_hits(r, n, SALT_KILLED,
				      "get of a killed writer's overwrite"))
			return false;
	}
	r->res.killed_checked = (double)last.acked;
	return true;
}

/* In order: each may rely on the ones before it. */
static const struct workload workloads[] = {
	{ "fill", run_fill },
	{ "durable+baseline", run_durable },
	{ "reopen", run_reopen },
	{ "reopen, full replay", run_reopen_replay },
	{ "get-hit", run_get_hits },
	{ "get-miss", run_get_misses },
	{ "check-durable", run_check_durable },
	{ "space", run_space },
	{ "overwrite+compaction", run_overwrite },
	{ "reopen after compaction", run_reopen_after },
	{ "killed writer", run_killed },
};
#define WORKLOAD_COUNT (sizeof workloads / sizeof workloads[0])

/* Runs every workload against one engine in its own directory under root.
 * On failure, prints what failed and returns false. */
static bool run_engine(struct run *r, const char *root)
{
	struct engine *e = &r->engine;
	const char *name = e->ops->name;
	const char *step = "setup";
	bool ok = false;

	int len = snprintf(r->dir, sizeof r->dir, "%s/%s", root, name);
	if (len < 0 || (size_t)len >= sizeof r->dir) {
		failf(e, "directory name too long");
		goto out;
	}
	/* A fresh directory: never fill, or remove, a database found there. */
	if (mkdir(r->dir, 0700) != 0) {
		failf(e, "mkdir %s: %s", r->dir, strerror(errno));
		goto out;
	}
	r->dir_made = true;
	step = "open";
	if (!e->ops->open(e, r->dir))
		goto out;
	for (size_t i = 0; i < WORKLOAD_COUNT; i++) {
		step = workloads[i].name;
		fprintf(stderr, "logkeep-bench: %s: %s ...", name, step);
		fflush(stderr);
		uint64_t t0 = now_ns();
		if (!workloads[i].run(r)) {
			fprintf(stderr, " failed\n");
			goto out;
		}
		fprintf(stderr, " %.2f s\n", (double)(now_ns() - t0) / 1e9);
	}
	step = "close";
	ok = e->ops->close(e);
out:
	if (!ok)
		fprintf(stderr, "logkeep-bench: %s: %s: %s\n", name, step,
			e->err);
	if (e->impl != NULL)
		(void)e->ops->close(e); /* after a failure: best effort */
	return ok;
}

/* ---------------------------------------------------------------------- */
/* Output                                                                 */
/* ---------------------------------------------------------------------- */

#define LABEL_WIDTH 32
#define UNIT_WIDTH 6
#define COLUMN_WIDTH 16

static void print_table(const struct config *cfg, const char *root,
			const struct run *runs, long rss_start, long rss_peak)
{
	printf("logkeep-bench %s%s: %" PRIu64 " keys, %u-byte keys, "
	       "%u-byte values\n", LK_VERSION_STRING,
	       cfg->smoke ? " (smoke)" : "", cfg->keys, KEY_BYTES,
	       VALUE_BYTES);
	printf("durable puts and baseline: at most %" PRIu64 " ops or "
	       "%g s; directory %s%s\n", cfg->durable_count,
	       cfg->durable_budget_s, root, cfg->keep ? " (kept)" : "");
	printf("full replay: the same files, snapshot files renamed aside; "
	       "killed writer: a child\nprocess overwrites %" PRIu64
	       " distinct keys in synced batches of %u, then SIGKILL\n\n",
	       killed_count(cfg), OVERWRITE_BATCH);

	printf("%-*s %-*s", LABEL_WIDTH, "figure", UNIT_WIDTH, "unit");
	for (size_t k = 0; k < ENGINE_COUNT; k++)
		printf(" %*s", COLUMN_WIDTH, runs[k].engine.ops->name);
	printf("\n");
	for (size_t i = 0; i < FIGURE_COUNT; i++) {
		printf("%-*s %-*s", LABEL_WIDTH, figures[i].label, UNIT_WIDTH,
		       figures[i].unit);
		for (size_t k = 0; k < ENGINE_COUNT; k++) {
			double v = figure_value(&runs[k].res, &figures[i]);
			if (isnan(v))
				printf(" %*s", COLUMN_WIDTH, "n/a");
			else
				printf(" %*.*f", COLUMN_WIDTH,
				       figures[i].decimals, v);
		}
		printf("\n");
	}
	/* Per process, not per engine: with peers in the run, the peak is the
	 * largest of them and the harness. */
	printf("%-*s %-*s %*ld\n", LABEL_WIDTH, "peak RSS, whole process",
	       UNIT_WIDTH, "KiB", COLUMN_WIDTH, rss_peak);
	printf("%-*s %-*s %*ld\n", LABEL_WIDTH, "RSS before any engine",
	       UNIT_WIDTH, "KiB", COLUMN_WIDTH, rss_start);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_number(FILE *f, double v, int decimals)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.*f", decimals, v);
}

static bool write_json(const char *path, const struct config *cfg,
		       const char *root, const struct run *runs,
		       long rss_start, long rss_peak)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		fprintf(stderr, "logkeep-bench: %s: %s\n", path,
			strerror(errno));
		return false;
	}
	fprintf(f, "{\n  \"bench\": \"logkeep-bench\",\n");
	fprintf(f, "  \"logkeep_version\": \"%s\",\n", LK_VERSION_STRING);
	fprintf(f, "  \"smoke\": %s,\n", cfg->smoke ? "true" : "false");
	fprintf(f, "  \"keys\": %" PRIu64 ",\n", cfg->keys);
	fprintf(f, "  \"key_bytes\": %u,\n", KEY_BYTES);
	fprintf(f, "  \"value_bytes\": %u,\n", VALUE_BYTES);
	fprintf(f, "  \"batch_ops\": %u,\n", BATCH_OPS);
	fprintf(f, "  \"durable_count_max\": %" PRIu64 ",\n",
		cfg->durable_count);
	fprintf(f, "  \"durable_budget_s\": %.3f,\n", cfg->durable_budget_s);
	fprintf(f, "  \"baseline_write_bytes\": %u,\n", BASELINE_WRITE_BYTES);
	fprintf(f, "  \"killed_writer_overwrites\": %" PRIu64 ",\n",
		killed_count(cfg));
	fprintf(f, "  \"dir\": ");
	json_string(f, root);
	fprintf(f, ",\n  \"rss_start_kib\": %ld,\n", rss_start);
	fprintf(f, "  \"rss_peak_kib\": %ld,\n", rss_peak);
	fprintf(f, "  \"engines\": [");
	for (size_t k = 0; k < ENGINE_COUNT; k++) {
		fprintf(f, "%s\n    {\n      \"engine\": ", k ? "," : "");
		json_string(f, runs[k].engine.ops->name);
		for (size_t i = 0; i < FIGURE_COUNT; i++) {
			fprintf(f, ",\n      \"%s\": ", figures[i].json_name);
			json_number(f, figure_value(&runs[k].res, &figures[i]),
				    figures[i].decimals);
		}
		fprintf(f, "\n    }");
	}
	fprintf(f, "\n  ]\n}\n");

	bool ok = !ferror(f);
	if (fclose(f) != 0)
		ok = false;
	if (!ok)
		fprintf(stderr, "logkeep-bench: writing %s failed\n", path);
	return ok;
}

/* ---------------------------------------------------------------------- */
/* Housekeeping: the bench directory                                      */
/* ---------------------------------------------------------------------- */


/* ---------------------------------------------------------------------- */
/* Options and main                                                       */
/* ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: logkeep-bench [options]\n"
		"  --keys N             keys to fill (default %" PRIu64 ")\n"
		"  --durable-count N    most durable single puts, and baseline "
		"writes (default %" PRIu64 ")\n"
		"  --durable-seconds S  time budget of each (default %.0f)\n"
		"  --dir PATH           bench directory (default: a new one "
		"under /var/tmp)\n"
		"  --keep               keep the databases at the end\n"
		"  --json FILE          also write the figures as JSON\n"
		"  --smoke              tiny run for meson test (%" PRIu64
		" keys, %" PRIu64 " durable puts)\n"
		"  --help\n"
		"Exit status: 0 when every engine call succeeded and every "
		"read was right,\n1 otherwise, 2 on bad usage.\n",
		KEYS_DEFAULT, DURABLE_COUNT_DEFAULT, DURABLE_BUDGET_S_DEFAULT,
		SMOKE_KEYS, SMOKE_DURABLE_COUNT);
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
	    v > DURABLE_BUDGET_S_MAX)
		return false;
	*out = v;
	return true;
}

enum {
	OPT_KEYS = 256,
	OPT_DURABLE_COUNT,
	OPT_DURABLE_SECONDS,
	OPT_DIR,
	OPT_KEEP,
	OPT_JSON,
	OPT_SMOKE,
	OPT_HELP,
};

static bool parse_options(struct config *cfg, int argc, char **argv)
{
	static const struct option options[] = {
		{ "keys", required_argument, NULL, OPT_KEYS },
		{ "durable-count", required_argument, NULL, OPT_DURABLE_COUNT },
		{ "durable-seconds", required_argument, NULL,
		  OPT_DURABLE_SECONDS },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "smoke", no_argument, NULL, OPT_SMOKE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	bool keys_set = false;
	bool durable_set = false;
	int c;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_KEYS:
			if (!parse_u64(optarg, 1, KEYS_MAX, &cfg->keys)) {
				fprintf(stderr, "logkeep-bench: --keys: 1 to "
					"%" PRIu64 "\n", KEYS_MAX);
				return false;
			}
			keys_set = true;
			break;
		case OPT_DURABLE_COUNT:
			if (!parse_u64(optarg, 1, DURABLE_COUNT_MAX,
				       &cfg->durable_count)) {
				fprintf(stderr, "logkeep-bench: --durable-count"
					": 1 to %" PRIu64 "\n",
					DURABLE_COUNT_MAX);
				return false;
			}
			durable_set = true;
			break;
		case OPT_DURABLE_SECONDS:
			if (!parse_seconds(optarg, &cfg->durable_budget_s)) {
				fprintf(stderr, "logkeep-bench: "
					"--durable-seconds: above 0, at most "
					"%.0f\n", DURABLE_BUDGET_S_MAX);
				return false;
			}
			break;
		case OPT_DIR:
			cfg->dir = optarg;
			break;
		case OPT_KEEP:
			cfg->keep = true;
			break;
		case OPT_JSON:
			cfg->json_path = optarg;
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
	if (cfg->smoke && !keys_set)
		cfg->keys = SMOKE_KEYS;
	if (cfg->smoke && !durable_set)
		cfg->durable_count = SMOKE_DURABLE_COUNT;
	return true;
}

int main(int argc, char **argv)
{
	struct config cfg = {
		.keys = KEYS_DEFAULT,
		.durable_count = DURABLE_COUNT_DEFAULT,
		.durable_budget_s = DURABLE_BUDGET_S_DEFAULT,
	};
	struct run runs[ENGINE_COUNT];
	char root[PATH_MAX];
	bool root_made = false; /* ours to remove, not only its contents */
	size_t runs_started = 0;
	int exit_code = 1;

	if (!parse_options(&cfg, argc, argv))
		return 2;
	memset(runs, 0, sizeof runs);
	long rss_start = rss_peak_kib();

	if (cfg.dir == NULL) {
		strcpy(root, "/var/tmp/logkeep-bench.XXXXXX");
		if (mkdtemp(root) == NULL) {
			fprintf(stderr, "logkeep-bench: mkdtemp %s: %s\n",
				root, strerror(errno));
			return 1;
		}
		root_made = true;
	} else {
		if (strlen(cfg.dir) >= sizeof root) {
			fprintf(stderr, "logkeep-bench: --dir too long\n");
			return 2;
		}
		strcpy(root, cfg.dir);
		if (mkdir(root, 0700) == 0) {
			root_made = true;
		} else if (errno != EEXIST) {
			fprintf(stderr, "logkeep-bench: mkdir %s: %s\n", root,
				strerror(errno));
			return 1;
		}
	}

	for (size_t k = 0; k < ENGINE_COUNT; k++) {
		struct run *r = &runs[k];
		r->cfg = &cfg;
		r->engine.ops = engines[k];
		strcpy(r->root, root);
		results_init(&r->res);
		r->latency_us = calloc((size_t)cfg.durable_count,
				       sizeof r->latency_us[0]);
		r->blk = calloc(1, sizeof *r->blk);
		runs_started = k + 1;
		if (r->latency_us == NULL || r->blk == NULL) {
			fprintf(stderr, "logkeep-bench: out of memory\n");
			goto out;
		}
		bool ok = run_engine(r, root);
		free(r->latency_us);
		free(r->blk);
		r->latency_us = NULL;
		r->blk = NULL;
		if (!ok)
			goto out;
	}

	long rss_peak = rss_peak_kib();
	print_table(&cfg, root, runs, rss_start, rss_peak);
	if (fflush(stdout) != 0)
		goto out;
	if (cfg.json_path != NULL &&
	    !write_json(cfg.json_path, &cfg, root, runs, rss_start, rss_peak))
		goto out;
	exit_code = 0;

out:
	for (size_t k = 0; k < runs_started; k++) {
		free(runs[k].latency_us);
		free(runs[k].blk);
	}
	if (cfg.keep) {
		fprintf(stderr, "logkeep-bench: kept %s\n", root);
	} else {
		bool removed = true;
		if (root_made) {
			removed = remove_tree(root);
		} else {
			for (size_t k = 0; k < runs_started; k++) {
				if (runs[k].dir_made &&
				    !remove_tree(runs[k].dir))
					removed = false;
			}
		}
		if (!removed)
			fprintf(stderr, "logkeep-bench: could not remove all "
				"of %s\n", root);
	}
	return exit_code;
}
