/* SPDX-License-Identifier: MIT */
/*
 * cli_fleet.c - `logkeep fleet verify --nats URL --stream NAME`: checks,
 * from the stream alone, what `logkeep ship` sent from every node.
 *
 * Method.  The stream is read once, in order.  Each message is parsed
 * (json_object_members), then rendered again from its raw bytes and
 * fields by the shipper's own function (ship_message_record) and compared
 * byte for byte: a message whose decoded fields were edited, or that no
 * shipper wrote, is named.  Per database (db_id; its node id is shown)
 * the record numbers must increase (a repeat is a duplicate, a smaller
 * one out of order).  Ledger entries are decoded by the mesh layer
 * (lk_mesh_entry_decode, which hashes them as `ledger verify` does) and
 * their chain checked as they come: each position one past the one
 * before, each prev_hash the hash of the entry before (zero for the
 * first).  A missing position is a gap, a mismatch a broken link, both
 * named by node, position and sequence number; gaps the node reported
 * (compaction dropped the records before they were shipped) are named
 * too.  An entry that comes out of order (a message the stream refused,
 * published again after later ones) is still named out of order, but
 * if it is the next position of a gap and links to the entry before,
 * it is no longer missing (late_entries), and the last one of a gap
 * must link to the entry after it; up to FLEET_HOLES_MAX gaps a node.
 * At the end each node's last ledger head shipped (entries and last
 * hash) must agree with its last entry: a stream that stops short of it
 * misses entries.  Memory: one small state per node (and its gaps,
 * 88 bytes each, at most 16), never the stream.
 *
 * Exit status: 0 every chain holds; 3 a problem was found; 4 the stream
 * cannot be read.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#if !LK_HAVE_NATS

int cmd_fleet(const char *cmd, int argc, char **argv)
{
	/* The manual still answers: it says what the command needs. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return CLI_SHOW_HELP;
	cli_msg(cmd, "this logkeep was built without NATS support (libnats "
		"was not found, or the nats option disabled it): no stream "
		"can be read");
	return CLI_ERROR;
}

#else /* LK_HAVE_NATS */

#include "cli_format.h"
#include "cli_out.h"
#include "logkeep_mesh.h"
#include "ship_message.h"
#include "ship_nats.h"

#define FLEET_MEMBERS_MAX 32
#define FLEET_NODES_MAX 100000u     /* databases in one stream */
#define FLEET_PROBLEMS_SHOWN 20u    /* per node; the rest are counted */
#define FLEET_MESSAGE_BYTES_MAX (4u * LK_VALUE_BYTES_MAX)
/* Gaps in a node's ledger positions that entries arriving late (out of
 * order: a message the stream refused, published again after later
 * ones) may still fill, per node; allocated at its first gap, 88 bytes
 * a gap. */
#define FLEET_HOLES_MAX 16u

enum { OPT_NATS = 256, OPT_STREAM };

/* Ledger positions next..last missing so far: a late entry at next must
 * link to prev, and the entry after last linked to end. */
struct hole {
	uint64_t first, next, last;
	uint8_t prev[32], end[32];
};

struct node {
	char db_hex[2 * LK_DB_ID_BYTES + 1];
	char *name;
	uint64_t messages, records, entries, gaps, duplicates, out_of_order,
		changed, broken, missing, problems;
	uint64_t last_seq;          /* the newest record number seen */
	uint64_t pos;               /* the last ledger entry's position */
	uint8_t hash[32];
	uint64_t head_entries;      /* the last ledger head shipped */
	uint8_t head_hash[32];
	uint64_t head_seq;
	uint64_t gap_first, gap_last; /* the last gap the node reported */
	struct hole *holes;         /* NULL until a gap */
	size_t nholes, holes_cap;   /* grown by doubling to FLEET_HOLES_MAX */
	uint64_t late;              /* entries that filled a hole */
};

struct fleet {
	const char *cmd;
	int json;
	struct node *nodes;
	size_t count, cap, last;
	uint64_t messages, foreign, problems;
	char *buf;                  /* parse buffer */
	size_t buf_cap;
};

