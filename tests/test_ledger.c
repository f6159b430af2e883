/* SPDX-License-Identifier: MIT */
/*
 * test_ledger.c - the audit ledger and the telemetry buffer
 * (logkeep_mesh.h): the predecessors' persistence-service suite (seeds/004,
 * 15 cases) as C tests, each named after its case, and what the ledger
 * promises beyond it: history by point reads only, one hash chain that
 * names the entry a tamperer altered or removed, entries kept by
 * compaction and reopen.
 *
 * The two "global buffer" cases (a process-wide singleton, and its reset)
 * become: the buffer belongs to its mesh handle, and closing the handle
 * flushes it, a new handle starting empty with the ids going on.
 *
 * Method: the fault-injecting layer (a settable clock).  Reads are counted
 * by an I/O table that wraps it.  Tampering rewrites the segment file
 * with the engine's own codec: a record is changed or dropped and every
 * checksum after it recomputed, so that only the hash chain can tell.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io_fault.h"
#include "logkeep_mesh.h"
#include "testutil.h"

#define DIR "/mesh"
#define T0 UINT64_C(1800000000000)

static struct fault_fs *fs;
static lk_io counting; /* the fault layer, its preads counted */
static uint64_t preads;
static lk_db *db;
static lk_mesh *mesh;
static lk_mesh_options mopts;

static lk_status count_pread(void *ctx, lk_io_file *f, void *buf, size_t n,
			     uint64_t offset, size_t *got)
{
	__atomic_fetch_add(&preads, 1, __ATOMIC_RELAXED);
	return fault_io(fs)->pread(ctx, f, buf, n, offset, got);
}

static void open_all(void)
{
	lk_options o = test_options(&counting);

	o.flags = LK_OPEN_CREATE;
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_mesh_open(&mesh, db, &mopts));
}

static void close_all(void)
{
	CHECK_OK(lk_mesh_close(mesh));
	CHECK_OK(lk_close(db));
	mesh = NULL;
	db = NULL;
}

static int setup(void **state)
{
	lk_mesh_options o = LK_MESH_OPTIONS_INIT;

	(void)state;
	CHECK_OK(fault_new(&fs, 9));
	fault_set_time_ms(fs, T0);
	counting = *fault_io(fs);
	counting.pread = count_pread;
	/* the writer sleeps an hour: the tests decide when entries go */
	o.telemetry_flush_ms = 3600u * 1000u;
	o.telemetry_batch_max = 100;
	mopts = o;
	open_all();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (mesh)
		close_all();
	fault_free(fs);
	return 0;
}

static const lk_mesh_attr attrs_a[] = {
	{ "amount", "50000" }, { "currency", "EUR" }, { "owner", "acme" },
};
static const lk_mesh_attr attrs_a_reordered[] = {
	{ "owner", "acme" }, { "amount", "50000" }, { "currency", "EUR" },
};
static const lk_mesh_attr attrs_b[] = {
	{ "amount", "50001" }, { "currency", "EUR" }, { "owner", "acme" },
};

static int save(const char *entity, const char *status,
		const lk_mesh_attr *a, size_t n)
{
	int appended;

	CHECK_OK(lk_mesh_ledger_save(mesh, entity, status, "actor-1",
				     "because", a, n, &appended));
	return appended;
}

struct hist {
	int n;
	char from[16][32], to[16][32];
	uint64_t at[16], pos[16];
	uint32_t index[16];
	char reasoning[16][64];
};

static int collect(void *arg, const lk_mesh_entry *e)
{
	struct hist *h = arg;

	if (h->n < 16) {
		snprintf(h->from[h->n], 32, "%s", e->from_status);
		snprintf(h->to[h->n], 32, "%s", e->to_status);
		snprintf(h->reasoning[h->n], 64, "%s", e->reasoning);
		h->at[h->n] = e->at_ms;
		h->pos[h->n] = e->position;
		h->index[h->n] = e->entity_index;
	}
	h->n++;
	return 0;
}

static struct hist history(const char *entity)
{
	struct hist h;

	memset(&h, 0, sizeof h);
	CHECK_OK(lk_mesh_ledger_history(mesh, entity, collect, &h));
	return h;
}

/* ---------------------------------------------------------------------- */
/* UOW persistence (seeds/004: TestUOWPersistenceService)                 */
/* ---------------------------------------------------------------------- */

