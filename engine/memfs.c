/* SPDX-License-Identifier: MIT */
/*
 * memfs.c - the file system in memory of memfs.h, shared by io_memory.c
 * and io_fault.c.
 *
 * Every method takes the mutex, passes the layer's gate, and then checks
 * in the same order: a dead handle, the name, the allocations (the core's,
 * then the layer's prepare), and only then changes anything.  The methods
 * are named memfs_<slot of lk_io>.
 */
#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "memfs.h"
#include "simclock.h"

/* The first buffer of an image; buffers then double. */
#define IMG_CAPACITY_MIN_BYTES 4096u

/* ---------------------------------------------------------------------- */
/* Helpers (called with the mutex held unless said otherwise)             */
/* ---------------------------------------------------------------------- */

void memfs_enter(const struct memfs *fs)
{
	int rc = pthread_mutex_lock((pthread_mutex_t *)&fs->mutex);

	LK_ASSERT(rc == 0);
}

void memfs_leave(const struct memfs *fs)
{
	int rc = pthread_mutex_unlock((pthread_mutex_t *)&fs->mutex);

	LK_ASSERT(rc == 0);
}

static lk_status gate(struct memfs *fs, enum memfs_call call,
		      const char *verb, const char *what,
		      const lk_io_file *file, const struct memfs_change *ch)
{
	if (fs->layer->gate == NULL)
		return LK_OK;
	return fs->layer->gate(fs, call, verb, what, file, ch);
}

static lk_status prepare(struct memfs *fs, struct memfs_change *ch)
{
	ch->record = NULL;
	return fs->layer->prepare ? fs->layer->prepare(fs, ch) : LK_OK;
}

static void commit(struct memfs *fs, struct memfs_change *ch)
{
	if (fs->layer->commit)
		fs->layer->commit(fs, ch);
}

static void abort_change(struct memfs *fs, struct memfs_change *ch)
{
	if (fs->layer->abort)
		fs->layer->abort(fs, ch);
}

static lk_status dead_file(const lk_io_file *file, const char *verb)
{
	return err_set(LK_IO, "%s %s: handle from before the power cut", verb,
		       file->name);
}

static lk_status dead_dir(const char *verb)
{
	return err_set(LK_IO, "%s: directory handle from before the power "
			      "cut", verb);
}

lk_status memfs_room(const struct memfs *fs, const char *verb,
		     const char *name, const struct memfs_inode *inode,
		     uint64_t end)
{
	uint64_t used = 0;

	if (end > fs->layer->file_bytes_max || end > SIZE_MAX)
		return err_set(LK_NOSPACE, "%s %s: a %s file stops at %llu "
			       "bytes", verb, name, fs->layer->name,
			       (unsigned long long)fs->layer->file_bytes_max);
	if (fs->capacity_bytes == 0 || end <= inode->cur.size_bytes)
		return LK_OK;
	for (const struct memfs_inode *i = fs->inodes; i != NULL; i = i->next)
		used += i->cur.size_bytes;
	if (used <= fs->capacity_bytes &&
	    end - inode->cur.size_bytes <= fs->capacity_bytes - used)
		return LK_OK;
	return err_set(LK_NOSPACE, "%s %s: No space left on device (the %s "
		       "file system holds %llu bytes)", verb, name,
		       fs->layer->name, (unsigned long long)fs->capacity_bytes);
}

void memfs_set_capacity(struct memfs *fs, uint64_t bytes)
{
	memfs_enter(fs);
	fs->capacity_bytes = bytes;
	memfs_leave(fs);
}

/* ---- images ---- */

lk_status memfs_img_reserve(struct memfs_img *img, uint64_t end,
			    uint64_t max)
{
	uint64_t capacity;
	unsigned char *bytes;

	LK_ASSERT(end <= max && end <= SIZE_MAX);
	if (end <= img->capacity_bytes)
		return LK_OK;
	capacity = img->capacity_bytes ? img->capacity_bytes
				       : IMG_CAPACITY_MIN_BYTES;
	while (capacity < end)
		capacity *= 2;
	if (capacity > max || capacity > SIZE_MAX)
		capacity = end;
	bytes = mem_realloc(img->bytes, (size_t)capacity);
	if (bytes == NULL)
		return LK_NOMEM;
	img->bytes = bytes;
	img->capacity_bytes = (size_t)capacity;
	return LK_OK;
}

