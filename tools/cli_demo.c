/* SPDX-License-Identifier: MIT */
/*
 * cli_demo.c - logkeep demo [--seconds N] [DIR]: a simulated mesh node on
 * the mesh layer, the project's main job and its quickest tour.
 *
 * It registers nodes (a transaction: the node and its first ledger entry),
 * loads the example policies, then for N seconds does what a mesh daemon
 * does: routes are rediscovered (node updates), paths computed and cached
 * with a short TTL (no-sync cache sets, gets that hit or miss), nodes go
 * active and degraded (ledger transitions, synced), decisions and errors
 * are captured (telemetry), expired paths are cleared.  A progress line
 * shows the counts; at the end it prints the stats and verifies the
 * ledger's hash chain.  Run it again on the same DIR: nodes are found,
 * the ledger goes on, the chain still holds.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "logkeep_mesh.h"
#include "mesh_examples.h"

#define DEMO_NODES 16
#define DEMO_SECONDS_DEFAULT 5u
#define DEMO_SECONDS_MAX 3600u
#define DEMO_DIR_DEFAULT "./logkeep-demo"
#define DEMO_CACHE_TTL_S 2u

struct demo {
	const char *cmd;
	lk_mesh *mesh;
	uint64_t rng;
	uint64_t updates, cache_sets, hits, misses, transitions, decisions,
		errors, expired, refused, txns;
	int tty;
	uint64_t shown_ms, start_ms;
};

static uint64_t next(struct demo *d)
{
	/* xorshift64*: deterministic per run, no libc state */
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return d->rng * UINT64_C(2685821657736338717);
}

static const char *const ifs[] = { "eth0", "wlan0", "mesh0" };
static const char *const protos[] = { "batman-adv", "babel" };

static lk_status register_node(struct demo *d, const char *id)
{
	lk_mesh_node n = { 0 };
	lk_mesh_attr a[2] = { { "interfaces", "eth0,wlan0,mesh0" },
			      { "protocols", "batman-adv,babel" } };
	lk_mesh_txn *t;
	lk_status st;

	n.id = id;
	n.interfaces = ifs;
	n.interface_count = 3;
	n.protocols = protos;
	n.protocol_count = 2;
	st = lk_mesh_txn_begin(&t, d->mesh);
	if (st != LK_OK)
		return st;
	(void)lk_mesh_txn_node_create(t, &n);
	(void)lk_mesh_txn_ledger_save(t, id, "registered", "demo",
				      "joined the mesh", a, 2);
	st = lk_mesh_txn_commit(t);
	if (st == LK_OK)
		d->txns++;
	return st == LK_EXISTS ? LK_OK : st; /* a second run finds them */
}

static void progress(struct demo *d, int last)
{
	uint64_t now = cli_monotonic_ms();

	if (!last && now - d->shown_ms < (d->tty ? CLI_PROGRESS_PERIOD_MS
						 : 1000u))
		return;
	d->shown_ms = now;
	fprintf(stderr,
		"%s[%5.1fs] route updates %" PRIu64 ", paths cached %" PRIu64
		" (hits %" PRIu64 ", misses %" PRIu64 ", expired %" PRIu64
		"), ledger transitions %" PRIu64 ", telemetry %" PRIu64
		"%s",
		d->tty ? "\r" : "", (double)(now - d->start_ms) / 1000.0,
		d->updates, d->cache_sets, d->hits, d->misses, d->expired,
		d->transitions, d->decisions + d->errors,
		d->tty ? "\033[K" : "\n");
	if (last && d->tty)
		fputc('\n', stderr);
	fflush(stderr);
}

