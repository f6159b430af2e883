/* SPDX-License-Identifier: MIT */
/*
 * test_api.c - the public API keeps the contracts written in logkeep.h.
 *
 * Goal: every promise that include/logkeep.h and SPEC §3, §5 and §7 make
 * to an embedding program is written down here once, as a test named
 * after the behaviour: round trips of put, get, delete and exists; atomic
 * batches; the limits on keys, values and namespaces; namespaces and
 * their names; iteration and counting; expiry; compressed and
 * incompressible values; read-only opens that change nothing on disk;
 * option checks; segment rotation; the stats and the recovery report; the
 * sync modes.
 *
 * Method: black box.  The file includes logkeep.h and nothing else of the
 * engine (check.h, too, sees only logkeep.h and libc); the limits it
 * relies on are checked at compile time.  Each test gets a fresh mkdtemp()
 * directory under /tmp with a database opened (and created) in its
 * subdirectory "db" with the default options; the teardown closes the
 * handle and removes the whole tree.  Tests that need other options close
 * the fixture's handle and reopen it.  "Survives reopen" always means
 * lk_close() and a new lk_open() of the same directory.  Statuses are
 * checked with check.h's CHECK_ST(want, expr) and CHECK_OK(expr), which on
 * failure print the file, line, expression, both statuses and
 * lk_errmsg(); other values with cmocka's assert_*.
 */
#include <dirent.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "check.h"
#include "logkeep.h"

/* ---------------------------------------------------------------------- */
/* Limits                                                                 */
/* ---------------------------------------------------------------------- */

/* The limits come from logkeep.h (logkeep_limits.h).  The tests below
 * are written for these values; a change of limit is a change of contract
 * and should fail here first, not somewhere in the middle of a test. */
_Static_assert(LK_KEY_BYTES_MAX == 1024u, "keys are 1 to 1024 bytes");
_Static_assert(LK_VALUE_BYTES_MAX == 1024u * 1024u, "values are <= 1 MiB");
_Static_assert(LK_NS_NAME_BYTES_MAX == 64u, "names are 1 to 64 bytes");
_Static_assert(LK_NS_COUNT_MAX == 255u, "namespace ids are 1 to 255");
_Static_assert(LK_SEGMENT_SIZE_MIN_BYTES == 4096u, "segments >= 4 KiB");

/* ---------------------------------------------------------------------- */
/* The fixture                                                            */
/* ---------------------------------------------------------------------- */

struct fixture {
	char root[64];  /* the mkdtemp() directory */
	char path[128]; /* the data directory, root/db */
	lk_db *db;      /* open on path, or NULL */
};

static int setup(void **state)
{
	static struct fixture fx;
	lk_status st;

	memset(&fx, 0, sizeof fx);
	if (make_temp_dir(fx.root, sizeof fx.root, "api") != 0)
		return -1;
	snprintf(fx.path, sizeof fx.path, "%s/db", fx.root);
	st = lk_open(&fx.db, fx.path, NULL);
	if (st != LK_OK) {
		print_error("lk_open %s: %s: %s\n", fx.path, lk_strerror(st),
			    lk_errmsg());
		return -1;
	}
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	lk_status st = lk_close(fx->db);

	fx->db = NULL;
	remove_tree(fx->root);
	if (st != LK_OK) {
		print_error("lk_close: %s: %s\n", lk_strerror(st), lk_errmsg());
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Shorthands                                                             */
/* ---------------------------------------------------------------------- */

/* Closes the fixture's handle and opens the directory again with opts
 * (NULL: the defaults). */
static lk_status reopen(struct fixture *fx, const lk_options *opts)
{
	lk_status st = lk_close(fx->db);

	fx->db = NULL;
	if (st != LK_OK)
		return st;
	return lk_open(&fx->db, fx->path, opts);
}

static lk_status put_str(lk_db *db, uint32_t ns, const char *key,
			 const char *value)
{
	return lk_put(db, ns, key, strlen(key), value, strlen(value), 0);
}

static lk_status del_str(lk_db *db, uint32_t ns, const char *key)
{
	return lk_del(db, ns, key, strlen(key));
}

/* Asserts that key holds exactly want_len bytes of want, followed by the
 * NUL the header promises, and frees the value with lk_free(). */
static void expect_bytes_at(lk_db *db, uint32_t ns, const void *key,
			    size_t key_len, const void *want, size_t want_len,
			    const char *file, int line)
{
	void *value = NULL;
	size_t value_len = 0;
	lk_status st = lk_get(&value, &value_len, db, ns, key, key_len);

	if (st != LK_OK) {
		print_error("%s:%d: lk_get of \"%.*s\" returned %s, want "
			    "LK_OK\n  detail: %s\n",
			    file, line, (int)key_len, (const char *)key,
			    lk_strerror(st), lk_errmsg());
		_fail(file, line);
	}
	if (value == NULL || value_len != want_len ||
	    memcmp(value, want, want_len) != 0) {
		print_error("%s:%d: lk_get of \"%.*s\" returned %zu bytes "
			    "\"%.*s\", want %zu bytes \"%.*s\"\n",
			    file, line, (int)key_len, (const char *)key,
			    value_len, value_len > 64 ? 64 : (int)value_len,
			    value ? (const char *)value : "",
			    want_len, want_len > 64 ? 64 : (int)want_len,
			    (const char *)want);
		lk_free(value);
		_fail(file, line);
	}
	if (((const char *)value)[value_len] != '\0') {
		print_error("%s:%d: the value of \"%.*s\" has no NUL after "
			    "it\n", file, line, (int)key_len,
			    (const char *)key);
		lk_free(value);
		_fail(file, line);
	}
	lk_free(value);
}

#define EXPECT_BYTES(db, ns, key, key_len, want, want_len)                    \
	expect_bytes_at(db, ns, key, key_len, want, want_len, __FILE__,      \
			__LINE__)
#define EXPECT_VALUE(db, ns, key, want)                                       \
	expect_bytes_at(db, ns, key, strlen(key), want, strlen(want),        \
			__FILE__, __LINE__)

/* Asserts that key is not found by lk_get or lk_exists, and that a failed
 * lk_get leaves the out-parameters empty. */
static void expect_absent_at(lk_db *db, uint32_t ns, const char *key,
			     const char *file, int line)
{
	void *value = (void *)&value;
	size_t value_len = 12345;
	lk_status st = lk_get(&value, &value_len, db, ns, key, strlen(key));

	if (st != LK_NOT_FOUND) {
		print_error("%s:%d: lk_get of \"%s\" returned %s, want "
			    "LK_NOT_FOUND\n  detail: %s\n",
			    file, line, key, lk_strerror(st), lk_errmsg());
		if (st == LK_OK)
			lk_free(value);
		_fail(file, line);
	}
	if (value != NULL || value_len != 0) {
		print_error("%s:%d: a failed lk_get left value %p, length "
			    "%zu\n", file, line, value, value_len);
		_fail(file, line);
	}
	st = lk_exists(db, ns, key, strlen(key));
	if (st != LK_NOT_FOUND) {
		print_error("%s:%d: lk_exists of \"%s\" returned %s, want "
			    "LK_NOT_FOUND\n  detail: %s\n",
			    file, line, key, lk_strerror(st), lk_errmsg());
		_fail(file, line);
	}
}

#define EXPECT_ABSENT(db, ns, key)                                            \
	expect_absent_at(db, ns, key, __FILE__, __LINE__)

static uint64_t count_of(lk_db *db, uint32_t ns)
{
	uint64_t count = UINT64_MAX;

	CHECK_OK(lk_count(&count, db, ns));
	return count;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A deterministic xorshift generator, so a failure replays. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(rng_next(&seed) >> 24);
}

/* ---------------------------------------------------------------------- */
/* What an iteration returned                                             */
/* ---------------------------------------------------------------------- */

#define SEEN_MAX 4096

struct seen {
	size_t n;
	char keys[SEEN_MAX][64];
	char values[SEEN_MAX][64];
	uint64_t expire_at_ms[SEEN_MAX];
};

/* Iterates ns (with prefix) to the end, copying every key and value (both
 * short text in these tests) into *out. */
static void iterate(struct seen *out, lk_db *db, uint32_t ns,
		    const char *prefix)
{
	lk_iter *it = NULL;
	const void *key, *value;
	size_t key_len, value_len;
	uint64_t expire;
	lk_status st;

	memset(out, 0, sizeof *out);
	CHECK_OK(lk_iter_open(&it, db, ns, prefix,
			      prefix ? strlen(prefix) : 0));
	assert_non_null(it);
	while ((st = lk_iter_next(it, &key, &key_len, &value, &value_len,
				  &expire)) == LK_OK) {
		assert_true(out->n < SEEN_MAX);
		assert_true(key_len < sizeof out->keys[0]);
		assert_true(value_len < sizeof out->values[0]);
		memcpy(out->keys[out->n], key, key_len);
		memcpy(out->values[out->n], value, value_len);
		out->expire_at_ms[out->n] = expire;
		out->n++;
	}
	CHECK_ST(LK_NOT_FOUND, st);
	/* An exhausted iterator stays exhausted. */
	CHECK_ST(LK_NOT_FOUND, lk_iter_next(it, &key, &key_len, &value,
					    &value_len, &expire));
	lk_iter_close(it);
}

/* How many times key was returned; *value gets its (last) value. */
static int seen_times(const struct seen *s, const char *key,
		      const char **value)
{
	int times = 0;

	if (value)
		*value = NULL; /* set whatever the count (gcc 12 for s390x warns) */
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->keys[i], key) == 0) {
			times++;
			if (value)
				*value = s->values[i];
		}
	}
	return times;
}

/* ---------------------------------------------------------------------- */
/* What a directory holds                                                 */
/* ---------------------------------------------------------------------- */

