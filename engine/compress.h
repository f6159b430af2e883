/* SPDX-License-Identifier: MIT */
/*
 * compress.h - value compression.  zstd enters logkeep here.
 *
 * A compressed value is stored as raw_len:varint + one zstd frame (see
 * record.h).  Values shorter than LK_COMPRESS_MIN_BYTES, and values that
 * compression does not shrink by at least an eighth, are stored raw.
 * Contexts are pooled per database so that a put does not allocate a zstd
 * context each time; zstd allocates through alloc.h so that the fault
 * loops reach its allocations too.
 */
#ifndef LK_COMPRESS_H
#define LK_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "logkeep.h"

struct compressor;

lk_status compressor_new(struct compressor **c);
void compressor_free(struct compressor *c);

/* Compresses in[0..in_len) into a new buffer *out (mem_free it) holding
 * raw_len + frame.  Returns LK_OK, with *out NULL when the value is to be
 * stored raw (too short, or it would not shrink by an eighth); LK_NOMEM. */
lk_status compressor_pack(struct compressor *c, const void *in, size_t in_len,
			  uint8_t **out, size_t *out_len);

/* Decompresses a stored value into a new buffer *out of *out_len bytes plus
 * a NUL (mem_free it).  raw_len is bounded by LK_VALUE_BYTES_MAX before
 * anything is allocated.  Returns LK_OK, LK_CORRUPT (with detail set),
 * LK_NOMEM. */
lk_status compressor_unpack(struct compressor *c, const uint8_t *in,
			    size_t in_len, uint8_t **out, size_t *out_len);

#endif /* LK_COMPRESS_H */
