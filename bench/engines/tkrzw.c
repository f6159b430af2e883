/* SPDX-License-Identifier: MIT */
/*
 * tkrzw.c - the bench's drivers for tkrzw's HashDBM, through its C API
 * (tkrzw_langc.h): a file hash table read and written through a memory
 * map, in its two update modes, two engines of the bench:
 *
 *   tkrzw-inplace  UPDATE_IN_PLACE: an overwrite rewrites the record
 *                  where it is (or moves it, reusing freed blocks).
 *   tkrzw-append   UPDATE_APPENDING: every write appends a record and
 *                  relinks the bucket's chain, like a log; the file only
 *                  shrinks when the user rebuilds it (tkrzw_dbm_rebuild),
 *                  which this driver never does.
 *
 * Configuration: the defaults but the bucket count, which a user sizes to
 * the keys expected (tkrzw's advice: more buckets than records),
 * BUCKETS_PER_KEY times e->keys_max.  sync_hard=true so that close syncs
 * to the device.  tkrzw has no synced write: a batch is
 * tkrzw_dbm_set_multi and a durable put tkrzw_dbm_set, each followed by
 * tkrzw_dbm_synchronize(hard = true), which writes the file's metadata and
 * msyncs and fsyncs the file.  A batch is durable when it returns, but not
 * atomic across a crash (no transactions): the bench checks only
 * durability.  After a crash, open finds the file not closed properly and
 * restores it (RESTORE_DEFAULT: a scan of the whole file).
 *
 * Threads: the handle is thread-safe; synchronize takes the whole database
 * for itself, so writer threads queue behind each other's syncs
 * (concurrent_writers: the bench calls from 4 threads).
 *
 * Index bytes: the bucket array, num_buckets times offset_width from
 * tkrzw_dbm_inspect: the hash index that maps a key to its chain of
 * records.  It lives in the file and is read through the map.
 */

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <tkrzw_langc.h>

#include "../engine.h"

#define TKRZW_FILE "bench.tkh"
#define BUCKETS_PER_KEY 2u
#define BUCKETS_MIN 1024u
#define PARAMS_BYTES 256

struct tk_adapter {
	TkrzwDBM *dbm;
	TkrzwKeyValuePair *pairs; /* a batch's records, grown as needed */
	size_t pairs_cap;
};

/* tkrzw keeps the status of the thread's last call. */
static bool tk_fail(struct engine *e, const char *call)
{
	int32_t code = tkrzw_get_last_status_code();

	return engine_failf(e, "%s: %s: %s: %s", e->ops->name, call,
			    tkrzw_status_code_name(code),
			    tkrzw_get_last_status_message());
}

static bool tk_open_mode(struct engine *e, const char *dir,
			    const char *update_mode)
{
	assert(e->impl == NULL);
	char path[PATH_MAX], params[PARAMS_BYTES];
	uint64_t buckets = e->keys_max * BUCKETS_PER_KEY;

	if (buckets < BUCKETS_MIN)
		buckets = BUCKETS_MIN;
	int n1 = snprintf(path, sizeof path, "%s/%s", dir, TKRZW_FILE);
	int n2 = snprintf(params, sizeof params,
			  "dbm=HashDBM,update_mode=%s,num_buckets=%llu,"
			  "sync_hard=true", update_mode,
			  (unsigned long long)buckets);
	if (n1 < 0 || (size_t)n1 >= sizeof path || n2 < 0 ||
	    (size_t)n2 >= sizeof params)
		return engine_failf(e, "%s: path or parameters too long",
				    e->ops->name);
	struct tk_adapter *a = calloc(1, sizeof *a);
	if (a == NULL)
		return engine_failf(e, "%s: out of memory", e->ops->name);
	a->dbm = tkrzw_dbm_open(path, true, params);
	if (a->dbm == NULL) {
		free(a);
		return tk_fail(e, "tkrzw_dbm_open");
	}
	e->impl = a;
	return true;
}

static bool tk_open_in_place(struct engine *e, const char *dir)
{
	return tk_open_mode(e, dir, "UPDATE_IN_PLACE");
}

static bool tk_open_appending(struct engine *e, const char *dir)
{
	return tk_open_mode(e, dir, "UPDATE_APPENDING");
}

static bool tk_close(struct engine *e)
{
	struct tk_adapter *a = e->impl;
	assert(a != NULL);
	e->impl = NULL;

	bool ok = tkrzw_dbm_close(a->dbm) || tk_fail(e, "tkrzw_dbm_close");
	free(a->pairs);
	free(a);
	return ok;
}

static bool tk_sync(struct engine *e)
{
	struct tk_adapter *a = e->impl;

	return tkrzw_dbm_synchronize(a->dbm, true, NULL, NULL, "") ||
	       tk_fail(e, "tkrzw_dbm_synchronize");
}

