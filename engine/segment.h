/* SPDX-License-Identifier: MIT */
/*
 * segment.h - segment files: naming, the header, create/open, and a
 * windowed sequential reader for scans.
 *
 * A segment is a file named <seq as 16 hex digits>.seg (generation 0) or
 * <seq>.<generation in hex>.seg (rewritten by compaction), holding
 *
 *   seg_header (64 bytes, little-endian)
 *     0  magic          8  "LKSEG\r\n\032": catches text-mode and truncating
 *                          transfers the way PNG's signature does
 *     8  version        u16  LK_FORMAT_VERSION
 *    10  header_bytes   u16  64
 *    12  flags          u32  0 (reserved)
 *    16  db_id          16   random at creation; every segment carries it
 *    32  seq            u64  position in the log: 1, 2, 3, ...
 *    40  seq_prev       u64  position of the segment before it (0: none);
 *                            a missing or duplicated segment breaks the
 *                            chain and is detected at open
 *    48  record_seq_base u64 base of the records' delta-coded seqs
 *    56  generation     u32  0 for segments written by commits
 *    60  checksum       u32  low 32 bits of XXH3_64(bytes 0..60, seed 0)
 *   record*             see record.h
 *
 * Invariants: segments of a database form a chain by seq; every segment
 * but the newest ends with a seal record; a segment's header is synced
 * (and the directory too) before any record in it is acknowledged; from
 * format version 2 on, a segment is sealed only after its successor's
 * header and directory entry are synced, so the newest is never sealed.
 */
#ifndef LK_SEGMENT_H
#define LK_SEGMENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "record.h"

#define SEG_HEADER_BYTES 64u

#define SEG_NAME_BYTES 40u
#define SEG_DB_ID_BYTES 16u

struct seg_header {
	uint16_t version;
	uint8_t db_id[SEG_DB_ID_BYTES];
	uint64_t seq;
	uint64_t seq_prev;
	uint64_t record_seq_base;
	uint32_t generation;
};

/* An open segment.  Fields after `file` are owned by the database and
 * protected by its locks (see handle.h). */
struct segment {
	lk_io_file *file;
	char name[SEG_NAME_BYTES];
	struct seg_header hdr;
	uint64_t db_seed;     /* record_hash of db_id: the checksum seed base */
	uint32_t slot;        /* index of this segment in the database table */
	int sealed;           /* ends with a seal record: no more writes */
	uint64_t data_end;    /* end of the last committed record */
	uint64_t file_size;   /* bytes in the file, zero prefill included */
	uint64_t synced_end;  /* data below this is known to be durable */
	uint64_t live_bytes;  /* bytes of records the index points at */
	uint64_t ops;         /* committed puts and deletes in the segment */
	/* The table's reference and one per reader that reads the segment
	 * outside the index lock; the last one closes it (segtable_unpin). */
	_Atomic uint32_t refs;
	int installing;       /* a compaction's output not yet in the log */
	/* The writer's running hash of bytes [0, hashed_end), for the seal's
	 * segment_hash (seg_hash_add); NULL after a gap or for no memory,
	 * and then seg_hash_get reads the file back instead. */
	struct rec_hasher *hasher;
	uint64_t hashed_end;
	/* Reads through a mapping: bytes [0, map_len) of a sealed segment,
	 * which no write changes any more (seg_map), or NULL, and then
	 * reads use pread.  Published once, before or while readers look
	 * (acquire/release), and released only by seg_close, when no
	 * reader is left; *map_account (the database's count of mapped
	 * bytes) gives map_len back then. */
	_Atomic(const uint8_t *) map;
	size_t map_len;
	_Atomic uint64_t *map_account;
};

void seg_name(char name[SEG_NAME_BYTES], uint64_t seq, uint32_t generation);

/* The files a data directory holds, told apart by name. */
enum dir_file {
	DIR_FILE_OTHER,        /* LOCK, strangers */
	DIR_FILE_SEGMENT,      /* <seq>.seg, <seq>.<generation>.seg */
	DIR_FILE_SNAPSHOT,     /* <serial>.snap (snapshot.h) */
	DIR_FILE_SNAPSHOT_TMP, /* <serial>.snap.tmp, unfinished */
};

