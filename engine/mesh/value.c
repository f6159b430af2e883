/* SPDX-License-Identifier: MIT */
/*
 * value.c - the mesh layer's value encoding (value.h): writer and bounded
 * reader.  Pure: no I/O, no locks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"

void mbuf_init(struct mbuf *b)
{
	memset(b, 0, sizeof *b);
}

void mbuf_free(struct mbuf *b)
{
	free(b->p);
	mbuf_init(b);
}

void mbuf_bytes(struct mbuf *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		uint8_t *q;

		while (cap < b->len + n)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

void mbuf_u8(struct mbuf *b, uint8_t v)
{
	mbuf_bytes(b, &v, 1);
}

static void put_le(struct mbuf *b, uint64_t v, int n)
{
	uint8_t x[8];

	for (int i = 0; i < n; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	mbuf_bytes(b, x, (size_t)n);
}

static void put_be(struct mbuf *b, uint64_t v, int n)
{
	uint8_t x[8];

	for (int i = 0; i < n; i++)
		x[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	mbuf_bytes(b, x, (size_t)n);
}

void mbuf_u16(struct mbuf *b, uint16_t v) { put_le(b, v, 2); }
void mbuf_u32(struct mbuf *b, uint32_t v) { put_le(b, v, 4); }
void mbuf_u64(struct mbuf *b, uint64_t v) { put_le(b, v, 8); }
void mbuf_be32(struct mbuf *b, uint32_t v) { put_be(b, v, 4); }
void mbuf_be64(struct mbuf *b, uint64_t v) { put_be(b, v, 8); }

void mbuf_str8(struct mbuf *b, const char *s, size_t n)
{
	if (n > UINT8_MAX) {
		b->oom = 1; /* a caller's bug; never written short */
		return;
	}
	mbuf_u8(b, (uint8_t)n);
	mbuf_bytes(b, s, n);
}

void mbuf_str16(struct mbuf *b, const char *s, size_t n)
{
	if (n > UINT16_MAX) {
		b->oom = 1;
		return;
	}
	mbuf_u16(b, (uint16_t)n);
	mbuf_bytes(b, s, n);
}

