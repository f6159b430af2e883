/* SPDX-License-Identifier: MIT */
/*
 * engine.h - the driver interface between logkeep-bench (bench.c) and the
 * storage engines it measures.  Each engine is one file under
 * bench/engines/ that exports a const struct engine_ops (tkrzw.c exports
 * two: HashDBM updating in place and appending) and includes nothing of
 * the harness but this header.  bench/meson.build compiles a peer's file
 * only when its library is installed, and bench.c lists what was built.
 *
 * Contract
 * --------
 * 1. Every call returns true on success.  On failure it writes what went
 *    wrong into e->err, naming the call that failed and the engine's own
 *    message (engine_failf), and returns false.  The harness stops on the
 *    first failure; nothing is retried.
 * 2. open gets an existing, maybe empty, directory of its own and
 *    configures the engine so that put_batch and put_durable have the
 *    durability their comments below promise.  close syncs, closes and
 *    frees, even when it fails.
 * 3. A handle is used by one thread at a time, except put_durable, which
 *    the harness calls from WRITER_THREADS threads at once if
 *    concurrent_writers is set, each thread with its own struct engine
 *    (its own err) sharing impl.  Otherwise the harness serialises those
 *    calls with a mutex and reports the figure as serialised.
 * 4. Each workload runs in a process forked from the harness, which never
 *    calls an engine itself: no engine state (threads, locks, caches)
 *    crosses a fork.
 * 5. stats reports only what the engine counts: the harness sets every
 *    field to NAN before the call, and the adapter fills what it has.  Bytes on disk, bytes written to the device and memory are
 *    measured by the harness the same way for every engine.
 */
#ifndef LK_BENCH_ENGINE_H
#define LK_BENCH_ENGINE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Room for a call name, a path and an engine's message. */
#define ENGINE_ERR_BYTES 512

struct bench_kv {
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len;
};

/* What an engine counts about itself; NAN where it counts nothing.  Only
 * logkeep fills the log, compaction and snapshot counters today. */
struct engine_stats {
	double live_keys;
	double records_replayed; /* by the open that made the handle */
	double compactions;      /* by this handle */
	double compact_bytes_written;
	double compact_s;        /* time spent compacting */
	double compact_stall_us; /* longest hold of the index lock */
	double log_bytes_written;
	double commits;          /* batches committed by this handle */
	double syncs;            /* fdatasyncs of its log by this handle */
	/* index snapshots (NAN: the engine keeps none) */
	double snapshot_used;    /* 1 if the open loaded one, else 0 */
	double snapshots_written; /* by this handle */
	double snapshot_bytes_written;
	double snapshot_behind_bytes; /* log after the newest: what an open
					 would replay */
	double snapshot_failures;
};

struct engine;

struct engine_ops {
	const char *name;   /* a column of the table; also a directory name */
	const char *config; /* one line for the report: how it is set up */
	/* NULL, or a sentence for the report's notes: what makes one of its
	 * figures differ in kind from the other engines'. */
	const char *note;
	/* put_durable may run on one handle from several threads at once
	 * (contract 3). */
	bool concurrent_writers;
	/* The engine writes after a call has returned (compaction, flushes
	 * of memtables): before it measures space and write amplification,
	 * the harness waits until the engine's writes stop. */
	bool background_work;

	/* Opens the database in dir (contract 2).  e->keys_max is the most
	 * keys the run will write, for engines that size a map or a hash
	 * table up front. */
	bool (*open)(struct engine *e, const char *dir);
	bool (*close)(struct engine *e);
	/* Writes count puts as one batch.  Synced when it returns, except
	 * in SQLite, whose predecessors' configuration (synchronous=NORMAL)
	 * makes a batch survive a crash of the process but not a power cut
	 * (engines/sqlite.c). */
	bool (*put_batch)(struct engine *e, const struct bench_kv *kv,
			  size_t count);
	/* Writes one put, on stable storage when it returns. */
	bool (*put_durable)(struct engine *e, const struct bench_kv *kv);
	/* Looks key up.  *found says whether it is there; if so, its value
	 * is copied into value (at most value_cap bytes) and its whole
	 * length stored in *value_len. */
	bool (*get)(struct engine *e, const void *key, size_t key_len,
		    void *value, size_t value_cap, size_t *value_len,
		    bool *found);
	/* Cheap counters (called every 100 ms while the harness waits for
	 * background work). */
	bool (*stats)(struct engine *e, struct engine_stats *stats);
	/* NULL where the engine reports no index size.  Bytes of the
	 * structure that maps a key to its record, as the engine reports
	 * it; each engine's file says what that is. */
	bool (*index_bytes)(struct engine *e, double *bytes);
	/* NULL for an engine without snapshot files.  With the database
	 * closed, renames the snapshot files in dir so that open does not
	 * see them (hide), or back (!hide); *count: the files renamed.  It
	 * only renames files: the harness calls it outside any child. */
	bool (*hide_snapshots)(struct engine *e, const char *dir, bool hide,
			       size_t *count);
};

struct engine {
	const struct engine_ops *ops;
	void *impl;          /* the adapter's handle; NULL while closed */
	uint64_t keys_max;   /* set by the harness before open */
	char err[ENGINE_ERR_BYTES]; /* what the last failure was */
};

/* Formats the failure into e->err and returns false, so that an adapter
 * can end with `return engine_failf(e, ...)`. */
static inline bool engine_failf(struct engine *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline bool engine_failf(struct engine *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof e->err, fmt, ap);
	va_end(ap);
	return false;
}

/* The engines; bench.c's engines[] lists those that were built. */
extern const struct engine_ops logkeep_engine;
extern const struct engine_ops logkeep_map64_engine;
extern const struct engine_ops sqlite_engine;
extern const struct engine_ops lmdb_engine;
extern const struct engine_ops rocksdb_engine;
extern const struct engine_ops leveldb_engine;
extern const struct engine_ops tkrzw_in_place_engine;
extern const struct engine_ops tkrzw_appending_engine;

#endif /* LK_BENCH_ENGINE_H */
