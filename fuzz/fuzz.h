/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what the fuzz targets share with their two drivers: libFuzzer
 * (clang -fsanitize=fuzzer, built with -Dfuzzing=true) and standalone.c,
 * the plain replayer that `meson test --suite fuzz-replay` runs over the
 * checked-in corpora with any compiler, and whose --mutate mode
 * (mutate.c) fuzzes without libFuzzer.
 *
 * A target checks properties with FUZZ_CHECK, never with assert(): the
 * properties must hold whatever the input and whatever NDEBUG says, and a
 * failed one must abort so that libFuzzer, the sanitizers and the mutate
 * mode keep the input.  The engine's own assertions (the encoder asserting what the
 * decoder verified, for one) are checks too.
 */
#ifndef LK_FUZZ_H
#define LK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "logkeep.h"

/* Every target defines it; libFuzzer or standalone.c call it once per
 * input.  Returns 0 (libFuzzer reserves other values). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The database id of the segment headers the targets forge, and the
 * clock the memory file system is set to, so that a run does not depend
 * on the day: 2023-11-14T22:13:20Z.  The corpus generator used the same. */
#define FUZZ_DB_ID "logkeep-fuzz-db!"
#define FUZZ_NOW_MS UINT64_C(1700000000000)

#define FUZZ_CHECK(cond)                                                      \
	do {                                                                  \
		if (!(cond))                                                  \
			fuzz_fail(__FILE__, __LINE__, #cond);                 \
	} while (0)

static inline _Noreturn void fuzz_fail(const char *file, int line,
				       const char *what)
{
	fprintf(stderr, "%s:%d: fuzz check failed: %s (lk_errmsg: \"%s\")\n",
		file, line, what, lk_errmsg());
	abort();
}

#endif /* LK_FUZZ_H */
