/* SPDX-License-Identifier: MIT */
/*
 * feed.c - the change feed (logkeep.h, "The change feed"): the committed
 * records of chosen namespaces in sequence-number order, from a cursor,
 * read from the segment files a record at a time, and a wait for the
 * next commit that the commit itself ends.
 *
 * Where the records are.  Sequence numbers grow along the log: records
 * are in number order within a segment and from one segment to the next
 * (log order, by the segments' seq), and compaction keeps both the
 * numbers and the order.  Every record of a segment is numbered at or
 * above its header's record_seq_base, and every record before it in the
 * log below that base (a new segment starts at seq_last + 1; a
 * compaction's output takes the base of the first segment of its run).
 * So the records numbered from n on start in the last segment, in log
 * order, whose base is at most n: the feed reads that one from its
 * header on, passes over what is numbered below n, and goes on to the
 * segments after it.
 *
 *   segment:  [hdr | put put del commit | put commit | ... | seal]
 *   feed:      cur, off ---------->  end (data_end when last looked)
 *
 * What is committed.  The feed reads a segment up to its data_end as seen
 * under log_mu (commit_log_lock), where the leader appends, syncs and
 * applies each group: every record below it belongs to a group the index
 * has applied, except after a failed sync (the handle halts with a group
 * written and never applied), so the feed also takes seq_last under the
 * same lock and delivers nothing numbered past it.  Bytes past data_end
 * (zero prefill, a failed group's) are never read.  Sealed segments do
 * not change; the newest is looked at again when the feed reaches the end
 * it knew.
 *
 * Compaction.  The segment being read is pinned (segtable_pin), so a
 * compaction that replaces it leaves the feed reading the old file to
 * its end; the feed then goes on in log order after it, to the first
 * segment whose place (seq) is past the old one's, or to a compaction's
 * output that covers the numbers after the cursor.  Numbers between two
 * records read with none of their own were compacted away (or skipped by
 * a salvage): they make a gap, which merges the numbers of records the
 * feed passes over (other namespaces), and is delivered before the next
 * record the feed delivers, or when it has read everything.
 *
 * Memory: a seg_reader window (1 MiB, grown to the largest record) and
 * one decompressed value; nothing grows with the backlog.
 *
 * Waiting: lk_feed_wait registers a wait of the I/O layer with the
 * committer (commit_waiter_add) and sleeps on it until its deadline; a
 * commit that applies a group, or lk_feed_stop, stops it (commit.h).
 */
#include <inttypes.h>
#include <string.h>

#include "alloc.h"
#include "commit.h"
#include "error.h"
#include "segtable.h"

#define FEED_MAGIC 0x6c6b6664u /* "lkfd" */

struct lk_feed {
	uint32_t magic;
	struct lk_db *db;
	uint8_t want[LK_NS_COUNT_MAX + 1]; /* 1: deliver this namespace */
	uint64_t next;       /* the lowest number not delivered or passed */
	/* A gap found and not yet delivered: gap_first..next - 1. */
	int gap;
	uint64_t gap_first;
	/* The segment being read (pinned), and how far. */
	struct segment *cur;
	uint64_t cur_place;  /* its seq: the place in the log read through */
	uint64_t off, end;   /* next record; data_end when last looked */
	uint64_t limit;      /* seq_last when last looked */
	struct seg_reader rd;
	uint8_t *value;      /* the last item's decompressed value */
	struct commit_waiter waiter;
	_Atomic int stopped;
};

lk_status lk_feed_open(lk_feed **out, lk_db *db, uint64_t after_seq,
		       const uint32_t *ns, size_t ns_count)
{
	struct lk_feed *f;
	lk_status st;

	if (!out)
		return err_set(LK_INVALID, "lk_feed_open: NULL out-pointer");
	*out = NULL;
	st = handle_check(db);
	if (st != LK_OK)
		return st;
	if (ns_count && !ns)
		return err_set(LK_INVALID, "lk_feed_open: NULL namespaces "
					   "with a count");
	for (size_t i = 0; i < ns_count; i++)
		if (ns[i] == 0 || ns[i] > LK_NS_COUNT_MAX)
			return err_set(LK_INVALID, "lk_feed_open: namespace "
						   "%" PRIu32 " out of range",
				       ns[i]);
	if (after_seq >= REC_SEQ_MAX)
		return err_set(LK_INVALID, "lk_feed_open: cursor %" PRIu64
					   " past every sequence number",
			       after_seq);
	st = handle_enter(db, DB_USE_ITER);
	if (st != LK_OK)
		return st;
	f = mem_calloc(1, sizeof *f);
	if (!f) {
		handle_leave(db, DB_USE_ITER);
		return err_set(LK_NOMEM, "allocating a change feed");
	}
	f->magic = FEED_MAGIC;
	f->db = db;
	f->next = after_seq + 1;
	for (uint32_t i = 1; i <= LK_NS_COUNT_MAX; i++)
		f->want[i] = ns_count == 0;
	for (size_t i = 0; i < ns_count; i++)
		f->want[ns[i]] = 1;
	*out = f;
	return LK_OK;
}

