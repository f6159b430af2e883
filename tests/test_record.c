/* SPDX-License-Identifier: MIT */
/*
 * test_record.c - the record codec (engine/record.h) and the byte-level
 * integers under it (engine/endian.h) keep the format version 1 grammar.
 *
 * Goal: every record the encoder writes decodes to what was written, and
 * nothing else decodes: no damaged byte, no record copied to another
 * place, no truncated record and no record that breaks the grammar, even
 * one whose checksum is right.  Every integer has one little-endian
 * encoding whatever the host.
 *
 * Method: round trips encode a struct record, check the size against
 * record_encoded_size() and a canary past the end, and decode it back.
 * Damage is made by flipping each bit of a few records in turn and by
 * decoding with every neighbouring seed.  Hostile records are built by hand
 * with forge_*(): body bytes laid out field by field, then a correct
 * length prefix and checksum (record_hash over bytes [4..end) with the
 * record's seed, low 32 bits little-endian at [0..4)), so that the
 * structure check, not the checksum, is what must reject them; each such
 * test names the words of the rejection it expects.  Integers are
 * compared with literal byte arrays.  Statuses are checked with check.h's
 * macros, which on failure print the file, line, expression, both
 * statuses and lk_errmsg(); calls that give the codec's reason for a
 * rejection (`why`) are checked with CHECK_ST_WHY(want, expr, why) and
 * CHECK_OK_WHY(expr, why), which print that reason too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "endian.h"
#include "logkeep_limits.h"
#include "record.h"

/* ---------------------------------------------------------------------- */
/* Checks                                                                 */
/* ---------------------------------------------------------------------- */

/* The codec's reason for its last rejection.  CHECK_ST_WHY and
 * CHECK_OK_WHY clear it before the call and print it on failure. */
static const char *why;

/* Checks what record_peek_size() (expr) tells against want, with its
 * why when they differ. */
#define CHECK_PEEK(want, expr)                                                 \
	do {                                                                   \
		enum rec_peek got_ = (expr);                                   \
		if (got_ != (want))                                            \
			fail_msg("%s: outcome %d, not %d (%s)", #expr,         \
				 (int)got_, (int)(want), why ? why : "");      \
	} while (0)

/* ---------------------------------------------------------------------- */
/* Where the records live                                                 */
/* ---------------------------------------------------------------------- */

#define DB_SEED UINT64_C(0x5eed5eed12345678)
#define SEG_SEQ UINT64_C(7)
#define GENERATION 0u
#define OFFSET UINT64_C(4096)
#define SEQ_BASE UINT64_C(1000)

static uint64_t seed_here(void)
{
	return record_seed(DB_SEED, SEG_SEQ, GENERATION, OFFSET);
}

/* Room for the largest record, a canary and a following record. */
#define BUF_BYTES (LK_RECORD_BYTES_MAX + 4096u)
static uint8_t buf[BUF_BYTES];
static uint8_t big_key[LK_KEY_BYTES_MAX + 1];
static uint8_t big_value[LK_VALUE_BYTES_MAX + 64];

#define CANARY 0xa5u
#define CANARY_BYTES 64u

/* Encodes r at buf[0] with the seed of OFFSET and returns its size, after
 * checking that it is record_encoded_size() and that not a byte past it
 * was touched. */
static size_t encode_at(uint8_t *out, const struct record *r, uint64_t seed)
{
	size_t want = record_encoded_size(r, SEQ_BASE), n;

	assert_true(want + CANARY_BYTES <= BUF_BYTES - (size_t)(out - buf));
	memset(out, CANARY, want + CANARY_BYTES);
	n = record_encode(out, r, SEQ_BASE, seed);
	assert_int_equal(n, want);
	for (size_t i = 0; i < CANARY_BYTES; i++)
		assert_int_equal(out[n + i], CANARY);
	return n;
}

static size_t encode(const struct record *r)
{
	return encode_at(buf, r, seed_here());
}

static lk_status decode(struct record *r, const uint8_t *in, size_t avail)
{
	return record_decode(r, in, avail, SEQ_BASE, seed_here(), &why);
}

/* Checks that decoded d says what r said, and that its pointers point
 * into the encoded bytes. */
static void assert_same_record(const struct record *r, const struct record *d,
			       size_t size)
{
	assert_int_equal(d->type, r->type);
	assert_int_equal(d->flags, r->flags);
	assert_int_equal(d->ns, r->ns);
	assert_int_equal(d->seq, r->seq);
	assert_int_equal(d->size, size);
	if (r->type == REC_PUT || r->type == REC_DEL) {
		assert_int_equal(d->expire_at_ms, r->expire_at_ms);
		assert_int_equal(d->key_len, r->key_len);
		assert_memory_equal(d->key, r->key, r->key_len);
		assert_true(d->key > buf && d->key + d->key_len <= buf + size);
		assert_int_equal(d->value_len, r->type == REC_PUT ? r->value_len
								  : 0);
		if (r->value_len)
			assert_memory_equal(d->value, r->value, r->value_len);
		assert_int_equal(d->rep_seg_seq, r->rep_seg_seq);
		assert_int_equal(d->rep_generation, r->rep_generation);
		assert_int_equal(d->rep_offset, r->rep_offset);
	} else {
		assert_int_equal(d->durable_upto, r->durable_upto);
		assert_int_equal(d->count, r->count);
		assert_int_equal(d->key_len, 0);
		assert_int_equal(d->value_len, 0);
	}
}

/* Encodes r, decodes it with exactly its bytes available, and compares. */
static void round_trip(const struct record *r)
{
	struct record d;
	size_t n = encode(r);

	CHECK_OK_WHY(decode(&d, buf, n), why);
	assert_same_record(r, &d, n);
}

static struct record del_rec(const char *key, uint64_t seq)
{
	struct record r = { 0 };

	r.type = REC_DEL;
	r.ns = 3;
	r.seq = seq;
	r.key = (const uint8_t *)key;
	r.key_len = (uint32_t)strlen(key);
	return r;
}

static struct record commit_rec(uint8_t type, uint32_t durable_upto,
				uint64_t count)
{
	struct record r = { 0 };

	r.type = type;
	r.seq = SEQ_BASE;
	r.durable_upto = durable_upto;
	r.count = count;
	return r;
}

/* ---------------------------------------------------------------------- */
/* Forging records by hand                                                */
/* ---------------------------------------------------------------------- */

/* A body being laid out field by field, as record.h's grammar names them. */
static struct {
	uint8_t bytes[LK_RECORD_BYTES_MAX + 64];
	size_t n;
} body;

static void forge_start(unsigned kind, unsigned ns, uint64_t seq_delta)
{
	body.n = 0;
	body.bytes[body.n++] = (uint8_t)kind;
	body.bytes[body.n++] = (uint8_t)ns;
	body.n += put_varint(body.bytes + body.n, seq_delta);
}