static void test_content_hash_computation(void **state)
{
	int match;
	static const lk_mesh_attr dup[] = { { "a", "1" }, { "a", "2" } };

	(void)state;
	save("uow-1", "pending", attrs_a, 3);
	/* canonical: the order of the attributes does not matter */
	CHECK_OK(lk_mesh_ledger_verify_state(&match, mesh, "uow-1",
					     attrs_a_reordered, 3));
	CHECK(match == 1);
	/* any change of a value does */
	CHECK_OK(lk_mesh_ledger_verify_state(&match, mesh, "uow-1", attrs_b,
					     3));
	CHECK(match == 0);
	/* and of the set: a name-value split is not ambiguous */
	CHECK_OK(lk_mesh_ledger_verify_state(
		&match, mesh, "uow-1",
		(const lk_mesh_attr[]){ { "amount", "50000currencyEUR" },
					{ "owner", "acme" } },
		2));
	CHECK(match == 0);
	CHECK_ST(LK_INVALID, lk_mesh_ledger_save(mesh, "uow-2", "x", "a", "",
						 dup, 2, NULL));
}

static void test_history_created_on_state_change(void **state)
{
	struct hist h;

	(void)state;
	CHECK(save("uow-1", "pending", attrs_a, 3) == 1);
	fault_set_time_ms(fs, T0 + 10);
	CHECK(save("uow-1", "active", attrs_a, 3) == 1);
	h = history("uow-1");
	assert_int_equal(h.n, 2);
	CHECK(strcmp(h.from[0], "") == 0 && strcmp(h.to[0], "pending") == 0);
	CHECK(strcmp(h.from[1], "pending") == 0 &&
	      strcmp(h.to[1], "active") == 0);
	CHECK(strcmp(h.reasoning[1], "because") == 0);
	/* a change of the attributes alone is a change of state too */
	CHECK(save("uow-1", "active", attrs_b, 3) == 1);
	assert_int_equal(history("uow-1").n, 3);
}

static void test_no_history_without_change(void **state)
{
	lk_mesh_stats s;

	(void)state;
	CHECK(save("uow-1", "pending", attrs_a, 3) == 1);
	CHECK(save("uow-1", "pending", attrs_a_reordered, 3) == 0);
	CHECK(save("uow-1", "pending", attrs_a, 3) == 0);
	assert_int_equal(history("uow-1").n, 1);
	CHECK_OK(lk_mesh_stats_get(&s, mesh));
	assert_int_equal(s.ledger_entries, 1);
}

static void test_get_history_chronological(void **state)
{
	static const char *const statuses[] = { "pending", "active",
						"review", "approved",
						"closed" };
	struct hist h;

	(void)state;
	for (int i = 0; i < 5; i++) {
		fault_set_time_ms(fs, T0 + (uint64_t)i * 1000);
		save("uow-1", statuses[i], attrs_a, 3);
		save("uow-other", statuses[4 - i], attrs_b, 3);
	}
	h = history("uow-1");
	assert_int_equal(h.n, 5);
	for (int i = 0; i < 5; i++) {
		CHECK(strcmp(h.to[i], statuses[i]) == 0);
		CHECK(h.at[i] == T0 + (uint64_t)i * 1000);
		CHECK(h.index[i] == (uint32_t)i + 1);
		CHECK(h.pos[i] == (uint64_t)i * 2 + 1); /* interleaved */
	}
	CHECK_ST(LK_NOT_FOUND,
		 lk_mesh_ledger_history(mesh, "uow-none", collect, &h));
}

static void test_verify_state_hash_valid(void **state)
{
	int match = 0;

	(void)state;
	save("uow-1", "pending", attrs_a, 3);
	save("uow-1", "active", attrs_b, 3);
	CHECK_OK(lk_mesh_ledger_verify_state(&match, mesh, "uow-1", attrs_b,
					     3));
	CHECK(match == 1);
}

static void test_verify_state_hash_drift(void **state)
{
	int match = 1;

	(void)state;
	save("uow-1", "pending", attrs_a, 3);
	CHECK_OK(lk_mesh_ledger_verify_state(&match, mesh, "uow-1", attrs_b,
					     3));
	CHECK(match == 0);
	CHECK_ST(LK_NOT_FOUND, lk_mesh_ledger_verify_state(&match, mesh, "x",
							   attrs_a, 3));
}

/* ---------------------------------------------------------------------- */
/* Telemetry buffer (seeds/004: TestTelemetryBuffer)                      */
/* ---------------------------------------------------------------------- */

static lk_mesh_telemetry_stats tstats(void)
{
	lk_mesh_telemetry_stats s;

	CHECK_OK(lk_mesh_telemetry_stats_get(&s, mesh));
	return s;
}

static uint64_t stored(void)
{
	lk_mesh_stats s;

	CHECK_OK(lk_mesh_stats_get(&s, mesh));
	return s.telemetry_entries;
}

