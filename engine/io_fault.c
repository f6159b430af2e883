/* SPDX-License-Identifier: MIT */
/*
 * io_fault.c - the fault-injecting I/O layer of io_fault.h: a file system
 * in memory that knows what has reached stable storage, fails chosen
 * calls, and simulates power cuts.  Tests and fuzzers only.
 *
 * It is a file system of its own, not a wrapper of io_memory.c, because
 * it has to keep two states of everything: what a running system sees
 * and what the disk would hold after a power cut.  It keeps the POSIX
 * semantics of io_memory.c on top: open without create of a missing file
 * is LK_NOT_FOUND, exclusive create of an existing one LK_EXISTS; unlinked
 * and replaced files stay readable through their open handles; rename
 * replaces its target atomically; pwrite past the end and a growing
 * truncate fill the gap with zeroes; a lock is exclusive across every
 * handle of the file system and released by close.
 *
 * Method (after SQLite's test6.c and LevelDB's fault-injection Env)
 * ------
 *  - A file (finode) has two images: `dur`, what the disk holds for sure,
 *    and `cur`, what reads see: dur with every pending operation applied.
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
 *  - A directory (fdir) has one fname per name that is durable, live or
 *    named by a pending entry operation: fname.dur is the inode the disk
 *    holds under that name (or NULL), fname.live the one a running system
 *    sees.  The pending entry operations (dop: create, rename, unlink)
 *    point at fnames, never search by name, so that replaying a prefix of
 *    them onto the .dur fields needs no lookup and no allocation.
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
 *   fault_fs --dirs--> fdir "db" --names--> fname "LOCK"  dur ---+  live --+
 *    mutex              ops: dop -> dop      fname "seg-1" ...    |         |
 *    calls, rules       (create points at                        v         v
 *    handles             its inode)          finode (refs, locked) <-------+
 *    inodes -----------------------------------> dur image, cur image,
 *                                                ops: fop -> fop -> ...
 *    files: lk_io_file (inode, dead) ...
 *    dir_handles: lk_io_dir (dir, dead) ...
 *
 * Invariants
 * ----------
 *  - An inode's refs count exactly: fname.dur and fname.live fields that
 *    point at it, pending create operations that name it, and live file
 *    handles on it.  It is freed (with its pending operations) when they
 *    reach zero: an unlinked file lives as long as a handle or a pending
 *    create could still bring it back.
 *  - cur == dur with the inode's fops applied in order; for every fname,
 *    live == dur with its directory's dops applied in order.
 *  - fs->pending_ops counts every fop and dop of the file system.
 *  - One mutex per file system, held for every call, because the engine
 *    calls from several threads; dir_list releases it before calling
 *    back, so the callback may use the file system.
 *  - A reboot marks every handle dead: it points at nothing any more, and
 *    every call on it but close fails with LK_IO.  fault_free() frees the
 *    handles still open.
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
 * The methods are named ffs_<slot of lk_io>.
 */
#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "io_fault.h"
#include "simclock.h"


/* A file stops growing here (LK_NOSPACE).  Each file keeps two images and
 * a crash explorer keeps thousands of file systems: 256 MiB is far past
 * any segment a test writes and keeps a runaway loop from eating the
 * machine. */
#define FILE_BYTES_MAX (UINT64_C(256) * 1024 * 1024)

/* The first buffer of an image; buffers then double. */
#define FILE_CAPACITY_MIN_BYTES 4096u

/* Torn writes keep whole sectors of the file: the unit a disk writes
 * atomically. */
#define SECTOR_BYTES 512u

/* ---------------------------------------------------------------------- */
/* Types                                                                  */
/* ---------------------------------------------------------------------- */

struct fimg {
	unsigned char *bytes;
	size_t capacity_bytes;
	uint64_t size_bytes;
};

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
	struct finode *next, *prev; /* fs->inodes */
	struct fimg dur, cur;
	struct fop *ops, **ops_tail;
	size_t op_count;
	uint32_t refs;
	int locked;
};

struct fname {
	struct fname *next;
	struct finode *dur, *live;
	char name[];
};

enum dop_kind { DOP_CREATE, DOP_RENAME, DOP_UNLINK };

/* A pending directory entry operation. */
struct dop {
	struct dop *next;
	uint64_t id;
	enum dop_kind kind;
	struct fname *from;    /* create, unlink: the name */
	struct fname *to;      /* rename only */
	struct finode *inode;  /* create only (holds a reference) */
};

struct fdir {
	struct fdir *next;
	struct fname *names; /* newest first */
	struct dop *ops, **ops_tail;
	size_t op_count;
	char path[];
};

/* A rule of fault_fail(). */
struct rule {
	uint64_t nth;   /* 0: disarmed */
	uint64_t seen;  /* calls counted since armed */
	lk_status status;
	int sticky;
};

struct lk_io_file {
	struct lk_io_file *next, *prev; /* fs->files */
	struct finode *inode;           /* NULL once dead */
	int writable;
	int holds_lock;
	int dead;
	char name[IO_NAME_BYTES_MAX + 1];  /* for error details */
};

struct lk_io_dir {
	struct lk_io_dir *next, *prev; /* fs->dir_handles */
	struct fdir *dir;              /* NULL once dead */
	int dead;
};

