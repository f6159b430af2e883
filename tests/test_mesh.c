/* SPDX-License-Identifier: MIT */
/*
 * test_mesh.c - the mesh layer's nodes, policies, path cache,
 * transactions and utilities (logkeep_mesh.h): the predecessors' storage
 * test suite (seeds/000, 33 cases) as C tests against this layer, each
 * named after the case it covers, plus what they did not test: 8 threads
 * creating the same 1,000 nodes, rejected policy documents, no-sync cache
 * writes.
 *
 * Where a case has no C meaning: the two "performance" cases (100 node
 * inserts < 10 s, 100 queries < 0.2 s) are figures of bench/mesh_bench.c,
 * never timed here; "global instance (singleton)" becomes the rule that
 * replaced it - one writer per data directory, the second open refused
 * with LK_BUSY (test_singleton_replaced_by_the_directory_lock).
 *
 * Method: the fault-injecting I/O layer, whose wall clock the test sets
 * (fault_set_time_ms), so TTLs expire without sleeping; power cuts and
 * reopens are the layer's.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io_fault.h"
#include "logkeep_mesh.h"
#include "mesh_examples.h"
#include "testutil.h"

#define DIR "/mesh"
#define T0 UINT64_C(1800000000000)

static struct fault_fs *fs;
static lk_db *db;
static lk_mesh *mesh;

static lk_options options(void)
{
	lk_options o = test_options(fault_io(fs));

	o.flags = LK_OPEN_CREATE;
	return o;
}

static void open_all(void)
{
	lk_options o = options();

	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_mesh_open(&mesh, db, NULL));
}

static void close_all(void)
{
	CHECK_OK(lk_mesh_close(mesh));
	CHECK_OK(lk_close(db));
	mesh = NULL;
	db = NULL;
}

static int setup(void **state)
{
	(void)state;
	CHECK_OK(fault_new(&fs, 5));
	fault_set_time_ms(fs, T0);
	open_all();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (mesh)
		close_all();
	fault_free(fs);
	return 0;
}

static const char *const eth[] = { "eth0", "wlan0" };
static const char *const protos[] = { "batman-adv", "babel" };

static lk_status create(const char *id, int started)
{
	lk_mesh_node n = { 0 };

	n.id = id;
	n.interfaces = eth;
	n.interface_count = 2;
	n.protocols = protos;
	n.protocol_count = 2;
	n.started = started;
	return lk_mesh_node_create(mesh, &n);
}

static const char *policy_yaml(size_t i)
{
	return mesh_example_policies[i].yaml;
}

/* ---------------------------------------------------------------------- */
/* 1. Node operations                                                     */
/* ---------------------------------------------------------------------- */

static void test_create_node(void **state)
{
	lk_mesh_node *n;

	(void)state;
	CHECK_OK(create("node-1", 0));
	CHECK_OK(lk_mesh_node_get(&n, mesh, "node-1"));
	CHECK(strcmp(n->id, "node-1") == 0);
	CHECK(n->interface_count == 2 && strcmp(n->interfaces[1], "wlan0") == 0);
	CHECK(n->protocol_count == 2 && strcmp(n->protocols[0], "batman-adv") == 0);
	CHECK(n->started == 0 && n->routes_discovered == 0);
	CHECK(n->created_at_ms == T0 && n->updated_at_ms == T0);
	lk_free(n);
}

static void test_duplicate_node_fails(void **state)
{
	lk_mesh_node *n;

	(void)state;
	CHECK_OK(create("node-1", 0));
	fault_set_time_ms(fs, T0 + 5000);
	CHECK_ST(LK_EXISTS, create("node-1", 1));
	CHECK(strstr(lk_errmsg(), "node-1") != NULL);
	/* the first one stands, untouched */
	CHECK_OK(lk_mesh_node_get(&n, mesh, "node-1"));
	CHECK(n->started == 0 && n->created_at_ms == T0);
	lk_free(n);
}

static void test_get_node(void **state)
{
	lk_mesh_node *n;

	(void)state;
	CHECK_OK(create("node-a", 1));
	CHECK_OK(create("node-b", 0));
	CHECK_OK(lk_mesh_node_get(&n, mesh, "node-b"));
	CHECK(strcmp(n->id, "node-b") == 0 && n->started == 0);
	lk_free(n);
}

static void test_get_nonexistent_node(void **state)
{
	lk_mesh_node *n = (lk_mesh_node *)1;

	(void)state;
	CHECK_ST(LK_NOT_FOUND, lk_mesh_node_get(&n, mesh, "nope"));
	CHECK(n == NULL);
}

struct collect {
	int count;
	char ids[16][32];
};

static int collect_node(void *arg, const lk_mesh_node *n)
{
	struct collect *c = arg;

	if (c->count < 16)
		snprintf(c->ids[c->count], sizeof c->ids[0], "%s", n->id);
	c->count++;
	return 0;
}