static void forge_varint(uint64_t v)
{
	body.n += put_varint(body.bytes + body.n, v);
}

static void forge_u32(uint32_t v)
{
	put_u32(body.bytes + body.n, v);
	body.n += 4;
}

static void forge_u64(uint64_t v)
{
	put_u64(body.bytes + body.n, v);
	body.n += 8;
}

static void forge_bytes(const void *p, size_t n)
{
	memcpy(body.bytes + body.n, p, n);
	body.n += n;
}

static void forge_fill(uint8_t byte, size_t n)
{
	memset(body.bytes + body.n, byte, n);
	body.n += n;
}

/* Writes checksum, body_len and the body at buf and returns the size.
 * The checksum is correct for the record's place, so only the structure
 * can be wrong. */
static size_t forge_finish(void)
{
	size_t n = 4;

	n += put_varint(buf + n, body.n);
	memcpy(buf + n, body.bytes, body.n);
	n += body.n;
	put_u32(buf, (uint32_t)record_hash(buf + 4, n - 4, seed_here()));
	return n;
}

/* The forged record must fail the structure check with a reason that
 * contains `words`, and not the checksum or the length prefix. */
#define EXPECT_REJECTED(words)                                                \
	do {                                                                  \
		struct record d_;                                             \
		size_t n_ = forge_finish();                                   \
		CHECK_ST_WHY(LK_CORRUPT, decode(&d_, buf, n_), why);          \
		if (strstr(why, (words)) == NULL) {                           \
			print_error("%s:%d: rejected as \"%s\", want \"%s\"\n", \
				    __FILE__, __LINE__, why, (words));        \
			_fail(__FILE__, __LINE__);                            \
		}                                                             \
	} while (0)

/* ---------------------------------------------------------------------- */
/* Round trips                                                            */
/* ---------------------------------------------------------------------- */

static void put_round_trips_key_value_namespace_and_seq(void **state)
{
	struct record r = put_rec("node/42", "{\"interfaces\":[\"wlan0\"]}",
				  SEQ_BASE + 5);

	(void)state;
	r.ns = 200;
	round_trip(&r);
}

static void put_with_expiry_round_trips_its_expiry(void **state)
{
	struct record r = put_rec("path/a/b/1", "bundle", SEQ_BASE);

	(void)state;
	r.flags = REC_F_EXPIRY;
	r.expire_at_ms = UINT64_C(1700000000123);
	round_trip(&r);
	r.expire_at_ms = 1;
	round_trip(&r);
	r.expire_at_ms = UINT64_MAX;
	round_trip(&r);
}

/* Format 3: a put or delete names the record it replaces (record.h),
 * with every other flag, at the bounds of each field. */
static void replaces_round_trips_on_puts_and_deletes(void **state)
{
	static const struct {
		uint64_t seq;
		uint32_t gen, off;
	} at[] = {
		{ 1, 0, REC_REPLACES_OFFSET_MIN },
		{ 7, 3, 4096 },
		{ REC_SEQ_MAX, UINT32_MAX, UINT32_MAX },
	};
	struct record r;

	(void)state;
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		r = put_rec("node/42", "v", SEQ_BASE + 1);
		r.flags = REC_F_REPLACES;
		r.rep_seg_seq = at[i].seq;
		r.rep_generation = at[i].gen;
		r.rep_offset = at[i].off;
		round_trip(&r);
		r.flags |= REC_F_EXPIRY;
		r.expire_at_ms = UINT64_C(1700000000123);
		round_trip(&r);
		r.flags |= REC_F_ZSTD;
		round_trip(&r); /* the codec does not look into the value */
		r = del_rec("node/42", SEQ_BASE + 2);
		r.flags = REC_F_REPLACES;
		r.rep_seg_seq = at[i].seq;
		r.rep_generation = at[i].gen;
		r.rep_offset = at[i].off;
		round_trip(&r);
	}
	/* the largest field fits the bound writers reserve for it */
	assert_int_equal(encode(&r) - encode(&(struct record){
		.type = REC_DEL, .ns = 3, .seq = SEQ_BASE + 2,
		.key = r.key, .key_len = r.key_len }), REC_REPLACES_BYTES_MAX);
}

static void bad_replaces_fields_are_rejected(void **state)
{
	static const struct {
		uint64_t seq, gen, off;
	} bad[] = {
		{ 0, 0, 64 },                    /* no segment 0 */
		{ REC_SEQ_MAX + 1, 0, 64 },      /* past every seq */
		{ 1, UINT64_C(1) << 32, 64 },    /* generation is 32 bits */
		{ 1, 0, 63 },                    /* inside the header */
		{ 1, 0, UINT64_C(1) << 32 },     /* offset is 32 bits */
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		forge_start(REC_PUT | REC_F_REPLACES, 1, 0);
		forge_varint(1);
		forge_varint(bad[i].seq);
		forge_varint(bad[i].gen);
		forge_varint(bad[i].off);
		forge_bytes("k", 1);
		EXPECT_REJECTED("replaced record");
	}
	/* cut short: the key length covers what is left */
	forge_start(REC_DEL | REC_F_REPLACES, 1, 0);
	forge_varint(1);
	forge_varint(5);
	forge_varint(0);
	EXPECT_REJECTED("replaced record");
	/* a delete's only flag */
	forge_start(REC_DEL | REC_F_REPLACES | REC_F_ZSTD, 1, 0);
	forge_varint(1);
	forge_varint(5);
	forge_varint(0);
	forge_varint(100);
	forge_bytes("k", 1);
	EXPECT_REJECTED("flags");
}

static void put_with_empty_value_round_trips(void **state)
{
	struct record r = put_rec("k", "", SEQ_BASE + 1);
	struct record d;
	size_t n;

	(void)state;
	round_trip(&r);
	n = encode(&r);
	CHECK_OK_WHY(decode(&d, buf, n), why);
	assert_int_equal(d.value_len, 0);
}

static void put_with_largest_key_round_trips(void **state)
{
	struct record r = put_rec("", "v", SEQ_BASE + 2);

	(void)state;
	memset(big_key, 'k', sizeof big_key);
	r.key = big_key;
	r.key_len = LK_KEY_BYTES_MAX;
	round_trip(&r);
	r.flags = REC_F_EXPIRY;
	r.expire_at_ms = 99;
	round_trip(&r);
}

static void largest_record_round_trips(void **state)
{
	struct record r = put_rec("", "", SEQ_BASE + 3);

	(void)state;
	for (size_t i = 0; i < sizeof big_value; i++)
		big_value[i] = (uint8_t)(i * 31u + 7u);
	memset(big_key, 'K', sizeof big_key);
	r.key = big_key;
	r.key_len = LK_KEY_BYTES_MAX;
	r.value = big_value;
	r.value_len = LK_VALUE_BYTES_MAX;
	r.flags = REC_F_EXPIRY;
	r.expire_at_ms = 12345;
	assert_true(record_encoded_size(&r, SEQ_BASE) <=
		    REC_PREFIX_BYTES_MAX + LK_RECORD_BYTES_MAX);
	round_trip(&r);
}

