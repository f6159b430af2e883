/* SPDX-License-Identifier: MIT */
/*
 * rocksdb.c - the bench's driver for RocksDB, through its C API
 * (rocksdb/c.h): an LSM tree with a write-ahead log.
 *
 * Configuration: the defaults, plus what RocksDB's tuning guide gives for
 * point lookups, a bloom filter of BLOOM_BITS_PER_KEY bits a key in the
 * block-based tables (without one, every miss reads a block of each
 * level).  Every write is WriteOptions.sync = true: the WAL is synced
 * before the write returns, a batch (rocksdb_write of a WriteBatch) or a
 * single put alike.  RocksDB groups concurrent writers into one WAL write
 * and one sync (concurrent_writers).
 *
 * Index bytes: the property rocksdb.estimate-table-readers-mem, the memory
 * of the open tables' index and filter blocks (they are not in the block
 * cache by default).  The filter is part of it: BLOOM_BITS_PER_KEY / 8
 * bytes a key.
 */

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <rocksdb/c.h>

#include "../engine.h"

/* RocksDB's and LevelDB's usual figure: about 1% false positives. */
#define BLOOM_BITS_PER_KEY 10

struct rdb_adapter {
	rocksdb_t *db;
	rocksdb_options_t *options;
	rocksdb_block_based_table_options_t *table;
	rocksdb_writeoptions_t *sync_write;
	rocksdb_readoptions_t *read;
	rocksdb_writebatch_t *batch; /* reused, cleared after each write */
};

/* Takes err (allocated by RocksDB) and frees it. */
static bool rdb_fail(struct engine *e, const char *call, char *err)
{
	engine_failf(e, "rocksdb: %s: %s", call, err ? err : "(no message)");
	rocksdb_free(err);
	return false;
}

static void adapter_free(struct rdb_adapter *a)
{
	if (a->db != NULL)
		rocksdb_close(a->db);
	if (a->batch != NULL)
		rocksdb_writebatch_destroy(a->batch);
	if (a->read != NULL)
		rocksdb_readoptions_destroy(a->read);
	if (a->sync_write != NULL)
		rocksdb_writeoptions_destroy(a->sync_write);
	if (a->table != NULL)
		rocksdb_block_based_options_destroy(a->table);
	if (a->options != NULL)
		rocksdb_options_destroy(a->options);
	free(a);
}

static bool rdb_open(struct engine *e, const char *dir)
{
	assert(e->impl == NULL);
	struct rdb_adapter *a = calloc(1, sizeof *a);
	char *err = NULL;

	if (a == NULL)
		return engine_failf(e, "rocksdb: out of memory");
	a->options = rocksdb_options_create();
	a->table = rocksdb_block_based_options_create();
	a->sync_write = rocksdb_writeoptions_create();
	a->read = rocksdb_readoptions_create();
	a->batch = rocksdb_writebatch_create();
	if (a->options == NULL || a->table == NULL || a->sync_write == NULL ||
	    a->read == NULL || a->batch == NULL) {
		adapter_free(a);
		return engine_failf(e, "rocksdb: out of memory");
	}
	rocksdb_options_set_create_if_missing(a->options, 1);
	/* The table options take the filter policy and the options copy
	 * the table options: a->table is ours to destroy, the policy not. */
	rocksdb_block_based_options_set_filter_policy(
		a->table, rocksdb_filterpolicy_create_bloom(BLOOM_BITS_PER_KEY));
	rocksdb_options_set_block_based_table_factory(a->options, a->table);
	rocksdb_writeoptions_set_sync(a->sync_write, 1);

	a->db = rocksdb_open(a->options, dir, &err);
	if (err != NULL) {
		a->db = NULL;
		adapter_free(a);
		return rdb_fail(e, "rocksdb_open", err);
	}
	e->impl = a;
	return true;
}

static bool rdb_close(struct engine *e)
{
	struct rdb_adapter *a = e->impl;
	assert(a != NULL);
	e->impl = NULL;

	/* Every write was synced; close flushes nothing that matters for
	 * durability and reports no error. */
	adapter_free(a);
	return true;
}

static bool rdb_put_batch(struct engine *e, const struct bench_kv *kv,
			  size_t count)
{
	struct rdb_adapter *a = e->impl;
	char *err = NULL;

	assert(a != NULL && count > 0);
	for (size_t i = 0; i < count; i++)
		rocksdb_writebatch_put(a->batch, kv[i].key, kv[i].key_len,
				       kv[i].value, kv[i].value_len);
	rocksdb_write(a->db, a->sync_write, a->batch, &err);
	rocksdb_writebatch_clear(a->batch);
	return err == NULL || rdb_fail(e, "rocksdb_write", err);
}

static bool rdb_put_durable(struct engine *e, const struct bench_kv *kv)
{
	struct rdb_adapter *a = e->impl;
	char *err = NULL;

	assert(a != NULL);
	rocksdb_put(a->db, a->sync_write, kv->key, kv->key_len, kv->value,
		    kv->value_len, &err);
	return err == NULL || rdb_fail(e, "rocksdb_put", err);
}

static bool rdb_get(struct engine *e, const void *key, size_t key_len,
		    void *value, size_t value_cap, size_t *value_len,
		    bool *found)
{
	struct rdb_adapter *a = e->impl;
	char *err = NULL;

	assert(a != NULL);
	/* Pinned: the value is read where the block cache holds it, not
	 * copied into a new allocation first. */
	rocksdb_pinnableslice_t *p =
		rocksdb_get_pinned(a->db, a->read, key, key_len, &err);
	if (err != NULL)
		return rdb_fail(e, "rocksdb_get_pinned", err);
	if (p == NULL) {
		*value_len = 0;
		*found = false;
		return true;
	}
	size_t len = 0;
	const char *v = rocksdb_pinnableslice_value(p, &len);
	if (len > 0)
		memcpy(value, v, len < value_cap ? len : value_cap);
	*value_len = len;
	*found = true;
	rocksdb_pinnableslice_destroy(p);
	return true;
}

static bool rdb_stats(struct engine *e, struct engine_stats *stats)
{
	(void)e;
	(void)stats; /* rocksdb.estimate-num-keys is only an estimate */
	return true;
}

static bool rdb_index_bytes(struct engine *e, double *bytes)
{
	struct rdb_adapter *a = e->impl;
	static const char prop[] = "rocksdb.estimate-table-readers-mem";

	char *s = rocksdb_property_value(a->db, prop);
	if (s == NULL)
		return engine_failf(e, "rocksdb: no property %s", prop);
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	bool ok = errno == 0 && end != s && *end == '\0';
	if (!ok)
		engine_failf(e, "rocksdb: %s: not a number: %.64s", prop, s);
	rocksdb_free(s);
	*bytes = ok ? v : NAN;
	return ok;
}

const struct engine_ops rocksdb_engine = {
	.name = "rocksdb",
	.config = "defaults, bloom filter 10 bits/key, sync=true on every "
		  "write (batch or put)",
	.concurrent_writers = true,
	.background_work = true,
	.open = rdb_open,
	.close = rdb_close,
	.put_batch = rdb_put_batch,
	.put_durable = rdb_put_durable,
	.get = rdb_get,
	.stats = rdb_stats,
	.index_bytes = rdb_index_bytes,
	.hide_snapshots = NULL,
};
