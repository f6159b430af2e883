/* SPDX-License-Identifier: MIT */
/*
 * snapshot.c - writing and loading index snapshots (format and trust
 * rules in snapshot.h).
 *
 * Writing.  The file is created first, unlocked.  Under log_mu (writers
 * wait; readers go on) the log is synced and the index's entries are
 * written to the file as of the end of the last commit, through a buffer
 * of SNAP_WRITE_CHUNK_ENTRIES: the leader applies a group to the index
 * before it releases log_mu, so the index and that position agree.
 * Writers wait for those writes, which go to the page cache: 1.6 ms for
 * the 12 MB of a million keys here, and commit latencies during
 * automatic snapshots measured the same as when the entries were encoded
 * into a buffer under the lock (max 13 to 30 ms, 1M-key fills, both
 * ways).  Where the kernel throttles a writer of many dirty pages (small
 * dirty limits, slow flash), or an I/O table's pwrite is slow, they wait
 * for that too: the price of not holding a copy of the table.
 * The header, the segment table, the bitmap and the trailer are written
 * after, and the file synced and renamed, with no lock but compact_mu,
 * which keeps compaction from removing a segment the snapshot names until
 * it is in place.
 *
 * Loading.  The entries are read straight into the new index's table and
 * spread out in place (index_import), so a load costs one read, two hashes
 * and one pass over the table, and no second copy of it.  A large table
 * is placed by two threads (import_entries), which costs a copy of the
 * entries of its second part.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "commit.h"
#include "endian.h"
#include "error.h"
#include "segtable.h"
#include "snapshot.h"
#include "snapshot_format.h"

/* The snapshots' state (db->snap): the newest snapshot of this handle's
 * directory and where in the log it stands, the namespace catalog it
 * located, and the counts for lk_stats_get().  Written under the
 * compactor's lock (compact_snapshot) or by open alone; the atomics are
 * read by stats without it. */
struct snapshots {
	_Atomic uint64_t serial;  /* its file's serial; 0: none */
	uint64_t next_serial;     /* for the next one */
	uint64_t seg_seq, pos;    /* its log position */
	uint32_t seg_gen;
	uint64_t compactions;     /* the database's compactions when taken
				     (its totals', 0 for a version 1 file) */
	struct snap_totals totals; /* found at open (snapshot_totals) */
	uint64_t totals_serial;    /* their file, kept until the next
				      snapshot holds them; 0: none */
	_Atomic uint64_t log_mark;    /* commit_log_bytes() then */
	_Atomic uint64_t behind_open; /* log replayed past it at open */
	_Atomic uint64_t created_ms;  /* wall clock; 0: none */
	_Atomic uint64_t written, bytes_written, failures;
	int ignore; /* open replays the whole log (lk_verify's check) */
	/* where the namespace catalog's entries are, when the loaded
	 * snapshot said so, so that loading the names need not walk the
	 * index */
	struct ix_loc catalog_locs[LK_NS_COUNT_MAX + 1];
	size_t catalog_n;
	int catalog_known;
	/* the newest snapshot open found damaged (snapshot_damaged) */
	char damaged[SNAP_NAME_BYTES];
	char damaged_why[LK_NOTE_BYTES];
};

lk_status snapshot_init(struct lk_db *db, int ignore)
{
	LK_ASSERT(db->snap == NULL);
	db->snap = mem_calloc(1, sizeof *db->snap);
	if (!db->snap)
		return err_set(LK_NOMEM, "allocating the snapshots' state");
	db->snap->ignore = ignore;
	return LK_OK;
}

void snapshot_free(struct lk_db *db)
{
	mem_free(db->snap);
	db->snap = NULL;
}

void snapshot_stats(const struct lk_db *db, lk_stats *stats)
{
	const struct snapshots *sn = db->snap;
	uint64_t made = atomic_load(&sn->created_ms);
	uint64_t now = db->io->now_ms(db->io->ctx);

	stats->snapshot_serial = atomic_load(&sn->serial);
	stats->snapshot_age_ms = made && now > made ? now - made : 0;
	stats->snapshot_behind_bytes = snapshot_behind(db);
	stats->snapshots_written = atomic_load(&sn->written);
	stats->snapshot_bytes_written = atomic_load(&sn->bytes_written);
	stats->snapshot_failures = atomic_load(&sn->failures);
}

const char *snapshot_damaged(const struct lk_db *db, const char **why)
{
	if (!db->snap->damaged[0])
		return NULL;
	*why = db->snap->damaged_why;
	return db->snap->damaged;
}

uint64_t snapshot_serial(const struct lk_db *db)
{
	return atomic_load(&db->snap->serial);
}

void snapshot_totals(const struct lk_db *db, struct snap_totals *totals)
{
	*totals = db->snap->totals;
}

int snapshot_catalog(const struct lk_db *db, const struct ix_loc **locs,
		     size_t *n)
{
	*locs = db->snap->catalog_locs;
	*n = db->snap->catalog_n;
	return db->snap->catalog_known;
}

void snapshot_opened(struct lk_db *db, uint64_t behind, int catalog_changed)
{
	atomic_store(&db->snap->behind_open, behind);
	if (catalog_changed)
		db->snap->catalog_known = 0;
}

/* Open looks at this many snapshot files, newest first: there is one but
 * after a crash between a rename and the removal of the older one. */
#define SNAP_TRIES_MAX 4u
/* The scrub reads a snapshot in steps of this size: one read a step
 * costs little, and a router has the memory. */
#define SNAP_SCRUB_CHUNK_BYTES (64u * 1024u)

int snapshot_parse_name(const char *name, uint64_t *serial, int *tmp)
{
	uint32_t generation;
	enum dir_file kind = dir_file_parse(name, serial, &generation);

	*tmp = kind == DIR_FILE_SNAPSHOT_TMP;
	/* Serials count from 1 (dir_file_parse refuses 0), one a snapshot,
	 * and never reach SNAP_SERIAL_MAX: a name past it is not logkeep's
	 * (the serial after it would wrap to the one in use). */
	return (kind == DIR_FILE_SNAPSHOT || kind == DIR_FILE_SNAPSHOT_TMP) &&
	       *serial <= SNAP_SERIAL_MAX;
}

/* The serial of the next snapshot: one past the newest name, or, past
 * SNAP_SERIAL_MAX (only a foreign name at the maximum gets there), the
 * numbering starts again at the lowest serial that is neither of the
 * files snapshot_write removes once the new one is durable.  A higher
 * name left behind is then tried first by the next open: at worst an
 * older position, more log replayed. */
static uint64_t next_serial(const struct snapshots *sn)
{
	uint64_t serial = sn->next_serial ? sn->next_serial : 1;

	if (serial <= SNAP_SERIAL_MAX)
		return serial;
	for (serial = 1; serial == sn->serial || serial == sn->totals_serial;)
		serial++;
	return serial;
}

static void snap_name(char name[SNAP_NAME_BYTES], uint64_t serial, int tmp)
{
	snprintf(name, SNAP_NAME_BYTES, "%016" PRIx64 ".snap%s", serial,
		 tmp ? ".tmp" : "");
}

/* Reads the SNAP_TAIL_BYTES before `end` in s (fewer if s is shorter)
 * into buf, *n of them. */
static lk_status read_tail(const lk_io *io, struct segment *s, uint64_t end,
			   uint8_t buf[SNAP_TAIL_BYTES], size_t *n)
{
	uint64_t from = end > SNAP_TAIL_BYTES ? end - SNAP_TAIL_BYTES : 0;
	lk_status st;

	*n = 0;
	st = io->pread(io->ctx, s->file, buf, (size_t)(end - from), from, n);
	if (st == LK_OK && *n != end - from)
		st = err_set(LK_CORRUPT, "segment %s is shorter than %" PRIu64
				         " bytes", s->name, end);
	return st;
}