#define FILES_MAX 64

struct dir_image {
	size_t n;
	char names[FILES_MAX][256];
	off_t sizes[FILES_MAX];
	unsigned char *bytes[FILES_MAX];
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Reads every file of the directory path (sorted by name) into *img. */
static void dir_image_take(struct dir_image *img, const char *path)
{
	char file[512];
	struct dirent *entry;
	DIR *d = opendir(path);

	memset(img, 0, sizeof *img);
	assert_non_null(d);
	while ((entry = readdir(d)) != NULL) {
		if (strcmp(entry->d_name, ".") == 0 ||
		    strcmp(entry->d_name, "..") == 0)
			continue;
		assert_true(img->n < FILES_MAX);
		snprintf(img->names[img->n], sizeof img->names[0], "%s",
			 entry->d_name);
		img->n++;
	}
	closedir(d);
	qsort(img->names, img->n, sizeof img->names[0], name_cmp);
	for (size_t i = 0; i < img->n; i++) {
		struct stat st;
		FILE *f;

		snprintf(file, sizeof file, "%s/%s", path, img->names[i]);
		assert_int_equal(stat(file, &st), 0);
		img->sizes[i] = st.st_size;
		img->bytes[i] = malloc((size_t)st.st_size + 1);
		assert_non_null(img->bytes[i]);
		f = fopen(file, "rb");
		assert_non_null(f);
		assert_int_equal(fread(img->bytes[i], 1, (size_t)st.st_size, f),
				 (size_t)st.st_size);
		fclose(f);
	}
}

static void dir_image_free(struct dir_image *img)
{
	for (size_t i = 0; i < img->n; i++)
		free(img->bytes[i]);
	memset(img, 0, sizeof *img);
}

/* Asserts that two images hold the same files with the same bytes. */
static void dir_image_expect_equal(const struct dir_image *before,
				   const struct dir_image *after)
{
	for (size_t i = 0; i < before->n || i < after->n; i++) {
		if (i >= before->n || i >= after->n ||
		    strcmp(before->names[i], after->names[i]) != 0) {
			print_error("file list changed at entry %zu: \"%s\" "
				    "then \"%s\"\n", i,
				    i < before->n ? before->names[i] : "(none)",
				    i < after->n ? after->names[i] : "(none)");
			fail();
		}
		if (before->sizes[i] != after->sizes[i]) {
			print_error("%s changed size: %lld then %lld bytes\n",
				    before->names[i],
				    (long long)before->sizes[i],
				    (long long)after->sizes[i]);
			fail();
		}
		if (memcmp(before->bytes[i], after->bytes[i],
			   (size_t)before->sizes[i]) != 0) {
			print_error("%s changed content\n", before->names[i]);
			fail();
		}
	}
}

/* The number of segment files (*.seg) in the directory path. */
static uint32_t segment_files(const char *path, uint64_t *total_bytes)
{
	char file[512];
	struct dirent *entry;
	uint32_t n = 0;
	DIR *d = opendir(path);

	if (total_bytes)
		*total_bytes = 0;
	assert_non_null(d);
	while ((entry = readdir(d)) != NULL) {
		size_t len = strlen(entry->d_name);
		struct stat st;

		if (len < 4 || strcmp(entry->d_name + len - 4, ".seg") != 0)
			continue;
		n++;
		snprintf(file, sizeof file, "%s/%s", path, entry->d_name);
		assert_int_equal(stat(file, &st), 0);
		if (total_bytes)
			*total_bytes += (uint64_t)st.st_size;
	}
	closedir(d);
	return n;
}

/* ---------------------------------------------------------------------- */
/* Put, get, delete, exists                                               */
/* ---------------------------------------------------------------------- */

static void put_then_get_returns_the_value(void **state)
{
	struct fixture *fx = *state;

	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "node/7", "eth0,wlan0"));
	EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "node/7", "eth0,wlan0");
	CHECK_OK(lk_exists(fx->db, LK_NS_DEFAULT, "node/7", 6));
}

static void get_of_absent_key_is_not_found(void **state)
{
	struct fixture *fx = *state;

	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "never-written");
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "written", "x"));
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "never-written");
	/* A key that is a prefix of a stored key is another key. */
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "writte");
}

static void get_without_value_pointer_tests_existence(void **state)
{
	struct fixture *fx = *state;
	size_t len = 99;

	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "k", "value"));
	CHECK_OK(lk_get(NULL, NULL, fx->db, LK_NS_DEFAULT, "k", 1));
	CHECK_OK(lk_get(NULL, &len, fx->db, LK_NS_DEFAULT, "k", 1));
	CHECK_ST(LK_NOT_FOUND,
		 lk_get(NULL, NULL, fx->db, LK_NS_DEFAULT, "j", 1));
}

static void value_is_binary_safe_and_has_a_nul_after_it(void **state)
{
	struct fixture *fx = *state;
	const uint8_t key[] = { 0x00, 0xff, 0x10, 0x00 };
	const uint8_t bytes[] = { 'a', 0x00, 'b', 0xff, 0x00 };
	void *value = NULL;
	size_t value_len = 0;

	CHECK_OK(lk_put(fx->db, LK_NS_DEFAULT, key, sizeof key, bytes,
			sizeof bytes, 0));
	CHECK_OK(lk_get(&value, &value_len, fx->db, LK_NS_DEFAULT, key,
			sizeof key));
	assert_int_equal(value_len, sizeof bytes);
	assert_memory_equal(value, bytes, sizeof bytes);
	assert_int_equal(((const char *)value)[value_len], '\0');
	lk_free(value);
	/* A key differing only in its last byte is another key. */
	CHECK_ST(LK_NOT_FOUND, lk_exists(fx->db, LK_NS_DEFAULT, key, 3));
}

static void empty_value_round_trips(void **state)
{
	struct fixture *fx = *state;
	void *value = NULL;
	size_t value_len = 77;

	CHECK_OK(lk_put(fx->db, LK_NS_DEFAULT, "empty", 5, "", 0, 0));
	CHECK_OK(lk_put(fx->db, LK_NS_DEFAULT, "null", 4, NULL, 0, 0));
	for (int pass = 0; pass < 2; pass++) {
		CHECK_OK(lk_get(&value, &value_len, fx->db, LK_NS_DEFAULT,
				"empty", 5));
		assert_non_null(value);
		assert_int_equal(value_len, 0);
		assert_int_equal(((const char *)value)[0], '\0');
		lk_free(value);
		CHECK_OK(lk_get(&value, &value_len, fx->db, LK_NS_DEFAULT,
				"null", 4));
		assert_non_null(value);
		assert_int_equal(value_len, 0);
		lk_free(value);
		/* An empty value is a value, not a deletion. */
		assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 2);
		CHECK_OK(reopen(fx, NULL));
	}
}

static void null_value_with_a_length_is_invalid(void **state)
{
	struct fixture *fx = *state;

	CHECK_ST(LK_INVALID, lk_put(fx->db, LK_NS_DEFAULT, "k", 1, NULL, 3, 0));
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "k");
}

static void overwrite_returns_the_newest_value(void **state)
{
	struct fixture *fx = *state;

	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "route", "v1"));
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "route", "version two"));
	EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "route", "version two");
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "route", "3"));
	EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "route", "3");
	assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 1);
}

static void delete_then_get_is_not_found(void **state)
{
	struct fixture *fx = *state;

	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "doomed", "x"));
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "kept", "y"));
	CHECK_OK(del_str(fx->db, LK_NS_DEFAULT, "doomed"));
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "doomed");
	EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "kept", "y");
	assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 1);
	/* A deleted key can be written again. */
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "doomed", "back"));
	EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "doomed", "back");
}

static void delete_of_absent_key_is_ok(void **state)
{
	struct fixture *fx = *state;

	CHECK_OK(del_str(fx->db, LK_NS_DEFAULT, "nothing-here"));
	CHECK_OK(del_str(fx->db, LK_NS_DEFAULT, "nothing-here"));
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "nothing-here");
	assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 0);
	CHECK_OK(reopen(fx, NULL));
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "nothing-here");
}

static void data_survives_close_and_reopen(void **state)
{
	struct fixture *fx = *state;
	char key[32], value[32];

	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "key-%03d", i);
		snprintf(value, sizeof value, "first-%d", i);
		CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, key, value));
	}
	/* Overwrite the even keys, delete every third. */
	for (int i = 0; i < 100; i += 2) {
		snprintf(key, sizeof key, "key-%03d", i);
		snprintf(value, sizeof value, "second-%d", i);
		CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, key, value));
	}
	for (int i = 0; i < 100; i += 3) {
		snprintf(key, sizeof key, "key-%03d", i);
		CHECK_OK(del_str(fx->db, LK_NS_DEFAULT, key));
	}
	for (int round = 0; round < 3; round++) {
		CHECK_OK(reopen(fx, NULL));
		for (int i = 0; i < 100; i++) {
			snprintf(key, sizeof key, "key-%03d", i);
			snprintf(value, sizeof value, "%s-%d",
				 i % 2 == 0 ? "second" : "first", i);
			if (i % 3 == 0)
				EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, key);
			else
				EXPECT_VALUE(fx->db, LK_NS_DEFAULT, key, value);
		}
		assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 100 - 34);
	}
}

/* ---------------------------------------------------------------------- */
/* Batches                                                                */
/* ---------------------------------------------------------------------- */

