/* SPDX-License-Identifier: MIT */
/*
 * segment.c - segment files (format in segment.h).
 *
 * The reader keeps a window of the file in one buffer, read with large
 * preads, so that a scan costs one system call per megabyte rather than
 * per record.  The window grows only as far as the largest record the
 * format allows, so a hostile length cannot make it allocate more.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "contract.h"
#include "alloc.h"
#include "endian.h"
#include "error.h"
#include "logkeep_limits.h"
#include "segment.h"

static const uint8_t seg_magic[8] = { 'L', 'K', 'S', 'E', 'G', '\r', '\n',
				      0x1a };

/* A reader's window: 1 MiB, or the bytes it may read when fewer (at
 * least READER_WINDOW_MIN_BYTES), so that opening a directory of small
 * segments does not allocate a megabyte per segment it scans. */
#define READER_WINDOW_BYTES (1024u * 1024u)
#define READER_WINDOW_MIN_BYTES 4096u

_Static_assert(SEG_HEADER_BYTES == 64, "the header layout is 64 bytes");
_Static_assert(REC_REPLACES_OFFSET_MIN == SEG_HEADER_BYTES,
	       "a replaced record lies after a segment header");

/* The read-back of seg_hash_get goes in steps of this size: big enough
 * for one pread to cost little per byte, small for a router. */
#define SEG_HASH_CHUNK_BYTES (64u * 1024u)