unsigned char *memfs_img_span(struct memfs_img *img, uint64_t offset,
			      size_t n)
{
	uint64_t end = offset + n;

	LK_ASSERT(n > 0 && end <= img->capacity_bytes);
	if (offset > img->size_bytes)
		memset(img->bytes + (size_t)img->size_bytes, 0,
		       (size_t)(offset - img->size_bytes));
	if (end > img->size_bytes)
		img->size_bytes = end;
	return img->bytes + (size_t)offset;
}

void memfs_img_truncate(struct memfs_img *img, uint64_t size)
{
	LK_ASSERT(size <= img->capacity_bytes);
	if (size > img->size_bytes)
		memset(img->bytes + (size_t)img->size_bytes, 0,
		       (size_t)(size - img->size_bytes));
	img->size_bytes = size;
}

/* ---- inodes and names ---- */

void memfs_inode_get(struct memfs_inode *inode)
{
	if (inode != NULL)
		inode->refs++;
}

void memfs_inode_put(struct memfs *fs, struct memfs_inode *inode)
{
	if (inode == NULL)
		return;
	LK_ASSERT(inode->refs > 0);
	if (--inode->refs > 0)
		return;
	if (fs->layer->inode_free)
		fs->layer->inode_free(fs, inode);
	if (inode->prev != NULL)
		inode->prev->next = inode->next;
	else
		fs->inodes = inode->next;
	if (inode->next != NULL)
		inode->next->prev = inode->prev;
	mem_free(inode->cur.bytes);
	mem_free(inode);
}

static struct memfs_dir *dir_find(struct memfs *fs, const char *path)
{
	struct memfs_dir *dir;

	for (dir = fs->dirs; dir != NULL; dir = dir->next)
		if (strcmp(dir->path, path) == 0)
			return dir;
	return NULL;
}

static struct memfs_name *name_find(struct memfs_dir *dir, const char *name)
{
	struct memfs_name *fn;

	for (fn = dir->names; fn != NULL; fn = fn->next)
		if (strcmp(fn->name, name) == 0)
			return fn;
	return NULL;
}

/* A new name, not yet on its directory's list. */
static struct memfs_name *name_new(const char *name)
{
	size_t len = strlen(name);
	struct memfs_name *fn = mem_calloc(1, sizeof *fn + len + 1);

	if (fn != NULL) {
		fn->name = (char *)(fn + 1);
		memcpy(fn->name, name, len + 1);
	}
	return fn;
}

static void name_link(struct memfs_dir *dir, struct memfs_name *fn)
{
	fn->next = dir->names;
	dir->names = fn;
}

static int name_unused(const struct memfs_name *name)
{
	return name->live == NULL && name->durable == NULL && name->pins == 0;
}

void memfs_name_release(struct memfs_dir *dir, struct memfs_name *name)
{
	struct memfs_name **link;

	if (!name_unused(name))
		return;
	for (link = &dir->names; *link != name; link = &(*link)->next)
		LK_ASSERT(*link != NULL);
	*link = name->next;
	mem_free(name);
}

void memfs_names_prune(struct memfs_dir *dir)
{
	struct memfs_name *fn, **link;

	for (link = &dir->names; *link != NULL;) {
		fn = *link;
		if (name_unused(fn)) {
			*link = fn->next;
			mem_free(fn);
		} else {
			link = &fn->next;
		}
	}
}

/* ---- handles ---- */

static void file_link(struct memfs *fs, lk_io_file *f)
{
	f->prev = NULL;
	f->next = fs->files;
	if (f->next != NULL)
		f->next->prev = f;
	fs->files = f;
}

static void file_unlink_handle(struct memfs *fs, lk_io_file *f)
{
	if (f->prev != NULL)
		f->prev->next = f->next;
	else
		fs->files = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	f->next = f->prev = NULL;
}

void memfs_kill_handles(struct memfs *fs)
{
	struct memfs_inode *inode;
	lk_io_file *f;
	lk_io_dir *d;

	for (f = fs->files; f != NULL; f = f->next) {
		if (f->dead)
			continue;
		f->dead = 1;
		f->holds_lock = 0;
		inode = f->inode;
		f->inode = NULL;
		memfs_inode_put(fs, inode);
	}
	for (d = fs->dir_handles; d != NULL; d = d->next) {
		d->dead = 1;
		d->dir = NULL;
	}
}