static void batch_applies_puts_and_deletes_together(void **state)
{
	struct fixture *fx = *state;
	lk_batch *b = NULL;

	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "old", "to be deleted"));
	CHECK_OK(lk_batch_new(&b));
	assert_non_null(b);
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "a", 1, "1", 1, 0));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "b", 1, "2", 1, 0));
	CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, "old", 3));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "c", 1, "3", 1, 0));

	/* Nothing of an uncommitted batch is visible. */
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "a");
	EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "old", "to be deleted");
	assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 1);

	CHECK_OK(lk_commit(fx->db, b));
	/* A committed batch is emptied. */
	assert_int_equal(lk_batch_count(b), 0);
	lk_batch_free(b);

	for (int pass = 0; pass < 2; pass++) {
		EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "a", "1");
		EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "b", "2");
		EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "c", "3");
		EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "old");
		assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 3);
		CHECK_OK(reopen(fx, NULL));
	}
}

static void batch_copies_keys_and_values(void **state)
{
	struct fixture *fx = *state;
	lk_batch *b = NULL;
	char key[8] = "key", value[8] = "value";

	CHECK_OK(lk_batch_new(&b));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, key, 3, value, 5, 0));
	memcpy(key, "XYZ", 3);
	memcpy(value, "#####", 5);
	CHECK_OK(lk_commit(fx->db, b));
	lk_batch_free(b);
	EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "key", "value");
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "XYZ");
}

static void later_batch_operations_on_a_key_win(void **state)
{
	struct fixture *fx = *state;
	lk_batch *b = NULL;

	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "revived", "before"));
	CHECK_OK(lk_batch_new(&b));
	/* put, put: the second value. */
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "twice", 5, "one", 3, 0));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "twice", 5, "two", 3, 0));
	/* put, delete: absent. */
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "gone", 4, "x", 1, 0));
	CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, "gone", 4));
	/* delete, put: the new value. */
	CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, "revived", 7));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "revived", 7, "after", 5, 0));
	/* put, delete, put, put. */
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "many", 4, "1", 1, 0));
	CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, "many", 4));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "many", 4, "3", 1, 0));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "many", 4, "4", 1, 0));
	assert_int_equal(lk_batch_count(b), 10);
	CHECK_OK(lk_commit(fx->db, b));
	lk_batch_free(b);

	for (int pass = 0; pass < 2; pass++) {
		EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "twice", "two");
		EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "gone");
		EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "revived", "after");
		EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "many", "4");
		assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 3);
		CHECK_OK(reopen(fx, NULL));
	}
}

static void batch_count_and_clear(void **state)
{
	struct fixture *fx = *state;
	lk_batch *b = NULL;

	CHECK_OK(lk_batch_new(&b));
	assert_int_equal(lk_batch_count(b), 0);
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "a", 1, "1", 1, 0));
	assert_int_equal(lk_batch_count(b), 1);
	CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, "b", 1));
	assert_int_equal(lk_batch_count(b), 2);
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "a", 1, "2", 1, 0));
	assert_int_equal(lk_batch_count(b), 3);

	lk_batch_clear(b);
	assert_int_equal(lk_batch_count(b), 0);
	/* A cleared batch commits nothing... */
	CHECK_OK(lk_commit(fx->db, b));
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "a");
	/* ...and can be reused. */
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "c", 1, "3", 1, 0));
	assert_int_equal(lk_batch_count(b), 1);
	CHECK_OK(lk_commit(fx->db, b));
	EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "c", "3");
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "a");
	lk_batch_free(b);
	lk_batch_free(NULL);
	assert_int_equal(lk_batch_count(NULL), 0);
}

static void empty_batch_commit_is_ok(void **state)
{
	struct fixture *fx = *state;
	lk_batch *b = NULL;

	CHECK_OK(lk_batch_new(&b));
	CHECK_OK(lk_commit(fx->db, b));
	CHECK_OK(lk_commit(fx->db, b));
	lk_batch_free(b);
	assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 0);
	CHECK_OK(reopen(fx, NULL));
	assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 0);
}

static void rejected_batch_operation_leaves_the_batch_as_it_was(void **state)
{
	struct fixture *fx = *state;
	static char big_key[LK_KEY_BYTES_MAX + 1];
	lk_batch *b = NULL;

	memset(big_key, 'k', sizeof big_key);
	CHECK_OK(lk_batch_new(&b));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "a", 1, "1", 1, 0));
	CHECK_ST(LK_TOO_BIG, lk_batch_put(b, LK_NS_DEFAULT, big_key,
					  sizeof big_key, "v", 1, 0));
	CHECK_ST(LK_INVALID, lk_batch_put(b, LK_NS_DEFAULT, "", 0, "v", 1, 0));
	CHECK_ST(LK_INVALID, lk_batch_del(b, 0, "a", 1));
	assert_int_equal(lk_batch_count(b), 1);
	CHECK_OK(lk_commit(fx->db, b));
	EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "a", "1");
	lk_batch_free(b);
}

/* ---------------------------------------------------------------------- */
/* Limits and argument checks                                             */
/* ---------------------------------------------------------------------- */

static void key_over_the_limit_is_too_big(void **state)
{
	struct fixture *fx = *state;
	static char key[LK_KEY_BYTES_MAX + 1];
	lk_batch *b = NULL;

	memset(key, 'k', sizeof key);
	CHECK_ST(LK_TOO_BIG, lk_put(fx->db, LK_NS_DEFAULT, key,
				    LK_KEY_BYTES_MAX + 1, "v", 1, 0));
	CHECK_ST(LK_TOO_BIG, lk_del(fx->db, LK_NS_DEFAULT, key,
				    LK_KEY_BYTES_MAX + 1));
	CHECK_OK(lk_batch_new(&b));
	CHECK_ST(LK_TOO_BIG, lk_batch_put(b, LK_NS_DEFAULT, key,
					  LK_KEY_BYTES_MAX + 1, "v", 1, 0));
	CHECK_ST(LK_TOO_BIG, lk_batch_del(b, LK_NS_DEFAULT, key,
					  LK_KEY_BYTES_MAX + 1));
	assert_int_equal(lk_batch_count(b), 0);
	lk_batch_free(b);
	assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 0);

	/* A key of exactly the limit is a key. */
	CHECK_OK(lk_put(fx->db, LK_NS_DEFAULT, key, LK_KEY_BYTES_MAX, "v", 1,
			0));
	EXPECT_BYTES(fx->db, LK_NS_DEFAULT, key, LK_KEY_BYTES_MAX, "v", 1);
	CHECK_OK(reopen(fx, NULL));
	EXPECT_BYTES(fx->db, LK_NS_DEFAULT, key, LK_KEY_BYTES_MAX, "v", 1);
}

static void value_over_the_limit_is_too_big(void **state)
{
	struct fixture *fx = *state;
	uint8_t *value = malloc(LK_VALUE_BYTES_MAX + 1);
	lk_batch *b = NULL;

	assert_non_null(value);
	fill_random(value, LK_VALUE_BYTES_MAX + 1, 42);
	CHECK_ST(LK_TOO_BIG, lk_put(fx->db, LK_NS_DEFAULT, "big", 3, value,
				    LK_VALUE_BYTES_MAX + 1, 0));
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "big");
	CHECK_OK(lk_batch_new(&b));
	CHECK_ST(LK_TOO_BIG, lk_batch_put(b, LK_NS_DEFAULT, "big", 3, value,
					  LK_VALUE_BYTES_MAX + 1, 0));
	assert_int_equal(lk_batch_count(b), 0);
	lk_batch_free(b);

	/* A value of exactly the limit is a value. */
	CHECK_OK(lk_put(fx->db, LK_NS_DEFAULT, "big", 3, value,
			LK_VALUE_BYTES_MAX, 0));
	EXPECT_BYTES(fx->db, LK_NS_DEFAULT, "big", 3, value,
		     LK_VALUE_BYTES_MAX);
	CHECK_OK(reopen(fx, NULL));
	EXPECT_BYTES(fx->db, LK_NS_DEFAULT, "big", 3, value,
		     LK_VALUE_BYTES_MAX);
	free(value);
}

static void empty_or_null_key_is_invalid(void **state)
{
	struct fixture *fx = *state;

	CHECK_ST(LK_INVALID, lk_put(fx->db, LK_NS_DEFAULT, "", 0, "v", 1, 0));
	CHECK_ST(LK_INVALID, lk_put(fx->db, LK_NS_DEFAULT, NULL, 0, "v", 1, 0));
	CHECK_ST(LK_INVALID, lk_put(fx->db, LK_NS_DEFAULT, NULL, 3, "v", 1, 0));
	CHECK_ST(LK_INVALID, lk_del(fx->db, LK_NS_DEFAULT, "", 0));
	CHECK_ST(LK_INVALID, lk_del(fx->db, LK_NS_DEFAULT, NULL, 0));
	CHECK_ST(LK_INVALID, lk_get(NULL, NULL, fx->db, LK_NS_DEFAULT, "", 0));
	CHECK_ST(LK_INVALID,
		 lk_get(NULL, NULL, fx->db, LK_NS_DEFAULT, NULL, 1));
	CHECK_ST(LK_INVALID, lk_exists(fx->db, LK_NS_DEFAULT, "", 0));
	CHECK_ST(LK_INVALID, lk_exists(fx->db, LK_NS_DEFAULT, NULL, 0));
	/* The failure leaves its detail. */
	assert_true(strlen(lk_errmsg()) > 0);
	assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 0);
}

