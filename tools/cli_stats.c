/* SPDX-License-Identifier: MIT */
/*
 * cli_stats.c - logkeep stats [--json] DIR: what an operator asks of a
 * data directory taken off a node.  Keys and live bytes per namespace;
 * each segment's live and dead bytes drawn as a bar, so that one sees
 * where compaction would reclaim space; the index's bytes per key; the
 * compactions since the database was created (lk_stats version 5, kept by
 * the snapshot file); the snapshot the next open loads, its serial and
 * age; and the recovery report of this open (lk_recovery).  Opens DIR
 * read-only, so the report says what an open does to DIR as it is.
 *
 * Everything is gathered first (struct view), then printed as text or as
 * one JSON object, whose fields the command's manual (logkeep.c) lists.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_format.h"

#define BAR_WIDTH 40

/* One namespace that has a name. */
struct ns_view {
	uint32_t id;
	char name[LK_NS_NAME_BYTES_MAX + 1];
	lk_ns_stats st;
};

/* What stats prints, from one read-only open. */
struct view {
	lk_stats st;
	lk_recovery_report rep;
	struct ns_view ns[LK_NS_COUNT_MAX];
	size_t nns;
	lk_segment_info segs[LK_SEGMENT_COUNT_MAX];
	size_t nsegs;
};

static lk_status gather(struct view *v, lk_db *db)
{
	lk_status s;

	v->st.version = LK_STATS_VERSION;
	v->rep.version = LK_REPORT_VERSION;
	v->segs[0].version = LK_SEGMENT_INFO_VERSION;
	s = lk_stats_get(&v->st, db);
	if (s == LK_OK)
		s = lk_recovery(&v->rep, db);
	if (s == LK_OK)
		s = lk_segment_list(v->segs, LK_SEGMENT_COUNT_MAX, &v->nsegs, db);
	if (v->nsegs > LK_SEGMENT_COUNT_MAX)
		v->nsegs = LK_SEGMENT_COUNT_MAX;
	for (uint32_t id = 1; s == LK_OK && id <= LK_NS_COUNT_MAX; id++) {
		struct ns_view *n = &v->ns[v->nns];

		if (lk_ns_name(n->name, sizeof n->name, db, id) != LK_OK)
			continue; /* never registered */
		n->id = id;
		n->st.version = LK_NS_STATS_VERSION;
		s = lk_ns_stats_get(&n->st, db, id);
		v->nns++;
	}
	return s;
}

static double per_key(const lk_stats *st)
{
	return st->live_keys ? (double)st->index_bytes / (double)st->live_keys
			     : 0.0;
}

/* ---------------------------------------------------------------------- */
/* Text                                                                   */
/* ---------------------------------------------------------------------- */

/* '#' live, '.' dead, ' ' the rest (header, zero prefill). */
static void draw_bar(char bar[BAR_WIDTH + 1], const lk_segment_info *s)
{
	uint64_t disk = s->disk_bytes ? s->disk_bytes : 1;
	size_t live = (size_t)(s->live_bytes * BAR_WIDTH / disk);
	size_t dead = (size_t)(s->dead_bytes * BAR_WIDTH / disk);

	if (live + dead > BAR_WIDTH)
		dead = BAR_WIDTH - live;
	memset(bar, ' ', BAR_WIDTH);
	memset(bar, '#', live);
	memset(bar + live, '.', dead);
	bar[BAR_WIDTH] = 0;
}

static void put_note(const char *label, const char *note, size_t cap)
{
	size_t len = strnlen(note, cap);

	if (len == 0)
		return;
	printf("  %s: ", label);
	text_put_escaped(stdout, note, len);
	putchar('\n');
}