static void test_telemetry_record_entry(void **state)
{
	(void)state;
	CHECK_OK(lk_mesh_telemetry_record(mesh, LK_MESH_TELEMETRY_EVENT,
					  "router", "path recomputed"));
	assert_int_equal(tstats().pending, 1);
	CHECK_ST(LK_INVALID, lk_mesh_telemetry_record(mesh, 9, "x", "y"));
	CHECK_ST(LK_INVALID, lk_mesh_telemetry_record(
				     mesh, LK_MESH_TELEMETRY_EVENT, NULL, "y"));
}

static void test_telemetry_pending_count(void **state)
{
	(void)state;
	for (int i = 0; i < 7; i++)
		CHECK_OK(lk_mesh_telemetry_record(
			mesh, LK_MESH_TELEMETRY_EVENT, "router", "tick"));
	assert_int_equal(tstats().pending, 7);
	assert_int_equal(tstats().written, 0);
	assert_int_equal(stored(), 0);
}

static void test_telemetry_flush_to_database(void **state)
{
	(void)state;
	for (int i = 0; i < 7; i++)
		CHECK_OK(lk_mesh_telemetry_record(
			mesh, LK_MESH_TELEMETRY_EVENT, "router", "tick"));
	CHECK_OK(lk_mesh_telemetry_flush(mesh));
	assert_int_equal(tstats().pending, 0);
	assert_int_equal(tstats().written, 7);
	assert_int_equal(stored(), 7);
	/* durable: a power cut right after the flush keeps them */
	fault_cut_at(fs, 1);
	(void)lk_mesh_close(mesh);
	(void)lk_close(db);
	fault_reboot(fs, FAULT_DROP_ALL, 0, NULL);
	open_all();
	assert_int_equal(stored(), 7);
}

static void test_telemetry_batch_size(void **state)
{
	lk_mesh_options o = LK_MESH_OPTIONS_INIT;

	(void)state;
	CHECK_OK(lk_mesh_close(mesh));
	o.telemetry_flush_ms = mopts.telemetry_flush_ms;
	o.telemetry_batch_max = 10;
	CHECK_OK(lk_mesh_open(&mesh, db, &o));
	for (int i = 0; i < 25; i++)
		CHECK_OK(lk_mesh_telemetry_record(
			mesh, LK_MESH_TELEMETRY_EVENT, "router", "tick"));
	CHECK_OK(lk_mesh_telemetry_flush(mesh));
	/* 25 entries in batches of at most 10: at least 3 writes (the
	 * writer may have taken a batch as soon as 10 were queued) */
	assert_int_equal(tstats().written, 25);
	CHECK(tstats().batches >= 3);
	assert_int_equal(stored(), 25);
	o.telemetry_batch_max = 257;
	CHECK_ST(LK_INVALID, lk_mesh_open(&(lk_mesh *){ NULL }, db, &o));
}

static void test_telemetry_flush_all(void **state)
{
	(void)state;
	for (int i = 0; i < 1000; i++)
		CHECK_OK(lk_mesh_telemetry_record(
			mesh, LK_MESH_TELEMETRY_EVENT, "router", "tick"));
	CHECK_OK(lk_mesh_telemetry_flush(mesh));
	assert_int_equal(tstats().pending, 0);
	assert_int_equal(stored(), 1000);
	CHECK(tstats().batches >= 10);
}

/* Not in the predecessors' suite: a full queue refuses and counts. */
static void test_telemetry_full_queue_refuses_and_counts(void **state)
{
	lk_mesh_options o = mopts;

	(void)state;
	CHECK_OK(lk_mesh_close(mesh));
	o.telemetry_queue_max = 50;
	o.telemetry_batch_max = 200; /* never reached: the writer sleeps */
	o.telemetry_batch_max = 100;
	CHECK_OK(lk_mesh_open(&mesh, db, &o));
	for (int i = 0; i < 50; i++)
		CHECK_OK(lk_mesh_telemetry_record(
			mesh, LK_MESH_TELEMETRY_EVENT, "router", "tick"));
	for (int i = 0; i < 5; i++)
		CHECK_ST(LK_BUSY, lk_mesh_telemetry_record(
					  mesh, LK_MESH_TELEMETRY_EVENT,
					  "router", "tick"));
	assert_int_equal(tstats().refused, 5);
	assert_int_equal(tstats().pending, 50);
	CHECK_OK(lk_mesh_telemetry_flush(mesh));
	CHECK_OK(lk_mesh_telemetry_record(mesh, LK_MESH_TELEMETRY_EVENT,
					  "router", "tick"));
}

