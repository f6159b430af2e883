/* SPDX-License-Identifier: MIT */
/*
 * test_snapshot.c - index snapshots (SPEC §5, §6): an open that loads one
 * finds what a full replay finds; a snapshot that is damaged, foreign or
 * no longer matches the log is ignored with its reason and the log is
 * replayed; a power cut anywhere in writing one loses nothing.
 *
 * Method: random workloads (puts of every size, overwrites, deletes,
 * expiring keys, three namespaces, batches, compactions) on the in-memory
 * layer with 4 KiB segments, snapshots taken at random points, then two
 * opens of the same files: one with the snapshot, one with the snapshot
 * files hidden (a full replay).  Both must give the same answers to every
 * get, the same iteration of every namespace, the same stats and the same
 * live and dead bytes per segment and per namespace, and match the model;
 * each namespace's live bytes (lk_ns_stats_get) must be the sizes of the
 * records its index entries point at, read back and decoded
 * (check_ns_bytes), in both opens and in the writing handle after every
 * round of writes and every compaction.  Damage is done to
 * the snapshot file through the I/O layer; power cuts on the fault layer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "endian.h"
#include "io_fault.h"
#include "segtable.h"
#include "snapshot.h"
#include "testutil.h"

#define DIR "/db"
#define NKEYS 200
#define NSPACES 3
#define T0_MS UINT64_C(1800000000000)

/* The model: the value seed of each (namespace, key), or -1 (absent),
 * and its expiry. */
static int model[NSPACES][NKEYS];
static uint64_t model_exp[NSPACES][NKEYS];
static uint32_t ns_ids[NSPACES];
static uint64_t now_ms = T0_MS;

static void key_of(char k[32], int i)
{
	snprintf(k, 32, "key-%05d", i);
}

/* Values from 0 bytes to 6 KiB, some compressible, from a seed.  The
 * large ones are noise, which zstd cannot shrink, so that their records
 * pass the index's 4095-byte size field. */
static size_t value_of(uint8_t *v, int seed)
{
	size_t n = (size_t)(seed * 131 % 997);
	uint64_t x = (uint64_t)seed * 0x9e3779b97f4a7c15u | 1;

	if (seed % 17 == 0)
		n = 4000 + (size_t)(seed % 2200);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v[i] = seed % 17 == 0 ? (uint8_t)(x >> 56)
		       : seed % 3 == 0 ? (uint8_t)('a' + i % 4)
				       : (uint8_t)(seed * 7 + (int)i * 13);
	}
	return n;
}

static void model_reset(void)
{
	for (int n = 0; n < NSPACES; n++)
		for (int i = 0; i < NKEYS; i++)
			model[n][i] = -1;
}

static int live_in_model(int n, int i)
{
	return model[n][i] >= 0 && (model_exp[n][i] == 0 ||
				    model_exp[n][i] > now_ms);
}

static void open_spaces(lk_db *db)
{
	static const char *names[NSPACES] = { "default", "nodes", "paths" };

	for (int n = 0; n < NSPACES; n++)
		CHECK_OK(lk_ns_open(&ns_ids[n], db, names[n]));
}

/* `count` random writes, some in batches. */
static void churn(lk_db *db, int count, uint64_t seed)
{
	static uint8_t v[8192];
	lk_batch *b;
	char k[32];

	CHECK_OK(lk_batch_new(&b));
	for (int i = 0; i < count; i++) {
		uint64_t r = (seed * 1000003u + (uint64_t)i) *
			     0x9e3779b97f4a7c15u;
		int key = (int)((r >> 20) % NKEYS), n = (int)((r >> 50) % NSPACES);
		int in_batch = (r >> 12) % 4 == 0;
		uint64_t exp = 0;

		key_of(k, key);
		if ((r >> 40) % 6 == 0) {
			if (in_batch)
				CHECK_OK(lk_batch_del(b, ns_ids[n], k, strlen(k)));
			else
				CHECK_OK(lk_del(db, ns_ids[n], k, strlen(k)));
			model[n][key] = -1;
		} else {
			int s = (int)((r >> 8) % 100000);
			size_t len = value_of(v, s);

			if ((r >> 30) % 5 == 0)
				exp = now_ms + 1000 * ((r >> 33) % 4);
			if (in_batch)
				CHECK_OK(lk_batch_put(b, ns_ids[n], k, strlen(k),
						      v, len, exp));
			else
				CHECK_OK(lk_put(db, ns_ids[n], k, strlen(k), v,
						len, exp));
			model[n][key] = s;
			model_exp[n][key] = exp;
		}
		if (lk_batch_count(b) >= 8 || (!in_batch && lk_batch_count(b)))
			CHECK_OK(lk_commit(db, b));
	}
	CHECK_OK(lk_commit(db, b));
	lk_batch_free(b);
}

static void check_model(lk_db *db)
{
	static uint8_t v[8192];
	char k[32];

	for (int n = 0; n < NSPACES; n++) {
		for (int i = 0; i < NKEYS; i++) {
			void *got = NULL;
			size_t len = 0;
			lk_status st;

			key_of(k, i);
			st = lk_get(&got, &len, db, ns_ids[n], k, strlen(k));
			if (!live_in_model(n, i)) {
				CHECK_ST(LK_NOT_FOUND, st);
				continue;
			}
			CHECK_OK(st);
			CHECK(len == value_of(v, model[n][i]) &&
			      memcmp(got, v, len) == 0);
			lk_free(got);
		}
	}
}

/* ---- each namespace's live bytes against its records ---- */

struct sizes {
	struct lk_db *db;
	uint64_t bytes;
	lk_status st;
};

static void add_record_size(void *arg, uint8_t ns, struct ix_loc loc,
			    int expiring)
{
	struct sizes *z = arg;
	struct record rec;
	uint8_t *buf = NULL;

	(void)ns;
	(void)expiring;
	if (z->st != LK_OK)
		return;
	z->st = segtable_read(z->db, loc, &rec, &buf);
	if (z->st == LK_OK)
		z->bytes += rec.size;
	mem_free(buf);
}

/* The oracle: the sizes of the records that namespace ns's index entries
 * point at, each read from its segment and decoded (no counter of the
 * engine's is used). */
static uint64_t records_bytes(lk_db *db, uint8_t ns)
{
	struct sizes z = { db, 0, LK_OK };

	segtable_rdlock(db);
	index_foreach(segtable_index(db), ns, add_record_size, &z);
	segtable_unlock(db);
	CHECK_OK(z.st);
	return z.bytes;
}

/* Each namespace's live bytes (lk_ns_stats_get) are the sizes of its
 * live records, expired ones the index still holds included, and with
 * the catalog's they add up to the live bytes of lk_stats. */
static void check_ns_bytes(lk_db *db)
{
	lk_stats st = LK_STATS_INIT;
	uint64_t sum = records_bytes(db, 0);

	CHECK(segtable_ns_bytes(db, 0) == sum);
	for (uint32_t id = 1; id <= LK_NS_COUNT_MAX; id++) {
		lk_ns_stats ns = LK_NS_STATS_INIT;
		uint64_t want = records_bytes(db, (uint8_t)id);

		CHECK_OK(lk_ns_stats_get(&ns, db, id));
		if (ns.live_bytes != want)
			fprintf(stderr, "namespace %u: %" PRIu64 " live bytes, "
				"its records %" PRIu64 "\n", id, ns.live_bytes,
				want);
		CHECK(ns.live_bytes == want);
		CHECK(ns.ns == id);
		sum += want;
	}
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(sum == st.live_bytes);
}

/* Everything an open's index determines, folded to compare two opens. */
struct state {
	lk_stats st;
	uint64_t iter_hash[NSPACES], iter_count[NSPACES];
	size_t nsegs;
	lk_segment_info segs[512];
	uint64_t index_keys[NSPACES];
	uint64_t ns_bytes[NSPACES];
};

static uint64_t fold(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3u;
	return h;
}

static void collect(lk_db *db, struct state *s)
{
	memset(s, 0, sizeof *s);
	s->st.version = LK_STATS_VERSION;
	s->segs[0].version = LK_SEGMENT_INFO_VERSION;
	CHECK_OK(lk_stats_get(&s->st, db));
	CHECK_OK(lk_segment_list(s->segs, 512, &s->nsegs, db));
	CHECK(s->nsegs <= 512);
	for (int n = 0; n < NSPACES; n++) {
		const void *k, *v;
		size_t kl, vl;
		uint64_t exp, h = 0xcbf29ce484222325u;
		lk_iter *it;
		lk_status st;

		lk_ns_stats nst = LK_NS_STATS_INIT;

		CHECK_OK(lk_ns_keys(&s->index_keys[n], db, ns_ids[n]));
		CHECK_OK(lk_ns_stats_get(&nst, db, ns_ids[n]));
		s->ns_bytes[n] = nst.live_bytes;
		CHECK_OK(lk_iter_open(&it, db, ns_ids[n], NULL, 0));
		while ((st = lk_iter_next(it, &k, &kl, &v, &vl, &exp)) == LK_OK) {
			h = fold(h, k, kl);
			h = fold(h, v, vl);
			h = fold(h, &exp, sizeof exp);
			s->iter_count[n]++;
		}
		CHECK_ST(LK_NOT_FOUND, st);
		lk_iter_close(it);
		s->iter_hash[n] = h;
	}
}

static void same_state(const struct state *a, const struct state *b)
{
	CHECK(a->st.live_keys == b->st.live_keys);
	CHECK(a->st.live_bytes == b->st.live_bytes);
	CHECK(a->st.dead_bytes == b->st.dead_bytes);
	CHECK(a->st.disk_bytes == b->st.disk_bytes);
	CHECK(a->st.seq_last == b->st.seq_last);
	CHECK(a->st.segment_count == b->st.segment_count);
	CHECK(a->nsegs == b->nsegs);
	for (size_t i = 0; i < a->nsegs; i++) {
		CHECK(a->segs[i].seq == b->segs[i].seq);
		CHECK(a->segs[i].generation == b->segs[i].generation);
		CHECK(a->segs[i].sealed == b->segs[i].sealed);
		CHECK(a->segs[i].live_bytes == b->segs[i].live_bytes);
		CHECK(a->segs[i].dead_bytes == b->segs[i].dead_bytes);
	}
	for (int n = 0; n < NSPACES; n++) {
		CHECK(a->index_keys[n] == b->index_keys[n]);
		CHECK(a->ns_bytes[n] == b->ns_bytes[n]);
		CHECK(a->iter_count[n] == b->iter_count[n]);
		CHECK(a->iter_hash[n] == b->iter_hash[n]);
	}
}

