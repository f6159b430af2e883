/* SPDX-License-Identifier: MIT */
/*
 * sqlite.c - the bench's driver for SQLite, configured as logkeep's
 * predecessors configured it (SPEC §10, seeds/000): one connection,
 * journal_mode=WAL, synchronous=NORMAL, prepared statements, and one
 * table of blobs keyed by the key, WITHOUT ROWID so that the table is the
 * key's B-tree and a lookup reads one tree, not an index and then a table.
 *
 * Durability.  In WAL mode, synchronous=NORMAL syncs the WAL only at a
 * checkpoint: a commit survives a crash of the process (the WAL is in the
 * page cache) but a power cut may take the last ones.  That is the
 * predecessors' configuration and what put_batch measures, so SQLite's
 * batches are not synced while every other engine's are; the report says
 * so.  put_durable switches the connection to synchronous=FULL (the WAL is
 * synced at every commit) for as long as durable puts go on: durable
 * single puts, the 90/10 mix and the writer threads are durable in SQLite
 * too.  The switch is one PRAGMA when the kind of write changes.
 *
 * Threads: the writer threads would share one connection, and SQLite runs
 * one write transaction at a time anyway, so the harness serialises them
 * (concurrent_writers is false).
 *
 * Index bytes: the B-tree's interior pages (the dbstat virtual table, when
 * SQLite was built with it, as Debian's is): what maps a key to the leaf
 * that holds it.  Leaves hold the keys and values themselves.
 */

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "../engine.h"

#define SQ_FILE "bench.sqlite"

enum sq_stmt {
	SQ_BEGIN,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_PUT,
	SQ_GET,
	SQ_STMT_COUNT
};

static const char *const sq_sql[SQ_STMT_COUNT] = {
	[SQ_BEGIN] = "BEGIN",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_PUT] = "INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)",
	[SQ_GET] = "SELECT v FROM kv WHERE k = ?1",
};

static const char sq_schema[] =
	"CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL)"
	" WITHOUT ROWID";

struct sq_adapter {
	sqlite3 *db;
	sqlite3_stmt *stmt[SQ_STMT_COUNT];
	bool full; /* synchronous=FULL now, else NORMAL */
	char path[PATH_MAX];
};

static bool sq_fail(struct engine *e, const char *what, int rc)
{
	struct sq_adapter *a = e->impl;

	return engine_failf(e, "sqlite: %s: %s (%s)", what, sqlite3_errstr(rc),
			    a != NULL && a->db != NULL ? sqlite3_errmsg(a->db)
						       : "no connection");
}

/* Runs a statement that returns no rows. */
static bool sq_run(struct engine *e, enum sq_stmt which)
{
	struct sq_adapter *a = e->impl;
	sqlite3_stmt *s = a->stmt[which];
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE || sq_fail(e, sq_sql[which], rc);
}

