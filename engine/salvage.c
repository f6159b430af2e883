/* SPDX-License-Identifier: MIT */
/*
 * salvage.c - lk_salvage(): bring a directory that a strict open refuses
 * back to one it accepts, keeping every valid record and every damaged
 * file, and saying exactly what was lost (SPEC §5).
 *
 * Method.
 *   1. lk_verify() says whether a strict open would refuse the directory,
 *      which files are an interrupted compaction's leftovers (open removes
 *      those itself) and which snapshot is damaged.
 *   2. One pass of lk_log_read() over the directory sums up each segment
 *      file: its header, whether it holds damage (a region that is no
 *      record, a record breaking an ordering rule, a group cut from its
 *      commit anywhere but at the newest segment's tail), its seal, and
 *      the sequence numbers of its committed records.  Groups lost to the
 *      damage are named with their sequence range, their records counted
 *      per namespace, and their keys kept (up to SV_KEYS_MAX) to tell
 *      which of them fall back to an older value.
 *   3. The plan, in log order: a file that cannot be in this log (its
 *      header fails, its name and header disagree, another database's)
 *      goes aside; a segment with damage, or whose link points at a
 *      missing one, is rewritten as a new generation holding its valid
 *      committed records (sealed, as compaction writes them, unless it is
 *      the newest); a sealed newest segment gets an empty successor.  A
 *      compaction's leftover goes aside too (first): beside a rewritten
 *      file, open could take the wrong one of a place for the leftover.
 *      Snapshots describe the log before: they are removed (a damaged one
 *      kept aside).
 *   4. With apply, under the directory's lock: a file to be rewritten is
 *      first copied to NAME.broken (through a temporary name, synced),
 *      then its new generation is written and synced (with the
 *      directory), then the old name is removed; a file that goes aside
 *      is renamed.  A complete rewritten segment supersedes the old one
 *      the way a compaction's output does (recovery.c, find_leftovers),
 *      so a crash at any point leaves the copy and a directory that
 *      opens, or one that salvage finishes on its next run.
 *
 * Bounds: one group of records is held at a time while rewriting (a group
 * larger than the format allows is lost, not held); the summaries are one
 * per segment file (at most LK_SEGMENT_COUNT_MAX); lost ranges and keys
 * are capped and counted past the cap.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "alloc.h"
#include "compress.h"
#include "error.h"
#include "segment.h"
#include "snapshot.h"

/* Keys of lost groups looked up for an older value; past this they are
 * counted, not named (a few thousand lines is what a person reads). */
#define SV_KEYS_MAX 200u
/* Lost ranges named one by one, the same way. */
#define SV_LOST_MAX 4096u
#define SV_NAME_BYTES (SEG_NAME_BYTES + 16u)

struct sv_seg {
	char name[SEG_NAME_BYTES];
	uint64_t seq;            /* header's, or the name's when it fails */
	uint32_t gen;
	int header_ok, aside, leftover, newest, rewrite, relink;
	const char *aside_why;
	uint8_t db_id[SEG_DB_ID_BYTES];
	uint32_t format;
	uint64_t seq_prev, seq_base;
	int damaged, sealed, tail;
	uint64_t tail_at;
	uint64_t first_seq, last_seq; /* of its committed records */
	uint64_t ops;
};

struct sv_lost {
	uint64_t first, last, records;
	uint32_t ns;             /* 0 with records 0: unknown */
	int unknown;
	char what[96];
};

struct sv_key {
	uint64_t hash;
	uint32_t ns;
	uint64_t lost_seq;       /* the lost record's */
	uint64_t older;          /* newest committed seq below it */
	int newer;               /* a committed record above it survives */
	uint32_t key_len;
	uint8_t key[LK_KEY_BYTES_MAX];
};

struct salvage {
	const lk_io *io;
	const char *path;
	lk_salvage_report *rep;
	lk_salvage_fn fn;
	void *arg;
	/* from lk_verify */
	int needed;
	char leftovers[64][SEG_NAME_BYTES];
	size_t nleftovers;
	char bad_snapshot[SNAP_NAME_BYTES];
	/* the summaries */
	struct sv_seg *segs;
	size_t nsegs;
	struct sv_seg *cur;
	/* the group being read */
	uint64_t g_first, g_last, g_ops;
	uint64_t g_ns[LK_NS_COUNT_MAX + 1];
	char g_ns_name[LK_NS_COUNT_MAX + 1][LK_NS_NAME_BYTES_MAX + 1];
	size_t g_keys_at;        /* keys[] of the group start here */
	int g_pending_discard;   /* a DISCARD waits for what follows */
	uint64_t last_committed; /* seq, in the whole log */
	uint64_t lost_end;       /* the last seq named lost so far */
	int gap_open;            /* damage since the last committed group */
	uint64_t max_seq;
	/* what is lost */
	struct sv_lost *lost;
	size_t nlost;
	uint64_t lost_overflow;
	struct sv_key *keys;
	size_t nkeys;
	uint64_t keys_overflow;
	lk_status st;
};

/* ---------------------------------------------------------------------- */
/* Steps                                                                  */
/* ---------------------------------------------------------------------- */

static void step(struct salvage *sv, lk_salvage_step *s)
{
	s->version = LK_SALVAGE_STEP_VERSION;
	if (sv->fn)
		sv->fn(sv->arg, s);
}

/* The most sequence numbers that missing segments can have given: at
 * most LK_SEGMENT_COUNT_MAX segments of at most LK_SEGMENT_FILE_BYTES_MAX,
 * a put or delete taking at least REC_BYTES_MIN bytes (about 2^37). */
