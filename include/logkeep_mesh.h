/* SPDX-License-Identifier: MIT */
/*
 * logkeep_mesh.h - the mesh data layer: a mesh node's nodes, policies,
 * path cache, audit ledger and telemetry, stored in a logkeep database.
 *
 * It is what a mesh daemon moving off the predecessors' SQLite storage
 * calls (their `storage.*` and persistence-service operations map one to
 * one, README "The mesh layer").  It is built on logkeep.h alone: every
 * collection is a namespace of the database, every write one atomic
 * batch, so everything logkeep promises (crash safety, recovery, backup,
 * the tool) holds for it.
 *
 * Conventions
 *   1. A handle, lk_mesh, lives on an open lk_db (writable, or read-only
 *      for the read calls) and does not own it: close the mesh first, then
 *      the database.  One mesh per database handle: a second
 *      lk_mesh_open on it is LK_BUSY (the ledger's chain and the telemetry
 *      ids have one appender).
 *   2. Thread safety: every call may be made from any number of threads
 *      on one handle, except lk_mesh_close (after all others ended).
 *   3. Statuses are logkeep's (lk_status); lk_errmsg() has the detail.
 *      LK_EXISTS: the node or policy to create is there.  LK_NOT_FOUND: the
 *      one to read, update or delete is not.  LK_CONFLICT: a transaction
 *      lost to a concurrent write of what it read (the single calls retry
 *      themselves).  LK_INVALID: a bad argument,
 *      or a policy document rejected (with its line and column).  LK_BUSY:
 *      the telemetry queue is full.
 *   4. Returned objects are one allocation each: release with lk_free().
 *      Strings are NUL-terminated; lengths are bounded by the limits below
 *      (a caller passing more gets LK_TOO_BIG; a stored value past them
 *      is LK_CORRUPT).
 *   5. Times are milliseconds since the epoch on the database's clock
 *      (lk_now_ms): the same one that expires path-cache entries.
 *   6. Namespaces: "mesh.nodes", "mesh.policies", "mesh.cache" (no-sync:
 *      lk_ns_set_nosync), "mesh.ledger", "mesh.telemetry".  Values start
 *      with a version byte; lk_mesh_*_decode() are the only decoders and
 *      the tool uses them too.
 */
#ifndef LOGKEEP_MESH_H
#define LOGKEEP_MESH_H

#include <stddef.h>
#include <stdint.h>

#include "logkeep.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits (each a bound on what a caller or a stored value can make grow). */
#define LK_MESH_ID_BYTES_MAX 128u      /* node, policy, entity ids; actors */
#define LK_MESH_LIST_MAX 64u           /* interfaces, protocols of a node */
#define LK_MESH_NAME_BYTES_MAX 64u     /* an interface, a protocol, a status */
#define LK_MESH_POLICY_BYTES_MAX (256u * 1024u) /* a policy document */
#define LK_MESH_POLICY_RULES_MAX 100000u
/* Nesting of a policy document: libyaml's scanner takes time quadratic in
 * it (a 256 KiB document of '[' took 141 s), and no policy needs more. */
#define LK_MESH_POLICY_DEPTH_MAX 64
#define LK_MESH_BUNDLE_BYTES_MAX (256u * 1024u) /* a path-cache bundle */
#define LK_MESH_TEXT_BYTES_MAX 4096u   /* reasoning; a telemetry message */
#define LK_MESH_ATTRS_MAX 256u         /* attributes of a ledger entity */
#define LK_MESH_ATTR_BYTES_MAX 4096u   /* one attribute value */
#define LK_MESH_CACHE_TTL_DEFAULT_S 30u
/* Ledger steps of one transaction: the commit stages them holding the
 * ledger lock, which every append waits for. */
#define LK_MESH_TXN_LEDGER_MAX 64u

typedef struct lk_mesh lk_mesh;