static struct node *node_find(struct fleet *f, const char *db_hex,
			      const char *name)
{
	struct node *n;

	if (f->count && strcmp(f->nodes[f->last].db_hex, db_hex) == 0)
		return &f->nodes[f->last]; /* a node's messages come in runs */
	for (size_t i = 0; i < f->count; i++)
		if (strcmp(f->nodes[i].db_hex, db_hex) == 0) {
			f->last = i;
			return &f->nodes[i];
		}
	for (size_t i = 0; i < f->count; i++)
		if (strcmp(f->nodes[i].db_hex, db_hex) == 0)
			return &f->nodes[i];
	if (f->count == FLEET_NODES_MAX)
		return NULL;
	if (f->count == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 16;
		struct node *p = realloc(f->nodes, cap * sizeof *p);

		if (!p)
			return NULL;
		f->nodes = p;
		f->cap = cap;
	}
	n = &f->nodes[f->count];
	memset(n, 0, sizeof *n);
	snprintf(n->db_hex, sizeof n->db_hex, "%s", db_hex);
	n->name = strdup(name);
	if (!n->name)
		return NULL;
	f->last = f->count++;
	return n;
}

static void problem(struct fleet *f, struct node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void problem(struct fleet *f, struct node *n, const char *fmt, ...)
{
	va_list ap;

	f->problems++;
	if (n && n->problems++ >= FLEET_PROBLEMS_SHOWN)
		return;
	printf("%s%s%s%s: ", n ? "node " : "stream", n ? n->name : "",
	       n ? " db " : "", n ? n->db_hex : "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static const struct json_member *member(const struct json_member *m,
					size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(m[i].name, name) == 0)
			return &m[i];
	return NULL;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
				      : -1;
}

/* Decodes hex s[0..n) into out (n / 2 bytes); -1 if not hex. */
static int unhex(uint8_t *out, const char *s, size_t n)
{
	if (n % 2)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int number(const struct json_member *m, uint64_t *v)
{
	return !m || m->string || cli_parse_u64(m->value, 0, UINT64_MAX, v)
		       ? -1
		       : 0;
}

/* "2026-12-06T07:04:00.123Z" (out_time's form) as ms since the epoch. */
static int parse_time(const char *s, uint64_t *ms)
{
	int y, mo, d, h, mi, sec;
	unsigned frac;
	char z;
	int64_t days;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3u%c", &y, &mo, &d, &h, &mi,
		   &sec, &frac, &z) != 8 || z != 'Z' || mo < 1 || mo > 12)
		return -1;
	/* days from the civil date (Howard Hinnant's algorithm) */
	y -= mo <= 2;
	{
		int64_t era = (y >= 0 ? y : y - 399) / 400;
		int64_t yoe = y - era * 400;
		int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
		int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

		days = era * 146097 + doe - 719468;
	}
	if (days < 0)
		return -1;
	*ms = (((uint64_t)days * 24 + (uint64_t)h) * 60 + (uint64_t)mi) *
		      60000u +
	      (uint64_t)sec * 1000u + frac;
	return 0;
}

/* The ledger head's entries and last hash, through the mesh layer's
 * describer (the one reader of its values). */
struct head_fields {
	uint64_t entries;
	uint8_t last_hash[32];
	int have_hash;
};

static void head_field(void *arg, const lk_mesh_field *fl)
{
	struct head_fields *h = arg;

	if (!fl->name)
		return;
	if (fl->kind == LK_MESH_FIELD_U64 && strcmp(fl->name, "entries") == 0)
		h->entries = fl->u;
	if (fl->kind == LK_MESH_FIELD_HASH &&
	    strcmp(fl->name, "last_hash") == 0) {
		memcpy(h->last_hash, fl->hash, 32);
		h->have_hash = 1;
	}
}

/* Notes the gap first..last (prev: the hash of first - 1; end: the
 * prev_hash of last + 1), if there is room. */
