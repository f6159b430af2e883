/* SPDX-License-Identifier: MIT */
/*
 * test_backup.c - lk_backup() copies a database that keeps taking writes
 * (SPEC §3 "backup ... consistent while the database is in use").
 *
 * Method: a writer thread commits numbered puts (some in batches) and
 * publishes how many were acknowledged; the main thread notes that count,
 * backs up, and opens the copy: every put acknowledged before the backup
 * began must be there with its value, the copy must open without cutting
 * anything, and a second backup into the same place is refused.  Also the
 * per-segment and per-namespace figures behind `logkeep stats`.  Public
 * header only, on real directories.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

static lk_db *db;
static atomic_uint acked;
static atomic_int stop;

static void kv(char key[32], char value[64], unsigned i)
{
	snprintf(key, 32, "key-%06u", i);
	snprintf(value, 64, "value-%06u-%u", i, i * 2654435761u);
}

static void *writer(void *arg)
{
	char key[32], value[64];
	unsigned i = 0;

	(void)arg;
	while (!atomic_load(&stop) && i < 200000) {
		if (i % 10 == 0) {
			lk_batch *b;

			CHECK_OK(lk_batch_new(&b));
			for (unsigned j = i; j < i + 10; j++) {
				kv(key, value, j);
				CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, key,
						      strlen(key), value,
						      strlen(value), 0));
			}
			CHECK_OK(lk_commit(db, b));
			lk_batch_free(b);
			i += 10;
		} else {
			kv(key, value, i);
			CHECK_OK(lk_put(db, LK_NS_DEFAULT, key, strlen(key),
					value, strlen(value), 0));
			i++;
		}
		atomic_store(&acked, i);
	}
	return NULL;
}

static uint64_t last_done;

static void progress(void *arg, uint64_t done, uint64_t total)
{
	(void)arg;
	CHECK(done <= total && done >= last_done);
	last_done = done;
}

static void backup_during_writes_holds_every_acknowledged_commit(void **state)
{
	char root[128], src[160], dst[192], key[32], value[64];
	lk_options o = LK_OPTIONS_INIT;
	lk_recovery_report rep = LK_REPORT_INIT;
	lk_db *copy;
	pthread_t th;
	unsigned before;

	(void)state;
	CHECK(make_temp_dir(root, sizeof root, "backup") == 0);
	snprintf(src, sizeof src, "%s/db", root);
	snprintf(dst, sizeof dst, "%s/copy", root);
	o.sync = LK_SYNC_NONE; /* fast commits: many land during the copy */
	o.segment_size_bytes = 64 * 1024;
	CHECK_OK(lk_open(&db, src, &o));
	atomic_store(&stop, 0);
	CHECK(pthread_create(&th, NULL, writer, NULL) == 0);
	while (atomic_load(&acked) < 20000)
		;
	before = atomic_load(&acked);
	CHECK_OK(lk_backup(db, dst, progress, NULL));
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	CHECK(last_done > 0);
	CHECK_ST(LK_EXISTS, lk_backup(db, dst, NULL, NULL));
	CHECK_OK(lk_close(db));

	CHECK_OK(lk_open(&copy, dst, &o));
	CHECK_OK(lk_recovery(&rep, copy));
	CHECK(rep.bytes_cut == 0 && rep.records_discarded == 0);
	CHECK(rep.segments_read > 2);
	for (unsigned i = 0; i < before; i++) {
		size_t len;
		void *v;

		kv(key, value, i);
		CHECK_OK(lk_get(&v, &len, copy, LK_NS_DEFAULT, key,
				strlen(key)));
		CHECK(len == strlen(value) && memcmp(v, value, len) == 0);
		lk_free(v);
	}
	/* the copy is a database of its own: it takes writes */
	CHECK_OK(lk_put(copy, LK_NS_DEFAULT, "after", 5, "x", 1, 0));
	CHECK_OK(lk_close(copy));
	CHECK(remove_tree(root) == 0);
}

static void backup_of_a_closed_handle_or_bad_path_is_refused(void **state)
{
	char root[128], src[160];
	lk_options o = LK_OPTIONS_INIT;
	lk_db *d;

	(void)state;
	CHECK(make_temp_dir(root, sizeof root, "backup") == 0);
	snprintf(src, sizeof src, "%s/db", root);
	CHECK_OK(lk_open(&d, src, &o));
	CHECK_ST(LK_INVALID, lk_backup(d, "", NULL, NULL));
	CHECK_ST(LK_INVALID, lk_backup(NULL, src, NULL, NULL));
	/* the source itself is not empty */
	CHECK_ST(LK_EXISTS, lk_backup(d, src, NULL, NULL));
	CHECK_OK(lk_close(d));
	CHECK(remove_tree(root) == 0);
}

/* lk_segment_list and lk_ns_keys agree with lk_stats, in log order, and a
 * small array gets the first segments and the true count. */
static void segment_and_namespace_figures_add_up(void **state)
{
	char root[128], src[160], key[32], value[64];
	lk_options o = LK_OPTIONS_INIT;
	lk_segment_info segs[64] = { LK_SEGMENT_INFO_INIT },
			two[2] = { LK_SEGMENT_INFO_INIT };
	uint64_t live = 0, disk = 0, keys;
	size_t n, n2;
	lk_stats st = LK_STATS_INIT;
	lk_db *d;

	(void)state;
	CHECK(make_temp_dir(root, sizeof root, "segments") == 0);
	snprintf(src, sizeof src, "%s/db", root);
	o.segment_size_bytes = 4096;
	CHECK_OK(lk_open(&d, src, &o));
	for (unsigned i = 0; i < 600; i++) {
		kv(key, value, i % 200); /* two thirds overwritten */
		CHECK_OK(lk_put(d, LK_NS_DEFAULT, key, strlen(key), value,
				strlen(value), 0));
	}
	CHECK_OK(lk_stats_get(&st, d));
	CHECK_OK(lk_segment_list(segs, 64, &n, d));
	CHECK(n == st.segment_count && n > 3 && n <= 64);
	for (size_t i = 0; i < n; i++) {
		CHECK(i == 0 || segs[i].seq > segs[i - 1].seq);
		CHECK(segs[i].sealed == (i + 1 < n));
		live += segs[i].live_bytes;
		disk += segs[i].disk_bytes;
	}
	CHECK(live == st.live_bytes && disk == st.disk_bytes);
	CHECK_OK(lk_segment_list(two, 2, &n2, d));
	CHECK(n2 == n && two[0].seq == segs[0].seq && two[1].seq == segs[1].seq);
	CHECK_OK(lk_segment_list(NULL, 0, &n2, d));
	CHECK(n2 == n);
	CHECK_OK(lk_ns_keys(&keys, d, LK_NS_DEFAULT));
	CHECK(keys == 200 && keys == st.live_keys);
	CHECK_ST(LK_INVALID, lk_ns_keys(&keys, d, 0));
	CHECK_OK(lk_close(d));
	CHECK(remove_tree(root) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backup_during_writes_holds_every_acknowledged_commit),
		cmocka_unit_test(backup_of_a_closed_handle_or_bad_path_is_refused),
		cmocka_unit_test(segment_and_namespace_figures_add_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
