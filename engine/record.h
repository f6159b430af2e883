/* SPDX-License-Identifier: MIT */
/*
 * record.h - the record codec: encode, decode and verify one log record.
 * Pure functions: no I/O, no allocation.  xxhash enters logkeep here.
 *
 * Format version 2.  A segment file is
 *
 *   segment     := seg_header record*
 *   seg_header  := 64 bytes, see segment.h
 *
 * and a record, every integer little-endian, is
 *
 *   record      := checksum:u32 body_len:varint body
 *   body        := kind:u8 ns:u8 seq_delta:varint payload
 *   kind        := type (low 4 bits) | flags (high 4 bits)
 *   payload     := put | del | commit | seal
 *   put         := key_len:varint [expire_at_ms:u64 if EXPIRY]
 *                  [replaces if REPLACES] key value
 *   del         := key_len:varint [replaces if REPLACES] key
 *   replaces    := seg_seq:varint generation:varint offset:varint
 *   commit      := durable_upto:u32 op_count:varint
 *   seal        := durable_upto:u32 op_count:varint
 *                  [segment_hash:u64 if SEG_HASH]
 *   value       := bytes                          (the rest of the body)
 *                | raw_len:varint zstd_frame      (if ZSTD)
 *
 *   checksum    = low 32 bits of XXH3_64(bytes after the checksum field,
 *                 seed = record_seed(database, segment, offset))
 *   seq         = segment's record_seq_base + seq_delta (puts and deletes;
 *                 seq_delta is 0 in commits and seals, which have no seq)
 *
 * Meaning.  Puts and deletes take effect only when the commit record that
 * follows them is read: a commit closes the group of op_count records
 * before it, all or nothing.  durable_upto is the segment offset below
 * which the writer knew the file to be on stable storage when it wrote the
 * commit; recovery uses it to tell a torn unsynced tail (cut it) from
 * damage to data that had been synced (refuse).  A seal is the last record
 * of a segment that will take no more writes; its op_count is the number
 * of committed puts and deletes in the segment, and its segment_hash (from
 * format version 2 on, flag SEG_HASH) is XXH3_64 of every byte of the file
 * before the seal, seeded by seg_hash_seed(): the scrub checks a whole
 * sealed segment with one streaming hash and no parsing, and parses it
 * record by record only to name the place of a mismatch.  The checksum's seed binds a
 * record to its database, segment and offset, so a record copied elsewhere
 * fails verification.
 *
 *
 * Replaces (format version 3, flag REPLACES on a put or a delete) names
 * the record of the same key that was live when the writer wrote this
 * one: its segment (seq and generation) and offset.  A location holds one
 * record for good (segments are append-only, and compaction writes a new
 * generation), so the claim stays true when it goes stale.  Applying the
 * record, a writer or a replay finds the index entries whose hash matches;
 * the one at the named location is the key's without reading it (the
 * writer read it when it made the claim), and any other is confirmed by
 * reading its key, as for a record without the flag.  The claim only
 * saves a read: an entry elsewhere, or none, is the same as no claim.  A
 * replay after a crash repoints overwritten keys without touching the
 * records they replace, which lie anywhere in the older log.
 *
 * Namespace 0 is the engine's catalog of namespace names: each of its
 * records is a put with the name as key and the id as a one-byte value.
 *
 * Limits (logkeep_limits.h) are checked before anything is trusted: body_len
 * against LK_RECORD_BYTES_MAX and the bytes available, key_len against
 * LK_KEY_BYTES_MAX and the body, a compressed value's raw_len against
 * LK_VALUE_BYTES_MAX.
 */
#ifndef LK_RECORD_H
#define LK_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "logkeep.h"

/* Version 2: a segment is sealed only after its successor exists, so that
 * a sealed newest segment means a missing one (commit.c, rotate), and its
 * seal carries the hash of the whole segment (SEG_HASH).  Version 3: puts
 * and deletes may name the record they replace (REPLACES), which a
 * version 2 reader would take for damage, so it refuses the segment by
 * its version instead.  Version 1 and 2 segments are still read, and
 * written on only by appending version 3 segments after them. */
#define LK_FORMAT_VERSION 3u
#define LK_FORMAT_VERSION_MIN 1u
/* The first version whose seal promises a successor. */
#define LK_FORMAT_VERSION_SEAL_LINKS 2u

/* Sequence numbers stay at or below 2^62 (4.6e18 writes: 146 years at a
 * billion a second), in headers and records alike, so that no file can
 * make them wrap. */
#define REC_SEQ_MAX (UINT64_C(1) << 62)

enum record_type {
	REC_PUT = 1,
	REC_DEL = 2,
	REC_COMMIT = 3,
	REC_SEAL = 4,
};

/* Flags, in the high nibble of the kind byte. */
#define REC_F_EXPIRY 0x10u /* an expire_at_ms field follows key_len */
#define REC_F_ZSTD 0x20u   /* the value is raw_len + a zstd frame */
#define REC_F_MASK 0x30u   /* the flags a put may carry */
#define REC_F_SEG_HASH 0x40u /* on a seal: segment_hash follows op_count */
#define REC_F_REPLACES 0x80u /* on a put or delete: `replaces` follows */
#define REC_F_OP_MASK (REC_F_MASK | REC_F_REPLACES) /* a put's flags */

