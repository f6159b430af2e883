/* SPDX-License-Identifier: MIT */
/*
 * logread.c - lk_log_read(): the records of a data directory, or of one
 * segment file, as they are stored, for `logkeep dump` and for salvage.
 *
 * Recovery reads the log to rebuild the index and stops at the first
 * damage it cannot explain; this reads it to show it.  Every record is
 * passed on with its place, whatever the records around it; a region
 * that holds no valid record is passed as one DAMAGE item, and reading
 * resumes at the next offset where a record passes its checksum (whose
 * seed binds it to its database, segment and offset, so a stray match is
 * a 1 in 2^32 chance per candidate, and the search is bounded by
 * SEG_RESYNC_BUDGET_BYTES).  What recovery would make of the records is
 * told as far as one pass shows it: a group cut from its commit is a
 * DISCARD item, a record breaking an ordering rule carries `what`.
 *
 * Bounds.  One segment file is open at a time, through the sequential
 * reader (whose window is bounded by LK_RECORD_BYTES_MAX); one value is
 * decompressed at a time (bounded by LK_VALUE_BYTES_MAX); the listing is
 * bounded by LK_SEGMENT_COUNT_MAX, as an open's.  Files are opened as
 * they are reached, so a writer's compaction may remove one first: that
 * is said, not treated as damage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "alloc.h"
#include "compress.h"
#include "error.h"
#include "logkeep_limits.h"
#include "order.h"
#include "segment.h"

struct lr_file {
	char name[SEG_NAME_BYTES];
	uint64_t seq;
	uint32_t generation;
};

struct lr_list {
	struct lr_file *v;
	size_t n, cap;
	int too_many;
};

struct logread {
	const lk_io *io;
	lk_io_dir *dir;
	lk_log_fn fn;
	void *arg;
	int stopped;               /* fn asked to stop */
	struct compressor *zc;
	uint64_t total_bytes;
	/* namespace names from the catalog records read so far */
	char ns_names[LK_NS_COUNT_MAX + 1][LK_NS_NAME_BYTES_MAX + 1];
	/* the group being read */
	uint64_t group_ops, group_first, group_last;
	uint64_t last_seq;         /* newest put/delete seq in the log so far */
	uint64_t seg_ops;          /* committed records of this segment */
	uint64_t catalog[LK_NS_COUNT_MAX + 1]; /* order.h: names by id */
	int resynced;              /* this segment had damage before here */
	int whole_dir;             /* the chain between files is checked */
	uint64_t prev_seg;         /* the last segment read with a header */
};

/* ---------------------------------------------------------------------- */
/* Listing                                                                */
/* ---------------------------------------------------------------------- */

static lk_status list_one(void *arg, const char *name)
{
	struct lr_list *l = arg;
	uint64_t seq;
	uint32_t gen;

	if (dir_file_parse(name, &seq, &gen) != DIR_FILE_SEGMENT)
		return LK_OK;
	if (l->n == LK_SEGMENT_COUNT_MAX) {
		l->too_many = 1;
		return LK_OK;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct lr_file *v = mem_realloc(l->v, cap * sizeof *v);

		if (!v)
			return err_set(LK_NOMEM, "listing segment files");
		l->v = v;
		l->cap = cap;
	}
	snprintf(l->v[l->n].name, SEG_NAME_BYTES, "%s", name);
	l->v[l->n].seq = seq;
	l->v[l->n].generation = gen;
	l->n++;
	return LK_OK;
}

static int file_cmp(const void *a, const void *b)
{
	const struct lr_file *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return (x->generation > y->generation) - (x->generation < y->generation);
}

/* ---------------------------------------------------------------------- */
/* Items                                                                  */
/* ---------------------------------------------------------------------- */

static void item_init(lk_log_item *it, lk_log_kind kind,
		      const struct segment *s, uint64_t offset,
		      uint64_t length)
{
	memset(it, 0, sizeof *it);
	it->version = LK_LOG_ITEM_VERSION;
	it->kind = kind;
	it->file = s->name;
	it->segment_seq = s->hdr.seq;
	it->generation = s->hdr.generation;
	it->offset = offset;
	it->length = length;
}

static void emit(struct logread *lr, const lk_log_item *it)
{
	if (!lr->stopped && lr->fn(lr->arg, it) != 0)
		lr->stopped = 1;
}

