/* SPDX-License-Identifier: MIT */
/*
 * abi.c - the table of the public structs' versions and sizes, and the
 * copies in and out at the caller's version (see abi.h).
 */
#include <string.h>

#include "contract.h"
#include "abi.h"
#include "error.h"

/* lk_recovery_report as version 1 declared it: version 2 inserted
 * compaction_leftovers in the middle, so a version 1 caller gets this
 * layout, converted, not a prefix of the newest one. */
struct report_v1 {
	uint32_t version;
	uint32_t segments_read;
	uint64_t records_replayed;
	uint64_t records_discarded;
	uint64_t bytes_cut;
	uint64_t cut_segment_seq;
	uint64_t cut_offset;
	uint64_t zero_tail_bytes;
	uint64_t segments_removed;
	uint64_t seq_last;
	uint64_t duration_us;
	int snapshot_used;
	char snapshot_note[LK_NOTE_BYTES];
	char tail_note[LK_NOTE_BYTES];
};

#define ABI_VERSIONS_MAX 7

/* size[v]: the bytes of version v; [0] and versions not yet made are 0. */
static const struct abi_row {
	const char *name;
	uint32_t newest;
	size_t size[ABI_VERSIONS_MAX + 1];
} abi_table[ABI_STRUCT_COUNT] = {
	[ABI_OPTIONS] = { "lk_options", LK_OPTIONS_VERSION,
			  { 0, offsetof(lk_options, compact_dead_pct),
			    offsetof(lk_options, snapshot_every_bytes),
			    offsetof(lk_options, scrub_rate_bytes),
			    offsetof(lk_options, reserve_bytes),
			    offsetof(lk_options, map_bytes_max),
			    offsetof(lk_options, memory_bytes_max),
			    sizeof(lk_options) } },
	[ABI_STATS] = { "lk_stats", LK_STATS_VERSION,
			{ 0, offsetof(lk_stats, log_bytes_written),
			  offsetof(lk_stats, snapshot_serial),
			  offsetof(lk_stats, scrub_segments),
			  offsetof(lk_stats, compactions_total),
			  offsetof(lk_stats, map_bytes),
			  offsetof(lk_stats, memory_bytes_max),
			  sizeof(lk_stats) } },
	[ABI_REPORT] = { "lk_recovery_report", LK_REPORT_VERSION,
			 { 0, sizeof(struct report_v1),
			   offsetof(lk_recovery_report, replaced_unread),
			   offsetof(lk_recovery_report, snapshot_damaged),
			   sizeof(lk_recovery_report) } },
	[ABI_SEGMENT_INFO] = { "lk_segment_info", LK_SEGMENT_INFO_VERSION,
			       { 0, sizeof(lk_segment_info) } },
	[ABI_NS_STATS] = { "lk_ns_stats", LK_NS_STATS_VERSION,
			   { 0, sizeof(lk_ns_stats) } },
};

/* A new version needs its row: these fail until it has one. */
_Static_assert(LK_OPTIONS_VERSION == 7, "add lk_options' new version");
_Static_assert(LK_STATS_VERSION == 7, "add lk_stats' new version");
_Static_assert(LK_REPORT_VERSION == 4, "add lk_recovery_report's version");
_Static_assert(LK_SEGMENT_INFO_VERSION == 1, "add lk_segment_info's version");
_Static_assert(LK_NS_STATS_VERSION == 1, "add lk_ns_stats' version");
/* An old version's size is its struct's size: the first field added next
 * starts where the old struct's padding ended.  Except lk_options version
 * 1 on 32-bit targets (armhf): its last field is the 4-byte io pointer, so
 * it ends at 28 inside a 32-byte struct; the 28 bytes copied are still no
 * byte past the caller's struct (test_abi's canaries, run on armhf). */
_Static_assert((offsetof(lk_options, compact_dead_pct) % 8 == 0 ||
		sizeof(void *) == 4) &&
		       offsetof(lk_options, snapshot_every_bytes) % 8 == 0 &&
		       offsetof(lk_options, scrub_rate_bytes) % 8 == 0 &&
		       offsetof(lk_options, reserve_bytes) % 8 == 0 &&
		       offsetof(lk_options, map_bytes_max) % 8 == 0 &&
		       offsetof(lk_options, memory_bytes_max) % 8 == 0 &&
		       _Alignof(lk_options) == 8,
	       "lk_options versions end on the struct's alignment");