/* The writer stores entries without a flush, once a batch is queued. */
static void test_telemetry_writer_works_in_the_background(void **state)
{
	(void)state;
	for (int i = 0; i < 100; i++) /* one batch: it wakes the writer */
		CHECK_OK(lk_mesh_telemetry_record(
			mesh, LK_MESH_TELEMETRY_EVENT, "router", "tick"));
	for (int i = 0; i < 5000 && tstats().written < 100; i++) {
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL);
	}
	assert_int_equal(tstats().written, 100);
}

/* The writer sleeps on the handle's clock (here the fault layer's
 * simulated one): what is queued is stored once flush_ms has passed on
 * that clock, not before, whatever the real time.  (It slept on the real
 * clock, out of the I/O layer's reach, before lk_db_io.) */
static void test_telemetry_writer_keeps_the_handles_clock(void **state)
{
	lk_mesh_options o = mopts;

	(void)state;
	assert_null(lk_db_io(NULL));
	assert_non_null(lk_db_io(db));
	CHECK_OK(lk_mesh_close(mesh));
	o.telemetry_flush_ms = 500;
	CHECK_OK(lk_mesh_open(&mesh, db, &o));
	for (int i = 0; i < 3; i++)
		CHECK_OK(lk_mesh_telemetry_record(
			mesh, LK_MESH_TELEMETRY_EVENT, "router", "tick"));
	fault_advance_us(fs, 499 * 1000);
	assert_int_equal(tstats().written, 0);
	fault_advance_us(fs, 1000);
	assert_int_equal(tstats().written, 3);
	assert_int_equal(stored(), 3);
}

/* ---------------------------------------------------------------------- */
/* Adapters (seeds/004: TestShadowLoggerTelemetryAdapter)                 */
/* ---------------------------------------------------------------------- */

struct tele_seen {
	int n;
	uint8_t kind;
	char text[512];
};

static lk_status telemetry_last(struct tele_seen *seen)
{
	uint32_t ns;
	lk_iter *it;
	const void *k, *v;
	size_t kl, vl;
	lk_status st;

	memset(seen, 0, sizeof *seen);
	CHECK_OK(lk_ns_find(&ns, db, "mesh.telemetry"));
	CHECK_OK(lk_iter_open(&it, db, ns, "t", 1));
	while ((st = lk_iter_next(it, &k, &kl, &v, &vl, NULL)) == LK_OK) {
		const uint8_t *p = v;

		/* version kind at_ms:8 source:str8 message:str16 */
		seen->n++;
		seen->kind = p[1];
		{
			size_t sl = p[10];
			size_t ml = p[11 + sl] | (size_t)p[12 + sl] << 8;

			snprintf(seen->text, sizeof seen->text, "%.*s|%.*s",
				 (int)sl, (const char *)p + 11, (int)ml,
				 (const char *)p + 13 + sl);
		}
	}
	lk_iter_close(it);
	return st == LK_NOT_FOUND ? LK_OK : st;
}

static void test_capture_shadow_log_error(void **state)
{
	struct tele_seen seen;

	(void)state;
	CHECK_OK(lk_mesh_capture_error(mesh, "semantic_guard", "ValueError",
				       "amount is negative"));
	CHECK_OK(lk_mesh_telemetry_flush(mesh));
	CHECK_OK(telemetry_last(&seen));
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.kind, LK_MESH_TELEMETRY_ERROR);
	assert_string_equal(seen.text,
			    "semantic_guard|ValueError: amount is negative");
}

static void test_capture_guardian_decision(void **state)
{
	struct tele_seen seen;

	(void)state;
	CHECK_OK(lk_mesh_capture_decision(mesh, "uow-7", "InvoiceRouter",
					  "amount > 50000", "HighValue", 0));
	CHECK_OK(lk_mesh_telemetry_flush(mesh));
	CHECK_OK(telemetry_last(&seen));
	assert_int_equal(seen.kind, LK_MESH_TELEMETRY_DECISION);
	assert_string_equal(seen.text,
			    "InvoiceRouter|uow=uow-7 condition=amount > 50000 "
			    "decision=HighValue branch=0");
}

/* ---------------------------------------------------------------------- */
/* Global buffer (seeds/004: TestGlobalTelemetryBuffer), replaced         */
/* ---------------------------------------------------------------------- */

