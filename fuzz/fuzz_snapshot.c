/* SPDX-License-Identifier: MIT */
/*
 * fuzz_snapshot.c - fuzz target for index snapshots (engine/snapshot_format.h):
 * a database written through the public API, a snapshot of it taken with
 * lk_snapshot(), the snapshot file's bytes edited as the input says, and
 * every open afterwards checked against a model of the keys.
 *
 * Input format (every integer little-endian):
 *
 *   input  := flags:u8 before:u8 after:u8 seed:u8 edit*
 *   flags  := bit 0  FIX: after the edits, the header checksum, the
 *                    header's file_bytes (to what its counts imply) and the
 *                    two trailing hashes are recomputed, so that edited
 *                    fields reach the checks behind them (the segment table
 *                    against the log, index_import's entry and probe-order
 *                    checks, the namespace catalog)
 *             bit 1  FIX_TAILS: with FIX, each segment's tail_hash is also
 *                    recomputed from the log for the (edited) data_end, so
 *                    that a moved position passes too
 *             bit 2  OLDER: a snapshot is taken halfway through the writes
 *                    and its file put back after the second one replaced
 *                    it, so that open has an older one to fall back on
 *             bit 3  LATE_CLOCK: the opens after the writes run
 *                    LATE_MS later, when the "near" expiries have passed
 *             bit 4  COMPACT: the workload calls lk_compact() now and
 *                    then before the snapshot, and once after the reopen
 *             bit 5  SYNC_NONE
 *             bit 6  BIG_VALUES: some values are larger than the index's
 *                    size field holds (IX_SIZE_LARGE)
 *             bit 7  COMPACT_AFTER: lk_compact() after the snapshot, which
 *                    may make it stale (renamed segments)
 *   before    the number of operations before the snapshot (% OPS_BEFORE)
 *   after     the number after it (% OPS_AFTER)
 *   seed      the workload's random numbers (with before and after);
 *             an odd seed has every load placed by two threads
 *             (snapshot_split_keys_min), an even one by one
 *   edit   := op:u8 pos:u16 val:u8, at most EDITS_MAX of them, applied to
 *             the newest snapshot file in order.  op bits 0-2 the kind,
 *             op >> 3 (% 8) the region of the original layout that pos
 *             falls in (% its length): the whole file, header, segment
 *             table, bitmap, entries, trailer, compaction totals,
 *             namespaces' live bytes (the last two since format 2).
 *             Kinds: xor a byte with val; set a byte to val; add (int8)val to the u64 at pos;
 *             add it to the u32; fill (val & 15) + 1 bytes with 0 or 0xff
 *             (val & 16); swap the 12 bytes at pos (an entry, in the
 *             entries region) with those (val % 8 + 1) * 12 further on;
 *             truncate at pos; append val + 1 bytes copied from pos.
 *
 * The workload: up to three namespaces ("default", and "alpha" and "beta"
 * once a ns op opens them), KEYS keys each of varied length; puts (values
 * of 0 to 300 bytes, compressible or not, some past IX_SIZE_LARGE with
 * BIG_VALUES), puts that expired before they were written, puts that
 * expire before the late clock, deletes, batches, all on 4 KiB segments,
 * on an lk_io_memory file system at FUZZ_NOW_MS, with no background thread
 * and no automatic snapshot (snapshot_every_bytes 0).  A model keeps each
 * key's value.
 *
 * Properties (FUZZ_CHECK aborts; ASan and UBSan find the rest).  A
 * snapshot is "forged" when FIX was set and its bytes changed: it may pass
 * every check of its own and still lie.  Every answer is checked against
 * the model ("strict") unless the forged snapshot was used.
 *   1. The log is intact: lk_verify() is LK_OK with no problem, but for
 *      a forged snapshot that an open uses and that does not match a
 *      replay of the log (LK_CORRUPT, one problem); a read-only and a
 *      strict read-write lk_open() succeed (with a forged snapshot they
 *      may both fail, with a documented status); the two agree on the
 *      snapshot used; snapshot_note is a non-empty string.  A forged
 *      snapshot that verify found equal to a replay is held to the model
 *      (strict).
 *   2. Which snapshot is used: an unchanged file is (unless a compaction
 *      after it rewrote segments); a changed file without FIX is not:
 *      with OLDER (and no compaction since the older one) the older one is
 *      used instead, else none, snapshot_used 0, and the note says why.
 *   3. Strict: every key reads back as the model says at the open's clock
 *      (lk_get), lk_count() agrees, iterating each namespace gives exactly
 *      the visible keys with their values and expiries, and each namespace
 *      has its id.  When a snapshot was used, lk_stats_get() agrees with
 *      an open that replays the whole log (the snapshot files moved
 *      aside) on segments, live keys, live and dead bytes, disk bytes and
 *      seq_last, and with the read-write open.
 *   4. The handle goes on: writes, lk_snapshot(), with COMPACT lk_compact()
 *      (everything read back after it) and lk_snapshot() again, one more
 *      write, close.  Strict: a reopen uses the newest snapshot and holds
 *      the model, and so does one with every snapshot file removed.
 *   5. Not strict: gets, counts, iterations of every namespace that has
 *      keys, lk_stats_get(), the writes, lk_snapshot(), lk_compact() and
 *      lk_close() return documented statuses (a write may also return the
 *      LK_CORRUPT of the read that confirms its key) and do not crash; the
 *      reopens may fail with a documented status.
 */
#include <string.h>

#include "endian.h"
#include "fuzz.h"
#include "index.h"
#include "io.h"
#include "logkeep.h"
#include "record.h"
#include "segment.h"
#include "snapshot.h"

#define DIR_PATH "db"
#define NSS 3
#define KEYS 24
#define KEY_BYTES_MAX 40
#define OPS_BEFORE 128
#define OPS_AFTER 32
#define EDITS_MAX 64
#define EXTEND_BYTES_MAX (64u * 1024u)
#define VALUE_SMALL_MAX 300u
#define VALUE_BIG_BYTES 4600u /* past IX_SIZE_LARGE, under 2 segments */
#define LATE_MS UINT64_C(3600000)