/* Options of lk_mesh_open.  Fields are only appended. */
#define LK_MESH_OPTIONS_VERSION 1u
typedef struct lk_mesh_options {
	uint32_t version;              /* LK_MESH_OPTIONS_VERSION */
	uint32_t telemetry_queue_max;  /* entries; 0: 10,000 */
	uint32_t telemetry_batch_max;  /* entries per write; 0: 100 */
	uint32_t telemetry_flush_ms;   /* the writer's pace; 0: 1,000 */
} lk_mesh_options;
#define LK_MESH_OPTIONS_INIT { .version = LK_MESH_OPTIONS_VERSION }

/* Opens the mesh layer on db, registering its namespaces (a writable db)
 * and starting the telemetry writer.  opts may be NULL for the defaults.
 * Returns LK_OK, LK_INVALID, LK_NOT_FOUND (read-only db without the
 * namespaces: not a mesh database), LK_BUSY (a mesh is open on db),
 * LK_NOMEM, or a write status. */
LK_API lk_status lk_mesh_open(lk_mesh **mesh, lk_db *db,
			      const lk_mesh_options *opts);

/* Flushes the telemetry queue, stops its writer and frees the handle
 * (not the database).  Returns the flush's status.  NULL is a no-op. */
LK_API lk_status lk_mesh_close(lk_mesh *mesh);

/* The database under the mesh (for lk_backup, lk_stats_get, ...). */
LK_API lk_db *lk_mesh_db(lk_mesh *mesh);

/* ---------------------------------------------------------------------- */
/* Nodes                                                                  */
/* ---------------------------------------------------------------------- */

typedef struct lk_mesh_node {
	const char *id;
	const char *const *interfaces;
	size_t interface_count;
	const char *const *protocols;
	size_t protocol_count;
	int started;                  /* 0 or 1 */
	uint64_t routes_discovered;
	uint64_t created_at_ms;       /* set by the layer */
	uint64_t updated_at_ms;       /* set by the layer */
} lk_mesh_node;

/* Creates node->id with its interfaces, protocols, started and
 * routes_discovered (created_at_ms and updated_at_ms are now).  One
 * atomic step: with any number of threads creating the same id, one
 * gets LK_OK and every other LK_EXISTS. */
LK_API lk_status lk_mesh_node_create(lk_mesh *mesh, const lk_mesh_node *node);

/* The node, in one allocation (lk_free).  LK_NOT_FOUND if absent. */
LK_API lk_status lk_mesh_node_get(lk_mesh_node **node, lk_mesh *mesh,
				  const char *id);

/* Which fields lk_mesh_node_update sets. */
#define LK_MESH_NODE_INTERFACES 0x1u
#define LK_MESH_NODE_PROTOCOLS 0x2u
#define LK_MESH_NODE_STARTED 0x4u
#define LK_MESH_NODE_ROUTES 0x8u

/* Sets the fields of `fields` from `from` (its id is ignored) and
 * updated_at_ms to now; the others stay.  Atomic against concurrent
 * updates (read, then write conditioned on the sequence number read,
 * retried).  LK_NOT_FOUND if absent; LK_BUSY after 1,000 tries lost in a
 * row to other updates of the same node. */
LK_API lk_status lk_mesh_node_update(lk_mesh *mesh, const char *id,
				     const lk_mesh_node *from,
				     uint32_t fields);

/* LK_NOT_FOUND if absent. */
LK_API lk_status lk_mesh_node_delete(lk_mesh *mesh, const char *id);

/* Calls fn for each node (only those started, with started_only), in no
 * particular order; the node is valid during the call.  fn returns 0 to
 * go on, anything else to stop (then returned as LK_OK).  Returns LK_OK,
 * LK_CORRUPT, LK_IO, LK_NOMEM. */
typedef int (*lk_mesh_node_fn)(void *arg, const lk_mesh_node *node);
LK_API lk_status lk_mesh_node_list(lk_mesh *mesh, int started_only,
				   lk_mesh_node_fn fn, void *arg);

/* Decodes a stored node value (key: its id) into one allocation.  The
 * tool's dump uses it.  Returns LK_OK, LK_CORRUPT (naming the field),
 * LK_VERSION, LK_NOMEM. */
