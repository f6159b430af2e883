/* SPDX-License-Identifier: MIT */
/*
 * index.h - the in-memory hash index: (namespace, key) -> location of the
 * newest live record of that key.
 *
 * Keys are not kept in memory, so memory per key does not grow with key
 * length: a slot holds 31 bits of the key's hash, the namespace, an
 * "expiring" bit and the record's location (segment slot, offset, size),
 * 12 bytes in all.  A lookup compares hashes in memory and confirms a
 * candidate by reading its key from disk through a callback; the index
 * itself does no I/O and takes no locks (the database's rwlock guards it).
 *
 * Open addressing with Robin Hood placement and backward-shift deletion;
 * the capacity is any integer (not a power of two) and a hash maps to its
 * home slot by multiplication, so the table can grow by half at 80% load
 * and stay between 15 and 23 bytes per key.  Growth happens only in
 * index_reserve(), which writers call before they write, so that applying
 * a durable write to the index can never fail for lack of memory.
 *
 * Slot layout (three 32-bit words, in memory only):
 *   w0  offset
 *   w1  segment slot (12 bits, 0 = empty) | size (12 bits) | namespace (8)
 *   w2  hash (31 bits) | expiring (1 bit)
 */
#ifndef LK_INDEX_H
#define LK_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "logkeep.h"
#include "logkeep_limits.h"

#define IX_SEG_SLOTS 4096u        /* 12 bits; slot 0 means empty */
#define IX_SIZE_LARGE 4095u       /* size field saturates: read the header */
#define IX_SLOT_BYTES 12u

struct ix_loc {
	uint32_t seg;     /* segment slot, 1..IX_SEG_SLOTS-1 */
	uint32_t offset;
	uint32_t size;    /* record bytes, or IX_SIZE_LARGE */
};

struct index;

/* Tells whether the record at *loc has key (key, key_len): sets *equal.
 * May replace loc->size with the exact size it read.  Returns LK_OK or the
 * status of a failed read (the index operation then fails with it). */
typedef lk_status (*ix_key_eq_fn)(void *ctx, struct ix_loc *loc,
				  const void *key, size_t key_len, int *equal);

lk_status index_new(struct index **ix);
void index_free(struct index *ix);

/* 1 if `extra` more keys fit without growing the table. */
int index_has_room(const struct index *ix, uint64_t extra);

/* Asks the processor to bring the home slot of hash into its cache: a
 * replay that knows the next keys of a group overlaps their memory
 * latency (a hint; the table is not changed). */
void index_prefetch(const struct index *ix, uint64_t hash);

/* Makes room for `extra` more keys without further allocation.
 * Returns LK_OK, LK_NOMEM, LK_TOO_BIG (past LK_INDEX_SLOTS_MAX). */
lk_status index_reserve(struct index *ix, uint64_t extra);

/* The memory budget (lk_options.memory_bytes_max).  index_reserve that
 * leaves the table at most bytes_max bytes (index_bytes): the usual
 * growth by half when it fits, else the largest table under bytes_max
 * that holds the keys, so that the last growth uses the whole bound; if
 * none does, LK_TOO_BIG with nothing allocated.  The check is made
 * before the allocation and counts the table after growth; while the
 * entries move, the old table (at most 2/3 of the new) is held too. */
lk_status index_reserve_within(struct index *ix, uint64_t extra,
			       uint64_t bytes_max);
/* index_bytes of the smallest table that holds `keys` keys. */
uint64_t index_bytes_for(uint64_t keys);
/* index_bytes of ix after its next growth by half. */
uint64_t index_grown_bytes(const struct index *ix);
/* How many more keys index_reserve_within(ix, n, bytes_max) lets in: the
 * room left in the largest table it can grow to, or in the table as it
 * is when that is larger (a table over the bound takes keys as long as
 * they fit without growing). */
uint64_t index_keys_room(const struct index *ix, uint64_t bytes_max);

/* Finds the location of key.  Returns LK_OK, LK_NOT_FOUND, or a status of
 * the callback. */
lk_status index_get(struct index *ix, uint8_t ns, uint64_t hash,
		    const void *key, size_t key_len, ix_key_eq_fn eq,
		    void *ctx, struct ix_loc *loc, int *expiring);

/* Copies to out[] the locations of the entries that match (ns, hash), in
 * probe order, at most max of them, and returns how many match in all
 * (more than max means out[] is incomplete).  For readers that confirm
 * the key outside the index lock. */
size_t index_candidates(const struct index *ix, uint8_t ns, uint64_t hash,
			struct ix_loc *out, int *expiring, size_t max);

/* Points key at loc, replacing its previous location (returned in *old
 * with *had_old = 1).  Needs room: asserts that index_reserve() made it.
 * Returns LK_OK or a status of the callback. */
