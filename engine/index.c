/* SPDX-License-Identifier: MIT */
/*
 * index.c - the hash index (design in index.h).
 *
 * Robin Hood invariant: along a probe sequence, an entry's distance from
 * its home slot never exceeds the distance of the entry it passed, so a
 * lookup stops at the first slot whose entry is closer to home than the
 * lookup is, and misses are as cheap as hits.
 */
#include <string.h>

#include "contract.h"
#include "alloc.h"
#include "endian.h"
#include "error.h"
#include "index.h"
#include "logkeep_limits.h"
#include "record.h"
#include "segment.h"

struct slot {
	uint32_t w0, w1, w2;
};

_Static_assert(sizeof(struct slot) == IX_SLOT_BYTES, "slots are 12 bytes");
_Static_assert(LK_NS_COUNT_MAX + 1 == 256, "a slot's namespace is 8 bits");

struct index {
	struct slot *slots;
	uint32_t cap;
	uint32_t keys;
	uint64_t ns_keys[256];
	uint64_t ns_expiring[256];
};

#define INITIAL_SLOTS 1024u
#define LOAD_NUM 4u /* grow past 4/5 full */
#define LOAD_DEN 5u

static uint32_t h31_of(uint64_t hash)
{
	return (uint32_t)(hash >> 33);
}

static int is_empty(const struct slot *s)
{
	return (s->w1 >> 20) == 0;
}

static uint32_t slot_h31(const struct slot *s)
{
	return s->w2 >> 1;
}

static uint8_t slot_ns(const struct slot *s)
{
	return (uint8_t)s->w1;
}

static int slot_expiring(const struct slot *s)
{
	return (int)(s->w2 & 1);
}

static struct ix_loc slot_loc(const struct slot *s)
{
	struct ix_loc l = { s->w1 >> 20, s->w0, (s->w1 >> 8) & 0xfffu };
	return l;
}

static struct slot make_slot(uint8_t ns, uint32_t h31, int expiring,
			     struct ix_loc loc)
{
	struct slot s;
	uint32_t size = loc.size < IX_SIZE_LARGE ? loc.size : IX_SIZE_LARGE;

	LK_ASSERT(loc.seg > 0 && loc.seg < IX_SEG_SLOTS);
	s.w0 = loc.offset;
	s.w1 = loc.seg << 20 | size << 8 | ns;
	s.w2 = h31 << 1 | (expiring ? 1u : 0u);
	return s;
}

static uint32_t home(const struct index *ix, uint32_t h31)
{
	return (uint32_t)(((uint64_t)h31 * ix->cap) >> 31);
}

static uint32_t next(const struct index *ix, uint32_t pos)
{
	return pos + 1 == ix->cap ? 0 : pos + 1;
}

static uint32_t dist(const struct index *ix, uint32_t pos, uint32_t h)
{
	return pos >= h ? pos - h : pos + ix->cap - h;
}

lk_status index_new(struct index **out)
{
	struct index *ix = mem_calloc(1, sizeof *ix);

	*out = NULL;
	if (!ix)
		return err_set(LK_NOMEM, "allocating the index");
	ix->slots = mem_calloc(INITIAL_SLOTS, sizeof *ix->slots);
	if (!ix->slots) {
		mem_free(ix);
		return err_set(LK_NOMEM, "allocating the index");
	}
	ix->cap = INITIAL_SLOTS;
	*out = ix;
	return LK_OK;
}

void index_free(struct index *ix)
{
	if (!ix)
		return;
	mem_free(ix->slots);
	mem_free(ix);
}

/* Places s, known not to be in the table, by Robin Hood displacement. */
static void place(struct index *ix, struct slot s)
{
	uint32_t pos = home(ix, slot_h31(&s)), d = 0;

	for (;;) {
		struct slot *t = &ix->slots[pos];
		uint32_t td;

		if (is_empty(t)) {
			*t = s;
			return;
		}
		td = dist(ix, pos, home(ix, slot_h31(t)));
		if (td < d) {
			struct slot tmp = *t;

			*t = s;
			s = tmp;
			d = td;
		}
		pos = next(ix, pos);
		d++;
	}
}