_Static_assert(offsetof(lk_stats, log_bytes_written) % 8 == 0 &&
		       offsetof(lk_stats, snapshot_serial) % 8 == 0 &&
		       offsetof(lk_stats, scrub_segments) % 8 == 0 &&
		       offsetof(lk_stats, compactions_total) % 8 == 0 &&
		       offsetof(lk_stats, map_bytes) % 8 == 0 &&
		       offsetof(lk_stats, memory_bytes_max) % 8 == 0 &&
		       _Alignof(lk_stats) == 8,
	       "lk_stats versions end on the struct's alignment");
_Static_assert(offsetof(lk_recovery_report, replaced_unread) % 8 == 0 &&
		       offsetof(lk_recovery_report, snapshot_damaged) % 8 == 0 &&
		       _Alignof(lk_recovery_report) == 8,
	       "lk_recovery_report versions end on the struct's alignment");
_Static_assert(sizeof(lk_segment_info) % _Alignof(lk_segment_info) == 0,
	       "lk_segment_info's size steps through an array");
_Static_assert(offsetof(lk_options, version) == 0 &&
		       offsetof(lk_stats, version) == 0 &&
		       offsetof(lk_recovery_report, version) == 0 &&
		       offsetof(lk_segment_info, version) == 0 &&
		       offsetof(lk_ns_stats, version) == 0,
	       "version is the first field");

lk_status abi_size(size_t *size, enum abi_struct kind, uint32_t version)
{
	const struct abi_row *row;

	LK_ASSERT(kind < ABI_STRUCT_COUNT);
	row = &abi_table[kind];
	*size = 0;
	if (version == 0 || version > row->newest)
		return err_set(LK_INVALID, "%s version %u: this library knows "
					   "1 to %u (set version to "
					   "the header's, as the _INIT macros "
					   "do)",
			       row->name, version, row->newest);
	*size = row->size[version];
	LK_ASSERT(*size > sizeof(uint32_t));
	return LK_OK;
}

static void report_to_v1(struct report_v1 *v1, const lk_recovery_report *r)
{
	memset(v1, 0, sizeof *v1);
	v1->version = 1;
	v1->segments_read = r->segments_read;
	v1->records_replayed = r->records_replayed;
	v1->records_discarded = r->records_discarded;
	v1->bytes_cut = r->bytes_cut;
	v1->cut_segment_seq = r->cut_segment_seq;
	v1->cut_offset = r->cut_offset;
	v1->zero_tail_bytes = r->zero_tail_bytes;
	v1->segments_removed = r->segments_removed;
	v1->seq_last = r->seq_last;
	v1->duration_us = r->duration_us;
	v1->snapshot_used = r->snapshot_used;
	memcpy(v1->snapshot_note, r->snapshot_note, sizeof v1->snapshot_note);
	memcpy(v1->tail_note, r->tail_note, sizeof v1->tail_note);
}

void abi_write_at(void *out, enum abi_struct kind, uint32_t version,
		  const void *full)
{
	struct report_v1 v1;
	size_t size;
	lk_status st = abi_size(&size, kind, version);

	LK_ASSERT(st == LK_OK);
	(void)st;
	if (kind == ABI_REPORT && version == 1) {
		report_to_v1(&v1, full);
		full = &v1;
	}
	memcpy(out, full, size);
	memcpy(out, &version, sizeof version);
}

lk_status abi_write(void *out, enum abi_struct kind, const void *full)
{
	uint32_t version;
	size_t size;
	lk_status st;

	if (!out)
		return err_set(LK_INVALID, "%s: NULL pointer",
			       abi_table[kind].name);
	memcpy(&version, out, sizeof version);
	st = abi_size(&size, kind, version);
	if (st == LK_OK)
		abi_write_at(out, kind, version, full);
	return st;
}

lk_status abi_read(void *full, enum abi_struct kind, const void *in)
{
	uint32_t version, newest = abi_table[kind].newest;
	size_t size;
	lk_status st;

	LK_ASSERT(kind != ABI_REPORT); /* only read at the newest layout */
	memcpy(&version, in, sizeof version);
	st = abi_size(&size, kind, version);
	if (st != LK_OK)
		return st;
	memcpy(full, in, size);
	memcpy(full, &newest, sizeof newest);
	return LK_OK;
}