static void namespace_zero_or_past_255_is_invalid(void **state)
{
	struct fixture *fx = *state;
	const uint32_t bad[] = { 0, 256, 1000, UINT32_MAX };
	lk_batch *b = NULL;
	lk_iter *it = NULL;
	uint64_t count;
	char name[16];

	CHECK_OK(lk_batch_new(&b));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint32_t ns = bad[i];

		CHECK_ST(LK_INVALID, lk_put(fx->db, ns, "k", 1, "v", 1, 0));
		CHECK_ST(LK_INVALID, lk_del(fx->db, ns, "k", 1));
		CHECK_ST(LK_INVALID, lk_get(NULL, NULL, fx->db, ns, "k", 1));
		CHECK_ST(LK_INVALID, lk_exists(fx->db, ns, "k", 1));
		CHECK_ST(LK_INVALID, lk_count(&count, fx->db, ns));
		CHECK_ST(LK_INVALID, lk_iter_open(&it, fx->db, ns, NULL, 0));
		assert_null(it);
		CHECK_ST(LK_INVALID, lk_batch_put(b, ns, "k", 1, "v", 1, 0));
		CHECK_ST(LK_INVALID, lk_batch_del(b, ns, "k", 1));
		CHECK_ST(LK_INVALID, lk_ns_name(name, sizeof name, fx->db, ns));
	}
	assert_int_equal(lk_batch_count(b), 0);
	lk_batch_free(b);
}

static void null_out_pointers_are_invalid(void **state)
{
	struct fixture *fx = *state;

	CHECK_ST(LK_INVALID, lk_count(NULL, fx->db, LK_NS_DEFAULT));
	CHECK_ST(LK_INVALID,
		 lk_iter_open(NULL, fx->db, LK_NS_DEFAULT, NULL, 0));
	CHECK_ST(LK_INVALID, lk_ns_open(NULL, fx->db, "x"));
	CHECK_ST(LK_INVALID, lk_stats_get(NULL, fx->db));
	CHECK_ST(LK_INVALID, lk_recovery(NULL, fx->db));
	CHECK_ST(LK_INVALID, lk_batch_new(NULL));
	CHECK_ST(LK_INVALID, lk_open(NULL, fx->path, NULL));
}

/* ---------------------------------------------------------------------- */
/* Namespaces                                                             */
/* ---------------------------------------------------------------------- */

static void default_namespace_is_named_default(void **state)
{
	struct fixture *fx = *state;
	uint32_t ns = 0;
	char name[LK_NS_NAME_BYTES_MAX + 1];

	CHECK_OK(lk_ns_open(&ns, fx->db, "default"));
	assert_int_equal(ns, LK_NS_DEFAULT);
	CHECK_OK(lk_ns_name(name, sizeof name, fx->db, LK_NS_DEFAULT));
	assert_string_equal(name, "default");
}

static void ns_open_creates_a_namespace_that_survives_reopen(void **state)
{
	struct fixture *fx = *state;
	uint32_t nodes = 0, paths = 0, again = 0;
	char name[LK_NS_NAME_BYTES_MAX + 1];

	CHECK_OK(lk_ns_open(&nodes, fx->db, "nodes"));
	CHECK_OK(lk_ns_open(&paths, fx->db, "paths"));
	assert_true(nodes >= 2 && nodes <= 255);
	assert_true(paths >= 2 && paths <= 255);
	assert_int_not_equal(nodes, paths);
	/* Opening it again finds it. */
	CHECK_OK(lk_ns_open(&again, fx->db, "nodes"));
	assert_int_equal(again, nodes);
	CHECK_OK(lk_put(fx->db, nodes, "n1", 2, "node one", 8, 0));

	for (int pass = 0; pass < 2; pass++) {
		CHECK_OK(reopen(fx, NULL));
		CHECK_OK(lk_ns_name(name, sizeof name, fx->db, nodes));
		assert_string_equal(name, "nodes");
		CHECK_OK(lk_ns_name(name, sizeof name, fx->db, paths));
		assert_string_equal(name, "paths");
		CHECK_OK(lk_ns_open(&again, fx->db, "paths"));
		assert_int_equal(again, paths);
		CHECK_OK(lk_ns_open(&again, fx->db, "nodes"));
		assert_int_equal(again, nodes);
		EXPECT_VALUE(fx->db, nodes, "n1", "node one");
	}
}

static void ns_name_of_an_unknown_id_is_not_found(void **state)
{
	struct fixture *fx = *state;
	char name[LK_NS_NAME_BYTES_MAX + 1];

	CHECK_ST(LK_NOT_FOUND, lk_ns_name(name, sizeof name, fx->db, 2));
	CHECK_ST(LK_NOT_FOUND, lk_ns_name(name, sizeof name, fx->db, 255));
	CHECK_ST(LK_INVALID, lk_ns_name(NULL, 10, fx->db, LK_NS_DEFAULT));
	CHECK_ST(LK_INVALID, lk_ns_name(name, 0, fx->db, LK_NS_DEFAULT));
}

static void ns_name_truncates_to_the_buffer(void **state)
{
	struct fixture *fx = *state;
	uint32_t ns = 0;
	char name[5];

	CHECK_OK(lk_ns_open(&ns, fx->db, "telemetry"));
	memset(name, 'X', sizeof name);
	CHECK_OK(lk_ns_name(name, sizeof name, fx->db, ns));
	assert_string_equal(name, "tele");
	CHECK_OK(lk_ns_name(name, sizeof name, fx->db, LK_NS_DEFAULT));
	assert_string_equal(name, "defa");
}

static void invalid_namespace_names_are_rejected(void **state)
{
	struct fixture *fx = *state;
	char longest[LK_NS_NAME_BYTES_MAX + 1];
	char too_long[LK_NS_NAME_BYTES_MAX + 2];
	char name[LK_NS_NAME_BYTES_MAX + 1];
	const char *bad[] = { "", "has space", "tab\there", "new\nline",
			      "bell\a", "caf\xc3\xa9", "del\x7f" };
	uint32_t ns = 12345;

	memset(longest, 'n', LK_NS_NAME_BYTES_MAX);
	longest[LK_NS_NAME_BYTES_MAX] = '\0';
	memset(too_long, 'n', LK_NS_NAME_BYTES_MAX + 1);
	too_long[LK_NS_NAME_BYTES_MAX + 1] = '\0';

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_ST(LK_INVALID, lk_ns_open(&ns, fx->db, bad[i]));
	CHECK_ST(LK_INVALID, lk_ns_open(&ns, fx->db, too_long));
	CHECK_ST(LK_INVALID, lk_ns_open(&ns, fx->db, NULL));
	/* No rejected name took an id. */
	CHECK_ST(LK_NOT_FOUND, lk_ns_name(name, sizeof name, fx->db, 2));

	/* The longest name and every printable character are fine. */
	CHECK_OK(lk_ns_open(&ns, fx->db, longest));
	CHECK_OK(lk_ns_name(name, sizeof name, fx->db, ns));
	assert_string_equal(name, longest);
	CHECK_OK(lk_ns_open(&ns, fx->db, "!~/:.-_{}"));
	CHECK_OK(reopen(fx, NULL));
	CHECK_OK(lk_ns_name(name, sizeof name, fx->db, ns));
	assert_string_equal(name, "!~/:.-_{}");
}

static void same_key_in_two_namespaces_is_two_records(void **state)
{
	struct fixture *fx = *state;
	uint32_t a = 0, b = 0;

	CHECK_OK(lk_ns_open(&a, fx->db, "alpha"));
	CHECK_OK(lk_ns_open(&b, fx->db, "beta"));
	CHECK_OK(put_str(fx->db, a, "shared", "from alpha"));
	CHECK_OK(put_str(fx->db, b, "shared", "from beta"));
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "shared", "from default"));
	for (int pass = 0; pass < 2; pass++) {
		EXPECT_VALUE(fx->db, a, "shared", "from alpha");
		EXPECT_VALUE(fx->db, b, "shared", "from beta");
		EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "shared", "from default");
		CHECK_OK(reopen(fx, NULL));
	}
	/* Deleting in one leaves the others. */
	CHECK_OK(del_str(fx->db, a, "shared"));
	EXPECT_ABSENT(fx->db, a, "shared");
	EXPECT_VALUE(fx->db, b, "shared", "from beta");
	EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "shared", "from default");
	/* A key of a namespace never opened is simply absent. */
	EXPECT_ABSENT(fx->db, 200, "shared");
}

/* ---------------------------------------------------------------------- */
/* Iteration and counting                                                 */
/* ---------------------------------------------------------------------- */

static void iteration_returns_every_live_key_once(void **state)
{
	struct fixture *fx = *state;
	static struct seen seen;
	char key[32], value[32];
	const char *got;

	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof key, "k%04d", i);
		snprintf(value, sizeof value, "v%d", i);
		CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, key, value));
	}
	for (int pass = 0; pass < 2; pass++) {
		iterate(&seen, fx->db, LK_NS_DEFAULT, NULL);
		assert_int_equal(seen.n, 500);
		for (int i = 0; i < 500; i++) {
			snprintf(key, sizeof key, "k%04d", i);
			snprintf(value, sizeof value, "v%d", i);
			assert_int_equal(seen_times(&seen, key, &got), 1);
			assert_string_equal(got, value);
			assert_int_equal(seen.expire_at_ms[i], 0);
		}
		CHECK_OK(reopen(fx, NULL));
	}
}

static void iteration_of_an_empty_namespace_ends_at_once(void **state)
{
	struct fixture *fx = *state;
	lk_iter *it = NULL;
	const void *key;
	size_t key_len;

	CHECK_OK(lk_iter_open(&it, fx->db, LK_NS_DEFAULT, NULL, 0));
	CHECK_ST(LK_NOT_FOUND,
		 lk_iter_next(it, &key, &key_len, NULL, NULL, NULL));
	lk_iter_close(it);
	lk_iter_close(NULL);
	CHECK_OK(lk_iter_open(&it, fx->db, 99, NULL, 0));
	CHECK_ST(LK_NOT_FOUND, lk_iter_next(it, NULL, NULL, NULL, NULL, NULL));
	lk_iter_close(it);
}

