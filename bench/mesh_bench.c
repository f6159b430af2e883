/* SPDX-License-Identifier: MIT */
/*
 * mesh_bench.c - logkeep-mesh-bench: the mesh layer (logkeep_mesh.h)
 * against SQLite doing the same operations in the same run, SQLite set up
 * as the predecessors had it (seeds/000 storage layer, seeds/004 audit
 * ledger).  bench.c's conventions hold: nothing is asserted about a
 * timing (the machine is shared and noisy), the figures are reported, and
 * `meson test --suite bench` runs it once with --smoke (tiny sizes, every
 * workload, every value read back checked).
 *
 * Engines
 * -------
 * A column each, each in a fresh directory with a fresh handle:
 *
 *   lk-always  the mesh layer on lk_open(sync = LK_SYNC_ALWAYS), the default
 *   lk-none    the same on LK_SYNC_NONE
 *   sq-normal  SQLite: WAL, synchronous=NORMAL, as the predecessors had it
 *   sq-full    SQLite: WAL, synchronous=FULL (--no-sqlite-full drops it)
 *
 * SQLite is an optional peer: meson defines LK_BENCH_SQLITE when it finds
 * sqlite3, and without it the SQLite columns and the ratios are n/a.  Its
 * adapter does in C what the predecessors' Python did: one connection,
 * each statement prepared once, the seeds/000 schema as written (nodes,
 * policies, path_cache and their indexes), interface and protocol lists
 * stored as JSON text and parsed back into an lk_mesh_node on a get (as
 * NodeData was built), the cache key "source:destination:k" and an
 * expiry check on the read.  The ledger is a table of seeds/004's history
 * columns (entity_id, from_status, to_status, actor, reasoning, timestamp,
 * content_hash, prev_hash) with an index on entity_id.
 *
 * The ledger on both sides
 * ------------------------
 * An append hashes the attributes in the canonical form of logkeep_mesh.h
 * (the bench's copy of ledger.c's, which every run checks against what
 * logkeep stored), reads the entity's status and content hash, appends
 * nothing when neither changed (the bench always changes the status), and
 * links the entry to the SHA-256 of the one before.  logkeep keeps that
 * hash in its ledger head; the table has no column for it, so SQLite reads
 * the last row and hashes it: one SHA-256 of attributes and one of an
 * entry on each side, both with libsodium's crypto_hash_sha256.  SQLite
 * does it in one BEGIN IMMEDIATE ... COMMIT, as save_uow's session did.  A
 * history hands over every entry with its hash (lk_mesh_entry.hash), so
 * SQLite hashes each row it returns, as logkeep hashes each entry it reads.
 *
 * The table
 * ---------
 * Every engine runs, in order: the seeds' two performance tests (100 node
 * creates into a fresh database, < 10 s; then 100 gets, < 0.2 s; shown as
 * rows and as totals beside the seeds' limits), --nodes creates, gets in a
 * permuted order and updates of routes_discovered; --ops cache sets and
 * gets; --ops ledger appends over --ops/10 entities (ten each, the status
 * changing every time) and --ops histories of random entities.  Each
 * operation is timed alone: the table gives ops/s (operations over the sum
 * of their times) and the p99 latency, with ratios logkeep / SQLite.  Per
 * operation, logkeep's fdatasyncs (lk_stats.sync_calls) and reads (preads
 * of this thread, counted by an I/O table that wraps lk_io_posix()), and
 * SQLite's page-cache misses (each a read of a page from the file).
 *
 * The two figures of the issue
 * ----------------------------
 * (a) What no-sync saves: --cache-sets lk_mesh_cache_set calls (the cache
 *     namespace is no-sync) against as many lk_put of the same keys and
 *     values (the bytes cache.c writes, built here) into an ordinary
 *     namespace under LK_SYNC_ALWAYS, each from an empty database, counted
 *     by lk_stats (sync_calls, log_bytes_written: the zero prefill
 *     included) and by the I/O table (every fdatasync, every byte
 *     pwritten).  The durable side runs --durable-puts and is scaled, as
 *     the output says: at 0.1-1 ms an fdatasync, 100,000 would take
 *     minutes.
 * (b) History of one entity in a big ledger: --ledger-entries entries over
 *     --entities entities, built round robin in transactions of up to 64
 *     appends (lk_mesh_txn_ledger_save; BEGIN IMMEDIATE ... COMMIT), for
 *     lk-always and sq-normal.  The build is timed; then the database is
 *     settled (lk_mesh_vacuum, so that the idle compaction does not run
 *     under the reads; PRAGMA wal_checkpoint(TRUNCATE) for SQLite) and
 *     --histories histories of random entities are timed one by one
 *     (p50, p99), with logkeep's preads and SQLite's page lookups and
 *     misses per history.
 *
 * Data
 * ----
 * Nothing is stored by the bench: every id, value and expected read is a
 * function of an index (node "node-<16 hex>", entity "uow-<16 hex>", the
 * hex a bijective mix of the index), so checks recompute what they
 * expect.  Bundles are JSON path lists of 112 to 193 bytes, below
 * logkeep's compression threshold (LK_COMPRESS_MIN_BYTES).  Timestamps are
 * each engine's: lk_now_ms, and the wall clock in seconds (REAL) for
 * SQLite, as time.time() was.
 *
 * Timing
 * ------
 * CLOCK_MONOTONIC around each engine call, and around the release of what
 * it returned (lk_free, free); the arguments are made and the results
 * checked outside.  The engines run one after the other, never at once.
 */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#ifdef LK_BENCH_SQLITE
#include <sqlite3.h>
#endif

#include "bench_util.h"
#include "logkeep.h"
#include "logkeep_io.h"
#include "logkeep_mesh.h"

/* ---------------------------------------------------------------------- */
/* Parameters                                                             */
/* ---------------------------------------------------------------------- */

/* seeds/000's performance tests: 100 node creates in under 10 s, then 100
 * gets in under 0.2 s.  Reported beside the limits, never asserted. */
#define SEED_OPS 100u
#define SEED_CREATE_LIMIT_MS 10000.0
#define SEED_GET_LIMIT_MS 200.0

#define NODES_DEFAULT UINT64_C(2000)
#define OPS_DEFAULT UINT64_C(2000)
#define CACHE_SETS_DEFAULT UINT64_C(100000)
#define DURABLE_PUTS_DEFAULT UINT64_C(10000)
#define LEDGER_ENTRIES_DEFAULT UINT64_C(1000000)
#define ENTITIES_DEFAULT UINT64_C(10000)
#define HISTORIES_DEFAULT UINT64_C(1000)

#define SMOKE_NODES UINT64_C(40)
#define SMOKE_OPS UINT64_C(40)
#define SMOKE_CACHE_SETS UINT64_C(400)
#define SMOKE_DURABLE_PUTS UINT64_C(40)
#define SMOKE_LEDGER_ENTRIES UINT64_C(1500)
#define SMOKE_ENTITIES UINT64_C(50)   /* under 64: a short transaction */
#define SMOKE_HISTORIES UINT64_C(50)

/* Every count: 800 MB of latency samples at most. */
#define COUNT_MAX UINT64_C(100000000)

/* The table's ledger: --ops appends, this many per entity. */
#define TABLE_ENTRIES_PER_ENTITY 10u

/* A mesh transaction stages at most 64 entities (ledger.c's
 * STAGE_ENTITIES_MAX: logkeep_mesh.h does not say), so the build of (b)
 * commits at most 64 appends, of distinct entities, at a time. */
#define TXN_ENTITIES_MAX 64u

/* No cache entry expires during a run (the seeds' default is 30 s). */
#define CACHE_TTL_S 3600u

#define SEED_GET UINT64_C(2)
#define SEED_UPDATE UINT64_C(3)
#define SEED_CACHE_GET UINT64_C(4)
#define SEED_HISTORY UINT64_C(5)
#define SALT_ROUTES UINT64_C(0x726f757465732121)  /* "routes!!" */
#define SALT_HOPS UINT64_C(0x686f70686f706821)    /* "hophoph!" */
#define SALT_AMOUNT UINT64_C(0x616d6f756e742121)  /* "amount!!" */
#define CACHE_DST_BASE (UINT64_C(1) << 40) /* past every source's index */

#define ERR_BYTES 512u
#define NAME_BYTES 40u      /* "node-" and 16 hex digits, NUL */
#define REASON_BYTES 96u
#define BUNDLE_BYTES 320u   /* the longest bundle made below, and room */
#define HASH_BYTES 32u
#define ATTR_COUNT 3u
#define STATUS_COUNT 4u

_Static_assert(crypto_hash_sha256_BYTES == HASH_BYTES, "SHA-256");
_Static_assert(NAME_BYTES <= LK_MESH_ID_BYTES_MAX, "ids within the limit");

/* ---------------------------------------------------------------------- */
/* Ids, values and orders                                                 */
/* ---------------------------------------------------------------------- */


static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* "prefix-<16 hex>": distinct indexes give distinct names. */
static void make_name(char out[NAME_BYTES], const char *prefix, uint64_t i)
{
	int len = snprintf(out, NAME_BYTES, "%s-%016" PRIx64, prefix,
			   mix64(i));
	assert(len > 0 && (unsigned)len < NAME_BYTES);
	(void)len;
}

static const char *const interface_names[] = { "eth0", "eth1", "wlan0",
					       "mesh0" };
static const char *const protocol_names[] = { "batman-adv", "babel",
					      "olsr2" };

/* Node i of a set ("seed" or "node").  The node points into the spec:
 * make it where it is used. */
struct node_spec {
	char id[NAME_BYTES];
	const char *interfaces[2];
	const char *protocols[2];
	lk_mesh_node node;
};

static void node_make(struct node_spec *s, const char *prefix, uint64_t i)
{
	make_name(s->id, prefix, i);
	s->interfaces[0] = interface_names[i % 2];
	s->interfaces[1] = interface_names[2 + (i / 2) % 2];
	s->protocols[0] = protocol_names[i % 3];
	s->protocols[1] = protocol_names[(i + 1) % 3];
	memset(&s->node, 0, sizeof s->node);
	s->node.id = s->id;
	s->node.interfaces = s->interfaces;
	s->node.interface_count = 2;
	s->node.protocols = s->protocols;
	s->node.protocol_count = 1 + i % 2;
	s->node.started = (int)(i & 1);
	s->node.routes_discovered = i * 7 + 3;
}

/* What the update workload sets node i's routes_discovered to. */
static uint64_t routes_updated(uint64_t i)
{
	return mix64(i ^ SALT_ROUTES) % 1000000;
}

/* Cache entry i: (node i/8, one of 8 destinations, k 1..3) -> a bundle of
 * k paths of 2 to 4 hops. */
struct cache_spec {
	char source[NAME_BYTES];
	char destination[NAME_BYTES];
	uint32_t k;
	char bundle[BUNDLE_BYTES];
	size_t bundle_len;
};

static void cache_make(struct cache_spec *c, uint64_t i)
{
	size_t at;
	int n;

	make_name(c->source, "node", i >> 3);
	make_name(c->destination, "node", CACHE_DST_BASE + (i & 7));
	c->k = 1 + (uint32_t)(i % 3);
	n = snprintf(c->bundle, BUNDLE_BYTES,
		     "{\"source\":\"%s\",\"destination\":\"%s\",\"k\":%" PRIu32
		     ",\"paths\":[",
		     c->source, c->destination, c->k);
	assert(n > 0 && (unsigned)n < BUNDLE_BYTES);
	at = (size_t)n;
	for (uint32_t p = 0; p < c->k; p++) {
		for (uint32_t h = 0; h < 2 + p; h++) {
			uint64_t hop = mix64(i * 16 + p * 4 + h + SALT_HOPS);
			n = snprintf(c->bundle + at, BUNDLE_BYTES - at,
				     "%s\"%08" PRIx32 "\"",
				     h == 0 ? (p == 0 ? "[" : ",[") : ",",
				     (uint32_t)hop);
			assert(n > 0 && (size_t)n < BUNDLE_BYTES - at);
			at += (size_t)n;
		}
		n = snprintf(c->bundle + at, BUNDLE_BYTES - at, "]");
		assert(n > 0 && (size_t)n < BUNDLE_BYTES - at);
		at += (size_t)n;
	}
	n = snprintf(c->bundle + at, BUNDLE_BYTES - at, "]}");
	assert(n > 0 && (size_t)n < BUNDLE_BYTES - at);
	c->bundle_len = at + (size_t)n;
}

static const char *const status_names[STATUS_COUNT] = {
	"PENDING", "ACTIVE", "BLOCKED", "COMPLETED"
};

/* The index-th save (from 1) of entity e: the status moves on every
 * time, so every save appends.  The attributes point into the spec. */
struct save_spec {
	char entity[NAME_BYTES];
	const char *from_status;
	const char *to_status;
	char actor[NAME_BYTES];
	char reasoning[REASON_BYTES];
	char amount[24];
	char step[24];
	lk_mesh_attr attrs[ATTR_COUNT];
};

static void save_make(struct save_spec *s, uint64_t e, uint32_t index)
{
	assert(index >= 1);
	make_name(s->entity, "uow", e);
	s->to_status = status_names[(index - 1) % STATUS_COUNT];
	s->from_status =
		index == 1 ? "" : status_names[(index - 2) % STATUS_COUNT];
	snprintf(s->actor, sizeof s->actor, "router-%02u", (unsigned)(e % 16));
	snprintf(s->reasoning, sizeof s->reasoning,
		 "transition %" PRIu32 " of %s: routine state change", index,
		 s->entity);
	snprintf(s->amount, sizeof s->amount, "%" PRIu64,
		 mix64(e * 1000003 + index + SALT_AMOUNT) % 1000000);
	snprintf(s->step, sizeof s->step, "%" PRIu32, index);
	s->attrs[0] = (lk_mesh_attr){ "step", s->step };
	s->attrs[1] = (lk_mesh_attr){ "amount", s->amount };
	s->attrs[2] = (lk_mesh_attr){ "owner", s->actor };
}

static int attr_by_name(const void *a, const void *b)
{
	const lk_mesh_attr *x = *(const lk_mesh_attr *const *)a;
	const lk_mesh_attr *y = *(const lk_mesh_attr *const *)b;
	return strcmp(x->name, y->name);
}

/* The content hash of logkeep_mesh.h, byte for byte as ledger.c makes it:
 * SHA-256 of count:u32, then for each attribute sorted by name
 * name_len:u16 name value_len:u32 value, little-endian.  Names are the
 * caller's, distinct and within the limits. */