struct fault_fs {
	struct simclock *clock; /* first: simclock_fill_io() finds it here */
	lk_io io; /* io.ctx points back here */
	pthread_mutex_t mutex;
	struct fdir *dirs;
	struct finode *inodes;
	struct lk_io_file *files;
	struct lk_io_dir *dir_handles;
	uint64_t seed;
	uint64_t now_ms;
	uint64_t calls[FK_KINDS];
	uint64_t calls_total;
	struct rule rules[FK_KINDS + 1]; /* [FK_ANY] counts every kind */
	uint64_t cut_nth, cut_seen; /* cut_nth 0: no cut armed */
	uint64_t cut_call;          /* the call the power went at; 0: none */
	uint64_t failed_at_us;      /* mono_us of the first failed call */
	uint64_t op_seq;            /* the last pending operation's id */
	size_t pending_ops;
};

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
/* Helpers (called with the mutex held unless said otherwise)             */
/* ---------------------------------------------------------------------- */

static void fs_enter(const struct fault_fs *fs)
{
	int rc = pthread_mutex_lock((pthread_mutex_t *)&fs->mutex);

	assert(rc == 0);
	(void)rc;
}

static void fs_leave(const struct fault_fs *fs)
{
	int rc = pthread_mutex_unlock((pthread_mutex_t *)&fs->mutex);

	assert(rc == 0);
	(void)rc;
}

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
 * The gate every counted call passes first: counts it, then fails it if
 * the power is cut or a rule of fault_fail() says so.  On failure sets the
 * detail and returns the status; *call_no gets the call's number (for the
 * short write of a failing pwrite).
 */
static lk_status gate(struct fault_fs *fs, enum fault_kind k,
		      const char *call, const char *what, uint64_t *call_no)
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
		fs->failed_at_us = simclock_now_us(fs->clock);
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
		fs->failed_at_us = simclock_now_us(fs->clock);
	/* As io_posix.c: a failed sync is LK_IO whatever errno said. */
	if (k == FK_SYNC || k == FK_DIR_SYNC)
		st = LK_IO;
	return err_set(st, "%s %s: %s (injected at call %llu)", call, what,
		       st == LK_NOSPACE ? "No space left on device"
					: "Input/output error",
		       (unsigned long long)*call_no);
}

static lk_status dead_file(const lk_io_file *file, const char *call)
{
	return err_set(LK_IO, "%s %s: handle from before the power cut", call,
		       file->name);
}

static lk_status dead_dir(const char *call)
{
	return err_set(LK_IO, "%s: directory handle from before the power "
			      "cut", call);
}

/* ---- images ---- */

/* Makes room for `end` bytes; LK_NOMEM leaves the image as it was. */
static lk_status img_reserve(struct fimg *img, uint64_t end)
{
	uint64_t capacity;
	unsigned char *bytes;

	assert(end <= FILE_BYTES_MAX);
	if (end <= img->capacity_bytes)
		return LK_OK;
	capacity = img->capacity_bytes ? img->capacity_bytes
				       : FILE_CAPACITY_MIN_BYTES;
	while (capacity < end)
		capacity *= 2;
	if (capacity > FILE_BYTES_MAX)
		capacity = FILE_BYTES_MAX;
	bytes = mem_realloc(img->bytes, (size_t)capacity);
	if (bytes == NULL)
		return LK_NOMEM;
	img->bytes = bytes;
	img->capacity_bytes = (size_t)capacity;
	return LK_OK;
}

/* The n bytes at offset, within capacity, after zeroing any gap past the
 * end and growing the size over them: the caller fills them. */
static unsigned char *img_span(struct fimg *img, uint64_t offset, size_t n)
{
	uint64_t end = offset + n;

	assert(n > 0 && end <= img->capacity_bytes);
	if (offset > img->size_bytes)
		memset(img->bytes + (size_t)img->size_bytes, 0,
		       (size_t)(offset - img->size_bytes));
	if (end > img->size_bytes)
		img->size_bytes = end;
	return img->bytes + (size_t)offset;
}

static void img_truncate(struct fimg *img, uint64_t size)
{
	assert(size <= img->capacity_bytes);
	if (size > img->size_bytes)
		memset(img->bytes + (size_t)img->size_bytes, 0,
		       (size_t)(size - img->size_bytes));
	img->size_bytes = size;
}

static void img_apply(struct fimg *img, const struct fop *op)
{
	if (op->kind == FOP_WRITE)
		memcpy(img_span(img, op->offset_bytes, op->size_bytes),
		       op->bytes, op->size_bytes);
	else
		img_truncate(img, op->offset_bytes);
}

static void fill_random(unsigned char *p, size_t n, uint64_t state)
{
	while (n > 0) {
		uint64_t v = next64(&state);
		size_t k = n < sizeof v ? n : sizeof v;

		memcpy(p, &v, k);
		p += k;
		n -= k;
	}
}

/* ---- inodes ---- */

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
	inode->ops_tail = &inode->ops;
	inode->op_count = 0;
}

static void inode_get(struct finode *inode)
{
	if (inode != NULL)
		inode->refs++;
}

static void inode_put(struct fault_fs *fs, struct finode *inode)
{
	if (inode == NULL)
		return;
	assert(inode->refs > 0);
	if (--inode->refs > 0)
		return;
	inode_free_ops(fs, inode);
	if (inode->prev != NULL)
		inode->prev->next = inode->next;
	else
		fs->inodes = inode->next;
	if (inode->next != NULL)
		inode->next->prev = inode->prev;
	mem_free(inode->dur.bytes);
	mem_free(inode->cur.bytes);
	mem_free(inode);
}