LK_API lk_status lk_mesh_node_decode(lk_mesh_node **node, const void *key,
				     size_t key_len, const void *value,
				     size_t value_len);

/* ---------------------------------------------------------------------- */
/* Policies                                                               */
/* ---------------------------------------------------------------------- */

typedef struct lk_mesh_policy {
	const char *id;
	const char *yaml;           /* the document as given */
	size_t yaml_len;
	uint32_t rules_count;       /* items of its top-level `rules` sequence */
	uint64_t created_at_ms;
	uint64_t updated_at_ms;
} lk_mesh_policy;

/* Why a document was rejected: where (1-based) and what. */
typedef struct lk_mesh_yaml_error {
	uint32_t line, column;
	char problem[160];
} lk_mesh_yaml_error;

/* Parses a policy document with libyaml: a YAML mapping with a top-level
 * `rules` sequence.  On LK_OK *rules_count is its length; on LK_INVALID
 * err (may be NULL) tells where and what, and lk_errmsg() says the same.
 * Nothing is stored.  Returns LK_OK, LK_INVALID, LK_TOO_BIG, LK_NOMEM. */
LK_API lk_status lk_mesh_policy_check(uint32_t *rules_count, const char *yaml,
				      size_t yaml_len,
				      lk_mesh_yaml_error *err);

/* Stores a new policy after lk_mesh_policy_check; rules_count comes from
 * the document.  A rejected document writes nothing (LK_INVALID, with
 * line and column).  LK_EXISTS if the id is there. */
LK_API lk_status lk_mesh_policy_create(lk_mesh *mesh, const char *id,
				       const char *yaml, size_t yaml_len);
/* Replaces the document of an existing policy (LK_NOT_FOUND if absent);
 * created_at_ms stays. */
LK_API lk_status lk_mesh_policy_update(lk_mesh *mesh, const char *id,
				       const char *yaml, size_t yaml_len);
/* Creates or replaces (created_at_ms kept when it existed). */
LK_API lk_status lk_mesh_policy_put(lk_mesh *mesh, const char *id,
				    const char *yaml, size_t yaml_len);
LK_API lk_status lk_mesh_policy_get(lk_mesh_policy **policy, lk_mesh *mesh,
				    const char *id);
LK_API lk_status lk_mesh_policy_delete(lk_mesh *mesh, const char *id);
typedef int (*lk_mesh_policy_fn)(void *arg, const lk_mesh_policy *policy);
LK_API lk_status lk_mesh_policy_list(lk_mesh *mesh, lk_mesh_policy_fn fn,
				     void *arg);
LK_API lk_status lk_mesh_policy_decode(lk_mesh_policy **policy,
				       const void *key, size_t key_len,
				       const void *value, size_t value_len);

/* ---------------------------------------------------------------------- */
/* Path cache                                                             */
/* ---------------------------------------------------------------------- */

/* (source, destination, k) -> bundle (opaque text, e.g. JSON), expiring
 * ttl_s seconds from now (0: LK_MESH_CACHE_TTL_DEFAULT_S).  set replaces.
 * Cache writes are no-sync: they survive a crash of the daemon, not
 * necessarily a power cut, and cost no fdatasync. */
LK_API lk_status lk_mesh_cache_set(lk_mesh *mesh, const char *source,
				   const char *destination, uint32_t k,
				   const char *bundle, size_t bundle_len,
				   uint32_t ttl_s);
/* The bundle (NUL-terminated, lk_free), never an expired one:
 * LK_NOT_FOUND then. */
LK_API lk_status lk_mesh_cache_get(char **bundle, size_t *bundle_len,
				   lk_mesh *mesh, const char *source,
				   const char *destination, uint32_t k);
/* Deletes the expired entries (reads never return them anyway; this
 * frees their index slots now, compaction their disk space) and says
 * how many went. */
LK_API lk_status lk_mesh_cache_clear_expired(uint64_t *removed,
					     lk_mesh *mesh);