int index_slots_fit(uint64_t slots, uint64_t keys)
{
	return keys <= LK_INDEX_SLOTS_MAX && slots <= LK_INDEX_SLOTS_MAX &&
	       keys * LOAD_DEN <= slots * LOAD_NUM;
}

/* Growth adds half at 80% full (or jumps to just past 80% for a large
 * reservation), so a table that only ever grew for the keys it holds is
 * more than 8/15 full past INITIAL_SLOTS: twice the keys has margin. */
uint64_t index_slots_max(uint64_t keys)
{
	uint64_t m = keys * 2;

	if (keys > LK_INDEX_SLOTS_MAX)
		return LK_INDEX_SLOTS_MAX;
	if (m < INITIAL_SLOTS)
		m = INITIAL_SLOTS;
	return m < LK_INDEX_SLOTS_MAX ? m : LK_INDEX_SLOTS_MAX;
}

int index_has_room(const struct index *ix, uint64_t extra)
{
	return extra <= LK_INDEX_SLOTS_MAX &&
	       ((uint64_t)ix->keys + extra) * LOAD_DEN <=
		       (uint64_t)ix->cap * LOAD_NUM;
}

static uint64_t bytes_of(uint64_t slots)
{
	return slots * sizeof(struct slot) + sizeof(struct index);
}

uint64_t index_bytes_for(uint64_t keys)
{
	return bytes_of((keys * LOAD_DEN + LOAD_NUM - 1) / LOAD_NUM);
}

/* The largest capacity whose table takes at most bytes_max bytes. */
static uint64_t slots_within(uint64_t bytes_max)
{
	uint64_t slots;

	if (bytes_max < sizeof(struct index))
		return 0;
	slots = (bytes_max - sizeof(struct index)) / sizeof(struct slot);
	return slots < LK_INDEX_SLOTS_MAX ? slots : LK_INDEX_SLOTS_MAX;
}

uint64_t index_grown_bytes(const struct index *ix)
{
	return bytes_of((uint64_t)ix->cap + ix->cap / 2);
}

uint64_t index_keys_room(const struct index *ix, uint64_t bytes_max)
{
	uint64_t slots = slots_within(bytes_max), fit;

	if (slots < ix->cap)
		slots = ix->cap;
	fit = slots * LOAD_NUM / LOAD_DEN;
	return fit > ix->keys ? fit - ix->keys : 0;
}

lk_status index_reserve(struct index *ix, uint64_t extra)
{
	return index_reserve_within(ix, extra, UINT64_MAX);
}

