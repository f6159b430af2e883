/* SPDX-License-Identifier: MIT */
/*
 * io_fault.c - the fault-injecting I/O layer of io_fault.h: a file system
 * in memory that knows what has reached stable storage, fails chosen
 * calls, and simulates power cuts.  Tests and fuzzers only.
 *
 * It is the file system in memory of memfs.h (the one io_memory.c is)
 * with what a crash test needs on top, through the core's hooks: the
 * gate counts and fails calls; prepare, commit and abort keep a pending
 * operation for every change; settle makes them durable; a reboot
 * decides them and kills the handles.  The POSIX semantics are the
 * core's.
 *
 * Method (after SQLite's test6.c and LevelDB's fault-injection Env)
 * ------
 *  - A file (finode, a memfs_inode) has two images: `dur`, what the disk
 *    holds for sure, and the core's `cur`, what reads see: dur with every
 *    pending operation applied.
 *    The pending operations (fop: a write with a copy of its bytes, or a
 *    truncate) are kept in order.  sync applies them to dur and frees
 *    them; a power cut decides each one (keep, drop, tear, zero, garble;
 *    keep or drop for a truncate), applies the survivors to dur in their
 *    order, and copies dur to cur.
 *  - Both images keep a capacity at least the largest size the file has
 *    had since its last sync (reserved by the write or truncate itself),
 *    and any subset of the pending operations applied to dur stays within
 *    that size, so sync and reboot never allocate: a reboot cannot fail,
 *    and LK_NOMEM comes only from the call that makes an operation,
 *    before anything changed.  Applying operations is linear in their
 *    size; a reboot also copies each file once.
 *  - A directory (fdir, a memfs_dir) has one name per name that is
 *    durable, live or named by a pending entry operation: name.durable is
 *    the inode the disk holds under that name (or NULL), name.live the one
 *    a running system sees.  The pending entry operations (dop: create,
 *    rename, unlink) point at names and pin them, never search by name,
 *    so that replaying a prefix of them onto the durable bindings needs no
 *    lookup and no allocation.
 *    dir_sync replays all of them; a power cut replays a prefix, as a
 *    journaling file system commits metadata in order; then live = dur
 *    and fnames that name nothing are freed.
 *  - Directories themselves are durable as soon as dir_open creates them
 *    (io_posix.c syncs the parent when it creates one), and are never
 *    removed before fault_free().
 *
 * Layout
 * ------
 *
 *   fault_fs
 *    core (memfs) --dirs--> fdir "db" --names--> name "LOCK" durable -+ live
 *    calls, rules           ops: dop -> dop      name "seg-1" ...     |  |
 *                           (create points at                         v  v
 *                            its inode)          finode (core: cur, refs)
 *    core.inodes ------------------------------> dur image,
 *                                                ops: fop -> fop -> ...
 *
 * Invariants
 * ----------
 *  - An inode's refs count exactly: the durable and live bindings of
 *    names that point at it, pending create operations that name it, and
 *    live file handles on it.  It is freed (with its pending operations)
 *    when they reach zero: an unlinked file lives as long as a handle or a
 *    pending create could still bring it back.
 *  - cur == dur with the inode's fops applied in order; for every name,
 *    live == durable with its directory's dops applied in order; a name's
 *    pins count the dops that point at it.
 *  - fs->pending_ops counts every fop and dop of the file system.
 *  - The core's mutex is held for every call and every hook.
 *  - A reboot marks every handle dead (memfs_kill_handles): it points at
 *    nothing any more, and every call on it but close fails with LK_IO.
 *    fault_free() frees the handles still open.
 *
 * Randomness
 * ----------
 * No choice depends on a running generator, so none depends on history:
 * a short write draws from (the file system's seed, the call's number
 * since fault_new()), a reboot from (the reboot's seed, the number of the
 * pending operation), numbered in the order they were made.  Same seed
 * and same calls give the same disk.
 *
 * Counting and failing
 * --------------------
 * Every call but close, dir_close and the clocks is counted by kind
 * before anything else, even when it then fails.  Then a cut
 * (fault_cut_at) fails it, then a rule (fault_fail), then a dead handle,
 * then the checks of the call itself.  Readings of io_fault.h chosen
 * here, for the sake of faithful crash tests:
 *  - An injected failure changes nothing, except that a failing pwrite
 *    first writes a prefix of 0 to n - 1 of its bytes (pending, like any
 *    write).  A failing sync or dir_sync leaves everything pending.
 *  - A failing sync or dir_sync returns LK_IO even under a rule armed
 *    with LK_NOSPACE, as io_posix.c turns every failed fsync into LK_IO.
 *  - When a call matches both its kind's rule and the FK_ANY rule, both
 *    count it and the kind's status wins.
 *  - fault_cut_at(fs, 0) disarms a cut still to come; one that happened
 *    lasts until fault_reboot(), as power does not come back by itself.
 *
 * The hooks are named after their slot of struct memfs_layer.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "io_fault.h"
#include "memfs.h"
#include "simclock.h"


/* A file stops growing here (LK_NOSPACE).  Each file keeps two images and
 * a crash explorer keeps thousands of file systems: 256 MiB is far past
 * any segment a test writes and keeps a runaway loop from eating the
 * machine. */