/* One round of the node's work. */
static lk_status step(struct demo *d, uint64_t round)
{
	char id[32], dst[32], bundle[256];
	uint64_t r = next(d);
	int node = (int)(r % DEMO_NODES), other = (int)((r >> 8) % DEMO_NODES);
	uint32_t k = (uint32_t)((r >> 16) % 3) + 1;
	lk_mesh_node upd = { 0 };
	char *got;
	lk_status st;

	snprintf(id, sizeof id, "node-%02d", node);
	snprintf(dst, sizeof dst, "node-%02d", other);
	/* a route rediscovered */
	upd.routes_discovered = round;
	st = lk_mesh_node_update(d->mesh, id, &upd, LK_MESH_NODE_ROUTES);
	if (st != LK_OK)
		return st;
	d->updates++;
	/* a path looked up; computed and cached on a miss */
	st = lk_mesh_cache_get(&got, NULL, d->mesh, id, dst, k);
	if (st == LK_OK) {
		d->hits++;
		lk_free(got);
	} else if (st == LK_NOT_FOUND) {
		d->misses++;
		snprintf(bundle, sizeof bundle,
			 "{\"source\":\"%s\",\"destination\":\"%s\",\"k\":%u,"
			 "\"paths\":[[\"%s\",\"node-%02d\",\"%s\"]]}",
			 id, dst, k, id, (int)((r >> 24) % DEMO_NODES), dst);
		st = lk_mesh_cache_set(d->mesh, id, dst, k, bundle,
				       strlen(bundle), DEMO_CACHE_TTL_S);
		if (st != LK_OK)
			return st;
		d->cache_sets++;
	} else {
		return st;
	}
	/* a routing decision captured (never blocks; a full queue refuses) */
	st = lk_mesh_capture_decision(d->mesh, id, "PathSelector",
				      "latency < 50ms",
				      (r >> 32) % 4 ? "primary" : "backup",
				      (int32_t)((r >> 32) % 4 != 0));
	if (st == LK_BUSY)
		d->refused++;
	else if (st != LK_OK)
		return st;
	else
		d->decisions++;
	/* now and then the node's state changes: a ledger transition */
	if (round % 8 == 0) {
		char routes[24];
		lk_mesh_attr a[1] = { { "routes", routes } };
		int appended;

		int active = (r >> 40) % 3 != 0;

		snprintf(routes, sizeof routes, "%" PRIu64, round);
		st = lk_mesh_ledger_save(d->mesh, id,
					 active ? "active" : "degraded", "demo",
					 "link quality changed", a, 1,
					 &appended);
		if (st != LK_OK)
			return st;
		d->transitions += (uint64_t)appended;
		upd.started = active;
		st = lk_mesh_node_update(d->mesh, id, &upd,
					 LK_MESH_NODE_STARTED);
		if (st != LK_OK)
			return st;
	}
	if (round % 97 == 0) {
		st = lk_mesh_capture_error(d->mesh, id, "LinkTimeout",
					   "neighbour did not answer in 3 s");
		if (st == LK_OK)
			d->errors++;
	}
	return LK_OK;
}

static int fail(struct demo *d, lk_db *db, lk_status st)
{
	int rc = cli_fail(d->cmd, st);

	(void)lk_mesh_close(d->mesh);
	return cli_close_db(db, d->cmd, rc);
}