static bool tk_put_batch(struct engine *e, const struct bench_kv *kv,
			    size_t count)
{
	struct tk_adapter *a = e->impl;

	assert(a != NULL && count > 0 && count <= INT32_MAX);
	if (count > a->pairs_cap) {
		TkrzwKeyValuePair *p = realloc(a->pairs, count * sizeof *p);
		if (p == NULL)
			return engine_failf(e, "%s: out of memory",
					    e->ops->name);
		a->pairs = p;
		a->pairs_cap = count;
	}
	for (size_t i = 0; i < count; i++) {
		assert(kv[i].key_len <= INT32_MAX &&
		       kv[i].value_len <= INT32_MAX);
		a->pairs[i] = (TkrzwKeyValuePair){
			.key_ptr = kv[i].key,
			.key_size = (int32_t)kv[i].key_len,
			.value_ptr = kv[i].value,
			.value_size = (int32_t)kv[i].value_len,
		};
	}
	if (!tkrzw_dbm_set_multi(a->dbm, a->pairs, (int32_t)count, true))
		return tk_fail(e, "tkrzw_dbm_set_multi");
	return tk_sync(e);
}

static bool tk_put_durable(struct engine *e, const struct bench_kv *kv)
{
	struct tk_adapter *a = e->impl;

	assert(a != NULL && kv->key_len <= INT32_MAX &&
	       kv->value_len <= INT32_MAX);
	if (!tkrzw_dbm_set(a->dbm, kv->key, (int32_t)kv->key_len, kv->value,
			   (int32_t)kv->value_len, true))
		return tk_fail(e, "tkrzw_dbm_set");
	return tk_sync(e);
}

static bool tk_get(struct engine *e, const void *key, size_t key_len,
		      void *value, size_t value_cap, size_t *value_len,
		      bool *found)
{
	struct tk_adapter *a = e->impl;
	int32_t len = 0;

	assert(a != NULL && key_len <= INT32_MAX);
	/* The C API's get copies the value into a malloc'd string. */
	char *v = tkrzw_dbm_get(a->dbm, key, (int32_t)key_len, &len);
	if (v == NULL) {
		if (tkrzw_get_last_status_code() !=
		    TKRZW_STATUS_NOT_FOUND_ERROR)
			return tk_fail(e, "tkrzw_dbm_get");
		*value_len = 0;
		*found = false;
		return true;
	}
	if (len < 0) {
		free(v);
		return engine_failf(e, "%s: tkrzw_dbm_get: size %d",
				    e->ops->name, (int)len);
	}
	memcpy(value, v, (size_t)len < value_cap ? (size_t)len : value_cap);
	free(v);
	*value_len = (size_t)len;
	*found = true;
	return true;
}

static bool tk_stats(struct engine *e, struct engine_stats *stats)
{
	struct tk_adapter *a = e->impl;

	int64_t count = tkrzw_dbm_count(a->dbm);
	if (count < 0)
		return tk_fail(e, "tkrzw_dbm_count");
	stats->live_keys = (double)count;
	return true;
}

/* The value of name among tkrzw_dbm_inspect's pairs, or NAN. */
static double inspect_number(const TkrzwKeyValuePair *pairs, int32_t count,
			     const char *name)
{
	for (int32_t i = 0; i < count; i++) {
		if (strcmp(pairs[i].key_ptr, name) != 0)
			continue;
		char *end = NULL;
		errno = 0;
		double v = strtod(pairs[i].value_ptr, &end);
		if (errno != 0 || end == pairs[i].value_ptr || *end != '\0')
			return NAN;
		return v;
	}
	return NAN;
}

static bool tk_index_bytes(struct engine *e, double *bytes)
{
	struct tk_adapter *a = e->impl;
	int32_t count = 0;

	TkrzwKeyValuePair *pairs = tkrzw_dbm_inspect(a->dbm, &count);
	if (pairs == NULL)
		return tk_fail(e, "tkrzw_dbm_inspect");
	double buckets = inspect_number(pairs, count, "num_buckets");
	double width = inspect_number(pairs, count, "offset_width");
	tkrzw_free_str_map(pairs, count);
	if (isnan(buckets) || isnan(width))
		return engine_failf(e, "%s: tkrzw_dbm_inspect: no num_buckets "
				    "or offset_width", e->ops->name);
	*bytes = buckets * width;
	return true;
}

const struct engine_ops tkrzw_in_place_engine = {
	.name = "tkrzw-inplace",
	.config = "HashDBM, UPDATE_IN_PLACE, 2 buckets/key, "
		  "synchronize(hard) after every batch or put",
	.note = "tkrzw's batches are synced but not atomic across a crash "
		"(no transactions), and its peak RSS counts the pages of its "
		"file mapped in, like LMDB's.",
	.concurrent_writers = true,
	.background_work = false,
	.open = tk_open_in_place,
	.close = tk_close,
	.put_batch = tk_put_batch,
	.put_durable = tk_put_durable,
	.get = tk_get,
	.stats = tk_stats,
	.index_bytes = tk_index_bytes,
	.hide_snapshots = NULL,
};

const struct engine_ops tkrzw_appending_engine = {
	.name = "tkrzw-append",
	.config = "HashDBM, UPDATE_APPENDING (never rebuilt), 2 buckets/key, "
		  "synchronize(hard) after every batch or put",
	.note = "tkrzw-append's file is never rebuilt: its space "
		"amplification grows with every overwrite.",
	.concurrent_writers = true,
	.background_work = false,
	.open = tk_open_appending,
	.close = tk_close,
	.put_batch = tk_put_batch,
	.put_durable = tk_put_durable,
	.get = tk_get,
	.stats = tk_stats,
	.index_bytes = tk_index_bytes,
	.hide_snapshots = NULL,
};
