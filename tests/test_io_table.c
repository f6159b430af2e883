/* SPDX-License-Identifier: MIT */
/*
 * test_io_table.c - the I/O table as an embedder sees it (logkeep_io.h):
 * the version rule, tables of one's own that wrap the library's, and the
 * contract checks that stop a process whose table breaks its contract.
 *
 * Method: black box.  The file includes logkeep.h and logkeep_io.h and
 * nothing else of the engine.  Each test builds its table by copying
 * lk_io_memory_new()'s (or lk_io_posix()'s) and changing a slot or the
 * version, as an embedder would.  A broken table must stop the process:
 * those tests run the open in a forked child and expect it to die of
 * SIGABRT (the LK_ASSERT of the library's checking table).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "check.h"
#include "logkeep.h"
#include "logkeep_io.h"

/* ---------------------------------------------------------------------- */
/* Tables of one's own                                                    */
/* ---------------------------------------------------------------------- */

/* A table that passes every call to `inner`, with the slots a test
 * changes.  ctx points at the struct, so the slots find `inner`. */
struct mine {
	lk_io table;
	const lk_io *inner;
	unsigned preads, pwrites;
	int fail_pwrite;  /* fail with LK_NOSPACE and a detail */
	int got_too_much; /* pread claims one byte more than asked */
	int no_detail;    /* pwrite fails without setting the detail */
};

static lk_status my_pread(void *ctx, lk_io_file *file, void *buf, size_t n,
			  uint64_t offset, size_t *got)
{
	struct mine *m = ctx;
	lk_status st;

	m->preads++;
	st = m->inner->pread(m->inner->ctx, file, buf, n, offset, got);
	if (m->got_too_much)
		*got = n + 1;
	return st;
}

static lk_status my_pwrite(void *ctx, lk_io_file *file, const void *buf,
			   size_t n, uint64_t offset)
{
	struct mine *m = ctx;

	m->pwrites++;
	if (m->no_detail)
		return LK_IO;
	if (m->fail_pwrite)
		return lk_io_fail(LK_NOSPACE, "pwrite: the embedder's quota "
				  "of %u writes is used up", m->pwrites);
	return m->inner->pwrite(m->inner->ctx, file, buf, n, offset);
}

/* The other slots: the inner table's, called with the inner ctx. */
#define PASS(slot, ret, params, args)                                         \
	static ret my_##slot params                                           \
	{                                                                     \
		struct mine *m = ctx;                                         \
		return m->inner->slot args;                                   \
	}
#define PASS_VOID(slot, params, args)                                         \
	static void my_##slot params                                          \
	{                                                                     \
		struct mine *m = ctx;                                         \
		m->inner->slot args;                                          \
	}
PASS(dir_open, lk_status, (void *ctx, const char *p, int c, lk_io_dir **d),
     (m->inner->ctx, p, c, d))
PASS(dir_list, lk_status, (void *ctx, lk_io_dir *d, lk_io_list_fn f, void *a),
     (m->inner->ctx, d, f, a))
PASS(dir_sync, lk_status, (void *ctx, lk_io_dir *d), (m->inner->ctx, d))
PASS_VOID(dir_close, (void *ctx, lk_io_dir *d), (m->inner->ctx, d))
PASS(rename, lk_status, (void *ctx, lk_io_dir *d, const char *f,
			 const char *t), (m->inner->ctx, d, f, t))
PASS(unlink, lk_status, (void *ctx, lk_io_dir *d, const char *n),
     (m->inner->ctx, d, n))
PASS(lock, lk_status, (void *ctx, lk_io_dir *d, const char *n,
		       lk_io_file **f), (m->inner->ctx, d, n, f))
PASS(open, lk_status, (void *ctx, lk_io_dir *d, const char *n, uint32_t fl,
		       lk_io_file **f), (m->inner->ctx, d, n, fl, f))
PASS(sync, lk_status, (void *ctx, lk_io_file *f), (m->inner->ctx, f))
PASS(truncate, lk_status, (void *ctx, lk_io_file *f, uint64_t s),
     (m->inner->ctx, f, s))
PASS(size, lk_status, (void *ctx, lk_io_file *f, uint64_t *s),
     (m->inner->ctx, f, s))
PASS_VOID(close, (void *ctx, lk_io_file *f), (m->inner->ctx, f))
PASS(now_ms, uint64_t, (void *ctx), (m->inner->ctx))
PASS(mono_us, uint64_t, (void *ctx), (m->inner->ctx))

