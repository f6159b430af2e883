/* SPDX-License-Identifier: MIT */
/*
 * test_io.c - the three I/O layers keep the contract of logkeep_io.h.
 *
 * Goal: the engine must not be able to tell the POSIX layer from the
 * in-memory one or from the fault-injecting one with no fault armed, so
 * each behaviour it relies on is written down once here, as a test named
 * after it, and checked against all three layers.
 *
 * Method: every test gets a fixture with an lk_io and an open data
 * directory "db": for POSIX inside a fresh mkdtemp() directory under /tmp
 * that the teardown removes, for memory and fault in a new file system
 * that the teardown frees.  The table at the bottom runs each shared test
 * three times, named "posix: <test>", "memory: <test>" and
 * "fault: <test>".  A few tests need a real
 * kernel (file modes, symbolic links, a lock held by another process) or
 * a knob of the memory layer (its clock, its size bound) and run on that
 * layer alone.  Statuses are checked with check.h's CHECK_ST(want, expr)
 * and CHECK_OK(expr), which on failure print the file, line, expression,
 * both statuses and lk_errmsg(); other values with cmocka's assert_*.
 * The allocation test counts the allocations of each call with
 * mem_fail_at() and fails every one in turn.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc.h"
#include "check.h"
#include "io.h"
#include "io_fault.h"

/* ---------------------------------------------------------------------- */
/* The fixture                                                            */
/* ---------------------------------------------------------------------- */

struct fixture {
	const lk_io *io;
	lk_io *mem;          /* the memory layer, or NULL */
	struct fault_fs *fault; /* the fault layer, or NULL */
	lk_io_dir *dir;      /* "db" */
	char root[64];       /* POSIX: the mkdtemp() directory */
	char db[128];        /* the path of "db" */
};

#define RW_CREATE (LK_IO_WRITE | LK_IO_CREATE)

static int setup_common(struct fixture *fx, void **state)
{
	lk_status rc;

	rc = fx->io->dir_open(fx->io->ctx, fx->db, 1, &fx->dir);
	if (rc != LK_OK) {
		print_error("dir_open %s: %s\n", fx->db, lk_errmsg());
		return -1;
	}
	*state = fx;
	return 0;
}

static int setup_posix(void **state)
{
	static struct fixture fx;

	memset(&fx, 0, sizeof fx);
	fx.io = lk_io_posix();
	if (make_temp_dir(fx.root, sizeof fx.root, "io") != 0)
		return -1;
	snprintf(fx.db, sizeof fx.db, "%s/db", fx.root);
	return setup_common(&fx, state);
}

static int setup_memory(void **state)
{
	static struct fixture fx;

	memset(&fx, 0, sizeof fx);
	if (lk_io_memory_new(&fx.mem) != LK_OK)
		return -1;
	fx.io = fx.mem;
	snprintf(fx.db, sizeof fx.db, "db");
	return setup_common(&fx, state);
}

/* The fault layer with no fault armed: it must keep the same contract
 * as the others while nothing fails (io_fault.h). */