lk_status mbuf_status(const struct mbuf *b, const char *what)
{
	return b->oom ? lk_fail(LK_NOMEM, "encoding %s: out of memory", what)
		      : LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Reading                                                                */
/* ---------------------------------------------------------------------- */

void mread_init(struct mread *r, const void *p, size_t len, const char *what)
{
	r->p = p;
	r->len = len;
	r->at = 0;
	r->what = what;
	r->err[0] = '\0';
}

/* n bytes at the cursor, or NULL (and the first problem noted). */
static const uint8_t *take(struct mread *r, size_t n, const char *field)
{
	const uint8_t *q;

	if (r->err[0])
		return NULL;
	if (n > r->len - r->at) {
		snprintf(r->err, sizeof r->err,
			 "%s: field %s at byte %zu needs %zu bytes, %zu left",
			 r->what, field, r->at, n, r->len - r->at);
		return NULL;
	}
	q = r->p + r->at;
	r->at += n;
	return q;
}

static uint64_t get_le(struct mread *r, int n, const char *field)
{
	const uint8_t *q = take(r, (size_t)n, field);
	uint64_t v = 0;

	for (int i = 0; q && i < n; i++)
		v |= (uint64_t)q[i] << (8 * i);
	return v;
}

static uint64_t get_be(struct mread *r, int n, const char *field)
{
	const uint8_t *q = take(r, (size_t)n, field);
	uint64_t v = 0;

	for (int i = 0; q && i < n; i++)
		v = v << 8 | q[i];
	return v;
}

uint8_t mread_u8(struct mread *r, const char *field)
{
	return (uint8_t)get_le(r, 1, field);
}

uint16_t mread_u16(struct mread *r, const char *field)
{
	return (uint16_t)get_le(r, 2, field);
}

uint32_t mread_u32(struct mread *r, const char *field)
{
	return (uint32_t)get_le(r, 4, field);
}

uint64_t mread_u64(struct mread *r, const char *field)
{
	return get_le(r, 8, field);
}

uint32_t mread_be32(struct mread *r, const char *field)
{
	return (uint32_t)get_be(r, 4, field);
}

uint64_t mread_be64(struct mread *r, const char *field)
{
	return get_be(r, 8, field);
}

const uint8_t *mread_bytes(struct mread *r, size_t n, const char *field)
{
	return take(r, n, field);
}

static const char *get_str(struct mread *r, size_t n, size_t max, size_t *out,
			   const char *field)
{
	const uint8_t *q;

	*out = 0;
	if (r->err[0])
		return "";
	if (n > max) {
		snprintf(r->err, sizeof r->err,
			 "%s: field %s at byte %zu claims %zu bytes, past its "
			 "limit of %zu",
			 r->what, field, r->at, n, max);
		return "";
	}
	q = take(r, n, field);
	if (!q)
		return "";
	if (memchr(q, 0, n)) {
		snprintf(r->err, sizeof r->err,
			 "%s: field %s holds a NUL byte", r->what, field);
		return "";
	}
	*out = n;
	return (const char *)q;
}

const char *mread_str8(struct mread *r, size_t max, size_t *n,
		       const char *field)
{
	size_t len = mread_u8(r, field);

	return get_str(r, len, max, n, field);
}

const char *mread_str16(struct mread *r, size_t max, size_t *n,
			const char *field)
{
	size_t len = mread_u16(r, field);

	return get_str(r, len, max, n, field);
}

lk_status mread_version(struct mread *r)
{
	uint8_t v = mread_u8(r, "version");

	if (r->err[0])
		return lk_fail(LK_CORRUPT, "%s", r->err);
	if (v == 0)
		return lk_fail(LK_CORRUPT, "%s: version byte 0", r->what);
	if (v > MESH_VALUE_V1)
		return lk_fail(LK_VERSION,
			       "%s: value version %u, this library knows up to "
			       "%u",
			       r->what, v, MESH_VALUE_V1);
	return LK_OK;
}

lk_status mread_end(const struct mread *r, int rest)
{
	if (r->err[0])
		return lk_fail(LK_CORRUPT, "%s", r->err);
	if (!rest && r->at != r->len)
		return lk_fail(LK_CORRUPT, "%s: %zu bytes after the last field",
			       r->what, r->len - r->at);
	return LK_OK;
}

/* The offset of the first byte of s[0..n) that is not part of valid
 * UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), or
 * n. */
size_t utf8_invalid_at(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2
				: (c & 0xf0) == 0xe0 ? 3
				: (c & 0xf8) == 0xf0 ? 4 : 0;
		uint32_t cp;

		if (len == 0 || len > n - i)
			return i;
		cp = len == 1 ? c : c & (0x7f >> len);
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += len;
	}
	return n;
}

lk_status mesh_check_str(const char *s, size_t max, int empty_ok,
			 const char *what, size_t *len)
{
	size_t n, bad;

	if (!s)
		return lk_fail(LK_INVALID, "%s: NULL", what);
	n = strnlen(s, max + 1);
	if (n > max)
		return lk_fail(LK_TOO_BIG, "%s: longer than %zu bytes", what,
			       max);
	if (n == 0 && !empty_ok)
		return lk_fail(LK_INVALID, "%s: empty", what);
	bad = utf8_invalid_at((const uint8_t *)s, n);
	if (bad < n)
		return lk_fail(LK_INVALID, "%s: not UTF-8 (byte %zu)", what,
			       bad);
	if (len)
		*len = n;
	return LK_OK;
}

char *arena_str(char **at, const char *s, size_t n)
{
	char *d = *at;

	memcpy(d, s, n);
	d[n] = '\0';
	*at += n + 1;
	return d;
}