/* The hash of the SNAP_TAIL_BYTES before `end` in s. */
static lk_status tail_hash(const lk_io *io, struct segment *s, uint64_t end,
			   uint64_t *hash)
{
	uint8_t buf[SNAP_TAIL_BYTES];
	size_t n;
	lk_status st = read_tail(io, s, end, buf, &n);

	if (st == LK_OK)
		*hash = snap_hash(buf, n);
	return st;
}

/* ---------------------------------------------------------------------- */
/* Writing                                                                */
/* ---------------------------------------------------------------------- */

struct capture {
	lk_io_file *f;       /* the <serial>.snap.tmp being written */
	char tmp[SNAP_NAME_BYTES];
	uint8_t *meta;       /* header, totals, namespaces, segments, bitmap */
	size_t meta_len, meta_cap;
	uint8_t *chunk;      /* chunk_entries entries */
	size_t chunk_entries; /* SNAP_WRITE_CHUNK_ENTRIES, or fewer for a
				 small table */
	uint64_t len;        /* of the file */
	uint64_t entries_hash;
	struct snap_header hdr;
	struct segment *segs[LK_SEGMENT_COUNT_MAX];
	struct snap_seg table[LK_SEGMENT_COUNT_MAX];
	void *scratch;       /* for index_export_begin() when it re-places */
	size_t scratch_cap;
	struct snap_totals totals;
	uint64_t log_mark;
};

/* The entries go to the file through a buffer of this many (12 bytes
 * each: 384 KiB), so that a snapshot's memory is that, the metadata and
 * the bitmap (a bit a slot: 200 KiB at a million keys), not a copy of the
 * whole table, which the memory budget (lk_options.memory_bytes_max)
 * does not count: 12 MB at a million keys, for every snapshot.  (A table
 * that deletes left sparser than a load accepts is first re-placed into
 * a smaller one, index_export_begin(): that copy, 12 bytes a slot of the
 * smaller table, is the one large block a snapshot still takes.) */
#define SNAP_WRITE_CHUNK_ENTRIES 32768u

static int seg_by_seq(const void *a, const void *b)
{
	const struct segment *x = *(struct segment *const *)a;
	const struct segment *y = *(struct segment *const *)b;

	return x->hdr.seq < y->hdr.seq ? -1 : x->hdr.seq > y->hdr.seq;
}

/* Grows *buf to at least len bytes (under the locks only when the index
 * grew since reserve_capture()), without keeping its contents: each
 * caller fills it after. */
static lk_status grow(void **buf, size_t *cap, uint64_t len)
{
	void *b;

	if (len > SIZE_MAX)
		return err_set(LK_TOO_BIG, "a snapshot of %" PRIu64 " bytes",
			       len);
	if (len <= *cap)
		return LK_OK;
	b = mem_alloc_table((size_t)len);
	if (!b)
		return err_set(LK_NOMEM, "a snapshot of %" PRIu64 " bytes", len);
	mem_free(*buf);
	*buf = b;
	*cap = (size_t)len;
	return LK_OK;
}

/* Writes the index's entries after the metadata, hashing them as they
 * go, and the bitmap into c->meta.  Caller holds log_mu and ix_lock
 * (shared), so that the index stays as of the log position. */
static lk_status write_entries(struct lk_db *db, struct capture *c,
			       const uint16_t *map)
{
	const lk_io *io = db->io;
	struct ix_export x;
	struct rec_hasher *h = record_hasher_new(0);
	uint64_t off = c->meta_len, end = off + (uint64_t)c->hdr.keys *
						       IX_SLOT_BYTES;
	lk_status st = LK_OK;
	int64_t n;

	if (!h)
		return err_set(LK_NOMEM, "taking a snapshot");
	index_export_begin(&x, segtable_index(db), map,
			   c->meta + c->meta_len -
				   IX_EXPORT_BITMAP_BYTES(c->hdr.index_slots),
			   c->scratch);
	while (st == LK_OK &&
	       (n = index_export_next(&x, c->chunk, c->chunk_entries)) != 0) {
		size_t bytes = (size_t)n * IX_SLOT_BYTES;

		if (n < 0)
			st = err_set(LK_CORRUPT, "the index names a segment "
					         "that is not in the log");
		else if (off + bytes > end)
			st = err_set(LK_CORRUPT, "the index holds more entries "
					         "than its %" PRIu32 " keys",
				     c->hdr.keys);
		else
			st = io->pwrite(io->ctx, c->f, c->chunk, bytes, off);
		if (st == LK_OK) {
			record_hasher_add(h, c->chunk, bytes);
			off += bytes;
		}
	}
	c->entries_hash = record_hasher_done(h);
	if (st == LK_OK && off != end)
		st = err_set(LK_CORRUPT, "the index holds %" PRIu64 " entries, "
				         "not %" PRIu32,
			     (off - c->meta_len) / IX_SLOT_BYTES, c->hdr.keys);
	return st;
}

/* Encodes the header's fields and the segment table (all but the tail
 * hashes) and writes the entries (write_entries).  Caller holds log_mu
 * and ix_lock (shared). */
static lk_status encode(struct lk_db *db, struct capture *c, uint64_t serial)
{
	LK_ASSERT(commit_log_held(db) && segtable_held(db));

	uint16_t map[IX_SEG_SLOTS] = { 0 };
	struct snap_header *h = &c->hdr;
	uint32_t slots = index_export_slots(segtable_index(db));
	lk_status st;

	memset(h, 0, sizeof *h);
	h->version = SNAP_VERSION;
	for (uint32_t i = 1; i < IX_SEG_SLOTS; i++)
		if (segtable_at(db, i) && !segtable_at(db, i)->installing)
			c->segs[h->seg_count++] = segtable_at(db, i);
	qsort(c->segs, h->seg_count, sizeof c->segs[0], seg_by_seq);
	memcpy(h->db_id, db->db_id, SEG_DB_ID_BYTES);
	h->serial = serial;
	h->created_ms = db->io->now_ms(db->io->ctx);
	h->seq_last = segtable_seq_last(db);
	h->index_slots = slots;
	h->keys = (uint32_t)index_keys(segtable_index(db));
	h->file_bytes = snap_file_bytes(SNAP_VERSION, h->seg_count, slots,
					h->keys);
	c->len = h->file_bytes;
	c->meta_len = (size_t)snap_meta_bytes(SNAP_VERSION, h->seg_count,
					      slots);
	st = grow((void **)&c->meta, &c->meta_cap, c->meta_len);
	if (st == LK_OK && slots != index_slots(segtable_index(db)))
		st = grow(&c->scratch, &c->scratch_cap,
			  (uint64_t)slots * IX_SLOT_BYTES);
	if (st != LK_OK)
		return st;
	/* the namespaces' live bytes, consistent with the segments' */
	for (uint32_t ns = 0; ns <= LK_NS_COUNT_MAX; ns++)
		put_u64(c->meta + SNAP_NS_AT + (size_t)ns * 8,
			segtable_ns_bytes(db, (uint8_t)ns));

	for (uint32_t i = 0; i < h->seg_count; i++) {
		const struct segment *s = c->segs[i];
		struct snap_seg *e = &c->table[i];

		map[s->slot] = (uint16_t)(i + 1);
		memset(e, 0, sizeof *e);
		e->seq = s->hdr.seq;
		e->seq_prev = s->hdr.seq_prev;
		e->record_seq_base = s->hdr.record_seq_base;
		e->data_end = s->data_end;
		e->live_bytes = s->live_bytes;
		e->ops = s->ops;
		e->generation = s->hdr.generation;
		e->flags = s->sealed ? SNAP_SEG_SEALED : 0;
	}
	return write_entries(db, c, map);
}

/* Before the locks are taken: creates the file and allocates the
 * buffers, touched, sized for the index as it is now with room for some
 * growth (first touches of fresh memory are page faults, and writers
 * should not wait for them). */