static void print_text(const struct view *v)
{
	const lk_stats *st = &v->st;
	const lk_recovery_report *r = &v->rep;
	char bar[BAR_WIDTH + 1];
	size_t rewritten = 0;
	uint64_t data = st->live_bytes + st->dead_bytes;

	printf("keys: %" PRIu64 " (index %" PRIu64 " bytes, %.1f per key)\n",
	       st->live_keys, st->index_bytes, per_key(st));
	if (st->memory_bytes_max)
		printf("memory: %" PRIu64 " bytes (index and mappings) of a "
		       "budget of %" PRIu64 " (%u%%); room for %" PRIu64
		       " more keys\n",
		       st->memory_bytes, st->memory_bytes_max,
		       (unsigned)(st->memory_bytes * 100 / st->memory_bytes_max),
		       st->memory_keys_room);
	else
		printf("memory: %" PRIu64 " bytes (index and mappings), no "
		       "budget; room for %" PRIu64 " more keys\n",
		       st->memory_bytes, st->memory_keys_room);
	printf("reads: %u segments through mappings (%" PRIu64 " bytes), %u "
	       "with pread\n",
	       st->map_segments, st->map_bytes, st->pread_segments);
	printf("disk: %" PRIu64 " bytes in %u segments; live %" PRIu64
	       ", dead %" PRIu64 "\n",
	       st->disk_bytes, st->segment_count, st->live_bytes,
	       st->dead_bytes);
	printf("namespaces (keys, live bytes):\n");
	for (size_t i = 0; i < v->nns; i++)
		printf("  %-24s %12" PRIu64 " keys %14" PRIu64 " bytes\n",
		       v->ns[i].name, v->ns[i].st.keys, v->ns[i].st.live_bytes);
	for (size_t i = 0; i < v->nsegs; i++)
		rewritten += v->segs[i].generation > 0;
	printf("compaction: %zu of %zu segments rewritten; %u%% of the log is "
	       "dead\n",
	       rewritten, v->nsegs,
	       data ? (unsigned)(st->dead_bytes * 100 / data) : 0u);
	printf("compactions since the database was created: %" PRIu64
	       " (%" PRIu64 " bytes read, %" PRIu64 " written, %" PRIu64
	       " segments removed, %" PRIu64 " records dropped)\n",
	       st->compactions_total, st->compact_bytes_read_total,
	       st->compact_bytes_written_total,
	       st->compact_segments_removed_total,
	       st->compact_records_dropped_total);
	if (st->snapshot_serial)
		printf("snapshot: %016" PRIx64 ".snap, taken %" PRIu64 " s ago "
		       "(serial %" PRIu64 ", age %" PRIu64 " ms); %" PRIu64
		       " bytes of log after it\n",
		       st->snapshot_serial, st->snapshot_age_ms / 1000,
		       st->snapshot_serial, st->snapshot_age_ms,
		       st->snapshot_behind_bytes);
	else
		printf("snapshot: none; open replays all %" PRIu64 " bytes of "
		       "log\n", st->snapshot_behind_bytes);
	printf("recovery (this read-only open): %" PRIu32 " segments read, %"
	       PRIu64 " records replayed, %" PRIu64 " discarded, %" PRIu64
	       " bytes cut, in %" PRIu64 " us; snapshot %s; overwritten keys "
	       "repointed: %" PRIu64 " by the location the record names, %"
	       PRIu64 " by reading\n",
	       r->segments_read, r->records_replayed, r->records_discarded,
	       r->bytes_cut, r->duration_us, r->snapshot_used ? "used" : "not used",
	       r->replaced_unread, r->replaced_read);
	put_note("snapshot_note", r->snapshot_note, sizeof r->snapshot_note);
	put_note("tail_note", r->tail_note, sizeof r->tail_note);
	put_note("snapshot_damaged", r->snapshot_damaged,
		 sizeof r->snapshot_damaged);
	if (r->snapshot_used)
		printf("  not read by this open: the log before the snapshot "
		       "(damage there shows to `logkeep verify` and the "
		       "scrub)\n");
	printf("segments (# live, . dead; SEQ.GEN after compaction):\n");
	for (size_t i = 0; i < v->nsegs; i++) {
		const lk_segment_info *s = &v->segs[i];
		char label[32];

		if (s->generation)
			snprintf(label, sizeof label, "%" PRIu64 ".%x", s->seq,
				 s->generation);
		else
			snprintf(label, sizeof label, "%" PRIu64, s->seq);
		draw_bar(bar, s);
		printf("  %8s%s %10" PRIu64 " bytes [%s] %3u%% live\n", label,
		       s->sealed ? " " : "*", s->disk_bytes, bar,
		       s->disk_bytes ? (unsigned)(s->live_bytes * 100 /
						  s->disk_bytes)
				     : 0u);
	}
	printf("  (* the active segment)\n");
}

