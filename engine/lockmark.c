/* SPDX-License-Identifier: MIT */
/*
 * lockmark.c - the mark in the LOCK file (see lockmark.h).
 */
#include <string.h>

#include "contract.h"
#include "endian.h"
#include "lockmark.h"
#include "record.h"

static const uint8_t magic[8] = { 'L', 'K', 'M', 'A', 'R', 'K', 0, 1 };

/* The hash's seed: a mark is not a record, and no record hash matches. */
#define MARK_SEED 0x6c6b6d61726bull /* "lkmark" */

static void encode(uint8_t out[LOCKMARK_BYTES],
		   const uint8_t db_id[SEG_DB_ID_BYTES])
{
	memcpy(out, magic, sizeof magic);
	memcpy(out + 8, db_id, SEG_DB_ID_BYTES);
	put_u64(out + 24, record_hash(out, 24, MARK_SEED));
}

lk_status lockmark_write(const lk_io *io, lk_io_file *f,
			 const uint8_t db_id[SEG_DB_ID_BYTES])
{
	uint8_t buf[LOCKMARK_BYTES];
	lk_status st;

	LK_ASSERT(io != NULL && f != NULL && db_id != NULL);
	encode(buf, db_id);
	st = io->pwrite(io->ctx, f, buf, sizeof buf, 0);
	return st != LK_OK ? st : io->sync(io->ctx, f);
}

lk_status lockmark_read(const lk_io *io, lk_io_dir *dir, lk_io_file *f,
			int *marked, uint8_t db_id[SEG_DB_ID_BYTES])
{
	uint8_t buf[LOCKMARK_BYTES], want[LOCKMARK_BYTES];
	lk_io_file *own = NULL;
	size_t got = 0;
	lk_status st;

	LK_ASSERT(io != NULL && marked != NULL && db_id != NULL);
	*marked = 0;
	if (!f) {
		st = io->open(io->ctx, dir, "LOCK", LK_IO_READ, &own);
		if (st == LK_NOT_FOUND)
			return LK_OK;
		if (st != LK_OK)
			return st;
		f = own;
	}
	st = io->pread(io->ctx, f, buf, sizeof buf, 0, &got);
	if (own)
		io->close(io->ctx, own);
	if (st != LK_OK || got < sizeof buf)
		return st;
	encode(want, buf + 8);
	if (memcmp(buf, want, sizeof buf) != 0)
		return LK_OK;
	memcpy(db_id, buf + 8, SEG_DB_ID_BYTES);
	*marked = 1;
	return LK_OK;
}