static void iteration_filters_by_prefix(void **state)
{
	struct fixture *fx = *state;
	static struct seen seen;
	const char *got;
	lk_iter *it = NULL;

	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "node/1", "a"));
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "path/1/2", "b"));
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "node/22", "c"));
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "node", "d"));
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "nod", "e"));
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "xnode/3", "f"));

	iterate(&seen, fx->db, LK_NS_DEFAULT, "node/");
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen_times(&seen, "node/1", &got), 1);
	assert_string_equal(got, "a");
	assert_int_equal(seen_times(&seen, "node/22", &got), 1);
	assert_string_equal(got, "c");

	iterate(&seen, fx->db, LK_NS_DEFAULT, "node");
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen_times(&seen, "node", NULL), 1);

	iterate(&seen, fx->db, LK_NS_DEFAULT, "nothing");
	assert_int_equal(seen.n, 0);

	/* The whole key as prefix finds that key. */
	iterate(&seen, fx->db, LK_NS_DEFAULT, "path/1/2");
	assert_int_equal(seen.n, 1);

	CHECK_ST(LK_INVALID, lk_iter_open(&it, fx->db, LK_NS_DEFAULT, NULL, 3));
	assert_null(it);
}

static void iteration_skips_deleted_keys_and_old_values(void **state)
{
	struct fixture *fx = *state;
	static struct seen seen;
	char key[32], value[32];
	const char *got;

	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof key, "k%02d", i);
		CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, key, "old"));
	}
	for (int i = 0; i < 50; i += 2) {
		snprintf(key, sizeof key, "k%02d", i);
		snprintf(value, sizeof value, "new-%d", i);
		CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, key, "middle"));
		CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, key, value));
	}
	for (int i = 0; i < 50; i += 5) {
		snprintf(key, sizeof key, "k%02d", i);
		CHECK_OK(del_str(fx->db, LK_NS_DEFAULT, key));
	}
	for (int pass = 0; pass < 2; pass++) {
		iterate(&seen, fx->db, LK_NS_DEFAULT, NULL);
		assert_int_equal(seen.n, 40);
		for (int i = 0; i < 50; i++) {
			snprintf(key, sizeof key, "k%02d", i);
			if (i % 5 == 0) {
				assert_int_equal(
					seen_times(&seen, key, NULL), 0);
				continue;
			}
			assert_int_equal(seen_times(&seen, key, &got), 1);
			if (i % 2 == 0) {
				snprintf(value, sizeof value, "new-%d", i);
				assert_string_equal(got, value);
			} else {
				assert_string_equal(got, "old");
			}
		}
		assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 40);
		CHECK_OK(reopen(fx, NULL));
	}
}

static void iteration_does_not_see_other_namespaces(void **state)
{
	struct fixture *fx = *state;
	static struct seen seen;
	uint32_t a = 0, b = 0;
	const char *got;

	CHECK_OK(lk_ns_open(&a, fx->db, "alpha"));
	CHECK_OK(lk_ns_open(&b, fx->db, "beta"));
	CHECK_OK(put_str(fx->db, a, "only-a", "1"));
	CHECK_OK(put_str(fx->db, a, "both", "a"));
	CHECK_OK(put_str(fx->db, b, "both", "b"));
	CHECK_OK(put_str(fx->db, b, "only-b", "2"));
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "only-default", "3"));

	for (int pass = 0; pass < 2; pass++) {
		iterate(&seen, fx->db, a, NULL);
		assert_int_equal(seen.n, 2);
		assert_int_equal(seen_times(&seen, "only-a", NULL), 1);
		assert_int_equal(seen_times(&seen, "both", &got), 1);
		assert_string_equal(got, "a");

		iterate(&seen, fx->db, b, NULL);
		assert_int_equal(seen.n, 2);
		assert_int_equal(seen_times(&seen, "only-b", NULL), 1);
		assert_int_equal(seen_times(&seen, "both", &got), 1);
		assert_string_equal(got, "b");

		/* The default namespace does not show the namespace catalog. */
		iterate(&seen, fx->db, LK_NS_DEFAULT, NULL);
		assert_int_equal(seen.n, 1);
		assert_int_equal(seen_times(&seen, "only-default", NULL), 1);
		CHECK_OK(reopen(fx, NULL));
	}
}

static void iteration_does_not_see_later_writes(void **state)
{
	struct fixture *fx = *state;
	lk_iter *it = NULL;
	const void *key, *value;
	size_t key_len, value_len;
	int n = 0;

	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "before", "old"));
	CHECK_OK(lk_iter_open(&it, fx->db, LK_NS_DEFAULT, NULL, 0));
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "after", "new"));
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "before", "overwritten"));
	while (lk_iter_next(it, &key, &key_len, &value, &value_len, NULL) ==
	       LK_OK) {
		assert_int_equal(key_len, 6);
		assert_memory_equal(key, "before", 6);
		assert_int_equal(value_len, 3);
		assert_memory_equal(value, "old", 3);
		n++;
	}
	assert_int_equal(n, 1);
	lk_iter_close(it);
}

static void count_is_per_namespace(void **state)
{
	struct fixture *fx = *state;
	uint32_t a = 0, b = 0;
	char key[16];

	CHECK_OK(lk_ns_open(&a, fx->db, "alpha"));
	CHECK_OK(lk_ns_open(&b, fx->db, "beta"));
	assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 0);
	assert_int_equal(count_of(fx->db, a), 0);
	for (int i = 0; i < 30; i++) {
		snprintf(key, sizeof key, "k%d", i);
		CHECK_OK(put_str(fx->db, a, key, "x"));
		if (i < 7)
			CHECK_OK(put_str(fx->db, b, key, "y"));
	}
	CHECK_OK(put_str(fx->db, a, "k0", "overwrite does not count"));
	CHECK_OK(del_str(fx->db, a, "k1"));
	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(count_of(fx->db, a), 29);
		assert_int_equal(count_of(fx->db, b), 7);
		assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 0);
		assert_int_equal(count_of(fx->db, 250), 0);
		CHECK_OK(reopen(fx, NULL));
	}
}

/* ---------------------------------------------------------------------- */
/* Expiry                                                                 */
/* ---------------------------------------------------------------------- */

static void expired_record_is_never_returned(void **state)
{
	struct fixture *fx = *state;
	static struct seen seen;
	uint64_t past = now_ms() - 1000;
	lk_batch *b = NULL;

	CHECK_OK(lk_put(fx->db, LK_NS_DEFAULT, "stale", 5, "gone", 4, past));
	CHECK_OK(lk_batch_new(&b));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "stale2", 6, "gone", 4, 1));
	CHECK_OK(lk_commit(fx->db, b));
	lk_batch_free(b);
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "fresh", "here"));
	/* An expired record overwrites a live one. */
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "was-live", "live"));
	CHECK_OK(lk_put(fx->db, LK_NS_DEFAULT, "was-live", 8, "dead", 4, past));

	for (int pass = 0; pass < 2; pass++) {
		EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "stale");
		EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "stale2");
		EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "was-live");
		EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "fresh", "here");
		iterate(&seen, fx->db, LK_NS_DEFAULT, NULL);
		assert_int_equal(seen.n, 1);
		assert_string_equal(seen.keys[0], "fresh");
		assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 1);
		CHECK_OK(reopen(fx, NULL));
	}
}

static void record_expiring_later_is_returned(void **state)
{
	struct fixture *fx = *state;
	static struct seen seen;
	uint64_t later = now_ms() + 3600u * 1000u;

	CHECK_OK(lk_put(fx->db, LK_NS_DEFAULT, "path/a/b", 8, "bundle", 6,
			later));
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "forever", "x"));
	for (int pass = 0; pass < 2; pass++) {
		EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "path/a/b", "bundle");
		CHECK_OK(lk_exists(fx->db, LK_NS_DEFAULT, "path/a/b", 8));
		iterate(&seen, fx->db, LK_NS_DEFAULT, NULL);
		assert_int_equal(seen.n, 2);
		for (size_t i = 0; i < seen.n; i++) {
			if (strcmp(seen.keys[i], "path/a/b") == 0)
				assert_int_equal(seen.expire_at_ms[i], later);
			else
				assert_int_equal(seen.expire_at_ms[i], 0);
		}
		assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 2);
		CHECK_OK(reopen(fx, NULL));
	}
}

/* ---------------------------------------------------------------------- */
/* Large values                                                           */
/* ---------------------------------------------------------------------- */

static void expect_iterated_value(lk_db *db, const char *key,
				  const uint8_t *want, size_t want_len)
{
	lk_iter *it = NULL;
	const void *k, *v;
	size_t k_len, v_len;
	int found = 0;

	CHECK_OK(lk_iter_open(&it, db, LK_NS_DEFAULT, key, strlen(key)));
	while (lk_iter_next(it, &k, &k_len, &v, &v_len, NULL) == LK_OK) {
		if (k_len != strlen(key))
			continue;
		found++;
		assert_int_equal(v_len, want_len);
		assert_memory_equal(v, want, want_len);
	}
	lk_iter_close(it);
	assert_int_equal(found, 1);
}

static void compressible_100k_value_round_trips(void **state)
{
	struct fixture *fx = *state;
	const size_t len = 100 * 1024;
	const char *line = "route 10.0.0.0/8 via wlan0 metric 20; ";
	uint8_t *value = malloc(len);
	lk_stats stats = LK_STATS_INIT;

	assert_non_null(value);
	for (size_t i = 0; i < len; i++)
		value[i] = (uint8_t)line[i % strlen(line)];
	CHECK_OK(lk_put(fx->db, LK_NS_DEFAULT, "policy", 6, value, len, 0));
	for (int pass = 0; pass < 2; pass++) {
		EXPECT_BYTES(fx->db, LK_NS_DEFAULT, "policy", 6, value, len);
		expect_iterated_value(fx->db, "policy", value, len);
		CHECK_OK(reopen(fx, NULL));
	}
	/* It was stored compressed: the log is far smaller than the value. */
	CHECK_OK(lk_stats_get(&stats, fx->db));
	assert_true(stats.live_bytes < len / 4);
	free(value);
}

