/* SPDX-License-Identifier: MIT */
/*
 * mesh.h - the mesh layer's internal header: the handle, the transaction,
 * and what each collection's file gives the others.  Everything here sits
 * on logkeep.h; nothing reaches into the engine.
 *
 * Files: mesh.c (handle, transactions, stats), value.c (encoding),
 * nodes.c, policies.c (libyaml: the only file that includes it), cache.c,
 * ledger.c (libsodium: the only file that includes it), telemetry.c.
 */
#ifndef LK_MESH_MESH_H
#define LK_MESH_MESH_H

#include <pthread.h>
#include <stdint.h>

#include "logkeep_mesh.h"
#include "value.h"

#define MESH_MAGIC 0x4d455348u /* "MESH" */

/* A programmer's error (never bytes from disk): on in every build, as the
 * engine's LK_ASSERT. */
#define LK_MESH_ASSERT(c)                                                     \
	((c) ? (void)0 : mesh_assert_fail(__FILE__, __LINE__, #c))
_Noreturn void mesh_assert_fail(const char *file, int line, const char *expr);

struct telemetry;

struct lk_mesh {
	uint32_t magic;
	lk_db *db;
	int readonly;              /* the database was opened read-only */
	uint32_t ns_nodes, ns_policies, ns_cache, ns_ledger, ns_telemetry;
	pthread_mutex_t ledger_mu; /* one ledger append at a time: the chain */
	struct telemetry *tel;
};

/* The ledger steps of a transaction (ledger.c), staged at its commit. */
struct ledger_intents;

/* What a condition of the transaction's batch means when it fails. */
struct cond_meaning {
	lk_status st;
	char what[160];
};

struct lk_mesh_txn {
	lk_mesh *m;
	lk_batch *b;
	lk_status failed;          /* the first failed step, or LK_OK */
	char why[256];             /* its lk_errmsg */
	struct cond_meaning *conds; /* one per condition of b, in order */
	size_t nconds, conds_cap;
	struct ledger_intents *ledger;
};

/* Retries of an optimistic write that lost to a concurrent one. */
#define MESH_RETRIES_MAX 1000

/* LK_OK if mesh is an open handle, LK_MISUSE otherwise. */
lk_status mesh_check(const lk_mesh *m);

/* Notes a step's failure in the transaction (the first one wins) and
 * returns st. */
lk_status txn_step(lk_mesh_txn *t, lk_status st);

/* Adds a condition to the transaction's batch (LK_IF_SEQ takes seq) and
 * what its failure means: the status lk_mesh_txn_commit returns then,
 * and the message (printf format). */
lk_status txn_require(lk_mesh_txn *t, uint32_t ns, const void *key,
		      size_t key_len, lk_cond cond, uint64_t seq,
		      lk_status meaning, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

/* Each collection's part of a transaction: stage writes (and conditions)
 * into t->b. */
lk_status nodes_stage_create(lk_mesh_txn *t, const lk_mesh_node *node);
lk_status nodes_stage_delete(lk_mesh_txn *t, const char *id);
lk_status policies_stage_put(lk_mesh_txn *t, const char *id,
			     const char *yaml, size_t yaml_len, int mode);
#define POLICY_CREATE 1
#define POLICY_UPDATE 2
#define POLICY_PUT 3
/* Ledger steps are checked and kept (intents) until the commit, which
 * takes the mesh's ledger lock and stages them against the heads it reads
 * then (ledger_stage), so no lock is held while the caller builds the
 * transaction.  ledger_intents_done sets each step's *appended once
 * committed, and frees them. */
lk_status ledger_intent_add(lk_mesh_txn *t, const char *entity,
			    const char *status, const char *actor,
			    const char *reasoning, const lk_mesh_attr *attrs,
			    size_t attr_count, int *appended);
int ledger_intents_count(const lk_mesh_txn *t);
lk_status ledger_stage(lk_mesh_txn *t);
void ledger_intents_done(lk_mesh_txn *t, int committed);

/* Initialises libsodium (ledger.c); LK_OK or LK_NOMEM. */
lk_status ledger_init(void);

/* Counts for lk_mesh_stats_get. */
lk_status nodes_count(lk_mesh *m, uint64_t *all, uint64_t *started);
lk_status ledger_counts(lk_mesh *m, uint64_t *entries, uint64_t *entities);

/* Telemetry (telemetry.c): options checked, started by open, stopped by
 * close. */
lk_status telemetry_check(const lk_mesh_options *o);
lk_status telemetry_start(lk_mesh *m, const lk_mesh_options *o);
lk_status telemetry_stop(lk_mesh *m);

/* The read of a whole namespace, one decoded value at a time. */
typedef lk_status (*mesh_visit_fn)(void *arg, const void *key, size_t key_len,
				   const void *value, size_t value_len);
lk_status mesh_scan(lk_mesh *m, uint32_t ns, const void *prefix,
		    size_t prefix_len, mesh_visit_fn fn, void *arg);

#endif /* LK_MESH_MESH_H */
