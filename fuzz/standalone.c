/* SPDX-License-Identifier: MIT */
/*
 * standalone.c - a plain main() for the fuzz targets, after libgit2's
 * fuzzers/standalone_driver.c, in two modes:
 *
 *   fuzz_<target>_replay FILE|DIR...
 *       runs LLVMFuzzerTestOneInput() once on every file named on the
 *       command line and on every regular file in the directories named
 *       there (not recursively, in name order, dot files skipped), so that
 *       `meson test --suite fuzz-replay` replays the corpora and the saved
 *       regressions with any compiler and without libFuzzer.  The name of
 *       each input is printed before it runs so that the log says which
 *       one failed.
 *
 *   fuzz_<target>_replay --mutate SECONDS [--seed N] [--runs N]
 *                        [--out DIR] FILE|DIR...
 *       loads the same inputs and fuzzes the target with them for SECONDS
 *       (0: no limit) or N runs: a plain random mutator (mutate.c), so
 *       that the builds libFuzzer does not reach (armhf and s390x under
 *       qemu-user, .ci/cross.sh) fuzz too.  The input of each run is
 *       written to DIR/current first (DIR made if missing; without --out
 *       $TMPDIR/<program>-<pid>.current); it stays there when the run
 *       fails.
 *
 * A failed property aborts the process, which fails the test.  Exit
 * status: 0 when every input ran, 1 when an argument was wrong, could not
 * be read or named no input at all (or, mutating, the current-input file
 * could not be written).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "mutate.h"

/* Corpus files are small; this only stops a stray argument from making
 * the replayer read a disk image into memory. */
#define INPUT_BYTES_MAX (64u * 1024u * 1024u)

/* What is done with each input file, once read: it is handed the file's
 * bytes (a malloc'd buffer, never NULL, that it takes over) and returns
 * 0, or -1 to stop. */
struct visit {
	int (*fn)(struct visit *v, const char *path, uint8_t *buf,
		  size_t len);
	struct mutate_input *inputs; /* mutating: the inputs loaded */
	size_t n, cap;
};

/* Replay mode: runs the target on it, once. */
static int replay_one(struct visit *v, const char *path, uint8_t *buf,
		      size_t len)
{
	(void)v;
	printf("running %s (%zu bytes)\n", path, len);
	fflush(stdout);
	/* buf is never NULL here, even for an empty file, as with libFuzzer. */
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

/* Mutation mode: keeps it for mutate_main(). */
static int load_one(struct visit *v, const char *path, uint8_t *buf,
		    size_t len)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct mutate_input *p = realloc(v->inputs, cap * sizeof *p);

		if (!p) {
			fprintf(stderr, "%s: out of memory\n", path);
			free(buf);
			return -1;
		}
		v->inputs = p;
		v->cap = cap;
	}
	v->inputs[v->n].data = buf;
	v->inputs[v->n].len = len;
	v->n++;
	return 0;
}

static int run_file(struct visit *v, const char *path)
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
	return v->fn(v, path, buf, len);

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
static int run_dir(struct visit *v, const char *path)
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
		ran = run_file(v, names[i]) == 0 ? ran + 1 : -1;
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

static int usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s FILE|DIR...\n"
		"       %s --mutate SECONDS [--seed N] [--runs N] [--out DIR] "
		"FILE|DIR...\n"
		"Runs the fuzz target once on each file, or fuzzes it with "
		"them for SECONDS\n"
		"(0: no limit but --runs) or N runs (fuzz/README.md).\n",
		prog, prog);
	return 1;
}

/* A whole number for an option; -1 when it is none. */
static int parse_u64(const char *opt, const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	if (!s || *s < '0' || *s > '9')
		goto bad;
	*out = strtoull(s, &end, 0);
	if (errno || *end)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "%s: not a whole number: %s\n", opt, s ? s : "");
	return -1;
}

int main(int argc, char **argv)
{
	struct mutate_options mo = { .prog = argv[0] };
	struct visit v = { .fn = replay_one };
	int total = 0, i = 1, mutating = 0;

	/* Each option takes its argument: two words a turn. */
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		const char *opt = argv[i];
		const char *arg = i + 1 < argc ? argv[i + 1] : NULL;
		int bad;

		if (strcmp(opt, "--mutate") == 0) {
			mutating = 1;
			bad = parse_u64(opt, arg, &mo.seconds);
		} else if (strcmp(opt, "--seed") == 0) {
			mo.seed_given = 1;
			bad = parse_u64(opt, arg, &mo.seed);
		} else if (strcmp(opt, "--runs") == 0) {
			bad = parse_u64(opt, arg, &mo.runs_max);
		} else if (strcmp(opt, "--out") == 0 && arg) {
			mo.out_dir = arg;
			bad = 0;
		} else {
			return usage(argv[0]);
		}
		if (bad)
			return 1;
	}
	if (i == argc || (!mutating && i > 1) ||
	    (mutating && mo.seconds == 0 && mo.runs_max == 0))
		return usage(argv[0]);
	if (mutating)
		v.fn = load_one;
	for (; i < argc; i++) {
		struct stat st;
		int ran;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			goto fail;
		}
		if (S_ISDIR(st.st_mode))
			ran = run_dir(&v, argv[i]);
		else
			ran = run_file(&v, argv[i]) == 0 ? 1 : -1;
		if (ran < 0)
			goto fail;
		if (ran == 0) {
			fprintf(stderr, "%s: no inputs\n", argv[i]);
			goto fail;
		}
		total += ran;
	}
	if (mutating)
		return mutate_main(&mo, v.inputs, v.n);
	printf("%d inputs ran\n", total);
	return 0;

fail:
	for (size_t k = 0; k < v.n; k++)
		free(v.inputs[k].data);
	free(v.inputs);
	return 1;
}
