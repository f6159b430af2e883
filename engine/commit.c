/* SPDX-License-Identifier: MIT */
/*
 * commit.c - batches, group commit, sync policies and segment rotation.
 *
 * Group commit.  Committers queue up under write_mu.  The one at the head
 * is the leader: it takes the batches queued behind it (up to
 * LK_GROUP_BYTES_MAX and LK_BATCH_OPS_MAX), releases write_mu so that
 * others can queue, encodes them as one group with one commit record,
 * writes it with one pwrite, syncs it with one fdatasync (LK_SYNC_ALWAYS),
 * applies it to the index, and wakes its followers with the result.  The
 * next head then leads the batches that queued during that sync.  Nobody
 * returns LK_OK before the sync that covers its batch has returned, and
 * nothing reaches the index (readers) before that either.
 *
 * Gathering.  With several threads committing durably, the writers of a
 * group return together while the next group is already queued and
 * leads at once; left alone, the threads settle into two groups that
 * take turns, each half full (4 threads: 2.5 batches a sync, measured).
 * So a head that finds fewer writers queued than the last group had,
 * plus those queued behind it that its own group can take
 * (writers_seen), waits for them: at most a quarter of the moving
 * average of the fdatasync time, which costs less than the sync it
 * saves, and at most GATHER_WAIT_US_MAX.  The writer that completes the
 * count leads the group itself (the head is asleep; waking it would add
 * a scheduling delay to every sync).  A head does not wait when its
 * group cannot grow: a writer queued behind it that the group cannot
 * take (delete-only against puts, no-sync against durable, or past the
 * group's size) would stand before every later arrival; nor after a
 * no-sync group, nor on a halted handle.  A lone writer, one at a time,
 * does not wait: its last group had one member.  Threads that stop
 * committing cost one wait that runs out, after which the next head
 * does not wait (writers_seen 0) and the group after it counts afresh.
 * Measured, 4 threads of durable puts on
 * a 2-CPU guest: 2.5 batches a sync before, 3.96 after, and 1.17 times
 * the puts a second; a lone writer's rate unchanged.
 *
 * Layout of a group in the active segment:
 *
 *   [ put/del ]* [ commit(durable_upto, op_count) ] [ zero prefill ... ]
 *
 * Zero prefill.  When durable commits are small, the leader extends the
 * file with zeroes once (a quarter of the segment's data, between
 * LK_PREFILL_MIN_BYTES and LK_PREFILL_BYTES), so that the following
 * commits overwrite allocated blocks and their fdatasync need not commit
 * a metadata change (the file size).  Recovery treats a tail of zeroes as
 * free space, not damage.
 *
 * A full device.  A group of delete-only batches, and the rotation it
 * needs, may draw on the space reserve (reserve.h) when they fail with
 * LK_NOSPACE, and try once more: a delete must be able to run when
 * nothing else can.  The leader therefore groups delete-only batches
 * only with each other.  Puts never use the reserve: once it has been
 * drawn on, they are refused with LK_NOSPACE until a compaction has
 * freed space and the reserve is whole again.
 *
 * Failures.  A failed pwrite (LK_IO, LK_NOSPACE) fails the group; the
 * bytes written are past data_end, belong to a group without a commit,
 * and are overwritten by the next group or cut by recovery.  A failed
 * fdatasync latches the handle (halted): the kernel may have dropped the
 * pages it could not write, so neither a retry nor a later sync could
 * prove them durable.
 */
#include <errno.h>
#include <inttypes.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>

#include "contract.h"
#include "alloc.h"
#include "commit.h"
#include "endian.h"
#include "error.h"
#include "lockmark.h"
#include "reserve.h"

#define BATCH_MAGIC 0x6c6b6261u /* "lkba" */

struct batch_op {
	uint8_t type, flags, ns;
	uint32_t key_len;
	uint32_t value_len;  /* as given by the caller */
	size_t key_at, value_at; /* into the arena */
	uint64_t expire_at_ms;
	uint8_t *packed;     /* compressed value (raw_len + frame), or NULL */
	size_t packed_len;
	uint64_t hash;       /* set at commit */
	/* REC_F_REPLACES in flags: the record it replaces (prepare) */
	uint64_t rep_seg_seq;
	uint32_t rep_generation, rep_offset;
	uint32_t offset, size; /* where it was written */
};

/* A condition (lk_batch_require): its key and value are in the arena. */
/* Not a public lk_cond: the record of seq is there and expired
 * (lk_purge_expired's deletes). */
#define COND_EXPIRED_SEQ 100

struct batch_cond {
	uint8_t kind, ns;
	uint32_t key_len, value_len;
	size_t key_at, value_at;
	uint64_t seq; /* LK_IF_SEQ */
};

struct lk_batch {
	uint32_t magic;
	struct batch_op *ops;
	size_t n, cap;
	uint8_t *arena;
	size_t len, arena_cap;
	struct batch_cond *conds;
	size_t nconds, conds_cap;
	uint32_t flags; /* LK_BATCH_* */
	size_t failed_cond; /* of the last lk_commit: lk_batch_failed_condition */
};

/* The committers' state (db->commit): the queue whose head is the
 * leader, the log's write state lock, the latch, the group buffer, the
 * space reserve, the interval syncer, and the counts for lk_stats_get().
 * Locks and their order are in handle.h. */
struct committer {
	struct lk_mutex write_mu; /* the queue of committers */
	struct writer *wq_head, *wq_tail;
	size_t wq_len;            /* writers queued (write_mu) */
	size_t writers_seen;      /* the last group's members and the writers
				     queued behind it as it ended: the next
				     head gathers that many (write_mu) */
	_Atomic uint64_t sync_us; /* moving average of a group's fdatasync,
				     by the I/O table's clock (Gathering) */
	int thinned;              /* the head's wait ran out (write_mu) */
	uint64_t led_by_arrival, gather_expired; /* commit_gathering() */
	struct lk_mutex log_mu;   /* the active segment's write state */
	_Atomic int halted;       /* 0, or LK_HALTED once a sync failed, or
				     LK_CORRUPT once the scrub found damage */
	uint8_t *group_buf;
	size_t group_cap;
	uint8_t *zeroes;          /* PREFILL_CHUNK_BYTES, at the first prefill
				     (log_mu): a static array would take
				     64 KiB of the library file */
	int wrote;                /* a group was written since open */
	struct segment *next_seg; /* created by a rotation whose seal
				     failed, for the next one (log_mu) */
	uint64_t reserve_held;    /* the LOCK file's reserve (reserve.h),
				     under log_mu */
	int reserve_drawn;        /* drawn on since it was last whole: puts
				     are refused (under log_mu) */
	int marked;               /* the LOCK file's mark is known written
				     (lockmark.h; under log_mu) */
	int durable_pending;      /* a group not marked no-sync was written
				     since the last sync: the interval
				     syncer has work (under log_mu) */
	lk_io_thread *syncer;     /* the interval syncer, or NULL */
	lk_io_wait *syncer_wait;  /* its sleep; stopped at close */
	int closing;              /* under log_mu */
	_Atomic uint8_t nosync[LK_NS_COUNT_MAX + 1]; /* lk_ns_set_nosync */
	_Atomic uint64_t commits, sync_calls, write_groups;
	_Atomic uint64_t log_bytes_written; /* commits, seals, prefill */
	struct lk_mutex wait_mu;  /* the waiters (commit_waiter_add) */
	struct commit_waiter *waiters;
	_Atomic uint32_t nwaiters; /* read without wait_mu by committers */
};

struct writer {
	lk_batch *batch;
	lk_status st;
	int done;              /* st is final (Waking) */
	int head;              /* first in the queue (Waking) */
	lk_io_wait *gathering; /* the head's wait for writers (write_mu);
				  stopped and cleared by the writer that
				  comes to lead its group */
	sem_t wake;            /* posted once done or head is set */
	struct writer *next;
	size_t bytes; /* upper bound of the encoded size */
	int dels_only; /* every operation a delete: may use the reserve */
	int nosync;    /* LK_BATCH_NOSYNC, or all its namespaces no-sync */
	int failed;    /* the number (from 1) of a condition that did not
			  hold, or REFUSED_BUDGET: nothing of the batch is
			  written; 0: none */
	uint64_t adds; /* keys the batch may add to the index: its puts, or
			  at the memory budget those the index lacks */
	char why[LK_ERRMSG_BYTES]; /* which, for the committer's lk_errmsg */
};

/* writer.failed of a batch the memory budget refused (LK_TOO_BIG). */
#define REFUSED_BUDGET (-1)

