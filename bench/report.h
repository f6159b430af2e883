/* SPDX-License-Identifier: MIT */
/*
 * report.h - logkeep-bench's output (report.c): the Markdown tables, the
 * JSON document and the gnuplot plots of one run, all drawn from the
 * same per-repetition figures.
 */
#ifndef LK_BENCH_REPORT_H
#define LK_BENCH_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "engine.h"
#include "results.h"

struct report {
	const char *version;
	bool smoke;
	uint64_t keys;
	unsigned key_bytes;
	unsigned value_bytes;
	unsigned batch_ops;
	uint64_t durable_count;
	uint64_t mix_count;
	unsigned mix_put_percent;
	unsigned writer_threads;
	uint64_t writer_count;  /* per thread */
	double budget_s;
	uint64_t killed_count;
	const char *dir;
	time_t started;
	double wall_s;
	long rss_harness_kib;   /* resident before the first fork, or -1 */
	size_t engine_count;
	const struct engine_ops *const *engines;
	unsigned reps;
	const struct results *res;  /* [rep * engine_count + engine] */
	const struct probe *probes; /* [rep] */
};

/* Writes the Markdown report to md_path (NULL: stdout), and the JSON and
 * plots where a path is given.  A missing gnuplot skips the plots with a
 * note on stderr; any other failure is printed and returns false. */
bool report_write(const struct report *rp, const char *md_path,
		  const char *json_path, const char *plot_dir);

#endif /* LK_BENCH_REPORT_H */