#define SV_MISSING_SEQS_MAX                                                   \
	((uint64_t)LK_SEGMENT_COUNT_MAX *                                     \
	 (LK_SEGMENT_FILE_BYTES_MAX / REC_BYTES_MIN))

static void lost(struct salvage *sv, uint64_t first, uint64_t last,
		 uint32_t ns, uint64_t records, int unknown, const char *what)
{
	struct sv_lost *l;

	if (sv->nlost == SV_LOST_MAX) {
		sv->lost_overflow++;
		return;
	}
	if (!sv->lost) {
		sv->lost = mem_calloc(SV_LOST_MAX, sizeof *sv->lost);
		if (!sv->lost) {
			sv->st = err_set(LK_NOMEM, "salvage: lost ranges");
			return;
		}
	}
	l = &sv->lost[sv->nlost++];
	l->first = first;
	l->last = last;
	l->ns = ns;
	l->records = records;
	l->unknown = unknown;
	snprintf(l->what, sizeof l->what, "%s", what);
}

/* ---------------------------------------------------------------------- */
/* Pass 1: what each segment holds                                        */
/* ---------------------------------------------------------------------- */

static void group_reset(struct salvage *sv)
{
	sv->g_ops = 0;
	memset(sv->g_ns, 0, sizeof sv->g_ns);
	sv->g_keys_at = sv->nkeys;
}

/* The first sequence number damage may have taken: after the last one
 * committed or already named lost. */
static uint64_t gap_start(const struct salvage *sv)
{
	return (sv->last_committed > sv->lost_end ? sv->last_committed
						  : sv->lost_end) + 1;
}

/* The group read so far is lost (its commit is not there). */
static void group_lost(struct salvage *sv, const char *what)
{
	uint64_t from;

	if (sv->g_ops == 0)
		return;
	/* after damage, the records in the damaged bytes go with it */
	from = sv->gap_open ? gap_start(sv) : sv->g_first;
	sv->gap_open = 0;
	for (uint32_t ns = 0; ns <= LK_NS_COUNT_MAX; ns++)
		if (sv->g_ns[ns])
			lost(sv, from < sv->g_first ? from : sv->g_first,
			     sv->g_last, ns, sv->g_ns[ns], 0, what);
	if (sv->g_last > sv->lost_end)
		sv->lost_end = sv->g_last;
	sv->g_keys_at = sv->nkeys; /* its keys stay, to be looked up */
	sv->g_ops = 0;
	memset(sv->g_ns, 0, sizeof sv->g_ns);
	sv->cur->damaged = 1;
}

/* A torn tail: what open discards anyway, not salvage's loss. */
static void group_tail(struct salvage *sv)
{
	sv->nkeys = sv->g_keys_at;
	group_reset(sv);
}

static void group_committed(struct salvage *sv)
{
	struct sv_seg *s = sv->cur;

	if (sv->g_ops == 0)
		return;
	if (sv->gap_open && sv->g_first > gap_start(sv))
		lost(sv, gap_start(sv), sv->g_first - 1, 0, 0, 1,
		     "records in damaged bytes");
	sv->gap_open = 0;
	if (!s->first_seq)
		s->first_seq = sv->g_first;
	s->last_seq = sv->g_last;
	s->ops += sv->g_ops;
	sv->last_committed = sv->g_last;
	sv->nkeys = sv->g_keys_at; /* committed: not lost */
	group_reset(sv);
}

static void keep_key(struct salvage *sv, const lk_log_item *it)
{
	struct sv_key *k;

	if (sv->nkeys == SV_KEYS_MAX) {
		sv->keys_overflow++;
		return;
	}
	if (!sv->keys) {
		sv->keys = mem_calloc(SV_KEYS_MAX, sizeof *sv->keys);
		if (!sv->keys) {
			sv->st = err_set(LK_NOMEM, "salvage: lost keys");
			return;
		}
	}
	k = &sv->keys[sv->nkeys++];
	k->ns = it->ns;
	k->key_len = (uint32_t)it->key_len;
	memcpy(k->key, it->key, it->key_len);
	k->hash = record_key_hash(it->ns, it->key, it->key_len);
	k->lost_seq = it->seq;
	k->older = 0;
	k->newer = 0;
}

/* Decides a DISCARD that waited for the item after it. */
static void settle_discard(struct salvage *sv, int tail)
{
	if (!sv->g_pending_discard)
		return;
	sv->g_pending_discard = 0;
	if (tail)
		group_tail(sv);
	else
		group_lost(sv, "a group whose commit is lost");
}

static void new_segment(struct salvage *sv, const lk_log_item *it)
{
	struct sv_seg *s;
	uint64_t seq;
	uint32_t gen;

	s = &sv->segs[sv->nsegs++];
	memset(s, 0, sizeof *s);
	sv->cur = s;
	snprintf(s->name, sizeof s->name, "%s", it->file);
	s->seq = it->segment_seq;
	s->gen = it->generation;
	s->header_ok = it->what == NULL;
	if (!s->header_ok) {
		s->aside = 1;
		s->aside_why = "its header fails its checks";
		return;
	}
	memcpy(s->db_id, it->db_id, SEG_DB_ID_BYTES);
	s->format = it->format_version;
	s->seq_prev = it->seq_prev;
	s->seq_base = it->record_seq_base;
	if (!seg_parse_name(s->name, &seq, &gen) || seq != s->seq ||
	    gen != s->gen) {
		s->aside = 1;
		s->aside_why = "its name and header disagree on its place "
			       "(a copy of another segment)";
	}
}

