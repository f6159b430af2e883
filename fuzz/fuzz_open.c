/* SPDX-License-Identifier: MIT */
/*
 * fuzz_open.c - fuzz target for everything that reads a data directory:
 * lk_verify(), lk_open() read-only and read-write (recovery, the chain of
 * segments, replay into the index, the torn-tail cut, the namespace
 * catalog), and the reads and the first write after it.
 *
 * Input format (every integer little-endian):
 *
 *   input  := flags:u8 desc{nfiles} content
 *   flags  := bits 0-1  nfiles - 1 (1 to 4 segment files)
 *             bit 2     PREPEND: each file gets a valid 64-byte header in
 *                       front of its content, for database FUZZ_DB_ID,
 *                       made from the u64 of its desc: the low 56 bits
 *                       give the record_seq_base (out of 1..REC_SEQ_MAX:
 *                       1 + it % REC_SEQ_MAX); of the top byte, bits 0-1
 *                       are the generation, bit 2 puts the file at the
 *                       seq of the file before it (a compaction's output
 *                       beside the file it replaces; the generation is
 *                       raised past that file's), bits 3-4 how many
 *                       positions seq_prev skips (a run it replaced).
 *                       Otherwise file i has seq i, seq_prev i - 1,
 *                       generation 0
 *             bit 3     FIX_HEADER: the header checksum (bytes 60..64) of
 *                       each file is recomputed, so that mutated header
 *                       fields reach the checks behind it
 *             bit 4     FIX_RECORDS: in each file whose header decodes, the
 *                       checksum of every record that the length prefixes
 *                       delimit is recomputed for its place (database,
 *                       segment, offset), so that mutated records reach
 *                       the structure and replay checks
 *             bit 5     LATE_CLOCK: the clock is 10^12 ms (31 years) past
 *                       FUZZ_NOW_MS, so that expiring records have expired
 *             bit 6     SMALL_SEGMENTS: the read-write open rotates at
 *                       LK_SEGMENT_SIZE_MIN_BYTES, so its put may seal the
 *                       recovered segment and start a new one
 *             bit 7     SYNC_NONE: the read-write open uses LK_SYNC_NONE
 *   desc   := [len:u16  (every file but the last)]
 *             [record_seq_base:u64  (PREPEND only)]
 *   content   the files' bytes in order: each takes len bytes (or what is
 *             left), the last takes the rest
 *
 * File i (from 1) is named after its seq and generation (i and 0 but
 * with PREPEND) in directory "db" of a fresh lk_io_memory file system.
 *
 * Method and properties (FUZZ_CHECK aborts; ASan finds the rest):
 *   1. lk_verify() returns a documented status; every problem it reports
 *      has a known kind, a segment that exists (or 0), its file's name,
 *      an offset within that file and a sentence; the report's counts fit
 *      the input.
 *   2. lk_open() read-only.  When it opens, every namespace 1..255 is
 *      iterated (but those that lk_count() and lk_stats_get() together
 *      show to be empty); every key the iterator gives is read back with
 *      lk_get() and has the same value; lk_count() equals what the
 *      iterator gave, and the counts add up to at most the index's keys;
 *      a prefix iterator gives a subset; every namespace name round-trips
 *      through lk_ns_find(); the contents are summed into a digest.  When
 *      lk_verify() said LK_OK, the open must succeed and its report agree.
 *   1b. lk_log_read() (dump) passes items of known kinds within bounds,
 *      and lk_salvage() without apply (the repair plan) returns a
 *      documented status, changes nothing, and needs nothing where
 *      lk_verify() found nothing.
 *   3. lk_open() read-write, strict.  It fails exactly when the read-only
 *      open did; lk_verify(), the read-only open and a failed read-write
 *      open leave every file as it was, byte for byte (SPEC section 5).
 *      When it opens it holds the same contents as the read-only open
 *      (the cut of a torn tail removes nothing a reader saw).  Then one
 *      put (LK_OK, or LK_TOO_BIG once sequence numbers run out), close,
 *      reopen: the key is there with its value, everything else is as it
 *      was, and lk_verify() finds the directory the engine wrote clean.
 *      When it refuses damage (LK_CORRUPT): lk_salvage() applied, then
 *      the strict open succeeds and lk_verify() finds nothing but a torn
 *      tail (SPEC section 5, salvage).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endian.h"
#include "fuzz.h"
#include "io.h"
#include "logkeep.h"
#include "logkeep_limits.h"
#include "record.h"
#include "segment.h"

#define DIR_PATH "db"
#define FILES_MAX 4

#define F_PREPEND 0x04u
#define F_FIX_HEADER 0x08u
#define F_FIX_RECORDS 0x10u
#define F_LATE_CLOCK 0x20u
#define F_SMALL_SEGMENTS 0x40u
#define F_SYNC_NONE 0x80u

#define LATE_MS UINT64_C(1000000000000)

/* The key the read-write phase writes.  A fuzzed directory may hold it
 * too; the digests leave it out. */