static void content_hash(uint8_t out[HASH_BYTES], const lk_mesh_attr *attrs,
			 size_t n)
{
	const lk_mesh_attr *sorted[LK_MESH_ATTRS_MAX];
	crypto_hash_sha256_state h;
	uint8_t x[4];

	assert(n <= LK_MESH_ATTRS_MAX);
	for (size_t i = 0; i < n; i++)
		sorted[i] = &attrs[i];
	qsort(sorted, n, sizeof sorted[0], attr_by_name);
	crypto_hash_sha256_init(&h);
	for (int i = 0; i < 4; i++)
		x[i] = (uint8_t)(n >> (8 * i));
	crypto_hash_sha256_update(&h, x, 4);
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(sorted[i]->name);
		size_t vl = strlen(sorted[i]->value);

		assert(nl <= LK_MESH_NAME_BYTES_MAX &&
		       vl <= LK_MESH_ATTR_BYTES_MAX);
		x[0] = (uint8_t)nl;
		x[1] = (uint8_t)(nl >> 8);
		crypto_hash_sha256_update(&h, x, 2);
		crypto_hash_sha256_update(&h, (const uint8_t *)sorted[i]->name,
					  nl);
		for (int j = 0; j < 4; j++)
			x[j] = (uint8_t)(vl >> (8 * j));
		crypto_hash_sha256_update(&h, x, 4);
		crypto_hash_sha256_update(&h,
					  (const uint8_t *)sorted[i]->value, vl);
	}
	crypto_hash_sha256_final(&h, out);
}

/* In a ledger of `entries` appends made round robin over `entities`
 * (append i to entity i mod entities), what entity e holds and where. */
static uint64_t entity_entries(uint64_t e, uint64_t entries,
			       uint64_t entities)
{
	return entries / entities + (e < entries % entities ? 1 : 0);
}

static uint64_t entry_position(uint64_t e, uint32_t index, uint64_t entities)
{
	return (uint64_t)(index - 1) * entities + e + 1;
}

/* ---------------------------------------------------------------------- */
/* Clocks and figures                                                     */
/* ---------------------------------------------------------------------- */

/* The latencies of one workload's operations. */
struct timing {
	double *latency_us; /* room for the largest count of the run */
	size_t cap;
	size_t count;
	uint64_t busy_ns;
};

static void timing_start(struct timing *t)
{
	t->count = 0;
	t->busy_ns = 0;
}

static void timing_add(struct timing *t, uint64_t ns)
{
	assert(t->count < t->cap);
	t->latency_us[t->count++] = (double)ns / 1e3;
	t->busy_ns += ns;
}

/* One operation's figures; NAN where not measured or not applicable. */
struct opfig {
	double count;
	double ops_s;         /* count over the sum of the operations' times */
	double p50_us;
	double p99_us;
	double total_ms;      /* the sum of the operations' times */
	double syncs_per_op;  /* logkeep: lk_stats.sync_calls */
	double reads_per_op;  /* logkeep: preads; SQLite: page-cache misses */
};

static void opfig_init(struct opfig *f)
{
	f->count = f->ops_s = f->p50_us = f->p99_us = f->total_ms = NAN;
	f->syncs_per_op = f->reads_per_op = NAN;
}

static void opfig_from(struct opfig *f, struct timing *t)
{
	qsort(t->latency_us, t->count, sizeof t->latency_us[0], cmp_double);
	f->count = (double)t->count;
	f->ops_s = t->busy_ns ? (double)t->count * 1e9 / (double)t->busy_ns
			      : NAN;
	f->p50_us = percentile(t->latency_us, t->count, 50);
	f->p99_us = percentile(t->latency_us, t->count, 99);
	f->total_ms = (double)t->busy_ns / 1e6;
}

/* ---------------------------------------------------------------------- */
/* The counting I/O table                                                 */
/* ---------------------------------------------------------------------- */

/* lk_io_posix() with pread, pwrite and sync counted, as logkeep_io.h
 * invites ("to count or throttle I/O").  preads are counted per thread,
 * so that a history's reads are the caller's, not the background
 * compaction's; writes and syncs over all threads. */
static lk_io counting_io;
static const lk_io *posix_io;
static _Thread_local uint64_t preads_here;
static atomic_uint_fast64_t io_syncs;
static atomic_uint_fast64_t io_pwrite_bytes;

static lk_status counting_pread(void *ctx, lk_io_file *file, void *buf,
				size_t n, uint64_t offset, size_t *got)
{
	preads_here++;
	return posix_io->pread(ctx, file, buf, n, offset, got);
}

static lk_status counting_pwrite(void *ctx, lk_io_file *file, const void *buf,
				 size_t n, uint64_t offset)
{
	atomic_fetch_add_explicit(&io_pwrite_bytes, n, memory_order_relaxed);
	return posix_io->pwrite(ctx, file, buf, n, offset);
}

static lk_status counting_sync(void *ctx, lk_io_file *file)
{
	atomic_fetch_add_explicit(&io_syncs, 1, memory_order_relaxed);
	return posix_io->sync(ctx, file);
}

/* Called once, before any handle opens. */
static void counting_io_init(void)
{
	posix_io = lk_io_posix();
	counting_io = *posix_io; /* its ctx too: the calls pass it on */
	counting_io.pread = counting_pread;
	counting_io.pwrite = counting_pwrite;
	counting_io.sync = counting_sync;
}

/* ---------------------------------------------------------------------- */
/* The engine adapter                                                     */
/* ---------------------------------------------------------------------- */

/* Cumulative counters of a handle; NAN where the engine cannot tell.
 * The harness takes differences around a workload. */
struct io_figures {
	double syncs;        /* logkeep: lk_stats.sync_calls */
	double log_bytes;    /* logkeep: lk_stats.log_bytes_written */
	double commits;      /* logkeep: lk_stats.commits */
	double reads;        /* logkeep: preads of this thread; SQLite: pages
				read from the file (page-cache misses) */
	double pages;        /* SQLite: pages looked up (hits and misses) */
	double io_syncs;     /* logkeep: fdatasyncs through the I/O table */
	double pwrite_bytes; /* logkeep: bytes through the I/O table */
};

struct engine;

struct engine_ops {
	/* Opens a new database in directory dir (which exists, empty). */
	bool (*open)(struct engine *e, const char *dir);
	/* Closes and frees the handle, even when it fails. */
	bool (*close)(struct engine *e);
	/* Creates a node that is not there: its existence is a failure. */
	bool (*node_create)(struct engine *e, const lk_mesh_node *node);
	/* *node: the node (release() it), or NULL if absent. */
	bool (*node_get)(struct engine *e, const char *id, lk_mesh_node **node);
	/* Sets routes_discovered (and updated_at); *found: it was there. */
	bool (*node_set_routes)(struct engine *e, const char *id,
				uint64_t routes, bool *found);
	bool (*cache_set)(struct engine *e, const struct cache_spec *c,
			  uint32_t ttl_s);
	/* *bundle: NUL-terminated (release() it), or NULL if absent. */
	bool (*cache_get)(struct engine *e, const struct cache_spec *c,
			  char **bundle, size_t *bundle_len);
	void (*release)(struct engine *e, void *p);
	/* An append alone (its own transaction), or with txn_begin before
	 * and txn_commit after a run of them; *appended is 1 or 0, or -1
	 * inside a transaction if the engine cannot tell. */
	bool (*txn_begin)(struct engine *e);
	bool (*ledger_save)(struct engine *e, const struct save_spec *s,
			    bool in_txn, int *appended);
	bool (*txn_commit)(struct engine *e);
	/* Calls fn for each entry of entity, oldest first (fn returns
	 * non-zero to stop); *found: the entity has a history. */
	bool (*history)(struct engine *e, const char *entity,
			lk_mesh_entry_fn fn, void *arg, bool *found);
	/* The entries of the whole ledger, every link checked. */
	bool (*verify_chain)(struct engine *e, uint64_t *entries);
	/* The entries of the whole ledger, from its own count. */
	bool (*ledger_count)(struct engine *e, uint64_t *entries);
	/* After a bulk build: compaction, or a checkpoint. */
	bool (*settle)(struct engine *e);
	bool (*disk_bytes)(struct engine *e, double *bytes);
	bool (*io)(struct engine *e, struct io_figures *f);
};

/* A column: an engine in one configuration. */
#define SQ_NORMAL 1 /* engine_def.mode of SQLite: PRAGMA synchronous */
#define SQ_FULL 2
struct engine_def {
	const char *name;
	const char *what;
	const struct engine_ops *ops;
	int mode;          /* lk_sync_mode, or SQ_NORMAL, SQ_FULL */
	bool is_sqlite;
};

struct engine {
	const struct engine_def *def;
	void *impl;          /* the adapter's handle; NULL while closed */
	char err[ERR_BYTES]; /* what the last failure was */
};

static bool failf(struct engine *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool failf(struct engine *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->err, sizeof e->err, fmt, ap);
	va_end(ap);
	return false;
}

static void io_none(struct io_figures *f)
{
	f->syncs = f->log_bytes = f->commits = NAN;
	f->reads = f->pages = f->io_syncs = f->pwrite_bytes = NAN;
}

/* ---------------------------------------------------------------------- */
/* Adapter: logkeep (the mesh layer)                                      */
/* ---------------------------------------------------------------------- */

struct lk_adapter {
	lk_db *db;
	lk_mesh *mesh;
	lk_mesh_txn *txn; /* between txn_begin and txn_commit */
};

/* Call before anything that could replace the thread's lk_errmsg. */
static bool logkeep_fail(struct engine *e, const char *call, lk_status st)
{
	assert(st != LK_OK);
	return failf(e, "%s: %s: %s", call, lk_strerror(st), lk_errmsg());
}

/* Opens a database in dir with the counting I/O table. */
static lk_status logkeep_db_open(lk_db **db, const char *dir,
				 lk_sync_mode sync)
{
	lk_options opts;

	lk_options_init(&opts);
	opts.sync = sync;
	opts.io = &counting_io;
	return lk_open(db, dir, &opts);
}

static bool logkeep_open(struct engine *e, const char *dir)
{
	assert(e->impl == NULL);
	struct lk_adapter *a = calloc(1, sizeof *a);
	lk_status st;

	if (a == NULL)
		return failf(e, "out of memory");
	st = logkeep_db_open(&a->db, dir, (lk_sync_mode)e->def->mode);
	if (st != LK_OK) {
		logkeep_fail(e, "lk_open", st);
		free(a);
		return false;
	}
	st = lk_mesh_open(&a->mesh, a->db, NULL);
	if (st != LK_OK) {
		logkeep_fail(e, "lk_mesh_open", st);
		(void)lk_close(a->db); /* already failing */
		free(a);
		return false;
	}
	e->impl = a;
	return true;
}

static bool logkeep_close(struct engine *e)
{
	struct lk_adapter *a = e->impl;
	bool ok = true;

	assert(a != NULL);
	e->impl = NULL;
	lk_mesh_txn_rollback(a->txn);
	lk_status st = lk_mesh_close(a->mesh);
	if (st != LK_OK)
		ok = logkeep_fail(e, "lk_mesh_close", st);
	st = lk_close(a->db);
	if (st != LK_OK && ok)
		ok = logkeep_fail(e, "lk_close", st);
	free(a);
	return ok;
}

static bool logkeep_node_create(struct engine *e, const lk_mesh_node *node)
{
	struct lk_adapter *a = e->impl;
	lk_status st = lk_mesh_node_create(a->mesh, node);

	return st == LK_OK || logkeep_fail(e, "lk_mesh_node_create", st);
}

static bool logkeep_node_get(struct engine *e, const char *id,
			     lk_mesh_node **node)
{
	struct lk_adapter *a = e->impl;
	lk_status st = lk_mesh_node_get(node, a->mesh, id);

	if (st == LK_NOT_FOUND) {
		*node = NULL;
		return true;
	}
	return st == LK_OK || logkeep_fail(e, "lk_mesh_node_get", st);
}

static bool logkeep_node_set_routes(struct engine *e, const char *id,
				    uint64_t routes, bool *found)
{
	struct lk_adapter *a = e->impl;
	lk_mesh_node from = { .routes_discovered = routes };
	lk_status st = lk_mesh_node_update(a->mesh, id, &from,
					   LK_MESH_NODE_ROUTES);

	*found = st == LK_OK;
	return st == LK_OK || st == LK_NOT_FOUND ||
	       logkeep_fail(e, "lk_mesh_node_update", st);
}

static bool logkeep_cache_set(struct engine *e, const struct cache_spec *c,
			      uint32_t ttl_s)
{
	struct lk_adapter *a = e->impl;
	lk_status st = lk_mesh_cache_set(a->mesh, c->source, c->destination,
					 c->k, c->bundle, c->bundle_len,
					 ttl_s);

	return st == LK_OK || logkeep_fail(e, "lk_mesh_cache_set", st);
}

static bool logkeep_cache_get(struct engine *e, const struct cache_spec *c,
			      char **bundle, size_t *bundle_len)
{
	struct lk_adapter *a = e->impl;
	lk_status st = lk_mesh_cache_get(bundle, bundle_len, a->mesh,
					 c->source, c->destination, c->k);

	if (st == LK_NOT_FOUND) {
		*bundle = NULL;
		return true;
	}
	return st == LK_OK || logkeep_fail(e, "lk_mesh_cache_get", st);
}

static void logkeep_release(struct engine *e, void *p)
{
	(void)e;
	lk_free(p);
}

static bool logkeep_txn_begin(struct engine *e)
{
	struct lk_adapter *a = e->impl;
	assert(a->txn == NULL);
	lk_status st = lk_mesh_txn_begin(&a->txn, a->mesh);

	return st == LK_OK || logkeep_fail(e, "lk_mesh_txn_begin", st);
}

static bool logkeep_ledger_save(struct engine *e, const struct save_spec *s,
				bool in_txn, int *appended)
{
	struct lk_adapter *a = e->impl;
	lk_status st;

	if (in_txn) {
		/* lk_mesh_txn_ledger_save does not say whether it appended */
		assert(a->txn != NULL);
		*appended = -1;
		st = lk_mesh_txn_ledger_save(a->txn, s->entity, s->to_status,
					     s->actor, s->reasoning, s->attrs,
					     ATTR_COUNT);
		return st == LK_OK ||
		       logkeep_fail(e, "lk_mesh_txn_ledger_save", st);
	}
	st = lk_mesh_ledger_save(a->mesh, s->entity, s->to_status, s->actor,
				 s->reasoning, s->attrs, ATTR_COUNT, appended);
	return st == LK_OK || logkeep_fail(e, "lk_mesh_ledger_save", st);
}

