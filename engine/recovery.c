/* SPDX-License-Identifier: MIT */
/*
 * recovery.c - opening a data directory: find the segments, check their
 * chain, replay their records into the index, and decide what to do with
 * whatever the last power cut left at the end of the log.  Also the
 * offline check behind lk_verify(), which walks the same code but keeps
 * going past damage and changes nothing.
 *
 * Method.  Segments are read in log order.  Puts and deletes are held as
 * a pending group until the commit record that closes them; only then do
 * they reach the index, so a batch cut anywhere is wholly absent.  Every
 * segment but the newest must end with a seal and hold nothing invalid.
 *
 * The newest segment may end in a torn tail: records of a group whose
 * commit never made it, half-written records, garbage, zeroes.  Such a
 * tail lies past the last commit (at commit_end) and holds only data that
 * was never synced, since a commit is acknowledged only after its sync.
 * Damage to synced data looks the same from the front, so the rule is
 * decided by what comes after it: every commit records durable_upto, the
 * offset below which its writer knew the file to be synced.  Recovery
 * looks past the point where parsing stopped for any valid commit or seal;
 * if one claims durability beyond commit_end, the data it vouches for is
 * damaged and the open fails (LK_CORRUPT, naming the place).  Otherwise the
 * tail is cut at commit_end (unless the handle is read-only) and reported.
 * A tail of zeroes only is not damage: it is the zero prefill that lets
 * durable commits overwrite allocated blocks (see commit.c), and it stays.
 *
 * Every listed segment file is opened before any is read (take_listing):
 * a read-only open beside a writer then holds one state of the log, which
 * the writer's compactions can no longer remove from under it, and it
 * lists again until the listing it opened is current.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "alloc.h"
#include "order.h"
#include "recovery.h"
#include "endian.h"
#include "error.h"
#include "lockmark.h"
#include "snapshot.h"

/* A read-only open shares the directory with a writer, whose compaction
 * removes segment files and rotation adds them: a listing that changed
 * before its files were opened is taken again, this many times at most.
 * A listing and its opens take a millisecond or so, a compaction at
 * least the copy and fdatasync of a segment; ten changed listings in a
 * row mean a directory rewritten faster than it can be read, and the
 * open gives up (LK_BUSY) rather than spin. */
#define RELIST_MAX 10u

struct seg_entry {
	char name[SEG_NAME_BYTES];
	uint64_t seq;
	uint32_t generation;
	int leftover;  /* of an interrupted compaction: not in the log */
	/* Opened right after the listing (take_listing), so that a writer's
	 * compaction that removes the file cannot take it away from this
	 * open; NULL if it could not be opened (open_chain says why). */
	struct segment *seg;
};

struct listing {
	struct seg_entry *v;
	size_t n, cap;
};

struct pending_op {
	uint8_t type, flags, ns;
	uint8_t group_start;   /* the first record of its group, which ... */
	uint32_t group_puts;   /* ... holds this many puts */
	uint32_t key_len;
	size_t key_at; /* into scan.keys */
	uint64_t expire_at_ms;
	uint32_t offset, size;
	uint64_t seq;
	uint64_t hash; /* record_key_hash */
	uint64_t rep_seg_seq; /* REC_F_REPLACES: the record it replaces */
	uint32_t rep_generation, rep_offset;
};

/* How many records ahead of the one it applies a replay prefetches the
 * index slot of: enough to cover a cache miss with the work of applying
 * the records between. */
#define REPLAY_PREFETCH_AHEAD 8u
#define REPLAY_PREFETCH_NEAR 4u

/* A replay applies committed groups to the index once this many of their
 * records are waiting (or at the end of the records it reads), so that
 * the prefetches reach across groups: a log of single durable puts holds
 * a group per record, and a record applied at its own commit found its
 * index slot in no cache (a third of the replay's profile). */
#define REPLAY_BATCH_OPS 64u

/* The state of a scan over the segments, in open or in verify mode. */
struct scan {
	struct lk_db *db;        /* open mode; NULL when verifying */
	lk_recovery_report *rep; /* filled in both modes */
	char first[LK_ERRMSG_BYTES]; /* verify: the first problem */
	const lk_io *io;
	lk_io_dir *dir;          /* the data directory */
	int readonly;            /* verify, or a read-only open */
	lk_problem_fn fn;        /* verify mode */
	void *arg;
	struct seg_reader r;
	struct segment *seg;
	/* open: seg mapped for replay_key_eq while it is scanned, once a
	 * record outside the reader's window had to be read */
	const uint8_t *map;
	size_t map_len;
	int map_tried;

	struct pending_op *ops;  /* the group being read */
	size_t nops, cap_ops;
	uint8_t *keys;
	size_t keys_len, keys_cap;
	struct pending_op *ready; /* committed, not yet applied */
	size_t nready, cap_ready;
	uint8_t *ready_keys;
	size_t ready_keys_len, ready_keys_cap;

	uint64_t last_seq;       /* newest put/delete seq seen so far */
	uint64_t catalog[LK_NS_COUNT_MAX + 1]; /* id -> hash of its name */
	uint64_t commit_end;     /* end of the last commit or seal read */
	uint64_t stop;           /* where reading stopped */
	const char *why;         /* why, or NULL at the end of the data */
	int sealed;
	int resynced;            /* verify: reading on after damage */
	/* Repairs an open makes only once the whole log has been judged
	 * good, so that a refused open changes nothing (SPEC §5). */
	char torn_name[SEG_NAME_BYTES]; /* a newest segment torn at birth */
	char unsealed_next[SEG_NAME_BYTES]; /* an empty newest segment after
					       an unsealed one: a cut rotation */
	int rotation_cut;        /* the last scan found that case */
	int cut_pending;         /* the newest segment's tail, at commit_end */
	struct segment *cut_seg; /* that segment */
	uint64_t cut_end;        /* and where it is cut */
	const struct listing *listing; /* its leftovers are removed */
	uint64_t records, discarded;
	uint64_t catalog_ops;    /* namespace catalog records read */
	int problems;            /* verify: problems worse than a torn tail */
	lk_status worst;
	uint64_t committed;      /* seq of the last record committed */
	size_t pos;              /* verify: the chain position being judged
				    (held problems are kept in its order) */
	struct held *held;       /* verify: problems waiting for the seqs
				    they take (SCAN_HELD_MAX), or NULL */
	size_t nheld;
	/* verify: the segment's bytes hashed as its records are read, for
	 * its seal (record.h); valid while hashed_to follows the reading */
	struct rec_hasher *seal_hash;
	uint64_t hashed_to;
};

/* Problems verify holds at once; past it the oldest is reported without
 * knowing where its loss ends. */
#define SCAN_HELD_MAX 64u

/* ---------------------------------------------------------------------- */
/* Listing                                                                */
/* ---------------------------------------------------------------------- */

static lk_status list_one(void *arg, const char *name)
{
	struct listing *l = arg;
	struct seg_entry e;

	if (!seg_parse_name(name, &e.seq, &e.generation))
		return LK_OK; /* LOCK, snapshots, strangers */
	/* Twice the limit still lets verify name every problem; past it the
	 * directory is not ours to read whole. */
	if (l->n >= 2 * (size_t)LK_SEGMENT_COUNT_MAX)
		return err_set(LK_TOO_BIG, "more than %u segment files",
			       2 * LK_SEGMENT_COUNT_MAX);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct seg_entry *v = mem_realloc(l->v, cap * sizeof *v);

		if (!v)
			return err_set(LK_NOMEM, "listing segments");
		l->v = v;
		l->cap = cap;
	}
	snprintf(e.name, sizeof e.name, "%s", name);
	e.leftover = 0;
	e.seg = NULL;
	l->v[l->n++] = e;
	return LK_OK;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct seg_entry *x = a, *y = b;

	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return x->generation < y->generation ? -1 : x->generation > y->generation;
}

static lk_status list_segments(struct listing *l, const lk_io *io,
			       lk_io_dir *dir)
{
	lk_status st;

	memset(l, 0, sizeof *l);
	st = io->dir_list(io->ctx, dir, list_one, l);
	if (st != LK_OK)
		return st;
	if (l->n)
		qsort(l->v, l->n, sizeof *l->v, entry_cmp);
	return LK_OK;
}

static void listing_free(struct listing *l, const lk_io *io)
{
	for (size_t i = 0; i < l->n; i++)
		seg_close(l->v[i].seg, io);
	mem_free(l->v);
	memset(l, 0, sizeof *l);
}

/* 1 if listing `now`, taken after `was`, holds every file of `was` and
 * nothing new but segments past its newest: those a rotation added since,
 * which an open that stops at `was`'s newest may ignore.  Both sorted. */
