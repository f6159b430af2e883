/* SPDX-License-Identifier: MIT */
/*
 * error.c - lk_strerror() and the thread-local detail behind lk_errmsg().
 *
 * The detail is thread-local, like errno, so that threads sharing a handle
 * never read each other's messages and lk_open() can explain a failure
 * before there is a handle to hang it on.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "contract.h"
#include "error.h"
#include "logkeep_io.h"

static _Thread_local char detail[LK_ERRMSG_BYTES];
static LK_TLS_FAST _Thread_local uint64_t detail_serial; /* details set
							      so far */

const char *lk_strerror(lk_status status)
{
	switch (status) {
	case LK_OK: return "ok";
	case LK_NOT_FOUND: return "not found";
	case LK_INVALID: return "invalid argument";
	case LK_MISUSE: return "misuse of the API";
	case LK_CORRUPT: return "data is corrupt";
	case LK_IO: return "I/O error";
	case LK_NOSPACE: return "no space left on device";
	case LK_BUSY: return "busy: another writer holds the directory";
	case LK_NOMEM: return "out of memory";
	case LK_READONLY: return "handle is read-only";
	case LK_HALTED: return "writes halted after a failed sync: reopen";
	case LK_TOO_BIG: return "limit exceeded";
	case LK_EXISTS: return "already exists";
	case LK_VERSION: return "unsupported format version";
	case LK_CONFLICT: return "a condition of the batch does not hold";
	}
	return "unknown status";
}

const char *lk_errmsg(void)
{
	return detail;
}

/* Formats into a copy first: an argument may be lk_errmsg() itself (a
 * layer passing the detail on), and vsnprintf must not read the buffer it
 * writes. */
static void detail_vset(const char *fmt, va_list ap)
{
	char tmp[LK_ERRMSG_BYTES];

	vsnprintf(tmp, sizeof tmp, fmt, ap);
	memcpy(detail, tmp, sizeof detail);
	detail_serial++;
}

lk_status err_set(lk_status status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	detail_vset(fmt, ap);
	va_end(ap);
	return status;
}

/* The same for layers built on the public API (the mesh layer), and for
 * the I/O tables of embedders (logkeep_io.h), who see no error.h. */
lk_status lk_fail(lk_status status, const char *fmt, ...)
{
	va_list ap;

	LK_ASSERT(status != LK_OK);
	va_start(ap, fmt);
	detail_vset(fmt, ap);
	va_end(ap);
	return status;
}

lk_status lk_io_fail(lk_status status, const char *fmt, ...)
{
	va_list ap;

	LK_ASSERT(status != LK_OK);
	va_start(ap, fmt);
	detail_vset(fmt, ap);
	va_end(ap);
	return status;
}

uint64_t err_serial(void)
{
	return detail_serial;
}

void err_prefix(const char *fmt, ...)
{
	char old[LK_ERRMSG_BYTES];
	va_list ap;
	int n;

	memcpy(old, detail, sizeof old);
	detail_serial++;
	va_start(ap, fmt);
	n = vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	/* The old detail goes after the context, cut to what still fits. */
	if (n >= 0 && (size_t)n + 2 < sizeof detail)
		snprintf(detail + n, sizeof detail - (size_t)n, ": %.*s",
			 (int)(sizeof detail - (size_t)n - 3), old);
}

void err_clear(void)
{
	detail[0] = '\0';
}
