/* SPDX-License-Identifier: MIT */
/*
 * describe.c - lk_mesh_describe(): any stored record of the mesh
 * namespaces, field by field, for `logkeep dump`.
 *
 * The layouts are the ones each collection's file documents (nodes.c,
 * policies.c, cache.c, ledger.c, telemetry.c); values go through the same
 * decoders the layer reads with (lk_mesh_*_decode) where there is one, so
 * that dump shows what the layer would see, and through the bounded
 * reader (value.h) otherwise.  Nothing here trusts a length it was not
 * given: a record cut or forged anywhere ends in LK_CORRUPT naming the
 * field, after the fields that did decode.
 */
#include <string.h>

#include "mesh.h"

struct desc {
	lk_mesh_field_fn fn;
	void *arg;
};

static void field(struct desc *d, const char *name, lk_mesh_field_kind kind,
		  const char *s, size_t n, uint64_t u, const uint8_t *hash)
{
	lk_mesh_field f = { name, kind, s, n, u, hash };

	d->fn(d->arg, &f);
}

static void f_str(struct desc *d, const char *name, const char *s, size_t n)
{
	field(d, name, LK_MESH_FIELD_STR, s, n, 0, NULL);
}

static void f_u64(struct desc *d, const char *name, uint64_t u)
{
	field(d, name, LK_MESH_FIELD_U64, NULL, 0, u, NULL);
}

static void f_time(struct desc *d, const char *name, uint64_t ms)
{
	field(d, name, LK_MESH_FIELD_TIME, NULL, 0, ms, NULL);
}

static void f_hash(struct desc *d, const char *name, const uint8_t *h)
{
	field(d, name, LK_MESH_FIELD_HASH, NULL, 0, 0, h);
}

static void f_list(struct desc *d, const char *name, const char *const *v,
		   size_t n)
{
	field(d, name, LK_MESH_FIELD_LIST, NULL, 0, n, NULL);
	for (size_t i = 0; i < n; i++)
		f_str(d, NULL, v[i], strlen(v[i]));
}

/* The end of a read: its status, with the reader's message. */
static lk_status read_end(const struct mread *r, lk_status st)
{
	if (st == LK_OK)
		st = mread_end(r, 0);
	return st;
}

/* ---------------------------------------------------------------------- */
/* Per collection                                                         */
/* ---------------------------------------------------------------------- */

static lk_status node(struct desc *d, const void *key, size_t key_len,
		      const void *value, size_t value_len)
{
	lk_mesh_node *n;
	lk_status st;

	f_str(d, "id", key, key_len);
	if (!value)
		return LK_OK;
	st = lk_mesh_node_decode(&n, key, key_len, value, value_len);
	if (st != LK_OK)
		return st;
	f_list(d, "interfaces", n->interfaces, n->interface_count);
	f_list(d, "protocols", n->protocols, n->protocol_count);
	field(d, "started", LK_MESH_FIELD_BOOL, NULL, 0, n->started != 0,
	      NULL);
	f_u64(d, "routes_discovered", n->routes_discovered);
	f_time(d, "created_at", n->created_at_ms);
	f_time(d, "updated_at", n->updated_at_ms);
	lk_free(n);
	return LK_OK;
}

static lk_status policy(struct desc *d, const void *key, size_t key_len,
			const void *value, size_t value_len)
{
	lk_mesh_policy *p;
	lk_status st;

	f_str(d, "id", key, key_len);
	if (!value)
		return LK_OK;
	st = lk_mesh_policy_decode(&p, key, key_len, value, value_len);
	if (st != LK_OK)
		return st;
	f_u64(d, "rules_count", p->rules_count);
	f_time(d, "created_at", p->created_at_ms);
	f_time(d, "updated_at", p->updated_at_ms);
	f_str(d, "yaml", p->yaml, p->yaml_len);
	lk_free(p);
	return LK_OK;
}

/* Key: src_len:u8 source dst_len:u8 destination k:u32be.
 * Value: version:u8 created_ms:u64 bundle. */
