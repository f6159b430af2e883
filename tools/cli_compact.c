/* SPDX-License-Identifier: MIT */
/*
 * cli_compact.c - logkeep compact DIR and logkeep snapshot DIR:
 * lk_compact() and lk_snapshot() from the shell, for an operator
 * reclaiming flash, or making the next start fast, on a node whose daemon
 * is stopped.
 */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"

/* Opens DIR for writing (it must exist), runs fn and takes stats before
 * and after it.  Returns CLI_OK with *db open, or the exit status. */
static int run_on(lk_db **db, const char *cmd, int argc, char **argv,
		  lk_status (*fn)(lk_db *), lk_stats *before, lk_stats *after)
{
	struct cli_open_params op = { 0, LK_SYNC_ALWAYS, 0, 1, 0 };
	lk_status st;
	int first, rc;

	*db = NULL;
	rc = cli_parse_args(cmd, argc, argv, NULL, 1, "DIR", &first);
	if (rc != CLI_OK)
		return rc;
	argv += first;
	rc = cli_open_db(db, cmd, argv[0], &op);
	if (rc != CLI_OK)
		return rc;
	st = lk_stats_get(before, *db);
	if (st == LK_OK)
		st = fn(*db);
	if (st == LK_OK)
		st = lk_stats_get(after, *db);
	if (st != LK_OK)
		return cli_close_db(*db, cmd, cli_fail(cmd, st));
	return CLI_OK;
}

int cmd_snapshot(const char *cmd, int argc, char **argv)
{
	lk_stats before = LK_STATS_INIT, after = LK_STATS_INIT;
	lk_db *db;
	int rc = run_on(&db, cmd, argc, argv, lk_snapshot, &before, &after);

	if (rc != CLI_OK)
		return rc;
	if (after.snapshot_serial == 0)
		printf("snapshot: none needed, the log is empty\n");
	else if (after.snapshots_written == 0)
		printf("snapshot: %016" PRIx64 ".snap is up to date\n",
		       after.snapshot_serial);
	else
		printf("snapshot: %016" PRIx64 ".snap, %" PRIu64 " bytes, %"
		       PRIu64 " keys\n", after.snapshot_serial,
		       after.snapshot_bytes_written, after.live_keys);
	printf("log_replayed_at_open: %" PRIu64 " -> 0 bytes\n",
	       before.snapshot_behind_bytes);
	return cli_close_db(db, cmd, CLI_OK);
}

int cmd_compact(const char *cmd, int argc, char **argv)
{
	lk_stats before = LK_STATS_INIT, after = LK_STATS_INIT;
	lk_db *db;
	int rc = run_on(&db, cmd, argc, argv, lk_compact, &before, &after);

	if (rc != CLI_OK)
		return rc;
	printf("segments: %" PRIu32 " -> %" PRIu32 "\n", before.segment_count,
	       after.segment_count);
	printf("disk_bytes: %" PRIu64 " -> %" PRIu64 "\n", before.disk_bytes,
	       after.disk_bytes);
	printf("dead_bytes: %" PRIu64 " -> %" PRIu64 "\n", before.dead_bytes,
	       after.dead_bytes);
	printf("records_dropped: %" PRIu64 "\n", after.compact_records_dropped);
	return cli_close_db(db, cmd, CLI_OK);
}