#define F_FIX 0x01u
#define F_FIX_TAILS 0x02u
#define F_OLDER 0x04u
#define F_LATE_CLOCK 0x08u
#define F_COMPACT 0x10u
#define F_SYNC_NONE 0x20u
#define F_BIG_VALUES 0x40u
#define F_COMPACT_AFTER 0x80u

static const char *const ns_names[NSS] = { "default", "alpha", "beta" };

struct entry {
	int present;           /* a put is the key's newest write */
	uint32_t value_seed;
	uint32_t value_len;
	uint64_t expire_at_ms;
};

struct model {
	uint32_t ns_id[NSS];   /* 0: not opened yet */
	struct entry e[NSS][KEYS];
	uint32_t next_seed;
};

struct run {
	uint8_t flags;
	uint64_t rng;
	lk_io *io;
	lk_options opts;       /* strict read-write */
	struct model m;
	uint64_t now_ms;       /* the clock of the opens after the writes */
};

static uint8_t vbuf[VALUE_BIG_BYTES];

/* ---------------------------------------------------------------------- */
/* Keys, values, the workload                                             */
/* ---------------------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

static uint32_t rnd(struct run *r, uint32_t n)
{
	r->rng = mix(r->rng);
	return (uint32_t)(r->rng >> 32) % n;
}

/* Key k: "k<k>" padded with dots to 1 + (k * 7) % KEY_BYTES_MAX bytes. */
static size_t key_make(char buf[KEY_BYTES_MAX + 1], unsigned k)
{
	size_t len = 1 + (k * 7u) % KEY_BYTES_MAX;
	int n = snprintf(buf, KEY_BYTES_MAX + 1, "k%u", k);

	if ((size_t)n > len)
		len = (size_t)n;
	memset(buf + n, '.', len - (size_t)n);
	buf[len] = 0;
	return len;
}

/* The value of seed: compressible when the seed is even, not when odd;
 * the first bytes name the seed, so no two puts write the same value. */
static void value_make(uint8_t *buf, uint32_t seed, uint32_t len)
{
	uint64_t x = seed;

	for (uint32_t i = 0; i < len; i++) {
		if (i < 4) {
			buf[i] = (uint8_t)(seed >> (8 * i));
		} else if (seed & 1) {
			if (i % 8 == 4)
				x = mix(x);
			buf[i] = (uint8_t)(x >> (8 * (i % 8)));
		} else {
			buf[i] = (uint8_t)('a' + (seed + i / 5) % 26);
		}
	}
}

static int visible(const struct entry *e, uint64_t now_ms)
{
	return e->present && (e->expire_at_ms == 0 || e->expire_at_ms > now_ms);
}

/* Picks an opened namespace. */
static unsigned pick_ns(struct run *r)
{
	unsigned ns = rnd(r, NSS);

	return r->m.ns_id[ns] ? ns : 0;
}

/* A put or delete of a random key, alone or into batch b (committed by
 * the caller); the model follows.  now_ms: the clock the expiries are
 * chosen by. */
static void write_one(struct run *r, lk_db *db, lk_batch *b, uint64_t now_ms)
{
	unsigned ns = pick_ns(r), k = rnd(r, KEYS), c = rnd(r, 100);
	struct entry *e = &r->m.e[ns][k];
	char key[KEY_BYTES_MAX + 1];
	size_t key_len = key_make(key, k);
	lk_status st;

	if (c < 20) {
		st = b ? lk_batch_del(b, r->m.ns_id[ns], key, key_len)
		       : lk_del(db, r->m.ns_id[ns], key, key_len);
		FUZZ_CHECK(st == LK_OK);
		memset(e, 0, sizeof *e);
		return;
	}
	e->present = 1;
	e->value_seed = r->m.next_seed++;
	e->value_len = rnd(r, VALUE_SMALL_MAX + 1);
	if ((r->flags & F_BIG_VALUES) && rnd(r, 8) == 0)
		e->value_len = VALUE_BIG_BYTES - rnd(r, 300);
	e->expire_at_ms = c < 30 ? now_ms - 1000
			  : c < 40 ? now_ms + LATE_MS - 1 - rnd(r, 1000)
				   : 0;
	value_make(vbuf, e->value_seed, e->value_len);
	st = b ? lk_batch_put(b, r->m.ns_id[ns], key, key_len, vbuf,
			      e->value_len, e->expire_at_ms)
	       : lk_put(db, r->m.ns_id[ns], key, key_len, vbuf, e->value_len,
			e->expire_at_ms);
	FUZZ_CHECK(st == LK_OK);
}

