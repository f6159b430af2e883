/* SPDX-License-Identifier: MIT */
/*
 * io_posix.c - the I/O layer of io.h on a real POSIX file system.
 *
 * This is the only file of logkeep that makes file system calls and the only
 * one that reads errno.  Each failure is translated once, by sys_fail(),
 * into an lk_status and a detail that names the call, the file and the
 * system's words: "pwrite seg-000007: No space left on device".
 *
 * Design
 * ------
 *  - A directory handle is an O_DIRECTORY descriptor, and every file is
 *    opened relative to it with openat(): renaming or replacing the data
 *    directory's path while it is open cannot redirect the engine's files.
 *    File names are plain names (not empty, no '/', not "." or "..", at
 *    most IO_NAME_BYTES_MAX bytes); anything else is LK_INVALID before any
 *    system call is made.
 *  - Every descriptor is close-on-exec, and files are opened O_NOFOLLOW and
 *    must be regular files: a symbolic link planted in the data directory
 *    is an error, not a redirection, and a FIFO or a device is refused
 *    without blocking (open_file()).  Files are created 0600 and
 *    directories 0700; the umask can only narrow that.  A directory that
 *    dir_open() creates has its parent synced, so that it survives a power
 *    cut together with what is later synced inside it.
 *  - pread and pwrite loop over EINTR and short transfers: pwrite is all or
 *    error, pread is short only at end of file.
 *  - sync is fdatasync.  A failed sync (file or directory) is LK_IO whatever
 *    errno says, and it is never retried: the kernel may already have
 *    dropped the dirty pages it could not write, so a second call could
 *    succeed without the data being anywhere (the engine latches
 *    LK_HALTED).
 *  - Offsets are 64 bits on 32-bit routers too: _FILE_OFFSET_BITS is set
 *    below, before any header, and the lk_io_file type is private to this
 *    file, so no other file needs to agree.
 *
 * The lock
 * --------
 * lock() takes an fcntl() write lock on the whole file, which works on every
 * POSIX system and on network file systems.  But fcntl() locks belong to the
 * process, not to the descriptor: a second F_SETLK from the same process
 * succeeds, and closing *any* descriptor of the file drops the lock.  So the
 * files this process has locked are kept on a list, by device and inode,
 * under held_mutex:
 *  - lock() of a file on the list is LK_BUSY, as it would be from another
 *    process (logkeep.h: one writer "in this process and in others");
 *  - close() of a descriptor of a file on the list, other than the
 *    holder's, does not close it but parks it on the holder, and the
 *    holder's close() closes them all.
 * Not handled: a descriptor of the lock file opened outside this layer, and
 * handles used in a child after fork() (the child holds no lock).
 *
 * The methods are named px_<slot of lk_io>.
 */
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "io.h"

/* One pread or pwrite call moves at most this much: Linux caps a transfer
 * at 2 GiB - 4 KiB anyway, and SSIZE_MAX is 2 GiB - 1 on 32-bit systems. */
#define TRANSFER_BYTES_MAX (1u << 30)

/* The largest offset off_t can hold. */
#define OFFSET_MAX ((uint64_t)INT64_MAX)

_Static_assert(sizeof(off_t) == 8, "off_t must be 64 bits (_FILE_OFFSET_BITS)");

struct lk_io_dir {
	int fd;
	char path[]; /* for error details; NUL-terminated */
};

struct lk_io_file {
	int fd;
	int holds_lock;            /* on the held list: owns the fcntl lock */
	dev_t dev;                 /* identity of the file, for the held list */
	ino_t ino;
	struct lk_io_file *next;   /* on the held list, or on a holder's parked */
	struct lk_io_file *parked; /* holder: descriptors closed with it */
	char name[IO_NAME_BYTES_MAX + 1];
};

static pthread_mutex_t held_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct lk_io_file *held; /* the files this process has locked */

/* ---------------------------------------------------------------------- */
/* Errors and names                                                       */
/* ---------------------------------------------------------------------- */

/* The one translation of an errno value: sets the detail "<call> <name>:
 * <strerror>" and returns the status. */
