/* SPDX-License-Identifier: MIT */
/*
 * record.c - encode and decode log records (the grammar is in record.h).
 *
 * Decoding checks, in order: the length prefix against the limits and the
 * bytes available, then the checksum, then the structure.  The checksum
 * comes before the structure so that a damaged record is reported as the
 * usual "checksum mismatch" rather than as whatever field the damage hit,
 * and the length comes first so that no garbage length makes us hash or
 * read past the buffer.  The encoder asserts each property the decoder
 * verifies.
 */
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "contract.h"
#include "endian.h"
#include "logkeep_limits.h"
#include "record.h"

_Static_assert(LK_RECORD_BYTES_MAX < (1u << 28),
	       "a record's body_len must fit a 4-byte varint");
_Static_assert(REC_PREFIX_BYTES_MAX >= 4 + 4, "prefix holds checksum + len");

uint64_t record_hash(const void *data, size_t len, uint64_t seed)
{
	return XXH3_64bits_withSeed(data, len, seed);
}

struct rec_hasher *record_hasher_new(uint64_t seed)
{
	XXH3_state_t *st = XXH3_createState();

	if (st && XXH3_64bits_reset_withSeed(st, seed) != XXH_OK) {
		XXH3_freeState(st);
		st = NULL;
	}
	return (struct rec_hasher *)st;
}

void record_hasher_add(struct rec_hasher *h, const void *data, size_t len)
{
	(void)XXH3_64bits_update((XXH3_state_t *)h, data, len); /* only
		fails for a NULL state, which new never returns */
}

uint64_t record_hasher_peek(const struct rec_hasher *h)
{
	return XXH3_64bits_digest((const XXH3_state_t *)h);
}

uint64_t record_hasher_done(struct rec_hasher *h)
{
	uint64_t v = XXH3_64bits_digest((XXH3_state_t *)h);

	XXH3_freeState((XXH3_state_t *)h);
	return v;
}

uint64_t record_key_hash(uint32_t ns, const void *key, size_t key_len)
{
	return XXH3_64bits_withSeed(key, key_len, ns);
}

uint64_t record_seed(uint64_t db_seed, uint64_t seg_seq, uint32_t generation,
		     uint64_t offset)
{
	/* Odd multipliers spread each field over all 64 bits; XXH3 then mixes
	 * the seed into its secret, so any difference changes the checksum. */
	return db_seed ^ (seg_seq * 0x9E3779B97F4A7C15ull) ^
	       ((uint64_t)generation * 0xD6E8FEB86659FD93ull) ^
	       (offset * 0xC2B2AE3D27D4EB4Full);
}

static size_t replaces_size(const struct record *r)
{
	if (!(r->flags & REC_F_REPLACES))
		return 0;
	return varint_size(r->rep_seg_seq) + varint_size(r->rep_generation) +
	       varint_size(r->rep_offset);
}

static size_t payload_size(const struct record *r)
{
	switch (r->type) {
	case REC_PUT:
		return varint_size(r->key_len) +
		       (r->flags & REC_F_EXPIRY ? 8u : 0u) + replaces_size(r) +
		       r->key_len + r->value_len;
	case REC_DEL:
		return varint_size(r->key_len) + replaces_size(r) + r->key_len;
	case REC_COMMIT:
	case REC_SEAL:
		return 4 + varint_size(r->count) +
		       (r->flags & REC_F_SEG_HASH ? 8u : 0u);
	}
	LK_ASSERT(0 && "unknown record type");
	return 0;
}

static size_t body_size(const struct record *r, uint64_t seq_base)
{
	LK_ASSERT(r->seq >= seq_base && r->seq <= REC_SEQ_MAX);
	return 2 + varint_size(r->seq - seq_base) + payload_size(r);
}

size_t record_encoded_size(const struct record *r, uint64_t seq_base)
{
	size_t body = body_size(r, seq_base);

	return 4 + varint_size(body) + body;
}

