/* SPDX-License-Identifier: MIT */
/*
 * snapshot_format.h - the snapshot file format: its layout, the named
 * offsets of every field, and an encode/decode pair for the header and
 * for an entry of the segment table.  Pure functions: no I/O, no
 * allocation.  snapshot.c writes and loads files with it; the snapshot
 * fuzzer forges them with it.
 *
 * Snapshot format version 1, every integer little-endian:
 *
 *   snapshot  := header seg_entry{seg_count} bitmap entry{keys} trailer
 *
 *   header (SNAP_HEADER_BYTES = 80)
 *     0  magic          8  "LKSNP\r\n\032"
 *     8  version        u16  SNAP_VERSION
 *    10  header_bytes   u16  80
 *    12  seg_count      u32  segments covered, 1..LK_SEGMENT_COUNT_MAX
 *    16  db_id          16   the database's id, as in segment headers
 *    32  serial         u64  the number in the file name
 *    40  created_ms     u64  wall clock when taken
 *    48  seq_last       u64  newest record sequence number at the position
 *    56  index_slots    u32  capacity of the index, at most
 *                            index_slots_max(keys)
 *    60  keys           u32  entries in the index
 *    64  file_bytes     u64  size of the whole file: snap_file_bytes()
 *    72  flags          u32  0
 *    76  checksum       u32  low 32 bits of XXH3_64(bytes 0..76, seed 0)
 *
 *   seg_entry (SNAP_SEG_BYTES = 64), in log order; the last one holds the
 *   position, and its data_end is the position
 *     0  seq            u64  as in the segment's header
 *     8  seq_prev       u64
 *    16  record_seq_base u64
 *    24  data_end       u64  end of the last commit (the seal if sealed)
 *    32  live_bytes     u64  bytes of records the index points at
 *    40  ops            u64  committed puts and deletes
 *    48  generation     u32
 *    52  flags          u32  bit 0 SNAP_SEG_SEALED, no other bit
 *    56  tail_hash      u64  XXH3_64 of the SNAP_TAIL_BYTES before
 *                            data_end (fewer if the segment is shorter):
 *                            ties the snapshot to the bytes of the log
 *
 *   bitmap, entry    the index table as index.h "Snapshots" exports it:
 *                    IX_EXPORT_BITMAP_BYTES(index_slots) bytes, then
 *                    IX_SLOT_BYTES per key; an entry's segment is its
 *                    place in the segment table, from 1
 *
 *   trailer (SNAP_TRAILER_BYTES = 16)
 *     0  meta_hash      u64  XXH3_64 of header, segment table and bitmap
 *     8  entries_hash   u64  XXH3_64 of the entries
 *
 * Decode order: the header alone first (magic, checksum, version, then
 * the counts against their limits, and file_bytes against what the counts
 * imply), so that nothing is allocated for a file whose header lies about
 * its sizes; index_slots is bounded by the key count, so the memory a
 * load takes is bounded by the file's size.  The segment table and bitmap
 * are then read and checked against meta_hash before any entry is decoded.
 */
#ifndef LK_SNAPSHOT_FORMAT_H
#define LK_SNAPSHOT_FORMAT_H

#include <stdint.h>

#include "index.h"
#include "logkeep.h"
#include "segment.h"

#define SNAP_VERSION 1u
#define SNAP_MAGIC_BYTES 8u

/* Header fields. */
#define SNAP_HEADER_BYTES 80u
#define SNAP_H_MAGIC 0u
#define SNAP_H_VERSION 8u
#define SNAP_H_HEADER_BYTES 10u
#define SNAP_H_SEG_COUNT 12u
#define SNAP_H_DB_ID 16u
#define SNAP_H_SERIAL 32u
#define SNAP_H_CREATED_MS 40u
#define SNAP_H_SEQ_LAST 48u
#define SNAP_H_INDEX_SLOTS 56u
#define SNAP_H_KEYS 60u
#define SNAP_H_FILE_BYTES 64u
#define SNAP_H_FLAGS 72u
#define SNAP_H_CHECKSUM 76u

/* Segment table entry fields. */
#define SNAP_SEG_BYTES 64u
#define SNAP_S_SEQ 0u
#define SNAP_S_SEQ_PREV 8u
#define SNAP_S_RECORD_SEQ_BASE 16u
#define SNAP_S_DATA_END 24u
#define SNAP_S_LIVE_BYTES 32u
#define SNAP_S_OPS 40u
#define SNAP_S_GENERATION 48u
#define SNAP_S_FLAGS 52u
#define SNAP_S_TAIL_HASH 56u

