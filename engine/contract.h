/* SPDX-License-Identifier: MIT */
/*
 * contract.h - assertions that stay on in every build, for the engine's
 * preconditions, postconditions and invariants (STYLE.md: programmer
 * errors assert, operating errors return a status; never assert on bytes
 * from disk).
 *
 * <assert.h> disappears under NDEBUG, which a release build of an
 * embedding project may well set; LK_ASSERT does not.  A failed one
 * prints the file, the line and the expression, and aborts: a broken
 * contract inside a storage engine is safer stopped than continued.
 * Each costs a predictable branch; bench/ measures the whole engine with
 * them (README, Performance).
 */
#ifndef LK_CONTRACT_H
#define LK_CONTRACT_H

#if defined(__GNUC__)
#define LK_LIKELY(x) __builtin_expect(!!(x), 1)
#define LK_NORETURN __attribute__((noreturn))
/* A few bytes of thread-local state read on every call (lock ranks, the
 * error serial): without it a shared library reaches them through
 * __tls_get_addr, a third of a get's bookkeeping (callgrind). */
#define LK_TLS_FAST __attribute__((tls_model("initial-exec")))
#else
#define LK_LIKELY(x) (x)
#define LK_NORETURN
#define LK_TLS_FAST
#endif

/* Prints "logkeep: FILE:LINE: contract broken: EXPR" and aborts
 * (contract.c), so that a core dump or a sanitizer report keeps the
 * stack. */
LK_NORETURN void contract_fail(const char *file, int line, const char *expr);

#define LK_ASSERT(cond)                                                        \
	((void)(LK_LIKELY(cond) ? 0                                            \
				: (contract_fail(__FILE__, __LINE__, #cond),   \
				   0)))

#endif /* LK_CONTRACT_H */
