/* SPDX-License-Identifier: MIT */
/*
 * cli_load.c - `logkeep load`: stores KEY<TAB>VALUE lines from standard
 * input in atomic batches.
 *
 * Method: a bounded line reader (cli_format.c) hands over one line at a
 * time; each line becomes an lk_batch_put; every --batch records the batch
 * is committed.  A malformed line stops the load before its batch is
 * committed, so the store holds exactly the batches before it.  The
 * engine also limits a batch's bytes and operations: when a record does
 * not fit the current batch, it is tried alone in a spare batch first, and
 * only if it fits there is the current batch committed early and the spare
 * made current.  So memory stays within the engine's batch limit however
 * large --batch is, and a record that can never be stored fails its line
 * without committing anything of its batch.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_format.h"

/* A line is a key, a TAB and a value. */
#define CLI_LOAD_LINE_BYTES_MAX (CLI_KEY_BYTES_MAX + 1u + CLI_VALUE_BYTES_MAX)


#define CLI_LOAD_BATCH_DEFAULT 1000u

/* ---------------------------------------------------------------------- */
/* load                                                                   */
/* ---------------------------------------------------------------------- */

struct load {
	const char *cmd;
	lk_db *db;
	uint32_t ns;
	lk_batch *batch;      /* the records read since the last commit */
	lk_batch *spare;      /* an empty batch, to test a record alone */
	uint64_t batch_max;   /* --batch */
	uint64_t line_no;     /* the line being read, from 1 */
	uint64_t stored;      /* records committed */
	int tty;              /* stderr is a terminal: show progress */
	uint64_t progress_at_ms;
};

/* Redraws the progress line, at most every CLI_PROGRESS_PERIOD_MS. */
static void load_progress(struct load *ld)
{
	uint64_t now;

	if (!ld->tty)
		return;
	now = cli_monotonic_ms();
	if (now - ld->progress_at_ms < CLI_PROGRESS_PERIOD_MS)
		return;
	ld->progress_at_ms = now;
	fprintf(stderr, "\rlogkeep: %s: %" PRIu64 " records stored, %" PRIu64
		" lines read\033[K", ld->cmd, ld->stored, ld->line_no);
	fflush(stderr);
	cli_progress_mark();
}

/* Commits the current batch.  Returns an exit status. */
static int load_commit(struct load *ld)
{
	size_t count = lk_batch_count(ld->batch);
	lk_status st;

	if (count == 0)
		return CLI_OK;
	st = lk_commit(ld->db, ld->batch);
	if (st != LK_OK)
		return cli_fail(ld->cmd, st);
	ld->stored += count;
	load_progress(ld);
	return CLI_OK;
}

/* Adds one record to the batch.  When the engine's batch limit (bytes or
 * operations) is reached before --batch records, the batch is committed
 * early, but only once the record is known to fit an empty batch: a
 * record that can never be stored fails its line without committing
 * anything of its batch.  Returns an exit status. */
static int load_add(struct load *ld, const char *key, size_t key_len,
		    const char *value, size_t value_len)
{
	char where[48];
	lk_status st;
	int rc;

	st = lk_batch_put(ld->batch, ld->ns, key, key_len, value, value_len, 0);
	if (st == LK_TOO_BIG && lk_batch_count(ld->batch) > 0) {
		lk_batch_clear(ld->spare);
		st = lk_batch_put(ld->spare, ld->ns, key, key_len, value,
				  value_len, 0);
		if (st == LK_OK) {
			lk_batch *full = ld->batch;

			rc = load_commit(ld);
			ld->batch = ld->spare;
			ld->spare = full;
			return rc;
		}
	}
	if (st == LK_OK)
		return CLI_OK;
	snprintf(where, sizeof where, "line %" PRIu64 ": ", ld->line_no);
	return cli_fail_at(ld->cmd, where, st);
}

