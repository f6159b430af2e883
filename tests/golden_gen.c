/* SPDX-License-Identifier: MIT */
/*
 * golden_gen.c - writes the golden data directory, and reads any data
 * directory back as one canonical text: the portability tests' two ends
 * (tests/golden_test.sh, tests/portable_test.sh; SPEC §4, §11).
 *
 *   golden_gen write DIR   writes the golden workload into DIR (new)
 *   golden_gen read DIR    opens DIR read-only and prints what it holds
 *
 * Method: black box, through logkeep.h, logkeep_io.h and logkeep_mesh.h
 * only.  Both modes run on the POSIX I/O table with one slot replaced: the
 * wall clock (now_ms) is a value this program sets, so that every
 * timestamp written (nodes, policies, ledger entries, telemetry, expiries,
 * the snapshot's created_ms) and every expiry judged on reading is the
 * same on every host and at every run.  What still differs from run to
 * run is the database id, which lk_open() draws from the clocks and the
 * handle's address at creation (no API sets it), and with it every record
 * checksum's seed: two directories written by this program are the same
 * log with different ids, not the same bytes.  The read mode prints no id.
 *
 * What `write` puts in DIR (segments of 4 KiB, so the log has several;
 * no background compaction, scrub or automatic snapshot):
 *   - puts into three namespaces (text keys, binary keys and values),
 *     overwrites and deletes, a value of exactly LK_COMPRESS_MIN_BYTES and
 *     compressible values well past it (stored zstd-compressed), expiring
 *     puts (one expired by the time it is read, one not);
 *   - a multi-op batch (puts and deletes in two namespaces) and a
 *     conditional one;
 *   - the mesh layer: nodes (created, updated, deleted), policies (YAML,
 *     created and updated), path-cache entries, telemetry (events, a
 *     captured error, a decision), ledger entries of two entities, a
 *     transaction across collections;
 *   - an explicit compaction (segments of generation 1), then a snapshot,
 *     then more writes that an open replays after the snapshot.
 *
 * What `read` prints, one fact a line, in an order that depends only on
 * the log: the recovery report (its duration left out), the stats that
 * come from the log (not the memory ones), the segments, every live
 * record of every namespace (through an iterator and again through
 * lk_get_ex, which must agree), and the mesh collections through the mesh
 * API (nodes and policies sorted by id, cache entries, each entity's
 * ledger history, the chain check).  Lines about how the open went (the
 * report, and what the stats take from the snapshot file) start with
 * "open."; the rest is the data, which must be the same whether or not a
 * snapshot was used.
 *
 * A failed call prints the file, line, status and lk_errmsg() (check.h)
 * and aborts: the tests see a non-zero exit.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "logkeep.h"
#include "logkeep_io.h"
#include "logkeep_mesh.h"

/* ---------------------------------------------------------------------- */
/* The clock                                                              */
/* ---------------------------------------------------------------------- */

/* 2024-01-01T00:00:00Z: the workload's first moment. */
#define GOLDEN_T0_MS UINT64_C(1704067200000)
/* The read mode's moment: a day after the workload, so that the path
 * cache (30 s) and the short expiry have run out, the long one not. */
#define GOLDEN_READ_MS (GOLDEN_T0_MS + UINT64_C(86400000))
/* 2100-01-01T00:00:00Z: an expiry no reader reaches. */
#define GOLDEN_FAR_MS UINT64_C(4102444800000)

static _Atomic uint64_t clock_ms = GOLDEN_T0_MS;
static lk_io clock_io;

static uint64_t clock_now_ms(void *ctx)
{
	(void)ctx;
	return atomic_load(&clock_ms);
}

/* The POSIX table with the wall clock above. */
static const lk_io *golden_io(void)
{
	clock_io = *lk_io_posix();
	clock_io.now_ms = clock_now_ms;
	return &clock_io;
}

/* Moves the clock to step `step` of the workload (a second apart). */
static void at_step(uint64_t step)
{
	atomic_store(&clock_ms, GOLDEN_T0_MS + step * 1000u);
}

