/* SPDX-License-Identifier: MIT */
/*
 * io_memory.c - the I/O layer of io.h as a file system in memory, for
 * tests, fuzzers and embedders that want a throwaway store.
 *
 * It keeps the POSIX semantics the engine relies on, so that a test on it
 * says something about the real thing: open without create of a missing
 * file is LK_NOT_FOUND, exclusive create of an existing one LK_EXISTS;
 * an unlinked or replaced file stays readable through the handles open on
 * it; rename replaces its target atomically; pwrite past the end and a
 * growing truncate fill the gap with zeroes; a lock is exclusive across
 * every handle of the file system and released by close.  sync and
 * dir_sync do nothing: every write is "durable" at once.  Power cuts and
 * faults are the business of the fault-injecting layer that wraps this one.
 *
 * Layout
 * ------
 *
 *   struct mfs ---dirs---> mfs_node "db" ---entries---> mfs_entry "LOCK"
 *    mutex                  mfs_node "x"                mfs_entry "seg-1"
 *    now_ms                                               | data
 *    handles                lk_io_file ---data---------> mfs_data (bytes,
 *                                                          size, refs, locked)
 *
 *  - A directory (mfs_node) is named by its path string, exactly as given
 *    ("db" and "db/" are two directories), and has no parent: dir_open
 *    with create makes it whatever its path.  Directories are never
 *    removed before the file system is freed.
 *  - A file's contents (mfs_data) are its inode: reference counted, one
 *    reference per directory entry and one per open handle, freed when the
 *    last goes.  That is what keeps unlinked files readable.
 *  - The lock flag is on the data, as fcntl locks are on the inode.
 *  - dir_list gives the newest names first, so that nothing in the engine
 *    comes to depend on listing order; it copies the names first.
 *
 * Invariants: each file system has one mutex, held whenever its state is
 * read or changed, because the engine reads and writes from several
 * threads at once; it is not held while dir_list calls back, so the
 * callback may use the file system.  Every allocation is
 * made before anything changes, so LK_NOMEM leaves the file system as it
 * was.  A file never grows past FILE_BYTES_MAX (LK_NOSPACE), which keeps
 * a runaway test from eating the machine.
 *
 * The clocks are simulated, so that tests are deterministic: now_ms is
 * frozen at the real time of creation (read once from the POSIX layer,
 * the only file that reads clocks) and moves only with
 * lk_io_memory_set_time_ms(); mono_us, the threads and the sleeps are a
 * simclock.h clock, which moves only with lk_io_memory_advance_us().
 *
 * The methods are named mfs_<slot of lk_io>.
 */
#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "io.h"
#include "simclock.h"


/* A file stops growing here: 4 GiB is four times the largest segment
 * (logkeep_limits.h) and more than a test should ever hold in memory. */
#define FILE_BYTES_MAX (UINT64_C(4) * 1024 * 1024 * 1024)

/* The first buffer of a file; buffers then double. */
#define FILE_CAPACITY_MIN_BYTES 4096u

struct mfs_data {
	unsigned char *bytes;
	size_t capacity_bytes;
	uint64_t size_bytes;
	uint32_t refs;  /* directory entries and open handles */
	int locked;     /* a handle holds the lock */
};

struct mfs_entry {
	struct mfs_entry *next;
	struct mfs_data *data;
	char name[IO_NAME_BYTES_MAX + 1];
};

struct mfs_node {
	struct mfs_node *next;
	struct mfs_entry *entries; /* newest first */
	char path[];
};

struct mfs {
	struct simclock *clock; /* first: simclock_fill_io() finds it here */
	lk_io io; /* io.ctx points back here */
	pthread_mutex_t mutex;
	struct mfs_node *dirs;
	uint64_t now_ms;
	uint64_t handles; /* open directory and file handles */
};

struct lk_io_dir {
	struct mfs_node *node;
};

struct lk_io_file {
	struct mfs_data *data;
	int writable;
	int holds_lock;
	char name[IO_NAME_BYTES_MAX + 1]; /* for error details */
};

/* ---------------------------------------------------------------------- */
/* Helpers (called with the mutex held unless said otherwise)             */
/* ---------------------------------------------------------------------- */

static void fs_enter(struct mfs *fs)
{
	int rc = pthread_mutex_lock(&fs->mutex);

	assert(rc == 0);
	(void)rc;
}

static void fs_leave(struct mfs *fs)
{
	int rc = pthread_mutex_unlock(&fs->mutex);

	assert(rc == 0);
	(void)rc;
}