lk_status index_reserve_within(struct index *ix, uint64_t extra,
			       uint64_t bytes_max)
{
	uint64_t need, cap;
	struct slot *old = ix->slots, *fresh;
	uint32_t old_cap = ix->cap;

	/* Bounded first, so that the arithmetic below cannot wrap. */
	if (extra > LK_INDEX_SLOTS_MAX)
		return err_set(LK_TOO_BIG, "room for %llu more keys asked, the "
				           "index holds at most %u slots",
			       (unsigned long long)extra, LK_INDEX_SLOTS_MAX);
	if (index_has_room(ix, extra))
		return LK_OK;
	need = (uint64_t)ix->keys + extra;
	cap = (uint64_t)ix->cap + ix->cap / 2;
	if (cap * LOAD_NUM < need * LOAD_DEN)
		cap = need * LOAD_DEN / LOAD_NUM + 1;
	/* Past the limit or the bound, the largest table under both, if it
	 * holds the keys: the last growth uses all the room there is. */
	if (cap > LK_INDEX_SLOTS_MAX || bytes_of(cap) > bytes_max) {
		uint64_t fit = slots_within(bytes_max);

		if (fit > old_cap && index_slots_fit(fit, need))
			cap = fit;
		else if (index_bytes_for(need) <= bytes_max)
			return err_set(LK_TOO_BIG, "index would need %llu "
						   "slots, the limit is %u",
				       (unsigned long long)cap,
				       LK_INDEX_SLOTS_MAX);
		else
			return err_set(LK_TOO_BIG, "an index of %llu keys "
						   "needs %llu bytes, the "
						   "bound is %llu",
				       (unsigned long long)need,
				       (unsigned long long)index_bytes_for(need),
				       (unsigned long long)bytes_max);
	}
	LK_ASSERT(index_slots_fit(cap, need) && bytes_of(cap) <= bytes_max);
	fresh = mem_alloc_table((size_t)cap * sizeof *fresh);
	if (!fresh)
		return err_set(LK_NOMEM, "growing the index to %llu slots",
			       (unsigned long long)cap);
	memset(fresh, 0, (size_t)cap * sizeof *fresh);
	ix->slots = fresh;
	ix->cap = (uint32_t)cap;
	for (uint32_t i = 0; i < old_cap; i++)
		if (!is_empty(&old[i]))
			place(ix, old[i]);
	mem_free(old);
	return LK_OK;
}

void index_prefetch(const struct index *ix, uint64_t hash)
{
#if defined(__GNUC__) || defined(__clang__)
	__builtin_prefetch(&ix->slots[home(ix, h31_of(hash))]);
#else
	(void)ix;
	(void)hash;
#endif
}

/* Finds the slot of key: *pos and LK_OK, or LK_NOT_FOUND. */
static lk_status find(struct index *ix, uint8_t ns, uint32_t h31,
		      const void *key, size_t key_len, ix_key_eq_fn eq,
		      void *ctx, uint32_t *pos_out, struct ix_loc *loc_out)
{
	uint32_t pos = home(ix, h31), d = 0;

	for (;;) {
		struct slot *s = &ix->slots[pos];

		if (is_empty(s) || dist(ix, pos, home(ix, slot_h31(s))) < d)
			return LK_NOT_FOUND;
		if (slot_h31(s) == h31 && slot_ns(s) == ns) {
			struct ix_loc loc = slot_loc(s);
			int equal = 0;
			lk_status st = eq(ctx, &loc, key, key_len, &equal);

			if (st != LK_OK)
				return st;
			if (equal) {
				*pos_out = pos;
				*loc_out = loc;
				return LK_OK;
			}
		}
		pos = next(ix, pos);
		d++;
		LK_ASSERT(d <= ix->cap);
	}
}

size_t index_candidates(const struct index *ix, uint8_t ns, uint64_t hash,
			struct ix_loc *out, int *expiring, size_t max)
{
	uint32_t h31 = h31_of(hash), pos = home(ix, h31), d = 0;
	size_t n = 0;

	for (;; pos = next(ix, pos), d++) {
		const struct slot *s = &ix->slots[pos];

		if (is_empty(s) || dist(ix, pos, home(ix, slot_h31(s))) < d)
			return n;
		if (slot_h31(s) != h31 || slot_ns(s) != ns)
			continue;
		if (n < max) {
			out[n] = slot_loc(s);
			expiring[n] = slot_expiring(s);
		}
		n++;
	}
}

lk_status index_get(struct index *ix, uint8_t ns, uint64_t hash,
		    const void *key, size_t key_len, ix_key_eq_fn eq,
		    void *ctx, struct ix_loc *loc, int *expiring)
{
	uint32_t pos;
	lk_status st = find(ix, ns, h31_of(hash), key, key_len, eq, ctx, &pos,
			    loc);

	if (st == LK_OK && expiring)
		*expiring = slot_expiring(&ix->slots[pos]);
	return st;
}