/* Upper bound of one record's framing: checksum, body_len, kind, ns,
 * seq_delta, key_len, expiry; REC_REPLACES_BYTES_MAX more if it names
 * the record it replaces. */
#define OP_FRAME_BYTES_MAX (4u + 4u + 2u + 10u + 5u + 8u)
#define COMMIT_BYTES_MAX (4u + 1u + 3u + 4u + 10u)
#define SEAL_BYTES_MAX (COMMIT_BYTES_MAX + 8u) /* + segment_hash */

/* The prefill's zeroes are written PREFILL_CHUNK_BYTES a call. */
#define PREFILL_CHUNK_BYTES (64u * 1024u)

/* ---------------------------------------------------------------------- */
/* Batches                                                                */
/* ---------------------------------------------------------------------- */

lk_status lk_batch_new(lk_batch **batch)
{
	if (!batch)
		return err_set(LK_INVALID, "lk_batch_new: NULL out-pointer");
	*batch = mem_calloc(1, sizeof **batch);
	if (!*batch)
		return err_set(LK_NOMEM, "allocating a batch");
	(*batch)->magic = BATCH_MAGIC;
	return LK_OK;
}

static void drop_packed(lk_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		mem_free(b->ops[i].packed);
		b->ops[i].packed = NULL;
	}
}

void lk_batch_clear(lk_batch *b)
{
	if (!b || b->magic != BATCH_MAGIC)
		return;
	drop_packed(b);
	b->n = 0;
	b->len = 0;
	b->nconds = 0;
	b->flags = 0;
	b->failed_cond = 0;
}

void commit_set_nosync(struct lk_db *db, uint8_t ns, int nosync)
{
	atomic_store(&db->commit->nosync[ns], nosync ? 1 : 0);
}

lk_status lk_batch_set_flags(lk_batch *b, uint32_t flags)
{
	if (!b || b->magic != BATCH_MAGIC)
		return err_set(LK_MISUSE, "not a batch (freed?)");
	if (flags & ~LK_BATCH_NOSYNC)
		return err_set(LK_INVALID, "unknown batch flags 0x%x",
			       flags & ~LK_BATCH_NOSYNC);
	b->flags = flags;
	return LK_OK;
}

void lk_batch_free(lk_batch *b)
{
	if (!b || b->magic != BATCH_MAGIC)
		return;
	drop_packed(b);
	b->magic = 0;
	mem_free(b->conds);
	mem_free(b->ops);
	mem_free(b->arena);
	mem_free(b);
}

size_t lk_batch_count(const lk_batch *b)
{
	return b && b->magic == BATCH_MAGIC ? b->n : 0;
}

/* Room for need more bytes in b's arena: 1, or 0 for no memory. */
static int arena_room(lk_batch *b, size_t need)
{
	size_t cap = b->arena_cap ? b->arena_cap : 4096;
	uint8_t *a;

	if (b->arena_cap - b->len >= need)
		return 1;
	while (cap - b->len < need)
		cap *= 2;
	a = mem_realloc(b->arena, cap);
	if (!a)
		return 0;
	b->arena = a;
	b->arena_cap = cap;
	return 1;
}

/* A caller's value: LK_OK, LK_INVALID (NULL with a length), LK_TOO_BIG. */
static lk_status check_value(const void *value, size_t value_len)
{
	if (value_len && !value)
		return err_set(LK_INVALID, "NULL value with a length");
	if (value_len > LK_VALUE_BYTES_MAX)
		return err_set(LK_TOO_BIG, "value of %zu bytes, the limit is %u",
			       value_len, LK_VALUE_BYTES_MAX);
	return LK_OK;
}

lk_status batch_add(lk_batch *b, uint8_t type, uint32_t ns, const void *key,
		    size_t key_len, const void *value, size_t value_len,
		    uint64_t expire_at_ms)
{
	size_t need = key_len + value_len;
	struct batch_op *op;
	lk_status st;

	if (!b || b->magic != BATCH_MAGIC)
		return err_set(LK_MISUSE, "not a batch (freed?)");
	st = check_value(value, value_len);
	if (st != LK_OK)
		return st;
	if (b->n >= LK_BATCH_OPS_MAX)
		return err_set(LK_TOO_BIG, "batch holds %u operations already",
			       LK_BATCH_OPS_MAX);
	if (b->len + need > LK_BATCH_BYTES_MAX)
		return err_set(LK_TOO_BIG, "batch would pass %u bytes",
			       LK_BATCH_BYTES_MAX);
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;

		op = mem_realloc(b->ops, cap * sizeof *op);
		if (!op)
			return err_set(LK_NOMEM, "growing a batch");
		b->ops = op;
		b->cap = cap;
	}
	if (!arena_room(b, need))
		return err_set(LK_NOMEM, "growing a batch");
	op = &b->ops[b->n++];
	memset(op, 0, sizeof *op);
	op->type = type;
	op->ns = (uint8_t)ns;
	op->key_len = (uint32_t)key_len;
	op->value_len = (uint32_t)value_len;
	op->expire_at_ms = expire_at_ms;
	op->flags = expire_at_ms ? REC_F_EXPIRY : 0;
	op->key_at = b->len;
	memcpy(b->arena + b->len, key, key_len);
	b->len += key_len;
	op->value_at = b->len;
	if (value_len)
		memcpy(b->arena + b->len, value, value_len);
	b->len += value_len;
	return LK_OK;
}

lk_status lk_batch_put(lk_batch *b, uint32_t ns, const void *key,
		       size_t key_len, const void *value, size_t value_len,
		       uint64_t expire_at_ms)
{
	lk_status st = commit_check_key(ns, key, key_len);

	return st != LK_OK ? st
			   : batch_add(b, REC_PUT, ns, key, key_len, value,
				       value_len, expire_at_ms);
}

lk_status lk_batch_del(lk_batch *b, uint32_t ns, const void *key,
		       size_t key_len)
{
	lk_status st = commit_check_key(ns, key, key_len);

	return st != LK_OK ? st
			   : batch_add(b, REC_DEL, ns, key, key_len, NULL, 0, 0);
}

static lk_status cond_add(lk_batch *b, uint32_t ns, const void *key,
			  size_t key_len, lk_cond cond, const void *value,
			  size_t value_len, uint64_t seq)
{
	lk_status st = commit_check_key(ns, key, key_len);
	struct batch_cond *c;

	if (st != LK_OK)
		return st;
	if (!b || b->magic != BATCH_MAGIC)
		return err_set(LK_MISUSE, "not a batch (freed?)");
	st = check_value(value, value_len);
	if (st != LK_OK)
		return st;
	if (b->nconds >= LK_BATCH_CONDS_MAX)
		return err_set(LK_TOO_BIG, "batch holds %u conditions already",
			       LK_BATCH_CONDS_MAX);
	if (b->len + key_len + value_len > LK_BATCH_BYTES_MAX)
		return err_set(LK_TOO_BIG, "batch would pass %u bytes",
			       LK_BATCH_BYTES_MAX);
	if (b->nconds == b->conds_cap) {
		size_t cap = b->conds_cap ? b->conds_cap * 2 : 4;

		c = mem_realloc(b->conds, cap * sizeof *c);
		if (!c)
			return err_set(LK_NOMEM, "growing a batch");
		b->conds = c;
		b->conds_cap = cap;
	}
	if (!arena_room(b, key_len + value_len))
		return err_set(LK_NOMEM, "growing a batch");
	c = &b->conds[b->nconds++];
	c->kind = (uint8_t)cond;
	c->ns = (uint8_t)ns;
	c->key_len = (uint32_t)key_len;
	c->value_len = (uint32_t)value_len;
	c->seq = seq;
	c->key_at = b->len;
	memcpy(b->arena + b->len, key, key_len);
	b->len += key_len;
	c->value_at = b->len;
	if (value_len)
		memcpy(b->arena + b->len, value, value_len);
	b->len += value_len;
	return LK_OK;
}

lk_status lk_batch_require(lk_batch *b, uint32_t ns, const void *key,
			   size_t key_len, lk_cond cond, const void *value,
			   size_t value_len)
{
	if (cond == LK_IF_SEQ)
		return err_set(LK_INVALID, "LK_IF_SEQ takes a sequence number: "
					   "use lk_batch_require_seq");
	if (cond != LK_IF_ABSENT && cond != LK_IF_PRESENT && cond != LK_IF_VALUE)
		return err_set(LK_INVALID, "unknown condition %d", (int)cond);
	if (cond != LK_IF_VALUE && value_len)
		return err_set(LK_INVALID, "a value given to a condition that "
					   "takes none");
	return cond_add(b, ns, key, key_len, cond, value, value_len, 0);
}