static lk_status reserve_capture(struct lk_db *db, struct capture *c,
				 uint64_t serial)
{
	const lk_io *io = db->io;
	uint64_t slots, keys, len;
	int sparse;
	lk_status st;

	segtable_rdlock(db);
	slots = index_export_slots(segtable_index(db));
	sparse = slots != index_slots(segtable_index(db));
	keys = index_keys(segtable_index(db));
	segtable_unlock(db);
	/* the keys now and some more, up to the cap: keys added meanwhile
	 * take more turns of the buffer, not a larger one */
	c->chunk_entries = keys + keys / 8 + 64 < SNAP_WRITE_CHUNK_ENTRIES
				   ? (size_t)(keys + keys / 8 + 64)
				   : SNAP_WRITE_CHUNK_ENTRIES;
	slots += slots / 2;
	len = snap_segs_at(SNAP_VERSION) +
	      (uint64_t)LK_SEGMENT_COUNT_MAX * SNAP_SEG_BYTES +
	      IX_EXPORT_BITMAP_BYTES(slots);
	st = grow((void **)&c->meta, &c->meta_cap, len);
	c->chunk = mem_alloc(c->chunk_entries * IX_SLOT_BYTES);
	if (st == LK_OK && !c->chunk)
		st = err_set(LK_NOMEM, "taking a snapshot");
	if (st == LK_OK && sparse)
		st = grow(&c->scratch, &c->scratch_cap, slots * IX_SLOT_BYTES);
	if (st != LK_OK)
		return st;
	memset(c->meta, 0, c->meta_cap);
	memset(c->chunk, 0, c->chunk_entries * IX_SLOT_BYTES);
	snap_name(c->tmp, serial, 1);
	return io->open(io->ctx, db->dir, c->tmp,
			LK_IO_WRITE | LK_IO_CREATE | LK_IO_EXCL, &c->f);
}

/* Fills in the tail hashes, encodes the header, the totals and the
 * segment table, and writes them and the trailer. */
static lk_status seal_capture(struct lk_db *db, struct capture *c)
{
	const lk_io *io = db->io;
	const struct snap_header *h = &c->hdr;
	uint8_t trailer[SNAP_TRAILER_BYTES];
	lk_status st = LK_OK;

	for (uint32_t i = 0; i < h->seg_count && st == LK_OK; i++) {
		struct snap_seg *e = &c->table[i];

		st = tail_hash(io, c->segs[i], e->data_end, &e->tail_hash);
		snap_seg_encode(c->meta + snap_segs_at(h->version) +
					(size_t)i * SNAP_SEG_BYTES, e);
	}
	if (st != LK_OK)
		return st;
	snap_header_encode(c->meta, h);
	snap_totals_encode(c->meta, &c->totals); /* after: it hashes the
						     header */
	put_u64(trailer + SNAP_T_META_HASH, snap_hash(c->meta, c->meta_len));
	put_u64(trailer + SNAP_T_ENTRIES_HASH, c->entries_hash);
	st = io->pwrite(io->ctx, c->f, c->meta, c->meta_len, 0);
	if (st == LK_OK)
		st = io->pwrite(io->ctx, c->f, trailer, sizeof trailer,
				c->len - SNAP_TRAILER_BYTES);
	return st;
}

/* Finishes the file: sync, rename, directory sync. */
static lk_status finish_file(struct lk_db *db, struct capture *c,
			     uint64_t serial)
{
	const lk_io *io = db->io;
	char name[SNAP_NAME_BYTES];
	lk_status st;

	snap_name(name, serial, 0);
	/* A failed sync is not retried: this snapshot is dropped whole,
	 * and the next one is a new file. */
	st = io->sync(io->ctx, c->f);
	io->close(io->ctx, c->f);
	c->f = NULL;
	if (st == LK_OK)
		st = io->rename(io->ctx, db->dir, c->tmp, name);
	if (st == LK_OK)
		st = io->dir_sync(io->ctx, db->dir);
	return st;
}

/* After failure st: closes and removes the unfinished file (the next
 * open removes it if this cannot), and says which snapshot failed. */
static void drop_file(struct lk_db *db, struct capture *c, lk_status st,
		      uint64_t serial)
{
	const lk_io *io = db->io;
	char why[LK_ERRMSG_BYTES], name[SNAP_NAME_BYTES];

	snprintf(why, sizeof why, "%s", lk_errmsg());
	if (c->f)
		io->close(io->ctx, c->f);
	c->f = NULL;
	if (c->tmp[0] && io->unlink(io->ctx, db->dir, c->tmp) != LK_OK)
		err_set(st, "%s", why);
	snap_name(name, serial, 0);
	err_prefix("writing snapshot %s", name);
}

/* Removes snapshot file `serial` (none if 0) and syncs the directory. */
static lk_status remove_old(struct lk_db *db, uint64_t serial)
{
	const lk_io *io = db->io;
	char name[SNAP_NAME_BYTES];
	lk_status st;

	if (serial == 0)
		return LK_OK;
	snap_name(name, serial, 0);
	st = io->unlink(io->ctx, db->dir, name);
	if (st == LK_OK)
		st = io->dir_sync(io->ctx, db->dir);
	else if (st == LK_NOT_FOUND)
		st = LK_OK;
	return st;
}

uint64_t snapshot_behind(const struct lk_db *db)
{
	return atomic_load(&db->snap->behind_open) +
	       commit_log_bytes(db) -
	       atomic_load(&db->snap->log_mark);
}

/* 1 if there is nothing to snapshot: no log yet, or the newest snapshot
 * is of this very state.  Caller holds log_mu. */
static int current(struct lk_db *db, uint64_t compactions)
{
	LK_ASSERT(commit_log_held(db));

	const struct segment *a = segtable_active(db);

	return !a || (db->snap->serial && db->snap->seg_seq == a->hdr.seq &&
		      db->snap->seg_gen == a->hdr.generation &&
		      db->snap->pos == a->data_end &&
		      db->snap->compactions == compactions);
}

lk_status snapshot_write(struct lk_db *db, const struct snap_totals *totals)
{
	uint64_t compactions = totals->compactions;
	struct capture *c;
	struct segment *a;
	uint64_t serial = next_serial(db->snap);
	lk_status st;

	if (db->readonly)
		return err_set(LK_READONLY, "the database was opened read-only");
	commit_log_lock(db);
	a = current(db, compactions) ? NULL : segtable_active(db);
	commit_log_unlock(db);
	if (!a)
		return LK_OK;
	c = mem_calloc(1, sizeof *c);
	if (!c)
		return err_set(LK_NOMEM, "taking a snapshot");
	st = reserve_capture(db, c, serial);
	if (st != LK_OK)
		goto out;
	commit_log_lock(db);
	st = commit_sync_held(db);
	/* a writer may have come */
	a = current(db, compactions) ? NULL : segtable_active(db);
	if (st == LK_OK && a) {
		segtable_rdlock(db);
		st = encode(db, c, serial);
		segtable_unlock(db);
		c->totals = *totals;
		c->log_mark = commit_log_bytes(db);
	}
	commit_log_unlock(db);
	if (st != LK_OK || !a)
		goto out;

	st = seal_capture(db, c);
	if (st == LK_OK)
		st = finish_file(db, c, serial);
	if (st != LK_OK)
		goto out;
	c->tmp[0] = 0; /* renamed: nothing to drop */
	db->snap->next_serial = serial + 1;
	atomic_fetch_add(&db->snap->written, 1);
	atomic_fetch_add(&db->snap->bytes_written, c->len);
	/* The new one is durable; the old one is of no more use, nor the
	 * file open took the totals from (they are in the new one), and if
	 * their removal is lost, open prefers the newer. */
	st = remove_old(db, db->snap->serial);
	if (db->snap->totals_serial != db->snap->serial) {
		lk_status u = remove_old(db, db->snap->totals_serial);

		if (st == LK_OK)
			st = u;
	}
	db->snap->totals_serial = 0;
	db->snap->serial = serial;
	db->snap->seg_seq = c->table[c->hdr.seg_count - 1].seq;
	db->snap->seg_gen = c->table[c->hdr.seg_count - 1].generation;
	db->snap->pos = c->table[c->hdr.seg_count - 1].data_end;
	db->snap->compactions = c->totals.compactions;
	atomic_store(&db->snap->behind_open, 0);
	atomic_store(&db->snap->log_mark, c->log_mark);
	atomic_store(&db->snap->created_ms, c->hdr.created_ms);
out:
	if (st != LK_OK && c->tmp[0])
		drop_file(db, c, st, serial);
	else if (c->f) { /* nothing to write after all */
		db->io->close(db->io->ctx, c->f);
		(void)db->io->unlink(db->io->ctx, db->dir, c->tmp);
	}
	mem_free(c->scratch);
	mem_free(c->chunk);
	mem_free(c->meta);
	mem_free(c);
	return st;
}

