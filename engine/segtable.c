/* SPDX-License-Identifier: MIT */
/*
 * segtable.c - the table of a database's open segments, and what every
 * layer above it does through that table: read a record the index points
 * at, confirm a key, apply a committed record to the index and the
 * segments' live bytes, add and remove segments, and pin one so that it
 * stays open for a reader after the table lets it go.
 *
 * It sits between the segment files (segment.c) and the modules that
 * change the log (recovery, commit, compaction, snapshot, scrub, backup),
 * none of which calls another through it; db.c, on top, calls them all.
 */
#include <inttypes.h>
#include <string.h>

#include "contract.h"
#include "alloc.h"
#include "error.h"
#include "segtable.h"

/* The table (db->tab).  `lock` is ix_lock of handle.h: it guards the
 * index, the slots, each segment's live_bytes and each namespace's
 * ns_bytes; `active` changes under it too (exclusive) and under log_mu,
 * so either lock is enough to read it; seq_last is the newest sequence
 * number applied.
 *
 * Live bytes are counted twice, by segment and by namespace, from the
 * same exact record sizes at the same places (segtable_apply,
 * segtable_move_live), so that the two sums are always equal: a
 * snapshot load checks that they are.  A counter per namespace, not per
 * key: the index's memory per key does not change. */
struct segtable {
	struct lk_rwlock lock;
	struct index *ix;
	struct segment *segs[IX_SEG_SLOTS]; /* by slot; [0] unused */
	uint64_t ns_bytes[LK_NS_COUNT_MAX + 1]; /* by namespace; [0] catalog */
	_Atomic uint32_t count; /* changed under the lock; the leader reads
				   it under log_mu alone (commit.c) */
	struct segment *active; /* the newest segment; NULL before the first */
	_Atomic uint64_t seq_last;
	_Atomic uint64_t map_bytes; /* of the segments' mappings (seg_map) */
	/* Keys that an applied put or delete replaced: found by the location
	 * its record names (REC_F_REPLACES), or confirmed by reading. */
	_Atomic uint64_t replaced_unread, replaced_read;
};

lk_status segtable_init(struct lk_db *db)
{
	struct segtable *t;
	lk_status st;

	LK_ASSERT(db->tab == NULL);
	t = mem_calloc(1, sizeof *t);
	if (!t)
		return err_set(LK_NOMEM, "allocating the segment table");
	st = index_new(&t->ix);
	if (st != LK_OK) {
		mem_free(t);
		return st;
	}
	/* Readers take the lock briefly and often; a writer takes it to
	 * apply a group that is already on disk and that its committers
	 * wait for: a waiting writer goes before new readers (where the C
	 * library lets us say so). */
	rwlock_init(&t->lock, LOCK_IX, 1);
	db->tab = t;
	return LK_OK;
}

void segtable_free(struct lk_db *db)
{
	struct segtable *t = db->tab;

	if (!t)
		return;
	for (uint32_t i = 1; i < IX_SEG_SLOTS; i++)
		seg_close(t->segs[i], db->io);
	index_free(t->ix);
	rwlock_destroy(&t->lock);
	mem_free(t);
	db->tab = NULL;
}

void segtable_rdlock(struct lk_db *db)
{
	rwlock_rdlock(&db->tab->lock);
}

void segtable_wrlock(struct lk_db *db)
{
	rwlock_wrlock(&db->tab->lock);
}

void segtable_unlock(struct lk_db *db)
{
	rwlock_unlock(&db->tab->lock);
}

int segtable_held(const struct lk_db *db)
{
	return rwlock_held(&db->tab->lock);
}

int segtable_held_excl(const struct lk_db *db)
{
	return rwlock_held_excl(&db->tab->lock);
}

struct index *segtable_index(const struct lk_db *db)
{
	return db->tab->ix;
}

struct index *segtable_swap_index(struct lk_db *db, struct index *ix)
{
	struct index *old = db->tab->ix;

	db->tab->ix = ix;
	return old;
}

struct segment *segtable_at(const struct lk_db *db, uint32_t slot)
{
	LK_ASSERT(slot < IX_SEG_SLOTS);
	return db->tab->segs[slot];
}

uint32_t segtable_count(const struct lk_db *db)
{
	return atomic_load(&db->tab->count);
}

struct segment *segtable_active(const struct lk_db *db)
{
	return db->tab->active;
}

