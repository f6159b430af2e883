/* SPDX-License-Identifier: MIT */
/*
 * compress.c - zstd behind the interface of compress.h.
 *
 * A small pool of compression and decompression contexts, each taken and
 * returned under one mutex, lets concurrent committers and readers
 * compress without sharing a context and without allocating one per call.
 * When the pool is empty a caller makes a fresh context and the pool keeps
 * it afterwards if there is room.
 */
#include <pthread.h>
#include <string.h>

#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_customMem, *_advanced() */
#include <zstd.h>
#include <zstd_errors.h>

#include "contract.h"
#include "alloc.h"
#include "compress.h"
#include "endian.h"
#include "error.h"
#include "logkeep_limits.h"

/* Contexts kept for reuse, of each kind: a router has 1 to 4 cores, so
 * more threads than that compress at once only when they wait on I/O, and
 * a context past the pool is simply made and freed. */
#define POOL_SIZE 4
#define COMPRESS_LEVEL 1 /* fastest: a router's core is slow */

struct compressor {
	pthread_mutex_t mu;
	ZSTD_CCtx *cctx[POOL_SIZE];
	ZSTD_DCtx *dctx[POOL_SIZE];
	int ncctx, ndctx;
};

static void *zalloc(void *opaque, size_t size)
{
	(void)opaque;
	return mem_alloc(size);
}

static void zfree(void *opaque, void *ptr)
{
	(void)opaque;
	mem_free(ptr);
}

static const ZSTD_customMem zmem = { zalloc, zfree, NULL };

lk_status compressor_new(struct compressor **c)
{
	*c = mem_calloc(1, sizeof **c);
	if (!*c)
		return err_set(LK_NOMEM, "allocating the compressor");
	pthread_mutex_init(&(*c)->mu, NULL);
	return LK_OK;
}

void compressor_free(struct compressor *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->ncctx; i++)
		ZSTD_freeCCtx(c->cctx[i]);
	for (int i = 0; i < c->ndctx; i++)
		ZSTD_freeDCtx(c->dctx[i]);
	pthread_mutex_destroy(&c->mu);
	mem_free(c);
}

static ZSTD_CCtx *take_cctx(struct compressor *c)
{
	ZSTD_CCtx *z = NULL;

	pthread_mutex_lock(&c->mu);
	if (c->ncctx > 0)
		z = c->cctx[--c->ncctx];
	pthread_mutex_unlock(&c->mu);
	return z ? z : ZSTD_createCCtx_advanced(zmem);
}

static void give_cctx(struct compressor *c, ZSTD_CCtx *z)
{
	pthread_mutex_lock(&c->mu);
	if (c->ncctx < POOL_SIZE) {
		c->cctx[c->ncctx++] = z;
		z = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	ZSTD_freeCCtx(z);
}

static ZSTD_DCtx *take_dctx(struct compressor *c)
{
	ZSTD_DCtx *z = NULL;

	pthread_mutex_lock(&c->mu);
	if (c->ndctx > 0)
		z = c->dctx[--c->ndctx];
	pthread_mutex_unlock(&c->mu);
	return z ? z : ZSTD_createDCtx_advanced(zmem);
}

static void give_dctx(struct compressor *c, ZSTD_DCtx *z)
{
	pthread_mutex_lock(&c->mu);
	if (c->ndctx < POOL_SIZE) {
		c->dctx[c->ndctx++] = z;
		z = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	ZSTD_freeDCtx(z);
}

lk_status compressor_pack(struct compressor *c, const void *in, size_t in_len,
			  uint8_t **out, size_t *out_len)
{
	size_t bound, hdr, n, worth;
	ZSTD_CCtx *z;
	uint8_t *buf;

	LK_ASSERT(in_len <= LK_VALUE_BYTES_MAX);
	*out = NULL;
	if (in_len < LK_COMPRESS_MIN_BYTES)
		return LK_OK; /* stored raw */
	worth = in_len - in_len / 8;
	hdr = varint_size(in_len);
	bound = ZSTD_compressBound(in_len);
	buf = mem_alloc(hdr + bound);
	if (!buf)
		return err_set(LK_NOMEM, "allocating a compression buffer");
	z = take_cctx(c);
	if (!z) {
		mem_free(buf);
		return err_set(LK_NOMEM, "allocating a zstd context");
	}
	n = ZSTD_compressCCtx(z, buf + hdr, bound, in, in_len, COMPRESS_LEVEL);
	give_cctx(c, z);
	if (ZSTD_isError(n) || hdr + n > worth) {
		/* An error here can only be an allocation inside zstd or an
		 * incompressible value: either way the raw value is correct. */
		mem_free(buf);
		return LK_OK; /* stored raw */
	}
	put_varint(buf, in_len);
	*out = buf;
	*out_len = hdr + n;
	return LK_OK;
}

lk_status compressor_unpack(struct compressor *c, const uint8_t *in,
			    size_t in_len, uint8_t **out, size_t *out_len)
{
	uint64_t raw_len;
	ZSTD_DCtx *z;
	uint8_t *buf;
	size_t hdr, n;

	*out = NULL;
	hdr = get_varint(in, in_len, &raw_len);
	if (hdr == 0 || raw_len > LK_VALUE_BYTES_MAX)
		return err_set(LK_CORRUPT, "compressed value: bad raw length");
	buf = mem_alloc((size_t)raw_len + 1);
	if (!buf)
		return err_set(LK_NOMEM, "allocating a %llu-byte value",
			       (unsigned long long)raw_len);
	z = take_dctx(c);
	if (!z) {
		mem_free(buf);
		return err_set(LK_NOMEM, "allocating a zstd context");
	}
	n = ZSTD_decompressDCtx(z, buf, (size_t)raw_len, in + hdr, in_len - hdr);
	give_dctx(c, z);
	if (ZSTD_isError(n) || n != raw_len) {
		mem_free(buf);
		if (ZSTD_isError(n) &&
		    ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation)
			return err_set(LK_NOMEM, "zstd: out of memory");
		return err_set(LK_CORRUPT, "compressed value: %s",
			       ZSTD_isError(n) ? ZSTD_getErrorName(n)
					       : "wrong decompressed length");
	}
	buf[raw_len] = 0;
	*out = buf;
	*out_len = (size_t)raw_len;
	return LK_OK;
}
