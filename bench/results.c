/* SPDX-License-Identifier: MIT */
/*
 * results.c - the names, units and directions of logkeep-bench's figures
 * (results.h).  The order of figures[] is the order of the report's rows.
 * A headline figure is in the logkeep/peer ratio table and gets a plot:
 * one per workload, the figure a user would compare engines by.
 */

#include <math.h>

#include "results.h"

#define FIGURE(label, unit, field, decimals, better, headline)               \
	{ label, unit, #field, offsetof(struct results, field), decimals,    \
	  better, headline }
#define H BETTER_HIGHER
#define L BETTER_LOWER
#define N BETTER_NONE

const struct figure figures[] = {
	FIGURE("random fill, batches of 1000", "ops/s", fill_ops_s, 0, H, true),
	FIGURE("fill, engine time", "s", fill_s, 3, L, false),
	FIGURE("fill: device write amp.", "ratio", fill_device_write_amp, 2, L,
	       true),
	FIGURE("durable single puts", "count", durable_ops, 0, N, false),
	FIGURE("durable single puts", "ops/s", durable_ops_s, 0, H, true),
	FIGURE("durable put latency p50", "us", durable_p50_us, 1, L, false),
	FIGURE("durable put latency p99", "us", durable_p99_us, 1, L, true),
	FIGURE("baseline 4 KiB append+fdatasync", "ops/s", baseline_ops_s, 0,
	       N, false),
	FIGURE("baseline latency p50", "us", baseline_p50_us, 1, N, false),
	FIGURE("baseline latency p99", "us", baseline_p99_us, 1, N, false),
	FIGURE("durable puts / baseline", "ratio", durable_vs_baseline, 3, H,
	       false),
	FIGURE("in-place 4 KiB overwrite+fdatasync", "ops/s", inplace_ops_s,
	       0, N, false),
	FIGURE("in-place latency p50", "us", inplace_p50_us, 1, N, false),
	FIGURE("durable puts / in-place", "ratio", durable_vs_inplace, 3, H,
	       false),
	FIGURE("close after fill + durable", "ms", close_ms, 2, L, true),
	FIGURE("disk after fill, closed", "bytes", disk_bytes, 0, L, false),
	FIGURE("space amp. after fill", "ratio", space_amplification, 3, L,
	       true),
	FIGURE("snapshot files hidden", "count", replay_hidden_files, 0, N,
	       false),
	FIGURE("reopen, full replay (hidden)", "ms", replay_ms, 2, L, false),
	FIGURE("snapshot used by it", "0/1", replay_snapshot_used, 0, N,
	       false),
	FIGURE("records replayed by it", "count", replay_records_replayed, 0,
	       N, false),
	FIGURE("reopen after clean close: open", "ms", reopen_open_ms, 2, L,
	       false),
	FIGURE("reopen: first get", "us", reopen_first_get_us, 1, L, false),
	FIGURE("reopen: open + first get", "ms", reopen_ms, 2, L, true),
	FIGURE("snapshot used by it", "0/1", reopen_snapshot_used, 0, N,
	       false),
	FIGURE("records replayed by it", "count", records_replayed, 0, N,
	       false),
	FIGURE("index (engine-reported)", "bytes", index_bytes, 0, L, false),
	FIGURE("index per key", "bytes", index_bytes_per_key, 2, L, true),
	FIGURE("random gets, hits", "ops/s", get_hit_ops_s, 0, H, true),
	FIGURE("get hit latency p50", "us", get_hit_p50_us, 2, L, false),
	FIGURE("get hit latency p99", "us", get_hit_p99_us, 2, L, true),
	FIGURE("random gets, misses", "ops/s", get_miss_ops_s, 0, H, true),
	FIGURE("get miss latency p50", "us", get_miss_p50_us, 2, L, false),
	FIGURE("get miss latency p99", "us", get_miss_p99_us, 2, L, true),
	FIGURE("random overwrites, batches of 1000", "ops/s", overwrite_ops_s,
	       0, H, true),
	FIGURE("overwrite batch p99", "ms", overwrite_p99_ms, 2, L, false),
	FIGURE("slowest overwrite batch", "ms", overwrite_stall_ms, 2, L,
	       false),
	FIGURE("background work settled after", "s", settle_s, 1, N, false),
	FIGURE("overwrites: device write amp.", "ratio",
	       overwrite_device_write_amp, 2, L, true),
	FIGURE("compactions", "count", compactions, 0, N, false),
	FIGURE("compaction throughput (written)", "MB/s", compact_mb_s, 1, H,
	       false),
	FIGURE("longest index hold, compaction", "us", compact_stall_us, 0, L,
	       false),
	FIGURE("compaction wrote", "bytes", compact_bytes_written, 0, N,
	       false),
	FIGURE("write amp., engine bytes", "ratio", overwrite_write_amp, 3, L,
	       false),
	FIGURE("snapshots written", "count", overwrite_snapshots, 0, N, false),
	FIGURE("snapshot per live key", "bytes", snapshot_bytes_per_key, 2, L,
	       false),
	FIGURE("write amp., engine + snapshots", "ratio",
	       overwrite_write_amp_snap, 3, L, false),
	FIGURE("90/10 get/durable-put mix", "ops/s", mix_ops_s, 0, H, true),
	FIGURE("mix: get latency p99", "us", mix_get_p99_us, 2, L, false),
	FIGURE("mix: put latency p50", "us", mix_put_p50_us, 1, L, false),
	FIGURE("mix: put latency p99", "us", mix_put_p99_us, 1, L, false),
	FIGURE("4 writer threads, durable puts", "ops/s", writers_ops_s, 0, H,
	       true),
	FIGURE("writers: put latency p50", "us", writers_p50_us, 1, L, false),
	FIGURE("writers: put latency p99", "us", writers_p99_us, 1, L, false),
	FIGURE("writers serialised by the bench", "0/1", writers_serialised,
	       0, N, false),
	FIGURE("writers: batches per fdatasync", "ratio",
	       writers_commits_per_sync, 2, N, false),
	FIGURE("live keys at the end", "count", live_keys, 0, N, false),
	FIGURE("disk at the end, closed", "bytes", end_disk_bytes, 0, L,
	       false),
	FIGURE("space amp. at the end", "ratio", end_space_amp, 3, L, true),
	FIGURE("reopen after overwrites: open + get", "ms", reopen_after_ms, 2,
	       L, false),
	FIGURE("snapshot used by it", "0/1", reopen_after_snapshot_used, 0, N,
	       false),
	FIGURE("records replayed by it", "count", records_replayed_after, 0,
	       N, false),
	FIGURE("killed writer: overwrites acked", "count", killed_overwrites,
	       0, N, false),
	FIGURE("its log after its last snapshot", "bytes",
	       killed_behind_bytes, 0, N, false),
	FIGURE("snapshots it wrote", "count", killed_snapshots, 0, N, false),
	FIGURE("recovery after SIGKILL: open + get", "ms", killed_reopen_ms, 2,
	       L, true),
	FIGURE("snapshot used by it", "0/1", killed_snapshot_used, 0, N,
	       false),
	FIGURE("records replayed by it", "count", killed_records_replayed, 0,
	       N, false),
	FIGURE("its acked writes read back", "count", killed_checked, 0, N,
	       false),
	FIGURE("peak RSS, largest process", "MiB", rss_peak_mib, 1, L, true),
};
const size_t figure_count = sizeof figures / sizeof figures[0];

