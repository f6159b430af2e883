/* SPDX-License-Identifier: MIT */
/*
 * logkeep_ship.h - shipping a database's records to a NATS JetStream
 * stream (liblogkeep-ship, built when libnats is found): what
 * `logkeep ship` runs, as a call a mesh daemon runs in a thread of its
 * own on the handle it already has open.
 *
 * What it does
 * ------------
 * It follows the database with a change feed (lk_feed_open, logkeep.h)
 * over the chosen namespaces (by default "mesh.ledger" and
 * "mesh.telemetry") and publishes each put and delete, in sequence
 * order, as one JSON message: the object `logkeep dump --json` prints
 * for the record (without its place in the files: segment, file,
 * offset, length), plus "node" (the node id given), "db_id" (lk_db_id,
 * hex) and "raw_hex" (the stored value's bytes), on subject
 * PREFIX.DBID (one subject per database).  A gap of the feed (numbers
 * whose records compaction dropped) is a message too, kind "gap", so
 * that the other end knows the node never had them to send.
 *
 * Exactly once.  Each message carries the header Nats-Msg-Id
 * "DBID-SEQ": JetStream drops a message whose id it stored within the
 * stream's duplicate window.  Publishes are asynchronous, at most
 * acks_max waiting for the stream's acknowledgement; the cursor moves
 * only over acknowledged messages, and is written into the database
 * (namespace "logkeep.ship", key "cursor." STREAM: a durable put,
 * at most every cursor_every_ms, with a stream number before every
 * message past the cursor under "cursor-at." STREAM) so that a restart
 * resumes there.  A restart also asks the stream for its subject's last
 * message; when the stream holds messages after that number
 * (acknowledgements whose cursor a crash took, or later messages of a
 * window whose earlier one the stream refused), it reads back their ids
 * and passes over those past the cursor, publishing the others: so
 * nothing is published twice even when the shipper was down for longer
 * than the duplicate window, nothing is skipped, and the window only has
 * to cover a retry within one run.  (A cursor stored without the stream
 * number, by an older shipper, or more than 262,144 messages to read
 * back: the restart resumes past the last message.)  Any failure
 * (a refused or timed-out publish, a lost connection) drops what is in
 * flight and publishes again from the acknowledged cursor, after a
 * back-off (retry_min_ms doubling up to retry_max_ms) while the server
 * is unreachable.  A lost connection is closed and a new one opened only
 * then, so that nothing sent on the lost one can land behind what is
 * sent on the new one: the stream holds each node's records in order.
 *
 * Not skipped silently.  A gap is published and counted (gaps,
 * gap_records); a database whose log ends before the stored cursor
 * (restored from an older backup, or rewritten) stops the shipper with
 * LK_CORRUPT naming both numbers: the stream holds records the node no
 * longer has, and an operator decides.
 *
 * Threading: lk_ship_run() blocks its thread; lk_ship_stop() and
 * lk_ship_stats_get() may be called from any thread meanwhile.  The
 * database handle stays the caller's: close the shipper (after run
 * returned) before lk_close().
 */
#ifndef LOGKEEP_SHIP_H
#define LOGKEEP_SHIP_H

#include <stddef.h>
#include <stdint.h>

#include "logkeep.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LK_SHIP_OPTIONS_VERSION 1u

typedef struct lk_ship_options {
	uint32_t version;            /* LK_SHIP_OPTIONS_VERSION */
	const char *nats_url;        /* "nats://127.0.0.1:4222"; a comma-
					separated list of a cluster's */
	const char *stream;          /* NULL: "LOGKEEP" */
	const char *subject_prefix;  /* NULL: "logkeep" */
	const char *node_id;         /* NULL: the database id */
	const char *const *namespaces; /* names; NULL: mesh.ledger and
					  mesh.telemetry */
	size_t namespace_count;
	uint32_t acks_max;           /* publishes awaiting their ack; 0: 256 */
	uint32_t ack_timeout_ms;     /* 0: 5000 */
	uint32_t retry_min_ms;       /* 0: 100 */
	uint32_t retry_max_ms;       /* 0: 5000 */
	uint32_t cursor_every_ms;    /* 0: 200 */
	/* Create the stream (subjects PREFIX.>, file storage, duplicate
	 * window duplicates_ms) when it is not there; 0: it must exist. */
	int create_stream;
	uint64_t duplicates_ms;      /* 0: 120000 */
	/* Return LK_OK from lk_ship_run once every committed record is
	 * acknowledged and the cursor stored (a batch job; 0: follow the
	 * database until lk_ship_stop). */
	int exit_when_idle;
} lk_ship_options;

#define LK_SHIP_OPTIONS_INIT { .version = LK_SHIP_OPTIONS_VERSION }

typedef struct lk_ship_stats {
	uint64_t published;          /* messages sent (retries included) */
	uint64_t acked;              /* acknowledged (duplicates included) */
	uint64_t duplicates;         /* acks saying the stream had it */
	uint64_t retries;            /* times in-flight messages were
					dropped and published again */
	uint64_t gaps, gap_records;  /* feed gaps, and numbers they span */
	uint64_t cursor;             /* acknowledged: every record up to it
					is in the stream */
	uint64_t cursor_stored;      /* as last written in the database */
	uint64_t seq_last;           /* the database's newest number */
	uint64_t lag_records;        /* seq_last - cursor */
	uint64_t lag_ms;             /* every record committed before now -
					lag_ms is acknowledged (0: caught up) */
	int connected;
	char last_error[160];        /* "" or the last failure */
} lk_ship_stats;

typedef struct lk_ship lk_ship;

/* A shipper of db (writable: it stores its cursor there).  Reads opts
 * now (strings are copied).  Returns LK_OK, LK_INVALID (NULL, no URL, an
 * unknown version, a namespace name that is not valid), LK_READONLY,
 * LK_NOMEM, or a status of lk_ns_open. */
lk_status lk_ship_new(lk_ship **ship, lk_db *db, const lk_ship_options *opts);

/* Ships until lk_ship_stop() (or, with exit_when_idle, until caught up),
 * then waits for the acks in flight (at most ack_timeout_ms) and stores
 * the cursor.  Returns LK_OK, LK_CORRUPT (the log ends before the stored
 * cursor or before the newest record of this database in the stream: a
 * restored older copy, which would reuse numbers the stream holds; or a
 * record fails its checks: lk_errmsg() says which), or a
 * status of the database (a failed cursor write: LK_IO, LK_NOSPACE,
 * LK_HALTED, ...).  An unreachable server is retried, never returned. */
lk_status lk_ship_run(lk_ship *ship);

/* Makes lk_ship_run return soon; any thread.  NULL is a no-op. */
void lk_ship_stop(lk_ship *ship);

/* Copies the current figures; any thread.  LK_INVALID for NULL. */
lk_status lk_ship_stats_get(lk_ship_stats *stats, lk_ship *ship);

/* Frees it, after lk_ship_run returned.  NULL is a no-op. */
void lk_ship_free(lk_ship *ship);

#ifdef __cplusplus
}
#endif

#endif /* LOGKEEP_SHIP_H */
