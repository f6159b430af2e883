/* SPDX-License-Identifier: MIT */
/*
 * cli_backup.c - logkeep backup DIR DEST.
 *
 * The tool opens DIR read-only (no lock, nothing changed), so it can back
 * up a directory while the daemon that owns it keeps writing: the copy is
 * the committed state as of the open, and it opens cleanly.  A daemon
 * that wants its latest commits in the copy calls lk_backup() itself.
 */
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

struct backup_progress {
	const char *cmd;
	uint64_t at_ms;
};

/* Redraws the progress line on a terminal, a few times a second. */
static void backup_progress(void *arg, uint64_t done, uint64_t total)
{
	struct backup_progress *bp = arg;
	uint64_t now = cli_monotonic_ms();

	if (now - bp->at_ms < CLI_PROGRESS_PERIOD_MS && done != total)
		return;
	bp->at_ms = now;
	fprintf(stderr, "\rlogkeep: %s: %" PRIu64 " of %" PRIu64 " KiB copied"
		"\033[K", bp->cmd, done / 1024, total / 1024);
	fflush(stderr);
	cli_progress_mark();
}

int cmd_backup(const char *cmd, int argc, char **argv)
{
	struct cli_open_params op = { 1, LK_SYNC_ALWAYS, 0, 0, 0 };
	struct backup_progress bp = { cmd, 0 };
	lk_db *db = NULL;
	lk_status st;
	int first, rc;

	rc = cli_parse_args(cmd, argc, argv, NULL, 2, "DIR DEST", &first);
	if (rc != CLI_OK)
		return rc;
	argv += first;
	rc = cli_open_db(&db, cmd, argv[0], &op);
	if (rc != CLI_OK)
		return rc;
	st = lk_backup(db, argv[1], isatty(STDERR_FILENO) ? backup_progress
							  : NULL,
		       &bp);
	cli_progress_clear();
	if (st != LK_OK)
		rc = cli_fail(cmd, st);
	else
		printf("backed up %s to %s\n", argv[0], argv[1]);
	return cli_close_db(db, cmd, rc);
}