#define SNAP_SEG_SEALED 1u

/* Trailer fields. */
#define SNAP_TRAILER_BYTES 16u
#define SNAP_T_META_HASH 0u
#define SNAP_T_ENTRIES_HASH 8u

/* A segment's tail_hash covers this many bytes before its data_end. */
#define SNAP_TAIL_BYTES 64u

_Static_assert(SNAP_H_DB_ID + SEG_DB_ID_BYTES == SNAP_H_SERIAL,
	       "db_id is 16 bytes");
_Static_assert(SNAP_H_CHECKSUM + 4 == SNAP_HEADER_BYTES,
	       "the checksum ends the 80-byte header");
_Static_assert(SNAP_S_TAIL_HASH + 8 == SNAP_SEG_BYTES,
	       "tail_hash ends the 64-byte segment entry");
_Static_assert(SNAP_T_ENTRIES_HASH + 8 == SNAP_TRAILER_BYTES,
	       "two hashes make the trailer");
_Static_assert(SNAP_HEADER_BYTES % 8 == 0 && SNAP_SEG_BYTES % 8 == 0,
	       "the bitmap starts 8-byte aligned in the file");
_Static_assert(IX_SLOT_BYTES == 12, "entries are 12 bytes");

struct snap_header {
	uint32_t seg_count;
	uint8_t db_id[SEG_DB_ID_BYTES];
	uint64_t serial;
	uint64_t created_ms;
	uint64_t seq_last;
	uint32_t index_slots;
	uint32_t keys;
	uint64_t file_bytes;  /* decode: as read; encode: computed */
};

struct snap_seg {
	uint64_t seq;
	uint64_t seq_prev;
	uint64_t record_seq_base;
	uint64_t data_end;
	uint64_t live_bytes;
	uint64_t ops;
	uint32_t generation;
	uint32_t flags;       /* SNAP_SEG_SEALED */
	uint64_t tail_hash;
};

/* Bytes of the header, segment table and bitmap: what meta_hash covers
 * and where the entries start. */
static inline uint64_t snap_meta_bytes(uint32_t seg_count,
				       uint32_t index_slots)
{
	return SNAP_HEADER_BYTES + (uint64_t)seg_count * SNAP_SEG_BYTES +
	       IX_EXPORT_BITMAP_BYTES(index_slots);
}

/* Bytes of the whole file for these counts. */
static inline uint64_t snap_file_bytes(uint32_t seg_count,
				       uint32_t index_slots, uint64_t keys)
{
	return snap_meta_bytes(seg_count, index_slots) + keys * IX_SLOT_BYTES +
	       SNAP_TRAILER_BYTES;
}

/* The header checksum of the 80 bytes at h (over bytes 0..76). */
uint32_t snap_header_checksum(const uint8_t *h);

/* The hash that tail_hash, meta_hash and entries_hash are. */
uint64_t snap_hash(const void *data, size_t len);

/* Writes h as the 80 header bytes, with file_bytes computed from the
 * counts and the checksum.  Asserts what snap_header_decode() verifies. */
void snap_header_encode(uint8_t out[SNAP_HEADER_BYTES],
			const struct snap_header *h);

/* Decodes and verifies the 80 header bytes.  Returns LK_OK, LK_VERSION
 * (another format version or flags) or LK_CORRUPT, with *why a static
 * sentence.  LK_OK promises: seg_count in 1..LK_SEGMENT_COUNT_MAX,
 * index_slots in 1..index_slots_max(keys), and file_bytes ==
 * snap_file_bytes(seg_count, index_slots, keys). */
lk_status snap_header_decode(struct snap_header *h,
			     const uint8_t in[SNAP_HEADER_BYTES],
			     const char **why);

void snap_seg_encode(uint8_t out[SNAP_SEG_BYTES], const struct snap_seg *s);

/* Decodes one segment table entry.  Returns LK_OK, or LK_CORRUPT with
 * *why when its fields contradict each other (unknown flags, data_end
 * inside the segment header, more live bytes than data). */
lk_status snap_seg_decode(struct snap_seg *s, const uint8_t in[SNAP_SEG_BYTES],
			  const char **why);

#endif /* LK_SNAPSHOT_FORMAT_H */