static bool logkeep_txn_commit(struct engine *e)
{
	struct lk_adapter *a = e->impl;
	assert(a->txn != NULL);
	lk_status st = lk_mesh_txn_commit(a->txn); /* frees it, always */

	a->txn = NULL;
	return st == LK_OK || logkeep_fail(e, "lk_mesh_txn_commit", st);
}

static bool logkeep_history(struct engine *e, const char *entity,
			    lk_mesh_entry_fn fn, void *arg, bool *found)
{
	struct lk_adapter *a = e->impl;
	lk_status st = lk_mesh_ledger_history(a->mesh, entity, fn, arg);

	*found = st == LK_OK;
	return st == LK_OK || st == LK_NOT_FOUND ||
	       logkeep_fail(e, "lk_mesh_ledger_history", st);
}

static bool logkeep_verify_chain(struct engine *e, uint64_t *entries)
{
	struct lk_adapter *a = e->impl;
	lk_mesh_chain_report report = { 0 };
	lk_status st = lk_mesh_ledger_verify_chain(&report, a->mesh, NULL,
						   NULL);

	*entries = report.entries;
	return st == LK_OK || logkeep_fail(e, "lk_mesh_ledger_verify_chain",
					   st);
}

static bool logkeep_ledger_count(struct engine *e, uint64_t *entries)
{
	struct lk_adapter *a = e->impl;
	lk_mesh_stats stats = { 0 };
	lk_status st = lk_mesh_stats_get(&stats, a->mesh);

	*entries = stats.ledger_entries;
	return st == LK_OK || logkeep_fail(e, "lk_mesh_stats_get", st);
}

static bool logkeep_settle(struct engine *e)
{
	struct lk_adapter *a = e->impl;
	lk_status st = lk_mesh_vacuum(a->mesh);

	return st == LK_OK || logkeep_fail(e, "lk_mesh_vacuum", st);
}

static bool logkeep_stats(struct engine *e, lk_db *db, lk_stats *stats)
{
	lk_status st;

	memset(stats, 0, sizeof *stats);
	stats->version = LK_STATS_VERSION;
	st = lk_stats_get(stats, db);
	return st == LK_OK || logkeep_fail(e, "lk_stats_get", st);
}

static bool logkeep_disk_bytes(struct engine *e, double *bytes)
{
	struct lk_adapter *a = e->impl;
	lk_stats stats;

	if (!logkeep_stats(e, a->db, &stats))
		return false;
	*bytes = (double)stats.disk_bytes;
	return true;
}

static void io_from_stats(struct io_figures *f, const lk_stats *stats)
{
	io_none(f);
	f->syncs = (double)stats->sync_calls;
	f->log_bytes = (double)stats->log_bytes_written;
	f->commits = (double)stats->commits;
	f->reads = (double)preads_here;
	f->io_syncs = (double)atomic_load(&io_syncs);
	f->pwrite_bytes = (double)atomic_load(&io_pwrite_bytes);
}

static bool logkeep_io(struct engine *e, struct io_figures *f)
{
	struct lk_adapter *a = e->impl;
	lk_stats stats;

	if (!logkeep_stats(e, a->db, &stats))
		return false;
	io_from_stats(f, &stats);
	return true;
}

static const struct engine_ops logkeep_ops = {
	.open = logkeep_open,
	.close = logkeep_close,
	.node_create = logkeep_node_create,
	.node_get = logkeep_node_get,
	.node_set_routes = logkeep_node_set_routes,
	.cache_set = logkeep_cache_set,
	.cache_get = logkeep_cache_get,
	.release = logkeep_release,
	.txn_begin = logkeep_txn_begin,
	.ledger_save = logkeep_ledger_save,
	.txn_commit = logkeep_txn_commit,
	.history = logkeep_history,
	.verify_chain = logkeep_verify_chain,
	.ledger_count = logkeep_ledger_count,
	.settle = logkeep_settle,
	.disk_bytes = logkeep_disk_bytes,
	.io = logkeep_io,
};

/* ---------------------------------------------------------------------- */
/* Adapter: SQLite, as the predecessors used it                           */
/* ---------------------------------------------------------------------- */

#ifdef LK_BENCH_SQLITE

#define SQ_FILE "mesh.db"
#define SQ_JSON_BYTES 1024u /* a node's list as JSON: the bench's are short */

/* seeds/000's schema as written, then the ledger: seeds/004's history
 * columns, content_hash and prev_hash as 32-byte blobs. */
static const char sq_schema[] =
	"CREATE TABLE nodes ("
	" node_id TEXT PRIMARY KEY,"
	" interfaces TEXT NOT NULL,"
	" protocols TEXT NOT NULL,"
	" started INTEGER DEFAULT 0,"
	" routes_discovered INTEGER DEFAULT 0,"
	" created_at REAL NOT NULL,"
	" updated_at REAL NOT NULL);"
	"CREATE INDEX idx_nodes_started ON nodes(started);"
	"CREATE TABLE policies ("
	" policy_id TEXT PRIMARY KEY,"
	" yaml_content TEXT NOT NULL,"
	" rules_count INTEGER NOT NULL,"
	" created_at REAL NOT NULL,"
	" updated_at REAL NOT NULL);"
	"CREATE TABLE path_cache ("
	" cache_key TEXT PRIMARY KEY,"
	" source TEXT NOT NULL,"
	" destination TEXT NOT NULL,"
	" k INTEGER NOT NULL,"
	" bundle_json TEXT NOT NULL,"
	" created_at REAL NOT NULL,"
	" expires_at REAL NOT NULL);"
	"CREATE INDEX idx_cache_expires ON path_cache(expires_at);"
	"CREATE INDEX idx_cache_source_dest ON path_cache(source, destination);"
	"CREATE TABLE ledger ("
	" id INTEGER PRIMARY KEY,"
	" entity_id TEXT NOT NULL,"
	" from_status TEXT NOT NULL,"
	" to_status TEXT NOT NULL,"
	" actor TEXT NOT NULL,"
	" reasoning TEXT NOT NULL,"
	" timestamp REAL NOT NULL,"
	" content_hash BLOB NOT NULL,"
	" prev_hash BLOB NOT NULL);"
	"CREATE INDEX idx_ledger_entity ON ledger(entity_id);";

#define ENTRY_COLUMNS                                                          \
	"id, entity_id, from_status, to_status, actor, reasoning, timestamp, " \
	"content_hash, prev_hash"

enum sq_stmt {
	SQ_NODE_INSERT,
	SQ_NODE_GET,
	SQ_NODE_ROUTES,
	SQ_CACHE_SET,
	SQ_CACHE_GET,
	SQ_ENTITY_LAST,
	SQ_LEDGER_LAST,
	SQ_LEDGER_INSERT,
	SQ_HISTORY,
	SQ_LEDGER_ALL,
	SQ_LEDGER_COUNT,
	SQ_BEGIN,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_STMT_COUNT
};

static const char *const sq_sql[SQ_STMT_COUNT] = {
	[SQ_NODE_INSERT] = "INSERT INTO nodes (node_id, interfaces, protocols,"
			   " started, routes_discovered, created_at,"
			   " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
	[SQ_NODE_GET] = "SELECT interfaces, protocols, started,"
			" routes_discovered, created_at, updated_at"
			" FROM nodes WHERE node_id = ?1",
	[SQ_NODE_ROUTES] = "UPDATE nodes SET routes_discovered = ?2,"
			   " updated_at = ?3 WHERE node_id = ?1",
	[SQ_CACHE_SET] = "INSERT OR REPLACE INTO path_cache (cache_key,"
			 " source, destination, k, bundle_json, created_at,"
			 " expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[SQ_CACHE_GET] = "SELECT bundle_json FROM path_cache"
			 " WHERE cache_key = ?1 AND expires_at > ?2",
	[SQ_ENTITY_LAST] = "SELECT to_status, content_hash FROM ledger"
			   " WHERE entity_id = ?1 ORDER BY id DESC LIMIT 1",
	[SQ_LEDGER_LAST] = "SELECT " ENTRY_COLUMNS " FROM ledger"
			   " ORDER BY id DESC LIMIT 1",
	[SQ_LEDGER_INSERT] = "INSERT INTO ledger (entity_id, from_status,"
			     " to_status, actor, reasoning, timestamp,"
			     " content_hash, prev_hash)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[SQ_HISTORY] = "SELECT " ENTRY_COLUMNS " FROM ledger"
		       " WHERE entity_id = ?1 ORDER BY id",
	[SQ_LEDGER_ALL] = "SELECT " ENTRY_COLUMNS " FROM ledger ORDER BY id",
	[SQ_LEDGER_COUNT] = "SELECT count(*) FROM ledger",
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
};

struct sq_adapter {
	sqlite3 *db;
	sqlite3_stmt *stmt[SQ_STMT_COUNT];
	char path[PATH_MAX];
	uint64_t page_hits, page_misses; /* gathered from sqlite3_db_status */
};

static bool sq_fail(struct engine *e, const char *what, int rc)
{
	struct sq_adapter *a = e->impl;
	const char *msg = a && a->db ? sqlite3_errmsg(a->db) : sqlite3_errstr(rc);

	return failf(e, "sqlite: %s: %s (%d)", what, msg, rc);
}

/* The wall clock in seconds, as time.time() gave the predecessors. */
static double wall_s(void)
{
	struct timespec ts;
	int rc = clock_gettime(CLOCK_REALTIME, &ts);
	assert(rc == 0);
	(void)rc;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs a statement that returns no row, and resets it. */
static bool sq_run(struct engine *e, enum sq_stmt which)
{
	struct sq_adapter *a = e->impl;
	sqlite3_stmt *s = a->stmt[which];
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE || sq_fail(e, sq_sql[which], rc);
}

static bool sq_open(struct engine *e, const char *dir)
{
	assert(e->impl == NULL);
	struct sq_adapter *a = calloc(1, sizeof *a);
	sqlite3_stmt *s = NULL;
	char pragma[64];
	int rc;

	if (a == NULL)
		return failf(e, "out of memory");
	e->impl = a;
	int len = snprintf(a->path, sizeof a->path, "%s/%s", dir, SQ_FILE);
	if (len < 0 || (size_t)len >= sizeof a->path) {
		failf(e, "sqlite: path too long");
		goto fail;
	}
	rc = sqlite3_open_v2(a->path, &a->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		sq_fail(e, "open", rc);
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
	snprintf(pragma, sizeof pragma, "PRAGMA synchronous=%s",
		 e->def->mode == SQ_FULL ? "FULL" : "NORMAL");
	rc = sqlite3_exec(a->db, pragma, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(a->db, sq_schema, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		sq_fail(e, "schema", rc);
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
	int rc = sqlite3_close(a->db);
	if (rc != SQLITE_OK)
		ok = sq_fail(e, "close", rc);
	free(a);
	e->impl = NULL;
	return ok;
}

/* ["a","b"]: the bench's names hold no quote or backslash. */
static bool json_names(char *buf, size_t cap, const char *const *v,
		       size_t n)
{
	size_t at = 0;

	if (cap < 3)
		return false;
	buf[at++] = '[';
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(v[i]);
		assert(strpbrk(v[i], "\"\\") == NULL);
		if (at + len + 4 > cap)
			return false;
		if (i > 0)
			buf[at++] = ',';
		buf[at++] = '"';
		memcpy(buf + at, v[i], len);
		at += len;
		buf[at++] = '"';
	}
	buf[at++] = ']';
	buf[at] = '\0';
	return true;
}

/* Parses what json_names wrote: pointers into s, and lengths.  Anything
 * else (escapes included) is refused. */
static bool json_names_parse(const char *s, const char **v, size_t *lens,
			     size_t max, size_t *count)
{
	size_t n = 0;

	if (*s++ != '[')
		return false;
	if (*s == ']') {
		*count = 0;
		return s[1] == '\0';
	}
	for (;;) {
		if (*s++ != '"' || n == max)
			return false;
		const char *start = s;
		while (*s != '\0' && *s != '"' && *s != '\\')
			s++;
		if (*s != '"' || (size_t)(s - start) > LK_MESH_NAME_BYTES_MAX)
			return false;
		v[n] = start;
		lens[n] = (size_t)(s - start);
		n++;
		s++;
		if (*s == ']')
			break;
		if (*s++ != ',')
			return false;
	}
	*count = n;
	return s[1] == '\0';
}

static bool sq_node_create(struct engine *e, const lk_mesh_node *node)
{
	struct sq_adapter *a = e->impl;
	sqlite3_stmt *s = a->stmt[SQ_NODE_INSERT];
	char ifs[SQ_JSON_BYTES], protos[SQ_JSON_BYTES];

	if (!json_names(ifs, sizeof ifs, node->interfaces,
			node->interface_count) ||
	    !json_names(protos, sizeof protos, node->protocols,
			node->protocol_count))
		return failf(e, "sqlite: node %s: lists too long", node->id);
	sqlite3_bind_text(s, 1, node->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, ifs, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, protos, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, node->started != 0);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)node->routes_discovered);
	sqlite3_bind_double(s, 6, wall_s());
	return sq_run(e, SQ_NODE_INSERT);
}

/* A node in one allocation, as lk_mesh_node_decode makes it. */
static lk_mesh_node *sq_node_build(const char *id, const char *ifs,
				   const char *protos, int started,
				   uint64_t routes, double created_s,
				   double updated_s)
{
	const char *s[2 * LK_MESH_LIST_MAX];
	size_t lens[2 * LK_MESH_LIST_MAX];
	size_t n_if, n_pr, id_len = strlen(id);

	if (!json_names_parse(ifs, s, lens, LK_MESH_LIST_MAX, &n_if) ||
	    !json_names_parse(protos, s + n_if, lens + n_if,
			      LK_MESH_LIST_MAX, &n_pr))
		return NULL;
	size_t bytes = sizeof(lk_mesh_node) +
		       (n_if + n_pr) * sizeof(const char *) + id_len + 1;
	for (size_t i = 0; i < n_if + n_pr; i++)
		bytes += lens[i] + 1;
	lk_mesh_node *node = malloc(bytes);
	if (node == NULL)
		return NULL;
	const char **lists = (const char **)(node + 1);
	char *at = (char *)(lists + n_if + n_pr);
	for (size_t i = 0; i < n_if + n_pr; i++) {
		memcpy(at, s[i], lens[i]);
		at[lens[i]] = '\0';
		lists[i] = at;
		at += lens[i] + 1;
	}
	memcpy(at, id, id_len + 1);
	*node = (lk_mesh_node){
		.id = at,
		.interfaces = lists,
		.interface_count = n_if,
		.protocols = lists + n_if,
		.protocol_count = n_pr,
		.started = started != 0,
		.routes_discovered = routes,
		.created_at_ms = (uint64_t)llround(created_s * 1e3),
		.updated_at_ms = (uint64_t)llround(updated_s * 1e3),
	};
	return node;
}

static bool sq_node_get(struct engine *e, const char *id, lk_mesh_node **node)
{
	struct sq_adapter *a = e->impl;
	sqlite3_stmt *s = a->stmt[SQ_NODE_GET];
	bool ok = true;

	*node = NULL;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*node = sq_node_build(
			id, (const char *)sqlite3_column_text(s, 0),
			(const char *)sqlite3_column_text(s, 1),
			sqlite3_column_int(s, 2),
			(uint64_t)sqlite3_column_int64(s, 3),
			sqlite3_column_double(s, 4),
			sqlite3_column_double(s, 5));
		if (*node == NULL)
			ok = failf(e, "sqlite: node %s: a bad row, or out "
				   "of memory", id);
	} else if (rc != SQLITE_DONE) {
		ok = sq_fail(e, sq_sql[SQ_NODE_GET], rc);
	}
	sqlite3_reset(s);
	return ok;
}

