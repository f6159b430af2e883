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

struct telemetry;

struct lk_mesh {
	uint32_t magic;
	lk_db *db;
	int readonly;              /* the database was opened read-only */
	uint32_t ns_nodes, ns_policies, ns_cache, ns_ledger, ns_telemetry;
	pthread_mutex_t ledger_mu; /* one ledger append at a time: the chain */
	struct telemetry *tel;
};

/* The staged ledger state of a transaction (ledger.c). */
struct ledger_stage;

struct lk_mesh_txn {
	lk_mesh *m;
	lk_batch *b;
	lk_status failed;          /* the first failed step, or LK_OK */
	char why[256];             /* its lk_errmsg */
	struct ledger_stage *ledger;
};

/* LK_OK if mesh is an open handle, LK_MISUSE otherwise. */
lk_status mesh_check(const lk_mesh *m);

/* Notes a step's failure in the transaction (the first one wins) and
 * returns st. */
lk_status txn_step(lk_mesh_txn *t, lk_status st);

/* Each collection's part of a transaction: stage writes (and conditions)
 * into t->b. */
lk_status nodes_stage_create(lk_mesh_txn *t, const lk_mesh_node *node);
lk_status nodes_stage_delete(lk_mesh_txn *t, const char *id);
lk_status policies_stage_put(lk_mesh_txn *t, const char *id,
			     const char *yaml, size_t yaml_len, int mode);
#define POLICY_CREATE 1
#define POLICY_UPDATE 2
#define POLICY_PUT 3
lk_status ledger_stage_save(lk_mesh_txn *t, const char *entity,
			    const char *status, const char *actor,
			    const char *reasoning, const lk_mesh_attr *attrs,
			    size_t attr_count, int *appended);
/* Adds the staged ledger head to the batch; after the commit (st), ends
 * the stage and releases the ledger lock. */
lk_status ledger_stage_finish(lk_mesh_txn *t);
void ledger_stage_end(lk_mesh_txn *t);

/* Initialises libsodium (ledger.c); LK_OK or LK_NOMEM. */
lk_status ledger_init(void);

/* Counts for lk_mesh_stats_get. */
lk_status nodes_count(lk_mesh *m, uint64_t *all, uint64_t *started);
lk_status ledger_counts(lk_mesh *m, uint64_t *entries, uint64_t *entities);

/* Telemetry (telemetry.c): started by open, stopped by close. */
lk_status telemetry_start(lk_mesh *m, const lk_mesh_options *o);
lk_status telemetry_stop(lk_mesh *m);

/* The read of a whole namespace, one decoded value at a time. */
typedef lk_status (*mesh_visit_fn)(void *arg, const void *key, size_t key_len,
				   const void *value, size_t value_len);
lk_status mesh_scan(lk_mesh *m, uint32_t ns, const void *prefix,
		    size_t prefix_len, mesh_visit_fn fn, void *arg);

#endif /* LK_MESH_MESH_H */