static lk_status feed_check(const struct lk_feed *f)
{
	if (!f || f->magic != FEED_MAGIC)
		return err_set(LK_MISUSE, "not a change feed (closed?)");
	return handle_check(f->db);
}

/* ---------------------------------------------------------------------- */
/* Finding the records                                                    */
/* ---------------------------------------------------------------------- */

static void drop_cur(struct lk_feed *f)
{
	if (!f->cur)
		return;
	f->cur_place = f->cur->hdr.seq;
	seg_reader_free(&f->rd);
	segtable_unpin(f->db, f->cur);
	f->cur = NULL;
}

/* Pins the segment to read next: after cur_place in log order, the last
 * whose base is at most f->next, or else the first.  LK_NOT_FOUND when
 * no segment lies after cur_place (an empty log). */
static lk_status pick(struct lk_feed *f)
{
	struct lk_db *db = f->db;
	struct segment *best = NULL, *first = NULL;
	lk_status st;

	commit_log_lock(db);
	segtable_rdlock(db);
	for (uint32_t i = 1; i < IX_SEG_SLOTS; i++) {
		struct segment *s = segtable_at(db, i);

		/* A compaction's output joins the log when its run leaves
		 * the table, under this lock. */
		if (!s || s->installing || s->hdr.seq <= f->cur_place)
			continue;
		if (!first || s->hdr.seq < first->hdr.seq)
			first = s;
		if (s->hdr.record_seq_base <= f->next &&
		    (!best || s->hdr.seq > best->hdr.seq))
			best = s;
	}
	if (!best)
		best = first;
	if (best) {
		segtable_pin(best);
		f->end = best->data_end;
		f->limit = segtable_seq_last(db);
	}
	segtable_unlock(db);
	commit_log_unlock(db);
	if (!best)
		return LK_NOT_FOUND;
	st = seg_reader_init(&f->rd, db->io, best, f->end);
	if (st != LK_OK) {
		segtable_unpin(db, best);
		return st;
	}
	f->cur = best;
	f->off = SEG_HEADER_BYTES;
	return LK_OK;
}

/* At the end the feed knew of cur: looks again.  *more 1: cur grew (read
 * on); else *newest says whether cur is still the newest segment (then
 * everything committed has been read). */
static void look_again(struct lk_feed *f, int *more, int *newest)
{
	struct lk_db *db = f->db;

	commit_log_lock(db);
	segtable_rdlock(db);
	/* data_end changes under log_mu only, and a segment compaction took
	 * out of the table was sealed (final) before. */
	*more = f->cur->data_end > f->end;
	f->end = f->cur->data_end;
	f->limit = segtable_seq_last(db);
	*newest = segtable_active(db) == f->cur;
	segtable_unlock(db);
	commit_log_unlock(db);
	f->rd.end = f->end;
}

static void gap_open(struct lk_feed *f, uint64_t first)
{
	if (!f->gap) {
		f->gap = 1;
		f->gap_first = first;
	}
}

static void gap_item(struct lk_feed *f, lk_feed_item *item)
{
	memset(item, 0, sizeof *item);
	item->version = LK_FEED_ITEM_VERSION;
	item->kind = LK_FEED_GAP;
	item->seq = f->gap_first;
	item->seq_last = f->next - 1;
	f->gap = 0;
}

static lk_status deliver(struct lk_feed *f, const struct record *rec,
			 lk_feed_item *item)
{
	memset(item, 0, sizeof *item);
	item->version = LK_FEED_ITEM_VERSION;
	item->kind = rec->type == REC_PUT ? LK_FEED_PUT : LK_FEED_DEL;
	item->seq = item->seq_last = rec->seq;
	item->ns = rec->ns;
	item->key = rec->key;
	item->key_len = rec->key_len;
	item->expire_at_ms = rec->expire_at_ms;
	if (rec->type == REC_PUT && (rec->flags & REC_F_ZSTD)) {
		size_t n;
		lk_status st = compressor_unpack(f->db->cmp, rec->value,
						 rec->value_len, &f->value,
						 &n);

		if (st != LK_OK)
			return st;
		item->value = f->value;
		item->value_len = n;
	} else if (rec->type == REC_PUT) {
		item->value = rec->value;
		item->value_len = rec->value_len;
	}
	return LK_OK;
}

/* One record of cur at f->off.  Returns LK_OK with *item filled and
 * *got 1, or *got 0 having moved on (a record passed over, a commit) or
 * reached what it knows of cur's end (*at_end). */