/* A group that ends without its commit (damage, the end of a segment). */
static void discard_group(struct logread *lr, const struct segment *s,
			  uint64_t at, const char *why)
{
	lk_log_item it;

	if (lr->group_ops == 0)
		return;
	item_init(&it, LK_LOG_DISCARD, s, at, 0);
	it.seq = lr->group_first;
	it.seq_last = lr->group_last;
	it.count = lr->group_ops;
	it.what = why;
	emit(lr, &it);
	lr->group_ops = 0;
}

/* A put or delete record (checked: 1 if it passed its checksum). */
static lk_status emit_op(struct logread *lr, const struct segment *s,
			 uint64_t pos, const struct record *rec, int checked,
			 const char *what)
{
	lk_log_item it;
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	lk_status st;

	item_init(&it, rec->type == REC_PUT ? LK_LOG_PUT : LK_LOG_DEL, s, pos,
		  rec->size);
	it.seq = rec->seq;
	it.ns = rec->ns;
	it.ns_name = rec->ns == 0 ? "(catalog)"
		     : lr->ns_names[rec->ns][0] ? lr->ns_names[rec->ns] : NULL;
	it.key = rec->key;
	it.key_len = rec->key_len;
	it.value = rec->value;
	it.value_len = rec->value_len;
	it.stored_len = rec->value_len;
	it.compressed = (rec->flags & REC_F_ZSTD) != 0;
	it.expire_at_ms = rec->expire_at_ms;
	it.checksum_ok = checked;
	it.what = what;
	if (rec->flags & REC_F_REPLACES) {
		it.replaces_segment_seq = rec->rep_seg_seq;
		it.replaces_generation = rec->rep_generation;
		it.replaces_offset = rec->rep_offset;
	}
	if (it.compressed && checked) {
		st = compressor_unpack(lr->zc, rec->value, rec->value_len, &raw,
				       &raw_len);
		if (st == LK_NOMEM)
			return st;
		if (st == LK_OK) {
			it.value = raw;
			it.value_len = raw_len;
		} else {
			it.what = "compressed value does not decompress "
				  "(shown as stored)";
		}
	}
	emit(lr, &it);
	mem_free(raw);
	return LK_OK;
}

/* A valid record at pos. */
static lk_status take_record(struct logread *lr, const struct segment *s,
			     uint64_t pos, const struct record *rec,
			     int *sealed)
{
	struct order_state os = { lr->last_seq, lr->catalog, lr->group_ops,
				  lr->seg_ops, *sealed, lr->resynced };
	enum order_rule rule = order_check(&os, rec, pos);
	const char *what = rule ? order_rule_text(rule) : NULL;
	lk_log_item it;

	if (rec->type <= REC_DEL) {
		if (rec->ns == 0 && !what) {
			/* record_catalog_valid: the name fits */
			char *name = lr->ns_names[rec->value[0]];

			memcpy(name, rec->key, rec->key_len);
			name[rec->key_len] = 0;
			lr->catalog[rec->value[0]] = order_catalog_name(rec);
		}
		if (lr->group_ops++ == 0)
			lr->group_first = rec->seq;
		lr->group_last = rec->seq;
		if (rec->seq > lr->last_seq)
			lr->last_seq = rec->seq;
		return emit_op(lr, s, pos, rec, 1, what);
	}
	if (rec->type == REC_COMMIT && rec->count != lr->group_ops)
		/* records of the group were lost to damage before it: what
		 * is left of the group is not applied either */
		discard_group(lr, s, pos, "part of a group whose other "
			      "records are damaged: its commit does not "
			      "match it");
	item_init(&it, rec->type == REC_COMMIT ? LK_LOG_COMMIT : LK_LOG_SEAL, s,
		  pos, rec->size);
	it.checksum_ok = 1;
	it.count = rec->count;
	it.durable_upto = rec->durable_upto;
	it.what = what;
	emit(lr, &it);
	if (rec->type == REC_COMMIT && !what)
		lr->seg_ops += lr->group_ops;
	lr->group_ops = 0;
	*sealed |= rec->type == REC_SEAL;
	return LK_OK;
}

/* Bytes at pos that do not decode: shows what a record there that fails
 * only its checksum claims to be, then passes the region up to the next
 * valid record as DAMAGE.  Returns where reading resumes. */
