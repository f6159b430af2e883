/* SPDX-License-Identifier: MIT */
/*
 * dump_record.c - the object of one put or delete (dump_record.h), the
 * same for `logkeep dump` and for the messages `logkeep ship` publishes.
 *
 * A mesh namespace's value is shown field by field through
 * lk_mesh_describe(), the mesh layer's one reader of its values; other
 * values as text when they are clean text, else as hex (key_hex,
 * value_hex).  A ledger entry read in log order gets a chain status
 * against the entry before it: ok, broken, gap, or unchecked when the
 * one before was not read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_format.h"
#include "cli_out.h"
#include "dump_record.h"
#include "logkeep_mesh.h"

/* A value shown as hex is at most this long in hex digits' bytes: a
 * 1 MiB value is 2 MiB of text, one at a time. */
#define DUMP_TEXT_MAX (2u * LK_VALUE_BYTES_MAX + 1u)

/* ---------------------------------------------------------------------- */
/* Scalars                                                                */
/* ---------------------------------------------------------------------- */

/* A copy of p[0..n) with a NUL (the out_* calls take C strings). */
static char *dup_n(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

char *dump_hex(const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = p;
	char *s = n < DUMP_TEXT_MAX / 2 ? malloc(2 * n + 1) : NULL;

	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[b[i] >> 4];
		s[2 * i + 1] = digits[b[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

int dump_bytes(struct out *o, const char *key, const void *p, size_t n)
{
	int clean = text_is_clean(p, n);
	char *s = clean ? dup_n(p, n) : dump_hex(p, n);
	char name[32];

	snprintf(name, sizeof name, clean ? "%s" : "%s_hex", key);
	if (!s)
		return -1;
	out_kv_str(o, name, s);
	free(s);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Mesh values                                                            */
/* ---------------------------------------------------------------------- */

struct fields {
	struct out *o;
	int failed;
	uint64_t list_left;      /* items of the open list still to come */
	uint64_t position;       /* a ledger entry's */
	const uint8_t *prev_hash, *hash;
	uint8_t prev[32], self[32];
	uint64_t entries;        /* the ledger head's */
	const uint8_t *last_hash;
	uint8_t last[32];
};

static void put_field(void *arg, const lk_mesh_field *f)
{
	struct fields *fs = arg;
	struct out *o = fs->o;

	if (f->name)
		out_key(o, f->name);
	switch (f->kind) {
	case LK_MESH_FIELD_STR:
		if (text_is_clean(f->s, f->n)) {
			char *s = dup_n(f->s, f->n);

			if (s)
				out_str(o, s);
			else
				fs->failed = 1;
			free(s);
		} else {
			char *s = dump_hex(f->s, f->n);

			out_str(o, s ? s : "");
			free(s);
		}
		break;
	case LK_MESH_FIELD_U64:
		out_u64(o, f->u);
		if (f->name && strcmp(f->name, "position") == 0)
			fs->position = f->u;
		if (f->name && strcmp(f->name, "entries") == 0)
			fs->entries = f->u;
		break;
	case LK_MESH_FIELD_TIME:
		out_time(o, f->u);
		break;
	case LK_MESH_FIELD_BOOL:
		out_bool(o, f->u != 0);
		break;
	case LK_MESH_FIELD_HASH: {
		char *s = dump_hex(f->hash, 32);

		out_str(o, s ? s : "");
		free(s);
		if (strcmp(f->name, "prev_hash") == 0) {
			memcpy(fs->prev, f->hash, 32);
			fs->prev_hash = fs->prev;
		} else if (strcmp(f->name, "last_hash") == 0) {
			memcpy(fs->last, f->hash, 32);
			fs->last_hash = fs->last;
		} else if (strcmp(f->name, "hash") == 0) {
			memcpy(fs->self, f->hash, 32);
			fs->hash = fs->self;
		}
		break;
	}
	case LK_MESH_FIELD_LIST:
		out_seq_begin(o);
		fs->list_left = f->u;
		if (f->u == 0)
			out_seq_end(o);
		return;
	}
	if (!f->name && fs->list_left > 0 && --fs->list_left == 0)
		out_seq_end(o);
}

/* The ledger head's status against the last entry read before it (the
 * head is written after the entry it names, in the same commit). */
static const char *head_status(const struct dump_chain *c,
			       const struct fields *fs)
{
	if (fs->entries == 0 || c->pos == 0 || fs->entries > c->pos)
		return "unchecked";
	if (fs->entries < c->pos)
		return "behind"; /* written after later entries: rolled back */
	return memcmp(fs->last_hash, c->hash, 32) == 0 ? "ok" : "broken";
}

/* The chain status of a ledger entry read in log order, or of the ledger
 * head; NULL for other records. */
static const char *chain_status(struct dump_chain *c, const struct fields *fs)
{
	static const uint8_t zero[32];
	const char *status;

	if (fs->last_hash)
		return head_status(c, fs);
	if (!fs->prev_hash || !fs->hash)
		return NULL;
	if (fs->position == 1)
		status = memcmp(fs->prev_hash, zero, 32) == 0 ? "ok" : "broken";
	else if (c->pos == 0)
		status = "unchecked"; /* the entry before was not read */
	else if (fs->position == c->pos + 1)
		status = memcmp(fs->prev_hash, c->hash, 32) == 0 ? "ok"
								  : "broken";
	else
		status = "gap";
	c->pos = fs->position;
	memcpy(c->hash, fs->hash, 32);
	return status;
}

/* Prints the value of a put (or the key's fields of a delete) of a mesh
 * namespace; 0 if ns is not one (the caller prints raw bytes), -1 when
 * out of memory. */
static int put_mesh(struct out *o, const struct dump_record *r,
		    struct dump_chain *chain)
{
	struct fields fs;
	const char *what = NULL;
	const char *status;
	lk_status st;

	if (r->raw || !r->ns_name || strncmp(r->ns_name, "mesh.", 5) != 0)
		return 0;
	memset(&fs, 0, sizeof fs);
	fs.o = o;
	/* the fields go in a map of their own, after "mesh" */
	out_key(o, "value");
	out_map_begin(o);
	st = lk_mesh_describe(&what, r->ns_name, r->key, r->key_len,
			      r->del ? NULL : r->value, r->value_len,
			      put_field, &fs);
	while (fs.list_left > 0) { /* a list cut short by damage */
		out_str(o, "");
		fs.list_left--;
		if (fs.list_left == 0)
			out_seq_end(o);
	}
	out_map_end(o);
	if (what)
		out_kv_str(o, "mesh", what);
	if (st != LK_OK && st != LK_NOT_FOUND) {
		const char *msg = lk_errmsg();

		out_kv_str(o, "value_problem", msg && *msg ? msg
							   : lk_strerror(st));
	}
	if (chain && !r->del && r->checksum_ok && st == LK_OK &&
	    (status = chain_status(chain, &fs)) != NULL)
		out_kv_str(o, "chain", status);
	return fs.failed ? -1 : 1;
}

/* ---------------------------------------------------------------------- */
/* The record                                                             */
/* ---------------------------------------------------------------------- */

int dump_record_members(struct out *o, const struct dump_record *r,
			struct dump_chain *chain)
{
	int failed = 0;

	out_kv_u64(o, "seq", r->seq);
	if (r->ns_name)
		out_kv_str(o, "namespace", r->ns_name);
	out_kv_u64(o, "namespace_id", r->ns);
	failed |= dump_bytes(o, "key", r->key, r->key_len);
	out_kv_str(o, "checksum", r->checksum_ok ? "ok" : "mismatch");
	if (r->del)
		return put_mesh(o, r, chain) < 0 || failed ? -1 : 0;
	if (r->expire_at_ms)
		out_kv_time(o, "expires_at", r->expire_at_ms);
	if (r->compressed)
		out_kv_u64(o, "stored_bytes", r->stored_len);
	out_kv_u64(o, "value_bytes", r->value_len);
	if (r->checksum_ok) {
		int m = put_mesh(o, r, chain);

		if (m != 0)
			return m < 0 || failed ? -1 : 0;
	}
	failed |= dump_bytes(o, "value", r->value, r->value_len);
	return failed ? -1 : 0;
}
