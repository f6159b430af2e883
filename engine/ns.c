/* SPDX-License-Identifier: MIT */
/*
 * ns.c - namespaces: small ids with names, kept in namespace 0, the
 * engine's catalog (record.h), and loaded from the index at open.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "commit.h"
#include "error.h"
#include "ns.h"
#include "segtable.h"
#include "snapshot.h"

/* ---------------------------------------------------------------------- */
/* Namespaces                                                             */
/* ---------------------------------------------------------------------- */

/* The namespaces' state (db->ns): the names of the catalog by id, under
 * mu, which lk_ns_open holds while it commits a new name (so it comes
 * before the commit's locks, handle.h). */
struct namespaces {
	struct lk_mutex mu;
	char *names[LK_NS_COUNT_MAX + 1];
};

struct ns_load {
	struct lk_db *db;
	lk_status st;
};

static void load_one(void *arg, uint8_t ns, struct ix_loc loc, int expiring)
{
	struct ns_load *nl = arg;
	struct lk_db *db = nl->db;
	struct record rec;
	uint8_t *buf;
	uint8_t id;

	(void)ns;
	(void)expiring;
	if (nl->st != LK_OK)
		return;
	nl->st = segtable_read(db, loc, &rec, &buf);
	if (nl->st != LK_OK)
		return;
	/* recovery checked the entry's form; a second name for an id can
	 * only come from two entries that are each valid alone */
	id = rec.value[0];
	if (!record_catalog_valid(&rec) || db->ns->names[id]) {
		nl->st = err_set(LK_CORRUPT, "namespace catalog entry at segment "
				 "slot %u offset %u is invalid",
				 loc.seg, loc.offset);
	} else {
		db->ns->names[id] = mem_alloc(rec.key_len + 1);
		if (!db->ns->names[id]) {
			nl->st = err_set(LK_NOMEM, "loading namespaces");
		} else {
			memcpy(db->ns->names[id], rec.key, rec.key_len);
			db->ns->names[id][rec.key_len] = 0;
		}
	}
	mem_free(buf);
}

lk_status ns_load(struct lk_db *db)
{
	struct ns_load nl = { db, LK_OK };
	const struct ix_loc *locs;
	size_t n;

	LK_ASSERT(db->ns == NULL);
	db->ns = mem_calloc(1, sizeof *db->ns);
	if (!db->ns)
		return err_set(LK_NOMEM, "allocating the namespaces' state");
	mutex_init(&db->ns->mu, LOCK_NS);

	if (!snapshot_catalog(db, &locs, &n)) {
		index_foreach(segtable_index(db), 0, load_one, &nl);
		return nl.st;
	}
	for (size_t i = 0; i < n; i++)
		load_one(&nl, 0, locs[i], 0);
	return nl.st;
}

void ns_free(struct lk_db *db)
{
	if (!db->ns)
		return;
	for (uint32_t i = 0; i <= LK_NS_COUNT_MAX; i++)
		mem_free(db->ns->names[i]);
	mutex_destroy(&db->ns->mu);
	mem_free(db->ns);
	db->ns = NULL;
}

/* Checks the arguments of lk_ns_open/find: LK_OK, with *ns set and
 * *found 1 for "default" (which the catalog does not hold), else *found 0
 * for the caller to look the name up; LK_INVALID, LK_MISUSE. */
static lk_status ns_args(uint32_t *ns, lk_db *db, const char *name,
			 int *found)
{
	lk_status st = handle_check(db);

	*found = 0;
	if (st != LK_OK)
		return st;
	if (!ns || !name)
		return err_set(LK_INVALID, "namespace lookup: NULL argument");
	if (!record_ns_name_valid(name, strlen(name)))
		return err_set(LK_INVALID, "namespace name \"%.64s\": 1 to %u "
				           "printable characters, no spaces",
			       name, LK_NS_NAME_BYTES_MAX);
	if (strcmp(name, "default") == 0) {
		*ns = LK_NS_DEFAULT;
		*found = 1;
	}
	return LK_OK;
}