void snapshot_auto(struct lk_db *db, const struct snap_totals *totals)
{
	if (snapshot_write(db, totals) != LK_OK)
		atomic_fetch_add(&db->snap->failures, 1);
}

/* ---------------------------------------------------------------------- */
/* Loading                                                                */
/* ---------------------------------------------------------------------- */

struct snap_list {
	uint64_t serials[SNAP_TRIES_MAX]; /* newest first */
	size_t n;
	uint64_t newest;                  /* of all, tmp files included */
};

static lk_status list_one(void *arg, const char *name)
{
	struct snap_list *l = arg;
	uint64_t serial;
	size_t i;
	int tmp;

	if (!snapshot_parse_name(name, &serial, &tmp))
		return LK_OK;
	if (serial > l->newest)
		l->newest = serial;
	if (tmp)
		return LK_OK;
	/* keep the SNAP_TRIES_MAX newest, newest first */
	for (i = 0; i < l->n && l->serials[i] > serial; i++)
		;
	if (i == SNAP_TRIES_MAX)
		return LK_OK;
	if (l->n < SNAP_TRIES_MAX)
		l->n++;
	memmove(&l->serials[i + 1], &l->serials[i],
		(l->n - 1 - i) * sizeof l->serials[0]);
	l->serials[i] = serial;
	return LK_OK;
}

/* One snapshot file being judged. */
struct loader {
	struct lk_db *db;
	uint32_t nsegs;            /* segments in the log */
	const char *name;
	lk_io_file *f;
	uint64_t size;
	struct snap_header h;
	uint8_t *meta;             /* all before the entries (meta_hash's) */
	size_t meta_len;
	struct snap_seg *table;    /* [1..h.seg_count], decoded */
	uint64_t *sums;            /* the import's seg_bytes, seg_large */
	struct index *ix;
	struct ix_import im;
	int adopted;               /* the table's index and segments took it */
	uint64_t created_ms;
	struct snap_totals totals; /* version 2 ... */
	int totals_ok;             /* ... when they passed their checks */
	int damaged;               /* rejected for failing its own checks */
	int unread;                /* a read failed or came up short */
	char why[LK_NOTE_BYTES];
};

static lk_status reject(struct loader *ld, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static lk_status reject_damaged(struct loader *ld, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static lk_status reject(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ld->why, sizeof ld->why, fmt, ap);
	va_end(ap);
	return LK_CORRUPT;
}

/* A file that fails its own checks (its checksums, its sizes), or is not
 * this database's: not a snapshot of an older state of the log, which a
 * crash or a compaction leaves, but damage to report (snapshot_damaged). */
static lk_status reject_damaged(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ld->why, sizeof ld->why, fmt, ap);
	va_end(ap);
	ld->damaged = 1;
	return LK_CORRUPT;
}

static lk_status read_exact(struct loader *ld, void *buf, size_t n,
			    uint64_t off)
{
	const lk_io *io = ld->db->io;
	size_t got = 0;
	lk_status st = io->pread(io->ctx, ld->f, buf, n, off, &got);

	if (st == LK_NOMEM)
		return st;
	if (st == LK_OK && got == n)
		return LK_OK;
	ld->unread = 1;
	if (st != LK_OK)
		return reject(ld, "unreadable (%.100s)", lk_errmsg());
	return reject(ld, "changed while it was read");
}

/* The header: its own checks, the sizes it implies, the database.  Runs
 * before anything is allocated for the file. */
static lk_status check_header(struct loader *ld)
{
	uint8_t hdr[SNAP_NS_AT];
	const char *why = NULL;
	lk_status st;

	if (ld->size < SNAP_HEADER_BYTES)
		return reject_damaged(ld, "shorter than its header (%" PRIu64
				      " bytes)", ld->size);
	st = read_exact(ld, hdr, SNAP_HEADER_BYTES, 0);
	if (st != LK_OK)
		return st;
	st = snap_header_decode(&ld->h, hdr, &why);
	if (st == LK_VERSION)
		return reject(ld, "%s, this library reads %u to %u", why,
			      SNAP_VERSION_MIN, SNAP_VERSION);
	if (st != LK_OK)
		return reject_damaged(ld, "%s (%u segments, %u keys in %u "
				      "slots)", why, ld->h.seg_count,
				      ld->h.keys, ld->h.index_slots);
	if (memcmp(ld->h.db_id, segtable_at(ld->db, 1)->hdr.db_id,
		   SEG_DB_ID_BYTES) != 0)
		return reject_damaged(ld, "belongs to another database");
	/* The totals are judged on their own, before the rest of the file:
	 * the newest ones that pass count even if the index is not used
	 * (snapshot_load). */
	if (ld->h.version >= 2 && ld->size >= SNAP_NS_AT) {
		st = read_exact(ld, hdr + SNAP_HEADER_BYTES, SNAP_TOTALS_BYTES,
				SNAP_HEADER_BYTES);
		if (st != LK_OK)
			return st;
		if (snap_totals_decode(&ld->totals, hdr, &why) != LK_OK)
			return reject_damaged(ld, "%s", why);
		ld->totals_ok = 1;
	}
	if (ld->size < ld->h.file_bytes)
		return reject_damaged(ld, "truncated (%" PRIu64 " of %" PRIu64
				      " bytes)", ld->size, ld->h.file_bytes);
	if (ld->size > ld->h.file_bytes)
		return reject_damaged(ld, "%" PRIu64 " bytes longer than it "
				      "should be", ld->size - ld->h.file_bytes);
	ld->meta_len = (size_t)snap_meta_bytes(ld->h.version, ld->h.seg_count,
					       ld->h.index_slots);
	return LK_OK;
}

/* What a snapshot's data_end must be in the log: the end of the header
 * (nothing written yet), or the end of a commit record, or of the seal
 * when the entry says sealed, whose count must then be the entry's ops.
 * A forged position inside a record would otherwise make the replay
 * after it take real records for a torn tail.  tail: the n bytes before
 * data_end; commits and seals are far shorter.  Returns NULL or why not. */
static const char *ends_its_part(struct segment *s, const struct snap_seg *e,
				 const uint8_t *tail, size_t n)
{
	int sealed = (e->flags & SNAP_SEG_SEALED) != 0;

	if (e->data_end == SEG_HEADER_BYTES)
		return sealed ? "a seal inside the segment header" : NULL;
	for (size_t len = REC_BYTES_MIN; len <= n; len++) {
		uint64_t at = e->data_end - len;
		const uint8_t *p = tail + n - len;
		const char *why = NULL;
		struct record rec;
		uint32_t size;

		if (at < SEG_HEADER_BYTES)
			break;
		if (record_peek_size(&size, p, len, &why) != REC_PEEK_SIZE ||
		    size != len ||
		    record_decode(&rec, p, len, s->hdr.record_seq_base,
				  seg_seed(s, at), &why) != LK_OK)
			continue;
		if (rec.type != (sealed ? REC_SEAL : REC_COMMIT))
			continue;
		if (sealed && rec.count != e->ops)
			return "its seal counts other operations";
		return NULL;
	}
	return sealed ? "not the end of a seal record"
		      : "not the end of a commit record";
}