#define FILE_BYTES_MAX (UINT64_C(256) * 1024 * 1024)

/* Torn writes keep whole sectors of the file: the unit a disk writes
 * atomically. */
#define SECTOR_BYTES 512u

/* ---------------------------------------------------------------------- */
/* Types                                                                  */
/* ---------------------------------------------------------------------- */

enum fop_kind { FOP_WRITE, FOP_TRUNCATE };

/* A pending file operation. */
struct fop {
	struct fop *next;
	uint64_t id;            /* numbers the pending operations of the fs */
	enum fop_kind kind;
	uint64_t offset_bytes;  /* write: where; truncate: the new size */
	size_t size_bytes;      /* write: how many bytes follow */
	unsigned char bytes[];
};

struct finode {
	struct memfs_inode core; /* first: the core allocates finodes */
	struct memfs_img dur;
	struct fop *ops, **ops_tail; /* ops_tail valid while ops != NULL */
	size_t op_count;
};

enum dop_kind { DOP_CREATE, DOP_RENAME, DOP_UNLINK };

/* A pending directory entry operation; it pins the names it points at. */
struct dop {
	struct dop *next;
	uint64_t id;
	enum dop_kind kind;
	struct memfs_name *from;    /* create, unlink: the name */
	struct memfs_name *to;      /* rename only */
	struct memfs_inode *inode;  /* create only (holds a reference) */
};

struct fdir {
	struct memfs_dir core; /* first: the core allocates fdirs */
	struct dop *ops, **ops_tail; /* ops_tail valid while ops != NULL */
	size_t op_count;
};

/* A rule of fault_fail(). */
struct rule {
	uint64_t nth;   /* 0: disarmed */
	uint64_t seen;  /* calls counted since armed */
	lk_status status;
	int sticky;
};

struct fault_fs {
	struct memfs core; /* first: io.ctx and the hooks' fs point here */
	uint64_t seed;
	uint64_t calls[FK_KINDS];
	uint64_t calls_total;
	struct rule rules[FK_KINDS + 1]; /* [FK_ANY] counts every kind */
	uint64_t cut_nth, cut_seen; /* cut_nth 0: no cut armed */
	uint64_t cut_call;          /* the call the power went at; 0: none */
	uint64_t failed_at_us;      /* mono_us of the first failed call */
	uint64_t op_seq;            /* the last pending operation's id */
	size_t pending_ops;
};