/* Deletes every entry; says how many live ones went. */
LK_API lk_status lk_mesh_cache_clear_all(uint64_t *removed, lk_mesh *mesh);

/* ---------------------------------------------------------------------- */
/* Audit ledger                                                           */
/* ---------------------------------------------------------------------- */

/* An attribute of an entity; the set is hashed in canonical form, so
 * order does not matter and names must be distinct: SHA-256 of
 *   count:u32, then for each attribute sorted by name (strcmp):
 *   name_len:u16 name value_len:u32 value     (little-endian) */
typedef struct lk_mesh_attr {
	const char *name;
	const char *value;
} lk_mesh_attr;

typedef struct lk_mesh_entry {
	uint64_t position;          /* in the whole ledger, from 1 */
	uint32_t entity_index;      /* in the entity's history, from 1 */
	const char *entity;
	const char *from_status;    /* "" for the first */
	const char *to_status;
	const char *actor;
	const char *reasoning;
	uint64_t at_ms;
	uint8_t content_hash[32];   /* SHA-256 of the canonical attributes */
	uint8_t prev_hash[32];      /* SHA-256 of the previous ledger entry */
	uint8_t hash[32];           /* SHA-256 of this entry (computed) */
} lk_mesh_entry;

/* Records the entity's state: appends a transition (from its current
 * status to `status`) when the status or the attributes changed, and
 * nothing otherwise; *appended (may be NULL) says which.  Never no-sync:
 * under LK_SYNC_ALWAYS (the default) it is on disk when the call returns;
 * under the other sync modes it follows the database's.  No call updates
 * or deletes an entry, and compaction keeps them all. */
LK_API lk_status lk_mesh_ledger_save(lk_mesh *mesh, const char *entity,
				     const char *status, const char *actor,
				     const char *reasoning,
				     const lk_mesh_attr *attrs,
				     size_t attr_count, int *appended);

/* The entity's entries, oldest first, through fn, with point reads only
 * (1 + the number of entries): never a scan of the ledger.  LK_NOT_FOUND
 * for an entity without history. */
typedef int (*lk_mesh_entry_fn)(void *arg, const lk_mesh_entry *entry);
LK_API lk_status lk_mesh_ledger_history(lk_mesh *mesh, const char *entity,
					lk_mesh_entry_fn fn, void *arg);

/* *match 1 if attrs hash to the content hash of the entity's last entry
 * (the chained one, not a copy), 0 if they drifted.  LK_NOT_FOUND for an
 * entity without history; LK_CORRUPT if its head and last entry
 * disagree. */
LK_API lk_status lk_mesh_ledger_verify_state(int *match, lk_mesh *mesh,
					     const char *entity,
					     const lk_mesh_attr *attrs,
					     size_t attr_count);

/* What lk_mesh_ledger_verify_chain found. */
typedef struct lk_mesh_chain_report {
	uint64_t entries;           /* checked and holding */
	uint64_t broken_position;   /* 0: the chain holds (or, with
				       LK_CORRUPT, the ledger head itself is
				       unreadable: see problem) */
	uint64_t broken_segment;    /* where the record at fault is: the
				       entry's, or the ledger head's when
				       it is the head that disagrees */
	uint64_t broken_offset;
	char problem[200];
} lk_mesh_chain_report;

/* Walks the whole chain, oldest first: each entry's prev_hash must be the
 * previous one's hash, the positions must have no gap, each entity's head
 * must agree with its entries, and the last entry must match the ledger's
 * head, with no entry after it.  On a broken link returns LK_CORRUPT with the
 * report naming the entry (position, entity, segment, offset); progress
 * (may be NULL) is called every 4,096 entries with (done, total).
 * Returns LK_OK, LK_CORRUPT, LK_IO, LK_NOMEM. */
typedef void (*lk_mesh_progress_fn)(void *arg, uint64_t done, uint64_t total);
LK_API lk_status lk_mesh_ledger_verify_chain(lk_mesh_chain_report *report,
					     lk_mesh *mesh,
					     lk_mesh_progress_fn progress,
					     void *arg);

