/* SPDX-License-Identifier: MIT */
/*
 * crash_mesh.c - power cuts at every I/O call of mesh-layer workloads,
 * with the ledger's hash chain verified after every one (SPEC §9).
 *
 * Method.  A workload is a script of mesh operations (node creates and
 * updates, policy updates, ledger appends, telemetry flushes, transactions
 * across collections, no-sync cache sets, reopens).  It runs once on the
 * fault-injecting layer to count its I/O calls.  Then, for every call
 * number c and several reboot choices (keep every unsynced write, drop
 * every one, and seeded mixes of kept, dropped, torn, zeroed and garbled
 * writes): run the script with the machine stopping at call c, reboot,
 * reopen the database and the mesh strictly, and check:
 *
 *   - the ledger's chain verifies (lk_mesh_ledger_verify_chain), and its
 *     head's count is the sum of the entities' histories;
 *   - every acknowledged write is there: a created node, a node's last
 *     acknowledged routes count (or the one in flight at the cut), each
 *     entity's acknowledged entries (plus at most the one in flight), the
 *     policy's last acknowledged document (or the one in flight), the
 *     telemetry entries a flush acknowledged;
 *   - nothing that was never attempted: no entry, node or policy past the
 *     op in flight;
 *   - transactions are all or nothing: the node, the ledger entry and the
 *     policy a transaction wrote are all there or none is.
 *
 * The telemetry writer sleeps for an hour (its options), so every write
 * comes from the script's own calls, in the same order in every run; a
 * cut at call c replays exactly (`--replay WORKLOAD:CUT:CHOICE`).
 *
 * Usage: crash_mesh [--replay W:C:K]; LK_CRASH_SCALE=N makes 2 + 2N
 * reboot choices per cut (default 4).  Ends with
 *   mesh crash states: N, workloads: W, violations: 0
 * and exits non-zero on any violation.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_fault.h"
#include "logkeep.h"
#include "logkeep_mesh.h"
#include "mesh_examples.h"

#define DIR "/mesh"
#define OPS_MAX 256
#define NODES 4
#define ENTITIES 3
#define TXNS 8

enum op_kind {
	OP_NODE_CREATE,  /* node a: create */
	OP_NODE_UPDATE,  /* node a: routes = b */
	OP_POLICY_PUT,   /* policy "p": example b */
	OP_LEDGER_SAVE,  /* entity a: status b (always a change) */
	OP_TXN,          /* transaction a: node, ledger entry, policy "t<a>" */
	OP_TELEMETRY,    /* b entries recorded, then a flush */
	OP_CACHE_SET,    /* no-sync: no promise but a clean open */
	OP_REOPEN,       /* close everything and open again */
};

struct op {
	enum op_kind kind;
	int a, b;
};

struct script {
	const char *name;
	struct op ops[OPS_MAX];
	int n;
};

/* What the script got done before the cut. */
struct outcome {
	int acked;          /* ops 0..acked-1 returned LK_OK */
	int stopped;        /* 1: op `acked` failed (was in flight) */
};

static void add(struct script *s, enum op_kind k, int a, int b)
{
	if (s->n == OPS_MAX)
		abort();
	s->ops[s->n++] = (struct op){ k, a, b };
}

static void build_mixed(struct script *s)
{
	s->name = "mesh-mixed";
	for (int i = 0; i < NODES; i++)
		add(s, OP_NODE_CREATE, i, 0);
	for (int i = 0; i < 12; i++) {
		add(s, OP_NODE_UPDATE, i % NODES, i + 1);
		add(s, OP_LEDGER_SAVE, i % ENTITIES, i);
		if (i % 3 == 0)
			add(s, OP_POLICY_PUT, 0, i % 4);
		if (i % 4 == 1)
			add(s, OP_TELEMETRY, 0, 3);
		add(s, OP_CACHE_SET, i, 0);
		if (i == 6)
			add(s, OP_REOPEN, 0, 0);
	}
}

static void build_transactions(struct script *s)
{
	s->name = "mesh-transactions";
	add(s, OP_NODE_CREATE, 0, 0);
	for (int i = 0; i < TXNS; i++) {
		add(s, OP_TXN, i, 0);
		add(s, OP_LEDGER_SAVE, i % ENTITIES, i);
		if (i == 4)
			add(s, OP_REOPEN, 0, 0);
	}
	add(s, OP_TELEMETRY, 0, 5);
}

static void (*const builders[])(struct script *) = {
	build_mixed,
	build_transactions,
};
#define WORKLOADS (sizeof builders / sizeof builders[0])

/* ---------------------------------------------------------------------- */
/* Running                                                                */
/* ---------------------------------------------------------------------- */

struct env {
	struct fault_fs *fs;
	lk_db *db;
	lk_mesh *mesh;
	uint64_t telemetry_flushed; /* entries a flush acknowledged */
};