lk_status commit_require_expired(lk_batch *b, uint32_t ns, const void *key,
				 size_t key_len, uint64_t seq)
{
	return cond_add(b, ns, key, key_len, COND_EXPIRED_SEQ, NULL, 0, seq);
}

lk_status lk_batch_require_seq(lk_batch *b, uint32_t ns, const void *key,
			       size_t key_len, uint64_t seq)
{
	if (seq == 0)
		return err_set(LK_INVALID, "sequence number 0 names no record: "
					   "use LK_IF_ABSENT");
	return cond_add(b, ns, key, key_len, LK_IF_SEQ, NULL, 0, seq);
}

void batch_op_key(const lk_batch *b, size_t i, const void **key,
		  size_t *key_len)
{
	LK_ASSERT(i < b->n);
	*key = b->arena + b->ops[i].key_at;
	*key_len = b->ops[i].key_len;
}

size_t lk_batch_failed_condition(const lk_batch *b)
{
	return b && b->magic == BATCH_MAGIC ? b->failed_cond : 0;
}

size_t lk_batch_conditions(const lk_batch *b)
{
	return b && b->magic == BATCH_MAGIC ? b->nconds : 0;
}

/* ---------------------------------------------------------------------- */
/* Conditions                                                             */
/* ---------------------------------------------------------------------- */

/* What the key of c holds where the group's leader checks it: *live 1 with
 * its value (raw, in *v or *buf to free) and sequence number, or 0.  The
 * batches of the group before member `upto` come first, as if already
 * applied (their writes have no sequence number yet: *seq 0); then the
 * index, which holds every earlier group. */
static lk_status cond_state(struct lk_db *db, struct writer *first,
			    struct writer *upto, const lk_batch *cb,
			    const struct batch_cond *c, int *live,
			    const uint8_t **v, size_t *v_len, uint64_t *seq,
			    uint8_t **buf, int *expired)
{
	const uint8_t *key = cb->arena + c->key_at;
	uint64_t now = db->io->now_ms(db->io->ctx);
	struct seg_hold hold;
	struct record rec;
	lk_status st;
	int found = 0;

	*live = 0;
	*seq = 0;
	*buf = NULL;
	*expired = 0;
	for (struct writer *w = first; w != upto; w = w->next) {
		const lk_batch *b = w->batch;

		for (size_t i = 0; !w->failed && i < b->n; i++) {
			const struct batch_op *op = &b->ops[i];

			if (op->ns != c->ns || op->key_len != c->key_len ||
			    memcmp(b->arena + op->key_at, key, c->key_len))
				continue;
			found = 1;
			*live = op->type == REC_PUT &&
				(!op->expire_at_ms || now < op->expire_at_ms);
			*v = b->arena + op->value_at;
			*v_len = op->value_len;
		}
	}
	if (found)
		return LK_OK;
	if (c->kind == COND_EXPIRED_SEQ) {
		st = segtable_lookup_raw(db, c->ns, key, c->key_len, &rec,
					 &hold);
		if (st == LK_OK) {
			*seq = rec.seq;
			*expired = rec.expire_at_ms && now >= rec.expire_at_ms;
			segtable_release(db, &hold);
		}
		return st == LK_NOT_FOUND ? LK_OK : st;
	}
	st = segtable_lookup(db, c->ns, key, c->key_len, &rec, &hold);
	if (st == LK_NOT_FOUND)
		return LK_OK;
	if (st != LK_OK)
		return st;
	*live = 1;
	*seq = rec.seq;
	if (rec.flags & REC_F_ZSTD) {
		st = compressor_unpack(db->cmp, rec.value, rec.value_len, buf,
				       v_len);
		segtable_release(db, &hold);
		*v = *buf;
		return st;
	}
	if (!hold.buf) { /* in a mapping: the caller keeps a copy */
		hold.buf = mem_alloc(rec.value_len ? rec.value_len : 1);
		if (!hold.buf) {
			segtable_release(db, &hold);
			return err_set(LK_NOMEM, "allocating a %" PRIu32
				       "-byte value", rec.value_len);
		}
		memcpy(hold.buf, rec.value, rec.value_len);
		rec.value = hold.buf;
	}
	*buf = hold.buf;
	hold.buf = NULL;
	segtable_release(db, &hold);
	*v = rec.value;
	*v_len = rec.value_len;
	return LK_OK;
}

/* The operations the first `members` writers will write. */
static uint64_t group_ops(struct writer *first, size_t members)
{
	uint64_t ops = 0;

	for (struct writer *w = first; members--; w = members ? w->next : w)
		if (!w->failed)
			ops += w->batch->n;
	return ops;
}

/* Checks the conditions of each member in queue order, each against the
 * state the members before it leave (skipping those that failed).  A
 * member whose condition does not hold is marked failed, with the detail
 * in w->why.  Returns LK_OK, or a read's status, which fails the group. */
