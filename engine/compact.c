/* SPDX-License-Identifier: MIT */
/*
 * compact.c - compaction (SPEC §6): rewrites the live records of a run of
 * sealed segments into one new segment and removes the old files.
 *
 * The new segment takes the place of the run in the log: it has the seq of
 * the run's last segment, the next generation, and the seq_prev of the
 * run's first, so the chain skips the old ones, and its records keep their
 * sequence numbers and their order.  Replaying the log gives the same
 * index before and after.
 *
 * Steps, and what a power cut after each leaves (recovery.c cleans up):
 *   1. pick    a run, under the index lock (shared): no change.
 *   2. copy    every record the index points at, every tombstone that an
 *              older segment may still need, into <seq>.<gen+1>.seg,
 *              reading the old files with no lock held.  Cut here: the new
 *              file is incomplete (no seal) and open removes it.
 *   3. seal    after syncing the active segment (the records that made
 *              others dead must be durable first), and fdatasync the new
 *              file.  From here the new file is complete, and open
 *              prefers it to the run it replaces.
 *   4. install under the index lock (exclusive), a few thousand keys at a
 *              time: keys still at their old place move to the new one;
 *              then the old segments leave the table, in one step.
 *   5. remove  the old files, then sync the directory.  Cut before: open
 *              removes what is left, since the complete new file
 *              supersedes them.
 * A full device: when step 2 or 3 fails with LK_NOSPACE, the new file is
 * removed, the space reserve (reserve.h) given back to the device, and a
 * run whose live data fits in half of it is picked and copied instead;
 * a second failure, or no such run, is LK_NOSPACE with the log as it
 * was.  After space was freed the reserve is filled again.
 *
 * Counts.  Each run adds to the handle's counts once it is installed;
 * with the totals open found (the snapshot file's, snapshot.h:
 * "Compaction totals") they are the database's totals, which the
 * snapshot after the compaction carries forward.
 *
 * Readers that copied a location before step 4 hold a reference to the old
 * segment (segtable_pin), which stays open until they are done.
 *
 * Writers are never blocked by steps 1 to 3; step 4 takes the exclusive
 * lock for INSTALL_CHUNK keys at a time, which bounds a write's stall.
 *
 * What is dropped: puts the index no longer points at (overwritten or
 * deleted), commits and seals (rewritten), expired puts, and tombstones
 * when no older segment can still hold their key: the run starts at the
 * oldest segment, or the key lives on in a newer record.  An expired put
 * with older segments behind it becomes a tombstone, lest an older value
 * come back.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "alloc.h"
#include "commit.h"
#include "compact.h"
#include "error.h"
#include "snapshot.h"

/* The compactor's state (db->compact): the lock that lets one compaction
 * (or snapshot) run at a time, the background thread and its sleep, and
 * the counts for lk_stats_get(): this handle's, and the database's
 * totals before this open, which the snapshot file keeps (snapshot.h,
 * "Compaction totals"). */
struct compactor {
	struct lk_mutex mu;     /* held across a whole compaction */
	struct lk_mutex cv_mu;  /* guards stop, taken alone */
	lk_io_wait *wait;       /* stopping it ends the thread's sleeps */
	lk_io_thread *thread;   /* or NULL */
	int stop;               /* under cv_mu */
	_Atomic uint64_t runs, bytes_read, bytes_written, segments_removed,
		records_dropped, us, stall_max_us, failures;
	struct snap_totals before; /* set at init, then read only */
};

/* Run choice (see lk_options): under load only runs at least this dead
 * are worth rewriting; when idle, runs this dead.  A simulation of 1M
 * random overwrites on 1M keys put the pair at 60/20: below 60 under load
 * write amplification climbs past 2, above 20 when idle the disk stays
 * 20% larger than the data. */
#define RUN_DEAD_PCT_LOAD 60u
#define RUN_DEAD_PCT_IDLE 20u
/* A run with less dead data than this is not worth a new file. */
#define RUN_DEAD_BYTES_MIN (64u * 1024u)
/* Keys repointed per hold of the exclusive index lock: about a
 * millisecond of work on a router's CPU. */
#define INSTALL_CHUNK 4096u
/* Records per commit in a new segment: the group limit of recovery. */
#define GROUP_OPS 4096u
/* The copy buffer: one write per megabyte, and room for the largest
 * record with its commit. */
#define OUT_BUF_BYTES (LK_RECORD_BYTES_MAX + 64u * 1024u)
/* The background thread looks at the dead ratio this often, and waits
 * this long after a failed compaction (a full or failing device) before
 * it tries again. */
#define POLL_MS 200u
#define RETRY_MS 10000u