static lk_status take_damage(struct logread *lr, struct seg_reader *r,
			     uint64_t pos, const char *why, int newest,
			     uint64_t *next)
{
	const struct segment *s = r->seg;
	const uint8_t *p;
	struct record rec;
	const char *pwhy;
	lk_log_item it;
	uint32_t size;
	size_t got;
	int gave_up;
	lk_status st;

	st = seg_reader_get(r, pos, REC_PREFIX_BYTES_MAX, &p, &got);
	if (st != LK_OK)
		return st;
	if (record_peek_size(&size, p, got, &pwhy) == REC_PEEK_SIZE &&
	    size <= r->end - pos) {
		st = seg_reader_get(r, pos, size, &p, &got);
		if (st != LK_OK)
			return st;
		if (got == size &&
		    record_parse(&rec, p, size, s->hdr.record_seq_base,
				 &pwhy) == LK_OK &&
		    rec.type <= REC_DEL) {
			st = emit_op(lr, s, pos, &rec, 0, why);
			if (st != LK_OK)
				return st;
		}
	}
	*next = seg_reader_next_valid(r, pos + 1, &gave_up);
	discard_group(lr, s, pos, "damage follows inside the group: it is "
		      "not applied");
	item_init(&it, LK_LOG_DAMAGE, s, pos, *next - pos);
	it.what = gave_up ? "too much damage to search; the rest of the "
			    "segment is unchecked"
			  : why;
	it.tail = newest && *next >= r->end;
	emit(lr, &it);
	return LK_OK;
}

/* Reads one segment file's records. */
static lk_status read_segment(struct logread *lr, struct segment *s,
			      int newest)
{
	struct seg_reader r;
	uint8_t hdr[SEG_HEADER_BYTES];
	const char *why = NULL;
	lk_log_item it;
	size_t got = 0;
	uint64_t pos = SEG_HEADER_BYTES;
	int sealed = 0;
	lk_status st;

	st = lr->io->pread(lr->io->ctx, s->file, hdr, sizeof hdr, 0, &got);
	if (st != LK_OK)
		return st;
	if (s->file_size > LK_SEGMENT_FILE_BYTES_MAX) {
		why = "file larger than a segment can be (refused unread)";
		st = LK_CORRUPT;
	} else if (got < sizeof hdr) {
		why = "file shorter than a segment header";
		st = LK_CORRUPT;
	} else {
		st = seg_header_decode(&s->hdr, hdr, &why);
	}
	if (st != LK_OK) {
		uint64_t seq = 0;
		uint32_t gen = 0;

		memset(&s->hdr, 0, sizeof s->hdr);
		if (seg_parse_name(s->name, &seq, &gen)) {
			s->hdr.seq = seq; /* the name's word, for the place */
			s->hdr.generation = gen;
		}
	}
	item_init(&it, LK_LOG_SEGMENT, s, 0, s->file_size);
	it.total_bytes = lr->total_bytes;
	if (st != LK_OK) {
		/* a newest segment cut while it was created: open removes it
		 * (a file read alone is not known to be the newest) */
		int torn = newest && got < sizeof hdr && lr->whole_dir;

		/* Without a header there is no seed to check a record by. */
		it.what = why;
		it.tail = torn;
		emit(lr, &it);
		item_init(&it, LK_LOG_DAMAGE, s, 0, s->file_size);
		it.what = why;
		it.tail = torn;
		emit(lr, &it);
		return LK_OK;
	}
	s->db_seed = record_hash(s->hdr.db_id, SEG_DB_ID_BYTES, 0);
	it.segment_seq = s->hdr.seq;
	it.generation = s->hdr.generation;
	it.format_version = s->hdr.version;
	it.seq_prev = s->hdr.seq_prev;
	it.record_seq_base = s->hdr.record_seq_base;
	it.db_id = s->hdr.db_id;
	emit(lr, &it);

	lr->group_ops = 0;
	lr->seg_ops = 0;
	lr->resynced = 0;
	st = seg_reader_init(&r, lr->io, s, s->file_size);
	if (st != LK_OK)
		return st;
	while (pos < s->file_size && !lr->stopped) {
		struct record rec;

		st = seg_reader_record(&r, pos, &rec, &why);
		if (st == LK_OK) {
			st = take_record(lr, s, pos, &rec, &sealed);
			pos += rec.size;
		} else if (st == LK_CORRUPT && seg_reader_zero_from(&r, pos)) {
			item_init(&it, LK_LOG_FREE, s, pos,
				  s->file_size - pos);
			emit(lr, &it);
			st = LK_OK;
			break;
		} else if (st == LK_CORRUPT) {
			st = take_damage(lr, &r, pos, why, newest, &pos);
			lr->resynced = 1;
		}
		if (st != LK_OK)
			break;
	}
	if (st == LK_OK)
		discard_group(lr, s, pos < s->file_size ? pos : s->file_size,
			      "the segment ends before its commit");
	s->sealed = sealed;
	seg_reader_free(&r);
	return st;
}