static bool sq_node_set_routes(struct engine *e, const char *id,
			       uint64_t routes, bool *found)
{
	struct sq_adapter *a = e->impl;
	sqlite3_stmt *s = a->stmt[SQ_NODE_ROUTES];

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)routes);
	sqlite3_bind_double(s, 3, wall_s());
	if (!sq_run(e, SQ_NODE_ROUTES))
		return false;
	*found = sqlite3_changes(a->db) == 1;
	return true;
}

/* "source:destination:k", as set_cache made it. */
static void sq_cache_key(char *buf, size_t cap, const struct cache_spec *c)
{
	int len = snprintf(buf, cap, "%s:%s:%" PRIu32, c->source,
			   c->destination, c->k);
	assert(len > 0 && (size_t)len < cap);
	(void)len;
}

static bool sq_cache_set(struct engine *e, const struct cache_spec *c,
			 uint32_t ttl_s)
{
	struct sq_adapter *a = e->impl;
	sqlite3_stmt *s = a->stmt[SQ_CACHE_SET];
	char key[3 * NAME_BYTES];
	double now = wall_s();

	sq_cache_key(key, sizeof key, c);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, c->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, c->destination, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, c->k);
	sqlite3_bind_text(s, 5, c->bundle, (int)c->bundle_len, SQLITE_STATIC);
	sqlite3_bind_double(s, 6, now);
	sqlite3_bind_double(s, 7, now + ttl_s);
	return sq_run(e, SQ_CACHE_SET);
}

static bool sq_cache_get(struct engine *e, const struct cache_spec *c,
			 char **bundle, size_t *bundle_len)
{
	struct sq_adapter *a = e->impl;
	sqlite3_stmt *s = a->stmt[SQ_CACHE_GET];
	char key[3 * NAME_BYTES];
	bool ok = true;

	*bundle = NULL;
	*bundle_len = 0;
	sq_cache_key(key, sizeof key, c);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 2, wall_s());
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *text = sqlite3_column_text(s, 0);
		size_t len = (size_t)sqlite3_column_bytes(s, 0);
		*bundle = malloc(len + 1);
		if (*bundle == NULL) {
			ok = failf(e, "out of memory");
		} else {
			memcpy(*bundle, text, len + 1);
			*bundle_len = len;
		}
	} else if (rc != SQLITE_DONE) {
		ok = sq_fail(e, sq_sql[SQ_CACHE_GET], rc);
	}
	sqlite3_reset(s);
	return ok;
}

static void sq_release(struct engine *e, void *p)
{
	(void)e;
	free(p);
}

/* An entry's hash: SHA-256 of id:u64 then entity, from, to, actor and
 * reasoning each len:u32 text, timestamp (the double's bits):u64,
 * content_hash, prev_hash; all little-endian.  Fills e (its strings
 * pointing into the row, valid until the next step) from the row of s,
 * whose columns are ENTRY_COLUMNS. */
#define ROW_BYTES_MAX                                                         \
	(8u + 5u * 4u + 2u * LK_MESH_ID_BYTES_MAX +                          \
	 2u * LK_MESH_NAME_BYTES_MAX + LK_MESH_TEXT_BYTES_MAX + 8u +         \
	 2u * HASH_BYTES)

static bool sq_row_entry(struct engine *e, sqlite3_stmt *s, lk_mesh_entry *x)
{
	static const size_t max[5] = { LK_MESH_ID_BYTES_MAX,
				       LK_MESH_NAME_BYTES_MAX,
				       LK_MESH_NAME_BYTES_MAX,
				       LK_MESH_ID_BYTES_MAX,
				       LK_MESH_TEXT_BYTES_MAX };
	const char **text[5] = { &x->entity, &x->from_status, &x->to_status,
				 &x->actor, &x->reasoning };
	uint8_t row[ROW_BYTES_MAX];
	size_t at = 0;
	int64_t id = sqlite3_column_int64(s, 0);
	double ts;
	uint64_t ts_bits;

	memset(x, 0, sizeof *x);
	x->position = (uint64_t)id;
	put_le(row, (uint64_t)id, 8);
	at = 8;
	for (int i = 0; i < 5; i++) {
		const char *t = (const char *)sqlite3_column_text(s, 1 + i);
		size_t len = (size_t)sqlite3_column_bytes(s, 1 + i);
		if (t == NULL || len > max[i])
			return failf(e, "sqlite: ledger row %" PRId64
				     ": column %d of %zu bytes", id, 1 + i,
				     len);
		*text[i] = t;
		put_le(row + at, len, 4);
		memcpy(row + at + 4, t, len);
		at += 4 + len;
	}
	ts = sqlite3_column_double(s, 6);
	memcpy(&ts_bits, &ts, sizeof ts_bits);
	put_le(row + at, ts_bits, 8);
	at += 8;
	x->at_ms = (uint64_t)llround(ts * 1e3);
	for (int i = 0; i < 2; i++) {
		const void *blob = sqlite3_column_blob(s, 7 + i);
		if (blob == NULL || sqlite3_column_bytes(s, 7 + i) != HASH_BYTES)
			return failf(e, "sqlite: ledger row %" PRId64
				     ": a hash of %d bytes", id,
				     sqlite3_column_bytes(s, 7 + i));
		memcpy(i == 0 ? x->content_hash : x->prev_hash, blob,
		       HASH_BYTES);
		memcpy(row + at, blob, HASH_BYTES);
		at += HASH_BYTES;
	}
	assert(at <= sizeof row);
	crypto_hash_sha256(x->hash, row, at);
	return true;
}

/* The steps of an append, in the caller's transaction. */
static bool sq_append(struct engine *e, const struct save_spec *sp,
		      int *appended)
{
	struct sq_adapter *a = e->impl;
	sqlite3_stmt *s;
	uint8_t chash[HASH_BYTES], prev[HASH_BYTES] = { 0 };
	char from[LK_MESH_NAME_BYTES_MAX + 1] = "";
	bool same = false;
	lk_mesh_entry last;
	int rc;

	content_hash(chash, sp->attrs, ATTR_COUNT);
	/* the entity's status and content hash: its last row */
	s = a->stmt[SQ_ENTITY_LAST];
	sqlite3_bind_text(s, 1, sp->entity, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);
		size_t len = (size_t)sqlite3_column_bytes(s, 0);
		const void *blob = sqlite3_column_blob(s, 1);
		if (t == NULL || len > LK_MESH_NAME_BYTES_MAX || blob == NULL ||
		    sqlite3_column_bytes(s, 1) != HASH_BYTES) {
			sqlite3_reset(s);
			return failf(e, "sqlite: entity %s: a bad last row",
				     sp->entity);
		}
		memcpy(from, t, len + 1);
		same = strcmp(from, sp->to_status) == 0 &&
		       memcmp(blob, chash, HASH_BYTES) == 0;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(e, sq_sql[SQ_ENTITY_LAST], rc);
	*appended = 0;
	if (same)
		return true;
	/* the link: the hash of the last row of the ledger */
	s = a->stmt[SQ_LEDGER_LAST];
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && !sq_row_entry(e, s, &last)) {
		sqlite3_reset(s);
		return false;
	}
	if (rc == SQLITE_ROW)
		memcpy(prev, last.hash, HASH_BYTES);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(e, sq_sql[SQ_LEDGER_LAST], rc);
	s = a->stmt[SQ_LEDGER_INSERT];
	sqlite3_bind_text(s, 1, sp->entity, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, sp->to_status, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, sp->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, sp->reasoning, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 6, wall_s());
	sqlite3_bind_blob(s, 7, chash, HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(s, 8, prev, HASH_BYTES, SQLITE_STATIC);
	if (!sq_run(e, SQ_LEDGER_INSERT))
		return false;
	*appended = 1;
	return true;
}

static bool sq_txn_begin(struct engine *e)
{
	return sq_run(e, SQ_BEGIN);
}

static bool sq_txn_commit(struct engine *e)
{
	return sq_run(e, SQ_COMMIT);
}

static bool sq_ledger_save(struct engine *e, const struct save_spec *s,
			   bool in_txn, int *appended)
{
	if (in_txn)
		return sq_append(e, s, appended);
	if (!sq_run(e, SQ_BEGIN))
		return false;
	if (!sq_append(e, s, appended)) {
		char why[ERR_BYTES];
		memcpy(why, e->err, sizeof why);
		(void)sq_run(e, SQ_ROLLBACK); /* the first error is kept */
		memcpy(e->err, why, sizeof why);
		return false;
	}
	return sq_run(e, SQ_COMMIT);
}