static void compressed_put_round_trips_its_stored_bytes(void **state)
{
	/* The codec stores a zstd value as it is given (raw_len + frame);
	 * decompression is compress.c's concern. */
	static const uint8_t packed[] = { 0x90, 0x03, 0x28, 0xb5, 0x2f, 0xfd };
	struct record r = put_rec("policy/7", "", SEQ_BASE + 4);

	(void)state;
	r.flags = REC_F_ZSTD;
	r.value = packed;
	r.value_len = sizeof packed;
	round_trip(&r);
	r.flags = REC_F_ZSTD | REC_F_EXPIRY;
	r.expire_at_ms = 5;
	round_trip(&r);
}

static void delete_round_trips(void **state)
{
	struct record r = del_rec("node/42", SEQ_BASE + 9);

	(void)state;
	round_trip(&r);
	r.ns = 0;
	round_trip(&r);
}

static void commit_round_trips_durable_upto_and_count(void **state)
{
	(void)state;
	round_trip(&(struct record){ .type = REC_COMMIT, .seq = SEQ_BASE });
	round_trip(&(struct record){ .type = REC_COMMIT, .seq = SEQ_BASE,
				     .durable_upto = 4096, .count = 1 });
	round_trip(&(struct record){ .type = REC_COMMIT, .seq = SEQ_BASE,
				     .durable_upto = UINT32_MAX,
				     .count = LK_BATCH_OPS_MAX });
}

static void seal_round_trips_durable_upto_and_count(void **state)
{
	struct record r = commit_rec(REC_SEAL, 1u << 30, UINT64_C(1) << 40);

	(void)state;
	round_trip(&r);
	r.count = UINT64_MAX;
	round_trip(&r);
}

static void seq_is_stored_as_a_delta_from_the_segment_base(void **state)
{
	static const uint64_t deltas[] = { 0, 1, 127, 128, 16383, 16384,
					   UINT64_C(1) << 32 };
	struct record d;

	(void)state;
	for (size_t i = 0; i < sizeof deltas / sizeof deltas[0]; i++) {
		struct record r = put_rec("k", "v", SEQ_BASE + deltas[i]);
		size_t n = encode(&r);

		assert_int_equal(n, 4 + 1 + 2 + varint_size(deltas[i]) + 1 + 1 + 1);
		CHECK_OK_WHY(decode(&d, buf, n), why);
		assert_int_equal(d.seq, SEQ_BASE + deltas[i]);
		/* The same bytes read against another base give another seq:
		 * the base lives in the segment header, not in the record. */
		CHECK_OK_WHY(record_decode(&d, buf, n, 5, seed_here(), &why),
			     why);
		assert_int_equal(d.seq, 5 + deltas[i]);
	}
}

static void encoded_size_is_the_bytes_written(void **state)
{
	/* Key and value lengths on both sides of each varint boundary, and
	 * bodies on both sides of 127/128 bytes (body_len's boundary). */
	static const uint32_t key_lens[] = { 1, 2, 127, 128, 129, 1024 };
	static const uint32_t value_lens[] = { 0, 1, 110, 111, 112, 113, 127,
					       128, 16383, 16384, 70000 };
	struct record d;

	(void)state;
	memset(big_key, 'x', sizeof big_key);
	memset(big_value, 'y', sizeof big_value);
	for (size_t k = 0; k < sizeof key_lens / sizeof key_lens[0]; k++) {
		for (size_t v = 0; v < sizeof value_lens / sizeof value_lens[0];
		     v++) {
			for (unsigned flags = 0; flags <= REC_F_EXPIRY;
			     flags += REC_F_EXPIRY) {
				struct record r = put_rec("", "", SEQ_BASE + v);
				uint32_t size;
				size_t n;

				r.key = big_key;
				r.key_len = key_lens[k];
				r.value = big_value;
				r.value_len = value_lens[v];
				r.flags = (uint8_t)flags;
				r.expire_at_ms = flags ? 77 : 0;
				n = encode(&r);
				CHECK_PEEK(REC_PEEK_SIZE, record_peek_size(&size, buf, n,
							      &why));
				assert_int_equal(size, n);
				CHECK_OK_WHY(decode(&d, buf, n), why);
				assert_same_record(&r, &d, n);
			}
		}
	}
}

static void put_is_encoded_as_the_grammar_says(void **state)
{
	/* record := checksum:u32 body_len:varint body
	 * body   := kind:u8 ns:u8 seq_delta:varint key_len:varint
	 *           expire_at_ms:u64 key value */
	static const uint8_t want[] = {
		0x14,                                           /* body_len 20 */
		0x11,                                           /* PUT|EXPIRY */
		0x05,                                           /* ns 5 */
		0x80, 0x01,                                     /* delta 128 */
		0x02,                                           /* key_len 2 */
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* expiry */
		'k', '1',                                       /* key */
		'v', 'a', 'l', 'u', 'e',                        /* value */
	};
	struct record r = put_rec("k1", "value", SEQ_BASE + 128);
	size_t n;

	(void)state;
	r.ns = 5;
	r.flags = REC_F_EXPIRY;
	r.expire_at_ms = UINT64_C(0x0102030405060708);
	n = encode(&r);
	assert_int_equal(n, 4 + sizeof want);
	assert_memory_equal(buf + 4, want, sizeof want);
	assert_int_equal(get_u32(buf),
			 (uint32_t)record_hash(want, sizeof want, seed_here()));
}

static void commit_is_encoded_as_the_grammar_says(void **state)
{
	/* body := kind:u8 ns:u8 seq_delta:varint durable_upto:u32
	 *         op_count:varint */
	static const uint8_t want[] = {
		0x09,                   /* body_len 9 */
		0x03, 0x00, 0x00,       /* COMMIT, ns 0, delta 0 */
		0x44, 0x33, 0x22, 0x11, /* durable_upto */
		0xac, 0x02,             /* op_count 300 */
	};
	struct record r = commit_rec(REC_COMMIT, 0x11223344u, 300);
	size_t n;

	(void)state;
	n = encode(&r);
	assert_int_equal(n, 4 + sizeof want);
	assert_memory_equal(buf + 4, want, sizeof want);
	assert_int_equal(get_u32(buf),
			 (uint32_t)record_hash(want, sizeof want, seed_here()));
}

/* ---------------------------------------------------------------------- */
/* record_peek_size                                                       */
/* ---------------------------------------------------------------------- */

