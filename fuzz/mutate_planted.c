/* SPDX-License-Identifier: MIT */
/*
 * mutate_planted.c - a fuzz target with a planted bug, for mutate_test.sh
 * alone: its one property fails on any input that holds the four bytes
 * 7f ff ff ff (0x7fffffff written big-endian), which none of the test's
 * seeds does.  The mutate mode writes such integers (mutate.c), so it must
 * find this within a few thousand runs, exit by the abort, and leave the
 * input on disk.  Not a target of the engine: nothing here is fuzzed.
 */
#include <string.h>

#include "fuzz.h"

static int holds_planted(const uint8_t *data, size_t size)
{
	static const uint8_t planted[4] = { 0x7f, 0xff, 0xff, 0xff };

	for (size_t i = 0; i + sizeof planted <= size; i++)
		if (memcmp(data + i, planted, sizeof planted) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_CHECK(!holds_planted(data, size));
	return 0;
}