/* A put copied to the new segment, to repoint at install. */
struct moved {
	uint64_t hash;
	uint32_t from_off, from_size;
	uint32_t to_off, to_size;
	uint32_t victim;  /* index in the run */
	uint8_t ns;
	uint8_t drop;     /* expired: remove from the index instead */
};

struct job {
	struct lk_db *db;
	struct segment **run;
	size_t nrun;
	int from_oldest;  /* no segment is older than the run */
	struct segment *out;
	uint8_t *buf;
	size_t buf_len;
	uint64_t buf_off;  /* file offset of buf[0] */
	uint64_t ops, group_ops;
	uint64_t last_at;  /* where copy_op put the last record */
	struct moved *moved;
	size_t nmoved, cap;
	uint64_t t0_us, read, written, dropped;
	uint64_t now_ms;
};

/* ---------------------------------------------------------------------- */
/* Waiting                                                                */
/* ---------------------------------------------------------------------- */

static int stopping(struct lk_db *db)
{
	int stop;

	mutex_lock(&db->compact->cv_mu);
	stop = db->compact->stop;
	mutex_unlock(&db->compact->cv_mu);
	return stop;
}

/* Sleeps up to us microseconds of the I/O layer's monotonic clock, less
 * if the handle is closing.  Returns 1 if it is. */
static int wait_us(struct lk_db *db, uint64_t us)
{
	const lk_io *io = db->io;

	(void)io->wait_until(io->ctx, db->compact->wait,
			     io->mono_us(io->ctx) + us);
	return stopping(db);
}

