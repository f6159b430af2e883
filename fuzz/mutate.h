/* SPDX-License-Identifier: MIT */
/*
 * mutate.h - the standalone driver's mutation mode (mutate.c): a plain
 * random mutator that fuzzes a target without libFuzzer, so that every
 * build fuzzes, the cross builds under qemu-user too.  standalone.c loads
 * the inputs and parses the command line; mutate_main() does the rest.
 */
#ifndef LK_FUZZ_MUTATE_H
#define LK_FUZZ_MUTATE_H

#include <stddef.h>
#include <stdint.h>

/* One input of the pool; data is malloc'd (never NULL, even when len is
 * 0). */
struct mutate_input {
	uint8_t *data;
	size_t len;
};

struct mutate_options {
	uint64_t seconds;    /* --mutate: run until this many have passed;
				0: no limit (then runs_max is not 0) */
	uint64_t runs_max;   /* --runs: stop after this many runs; 0 none */
	uint64_t seed;       /* --seed */
	int seed_given;      /* else the seed comes from the clock */
	const char *out_dir; /* --out: the current input goes in
				out_dir/current (out_dir made if missing);
				NULL: $TMPDIR or /tmp */
	const char *prog;    /* argv[0], for the file's name and messages */
};

/* Fuzzes with the n inputs given (n >= 1), taking them over (it frees
 * them).  Returns the process's exit status: 0 when every run passed, 1
 * when the current-input file cannot be written.  A failing run does not
 * return: the target aborts (or a sanitizer or a signal ends the
 * process), after a line that names the run, the seed and the file. */
int mutate_main(const struct mutate_options *o, struct mutate_input *inputs,
		size_t n);

#endif /* LK_FUZZ_MUTATE_H */