static bool sq_history(struct engine *e, const char *entity,
		       lk_mesh_entry_fn fn, void *arg, bool *found)
{
	struct sq_adapter *a = e->impl;
	sqlite3_stmt *s = a->stmt[SQ_HISTORY];
	uint32_t index = 0;
	bool ok = true;
	int rc;

	sqlite3_bind_text(s, 1, entity, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		lk_mesh_entry x;
		if (!sq_row_entry(e, s, &x)) {
			ok = false;
			break;
		}
		x.entity_index = ++index;
		if (fn(arg, &x) != 0)
			break;
	}
	if (ok && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ok = sq_fail(e, sq_sql[SQ_HISTORY], rc);
	sqlite3_reset(s);
	*found = index > 0;
	return ok;
}

static bool sq_verify_chain(struct engine *e, uint64_t *entries)
{
	struct sq_adapter *a = e->impl;
	sqlite3_stmt *s = a->stmt[SQ_LEDGER_ALL];
	uint8_t prev[HASH_BYTES] = { 0 };
	bool ok = true;
	int rc;

	*entries = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		lk_mesh_entry x;
		if (!sq_row_entry(e, s, &x)) {
			ok = false;
			break;
		}
		if (memcmp(x.prev_hash, prev, HASH_BYTES) != 0) {
			ok = failf(e, "sqlite: ledger row %" PRIu64 ": its "
				   "link is not the hash of the row before",
				   x.position);
			break;
		}
		memcpy(prev, x.hash, HASH_BYTES);
		(*entries)++;
	}
	if (ok && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ok = sq_fail(e, sq_sql[SQ_LEDGER_ALL], rc);
	sqlite3_reset(s);
	return ok;
}

static bool sq_ledger_count(struct engine *e, uint64_t *entries)
{
	struct sq_adapter *a = e->impl;
	sqlite3_stmt *s = a->stmt[SQ_LEDGER_COUNT];
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		*entries = (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return rc == SQLITE_ROW || sq_fail(e, sq_sql[SQ_LEDGER_COUNT], rc);
}

static bool sq_settle(struct engine *e)
{
	struct sq_adapter *a = e->impl;
	int rc = sqlite3_exec(a->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL,
			      NULL, NULL);

	return rc == SQLITE_OK || sq_fail(e, "wal_checkpoint", rc);
}

static bool sq_disk_bytes(struct engine *e, double *bytes)
{
	struct sq_adapter *a = e->impl;
	static const char *const suffixes[] = { "", "-wal" };
	struct stat st;

	*bytes = 0;
	for (size_t i = 0; i < 2; i++) {
		char path[PATH_MAX + 8];
		snprintf(path, sizeof path, "%s%s", a->path, suffixes[i]);
		if (stat(path, &st) == 0)
			*bytes += (double)st.st_size;
		else if (errno != ENOENT)
			return failf(e, "stat %s: %s", path, strerror(errno));
	}
	return true;
}

static bool sq_io(struct engine *e, struct io_figures *f)
{
	struct sq_adapter *a = e->impl;
	int hits = 0, misses = 0, high = 0;

	/* read and reset, so that the int counters cannot wrap */
	int rc = sqlite3_db_status(a->db, SQLITE_DBSTATUS_CACHE_HIT, &hits,
				   &high, 1);
	if (rc == SQLITE_OK)
		rc = sqlite3_db_status(a->db, SQLITE_DBSTATUS_CACHE_MISS,
				       &misses, &high, 1);
	if (rc != SQLITE_OK)
		return sq_fail(e, "sqlite3_db_status", rc);
	a->page_hits += (uint64_t)hits;
	a->page_misses += (uint64_t)misses;
	io_none(f);
	f->reads = (double)a->page_misses;
	f->pages = (double)(a->page_hits + a->page_misses);
	return true;
}

static const struct engine_ops sqlite_ops = {
	.open = sq_open,
	.close = sq_close,
	.node_create = sq_node_create,
	.node_get = sq_node_get,
	.node_set_routes = sq_node_set_routes,
	.cache_set = sq_cache_set,
	.cache_get = sq_cache_get,
	.release = sq_release,
	.txn_begin = sq_txn_begin,
	.ledger_save = sq_ledger_save,
	.txn_commit = sq_txn_commit,
	.history = sq_history,
	.verify_chain = sq_verify_chain,
	.ledger_count = sq_ledger_count,
	.settle = sq_settle,
	.disk_bytes = sq_disk_bytes,
	.io = sq_io,
};

#endif /* LK_BENCH_SQLITE */

/* The columns, in order.  The ratios name them. */
static const struct engine_def engine_defs[] = {
	{ "lk-always", "logkeep mesh layer, lk_options.sync = LK_SYNC_ALWAYS "
		       "(the default)", &logkeep_ops, LK_SYNC_ALWAYS, false },
	{ "lk-none", "logkeep mesh layer, lk_options.sync = LK_SYNC_NONE",
	  &logkeep_ops, LK_SYNC_NONE, false },
#ifdef LK_BENCH_SQLITE
	{ "sq-normal", "SQLite WAL, synchronous=NORMAL (the predecessors')",
	  &sqlite_ops, SQ_NORMAL, true },
	{ "sq-full", "SQLite WAL, synchronous=FULL", &sqlite_ops, SQ_FULL,
	  true },
#endif
};
#define ENGINE_DEF_COUNT (sizeof engine_defs / sizeof engine_defs[0])

/* ---------------------------------------------------------------------- */
/* Runs and checks                                                        */
/* ---------------------------------------------------------------------- */

struct config {
	uint64_t nodes;
	uint64_t ops;
	uint64_t cache_sets;
	uint64_t durable_puts;
	uint64_t ledger_entries;
	uint64_t entities;
	uint64_t histories;
	const char *dir;   /* --dir, or NULL for a mkdtemp under /tmp */
	bool keep;
	bool smoke;
	bool sqlite_full;
};

enum op {
	OP_SEED_CREATE,
	OP_SEED_GET,
	OP_NODE_CREATE,
	OP_NODE_GET,
	OP_NODE_UPDATE,
	OP_CACHE_SET,
	OP_CACHE_GET,
	OP_LEDGER_APPEND,
	OP_HISTORY,
	OP_COUNT
};

/* An entry as a history handed it over, copied for the check. */
#define GOT_STATUS_BYTES 16u
struct got_entry {
	uint64_t position;
	uint32_t index;
	bool clipped; /* a string did not fit: it is not the expected one */
	char entity[NAME_BYTES];
	char from[GOT_STATUS_BYTES];
	char to[GOT_STATUS_BYTES];
	char actor[NAME_BYTES];
	char reasoning[REASON_BYTES];
	uint8_t content_hash[HASH_BYTES];
};

struct collector {
	struct got_entry *v;
	size_t count;
	size_t cap;
	bool overflow; /* more entries than cap */
};

/* Figure (b), one engine's. */
struct big_ledger {
	double build_s;
	double build_entries_s;
	double build_syncs;
	double build_log_bytes;
	double build_commits;
	double settle_s;
	double disk_mb;
	double histories;
	double entries_per;
	double p50_us;
	double p99_us;
	double mean_us;
	double histories_s;
	double reads_per;
	double pages_per;
	double chain_entries; /* verified (smoke), else NAN */
};

/* One engine's run: the table, and for two of them figure (b). */
struct run {
	const struct config *cfg;
	const char *root;
	struct engine e;
	char dir[PATH_MAX];
	struct timing *t;
	struct collector *col;
	uint64_t table_entities;
	bool table_done;
	struct opfig op[OP_COUNT];
	double chain_entries;
	bool big_done;
	struct big_ledger big;
};

static bool check_node(struct engine *e, const lk_mesh_node *got,
		       const struct node_spec *want, uint64_t routes,
		       const char *what)
{
	const lk_mesh_node *w = &want->node;

	if (got == NULL)
		return failf(e, "%s: node %s not found", what, w->id);
	if (strcmp(got->id, w->id) != 0)
		return failf(e, "%s: node %s came back as %s", what, w->id,
			     got->id);
	if (got->interface_count != w->interface_count ||
	    got->protocol_count != w->protocol_count)
		return failf(e, "%s: node %s: %zu interfaces and %zu "
			     "protocols, not %zu and %zu", what, w->id,
			     got->interface_count, got->protocol_count,
			     w->interface_count, w->protocol_count);
	for (size_t i = 0; i < w->interface_count; i++) {
		if (strcmp(got->interfaces[i], w->interfaces[i]) != 0)
			return failf(e, "%s: node %s: interface %zu is %s",
				     what, w->id, i, got->interfaces[i]);
	}
	for (size_t i = 0; i < w->protocol_count; i++) {
		if (strcmp(got->protocols[i], w->protocols[i]) != 0)
			return failf(e, "%s: node %s: protocol %zu is %s",
				     what, w->id, i, got->protocols[i]);
	}
	if ((got->started != 0) != (w->started != 0) ||
	    got->routes_discovered != routes)
		return failf(e, "%s: node %s: started %d routes %" PRIu64
			     ", not %d and %" PRIu64, what, w->id,
			     got->started, got->routes_discovered, w->started,
			     routes);
	if (got->created_at_ms == 0 || got->updated_at_ms < got->created_at_ms)
		return failf(e, "%s: node %s: created %" PRIu64 " updated %"
			     PRIu64, what, w->id, got->created_at_ms,
			     got->updated_at_ms);
	return true;
}

static void copy_clipped(char *dst, size_t cap, const char *src,
			 bool *clipped)
{
	size_t n = strlen(src);

	if (n >= cap) {
		*clipped = true;
		n = cap - 1;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The history callback of both engines: a copy of each entry. */
static int collect(void *arg, const lk_mesh_entry *x)
{
	struct collector *c = arg;

	if (c->count == c->cap) {
		c->overflow = true;
		return 1;
	}
	struct got_entry *g = &c->v[c->count++];
	g->position = x->position;
	g->index = x->entity_index;
	g->clipped = false;
	copy_clipped(g->entity, sizeof g->entity, x->entity, &g->clipped);
	copy_clipped(g->from, sizeof g->from, x->from_status, &g->clipped);
	copy_clipped(g->to, sizeof g->to, x->to_status, &g->clipped);
	copy_clipped(g->actor, sizeof g->actor, x->actor, &g->clipped);
	copy_clipped(g->reasoning, sizeof g->reasoning, x->reasoning,
		     &g->clipped);
	memcpy(g->content_hash, x->content_hash, HASH_BYTES);
	return 0;
}

/* The collected history is entity e's in a round-robin ledger of
 * `entries` appends over `entities`: every entry, in order, each field
 * and the content hash as the bench computes it. */
static bool check_history(struct engine *e, const struct collector *c,
			  uint64_t ent, uint64_t entries, uint64_t entities)
{
	uint64_t expect = entity_entries(ent, entries, entities);
	struct save_spec s;
	uint8_t hash[HASH_BYTES];

	save_make(&s, ent, 1);
	if (c->overflow || c->count != expect)
		return failf(e, "history of %s: %s%zu entries, not %" PRIu64,
			     s.entity, c->overflow ? "more than " : "",
			     c->count, expect);
	for (size_t i = 0; i < c->count; i++) {
		const struct got_entry *g = &c->v[i];
		uint32_t index = (uint32_t)(i + 1);

		save_make(&s, ent, index);
		if (g->clipped || g->index != index ||
		    g->position != entry_position(ent, index, entities) ||
		    strcmp(g->entity, s.entity) != 0 ||
		    strcmp(g->from, s.from_status) != 0 ||
		    strcmp(g->to, s.to_status) != 0 ||
		    strcmp(g->actor, s.actor) != 0 ||
		    strcmp(g->reasoning, s.reasoning) != 0)
			return failf(e, "history of %s: entry %" PRIu32
				     " is (index %" PRIu32 ", position %"
				     PRIu64 ", %s -> %s, by %s)", s.entity,
				     index, g->index, g->position, g->from,
				     g->to, g->actor);
		content_hash(hash, s.attrs, ATTR_COUNT);
		if (memcmp(hash, g->content_hash, HASH_BYTES) != 0)
			return failf(e, "history of %s: entry %" PRIu32 ": "
				     "the content hash is not the canonical "
				     "one", s.entity, index);
	}
	return true;
}

/* Gets a node and checks it; times the get and the release into t (may
 * be NULL). */
static bool node_get_checked(struct run *r, struct timing *t,
			     const struct node_spec *s, uint64_t routes,
			     const char *what)
{
	struct engine *e = &r->e;
	lk_mesh_node *got = NULL;

	uint64_t t0 = now_ns();
	if (!e->def->ops->node_get(e, s->id, &got))
		return false;
	uint64_t t1 = now_ns();
	bool ok = check_node(e, got, s, routes, what);
	uint64_t t2 = now_ns();
	if (got != NULL)
		e->def->ops->release(e, got);
	uint64_t t3 = now_ns();
	if (t != NULL)
		timing_add(t, (t1 - t0) + (t3 - t2));
	return ok;
}

/* Reads entity ent's history, timed into t (may be NULL), and checks it. */
static bool history_checked(struct run *r, struct timing *t, uint64_t ent,
			    uint64_t entries, uint64_t entities)
{
	struct engine *e = &r->e;
	char entity[NAME_BYTES];
	bool found = false;

	make_name(entity, "uow", ent);
	r->col->count = 0;
	r->col->overflow = false;
	uint64_t t0 = now_ns();
	if (!e->def->ops->history(e, entity, collect, r->col, &found))
		return false;
	uint64_t t1 = now_ns();
	if (t != NULL)
		timing_add(t, t1 - t0);
	if (!found)
		return failf(e, "history of %s: none", entity);
	return check_history(e, r->col, ent, entries, entities);
}

static bool engine_io(struct run *r, struct io_figures *f)
{
	struct engine *e = &r->e;

	if (e->def->ops->io == NULL) {
		io_none(f);
		return true;
	}
	return e->def->ops->io(e, f);
}

/* ---------------------------------------------------------------------- */
/* The table's workloads                                                  */
/* ---------------------------------------------------------------------- */

static bool wl_seed_create(struct run *r, struct timing *t)
{
	struct engine *e = &r->e;
	struct node_spec s;

	for (uint64_t i = 0; i < SEED_OPS; i++) {
		node_make(&s, "seed", i);
		uint64_t t0 = now_ns();
		if (!e->def->ops->node_create(e, &s.node))
			return false;
		timing_add(t, now_ns() - t0);
	}
	return true;
}

static bool wl_seed_get(struct run *r, struct timing *t)
{
	struct node_spec s;

	for (uint64_t i = 0; i < SEED_OPS; i++) {
		node_make(&s, "seed", i);
		if (!node_get_checked(r, t, &s, s.node.routes_discovered,
				      "seed get"))
			return false;
	}
	return true;
}

static bool wl_node_create(struct run *r, struct timing *t)
{
	struct engine *e = &r->e;
	struct node_spec s;

	for (uint64_t i = 0; i < r->cfg->nodes; i++) {
		node_make(&s, "node", i);
		uint64_t t0 = now_ns();
		if (!e->def->ops->node_create(e, &s.node))
			return false;
		timing_add(t, now_ns() - t0);
	}
	return true;
}

static bool wl_node_get(struct run *r, struct timing *t)
{
	struct node_spec s;
	struct perm order;

	perm_init(&order, r->cfg->nodes, SEED_GET);
	for (uint64_t i = 0; i < r->cfg->nodes; i++) {
		uint64_t id = perm_at(&order, i);
		node_make(&s, "node", id);
		if (!node_get_checked(r, t, &s, s.node.routes_discovered,
				      "get node"))
			return false;
	}
	return true;
}

static bool wl_node_update(struct run *r, struct timing *t)
{
	struct engine *e = &r->e;
	struct node_spec s;
	struct perm order;
	bool found = false;

	perm_init(&order, r->cfg->nodes, SEED_UPDATE);
	for (uint64_t i = 0; i < r->cfg->nodes; i++) {
		uint64_t id = perm_at(&order, i);
		uint64_t routes = routes_updated(id);
		node_make(&s, "node", id);
		uint64_t t0 = now_ns();
		if (!e->def->ops->node_set_routes(e, s.id, routes, &found))
			return false;
		timing_add(t, now_ns() - t0);
		if (!found)
			return failf(e, "update node: %s not found", s.id);
	}
	return true;
}

/* Untimed: every update is there, and the rest of each node as it was. */
static bool check_node_updates(struct run *r)
{
	struct node_spec s;

	for (uint64_t i = 0; i < r->cfg->nodes; i++) {
		node_make(&s, "node", i);
		if (!node_get_checked(r, NULL, &s, routes_updated(i),
				      "node after update"))
			return false;
	}
	return true;
}

static bool wl_cache_set(struct run *r, struct timing *t)
{
	struct engine *e = &r->e;
	struct cache_spec c;

	for (uint64_t i = 0; i < r->cfg->ops; i++) {
		cache_make(&c, i);
		uint64_t t0 = now_ns();
		if (!e->def->ops->cache_set(e, &c, CACHE_TTL_S))
			return false;
		timing_add(t, now_ns() - t0);
	}
	return true;
}

static bool wl_cache_get(struct run *r, struct timing *t)
{
	struct engine *e = &r->e;
	struct cache_spec c;
	struct perm order;

	perm_init(&order, r->cfg->ops, SEED_CACHE_GET);
	for (uint64_t i = 0; i < r->cfg->ops; i++) {
		char *bundle = NULL;
		size_t len = 0;

		cache_make(&c, perm_at(&order, i));
		uint64_t t0 = now_ns();
		if (!e->def->ops->cache_get(e, &c, &bundle, &len))
			return false;
		uint64_t t1 = now_ns();
		bool ok = bundle != NULL && len == c.bundle_len &&
			  memcmp(bundle, c.bundle, len) == 0 &&
			  bundle[len] == '\0';
		uint64_t t2 = now_ns();
		if (bundle != NULL)
			e->def->ops->release(e, bundle);
		timing_add(t, (t1 - t0) + (now_ns() - t2));
		if (!ok)
			return failf(e, "get cache %s:%s:%" PRIu32 ": %s",
				     c.source, c.destination, c.k,
				     bundle ? "a wrong bundle" : "not found");
	}
	return true;
}

static bool wl_ledger_append(struct run *r, struct timing *t)
{
	struct engine *e = &r->e;
	uint64_t entities = r->table_entities;
	struct save_spec s;

	for (uint64_t i = 0; i < r->cfg->ops; i++) {
		int appended = -1;

		save_make(&s, i % entities, (uint32_t)(i / entities + 1));
		uint64_t t0 = now_ns();
		if (!e->def->ops->ledger_save(e, &s, false, &appended))
			return false;
		timing_add(t, now_ns() - t0);
		if (appended != 1)
			return failf(e, "append to %s (%s -> %s): appended "
				     "%d", s.entity, s.from_status,
				     s.to_status, appended);
	}
	return true;
}

static bool wl_history(struct run *r, struct timing *t)
{
	uint64_t entities = r->table_entities;
	struct perm order;

	perm_init(&order, entities, SEED_HISTORY);
	for (uint64_t i = 0; i < r->cfg->ops; i++) {
		if (!history_checked(r, t, perm_at(&order, i % entities),
				     r->cfg->ops, entities))
			return false;
	}
	return true;
}

/* Untimed: the whole chain of the table's ledger holds. */
static bool check_table_chain(struct run *r)
{
	struct engine *e = &r->e;
	uint64_t entries = 0;

	if (!e->def->ops->verify_chain(e, &entries))
		return false;
	r->chain_entries = (double)entries;
	if (entries != r->cfg->ops)
		return failf(e, "the ledger's chain has %" PRIu64 " entries, "
			     "not %" PRIu64, entries, r->cfg->ops);
	return true;
}

struct workload {
	enum op op;
	const char *name;
	bool (*run)(struct run *r, struct timing *t);
	bool (*check)(struct run *r); /* untimed, after; or NULL */
};

/* In order: each relies on the ones before. */
static const struct workload workloads[] = {
	{ OP_SEED_CREATE, "seed creates", wl_seed_create, NULL },
	{ OP_SEED_GET, "seed gets", wl_seed_get, NULL },
	{ OP_NODE_CREATE, "node creates", wl_node_create, NULL },
	{ OP_NODE_GET, "node gets", wl_node_get, NULL },
	{ OP_NODE_UPDATE, "node updates", wl_node_update, check_node_updates },
	{ OP_CACHE_SET, "cache sets", wl_cache_set, NULL },
	{ OP_CACHE_GET, "cache gets", wl_cache_get, NULL },
	{ OP_LEDGER_APPEND, "ledger appends", wl_ledger_append,
	  check_table_chain },
	{ OP_HISTORY, "histories", wl_history, NULL },
};
#define WORKLOAD_COUNT (sizeof workloads / sizeof workloads[0])

/* Runs a workload and fills its figures, the I/O per operation with
 * them (the check after it is not counted). */
static bool measure(struct run *r, const struct workload *w)
{
	struct io_figures before, after;
	struct opfig *f = &r->op[w->op];

	timing_start(r->t);
	if (!engine_io(r, &before) || !w->run(r, r->t) ||
	    !engine_io(r, &after))
		return false;
	opfig_from(f, r->t);
	if (r->t->count > 0) {
		f->syncs_per_op = (after.syncs - before.syncs) / f->count;
		f->reads_per_op = (after.reads - before.reads) / f->count;
	}
	return w->check == NULL || w->check(r);
}

/* ---------------------------------------------------------------------- */
/* Housekeeping: directories                                              */
/* ---------------------------------------------------------------------- */


/* Makes root/name, which must not exist: never fill, or remove, what was
 * there. */
static bool make_dir(struct engine *e, char *out, const char *root,
		     const char *name)
{
	int len = snprintf(out, PATH_MAX, "%s/%s", root, name);
	if (len < 0 || len >= PATH_MAX)
		return failf(e, "directory name too long");
	if (mkdir(out, 0700) != 0)
		return failf(e, "mkdir %s: %s", out, strerror(errno));
	return true;
}

/* Removes a directory the bench made, unless --keep. */
static void drop_dir(const struct config *cfg, const char *dir)
{
	if (!cfg->keep && !remove_tree(dir))
		fprintf(stderr, "logkeep-mesh-bench: could not remove all of "
			"%s\n", dir);
}

static void progress(const char *engine, const char *step)
{
	fprintf(stderr, "logkeep-mesh-bench: %s: %s ...", engine, step);
	fflush(stderr);
}

static void progress_end(bool ok, uint64_t t0)
{
	if (ok)
		fprintf(stderr, " %.2f s\n", (double)(now_ns() - t0) / 1e9);
	else
		fprintf(stderr, " failed\n");
}

/* The table: every workload against one engine, in its own directory. */
static bool run_table(struct run *r)
{
	struct engine *e = &r->e;
	const char *name = e->def->name;
	bool ok = false;

	for (int i = 0; i < OP_COUNT; i++)
		opfig_init(&r->op[i]);
	r->chain_entries = NAN;
	if (!make_dir(e, r->dir, r->root, name))
		goto out;
	if (!e->def->ops->open(e, r->dir))
		goto out;
	for (size_t i = 0; i < WORKLOAD_COUNT; i++) {
		progress(name, workloads[i].name);
		uint64_t t0 = now_ns();
		bool step_ok = measure(r, &workloads[i]);
		progress_end(step_ok, t0);
		if (!step_ok)
			goto out;
	}
	ok = e->def->ops->close(e);
	r->table_done = ok;
out:
	if (!ok)
		fprintf(stderr, "logkeep-mesh-bench: %s: %s\n", name, e->err);
	if (e->impl != NULL)
		(void)e->def->ops->close(e); /* after a failure: best effort */
	drop_dir(r->cfg, r->dir);
	return ok;
}

/* ---------------------------------------------------------------------- */
/* Figure (b): history of one entity in a big ledger                      */
/* ---------------------------------------------------------------------- */

static uint64_t txn_entries(const struct config *cfg)
{
	return cfg->entities < TXN_ENTITIES_MAX ? cfg->entities
						: TXN_ENTITIES_MAX;
}

/* Appends entries round robin, txn_entries() of distinct entities per
 * transaction; only the engine calls are timed. */
static bool big_build(struct run *r, struct save_spec *specs)
{
	struct engine *e = &r->e;
	const struct engine_ops *ops = e->def->ops;
	uint64_t n = r->cfg->ledger_entries, entities = r->cfg->entities;
	uint64_t per_txn = txn_entries(r->cfg), busy = 0;
	uint64_t tick = n / 10 ? n / 10 : 1, next_tick = tick;
	struct io_figures before, after;

	if (!engine_io(r, &before))
		return false;
	for (uint64_t i = 0; i < n; i += per_txn) {
		uint64_t count = n - i < per_txn ? n - i : per_txn;
		for (uint64_t j = 0; j < count; j++)
			save_make(&specs[j], (i + j) % entities,
				  (uint32_t)((i + j) / entities + 1));
		uint64_t t0 = now_ns();
		if (!ops->txn_begin(e))
			return false;
		for (uint64_t j = 0; j < count; j++) {
			int appended;
			if (!ops->ledger_save(e, &specs[j], true, &appended))
				return false;
			if (appended == 0)
				return failf(e, "build: %s appended nothing",
					     specs[j].entity);
		}
		if (!ops->txn_commit(e))
			return false;
		busy += now_ns() - t0;
		if (i + count >= next_tick) {
			fprintf(stderr, " %" PRIu64 "%%",
				(i + count) * 100 / n);
			fflush(stderr);
			next_tick += tick;
		}
	}
	if (!engine_io(r, &after))
		return false;
	r->big.build_s = (double)busy / 1e9;
	r->big.build_entries_s = busy ? (double)n * 1e9 / (double)busy : NAN;
	r->big.build_syncs = after.syncs - before.syncs;
	r->big.build_log_bytes = after.log_bytes - before.log_bytes;
	r->big.build_commits = after.commits - before.commits;
	return true;
}

static bool big_histories(struct run *r)
{
	uint64_t entities = r->cfg->entities;
	uint64_t entries_read = 0;
	struct io_figures before, after;
	struct perm order;

	perm_init(&order, entities, SEED_HISTORY);
	timing_start(r->t);
	if (!engine_io(r, &before))
		return false;
	for (uint64_t i = 0; i < r->cfg->histories; i++) {
		if (!history_checked(r, r->t, perm_at(&order, i % entities),
				     r->cfg->ledger_entries, entities))
			return false;
		entries_read += r->col->count;
	}
	if (!engine_io(r, &after))
		return false;
	double h = (double)r->t->count;
	struct opfig f;
	opfig_from(&f, r->t);
	r->big.histories = h;
	r->big.entries_per = (double)entries_read / h;
	r->big.p50_us = f.p50_us;
	r->big.p99_us = f.p99_us;
	r->big.mean_us = f.total_ms * 1e3 / h;
	r->big.histories_s = f.ops_s;
	r->big.reads_per = (after.reads - before.reads) / h;
	r->big.pages_per = (after.pages - before.pages) / h;
	return true;
}

static void big_init(struct big_ledger *b)
{
	double *v = (double *)(void *)b;
	for (size_t i = 0; i < sizeof *b / sizeof(double); i++)
		v[i] = NAN;
}

static bool run_big_ledger(struct run *r)
{
	struct engine *e = &r->e;
	const struct engine_ops *ops = e->def->ops;
	char name[64];
	struct save_spec *specs = NULL;
	uint64_t count = 0;
	bool ok = false;

	big_init(&r->big);
	snprintf(name, sizeof name, "big-%s", e->def->name);
	if (!make_dir(e, r->dir, r->root, name))
		goto out;
	specs = calloc((size_t)txn_entries(r->cfg), sizeof *specs);
	if (specs == NULL) {
		failf(e, "out of memory");
		goto out;
	}
	if (!ops->open(e, r->dir))
		goto out;

	progress(e->def->name, "big ledger: build");
	uint64_t t0 = now_ns();
	bool step_ok = big_build(r, specs) && ops->ledger_count(e, &count);
	if (step_ok && count != r->cfg->ledger_entries)
		step_ok = failf(e, "the ledger holds %" PRIu64 " entries, not "
				"%" PRIu64, count, r->cfg->ledger_entries);
	progress_end(step_ok, t0);
	if (!step_ok)
		goto out;

	progress(e->def->name, "big ledger: settle");
	t0 = now_ns();
	step_ok = ops->settle(e) && ops->disk_bytes(e, &r->big.disk_mb);
	r->big.settle_s = (double)(now_ns() - t0) / 1e9;
	r->big.disk_mb /= 1e6;
	progress_end(step_ok, t0);
	if (!step_ok)
		goto out;

	progress(e->def->name, "big ledger: histories");
	t0 = now_ns();
	step_ok = big_histories(r);
	progress_end(step_ok, t0);
	if (!step_ok)
		goto out;

	/* Walking the whole chain reads every entry: the smoke run's check */
	if (r->cfg->smoke) {
		if (!ops->verify_chain(e, &count))
			goto out;
		r->big.chain_entries = (double)count;
		if (count != r->cfg->ledger_entries) {
			failf(e, "the chain has %" PRIu64 " entries", count);
			goto out;
		}
	}
	ok = ops->close(e);
	r->big_done = ok;
out:
	if (!ok)
		fprintf(stderr, "logkeep-mesh-bench: %s: big ledger: %s\n",
			e->def->name, e->err);
	if (e->impl != NULL)
		(void)ops->close(e);
	free(specs);
	drop_dir(r->cfg, r->dir);
	return ok;
}

/* ---------------------------------------------------------------------- */
/* Figure (a): what no-sync saves                                         */
/* ---------------------------------------------------------------------- */

struct nosync_side {
	double count;
	double s;
	double ops_s;
	double p50_us;
	double p99_us;
	double syncs;        /* lk_stats.sync_calls */
	double log_bytes;    /* lk_stats.log_bytes_written */
	double commits;      /* lk_stats.commits */
	double io_syncs;     /* through the I/O table */
	double pwrite_bytes; /* through the I/O table */
};

struct nosync {
	struct nosync_side cache;
	struct nosync_side durable;
	struct nosync_side scaled; /* durable, scaled to the cache's count */
	double scale;
	double bundle_mean_bytes;
	bool done;
};

static void side_from(struct nosync_side *side, struct timing *t,
		      const struct io_figures *before,
		      const struct io_figures *after)
{
	struct opfig f;

	opfig_from(&f, t);
	side->count = f.count;
	side->s = f.total_ms / 1e3;
	side->ops_s = f.ops_s;
	side->p50_us = f.p50_us;
	side->p99_us = f.p99_us;
	side->syncs = after->syncs - before->syncs;
	side->log_bytes = after->log_bytes - before->log_bytes;
	side->commits = after->commits - before->commits;
	side->io_syncs = after->io_syncs - before->io_syncs;
	side->pwrite_bytes = after->pwrite_bytes - before->pwrite_bytes;
}

static bool db_io(struct engine *e, lk_db *db, struct io_figures *f)
{
	lk_stats stats;

	if (!logkeep_stats(e, db, &stats))
		return false;
	io_from_stats(f, &stats);
	return true;
}

/* The cache's key and value as cache.c writes them (its header comment):
 * key src_len:u8 source dst_len:u8 destination k:u32be, value version:u8
 * created_ms:u64le bundle.  So a durable put writes the records a cache
 * set writes, byte for byte in size. */
#define CACHE_KEY_BYTES_MAX (2u + 2u * NAME_BYTES + 4u)
#define CACHE_VALUE_BYTES_MAX (1u + 8u + BUNDLE_BYTES)

static size_t cache_key_bytes(uint8_t *out, const struct cache_spec *c)
{
	size_t sl = strlen(c->source), dl = strlen(c->destination), at = 0;

	out[at++] = (uint8_t)sl;
	memcpy(out + at, c->source, sl);
	at += sl;
	out[at++] = (uint8_t)dl;
	memcpy(out + at, c->destination, dl);
	at += dl;
	for (int i = 3; i >= 0; i--)
		out[at++] = (uint8_t)(c->k >> (8 * i));
	assert(at <= CACHE_KEY_BYTES_MAX);
	return at;
}

static size_t cache_value_bytes(uint8_t *out, const struct cache_spec *c,
				uint64_t now_ms)
{
	out[0] = 1;
	put_le(out + 1, now_ms, 8);
	memcpy(out + 9, c->bundle, c->bundle_len);
	return 9 + c->bundle_len;
}

static bool nosync_cache(const struct config *cfg, const char *root,
			 struct engine *e, struct timing *t, struct nosync *a)
{
	char dir[PATH_MAX];
	lk_db *db = NULL;
	lk_mesh *mesh = NULL;
	struct io_figures before, after;
	struct cache_spec c;
	double bundle_bytes = 0;
	bool ok = false;
	lk_status st;

	if (!make_dir(e, dir, root, "nosync-cache"))
		return false;
	st = logkeep_db_open(&db, dir, LK_SYNC_ALWAYS);
	if (st != LK_OK) {
		logkeep_fail(e, "lk_open", st);
		goto out;
	}
	st = lk_mesh_open(&mesh, db, NULL);
	if (st != LK_OK) {
		logkeep_fail(e, "lk_mesh_open", st);
		goto out;
	}
	timing_start(t);
	if (!db_io(e, db, &before))
		goto out;
	for (uint64_t i = 0; i < cfg->cache_sets; i++) {
		cache_make(&c, i);
		bundle_bytes += (double)c.bundle_len;
		uint64_t t0 = now_ns();
		st = lk_mesh_cache_set(mesh, c.source, c.destination, c.k,
				       c.bundle, c.bundle_len, CACHE_TTL_S);
		timing_add(t, now_ns() - t0);
		if (st != LK_OK) {
			logkeep_fail(e, "lk_mesh_cache_set", st);
			goto out;
		}
	}
	if (!db_io(e, db, &after))
		goto out;
	side_from(&a->cache, t, &before, &after);
	a->bundle_mean_bytes = bundle_bytes / (double)cfg->cache_sets;
	/* untimed: every entry reads back */
	for (uint64_t i = 0; i < cfg->cache_sets; i++) {
		char *bundle = NULL;
		size_t len = 0;
		cache_make(&c, i);
		st = lk_mesh_cache_get(&bundle, &len, mesh, c.source,
				       c.destination, c.k);
		if (st != LK_OK) {
			logkeep_fail(e, "lk_mesh_cache_get", st);
			goto out;
		}
		bool same = len == c.bundle_len &&
			    memcmp(bundle, c.bundle, len) == 0;
		lk_free(bundle);
		if (!same) {
			failf(e, "cache entry %" PRIu64 ": a wrong bundle", i);
			goto out;
		}
	}
	ok = true;
out:
	st = lk_mesh_close(mesh);
	if (st != LK_OK && ok)
		ok = logkeep_fail(e, "lk_mesh_close", st);
	st = lk_close(db);
	if (st != LK_OK && ok)
		ok = logkeep_fail(e, "lk_close", st);
	drop_dir(cfg, dir);
	return ok;
}

static bool nosync_durable(const struct config *cfg, const char *root,
			   struct engine *e, struct timing *t,
			   struct nosync *a)
{
	char dir[PATH_MAX];
	lk_db *db = NULL;
	uint32_t ns = 0;
	struct io_figures before, after;
	struct cache_spec c;
	uint8_t key[CACHE_KEY_BYTES_MAX], value[CACHE_VALUE_BYTES_MAX];
	bool ok = false;
	lk_status st;

	if (!make_dir(e, dir, root, "nosync-durable"))
		return false;
	st = logkeep_db_open(&db, dir, LK_SYNC_ALWAYS);
	if (st != LK_OK) {
		logkeep_fail(e, "lk_open", st);
		goto out;
	}
	st = lk_ns_open(&ns, db, "bench.cache-durable");
	if (st != LK_OK) {
		logkeep_fail(e, "lk_ns_open", st);
		goto out;
	}
	timing_start(t);
	if (!db_io(e, db, &before))
		goto out;
	for (uint64_t i = 0; i < cfg->durable_puts; i++) {
		cache_make(&c, i);
		uint64_t now = lk_now_ms(db);
		size_t klen = cache_key_bytes(key, &c);
		size_t vlen = cache_value_bytes(value, &c, now);
		uint64_t t0 = now_ns();
		st = lk_put(db, ns, key, klen, value, vlen,
			    now + (uint64_t)CACHE_TTL_S * 1000u);
		timing_add(t, now_ns() - t0);
		if (st != LK_OK) {
			logkeep_fail(e, "lk_put", st);
			goto out;
		}
	}
	if (!db_io(e, db, &after))
		goto out;
	side_from(&a->durable, t, &before, &after);
	/* untimed: every put reads back (its bundle: the time differs) */
	for (uint64_t i = 0; i < cfg->durable_puts; i++) {
		void *got = NULL;
		size_t len = 0;
		cache_make(&c, i);
		size_t klen = cache_key_bytes(key, &c);
		st = lk_get(&got, &len, db, ns, key, klen);
		if (st != LK_OK) {
			logkeep_fail(e, "lk_get", st);
			goto out;
		}
		bool same = len == 9 + c.bundle_len &&
			    memcmp((uint8_t *)got + 9, c.bundle,
				   c.bundle_len) == 0;
		lk_free(got);
		if (!same) {
			failf(e, "durable put %" PRIu64 ": a wrong value", i);
			goto out;
		}
	}
	ok = true;
out:
	st = lk_close(db);
	if (st != LK_OK && ok)
		ok = logkeep_fail(e, "lk_close", st);
	drop_dir(cfg, dir);
	return ok;
}

static bool run_nosync(const struct config *cfg, const char *root,
		       struct timing *t, struct nosync *a)
{
	struct engine e = { .def = &engine_defs[0] };
	bool ok;

	progress("figure (a)", "no-sync cache sets");
	uint64_t t0 = now_ns();
	ok = nosync_cache(cfg, root, &e, t, a);
	progress_end(ok, t0);
	if (ok) {
		progress("figure (a)", "durable puts");
		t0 = now_ns();
		ok = nosync_durable(cfg, root, &e, t, a);
		progress_end(ok, t0);
	}
	if (!ok) {
		fprintf(stderr, "logkeep-mesh-bench: figure (a): %s\n", e.err);
		return false;
	}
	a->scale = (double)cfg->cache_sets / (double)cfg->durable_puts;
	a->scaled = a->durable;
	a->scaled.count *= a->scale;
	a->scaled.s *= a->scale;
	a->scaled.syncs *= a->scale;
	a->scaled.log_bytes *= a->scale;
	a->scaled.commits *= a->scale;
	a->scaled.io_syncs *= a->scale;
	a->scaled.pwrite_bytes *= a->scale;
	a->done = true;
	return true;
}

/* ---------------------------------------------------------------------- */
/* Output                                                                 */
/* ---------------------------------------------------------------------- */

#define LABEL_WIDTH 34
#define COUNT_WIDTH 8
#define COLUMN_WIDTH 11
#define RATIO_WIDTH 9

static const char *const op_labels[OP_COUNT] = {
	[OP_SEED_CREATE] = "seed test: create node",
	[OP_SEED_GET] = "seed test: get node",
	[OP_NODE_CREATE] = "create node",
	[OP_NODE_GET] = "get node",
	[OP_NODE_UPDATE] = "update node (routes_discovered)",
	[OP_CACHE_SET] = "set cache",
	[OP_CACHE_GET] = "get cache",
	[OP_LEDGER_APPEND] = "append ledger entry",
	[OP_HISTORY] = "history of one entity",
};

/* logkeep / SQLite, where both columns ran. */
static const struct ratio_def {
	const char *num;
	const char *den;
	const char *label;
} ratio_defs[] = {
	{ "lk-always", "sq-normal", "alw/nrm" },
	{ "lk-none", "sq-normal", "none/nrm" },
	{ "lk-always", "sq-full", "alw/full" },
};
#define RATIO_COUNT (sizeof ratio_defs / sizeof ratio_defs[0])

static const struct run *find_run(const struct run *runs, size_t n,
				  const char *name, bool big)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(runs[i].e.def->name, name) == 0 &&
		    (big ? runs[i].big_done : runs[i].table_done))
			return &runs[i];
	}
	return NULL;
}

static void print_value(double v, int width, int decimals)
{
	if (isnan(v) || isinf(v))
		printf(" %*s", width, "n/a");
	else
		printf(" %*.*f", width, decimals, v);
}

static double opfig_field(const struct opfig *f, size_t offset)
{
	return *(const double *)(const void *)((const char *)f + offset);
}

/* A table of one opfig field, with the ratios when `ratios`. */
static void print_op_table(const char *title, const struct run *runs,
			   size_t n, size_t offset, int decimals, bool ratios)
{
	printf("%s\n", title);
	printf("%-*s %*s", LABEL_WIDTH, "operation", COUNT_WIDTH, "count");
	for (size_t k = 0; k < n; k++)
		printf(" %*s", COLUMN_WIDTH, runs[k].e.def->name);
	for (size_t j = 0; ratios && j < RATIO_COUNT; j++) {
		if (find_run(runs, n, ratio_defs[j].num, false) &&
		    find_run(runs, n, ratio_defs[j].den, false))
			printf(" %*s", RATIO_WIDTH, ratio_defs[j].label);
	}
	printf("\n");
	for (int i = 0; i < OP_COUNT; i++) {
		double count = NAN;
		for (size_t k = 0; k < n && isnan(count); k++)
			count = runs[k].op[i].count;
		printf("%-*s", LABEL_WIDTH, op_labels[i]);
		print_value(count, COUNT_WIDTH, 0);
		for (size_t k = 0; k < n; k++)
			print_value(opfig_field(&runs[k].op[i], offset),
				    COLUMN_WIDTH, decimals);
		for (size_t j = 0; ratios && j < RATIO_COUNT; j++) {
			const struct run *a =
				find_run(runs, n, ratio_defs[j].num, false);
			const struct run *b =
				find_run(runs, n, ratio_defs[j].den, false);
			if (a && b)
				print_value(opfig_field(&a->op[i], offset) /
						    opfig_field(&b->op[i],
								offset),
					    RATIO_WIDTH, 2);
		}
		printf("\n");
	}
	printf("\n");
}

static void print_seed_totals(const struct run *runs, size_t n)
{
	static const struct {
		enum op op;
		const char *label;
		double limit_ms;
	} seeds[] = {
		{ OP_SEED_CREATE, "100 node creates, total", SEED_CREATE_LIMIT_MS },
		{ OP_SEED_GET, "100 node gets, total", SEED_GET_LIMIT_MS },
	};

	printf("the seeds' performance tests (seeds/000: bulk insert of 100 "
	       "nodes < 10 s, 100 queries < 0.2 s), ms\n");
	printf("%-*s %*s", LABEL_WIDTH, "test", COUNT_WIDTH, "limit");
	for (size_t k = 0; k < n; k++)
		printf(" %*s", COLUMN_WIDTH, runs[k].e.def->name);
	printf("\n");
	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		printf("%-*s", LABEL_WIDTH, seeds[i].label);
		print_value(seeds[i].limit_ms, COUNT_WIDTH, 0);
		for (size_t k = 0; k < n; k++)
			print_value(runs[k].op[seeds[i].op].total_ms,
				    COLUMN_WIDTH, 3);
		printf("\n");
	}
	printf("\n");
}

