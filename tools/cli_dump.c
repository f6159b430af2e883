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
#include "logkeep_mesh.h"

/* A value shown as hex is at most this long in hex digits' bytes: a
 * 1 MiB value is 2 MiB of text, one at a time. */
#define DUMP_TEXT_MAX (2u * LK_VALUE_BYTES_MAX + 1u)

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
	/* the ledger chain, in log order */
	uint64_t chain_pos;
	uint8_t chain_hash[32];
	/* progress */
	int tty;
	uint64_t done_bytes, seg_base, progress_at_ms, started_ms;
};

static const char *const kind_names[] = {
	NULL, "segment", "put", "del", "commit", "seal", "damage", "discard",
	"free",
};

/* ---------------------------------------------------------------------- */
/* Scalars                                                                */
/* ---------------------------------------------------------------------- */

/* A copy of p[0..n) with a NUL (the out_* calls take C strings). */
static char *dup_n(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static char *hex_of(const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = p;
	char *s = n < DUMP_TEXT_MAX / 2 ? malloc(2 * n + 1) : NULL;

	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[b[i] >> 4];
		s[2 * i + 1] = digits[b[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

/* key: text when it is clean text, else key_hex: its bytes in hex. */
static void put_bytes(struct dump *d, struct out *o, const char *key,
		      const void *p, size_t n)
{
	int clean = text_is_clean(p, n);
	char *s = clean ? dup_n(p, n) : hex_of(p, n);
	char name[32];

	snprintf(name, sizeof name, clean ? "%s" : "%s_hex", key);
	if (!s) {
		d->failed = 1;
		return;
	}
	out_kv_str(o, name, s);
	free(s);
}

/* ---------------------------------------------------------------------- */
/* Mesh values                                                            */
/* ---------------------------------------------------------------------- */

struct fields {
	struct dump *d;
	struct out *o;
	uint64_t list_left;      /* items of the open list still to come */
	uint64_t position;       /* a ledger entry's */
	const uint8_t *prev_hash, *hash;
	uint8_t prev[32], self[32];
	uint64_t entries;        /* the ledger head's */
	const uint8_t *last_hash;
	uint8_t last[32];
};

static void put_field(void *arg, const lk_mesh_field *f)
{
	struct fields *fs = arg;
	struct out *o = fs->o;

	if (f->name)
		out_key(o, f->name);
	switch (f->kind) {
	case LK_MESH_FIELD_STR:
		if (text_is_clean(f->s, f->n)) {
			char *s = dup_n(f->s, f->n);

			if (s)
				out_str(o, s);
			else
				fs->d->failed = 1;
			free(s);
		} else {
			char *s = hex_of(f->s, f->n);

			out_str(o, s ? s : "");
			free(s);
		}
		break;
	case LK_MESH_FIELD_U64:
		out_u64(o, f->u);
		if (f->name && strcmp(f->name, "position") == 0)
			fs->position = f->u;
		if (f->name && strcmp(f->name, "entries") == 0)
			fs->entries = f->u;
		break;
	case LK_MESH_FIELD_TIME:
		out_time(o, f->u);
		break;
	case LK_MESH_FIELD_BOOL:
		out_bool(o, f->u != 0);
		break;
	case LK_MESH_FIELD_HASH: {
		char *s = hex_of(f->hash, 32);

		out_str(o, s ? s : "");
		free(s);
		if (strcmp(f->name, "prev_hash") == 0) {
			memcpy(fs->prev, f->hash, 32);
			fs->prev_hash = fs->prev;
		} else if (strcmp(f->name, "last_hash") == 0) {
			memcpy(fs->last, f->hash, 32);
			fs->last_hash = fs->last;
		} else if (strcmp(f->name, "hash") == 0) {
			memcpy(fs->self, f->hash, 32);
			fs->hash = fs->self;
		}
		break;
	}
	case LK_MESH_FIELD_LIST:
		out_seq_begin(o);
		fs->list_left = f->u;
		if (f->u == 0)
			out_seq_end(o);
		return;
	}
	if (!f->name && fs->list_left > 0 && --fs->list_left == 0)
		out_seq_end(o);
}

/* The ledger head's status against the last entry read before it (the
 * head is written after the entry it names, in the same commit). */
static const char *head_status(const struct dump *d, const struct fields *fs)
{
	if (fs->entries == 0 || d->chain_pos == 0 || fs->entries > d->chain_pos)
		return "unchecked";
	if (fs->entries < d->chain_pos)
		return "behind"; /* written after later entries: rolled back */
	return memcmp(fs->last_hash, d->chain_hash, 32) == 0 ? "ok" : "broken";
}

/* The chain status of a ledger entry read in log order, or of the ledger
 * head; NULL for other records. */
static const char *chain_status(struct dump *d, const struct fields *fs)
{
	static const uint8_t zero[32];
	const char *status;

	if (fs->last_hash)
		return head_status(d, fs);
	if (!fs->prev_hash || !fs->hash)
		return NULL;
	if (fs->position == 1)
		status = memcmp(fs->prev_hash, zero, 32) == 0 ? "ok" : "broken";
	else if (d->chain_pos == 0)
		status = "unchecked"; /* the entry before was not read */
	else if (fs->position == d->chain_pos + 1)
		status = memcmp(fs->prev_hash, d->chain_hash, 32) == 0
				 ? "ok"
				 : "broken";
	else
		status = "gap";
	d->chain_pos = fs->position;
	memcpy(d->chain_hash, fs->hash, 32);
	return status;
}

/* Prints the value of a put (or the key's fields of a delete) of a mesh
 * namespace; 0 if ns is not one (the caller prints raw bytes). */
static int put_mesh(struct dump *d, struct out *o, const lk_log_item *it)
{
	struct fields fs;
	const char *what = NULL;
	const char *chain;
	lk_status st;

	if (d->raw || !it->ns_name || strncmp(it->ns_name, "mesh.", 5) != 0)
		return 0;
	memset(&fs, 0, sizeof fs);
	fs.d = d;
	fs.o = o;
	/* the fields go in a map of their own, after "mesh" */
	out_key(o, "value");
	out_map_begin(o);
	st = lk_mesh_describe(&what, it->ns_name, it->key, it->key_len,
			      it->kind == LK_LOG_PUT ? it->value : NULL,
			      it->value_len, put_field, &fs);
	while (fs.list_left > 0) { /* a list cut short by damage */
		out_str(o, "");
		fs.list_left--;
		if (fs.list_left == 0)
			out_seq_end(o);
	}
	out_map_end(o);
	if (what)
		out_kv_str(o, "mesh", what);
	if (st != LK_OK && st != LK_NOT_FOUND) {
		const char *msg = lk_errmsg();

		out_kv_str(o, "value_problem", msg && *msg ? msg
							   : lk_strerror(st));
	}
	if (it->kind == LK_LOG_PUT && it->checksum_ok && st == LK_OK &&
	    (chain = chain_status(d, &fs)) != NULL)
		out_kv_str(o, "chain", chain);
	return 1;
}

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
	put_bytes(d, o, "file", it->file, strlen(it->file));
	out_kv_u64(o, "offset", it->offset);
	out_kv_u64(o, "length", it->length);
	switch (it->kind) {
	case LK_LOG_SEGMENT:
		if (!it->what) {
			char *id = hex_of(it->db_id, 16);

			out_kv_u64(o, "format_version", it->format_version);
			out_kv_u64(o, "seq_prev", it->seq_prev);
			out_kv_u64(o, "record_seq_base", it->record_seq_base);
			out_kv_str(o, "db_id", id ? id : "");
			free(id);
		}
		break;
	case LK_LOG_PUT:
	case LK_LOG_DEL:
		out_kv_u64(o, "seq", it->seq);
		if (it->ns_name)
			out_kv_str(o, "namespace", it->ns_name);
		out_kv_u64(o, "namespace_id", it->ns);
		put_bytes(d, o, "key", it->key, it->key_len);
		out_kv_str(o, "checksum", it->checksum_ok ? "ok" : "mismatch");
		if (it->kind == LK_LOG_DEL)
			break;
		if (it->expire_at_ms)
			out_kv_time(o, "expires_at", it->expire_at_ms);
		if (it->compressed)
			out_kv_u64(o, "stored_bytes", it->stored_len);
		out_kv_u64(o, "value_bytes", it->value_len);
		if (!it->checksum_ok || !put_mesh(d, o, it))
			put_bytes(d, o, "value", it->value, it->value_len);
		break;
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
	if (it->kind == LK_LOG_DEL && !d->raw && it->ns_name &&
	    strncmp(it->ns_name, "mesh.", 5) == 0)
		(void)put_mesh(d, o, it);
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
