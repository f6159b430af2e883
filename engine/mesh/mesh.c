/* SPDX-License-Identifier: MIT */
/*
 * mesh.c - the mesh layer's handle, transactions across collections,
 * stats and maintenance (logkeep_mesh.h).
 *
 * A transaction is one lk_batch: each collection stages its writes into
 * it, with the conditions that make them safe ("the node is absent"), and
 * lk_commit applies them all or none.  The standalone calls (create a
 * node, save a ledger state) are transactions of one step, so there is
 * one write path per operation.  The ledger's chain needs its head read
 * and written by one appender at a time: a transaction takes the ledger
 * lock at its first ledger step and keeps it to its end (ledger.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh.h"

_Noreturn void mesh_assert_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "logkeep mesh: %s:%d: contract broken: %s\n", file, line,
		expr);
	abort();
}

/* The databases with a mesh open on them: one mesh per lk_db, so that
 * one ledger lock and one telemetry id counter see every append. */
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static lk_db *open_dbs[64];

/* Registers db (1) or finds it taken (0); -1 if the table is full. */
static int db_claim(lk_db *db)
{
	int free_slot = -1, r = 1;

	pthread_mutex_lock(&open_mu);
	for (int i = 0; i < 64; i++) {
		if (open_dbs[i] == db)
			r = 0;
		if (!open_dbs[i] && free_slot < 0)
			free_slot = i;
	}
	if (r == 1 && free_slot < 0)
		r = -1;
	if (r == 1)
		open_dbs[free_slot] = db;
	pthread_mutex_unlock(&open_mu);
	return r;
}

static void db_release(lk_db *db)
{
	pthread_mutex_lock(&open_mu);
	for (int i = 0; i < 64; i++)
		if (open_dbs[i] == db)
			open_dbs[i] = NULL;
	pthread_mutex_unlock(&open_mu);
}

lk_status mesh_check(const lk_mesh *m)
{
	if (!m || m->magic != MESH_MAGIC)
		return lk_fail(LK_MISUSE, "not a mesh handle (closed?)");
	return LK_OK;
}

static const struct {
	const char *name;
	size_t at;
} namespaces[] = {
	{ "mesh.nodes", offsetof(struct lk_mesh, ns_nodes) },
	{ "mesh.policies", offsetof(struct lk_mesh, ns_policies) },
	{ "mesh.cache", offsetof(struct lk_mesh, ns_cache) },
	{ "mesh.ledger", offsetof(struct lk_mesh, ns_ledger) },
	{ "mesh.telemetry", offsetof(struct lk_mesh, ns_telemetry) },
};

lk_status lk_mesh_open(lk_mesh **mesh, lk_db *db, const lk_mesh_options *opts)
{
	lk_mesh_options o = LK_MESH_OPTIONS_INIT;
	lk_mesh *m;
	lk_status st;

	if (!mesh || !db)
		return lk_fail(LK_INVALID, "lk_mesh_open: NULL argument");
	*mesh = NULL;
	if (opts) {
		if (opts->version == 0 || opts->version > LK_MESH_OPTIONS_VERSION)
			return lk_fail(LK_INVALID,
				       "lk_mesh_options version %u unknown",
				       opts->version);
		o = *opts;
	}
	st = telemetry_check(&o);
	if (st == LK_OK)
		st = ledger_init();
	if (st != LK_OK)
		return st;
	switch (db_claim(db)) {
	case 0:
		return lk_fail(LK_BUSY, "a mesh is already open on this "
					"database handle: one per handle");
	case -1:
		return lk_fail(LK_TOO_BIG, "64 mesh handles are open in this "
					   "process");
	}
	m = calloc(1, sizeof *m);
	if (!m) {
		db_release(db);
		return lk_fail(LK_NOMEM, "allocating the mesh handle");
	}
	pthread_mutex_init(&m->ledger_mu, NULL);
	m->db = db;
	m->readonly = lk_sync(db) == LK_READONLY;
	for (size_t i = 0; i < sizeof namespaces / sizeof namespaces[0]; i++) {
		uint32_t *ns = (uint32_t *)((char *)m + namespaces[i].at);

		st = lk_ns_open(ns, db, namespaces[i].name);
		if (st != LK_OK)
			break;
	}
	/* A path cache entry's loss at a power cut costs a recomputation. */
	if (st == LK_OK)
		st = lk_ns_set_nosync(db, m->ns_cache, 1);
	m->magic = MESH_MAGIC;
	if (st == LK_OK)
		st = telemetry_start(m, &o);
	if (st != LK_OK) {
		pthread_mutex_destroy(&m->ledger_mu);
		m->magic = 0;
		free(m);
		db_release(db);
		return st;
	}
	*mesh = m;
	return LK_OK;
}