/* Makes the pending operations durable: sync, and a reboot that keeps
 * everything.  Never allocates (see the header comment). */
static void inode_settle_all(struct fault_fs *fs, struct finode *inode)
{
	const struct fop *op;

	for (op = inode->ops; op != NULL; op = op->next)
		img_apply(&inode->dur, op);
	inode_free_ops(fs, inode);
	assert(inode->dur.size_bytes == inode->cur.size_bytes);
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
		memcpy(img_span(&inode->dur, op->offset_bytes, keep),
		       op->bytes, keep);
		o->writes_torn++;
		break;
	case 3:
		memset(img_span(&inode->dur, op->offset_bytes, op->size_bytes),
		       0, op->size_bytes);
		o->writes_zeroed++;
		break;
	default:
		p = img_span(&inode->dur, op->offset_bytes, op->size_bytes);
		fill_random(p, op->size_bytes, mix64(r ^ 0x6761726261676521u));
		o->writes_garbled++;
		break;
	}
}

static void reboot_inode(struct fault_fs *fs, struct finode *inode,
			 enum fault_mode mode, uint64_t seed,
			 struct fault_outcome *o)
{
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
			img_truncate(&inode->dur, op->offset_bytes);
			o->truncates_kept++;
		} else {
			o->truncates_dropped++;
		}
	}
	inode_free_ops(fs, inode);
	/* What the running system sees after the reboot is the disk. */
	assert(inode->dur.size_bytes <= inode->cur.capacity_bytes);
	if (inode->dur.size_bytes > 0)
		memcpy(inode->cur.bytes, inode->dur.bytes,
		       (size_t)inode->dur.size_bytes);
	inode->cur.size_bytes = inode->dur.size_bytes;
	inode->locked = 0;
}

/* Appends a pending operation to the inode and applies it to cur.  Both
 * images must have room for it. */
static void inode_push(struct fault_fs *fs, struct finode *inode,
		       struct fop *op)
{
	op->id = ++fs->op_seq;
	op->next = NULL;
	*inode->ops_tail = op;
	inode->ops_tail = &op->next;
	inode->op_count++;
	fs->pending_ops++;
	img_apply(&inode->cur, op);
}

/* A pending write of n bytes at offset; LK_NOMEM leaves all as it was.
 * The caller checked offset + n against FILE_BYTES_MAX. */
static lk_status inode_write(struct fault_fs *fs, struct finode *inode,
			     const void *buf, size_t n, uint64_t offset)
{
	struct fop *op;

	assert(n > 0 && offset + n <= FILE_BYTES_MAX);
	op = mem_alloc(sizeof *op + n);
	if (op == NULL)
		return LK_NOMEM;
	if (img_reserve(&inode->cur, offset + n) != LK_OK ||
	    img_reserve(&inode->dur, offset + n) != LK_OK) {
		mem_free(op); /* a grown capacity changes nothing visible */
		return LK_NOMEM;
	}
	op->kind = FOP_WRITE;
	op->offset_bytes = offset;
	op->size_bytes = n;
	memcpy(op->bytes, buf, n);
	inode_push(fs, inode, op);
	return LK_OK;
}

/* ---- directories ---- */

static struct fdir *dir_find(struct fault_fs *fs, const char *path)
{
	struct fdir *dir;

	for (dir = fs->dirs; dir != NULL; dir = dir->next)
		if (strcmp(dir->path, path) == 0)
			return dir;
	return NULL;
}

static struct fname *name_find(struct fdir *dir, const char *name)
{
	struct fname *fn;

	for (fn = dir->names; fn != NULL; fn = fn->next)
		if (strcmp(fn->name, name) == 0)
			return fn;
	return NULL;
}

static struct fname *name_new(const char *name)
{
	size_t len = strlen(name);
	struct fname *fn = mem_calloc(1, sizeof *fn + len + 1);

	if (fn != NULL)
		memcpy(fn->name, name, len + 1);
	return fn;
}

static void dir_push(struct fault_fs *fs, struct fdir *dir, struct dop *op)
{
	op->id = ++fs->op_seq;
	op->next = NULL;
	*dir->ops_tail = op;
	dir->ops_tail = &op->next;
	dir->op_count++;
	fs->pending_ops++;
}

/* Replays one entry operation onto the durable names.  The operations
 * made a valid sequence on the live names, and a prefix of them replayed
 * onto the durable names passes through the same states, hence the
 * assertions. */
static void dop_replay(struct fault_fs *fs, const struct dop *op)
{
	struct finode *inode;

	switch (op->kind) {
	case DOP_CREATE:
		assert(op->from->dur == NULL);
		inode_get(op->inode);
		op->from->dur = op->inode;
		break;
	case DOP_RENAME:
		assert(op->from->dur != NULL && op->from != op->to);
		inode = op->to->dur;
		op->to->dur = op->from->dur;
		op->from->dur = NULL;
		inode_put(fs, inode);
		break;
	case DOP_UNLINK:
		assert(op->from->dur != NULL);
		inode = op->from->dur;
		op->from->dur = NULL;
		inode_put(fs, inode);
		break;
	}
}

/* Makes the first `keep` pending entry operations durable and undoes the
 * rest: dir_sync (keep all) and a reboot.  Never allocates. */
static void dir_settle(struct fault_fs *fs, struct fdir *dir, size_t keep,
		       struct fault_outcome *o)
{
	struct fname *fn, **link;
	struct dop *op, *next;
	struct finode *old;
	size_t i = 0;

