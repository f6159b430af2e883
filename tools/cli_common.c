/* SPDX-License-Identifier: MIT */
/*
 * cli_common.c - what the logkeep tool's commands share: the mapping from
 * lk_status to exit status, diagnostics on stderr, argument parsing and
 * opening a data directory.  See cli.h for the contracts.
 */
#include <assert.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_format.h"
#include "logkeep_io.h"

/* ---------------------------------------------------------------------- */
/* Exit statuses                                                          */
/* ---------------------------------------------------------------------- */

/* The one mapping from an engine status to an exit status. */
int cli_exit_for(lk_status st, enum cli_origin origin)
{
	int dir = origin == CLI_FROM_DIR;

	switch (st) {
	case LK_OK:
		return CLI_OK;
	case LK_NOT_FOUND:
		return dir ? CLI_USAGE : CLI_NO; /* no such DIR; no such key */
	case LK_INVALID:
		return CLI_USAGE;
	case LK_TOO_BIG:
		return dir ? CLI_TOO_BIG : CLI_USAGE;
	case LK_CORRUPT:
	case LK_VERSION:
		return CLI_CORRUPT;
	case LK_BUSY:
		return CLI_BUSY;
	case LK_MISUSE:
	case LK_IO:
	case LK_NOSPACE:
	case LK_NOMEM:
	case LK_READONLY:
	case LK_HALTED:
	case LK_EXISTS:
	case LK_CONFLICT: /* the tool sets no conditions */
		return CLI_ERROR;
	}
	return CLI_ERROR; /* a status newer than this tool */
}

/* ---------------------------------------------------------------------- */
/* Diagnostics                                                            */
/* ---------------------------------------------------------------------- */

/* Set while `load` has a progress line on the terminal, so that a
 * diagnostic first clears it instead of being glued to its end. */
static int progress_shown;

void cli_progress_mark(void)
{
	progress_shown = 1;
}

void cli_progress_clear(void)
{
	if (progress_shown) {
		fputs("\r\033[K", stderr);
		progress_shown = 0;
	}
}

