/* SPDX-License-Identifier: MIT */
/*
 * segtable.h - the segment table of a database (segtable.c): record reads
 * through it, key confirmation for the index, applying committed records,
 * adding, removing and pinning segments.
 *
 * Locks (handle.h): the table, the index, each segment's live_bytes and
 * each namespace's live bytes are under ix_lock, the table's own lock; a
 * pinned segment stays open without it.
 */
#ifndef LK_SEGTABLE_H
#define LK_SEGTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "handle.h"

/* Makes db->tab with an empty index.  Returns LK_OK, LK_NOMEM. */
lk_status segtable_init(struct lk_db *db);
/* Closes every segment in the table and frees it; safe when init never
 * ran.  No reader may be left. */
void segtable_free(struct lk_db *db);

/* ix_lock (handle.h): shared for reading the index and the table,
 * exclusive for changing them.  The _held forms are for assertions. */
void segtable_rdlock(struct lk_db *db);
void segtable_wrlock(struct lk_db *db);
void segtable_unlock(struct lk_db *db);
int segtable_held(const struct lk_db *db);
int segtable_held_excl(const struct lk_db *db);

/* The index (caller holds ix_lock, or is open, alone).  Open swaps in
 * the one a snapshot loaded, and back if it is then rejected; the old
 * one is returned. */
struct index *segtable_index(const struct lk_db *db);
struct index *segtable_swap_index(struct lk_db *db, struct index *ix);

/* The segment in slot (1 to IX_SEG_SLOTS - 1), or NULL; caller holds
 * ix_lock or is open, alone.  segtable_count: how many there are, without
 * a lock (a rotation's early check; segtable_add checks again). */
struct segment *segtable_at(const struct lk_db *db, uint32_t slot);
uint32_t segtable_count(const struct lk_db *db);

/* The newest segment, NULL before the first.  It changes under log_mu
 * and ix_lock (exclusive) both, so either lock is enough to read it. */
struct segment *segtable_active(const struct lk_db *db);
void segtable_set_active(struct lk_db *db, struct segment *s);

/* The sequence number of the newest record applied; the leader sets it
 * under log_mu, readers load it without a lock. */
uint64_t segtable_seq_last(const struct lk_db *db);
void segtable_set_seq_last(struct lk_db *db, uint64_t seq);

/* The live bytes of namespace ns (0: the catalog): the bytes of the
 * records the index points at for its keys, whole records as a segment's
 * live_bytes counts them; summed over every namespace, the segments'
 * live bytes.  Caller holds ix_lock, or is open, alone. */
uint64_t segtable_ns_bytes(const struct lk_db *db, uint8_t ns);
/* Open, alone: sets every namespace's live bytes (a snapshot's). */
void segtable_set_ns_bytes(struct lk_db *db,
			   const uint64_t bytes[LK_NS_COUNT_MAX + 1]);

/* Reads and decodes the record at loc into a buffer the caller frees
 * (*buf), or, in a mapped segment, where it lies (*buf NULL: rec is valid
 * while the caller holds ix_lock or a pin of the segment).  Verifies the
 * checksum.  Caller holds ix_lock (shared). */
lk_status segtable_read(struct lk_db *db, struct ix_loc loc,
			struct record *rec, uint8_t **buf);

/* segtable_read through a pinned segment, without ix_lock. */
lk_status segtable_read_at(struct lk_db *db, struct segment *s,
			   struct ix_loc loc, struct record *rec,
			   uint8_t **buf);

/* The key-compare callback for the index (ctx is the db). */
lk_status segtable_key_eq(void *ctx, struct ix_loc *loc, const void *key,
			  size_t key_len, int *equal);

/* A lookup that keeps the record of the matching candidate, so that a
 * get does not read it twice: segtable_lookup_eq is the index's
 * key-compare callback with a seg_lookup as ctx (caller holds ix_lock),
 * segtable_lookup_at the same through a pinned segment.  The caller frees
 * buf. */
struct seg_lookup {
	struct lk_db *db;
	struct record rec;
	uint8_t *buf;        /* NULL: rec lies in seg's mapping */
	struct segment *seg; /* where rec lies */
};
lk_status segtable_lookup_eq(void *ctx, struct ix_loc *loc, const void *key,
			     size_t key_len, int *equal);
lk_status segtable_lookup_at(struct seg_lookup *lu, struct segment *s,
			     struct ix_loc *loc, const void *key,
			     size_t key_len, int *equal);

/* Asks the processor for the records, in mappings, that the index holds
 * under (ns, hash): a replay that knows its next keys overlaps the misses
 * of confirming them (a hint; caller holds ix_lock or is open, alone). */
void segtable_prefetch(struct lk_db *db, uint8_t ns, uint64_t hash);

/* What keeps a record found by a lookup readable: the buffer it was read
 * into, or a pin of the mapped segment it lies in.  segtable_release()
 * lets both go (and may be called again). */
struct seg_hold {
	uint8_t *buf;
	struct segment *pin;
};
void segtable_release(struct lk_db *db, struct seg_hold *hold);

/* Looks up the live put of key in namespace ns (checked by the caller):
 * LK_OK with *rec, readable until the caller releases *hold, or
 * LK_NOT_FOUND (absent, deleted or expired), LK_CORRUPT, LK_IO, LK_NOMEM
 * (with nothing held).  Takes ix_lock itself (shared). */
lk_status segtable_lookup(struct lk_db *db, uint32_t ns, const void *key,
			  size_t key_len, struct record *rec,
			  struct seg_hold *hold);
/* segtable_lookup that finds an expired record too. */
lk_status segtable_lookup_raw(struct lk_db *db, uint32_t ns, const void *key,
			      size_t key_len, struct record *rec,
			      struct seg_hold *hold);