/* A problem of the chain, not of bytes: a DAMAGE item of length 0 at
 * the segment's start (salvage plans for these from the chain itself). */
static void chain_damage(struct logread *lr, const struct segment *s,
			 uint64_t at, const char *fmt, uint64_t a, uint64_t b)
{
	char what[160];
	lk_log_item it;

	snprintf(what, sizeof what, fmt, a, b);
	item_init(&it, LK_LOG_DAMAGE, s, at, 0);
	it.what = what;
	emit(lr, &it);
}

/* What open checks between files: the name, the link to the segment
 * before, and (format 2) that a sealed segment has a successor. */
static void check_chain(struct logread *lr, const struct segment *s,
			int newest)
{
	uint64_t seq;
	uint32_t gen;

	if (!seg_parse_name(s->name, &seq, &gen) || seq != s->hdr.seq ||
	    gen != s->hdr.generation) {
		chain_damage(lr, s, 0, "file name and header disagree on the "
			     "segment (header: segment %" PRIu64
			     ", generation %" PRIu64 "): a copy of another",
			     s->hdr.seq, s->hdr.generation);
		return;
	}
	if (s->hdr.seq_prev != lr->prev_seg)
		chain_damage(lr, s, 0, "segment %" PRIu64 " is missing (the "
			     "one before is %" PRIu64 ")", s->hdr.seq_prev,
			     lr->prev_seg);
	lr->prev_seg = s->hdr.seq;
	if (newest && s->sealed &&
	    s->hdr.version >= LK_FORMAT_VERSION_SEAL_LINKS)
		chain_damage(lr, s, s->file_size, "segment %" PRIu64 " is "
			     "sealed but no later segment is here: segment %"
			     PRIu64 " and any after it are missing",
			     s->hdr.seq, s->hdr.seq + 1);
}

static lk_status read_file(struct logread *lr, const char *name, int newest)
{
	struct segment *s;
	lk_status st;

	st = seg_open(&s, lr->io, lr->dir, name, 0);
	if (st == LK_NOT_FOUND) {
		lk_log_item it;
		struct segment gone;

		memset(&gone, 0, sizeof gone);
		snprintf(gone.name, sizeof gone.name, "%s", name);
		item_init(&it, LK_LOG_SEGMENT, &gone, 0, 0);
		it.total_bytes = lr->total_bytes;
		it.what = "removed while reading (a writer's compaction "
			  "replaced it)";
		emit(lr, &it);
		return LK_OK;
	}
	if (st != LK_OK) {
		err_prefix("opening segment file %s", name);
		return st;
	}
	st = read_segment(lr, s, newest);
	if (st == LK_OK && lr->whole_dir && s->db_seed)
		check_chain(lr, s, newest);
	if (st != LK_OK)
		err_prefix("reading segment file %s", name);
	seg_close(s, lr->io);
	return st;
}

/* ---------------------------------------------------------------------- */
/* The call                                                               */
/* ---------------------------------------------------------------------- */