/* ---- files ---- */

struct names {
	char v[16][64];
	int n;
};

static lk_status snap_names_one(void *arg, const char *name)
{
	struct names *l = arg;
	uint64_t serial;
	int tmp;

	if (snapshot_parse_name(name, &serial, &tmp) && l->n < 16)
		snprintf(l->v[l->n++], 64, "%s", name);
	return LK_OK;
}

static void snap_files(const lk_io *io, struct names *l)
{
	lk_io_dir *dir;

	memset(l, 0, sizeof *l);
	CHECK_OK(io->dir_open(io->ctx, DIR, 0, &dir));
	CHECK_OK(io->dir_list(io->ctx, dir, snap_names_one, l));
	io->dir_close(io->ctx, dir);
}

/* The one snapshot file's name. */
static void the_snapshot(const lk_io *io, char name[64])
{
	struct names l;

	snap_files(io, &l);
	CHECK(l.n == 1);
	snprintf(name, 64, "%s", l.v[0]);
}

static void rename_file(const lk_io *io, const char *from, const char *to)
{
	lk_io_dir *dir;

	CHECK_OK(io->dir_open(io->ctx, DIR, 0, &dir));
	CHECK_OK(io->rename(io->ctx, dir, from, to));
	io->dir_close(io->ctx, dir);
}

static uint64_t size_of(const lk_io *io, const char *name)
{
	struct blob b = file_read(io, DIR, name);

	free(b.p);
	return b.n;
}

static uint64_t u64_at(const lk_io *io, const char *name, uint64_t off)
{
	struct blob b = file_read(io, DIR, name);
	uint64_t v;

	CHECK(off + 8 <= b.n);
	v = get_u64(b.p + off);
	free(b.p);
	return v;
}

/* An empty file system in memory, its clock and the model at T0_MS. */
static lk_io *fresh_io(void)
{
	lk_io *io;

	model_reset();
	now_ms = T0_MS;
	CHECK_OK(lk_io_memory_new(&io));
	lk_io_memory_set_time_ms(io, now_ms);
	return io;
}

static lk_options options(const lk_io *io, uint64_t every)
{
	lk_options o = test_options(io);

	o.segment_size_bytes = 4096;
	o.snapshot_every_bytes = every;
	return o;
}

static void open_checked(lk_db **db, const lk_options *o,
			 lk_recovery_report *rep)
{
	CHECK_OK(lk_open(db, DIR, o));
	CHECK_OK(lk_recovery(rep, *db));
	open_spaces(*db);
}

/* Opens, checks the model and whether a snapshot was used, and closes.
 * Returns the records replayed. */
static uint64_t reopen_check(const lk_options *o, int used)
{
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *db;

	open_checked(&db, o, &rep);
	CHECK(rep.snapshot_used == used);
	check_model(db);
	CHECK_OK(lk_close(db));
	return rep.records_replayed;
}

static void count_problem(void *arg, const lk_problem *p)
{
	fprintf(stderr, "problem: %s: %s\n", p->file ? p->file : "-", p->what);
	++*(int *)arg;
}

/* ---- tests ---- */

/* For random workloads: the open that loads a snapshot and the open that
 * replays everything agree with each other and with the model. */
static void snapshot_load_equals_full_replay(void **state)
{
	uint64_t used = 0, replayed_after = 0, compactions = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= 40; seed++) {
		struct state a, b;
		lk_recovery_report rep = LK_REPORT_INIT;
		struct names files;
		lk_options o;
		lk_io *io;
		lk_db *db;

		io = fresh_io();
		/* odd seeds: loads in two parts; even ones, in one */
		snapshot_split_keys_min(seed % 2 ? 1 : 0);
		/* odd seeds: automatic snapshots (after compactions, at
		 * close); even ones: only lk_snapshot() */
		o = options(io, seed % 2 ? LK_SNAPSHOT_EVERY_MIN_BYTES : 0);
		open_checked(&db, &o, &rep);
		for (int round = 0; round < 6; round++) {
			uint64_t r = (seed * 31 + (uint64_t)round) *
				     0x2545f4914f6cdd1du;

			churn(db, 60 + (int)(r >> 58), seed * 100 + (uint64_t)round);
			check_ns_bytes(db);
			if ((r >> 20) % 3 == 0) {
				CHECK_OK(lk_compact(db));
				check_ns_bytes(db);
				compactions++;
			}
			if ((r >> 30) % 2 == 0)
				CHECK_OK(lk_snapshot(db));
			if ((r >> 40) % 3 == 0) { /* time passes */
				now_ms += 1500;
				lk_io_memory_set_time_ms(io, now_ms);
			}
		}
		CHECK_OK(lk_snapshot(db));
		churn(db, (int)(seed % 5) * 30, seed * 977); /* replayed */
		if (seed % 3 == 0) { /* a namespace the snapshot lacks */
			uint32_t late;

			CHECK_OK(lk_ns_open(&late, db, "late"));
			CHECK_OK(lk_put(db, late, "k", 1, "v", 1, 0));
		}
		check_model(db);
		CHECK_OK(lk_close(db));

		open_checked(&db, &o, &rep);
		CHECK(rep.snapshot_used);
		used++;
		replayed_after += rep.records_replayed;
		check_model(db);
		check_ns_bytes(db);
		if (seed % 3 == 0) {
			uint32_t late;

			CHECK_OK(lk_ns_find(&late, db, "late"));
			CHECK_OK(lk_exists(db, late, "k", 1));
		}
		collect(db, &a);
		CHECK_OK(lk_close(db));
		{ /* verify compares the snapshot with a replay: they agree */
			int problems = 0;

			CHECK_OK(lk_verify(&rep, DIR, &o, count_problem,
					   &problems));
			CHECK(problems == 0 && rep.snapshot_used);
		}

		/* hide the snapshot: a full replay */
		snap_files(io, &files);
		CHECK(files.n == 1);
		rename_file(io, files.v[0], "hidden");
		o.snapshot_every_bytes = 0;
		open_checked(&db, &o, &rep);
		CHECK(!rep.snapshot_used);
		check_model(db);
		check_ns_bytes(db);
		collect(db, &b);
		CHECK_OK(lk_close(db));
		same_state(&a, &b);
		lk_io_memory_free(io);
	}
	snapshot_split_keys_min(1);
	print_message("snapshot opens equal to full replays: %" PRIu64
		      " (%" PRIu64 " records replayed after snapshots, %"
		      PRIu64 " compactions)\n",
		      used, replayed_after, compactions);
	CHECK(replayed_after > 0);
}

/* A database with a snapshot and a few writes after it; io holds it. */
static lk_io *make_db(lk_options *o, int compact_after)
{
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_io *io;
	lk_db *db;

	io = fresh_io();
	*o = options(io, 0);
	open_checked(&db, o, &rep);
	churn(db, 300, 7);
	CHECK_OK(lk_snapshot(db));
	churn(db, 40, 8);
	if (compact_after)
		CHECK_OK(lk_compact(db)); /* no snapshot after it: every 0 */
	CHECK_OK(lk_close(db));
	return io;
}

/* Opens the database whose snapshot `name` cannot be used: it is not,
 * the note says why, the report's snapshot_damaged names it with the
 * same why if it failed its own checks (`damaged`) and is empty if it is
 * only of another state of the log, and the answers are the model's. */
static void falls_back(const lk_options *o, const char *name,
		       const char *why, int damaged)
{
	lk_recovery_report rep = LK_REPORT_INIT;
	char want[LK_NOTE_BYTES];
	lk_db *db;

	open_checked(&db, o, &rep);
	snprintf(want, sizeof want, "%s: ", name);
	if (rep.snapshot_used || !strstr(rep.snapshot_note, why) ||
	    !damaged != !rep.snapshot_damaged[0])
		fprintf(stderr, "want \"%s\", note: %s, damaged: %s\n", why,
			rep.snapshot_note, rep.snapshot_damaged);
	CHECK(!rep.snapshot_used);
	CHECK(strstr(rep.snapshot_note, why) != NULL);
	CHECK(strstr(rep.snapshot_note, "whole log was replayed") != NULL);
	if (damaged) {
		CHECK(strncmp(rep.snapshot_damaged, want, strlen(want)) == 0);
		CHECK(strstr(rep.snapshot_damaged, why) != NULL);
	} else {
		CHECK(rep.snapshot_damaged[0] == '\0');
	}
	check_model(db);
	CHECK_OK(lk_close(db));
}

/* What lk_verify says of snapshot `name`: with `damaged`, one problem of
 * kind LK_PROBLEM_SNAPSHOT naming it, and LK_CORRUPT (nothing lost, but
 * damage); without, no problem (a snapshot older than the log). */
struct snap_problems {
	int all, snapshot;
	const char *name;
};

static void on_snap_problem(void *arg, const lk_problem *p)
{
	struct snap_problems *sp = arg;

	sp->all++;
	if (p->kind == LK_PROBLEM_SNAPSHOT && p->file &&
	    strcmp(p->file, sp->name) == 0 && p->segment_seq == 0 &&
	    p->seq_first == 0 && p->seq_last == 0)
		sp->snapshot++;
}

static void verify_names(const lk_options *o, const char *name, int damaged)
{
	lk_recovery_report rep = LK_REPORT_INIT;
	struct snap_problems sp = { 0, 0, name };
	lk_status st = lk_verify(&rep, DIR, o, on_snap_problem, &sp);

	if (sp.all != damaged || sp.snapshot != damaged)
		fprintf(stderr, "%s: %d problems, %d of the snapshot (%s)\n",
			name, sp.all, sp.snapshot, lk_errmsg());
	CHECK_ST(damaged ? LK_CORRUPT : LK_OK, st);
	CHECK(sp.all == damaged && sp.snapshot == damaged);
	CHECK(!rep.snapshot_used);
	/* its report names it as the opening one's does */
	if (damaged)
		CHECK(strncmp(rep.snapshot_damaged, name, strlen(name)) == 0 &&
		      rep.snapshot_damaged[strlen(name)] == ':');
	else
		CHECK(rep.snapshot_damaged[0] == '\0');
}