/* The kinds of io_fault.h are the calls of memfs.h. */
_Static_assert((int)FK_DIR_OPEN == (int)MEMFS_CALL_DIR_OPEN &&
	       (int)FK_DIR_LIST == (int)MEMFS_CALL_DIR_LIST &&
	       (int)FK_DIR_SYNC == (int)MEMFS_CALL_DIR_SYNC &&
	       (int)FK_RENAME == (int)MEMFS_CALL_RENAME &&
	       (int)FK_UNLINK == (int)MEMFS_CALL_UNLINK &&
	       (int)FK_LOCK == (int)MEMFS_CALL_LOCK &&
	       (int)FK_OPEN == (int)MEMFS_CALL_OPEN &&
	       (int)FK_READ == (int)MEMFS_CALL_READ &&
	       (int)FK_WRITE == (int)MEMFS_CALL_WRITE &&
	       (int)FK_SYNC == (int)MEMFS_CALL_SYNC &&
	       (int)FK_TRUNCATE == (int)MEMFS_CALL_TRUNCATE &&
	       (int)FK_SIZE == (int)MEMFS_CALL_SIZE &&
	       (int)FK_KINDS == (int)MEMFS_CALL_COUNT,
	       "fault kinds are memfs calls");

static struct fault_fs *fault_of(struct memfs *core)
{
	return (struct fault_fs *)core;
}

static struct finode *finode_of(struct memfs_inode *inode)
{
	return (struct finode *)inode;
}

static struct fdir *fdir_of(struct memfs_dir *dir)
{
	return (struct fdir *)dir;
}

/* ---------------------------------------------------------------------- */
/* Randomness                                                             */
/* ---------------------------------------------------------------------- */

/* splitmix64: a step, and its finaliser as a hash. */
static uint64_t mix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static uint64_t next64(uint64_t *state)
{
	*state += UINT64_C(0x9e3779b97f4a7c15);
	return mix64(*state);
}

/* One draw for thing `id` under `seed`, independent of every other. */
static uint64_t draw(uint64_t seed, uint64_t id)
{
	return mix64(seed ^ mix64(id));
}

/* ---------------------------------------------------------------------- */
/* The gate                                                               */
/* ---------------------------------------------------------------------- */

/* Counts a call against rule r; 1 if r fails it. */
static int rule_fires(struct rule *r)
{
	if (r->nth == 0)
		return 0;
	r->seen++;
	if (r->seen < r->nth)
		return 0;
	if (!r->sticky)
		r->nth = 0; /* fired once: disarmed */
	return 1;
}

/*
 * Counts the call, then fails it if the power is cut or a rule of
 * fault_fail() says so.  On failure sets the detail and returns the
 * status; *call_no gets the call's number (for the short write of a
 * failing pwrite).
 */
static lk_status count_and_fail(struct fault_fs *fs, enum fault_kind k,
				const char *call, const char *what,
				uint64_t *call_no)
{
	lk_status st = LK_OK;
	int by_kind, by_any;

	assert(k < FK_KINDS);
	fs->calls[k]++;
	*call_no = ++fs->calls_total;
	if (fs->cut_call == 0 && fs->cut_nth != 0 &&
	    ++fs->cut_seen >= fs->cut_nth)
		fs->cut_call = *call_no;
	if (fs->cut_call != 0 && fs->failed_at_us == 0)
		fs->failed_at_us = simclock_now_us(fs->core.clock);
	if (fs->cut_call != 0)
		return err_set(LK_IO, "%s %s: power cut at call %llu", call,
			       what, (unsigned long long)fs->cut_call);
	/* Both rules count the call, whichever fires. */
	by_kind = rule_fires(&fs->rules[k]);
	by_any = rule_fires(&fs->rules[FK_ANY]);
	if (by_kind)
		st = fs->rules[k].status;
	else if (by_any)
		st = fs->rules[FK_ANY].status;
	else
		return LK_OK;
	if (fs->failed_at_us == 0)
		fs->failed_at_us = simclock_now_us(fs->core.clock);
	/* As io_posix.c: a failed sync is LK_IO whatever errno said. */
	if (k == FK_SYNC || k == FK_DIR_SYNC)
		st = LK_IO;
	return err_set(st, "%s %s: %s (injected at call %llu)", call, what,
		       st == LK_NOSPACE ? "No space left on device"
					: "Input/output error",
		       (unsigned long long)*call_no);
}