void segtable_set_active(struct lk_db *db, struct segment *s)
{
	db->tab->active = s;
}

uint64_t segtable_seq_last(const struct lk_db *db)
{
	return atomic_load(&db->tab->seq_last);
}

void segtable_set_seq_last(struct lk_db *db, uint64_t seq)
{
	atomic_store(&db->tab->seq_last, seq);
}

uint64_t segtable_ns_bytes(const struct lk_db *db, uint8_t ns)
{
	return db->tab->ns_bytes[ns];
}

void segtable_set_ns_bytes(struct lk_db *db,
			   const uint64_t bytes[LK_NS_COUNT_MAX + 1])
{
	memcpy(db->tab->ns_bytes, bytes, sizeof db->tab->ns_bytes);
}

/* ---------------------------------------------------------------------- */
/* Reading records                                                        */
/* ---------------------------------------------------------------------- */

lk_status segtable_read(struct lk_db *db, struct ix_loc loc,
			 struct record *rec, uint8_t **out)
{
	LK_ASSERT(loc.seg > 0 && loc.seg < IX_SEG_SLOTS);
	return segtable_read_at(db, db->tab->segs[loc.seg], loc, rec, out);
}

/* A record of a mapped segment is decoded where it lies: no system call,
 * no copy, and *out stays NULL (rec points into the mapping, valid while
 * the segment is pinned or in the table). */
static lk_status read_mapped(struct segment *s, const uint8_t *map,
			     struct ix_loc loc, struct record *rec,
			     const char **why)
{
	size_t avail = loc.offset < s->map_len ? s->map_len - loc.offset : 0;
	uint32_t size = loc.size;

	if (size >= IX_SIZE_LARGE &&
	    record_peek_size(&size, map + loc.offset, avail, why) !=
		    REC_PEEK_SIZE)
		return LK_CORRUPT;
	if (size > avail) {
		*why = "record runs past end of file";
		return LK_CORRUPT;
	}
	return record_decode(rec, map + loc.offset, size,
			     s->hdr.record_seq_base, seg_seed(s, loc.offset),
			     why);
}

lk_status segtable_read_at(struct lk_db *db, struct segment *s,
			   struct ix_loc loc, struct record *rec,
			   uint8_t **out)
{
	uint32_t size = loc.size;
	const char *why = NULL;
	const uint8_t *map;
	uint8_t *buf = NULL;
	size_t got = 0;
	lk_status st;

	*out = NULL;
	/* Only an index entry that does not name a record can lead here
	 * (a forged snapshot's, which compaction then left behind). */
	if (!s)
		return err_set(LK_CORRUPT, "the index names segment slot %u, "
				           "which is not in the log", loc.seg);
	map = seg_mapped(s);
	if (map) {
		st = read_mapped(s, map, loc, rec, &why);
		goto decoded;
	}
	if (size >= IX_SIZE_LARGE) {
		uint8_t head[REC_PREFIX_BYTES_MAX];

		st = db->io->pread(db->io->ctx, s->file, head, sizeof head,
				   loc.offset, &got);
		if (st != LK_OK)
			return st;
		if (record_peek_size(&size, head, got, &why) != REC_PEEK_SIZE)
			goto corrupt;
	}
	buf = mem_alloc(size);
	if (!buf)
		return err_set(LK_NOMEM, "allocating a %u-byte record", size);
	st = db->io->pread(db->io->ctx, s->file, buf, size, loc.offset, &got);
	if (st != LK_OK) {
		mem_free(buf);
		return st;
	}
	if (got < size) {
		why = "record runs past end of file";
		goto corrupt;
	}
	st = record_decode(rec, buf, size, s->hdr.record_seq_base,
			   seg_seed(s, loc.offset), &why);
decoded:
	if (st == LK_OK && rec->type != REC_PUT)
		why = "index points at a record that is not a put";
	if (st != LK_OK || why)
		goto corrupt;
	*out = buf;
	return LK_OK;

corrupt:
	mem_free(buf);
	return err_set(LK_CORRUPT, "segment %" PRIu64 " (%s) offset %" PRIu32
			           ": %s", s->hdr.seq, s->name, loc.offset, why);
}

