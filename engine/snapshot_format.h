/* SPDX-License-Identifier: MIT */
/*
 * snapshot_format.h - the snapshot file format: its layout, the named
 * offsets of every field, and an encode/decode pair for the header, the
 * compaction totals and an entry of the segment table.  Pure functions:
 * no I/O, no
 * allocation.  snapshot.c writes and loads files with it; the snapshot
 * fuzzer forges them with it.
 *
 * Snapshot format version 2, every integer little-endian:
 *
 *   snapshot  := header totals namespaces seg_entry{seg_count} bitmap
 *                entry{keys} trailer
 *
 *   header (SNAP_HEADER_BYTES = 80)
 *     0  magic          8  "LKSNP\r\n\032"
 *     8  version        u16  SNAP_VERSION (2; 1 is still read, below)
 *    10  header_bytes   u16  80
 *    12  seg_count      u32  segments covered, 1..LK_SEGMENT_COUNT_MAX
 *    16  db_id          16   the database's id, as in segment headers
 *    32  serial         u64  the number in the file name, 1 to
 *                            SNAP_SERIAL_MAX (a name outside is not a
 *                            snapshot's)
 *    40  created_ms     u64  wall clock when taken
 *    48  seq_last       u64  newest record sequence number at the position:
 *                            at most REC_SEQ_MAX, and at least the last
 *                            segment's record_seq_base - 1
 *    56  index_slots    u32  capacity of the index, at most
 *                            index_slots_max(keys)
 *    60  keys           u32  entries in the index
 *    64  file_bytes     u64  size of the whole file: snap_file_bytes()
 *    72  flags          u32  0
 *    76  checksum       u32  low 32 bits of XXH3_64(bytes 0..76, seed 0)
 *
 *   totals (SNAP_TOTALS_BYTES = 48): the database's compactions since it
 *   was created, as of the snapshot (snapshot.h, "Compaction totals")
 *     0  compactions       u64  runs of segments rewritten
 *     8  bytes_read        u64  of the old segments
 *    16  bytes_written     u64  of the new ones
 *    24  segments_removed  u64
 *    32  records_dropped   u64
 *    40  hash              u64  XXH3_64 of the header and bytes 0..40
 *                               here: the totals read alone, without the
 *                               rest of the file, are still checked
 *   Each count is at most SNAP_TOTAL_MAX; segments_removed is at least
 *   compactions (a run removes one segment or more), and with no
 *   compaction every count is 0.
 *
 *   namespaces (SNAP_NS_BYTES = 2048): live_bytes u64 of each namespace
 *   id, 0 (the catalog) to LK_NS_COUNT_MAX: bytes of the records the
 *   index points at for its keys.  Each is at least the sizes its
 *   entries hold, and at most that plus a record's limit per large
 *   entry; together they are the segments' live bytes.
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
 *     0  meta_hash      u64  XXH3_64 of everything before the entries:
 *                            header, totals, namespaces, segment table
 *                            and bitmap
 *     8  entries_hash   u64  XXH3_64 of the entries
 *
 * Version 1, which this library still reads (a directory written before
 * version 2 opens from its snapshot), has neither totals nor namespaces:
 *   snapshot  := header seg_entry{seg_count} bitmap entry{keys} trailer
 * Its compaction totals are taken as none, and each namespace's live
 * bytes are summed from its entries at load, reading the length of each
 * large record (snapshot.c, adopt_ns_bytes).  The layout functions below
 * take the version.
 *
 * Decode order: the header alone first (magic, checksum, version, then
 * the counts against their limits, and file_bytes against what the counts
 * imply), so that nothing is allocated for a file whose header lies about
 * its sizes; index_slots is bounded by the key count, so the memory a
 * load takes is bounded by the file's size.  Then the totals, against
 * their hash and their bounds.  The namespaces, segment table and bitmap
 * are then read and checked against meta_hash before any entry is
 * decoded.
 */
#ifndef LK_SNAPSHOT_FORMAT_H
#define LK_SNAPSHOT_FORMAT_H

#include <stdint.h>

#include "index.h"
#include "logkeep.h"
#include "segment.h"

/* Version 2 added the compaction totals and the namespaces' live bytes;
 * version 1 files are still read. */
#define SNAP_VERSION 2u
#define SNAP_VERSION_MIN 1u
#define SNAP_MAGIC_BYTES 8u

/* Snapshot serials: one a snapshot written, from 1; at a million a
 * second, 2^62 lasts 146,000 years. */
#define SNAP_SERIAL_MAX (UINT64_C(1) << 62)

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

/* Compaction totals fields (version 2). */
#define SNAP_TOTALS_BYTES 48u
#define SNAP_C_COMPACTIONS 0u
#define SNAP_C_BYTES_READ 8u
#define SNAP_C_BYTES_WRITTEN 16u
#define SNAP_C_SEGMENTS_REMOVED 24u
#define SNAP_C_RECORDS_DROPPED 32u
#define SNAP_C_HASH 40u
/* A total past this is damage: 2^62 bytes is 4 EiB, which no flash
 * device writes in its life, and two totals below it add up without
 * wrapping (the engine's sums saturate here). */