lk_status index_put(struct index *ix, uint8_t ns, uint64_t hash,
		    int expiring, const void *key, size_t key_len,
		    struct ix_loc loc, ix_key_eq_fn eq, void *ctx,
		    struct ix_loc *old, int *had_old)
{
	uint32_t h31 = h31_of(hash), pos;
	struct slot s = make_slot(ns, h31, expiring, loc);
	lk_status st;

	*had_old = 0;
	st = find(ix, ns, h31, key, key_len, eq, ctx, &pos, old);
	if (st == LK_OK) {
		*had_old = 1;
		ix->ns_expiring[ns] -= (uint64_t)slot_expiring(&ix->slots[pos]);
		ix->ns_expiring[ns] += expiring ? 1u : 0u;
		/* Same hash, same home: the slot can be overwritten in place. */
		ix->slots[pos] = s;
		return LK_OK;
	}
	if (st != LK_NOT_FOUND)
		return st;
	LK_ASSERT(((uint64_t)ix->keys + 1) * LOAD_DEN <=
	       (uint64_t)ix->cap * LOAD_NUM + LOAD_DEN);
	place(ix, s);
	ix->keys++;
	ix->ns_keys[ns]++;
	ix->ns_expiring[ns] += expiring ? 1u : 0u;
	return LK_OK;
}

/* Removes the entry at pos. */
static void remove_at(struct index *ix, uint8_t ns, uint32_t pos)
{
	uint32_t nx;

	ix->keys--;
	ix->ns_keys[ns]--;
	ix->ns_expiring[ns] -= (uint64_t)slot_expiring(&ix->slots[pos]);
	/* Backward shift: pull each following displaced entry one slot
	 * closer to home until an empty slot or an entry already at home. */
	for (nx = next(ix, pos);; pos = nx, nx = next(ix, nx)) {
		struct slot *t = &ix->slots[nx];

		if (is_empty(t) || dist(ix, nx, home(ix, slot_h31(t))) == 0)
			break;
		ix->slots[pos] = *t;
	}
	memset(&ix->slots[pos], 0, sizeof ix->slots[pos]);
}

lk_status index_del(struct index *ix, uint8_t ns, uint64_t hash,
		    const void *key, size_t key_len, ix_key_eq_fn eq,
		    void *ctx, struct ix_loc *old, int *had_old)
{
	uint32_t pos;
	lk_status st;

	*had_old = 0;
	st = find(ix, ns, h31_of(hash), key, key_len, eq, ctx, &pos, old);
	if (st == LK_NOT_FOUND)
		return LK_OK;
	if (st != LK_OK)
		return st;
	*had_old = 1;
	remove_at(ix, ns, pos);
	return LK_OK;
}

int index_move(struct index *ix, uint8_t ns, uint64_t hash,
	       struct ix_loc from, const struct ix_loc *to)
{
	uint32_t h31 = h31_of(hash), pos = home(ix, h31), d = 0;

	for (;; pos = next(ix, pos), d++) {
		struct slot *s = &ix->slots[pos];
		struct ix_loc at;

		if (is_empty(s) || dist(ix, pos, home(ix, slot_h31(s))) < d)
			return 0;
		at = slot_loc(s);
		if (slot_h31(s) != h31 || slot_ns(s) != ns ||
		    at.seg != from.seg || at.offset != from.offset)
			continue;
		if (to)
			*s = make_slot(ns, h31, slot_expiring(s), *to);
		else
			remove_at(ix, ns, pos);
		return 1;
	}
}

void index_foreach(const struct index *ix, int ns, ix_visit_fn fn, void *arg)
{
	for (uint32_t i = 0; i < ix->cap; i++) {
		const struct slot *s = &ix->slots[i];

		if (is_empty(s) || (ns >= 0 && slot_ns(s) != (uint8_t)ns))
			continue;
		fn(arg, slot_ns(s), slot_loc(s), slot_expiring(s));
	}
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	return x ^ (x >> 33);
}