static lk_status step(struct lk_feed *f, lk_feed_item *item, int *got,
		      int *at_end)
{
	struct record rec;
	const char *why = NULL;
	lk_status st;

	*got = 0;
	*at_end = 0;
	if (f->off >= f->end) {
		*at_end = 1;
		return LK_OK;
	}
	st = seg_reader_record(&f->rd, f->off, &rec, &why);
	if (st == LK_CORRUPT) {
		f->rd.win_len = 0; /* a call again reads the bytes again */
		return err_set(LK_CORRUPT, "change feed: segment %" PRIu64
					   " (%s) offset %" PRIu64 ": %s",
			       f->cur->hdr.seq, f->cur->name, f->off, why);
	}
	if (st != LK_OK)
		return st;
	if (rec.type == REC_SEAL) {
		f->off = f->end;
		*at_end = 1;
		return LK_OK;
	}
	if (rec.type != REC_PUT && rec.type != REC_DEL) {
		f->off += rec.size; /* a commit */
		return LK_OK;
	}
	if (rec.seq > f->limit) { /* a group never applied (halted) */
		*at_end = 1;
		return LK_OK;
	}
	if (rec.seq < f->next) { /* before the cursor */
		f->off += rec.size;
		return LK_OK;
	}
	if (rec.seq > f->next)
		gap_open(f, f->next); /* numbers with no record */
	if (rec.ns == 0 || !f->want[rec.ns]) {
		f->next = rec.seq + 1; /* passed over: part of a gap */
		f->off += rec.size;
		return LK_OK;
	}
	if (f->gap) { /* the gap first; this record on the next call */
		f->next = rec.seq;
		gap_item(f, item);
		*got = 1;
		return LK_OK;
	}
	st = deliver(f, &rec, item);
	if (st != LK_OK)
		return st;
	f->next = rec.seq + 1;
	f->off += rec.size;
	*got = 1;
	return LK_OK;
}

lk_status lk_feed_next(lk_feed_item *item, lk_feed *f)
{
	lk_status st = feed_check(f);

	if (st != LK_OK)
		return st;
	if (!item || item->version == 0 ||
	    item->version > LK_FEED_ITEM_VERSION)
		return err_set(LK_INVALID, "lk_feed_next: NULL item, or a "
					   "version this library does not "
					   "know");
	mem_free(f->value);
	f->value = NULL;
	for (;;) {
		int got, at_end, more, newest;

		if (!f->cur) {
			st = pick(f);
			if (st == LK_NOT_FOUND)
				break; /* no segment yet */
			if (st != LK_OK)
				return st;
		}
		st = step(f, item, &got, &at_end);
		if (st != LK_OK)
			return st;
		if (got)
			return LK_OK;
		if (!at_end)
			continue;
		look_again(f, &more, &newest);
		if (more)
			continue;
		if (newest) {
			/* Everything committed is below the end: numbers up
			 * to seq_last without a record are a gap (a header
			 * that put the numbering ahead). */
			if (f->next <= f->limit) {
				gap_open(f, f->next);
				f->next = f->limit + 1;
			}
			break;
		}
		drop_cur(f); /* sealed and read, or compacted away */
	}
	if (f->gap) {
		gap_item(f, item);
		return LK_OK;
	}
	return LK_NOT_FOUND;
}

/* ---------------------------------------------------------------------- */
/* Waiting                                                                */
/* ---------------------------------------------------------------------- */

lk_status lk_feed_wait(lk_feed *f, uint32_t timeout_ms)
{
	const lk_io *io;
	uint64_t deadline;
	lk_status st = feed_check(f);

	if (st != LK_OK)
		return st;
	io = f->db->io;
	deadline = io->mono_us(io->ctx) + (uint64_t)timeout_ms * 1000u;
	for (;;) {
		lk_io_wait *w;

		if (atomic_load(&f->stopped))
			return err_set(LK_MISUSE, "change feed: stopped");
		if (segtable_seq_last(f->db) >= f->next)
			return LK_OK;
		if (io->mono_us(io->ctx) >= deadline)
			return LK_NOT_FOUND; /* timed out */
		st = io->wait_new(io->ctx, &w);
		if (st != LK_OK)
			return st;
		/* Counted in before seq_last is read again: a commit after
		 * that read stops w (commit.c, wake_waiters). */
		commit_waiter_add(f->db, &f->waiter, w);
		if (segtable_seq_last(f->db) < f->next &&
		    !atomic_load(&f->stopped))
			(void)io->wait_until(io->ctx, w, deadline);
		commit_waiter_remove(f->db, &f->waiter);
		io->wait_free(io->ctx, w);
	}
}

void lk_feed_stop(lk_feed *f)
{
	if (!f || f->magic != FEED_MAGIC)
		return;
	atomic_store(&f->stopped, 1);
	commit_waiter_wake(f->db, &f->waiter);
}

uint64_t lk_feed_cursor(const lk_feed *f)
{
	if (!f || f->magic != FEED_MAGIC)
		return 0;
	/* A gap found but not yet delivered is not passed yet. */
	return (f->gap ? f->gap_first : f->next) - 1;
}

void lk_feed_close(lk_feed *f)
{
	if (!f || f->magic != FEED_MAGIC)
		return;
	f->magic = 0;
	drop_cur(f);
	mem_free(f->value);
	handle_leave(f->db, DB_USE_ITER);
	mem_free(f);
}