static bool sq_synchronous(struct engine *e, bool full)
{
	struct sq_adapter *a = e->impl;

	if (a->full == full)
		return true;
	const char *sql = full ? "PRAGMA synchronous=FULL"
			       : "PRAGMA synchronous=NORMAL";
	int rc = sqlite3_exec(a->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(e, sql, rc);
	a->full = full;
	return true;
}

static bool sq_open(struct engine *e, const char *dir)
{
	assert(e->impl == NULL);
	struct sq_adapter *a = calloc(1, sizeof *a);
	sqlite3_stmt *s = NULL;
	int rc;

	if (a == NULL)
		return engine_failf(e, "sqlite: out of memory");
	e->impl = a;
	a->full = true; /* not yet set: the first sq_synchronous runs */
	int len = snprintf(a->path, sizeof a->path, "%s/%s", dir, SQ_FILE);
	if (len < 0 || (size_t)len >= sizeof a->path) {
		engine_failf(e, "sqlite: path too long");
		goto fail;
	}
	rc = sqlite3_open_v2(a->path, &a->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		sq_fail(e, a->path, rc);
		goto fail;
	}
	/* journal_mode answers with the mode it set */
	rc = sqlite3_prepare_v2(a->db, "PRAGMA journal_mode=WAL", -1, &s,
				NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0) {
		sq_fail(e, "PRAGMA journal_mode=WAL", rc);
		sqlite3_finalize(s);
		goto fail;
	}
	sqlite3_finalize(s);
	if (!sq_synchronous(e, false))
		goto fail;
	rc = sqlite3_exec(a->db, sq_schema, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		sq_fail(e, sq_schema, rc);
		goto fail;
	}
	for (int i = 0; i < SQ_STMT_COUNT; i++) {
		rc = sqlite3_prepare_v3(a->db, sq_sql[i], -1,
					SQLITE_PREPARE_PERSISTENT,
					&a->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			sq_fail(e, sq_sql[i], rc);
			goto fail;
		}
	}
	return true;

fail:
	for (int i = 0; i < SQ_STMT_COUNT; i++)
		sqlite3_finalize(a->stmt[i]);
	sqlite3_close(a->db);
	free(a);
	e->impl = NULL;
	return false;
}

static bool sq_close(struct engine *e)
{
	struct sq_adapter *a = e->impl;
	bool ok = true;

	assert(a != NULL);
	for (int i = 0; i < SQ_STMT_COUNT; i++)
		sqlite3_finalize(a->stmt[i]);
	/* The last connection's close checkpoints the WAL into the
	 * database and removes it. */
	int rc = sqlite3_close(a->db);
	if (rc != SQLITE_OK) {
		ok = sq_fail(e, "close", rc);
		sqlite3_close_v2(a->db); /* frees it when it can */
	}
	free(a);
	e->impl = NULL;
	return ok;
}

static bool sq_put(struct engine *e, const struct bench_kv *kv)
{
	struct sq_adapter *a = e->impl;
	sqlite3_stmt *s = a->stmt[SQ_PUT];

	assert(kv->key_len <= INT_MAX && kv->value_len <= INT_MAX);
	int rc = sqlite3_bind_blob(s, 1, kv->key, (int)kv->key_len,
				   SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_blob(s, 2, kv->value, (int)kv->value_len,
				       SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		sqlite3_clear_bindings(s);
		return sq_fail(e, "bind", rc);
	}
	bool ok = sq_run(e, SQ_PUT);
	sqlite3_clear_bindings(s); /* the blobs are the caller's */
	return ok;
}

static bool sq_put_batch(struct engine *e, const struct bench_kv *kv,
			 size_t count)
{
	assert(e->impl != NULL && count > 0);

	if (!sq_synchronous(e, false) || !sq_run(e, SQ_BEGIN))
		return false;
	for (size_t i = 0; i < count; i++) {
		if (!sq_put(e, &kv[i])) {
			char first[ENGINE_ERR_BYTES];
			memcpy(first, e->err, sizeof first);
			(void)sq_run(e, SQ_ROLLBACK);
			memcpy(e->err, first, sizeof first);
			return false;
		}
	}
	return sq_run(e, SQ_COMMIT);
}

static bool sq_put_durable(struct engine *e, const struct bench_kv *kv)
{
	assert(e->impl != NULL);

	/* Autocommit: one transaction, the WAL synced at its commit. */
	return sq_synchronous(e, true) && sq_put(e, kv);
}

static bool sq_get(struct engine *e, const void *key, size_t key_len,
		   void *value, size_t value_cap, size_t *value_len,
		   bool *found)
{
	struct sq_adapter *a = e->impl;
	sqlite3_stmt *s = a->stmt[SQ_GET];
	bool ok = true;

	assert(key_len <= INT_MAX);
	int rc = sqlite3_bind_blob(s, 1, key, (int)key_len, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		return sq_fail(e, "bind", rc);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const void *v = sqlite3_column_blob(s, 0);
		int n = sqlite3_column_bytes(s, 0);
		if (n < 0 || (n > 0 && v == NULL)) {
			ok = sq_fail(e, "column_blob", sqlite3_errcode(a->db));
		} else {
			size_t len = (size_t)n;
			if (len > 0)
				memcpy(value, v, len < value_cap ? len
								 : value_cap);
			*value_len = len;
			*found = true;
		}
	} else if (rc == SQLITE_DONE) {
		*value_len = 0;
		*found = false;
	} else {
		ok = sq_fail(e, sq_sql[SQ_GET], rc);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return ok;
}

static bool sq_stats(struct engine *e, struct engine_stats *stats)
{
	(void)e;
	(void)stats; /* counts nothing the harness asks for */
	return true;
}

static bool sq_index_bytes(struct engine *e, double *bytes)
{
	struct sq_adapter *a = e->impl;
	sqlite3_stmt *s = NULL;
	static const char sql[] =
		"SELECT coalesce(sum(pgsize), 0) FROM dbstat "
		"WHERE name = 'kv' AND pagetype = 'internal'";

	*bytes = NAN;
	int rc = sqlite3_prepare_v2(a->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return true; /* built without dbstat: not reported */
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*bytes = (double)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || sq_fail(e, sql, rc);
}

const struct engine_ops sqlite_engine = {
	.name = "sqlite",
	.config = "WAL, synchronous=NORMAL for batches (not synced), FULL "
		  "for durable puts, WITHOUT ROWID table, prepared "
		  "statements, one connection",
	.note = "SQLite's batches run under synchronous=NORMAL (the "
		"predecessors' setting): not synced, unlike every other "
		"engine's; its durable puts, mix puts and writer threads run "
		"under FULL.",
	.concurrent_writers = false,
	.background_work = false,
	.open = sq_open,
	.close = sq_close,
	.put_batch = sq_put_batch,
	.put_durable = sq_put_durable,
	.get = sq_get,
	.stats = sq_stats,
	.index_bytes = sq_index_bytes,
	.hide_snapshots = NULL,
};
