/* SPDX-License-Identifier: MIT */
/*
 * reserve.h - the space reserve: blocks a writable handle keeps allocated
 * in its LOCK file (SPEC §4 allows no other file), so that the writes
 * that free space can still run on a full device.
 *
 * Once the log alone fills the device, a delete needs room for its
 * tombstone and a compaction room for its new segment: without a reserve
 * nothing could ever free space again.  So the LOCK file of a writable
 * handle is grown to reserve_bytes (lk_options) of real blocks (zeroes
 * written and synced, not a sparse truncate) at open and again after space was
 * freed by a compaction.  When a write that frees space fails with
 * LK_NOSPACE, its caller shrinks the reserve and tries that step once
 * more: a batch of deletes only (or the rotation it needs, or the seal
 * before a compaction) by RESERVE_STEP_BYTES at least, so that the
 * following deletes find room without touching it again; a compaction's
 * new segment by all of it.  Once the reserve has been drawn on, puts are
 * refused with LK_NOSPACE until a compaction has freed space and the
 * reserve is whole again: they never take what was kept for freeing.
 *
 * The LOCK file holds no acknowledged data (its first LOCKMARK_BYTES are
 * the mark of lockmark.h, which a draw never gives back): a power cut
 * that loses its size or its blocks loses nothing, and the next open
 * grows it again.  A failed sync
 * of it is therefore not a reason to halt the handle (nothing
 * acknowledged rests on it), and is not retried either.
 */
#ifndef LK_RESERVE_H
#define LK_RESERVE_H

#include <stdint.h>

#include "io.h"

/* Grows f to want_bytes with zeroes, as far as the device allows, and
 * syncs it (or shrinks it to want_bytes, when an earlier open asked for
 * more).  *held_bytes is set to f's size after.  Returns LK_OK
 * when the whole reserve is held, else the failing call's status
 * (LK_NOSPACE: the device holds less; LK_NOMEM: no room for the
 * 256 KiB of zeroes it writes from, allocated for the call; callers go
 * on without). */
lk_status reserve_fill(const lk_io *io, lk_io_file *f, uint64_t want_bytes,
		       uint64_t *held_bytes);

/* What a delete draws from the reserve at least: a tombstone is a few
 * dozen bytes, so one draw serves a thousand deletes or more before the
 * next (each draw is a truncate and a sync of the LOCK file). */
#define RESERVE_STEP_BYTES (64u * 1024u)

/* Gives part of the reserve back to the device: truncates f to
 * keep_bytes (less than *held_bytes) and syncs it.  Returns LK_OK (then
 * *held_bytes is keep_bytes) or the failing call's status. */
lk_status reserve_shrink(const lk_io *io, lk_io_file *f, uint64_t keep_bytes,
			 uint64_t *held_bytes);

#endif /* LK_RESERVE_H */
