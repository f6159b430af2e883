/* SPDX-License-Identifier: MIT */
/*
 * cli_mesh.c - the mesh layer's commands: node, policy, cache, history
 * and ledger (logkeep_mesh.h).  Each opens DIR (read-only for reads), opens
 * the mesh on it, does one thing and closes both.  Output is YAML, or JSON
 * with --json (cli_out.c).
 *
 * A command with subcommands ("node list", "policy put") gets its own
 * argv; the subcommand's options are parsed after it, so that
 * `logkeep node list --started DIR` reads the way it is written.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_out.h"
#include "logkeep_mesh.h"
#include "mesh_examples.h"

/* ---------------------------------------------------------------------- */
/* Opening                                                                */
/* ---------------------------------------------------------------------- */

struct mesh_cmd {
	const char *cmd;     /* "node list", for messages */
	lk_db *db;
	lk_mesh *mesh;
};

static int mesh_open(struct mesh_cmd *mc, const char *dir, int readonly)
{
	struct cli_open_params op = { readonly, LK_SYNC_ALWAYS, 0, !readonly,
				      0 };
	lk_status st;
	int rc = cli_open_db(&mc->db, mc->cmd, dir, &op);

	if (rc != CLI_OK)
		return rc;
	st = lk_mesh_open(&mc->mesh, mc->db, NULL);
	if (st == LK_NOT_FOUND) {
		cli_msg(mc->cmd, "%s holds no mesh data (no mesh namespaces)",
			dir);
		return cli_close_db(mc->db, mc->cmd, CLI_NO);
	}
	if (st != LK_OK)
		return cli_close_db(mc->db, mc->cmd, cli_fail(mc->cmd, st));
	return CLI_OK;
}

static int mesh_close(struct mesh_cmd *mc, int rc)
{
	lk_status st = lk_mesh_close(mc->mesh);

	if (st != LK_OK && rc == CLI_OK)
		rc = cli_fail(mc->cmd, st);
	return cli_close_db(mc->db, mc->cmd, rc);
}

/* Options of the mesh commands: -h, --json, and one flag or value. */
struct mesh_opts {
	int json;
	int started;       /* node list --started */
};

static int parse(const char *cmd, int argc, char **argv, struct mesh_opts *o,
		 int min, int max, const char *names, int *first)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "started", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return CLI_SHOW_HELP;
		case 'j':
			o->json = 1;
			break;
		case 's':
			o->started = 1;
			break;
		default:
			return cli_bad_option(cmd, c, argv);
		}
	}
	*first = optind;
	return cli_operands(cmd, argc - optind, min, max, names);
}

/* Finds argv[1] among the n subcommands: CLI_OK with *sub, CLI_SHOW_HELP
 * for -h, or a usage error listing them. */
static int pick(const char *cmd, int argc, char **argv,
		const char *const *subs, int n, int *sub)
{
	char list[96] = "";

	for (int i = 0; i < n; i++) {
		if (argc >= 2 && strcmp(argv[1], subs[i]) == 0) {
			*sub = i;
			return CLI_OK;
		}
		snprintf(list + strlen(list), sizeof list - strlen(list),
			 "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ",
			 subs[i]);
	}
	if (argc >= 2 &&
	    (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))
		return CLI_SHOW_HELP;
	if (argc < 2)
		return cli_usage_error(cmd, "expected %s", list);
	return cli_usage_error(cmd, "unknown subcommand '%s' (%s)", argv[1],
			       list);
}

static int finish_out(const char *cmd, struct out *o, int rc)
{
	if (out_end(o) != 0 && rc == CLI_OK) {
		cli_msg(cmd, "writing the output failed");
		rc = CLI_ERROR;
	}
	return rc;
}

/* ---------------------------------------------------------------------- */
/* node list|get                                                          */
/* ---------------------------------------------------------------------- */

static void put_node(struct out *o, const lk_mesh_node *n)
{
	out_map_begin(o);
	out_kv_str(o, "id", n->id);
	out_key(o, "interfaces");
	out_seq_begin(o);
	for (size_t i = 0; i < n->interface_count; i++)
		out_str(o, n->interfaces[i]);
	out_seq_end(o);
	out_key(o, "protocols");
	out_seq_begin(o);
	for (size_t i = 0; i < n->protocol_count; i++)
		out_str(o, n->protocols[i]);
	out_seq_end(o);
	out_kv_bool(o, "started", n->started);
	out_kv_u64(o, "routes_discovered", n->routes_discovered);
	out_kv_time(o, "created_at", n->created_at_ms);
	out_kv_time(o, "updated_at", n->updated_at_ms);
	out_map_end(o);
}