static int has_id(const struct collect *c, const char *id)
{
	for (int i = 0; i < c->count && i < 16; i++)
		if (strcmp(c->ids[i], id) == 0)
			return 1;
	return 0;
}

/* node-0 .. node-4, the odd ones started. */
static void create_five(void)
{
	for (int i = 0; i < 5; i++) {
		char id[16];

		snprintf(id, sizeof id, "node-%d", i);
		CHECK_OK(create(id, i % 2));
	}
}

static void test_list_all_nodes(void **state)
{
	struct collect c = { 0 };

	(void)state;
	create_five();
	CHECK_OK(lk_mesh_node_list(mesh, 0, collect_node, &c));
	assert_int_equal(c.count, 5);
	CHECK(has_id(&c, "node-0") && has_id(&c, "node-4"));
}

static void test_list_started_nodes_only(void **state)
{
	struct collect c = { 0 };

	(void)state;
	create_five();
	CHECK_OK(lk_mesh_node_list(mesh, 1, collect_node, &c));
	assert_int_equal(c.count, 2);
	CHECK(has_id(&c, "node-1") && has_id(&c, "node-3"));
}

static void test_update_node_fields(void **state)
{
	static const char *const one[] = { "eth1" };
	lk_mesh_node from = { 0 }, *n;

	(void)state;
	CHECK_OK(create("node-1", 0));
	fault_set_time_ms(fs, T0 + 1234);
	from.started = 1;
	from.routes_discovered = 42;
	from.interfaces = one;
	from.interface_count = 1;
	CHECK_OK(lk_mesh_node_update(mesh, "node-1", &from,
				     LK_MESH_NODE_STARTED | LK_MESH_NODE_ROUTES));
	CHECK_OK(lk_mesh_node_get(&n, mesh, "node-1"));
	CHECK(n->started == 1 && n->routes_discovered == 42);
	/* fields not selected stay */
	CHECK(n->interface_count == 2 && n->protocol_count == 2);
	CHECK(n->created_at_ms == T0 && n->updated_at_ms == T0 + 1234);
	lk_free(n);
	CHECK_OK(lk_mesh_node_update(mesh, "node-1", &from,
				     LK_MESH_NODE_INTERFACES));
	CHECK_OK(lk_mesh_node_get(&n, mesh, "node-1"));
	CHECK(n->interface_count == 1 && strcmp(n->interfaces[0], "eth1") == 0);
	/* updated_at moves even when the clock did not */
	CHECK(n->updated_at_ms > T0 + 1234);
	lk_free(n);
	CHECK_ST(LK_INVALID,
		 lk_mesh_node_update(mesh, "node-1", &from, 0x100));
}

static void test_update_nonexistent_node(void **state)
{
	lk_mesh_node from = { 0 };
	struct collect c = { 0 };

	(void)state;
	from.started = 1;
	CHECK_ST(LK_NOT_FOUND, lk_mesh_node_update(mesh, "ghost", &from,
						   LK_MESH_NODE_STARTED));
	CHECK_OK(lk_mesh_node_list(mesh, 0, collect_node, &c));
	assert_int_equal(c.count, 0);
}

static void test_delete_node(void **state)
{
	lk_mesh_node *n;

	(void)state;
	CHECK_OK(create("node-1", 0));
	CHECK_OK(lk_mesh_node_delete(mesh, "node-1"));
	CHECK_ST(LK_NOT_FOUND, lk_mesh_node_get(&n, mesh, "node-1"));
	/* deleting again: not found (the predecessors returned False) */
	CHECK_ST(LK_NOT_FOUND, lk_mesh_node_delete(mesh, "node-1"));
	/* and the id can be created again */
	CHECK_OK(create("node-1", 1));
}

/* ---------------------------------------------------------------------- */
/* 2. Policy operations                                                   */
/* ---------------------------------------------------------------------- */

static void test_create_policy(void **state)
{
	lk_mesh_policy *p;

	(void)state;
	for (size_t i = 0; i < mesh_example_policy_count; i++) {
		const struct mesh_example_policy *e = &mesh_example_policies[i];

		CHECK_OK(lk_mesh_policy_create(mesh, e->id, e->yaml,
					       strlen(e->yaml)));
		CHECK_OK(lk_mesh_policy_get(&p, mesh, e->id));
		assert_int_equal(p->rules_count, e->rules);
		CHECK(p->yaml_len == strlen(e->yaml) &&
		      strcmp(p->yaml, e->yaml) == 0);
		CHECK(p->created_at_ms == T0 && p->updated_at_ms == T0);
		lk_free(p);
	}
}