/* ---------------------------------------------------------------------- */
/* write                                                                  */
/* ---------------------------------------------------------------------- */

static void put_str(lk_db *db, uint32_t ns, const char *key, const char *val,
		    uint64_t expire_at_ms)
{
	lk_batch *b = NULL;

	CHECK_OK(lk_batch_new(&b));
	CHECK_OK(lk_batch_put(b, ns, key, strlen(key), val, strlen(val),
			      expire_at_ms));
	CHECK_OK(lk_commit(db, b));
	lk_batch_free(b);
}

/* A compressible text of n bytes (zstd stores it in a fraction). */
static char *text_of(size_t n, unsigned seed)
{
	static const char *const words[] = {
		"mesh ", "route ", "node ", "link ", "metric ", "hop ",
		"beacon ", "neighbour ",
	};
	char *s = malloc(n + 1);
	size_t i = 0;

	CHECK(s != NULL);
	while (i < n) {
		const char *w = words[(i / 7 + seed) % 8];
		size_t k = strlen(w);

		if (k > n - i)
			k = n - i;
		memcpy(s + i, w, k);
		i += k;
	}
	s[n] = '\0';
	return s;
}

static void write_kv(lk_db *db, uint32_t kv, uint32_t bin)
{
	char key[32], val[64];
	unsigned char bkey[8], bval[64];
	lk_batch *b = NULL;
	char *big;

	/* plain puts, enough to fill a few segments */
	for (unsigned i = 0; i < 60; i++) {
		at_step(10 + i / 10);
		snprintf(key, sizeof key, "key%03u", i);
		snprintf(val, sizeof val, "value %u of the golden log", i);
		put_str(db, i % 3 ? LK_NS_DEFAULT : kv, key, val, 0);
	}
	/* binary keys and values, every byte value */
	for (unsigned i = 0; i < 8; i++) {
		for (unsigned j = 0; j < sizeof bkey; j++)
			bkey[j] = (unsigned char)(i * 31u + j * 7u);
		for (unsigned j = 0; j < sizeof bval; j++)
			bval[j] = (unsigned char)(i * 64u + j);
		CHECK_OK(lk_put(db, bin, bkey, sizeof bkey, bval, sizeof bval,
				0));
	}
	/* values at and past the compression threshold */
	at_step(20);
	big = text_of(LK_COMPRESS_MIN_BYTES, 1);
	CHECK_OK(lk_put(db, kv, "at-threshold", 12, big, strlen(big), 0));
	free(big);
	for (unsigned i = 0; i < 3; i++) {
		big = text_of(1500u + i * 700u, i);
		snprintf(key, sizeof key, "compressed%u", i);
		CHECK_OK(lk_put(db, kv, key, strlen(key), big, strlen(big), 0));
		free(big);
	}
	/* expiring puts: one gone by GOLDEN_READ_MS, one not */
	at_step(21);
	put_str(db, kv, "expires-soon", "gone within the hour",
		GOLDEN_T0_MS + 3600u * 1000u);
	put_str(db, kv, "expires-2100", "still here", GOLDEN_FAR_MS);
	/* overwrites and deletes: dead bytes for the compaction */
	at_step(22);
	for (unsigned i = 0; i < 60; i += 4) {
		snprintf(key, sizeof key, "key%03u", i);
		snprintf(val, sizeof val, "value %u, overwritten", i);
		put_str(db, i % 3 ? LK_NS_DEFAULT : kv, key, val, 0);
	}
	for (unsigned i = 1; i < 60; i += 6) {
		snprintf(key, sizeof key, "key%03u", i);
		CHECK_OK(lk_del(db, i % 3 ? LK_NS_DEFAULT : kv, key,
				strlen(key)));
	}
	/* a multi-op batch across namespaces, with deletes */
	at_step(23);
	CHECK_OK(lk_batch_new(&b));
	for (unsigned i = 0; i < 5; i++) {
		snprintf(key, sizeof key, "batch%u", i);
		snprintf(val, sizeof val, "batch value %u", i);
		CHECK_OK(lk_batch_put(b, i % 2 ? kv : LK_NS_DEFAULT, key,
				      strlen(key), val, strlen(val), 0));
	}
	CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, "key002", 6));
	CHECK_OK(lk_batch_del(b, kv, "key003", 6));
	bkey[0] = 0;
	CHECK_OK(lk_batch_put(b, bin, bkey, 1, "\0\1\2", 3,
			      GOLDEN_FAR_MS));
	CHECK_OK(lk_commit(db, b));
	/* a conditional batch */
	CHECK_OK(lk_batch_require(b, kv, "cond", 4, LK_IF_ABSENT, NULL, 0));
	CHECK_OK(lk_batch_put(b, kv, "cond", 4, "created once", 12, 0));
	CHECK_OK(lk_commit(db, b));
	lk_batch_free(b);
}