/* "logkeep: <cmd>: <message>" on stderr. */
void cli_msg(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	cli_progress_clear();
	fputs("logkeep: ", stderr);
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Reports an engine failure, with `where` ("line 7: ") between the
 * command and the status when given; the callers below return its exit
 * status.  Must be called before any other engine call replaces lk_errmsg().
 * The detail quotes file and namespace names, which may hold any bytes:
 * it is escaped like scan output, so that it stays one line and cannot
 * drive the terminal. */
static void report(const char *cmd, const char *where, lk_status st)
{
	const char *detail = lk_errmsg();

	assert(cmd != NULL && where != NULL);
	assert(st != LK_OK);
	cli_progress_clear();
	fprintf(stderr, "logkeep: %s: %s%s", cmd, where, lk_strerror(st));
	if (detail[0] != '\0') {
		fputs(": ", stderr);
		text_put_escaped(stderr, detail, strlen(detail));
	}
	fputc('\n', stderr);
}

int cli_fail_at(const char *cmd, const char *where, lk_status st)
{
	report(cmd, where, st);
	return cli_exit_for(st, CLI_FROM_CALL);
}

int cli_fail(const char *cmd, lk_status st)
{
	return cli_fail_at(cmd, "", st);
}

int cli_fail_dir(const char *cmd, lk_status st)
{
	report(cmd, "", st);
	return cli_exit_for(st, CLI_FROM_DIR);
}

/* Reports a usage error and where to find the usage; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "logkeep: %s%s", cmd != NULL ? cmd : "",
		cmd != NULL ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'logkeep %s%s--help'.\n", cmd != NULL ? cmd : "",
		cmd != NULL ? " " : "");
	return CLI_USAGE;
}

/* ---------------------------------------------------------------------- */
/* Arguments                                                              */
/* ---------------------------------------------------------------------- */

/* Parses a decimal integer in [min, max]: digits only, no sign, no
 * spaces, no overflow.  Returns 0 or -1. */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	assert(s != NULL && out != NULL);
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cli_memory_bytes(const char *cmd, const char *arg, uint64_t *out)
{
	if (cli_parse_u64(arg, 0, UINT64_MAX, out) != 0 ||
	    (*out != 0 && *out < LK_MEMORY_MIN_BYTES))
		return cli_usage_error(cmd, "--memory-bytes: '%s' is not 0 "
				       "(no budget) or a number of bytes of "
				       "at least %u", arg, LK_MEMORY_MIN_BYTES);
	return CLI_OK;
}

/* What getopt_long returned for an option it did not accept, in words. */
int cli_bad_option(const char *cmd, int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (c == ':') {
		if (optopt != 0 && optopt < 256 && strncmp(arg, "--", 2) != 0)
			return cli_usage_error(cmd, "option '-%c' needs an "
					       "argument", optopt);
		return cli_usage_error(cmd, "option '%s' needs an argument",
				       arg);
	}
	if (optopt != 0 && optopt < 256 && strncmp(arg, "--", 2) != 0)
		return cli_usage_error(cmd, "unknown option '-%c'", optopt);
	return cli_usage_error(cmd, "unknown option '%s'", arg);
}

/* The tool's clocks are the engine's, through the POSIX I/O table
 * (logkeep_io.h), so that no system call of the tool bypasses it either. */

/* Milliseconds since the epoch, the engine's unit for expiry. */
uint64_t cli_now_ms(void)
{
	const lk_io *io = lk_io_posix();

	return io->now_ms(io->ctx);
}

/* Milliseconds of a clock that never goes back, for progress and rates. */
uint64_t cli_monotonic_ms(void)
{
	const lk_io *io = lk_io_posix();

	return io->mono_us(io->ctx) / 1000u;
}

/* ---------------------------------------------------------------------- */
/* Opening                                                                */
/* ---------------------------------------------------------------------- */

/* A snapshot that the open passed over for damage (a checksum, its size)
 * changes no answer, since the log was replayed, but the medium or a
 * hand damaged a file: worth a line on stderr, which leaves the
 * command's output and exit status as they are.  A writing open removes
 * the file, unless its compaction totals came from it, which the next
 * snapshot holds (lk_recovery_report): so only a read sends the operator
 * to verify. */
static void warn_damaged_snapshot(lk_db *db, const char *cmd,
				  const char *dir, int readonly)
{
	lk_recovery_report r = LK_REPORT_INIT;

	if (lk_recovery(&r, db) != LK_OK || r.snapshot_damaged[0] == '\0')
		return;
	cli_progress_clear();
	fprintf(stderr, "logkeep: %s: warning: damaged snapshot ", cmd);
	text_put_escaped(stderr, r.snapshot_damaged,
			 strnlen(r.snapshot_damaged,
				 sizeof r.snapshot_damaged));
	fputs("; not used, nothing is lost (open read the log instead); ",
	      stderr);
	if (strcmp(cmd, "snapshot") == 0) {
		fputs("the snapshot this command writes replaces it\n",
		      stderr);
		return;
	}
	if (readonly) {
		fputs("`logkeep verify ", stderr);
		text_put_escaped(stderr, dir, strlen(dir));
		fputs("` reports it, `logkeep snapshot ", stderr);
		text_put_escaped(stderr, dir, strlen(dir));
		fputs("` replaces it\n", stderr);
		return;
	}
	fputs("this open removes it, or the next snapshot does (`logkeep "
	      "snapshot ", stderr);
	text_put_escaped(stderr, dir, strlen(dir));
	fputs("`)\n", stderr);
}

/* Opens DIR: writing commands create it, read commands open it read-only.
 * A DIR that does not exist is a bad argument (exit 2), not a "no": exit
 * status 1 from get must mean that the key is absent (cli_exit_for). */
int cli_open_db(lk_db **db, const char *cmd, const char *dir,
		const struct cli_open_params *p)
{
	lk_options opts = LK_OPTIONS_INIT;
	lk_status st;

	assert(db != NULL && dir != NULL && p != NULL);
	*db = NULL;
	if (dir[0] == '\0')
		return cli_usage_error(cmd, "DIR is empty");
	opts.flags = p->readonly     ? LK_OPEN_READONLY
		     : p->must_exist ? 0
				     : LK_OPEN_CREATE;
	opts.sync = p->sync;
	if (p->segment_size_bytes != 0)
		opts.segment_size_bytes = p->segment_size_bytes;
	opts.memory_bytes_max = p->memory_bytes_max;
	st = lk_open(db, dir, &opts);
	if (st != LK_OK)
		return cli_fail_dir(cmd, st);
	assert(*db != NULL);
	warn_damaged_snapshot(*db, cmd, dir, p->readonly);
	return CLI_OK;
}

/* Closes the handle and folds a failed close (the final sync) into the
 * command's exit status: the first failure decides it. */
int cli_close_db(lk_db *db, const char *cmd, int rc)
{
	lk_status st = lk_close(db);

	if (st != LK_OK) {
		int close_rc = cli_fail(cmd, st);

		if (rc == CLI_OK)
			rc = close_rc;
	}
	return rc;
}

int cli_operands(const char *cmd, int argc, int min, int max,
		 const char *names)
{
	if (argc >= min && argc <= max)
		return CLI_OK;
	return cli_usage_error(cmd, "expected %s, got %d argument%s", names,
			       argc, argc == 1 ? "" : "s");
}

int cli_parse_args(const char *cmd, int argc, char **argv,
	      const struct cli_common_opts *o, int operands, const char *names,
	      int *first)
{
	struct option longopts[5];
	int n = 0, c, rc;

	memset(longopts, 0, sizeof longopts);
	longopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	if (o && o->json)
		longopts[n++] = (struct option){ "json", no_argument, NULL, 'j' };
	if (o && o->ns)
		longopts[n++] = (struct option){ "namespace", required_argument,
						 NULL, 'n' };
	if (o && o->memory_bytes)
		longopts[n++] = (struct option){ "memory-bytes",
						 required_argument, NULL, 'M' };
	while ((c = getopt_long(argc, argv, o && o->ns ? "+:n:h" : "+:h",
				longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return CLI_SHOW_HELP;
		case 'j':
			*o->json = 1;
			break;
		case 'n':
			*o->ns = optarg;
			break;
		case 'M':
			rc = cli_memory_bytes(cmd, optarg, o->memory_bytes);
			if (rc != CLI_OK)
				return rc;
			break;
		default:
			return cli_bad_option(cmd, c, argv);
		}
	}
	*first = optind;
	return cli_operands(cmd, argc - optind, operands, operands, names);
}

/* ---------------------------------------------------------------------- */
/* Reports                                                                */
/* ---------------------------------------------------------------------- */

void cli_report_json(const lk_recovery_report *r)
{
	printf("{\"segments_read\":%" PRIu32 ",\"records_replayed\":%" PRIu64
	       ",\"records_discarded\":%" PRIu64 ",\"bytes_cut\":%" PRIu64
	       ",\"cut_segment_seq\":%" PRIu64 ",\"cut_offset\":%" PRIu64
	       ",\"zero_tail_bytes\":%" PRIu64
	       ",\"segments_removed\":%" PRIu64
	       ",\"compaction_leftovers\":%" PRIu64 ",\"seq_last\":%" PRIu64
	       ",\"duration_us\":%" PRIu64 ",\"replaced_unread\":%" PRIu64
	       ",\"replaced_read\":%" PRIu64 ",\"snapshot_used\":%s"
	       ",\"snapshot_note\":",
	       r->segments_read, r->records_replayed, r->records_discarded,
	       r->bytes_cut, r->cut_segment_seq, r->cut_offset,
	       r->zero_tail_bytes, r->segments_removed,
	       r->compaction_leftovers, r->seq_last, r->duration_us,
	       r->replaced_unread, r->replaced_read,
	       r->snapshot_used ? "true" : "false");
	json_put_string(stdout, r->snapshot_note,
			strnlen(r->snapshot_note, sizeof r->snapshot_note));
	fputs(",\"tail_note\":", stdout);
	json_put_string(stdout, r->tail_note,
			strnlen(r->tail_note, sizeof r->tail_note));
	fputs(",\"snapshot_damaged\":", stdout);
	json_put_string(stdout, r->snapshot_damaged,
			strnlen(r->snapshot_damaged,
				sizeof r->snapshot_damaged));
	putchar('}');
}
