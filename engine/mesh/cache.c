/* SPDX-License-Identifier: MIT */
/*
 * cache.c - the path cache (logkeep_mesh.h): (source, destination, k) ->
 * bundle, expiring after a TTL.
 *
 * Entries are records with the engine's expiry, so a read never returns
 * an expired one and compaction drops them from disk and index without
 * being told.  The namespace is no-sync (lk_ns_set_nosync): a router
 * recomputing paths does not pay an fdatasync per entry, and a power cut
 * costs at most a recomputation.
 *
 * Key: src_len:u8 source dst_len:u8 destination k:u32be.
 * Value (v1): version:u8 created_ms:u64 bundle (the rest).
 */
#include <stdlib.h>
#include <string.h>

#include "mesh.h"

#define CACHE_KEY_BYTES_MAX (2u + 2u * LK_MESH_ID_BYTES_MAX + 4u)

static lk_status cache_key(struct mbuf *key, const char *source,
			   const char *destination, uint32_t k)
{
	size_t sl, dl;
	lk_status st = mesh_check_str(source, LK_MESH_ID_BYTES_MAX, 0,
				      "cache source", &sl);

	if (st == LK_OK)
		st = mesh_check_str(destination, LK_MESH_ID_BYTES_MAX, 0,
				    "cache destination", &dl);
	if (st != LK_OK)
		return st;
	mbuf_init(key);
	mbuf_str8(key, source, sl);
	mbuf_str8(key, destination, dl);
	mbuf_be32(key, k);
	return mbuf_status(key, "a cache key");
}

lk_status lk_mesh_cache_set(lk_mesh *m, const char *source,
			    const char *destination, uint32_t k,
			    const char *bundle, size_t bundle_len,
			    uint32_t ttl_s)
{
	struct mbuf key, v;
	uint64_t now;
	lk_status st = mesh_check(m);

	if (st == LK_OK && !bundle && bundle_len)
		st = lk_fail(LK_INVALID, "cache bundle: NULL");
	if (st == LK_OK && bundle_len > LK_MESH_BUNDLE_BYTES_MAX)
		st = lk_fail(LK_TOO_BIG, "cache bundle of %zu bytes: at most %u",
			     bundle_len, LK_MESH_BUNDLE_BYTES_MAX);
	if (st == LK_OK)
		st = cache_key(&key, source, destination, k);
	if (st != LK_OK)
		return st;
	now = lk_now_ms(m->db);
	if (ttl_s == 0)
		ttl_s = LK_MESH_CACHE_TTL_DEFAULT_S;
	mbuf_init(&v);
	mbuf_u8(&v, MESH_VALUE_V1);
	mbuf_u64(&v, now);
	mbuf_bytes(&v, bundle, bundle_len);
	st = mbuf_status(&v, "a cache entry");
	if (st == LK_OK)
		st = lk_put(m->db, m->ns_cache, key.p, key.len, v.p, v.len,
			    now + (uint64_t)ttl_s * 1000u);
	mbuf_free(&v);
	mbuf_free(&key);
	return st;
}

lk_status lk_mesh_cache_get(char **bundle, size_t *bundle_len, lk_mesh *m,
			    const char *source, const char *destination,
			    uint32_t k)
{
	struct mbuf key;
	struct mread r;
	void *v;
	size_t vlen;
	lk_status st = mesh_check(m);

	if (st == LK_OK && !bundle)
		st = lk_fail(LK_INVALID, "lk_mesh_cache_get: NULL bundle");
	if (st == LK_OK)
		st = cache_key(&key, source, destination, k);
	if (st != LK_OK)
		return st;
	*bundle = NULL;
	if (bundle_len)
		*bundle_len = 0;
	st = lk_get(&v, &vlen, m->db, m->ns_cache, key.p, key.len);
	mbuf_free(&key);
	if (st != LK_OK)
		return st;
	mread_init(&r, v, vlen, "cache value");
	st = mread_version(&r);
	(void)mread_u64(&r, "created_at");
	if (st == LK_OK)
		st = mread_end(&r, 1);
	if (st == LK_OK && vlen - r.at > LK_MESH_BUNDLE_BYTES_MAX)
		st = lk_fail(LK_CORRUPT, "cache value: bundle of %zu bytes",
			     vlen - r.at);
	if (st == LK_OK) {
		/* the bundle is the tail: move it to the front (the NUL
		 * lk_get put after the value follows it) */
		size_t n = vlen - r.at;

		memmove(v, (char *)v + r.at, n + 1);
		*bundle = v;
		if (bundle_len)
			*bundle_len = n;
		return LK_OK;
	}
	lk_free(v);
	return st;
}

/* Deletes, in batches, the keys a scan collected. */
struct sweep {
	lk_mesh *m;
	lk_batch *b;
	uint64_t seen;
	lk_status st;
};

static lk_status sweep_flush(struct sweep *s)
{
	if (s->st == LK_OK && lk_batch_count(s->b) > 0) {
		/* deletes draw on the space reserve: they work on a full
		 * device, and they are no-sync like the cache's puts */
		s->st = lk_commit(s->m->db, s->b);
	}
	return s->st;
}

static lk_status sweep_one(void *arg, const void *key, size_t key_len,
			   const void *value, size_t value_len)
{
	struct sweep *s = arg;

	(void)value;
	(void)value_len;
	s->seen++;
	s->st = lk_batch_del(s->b, s->m->ns_cache, key, key_len);
	if (s->st == LK_OK && lk_batch_count(s->b) >= 1000)
		sweep_flush(s);
	return s->st;
}

lk_status lk_mesh_cache_clear_all(uint64_t *removed, lk_mesh *m)
{
	struct sweep s = { m, NULL, 0, LK_OK };
	lk_status st = mesh_check(m);

	if (st == LK_OK && !removed)
		st = lk_fail(LK_INVALID, "lk_mesh_cache_clear_all: NULL count");
	if (st == LK_OK)
		st = lk_batch_new(&s.b);
	if (st != LK_OK)
		return st;
	*removed = 0;
	st = mesh_scan(m, m->ns_cache, NULL, 0, sweep_one, &s);
	if (st == LK_OK)
		st = sweep_flush(&s);
	lk_batch_free(s.b);
	if (st == LK_OK)
		*removed = s.seen;
	return st;
}

lk_status lk_mesh_cache_clear_expired(uint64_t *removed, lk_mesh *m)
{
	lk_status st = mesh_check(m);

	if (st == LK_OK && !removed)
		st = lk_fail(LK_INVALID,
			     "lk_mesh_cache_clear_expired: NULL count");
	return st != LK_OK ? st : lk_purge_expired(removed, m->db, m->ns_cache);
}