static void write_mesh(lk_mesh *m)
{
	static const char *const ifs[] = { "wlan0", "eth0", "bat0" };
	static const char *const protos[] = { "batman-adv", "olsr" };
	static const char *const policy1 =
		"name: default\nrules:\n  - allow: mesh\n  - deny: wan\n";
	static const char *const policy2 =
		"name: strict\nrules:\n  - deny: all\n";
	static const char *const policy1b =
		"name: default\nrules:\n  - allow: mesh\n  - allow: lan\n"
		"  - deny: wan\n";
	lk_mesh_node n = { 0 };
	lk_mesh_attr attrs[2] = { { "firmware", "1.0" }, { "role", "gw" } };
	lk_mesh_txn *txn = NULL;
	char id[16];

	at_step(30);
	for (unsigned i = 0; i < 4; i++) {
		snprintf(id, sizeof id, "node-%u", i);
		n.id = id;
		n.interfaces = ifs;
		n.interface_count = 1 + i % 3;
		n.protocols = protos;
		n.protocol_count = i % 3;
		n.started = (int)(i % 2);
		n.routes_discovered = i * 10u;
		CHECK_OK(lk_mesh_node_create(m, &n));
	}
	at_step(31);
	n.started = 1;
	n.routes_discovered = 99;
	CHECK_OK(lk_mesh_node_update(m, "node-2", &n,
				     LK_MESH_NODE_STARTED |
					     LK_MESH_NODE_ROUTES));
	CHECK_OK(lk_mesh_node_delete(m, "node-3"));

	at_step(32);
	CHECK_OK(lk_mesh_policy_create(m, "default", policy1, strlen(policy1)));
	CHECK_OK(lk_mesh_policy_create(m, "strict", policy2, strlen(policy2)));
	at_step(33);
	CHECK_OK(lk_mesh_policy_update(m, "default", policy1b,
				       strlen(policy1b)));

	at_step(34);
	CHECK_OK(lk_mesh_cache_set(m, "node-0", "node-1", 1,
				   "{\"hops\":[\"node-0\",\"node-1\"]}", 29,
				   0));
	CHECK_OK(lk_mesh_cache_set(m, "node-0", "node-2", 2,
				   "{\"hops\":[\"node-0\",\"node-2\"]}", 29,
				   3600));
	CHECK_OK(lk_mesh_cache_set(m, "node-1", "node-2", 1, "{}", 2, 0));

	/* the ledger: two entities, several transitions each */
	at_step(35);
	CHECK_OK(lk_mesh_ledger_save(m, "node-0", "joined", "daemon",
				     "first beacon", attrs, 2, NULL));
	at_step(36);
	CHECK_OK(lk_mesh_ledger_save(m, "node-1", "joined", "daemon",
				     "first beacon", attrs, 1, NULL));
	at_step(37);
	attrs[0].value = "1.1";
	CHECK_OK(lk_mesh_ledger_save(m, "node-0", "upgraded", "operator",
				     "firmware 1.1", attrs, 2, NULL));
	at_step(38);
	CHECK_OK(lk_mesh_ledger_save(m, "node-0", "isolated", "daemon",
				     "no neighbour for 60 s", attrs, 2, NULL));
	at_step(39);
	CHECK_OK(lk_mesh_ledger_save(m, "node-1", "left", "operator",
				     "decommissioned", attrs, 1, NULL));

	/* telemetry: each entry flushed on its own, so that the batches
	 * are the same whoever writes them (caller or background writer) */
	at_step(40);
	CHECK_OK(lk_mesh_telemetry_record(m, LK_MESH_TELEMETRY_EVENT, "olsr",
					  "neighbour table full"));
	CHECK_OK(lk_mesh_telemetry_flush(m));
	CHECK_OK(lk_mesh_capture_error(m, "dhcp", "timeout",
				       "no lease after 3 tries"));
	CHECK_OK(lk_mesh_telemetry_flush(m));
	CHECK_OK(lk_mesh_capture_decision(m, "uow-7", "guardian",
					  "load > 0.8", "reroute", 2));
	CHECK_OK(lk_mesh_telemetry_flush(m));

	/* a transaction across collections */
	at_step(41);
	CHECK_OK(lk_mesh_txn_begin(&txn, m));
	n.id = "node-9";
	n.interface_count = 2;
	n.protocol_count = 1;
	n.started = 0;
	n.routes_discovered = 0;
	CHECK_OK(lk_mesh_txn_node_create(txn, &n));
	CHECK_OK(lk_mesh_txn_ledger_save(txn, "node-9", "joined", "daemon",
					 "created with its ledger entry",
					 attrs, 2));
	CHECK_OK(lk_mesh_txn_commit(txn));
}