/* A version 1 table (no threads, no sleeps) around `inner`. */
static void mine_init(struct mine *m, const lk_io *inner)
{
	memset(m, 0, sizeof *m);
	m->inner = inner;
	m->table.version = 1;
	m->table.ctx = m;
	m->table.dir_open = my_dir_open;
	m->table.dir_list = my_dir_list;
	m->table.dir_sync = my_dir_sync;
	m->table.dir_close = my_dir_close;
	m->table.rename = my_rename;
	m->table.unlink = my_unlink;
	m->table.lock = my_lock;
	m->table.open = my_open;
	m->table.pread = my_pread;
	m->table.pwrite = my_pwrite;
	m->table.sync = my_sync;
	m->table.truncate = my_truncate;
	m->table.size = my_size;
	m->table.close = my_close;
	m->table.now_ms = my_now_ms;
	m->table.mono_us = my_mono_us;
}

static lk_status open_with(lk_db **db, const lk_io *io, uint32_t flags,
			   lk_sync_mode sync)
{
	lk_options o = LK_OPTIONS_INIT;

	o.io = io;
	o.flags = flags;
	o.sync = sync;
	o.sync_interval_ms = 10;
	return lk_open(db, "db", &o);
}

static lk_status put_get(lk_db *db)
{
	void *value = NULL;
	size_t n = 0;
	lk_status st;

	st = lk_put(db, LK_NS_DEFAULT, "k", 1, "value", 5, 0);
	if (st == LK_OK)
		st = lk_get(&value, &n, db, LK_NS_DEFAULT, "k", 1);
	if (st == LK_OK && (n != 5 || memcmp(value, "value", 5) != 0))
		st = LK_CORRUPT;
	lk_free(value);
	return st;
}

static void ignore_problem(void *arg, const lk_problem *problem)
{
	(void)arg;
	(void)problem;
}

/* ---------------------------------------------------------------------- */
/* The version rule                                                       */
/* ---------------------------------------------------------------------- */

static void table_of_an_unknown_version_is_refused_before_touching_anything(
	void **state)
{
	static const uint32_t bad[] = { 0, LK_IO_VERSION + 1, 0xffffffffu };
	lk_recovery_report rep = { .version = LK_REPORT_VERSION };
	lk_io *mem, table;
	lk_io_dir *dir;
	lk_db *db;

	(void)state;
	CHECK_OK(lk_io_memory_new(&mem));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		table = *mem;
		table.version = bad[i];
		CHECK_ST(LK_INVALID, open_with(&db, &table, LK_OPEN_CREATE,
					       LK_SYNC_ALWAYS));
		assert_null(db);
		assert_non_null(strstr(lk_errmsg(), "I/O table version"));
		CHECK_ST(LK_INVALID, lk_verify(&rep, "db", &(lk_options){
			.version = LK_OPTIONS_VERSION, .io = &table },
			ignore_problem, NULL));
	}
	/* Nothing was created. */
	CHECK_ST(LK_NOT_FOUND, mem->dir_open(mem->ctx, "db", 0, &dir));
	lk_io_memory_free(mem);
}

static void table_with_a_null_slot_is_refused(void **state)
{
	lk_io *mem, table;
	lk_db *db;

	(void)state;
	CHECK_OK(lk_io_memory_new(&mem));
	table = *mem;
	table.wait_until = NULL;
	CHECK_ST(LK_INVALID, open_with(&db, &table, LK_OPEN_CREATE,
				       LK_SYNC_ALWAYS));
	assert_non_null(strstr(lk_errmsg(), "wait_until"));
	table = *mem;
	table.pread = NULL;
	CHECK_ST(LK_INVALID, open_with(&db, &table, LK_OPEN_CREATE,
				       LK_SYNC_ALWAYS));
	assert_non_null(strstr(lk_errmsg(), "pread"));
	lk_io_memory_free(mem);
}

/* Version 1 had no threads or sleeps: the library takes the POSIX
 * layer's, so the interval syncer runs on a real thread. */
static void version_1_table_runs_its_background_threads_on_posix(
	void **state)
{
	struct mine m;
	lk_io *mem;
	lk_db *db;

	(void)state;
	CHECK_OK(lk_io_memory_new(&mem));
	mine_init(&m, mem);
	CHECK_OK(open_with(&db, &m.table, LK_OPEN_CREATE, LK_SYNC_INTERVAL));
	CHECK_OK(put_get(db));
	CHECK_OK(lk_close(db));
	assert_true(m.pwrites > 0);
	CHECK_OK(open_with(&db, &m.table, 0, LK_SYNC_INTERVAL));
	CHECK_OK(put_get(db));
	CHECK_OK(lk_close(db));
	assert_true(m.preads > 0);
	lk_io_memory_free(mem);
}