static void test_buffer_belongs_to_its_mesh_handle(void **state)
{
	lk_options o = test_options(&counting);
	lk_db *db2;
	lk_mesh *m2;
	lk_mesh_telemetry_stats s;

	(void)state;
	/* a second database, its own mesh: its own buffer */
	o.flags = LK_OPEN_CREATE;
	CHECK_OK(lk_open(&db2, "/other", &o));
	CHECK_OK(lk_mesh_open(&m2, db2, &mopts));
	CHECK_OK(lk_mesh_telemetry_record(mesh, LK_MESH_TELEMETRY_EVENT, "a",
					  "b"));
	CHECK_OK(lk_mesh_telemetry_stats_get(&s, m2));
	assert_int_equal(s.pending, 0);
	assert_int_equal(tstats().pending, 1);
	CHECK_OK(lk_mesh_close(m2));
	CHECK_OK(lk_close(db2));
}

static void test_buffer_reset_by_reopen(void **state)
{
	struct tele_seen seen;

	(void)state;
	for (int i = 0; i < 3; i++)
		CHECK_OK(lk_mesh_telemetry_record(
			mesh, LK_MESH_TELEMETRY_EVENT, "r", "before"));
	CHECK_OK(lk_mesh_close(mesh)); /* flushes */
	CHECK_OK(lk_mesh_open(&mesh, db, &mopts));
	assert_int_equal(tstats().pending, 0);
	assert_int_equal(tstats().written, 0);
	assert_int_equal(stored(), 3);
	CHECK_OK(lk_mesh_telemetry_record(mesh, LK_MESH_TELEMETRY_EVENT, "r",
					  "after"));
	CHECK_OK(lk_mesh_telemetry_flush(mesh));
	CHECK_OK(telemetry_last(&seen));
	/* ids go on: the new entry is the last in id order */
	assert_int_equal(seen.n, 4);
	assert_string_equal(seen.text, "r|after");
}

/* ---------------------------------------------------------------------- */
/* The ledger's own promises                                              */
/* ---------------------------------------------------------------------- */

static void fill(int entities, int per_entity, const char *prefix)
{
	static const char *const st[] = { "pending", "active", "review",
					   "approved", "closed", "archived" };

	for (int j = 0; j < per_entity; j++)
		for (int i = 0; i < entities; i++) {
			char id[32];
			lk_mesh_attr a = { "step", st[j % 6] };

			snprintf(id, sizeof id, "%s-%05d", prefix, i);
			CHECK(save(id, st[j % 6], &a, 1) == 1);
		}
}

static void test_history_reads_only_its_entity(void **state)
{
	uint64_t small, large;

	(void)state;
	fill(10, 5, "e");
	preads = 0;
	assert_int_equal(history("e-00003").n, 5);
	small = preads;
	fill(1000, 5, "bulk"); /* 5,000 more entries, in other entities */
	preads = 0;
	assert_int_equal(history("e-00003").n, 5);
	large = preads;
	print_message("history of 5 entries: %llu reads in a ledger of 50, "
		      "%llu in one of 5,050\n",
		      (unsigned long long)small, (unsigned long long)large);
	assert_int_equal(large, small);
	CHECK(small <= 2 * (5 + 1)); /* a point read each, at most 2 preads */
}

/* Reopens with small segments, so that compaction has sealed ones to
 * rewrite; returns the options used. */
static lk_options reopen_small_segments(void)
{
	lk_options o = test_options(&counting);

	close_all();
	o.segment_size_bytes = 64 * 1024;
	o.flags = LK_OPEN_CREATE;
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_mesh_open(&mesh, db, &mopts));
	return o;
}

static void test_chain_holds_and_survives_compaction_and_reopen(void **state)
{
	lk_mesh_chain_report rep;
	lk_options o;
	struct hist before, after;
	lk_mesh_stats s;

	(void)state;
	o = reopen_small_segments();
	fill(200, 6, "c");
	/* churn beside the ledger: dead records for compaction to drop */
	for (int i = 0; i < 3000; i++)
		CHECK_OK(lk_mesh_cache_set(mesh, "a", "b", (uint32_t)(i % 10),
					   "bundle", 6, 0));
	before = history("c-00100");
	CHECK_OK(lk_mesh_ledger_verify_chain(&rep, mesh, NULL, NULL));
	assert_int_equal(rep.entries, 1200);
	CHECK_OK(lk_mesh_vacuum(mesh));
	{
		lk_stats ds = LK_STATS_INIT;

		CHECK_OK(lk_stats_get(&ds, db));
		CHECK(ds.compactions > 0);
	}
	CHECK_OK(lk_mesh_close(mesh));
	CHECK_OK(lk_close(db));
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_mesh_open(&mesh, db, &mopts));
	after = history("c-00100");
	CHECK(memcmp(&before, &after, sizeof before) == 0);
	CHECK_OK(lk_mesh_ledger_verify_chain(&rep, mesh, NULL, NULL));
	assert_int_equal(rep.entries, 1200);
	CHECK_OK(lk_mesh_stats_get(&s, mesh));
	assert_int_equal(s.ledger_entries, 1200);
	assert_int_equal(s.ledger_entities, 200);
}