static int cmd_write(const char *dir)
{
	lk_options o = LK_OPTIONS_INIT;
	lk_mesh_options mo = LK_MESH_OPTIONS_INIT;
	lk_db *db = NULL;
	lk_mesh *m = NULL;
	uint32_t kv = 0, bin = 0;

	o.io = golden_io();
	o.segment_size_bytes = LK_SEGMENT_SIZE_MIN_BYTES;
	o.compact_dead_pct = 0;     /* only the explicit compaction */
	o.snapshot_every_bytes = 0; /* only the explicit snapshot */
	o.scrub_rate_bytes = 0;
	o.reserve_bytes = LK_RESERVE_MIN_BYTES;
	mo.telemetry_flush_ms = 3600u * 1000u; /* only explicit flushes */

	at_step(0);
	CHECK_OK(lk_open(&db, dir, &o));
	CHECK_OK(lk_ns_open(&kv, db, "golden.kv"));
	CHECK_OK(lk_ns_open(&bin, db, "golden.bin"));
	write_kv(db, kv, bin);
	CHECK_OK(lk_mesh_open(&m, db, &mo));
	write_mesh(m);

	/* a compaction generation, then the snapshot after it */
	at_step(50);
	CHECK_OK(lk_compact(db));
	at_step(51);
	CHECK_OK(lk_snapshot(db));

	/* what an open replays after the snapshot */
	at_step(52);
	put_str(db, kv, "after-snapshot", "replayed at open", 0);
	CHECK_OK(lk_del(db, LK_NS_DEFAULT, "key004", 6));
	CHECK_OK(lk_mesh_ledger_save(m, "node-1", "rejoined", "daemon",
				     "beacon again", NULL, 0, NULL));
	CHECK_OK(lk_mesh_close(m));
	CHECK_OK(lk_close(db));
	return 0;
}

/* ---------------------------------------------------------------------- */
/* read                                                                   */
/* ---------------------------------------------------------------------- */

/* FNV-1a, 64 bits: a value's fingerprint in the listing. */
static uint64_t fnv64(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = UINT64_C(14695981039346656037);

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * UINT64_C(1099511628211);
	return h;
}

/* Bytes as "text" when short clean text, else as hex (long ones as
 * their length, fingerprint and first 16 bytes). */
