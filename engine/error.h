/* SPDX-License-Identifier: MIT */
/*
 * error.h - the thread's error detail behind lk_errmsg(), and the one place
 * that formats it.  A leaf module: everything may use it.
 */
#ifndef LK_ERROR_H
#define LK_ERROR_H

#include <stdint.h>

#include "logkeep.h"

#define LK_ERRMSG_BYTES 256

/* Formats the detail of a failure and returns `status`, so a caller can
 * write `return err_set(LK_CORRUPT, "segment %llu ...", ...);`.
 * status must not be LK_OK. */
lk_status err_set(lk_status status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefixes the current detail with "<context>: ". */
void err_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void err_clear(void);

/* How many details this thread has set (err_set, err_prefix, lk_io_fail):
 * a call that failed has set one if the count moved. */
uint64_t err_serial(void);

#endif /* LK_ERROR_H */