/* Caller holds ns_mu. */
static lk_status ns_lookup(uint32_t *ns, struct lk_db *db, const char *name)
{
	LK_ASSERT(mutex_held(&db->ns->mu));

	for (uint32_t i = 2; i <= LK_NS_COUNT_MAX; i++) {
		if (db->ns->names[i] && strcmp(db->ns->names[i], name) == 0) {
			*ns = i;
			return LK_OK;
		}
	}
	return err_set(LK_NOT_FOUND, "no namespace \"%s\"", name);
}

lk_status lk_ns_find(uint32_t *ns, lk_db *db, const char *name)
{
	int found;
	lk_status st = ns_args(ns, db, name, &found);

	if (st != LK_OK || found)
		return st;
	mutex_lock(&db->ns->mu);
	st = ns_lookup(ns, db, name);
	mutex_unlock(&db->ns->mu);
	return st;
}

lk_status lk_ns_open(uint32_t *ns, lk_db *db, const char *name)
{
	lk_batch *b = NULL;
	lk_status st;
	size_t len;
	int found;
	uint8_t id;

	st = ns_args(ns, db, name, &found);
	if (st != LK_OK || found)
		return st;
	len = strlen(name);
	mutex_lock(&db->ns->mu);
	st = ns_lookup(ns, db, name);
	if (st == LK_OK || db->readonly)
		goto out;
	st = LK_OK;
	for (id = 2; id < LK_NS_COUNT_MAX && db->ns->names[id]; id++)
		;
	if (db->ns->names[id]) {
		st = err_set(LK_TOO_BIG, "all %u namespaces are in use",
			     LK_NS_COUNT_MAX - 1);
		goto out;
	}
	st = lk_batch_new(&b);
	if (st == LK_OK)
		st = batch_add(b, REC_PUT, 0, name, len, &id, 1, 0);
	if (st == LK_OK)
		st = handle_enter(db, DB_USE_WRITE); /* lk_close waits */
	if (st == LK_OK) {
		st = commit_batch(db, b);
		handle_leave(db, DB_USE_WRITE);
	}
	if (st == LK_OK) {
		db->ns->names[id] = mem_alloc(len + 1);
		if (!db->ns->names[id]) {
			/* Durable already; the next open will load it. */
			st = err_set(LK_NOMEM, "registering namespace %s", name);
		} else {
			memcpy(db->ns->names[id], name, len + 1);
			*ns = id;
		}
	}
	lk_batch_free(b);
out:
	mutex_unlock(&db->ns->mu);
	return st;
}

lk_status lk_ns_name(char *buf, size_t cap, lk_db *db, uint32_t ns)
{
	lk_status st = handle_check(db);

	if (st != LK_OK)
		return st;
	if (!buf || cap == 0)
		return err_set(LK_INVALID, "lk_ns_name: no buffer");
	if (ns == LK_NS_DEFAULT) {
		snprintf(buf, cap, "default");
		return LK_OK;
	}
	if (ns == 0 || ns > LK_NS_COUNT_MAX)
		return err_set(LK_INVALID, "namespace %u out of range", ns);
	mutex_lock(&db->ns->mu);
	if (db->ns->names[ns])
		snprintf(buf, cap, "%s", db->ns->names[ns]);
	else
		st = err_set(LK_NOT_FOUND, "no namespace %u", ns);
	mutex_unlock(&db->ns->mu);
	return st;
}

lk_status lk_ns_set_nosync(lk_db *db, uint32_t ns, int nosync)
{
	lk_status st = handle_check(db);

	if (st != LK_OK)
		return st;
	if (ns == 0 || ns > LK_NS_COUNT_MAX)
		return err_set(LK_INVALID, "namespace %u out of range", ns);
	commit_set_nosync(db, (uint8_t)ns, nosync);
	return LK_OK;
}
