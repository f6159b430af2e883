/* SPDX-License-Identifier: MIT */
/*
 * cli_stats.c - logkeep stats [--json] DIR: keys, bytes and the index per
 * namespace and per segment, with each segment's live and dead bytes drawn
 * as a bar, so that an operator sees where compaction would reclaim space.
 * Opens DIR read-only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_format.h"

#define BAR_WIDTH 40

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

static void print_text(lk_db *db, const lk_stats *st,
		       const lk_segment_info *segs, size_t nsegs)
{
	char name[LK_NS_NAME_BYTES_MAX + 1], bar[BAR_WIDTH + 1];

	printf("keys: %" PRIu64 " (index %" PRIu64 " bytes, %.1f per key)\n",
	       st->live_keys, st->index_bytes,
	       st->live_keys ? (double)st->index_bytes / (double)st->live_keys
			     : 0.0);
	printf("disk: %" PRIu64 " bytes in %u segments; live %" PRIu64
	       ", dead %" PRIu64 "\n",
	       st->disk_bytes, st->segment_count, st->live_bytes,
	       st->dead_bytes);
	printf("namespaces:\n");
	for (uint32_t ns = 1; ns <= LK_NS_COUNT_MAX; ns++) {
		uint64_t keys;

		if (lk_ns_name(name, sizeof name, db, ns) != LK_OK ||
		    lk_ns_keys(&keys, db, ns) != LK_OK)
			continue;
		printf("  %-24s %12" PRIu64 " keys\n", name, keys);
	}
	{
		size_t rewritten = 0;
		uint64_t data = st->live_bytes + st->dead_bytes;

		for (size_t i = 0; i < nsegs; i++)
			rewritten += segs[i].generation > 0;
		printf("compaction: %zu of %zu segments rewritten; %u%% of the "
		       "log is dead\n",
		       rewritten, nsegs,
		       data ? (unsigned)(st->dead_bytes * 100 / data) : 0u);
	}
	if (st->snapshot_serial)
		printf("snapshot: %016" PRIx64 ".snap, taken %" PRIu64 " s ago; "
		       "%" PRIu64 " bytes of log after it\n",
		       st->snapshot_serial, st->snapshot_age_ms / 1000,
		       st->snapshot_behind_bytes);
	else
		printf("snapshot: none; open replays all %" PRIu64 " bytes of "
		       "log\n", st->snapshot_behind_bytes);
	printf("segments (# live, . dead; SEQ.GEN after compaction):\n");
	for (size_t i = 0; i < nsegs; i++) {
		char label[32];

		if (segs[i].generation)
			snprintf(label, sizeof label, "%" PRIu64 ".%x",
				 segs[i].seq, segs[i].generation);
		else
			snprintf(label, sizeof label, "%" PRIu64, segs[i].seq);
		draw_bar(bar, &segs[i]);
		printf("  %8s%s %10" PRIu64 " bytes [%s] %3u%% live\n",
		       label, segs[i].sealed ? " " : "*",
		       segs[i].disk_bytes, bar,
		       segs[i].disk_bytes
			       ? (unsigned)(segs[i].live_bytes * 100 /
					    segs[i].disk_bytes)
			       : 0u);
	}
	printf("  (* the active segment)\n");
}

static void print_json(lk_db *db, const lk_stats *st,
		       const lk_segment_info *segs, size_t nsegs)
{
	char name[LK_NS_NAME_BYTES_MAX + 1];
	const char *sep = "";

	printf("{\"live_keys\":%" PRIu64 ",\"disk_bytes\":%" PRIu64
	       ",\"live_bytes\":%" PRIu64 ",\"dead_bytes\":%" PRIu64
	       ",\"index_bytes\":%" PRIu64 ",\"segment_count\":%u"
	       ",\"namespaces\":[",
	       st->live_keys, st->disk_bytes, st->live_bytes, st->dead_bytes,
	       st->index_bytes, st->segment_count);
	for (uint32_t ns = 1; ns <= LK_NS_COUNT_MAX; ns++) {
		uint64_t keys;

		if (lk_ns_name(name, sizeof name, db, ns) != LK_OK ||
		    lk_ns_keys(&keys, db, ns) != LK_OK)
			continue;
		printf("%s{\"id\":%u,\"name\":", sep, ns);
		json_put_string(stdout, name, strlen(name));
		printf(",\"keys\":%" PRIu64 "}", keys);
		sep = ",";
	}
	printf("],\"segments\":[");
	for (size_t i = 0; i < nsegs; i++)
		printf("%s{\"seq\":%" PRIu64 ",\"generation\":%u,\"sealed\":%s"
		       ",\"disk_bytes\":%" PRIu64 ",\"live_bytes\":%" PRIu64
		       ",\"dead_bytes\":%" PRIu64 "}",
		       i ? "," : "", segs[i].seq, segs[i].generation,
		       segs[i].sealed ? "true" : "false", segs[i].disk_bytes,
		       segs[i].live_bytes, segs[i].dead_bytes);
	printf("],\"snapshot\":");
	if (st->snapshot_serial)
		printf("{\"serial\":%" PRIu64 ",\"age_ms\":%" PRIu64
		       ",\"behind_bytes\":%" PRIu64 "}", st->snapshot_serial,
		       st->snapshot_age_ms, st->snapshot_behind_bytes);
	else
		printf("null");
	printf(",\"log_replayed_bytes\":%" PRIu64 "}\n",
	       st->snapshot_behind_bytes);
}

int cmd_stats(const char *cmd, int argc, char **argv)
{
	static lk_segment_info segs[LK_SEGMENT_COUNT_MAX];
	struct cli_open_params op = { 1, LK_SYNC_ALWAYS, 0, 0 };
	lk_db *db = NULL;
	size_t nsegs = 0;
	int first, rc, json = 0;
	const struct cli_common_opts flags = { &json, NULL };
	lk_stats st = LK_STATS_INIT;
	lk_status s;

	rc = cli_parse_args(cmd, argc, argv, &flags, 1, "DIR", &first);
	if (rc != CLI_OK)
		return rc;
	argv += first;
	rc = cli_open_db(&db, cmd, argv[0], &op);
	if (rc != CLI_OK)
		return rc;
	segs[0].version = LK_SEGMENT_INFO_VERSION;
	s = lk_stats_get(&st, db);
	if (s == LK_OK)
		s = lk_segment_list(segs, LK_SEGMENT_COUNT_MAX, &nsegs, db);
	if (s != LK_OK) {
		rc = cli_fail(cmd, s);
	} else {
		if (nsegs > LK_SEGMENT_COUNT_MAX)
			nsegs = LK_SEGMENT_COUNT_MAX;
		if (json)
			print_json(db, &st, segs, nsegs);
		else
			print_text(db, &st, segs, nsegs);
	}
	return cli_close_db(db, cmd, rc);
}
