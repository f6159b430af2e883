/* SPDX-License-Identifier: MIT */
/*
 * snapshot_format.c - the snapshot codec (format in snapshot_format.h).
 *
 * The encoders assert what the decoders verify, so a file this library
 * writes always reads back.
 */
#include <string.h>

#include "contract.h"
#include "endian.h"
#include "logkeep_limits.h"
#include "record.h"
#include "snapshot_format.h"

static const uint8_t snap_magic[SNAP_MAGIC_BYTES] = { 'L', 'K', 'S', 'N', 'P',
						      '\r', '\n', 0x1a };

uint32_t snap_header_checksum(const uint8_t *h)
{
	return (uint32_t)record_hash(h, SNAP_H_CHECKSUM, 0);
}

uint64_t snap_hash(const void *data, size_t len)
{
	return record_hash(data, len, 0);
}

/* The counts' limits, shared by the encoder's assertions and the
 * decoder's checks.  Returns NULL or why not. */
static const char *counts_invalid(uint32_t seg_count, uint32_t slots,
				  uint64_t keys)
{
	if (seg_count == 0 || seg_count > LK_SEGMENT_COUNT_MAX)
		return "covers no segment or more than the limit";
	if (slots == 0 || slots > LK_INDEX_SLOTS_MAX ||
	    !index_slots_fit(slots, keys))
		return "its index's key count is past the limits of its slots";
	if (slots > index_slots_max(keys))
		return "its index declares more slots than its keys need";
	return NULL;
}

void snap_header_encode(uint8_t out[SNAP_HEADER_BYTES],
			const struct snap_header *h)
{
	LK_ASSERT(counts_invalid(h->seg_count, h->index_slots, h->keys) == NULL);
	memset(out, 0, SNAP_HEADER_BYTES);
	memcpy(out + SNAP_H_MAGIC, snap_magic, sizeof snap_magic);
	put_u16(out + SNAP_H_VERSION, SNAP_VERSION);
	put_u16(out + SNAP_H_HEADER_BYTES, SNAP_HEADER_BYTES);
	put_u32(out + SNAP_H_SEG_COUNT, h->seg_count);
	memcpy(out + SNAP_H_DB_ID, h->db_id, SEG_DB_ID_BYTES);
	put_u64(out + SNAP_H_SERIAL, h->serial);
	put_u64(out + SNAP_H_CREATED_MS, h->created_ms);
	put_u64(out + SNAP_H_SEQ_LAST, h->seq_last);
	put_u32(out + SNAP_H_INDEX_SLOTS, h->index_slots);
	put_u32(out + SNAP_H_KEYS, h->keys);
	put_u64(out + SNAP_H_FILE_BYTES,
		snap_file_bytes(h->seg_count, h->index_slots, h->keys));
	put_u32(out + SNAP_H_FLAGS, 0);
	put_u32(out + SNAP_H_CHECKSUM, snap_header_checksum(out));
}

lk_status snap_header_decode(struct snap_header *h,
			     const uint8_t in[SNAP_HEADER_BYTES],
			     const char **why)
{
	memset(h, 0, sizeof *h);
	if (memcmp(in + SNAP_H_MAGIC, snap_magic, sizeof snap_magic) != 0) {
		*why = "not a snapshot (bad magic)";
		return LK_CORRUPT;
	}
	if (get_u32(in + SNAP_H_CHECKSUM) != snap_header_checksum(in)) {
		*why = "header checksum mismatch";
		return LK_CORRUPT;
	}
	if (get_u16(in + SNAP_H_VERSION) != SNAP_VERSION ||
	    get_u16(in + SNAP_H_HEADER_BYTES) != SNAP_HEADER_BYTES ||
	    get_u32(in + SNAP_H_FLAGS) != 0) {
		*why = "another snapshot format version";
		return LK_VERSION;
	}
	h->seg_count = get_u32(in + SNAP_H_SEG_COUNT);
	memcpy(h->db_id, in + SNAP_H_DB_ID, SEG_DB_ID_BYTES);
	h->serial = get_u64(in + SNAP_H_SERIAL);
	h->created_ms = get_u64(in + SNAP_H_CREATED_MS);
	h->seq_last = get_u64(in + SNAP_H_SEQ_LAST);
	h->index_slots = get_u32(in + SNAP_H_INDEX_SLOTS);
	h->keys = get_u32(in + SNAP_H_KEYS);
	h->file_bytes = get_u64(in + SNAP_H_FILE_BYTES);
	*why = counts_invalid(h->seg_count, h->index_slots, h->keys);
	if (*why)
		return LK_CORRUPT;
	if (h->file_bytes !=
	    snap_file_bytes(h->seg_count, h->index_slots, h->keys)) {
		*why = "header sizes disagree";
		return LK_CORRUPT;
	}
	return LK_OK;
}

/* Returns NULL or why the entry contradicts itself. */
static const char *seg_invalid(const struct snap_seg *s)
{
	if (s->flags & ~SNAP_SEG_SEALED)
		return "a segment entry has unknown flags";
	if (s->data_end < SEG_HEADER_BYTES)
		return "a segment entry ends inside the segment header";
	if (s->live_bytes > s->data_end - SEG_HEADER_BYTES)
		return "a segment entry has more live bytes than bytes";
	return NULL;
}

void snap_seg_encode(uint8_t out[SNAP_SEG_BYTES], const struct snap_seg *s)
{
	LK_ASSERT(seg_invalid(s) == NULL);
	memset(out, 0, SNAP_SEG_BYTES);
	put_u64(out + SNAP_S_SEQ, s->seq);
	put_u64(out + SNAP_S_SEQ_PREV, s->seq_prev);
	put_u64(out + SNAP_S_RECORD_SEQ_BASE, s->record_seq_base);
	put_u64(out + SNAP_S_DATA_END, s->data_end);
	put_u64(out + SNAP_S_LIVE_BYTES, s->live_bytes);
	put_u64(out + SNAP_S_OPS, s->ops);
	put_u32(out + SNAP_S_GENERATION, s->generation);
	put_u32(out + SNAP_S_FLAGS, s->flags);
	put_u64(out + SNAP_S_TAIL_HASH, s->tail_hash);
}

lk_status snap_seg_decode(struct snap_seg *s, const uint8_t in[SNAP_SEG_BYTES],
			  const char **why)
{
	s->seq = get_u64(in + SNAP_S_SEQ);
	s->seq_prev = get_u64(in + SNAP_S_SEQ_PREV);
	s->record_seq_base = get_u64(in + SNAP_S_RECORD_SEQ_BASE);
	s->data_end = get_u64(in + SNAP_S_DATA_END);
	s->live_bytes = get_u64(in + SNAP_S_LIVE_BYTES);
	s->ops = get_u64(in + SNAP_S_OPS);
	s->generation = get_u32(in + SNAP_S_GENERATION);
	s->flags = get_u32(in + SNAP_S_FLAGS);
	s->tail_hash = get_u64(in + SNAP_S_TAIL_HASH);
	*why = seg_invalid(s);
	return *why ? LK_CORRUPT : LK_OK;
}