static int listing_still(const struct listing *was, const struct listing *now)
{
	uint64_t newest = was->n ? was->v[was->n - 1].seq : 0;
	size_t i = 0;

	for (size_t k = 0; k < now->n; k++) {
		if (i < was->n && strcmp(was->v[i].name, now->v[k].name) == 0)
			i++;
		else if (now->v[k].seq <= newest)
			return 0; /* a compaction's output, say */
	}
	return i == was->n;
}

/* Opens every listed file.  *stale is set when one of them is gone: the
 * listing no longer describes the directory.  Other failures leave the
 * entry's seg NULL; open_chain opens it again and reports the failure in
 * its place in the log. */
static lk_status pin_listing(struct listing *l, const lk_io *io,
			     lk_io_dir *dir, int writable, int *stale)
{
	*stale = 0;
	for (size_t i = 0; i < l->n; i++) {
		lk_status st = seg_open(&l->v[i].seg, io, dir, l->v[i].name,
					writable);

		if (st == LK_NOT_FOUND) {
			*stale = 1;
			return LK_OK;
		}
		if (st == LK_NOMEM)
			return st;
	}
	return LK_OK;
}

/* Lists the segment files and opens them all (at most count_max).  A
 * read-only open lists the directory again after the opens: when no file
 * went and none came but new segments past the newest (a rotation), the
 * open files are one state of the log, which no later removal can take
 * away (a compaction creates its output before it removes anything, so
 * its changes are never undone between two listings; and a listing taken
 * while files come and go may miss some, which the second one shows).
 * Otherwise it starts again, RELIST_MAX times at most.  A writing open
 * holds the lock: no one else changes the files. */
static lk_status take_listing(struct listing *l, const lk_io *io,
			      lk_io_dir *dir, int readonly, size_t count_max)
{
	for (unsigned attempt = 0;; attempt++) {
		struct listing again;
		int stale = 0;
		lk_status st;

		st = list_segments(l, io, dir);
		if (st == LK_OK && l->n > count_max)
			st = err_set(LK_TOO_BIG, "%zu segments, the limit is %u",
				     l->n, LK_SEGMENT_COUNT_MAX);
		if (st == LK_OK)
			st = pin_listing(l, io, dir, !readonly, &stale);
		if (st == LK_OK && !stale && readonly) {
			st = list_segments(&again, io, dir);
			stale = st == LK_OK && !listing_still(l, &again);
			mem_free(again.v);
		}
		if (st != LK_OK || !stale)
			return st;
		listing_free(l, io);
		if (attempt + 1 >= RELIST_MAX)
			return err_set(LK_BUSY, "the segment files changed "
				       "under %u listings in a row (a writer "
				       "compacting the directory)",
				       RELIST_MAX);
	}
}

/* ---------------------------------------------------------------------- */
/* Problems                                                               */
/* ---------------------------------------------------------------------- */

/* Which sequence numbers a problem takes from the log (lk_problem's
 * seq_first and seq_last).  Where the damage ends is known only when the
 * next group commits, and where a gap in the chain begins only when the
 * scan reaches it: verify holds such a problem until then. */
enum affects_kind {
	AFFECTS_NONE,   /* none, or not known: 0 0 */
	AFFECTS_KNOWN,  /* first..last, final */
	AFFECTS_UNTIL,  /* first.. the next commit's first seq - 1 */
	AFFECTS_GAP,    /* a gap before chain position `at`: from the seq
			   after the last committed before it, until the
			   next commit */
};

struct affects {
	enum affects_kind kind;
	uint64_t first, last;
	size_t at;
};

static const struct affects NO_SEQS = { AFFECTS_NONE, 0, 0, 0 };

static struct affects affects_known(uint64_t first, uint64_t last)
{
	return (struct affects){ AFFECTS_KNOWN, first, last, 0 };
}

static struct affects affects_until(uint64_t first)
{
	return (struct affects){ AFFECTS_UNTIL, first, 0, 0 };
}

static struct affects affects_gap(size_t at)
{
	return (struct affects){ AFFECTS_GAP, 0, 0, at };
}

static lk_status problem(struct scan *sc, lk_problem_kind kind, uint64_t seq,
			 const char *file, uint64_t offset, const char *fmt,
			 ...) __attribute__((format(printf, 6, 7)));
