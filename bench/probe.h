/* SPDX-License-Identifier: MIT */
/*
 * probe.h - the physical limits of the machine under the bench directory,
 * measured in the same run as the engines (probe.c).
 */
#ifndef LK_BENCH_PROBE_H
#define LK_BENCH_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "results.h"

struct probe_config {
	uint64_t syncs;      /* fdatasyncs timed in each of the two probes */
	uint64_t file_bytes; /* written sequentially, then read at random */
	uint64_t reads;      /* 4 KiB preads from the page cache */
	uint64_t index_bytes;    /* memory of the index's size: 20 a key */
	uint64_t snapshot_bytes; /* hashed: 12 a key */
	uint64_t chase_reads;    /* dependent reads in each chase */
	double gc_seconds;       /* each group commit run */
};

/* Runs every probe with files in dir (removed again) and fills *p.  On
 * failure writes what failed into err and returns false. */
bool probe_run(struct probe *p, const char *dir,
	       const struct probe_config *cfg, char *err, size_t err_bytes);

#endif /* LK_BENCH_PROBE_H */