static const char put_key[] = "fuzz:written-after-recovery";
static const char put_value[] = "the value of the put after recovery";

struct file {
	char name[SEG_NAME_BYTES];
	uint64_t seq;
	uint32_t generation;
	uint8_t *bytes;
	size_t len;
};

struct dir {
	uint8_t flags;
	int nfiles;
	struct file f[FILES_MAX];
	size_t total_bytes;
};

/* ---------------------------------------------------------------------- */
/* Building the directory                                                 */
/* ---------------------------------------------------------------------- */

static void fuzz_header(uint8_t out[SEG_HEADER_BYTES], const struct file *f,
			uint64_t seq_prev, uint64_t record_seq_base)
{
	struct seg_header h;

	memset(&h, 0, sizeof h);
	h.version = LK_FORMAT_VERSION;
	memcpy(h.db_id, FUZZ_DB_ID, SEG_DB_ID_BYTES);
	h.seq = f->seq;
	h.seq_prev = seq_prev;
	h.generation = f->generation;
	/* The header is valid: the base is brought into 1..REC_SEQ_MAX. */
	if (record_seq_base == 0 || record_seq_base > REC_SEQ_MAX)
		record_seq_base = 1 + record_seq_base % REC_SEQ_MAX;
	h.record_seq_base = record_seq_base;
	seg_header_encode(out, &h);
}

/* FIX_RECORDS: recomputes the checksums of the records of f. */
static void fix_records(struct file *f)
{
	struct seg_header h;
	const char *why;
	uint64_t db_seed;
	size_t pos = SEG_HEADER_BYTES;

	if (f->len < SEG_HEADER_BYTES ||
	    seg_header_decode(&h, f->bytes, &why) != LK_OK)
		return;
	db_seed = record_hash(h.db_id, SEG_DB_ID_BYTES, 0);
	while (pos < f->len) {
		uint32_t size;

		if (record_peek_size(&size, f->bytes + pos, f->len - pos,
				     &why) != REC_PEEK_SIZE ||
		    size > f->len - pos)
			break;
		put_u32(f->bytes + pos,
			(uint32_t)record_hash(f->bytes + pos + 4, size - 4,
					      record_seed(db_seed, h.seq,
							  h.generation, pos)));
		pos += size;
	}
}