/* Rewrites segment `name` record by record with the engine's codec:
 * edit() may change a record's value bytes (same length) or return 1 to
 * drop it; every record after is re-encoded at its new offset with a new
 * checksum, commit counts and durable_upto follow.  The file is the
 * active segment (no seal).  Returns how many records edit() touched. */
typedef int (*edit_fn)(void *arg, struct record *rec, uint8_t *value);

static int rewrite_segment(const char *name, edit_fn edit, void *arg)
{
	const lk_io *io = fault_io(fs);
	struct blob in = file_read(io, DIR, name);
	uint8_t *out = calloc(1, in.n + 64);
	uint8_t hdr[SEG_HEADER_BYTES];
	struct segment seg;
	const char *why;
	size_t pos = SEG_HEADER_BYTES, at = SEG_HEADER_BYTES;
	uint64_t group_dropped = 0, dropped_bytes = 0, dropped_at = 0;
	int touched = 0;

	memcpy(hdr, in.p, sizeof hdr);
	memset(&seg, 0, sizeof seg);
	CHECK_OK(seg_header_decode(&seg.hdr, hdr, &why));
	seg.db_seed = record_hash(seg.hdr.db_id, SEG_DB_ID_BYTES, 0);
	memcpy(out, in.p, SEG_HEADER_BYTES);
	while (pos < in.n) {
		struct record rec;
		uint8_t value[LK_VALUE_BYTES_MAX < 65536 ? 65536 : 65536];
		int drop = 0;

		if (record_decode(&rec, (uint8_t *)in.p + pos, in.n - pos,
				  seg.hdr.record_seq_base,
				  seg_seed(&seg, pos), &why) != LK_OK)
			break; /* the zero tail */
		CHECK(rec.type != REC_SEAL);
		if (rec.type == REC_PUT && rec.value_len <= sizeof value) {
			memcpy(value, rec.value, rec.value_len);
			drop = edit(arg, &rec, value);
			if (memcmp(value, rec.value, rec.value_len) != 0 ||
			    drop)
				touched++;
			rec.value = value;
		}
		if (drop) {
			group_dropped++;
			dropped_bytes += rec.size;
			dropped_at = pos;
			pos += rec.size;
			continue;
		}
		if (rec.type == REC_COMMIT) {
			rec.count -= group_dropped;
			group_dropped = 0;
			if (dropped_bytes && rec.durable_upto > dropped_at)
				rec.durable_upto -= (uint32_t)dropped_bytes;
		}
		pos += rec.size;
		at += record_encode(out + at, &rec, seg.hdr.record_seq_base,
				    seg_seed(&seg, at));
	}
	file_write(io, DIR, name, out, at);
	free(out);
	free(in.p);
	return touched;
}

static const char *tamper_entity;
static uint32_t tamper_index;

/* The entry value: version, position:8, index:4, at:8, entity:str8,
 * from:str8, to:str8, actor:str8, reasoning:str16 ... */
static int is_target(const struct record *rec)
{
	const uint8_t *k = rec->key;
	size_t el = strlen(tamper_entity);

	return rec->key_len == 1 + el + 1 + 4 && k[0] == 'e' &&
	       memcmp(k + 1, tamper_entity, el) == 0 &&
	       k[1 + el + 4] == (uint8_t)tamper_index;
}

static int alter_reasoning(void *arg, struct record *rec, uint8_t *v)
{
	size_t at = 1 + 8 + 4 + 8;

	(void)arg;
	if (!is_target(rec))
		return 0;
	for (int f = 0; f < 4; f++) /* entity, from, to, actor */
		at += 1 + v[at];
	at += 2;            /* the reasoning's length */
	v[at] ^= 0x20;      /* "because" -> "Because" */
	return 0;
}

static int drop_entry(void *arg, struct record *rec, uint8_t *v)
{
	(void)arg;
	(void)v;
	return is_target(rec);
}

/* A change feed of the ledger's namespace after compaction (issue 13's
 * shipper reads it so): every entry and every chain link comes, the
 * links at positions 1, 2, 3, ... in order, while the heads overwritten
 * by each append were dropped and come as gaps. */
