/* SPDX-License-Identifier: MIT */
/*
 * standalone.c - a plain main() for the fuzz targets, after libgit2's
 * fuzzers/standalone_driver.c: it runs LLVMFuzzerTestOneInput() once on
 * every file named on the command line and on every regular file in the
 * directories named there (not recursively, in name order, dot files
 * skipped), so that `meson test --suite fuzz-replay` replays the corpora
 * and the saved regressions with any compiler and without libFuzzer.
 *
 * A failed property aborts the process, which fails the test; the name
 * of each input is printed before it runs so that the log says which one.
 * Exit status: 0 when every input ran, 1 when an argument could not be
 * read or named no input at all.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Corpus files are small; this only stops a stray argument from making
 * the replayer read a disk image into memory. */
#define INPUT_BYTES_MAX (64u * 1024u * 1024u)

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t got;

		if (len == cap) {
			uint8_t *p;

			cap = cap ? cap * 2 : 4096;
			if (cap > INPUT_BYTES_MAX) {
				fprintf(stderr, "%s: larger than %u bytes\n",
					path, INPUT_BYTES_MAX);
				goto fail;
			}
			p = realloc(buf, cap);
			if (!p) {
				fprintf(stderr, "%s: out of memory\n", path);
				goto fail;
			}
			buf = p;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", path);
		goto fail;
	}
	fclose(f);
	printf("running %s (%zu bytes)\n", path, len);
	fflush(stdout);
	/* buf is never NULL here, even for an empty file, as with libFuzzer. */
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;

fail:
	fclose(f);
	free(buf);
	return -1;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of directory `path`; returns how many, or -1. */
static int run_dir(const char *path)
{
	DIR *dir = opendir(path);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	int ran = 0;

	if (!dir) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **p;

			cap = cap ? cap * 2 : 64;
			p = realloc(names, cap * sizeof *names);
			if (!p)
				goto fail;
			names = p;
		}
		names[n] = malloc(strlen(path) + strlen(e->d_name) + 2);
		if (!names[n])
			goto fail;
		sprintf(names[n], "%s/%s", path, e->d_name);
		n++;
	}
	closedir(dir);
	dir = NULL;
	if (n)
		qsort(names, n, sizeof *names, name_cmp);
	for (size_t i = 0; i < n && ran >= 0; i++) {
		struct stat st;

		if (stat(names[i], &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		ran = run_file(names[i]) == 0 ? ran + 1 : -1;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ran;

fail:
	fprintf(stderr, "%s: out of memory\n", path);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (dir)
		closedir(dir);
	return -1;
}

int main(int argc, char **argv)
{
	int total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n"
				"Runs the fuzz target once on each file.\n",
			argv[0]);
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		int ran;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		ran = S_ISDIR(st.st_mode) ? run_dir(argv[i])
					  : (run_file(argv[i]) == 0 ? 1 : -1);
		if (ran < 0)
			return 1;
		if (ran == 0) {
			fprintf(stderr, "%s: no inputs\n", argv[i]);
			return 1;
		}
		total += ran;
	}
	printf("%d inputs ran\n", total);
	return 0;
}