/* ---------------------------------------------------------------------- */
/* Directories                                                            */
/* ---------------------------------------------------------------------- */

static lk_status memfs_dir_open(void *ctx, const char *path, int create,
				lk_io_dir **dir)
{
	struct memfs *fs = ctx;
	struct memfs_dir *node;
	lk_io_dir *d = NULL;
	lk_status rc;
	size_t len;

	assert(fs != NULL && path != NULL && dir != NULL);
	*dir = NULL;
	memfs_enter(fs);
	rc = gate(fs, MEMFS_CALL_DIR_OPEN, "open directory", path, NULL, NULL);
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
		node = mem_calloc(1, fs->layer->dir_bytes + len + 1);
		if (node == NULL) {
			rc = err_set(LK_NOMEM, "mkdir %s: out of memory", path);
			goto fail;
		}
		node->path = (char *)node + fs->layer->dir_bytes;
		memcpy(node->path, path, len + 1);
		node->next = fs->dirs;
		fs->dirs = node;
	}
	d->dir = node;
	d->next = fs->dir_handles;
	if (d->next != NULL)
		d->next->prev = d;
	fs->dir_handles = d;
	memfs_leave(fs);
	*dir = d;
	return LK_OK;
fail:
	memfs_leave(fs);
	mem_free(d);
	return rc;
}

static lk_status memfs_dir_list(void *ctx, lk_io_dir *dir, lk_io_list_fn fn,
				void *arg)
{
	typedef char name_buf[IO_NAME_BYTES_MAX + 1];
	struct memfs *fs = ctx;
	struct memfs_name *n;
	name_buf *names;
	size_t count = 0, i;
	lk_status rc;

	assert(fs != NULL && dir != NULL && fn != NULL);
	memfs_enter(fs);
	rc = gate(fs, MEMFS_CALL_DIR_LIST, "list",
		  dir->dead ? "?" : dir->dir->path, NULL, NULL);
	if (rc == LK_OK && dir->dead)
		rc = dead_dir("list");
	if (rc != LK_OK) {
		memfs_leave(fs);
		return rc;
	}
	for (n = dir->dir->names; n != NULL; n = n->next)
		if (n->live != NULL)
			count++;
	names = mem_calloc(count ? count : 1, sizeof *names);
	if (names == NULL) {
		rc = err_set(LK_NOMEM, "list %s: out of memory",
			     dir->dir->path);
		memfs_leave(fs);
		return rc;
	}
	i = 0;
	for (n = dir->dir->names; n != NULL; n = n->next)
		if (n->live != NULL)
			memcpy(names[i++], n->name, strlen(n->name) + 1);
	memfs_leave(fs);
	for (i = 0; i < count && rc == LK_OK; i++)
		rc = fn(arg, names[i]);
	mem_free(names);
	return rc;
}

static lk_status memfs_dir_sync(void *ctx, lk_io_dir *dir)
{
	struct memfs *fs = ctx;
	lk_status rc;

	assert(fs != NULL && dir != NULL);
	memfs_enter(fs);
	rc = gate(fs, MEMFS_CALL_DIR_SYNC, "fsync directory",
		  dir->dead ? "?" : dir->dir->path, NULL, NULL);
	if (rc != LK_OK) {
		/* Whatever was pending stays pending. */
	} else if (dir->dead) {
		rc = dead_dir("fsync directory");
	} else if (fs->layer->settle_dir) {
		fs->layer->settle_dir(fs, dir->dir);
	}
	memfs_leave(fs);
	return rc;
}

static void memfs_dir_close(void *ctx, lk_io_dir *dir)
{
	struct memfs *fs = ctx;

	if (dir == NULL)
		return;
	memfs_enter(fs);
	if (dir->prev != NULL)
		dir->prev->next = dir->next;
	else
		fs->dir_handles = dir->next;
	if (dir->next != NULL)
		dir->next->prev = dir->prev;
	memfs_leave(fs);
	mem_free(dir);
}