/* segtable_lookup that also tells where the record is: the sequence
 * number of its segment and its offset in it (either may be NULL). */
lk_status segtable_locate(struct lk_db *db, uint32_t ns, const void *key,
			  size_t key_len, struct record *rec,
			  struct seg_hold *hold, uint64_t *seg_seq,
			  uint64_t *offset);

/* Maps s for reading if it is sealed and the handle's mapping cap
 * (map_bytes_max) has room: see seg_map.  Called where a segment becomes
 * sealed for good (open, rotation, a compaction's output). */
void segtable_map(struct lk_db *db, struct segment *s);
/* segtable_map for every segment in the table (open, alone: recovery,
 * for the segments a snapshot covers, which no scan maps). */
void segtable_map_sealed(struct lk_db *db);
/* A writable open's replay of a segment that is not mapped (the newest,
 * or one the scan has yet to find sealed) reads the records its
 * overwrites replace in that same segment through a mapping of the whole
 * file (a read-only open holds no lock, and a writer may be appending to
 * it), made by
 * segtable_map_replay() at the first such read and ended by
 * segtable_unmap_replay() when the segment's scan ends, before anything
 * writes, truncates or maps the file; unless the scan found the segment
 * sealed with no bytes after its data, when the mapping becomes the one
 * segtable_map() would make (the later segments' replay reads through
 * it, without faulting its pages in again).  Within the mapping cap, charged to
 * it meanwhile; none under a memory budget, where a mapping would take
 * room from the index the replay grows.  NULL (*len 0) when it does not
 * fit or the I/O table declines: pread serves, as before. */
const uint8_t *segtable_map_replay(struct lk_db *db, struct segment *s,
				   size_t *len);
void segtable_unmap_replay(struct lk_db *db, struct segment *s,
			   const uint8_t *map, size_t len);
/* Bytes of segment files mapped now. */
uint64_t segtable_map_bytes(const struct lk_db *db);

/* The memory budget (lk_options.memory_bytes_max; logkeep.h): the index
 * grows only into what the budget leaves after the mappings.
 * segtable_reserve is index_reserve within it: LK_OK, LK_NOMEM, or
 * LK_TOO_BIG with the budget's detail (caller holds ix_lock, exclusive).
 * segtable_keys_room: how many keys it would still let in (caller holds
 * ix_lock); without a budget, up to LK_INDEX_SLOTS_MAX. */
lk_status segtable_reserve(struct lk_db *db, uint64_t keys);
/* The LK_TOO_BIG and detail of `keys` more keys refused by the budget
 * (caller holds ix_lock). */
lk_status segtable_refuse(struct lk_db *db, uint64_t keys);
/* Open (alone): index_reserve within the budget while the keys fit it,
 * past it as far as they need, since open is never refused for the
 * budget.  A replay under a budget reserves before each put (a batch's
 * overwrites and deletes would make a reservation for all its
 * operations grow the table past the budget for nothing).  Returns
 * LK_OK, LK_NOMEM, LK_TOO_BIG (LK_INDEX_SLOTS_MAX). */
lk_status segtable_reserve_replay(struct lk_db *db, uint64_t keys);
uint64_t segtable_keys_room(const struct lk_db *db);

/* A writer, before it encodes a put or delete of key: if the key's live
 * entry lies in a mapped segment, reads it there (no system call),
 * confirms the key and names its location in *r (REC_F_REPLACES and the
 * rep_ fields, record.h), returning 1; else 0, r unchanged (the apply
 * then confirms the key by reading, as ever).  Caller holds ix_lock
 * (shared). */
int segtable_claim(struct lk_db *db, uint8_t ns, uint64_t hash,
		   const void *key, size_t key_len, struct record *r);

/* How many keys the puts and deletes applied since open replaced,
 * found at the location their record names (unread), and confirmed by
 * reading the older record (read).  Takes no lock. */
void segtable_replaced(const struct lk_db *db, uint64_t *unread,
		       uint64_t *read);

/* Applies one committed put or delete to the index and the live-byte
 * counts.  Caller holds ix_lock exclusively.  `loc.size` is exact.  A
 * record that names the one it replaces (REC_F_REPLACES) finds the key's
 * entry there without calling eq. */
lk_status segtable_apply(struct lk_db *db, const struct record *rec,
			 struct ix_loc loc, uint64_t key_hash, ix_key_eq_fn eq,
			 void *eq_ctx);

/* Compaction's install: a live record of namespace ns, from_size bytes
 * in `from`, now lives in `to` as to_size bytes, or left the index (to
 * NULL: it expired).  Moves the live bytes of both counts.  Caller holds
 * ix_lock exclusively. */
void segtable_move_live(struct lk_db *db, uint8_t ns, struct segment *from,
			uint32_t from_size, struct segment *to,
			uint32_t to_size);

/* Adds a segment to the table, which takes its first reference (caller
 * holds ix_lock exclusively or is single-threaded in open).  Returns
 * LK_TOO_BIG past the limit. */
lk_status segtable_add(struct lk_db *db, struct segment *s);

/* Takes s out of the table (caller holds ix_lock exclusively); the
 * caller then drops the table's reference with segtable_unpin() after
 * releasing the lock. */
void segtable_remove(struct lk_db *db, struct segment *s);

/* A reference that keeps s open after ix_lock is released: taken while
 * s is in the table (caller holds ix_lock), dropped without locks.  The
 * last drop closes the segment. */
void segtable_pin(struct segment *s);
void segtable_unpin(struct lk_db *db, struct segment *s);

#endif /* LK_SEGTABLE_H */