/* ---------------------------------------------------------------------- */
/* JSON                                                                   */
/* ---------------------------------------------------------------------- */

static void print_json(const struct view *v)
{
	const lk_stats *st = &v->st;

	printf("{\"live_keys\":%" PRIu64 ",\"disk_bytes\":%" PRIu64
	       ",\"live_bytes\":%" PRIu64 ",\"dead_bytes\":%" PRIu64
	       ",\"index_bytes\":%" PRIu64 ",\"index_bytes_per_key\":%.1f"
	       ",\"segment_count\":%u,\"map_bytes\":%" PRIu64
	       ",\"map_segments\":%u,\"pread_segments\":%u"
	       ",\"memory_bytes\":%" PRIu64 ",\"memory_bytes_max\":%" PRIu64
	       ",\"memory_keys_room\":%" PRIu64 ",\"namespaces\":[",
	       st->live_keys, st->disk_bytes, st->live_bytes, st->dead_bytes,
	       st->index_bytes, per_key(st), st->segment_count, st->map_bytes,
	       st->map_segments, st->pread_segments, st->memory_bytes,
	       st->memory_bytes_max, st->memory_keys_room);
	for (size_t i = 0; i < v->nns; i++) {
		printf("%s{\"id\":%u,\"name\":", i ? "," : "", v->ns[i].id);
		json_put_string(stdout, v->ns[i].name, strlen(v->ns[i].name));
		printf(",\"keys\":%" PRIu64 ",\"live_bytes\":%" PRIu64 "}",
		       v->ns[i].st.keys, v->ns[i].st.live_bytes);
	}
	printf("],\"segments\":[");
	for (size_t i = 0; i < v->nsegs; i++) {
		const lk_segment_info *s = &v->segs[i];

		printf("%s{\"seq\":%" PRIu64 ",\"generation\":%u,\"sealed\":%s"
		       ",\"disk_bytes\":%" PRIu64 ",\"live_bytes\":%" PRIu64
		       ",\"dead_bytes\":%" PRIu64 "}",
		       i ? "," : "", s->seq, s->generation,
		       s->sealed ? "true" : "false", s->disk_bytes,
		       s->live_bytes, s->dead_bytes);
	}
	printf("],\"snapshot\":");
	if (st->snapshot_serial)
		printf("{\"serial\":%" PRIu64 ",\"age_ms\":%" PRIu64
		       ",\"behind_bytes\":%" PRIu64 "}", st->snapshot_serial,
		       st->snapshot_age_ms, st->snapshot_behind_bytes);
	else
		printf("null");
	printf(",\"log_replayed_bytes\":%" PRIu64
	       ",\"compaction_totals\":{\"compactions\":%" PRIu64
	       ",\"bytes_read\":%" PRIu64 ",\"bytes_written\":%" PRIu64
	       ",\"segments_removed\":%" PRIu64 ",\"records_dropped\":%" PRIu64
	       "},\"recovery\":",
	       st->snapshot_behind_bytes, st->compactions_total,
	       st->compact_bytes_read_total, st->compact_bytes_written_total,
	       st->compact_segments_removed_total,
	       st->compact_records_dropped_total);
	cli_report_json(&v->rep);
	fputs("}\n", stdout);
}

int cmd_stats(const char *cmd, int argc, char **argv)
{
	static struct view v; /* a thousand segments: not on the stack */
	struct cli_open_params op = { 1, LK_SYNC_ALWAYS, 0, 0, 0 };
	lk_db *db = NULL;
	int first, rc, json = 0;
	const struct cli_common_opts flags = { &json, NULL,
					       &op.memory_bytes_max };
	lk_status s;

	rc = cli_parse_args(cmd, argc, argv, &flags, 1, "DIR", &first);
	if (rc != CLI_OK)
		return rc;
	argv += first;
	rc = cli_open_db(&db, cmd, argv[0], &op);
	if (rc != CLI_OK)
		return rc;
	memset(&v, 0, sizeof v);
	s = gather(&v, db);
	if (s != LK_OK)
		rc = cli_fail(cmd, s);
	else if (json)
		print_json(&v);
	else
		print_text(&v);
	return cli_close_db(db, cmd, rc);
}