static struct mfs_node *node_find(struct mfs *fs, const char *path)
{
	struct mfs_node *node;

	for (node = fs->dirs; node != NULL; node = node->next)
		if (strcmp(node->path, path) == 0)
			return node;
	return NULL;
}

/* The link that points at entry `name`, or at the NULL ending the list. */
static struct mfs_entry **entry_link(struct mfs_node *node, const char *name)
{
	struct mfs_entry **link;

	for (link = &node->entries; *link != NULL; link = &(*link)->next)
		if (strcmp((*link)->name, name) == 0)
			break;
	return link;
}

static void data_put(struct mfs_data *data)
{
	assert(data->refs > 0);
	if (--data->refs > 0)
		return;
	mem_free(data->bytes);
	mem_free(data);
}

/* Removes the entry at *link and drops its reference. */
static void entry_remove(struct mfs_entry **link)
{
	struct mfs_entry *entry = *link;

	*link = entry->next;
	data_put(entry->data);
	mem_free(entry);
}

/* Makes room for `end` bytes; LK_NOMEM leaves the data as it was. */
static lk_status data_reserve(struct mfs_data *data, uint64_t end,
			      const char *call, const char *name)
{
	uint64_t capacity;
	unsigned char *bytes;

	if (end <= data->capacity_bytes)
		return LK_OK;
	capacity = data->capacity_bytes ? data->capacity_bytes
					: FILE_CAPACITY_MIN_BYTES;
	while (capacity < end)
		capacity *= 2;
	if (capacity > FILE_BYTES_MAX || capacity > SIZE_MAX)
		capacity = end; /* the caller checked end against both */
	bytes = mem_realloc(data->bytes, (size_t)capacity);
	if (bytes == NULL)
		return err_set(LK_NOMEM, "%s %s: out of memory for %llu bytes",
			       call, name, (unsigned long long)capacity);
	data->bytes = bytes;
	data->capacity_bytes = (size_t)capacity;
	return LK_OK;
}

/* Sets the size to `end` after data_reserve, zeroing any new bytes. */
static void data_extend(struct mfs_data *data, uint64_t end)
{
	assert(end <= data->capacity_bytes);
	if (end > data->size_bytes) {
		memset(data->bytes + (size_t)data->size_bytes, 0,
		       (size_t)(end - data->size_bytes));
		data->size_bytes = end;
	}
}

static lk_status check_growth(const lk_io_file *file, uint64_t end,
			      const char *call)
{
	if (end > FILE_BYTES_MAX || end > SIZE_MAX)
		return err_set(LK_NOSPACE, "%s %s: a memory file stops at "
			       "%llu bytes", call, file->name,
			       (unsigned long long)FILE_BYTES_MAX);
	return LK_OK;
}

/* Opens or creates `name`, with the mutex held.  *file was allocated by
 * the caller; on failure nothing changed. */