static void hole_open(struct node *n, uint64_t first, uint64_t last,
		      const uint8_t prev[32], const uint8_t end[32])
{
	struct hole *h;

	if (n->nholes == n->holes_cap) {
		/* most nodes have no gap or one (compaction's, which stays
		 * open): room for 16 in each of 100,000 nodes would be
		 * 140 MB */
		size_t cap = n->holes_cap ? 2 * n->holes_cap : 1;

		if (cap > FLEET_HOLES_MAX)
			return; /* counted missing all the same */
		h = realloc(n->holes, cap * sizeof *h);
		if (!h)
			return;
		n->holes = h;
		n->holes_cap = cap;
	}
	h = &n->holes[n->nholes++];
	h->first = first;
	h->next = first;
	h->last = last;
	memcpy(h->prev, prev, 32);
	memcpy(h->end, end, 32);
}

/* The chain's next entry (position past n->pos): a gap before it, or its
 * link to the entry before. */
static void chain_entry(struct fleet *f, struct node *n, uint64_t seq,
			const lk_mesh_entry *e)
{
	static const uint8_t zero[32];

	if (e->position > n->pos + 1) {
		hole_open(n, n->pos + 1, e->position - 1,
			  n->pos ? n->hash : zero, e->prev_hash);
		n->missing += e->position - n->pos - 1;
		problem(f, n, "gap: ledger positions %" PRIu64
			"..%" PRIu64 " missing before seq %" PRIu64
			"%s", n->pos + 1, e->position - 1, seq,
			n->gap_last ? " (the node reported numbers "
				      "compacted away before they "
				      "were shipped)"
				    : "");
	} else if (memcmp(e->prev_hash, e->position == 1 ? zero : n->hash,
			  32) != 0) {
		n->broken++;
		problem(f, n, "broken link at ledger position %" PRIu64
			" (seq %" PRIu64 ", entity %s): its prev_hash is "
			"not the hash of position %" PRIu64,
			e->position, seq, e->entity, e->position - 1);
	}
	n->pos = e->position;
	memcpy(n->hash, e->hash, 32);
}

/* A ledger entry that came out of order: if it is the next position of
 * a gap and links to the entry before, the gap shrinks (no longer
 * missing); its last entry must link to the one after the gap. */
static void fill_late(struct fleet *f, struct node *n, uint64_t seq,
		      const uint8_t *key, size_t key_len, const uint8_t *raw,
		      size_t raw_len)
{
	lk_mesh_entry *e = NULL;

	if (key_len < 1 || key[0] != 'e' ||
	    lk_mesh_entry_decode(&e, raw, raw_len) != LK_OK)
		return;
	if (e->position > n->pos) { /* no gap open before it yet */
		n->entries++;
		n->late++;
		chain_entry(f, n, seq, e);
		lk_free(e);
		return;
	}
	for (size_t i = 0; i < n->nholes; i++) {
		struct hole *h = &n->holes[i];

		if (e->position != h->next)
			continue;
		if (memcmp(e->prev_hash, h->prev, 32) != 0) {
			n->broken++;
			problem(f, n, "late entry at ledger position %" PRIu64
				" (seq %" PRIu64 "): its prev_hash is not the "
				"hash of position %" PRIu64, e->position, seq,
				e->position - 1);
			break;
		}
		n->entries++;
		n->missing--;
		n->late++;
		memcpy(h->prev, e->hash, 32);
		if (h->next++ < h->last)
			break;
		if (memcmp(e->hash, h->end, 32) != 0) {
			n->broken++;
			problem(f, n, "late entry at ledger position %" PRIu64
				" (seq %" PRIu64 "): position %" PRIu64 "'s "
				"prev_hash is not its hash", e->position, seq,
				e->position + 1);
		} else if (n->problems <= FLEET_PROBLEMS_SHOWN) {
			/* not a problem: the gap's line above no longer holds */
			printf("node %s db %s: ledger positions %" PRIu64
			       "..%" PRIu64 ": that gap is filled by late "
			       "entries (the last seq %" PRIu64 "), linked to "
			       "the entries before and after\n", n->name,
			       n->db_hex, h->first, h->last, seq);
		}
		*h = n->holes[--n->nholes]; /* filled */
		break;
	}
	lk_free(e);
}

