/* SPDX-License-Identifier: MIT */
/*
 * cli_repair.c - `logkeep repair [--yes] [--json] DIR`: salvage (SPEC §5)
 * through lk_salvage().  Without --yes it prints the plan and changes
 * nothing; with it, it carries the plan out and prints the same report.
 * Then, when DIR holds the mesh layer's ledger, it checks the ledger's
 * hash chain: a chain broken by the loss is reported, never re-chained.
 *
 * Exit status: 0 nothing to repair, or repaired with the ledger (if any)
 * intact; 1 a plan printed (damage found, --yes not given); 3 repaired but
 * the ledger chain is broken, or a plan that cannot be carried out; 2, 4,
 * 5 as every command.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_format.h"
#include "cli_out.h"
#include "logkeep_mesh.h"

static const char *const action_names[] = {
	NULL, "rewrite", "aside", "create", "drop_snapshot", "lost",
	"fallback", "cut",
};

struct repair {
	struct out *o;
	int steps_open;
};

static void put_key(struct out *o, const void *p, size_t n)
{
	char *s;

	if (text_is_clean(p, n)) {
		s = malloc(n + 1);
		if (s) {
			memcpy(s, p, n);
			s[n] = '\0';
			out_kv_str(o, "key", s);
		}
	} else {
		s = malloc(2 * n + 1);
		for (size_t i = 0; s && i < n; i++)
			snprintf(s + 2 * i, 3, "%02x",
				 ((const unsigned char *)p)[i]);
		if (s) {
			s[2 * n] = '\0';
			out_kv_str(o, "key_hex", s);
		}
	}
	free(s);
}

static void on_step(void *arg, const lk_salvage_step *s)
{
	struct repair *r = arg;
	struct out *o = r->o;

	out_map_begin(o);
	out_kv_str(o, "action", action_names[s->action]);
	if (s->file)
		out_kv_str(o, "file", s->file);
	if (s->new_file)
		out_kv_str(o, "new_file", s->new_file);
	if (s->segment_seq)
		out_kv_u64(o, "segment", s->segment_seq);
	switch (s->action) {
	case LK_SALVAGE_REWRITE:
		out_kv_u64(o, "records_kept", s->records);
		break;
	case LK_SALVAGE_LOST:
		out_kv_u64(o, "seq_first", s->seq_first);
		out_kv_u64(o, "seq_last", s->seq_last);
		out_kv_bool(o, "count_known", s->records > 0);
		out_kv_u64(o, "records", s->records);
		if (s->ns_name)
			out_kv_str(o, "namespace", s->ns_name);
		break;
	case LK_SALVAGE_FALLBACK:
		if (s->ns_name)
			out_kv_str(o, "namespace", s->ns_name);
		out_kv_u64(o, "namespace_id", s->ns);
		put_key(o, s->key, s->key_len);
		out_kv_u64(o, "lost_seq", s->seq_first);
		out_kv_u64(o, "older_seq", s->seq_last);
		break;
	case LK_SALVAGE_CUT:
		out_kv_u64(o, "offset", s->offset);
		break;
	default:
		break;
	}
	if (s->what)
		out_kv_str(o, "what", s->what);
	out_map_end(o);
}

int cli_ledger_check(lk_mesh_chain_report *cr, const char *cmd,
		     const char *dir)
{
	lk_options opts = LK_OPTIONS_INIT;
	lk_mesh *mesh = NULL;
	lk_db *db = NULL;
	uint32_t ns;
	lk_status st;
	int rc;

	memset(cr, 0, sizeof *cr);
	opts.flags = LK_OPEN_READONLY;
	st = lk_open(&db, dir, &opts);
	if (st == LK_OK && lk_ns_find(&ns, db, "mesh.ledger") != LK_OK) {
		lk_close(db);
		return 0; /* no ledger here */
	}
	if (st == LK_OK)
		st = lk_mesh_open(&mesh, db, NULL);
	if (st == LK_OK)
		st = lk_mesh_ledger_verify_chain(cr, mesh, NULL, NULL);
	rc = st == LK_OK ? 2 : st == LK_CORRUPT ? 1 : -1;
	if (rc < 0) {
		snprintf(cr->problem, sizeof cr->problem, "%s: %s",
			 lk_strerror(st), lk_errmsg());
		cli_msg(cmd, "the ledger could not be checked: %s",
			cr->problem);
	}
	lk_mesh_close(mesh);
	lk_close(db);
	return rc;
}