/* Sets snapshot `name`'s seq_last and recomputes every hash that covers
 * the header, as a forger would. */
static void forge_seq_last(const lk_io *io, const char *name, uint64_t seq)
{
	struct blob b = file_read(io, DIR, name);
	uint32_t nsegs = get_u32(b.p + SNAP_H_SEG_COUNT);
	uint32_t slots = get_u32(b.p + SNAP_H_INDEX_SLOTS);
	uint64_t meta = snap_meta_bytes(SNAP_VERSION, nsegs, slots);

	put_u64(b.p + SNAP_H_SEQ_LAST, seq);
	put_u32(b.p + SNAP_H_CHECKSUM, snap_header_checksum(b.p));
	put_u64(b.p + SNAP_HEADER_BYTES + SNAP_C_HASH, snap_totals_hash(b.p));
	put_u64(b.p + b.n - SNAP_TRAILER_BYTES + SNAP_T_META_HASH,
		snap_hash(b.p, (size_t)meta));
	file_write(io, DIR, name, b.p, b.n);
	free(b.p);
}

static void damaged_snapshots_fall_back_to_replay(void **state)
{
	static const struct {
		const char *what;
		int64_t at;       /* byte to flip; negative: from the end */
		const char *why;
	} flips[] = {
		{ "magic", 0, "bad magic" },
		{ "version", SNAP_H_VERSION, "header checksum" },
		{ "header checksum", SNAP_H_CHECKSUM + 1, "header checksum" },
		{ "a compaction total", SNAP_HEADER_BYTES + SNAP_C_BYTES_READ,
		  "compaction totals" },
		{ "the totals' hash", SNAP_HEADER_BYTES + SNAP_C_HASH + 1,
		  "compaction totals" },
		{ "namespaces", SNAP_NS_AT + 8, "namespaces" },
		{ "segment table", SNAP_NS_AT + SNAP_NS_BYTES + 3,
		  "segment table" },
		{ "bitmap", SNAP_NS_AT + SNAP_NS_BYTES + SNAP_SEG_BYTES * 2,
		  "segment table" },
		{ "an entry", -40, "index entries" },
		{ "meta hash", -(int64_t)SNAP_TRAILER_BYTES + 4, "segment table" },
		{ "entries hash", -2, "index entries" },
	};
	static const struct {
		int64_t size;     /* -1: one byte short; -2: half */
		const char *why;
	} cuts[] = {
		{ 0, "shorter than its header" },
		{ 79, "shorter than its header" },
		{ 80, "truncated" },
		{ 100, "truncated" }, /* in the totals */
		{ -1, "truncated" },
		{ -2, "truncated" }, /* special: half */
	};
	char name[64];
	lk_options o;
	lk_io *io;
	int cases = 0;

	(void)state;
	for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
		uint64_t size;

		io = make_db(&o, 0);
		the_snapshot(io, name);
		size = size_of(io, name);
		flip_bit(io, DIR, name,
			 flips[i].at >= 0 ? (uint64_t)flips[i].at
					  : size - (uint64_t)-flips[i].at, 3);
		verify_names(&o, name, 1);
		falls_back(&o, name, flips[i].why, 1);
		lk_io_memory_free(io);
		cases++;
	}
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		uint64_t size;

		io = make_db(&o, 0);
		the_snapshot(io, name);
		size = size_of(io, name);
		truncate_to(io, DIR, name,
			    cuts[i].size >= 0	 ? (uint64_t)cuts[i].size
			    : cuts[i].size == -2 ? size / 2
						 : size - 1);
		verify_names(&o, name, 1);
		falls_back(&o, name, cuts[i].why, 1);
		lk_io_memory_free(io);
		cases++;
	}

	/* bytes appended */
	io = make_db(&o, 0);
	the_snapshot(io, name);
	corrupt_bytes(io, DIR, name, size_of(io, name), "extra", 5);
	verify_names(&o, name, 1);
	falls_back(&o, name, "longer than it should be", 1);
	lk_io_memory_free(io);
	cases++;

	/* a compaction since: the segments it names were rewritten */
	io = make_db(&o, 1);
	the_snapshot(io, name);
	verify_names(&o, name, 0);
	falls_back(&o, name, "not in the log any more", 0);
	lk_io_memory_free(io);
	cases++;

	/* the log lost the end the snapshot covers: a snapshot at the
	 * very end, then the newest segment cut 3 bytes short of it (the
	 * close's empty commit, which a replay cuts as a torn tail) */
	{
		lk_recovery_report rep = LK_REPORT_INIT;
		char seg[64];
		uint64_t entry, end;
		lk_db *db;

		io = make_db(&o, 0);
		open_checked(&db, &o, &rep);
		CHECK_OK(lk_snapshot(db));
		CHECK_OK(lk_close(db));
		the_snapshot(io, name);
		entry = snap_segs_at(SNAP_VERSION) +
			(u64_at(io, name, SNAP_H_SEG_COUNT) & 0xffffffffu) *
				SNAP_SEG_BYTES -
			SNAP_SEG_BYTES;
		end = u64_at(io, name, entry + SNAP_S_DATA_END);
		seg_name(seg, u64_at(io, name, entry),
			 (uint32_t)u64_at(io, name, entry + SNAP_S_GENERATION));
		truncate_to(io, DIR, seg, end - 3);
		falls_back(&o, name, "ends at", 0);
		lk_io_memory_free(io);
		cases++;
	}

	/* another database's snapshot, under this database's name */
	{
		lk_options o2;
		lk_io *other = make_db(&o2, 0);
		struct blob b;

		the_snapshot(other, name);
		b = file_read(other, DIR, name);
		/* make_db is deterministic but for the database id */
		io = make_db(&o, 0);
		the_snapshot(io, name);
		file_write(io, DIR, name, b.p, b.n);
		falls_back(&o, name, "another database", 1);
		free(b.p);
		lk_io_memory_free(io);
		lk_io_memory_free(other);
		cases++;
	}
	/* a forged newest record number, every hash consistent: past the
	 * format's limit (damage), or before the last segment's first
	 * record (not this log); writes after the open number on from the
	 * log (a fuzzer's find: the next write asserted in record_encode) */
	for (int below = 0; below <= 1; below++) {
		lk_recovery_report rep = LK_REPORT_INIT;
		uint64_t base;
		lk_db *db;

		io = make_db(&o, 0);
		the_snapshot(io, name);
		base = u64_at(io, name,
			      snap_segs_at(SNAP_VERSION) +
				      ((u64_at(io, name, SNAP_H_SEG_COUNT) &
					0xffffffffu) - 1) * SNAP_SEG_BYTES +
				      SNAP_S_RECORD_SEQ_BASE);
		CHECK(base >= 2);
		forge_seq_last(io, name, below ? base - 2 : REC_SEQ_MAX + 1);
		verify_names(&o, name, !below);
		falls_back(&o, name,
			   below ? "lies before segment" : "past the format",
			   !below);
		open_checked(&db, &o, &rep);
		CHECK_OK(lk_put(db, ns_ids[0], "after", 5, "x", 1, 0));
		CHECK_OK(lk_close(db));
		lk_io_memory_free(io);
		cases++;
	}
	print_message("damaged snapshot cases, each replayed: %d\n", cases);
}

/* A crash between a new snapshot's rename and the old one's removal
 * leaves both; with the newer one damaged, open uses the older one and
 * replays the log after it, and the report names the damaged one all
 * the same (snapshot_damaged is not only for a whole-log replay). */
static void a_damaged_newer_snapshot_is_named_while_an_older_one_is_used(
	void **state)
{
	lk_recovery_report rep = LK_REPORT_INIT;
	char older[64], newer[64];
	struct blob b;
	lk_options o;
	lk_io *io;
	lk_db *db;

	(void)state;
	io = make_db(&o, 0);
	the_snapshot(io, older);
	b = file_read(io, DIR, older);
	open_checked(&db, &o, &rep);
	churn(db, 40, 9);
	CHECK_OK(lk_snapshot(db)); /* the newer one; the older is removed */
	CHECK_OK(lk_close(db));
	the_snapshot(io, newer);
	CHECK(strcmp(older, newer) != 0);
	file_write(io, DIR, older, b.p, b.n);
	free(b.p);
	flip_bit(io, DIR, newer, size_of(io, newer) - 40, 3);

	open_checked(&db, &o, &rep);
	if (!rep.snapshot_used || !rep.snapshot_damaged[0])
		fprintf(stderr, "note: %s, damaged: %s\n", rep.snapshot_note,
			rep.snapshot_damaged);
	CHECK(rep.snapshot_used);
	CHECK(strstr(rep.snapshot_note, older) != NULL);
	CHECK(strstr(rep.snapshot_note, "a newer one") != NULL);
	CHECK(strncmp(rep.snapshot_damaged, newer, strlen(newer)) == 0);
	CHECK(strstr(rep.snapshot_damaged, "index entries") != NULL);
	CHECK(rep.records_replayed > 0);
	check_model(db);
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

/* Snapshot names at and past the last serial, which only a foreign file
 * has: past it (ffff...), the next serial wrapped to 0, snapshot_write
 * took 1, the file in use, and removed it as the old one, so the new
 * snapshot was lost; such a name is now foreign, left alone.  At it
 * (4000...), garbage is a damaged snapshot, and a good copy is used and
 * the next serial, past the maximum, starts again from 1.  Either way
 * the snapshot taken after the open is the one the next open uses. */
static void serials_logkeep_never_writes_are_not_snapshots(void **state)
{
	static const struct {
		const char *name;
		int copy;    /* of the real snapshot, else garbage */
		int foreign; /* open neither uses nor removes it */
	} cases[] = {
		{ "ffffffffffffffff.snap", 0, 1 },
		{ "4000000000000000.snap", 0, 0 },
		{ "4000000000000000.snap", 1, 0 },
	};
	lk_recovery_report rep = LK_REPORT_INIT;
	char name[64];
	lk_options o;
	lk_io *io;
	lk_db *db;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		io = make_db(&o, 0);
		the_snapshot(io, name);
		if (cases[i].copy) {
			struct blob b = file_read(io, DIR, name);

			file_write(io, DIR, cases[i].name, b.p, b.n);
			free(b.p);
		} else {
			file_write(io, DIR, cases[i].name, "not a snapshot", 14);
		}
		open_checked(&db, &o, &rep);
		CHECK(rep.snapshot_used);
		CHECK(strstr(rep.snapshot_note,
			     cases[i].copy ? cases[i].name : name) != NULL);
		CHECK(!cases[i].foreign || rep.snapshot_damaged[0] == '\0');
		churn(db, 40, 11);
		CHECK_OK(lk_snapshot(db));
		CHECK_OK(lk_close(db));
		open_checked(&db, &o, &rep);
		if (!rep.snapshot_used || rep.records_replayed)
			fprintf(stderr, "%s: %s\n", cases[i].name,
				rep.snapshot_note);
		CHECK(rep.snapshot_used);
		CHECK(rep.records_replayed == 0);
		check_model(db);
		CHECK_OK(lk_close(db));
		if (cases[i].foreign)
			CHECK(size_of(io, cases[i].name) == 14);
		lk_io_memory_free(io);
	}
}