static int list_one(void *arg, const lk_mesh_node *n)
{
	put_node(arg, n);
	return 0;
}

int cmd_node(const char *cmd, int argc, char **argv)
{
	struct mesh_opts mo = { 0 };
	struct mesh_cmd mc = { cmd, NULL, NULL };
	struct out *o;
	lk_status st;
	int first, rc, list;

	static const char *const subs[] = { "list", "get" };
	int sub;

	rc = pick(cmd, argc, argv, subs, 2, &sub);
	if (rc != CLI_OK)
		return rc;
	list = sub == 0;
	mc.cmd = list ? "node list" : "node get";
	rc = parse(mc.cmd, argc - 1, argv + 1, &mo, list ? 1 : 2,
		   list ? 1 : 2, list ? "DIR" : "DIR ID", &first);
	if (rc != CLI_OK)
		return rc;
	argv += 1 + first;
	rc = mesh_open(&mc, argv[0], 1);
	if (rc != CLI_OK)
		return rc;
	o = out_new(stdout, mo.json);
	if (!o)
		return mesh_close(&mc, cli_fail(mc.cmd, LK_NOMEM));
	if (list) {
		out_seq_begin(o);
		st = lk_mesh_node_list(mc.mesh, mo.started, list_one, o);
		out_seq_end(o);
	} else {
		lk_mesh_node *n;

		st = lk_mesh_node_get(&n, mc.mesh, argv[1]);
		if (st == LK_OK) {
			put_node(o, n);
			lk_free(n);
		}
	}
	rc = st == LK_OK ? CLI_OK : cli_fail(mc.cmd, st);
	rc = finish_out(mc.cmd, o, rc);
	return mesh_close(&mc, rc);
}

/* ---------------------------------------------------------------------- */
/* policy put|get|list|example                                            */
/* ---------------------------------------------------------------------- */

/* Reads FILE ("-": standard input) whole, up to the policy limit. */
static int read_doc(const char *cmd, const char *path, char **doc,
		    size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = LK_MESH_POLICY_BYTES_MAX + 1, n;
	char *buf;

	if (!f) {
		int e = errno;

		cli_msg(cmd, "%s: %s", path, strerror(e));
		return e == ENOENT ? CLI_USAGE : CLI_ERROR;
	}
	buf = malloc(cap);
	if (!buf) {
		if (f != stdin)
			fclose(f);
		return cli_fail(cmd, LK_NOMEM);
	}
	n = fread(buf, 1, cap, f);
	if (ferror(f)) {
		cli_msg(cmd, "%s: read error", path);
		free(buf);
		if (f != stdin)
			fclose(f);
		return CLI_ERROR;
	}
	if (f != stdin)
		fclose(f);
	if (n == cap) {
		cli_msg(cmd, "%s: longer than %u bytes, the policy limit", path,
			LK_MESH_POLICY_BYTES_MAX);
		free(buf);
		return CLI_USAGE;
	}
	*doc = buf;
	*len = n;
	return CLI_OK;
}

static void put_policy(struct out *o, const lk_mesh_policy *p, int with_doc)
{
	out_map_begin(o);
	out_kv_str(o, "id", p->id);
	out_kv_u64(o, "rules_count", p->rules_count);
	out_kv_time(o, "created_at", p->created_at_ms);
	out_kv_time(o, "updated_at", p->updated_at_ms);
	if (with_doc)
		out_kv_str(o, "yaml", p->yaml);
	out_map_end(o);
}

static int list_policy(void *arg, const lk_mesh_policy *p)
{
	put_policy(arg, p, 0);
	return 0;
}

static int policy_example(const char *cmd, int argc, char **argv)
{
	if (argc < 2) {
		for (size_t i = 0; i < mesh_example_policy_count; i++)
			printf("%s\n", mesh_example_policies[i].id);
		return CLI_OK;
	}
	for (size_t i = 0; i < mesh_example_policy_count; i++)
		if (strcmp(mesh_example_policies[i].id, argv[1]) == 0) {
			fputs(mesh_example_policies[i].yaml, stdout);
			return CLI_OK;
		}
	return cli_usage_error(cmd, "no example policy '%s'", argv[1]);
}

