/* SPDX-License-Identifier: MIT */
/*
 * cli_compact.c - logkeep compact DIR: lk_compact() from the shell, for an
 * operator reclaiming flash on a node whose daemon is stopped.
 */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"

int cmd_compact(const char *cmd, int argc, char **argv)
{
	struct cli_open_params op = { 0, LK_SYNC_ALWAYS, 0, 1 };
	lk_stats before, after;
	lk_db *db = NULL;
	lk_status st;
	int first, rc;

	rc = cli_parse_args(cmd, argc, argv, NULL, 1, "DIR", &first);
	if (rc != CLI_OK)
		return rc;
	argv += first;
	rc = cli_open_db(&db, cmd, argv[0], &op);
	if (rc != CLI_OK)
		return rc;
	before.version = after.version = LK_STATS_VERSION;
	st = lk_stats_get(&before, db);
	if (st == LK_OK)
		st = lk_compact(db);
	if (st == LK_OK)
		st = lk_stats_get(&after, db);
	if (st != LK_OK)
		return cli_close_db(db, cmd, cli_fail(cmd, st));
	printf("segments: %" PRIu32 " -> %" PRIu32 "\n", before.segment_count,
	       after.segment_count);
	printf("disk_bytes: %" PRIu64 " -> %" PRIu64 "\n", before.disk_bytes,
	       after.disk_bytes);
	printf("dead_bytes: %" PRIu64 " -> %" PRIu64 "\n", before.dead_bytes,
	       after.dead_bytes);
	printf("records_dropped: %" PRIu64 "\n", after.compact_records_dropped);
	return cli_close_db(db, cmd, CLI_OK);
}