/* An I/O table that fails reads of a snapshot's entries, eio_left of
 * them: the handles opened on *.snap files are watched. */
static const lk_io *eio_inner;
static lk_io_file *eio_snaps[4];
static uint64_t eio_entries_at, eio_trailer_at;
static int eio_left;

static lk_status eio_open(void *ctx, lk_io_dir *dir, const char *name,
			  uint32_t flags, lk_io_file **f)
{
	lk_status st = eio_inner->open(ctx, dir, name, flags, f);
	size_t n = strlen(name);

	if (st == LK_OK && n > 5 && strcmp(name + n - 5, ".snap") == 0)
		for (int i = 0; i < 4; i++)
			if (!eio_snaps[i]) {
				eio_snaps[i] = *f;
				break;
			}
	return st;
}

static lk_status eio_pread(void *ctx, lk_io_file *f, void *buf, size_t n,
			   uint64_t off, size_t *got)
{
	for (int i = 0; i < 4; i++)
		if (f && f == eio_snaps[i] && eio_left > 0 &&
		    off >= eio_entries_at && off < eio_trailer_at) {
			eio_left--;
			*got = 0;
			return lk_fail(LK_IO, "injected read error");
		}
	return eio_inner->pread(ctx, f, buf, n, off, got);
}

static void eio_close(void *ctx, lk_io_file *f)
{
	for (int i = 0; i < 4; i++)
		if (eio_snaps[i] == f)
			eio_snaps[i] = NULL;
	eio_inner->close(ctx, f);
}

/* A read of a snapshot's entries that fails is not damage: open replays
 * the log instead and says the file was unreadable, and verify reports no
 * problem with it (it once compared the hash of the entries read so far
 * and called the file damaged).  By one thread and by two. */
static void a_failed_read_is_not_called_damage(void **state)
{
	(void)state;
	for (int split = 0; split < 2; split++) {
		uint64_t was = snapshot_split_keys_min(split ? 1 : UINT64_MAX);
		lk_recovery_report rep = LK_REPORT_INIT;
		char name[64];
		struct blob b;
		lk_options o;
		lk_io *io = make_db(&o, 0), e;
		lk_db *db;

		the_snapshot(io, name);
		b = file_read(io, DIR, name);
		eio_trailer_at = b.n - SNAP_TRAILER_BYTES;
		eio_entries_at = eio_trailer_at -
				 (uint64_t)get_u32(b.p + SNAP_H_KEYS) *
					 IX_SLOT_BYTES;
		free(b.p);
		eio_inner = io;
		e = *io;
		e.open = eio_open;
		e.pread = eio_pread;
		e.close = eio_close;
		o.io = &e;

		eio_left = 1;
		verify_names(&o, name, 0);
		CHECK(eio_left == 0);

		eio_left = 1;
		open_checked(&db, &o, &rep);
		CHECK(eio_left == 0);
		if (rep.snapshot_used || !strstr(rep.snapshot_note, "unread"))
			fprintf(stderr, "note: %s\n", rep.snapshot_note);
		CHECK(!rep.snapshot_used);
		CHECK(strstr(rep.snapshot_note, "unreadable") != NULL);
		CHECK(strstr(rep.snapshot_note, "checksum") == NULL);
		check_model(db);
		CHECK_OK(lk_close(db));

		/* read whole, the same file is used */
		reopen_check(&o, 1);
		snapshot_split_keys_min(was);
		lk_io_memory_free(io);
	}
}

/* Files that are not a usable snapshot: an unfinished one is removed by a
 * writing open; a newer broken one is passed over for the older good one,
 * and removed. */
static void unfinished_and_broken_files(void **state)
{
	lk_recovery_report rep = LK_REPORT_INIT;
	struct names files;
	char name[64];
	lk_options o;
	lk_io *io;
	lk_db *db;

	(void)state;
	io = make_db(&o, 0);
	the_snapshot(io, name);
	file_write(io, DIR, "00000000000000f0.snap.tmp", "half", 4);
	file_write(io, DIR, "00000000000000f1.snap", "LKSNP garbage", 13);
	o.flags |= LK_OPEN_READONLY;
	open_checked(&db, &o, &rep); /* read-only: uses, removes nothing */
	CHECK(rep.snapshot_used);
	CHECK(strstr(rep.snapshot_note, "a newer one") != NULL);
	check_model(db);
	CHECK_OK(lk_close(db));
	snap_files(io, &files);
	CHECK(files.n == 3);
	o.flags &= ~LK_OPEN_READONLY;
	open_checked(&db, &o, &rep);
	CHECK(rep.snapshot_used);
	check_model(db);
	/* the next snapshot's number is past every file seen */
	churn(db, 10, 99);
	CHECK_OK(lk_snapshot(db));
	CHECK_OK(lk_close(db));
	snap_files(io, &files);
	CHECK(files.n == 1);
	CHECK(strcmp(files.v[0], "00000000000000f2.snap") == 0);
	CHECK(reopen_check(&o, 1) == 0);
	lk_io_memory_free(io);
}

/* lk_close() leaves a snapshot when a megabyte of log is not covered, and
 * the next open replays nothing; a compaction leaves one too. */
static void close_and_compaction_write_snapshots(void **state)
{
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_stats st = LK_STATS_INIT;
	lk_options o;
	lk_io *io;
	lk_db *db;

	(void)state;
	io = fresh_io();
	o = options(io, 1u << 30); /* never by interval in this test */
	o.segment_size_bytes = 64 * 1024;
	open_checked(&db, &o, &rep);
	CHECK(!rep.snapshot_used);
	churn(db, 100, 1); /* well under a megabyte */
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(st.snapshot_serial == 0 && st.snapshot_behind_bytes > 0);
	CHECK_OK(lk_close(db));
	open_checked(&db, &o, &rep);
	CHECK(!rep.snapshot_used); /* not worth one */
	churn(db, 4000, 2);        /* a few megabytes */
	CHECK_OK(lk_close(db));
	open_checked(&db, &o, &rep);
	CHECK(rep.snapshot_used);
	CHECK(rep.records_replayed == 0);
	check_model(db);
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(st.snapshot_serial > 0 && st.snapshot_behind_bytes == 0);
	now_ms += 5000;
	lk_io_memory_set_time_ms(io, now_ms);
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(st.snapshot_age_ms == 5000);
	churn(db, 2000, 3);
	CHECK_OK(lk_compact(db));
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(st.compactions > 0 && st.snapshots_written == 1);
	CHECK(st.snapshot_behind_bytes == 0 && st.snapshot_bytes_written > 0);
	CHECK_OK(lk_close(db));
	CHECK(reopen_check(&o, 1) == 0);

	/* a read-only open (the tool's) reports the snapshot it loaded: its
	 * serial, the one in the file name, and its age by the clock */
	{
		lk_options ro = o;
		char name[64];

		the_snapshot(io, name);
		now_ms += 7000;
		lk_io_memory_set_time_ms(io, now_ms);
		ro.flags |= LK_OPEN_READONLY;
		open_checked(&db, &ro, &rep);
		CHECK(rep.snapshot_used);
		CHECK_OK(lk_stats_get(&st, db));
		CHECK(st.snapshot_serial == strtoull(name, NULL, 16));
		CHECK(st.snapshot_age_ms == 7000);
		CHECK_OK(lk_close(db));
	}
	lk_io_memory_free(io);
}

/* Open after a power cut (or a killed writer: every write kept) replays
 * only the log after the snapshot and holds every acknowledged write. */
static void killed_writer_replays_only_after_the_snapshot(void **state)
{
	static const enum fault_mode modes[] = { FAULT_KEEP_ALL, FAULT_RANDOM,
						 FAULT_DROP_ALL };

	(void)state;
	for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
		lk_recovery_report rep = LK_REPORT_INIT;
		struct fault_fs *fs;
		lk_options o;
		lk_db *db;

		model_reset();
		now_ms = T0_MS;
		CHECK_OK(fault_new(&fs, 11 + m));
		fault_set_time_ms(fs, now_ms);
		o = options(fault_io(fs), 0);
		open_checked(&db, &o, &rep);
		churn(db, 300, 21);
		CHECK_OK(lk_snapshot(db));
		churn(db, 80, 22);
		fault_cut_at(fs, 1);
		(void)lk_close(db);
		fault_reboot(fs, modes[m], 5 + m, NULL);
		open_checked(&db, &o, &rep);
		CHECK(rep.snapshot_used);
		CHECK(rep.records_replayed > 0 && rep.records_replayed <= 80);
		check_model(db);
		CHECK_OK(lk_close(db));
		fault_free(fs);
	}
}

/* A power cut at every I/O call of lk_snapshot(): the reopened store holds
 * every acknowledged write, from the old snapshot, the new one, or a full
 * replay. */