struct row {
	const char *label;
	const char *unit;
	size_t offset;
	int decimals;
};

#define ROW(type, label, unit, field, decimals)                               \
	{ label, unit, offsetof(type, field), decimals }

static double row_value(const void *base, const struct row *row)
{
	return *(const double *)(const void *)((const char *)base +
					       row->offset);
}

static const struct row nosync_rows[] = {
	ROW(struct nosync_side, "operations", "count", count, 0),
	ROW(struct nosync_side, "time, the calls", "s", s, 3),
	ROW(struct nosync_side, "throughput", "ops/s", ops_s, 0),
	ROW(struct nosync_side, "latency p50", "us", p50_us, 1),
	ROW(struct nosync_side, "latency p99", "us", p99_us, 1),
	ROW(struct nosync_side, "fdatasyncs (lk_stats.sync_calls)", "count",
	    syncs, 0),
	ROW(struct nosync_side, "log bytes (lk_stats, with prefill)", "bytes",
	    log_bytes, 0),
	ROW(struct nosync_side, "commits (lk_stats)", "count", commits, 0),
	ROW(struct nosync_side, "fdatasyncs, I/O table (all files)", "count",
	    io_syncs, 0),
	ROW(struct nosync_side, "bytes pwritten, I/O table", "bytes",
	    pwrite_bytes, 0),
};

