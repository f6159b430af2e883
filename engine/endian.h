/* SPDX-License-Identifier: MIT */
/*
 * endian.h - fixed-width little-endian integers and LEB128 varints, byte by
 * byte, so that nothing on disk depends on the host's byte order, word size
 * or struct layout.  Pure inline functions; no I/O, no allocation.
 */
#ifndef LK_ENDIAN_H
#define LK_ENDIAN_H

#include <stddef.h>
#include <stdint.h>

static inline void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

#define VARINT_BYTES_MAX 10

static inline size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Decodes a varint from at most `avail` bytes.  Returns the bytes used, or
 * 0 if the input ends first or the value does not fit in 64 bits.  An
 * overlong encoding (a final 0x00 continuation) is rejected too, so every
 * value has exactly one encoding and a checksum covers a unique form. */
static inline size_t get_varint(const uint8_t *p, size_t avail, uint64_t *v)
{
	uint64_t r = 0;

	for (size_t i = 0; i < avail && i < VARINT_BYTES_MAX; i++) {
		uint64_t b = p[i] & 0x7f;

		if (i == 9 && b > 1)
			return 0;
		r |= b << (7 * i);
		if (!(p[i] & 0x80)) {
			if (i > 0 && p[i] == 0)
				return 0;
			*v = r;
			return i + 1;
		}
	}
	return 0;
}

#endif /* LK_ENDIAN_H */