static void power_cut_anywhere_in_a_snapshot(void **state)
{
	uint64_t cuts = 0, used = 0;

	(void)state;
	for (uint64_t cut = 1;; cut++) {
		lk_recovery_report rep = LK_REPORT_INIT;
		struct fault_fs *fs;
		lk_options o;
		lk_status st;
		lk_db *db;

		model_reset();
		now_ms = T0_MS;
		CHECK_OK(fault_new(&fs, cut));
		fault_set_time_ms(fs, now_ms);
		o = options(fault_io(fs), 0);
		open_checked(&db, &o, &rep);
		churn(db, 200, 31);
		CHECK_OK(lk_snapshot(db));
		churn(db, 60, 32);
		fault_cut_at(fs, cut);
		st = lk_snapshot(db);
		fault_cut_at(fs, 0);
		if (!fault_is_cut(fs)) {
			CHECK_OK(st);
			CHECK_OK(lk_close(db));
			fault_free(fs);
			break;
		}
		CHECK(st != LK_OK);
		(void)lk_close(db);
		fault_reboot(fs, FAULT_RANDOM, cut * 7919, NULL);
		cuts++;
		open_checked(&db, &o, &rep);
		used += rep.snapshot_used != 0;
		check_model(db);
		CHECK_OK(lk_close(db));
		open_checked(&db, &o, &rep);
		check_model(db);
		CHECK_OK(lk_close(db));
		fault_free(fs);
	}
	print_message("power cuts during a snapshot: %" PRIu64 " states, %"
		      PRIu64 " reopened from a snapshot\n", cuts, used);
	CHECK(cuts >= 6);
	CHECK(used > 0);
}

/* ---- forged snapshots ---- */


/* Rewrites snapshot `name` as a forger who knows the format would: an
 * index of `slots` slots and no keys, each segment's and namespace's live
 * bytes kept or zeroed, and the header's sizes, its checksum, the totals'
 * hash and both trailing hashes recomputed with the format's functions,
 * so that every check of the file's own bytes passes. */
static void forge_empty(const lk_io *io, const char *name, uint32_t slots,
			int zero_live)
{
	struct blob b = file_read(io, DIR, name);
	uint32_t nsegs = get_u32(b.p + SNAP_H_SEG_COUNT);
	uint64_t segs = snap_segs_at(SNAP_VERSION);
	uint64_t meta = snap_meta_bytes(SNAP_VERSION, nsegs, slots);
	uint64_t len = snap_file_bytes(SNAP_VERSION, nsegs, slots, 0);
	uint8_t *f = calloc(1, (size_t)len), *t = f + len - SNAP_TRAILER_BYTES;

	CHECK(f != NULL);
	memcpy(f, b.p, (size_t)segs + (size_t)nsegs * SNAP_SEG_BYTES);
	for (uint32_t i = 0; zero_live && i < nsegs; i++)
		put_u64(f + segs + (size_t)i * SNAP_SEG_BYTES +
				SNAP_S_LIVE_BYTES, 0);
	if (zero_live)
		memset(f + SNAP_NS_AT, 0, SNAP_NS_BYTES);
	put_u32(f + SNAP_H_INDEX_SLOTS, slots);
	put_u32(f + SNAP_H_KEYS, 0);
	put_u64(f + SNAP_H_FILE_BYTES, len);
	put_u32(f + SNAP_H_CHECKSUM, snap_header_checksum(f));
	put_u64(f + SNAP_HEADER_BYTES + SNAP_C_HASH, snap_totals_hash(f));
	put_u64(t + SNAP_T_META_HASH, snap_hash(f, (size_t)meta));
	put_u64(t + SNAP_T_ENTRIES_HASH, snap_hash(f + meta, 0));
	file_write(io, DIR, name, f, (size_t)len);
	free(f);
	free(b.p);
}

/* A snapshot of 16 MiB that declares 2^27 slots (1.5 GiB of index) and no
 * keys, every hash consistent: open refuses it from its header, before it
 * allocates anything for it, and replays the log, which is not empty. */
static void forged_capacity_is_refused_before_any_allocation(void **state)
{
	lk_recovery_report vrep = LK_REPORT_INIT;
	lk_options o;
	char name[64];
	size_t largest;
	lk_io *io;
	int problems = 0;

	(void)state;
	io = make_db(&o, 0);
	the_snapshot(io, name);
	forge_empty(io, name, LK_INDEX_SLOTS_MAX, 1);
	CHECK(size_of(io, name) > (16u << 20));
	/* verify first: the writing open removes the file it did not use.
	 * A header no logkeep writes is damage, whose hashes hold or not. */
	CHECK_ST(LK_CORRUPT, lk_verify(&vrep, DIR, &o, count_problem,
				       &problems));
	CHECK(problems == 1 && !vrep.snapshot_used);
	CHECK(strstr(vrep.snapshot_note, "more slots") != NULL);
	(void)mem_largest();
	falls_back(&o, name, "more slots than its keys need", 1);
	largest = mem_largest();
	print_message("largest allocation of the open: %zu bytes\n", largest);
	CHECK(largest < (4u << 20));
	lk_io_memory_free(io);
}

/* Moves the position of snapshot `name` (its last segment's data_end) by
 * `delta` bytes, with the tail hash, and the hash over the segment table,
 * recomputed: a consistent forgery of where the replay starts. */
static void forge_position(const lk_io *io, const char *name, int64_t delta)
{
	struct blob b = file_read(io, DIR, name), seg;
	uint32_t nsegs = get_u32(b.p + SNAP_H_SEG_COUNT);
	uint32_t slots = get_u32(b.p + SNAP_H_INDEX_SLOTS);
	uint8_t *e = b.p + snap_segs_at(SNAP_VERSION) +
		     (size_t)(nsegs - 1) * SNAP_SEG_BYTES;
	uint64_t end = get_u64(e + SNAP_S_DATA_END) + (uint64_t)delta;
	char seg_file[64];

	seg_name(seg_file, get_u64(e + SNAP_S_SEQ),
		 get_u32(e + SNAP_S_GENERATION));
	seg = file_read(io, DIR, seg_file);
	CHECK(end >= SEG_HEADER_BYTES + SNAP_TAIL_BYTES && end <= seg.n);
	put_u64(e + SNAP_S_DATA_END, end);
	put_u64(e + SNAP_S_TAIL_HASH,
		snap_hash(seg.p + end - SNAP_TAIL_BYTES, SNAP_TAIL_BYTES));
	put_u64(b.p + b.n - SNAP_TRAILER_BYTES + SNAP_T_META_HASH,
		snap_hash(b.p, (size_t)snap_meta_bytes(SNAP_VERSION, nsegs,
						       slots)));
	file_write(io, DIR, name, b.p, b.n);
	free(seg.p);
	free(b.p);
}

/* Forgeries with consistent hashes that open can tell from the log and
 * the file itself: an index emptied of its keys whose segments still
 * count live bytes, and a position inside a record (which would make the
 * replay take the records after it for a torn tail).  Each falls back to
 * replaying the whole log, which reads as the model. */
static void forged_contents_that_contradict_the_log_fall_back(void **state)
{
	char name[64];
	lk_options o;
	lk_io *io;

	(void)state;
	io = make_db(&o, 0);
	the_snapshot(io, name);
	forge_empty(io, name, 1024, 0);
	falls_back(&o, name, "live bytes", 0);
	lk_io_memory_free(io);

	for (int64_t delta = -1; delta >= -3; delta--) {
		io = make_db(&o, 0);
		the_snapshot(io, name);
		forge_position(io, name, delta);
		falls_back(&o, name, "not the end of a commit record", 0);
		lk_io_memory_free(io);
	}
}

/* A forger who drops every key and zeroes the live bytes they held, with
 * every hash recomputed, leaves nothing open can tell from the file and
 * the log's tails; lk_verify() compares the snapshot with a replay of the
 * whole log and reports it: a problem naming the file, LK_CORRUPT, and a
 * note that says so.  An honest snapshot gives no problem. */
static void verify_reports_a_snapshot_that_disagrees_with_the_log(void **state)
{
	lk_recovery_report vrep = LK_REPORT_INIT;
	char name[64];
	lk_options o;
	lk_io *io;
	int problems = 0;

	(void)state;
	io = make_db(&o, 0);
	CHECK_OK(lk_verify(&vrep, DIR, &o, count_problem, &problems));
	CHECK(problems == 0 && vrep.snapshot_used);
	the_snapshot(io, name);
	forge_empty(io, name, 1024, 1);
	CHECK_ST(LK_CORRUPT, lk_verify(&vrep, DIR, &o, count_problem,
				       &problems));
	CHECK(problems == 1);
	CHECK(strstr(vrep.snapshot_note, "does not match the log") != NULL);
	CHECK(strstr(lk_errmsg(), name) != NULL);
	lk_io_memory_free(io);
}

/* The index never shrinks, so a table that held thousands of keys holds
 * a few after deletes in the same slots; its snapshot is written at the
 * capacity its keys need (which is all a load accepts) and is used. */
static void snapshot_of_a_table_emptied_by_deletes_is_used(void **state)
{
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_options o;
	char name[64], k[32];
	lk_io *io;
	lk_db *db;
	int n = 3000, kept = 10;

	(void)state;
	io = fresh_io();
	o = options(io, 0);
	CHECK_OK(lk_open(&db, DIR, &o));
	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof k, "bulk-%05d", i);
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, k, strlen(k), "v", 1, 0));
	}
	for (int i = kept; i < n; i++) {
		snprintf(k, sizeof k, "bulk-%05d", i);
		CHECK_OK(lk_del(db, LK_NS_DEFAULT, k, strlen(k)));
	}
	CHECK_OK(lk_snapshot(db));
	CHECK_OK(lk_close(db));
	the_snapshot(io, name);
	CHECK((u64_at(io, name, SNAP_H_INDEX_SLOTS) & 0xffffffffu) <=
	      index_slots_max((uint64_t)kept));
	CHECK_OK(lk_open(&db, DIR, &o));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.snapshot_used);
	for (int i = 0; i < n; i += 7) {
		void *got = NULL;
		size_t len = 0;

		snprintf(k, sizeof k, "bulk-%05d", i);
		CHECK_ST(i < kept ? LK_OK : LK_NOT_FOUND,
			 lk_get(&got, &len, db, LK_NS_DEFAULT, k, strlen(k)));
		lk_free(got);
	}
	CHECK_OK(lk_close(db));
	lk_io_memory_free(io);
}

/* A snapshot goes to its file through a buffer of a few entries: at
 * 262,144 keys (3 MB of entries, a 5 MB table; eight turns of the
 * 32,768-entry buffer exactly) lk_snapshot() allocates no block of
 * 1 MiB.  It once encoded the whole file into one block, memory that the
 * budget (memory_bytes_max) does not count.  Then deletes leave 40,000
 * keys in that table, too sparse for a load to take: the snapshot
 * re-places them into a smaller table and writes it in two turns.  Both
 * files load, and hold every key and none of the deleted.  On the
 * system's I/O: the in-memory layer's files are blocks of the engine's
 * allocator. */