static lk_status memfs_rename(void *ctx, lk_io_dir *dir, const char *from,
			      const char *to)
{
	struct memfs *fs = ctx;
	struct memfs_change ch = { .kind = MEMFS_RENAME };
	struct memfs_name *src, *dst, *made = NULL;
	struct memfs_inode *old;
	lk_status rc;

	assert(fs != NULL && dir != NULL && from != NULL && to != NULL);
	memfs_enter(fs);
	rc = gate(fs, MEMFS_CALL_RENAME, "rename", from, NULL, NULL);
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
	ch.dir = dir->dir;
	ch.from = src;
	ch.inode = src->live;
	rc = prepare(fs, &ch);
	if (dst == NULL)
		dst = made = name_new(to);
	if (rc != LK_OK || dst == NULL) {
		abort_change(fs, &ch);
		mem_free(made);
		rc = err_set(LK_NOMEM, "rename %s -> %s: out of memory", from,
			     to);
		goto out;
	}
	if (made != NULL)
		name_link(dir->dir, made);
	ch.to = dst;
	old = dst->live;
	dst->live = src->live;
	src->live = NULL;
	commit(fs, &ch);
	memfs_inode_put(fs, old);
	memfs_name_release(dir->dir, src);
out:
	memfs_leave(fs);
	return rc;
}

static lk_status memfs_unlink(void *ctx, lk_io_dir *dir, const char *name)
{
	struct memfs *fs = ctx;
	struct memfs_change ch = { .kind = MEMFS_UNLINK };
	struct memfs_inode *old;
	struct memfs_name *fn;
	lk_status rc;

	assert(fs != NULL && dir != NULL && name != NULL);
	memfs_enter(fs);
	rc = gate(fs, MEMFS_CALL_UNLINK, "unlink", name, NULL, NULL);
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
	ch.dir = dir->dir;
	ch.from = fn;
	ch.inode = fn->live;
	if (prepare(fs, &ch) != LK_OK) {
		abort_change(fs, &ch);
		rc = err_set(LK_NOMEM, "unlink %s: out of memory", name);
		goto out;
	}
	old = fn->live;
	fn->live = NULL;
	commit(fs, &ch);
	memfs_inode_put(fs, old);
	memfs_name_release(dir->dir, fn);
out:
	memfs_leave(fs);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Opening and closing files                                              */
/* ---------------------------------------------------------------------- */

/* Opens or creates `name` into the caller's *f; on failure nothing
 * changed. */
static lk_status open_name(struct memfs *fs, struct memfs_dir *dir,
			   const char *name, uint32_t flags, lk_io_file *f)
{
	struct memfs_change ch = { .kind = MEMFS_CREATE };
	struct memfs_name *fn = name_find(dir, name), *made = NULL;
	struct memfs_inode *inode = fn != NULL ? fn->live : NULL;
	lk_status prc;

	if (inode != NULL && (flags & LK_IO_EXCL))
		return err_set(LK_EXISTS, "open %s: file exists", name);
	if (inode == NULL && !(flags & LK_IO_CREATE))
		return err_set(LK_NOT_FOUND, "open %s: no such file", name);
	if (inode == NULL) {
		inode = mem_calloc(1, fs->layer->inode_bytes);
		ch.dir = dir;
		ch.inode = inode;
		prc = prepare(fs, &ch);
		if (fn == NULL)
			fn = made = name_new(name);
		if (inode == NULL || prc != LK_OK || fn == NULL) {
			abort_change(fs, &ch);
			mem_free(inode);
			mem_free(made);
			return err_set(LK_NOMEM, "open %s: out of memory",
				       name);
		}
		if (made != NULL)
			name_link(dir, made);
		inode->next = fs->inodes;
		if (inode->next != NULL)
			inode->next->prev = inode;
		fs->inodes = inode;
		inode->refs = 1; /* the live name */
		fn->live = inode;
		ch.from = fn;
		commit(fs, &ch);
	}
	inode->refs++;
	f->inode = inode;
	f->writable = (flags & LK_IO_WRITE) != 0;
	memcpy(f->name, name, strlen(name) + 1);
	file_link(fs, f);
	return LK_OK;
}

static lk_status memfs_open(void *ctx, lk_io_dir *dir, const char *name,
			    uint32_t flags, lk_io_file **file)
{
	struct memfs *fs = ctx;
	lk_io_file *f = NULL;
	lk_status rc;

	assert(fs != NULL && dir != NULL && name != NULL && file != NULL);
	assert((flags & ~(LK_IO_WRITE | LK_IO_CREATE | LK_IO_EXCL)) == 0);
	assert(!(flags & LK_IO_CREATE) || (flags & LK_IO_WRITE));
	assert(!(flags & LK_IO_EXCL) || (flags & LK_IO_CREATE));
	*file = NULL;
	memfs_enter(fs);
	rc = gate(fs, MEMFS_CALL_OPEN, "open", name, NULL, NULL);
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
	memfs_leave(fs);
	if (rc != LK_OK) {
		mem_free(f);
		return rc;
	}
	*file = f;
	return LK_OK;
}

static lk_status memfs_lock(void *ctx, lk_io_dir *dir, const char *name,
			    lk_io_file **file)
{
	struct memfs *fs = ctx;
	lk_io_file *f = NULL;
	lk_status rc;

	assert(fs != NULL && dir != NULL && name != NULL && file != NULL);
	*file = NULL;
	memfs_enter(fs);
	rc = gate(fs, MEMFS_CALL_LOCK, "lock", name, NULL, NULL);
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
		memfs_inode_put(fs, f->inode);
		rc = err_set(LK_BUSY, "%s is held by another handle", name);
	}
	if (rc == LK_OK) {
		f->inode->locked = 1;
		f->holds_lock = 1;
	}
	memfs_leave(fs);
	if (rc != LK_OK) {
		mem_free(f);
		return rc;
	}
	*file = f;
	return LK_OK;
}

