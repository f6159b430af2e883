/* SPDX-License-Identifier: MIT */
/*
 * cli_dump.c - `logkeep dump`: every record of a data directory or of one
 * segment file, in log order, with its place, its checksum status and its
 * value decoded (mesh collections field by field), as one YAML document
 * for people or one JSON object per line for scripts.
 *
 * The engine's lk_log_read() reads the files, one record at a time, and
 * says where bytes hold no valid record (and where reading resumed); this
 * file filters and prints.  Output is streamed: nothing is kept per
 * record but the last ledger entry's position and hash, for the chain
 * status of the next one, so memory does not grow with the log.
 *
 * Exit status: 0 read to the end with no damage; 1 only a torn tail (what
 * the next writing open cuts); 3 damage shown; 2 and 4 as every command.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_format.h"
#include "cli_out.h"
#include "dump_record.h"
#include "logkeep_mesh.h"

enum {
	OPT_RAW = 256,
	OPT_SEGMENT,
	OPT_FROM_SEQ,
	OPT_TO_SEQ,
	OPT_KEY,
	OPT_TYPE,
	OPT_LIVE_ONLY,
};

struct dump {
	const char *cmd;
	int json, raw, live_only;
	uint64_t segment, from_seq, to_seq;
	const char *ns, *key;
	int type;                 /* lk_log_kind, 0: all */
	int filtered;             /* a record filter is set */
	lk_db *db;                /* --live-only: the index to ask */
	struct out *yaml;         /* the YAML document (one for the run) */
	int failed;               /* an output error */
	/* what was seen */
	uint64_t records, damage, tail, shown;
	struct dump_chain chain;  /* the ledger chain, in log order */
	/* progress */
	int tty;
	uint64_t done_bytes, seg_base, progress_at_ms, started_ms;
};

static const char *const kind_names[] = {
	NULL, "segment", "put", "del", "commit", "seal", "damage", "discard",
	"free",
};

/* ---------------------------------------------------------------------- */
/* Items                                                                  */
/* ---------------------------------------------------------------------- */

static void put_item(struct dump *d, struct out *o, const lk_log_item *it)
{
	out_map_begin(o);
	out_kv_str(o, "kind", kind_names[it->kind]);
	out_kv_u64(o, "segment", it->segment_seq);
	if (it->generation)
		out_kv_u64(o, "generation", it->generation);
	if (dump_bytes(o, "file", it->file, strlen(it->file)) != 0)
		d->failed = 1;
	out_kv_u64(o, "offset", it->offset);
	out_kv_u64(o, "length", it->length);
	switch (it->kind) {
	case LK_LOG_SEGMENT:
		if (!it->what) {
			char *id = dump_hex(it->db_id, 16);

			out_kv_u64(o, "format_version", it->format_version);
			out_kv_u64(o, "seq_prev", it->seq_prev);
			out_kv_u64(o, "record_seq_base", it->record_seq_base);
			out_kv_str(o, "db_id", id ? id : "");
			free(id);
		}
		break;
	case LK_LOG_PUT:
	case LK_LOG_DEL: {
		struct dump_record r = {
			.del = it->kind == LK_LOG_DEL,
			.seq = it->seq,
			.ns_name = it->ns_name,
			.ns = it->ns,
			.key = it->key,
			.key_len = it->key_len,
			.checksum_ok = it->checksum_ok,
			.expire_at_ms = it->expire_at_ms,
			.compressed = it->compressed,
			.stored_len = it->stored_len,
			.value = it->value,
			.value_len = it->value_len,
			.raw = d->raw,
		};

		if (dump_record_members(o, &r, &d->chain) != 0)
			d->failed = 1;
		if (it->replaces_segment_seq) {
			out_key(o, "replaces");
			out_map_begin(o);
			out_kv_u64(o, "segment", it->replaces_segment_seq);
			if (it->replaces_generation)
				out_kv_u64(o, "generation",
					   it->replaces_generation);
			out_kv_u64(o, "offset", it->replaces_offset);
			out_map_end(o);
		}
		break;
	}
	case LK_LOG_COMMIT:
	case LK_LOG_SEAL:
		out_kv_u64(o, "records", it->count);
		out_kv_u64(o, "durable_upto", it->durable_upto);
		break;
	case LK_LOG_DISCARD:
		out_kv_u64(o, "records", it->count);
		out_kv_u64(o, "seq_first", it->seq);
		out_kv_u64(o, "seq_last", it->seq_last);
		break;
	case LK_LOG_DAMAGE:
		out_kv_bool(o, "torn_tail", it->tail);
		break;
	case LK_LOG_FREE:
		break;
	}
	if (it->what)
		out_kv_str(o, it->kind == LK_LOG_DAMAGE ||
				      it->kind == LK_LOG_DISCARD ||
				      it->kind == LK_LOG_SEGMENT
				  ? "what"
				  : "warning",
			   it->what);
	out_map_end(o);
}