static lk_status cache(struct desc *d, const void *key, size_t key_len,
		       const void *value, size_t value_len)
{
	struct mread r;
	const char *s;
	uint64_t created;
	size_t n;
	lk_status st;

	mread_init(&r, key, key_len, "path-cache key");
	s = mread_str8(&r, LK_MESH_ID_BYTES_MAX, &n, "source");
	if (!r.err[0])
		f_str(d, "source", s, n);
	s = mread_str8(&r, LK_MESH_ID_BYTES_MAX, &n, "destination");
	if (!r.err[0])
		f_str(d, "destination", s, n);
	n = mread_be32(&r, "k");
	st = mread_end(&r, 0);
	if (st != LK_OK)
		return st;
	f_u64(d, "k", n);
	if (!value)
		return LK_OK;
	mread_init(&r, value, value_len, "path-cache entry");
	st = mread_version(&r);
	created = mread_u64(&r, "created_at");
	st = st == LK_OK ? mread_end(&r, 1) : st; /* the bundle is the rest */
	if (st != LK_OK)
		return st;
	f_time(d, "created_at", created);
	if (r.len - r.at > LK_MESH_BUNDLE_BYTES_MAX)
		return lk_fail(LK_CORRUPT, "path-cache entry: a bundle over %u "
			       "bytes", LK_MESH_BUNDLE_BYTES_MAX);
	f_str(d, "bundle", (const char *)r.p + r.at, r.len - r.at);
	return LK_OK;
}

static lk_status ledger_head(struct desc *d, const void *value,
			     size_t value_len)
{
	struct mread r;
	uint64_t entries, entities;
	const uint8_t *h;
	lk_status st;

	mread_init(&r, value, value_len, "ledger head");
	st = mread_version(&r);
	entries = mread_u64(&r, "entries");
	entities = mread_u64(&r, "entities");
	h = mread_bytes(&r, 32, "last_hash");
	st = read_end(&r, st);
	if (st != LK_OK)
		return st;
	f_u64(d, "entries", entries);
	f_u64(d, "entities", entities);
	f_hash(d, "last_hash", h);
	return LK_OK;
}

static lk_status entity_head(struct desc *d, const void *value,
			     size_t value_len)
{
	struct mread r;
	uint32_t entries;
	const char *status;
	const uint8_t *h;
	size_t n;
	lk_status st;

	mread_init(&r, value, value_len, "ledger entity head");
	st = mread_version(&r);
	entries = mread_u32(&r, "entries");
	status = mread_str8(&r, LK_MESH_NAME_BYTES_MAX, &n, "status");
	h = mread_bytes(&r, 32, "content_hash");
	st = read_end(&r, st);
	if (st != LK_OK)
		return st;
	f_u64(d, "entries", entries);
	f_str(d, "status", status, n);
	f_hash(d, "content_hash", h);
	return LK_OK;
}

static lk_status entry(struct desc *d, const void *value, size_t value_len)
{
	lk_mesh_entry *e;
	lk_status st = lk_mesh_entry_decode(&e, value, value_len);

	if (st != LK_OK)
		return st;
	f_u64(d, "position", e->position);
	f_u64(d, "index", e->entity_index);
	f_time(d, "at", e->at_ms);
	f_str(d, "from", e->from_status, strlen(e->from_status));
	f_str(d, "to", e->to_status, strlen(e->to_status));
	f_str(d, "actor", e->actor, strlen(e->actor));
	f_str(d, "reasoning", e->reasoning, strlen(e->reasoning));
	f_hash(d, "content_hash", e->content_hash);
	f_hash(d, "prev_hash", e->prev_hash);
	f_hash(d, "hash", e->hash);
	lk_free(e);
	return LK_OK;
}

static lk_status chain_link(struct desc *d, const void *value,
			    size_t value_len)
{
	struct mread r;
	uint32_t index;
	const char *entity;
	size_t n;
	lk_status st;

	mread_init(&r, value, value_len, "ledger chain link");
	st = mread_version(&r);
	index = mread_u32(&r, "index");
	entity = mread_str8(&r, LK_MESH_ID_BYTES_MAX, &n, "entity");
	st = read_end(&r, st);
	if (st != LK_OK)
		return st;
	f_u64(d, "index", index);
	f_str(d, "entity", entity, n);
	return LK_OK;
}