/* Decodes a stored ledger entry value (the tool's dump). */
LK_API lk_status lk_mesh_entry_decode(lk_mesh_entry **entry,
				      const void *value, size_t value_len);

/* ---------------------------------------------------------------------- */
/* Stored records, field by field (logkeep dump)                          */
/* ---------------------------------------------------------------------- */

typedef enum lk_mesh_field_kind {
	LK_MESH_FIELD_STR = 1,  /* s[0..n): text as stored (the writers
				   store UTF-8; a damaged record may not) */
	LK_MESH_FIELD_U64 = 2,  /* u */
	LK_MESH_FIELD_TIME = 3, /* u: ms since the epoch */
	LK_MESH_FIELD_BOOL = 4, /* u: 0 or 1 */
	LK_MESH_FIELD_HASH = 5, /* hash: 32 bytes (SHA-256) */
	LK_MESH_FIELD_LIST = 6, /* a list of u strings: the next u fields
				   (kind STR, name NULL) are its items */
} lk_mesh_field_kind;

typedef struct lk_mesh_field {
	const char *name;       /* NULL for a list's items */
	lk_mesh_field_kind kind;
	const char *s;
	size_t n;
	uint64_t u;
	const uint8_t *hash;
} lk_mesh_field;

typedef void (*lk_mesh_field_fn)(void *arg, const lk_mesh_field *field);

/* Describes one stored record of a mesh namespace (ns_name, e.g.
 * "mesh.nodes"): *what is set to what the record is ("node", "policy",
 * "path-cache entry", "ledger head", "ledger entity head", "ledger
 * entry", "ledger chain link", "telemetry entry", "telemetry next id"),
 * and fn gets the fields of its key, then of its value (value NULL for
 * a delete: the key's only), valid during the call.  Pointers in the
 * fields point into key and value.  It reads only what it is given, with
 * every length bounded; fields passed before a problem stand.
 * Returns LK_OK, LK_NOT_FOUND (not a mesh namespace: *what NULL),
 * LK_CORRUPT (a key or value no writer of this layer produces: the
 * detail names the field), LK_VERSION (a newer value version). */
LK_API lk_status lk_mesh_describe(const char **what, const char *ns_name,
				  const void *key, size_t key_len,
				  const void *value, size_t value_len,
				  lk_mesh_field_fn fn, void *arg);

/* ---------------------------------------------------------------------- */
/* Telemetry                                                              */
/* ---------------------------------------------------------------------- */

typedef enum lk_mesh_telemetry_kind {
	LK_MESH_TELEMETRY_EVENT = 1,
	LK_MESH_TELEMETRY_ERROR = 2,     /* an error captured */
	LK_MESH_TELEMETRY_DECISION = 3,  /* a routing decision captured */
} lk_mesh_telemetry_kind;

/* Queues an entry and returns at once, never blocking on I/O: a
 * background writer stores entries in batches, as soon as a batch is
 * queued or every telemetry_flush_ms.  The writer is a thread of the
 * database handle's I/O layer (lk_db_io) and keeps its monotonic clock:
 * under a test layer's simulated clock, entries short of a batch wait
 * until the test moves it.  LK_BUSY when the queue is full (the refusal
 * is counted); LK_TOO_BIG past the limits. */
LK_API lk_status lk_mesh_telemetry_record(lk_mesh *mesh,
					  lk_mesh_telemetry_kind kind,
					  const char *source,
					  const char *message);

/* The adapters of the predecessors' ShadowLogger: an error captured
 * (component, error type, message) and a routing decision captured
 * (unit of work, guardian, condition, decision, branch index). */
LK_API lk_status lk_mesh_capture_error(lk_mesh *mesh, const char *component,
				       const char *error_type,
				       const char *message);
LK_API lk_status lk_mesh_capture_decision(lk_mesh *mesh, const char *uow,
					  const char *guardian,
					  const char *condition,
					  const char *decision,
					  int32_t branch_index);