lk_status index_put(struct index *ix, uint8_t ns, uint64_t hash,
		    int expiring, const void *key, size_t key_len,
		    struct ix_loc loc, ix_key_eq_fn eq, void *ctx,
		    struct ix_loc *old, int *had_old);

/* Removes key; its location is returned in *old with *had_old = 1.
 * Returns LK_OK (absent keys too) or a status of the callback. */
lk_status index_del(struct index *ix, uint8_t ns, uint64_t hash,
		    const void *key, size_t key_len, ix_key_eq_fn eq,
		    void *ctx, struct ix_loc *old, int *had_old);

/* Compaction: if the entry of (ns, hash) is at `from` (segment and
 * offset), points it at *to, or removes it when to is NULL, and returns 1;
 * returns 0 when no entry is at `from` (the key moved on since).  A
 * location names one record, so no key comparison is needed. */
int index_move(struct index *ix, uint8_t ns, uint64_t hash,
	       struct ix_loc from, const struct ix_loc *to);

/* Calls fn for each entry of namespace ns (or every entry if ns < 0),
 * in table order. */
typedef void (*ix_visit_fn)(void *arg, uint8_t ns, struct ix_loc loc,
			    int expiring);
void index_foreach(const struct index *ix, int ns, ix_visit_fn fn, void *arg);

/* Snapshots (snapshot.c) store the table as it is, so that loading one
 * is a copy, not a rebuild:
 *   bitmap   capacity bits, bit i set if slot i holds an entry, padded
 *            to a multiple of 8 bytes (bit i is bit i%8 of byte i/8)
 *   entries  12 bytes each, in slot order: offset, segment | size | ns,
 *            hash | expiring, as little-endian u32 (the slot words)
 * Segment slots go through a map both ways, because the slots of a
 * running handle are not those of the next open. */
#define IX_EXPORT_BITMAP_BYTES(cap) ((((uint64_t)(cap) + 63) / 64) * 8)

/* 1 if `keys` entries fit a table of `slots` under the load limit. */
int index_slots_fit(uint64_t slots, uint64_t keys);

/* The largest capacity a snapshot of `keys` keys may declare: what the
 * growth policy gives a table that grew only for the keys it holds
 * (INITIAL_SLOTS, or twice the keys).  A load refuses more, so that the
 * memory it takes is bounded by the entries in the file. */
uint64_t index_slots_max(uint64_t keys);

/* The capacity index_export() writes ix with: its own, or a smaller one
 * within index_slots_max() when deletes (the table never shrinks) or
 * reservations for overwrites left it sparser than that. */
uint32_t index_export_slots(const struct index *ix);

/* Writes the bitmap and the entries into out, which holds
 * IX_EXPORT_BITMAP_BYTES(index_export_slots(ix)) + 12 * index_keys(ix)
 * bytes; each entry's segment slot s becomes seg_map[s].  When
 * index_export_slots(ix) is not index_slots(ix), the entries are placed
 * again in `scratch`, IX_SLOT_BYTES * index_export_slots(ix) bytes (else
 * it may be NULL).  Returns 0, or -1 if an entry's slot maps to 0 (an
 * entry that names no segment of the log). */
int index_export(const struct index *ix, const uint16_t *seg_map,
		 uint8_t *out, void *scratch);

/* The same a part at a time, so that a snapshot is written through a
 * buffer of a few entries instead of one of the file's size:
 * index_export_begin() zeroes `bitmap` (IX_EXPORT_BITMAP_BYTES(
 * index_export_slots(ix)) bytes), and re-places the entries into scratch
 * when index_export() would; then each index_export_next() writes the
 * entries of the next slots, at most max of them, into out, sets their
 * bits, and returns how many (0 once every slot was passed), or -1 if an
 * entry's slot maps to 0.  ix must not change until the last call. */
struct ix_export {
	const void *slots;          /* ix's table, or scratch */
	uint32_t cap, next;         /* slots, and the next one to look at */
	const uint16_t *seg_map;
	uint8_t *bitmap;
};
void index_export_begin(struct ix_export *x, const struct index *ix,
			const uint16_t *seg_map, uint8_t *bitmap,
			void *scratch);
int64_t index_export_next(struct ix_export *x, uint8_t *out, size_t max);