static void peek_size_of_a_truncated_prefix_is_short(void **state)
{
	struct record r = put_rec("key", "value", SEQ_BASE);
	uint32_t size = 0;
	size_t n;

	(void)state;
	n = encode(&r);
	for (size_t avail = 0; avail < REC_BYTES_MIN; avail++)
		CHECK_PEEK(REC_PEEK_SHORT,
			     record_peek_size(&size, buf, avail, &why));
	/* Once the prefix is there, the rest of the record need not be. */
	for (size_t avail = REC_BYTES_MIN; avail <= n; avail++) {
		size = 0;
		CHECK_PEEK(REC_PEEK_SIZE, record_peek_size(&size, buf, avail, &why));
		assert_int_equal(size, n);
	}
}

static void peek_size_of_a_truncated_long_length_is_short(void **state)
{
	/* A 3-byte body_len: every prefix shorter than the smallest record
	 * only says "more may follow". */
	struct record r = put_rec("key", "", SEQ_BASE);
	uint32_t size = 0;
	size_t n;

	(void)state;
	memset(big_value, 'v', sizeof big_value);
	r.value = big_value;
	r.value_len = 20000;
	n = encode(&r);
	assert_int_equal(buf[4] & 0x80, 0x80);
	assert_int_equal(buf[5] & 0x80, 0x80);
	for (size_t avail = 0; avail < REC_BYTES_MIN; avail++)
		CHECK_PEEK(REC_PEEK_SHORT,
			     record_peek_size(&size, buf, avail, &why));
	CHECK_PEEK(REC_PEEK_SIZE, record_peek_size(&size, buf, REC_BYTES_MIN, &why));
	assert_int_equal(size, n);
}

/* Writes a prefix with body_len spelled as the given varint bytes,
 * followed by zeroes. */
static enum rec_peek peek_length_bytes(const uint8_t *len, size_t len_bytes,
				   uint32_t *size)
{
	memset(buf, 0, 64);
	memcpy(buf + 4, len, len_bytes);
	return record_peek_size(size, buf, 64, &why);
}

static void peek_size_rejects_zero_and_too_small_lengths(void **state)
{
	uint32_t size;

	(void)state;
	CHECK_PEEK(REC_PEEK_BAD,
		     peek_length_bytes((const uint8_t[]){ 0x00 }, 1, &size));
	CHECK_PEEK(REC_PEEK_BAD,
		     peek_length_bytes((const uint8_t[]){ 0x01 }, 1, &size));
	CHECK_PEEK(REC_PEEK_BAD,
		     peek_length_bytes((const uint8_t[]){ 0x02 }, 1, &size));
	/* kind, ns and seq_delta: the least a body can be */
	CHECK_PEEK(REC_PEEK_SIZE, peek_length_bytes((const uint8_t[]){ 0x03 }, 1, &size));
	assert_int_equal(size, 4 + 1 + 3);
}

static void peek_size_rejects_lengths_over_the_format_limit(void **state)
{
	uint8_t len[VARINT_BYTES_MAX];
	uint32_t size;

	(void)state;
	put_varint(len, LK_RECORD_BYTES_MAX);
	CHECK_PEEK(REC_PEEK_SIZE, peek_length_bytes(len, varint_size(LK_RECORD_BYTES_MAX),
				       &size));
	assert_int_equal(size, 4 + varint_size(LK_RECORD_BYTES_MAX) +
				       LK_RECORD_BYTES_MAX);
	put_varint(len, LK_RECORD_BYTES_MAX + 1);
	CHECK_PEEK(REC_PEEK_BAD,
		     peek_length_bytes(len,
				       varint_size(LK_RECORD_BYTES_MAX + 1),
				       &size));
	put_varint(len, UINT32_MAX);
	CHECK_PEEK(REC_PEEK_BAD,
		     peek_length_bytes(len, varint_size(UINT32_MAX), &size));
	put_varint(len, UINT64_MAX);
	CHECK_PEEK(REC_PEEK_BAD,
		     peek_length_bytes(len, varint_size(UINT64_MAX), &size));
}