static void incompressible_64k_value_round_trips(void **state)
{
	struct fixture *fx = *state;
	const size_t len = 64 * 1024;
	uint8_t *value = malloc(len);

	assert_non_null(value);
	fill_random(value, len, 0x9e3779b97f4a7c15u);
	CHECK_OK(lk_put(fx->db, LK_NS_DEFAULT, "noise", 5, value, len, 0));
	for (int pass = 0; pass < 2; pass++) {
		EXPECT_BYTES(fx->db, LK_NS_DEFAULT, "noise", 5, value, len);
		expect_iterated_value(fx->db, "noise", value, len);
		CHECK_OK(reopen(fx, NULL));
	}
	free(value);
}

/* Values around the compression threshold (256 bytes) all round-trip. */
static void values_around_the_compression_threshold_round_trip(void **state)
{
	struct fixture *fx = *state;
	const size_t lens[] = { 254, 255, 256, 257, 300, 4000 };
	uint8_t value[4000];
	char key[16];

	memset(value, 'z', sizeof value);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		snprintf(key, sizeof key, "len%zu", lens[i]);
		CHECK_OK(lk_put(fx->db, LK_NS_DEFAULT, key, strlen(key), value,
				lens[i], 0));
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
			snprintf(key, sizeof key, "len%zu", lens[i]);
			EXPECT_BYTES(fx->db, LK_NS_DEFAULT, key, strlen(key),
				     value, lens[i]);
		}
		CHECK_OK(reopen(fx, NULL));
	}
}

/* ---------------------------------------------------------------------- */
/* Read-only opens                                                        */
/* ---------------------------------------------------------------------- */

static void readonly_open_refuses_writes_and_reads(void **state)
{
	struct fixture *fx = *state;
	lk_options ro = LK_OPTIONS_INIT;
	static struct seen seen;
	lk_batch *b = NULL;
	uint32_t ns = 0, nodes = 0;

	CHECK_OK(lk_ns_open(&nodes, fx->db, "nodes"));
	CHECK_OK(put_str(fx->db, nodes, "n1", "one"));
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "k", "v"));
	ro.flags = LK_OPEN_READONLY;
	CHECK_OK(reopen(fx, &ro));

	CHECK_ST(LK_READONLY, put_str(fx->db, LK_NS_DEFAULT, "k", "new"));
	CHECK_ST(LK_READONLY, put_str(fx->db, LK_NS_DEFAULT, "other", "new"));
	CHECK_ST(LK_READONLY, del_str(fx->db, LK_NS_DEFAULT, "k"));
	CHECK_OK(lk_batch_new(&b));
	CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, "b", 1, "1", 1, 0));
	CHECK_ST(LK_READONLY, lk_commit(fx->db, b));
	lk_batch_free(b);
	CHECK_ST(LK_READONLY, lk_sync(fx->db));
	/* A read-only handle finds namespaces but does not create them. */
	CHECK_OK(lk_ns_open(&ns, fx->db, "nodes"));
	assert_int_equal(ns, nodes);
	CHECK_ST(LK_NOT_FOUND, lk_ns_open(&ns, fx->db, "brand-new"));

	EXPECT_VALUE(fx->db, LK_NS_DEFAULT, "k", "v");
	EXPECT_VALUE(fx->db, nodes, "n1", "one");
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "other");
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "b");
	iterate(&seen, fx->db, LK_NS_DEFAULT, NULL);
	assert_int_equal(seen.n, 1);
	assert_int_equal(count_of(fx->db, nodes), 1);
}

static void readonly_open_changes_no_file(void **state)
{
	struct fixture *fx = *state;
	lk_options ro = LK_OPTIONS_INIT, small = LK_OPTIONS_INIT;
	struct dir_image before, after;
	char key[32];
	uint32_t ns = 0;

	/* Several segments, a namespace, deletes, an expired record, and a
	 * handle closed after writing. */
	small.segment_size_bytes = LK_SEGMENT_SIZE_MIN_BYTES;
	CHECK_OK(reopen(fx, &small));
	CHECK_OK(lk_ns_open(&ns, fx->db, "nodes"));
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof key, "key-%d", i);
		CHECK_OK(put_str(fx->db, i % 2 ? ns : LK_NS_DEFAULT, key,
				 "some value of moderate length"));
		if (i % 7 == 0)
			CHECK_OK(del_str(fx->db, LK_NS_DEFAULT, key));
	}
	CHECK_OK(lk_put(fx->db, LK_NS_DEFAULT, "old", 3, "x", 1, 1));
	CHECK_OK(lk_close(fx->db));
	fx->db = NULL;

	dir_image_take(&before, fx->path);
	ro.flags = LK_OPEN_READONLY;
	CHECK_OK(lk_open(&fx->db, fx->path, &ro));
	EXPECT_VALUE(fx->db, ns, "key-1", "some value of moderate length");
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "key-0");
	EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, "old");
	assert_int_equal(count_of(fx->db, ns), 100);
	CHECK_ST(LK_READONLY, put_str(fx->db, LK_NS_DEFAULT, "k", "v"));
	CHECK_ST(LK_READONLY, lk_sync(fx->db));
	CHECK_OK(lk_close(fx->db));
	fx->db = NULL;
	dir_image_take(&after, fx->path);
	dir_image_expect_equal(&before, &after);
	dir_image_free(&before);
	dir_image_free(&after);

	/* The same after a handle that wrote nothing since its open. */
	CHECK_OK(lk_open(&fx->db, fx->path, &small));
	CHECK_OK(lk_close(fx->db));
	fx->db = NULL;
	dir_image_take(&before, fx->path);
	CHECK_OK(lk_open(&fx->db, fx->path, &ro));
	CHECK_OK(lk_close(fx->db));
	fx->db = NULL;
	dir_image_take(&after, fx->path);
	dir_image_expect_equal(&before, &after);
	dir_image_free(&before);
	dir_image_free(&after);
}

static void readonly_open_of_a_missing_directory_is_not_found(void **state)
{
	struct fixture *fx = *state;
	lk_options ro = LK_OPTIONS_INIT;
	char missing[160];
	struct stat st;
	lk_db *db = (lk_db *)&ro;

	snprintf(missing, sizeof missing, "%s/missing", fx->root);
	/* LK_OPEN_CREATE is ignored by a read-only open. */
	ro.flags = LK_OPEN_READONLY | LK_OPEN_CREATE;
	CHECK_ST(LK_NOT_FOUND, lk_open(&db, missing, &ro));
	assert_null(db);
	ro.flags = LK_OPEN_READONLY;
	CHECK_ST(LK_NOT_FOUND, lk_open(&db, missing, &ro));
	assert_null(db);
	assert_int_not_equal(stat(missing, &st), 0);
}

static void open_without_create_of_a_missing_directory_is_not_found(void **state)
{
	struct fixture *fx = *state;
	lk_options opts = LK_OPTIONS_INIT;
	char missing[160];
	struct stat st;
	lk_db *db = (lk_db *)&opts;

	snprintf(missing, sizeof missing, "%s/missing", fx->root);
	opts.flags = 0;
	CHECK_ST(LK_NOT_FOUND, lk_open(&db, missing, &opts));
	assert_null(db);
	assert_int_not_equal(stat(missing, &st), 0);
	/* With the flag it is created, and then opens without it. */
	opts.flags = LK_OPEN_CREATE;
	CHECK_OK(lk_open(&db, missing, &opts));
	CHECK_OK(put_str(db, LK_NS_DEFAULT, "k", "v"));
	CHECK_OK(lk_close(db));
	assert_int_equal(stat(missing, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	opts.flags = 0;
	CHECK_OK(lk_open(&db, missing, &opts));
	EXPECT_VALUE(db, LK_NS_DEFAULT, "k", "v");
	CHECK_OK(lk_close(db));
}

/* ---------------------------------------------------------------------- */
/* Options                                                                */
/* ---------------------------------------------------------------------- */

static void options_of_another_version_are_invalid(void **state)
{
	struct fixture *fx = *state;
	lk_options opts = LK_OPTIONS_INIT;
	char other[160];
	lk_db *db = NULL;

	snprintf(other, sizeof other, "%s/other", fx->root);
	opts.version = LK_OPTIONS_VERSION + 1;
	CHECK_ST(LK_INVALID, lk_open(&db, other, &opts));
	assert_null(db);
	opts.version = 0;
	CHECK_ST(LK_INVALID, lk_open(&db, other, &opts));
	assert_null(db);
}

static void segment_size_below_the_minimum_is_invalid(void **state)
{
	struct fixture *fx = *state;
	lk_options opts = LK_OPTIONS_INIT;
	char other[160];
	lk_db *db = NULL;

	snprintf(other, sizeof other, "%s/other", fx->root);
	opts.segment_size_bytes = LK_SEGMENT_SIZE_MIN_BYTES - 1;
	CHECK_ST(LK_INVALID, lk_open(&db, other, &opts));
	assert_null(db);
	opts.segment_size_bytes = 0;
	CHECK_ST(LK_INVALID, lk_open(&db, other, &opts));
	assert_null(db);
	opts.segment_size_bytes = LK_SEGMENT_SIZE_MIN_BYTES;
	CHECK_OK(lk_open(&db, other, &opts));
	CHECK_OK(lk_close(db));
}

static void unknown_flags_and_sync_modes_are_invalid(void **state)
{
	struct fixture *fx = *state;
	lk_options opts = LK_OPTIONS_INIT;
	char other[160];
	lk_db *db = NULL;

	snprintf(other, sizeof other, "%s/other", fx->root);
	opts.flags = LK_OPEN_CREATE | 0x80u;
	CHECK_ST(LK_INVALID, lk_open(&db, other, &opts));
	opts = (lk_options)LK_OPTIONS_INIT;
	opts.sync = (lk_sync_mode)7;
	CHECK_ST(LK_INVALID, lk_open(&db, other, &opts));
	assert_null(db);
	CHECK_ST(LK_INVALID, lk_open(&db, NULL, NULL));
	CHECK_ST(LK_INVALID, lk_open(&db, "", NULL));
	assert_null(db);
}

/* ---------------------------------------------------------------------- */
/* Segments, stats, recovery report                                       */
/* ---------------------------------------------------------------------- */

static void small_segments_rotate_and_keep_every_record(void **state)
{
	struct fixture *fx = *state;
	lk_options small = LK_OPTIONS_INIT;
	char key[32], value[64];
	lk_stats stats = LK_STATS_INIT;

	small.segment_size_bytes = LK_SEGMENT_SIZE_MIN_BYTES;
	small.sync = LK_SYNC_NONE; /* 2000 fdatasyncs would only be slow */
	CHECK_OK(reopen(fx, &small));
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof key, "key-%05d", i);
		snprintf(value, sizeof value, "value number %d of 2000", i);
		CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, key, value));
	}
	assert_true(segment_files(fx->path, NULL) >= 5);
	small.sync = LK_SYNC_ALWAYS;
	for (int pass = 0; pass < 2; pass++) {
		CHECK_OK(reopen(fx, &small));
		for (int i = 0; i < 2000; i++) {
			snprintf(key, sizeof key, "key-%05d", i);
			snprintf(value, sizeof value, "value number %d of 2000",
				 i);
			EXPECT_VALUE(fx->db, LK_NS_DEFAULT, key, value);
		}
		assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 2000);
		CHECK_OK(lk_stats_get(&stats, fx->db));
		assert_int_equal(stats.segment_count,
				 segment_files(fx->path, NULL));
	}
	/* No segment grew far past the rotation size (the LOCK file holds
	 * the space reserve). */
	{
		struct dir_image img;

		dir_image_take(&img, fx->path);
		for (size_t i = 0; i < img.n; i++)
			assert_true(strcmp(img.names[i], "LOCK") == 0 ||
				    img.sizes[i] <=
				    2 * LK_SEGMENT_SIZE_MIN_BYTES);
		dir_image_free(&img);
	}
}