/* The layer's gate: every counted call passes here first. */
static lk_status fault_gate(struct memfs *core, enum memfs_call call,
			    const char *verb, const char *what,
			    const lk_io_file *file,
			    const struct memfs_change *ch)
{
	struct fault_fs *fs = fault_of(core);
	uint64_t call_no, end;
	lk_status rc;
	size_t prefix;

	rc = count_and_fail(fs, (enum fault_kind)call, verb, what, &call_no);
	if (rc == LK_OK || call != MEMFS_CALL_WRITE || fs->cut_call != 0)
		return rc;
	/* An injected failure of a pwrite: a short write first.  The
	 * prefix is a pending write like any other (if memory allows). */
	end = ch->offset + ch->n;
	if (file->dead || !file->writable || ch->n <= 1 || end < ch->offset ||
	    end > FILE_BYTES_MAX)
		return rc;
	prefix = (size_t)(draw(fs->seed, call_no) % ch->n);
	if (prefix > 0)
		(void)memfs_inode_write(core, file->inode, ch->buf, prefix,
					ch->offset);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Pending file operations                                                */
/* ---------------------------------------------------------------------- */

static void img_apply(struct memfs_img *img, const struct fop *op)
{
	if (op->kind == FOP_WRITE)
		memcpy(memfs_img_span(img, op->offset_bytes, op->size_bytes),
		       op->bytes, op->size_bytes);
	else
		memfs_img_truncate(img, op->offset_bytes);
}

/* Little-endian whatever the host, so that a seed garbles the same bytes
 * on every machine (test_fault: garbled_bytes_are_the_same_on_every_host). */
static void fill_random(unsigned char *p, size_t n, uint64_t state)
{
	while (n > 0) {
		uint64_t v = next64(&state);
		size_t k = n < sizeof v ? n : sizeof v;

		for (size_t i = 0; i < k; i++)
			p[i] = (unsigned char)(v >> (8 * i));
		p += k;
		n -= k;
	}
}

static void inode_free_ops(struct fault_fs *fs, struct finode *inode)
{
	struct fop *op, *next;

	for (op = inode->ops; op != NULL; op = next) {
		next = op->next;
		mem_free(op);
	}
	assert(fs->pending_ops >= inode->op_count);
	fs->pending_ops -= inode->op_count;
	inode->ops = NULL;
	inode->op_count = 0;
}

/* Appends a pending operation to the inode; the core has applied it to
 * cur already. */
static void inode_push(struct fault_fs *fs, struct finode *inode,
		       struct fop *op)
{
	op->id = ++fs->op_seq;
	op->next = NULL;
	if (inode->ops == NULL)
		inode->ops_tail = &inode->ops;
	*inode->ops_tail = op;
	inode->ops_tail = &op->next;
	inode->op_count++;
	fs->pending_ops++;
}

/* Makes the pending operations durable: sync, and a reboot that keeps
 * everything.  Never allocates (see the header comment). */
static void inode_settle_all(struct fault_fs *fs, struct finode *inode)
{
	const struct fop *op;

	for (op = inode->ops; op != NULL; op = op->next)
		img_apply(&inode->dur, op);
	inode_free_ops(fs, inode);
	assert(inode->dur.size_bytes == inode->core.cur.size_bytes);
}

/* A reboot's decision on one pending write, applied to the durable image. */
static void reboot_write(struct finode *inode, const struct fop *op,
			 enum fault_mode mode, uint64_t seed,
			 struct fault_outcome *o)
{
	uint64_t r, first, last, end = op->offset_bytes + op->size_bytes;
	unsigned char *p;
	size_t keep;

	if (mode == FAULT_KEEP_ALL) {
		img_apply(&inode->dur, op);
		o->writes_kept++;
		return;
	}
	if (mode == FAULT_DROP_ALL) {
		o->writes_dropped++;
		return;
	}
	r = draw(seed, op->id);
	switch (r % 5) {
	case 0:
		img_apply(&inode->dur, op);
		o->writes_kept++;
		break;
	case 1:
		o->writes_dropped++;
		break;
	case 2:
		/* The sector boundaries strictly inside the write are
		 * first..last (in sectors); none: the tear keeps nothing. */
		first = op->offset_bytes / SECTOR_BYTES + 1;
		last = (end - 1) / SECTOR_BYTES;
		if (first > last) {
			o->writes_dropped++;
			break;
		}
		keep = (size_t)((first + mix64(r) % (last - first + 1)) *
					SECTOR_BYTES -
				op->offset_bytes);
		assert(keep > 0 && keep < op->size_bytes);
		memcpy(memfs_img_span(&inode->dur, op->offset_bytes, keep),
		       op->bytes, keep);
		o->writes_torn++;
		break;
	case 3:
		memset(memfs_img_span(&inode->dur, op->offset_bytes,
				      op->size_bytes),
		       0, op->size_bytes);
		o->writes_zeroed++;
		break;
	default:
		p = memfs_img_span(&inode->dur, op->offset_bytes,
				   op->size_bytes);
		fill_random(p, op->size_bytes, mix64(r ^ 0x6761726261676521u));
		o->writes_garbled++;
		break;
	}
}

static void reboot_inode(struct fault_fs *fs, struct finode *inode,
			 enum fault_mode mode, uint64_t seed,
			 struct fault_outcome *o)
{
	struct memfs_img *cur = &inode->core.cur;
	const struct fop *op;
	int keep;

	for (op = inode->ops; op != NULL; op = op->next) {
		if (op->kind == FOP_WRITE) {
			reboot_write(inode, op, mode, seed, o);
			continue;
		}
		if (mode == FAULT_RANDOM)
			keep = (int)(draw(seed, op->id) & 1);
		else
			keep = mode == FAULT_KEEP_ALL;
		if (keep) {
			memfs_img_truncate(&inode->dur, op->offset_bytes);
			o->truncates_kept++;
		} else {
			o->truncates_dropped++;
		}
	}
	inode_free_ops(fs, inode);
	/* What the running system sees after the reboot is the disk. */
	assert(inode->dur.size_bytes <= cur->capacity_bytes);
	if (inode->dur.size_bytes > 0)
		memcpy(cur->bytes, inode->dur.bytes,
		       (size_t)inode->dur.size_bytes);
	cur->size_bytes = inode->dur.size_bytes;
	inode->core.locked = 0;
}

/* ---------------------------------------------------------------------- */
/* Pending directory operations                                           */
/* ---------------------------------------------------------------------- */

static void dir_push(struct fault_fs *fs, struct fdir *dir, struct dop *op)
{
	op->id = ++fs->op_seq;
	op->next = NULL;
	if (dir->ops == NULL)
		dir->ops_tail = &dir->ops;
	*dir->ops_tail = op;
	dir->ops_tail = &op->next;
	dir->op_count++;
	fs->pending_ops++;
}

/* Replays one entry operation onto the durable bindings.  The operations
 * made a valid sequence on the live bindings, and a prefix of them
 * replayed onto the durable ones passes through the same states, hence
 * the assertions. */
static void dop_replay(struct fault_fs *fs, const struct dop *op)
{
	struct memfs_inode *inode;

	switch (op->kind) {
	case DOP_CREATE:
		assert(op->from->durable == NULL);
		memfs_inode_get(op->inode);
		op->from->durable = op->inode;
		break;
	case DOP_RENAME:
		assert(op->from->durable != NULL && op->from != op->to);
		inode = op->to->durable;
		op->to->durable = op->from->durable;
		op->from->durable = NULL;
		memfs_inode_put(&fs->core, inode);
		break;
	case DOP_UNLINK:
		assert(op->from->durable != NULL);
		inode = op->from->durable;
		op->from->durable = NULL;
		memfs_inode_put(&fs->core, inode);
		break;
	}
}

/* Makes the first `keep` pending entry operations durable and undoes the
 * rest: dir_sync (keep all) and a reboot.  Never allocates. */
static void dir_settle(struct fault_fs *fs, struct fdir *dir, size_t keep,
		       struct fault_outcome *o)
{
	struct memfs_inode *old;
	struct memfs_name *fn;
	struct dop *op, *next;
	size_t i = 0;

	assert(keep <= dir->op_count);
	for (op = dir->ops; op != NULL && i < keep; op = op->next, i++)
		dop_replay(fs, op);
	if (o != NULL) {
		o->dirops_kept += keep;
		o->dirops_undone += dir->op_count - keep;
	}
	/* live = durable, taking the new reference before dropping the
	 * old. */
	for (fn = dir->core.names; fn != NULL; fn = fn->next) {
		if (fn->live == fn->durable)
			continue;
		old = fn->live;
		memfs_inode_get(fn->durable);
		fn->live = fn->durable;
		memfs_inode_put(&fs->core, old);
	}
	for (op = dir->ops; op != NULL; op = next) {
		next = op->next;
		if (op->kind == DOP_CREATE)
			memfs_inode_put(&fs->core, op->inode);
		op->from->pins--;
		if (op->to != NULL)
			op->to->pins--;
		mem_free(op);
	}
	assert(fs->pending_ops >= dir->op_count);
	fs->pending_ops -= dir->op_count;
	dir->ops = NULL;
	dir->op_count = 0;
	/* No operation points at a name any more: drop the empty ones. */
	memfs_names_prune(&dir->core);
}

/* ---------------------------------------------------------------------- */
/* The hooks of the core                                                  */
/* ---------------------------------------------------------------------- */

/* Allocates the pending operation of a change (and the durable image's
 * room for a write or truncate), before the core changes anything. */
static lk_status fault_prepare(struct memfs *core, struct memfs_change *ch)
{
	struct finode *inode;
	struct fop *fop;
	uint64_t end;

	switch (ch->kind) {
	case MEMFS_CREATE:
	case MEMFS_RENAME:
	case MEMFS_UNLINK:
		ch->record = mem_calloc(1, sizeof(struct dop));
		return ch->record != NULL ? LK_OK : LK_NOMEM;
	case MEMFS_WRITE:
	case MEMFS_TRUNCATE:
		break;
	}
	(void)core;
	inode = finode_of(ch->inode);
	end = ch->kind == MEMFS_WRITE ? ch->offset + ch->n : ch->offset;
	fop = mem_alloc(sizeof *fop + (ch->kind == MEMFS_WRITE ? ch->n : 0));
	if (fop == NULL)
		return LK_NOMEM;
	if (memfs_img_reserve(&inode->dur, end, FILE_BYTES_MAX) != LK_OK) {
		mem_free(fop); /* a grown capacity changes nothing visible */
		return LK_NOMEM;
	}
	fop->kind = ch->kind == MEMFS_WRITE ? FOP_WRITE : FOP_TRUNCATE;
	fop->offset_bytes = ch->offset;
	fop->size_bytes = ch->kind == MEMFS_WRITE ? ch->n : 0;
	if (ch->kind == MEMFS_WRITE)
		memcpy(fop->bytes, ch->buf, ch->n);
	ch->record = fop;
	return LK_OK;
}

/* The core made the change: its operation becomes pending. */
static void fault_commit(struct memfs *core, struct memfs_change *ch)
{
	struct fault_fs *fs = fault_of(core);
	struct dop *dop;

	if (ch->kind == MEMFS_WRITE || ch->kind == MEMFS_TRUNCATE) {
		inode_push(fs, finode_of(ch->inode), ch->record);
		return;
	}
	dop = ch->record;
	dop->from = ch->from;
	dop->from->pins++;
	if (ch->kind == MEMFS_CREATE) {
		dop->kind = DOP_CREATE;
		dop->inode = ch->inode;
		memfs_inode_get(dop->inode); /* the create's reference */
	} else if (ch->kind == MEMFS_RENAME) {
		dop->kind = DOP_RENAME;
		dop->to = ch->to;
		dop->to->pins++;
	} else {
		dop->kind = DOP_UNLINK;
	}
	dir_push(fs, fdir_of(ch->dir), dop);
}

static void fault_abort(struct memfs *core, struct memfs_change *ch)
{
	(void)core;
	mem_free(ch->record);
	ch->record = NULL;
}

static void fault_settle_inode(struct memfs *core, struct memfs_inode *inode)
{
	inode_settle_all(fault_of(core), finode_of(inode));
}

static void fault_settle_dir(struct memfs *core, struct memfs_dir *dir)
{
	struct fdir *d = fdir_of(dir);

	dir_settle(fault_of(core), d, d->op_count, NULL);
}

static void fault_inode_free(struct memfs *core, struct memfs_inode *inode)
{
	struct finode *f = finode_of(inode);

	inode_free_ops(fault_of(core), f);
	mem_free(f->dur.bytes);
}

/* fault_free(): no reference counting, everything goes. */
static void fault_dir_free(struct memfs *core, struct memfs_dir *dir)
{
	struct dop *op, *next;

	(void)core;
	for (op = fdir_of(dir)->ops; op != NULL; op = next) {
		next = op->next;
		mem_free(op);
	}
}

static const struct memfs_layer fault_layer = {
	.name = "fault",
	.file_bytes_max = FILE_BYTES_MAX,
	.inode_bytes = sizeof(struct finode),
	.dir_bytes = sizeof(struct fdir),
	.gate = fault_gate,
	.prepare = fault_prepare,
	.commit = fault_commit,
	.abort = fault_abort,
	.settle_inode = fault_settle_inode,
	.settle_dir = fault_settle_dir,
	.inode_free = fault_inode_free,
	.dir_free = fault_dir_free,
};

/* ---------------------------------------------------------------------- */
/* The file system                                                        */
/* ---------------------------------------------------------------------- */

lk_status fault_new(struct fault_fs **out, uint64_t seed)
{
	struct fault_fs *fs;

	assert(out != NULL);
	*out = NULL;
	fs = mem_calloc(1, sizeof *fs);
	if (fs == NULL)
		return err_set(LK_NOMEM, "fault file system: out of memory");
	if (memfs_init(&fs->core, &fault_layer) != LK_OK) {
		mem_free(fs);
		return LK_NOMEM;
	}
	fs->seed = seed;
	*out = fs;
	return LK_OK;
}

void fault_free(struct fault_fs *fs)
{
	if (fs == NULL)
		return;
	memfs_fini(&fs->core);
	mem_free(fs);
}

const lk_io *fault_io(struct fault_fs *fs)
{
	assert(fs != NULL && fs->core.io.ctx == fs);
	return &fs->core.io;
}

uint64_t fault_calls(const struct fault_fs *fs, enum fault_kind k)
{
	uint64_t n;

	assert(fs != NULL && k <= FK_ANY);
	memfs_enter(&fs->core);
	n = k == FK_ANY ? fs->calls_total : fs->calls[k];
	memfs_leave(&fs->core);
	return n;
}

void fault_fail(struct fault_fs *fs, enum fault_kind k, uint64_t nth,
		lk_status status, int sticky)
{
	struct rule *r;

	assert(fs != NULL && k <= FK_ANY);
	assert(nth == 0 || status == LK_IO || status == LK_NOSPACE);
	memfs_enter(&fs->core);
	r = &fs->rules[k];
	r->nth = nth;
	r->seen = 0;
	r->status = status;
	r->sticky = sticky != 0;
	memfs_leave(&fs->core);
}

void fault_cut_at(struct fault_fs *fs, uint64_t nth)
{
	assert(fs != NULL);
	memfs_enter(&fs->core);
	/* A cut that happened stays until the reboot: power does not come
	 * back by disarming. */
	fs->cut_nth = nth;
	fs->cut_seen = 0;
	memfs_leave(&fs->core);
}

int fault_is_cut(const struct fault_fs *fs)
{
	int cut;

	assert(fs != NULL);
	memfs_enter(&fs->core);
	cut = fs->cut_call != 0;
	memfs_leave(&fs->core);
	return cut;
}

void fault_reboot(struct fault_fs *fs, enum fault_mode mode, uint64_t seed,
		  struct fault_outcome *out)
{
	struct fault_outcome o;
	struct memfs_inode *inode;
	struct memfs_dir *node;
	struct fdir *dir;
	size_t keep;

	assert(fs != NULL);
	assert(mode == FAULT_RANDOM || mode == FAULT_KEEP_ALL ||
	       mode == FAULT_DROP_ALL);
	memset(&o, 0, sizeof o);
	memfs_enter(&fs->core);
	/* Files first: deciding the directories may free inodes. */
	for (inode = fs->core.inodes; inode != NULL; inode = inode->next)
		reboot_inode(fs, finode_of(inode), mode, seed, &o);
	for (node = fs->core.dirs; node != NULL; node = node->next) {
		dir = fdir_of(node);
		if (dir->op_count == 0)
			continue;
		if (mode == FAULT_KEEP_ALL)
			keep = dir->op_count;
		else if (mode == FAULT_DROP_ALL)
			keep = 0;
		else
			keep = (size_t)(draw(seed, dir->ops->id) %
					((uint64_t)dir->op_count + 1));
		dir_settle(fs, dir, keep, &o);
	}
	/* Every handle dies; its reference goes, and with the last one an
	 * unlinked file. */
	memfs_kill_handles(&fs->core);
	for (inode = fs->core.inodes; inode != NULL; inode = inode->next)
		assert(finode_of(inode)->op_count == 0 && !inode->locked);
	assert(fs->pending_ops == 0);
	memset(fs->rules, 0, sizeof fs->rules);
	fs->cut_nth = fs->cut_seen = fs->cut_call = 0;
	memfs_leave(&fs->core);
	if (out != NULL)
		*out = o;
}

size_t fault_pending(const struct fault_fs *fs)
{
	size_t n;

	assert(fs != NULL);
	memfs_enter(&fs->core);
	n = fs->pending_ops;
	memfs_leave(&fs->core);
	return n;
}

void fault_set_time_ms(struct fault_fs *fs, uint64_t now_ms)
{
	assert(fs != NULL);
	memfs_enter(&fs->core);
	fs->core.now_ms = now_ms;
	memfs_leave(&fs->core);
}

void fault_advance_us(struct fault_fs *fs, uint64_t us)
{
	assert(fs != NULL);
	simclock_advance_us(fs->core.clock, us);
}

void fault_set_capacity(struct fault_fs *fs, uint64_t bytes)
{
	assert(fs != NULL);
	memfs_set_capacity(&fs->core, bytes);
}

uint64_t fault_failed_at_us(const struct fault_fs *fs)
{
	uint64_t at;

	assert(fs != NULL);
	memfs_enter(&fs->core);
	at = fs->failed_at_us;
	memfs_leave(&fs->core);
	return at;
}