static lk_status env_open(struct env *e)
{
	lk_options o = LK_OPTIONS_INIT;
	lk_mesh_options mo = LK_MESH_OPTIONS_INIT;
	lk_status st;

	o.io = fault_io(e->fs);
	o.flags = LK_OPEN_CREATE;
	o.compact_dead_pct = 0;
	o.scrub_rate_bytes = 0;
	o.snapshot_every_bytes = 0;
	o.reserve_bytes = 64 * 1024;
	mo.telemetry_flush_ms = 3600u * 1000u;
	mo.telemetry_batch_max = 256;
	e->db = NULL;
	e->mesh = NULL;
	st = lk_open(&e->db, DIR, &o);
	if (st != LK_OK)
		return st;
	st = lk_mesh_open(&e->mesh, e->db, &mo);
	if (st != LK_OK) {
		(void)lk_close(e->db);
		e->db = NULL;
	}
	return st;
}

static void env_close(struct env *e)
{
	if (e->mesh)
		(void)lk_mesh_close(e->mesh);
	if (e->db)
		(void)lk_close(e->db);
	e->mesh = NULL;
	e->db = NULL;
}

static void name_of(char *buf, size_t cap, const char *prefix, int i)
{
	snprintf(buf, cap, "%s%d", prefix, i);
}

static const char *const statuses[] = { "s0", "s1", "s2", "s3", "s4", "s5",
					"s6", "s7", "s8", "s9", "s10",
					"s11" };

static lk_status run_op(struct env *e, const struct op *op)
{
	static const char *const ifs[] = { "eth0" };
	char id[32];
	lk_mesh_node n = { 0 };
	lk_mesh_attr a = { "k", "v" };

	switch (op->kind) {
	case OP_NODE_CREATE:
		name_of(id, sizeof id, "node", op->a);
		n.id = id;
		n.interfaces = ifs;
		n.interface_count = 1;
		return lk_mesh_node_create(e->mesh, &n);
	case OP_NODE_UPDATE:
		name_of(id, sizeof id, "node", op->a);
		n.routes_discovered = (uint64_t)op->b;
		return lk_mesh_node_update(e->mesh, id, &n,
					   LK_MESH_NODE_ROUTES);
	case OP_POLICY_PUT: {
		const char *y = mesh_example_policies[op->b].yaml;

		return lk_mesh_policy_put(e->mesh, "p", y, strlen(y));
	}
	case OP_LEDGER_SAVE:
		name_of(id, sizeof id, "e", op->a);
		return lk_mesh_ledger_save(e->mesh, id, statuses[op->b % 12],
					   "actor", "step", &a, 1, NULL);
	case OP_TXN: {
		lk_mesh_txn *t;
		const char *y = mesh_example_policies[op->a % 4].yaml;
		lk_status st;

		name_of(id, sizeof id, "t", op->a);
		n.id = id;
		st = lk_mesh_txn_begin(&t, e->mesh);
		if (st != LK_OK)
			return st;
		(void)lk_mesh_txn_node_create(t, &n);
		(void)lk_mesh_txn_ledger_save(t, id, "registered", "actor",
					      "txn", &a, 1);
		(void)lk_mesh_txn_policy_put(t, id, y, strlen(y));
		return lk_mesh_txn_commit(t);
	}
	case OP_TELEMETRY: {
		lk_status st;

		for (int i = 0; i < op->b; i++) {
			st = lk_mesh_telemetry_record(
				e->mesh, LK_MESH_TELEMETRY_EVENT, "src", "msg");
			if (st != LK_OK)
				return st;
		}
		st = lk_mesh_telemetry_flush(e->mesh);
		if (st == LK_OK)
			e->telemetry_flushed += (uint64_t)op->b;
		return st;
	}
	case OP_CACHE_SET:
		return lk_mesh_cache_set(e->mesh, "a", "b", (uint32_t)op->a,
					 "bundle", 6, 60);
	case OP_REOPEN:
		env_close(e);
		return env_open(e);
	}
	return LK_INVALID;
}

/* Runs the script until an op fails (the cut) or it ends. */
static struct outcome run_script(struct env *e, const struct script *s)
{
	struct outcome out = { 0, 0 };
	lk_status st = env_open(e);

	if (st != LK_OK) {
		out.stopped = 1; /* the open was in flight: op 0 not begun */
		out.acked = -1;
		return out;
	}
	for (int i = 0; i < s->n; i++) {
		st = run_op(e, &s->ops[i]);
		if (st != LK_OK) {
			out.acked = i;
			out.stopped = 1;
			return out;
		}
	}
	out.acked = s->n;
	return out;
}

/* ---------------------------------------------------------------------- */
/* Checking                                                               */
/* ---------------------------------------------------------------------- */

static uint64_t violations, states;
static const char *where_w;
static uint64_t where_c;
static int where_k;