/* The segment table against the log, and the tail of every segment. */
static lk_status check_segments(struct loader *ld, uint64_t *ends)
{
	const lk_io *io = ld->db->io;
	const uint8_t *p = ld->meta + snap_segs_at(ld->h.version);
	uint32_t count = ld->h.seg_count;

	for (uint32_t i = 1; i <= count; i++, p += SNAP_SEG_BYTES) {
		struct segment *s = segtable_at(ld->db, i);
		struct snap_seg *e = &ld->table[i];
		int last = i == count;
		const char *why = NULL;
		uint8_t tail[SNAP_TAIL_BYTES];
		size_t n;
		lk_status st;

		if (i > ld->nsegs)
			return reject(ld, "covers %u segments, the log has %u",
				      count, ld->nsegs);
		if (snap_seg_decode(e, p, &why) != LK_OK)
			return reject(ld, "segment %" PRIu64 ": %s", e->seq,
				      why);
		if (e->seq != s->hdr.seq || e->generation != s->hdr.generation)
			return reject(ld, "segment %" PRIu64 ".%u is not in the "
				      "log any more (rewritten by a "
				      "compaction since?)",
				      e->seq, e->generation);
		if (e->seq_prev != s->hdr.seq_prev ||
		    e->record_seq_base != s->hdr.record_seq_base)
			return reject(ld, "segment %" PRIu64 " has another "
				      "header", s->hdr.seq);
		/* writes go on in the last segment, numbered from
		 * seq_last: never below its base */
		if (last && ld->h.seq_last < e->record_seq_base - 1)
			return reject(ld, "its newest record number %" PRIu64
				      " lies before segment %" PRIu64 "'s "
				      "first, %" PRIu64, ld->h.seq_last,
				      s->hdr.seq, e->record_seq_base);
		if (e->data_end > s->file_size ||
		    (!last && e->data_end != s->file_size) ||
		    (!last && !(e->flags & SNAP_SEG_SEALED)))
			return reject(ld, "segment %" PRIu64 " ends at %" PRIu64
				      ", the snapshot has %" PRIu64,
				      s->hdr.seq, s->file_size, e->data_end);
		st = read_tail(io, s, e->data_end, tail, &n);
		if (st == LK_NOMEM)
			return st;
		if (st != LK_OK)
			return reject(ld, "segment %" PRIu64 ": %.100s",
				      s->hdr.seq, lk_errmsg());
		if (snap_hash(tail, n) != e->tail_hash)
			return reject(ld, "segment %" PRIu64 " holds other "
				      "bytes before %" PRIu64, s->hdr.seq,
				      e->data_end);
		why = ends_its_part(s, e, tail, n);
		if (why)
			return reject(ld, "segment %" PRIu64 " at %" PRIu64
				      ": %s", s->hdr.seq, e->data_end, why);
		ends[i] = e->data_end;
	}
	return LK_OK;
}

/* The namespace catalog in the loaded index, as recovery checks it. */
static int catalog_reads_back(struct lk_db *db, uint64_t *catalog)
{
	for (size_t i = 0; i < db->snap->catalog_n; i++) {
		struct record rec;
		uint8_t *buf = NULL;
		int ok = segtable_read(db, db->snap->catalog_locs[i], &rec,
				       &buf) == LK_OK &&
			 rec.type == REC_PUT && record_catalog_valid(&rec) &&
			 !catalog[rec.value[0]];

		if (ok)
			catalog[rec.value[0]] =
				record_hash(rec.key, rec.key_len, 0) | 1;
		mem_free(buf);
		if (!ok)
			return 0;
	}
	return 1;
}

/* Each segment's live bytes against the entries that point into it: the
 * sum of their sizes, exact but for large records, whose size the index
 * does not hold (at least IX_SIZE_LARGE, at most a record's limit).  A
 * snapshot that drops keys but keeps the counters is caught here. */
static int live_fits(uint64_t live, uint64_t entries, uint64_t large)
{
	const uint64_t large_extra = LK_RECORD_BYTES_MAX +
				     REC_PREFIX_BYTES_MAX - IX_SIZE_LARGE;

	return live >= entries && live - entries <= large * large_extra;
}

static lk_status check_live_bytes(struct loader *ld)
{
	const uint64_t *bytes = ld->im.seg_bytes, *large = ld->im.seg_large;

	for (uint32_t i = 1; i <= ld->h.seg_count; i++) {
		uint64_t live = ld->table[i].live_bytes;

		if (!live_fits(live, bytes[i], large[i]))
			return reject(ld, "segment %" PRIu64 " has %" PRIu64
				      " live bytes, its index entries %" PRIu64
				      "%s", ld->table[i].seq, live, bytes[i],
				      large[i] ? " and more" : "");
	}
	return LK_OK;
}

/* Adds to bytes[ns] what each large entry of the adopted index holds
 * past IX_SIZE_LARGE, read from its record's length prefix. */
struct large_sizes {
	struct lk_db *db;
	uint64_t *bytes;
	lk_status st;
	const char *why;
	uint64_t seg_seq, offset; /* of the record that failed */
};

static void add_large(void *arg, uint8_t ns, struct ix_loc loc, int expiring)
{
	struct large_sizes *ls = arg;
	const lk_io *io = ls->db->io;
	const struct segment *s;
	uint8_t head[REC_PREFIX_BYTES_MAX];
	uint32_t size = 0;
	size_t got = 0;

	(void)expiring;
	if (loc.size != IX_SIZE_LARGE || ls->st != LK_OK)
		return;
	s = segtable_at(ls->db, loc.seg);
	ls->seg_seq = s->hdr.seq;
	ls->offset = loc.offset;
	ls->st = io->pread(io->ctx, s->file, head, sizeof head, loc.offset,
			   &got);
	if (ls->st != LK_OK)
		return;
	if (record_peek_size(&size, head, got, &ls->why) != REC_PEEK_SIZE) {
		ls->st = LK_CORRUPT;
		return;
	}
	if (size < IX_SIZE_LARGE || loc.offset + (uint64_t)size > s->data_end) {
		ls->why = "a large record's length disagrees with its entry";
		ls->st = LK_CORRUPT;
		return;
	}
	ls->bytes[ns] += size - IX_SIZE_LARGE;
}

/* The live bytes of each namespace, once the index is adopted.  A
 * version 2 file stores them: each is held against its entries like a
 * segment's (check_live_bytes).  A version 1 file does not: they are the
 * sums of the entries' sizes, exact but for large records, whose size the
 * index does not hold; each of those costs a read of its length prefix
 * (only records of IX_SIZE_LARGE bytes or more, so at most one read per
 * 4 KiB of live data, and only until the next snapshot, of version 2).
 * Either way, summed over the namespaces they must be the segments' live
 * bytes: both count the same records. */
static lk_status adopt_ns_bytes(struct loader *ld)
{
	uint64_t bytes[LK_NS_COUNT_MAX + 1], sum = 0, seg_sum = 0, large = 0;
	struct large_sizes ls = { ld->db, bytes, LK_OK, NULL, 0, 0 };

	if (ld->h.version >= 2) {
		for (uint32_t ns = 0; ns <= LK_NS_COUNT_MAX; ns++) {
			bytes[ns] = get_u64(ld->meta + SNAP_NS_AT +
					    (size_t)ns * 8);
			if (!live_fits(bytes[ns], ld->im.ns_bytes[ns],
				       ld->im.ns_large[ns]))
				return reject(ld, "namespace %u has %" PRIu64
					      " live bytes, its index entries "
					      "%" PRIu64 "%s", ns, bytes[ns],
					      ld->im.ns_bytes[ns],
					      ld->im.ns_large[ns] ? " and more"
								  : "");
		}
	} else {
		memcpy(bytes, ld->im.ns_bytes, sizeof bytes);
		for (uint32_t ns = 0; ns <= LK_NS_COUNT_MAX; ns++)
			large += ld->im.ns_large[ns];
	}
	if (large) /* open, alone: no lock */
		index_foreach(segtable_index(ld->db), -1, add_large, &ls);
	if (ls.st == LK_NOMEM)
		return ls.st;
	if (ls.st == LK_CORRUPT)
		return reject(ld, "segment %" PRIu64 " offset %" PRIu64 ": %s",
			      ls.seg_seq, ls.offset, ls.why);
	if (ls.st != LK_OK)
		return reject(ld, "segment %" PRIu64 " offset %" PRIu64
			      ": unreadable (%.80s)", ls.seg_seq, ls.offset,
			      lk_errmsg());
	for (uint32_t ns = 0; ns <= LK_NS_COUNT_MAX; ns++)
		sum += bytes[ns];
	for (uint32_t i = 1; i <= ld->h.seg_count; i++)
		seg_sum += ld->table[i].live_bytes;
	if (sum != seg_sum)
		return reject(ld, "its segments hold %" PRIu64 " live bytes, "
			      "its namespaces %" PRIu64, seg_sum, sum);
	segtable_set_ns_bytes(ld->db, bytes);
	return LK_OK;
}

