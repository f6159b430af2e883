/* SPDX-License-Identifier: MIT */
/*
 * cli_verify.c - `logkeep verify`: runs lk_verify() on a data directory
 * and prints its problems and recovery report, as text for people or as
 * one JSON object for scripts.
 *
 * Problems are printed as the engine reports them, never stored: a
 * directory with any number of problems costs no memory.  In JSON that
 * puts "problems" first and the verdict ("ok", "status") and "report",
 * known only when lk_verify() returns, after it.
 *
 * Exit status (cli.h): 0 no problem; 1 only a torn tail (which the next
 * writing open cuts, so not damage); 3 damage (LK_CORRUPT, LK_VERSION, or
 * any problem but a torn tail); 2 no such DIR; 4 a file that cannot be
 * read, or the check could not finish; 6 more segment files than an open
 * accepts.  lk_verify's status says which, as lk_open's would.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_format.h"
#include "logkeep_mesh.h"

/* ---------------------------------------------------------------------- */
/* verify                                                                 */
/* ---------------------------------------------------------------------- */

/* A problem the tool finds above the engine: the mesh ledger's chain. */
#define CLI_PROBLEM_LEDGER 100

struct verify_out {
	int json;
	int json_open;        /* `{"problems":[` is out */
	uint64_t torn;        /* torn-tail problems */
	uint64_t damage;      /* every other problem */
};

static const char *problem_kind_name(lk_problem_kind kind)
{
	switch (kind) {
	case LK_PROBLEM_TORN_TAIL: return "torn_tail";
	case LK_PROBLEM_CORRUPT: return "corrupt";
	case LK_PROBLEM_MISSING: return "missing";
	case LK_PROBLEM_FOREIGN: return "foreign";
	case LK_PROBLEM_VERSION: return "version";
	case LK_PROBLEM_IO: return "io";
	case LK_PROBLEM_LEFTOVER: return "leftover";
	case LK_PROBLEM_SNAPSHOT: return "snapshot";
	}
	if ((int)kind == CLI_PROBLEM_LEDGER)
		return "ledger";
	return "unknown";
}

static void json_key_string(const char *key, const char *s, size_t n)
{
	printf("\"%s\":", key);
	json_put_string(stdout, s, n);
}

static void verify_json_open(struct verify_out *vo)
{
	if (!vo->json_open) {
		fputs("{\"problems\":[", stdout);
		vo->json_open = 1;
	}
}

static void verify_problem(void *arg, const lk_problem *pb)
{
	struct verify_out *vo = arg;
	const char *file, *what;
	char where[64];
	uint64_t count;
	int where_len = 0;

	assert(vo != NULL && pb != NULL);
	file = pb->file != NULL ? pb->file : "";
	what = pb->what != NULL ? pb->what : "";
	count = vo->torn + vo->damage;
	if (pb->segment_seq != 0) {
		where_len = snprintf(where, sizeof where,
				     "segment %" PRIu64 " offset %" PRIu64 ": ",
				     pb->segment_seq, pb->offset);
		/* Some sentences already start with their place: the place
		 * has its own fields and is printed once. */
		if (where_len > 0 && (size_t)where_len < sizeof where &&
		    strncmp(what, where, (size_t)where_len) == 0)
			what += where_len;
	}
	/* both are what an open repairs, not damage */
	if (pb->kind == LK_PROBLEM_TORN_TAIL ||
	    pb->kind == LK_PROBLEM_LEFTOVER)
		vo->torn++;
	else
		vo->damage++;
	if (vo->json) {
		verify_json_open(vo);
		printf("%s{\"kind\":\"%s\",\"segment\":%" PRIu64
		       ",\"offset\":%" PRIu64 ",\"seq_first\":%" PRIu64
		       ",\"seq_last\":%" PRIu64 ",",
		       count > 0 ? "," : "", problem_kind_name(pb->kind),
		       pb->segment_seq, pb->offset, pb->seq_first,
		       pb->seq_last);
		json_key_string("file", file, strlen(file));
		putchar(',');
		json_key_string("what", what, strlen(what));
		putchar('}');
		return;
	}
	/* One line per problem, whatever the bytes of a hostile file name. */
	if (pb->segment_seq != 0) {
		fputs(where, stdout);
	} else if (file[0] != '\0') {
		text_put_escaped(stdout, file, strlen(file));
		fputs(": ", stdout);
	}
	text_put_escaped(stdout, what, strlen(what));
	if (pb->seq_first != 0 && pb->seq_last == 0)
		printf(" [sequence numbers %" PRIu64 " on]", pb->seq_first);
	else if (pb->seq_first != 0)
		printf(" [sequence numbers %" PRIu64 " to %" PRIu64 "]",
		       pb->seq_first, pb->seq_last);
	putchar('\n');
}

/* The sequence number of the record at segment's offset (the ledger
 * entry where the chain breaks): 0 when it is not found. */
struct seq_at {
	uint64_t offset, seq;
};

static int seq_at_one(void *arg, const lk_log_item *it)
{
	struct seq_at *sa = arg;

	if (it->offset < sa->offset || it->kind == LK_LOG_SEGMENT)
		return 0;
	if (it->offset == sa->offset &&
	    (it->kind == LK_LOG_PUT || it->kind == LK_LOG_DEL))
		sa->seq = it->seq;
	return 1; /* at or past it: done */
}

static uint64_t seq_at(const char *dir, uint64_t segment, uint64_t offset)
{
	struct seq_at sa = { offset, 0 };

	if (segment == 0)
		return 0;
	(void)lk_log_read(dir, NULL, segment, seq_at_one, &sa);
	return sa.seq;
}