lk_status lk_mesh_close(lk_mesh *m)
{
	lk_status st;

	if (!m)
		return LK_OK;
	st = mesh_check(m);
	if (st != LK_OK)
		return st;
	st = telemetry_stop(m);
	pthread_mutex_destroy(&m->ledger_mu);
	db_release(m->db);
	m->magic = 0;
	free(m);
	return st;
}

lk_db *lk_mesh_db(lk_mesh *m)
{
	return mesh_check(m) == LK_OK ? m->db : NULL;
}

lk_status mesh_scan(lk_mesh *m, uint32_t ns, const void *prefix,
		    size_t prefix_len, mesh_visit_fn fn, void *arg)
{
	lk_iter *it;
	lk_status st = lk_iter_open(&it, m->db, ns, prefix, prefix_len);

	while (st == LK_OK) {
		const void *k, *v;
		size_t kl, vl;

		st = lk_iter_next(it, &k, &kl, &v, &vl, NULL);
		if (st == LK_OK)
			st = fn(arg, k, kl, v, vl);
	}
	lk_iter_close(it);
	return st == LK_NOT_FOUND ? LK_OK : st;
}

/* ---------------------------------------------------------------------- */
/* Transactions                                                           */
/* ---------------------------------------------------------------------- */

lk_status txn_step(lk_mesh_txn *t, lk_status st)
{
	if (st != LK_OK && t->failed == LK_OK) {
		t->failed = st;
		snprintf(t->why, sizeof t->why, "%s", lk_errmsg());
	}
	return st;
}

lk_status lk_mesh_txn_begin(lk_mesh_txn **txn, lk_mesh *m)
{
	lk_mesh_txn *t;
	lk_status st = mesh_check(m);

	if (st != LK_OK)
		return st;
	if (!txn)
		return lk_fail(LK_INVALID, "lk_mesh_txn_begin: NULL txn");
	t = calloc(1, sizeof *t);
	if (!t)
		return lk_fail(LK_NOMEM, "allocating a transaction");
	st = lk_batch_new(&t->b);
	if (st != LK_OK) {
		free(t);
		return st;
	}
	t->m = m;
	*txn = t;
	return LK_OK;
}

static lk_status txn_ok(lk_mesh_txn *t)
{
	if (!t || mesh_check(t->m) != LK_OK)
		return lk_fail(LK_MISUSE, "not a transaction");
	return LK_OK;
}

lk_status lk_mesh_txn_node_create(lk_mesh_txn *t, const lk_mesh_node *node)
{
	lk_status st = txn_ok(t);

	return st != LK_OK ? st : txn_step(t, nodes_stage_create(t, node));
}

lk_status lk_mesh_txn_node_delete(lk_mesh_txn *t, const char *id)
{
	lk_status st = txn_ok(t);

	return st != LK_OK ? st : txn_step(t, nodes_stage_delete(t, id));
}

lk_status lk_mesh_txn_policy_put(lk_mesh_txn *t, const char *id,
				 const char *yaml, size_t yaml_len)
{
	lk_status st = txn_ok(t);

	return st != LK_OK ? st
			   : txn_step(t, policies_stage_put(t, id, yaml,
							    yaml_len,
							    POLICY_PUT));
}

lk_status lk_mesh_txn_ledger_save(lk_mesh_txn *t, const char *entity,
				  const char *status, const char *actor,
				  const char *reasoning,
				  const lk_mesh_attr *attrs, size_t attr_count)
{
	lk_status st = txn_ok(t);

	return st != LK_OK ? st
			   : txn_step(t, ledger_intent_add(t, entity, status,
							   actor, reasoning,
							   attrs, attr_count,
							   NULL));
}