static void test_duplicate_policy_fails(void **state)
{
	lk_mesh_policy *p;

	(void)state;
	CHECK_OK(lk_mesh_policy_create(mesh, "p", policy_yaml(0),
				       strlen(policy_yaml(0))));
	CHECK_ST(LK_EXISTS, lk_mesh_policy_create(mesh, "p", policy_yaml(1),
						  strlen(policy_yaml(1))));
	CHECK_OK(lk_mesh_policy_get(&p, mesh, "p"));
	CHECK(strcmp(p->yaml, policy_yaml(0)) == 0);
	lk_free(p);
}

static void test_get_policy(void **state)
{
	lk_mesh_policy *p;

	(void)state;
	CHECK_OK(lk_mesh_policy_create(mesh, "a", policy_yaml(0),
				       strlen(policy_yaml(0))));
	CHECK_OK(lk_mesh_policy_create(mesh, "b", policy_yaml(1),
				       strlen(policy_yaml(1))));
	CHECK_OK(lk_mesh_policy_get(&p, mesh, "b"));
	CHECK(strcmp(p->id, "b") == 0 && p->rules_count == 2);
	lk_free(p);
}

static void test_get_nonexistent_policy(void **state)
{
	lk_mesh_policy *p = (lk_mesh_policy *)1;

	(void)state;
	CHECK_ST(LK_NOT_FOUND, lk_mesh_policy_get(&p, mesh, "none"));
	CHECK(p == NULL);
}

static int count_policy(void *arg, const lk_mesh_policy *p)
{
	(void)p;
	(*(int *)arg)++;
	return 0;
}

static void test_list_policies(void **state)
{
	int n = 0;

	(void)state;
	for (size_t i = 0; i < mesh_example_policy_count; i++)
		CHECK_OK(lk_mesh_policy_create(mesh,
					       mesh_example_policies[i].id,
					       policy_yaml(i),
					       strlen(policy_yaml(i))));
	CHECK_OK(lk_mesh_policy_list(mesh, count_policy, &n));
	assert_int_equal(n, (int)mesh_example_policy_count);
}

static void test_update_policy(void **state)
{
	lk_mesh_policy *p;

	(void)state;
	CHECK_OK(lk_mesh_policy_create(mesh, "p", policy_yaml(0),
				       strlen(policy_yaml(0))));
	fault_set_time_ms(fs, T0 + 777);
	CHECK_OK(lk_mesh_policy_update(mesh, "p", policy_yaml(1),
				       strlen(policy_yaml(1))));
	CHECK_OK(lk_mesh_policy_get(&p, mesh, "p"));
	CHECK(strcmp(p->yaml, policy_yaml(1)) == 0);
	CHECK(p->rules_count == mesh_example_policies[1].rules);
	CHECK(p->created_at_ms == T0 && p->updated_at_ms == T0 + 777);
	lk_free(p);
}

static void test_update_nonexistent_policy(void **state)
{
	lk_mesh_policy *p;

	(void)state;
	CHECK_ST(LK_NOT_FOUND, lk_mesh_policy_update(mesh, "p", policy_yaml(0),
						     strlen(policy_yaml(0))));
	CHECK_ST(LK_NOT_FOUND, lk_mesh_policy_get(&p, mesh, "p"));
}

static void test_delete_policy(void **state)
{
	lk_mesh_policy *p;

	(void)state;
	CHECK_OK(lk_mesh_policy_create(mesh, "p", policy_yaml(0),
				       strlen(policy_yaml(0))));
	CHECK_OK(lk_mesh_policy_delete(mesh, "p"));
	CHECK_ST(LK_NOT_FOUND, lk_mesh_policy_get(&p, mesh, "p"));
}

static void test_delete_nonexistent_policy(void **state)
{
	(void)state;
	CHECK_ST(LK_NOT_FOUND, lk_mesh_policy_delete(mesh, "p"));
}

/* Not in the predecessors' suite, which took rules_count from the caller:
 * a bad document is rejected with line and column and writes nothing. */
static void test_rejected_policy_names_line_and_column(void **state)
{
	static const struct {
		const char *yaml;
		uint32_t line, column;
		const char *problem;
	} bad[] = {
		{ "rules:\n  - action: allow\n  - [unclosed\n", 4, 1,
		  "did not find expected" },
		{ "name: x\nrules: 3\n", 2, 8, "`rules` is not a sequence" },
		{ "name: x\npriority: 1\n", 3, 1, "no top-level `rules`" },
		{ "- a\n- b\n", 1, 1, "not a mapping" },
		{ "", 1, 1, "empty document" },
		{ "rules: []\n---\nrules: []\n", 2, 1, "one YAML document" },
		{ "rules:\n\t- tab\n", 2, 1, "" },
		{ "rules: [a]\nrules: [b]\n", 2, 1, "a second `rules`" },
	};
	lk_mesh_yaml_error err;
	lk_mesh_policy *p;
	uint32_t rules;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_ST(LK_INVALID,
			 lk_mesh_policy_check(&rules, bad[i].yaml,
					      strlen(bad[i].yaml), &err));
		print_message("  case %zu: line %u column %u: %s\n", i,
			      err.line, err.column, err.problem);
		assert_int_equal(err.line, bad[i].line);
		assert_int_equal(err.column, bad[i].column);
		CHECK(strstr(err.problem, bad[i].problem) != NULL);
		CHECK_ST(LK_INVALID,
			 lk_mesh_policy_create(mesh, "p", bad[i].yaml,
					       strlen(bad[i].yaml)));
		CHECK(strstr(lk_errmsg(), "line") != NULL);
		CHECK_ST(LK_NOT_FOUND, lk_mesh_policy_get(&p, mesh, "p"));
	}
	CHECK_OK(lk_mesh_policy_check(&rules, "rules: []\n", 10, NULL));
	assert_int_equal(rules, 0);
	CHECK_OK(lk_mesh_policy_check(&rules,
				      "rules:\n- {a: [1, 2]}\n- x\n- - y\n",
				      31, NULL));
	assert_int_equal(rules, 3);
}

