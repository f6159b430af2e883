/* SPDX-License-Identifier: MIT */
/*
 * contract.c - what a broken LK_ASSERT does (contract.h): says where, to
 * stderr, and aborts, so that a core dump or a sanitizer report keeps the
 * stack.
 */
#include <stdio.h>
#include <stdlib.h>

#include "contract.h"

void contract_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "logkeep: %s:%d: contract broken: %s\n", file, line,
		expr);
	fflush(stderr);
	abort();
}