static int summarise(void *arg, const lk_log_item *it)
{
	struct salvage *sv = arg;
	struct sv_seg *s = sv->cur;

	if (it->kind != LK_LOG_DAMAGE)
		settle_discard(sv, 0);
	switch (it->kind) {
	case LK_LOG_SEGMENT:
		if (s) {
			settle_discard(sv, 0);
			group_lost(sv, "a group cut by the end of its segment");
		}
		group_reset(sv);
		if (sv->nsegs == LK_SEGMENT_COUNT_MAX)
			return 1;
		new_segment(sv, it);
		break;
	case LK_LOG_PUT:
	case LK_LOG_DEL:
		if (!it->checksum_ok)
			break; /* the DAMAGE item after it counts */
		if (it->what)
			s->damaged = 1;
		if (sv->g_ops++ == 0)
			sv->g_first = it->seq;
		sv->g_last = it->seq;
		sv->g_ns[it->ns]++;
		if (it->ns_name)
			snprintf(sv->g_ns_name[it->ns],
				 sizeof sv->g_ns_name[it->ns], "%s",
				 it->ns_name);
		if (it->seq > sv->max_seq)
			sv->max_seq = it->seq;
		if (it->ns != 0)
			keep_key(sv, it);
		break;
	case LK_LOG_COMMIT:
		if (it->what) {
			/* damage even without records before it: an open
			 * refuses a bad commit a later one vouches for */
			s->damaged = 1;
			group_lost(sv, "a group whose commit does not match it");
		} else
			group_committed(sv);
		break;
	case LK_LOG_SEAL:
		if (it->what)
			s->damaged = 1;
		group_lost(sv, "a group cut by the seal");
		s->sealed = 1;
		break;
	case LK_LOG_DAMAGE:
		if (it->length == 0)
			break; /* the chain's: plan() decides from headers */
		if (it->tail) {
			settle_discard(sv, 1);
			s->tail = 1;
			s->tail_at = it->offset;
		} else {
			settle_discard(sv, 0);
			s->damaged = 1;
			sv->gap_open = 1;
		}
		break;
	case LK_LOG_DISCARD:
		sv->g_pending_discard = 1;
		break;
	case LK_LOG_FREE:
		break;
	}
	return sv->st != LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Pass 2: older values of the lost keys                                  */
/* ---------------------------------------------------------------------- */

struct older {
	struct salvage *sv;
	/* matches of the group being read: index into keys, and the seq */
	size_t idx[64];
	uint64_t seq[64];
	size_t n;
	int overflow;
};

static int look_older(void *arg, const lk_log_item *it)
{
	struct older *o = arg;
	struct salvage *sv = o->sv;

	if (it->kind == LK_LOG_COMMIT && !it->what) {
		for (size_t i = 0; i < o->n; i++) {
			struct sv_key *k = &sv->keys[o->idx[i]];

			if (o->seq[i] < k->lost_seq && o->seq[i] > k->older)
				k->older = o->seq[i];
			if (o->seq[i] > k->lost_seq)
				k->newer = 1;
		}
	}
	if (it->kind != LK_LOG_PUT && it->kind != LK_LOG_DEL) {
		if (it->kind != LK_LOG_SEGMENT)
			o->n = 0;
		return 0;
	}
	if (!it->checksum_ok || it->what)
		return 0;
	{
		uint64_t h = record_key_hash(it->ns, it->key, it->key_len);

		for (size_t i = 0; i < sv->nkeys; i++) {
			struct sv_key *k = &sv->keys[i];

			if (k->hash != h || k->ns != it->ns ||
			    k->key_len != it->key_len ||
			    memcmp(k->key, it->key, it->key_len) != 0 ||
			    it->seq == k->lost_seq)
				continue;
			if (o->n < 64) {
				o->idx[o->n] = i;
				/* a delete leaves no older value to read */
				o->seq[o->n++] = it->kind == LK_LOG_DEL
							 ? (it->seq < k->lost_seq
								    ? 0
								    : it->seq)
							 : it->seq;
			}
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The plan                                                               */
/* ---------------------------------------------------------------------- */

static int is_leftover(const struct salvage *sv, const char *name)
{
	for (size_t i = 0; i < sv->nleftovers; i++)
		if (strcmp(sv->leftovers[i], name) == 0)
			return 1;
	return 0;
}

static void verify_problem(void *arg, const lk_problem *p)
{
	struct salvage *sv = arg;

	if (p->kind == LK_PROBLEM_LEFTOVER && p->file &&
	    sv->nleftovers < 64) {
		snprintf(sv->leftovers[sv->nleftovers++], SEG_NAME_BYTES, "%s",
			 p->file);
		return;
	}
	if (p->kind == LK_PROBLEM_TORN_TAIL || p->kind == LK_PROBLEM_LEFTOVER)
		return;
	if (p->segment_seq == 0 && p->file &&
	    strstr(p->file, ".snap") != NULL) {
		snprintf(sv->bad_snapshot, sizeof sv->bad_snapshot, "%s",
			 p->file);
		return;
	}
	sv->needed = 1;
}

/* 1 if a range already named lost starts at first (the records of a
 * file set aside are named once, not again as a missing segment). */
static int already_lost(const struct salvage *sv, uint64_t first)
{
	for (size_t i = 0; i < sv->nlost; i++)
		if (sv->lost[i].first == first)
			return 1;
	return 0;
}

/* Decides each segment's fate; returns the index of the newest kept. */
static size_t plan(struct salvage *sv)
{
	const uint8_t *db_id = NULL;
	uint64_t prev_seq = 0, prev_last = 0;
	size_t newest = SIZE_MAX;

	/* A compaction's leftover, which open would remove, is set aside
	 * (kept, like every file salvage takes out of the log): the files
	 * rewritten beside it change which file at a place open would take
	 * for the leftover.  First, for the test below of each file after
	 * it. */
	for (size_t i = 0; i < sv->nsegs; i++) {
		struct sv_seg *s = &sv->segs[i];

		s->leftover = is_leftover(sv, s->name);
		if (s->leftover && !s->aside) {
			s->aside = 1;
			s->aside_why = "a compaction's leftover, which open "
				       "would remove";
		}
	}
	for (size_t i = 0; i < sv->nsegs; i++) {
		struct sv_seg *s = &sv->segs[i];

		if (s->aside || s->leftover)
			continue;
		if (!db_id)
			db_id = s->db_id;
		else if (memcmp(db_id, s->db_id, SEG_DB_ID_BYTES) != 0) {
			s->aside = 1;
			s->aside_why = "it belongs to another database";
		}
		/* a second file at one place: the later generation stays */
		for (size_t k = i + 1; !s->aside && k < sv->nsegs; k++)
			if (!sv->segs[k].aside && !sv->segs[k].leftover &&
			    sv->segs[k].header_ok &&
			    sv->segs[k].seq == s->seq) {
				s->aside = 1;
				s->aside_why = "a later generation holds its "
					       "place in the log";
			}
		if (!s->aside)
			newest = i;
	}
	for (size_t i = 0; i < sv->nsegs; i++) {
		struct sv_seg *s = &sv->segs[i];

		if (s->aside || s->leftover)
			continue;
		s->newest = i == newest;
		s->relink = s->seq_prev != prev_seq;
		if (s->relink) {
			char what[96];
			uint64_t first = prev_last + 1;
			uint64_t last = s->first_seq ? s->first_seq - 1
				      : s->seq_base ? s->seq_base - 1 : 0;

			if (s->seq_prev > prev_seq && s->seq_prev < s->seq)
				snprintf(what, sizeof what, "segment %" PRIu64
					 " is missing (between %" PRIu64
					 " and %" PRIu64 ")", s->seq_prev,
					 prev_seq, s->seq);
			else
				snprintf(what, sizeof what, "segment %" PRIu64
					 " links to segment %" PRIu64 ", not "
					 "to %" PRIu64 " before it", s->seq,
					 s->seq_prev, prev_seq);
			if (!already_lost(sv, first))
				lost(sv, first, last >= first ? last : first,
				     0, 0, 1, what);
		}
		s->rewrite = s->damaged || s->relink ||
			     (!s->newest && !s->sealed);
		prev_seq = s->seq;
		if (s->last_seq)
			prev_last = s->last_seq;
	}
	return newest;
}

/* ---------------------------------------------------------------------- */
/* Writing                                                                */
/* ---------------------------------------------------------------------- */

struct op {
	uint8_t type, flags, ns;
	uint64_t seq, expire_at_ms;
	uint32_t key_len, value_len;
	uint8_t *data;           /* key then value, as stored */
};

struct writer {
	struct salvage *sv;
	struct segment *out;
	struct compressor *zc;
	uint64_t at;             /* next offset */
	uint64_t ops;            /* committed records written */
	struct op *group;
	size_t n, cap;
	uint64_t group_bytes;
	int too_big;
	lk_status st;
};

static lk_status put_record(struct writer *w, const struct record *r)
{
	const lk_io *io = w->sv->io;
	size_t need = record_encoded_size(r, w->out->hdr.record_seq_base);
	uint8_t *buf = mem_alloc(need);
	lk_status st;

	if (!buf)
		return err_set(LK_NOMEM, "salvage: a record of %zu bytes", need);
	record_encode(buf, r, w->out->hdr.record_seq_base,
		      seg_seed(w->out, w->at));
	st = io->pwrite(io->ctx, w->out->file, buf, need, w->at);
	if (st == LK_OK)
		seg_hash_add(w->out, buf, need, w->at);
	mem_free(buf);
	w->at += need;
	return st;
}

static lk_status put_end(struct writer *w, uint8_t type, uint64_t count)
{
	struct record c;
	lk_status st = LK_OK;

	memset(&c, 0, sizeof c);
	c.type = type;
	c.seq = w->out->hdr.record_seq_base;
	c.count = count;
	if (type == REC_SEAL) {
		st = seg_hash_get(w->out, w->sv->io, w->at, &c.seg_hash);
		c.flags = REC_F_SEG_HASH;
	}
	return st == LK_OK ? put_record(w, &c) : st;
}

static void group_free(struct writer *w)
{
	for (size_t i = 0; i < w->n; i++)
		mem_free(w->group[i].data);
	w->n = 0;
	w->group_bytes = 0;
	w->too_big = 0;
}

static lk_status group_write(struct writer *w)
{
	lk_status st = LK_OK;

	for (size_t i = 0; st == LK_OK && i < w->n; i++) {
		const struct op *o = &w->group[i];
		struct record r;

		memset(&r, 0, sizeof r);
		r.type = o->type;
		r.flags = o->flags;
		r.ns = o->ns;
		r.seq = o->seq;
		r.expire_at_ms = o->expire_at_ms;
		r.key = o->data;
		r.key_len = o->key_len;
		r.value = o->data + o->key_len;
		r.value_len = o->value_len;
		st = put_record(w, &r);
	}
	if (st == LK_OK && w->n)
		st = put_end(w, REC_COMMIT, w->n);
	w->ops += w->n;
	w->sv->rep->records_kept += w->n;
	group_free(w);
	return st;
}

static lk_status group_add(struct writer *w, const lk_log_item *it)
{
	struct op *o;
	uint8_t *packed = NULL;
	size_t packed_len = 0;
	const void *value = it->value;
	size_t value_len = it->value_len;
	lk_status st;

	if (w->too_big || w->n == LK_BATCH_OPS_MAX ||
	    w->group_bytes > 2u * LK_BATCH_BYTES_MAX) {
		w->too_big = 1; /* no writer made it: not kept */
		return LK_OK;
	}
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 64;
		struct op *g = mem_realloc(w->group, cap * sizeof *g);

		if (!g)
			return err_set(LK_NOMEM, "salvage: a group");
		w->group = g;
		w->cap = cap;
	}
	if (it->compressed) {
		st = compressor_pack(w->zc, it->value, it->value_len, &packed,
				     &packed_len);
		if (st != LK_OK)
			return st;
		if (packed) {
			value = packed;
			value_len = packed_len;
		}
	}
	o = &w->group[w->n];
	memset(o, 0, sizeof *o);
	o->data = mem_alloc(it->key_len + value_len + 1);
	if (!o->data) {
		mem_free(packed);
		return err_set(LK_NOMEM, "salvage: a record");
	}
	o->type = it->kind == LK_LOG_PUT ? REC_PUT : REC_DEL;
	o->flags = (uint8_t)((it->expire_at_ms ? REC_F_EXPIRY : 0) |
			     (packed ? REC_F_ZSTD : 0));
	o->ns = (uint8_t)it->ns;
	o->seq = it->seq;
	o->expire_at_ms = it->expire_at_ms;
	o->key_len = (uint32_t)it->key_len;
	o->value_len = (uint32_t)value_len;
	memcpy(o->data, it->key, it->key_len);
	if (value_len)
		memcpy(o->data + it->key_len, value, value_len);
	mem_free(packed);
	w->group_bytes += it->key_len + value_len;
	w->n++;
	return LK_OK;
}

static int rewrite_item(void *arg, const lk_log_item *it)
{
	struct writer *w = arg;

	switch (it->kind) {
	case LK_LOG_PUT:
	case LK_LOG_DEL:
		if (it->checksum_ok && !it->what)
			w->st = group_add(w, it);
		break;
	case LK_LOG_COMMIT:
		if (!it->what && !w->too_big && it->count == w->n)
			w->st = group_write(w);
		else
			group_free(w);
		break;
	case LK_LOG_SEGMENT:
		break;
	default: /* damage, discard, seal: the group is not committed */
		group_free(w);
		break;
	}
	return w->st != LK_OK;
}

/* The first free name.broken[.N] in dir, in *to. */
static lk_status free_aside_name(struct salvage *sv, lk_io_dir *dir,
				 const char *name, char to[SV_NAME_BYTES])
{
	lk_status st = LK_EXISTS;

	for (unsigned n = 0; n < 10 && st == LK_EXISTS; n++) {
		lk_io_file *f;

		if (n == 0)
			snprintf(to, SV_NAME_BYTES, "%s.broken", name);
		else
			snprintf(to, SV_NAME_BYTES, "%s.broken.%u", name, n);
		st = sv->io->open(sv->io->ctx, dir, to, LK_IO_READ, &f);
		if (st == LK_OK) {
			sv->io->close(sv->io->ctx, f);
			st = LK_EXISTS;
		} else if (st == LK_NOT_FOUND) {
			st = LK_OK;
		}
	}
	if (st != LK_OK)
		return err_set(st == LK_EXISTS ? LK_IO : st,
			       "no free name to keep %s aside", name);
	return LK_OK;
}

/* Renames dir/name to the first free name.broken[.N]; *to gets it. */
static lk_status put_aside(struct salvage *sv, lk_io_dir *dir,
			   const char *name, char to[SV_NAME_BYTES])
{
	lk_status st = free_aside_name(sv, dir, name, to);

	if (st != LK_OK)
		return st;
	st = sv->io->rename(sv->io->ctx, dir, name, to);
	if (st != LK_OK)
		err_prefix("renaming %s to %s", name, to);
	return st;
}

/* Bytes copied at a time by copy_aside. */
#define SV_COPY_BYTES (1u << 20)

/* Copies dir/name to the first free name.broken[.N] (*to), written under
 * a temporary name, synced, renamed and the directory synced: a file that
 * salvage then replaces is kept whatever moment a crash picks (the rename
 * of a damaged file after its replacement was written could be lost, and
 * the next open remove the file as a compaction's leftover). */
static lk_status copy_aside(struct salvage *sv, lk_io_dir *dir,
			    const char *name, char to[SV_NAME_BYTES])
{
	const lk_io *io = sv->io;
	char tmp[SV_NAME_BYTES + 8];
	lk_io_file *in = NULL, *out = NULL;
	uint8_t *buf = NULL;
	uint64_t size = 0, at = 0;
	lk_status st = free_aside_name(sv, dir, name, to);

	if (st == LK_OK) {
		snprintf(tmp, sizeof tmp, "%s.tmp", to);
		(void)io->unlink(io->ctx, dir, tmp); /* an earlier run's */
		st = io->open(io->ctx, dir, name, LK_IO_READ, &in);
	}
	if (st == LK_OK)
		st = io->size(io->ctx, in, &size);
	if (st == LK_OK)
		st = io->open(io->ctx, dir, tmp,
			      LK_IO_WRITE | LK_IO_CREATE | LK_IO_EXCL, &out);
	if (st == LK_OK && !(buf = mem_alloc(SV_COPY_BYTES)))
		st = err_set(LK_NOMEM, "salvage: a copy buffer");
	while (st == LK_OK && at < size) {
		size_t want = size - at < SV_COPY_BYTES ? (size_t)(size - at)
							: SV_COPY_BYTES;
		size_t got = 0;

		st = io->pread(io->ctx, in, buf, want, at, &got);
		if (st == LK_OK && got != want)
			st = err_set(LK_IO, "%s changed while it was copied",
				     name);
		if (st == LK_OK)
			st = io->pwrite(io->ctx, out, buf, want, at);
		at += want;
	}
	if (st == LK_OK)
		st = io->sync(io->ctx, out);
	mem_free(buf);
	if (out)
		io->close(io->ctx, out);
	if (in)
		io->close(io->ctx, in);
	if (st == LK_OK)
		st = io->rename(io->ctx, dir, tmp, to);
	if (st == LK_OK)
		st = io->dir_sync(io->ctx, dir);
	if (st != LK_OK) {
		err_prefix("keeping a copy of %s as %s", name, to);
		if (out)
			(void)io->unlink(io->ctx, dir, tmp);
	}
	return st;
}

/* Writes the new generation of s (sealed unless it is the newest). */
static lk_status rewrite(struct salvage *sv, lk_io_dir *dir,
			 struct sv_seg *s, uint64_t prev_seq, uint32_t gen,
			 char out_name[SEG_NAME_BYTES])
{
	struct writer w;
	struct seg_header h;
	char path[4096];
	lk_status st;

	memset(&w, 0, sizeof w);
	w.sv = sv;
	memset(&h, 0, sizeof h);
	h.version = LK_FORMAT_VERSION;
	memcpy(h.db_id, s->db_id, SEG_DB_ID_BYTES);
	h.seq = s->seq;
	h.seq_prev = prev_seq;
	h.record_seq_base = s->seq_base;
	h.generation = gen;
	seg_name(out_name, h.seq, h.generation);
	st = compressor_new(&w.zc);
	if (st != LK_OK)
		return st;
	st = seg_create(&w.out, sv->io, dir, &h);
	if (st != LK_OK) {
		compressor_free(w.zc);
		return st;
	}
	w.at = SEG_HEADER_BYTES;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", sv->path, s->name) >=
	    sizeof path)
		st = err_set(LK_INVALID, "salvage: path too long");
	if (st == LK_OK) {
		lk_options o;

		lk_options_init(&o);
		o.io = sv->io;
		st = lk_log_read(path, &o, 0, rewrite_item, &w);
	}
	if (st == LK_OK)
		st = w.st;
	group_free(&w);
	mem_free(w.group);
	if (st == LK_OK && !s->newest)
		st = put_end(&w, REC_SEAL, w.ops);
	if (st == LK_OK)
		st = sv->io->sync(sv->io->ctx, w.out->file);
	if (st == LK_OK)
		st = sv->io->dir_sync(sv->io->ctx, dir);
	if (st != LK_OK) {
		err_prefix("salvage: writing %s", out_name);
		(void)sv->io->unlink(sv->io->ctx, dir, out_name);
	}
	seg_close(w.out, sv->io);
	compressor_free(w.zc);
	return st;
}

/* The highest generation any listed file of seq has. */
static uint32_t top_generation(const struct salvage *sv, uint64_t seq)
{
	uint32_t top = 0;

	for (size_t i = 0; i < sv->nsegs; i++) {
		uint64_t q;
		uint32_t g;

		if (seg_parse_name(sv->segs[i].name, &q, &g) && q == seq &&
		    g > top)
			top = g;
	}
	return top;
}

struct snaps {
	char names[16][SNAP_NAME_BYTES];
	size_t n;
};

static lk_status list_snap(void *arg, const char *name)
{
	struct snaps *sn = arg;
	uint64_t num;
	int tmp;

	/* as open names them: a foreign name is left alone */
	if (snapshot_parse_name(name, &num, &tmp) && !tmp && sn->n < 16)
		snprintf(sn->names[sn->n++], SNAP_NAME_BYTES, "%s", name);
	return LK_OK;
}

/* Carries out (apply) or tells the plan. */
/* The ASIDE step of segment file s: renamed NAME.broken with apply. */
static lk_status set_aside(struct salvage *sv, lk_io_dir *dir,
			   const struct sv_seg *s, int apply)
{
	char aside[SV_NAME_BYTES];
	lk_salvage_step st_;
	lk_status st = LK_OK;

	snprintf(aside, sizeof aside, "%s.broken", s->name);
	if (apply)
		st = put_aside(sv, dir, s->name, aside);
	memset(&st_, 0, sizeof st_);
	st_.action = LK_SALVAGE_ASIDE;
	st_.file = s->name;
	st_.new_file = aside;
	st_.segment_seq = s->seq;
	st_.what = s->aside_why;
	step(sv, &st_);
	sv->rep->files_aside++;
	return st;
}

static lk_status execute(struct salvage *sv, lk_io_dir *dir, size_t newest,
			 int apply)
{
	lk_salvage_step st_;
	uint64_t prev_seq = 0;
	int changed = 0;
	lk_status st = LK_OK;

	/* A compaction's leftovers first: a crash after this is a directory
	 * without them, as open would leave it. */
	for (size_t i = 0; i < sv->nsegs && st == LK_OK; i++) {
		struct sv_seg *s = &sv->segs[i];

		if (!s->leftover || !s->aside)
			continue;
		st = set_aside(sv, dir, s, apply);
		changed = 1;
	}
	for (size_t i = 0; i < sv->nsegs && st == LK_OK; i++) {
		struct sv_seg *s = &sv->segs[i];
		char out[SEG_NAME_BYTES], aside[SV_NAME_BYTES];

		if (s->leftover)
			continue;
		memset(&st_, 0, sizeof st_);
		st_.file = s->name;
		st_.segment_seq = s->seq;
		if (s->aside) {
			st = set_aside(sv, dir, s, apply);
			changed = 1;
			continue;
		}
		if (s->rewrite) {
			uint32_t gen = top_generation(sv, s->seq);

			if (gen == UINT32_MAX)
				return err_set(LK_TOO_BIG, "segment %" PRIu64
					       " has every generation",
					       s->seq);
			seg_name(out, s->seq, gen + 1);
			if (apply) {
				/* the copy, the new file, then the old name */
				st = copy_aside(sv, dir, s->name, aside);
				if (st == LK_OK)
					st = rewrite(sv, dir, s, prev_seq,
						     gen + 1, out);
				if (st == LK_OK)
					st = sv->io->unlink(sv->io->ctx, dir,
							    s->name);
				if (st == LK_OK)
					st = sv->io->dir_sync(sv->io->ctx,
							      dir);
			} else {
				sv->rep->records_kept += s->ops;
			}
			st_.action = LK_SALVAGE_REWRITE;
			st_.new_file = out;
			st_.records = s->ops;
			st_.what = s->damaged ? "it holds damage; the damaged "
						"file is kept as NAME.broken"
				   : s->relink ? "the segment before it is "
						 "missing: relinked"
					       : "it ends without its seal";
			step(sv, &st_);
			sv->rep->files_rewritten++;
			changed = 1;
		}
		if (s->tail && i == newest) {
			memset(&st_, 0, sizeof st_);
			st_.action = LK_SALVAGE_CUT;
			st_.file = s->name;
			st_.segment_seq = s->seq;
			st_.offset = s->tail_at;
			st_.what = s->rewrite ? "a torn tail, not copied"
					      : "a torn tail, which the next "
						"writing open cuts";
			step(sv, &st_);
		}
		prev_seq = s->seq;
	}
	if (st == LK_OK && newest != SIZE_MAX && sv->segs[newest].sealed &&
	    !sv->segs[newest].rewrite &&
	    sv->segs[newest].format >= LK_FORMAT_VERSION_SEAL_LINKS) {
		struct sv_seg *s = &sv->segs[newest];
		struct seg_header h;
		char name[SEG_NAME_BYTES];

		memset(&h, 0, sizeof h);
		h.version = LK_FORMAT_VERSION;
		memcpy(h.db_id, s->db_id, SEG_DB_ID_BYTES);
		h.seq = s->seq + 1;
		h.seq_prev = s->seq;
		/* New writes skip every number the missing segments may
		 * have given: a copy shipped elsewhere (or a backup) may
		 * hold their records, and a number must never name two. */
		h.record_seq_base = sv->max_seq + 1 + SV_MISSING_SEQS_MAX;
		seg_name(name, h.seq, 0);
		lost(sv, (s->last_seq ? s->last_seq : sv->max_seq) + 1,
		     h.record_seq_base - 1, 0, 0, 1,
		     "the segments after the newest are missing (new "
		     "records skip their numbers)");
		if (apply) {
			struct segment *out;

			st = seg_create(&out, sv->io, dir, &h);
			if (st == LK_OK)
				seg_close(out, sv->io);
		}
		memset(&st_, 0, sizeof st_);
		st_.action = LK_SALVAGE_CREATE;
		st_.new_file = name;
		st_.segment_seq = h.seq;
		st_.what = "the newest segment is sealed: its successor is "
			   "missing";
		step(sv, &st_);
		changed = 1;
	}
	if (st == LK_OK && (changed || sv->bad_snapshot[0])) {
		struct snaps sn = { .n = 0 };

		st = sv->io->dir_list(sv->io->ctx, dir, list_snap, &sn);
		for (size_t i = 0; st == LK_OK && i < sn.n; i++) {
			char aside[SV_NAME_BYTES];
			int bad = strcmp(sn.names[i], sv->bad_snapshot) == 0;

			if (!bad && !changed)
				continue;
			memset(&st_, 0, sizeof st_);
			st_.file = sn.names[i];
			if (bad) {
				snprintf(aside, sizeof aside, "%s.broken",
					 sn.names[i]);
				if (apply)
					st = put_aside(sv, dir, sn.names[i],
						       aside);
				st_.action = LK_SALVAGE_ASIDE;
				st_.new_file = aside;
				st_.what = "a damaged snapshot";
				sv->rep->files_aside++;
			} else {
				if (apply)
					st = sv->io->unlink(sv->io->ctx, dir,
							    sn.names[i]);
				st_.action = LK_SALVAGE_DROP_SNAPSHOT;
				st_.what = "a snapshot of the log before the "
					   "repair";
			}
			step(sv, &st_);
		}
	}
	if (st == LK_OK && apply)
		st = sv->io->dir_sync(sv->io->ctx, dir);
	return st;
}

/* The LOST and FALLBACK steps, after the plan's. */
static void tell_losses(struct salvage *sv)
{
	lk_salvage_step s;

	for (size_t i = 0; i < sv->nlost; i++) {
		const struct sv_lost *l = &sv->lost[i];

		memset(&s, 0, sizeof s);
		s.action = LK_SALVAGE_LOST;
		s.seq_first = l->first;
		s.seq_last = l->last;
		s.records = l->records;
		s.ns = l->ns;
		s.ns_name = l->unknown ? NULL
			    : l->ns == 0 ? "(catalog)"
			    : sv->g_ns_name[l->ns][0] ? sv->g_ns_name[l->ns]
						      : NULL;
		s.what = l->what;
		step(sv, &s);
		sv->rep->ranges_lost++;
		sv->rep->records_lost += l->records;
		sv->rep->unknown_lost += l->unknown;
	}
	sv->rep->keys_unlisted = sv->keys_overflow;
	sv->rep->ranges_unlisted = sv->lost_overflow;
	for (size_t i = 0; i < sv->nkeys; i++) {
		const struct sv_key *k = &sv->keys[i];

		if (k->newer)
			continue; /* a newer value survives: no change */
		memset(&s, 0, sizeof s);
		s.action = LK_SALVAGE_FALLBACK;
		s.ns = k->ns;
		s.ns_name = sv->g_ns_name[k->ns][0] ? sv->g_ns_name[k->ns]
						     : NULL;
		s.key = k->key;
		s.key_len = k->key_len;
		s.seq_first = k->lost_seq;
		s.seq_last = k->older;
		s.what = k->older ? "falls back to its older value"
				  : "is gone: no older value";
		step(sv, &s);
		if (k->older)
			sv->rep->keys_fallback++;
		else
			sv->rep->keys_gone++;
	}
}

lk_status lk_salvage(lk_salvage_report *out, const char *path,
		     const lk_options *opts, int apply, lk_salvage_fn fn,
		     void *arg)
{
	lk_salvage_report rep;
	lk_recovery_report vrep = LK_REPORT_INIT;
	struct io_check check;
	struct salvage *sv;
	lk_io_dir *dir = NULL;
	lk_io_file *lock = NULL;
	lk_options o;
	lk_status st, vst;
	size_t newest;

	if (!out || !path || !*path)
		return err_set(LK_INVALID, "lk_salvage: NULL argument");
	if (out->version != LK_SALVAGE_REPORT_VERSION)
		return err_set(LK_INVALID, "lk_salvage: report version %u",
			       out->version);
	lk_options_init(&o);
	if (opts) {
		st = abi_read(&o, ABI_OPTIONS, opts);
		if (st != LK_OK)
			return st;
	}
	memset(&rep, 0, sizeof rep);
	rep.version = LK_SALVAGE_REPORT_VERSION;
	sv = mem_calloc(1, sizeof *sv);
	if (!sv)
		return err_set(LK_NOMEM, "allocating the salvage state");
	sv->io = io_check_install(&check, o.io ? o.io : lk_io_posix());
	sv->path = path;
	sv->rep = &rep;
	sv->fn = fn;
	sv->arg = arg;
	o.io = check.inner;
	st = sv->io ? LK_OK : LK_INVALID;
	if (st == LK_OK)
		st = sv->io->dir_open(sv->io->ctx, path, 0, &dir);
	if (st != LK_OK) {
		err_prefix("opening data directory %s", path);
		goto out;
	}
	vst = lk_verify(&vrep, path, &o, verify_problem, sv);
	if (vst == LK_VERSION || vst == LK_INVALID || vst == LK_NOT_FOUND ||
	    vst == LK_NOMEM || vst == LK_BUSY) {
		st = vst;
		goto out;
	}
	if (vst != LK_OK)
		sv->needed = 1;
	sv->segs = mem_calloc(LK_SEGMENT_COUNT_MAX, sizeof *sv->segs);
	if (!sv->segs) {
		st = err_set(LK_NOMEM, "salvage: segment summaries");
		goto out;
	}
	st = lk_log_read(path, &o, 0, summarise, sv);
	if (st == LK_OK && sv->cur) {
		settle_discard(sv, 1); /* the newest segment's end */
		group_tail(sv);
	}
	if (st == LK_OK)
		st = sv->st;
	if (st != LK_OK) /* LK_NOT_FOUND: no segment, not a data directory */
		goto out;
	rep.needed = sv->needed;
	newest = plan(sv);
	if (sv->nkeys) {
		struct older ol = { .sv = sv };

		st = lk_log_read(path, &o, 0, look_older, &ol);
		if (st != LK_OK)
			goto out;
	}
	if (!sv->needed && !sv->bad_snapshot[0]) {
		/* open takes it as it is: tell the tail only */
		for (size_t i = 0; i < sv->nsegs; i++)
			sv->segs[i].rewrite = sv->segs[i].aside = 0;
		sv->nlost = 0;
		sv->nkeys = 0;
		apply = 0;
	}
	if (apply) {
		/* a writer may have come since the plan: it holds the lock */
		st = sv->io->lock(sv->io->ctx, dir, "LOCK", &lock);
		if (st != LK_OK) {
			err_prefix("locking %s (is a writer using it?)", path);
			goto out;
		}
	}
	st = execute(sv, dir, newest, apply);
	if (st == LK_OK)
		tell_losses(sv);
	rep.applied = apply && st == LK_OK;
out:
	if (lock)
		sv->io->close(sv->io->ctx, lock);
	if (dir)
		sv->io->dir_close(sv->io->ctx, dir);
	mem_free(sv->segs);
	mem_free(sv->lost);
	mem_free(sv->keys);
	mem_free(sv);
	*out = rep;
	return st;
}
