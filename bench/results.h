/* SPDX-License-Identifier: MIT */
/*
 * results.h - what logkeep-bench measures, as plain numbers: one engine's
 * figures in one repetition (struct results), the physical-limits probe
 * of one repetition (struct probe), and the tables that name them for the
 * report (figures[], probe_figures[]).  A figure is a double, NAN until
 * measured and where it does not apply, so that a repetition's results
 * can cross a pipe as bytes and be merged field by field.
 */
#ifndef LK_BENCH_RESULTS_H
#define LK_BENCH_RESULTS_H

#include <stdbool.h>
#include <stddef.h>

struct results {
	/* the load process: fill, durable puts, close */
	double fill_ops_s;
	double fill_s;
	double fill_device_write_amp;
	double durable_ops;
	double durable_ops_s;
	double durable_p50_us;
	double durable_p99_us;
	double baseline_ops_s;
	double baseline_p50_us;
	double baseline_p99_us;
	double durable_vs_baseline;
	double inplace_ops_s;       /* 4 KiB over a synced block + fdatasync */
	double inplace_p50_us;
	double durable_vs_inplace;
	double close_ms;
	double disk_bytes;          /* measured by the harness, closed */
	double space_amplification;
	/* logkeep only: the same files with the snapshots hidden */
	double replay_hidden_files;
	double replay_ms;
	double replay_snapshot_used;
	double replay_records_replayed;
	/* the main process: reopen, gets, overwrites, mix, writers */
	double reopen_open_ms;
	double reopen_first_get_us;
	double reopen_ms;           /* open + first get */
	double reopen_snapshot_used;
	double records_replayed;
	double index_bytes;
	double index_bytes_per_key;
	double get_hit_ops_s;
	double get_hit_p50_us;
	double get_hit_p99_us;
	double get_miss_ops_s;
	double get_miss_p50_us;
	double get_miss_p99_us;
	double overwrite_ops_s;
	double overwrite_p99_ms;    /* of a batch */
	double overwrite_stall_ms;  /* the slowest batch */
	double settle_s;
	double overwrite_device_write_amp;
	double compactions;
	double compact_mb_s;
	double compact_stall_us;
	double compact_bytes_written;
	double overwrite_write_amp;
	double overwrite_snapshots;
	double snapshot_bytes_per_key;
	double overwrite_write_amp_snap;
	double mix_ops_s;
	double mix_get_p99_us;
	double mix_put_p50_us;
	double mix_put_p99_us;
	double writers_ops_s;
	double writers_p50_us;
	double writers_p99_us;
	double writers_serialised;
	double writers_commits_per_sync; /* engines that count both */  /* 1: the harness's mutex, 0: engine */
	double live_keys;
	double end_disk_bytes;      /* measured by the harness, closed */
	double end_space_amp;
	/* a fresh process after the main one closed */
	double reopen_after_ms;     /* open + first get */
	double reopen_after_snapshot_used;
	double records_replayed_after;
	/* a writer killed by SIGKILL, then a fresh process */
	double killed_overwrites;
	double killed_behind_bytes;
	double killed_snapshots;
	double killed_reopen_ms;    /* open + first get */
	double killed_snapshot_used;
	double killed_records_replayed;
	double killed_checked;
	/* the largest peak RSS of the engine's processes */
	double rss_peak_mib;
};

/* The physical limits of this machine and file system, probed in the same
 * run (probe.c). */
struct probe {
	double append_sync_p50_us;  /* append 4 KiB + fdatasync */
	double append_sync_p99_us;
	double overwrite_sync_p50_us; /* rewrite 4 KiB in place + fdatasync */
	double overwrite_sync_p99_us;
	double cached_read_ops_s;   /* 4 KiB preads at random, page cache */
	double cached_read_mb_s;
	double seq_write_mb_s;      /* 1 MiB writes, then one fdatasync */
	double read_memory_ns;      /* dependent random reads (probe.c) */
	double read_mapped_ns;
	double read_memory_then_mapped_ns;
	double read_mapped_then_mapped_ns;
	double fresh_memory_ms;     /* first touch of the index's size */
	double hash_snapshot_ms;    /* XXH3 of a snapshot's bytes */
	double gc_one_ops_s;        /* group commit without an engine */
	double gc_threads_ops_s;
	double gc_threads_ratio;
};

/* Which way is better, for the ratios and plots. */
enum better { BETTER_NONE = 0, BETTER_HIGHER = 1, BETTER_LOWER = -1 };

struct figure {
	const char *label;
	const char *unit;
	const char *json_name;
	size_t offset;
	int decimals;
	enum better better;
	bool headline; /* in the ratio table and the plots */
};

extern const struct figure figures[];
extern const size_t figure_count;
extern const struct figure probe_figures[];
extern const size_t probe_figure_count;

double figure_get(const void *res, const struct figure *f);
void figure_set(void *res, const struct figure *f, double v);
void results_init(struct results *res);
void probe_init(struct probe *p);

#endif /* LK_BENCH_RESULTS_H */