static void stats_are_consistent(void **state)
{
	struct fixture *fx = *state;
	lk_options small = LK_OPTIONS_INIT;
	char key[32];
	lk_stats stats = LK_STATS_INIT;
	lk_batch *b = NULL;
	uint64_t file_bytes = 0;

	small.segment_size_bytes = 16 * 1024;
	CHECK_OK(reopen(fx, &small));
	CHECK_OK(lk_batch_new(&b));
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "stat-key-%d", i);
		CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, key, strlen(key),
				      "0123456789", 10, 0));
		if (i % 100 == 99)
			CHECK_OK(lk_commit(fx->db, b));
	}
	lk_batch_free(b);
	/* Overwrites and deletes make dead bytes, not keys. */
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "stat-key-1", "again"));

	for (int pass = 0; pass < 2; pass++) {
		memset(&stats, 0xff, sizeof stats);
		stats.version = LK_STATS_VERSION;
		CHECK_OK(lk_stats_get(&stats, fx->db));
		assert_int_equal(stats.version, LK_STATS_VERSION);
		assert_int_equal(stats.live_keys, 1000);
		assert_int_equal(stats.segment_count,
				 segment_files(fx->path, &file_bytes));
		assert_true(stats.segment_count >= 2);
		assert_true(stats.disk_bytes > 0);
		assert_int_equal(stats.disk_bytes, file_bytes);
		assert_true(stats.live_bytes > 1000 * 20);
		assert_true(stats.live_bytes + stats.dead_bytes <=
			    stats.disk_bytes);
		assert_true(stats.dead_bytes > 0);
		assert_true(stats.index_bytes > 0);
		assert_true(stats.index_bytes / stats.live_keys < 64);
		assert_true(stats.index_slots >= stats.live_keys);
		assert_true(stats.seq_last >= 1001);
		if (pass == 0) {
			/* This handle committed 10 batches and one put. */
			assert_int_equal(stats.commits, 11);
			assert_true(stats.write_groups >= 1 &&
				    stats.write_groups <= 11);
			assert_true(stats.sync_calls >= stats.write_groups);
		} else {
			assert_int_equal(stats.commits, 0);
		}
		CHECK_OK(reopen(fx, &small));
	}
	CHECK_OK(del_str(fx->db, LK_NS_DEFAULT, "stat-key-2"));
	CHECK_OK(lk_stats_get(&stats, fx->db));
	assert_int_equal(stats.live_keys, 999);
}

static void recovery_report_after_a_clean_reopen_counts_every_record(void **state)
{
	struct fixture *fx = *state;
	lk_recovery_report report = LK_REPORT_INIT;
	lk_stats stats = LK_STATS_INIT;
	lk_batch *b = NULL;
	uint32_t ns = 0;
	uint64_t ops = 0;
	char key[32];

	/* A fresh database replayed nothing. */
	memset(&report, 0xff, sizeof report);
	report.version = LK_REPORT_VERSION;
	CHECK_OK(lk_recovery(&report, fx->db));
	assert_int_equal(report.version, LK_REPORT_VERSION);
	assert_int_equal(report.records_replayed, 0);
	assert_int_equal(report.bytes_cut, 0);

	CHECK_OK(lk_ns_open(&ns, fx->db, "nodes"));
	ops++; /* the namespace catalog is a record */
	CHECK_OK(lk_ns_open(&ns, fx->db, "nodes")); /* found: no record */
	for (int i = 0; i < 30; i++) {
		snprintf(key, sizeof key, "k%d", i);
		CHECK_OK(put_str(fx->db, i % 2 ? ns : LK_NS_DEFAULT, key, "v"));
		ops++;
	}
	CHECK_OK(del_str(fx->db, LK_NS_DEFAULT, "k0"));
	ops++;
	CHECK_OK(lk_batch_new(&b));
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof key, "b%d", i);
		CHECK_OK(lk_batch_put(b, LK_NS_DEFAULT, key, strlen(key), "v",
				      1, 0));
		ops++;
	}
	CHECK_OK(lk_batch_del(b, LK_NS_DEFAULT, "b0", 2));
	ops++;
	CHECK_OK(lk_commit(fx->db, b));
	lk_batch_free(b);
	CHECK_OK(lk_stats_get(&stats, fx->db));

	for (int pass = 0; pass < 2; pass++) {
		CHECK_OK(reopen(fx, NULL));
		memset(&report, 0xff, sizeof report);
		report.version = LK_REPORT_VERSION;
		CHECK_OK(lk_recovery(&report, fx->db));
		assert_int_equal(report.version, LK_REPORT_VERSION);
		assert_int_equal(report.records_replayed, ops);
		assert_int_equal(report.records_discarded, 0);
		assert_int_equal(report.bytes_cut, 0);
		assert_int_equal(report.cut_segment_seq, 0);
		assert_int_equal(report.segments_removed, 0);
		assert_true(report.segments_read >= 1);
		/* The newest sequence number is the one the writer had. */
		assert_int_equal(report.seq_last, stats.seq_last);
		assert_int_equal(report.snapshot_used, 0);
		assert_int_equal(report.tail_note[0], '\0');
	}
}

/* ---------------------------------------------------------------------- */
/* Statuses and NULL handles                                              */
/* ---------------------------------------------------------------------- */

static void strerror_never_returns_null(void **state)
{
	(void)state;
	for (int s = -5; s <= 100; s++) {
		const char *name = lk_strerror((lk_status)s);

		assert_non_null(name);
		assert_true(strlen(name) > 0);
	}
	/* Known statuses have distinct names. */
	for (int a = LK_OK; a <= LK_CONFLICT; a++)
		for (int b = a + 1; b <= LK_CONFLICT; b++)
			assert_string_not_equal(lk_strerror((lk_status)a),
						lk_strerror((lk_status)b));
	assert_non_null(lk_errmsg());
}

/* Copies the new thread's lk_errmsg() into arg (64 bytes). */
static void *errmsg_of_a_new_thread(void *arg)
{
	const char *msg = lk_errmsg();

	snprintf(arg, 64, "%s", msg ? msg : "(NULL)");
	return NULL;
}

static void errmsg_is_per_thread_and_empty_until_a_failure(void **state)
{
	struct fixture *fx = *state;
	pthread_t thread;
	char msg[64] = "unset";

	CHECK_ST(LK_INVALID, lk_put(fx->db, 0, "k", 1, "v", 1, 0));
	assert_true(strlen(lk_errmsg()) > 0);
	/* Another thread, which has not failed yet, has no detail. */
	assert_int_equal(pthread_create(&thread, NULL, errmsg_of_a_new_thread,
					msg), 0);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_string_equal(msg, "");
	/* And this thread's detail is still there. */
	assert_true(strlen(lk_errmsg()) > 0);
}

static void close_of_null_is_ok(void **state)
{
	(void)state;
	CHECK_OK(lk_close(NULL));
	lk_free(NULL);
	lk_iter_close(NULL);
	lk_batch_free(NULL);
}

/* The sequence that freed the segments under an open iterator (a heap
 * use-after-free under ASan): the close is refused, changes nothing, and
 * succeeds once the iterator is closed. */
