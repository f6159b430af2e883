#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The least write amplification any compaction policy could reach on the
bench's overwrite workload while holding space amplification to a bound.

The workload (bench.c, run_overwrite): a million keys filled, then a
million overwrites of keys drawn uniformly, every record 140 bytes on disk
(16-byte key, 100-byte value and the framing; the bench's "space amp.
after fill" is 1.21 = 140 / 116) in segments of 16 MiB (logkeep's
default).  A record is dead once its key is written again.

An oracle compacts once, at the very end, when every record that will die
has died: rewriting a segment then costs exactly its live records, which
no earlier compaction could beat (a record live at the end was live at
every moment before).  It takes the segments with the largest dead
fraction first, until the segments' bytes (the snapshot file and the LOCK
reserve left out, which would only add to them) are within the bound of
the user bytes (116 a key).  Write amplification is then the overwrites'
log bytes plus the rewritten bytes, over the overwrites' user bytes, as
the bench computes its "write amp., engine bytes".

Greedy by dead fraction is the fractional knapsack's optimum, so with
small segments it is the bound itself; with 16 MiB ones the last segment
taken overshoots the bound a little (1.230 for 1.25).

Usage: space_bound.py [SPACE_BOUND [SEGMENT_BYTES]]
       (default 1.25 and 16 MiB; 1 MiB and 64 KiB segments give 2.12)
"""
import random
import sys

KEYS = 1_000_000
RECORD = 140
USER = 116
SEGMENT = 16 << 20  # logkeep's default segment_size_bytes


def main():
    usage = "usage: space_bound.py [SPACE_BOUND [SEGMENT_BYTES]]"
    try:
        bound = float(sys.argv[1]) if len(sys.argv) > 1 else 1.25
        segment = int(sys.argv[2]) if len(sys.argv) > 2 else SEGMENT
    except ValueError:
        sys.exit(usage)
    if len(sys.argv) > 3 or not bound > 0 or segment < RECORD:
        sys.exit(usage)
    per_segment = segment // RECORD
    rng = random.Random(1)
    where = list(range(KEYS))  # each key's live record, by log position
    position = KEYS
    for _ in range(KEYS):
        where[rng.randrange(KEYS)] = position
        position += 1
    segments = (position + per_segment - 1) // per_segment
    live = [0] * segments
    for p in where:
        live[p // per_segment] += 1
    size = [min(per_segment, position - i * per_segment)
            for i in range(segments)]
    user = KEYS * USER
    disk = sum(size) * RECORD
    rewritten = 0
    for i in sorted(range(segments), key=lambda i: live[i] / size[i]):
        if disk / user <= bound:
            break
        disk -= (size[i] - live[i]) * RECORD
        rewritten += live[i] * RECORD
    log = KEYS * RECORD
    print(f"space bound {bound}: after the fill {KEYS * RECORD / user:.3f}, "
          f"reached {disk / user:.3f} by rewriting {rewritten / 1e6:.1f} MB; "
          f"write amplification at least {(log + rewritten) / user:.3f} "
          f"(log {log / user:.3f} + compaction {rewritten / user:.3f}), "
          f"snapshots not counted")


if __name__ == "__main__":
    main()