/* 1 if a put or delete passes the record filters. */
static int wanted_record(struct dump *d, const lk_log_item *it)
{
	uint64_t seg = 0, off = 0;
	lk_status st;

	if (it->seq < d->from_seq || it->seq > d->to_seq)
		return 0;
	if (d->ns && (!it->ns_name || strcmp(it->ns_name, d->ns) != 0))
		return 0;
	if (d->key && (it->key_len != strlen(d->key) ||
		       memcmp(it->key, d->key, it->key_len) != 0))
		return 0;
	if (!d->live_only)
		return 1;
	/* the record the index serves for its key is this one */
	if (it->kind != LK_LOG_PUT || !it->checksum_ok || it->ns == 0)
		return 0;
	st = lk_locate(&seg, &off, d->db, it->ns, it->key, it->key_len);
	return st == LK_OK && seg == it->segment_seq && off == it->offset;
}

/* 1 if the filters let it through. */
static int wanted(struct dump *d, const lk_log_item *it)
{
	int record = it->kind == LK_LOG_PUT || it->kind == LK_LOG_DEL;

	if (d->type)
		return (int)it->kind == d->type && (!record || !d->filtered ||
						    wanted_record(d, it));
	if (!d->filtered)
		return 1;
	/* with record filters, damage and lost groups are still shown */
	if (it->kind == LK_LOG_DAMAGE || it->kind == LK_LOG_DISCARD)
		return 1;
	return record && wanted_record(d, it);
}

/* ---------------------------------------------------------------------- */
/* The walk                                                               */
/* ---------------------------------------------------------------------- */

/* Past this, a run is long enough for a progress line. */
#define DUMP_PROGRESS_AFTER_MS 1000u

static void progress(struct dump *d, const lk_log_item *it)
{
	uint64_t now;

	if (!d->tty)
		return;
	now = cli_monotonic_ms();
	if (now - d->started_ms < DUMP_PROGRESS_AFTER_MS ||
	    now - d->progress_at_ms < CLI_PROGRESS_PERIOD_MS)
		return;
	d->progress_at_ms = now;
	fprintf(stderr, "\rlogkeep: %s: %" PRIu64 " of %" PRIu64
		" MiB, %" PRIu64 " records\033[K", d->cmd,
		(d->seg_base + it->offset) >> 20, it->total_bytes >> 20,
		d->records);
	fflush(stderr);
	cli_progress_mark();
}

/* The YAML document starts at the first item, so that a DIR that cannot
 * be read prints nothing on standard output. */
static int yaml_begin(struct dump *d)
{
	d->yaml = out_new(stdout, 0);
	if (!d->yaml) {
		d->failed = 1;
		return -1;
	}
	out_seq_begin(d->yaml);
	return 0;
}

static int on_item(void *arg, const lk_log_item *it)
{
	struct dump *d = arg;

	if (it->kind == LK_LOG_SEGMENT) {
		d->seg_base = d->done_bytes;
		d->done_bytes += it->length;
	}
	if (it->kind == LK_LOG_PUT || it->kind == LK_LOG_DEL)
		d->records++;
	if (it->kind == LK_LOG_DAMAGE && it->tail)
		d->tail++;
	else if (it->kind == LK_LOG_DAMAGE ||
		 (it->kind == LK_LOG_SEGMENT && it->what && !it->tail))
		d->damage++;
	progress(d, it);
	if (!wanted(d, it))
		return 0;
	d->shown++;
	if (d->json) {
		struct out *o = out_new(stdout, 1);

		if (!o)
			return d->failed = 1;
		put_item(d, o, it);
		if (out_end(o) != 0)
			d->failed = 1;
	} else {
		if (!d->yaml && yaml_begin(d) != 0)
			return 1;
		put_item(d, d->yaml, it);
	}
	return d->failed || ferror(stdout);
}