static void memfs_close(void *ctx, lk_io_file *file)
{
	struct memfs *fs = ctx;

	if (file == NULL)
		return;
	memfs_enter(fs);
	LK_ASSERT(file->mapped == NULL); /* unmapped before closed */
	file_unlink_handle(fs, file);
	if (!file->dead) {
		if (file->holds_lock)
			file->inode->locked = 0;
		memfs_inode_put(fs, file->inode);
	}
	memfs_leave(fs);
	mem_free(file);
}

/* ---------------------------------------------------------------------- */
/* Reading and writing                                                    */
/* ---------------------------------------------------------------------- */

static lk_status memfs_pread(void *ctx, lk_io_file *file, void *buf,
			     size_t n, uint64_t offset, size_t *got)
{
	struct memfs *fs = ctx;
	const struct memfs_img *img;
	uint64_t avail;
	lk_status rc;

	assert(fs != NULL && file != NULL && got != NULL);
	assert(buf != NULL || n == 0);
	*got = 0;
	memfs_enter(fs);
	rc = gate(fs, MEMFS_CALL_READ, "pread", file->name, file, NULL);
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
	memfs_leave(fs);
	return rc;
}

/* A mapped image must not move (memfs.h). */
static void assert_unmoved(const struct memfs_inode *inode, uint64_t end)
{
	LK_ASSERT(inode->maps == 0 || end <= inode->cur.capacity_bytes);
}

lk_status memfs_inode_write(struct memfs *fs, struct memfs_inode *inode,
			    const void *buf, size_t n, uint64_t offset)
{
	struct memfs_change ch = { .kind = MEMFS_WRITE };

	LK_ASSERT(n > 0 && offset + n <= fs->layer->file_bytes_max);
	assert_unmoved(inode, offset + n);
	ch.inode = inode;
	ch.buf = buf;
	ch.n = n;
	ch.offset = offset;
	if (prepare(fs, &ch) != LK_OK ||
	    memfs_img_reserve(&inode->cur, offset + n,
			      fs->layer->file_bytes_max) != LK_OK) {
		abort_change(fs, &ch); /* a grown capacity shows nowhere */
		return LK_NOMEM;
	}
	memcpy(memfs_img_span(&inode->cur, offset, n), buf, n);
	commit(fs, &ch);
	return LK_OK;
}


