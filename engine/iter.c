/* SPDX-License-Identifier: MIT */
/*
 * iter.c - iterators: the live records of a namespace as of the moment
 * of lk_iter_open(), in log order.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "segtable.h"

#define ITER_MAGIC 0x6c6b6974u /* "lkit" */

/* ---------------------------------------------------------------------- */
/* Iterators                                                              */
/* ---------------------------------------------------------------------- */

struct lk_iter {
	uint32_t magic;
	struct lk_db *db;
	struct ix_loc *locs;
	struct segment **pins;  /* the segment table when it was opened */
	size_t n, cap, next;
	uint8_t *prefix;
	size_t prefix_len;
	uint8_t *buf;    /* the current record */
	uint8_t *value;  /* its decompressed value, if it was compressed */
	lk_status st;
};

static void collect(void *arg, uint8_t ns, struct ix_loc loc, int expiring)
{
	struct lk_iter *it = arg;

	(void)ns;
	(void)expiring;
	if (it->n < it->cap)
		it->locs[it->n++] = loc;
}

static int loc_cmp(const void *a, const void *b)
{
	const struct ix_loc *x = a, *y = b;

	if (x->seg != y->seg)
		return x->seg < y->seg ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

lk_status lk_iter_open(lk_iter **out, lk_db *db, uint32_t ns,
		       const void *prefix, size_t prefix_len)
{
	struct lk_iter *it;
	lk_status st;

	if (!out)
		return err_set(LK_INVALID, "lk_iter_open: NULL out-pointer");
	*out = NULL;
	st = handle_check(db);
	if (st != LK_OK)
		return st;
	if (ns == 0 || ns > LK_NS_COUNT_MAX)
		return err_set(LK_INVALID, "namespace %u out of range", ns);
	if (prefix_len && !prefix)
		return err_set(LK_INVALID, "NULL prefix with a length");
	if (prefix_len > LK_KEY_BYTES_MAX)
		return err_set(LK_TOO_BIG, "prefix longer than any key");
	st = handle_enter(db, DB_USE_ITER);
	if (st != LK_OK)
		return st;
	it = mem_calloc(1, sizeof *it);
	if (!it) {
		handle_leave(db, DB_USE_ITER);
		return err_set(LK_NOMEM, "allocating an iterator");
	}
	it->magic = ITER_MAGIC;
	it->db = db;
	it->prefix_len = prefix_len;
	if (prefix_len) {
		it->prefix = mem_alloc(prefix_len);
		if (!it->prefix)
			goto nomem;
		memcpy(it->prefix, prefix, prefix_len);
	}
	it->pins = mem_calloc(IX_SEG_SLOTS, sizeof *it->pins);
	if (!it->pins)
		goto nomem;
	segtable_rdlock(db);
	it->cap = (size_t)index_count(segtable_index(db), (uint8_t)ns);
	it->locs = mem_alloc((it->cap ? it->cap : 1) * sizeof *it->locs);
	if (it->locs) {
		index_foreach(segtable_index(db), (int)ns, collect, it);
		/* The iterator reads as of now, from these segments, even
		 * if compaction replaces them meanwhile. */
		for (uint32_t i = 1; i < IX_SEG_SLOTS; i++) {
			it->pins[i] = segtable_at(db, i);
			if (it->pins[i])
				segtable_pin(it->pins[i]);
		}
	}
	segtable_unlock(db);
	if (!it->locs)
		goto nomem;
	/* Log order reads the segments sequentially. */
	qsort(it->locs, it->n, sizeof *it->locs, loc_cmp);
	*out = it;
	return LK_OK;

nomem: {
	size_t keys = it->cap; /* before the close frees it */

	lk_iter_close(it);
	return err_set(LK_NOMEM, "allocating an iterator over %zu keys",
		       keys);
}
}

lk_status lk_iter_next(lk_iter *it, const void **key, size_t *key_len,
		       const void **value, size_t *value_len,
		       uint64_t *expire_at_ms)
{
	if (!it || it->magic != ITER_MAGIC)
		return err_set(LK_MISUSE, "not an iterator (closed?)");
	if (handle_check(it->db) != LK_OK)
		return LK_MISUSE;
	mem_free(it->buf);
	mem_free(it->value);
	it->buf = it->value = NULL;
	while (it->next < it->n) {
		struct ix_loc loc = it->locs[it->next++];
		struct record rec;
		lk_status st;

		st = segtable_read_at(it->db, it->pins[loc.seg], loc, &rec, &it->buf);
		if (st != LK_OK)
			return st;
		if (handle_expired(it->db, &rec) || rec.key_len < it->prefix_len ||
		    (it->prefix_len &&
		     memcmp(rec.key, it->prefix, it->prefix_len) != 0)) {
			mem_free(it->buf);
			it->buf = NULL;
			continue;
		}
		if (key)
			*key = rec.key;
		if (key_len)
			*key_len = rec.key_len;
		if (expire_at_ms)
			*expire_at_ms = rec.expire_at_ms;
		if (rec.flags & REC_F_ZSTD) {
			size_t n;

			st = compressor_unpack(it->db->cmp, rec.value,
					       rec.value_len, &it->value, &n);
			if (st != LK_OK)
				return st;
			if (value)
				*value = it->value;
			if (value_len)
				*value_len = n;
		} else {
			if (value)
				*value = rec.value;
			if (value_len)
				*value_len = rec.value_len;
		}
		return LK_OK;
	}
	return LK_NOT_FOUND;
}

void lk_iter_close(lk_iter *it)
{
	if (!it || it->magic != ITER_MAGIC)
		return;
	it->magic = 0;
	for (uint32_t i = 1; it->pins && i < IX_SEG_SLOTS; i++)
		if (it->pins[i])
			segtable_unpin(it->db, it->pins[i]);
	mem_free(it->pins);
	mem_free(it->locs);
	mem_free(it->prefix);
	mem_free(it->buf);
	mem_free(it->value);
	handle_leave(it->db, DB_USE_ITER);
	mem_free(it);
}