/* checksum + the largest body_len varint for LK_RECORD_BYTES_MAX */
#define REC_PREFIX_BYTES_MAX 8u
/* the smallest valid record: checksum, len, kind, ns, seq_delta */
#define REC_BYTES_MIN 8u
/* the largest `replaces` field: seg_seq (9), generation (5), offset (5) */
#define REC_REPLACES_BYTES_MAX 19u
/* a replaced record lies after its segment's header (SEG_HEADER_BYTES) */
#define REC_REPLACES_OFFSET_MIN 64u
/* enough to read any record's prefix, kind, ns, seq and key_len */
#define REC_HEAD_BYTES_MAX 32u

/* A decoded record.  Pointers point into the buffer that was decoded. */
struct record {
	uint8_t type;
	uint8_t flags;
	uint8_t ns;
	uint64_t seq;
	uint64_t expire_at_ms;  /* 0: none */
	const uint8_t *key;
	uint32_t key_len;
	const uint8_t *value;   /* as stored: compressed if REC_F_ZSTD */
	uint32_t value_len;
	uint32_t durable_upto;  /* commit and seal */
	uint64_t count;         /* commit: op_count; seal: record_count */
	uint64_t seg_hash;      /* seal with REC_F_SEG_HASH */
	/* REC_F_REPLACES: where the record this one replaces was written */
	uint64_t rep_seg_seq;   /* 1..REC_SEQ_MAX */
	uint32_t rep_generation;
	uint32_t rep_offset;    /* SEG_HEADER_BYTES or more */
	uint32_t size;          /* bytes of the whole record */
};

/* The checksum seed of a record at `offset` of segment (seq, generation)
 * in the database whose id hashes to db_seed. */
uint64_t record_seed(uint64_t db_seed, uint64_t seg_seq, uint32_t generation,
		     uint64_t offset);

/* A general 64-bit hash (XXH3) for keys, headers and database ids. */
uint64_t record_hash(const void *data, size_t len, uint64_t seed);

/* record_hash over data that arrives in pieces: the same value as one
 * record_hash of the pieces joined.  new returns NULL for no memory;
 * peek returns the hash of the pieces so far and more may follow; done
 * returns the hash and frees the state. */
struct rec_hasher;
struct rec_hasher *record_hasher_new(uint64_t seed);
void record_hasher_add(struct rec_hasher *h, const void *data, size_t len);
uint64_t record_hasher_peek(const struct rec_hasher *h);
uint64_t record_hasher_done(struct rec_hasher *h);

/* The hash of (namespace, key) that the index is built on. */
uint64_t record_key_hash(uint32_t ns, const void *key, size_t key_len);

/* Bytes that record_encode() will write for r (r->size is ignored). */
size_t record_encoded_size(const struct record *r, uint64_t seq_base);

/* Encodes r at buf, which has room for record_encoded_size() bytes, and
 * returns that size.  Asserts what record_decode() verifies. */
size_t record_encode(uint8_t *buf, const struct record *r, uint64_t seq_base,
		     uint64_t seed);

/* What the prefix of a record tells of its size. */
enum rec_peek {
	REC_PEEK_SIZE,  /* *size is the whole record's */
	REC_PEEK_SHORT, /* fewer bytes than needed to tell; more may follow */
	REC_PEEK_BAD,   /* an impossible prefix (zero or oversized length):
			   *why says which */
};

/* Reads the size of the record at buf (avail bytes) from its prefix. */
enum rec_peek record_peek_size(uint32_t *size, const uint8_t *buf,
			       size_t avail, const char **why);

/* Decodes and verifies the record at buf (avail bytes, at least the whole
 * record).  Returns LK_OK, or LK_CORRUPT with *why a static sentence
 * ("checksum mismatch", "key length past record end", ...). */
lk_status record_decode(struct record *r, const uint8_t *buf, size_t avail,
			uint64_t seq_base, uint64_t seed, const char **why);

/* The fields of the record of `size` bytes at buf (its size as
 * record_peek_size() read it), checked for shape but not for its
 * checksum: record_decode() after the checksum, and `logkeep dump`, which
 * shows what a record that fails its checksum claims to be.  Returns
 * LK_OK or LK_CORRUPT with *why. */
lk_status record_parse(struct record *r, const uint8_t *buf, uint32_t size,
		       uint64_t seq_base, const char **why);

/* Namespace names: 1 to LK_NS_NAME_BYTES_MAX printable ASCII bytes, no
 * space.  Returns 1 if valid. */
int record_ns_name_valid(const void *name, size_t len);

/* The namespace catalog lives in namespace 0: a put whose key is the name
 * and whose value is one byte, the namespace id (2..LK_NS_COUNT_MAX).
 * Returns 1 if the decoded record r is a valid catalog entry. */
int record_catalog_valid(const struct record *r);

#endif /* LK_RECORD_H */