static lk_status read_dir(struct logread *lr, uint64_t segment)
{
	struct lr_list l = { 0 };
	int found = 0;
	lk_status st;

	st = lr->io->dir_list(lr->io->ctx, lr->dir, list_one, &l);
	if (st == LK_OK && l.too_many)
		st = err_set(LK_TOO_BIG,
			     "more than %u segment files",
			     (unsigned)LK_SEGMENT_COUNT_MAX);
	if (st != LK_OK)
		goto out;
	if (l.n > 1) /* l.v is NULL in a directory without segments */
		qsort(l.v, l.n, sizeof *l.v, file_cmp);
	for (size_t i = 0; i < l.n; i++) {
		lk_io_file *f;
		uint64_t size = 0;

		if (segment != 0 && l.v[i].seq != segment)
			continue;
		found = 1;
		if (lr->io->open(lr->io->ctx, lr->dir, l.v[i].name, LK_IO_READ,
				 &f) != LK_OK)
			continue; /* read_file says why */
		if (lr->io->size(lr->io->ctx, f, &size) == LK_OK)
			lr->total_bytes += size;
		lr->io->close(lr->io->ctx, f);
	}
	if (!found && segment != 0)
		st = err_set(LK_NOT_FOUND, "no segment %" PRIu64 " in the "
			     "directory", segment);
	else if (!found)
		st = err_set(LK_NOT_FOUND, "no segment file in the directory: "
			     "not a logkeep data directory");
	lr->whole_dir = segment == 0;
	for (size_t i = 0; i < l.n && !lr->stopped && st == LK_OK; i++)
		if (segment == 0 || l.v[i].seq == segment)
			st = read_file(lr, l.v[i].name, i + 1 == l.n);
out:
	mem_free(l.v);
	return st;
}

/* path names one file: read it alone, from its parent directory. */
static lk_status read_one_file(struct logread *lr, const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char *parent;
	size_t plen;
	lk_status st;

	if (*base == '\0')
		return err_set(LK_NOT_FOUND, "%s: no such file", path);
	plen = slash ? (size_t)(slash - path) : 1;
	parent = mem_alloc(plen + 2);
	if (!parent)
		return err_set(LK_NOMEM, "copying a path");
	if (slash && plen > 0)
		memcpy(parent, path, plen);
	else if (slash)
		parent[0] = '/', plen = 1;
	else
		parent[0] = '.';
	parent[plen] = 0;
	st = lr->io->dir_open(lr->io->ctx, parent, 0, &lr->dir);
	mem_free(parent);
	if (st != LK_OK)
		return err_set(LK_NOT_FOUND, "%s: no such directory or file",
			       path);
	{
		lk_io_file *f;
		uint64_t size = 0;

		st = lr->io->open(lr->io->ctx, lr->dir, base, LK_IO_READ, &f);
		if (st == LK_OK) {
			(void)lr->io->size(lr->io->ctx, f, &size);
			lr->total_bytes = size;
			lr->io->close(lr->io->ctx, f);
		}
	}
	if (st == LK_OK)
		st = read_file(lr, base, 1);
	else
		err_prefix("%s", path);
	lr->io->dir_close(lr->io->ctx, lr->dir);
	return st;
}

lk_status lk_log_read(const char *path, const lk_options *opts,
		      uint64_t segment, lk_log_fn fn, void *arg)
{
	struct io_check check;
	struct logread *lr;
	lk_options o;
	lk_status st;

	if (!path || !*path || !fn)
		return err_set(LK_INVALID, "lk_log_read: NULL argument");
	lk_options_init(&o);
	if (opts) { /* only io is used */
		st = abi_read(&o, ABI_OPTIONS, opts);
		if (st != LK_OK)
			return st;
	}
	lr = mem_calloc(1, sizeof *lr);
	if (!lr)
		return err_set(LK_NOMEM, "allocating the log reader");
	lr->io = io_check_install(&check, o.io ? o.io : lk_io_posix());
	lr->fn = fn;
	lr->arg = arg;
	/* the one namespace with no catalog record (ns.c) */
	snprintf(lr->ns_names[1], sizeof lr->ns_names[1], "default");
	if (!lr->io) {
		mem_free(lr);
		return LK_INVALID;
	}
	st = compressor_new(&lr->zc);
	if (st != LK_OK) {
		mem_free(lr);
		return st;
	}
	st = lr->io->dir_open(lr->io->ctx, path, 0, &lr->dir);
	if (st == LK_OK) {
		st = read_dir(lr, segment);
		lr->io->dir_close(lr->io->ctx, lr->dir);
	} else if (st == LK_NOT_FOUND) {
		st = read_one_file(lr, path);
	} else {
		err_prefix("opening %s", path);
	}
	compressor_free(lr->zc);
	mem_free(lr);
	return st;
}