static lk_status loss(struct scan *sc, struct affects aff,
		      lk_problem_kind kind, uint64_t seq, const char *file,
		      uint64_t offset, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* From the first record of the group read so far (lost with the damage),
 * or the one after the last committed. */
static struct affects affects_from_here(const struct scan *sc)
{
	return affects_until(sc->nops ? sc->ops[0].seq : sc->committed + 1);
}

/* A problem verify holds, in log order: by chain position, then in the
 * order found. */
struct held {
	size_t at;
	lk_problem_kind kind;
	uint64_t seq, offset;
	struct affects aff;
	char file[SEG_NAME_BYTES];
	char what[LK_ERRMSG_BYTES];
};

static void emit(struct scan *sc, lk_problem_kind kind, uint64_t seq,
		 const char *file, uint64_t offset, const char *what,
		 struct affects aff)
{
	lk_problem p = { kind, seq, offset, file, what, 0, 0 };

	if (aff.kind != AFFECTS_NONE && (aff.last == 0 ||
					 aff.last >= aff.first)) {
		p.seq_first = aff.first;
		p.seq_last = aff.last;
	}
	sc->fn(sc->arg, &p);
}

/* Reports the held problems from the oldest on, while they are final;
 * the first `force` ones whatever they are (what is open then runs to the
 * end of the log: nothing after it committed, or the queue is full). */
static void held_flush(struct scan *sc, size_t force)
{
	size_t i = 0;

	for (; i < sc->nheld; i++) {
		struct held *h = &sc->held[i];

		if (i >= force && (h->aff.kind == AFFECTS_UNTIL ||
				   h->aff.kind == AFFECTS_GAP))
			break;
		if (h->aff.kind == AFFECTS_GAP) /* nothing after the gap */
			h->aff = affects_until(sc->committed + 1);
		emit(sc, h->kind, h->seq, h->file, h->offset, h->what, h->aff);
	}
	memmove(sc->held, sc->held + i, (sc->nheld - i) * sizeof *sc->held);
	sc->nheld -= i;
}

/* The scan reaches chain position `at`: gaps before it begin here. */
static void held_resume(struct scan *sc, size_t at)
{
	for (size_t i = 0; i < sc->nheld; i++) {
		struct held *h = &sc->held[i];

		if (h->aff.kind == AFFECTS_GAP && h->aff.at == at)
			h->aff = affects_until(sc->committed + 1);
	}
}

/* A group whose first record has seq `first` commits: what was open
 * ends before it. */
static void held_commit(struct scan *sc, uint64_t first)
{
	if (!sc->nheld)
		return;
	for (size_t i = 0; i < sc->nheld; i++) {
		struct held *h = &sc->held[i];

		if (h->aff.kind == AFFECTS_UNTIL) {
			h->aff.kind = AFFECTS_KNOWN;
			h->aff.last = first - 1;
		}
	}
	held_flush(sc, 0);
}

static lk_status vproblem(struct scan *sc, struct affects aff,
			  lk_problem_kind kind, uint64_t seq,
			  const char *file, uint64_t offset, const char *fmt,
			  va_list ap)
{
	char what[LK_ERRMSG_BYTES];
	lk_status st;

	vsnprintf(what, sizeof what, fmt, ap);
	st = kind == LK_PROBLEM_VERSION ? LK_VERSION
	     : kind == LK_PROBLEM_IO	? LK_IO
					: LK_CORRUPT;
	if (!sc->fn)
		return err_set(st, "segment %" PRIu64 " (%s) offset %" PRIu64
			       ": %s", seq, file, offset, what);
	if (kind != LK_PROBLEM_TORN_TAIL && kind != LK_PROBLEM_LEFTOVER) {
		if (!sc->problems)
			snprintf(sc->first, sizeof sc->first,
				 "segment %" PRIu64 " (%s) offset %" PRIu64
				 ": %.160s", seq, file, offset, what);
		sc->problems++;
		if (sc->worst == LK_OK || st == LK_VERSION)
			sc->worst = st;
	}
	if (sc->nheld == SCAN_HELD_MAX) /* the oldest goes out unbounded */
		held_flush(sc, 1);
	if (!sc->held || (sc->nheld == 0 && (aff.kind == AFFECTS_NONE ||
					     aff.kind == AFFECTS_KNOWN))) {
		emit(sc, kind, seq, file, offset, what, aff);
		return LK_OK;
	}
	{
		size_t at = aff.kind == AFFECTS_GAP ? aff.at : sc->pos, i;
		struct held *h;

		for (i = sc->nheld; i > 0 && sc->held[i - 1].at > at; i--)
			;
		h = &sc->held[i];
		memmove(h + 1, h, (sc->nheld - i) * sizeof *h);
		sc->nheld++;
		h->at = at;
		h->kind = kind;
		h->seq = seq;
		h->offset = offset;
		h->aff = aff;
		snprintf(h->file, sizeof h->file, "%s", file ? file : "");
		snprintf(h->what, sizeof h->what, "%s", what);
	}
	return LK_OK;
}

/* In open mode: sets the detail and returns the status that fails the
 * open.  In verify mode: reports the problem (with the sequence numbers
 * it takes, see struct affects) and returns LK_OK so that the scan goes
 * on; the worst status is kept for the end. */
static lk_status problem(struct scan *sc, lk_problem_kind kind, uint64_t seq,
			 const char *file, uint64_t offset, const char *fmt,
			 ...)
{
	va_list ap;
	lk_status st;

	va_start(ap, fmt);
	st = vproblem(sc, NO_SEQS, kind, seq, file, offset, fmt, ap);
	va_end(ap);
	return st;
}

/* problem(), for one that takes records from the log */
static lk_status loss(struct scan *sc, struct affects aff,
		      lk_problem_kind kind, uint64_t seq, const char *file,
		      uint64_t offset, const char *fmt, ...)
{
	va_list ap;
	lk_status st;

	va_start(ap, fmt);
	st = vproblem(sc, aff, kind, seq, file, offset, fmt, ap);
	va_end(ap);
	return st;
}

/* An empty listing is a new directory, or one that lost its whole log.
 * The LOCK file's mark (lockmark.h) and any snapshot tell them apart:
 * both are written only once a segment exists, and a log never goes back
 * to none.  A reader beside a writer may have listed before the first
 * segment came: it lists again after reading the mark, which was written
 * after that segment was durable.  lock is the writer's LOCK file, or
 * NULL to read it by name. */
static lk_status check_log_exists(struct scan *sc, struct listing *l,
				  lk_io_file *lock, size_t count_max)
{
	uint8_t id[SEG_DB_ID_BYTES];
	int marked = 0, snap = 0;
	lk_status st;

	if (l->n > 0)
		return LK_OK;
	st = lockmark_read(sc->io, sc->dir, lock, &marked, id);
	if (st == LK_OK)
		st = snapshot_any(sc->io, sc->dir, &snap);
	if (st != LK_OK) {
		err_prefix("reading the LOCK file and snapshots of a directory "
			   "without segments");
		return st;
	}
	if (!marked && !snap)
		return LK_OK; /* new */
	listing_free(l, sc->io);
	st = take_listing(l, sc->io, sc->dir, sc->readonly, count_max);
	if (st != LK_OK || l->n > 0)
		return st;
	return loss(sc, affects_known(1, 0), LK_PROBLEM_MISSING, 1,
		    "0000000000000001.seg", 0,
		       "no segment file, but %s: the whole log is missing "
		       "(restore it from a backup)",
		       marked ? "the LOCK file records that this directory "
				"held a log"
			      : "a snapshot of its log is here");
}

/* ---------------------------------------------------------------------- */
/* Groups                                                                 */
/* ---------------------------------------------------------------------- */

/* Room in *buf (*cap elements of `size` bytes, `used` of them in use) for
 * `more` more, the capacity doubled from `first`: for the records of a
 * group and their keys, read or waiting to be applied. */
static lk_status room(void **buf, size_t *cap, size_t used, size_t more,
		     size_t size, size_t first)
{
	size_t c = *cap ? *cap : first;
	void *b;

	if (*cap - used >= more)
		return LK_OK;
	while (c - used < more)
		c *= 2;
	b = mem_realloc_array(*buf, c, size);
	if (!b)
		return err_set(LK_NOMEM, "holding a group of records");
	*buf = b;
	*cap = c;
	return LK_OK;
}

static lk_status pend(struct scan *sc, const struct record *rec, uint64_t off)
{
	struct pending_op *op;
	lk_status st;

	st = room((void **)&sc->ops, &sc->cap_ops, sc->nops, 1, sizeof *op,
		  256);
	if (st == LK_OK)
		st = room((void **)&sc->keys, &sc->keys_cap, sc->keys_len,
			  rec->key_len, 1, 64 * 1024);
	if (st != LK_OK)
		return st;
	op = &sc->ops[sc->nops++];
	op->group_start = 0;
	op->group_puts = 0;
	op->type = rec->type;
	op->flags = rec->flags;
	op->rep_seg_seq = rec->rep_seg_seq;
	op->rep_generation = rec->rep_generation;
	op->rep_offset = rec->rep_offset;
	op->ns = rec->ns;
	op->key_len = rec->key_len;
	op->key_at = sc->keys_len;
	op->expire_at_ms = rec->expire_at_ms;
	op->offset = (uint32_t)off;
	op->size = rec->size;
	op->seq = rec->seq;
	op->hash = sc->db ? record_key_hash(rec->ns, rec->key, rec->key_len)
			 : 0; /* only a replay needs it */
	memcpy(sc->keys + sc->keys_len, rec->key, rec->key_len);
	sc->keys_len += rec->key_len;
	return LK_OK;
}

/* Key comparison during replay.  An overwrite names the record it
 * replaces (REC_F_REPLACES) only when that one lay in a mapped segment,
 * so the others replace a record of the segment being read: most often
 * still in the reader's window, else, on a writable open (which holds the
 * lock: nothing else writes the file), read through a mapping of the
 * segment (segtable_map_replay) instead of a pread each.  Anything else,
 * or a record that does not decode there, goes through the table. */
static lk_status replay_key_eq(void *ctx, struct ix_loc *loc, const void *key,
			       size_t key_len, int *equal)
{
	struct scan *sc = ctx;
	struct seg_reader *r = &sc->r;
	const uint8_t *at = NULL;
	struct record rec;
	const char *why;

	if (loc->seg != sc->seg->slot || loc->size >= IX_SIZE_LARGE)
		return segtable_key_eq(sc->db, loc, key, key_len, equal);
	if (loc->offset >= r->win_off &&
	    loc->offset + (uint64_t)loc->size <= r->win_off + r->win_len) {
		at = r->buf + (loc->offset - r->win_off);
	} else {
		/* a read-only replay holds no lock: a writer may be
		 * appending to this segment, which no one may then map */
		if (!sc->map_tried && !sc->readonly) {
			sc->map_tried = 1;
			sc->map = segtable_map_replay(sc->db, sc->seg,
						      &sc->map_len);
		}
		if (sc->map && loc->offset + (uint64_t)loc->size <= sc->map_len)
			at = sc->map + loc->offset;
	}
	if (at && record_decode(&rec, at, loc->size,
				sc->seg->hdr.record_seq_base,
				seg_seed(sc->seg, loc->offset), &why) == LK_OK) {
		*equal = rec.key_len == key_len &&
			 memcmp(rec.key, key, key_len) == 0;
		return LK_OK;
	}
	return segtable_key_eq(sc->db, loc, key, key_len, equal);
}

/* Ends the mapping replay_key_eq made of the segment being scanned. */
static void scan_unmap(struct scan *sc)
{
	if (sc->map)
		segtable_unmap_replay(sc->db, sc->seg, sc->map, sc->map_len);
	sc->map = NULL;
	sc->map_len = 0;
	sc->map_tried = 0;
}

/* Under a memory budget, room for the key of put `rec` if it is new: an
 * overwrite replayed when the table is full within the budget must not
 * grow it past the budget (the writer let it in for that reason). */
static lk_status reserve_for_put(struct scan *sc, const struct record *rec,
				 uint64_t hash)
{
	struct index *ix = segtable_index(sc->db);
	struct ix_loc loc;
	lk_status st;

	if (index_has_room(ix, 1))
		return LK_OK;
	st = index_get(ix, rec->ns, hash, rec->key, rec->key_len,
		       replay_key_eq, sc, &loc, NULL);
	if (st == LK_NOT_FOUND)
		return segtable_reserve_replay(sc->db, 1);
	return st;
}

/* Applies n committed records of the segment being read to the index,
 * in order: room is made at the start of each group for its puts, as its
 * writer made it (a batch of groups could need more room than any of
 * them did: overwrites take none), or under a memory budget (`each`) for
 * each put alone. */
static lk_status apply_ops(struct scan *sc, const struct pending_op *ops,
			   size_t n, const uint8_t *keys, int each)
{
	struct lk_db *db = sc->db;
	lk_status st = LK_OK;

	for (size_t i = 0; i < n && i < REPLAY_PREFETCH_AHEAD; i++)
		index_prefetch(segtable_index(db), ops[i].hash);
	for (size_t i = 0; st == LK_OK && i < n; i++) {
		const struct pending_op *op = &ops[i];
		struct record rec = { 0 };
		struct ix_loc loc = { sc->seg->slot, op->offset, op->size };

		if (i + REPLAY_PREFETCH_AHEAD < n)
			index_prefetch(segtable_index(db),
				       ops[i + REPLAY_PREFETCH_AHEAD].hash);
		if (i + REPLAY_PREFETCH_NEAR < n && /* its slot is in */
		    !(ops[i + REPLAY_PREFETCH_NEAR].flags &
		      REC_F_REPLACES)) /* and its record needs no read */
			segtable_prefetch(db, ops[i + REPLAY_PREFETCH_NEAR].ns,
					  ops[i + REPLAY_PREFETCH_NEAR].hash);

		rec.type = op->type;
		rec.flags = op->flags;
		rec.ns = op->ns;
		rec.key = keys + op->key_at;
		rec.key_len = op->key_len;
		rec.expire_at_ms = op->expire_at_ms;
		rec.seq = op->seq;
		rec.size = op->size;
		rec.rep_seg_seq = op->rep_seg_seq;
		rec.rep_generation = op->rep_generation;
		rec.rep_offset = op->rep_offset;
		if (!each && op->group_start)
			st = index_reserve(segtable_index(db), op->group_puts);
		if (st == LK_OK && each && op->type == REC_PUT)
			st = reserve_for_put(sc, &rec, op->hash);
		if (st == LK_OK)
			st = segtable_apply(db, &rec, loc, op->hash,
					    replay_key_eq, sc);
	}
	return st;
}

/* Applies the committed records that wait (REPLAY_BATCH_OPS). */
static lk_status apply_ready(struct scan *sc)
{
	lk_status st = LK_OK;

	if (sc->nready)
		st = apply_ops(sc, sc->ready, sc->nready, sc->ready_keys, 0);
	sc->nready = sc->ready_keys_len = 0;
	return st;
}

/* Moves the group just committed behind the records that wait. */
static lk_status queue_group(struct scan *sc)
{
	lk_status st;

	if (sc->nops == 0) /* a commit of nothing (a clean close writes one) */
		return LK_OK;
	st = room((void **)&sc->ready, &sc->cap_ready, sc->nready, sc->nops,
		  sizeof *sc->ready, 2 * REPLAY_BATCH_OPS);
	if (st == LK_OK)
		st = room((void **)&sc->ready_keys, &sc->ready_keys_cap,
			  sc->ready_keys_len, sc->keys_len, 1, 64 * 1024);
	if (st != LK_OK)
		return st;
	for (size_t i = 0; i < sc->nops; i++) {
		sc->ready[sc->nready + i] = sc->ops[i];
		sc->ready[sc->nready + i].key_at += sc->ready_keys_len;
	}
	memcpy(sc->ready_keys + sc->ready_keys_len, sc->keys, sc->keys_len);
	sc->nready += sc->nops;
	sc->ready_keys_len += sc->keys_len;
	return LK_OK;
}

/* A commit (or seal) closed the group being read: it counts, and in a
 * replay its records go to the index, in order, now or with the next
 * ones (apply_ready). */
static lk_status apply_group(struct scan *sc)
{
	struct lk_db *db = sc->db;
	lk_status st;

	sc->records += sc->nops;
	sc->seg->ops += sc->nops;
	if (sc->nops) {
		held_commit(sc, sc->ops[0].seq);
		sc->committed = sc->ops[sc->nops - 1].seq;
	}
	if (!db || sc->problems) { /* verify's replay ends at damage */
		sc->nops = sc->keys_len = 0;
		return LK_OK;
	}
	if (sc->nops) {
		sc->ops[0].group_start = 1;
		for (size_t i = 0; i < sc->nops; i++)
			sc->ops[0].group_puts += sc->ops[i].type == REC_PUT;
	}
	if (db->opts.memory_bytes_max) { /* each put admitted alone */
		st = apply_ops(sc, sc->ops, sc->nops, sc->keys, 1);
	} else if (sc->nops >= REPLAY_BATCH_OPS) {
		/* a large group is applied where it lies, after what waits */
		st = apply_ready(sc);
		if (st == LK_OK)
			st = apply_ops(sc, sc->ops, sc->nops, sc->keys, 0);
	} else {
		st = queue_group(sc);
		if (st == LK_OK && sc->nready >= REPLAY_BATCH_OPS)
			st = apply_ready(sc);
	}
	sc->nops = sc->keys_len = 0;
	return st;
}

/* ---------------------------------------------------------------------- */
/* Reading one segment                                                    */
/* ---------------------------------------------------------------------- */

/* Verify: the seal's hash of the bytes before it (record.h).  Every one of
 * those bytes is also under a record checksum, which open checks; verify
 * checks both, as lk_scrub() relies on the first (not after damage was
 * reported in the segment: the mismatch would only repeat it). */
static lk_status check_seal_hash(struct scan *sc, const struct record *rec,
				 uint64_t pos, const char **why)
{
	uint64_t hash = 0;
	lk_status st = LK_OK;

	if (sc->seal_hash && sc->hashed_to == pos)
		hash = record_hasher_peek(sc->seal_hash); /* read already */
	else
		st = seg_hash_read(sc->seg, sc->io, pos, &hash, NULL);

	if (st == LK_OK && hash != rec->seg_hash)
		*why = "segment hash mismatch: the bytes before the seal are "
		       "not the ones it was written over";
	return st == LK_CORRUPT ? LK_OK : st;
}

/* Verify: hashes the segment's bytes up to `from` (its header) so that
 * read_records can go on over each record it accepts, sparing the seal's
 * check a second read of the segment.  Without memory, or when the bytes
 * are not at hand, the check reads them itself (hashed_to stays off). */
static void seal_hash_start(struct scan *sc, uint64_t from)
{
	const uint8_t *p;
	size_t got = 0;

	sc->hashed_to = UINT64_MAX;
	if (sc->seal_hash)
		(void)record_hasher_done(sc->seal_hash);
	sc->seal_hash = record_hasher_new(seg_hash_seed(sc->seg));
	if (sc->seal_hash && seg_reader_get(&sc->r, 0, (size_t)from, &p,
					    &got) == LK_OK && got == from) {
		record_hasher_add(sc->seal_hash, p, got);
		sc->hashed_to = from;
	}
}

/* Verify: the record at pos, just read and accepted, joins the hash. */
static void seal_hash_add(struct scan *sc, uint64_t pos, uint32_t size)
{
	const uint8_t *p;
	size_t got = 0;

	if (!sc->seal_hash || sc->hashed_to != pos)
		return;
	if (seg_reader_get(&sc->r, pos, size, &p, &got) == LK_OK &&
	    got == size) {
		record_hasher_add(sc->seal_hash, p, got);
		sc->hashed_to = pos + size;
	} else {
		sc->hashed_to = UINT64_MAX;
	}
}

/* Reads records from `from` until the data ends or a record fails; sets
 * sc->stop and sc->why.  Returns LK_OK or an I/O or memory status. */
static lk_status read_records(struct scan *sc, uint64_t from)
{
	uint64_t pos = from;
	lk_status st;

	for (;;) {
		struct record rec;
		const char *why = NULL;

		if (pos >= sc->r.end) {
			sc->stop = pos;
			sc->why = NULL;
			return apply_ready(sc);
		}
		st = seg_reader_record(&sc->r, pos, &rec, &why);
		if (st == LK_OK) {
			struct order_state os = {
				sc->last_seq, sc->catalog, sc->nops,
				sc->seg->ops, sc->sealed, sc->resynced
			};
			enum order_rule rule = order_check(&os, &rec, pos);

			/* verify, after damage: a commit that closes a group
			 * which lost records to it (reported already) */
			if (rule == ORDER_COMMIT_COUNT && sc->resynced)
				rule = ORDER_OK;
			if (rule != ORDER_OK)
				why = order_rule_text(rule);
			else if (rec.type == REC_SEAL && sc->fn &&
				 !sc->resynced && (rec.flags & REC_F_SEG_HASH))
				st = check_seal_hash(sc, &rec, pos, &why);
		}
		if (st == LK_CORRUPT || (st == LK_OK && why)) {
			sc->stop = pos;
			sc->why = why;
			return apply_ready(sc);
		}
		if (st != LK_OK)
			return st;

		seal_hash_add(sc, pos, rec.size);
		if (rec.type <= REC_DEL && rec.ns == 0) { /* the catalog */
			sc->catalog[rec.value[0]] = order_catalog_name(&rec);
			sc->catalog_ops++;
		}
		if (rec.type <= REC_DEL) {
			st = pend(sc, &rec, pos);
			sc->last_seq = rec.seq;
		} else if (rec.type == REC_COMMIT && rec.count != sc->nops) {
			/* verify, after damage: the end of a group that lost
			 * records to it; already reported */
			sc->discarded += sc->nops;
			sc->nops = sc->keys_len = 0;
			sc->commit_end = pos + rec.size;
		} else {
			st = apply_group(sc);
			sc->commit_end = pos + rec.size;
			sc->sealed = rec.type == REC_SEAL;
		}
		if (st != LK_OK)
			return st;
		pos += rec.size;
	}
}

/* The largest durable_upto claimed by a valid commit or seal at or after
 * `from`.  Commit and seal records are at most 17 bytes long and have a
 * fixed shape, so candidates are cheap to reject. */
static uint64_t claims_after(struct scan *sc, uint64_t from)
{
	struct seg_reader *r = &sc->r;
	uint64_t claim = 0;

	for (uint64_t pos = from; pos + REC_BYTES_MIN + 4 <= r->end; pos++) {
		const uint8_t *p;
		struct record rec;
		const char *why;
		size_t got;

		if (seg_reader_get(r, pos, 8, &p, &got) != LK_OK || got < 8)
			break;
		if (p[4] < 8 || p[4] > 20 ||
		    (p[5] != REC_COMMIT && p[5] != REC_SEAL &&
		     p[5] != (REC_SEAL | REC_F_SEG_HASH)) ||
		    p[6] != 0 || p[7] != 0)
			continue;
		if (seg_reader_get(r, pos, 5u + p[4], &p, &got) != LK_OK ||
		    got < 5u + p[4])
			continue;
		if (record_decode(&rec, p, got, sc->seg->hdr.record_seq_base,
				  seg_seed(sc->seg, pos), &why) == LK_OK &&
		    rec.durable_upto > claim)
			claim = rec.durable_upto;
	}
	return claim;
}

/* Cuts the newest segment's tail at sc->cut_end (open, read-write). */
static lk_status cut_tail(struct scan *sc)
{
	const lk_io *io = sc->io;
	struct segment *s = sc->cut_seg;
	lk_status st;

	st = io->truncate(io->ctx, s->file, sc->cut_end);
	if (st == LK_OK)
		st = io->sync(io->ctx, s->file);
	if (st != LK_OK)
		err_prefix("cutting the torn tail of segment %s", s->name);
	else
		s->file_size = sc->cut_end;
	return st;
}

/* Scans one segment from `from` (the end of its header, or the position
 * of a snapshot, where it may already be `sealed`) and judges its end. */
static lk_status scan_segment(struct scan *sc, struct segment *s, int newest,
			      int next_empty, uint64_t from, int sealed)
{
	lk_recovery_report *rep = sc->rep;
	uint64_t seq = s->hdr.seq, end = s->file_size;
	uint64_t pos = from;
	lk_status st;

	sc->seg = s;
	sc->commit_end = from;
	sc->sealed = sealed;
	sc->resynced = 0;
	sc->nops = sc->keys_len = 0;
	st = seg_reader_move(&sc->r, sc->io, s, end); /* freed by scan_free */
	if (st != LK_OK)
		return st;
	if (sc->fn)
		seal_hash_start(sc, from);

	for (;;) {
		int gave_up;

		st = read_records(sc, pos);
		if (st != LK_OK)
			goto out;
		if (!sc->why || newest || (next_empty && !sc->sealed))
			break;
		/* A rotation cut after the seal was written but before the
		 * zero prefill behind it was dropped and synced. */
		if (next_empty && seg_reader_zero_from(&sc->r, sc->stop))
			break;
		/* Damage in a sealed part of the log: name it; verify goes on
		 * from the next valid record. */
		st = loss(sc, affects_from_here(sc), LK_PROBLEM_CORRUPT, seq,
			  s->name, sc->stop, "%s", sc->why);
		if (st != LK_OK || !sc->fn)
			goto out;
		sc->discarded += sc->nops;
		sc->nops = sc->keys_len = 0;
		pos = seg_reader_next_valid(&sc->r, sc->stop + 1, &gave_up);
		sc->resynced = 1;
		if (gave_up)
			loss(sc, affects_until(sc->committed + 1),
			     LK_PROBLEM_CORRUPT, seq, s->name, sc->stop,
			     "too much damage to search; rest of the segment "
				"unchecked");
		if (pos >= end) {
			sc->why = NULL;
			sc->sealed = 1; /* reported already */
			break;
		}
	}

	s->data_end = sc->commit_end;
	s->synced_end = sc->commit_end;
	s->sealed = sc->sealed;
	scan_unmap(sc); /* every record of s was applied */
	/* The replay of the segments after it reads the records it
	 * replaces through the mapping. */
	if (s->sealed && sc->db)
		segtable_map(sc->db, s);
	if (!newest) {
		if (sc->sealed && sc->why) { /* zeroes after it: see above */
			rep->zero_tail_bytes = end - sc->commit_end;
			sc->cut_pending = 1;
			sc->cut_seg = s;
			sc->cut_end = sc->commit_end;
		}
		if (sc->sealed)
			goto out;
		if (!next_empty) {
			st = loss(sc, affects_until(sc->committed + 1),
				  LK_PROBLEM_CORRUPT, seq, s->name,
				  sc->commit_end,
				     "segment ends without its seal record "
				     "(truncated, or a later segment is "
				     "foreign)");
			goto out;
		}
		/* The next and newest segment holds no data: a rotation cut
		 * between creating it and sealing this one (commit.c).  This
		 * one is the newest, under the newest segment's rules (its
		 * seal, if any, was not synced: under sync none, neither was
		 * data before it); the empty one goes. */
		sc->rotation_cut = 1;
	}

	/* The newest segment: clean, zero prefill, torn tail, or damage. */
	sc->discarded += sc->nops;
	if (sc->commit_end == end)
		goto out;
	if (seg_reader_zero_from(&sc->r, sc->commit_end)) {
		rep->zero_tail_bytes = end - sc->commit_end;
		goto out;
	}
	if (sc->why && !seg_reader_zero_from(&sc->r, sc->stop) &&
	    claims_after(sc, sc->stop + 1) > sc->commit_end) {
		st = loss(sc, affects_from_here(sc), LK_PROBLEM_CORRUPT, seq,
			  s->name, sc->stop,
			  "%s (in data a later commit says was synced)",
			  sc->why);
		goto out;
	}
	{
		char note[LK_NOTE_BYTES];

		snprintf(note, sizeof note,
			 "segment %" PRIu64 " offset %" PRIu64 ": %s; %" PRIu64
			 " bytes and %" PRIu64 " uncommitted records cut",
			 seq, sc->commit_end,
			 sc->why ? sc->why : "group without its commit",
			 end - sc->commit_end, (uint64_t)sc->nops);
		if (sc->fn)
			loss(sc, sc->nops ? affects_known(sc->ops[0].seq,
							 sc->last_seq)
					  : NO_SEQS,
			     LK_PROBLEM_TORN_TAIL, seq, s->name, sc->commit_end,
			     "%s", strchr(note, ':') + 2);
		rep->bytes_cut = end - sc->commit_end;
		rep->cut_segment_seq = seq;
		rep->cut_offset = sc->commit_end;
		snprintf(rep->tail_note, sizeof rep->tail_note, "%s", note);
	}
	sc->cut_pending = 1;
	sc->cut_seg = s;
	sc->cut_end = sc->commit_end;
out:
	scan_unmap(sc);
	sc->nops = sc->keys_len = 0;
	sc->nready = sc->ready_keys_len = 0; /* applied, unless it failed */
	return st;
}

/* 1 if s holds nothing after its header but zeroes: no record was ever
 * written to it (0 on a read error: then it is scanned like any other). */
static int holds_no_data(struct scan *sc, struct segment *s)
{
	if (s->file_size <= SEG_HEADER_BYTES)
		return 1;
	/* the scan's reader, between the scans of two segments */
	if (seg_reader_move(&sc->r, sc->io, s, s->file_size) != LK_OK)
		return 0;
	return seg_reader_zero_from(&sc->r, SEG_HEADER_BYTES);
}

/* From format version 2 on, a segment is sealed only once its successor
 * exists on disk (commit.c, rotate), so a sealed newest segment means the
 * segments after it are gone: their commits, deletes included, would be
 * silently undone.  Version 1 sealed before creating the successor, so a
 * power cut could leave a sealed newest segment; it is accepted. */
static lk_status check_successor(struct scan *sc, const struct segment *s)
{
	struct listing now;
	int later = 0;

	if (!s->sealed || s->hdr.version < LK_FORMAT_VERSION_SEAL_LINKS)
		return LK_OK;
	/* A reader beside a writer may have listed the directory just before
	 * a rotation created the successor and sealed this one: the files
	 * it opened are still one state of the log, ending here. */
	if (sc->readonly &&
	    list_segments(&now, sc->io, sc->dir) == LK_OK) {
		for (size_t i = 0; i < now.n; i++)
			later |= now.v[i].seq > s->hdr.seq;
		mem_free(now.v);
	}
	if (later)
		return LK_OK;
	return loss(sc, affects_known(sc->committed + 1, 0), LK_PROBLEM_MISSING,
		    s->hdr.seq, s->name,
		       s->data_end,
		       "segment %" PRIu64 " is sealed, so segment %" PRIu64
		       " was created after it, but no later segment is in "
		       "the directory: the newest segment is missing",
		       s->hdr.seq, s->hdr.seq + 1);
}

/* ---------------------------------------------------------------------- */
/* Opening the segments                                                   */
/* ---------------------------------------------------------------------- */

/* Reads and checks the header of s.  *torn is set when the header is
 * incomplete or invalid and nothing but zeroes follows it: a segment whose
 * creation was cut by a power loss, which never held a committed record. */
static lk_status read_header(struct scan *sc, struct segment *s, int *torn,
			     const char **why)
{
	uint8_t hdr[SEG_HEADER_BYTES];
	struct seg_reader r;
	size_t got = 0;
	lk_status st;

	*torn = 0;
	st = sc->io->pread(sc->io->ctx, s->file, hdr, sizeof hdr, 0, &got);
	if (st != LK_OK)
		return st;
	if (got < sizeof hdr) {
		*why = "segment shorter than its header";
		*torn = 1;
		return LK_CORRUPT;
	}
	st = seg_header_decode(&s->hdr, hdr, why);
	if (st != LK_CORRUPT)
		return st;
	if (seg_reader_init(&r, sc->io, s, s->file_size) != LK_OK)
		return LK_NOMEM;
	*torn = seg_reader_zero_from(&r, SEG_HEADER_BYTES);
	seg_reader_free(&r);
	return LK_CORRUPT;
}

static void new_db_id(struct lk_db *db)
{
	/* Unique, not secret: mixes both clocks and the handle's address.
	 * Two databases created in the same microsecond by the same process
	 * at the same address cannot exist at once. */
	static _Atomic uint64_t counter;
	uint64_t parts[4] = { db->io->now_ms(db->io->ctx),
			      db->io->mono_us(db->io->ctx), (uintptr_t)db,
			      atomic_fetch_add(&counter, 1) };
	uint64_t a = record_hash(parts, sizeof parts, 0x6c6f676b656570ull);
	uint64_t b = record_hash(parts, sizeof parts, a);

	put_u64(db->db_id, a);
	put_u64(db->db_id + 8, b);
}

/* ---------------------------------------------------------------------- */
/* What an interrupted compaction left                                    */
/* ---------------------------------------------------------------------- */

/* Reads the header of listed file e (pinned by take_listing). */
static lk_status entry_header(struct scan *sc, const struct seg_entry *e)
{
	uint8_t hdr[SEG_HEADER_BYTES];
	struct segment *s = e->seg;
	const char *why = NULL;
	size_t got = 0;
	lk_status st;

	if (!s)
		return LK_IO; /* could not be opened: open_chain says why */
	st = sc->io->pread(sc->io->ctx, s->file, hdr, sizeof hdr, 0, &got);
	if (st == LK_OK && got < sizeof hdr)
		st = LK_CORRUPT;
	if (st == LK_OK)
		st = seg_header_decode(&s->hdr, hdr, &why);
	if (st == LK_OK && (s->hdr.seq != e->seq ||
			    s->hdr.generation != e->generation))
		st = LK_CORRUPT;
	if (st == LK_OK)
		s->db_seed = record_hash(s->hdr.db_id, SEG_DB_ID_BYTES, 0);
	return st;
}

/* Sets *complete if the compaction output s passes every record check
 * and ends with its seal at the end of the file: compact.c synced it
 * whole before removing anything it replaces. */
static lk_status output_complete(struct scan *sc, struct segment *s,
				 int *complete)
{
	uint64_t pos = SEG_HEADER_BYTES;
	struct seg_reader r;
	int sealed = 0;
	lk_status st;

	*complete = 0;
	st = seg_reader_init(&r, sc->io, s, s->file_size);
	while (st == LK_OK && pos < r.end) {
		struct record rec;
		const char *why;

		st = seg_reader_record(&r, pos, &rec, &why);
		if (st != LK_OK)
			break;
		sealed = rec.type == REC_SEAL;
		pos += rec.size;
	}
	seg_reader_free(&r);
	if (st == LK_OK)
		*complete = sealed && pos == s->file_size;
	return st == LK_CORRUPT ? LK_OK : st;
}

static void leftover(struct scan *sc, struct seg_entry *e, const char *why)
{
	e->leftover = 1;
	sc->rep->compaction_leftovers++;
	if (sc->fn)
		problem(sc, LK_PROBLEM_LEFTOVER, e->seq, e->name, 0,
			"%s; open removes it", why);
}

/* Marks the files that an interrupted compaction left (compact.c): a
 * complete new segment supersedes the files between its seq_prev and its
 * seq (older generations of its place included); an incomplete one is
 * dropped while the files it was to replace are all still there.  Goes
 * from the newest down, so that a run replaced twice resolves. */
static lk_status find_leftovers(struct scan *sc, struct listing *l)
{
	for (size_t i = l->n; i-- > 0;) {
		struct seg_entry *e = &l->v[i];
		int has_lower = i > 0 && l->v[i - 1].seq == e->seq;
		int complete = 0, covers = 0;
		uint64_t seq_prev;
		struct segment *s;
		lk_status st;

		if (e->leftover || e->generation == 0)
			continue;
		st = entry_header(sc, e);
		s = e->seg;
		if (st == LK_CORRUPT && has_lower) {
			leftover(sc, e, "compaction output cut before its "
					"header was written");
			continue;
		}
		if (st != LK_OK) /* the chain checks report it */
			continue;
		seq_prev = s->hdr.seq_prev;
		for (size_t k = 0; k < i; k++)
			covers |= !l->v[k].leftover && l->v[k].seq > seq_prev;
		st = covers ? output_complete(sc, s, &complete) : LK_OK;
		if (st != LK_OK)
			return st;
		if (!covers)
			continue;
		if (!complete) {
			if (has_lower)
				leftover(sc, e, "compaction output cut before "
						"its seal was synced");
			continue;
		}
		for (size_t k = 0; k < i; k++)
			if (!l->v[k].leftover && l->v[k].seq > seq_prev)
				leftover(sc, &l->v[k], "replaced by compaction");
	}
	sc->listing = l;
	return LK_OK;
}

/* Opens every listed segment and checks the chain.  Fills segs[] (in log
 * order) and *count.  A torn newest segment is left out and named in
 * sc->torn_name. */
static lk_status open_chain(struct scan *sc, struct listing *l,
			    struct segment **segs, size_t *count)
{
	const lk_io *io = sc->io;
	int readonly = sc->readonly;
	const struct seg_entry *prev = NULL;
	lk_status st = LK_OK;
	size_t n = 0, last = 0;

	/* *count stays current so that the caller closes what was opened
	 * when this fails half-way. */
	*count = 0;
	for (size_t i = 0; i < l->n; i++)
		if (!l->v[i].leftover)
			last = i;
	for (size_t i = 0; i < l->n; i++) {
		struct seg_entry *e = &l->v[i];
		int newest = i == last, torn = 0;
		const char *why = NULL;
		struct segment *s;

		if (e->leftover)
			continue;
		sc->pos = n; /* a problem here comes before the scan of n */
		if (prev && e->seq == prev->seq) {
			st = problem(sc, LK_PROBLEM_FOREIGN, e->seq, e->name, 0,
				     "log position %" PRIu64 " is held by %s too"
				     " (duplicated segment)",
				     e->seq, prev->name);
			if (st != LK_OK)
				return st;
			continue;
		}
		prev = e;
		/* Writable unless read-only: which segment ends up the
		 * newest is known only once torn ones are removed.  Opened
		 * by take_listing; one it could not open is tried again
		 * here, for the failure's words. */
		s = e->seg;
		e->seg = NULL;
		st = s ? LK_OK
		       : seg_open(&s, io, sc->dir, e->name,
				  !readonly);
		if (st != LK_OK) {
			err_prefix("opening segment %s", e->name);
			if (!sc->fn)
				return st;
			loss(sc, affects_gap(n), LK_PROBLEM_IO, e->seq,
			     e->name, 0, "%s", lk_errmsg());
			continue;
		}
		if (s->file_size > LK_SEGMENT_FILE_BYTES_MAX) {
			/* Never written by logkeep: refused before any byte
			 * past the bound is read (verify reads up to it). */
			st = problem(sc, LK_PROBLEM_CORRUPT, e->seq, e->name,
				     LK_SEGMENT_FILE_BYTES_MAX,
				     "segment file of %" PRIu64 " bytes, larger "
				     "than any segment (%" PRIu64 " bytes); "
				     "nothing past that was read",
				     s->file_size,
				     (uint64_t)LK_SEGMENT_FILE_BYTES_MAX);
			if (st != LK_OK) {
				seg_close(s, io);
				return st;
			}
			s->file_size = LK_SEGMENT_FILE_BYTES_MAX;
		}
		st = read_header(sc, s, &torn, &why);
		if (st == LK_CORRUPT && newest && torn) {
			/* Cut by a power loss while it was being created. */
			sc->rep->segments_removed++;
			if (sc->fn)
				problem(sc, LK_PROBLEM_TORN_TAIL, e->seq, e->name, 0,
					"%s; the segment holds no data and open "
					"removes it", why);
			seg_close(s, io);
			/* Removed by recovery_open once the rest is judged. */
			snprintf(sc->torn_name, sizeof sc->torn_name, "%s",
				 e->name);
			st = LK_OK;
			continue;
		}
		if (st == LK_OK && (s->hdr.seq != e->seq ||
				    s->hdr.generation != e->generation)) {
			why = "file name and header disagree on the segment";
			st = LK_CORRUPT;
		}
		if (st == LK_OK && n > 0 &&
		    memcmp(s->hdr.db_id, segs[0]->hdr.db_id, SEG_DB_ID_BYTES)) {
			seg_close(s, io);
			st = problem(sc, LK_PROBLEM_FOREIGN, e->seq, e->name, 0,
				     "segment belongs to another database");
			if (st != LK_OK)
				return st;
			continue;
		}
		if (st == LK_OK) {
			uint64_t want = n > 0 ? segs[n - 1]->hdr.seq : 0;

			if (s->hdr.seq_prev != want) {
				st = loss(sc, affects_gap(n),
					  LK_PROBLEM_MISSING, e->seq, e->name,
					  0,
					  "previous segment %" PRIu64
					  " is missing (the chain has %" PRIu64
					  ")",
					  s->hdr.seq_prev, want);
				if (st != LK_OK) {
					seg_close(s, io);
					return st;
				}
			}
		}
		if (st != LK_OK) {
			lk_problem_kind kind = st == LK_VERSION
						       ? LK_PROBLEM_VERSION
						       : LK_PROBLEM_CORRUPT;

			seg_close(s, io);
			if (st != LK_CORRUPT && st != LK_VERSION)
				return st;
			st = loss(sc, affects_gap(n), kind, e->seq, e->name,
				  0, "%s", why);
			if (st != LK_OK)
				return st;
			continue;
		}
		s->db_seed = record_hash(s->hdr.db_id, SEG_DB_ID_BYTES, 0);
		segs[n++] = s;
		*count = n;
	}
	return LK_OK;
}

/* The repairs a read-write open makes, once every segment was read and
 * found good: remove a segment torn while it was created, then cut the
 * newest segment's torn tail.  Each is durable before open returns. */
static lk_status repair(struct scan *sc)
{
	const lk_io *io = sc->io;
	lk_status st = LK_OK;

	if (sc->readonly)
		return LK_OK;
	for (size_t i = 0; sc->listing && i < sc->listing->n; i++) {
		const struct seg_entry *e = &sc->listing->v[i];

		if (!e->leftover)
			continue;
		st = io->unlink(io->ctx, sc->dir, e->name);
		if (st != LK_OK) {
			err_prefix("removing %s, left by a compaction", e->name);
			return st;
		}
	}
	if (sc->rep->compaction_leftovers) {
		st = io->dir_sync(io->ctx, sc->dir);
		if (st != LK_OK)
			return st;
	}
	if (sc->torn_name[0]) {
		st = io->unlink(io->ctx, sc->dir, sc->torn_name);
		if (st == LK_OK)
			st = io->dir_sync(io->ctx, sc->dir);
		if (st != LK_OK) {
			err_prefix("removing the torn segment %s",
				   sc->torn_name);
			return st;
		}
	}
	if (sc->unsealed_next[0]) {
		st = io->unlink(io->ctx, sc->dir, sc->unsealed_next);
		if (st == LK_OK)
			st = io->dir_sync(io->ctx, sc->dir);
		if (st != LK_OK) {
			err_prefix("removing the empty segment %s",
				   sc->unsealed_next);
			return st;
		}
	}
	if (sc->cut_pending)
		st = cut_tail(sc);
	return st;
}

static void scan_free(struct scan *sc)
{
	if (sc->held)
		held_flush(sc, sc->nheld);
	mem_free(sc->held);
	if (sc->seal_hash)
		(void)record_hasher_done(sc->seal_hash);
	mem_free(sc->ops);
	mem_free(sc->keys);
	mem_free(sc->ready);
	mem_free(sc->ready_keys);
	seg_reader_free(&sc->r);
}

/* After a replay: the newest segment is the active one, and the numbering
 * goes on from the last record. */
static void take_newest(struct lk_db *db, struct segment *newest,
			uint64_t last_seq)
{
	memcpy(db->db_id, segtable_at(db, 1)->hdr.db_id, SEG_DB_ID_BYTES);
	segtable_set_active(db, newest);
	/* The next write's seq must not fall below the active segment's
	 * base, which a header may put past the last record (an empty newest
	 * segment, or one from a damaged header): the numbering skips ahead
	 * instead. */
	segtable_set_seq_last(db, last_seq);
	if (newest->hdr.record_seq_base > last_seq + 1)
		segtable_set_seq_last(db, newest->hdr.record_seq_base - 1);
}

lk_status recovery_open(struct lk_db *db)
{
	const lk_io *io = db->io;
	uint64_t t0 = io->mono_us(io->ctx);
	struct segment **segs = NULL;
	struct snap_start start;
	int used;
	struct scan sc = { 0 };
	struct listing l;
	uint64_t behind = 0;
	uint32_t first = 1;
	size_t n = 0;
	lk_status st;

	sc.db = db;
	sc.rep = &db->report;
	sc.io = io;
	sc.dir = db->dir;
	sc.readonly = db->readonly;
	st = take_listing(&l, io, db->dir, db->readonly, LK_SEGMENT_COUNT_MAX);
	if (st == LK_OK)
		st = check_log_exists(&sc, &l, db->lock, LK_SEGMENT_COUNT_MAX);
	if (st != LK_OK)
		goto out;
	segs = mem_calloc(l.n + 1, sizeof *segs);
	if (!segs) {
		st = err_set(LK_NOMEM, "opening %zu segments", l.n);
		goto out;
	}
	st = find_leftovers(&sc, &l);
	if (st == LK_OK)
		st = open_chain(&sc, &l, segs, &n);
	if (st != LK_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		st = segtable_add(db, segs[i]);
		if (st != LK_OK)
			goto out;
		segs[i] = NULL; /* owned by db now */
		db->report.segments_read++;
	}
	/* With a snapshot, replay starts at its position. */
	st = snapshot_load(db, (uint32_t)n, &start, &used);
	if (st != LK_OK)
		goto out;
	if (used) {
		first = start.seg;
		sc.last_seq = start.seq_last;
		memcpy(sc.catalog, start.catalog, sizeof sc.catalog);
		/* the replay confirms keys in the segments behind it */
		segtable_map_sealed(db);
	} else {
		start.seg = 0;
	}
	for (uint32_t i = first; i <= n; i++) {
		struct segment *s = segtable_at(db, i);
		int resume = i == start.seg;
		uint64_t from = resume ? start.offset : SEG_HEADER_BYTES;
		int next_empty = i + 1 == n &&
				 holds_no_data(&sc, segtable_at(db, (uint32_t)n));

		st = scan_segment(&sc, s, i == n, next_empty, from,
				  resume && start.sealed);
		if (st != LK_OK)
			goto out;
		behind += s->data_end - from;
		if (sc.rotation_cut)
			break;
	}
	if (sc.rotation_cut) {
		struct segment *e = segtable_at(db, (uint32_t)n);

		snprintf(sc.unsealed_next, sizeof sc.unsealed_next, "%s",
			 e->name);
		db->report.segments_removed++;
		segtable_wrlock(db);
		segtable_remove(db, e);
		segtable_unlock(db);
		segtable_unpin(db, e);
		n--;
	}
	st = n > 0 ? check_successor(&sc, segtable_at(db, (uint32_t)n)) : LK_OK;
	if (st == LK_OK)
		st = repair(&sc);
	if (st == LK_OK && !db->readonly)
		st = snapshot_cleanup(db);
	if (st != LK_OK)
		goto out;
	/* names registered after the snapshot are not in its list */
	snapshot_opened(db, behind, sc.catalog_ops != 0);
	if (start.seg) {
		size_t len = strlen(db->report.snapshot_note);

		snprintf(db->report.snapshot_note + len,
			 sizeof db->report.snapshot_note - len,
			 ": %" PRIu64 " log bytes replayed after it", behind);
	}
	if (n > 0)
		take_newest(db, segtable_at(db, (uint32_t)n), sc.last_seq);
	else
		new_db_id(db);
	db->report.records_replayed = sc.records;
	segtable_replaced(db, &db->report.replaced_unread,
			  &db->report.replaced_read);
	db->report.records_discarded = sc.discarded;
	db->report.seq_last = sc.last_seq;
out:
	for (size_t i = 0; segs && i < n; i++)
		seg_close(segs[i], io);
	mem_free(segs);
	listing_free(&l, io);
	scan_free(&sc);
	db->report.duration_us = io->mono_us(io->ctx) - t0;
	return st;
}

/* ---------------------------------------------------------------------- */
/* Verify's read-ahead                                                    */
/* ---------------------------------------------------------------------- */

/* On a data directory read cold from its device, verify waited for each
 * read and the device for verify's checks: 0.4 to 0.5 of the rate of cat
 * over a 1 GB directory.  A helper thread reads the next segment into the
 * system's page cache while the scan checks this one, so that the two
 * overlap; it stays at most one segment ahead, so that a directory larger
 * than memory is not read twice.  Only over lk_io_posix(): another table
 * has no page cache to warm (the in-memory one), or counts its calls. */
#define WARM_CHUNK_BYTES (1024u * 1024u)
#define WARM_POLL_US 1000u

struct warmer {
	const lk_io *io;
	struct segment **chain;
	size_t n;
	_Atomic size_t scanning; /* the chain position the scan is on */
	lk_io_wait *wait;        /* stopped when the scan ends */
	lk_io_thread *thread;
};

static void warmer_main(void *arg)
{
	struct warmer *w = arg;
	const lk_io *io = w->io;
	uint8_t *buf = mem_alloc(WARM_CHUNK_BYTES);

	for (size_t i = 1; buf && i < w->n; i++) {
		struct segment *s = w->chain[i];
		uint64_t off = 0;
		size_t got = 1;

		while (i > atomic_load(&w->scanning) + 1)
			if (io->wait_until(io->ctx, w->wait,
					   io->mono_us(io->ctx) + WARM_POLL_US))
				goto out;
		while (off < s->file_size && got > 0) {
			if (io->wait_until(io->ctx, w->wait, 0))
				goto out; /* stopped */
			if (io->pread(io->ctx, s->file, buf, WARM_CHUNK_BYTES,
				      off, &got) != LK_OK)
				break; /* a hint: the scan reads it itself */
			off += got;
		}
	}
out:
	mem_free(buf);
}

/* Starts the helper over chain[1..n), or does nothing when it cannot. */
static void warmer_start(struct warmer *w, const lk_io *io,
			 struct segment **chain, size_t n)
{
	memset(w, 0, sizeof *w);
	if (n < 2 || io->version < 2)
		return;
	w->io = io;
	w->chain = chain;
	w->n = n;
	if (io->wait_new(io->ctx, &w->wait) != LK_OK)
		return;
	if (io->thread_start(io->ctx, &w->thread, warmer_main, w) != LK_OK) {
		io->wait_free(io->ctx, w->wait);
		w->wait = NULL;
	}
}

static void warmer_stop(struct warmer *w)
{
	if (!w->thread)
		return;
	w->io->wait_stop(w->io->ctx, w->wait);
	w->io->thread_join(w->io->ctx, w->thread);
	w->io->wait_free(w->io->ctx, w->wait);
	w->thread = NULL;
}

/* Verify's replay takes the chain's segments (recovery_verify). */
static lk_status replay_take(struct lk_db *replay, struct segment **segs,
			     size_t n)
{
	for (size_t i = 0; i < n; i++) {
		lk_status st = segtable_add(replay, segs[i]);

		if (st != LK_OK)
			return st;
		segs[i] = NULL;
	}
	return LK_OK;
}

lk_status recovery_verify(lk_recovery_report *report, const lk_io *io,
			  lk_io_dir *dir, lk_problem_fn fn, void *arg,
			  struct lk_db *replay, int read_ahead)
{
	struct warmer warm = { 0 };
	uint64_t t0 = io->mono_us(io->ctx);
	struct segment **segs = NULL, **chain = NULL, *newest;
	struct scan sc = { 0 };
	struct listing l;
	size_t n = 0;
	lk_status st;

	LK_ASSERT(fn);
	memset(report, 0, sizeof *report);
	report->version = LK_REPORT_VERSION;
	sc.io = io;
	sc.dir = dir;
	sc.readonly = 1;
	sc.fn = fn;
	sc.arg = arg;
	sc.rep = report;
	sc.held = mem_calloc(SCAN_HELD_MAX, sizeof *sc.held); /* or none */
	st = take_listing(&l, io, dir, 1, SIZE_MAX);
	if (st == LK_OK)
		st = check_log_exists(&sc, &l, NULL, SIZE_MAX);
	if (st != LK_OK)
		goto out;
	segs = mem_calloc(l.n + 1, sizeof *segs);
	if (!segs) {
		st = err_set(LK_NOMEM, "verifying %zu segments", l.n);
		goto out;
	}
	st = find_leftovers(&sc, &l);
	if (st == LK_OK)
		st = open_chain(&sc, &l, segs, &n);
	if (st != LK_OK)
		goto out;
	chain = mem_calloc(n + 1, sizeof *chain);
	if (!chain) {
		st = err_set(LK_NOMEM, "verifying %zu segments", n);
		goto out;
	}
	memcpy(chain, segs, n * sizeof *chain);
	if (replay && l.n <= LK_SEGMENT_COUNT_MAX) {
		st = replay_take(replay, segs, n);
		if (st != LK_OK)
			goto out;
		sc.db = replay;
	}
	if (read_ahead)
		warmer_start(&warm, io, chain, n);
	for (size_t i = 0; i < n; i++) {
		int next_empty = i + 2 == n && holds_no_data(&sc, chain[n - 1]);

		chain[i]->slot = (uint32_t)i + 1; /* as segtable_add gives */
		atomic_store(&warm.scanning, i);
		sc.pos = i;
		held_resume(&sc, i);
		st = scan_segment(&sc, chain[i], i + 1 == n, next_empty,
				  SEG_HEADER_BYTES, 0);
		if (st != LK_OK) {
			loss(&sc, affects_from_here(&sc), LK_PROBLEM_IO,
			     chain[i]->hdr.seq, chain[i]->name, 0, "%s",
			     lk_errmsg());
			st = LK_OK;
		}
		report->segments_read++;
		if (sc.rotation_cut) {
			/* its header was read, as open counts it */
			report->segments_read++;
			report->segments_removed++;
			problem(&sc, LK_PROBLEM_TORN_TAIL, chain[n - 1]->hdr.seq,
				chain[n - 1]->name, 0,
				"the segment holds no data and the one before "
				"it is not sealed (a rotation cut by a power "
				"loss); open removes it");
			break;
		}
	}
	warmer_stop(&warm); /* before any segment is closed */
	newest = n > 0 ? chain[sc.rotation_cut ? n - 2 : n - 1] : NULL;
	if (newest)
		(void)check_successor(&sc, newest);
	if (sc.db && sc.rotation_cut) { /* as open leaves it */
		segtable_wrlock(sc.db);
		segtable_remove(sc.db, chain[n - 1]);
		segtable_unlock(sc.db);
		segtable_unpin(sc.db, chain[n - 1]);
	}
	if (sc.db && newest)
		take_newest(sc.db, newest, sc.last_seq);
	held_flush(&sc, sc.nheld); /* what is open runs to the end */
	report->records_replayed = sc.records;
	if (sc.db)
		segtable_replaced(sc.db, &report->replaced_unread,
				  &report->replaced_read);
	report->records_discarded = sc.discarded;
	report->seq_last = sc.last_seq;
	st = sc.worst;
	if (l.n > LK_SEGMENT_COUNT_MAX)
		/* what an open says first, before it reads anything */
		st = err_set(LK_TOO_BIG, "%zu segment files, the limit is %u: "
			     "an open refuses the directory",
			     l.n, LK_SEGMENT_COUNT_MAX);
	else if (st != LK_OK)
		err_set(st, "%d problem%s; the first: %s", sc.problems,
			sc.problems == 1 ? "" : "s", sc.first);
out:
	for (size_t i = 0; segs && i < n; i++)
		if (segs[i]) /* not the replay's */
			seg_close(segs[i], io);
	mem_free(segs);
	mem_free(chain);
	listing_free(&l, io);
	scan_free(&sc);
	report->duration_us = io->mono_us(io->ctx) - t0;
	return st;
}