	assert(keep <= dir->op_count);
	for (op = dir->ops; op != NULL && i < keep; op = op->next, i++)
		dop_replay(fs, op);
	if (o != NULL) {
		o->dirops_kept += keep;
		o->dirops_undone += dir->op_count - keep;
	}
	/* live = dur, taking the new reference before dropping the old. */
	for (fn = dir->names; fn != NULL; fn = fn->next) {
		if (fn->live == fn->dur)
			continue;
		old = fn->live;
		inode_get(fn->dur);
		fn->live = fn->dur;
		inode_put(fs, old);
	}
	for (op = dir->ops; op != NULL; op = next) {
		next = op->next;
		if (op->kind == DOP_CREATE)
			inode_put(fs, op->inode);
		mem_free(op);
	}
	assert(fs->pending_ops >= dir->op_count);
	fs->pending_ops -= dir->op_count;
	dir->ops = NULL;
	dir->ops_tail = &dir->ops;
	dir->op_count = 0;
	/* No operation points at a name any more: drop the empty ones. */
	for (link = &dir->names; *link != NULL;) {
		fn = *link;
		if (fn->dur == NULL && fn->live == NULL) {
			*link = fn->next;
			mem_free(fn);
		} else {
			link = &fn->next;
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Directories                                                            */
/* ---------------------------------------------------------------------- */

static lk_status ffs_dir_open(void *ctx, const char *path, int create,
			      lk_io_dir **dir)
{
	struct fault_fs *fs = ctx;
	struct fdir *node;
	lk_io_dir *d = NULL;
	uint64_t call_no;
	lk_status rc;
	size_t len;

	assert(fs != NULL && path != NULL && dir != NULL);
	*dir = NULL;
	fs_enter(fs);
	rc = gate(fs, FK_DIR_OPEN, "open directory", path, &call_no);
	if (rc != LK_OK)
		goto fail;
	len = strlen(path);
	if (len == 0) {
		rc = err_set(LK_INVALID, "open directory: empty path");
		goto fail;
	}
	d = mem_calloc(1, sizeof *d);
	if (d == NULL) {
		rc = err_set(LK_NOMEM, "open directory %s: out of memory",
			     path);
		goto fail;
	}
	node = dir_find(fs, path);
	if (node == NULL && !create) {
		rc = err_set(LK_NOT_FOUND, "open directory %s: no such "
			     "directory", path);
		goto fail;
	}
	if (node == NULL) {
		/* Durable at once: see the header comment. */
		node = mem_calloc(1, sizeof *node + len + 1);
		if (node == NULL) {
			rc = err_set(LK_NOMEM, "mkdir %s: out of memory", path);
			goto fail;
		}
		memcpy(node->path, path, len + 1);
		node->ops_tail = &node->ops;
		node->next = fs->dirs;
		fs->dirs = node;
	}
	d->dir = node;
	d->next = fs->dir_handles;
	if (d->next != NULL)
		d->next->prev = d;
	fs->dir_handles = d;
	fs_leave(fs);
	*dir = d;
	return LK_OK;
fail:
	fs_leave(fs);
	mem_free(d);
	return rc;
}

static lk_status ffs_dir_list(void *ctx, lk_io_dir *dir, lk_io_list_fn fn,
			      void *arg)
{
	typedef char name_buf[IO_NAME_BYTES_MAX + 1];
	struct fault_fs *fs = ctx;
	struct fname *n;
	name_buf *names;
	size_t count = 0, i;
	uint64_t call_no;
	lk_status rc;

	assert(fs != NULL && dir != NULL && fn != NULL);
	fs_enter(fs);
	rc = gate(fs, FK_DIR_LIST, "list", dir->dead ? "?" : dir->dir->path,
		  &call_no);
	if (rc == LK_OK && dir->dead)
		rc = dead_dir("list");
	if (rc != LK_OK) {
		fs_leave(fs);
		return rc;
	}
	for (n = dir->dir->names; n != NULL; n = n->next)
		if (n->live != NULL)
			count++;
	names = mem_calloc(count ? count : 1, sizeof *names);
	if (names == NULL) {
		rc = err_set(LK_NOMEM, "list %s: out of memory",
			     dir->dir->path);
		fs_leave(fs);
		return rc;
	}
	i = 0;
	for (n = dir->dir->names; n != NULL; n = n->next)
		if (n->live != NULL)
			memcpy(names[i++], n->name, strlen(n->name) + 1);
	fs_leave(fs);
	for (i = 0; i < count && rc == LK_OK; i++)
		rc = fn(arg, names[i]);
	mem_free(names);
	return rc;
}

static lk_status ffs_dir_sync(void *ctx, lk_io_dir *dir)
{
	struct fault_fs *fs = ctx;
	uint64_t call_no;
	lk_status rc;

	assert(fs != NULL && dir != NULL);
	fs_enter(fs);
	rc = gate(fs, FK_DIR_SYNC, "fsync directory",
		  dir->dead ? "?" : dir->dir->path, &call_no);
	if (rc != LK_OK) {
		/* The operations stay pending: the reboot decides. */
	} else if (dir->dead) {
		rc = dead_dir("fsync directory");
	} else {
		dir_settle(fs, dir->dir, dir->dir->op_count, NULL);
	}
	fs_leave(fs);
	return rc;
}

static void ffs_dir_close(void *ctx, lk_io_dir *dir)
{
	struct fault_fs *fs = ctx;

	if (dir == NULL)
		return;
	fs_enter(fs);
	if (dir->prev != NULL)
		dir->prev->next = dir->next;
	else
		fs->dir_handles = dir->next;
	if (dir->next != NULL)
		dir->next->prev = dir->prev;
	fs_leave(fs);
	mem_free(dir);
}

static lk_status ffs_rename(void *ctx, lk_io_dir *dir, const char *from,
			    const char *to)
{
	struct fault_fs *fs = ctx;
	struct fname *src, *dst, *made = NULL;
	struct finode *old;
	struct dop *op = NULL;
	uint64_t call_no;
	lk_status rc;

	assert(fs != NULL && dir != NULL && from != NULL && to != NULL);
	fs_enter(fs);
	rc = gate(fs, FK_RENAME, "rename", from, &call_no);
	if (rc == LK_OK && dir->dead)
		rc = dead_dir("rename");
	if (rc == LK_OK)
		rc = io_check_name("rename", from);
	if (rc == LK_OK)
		rc = io_check_name("rename to", to);
	if (rc != LK_OK)
		goto out;
	src = name_find(dir->dir, from);
	if (src == NULL || src->live == NULL) {
		rc = err_set(LK_NOT_FOUND, "rename %s -> %s: no such file",
			     from, to);
		goto out;
	}
	if (strcmp(from, to) == 0)
		goto out; /* POSIX: renaming a file onto itself does nothing */
	dst = name_find(dir->dir, to);
	op = mem_calloc(1, sizeof *op);
	if (dst == NULL)
		dst = made = name_new(to);
	if (op == NULL || dst == NULL) {
		mem_free(op);
		mem_free(made);
		rc = err_set(LK_NOMEM, "rename %s -> %s: out of memory", from,
			     to);
		goto out;
	}
	if (made != NULL) {
		made->next = dir->dir->names;
		dir->dir->names = made;
	}
	op->kind = DOP_RENAME;
	op->from = src;
	op->to = dst;
	dir_push(fs, dir->dir, op);
	old = dst->live;
	dst->live = src->live;
	src->live = NULL;
	inode_put(fs, old);
out:
	fs_leave(fs);
	return rc;
}

static lk_status ffs_unlink(void *ctx, lk_io_dir *dir, const char *name)
{
	struct fault_fs *fs = ctx;
	struct finode *old;
	struct fname *fn;
	struct dop *op;
	uint64_t call_no;
	lk_status rc;

	assert(fs != NULL && dir != NULL && name != NULL);
	fs_enter(fs);
	rc = gate(fs, FK_UNLINK, "unlink", name, &call_no);
	if (rc == LK_OK && dir->dead)
		rc = dead_dir("unlink");
	if (rc == LK_OK)
		rc = io_check_name("unlink", name);
	if (rc != LK_OK)
		goto out;
	fn = name_find(dir->dir, name);
	if (fn == NULL || fn->live == NULL) {
		rc = err_set(LK_NOT_FOUND, "unlink %s: no such file", name);
		goto out;
	}
	op = mem_calloc(1, sizeof *op);
	if (op == NULL) {
		rc = err_set(LK_NOMEM, "unlink %s: out of memory", name);
		goto out;
	}
	op->kind = DOP_UNLINK;
	op->from = fn;
	dir_push(fs, dir->dir, op);
	old = fn->live;
	fn->live = NULL;
	inode_put(fs, old);
out:
	fs_leave(fs);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Opening and closing files                                              */
/* ---------------------------------------------------------------------- */

/* Opens or creates `name` into the caller's *f, with the mutex held; on
 * failure nothing changed. */
static lk_status open_name(struct fault_fs *fs, struct fdir *dir,
			   const char *name, uint32_t flags, lk_io_file *f)
{
	struct fname *fn = name_find(dir, name), *made = NULL;
	struct finode *inode = fn != NULL ? fn->live : NULL;
	struct dop *op;

	if (inode != NULL && (flags & LK_IO_EXCL))
		return err_set(LK_EXISTS, "open %s: file exists", name);
	if (inode == NULL && !(flags & LK_IO_CREATE))
		return err_set(LK_NOT_FOUND, "open %s: no such file", name);
	if (inode == NULL) {
		inode = mem_calloc(1, sizeof *inode);
		op = mem_calloc(1, sizeof *op);
		if (fn == NULL)
			fn = made = name_new(name);
		if (inode == NULL || op == NULL || fn == NULL) {
			mem_free(inode);
			mem_free(op);
			mem_free(made);
			return err_set(LK_NOMEM, "open %s: out of memory",
				       name);
		}
		if (made != NULL) {
			made->next = dir->names;
			dir->names = made;
		}
		inode->ops_tail = &inode->ops;
		inode->next = fs->inodes;
		if (inode->next != NULL)
			inode->next->prev = inode;
		fs->inodes = inode;
		inode->refs = 2; /* the live name and the create */
		fn->live = inode;
		op->kind = DOP_CREATE;
		op->from = fn;
		op->inode = inode;
		dir_push(fs, dir, op);
	}
	inode->refs++;
	f->inode = inode;
	f->writable = (flags & LK_IO_WRITE) != 0;
	memcpy(f->name, name, strlen(name) + 1);
	f->next = fs->files;
	if (f->next != NULL)
		f->next->prev = f;
	fs->files = f;
	return LK_OK;
}

static void file_unlink_handle(struct fault_fs *fs, lk_io_file *f)
{
	if (f->prev != NULL)
		f->prev->next = f->next;
	else
		fs->files = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	f->next = f->prev = NULL;
}

static lk_status ffs_open(void *ctx, lk_io_dir *dir, const char *name,
			  uint32_t flags, lk_io_file **file)
{
	struct fault_fs *fs = ctx;
	lk_io_file *f = NULL;
	uint64_t call_no;
	lk_status rc;

	assert(fs != NULL && dir != NULL && name != NULL && file != NULL);
	assert((flags & ~(LK_IO_WRITE | LK_IO_CREATE | LK_IO_EXCL)) == 0);
	assert(!(flags & LK_IO_CREATE) || (flags & LK_IO_WRITE));
	assert(!(flags & LK_IO_EXCL) || (flags & LK_IO_CREATE));
	*file = NULL;
	fs_enter(fs);
	rc = gate(fs, FK_OPEN, "open", name, &call_no);
	if (rc == LK_OK && dir->dead)
		rc = dead_dir("open");
	if (rc == LK_OK)
		rc = io_check_name("open", name);
	if (rc == LK_OK) {
		f = mem_calloc(1, sizeof *f);
		if (f == NULL)
			rc = err_set(LK_NOMEM, "open %s: out of memory", name);
	}
	if (rc == LK_OK)
		rc = open_name(fs, dir->dir, name, flags, f);
	fs_leave(fs);
	if (rc != LK_OK) {
		mem_free(f);
		return rc;
	}
	*file = f;
	return LK_OK;
}

static lk_status ffs_lock(void *ctx, lk_io_dir *dir, const char *name,
			  lk_io_file **file)
{
	struct fault_fs *fs = ctx;
	lk_io_file *f = NULL;
	uint64_t call_no;
	lk_status rc;

	assert(fs != NULL && dir != NULL && name != NULL && file != NULL);
	*file = NULL;
	fs_enter(fs);
	rc = gate(fs, FK_LOCK, "lock", name, &call_no);
	if (rc == LK_OK && dir->dead)
		rc = dead_dir("lock");
	if (rc == LK_OK)
		rc = io_check_name("lock", name);
	if (rc == LK_OK) {
		f = mem_calloc(1, sizeof *f);
		if (f == NULL)
			rc = err_set(LK_NOMEM, "lock %s: out of memory", name);
	}
	if (rc == LK_OK)
		rc = open_name(fs, dir->dir, name, LK_IO_WRITE | LK_IO_CREATE,
			       f);
	if (rc == LK_OK && f->inode->locked) {
		/* The file stays, as a real one would: only the handle goes. */
		file_unlink_handle(fs, f);
		inode_put(fs, f->inode);
		rc = err_set(LK_BUSY, "%s is held by another handle", name);
	}
	if (rc == LK_OK) {
		f->inode->locked = 1;
		f->holds_lock = 1;
	}
	fs_leave(fs);
	if (rc != LK_OK) {
		mem_free(f);
		return rc;
	}
	*file = f;
	return LK_OK;
}

static void ffs_close(void *ctx, lk_io_file *file)
{
	struct fault_fs *fs = ctx;

	if (file == NULL)
		return;
	fs_enter(fs);
	file_unlink_handle(fs, file);
	if (!file->dead) {
		if (file->holds_lock)
			file->inode->locked = 0;
		inode_put(fs, file->inode);
	}
	fs_leave(fs);
	mem_free(file);
}

/* ---------------------------------------------------------------------- */
/* Reading and writing                                                    */
/* ---------------------------------------------------------------------- */

static lk_status ffs_pread(void *ctx, lk_io_file *file, void *buf, size_t n,
			   uint64_t offset, size_t *got)
{
	struct fault_fs *fs = ctx;
	const struct fimg *img;
	uint64_t avail, call_no;
	lk_status rc;

	assert(fs != NULL && file != NULL && got != NULL);
	assert(buf != NULL || n == 0);
	*got = 0;
	fs_enter(fs);
	rc = gate(fs, FK_READ, "pread", file->name, &call_no);
	if (rc == LK_OK && file->dead)
		rc = dead_file(file, "pread");
	if (rc == LK_OK) {
		img = &file->inode->cur;
		avail = offset < img->size_bytes ? img->size_bytes - offset
						 : 0;
		*got = avail < n ? (size_t)avail : n;
		if (*got > 0)
			memcpy(buf, img->bytes + (size_t)offset, *got);
	}
	fs_leave(fs);
	return rc;
}

static lk_status ffs_pwrite(void *ctx, lk_io_file *file, const void *buf,
			    size_t n, uint64_t offset)
{
	struct fault_fs *fs = ctx;
	uint64_t end, call_no;
	size_t prefix;
	lk_status rc;

	assert(fs != NULL && file != NULL && (buf != NULL || n == 0));
	end = offset + n;
	if (end < offset)
		end = UINT64_MAX; /* overflow: fails the limit below */
	fs_enter(fs);
	rc = gate(fs, FK_WRITE, "pwrite", file->name, &call_no);
	if (rc != LK_OK && fs->cut_call == 0 && !file->dead &&
	    file->writable && n > 1 && end <= FILE_BYTES_MAX) {
		/* An injected failure: a short write first.  The prefix is a
		 * pending write like any other (if memory allows). */
		prefix = (size_t)(draw(fs->seed, call_no) % n);
		if (prefix > 0)
			(void)inode_write(fs, file->inode, buf, prefix,
					  offset);
	}
	if (rc != LK_OK)
		goto out;
	if (file->dead) {
		rc = dead_file(file, "pwrite");
	} else if (!file->writable) {
		rc = err_set(LK_IO, "pwrite %s: opened read-only", file->name);
	} else if (n == 0) {
		rc = LK_OK; /* as POSIX: a write of nothing extends nothing */
	} else if (end > FILE_BYTES_MAX) {
		rc = err_set(LK_NOSPACE, "pwrite %s: a fault file stops at "
			     "%llu bytes", file->name,
			     (unsigned long long)FILE_BYTES_MAX);
	} else if (inode_write(fs, file->inode, buf, n, offset) != LK_OK) {
		rc = err_set(LK_NOMEM, "pwrite %s: out of memory for %zu "
			     "bytes", file->name, n);
	}
out:
	fs_leave(fs);
	return rc;
}

static lk_status ffs_sync(void *ctx, lk_io_file *file)
{
	struct fault_fs *fs = ctx;
	uint64_t call_no;
	lk_status rc;

	assert(fs != NULL && file != NULL);
	fs_enter(fs);
	rc = gate(fs, FK_SYNC, "fdatasync", file->name, &call_no);
	if (rc != LK_OK) {
		/* Some of the data may be on disk, some not (a failed
		 * fdatasync says nothing more): the operations stay pending
		 * and the reboot decides. */
	} else if (file->dead) {
		rc = dead_file(file, "fdatasync");
	} else {
		inode_settle_all(fs, file->inode);
	}
	fs_leave(fs);
	return rc;
}

static lk_status ffs_truncate(void *ctx, lk_io_file *file, uint64_t size)
{
	struct fault_fs *fs = ctx;
	struct finode *inode;
	struct fop *op = NULL;
	uint64_t call_no;
	lk_status rc;

	assert(fs != NULL && file != NULL);
	fs_enter(fs);
	rc = gate(fs, FK_TRUNCATE, "truncate", file->name, &call_no);
	if (rc != LK_OK)
		goto out;
	if (file->dead) {
		rc = dead_file(file, "truncate");
		goto out;
	}
	if (!file->writable) {
		rc = err_set(LK_IO, "truncate %s: opened read-only",
			     file->name);
		goto out;
	}
	if (size > FILE_BYTES_MAX) {
		rc = err_set(LK_NOSPACE, "truncate %s: a fault file stops at "
			     "%llu bytes", file->name,
			     (unsigned long long)FILE_BYTES_MAX);
		goto out;
	}
	inode = file->inode;
	op = mem_alloc(sizeof *op);
	if (op == NULL || img_reserve(&inode->cur, size) != LK_OK ||
	    img_reserve(&inode->dur, size) != LK_OK) {
		mem_free(op);
		rc = err_set(LK_NOMEM, "truncate %s: out of memory",
			     file->name);
		goto out;
	}
	op->kind = FOP_TRUNCATE;
	op->offset_bytes = size;
	op->size_bytes = 0;
	inode_push(fs, inode, op);
out:
	fs_leave(fs);
	return rc;
}

static lk_status ffs_size(void *ctx, lk_io_file *file, uint64_t *size)
{
	struct fault_fs *fs = ctx;
	uint64_t call_no;
	lk_status rc;

	assert(fs != NULL && file != NULL && size != NULL);
	*size = 0;
	fs_enter(fs);
	rc = gate(fs, FK_SIZE, "fstat", file->name, &call_no);
	if (rc == LK_OK && file->dead)
		rc = dead_file(file, "fstat");
	if (rc == LK_OK)
		*size = file->inode->cur.size_bytes;
	fs_leave(fs);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Clocks                                                                 */
/* ---------------------------------------------------------------------- */

static uint64_t ffs_now_ms(void *ctx)
{
	struct fault_fs *fs = ctx;
	uint64_t now_ms;

	fs_enter(fs);
	now_ms = fs->now_ms;
	fs_leave(fs);
	return now_ms;
}


/* ---------------------------------------------------------------------- */
/* The file system                                                        */
/* ---------------------------------------------------------------------- */

static const lk_io ffs_methods = {
	.version = LK_IO_VERSION,
	.ctx = NULL, /* set per file system */
	.dir_open = ffs_dir_open,
	.dir_list = ffs_dir_list,
	.dir_sync = ffs_dir_sync,
	.dir_close = ffs_dir_close,
	.rename = ffs_rename,
	.unlink = ffs_unlink,
	.lock = ffs_lock,
	.open = ffs_open,
	.pread = ffs_pread,
	.pwrite = ffs_pwrite,
	.sync = ffs_sync,
	.truncate = ffs_truncate,
	.size = ffs_size,
	.close = ffs_close,
	.now_ms = ffs_now_ms,
	/* mono_us, threads and sleeps: simclock_fill_io() */
};

lk_status fault_new(struct fault_fs **out, uint64_t seed)
{
	struct fault_fs *fs;

	assert(out != NULL);
	*out = NULL;
	fs = mem_calloc(1, sizeof *fs);
	if (fs == NULL)
		return err_set(LK_NOMEM, "fault file system: out of memory");
	if (simclock_new(&fs->clock) != LK_OK) {
		mem_free(fs);
		return LK_NOMEM;
	}
	if (pthread_mutex_init(&fs->mutex, NULL) != 0) {
		simclock_free(fs->clock);
		mem_free(fs);
		return err_set(LK_NOMEM, "fault file system: no mutex");
	}
	fs->io = ffs_methods;
	fs->io.ctx = fs;
	simclock_fill_io(&fs->io);
	fs->seed = seed;
	fs->now_ms = lk_io_posix()->now_ms(NULL);
	*out = fs;
	return LK_OK;
}

void fault_free(struct fault_fs *fs)
{
	struct lk_io_file *f, *next_f;
	struct lk_io_dir *d, *next_d;
	struct fname *fn, *next_fn;
	struct fdir *dir, *next_dir;
	struct finode *inode, *next_inode;
	struct dop *op, *next_op;

	if (fs == NULL)
		return;
	/* No reference counting here: everything goes. */
	for (f = fs->files; f != NULL; f = next_f) {
		next_f = f->next;
		mem_free(f);
	}
	for (d = fs->dir_handles; d != NULL; d = next_d) {
		next_d = d->next;
		mem_free(d);
	}
	for (dir = fs->dirs; dir != NULL; dir = next_dir) {
		next_dir = dir->next;
		for (op = dir->ops; op != NULL; op = next_op) {
			next_op = op->next;
			mem_free(op);
		}
		for (fn = dir->names; fn != NULL; fn = next_fn) {
			next_fn = fn->next;
			mem_free(fn);
		}
		mem_free(dir);
	}
	for (inode = fs->inodes; inode != NULL; inode = next_inode) {
		next_inode = inode->next;
		inode_free_ops(fs, inode);
		mem_free(inode->dur.bytes);
		mem_free(inode->cur.bytes);
		mem_free(inode);
	}
	pthread_mutex_destroy(&fs->mutex);
	simclock_free(fs->clock);
	mem_free(fs);
}

const lk_io *fault_io(struct fault_fs *fs)
{
	assert(fs != NULL && fs->io.ctx == fs);
	return &fs->io;
}

uint64_t fault_calls(const struct fault_fs *fs, enum fault_kind k)
{
	uint64_t n;

	assert(fs != NULL && k <= FK_ANY);
	fs_enter(fs);
	n = k == FK_ANY ? fs->calls_total : fs->calls[k];
	fs_leave(fs);
	return n;
}

void fault_fail(struct fault_fs *fs, enum fault_kind k, uint64_t nth,
		lk_status status, int sticky)
{
	struct rule *r;

	assert(fs != NULL && k <= FK_ANY);
	assert(nth == 0 || status == LK_IO || status == LK_NOSPACE);
	fs_enter(fs);
	r = &fs->rules[k];
	r->nth = nth;
	r->seen = 0;
	r->status = status;
	r->sticky = sticky != 0;
	fs_leave(fs);
}

void fault_cut_at(struct fault_fs *fs, uint64_t nth)
{
	assert(fs != NULL);
	fs_enter(fs);
	/* A cut that happened stays until the reboot: power does not come
	 * back by disarming. */
	fs->cut_nth = nth;
	fs->cut_seen = 0;
	fs_leave(fs);
}

int fault_is_cut(const struct fault_fs *fs)
{
	int cut;

	assert(fs != NULL);
	fs_enter(fs);
	cut = fs->cut_call != 0;
	fs_leave(fs);
	return cut;
}

void fault_reboot(struct fault_fs *fs, enum fault_mode mode, uint64_t seed,
		  struct fault_outcome *out)
{
	struct fault_outcome o;
	struct finode *inode;
	struct lk_io_file *f;
	struct lk_io_dir *d;
	struct fdir *dir;
	size_t keep;

	assert(fs != NULL);
	assert(mode == FAULT_RANDOM || mode == FAULT_KEEP_ALL ||
	       mode == FAULT_DROP_ALL);
	memset(&o, 0, sizeof o);
	fs_enter(fs);
	/* Files first: deciding the directories may free inodes. */
	for (inode = fs->inodes; inode != NULL; inode = inode->next)
		reboot_inode(fs, inode, mode, seed, &o);
	for (dir = fs->dirs; dir != NULL; dir = dir->next) {
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
	for (f = fs->files; f != NULL; f = f->next) {
		if (f->dead)
			continue;
		f->dead = 1;
		f->holds_lock = 0;
		inode = f->inode;
		f->inode = NULL;
		inode_put(fs, inode);
	}
	for (d = fs->dir_handles; d != NULL; d = d->next) {
		d->dead = 1;
		d->dir = NULL;
	}
	for (inode = fs->inodes; inode != NULL; inode = inode->next)
		assert(inode->op_count == 0 && !inode->locked);
	assert(fs->pending_ops == 0);
	memset(fs->rules, 0, sizeof fs->rules);
	fs->cut_nth = fs->cut_seen = fs->cut_call = 0;
	fs_leave(fs);
	if (out != NULL)
		*out = o;
}

size_t fault_pending(const struct fault_fs *fs)
{
	size_t n;

	assert(fs != NULL);
	fs_enter(fs);
	n = fs->pending_ops;
	fs_leave(fs);
	return n;
}

void fault_set_time_ms(struct fault_fs *fs, uint64_t now_ms)
{
	assert(fs != NULL);
	fs_enter(fs);
	fs->now_ms = now_ms;
	fs_leave(fs);
}

void fault_advance_us(struct fault_fs *fs, uint64_t us)
{
	assert(fs != NULL);
	simclock_advance_us(fs->clock, us);
}

uint64_t fault_failed_at_us(const struct fault_fs *fs)
{
	uint64_t at;

	assert(fs != NULL);
	fs_enter(fs);
	at = fs->failed_at_us;
	fs_leave(fs);
	return at;
}