/* Parses the input into d.  Returns 0 when it is too short to say. */
static int parse(struct dir *d, const uint8_t *data, size_t size)
{
	size_t len[FILES_MAX] = { 0 };
	uint64_t base[FILES_MAX] = { 0 };
	uint64_t prev_seq = 0;
	uint32_t prev_gen = 0;
	size_t pos = 1, prefix;

	memset(d, 0, sizeof *d);
	if (size < 1)
		return 0;
	d->flags = data[0];
	d->nfiles = (data[0] & 3) + 1;
	for (int i = 0; i < d->nfiles; i++) {
		if (i + 1 < d->nfiles) {
			if (size - pos < 2)
				return 0;
			len[i] = get_u16(data + pos);
			pos += 2;
		}
		if (d->flags & F_PREPEND) {
			if (size - pos < 8)
				return 0;
			base[i] = get_u64(data + pos);
			pos += 8;
		}
	}
	prefix = d->flags & F_PREPEND ? SEG_HEADER_BYTES : 0;
	for (int i = 0; i < d->nfiles; i++) {
		struct file *f = &d->f[i];
		unsigned top = prefix ? (unsigned)(base[i] >> 56) : 0;
		uint64_t skip = (top >> 3) & 3, seq_prev;
		size_t n = size - pos;

		f->seq = i == 0 ? 1 : prev_seq + !(top & 4);
		f->generation = top & 3;
		if (i > 0 && f->seq == prev_seq && f->generation <= prev_gen)
			f->generation = prev_gen + 1;
		prev_seq = f->seq;
		prev_gen = f->generation;
		seq_prev = f->seq - 1 > skip ? f->seq - 1 - skip : 0;
		base[i] &= (UINT64_C(1) << 56) - 1;

		if (i + 1 < d->nfiles && len[i] < n)
			n = len[i];
		f->len = prefix + n;
		f->bytes = malloc(f->len ? f->len : 1);
		if (!f->bytes)
			return 0;
		if (prefix)
			fuzz_header(f->bytes, f, seq_prev, base[i]);
		if (n)
			memcpy(f->bytes + prefix, data + pos, n);
		pos += n;
		if ((d->flags & F_FIX_HEADER) && f->len >= SEG_HEADER_BYTES)
			put_u32(f->bytes + 60,
				(uint32_t)record_hash(f->bytes, 60, 0));
		if (d->flags & F_FIX_RECORDS)
			fix_records(f);
		seg_name(f->name, f->seq, f->generation);
		d->total_bytes += f->len;
	}
	return 1;
}

static void dir_free(struct dir *d)
{
	for (int i = 0; i < FILES_MAX; i++)
		free(d->f[i].bytes);
}

static lk_status write_dir(const lk_io *io, const struct dir *d)
{
	lk_io_dir *dir;
	lk_status st;

	st = io->dir_open(io->ctx, DIR_PATH, 1, &dir);
	if (st != LK_OK)
		return st;
	for (int i = 0; st == LK_OK && i < d->nfiles; i++) {
		const struct file *f = &d->f[i];
		lk_io_file *file;

		st = io->open(io->ctx, dir, f->name,
			      LK_IO_WRITE | LK_IO_CREATE | LK_IO_EXCL, &file);
		if (st != LK_OK)
			break;
		if (f->len)
			st = io->pwrite(io->ctx, file, f->bytes, f->len, 0);
		io->close(io->ctx, file);
	}
	io->dir_close(io->ctx, dir);
	return st;
}

/* ---------------------------------------------------------------------- */
/* Verify                                                                 */
/* ---------------------------------------------------------------------- */

struct problems {
	const struct dir *d;
	int count, torn;
};

static void on_problem(void *arg, const lk_problem *p)
{
	struct problems *pr = arg;
	const struct dir *d = pr->d;

	pr->count++;
	pr->torn += p->kind == LK_PROBLEM_TORN_TAIL ||
		    p->kind == LK_PROBLEM_LEFTOVER;
	FUZZ_CHECK(p->kind >= LK_PROBLEM_TORN_TAIL &&
		   p->kind <= LK_PROBLEM_LEFTOVER);
	FUZZ_CHECK(p->what != NULL && *p->what != '\0');
	FUZZ_CHECK(strlen(p->what) < 4096);
	if (!d || p->segment_seq == 0)
		return; /* d: NULL once the engine has written segments */
	FUZZ_CHECK(p->segment_seq <= (uint64_t)d->nfiles);
	/* A problem about a segment names one of the files, and its seq. */
	FUZZ_CHECK(p->file != NULL);
	{
		const struct file *f = NULL;

		for (int i = 0; i < d->nfiles; i++)
			if (strcmp(p->file, d->f[i].name) == 0)
				f = &d->f[i];
		FUZZ_CHECK(f != NULL && f->seq == p->segment_seq);
		FUZZ_CHECK(p->offset <= f->len);
	}
}