static void violation(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void violation(const char *fmt, ...)
{
	va_list ap;

	violations++;
	fprintf(stderr, "VIOLATION (replay with --replay %s:%" PRIu64 ":%d): ",
		where_w, where_c, where_k);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int count_entries(void *arg, const lk_mesh_entry *e)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

static int history_len(lk_mesh *m, const char *entity)
{
	int n = 0;
	lk_status st = lk_mesh_ledger_history(m, entity, count_entries, &n);

	if (st != LK_OK && st != LK_NOT_FOUND)
		violation("history of %s: %s: %s", entity, lk_strerror(st),
			  lk_errmsg());
	return n;
}

static int exists_node(lk_mesh *m, const char *id, uint64_t *routes)
{
	lk_mesh_node *n;
	lk_status st = lk_mesh_node_get(&n, m, id);

	if (st == LK_OK) {
		if (routes)
			*routes = n->routes_discovered;
		lk_free(n);
		return 1;
	}
	if (st != LK_NOT_FOUND)
		violation("node %s: %s: %s", id, lk_strerror(st), lk_errmsg());
	return 0;
}

static int policy_is(lk_mesh *m, const char *id, int *example)
{
	lk_mesh_policy *p;
	lk_status st = lk_mesh_policy_get(&p, m, id);

	*example = -1;
	if (st == LK_NOT_FOUND)
		return 0;
	if (st != LK_OK) {
		violation("policy %s: %s: %s", id, lk_strerror(st), lk_errmsg());
		return 0;
	}
	for (int i = 0; i < 4; i++)
		if (strcmp(p->yaml, mesh_example_policies[i].yaml) == 0)
			*example = i;
	lk_free(p);
	return 1;
}

/* The state after the cut against what the script got done. */
static void check(const struct script *s, const struct outcome *o,
		  struct env *e)
{
	lk_mesh_chain_report rep;
	lk_mesh_stats ms;
	lk_status st;
	int done = o->acked < 0 ? 0 : o->acked;
	const struct op *flight = o->stopped && o->acked >= 0 &&
					  o->acked < s->n
					  ? &s->ops[o->acked]
					  : NULL;
	int hist_total = 0;

	st = lk_mesh_ledger_verify_chain(&rep, e->mesh, NULL, NULL);
	if (st != LK_OK)
		violation("ledger chain: %s: %s", lk_strerror(st), lk_errmsg());
	/* nodes: created if acknowledged; routes the last acknowledged
	 * value or the one in flight */
	for (int i = 0; i < NODES; i++) {
		char id[32];
		int created = 0, may = 0;
		uint64_t want = 0, routes = 0, alt = UINT64_MAX;

		name_of(id, sizeof id, "node", i);
		for (int k = 0; k < done; k++)
			if (s->ops[k].a == i && s->ops[k].kind == OP_NODE_CREATE)
				created = 1;
			else if (s->ops[k].a == i &&
				 s->ops[k].kind == OP_NODE_UPDATE)
				want = (uint64_t)s->ops[k].b;
		if (flight && flight->a == i &&
		    flight->kind == OP_NODE_CREATE)
			may = 1;
		if (flight && flight->a == i && flight->kind == OP_NODE_UPDATE)
			alt = (uint64_t)flight->b;
		if (exists_node(e->mesh, id, &routes)) {
			if (!created && !may)
				violation("node %s exists, never acknowledged",
					  id);
			if (routes != want && routes != alt)
				violation("node %s: routes %" PRIu64
					  ", want %" PRIu64,
					  id, routes, want);
		} else if (created) {
			violation("acknowledged node %s is lost", id);
		}
	}
	/* ledger: each entity's acknowledged entries, plus at most one */
	for (int i = 0; i < ENTITIES; i++) {
		char id[32];
		int want = 0, got;

		name_of(id, sizeof id, "e", i);
		for (int k = 0; k < done; k++)
			want += s->ops[k].kind == OP_LEDGER_SAVE &&
				s->ops[k].a == i;
		got = history_len(e->mesh, id);
		hist_total += got;
		if (got < want ||
		    got > want + (flight && flight->kind == OP_LEDGER_SAVE &&
				  flight->a == i))
			violation("entity %s: %d entries, acknowledged %d", id,
				  got, want);
	}
	/* the policy: last acknowledged document, or the one in flight */
	{
		int want = -1, ex;

		for (int k = 0; k < done; k++)
			if (s->ops[k].kind == OP_POLICY_PUT)
				want = s->ops[k].b;
		if (!policy_is(e->mesh, "p", &ex))
			ex = -1;
		if (ex != want && !(flight && flight->kind == OP_POLICY_PUT &&
				    ex == flight->b))
			violation("policy p is example %d, want %d", ex, want);
	}
	/* transactions: all or nothing, and acknowledged ones whole */
	for (int i = 0; i < TXNS; i++) {
		char id[32];
		int acked = 0, inflight = 0, node, pol, ex, hist;

		name_of(id, sizeof id, "t", i);
		for (int k = 0; k < done; k++)
			acked |= s->ops[k].kind == OP_TXN && s->ops[k].a == i;
		inflight = flight && flight->kind == OP_TXN && flight->a == i;
		node = exists_node(e->mesh, id, NULL);
		pol = policy_is(e->mesh, id, &ex);
		hist = history_len(e->mesh, id);
		hist_total += hist;
		if (node != pol || node != (hist == 1) || hist > 1)
			violation("transaction %s torn: node %d, policy %d, "
				  "entries %d",
				  id, node, pol, hist);
		if (acked && !node)
			violation("acknowledged transaction %s is lost", id);
		if (!acked && !inflight && node)
			violation("transaction %s exists, never attempted", id);
	}
	st = lk_mesh_stats_get(&ms, e->mesh);
	if (st != LK_OK)
		violation("stats: %s: %s", lk_strerror(st), lk_errmsg());
	else if (ms.ledger_entries != (uint64_t)hist_total)
		violation("ledger head counts %" PRIu64 " entries, histories %d",
			  ms.ledger_entries, hist_total);
	else if (ms.telemetry_entries < e->telemetry_flushed)
		violation("telemetry: %" PRIu64 " stored, %" PRIu64
			  " flushed", ms.telemetry_entries,
			  e->telemetry_flushed);
}

/* Reboot choices per cut: keep all, drop all, and 2 x LK_CRASH_SCALE
 * seeded mixes (the crash explorer's scale: 1 in `meson test`, 6 in CI). */
static int choices = 4;

static void one_cut(const struct script *s, size_t w, uint64_t cut, int k)
{
	struct env e = { 0 };
	struct outcome o;
	enum fault_mode mode = k == 0 ? FAULT_KEEP_ALL
			       : k == 1 ? FAULT_DROP_ALL
					: FAULT_RANDOM;
	uint64_t seed = cut * 131 + (uint64_t)k * 7 + w;
	lk_status st;

	where_w = s->name;
	where_c = cut;
	where_k = k;
	if (fault_new(&e.fs, seed) != LK_OK)
		abort();
	fault_cut_at(e.fs, cut);
	o = run_script(&e, s);
	env_close(&e);
	fault_reboot(e.fs, mode, seed, NULL);
	states++;
	st = env_open(&e);
	if (st != LK_OK) {
		violation("open after the cut: %s: %s", lk_strerror(st),
			  lk_errmsg());
	} else {
		check(s, &o, &e);
		env_close(&e);
	}
	fault_free(e.fs);
}

static uint64_t count_calls(const struct script *s)
{
	struct env e = { 0 };
	struct outcome o;
	uint64_t calls;

	if (fault_new(&e.fs, 1) != LK_OK)
		abort();
	o = run_script(&e, s);
	if (o.stopped) {
		fprintf(stderr, "%s fails without a cut at op %d: %s\n",
			s->name, o.acked, lk_errmsg());
		exit(1);
	}
	env_close(&e);
	calls = fault_calls(e.fs, FK_ANY);
	fault_free(e.fs);
	return calls;
}

int main(int argc, char **argv)
{
	static struct script scripts[WORKLOADS];

	const char *scale = getenv("LK_CRASH_SCALE");

	if (scale && atoi(scale) > 0 && atoi(scale) <= 100)
		choices = 2 + 2 * atoi(scale);
	for (size_t w = 0; w < WORKLOADS; w++)
		builders[w](&scripts[w]);
	if (argc == 3 && strcmp(argv[1], "--replay") == 0) {
		char name[64];
		uint64_t cut;
		int k;

		if (sscanf(argv[2], "%63[^:]:%" SCNu64 ":%d", name, &cut, &k) !=
		    3)
			return 2;
		for (size_t w = 0; w < WORKLOADS; w++)
			if (strcmp(scripts[w].name, name) == 0)
				one_cut(&scripts[w], w, cut, k);
		printf("violations: %" PRIu64 "\n", violations);
		return violations != 0;
	}
	for (size_t w = 0; w < WORKLOADS; w++) {
		uint64_t calls = count_calls(&scripts[w]);

		for (uint64_t c = 1; c <= calls + 1; c++)
			for (int k = 0; k < choices; k++)
				one_cut(&scripts[w], w, c, k);
		printf("%s: %d ops, %" PRIu64 " I/O calls, %" PRIu64
		       " states so far\n",
		       scripts[w].name, scripts[w].n, calls, states);
	}
	printf("mesh crash states: %" PRIu64 ", workloads: %zu, violations: %"
	       PRIu64 "\n",
	       states, WORKLOADS, violations);
	return violations != 0;
}