/* ---------------------------------------------------------------------- */
/* 3. Path cache                                                          */
/* ---------------------------------------------------------------------- */

static void check_cache(const char *s, const char *d, uint32_t k,
			const char *want)
{
	char *b;
	size_t len;
	lk_status st = lk_mesh_cache_get(&b, &len, mesh, s, d, k);

	if (!want) {
		CHECK_ST(LK_NOT_FOUND, st);
		return;
	}
	CHECK_OK(st);
	CHECK(len == strlen(want) && strcmp(b, want) == 0);
	lk_free(b);
}

static void test_set_and_get_cache(void **state)
{
	static const char bundle[] = "{\"paths\": [[\"a\", \"b\", \"c\"]]}";

	(void)state;
	CHECK_OK(lk_mesh_cache_set(mesh, "a", "c", 3, bundle, strlen(bundle),
				   0));
	check_cache("a", "c", 3, bundle);
}

static void test_cache_expiration(void **state)
{
	(void)state;
	CHECK_OK(lk_mesh_cache_set(mesh, "a", "b", 1, "x", 1, 1));
	CHECK_OK(lk_mesh_cache_set(mesh, "a", "b", 2, "y", 1, 0)); /* 30 s */
	fault_set_time_ms(fs, T0 + 999);
	check_cache("a", "b", 1, "x");
	fault_set_time_ms(fs, T0 + 1000);
	check_cache("a", "b", 1, NULL);
	check_cache("a", "b", 2, "y");
	fault_set_time_ms(fs, T0 + 30000);
	check_cache("a", "b", 2, NULL);
}

static void test_cache_key_uniqueness(void **state)
{
	(void)state;
	CHECK_OK(lk_mesh_cache_set(mesh, "a", "b", 1, "ab1", 3, 0));
	CHECK_OK(lk_mesh_cache_set(mesh, "a", "b", 2, "ab2", 3, 0));
	CHECK_OK(lk_mesh_cache_set(mesh, "b", "a", 1, "ba1", 3, 0));
	/* parts never run into each other ("ab" + "c" is not "a" + "bc") */
	CHECK_OK(lk_mesh_cache_set(mesh, "ab", "c", 1, "ab-c", 4, 0));
	CHECK_OK(lk_mesh_cache_set(mesh, "a", "bc", 1, "a-bc", 4, 0));
	check_cache("a", "b", 1, "ab1");
	check_cache("a", "b", 2, "ab2");
	check_cache("b", "a", 1, "ba1");
	check_cache("ab", "c", 1, "ab-c");
	check_cache("a", "bc", 1, "a-bc");
	check_cache("a", "b", 3, NULL);
}

static void test_clear_expired_cache(void **state)
{
	uint64_t removed, keys;
	lk_mesh_stats s;

	(void)state;
	for (uint32_t k = 0; k < 10; k++)
		CHECK_OK(lk_mesh_cache_set(mesh, "s", "d", k, "b", 1,
					   k < 6 ? 1 : 60));
	fault_set_time_ms(fs, T0 + 2000);
	CHECK_OK(lk_mesh_cache_clear_expired(&removed, mesh));
	assert_int_equal(removed, 6);
	/* gone from the index too, not only hidden */
	CHECK_OK(lk_ns_find(&(uint32_t){ 0 }, db, "mesh.cache"));
	{
		uint32_t ns;

		CHECK_OK(lk_ns_find(&ns, db, "mesh.cache"));
		CHECK_OK(lk_ns_keys(&keys, db, ns));
		assert_int_equal(keys, 4);
	}
	CHECK_OK(lk_mesh_cache_clear_expired(&removed, mesh));
	assert_int_equal(removed, 0);
	CHECK_OK(lk_mesh_stats_get(&s, mesh));
	assert_int_equal(s.cache_entries, 4);
	check_cache("s", "d", 7, "b");
}

