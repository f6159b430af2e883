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
	LK_ASSERT(h->version >= SNAP_VERSION_MIN && h->version <= SNAP_VERSION);
	memset(out, 0, SNAP_HEADER_BYTES);
	memcpy(out + SNAP_H_MAGIC, snap_magic, sizeof snap_magic);
	put_u16(out + SNAP_H_VERSION, (uint16_t)h->version);
	put_u16(out + SNAP_H_HEADER_BYTES, SNAP_HEADER_BYTES);
	put_u32(out + SNAP_H_SEG_COUNT, h->seg_count);
	memcpy(out + SNAP_H_DB_ID, h->db_id, SEG_DB_ID_BYTES);
	put_u64(out + SNAP_H_SERIAL, h->serial);
	put_u64(out + SNAP_H_CREATED_MS, h->created_ms);
	put_u64(out + SNAP_H_SEQ_LAST, h->seq_last);
	put_u32(out + SNAP_H_INDEX_SLOTS, h->index_slots);
	put_u32(out + SNAP_H_KEYS, h->keys);
	put_u64(out + SNAP_H_FILE_BYTES,
		snap_file_bytes(h->version, h->seg_count, h->index_slots,
				h->keys));
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
	h->version = get_u16(in + SNAP_H_VERSION);
	if (h->version < SNAP_VERSION_MIN || h->version > SNAP_VERSION ||
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
	if (h->file_bytes != snap_file_bytes(h->version, h->seg_count,
					     h->index_slots, h->keys)) {
		*why = "header sizes disagree";
		return LK_CORRUPT;
	}
	if (h->seq_last > REC_SEQ_MAX) {
		/* the next write would number its records past the format */
		*why = "its newest record number is past the format's limit";
		return LK_CORRUPT;
	}
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Compaction totals                                                      */
/* ---------------------------------------------------------------------- */

uint64_t snap_totals_hash(const uint8_t *file)
{
	return snap_hash(file, SNAP_HEADER_BYTES + SNAP_C_HASH);
}

/* Returns NULL or why the totals cannot be a database's. */
static const char *totals_invalid(const struct snap_totals *t)
{
	if (t->compactions > SNAP_TOTAL_MAX || t->bytes_read > SNAP_TOTAL_MAX ||
	    t->bytes_written > SNAP_TOTAL_MAX ||
	    t->segments_removed > SNAP_TOTAL_MAX ||
	    t->records_dropped > SNAP_TOTAL_MAX)
		return "a compaction total past the format's limit";
	if (t->segments_removed < t->compactions)
		return "fewer segments removed than compactions";
	if (t->compactions == 0 &&
	    (t->bytes_read | t->bytes_written | t->segments_removed |
	     t->records_dropped) != 0)
		return "compaction totals without a compaction";
	return NULL;
}

void snap_totals_encode(uint8_t *file, const struct snap_totals *t)
{
	uint8_t *p = file + SNAP_HEADER_BYTES;

	LK_ASSERT(totals_invalid(t) == NULL);
	put_u64(p + SNAP_C_COMPACTIONS, t->compactions);
	put_u64(p + SNAP_C_BYTES_READ, t->bytes_read);
	put_u64(p + SNAP_C_BYTES_WRITTEN, t->bytes_written);
	put_u64(p + SNAP_C_SEGMENTS_REMOVED, t->segments_removed);
	put_u64(p + SNAP_C_RECORDS_DROPPED, t->records_dropped);
	put_u64(p + SNAP_C_HASH, snap_totals_hash(file));
}

lk_status snap_totals_decode(struct snap_totals *t, const uint8_t *file,
			     const char **why)
{
	const uint8_t *p = file + SNAP_HEADER_BYTES;

	memset(t, 0, sizeof *t);
	if (get_u64(p + SNAP_C_HASH) != snap_totals_hash(file)) {
		*why = "checksum mismatch in its compaction totals";
		return LK_CORRUPT;
	}
	t->compactions = get_u64(p + SNAP_C_COMPACTIONS);
	t->bytes_read = get_u64(p + SNAP_C_BYTES_READ);
	t->bytes_written = get_u64(p + SNAP_C_BYTES_WRITTEN);
	t->segments_removed = get_u64(p + SNAP_C_SEGMENTS_REMOVED);
	t->records_dropped = get_u64(p + SNAP_C_RECORDS_DROPPED);
	*why = totals_invalid(t);
	if (*why) {
		memset(t, 0, sizeof *t);
		return LK_CORRUPT;
	}
	return LK_OK;
}

static uint64_t add_capped(uint64_t a, uint64_t b)
{
	return a + b > SNAP_TOTAL_MAX || a + b < a ? SNAP_TOTAL_MAX : a + b;
}

void snap_totals_add(struct snap_totals *sum, const struct snap_totals *more)
{
	sum->compactions = add_capped(sum->compactions, more->compactions);
	sum->bytes_read = add_capped(sum->bytes_read, more->bytes_read);
	sum->bytes_written = add_capped(sum->bytes_written,
					more->bytes_written);
	sum->segments_removed = add_capped(sum->segments_removed,
					   more->segments_removed);
	sum->records_dropped = add_capped(sum->records_dropped,
					  more->records_dropped);
}

/* ---------------------------------------------------------------------- */
/* Segment table entries                                                  */
/* ---------------------------------------------------------------------- */

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
