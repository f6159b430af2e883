/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the commands of the logkeep tool share: the exit statuses,
 * the one mapping from lk_status to them, diagnostics, argument parsing
 * and opening a data directory (cli_common.c), and the commands' entry
 * points, which logkeep.c dispatches to.
 *
 * Files of the tool:
 *   logkeep.c      main(), the command table, the manual
 *   cli_common.c   this header's helpers
 *   cli_kv.c       put, get, del, scan
 *   cli_load.c     load
 *   cli_verify.c   verify
 *   cli_dump.c     dump
 *   cli_repair.c   repair (salvage)
 *   cli_stats.c    stats
 *   cli_compact.c  compact, snapshot
 *   cli_format.c   escaping, JSON strings and lists, the bounded line reader
 *   cli_mesh.c     node, policy, cache, history, ledger (the mesh layer)
 *   cli_import.c   import-sqlite: a predecessor's mesh_data.db (SQLite)
 *   cli_demo.c     demo: a simulated mesh node
 *   cli_out.c      YAML (libyaml) or JSON output of the mesh commands
 *   dump_record.c  the object dump prints for a record (dump, ship)
 *   cli_ship.c     ship: records to NATS JetStream (liblogkeep-ship:
 *                  ship.c, ship_nats.c, the one file with libnats)
 *   cli_fleet.c    fleet verify: every node's ledger chain, from a stream
 *   mesh_examples.c  the example policies
 *
 * Every command function takes its name (for messages) and its own argv,
 * whose argv[0] is the command; it parses options with getopt_long and
 * returns an exit status, or CLI_SHOW_HELP for -h/--help.
 */
#ifndef LK_CLI_H
#define LK_CLI_H

#include <stdint.h>

#include "logkeep.h"

/* ---------------------------------------------------------------------- */
/* Limits                                                                 */
/* ---------------------------------------------------------------------- */

/* What the tool reads before it calls the engine is bounded by the
 * engine's own limits (logkeep_limits.h); the engine checks every key and
 * value again and its LK_TOO_BIG is the final word. */
#define CLI_KEY_BYTES_MAX LK_KEY_BYTES_MAX
#define CLI_VALUE_BYTES_MAX LK_VALUE_BYTES_MAX

/* ---------------------------------------------------------------------- */
/* Exit statuses                                                          */
/* ---------------------------------------------------------------------- */

/* One code per kind of outcome, whichever command meets it (logkeep.c's
 * exit_text is the manual of this table). */
enum {
	CLI_OK = 0,      /* success */
	CLI_NO = 1,      /* the answer is no: key absent, torn tail only */
	CLI_USAGE = 2,   /* bad option, bad argument, malformed input, a DIR
			    that does not exist or is not a directory */
	CLI_CORRUPT = 3, /* damage on disk, unknown format version */
	CLI_ERROR = 4,   /* I/O (a file that cannot be read, one that is not
			    a regular file) and every other failure */
	CLI_BUSY = 5,    /* another writer holds the directory, or changed it
			    faster than a read-only open could read it */
	CLI_TOO_BIG = 6, /* DIR holds more than this logkeep opens */
};

/* What a command returns for -h/--help: main() prints its manual. */
#define CLI_SHOW_HELP (-1)

/* Where a status came from.  The same status means a different thing
 * from each: LK_NOT_FOUND from opening DIR is a DIR that is not there (a
 * bad argument), from lk_get a key that is not there (a "no"); LK_TOO_BIG
 * from opening DIR is a directory past the engine's limits (more segment
 * files than LK_SEGMENT_COUNT_MAX), from a write the user's key, value or
 * batch. */
enum cli_origin {
	CLI_FROM_DIR,  /* opening or checking DIR: lk_open, lk_verify */
	CLI_FROM_CALL, /* a call with the user's operands on an open DIR */
};

/* The one mapping from an engine status to an exit status. */
int cli_exit_for(lk_status st, enum cli_origin origin);

/* ---------------------------------------------------------------------- */
/* Diagnostics (stderr only: stdout is the command's output)              */
/* ---------------------------------------------------------------------- */

