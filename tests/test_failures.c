/* SPDX-License-Identifier: MIT */
/*
 * test_failures.c - what a write does when the device fails under it
 * (SPEC §5): a failed fdatasync latches the handle, ENOSPC rejects one
 * write cleanly, and in both cases reads go on and nothing that failed is
 * visible.
 *
 * Method: an I/O layer wrapping the in-memory one that fails the next
 * sync, or the next pwrite (with ENOSPC after writing half of it, as a
 * full disk does), on request.  The crash-testing layer of a later suite
 * generalises this to every call and every power-cut outcome.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "error.h"
#include "testutil.h"

static const lk_io *inner;
static lk_io wrap;
static int fail_next_sync;
static int nospace_next_write;
static int syncs_after_failure;
static int failed_once;

static lk_status f_sync(void *ctx, lk_io_file *f)
{
	(void)ctx;
	if (failed_once)
		syncs_after_failure++;
	if (fail_next_sync) {
		fail_next_sync = 0;
		failed_once = 1;
		return err_set(LK_IO, "fdatasync: Input/output error (injected)");
	}
	return inner->sync(inner->ctx, f);
}

static lk_status f_pwrite(void *ctx, lk_io_file *f, const void *buf, size_t n,
			  uint64_t off)
{
	(void)ctx;
	if (nospace_next_write) {
		nospace_next_write = 0;
		/* a full disk takes part of the write, then refuses */
		if (n > 1)
			CHECK_OK(inner->pwrite(inner->ctx, f, buf, n / 2, off));
		return err_set(LK_NOSPACE,
			       "pwrite: No space left on device (injected)");
	}
	return inner->pwrite(inner->ctx, f, buf, n, off);
}

static lk_io *mem;

static int setup(void **state)
{
	(void)state;
	CHECK_OK(lk_io_memory_new(&mem));
	inner = mem;
	wrap = *mem;
	wrap.sync = f_sync;
	wrap.pwrite = f_pwrite;
	fail_next_sync = nospace_next_write = 0;
	syncs_after_failure = failed_once = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	lk_io_memory_free(mem);
	return 0;
}

static lk_db *open_db(void)
{
	lk_options o = test_options(&wrap);
	lk_db *db;

	CHECK_OK(lk_open(&db, "/f", &o));
	return db;
}

static void failed_fdatasync_halts_writes_and_reads_go_on(void **state)
{
	lk_db *db = open_db();
	void *v;
	size_t n;

	(void)state;
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "a", 1, "1", 1, 0));
	fail_next_sync = 1;
	CHECK_ST(LK_IO, lk_put(db, LK_NS_DEFAULT, "b", 1, "2", 1, 0));
	CHECK(strstr(lk_errmsg(), "halted") != NULL);
	/* the failed write is not visible; earlier data is */
	CHECK_ST(LK_NOT_FOUND, lk_get(&v, &n, db, LK_NS_DEFAULT, "b", 1));
	CHECK_OK(lk_get(&v, &n, db, LK_NS_DEFAULT, "a", 1));
	lk_free(v);
	/* every later write is refused, and the sync is never retried */
	CHECK_ST(LK_HALTED, lk_put(db, LK_NS_DEFAULT, "c", 1, "3", 1, 0));
	CHECK_ST(LK_HALTED, lk_del(db, LK_NS_DEFAULT, "a", 1));
	CHECK_ST(LK_HALTED, lk_sync(db));
	CHECK(syncs_after_failure == 0);
	CHECK_OK(lk_close(db));

	/* reopening clears the latch; "b" may or may not have survived (it
	 * was never acknowledged), "a" must have */
	db = open_db();
	CHECK_OK(lk_get(&v, &n, db, LK_NS_DEFAULT, "a", 1));
	lk_free(v);
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "c", 1, "3", 1, 0));
	CHECK_OK(lk_close(db));
}

