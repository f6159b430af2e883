/* SPDX-License-Identifier: MIT */
/*
 * check.h - what every test shares: the one check macro family and the
 * temporary directories under /tmp.
 *
 *   CHECK_ST(want, expr)  expr must return the lk_status want;
 *   CHECK_OK(expr)        expr must return LK_OK;
 *   CHECK(cond)           cond must hold;
 *   CHECK_ST_WHY(want, expr, why), CHECK_OK_WHY(expr, why)
 *                         the same for calls that explain a rejection in
 *                         the const char * variable why: it is cleared
 *                         before the call and printed on failure.
 *
 * A failed check prints the file, the line, the expression, the status it
 * returned and the one wanted, both with lk_strerror(), and lk_errmsg();
 * then it fails the test through cmocka's fail() when cmocka.h was
 * included before this header, and calls abort() otherwise.  A file that
 * must end a failed run its own way defines CHECK_FAIL() before including
 * this header.
 *
 * make_temp_dir() makes a fresh directory /tmp/logkeep-test-NAME-XXXXXX
 * with mkdtemp(); remove_tree() removes a directory and everything under
 * it.
 *
 * Header-only, and it includes nothing but logkeep.h and libc, so that the
 * black-box tests, which see the public header only, can use it.
 */
#ifndef LK_CHECK_H
#define LK_CHECK_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "logkeep.h"

/* ---------------------------------------------------------------------- */
/* Checks                                                                 */
/* ---------------------------------------------------------------------- */

/* With cmocka, a failed check fails the test and its words go through
 * cmocka's output; without, they go to stderr and the run aborts. */
#ifdef cmocka_unit_test
#define CHECK_PRINT_ print_error
#ifndef CHECK_FAIL
#define CHECK_FAIL() fail()
#endif
#else
#define CHECK_PRINT_(...) fprintf(stderr, __VA_ARGS__)
#ifndef CHECK_FAIL
#define CHECK_FAIL() abort()
#endif
#endif

/* Prints what a failed status check says; whyp is NULL when the call
 * gives no reason of its own. */
static inline void check_report_status_(const char *file, int line,
					const char *expr, lk_status got,
					lk_status want,
					const char *const *whyp)
{
	CHECK_PRINT_("%s:%d: %s\n  returned %s (%d), wanted %s (%d)\n"
		     "  detail: %s\n",
		     file, line, expr, lk_strerror(got), (int)got,
		     lk_strerror(want), (int)want, lk_errmsg());
	if (whyp != NULL)
		CHECK_PRINT_("  why: %s\n", *whyp != NULL ? *whyp : "(none)");
}

/* The status checks in one.  text is expr as written: each public macro
 * stringizes its own argument, so that the message shows the names in
 * expr, not what they expand to.  whyp is NULL or the address of the
 * reason to clear before the call and print on failure. */
#define CHECK_ST_AT_(want, expr, text, whyp)                                   \
	do {                                                                   \
		lk_status check_want_ = (want), check_got_;                    \
		const char **check_whyp_ = (whyp);                             \
		if (check_whyp_ != NULL)                                       \
			*check_whyp_ = NULL;                                   \
		check_got_ = (expr);                                           \
		if (check_got_ != check_want_) {                               \
			check_report_status_(__FILE__, __LINE__, text,         \
					     check_got_, check_want_,          \
					     check_whyp_);                     \
			CHECK_FAIL();                                          \
		}                                                              \
	} while (0)

#define CHECK_ST(want, expr) CHECK_ST_AT_(want, expr, #expr, NULL)
#define CHECK_OK(expr) CHECK_ST_AT_(LK_OK, expr, #expr, NULL)
#define CHECK_ST_WHY(want, expr, why) CHECK_ST_AT_(want, expr, #expr, &(why))
#define CHECK_OK_WHY(expr, why) CHECK_ST_AT_(LK_OK, expr, #expr, &(why))

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			CHECK_PRINT_("%s:%d: check failed: %s\n"               \
				     "  detail: %s\n",                         \
				     __FILE__, __LINE__, #cond, lk_errmsg());  \
			CHECK_FAIL();                                          \
		}                                                              \
	} while (0)

/* ---------------------------------------------------------------------- */
/* Temporary directories                                                  */
/* ---------------------------------------------------------------------- */

/* Makes a fresh directory /tmp/logkeep-test-<name>-XXXXXX and leaves its
 * path in buf.  Returns 0, or -1 (with perror()) if it could not. */
static inline int make_temp_dir(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "/tmp/logkeep-test-%s-XXXXXX", name);

	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "make_temp_dir: name too long: %s\n", name);
		return -1;
	}
	if (mkdtemp(buf) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	return 0;
}

/* Removes path and everything under it (the tests make no links to
 * follow: a link is removed, not its target).  Returns 0 if path is gone,
 * -1 if something could not be removed. */
static inline int remove_tree(const char *path)
{
	char child[512];
	struct dirent *entry;
	struct stat st;
	DIR *d;
	int n, rc = 0;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == 0 ? 0 : -1;
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((entry = readdir(d)) != NULL) {
		if (strcmp(entry->d_name, ".") == 0 ||
		    strcmp(entry->d_name, "..") == 0)
			continue;
		n = snprintf(child, sizeof child, "%s/%s", path,
			     entry->d_name);
		if (n < 0 || (size_t)n >= sizeof child ||
		    remove_tree(child) != 0)
			rc = -1;
	}
	closedir(d);
	if (rmdir(path) != 0)
		rc = -1;
	return rc;
}

#endif /* LK_CHECK_H */