/* Holds the copy to compact_rate_bytes per second. */
static lk_status throttle(struct job *j)
{
	struct lk_db *db = j->db;
	uint64_t rate = db->opts.compact_rate_bytes, due_us, spent_us;

	if (rate == 0)
		return stopping(db) ? err_set(LK_BUSY, "compaction stopped: "
						       "the handle is closing")
				    : LK_OK;
	due_us = j->written * 1000000u / rate;
	spent_us = db->io->mono_us(db->io->ctx) - j->t0_us;
	if ((due_us > spent_us && wait_us(db, due_us - spent_us)) ||
	    stopping(db))
		return err_set(LK_BUSY, "compaction stopped: the handle is "
				        "closing");
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Picking a run                                                          */
/* ---------------------------------------------------------------------- */

static int by_seq(const void *a, const void *b)
{
	const struct segment *x = *(struct segment *const *)a;
	const struct segment *y = *(struct segment *const *)b;

	return x->hdr.seq < y->hdr.seq ? -1 : x->hdr.seq > y->hdr.seq;
}

static uint64_t dead_of(const struct segment *s)
{
	return s->data_end - SEG_HEADER_BYTES - s->live_bytes;
}

/* Fills the sealed segments in log order (all but the newest, which
 * takes writes, or in a version 1 log may have been sealed by a rotation
 * cut before its successor) and returns how
 * many.  Caller holds ix_lock. */
static size_t sealed_segments(struct lk_db *db, struct segment **v)
{
	LK_ASSERT(segtable_held(db));

	size_t n = 0;

	for (uint32_t i = 1; i < IX_SEG_SLOTS; i++) {
		struct segment *s = segtable_at(db, i);

		if (s && !s->installing)
			v[n++] = s;
	}
	qsort(v, n, sizeof *v, by_seq);
	return n ? n - 1 : 0;
}

/* Chooses the run of consecutive sealed segments with the most dead bytes
 * whose live data fits one segment and live_max, and which is at least
 * min_pct dead.
 * `fresh` (may be NULL) excludes runs made only of segments written by
 * this lk_compact() call, so that it ends.  Returns 1 and fills the job's
 * run, or 0. */
static int pick(struct job *j, unsigned min_pct, uint64_t min_dead,
		uint64_t live_max,
		int (*fresh)(void *, const struct segment *), void *arg)
{
	struct lk_db *db = j->db;
	struct segment **v = j->run;
	uint64_t best_dead = 0, best_live = 0;
	size_t n, best_i = 0, best_n = 0;

	segtable_rdlock(db);
	n = sealed_segments(db, v);
	for (size_t i = 0; i < n; i++) {
		uint64_t live = 0, dead = 0, ops = 0;
		int old = 0;

		for (size_t k = i; k < n; k++) {
			live += v[k]->live_bytes;
			dead += dead_of(v[k]);
			ops += v[k]->ops;
			old |= !fresh || !fresh(arg, v[k]);
			if (live > live_max)
				break; /* longer runs from i hold more */
			if (k > i && (live > db->opts.segment_size_bytes ||
				      ops > LK_COMPACT_RECORDS_MAX))
				break;
			if (!old || dead < min_dead || dead == 0 ||
			    dead * 100 < (uint64_t)min_pct * (live + dead))
				continue;
			if (dead > best_dead ||
			    (dead == best_dead && live < best_live)) {
				best_dead = dead;
				best_live = live;
				best_i = i;
				best_n = k - i + 1;
			}
		}
	}
	if (best_n) {
		memmove(v, v + best_i, best_n * sizeof *v);
		j->from_oldest = best_i == 0;
	}
	j->nrun = best_n;
	segtable_unlock(db);
	return best_n > 0;
}

/* ---------------------------------------------------------------------- */
/* Copying                                                                */
/* ---------------------------------------------------------------------- */

static lk_status flush(struct job *j)
{
	const lk_io *io = j->db->io;
	lk_status st;

	if (j->buf_len == 0)
		return LK_OK;
	st = io->pwrite(io->ctx, j->out->file, j->buf, j->buf_len, j->buf_off);
	if (st != LK_OK)
		return st;
	seg_hash_add(j->out, j->buf, j->buf_len, j->buf_off);
	j->written += j->buf_len;
	j->buf_off += j->buf_len;
	j->buf_len = 0;
	return throttle(j);
}

/* Makes room for `need` bytes in the buffer. */
static lk_status reserve(struct job *j, size_t need)
{
	return j->buf_len + need > OUT_BUF_BYTES ? flush(j) : LK_OK;
}

/* Appends r to the new segment; *at is where it starts. */
static lk_status emit(struct job *j, const struct record *r, uint64_t *at)
{
	size_t need = record_encoded_size(r, j->out->hdr.record_seq_base);
	lk_status st = reserve(j, need);

	if (st != LK_OK)
		return st;
	*at = j->buf_off + j->buf_len;
	j->buf_len += record_encode(j->buf + j->buf_len, r,
				    j->out->hdr.record_seq_base,
				    seg_seed(j->out, *at));
	return LK_OK;
}

static lk_status emit_end(struct job *j, uint8_t type, uint64_t count)
{
	struct record c = { 0 };
	uint64_t at;

	c.type = type;
	c.seq = j->out->hdr.record_seq_base;
	c.count = count;
	if (type == REC_SEAL) {
		/* the seal's hash covers every byte before it */
		lk_status st = flush(j);

		if (st == LK_OK)
			st = seg_hash_get(j->out, j->db->io, j->buf_off,
					  &c.seg_hash);
		if (st != LK_OK)
			return st;
		c.flags = REC_F_SEG_HASH;
	}
	return emit(j, &c, &at);
}

/* Remembers a key to repoint (to != NULL) or to remove at install. */
static lk_status note(struct job *j, const struct record *r, uint32_t victim,
		      uint64_t from_off, uint64_t hash, const uint64_t *to)
{
	struct moved *m;

	if (j->nmoved == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 4096;

		/* A single segment is compacted whatever its count, so only
		 * the index bounds this one (LK_INDEX_SLOTS_MAX): past 2^26
		 * keys the doubled size would wrap on 32-bit. */
		m = mem_realloc_array(j->moved, cap, sizeof *m);
		if (!m)
			return err_set(LK_NOMEM, "compaction: %zu moved keys",
				       cap);
		j->moved = m;
		j->cap = cap;
	}
	m = &j->moved[j->nmoved++];
	m->hash = hash;
	m->from_off = (uint32_t)from_off;
	m->from_size = r->size;
	m->to_off = to ? (uint32_t)*to : 0;
	m->to_size = to ? (uint32_t)record_encoded_size(
				  r, j->out->hdr.record_seq_base)
			: 0;
	m->victim = victim;
	m->ns = r->ns;
	m->drop = to == NULL;
	return LK_OK;
}

/* Copies a put or a tombstone into the new segment, without the location
 * of the record it replaced: that one is dead, and a replay of the output
 * finds nothing there. */
static lk_status copy_op(struct job *j, struct record *r)
{
	lk_status st;

	r->flags &= (uint8_t)~REC_F_REPLACES;
	st = emit(j, r, &j->last_at);

	if (st != LK_OK)
		return st;
	j->ops++;
	if (++j->group_ops == GROUP_OPS) {
		st = emit_end(j, REC_COMMIT, j->group_ops);
		j->group_ops = 0;
	}
	return st;
}

/* 1 if the index points at (seg, off). */
static int is_live(struct lk_db *db, const struct segment *seg, uint64_t off,
		   uint8_t ns, uint64_t hash)
{
	struct ix_loc cand[16];
	int expiring[16];
	size_t n;
	int live = 0;

	segtable_rdlock(db);
	n = index_candidates(segtable_index(db), ns, hash, cand, expiring, 16);
	for (size_t i = 0; i < n && i < 16; i++)
		live |= cand[i].seg == seg->slot && cand[i].offset == off;
	segtable_unlock(db);
	/* Past 16 entries of one hash (never seen): keep it, to be safe. */
	return live || n > 16;
}

/* 1 if key has a live record now: a newer put, since the tombstone being
 * copied removed every older one.  Sets *st on a failed read. */
static int key_lives(struct lk_db *db, const struct record *r, uint64_t hash,
		     lk_status *st)
{
	struct ix_loc loc;

	segtable_rdlock(db);
	*st = index_get(segtable_index(db), r->ns, hash, r->key, r->key_len,
			segtable_key_eq, db, &loc, NULL);
	segtable_unlock(db);
	if (*st == LK_NOT_FOUND) {
		*st = LK_OK;
		return 0;
	}
	return *st == LK_OK;
}

/* Decides the fate of one put or delete of run[victim] at pos. */
static lk_status take_op(struct job *j, uint32_t victim, uint64_t pos,
			 struct record *rec)
{
	struct lk_db *db = j->db;
	uint64_t hash = record_key_hash(rec->ns, rec->key, rec->key_len);
	lk_status st = LK_OK;

	if (rec->type == REC_DEL) {
		/* Kept while an older segment may hold the key, unless a
		 * newer put of it stands in front of that one anyway. */
		if (j->from_oldest || key_lives(db, rec, hash, &st)) {
			j->dropped++;
			return st;
		}
		return st != LK_OK ? st : copy_op(j, rec);
	}
	/* Dead records go.  (The mesh ledger keeps its history by never
	 * overwriting or deleting an entry: every one stays live.) */
	if (!is_live(db, j->run[victim], pos, rec->ns, hash)) {
		j->dropped++;
		return LK_OK;
	}
	if (rec->expire_at_ms && rec->expire_at_ms <= j->now_ms) {
		/* Expired: gone from the index at install; on disk, nothing,
		 * or a tombstone in its place if older segments follow. */
		st = note(j, rec, victim, pos, hash, NULL);
		if (st != LK_OK || j->from_oldest) {
			j->dropped++;
			return st;
		}
		rec->type = REC_DEL;
		rec->flags = 0;
		rec->expire_at_ms = 0;
		rec->value_len = 0;
		return copy_op(j, rec);
	}
	st = copy_op(j, rec);
	if (st == LK_OK)
		st = note(j, rec, victim, pos, hash, &j->last_at);
	return st;
}

/* Reads every record of s below `end`, checking each; with a job, takes
 * its puts and deletes into the new segment (s is the run's `victim`). */
static lk_status read_segment(struct lk_db *db, struct segment *s,
			      uint64_t end, struct job *j, uint32_t victim)
{
	struct seg_reader r;
	uint64_t pos = SEG_HEADER_BYTES;
	lk_status st;

	st = seg_reader_init(&r, db->io, s, end);
	while (st == LK_OK && pos < end) {
		struct record rec;
		const char *why = NULL;

		st = seg_reader_record(&r, pos, &rec, &why);
		if (st == LK_CORRUPT)
			st = err_set(LK_CORRUPT, "compaction: segment %" PRIu64
						 " (%s) offset %" PRIu64 ": %s",
				     s->hdr.seq, s->name, pos, why);
		if (st != LK_OK)
			break;
		if (j)
			j->read += rec.size;
		if (j && rec.type <= REC_DEL)
			st = take_op(j, victim, pos, &rec);
		pos += rec.size;
	}
	seg_reader_free(&r);
	return st;
}

static lk_status copy_segment(struct job *j, uint32_t victim)
{
	struct segment *s = j->run[victim];

	return read_segment(j->db, s, s->data_end, j, victim);
}

/* Steps 2 and 3: the new segment, complete and synced. */
static lk_status write_output(struct job *j)
{
	struct lk_db *db = j->db;
	const lk_io *io = db->io;
	struct segment *first = j->run[0], *last = j->run[j->nrun - 1];
	struct seg_header h;
	lk_status st;

	if (last->hdr.generation == UINT32_MAX)
		return err_set(LK_TOO_BIG, "segment %" PRIu64 " was compacted "
					   "2^32 times",
			       last->hdr.seq);
	memset(&h, 0, sizeof h);
	h.version = LK_FORMAT_VERSION;
	memcpy(h.db_id, db->db_id, SEG_DB_ID_BYTES);
	h.seq = last->hdr.seq;
	h.seq_prev = first->hdr.seq_prev;
	h.record_seq_base = first->hdr.record_seq_base;
	h.generation = last->hdr.generation + 1;
	st = seg_create(&j->out, io, db->dir, &h);
	if (st != LK_OK) {
		j->out = NULL;
		return st;
	}
	j->buf_off = SEG_HEADER_BYTES;
	for (uint32_t i = 0; st == LK_OK && i < j->nrun; i++)
		st = copy_segment(j, i);
	if (st == LK_OK && j->group_ops)
		st = emit_end(j, REC_COMMIT, j->group_ops);
	/* What the copy left out as dead was judged against the index,
	 * which under sync "interval" and "none" runs ahead of the disk: the
	 * newer records that made it dead must be durable before the new
	 * segment can be complete, or a power cut would bring back an older
	 * value, or a deleted key. */
	if (st == LK_OK)
		st = commit_sync(db);
	if (st == LK_OK)
		st = emit_end(j, REC_SEAL, j->ops);
	if (st == LK_OK)
		st = flush(j);
	/* Synced before any old segment goes (step 3).  A failed sync
	 * leaves the file's contents unknown: it is dropped, not retried. */
	if (st == LK_OK)
		st = io->sync(io->ctx, j->out->file);
	if (st != LK_OK)
		return st;
	j->out->sealed = 1;
	j->out->data_end = j->out->file_size = j->out->synced_end = j->buf_off;
	j->out->ops = j->ops;
	j->out->installing = 1;
	segtable_map(j->db, j->out); /* complete: only read from now on */
	return LK_OK;
}

/* Drops a new segment that will not be installed. */
static void discard_output(struct job *j)
{
	const lk_io *io = j->db->io;
	char name[SEG_NAME_BYTES];

	if (!j->out)
		return;
	memcpy(name, j->out->name, sizeof name);
	seg_close(j->out, io);
	j->out = NULL;
	/* Not synced, and a failure only leaves the file: whether or not
	 * the name survives a power cut, open drops an output whose run is
	 * still there (recovery.c, find_leftovers). */
	(void)io->unlink(io->ctx, j->db->dir, name);
}

static void note_stall(struct lk_db *db, uint64_t t0)
{
	uint64_t us = db->io->mono_us(db->io->ctx) - t0;

	if (us > atomic_load(&db->compact->stall_max_us))
		atomic_store(&db->compact->stall_max_us, us);
}

/* Step 4: keys move to the new segment; the run leaves the table. */
static lk_status install(struct job *j)
{
	struct lk_db *db = j->db;
	const lk_io *io = db->io;
	struct segment *out = j->out;
	uint64_t t0;
	lk_status st;

	t0 = io->mono_us(io->ctx);
	segtable_wrlock(db);
	st = segtable_add(db, out);
	segtable_unlock(db);
	note_stall(db, t0);
	if (st != LK_OK)
		return st;
	for (size_t at = 0; at < j->nmoved; at += INSTALL_CHUNK) {
		size_t end = at + INSTALL_CHUNK < j->nmoved ? at + INSTALL_CHUNK
							     : j->nmoved;

		t0 = io->mono_us(io->ctx);
		segtable_wrlock(db);
		for (size_t i = at; i < end; i++) {
			const struct moved *m = &j->moved[i];
			struct segment *from = j->run[m->victim];
			struct ix_loc old = { from->slot, m->from_off,
					      m->from_size };
			struct ix_loc to = { out->slot, m->to_off, m->to_size };

			if (!index_move(segtable_index(db), m->ns, m->hash, old,
					m->drop ? NULL : &to))
				continue; /* overwritten since */
			segtable_move_live(db, m->ns, from, m->from_size,
					   m->drop ? NULL : out, m->to_size);
		}
		segtable_unlock(db);
		note_stall(db, t0);
	}
	t0 = io->mono_us(io->ctx);
	segtable_wrlock(db);
	for (size_t i = 0; i < j->nrun; i++)
		segtable_remove(db, j->run[i]);
	out->installing = 0;
	segtable_unlock(db);
	note_stall(db, t0);
	j->out = NULL; /* the table's now */
	return LK_OK;
}

/* Step 5: the old files go; open would remove them anyway. */
static lk_status remove_run(struct job *j)
{
	struct lk_db *db = j->db;
	const lk_io *io = db->io;
	lk_status st = LK_OK;

	for (size_t i = 0; i < j->nrun; i++) {
		char name[SEG_NAME_BYTES];
		lk_status u;

		memcpy(name, j->run[i]->name, sizeof name);
		segtable_unpin(db, j->run[i]); /* the table's reference */
		j->run[i] = NULL;
		u = io->unlink(io->ctx, db->dir, name);
		if (st == LK_OK && u != LK_OK)
			st = u;
	}
	if (st == LK_OK)
		st = io->dir_sync(io->ctx, db->dir);
	if (st != LK_OK)
		err_prefix("compaction: removing the old segments (open removes "
			   "what is left)");
	return st;
}

/* Forgets what a discarded attempt copied, to pick and copy again. */
static void job_restart(struct job *j)
{
	LK_ASSERT(j->out == NULL);
	j->nrun = 0;
	j->from_oldest = 0;
	j->buf_len = 0;
	j->buf_off = 0;
	j->ops = j->group_ops = j->last_at = 0;
	j->nmoved = 0;
	j->read = j->written = j->dropped = 0;
}

/* Gives the whole space reserve back to the device after a new segment
 * did not fit (reserve.h).  Returns the bytes given, 0 if none. */
static uint64_t release_reserve(struct lk_db *db)
{
	uint64_t released;

	commit_log_lock(db); /* after compact_mu (handle.h) */
	released = commit_reserve_draw_held(db, UINT64_MAX);
	commit_log_unlock(db);
	return released;
}

/* One run, steps 1 to 5.  Caller holds compact_mu.  *done is 0 when no
 * run qualified. */
static lk_status compact_one(struct lk_db *db, unsigned min_pct,
			     uint64_t min_dead,
			     int (*fresh)(void *, const struct segment *),
			     void *arg, struct segment **made, int *done)
{
	LK_ASSERT(mutex_held(&db->compact->mu));
	struct job j;
	lk_status st;
	uint64_t t0 = db->io->mono_us(db->io->ctx);
	uint64_t live_max = UINT64_MAX, released = 0;

	*done = 0;
	memset(&j, 0, sizeof j);
	j.db = db;
	j.t0_us = t0;
	j.now_ms = db->io->now_ms(db->io->ctx);
	j.run = mem_alloc(LK_SEGMENT_COUNT_MAX * sizeof *j.run);
	if (!j.run) {
		st = err_set(LK_NOMEM, "compaction: the segment list");
		goto out;
	}
	/* A full device: a new segment that does not fit is discarded, the
	 * reserve given back, and a run whose live data fits in half of it
	 * (room for re-encoding, tombstones and commits) copied instead.  A
	 * second failure is reported: the log stays as it was. */
	for (;;) {
		if (!pick(&j, min_pct, min_dead, live_max, fresh, arg)) {
			st = released == 0
				     ? LK_OK
				     : err_set(LK_NOSPACE,
					       "compaction: the device is full "
					       "and no run's live data fits in "
					       "%" PRIu64 " bytes", live_max);
			goto out;
		}
		/* the copy buffer only once there is something to copy */
		if (!j.buf)
			j.buf = mem_alloc(OUT_BUF_BYTES);
		st = j.buf ? write_output(&j)
			   : err_set(LK_NOMEM, "compaction: a %u-byte copy "
						"buffer",
				     OUT_BUF_BYTES);
		if (st != LK_NOSPACE || released > 0)
			break;
		discard_output(&j);
		released = release_reserve(db);
		if (released == 0)
			break;
		live_max = released / 2;
		job_restart(&j);
	}
	if (st == LK_OK && made)
		*made = j.out;
	if (st == LK_OK)
		st = install(&j);
	if (st != LK_OK) {
		discard_output(&j);
		goto out;
	}
	atomic_fetch_add(&db->compact->runs, 1);
	atomic_fetch_add(&db->compact->bytes_read, j.read);
	atomic_fetch_add(&db->compact->bytes_written, j.written +
			 SEG_HEADER_BYTES);
	atomic_fetch_add(&db->compact->segments_removed, j.nrun);
	atomic_fetch_add(&db->compact->records_dropped, j.dropped);
	*done = 1;
	st = remove_run(&j);
out:
	/* After space was freed or the reserve given back: as much of the
	 * reserve as the device has again (a no-op when it is whole). */
	if (*done || released > 0)
		commit_reserve_fill(db);
	atomic_fetch_add(&db->compact->us, db->io->mono_us(db->io->ctx) - t0);
	mem_free(j.moved);
	mem_free(j.buf);
	mem_free(j.run);
	return st;
}

/* ---------------------------------------------------------------------- */
/* On demand                                                              */
/* ---------------------------------------------------------------------- */

struct made {
	struct segment *v[LK_SEGMENT_COUNT_MAX];
	size_t n;
};

/* The database's compaction totals: those before this open and this
 * handle's.  Consistent with each other when the caller holds compact_mu
 * (a run adds its counts under it); stats read them without. */
static void totals_now(const struct lk_db *db, struct snap_totals *t)
{
	const struct compactor *c = db->compact;
	struct snap_totals mine = {
		atomic_load(&c->runs), atomic_load(&c->bytes_read),
		atomic_load(&c->bytes_written),
		atomic_load(&c->segments_removed),
		atomic_load(&c->records_dropped)
	};

	*t = c->before;
	snap_totals_add(t, &mine);
}

/* A compaction renamed segments that the newest snapshot names, so open
 * would no longer trust it: a new one, if snapshots are automatic, which
 * also keeps the compaction totals.  Its failure costs a replay at the
 * next open, never data; stats count it.  Caller holds compact_mu. */
static void auto_snapshot(struct lk_db *db)
{
	LK_ASSERT(mutex_held(&db->compact->mu));
	struct snap_totals t;

	if (db->opts.snapshot_every_bytes) {
		totals_now(db, &t);
		snapshot_auto(db, &t);
	}
}

static int made_here(void *arg, const struct segment *s)
{
	const struct made *m = arg;

	for (size_t i = 0; i < m->n; i++)
		if (m->v[i] == s)
			return 1;
	return 0;
}

/* lk_compact() refuses damage before it changes anything (logkeep.h):
 * every record a run can hold is read and checked first.  Runs start and
 * end at segments with dead bytes, so they lie between the oldest sealed
 * segment with dead bytes and the active one, which commit_seal_if_dead
 * may seal into that range; those are checked, up to the active
 * segment's committed end.  The bytes are the ones the compaction then
 * copies, so the second read comes from the page cache.  Caller holds
 * compact_mu: no other compaction changes the table meanwhile. */
static lk_status check_before_compact(struct lk_db *db)
{
	LK_ASSERT(mutex_held(&db->compact->mu));

	struct segment **v = mem_alloc(LK_SEGMENT_COUNT_MAX * sizeof *v);
	uint64_t active_end = 0;
	size_t n, first;
	lk_status st = LK_OK;

	if (!v)
		return err_set(LK_NOMEM, "compaction: the segment list");
	/* lock order: log_mu, then ix_lock (handle.h) */
	commit_log_lock(db);
	segtable_rdlock(db);
	n = sealed_segments(db, v);
	if (segtable_active(db)) /* the newest, filled in v[n] */
		n++;
	LK_ASSERT(n == 0 || v[n - 1] == segtable_active(db));
	for (first = 0; first + 1 < n && dead_of(v[first]) == 0; first++)
		;
	for (size_t i = first; i < n; i++)
		segtable_pin(v[i]);
	if (n > 0)
		active_end = v[n - 1]->data_end;
	segtable_unlock(db);
	commit_log_unlock(db);
	for (size_t i = first; i < n; i++) {
		if (st == LK_OK)
			st = read_segment(db, v[i],
					  i + 1 == n ? active_end
						     : v[i]->data_end,
					  NULL, 0);
		segtable_unpin(db, v[i]);
	}
	mem_free(v);
	return st;
}

lk_status compact_run(struct lk_db *db)
{
	struct made *m;
	lk_status st;
	int done = 1;

	if (db->readonly)
		return err_set(LK_READONLY, "lk_compact: the handle is "
					    "read-only");
	if (commit_halted(db))
		return commit_refuse_halted(db, "lk_compact");
	m = mem_calloc(1, sizeof *m);
	if (!m)
		return err_set(LK_NOMEM, "lk_compact");
	mutex_lock(&db->compact->mu);
	st = check_before_compact(db);
	if (st == LK_OK)
		st = commit_seal_if_dead(db);
	/* Each run holds a segment older than this call: it ends. */
	for (; st == LK_OK && done;) {
		struct segment *made = NULL;

		st = compact_one(db, 0, 1, made_here, m, &made, &done);
		if (done && m->n < LK_SEGMENT_COUNT_MAX)
			m->v[m->n++] = made;
	}
	if (m->n)
		auto_snapshot(db);
	/* Deletes may have drawn on the reserve with nothing to compact
	 * since: whole again if the device has the room, and puts go on. */
	commit_reserve_fill(db);
	mutex_unlock(&db->compact->mu);
	mem_free(m);
	return st;
}

/* ---------------------------------------------------------------------- */
/* In the background                                                      */
/* ---------------------------------------------------------------------- */

/* The share of the log that is dead, in percent. */
static unsigned dead_pct(struct lk_db *db)
{
	uint64_t live = 0, dead = 0;

	segtable_rdlock(db);
	for (uint32_t i = 1; i < IX_SEG_SLOTS; i++) {
		const struct segment *s = segtable_at(db, i);

		if (!s || s->installing || s == segtable_active(db))
			continue;
		live += s->live_bytes;
		dead += dead_of(s);
	}
	segtable_unlock(db);
	return live + dead ? (unsigned)(dead * 100 / (live + dead)) : 0;
}

static void compactor_main(void *arg)
{
	struct lk_db *db = arg;
	const lk_io *io = db->io;
	uint64_t seen = commit_count(db);
	uint64_t quiet_since = io->mono_us(io->ctx);

	while (!wait_us(db, POLL_MS * 1000u)) {
		uint64_t commits = commit_count(db);
		uint64_t now = io->mono_us(io->ctx);
		int idle, done = 1, compacted = 0;
		lk_status st = LK_OK;

		if (commits != seen) {
			seen = commits;
			quiet_since = now;
		}
		idle = now - quiet_since >= db->opts.compact_idle_ms * 1000ull;
		while (st == LK_OK && done && !commit_halted(db) &&
		       db->opts.compact_dead_pct) {
			unsigned pct = dead_pct(db);

			if (idle ? pct < db->opts.compact_idle_pct
				 : pct < db->opts.compact_dead_pct)
				break;
			mutex_lock(&db->compact->mu);
			st = compact_one(db, idle ? RUN_DEAD_PCT_IDLE
						  : RUN_DEAD_PCT_LOAD,
					 RUN_DEAD_BYTES_MIN, NULL, NULL, NULL,
					 &done);
			mutex_unlock(&db->compact->mu);
			compacted |= st == LK_OK && done;
			if (st != LK_OK)
				atomic_fetch_add(&db->compact->failures, 1);
		}
		/* One snapshot after a pass of compactions, or when the
		 * log has grown by the interval since the last one. */
		if (db->opts.snapshot_every_bytes && !commit_halted(db) &&
		    (compacted || snapshot_behind(db) >=
					  db->opts.snapshot_every_bytes)) {
			mutex_lock(&db->compact->mu);
			auto_snapshot(db);
			mutex_unlock(&db->compact->mu);
		}
		if (st != LK_OK && wait_us(db, RETRY_MS * 1000u))
			break;
	}
}

lk_status compact_init(struct lk_db *db)
{
	const lk_io *io = db->io;
	struct compactor *c;
	lk_status st;

	LK_ASSERT(db->compact == NULL);
	c = mem_calloc(1, sizeof *c);
	if (!c)
		return err_set(LK_NOMEM, "allocating the compactor's state");
	st = io->wait_new(io->ctx, &c->wait);
	if (st != LK_OK) {
		mem_free(c);
		return st;
	}
	mutex_init(&c->mu, LOCK_COMPACT);
	mutex_init(&c->cv_mu, LOCK_COMPACT_CV);
	snapshot_totals(db, &c->before); /* what open found */
	db->compact = c;
	if (db->readonly || (db->opts.compact_dead_pct == 0 &&
			     db->opts.snapshot_every_bytes == 0))
		return LK_OK;
	st = io->thread_start(io->ctx, &c->thread, compactor_main, db);
	if (st != LK_OK)
		err_prefix("starting the compaction thread");
	return st;
}

void compact_stop(struct lk_db *db)
{
	const lk_io *io = db->io;
	struct compactor *c = db->compact;

	if (!c)
		return;
	mutex_lock(&c->cv_mu);
	c->stop = 1;
	mutex_unlock(&c->cv_mu);
	io->wait_stop(io->ctx, c->wait);
	if (c->thread)
		io->thread_join(io->ctx, c->thread);
	c->thread = NULL;
}

void compact_free(struct lk_db *db)
{
	struct compactor *c = db->compact;

	if (!c)
		return;
	compact_stop(db);
	db->io->wait_free(db->io->ctx, c->wait);
	mutex_destroy(&c->cv_mu);
	mutex_destroy(&c->mu);
	mem_free(c);
	db->compact = NULL;
}

lk_status compact_snapshot(struct lk_db *db, int automatic)
{
	struct snap_totals t;
	lk_status st = LK_OK;

	mutex_lock(&db->compact->mu);
	totals_now(db, &t);
	if (automatic)
		snapshot_auto(db, &t);
	else
		st = snapshot_write(db, &t);
	mutex_unlock(&db->compact->mu);
	return st;
}

void compact_stats(const struct lk_db *db, lk_stats *stats)
{
	const struct compactor *c = db->compact;
	struct snap_totals t;

	totals_now(db, &t);
	stats->compactions_total = t.compactions;
	stats->compact_bytes_read_total = t.bytes_read;
	stats->compact_bytes_written_total = t.bytes_written;
	stats->compact_segments_removed_total = t.segments_removed;
	stats->compact_records_dropped_total = t.records_dropped;

	stats->compactions = atomic_load(&c->runs);
	stats->compact_bytes_read = atomic_load(&c->bytes_read);
	stats->compact_bytes_written = atomic_load(&c->bytes_written);
	stats->compact_segments_removed = atomic_load(&c->segments_removed);
	stats->compact_records_dropped = atomic_load(&c->records_dropped);
	stats->compact_us = atomic_load(&c->us);
	stats->compact_stall_max_us = atomic_load(&c->stall_max_us);
	stats->compact_failures = atomic_load(&c->failures);
}