static void test_clear_all_cache(void **state)
{
	uint64_t removed;

	(void)state;
	for (uint32_t k = 0; k < 25; k++)
		CHECK_OK(lk_mesh_cache_set(mesh, "s", "d", k, "b", 1, 0));
	CHECK_OK(lk_mesh_cache_clear_all(&removed, mesh));
	assert_int_equal(removed, 25);
	for (uint32_t k = 0; k < 25; k++)
		check_cache("s", "d", k, NULL);
	CHECK_OK(lk_mesh_cache_clear_all(&removed, mesh));
	assert_int_equal(removed, 0);
}

static void test_cache_replacement(void **state)
{
	(void)state;
	CHECK_OK(lk_mesh_cache_set(mesh, "a", "b", 1, "old", 3, 1));
	CHECK_OK(lk_mesh_cache_set(mesh, "a", "b", 1, "new", 3, 10));
	check_cache("a", "b", 1, "new");
	/* the replacement's TTL counts, not the first one's */
	fault_set_time_ms(fs, T0 + 5000);
	check_cache("a", "b", 1, "new");
}

/* Not in the predecessors' suite: cache writes cost no fdatasync, node
 * writes one each; a power cut may take cache entries, never a node. */
static void test_cache_writes_are_nosync(void **state)
{
	uint64_t syncs;
	lk_mesh_node *n;

	(void)state;
	CHECK_OK(create("node-0", 1));
	syncs = fault_calls(fs, FK_SYNC);
	for (uint32_t k = 0; k < 200; k++)
		CHECK_OK(lk_mesh_cache_set(mesh, "a", "b", k, "bundle", 6, 0));
	assert_int_equal(fault_calls(fs, FK_SYNC), syncs);
	CHECK_OK(create("node-1", 1));
	assert_int_equal(fault_calls(fs, FK_SYNC), syncs + 1);
	CHECK_OK(lk_mesh_cache_set(mesh, "a", "b", 999, "late", 4, 0));
	fault_cut_at(fs, 1);
	(void)lk_mesh_close(mesh);
	(void)lk_close(db);
	fault_reboot(fs, FAULT_DROP_ALL, 0, NULL);
	open_all();
	CHECK_OK(lk_mesh_node_get(&n, mesh, "node-1"));
	lk_free(n);
	check_cache("a", "b", 199, "bundle"); /* synced by node-1's commit */
	check_cache("a", "b", 999, NULL);
}

/* ---------------------------------------------------------------------- */
/* 4. Transactions and integrity                                          */
/* ---------------------------------------------------------------------- */

static void test_transaction_rollback_on_error(void **state)
{
	lk_mesh_txn *t;
	lk_mesh_node n = { 0 }, *got;
	lk_mesh_policy *p;
	static const lk_mesh_attr attrs[] = { { "role", "relay" } };
	struct collect c = { 0 };

	(void)state;
	n.id = "node-9";
	/* a node, its ledger entry, and a policy whose YAML is bad */
	CHECK_OK(lk_mesh_txn_begin(&t, mesh));
	CHECK_OK(lk_mesh_txn_node_create(t, &n));
	CHECK_OK(lk_mesh_txn_ledger_save(t, "node-9", "registered", "admin",
					 "joined the mesh", attrs, 1));
	CHECK_ST(LK_INVALID, lk_mesh_txn_policy_put(t, "p", "rules: [", 8));
	CHECK_ST(LK_INVALID, lk_mesh_txn_commit(t));
	CHECK(strstr(lk_errmsg(), "policy line 2 column 1") != NULL);
	CHECK_ST(LK_NOT_FOUND, lk_mesh_node_get(&got, mesh, "node-9"));
	CHECK_ST(LK_NOT_FOUND, lk_mesh_policy_get(&p, mesh, "p"));
	CHECK_OK(lk_mesh_node_list(mesh, 0, collect_node, &c));
	assert_int_equal(c.count, 0);
	{
		lk_mesh_stats s;

		CHECK_OK(lk_mesh_stats_get(&s, mesh));
		assert_int_equal(s.ledger_entries, 0);
	}
	/* a node created meanwhile fails the whole transaction too */
	CHECK_OK(lk_mesh_txn_begin(&t, mesh));
	CHECK_OK(lk_mesh_txn_node_create(t, &n));
	CHECK_OK(lk_mesh_txn_policy_put(t, "p", policy_yaml(0),
					strlen(policy_yaml(0))));
	CHECK_OK(create("node-9", 1));
	CHECK_ST(LK_EXISTS, lk_mesh_txn_commit(t));
	CHECK_ST(LK_NOT_FOUND, lk_mesh_policy_get(&p, mesh, "p"));
	/* and the good one goes in whole */
	n.id = "node-10";
	CHECK_OK(lk_mesh_txn_begin(&t, mesh));
	CHECK_OK(lk_mesh_txn_node_create(t, &n));
	CHECK_OK(lk_mesh_txn_ledger_save(t, "node-10", "registered", "admin",
					 "joined", attrs, 1));
	CHECK_OK(lk_mesh_txn_policy_put(t, "p", policy_yaml(0),
					strlen(policy_yaml(0))));
	CHECK_OK(lk_mesh_txn_commit(t));
	CHECK_OK(lk_mesh_node_get(&got, mesh, "node-10"));
	lk_free(got);
	CHECK_OK(lk_mesh_policy_get(&p, mesh, "p"));
	lk_free(p);
	/* an explicit rollback writes nothing */
	CHECK_OK(lk_mesh_txn_begin(&t, mesh));
	n.id = "node-11";
	CHECK_OK(lk_mesh_txn_node_create(t, &n));
	lk_mesh_txn_rollback(t);
	CHECK_ST(LK_NOT_FOUND, lk_mesh_node_get(&got, mesh, "node-11"));
}