int cmd_policy(const char *cmd, int argc, char **argv)
{
	static const char *const subs[] = { "put", "get", "list", "example" };
	static const int min[] = { 3, 2, 1, 0 }, max[] = { 3, 2, 1, 1 };
	static const char *const names[] = { "DIR ID FILE", "DIR ID", "DIR",
					     "[NAME]" };
	static const char *const cmds[] = { "policy put", "policy get",
					    "policy list", "policy example" };
	struct mesh_opts mo = { 0 };
	struct mesh_cmd mc = { cmd, NULL, NULL };
	struct out *o;
	lk_status st = LK_OK;
	int first, rc, sub;

	rc = pick(cmd, argc, argv, subs, 4, &sub);
	if (rc != CLI_OK)
		return rc;
	mc.cmd = cmds[sub];
	rc = parse(mc.cmd, argc - 1, argv + 1, &mo, min[sub], max[sub],
		   names[sub], &first);
	if (rc != CLI_OK)
		return rc;
	argv += 1 + first;
	argc -= 1 + first;
	if (sub == 3)
		return policy_example(mc.cmd, argc + 1, argv - 1);
	if (sub == 0) {
		char *doc = NULL;
		size_t len = 0;
		lk_mesh_yaml_error err;
		uint32_t rules;

		rc = read_doc(mc.cmd, argv[2], &doc, &len);
		if (rc != CLI_OK)
			return rc;
		/* checked before DIR is touched: a bad file changes nothing */
		st = lk_mesh_policy_check(&rules, doc, len, &err);
		if (st == LK_INVALID && err.line) {
			cli_msg(mc.cmd, "%s:%u:%u: %s", argv[2], err.line,
				err.column, err.problem);
			free(doc);
			return CLI_USAGE;
		}
		if (st != LK_OK) {
			rc = cli_fail(mc.cmd, st);
			free(doc);
			return rc;
		}
		rc = mesh_open(&mc, argv[0], 0);
		if (rc == CLI_OK) {
			st = lk_mesh_policy_put(mc.mesh, argv[1], doc, len);
			rc = st == LK_OK ? CLI_OK : cli_fail(mc.cmd, st);
			if (rc == CLI_OK)
				printf("stored policy %s: %u rules\n", argv[1],
				       rules);
			rc = mesh_close(&mc, rc);
		}
		free(doc);
		return rc;
	}
	rc = mesh_open(&mc, argv[0], 1);
	if (rc != CLI_OK)
		return rc;
	o = out_new(stdout, mo.json);
	if (!o)
		return mesh_close(&mc, cli_fail(mc.cmd, LK_NOMEM));
	if (sub == 1) {
		lk_mesh_policy *p;

		st = lk_mesh_policy_get(&p, mc.mesh, argv[1]);
		if (st == LK_OK) {
			put_policy(o, p, 1);
			lk_free(p);
		}
	} else {
		out_seq_begin(o);
		st = lk_mesh_policy_list(mc.mesh, list_policy, o);
		out_seq_end(o);
	}
	rc = st == LK_OK ? CLI_OK : cli_fail(mc.cmd, st);
	rc = finish_out(mc.cmd, o, rc);
	return mesh_close(&mc, rc);
}

/* ---------------------------------------------------------------------- */
/* cache get|clear-expired                                                */
/* ---------------------------------------------------------------------- */

int cmd_cache(const char *cmd, int argc, char **argv)
{
	struct mesh_opts mo = { 0 };
	struct mesh_cmd mc = { cmd, NULL, NULL };
	lk_status st;
	int first, rc, get;

	static const char *const subs[] = { "get", "clear-expired" };
	int sub;

	rc = pick(cmd, argc, argv, subs, 2, &sub);
	if (rc != CLI_OK)
		return rc;
	get = sub == 0;
	mc.cmd = get ? "cache get" : "cache clear-expired";
	rc = parse(mc.cmd, argc - 1, argv + 1, &mo, get ? 4 : 1, get ? 4 : 1,
		   get ? "DIR SOURCE DESTINATION K" : "DIR", &first);
	if (rc != CLI_OK)
		return rc;
	argv += 1 + first;
	if (get) {
		uint64_t k;
		char *bundle;
		size_t len;

		if (cli_parse_u64(argv[3], 0, UINT32_MAX, &k) != 0)
			return cli_usage_error(mc.cmd, "K '%s' is not a number "
				"from 0 to %u", argv[3], UINT32_MAX);
		rc = mesh_open(&mc, argv[0], 1);
		if (rc != CLI_OK)
			return rc;
		st = lk_mesh_cache_get(&bundle, &len, mc.mesh, argv[1],
				       argv[2], (uint32_t)k);
		if (st == LK_OK) {
			fwrite(bundle, 1, len, stdout);
			lk_free(bundle);
			return mesh_close(&mc, CLI_OK);
		}
		return mesh_close(&mc, st == LK_NOT_FOUND
					       ? CLI_NO
					       : cli_fail(mc.cmd, st));
	}
	rc = mesh_open(&mc, argv[0], 0);
	if (rc != CLI_OK)
		return rc;
	{
		uint64_t removed;

		st = lk_mesh_cache_clear_expired(&removed, mc.mesh);
		if (st == LK_OK)
			printf("removed %" PRIu64 " expired entries\n", removed);
	}
	return mesh_close(&mc, st == LK_OK ? CLI_OK : cli_fail(mc.cmd, st));
}