static lk_status memfs_pwrite(void *ctx, lk_io_file *file, const void *buf,
			      size_t n, uint64_t offset)
{
	struct memfs *fs = ctx;
	struct memfs_change ch = { .kind = MEMFS_WRITE };
	uint64_t end;
	lk_status rc;

	assert(fs != NULL && file != NULL && (buf != NULL || n == 0));
	end = offset + n;
	if (end < offset)
		end = UINT64_MAX; /* overflow: fails memfs_room */
	ch.inode = file->dead ? NULL : file->inode;
	ch.buf = buf;
	ch.n = n;
	ch.offset = offset;
	memfs_enter(fs);
	rc = gate(fs, MEMFS_CALL_WRITE, "pwrite", file->name, file, &ch);
	if (rc != LK_OK)
		goto out;
	if (file->dead)
		rc = dead_file(file, "pwrite");
	else if (!file->writable)
		rc = err_set(LK_IO, "pwrite %s: opened read-only", file->name);
	else if (n == 0)
		rc = LK_OK; /* as POSIX: a write of nothing extends nothing */
	else if ((rc = memfs_room(fs, "pwrite", file->name, file->inode,
				  end)) != LK_OK)
		; /* LK_NOSPACE */
	else if (memfs_inode_write(fs, file->inode, buf, n, offset) != LK_OK)
		rc = err_set(LK_NOMEM, "pwrite %s: out of memory for %zu "
			     "bytes", file->name, n);
out:
	memfs_leave(fs);
	return rc;
}

static lk_status memfs_sync(void *ctx, lk_io_file *file)
{
	struct memfs *fs = ctx;
	lk_status rc;

	assert(fs != NULL && file != NULL);
	memfs_enter(fs);
	rc = gate(fs, MEMFS_CALL_SYNC, "fdatasync", file->name, file, NULL);
	if (rc != LK_OK) {
		/* Some of the data may be on disk, some not (a failed
		 * fdatasync says nothing more): it all stays pending. */
	} else if (file->dead) {
		rc = dead_file(file, "fdatasync");
	} else if (fs->layer->settle_inode) {
		fs->layer->settle_inode(fs, file->inode);
	}
	memfs_leave(fs);
	return rc;
}

static lk_status memfs_truncate(void *ctx, lk_io_file *file, uint64_t size)
{
	struct memfs *fs = ctx;
	struct memfs_change ch = { .kind = MEMFS_TRUNCATE };
	lk_status rc;

	assert(fs != NULL && file != NULL);
	memfs_enter(fs);
	rc = gate(fs, MEMFS_CALL_TRUNCATE, "truncate", file->name, file, NULL);
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
	rc = memfs_room(fs, "truncate", file->name, file->inode, size);
	if (rc != LK_OK)
		goto out;
	ch.inode = file->inode;
	ch.offset = size;
	assert_unmoved(ch.inode, size);
	if (prepare(fs, &ch) != LK_OK ||
	    memfs_img_reserve(&ch.inode->cur, size,
			      fs->layer->file_bytes_max) != LK_OK) {
		abort_change(fs, &ch);
		rc = err_set(LK_NOMEM, "truncate %s: out of memory",
			     file->name);
		goto out;
	}
	memfs_img_truncate(&ch.inode->cur, size);
	commit(fs, &ch);
out:
	memfs_leave(fs);
	return rc;
}

/* A mapping is a pointer into the image, whose capacity map reserves;
 * counted as a read by the layer's gate, so that a fault layer can make
 * it fail (the engine then reads with pread). */
static lk_status memfs_map(void *ctx, lk_io_file *file, size_t n,
			   const void **addr)
{
	struct memfs *fs = ctx;
	struct memfs_inode *inode;
	lk_status rc;

	assert(fs != NULL && file != NULL && addr != NULL && n > 0);
	*addr = NULL;
	memfs_enter(fs);
	rc = gate(fs, MEMFS_CALL_READ, "mmap", file->name, file, NULL);
	if (rc != LK_OK)
		goto out;
	inode = file->inode;
	if (file->dead) {
		rc = dead_file(file, "mmap");
	} else if (file->mapped != NULL) {
		rc = err_set(LK_INVALID, "mmap %s: mapped already", file->name);
	} else if (n > fs->layer->file_bytes_max) {
		rc = err_set(LK_INVALID, "mmap %s: %zu bytes, more than a "
			     "file of this file system holds", file->name, n);
	} else if (inode->maps > 0 && n > inode->cur.capacity_bytes) {
		rc = err_set(LK_INVALID, "mmap %s: %zu bytes, past another "
			     "mapping of the file", file->name, n);
	} else if (memfs_img_reserve(&inode->cur, n,
				     fs->layer->file_bytes_max) != LK_OK) {
		rc = err_set(LK_NOMEM, "mmap %s: out of memory", file->name);
	} else {
		inode->maps++;
		memfs_inode_get(inode);
		file->mapped = inode;
		*addr = inode->cur.bytes;
	}
out:
	memfs_leave(fs);
	return rc;
}