static lk_status sys_fail(const char *call, const char *name, int e)
{
	char words[128];
	lk_status status;

	switch (e) {
	case ENOENT:
	case ENOTDIR: /* a path whose directory is a file: no such directory */
		status = LK_NOT_FOUND;
		break;
	case EEXIST:
		status = LK_EXISTS;
		break;
	case ENOSPC:
#ifdef EDQUOT
	case EDQUOT:
#endif
		status = LK_NOSPACE;
		break;
	case ENOMEM:
		status = LK_NOMEM;
		break;
	default:
		status = LK_IO;
		break;
	}
	/* strerror_r, not strerror: the engine fails in several threads at
	 * once.  This is the XSI version, which _POSIX_C_SOURCE selects. */
	if (strerror_r(e, words, sizeof words) != 0)
		snprintf(words, sizeof words, "errno %d", e);
	return err_set(status, "%s %s: %s", call, name, words);
}

/* ---------------------------------------------------------------------- */
/* Directories                                                            */
/* ---------------------------------------------------------------------- */

/* Makes the entry of a new directory durable in its parent; without it a
 * power cut can lose the directory with everything synced inside.  path is
 * cut at the parent for the open and restored. */
static lk_status sync_parent(char *path)
{
	size_t len = strlen(path);
	lk_status rc = LK_OK;
	char saved;
	int fd, e;

	while (len > 1 && path[len - 1] == '/') /* "a/b/" -> "a/b" */
		len--;
	while (len > 0 && path[len - 1] != '/') /* "a/b" -> "a/" */
		len--;
	while (len > 1 && path[len - 1] == '/') /* "a/" -> "a"; "/" stays */
		len--;
	if (len == 0) {
		fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		saved = path[len];
		path[len] = '\0';
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		path[len] = saved;
	}
	if (fd < 0)
		return sys_fail("open parent of", path, errno);
	if (fsync(fd) != 0) {
		e = errno;
		sys_fail("fsync parent of", path, e);
		rc = LK_IO; /* a failed sync is LK_IO, see the header */
	}
	close(fd);
	return rc;
}

static lk_status make_dir(char *path)
{
	int e;

	if (mkdir(path, 0700) == 0)
		return sync_parent(path);
	e = errno;
	if (e == EEXIST)
		return LK_OK; /* if it is not a directory, the open says so */
	return sys_fail("mkdir", path, e);
}

static lk_status px_dir_open(void *ctx, const char *path, int create,
			     lk_io_dir **dir)
{
	lk_io_dir *d;
	size_t len;
	lk_status rc;

	(void)ctx;
	assert(path != NULL && dir != NULL);
	*dir = NULL;
	len = strlen(path);
	if (len == 0)
		return err_set(LK_INVALID, "open directory: empty path");
	d = mem_alloc(sizeof *d + len + 1);
	if (d == NULL)
		return err_set(LK_NOMEM, "open directory %s: out of memory",
			       path);
	memcpy(d->path, path, len + 1);
	if (create) {
		rc = make_dir(d->path);
		if (rc != LK_OK)
			goto fail;
	}
	d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->fd < 0) {
		rc = sys_fail("open directory", d->path, errno);
		goto fail;
	}
	*dir = d;
	return LK_OK;
fail:
	mem_free(d);
	return rc;
}