static int load_lines(struct load *ld)
{
	struct line_reader lr;
	const char *line;
	size_t len;
	int rc = CLI_OK;

	if (line_reader_init(&lr, STDIN_FILENO, CLI_LOAD_LINE_BYTES_MAX) != 0) {
		cli_msg(ld->cmd, "%s", strerror(ENOMEM));
		return CLI_ERROR;
	}
	for (;;) {
		enum line_result lres = line_reader_next(&lr, &line, &len);
		const char *tab;

		if (lres == LINE_EOF)
			break;
		ld->line_no++;
		if (lres == LINE_ERROR) {
			cli_msg(ld->cmd, "reading standard input: %s",
				strerror(errno));
			rc = CLI_ERROR;
			break;
		}
		if (lres == LINE_TOO_LONG) {
			cli_msg(ld->cmd, "line %" PRIu64 ": longer than %u "
				"bytes (a %u-byte key, a TAB, a %u-byte value)",
				ld->line_no, CLI_LOAD_LINE_BYTES_MAX,
				CLI_KEY_BYTES_MAX, CLI_VALUE_BYTES_MAX);
			rc = CLI_USAGE;
			break;
		}
		tab = memchr(line, '\t', len);
		if (tab == NULL || tab == line) {
			cli_msg(ld->cmd, "line %" PRIu64 ": %s", ld->line_no,
				tab == NULL ? "no TAB between key and value"
				: "empty key");
			rc = CLI_USAGE;
			break;
		}
		rc = load_add(ld, line, (size_t)(tab - line), tab + 1,
			      len - (size_t)(tab - line) - 1);
		if (rc == CLI_OK && lk_batch_count(ld->batch) >= ld->batch_max)
			rc = load_commit(ld);
		if (rc != CLI_OK)
			break;
		load_progress(ld);
	}
	if (rc == CLI_OK)
		rc = load_commit(ld);
	line_reader_free(&lr);
	return rc;
}

int cmd_load(const char *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "namespace", required_argument, NULL, 'n' },
		{ "sync", required_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' },
		{ "segment-size", required_argument, NULL, 'S' },
		{ "memory-bytes", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_open_params op = { 0, LK_SYNC_ALWAYS, 0, 0, 0 };
	struct load ld;
	const char *ns_name = "default";
	lk_status st;
	int c, rc;

	memset(&ld, 0, sizeof ld);
	ld.cmd = cmd;
	ld.batch_max = CLI_LOAD_BATCH_DEFAULT;
	while ((c = getopt_long(argc, argv, "+:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			ns_name = optarg;
			break;
		case 's':
			if (strcmp(optarg, "always") == 0)
				op.sync = LK_SYNC_ALWAYS;
			else if (strcmp(optarg, "interval") == 0)
				op.sync = LK_SYNC_INTERVAL;
			else if (strcmp(optarg, "none") == 0)
				op.sync = LK_SYNC_NONE;
			else
				return cli_usage_error(cmd, "--sync: '%s' is "
						       "not always, interval "
						       "or none", optarg);
			break;
		case 'b':
			if (cli_parse_u64(optarg, 1, SIZE_MAX,
					  &ld.batch_max) != 0)
				return cli_usage_error(cmd, "--batch: '%s' is "
						       "not a positive "
						       "integer", optarg);
			break;
		case 'S':
			if (cli_parse_u64(optarg, 1, UINT64_MAX,
					  &op.segment_size_bytes) != 0)
				return cli_usage_error(cmd, "--segment-size: "
						       "'%s' is not a positive "
						       "integer", optarg);
			break;
		case 'M':
			if (cli_memory_bytes(cmd, optarg,
					     &op.memory_bytes_max) != CLI_OK)
				return CLI_USAGE;
			break;
		case 'h':
			return CLI_SHOW_HELP;
		default:
			return cli_bad_option(cmd, c, argv);
		}
	}
	argc -= optind;
	argv += optind;
	rc = cli_operands(cmd, argc, 1, 1, "DIR");
	if (rc != CLI_OK)
		return rc;
	ld.tty = isatty(STDERR_FILENO);
	rc = cli_open_db(&ld.db, cmd, argv[0], &op);
	if (rc != CLI_OK)
		return rc;
	st = lk_ns_open(&ld.ns, ld.db, ns_name);
	if (st == LK_OK)
		st = lk_batch_new(&ld.batch);
	if (st == LK_OK)
		st = lk_batch_new(&ld.spare);
	if (st != LK_OK)
		rc = cli_fail(cmd, st);
	else
		rc = load_lines(&ld);
	lk_batch_free(ld.batch);
	lk_batch_free(ld.spare);
	rc = cli_close_db(ld.db, cmd, rc);
	cli_progress_clear();
	if (rc == CLI_OK)
		printf("stored %" PRIu64 " records\n", ld.stored);
	else if (ld.stored > 0)
		cli_msg(cmd, "%" PRIu64 " records were stored before the error",
			ld.stored);
	return rc;
}