static void memfs_unmap(void *ctx, lk_io_file *file, const void *addr,
			size_t n)
{
	struct memfs *fs = ctx;
	struct memfs_inode *inode;

	assert(fs != NULL && file != NULL && addr != NULL && n > 0);
	memfs_enter(fs);
	inode = file->mapped;
	LK_ASSERT(inode != NULL && inode->maps > 0 &&
		  addr == inode->cur.bytes);
	inode->maps--;
	file->mapped = NULL;
	memfs_inode_put(fs, inode);
	memfs_leave(fs);
}

static lk_status memfs_size(void *ctx, lk_io_file *file, uint64_t *size)
{
	struct memfs *fs = ctx;
	lk_status rc;

	assert(fs != NULL && file != NULL && size != NULL);
	*size = 0;
	memfs_enter(fs);
	rc = gate(fs, MEMFS_CALL_SIZE, "fstat", file->name, file, NULL);
	if (rc == LK_OK && file->dead)
		rc = dead_file(file, "fstat");
	if (rc == LK_OK)
		*size = file->inode->cur.size_bytes;
	memfs_leave(fs);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Clocks                                                                 */
/* ---------------------------------------------------------------------- */

static uint64_t memfs_now_ms(void *ctx)
{
	struct memfs *fs = ctx;
	uint64_t now_ms;

	memfs_enter(fs);
	now_ms = fs->now_ms;
	memfs_leave(fs);
	return now_ms;
}

/* ---------------------------------------------------------------------- */
/* The file system                                                        */
/* ---------------------------------------------------------------------- */

static const lk_io memfs_methods = {
	.version = LK_IO_VERSION,
	.ctx = NULL, /* set per file system */
	.dir_open = memfs_dir_open,
	.dir_list = memfs_dir_list,
	.dir_sync = memfs_dir_sync,
	.dir_close = memfs_dir_close,
	.rename = memfs_rename,
	.unlink = memfs_unlink,
	.lock = memfs_lock,
	.open = memfs_open,
	.pread = memfs_pread,
	.pwrite = memfs_pwrite,
	.sync = memfs_sync,
	.truncate = memfs_truncate,
	.size = memfs_size,
	.close = memfs_close,
	.now_ms = memfs_now_ms,
	.map = memfs_map,
	.unmap = memfs_unmap,
	/* mono_us, threads and sleeps: simclock_fill_io() */
};

lk_status memfs_init(struct memfs *fs, const struct memfs_layer *layer)
{
	LK_ASSERT(fs != NULL && layer != NULL);
	LK_ASSERT(layer->inode_bytes >= sizeof(struct memfs_inode));
	LK_ASSERT(layer->dir_bytes >= sizeof(struct memfs_dir));
	if (simclock_new(&fs->clock) != LK_OK)
		return LK_NOMEM;
	if (pthread_mutex_init(&fs->mutex, NULL) != 0) {
		simclock_free(fs->clock);
		return err_set(LK_NOMEM, "%s file system: no mutex",
			       layer->name);
	}
	fs->layer = layer;
	fs->io = memfs_methods;
	fs->io.ctx = fs;
	simclock_fill_io(&fs->io);
	/* Frozen at the real time: the POSIX layer is the one that reads
	 * clocks. */
	fs->now_ms = lk_io_posix()->now_ms(NULL);
	return LK_OK;
}

void memfs_fini(struct memfs *fs)
{
	struct lk_io_file *f, *next_f;
	struct lk_io_dir *d, *next_d;
	struct memfs_name *fn, *next_fn;
	struct memfs_dir *dir, *next_dir;
	struct memfs_inode *inode, *next_inode;

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
		if (fs->layer->dir_free)
			fs->layer->dir_free(fs, dir);
		for (fn = dir->names; fn != NULL; fn = next_fn) {
			next_fn = fn->next;
			mem_free(fn);
		}
		mem_free(dir);
	}
	for (inode = fs->inodes; inode != NULL; inode = next_inode) {
		next_inode = inode->next;
		if (fs->layer->inode_free)
			fs->layer->inode_free(fs, inode);
		mem_free(inode->cur.bytes);
		mem_free(inode);
	}
	pthread_mutex_destroy(&fs->mutex);
	simclock_free(fs->clock);
}
