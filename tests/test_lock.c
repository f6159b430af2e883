/* SPDX-License-Identifier: MIT */
/*
 * test_lock.c - one writing handle per data directory (logkeep.h Caveats,
 * SPEC §7), in this process and in others; read-only handles take no lock.
 *
 * Goal: a second writer gets LK_BUSY at once, whether it is in the same
 * process or in another, for as long as the first writer's handle is open,
 * and nothing but closing that handle lets another writer in: not closing
 * a read-only handle of the same directory, not a refused second open.
 * (fcntl() locks are per process and dropped by closing *any* descriptor
 * of the file, which is exactly how those two would go wrong.)
 *
 * Method: black box, logkeep.h only.  Each test gets a fresh mkdtemp()
 * directory under /tmp with a writer open on its subdirectory "db"; the
 * teardown closes every handle and removes the tree.  Another process is
 * made two ways:
 *  - fork() alone, as the brief of a mesh daemon would: the child calls
 *    lk_open() and exits with the status as its exit code.  A forked child
 *    inherits the parent's memory, so it also inherits any bookkeeping the
 *    library keeps about the locks this process holds;
 *  - fork() and exec() of this very program with "--try-open DIR", a
 *    fresh process that knows nothing but what the kernel says.  Only that
 *    one proves the lock is held in the kernel.
 * A child holding the lock while the parent tries is driven over pipes.
 * Statuses are checked with check.h's CHECK_ST(want, expr) and
 * CHECK_OK(expr), which on failure print the file, line, expression, both
 * statuses and lk_errmsg().
 */
#include <errno.h>
#include <setjmp.h>
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

/* ---------------------------------------------------------------------- */
/* The fixture                                                            */
/* ---------------------------------------------------------------------- */

static const char *self_exe = "/proc/self/exe";

struct fixture {
	char root[64];   /* the mkdtemp() directory */
	char path[128];  /* the data directory, root/db */
	lk_db *writer;   /* the first writer, open on path, or NULL */
	lk_db *other;    /* a second handle a test opened, or NULL */
};

static int setup(void **state)
{
	static struct fixture fx;
	lk_status st;

	memset(&fx, 0, sizeof fx);
	if (make_temp_dir(fx.root, sizeof fx.root, "lock") != 0)
		return -1;
	snprintf(fx.path, sizeof fx.path, "%s/db", fx.root);
	st = lk_open(&fx.writer, fx.path, NULL);
	if (st == LK_OK)
		st = lk_put(fx.writer, LK_NS_DEFAULT, "k", 1, "v1", 2, 0);
	if (st != LK_OK) {
		print_error("setup: %s: %s\n", lk_strerror(st), lk_errmsg());
		return -1;
	}
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	lk_status a = lk_close(fx->other), b = lk_close(fx->writer);

	fx->other = fx->writer = NULL;
	remove_tree(fx->root);
	return a == LK_OK && b == LK_OK ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* Other processes                                                        */
/* ---------------------------------------------------------------------- */

/* The status a child reported as its exit code, or -1 if it died. */
static int wait_status(pid_t pid)
{
	int ws;

	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(ws))
		return -1;
	return WEXITSTATUS(ws);
}

/* What a writable open does in a process made by fork() alone.  The child
 * never touches the parent's handles and leaves with _exit(), so that it
 * runs none of the parent's atexit work. */
static int open_in_forked_child(const char *path)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		lk_db *db = NULL;
		lk_status st = lk_open(&db, path, NULL);

		if (st == LK_OK)
			st = lk_close(db);
		_exit((int)st);
	}
	return wait_status(pid);
}

/* What a writable open does in a fresh process: this program exec()ed
 * with "--try-open DIR" (see main).  In a cross build run under
 * qemu-user (.ci/cross/), the kernel cannot exec this binary: meson test
 * sets MESON_EXE_WRAPPER, and the host's sh runs it through that. */
static int open_in_fresh_process(const char *path)
{
	const char *wrapper = getenv("MESON_EXE_WRAPPER");
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (wrapper != NULL && wrapper[0] != '\0')
			execl("/bin/sh", "sh", "-c",
			      "eval \"exec $MESON_EXE_WRAPPER \\\"\\$0\\\" "
			      "\\\"\\$@\\\"\"",
			      self_exe, "--try-open", path, (char *)NULL);
		else
			execl(self_exe, self_exe, "--try-open", path,
			      (char *)NULL);
		_exit(120);
	}
	return wait_status(pid);
}

/* The child side of --try-open. */
static int try_open_main(const char *path)
{
	lk_db *db = NULL;
	lk_status st = lk_open(&db, path, NULL);

	if (st == LK_OK)
		st = lk_close(db);
	else if (st != LK_BUSY)
		fprintf(stderr, "--try-open %s: %s: %s\n", path,
			lk_strerror(st), lk_errmsg());
	return (int)st;
}