static void test_a_feed_of_the_ledger_keeps_every_entry(void **state)
{
	lk_feed_item it = LK_FEED_ITEM_INIT;
	uint64_t entries = 0, links = 0, gaps = 0;
	uint32_t ns;
	lk_feed *f;
	lk_status st;

	(void)state;
	(void)reopen_small_segments();
	fill(200, 6, "f");
	CHECK_OK(lk_mesh_vacuum(mesh));
	CHECK_OK(lk_ns_find(&ns, db, "mesh.ledger"));
	CHECK_OK(lk_feed_open(&f, db, 0, &ns, 1));
	while ((st = lk_feed_next(&it, f)) == LK_OK) {
		const uint8_t *k = it.key;
		uint64_t pos = 0;

		if (it.kind == LK_FEED_GAP) {
			gaps++;
			continue;
		}
		CHECK(it.kind == LK_FEED_PUT && it.ns == ns);
		entries += k[0] == 'e';
		if (k[0] != 'c')
			continue;
		CHECK(it.key_len == 9);
		for (int i = 1; i < 9; i++)
			pos = pos << 8 | k[i];
		CHECK(pos == ++links);
	}
	CHECK_ST(LK_NOT_FOUND, st);
	lk_feed_close(f);
	assert_int_equal(entries, 1200);
	assert_int_equal(links, 1200);
	CHECK(gaps > 0); /* the old heads */
}

static void test_tampered_reasoning_names_the_entry(void **state)
{
	lk_mesh_chain_report rep;
	struct hist h;

	(void)state;
	fill(5, 4, "t"); /* 20 entries; t-00002's 3rd is position 13 */
	CHECK_OK(lk_mesh_ledger_verify_chain(&rep, mesh, NULL, NULL));
	close_all();
	tamper_entity = "t-00002";
	tamper_index = 3;
	assert_int_equal(rewrite_segment("0000000000000001.seg",
					 alter_reasoning, NULL),
			 1);
	open_all(); /* every record checks: only the chain can tell */
	h = history("t-00002");
	assert_string_equal(h.reasoning[2], "Because");
	CHECK_ST(LK_CORRUPT,
		 lk_mesh_ledger_verify_chain(&rep, mesh, NULL, NULL));
	print_message("%s\n", lk_errmsg());
	assert_int_equal(rep.broken_position, 13);
	assert_int_equal(rep.entries, 12);
	assert_int_equal(rep.broken_segment, 1);
	CHECK(rep.broken_offset > 0);
	CHECK(strstr(rep.problem, "altered") != NULL);
	CHECK(strstr(lk_errmsg(), "entry 13") != NULL);
}

static void test_tampered_last_entry_is_named_too(void **state)
{
	lk_mesh_chain_report rep;

	(void)state;
	fill(5, 4, "t");
	close_all();
	tamper_entity = "t-00004";
	tamper_index = 4; /* position 20, the last */
	assert_int_equal(rewrite_segment("0000000000000001.seg",
					 alter_reasoning, NULL),
			 1);
	open_all();
	CHECK_ST(LK_CORRUPT,
		 lk_mesh_ledger_verify_chain(&rep, mesh, NULL, NULL));
	assert_int_equal(rep.broken_position, 20);
}

static void test_removed_entry_names_the_gap(void **state)
{
	lk_mesh_chain_report rep;

	(void)state;
	fill(5, 4, "t");
	close_all();
	tamper_entity = "t-00002";
	tamper_index = 3; /* position 13 */
	assert_int_equal(rewrite_segment("0000000000000001.seg", drop_entry,
					 NULL),
			 1);
	open_all();
	CHECK_ST(LK_CORRUPT,
		 lk_mesh_ledger_verify_chain(&rep, mesh, NULL, NULL));
	print_message("%s\n", lk_errmsg());
	assert_int_equal(rep.broken_position, 13);
	CHECK(strstr(rep.problem, "missing") != NULL);
	/* and history says which of the entity's entries is gone */
	CHECK_ST(LK_CORRUPT,
		 lk_mesh_ledger_history(mesh, "t-00002", collect,
					&(struct hist){ 0 }));
	CHECK(strstr(lk_errmsg(), "entry 3 of 4") != NULL);
}

/* Regressions from the review: the heads were outside the chain. */
static uint32_t ledger_ns(void)
{
	uint32_t ns;

	CHECK_OK(lk_ns_find(&ns, db, "mesh.ledger"));
	return ns;
}

struct last_hash {
	uint8_t hash[32], content[32];
	uint32_t want;
};

static int grab(void *arg, const lk_mesh_entry *e)
{
	struct last_hash *l = arg;

	if (e->entity_index == l->want) {
		memcpy(l->hash, e->hash, 32);
		memcpy(l->content, e->content_hash, 32);
	}
	return 0;
}