static void failed_interval_sync_halts_writes(void **state)
{
	lk_options o = test_options(&wrap);
	lk_db *db;
	void *v;
	size_t n;

	(void)state;
	o.sync = LK_SYNC_INTERVAL;
	o.sync_interval_ms = 1000;
	CHECK_OK(lk_open(&db, "/f", &o));
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "a", 1, "1", 1, 0));
	fail_next_sync = 1;
	CHECK_ST(LK_IO, lk_sync(db));
	CHECK_ST(LK_HALTED, lk_put(db, LK_NS_DEFAULT, "b", 1, "2", 1, 0));
	CHECK_OK(lk_get(&v, &n, db, LK_NS_DEFAULT, "a", 1));
	lk_free(v);
	/* "a" was acknowledged and never synced: close says it may be lost */
	CHECK_ST(LK_HALTED, lk_close(db));
}

static void nospace_rejects_the_write_and_nothing_partial_is_visible(
	void **state)
{
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_batch *b;
	lk_db *db = open_db();
	char key[16];
	void *v;
	size_t n;

	(void)state;
	CHECK_OK(lk_put(db, LK_NS_DEFAULT, "before", 6, "x", 1, 0));
	CHECK_OK(lk_batch_new(&b));
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof key, "batch-%02d", i);
		CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, key, strlen(key),
				      "value", 5, 0));
	}
	nospace_next_write = 1;
	CHECK_ST(LK_NOSPACE, lk_commit(db, b));
	CHECK(lk_batch_count(b) == 50); /* kept for a retry */
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof key, "batch-%02d", i);
		CHECK_ST(LK_NOT_FOUND,
			 lk_exists(db, LK_NS_DEFAULT, key, strlen(key)));
	}
	CHECK_OK(lk_get(&v, &n, db, LK_NS_DEFAULT, "before", 6));
	lk_free(v);
	/* space is back: the same batch goes through, over the half-written
	 * bytes of the failed attempt */
	CHECK_OK(lk_commit(db, b));
	CHECK_OK(lk_exists(db, LK_NS_DEFAULT, "batch-49", 8));
	lk_batch_free(b);
	CHECK_OK(lk_close(db));

	db = open_db();
	CHECK_OK(lk_recovery(&rep, db));
	CHECK(rep.bytes_cut == 0);
	CHECK_OK(lk_exists(db, LK_NS_DEFAULT, "batch-00", 8));
	CHECK_OK(lk_close(db));
}

/* Every allocation lk_iter_open makes may fail: LK_NOMEM, with nothing
 * held, and a detail that names the iterator.  (Its failure path once
 * read the iterator it had just freed for the detail: the crash
 * explorer's mapped-reads workload found it under AddressSanitizer.) */
static void iterator_open_fails_cleanly_at_every_allocation(void **state)
{
	lk_db *db = open_db();
	lk_status st;
	lk_iter *it;
	uint64_t n;

	(void)state;
	for (int i = 0; i < 50; i++) {
		char k[8];

		snprintf(k, sizeof k, "k%02d", i);
		CHECK_OK(lk_put(db, LK_NS_DEFAULT, k, 3, "v", 1, 0));
	}
	for (n = 1;; n++) {
		mem_fail_at(n, 0);
		st = lk_iter_open(&it, db, LK_NS_DEFAULT, "k", 1);
		if (mem_fail_at(0, 0) < n) { /* no allocation failed */
			CHECK_OK(st);
			break;
		}
		CHECK_ST(LK_NOMEM, st);
		CHECK(it == NULL);
		CHECK(strstr(lk_errmsg(), "iterator") != NULL);
	}
	CHECK(n > 3);
	lk_iter_close(it);
	CHECK_OK(lk_close(db)); /* no iterator left counted */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(failed_fdatasync_halts_writes_and_reads_go_on),
		T(failed_interval_sync_halts_writes),
		T(nospace_rejects_the_write_and_nothing_partial_is_visible),
		T(iterator_open_fails_cleanly_at_every_allocation),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