/* The predecessors' "concurrent access (WAL mode)", made the issue's
 * test: 8 threads create the same 1,000 node ids at once; each id is
 * created exactly once, every other attempt gets LK_EXISTS. */
#define RACERS 8
#define RACE_IDS 1000

struct racer {
	int who;
	int created, exists;
	uint8_t mine[RACE_IDS];
};

static void *race(void *arg)
{
	struct racer *r = arg;

	for (int j = 0; j < RACE_IDS; j++) {
		int i = (j + (r->who % 2) * RACE_IDS / 2) % RACE_IDS;
		char id[16];
		lk_status st;

		snprintf(id, sizeof id, "n%04d", i);
		st = create(id, r->who);
		if (st == LK_OK) {
			r->created++;
			r->mine[i] = 1;
		} else {
			CHECK_ST(LK_EXISTS, st);
			r->exists++;
		}
	}
	return NULL;
}

static void test_concurrent_access(void **state)
{
	static struct racer r[RACERS];
	pthread_t t[RACERS];
	int created = 0, exists = 0;

	(void)state;
	for (int i = 0; i < RACERS; i++) {
		memset(&r[i], 0, sizeof r[i]);
		r[i].who = i;
		CHECK(pthread_create(&t[i], NULL, race, &r[i]) == 0);
	}
	for (int i = 0; i < RACERS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	for (int i = 0; i < RACERS; i++) {
		created += r[i].created;
		exists += r[i].exists;
	}
	assert_int_equal(created, RACE_IDS);
	assert_int_equal(exists, (RACERS - 1) * RACE_IDS);
	for (int i = 0; i < RACE_IDS; i++) {
		char id[16];
		int owner = -1, owners = 0;
		lk_mesh_node *n;

		for (int k = 0; k < RACERS; k++)
			if (r[k].mine[i]) {
				owners++;
				owner = k;
			}
		assert_int_equal(owners, 1);
		snprintf(id, sizeof id, "n%04d", i);
		CHECK_OK(lk_mesh_node_get(&n, mesh, id));
		/* the stored node is its creator's (started = who) */
		CHECK(n->started == (owner != 0));
		lk_free(n);
	}
}

static void test_database_persistence_across_instances(void **state)
{
	lk_mesh_node *n;
	lk_mesh_policy *p;

	(void)state;
	CHECK_OK(create("node-1", 1));
	CHECK_OK(lk_mesh_policy_create(mesh, "p", policy_yaml(2),
				       strlen(policy_yaml(2))));
	CHECK_OK(lk_mesh_cache_set(mesh, "a", "b", 1, "bundle", 6, 60));
	close_all();
	open_all();
	CHECK_OK(lk_mesh_node_get(&n, mesh, "node-1"));
	CHECK(n->started == 1 && n->interface_count == 2);
	lk_free(n);
	CHECK_OK(lk_mesh_policy_get(&p, mesh, "p"));
	CHECK(p->rules_count == 3);
	lk_free(p);
	/* the cache survives a restart too: no cold start */
	check_cache("a", "b", 1, "bundle");
}

/* ---------------------------------------------------------------------- */
/* 5. Utilities                                                           */
/* ---------------------------------------------------------------------- */

static void test_get_stats(void **state)
{
	static const lk_mesh_attr a[] = { { "k", "v" } };
	lk_mesh_stats s;

	(void)state;
	CHECK_OK(create("n1", 1));
	CHECK_OK(create("n2", 0));
	CHECK_OK(create("n3", 1));
	CHECK_OK(lk_mesh_policy_create(mesh, "p", policy_yaml(0),
				       strlen(policy_yaml(0))));
	CHECK_OK(lk_mesh_cache_set(mesh, "a", "b", 1, "x", 1, 1));
	CHECK_OK(lk_mesh_cache_set(mesh, "a", "b", 2, "x", 1, 60));
	CHECK_OK(lk_mesh_ledger_save(mesh, "n1", "up", "me", "", a, 1, NULL));
	fault_set_time_ms(fs, T0 + 1500);
	CHECK_OK(lk_mesh_stats_get(&s, mesh));
	assert_int_equal(s.nodes, 3);
	assert_int_equal(s.nodes_started, 2);
	assert_int_equal(s.policies, 1);
	assert_int_equal(s.cache_entries, 1); /* active only */
	assert_int_equal(s.ledger_entries, 1);
	assert_int_equal(s.ledger_entities, 1);
	CHECK(s.disk_bytes > 0);
}

static void test_vacuum_database(void **state)
{
	lk_stats before = LK_STATS_INIT, after = LK_STATS_INIT;
	lk_options o = options();
	lk_mesh_node *n;

	(void)state;
	CHECK_OK(lk_mesh_close(mesh));
	CHECK_OK(lk_close(db));
	o.segment_size_bytes = 64 * 1024; /* segments to compact */
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_mesh_open(&mesh, db, NULL));
	for (int round = 0; round < 20; round++)
		for (int i = 0; i < 50; i++) {
			char id[16];

			snprintf(id, sizeof id, "node-%02d", i);
			if (round == 0)
				CHECK_OK(create(id, 0));
			else
				CHECK_OK(lk_mesh_node_update(
					mesh, id,
					&(lk_mesh_node){ .routes_discovered =
								 (uint64_t)round },
					LK_MESH_NODE_ROUTES));
		}
	CHECK_OK(lk_stats_get(&before, db));
	CHECK_OK(lk_mesh_vacuum(mesh));
	CHECK_OK(lk_stats_get(&after, db));
	print_message("vacuum: %llu -> %llu bytes on disk\n",
		      (unsigned long long)before.disk_bytes,
		      (unsigned long long)after.disk_bytes);
	CHECK(after.disk_bytes < before.disk_bytes);
	CHECK_OK(lk_mesh_node_get(&n, mesh, "node-49"));
	CHECK(n->routes_discovered == 19);
	lk_free(n);
}