/* The one parser of data-directory file names: returns the kind of
 * `name` in canonical form (16 lowercase hex digits, not all zero),
 * with its number (segment seq or snapshot serial) and the segment's
 * generation (0 for the others).  Non-canonical spellings are OTHER. */
enum dir_file dir_file_parse(const char *name, uint64_t *number,
			     uint32_t *generation);

/* Returns 1 and fills seq and generation if `name` is a segment file name
 * in canonical form, else 0 (dir_file_parse). */
int seg_parse_name(const char *name, uint64_t *seq, uint32_t *generation);

void seg_header_encode(uint8_t out[SEG_HEADER_BYTES],
		       const struct seg_header *h);

/* Returns LK_OK, LK_VERSION (a newer format) or LK_CORRUPT with *why. */
lk_status seg_header_decode(struct seg_header *h,
			    const uint8_t in[SEG_HEADER_BYTES],
			    const char **why);

/* The checksum seed of the record at `offset` of s. */
uint64_t seg_seed(const struct segment *s, uint64_t offset);

/* Creates a new segment file for header h (exclusive), writes and syncs
 * the header, and syncs the directory.  Returns write statuses. */
lk_status seg_create(struct segment **s, const lk_io *io, lk_io_dir *dir,
		     const struct seg_header *h);

/* The seed of s's segment_hash (record.h): binds it to the database and
 * to the segment's place and generation, like a record's checksum. */
uint64_t seg_hash_seed(const struct segment *s);

/* Tells the running hash of s that bytes p[0..n) were written at `at` and
 * are now part of its data.  Bytes that do not follow what it holds drop
 * it (seg_hash_get then reads the file). */
void seg_hash_add(struct segment *s, const void *p, size_t n, uint64_t at);

/* The segment_hash of bytes [0, end) of s: from the running hash when it
 * holds exactly those bytes, else read back from the file in 64 KiB
 * steps.  Returns LK_OK, LK_IO, LK_NOMEM, or LK_CORRUPT if the file ends
 * before `end`. */
lk_status seg_hash_get(struct segment *s, const lk_io *io, uint64_t end,
		       uint64_t *hash);

/* The pacing of a long read (the scrub's, scrub.c): fn is called after
 * each step of it with the bytes that step read, and a status other than
 * LK_OK ends the read, which returns that status.  So a background reader
 * can sleep between steps at its rate, and stop within one step when its
 * handle closes, instead of after the whole file. */
struct seg_pace {
	lk_status (*fn)(void *arg, uint64_t bytes);
	void *arg;
};

/* The same, always read from the file; touches no field of s, so that a
 * reader that pinned s may call it beside the writer.  pace may be NULL;
 * else it is called after each 64 KiB step. */
lk_status seg_hash_read(const struct segment *s, const lk_io *io,
			uint64_t end, uint64_t *hash,
			const struct seg_pace *pace);

/* Finds the seal that ends a sealed segment at data_end: the one record
 * that ends exactly there and decodes as a seal.  Returns LK_OK with
 * *found 1 and *rec, *offset set, or *found 0 (no seal there); LK_IO. */
lk_status seg_find_seal(const struct segment *s, const lk_io *io,
			uint64_t data_end, struct record *rec,
			uint64_t *offset, int *found);

/* Opens an existing segment file (header not read).  Fills file_size. */
lk_status seg_open(struct segment **s, const lk_io *io, lk_io_dir *dir,
		   const char *name, int writable);

/* Maps bytes [0, data_end) of sealed s for reading, if `account` (the
 * mapped bytes of its database) stays within `cap` with them.  Returns 1
 * if s is mapped (now or before), 0 if it is read with pread: not
 * sealed, over the cap, or the table declined (see logkeep_io.h: not an
 * error, and the detail it set is dropped). */
int seg_map(struct segment *s, const lk_io *io, _Atomic uint64_t *account,
	    uint64_t cap);

/* The step seg_map and the replay's own mapping (segtable_map_replay)
 * share: maps the first len bytes of s's file (at most its size) if
 * `account` stays within `cap` with them, and charges it.  NULL, with
 * the account as it was, when it does not fit or the table declines. */