uint64_t index_digest(const struct index *ix, const uint64_t *seg_ids)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < ix->cap; i++) {
		const struct slot *s = &ix->slots[i];
		uint64_t h;

		if (is_empty(s))
			continue;
		h = mix64(seg_ids[s->w1 >> 20] ^ s->w0);
		h = mix64(h ^ (uint64_t)(s->w1 & 0xfffffu) << 32 ^ s->w2);
		sum += h;
	}
	return sum;
}

/* ---------------------------------------------------------------------- */
/* Snapshots                                                              */
/* ---------------------------------------------------------------------- */

uint32_t index_export_slots(const struct index *ix)
{
	uint64_t slots;

	if (ix->cap <= index_slots_max(ix->keys))
		return ix->cap;
	/* room to grow by about half again before the next growth */
	slots = (uint64_t)ix->keys + ix->keys * 7u / 8u + 1u;
	if (slots < INITIAL_SLOTS)
		slots = INITIAL_SLOTS;
	LK_ASSERT(slots < ix->cap && index_slots_fit(slots, ix->keys));
	return (uint32_t)slots;
}

void index_export_begin(struct ix_export *x, const struct index *ix,
			const uint16_t *seg_map, uint8_t *bitmap,
			void *scratch)
{
	uint32_t slots = index_export_slots(ix);
	struct index t; /* only its slots and capacity are used */

	x->seg_map = seg_map;
	x->bitmap = bitmap;
	x->cap = slots;
	x->next = 0;
	memset(bitmap, 0, (size_t)IX_EXPORT_BITMAP_BYTES(slots));
	if (slots == ix->cap) {
		x->slots = ix->slots;
		return;
	}
	/* Re-placed into a table of `slots`: the same entries, the same
	 * Robin Hood order a load checks, fewer slots. */
	LK_ASSERT(scratch);
	t.slots = scratch;
	t.cap = slots;
	memset(t.slots, 0, (size_t)slots * sizeof *t.slots);
	for (uint32_t i = 0; i < ix->cap; i++)
		if (!is_empty(&ix->slots[i]))
			place(&t, ix->slots[i]);
	x->slots = t.slots;
}

int64_t index_export_next(struct ix_export *x, uint8_t *out, size_t max)
{
	const struct slot *slots = x->slots;
	uint8_t *e = out;
	size_t n = 0;

	for (; x->next < x->cap && n < max; x->next++) {
		const struct slot *s = &slots[x->next];
		uint32_t seg = s->w1 >> 20, i = x->next;

		if (is_empty(s))
			continue;
		if (x->seg_map[seg] == 0)
			return -1;
		x->bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
		put_u32(e, s->w0);
		put_u32(e + 4,
			(uint32_t)x->seg_map[seg] << 20 | (s->w1 & 0xfffffu));
		put_u32(e + 8, s->w2);
		e += IX_SLOT_BYTES;
		n++;
	}
	return (int64_t)n;
}

int index_export(const struct index *ix, const uint16_t *seg_map,
		 uint8_t *out, void *scratch)
{
	struct ix_export x;
	uint32_t slots = index_export_slots(ix);

	index_export_begin(&x, ix, seg_map, out, scratch);
	return index_export_next(&x, out + IX_EXPORT_BITMAP_BYTES(slots),
				 ix->keys) < 0
		       ? -1
		       : 0;
}

static lk_status import_fail(struct index *ix, const char **why,
			     const char *what)
{
	memset(ix->slots, 0, (size_t)ix->cap * sizeof *ix->slots);
	ix->keys = 0;
	memset(ix->ns_keys, 0, sizeof ix->ns_keys);
	memset(ix->ns_expiring, 0, sizeof ix->ns_expiring);
	*why = what;
	return LK_CORRUPT;
}

