/* SPDX-License-Identifier: MIT */
/*
 * fuzz_record.c - fuzz target for the record codec (engine/record.h) and
 * the segment header (engine/segment.h): pure functions that read bytes
 * straight off the disk.
 *
 * Method.  The input is fed to the decoders four ways:
 *
 *   1. as it is: record_peek_size() on every short prefix and on the
 *      whole, and record_decode() with each fixed (seq_base, seed) pair.
 *      Mutated seeds (the corpus holds records encoded with the first
 *      pair) reach past the checksum this way only while it stays right.
 *   2. as a whole record whose checksum is made right: the length prefix
 *      is the input's, and bytes 0..4 are recomputed with record_hash()
 *      for each seed, so every mutation of the body reaches the structure
 *      checks that come after the checksum.
 *   3. as a record body: a checksum and a length prefix are put in front
 *      of it, so the fuzzer needs to learn no framing at all.
 *   4. the first 64 bytes as a segment header, as they are and with their
 *      checksum made right.
 *
 * Properties checked on every LK_OK (FUZZ_CHECK aborts):
 *   - the size is at least REC_BYTES_MIN, at most the bytes available, and
 *     what record_peek_size() says; decoding exactly that many bytes
 *     gives the same record;
 *   - peek_size is monotone: once a prefix gives a size or a corruption,
 *     longer prefixes say the same;
 *   - type and flags are known (a put or delete may name the record it
 *     replaces: sequence at least 1, offset past the segment header,
 *     and no such fields without the flag); key and value lie inside the
 *     record;
 *     1 <= key_len <= LK_KEY_BYTES_MAX and value_len <= LK_VALUE_BYTES_MAX;
 *     deletes carry no value, commits and seals no namespace or seq;
 *   - record_encode() of the decoded record gives back the same bytes
 *     (every field has one encoding), and the encoder's assertions hold;
 *   - a compressed value unpacks within LK_VALUE_BYTES_MAX, or fails with
 *     LK_CORRUPT;
 *   - a decoded segment header encodes back to the same 64 bytes;
 *   - with the checksum made right, the reason for a rejection is never
 *     "checksum mismatch" (the target and the codec agree on the hash).
 */
#include <string.h>

#include "alloc.h"
#include "compress.h"
#include "endian.h"
#include "fuzz.h"
#include "logkeep_limits.h"
#include "record.h"
#include "segment.h"

/* The (seq_base, seed) pairs every input is decoded with.  The corpus
 * generator encoded its records with the first. */
#define SEQ_BASE_COUNT 3
static const uint64_t seq_bases[SEQ_BASE_COUNT] = {
	1000, 0, UINT64_MAX - 3,
};

#define SEED_COUNT 2

static uint64_t seed_of(int i)
{
	/* Seed 0 is the first segment's first record of FUZZ_DB_ID; the
	 * other is an arbitrary place in an arbitrary segment. */
	uint64_t db_seed = record_hash(FUZZ_DB_ID, SEG_DB_ID_BYTES, 0);

	return i == 0 ? record_seed(db_seed, 1, 0, SEG_HEADER_BYTES)
		      : record_seed(db_seed, 7, 3, 4096);
}

/* ---------------------------------------------------------------------- */
/* Records                                                                */
/* ---------------------------------------------------------------------- */

static int inside(const uint8_t *p, size_t n, const uint8_t *buf, size_t size)
{
	return p >= buf && p <= buf + size && n <= (size_t)(buf + size - p);
}

static void check_unpack(const struct record *r)
{
	struct compressor *c;
	uint8_t *out = NULL;
	size_t out_len = 0;
	lk_status st;

	if (compressor_new(&c) != LK_OK)
		return;
	st = compressor_unpack(c, r->value, r->value_len, &out, &out_len);
	FUZZ_CHECK(st == LK_OK || st == LK_CORRUPT || st == LK_NOMEM);
	if (st == LK_OK) {
		FUZZ_CHECK(out != NULL);
		FUZZ_CHECK(out_len <= LK_VALUE_BYTES_MAX);
		FUZZ_CHECK(out[out_len] == 0);
	}
	mem_free(out);
	compressor_free(c);
}