static void test_rolled_back_head_is_named(void **state)
{
	struct last_hash l = { .want = 2 };
	lk_mesh_chain_report rep;
	uint8_t v[1 + 8 + 8 + 32];

	(void)state;
	save("e1", "a", attrs_a, 3);
	save("e1", "b", attrs_a, 3);
	save("e1", "c", attrs_a, 3);
	CHECK_OK(lk_mesh_ledger_history(mesh, "e1", grab, &l));
	/* the head says 2 entries, ending at entry 2: no hash to recompute */
	memset(v, 0, sizeof v);
	v[0] = 1;
	v[1] = 2;  /* entries, u64 le */
	v[9] = 1;  /* entities */
	memcpy(v + 17, l.hash, 32);
	CHECK_OK(lk_put(db, ledger_ns(), "H", 1, v, sizeof v, 0));
	CHECK_ST(LK_CORRUPT,
		 lk_mesh_ledger_verify_chain(&rep, mesh, NULL, NULL));
	assert_int_equal(rep.broken_position, 3);
	CHECK(strstr(rep.problem, "rolled back") != NULL);
}

static void test_forged_entity_head_is_caught(void **state)
{
	static const char status[] = "c";
	struct last_hash l = { .want = 1 };
	lk_mesh_chain_report rep;
	uint8_t v[1 + 4 + 1 + 1 + 32];
	int match = 7;

	(void)state;
	save("e1", "a", attrs_a, 3);
	save("e1", "b", attrs_b, 3);
	save("e1", "c", attrs_b, 3);
	CHECK_OK(lk_mesh_ledger_history(mesh, "e1", grab, &l));
	/* the head of e1 claims the first entry's attributes */
	v[0] = 1;
	v[1] = 3;
	v[2] = v[3] = v[4] = 0;
	v[5] = 1;
	v[6] = (uint8_t)status[0];
	memcpy(v + 7, l.content, 32);
	CHECK_OK(lk_put(db, ledger_ns(), "he1", 3, v, sizeof v, 0));
	CHECK_ST(LK_CORRUPT, lk_mesh_ledger_verify_state(&match, mesh, "e1",
							 attrs_a, 3));
	CHECK(match == 7);
	CHECK(strstr(lk_errmsg(), "head") != NULL);
	CHECK_ST(LK_CORRUPT,
		 lk_mesh_ledger_verify_chain(&rep, mesh, NULL, NULL));
	assert_int_equal(rep.broken_position, 3);
}

static void test_unreadable_chain_link_is_named(void **state)
{
	static const uint8_t key[] = { 'c', 0, 0, 0, 0, 0, 0, 0, 1 };
	static const uint8_t junk[] = { 1, 1, 0, 0, 0, 200 };
	lk_mesh_chain_report rep;

	(void)state;
	save("e1", "a", attrs_a, 3);
	CHECK_OK(lk_put(db, ledger_ns(), key, sizeof key, junk, sizeof junk,
			0));
	CHECK_ST(LK_CORRUPT,
		 lk_mesh_ledger_verify_chain(&rep, mesh, NULL, NULL));
	assert_int_equal(rep.broken_position, 1);
	CHECK(rep.broken_segment != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_content_hash_computation),
		T(test_history_created_on_state_change),
		T(test_no_history_without_change),
		T(test_get_history_chronological),
		T(test_verify_state_hash_valid),
		T(test_verify_state_hash_drift),
		T(test_telemetry_record_entry),
		T(test_telemetry_pending_count),
		T(test_telemetry_flush_to_database),
		T(test_telemetry_batch_size),
		T(test_telemetry_flush_all),
		T(test_telemetry_full_queue_refuses_and_counts),
		T(test_telemetry_writer_works_in_the_background),
		T(test_telemetry_writer_keeps_the_handles_clock),
		T(test_capture_shadow_log_error),
		T(test_capture_guardian_decision),
		T(test_buffer_belongs_to_its_mesh_handle),
		T(test_buffer_reset_by_reopen),
		T(test_history_reads_only_its_entity),
		T(test_chain_holds_and_survives_compaction_and_reopen),
		T(test_a_feed_of_the_ledger_keeps_every_entry),
		T(test_tampered_reasoning_names_the_entry),
		T(test_tampered_last_entry_is_named_too),
		T(test_removed_entry_names_the_gap),
		T(test_rolled_back_head_is_named),
		T(test_forged_entity_head_is_caught),
		T(test_unreadable_chain_link_is_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