lk_status segtable_lookup_at(struct seg_lookup *lu, struct segment *s,
			      struct ix_loc *loc, const void *key,
			      size_t key_len, int *equal)
{
	struct record rec;
	uint8_t *buf;
	lk_status st = segtable_read_at(lu->db, s, *loc, &rec, &buf);

	if (st != LK_OK)
		return st;
	*equal = rec.key_len == key_len && memcmp(rec.key, key, key_len) == 0;
	loc->size = rec.size;
	if (*equal) {
		mem_free(lu->buf);
		lu->buf = buf;
		lu->rec = rec;
		lu->seg = s;
	} else {
		mem_free(buf);
	}
	return LK_OK;
}

lk_status segtable_lookup_eq(void *ctx, struct ix_loc *loc, const void *key,
			   size_t key_len, int *equal)
{
	struct seg_lookup *lu = ctx;

	return segtable_lookup_at(lu, lu->db->tab->segs[loc->seg], loc, key,
				  key_len, equal);
}

lk_status segtable_key_eq(void *ctx, struct ix_loc *loc, const void *key,
		    size_t key_len, int *equal)
{
	struct seg_lookup lu = { ctx, { 0 }, NULL, NULL };
	lk_status st = segtable_lookup_eq(&lu, loc, key, key_len, equal);

	mem_free(lu.buf);
	return st;
}

void segtable_prefetch(struct lk_db *db, uint8_t ns, uint64_t hash)
{
#if defined(__GNUC__) || defined(__clang__)
	struct ix_loc cand[2];
	int expiring[2];
	size_t n = index_candidates(db->tab->ix, ns, hash, cand, expiring, 2);

	for (size_t i = 0; i < n && i < 2; i++) {
		const struct segment *s = db->tab->segs[cand[i].seg];
		const uint8_t *map = s ? seg_mapped(s) : NULL;

		if (map && cand[i].offset < s->map_len)
			__builtin_prefetch(map + cand[i].offset);
	}
#else
	(void)db;
	(void)ns;
	(void)hash;
#endif
}

void segtable_release(struct lk_db *db, struct seg_hold *h)
{
	mem_free(h->buf);
	segtable_unpin(db, h->pin);
	h->buf = NULL;
	h->pin = NULL;
}

/* The candidates (entries whose hash matches: almost always one) are
 * copied under the index lock and confirmed by reading them after it is
 * released, so that a slow read never holds up a writer.  A location stays
 * readable after the lock is released: records are never rewritten in
 * place, and a segment that compaction takes out of the table stays open
 * (and mapped) while a reader holds a reference to it; the record found
 * keeps its segment's reference when it lies in a mapping.  Should
 * a key ever have more candidates than fit here, the lookup confirms them
 * under the lock instead. */
#define LOOKUP_CANDIDATES 4

static lk_status locate(struct lk_db *db, uint32_t ns, const void *key,
			size_t key_len, struct record *rec,
			struct seg_hold *hold, uint64_t *seg_seq,
			uint64_t *offset, int with_expired);

lk_status segtable_lookup(struct lk_db *db, uint32_t ns, const void *key,
			  size_t key_len, struct record *rec,
			  struct seg_hold *hold)
{
	return locate(db, ns, key, key_len, rec, hold, NULL, NULL, 0);
}

lk_status segtable_lookup_raw(struct lk_db *db, uint32_t ns, const void *key,
			      size_t key_len, struct record *rec,
			      struct seg_hold *hold)
{
	return locate(db, ns, key, key_len, rec, hold, NULL, NULL, 1);
}

lk_status segtable_locate(struct lk_db *db, uint32_t ns, const void *key,
			  size_t key_len, struct record *rec,
			  struct seg_hold *hold, uint64_t *seg_seq,
			  uint64_t *offset)
{
	return locate(db, ns, key, key_len, rec, hold, seg_seq, offset, 0);
}

