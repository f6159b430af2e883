/* SPDX-License-Identifier: MIT */
/*
 * leveldb.c - the bench's driver for LevelDB, through its C API
 * (leveldb/c.h): an LSM tree with a write-ahead log, RocksDB's ancestor.
 *
 * Configuration: the defaults, plus a bloom filter of BLOOM_BITS_PER_KEY
 * bits a key (LevelDB's documentation recommends one for point lookups;
 * without it a miss reads a block of each level).  Every write is
 * WriteOptions.sync = true: the log is synced before the write returns,
 * a batch (leveldb_write of a WriteBatch) or a single put alike.  LevelDB
 * groups concurrent writers into one log write and one sync
 * (concurrent_writers).
 *
 * LevelDB reports no index size the bench can use
 * (leveldb.approximate-memory-usage is the memtables and the block cache),
 * so index_bytes is NULL.
 */

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <leveldb/c.h>

#include "../engine.h"

/* LevelDB's documented figure: about 1% false positives. */
#define BLOOM_BITS_PER_KEY 10

struct ldb_adapter {
	leveldb_t *db;
	leveldb_options_t *options;
	leveldb_filterpolicy_t *filter; /* not owned by options: ours */
	leveldb_writeoptions_t *sync_write;
	leveldb_readoptions_t *read;
	leveldb_writebatch_t *batch; /* reused, cleared after each write */
};

/* Takes err (allocated by LevelDB) and frees it. */
static bool ldb_fail(struct engine *e, const char *call, char *err)
{
	engine_failf(e, "leveldb: %s: %s", call, err ? err : "(no message)");
	leveldb_free(err);
	return false;
}

static void adapter_free(struct ldb_adapter *a)
{
	/* The database first: it uses the filter policy until closed. */
	if (a->db != NULL)
		leveldb_close(a->db);
	if (a->batch != NULL)
		leveldb_writebatch_destroy(a->batch);
	if (a->read != NULL)
		leveldb_readoptions_destroy(a->read);
	if (a->sync_write != NULL)
		leveldb_writeoptions_destroy(a->sync_write);
	if (a->options != NULL)
		leveldb_options_destroy(a->options);
	if (a->filter != NULL)
		leveldb_filterpolicy_destroy(a->filter);
	free(a);
}

static bool ldb_open(struct engine *e, const char *dir)
{
	assert(e->impl == NULL);
	struct ldb_adapter *a = calloc(1, sizeof *a);
	char *err = NULL;

	if (a == NULL)
		return engine_failf(e, "leveldb: out of memory");
	a->options = leveldb_options_create();
	a->filter = leveldb_filterpolicy_create_bloom(BLOOM_BITS_PER_KEY);
	a->sync_write = leveldb_writeoptions_create();
	a->read = leveldb_readoptions_create();
	a->batch = leveldb_writebatch_create();
	if (a->options == NULL || a->filter == NULL || a->sync_write == NULL ||
	    a->read == NULL || a->batch == NULL) {
		adapter_free(a);
		return engine_failf(e, "leveldb: out of memory");
	}
	leveldb_options_set_create_if_missing(a->options, 1);
	leveldb_options_set_filter_policy(a->options, a->filter);
	leveldb_writeoptions_set_sync(a->sync_write, 1);

	a->db = leveldb_open(a->options, dir, &err);
	if (err != NULL) {
		a->db = NULL;
		adapter_free(a);
		return ldb_fail(e, "leveldb_open", err);
	}
	e->impl = a;
	return true;
}

static bool ldb_close(struct engine *e)
{
	struct ldb_adapter *a = e->impl;
	assert(a != NULL);
	e->impl = NULL;

	/* Every write was synced; leveldb_close reports no error. */
	adapter_free(a);
	return true;
}

static bool ldb_put_batch(struct engine *e, const struct bench_kv *kv,
			  size_t count)
{
	struct ldb_adapter *a = e->impl;
	char *err = NULL;

	assert(a != NULL && count > 0);
	for (size_t i = 0; i < count; i++)
		leveldb_writebatch_put(a->batch, kv[i].key, kv[i].key_len,
				       kv[i].value, kv[i].value_len);
	leveldb_write(a->db, a->sync_write, a->batch, &err);
	leveldb_writebatch_clear(a->batch);
	return err == NULL || ldb_fail(e, "leveldb_write", err);
}

static bool ldb_put_durable(struct engine *e, const struct bench_kv *kv)
{
	struct ldb_adapter *a = e->impl;
	char *err = NULL;

	assert(a != NULL);
	leveldb_put(a->db, a->sync_write, kv->key, kv->key_len, kv->value,
		    kv->value_len, &err);
	return err == NULL || ldb_fail(e, "leveldb_put", err);
}

static bool ldb_get(struct engine *e, const void *key, size_t key_len,
		    void *value, size_t value_cap, size_t *value_len,
		    bool *found)
{
	struct ldb_adapter *a = e->impl;
	char *err = NULL;
	size_t len = 0;

	assert(a != NULL);
	/* The C API has only the copying get: the value is malloc'd. */
	char *v = leveldb_get(a->db, a->read, key, key_len, &len, &err);
	if (err != NULL)
		return ldb_fail(e, "leveldb_get", err);
	if (v == NULL) {
		*value_len = 0;
		*found = false;
		return true;
	}
	memcpy(value, v, len < value_cap ? len : value_cap);
	*value_len = len;
	*found = true;
	leveldb_free(v);
	return true;
}

static bool ldb_stats(struct engine *e, struct engine_stats *stats)
{
	(void)e;
	(void)stats; /* counts nothing the harness asks for */
	return true;
}

const struct engine_ops leveldb_engine = {
	.name = "leveldb",
	.config = "defaults, bloom filter 10 bits/key, sync=true on every "
		  "write (batch or put)",
	.concurrent_writers = true,
	.background_work = true,
	.open = ldb_open,
	.close = ldb_close,
	.put_batch = ldb_put_batch,
	.put_durable = ldb_put_durable,
	.get = ldb_get,
	.stats = ldb_stats,
	.index_bytes = NULL,
	.hide_snapshots = NULL,
};