static void check_report(const lk_recovery_report *r, const struct dir *d)
{
	FUZZ_CHECK(r->version == LK_REPORT_VERSION);
	FUZZ_CHECK(r->segments_read <= (uint32_t)d->nfiles);
	FUZZ_CHECK(r->segments_removed <= (uint64_t)d->nfiles);
	FUZZ_CHECK(r->bytes_cut <= d->total_bytes);
	FUZZ_CHECK(r->zero_tail_bytes <= d->total_bytes);
	FUZZ_CHECK(r->cut_segment_seq <= (uint64_t)d->nfiles);
	FUZZ_CHECK(r->compaction_leftovers <= (uint64_t)d->nfiles);
	if (r->cut_segment_seq) {
		int fits = 0;

		/* one of the files at that seq (two generations may share
		 * it) ends where the cut does */
		for (int i = 0; i < d->nfiles; i++)
			fits |= d->f[i].seq == r->cut_segment_seq &&
				r->cut_offset + r->bytes_cut == d->f[i].len;
		FUZZ_CHECK(r->cut_offset >= SEG_HEADER_BYTES);
		FUZZ_CHECK(fits);
	} else {
		FUZZ_CHECK(r->bytes_cut == 0);
	}
	/* A record takes at least REC_BYTES_MIN bytes. */
	FUZZ_CHECK(r->records_replayed + r->records_discarded <=
		   d->total_bytes / REC_BYTES_MIN);
	FUZZ_CHECK(memchr(r->tail_note, 0, sizeof r->tail_note) != NULL);
	FUZZ_CHECK(memchr(r->snapshot_note, 0, sizeof r->snapshot_note) != NULL);
}

/* ---------------------------------------------------------------------- */
/* Reading everything                                                     */
/* ---------------------------------------------------------------------- */

/* What a database holds, in a form two opens can compare. */
struct digest {
	int complete;             /* no read failed */
	uint64_t keys;            /* live keys, put_key left out */
	uint64_t sum;             /* order-free sum of their hashes */
	uint64_t per_ns[LK_NS_COUNT_MAX + 1];
	int has_put_key;
	int put_key_ok;           /* put_key holds put_value */
};

static uint64_t entry_hash(uint32_t ns, const void *key, size_t key_len,
			   const void *value, size_t value_len,
			   uint64_t expire_at_ms)
{
	uint64_t h = record_key_hash(ns, key, key_len);

	h = record_hash(value, value_len, h);
	return h ^ (expire_at_ms * UINT64_C(0x9E3779B97F4A7C15));
}

static int is_put_key(uint32_t ns, const void *key, size_t key_len)
{
	return ns == LK_NS_DEFAULT && key_len == sizeof put_key - 1 &&
	       memcmp(key, put_key, key_len) == 0;
}

/* Iterates namespace ns, which lk_count() said holds `count` keys (if
 * count_st is LK_OK), reading each key back with lk_get(). */
static void walk_ns(lk_db *db, uint32_t ns, struct digest *dg,
		    lk_status count_st, uint64_t count)
{
	const void *key, *value;
	size_t key_len, value_len;
	uint64_t expire_at_ms, n = 0, m = 0;
	uint8_t prefix = 0;
	lk_iter *it;
	lk_status st;

	st = lk_iter_open(&it, db, ns, NULL, 0);
	FUZZ_CHECK(st == LK_OK || st == LK_NOMEM);
	if (st != LK_OK) {
		dg->complete = 0;
		return;
	}
	while ((st = lk_iter_next(it, &key, &key_len, &value, &value_len,
				  &expire_at_ms)) == LK_OK) {
		void *got = NULL;
		size_t got_len = 0;
		lk_status gst;

		FUZZ_CHECK(key_len >= 1 && key_len <= LK_KEY_BYTES_MAX);
		FUZZ_CHECK(value_len <= LK_VALUE_BYTES_MAX);
		FUZZ_CHECK(expire_at_ms == 0 || expire_at_ms > FUZZ_NOW_MS);
		gst = lk_get(&got, &got_len, db, ns, key, key_len);
		FUZZ_CHECK(gst == LK_OK || gst == LK_NOMEM);
		if (gst == LK_OK) {
			FUZZ_CHECK(got_len == value_len);
			FUZZ_CHECK(value_len == 0 ||
				   memcmp(got, value, value_len) == 0);
			FUZZ_CHECK(((const char *)got)[got_len] == 0);
		} else {
			dg->complete = 0;
		}
		lk_free(got);
		if (n++ == 0)
			prefix = *(const uint8_t *)key;
		if (is_put_key(ns, key, key_len)) {
			dg->has_put_key = 1;
			dg->put_key_ok = value_len == sizeof put_value - 1 &&
					 memcmp(value, put_value,
						value_len) == 0;
			continue;
		}
		dg->keys++;
		dg->per_ns[ns]++;
		dg->sum += entry_hash(ns, key, key_len, value, value_len,
				      expire_at_ms);
	}
	FUZZ_CHECK(st == LK_NOT_FOUND || st == LK_CORRUPT || st == LK_IO ||
		   st == LK_NOMEM);
	lk_iter_close(it);
	if (st != LK_NOT_FOUND) {
		dg->complete = 0;
		return;
	}

	if (count_st == LK_OK)
		FUZZ_CHECK(count == n);

	/* A prefix iterator gives the keys with that prefix: a subset that
	 * holds at least the first key. */
	if (n > 0) {
		st = lk_iter_open(&it, db, ns, &prefix, 1);
		FUZZ_CHECK(st == LK_OK || st == LK_NOMEM);
		while (st == LK_OK &&
		       (st = lk_iter_next(it, &key, &key_len, NULL, NULL,
					  NULL)) == LK_OK) {
			FUZZ_CHECK(key_len >= 1 &&
				   *(const uint8_t *)key == prefix);
			m++;
		}
		lk_iter_close(it);
		FUZZ_CHECK(st != LK_OK);
		if (st == LK_NOT_FOUND)
			FUZZ_CHECK(m >= 1 && m <= n);
	}
}