/* The ledger's chain after a repair: 0 holds (or no ledger), 1 broken,
 * -1 could not be checked. */
static int check_ledger(struct out *o, const char *cmd, const char *dir)
{
	lk_mesh_chain_report cr;
	int rc = cli_ledger_check(&cr, cmd, dir);

	if (rc == 0)
		return 0;
	out_key(o, "ledger");
	out_map_begin(o);
	out_kv_str(o, "chain", rc == 2 ? "ok" : rc == 1 ? "broken"
					    : "unchecked");
	out_kv_u64(o, "entries", cr.entries);
	if (rc == 1) {
		out_kv_u64(o, "broken_position", cr.broken_position);
		out_kv_u64(o, "broken_segment", cr.broken_segment);
		out_kv_u64(o, "broken_offset", cr.broken_offset);
	}
	if (rc != 2)
		out_kv_str(o, "problem", cr.problem);
	out_map_end(o);
	return rc == 2 ? 0 : rc;
}

int cmd_repair(const char *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "yes", no_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 },
	};
	lk_salvage_report rep = { .version = LK_SALVAGE_REPORT_VERSION };
	struct repair r = { 0 };
	int json = 0, yes = 0, c, rc, ledger = 0;
	lk_status st;

	while ((c = getopt_long(argc, argv, "+:hy", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return CLI_SHOW_HELP;
		case 'j':
			json = 1;
			break;
		case 'y':
			yes = 1;
			break;
		default:
			return cli_bad_option(cmd, c, argv);
		}
	}
	rc = cli_operands(cmd, argc - optind, 1, 1, "DIR");
	if (rc != CLI_OK)
		return rc;
	argv += optind;
	if (argv[0][0] == '\0')
		return cli_usage_error(cmd, "DIR is empty");
	r.o = out_new(stdout, json);
	if (!r.o) {
		cli_msg(cmd, "out of memory");
		return CLI_ERROR;
	}
	out_map_begin(r.o);
	out_key(r.o, "steps");
	out_seq_begin(r.o);
	st = lk_salvage(&rep, argv[0], NULL, yes, on_step, &r);
	out_seq_end(r.o);
	if (st != LK_OK) {
		out_map_end(r.o);
		(void)out_end(r.o);
		return cli_fail_dir(cmd, st);
	}
	out_kv_bool(r.o, "needed", rep.needed);
	out_kv_bool(r.o, "applied", rep.applied);
	out_kv_u64(r.o, "files_rewritten", rep.files_rewritten);
	out_kv_u64(r.o, "files_aside", rep.files_aside);
	out_kv_u64(r.o, "records_kept", rep.records_kept);
	out_kv_u64(r.o, "records_lost", rep.records_lost);
	out_kv_u64(r.o, "ranges_lost", rep.ranges_lost);
	out_kv_u64(r.o, "ranges_of_unknown_count", rep.unknown_lost);
	out_kv_u64(r.o, "keys_fallback", rep.keys_fallback);
	out_kv_u64(r.o, "keys_gone", rep.keys_gone);
	out_kv_u64(r.o, "keys_unlisted", rep.keys_unlisted);
	out_kv_u64(r.o, "ranges_unlisted", rep.ranges_unlisted);
	if (rep.applied || !rep.needed)
		ledger = check_ledger(r.o, cmd, argv[0]);
	out_map_end(r.o);
	if (out_end(r.o) != 0 || fflush(stdout) != 0) {
		cli_msg(cmd, "writing the report to standard output failed");
		return CLI_ERROR;
	}
	if (ledger != 0)
		return CLI_CORRUPT;
	if (rep.needed && !rep.applied) {
		cli_msg(cmd, "DIR needs salvage: nothing was changed; run "
			     "again with --yes to carry out this plan");
		return CLI_NO;
	}
	return CLI_OK;
}