/* Loading a snapshot: index_import_begin() replaces the contents of ix
 * with an empty table of cap slots that is to hold `keys` entries, placed
 * by `bitmap` (IX_EXPORT_BITMAP_BYTES(cap) bytes, which must stay valid
 * until the end); index_import_add() places the next n entries (12 bytes
 * each, as exported) in order; index_import_end() checks that all came.
 * Entry segment numbers go through seg_map (nsegs + 1 entries; 0 or out
 * of range is invalid); seg_end[m] is the data end of segment number m,
 * and an entry must lie inside it.  Every entry is checked, and so is the
 * Robin Hood order that lookups rely on.  The entries of namespace 0 (the
 * catalog) are listed in ns0[], so the caller need not walk the table for
 * them.  Per segment number m, seg_bytes[m] sums the sizes of its
 * entries (IX_SIZE_LARGE for a large one) and seg_large[m] counts its
 * large ones, so that the caller can hold them against the segment's live
 * bytes: both are arrays of nsegs + 1 that the caller zeroes and sets in
 * *im after begin.  ns_bytes[] and ns_large[] are the same per namespace
 * (begin zeroes them).  Each returns LK_OK or LK_CORRUPT with *why; begin
 * also LK_NOMEM and LK_TOO_BIG.  After a failure the table holds a part
 * of the entries: free ix, or begin again.
 *
 * Two threads.  index_import_split(), right after begin, cuts the import
 * in two at a slot: im keeps the entries before it, which the function
 * counts and returns, and *second takes the others (with seg_bytes and
 * seg_large arrays of its own, zeroed, set by the caller).  Each part is
 * then fed with index_import_add() on a thread of its own: they write
 * disjoint slots and only their own *im.  Once both are done (joined),
 * index_import_join() takes second into im (its sums added to im's
 * arrays) and checks the probe order across the cut; index_import_end()
 * follows as for one part. */
struct ix_import {
	const uint8_t *bitmap;
	const uint32_t *seg_map;
	const uint64_t *seg_end;
	uint32_t nsegs;
	uint64_t keys, done;      /* index of this part's end, placed so far */
	uint64_t word, words;     /* the bitmap word being walked */
	uint64_t bits;            /* its bits not yet placed */
	uint32_t first_slot;      /* this part's first slot */
	uint32_t next_free, prev_dist;
	int started;              /* an entry of this part is placed */
	struct ix_loc ns0[LK_NS_COUNT_MAX + 1];
	size_t ns0_n;
	uint64_t *seg_bytes, *seg_large;
	uint64_t ns_bytes[LK_NS_COUNT_MAX + 1], ns_large[LK_NS_COUNT_MAX + 1];
	uint64_t ns_keys[LK_NS_COUNT_MAX + 1];
	uint64_t ns_expiring[LK_NS_COUNT_MAX + 1];
};

lk_status index_import_begin(struct index *ix, struct ix_import *im,
			     uint32_t cap, uint64_t keys,
			     const uint8_t *bitmap, const uint32_t *seg_map,
			     uint32_t nsegs, const uint64_t *seg_end,
			     const char **why);
/* Cuts at `slot` rounded down to a multiple of 64, which must leave a
 * word of the bitmap on each side (asserted, and that im is fresh from
 * begin).  Returns the entries left to im. */
uint64_t index_import_split(const struct index *ix, struct ix_import *im,
			    struct ix_import *second, uint32_t slot);
lk_status index_import_add(struct index *ix, struct ix_import *im,
			   const uint8_t *entries, size_t n, const char **why);
lk_status index_import_join(struct index *ix, struct ix_import *im,
			    const struct ix_import *second, const char **why);
lk_status index_import_end(struct index *ix, struct ix_import *im,
			   const char **why);

/* In place: a part's entries can be read from the file into the table
 * itself, so that a load needs no buffer beside the table.
 * index_import_area() returns where, for a part fresh from begin or
 * split that ends before slot `end` (the cut, or the capacity): its n
 * entries packed against end, entry k at slot end - n + k.  They are
 * then given to index_import_add() from there, in order.  Entry k's own
 * slot, the part's k-th set bit, is at most end - n + k, because the
 * n - 1 - k entries after it need slots of their own before end; so
 * placing writes no slot past the one it is reading, and no entry is
 * overwritten before it is read. */
uint8_t *index_import_area(struct index *ix, const struct ix_import *im,
			   uint32_t end);

/* An order-independent digest of every entry (all its bits, the hash
 * included), with each entry's segment slot s replaced by seg_ids[s]:
 * two tables with the same entries for the same records digest alike,
 * whatever their capacity, order or segment slots. */
uint64_t index_digest(const struct index *ix, const uint64_t *seg_ids);

uint64_t index_count(const struct index *ix, uint8_t ns);
uint64_t index_expiring(const struct index *ix, uint8_t ns);
uint64_t index_keys(const struct index *ix);
uint64_t index_slots(const struct index *ix);
uint64_t index_bytes(const struct index *ix);

#endif /* LK_INDEX_H */