/* A forked child that opens path for writing, writes key "child", reports
 * the status of the open on *ready, and closes when the parent writes to
 * *go (or closes it). */
struct holder {
	pid_t pid;
	int ready; /* read end: one byte, the open's status */
	int go;    /* write end */
};

static void holder_start(struct holder *h, const char *path)
{
	int to_parent[2], to_child[2];

	assert_int_equal(pipe(to_parent), 0);
	assert_int_equal(pipe(to_child), 0);
	h->pid = fork();
	assert_true(h->pid >= 0);
	if (h->pid == 0) {
		lk_db *db = NULL;
		lk_status st;
		unsigned char byte;
		char c;

		close(to_parent[0]);
		close(to_child[1]);
		st = lk_open(&db, path, NULL);
		if (st == LK_OK)
			st = lk_put(db, LK_NS_DEFAULT, "child", 5, "was here", 8,
				    0);
		byte = (unsigned char)st;
		if (write(to_parent[1], &byte, 1) != 1)
			_exit(121);
		while (read(to_child[0], &c, 1) < 0 && errno == EINTR)
			;
		if (db)
			st = lk_close(db);
		_exit((int)st);
	}
	close(to_parent[1]);
	close(to_child[0]);
	h->ready = to_parent[0];
	h->go = to_child[1];
}

static lk_status holder_wait_ready(struct holder *h)
{
	unsigned char byte = 255;

	assert_int_equal(read(h->ready, &byte, 1), 1);
	return (lk_status)byte;
}

/* Lets the holder close its handle and exit; returns its exit code. */
static int holder_finish(struct holder *h)
{
	assert_int_equal(write(h->go, "x", 1), 1);
	close(h->go);
	close(h->ready);
	return wait_status(h->pid);
}

/* ---------------------------------------------------------------------- */
/* The tests                                                              */
/* ---------------------------------------------------------------------- */

static void second_writer_in_this_process_is_busy_until_the_first_closes(void **state)
{
	struct fixture *fx = *state;
	lk_db *db = (lk_db *)fx;

	CHECK_ST(LK_BUSY, lk_open(&db, fx->path, NULL));
	assert_null(db);
	/* The detail names the directory. */
	assert_non_null(strstr(lk_errmsg(), fx->path));
	/* Asking again changes nothing. */
	CHECK_ST(LK_BUSY, lk_open(&db, fx->path, NULL));
	/* The first writer is unharmed. */
	CHECK_OK(lk_put(fx->writer, LK_NS_DEFAULT, "k", 1, "v2", 2, 0));

	CHECK_OK(lk_close(fx->writer));
	fx->writer = NULL;
	CHECK_OK(lk_open(&fx->other, fx->path, NULL));
	CHECK_OK(lk_exists(fx->other, LK_NS_DEFAULT, "k", 1));
	/* And now the new one is the writer that excludes others. */
	CHECK_ST(LK_BUSY, lk_open(&db, fx->path, NULL));
}

static void readonly_open_while_a_writer_holds_the_directory_is_ok(void **state)
{
	struct fixture *fx = *state;
	lk_options ro = LK_OPTIONS_INIT;
	void *value = NULL;
	size_t len = 0;

	ro.flags = LK_OPEN_READONLY;
	CHECK_OK(lk_open(&fx->other, fx->path, &ro));
	CHECK_OK(lk_get(&value, &len, fx->other, LK_NS_DEFAULT, "k", 1));
	assert_int_equal(len, 2);
	assert_memory_equal(value, "v1", 2);
	lk_free(value);
	CHECK_ST(LK_READONLY,
		 lk_put(fx->other, LK_NS_DEFAULT, "x", 1, "y", 1, 0));
	/* The writer goes on writing while the reader is open. */
	CHECK_OK(lk_put(fx->writer, LK_NS_DEFAULT, "k2", 2, "v", 1, 0));
	CHECK_OK(lk_close(fx->other));
	fx->other = NULL;
	/* So does a reader in another process. */
	{
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			lk_db *db = NULL;
			lk_status st = lk_open(&db, fx->path, &ro);

			if (st == LK_OK)
				st = lk_exists(db, LK_NS_DEFAULT, "k2", 2);
			if (st == LK_OK)
				st = lk_close(db);
			_exit((int)st);
		}
		assert_int_equal(wait_status(pid), LK_OK);
	}
}

static void second_writer_in_a_forked_process_is_busy(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(open_in_forked_child(fx->path), LK_BUSY);
	CHECK_OK(lk_put(fx->writer, LK_NS_DEFAULT, "k", 1, "v2", 2, 0));
	CHECK_OK(lk_close(fx->writer));
	fx->writer = NULL;
	assert_int_equal(open_in_forked_child(fx->path), LK_OK);
}