static void test_backup_database(void **state)
{
	lk_options o = options();
	lk_db *copy;
	lk_mesh *cm;
	lk_mesh_node *n;

	(void)state;
	CHECK_OK(create("node-1", 1));
	CHECK_OK(lk_mesh_policy_create(mesh, "p", policy_yaml(3),
				       strlen(policy_yaml(3))));
	CHECK_OK(lk_mesh_backup(mesh, "/backup"));
	/* the copy is a mesh database of its own; restoring is opening it */
	o.flags = 0;
	CHECK_OK(lk_open(&copy, "/backup", &o));
	CHECK_OK(lk_mesh_open(&cm, copy, NULL));
	CHECK_OK(lk_mesh_node_get(&n, cm, "node-1"));
	lk_free(n);
	CHECK_OK(lk_mesh_close(cm));
	CHECK_OK(lk_close(copy));
	CHECK_ST(LK_EXISTS, lk_mesh_backup(mesh, "/backup"));
}

/* ---------------------------------------------------------------------- */
/* 7. Global instance                                                     */
/* ---------------------------------------------------------------------- */

static void test_singleton_replaced_by_the_directory_lock(void **state)
{
	lk_options o = options();
	lk_db *second;

	(void)state;
	/* The predecessors shared one MeshStorage per process; here one
	 * writer holds a data directory, and a second open is refused. */
	CHECK_ST(LK_BUSY, lk_open(&second, DIR, &o));
	o.flags = LK_OPEN_READONLY;
	CHECK_OK(lk_open(&second, DIR, &o)); /* readers may look */
	CHECK_OK(lk_close(second));
}

/* ---------------------------------------------------------------------- */
/* Regressions from the review of the mesh layer                          */
/* ---------------------------------------------------------------------- */

/* A second mesh on one database handle forked the ledger's chain (two
 * appenders, two locks) and reused telemetry ids: it is refused. */
static void test_second_mesh_on_one_handle_is_refused(void **state)
{
	lk_mesh *second = (lk_mesh *)1;

	(void)state;
	CHECK_ST(LK_BUSY, lk_mesh_open(&second, db, NULL));
	CHECK(second == NULL);
	CHECK_OK(lk_mesh_close(mesh));
	CHECK_OK(lk_mesh_open(&mesh, db, NULL)); /* free again once closed */
}