static void check_names(lk_db *db)
{
	for (uint32_t ns = 1; ns <= LK_NS_COUNT_MAX; ns++) {
		char name[LK_NS_NAME_BYTES_MAX + 1];
		uint32_t found = 0;
		lk_status st;

		st = lk_ns_name(name, sizeof name, db, ns);
		FUZZ_CHECK(st == LK_OK || st == LK_NOT_FOUND);
		if (st != LK_OK)
			continue;
		FUZZ_CHECK(strlen(name) >= 1 &&
			   strlen(name) <= LK_NS_NAME_BYTES_MAX);
		st = lk_ns_find(&found, db, name);
		FUZZ_CHECK(st == LK_OK);
		/* "default" is always 1, whatever a catalog says. */
		FUZZ_CHECK(found == ns || strcmp(name, "default") == 0);
	}
}

/* Reads everything.  Every namespace 1..255 is iterated, except that
 * when the counts of all namespaces add up to the index's keys (nothing
 * expired hides anywhere), one whose count is 0 is known to hold nothing
 * and is skipped: each lk_iter_open() scans the whole index, and 255 of
 * them per open would halve the target's speed. */
static void walk(lk_db *db, const struct dir *d, struct digest *dg)
{
	uint64_t counts[LK_NS_COUNT_MAX + 1] = { 0 }, total = 0;
	lk_status count_st[LK_NS_COUNT_MAX + 1];
	int every = 0;
	lk_stats stats;

	memset(dg, 0, sizeof *dg);
	dg->complete = 1;
	memset(&stats, 0, sizeof stats);
	stats.version = LK_STATS_VERSION;
	FUZZ_CHECK(lk_stats_get(&stats, db) == LK_OK);
	FUZZ_CHECK(stats.segment_count <= (uint32_t)d->nfiles + 2);
	for (uint32_t ns = 1; ns <= LK_NS_COUNT_MAX; ns++) {
		count_st[ns] = lk_count(&counts[ns], db, ns);
		FUZZ_CHECK(count_st[ns] == LK_OK || count_st[ns] == LK_CORRUPT ||
			   count_st[ns] == LK_IO || count_st[ns] == LK_NOMEM);
		if (count_st[ns] == LK_OK)
			total += counts[ns];
		else
			every = 1;
	}
	FUZZ_CHECK(total <= stats.live_keys);
	every |= total != stats.live_keys;
	for (uint32_t ns = 1; ns <= LK_NS_COUNT_MAX; ns++) {
		if (count_st[ns] != LK_OK)
			dg->complete = 0;
		if (every || count_st[ns] != LK_OK || counts[ns] > 0 ||
		    ns == LK_NS_DEFAULT)
			walk_ns(db, ns, dg, count_st[ns], counts[ns]);
	}
	check_names(db);
}