static void peek_size_rejects_a_length_that_is_no_varint(void **state)
{
	static const uint8_t endless[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					   0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint32_t size;

	(void)state;
	CHECK_PEEK(REC_PEEK_BAD,
		     peek_length_bytes(endless, sizeof endless, &size));
	/* an overlong spelling of 10 */
	CHECK_PEEK(REC_PEEK_BAD,
		     peek_length_bytes((const uint8_t[]){ 0x8a, 0x00 }, 2,
				       &size));
	/* a five-byte length, even of a small value */
	CHECK_PEEK(REC_PEEK_BAD,
		     peek_length_bytes((const uint8_t[]){ 0x8a, 0x80, 0x80,
							  0x80, 0x01 },
				       5, &size));
}

/* ---------------------------------------------------------------------- */
/* Damage and misplacement                                                */
/* ---------------------------------------------------------------------- */

/* Flips each bit of the record at buf[0..n) in turn, with `following`
 * more bytes after it (a length bit flip can then reach into them), and
 * checks that no flip decodes. */
static void assert_every_bit_flip_is_rejected(size_t n, size_t following)
{
	struct record d;

	for (size_t bit = 0; bit < n * 8; bit++) {
		lk_status st;

		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		why = NULL;
		st = decode(&d, buf, n + following);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (st == LK_OK) {
			print_error("flipping bit %zu of byte %zu of a %zu-byte "
				    "record still decodes\n", bit % 8, bit / 8,
				    n);
			fail();
		}
		assert_int_equal(st, LK_CORRUPT);
	}
	CHECK_OK_WHY(decode(&d, buf, n + following), why);
}

static void any_flipped_bit_in_a_record_is_rejected(void **state)
{
	struct record puts[4], others[4];

	(void)state;
	puts[0] = put_rec("node/1", "value", SEQ_BASE + 1);
	puts[1] = put_rec("path/x/y/3", "bundle bytes", SEQ_BASE + 300);
	puts[1].flags = REC_F_EXPIRY;
	puts[1].expire_at_ms = UINT64_C(1700000000000);
	puts[2] = put_rec("p", "", SEQ_BASE);
	puts[2].flags = REC_F_ZSTD;
	/* a body over 127 bytes: a two-byte body_len */
	memset(big_value, 'z', 200);
	puts[3] = put_rec("long", "", SEQ_BASE + 2);
	puts[3].value = big_value;
	puts[3].value_len = 200;
	others[0] = del_rec("node/1", SEQ_BASE + 2);
	others[1] = commit_rec(REC_COMMIT, 4096, 2);
	others[2] = commit_rec(REC_SEAL, 8192, 1000);
	others[3] = del_rec("k", SEQ_BASE);

	for (size_t i = 0; i < 8; i++) {
		const struct record *r = i < 4 ? &puts[i] : &others[i - 4];
		size_t n = encode(r);

		/* A valid record follows, as in a segment. */
		size_t m = encode_at(buf + n, &others[1],
				     record_seed(DB_SEED, SEG_SEQ, GENERATION,
						 OFFSET + n));

		assert_every_bit_flip_is_rejected(n, 0);
		assert_every_bit_flip_is_rejected(n, m);
	}
}

static void checksum_binds_record_to_its_offset(void **state)
{
	struct record r = put_rec("node/1", "v", SEQ_BASE + 1), d;
	size_t n;

	(void)state;
	n = encode(&r);
	CHECK_OK_WHY(decode(&d, buf, n), why);
	for (uint64_t off = 0; off < 65536; off++) {
		if (off == OFFSET)
			continue;
		CHECK_ST_WHY(LK_CORRUPT,
			     record_decode(&d, buf, n, SEQ_BASE,
					   record_seed(DB_SEED, SEG_SEQ,
						       GENERATION, off),
					   &why),
			     why);
		assert_string_equal(why, "checksum mismatch");
	}
	CHECK_ST_WHY(LK_CORRUPT,
		     record_decode(&d, buf, n, SEQ_BASE,
				   record_seed(DB_SEED, SEG_SEQ, GENERATION,
					       OFFSET + (UINT64_C(1) << 32)),
				   &why),
		     why);
}

static void checksum_binds_record_to_its_segment(void **state)
{
	struct record r = del_rec("node/1", SEQ_BASE + 1), d;
	size_t n;

	(void)state;
	n = encode(&r);
	for (uint64_t seq = 0; seq < 4096; seq++) {
		if (seq == SEG_SEQ)
			continue;
		CHECK_ST_WHY(LK_CORRUPT,
			     record_decode(&d, buf, n, SEQ_BASE,
					   record_seed(DB_SEED, seq, GENERATION,
						       OFFSET),
					   &why),
			     why);
	}
}

static void checksum_binds_record_to_its_generation(void **state)
{
	struct record r = commit_rec(REC_COMMIT, 64, 1), d;
	size_t n;

	(void)state;
	n = encode(&r);
	for (uint32_t gen = 1; gen < 4096; gen++)
		CHECK_ST_WHY(LK_CORRUPT,
			     record_decode(&d, buf, n, SEQ_BASE,
					   record_seed(DB_SEED, SEG_SEQ, gen,
						       OFFSET),
					   &why),
			     why);
	CHECK_ST_WHY(LK_CORRUPT,
		     record_decode(&d, buf, n, SEQ_BASE,
				   record_seed(DB_SEED, SEG_SEQ, UINT32_MAX,
					       OFFSET),
				   &why),
		     why);
}

static void checksum_binds_record_to_its_database(void **state)
{
	struct record r = put_rec("node/1", "v", SEQ_BASE + 1), d;
	size_t n;

	(void)state;
	n = encode(&r);
	for (unsigned bit = 0; bit < 64; bit++)
		CHECK_ST_WHY(LK_CORRUPT,
			     record_decode(&d, buf, n, SEQ_BASE,
					   record_seed(DB_SEED ^
						       (UINT64_C(1) << bit),
						       SEG_SEQ, GENERATION,
						       OFFSET),
					   &why),
			     why);
	CHECK_ST_WHY(LK_CORRUPT,
		     record_decode(&d, buf, n, SEQ_BASE,
				   record_seed(0, SEG_SEQ, GENERATION, OFFSET),
				   &why),
		     why);
}

static void seed_fields_do_not_cancel_out(void **state)
{
	/* Swapping one field for another must not give the same seed, or a
	 * record could move to a place whose fields make the same mix. */
	(void)state;
	assert_true(record_seed(1, 2, 3, 4) != record_seed(1, 4, 3, 2));
	assert_true(record_seed(1, 2, 3, 4) != record_seed(1, 3, 2, 4));
	assert_true(record_seed(1, 2, 0, 0) != record_seed(1, 0, 0, 2));
	assert_true(record_seed(0, 1, 1, 0) != record_seed(0, 0, 0, 0));
}

static void truncated_record_is_rejected(void **state)
{
	struct record rs[3], d;

	(void)state;
	rs[0] = put_rec("node/1", "some value", SEQ_BASE + 1);
	rs[0].flags = REC_F_EXPIRY;
	rs[0].expire_at_ms = 1;
	rs[1] = del_rec("node/1", SEQ_BASE + 2);
	rs[2] = commit_rec(REC_COMMIT, 4096, 2);
	for (size_t i = 0; i < 3; i++) {
		size_t n = encode(&rs[i]);

		for (size_t avail = 0; avail < n; avail++)
			CHECK_ST_WHY(LK_CORRUPT, decode(&d, buf, avail), why);
		CHECK_OK_WHY(decode(&d, buf, n), why);
	}
}

/* ---------------------------------------------------------------------- */
/* Hostile records with a correct checksum                                */
/* ---------------------------------------------------------------------- */

static void hand_built_records_are_accepted(void **state)
{
	/* The forge itself is right: a record it builds by the grammar
	 * decodes, so the rejections below come from what they break. */
	struct record d;
	size_t n;

	(void)state;
	forge_start(REC_PUT | REC_F_EXPIRY, 9, 3);
	forge_varint(3);
	forge_u64(42);
	forge_bytes("key", 3);
	forge_bytes("val", 3);
	n = forge_finish();
	CHECK_OK_WHY(decode(&d, buf, n), why);
	assert_int_equal(d.type, REC_PUT);
	assert_int_equal(d.flags, REC_F_EXPIRY);
	assert_int_equal(d.ns, 9);
	assert_int_equal(d.seq, SEQ_BASE + 3);
	assert_int_equal(d.expire_at_ms, 42);
	assert_int_equal(d.key_len, 3);
	assert_memory_equal(d.key, "key", 3);
	assert_int_equal(d.value_len, 3);
	assert_memory_equal(d.value, "val", 3);

	forge_start(REC_DEL, 9, 4);
	forge_varint(3);
	forge_bytes("key", 3);
	n = forge_finish();
	CHECK_OK_WHY(decode(&d, buf, n), why);

	forge_start(REC_SEAL, 0, 0);
	forge_u32(100);
	forge_varint(7);
	n = forge_finish();
	CHECK_OK_WHY(decode(&d, buf, n), why);
	assert_int_equal(d.count, 7);
}

static void key_length_zero_is_rejected(void **state)
{
	(void)state;
	forge_start(REC_PUT, 1, 0);
	forge_varint(0);
	forge_bytes("value", 5);
	EXPECT_REJECTED("key length");

	forge_start(REC_DEL, 1, 0);
	forge_varint(0);
	EXPECT_REJECTED("key length");
}

static void key_length_over_the_limit_is_rejected(void **state)
{
	(void)state;
	/* The key bytes are all there: it is the limit that rejects. */
	forge_start(REC_PUT, 1, 0);
	forge_varint(LK_KEY_BYTES_MAX + 1);
	forge_fill('k', LK_KEY_BYTES_MAX + 1);
	EXPECT_REJECTED("key length");

	forge_start(REC_DEL, 1, 0);
	forge_varint(LK_KEY_BYTES_MAX + 1);
	forge_fill('k', LK_KEY_BYTES_MAX + 1);
	EXPECT_REJECTED("key length");

	forge_start(REC_PUT, 1, 0);
	forge_varint(UINT64_MAX);
	forge_fill('k', 16);
	EXPECT_REJECTED("key length");
}

static void key_length_past_record_end_is_rejected(void **state)
{
	(void)state;
	forge_start(REC_PUT, 1, 0);
	forge_varint(10);
	forge_bytes("short", 5);
	EXPECT_REJECTED("key length past record end");

	forge_start(REC_DEL, 1, 0);
	forge_varint(2);
	forge_bytes("k", 1);
	EXPECT_REJECTED("key length past record end");

	/* the key_len varint itself runs off the end */
	forge_start(REC_PUT, 1, 0);
	forge_bytes("\x80", 1);
	EXPECT_REJECTED("key length");
}

static void missing_key_length_is_rejected(void **state)
{
	(void)state;
	forge_start(REC_PUT, 1, 0);
	EXPECT_REJECTED("key length");
	forge_start(REC_DEL, 1, 0);
	EXPECT_REJECTED("key length");
}

static void unknown_type_is_rejected(void **state)
{
	static const unsigned types[] = { 0, 5, 6, 9, 15 };

	(void)state;
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		forge_start(types[i], 0, 0);
		forge_varint(1);
		forge_bytes("k", 1);
		EXPECT_REJECTED("unknown record type");
	}
}

