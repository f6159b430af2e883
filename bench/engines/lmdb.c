/* SPDX-License-Identifier: MIT */
/*
 * lmdb.c - the bench's driver for LMDB: a copy-on-write B+tree in one
 * memory-mapped file, read through the map without copying.
 *
 * Configuration: the defaults, which sync: every write transaction's
 * commit fdatasyncs the data pages and then the meta page before it
 * returns.  A batch is one write transaction; a durable single put is a
 * transaction of one put.  Gets use one read-only transaction kept for the
 * handle and reset between lookups (mdb_txn_reset / mdb_txn_renew), as
 * LMDB's documentation advises for frequent short reads.
 *
 * The map: LMDB needs its largest size up front (the file grows into it as
 * pages are used, so the figure costs address space, not disk).
 * MAP_BYTES_PER_KEY per key of e->keys_max, at least MAP_BYTES_MIN: a
 * record of 16 + 100 bytes takes about 130 bytes of a leaf page, pages
 * are half to fully used, and copy-on-write keeps the pages freed by the
 * last transactions until no reader can see them.
 *
 * Threads: write transactions from several threads are allowed and LMDB
 * runs them one at a time under its writer mutex, each commit with its own
 * syncs (concurrent_writers: the bench calls from 4 threads, LMDB queues
 * them).
 *
 * Index bytes: the branch (interior) pages of the tree, mdb_stat's
 * ms_branch_pages times the page size: what maps a key to its leaf.  They
 * live in the file and are read through the map.
 */

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "../engine.h"

#define MAP_BYTES_PER_KEY 1024u
#define MAP_BYTES_MIN ((size_t)64 << 20)

struct lmdb_adapter {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *read_txn; /* reset between gets */
};

static bool lmdb_fail(struct engine *e, const char *call, int rc)
{
	return engine_failf(e, "lmdb: %s: %s", call, mdb_strerror(rc));
}

static bool lmdb_open(struct engine *e, const char *dir)
{
	assert(e->impl == NULL);
	struct lmdb_adapter *a = calloc(1, sizeof *a);
	MDB_txn *txn = NULL;
	int rc;

	if (a == NULL)
		return engine_failf(e, "lmdb: out of memory");
	size_t map = MAP_BYTES_MIN;
	if (e->keys_max > map / MAP_BYTES_PER_KEY)
		map = (size_t)e->keys_max * MAP_BYTES_PER_KEY;

	rc = mdb_env_create(&a->env);
	if (rc != 0) {
		lmdb_fail(e, "mdb_env_create", rc);
		goto fail;
	}
	rc = mdb_env_set_mapsize(a->env, map);
	if (rc != 0) {
		lmdb_fail(e, "mdb_env_set_mapsize", rc);
		goto fail;
	}
	rc = mdb_env_open(a->env, dir, 0, 0600);
	if (rc != 0) {
		lmdb_fail(e, "mdb_env_open", rc);
		goto fail;
	}
	rc = mdb_txn_begin(a->env, NULL, 0, &txn);
	if (rc != 0) {
		lmdb_fail(e, "mdb_txn_begin", rc);
		goto fail;
	}
	rc = mdb_dbi_open(txn, NULL, 0, &a->dbi);
	if (rc != 0) {
		lmdb_fail(e, "mdb_dbi_open", rc);
		mdb_txn_abort(txn);
		goto fail;
	}
	rc = mdb_txn_commit(txn);
	if (rc != 0) {
		lmdb_fail(e, "mdb_txn_commit", rc);
		goto fail;
	}
	rc = mdb_txn_begin(a->env, NULL, MDB_RDONLY, &a->read_txn);
	if (rc != 0) {
		lmdb_fail(e, "mdb_txn_begin (read-only)", rc);
		goto fail;
	}
	mdb_txn_reset(a->read_txn);
	e->impl = a;
	return true;

fail:
	if (a->env != NULL)
		mdb_env_close(a->env);
	free(a);
	return false;
}

static bool lmdb_close(struct engine *e)
{
	struct lmdb_adapter *a = e->impl;
	assert(a != NULL);
	e->impl = NULL;

	mdb_txn_abort(a->read_txn);
	/* Every commit synced already; this is the contract's sync, and
	 * costs nothing when there is nothing to flush. */
	int rc = mdb_env_sync(a->env, 1);
	mdb_env_close(a->env);
	free(a);
	return rc == 0 || lmdb_fail(e, "mdb_env_sync", rc);
}