/* n operations on db at FUZZ_NOW_MS. */
static void workload(struct run *r, lk_db *db, unsigned n, int compact)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned c = rnd(r, 100);

		if (c < 82) {
			write_one(r, db, NULL, FUZZ_NOW_MS);
		} else if (c < 92) {
			lk_batch *b;
			unsigned members = 2 + rnd(r, 4);

			FUZZ_CHECK(lk_batch_new(&b) == LK_OK);
			/* Later members win, as in the model. */
			for (unsigned j = 0; j < members; j++)
				write_one(r, db, b, FUZZ_NOW_MS);
			FUZZ_CHECK(lk_commit(db, b) == LK_OK);
			lk_batch_free(b);
		} else if (c < 96) {
			for (unsigned ns = 1; ns < NSS; ns++) {
				if (r->m.ns_id[ns])
					continue;
				FUZZ_CHECK(lk_ns_open(&r->m.ns_id[ns], db,
						      ns_names[ns]) == LK_OK);
				FUZZ_CHECK(r->m.ns_id[ns] > LK_NS_DEFAULT);
				break;
			}
		} else if (compact) {
			FUZZ_CHECK(lk_compact(db) == LK_OK);
		} else {
			write_one(r, db, NULL, FUZZ_NOW_MS);
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Files                                                                  */
/* ---------------------------------------------------------------------- */

/* Reads file `name` of the data directory into a new buffer. */
static int file_read(const lk_io *io, const char *name, uint8_t **out,
		     size_t *len)
{
	lk_io_dir *dir;
	lk_io_file *f;
	uint64_t size = 0;
	size_t got = 0;
	int ok = 0;

	*out = NULL;
	*len = 0;
	FUZZ_CHECK(io->dir_open(io->ctx, DIR_PATH, 0, &dir) == LK_OK);
	if (io->open(io->ctx, dir, name, LK_IO_READ, &f) == LK_OK) {
		FUZZ_CHECK(io->size(io->ctx, f, &size) == LK_OK);
		*out = malloc(size ? (size_t)size : 1);
		FUZZ_CHECK(*out != NULL);
		FUZZ_CHECK(io->pread(io->ctx, f, *out, (size_t)size, 0, &got) ==
			   LK_OK);
		FUZZ_CHECK(got == size);
		*len = got;
		io->close(io->ctx, f);
		ok = 1;
	}
	io->dir_close(io->ctx, dir);
	return ok;
}

/* Replaces file `name` with len bytes. */
static void file_write(const lk_io *io, const char *name, const uint8_t *buf,
		       size_t len)
{
	lk_io_dir *dir;
	lk_io_file *f;
	lk_status st;

	FUZZ_CHECK(io->dir_open(io->ctx, DIR_PATH, 0, &dir) == LK_OK);
	st = io->unlink(io->ctx, dir, name);
	FUZZ_CHECK(st == LK_OK || st == LK_NOT_FOUND);
	FUZZ_CHECK(io->open(io->ctx, dir, name,
			    LK_IO_WRITE | LK_IO_CREATE | LK_IO_EXCL,
			    &f) == LK_OK);
	if (len)
		FUZZ_CHECK(io->pwrite(io->ctx, f, buf, len, 0) == LK_OK);
	io->close(io->ctx, f);
	io->dir_close(io->ctx, dir);
}

/* The snapshot files of the data directory (the engine keeps one, two
 * after a crash, and this target puts back an older one). */
struct snap_files {
	char names[8][64];
	size_t n;
};

static lk_status list_snap(void *arg, const char *name)
{
	struct snap_files *l = arg;
	size_t len = strlen(name);
	uint64_t serial;
	int tmp;

	if (snapshot_parse_name(name, &serial, &tmp) ||
	    (strncmp(name, "aside.", 6) == 0 &&
	     snapshot_parse_name(name + 6, &serial, &tmp))) {
		FUZZ_CHECK(l->n < sizeof l->names / sizeof l->names[0]);
		FUZZ_CHECK(len < sizeof l->names[0]);
		memcpy(l->names[l->n++], name, len + 1);
	}
	return LK_OK;
}

/* Renames every snapshot file to "aside.<name>" (aside = 1), which open
 * does not take for a snapshot, or back (aside = 0); or removes them
 * (aside = -1). */
static void snaps_move(const lk_io *io, int aside)
{
	struct snap_files l = { .n = 0 };
	lk_io_dir *dir;

	FUZZ_CHECK(io->dir_open(io->ctx, DIR_PATH, 0, &dir) == LK_OK);
	FUZZ_CHECK(io->dir_list(io->ctx, dir, list_snap, &l) == LK_OK);
	for (size_t i = 0; i < l.n; i++) {
		char other[80];
		const char *name = l.names[i];
		int moved = strncmp(name, "aside.", 6) == 0;

		if (aside < 0) {
			FUZZ_CHECK(io->unlink(io->ctx, dir, name) == LK_OK);
		} else if (aside && !moved) {
			snprintf(other, sizeof other, "aside.%s", name);
			FUZZ_CHECK(io->rename(io->ctx, dir, name, other) ==
				   LK_OK);
		} else if (!aside && moved) {
			FUZZ_CHECK(io->rename(io->ctx, dir, name, name + 6) ==
				   LK_OK);
		}
	}
	io->dir_close(io->ctx, dir);
}

static void snap_file_name(char name[64], uint64_t serial)
{
	snprintf(name, 64, "%016llx.snap", (unsigned long long)serial);
}

/* ---------------------------------------------------------------------- */
/* Editing the snapshot                                                   */
/* ---------------------------------------------------------------------- */

/* The file being edited: len bytes in a buffer of cap. */
struct bytes {
	uint8_t *p;
	size_t len, cap;
};

/* Regions 6 and 7 came with snapshot format 2: earlier inputs name the
 * first six as they did. */
enum { R_FILE, R_HEADER, R_SEGS, R_BITMAP, R_ENTRIES, R_TRAILER, R_TOTALS,
       R_NS, R_COUNT };

/* The regions of the original file, [start, end) each, as its header
 * says (snapshot_format.h). */
struct regions {
	size_t start[R_COUNT], end[R_COUNT];
};

static size_t clamp(uint64_t v, size_t len)
{
	return v < len ? (size_t)v : len;
}

static void regions_of(struct regions *rg, const uint8_t *b, size_t len)
{
	uint64_t bound[5] = { 0, SNAP_HEADER_BYTES, 0, 0, 0 };
	uint32_t version = len >= SNAP_HEADER_BYTES
				   ? get_u16(b + SNAP_H_VERSION)
				   : SNAP_VERSION;

	bound[1] = snap_segs_at(version); /* header, totals, namespaces */
	if (len >= SNAP_HEADER_BYTES) {
		bound[2] = (uint64_t)get_u32(b + SNAP_H_SEG_COUNT) *
			   SNAP_SEG_BYTES;
		bound[3] = IX_EXPORT_BITMAP_BYTES(get_u32(b +
							  SNAP_H_INDEX_SLOTS));
		bound[4] = (uint64_t)get_u32(b + SNAP_H_KEYS) * IX_SLOT_BYTES;
	}
	bound[2] += bound[1];
	bound[3] += bound[2];
	bound[4] += bound[3];
	rg->start[R_FILE] = 0;
	rg->end[R_FILE] = len;
	for (int i = R_HEADER; i <= R_ENTRIES; i++) {
		rg->start[i] = clamp(bound[i - 1], len);
		rg->end[i] = clamp(bound[i], len);
	}
	rg->start[R_TRAILER] = len >= SNAP_TRAILER_BYTES
				       ? len - SNAP_TRAILER_BYTES : 0;
	rg->end[R_TRAILER] = len;
	/* version 2's blocks (empty in a version 1 file) */
	rg->end[R_HEADER] = clamp(SNAP_HEADER_BYTES, len);
	rg->start[R_TOTALS] = rg->end[R_HEADER];
	rg->end[R_TOTALS] = clamp(version >= 2 ? SNAP_NS_AT : 0, len);
	rg->start[R_NS] = clamp(SNAP_NS_AT, len);
	rg->end[R_NS] = clamp(version >= 2 ? snap_segs_at(version) : 0, len);
}

/* One edit (see the input format). */
static void edit(struct bytes *b, const struct regions *rg, const uint8_t e[4])
{
	unsigned kind = e[0] & 7u, region = (unsigned)(e[0] >> 3) % R_COUNT;
	unsigned pos = get_u16(e + 1);
	uint8_t val = e[3];
	size_t lo = rg->start[region], hi = rg->end[region], p;

	if (hi > b->len)
		hi = b->len;
	if (lo >= hi) {
		lo = 0;
		hi = b->len;
	}
	if (hi == 0 && kind != 7)
		return;
	p = hi ? lo + pos % (hi - lo) : 0;
	switch (kind) {
	case 0:
		b->p[p] ^= val;
		break;
	case 1:
		b->p[p] = val;
		break;
	case 2:
		if (p + 8 <= b->len)
			put_u64(b->p + p, get_u64(b->p + p) +
						  (uint64_t)(int64_t)(int8_t)val);
		break;
	case 3:
		if (p + 4 <= b->len)
			put_u32(b->p + p, get_u32(b->p + p) +
						  (uint32_t)(int32_t)(int8_t)val);
		break;
	case 4: {
		size_t n = (val & 15u) + 1u;

		if (n > b->len - p)
			n = b->len - p;
		memset(b->p + p, val & 16u ? 0xff : 0, n);
		break;
	}
	case 5: {
		uint8_t tmp[IX_SLOT_BYTES];
		size_t q;

		if (region == R_ENTRIES && hi - lo >= IX_SLOT_BYTES)
			p = lo + (pos % ((hi - lo) / IX_SLOT_BYTES)) *
					 IX_SLOT_BYTES;
		q = p + IX_SLOT_BYTES * ((val % 8u) + 1u);
		if (q + IX_SLOT_BYTES > b->len)
			break;
		memcpy(tmp, b->p + p, IX_SLOT_BYTES);
		memcpy(b->p + p, b->p + q, IX_SLOT_BYTES);
		memcpy(b->p + q, tmp, IX_SLOT_BYTES);
		break;
	}
	case 6:
		b->len = p;
		break;
	case 7: {
		size_t n = (size_t)val + 1u, old = b->len;

		if (old + n > b->cap)
			break;
		for (size_t i = 0; i < n; i++)
			b->p[old + i] = old ? b->p[(p + i) % old] : 0;
		b->len = old + n;
		break;
	}
	}
}

/* The hash of the SNAP_TAIL_BYTES of segment (seq, generation) before
 * `end`, as snapshot.c computes it; 0 if the log has no such bytes. */
static int tail_hash(const lk_io *io, uint64_t seq, uint32_t generation,
		     uint64_t end, uint64_t *hash)
{
	char name[SEG_NAME_BYTES];
	uint8_t buf[SNAP_TAIL_BYTES];
	uint64_t from = end > SNAP_TAIL_BYTES ? end - SNAP_TAIL_BYTES : 0;
	lk_io_dir *dir;
	lk_io_file *f;
	size_t got = 0;
	int ok = 0;

	seg_name(name, seq, generation);
	FUZZ_CHECK(io->dir_open(io->ctx, DIR_PATH, 0, &dir) == LK_OK);
	if (io->open(io->ctx, dir, name, LK_IO_READ, &f) == LK_OK) {
		ok = io->pread(io->ctx, f, buf, (size_t)(end - from), from,
			       &got) == LK_OK &&
		     got == end - from;
		io->close(io->ctx, f);
	}
	io->dir_close(io->ctx, dir);
	if (ok)
		*hash = snap_hash(buf, got);
	return ok;
}

/* FIX: makes the edited file pass the checks on its own bytes again:
 * the header's file_bytes and checksum, the totals' hash (format 2), the
 * tail hashes (FIX_TAILS) and the trailer, recomputed with the format's
 * own functions, for the layout of the version the header says. */
static void fix(const struct run *r, struct bytes *b)
{
	uint8_t *h = b->p;
	uint32_t nsegs, slots, keys, version;
	uint64_t meta, want, segs;

	if (b->len < SNAP_HEADER_BYTES)
		return;
	version = get_u16(h + SNAP_H_VERSION);
	nsegs = get_u32(h + SNAP_H_SEG_COUNT);
	slots = get_u32(h + SNAP_H_INDEX_SLOTS);
	keys = get_u32(h + SNAP_H_KEYS);
	segs = snap_segs_at(version);
	meta = snap_meta_bytes(version, nsegs, slots);
	want = snap_file_bytes(version, nsegs, slots, keys);
	for (uint64_t i = 0; (r->flags & F_FIX_TAILS) && i < nsegs &&
			     segs + (i + 1) * SNAP_SEG_BYTES <= b->len;
	     i++) {
		uint8_t *s = h + segs + i * SNAP_SEG_BYTES;
		uint64_t end = get_u64(s + SNAP_S_DATA_END), hash;

		if (end <= UINT64_C(1) << 32 &&
		    tail_hash(r->io, get_u64(s + SNAP_S_SEQ),
			      get_u32(s + SNAP_S_GENERATION), end, &hash))
			put_u64(s + SNAP_S_TAIL_HASH, hash);
	}
	put_u64(h + SNAP_H_FILE_BYTES, want);
	put_u32(h + SNAP_H_CHECKSUM, snap_header_checksum(h));
	if (version >= 2 && b->len >= SNAP_NS_AT)
		put_u64(h + SNAP_HEADER_BYTES + SNAP_C_HASH,
			snap_totals_hash(h));
	if (want <= b->len) {
		uint8_t *t = b->p + want - SNAP_TRAILER_BYTES;

		put_u64(t + SNAP_T_META_HASH, snap_hash(b->p, (size_t)meta));
		put_u64(t + SNAP_T_ENTRIES_HASH,
			snap_hash(b->p + meta, (size_t)keys * IX_SLOT_BYTES));
	}
}

/* ---------------------------------------------------------------------- */
/* Reading back                                                           */
/* ---------------------------------------------------------------------- */

static int get_status_ok(lk_status st)
{
	return st == LK_OK || st == LK_NOT_FOUND || st == LK_CORRUPT ||
	       st == LK_IO || st == LK_NOMEM;
}

/* The write statuses, and LK_CORRUPT: a write whose key's lookup reads
 * a record that fails its checks (a forged entry points into the middle
 * of one) returns the read's status, and halts the handle (commit.c). */
static int write_status_ok(lk_status st)
{
	return st == LK_OK || st == LK_INVALID || st == LK_TOO_BIG ||
	       st == LK_HALTED || st == LK_IO || st == LK_NOSPACE ||
	       st == LK_NOMEM || st == LK_CORRUPT;
}

static int open_status_ok(lk_status st)
{
	return st == LK_OK || st == LK_CORRUPT || st == LK_VERSION ||
	       st == LK_IO || st == LK_NOMEM || st == LK_TOO_BIG;
}

/* Which model key the iterator gave, or -1. */
static int key_index(const void *key, size_t key_len)
{
	char want[KEY_BYTES_MAX + 1];
	const char *k = key;
	unsigned v = 0;

	if (key_len < 2 || key_len > KEY_BYTES_MAX || k[0] != 'k')
		return -1;
	for (size_t i = 1; i < key_len && k[i] >= '0' && k[i] <= '9' &&
			   v < KEYS;
	     i++)
		v = v * 10 + (unsigned)(k[i] - '0');
	if (v >= KEYS || key_make(want, v) != key_len ||
	    memcmp(want, key, key_len) != 0)
		return -1;
	return (int)v;
}

/* Namespace i of the model: holds exactly its visible keys. */
static void check_ns_strict(const struct run *r, lk_db *db, unsigned i)
{
	uint32_t ns = r->m.ns_id[i];
	uint64_t count = 0, visible_keys = 0, iterated = 0;
	int seen[KEYS] = { 0 };
	const void *key, *value;
	size_t key_len, value_len;
	uint64_t expire_at_ms;
	lk_iter *it;
	lk_status st;

	for (unsigned k = 0; k < KEYS; k++) {
		const struct entry *e = &r->m.e[i][k];
		char kb[KEY_BYTES_MAX + 1];
		size_t kl = key_make(kb, k);
		void *got = NULL;
		size_t got_len = 0;

		st = lk_get(&got, &got_len, db, ns, kb, kl);
		if (!visible(e, r->now_ms)) {
			FUZZ_CHECK(st == LK_NOT_FOUND);
			continue;
		}
		visible_keys++;
		FUZZ_CHECK(st == LK_OK);
		value_make(vbuf, e->value_seed, e->value_len);
		FUZZ_CHECK(got_len == e->value_len);
		FUZZ_CHECK(got_len == 0 || memcmp(got, vbuf, got_len) == 0);
		lk_free(got);
	}
	FUZZ_CHECK(lk_count(&count, db, ns) == LK_OK);
	FUZZ_CHECK(count == visible_keys);
	FUZZ_CHECK(lk_iter_open(&it, db, ns, NULL, 0) == LK_OK);
	while ((st = lk_iter_next(it, &key, &key_len, &value, &value_len,
				  &expire_at_ms)) == LK_OK) {
		int k = key_index(key, key_len);
		const struct entry *e;

		FUZZ_CHECK(k >= 0 && !seen[k]);
		seen[k] = 1;
		e = &r->m.e[i][k];
		FUZZ_CHECK(visible(e, r->now_ms));
		FUZZ_CHECK(expire_at_ms == e->expire_at_ms);
		value_make(vbuf, e->value_seed, e->value_len);
		FUZZ_CHECK(value_len == e->value_len);
		FUZZ_CHECK(value_len == 0 || memcmp(value, vbuf, value_len) == 0);
		iterated++;
	}
	lk_iter_close(it);
	FUZZ_CHECK(st == LK_NOT_FOUND);
	FUZZ_CHECK(iterated == visible_keys);
}

/* Namespace id ns of a database a forged snapshot may have misled: only
 * documented statuses, and bytes that are there to read. */
static void check_ns_lenient(lk_db *db, uint32_t ns)
{
	const void *key, *value;
	size_t key_len, value_len;
	uint64_t count = 0, sum = 0;
	lk_iter *it;
	lk_status st;

	st = lk_count(&count, db, ns);
	FUZZ_CHECK(st == LK_OK || st == LK_CORRUPT || st == LK_IO ||
		   st == LK_NOMEM);
	st = lk_iter_open(&it, db, ns, NULL, 0);
	FUZZ_CHECK(st == LK_OK || st == LK_NOMEM);
	if (st != LK_OK)
		return;
	while ((st = lk_iter_next(it, &key, &key_len, &value, &value_len,
				  NULL)) == LK_OK) {
		void *got = NULL;
		size_t got_len = 0;
		lk_status gst;

		FUZZ_CHECK(key_len >= 1 && key_len <= LK_KEY_BYTES_MAX);
		FUZZ_CHECK(value_len <= LK_VALUE_BYTES_MAX);
		for (size_t j = 0; j < value_len; j++)
			sum += ((const uint8_t *)value)[j];
		gst = lk_get(&got, &got_len, db, ns, key, key_len);
		FUZZ_CHECK(get_status_ok(gst));
		if (gst == LK_OK)
			FUZZ_CHECK(((const char *)got)[got_len] == 0);
		lk_free(got);
	}
	lk_iter_close(it);
	FUZZ_CHECK(get_status_ok(st) && st != LK_OK);
	(void)sum;
}

/* Everything the handle holds, checked against the model (strict) or
 * only for documented statuses.  Returns the handle's stats. */
static void check_contents(const struct run *r, lk_db *db, int strict,
			   lk_stats *stats)
{
	for (unsigned i = 0; i < NSS; i++) {
		uint32_t id = 0;
		lk_status st = lk_ns_find(&id, db, ns_names[i]);

		FUZZ_CHECK(st == LK_OK || st == LK_NOT_FOUND);
		if (!strict)
			continue;
		if (r->m.ns_id[i]) {
			FUZZ_CHECK(st == LK_OK && id == r->m.ns_id[i]);
			check_ns_strict(r, db, i);
		} else {
			FUZZ_CHECK(st == LK_NOT_FOUND);
		}
	}
	if (!strict) {
		for (unsigned i = 0; i < NSS; i++) {
			for (unsigned k = 0; r->m.ns_id[i] && k < KEYS; k++) {
				char kb[KEY_BYTES_MAX + 1];
				size_t kl = key_make(kb, k);
				void *got = NULL;
				size_t got_len = 0;
				lk_status st;

				st = lk_get(&got, &got_len, db, r->m.ns_id[i],
					    kb, kl);
				FUZZ_CHECK(get_status_ok(st));
				if (st == LK_OK)
					FUZZ_CHECK(((char *)got)[got_len] == 0);
				lk_free(got);
			}
		}
		for (uint32_t ns = 1; ns <= LK_NS_COUNT_MAX; ns++) {
			uint64_t keys = 0;

			FUZZ_CHECK(lk_ns_keys(&keys, db, ns) == LK_OK);
			if (keys)
				check_ns_lenient(db, ns);
		}
	}
	memset(stats, 0, sizeof *stats);
	stats->version = LK_STATS_VERSION;
	FUZZ_CHECK(lk_stats_get(stats, db) == LK_OK);
}

/* ---------------------------------------------------------------------- */
/* Which snapshot an open used                                            */
/* ---------------------------------------------------------------------- */

enum used { USED_NONE, USED_A, USED_B, USED_OTHER };

static enum used used_of(const lk_recovery_report *rep, const char *name_a,
			 const char *name_b)
{
	const char *note = rep->snapshot_note;

	FUZZ_CHECK(memchr(note, 0, sizeof rep->snapshot_note) != NULL);
	FUZZ_CHECK(note[0] != 0);
	if (!rep->snapshot_used)
		return USED_NONE;
	if (strncmp(note, "snapshot ", 9) != 0)
		return USED_OTHER;
	note += 9;
	if (name_a[0] && strncmp(note, name_a, strlen(name_a)) == 0)
		return USED_A;
	if (name_b[0] && strncmp(note, name_b, strlen(name_b)) == 0)
		return USED_B;
	return USED_OTHER;
}

/* FUZZ_SNAPSHOT_TRACE=1 in the environment prints what each open
 * found, for replaying a failure by hand. */
static void trace_report(const char *what, lk_status st,
			 const lk_recovery_report *rep)
{
	static int tracing = -1;

	if (tracing < 0)
		tracing = getenv("FUZZ_SNAPSHOT_TRACE") != NULL;
	if (!tracing)
		return;
	if (st != LK_OK)
		fprintf(stderr, "%s: %s (%s)\n", what, lk_strerror(st),
			lk_errmsg());
	else
		fprintf(stderr, "%s: snapshot_used %d, \"%s\", %llu records "
			"replayed, %llu bytes cut\n", what, rep->snapshot_used,
			rep->snapshot_note,
			(unsigned long long)rep->records_replayed,
			(unsigned long long)rep->bytes_cut);
}

/* Every problem counts; one that is not about a snapshot counts double,
 * since the log itself is never edited. */
static void on_problem(void *arg, const lk_problem *p)
{
	*(int *)arg += p->kind == LK_PROBLEM_SNAPSHOT ? 1 : 2;
}

/* The counters an open with a snapshot must share with one that replays
 * the whole log. */
static void check_same_stats(const lk_stats *a, const lk_stats *b)
{
	FUZZ_CHECK(a->segment_count == b->segment_count);
	FUZZ_CHECK(a->live_keys == b->live_keys);
	FUZZ_CHECK(a->live_bytes == b->live_bytes);
	FUZZ_CHECK(a->dead_bytes == b->dead_bytes);
	FUZZ_CHECK(a->disk_bytes == b->disk_bytes);
	FUZZ_CHECK(a->seq_last == b->seq_last);
}

/* ---------------------------------------------------------------------- */
/* The target                                                             */
/* ---------------------------------------------------------------------- */

static uint64_t stat_of(lk_db *db, int serial)
{
	lk_stats s;

	memset(&s, 0, sizeof s);
	s.version = LK_STATS_VERSION;
	FUZZ_CHECK(lk_stats_get(&s, db) == LK_OK);
	return serial ? s.snapshot_serial : s.compactions;
}

/* After the checked opens: writes, a snapshot, a compaction, one more
 * write, close; then a reopen with the new snapshot and one without any.
 * strict: the model holds throughout. */
static void write_again(struct run *r, int strict)
{
	lk_stats stats;
	lk_recovery_report rep = { .version = LK_REPORT_VERSION };
	lk_db *db = NULL;
	lk_status st;
	unsigned n = 2 + rnd(r, 6);

	st = lk_open(&db, DIR_PATH, &r->opts);
	FUZZ_CHECK(st == LK_OK || (!strict && open_status_ok(st)));
	if (st != LK_OK)
		return;
	for (unsigned i = 0; i < n + 1; i++) {
		if (i == n) {
			st = lk_snapshot(db);
			FUZZ_CHECK(st == LK_OK || (!strict && write_status_ok(st)));
			if (r->flags & F_COMPACT) {
				st = lk_compact(db);
				FUZZ_CHECK(st == LK_OK ||
					   (!strict && write_status_ok(st)));
				/* what the compaction left is all there */
				check_contents(r, db, strict, &stats);
				/* a snapshot after the compaction, which
				 * made the last one stale */
				st = lk_snapshot(db);
				FUZZ_CHECK(st == LK_OK ||
					   (!strict && write_status_ok(st)));
			}
		}
		if (strict) {
			write_one(r, db, NULL, r->now_ms);
		} else {
			/* any key, any namespace the model knows */
			char kb[KEY_BYTES_MAX + 1];
			unsigned ns = pick_ns(r), k = rnd(r, KEYS);
			size_t kl = key_make(kb, k);

			value_make(vbuf, r->m.next_seed, 40);
			st = k & 1 ? lk_del(db, r->m.ns_id[ns], kb, kl)
				   : lk_put(db, r->m.ns_id[ns], kb, kl, vbuf,
					    40, 0);
			FUZZ_CHECK(write_status_ok(st));
		}
	}
	st = lk_close(db);
	FUZZ_CHECK(st == LK_OK ||
		   (!strict && (st == LK_IO || st == LK_HALTED)));

	/* the new snapshot, then none */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			snaps_move(r->io, -1);
		st = lk_open(&db, DIR_PATH, &r->opts);
		FUZZ_CHECK(st == LK_OK || (!strict && open_status_ok(st)));
		if (st == LK_OK)
			FUZZ_CHECK(lk_recovery(&rep, db) == LK_OK);
		trace_report(pass ? "reopen, snapshots removed"
				  : "reopen after the writes", st, &rep);
		if (st != LK_OK)
			continue;
		if (strict)
			FUZZ_CHECK(rep.snapshot_used == (pass == 0));
		check_contents(r, db, strict, &stats);
		FUZZ_CHECK(lk_close(db) == LK_OK);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	lk_options create, ro;
	lk_recovery_report vrep, rep_ro = { .version = LK_REPORT_VERSION },
			   rep_rw = { .version = LK_REPORT_VERSION };
	lk_stats stats_snap, stats_full, stats_rw;
	char name_a[64] = "", name_b[64] = "";
	uint8_t *a_bytes = NULL, *orig = NULL;
	size_t a_len = 0, orig_len = 0;
	struct bytes b = { NULL, 0, 0 };
	uint64_t serial_a = 0, serial_b = 0;
	uint64_t comp_a = 0, comp_b = 0, comp_end = 0;
	unsigned before, after;
	int changed = 0, forged, problems = 0, trusted;
	lk_status rost, st, vst;
	enum used used;
	lk_db *db = NULL;

	if (size < 4)
		return 0;
	memset(&r, 0, sizeof r);
	r.flags = data[0];
	r.rng = mix((uint64_t)data[1] | (uint64_t)data[2] << 8 |
		    (uint64_t)data[3] << 16);
	r.m.ns_id[0] = LK_NS_DEFAULT;
	before = data[1] % OPS_BEFORE;
	after = data[2] % OPS_AFTER;
	snapshot_split_keys_min(data[3] & 1 ? 1 : 0);
	FUZZ_CHECK(lk_io_memory_new(&r.io) == LK_OK);
	lk_io_memory_set_time_ms(r.io, FUZZ_NOW_MS);

	r.opts = (lk_options)LK_OPTIONS_INIT;
	r.opts.flags = 0; /* strict, and the directory must be there */
	r.opts.io = r.io;
	r.opts.segment_size_bytes = LK_SEGMENT_SIZE_MIN_BYTES;
	r.opts.sync = r.flags & F_SYNC_NONE ? LK_SYNC_NONE : LK_SYNC_ALWAYS;
	r.opts.compact_dead_pct = 0;     /* no background thread */
	r.opts.scrub_rate_bytes = 0;
	r.opts.snapshot_every_bytes = 0; /* only lk_snapshot() writes one */
	create = r.opts;
	create.flags = LK_OPEN_CREATE;
	ro = r.opts;
	ro.flags = LK_OPEN_READONLY;

	/* 1. The database, its snapshot(s), the model. */
	FUZZ_CHECK(lk_open(&db, DIR_PATH, &create) == LK_OK);
	if (r.flags & F_OLDER) {
		workload(&r, db, before / 2, r.flags & F_COMPACT);
		FUZZ_CHECK(lk_snapshot(db) == LK_OK);
		serial_a = stat_of(db, 1);
		comp_a = stat_of(db, 0);
		if (serial_a) {
			snap_file_name(name_a, serial_a);
			FUZZ_CHECK(file_read(r.io, name_a, &a_bytes, &a_len));
		}
		before -= before / 2;
	}
	workload(&r, db, before, r.flags & F_COMPACT);
	FUZZ_CHECK(lk_snapshot(db) == LK_OK);
	serial_b = stat_of(db, 1);
	comp_b = stat_of(db, 0);
	FUZZ_CHECK(serial_b >= serial_a);
	if (serial_b == serial_a) {
		/* nothing was written in between: there is one snapshot */
		free(a_bytes);
		a_bytes = NULL;
		serial_a = 0;
		name_a[0] = 0;
	}
	workload(&r, db, after, 0);
	if (r.flags & F_COMPACT_AFTER)
		FUZZ_CHECK(lk_compact(db) == LK_OK);
	comp_end = stat_of(db, 0);
	FUZZ_CHECK(lk_close(db) == LK_OK);
	db = NULL;

	/* 2. The edits. */
	if (serial_b) {
		struct regions rg;

		snap_file_name(name_b, serial_b);
		FUZZ_CHECK(file_read(r.io, name_b, &orig, &orig_len));
		b.cap = orig_len + EXTEND_BYTES_MAX;
		b.p = malloc(b.cap);
		FUZZ_CHECK(b.p != NULL);
		memcpy(b.p, orig, orig_len);
		b.len = orig_len;
		regions_of(&rg, orig, orig_len);
		if (getenv("FUZZ_SNAPSHOT_TRACE"))
			fprintf(stderr, "%s: header [0, %zu), segments [%zu, "
				"%zu), bitmap [%zu, %zu), entries [%zu, %zu), "
				"trailer [%zu, %zu)\n", name_b,
				rg.end[R_HEADER], rg.start[R_SEGS],
				rg.end[R_SEGS], rg.start[R_BITMAP],
				rg.end[R_BITMAP], rg.start[R_ENTRIES],
				rg.end[R_ENTRIES], rg.start[R_TRAILER],
				rg.end[R_TRAILER]);
		for (size_t i = 4, n = 0; i + 4 <= size && n < EDITS_MAX;
		     i += 4, n++)
			edit(&b, &rg, data + i);
		if (r.flags & F_FIX)
			fix(&r, &b);
		changed = b.len != orig_len ||
			  memcmp(b.p, orig, orig_len) != 0;
		if (changed)
			file_write(r.io, name_b, b.p, b.len);
		if (serial_a)
			file_write(r.io, name_a, a_bytes, a_len);
	}
	forged = changed && (r.flags & F_FIX);
	if (getenv("FUZZ_SNAPSHOT_TRACE"))
		fprintf(stderr, "snapshots: A %s, B %s (%zu bytes, %s)\n",
			serial_a ? name_a : "none", serial_b ? name_b : "none",
			orig_len, !changed ? "unchanged"
				  : forged ? "edited, fixed" : "edited");

	r.now_ms = FUZZ_NOW_MS + (r.flags & F_LATE_CLOCK ? LATE_MS : 0);
	lk_io_memory_set_time_ms(r.io, r.now_ms);

	/* 3. Verify: the log is intact; an edited snapshot is reported as
	 * one (failing its own checks, or forged and disagreeing with a
	 * replay of the log), or it still passes them and matches. */
	memset(&vrep, 0, sizeof vrep);
	vrep.version = LK_REPORT_VERSION; /* the caller sets it */
	vst = lk_verify(&vrep, DIR_PATH, &ro, on_problem, &problems);
	FUZZ_CHECK((vst == LK_OK && problems == 0) ||
		   (changed && vst == LK_CORRUPT && problems == 1));

	/* 4. Read-only: which snapshot, what it holds.  Only a forged
	 * snapshot (one that passes every check of its own bytes) can make
	 * an open of this intact log fail. */
	rost = lk_open(&db, DIR_PATH, &ro);
	FUZZ_CHECK(rost == LK_OK || (forged && open_status_ok(rost)));
	used = USED_NONE;
	trusted = !forged;
	if (rost == LK_OK)
		FUZZ_CHECK(lk_recovery(&rep_ro, db) == LK_OK);
	trace_report("read-only open", rost, &rep_ro);
	if (rost == LK_OK) {
		used = used_of(&rep_ro, name_a, name_b);
		FUZZ_CHECK(used != USED_OTHER);
		FUZZ_CHECK(rep_ro.snapshot_used == vrep.snapshot_used);
		/* (a verify that complains names B, checked above: used
		 * or passed over, whichever snapshot open used) */
		if (!serial_b)
			FUZZ_CHECK(used == USED_NONE);
		if (serial_b && !changed && comp_end == comp_b)
			FUZZ_CHECK(used == USED_B);
		if (changed && !(r.flags & F_FIX)) {
			FUZZ_CHECK(used != USED_B);
			if (serial_a && comp_end == comp_a)
				FUZZ_CHECK(used == USED_A);
			if (!serial_a)
				FUZZ_CHECK(used == USED_NONE);
		}
		/* what verify found equal to a replay is the model */
		trusted = !(forged && used == USED_B) || vst == LK_OK;
		check_contents(&r, db, trusted, &stats_snap);
		FUZZ_CHECK(lk_close(db) == LK_OK);
		db = NULL;
	}

	/* 5. A trusted snapshot gives the counters of a whole replay. */
	if (rost == LK_OK && used != USED_NONE && trusted) {
		snaps_move(r.io, 1);
		FUZZ_CHECK(lk_open(&db, DIR_PATH, &ro) == LK_OK);
		FUZZ_CHECK(lk_recovery(&rep_ro, db) == LK_OK);
		FUZZ_CHECK(rep_ro.snapshot_used == 0);
		check_contents(&r, db, 1, &stats_full);
		FUZZ_CHECK(lk_close(db) == LK_OK);
		db = NULL;
		snaps_move(r.io, 0);
		check_same_stats(&stats_snap, &stats_full);
	}

	/* 6. Read-write, strict: the same outcome, snapshot and contents. */
	st = lk_open(&db, DIR_PATH, &r.opts);
	FUZZ_CHECK(st == rost);
	if (st == LK_OK)
		FUZZ_CHECK(lk_recovery(&rep_rw, db) == LK_OK);
	trace_report("read-write open", st, &rep_rw);
	if (st == LK_OK) {
		FUZZ_CHECK(used_of(&rep_rw, name_a, name_b) == used);
		check_contents(&r, db, trusted, &stats_rw);
		if (trusted)
			check_same_stats(&stats_snap, &stats_rw);
		FUZZ_CHECK(lk_close(db) == LK_OK);
		db = NULL;

		/* 7. The handle a snapshot started goes on writing. */
		write_again(&r, trusted);
	}

	free(a_bytes);
	free(orig);
	free(b.p);
	lk_io_memory_free(r.io);
	return 0;
}