static lk_status open_entry(struct mfs_node *node, const char *name,
			    uint32_t flags, lk_io_file *file)
{
	struct mfs_entry **link = entry_link(node, name);
	struct mfs_entry *entry = *link;
	struct mfs_data *data;

	if (entry != NULL && (flags & LK_IO_EXCL))
		return err_set(LK_EXISTS, "open %s: file exists", name);
	if (entry == NULL && !(flags & LK_IO_CREATE))
		return err_set(LK_NOT_FOUND, "open %s: no such file", name);
	if (entry == NULL) {
		data = mem_calloc(1, sizeof *data);
		entry = mem_calloc(1, sizeof *entry);
		if (data == NULL || entry == NULL) {
			mem_free(data);
			mem_free(entry);
			return err_set(LK_NOMEM, "open %s: out of memory", name);
		}
		memcpy(entry->name, name, strlen(name) + 1);
		entry->data = data;
		data->refs = 1;
		entry->next = node->entries;
		node->entries = entry;
	}
	entry->data->refs++;
	file->data = entry->data;
	file->writable = (flags & LK_IO_WRITE) != 0;
	memcpy(file->name, name, strlen(name) + 1);
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Directories                                                            */
/* ---------------------------------------------------------------------- */

static lk_status mfs_dir_open(void *ctx, const char *path, int create,
			      lk_io_dir **dir)
{
	struct mfs *fs = ctx;
	struct mfs_node *node;
	lk_io_dir *d;
	lk_status rc;
	size_t len;

	assert(fs != NULL && path != NULL && dir != NULL);
	*dir = NULL;
	len = strlen(path);
	if (len == 0)
		return err_set(LK_INVALID, "open directory: empty path");
	d = mem_alloc(sizeof *d);
	if (d == NULL)
		return err_set(LK_NOMEM, "open directory %s: out of memory",
			       path);
	fs_enter(fs);
	node = node_find(fs, path);
	if (node == NULL && !create) {
		rc = err_set(LK_NOT_FOUND, "open directory %s: no such "
			     "directory", path);
		goto fail;
	}
	if (node == NULL) {
		node = mem_calloc(1, sizeof *node + len + 1);
		if (node == NULL) {
			rc = err_set(LK_NOMEM, "mkdir %s: out of memory", path);
			goto fail;
		}
		memcpy(node->path, path, len + 1);
		node->next = fs->dirs;
		fs->dirs = node;
	}
	d->node = node;
	fs->handles++;
	fs_leave(fs);
	*dir = d;
	return LK_OK;
fail:
	fs_leave(fs);
	mem_free(d);
	return rc;
}

static lk_status mfs_dir_list(void *ctx, lk_io_dir *dir, lk_io_list_fn fn,
			      void *arg)
{
	typedef char name_buf[IO_NAME_BYTES_MAX + 1];
	struct mfs *fs = ctx;
	struct mfs_entry *entry;
	name_buf *names;
	size_t count = 0, i;
	lk_status rc = LK_OK;

	assert(fs != NULL && dir != NULL && fn != NULL);
	fs_enter(fs);
	for (entry = dir->node->entries; entry != NULL; entry = entry->next)
		count++;
	names = mem_calloc(count, sizeof *names);
	if (names == NULL) {
		fs_leave(fs);
		return err_set(LK_NOMEM, "list %s: out of memory",
			       dir->node->path);
	}
	i = 0;
	for (entry = dir->node->entries; entry != NULL; entry = entry->next)
		memcpy(names[i++], entry->name, sizeof entry->name);
	fs_leave(fs);
	for (i = 0; i < count && rc == LK_OK; i++)
		rc = fn(arg, names[i]);
	mem_free(names);
	return rc;
}

static lk_status mfs_dir_sync(void *ctx, lk_io_dir *dir)
{
	assert(ctx != NULL && dir != NULL);
	(void)ctx;
	(void)dir;
	return LK_OK;
}

static void mfs_dir_close(void *ctx, lk_io_dir *dir)
{
	struct mfs *fs = ctx;

	if (dir == NULL)
		return;
	fs_enter(fs);
	assert(fs->handles > 0);
	fs->handles--;
	fs_leave(fs);
	mem_free(dir);
}

static lk_status mfs_rename(void *ctx, lk_io_dir *dir, const char *from,
			    const char *to)
{
	struct mfs *fs = ctx;
	struct mfs_entry **from_link, **to_link;
	lk_status rc;

	assert(fs != NULL && dir != NULL);
	rc = io_check_name("rename", from);
	if (rc == LK_OK)
		rc = io_check_name("rename to", to);
	if (rc != LK_OK)
		return rc;
	fs_enter(fs);
	from_link = entry_link(dir->node, from);
	if (*from_link == NULL) {
		fs_leave(fs);
		return err_set(LK_NOT_FOUND, "rename %s -> %s: no such file",
			       from, to);
	}
	if (strcmp(from, to) != 0) {
		to_link = entry_link(dir->node, to);
		if (*to_link != NULL)
			entry_remove(to_link);
		/* Removing `to` may have moved the entry `from` links to. */
		from_link = entry_link(dir->node, from);
		memcpy((*from_link)->name, to, strlen(to) + 1);
	}
	fs_leave(fs);
	return LK_OK;
}

static lk_status mfs_unlink(void *ctx, lk_io_dir *dir, const char *name)
{
	struct mfs *fs = ctx;
	struct mfs_entry **link;
	lk_status rc;

	assert(fs != NULL && dir != NULL);
	rc = io_check_name("unlink", name);
	if (rc != LK_OK)
		return rc;
	fs_enter(fs);
	link = entry_link(dir->node, name);
	if (*link == NULL) {
		fs_leave(fs);
		return err_set(LK_NOT_FOUND, "unlink %s: no such file", name);
	}
	entry_remove(link);
	fs_leave(fs);
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Opening and closing files                                              */
/* ---------------------------------------------------------------------- */

static lk_status mfs_open(void *ctx, lk_io_dir *dir, const char *name,
			  uint32_t flags, lk_io_file **file)
{
	struct mfs *fs = ctx;
	lk_io_file *f;
	lk_status rc;

	assert(fs != NULL && dir != NULL && file != NULL);
	assert((flags & ~(LK_IO_WRITE | LK_IO_CREATE | LK_IO_EXCL)) == 0);
	assert(!(flags & LK_IO_CREATE) || (flags & LK_IO_WRITE));
	assert(!(flags & LK_IO_EXCL) || (flags & LK_IO_CREATE));
	*file = NULL;
	rc = io_check_name("open", name);
	if (rc != LK_OK)
		return rc;
	f = mem_calloc(1, sizeof *f);
	if (f == NULL)
		return err_set(LK_NOMEM, "open %s: out of memory", name);
	fs_enter(fs);
	rc = open_entry(dir->node, name, flags, f);
	if (rc == LK_OK)
		fs->handles++;
	fs_leave(fs);
	if (rc != LK_OK) {
		mem_free(f);
		return rc;
	}
	*file = f;
	return LK_OK;
}

static lk_status mfs_lock(void *ctx, lk_io_dir *dir, const char *name,
			  lk_io_file **file)
{
	struct mfs *fs = ctx;
	lk_io_file *f;
	lk_status rc;

	assert(fs != NULL && dir != NULL && file != NULL);
	*file = NULL;
	rc = io_check_name("lock", name);
	if (rc != LK_OK)
		return rc;
	f = mem_calloc(1, sizeof *f);
	if (f == NULL)
		return err_set(LK_NOMEM, "lock %s: out of memory", name);
	fs_enter(fs);
	rc = open_entry(dir->node, name, LK_IO_WRITE | LK_IO_CREATE, f);
	if (rc == LK_OK && f->data->locked) {
		data_put(f->data); /* the entry keeps it */
		rc = err_set(LK_BUSY, "%s is held by another handle", name);
	}
	if (rc == LK_OK) {
		f->data->locked = 1;
		f->holds_lock = 1;
		fs->handles++;
	}
	fs_leave(fs);
	if (rc != LK_OK) {
		mem_free(f);
		return rc;
	}
	*file = f;
	return LK_OK;
}

static void mfs_close(void *ctx, lk_io_file *file)
{
	struct mfs *fs = ctx;

	if (file == NULL)
		return;
	fs_enter(fs);
	if (file->holds_lock)
		file->data->locked = 0;
	data_put(file->data);
	assert(fs->handles > 0);
	fs->handles--;
	fs_leave(fs);
	mem_free(file);
}

/* ---------------------------------------------------------------------- */
/* Reading and writing                                                    */
/* ---------------------------------------------------------------------- */

static lk_status mfs_pread(void *ctx, lk_io_file *file, void *buf, size_t n,
			   uint64_t offset, size_t *got)
{
	struct mfs *fs = ctx;
	struct mfs_data *data;
	uint64_t avail;

	assert(fs != NULL && file != NULL && got != NULL);
	assert(buf != NULL || n == 0);
	fs_enter(fs);
	data = file->data;
	avail = offset < data->size_bytes ? data->size_bytes - offset : 0;
	*got = avail < n ? (size_t)avail : n;
	if (*got > 0)
		memcpy(buf, data->bytes + (size_t)offset, *got);
	fs_leave(fs);
	return LK_OK;
}

static lk_status mfs_pwrite(void *ctx, lk_io_file *file, const void *buf,
			    size_t n, uint64_t offset)
{
	struct mfs *fs = ctx;
	struct mfs_data *data;
	uint64_t end;
	lk_status rc;

	assert(fs != NULL && file != NULL && (buf != NULL || n == 0));
	if (!file->writable)
		return err_set(LK_IO, "pwrite %s: opened read-only",
			       file->name);
	if (n == 0)
		return LK_OK; /* as POSIX: a write of nothing extends nothing */
	end = offset + n;
	if (end < offset)
		end = UINT64_MAX; /* overflow: fails the check below */
	rc = check_growth(file, end, "pwrite");
	if (rc != LK_OK)
		return rc;
	fs_enter(fs);
	data = file->data;
	rc = data_reserve(data, end, "pwrite", file->name);
	if (rc == LK_OK) {
		if (offset > data->size_bytes)
			data_extend(data, offset);
		memcpy(data->bytes + (size_t)offset, buf, n);
		if (end > data->size_bytes)
			data->size_bytes = end;
	}
	fs_leave(fs);
	return rc;
}

static lk_status mfs_sync(void *ctx, lk_io_file *file)
{
	assert(ctx != NULL && file != NULL);
	(void)ctx;
	(void)file;
	return LK_OK;
}

static lk_status mfs_truncate(void *ctx, lk_io_file *file, uint64_t size)
{
	struct mfs *fs = ctx;
	struct mfs_data *data;
	lk_status rc;

	assert(fs != NULL && file != NULL);
	if (!file->writable)
		return err_set(LK_IO, "truncate %s: opened read-only",
			       file->name);
	rc = check_growth(file, size, "truncate");
	if (rc != LK_OK)
		return rc;
	fs_enter(fs);
	data = file->data;
	if (size <= data->size_bytes) {
		data->size_bytes = size; /* data_extend zeroes on regrowth */
	} else {
		rc = data_reserve(data, size, "truncate", file->name);
		if (rc == LK_OK)
			data_extend(data, size);
	}
	fs_leave(fs);
	return rc;
}

static lk_status mfs_size(void *ctx, lk_io_file *file, uint64_t *size)
{
	struct mfs *fs = ctx;

	assert(fs != NULL && file != NULL && size != NULL);
	fs_enter(fs);
	*size = file->data->size_bytes;
	fs_leave(fs);
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Clocks                                                                 */
/* ---------------------------------------------------------------------- */

static uint64_t mfs_now_ms(void *ctx)
{
	struct mfs *fs = ctx;
	uint64_t now_ms;

	fs_enter(fs);
	now_ms = fs->now_ms;
	fs_leave(fs);
	return now_ms;
}

/* ---------------------------------------------------------------------- */
/* The file system                                                        */
/* ---------------------------------------------------------------------- */

static const lk_io mfs_methods = {
	.version = LK_IO_VERSION,
	.ctx = NULL, /* set per file system */
	.dir_open = mfs_dir_open,
	.dir_list = mfs_dir_list,
	.dir_sync = mfs_dir_sync,
	.dir_close = mfs_dir_close,
	.rename = mfs_rename,
	.unlink = mfs_unlink,
	.lock = mfs_lock,
	.open = mfs_open,
	.pread = mfs_pread,
	.pwrite = mfs_pwrite,
	.sync = mfs_sync,
	.truncate = mfs_truncate,
	.size = mfs_size,
	.close = mfs_close,
	.now_ms = mfs_now_ms,
	/* mono_us, threads and sleeps: simclock_fill_io() */
};

/* The file system behind an lk_io made here; asserts that it is one. */
static struct mfs *fs_of(lk_io *io)
{
	struct mfs *fs = io->ctx;

	assert(io->dir_open == mfs_dir_open && fs != NULL && &fs->io == io);
	return fs;
}

lk_status lk_io_memory_new(lk_io **io)
{
	struct mfs *fs;

	assert(io != NULL);
	*io = NULL;
	fs = mem_calloc(1, sizeof *fs);
	if (fs == NULL)
		return err_set(LK_NOMEM, "memory file system: out of memory");
	if (simclock_new(&fs->clock) != LK_OK) {
		mem_free(fs);
		return LK_NOMEM;
	}
	if (pthread_mutex_init(&fs->mutex, NULL) != 0) {
		simclock_free(fs->clock);
		mem_free(fs);
		return err_set(LK_NOMEM, "memory file system: no mutex");
	}
	fs->io = mfs_methods;
	fs->io.ctx = fs;
	simclock_fill_io(&fs->io);
	fs->now_ms = lk_io_posix()->now_ms(NULL);
	*io = &fs->io;
	return LK_OK;
}

void lk_io_memory_free(lk_io *io)
{
	struct mfs_node *node, *next_node;
	struct mfs *fs;

	if (io == NULL)
		return;
	fs = fs_of(io);
	/* Open handles would point into freed memory. */
	assert(fs->handles == 0);
	for (node = fs->dirs; node != NULL; node = next_node) {
		next_node = node->next;
		while (node->entries != NULL)
			entry_remove(&node->entries);
		mem_free(node);
	}
	pthread_mutex_destroy(&fs->mutex);
	simclock_free(fs->clock);
	mem_free(fs);
}

void lk_io_memory_set_time_ms(lk_io *io, uint64_t now_ms)
{
	struct mfs *fs = fs_of(io);

	fs_enter(fs);
	fs->now_ms = now_ms;
	fs_leave(fs);
}

void lk_io_memory_advance_us(lk_io *io, uint64_t us)
{
	simclock_advance_us(fs_of(io)->clock, us);
}