static uint64_t split_keys_min = SNAP_SPLIT_KEYS_MIN;

uint64_t snapshot_split_keys_min(uint64_t keys)
{
	uint64_t was = split_keys_min;

	split_keys_min = keys ? keys : SNAP_SPLIT_KEYS_MIN;
	return was;
}

/* One part of an import that runs on a thread of its own. */
struct import_part {
	struct index *ix;
	struct ix_import *im;
	const uint8_t *entries;
	size_t n;
	const char *why;
	lk_status st;
};

static void import_part_run(void *arg)
{
	struct import_part *p = arg;

	p->st = index_import_add(p->ix, p->im, p->entries, p->n, &p->why);
}

/* Reads the entries first to first + n of the file into `area`, the
 * table's own memory where index_import_area() packs them.  A short or
 * failed read sets ld->unread (read_exact). */
static lk_status read_area(struct loader *ld, uint8_t *area, uint64_t first,
			   uint64_t n)
{
	if (n == 0)
		return LK_OK;
	return read_exact(ld, area, (size_t)(n * IX_SLOT_BYTES),
			  ld->meta_len + first * IX_SLOT_BYTES);
}

/* The entries are read into the table itself, not into a buffer: each
 * part's are packed against the end of its slots, hashed, and spread
 * from there in place (index.h, "In place"), so that a load takes no
 * memory but the table's.  A large table, on a handle without a memory
 * budget, is spread by two threads: once the entries of the slots before
 * the middle are hashed, a second thread spreads them while this one
 * hashes the others and spreads them.  With no second thread, this one
 * spreads both parts. */
static lk_status import_entries(struct loader *ld, struct rec_hasher *h,
			      const char **why)
{
	const lk_io *io = ld->db->io;
	struct ix_import *second = NULL;
	struct import_part part = { 0 };
	uint64_t *sums = NULL, first, keys = ld->h.keys;
	uint32_t cap = ld->h.index_slots;
	lk_io_thread *t = NULL;
	uint8_t *area, *area2;
	lk_status st;

	/* a cut needs a bitmap word on each side; a budget, one thread */
	if (keys >= split_keys_min && cap >= 5 * 64 &&
	    !ld->db->opts.memory_bytes_max) {
		second = mem_alloc(sizeof *second);
		sums = mem_calloc(2 * ((size_t)ld->h.seg_count + 1),
				  sizeof *sums);
	}
	if (!second || !sums) {
		mem_free(second);
		mem_free(sums);
		area = index_import_area(ld->ix, &ld->im, cap);
		st = read_area(ld, area, 0, keys);
		if (st != LK_OK)
			return st;
		record_hasher_add(h, area, (size_t)(keys * IX_SLOT_BYTES));
		return index_import_add(ld->ix, &ld->im, area, (size_t)keys,
					why);
	}
	first = index_import_split(ld->ix, &ld->im, second, cap / 2);
	area = index_import_area(ld->ix, &ld->im, second->first_slot);
	area2 = index_import_area(ld->ix, second, cap);
	st = read_area(ld, area, 0, first);
	if (st == LK_OK)
		st = read_area(ld, area2, first, keys - first);
	if (st == LK_OK) {
		record_hasher_add(h, area, (size_t)(first * IX_SLOT_BYTES));
		part.ix = ld->ix;
		part.im = &ld->im;
		part.entries = area;
		part.n = (size_t)first;
		if (io->thread_start(io->ctx, &t, import_part_run, &part) !=
		    LK_OK)
			t = NULL;
		second->seg_bytes = sums;
		second->seg_large = sums + ld->h.seg_count + 1;
		record_hasher_add(h, area2,
				  (size_t)((keys - first) * IX_SLOT_BYTES));
		st = index_import_add(ld->ix, second, area2,
				      (size_t)(keys - first), why);
		if (t)
			io->thread_join(io->ctx, t);
		else
			import_part_run(&part);
		/* the first part's failure first, as one thread finds it */
		if (part.st != LK_OK) {
			st = part.st;
			*why = part.why;
		}
		if (st == LK_OK)
			st = index_import_join(ld->ix, &ld->im, second, why);
	}
	mem_free(second);
	mem_free(sums);
	return st;
}

/* Loads the entries into ld->ix, by two threads (import_entries) or one,
 * hashed as they come. */
static lk_status read_entries(struct loader *ld, const uint64_t *ends,
			      const uint8_t *trailer)
{
	uint32_t map[LK_SEGMENT_COUNT_MAX + 1];
	struct rec_hasher *h;
	const char *why = NULL;
	uint64_t hash;
	lk_status st;

	/* open numbered the segments in log order, from 1 */
	for (uint32_t i = 1; i <= ld->h.seg_count; i++)
		map[i] = segtable_at(ld->db, i)->slot;
	h = record_hasher_new(0);
	if (!h)
		return err_set(LK_NOMEM, "loading snapshot %s", ld->name);
	st = index_import_begin(ld->ix, &ld->im, ld->h.index_slots,
				ld->h.keys,
				ld->meta + snap_segs_at(ld->h.version) +
					(size_t)ld->h.seg_count * SNAP_SEG_BYTES,
				map, ld->h.seg_count, ends, &why);
	ld->im.seg_bytes = ld->sums;
	ld->im.seg_large = ld->sums + ld->h.seg_count + 1;
	if (st == LK_OK)
		st = import_entries(ld, h, &why);
	if (st == LK_OK)
		st = index_import_end(ld->ix, &ld->im, &why);
	hash = record_hasher_done(h);
	/* An entry that was never read is not damage (a failed read, which
	 * a later open may not meet): the hash is of part of them. */
	if (ld->unread)
		return st;
	if (hash != get_u64(trailer + SNAP_T_ENTRIES_HASH) &&
	    (st == LK_OK || st == LK_CORRUPT))
		return reject_damaged(ld, "checksum mismatch in its index "
				      "entries");
	if (st == LK_CORRUPT)
		return reject_damaged(ld, "invalid index: %s", why);
	if (st == LK_OK)
		st = check_live_bytes(ld);
	return st;
}