size_t record_encode(uint8_t *buf, const struct record *r, uint64_t seq_base,
		     uint64_t seed)
{
	size_t body = body_size(r, seq_base);
	size_t n = 4;

	LK_ASSERT(r->type >= REC_PUT && r->type <= REC_SEAL);
	LK_ASSERT(r->type == REC_SEAL ? (r->flags & ~REC_F_SEG_HASH) == 0
	       : r->type == REC_PUT ? (r->flags & ~REC_F_OP_MASK) == 0
	       : r->type == REC_DEL ? (r->flags & ~REC_F_REPLACES) == 0
				    : r->flags == 0);
	LK_ASSERT(!(r->flags & REC_F_REPLACES) ||
	       (r->rep_seg_seq >= 1 && r->rep_seg_seq <= REC_SEQ_MAX &&
		r->rep_offset >= REC_REPLACES_OFFSET_MIN));
	LK_ASSERT(r->type == REC_PUT || r->type == REC_DEL || r->ns == 0);
	LK_ASSERT(!(r->flags & REC_F_EXPIRY) || r->expire_at_ms != 0);
	LK_ASSERT(r->type > REC_DEL ||
	       (r->key_len >= 1 && r->key_len <= LK_KEY_BYTES_MAX));
	LK_ASSERT(body <= LK_RECORD_BYTES_MAX);
	LK_ASSERT(r->type <= REC_DEL || r->seq == seq_base);

	n += put_varint(buf + n, body);
	buf[n++] = (uint8_t)(r->type | r->flags);
	buf[n++] = r->ns;
	n += put_varint(buf + n, r->seq - seq_base);
	switch (r->type) {
	case REC_PUT:
	case REC_DEL:
		n += put_varint(buf + n, r->key_len);
		if (r->flags & REC_F_EXPIRY) {
			put_u64(buf + n, r->expire_at_ms);
			n += 8;
		}
		if (r->flags & REC_F_REPLACES) {
			n += put_varint(buf + n, r->rep_seg_seq);
			n += put_varint(buf + n, r->rep_generation);
			n += put_varint(buf + n, r->rep_offset);
		}
		memcpy(buf + n, r->key, r->key_len);
		n += r->key_len;
		if (r->type == REC_PUT && r->value_len) {
			memcpy(buf + n, r->value, r->value_len);
			n += r->value_len;
		}
		break;
	case REC_COMMIT:
	case REC_SEAL:
		put_u32(buf + n, r->durable_upto);
		n += 4;
		n += put_varint(buf + n, r->count);
		if (r->flags & REC_F_SEG_HASH) {
			put_u64(buf + n, r->seg_hash);
			n += 8;
		}
		break;
	}
	LK_ASSERT(n == record_encoded_size(r, seq_base));
	put_u32(buf, (uint32_t)XXH3_64bits_withSeed(buf + 4, n - 4, seed));
	return n;
}

enum rec_peek record_peek_size(uint32_t *size, const uint8_t *buf,
			       size_t avail, const char **why)
{
	uint64_t body;
	size_t n;

	if (avail < REC_BYTES_MIN) {
		*why = "record truncated";
		return REC_PEEK_SHORT;
	}
	n = get_varint(buf + 4, avail - 4, &body);
	if (n == 0) {
		if (avail - 4 >= 4) {
			*why = "record length is not a valid varint";
			return REC_PEEK_BAD;
		}
		*why = "record truncated";
		return REC_PEEK_SHORT;
	}
	if (n > 4 || body > LK_RECORD_BYTES_MAX) {
		*why = "record length over the format's limit";
		return REC_PEEK_BAD;
	}
	if (body < 3) {
		*why = "record length too small";
		return REC_PEEK_BAD;
	}
	*size = (uint32_t)(4 + n + body);
	return REC_PEEK_SIZE;
}

static lk_status bad(const char **why, const char *what)
{
	*why = what;
	return LK_CORRUPT;
}

lk_status record_decode(struct record *r, const uint8_t *buf, size_t avail,
			uint64_t seq_base, uint64_t seed, const char **why)
{
	uint32_t size;

	switch (record_peek_size(&size, buf, avail, why)) {
	case REC_PEEK_SIZE:
		break;
	case REC_PEEK_SHORT:
		return bad(why, "record truncated");
	case REC_PEEK_BAD:
		return LK_CORRUPT;
	}
	if (size > avail)
		return bad(why, "record length past end of data");
	if (get_u32(buf) != (uint32_t)XXH3_64bits_withSeed(buf + 4, size - 4,
							    seed))
		return bad(why, "checksum mismatch");
	return record_parse(r, buf, size, seq_base, why);
}

/* The `replaces` field at p: its size, or 0 if it is malformed or out of
 * bounds. */