static void snapshot_keys_check(lk_db *db, uint32_t keys, uint32_t kept)
{
	char k[32];

	for (uint32_t i = 0; i < keys; i += 997) {
		void *got = NULL;
		size_t len = 0;

		snprintf(k, sizeof k, "bulk-%07u", (unsigned)i);
		CHECK_ST(i < kept ? LK_OK : LK_NOT_FOUND,
			 lk_get(&got, &len, db, LK_NS_DEFAULT, k, strlen(k)));
		CHECK(i >= kept || (len == 4 && memcmp(got, k, 4) == 0));
		lk_free(got);
	}
}

static void reopen_from_snapshot(const char *dir, const lk_options *o,
				 uint32_t keys, uint32_t kept)
{
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_stats st = LK_STATS_INIT;
	lk_db *db;

	CHECK_OK(lk_open(&db, dir, o));
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.snapshot_used && rep.records_replayed == 0);
	snapshot_keys_check(db, keys, kept);
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(st.live_keys == kept);
	CHECK_OK(lk_close(db));
}

static void a_snapshot_is_written_through_a_small_buffer(void **state)
{
	lk_options o = test_options(lk_io_posix());
	uint32_t keys = 8 * 32768, kept = 40000;
	lk_stats st = LK_STATS_INIT;
	char dir[128], k[32];
	lk_batch *b;
	lk_db *db;
	size_t largest;

	(void)state;
	CHECK(make_temp_dir(dir, sizeof dir, "snapbuf") == 0);
	o.sync = LK_SYNC_NONE;
	o.snapshot_every_bytes = 0;
	CHECK_OK(lk_open(&db, dir, &o));
	CHECK_OK(lk_batch_new(&b));
	for (uint32_t i = 0; i < keys; i++) {
		snprintf(k, sizeof k, "bulk-%07u", (unsigned)i);
		CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, k, strlen(k), k, 4, 0));
		if (lk_batch_count(b) == 1000)
			CHECK_OK(lk_commit(db, b));
	}
	CHECK_OK(lk_commit(db, b));
	(void)mem_largest();
	CHECK_OK(lk_snapshot(db));
	largest = mem_largest();
	print_message("largest block of the snapshot: %zu bytes\n", largest);
	CHECK(largest < (1u << 20));
	CHECK_OK(lk_stats_get(&st, db));
	CHECK(st.snapshot_bytes_written > (uint64_t)keys * IX_SLOT_BYTES);
	CHECK_OK(lk_close(db));
	reopen_from_snapshot(dir, &o, keys, keys);

	CHECK_OK(lk_open(&db, dir, &o));
	for (uint32_t i = kept; i < keys; i++) {
		snprintf(k, sizeof k, "bulk-%07u", (unsigned)i);
		CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, k, strlen(k)));
		if (lk_batch_count(b) == 1000)
			CHECK_OK(lk_commit(db, b));
	}
	CHECK_OK(lk_commit(db, b));
	CHECK(index_export_slots(segtable_index(db)) <
	      index_slots(segtable_index(db)));
	CHECK_OK(lk_snapshot(db));
	CHECK_OK(lk_close(db));
	reopen_from_snapshot(dir, &o, keys, kept);
	lk_batch_free(b);
	CHECK(remove_tree(dir) == 0);
}

/* Every I/O call of a snapshot's write may fail (the fault layer fails
 * the nth from the call, once): lk_snapshot() returns the failure and
 * leaves no <serial>.snap.tmp behind, and the handle goes on, so that a
 * later snapshot is written and loaded; but a failed sync of the log
 * (written with sync none here, so that the snapshot syncs it) halts it,
 * as every failed sync does, and a reopen replays the log.  No key is
 * lost either way. */
static void a_failed_snapshot_write_leaves_nothing_behind(void **state)
{
	int failures = 0, halts = 0;

	(void)state;
	for (uint64_t nth = 1;; nth++) {
		lk_recovery_report rep = LK_REPORT_INIT;
		struct fault_fs *fs;
		struct names l;
		lk_options o;
		lk_status st;
		uint64_t calls;
		lk_db *db;
		char k[32];

		CHECK_OK(fault_new(&fs, nth));
		o = test_options(fault_io(fs));
		o.segment_size_bytes = 4096;
		o.snapshot_every_bytes = 0;
		o.sync = LK_SYNC_NONE;
		CHECK_OK(lk_open(&db, DIR, &o));
		for (int i = 0; i < 300; i++) {
			snprintf(k, sizeof k, "key%04d", i);
			CHECK_OK(lk_put(db, LK_NS_DEFAULT, k, strlen(k), k, 4,
					0));
		}
		calls = fault_calls(fs, FK_ANY);
		fault_fail(fs, FK_ANY, nth, LK_IO, 0);
		st = lk_snapshot(db);
		fault_fail(fs, FK_ANY, 0, LK_IO, 0);
		if (fault_calls(fs, FK_ANY) - calls < nth) {
			/* past its last call: nothing failed */
			CHECK_OK(st);
			CHECK_OK(lk_close(db));
			fault_free(fs);
			break;
		}
		CHECK(st != LK_OK);
		failures++;
		snap_files(fault_io(fs), &l);
		for (int i = 0; i < l.n; i++)
			CHECK(strstr(l.v[i], ".tmp") == NULL);
		st = lk_put(db, LK_NS_DEFAULT, "after", 5, "it", 2, 0);
		CHECK(st == LK_OK || st == LK_HALTED);
		halts += st == LK_HALTED;
		if (st == LK_OK)
			CHECK_OK(lk_snapshot(db));
		(void)lk_close(db);
		CHECK_OK(lk_open(&db, DIR, &o));
		CHECK_OK(lk_recovery(&rep, db));
		CHECK(st != LK_OK || rep.snapshot_used);
		for (int i = 0; i < 300; i += 7) {
			void *got = NULL;
			size_t len = 0;

			snprintf(k, sizeof k, "key%04d", i);
			CHECK_OK(lk_get(&got, &len, db, LK_NS_DEFAULT, k,
					strlen(k)));
			lk_free(got);
		}
		CHECK_OK(lk_close(db));
		fault_free(fs);
	}
	print_message("snapshot writes failed at each of %d calls (%d halted "
		      "the handle)\n", failures, halts);
	CHECK(failures > 8 && halts == 1);
}

/* ---- format version 2's blocks, and version 1 ---- */

/* Recomputes what covers the header and the meta region of a version 2
 * snapshot in b: the header checksum, the totals' hash, meta_hash. */
static void rehash(struct blob *b)
{
	uint32_t nsegs = get_u32(b->p + SNAP_H_SEG_COUNT);
	uint32_t slots = get_u32(b->p + SNAP_H_INDEX_SLOTS);

	put_u32(b->p + SNAP_H_CHECKSUM, snap_header_checksum(b->p));
	put_u64(b->p + SNAP_HEADER_BYTES + SNAP_C_HASH, snap_totals_hash(b->p));
	put_u64(b->p + b->n - SNAP_TRAILER_BYTES + SNAP_T_META_HASH,
		snap_hash(b->p, (size_t)snap_meta_bytes(SNAP_VERSION, nsegs,
							slots)));
}

/* Rewrites the totals of snapshot `name`, every hash recomputed. */
static void forge_totals(const lk_io *io, const char *name,
			 const uint64_t v[5])
{
	struct blob b = file_read(io, DIR, name);

	for (int i = 0; i < 5; i++)
		put_u64(b.p + SNAP_HEADER_BYTES + (size_t)i * 8, v[i]);
	rehash(&b);
	file_write(io, DIR, name, b.p, b.n);
	free(b.p);
}

/* Adds delta to namespace ns's live bytes in snapshot `name`, every
 * hash recomputed. */
static void forge_ns_bytes(const lk_io *io, const char *name, uint32_t ns,
			   int64_t delta)
{
	struct blob b = file_read(io, DIR, name);
	uint8_t *p = b.p + SNAP_NS_AT + (size_t)ns * 8;

	put_u64(p, get_u64(p) + (uint64_t)delta);
	rehash(&b);
	file_write(io, DIR, name, b.p, b.n);
	free(b.p);
}

/* Rewrites snapshot `name` as format version 1 would have written it:
 * the totals and namespaces' blocks out, the header's version, size and
 * checksum and the meta hash recomputed. */
static void to_version_1(const lk_io *io, const char *name)
{
	struct blob b = file_read(io, DIR, name);
	struct snap_header h;
	const char *why = NULL;
	uint64_t cut = snap_segs_at(2) - SNAP_HEADER_BYTES, meta;
	uint8_t *f = malloc(b.n);

	CHECK(f != NULL);
	CHECK_OK_WHY(snap_header_decode(&h, b.p, &why), why);
	CHECK(h.version == 2);
	memcpy(f, b.p, SNAP_HEADER_BYTES);
	memcpy(f + SNAP_HEADER_BYTES, b.p + snap_segs_at(2),
	       b.n - (size_t)snap_segs_at(2));
	h.version = 1;
	snap_header_encode(f, &h);
	meta = snap_meta_bytes(1, h.seg_count, h.index_slots);
	put_u64(f + b.n - cut - SNAP_TRAILER_BYTES + SNAP_T_META_HASH,
		snap_hash(f, (size_t)meta));
	file_write(io, DIR, name, f, b.n - (size_t)cut);
	free(f);
	free(b.p);
}

static void count_large(void *arg, uint8_t ns, struct ix_loc loc,
			int expiring)
{
	(void)expiring;
	((uint64_t *)arg)[ns] += loc.size == IX_SIZE_LARGE;
}

/* The index entries of each namespace whose record is too large for the
 * index's size field. */
static void large_entries(lk_db *db, uint64_t large[LK_NS_COUNT_MAX + 1])
{
	memset(large, 0, (LK_NS_COUNT_MAX + 1) * sizeof large[0]);
	segtable_rdlock(db);
	index_foreach(segtable_index(db), -1, count_large, large);
	segtable_unlock(db);
}

/* The compaction totals of an open of `o`. */
static uint64_t compactions_total(const lk_options *o)
{
	lk_stats st = LK_STATS_INIT;
	lk_db *db;

	CHECK_OK(lk_open(&db, DIR, o));
	CHECK_OK(lk_stats_get(&st, db));
	CHECK_OK(lk_close(db));
	return st.compactions_total;
}