/* Every failed condition came back as LK_EXISTS with an empty message. */
static void test_failed_transaction_says_what_failed(void **state)
{
	lk_mesh_txn *t;

	(void)state;
	CHECK_OK(lk_mesh_txn_begin(&t, mesh));
	CHECK_OK(lk_mesh_txn_node_delete(t, "ghost"));
	CHECK_ST(LK_NOT_FOUND, lk_mesh_txn_commit(t));
	CHECK(strstr(lk_errmsg(), "node \"ghost\" not found") != NULL);
	CHECK_OK(lk_mesh_txn_begin(&t, mesh));
	CHECK_OK(lk_mesh_txn_node_create(
		t, &(lk_mesh_node){ .id = "n-1" }));
	CHECK_OK(create("n-1", 0));
	CHECK_ST(LK_EXISTS, lk_mesh_txn_commit(t));
	CHECK(strstr(lk_errmsg(), "node \"n-1\" exists") != NULL);
	/* a policy changed under a transaction: LK_CONFLICT, not EXISTS */
	CHECK_OK(lk_mesh_policy_create(mesh, "p", policy_yaml(0),
				       strlen(policy_yaml(0))));
	CHECK_OK(lk_mesh_txn_begin(&t, mesh));
	CHECK_OK(lk_mesh_txn_policy_put(t, "p", policy_yaml(1),
					strlen(policy_yaml(1))));
	CHECK_OK(lk_mesh_policy_update(mesh, "p", policy_yaml(2),
				       strlen(policy_yaml(2))));
	CHECK_ST(LK_CONFLICT, lk_mesh_txn_commit(t));
	CHECK(strstr(lk_errmsg(), "policy \"p\" changed") != NULL);
}

/* A collection as a mapping key made the next value read as a key, so a
 * document without a `rules` key passed. */
static void test_policy_with_a_collection_key_is_read_right(void **state)
{
	static const char doc[] = "? [a]\n: rules\n? [1, 2, 3]\n: x\n";
	static const char ok[] = "? [a]\n: x\nrules: [1, 2]\n";
	uint32_t rules = 7;

	(void)state;
	CHECK_ST(LK_INVALID, lk_mesh_policy_check(&rules, doc, strlen(doc),
						  NULL));
	CHECK_OK(lk_mesh_policy_check(&rules, ok, strlen(ok), NULL));
	assert_int_equal(rules, 2);
}

/* Bytes that are not UTF-8 made the tool's YAML output fail whole; the
 * layer refuses them (bundles stay opaque bytes). */
static void test_strings_must_be_utf8(void **state)
{
	lk_mesh_node n = { .id = "caf\xe9" };
	lk_mesh_yaml_error err;
	uint32_t rules;
	static const char bad_doc[] = "rules:\n  - \xff\n";

	(void)state;
	CHECK_ST(LK_INVALID, lk_mesh_node_create(mesh, &n));
	CHECK(strstr(lk_errmsg(), "not UTF-8") != NULL);
	n.id = "caf\xc3\xa9"; /* the same, in UTF-8 */
	CHECK_OK(lk_mesh_node_create(mesh, &n));
	CHECK_ST(LK_INVALID, lk_mesh_ledger_save(mesh, "e", "s", "a",
						 "\xed\xa0\x80", NULL, 0,
						 NULL)); /* a surrogate */
	CHECK_OK(lk_mesh_cache_set(mesh, "a", "b", 1, "\xff\xfe", 2, 0));
	/* libyaml's reader error has only an offset: its line is right */
	CHECK_ST(LK_INVALID, lk_mesh_policy_check(&rules, bad_doc,
						  strlen(bad_doc), &err));
	assert_int_equal(err.line, 2);
	{
		static char big[5000];

		memset(big, 'x', sizeof big - 1);
		CHECK_ST(LK_TOO_BIG,
			 lk_mesh_capture_error(mesh, "c", "E", big));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_create_node),
		T(test_duplicate_node_fails),
		T(test_get_node),
		T(test_get_nonexistent_node),
		T(test_list_all_nodes),
		T(test_list_started_nodes_only),
		T(test_update_node_fields),
		T(test_update_nonexistent_node),
		T(test_delete_node),
		T(test_create_policy),
		T(test_duplicate_policy_fails),
		T(test_get_policy),
		T(test_get_nonexistent_policy),
		T(test_list_policies),
		T(test_update_policy),
		T(test_update_nonexistent_policy),
		T(test_delete_policy),
		T(test_delete_nonexistent_policy),
		T(test_rejected_policy_names_line_and_column),
		T(test_set_and_get_cache),
		T(test_cache_expiration),
		T(test_cache_key_uniqueness),
		T(test_clear_expired_cache),
		T(test_clear_all_cache),
		T(test_cache_replacement),
		T(test_cache_writes_are_nosync),
		T(test_transaction_rollback_on_error),
		T(test_concurrent_access),
		T(test_database_persistence_across_instances),
		T(test_get_stats),
		T(test_vacuum_database),
		T(test_backup_database),
		T(test_singleton_replaced_by_the_directory_lock),
		T(test_second_mesh_on_one_handle_is_refused),
		T(test_failed_transaction_says_what_failed),
		T(test_policy_with_a_collection_key_is_read_right),
		T(test_strings_must_be_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