static void check_ledger(struct fleet *f, struct node *n, uint64_t seq,
			 const uint8_t *key, size_t key_len,
			 const uint8_t *raw, size_t raw_len)
{
	lk_mesh_entry *e = NULL;
	lk_status st;

	if (key_len == 1 && key[0] == 'H') {
		struct head_fields h;
		const char *what = NULL;

		memset(&h, 0, sizeof h);
		if (lk_mesh_describe(&what, "mesh.ledger", key, key_len, raw,
				     raw_len, head_field, &h) == LK_OK &&
		    h.have_hash) {
			n->head_entries = h.entries;
			memcpy(n->head_hash, h.last_hash, 32);
			n->head_seq = seq;
		}
		return;
	}
	if (key_len < 1 || key[0] != 'e')
		return;
	st = lk_mesh_entry_decode(&e, raw, raw_len);
	if (st != LK_OK) {
		n->broken++;
		problem(f, n, "seq %" PRIu64 ": a ledger entry that does not "
			"decode: %s", seq, lk_errmsg());
		return;
	}
	n->entries++;
	if (e->position <= n->pos) {
		n->duplicates++;
		problem(f, n, "seq %" PRIu64 ": ledger position %" PRIu64
			" again (after %" PRIu64 ")", seq, e->position, n->pos);
	} else {
		chain_entry(f, n, seq, e);
	}
	lk_free(e);
}