/* A snapshot written before format version 2 is still used: its
 * namespaces' live bytes are summed from its entries and the lengths of
 * its large records, exactly; it has no compaction totals. */
static void version_1_snapshots_are_still_read(void **state)
{
	lk_recovery_report rep = LK_REPORT_INIT;
	uint64_t large[LK_NS_COUNT_MAX + 1], n_large = 0;
	lk_stats st = LK_STATS_INIT;
	char name[64];
	lk_options o, ro;
	lk_io *io;
	lk_db *db;
	int problems = 0;

	(void)state;
	io = make_db(&o, 0);
	the_snapshot(io, name);
	to_version_1(io, name);
	ro = o;
	ro.flags |= LK_OPEN_READONLY;
	for (int readonly = 1; readonly >= 0; readonly--) {
		open_checked(&db, readonly ? &ro : &o, &rep);
		if (!rep.snapshot_used)
			fprintf(stderr, "note: %s\n", rep.snapshot_note);
		CHECK(rep.snapshot_used);
		check_model(db);
		check_ns_bytes(db);
		large_entries(db, large);
		for (uint32_t ns = 0; ns <= LK_NS_COUNT_MAX; ns++)
			n_large += large[ns];
		CHECK_OK(lk_stats_get(&st, db));
		CHECK(st.compactions_total == 0);
		CHECK_OK(lk_close(db));
	}
	CHECK(n_large > 0); /* lengths were read */
	CHECK_OK(lk_verify(&rep, DIR, &o, count_problem, &problems));
	CHECK(problems == 0 && rep.snapshot_used);
	lk_io_memory_free(io);
}

/* Totals whose hash holds but whose counts cannot be a database's are
 * refused with the file, and count for nothing. */
static void forged_totals_are_refused(void **state)
{
	static const struct {
		uint64_t v[5];
		const char *why;
	} cases[] = {
		{ { 3, 10, 10, 2, 0 }, "fewer segments removed" },
		{ { 0, 10, 0, 0, 0 }, "without a compaction" },
		{ { 1, SNAP_TOTAL_MAX + 1, 10, 1, 0 }, "format's limit" },
		{ { UINT64_MAX, 1, 1, UINT64_MAX, 1 }, "format's limit" },
	};
	char name[64];
	lk_options o;
	lk_io *io;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		io = make_db(&o, 0);
		the_snapshot(io, name);
		forge_totals(io, name, cases[i].v);
		falls_back(&o, name, cases[i].why, 1);
		CHECK(compactions_total(&o) == 0);
		lk_io_memory_free(io);
	}
	/* consistent ones are taken as they are: nothing can tell them */
	io = make_db(&o, 0);
	the_snapshot(io, name);
	forge_totals(io, name, (const uint64_t[5]){ 7, 1, 2, 9, 4 });
	CHECK(reopen_check(&o, 1) > 0);
	CHECK(compactions_total(&o) == 7);
	lk_io_memory_free(io);
}

/* A namespace's live bytes that its entries cannot hold are refused; a
 * large record's bytes moved to another namespace with large records
 * fits both, and only lk_verify's comparison with a replay finds it. */
static void forged_namespace_bytes(void **state)
{
	lk_recovery_report vrep = LK_REPORT_INIT;
	uint64_t large[LK_NS_COUNT_MAX + 1];
	uint32_t with[2] = { 0, 0 }, found = 0;
	char name[64];
	lk_options o;
	lk_io *io;
	lk_db *db;
	int problems = 0;

	(void)state;
	io = make_db(&o, 0);
	the_snapshot(io, name);
	forge_ns_bytes(io, name, ns_ids[0], 1);
	falls_back(&o, name, "live bytes", 0);
	lk_io_memory_free(io);

	io = make_db(&o, 0);
	CHECK_OK(lk_open(&db, DIR, &o));
	large_entries(db, large);
	CHECK_OK(lk_close(db));
	for (uint32_t ns = 1; ns <= LK_NS_COUNT_MAX && found < 2; ns++)
		if (large[ns])
			with[found++] = ns;
	CHECK(found == 2);
	the_snapshot(io, name);
	forge_ns_bytes(io, name, with[0], 1000);
	forge_ns_bytes(io, name, with[1], -1000);
	CHECK_ST(LK_CORRUPT, lk_verify(&vrep, DIR, &o, count_problem,
				       &problems));
	CHECK(problems == 1);
	CHECK(strstr(vrep.snapshot_note, "live bytes") != NULL);
	lk_io_memory_free(io);
}

/* ---- loads in two parts (snapshot.h, SNAP_SPLIT_KEYS_MIN) ---- */

/* An I/O table that forwards to the memory one and counts the threads
 * started, or refuses to start any. */
static const lk_io *inner_io;
static int threads_started, threads_refused;

static lk_status counting_thread_start(void *ctx, lk_io_thread **t,
				       void (*fn)(void *arg), void *arg)
{
	if (threads_refused) {
		*t = NULL;
		return lk_fail(LK_NOMEM, "no thread for this test");
	}
	threads_started++;
	return inner_io->thread_start(ctx, t, fn, arg);
}

static uint64_t preads_made;

static lk_status counting_pread(void *ctx, lk_io_file *f, void *buf,
				size_t n, uint64_t offset, size_t *got)
{
	preads_made++;
	return inner_io->pread(ctx, f, buf, n, offset, got);
}

/* ... and the preads made. */
static lk_io counting(const lk_io *io)
{
	lk_io c = *io;

	inner_io = io;
	c.thread_start = counting_thread_start;
	c.pread = counting_pread;
	return c;
}

/* A writer names the record an overwrite replaces only when that one lies
 * in a mapped segment, not in the segment being written (commit.c,
 * claim_replaced).  So after a crash, the replay confirms such a key by
 * reading the record it replaces, in the segment it is reading: through
 * a mapping of that segment (segtable_map_replay), not a pread each.  It
 * used to make a pread for each one whose record had left the reader's
 * 1 MiB window: here all 12,000.  Under a memory budget it still does
 * (no mapping takes room from the index), and reads the same.  The
 * mapping ends with the segment's scan, or becomes the segment's own
 * when the scan finds it sealed (smaller segments): the handle maps what
 * a read-only open of the same log maps, which makes no such mapping. */
static void a_replay_reads_its_own_segment_through_a_mapping(void **state)
{
	enum { N = 12000, VALUE = 200 };
	static const struct {
		const char *name;
		uint64_t segment_bytes;
		int budget;
	} runs[] = { { "one segment", 8u << 20, 0 },
		     { "one segment, a budget", 8u << 20, 1 },
		     { "1 MiB segments", 1u << 20, 0 } };
	static uint8_t v[VALUE];
	uint64_t preads[3];

	(void)state;
	for (size_t run = 0; run < 3; run++) {
		lk_recovery_report rep = LK_REPORT_INIT;
		lk_stats st = LK_STATS_INIT, ro = LK_STATS_INIT;
		struct fault_fs *fs;
		lk_batch *b;
		lk_options o;
		lk_db *db;
		char k[32];
		lk_io c;

		CHECK_OK(fault_new(&fs, 41));
		c = counting(fault_io(fs));
		o = options(&c, 0);
		o.segment_size_bytes = runs[run].segment_bytes;
		CHECK_OK(lk_open(&db, DIR, &o));
		CHECK_OK(lk_batch_new(&b));
		for (int round = 0; round < 2; round++)
			for (int i = 0; i < N; i++) {
				snprintf(k, sizeof k, "key-%05d", i);
				memset(v, 'a' + round, sizeof v);
				CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, k,
						      strlen(k), v, sizeof v,
						      0));
				if (lk_batch_count(b) == 500)
					CHECK_OK(lk_commit(db, b));
			}
		lk_batch_free(b);
		fault_cut_at(fs, 1);
		(void)lk_close(db);
		fault_reboot(fs, FAULT_KEEP_ALL, 3, NULL);

		o.flags = LK_OPEN_READONLY;
		CHECK_OK(lk_open(&db, DIR, &o));
		CHECK_OK(lk_stats_get(&ro, db));
		CHECK_OK(lk_close(db));
		o.flags = 0;
		o.memory_bytes_max = runs[run].budget ? UINT64_C(1) << 30 : 0;
		preads_made = 0;
		CHECK_OK(lk_open(&db, DIR, &o));
		preads[run] = preads_made;
		CHECK_OK(lk_stats_get(&st, db));
		CHECK_OK(lk_recovery(&rep, db));
		CHECK(!rep.snapshot_used && rep.records_replayed >= 2 * N);
		print_message("%s: %" PRIu64 " preads to replay %" PRIu64
			      " records; %" PRIu64 " bytes in %u segments "
			      "mapped, %" PRIu64 " read-only\n",
			      runs[run].name, preads[run],
			      rep.records_replayed, st.map_bytes,
			      st.map_segments, ro.map_bytes);
		CHECK(st.map_bytes == ro.map_bytes &&
		      st.map_segments == ro.map_segments);
		CHECK((st.map_segments > 0) == (run == 2));
		for (int i = 0; i < N; i++) {
			void *got = NULL;
			size_t len = 0;

			snprintf(k, sizeof k, "key-%05d", i);
			CHECK_OK(lk_get(&got, &len, db, LK_NS_DEFAULT, k,
					strlen(k)));
			CHECK(len == VALUE && ((uint8_t *)got)[0] == 'b' &&
			      ((uint8_t *)got)[VALUE - 1] == 'b');
			lk_free(got);
		}
		CHECK_OK(lk_close(db));
		fault_free(fs);
	}
	CHECK(preads[0] < 100 && preads[1] > N / 2 && preads[2] < 200);
}

#define BULK_KEYS 80000

static void bulk_key(char k[32], int i)
{
	snprintf(k, 32, "bulk-%06d", i);
}

/* Whether bulk key i is live after bulk_fill(), and its value. */
static int bulk_live(int i)
{
	return i % 11 != 3;
}

static size_t bulk_value(uint8_t *v, int i)
{
	size_t n = i % 1000 == 0 ? 5000 : 20 + (size_t)(i % 41);

	for (size_t j = 0; j < n; j++)
		v[j] = (uint8_t)(i * 31 + (int)j * 7 + (int)(j >> 8));
	return n;
}

