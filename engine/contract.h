/* SPDX-License-Identifier: MIT */
/*
 * contract.h - LK_ASSERT, the engine's assertion that stays on in release
 * builds (NDEBUG does not remove it), for preconditions, postconditions
 * and invariants: a programmer's error, never bytes from disk or a
 * caller's input, which return a status instead (STYLE.md).  A failed
 * assertion prints the file, line and expression to stderr and aborts.
 * A leaf module: everything may use it.
 */
#ifndef LK_CONTRACT_H
#define LK_CONTRACT_H

/* Never returns. */
_Noreturn void contract_fail(const char *file, int line, const char *expr);

#define LK_ASSERT(expr)                                                       \
	((expr) ? (void)0 : contract_fail(__FILE__, __LINE__, #expr))

#endif /* LK_CONTRACT_H */