static void print_nosync(const struct config *cfg, const struct nosync *a)
{
	const struct nosync_side *sides[3] = { &a->cache, &a->durable,
					       &a->scaled };
	char scaled[32];

	printf("(a) what no-sync saves: %" PRIu64 " lk_mesh_cache_set (the "
	       "no-sync namespace mesh.cache) against\n    lk_put of the same "
	       "keys and values (cache.c's bytes, same expiry) into an "
	       "ordinary namespace,\n    both under LK_SYNC_ALWAYS, each from "
	       "an empty database; bundles of %.0f bytes on average.\n",
	       cfg->cache_sets, a->bundle_mean_bytes);
	printf("    The durable puts ran %" PRIu64 " times (one fdatasync "
	       "each); the last column scales them x%.2f.\n",
	       cfg->durable_puts, a->scale);
	snprintf(scaled, sizeof scaled, "x%.2f", a->scale);
	printf("%-*s %-6s %14s %14s %14s\n", LABEL_WIDTH, "figure", "unit",
	       "cache sets", "durable puts", scaled);
	for (size_t i = 0; i < sizeof nosync_rows / sizeof nosync_rows[0];
	     i++) {
		printf("%-*s %-6s", LABEL_WIDTH, nosync_rows[i].label,
		       nosync_rows[i].unit);
		for (int k = 0; k < 3; k++)
			print_value(row_value(sides[k], &nosync_rows[i]), 14,
				    nosync_rows[i].decimals);
		printf("\n");
	}
	printf("%-*s %-6s", LABEL_WIDTH, "per operation: fdatasyncs", "count");
	for (int k = 0; k < 3; k++)
		print_value(sides[k]->syncs / sides[k]->count, 14, 3);
	printf("\n%-*s %-6s", LABEL_WIDTH, "per operation: log bytes", "bytes");
	for (int k = 0; k < 3; k++)
		print_value(sides[k]->log_bytes / sides[k]->count, 14, 1);
	printf("\n%-*s %-6s", LABEL_WIDTH, "per operation: bytes pwritten",
	       "bytes");
	for (int k = 0; k < 3; k++)
		print_value(sides[k]->pwrite_bytes / sides[k]->count, 14, 1);
	printf("\n\n");
}

static const struct row big_rows[] = {
	ROW(struct big_ledger, "build, the engine calls", "s", build_s, 2),
	ROW(struct big_ledger, "build", "ent/s", build_entries_s, 0),
	ROW(struct big_ledger, "fdatasyncs of the build", "count",
	    build_syncs, 0),
	ROW(struct big_ledger, "commits of the build", "count", build_commits,
	    0),
	ROW(struct big_ledger, "log bytes of the build", "bytes",
	    build_log_bytes, 0),
	ROW(struct big_ledger, "settle (vacuum; wal_checkpoint)", "s",
	    settle_s, 2),
	ROW(struct big_ledger, "disk after settling", "MB", disk_mb, 1),
	ROW(struct big_ledger, "histories read", "count", histories, 0),
	ROW(struct big_ledger, "entries per history", "count", entries_per,
	    1),
	ROW(struct big_ledger, "history latency p50", "us", p50_us, 1),
	ROW(struct big_ledger, "history latency p99", "us", p99_us, 1),
	ROW(struct big_ledger, "history latency mean", "us", mean_us, 1),
	ROW(struct big_ledger, "histories", "/s", histories_s, 0),
	ROW(struct big_ledger, "reads per history (see above)", "count",
	    reads_per, 1),
	ROW(struct big_ledger, "pages looked up per history", "count",
	    pages_per, 1),
	ROW(struct big_ledger, "chain verified (smoke)", "count",
	    chain_entries, 0),
};