static void txn_free(lk_mesh_txn *t, int committed)
{
	ledger_intents_done(t, committed);
	lk_batch_free(t->b);
	free(t->conds);
	free(t);
}

lk_status txn_require(lk_mesh_txn *t, uint32_t ns, const void *key,
		      size_t key_len, lk_cond cond, uint64_t seq,
		      lk_status meaning, const char *fmt, ...)
{
	struct cond_meaning *c;
	va_list ap;
	lk_status st;

	if (t->nconds == t->conds_cap) {
		size_t cap = t->conds_cap ? 2 * t->conds_cap : 4;

		c = realloc(t->conds, cap * sizeof *c);
		if (!c)
			return lk_fail(LK_NOMEM, "a transaction's condition");
		t->conds = c;
		t->conds_cap = cap;
	}
	st = cond == LK_IF_SEQ
		     ? lk_batch_require_seq(t->b, ns, key, key_len, seq)
		     : lk_batch_require(t->b, ns, key, key_len, cond, NULL, 0);
	if (st != LK_OK)
		return st;
	c = &t->conds[t->nconds++];
	c->st = meaning;
	va_start(ap, fmt);
	vsnprintf(c->what, sizeof c->what, fmt, ap);
	va_end(ap);
	return LK_OK;
}

lk_status lk_mesh_txn_commit(lk_mesh_txn *t)
{
	int ledger;
	lk_status st = txn_ok(t);

	if (st != LK_OK)
		return st;
	st = t->failed;
	if (st != LK_OK) {
		lk_fail(st, "%s", t->why);
		txn_free(t, 0);
		return st;
	}
	ledger = ledger_intents_count(t) > 0;
	if (ledger) /* held for the commit only: no caller code runs */
		pthread_mutex_lock(&t->m->ledger_mu);
	st = ledger_stage(t);
	if (st == LK_OK)
		st = lk_commit(t->m->db, t->b);
	if (ledger)
		pthread_mutex_unlock(&t->m->ledger_mu);
	if (st == LK_CONFLICT) {
		size_t i = lk_batch_failed_condition(t->b);

		LK_MESH_ASSERT(i >= 1 && i <= t->nconds);
		st = lk_fail(t->conds[i - 1].st, "%s", t->conds[i - 1].what);
	}
	txn_free(t, st == LK_OK);
	return st;
}

void lk_mesh_txn_rollback(lk_mesh_txn *t)
{
	if (t && txn_ok(t) == LK_OK)
		txn_free(t, 0);
}

/* ---------------------------------------------------------------------- */
/* Stats and maintenance                                                  */
/* ---------------------------------------------------------------------- */

lk_status lk_mesh_stats_get(lk_mesh_stats *out, lk_mesh *m)
{
	lk_stats ds = LK_STATS_INIT;
	lk_status st = mesh_check(m);

	if (st != LK_OK)
		return st;
	if (!out)
		return lk_fail(LK_INVALID, "lk_mesh_stats_get: NULL stats");
	memset(out, 0, sizeof *out);
	st = nodes_count(m, &out->nodes, &out->nodes_started);
	if (st == LK_OK)
		st = lk_count(&out->policies, m->db, m->ns_policies);
	if (st == LK_OK)
		st = lk_count(&out->cache_entries, m->db, m->ns_cache);
	if (st == LK_OK)
		st = ledger_counts(m, &out->ledger_entries,
				   &out->ledger_entities);
	if (st == LK_OK)
		st = lk_count(&out->telemetry_entries, m->db, m->ns_telemetry);
	if (st == LK_OK && out->telemetry_entries)
		out->telemetry_entries--; /* the id counter */
	if (st == LK_OK)
		st = lk_stats_get(&ds, m->db);
	out->disk_bytes = ds.disk_bytes;
	return st;
}

lk_status lk_mesh_vacuum(lk_mesh *m)
{
	lk_status st = mesh_check(m);

	return st != LK_OK ? st : lk_compact(m->db);
}

lk_status lk_mesh_backup(lk_mesh *m, const char *dest_path)
{
	lk_status st = mesh_check(m);

	if (st != LK_OK)
		return st;
	st = lk_mesh_telemetry_flush(m);
	return st != LK_OK ? st : lk_backup(m->db, dest_path, NULL, NULL);
}