lk_status index_import_begin(struct index *ix, struct ix_import *im,
			     uint32_t cap, uint64_t keys,
			     const uint8_t *bitmap, const uint32_t *seg_map,
			     uint32_t nsegs, const uint64_t *seg_end,
			     const char **why)
{
	uint64_t words = IX_EXPORT_BITMAP_BYTES(cap) / 8, bits = 0;
	struct slot *fresh;

	/* Bounded first: keys * LOAD_DEN cannot wrap below this. */
	if (cap < 1 || cap > index_slots_max(keys) ||
	    !index_slots_fit(cap, keys))
		return err_set(LK_TOO_BIG, "an index of %llu keys in %u slots",
			       (unsigned long long)keys, cap);
	/* Not zeroed here: the walk writes every slot once, holes too. */
	fresh = mem_alloc_table((size_t)cap * sizeof *fresh);
	if (!fresh)
		return err_set(LK_NOMEM, "allocating an index of %u slots", cap);
	mem_free(ix->slots);
	ix->slots = fresh;
	ix->cap = cap;
	ix->keys = 0;
	memset(ix->ns_keys, 0, sizeof ix->ns_keys);
	memset(ix->ns_expiring, 0, sizeof ix->ns_expiring);

	memset(im, 0, sizeof *im);
	im->bitmap = bitmap;
	im->seg_map = seg_map;
	im->seg_end = seg_end;
	im->nsegs = nsegs;
	im->keys = keys;
	im->words = words;
	/* Every segment number the table names maps to a slot: checked
	 * here once, so that an entry's check is a range check. */
	for (uint32_t m = 1; m <= nsegs; m++)
		if (seg_map[m] == 0 || seg_map[m] >= IX_SEG_SLOTS)
			return import_fail(ix, why, "entry names no segment");
	for (uint64_t w = 0; w < words; w++) {
		uint64_t v = get_u64(bitmap + w * 8);

		if (w == words - 1 && cap % 64 && v >> (cap % 64))
			return import_fail(ix, why, "bits set past the table");
		bits += (uint64_t)__builtin_popcountll(v);
	}
	if (bits != keys)
		return import_fail(ix, why, "bitmap and key count disagree");
	im->bits = words ? get_u64(bitmap) : 0;
	return LK_OK;
}

uint64_t index_import_split(const struct index *ix, struct ix_import *im,
			    struct ix_import *second, uint32_t slot)
{
	uint64_t word = slot / 64, before = 0;

	LK_ASSERT(im->done == 0 && !im->started && word >= 1 &&
		  word < im->words && slot < ix->cap);
	for (uint64_t w = 0; w < word; w++)
		before += (uint64_t)__builtin_popcountll(
			get_u64(im->bitmap + w * 8));
	memset(second, 0, sizeof *second);
	second->bitmap = im->bitmap;
	second->seg_map = im->seg_map;
	second->seg_end = im->seg_end;
	second->nsegs = im->nsegs;
	second->keys = im->keys;
	second->done = before;
	second->word = word;
	second->words = im->words;
	second->bits = get_u64(im->bitmap + word * 8);
	second->first_slot = second->next_free = (uint32_t)(word * 64);
	im->keys = before;
	return before;
}

uint8_t *index_import_area(struct index *ix, const struct ix_import *im,
			   uint32_t end)
{
	uint64_t n = im->keys - im->done;

	LK_ASSERT(!im->started);
	LK_ASSERT(end <= ix->cap && im->first_slot <= end &&
		  n <= end - im->first_slot);
	return (uint8_t *)(ix->slots + end) - n * IX_SLOT_BYTES;
}