static int same_contents(const struct digest *a, const struct digest *b)
{
	return a->keys == b->keys && a->sum == b->sum &&
	       memcmp(a->per_ns, b->per_ns, sizeof a->per_ns) == 0;
}

/* The value the read-write phase wrote is there. */
static void check_put_key(lk_db *db)
{
	void *value = NULL;
	size_t value_len = 0;

	FUZZ_CHECK(lk_get(&value, &value_len, db, LK_NS_DEFAULT, put_key,
			  sizeof put_key - 1) == LK_OK);
	FUZZ_CHECK(value_len == sizeof put_value - 1 &&
		   memcmp(value, put_value, value_len) == 0);
	lk_free(value);
}

/* ---------------------------------------------------------------------- */
/* Nothing changed on disk                                                */
/* ---------------------------------------------------------------------- */

struct listing {
	const struct dir *d;
	int segments;
};

static lk_status list_one(void *arg, const char *name)
{
	struct listing *l = arg;
	int known = 0;

	for (int i = 0; i < l->d->nfiles; i++)
		known |= strcmp(name, l->d->f[i].name) == 0;
	/* The lock file is the only thing an open may add. */
	FUZZ_CHECK(known || strcmp(name, "LOCK") == 0);
	l->segments += known;
	return LK_OK;
}

/* Read-only opens, verify, and read-write opens that fail leave every
 * segment file as it was (SPEC section 5). */
static void check_unchanged(const lk_io *io, const struct dir *d)
{
	struct listing l = { d, 0 };
	lk_io_dir *dir;
	uint8_t *buf;

	if (io->dir_open(io->ctx, DIR_PATH, 0, &dir) != LK_OK)
		return;
	FUZZ_CHECK(io->dir_list(io->ctx, dir, list_one, &l) == LK_OK);
	FUZZ_CHECK(l.segments == d->nfiles);
	buf = malloc(d->total_bytes + 1);
	for (int i = 0; buf && i < d->nfiles; i++) {
		const struct file *f = &d->f[i];
		lk_io_file *file;
		uint64_t file_size = 0;
		size_t got = 0;

		FUZZ_CHECK(io->open(io->ctx, dir, f->name, LK_IO_READ, &file) ==
			   LK_OK);
		FUZZ_CHECK(io->size(io->ctx, file, &file_size) == LK_OK);
		FUZZ_CHECK(file_size == f->len);
		FUZZ_CHECK(io->pread(io->ctx, file, buf, f->len, 0, &got) ==
			   LK_OK);
		FUZZ_CHECK(got == f->len);
		FUZZ_CHECK(f->len == 0 || memcmp(buf, f->bytes, f->len) == 0);
		io->close(io->ctx, file);
	}
	free(buf);
	io->dir_close(io->ctx, dir);
}

/* ---------------------------------------------------------------------- */
/* The target                                                             */
/* ---------------------------------------------------------------------- */

static int open_status_ok(lk_status st)
{
	return st == LK_OK || st == LK_CORRUPT || st == LK_VERSION ||
	       st == LK_IO || st == LK_NOMEM || st == LK_TOO_BIG;
}

/* Every item lk_log_read() passes is of a known kind, in bounds. */
static int on_item(void *arg, const lk_log_item *it)
{
	uint64_t *items = arg;

	FUZZ_CHECK(it->version == LK_LOG_ITEM_VERSION);
	FUZZ_CHECK(it->kind >= LK_LOG_SEGMENT && it->kind <= LK_LOG_FREE);
	FUZZ_CHECK(it->file != NULL);
	if (it->kind != LK_LOG_SEGMENT)
		FUZZ_CHECK(it->offset + it->length <=
			   LK_SEGMENT_FILE_BYTES_MAX);
	if (it->kind == LK_LOG_PUT || it->kind == LK_LOG_DEL) {
		FUZZ_CHECK(it->key_len >= 1 && it->key_len <= LK_KEY_BYTES_MAX);
		FUZZ_CHECK(it->value_len <= LK_VALUE_BYTES_MAX);
	}
	if (it->kind == LK_LOG_DAMAGE || it->kind == LK_LOG_DISCARD)
		FUZZ_CHECK(it->what != NULL);
	(*items)++;
	return 0;
}