/* ---------------------------------------------------------------------- */
/* history, ledger verify                                                 */
/* ---------------------------------------------------------------------- */

static int put_entry(void *arg, const lk_mesh_entry *e)
{
	struct out *o = arg;

	out_map_begin(o);
	out_kv_u64(o, "position", e->position);
	out_kv_u64(o, "index", e->entity_index);
	out_kv_time(o, "at", e->at_ms);
	out_kv_str(o, "from", e->from_status);
	out_kv_str(o, "to", e->to_status);
	out_kv_str(o, "actor", e->actor);
	out_kv_str(o, "reasoning", e->reasoning);
	out_kv_hex(o, "content_hash", e->content_hash, 32);
	out_kv_hex(o, "prev_hash", e->prev_hash, 32);
	out_kv_hex(o, "hash", e->hash, 32);
	out_map_end(o);
	return 0;
}

int cmd_history(const char *cmd, int argc, char **argv)
{
	struct mesh_opts mo = { 0 };
	struct mesh_cmd mc = { cmd, NULL, NULL };
	struct out *o;
	lk_status st;
	int first, rc;

	rc = parse(cmd, argc, argv, &mo, 2, 2, "DIR ENTITY", &first);
	if (rc != CLI_OK)
		return rc;
	argv += first;
	rc = mesh_open(&mc, argv[0], 1);
	if (rc != CLI_OK)
		return rc;
	o = out_new(stdout, mo.json);
	if (!o)
		return mesh_close(&mc, cli_fail(cmd, LK_NOMEM));
	out_map_begin(o);
	out_kv_str(o, "entity", argv[1]);
	out_key(o, "entries");
	out_seq_begin(o);
	st = lk_mesh_ledger_history(mc.mesh, argv[1], put_entry, o);
	out_seq_end(o);
	out_map_end(o);
	rc = st == LK_OK ? CLI_OK : cli_fail(cmd, st);
	rc = finish_out(cmd, o, rc);
	return mesh_close(&mc, rc);
}

static void verify_progress(void *arg, uint64_t done, uint64_t total)
{
	uint64_t *at = arg, now = cli_monotonic_ms();

	if (now - *at < CLI_PROGRESS_PERIOD_MS && done != total)
		return;
	*at = now;
	fprintf(stderr, "\rlogkeep: ledger verify: %" PRIu64 " of %" PRIu64
		" entries\033[K", done, total);
	fflush(stderr);
	cli_progress_mark();
}

int cmd_ledger(const char *cmd, int argc, char **argv)
{
	struct mesh_opts mo = { 0 };
	struct mesh_cmd mc = { "ledger verify", NULL, NULL };
	lk_mesh_chain_report rep;
	uint64_t at = 0;
	lk_status st;
	int first, rc;

	static const char *const subs[] = { "verify" };
	int sub;

	rc = pick(cmd, argc, argv, subs, 1, &sub);
	if (rc != CLI_OK)
		return rc;
	rc = parse(mc.cmd, argc - 1, argv + 1, &mo, 1, 1, "DIR", &first);
	if (rc != CLI_OK)
		return rc;
	argv += 1 + first;
	rc = mesh_open(&mc, argv[0], 1);
	if (rc != CLI_OK)
		return rc;
	st = lk_mesh_ledger_verify_chain(&rep, mc.mesh,
					 isatty(STDERR_FILENO) ? verify_progress
							 : NULL,
					 &at);
	cli_progress_clear();
	if (st == LK_OK) {
		printf("ledger chain holds: %" PRIu64 " entries\n", rep.entries);
		return mesh_close(&mc, CLI_OK);
	}
	if (st == LK_CORRUPT && rep.broken_position) {
		printf("ledger chain broken at entry %" PRIu64
		       " (segment %" PRIu64 " offset %" PRIu64 "): %s\n"
		       "entries before it hold: %" PRIu64 "\n",
		       rep.broken_position, rep.broken_segment,
		       rep.broken_offset, rep.problem, rep.entries);
		return mesh_close(&mc, CLI_CORRUPT);
	}
	return mesh_close(&mc, cli_fail(mc.cmd, st));
}