static int on_message(void *arg, uint64_t stream_seq, const char *subject,
		      const char *data, size_t len)
{
	struct fleet *f = arg;
	struct json_member m[FLEET_MEMBERS_MAX];
	const struct json_member *kind, *node, *db, *key, *raw, *ns, *exp;
	size_t count = 0, at = 0, key_len, raw_len = 0;
	uint64_t seq = 0, ns_id = 0, expire_at_ms = 0, seq_last = 0;
	uint8_t *kbuf = NULL, *rbuf = NULL;
	struct node *n;
	const char *why;

	(void)subject;
	f->messages++;
	if (len > FLEET_MESSAGE_BYTES_MAX) {
		f->foreign++;
		problem(f, NULL, "message %" PRIu64 ": %zu bytes, more than a "
			"shipper sends", stream_seq, len);
		return 0;
	}
	if (len + 1 > f->buf_cap) {
		char *p = realloc(f->buf, len + 1);

		if (!p)
			return -1;
		f->buf = p;
		f->buf_cap = len + 1;
	}
	why = json_object_members(data, len, f->buf, m, FLEET_MEMBERS_MAX,
				  &count, &at);
	kind = why ? NULL : member(m, count, "kind");
	node = why ? NULL : member(m, count, "node");
	db = why ? NULL : member(m, count, "db_id");
	if (why || !kind || !node || !db || !node->string || !db->string ||
	    db->value_len != 2 * LK_DB_ID_BYTES ||
	    number(member(m, count, "seq"), &seq)) {
		f->foreign++;
		problem(f, NULL, "message %" PRIu64 ": not a logkeep message%s%s",
			stream_seq, why ? ": " : "", why ? why : "");
		return 0;
	}
	n = node_find(f, db->value, node->value);
	if (!n)
		return -1;
	n->messages++;
	if (strcmp(n->name, node->value) != 0)
		problem(f, n, "seq %" PRIu64 ": node id %s, earlier %s", seq,
			node->value, n->name);
	if (strcmp(kind->value, "gap") == 0) {
		if (number(member(m, count, "seq_last"), &seq_last) ||
		    seq_last < seq) {
			problem(f, n, "message %" PRIu64 ": a gap without its "
				"range", stream_seq);
			return 0;
		}
		n->gaps++;
		n->gap_first = seq;
		n->gap_last = seq_last;
		if (seq_last > n->last_seq)
			n->last_seq = seq_last;
		return 0;
	}
	ns = member(m, count, "namespace");
	key = member(m, count, "key");
	if (!key)
		key = member(m, count, "key_hex");
	raw = member(m, count, "raw_hex");
	exp = member(m, count, "expires_at");
	key_len = key ? (key->name[3] == '_' ? key->value_len / 2
					     : key->value_len)
		      : 0;
	raw_len = raw ? raw->value_len / 2 : 0;
	kbuf = malloc(key_len + 1);
	rbuf = malloc(raw_len + 1);
	if (!kbuf || !rbuf) {
		free(kbuf);
		free(rbuf);
		return -1;
	}
	if (!key || !ns || number(member(m, count, "namespace_id"), &ns_id) ||
	    (strcmp(kind->value, "put") != 0 && strcmp(kind->value, "del")) ||
	    (key->name[3] == '_'
		     ? unhex(kbuf, key->value, key->value_len)
		     : (memcpy(kbuf, key->value, key_len), 0)) ||
	    (raw && unhex(rbuf, raw->value, raw->value_len)) ||
	    (!raw && strcmp(kind->value, "put") == 0) ||
	    (exp && parse_time(exp->value, &expire_at_ms))) {
		n->changed++;
		problem(f, n, "message %" PRIu64 " (seq %" PRIu64 "): fields "
			"missing or malformed", stream_seq, seq);
		goto done;
	}
	{
		struct dump_record r = {
			.del = kind->value[0] == 'd',
			.seq = seq,
			.ns_name = ns->value,
			.ns = (uint32_t)ns_id,
			.key = kbuf,
			.key_len = key_len,
			.checksum_ok = 1,
			.expire_at_ms = expire_at_ms,
			.value = rbuf,
			.value_len = raw_len,
		};
		char *again = NULL;
		size_t again_len = 0;

		if (ship_message_record(&again, &again_len, &r, node->value,
					db->value) != 0) {
			free(kbuf);
			free(rbuf);
			return -1;
		}
		if (again_len != len || memcmp(again, data, len) != 0) {
			n->changed++;
			problem(f, n, "message %" PRIu64 " (seq %" PRIu64 "): "
				"its fields are not what its raw bytes say: "
				"changed after it was shipped",
				stream_seq, seq);
			free(again);
			goto done;
		}
		free(again);
	}
	if (seq == n->last_seq && n->records) {
		n->duplicates++;
		problem(f, n, "seq %" PRIu64 " twice (message %" PRIu64 ")",
			seq, stream_seq);
		goto done;
	}
	if (seq < n->last_seq) {
		n->out_of_order++;
		problem(f, n, "seq %" PRIu64 " after %" PRIu64 " (message %"
			PRIu64 "): out of order", seq, n->last_seq,
			stream_seq);
		if (kind->value[0] == 'p' &&
		    strcmp(ns->value, "mesh.ledger") == 0)
			fill_late(f, n, seq, kbuf, key_len, rbuf, raw_len);
		goto done;
	}
	n->last_seq = seq;
	n->records++;
	if (kind->value[0] == 'p' && strcmp(ns->value, "mesh.ledger") == 0)
		check_ledger(f, n, seq, kbuf, key_len, rbuf, raw_len);
done:
	free(kbuf);
	free(rbuf);
	return 0;
}

static void node_end(struct fleet *f, struct node *n)
{
	if (n->head_entries > n->pos)
		{
			n->missing += n->head_entries - n->pos;
			problem(f, n, "the stream ends at ledger position %"
				PRIu64 " but the node's ledger head (seq %"
				PRIu64 ") has %" PRIu64 " entries: positions %"
				PRIu64 "..%" PRIu64 " missing", n->pos,
				n->head_seq, n->head_entries, n->pos + 1,
				n->head_entries);
		}
	else if (n->head_entries && n->head_entries == n->pos &&
		 memcmp(n->head_hash, n->hash, 32) != 0) {
		n->broken++;
		problem(f, n, "the ledger head (seq %" PRIu64 ") names another "
			"last entry than position %" PRIu64, n->head_seq,
			n->pos);
	}
}