#define SNAP_TOTAL_MAX (UINT64_C(1) << 62)

/* The namespaces' live bytes (version 2): a u64 per id, 0 to
 * LK_NS_COUNT_MAX. */
#define SNAP_NS_BYTES ((LK_NS_COUNT_MAX + 1u) * 8u)

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
_Static_assert(SNAP_C_HASH + 8 == SNAP_TOTALS_BYTES,
	       "the hash ends the 48-byte totals");
_Static_assert(SNAP_HEADER_BYTES % 8 == 0 && SNAP_TOTALS_BYTES % 8 == 0 &&
		       SNAP_NS_BYTES % 8 == 0 && SNAP_SEG_BYTES % 8 == 0,
	       "the bitmap starts 8-byte aligned in the file");
_Static_assert(IX_SLOT_BYTES == 12, "entries are 12 bytes");

struct snap_header {
	uint32_t version;     /* decode: as read; encode: written as is */
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

/* The database's compactions since it was created (the totals). */
struct snap_totals {
	uint64_t compactions;
	uint64_t bytes_read;
	uint64_t bytes_written;
	uint64_t segments_removed;
	uint64_t records_dropped;
};

/* Where the namespaces' live bytes start (version 2), and where the
 * segment table starts, in a file of this version. */
#define SNAP_NS_AT (SNAP_HEADER_BYTES + SNAP_TOTALS_BYTES)
static inline uint64_t snap_segs_at(uint32_t version)
{
	return version >= 2 ? SNAP_NS_AT + SNAP_NS_BYTES : SNAP_HEADER_BYTES;
}

/* Bytes of everything before the entries (header, totals, namespaces,
 * segment table and bitmap): what meta_hash covers and where the entries
 * start. */
static inline uint64_t snap_meta_bytes(uint32_t version, uint32_t seg_count,
				       uint32_t index_slots)
{
	return snap_segs_at(version) + (uint64_t)seg_count * SNAP_SEG_BYTES +
	       IX_EXPORT_BITMAP_BYTES(index_slots);
}

/* Bytes of the whole file for these counts. */
static inline uint64_t snap_file_bytes(uint32_t version, uint32_t seg_count,
				       uint32_t index_slots, uint64_t keys)
{
	return snap_meta_bytes(version, seg_count, index_slots) +
	       keys * IX_SLOT_BYTES + SNAP_TRAILER_BYTES;
}

/* The header checksum of the 80 bytes at h (over bytes 0..76). */
uint32_t snap_header_checksum(const uint8_t *h);

/* The hash that tail_hash, meta_hash and entries_hash are. */
uint64_t snap_hash(const void *data, size_t len);

/* Writes h as the 80 header bytes, with file_bytes computed from the
 * counts and the checksum.  Asserts what snap_header_decode() verifies
 * (h->version is SNAP_VERSION_MIN to SNAP_VERSION: tests write version 1
 * files). */
void snap_header_encode(uint8_t out[SNAP_HEADER_BYTES],
			const struct snap_header *h);

/* Decodes and verifies the 80 header bytes.  Returns LK_OK, LK_VERSION
 * (a format version this library does not read, or flags) or LK_CORRUPT,
 * with *why a static sentence.  LK_OK promises: version in
 * SNAP_VERSION_MIN..SNAP_VERSION, seg_count in 1..LK_SEGMENT_COUNT_MAX,
 * index_slots in 1..index_slots_max(keys), and file_bytes ==
 * snap_file_bytes(version, seg_count, index_slots, keys). */
lk_status snap_header_decode(struct snap_header *h,
			     const uint8_t in[SNAP_HEADER_BYTES],
			     const char **why);

/* The totals' hash: of the header and the totals' first 40 bytes, at
 * file[0 .. SNAP_NS_AT - 8). */
uint64_t snap_totals_hash(const uint8_t *file);

/* Writes t as the totals, after the header already encoded at file[0..80),
 * with their hash.  Asserts what snap_totals_decode() verifies. */
void snap_totals_encode(uint8_t *file, const struct snap_totals *t);

/* Decodes the totals of a version 2 file from file[0 .. SNAP_NS_AT),
 * whose header decoded.  Returns LK_OK, or LK_CORRUPT with *why (a hash
 * mismatch, a total past SNAP_TOTAL_MAX, totals that contradict each
 * other). */
lk_status snap_totals_decode(struct snap_totals *t, const uint8_t *file,
			     const char **why);

/* sum += more, each total saturating at SNAP_TOTAL_MAX, so that totals
 * that were valid stay valid. */
void snap_totals_add(struct snap_totals *sum, const struct snap_totals *more);

void snap_seg_encode(uint8_t out[SNAP_SEG_BYTES], const struct snap_seg *s);

/* Decodes one segment table entry.  Returns LK_OK, or LK_CORRUPT with
 * *why when its fields contradict each other (unknown flags, data_end
 * inside the segment header, more live bytes than data). */
lk_status snap_seg_decode(struct snap_seg *s, const uint8_t in[SNAP_SEG_BYTES],
			  const char **why);

#endif /* LK_SNAPSHOT_FORMAT_H */