static void print_big(const struct config *cfg, const struct run *runs,
		      size_t n)
{
	const struct run *lk = find_run(runs, n, "lk-always", true);
	const struct run *sq = find_run(runs, n, "sq-normal", true);

	printf("(b) history of one entity: a ledger of %" PRIu64 " entries "
	       "over %" PRIu64 " entities, appended round\n    robin in "
	       "transactions of %" PRIu64 " (lk_mesh_txn_ledger_save; BEGIN "
	       "IMMEDIATE ... COMMIT), then settled,\n    then %" PRIu64
	       " histories of random entities, each checked.  Reads: "
	       "logkeep's preads; SQLite's\n    page-cache misses (pages "
	       "read from the file), pages looked up: its hits and misses.\n",
	       cfg->ledger_entries, cfg->entities, txn_entries(cfg),
	       cfg->histories);
	printf("%-*s %-6s %14s %14s %10s\n", LABEL_WIDTH, "figure", "unit",
	       "lk-always", "sq-normal", "lk/sq");
	for (size_t i = 0; i < sizeof big_rows / sizeof big_rows[0]; i++) {
		double a = lk ? row_value(&lk->big, &big_rows[i]) : NAN;
		double b = sq ? row_value(&sq->big, &big_rows[i]) : NAN;
		printf("%-*s %-6s", LABEL_WIDTH, big_rows[i].label,
		       big_rows[i].unit);
		print_value(a, 14, big_rows[i].decimals);
		print_value(b, 14, big_rows[i].decimals);
		print_value(a / b, 10, 2);
		printf("\n");
	}
	printf("\n");
}

static void print_all(const struct config *cfg, const char *root,
		      const struct run *runs, size_t n,
		      const struct nosync *a)
{
	uint64_t table_entities = cfg->ops / TABLE_ENTRIES_PER_ENTITY;

	if (table_entities == 0)
		table_entities = 1;
	printf("logkeep-mesh-bench %s%s: the mesh layer (logkeep_mesh.h) and "
	       "SQLite %s, the same operations in one run\n",
	       LK_VERSION_STRING, cfg->smoke ? " (smoke)" : "",
#ifdef LK_BENCH_SQLITE
	       sqlite3_libversion()
#else
	       "(not built: no sqlite3 found)"
#endif
	);
	for (size_t k = 0; k < n; k++)
		printf("  %-10s %s\n", runs[k].e.def->name, runs[k].e.def->what);
	printf("SQLite: one connection, prepared statements, the seeds/000 "
	       "schema; the ledger table of seeds/004 with an\nindex on "
	       "entity_id; SHA-256 (libsodium) alike on both sides.  Sizes: "
	       "%" PRIu64 " nodes; %" PRIu64 " cache sets\nand gets; %" PRIu64
	       " ledger appends over %" PRIu64 " entities, then as many "
	       "histories.  Directory %s%s\n", cfg->nodes, cfg->ops, cfg->ops,
	       table_entities, root, cfg->keep ? " (kept)" : "");
	printf("Each operation timed alone (CLOCK_MONOTONIC); ops/s is the "
	       "operations over the sum of their times.\n\n");

	print_op_table("throughput, ops/s (ratios logkeep / SQLite: above 1, "
		       "logkeep is faster)", runs, n,
		       offsetof(struct opfig, ops_s), 0, true);
	print_op_table("latency p99, us (ratios logkeep / SQLite: below 1, "
		       "logkeep is faster)", runs, n,
		       offsetof(struct opfig, p99_us), 1, true);
	print_op_table("latency p50, us", runs, n,
		       offsetof(struct opfig, p50_us), 1, false);
	print_seed_totals(runs, n);
	print_op_table("fdatasyncs per operation (logkeep: lk_stats.sync_calls;"
		       " SQLite: not counted)", runs, n,
		       offsetof(struct opfig, syncs_per_op), 2, false);
	print_op_table("reads per operation (logkeep: preads of the caller's "
		       "thread; SQLite: page-cache misses)", runs, n,
		       offsetof(struct opfig, reads_per_op), 2, false);
	if (a->done)
		print_nosync(cfg, a);
	print_big(cfg, runs, n);
}

/* ---------------------------------------------------------------------- */
/* Options and main                                                       */
/* ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: logkeep-mesh-bench [options]\n"
		"  --nodes N           node creates, gets and updates "
		"(default %" PRIu64 ")\n"
		"  --ops N             cache sets and gets, ledger appends and "
		"histories (default %" PRIu64 ")\n"
		"  --cache-sets N      figure (a): no-sync cache sets "
		"(default %" PRIu64 ")\n"
		"  --durable-puts N    figure (a): durable puts, scaled to "
		"--cache-sets (default %" PRIu64 ")\n"
		"  --ledger-entries N  figure (b): entries of the big ledger "
		"(default %" PRIu64 ")\n"
		"  --entities N        figure (b): its entities (default %"
		PRIu64 ")\n"
		"  --histories N       figure (b): histories read (default %"
		PRIu64 ")\n"
		"  --no-sqlite-full    leave out SQLite synchronous=FULL\n"
		"  --dir PATH          scratch directory (default: a new one "
		"under /tmp)\n"
		"  --keep              keep the databases at the end\n"
		"  --smoke             tiny sizes of every workload, for meson "
		"test\n"
		"  --help\n"
		"Exit status: 0 when every engine call succeeded and every "
		"read was right,\n1 otherwise, 2 on bad usage.\n",
		NODES_DEFAULT, OPS_DEFAULT, CACHE_SETS_DEFAULT,
		DURABLE_PUTS_DEFAULT, LEDGER_ENTRIES_DEFAULT, ENTITIES_DEFAULT,
		HISTORIES_DEFAULT);
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > COUNT_MAX)
		return false;
	*out = v;
	return true;
}

enum {
	OPT_NODES = 256,
	OPT_OPS,
	OPT_CACHE_SETS,
	OPT_DURABLE_PUTS,
	OPT_LEDGER_ENTRIES,
	OPT_ENTITIES,
	OPT_HISTORIES,
	OPT_NO_SQLITE_FULL,
	OPT_DIR,
	OPT_KEEP,
	OPT_SMOKE,
	OPT_HELP,
};

/* The count options: their field, and whether given. */
static uint64_t *count_field(struct config *cfg, int opt)
{
	switch (opt) {
	case OPT_NODES: return &cfg->nodes;
	case OPT_OPS: return &cfg->ops;
	case OPT_CACHE_SETS: return &cfg->cache_sets;
	case OPT_DURABLE_PUTS: return &cfg->durable_puts;
	case OPT_LEDGER_ENTRIES: return &cfg->ledger_entries;
	case OPT_ENTITIES: return &cfg->entities;
	case OPT_HISTORIES: return &cfg->histories;
	default: return NULL;
	}
}

static bool parse_options(struct config *cfg, int argc, char **argv)
{
	static const struct option options[] = {
		{ "nodes", required_argument, NULL, OPT_NODES },
		{ "ops", required_argument, NULL, OPT_OPS },
		{ "cache-sets", required_argument, NULL, OPT_CACHE_SETS },
		{ "durable-puts", required_argument, NULL, OPT_DURABLE_PUTS },
		{ "ledger-entries", required_argument, NULL,
		  OPT_LEDGER_ENTRIES },
		{ "entities", required_argument, NULL, OPT_ENTITIES },
		{ "histories", required_argument, NULL, OPT_HISTORIES },
		{ "no-sqlite-full", no_argument, NULL, OPT_NO_SQLITE_FULL },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "smoke", no_argument, NULL, OPT_SMOKE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct config given = { 0 }; /* non-zero: set on the command line */
	int c, at = 0;

	while ((c = getopt_long(argc, argv, "", options, &at)) != -1) {
		uint64_t *field = count_field(cfg, c);
		if (field != NULL) {
			if (!parse_u64(optarg, field)) {
				fprintf(stderr, "logkeep-mesh-bench: --%s: 1 "
					"to %" PRIu64 "\n", options[at].name,
					COUNT_MAX);
				return false;
			}
			*count_field(&given, c) = 1;
			continue;
		}
		switch (c) {
		case OPT_NO_SQLITE_FULL:
			cfg->sqlite_full = false;
			break;
		case OPT_DIR:
			cfg->dir = optarg;
			break;
		case OPT_KEEP:
			cfg->keep = true;
			break;
		case OPT_SMOKE:
			cfg->smoke = true;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return false;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "logkeep-mesh-bench: unexpected argument %s\n",
			argv[optind]);
		return false;
	}
	/* --smoke shrinks the defaults; explicit sizes still win. */
	if (cfg->smoke) {
		static const struct {
			int opt;
			uint64_t value;
		} smoke[] = {
			{ OPT_NODES, SMOKE_NODES },
			{ OPT_OPS, SMOKE_OPS },
			{ OPT_CACHE_SETS, SMOKE_CACHE_SETS },
			{ OPT_DURABLE_PUTS, SMOKE_DURABLE_PUTS },
			{ OPT_LEDGER_ENTRIES, SMOKE_LEDGER_ENTRIES },
			{ OPT_ENTITIES, SMOKE_ENTITIES },
			{ OPT_HISTORIES, SMOKE_HISTORIES },
		};
		for (size_t i = 0; i < sizeof smoke / sizeof smoke[0]; i++) {
			if (*count_field(&given, smoke[i].opt) == 0)
				*count_field(cfg, smoke[i].opt) =
					smoke[i].value;
		}
	}
	if (cfg->entities > cfg->ledger_entries) {
		fprintf(stderr, "logkeep-mesh-bench: --entities above "
			"--ledger-entries\n");
		return false;
	}
	/* a history is collected whole before it is checked */
	if (cfg->ledger_entries / cfg->entities >= UINT64_C(100000)) {
		fprintf(stderr, "logkeep-mesh-bench: at most 100000 entries "
			"per entity\n");
		return false;
	}
	if (cfg->durable_puts > cfg->cache_sets) {
		fprintf(stderr, "logkeep-mesh-bench: --durable-puts above "
			"--cache-sets\n");
		return false;
	}
	return true;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

int main(int argc, char **argv)
{
	struct config cfg = {
		.nodes = NODES_DEFAULT,
		.ops = OPS_DEFAULT,
		.cache_sets = CACHE_SETS_DEFAULT,
		.durable_puts = DURABLE_PUTS_DEFAULT,
		.ledger_entries = LEDGER_ENTRIES_DEFAULT,
		.entities = ENTITIES_DEFAULT,
		.histories = HISTORIES_DEFAULT,
		.sqlite_full = true,
	};
	struct run runs[ENGINE_DEF_COUNT];
	struct nosync nosync;
	struct timing t = { 0 };
	struct collector col = { 0 };
	char root[PATH_MAX];
	bool root_made = false;
	size_t n = 0;
	int exit_code = 1;

	if (!parse_options(&cfg, argc, argv))
		return 2;
	if (sodium_init() < 0) {
		fprintf(stderr, "logkeep-mesh-bench: libsodium failed to "
			"initialise\n");
		return 1;
	}
	counting_io_init();
	memset(runs, 0, sizeof runs);
	memset(&nosync, 0, sizeof nosync);

	if (cfg.dir == NULL) {
		strcpy(root, "/tmp/logkeep-mesh-bench.XXXXXX");
		if (mkdtemp(root) == NULL) {
			fprintf(stderr, "logkeep-mesh-bench: mkdtemp %s: %s\n",
				root, strerror(errno));
			return 1;
		}
		root_made = true;
	} else {
		if (strlen(cfg.dir) >= sizeof root - 64) {
			fprintf(stderr, "logkeep-mesh-bench: --dir too long\n");
			return 2;
		}
		strcpy(root, cfg.dir);
		if (mkdir(root, 0700) == 0) {
			root_made = true;
		} else if (errno != EEXIST) {
			fprintf(stderr, "logkeep-mesh-bench: mkdir %s: %s\n",
				root, strerror(errno));
			return 1;
		}
	}

	t.cap = (size_t)max_u64(max_u64(max_u64(SEED_OPS, cfg.nodes),
					max_u64(cfg.ops, cfg.histories)),
				cfg.cache_sets);
	t.latency_us = calloc(t.cap, sizeof t.latency_us[0]);
	uint64_t table_entities = max_u64(cfg.ops / TABLE_ENTRIES_PER_ENTITY,
					  1);
	col.cap = (size_t)max_u64(cfg.ops / table_entities,
				  cfg.ledger_entries / cfg.entities) + 2;
	col.v = calloc(col.cap, sizeof col.v[0]);
	if (t.latency_us == NULL || col.v == NULL) {
		fprintf(stderr, "logkeep-mesh-bench: out of memory\n");
		goto out;
	}

	for (size_t k = 0; k < ENGINE_DEF_COUNT; k++) {
		const struct engine_def *def = &engine_defs[k];
		if (def->is_sqlite && def->mode == SQ_FULL && !cfg.sqlite_full)
			continue;
		struct run *r = &runs[n++];
		r->cfg = &cfg;
		r->root = root;
		r->e.def = def;
		r->t = &t;
		r->col = &col;
		r->table_entities = table_entities;
		if (!run_table(r))
			goto out;
	}
	if (!run_nosync(&cfg, root, &t, &nosync))
		goto out;
	for (size_t k = 0; k < n; k++) {
		const char *name = runs[k].e.def->name;
		if (strcmp(name, "lk-always") != 0 &&
		    strcmp(name, "sq-normal") != 0)
			continue;
		if (!run_big_ledger(&runs[k]))
			goto out;
	}

	print_all(&cfg, root, runs, n, &nosync);
	if (fflush(stdout) != 0)
		goto out;
	exit_code = 0;

out:
	free(t.latency_us);
	free(col.v);
	if (cfg.keep)
		fprintf(stderr, "logkeep-mesh-bench: kept %s\n", root);
	else if (root_made && !remove_tree(root))
		fprintf(stderr, "logkeep-mesh-bench: could not remove %s\n",
			root);
	return exit_code;
}