/* The properties of a record that record_decode() accepted. */
static void check_record(const struct record *r, const uint8_t *buf,
			 size_t avail, uint64_t seq_base, uint64_t seed)
{
	struct record again;
	const char *why = NULL;
	uint32_t peeked = 0;
	uint8_t *out;
	size_t n;

	FUZZ_CHECK(r->size >= REC_BYTES_MIN && r->size <= avail);
	FUZZ_CHECK(record_peek_size(&peeked, buf, avail, &why) ==
		   REC_PEEK_SIZE);
	FUZZ_CHECK(peeked == r->size);
	FUZZ_CHECK(r->type >= REC_PUT && r->type <= REC_SEAL);
	FUZZ_CHECK(r->type == REC_PUT    ? (r->flags & ~REC_F_OP_MASK) == 0
		   : r->type == REC_DEL  ? (r->flags & ~REC_F_REPLACES) == 0
		   : r->type == REC_SEAL ? (r->flags & ~REC_F_SEG_HASH) == 0
					 : r->flags == 0);
	if (r->flags & REC_F_REPLACES)
		FUZZ_CHECK(r->rep_seg_seq >= 1 && r->rep_seg_seq <= REC_SEQ_MAX &&
			   r->rep_offset >= REC_REPLACES_OFFSET_MIN);
	else
		FUZZ_CHECK(r->rep_seg_seq == 0 && r->rep_generation == 0 &&
			   r->rep_offset == 0);
	FUZZ_CHECK(r->seq >= seq_base);
	FUZZ_CHECK(!(r->flags & REC_F_EXPIRY) == !r->expire_at_ms);
	if (r->type == REC_PUT || r->type == REC_DEL) {
		FUZZ_CHECK(r->key_len >= 1 && r->key_len <= LK_KEY_BYTES_MAX);
		FUZZ_CHECK(inside(r->key, r->key_len, buf, r->size));
		FUZZ_CHECK(inside(r->value, r->value_len, buf, r->size));
		FUZZ_CHECK(r->value_len <= LK_VALUE_BYTES_MAX);
		FUZZ_CHECK(r->type == REC_PUT || r->value_len == 0);
	} else {
		FUZZ_CHECK(r->ns == 0 && r->seq == seq_base);
		FUZZ_CHECK(r->key_len == 0 && r->value_len == 0);
	}

	/* Exactly the record's bytes decode to the same record. */
	FUZZ_CHECK(record_decode(&again, buf, r->size, seq_base, seed, &why) ==
		   LK_OK);
	FUZZ_CHECK(memcmp(&again, r, sizeof again) == 0);

	/* One encoding per record: re-encoding gives the input back. */
	n = record_encoded_size(r, seq_base);
	FUZZ_CHECK(n == r->size);
	out = malloc(n);
	if (out) {
		FUZZ_CHECK(record_encode(out, r, seq_base, seed) == n);
		FUZZ_CHECK(memcmp(out, buf, n) == 0);
		free(out);
	}

	if (r->flags & REC_F_ZSTD)
		check_unpack(r);
}

static void decode_all(const uint8_t *buf, size_t size, int checksum_right)
{
	for (int b = 0; b < SEQ_BASE_COUNT; b++) {
		for (int s = 0; s < SEED_COUNT; s++) {
			struct record r;
			const char *why = NULL;
			uint64_t seed = seed_of(s);
			lk_status st;

			st = record_decode(&r, buf, size, seq_bases[b], seed,
					   &why);
			FUZZ_CHECK(st == LK_OK || st == LK_CORRUPT);
			if (st == LK_OK)
				check_record(&r, buf, size, seq_bases[b], seed);
			else
				FUZZ_CHECK(why != NULL && *why != '\0');
			if (st != LK_OK && checksum_right == s + 1)
				FUZZ_CHECK(strcmp(why, "checksum mismatch") != 0);
		}
	}
}