static lk_status load_one(struct loader *ld, struct snap_start *start)
{
	struct lk_db *db = ld->db;
	const lk_io *io = db->io;
	uint64_t ends[LK_SEGMENT_COUNT_MAX + 1] = { 0 };
	uint8_t trailer[SNAP_TRAILER_BYTES];
	lk_status st;

	st = io->open(io->ctx, db->dir, ld->name, LK_IO_READ, &ld->f);
	if (st == LK_OK)
		st = io->size(io->ctx, ld->f, &ld->size);
	if (st == LK_NOMEM)
		return st;
	if (st != LK_OK)
		return reject(ld, "unreadable (%.100s)", lk_errmsg());
	st = check_header(ld);
	if (st != LK_OK)
		return st;
	ld->meta = mem_alloc(ld->meta_len);
	ld->table = mem_calloc((size_t)ld->h.seg_count + 1, sizeof *ld->table);
	ld->sums = mem_calloc(2 * ((size_t)ld->h.seg_count + 1),
			      sizeof *ld->sums);
	if (!ld->meta || !ld->table || !ld->sums)
		return err_set(LK_NOMEM, "loading snapshot %s", ld->name);
	st = read_exact(ld, ld->meta, ld->meta_len, 0);
	if (st == LK_OK)
		st = read_exact(ld, trailer, sizeof trailer,
				ld->size - sizeof trailer);
	if (st != LK_OK)
		return st;
	if (snap_hash(ld->meta, ld->meta_len) !=
	    get_u64(trailer + SNAP_T_META_HASH))
		return reject_damaged(ld, "checksum mismatch in its "
				      "namespaces, segment table or bitmap");
	st = check_segments(ld, ends);
	if (st != LK_OK)
		return st;

	st = index_new(&ld->ix);
	if (st == LK_OK)
		st = read_entries(ld, ends, trailer);
	if (st != LK_OK)
		return st;

	/* Adopted from here on: the caller undoes it if the catalog fails. */
	for (uint32_t i = 1; i <= ld->h.seg_count; i++) {
		struct segment *s = segtable_at(db, i);

		s->data_end = s->synced_end = ends[i];
		s->live_bytes = ld->table[i].live_bytes;
		s->ops = ld->table[i].ops;
		s->sealed = (ld->table[i].flags & SNAP_SEG_SEALED) != 0;
	}
	{
		ld->ix = segtable_swap_index(db, ld->ix); /* the empty one */
		ld->adopted = 1;
	}
	memcpy(db->snap->catalog_locs, ld->im.ns0,
	       ld->im.ns0_n * sizeof ld->im.ns0[0]);
	db->snap->catalog_n = ld->im.ns0_n;
	db->snap->catalog_known = 1;
	memset(start, 0, sizeof *start);
	if (!catalog_reads_back(db, start->catalog))
		return reject(ld, "its namespace catalog does not read back");
	st = adopt_ns_bytes(ld);
	if (st != LK_OK)
		return st;
	start->seg = ld->h.seg_count;
	start->offset = ends[ld->h.seg_count];
	start->sealed = segtable_at(db, ld->h.seg_count)->sealed;
	start->seq_last = ld->h.seq_last;
	ld->created_ms = ld->h.created_ms;
	return LK_OK;
}

/* Puts back what load_one adopted before it failed. */
static void unadopt(struct loader *ld)
{
	struct lk_db *db = ld->db;
	if (!ld->adopted)
		return;
	ld->ix = segtable_swap_index(db, ld->ix); /* the loaded one */
	ld->adopted = 0;
	db->snap->catalog_known = 0;
	segtable_set_ns_bytes(db, (const uint64_t[LK_NS_COUNT_MAX + 1]){ 0 });
	for (uint32_t i = 1; i <= ld->nsegs; i++) {
		struct segment *s = segtable_at(db, i);

		s->data_end = s->synced_end = 0;
		s->live_bytes = s->ops = 0;
		s->sealed = 0;
	}
}

static void loader_free(struct loader *ld)
{
	const lk_io *io = ld->db->io;

	if (ld->f)
		io->close(io->ctx, ld->f);
	index_free(ld->ix);
	mem_free(ld->meta);
	mem_free(ld->table);
	mem_free(ld->sums);
	ld->f = NULL;
	ld->ix = NULL;
	ld->meta = NULL;
	ld->table = NULL;
}

lk_status snapshot_load(struct lk_db *db, uint32_t nsegs,
			struct snap_start *start, int *used)
{
	lk_recovery_report *rep = &db->report;
	struct snap_list l = { 0 };
	char first_why[LK_NOTE_BYTES] = "";
	char name[SNAP_NAME_BYTES];
	int totals_found = 0;
	lk_status st;

