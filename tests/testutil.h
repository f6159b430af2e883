/* SPDX-License-Identifier: MIT */
/*
 * testutil.h - what the engine-level test suites share beyond check.h
 * (whose check macros and temporary directories it brings in): whole-file
 * and corruption helpers in the manner of LevelDB's corruption_test
 * (file_read, file_write, truncate_to, corrupt_bytes, which may also
 * append, flip_bit, remove_file), and a walker that lists the records of
 * a segment so that a test can aim at "the last record" or "a record that
 * is not at the tail" by offset.
 *
 * Everything works through an lk_io table, so the same helpers serve the
 * in-memory layer (fast loops over thousands of cut points) and the POSIX
 * layer (real files).  Header-only: each test is one executable.
 */
#ifndef LK_TESTUTIL_H
#define LK_TESTUTIL_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "check.h"
#include "io.h"
#include "logkeep.h"
#include "record.h"
#include "segment.h"

/* ---- whole files through an I/O layer ---- */

struct blob {
	uint8_t *p;
	size_t n;
};

static inline struct blob file_read(const lk_io *io, const char *dir,
				    const char *name)
{
	struct blob b = { NULL, 0 };
	lk_io_file *f;
	lk_io_dir *d;
	uint64_t size;

	CHECK_OK(io->dir_open(io->ctx, dir, 0, &d));
	CHECK_OK(io->open(io->ctx, d, name, LK_IO_READ, &f));
	CHECK_OK(io->size(io->ctx, f, &size));
	b.n = (size_t)size;
	b.p = malloc(b.n ? b.n : 1);
	CHECK(b.p);
	if (b.n) {
		size_t got;
		CHECK_OK(io->pread(io->ctx, f, b.p, b.n, 0, &got));
		CHECK(got == b.n);
	}
	io->close(io->ctx, f);
	io->dir_close(io->ctx, d);
	return b;
}

/* Replaces the file's content with b (truncating or extending); makes
 * the directory and the file if they are missing. */
static inline void file_write(const lk_io *io, const char *dir,
			      const char *name, const void *p, size_t n)
{
	lk_io_file *f;
	lk_io_dir *d;

	CHECK_OK(io->dir_open(io->ctx, dir, 1, &d));
	CHECK_OK(io->open(io->ctx, d, name, LK_IO_WRITE | LK_IO_CREATE, &f));
	CHECK_OK(io->truncate(io->ctx, f, 0));
	if (n)
		CHECK_OK(io->pwrite(io->ctx, f, p, n, 0));
	io->close(io->ctx, f);
	io->dir_close(io->ctx, d);
}

static inline void truncate_to(const lk_io *io, const char *dir,
			       const char *name, uint64_t size)
{
	lk_io_file *f;
	lk_io_dir *d;

	CHECK_OK(io->dir_open(io->ctx, dir, 0, &d));
	CHECK_OK(io->open(io->ctx, d, name, LK_IO_WRITE, &f));
	CHECK_OK(io->truncate(io->ctx, f, size));
	io->close(io->ctx, f);
	io->dir_close(io->ctx, d);
}

/* Overwrites n bytes at offset with p (may extend the file). */
static inline void corrupt_bytes(const lk_io *io, const char *dir,
				 const char *name, uint64_t offset,
				 const void *p, size_t n)
{
	lk_io_file *f;
	lk_io_dir *d;

	CHECK_OK(io->dir_open(io->ctx, dir, 0, &d));
	CHECK_OK(io->open(io->ctx, d, name, LK_IO_WRITE, &f));
	CHECK_OK(io->pwrite(io->ctx, f, p, n, offset));
	io->close(io->ctx, f);
	io->dir_close(io->ctx, d);
}

static inline void flip_bit(const lk_io *io, const char *dir,
			    const char *name, uint64_t offset, int bit)
{
	struct blob b = file_read(io, dir, name);

	CHECK(offset < b.n);
	b.p[offset] ^= (uint8_t)(1u << bit);
	corrupt_bytes(io, dir, name, offset, b.p + offset, 1);
	free(b.p);
}

static inline void remove_file(const lk_io *io, const char *dir,
			       const char *name)
{
	lk_io_dir *d;

	CHECK_OK(io->dir_open(io->ctx, dir, 0, &d));
	CHECK_OK(io->unlink(io->ctx, d, name));
	io->dir_close(io->ctx, d);
}

/* ---- records of a segment ---- */

struct rec_pos {
	uint64_t offset;
	uint32_t size;
	uint8_t type;
	uint64_t seq; /* puts and deletes */
};

struct rec_list {
	struct rec_pos v[4096];
	size_t n;
	uint64_t data_end; /* end of the last valid record */
};

/* Lists the valid records of segment `name` from the start until the
 * first invalid one. */
static inline void list_records(struct rec_list *out, const lk_io *io,
				const char *dir, const char *name)
{
	uint8_t hdr[SEG_HEADER_BYTES];
	struct seg_reader r;
	struct segment *s;
	lk_io_dir *d;
	const char *why;
	uint64_t pos = SEG_HEADER_BYTES;
	size_t got;

	memset(out, 0, sizeof *out);
	CHECK_OK(io->dir_open(io->ctx, dir, 0, &d));
	CHECK_OK(seg_open(&s, io, d, name, 0));
	CHECK_OK(io->pread(io->ctx, s->file, hdr, sizeof hdr, 0, &got));
	CHECK_OK(seg_header_decode(&s->hdr, hdr, &why));
	s->db_seed = record_hash(s->hdr.db_id, SEG_DB_ID_BYTES, 0);
	CHECK_OK(seg_reader_init(&r, io, s, s->file_size));
	for (;;) {
		struct record rec;

		if (pos >= r.end ||
		    seg_reader_record(&r, pos, &rec, &why) != LK_OK)
			break;
		CHECK(out->n < sizeof out->v / sizeof out->v[0]);
		out->v[out->n].offset = pos;
		out->v[out->n].size = rec.size;
		out->v[out->n].type = rec.type;
		out->v[out->n].seq = rec.type <= REC_DEL ? rec.seq : 0;
		out->n++;
		pos += rec.size;
	}
	out->data_end = pos;
	seg_reader_free(&r);
	seg_close(s, io);
	io->dir_close(io->ctx, d);
}

/* A put in namespace 1 of NUL-terminated key and value (which must
 * outlive the record), for the codec and segment tests. */
static inline struct record put_rec(const char *key, const char *value,
				    uint64_t seq)
{
	struct record r = { 0 };

	r.type = REC_PUT;
	r.ns = 1;
	r.seq = seq;
	r.key = (const uint8_t *)key;
	r.key_len = (uint32_t)strlen(key);
	r.value = (const uint8_t *)value;
	r.value_len = (uint32_t)strlen(value);
	return r;
}

static inline lk_options test_options(const lk_io *io)
{
	lk_options o = LK_OPTIONS_INIT;

	o.io = io;
	o.compact_dead_pct = 0; /* files change only when a test says so */
	o.scrub_rate_bytes = 0; /* and are read only when it says so */
	o.snapshot_every_bytes = 0;
	return o;
}

#endif /* LK_TESTUTIL_H */