static void node_report(struct fleet *f, const struct node *n)
{
	if (f->json) {
		struct out *o = out_new(stdout, 1);

		if (!o)
			return;
		out_map_begin(o);
		out_kv_str(o, "node", n->name);
		out_kv_str(o, "db_id", n->db_hex);
		out_kv_u64(o, "messages", n->messages);
		out_kv_u64(o, "records", n->records);
		out_kv_u64(o, "ledger_entries", n->entries);
		out_kv_u64(o, "ledger_position", n->pos);
		out_kv_u64(o, "gaps", n->gaps);
		out_kv_u64(o, "duplicates", n->duplicates);
		out_kv_u64(o, "out_of_order", n->out_of_order);
		out_kv_u64(o, "missing", n->missing);
		out_kv_u64(o, "late_entries", n->late);
		out_kv_u64(o, "broken", n->broken);
		out_kv_u64(o, "changed", n->changed);
		out_kv_u64(o, "problems", n->problems);
		out_kv_bool(o, "chain_holds", n->problems == 0);
		out_map_end(o);
		(void)out_end(o);
		return;
	}
	printf("node %s db %s: %" PRIu64 " messages, %" PRIu64 " records, %"
	       PRIu64 " ledger entries (to position %" PRIu64 "%s), %" PRIu64
	       " gaps reported: %s\n", n->name, n->db_hex, n->messages,
	       n->records, n->entries, n->pos,
	       n->late ? "; some late, linked in" : "", n->gaps,
	       n->problems ? "PROBLEMS" : "chain holds");
	if (n->problems > FLEET_PROBLEMS_SHOWN)
		printf("node %s: %" PRIu64 " more problems not shown\n",
		       n->name, n->problems - FLEET_PROBLEMS_SHOWN);
}

int cmd_fleet(const char *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "nats", required_argument, NULL, OPT_NATS },
		{ "stream", required_argument, NULL, OPT_STREAM },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = NULL, *stream = NULL;
	struct fleet f;
	struct snats *sn = NULL;
	char err[SNATS_ERR_BYTES];
	uint64_t last = 0;
	int c, rc;

	memset(&f, 0, sizeof f);
	f.cmd = cmd;
	/* fleet SUBCOMMAND [options]: the subcommand comes first */
	if (argc < 2 || argv[1][0] == '-')
		return argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
				     strcmp(argv[1], "--help") == 0)
			       ? CLI_SHOW_HELP
			       : cli_usage_error(cmd, "expected a subcommand: "
						 "verify");
	if (strcmp(argv[1], "verify") != 0)
		return cli_usage_error(cmd, "'%s': the one fleet command is "
				       "verify", argv[1]);
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return CLI_SHOW_HELP;
		case 'j':
			f.json = 1;
			break;
		case OPT_NATS:
			url = optarg;
			break;
		case OPT_STREAM:
			stream = optarg;
			break;
		default:
			return cli_bad_option(cmd, c, argv);
		}
	}
	rc = cli_operands(cmd, argc - optind, 0, 0, "");
	if (rc != CLI_OK)
		return rc;
	if (!url || !stream)
		return cli_usage_error(cmd, "--nats URL and --stream NAME are "
				       "required");
	if (snats_open(&sn, url, 5000, NULL, NULL, err) != 0 ||
	    snats_read(sn, stream, &last, on_message, &f, err) != 0) {
		cli_msg(cmd, "%s", err);
		snats_close(sn);
		for (size_t i = 0; i < f.count; i++) {
			free(f.nodes[i].name);
			free(f.nodes[i].holes);
		}
		free(f.nodes);
		free(f.buf);
		return CLI_ERROR;
	}
	snats_close(sn);
	for (size_t i = 0; i < f.count; i++)
		node_end(&f, &f.nodes[i]);
	for (size_t i = 0; i < f.count; i++) {
		node_report(&f, &f.nodes[i]);
		free(f.nodes[i].name);
		free(f.nodes[i].holes);
	}
	if (!f.json)
		printf("stream %s: %" PRIu64 " messages read (to sequence %"
		       PRIu64 "), %zu nodes, %" PRIu64 " not logkeep's, %"
		       PRIu64 " problems\n", stream, f.messages, last,
		       f.count, f.foreign, f.problems);
	free(f.nodes);
	free(f.buf);
	if (fflush(stdout) != 0)
		return CLI_ERROR;
	return f.problems ? CLI_CORRUPT : CLI_OK;
}

#endif /* LK_HAVE_NATS */
