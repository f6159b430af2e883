/* SPDX-License-Identifier: MIT */
/*
 * value.h - the mesh layer's value and key encoding (value.c): a growing
 * writer and a bounded reader of the few field kinds its values use.
 *
 * Every value starts with a version byte (MESH_VALUE_V1).  Integers are
 * little-endian and fixed-width; strings are a length (u8 or u16, as the
 * field's limit needs) and that many bytes, no NUL.  Keys that must sort
 * or be built from parts put integers big-endian (key_put_be*).  A reader
 * never reads past its end: a short value, or a length past the field's
 * limit, stops it with a message naming the field, and every later read
 * returns zeroes, so a decoder checks once, at the end.
 */
#ifndef LK_MESH_VALUE_H
#define LK_MESH_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "logkeep.h"

#define MESH_VALUE_V1 1u

struct mbuf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

void mbuf_init(struct mbuf *b);
void mbuf_free(struct mbuf *b);
void mbuf_bytes(struct mbuf *b, const void *p, size_t n);
void mbuf_u8(struct mbuf *b, uint8_t v);
void mbuf_u16(struct mbuf *b, uint16_t v);
void mbuf_u32(struct mbuf *b, uint32_t v);
void mbuf_u64(struct mbuf *b, uint64_t v);
void mbuf_be32(struct mbuf *b, uint32_t v);
void mbuf_be64(struct mbuf *b, uint64_t v);
/* A string with a u8 (str8) or u16 (str16) length; the caller checked
 * the length against the field's limit. */
void mbuf_str8(struct mbuf *b, const char *s, size_t n);
void mbuf_str16(struct mbuf *b, const char *s, size_t n);
/* LK_OK, or LK_NOMEM (with lk_errmsg) if any append failed. */
lk_status mbuf_status(const struct mbuf *b, const char *what);

struct mread {
	const uint8_t *p;
	size_t len, at;
	const char *what;   /* the value being read, for messages */
	char err[120];      /* the first problem; "" while none */
};

void mread_init(struct mread *r, const void *p, size_t len, const char *what);
uint8_t mread_u8(struct mread *r, const char *field);
uint16_t mread_u16(struct mread *r, const char *field);
uint32_t mread_u32(struct mread *r, const char *field);
uint64_t mread_u64(struct mread *r, const char *field);
uint32_t mread_be32(struct mread *r, const char *field);
uint64_t mread_be64(struct mread *r, const char *field);
const uint8_t *mread_bytes(struct mread *r, size_t n, const char *field);
/* A string of at most max bytes: a pointer into the value and *n. */
const char *mread_str8(struct mread *r, size_t max, size_t *n,
		       const char *field);
const char *mread_str16(struct mread *r, size_t max, size_t *n,
			const char *field);
/* Checks the version byte: LK_OK, LK_VERSION (newer), LK_CORRUPT. */
lk_status mread_version(struct mread *r);
/* LK_OK if every read fit and the value ended exactly there (rest 0) or
 * anywhere (rest 1); LK_CORRUPT naming the field otherwise. */
lk_status mread_end(const struct mread *r, int rest);

/* The offset of the first byte of s[0..n) that breaks UTF-8, or n. */
size_t utf8_invalid_at(const uint8_t *s, size_t n);

/* A string argument: non-NULL, 1 to max bytes (0 allowed with empty_ok),
 * valid UTF-8 (YAML and JSON carry it: the tool's output must hold).
 * LK_INVALID or LK_TOO_BIG naming `what`. */
lk_status mesh_check_str(const char *s, size_t max, int empty_ok,
			 const char *what, size_t *len);

/* Copies n bytes of s into the arena *at and NUL-terminates it; returns
 * the copy.  The caller sized the arena. */
char *arena_str(char **at, const char *s, size_t n);

#endif /* LK_MESH_VALUE_H */