	*used = 0;
	st = db->io->dir_list(db->io->ctx, db->dir, list_one, &l);
	if (st == LK_NOMEM)
		return st;
	if (st != LK_OK) {
		snprintf(rep->snapshot_note, sizeof rep->snapshot_note,
			 "snapshots not listed (%.100s): the whole log was "
			 "replayed", lk_errmsg());
		return LK_OK;
	}
	db->snap->next_serial = l.newest + 1;
	if (db->snap->ignore) {
		snprintf(rep->snapshot_note, sizeof rep->snapshot_note,
			 "snapshots ignored: the whole log was replayed");
		return LK_OK;
	}
	if (l.n == 0 || nsegs == 0) {
		snprintf(rep->snapshot_note, sizeof rep->snapshot_note,
			 SNAP_NOTE_NONE);
		return LK_OK;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct loader ld = { 0 };

		snap_name(name, l.serials[i], 0);
		ld.db = db;
		ld.nsegs = nsegs;
		ld.name = name;
		st = load_one(&ld, start);
		if (st != LK_OK)
			unadopt(&ld);
		loader_free(&ld);
		if (st == LK_NOMEM)
			return st;
		/* the newest totals that passed their checks, whether or not
		 * the rest of their file is used ("Compaction totals") */
		if (ld.totals_ok && !totals_found) {
			db->snap->totals = ld.totals;
			db->snap->totals_serial = l.serials[i];
			totals_found = 1;
		}
		if (st == LK_OK) {
			/* the next write knows this state from here */
			atomic_store(&db->snap->serial, l.serials[i]);
			atomic_store(&db->snap->created_ms, ld.created_ms);
			const struct segment *at = segtable_at(db, start->seg);

			db->snap->seg_seq = at->hdr.seq;
			db->snap->seg_gen = at->hdr.generation;
			db->snap->pos = start->offset;
			db->snap->compactions = ld.totals_ok
							? ld.totals.compactions
							: 0;
			snprintf(rep->snapshot_note, sizeof rep->snapshot_note,
				 "snapshot %s%s%.60s%s", name,
				 first_why[0] ? " (a newer one " : "",
				 first_why, first_why[0] ? ")" : "");
			rep->snapshot_used = 1;
			*used = 1;
			return LK_OK;
		}
		if (!first_why[0])
			snprintf(first_why, sizeof first_why, "%s", ld.why);
		if (ld.damaged && !db->snap->damaged[0]) {
			snprintf(db->snap->damaged, sizeof db->snap->damaged,
				 "%s", name);
			snprintf(db->snap->damaged_why,
				 sizeof db->snap->damaged_why, "%s", ld.why);
			snprintf(rep->snapshot_damaged,
				 sizeof rep->snapshot_damaged, "%s: %.*s",
				 name, (int)(LK_NOTE_BYTES - SNAP_NAME_BYTES - 2),
				 ld.why);
		}
	}
	snprintf(rep->snapshot_note, sizeof rep->snapshot_note,
		 "snapshot %016" PRIx64 ".snap not used: %.80s; the whole "
		 "log was replayed", l.serials[0], first_why);
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Comparing with a replay (lk_verify)                                    */
/* ---------------------------------------------------------------------- */

/* The index's digest, each segment named by its seq and generation
 * (slots differ between handles). */
static lk_status digest_of(struct lk_db *db, uint64_t *d)
{
	uint64_t *ids = mem_calloc(IX_SEG_SLOTS, sizeof *ids);

	if (!ids)
		return err_set(LK_NOMEM, "comparing a snapshot with the log");
	for (uint32_t i = 1; i < IX_SEG_SLOTS; i++)
		if (segtable_at(db, i))
			ids[i] = segtable_at(db, i)->hdr.seq ^
				 (uint64_t)segtable_at(db, i)->hdr.generation << 48;
	segtable_rdlock(db);
	*d = index_digest(segtable_index(db), ids);
	segtable_unlock(db);
	mem_free(ids);
	return LK_OK;
}

lk_status snapshot_matches_replay(struct lk_db *with, struct lk_db *without,
				  char *why, size_t why_bytes)
{
	uint64_t da = 0, db = 0;
	uint32_t i = 1, j = 1;
	lk_status st;

	for (uint32_t ns = 0; ns <= LK_NS_COUNT_MAX; ns++) {
		uint64_t a = index_count(segtable_index(with), (uint8_t)ns);
		uint64_t b = index_count(segtable_index(without), (uint8_t)ns);
		uint64_t ab = segtable_ns_bytes(with, (uint8_t)ns);
		uint64_t bb = segtable_ns_bytes(without, (uint8_t)ns);

		if (a != b || ab != bb) {
			snprintf(why, why_bytes, "namespace %u has %" PRIu64
				 " keys of %" PRIu64 " live bytes, the log %"
				 PRIu64 " of %" PRIu64, ns, a, ab, b, bb);
			return LK_CORRUPT;
		}
	}
	/* the segments, in log order in both */
	for (;; i++, j++) {
		const struct segment *a, *b;

		while (i < IX_SEG_SLOTS && !segtable_at(with, i))
			i++;
		while (j < IX_SEG_SLOTS && !segtable_at(without, j))
			j++;
		if (i == IX_SEG_SLOTS || j == IX_SEG_SLOTS)
			break;
		a = segtable_at(with, i);
		b = segtable_at(without, j);
		if (a->hdr.seq != b->hdr.seq || a->live_bytes != b->live_bytes ||
		    a->ops != b->ops) {
			snprintf(why, why_bytes, "segment %" PRIu64 " has %" PRIu64
				 " live bytes and %" PRIu64 " operations, the "
				 "log %" PRIu64 " and %" PRIu64, a->hdr.seq,
				 a->live_bytes, a->ops, b->live_bytes, b->ops);
			return LK_CORRUPT;
		}
	}
	if (segtable_seq_last(with) != segtable_seq_last(without)) {
		snprintf(why, why_bytes, "its last sequence number is %" PRIu64
			 ", the log's %" PRIu64, segtable_seq_last(with),
			 segtable_seq_last(without));
		return LK_CORRUPT;
	}
	st = digest_of(with, &da);
	if (st == LK_OK)
		st = digest_of(without, &db);
	if (st == LK_OK && da != db) {
		snprintf(why, why_bytes, "its index points at other records "
			 "than the log's newest");
		return LK_CORRUPT;
	}
	return st;
}

lk_status snapshot_any(const lk_io *io, lk_io_dir *dir, int *any)
{
	struct snap_list l = { 0 };
	lk_status st = io->dir_list(io->ctx, dir, list_one, &l);

	*any = st == LK_OK && l.n > 0;
	return st;
}

int snapshot_exists(const lk_io *io, lk_io_dir *dir)
{
	struct snap_list l = { 0 };

	return io->dir_list(io->ctx, dir, list_one, &l) != LK_OK || l.n > 0;
}

/* Removes every snapshot file but the one in use. */
struct cleanup {
	struct lk_db *db;
	char names[SNAP_TRIES_MAX * 4][SNAP_NAME_BYTES];
	size_t n;
};

static lk_status cleanup_one(void *arg, const char *name)
{
	struct cleanup *c = arg;
	uint64_t serial;
	int tmp;

	/* kept: the one in use, and the one the totals came from (until a
	 * new snapshot holds them) */
	if (!snapshot_parse_name(name, &serial, &tmp) ||
	    (!tmp && (serial == c->db->snap->serial ||
		      serial == c->db->snap->totals_serial)))
		return LK_OK;
	/* a few at a time: more are removed by the next open */
	if (c->n < sizeof c->names / sizeof c->names[0])
		snprintf(c->names[c->n++], SNAP_NAME_BYTES, "%s", name);
	return LK_OK;
}

lk_status snapshot_cleanup(struct lk_db *db)
{
	const lk_io *io = db->io;
	struct cleanup *c = mem_calloc(1, sizeof *c);
	lk_status st;

	if (!c)
		return err_set(LK_NOMEM, "removing old snapshots");
	c->db = db;
	st = io->dir_list(io->ctx, db->dir, cleanup_one, c);
	for (size_t i = 0; st == LK_OK && i < c->n; i++) {
		st = io->unlink(io->ctx, db->dir, c->names[i]);
		if (st == LK_NOT_FOUND)
			st = LK_OK;
		if (st != LK_OK)
			err_prefix("removing snapshot file %s", c->names[i]);
	}
	if (st == LK_OK && c->n)
		st = io->dir_sync(io->ctx, db->dir);
	mem_free(c);
	return st;
}

/* ---------------------------------------------------------------------- */
/* The scrub's check                                                      */
/* ---------------------------------------------------------------------- */

lk_status snapshot_scrub(struct lk_db *db, char name[SNAP_NAME_BYTES],
			 uint64_t *offset, const char **why,
			 uint64_t *bytes_read, const struct seg_pace *pace)
{
	const lk_io *io = db->io;
	uint8_t head[SNAP_HEADER_BYTES], trailer[SNAP_TRAILER_BYTES];
	struct rec_hasher *meta = NULL, *entries = NULL;
	uint64_t serial = atomic_load(&db->snap->serial), size = 0, meta_len;
	struct snap_header h;
	lk_io_file *f = NULL;
	uint8_t *buf = NULL;
	size_t got = 0;
	lk_status st;

	*why = NULL;
	*offset = 0;
	name[0] = 0;
	if (serial == 0)
		return LK_OK;
	snap_name(name, serial, 0);
	st = io->open(io->ctx, db->dir, name, LK_IO_READ, &f);
	/* Replaced by a newer one since the serial was read: next time. */
	if (st == LK_NOT_FOUND)
		return LK_OK;
	if (st == LK_OK)
		st = io->size(io->ctx, f, &size);
	if (st == LK_OK)
		st = io->pread(io->ctx, f, head, sizeof head, 0, &got);
	if (st != LK_OK)
		goto out;
	*bytes_read += got;
	if (got < sizeof head || size < SNAP_HEADER_BYTES + SNAP_TRAILER_BYTES) {
		*why = "snapshot shorter than its header and trailer";
		st = LK_CORRUPT;
		goto out;
	}
	st = snap_header_decode(&h, head, why);
	if (st == LK_OK && h.file_bytes != size) {
		*why = "snapshot's size is not the one its header declares";
		st = LK_CORRUPT;
	}
	if (st != LK_OK)
		goto out;
	meta_len = snap_meta_bytes(h.version, h.seg_count, h.index_slots);
	meta = record_hasher_new(0);
	entries = record_hasher_new(0);
	buf = mem_alloc(SNAP_SCRUB_CHUNK_BYTES);
	if (!meta || !entries || !buf) {
		st = err_set(LK_NOMEM, "scrubbing snapshot %s", name);
		goto out;
	}
	/* One pass: the meta region, then the entries, then the trailer. */
	for (uint64_t off = 0; off < size - SNAP_TRAILER_BYTES; off += got) {
		uint64_t end = off < meta_len ? meta_len
					      : size - SNAP_TRAILER_BYTES;
		size_t want = end - off < SNAP_SCRUB_CHUNK_BYTES
				      ? (size_t)(end - off)
				      : SNAP_SCRUB_CHUNK_BYTES;

		st = io->pread(io->ctx, f, buf, want, off, &got);
		if (st == LK_OK && got < want) {
			*why = "snapshot ends before its declared size";
			st = LK_CORRUPT;
		}
		if (st != LK_OK)
			goto out;
		*bytes_read += got;
		record_hasher_add(off < meta_len ? meta : entries, buf, got);
		st = pace->fn(pace->arg, got);
		if (st != LK_OK)
			goto out;
	}
	st = io->pread(io->ctx, f, trailer, sizeof trailer,
		       size - SNAP_TRAILER_BYTES, &got);
	if (st == LK_OK && got < sizeof trailer)
		st = LK_CORRUPT;
	if (st != LK_OK) {
		*why = "snapshot's trailer unreadable";
		goto out;
	}
	if (record_hasher_done(meta) != get_u64(trailer + SNAP_T_META_HASH)) {
		*why = "checksum mismatch in the snapshot's segment table or "
		       "bitmap";
		st = LK_CORRUPT;
	} else if (record_hasher_done(entries) !=
		   get_u64(trailer + SNAP_T_ENTRIES_HASH)) {
		*offset = meta_len;
		*why = "checksum mismatch in the snapshot's index entries";
		st = LK_CORRUPT;
	}
	meta = entries = NULL; /* done frees them */
out:
	if (meta)
		(void)record_hasher_done(meta);
	if (entries)
		(void)record_hasher_done(entries);
	mem_free(buf);
	if (f)
		io->close(io->ctx, f);
	return st;
}