static int parse_type(const char *s)
{
	for (int k = LK_LOG_SEGMENT; k <= LK_LOG_FREE; k++)
		if (strcmp(s, kind_names[k]) == 0)
			return k;
	return 0;
}

static int dump_args(struct dump *d, int argc, char **argv, int *first)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "segment", required_argument, NULL, OPT_SEGMENT },
		{ "from-seq", required_argument, NULL, OPT_FROM_SEQ },
		{ "to-seq", required_argument, NULL, OPT_TO_SEQ },
		{ "namespace", required_argument, NULL, 'n' },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "live-only", no_argument, NULL, OPT_LIVE_ONLY },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "+:hn:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return CLI_SHOW_HELP;
		case 'j':
			d->json = 1;
			break;
		case OPT_RAW:
			d->raw = 1;
			break;
		case OPT_SEGMENT:
			if (cli_parse_u64(optarg, 1, UINT64_MAX, &d->segment))
				return cli_usage_error(d->cmd, "--segment '%s' "
						       "is not a segment number "
						       "(1 or more)", optarg);
			break;
		case OPT_FROM_SEQ:
		case OPT_TO_SEQ:
			if (cli_parse_u64(optarg, 0, UINT64_MAX,
					  c == OPT_FROM_SEQ ? &d->from_seq
							    : &d->to_seq))
				return cli_usage_error(d->cmd, "%s '%s' is not "
						       "a sequence number",
						       c == OPT_FROM_SEQ
							       ? "--from-seq"
							       : "--to-seq",
						       optarg);
			d->filtered = 1;
			break;
		case 'n':
			d->ns = optarg;
			d->filtered = 1;
			break;
		case OPT_KEY:
			d->key = optarg;
			d->filtered = 1;
			break;
		case OPT_TYPE:
			d->type = parse_type(optarg);
			if (!d->type)
				return cli_usage_error(d->cmd, "--type '%s': "
					"one of segment, put, del, commit, "
					"seal, damage, discard, free", optarg);
			break;
		case OPT_LIVE_ONLY:
			d->live_only = 1;
			d->filtered = 1;
			break;
		default:
			return cli_bad_option(d->cmd, c, argv);
		}
	}
	*first = optind;
	if (d->from_seq > d->to_seq)
		return cli_usage_error(d->cmd, "--from-seq %" PRIu64 " is past "
				       "--to-seq %" PRIu64, d->from_seq,
				       d->to_seq);
	return cli_operands(d->cmd, argc - optind, 1, 1, "DIR|SEGMENT_FILE");
}

int cmd_dump(const char *cmd, int argc, char **argv)
{
	struct dump d;
	lk_status st;
	int first = 0, rc;

	memset(&d, 0, sizeof d);
	d.cmd = cmd;
	d.to_seq = UINT64_MAX;
	rc = dump_args(&d, argc, argv, &first);
	if (rc != CLI_OK)
		return rc;
	argv += first;
	if (argv[0][0] == '\0')
		return cli_usage_error(cmd, "DIR is empty");
	if (d.live_only) {
		/* the index of a read-only open says which records it serves */
		struct cli_open_params op = { 1, LK_SYNC_ALWAYS, 0, 0, 0 };

		rc = cli_open_db(&d.db, cmd, argv[0], &op);
		if (rc != CLI_OK)
			return rc;
	}
	d.tty = isatty(STDERR_FILENO);
	d.started_ms = d.progress_at_ms = cli_monotonic_ms();
	st = lk_log_read(argv[0], NULL, d.segment, on_item, &d);
	cli_progress_clear();
	if (st != LK_OK)
		rc = cli_fail_dir(cmd, st);
	else if (!d.json && !d.yaml && !d.failed)
		(void)yaml_begin(&d); /* nothing passed the filters: [] */
	if (d.yaml) {
		out_seq_end(d.yaml);
		if (out_end(d.yaml) != 0)
			d.failed = 1;
	}
	if (d.db)
		lk_close(d.db);
	if (rc == CLI_OK && (d.failed || fflush(stdout) != 0 ||
			     ferror(stdout))) {
		cli_msg(cmd, "writing the dump to standard output failed");
		rc = CLI_ERROR;
	}
	if (rc != CLI_OK)
		return rc;
	if (d.damage)
		return CLI_CORRUPT;
	return d.tail ? CLI_NO : CLI_OK;
}