static void unknown_flags_are_rejected(void **state)
{
	/* 0x80, REPLACES, has its own tests */
	static const unsigned flags[] = { 0x40, 0xc0, 0xf0 };

	(void)state;
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		forge_start(REC_PUT | flags[i], 1, 0);
		forge_varint(1);
		forge_u64(1); /* in case a flag were read as EXPIRY */
		forge_bytes("k", 1);
		EXPECT_REJECTED("flags");
	}
}

static void flags_on_a_delete_are_rejected(void **state)
{
	(void)state;
	/* laid out as a put with an expiry would be */
	forge_start(REC_DEL | REC_F_EXPIRY, 1, 0);
	forge_varint(1);
	forge_u64(5);
	forge_bytes("k", 1);
	EXPECT_REJECTED("flags");

	forge_start(REC_DEL | REC_F_ZSTD, 1, 0);
	forge_varint(1);
	forge_bytes("k", 1);
	EXPECT_REJECTED("flags");
}

static void flags_on_a_commit_or_seal_are_rejected(void **state)
{
	static const unsigned types[] = { REC_COMMIT, REC_SEAL };
	static const unsigned flags[] = { REC_F_EXPIRY, REC_F_ZSTD, REC_F_MASK };

	(void)state;
	for (size_t t = 0; t < 2; t++) {
		for (size_t f = 0; f < 3; f++) {
			forge_start(types[t] | flags[f], 0, 0);
			forge_u32(64);
			forge_varint(1);
			EXPECT_REJECTED("flags");
		}
	}
}

static void value_bytes_in_a_delete_are_rejected(void **state)
{
	(void)state;
	forge_start(REC_DEL, 1, 0);
	forge_varint(1);
	forge_bytes("k", 1);
	forge_bytes("v", 1);
	EXPECT_REJECTED("value bytes in a delete");
}

static void namespace_on_a_commit_or_seal_is_rejected(void **state)
{
	(void)state;
	forge_start(REC_COMMIT, 1, 0);
	forge_u32(64);
	forge_varint(1);
	EXPECT_REJECTED("namespace or sequence");

	forge_start(REC_SEAL, 255, 0);
	forge_u32(64);
	forge_varint(1);
	EXPECT_REJECTED("namespace or sequence");
}

static void seq_delta_on_a_commit_or_seal_is_rejected(void **state)
{
	(void)state;
	forge_start(REC_COMMIT, 0, 1);
	forge_u32(64);
	forge_varint(1);
	EXPECT_REJECTED("namespace or sequence");

	forge_start(REC_SEAL, 0, 300);
	forge_u32(64);
	forge_varint(1);
	EXPECT_REJECTED("namespace or sequence");
}

static void commit_with_missing_or_extra_bytes_is_rejected(void **state)
{
	(void)state;
	/* durable_upto cut short */
	forge_start(REC_COMMIT, 0, 0);
	forge_bytes("\x01\x02\x03", 3);
	EXPECT_REJECTED("commit");

	/* no op_count */
	forge_start(REC_COMMIT, 0, 0);
	forge_u32(64);
	EXPECT_REJECTED("commit");

	/* a byte after op_count */
	forge_start(REC_COMMIT, 0, 0);
	forge_u32(64);
	forge_varint(1);
	forge_bytes("x", 1);
	EXPECT_REJECTED("commit");

	forge_start(REC_SEAL, 0, 0);
	forge_u32(64);
	forge_varint(1);
	forge_bytes("\0", 1);
	EXPECT_REJECTED("commit");

	/* op_count spelled overlong */
	forge_start(REC_SEAL, 0, 0);
	forge_u32(64);
	forge_bytes("\x81\x00", 2);
	EXPECT_REJECTED("commit");
}

static void expiry_flag_without_an_expiry_is_rejected(void **state)
{
	(void)state;
	forge_start(REC_PUT | REC_F_EXPIRY, 1, 0);
	forge_varint(1);
	forge_u64(0);
	forge_bytes("k", 1);
	EXPECT_REJECTED("zero expiry");

	/* fewer than 8 bytes left for the expiry */
	forge_start(REC_PUT | REC_F_EXPIRY, 1, 0);
	forge_varint(1);
	forge_bytes("\x01\x02\x03", 3);
	EXPECT_REJECTED("expiry past record end");
}

static void bad_sequence_delta_is_rejected(void **state)
{
	struct record d;
	size_t n;

	(void)state;
	/* an overlong delta: kind, ns, then 1 spelled in two bytes */
	body.n = 0;
	forge_bytes("\x01\x01\x81\x00", 4);
	forge_varint(1);
	forge_bytes("k", 1);
	EXPECT_REJECTED("sequence");

	/* a delta that takes seq past REC_SEQ_MAX, or past UINT64_MAX
	 * (sequence numbers never come near wrapping: once, a forged record
	 * at UINT64_MAX made the next write wrap) */
	forge_start(REC_PUT, 1, REC_SEQ_MAX - SEQ_BASE + 1);
	forge_varint(1);
	forge_bytes("k", 1);
	EXPECT_REJECTED("sequence");
	forge_start(REC_PUT, 1, UINT64_MAX - SEQ_BASE + 1);
	forge_varint(1);
	forge_bytes("k", 1);
	EXPECT_REJECTED("sequence");

	/* ... while the largest seq is fine */
	forge_start(REC_PUT, 1, REC_SEQ_MAX - SEQ_BASE);
	forge_varint(1);
	forge_bytes("k", 1);
	n = forge_finish();
	CHECK_OK_WHY(decode(&d, buf, n), why);
	assert_int_equal(d.seq, REC_SEQ_MAX);
}