static lk_status px_dir_list(void *ctx, lk_io_dir *dir, lk_io_list_fn fn,
			     void *arg)
{
	struct dirent *entry;
	lk_status rc = LK_OK;
	DIR *stream;
	int fd, e;

	(void)ctx;
	assert(dir != NULL && fn != NULL);
	/* A new open file description, not a dup() of dir->fd: a dup shares
	 * the directory offset, so a second listing (or one in another
	 * thread) would resume where the last one stopped. */
	fd = openat(dir->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sys_fail("open directory", dir->path, errno);
	stream = fdopendir(fd);
	if (stream == NULL) {
		e = errno;
		close(fd);
		return sys_fail("fdopendir", dir->path, e);
	}
	for (;;) {
		errno = 0;
		entry = readdir(stream);
		if (entry == NULL) {
			if (errno != 0)
				rc = sys_fail("readdir", dir->path, errno);
			break;
		}
		if (strcmp(entry->d_name, ".") == 0 ||
		    strcmp(entry->d_name, "..") == 0)
			continue;
		rc = fn(arg, entry->d_name);
		if (rc != LK_OK)
			break;
	}
	closedir(stream); /* closes fd */
	return rc;
}

static lk_status px_dir_sync(void *ctx, lk_io_dir *dir)
{
	(void)ctx;
	assert(dir != NULL);
	if (fsync(dir->fd) != 0) {
		sys_fail("fsync directory", dir->path, errno);
		return LK_IO; /* never retried, see the header */
	}
	return LK_OK;
}

static void px_dir_close(void *ctx, lk_io_dir *dir)
{
	(void)ctx;
	if (dir == NULL)
		return;
	close(dir->fd);
	mem_free(dir);
}

static lk_status px_rename(void *ctx, lk_io_dir *dir, const char *from,
			   const char *to)
{
	char both[2 * IO_NAME_BYTES_MAX + 8];
	lk_status rc;

	(void)ctx;
	assert(dir != NULL);
	rc = io_check_name("rename", from);
	if (rc == LK_OK)
		rc = io_check_name("rename to", to);
	if (rc != LK_OK)
		return rc;
	if (renameat(dir->fd, from, dir->fd, to) != 0) {
		int e = errno;

		snprintf(both, sizeof both, "%s -> %s", from, to);
		return sys_fail("rename", both, e);
	}
	return LK_OK;
}

static lk_status px_unlink(void *ctx, lk_io_dir *dir, const char *name)
{
	lk_status rc;

	(void)ctx;
	assert(dir != NULL);
	rc = io_check_name("unlink", name);
	if (rc != LK_OK)
		return rc;
	if (unlinkat(dir->fd, name, 0) != 0)
		return sys_fail("unlink", name, errno);
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Opening and closing files                                              */
/* ---------------------------------------------------------------------- */

/* What a file that is not a regular file is, for the refusal. */
static const char *file_kind(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISLNK(mode))
		return "a symbolic link";
	return "not a regular file";
}

static lk_status not_regular(const char *name, mode_t mode)
{
	return err_set(LK_IO, "open %s: not a regular file (%s)", name,
		       file_kind(mode));
}

/* Opens `name` with oflags (plus close-on-exec and no-follow) and checks
 * that it is a regular file.  The caller has checked the name.
 *
 * A FIFO, a device or a directory planted under a segment's, a snapshot's
 * or the lock's name is refused at once, never waited on: fstatat()
 * refuses it before the open when it is there already (so a device's open
 * and its side effects never happen), and O_NONBLOCK keeps the open of a
 * FIFO put in its place meanwhile from waiting for a writer.  The fstat()
 * of the open descriptor is the check that counts; O_NONBLOCK is cleared
 * once the file is known to be regular. */
static lk_status open_file(lk_io_dir *dir, const char *name, int oflags,
			   lk_io_file **file)
{
	struct stat st;
	lk_io_file *f;
	lk_status rc;
	int fl;

	*file = NULL;
	if (fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
		return not_regular(name, st.st_mode);
	f = mem_calloc(1, sizeof *f);
	if (f == NULL)
		return err_set(LK_NOMEM, "open %s: out of memory", name);
	memcpy(f->name, name, strlen(name) + 1);
	f->fd = openat(dir->fd, name,
		       oflags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
		       (mode_t)0600);
	if (f->fd < 0) {
		rc = sys_fail("open", name, errno);
		goto fail;
	}
	if (fstat(f->fd, &st) != 0) {
		rc = sys_fail("fstat", name, errno);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = not_regular(name, st.st_mode);
		goto fail;
	}
	fl = fcntl(f->fd, F_GETFL);
	if (fl == -1 || fcntl(f->fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
		rc = sys_fail("fcntl", name, errno);
		goto fail;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	*file = f;
	return LK_OK;
fail:
	if (f->fd >= 0)
		close(f->fd);
	mem_free(f);
	return rc;
}

static lk_status px_open(void *ctx, lk_io_dir *dir, const char *name,
			 uint32_t flags, lk_io_file **file)
{
	int oflags;
	lk_status rc;

	(void)ctx;
	assert(dir != NULL && file != NULL);
	assert((flags & ~(LK_IO_WRITE | LK_IO_CREATE | LK_IO_EXCL)) == 0);
	assert(!(flags & LK_IO_CREATE) || (flags & LK_IO_WRITE));
	assert(!(flags & LK_IO_EXCL) || (flags & LK_IO_CREATE));
	*file = NULL;
	rc = io_check_name("open", name);
	if (rc != LK_OK)
		return rc;
	oflags = (flags & LK_IO_WRITE) ? O_RDWR : O_RDONLY;
	if (flags & LK_IO_CREATE)
		oflags |= O_CREAT;
	if (flags & LK_IO_EXCL)
		oflags |= O_EXCL;
	return open_file(dir, name, oflags, file);
}

static struct lk_io_file *find_holder(dev_t dev, ino_t ino)
{
	struct lk_io_file *f;

	for (f = held; f != NULL; f = f->next)
		if (f->dev == dev && f->ino == ino)
			return f;
	return NULL;
}

/* Closes a descriptor of a file that is not locked, or whose lock this
 * handle holds (with the parked ones).  Called with held_mutex held. */
static void close_locked(lk_io_file *f)
{
	struct lk_io_file **link, *p, *next;

	if (f->holds_lock) {
		for (link = &held; *link != f; link = &(*link)->next)
			assert(*link != NULL);
		*link = f->next;
		for (p = f->parked; p != NULL; p = next) {
			next = p->next;
			close(p->fd);
			mem_free(p);
		}
	}
	/* Errors of close() are not reported: the engine syncs what it needs
	 * before, and on Linux the descriptor is gone even on EINTR. */
	close(f->fd);
	mem_free(f);
}

static void px_close(void *ctx, lk_io_file *file)
{
	struct lk_io_file *holder;

	(void)ctx;
	if (file == NULL)
		return;
	pthread_mutex_lock(&held_mutex);
	holder = file->holds_lock ? NULL : find_holder(file->dev, file->ino);
	if (holder != NULL) {
		/* Closing it would drop the holder's lock: keep it open
		 * until the holder closes. */
		file->next = holder->parked;
		holder->parked = file;
	} else {
		close_locked(file);
	}
	pthread_mutex_unlock(&held_mutex);
}

static lk_status px_lock(void *ctx, lk_io_dir *dir, const char *name,
			 lk_io_file **file)
{
	struct flock fl;
	lk_io_file *f;
	lk_status rc;
	int e;

	(void)ctx;
	assert(dir != NULL && file != NULL);
	*file = NULL;
	rc = io_check_name("lock", name);
	if (rc != LK_OK)
		return rc;
	rc = open_file(dir, name, O_RDWR | O_CREAT, &f);
	if (rc != LK_OK)
		return rc;
	pthread_mutex_lock(&held_mutex);
	if (find_holder(f->dev, f->ino) != NULL) {
		rc = err_set(LK_BUSY, "%s is held by another handle in this "
			     "process", name);
		goto fail;
	}
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 0; /* the whole file, however long */
	if (fcntl(f->fd, F_SETLK, &fl) != 0) {
		e = errno;
		if (e == EAGAIN || e == EACCES)
			rc = err_set(LK_BUSY, "%s is held by another process",
				     name);
		else
			rc = sys_fail("lock", name, e);
		goto fail;
	}
	f->holds_lock = 1;
	f->next = held;
	held = f;
	pthread_mutex_unlock(&held_mutex);
	*file = f;
	return LK_OK;
fail:
	pthread_mutex_unlock(&held_mutex);
	px_close(ctx, f); /* parks f if this process holds the lock */
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Reading and writing                                                    */
/* ---------------------------------------------------------------------- */

static lk_status px_pread(void *ctx, lk_io_file *file, void *buf, size_t n,
			  uint64_t offset, size_t *got)
{
	unsigned char *p = buf;
	size_t done = 0, want;
	ssize_t r;
	int e;

	(void)ctx;
	assert(file != NULL && got != NULL && (buf != NULL || n == 0));
	*got = 0;
	if (offset > OFFSET_MAX || n > OFFSET_MAX - offset)
		return err_set(LK_INVALID, "pread %s: offset %llu out of range",
			       file->name, (unsigned long long)offset);
	while (done < n) {
		want = n - done < TRANSFER_BYTES_MAX ? n - done
						     : TRANSFER_BYTES_MAX;
		r = pread(file->fd, p + done, want, (off_t)(offset + done));
		if (r < 0) {
			e = errno;
			if (e == EINTR)
				continue;
			*got = done;
			return sys_fail("pread", file->name, e);
		}
		if (r == 0)
			break; /* end of file */
		done += (size_t)r;
	}
	*got = done;
	return LK_OK;
}

/* A shared read-only mapping sees the page cache, so the handle's later
 * writes too.  Touching a page wholly past the file's end raises SIGBUS:
 * the engine reads below the end it knows (logkeep_io.h, version 3). */
static lk_status px_map(void *ctx, lk_io_file *file, size_t n,
			const void **addr)
{
	void *p;

	(void)ctx;
	assert(file != NULL && addr != NULL && n > 0);
	*addr = NULL;
	/* A length mmap cannot take is its EINVAL or ENOMEM: declined. */
	p = mmap(NULL, n, PROT_READ, MAP_SHARED, file->fd, 0);
	if (p == MAP_FAILED)
		return sys_fail("mmap", file->name, errno);
	*addr = p;
	return LK_OK;
}

static void px_unmap(void *ctx, lk_io_file *file, const void *addr, size_t n)
{
	(void)ctx;
	(void)file;
	/* Fails only for a range that was not mapped: the caller's bug. */
	int rc = munmap((void *)(uintptr_t)addr, n);

	assert(rc == 0);
	(void)rc;
}

static lk_status px_pwrite(void *ctx, lk_io_file *file, const void *buf,
			   size_t n, uint64_t offset)
{
	const unsigned char *p = buf;
	size_t done = 0, want;
	ssize_t r;
	int e;

	(void)ctx;
	assert(file != NULL && (buf != NULL || n == 0));
	if (offset > OFFSET_MAX || n > OFFSET_MAX - offset)
		return err_set(LK_INVALID, "pwrite %s: offset %llu out of range",
			       file->name, (unsigned long long)offset);
	while (done < n) {
		want = n - done < TRANSFER_BYTES_MAX ? n - done
						     : TRANSFER_BYTES_MAX;
		r = pwrite(file->fd, p + done, want, (off_t)(offset + done));
		if (r < 0) {
			e = errno;
			if (e == EINTR)
				continue;
			return sys_fail("pwrite", file->name, e);
		}
		if (r == 0) /* not seen on regular files; do not spin */
			return err_set(LK_IO, "pwrite %s: wrote nothing at "
				       "offset %llu", file->name,
				       (unsigned long long)(offset + done));
		done += (size_t)r;
	}
	return LK_OK;
}

static lk_status px_sync(void *ctx, lk_io_file *file)
{
	int rc;

	(void)ctx;
	assert(file != NULL);
	/* fdatasync writes the data and the metadata needed to read it back
	 * (the size), not the timestamps: one journal commit less than fsync
	 * on most file systems.  Linux always has it (musl does not advertise
	 * _POSIX_SYNCHRONIZED_IO but provides it); only where the option is
	 * absent do we fall back to fsync, which does strictly more. */
#if defined(__linux__) || \
	(defined(_POSIX_SYNCHRONIZED_IO) && _POSIX_SYNCHRONIZED_IO > 0)
	rc = fdatasync(file->fd);
#else
	rc = fsync(file->fd);
#endif
	if (rc != 0) {
		sys_fail("fdatasync", file->name, errno);
		return LK_IO; /* even for ENOSPC: never retried, see header */
	}
	return LK_OK;
}

static lk_status px_truncate(void *ctx, lk_io_file *file, uint64_t size)
{
	int e;

	(void)ctx;
	assert(file != NULL);
	if (size > OFFSET_MAX)
		return err_set(LK_INVALID, "truncate %s: size %llu out of range",
			       file->name, (unsigned long long)size);
	while (ftruncate(file->fd, (off_t)size) != 0) {
		e = errno;
		if (e != EINTR)
			return sys_fail("truncate", file->name, e);
	}
	return LK_OK;
}

static lk_status px_size(void *ctx, lk_io_file *file, uint64_t *size)
{
	struct stat st;

	(void)ctx;
	assert(file != NULL && size != NULL);
	*size = 0;
	if (fstat(file->fd, &st) != 0)
		return sys_fail("fstat", file->name, errno);
	*size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Clocks                                                                 */
/* ---------------------------------------------------------------------- */

/* clock_gettime fails only for an unknown clock or a bad pointer. */
static uint64_t px_now_ms(void *ctx)
{
	struct timespec ts;
	int rc;

	(void)ctx;
	rc = clock_gettime(CLOCK_REALTIME, &ts);
	assert(rc == 0);
	(void)rc;
	if (ts.tv_sec < 0) /* a clock set before 1970 */
		return 0;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t px_mono_us(void *ctx)
{
	struct timespec ts;
	int rc;

	(void)ctx;
	rc = clock_gettime(CLOCK_MONOTONIC, &ts);
	assert(rc == 0);
	(void)rc;
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---------------------------------------------------------------------- */
/* Threads and sleeps                                                     */
/* ---------------------------------------------------------------------- */

struct lk_io_thread {
	pthread_t id;
	void (*fn)(void *arg);
	void *arg;
};

static void *px_thread_main(void *arg)
{
	struct lk_io_thread *t = arg;

	t->fn(t->arg);
	return NULL;
}

/* pthread_create returns its error number instead of setting errno. */
static lk_status px_thread_start(void *ctx, lk_io_thread **out,
				 void (*fn)(void *arg), void *arg)
{
	struct lk_io_thread *t;
	int rc;

	(void)ctx;
	assert(out != NULL && fn != NULL);
	*out = NULL;
	t = mem_alloc(sizeof *t);
	if (t == NULL)
		return err_set(LK_NOMEM, "starting a thread: out of memory");
	t->fn = fn;
	t->arg = arg;
	rc = pthread_create(&t->id, NULL, px_thread_main, t);
	if (rc != 0) {
		mem_free(t);
		(void)sys_fail("pthread_create", "(a background thread)", rc);
		return LK_NOMEM;
	}
	*out = t;
	return LK_OK;
}

static void px_thread_join(void *ctx, lk_io_thread *t)
{
	int rc;

	(void)ctx;
	assert(t != NULL);
	rc = pthread_join(t->id, NULL);
	assert(rc == 0); /* only a programming error fails a join */
	(void)rc;
	mem_free(t);
}

/* A sleep is a condition variable on CLOCK_MONOTONIC, the clock of
 * px_mono_us, so a deadline of mono_us is its absolute time as is. */
struct lk_io_wait {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	int stopped;
};

static lk_status px_wait_new(void *ctx, lk_io_wait **out)
{
	struct lk_io_wait *w;
	pthread_condattr_t attr;
	int rc;

	(void)ctx;
	assert(out != NULL);
	*out = NULL;
	w = mem_calloc(1, sizeof *w);
	if (w == NULL)
		return err_set(LK_NOMEM, "a sleep: out of memory");
	rc = pthread_condattr_init(&attr);
	if (rc == 0) {
		rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (rc == 0)
			rc = pthread_cond_init(&w->cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (rc == 0) {
		rc = pthread_mutex_init(&w->mutex, NULL);
		if (rc != 0)
			pthread_cond_destroy(&w->cond);
	}
	if (rc != 0) {
		mem_free(w);
		(void)sys_fail("pthread_cond_init", "(a sleep)", rc);
		return LK_NOMEM;
	}
	*out = w;
	return LK_OK;
}

static void px_wait_free(void *ctx, lk_io_wait *w)
{
	(void)ctx;
	if (w == NULL)
		return;
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mutex);
	mem_free(w);
}

static int px_wait_until(void *ctx, lk_io_wait *w, uint64_t deadline_us)
{
	struct timespec ts;
	int stopped;

	(void)ctx;
	assert(w != NULL);
	ts.tv_sec = (time_t)(deadline_us / 1000000u);
	ts.tv_nsec = (long)(deadline_us % 1000000u) * 1000L;
	pthread_mutex_lock(&w->mutex);
	while (!w->stopped &&
	       pthread_cond_timedwait(&w->cond, &w->mutex, &ts) != ETIMEDOUT)
		;
	stopped = w->stopped;
	pthread_mutex_unlock(&w->mutex);
	return stopped;
}

static void px_wait_stop(void *ctx, lk_io_wait *w)
{
	(void)ctx;
	assert(w != NULL);
	pthread_mutex_lock(&w->mutex);
	w->stopped = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mutex);
}

/* ---------------------------------------------------------------------- */
/* The table                                                              */
/* ---------------------------------------------------------------------- */

static const lk_io posix_io = {
	.version = LK_IO_VERSION,
	.ctx = NULL,
	.dir_open = px_dir_open,
	.dir_list = px_dir_list,
	.dir_sync = px_dir_sync,
	.dir_close = px_dir_close,
	.rename = px_rename,
	.unlink = px_unlink,
	.lock = px_lock,
	.open = px_open,
	.pread = px_pread,
	.pwrite = px_pwrite,
	.sync = px_sync,
	.truncate = px_truncate,
	.size = px_size,
	.close = px_close,
	.now_ms = px_now_ms,
	.mono_us = px_mono_us,
	.thread_start = px_thread_start,
	.thread_join = px_thread_join,
	.wait_new = px_wait_new,
	.wait_free = px_wait_free,
	.wait_until = px_wait_until,
	.wait_stop = px_wait_stop,
	.map = px_map,
	.unmap = px_unmap,
};

const lk_io *lk_io_posix(void)
{
	return &posix_io;
}