static void on_step(void *arg, const lk_salvage_step *s)
{
	if (arg) /* FUZZ_OPEN_TRACE: what the applied salvage did */
		fprintf(stderr, "salvage step %d: file %s new %s segment %llu "
			"offset %llu seqs %llu..%llu: %s\n", (int)s->action,
			s->file ? s->file : "-",
			s->new_file ? s->new_file : "-",
			(unsigned long long)s->segment_seq,
			(unsigned long long)s->offset,
			(unsigned long long)s->seq_first,
			(unsigned long long)s->seq_last, s->what);
	FUZZ_CHECK(s->version == LK_SALVAGE_STEP_VERSION);
	FUZZ_CHECK(s->action >= LK_SALVAGE_REWRITE &&
		   s->action <= LK_SALVAGE_CUT);
	FUZZ_CHECK(s->what != NULL);
}

/* dump (lk_log_read) and the repair plan (lk_salvage without apply). */
static void dump_and_plan(const lk_options *ro, lk_status vst)
{
	lk_salvage_report rep = { .version = LK_SALVAGE_REPORT_VERSION };
	uint64_t items = 0;
	lk_status st;

	st = lk_log_read(DIR_PATH, ro, 0, on_item, &items);
	FUZZ_CHECK(st == LK_OK || st == LK_NOT_FOUND || st == LK_IO ||
		   st == LK_NOMEM);
	st = lk_salvage(&rep, DIR_PATH, ro, 0, on_step, NULL);
	FUZZ_CHECK(st == LK_OK || st == LK_NOT_FOUND || st == LK_IO ||
		   st == LK_NOMEM || st == LK_VERSION || st == LK_TOO_BIG ||
		   st == LK_CORRUPT);
	FUZZ_CHECK(!rep.applied);
	/* what opens strictly needs no salvage */
	if (vst == LK_OK && st == LK_OK)
		FUZZ_CHECK(!rep.needed);
}

/* SPEC section 5: after an applied salvage, the directory opens
 * strictly and verifies clean. */