static void print_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	int clean = n <= 80;

	for (size_t i = 0; clean && i < n; i++)
		clean = b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"';
	if (clean) {
		printf("\"%.*s\"", (int)n, (const char *)p);
		return;
	}
	if (n > 32)
		printf("len=%zu fnv=%016llx head=", n,
		       (unsigned long long)fnv64(p, n));
	else
		printf("hex=");
	for (size_t i = 0; i < n && i < (n > 32 ? 16u : 32u); i++)
		printf("%02x", b[i]);
}

static void read_ns(lk_db *db, uint32_t ns, const char *name)
{
	lk_iter *it = NULL;
	const void *key, *val;
	size_t key_len, val_len;
	uint64_t expire, keys = 0, count = 0;
	lk_ns_stats nss = LK_NS_STATS_INIT;
	lk_status st;

	CHECK_OK(lk_count(&count, db, ns));
	CHECK_OK(lk_ns_keys(&keys, db, ns));
	CHECK_OK(lk_ns_stats_get(&nss, db, ns));
	printf("ns %u %s: count %llu, index keys %llu, live_bytes %llu\n", ns,
	       name, (unsigned long long)count, (unsigned long long)keys,
	       (unsigned long long)nss.live_bytes);
	CHECK_OK(lk_iter_open(&it, db, ns, NULL, 0));
	while ((st = lk_iter_next(it, &key, &key_len, &val, &val_len,
				  &expire)) == LK_OK) {
		void *got = NULL;
		size_t got_len = 0;
		uint64_t seq = 0, got_expire = 0;

		/* the point read must agree with the iterator */
		CHECK_OK(lk_get_ex(&got, &got_len, &seq, &got_expire, db, ns,
				   key, key_len));
		CHECK(got_len == val_len && memcmp(got, val, val_len) == 0);
		CHECK(got_expire == expire);
		lk_free(got);
		printf("  ");
		print_bytes(key, key_len);
		printf(" seq %llu", (unsigned long long)seq);
		if (expire)
			printf(" expires %llu", (unsigned long long)expire);
		printf(" = ");
		print_bytes(val, val_len);
		printf("\n");
	}
	CHECK_ST(LK_NOT_FOUND, st);
	lk_iter_close(it);
}

/* Lines gathered to be printed sorted (for the mesh's unordered lists). */
struct lines {
	char *v[64];
	size_t n;
};

