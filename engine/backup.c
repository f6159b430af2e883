/* SPDX-License-Identifier: MIT */
/*
 * backup.c - lk_backup(): a consistent copy of an open database while it
 * keeps taking writes.  Restoring is opening the copy.
 *
 * Method.  Under log_mu (the leader's lock: the backup waits at most for
 * one group's write and sync, then holds it for microseconds) the
 * backup notes the segments and, for the active one, its data_end: the end
 * of the last commit.  Every commit acknowledged before the backup started
 * lies below that point, and segment bytes below it never change (records
 * are never rewritten in place), so the copy needs no lock afterwards and
 * writers go on.  Each segment is copied up to its noted end into a new
 * file of the same name, synced, and the directory synced last.  The copy
 * of the active segment ends on a commit, unsealed: the newest segment of
 * the copy, which opens cleanly.  Zero prefill past data_end is not copied.
 *
 * The backup pins the segments it noted (segtable_pin): a compaction that
 * replaces them meanwhile removes their files, but the copy goes on from
 * the open files, and the copy is the log as it was when noted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "backup.h"
#include "commit.h"
#include "error.h"

/* One pread and one pwrite move this much: large enough that a copy is
 * bound by the device, small enough for a router's memory, and the
 * progress callback is called every quarter megabyte. */
#define COPY_CHUNK_BYTES (256u * 1024u)

struct copy_item {
	struct segment *seg;
	uint64_t end;
};

/* The segments in log order with the ends to copy, as of now. */
static lk_status note_segments(struct lk_db *db, struct copy_item **out,
			       size_t *n, uint64_t *total)
{
	struct copy_item *v;
	size_t k = 0;

	*out = NULL;
	*total = 0;
	/* Sized by the limit, not by seg_count: a rotation may add a segment
	 * before the locks are taken. */
	v = mem_calloc(LK_SEGMENT_COUNT_MAX, sizeof *v);
	if (!v)
		return err_set(LK_NOMEM, "backup: listing segments");
	commit_log_lock(db);
	segtable_rdlock(db);
	for (uint32_t i = 1; i < IX_SEG_SLOTS && k < LK_SEGMENT_COUNT_MAX; i++) {
		struct segment *s = segtable_at(db, i);

		/* A compaction's output joins the log when its old
		 * segments leave the table, under this lock. */
		if (!s || s->installing)
			continue;
		segtable_pin(s);
		v[k].seg = s;
		v[k].end = s->data_end;
		*total += s->data_end;
		k++;
	}
	segtable_unlock(db);
	commit_log_unlock(db);
	/* slots are reused after compaction: sort by log position */
	for (size_t a = 1; a < k; a++)
		for (size_t b = a; b > 0 && v[b - 1].seg->hdr.seq >
						  v[b].seg->hdr.seq;
		     b--) {
			struct copy_item t = v[b];

			v[b] = v[b - 1];
			v[b - 1] = t;
		}
	*out = v;
	*n = k;
	return LK_OK;
}

static lk_status copy_segment(struct lk_db *db, lk_io_dir *dest,
			      const struct copy_item *it, uint8_t *buf,
			      uint64_t *done, uint64_t total,
			      lk_progress_fn fn, void *arg)
{
	const lk_io *io = db->io;
	lk_io_file *f;
	lk_status st;

	st = io->open(io->ctx, dest, it->seg->name,
		      LK_IO_WRITE | LK_IO_CREATE | LK_IO_EXCL, &f);
	if (st != LK_OK)
		return st;
	for (uint64_t off = 0; st == LK_OK && off < it->end;) {
		size_t n = it->end - off < COPY_CHUNK_BYTES
				   ? (size_t)(it->end - off)
				   : COPY_CHUNK_BYTES;
		size_t got = 0;

		st = io->pread(io->ctx, it->seg->file, buf, n, off, &got);
		if (st == LK_OK && got != n)
			st = err_set(LK_IO, "backup: segment %s is shorter than "
					    "its data",
				     it->seg->name);
		if (st == LK_OK)
			st = io->pwrite(io->ctx, f, buf, n, off);
		off += n;
		*done += n;
		if (fn && st == LK_OK)
			fn(arg, *done, total);
	}
	if (st == LK_OK)
		st = io->sync(io->ctx, f);
	io->close(io->ctx, f);
	return st;
}

static lk_status dest_is_empty(void *arg, const char *name)
{
	(void)arg;
	return err_set(LK_EXISTS, "backup: the destination holds \"%.64s\" "
				  "already; back up into a new directory",
		       name);
}

lk_status backup_run(struct lk_db *db, const char *dest_path,
		     lk_progress_fn fn, void *arg)
{
	struct copy_item *items = NULL;
	uint64_t total = 0, done = 0;
	lk_io_dir *dest = NULL;
	uint8_t *buf = NULL;
	const lk_io *io;
	size_t n = 0;
	lk_status st;

	io = db->io;
	st = io->dir_open(io->ctx, dest_path, 1, &dest);
	if (st == LK_OK)
		st = io->dir_list(io->ctx, dest, dest_is_empty, NULL);
	if (st == LK_OK)
		st = note_segments(db, &items, &n, &total);
	if (st == LK_OK) {
		buf = mem_alloc(COPY_CHUNK_BYTES);
		if (!buf)
			st = err_set(LK_NOMEM, "backup: a copy buffer");
	}
	for (size_t i = 0; st == LK_OK && i < n; i++)
		st = copy_segment(db, dest, &items[i], buf, &done, total, fn,
				  arg);
	if (st == LK_OK)
		st = io->dir_sync(io->ctx, dest);
	if (st != LK_OK)
		err_prefix("backup to %s", dest_path);
	mem_free(buf);
	for (size_t i = 0; i < n; i++)
		segtable_unpin(db, items[i].seg);
	mem_free(items);
	if (dest)
		io->dir_close(io->ctx, dest);
	return st;
}