/* Keys: "H"; "h" entity; "e" entity NUL index:be32; "c" position:be64. */
static lk_status ledger(struct desc *d, const char **what, const void *key,
			size_t key_len, const void *value, size_t value_len)
{
	const char *k = key;
	struct mread r;

	if (key_len == 1 && k[0] == 'H') {
		*what = "ledger head";
		return value ? ledger_head(d, value, value_len) : LK_OK;
	}
	if (key_len >= 2 && key_len <= 1 + LK_MESH_ID_BYTES_MAX &&
	    k[0] == 'h') {
		*what = "ledger entity head";
		f_str(d, "entity", k + 1, key_len - 1);
		return value ? entity_head(d, value, value_len) : LK_OK;
	}
	if (key_len >= 7 && key_len <= 6 + LK_MESH_ID_BYTES_MAX &&
	    k[0] == 'e' && k[key_len - 5] == '\0') {
		*what = "ledger entry";
		f_str(d, "entity", k + 1, key_len - 6);
		mread_init(&r, k + key_len - 4, 4, "ledger entry key");
		f_u64(d, "key_index", mread_be32(&r, "index"));
		return value ? entry(d, value, value_len) : LK_OK;
	}
	if (key_len == 9 && k[0] == 'c') {
		*what = "ledger chain link";
		mread_init(&r, k + 1, 8, "ledger chain key");
		f_u64(d, "position", mread_be64(&r, "position"));
		return value ? chain_link(d, value, value_len) : LK_OK;
	}
	*what = "ledger record";
	return lk_fail(LK_CORRUPT, "a ledger key no writer produces");
}

/* Keys: "n" -> next id:u64; "t" id:be64 -> an entry
 * (version:u8 kind:u8 at_ms:u64 source:str8 message:str16). */
static lk_status telemetry(struct desc *d, const char **what,
			   const void *key, size_t key_len, const void *value,
			   size_t value_len)
{
	static const char *const kinds[] = { "event", "error", "decision" };
	const char *k = key;
	const char *source, *message;
	size_t sn, mn;
	struct mread r;
	uint8_t kind;
	uint64_t at;
	lk_status st;

	if (key_len == 1 && k[0] == 'n') {
		*what = "telemetry next id";
		if (!value)
			return LK_OK;
		mread_init(&r, value, value_len, "telemetry next id");
		at = mread_u64(&r, "next");
		st = mread_end(&r, 0);
		if (st == LK_OK)
			f_u64(d, "next", at);
		return st;
	}
	if (key_len != 9 || k[0] != 't') {
		*what = "telemetry record";
		return lk_fail(LK_CORRUPT, "a telemetry key no writer produces");
	}
	*what = "telemetry entry";
	mread_init(&r, k + 1, 8, "telemetry key");
	f_u64(d, "id", mread_be64(&r, "id"));
	if (!value)
		return LK_OK;
	mread_init(&r, value, value_len, "telemetry entry");
	st = mread_version(&r);
	kind = mread_u8(&r, "kind");
	at = mread_u64(&r, "at");
	source = mread_str8(&r, LK_MESH_ID_BYTES_MAX, &sn, "source");
	message = mread_str16(&r, LK_MESH_TEXT_BYTES_MAX, &mn, "message");
	st = read_end(&r, st);
	if (st == LK_OK && (kind < 1 || kind > 3))
		st = lk_fail(LK_CORRUPT, "telemetry entry: kind %u", kind);
	if (st != LK_OK)
		return st;
	f_str(d, "kind", kinds[kind - 1], strlen(kinds[kind - 1]));
	f_time(d, "at", at);
	f_str(d, "source", source, sn);
	f_str(d, "message", message, mn);
	return LK_OK;
}

lk_status lk_mesh_describe(const char **what, const char *ns_name,
			   const void *key, size_t key_len, const void *value,
			   size_t value_len, lk_mesh_field_fn fn, void *arg)
{
	struct desc d = { fn, arg };

	if (!what || !ns_name || !key || !fn)
		return lk_fail(LK_INVALID, "lk_mesh_describe: NULL argument");
	*what = NULL;
	if (strcmp(ns_name, "mesh.nodes") == 0) {
		*what = "node";
		return node(&d, key, key_len, value, value_len);
	}
	if (strcmp(ns_name, "mesh.policies") == 0) {
		*what = "policy";
		return policy(&d, key, key_len, value, value_len);
	}
	if (strcmp(ns_name, "mesh.cache") == 0) {
		*what = "path-cache entry";
		return cache(&d, key, key_len, value, value_len);
	}
	if (strcmp(ns_name, "mesh.ledger") == 0)
		return ledger(&d, what, key, key_len, value, value_len);
	if (strcmp(ns_name, "mesh.telemetry") == 0)
		return telemetry(&d, what, key, key_len, value, value_len);
	return LK_NOT_FOUND;
}