static void salvage_then_open(const lk_options *ro, const lk_options *rw)
{
	lk_salvage_report rep = { .version = LK_SALVAGE_REPORT_VERSION };
	lk_recovery_report vrep = LK_REPORT_INIT;
	struct problems pr = { NULL, 0, 0 };
	lk_db *db = NULL;
	lk_status st;

	st = lk_salvage(&rep, DIR_PATH, rw, 1, on_step,
			getenv("FUZZ_OPEN_TRACE") ? &rep : NULL);
	if (st != LK_OK)
		return; /* refused (a newer version, no memory): nothing more */
	st = lk_open(&db, DIR_PATH, rw);
	FUZZ_CHECK(st == LK_OK || st == LK_TOO_BIG || st == LK_NOMEM);
	if (st != LK_OK)
		return;
	FUZZ_CHECK(lk_close(db) == LK_OK);
	st = lk_verify(&vrep, DIR_PATH, ro, on_problem, &pr);
	FUZZ_CHECK(st == LK_OK && pr.count == pr.torn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lk_options ro = LK_OPTIONS_INIT, rw = LK_OPTIONS_INIT;
	lk_recovery_report vrep, rrep = { .version = LK_REPORT_VERSION };
	struct problems pr = { NULL, 0, 0 };
	struct digest before, after;
	lk_status vst, rost, rwst, st;
	lk_db *db = NULL;
	lk_io *io = NULL;
	struct dir d;

	if (!parse(&d, data, size) || lk_io_memory_new(&io) != LK_OK)
		goto out;
	lk_io_memory_set_time_ms(io, FUZZ_NOW_MS +
				 (d.flags & F_LATE_CLOCK ? LATE_MS : 0));
	if (write_dir(io, &d) != LK_OK)
		goto out;

	ro.flags = LK_OPEN_READONLY;
	ro.io = io;
	rw.flags = 0; /* strict, and the directory must be there */
	rw.io = io;
	if (d.flags & F_SMALL_SEGMENTS)
		rw.segment_size_bytes = LK_SEGMENT_SIZE_MIN_BYTES;
	if (d.flags & F_SYNC_NONE)
		rw.sync = LK_SYNC_NONE;

	/* 1. verify */
	pr.d = &d;
	memset(&vrep, 0, sizeof vrep);
	vrep.version = LK_REPORT_VERSION; /* the caller sets it */
	vst = lk_verify(&vrep, DIR_PATH, &ro, on_problem, &pr);
	FUZZ_CHECK(vst == LK_OK || vst == LK_CORRUPT || vst == LK_VERSION ||
		   vst == LK_IO || vst == LK_NOMEM);
	check_report(&vrep, &d);
	FUZZ_CHECK(vst != LK_OK || pr.count == pr.torn);
	FUZZ_CHECK(vst == LK_OK || vst == LK_NOMEM || pr.count > pr.torn);
	check_unchanged(io, &d);

	/* 1b. dump and the repair plan read everything and change nothing */
	dump_and_plan(&ro, vst);
	check_unchanged(io, &d);

	/* 2. read-only: reads agree with each other and with verify */
	rost = lk_open(&db, DIR_PATH, &ro);
	FUZZ_CHECK(open_status_ok(rost));
	FUZZ_CHECK((rost == LK_OK) == (db != NULL));
	FUZZ_CHECK(rost == LK_OK || *lk_errmsg() != '\0');
	if (vst == LK_OK)
		FUZZ_CHECK(rost == LK_OK);
	if (rost == LK_OK) {
		FUZZ_CHECK(lk_recovery(&rrep, db) == LK_OK);
		check_report(&rrep, &d);
		if (vst == LK_OK) {
			FUZZ_CHECK(rrep.segments_read == vrep.segments_read);
			FUZZ_CHECK(rrep.records_replayed ==
				   vrep.records_replayed);
			FUZZ_CHECK(rrep.bytes_cut == vrep.bytes_cut);
			FUZZ_CHECK(rrep.seq_last == vrep.seq_last);
		}
		walk(db, &d, &before);
		FUZZ_CHECK(lk_close(db) == LK_OK);
		db = NULL;
	}
	check_unchanged(io, &d);

	/* 3. read-write: the same outcome; a failure changes nothing, a
	 * success shows the same contents */
	rwst = lk_open(&db, DIR_PATH, &rw);
	FUZZ_CHECK(rwst == rost);
	if (rwst != LK_OK) {
		FUZZ_CHECK(db == NULL);
		check_unchanged(io, &d);
		if (rwst == LK_CORRUPT)
			salvage_then_open(&ro, &rw);
		goto out;
	}
	walk(db, &d, &after);
	if (before.complete && after.complete)
		FUZZ_CHECK(same_contents(&before, &after));
	st = lk_put(db, LK_NS_DEFAULT, put_key, sizeof put_key - 1, put_value,
		    sizeof put_value - 1, 0);
	/* Sequence numbers can run out in a forged log; nothing else may
	 * refuse the first write after a clean open. */
	FUZZ_CHECK(st == LK_OK || st == LK_TOO_BIG);
	FUZZ_CHECK(lk_close(db) == LK_OK);
	db = NULL;
	if (st != LK_OK)
		goto out;

	/* 4. the put survives a reopen and disturbs nothing */
	FUZZ_CHECK(lk_open(&db, DIR_PATH, &rw) == LK_OK);
	walk(db, &d, &after);
	check_put_key(db);
	if (after.complete)
		FUZZ_CHECK(after.has_put_key && after.put_key_ok);
	if (before.complete && after.complete)
		FUZZ_CHECK(same_contents(&before, &after));
	FUZZ_CHECK(lk_close(db) == LK_OK);
	db = NULL;

	/* 5. what the engine wrote itself verifies clean */
	pr.d = NULL;
	pr.count = pr.torn = 0;
	st = lk_verify(&vrep, DIR_PATH, &ro, on_problem, &pr);
	FUZZ_CHECK(st == LK_OK && pr.count == 0);

out:
	lk_close(db);
	lk_io_memory_free(io);
	dir_free(&d);
	return 0;
}