const uint8_t *seg_map_charged(struct segment *s, const lk_io *io,
				_Atomic uint64_t *account, uint64_t cap,
				uint64_t len);

/* Makes `map`, a mapping of s's first len bytes (its data_end: sealed s
 * holds nothing after them) already charged to `account`, the one
 * seg_map would make: s unmaps it on close. */
void seg_adopt_map(struct segment *s, const uint8_t *map, size_t len,
		   _Atomic uint64_t *account);

/* The mapping of s, or NULL. */
static inline const uint8_t *seg_mapped(const struct segment *s)
{
	return atomic_load_explicit(&s->map, memory_order_acquire);
}

/* Closes s: unmaps it, closes its file, frees it. */
void seg_close(struct segment *s, const lk_io *io);

/* A sequential reader over one segment, with a window that grows to hold
 * the largest record (bounded by LK_RECORD_BYTES_MAX). */
struct seg_reader {
	const lk_io *io;
	struct segment *seg;
	uint8_t *buf;
	size_t cap;
	uint64_t win_off;  /* file offset of buf[0] */
	size_t win_len;    /* valid bytes in buf */
	uint64_t end;      /* read no further than this offset */
};

lk_status seg_reader_init(struct seg_reader *r, const lk_io *io,
			  struct segment *s, uint64_t end);
/* seg_reader_init for r zeroed, or holding a buffer from an init or a
 * move before (not freed): a buffer at least as large as init would make
 * is kept, with nothing in its window, so that a scan over many segments
 * allocates, and faults in, one buffer (on a guest whose page faults cost
 * 10 us, a fresh 1 MiB window cost 2.6 ms a segment).  On failure r holds
 * no buffer.  Returns LK_OK, LK_NOMEM. */
lk_status seg_reader_move(struct seg_reader *r, const lk_io *io,
			  struct segment *s, uint64_t end);
void seg_reader_free(struct seg_reader *r);

/* Test hook: readers hold at most `bytes` in their window from now on
 * (at least 4 KiB; 0: 1 MiB again), more only to hold a larger record,
 * so that a small log takes the paths of records outside the window
 * (recovery.c, replay_key_eq).  Returns the bound it replaces.  Not for
 * concurrent use. */
size_t seg_reader_window_max(size_t bytes);

/* Makes [off, off + n) readable at *p.  Returns LK_OK with *got == n, or
 * *got < n when the range passes r->end or the file's end (*p then holds
 * what there is); LK_IO, LK_NOMEM. */
lk_status seg_reader_get(struct seg_reader *r, uint64_t off, size_t n,
			 const uint8_t **p, size_t *got);

/* Returns 1 if every byte of [from, r->end) that the file holds is zero
 * (a file that ends before r->end holds nothing past its end); 0 on any
 * read error: the caller then treats the bytes as not known to be zero. */
int seg_reader_zero_from(struct seg_reader *r, uint64_t from);

/* Reads and decodes the record at `off` (before r->end: a walk stops
 * there) of s into *rec, with its bytes in r's window.  Returns LK_OK,
 * LK_CORRUPT with *why (including a few bytes too short to be a record,
 * or a record that runs past r->end), LK_IO, LK_NOMEM. */
lk_status seg_reader_record(struct seg_reader *r, uint64_t off,
			    struct record *rec, const char **why);

/* After damage, verify, dump and salvage look for the next offset where a
 * valid record starts, hashing at most this many bytes per damaged
 * stretch, so that hostile input cannot make them quadratic; past the
 * budget the rest of the segment is reported unchecked.  (A false match
 * needs a 32-bit checksum seeded by the database, segment and offset to
 * agree by chance.) */
#define SEG_RESYNC_BUDGET_BYTES (64u * 1024u * 1024u)

/* The first offset at or after `from` where a record decodes and passes
 * its checksum, or r->end; *gave_up is set when the budget ran out first
 * (the result is then r->end). */
uint64_t seg_reader_next_valid(struct seg_reader *r, uint64_t from,
			       int *gave_up);

#endif /* LK_SEGMENT_H */