/* Way 1: peek_size on prefixes, then decode the input as it is. */
static void as_is(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	uint32_t full_size = 0;
	enum rec_peek full;
	size_t k;

	full = record_peek_size(&full_size, data, size, &why);
	FUZZ_CHECK(full == REC_PEEK_SIZE || full == REC_PEEK_SHORT ||
		   full == REC_PEEK_BAD);
	if (full == REC_PEEK_SIZE)
		FUZZ_CHECK(full_size >= REC_BYTES_MIN &&
			   full_size <= REC_PREFIX_BYTES_MAX +
					       LK_RECORD_BYTES_MAX);
	for (k = 0; k <= size && k <= REC_HEAD_BYTES_MAX; k++) {
		uint32_t part_size = 0;
		enum rec_peek part = record_peek_size(&part_size, data, k, &why);

		if (part == REC_PEEK_SIZE)
			FUZZ_CHECK(full == REC_PEEK_SIZE && part_size == full_size);
		if (part == REC_PEEK_BAD)
			FUZZ_CHECK(full == REC_PEEK_BAD);
	}
	decode_all(data, size, 0);
}

/* Way 2: the input's framing, its checksum recomputed for each seed. */
static void checksum_made_right(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	uint32_t rec_size = 0;
	uint8_t *buf;

	if (record_peek_size(&rec_size, data, size, &why) != REC_PEEK_SIZE ||
	    rec_size > size)
		return;
	buf = malloc(size);
	if (!buf)
		return;
	memcpy(buf, data, size);
	for (int s = 0; s < SEED_COUNT; s++) {
		put_u32(buf, (uint32_t)record_hash(buf + 4, rec_size - 4,
						   seed_of(s)));
		decode_all(buf, size, s + 1);
	}
	free(buf);
}

/* Way 3: the input as a body, framed and checksummed here. */
static void framed_body(const uint8_t *data, size_t size)
{
	uint8_t *buf;
	size_t n;

	if (size > LK_RECORD_BYTES_MAX)
		return;
	buf = malloc(REC_PREFIX_BYTES_MAX + size);
	if (!buf)
		return;
	n = 4 + put_varint(buf + 4, size);
	memcpy(buf + n, data, size);
	for (int s = 0; s < SEED_COUNT; s++) {
		put_u32(buf, (uint32_t)record_hash(buf + 4, n - 4 + size,
						   seed_of(s)));
		/* Bodies under 3 bytes fail the length check, not the
		 * checksum, so the checksum property holds for all. */
		decode_all(buf, n + size, s + 1);
	}
	free(buf);
}

/* ---------------------------------------------------------------------- */
/* Segment header                                                         */
/* ---------------------------------------------------------------------- */

static void check_header(const uint8_t in[SEG_HEADER_BYTES])
{
	struct seg_header h;
	uint8_t out[SEG_HEADER_BYTES];
	const char *why = NULL;
	lk_status st;

	st = seg_header_decode(&h, in, &why);
	FUZZ_CHECK(st == LK_OK || st == LK_CORRUPT || st == LK_VERSION);
	if (st != LK_OK) {
		FUZZ_CHECK(why != NULL && *why != '\0');
		return;
	}
	FUZZ_CHECK(h.version >= LK_FORMAT_VERSION_MIN &&
		   h.version <= LK_FORMAT_VERSION);
	FUZZ_CHECK(h.seq > 0 && h.seq_prev < h.seq);
	seg_header_encode(out, &h);
	FUZZ_CHECK(memcmp(out, in, SEG_HEADER_BYTES) == 0);
}

static void header(const uint8_t *data, size_t size)
{
	uint8_t in[SEG_HEADER_BYTES];

	if (size < SEG_HEADER_BYTES)
		return;
	memcpy(in, data, SEG_HEADER_BYTES);
	check_header(in);
	put_u32(in + 60, (uint32_t)record_hash(in, 60, 0));
	check_header(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_is(data, size);
	checksum_made_right(data, size);
	framed_body(data, size);
	header(data, size);
	return 0;
}