static lk_status check_conditions(struct lk_db *db, struct writer *first,
				  size_t members)
{
	struct writer *w = first;

	for (size_t m = 0; m < members; m++, w = m < members ? w->next : w) {
		const lk_batch *b = w->batch;

		for (size_t i = 0; !w->failed && i < b->nconds; i++) {
			const struct batch_cond *c = &b->conds[i];
			const uint8_t *v = NULL;
			uint8_t *buf;
			size_t v_len = 0;
			uint64_t seq;
			int live, ok, expired;
			lk_status st = cond_state(db, first, w, b, c, &live, &v,
						  &v_len, &seq, &buf, &expired);

			if (st != LK_OK)
				return st;
			ok = c->kind == LK_IF_ABSENT    ? !live
			     : c->kind == LK_IF_PRESENT ? live
			     : c->kind == LK_IF_SEQ     ? live && seq == c->seq
			     : c->kind == COND_EXPIRED_SEQ
				     ? !live && expired && seq == c->seq
			     : live && v_len == c->value_len &&
				       memcmp(v, b->arena + c->value_at,
					      v_len) == 0;
			mem_free(buf);
			if (ok)
				continue;
			w->failed = (int)i + 1;
			snprintf(w->why, sizeof w->why,
				 "condition %zu of the batch (key \"%.*s\" in "
				 "namespace %u %s) does not hold: nothing "
				 "written",
				 i + 1, (int)(c->key_len < 64 ? c->key_len : 64),
				 (const char *)b->arena + c->key_at, c->ns,
				 c->kind == LK_IF_ABSENT    ? "absent"
				 : c->kind == LK_IF_PRESENT ? "present"
				 : c->kind == LK_IF_SEQ
					 ? "at the sequence number given"
					 : "holding the value given");
		}
	}
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* The memory budget                                                      */
/* ---------------------------------------------------------------------- */

/* How many keys of b's puts the index lacks (a key put twice counts
 * twice): looks each up, a probe and, for a candidate, a read of its key.
 * Expired keys are still in the index: a put of one adds nothing.
 * Returns LK_OK or a read's status. */
static lk_status count_new_keys(struct lk_db *db, const lk_batch *b,
				uint64_t *adds)
{
	*adds = 0;
	for (size_t i = 0; i < b->n; i++) {
		const struct batch_op *op = &b->ops[i];
		struct seg_hold hold;
		struct record rec;
		lk_status st;

		if (op->type != REC_PUT)
			continue;
		st = segtable_lookup_raw(db, op->ns, b->arena + op->key_at,
					 op->key_len, &rec, &hold);
		if (st == LK_OK)
			segtable_release(db, &hold);
		else if (st == LK_NOT_FOUND)
			(*adds)++;
		else
			return st;
	}
	return LK_OK;
}

/* Under a memory budget (logkeep.h), admits the members whose keys fit
 * and refuses the others (REFUSED_BUDGET, with the detail in w->why),
 * in queue order.  The leader calls it before it checks conditions, so
 * that those see a refused batch as not written.  While the group's puts
 * fit as if every key were new, it looks nothing up; past that, each
 * member is charged only the keys the index lacks, so that overwrites
 * pass at the budget.  Only the leader adds keys, so what it counts
 * holds until it applies the group (a compaction may drop an expired key
 * meanwhile, which turns an overwrite into an insert but frees a slot).
 * A mapping made between this and the reservation (a rotation, a
 * compaction's output) may still make the reservation refuse the whole
 * group: nothing is written then either.  Returns LK_OK or a read's
 * status, which fails the group. */
static lk_status budget_admit(struct lk_db *db, struct writer *first,
			      size_t members)
{
	uint64_t adds = 0, admitted = 0, room;
	struct writer *w = first;
	size_t m;

	if (!db->opts.memory_bytes_max)
		return LK_OK;
	for (m = 0; m < members; m++, w = m < members ? w->next : w)
		adds += w->adds;
	segtable_rdlock(db);
	room = segtable_keys_room(db);
	segtable_unlock(db);
	if (adds <= room)
		return LK_OK;
	w = first;
	for (m = 0; m < members; m++, w = m < members ? w->next : w) {
		lk_status st;

		if (w->adds == 0)
			continue;
		st = count_new_keys(db, w->batch, &w->adds);
		if (st != LK_OK)
			return st;
		if (w->adds <= room - admitted) {
			admitted += w->adds;
			continue;
		}
		segtable_rdlock(db);
		(void)segtable_refuse(db, admitted + w->adds);
		segtable_unlock(db);
		snprintf(w->why, sizeof w->why, "%s", lk_errmsg());
		w->failed = REFUSED_BUDGET;
	}
	return LK_OK;
}

/* How many operations claim_replaced() looks up under one hold of the
 * index lock: a writer waiting to apply a group waits for no more. */
#define CLAIM_OPS_PER_LOCK 64u

/* Names in each operation the record it replaces, when that one lies in
 * a mapped segment (segtable_claim): a replay after a crash, and the
 * apply of this very batch, then repoint the key without reading the
 * older record.  Outside the log lock, in the committer's own thread; a
 * write between this and the apply at most makes the claim stale, which
 * costs the apply a read, as without one.  Returns how many it named. */
static size_t claim_replaced(struct lk_db *db, lk_batch *b)
{
	size_t claims = 0;

	for (size_t i = 0; i < b->n;) {
		size_t end = i + CLAIM_OPS_PER_LOCK < b->n ? i + CLAIM_OPS_PER_LOCK
							 : b->n;

		segtable_rdlock(db);
		for (; i < end; i++) {
			struct batch_op *op = &b->ops[i];
			struct record r = { 0 };

			op->flags &= (uint8_t)~REC_F_REPLACES;
			if (op->ns == 0 || /* the catalog's names are new */
			    !segtable_claim(db, op->ns, op->hash,
					    b->arena + op->key_at, op->key_len,
					    &r))
				continue;
			op->flags |= REC_F_REPLACES;
			op->rep_seg_seq = r.rep_seg_seq;
			op->rep_generation = r.rep_generation;
			op->rep_offset = r.rep_offset;
			claims++;
		}
		segtable_unlock(db);
	}
	return claims;
}

/* Compresses values and hashes keys, outside every lock; says whether
 * the batch only deletes and whether it is no-sync. */
static lk_status prepare(struct lk_db *db, lk_batch *b, size_t *bytes,
			 int *dels_only, int *nosync, uint64_t *adds)
{
	size_t total = COMMIT_BYTES_MAX;

	*dels_only = 1;
	*adds = 0;
	*nosync = (b->flags & LK_BATCH_NOSYNC) || b->n > 0;

	for (size_t i = 0; i < b->n; i++) {
		struct batch_op *op = &b->ops[i];
		size_t stored = op->value_len;

		op->hash = record_key_hash(op->ns, b->arena + op->key_at,
					   op->key_len);
		*dels_only &= op->type == REC_DEL;
		*adds += op->type == REC_PUT;
		*nosync &= (b->flags & LK_BATCH_NOSYNC) ||
			   atomic_load(&db->commit->nosync[op->ns]);
		if (op->type == REC_PUT && !op->packed) {
			lk_status st = compressor_pack(
				db->cmp, b->arena + op->value_at, op->value_len,
				&op->packed, &op->packed_len);

			if (st != LK_OK)
				return st;
			if (op->packed)
				op->flags |= REC_F_ZSTD;
		}
		if (op->packed)
			stored = op->packed_len;
		total += OP_FRAME_BYTES_MAX + op->key_len + stored;
	}
	*bytes = total + claim_replaced(db, b) * REC_REPLACES_BYTES_MAX;
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Writing a group                                                        */
/* ---------------------------------------------------------------------- */

lk_status commit_check_key(uint32_t ns, const void *key, size_t key_len)
{
	if (!key || key_len == 0)
		return err_set(LK_INVALID, "empty key");
	if (key_len > LK_KEY_BYTES_MAX)
		return err_set(LK_TOO_BIG, "key of %zu bytes, the limit is %u",
			       key_len, LK_KEY_BYTES_MAX);
	if (ns == 0 || ns > LK_NS_COUNT_MAX)
		return err_set(LK_INVALID, "namespace %u out of range", ns);
	return LK_OK;
}

lk_status commit_refuse_halted(struct lk_db *db, const char *call)
{
	if (atomic_load(&db->commit->halted) == LK_CORRUPT)
		return err_set(LK_CORRUPT,
			       "%s: the scrub found damage in the log; writes "
			       "are refused until it is repaired (logkeep "
			       "verify DIR names it)",
			       call);
	return err_set(LK_HALTED, "%s: an earlier fdatasync failed; writes "
				  "are halted until the database is reopened",
		       call);
}

static lk_status halt(struct lk_db *db, struct segment *s, lk_status st)
{
	atomic_store(&db->commit->halted, LK_HALTED);
	err_prefix("fdatasync of segment %s failed; writes are halted until "
		   "the database is reopened",
		   s->name);
	return st;
}

/* Creates the segment that follows the active one (or the first), header
 * and directory entry synced, unless an earlier rotation whose seal failed
 * left one ready.  Caller holds log_mu and leads. */
static lk_status next_segment(struct lk_db *db, struct segment **out)
{
	LK_ASSERT(mutex_held(&db->commit->log_mu));

	struct segment *old = segtable_active(db);
	struct seg_header h;

	if (db->commit->next_seg) {
		*out = db->commit->next_seg;
		db->commit->next_seg = NULL;
		return LK_OK;
	}
	memset(&h, 0, sizeof h);
	h.version = LK_FORMAT_VERSION;
	memcpy(h.db_id, db->db_id, SEG_DB_ID_BYTES);
	h.seq = old ? old->hdr.seq + 1 : 1;
	h.seq_prev = old ? old->hdr.seq : 0;
	h.record_seq_base = segtable_seq_last(db) + 1;
	return seg_create(out, db->io, db->dir, &h);
}

/* Writes the LOCK file's mark (lockmark.h) unless it is known written.
 * Best effort: a failure leaves the detection of a lost log to the next
 * open that writes it.  Caller holds log_mu; the log has a segment. */
static void mark_held(struct lk_db *db)
{
	LK_ASSERT(mutex_held(&db->commit->log_mu));

	if (db->commit->marked || db->readonly)
		return;
	db->commit->marked = lockmark_write(db->io, db->lock, db->db_id) ==
			     LK_OK;
}

void commit_mark_log(struct lk_db *db)
{
	uint8_t id[SEG_DB_ID_BYTES];
	int marked = 0;

	mutex_lock(&db->commit->log_mu);
	if (!db->readonly && segtable_count(db) > 0) {
		if (lockmark_read(db->io, db->dir, db->lock, &marked, id) ==
			    LK_OK &&
		    marked && memcmp(id, db->db_id, sizeof id) == 0)
			db->commit->marked = 1;
		mark_held(db);
	}
	mutex_unlock(&db->commit->log_mu);
}

/* Appends a seal to the active segment (dropping its zero prefill) and
 * makes the next segment active.  Caller holds log_mu and leads.
 *
 * The order is what makes a missing newest segment detectable (format
 * version 2): the next segment is created and its header and directory
 * entry synced first, and only then is the seal written and synced.  So
 * a sealed segment always has a successor on disk, and recovery refuses
 * a log whose newest segment is sealed (the files after it are gone).  A
 * power cut between the two steps leaves an unsealed segment followed by
 * one that holds only its header: recovery removes the empty one, and the
 * unsealed one is the newest again.  If the seal cannot be written, the
 * new segment waits in next_seg for the next rotation. */
static lk_status rotate(struct lk_db *db)
{
	LK_ASSERT(mutex_held(&db->commit->log_mu));

	const lk_io *io = db->io;
	struct segment *old = segtable_active(db), *s;
	lk_status st;

	if (old && old->hdr.seq >= REC_SEQ_MAX)
		return err_set(LK_TOO_BIG, "segment numbers exhausted (the log "
				           "is at segment %llu)",
			       (unsigned long long)old->hdr.seq);
	if (segtable_count(db) >= LK_SEGMENT_COUNT_MAX)
		return err_set(LK_TOO_BIG,
			       "the log has %u segments, the limit: compact, or "
			       "raise the segment size",
			       LK_SEGMENT_COUNT_MAX);
	st = next_segment(db, &s);
	if (st != LK_OK)
		return st;
	if (old && !old->sealed) {
		uint8_t buf[SEAL_BYTES_MAX];
		struct record seal = { 0 };
		size_t n;

		seal.type = REC_SEAL;
		seal.seq = old->hdr.record_seq_base;
		seal.durable_upto = (uint32_t)old->synced_end;
		seal.count = old->ops;
		/* Costs no read unless the segment was active at open: its
		 * running hash then starts with a read of the file. */
		st = seg_hash_get(old, io, old->data_end, &seal.seg_hash);
		if (st != LK_OK) {
			db->commit->next_seg = s;
			return st;
		}
		seal.flags = REC_F_SEG_HASH;
		n = record_encode(buf, &seal, seal.seq,
				  seg_seed(old, old->data_end));
		st = io->pwrite(io->ctx, old->file, buf, n, old->data_end);
		if (st == LK_OK)
			atomic_fetch_add(&db->commit->log_bytes_written, n);
		if (st == LK_OK)
			st = io->truncate(io->ctx, old->file, old->data_end + n);
		if (st != LK_OK) {
			db->commit->next_seg = s;
			return st;
		}
		st = io->sync(io->ctx, old->file);
		atomic_fetch_add(&db->commit->sync_calls, 1);
		if (st != LK_OK) {
			db->commit->next_seg = s;
			return halt(db, old, st);
		}
		old->sealed = 1;
		old->data_end += n;
		old->file_size = old->synced_end = old->data_end;
		db->commit->durable_pending = 0; /* all of it was in old */
		segtable_map(db, old); /* never written again */
	}
	segtable_wrlock(db);
	st = segtable_add(db, s);
	if (st == LK_OK)
		segtable_set_active(db, s);
	segtable_unlock(db);
	if (st != LK_OK)
		db->commit->next_seg = s; /* the sealed one needs it kept */
	else if (!old)
		mark_held(db); /* the first segment is durable (seg_create) */
	return st;
}

/* rotate() for a write that frees space: on LK_NOSPACE it draws on the
 * reserve and tries once more (a failed rotation keeps its new segment
 * in next_seg, so the retry only writes what failed).  Caller holds
 * log_mu and leads. */
static lk_status rotate_reserved(struct lk_db *db)
{
	lk_status st = rotate(db);

	if (st == LK_NOSPACE &&
	    commit_reserve_draw_held(db, SEG_HEADER_BYTES + SEAL_BYTES_MAX) > 0)
		st = rotate(db);
	return st;
}

/* Extends the file with zeroes past the group when commits are small and
 * durable; a failure only means no prefill. */
static void prefill(struct lk_db *db, struct segment *s, uint64_t group_end)
{
	const lk_io *io = db->io;
	uint64_t from = s->file_size > group_end ? s->file_size : group_end;
	uint64_t ahead = group_end / 4;
	uint64_t to;

	if (ahead < LK_PREFILL_MIN_BYTES)
		ahead = LK_PREFILL_MIN_BYTES;
	if (ahead > LK_PREFILL_BYTES)
		ahead = LK_PREFILL_BYTES;
	to = group_end + ahead;

	/* Only when the group would grow the file: then once for the next
	 * LK_PREFILL_BYTES of commits.  Never past the rotation size: those
	 * bytes would be cut at the seal, written for nothing. */
	if (s->file_size >= group_end)
		return;
	if (to > db->opts.segment_size_bytes)
		to = db->opts.segment_size_bytes;
	if (from < to && db->commit->zeroes == NULL)
		db->commit->zeroes = mem_calloc(1, PREFILL_CHUNK_BYTES);
	if (db->commit->zeroes == NULL)
		return;
	while (from < to) {
		size_t n = to - from < PREFILL_CHUNK_BYTES ? (size_t)(to - from)
							   : PREFILL_CHUNK_BYTES;

		atomic_fetch_add(&db->commit->log_bytes_written, n);
		if (io->pwrite(io->ctx, s->file, db->commit->zeroes, n, from) !=
		    LK_OK)
			return;
		from += n;
		s->file_size = from;
	}
}

static lk_status ensure_buf(struct lk_db *db, size_t need)
{
	uint8_t *b;

	if (db->commit->group_cap >= need)
		return LK_OK;
	b = mem_realloc(db->commit->group_buf, need);
	if (!b)
		return err_set(LK_NOMEM, "allocating a %zu-byte group", need);
	db->commit->group_buf = b;
	db->commit->group_cap = need;
	return LK_OK;
}

static size_t encode_group(struct lk_db *db, struct segment *s,
			   struct writer *first, size_t members, uint64_t *ops)
{
	uint64_t seq = segtable_seq_last(db), base = s->hdr.record_seq_base;
	uint8_t *buf = db->commit->group_buf;
	struct record commit = { 0 };
	size_t pos = 0;

	*ops = 0;
	for (struct writer *w = first; members--; w = members ? w->next : w) {
		lk_batch *b = w->batch;

		for (size_t i = 0; !w->failed && i < b->n; i++) {
			struct batch_op *op = &b->ops[i];
			struct record r = { 0 };

			r.type = op->type;
			r.flags = op->flags;
			r.ns = op->ns;
			r.seq = ++seq;
			r.expire_at_ms = op->expire_at_ms;
			r.key = b->arena + op->key_at;
			r.key_len = op->key_len;
			r.value = op->packed ? op->packed
					     : b->arena + op->value_at;
			r.value_len = op->packed ? (uint32_t)op->packed_len
						 : op->value_len;
			r.rep_seg_seq = op->rep_seg_seq;
			r.rep_generation = op->rep_generation;
			r.rep_offset = op->rep_offset;
			op->offset = (uint32_t)(s->data_end + pos);
			op->size = (uint32_t)record_encode(
				buf + pos, &r, base, seg_seed(s, op->offset));
			pos += op->size;
			(*ops)++;
		}
	}
	commit.type = REC_COMMIT;
	commit.seq = base;
	commit.durable_upto = (uint32_t)s->synced_end;
	commit.count = *ops;
	pos += record_encode(buf + pos, &commit, base,
			     seg_seed(s, s->data_end + pos));
	return pos;
}

static lk_status apply_group(struct lk_db *db, struct segment *s,
			     struct writer *first, size_t members)
{
	lk_status st = LK_OK;
	uint64_t seq = segtable_seq_last(db);

	segtable_wrlock(db);
	for (struct writer *w = first; st == LK_OK && members--;
	     w = members ? w->next : w) {
		lk_batch *b = w->batch;

		for (size_t i = 0; st == LK_OK && !w->failed && i < b->n; i++) {
			struct batch_op *op = &b->ops[i];
			struct record r = { 0 };
			struct ix_loc loc = { s->slot, op->offset, op->size };

			r.type = op->type;
			r.flags = op->flags;
			r.ns = op->ns;
			r.key = b->arena + op->key_at;
			r.key_len = op->key_len;
			r.seq = ++seq;
			r.size = op->size;
			r.rep_seg_seq = op->rep_seg_seq;
			r.rep_generation = op->rep_generation;
			r.rep_offset = op->rep_offset;
			st = segtable_apply(db, &r, loc, op->hash, segtable_key_eq, db);
		}
	}
	segtable_set_seq_last(db, seq);
	segtable_unlock(db);
	return st;
}

/* Writes, syncs and applies the batches of the first `members` writers
 * of the queue.  Called without write_mu: the queue may grow behind the
 * group meanwhile, so the group is a count, never "up to NULL", and no
 * loop reads the last member's next (a new committer may be setting it). */
static lk_status write_group(struct lk_db *db, struct writer *first,
			     size_t members)
{
	const lk_io *io = db->io;
	size_t bound = COMMIT_BYTES_MAX, n, k = members;
	int room, dels_only = first->dels_only; /* the group's are alike */
	int sync = db->opts.sync == LK_SYNC_ALWAYS && !first->nosync;
	uint64_t ops = 0, adds = 0;
	struct segment *s;
	lk_status st;

	for (struct writer *w = first; k--; w = k ? w->next : w) {
		if (w->failed)
			continue;
		bound += w->bytes;
		ops += w->batch->n;
		adds += w->adds;
	}
	mutex_lock(&db->commit->log_mu);
	if (atomic_load(&db->commit->halted)) {
		st = commit_refuse_halted(db, "commit");
		goto out;
	}
	if (!dels_only && db->commit->reserve_drawn) {
		st = err_set(LK_NOSPACE, "the device is full: its last space "
			     "is kept for deletes and compaction; delete and "
			     "compact to free space");
		goto out;
	}
	/* seq_last <= REC_SEQ_MAX: recovery read it from checked records */
	if (ops >= REC_SEQ_MAX - segtable_seq_last(db)) {
		st = err_set(LK_TOO_BIG, "sequence numbers exhausted (the log "
				         "claims %llu writes)",
			     (unsigned long long)segtable_seq_last(db));
		goto out;
	}
	s = segtable_active(db);
	if (!s || s->sealed ||
	    (s->data_end > SEG_HEADER_BYTES &&
	     s->data_end + bound > db->opts.segment_size_bytes)) {
		st = rotate(db);
		if (st != LK_OK)
			goto out;
		s = segtable_active(db);
	}
	st = ensure_buf(db, bound);
	if (st != LK_OK)
		goto out;
	/* Room for the group's new keys before it is written, so that
	 * applying it can never fail for memory.  Only the leader inserts,
	 * so room seen under the shared lock stays room (a compaction that
	 * drops a key meanwhile frees its slot too); readers are blocked
	 * only when the table really grows. */
	segtable_rdlock(db);
	room = index_has_room(segtable_index(db), adds);
	segtable_unlock(db);
	if (!room) {
		segtable_wrlock(db);
		st = segtable_reserve(db, adds);
		segtable_unlock(db);
		if (st != LK_OK)
			goto out;
	}

	n = encode_group(db, s, first, members, &ops);
	LK_ASSERT(n <= bound);
	if (sync && n <= LK_PREFILL_GROUP_BYTES_MAX)
		prefill(db, s, s->data_end + n);
	st = io->pwrite(io->ctx, s->file, db->commit->group_buf, n,
			s->data_end);
	if (st == LK_NOSPACE && dels_only &&
	    commit_reserve_draw_held(db, n) > 0) /* the same bytes again */
		st = io->pwrite(io->ctx, s->file, db->commit->group_buf, n,
				s->data_end);
	atomic_fetch_add(&db->commit->log_bytes_written, n);
	if (st != LK_OK) {
		err_prefix("appending to segment %s", s->name);
		goto out;
	}
	seg_hash_add(s, db->commit->group_buf, n, s->data_end);
	s->data_end += n;
	s->ops += ops;
	if (s->file_size < s->data_end)
		s->file_size = s->data_end;
	db->commit->wrote = 1;
	if (!first->nosync)
		db->commit->durable_pending = 1;
	if (sync) {
		uint64_t t0 = io->mono_us(io->ctx), took, avg;

		st = io->sync(io->ctx, s->file);
		took = io->mono_us(io->ctx) - t0;
		avg = atomic_load(&db->commit->sync_us);
		atomic_store(&db->commit->sync_us,
			     avg ? (3 * avg + took) / 4 : took);
		atomic_fetch_add(&db->commit->sync_calls, 1);
		if (st != LK_OK) {
			st = halt(db, s, st);
			goto out;
		}
		s->synced_end = s->data_end;
		db->commit->durable_pending = 0;
	}
	atomic_fetch_add(&db->commit->write_groups, 1);
	st = apply_group(db, s, first, members);
	if (st != LK_OK) {
		/* The group is on disk but the index could not take it (a
		 * read to confirm a key failed): the handle no longer matches
		 * its log, so it stops writing, as after a failed sync. */
		atomic_store(&db->commit->halted, LK_HALTED);
		err_prefix("applying a committed group to the index; writes "
			   "are halted until the database is reopened");
	}
out:
	mutex_unlock(&db->commit->log_mu);
	return st;
}

/* ---------------------------------------------------------------------- */
/* Waiters (the change feed)                                              */
/* ---------------------------------------------------------------------- */

/* After a group is applied (seq_last is published, sequentially
 * consistent): a waiter counts itself in before it reads seq_last, so
 * either it sees the new number or this sees it counted.  Costs one load
 * when nobody waits.  Called with no lock held. */
static void wake_waiters(struct lk_db *db)
{
	const lk_io *io = db->io;

	if (atomic_load(&db->commit->nwaiters) == 0)
		return;
	mutex_lock(&db->commit->wait_mu);
	for (struct commit_waiter *w = db->commit->waiters; w; w = w->next)
		io->wait_stop(io->ctx, w->wait);
	mutex_unlock(&db->commit->wait_mu);
}

void commit_waiter_add(struct lk_db *db, struct commit_waiter *w,
		       lk_io_wait *wait)
{
	LK_ASSERT(w->wait == NULL && wait != NULL);
	mutex_lock(&db->commit->wait_mu);
	w->wait = wait;
	w->next = db->commit->waiters;
	db->commit->waiters = w;
	atomic_fetch_add(&db->commit->nwaiters, 1);
	mutex_unlock(&db->commit->wait_mu);
}

void commit_waiter_remove(struct lk_db *db, struct commit_waiter *w)
{
	struct commit_waiter **p;

	mutex_lock(&db->commit->wait_mu);
	for (p = &db->commit->waiters; *p && *p != w; p = &(*p)->next)
		;
	LK_ASSERT(*p == w);
	*p = w->next;
	w->next = NULL;
	w->wait = NULL;
	atomic_fetch_sub(&db->commit->nwaiters, 1);
	mutex_unlock(&db->commit->wait_mu);
}

void commit_waiter_wake(struct lk_db *db, struct commit_waiter *w)
{
	mutex_lock(&db->commit->wait_mu);
	if (w->wait)
		db->io->wait_stop(db->io->ctx, w->wait);
	mutex_unlock(&db->commit->wait_mu);
}

/* How many of the writers queued from first, the head, one group takes:
 * up to LK_GROUP_BYTES_MAX and LK_BATCH_OPS_MAX, all durable or all
 * no-sync, all delete-only or none.  Under write_mu. */
static size_t group_members(const struct writer *first)
{
	size_t bytes = first->bytes, nops = first->batch->n, members = 1;

	for (const struct writer *w = first->next; w; w = w->next, members++) {
		if (bytes + w->bytes > LK_GROUP_BYTES_MAX ||
		    nops + w->batch->n > LK_BATCH_OPS_MAX ||
		    w->dels_only != first->dels_only ||
		    w->nosync != first->nosync)
			break;
		bytes += w->bytes;
		nops += w->batch->n;
	}
	return members;
}

/* The longest wait of a gathering head: a slow card's fdatasync can
 * take 100 ms, and a quarter of that is already more than a writer's
 * return to commit again takes; the bound also keeps a clock that jumps
 * (a suspend during a sync) from stalling commits. */
#define GATHER_WAIT_US_MAX 20000u

void commit_gathering(struct lk_db *db, struct commit_gathering *g)
{
	struct committer *c = db->commit;

	mutex_lock(&c->write_mu);
	g->queued = c->wq_len;
	g->head_gathering = c->wq_head && c->wq_head->gathering;
	g->led_by_arrival = c->led_by_arrival;
	g->expired = c->gather_expired;
	mutex_unlock(&c->write_mu);
}

/* An arrival wakes the gathering head: it leads now (the count is
 * reached), or is led (taken).  Under write_mu. */
static void gather_stop(struct lk_db *db, struct writer *head, int taken)
{
	lk_io_wait *w = head->gathering;

	if (taken)
		head->gathering = NULL;
	db->io->wait_stop(db->io->ctx, w);
}

/* The head waits for as many writers as writers_seen (Gathering), on
 * the I/O table's clock and sleep, without write_mu.  Returns 1 if it is
 * to lead its group, 0 if a writer it gathered took the lead.  Called
 * and returns with write_mu held. */
static int gather(struct lk_db *db, struct writer *self)
{
	struct committer *c = db->commit;
	const lk_io *io = db->io;
	uint64_t wait_us = atomic_load(&c->sync_us) / 4, until;
	lk_io_wait *w;
	int expired = 0;

	if (wait_us > GATHER_WAIT_US_MAX)
		wait_us = GATHER_WAIT_US_MAX;
	if (self->nosync || wait_us == 0 || c->wq_len >= c->writers_seen ||
	    group_members(self) < c->wq_len || atomic_load(&c->halted) ||
	    io->wait_new(io->ctx, &w) != LK_OK)
		return 1;
	until = io->mono_us(io->ctx) + wait_us;
	self->gathering = w;
	while (self->gathering && c->wq_len < c->writers_seen && !expired) {
		mutex_unlock(&c->write_mu);
		(void)io->wait_until(io->ctx, w, until); /* stopped, or not */
		expired = io->mono_us(io->ctx) >= until;
		mutex_lock(&c->write_mu);
	}
	io->wait_free(io->ctx, w); /* nobody else holds it now */
	if (!self->gathering)
		return 0;
	self->gathering = NULL;
	if (c->wq_len < c->writers_seen) {
		c->thinned = 1;
		c->gather_expired++;
	}
	return 1;
}

/* Waking.  A queued writer sleeps on a semaphore of its own, not on a
 * condition variable of write_mu: signalled under write_mu (as a
 * condition variable must be, if its waiter may return and destroy it as
 * soon as it sees its flag), it woke, often on the leader's own CPU and
 * before the leader, only to wait for that mutex: four writers of
 * durable puts on a 2-CPU guest took 13 context switches a sync, 9.4
 * now, and 11% more puts a second (a probe, medians of 6 runs; one
 * writer's rate unchanged; the bench's writers workload moved within
 * its noise).  So the leader sets each writer's status under write_mu,
 * lets go of it, then sets the writer's done (or head) flag and posts
 * its semaphore.  The writer reads its flags only after a sem_wait, and
 * waits once for each post it gets, so it never returns with a post to
 * come:
 *   a follower:            a done post, one wait;
 *   a head woken as such:  a head post, and a done post if an arrival
 *                          led its gathering: one wait, or two;
 *   a head from the start: a done post if an arrival led its
 *                          gathering: no wait, or one;
 *   the leader:            no post, no wait.
 * A done post to a head comes only from an arrival that found it
 * gathering, which it starts only after its head post.  glibc's
 * sem_post touches nothing of the semaphore once its waiter can see the
 * count but for a futex wake, harmless on reused memory (POSIX lets the
 * waiter destroy it then; glibc since 2.21). */
static void writer_wait(struct writer *w)
{
	while (sem_wait(&w->wake) != 0)
		LK_ASSERT(errno == EINTR);
}

/* Sets w's done (its status set already) or head flag and wakes it; w
 * may return before this does. */
static void writer_wake(struct writer *w, int done)
{
	if (done)
		w->done = 1;
	else
		w->head = 1;
	LK_ASSERT(sem_post(&w->wake) == 0);
}

/* Leads the group of the members writers queued from first, the head,
 * me among them: checks, writes, syncs and applies it outside write_mu,
 * gives each writer its status, and hands the queue on.  Called with
 * write_mu held; returns without it (Waking). */
static void lead(struct lk_db *db, struct writer *first, size_t members,
		 struct writer *me)
{
	struct committer *c = db->commit;
	struct writer *w, *end = NULL, *next;
	lk_status st;
	size_t i;

	mutex_unlock(&c->write_mu);
	st = budget_admit(db, first, members);
	if (st == LK_OK)
		st = check_conditions(db, first, members);
	if (st == LK_OK && group_ops(first, members) > 0) {
		st = write_group(db, first, members);
		if (st == LK_OK)
			wake_waiters(db);
	}

	mutex_lock(&c->write_mu);
	c->wq_len -= members;
	next = first;
	for (i = 0; i < members; i++)
		next = next->next;
	/* what the next head's group can hold: those queued that it takes,
	 * and this group's writers when they are of its kind */
	if (c->thinned || first->nosync)
		c->writers_seen = 0;
	else if (!next)
		c->writers_seen = members;
	else if (next->dels_only == first->dels_only && !next->nosync)
		c->writers_seen = members + group_members(next);
	else
		c->writers_seen = group_members(next);
	c->thinned = 0;
	for (w = first, i = 0; i < members; i++, w = w->next) {
		w->st = w->failed == REFUSED_BUDGET ? LK_TOO_BIG
			: st != LK_OK		   ? st
			: w->failed		   ? LK_CONFLICT
						   : LK_OK;
		if (w->st == LK_OK)
			atomic_fetch_add(&c->commits, 1);
	}
	me->done = 1;
	c->wq_head = next;
	if (!next)
		c->wq_tail = NULL;
	mutex_unlock(&c->write_mu);
	/* no later writer links itself to a member: the tail is past them */
	for (w = first; members--; w = end) {
		end = w->next; /* read before w's owner may return */
		if (w != me)
			writer_wake(w, 1);
	}
	if (next)
		writer_wake(next, 0); /* still queued: it cannot return yet */
}

lk_status commit_batch(struct lk_db *db, lk_batch *b)
{
	struct committer *c = db->commit;
	struct writer self, *first;
	lk_status st;

	if (!b || b->magic != BATCH_MAGIC)
		return err_set(LK_MISUSE, "not a batch (freed?)");
	if (db->readonly)
		return err_set(LK_READONLY, "the database was opened read-only");
	if (b->n == 0 && b->nconds == 0)
		return LK_OK;
	if (atomic_load(&db->commit->halted))
		return commit_refuse_halted(db, "commit");
	memset(&self, 0, sizeof self);
	self.batch = b;
	st = prepare(db, b, &self.bytes, &self.dels_only, &self.nosync,
		     &self.adds);
	if (st != LK_OK)
		goto out;
	LK_ASSERT(sem_init(&self.wake, 0, 0) == 0);

	mutex_lock(&c->write_mu);
	if (c->wq_tail)
		c->wq_tail->next = &self;
	else
		c->wq_head = &self;
	c->wq_tail = &self;
	c->wq_len++;
	first = c->wq_head;
	if (first->gathering && c->wq_len >= c->writers_seen &&
	    group_members(first) == c->wq_len) {
		/* the last of a gathering: this thread leads (Gathering) */
		gather_stop(db, first, 1);
		c->led_by_arrival++;
		lead(db, first, c->wq_len, &self);
	} else {
		if (first->gathering && c->wq_len >= c->writers_seen)
			gather_stop(db, first, 0); /* to lead without it */
		if (first != &self) { /* done by a leader, or the head */
			mutex_unlock(&c->write_mu);
			writer_wait(&self);
			LK_ASSERT(self.done || self.head);
			if (!self.done)
				mutex_lock(&c->write_mu);
		}
		if (!self.done) { /* the head, with write_mu */
			if (gather(db, &self)) {
				lead(db, &self, group_members(&self), &self);
			} else { /* led by a writer it gathered */
				mutex_unlock(&c->write_mu);
				writer_wait(&self);
			}
		}
	}
	LK_ASSERT(sem_destroy(&self.wake) == 0);
	st = self.st;
out:
	b->failed_cond = st == LK_CONFLICT ? (size_t)self.failed : 0;
	if (st == LK_CONFLICT || self.failed == REFUSED_BUDGET)
		err_set(st, "%s", self.why); /* in the committer's own thread */
	if (st == LK_OK)
		lk_batch_clear(b);
	else
		drop_packed(b);
	return st;
}

/* ---------------------------------------------------------------------- */
/* Syncing                                                                */
/* ---------------------------------------------------------------------- */

/* Syncs the active segment up to its data_end.  Caller holds log_mu. */
static lk_status sync_active(struct lk_db *db)
{
	LK_ASSERT(mutex_held(&db->commit->log_mu));

	struct segment *s = segtable_active(db);
	lk_status st;

	/* Damage found by the scrub refuses new writes, not the sync of
	 * those already acknowledged. */
	if (atomic_load(&db->commit->halted) == LK_HALTED)
		return commit_refuse_halted(db, "sync");
	if (!s || s->synced_end >= s->data_end)
		return LK_OK;
	st = db->io->sync(db->io->ctx, s->file);
	atomic_fetch_add(&db->commit->sync_calls, 1);
	if (st != LK_OK)
		return halt(db, s, st);
	s->synced_end = s->data_end;
	db->commit->durable_pending = 0;
	return LK_OK;
}

lk_status commit_sync_held(struct lk_db *db)
{
	return sync_active(db);
}

lk_status commit_sync(struct lk_db *db)
{
	lk_status st;

	if (db->readonly)
		return err_set(LK_READONLY, "the database was opened read-only");
	mutex_lock(&db->commit->log_mu);
	st = sync_active(db);
	mutex_unlock(&db->commit->log_mu);
	return st;
}

lk_status commit_seal_if_dead(struct lk_db *db)
{
	struct segment *s;
	uint64_t dead = 0;
	lk_status st = LK_OK;

	mutex_lock(&db->commit->log_mu);
	s = segtable_active(db);
	if (s) {
		segtable_rdlock(db);
		dead = s->data_end - SEG_HEADER_BYTES - s->live_bytes;
		segtable_unlock(db);
	}
	/* Commits alone are a few bytes a group: not worth a segment. */
	if (s && !atomic_load(&db->commit->halted) && dead * 8 > s->data_end)
		st = rotate_reserved(db); /* for a compaction: frees space */
	mutex_unlock(&db->commit->log_mu);
	return st;
}

/* ---------------------------------------------------------------------- */
/* The space reserve                                                      */
/* ---------------------------------------------------------------------- */

uint64_t commit_reserve_draw_held(struct lk_db *db, uint64_t need_bytes)
{
	uint64_t held = db->commit->reserve_held, keep = LOCKMARK_BYTES;

	LK_ASSERT(mutex_held(&db->commit->log_mu));
	/* The mark at the start of the LOCK file is not the reserve's. */
	if (db->readonly || held <= LOCKMARK_BYTES)
		return 0;
	if (need_bytes < RESERVE_STEP_BYTES)
		need_bytes = RESERVE_STEP_BYTES;
	if (need_bytes < held - LOCKMARK_BYTES)
		keep = held - need_bytes;
	db->commit->reserve_drawn = 1;
	if (reserve_shrink(db->io, db->lock, keep, &db->commit->reserve_held) !=
	    LK_OK)
		return 0;
	return held - keep;
}

void commit_reserve_fill(struct lk_db *db)
{
	mutex_lock(&db->commit->log_mu);
	if (!db->readonly && db->commit->reserve_held != db->opts.reserve_bytes)
		(void)reserve_fill(db->io, db->lock, db->opts.reserve_bytes,
				   &db->commit->reserve_held);
	if (db->commit->reserve_held >= db->opts.reserve_bytes)
		db->commit->reserve_drawn = 0;
	mutex_unlock(&db->commit->log_mu);
}

/* LK_SYNC_INTERVAL: syncs the active segment sync_interval_ms after the
 * end of its last sync (or the open), on the monotonic clock of the I/O
 * layer, so that a write acknowledged at t is durable by t + the interval
 * + one sync, however the wall clock jumps.  A failure halts the handle
 * like any other.  It sleeps without log_mu. */
static void syncer_main(void *arg)
{
	struct lk_db *db = arg;
	const lk_io *io = db->io;
	uint64_t interval_us = db->opts.sync_interval_ms * UINT64_C(1000);
	uint64_t due_us = io->mono_us(io->ctx) + interval_us;

	LK_ASSERT(interval_us > 0); /* lk_open checked the option */
	mutex_lock(&db->commit->log_mu);
	while (!db->commit->closing) {
		if (io->mono_us(io->ctx) >= due_us) {
			if (db->commit->durable_pending) /* not for no-sync */
				(void)sync_active(db);
			due_us = io->mono_us(io->ctx) + interval_us;
			continue;
		}
		mutex_unlock(&db->commit->log_mu);
		(void)io->wait_until(io->ctx, db->commit->syncer_wait, due_us);
		mutex_lock(&db->commit->log_mu);
	}
	mutex_unlock(&db->commit->log_mu);
}

lk_status commit_init(struct lk_db *db)
{
	const lk_io *io = db->io;
	struct committer *c;
	lk_status st;

	LK_ASSERT(db->commit == NULL);
	c = mem_calloc(1, sizeof *c);
	if (!c)
		return err_set(LK_NOMEM, "allocating the committers' state");
	mutex_init(&c->write_mu, LOCK_WRITE);
	mutex_init(&c->log_mu, LOCK_LOG);
	mutex_init(&c->wait_mu, LOCK_WAITERS);
	db->commit = c;
	if (db->readonly || db->opts.sync != LK_SYNC_INTERVAL)
		return LK_OK;
	st = io->wait_new(io->ctx, &c->syncer_wait);
	if (st == LK_OK) {
		st = io->thread_start(io->ctx, &c->syncer, syncer_main, db);
		if (st != LK_OK) {
			io->wait_free(io->ctx, c->syncer_wait);
			c->syncer_wait = NULL;
		}
	}
	if (st != LK_OK)
		err_prefix("starting the interval sync thread");
	return st;
}

void commit_stop(struct lk_db *db)
{
	const lk_io *io = db->io;

	if (!db->commit || !db->commit->syncer)
		return;
	mutex_lock(&db->commit->log_mu);
	db->commit->closing = 1;
	mutex_unlock(&db->commit->log_mu);
	io->wait_stop(io->ctx, db->commit->syncer_wait);
	io->thread_join(io->ctx, db->commit->syncer);
	io->wait_free(io->ctx, db->commit->syncer_wait);
	db->commit->syncer = NULL;
	db->commit->syncer_wait = NULL;
}

/* A clean close syncs the log and appends an empty commit whose
 * durable_upto covers everything before it, so that the next open can
 * tell damage in the last group from a torn tail.  Skipped when nothing
 * was written since open, so that reopening does not grow the log. */
lk_status commit_close(struct lk_db *db)
{
	struct record mark = { 0 };
	uint8_t buf[COMMIT_BYTES_MAX];
	struct segment *s;
	lk_status st;
	size_t n;

	if (db->readonly)
		return LK_OK;
	mutex_lock(&db->commit->log_mu);
	s = segtable_active(db);
	if (atomic_load(&db->commit->halted) == LK_HALTED) {
		/* No sync now: it would prove nothing (commit.c's top).  Under
		 * LK_SYNC_ALWAYS every acknowledged write is durable; under
		 * the other policies those not yet synced may be lost, and the
		 * caller may have had no write since to learn of it. */
		st = LK_OK;
		if (db->opts.sync != LK_SYNC_ALWAYS && s &&
		    s->synced_end < s->data_end)
			st = err_set(LK_HALTED,
				     "closing %s: an earlier fdatasync failed; "
				     "writes since the last one that succeeded "
				     "may be lost",
				     s->name);
		goto out;
	}
	/* Damage found by the scrub (LK_CORRUPT) refuses new writes, not
	 * the sync of those acknowledged; no close marker on top of it. */
	st = sync_active(db);
	if (st != LK_OK || !s || s->sealed || !db->commit->wrote ||
	    atomic_load(&db->commit->halted))
		goto out;
	mark.type = REC_COMMIT;
	mark.seq = s->hdr.record_seq_base;
	mark.durable_upto = (uint32_t)s->data_end;
	n = record_encode(buf, &mark, mark.seq, seg_seed(s, s->data_end));
	st = db->io->pwrite(db->io->ctx, s->file, buf, n, s->data_end);
	/* A close on a full device (after deletes, say) must not fail for
	 * a marker of a few bytes: it may draw on the reserve too. */
	if (st == LK_NOSPACE && commit_reserve_draw_held(db, n) > 0)
		st = db->io->pwrite(db->io->ctx, s->file, buf, n,
				    s->data_end);
	atomic_fetch_add(&db->commit->log_bytes_written, n);
	if (st == LK_OK) {
		seg_hash_add(s, buf, n, s->data_end);
		s->data_end += n;
		st = sync_active(db);
	}
out:
	mutex_unlock(&db->commit->log_mu);
	return st;
}

void commit_free(struct lk_db *db)
{
	struct committer *c = db->commit;

	if (!c)
		return;
	commit_stop(db);
	seg_close(c->next_seg, db->io);
	mem_free(c->group_buf);
	mem_free(c->zeroes);
	mutex_destroy(&c->write_mu);
	mutex_destroy(&c->log_mu);
	mutex_destroy(&c->wait_mu);
	mem_free(c);
	db->commit = NULL;
}

void commit_log_lock(struct lk_db *db)
{
	mutex_lock(&db->commit->log_mu);
}

void commit_log_unlock(struct lk_db *db)
{
	mutex_unlock(&db->commit->log_mu);
}

int commit_log_held(const struct lk_db *db)
{
	return mutex_held(&db->commit->log_mu);
}

lk_status commit_halted(const struct lk_db *db)
{
	return (lk_status)atomic_load(&db->commit->halted);
}

void commit_latch_damage(struct lk_db *db)
{
	int none = LK_OK;

	atomic_compare_exchange_strong(&db->commit->halted, &none, LK_CORRUPT);
}

uint64_t commit_count(const struct lk_db *db)
{
	return atomic_load(&db->commit->commits);
}

uint64_t commit_log_bytes(const struct lk_db *db)
{
	return atomic_load(&db->commit->log_bytes_written);
}

void commit_stats(const struct lk_db *db, lk_stats *stats)
{
	const struct committer *c = db->commit;

	stats->commits = atomic_load(&c->commits);
	stats->sync_calls = atomic_load(&c->sync_calls);
	stats->write_groups = atomic_load(&c->write_groups);
	stats->log_bytes_written = atomic_load(&c->log_bytes_written);
}