static void close_with_an_open_iterator_is_misuse_and_frees_nothing(void **state)
{
	struct fixture *fx = *state;
	const void *key, *value;
	size_t key_len, value_len;
	lk_iter *it;

	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "k", "v"));
	CHECK_OK(lk_iter_open(&it, fx->db, LK_NS_DEFAULT, NULL, 0));
	CHECK_ST(LK_MISUSE, lk_close(fx->db));
	/* the handle and the iterator are as they were */
	CHECK_OK(lk_iter_next(it, &key, &key_len, &value, &value_len, NULL));
	assert_int_equal(key_len, 1);
	assert_memory_equal(key, "k", 1);
	assert_memory_equal(value, "v", 1);
	CHECK_OK(lk_exists(fx->db, LK_NS_DEFAULT, "k", 1));
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "k2", "v2"));
	lk_iter_close(it);
	CHECK_OK(lk_close(fx->db));
	fx->db = NULL;
}

/* A backup in another thread, held open by its progress callback. */
struct held_backup {
	lk_db *db;
	const char *dest;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int started, release;
	lk_status st;
};

static void hold_backup(void *arg, uint64_t done, uint64_t total)
{
	struct held_backup *hb = arg;

	(void)done;
	(void)total;
	pthread_mutex_lock(&hb->mu);
	hb->started = 1;
	pthread_cond_broadcast(&hb->cv);
	while (!hb->release)
		pthread_cond_wait(&hb->cv, &hb->mu);
	pthread_mutex_unlock(&hb->mu);
}

static void *run_backup(void *arg)
{
	struct held_backup *hb = arg;

	hb->st = lk_backup(hb->db, hb->dest, hold_backup, hb);
	return NULL;
}

static void close_during_a_backup_is_misuse_and_the_backup_completes(void **state)
{
	struct fixture *fx = *state;
	struct held_backup hb = { 0 };
	char dest[160];
	pthread_t t;
	lk_db *copy;

	snprintf(dest, sizeof dest, "%s/copy", fx->root);
	CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "k", "v"));
	hb.db = fx->db;
	hb.dest = dest;
	pthread_mutex_init(&hb.mu, NULL);
	pthread_cond_init(&hb.cv, NULL);
	assert_int_equal(pthread_create(&t, NULL, run_backup, &hb), 0);
	pthread_mutex_lock(&hb.mu);
	while (!hb.started)
		pthread_cond_wait(&hb.cv, &hb.mu);
	pthread_mutex_unlock(&hb.mu);

	CHECK_ST(LK_MISUSE, lk_close(fx->db));
	CHECK_OK(lk_exists(fx->db, LK_NS_DEFAULT, "k", 1));

	pthread_mutex_lock(&hb.mu);
	hb.release = 1;
	pthread_cond_broadcast(&hb.cv);
	pthread_mutex_unlock(&hb.mu);
	assert_int_equal(pthread_join(t, NULL), 0);
	CHECK_OK(hb.st);
	CHECK_OK(lk_close(fx->db));
	fx->db = NULL;
	CHECK_OK(lk_open(&copy, dest, NULL));
	CHECK_OK(lk_exists(copy, LK_NS_DEFAULT, "k", 1));
	CHECK_OK(lk_close(copy));
	pthread_cond_destroy(&hb.cv);
	pthread_mutex_destroy(&hb.mu);
}

/* ---------------------------------------------------------------------- */
/* Sync modes                                                             */
/* ---------------------------------------------------------------------- */

static void sync_works_in_every_mode(void **state)
{
	struct fixture *fx = *state;
	const lk_sync_mode modes[] = { LK_SYNC_ALWAYS, LK_SYNC_INTERVAL,
				       LK_SYNC_NONE };
	lk_options opts = LK_OPTIONS_INIT;

	for (size_t i = 0; i < 3; i++) {
		opts.sync = modes[i];
		opts.sync_interval_ms = 50;
		CHECK_OK(reopen(fx, &opts));
		/* Nothing written yet: a sync is a no-op that succeeds. */
		CHECK_OK(lk_sync(fx->db));
		CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, "k", "v"));
		CHECK_OK(lk_sync(fx->db));
		CHECK_OK(lk_sync(fx->db));
	}
}

static void relaxed_sync_modes_read_their_writes_and_keep_them(void **state)
{
	struct fixture *fx = *state;
	const lk_sync_mode modes[] = { LK_SYNC_INTERVAL, LK_SYNC_NONE };
	lk_options opts = LK_OPTIONS_INIT;
	char key[32], value[32];

	for (size_t m = 0; m < 2; m++) {
		opts.sync = modes[m];
		opts.sync_interval_ms = 20;
		CHECK_OK(reopen(fx, &opts));
		for (int i = 0; i < 200; i++) {
			snprintf(key, sizeof key, "m%zu-k%d", m, i);
			snprintf(value, sizeof value, "v%d", i);
			CHECK_OK(put_str(fx->db, LK_NS_DEFAULT, key, value));
			/* Read your own write, before any sync. */
			EXPECT_VALUE(fx->db, LK_NS_DEFAULT, key, value);
		}
		CHECK_OK(del_str(fx->db, LK_NS_DEFAULT, "m0-k0"));
		if (modes[m] == LK_SYNC_INTERVAL) {
			/* Let the background syncer run a few times. */
			struct timespec nap = { 0, 100 * 1000 * 1000 };

			nanosleep(&nap, NULL);
		}
		CHECK_OK(reopen(fx, &opts));
		for (int i = 0; i < 200; i++) {
			snprintf(key, sizeof key, "m%zu-k%d", m, i);
			snprintf(value, sizeof value, "v%d", i);
			if (m == 0 && i == 0)
				EXPECT_ABSENT(fx->db, LK_NS_DEFAULT, key);
			else
				EXPECT_VALUE(fx->db, LK_NS_DEFAULT, key, value);
		}
	}
	/* And a default handle sees all of it. */
	CHECK_OK(reopen(fx, NULL));
	assert_int_equal(count_of(fx->db, LK_NS_DEFAULT), 399);
}

/* ---------------------------------------------------------------------- */
/* The table                                                              */
/* ---------------------------------------------------------------------- */

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* A layer passes the detail on: lk_fail(st, "%s", lk_errmsg()) read the
 * buffer it wrote (the review found the message came out empty). */
static void fail_may_pass_the_detail_on(void **state)
{
	char want[256];

	(void)state;
	CHECK_ST(LK_INVALID, lk_fail(LK_INVALID, "first %s %d", "detail", 42));
	snprintf(want, sizeof want, "%s", lk_errmsg());
	CHECK(strcmp(want, "first detail 42") == 0);
	CHECK_ST(LK_EXISTS, lk_fail(LK_EXISTS, "%s", lk_errmsg()));
	CHECK(strcmp(lk_errmsg(), want) == 0);
	CHECK_ST(LK_EXISTS, lk_fail(LK_EXISTS, "outer: %s", lk_errmsg()));
	CHECK(strcmp(lk_errmsg(), "outer: first detail 42") == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* put, get, delete, exists */
		cmocka_unit_test(fail_may_pass_the_detail_on),
		T(put_then_get_returns_the_value),
		T(get_of_absent_key_is_not_found),
		T(get_without_value_pointer_tests_existence),
		T(value_is_binary_safe_and_has_a_nul_after_it),
		T(empty_value_round_trips),
		T(null_value_with_a_length_is_invalid),
		T(overwrite_returns_the_newest_value),
		T(delete_then_get_is_not_found),
		T(delete_of_absent_key_is_ok),
		T(data_survives_close_and_reopen),
		/* batches */
		T(batch_applies_puts_and_deletes_together),
		T(batch_copies_keys_and_values),
		T(later_batch_operations_on_a_key_win),
		T(batch_count_and_clear),
		T(empty_batch_commit_is_ok),
		T(rejected_batch_operation_leaves_the_batch_as_it_was),
		/* limits and arguments */
		T(key_over_the_limit_is_too_big),
		T(value_over_the_limit_is_too_big),
		T(empty_or_null_key_is_invalid),
		T(namespace_zero_or_past_255_is_invalid),
		T(null_out_pointers_are_invalid),
		/* namespaces */
		T(default_namespace_is_named_default),
		T(ns_open_creates_a_namespace_that_survives_reopen),
		T(ns_name_of_an_unknown_id_is_not_found),
		T(ns_name_truncates_to_the_buffer),
		T(invalid_namespace_names_are_rejected),
		T(same_key_in_two_namespaces_is_two_records),
		/* iteration and counting */
		T(iteration_returns_every_live_key_once),
		T(iteration_of_an_empty_namespace_ends_at_once),
		T(iteration_filters_by_prefix),
		T(iteration_skips_deleted_keys_and_old_values),
		T(iteration_does_not_see_other_namespaces),
		T(iteration_does_not_see_later_writes),
		T(count_is_per_namespace),
		/* expiry */
		T(expired_record_is_never_returned),
		T(record_expiring_later_is_returned),
		/* large values */
		T(compressible_100k_value_round_trips),
		T(incompressible_64k_value_round_trips),
		T(values_around_the_compression_threshold_round_trip),
		/* read-only opens */
		T(readonly_open_refuses_writes_and_reads),
		T(readonly_open_changes_no_file),
		T(readonly_open_of_a_missing_directory_is_not_found),
		T(open_without_create_of_a_missing_directory_is_not_found),
		/* options */
		T(options_of_another_version_are_invalid),
		T(segment_size_below_the_minimum_is_invalid),
		T(unknown_flags_and_sync_modes_are_invalid),
		/* segments, stats, recovery report */
		T(small_segments_rotate_and_keep_every_record),
		T(stats_are_consistent),
		T(recovery_report_after_a_clean_reopen_counts_every_record),
		/* statuses and NULL handles */
		T(strerror_never_returns_null),
		T(errmsg_is_per_thread_and_empty_until_a_failure),
		T(close_of_null_is_ok),
		T(close_with_an_open_iterator_is_misuse_and_frees_nothing),
		T(close_during_a_backup_is_misuse_and_the_backup_completes),
		/* sync modes */
		T(sync_works_in_every_mode),
		T(relaxed_sync_modes_read_their_writes_and_keep_them),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