/* LK_VALUE_BYTES_MAX bounds a value (logkeep_limits.h: "1 MiB bounds what one get
 * can allocate") and SPEC §4 says every length is checked against the
 * format's limits.  A raw (not compressed) value is the value, so one byte
 * over the limit must not decode; only a compressed value carries a
 * raw_len varint in front of its frame.  (Regression: the decoder once
 * allowed the limit plus a varint's length for every value.) */
static void raw_value_longer_than_the_limit_is_rejected(void **state)
{
	struct record d;
	size_t n;

	(void)state;
	forge_start(REC_PUT, 1, 0);
	forge_varint(1);
	forge_bytes("k", 1);
	forge_fill('v', LK_VALUE_BYTES_MAX);
	n = forge_finish();
	CHECK_OK_WHY(decode(&d, buf, n), why);
	assert_int_equal(d.value_len, LK_VALUE_BYTES_MAX);

	forge_start(REC_PUT, 1, 0);
	forge_varint(1);
	forge_bytes("k", 1);
	forge_fill('v', LK_VALUE_BYTES_MAX + 1);
	EXPECT_REJECTED("value length");
}

static void compressed_value_longer_than_its_bound_is_rejected(void **state)
{
	(void)state;
	forge_start(REC_PUT | REC_F_ZSTD, 1, 0);
	forge_varint(1);
	forge_bytes("k", 1);
	forge_fill(0x80, LK_VALUE_BYTES_MAX + VARINT_BYTES_MAX + 1);
	EXPECT_REJECTED("value length");
}

/* ---------------------------------------------------------------------- */
/* Varints                                                                */
/* ---------------------------------------------------------------------- */

static void varint_boundaries_round_trip(void **state)
{
	static const struct {
		uint64_t value;
		size_t size;
	} cases[] = {
		{ 0, 1 },
		{ 1, 1 },
		{ 127, 1 },
		{ 128, 2 },
		{ (UINT64_C(1) << 14) - 1, 2 },
		{ UINT64_C(1) << 14, 3 },
		{ (UINT64_C(1) << 21) - 1, 3 },
		{ UINT64_C(1) << 21, 4 },
		{ (UINT64_C(1) << 28) - 1, 4 },
		{ UINT64_C(1) << 28, 5 },
		{ UINT32_MAX, 5 },
		{ UINT64_C(1) << 32, 5 },
		{ (UINT64_C(1) << 35) - 1, 5 },
		{ UINT64_C(1) << 35, 6 },
		{ (UINT64_C(1) << 56) - 1, 8 },
		{ UINT64_C(1) << 56, 9 },
		{ (UINT64_C(1) << 63) - 1, 9 },
		{ UINT64_C(1) << 63, 10 },
		{ UINT64_MAX, 10 },
	};
	uint8_t b[VARINT_BYTES_MAX + 4];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t v = ~cases[i].value;

		memset(b, 0xee, sizeof b);
		assert_int_equal(varint_size(cases[i].value), cases[i].size);
		assert_int_equal(put_varint(b, cases[i].value), cases[i].size);
		assert_int_equal(b[cases[i].size], 0xee);
		/* exactly its bytes, and with more bytes after it */
		assert_int_equal(get_varint(b, cases[i].size, &v),
				 cases[i].size);
		assert_int_equal(v, cases[i].value);
		v = ~cases[i].value;
		assert_int_equal(get_varint(b, sizeof b, &v), cases[i].size);
		assert_int_equal(v, cases[i].value);
	}
}

static void varint_has_the_documented_bytes(void **state)
{
	uint8_t b[VARINT_BYTES_MAX];

	(void)state;
	assert_int_equal(put_varint(b, 0), 1);
	assert_memory_equal(b, ((const uint8_t[]){ 0x00 }), 1);
	assert_int_equal(put_varint(b, 127), 1);
	assert_memory_equal(b, ((const uint8_t[]){ 0x7f }), 1);
	assert_int_equal(put_varint(b, 128), 2);
	assert_memory_equal(b, ((const uint8_t[]){ 0x80, 0x01 }), 2);
	assert_int_equal(put_varint(b, 300), 2);
	assert_memory_equal(b, ((const uint8_t[]){ 0xac, 0x02 }), 2);
	assert_int_equal(put_varint(b, 16384), 3);
	assert_memory_equal(b, ((const uint8_t[]){ 0x80, 0x80, 0x01 }), 3);
	assert_int_equal(put_varint(b, UINT64_MAX), 10);
	assert_memory_equal(b, ((const uint8_t[]){ 0xff, 0xff, 0xff, 0xff, 0xff,
						   0xff, 0xff, 0xff, 0xff,
						   0x01 }), 10);
}

static void varint_overlong_encoding_is_rejected(void **state)
{
	static const uint8_t zero2[] = { 0x80, 0x00 };
	static const uint8_t v127_2[] = { 0xff, 0x00 };
	static const uint8_t v1_3[] = { 0x81, 0x80, 0x00 };
	static const uint8_t zero10[] = { 0x80, 0x80, 0x80, 0x80, 0x80,
					  0x80, 0x80, 0x80, 0x80, 0x00 };
	uint64_t v = 0;

	(void)state;
	assert_int_equal(get_varint(zero2, sizeof zero2, &v), 0);
	assert_int_equal(get_varint(v127_2, sizeof v127_2, &v), 0);
	assert_int_equal(get_varint(v1_3, sizeof v1_3, &v), 0);
	assert_int_equal(get_varint(zero10, sizeof zero10, &v), 0);
}

static void varint_past_ten_bytes_or_64_bits_is_rejected(void **state)
{
	static const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					  0x80, 0x80, 0x80, 0x81, 0x01 };
	static const uint8_t bit64[] = { 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0xff, 0x02 };
	static const uint8_t all_ff[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					  0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint64_t v = 0;

	(void)state;
	assert_int_equal(get_varint(eleven, sizeof eleven, &v), 0);
	assert_int_equal(get_varint(bit64, sizeof bit64, &v), 0);
	assert_int_equal(get_varint(all_ff, sizeof all_ff, &v), 0);
}

