/* SPDX-License-Identifier: MIT */
/*
 * logkeep_limits.h - every limit of logkeep in one place, each with the
 * reason for its value.  Anything that file content or a caller can make
 * grow has a limit here; the codec checks lengths read from disk against
 * these before it allocates or reads anything.  Public (logkeep.h includes
 * it) so that callers can size their buffers and check input up front.
 */
#ifndef LOGKEEP_LIMITS_H
#define LOGKEEP_LIMITS_H

#include <stdint.h>

/* Keys are identifiers (node ids, policy ids, "src/dst/k" tuples, ledger
 * entry ids).  1 KiB is far above any of them and keeps the worst case of
 * a hash-collision check (reading a candidate record) one small pread. */
#define LK_KEY_BYTES_MAX 1024u

/* Values are policy documents, path bundles, ledger entries.  A read holds
 * one whole value in memory, and a router may have 64 MiB of RAM: 1 MiB
 * bounds what one get can allocate. */
#define LK_VALUE_BYTES_MAX (1024u * 1024u)

/* A record's body: key, value (compressed or not), expiry and framing.
 * A compressed value can be larger than its input by zstd's bound; the
 * codec stores a value raw whenever compression does not shrink it, so the
 * raw bound is the bound. */
#define LK_RECORD_OVERHEAD_BYTES_MAX 64u
#define LK_RECORD_BYTES_MAX                                                   \
	(LK_KEY_BYTES_MAX + LK_VALUE_BYTES_MAX + LK_RECORD_OVERHEAD_BYTES_MAX)

/* A batch is encoded in memory as one group before it is written: 16 MiB
 * and 100,000 operations keep that buffer within a small router's budget
 * while still letting a bulk load amortise the sync. */
#define LK_BATCH_OPS_MAX 100000u
#define LK_BATCH_BYTES_MAX (16u * 1024u * 1024u)

/* Conditions of one batch (lk_batch_require).  The group's leader checks
 * them in the writers' turn, each a lookup and a read while the batches
 * queued behind wait: a thousand is a few milliseconds. */
#define LK_BATCH_CONDS_MAX 1000u

/* The leader of a group commit gathers queued batches up to this many
 * bytes into one write and one fdatasync.  1 MiB is enough to make the
 * sync cost negligible per batch without delaying the first committer. */
#define LK_GROUP_BYTES_MAX (1024u * 1024u)

/* Segment rotation size.  The index and commit records hold 32-bit segment
 * offsets, and a compaction rewrites a segment at a time: 1 GiB keeps both
 * comfortable.  The minimum leaves room for a header and a few records so
 * that tests can force rotation often. */
#define LK_SEGMENT_SIZE_MIN_BYTES 4096u
#define LK_SEGMENT_SIZE_MAX_BYTES (1024u * 1024u * 1024u)

/* The largest a segment file can be.  A segment rotates before a group
 * that would pass its rotation size, unless the group is the segment's
 * first, and a group holds at most one batch when it is larger than
 * LK_GROUP_BYTES_MAX; the zero prefill never passes the rotation size.  So
 * a segment's data ends below the largest rotation size plus one batch.
 * Open refuses a larger file as damage (a sparse or padded file put in the
 * directory) instead of reading gigabytes of it: the time and memory of an
 * open are bounded by what the format allows, not by a file's apparent
 * size.  Offsets in the index and in commit records are 32-bit: it fits. */
#define LK_SEGMENT_FILE_BYTES_MAX                                             \
	((uint64_t)LK_SEGMENT_SIZE_MAX_BYTES + LK_BATCH_BYTES_MAX)

/* Each segment keeps one file descriptor open, and RLIMIT_NOFILE is often
 * 1024 on a router; the index packs the segment slot in 12 bits (4095).
 * 1000 segments of the default 16 MiB is 16 GiB, beyond any router's
 * flash. */
#define LK_SEGMENT_COUNT_MAX 1000u

/* Records (puts and deletes, live or not) that a run of several segments
 * may hold for one compaction.  The live puts it repoints at the end take
 * 32 bytes each, so a run costs at most 16 MiB, on top of a 1.1 MiB copy
 * buffer.  A single segment is compacted whatever its count: then the
 * bound is its live puts, 32 bytes each (a 16 MiB segment of 100-byte
 * records holds about 170k: 5 MiB). */
#define LK_COMPACT_RECORDS_MAX (512u * 1024u)

/* Namespaces are a byte on disk and in the index.  0 is the engine's
 * catalog of namespace names; 1 is "default". */
#define LK_NS_COUNT_MAX 255u
#define LK_NS_NAME_BYTES_MAX 64u

/* The index grows by half when it is 80% full, so it holds 12 bytes per
 * slot and between 15 and 23 bytes per key.  2^27 slots (1.5 GiB) is far
 * past a router's RAM and keeps slot arithmetic in 32 bits. */
#define LK_INDEX_SLOTS_MAX (1u << 27)

/* Values at least this long are offered to zstd.  Below it, the frame
 * header eats most of what compression could save. */
#define LK_COMPRESS_MIN_BYTES 256u

/* When durable commits are small, the active segment is extended with
 * zeroes this far ahead, once, so that each commit's fdatasync overwrites
 * allocated blocks instead of growing the file (on ext4 that saves the
 * journal commit, about 40% of the sync).  Bulk writes skip it: for them
 * the extra bytes would be write amplification for no gain. */
#define LK_PREFILL_BYTES (256u * 1024u)
/* A young segment gets a prefill of a quarter of its data, at least this:
 * a small database does not carry 256 KiB of zeroes. */
#define LK_PREFILL_MIN_BYTES (16u * 1024u)
#define LK_PREFILL_GROUP_BYTES_MAX (16u * 1024u)

/* lk_close() writes a snapshot when at least this much log is not covered
 * by one: below it the next open replays the rest in about a millisecond,
 * less than writing a snapshot of a large index would cost. */
#define LK_SNAPSHOT_CLOSE_MIN_BYTES (1024u * 1024u)

/* snapshot_every_bytes is 0 or at least this: an index snapshot per few
 * kilobytes of log would write more than the log. */
#define LK_SNAPSHOT_EVERY_MIN_BYTES (64u * 1024u)

/* The space reserve (engine/reserve.h): the LOCK file of a writable
 * handle holds this many allocated bytes by default (lk_options'
 * reserve_bytes), which a delete or a compaction
 * gives back to the device when it finds the device full, so that space
 * can always be freed.  A batch of deletes takes a few bytes a key; a
 * compaction on a full device then rewrites a run whose live data fits
 * in half of it (LK_RESERVE_BYTES / 2, room for the re-encoded records,
 * the tombstones and the commits), and frees every dead byte of the run:
 * 1 MiB is a few segments' worth of sparse data, and 1/64 of the
 * smallest flash partition (64 MiB) a router gives its data. */
#define LK_RESERVE_BYTES (1024u * 1024u)
/* reserve_bytes' range: at least what one draw of deletes takes (64 KiB,
 * a thousand tombstones and more), at most a segment's worth of a log of
 * large segments. */
#define LK_RESERVE_MIN_BYTES (64u * 1024u)
#define LK_RESERVE_MAX_BYTES (64u * 1024u * 1024u)

/* The least memory budget (lk_options.memory_bytes_max, when not 0):
 * an empty index takes 16 KiB (1024 slots and its counters), so a budget
 * under a few times that admits no more than a handful of keys, which is
 * a mistake in the configuration, not a database; 64 KiB holds about
 * 4000 keys. */
#define LK_MEMORY_MIN_BYTES (64u * 1024u)

#endif /* LOGKEEP_LIMITS_H */