int cmd_demo(const char *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "seconds", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_open_params op = { 0, LK_SYNC_ALWAYS, 0, 0, 0 };
	struct demo d;
	lk_mesh_stats ms;
	lk_mesh_chain_report rep;
	lk_stats ds = LK_STATS_INIT;
	uint64_t seconds = DEMO_SECONDS_DEFAULT, round = 0, cleared = 0;
	const char *dir = DEMO_DIR_DEFAULT;
	lk_db *db;
	lk_status st;
	int c, rc;

	memset(&d, 0, sizeof d);
	d.cmd = cmd;
	while ((c = getopt_long(argc, argv, "+:hs:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return CLI_SHOW_HELP;
		case 's':
			if (cli_parse_u64(optarg, 1, DEMO_SECONDS_MAX,
					  &seconds) != 0)
				return cli_usage_error(cmd, "--seconds '%s': "
					"expected 1 to %u", optarg,
					DEMO_SECONDS_MAX);
			break;
		default:
			return cli_bad_option(cmd, c, argv);
		}
	}
	rc = cli_operands(cmd, argc - optind, 0, 1, "[DIR]");
	if (rc != CLI_OK)
		return rc;
	if (optind < argc)
		dir = argv[optind];
	rc = cli_open_db(&db, cmd, dir, &op);
	if (rc != CLI_OK)
		return rc;
	st = lk_mesh_open(&d.mesh, db, NULL);
	if (st != LK_OK)
		return cli_close_db(db, cmd, cli_fail(cmd, st));
	d.rng = cli_now_ms() | 1;
	d.tty = isatty(STDERR_FILENO);
	d.start_ms = cli_monotonic_ms();
	printf("logkeep demo: a mesh node on %s for %" PRIu64 " s\n", dir,
	       seconds);
	for (int i = 0; i < DEMO_NODES; i++) {
		char id[32];

		snprintf(id, sizeof id, "node-%02d", i);
		st = register_node(&d, id);
		if (st != LK_OK)
			return fail(&d, db, st);
	}
	for (size_t i = 0; i < mesh_example_policy_count; i++) {
		const struct mesh_example_policy *p = &mesh_example_policies[i];

		st = lk_mesh_policy_put(d.mesh, p->id, p->yaml, strlen(p->yaml));
		if (st != LK_OK)
			return fail(&d, db, st);
	}
	printf("registered %d nodes, loaded %zu policies\n", DEMO_NODES,
	       mesh_example_policy_count);
	while (cli_monotonic_ms() - d.start_ms < seconds * 1000u) {
		st = step(&d, ++round);
		if (st != LK_OK)
			return fail(&d, db, st);
		if (cli_monotonic_ms() - d.start_ms >= (cleared + 1) * 1000u) {
			uint64_t removed;

			cleared++;
			st = lk_mesh_cache_clear_expired(&removed, d.mesh);
			if (st != LK_OK)
				return fail(&d, db, st);
			d.expired += removed;
		}
		progress(&d, 0);
	}
	progress(&d, 1);
	st = lk_mesh_telemetry_flush(d.mesh);
	if (st == LK_OK)
		st = lk_mesh_stats_get(&ms, d.mesh);
	if (st == LK_OK)
		st = lk_stats_get(&ds, db);
	if (st != LK_OK)
		return fail(&d, db, st);
	printf("nodes: %" PRIu64 " (%" PRIu64 " started)\n"
	       "policies: %" PRIu64 "\n"
	       "path cache: %" PRIu64 " live entries\n"
	       "ledger: %" PRIu64 " entries over %" PRIu64 " entities\n"
	       "telemetry: %" PRIu64 " entries stored (%" PRIu64
	       " refused by a full queue)\n"
	       "disk: %" PRIu64 " bytes in %u segments; %" PRIu64
	       " commits, %" PRIu64 " fdatasyncs\n",
	       ms.nodes, ms.nodes_started, ms.policies, ms.cache_entries,
	       ms.ledger_entries, ms.ledger_entities, ms.telemetry_entries,
	       d.refused, ms.disk_bytes, ds.segment_count, ds.commits,
	       ds.sync_calls);
	st = lk_mesh_ledger_verify_chain(&rep, d.mesh, NULL, NULL);
	if (st == LK_OK) {
		printf("ledger chain verified: %" PRIu64 " entries hold\n",
		       rep.entries);
	} else if (st == LK_CORRUPT) {
		printf("ledger chain BROKEN at entry %" PRIu64 ": %s\n",
		       rep.broken_position, rep.problem);
		rc = CLI_CORRUPT;
	} else {
		return fail(&d, db, st);
	}
	st = lk_mesh_close(d.mesh);
	if (st != LK_OK && rc == CLI_OK)
		rc = cli_fail(cmd, st);
	rc = cli_close_db(db, cmd, rc);
	if (rc == CLI_OK)
		printf("done: inspect it with `logkeep node list %s`, "
		       "`logkeep history %s node-00`, `logkeep ledger verify "
		       "%s`\n",
		       dir, dir, dir);
	return rc;
}