void seg_name(char name[SEG_NAME_BYTES], uint64_t seq, uint32_t generation)
{
	if (generation == 0)
		snprintf(name, SEG_NAME_BYTES, "%016" PRIx64 ".seg", seq);
	else
		snprintf(name, SEG_NAME_BYTES, "%016" PRIx64 ".%" PRIx32 ".seg",
			 seq, generation);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The one parser of data-directory file names.  Only the canonical
 * spelling counts (lowercase hex, 16 digits, a generation without leading
 * zeros and never 0), so that two names can never denote the same file. */
enum dir_file dir_file_parse(const char *name, uint64_t *number,
			     uint32_t *generation)
{
	uint64_t v = 0;
	uint32_t g = 0;
	const char *p = name;

	for (int i = 0; i < 16; i++, p++) {
		int d = hexval(*p);

		if (d < 0)
			return DIR_FILE_OTHER;
		v = v << 4 | (uint64_t)d;
	}
	if (v == 0)
		return DIR_FILE_OTHER;
	*number = v;
	*generation = 0;
	if (strcmp(p, ".snap") == 0)
		return DIR_FILE_SNAPSHOT;
	if (strcmp(p, ".snap.tmp") == 0)
		return DIR_FILE_SNAPSHOT_TMP;
	if (*p == '.' && hexval(p[1]) > 0) { /* a generation: no leading 0 */
		int i;

		for (p++, i = 0; hexval(*p) >= 0 && i < 8; i++, p++)
			g = g << 4 | (uint32_t)hexval(*p);
	}
	if (strcmp(p, ".seg") != 0)
		return DIR_FILE_OTHER;
	*generation = g;
	return DIR_FILE_SEGMENT;
}

int seg_parse_name(const char *name, uint64_t *seq, uint32_t *generation)
{
	uint64_t n;
	uint32_t g;

	if (dir_file_parse(name, &n, &g) != DIR_FILE_SEGMENT)
		return 0;
	*seq = n;
	*generation = g;
	return 1;
}

void seg_header_encode(uint8_t out[SEG_HEADER_BYTES],
		       const struct seg_header *h)
{
	LK_ASSERT(h->seq > 0 && h->seq <= REC_SEQ_MAX && h->seq_prev < h->seq);
	LK_ASSERT(h->record_seq_base > 0 && h->record_seq_base <= REC_SEQ_MAX);
	memset(out, 0, SEG_HEADER_BYTES);
	memcpy(out, seg_magic, sizeof seg_magic);
	put_u16(out + 8, h->version);
	put_u16(out + 10, SEG_HEADER_BYTES);
	put_u32(out + 12, 0);
	memcpy(out + 16, h->db_id, SEG_DB_ID_BYTES);
	put_u64(out + 32, h->seq);
	put_u64(out + 40, h->seq_prev);
	put_u64(out + 48, h->record_seq_base);
	put_u32(out + 56, h->generation);
	put_u32(out + 60, (uint32_t)record_hash(out, 60, 0));
}

lk_status seg_header_decode(struct seg_header *h,
			    const uint8_t in[SEG_HEADER_BYTES],
			    const char **why)
{
	memset(h, 0, sizeof *h);
	if (memcmp(in, seg_magic, sizeof seg_magic) != 0) {
		*why = "not a logkeep segment (bad magic)";
		return LK_CORRUPT;
	}
	if ((uint32_t)record_hash(in, 60, 0) != get_u32(in + 60)) {
		*why = "segment header checksum mismatch";
		return LK_CORRUPT;
	}
	h->version = get_u16(in + 8);
	if (h->version < LK_FORMAT_VERSION_MIN ||
	    h->version > LK_FORMAT_VERSION) {
		*why = "unknown segment format version";
		return LK_VERSION;
	}
	if (get_u16(in + 10) != SEG_HEADER_BYTES || get_u32(in + 12) != 0) {
		*why = "segment header size or flags unknown";
		return LK_CORRUPT;
	}
	memcpy(h->db_id, in + 16, SEG_DB_ID_BYTES);
	h->seq = get_u64(in + 32);
	h->seq_prev = get_u64(in + 40);
	h->record_seq_base = get_u64(in + 48);
	h->generation = get_u32(in + 56);
	if (h->seq == 0 || h->seq > REC_SEQ_MAX || h->seq_prev >= h->seq) {
		*why = "segment header chain fields out of order";
		return LK_CORRUPT;
	}
	if (h->record_seq_base == 0 || h->record_seq_base > REC_SEQ_MAX) {
		*why = "segment header sequence base out of range";
		return LK_CORRUPT;
	}
	return LK_OK;
}

uint64_t seg_seed(const struct segment *s, uint64_t offset)
{
	return record_seed(s->db_seed, s->hdr.seq, s->hdr.generation, offset);
}

static struct segment *seg_alloc(const char *name)
{
	struct segment *s = mem_calloc(1, sizeof *s);

	if (s)
		snprintf(s->name, sizeof s->name, "%s", name);
	return s;
}

lk_status seg_create(struct segment **out, const lk_io *io, lk_io_dir *dir,
		     const struct seg_header *h)
{
	uint8_t hdr[SEG_HEADER_BYTES];
	char name[SEG_NAME_BYTES];
	struct segment *s;
	lk_status st;

	*out = NULL;
	seg_name(name, h->seq, h->generation);
	s = seg_alloc(name);
	if (!s)
		return err_set(LK_NOMEM, "allocating segment %s", name);
	s->hdr = *h;
	s->db_seed = record_hash(h->db_id, SEG_DB_ID_BYTES, 0);
	seg_header_encode(hdr, h);
	st = io->open(io->ctx, dir, name, LK_IO_WRITE | LK_IO_CREATE | LK_IO_EXCL,
		      &s->file);
	if (st != LK_OK)
		goto fail;
	st = io->pwrite(io->ctx, s->file, hdr, sizeof hdr, 0);
	if (st == LK_OK)
		st = io->sync(io->ctx, s->file);
	if (st == LK_OK)
		st = io->dir_sync(io->ctx, dir);
	if (st != LK_OK)
		goto fail_file;
	s->data_end = s->file_size = s->synced_end = SEG_HEADER_BYTES;
	s->hasher = record_hasher_new(seg_hash_seed(s));
	seg_hash_add(s, hdr, sizeof hdr, 0);
	*out = s;
	return LK_OK;

fail_file:
	/* The file never held an acknowledged record; removing it keeps the
	 * directory as it was.  A failure to remove it is left to recovery,
	 * which removes a newest segment that holds no data. */
	io->close(io->ctx, s->file);
	(void)io->unlink(io->ctx, dir, name);
fail:
	err_prefix("creating segment %s", name);
	mem_free(s);
	return st;
}

lk_status seg_open(struct segment **out, const lk_io *io, lk_io_dir *dir,
		   const char *name, int writable)
{
	struct segment *s;
	lk_status st;

	*out = NULL;
	s = seg_alloc(name);
	if (!s)
		return err_set(LK_NOMEM, "allocating segment %s", name);
	st = io->open(io->ctx, dir, name, writable ? LK_IO_WRITE : LK_IO_READ,
		      &s->file);
	if (st != LK_OK) {
		mem_free(s);
		return st;
	}
	st = io->size(io->ctx, s->file, &s->file_size);
	if (st != LK_OK) {
		io->close(io->ctx, s->file);
		mem_free(s);
		return st;
	}
	*out = s;
	return LK_OK;
}

uint64_t seg_hash_seed(const struct segment *s)
{
	/* the seed of a record at offset 2^63, where none can be */
	return seg_seed(s, UINT64_C(1) << 63);
}

static void hash_drop(struct segment *s)
{
	if (s->hasher)
		(void)record_hasher_done(s->hasher);
	s->hasher = NULL;
	s->hashed_end = 0;
}

void seg_hash_add(struct segment *s, const void *p, size_t n, uint64_t at)
{
	if (!s->hasher)
		return;
	if (at != s->hashed_end) {
		hash_drop(s);
		return;
	}
	record_hasher_add(s->hasher, p, n);
	s->hashed_end += n;
}

lk_status seg_hash_get(struct segment *s, const lk_io *io, uint64_t end,
		       uint64_t *hash)
{
	if (s->hasher && s->hashed_end == end) {
		*hash = record_hasher_done(s->hasher);
		s->hasher = NULL;
		s->hashed_end = 0;
		return LK_OK;
	}
	hash_drop(s);
	return seg_hash_read(s, io, end, hash, NULL);
}

lk_status seg_hash_read(const struct segment *s, const lk_io *io,
			uint64_t end, uint64_t *hash,
			const struct seg_pace *pace)
{
	struct rec_hasher *h;
	uint8_t *buf;
	uint64_t off = 0;
	lk_status st = LK_OK;

	h = record_hasher_new(seg_hash_seed(s));
	buf = mem_alloc(SEG_HASH_CHUNK_BYTES);
	if (!h || !buf) {
		st = err_set(LK_NOMEM, "hashing segment %s", s->name);
		goto out;
	}
	while (off < end) {
		size_t want = end - off < SEG_HASH_CHUNK_BYTES
				      ? (size_t)(end - off)
				      : SEG_HASH_CHUNK_BYTES;
		size_t got = 0;

		st = io->pread(io->ctx, s->file, buf, want, off, &got);
		if (st == LK_OK && got != want)
			st = err_set(LK_CORRUPT,
				     "segment %s ends at %llu, before its data "
				     "end %llu",
				     s->name, (unsigned long long)(off + got),
				     (unsigned long long)end);
		if (st != LK_OK)
			goto out;
		record_hasher_add(h, buf, want);
		off += want;
		if (pace) {
			st = pace->fn(pace->arg, want);
			if (st != LK_OK)
				goto out;
		}
	}
out:
	if (h) {
		uint64_t v = record_hasher_done(h);

		if (st == LK_OK)
			*hash = v;
	}
	mem_free(buf);
	return st;
}

/* A seal is 13 to 22 bytes long, 21 to 30 with its segment_hash:
 * checksum 4, body_len 1, kind, ns and seq_delta 3, durable_upto 4,
 * op_count 1 to 10, segment_hash 8 (record.h). */
#define SEAL_BYTES_MIN 13u
#define SEAL_BYTES_MAX 30u

lk_status seg_find_seal(const struct segment *s, const lk_io *io,
			uint64_t data_end, struct record *rec,
			uint64_t *offset, int *found)
{
	uint8_t tail[SEAL_BYTES_MAX];
	uint64_t from;
	size_t got = 0, n;
	lk_status st;

	*found = 0;
	if (data_end < SEG_HEADER_BYTES + SEAL_BYTES_MIN)
		return LK_OK;
	from = data_end - SEAL_BYTES_MAX < SEG_HEADER_BYTES
		       ? SEG_HEADER_BYTES
		       : data_end - SEAL_BYTES_MAX;
	n = (size_t)(data_end - from);
	st = io->pread(io->ctx, s->file, tail, n, from, &got);
	if (st != LK_OK)
		return st;
	if (got != n)
		return LK_OK;
	for (size_t at = 0; at + SEAL_BYTES_MIN <= n; at++) {
		const char *why;

		if (record_decode(rec, tail + at, n - at, s->hdr.record_seq_base,
				  seg_seed(s, from + at), &why) == LK_OK &&
		    rec->type == REC_SEAL && rec->size == n - at) {
			*offset = from + at;
			*found = 1;
			return LK_OK;
		}
	}
	return LK_OK;
}

const uint8_t *seg_map_charged(struct segment *s, const lk_io *io,
				_Atomic uint64_t *account, uint64_t cap,
				uint64_t len)
{
	const void *addr = NULL;
	uint64_t was;

	/* the file's own size bounds what is mapped, so that no read can
	 * fault past its end */
	if (len == 0 || len > s->file_size || len > SIZE_MAX || cap == 0)
		return NULL;
	was = atomic_fetch_add(account, len);
	if (was > cap || len > cap - was ||
	    io->map(io->ctx, s->file, (size_t)len, &addr) != LK_OK) {
		atomic_fetch_sub(account, len); /* pread serves */
		return NULL;
	}
	return addr;
}

int seg_map(struct segment *s, const lk_io *io, _Atomic uint64_t *account,
	    uint64_t cap)
{
	uint64_t len = s->data_end; /* may come from a snapshot */
	const uint8_t *addr;

	if (seg_mapped(s))
		return 1;
	if (!s->sealed)
		return 0;
	addr = seg_map_charged(s, io, account, cap, len);
	if (!addr)
		return 0;
	s->map_len = (size_t)len;
	s->map_account = account;
	atomic_store_explicit(&s->map, addr, memory_order_release);
	return 1;
}

void seg_adopt_map(struct segment *s, const uint8_t *map, size_t len,
		   _Atomic uint64_t *account)
{
	LK_ASSERT(!seg_mapped(s) && s->sealed && len == s->data_end);
	s->map_len = len;
	s->map_account = account;
	atomic_store_explicit(&s->map, map, memory_order_release);
}

void seg_close(struct segment *s, const lk_io *io)
{
	const uint8_t *map;

	if (!s)
		return;
	map = seg_mapped(s);
	if (map) {
		io->unmap(io->ctx, s->file, map, s->map_len);
		atomic_fetch_sub(s->map_account, s->map_len);
	}
	hash_drop(s);
	if (s->file)
		io->close(io->ctx, s->file);
	mem_free(s);
}

/* ---------------------------------------------------------------------- */
/* Reader                                                                 */
/* ---------------------------------------------------------------------- */

static size_t window_max = READER_WINDOW_BYTES;

size_t seg_reader_window_max(size_t bytes)
{
	size_t was = window_max;

	window_max = bytes == 0 ? READER_WINDOW_BYTES
		     : bytes < READER_WINDOW_MIN_BYTES ? READER_WINDOW_MIN_BYTES
						       : bytes;
	return was;
}

static size_t window_for(uint64_t end)
{
	return end >= window_max		  ? window_max
	       : end <= READER_WINDOW_MIN_BYTES ? READER_WINDOW_MIN_BYTES
						: (size_t)end;
}

/* r reading s up to end, with nothing in its window and no buffer. */
static void reader_start(struct seg_reader *r, const lk_io *io,
			 struct segment *s, uint64_t end)
{
	memset(r, 0, sizeof *r);
	r->io = io;
	r->seg = s;
	r->end = end;
}

lk_status seg_reader_init(struct seg_reader *r, const lk_io *io,
			  struct segment *s, uint64_t end)
{
	reader_start(r, io, s, end);
	r->cap = window_for(end);
	r->buf = mem_alloc(r->cap);
	if (!r->buf)
		return err_set(LK_NOMEM, "allocating a segment read buffer");
	return LK_OK;
}

lk_status seg_reader_move(struct seg_reader *r, const lk_io *io,
			  struct segment *s, uint64_t end)
{
	uint8_t *buf = r->buf;
	size_t cap = r->cap;

	/* a window grown for one large record is not kept */
	if (!buf || cap < window_for(end) || cap > window_max) {
		mem_free(buf);
		return seg_reader_init(r, io, s, end);
	}
	reader_start(r, io, s, end);
	r->buf = buf;
	r->cap = cap;
	return LK_OK;
}

void seg_reader_free(struct seg_reader *r)
{
	mem_free(r->buf);
	r->buf = NULL;
}

lk_status seg_reader_get(struct seg_reader *r, uint64_t off, size_t n,
			 const uint8_t **p, size_t *got)
{
	size_t want, cap;
	lk_status st;

	LK_ASSERT(n <= LK_RECORD_BYTES_MAX + REC_PREFIX_BYTES_MAX);
	if (off >= r->win_off && off - r->win_off <= r->win_len &&
	    r->win_len - (off - r->win_off) >= n) {
		*p = r->buf + (off - r->win_off);
		*got = n;
		return LK_OK;
	}
	/* The window holds n bytes at least, and a reader whose end moved on
	 * (a feed following the writer) widens it, doubling up to
	 * READER_WINDOW_BYTES (window_max); without the memory for the
	 * widening it reads on through the window it has. */
	cap = r->cap;
	if (cap < window_max && off < r->end && r->end - off > cap)
		cap = cap * 2 < window_max ? cap * 2 : window_max;
	if (cap < n)
		cap = n;
	if (cap != r->cap) {
		uint8_t *b = mem_realloc(r->buf, cap);

		if (b) {
			r->buf = b;
			r->cap = cap;
		} else if (n > r->cap) {
			return err_set(LK_NOMEM, "allocating a %zu-byte read buffer",
				       n);
		}
	}
	r->win_off = off;
	r->win_len = 0;
	want = off >= r->end ? 0 : (size_t)(r->end - off < r->cap ? r->end - off
								  : r->cap);
	if (want > 0) {
		st = r->io->pread(r->io->ctx, r->seg->file, r->buf, want, off,
				  &r->win_len);
		if (st != LK_OK) {
			err_prefix("segment %s", r->seg->name);
			return st;
		}
	}
	*p = r->buf;
	*got = r->win_len < n ? r->win_len : n;
	return LK_OK;
}

int seg_reader_zero_from(struct seg_reader *r, uint64_t from)
{
	while (from < r->end) {
		size_t n = r->end - from < r->cap ? (size_t)(r->end - from)
						  : r->cap;
		const uint8_t *p = NULL;
		size_t got = 0;

		if (seg_reader_get(r, from, n, &p, &got) != LK_OK)
			return 0;
		for (size_t i = 0; i < got; i++)
			if (p[i])
				return 0;
		/* The file ends before r->end: a reader beside the writer saw
		 * it longer, before a seal dropped the zero prefill.  There is
		 * nothing past its end, zero or not. */
		if (got < n)
			return 1;
		from += n;
	}
	return 1;
}

lk_status seg_reader_record(struct seg_reader *r, uint64_t off,
			    struct record *rec, const char **why)
{
	const uint8_t *p = NULL;
	uint32_t size;
	size_t got = 0;
	lk_status st;

	LK_ASSERT(off < r->end);
	st = seg_reader_get(r, off, REC_PREFIX_BYTES_MAX, &p, &got);
	if (st != LK_OK)
		return st;
	switch (record_peek_size(&size, p, got, why)) {
	case REC_PEEK_SIZE:
		break;
	case REC_PEEK_SHORT:
		*why = "record truncated at end of file";
		return LK_CORRUPT;
	case REC_PEEK_BAD:
		return LK_CORRUPT;
	}
	st = seg_reader_get(r, off, size, &p, &got);
	if (st != LK_OK)
		return st;
	if (got < size) {
		*why = "record runs past end of file";
		return LK_CORRUPT;
	}
	return record_decode(rec, p, size, r->seg->hdr.record_seq_base,
			     seg_seed(r->seg, off), why);
}

uint64_t seg_reader_next_valid(struct seg_reader *r, uint64_t from,
			       int *gave_up)
{
	uint64_t budget = SEG_RESYNC_BUDGET_BYTES;

	*gave_up = 0;
	for (uint64_t pos = from; pos + REC_BYTES_MIN <= r->end; pos++) {
		const uint8_t *p;
		struct record rec;
		const char *why;
		uint32_t size;
		size_t got;

		if (seg_reader_get(r, pos, REC_PREFIX_BYTES_MAX, &p, &got) !=
			    LK_OK ||
		    got < REC_BYTES_MIN)
			break;
		if (record_peek_size(&size, p, got, &why) != REC_PEEK_SIZE ||
		    size > r->end - pos)
			continue;
		if (size > budget) {
			*gave_up = 1;
			return r->end;
		}
		budget -= size;
		if (seg_reader_get(r, pos, size, &p, &got) == LK_OK &&
		    got == size &&
		    record_decode(&rec, p, size, r->seg->hdr.record_seq_base,
				  seg_seed(r->seg, pos), &why) == LK_OK)
			return pos;
	}
	return r->end;
}