/* Writes what is queued when it is called (not what other threads add
 * meanwhile), in batches, and syncs it.  A batch whose write fails is
 * dropped and counted in failures (stats), as the background writer's
 * are; the status says so. */
LK_API lk_status lk_mesh_telemetry_flush(lk_mesh *mesh);

typedef struct lk_mesh_telemetry_stats {
	uint64_t pending;           /* queued, not yet written */
	uint64_t written;           /* stored by this handle */
	uint64_t refused;           /* LK_BUSY answers */
	uint64_t batches;           /* writes of one or more entries */
	uint64_t failures;          /* background writes that failed (and
				       a writer that found no memory for
				       its sleep: it stops, and entries
				       wait for a flush or the close) */
} lk_mesh_telemetry_stats;
LK_API lk_status lk_mesh_telemetry_stats_get(lk_mesh_telemetry_stats *stats,
					     lk_mesh *mesh);

/* ---------------------------------------------------------------------- */
/* Transactions across collections                                        */
/* ---------------------------------------------------------------------- */

/* A transaction collects writes to several collections and commits them
 * as one batch: all or nothing, also across a crash.  A step that fails
 * (bad input, a rejected policy) fails the transaction: its commit
 * returns that status and writes nothing.  Ledger steps are checked when
 * added and staged at the commit, against the ledger as it is then (so a
 * step's *appended is known only after the commit: use
 * lk_mesh_ledger_save for it); at most LK_MESH_TXN_LEDGER_MAX of them.
 * Not for use by two threads at once; the commit may be called from
 * another thread than the steps. */
typedef struct lk_mesh_txn lk_mesh_txn;

LK_API lk_status lk_mesh_txn_begin(lk_mesh_txn **txn, lk_mesh *mesh);
/* Each returns the step's status and remembers the first failure. */
LK_API lk_status lk_mesh_txn_node_create(lk_mesh_txn *txn,
					 const lk_mesh_node *node);
LK_API lk_status lk_mesh_txn_node_delete(lk_mesh_txn *txn, const char *id);
LK_API lk_status lk_mesh_txn_policy_put(lk_mesh_txn *txn, const char *id,
					const char *yaml, size_t yaml_len);
LK_API lk_status lk_mesh_txn_ledger_save(lk_mesh_txn *txn,
					 const char *entity,
					 const char *status, const char *actor,
					 const char *reasoning,
					 const lk_mesh_attr *attrs,
					 size_t attr_count);
/* Commits and frees the transaction.  Returns LK_OK, the first failed
 * step's status, LK_EXISTS (a node or policy to create appeared
 * meanwhile), LK_NOT_FOUND (a node to delete went meanwhile),
 * LK_CONFLICT (a policy or the ledger changed under it: build it again),
 * or a write status; on any but LK_OK nothing was written. */
LK_API lk_status lk_mesh_txn_commit(lk_mesh_txn *txn);
/* Drops and frees it.  NULL is a no-op. */
LK_API void lk_mesh_txn_rollback(lk_mesh_txn *txn);

/* ---------------------------------------------------------------------- */
/* Stats and maintenance                                                  */
/* ---------------------------------------------------------------------- */

typedef struct lk_mesh_stats {
	uint64_t nodes, nodes_started;
	uint64_t policies;
	uint64_t cache_entries;         /* live */
	uint64_t ledger_entries, ledger_entities;
	uint64_t telemetry_entries;     /* stored */
	uint64_t disk_bytes;            /* of the whole database */
} lk_mesh_stats;
LK_API lk_status lk_mesh_stats_get(lk_mesh_stats *stats, lk_mesh *mesh);

/* The predecessors' vacuum: an lk_compact of the database. */
LK_API lk_status lk_mesh_vacuum(lk_mesh *mesh);

/* The predecessors' backup: lk_backup of the database (consistent while
 * in use; restoring is opening the copy). */
LK_API lk_status lk_mesh_backup(lk_mesh *mesh, const char *dest_path);

#ifdef __cplusplus
}
#endif

#endif /* LOGKEEP_MESH_H */