/* ---------------------------------------------------------------------- */
/* Tables of one's own                                                    */
/* ---------------------------------------------------------------------- */

static void embedder_table_wrapping_posix_sees_every_read_and_write(
	void **state)
{
	char root[64], path[128], cwd[512];
	struct mine m;
	lk_db *db;

	(void)state;
	assert_int_equal(make_temp_dir(root, sizeof root, "iotable"), 0);
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(root), 0);
	mine_init(&m, lk_io_posix());
	CHECK_OK(open_with(&db, &m.table, LK_OPEN_CREATE, LK_SYNC_ALWAYS));
	CHECK_OK(put_get(db));
	CHECK_OK(lk_close(db));
	assert_true(m.pwrites > 0);
	CHECK_OK(open_with(&db, &m.table, LK_OPEN_READONLY, LK_SYNC_ALWAYS));
	m.preads = 0;
	CHECK_ST(LK_NOT_FOUND, lk_exists(db, LK_NS_DEFAULT, "absent", 6));
	CHECK_OK(lk_exists(db, LK_NS_DEFAULT, "k", 1));
	CHECK_OK(lk_close(db));
	assert_true(m.preads > 0);
	assert_int_equal(chdir(cwd), 0);
	snprintf(path, sizeof path, "%s", root);
	remove_tree(path);
}

static void embedder_failure_reaches_the_caller_with_its_detail(
	void **state)
{
	struct mine m;
	lk_io *mem;
	lk_db *db;

	(void)state;
	CHECK_OK(lk_io_memory_new(&mem));
	mine_init(&m, mem);
	CHECK_OK(open_with(&db, &m.table, LK_OPEN_CREATE, LK_SYNC_ALWAYS));
	m.fail_pwrite = 1;
	CHECK_ST(LK_NOSPACE, lk_put(db, LK_NS_DEFAULT, "k", 1, "v", 1, 0));
	assert_non_null(strstr(lk_errmsg(), "the embedder's quota"));
	CHECK_OK(lk_close(db));
	lk_io_memory_free(mem);
}

/* ---------------------------------------------------------------------- */
/* Broken tables stop the process                                         */
/* ---------------------------------------------------------------------- */

/* Runs a writing open, a put and a get on m's table in a child; returns
 * the signal that ended it, or 0 if it exited. */
static int run_in_child(struct mine *m)
{
	int status;
	pid_t pid;
	lk_db *db;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The abort message is expected; keep the test log clean. */
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(3);
		if (open_with(&db, &m->table, LK_OPEN_CREATE,
			      LK_SYNC_ALWAYS) != LK_OK)
			_exit(1);
		(void)put_get(db);
		(void)lk_close(db);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static void table_reading_more_than_asked_stops_the_process(void **state)
{
	struct mine m;
	lk_io *mem;

	(void)state;
	CHECK_OK(lk_io_memory_new(&mem));
	mine_init(&m, mem);
	m.got_too_much = 1;
	assert_int_equal(run_in_child(&m), SIGABRT);
	m.got_too_much = 0;
	assert_int_equal(run_in_child(&m), 0);
	lk_io_memory_free(mem);
}

static void table_failing_without_a_detail_stops_the_process(void **state)
{
	struct mine m;
	lk_io *mem;

	(void)state;
	CHECK_OK(lk_io_memory_new(&mem));
	mine_init(&m, mem);
	m.no_detail = 1;
	assert_int_equal(run_in_child(&m), SIGABRT);
	lk_io_memory_free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		 table_of_an_unknown_version_is_refused_before_touching_anything),
		cmocka_unit_test(table_with_a_null_slot_is_refused),
		cmocka_unit_test(
		 version_1_table_runs_its_background_threads_on_posix),
		cmocka_unit_test(
		 embedder_table_wrapping_posix_sees_every_read_and_write),
		cmocka_unit_test(
			embedder_failure_reaches_the_caller_with_its_detail),
		cmocka_unit_test(
			table_reading_more_than_asked_stops_the_process),
		cmocka_unit_test(
			table_failing_without_a_detail_stops_the_process),
	};

	return cmocka_run_group_tests_name("io_table", tests, NULL, NULL);
}