static void second_writer_in_a_fresh_process_is_busy(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(open_in_fresh_process(fx->path), LK_BUSY);
	CHECK_OK(lk_close(fx->writer));
	fx->writer = NULL;
	assert_int_equal(open_in_fresh_process(fx->path), LK_OK);
}

static void closing_a_readonly_handle_keeps_the_writers_lock(void **state)
{
	struct fixture *fx = *state;
	lk_options ro = LK_OPTIONS_INIT;
	lk_db *db = NULL;

	ro.flags = LK_OPEN_READONLY;
	for (int i = 0; i < 2; i++) {
		CHECK_OK(lk_open(&fx->other, fx->path, &ro));
		CHECK_OK(lk_exists(fx->other, LK_NS_DEFAULT, "k", 1));
		CHECK_OK(lk_close(fx->other));
		fx->other = NULL;

		CHECK_ST(LK_BUSY, lk_open(&db, fx->path, NULL));
		assert_null(db);
		assert_int_equal(open_in_forked_child(fx->path), LK_BUSY);
		assert_int_equal(open_in_fresh_process(fx->path), LK_BUSY);
	}
	CHECK_OK(lk_put(fx->writer, LK_NS_DEFAULT, "k", 1, "v2", 2, 0));
}

static void refused_second_writer_keeps_the_first_writers_lock(void **state)
{
	struct fixture *fx = *state;
	lk_db *db = NULL;

	for (int i = 0; i < 3; i++)
		CHECK_ST(LK_BUSY, lk_open(&db, fx->path, NULL));
	assert_int_equal(open_in_fresh_process(fx->path), LK_BUSY);
	assert_int_equal(open_in_forked_child(fx->path), LK_BUSY);
}

static void writer_in_another_process_makes_this_one_busy(void **state)
{
	struct fixture *fx = *state;
	lk_options ro = LK_OPTIONS_INIT;
	struct holder h;
	lk_db *db = NULL;

	CHECK_OK(lk_close(fx->writer));
	fx->writer = NULL;
	holder_start(&h, fx->path);
	CHECK_OK(holder_wait_ready(&h));

	CHECK_ST(LK_BUSY, lk_open(&db, fx->path, NULL));
	assert_null(db);
	assert_int_equal(open_in_fresh_process(fx->path), LK_BUSY);
	/* Reading while the other process writes is fine. */
	ro.flags = LK_OPEN_READONLY;
	CHECK_OK(lk_open(&fx->other, fx->path, &ro));
	CHECK_OK(lk_exists(fx->other, LK_NS_DEFAULT, "k", 1));
	CHECK_OK(lk_close(fx->other));
	fx->other = NULL;
	CHECK_ST(LK_BUSY, lk_open(&db, fx->path, NULL));

	/* Once it has closed, the directory is ours, with its write. */
	assert_int_equal(holder_finish(&h), LK_OK);
	CHECK_OK(lk_open(&fx->writer, fx->path, NULL));
	CHECK_OK(lk_exists(fx->writer, LK_NS_DEFAULT, "child", 5));
}

static void lock_of_a_process_that_exits_without_closing_is_released(void **state)
{
	struct fixture *fx = *state;
	pid_t pid;

	CHECK_OK(lk_close(fx->writer));
	fx->writer = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		lk_db *db = NULL;
		lk_status st = lk_open(&db, fx->path, NULL);

		if (st == LK_OK)
			st = lk_put(db, LK_NS_DEFAULT, "crash", 5, "x", 1, 0);
		_exit((int)st); /* no lk_close: as if it crashed */
	}
	assert_int_equal(wait_status(pid), LK_OK);
	CHECK_OK(lk_open(&fx->writer, fx->path, NULL));
	CHECK_OK(lk_exists(fx->writer, LK_NS_DEFAULT, "crash", 5));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			second_writer_in_this_process_is_busy_until_the_first_closes,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			readonly_open_while_a_writer_holds_the_directory_is_ok,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			second_writer_in_a_forked_process_is_busy, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			second_writer_in_a_fresh_process_is_busy, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			closing_a_readonly_handle_keeps_the_writers_lock, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			refused_second_writer_keeps_the_first_writers_lock,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			writer_in_another_process_makes_this_one_busy, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			lock_of_a_process_that_exits_without_closing_is_released,
			setup, teardown),
	};

	if (argc == 3 && strcmp(argv[1], "--try-open") == 0)
		return try_open_main(argv[2]);
	if (access(self_exe, X_OK) != 0 || getenv("MESON_EXE_WRAPPER"))
		self_exe = argv[0]; /* under a wrapper, /proc/self/exe is sh */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