lk_status index_import_add(struct index *ix, struct ix_import *im,
			   const uint8_t *e, size_t n, const char **why)
{
	/* Locals, not im->: stores into the table could alias them, and
	 * this loop runs once per key at every open.  The namespace sums
	 * are kept by runs (neighbours mostly share a namespace), so that
	 * no entry waits on the store of the one before. */
	struct slot *slots = ix->slots;
	const uint8_t *bitmap = im->bitmap;
	const uint64_t *seg_end = im->seg_end;
	uint64_t *seg_bytes = im->seg_bytes, *seg_large = im->seg_large;
	uint64_t bits = im->bits, word = im->word;
	uint64_t run_n = 0, run_exp = 0, run_bytes = 0, run_large = 0;
	uint32_t next_free = im->next_free, prev_dist = im->prev_dist;
	uint32_t nsegs = im->nsegs, first_slot = im->first_slot;
	uint32_t cap = ix->cap;
	int started = im->started;
	uint8_t run_ns = 0;

	LK_ASSERT(seg_bytes && seg_large);
	if (n > im->keys - im->done) {
		*why = "more entries than keys";
		return LK_CORRUPT;
	}
	for (size_t i = 0; i < n; i++, e += IX_SLOT_BYTES) {
		struct slot s = { get_u32(e), get_u32(e + 4), get_u32(e + 8) };
		uint32_t seg = s.w1 >> 20, size = (s.w1 >> 8) & 0xfffu, pos, d;
		uint32_t h = (uint32_t)(((uint64_t)(s.w2 >> 1) * cap) >> 31);
		uint8_t ns = (uint8_t)s.w1;

		while (!bits) /* bits == keys: a set bit lies ahead */
			bits = get_u64(bitmap + ++word * 8);
		pos = (uint32_t)(word * 64) + (uint32_t)__builtin_ctzll(bits);
		bits &= bits - 1;
		d = pos >= h ? pos - h : pos + cap - h;
		if (seg - 1 >= nsegs) {
			*why = "entry names no segment";
			return LK_CORRUPT;
		}
		if (size < REC_BYTES_MIN || s.w0 < SEG_HEADER_BYTES ||
		    (uint64_t)s.w0 + size > seg_end[seg]) {
			*why = "entry lies outside its segment";
			return LK_CORRUPT;
		}
		/* Lookups walk from an entry's home to it and stop at a hole
		 * or at an entry closer to its own home: so one away from
		 * home needs the slot before it full, and no more than one
		 * step closer to home.  A part's first slot is checked
		 * against the slot before it by join or end. */
		if (d > 0 && pos > first_slot &&
		    (!started || next_free != pos || prev_dist + 1 < d)) {
			*why = "entries out of probe order";
			return LK_CORRUPT;
		}
		started = 1;
		seg_bytes[seg] += size;
		seg_large[seg] += size == IX_SIZE_LARGE;
		s.w1 = im->seg_map[seg] << 20 | (s.w1 & 0xfffffu);
		while (next_free < pos)
			slots[next_free++] = (struct slot){ 0, 0, 0 };
		slots[pos] = s;
		next_free = pos + 1;
		prev_dist = d;
		if (ns != run_ns) {
			im->ns_keys[run_ns] += run_n;
			im->ns_expiring[run_ns] += run_exp;
			im->ns_bytes[run_ns] += run_bytes;
			im->ns_large[run_ns] += run_large;
			run_n = run_exp = run_bytes = run_large = 0;
			run_ns = ns;
		}
		run_n++;
		run_exp += s.w2 & 1u;
		run_bytes += size;
		run_large += size == IX_SIZE_LARGE;
		if (ns == 0) {
			if (im->ns0_n == LK_NS_COUNT_MAX + 1) {
				*why = "more catalog entries than namespaces";
				return LK_CORRUPT;
			}
			im->ns0[im->ns0_n++] = slot_loc(&s);
		}
	}
	im->ns_keys[run_ns] += run_n;
	im->ns_expiring[run_ns] += run_exp;
	im->ns_bytes[run_ns] += run_bytes;
	im->ns_large[run_ns] += run_large;
	im->done += n;
	im->bits = bits;
	im->word = word;
	im->next_free = next_free;
	im->prev_dist = prev_dist;
	im->started = started;
	return LK_OK;
}