/* "logkeep: <cmd>: <message>"; cmd may be NULL. */
void cli_msg(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "logkeep: <cmd>: <where><lk_strerror>: <lk_errmsg>", where may be ""
 * or e.g. "line 7: ".  Returns cli_exit_for(st).  Call it before any other
 * engine call can replace lk_errmsg(). */
int cli_fail_at(const char *cmd, const char *where, lk_status st);
int cli_fail(const char *cmd, lk_status st);
/* The same for a status of opening or checking DIR: returns
 * cli_exit_for(st, CLI_FROM_DIR). */
int cli_fail_dir(const char *cmd, lk_status st);

/* A usage error and where to read the usage; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Checks the number of operands left after the options: min to max.
 * Returns CLI_OK, or a usage error naming them ("expected DIR KEY, got 1
 * argument"). */
int cli_operands(const char *cmd, int argc, int min, int max,
		 const char *names);

/* Explains what getopt_long rejected ('?' or ':'); returns CLI_USAGE. */
int cli_bad_option(const char *cmd, int c, char **argv);

/* The options that several commands share; a NULL member means the
 * command does not take that option (it is then an unknown option). */
struct cli_common_opts {
	int *json;       /* --json: set to 1 */
	const char **ns; /* -n NS, --namespace NS */
	uint64_t *memory_bytes; /* --memory-bytes BYTES (cli_memory_bytes) */
};

/* Reads a command's options (-h/--help and those of `o`, which may be
 * NULL), then checks for exactly `operands` operands named `names`.  On
 * CLI_OK *first is the index in argv of the first operand.  Returns
 * CLI_OK, CLI_SHOW_HELP or CLI_USAGE. */
int cli_parse_args(const char *cmd, int argc, char **argv,
	      const struct cli_common_opts *o, int operands, const char *names,
	      int *first);

/* A progress line on the terminal (load, backup) is erased by the next
 * message; the command that draws one marks it.  Redrawn at most every
 * CLI_PROGRESS_PERIOD_MS: a few times a second is readable and costs
 * nothing. */
#define CLI_PROGRESS_PERIOD_MS 250u
void cli_progress_mark(void);
void cli_progress_clear(void);

/* ---------------------------------------------------------------------- */
/* Arguments and time                                                     */
/* ---------------------------------------------------------------------- */

/* Parses a decimal integer in [min, max]: digits only, no sign, no
 * spaces, no overflow.  Returns 0 or -1. */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* --memory-bytes BYTES, the memory budget (lk_options.memory_bytes_max):
 * 0 (none) or at least LK_MEMORY_MIN_BYTES.  Returns CLI_OK or a usage
 * error. */
int cli_memory_bytes(const char *cmd, const char *arg, uint64_t *out);

/* Milliseconds since the epoch (the engine's unit for expiry), and on the
 * monotonic clock (for progress). */
uint64_t cli_now_ms(void);
uint64_t cli_monotonic_ms(void);

/* ---------------------------------------------------------------------- */
/* Opening a data directory                                               */
/* ---------------------------------------------------------------------- */

struct cli_open_params {
	int readonly;                /* get, scan: no lock, nothing changed */
	lk_sync_mode sync;
	uint64_t segment_size_bytes; /* 0: the engine's default */
	int must_exist;              /* writable, but never create DIR */
	uint64_t memory_bytes_max;   /* the memory budget; 0: none */
};

/* Opens DIR, creating it unless readonly.  Returns an exit status
 * (cli_exit_for with CLI_FROM_DIR): a DIR that does not exist is a bad
 * argument (CLI_USAGE), not a "no". */
int cli_open_db(lk_db **db, const char *cmd, const char *dir,
		const struct cli_open_params *p);

/* Closes db and folds a failed close (its final sync) into rc: the first
 * failure decides the exit status. */
int cli_close_db(lk_db *db, const char *cmd, int rc);

/* ---------------------------------------------------------------------- */
/* Reports                                                                */
/* ---------------------------------------------------------------------- */

/* Writes the recovery report as one JSON object on stdout (verify's
 * "report", stats' "recovery"): segments_read, records_replayed,
 * records_discarded, bytes_cut, cut_segment_seq, cut_offset,
 * zero_tail_bytes, segments_removed, compaction_leftovers, seq_last,
 * duration_us, snapshot_used (a boolean), snapshot_note, tail_note. */
void cli_report_json(const lk_recovery_report *r);

/* ---------------------------------------------------------------------- */
/* Commands                                                               */
/* ---------------------------------------------------------------------- */

int cmd_put(const char *cmd, int argc, char **argv);
int cmd_get(const char *cmd, int argc, char **argv);
int cmd_del(const char *cmd, int argc, char **argv);
int cmd_scan(const char *cmd, int argc, char **argv);
int cmd_load(const char *cmd, int argc, char **argv);
int cmd_verify(const char *cmd, int argc, char **argv);
int cmd_dump(const char *cmd, int argc, char **argv);
int cmd_repair(const char *cmd, int argc, char **argv);

/* The mesh ledger's hash chain in dir (cli_repair.c, used by verify
 * too): 0 no ledger there, 2 the chain holds, 1 broken (*cr says
 * where), -1 could not be checked (*cr's problem says why). */
struct lk_mesh_chain_report;
int cli_ledger_check(struct lk_mesh_chain_report *cr, const char *cmd,
		     const char *dir);
int cmd_backup(const char *cmd, int argc, char **argv);
int cmd_stats(const char *cmd, int argc, char **argv);
int cmd_compact(const char *cmd, int argc, char **argv);
int cmd_snapshot(const char *cmd, int argc, char **argv);
/* The mesh layer (cli_mesh.c, cli_demo.c). */
int cmd_node(const char *cmd, int argc, char **argv);
int cmd_policy(const char *cmd, int argc, char **argv);
int cmd_cache(const char *cmd, int argc, char **argv);
int cmd_history(const char *cmd, int argc, char **argv);
int cmd_ledger(const char *cmd, int argc, char **argv);
int cmd_demo(const char *cmd, int argc, char **argv);
/* import-sqlite (cli_import.c): exit status 4 in a build without SQLite. */
int cmd_import_sqlite(const char *cmd, int argc, char **argv);
int cmd_ship(const char *cmd, int argc, char **argv);
int cmd_fleet(const char *cmd, int argc, char **argv);

#endif /* LK_CLI_H */