static void varint_truncated_is_rejected(void **state)
{
	static const uint64_t values[] = { 128, 16384, UINT64_C(1) << 32,
					   UINT64_MAX };
	uint8_t b[VARINT_BYTES_MAX];
	uint64_t v = 0;

	(void)state;
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		size_t n = put_varint(b, values[i]);

		for (size_t avail = 0; avail < n; avail++)
			assert_int_equal(get_varint(b, avail, &v), 0);
	}
}

/* ---------------------------------------------------------------------- */
/* Fixed-width integers                                                   */
/* ---------------------------------------------------------------------- */

static void fixed_width_integers_are_little_endian(void **state)
{
	uint8_t b[8];

	(void)state;
	put_u16(b, 0x1234);
	assert_memory_equal(b, ((const uint8_t[]){ 0x34, 0x12 }), 2);
	put_u32(b, 0x12345678u);
	assert_memory_equal(b, ((const uint8_t[]){ 0x78, 0x56, 0x34, 0x12 }), 4);
	put_u64(b, UINT64_C(0x0102030405060708));
	assert_memory_equal(b, ((const uint8_t[]){ 0x08, 0x07, 0x06, 0x05, 0x04,
						   0x03, 0x02, 0x01 }), 8);
	put_u64(b, UINT64_C(0x8000000000000001));
	assert_memory_equal(b, ((const uint8_t[]){ 0x01, 0, 0, 0, 0, 0, 0,
						   0x80 }), 8);
}

static void fixed_width_integers_read_little_endian(void **state)
{
	(void)state;
	assert_int_equal(get_u16((const uint8_t[]){ 0x34, 0x12 }), 0x1234);
	assert_int_equal(get_u16((const uint8_t[]){ 0xfe, 0xff }), 0xfffe);
	assert_int_equal(get_u32((const uint8_t[]){ 0x78, 0x56, 0x34, 0x12 }),
			 0x12345678u);
	/* no sign extension from the top byte */
	assert_int_equal(get_u32((const uint8_t[]){ 0x00, 0x00, 0x00, 0x80 }),
			 0x80000000u);
	assert_int_equal(get_u32((const uint8_t[]){ 0xff, 0xff, 0xff, 0xff }),
			 UINT32_MAX);
	assert_int_equal(get_u64((const uint8_t[]){ 0x08, 0x07, 0x06, 0x05, 0x04,
						    0x03, 0x02, 0x01 }),
			 UINT64_C(0x0102030405060708));
	assert_int_equal(get_u64((const uint8_t[]){ 0x00, 0x00, 0x00, 0x80, 0x00,
						    0x00, 0x00, 0x80 }),
			 UINT64_C(0x8000000080000000));
	assert_int_equal(get_u64((const uint8_t[]){ 0xff, 0xff, 0xff, 0xff, 0xff,
						    0xff, 0xff, 0xff }),
			 UINT64_MAX);
}

/* ---------------------------------------------------------------------- */
/* The table                                                              */
/* ---------------------------------------------------------------------- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* round trips */
		cmocka_unit_test(put_round_trips_key_value_namespace_and_seq),
		cmocka_unit_test(put_with_expiry_round_trips_its_expiry),
		cmocka_unit_test(put_with_empty_value_round_trips),
		cmocka_unit_test(put_with_largest_key_round_trips),
		cmocka_unit_test(largest_record_round_trips),
		cmocka_unit_test(compressed_put_round_trips_its_stored_bytes),
		cmocka_unit_test(delete_round_trips),
		cmocka_unit_test(commit_round_trips_durable_upto_and_count),
		cmocka_unit_test(seal_round_trips_durable_upto_and_count),
		cmocka_unit_test(seq_is_stored_as_a_delta_from_the_segment_base),
		cmocka_unit_test(encoded_size_is_the_bytes_written),
		cmocka_unit_test(put_is_encoded_as_the_grammar_says),
		cmocka_unit_test(commit_is_encoded_as_the_grammar_says),
		/* record_peek_size */
		cmocka_unit_test(peek_size_of_a_truncated_prefix_is_short),
		cmocka_unit_test(peek_size_of_a_truncated_long_length_is_short),
		cmocka_unit_test(peek_size_rejects_zero_and_too_small_lengths),
		cmocka_unit_test(peek_size_rejects_lengths_over_the_format_limit),
		cmocka_unit_test(peek_size_rejects_a_length_that_is_no_varint),
		/* damage and misplacement */
		cmocka_unit_test(any_flipped_bit_in_a_record_is_rejected),
		cmocka_unit_test(checksum_binds_record_to_its_offset),
		cmocka_unit_test(checksum_binds_record_to_its_segment),
		cmocka_unit_test(checksum_binds_record_to_its_generation),
		cmocka_unit_test(checksum_binds_record_to_its_database),
		cmocka_unit_test(seed_fields_do_not_cancel_out),
		cmocka_unit_test(truncated_record_is_rejected),
		/* hostile records with a correct checksum */
		cmocka_unit_test(hand_built_records_are_accepted),
		cmocka_unit_test(key_length_zero_is_rejected),
		cmocka_unit_test(key_length_over_the_limit_is_rejected),
		cmocka_unit_test(key_length_past_record_end_is_rejected),
		cmocka_unit_test(missing_key_length_is_rejected),
		cmocka_unit_test(unknown_type_is_rejected),
		cmocka_unit_test(replaces_round_trips_on_puts_and_deletes),
		cmocka_unit_test(bad_replaces_fields_are_rejected),
		cmocka_unit_test(unknown_flags_are_rejected),
		cmocka_unit_test(flags_on_a_delete_are_rejected),
		cmocka_unit_test(flags_on_a_commit_or_seal_are_rejected),
		cmocka_unit_test(value_bytes_in_a_delete_are_rejected),
		cmocka_unit_test(namespace_on_a_commit_or_seal_is_rejected),
		cmocka_unit_test(seq_delta_on_a_commit_or_seal_is_rejected),
		cmocka_unit_test(commit_with_missing_or_extra_bytes_is_rejected),
		cmocka_unit_test(expiry_flag_without_an_expiry_is_rejected),
		cmocka_unit_test(bad_sequence_delta_is_rejected),
		cmocka_unit_test(raw_value_longer_than_the_limit_is_rejected),
		cmocka_unit_test(compressed_value_longer_than_its_bound_is_rejected),
		/* varints */
		cmocka_unit_test(varint_boundaries_round_trip),
		cmocka_unit_test(varint_has_the_documented_bytes),
		cmocka_unit_test(varint_overlong_encoding_is_rejected),
		cmocka_unit_test(varint_past_ten_bytes_or_64_bits_is_rejected),
		cmocka_unit_test(varint_truncated_is_rejected),
		/* fixed-width integers */
		cmocka_unit_test(fixed_width_integers_are_little_endian),
		cmocka_unit_test(fixed_width_integers_read_little_endian),
	};

	return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