/* An entry at pos away from its home needs the slot before it full, with
 * an entry no closer to its own home than one less. */
static int follows_in_order(const struct index *ix, uint32_t pos)
{
	const struct slot *s = &ix->slots[pos];
	uint32_t before = pos ? pos - 1 : ix->cap - 1, d;
	const struct slot *b = &ix->slots[before];

	if (is_empty(s))
		return 1;
	d = dist(ix, pos, home(ix, slot_h31(s)));
	return d == 0 ||
	       (!is_empty(b) &&
		dist(ix, before, home(ix, slot_h31(b))) + 1 >= d);
}

lk_status index_import_join(struct index *ix, struct ix_import *im,
			    const struct ix_import *second, const char **why)
{
	uint32_t cut = second->first_slot;

	LK_ASSERT(second->seg_bytes && second->seg_large &&
		  second->nsegs == im->nsegs);
	if (im->done != im->keys)
		return import_fail(ix, why, "fewer entries than keys");
	if (im->next_free < cut)
		memset(&ix->slots[im->next_free], 0,
		       (cut - im->next_free) * sizeof(struct slot));
	/* The slot at the cut is the second part's: written only if that
	 * part placed an entry (else end zeroes it). */
	if (second->started && !follows_in_order(ix, cut))
		return import_fail(ix, why, "entries out of probe order");
	if (im->ns0_n + second->ns0_n > LK_NS_COUNT_MAX + 1)
		return import_fail(ix, why, "more catalog entries than "
					    "namespaces");
	memcpy(&im->ns0[im->ns0_n], second->ns0,
	       second->ns0_n * sizeof second->ns0[0]);
	im->ns0_n += second->ns0_n;
	for (uint32_t m = 0; m <= im->nsegs; m++) {
		im->seg_bytes[m] += second->seg_bytes[m];
		im->seg_large[m] += second->seg_large[m];
	}
	for (size_t ns = 0; ns <= LK_NS_COUNT_MAX; ns++) {
		im->ns_bytes[ns] += second->ns_bytes[ns];
		im->ns_large[ns] += second->ns_large[ns];
		im->ns_keys[ns] += second->ns_keys[ns];
		im->ns_expiring[ns] += second->ns_expiring[ns];
	}
	im->keys = second->keys;
	im->done = second->done;
	im->word = second->word;
	im->bits = second->bits;
	im->next_free = second->next_free;
	im->prev_dist = second->prev_dist;
	return LK_OK;
}

lk_status index_import_end(struct index *ix, struct ix_import *im,
			   const char **why)
{
	uint32_t cap = ix->cap;

	if (im->done != im->keys)
		return import_fail(ix, why, "fewer entries than keys");
	if (im->next_free < cap)
		memset(&ix->slots[im->next_free], 0,
		       (cap - im->next_free) * sizeof(struct slot));
	/* Slot 0 continues slot cap - 1. */
	if (im->keys && !follows_in_order(ix, 0))
		return import_fail(ix, why, "entries out of probe order");
	ix->keys = (uint32_t)im->keys;
	memcpy(ix->ns_keys, im->ns_keys, sizeof ix->ns_keys);
	memcpy(ix->ns_expiring, im->ns_expiring, sizeof ix->ns_expiring);
	return LK_OK;
}

uint64_t index_count(const struct index *ix, uint8_t ns)
{
	return ix->ns_keys[ns];
}

uint64_t index_expiring(const struct index *ix, uint8_t ns)
{
	return ix->ns_expiring[ns];
}

uint64_t index_keys(const struct index *ix)
{
	return ix->keys;
}

uint64_t index_slots(const struct index *ix)
{
	return ix->cap;
}

uint64_t index_bytes(const struct index *ix)
{
	return bytes_of(ix->cap);
}