static size_t get_replaces(struct record *r, const uint8_t *p,
			   const uint8_t *end)
{
	uint64_t seq, gen, off;
	size_t a, b, c;

	a = get_varint(p, (size_t)(end - p), &seq);
	if (a == 0 || seq == 0 || seq > REC_SEQ_MAX)
		return 0;
	b = get_varint(p + a, (size_t)(end - p - a), &gen);
	if (b == 0 || gen > UINT32_MAX)
		return 0;
	c = get_varint(p + a + b, (size_t)(end - p - a - b), &off);
	if (c == 0 || off < REC_REPLACES_OFFSET_MIN || off > UINT32_MAX)
		return 0;
	r->rep_seg_seq = seq;
	r->rep_generation = (uint32_t)gen;
	r->rep_offset = (uint32_t)off;
	return a + b + c;
}

lk_status record_parse(struct record *r, const uint8_t *buf, uint32_t size,
		       uint64_t seq_base, const char **why)
{
	const uint8_t *p, *end;
	uint64_t delta, v;
	size_t n;

	memset(r, 0, sizeof *r);
	r->size = size;
	end = buf + size;
	p = buf + 4;
	p += get_varint(p, (size_t)(end - p), &v); /* verified by peek */
	r->type = *p & 0x0f;
	r->flags = *p & 0xf0;
	p++;
	r->ns = *p++;
	if (r->type < REC_PUT || r->type > REC_SEAL)
		return bad(why, "unknown record type");
	if (r->type == REC_PUT ? (r->flags & ~REC_F_OP_MASK) != 0
	    : r->type == REC_DEL ? (r->flags & ~REC_F_REPLACES) != 0
	    : r->type == REC_SEAL ? (r->flags & ~REC_F_SEG_HASH) != 0
				 : r->flags != 0)
		return bad(why, "flags on a record type that takes none");
	n = get_varint(p, (size_t)(end - p), &delta);
	if (n == 0 || seq_base > REC_SEQ_MAX || delta > REC_SEQ_MAX - seq_base)
		return bad(why, "bad sequence number");
	p += n;
	r->seq = seq_base + delta;

	if (r->type == REC_COMMIT || r->type == REC_SEAL) {
		if (r->ns != 0 || delta != 0)
			return bad(why, "namespace or sequence on a commit or seal");
		if (end - p < 4)
			return bad(why, "commit record truncated");
		r->durable_upto = get_u32(p);
		p += 4;
		n = get_varint(p, (size_t)(end - p), &r->count);
		if (n == 0)
			return bad(why, "bad commit record count");
		p += n;
		if (r->flags & REC_F_SEG_HASH) {
			if (end - p < 8)
				return bad(why, "seal's segment hash truncated");
			r->seg_hash = get_u64(p);
			p += 8;
		}
		if (p != end)
			return bad(why, "bad commit record count");
		return LK_OK;
	}

	n = get_varint(p, (size_t)(end - p), &v);
	if (n == 0 || v == 0 || v > LK_KEY_BYTES_MAX)
		return bad(why, "key length out of range");
	p += n;
	r->key_len = (uint32_t)v;
	if (r->flags & REC_F_EXPIRY) {
		if (end - p < 8)
			return bad(why, "expiry past record end");
		r->expire_at_ms = get_u64(p);
		if (r->expire_at_ms == 0)
			return bad(why, "zero expiry with the expiry flag");
		p += 8;
	}
	if (r->flags & REC_F_REPLACES) {
		n = get_replaces(r, p, end);
		if (n == 0)
			return bad(why, "bad location of the replaced record");
		p += n;
	}
	if ((size_t)(end - p) < r->key_len)
		return bad(why, "key length past record end");
	r->key = p;
	p += r->key_len;
	r->value = p;
	r->value_len = (uint32_t)(end - p);
	if (r->type == REC_DEL && r->value_len)
		return bad(why, "value bytes in a delete record");
	/* A compressed value is stored only when it is smaller than its raw
	 * form, so one bound serves both. */
	if (r->value_len > LK_VALUE_BYTES_MAX)
		return bad(why, "value length over the format's limit");
	return LK_OK;
}

int record_ns_name_valid(const void *name, size_t len)
{
	const uint8_t *p = name;

	if (len == 0 || len > LK_NS_NAME_BYTES_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return 0;
	return 1;
}

int record_catalog_valid(const struct record *r)
{
	_Static_assert(LK_NS_COUNT_MAX == UINT8_MAX,
		       "a one-byte id covers every namespace");
	return r->ns == 0 && r->type == REC_PUT && r->flags == 0 &&
	       r->value_len == 1 && r->value[0] >= 2 &&
	       record_ns_name_valid(r->key, r->key_len);
}
