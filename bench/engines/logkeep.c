/* SPDX-License-Identifier: MIT */
/*
 * logkeep.c - the bench's driver for logkeep itself, through the public
 * API only (logkeep.h).
 *
 * Configuration: the defaults, which is what a mesh daemon gets:
 * LK_SYNC_ALWAYS (every lk_commit and lk_put returns after an fdatasync,
 * shared by concurrent committers), automatic compaction and index
 * snapshots.  Batches are lk_commit of a reused lk_batch; durable single
 * puts are lk_put.  The handle is thread-safe, so the writer threads share
 * it (concurrent_writers).
 *
 * Index bytes are lk_stats' index_bytes: the in-memory hash index, the
 * only per-key memory the engine keeps.  Snapshot files can be hidden, for
 * the harness's "reopen with a full replay".
 */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../engine.h"
#include "logkeep.h"

struct lk_adapter {
	lk_db *db;
	lk_batch *batch; /* reused: lk_commit empties it */
};

/* Call it before anything that could replace the thread's lk_errmsg. */
static bool logkeep_fail(struct engine *e, const char *call, lk_status status)
{
	assert(status != LK_OK);
	return engine_failf(e, "%s: %s: %s", call, lk_strerror(status),
			    lk_errmsg());
}

/* map_bytes_max: LK_MAP_BYTES_DEFAULT, or the variant's router budget. */
static bool open_with(struct engine *e, const char *dir,
		      uint64_t map_bytes_max)
{
	assert(e->impl == NULL);
	struct lk_adapter *a = calloc(1, sizeof *a);
	if (a == NULL)
		return engine_failf(e, "logkeep: out of memory");

	lk_options opts = LK_OPTIONS_INIT;
	opts.sync = LK_SYNC_ALWAYS; /* the default, and what we measure */
	opts.map_bytes_max = map_bytes_max;

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

static bool logkeep_open(struct engine *e, const char *dir)
{
	return open_with(e, dir, LK_MAP_BYTES_DEFAULT);
}

/* The mapping cap of a router with a few hundred MiB of RAM: reads past
 * it use pread, and the process's resident file pages stay within it. */
#define MAP_CAP_ROUTER_BYTES (64u << 20)

static bool logkeep_open_map64(struct engine *e, const char *dir)
{
	return open_with(e, dir, MAP_CAP_ROUTER_BYTES);
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
		return engine_failf(e, "lk_batch_count: %zu operations after "
				    "%zu puts", batched, count);
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

	/* Under LK_SYNC_ALWAYS each lk_put is a commit: one fdatasync, or
	 * a share of one when threads commit together. */
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
		return engine_failf(e, "lk_get: LK_OK with a NULL value");
	memcpy(value, got, got_len < value_cap ? got_len : value_cap);
	lk_free(got);
	*found = true;
	*value_len = got_len;
	return true;
}

static bool logkeep_stats_of(struct engine *e, lk_stats *st)
{
	struct lk_adapter *a = e->impl;
	assert(a != NULL);

	memset(st, 0, sizeof *st);
	st->version = LK_STATS_VERSION;
	lk_status status = lk_stats_get(st, a->db);
	if (status != LK_OK)
		return logkeep_fail(e, "lk_stats_get", status);
	return true;
}

static bool logkeep_stats(struct engine *e, struct engine_stats *stats)
{
	struct lk_adapter *a = e->impl;
	lk_recovery_report report;
	lk_stats st;

	if (!logkeep_stats_of(e, &st))
		return false;
	memset(&report, 0, sizeof report);
	report.version = LK_REPORT_VERSION;
	lk_status status = lk_recovery(&report, a->db);
	if (status != LK_OK)
		return logkeep_fail(e, "lk_recovery", status);

	stats->live_keys = (double)st.live_keys;
	stats->records_replayed = (double)report.records_replayed;
	stats->compactions = (double)st.compactions;
	stats->compact_bytes_written = (double)st.compact_bytes_written;
	stats->compact_s = (double)st.compact_us / 1e6;
	stats->compact_stall_us = (double)st.compact_stall_max_us;
	stats->log_bytes_written = (double)st.log_bytes_written;
	stats->commits = (double)st.commits;
	stats->syncs = (double)st.sync_calls;
	stats->snapshot_used = report.snapshot_used ? 1 : 0;
	stats->snapshots_written = (double)st.snapshots_written;
	stats->snapshot_bytes_written = (double)st.snapshot_bytes_written;
	stats->snapshot_behind_bytes = (double)st.snapshot_behind_bytes;
	stats->snapshot_failures = (double)st.snapshot_failures;
	return true;
}

static bool logkeep_index_bytes(struct engine *e, double *bytes)
{
	lk_stats st;

	if (!logkeep_stats_of(e, &st))
		return false;
	*bytes = (double)st.index_bytes;
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
		return engine_failf(e, "opendir %s: %s", dir, strerror(errno));
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
			ok = engine_failf(e, "snapshot file name too long in "
					  "%s", dir);
			break;
		}
		/* Putting one back may replace a snapshot of the same serial
		 * that the open without them wrote: both describe this
		 * database's log, and open checks whichever it finds. */
		if (rename(from, to) != 0) {
			ok = engine_failf(e, "rename %s: %s", from,
					  strerror(errno));
			break;
		}
		(*count)++;
	}
	closedir(d);
	return ok;
}

const struct engine_ops logkeep_engine = {
	.name = "logkeep",
	.config = "defaults: sync always (fdatasync per commit, shared by "
		  "concurrent committers), automatic compaction and "
		  "snapshots",
	.concurrent_writers = true,
	.background_work = true,
	.open = logkeep_open,
	.close = logkeep_close,
	.put_batch = logkeep_put_batch,
	.put_durable = logkeep_put_durable,
	.get = logkeep_get,
	.stats = logkeep_stats,
	.index_bytes = logkeep_index_bytes,
	.hide_snapshots = logkeep_hide_snapshots,
};

/* The same engine with mappings capped at 64 MiB: what peak RSS and the
 * reads cost on a router that bounds them. */
const struct engine_ops logkeep_map64_engine = {
	.name = "logkeep-map64",
	.config = "as logkeep, with reads through mappings capped at 64 MiB "
		  "(map_bytes_max; past it, pread)",
	.concurrent_writers = true,
	.background_work = true,
	.open = logkeep_open_map64,
	.close = logkeep_close,
	.put_batch = logkeep_put_batch,
	.put_durable = logkeep_put_durable,
	.get = logkeep_get,
	.stats = logkeep_stats,
	.index_bytes = logkeep_index_bytes,
	.hide_snapshots = logkeep_hide_snapshots,
};