#define PROBE(label, unit, field, decimals)                                   \
	{ label, unit, #field, offsetof(struct probe, field), decimals,      \
	  BETTER_NONE, false }

const struct figure probe_figures[] = {
	PROBE("append 4 KiB + fdatasync, p50", "us", append_sync_p50_us, 1),
	PROBE("append 4 KiB + fdatasync, p99", "us", append_sync_p99_us, 1),
	PROBE("overwrite 4 KiB in place + fdatasync, p50", "us",
	      overwrite_sync_p50_us, 1),
	PROBE("overwrite 4 KiB in place + fdatasync, p99", "us",
	      overwrite_sync_p99_us, 1),
	PROBE("page-cache reads, 4 KiB at random", "ops/s", cached_read_ops_s,
	      0),
	PROBE("page-cache reads, 4 KiB at random", "MB/s", cached_read_mb_s, 0),
	PROBE("sequential write, 1 MiB writes + fdatasync", "MB/s",
	      seq_write_mb_s, 0),
	PROBE("dependent random read, fresh memory of the index's size", "ns",
	      read_memory_ns, 0),
	PROBE("dependent random read, mapped file", "ns", read_mapped_ns, 0),
	PROBE("memory then mapped file (index slot, then record)", "ns",
	      read_memory_then_mapped_ns, 0),
	PROBE("mapped file then mapped file (bucket, then record)", "ns",
	      read_mapped_then_mapped_ns, 0),
	PROBE("first touch of the index's size of new memory", "ms",
	      fresh_memory_ms, 2),
	PROBE("XXH3 of a snapshot's bytes, cached, mapped", "ms",
	      hash_snapshot_ms, 2),
	PROBE("group commit without an engine, 1 writer", "ops/s",
	      gc_one_ops_s, 0),
	PROBE("group commit without an engine, 4 writers", "ops/s",
	      gc_threads_ops_s, 0),
	PROBE("group commit without an engine, 4 writers / 1", "ratio",
	      gc_threads_ratio, 2),
};
const size_t probe_figure_count =
	sizeof probe_figures / sizeof probe_figures[0];

double figure_get(const void *res, const struct figure *f)
{
	return *(const double *)(const void *)((const char *)res + f->offset);
}

void figure_set(void *res, const struct figure *f, double v)
{
	*(double *)(void *)((char *)res + f->offset) = v;
}

void results_init(struct results *res)
{
	_Static_assert(sizeof(struct results) % sizeof(double) == 0,
		       "struct results is only doubles");
	double *d = (double *)(void *)res;
	for (size_t i = 0; i < sizeof *res / sizeof(double); i++)
		d[i] = NAN;
}

void probe_init(struct probe *p)
{
	double *d = (double *)(void *)p;
	for (size_t i = 0; i < sizeof *p / sizeof(double); i++)
		d[i] = NAN;
}