static MDB_val val_of(const void *p, size_t len)
{
	return (MDB_val){ .mv_size = len, .mv_data = (void *)(uintptr_t)p };
}

static bool lmdb_write(struct engine *e, const struct bench_kv *kv,
		       size_t count)
{
	struct lmdb_adapter *a = e->impl;
	MDB_txn *txn = NULL;

	assert(a != NULL && count > 0);
	int rc = mdb_txn_begin(a->env, NULL, 0, &txn);
	if (rc != 0)
		return lmdb_fail(e, "mdb_txn_begin", rc);
	for (size_t i = 0; i < count; i++) {
		MDB_val k = val_of(kv[i].key, kv[i].key_len);
		MDB_val v = val_of(kv[i].value, kv[i].value_len);
		rc = mdb_put(txn, a->dbi, &k, &v, 0);
		if (rc != 0) {
			mdb_txn_abort(txn);
			return lmdb_fail(e, "mdb_put", rc);
		}
	}
	/* Syncs (no MDB_NOSYNC), and frees txn whatever it returns. */
	rc = mdb_txn_commit(txn);
	return rc == 0 || lmdb_fail(e, "mdb_txn_commit", rc);
}

static bool lmdb_put_batch(struct engine *e, const struct bench_kv *kv,
			   size_t count)
{
	return lmdb_write(e, kv, count);
}

static bool lmdb_put_durable(struct engine *e, const struct bench_kv *kv)
{
	return lmdb_write(e, kv, 1);
}

static bool lmdb_get(struct engine *e, const void *key, size_t key_len,
		     void *value, size_t value_cap, size_t *value_len,
		     bool *found)
{
	struct lmdb_adapter *a = e->impl;
	MDB_val k = val_of(key, key_len), v;

	assert(a != NULL);
	int rc = mdb_txn_renew(a->read_txn);
	if (rc != 0)
		return lmdb_fail(e, "mdb_txn_renew", rc);
	rc = mdb_get(a->read_txn, a->dbi, &k, &v);
	if (rc == 0) {
		/* v points into the map, valid until the reset */
		memcpy(value, v.mv_data,
		       v.mv_size < value_cap ? v.mv_size : value_cap);
		*value_len = v.mv_size;
		*found = true;
	} else if (rc == MDB_NOTFOUND) {
		*value_len = 0;
		*found = false;
	}
	mdb_txn_reset(a->read_txn);
	return rc == 0 || rc == MDB_NOTFOUND || lmdb_fail(e, "mdb_get", rc);
}

static bool lmdb_stats(struct engine *e, struct engine_stats *stats)
{
	struct lmdb_adapter *a = e->impl;
	MDB_stat st;

	int rc = mdb_txn_renew(a->read_txn);
	if (rc != 0)
		return lmdb_fail(e, "mdb_txn_renew", rc);
	rc = mdb_stat(a->read_txn, a->dbi, &st);
	mdb_txn_reset(a->read_txn);
	if (rc != 0)
		return lmdb_fail(e, "mdb_stat", rc);
	stats->live_keys = (double)st.ms_entries;
	return true;
}

static bool lmdb_index_bytes(struct engine *e, double *bytes)
{
	struct lmdb_adapter *a = e->impl;
	MDB_stat st;

	int rc = mdb_txn_renew(a->read_txn);
	if (rc != 0)
		return lmdb_fail(e, "mdb_txn_renew", rc);
	rc = mdb_stat(a->read_txn, a->dbi, &st);
	mdb_txn_reset(a->read_txn);
	if (rc != 0)
		return lmdb_fail(e, "mdb_stat", rc);
	*bytes = (double)st.ms_branch_pages * st.ms_psize;
	return true;
}

const struct engine_ops lmdb_engine = {
	.name = "lmdb",
	.config = "defaults (synced commits), a transaction per batch or "
		  "put, one reset/renewed read transaction for gets",
	.note = "LMDB's peak RSS counts the pages of its file mapped in "
		"(page cache, shared and reclaimable), not only memory of "
		"its own.",
	.concurrent_writers = true,
	.background_work = false,
	.open = lmdb_open,
	.close = lmdb_close,
	.put_batch = lmdb_put_batch,
	.put_durable = lmdb_put_durable,
	.get = lmdb_get,
	.stats = lmdb_stats,
	.index_bytes = lmdb_index_bytes,
	.hide_snapshots = NULL,
};