static void verify_print_json(struct verify_out *vo, lk_status st,
			      const lk_recovery_report *r)
{
	verify_json_open(vo);
	printf("],\"ok\":%s,",
	       st == LK_OK && vo->damage == 0 ? "true" : "false");
	json_key_string("status", lk_strerror(st), strlen(lk_strerror(st)));
	fputs(",\"report\":", stdout);
	cli_report_json(r);
	fputs("}\n", stdout);
}

static void verify_print_text(const struct verify_out *vo, lk_status st,
			      const lk_recovery_report *r)
{
	size_t note_len;

	printf("segments_read: %" PRIu32 "\n", r->segments_read);
	printf("records_replayed: %" PRIu64 "\n", r->records_replayed);
	printf("records_discarded: %" PRIu64 "\n", r->records_discarded);
	printf("bytes_cut: %" PRIu64 "\n", r->bytes_cut);
	printf("cut_segment_seq: %" PRIu64 "\n", r->cut_segment_seq);
	printf("cut_offset: %" PRIu64 "\n", r->cut_offset);
	printf("zero_tail_bytes: %" PRIu64 "\n", r->zero_tail_bytes);
	printf("segments_removed: %" PRIu64 "\n", r->segments_removed);
	printf("seq_last: %" PRIu64 "\n", r->seq_last);
	printf("duration_us: %" PRIu64 "\n", r->duration_us);
	note_len = strnlen(r->tail_note, sizeof r->tail_note);
	if (note_len > 0) {
		fputs("tail_note: ", stdout);
		text_put_escaped(stdout, r->tail_note, note_len);
		putchar('\n');
	}
	note_len = strnlen(r->snapshot_note, sizeof r->snapshot_note);
	if (r->snapshot_used || note_len > 0) {
		printf("snapshot_used: %s\n", r->snapshot_used ? "yes" : "no");
		fputs("snapshot_note: ", stdout);
		text_put_escaped(stdout, r->snapshot_note, note_len);
		putchar('\n');
	}
	if (st == LK_TOO_BIG)
		printf("result: beyond this logkeep's limits, an open refuses "
		       "DIR; %" PRIu64 " problem%s listed\n",
		       vo->damage + vo->torn,
		       vo->damage + vo->torn == 1 ? "" : "s");
	else if (st == LK_CORRUPT || st == LK_VERSION || vo->damage > 0)
		printf("result: damaged: %" PRIu64 " problem%s\n",
		       vo->damage + vo->torn,
		       vo->damage + vo->torn == 1 ? "" : "s");
	else if (st != LK_OK)
		printf("result: not checked to the end: %s\n", lk_strerror(st));
	else if (vo->torn > 0 && r->bytes_cut > 0)
		printf("result: torn tail: the next writing open cuts %" PRIu64
		       " bytes at segment %" PRIu64 " offset %" PRIu64 "\n",
		       r->bytes_cut, r->cut_segment_seq, r->cut_offset);
	else if (vo->torn > 0)
		printf("result: repairable: the next writing open removes %"
		       PRIu64 " leftover file%s\n",
		       vo->torn, vo->torn == 1 ? "" : "s");
	else
		puts("result: ok");
}

int cmd_verify(const char *cmd, int argc, char **argv)
{
	lk_options opts = LK_OPTIONS_INIT;
	lk_recovery_report report = LK_REPORT_INIT;
	struct verify_out vo;
	lk_status st;
	int first, rc;
	const struct cli_common_opts flags = { &vo.json, NULL, NULL };

	memset(&vo, 0, sizeof vo);
	rc = cli_parse_args(cmd, argc, argv, &flags, 1, "DIR", &first);
	if (rc != CLI_OK)
		return rc;
	argv += first;
	if (argv[0][0] == '\0')
		return cli_usage_error(cmd, "DIR is empty");
	memset(&report, 0, sizeof report);
	report.version = LK_REPORT_VERSION;
	opts.flags = LK_OPEN_READONLY;
	st = lk_verify(&report, argv[0], &opts, verify_problem, &vo);
	if (st == LK_OK && report.segments_read == 0 && vo.damage == 0 &&
	    vo.torn == 0) {
		cli_msg(cmd, "%s holds no segment file: not a logkeep data "
			"directory", argv[0]);
		return CLI_USAGE;
	}
	if (st == LK_OK) {
		/* the ledger's hash chain, when DIR holds the mesh layer */
		lk_mesh_chain_report cr;
		char what[320];

		if (cli_ledger_check(&cr, cmd, argv[0]) == 1) {
			lk_problem pb = { (lk_problem_kind)CLI_PROBLEM_LEDGER,
					  cr.broken_segment, cr.broken_offset,
					  "", what, 0, 0 };

			pb.seq_first = seq_at(argv[0], cr.broken_segment,
					      cr.broken_offset);
			pb.seq_last = pb.seq_first;

			snprintf(what, sizeof what, "ledger chain broken at "
				 "position %" PRIu64 ": %s",
				 cr.broken_position, cr.problem);
			verify_problem(&vo, &pb);
		}
	}
	if (st != LK_OK)
		rc = cli_fail_dir(cmd, st);
	/* no such DIR: nothing was read, there is no report to print */
	if ((st == LK_NOT_FOUND || st == LK_INVALID) && !vo.json_open)
		return rc;
	if (vo.json)
		verify_print_json(&vo, st, &report);
	else
		verify_print_text(&vo, st, &report);
	if (st != LK_OK)
		return rc;
	if (vo.damage > 0)
		return CLI_CORRUPT; /* the engine said ok but saw damage */
	return vo.torn > 0 ? CLI_NO : CLI_OK;
}