static void lines_add(struct lines *l, const char *s)
{
	CHECK(l->n < sizeof l->v / sizeof l->v[0]);
	l->v[l->n] = strdup(s);
	CHECK(l->v[l->n] != NULL);
	l->n++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lines_print(struct lines *l)
{
	qsort(l->v, l->n, sizeof l->v[0], cmp_str);
	for (size_t i = 0; i < l->n; i++) {
		fputs(l->v[i], stdout);
		free(l->v[i]);
	}
	l->n = 0;
}

static int on_node(void *arg, const lk_mesh_node *n)
{
	char s[512];
	int k = snprintf(s, sizeof s, "  node %s started %d routes %llu "
			 "created %llu updated %llu interfaces", n->id,
			 n->started, (unsigned long long)n->routes_discovered,
			 (unsigned long long)n->created_at_ms,
			 (unsigned long long)n->updated_at_ms);

	for (size_t i = 0; i < n->interface_count; i++)
		k += snprintf(s + k, sizeof s - (size_t)k, " %s",
			      n->interfaces[i]);
	k += snprintf(s + k, sizeof s - (size_t)k, " protocols");
	for (size_t i = 0; i < n->protocol_count; i++)
		k += snprintf(s + k, sizeof s - (size_t)k, " %s",
			      n->protocols[i]);
	snprintf(s + k, sizeof s - (size_t)k, "\n");
	lines_add(arg, s);
	return 0;
}

static int on_policy(void *arg, const lk_mesh_policy *p)
{
	char s[512];

	snprintf(s, sizeof s, "  policy %s rules %u created %llu updated %llu "
		 "yaml len=%zu fnv=%016llx\n", p->id, p->rules_count,
		 (unsigned long long)p->created_at_ms,
		 (unsigned long long)p->updated_at_ms, p->yaml_len,
		 (unsigned long long)fnv64(p->yaml, p->yaml_len));
	lines_add(arg, s);
	return 0;
}

static void print_hash(const uint8_t h[32])
{
	for (int i = 0; i < 32; i++)
		printf("%02x", h[i]);
}

static int on_entry(void *arg, const lk_mesh_entry *e)
{
	(void)arg;
	printf("  entry %llu %s#%u %s -> %s by %s at %llu: %s\n    content ",
	       (unsigned long long)e->position, e->entity, e->entity_index,
	       e->from_status, e->to_status, e->actor,
	       (unsigned long long)e->at_ms, e->reasoning);
	print_hash(e->content_hash);
	printf("\n    prev ");
	print_hash(e->prev_hash);
	printf("\n    hash ");
	print_hash(e->hash);
	printf("\n");
	return 0;
}

static void read_mesh(lk_db *db)
{
	static const char *const cache[][2] = {
		{ "node-0", "node-1" }, { "node-0", "node-2" },
		{ "node-1", "node-2" },
	};
	static const char *const entities[] = { "node-0", "node-1", "node-2",
						"node-9" };
	lk_mesh *m = NULL;
	lk_mesh_stats ms;
	lk_mesh_chain_report cr;
	struct lines l = { { 0 }, 0 };
	lk_status st;

	CHECK_OK(lk_mesh_open(&m, db, NULL));
	CHECK_OK(lk_mesh_stats_get(&ms, m));
	printf("mesh: nodes %llu (started %llu), policies %llu, cache %llu, "
	       "ledger %llu entries of %llu entities, telemetry %llu\n",
	       (unsigned long long)ms.nodes,
	       (unsigned long long)ms.nodes_started,
	       (unsigned long long)ms.policies,
	       (unsigned long long)ms.cache_entries,
	       (unsigned long long)ms.ledger_entries,
	       (unsigned long long)ms.ledger_entities,
	       (unsigned long long)ms.telemetry_entries);
	CHECK_OK(lk_mesh_node_list(m, 0, on_node, &l));
	lines_print(&l);
	CHECK_OK(lk_mesh_policy_list(m, on_policy, &l));
	lines_print(&l);
	for (size_t i = 0; i < sizeof cache / sizeof cache[0]; i++) {
		char *bundle = NULL;
		size_t len = 0;

		st = lk_mesh_cache_get(&bundle, &len, m, cache[i][0],
				       cache[i][1], i == 1 ? 2 : 1);
		printf("  cache %s -> %s: %s", cache[i][0], cache[i][1],
		       lk_strerror(st));
		if (st == LK_OK) {
			printf(" ");
			print_bytes(bundle, len);
		} else {
			CHECK_ST(LK_NOT_FOUND, st);
		}
		printf("\n");
		lk_free(bundle);
	}
	for (size_t i = 0; i < sizeof entities / sizeof entities[0]; i++) {
		printf("  history %s:\n", entities[i]);
		st = lk_mesh_ledger_history(m, entities[i], on_entry, NULL);
		if (st != LK_OK) {
			CHECK_ST(LK_NOT_FOUND, st);
			printf("  (none)\n");
		}
	}
	memset(&cr, 0, sizeof cr);
	st = lk_mesh_ledger_verify_chain(&cr, m, NULL, NULL);
	printf("  chain: %s, %llu entries, broken at %llu%s%s\n",
	       lk_strerror(st), (unsigned long long)cr.entries,
	       (unsigned long long)cr.broken_position, cr.problem[0] ? ": " : "",
	       cr.problem);
	CHECK_OK(lk_mesh_close(m));
}

static int cmd_read(const char *dir)
{
	lk_options o = LK_OPTIONS_INIT;
	lk_recovery_report r = LK_REPORT_INIT;
	lk_stats s = LK_STATS_INIT;
	lk_segment_info seg[LK_SEGMENT_COUNT_MAX];
	size_t nseg = 0;
	lk_db *db = NULL;
	char name[LK_NS_NAME_BYTES_MAX + 1];

	atomic_store(&clock_ms, GOLDEN_READ_MS);
	o.io = golden_io();
	o.flags = LK_OPEN_READONLY;
	CHECK_OK(lk_open(&db, dir, &o));
	CHECK_OK(lk_recovery(&r, db));
	printf("open.segments_read: %u\n", r.segments_read);
	printf("open.records_replayed: %llu\n",
	       (unsigned long long)r.records_replayed);
	printf("open.records_discarded: %llu\n",
	       (unsigned long long)r.records_discarded);
	printf("open.bytes_cut: %llu\n", (unsigned long long)r.bytes_cut);
	printf("open.zero_tail_bytes: %llu\n",
	       (unsigned long long)r.zero_tail_bytes);
	printf("open.compaction_leftovers: %llu\n",
	       (unsigned long long)r.compaction_leftovers);
	printf("open.seq_last: %llu\n", (unsigned long long)r.seq_last);
	printf("open.snapshot_used: %d\n", r.snapshot_used);
	printf("open.snapshot_note: %s\n", r.snapshot_note);
	printf("open.tail_note: %s\n", r.tail_note);

	CHECK_OK(lk_stats_get(&s, db));
	printf("stats: segments %u, live_keys %llu, disk_bytes %llu, "
	       "live_bytes %llu, dead_bytes %llu, seq_last %llu\n",
	       s.segment_count, (unsigned long long)s.live_keys,
	       (unsigned long long)s.disk_bytes,
	       (unsigned long long)s.live_bytes,
	       (unsigned long long)s.dead_bytes,
	       (unsigned long long)s.seq_last);
	/* the totals come from the newest snapshot file (lk_stats v5) */
	printf("open.compactions_total: %llu, bytes read %llu, written %llu, "
	       "segments removed %llu, records dropped %llu\n",
	       (unsigned long long)s.compactions_total,
	       (unsigned long long)s.compact_bytes_read_total,
	       (unsigned long long)s.compact_bytes_written_total,
	       (unsigned long long)s.compact_segments_removed_total,
	       (unsigned long long)s.compact_records_dropped_total);
	printf("open.snapshot_serial: %llu\n",
	       (unsigned long long)s.snapshot_serial);
	printf("open.snapshot_behind_bytes: %llu\n",
	       (unsigned long long)s.snapshot_behind_bytes);

	seg[0].version = LK_SEGMENT_INFO_VERSION;
	CHECK_OK(lk_segment_list(seg, LK_SEGMENT_COUNT_MAX, &nseg, db));
	CHECK(nseg <= LK_SEGMENT_COUNT_MAX);
	for (size_t i = 0; i < nseg; i++)
		printf("segment %llu generation %u: %llu bytes, live %llu, "
		       "dead %llu%s\n", (unsigned long long)seg[i].seq,
		       seg[i].generation,
		       (unsigned long long)seg[i].disk_bytes,
		       (unsigned long long)seg[i].live_bytes,
		       (unsigned long long)seg[i].dead_bytes,
		       seg[i].sealed ? ", sealed" : "");

	for (uint32_t ns = 1; ns <= LK_NS_COUNT_MAX; ns++)
		if (lk_ns_name(name, sizeof name, db, ns) == LK_OK)
			read_ns(db, ns, name);
	if (lk_ns_find(&(uint32_t){ 0 }, db, "mesh.ledger") == LK_OK)
		read_mesh(db);
	CHECK_OK(lk_close(db));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "write") == 0)
		return cmd_write(argv[2]);
	if (argc == 3 && strcmp(argv[1], "read") == 0)
		return cmd_read(argv[2]);
	fprintf(stderr, "usage: golden_gen write|read DIR\n");
	return 2;
}