static int setup_fault(void **state)
{
	static struct fixture fx;

	memset(&fx, 0, sizeof fx);
	if (fault_new(&fx.fault, 42) != LK_OK)
		return -1;
	fx.io = fault_io(fx.fault);
	snprintf(fx.db, sizeof fx.db, "db");
	return setup_common(&fx, state);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	mem_fail_at(0, 0);
	fx->io->dir_close(fx->io->ctx, fx->dir);
	if (fx->mem != NULL)
		lk_io_memory_free(fx->mem);
	else if (fx->fault != NULL)
		fault_free(fx->fault);
	else
		remove_tree(fx->root);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Shorthands                                                             */
/* ---------------------------------------------------------------------- */

static lk_status fx_open(struct fixture *fx, const char *name, uint32_t flags,
			 lk_io_file **file)
{
	return fx->io->open(fx->io->ctx, fx->dir, name, flags, file);
}

static lk_status fx_lock(struct fixture *fx, const char *name,
			 lk_io_file **file)
{
	return fx->io->lock(fx->io->ctx, fx->dir, name, file);
}

static void fx_close(struct fixture *fx, lk_io_file *file)
{
	fx->io->close(fx->io->ctx, file);
}

static lk_status fx_write(struct fixture *fx, lk_io_file *file,
			  const char *text, uint64_t offset)
{
	return fx->io->pwrite(fx->io->ctx, file, text, strlen(text), offset);
}

static lk_status fx_read(struct fixture *fx, lk_io_file *file, void *buf,
			 size_t n, uint64_t offset, size_t *got)
{
	return fx->io->pread(fx->io->ctx, file, buf, n, offset, got);
}

static lk_status fx_rename(struct fixture *fx, const char *from,
			   const char *to)
{
	return fx->io->rename(fx->io->ctx, fx->dir, from, to);
}

static lk_status fx_unlink(struct fixture *fx, const char *name)
{
	return fx->io->unlink(fx->io->ctx, fx->dir, name);
}

static uint64_t fx_size(struct fixture *fx, lk_io_file *file)
{
	uint64_t size = UINT64_MAX;

	CHECK_OK(fx->io->size(fx->io->ctx, file, &size));
	return size;
}

/* Creates (or replaces the start of) file `name` holding `text`. */
static void put_file(struct fixture *fx, const char *name, const char *text)
{
	lk_io_file *f;

	CHECK_OK(fx_open(fx, name, RW_CREATE, &f));
	CHECK_OK(fx->io->truncate(fx->io->ctx, f, 0));
	CHECK_OK(fx_write(fx, f, text, 0));
	fx_close(fx, f);
}

/* Asserts that file `name` holds exactly `text`. */
static void expect_file(struct fixture *fx, const char *name,
			const char *text)
{
	char buf[256];
	lk_io_file *f;
	size_t got;

	CHECK_OK(fx_open(fx, name, LK_IO_READ, &f));
	CHECK_OK(fx_read(fx, f, buf, sizeof buf - 1, 0, &got));
	buf[got] = '\0';
	assert_string_equal(buf, text);
	fx_close(fx, f);
}

struct names {
	char name[16][256];
	int count;
	int stop_after;          /* return LK_CORRUPT after this many; 0: never */
	struct fixture *unlink_in; /* unlink each name from the callback */
};

static lk_status collect(void *arg, const char *name)
{
	struct names *names = arg;

	if (names->count >= 16)
		return LK_TOO_BIG;
	snprintf(names->name[names->count], sizeof names->name[0], "%s", name);
	names->count++;
	if (names->unlink_in != NULL)
		CHECK_OK(fx_unlink(names->unlink_in, name));
	if (names->stop_after != 0 && names->count == names->stop_after)
		return LK_CORRUPT;
	return LK_OK;
}

static int has_name(const struct names *names, const char *name)
{
	int i;

	for (i = 0; i < names->count; i++)
		if (strcmp(names->name[i], name) == 0)
			return 1;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Opening                                                                */
/* ---------------------------------------------------------------------- */

static void open_missing_file_without_create_is_not_found(void **state)
{
	struct fixture *fx = *state;
	lk_io_file *f = (void *)fx; /* must be reset */

	CHECK_ST(LK_NOT_FOUND, fx_open(fx, "absent", LK_IO_READ, &f));
	assert_null(f);
	CHECK_ST(LK_NOT_FOUND, fx_open(fx, "absent", LK_IO_WRITE, &f));
	assert_non_null(strstr(lk_errmsg(), "absent"));
}

static void exclusive_create_of_existing_file_fails(void **state)
{
	struct fixture *fx = *state;
	lk_io_file *f;

	CHECK_OK(fx_open(fx, "a", RW_CREATE | LK_IO_EXCL, &f));
	fx_close(fx, f);
	CHECK_ST(LK_EXISTS, fx_open(fx, "a", RW_CREATE | LK_IO_EXCL, &f));
	assert_null(f);
}

static void create_without_excl_keeps_existing_content(void **state)
{
	struct fixture *fx = *state;
	lk_io_file *f;

	put_file(fx, "a", "hello");
	CHECK_OK(fx_open(fx, "a", RW_CREATE, &f));
	assert_int_equal(fx_size(fx, f), 5);
	fx_close(fx, f);
	expect_file(fx, "a", "hello");
}

static void names_with_slash_are_rejected(void **state)
{
	static const char *bad[] = { "a/b", "/a", "", ".", "..", NULL };
	struct fixture *fx = *state;
	char long_name[300];
	lk_io_file *f;
	int i;

	put_file(fx, "ok", "x");
	memset(long_name, 'n', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	for (i = 0; bad[i] != NULL; i++) {
		CHECK_ST(LK_INVALID, fx_open(fx, bad[i], RW_CREATE, &f));
		CHECK_ST(LK_INVALID, fx_lock(fx, bad[i], &f));
		CHECK_ST(LK_INVALID, fx_unlink(fx, bad[i]));
		CHECK_ST(LK_INVALID, fx_rename(fx, "ok", bad[i]));
		CHECK_ST(LK_INVALID, fx_rename(fx, bad[i], "ok"));
	}
	CHECK_ST(LK_INVALID, fx_open(fx, long_name, RW_CREATE, &f));
	long_name[255] = '\0'; /* 255 bytes is allowed */
	CHECK_OK(fx_open(fx, long_name, RW_CREATE, &f));
	fx_close(fx, f);
	expect_file(fx, "ok", "x");
}

/* ---------------------------------------------------------------------- */
/* Reading and writing                                                    */
/* ---------------------------------------------------------------------- */

static void written_bytes_read_back_after_reopen(void **state)
{
	struct fixture *fx = *state;
	lk_io_file *f;

	CHECK_OK(fx_open(fx, "a", RW_CREATE, &f));
	CHECK_OK(fx_write(fx, f, "hello ", 0));
	CHECK_OK(fx_write(fx, f, "world", 6));
	CHECK_OK(fx_write(fx, f, "W", 6));
	CHECK_OK(fx->io->sync(fx->io->ctx, f));
	fx_close(fx, f);
	expect_file(fx, "a", "hello World");
}

static void pread_past_end_returns_short_count(void **state)
{
	struct fixture *fx = *state;
	char buf[16];
	lk_io_file *f;
	size_t got;

	put_file(fx, "a", "0123456789");
	CHECK_OK(fx_open(fx, "a", LK_IO_READ, &f));
	CHECK_OK(fx_read(fx, f, buf, sizeof buf, 6, &got));
	assert_int_equal(got, 4);
	assert_memory_equal(buf, "6789", 4);
	CHECK_OK(fx_read(fx, f, buf, sizeof buf, 10, &got));
	assert_int_equal(got, 0);
	CHECK_OK(fx_read(fx, f, buf, sizeof buf, 1000, &got));
	assert_int_equal(got, 0);
	CHECK_OK(fx_read(fx, f, buf, 0, 0, &got));
	assert_int_equal(got, 0);
	fx_close(fx, f);
}

static void pwrite_past_end_zero_fills_gap(void **state)
{
	struct fixture *fx = *state;
	unsigned char buf[64];
	unsigned char zero[64] = { 0 };
	lk_io_file *f;
	size_t got;

	CHECK_OK(fx_open(fx, "a", RW_CREATE, &f));
	CHECK_OK(fx_write(fx, f, "ab", 0));
	CHECK_OK(fx_write(fx, f, "yz", 50));
	assert_int_equal(fx_size(fx, f), 52);
	CHECK_OK(fx_read(fx, f, buf, sizeof buf, 0, &got));
	assert_int_equal(got, 52);
	assert_memory_equal(buf, "ab", 2);
	assert_memory_equal(buf + 2, zero, 48);
	assert_memory_equal(buf + 50, "yz", 2);
	/* Writing nothing extends nothing. */
	CHECK_OK(fx->io->pwrite(fx->io->ctx, f, "", 0, 1000));
	assert_int_equal(fx_size(fx, f), 52);
	fx_close(fx, f);
}

static void truncate_shrinks_and_grows_with_zeroes(void **state)
{
	struct fixture *fx = *state;
	unsigned char buf[16];
	lk_io_file *f;
	size_t got;

	CHECK_OK(fx_open(fx, "a", RW_CREATE, &f));
	CHECK_OK(fx_write(fx, f, "0123456789", 0));
	CHECK_OK(fx->io->truncate(fx->io->ctx, f, 4));
	assert_int_equal(fx_size(fx, f), 4);
	/* Bytes cut off do not come back when the file grows again. */
	CHECK_OK(fx->io->truncate(fx->io->ctx, f, 8));
	assert_int_equal(fx_size(fx, f), 8);
	CHECK_OK(fx_read(fx, f, buf, sizeof buf, 0, &got));
	assert_int_equal(got, 8);
	assert_memory_equal(buf, "0123\0\0\0\0", 8);
	fx_close(fx, f);
}

static void write_through_read_only_handle_fails(void **state)
{
	struct fixture *fx = *state;
	lk_io_file *f;

	put_file(fx, "a", "keep");
	CHECK_OK(fx_open(fx, "a", LK_IO_READ, &f));
	CHECK_ST(LK_IO, fx_write(fx, f, "lost", 0));
	CHECK_ST(LK_IO, fx->io->truncate(fx->io->ctx, f, 0));
	fx_close(fx, f);
	expect_file(fx, "a", "keep");
}

struct worker {
	struct fixture *fx;
	lk_io_file *file;
	unsigned index;
	int failures;
};

#define WORKERS 4
#define WORKER_BLOCKS 64
#define BLOCK_BYTES 512

/* Writes its own blocks, interleaved with the other workers', and reads
 * them back.  No cmocka calls: they are not thread-safe. */
static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned char block[BLOCK_BYTES], back[BLOCK_BYTES];
	uint64_t offset;
	size_t got;
	unsigned i;

	for (i = 0; i < WORKER_BLOCKS; i++) {
		offset = (uint64_t)(i * WORKERS + w->index) * BLOCK_BYTES;
		memset(block, (int)(w->index * 64 + i), sizeof block);
		if (w->fx->io->pwrite(w->fx->io->ctx, w->file, block,
				      sizeof block, offset) != LK_OK)
			w->failures++;
	}
	for (i = 0; i < WORKER_BLOCKS; i++) {
		offset = (uint64_t)(i * WORKERS + w->index) * BLOCK_BYTES;
		memset(block, (int)(w->index * 64 + i), sizeof block);
		if (w->fx->io->pread(w->fx->io->ctx, w->file, back,
				     sizeof back, offset, &got) != LK_OK ||
		    got != sizeof back || memcmp(back, block, got) != 0)
			w->failures++;
	}
	return NULL;
}

static void concurrent_preads_and_pwrites_keep_their_bytes(void **state)
{
	struct fixture *fx = *state;
	struct worker workers[WORKERS];
	pthread_t threads[WORKERS];
	lk_io_file *f;
	unsigned i;

	CHECK_OK(fx_open(fx, "a", RW_CREATE, &f));
	for (i = 0; i < WORKERS; i++) {
		workers[i] = (struct worker){ fx, f, i, 0 };
		assert_int_equal(pthread_create(&threads[i], NULL, work,
						&workers[i]), 0);
	}
	for (i = 0; i < WORKERS; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_int_equal(workers[i].failures, 0);
	}
	assert_int_equal(fx_size(fx, f),
			 WORKERS * WORKER_BLOCKS * BLOCK_BYTES);
	fx_close(fx, f);
}

/* ---------------------------------------------------------------------- */
/* Unlink and rename                                                      */
/* ---------------------------------------------------------------------- */

static void unlinked_file_stays_readable_while_open(void **state)
{
	struct fixture *fx = *state;
	lk_io_file *f, *probe;
	char buf[16];
	size_t got;

	put_file(fx, "a", "still here");
	CHECK_OK(fx_open(fx, "a", LK_IO_WRITE, &f));
	CHECK_OK(fx_unlink(fx, "a"));
	CHECK_ST(LK_NOT_FOUND, fx_open(fx, "a", LK_IO_READ, &probe));
	CHECK_OK(fx_write(fx, f, "S", 0));
	CHECK_OK(fx_read(fx, f, buf, sizeof buf, 0, &got));
	assert_int_equal(got, 10);
	assert_memory_equal(buf, "Still here", 10);
	/* A new file of the same name is another file. */
	put_file(fx, "a", "new");
	expect_file(fx, "a", "new");
	assert_int_equal(fx_size(fx, f), 10);
	fx_close(fx, f);
	expect_file(fx, "a", "new");
}

static void unlink_of_missing_file_is_not_found(void **state)
{
	struct fixture *fx = *state;

	CHECK_ST(LK_NOT_FOUND, fx_unlink(fx, "absent"));
	put_file(fx, "a", "x");
	CHECK_OK(fx_unlink(fx, "a"));
	CHECK_ST(LK_NOT_FOUND, fx_unlink(fx, "a"));
}

static void rename_replaces_target(void **state)
{
	struct fixture *fx = *state;
	lk_io_file *old, *probe;
	char buf[16];
	size_t got;

	put_file(fx, "tmp", "new");
	put_file(fx, "current", "old");
	CHECK_OK(fx_open(fx, "current", LK_IO_READ, &old));
	CHECK_OK(fx_rename(fx, "tmp", "current"));
	expect_file(fx, "current", "new");
	CHECK_ST(LK_NOT_FOUND, fx_open(fx, "tmp", LK_IO_READ, &probe));
	/* The replaced file lives on through its handle. */
	CHECK_OK(fx_read(fx, old, buf, sizeof buf, 0, &got));
	assert_int_equal(got, 3);
	assert_memory_equal(buf, "old", 3);
	fx_close(fx, old);
	/* Renaming a file onto itself changes nothing. */
	CHECK_OK(fx_rename(fx, "current", "current"));
	expect_file(fx, "current", "new");
	/* A rename to a free name moves it. */
	CHECK_OK(fx_rename(fx, "current", "moved"));
	expect_file(fx, "moved", "new");
	CHECK_ST(LK_NOT_FOUND, fx_open(fx, "current", LK_IO_READ, &probe));
}

static void rename_of_missing_file_is_not_found(void **state)
{
	struct fixture *fx = *state;

	put_file(fx, "target", "kept");
	CHECK_ST(LK_NOT_FOUND, fx_rename(fx, "absent", "target"));
	expect_file(fx, "target", "kept");
}

/* ---------------------------------------------------------------------- */
/* The lock                                                               */
/* ---------------------------------------------------------------------- */

static void second_lock_is_busy(void **state)
{
	struct fixture *fx = *state;
	lk_io_file *first, *second = (void *)fx;

	CHECK_OK(fx_lock(fx, "LOCK", &first));
	CHECK_ST(LK_BUSY, fx_lock(fx, "LOCK", &second));
	assert_null(second);
	assert_non_null(strstr(lk_errmsg(), "LOCK is held by"));
	CHECK_ST(LK_BUSY, fx_lock(fx, "LOCK", &second));
	fx_close(fx, first);
}

static void lock_released_by_close(void **state)
{
	struct fixture *fx = *state;
	lk_io_file *f;

	CHECK_OK(fx_lock(fx, "LOCK", &f));
	fx_close(fx, f);
	CHECK_OK(fx_lock(fx, "LOCK", &f));
	fx_close(fx, f);
}

static void lock_creates_missing_file(void **state)
{
	struct fixture *fx = *state;
	struct names names = { .count = 0 };
	lk_io_file *f;

	CHECK_OK(fx_lock(fx, "LOCK", &f));
	CHECK_OK(fx->io->dir_list(fx->io->ctx, fx->dir, collect, &names));
	assert_int_equal(names.count, 1);
	assert_string_equal(names.name[0], "LOCK");
	/* The lock is on the file, not on its contents. */
	CHECK_OK(fx->io->pwrite(fx->io->ctx, f, "pid", 3, 0));
	fx_close(fx, f);
	expect_file(fx, "LOCK", "pid");
}

/* POSIX: whether another process could take the lock on `path` now. */
static int another_process_can_lock(const char *path)
{
	struct flock fl;
	int status, fd;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open(path, O_RDWR);
		memset(&fl, 0, sizeof fl);
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		_exit(fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status) == 0;
}

static void closing_another_handle_of_the_lock_file_keeps_the_lock(
	void **state)
{
	struct fixture *fx = *state;
	lk_io_file *lock, *other, *again;
	char path[256];

	snprintf(path, sizeof path, "%s/LOCK", fx->db);
	CHECK_OK(fx_lock(fx, "LOCK", &lock));
	/* fcntl locks are dropped by closing any descriptor of the file:
	 * neither a plain handle nor a refused lock may do that. */
	CHECK_OK(fx_open(fx, "LOCK", LK_IO_READ, &other));
	fx_close(fx, other);
	CHECK_ST(LK_BUSY, fx_lock(fx, "LOCK", &again));
	CHECK_ST(LK_BUSY, fx_lock(fx, "LOCK", &again));
	if (fx->root[0] != '\0')
		assert_false(another_process_can_lock(path));
	fx_close(fx, lock);
	if (fx->root[0] != '\0')
		assert_true(another_process_can_lock(path));
	CHECK_OK(fx_lock(fx, "LOCK", &lock));
	fx_close(fx, lock);
}

static void lock_held_by_another_process_is_busy(void **state)
{
	struct fixture *fx = *state;
	int ready[2], release[2], status, fd;
	struct flock fl;
	lk_io_file *f;
	char path[256], c = 'n';
	pid_t pid;

	snprintf(path, sizeof path, "%s/LOCK", fx->db);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(release), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(release[1]);
		fd = open(path, O_RDWR | O_CREAT, 0600);
		memset(&fl, 0, sizeof fl);
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0)
			c = 'y';
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		/* Hold the lock until the parent closes its end. */
		while (read(release[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	CHECK_ST(LK_BUSY, fx_lock(fx, "LOCK", &f));
	assert_string_equal(lk_errmsg(), "LOCK is held by another process");
	close(release[1]);
	close(ready[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_OK(fx_lock(fx, "LOCK", &f));
	fx_close(fx, f);
}

/* ---------------------------------------------------------------------- */
/* Directories                                                            */
/* ---------------------------------------------------------------------- */

static void dir_list_skips_dot_entries(void **state)
{
	struct fixture *fx = *state;
	struct names names = { .count = 0 };

	CHECK_OK(fx->io->dir_list(fx->io->ctx, fx->dir, collect, &names));
	assert_int_equal(names.count, 0);
	put_file(fx, "a", "1");
	put_file(fx, "b", "2");
	put_file(fx, ".hidden", "3");
	CHECK_OK(fx_unlink(fx, "a"));
	CHECK_OK(fx->io->dir_list(fx->io->ctx, fx->dir, collect, &names));
	assert_int_equal(names.count, 2);
	assert_true(has_name(&names, "b"));
	assert_true(has_name(&names, ".hidden"));
	/* A second listing starts from the beginning again. */
	names.count = 0;
	CHECK_OK(fx->io->dir_list(fx->io->ctx, fx->dir, collect, &names));
	assert_int_equal(names.count, 2);
}

static void dir_list_stops_at_first_failing_callback(void **state)
{
	struct fixture *fx = *state;
	struct names names = { .count = 0, .stop_after = 2 };

	put_file(fx, "a", "1");
	put_file(fx, "b", "2");
	put_file(fx, "c", "3");
	CHECK_ST(LK_CORRUPT,
		 fx->io->dir_list(fx->io->ctx, fx->dir, collect, &names));
	assert_int_equal(names.count, 2);
}

static void dir_list_callback_may_unlink(void **state)
{
	struct fixture *fx = *state;
	struct names names = { .count = 0, .unlink_in = fx };

	put_file(fx, "a", "1");
	put_file(fx, "b", "2");
	CHECK_OK(fx->io->dir_list(fx->io->ctx, fx->dir, collect, &names));
	assert_int_equal(names.count, 2);
	names.count = 0;
	names.unlink_in = NULL;
	CHECK_OK(fx->io->dir_list(fx->io->ctx, fx->dir, collect, &names));
	assert_int_equal(names.count, 0);
}

static void dir_open_of_missing_directory_is_not_found(void **state)
{
	struct fixture *fx = *state;
	lk_io_dir *d = (void *)fx;
	char path[256];

	snprintf(path, sizeof path, "%s-absent", fx->db);
	CHECK_ST(LK_NOT_FOUND, fx->io->dir_open(fx->io->ctx, path, 0, &d));
	assert_null(d);
	CHECK_ST(LK_INVALID, fx->io->dir_open(fx->io->ctx, "", 1, &d));
}

static void dir_open_create_keeps_existing_files(void **state)
{
	struct fixture *fx = *state;
	struct names names = { .count = 0 };
	lk_io_dir *again, *other;
	char path[256];

	put_file(fx, "a", "1");
	CHECK_OK(fx->io->dir_open(fx->io->ctx, fx->db, 1, &again));
	CHECK_OK(fx->io->dir_list(fx->io->ctx, again, collect, &names));
	assert_int_equal(names.count, 1);
	fx->io->dir_close(fx->io->ctx, again);
	/* Another directory is another name space. */
	snprintf(path, sizeof path, "%s-other", fx->db);
	CHECK_OK(fx->io->dir_open(fx->io->ctx, path, 1, &other));
	names.count = 0;
	CHECK_OK(fx->io->dir_list(fx->io->ctx, other, collect, &names));
	assert_int_equal(names.count, 0);
	CHECK_OK(fx->io->dir_sync(fx->io->ctx, other));
	fx->io->dir_close(fx->io->ctx, other);
	CHECK_OK(fx->io->dir_open(fx->io->ctx, path, 0, &other));
	fx->io->dir_close(fx->io->ctx, other);
}

static void sync_and_dir_sync_succeed(void **state)
{
	struct fixture *fx = *state;
	lk_io_file *f;

	CHECK_OK(fx_open(fx, "a", RW_CREATE, &f));
	CHECK_OK(fx_write(fx, f, "x", 0));
	CHECK_OK(fx->io->sync(fx->io->ctx, f));
	CHECK_OK(fx->io->dir_sync(fx->io->ctx, fx->dir));
	fx_close(fx, f);
}

/* ---------------------------------------------------------------------- */
/* Clocks and allocation failures                                         */
/* ---------------------------------------------------------------------- */

static void clocks_tell_real_and_monotonic_time(void **state)
{
	struct fixture *fx = *state;
	uint64_t real_ms = (uint64_t)time(NULL) * 1000u;
	uint64_t now_ms = fx->io->now_ms(fx->io->ctx);
	uint64_t a_us, b_us;

	assert_true(now_ms + 60000 > real_ms && now_ms < real_ms + 60000);
	a_us = fx->io->mono_us(fx->io->ctx);
	b_us = fx->io->mono_us(fx->io->ctx);
	assert_true(a_us > 0 && b_us >= a_us);
}

/* Runs `call` with its 1st, 2nd, ... allocation failing until it needs no
 * more; each failure must be LK_NOMEM and `unchanged` must hold after it. */
#define FAIL_EACH_ALLOCATION(call, unchanged)                                 \
	do {                                                                  \
		uint64_t nth_;                                                \
		lk_status rc_;                                                \
		for (nth_ = 1;; nth_++) {                                     \
			mem_fail_at(nth_, 0);                                 \
			rc_ = (call);                                         \
			mem_fail_at(0, 0);                                    \
			if (rc_ == LK_OK)                                     \
				break;                                        \
			CHECK_ST(LK_NOMEM, rc_);                              \
			unchanged;                                            \
		}                                                             \
	} while (0)

static void allocation_failure_changes_nothing(void **state)
{
	struct fixture *fx = *state;
	struct names names = { .count = 0 };
	lk_io_file *f, *probe;
	lk_io_dir *d;
	char path[256];

	FAIL_EACH_ALLOCATION(fx_open(fx, "a", RW_CREATE, &f),
			     CHECK_ST(LK_NOT_FOUND,
				      fx_open(fx, "a", LK_IO_READ, &probe)));
	CHECK_OK(fx_write(fx, f, "0123456789", 0));
	FAIL_EACH_ALLOCATION(fx->io->pwrite(fx->io->ctx, f, "x", 1, 100000),
			     assert_int_equal(fx_size(fx, f), 10));
	FAIL_EACH_ALLOCATION(fx->io->truncate(fx->io->ctx, f, 300000),
			     assert_int_equal(fx_size(fx, f), 100001));
	fx_close(fx, f);
	FAIL_EACH_ALLOCATION(fx_lock(fx, "LOCK", &f),
			     CHECK_ST(LK_NOT_FOUND,
				      fx_open(fx, "LOCK", LK_IO_READ, &probe)));
	fx_close(fx, f);
	FAIL_EACH_ALLOCATION(
		fx->io->dir_list(fx->io->ctx, fx->dir, collect, &names),
		assert_int_equal(names.count, 0));
	assert_int_equal(names.count, 2);
	snprintf(path, sizeof path, "%s-new", fx->db);
	FAIL_EACH_ALLOCATION(fx->io->dir_open(fx->io->ctx, path, 1, &d),
			     CHECK_ST(LK_NOT_FOUND, fx->io->dir_open(
					      fx->io->ctx, path, 0, &d)));
	fx->io->dir_close(fx->io->ctx, d);
}

/* ---------------------------------------------------------------------- */
/* POSIX only                                                             */
/* ---------------------------------------------------------------------- */

static void files_are_created_0600_and_dirs_0700(void **state)
{
	struct fixture *fx = *state;
	char path[256];
	struct stat st;
	lk_io_file *f;
	lk_io_dir *d;
	mode_t old_mask;

	/* With no umask, the modes are exactly what the layer asks for. */
	old_mask = umask(0);
	snprintf(path, sizeof path, "%s-sub", fx->db);
	CHECK_OK(fx->io->dir_open(fx->io->ctx, path, 1, &d));
	fx->io->dir_close(fx->io->ctx, d);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	CHECK_OK(fx_open(fx, "a", RW_CREATE, &f));
	fx_close(fx, f);
	CHECK_OK(fx_lock(fx, "LOCK", &f));
	fx_close(fx, f);
	umask(old_mask);
	snprintf(path, sizeof path, "%s/a", fx->db);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(path, sizeof path, "%s/LOCK", fx->db);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(fx->db, &st), 0); /* any umask */
	assert_int_equal(st.st_mode & 077, 0);
}

static void symbolic_links_are_not_followed(void **state)
{
	struct fixture *fx = *state;
	char target[256], link[256];
	lk_io_file *f;

	snprintf(target, sizeof target, "%s/outside", fx->root);
	snprintf(link, sizeof link, "%s/link", fx->db);
	assert_int_equal(symlink(target, link), 0);
	CHECK_ST(LK_IO, fx_open(fx, "link", RW_CREATE, &f));
	assert_int_equal(access(target, F_OK), -1); /* nothing created */
	put_file(fx, "real", "x");
	snprintf(target, sizeof target, "%s/real", fx->db);
	unlink(link);
	assert_int_equal(symlink(target, link), 0);
	CHECK_ST(LK_IO, fx_open(fx, "link", LK_IO_READ, &f));
	CHECK_ST(LK_IO, fx_lock(fx, "link", &f));
}

static void directory_is_not_a_file(void **state)
{
	struct fixture *fx = *state;
	char path[256];
	lk_io_file *f;

	snprintf(path, sizeof path, "%s/sub", fx->db);
	assert_int_equal(mkdir(path, 0700), 0);
	CHECK_ST(LK_IO, fx_open(fx, "sub", LK_IO_READ, &f));
	assert_null(f);
}

/* Before the fix a read-only open of a FIFO waited for a writer forever;
 * the alarm turns such a hang into a failure (SIGALRM kills the test). */
static void fifo_named_like_a_segment_is_refused_without_blocking(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = { "0000000000000001.seg",
					     "0000000000000001.snap", "LOCK" };
	char path[256];
	lk_io_file *f = (void *)fx;

	alarm(30);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", fx->db, names[i]);
		assert_int_equal(mkfifo(path, 0600), 0);
		CHECK_ST(LK_IO, fx_open(fx, names[i], LK_IO_READ, &f));
		assert_null(f);
		assert_non_null(strstr(lk_errmsg(), names[i]));
		assert_non_null(strstr(lk_errmsg(), "FIFO"));
		CHECK_ST(LK_IO, fx_open(fx, names[i], LK_IO_WRITE, &f));
		CHECK_ST(LK_IO, fx_open(fx, names[i], RW_CREATE, &f));
		CHECK_ST(LK_IO, fx_lock(fx, names[i], &f));
		assert_null(f);
	}
	alarm(0);
}

static void dir_open_of_a_regular_file_is_not_found(void **state)
{
	struct fixture *fx = *state;
	lk_io_dir *d = (void *)fx;
	char path[256];

	put_file(fx, "plain", "x");
	snprintf(path, sizeof path, "%s/plain", fx->db);
	CHECK_ST(LK_NOT_FOUND, fx->io->dir_open(fx->io->ctx, path, 0, &d));
	assert_null(d);
	CHECK_ST(LK_NOT_FOUND, fx->io->dir_open(fx->io->ctx, path, 1, &d));
}

/* ---------------------------------------------------------------------- */
/* Memory only                                                            */
/* ---------------------------------------------------------------------- */

static void memory_clock_moves_only_when_set(void **state)
{
	struct fixture *fx = *state;
	uint64_t start_ms = fx->io->now_ms(fx->io->ctx);

	assert_int_equal(fx->io->now_ms(fx->io->ctx), start_ms);
	lk_io_memory_set_time_ms(fx->mem, 1000);
	assert_int_equal(fx->io->now_ms(fx->io->ctx), 1000);
	lk_io_memory_set_time_ms(fx->mem, start_ms + 86400000u);
	assert_int_equal(fx->io->now_ms(fx->io->ctx), start_ms + 86400000u);
}

static void memory_file_cannot_grow_past_4_gib(void **state)
{
	struct fixture *fx = *state;
	const uint64_t limit = UINT64_C(4) * 1024 * 1024 * 1024;
	lk_io_file *f;

	CHECK_OK(fx_open(fx, "a", RW_CREATE, &f));
	CHECK_OK(fx_write(fx, f, "abc", 0));
	CHECK_ST(LK_NOSPACE, fx->io->pwrite(fx->io->ctx, f, "x", 1, limit));
	CHECK_ST(LK_NOSPACE,
		 fx->io->pwrite(fx->io->ctx, f, "xy", 2, limit - 1));
	CHECK_ST(LK_NOSPACE,
		 fx->io->pwrite(fx->io->ctx, f, "x", 1, UINT64_MAX));
	CHECK_ST(LK_NOSPACE, fx->io->truncate(fx->io->ctx, f, limit + 1));
	assert_int_equal(fx_size(fx, f), 3);
	fx_close(fx, f);
	expect_file(fx, "a", "abc");
}

static void memory_file_systems_are_independent(void **state)
{
	struct fixture *fx = *state;
	lk_io *other;
	lk_io_dir *d;

	put_file(fx, "a", "1");
	CHECK_OK(lk_io_memory_new(&other));
	CHECK_ST(LK_NOT_FOUND, other->dir_open(other->ctx, "db", 0, &d));
	lk_io_memory_free(other);
	lk_io_memory_free(NULL);
}

/* ---------------------------------------------------------------------- */
/* The table                                                              */
/* ---------------------------------------------------------------------- */

#define POSIX(test) { "posix: " #test, test, setup_posix, teardown, NULL }
#define MEMORY(test) { "memory: " #test, test, setup_memory, teardown, NULL }
#define FAULT(test) { "fault: " #test, test, setup_fault, teardown, NULL }
#define ALL(test) POSIX(test), MEMORY(test), FAULT(test)

int main(void)
{
	const struct CMUnitTest tests[] = {
		ALL(open_missing_file_without_create_is_not_found),
		ALL(exclusive_create_of_existing_file_fails),
		ALL(create_without_excl_keeps_existing_content),
		ALL(names_with_slash_are_rejected),
		ALL(written_bytes_read_back_after_reopen),
		ALL(pread_past_end_returns_short_count),
		ALL(pwrite_past_end_zero_fills_gap),
		ALL(truncate_shrinks_and_grows_with_zeroes),
		ALL(write_through_read_only_handle_fails),
		ALL(concurrent_preads_and_pwrites_keep_their_bytes),
		ALL(unlinked_file_stays_readable_while_open),
		ALL(unlink_of_missing_file_is_not_found),
		ALL(rename_replaces_target),
		ALL(rename_of_missing_file_is_not_found),
		ALL(second_lock_is_busy),
		ALL(lock_released_by_close),
		ALL(lock_creates_missing_file),
		ALL(closing_another_handle_of_the_lock_file_keeps_the_lock),
		ALL(dir_list_skips_dot_entries),
		ALL(dir_list_stops_at_first_failing_callback),
		ALL(dir_list_callback_may_unlink),
		ALL(dir_open_of_missing_directory_is_not_found),
		ALL(dir_open_create_keeps_existing_files),
		ALL(sync_and_dir_sync_succeed),
		ALL(clocks_tell_real_and_monotonic_time),
		ALL(allocation_failure_changes_nothing),
		POSIX(files_are_created_0600_and_dirs_0700),
		POSIX(symbolic_links_are_not_followed),
		POSIX(directory_is_not_a_file),
		POSIX(fifo_named_like_a_segment_is_refused_without_blocking),
		POSIX(dir_open_of_a_regular_file_is_not_found),
		POSIX(lock_held_by_another_process_is_busy),
		MEMORY(memory_clock_moves_only_when_set),
		MEMORY(memory_file_cannot_grow_past_4_gib),
		MEMORY(memory_file_systems_are_independent),
	};

	return cmocka_run_group_tests_name("io", tests, NULL, NULL);
}