/* BULK_KEYS keys in namespace "bulk" (some expiring far ahead, one in a
 * thousand past the index's size field), every eleventh deleted, some in
 * "default" and in the catalog; a snapshot, and the handle closed. */
static void bulk_fill(const lk_options *o)
{
	static uint8_t v[8192];
	lk_recovery_report rep = LK_REPORT_INIT;
	uint32_t bulk;
	lk_batch *b;
	lk_db *db;
	char k[32];

	open_checked(&db, o, &rep);
	churn(db, 200, 5);
	CHECK_OK(lk_ns_open(&bulk, db, "bulk"));
	CHECK_OK(lk_batch_new(&b));
	for (int i = 0; i < BULK_KEYS; i++) {
		size_t len = bulk_value(v, i);

		bulk_key(k, i);
		CHECK_OK(lk_batch_put(b, bulk, k, strlen(k), v, len,
				      i % 7 == 0 ? now_ms + 86400000u : 0));
		if (lk_batch_count(b) == 1000)
			CHECK_OK(lk_commit(db, b));
	}
	for (int i = 3; i < BULK_KEYS; i += 11) {
		bulk_key(k, i);
		CHECK_OK(lk_batch_del(b, bulk, k, strlen(k)));
		if (lk_batch_count(b) == 1000)
			CHECK_OK(lk_commit(db, b));
	}
	CHECK_OK(lk_commit(db, b));
	lk_batch_free(b);
	CHECK_OK(lk_snapshot(db));
	CHECK_OK(lk_close(db));
}

/* Opens with o, checks every bulk key and the model, and collects the
 * state; returns whether the snapshot was used. */
static int bulk_open(const lk_options *o, struct state *s, char *note)
{
	static uint8_t v[8192];
	lk_recovery_report rep = LK_REPORT_INIT;
	uint64_t keys = 0;
	uint32_t bulk;
	lk_db *db;
	char k[32];

	open_checked(&db, o, &rep);
	check_model(db);
	CHECK_OK(lk_ns_find(&bulk, db, "bulk"));
	for (int i = 0; i < BULK_KEYS; i++) {
		void *got = NULL;
		size_t len = 0;

		bulk_key(k, i);
		if (!bulk_live(i)) {
			CHECK_ST(LK_NOT_FOUND,
				 lk_get(&got, &len, db, bulk, k, strlen(k)));
			continue;
		}
		CHECK_OK(lk_get(&got, &len, db, bulk, k, strlen(k)));
		CHECK(len == bulk_value(v, i) && memcmp(got, v, len) == 0);
		lk_free(got);
	}
	CHECK_OK(lk_ns_keys(&keys, db, bulk));
	CHECK(keys == BULK_KEYS - (BULK_KEYS - 3 + 10) / 11);
	collect(db, s);
	CHECK_OK(lk_close(db));
	if (note)
		snprintf(note, LK_NOTE_BYTES, "%s", rep.snapshot_note);
	return rep.snapshot_used;
}

/* A snapshot past the threshold is loaded by two threads; it gives what
 * a load by one thread gives (a handle with a memory budget),
 * what a load with no second thread to be had gives, and what a replay
 * of the whole log gives.  Damage in either part is found. */
static void large_snapshots_load_in_two_parts(void **state)
{
	/* a table of real size, at a threshold a test can fill quickly */
	uint64_t was = snapshot_split_keys_min(65536);
	struct state split, one, alone, replay;
	char name[64], note[LK_NOTE_BYTES];
	lk_io *io = fresh_io();
	lk_io c = counting(io);
	lk_options o = options(&c, 0);
	int before, with_split;

	(void)state;
	o.segment_size_bytes = 1u << 20;
	bulk_fill(&o);

	before = threads_started;
	CHECK(bulk_open(&o, &split, NULL));
	with_split = threads_started - before;
	o.memory_bytes_max = UINT64_C(1) << 30;
	before = threads_started;
	CHECK(bulk_open(&o, &one, NULL));
	/* the same open but for the load's thread */
	CHECK(with_split == threads_started - before + 1);
	same_state(&split, &one);
	o.memory_bytes_max = 0;
	threads_refused = 1;
	CHECK(bulk_open(&o, &alone, NULL));
	threads_refused = 0;
	same_state(&split, &alone);

	/* a byte of the first entry, then of the last: the first part's and
	 * the second's, each found by the hash over both */
	the_snapshot(&c, name);
	rename_file(&c, name, "kept");
	for (int last = 0; last < 2; last++) {
		struct blob b = file_read(&c, DIR, "kept");
		uint64_t nsegs = get_u32(b.p + SNAP_H_SEG_COUNT);
		uint64_t at = last ? b.n - SNAP_TRAILER_BYTES - 5
				   : snap_meta_bytes(SNAP_VERSION,
						     (uint32_t)nsegs,
						     get_u32(b.p +
							     SNAP_H_INDEX_SLOTS)) +
					     5;

		b.p[at] ^= 0x10;
		file_write(&c, DIR, name, b.p, b.n);
		free(b.p);
		CHECK(!bulk_open(&o, &replay, note));
		CHECK(strstr(note, "index entries") != NULL);
		same_state(&split, &replay);
	}
	lk_io_memory_free(io);
	snapshot_split_keys_min(was);
}

/* A load reads the entries into the table itself (index.h, "In place"):
 * an open that loads a snapshot by two threads makes the same large
 * allocations as one that loads it by one (a memory budget), which needs
 * no buffer either: the table, and the window of the reader that replays
 * the log after the snapshot.  The two-thread load used to read half the
 * entries into a buffer of their own, 12 bytes an entry. */
static void a_load_needs_no_buffer_beside_the_table(void **state)
{
	uint64_t was = snapshot_split_keys_min(65536);
	lk_io *io = fresh_io();
	lk_io c = counting(io);
	lk_options o = options(&c, 0);
	uint64_t large[2], table[2];

	(void)state;
	o.segment_size_bytes = 1u << 20;
	bulk_fill(&o);
	for (int budget = 0; budget < 2; budget++) {
		lk_recovery_report rep = LK_REPORT_INIT;
		uint64_t threads = threads_started;
		lk_stats st = LK_STATS_INIT;
		lk_db *db;

		o.memory_bytes_max = budget ? UINT64_C(1) << 30 : 0;
		(void)mem_large_bytes();
		CHECK_OK(lk_open(&db, DIR, &o));
		large[budget] = mem_large_bytes();
		CHECK_OK(lk_recovery(&rep, db));
		CHECK(rep.snapshot_used);
		CHECK_OK(lk_stats_get(&st, db));
		table[budget] = st.index_bytes;
		print_message("%s: the table %" PRIu64 " bytes, large "
			      "allocations of the open %" PRIu64 " bytes\n",
			      budget ? "one thread" : "two threads",
			      table[budget], large[budget]);
		/* the load's own thread, and no other, when there is one */
		CHECK((threads_started - threads == 1) == !budget);
		check_model(db);
		CHECK_OK(lk_close(db));
	}
	CHECK(table[0] == table[1] && large[0] == large[1]);
	/* the table, and no more than a reader's window beside it */
	CHECK(large[0] <= table[0] + o.segment_size_bytes);
	lk_io_memory_free(io);
	snapshot_split_keys_min(was);
}

/* Every allocation of an open that loads a snapshot in two parts failed
 * in turn: LK_NOMEM, or an open that reads as the model (the state for
 * the second part refused: one thread places it all). */
static void a_load_in_two_parts_survives_every_failed_allocation(
	void **state)
{
	uint64_t opened = 0, refused = 0;
	lk_options o;
	lk_io *io = make_db(&o, 0);

	(void)state;
	for (uint64_t nth = 1;; nth++) {
		lk_recovery_report rep = LK_REPORT_INIT;
		lk_status st;
		lk_db *db;

		(void)mem_fail_at(nth, 0);
		st = lk_open(&db, DIR, &o);
		if (mem_fail_at(0, 0) < nth) {
			CHECK_OK(st);
			CHECK_OK(lk_close(db));
			break;
		}
		if (st != LK_OK) {
			CHECK_ST(LK_NOMEM, st);
			refused++;
			continue;
		}
		CHECK_OK(lk_recovery(&rep, db));
		open_spaces(db);
		check_model(db);
		opened += rep.snapshot_used != 0;
		CHECK_OK(lk_close(db));
	}
	print_message("allocations failed: %" PRIu64 " refused, %" PRIu64
		      " opened from the snapshot all the same\n",
		      refused, opened);
	CHECK(refused > 0 && opened > 0);
	lk_io_memory_free(io);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(snapshot_load_equals_full_replay),
		cmocka_unit_test(damaged_snapshots_fall_back_to_replay),
		cmocka_unit_test(
			a_damaged_newer_snapshot_is_named_while_an_older_one_is_used),
		cmocka_unit_test(a_failed_read_is_not_called_damage),
		cmocka_unit_test(
			serials_logkeep_never_writes_are_not_snapshots),
		cmocka_unit_test(unfinished_and_broken_files),
		cmocka_unit_test(forged_capacity_is_refused_before_any_allocation),
		cmocka_unit_test(snapshot_of_a_table_emptied_by_deletes_is_used),
		cmocka_unit_test(a_snapshot_is_written_through_a_small_buffer),
		cmocka_unit_test(a_failed_snapshot_write_leaves_nothing_behind),
		cmocka_unit_test(forged_contents_that_contradict_the_log_fall_back),
		cmocka_unit_test(verify_reports_a_snapshot_that_disagrees_with_the_log),
		cmocka_unit_test(version_1_snapshots_are_still_read),
		cmocka_unit_test(forged_totals_are_refused),
		cmocka_unit_test(forged_namespace_bytes),
		cmocka_unit_test(close_and_compaction_write_snapshots),
		cmocka_unit_test(killed_writer_replays_only_after_the_snapshot),
		cmocka_unit_test(power_cut_anywhere_in_a_snapshot),
		cmocka_unit_test(large_snapshots_load_in_two_parts),
		cmocka_unit_test(a_load_needs_no_buffer_beside_the_table),
		cmocka_unit_test(
			a_replay_reads_its_own_segment_through_a_mapping),
		cmocka_unit_test(
			a_load_in_two_parts_survives_every_failed_allocation),
	};

	/* Every snapshot of these small databases is loaded in two parts
	 * (snapshot.h), but for the even seeds of the first test. */
	snapshot_split_keys_min(1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