static lk_status locate(struct lk_db *db, uint32_t ns, const void *key,
			size_t key_len, struct record *rec,
			struct seg_hold *hold, uint64_t *seg_seq,
			uint64_t *offset, int with_expired)
{
	struct seg_lookup lu = { db, { 0 }, NULL, NULL };
	struct ix_loc cand[LOOKUP_CANDIDATES], loc;
	struct segment *seg[LOOKUP_CANDIDATES];
	int expiring[LOOKUP_CANDIDATES];
	uint64_t hash;
	size_t n;
	lk_status st = LK_OK;

	hold->buf = NULL;
	hold->pin = NULL;
	hash = record_key_hash(ns, key, key_len);
	rwlock_rdlock(&db->tab->lock);
	n = index_candidates(db->tab->ix, (uint8_t)ns, hash, cand, expiring,
			     LOOKUP_CANDIDATES);
	if (n > LOOKUP_CANDIDATES) {
		st = index_get(db->tab->ix, (uint8_t)ns, hash, key, key_len,
			       segtable_lookup_eq, &lu, &loc, NULL);
		if (st == LK_OK && seg_seq)
			*seg_seq = db->tab->segs[loc.seg]->hdr.seq;
		if (st == LK_OK && offset)
			*offset = loc.offset;
		if (st == LK_OK && !lu.buf) { /* in a mapping */
			segtable_pin(lu.seg);
			hold->pin = lu.seg;
		}
	}
	for (size_t i = 0; n <= LOOKUP_CANDIDATES && i < n; i++) {
		seg[i] = db->tab->segs[cand[i].seg];
		segtable_pin(seg[i]);
	}
	rwlock_unlock(&db->tab->lock);
	if (n == 0)
		return LK_NOT_FOUND;
	if (n <= LOOKUP_CANDIDATES) {
		int equal = 0;

		for (size_t i = 0; st == LK_OK && !equal && i < n; i++) {
			st = segtable_lookup_at(&lu, seg[i], &cand[i], key,
						key_len, &equal);
			if (equal && seg_seq)
				*seg_seq = seg[i]->hdr.seq;
			if (equal && offset)
				*offset = cand[i].offset;
		}
		for (size_t i = 0; i < n; i++) {
			if (st == LK_OK && equal && !lu.buf &&
			    seg[i] == lu.seg && !hold->pin)
				hold->pin = seg[i]; /* its record is mapped */
			else
				segtable_unpin(db, seg[i]);
		}
		if (st == LK_OK && !equal)
			st = LK_NOT_FOUND;
	}
	hold->buf = lu.buf;
	if (st == LK_OK && !with_expired && handle_expired(db, &lu.rec))
		st = LK_NOT_FOUND;
	if (st != LK_OK) {
		segtable_release(db, hold);
		return st;
	}
	*rec = lu.rec;
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Applying a committed record                                            */
/* ---------------------------------------------------------------------- */

/* A record of `size` bytes in s, of namespace ns, is live no more.
 * Saturating: live bytes may come from a snapshot, and a bad one must
 * cost a wrong statistic, not an abort. */
static void take_live(struct lk_db *db, struct segment *s, uint8_t ns,
		      uint64_t size)
{
	uint64_t *nb = &db->tab->ns_bytes[ns];

	s->live_bytes -= s->live_bytes < size ? s->live_bytes : size;
	*nb -= *nb < size ? *nb : size;
}

/* The key-compare callback of an apply whose record names the record it
 * replaces (REC_F_REPLACES, record.h): the entry at that location is the
 * key's, unread; any other goes to the caller's callback.  Only entries
 * whose exact size the index holds: the live-byte counts need it. */
struct claim_eq {
	struct lk_db *db;
	const struct record *rec;
	ix_key_eq_fn eq;
	void *ctx;
	int unread; /* the key was found at the named location */
};

static lk_status claim_key_eq(void *ctx, struct ix_loc *loc, const void *key,
			      size_t key_len, int *equal)
{
	struct claim_eq *c = ctx;
	const struct segment *s = c->db->tab->segs[loc->seg];

	if (s && loc->size < IX_SIZE_LARGE &&
	    loc->offset == c->rec->rep_offset &&
	    s->hdr.seq == c->rec->rep_seg_seq &&
	    s->hdr.generation == c->rec->rep_generation) {
		*equal = 1;
		c->unread = 1;
		return LK_OK;
	}
	return c->eq(c->ctx, loc, key, key_len, equal);
}

int segtable_claim(struct lk_db *db, uint8_t ns, uint64_t hash,
		   const void *key, size_t key_len, struct record *r)
{
	struct ix_loc cand[LOOKUP_CANDIDATES];
	int expiring[LOOKUP_CANDIDATES];
	size_t n = index_candidates(db->tab->ix, ns, hash, cand, expiring,
				    LOOKUP_CANDIDATES);

	for (size_t i = 0; i < n && n <= LOOKUP_CANDIDATES; i++) {
		struct segment *s = db->tab->segs[cand[i].seg];
		const uint8_t *map = s ? seg_mapped(s) : NULL;
		struct record rec;
		const char *why;

		if (!map || cand[i].size >= IX_SIZE_LARGE)
			return 0; /* the apply confirms it, as without a claim */
		if (read_mapped(s, map, cand[i], &rec, &why) != LK_OK)
			return 0; /* nor is damage this function's to report */
		if (rec.key_len == key_len && memcmp(rec.key, key, key_len) == 0) {
			r->flags |= REC_F_REPLACES;
			r->rep_seg_seq = s->hdr.seq;
			r->rep_generation = s->hdr.generation;
			r->rep_offset = cand[i].offset;
			return 1;
		}
	}
	return 0;
}

void segtable_replaced(const struct lk_db *db, uint64_t *unread,
		       uint64_t *read)
{
	*unread = atomic_load(&db->tab->replaced_unread);
	*read = atomic_load(&db->tab->replaced_read);
}

lk_status segtable_apply(struct lk_db *db, const struct record *rec,
		   struct ix_loc loc, uint64_t key_hash, ix_key_eq_fn eq,
		   void *eq_ctx)
{
	struct claim_eq claim = { db, rec, eq, eq_ctx, 0 };
	struct ix_loc old;
	int had_old = 0;
	lk_status st;

	if (rec->flags & REC_F_REPLACES) {
		eq = claim_key_eq;
		eq_ctx = &claim;
	}

	if (rec->type == REC_PUT)
		st = index_put(db->tab->ix, rec->ns, key_hash,
			       (rec->flags & REC_F_EXPIRY) != 0, rec->key,
			       rec->key_len, loc, eq, eq_ctx, &old, &had_old);
	else
		st = index_del(db->tab->ix, rec->ns, key_hash, rec->key,
			       rec->key_len, eq, eq_ctx, &old, &had_old);
	if (st != LK_OK)
		return st;
	if (had_old)
		atomic_fetch_add_explicit(claim.unread ? &db->tab->replaced_unread
						       : &db->tab->replaced_read,
					  1, memory_order_relaxed);
	/* The old record is of the same key, so of the same namespace. */
	if (had_old && db->tab->segs[old.seg])
		take_live(db, db->tab->segs[old.seg], rec->ns, old.size);
	if (rec->type == REC_PUT) {
		db->tab->segs[loc.seg]->live_bytes += rec->size;
		db->tab->ns_bytes[rec->ns] += rec->size;
	}
	return LK_OK;
}

void segtable_move_live(struct lk_db *db, uint8_t ns, struct segment *from,
			uint32_t from_size, struct segment *to,
			uint32_t to_size)
{
	LK_ASSERT(rwlock_held_excl(&db->tab->lock));
	take_live(db, from, ns, from_size);
	if (to) {
		to->live_bytes += to_size;
		db->tab->ns_bytes[ns] += to_size;
	}
}

/* ---------------------------------------------------------------------- */
/* The table                                                              */
/* ---------------------------------------------------------------------- */

/* Under a memory budget, mappings take at most half of it, and only what
 * leaves the index room for its next growth by half (logkeep.h, "The
 * memory budget"). */
void segtable_map(struct lk_db *db, struct segment *s)
{
	uint64_t cap = db->opts.map_bytes_max, budget = db->opts.memory_bytes_max;

	if (budget && cap) {
		uint64_t grown, left;

		segtable_rdlock(db);
		grown = index_grown_bytes(db->tab->ix);
		segtable_unlock(db);
		left = grown < budget ? budget - grown : 0;
		if (left > budget / 2)
			left = budget / 2;
		if (cap > left)
			cap = left;
	}
	(void)seg_map(s, db->io, &db->tab->map_bytes, cap);
}

void segtable_map_sealed(struct lk_db *db)
{
	for (uint32_t i = 1; i < IX_SEG_SLOTS; i++)
		if (db->tab->segs[i])
			segtable_map(db, db->tab->segs[i]);
}

const uint8_t *segtable_map_replay(struct lk_db *db, struct segment *s,
				   size_t *len)
{
	const uint8_t *map = NULL;

	*len = 0;
	if (!db->opts.memory_bytes_max && !seg_mapped(s))
		map = seg_map_charged(s, db->io, &db->tab->map_bytes,
				      db->opts.map_bytes_max, s->file_size);
	if (map)
		*len = (size_t)s->file_size;
	return map;
}

void segtable_unmap_replay(struct lk_db *db, struct segment *s,
			   const uint8_t *map, size_t len)
{
	if (s->sealed && len == s->data_end && !seg_mapped(s)) {
		seg_adopt_map(s, map, len, &db->tab->map_bytes);
		return;
	}
	db->io->unmap(db->io->ctx, s->file, map, len);
	atomic_fetch_sub(&db->tab->map_bytes, len);
}

uint64_t segtable_map_bytes(const struct lk_db *db)
{
	return atomic_load(&db->tab->map_bytes);
}

/* ---------------------------------------------------------------------- */
/* The memory budget                                                      */
/* ---------------------------------------------------------------------- */

/* What the index may grow to: the budget less the mappings. */
static uint64_t index_bound(const struct lk_db *db)
{
	uint64_t budget = db->opts.memory_bytes_max, mapped;

	if (!budget)
		return UINT64_MAX;
	mapped = segtable_map_bytes(db);
	return mapped < budget ? budget - mapped : 0;
}

uint64_t segtable_keys_room(const struct lk_db *db)
{
	LK_ASSERT(segtable_held(db));
	return index_keys_room(db->tab->ix, index_bound(db));
}

lk_status segtable_refuse(struct lk_db *db, uint64_t keys)
{
	const struct index *ix = db->tab->ix;

	LK_ASSERT(segtable_held(db) && keys <= LK_INDEX_SLOTS_MAX);
	return err_set(LK_TOO_BIG, "memory budget of %" PRIu64 " bytes "
			           "(memory_bytes_max): the index takes %"
			           PRIu64 " bytes for %" PRIu64 " keys and "
			           "mappings %" PRIu64 "; %" PRIu64 " more keys "
			           "need an index of %" PRIu64 " bytes: nothing "
			           "written (delete keys, or open with a larger "
			           "budget)",
		       db->opts.memory_bytes_max, index_bytes(ix),
		       index_keys(ix), segtable_map_bytes(db), keys,
		       index_bytes_for(index_keys(ix) + keys));
}

lk_status segtable_reserve(struct lk_db *db, uint64_t keys)
{
	struct index *ix = db->tab->ix;
	uint64_t budget = db->opts.memory_bytes_max;
	lk_status st;

	LK_ASSERT(segtable_held_excl(db));
	st = index_reserve_within(ix, keys, index_bound(db));
	if (st != LK_TOO_BIG || !budget || keys > LK_INDEX_SLOTS_MAX ||
	    index_bytes_for(index_keys(ix) + keys) + segtable_map_bytes(db) <=
		    budget) /* LK_INDEX_SLOTS_MAX, not the budget */
		return st;
	return segtable_refuse(db, keys);
}

lk_status segtable_reserve_replay(struct lk_db *db, uint64_t keys)
{
	struct index *ix = db->tab->ix;
	uint64_t bound = index_bound(db);

	if (db->opts.memory_bytes_max && index_keys_room(ix, bound) >= keys)
		return index_reserve_within(ix, keys, bound);
	return index_reserve(ix, keys);
}

lk_status segtable_add(struct lk_db *db, struct segment *s)
{
	for (uint32_t slot = 1; slot < IX_SEG_SLOTS; slot++) {
		if (db->tab->segs[slot])
			continue;
		if (db->tab->count >= LK_SEGMENT_COUNT_MAX)
			break;
		s->slot = slot;
		atomic_store(&s->refs, 1);
		db->tab->segs[slot] = s;
		db->tab->count++;
		return LK_OK;
	}
	return err_set(LK_TOO_BIG, "more than %u segments", LK_SEGMENT_COUNT_MAX);
}

void segtable_remove(struct lk_db *db, struct segment *s)
{
	LK_ASSERT(rwlock_held_excl(&db->tab->lock));

	LK_ASSERT(db->tab->segs[s->slot] == s);
	db->tab->segs[s->slot] = NULL;
	db->tab->count--;
}

void segtable_pin(struct segment *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
}

void segtable_unpin(struct lk_db *db, struct segment *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		seg_close(s, db->io);
}
