/* SPDX-License-Identifier: MIT */
/*
 * abi.h - the versions of the structs that cross the public interface
 * (lk_options, lk_stats, lk_recovery_report, lk_segment_info,
 * lk_ns_stats), and the one table of their sizes.
 *
 * The caller sets `version`, the first field of each, to the version its
 * program was built with.  The library reads or writes exactly that
 * version's size, never a byte past it: a program built against an older
 * logkeep.h keeps its memory when a newer library with new fields is
 * linked in.  Version N's size is the offset of the first field version
 * N+1 added (the whole struct for the newest; abi.c asserts that these
 * offsets are the struct sizes of the old layouts, so arrays step right).
 * Fields are only appended, with one exception made before this table
 * existed: lk_recovery_report version 2 inserted compaction_leftovers
 * before seq_last, so version 1 is written through its own layout.
 *
 * Adding a version: append the fields, raise the LK_*_VERSION macro, add
 * the row's size (the static assertions in abi.c fail until it is done).
 */
#ifndef LK_ABI_H
#define LK_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "logkeep.h"

enum abi_struct {
	ABI_OPTIONS,
	ABI_STATS,
	ABI_REPORT,
	ABI_SEGMENT_INFO,
	ABI_NS_STATS,
	ABI_STRUCT_COUNT
};

/* The size of version `version` of `kind`: LK_OK, or LK_INVALID (with a
 * message) for 0 or a version this library does not know. */
lk_status abi_size(size_t *size, enum abi_struct kind, uint32_t version);

/* Writes `full` (the newest layout of kind) into the caller's `out` at
 * `version`'s size, and sets out's version field to `version`.  The
 * version must be one abi_size() accepts. */
void abi_write_at(void *out, enum abi_struct kind, uint32_t version,
		  const void *full);

/* abi_write_at() at the version the caller set in out: LK_OK, or
 * LK_INVALID (out NULL, or its version refused) with nothing written. */
lk_status abi_write(void *out, enum abi_struct kind, const void *full);

/* Reads the caller's `in` at the version it set into *full (the newest
 * layout), the fields of later versions keeping what *full held (the
 * defaults), and sets full's version to the newest.  LK_OK or LK_INVALID
 * with *full unchanged. */
lk_status abi_read(void *full, enum abi_struct kind, const void *in);

#endif /* LK_ABI_H */
