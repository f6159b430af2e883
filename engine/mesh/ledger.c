/* SPDX-License-Identifier: MIT */
/*
 * ledger.c - the audit ledger (logkeep_mesh.h): per-entity histories of
 * state transitions, chained by SHA-256 into one chain over the whole
 * ledger.  The one file that includes libsodium.
 *
 * Keys of the "mesh.ledger" namespace:
 *
 *   "H"                              the head: entries, entities, the
 *                                    hash of the last entry
 *   "h" entity                       an entity's head: its entry count,
 *                                    status and content hash
 *   "e" entity NUL index:be32        an entry (index from 1 per entity)
 *   "c" position:be64                the chain: which entry is at a
 *                                    position (entity, index)
 *
 * So history(entity) is 1 + n point reads (its head, then its entries by
 * index), and verify_chain() walks positions 1..N, two reads each.  No key
 * is ever overwritten but the heads, so compaction keeps every entry (they
 * are live), and none is ever deleted.
 *
 * Values (v1):
 *   head        version:u8 entries:u64 entities:u64 last_hash:32
 *   entity head version:u8 entries:u32 status:str8 content_hash:32
 *   entry       version:u8 position:u64 index:u32 at_ms:u64 entity:str8
 *               from:str8 to:str8 actor:str8 reasoning:str16
 *               content_hash:32 prev_hash:32
 *   chain       version:u8 index:u32 entity:str8
 *
 * An entry's hash is the SHA-256 of its stored value, which holds the hash
 * before it: changing any byte of any entry breaks the link after it.
 *
 * Appends are serialised by the mesh's ledger lock, held by a transaction
 * from its first ledger step to its end (mesh.c); the heads read under it
 * are the heads the batch replaces.  One writer process holds a database,
 * so the lock is the whole story.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "mesh.h"

#define HASH_BYTES crypto_hash_sha256_BYTES
_Static_assert(HASH_BYTES == 32, "SHA-256 is 32 bytes");

struct entity_head {
	char entity[LK_MESH_ID_BYTES_MAX + 1];
	uint32_t entries;
	char status[LK_MESH_NAME_BYTES_MAX + 1];
	uint8_t content_hash[HASH_BYTES];
};

#define STAGE_ENTITIES_MAX LK_MESH_TXN_LEDGER_MAX

/* A ledger step of a transaction, kept until its commit: the arguments,
 * checked and copied, and the attributes' hash. */
struct ledger_intent {
	char *entity, *status, *actor, *reasoning; /* one allocation */
	uint8_t content_hash[32];
	int *appended;  /* the caller's, set once committed; may be NULL */
	int appends;    /* 1 if staging found a change */
};

struct ledger_intents {
	size_t n;
	struct ledger_intent v[LK_MESH_TXN_LEDGER_MAX];
};

struct ledger_stage {
	int dirty;
	uint64_t head_seq;              /* of "H" as read; 0: absent */
	uint64_t entries, entities;
	uint8_t last_hash[HASH_BYTES];
	size_t n;
	struct entity_head heads[STAGE_ENTITIES_MAX];
};

lk_status ledger_init(void)
{
	return sodium_init() < 0
		       ? lk_fail(LK_NOMEM, "libsodium failed to initialise")
		       : LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Keys and values                                                        */
/* ---------------------------------------------------------------------- */

static void key_entry(struct mbuf *k, const char *entity, size_t len,
		      uint32_t index)
{
	mbuf_init(k);
	mbuf_u8(k, 'e');
	mbuf_bytes(k, entity, len);
	mbuf_u8(k, 0);
	mbuf_be32(k, index);
}

static void key_chain(struct mbuf *k, uint64_t position)
{
	mbuf_init(k);
	mbuf_u8(k, 'c');
	mbuf_be64(k, position);
}

static void key_entity(struct mbuf *k, const char *entity, size_t len)
{
	mbuf_init(k);
	mbuf_u8(k, 'h');
	mbuf_bytes(k, entity, len);
}

/* Adds a put of key k, value v to the transaction's batch. */
static lk_status put_kv(lk_mesh_txn *t, const struct mbuf *k,
			const struct mbuf *v, const char *what)
{
	lk_status st = mbuf_status(k, "a ledger key");

	if (st == LK_OK)
		st = mbuf_status(v, what);
	return st != LK_OK ? st
			   : lk_batch_put(t->b, t->m->ns_ledger, k->p, k->len,
					  v->p, v->len, 0);
}

static lk_status get_key(void **v, size_t *vlen, lk_mesh *m,
			 const struct mbuf *k)
{
	lk_status st = mbuf_status(k, "a ledger key");

	return st != LK_OK ? st
			   : lk_get(v, vlen, m->db, m->ns_ledger, k->p, k->len);
}

/* Reads the ledger head; absent is an empty ledger. */
static lk_status read_head(lk_mesh *m, struct ledger_stage *s)
{
	const uint8_t *hash;
	struct mread r;
	void *v;
	size_t vlen;
	lk_status st = lk_get_ex(&v, &vlen, &s->head_seq, NULL, m->db,
				 m->ns_ledger, "H", 1);

	if (st == LK_NOT_FOUND)
		return LK_OK;
	if (st != LK_OK)
		return st;
	mread_init(&r, v, vlen, "ledger head");
	st = mread_version(&r);
	s->entries = mread_u64(&r, "entries");
	s->entities = mread_u64(&r, "entities");
	hash = mread_bytes(&r, HASH_BYTES, "last_hash");
	if (st == LK_OK)
		st = mread_end(&r, 0);
	if (st == LK_OK)
		memcpy(s->last_hash, hash, HASH_BYTES);
	lk_free(v);
	return st;
}

/* Reads an entity's head into h; LK_NOT_FOUND without history. */
static lk_status read_entity(lk_mesh *m, const char *entity, size_t len,
			     struct entity_head *h)
{
	struct mbuf k;
	struct mread r;
	const char *status;
	const uint8_t *hash;
	size_t slen;
	void *v;
	size_t vlen;
	lk_status st;

	memset(h, 0, sizeof *h);
	memcpy(h->entity, entity, len);
	key_entity(&k, entity, len);
	st = get_key(&v, &vlen, m, &k);
	mbuf_free(&k);
	if (st != LK_OK)
		return st;
	mread_init(&r, v, vlen, "ledger entity head");
	st = mread_version(&r);
	h->entries = mread_u32(&r, "entries");
	status = mread_str8(&r, LK_MESH_NAME_BYTES_MAX, &slen, "status");
	hash = mread_bytes(&r, HASH_BYTES, "content_hash");
	if (st == LK_OK)
		st = mread_end(&r, 0);
	if (st == LK_OK) {
		memcpy(h->status, status, slen);
		h->status[slen] = '\0';
		memcpy(h->content_hash, hash, HASH_BYTES);
	}
	lk_free(v);
	return st;
}

static int by_name(const void *a, const void *b)
{
	const lk_mesh_attr *x = *(const lk_mesh_attr *const *)a;
	const lk_mesh_attr *y = *(const lk_mesh_attr *const *)b;

	return strcmp(x->name, y->name);
}

/* The SHA-256 of the attributes in canonical form: sorted by name, each
 * as name_len:u16 name value_len:u32 value (little-endian), after a count:
 * u32.  Names must be distinct. */
static lk_status content_hash(uint8_t out[HASH_BYTES],
			      const lk_mesh_attr *attrs, size_t n)
{
	const lk_mesh_attr *sorted[LK_MESH_ATTRS_MAX];
	crypto_hash_sha256_state h;
	uint8_t x[4];

	if (n > LK_MESH_ATTRS_MAX)
		return lk_fail(LK_TOO_BIG, "%zu attributes: at most %u", n,
			       LK_MESH_ATTRS_MAX);
	if (n && !attrs)
		return lk_fail(LK_INVALID, "attributes: NULL");
	for (size_t i = 0; i < n; i++) {
		lk_status st = mesh_check_str(attrs[i].name,
					      LK_MESH_NAME_BYTES_MAX, 0,
					      "attribute name", NULL);

		if (st == LK_OK)
			st = mesh_check_str(attrs[i].value,
					    LK_MESH_ATTR_BYTES_MAX, 1,
					    "attribute value", NULL);
		if (st != LK_OK)
			return st;
		sorted[i] = &attrs[i];
	}
	qsort(sorted, n, sizeof sorted[0], by_name);
	crypto_hash_sha256_init(&h);
	for (int i = 0; i < 4; i++)
		x[i] = (uint8_t)(n >> (8 * i));
	crypto_hash_sha256_update(&h, x, 4);
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(sorted[i]->name);
		size_t vl = strlen(sorted[i]->value);

		if (i > 0 && strcmp(sorted[i - 1]->name, sorted[i]->name) == 0)
			return lk_fail(LK_INVALID,
				       "attribute \"%s\" given twice",
				       sorted[i]->name);
		x[0] = (uint8_t)nl;
		x[1] = (uint8_t)(nl >> 8);
		crypto_hash_sha256_update(&h, x, 2);
		crypto_hash_sha256_update(&h, (const uint8_t *)sorted[i]->name,
					  nl);
		for (int j = 0; j < 4; j++)
			x[j] = (uint8_t)(vl >> (8 * j));
		crypto_hash_sha256_update(&h, x, 4);
		crypto_hash_sha256_update(&h,
					  (const uint8_t *)sorted[i]->value, vl);
	}
	crypto_hash_sha256_final(&h, out);
	return LK_OK;
}

/* Decodes an entry value into e, its strings pointing into the value
 * (not NUL-terminated: lens), and hashes it. */
struct raw_entry {
	lk_mesh_entry e;
	const char *s[5];
	size_t lens[5]; /* entity, from, to, actor, reasoning */
};

static lk_status decode_raw(struct raw_entry *x, const void *value,
			    size_t value_len)
{
	static const size_t max[5] = { LK_MESH_ID_BYTES_MAX,
				       LK_MESH_NAME_BYTES_MAX,
				       LK_MESH_NAME_BYTES_MAX,
				       LK_MESH_ID_BYTES_MAX,
				       LK_MESH_TEXT_BYTES_MAX };
	static const char *const names[5] = { "entity", "from_status",
					      "to_status", "actor",
					      "reasoning" };
	struct mread r;
	const uint8_t *ch, *ph;
	lk_status st;

	memset(x, 0, sizeof *x);
	mread_init(&r, value, value_len, "ledger entry");
	st = mread_version(&r);
	if (st != LK_OK)
		return st;
	x->e.position = mread_u64(&r, "position");
	x->e.entity_index = mread_u32(&r, "index");
	x->e.at_ms = mread_u64(&r, "at_ms");
	for (int i = 0; i < 5; i++)
		x->s[i] = i < 4 ? mread_str8(&r, max[i], &x->lens[i], names[i])
				: mread_str16(&r, max[i], &x->lens[i],
					      names[i]);
	ch = mread_bytes(&r, HASH_BYTES, "content_hash");
	ph = mread_bytes(&r, HASH_BYTES, "prev_hash");
	st = mread_end(&r, 0);
	if (st != LK_OK)
		return st;
	memcpy(x->e.content_hash, ch, HASH_BYTES);
	memcpy(x->e.prev_hash, ph, HASH_BYTES);
	crypto_hash_sha256(x->e.hash, value, value_len);
	return LK_OK;
}

/* One allocation holding the entry and its strings. */
static lk_status entry_copy(lk_mesh_entry **out, const struct raw_entry *x)
{
	size_t bytes = sizeof **out;
	lk_mesh_entry *e;
	char *at;
	const char **f[5];

	for (int i = 0; i < 5; i++)
		bytes += x->lens[i] + 1;
	e = malloc(bytes);
	if (!e)
		return lk_fail(LK_NOMEM, "decoding a ledger entry");
	*e = x->e;
	f[0] = &e->entity;
	f[1] = &e->from_status;
	f[2] = &e->to_status;
	f[3] = &e->actor;
	f[4] = &e->reasoning;
	at = (char *)(e + 1);
	for (int i = 0; i < 5; i++)
		*f[i] = arena_str(&at, x->s[i], x->lens[i]);
	*out = e;
	return LK_OK;
}

lk_status lk_mesh_entry_decode(lk_mesh_entry **out, const void *value,
			       size_t value_len)
{
	struct raw_entry x;
	lk_status st;

	if (!out || (!value && value_len))
		return lk_fail(LK_INVALID, "lk_mesh_entry_decode: NULL argument");
	*out = NULL;
	st = decode_raw(&x, value, value_len);
	return st != LK_OK ? st : entry_copy(out, &x);
}

/* ---------------------------------------------------------------------- */
/* Appending                                                              */
/* ---------------------------------------------------------------------- */

lk_status ledger_intent_add(lk_mesh_txn *t, const char *entity,
			    const char *status, const char *actor,
			    const char *reasoning, const lk_mesh_attr *attrs,
			    size_t attr_count, int *appended)
{
	struct ledger_intents *li = t->ledger;
	struct ledger_intent *in;
	size_t el, sl, al, rl;
	char *p;
	lk_status st;

	if (appended)
		*appended = 0;
	st = mesh_check_str(entity, LK_MESH_ID_BYTES_MAX, 0, "entity", &el);
	if (st == LK_OK)
		st = mesh_check_str(status, LK_MESH_NAME_BYTES_MAX, 0, "status",
				    &sl);
	if (st == LK_OK)
		st = mesh_check_str(actor, LK_MESH_ID_BYTES_MAX, 1, "actor",
				    &al);
	if (st == LK_OK)
		st = mesh_check_str(reasoning, LK_MESH_TEXT_BYTES_MAX, 1,
				    "reasoning", &rl);
	if (st != LK_OK)
		return st;
	if (!li) {
		li = calloc(1, sizeof *li);
		if (!li)
			return lk_fail(LK_NOMEM, "a ledger step");
		t->ledger = li;
	}
	if (li->n == LK_MESH_TXN_LEDGER_MAX)
		return lk_fail(LK_TOO_BIG, "a transaction holds at most %u "
				       "ledger steps",
			       LK_MESH_TXN_LEDGER_MAX);
	in = &li->v[li->n];
	st = content_hash(in->content_hash, attrs, attr_count);
	if (st != LK_OK)
		return st;
	p = malloc(el + sl + al + rl + 4);
	if (!p)
		return lk_fail(LK_NOMEM, "a ledger step");
	in->entity = arena_str(&p, entity, el);
	in->status = arena_str(&p, status, sl);
	in->actor = arena_str(&p, actor, al);
	in->reasoning = arena_str(&p, reasoning, rl);
	in->appended = appended;
	in->appends = 0;
	li->n++;
	return LK_OK;
}

void ledger_intents_done(lk_mesh_txn *t, int committed)
{
	struct ledger_intents *li = t->ledger;

	if (!li)
		return;
	for (size_t i = 0; i < li->n; i++) {
		if (committed && li->v[i].appended)
			*li->v[i].appended = li->v[i].appends;
		free(li->v[i].entity); /* the start of its allocation */
	}
	free(li);
	t->ledger = NULL;
}

int ledger_intents_count(const lk_mesh_txn *t)
{
	const struct ledger_intents *li = t->ledger;

	return li ? (int)li->n : 0;
}

/* Stages one intent against the heads in s: the entry, its chain link
 * and the entity's head go into the batch when the state changed. */
static lk_status stage_one(lk_mesh_txn *t, struct ledger_stage *s,
			   struct ledger_intent *in)
{
	lk_mesh *m = t->m;
	struct entity_head *h = NULL;
	size_t el = strlen(in->entity), sl = strlen(in->status);
	uint8_t hash[HASH_BYTES];
	struct mbuf k, v;
	lk_status st;

	for (size_t i = 0; i < s->n && !h; i++)
		if (strcmp(s->heads[i].entity, in->entity) == 0)
			h = &s->heads[i];
	if (!h) {
		h = &s->heads[s->n];
		st = read_entity(m, in->entity, el, h);
		if (st != LK_OK && st != LK_NOT_FOUND)
			return st;
		s->n++;
	}
	if (h->entries > 0 && strcmp(h->status, in->status) == 0 &&
	    memcmp(h->content_hash, in->content_hash, HASH_BYTES) == 0)
		return LK_OK; /* no change, no entry */

	/* the entry */
	mbuf_init(&v);
	mbuf_u8(&v, MESH_VALUE_V1);
	mbuf_u64(&v, s->entries + 1);
	mbuf_u32(&v, h->entries + 1);
	mbuf_u64(&v, lk_now_ms(m->db));
	mbuf_str8(&v, in->entity, el);
	mbuf_str8(&v, h->status, strlen(h->status));
	mbuf_str8(&v, in->status, sl);
	mbuf_str8(&v, in->actor, strlen(in->actor));
	mbuf_str16(&v, in->reasoning, strlen(in->reasoning));
	mbuf_bytes(&v, in->content_hash, HASH_BYTES);
	mbuf_bytes(&v, s->last_hash, HASH_BYTES);
	key_entry(&k, in->entity, el, h->entries + 1);
	st = put_kv(t, &k, &v, "a ledger entry");
	if (st == LK_OK)
		crypto_hash_sha256(hash, v.p, v.len);
	mbuf_free(&k);
	mbuf_free(&v);
	/* its link in the chain */
	if (st == LK_OK) {
		key_chain(&k, s->entries + 1);
		mbuf_init(&v);
		mbuf_u8(&v, MESH_VALUE_V1);
		mbuf_u32(&v, h->entries + 1);
		mbuf_str8(&v, in->entity, el);
		st = put_kv(t, &k, &v, "a ledger chain link");
		mbuf_free(&k);
		mbuf_free(&v);
	}
	/* the entity's head */
	if (st == LK_OK) {
		key_entity(&k, in->entity, el);
		mbuf_init(&v);
		mbuf_u8(&v, MESH_VALUE_V1);
		mbuf_u32(&v, h->entries + 1);
		mbuf_str8(&v, in->status, sl);
		mbuf_bytes(&v, in->content_hash, HASH_BYTES);
		st = put_kv(t, &k, &v, "a ledger entity head");
		mbuf_free(&k);
		mbuf_free(&v);
	}
	if (st != LK_OK)
		return st;
	s->entities += h->entries == 0;
	s->entries++;
	memcpy(s->last_hash, hash, HASH_BYTES);
	h->entries++;
	snprintf(h->status, sizeof h->status, "%s", in->status);
	memcpy(h->content_hash, in->content_hash, HASH_BYTES);
	s->dirty = 1;
	in->appends = 1;
	return LK_OK;
}

lk_status ledger_stage(lk_mesh_txn *t)
{
	struct ledger_intents *li = t->ledger;
	struct ledger_stage *s;
	struct mbuf v;
	lk_status st;

	if (!li || li->n == 0)
		return LK_OK;
	s = calloc(1, sizeof *s);
	if (!s)
		return lk_fail(LK_NOMEM, "staging the ledger");
	st = read_head(t->m, s);
	for (size_t i = 0; st == LK_OK && i < li->n; i++)
		st = stage_one(t, s, &li->v[i]);
	if (st == LK_OK && s->dirty) {
		mbuf_init(&v);
		mbuf_u8(&v, MESH_VALUE_V1);
		mbuf_u64(&v, s->entries);
		mbuf_u64(&v, s->entities);
		mbuf_bytes(&v, s->last_hash, HASH_BYTES);
		st = mbuf_status(&v, "the ledger head");
		if (st == LK_OK)
			st = lk_batch_put(t->b, t->m->ns_ledger, "H", 1, v.p,
					  v.len, 0);
		mbuf_free(&v);
		/* The batch holds only if the head is the one read: any
		 * other append (another writer of the directory) rewrote
		 * it, and this one would fork the chain. */
		if (st == LK_OK)
			st = txn_require(t, t->m->ns_ledger, "H", 1,
					 s->head_seq ? LK_IF_SEQ : LK_IF_ABSENT,
					 s->head_seq, LK_CONFLICT,
					 "the ledger changed under the "
					 "transaction (another writer "
					 "appended): nothing written");
	}
	free(s);
	return st;
}

lk_status lk_mesh_ledger_save(lk_mesh *m, const char *entity,
			      const char *status, const char *actor,
			      const char *reasoning, const lk_mesh_attr *attrs,
			      size_t attr_count, int *appended)
{
	if (appended)
		*appended = 0;
	for (int tries = 0;; tries++) {
		lk_mesh_txn *t;
		lk_status st = lk_mesh_txn_begin(&t, m);

		if (st != LK_OK)
			return st;
		st = txn_step(t, ledger_intent_add(t, entity, status, actor,
						   reasoning, attrs, attr_count,
						   appended));
		if (st != LK_OK) {
			lk_mesh_txn_rollback(t);
			return st;
		}
		st = lk_mesh_txn_commit(t);
		if (st != LK_CONFLICT || tries == MESH_RETRIES_MAX)
			return st;
	}
}

/* ---------------------------------------------------------------------- */
/* Reading                                                                */
/* ---------------------------------------------------------------------- */

lk_status lk_mesh_ledger_history(lk_mesh *m, const char *entity,
				 lk_mesh_entry_fn fn, void *arg)
{
	struct entity_head h;
	size_t el;
	lk_status st = mesh_check(m);

	if (st == LK_OK && !fn)
		st = lk_fail(LK_INVALID, "lk_mesh_ledger_history: NULL callback");
	if (st == LK_OK)
		st = mesh_check_str(entity, LK_MESH_ID_BYTES_MAX, 0, "entity",
				    &el);
	if (st == LK_OK)
		st = read_entity(m, entity, el, &h);
	if (st == LK_NOT_FOUND)
		return lk_fail(LK_NOT_FOUND, "entity \"%s\" has no history",
			       entity);
	for (uint32_t i = 1; st == LK_OK && i <= h.entries; i++) {
		struct raw_entry x;
		lk_mesh_entry *e;
		struct mbuf k;
		void *v;
		size_t vlen;
		int stop;

		key_entry(&k, entity, el, i);
		st = get_key(&v, &vlen, m, &k);
		mbuf_free(&k);
		if (st == LK_NOT_FOUND)
			return lk_fail(LK_CORRUPT,
				       "entity \"%s\": entry %u of %u is "
				       "missing",
				       entity, i, h.entries);
		if (st != LK_OK)
			return st;
		st = decode_raw(&x, v, vlen);
		if (st == LK_OK)
			st = entry_copy(&e, &x);
		lk_free(v);
		if (st != LK_OK)
			return st;
		stop = fn(arg, e);
		free(e);
		if (stop)
			break;
	}
	return st;
}

/* Reads the last entry of the entity whose head is h into x (its fixed
 * fields and hashes; the strings are gone with the buffer) and checks
 * that the head repeats it: count, status and content hash. */
static lk_status read_last(lk_mesh *m, const struct entity_head *h,
			   struct raw_entry *x)
{
	size_t el = strlen(h->entity);
	struct mbuf k;
	void *v;
	size_t vlen;
	lk_status st;

	key_entry(&k, h->entity, el, h->entries);
	st = get_key(&v, &vlen, m, &k);
	mbuf_free(&k);
	if (st == LK_NOT_FOUND)
		return lk_fail(LK_CORRUPT, "entity \"%s\": its last entry (%u) "
					   "is missing",
			       h->entity, h->entries);
	if (st != LK_OK)
		return st;
	st = decode_raw(x, v, vlen);
	if (st == LK_OK &&
	    (x->e.entity_index != h->entries ||
	     x->lens[2] != strlen(h->status) ||
	     memcmp(x->s[2], h->status, x->lens[2]) != 0 ||
	     memcmp(x->e.content_hash, h->content_hash, HASH_BYTES) != 0))
		st = lk_fail(LK_CORRUPT,
			     "entity \"%s\": its head (%u entries, status "
			     "\"%s\") does not repeat its last entry: the head "
			     "was altered",
			     h->entity, h->entries, h->status);
	lk_free(v);
	memset(x->s, 0, sizeof x->s);
	return st;
}

lk_status lk_mesh_ledger_verify_state(int *match, lk_mesh *m,
				      const char *entity,
				      const lk_mesh_attr *attrs,
				      size_t attr_count)
{
	struct entity_head h;
	uint8_t hash[HASH_BYTES];
	size_t el;
	lk_status st = mesh_check(m);

	if (st == LK_OK && !match)
		st = lk_fail(LK_INVALID, "lk_mesh_ledger_verify_state: NULL");
	if (st == LK_OK)
		st = mesh_check_str(entity, LK_MESH_ID_BYTES_MAX, 0, "entity",
				    &el);
	if (st == LK_OK)
		st = content_hash(hash, attrs, attr_count);
	if (st == LK_OK)
		st = read_entity(m, entity, el, &h);
	if (st == LK_NOT_FOUND)
		return lk_fail(LK_NOT_FOUND, "entity \"%s\" has no history",
			       entity);
	if (st == LK_OK) {
		struct raw_entry x;

		/* the entry is chained; the head is a copy to check */
		st = read_last(m, &h, &x);
		if (st == LK_OK)
			*match = memcmp(hash, x.e.content_hash, HASH_BYTES) == 0;
	}
	return st;
}

lk_status ledger_counts(lk_mesh *m, uint64_t *entries, uint64_t *entities)
{
	struct ledger_stage s;
	lk_status st;

	memset(&s, 0, sizeof s);
	st = read_head(m, &s);
	*entries = s.entries;
	*entities = s.entities;
	return st;
}

/* Fills the report for a break at position pos, naming where the record
 * of key k is (if it is anywhere). */
static lk_status broken(lk_mesh_chain_report *rep, lk_mesh *m,
			uint64_t pos, const struct mbuf *k, const char *fmt,
			...) __attribute__((format(printf, 5, 6)));

static lk_status broken(lk_mesh_chain_report *rep, lk_mesh *m,
			uint64_t pos, const struct mbuf *k, const char *fmt,
			...)
{
	va_list ap;

	rep->broken_position = pos;
	rep->entries = pos ? pos - 1 : 0; /* those before it hold */
	if (k && k->len)
		(void)lk_locate(&rep->broken_segment, &rep->broken_offset,
				m->db, m->ns_ledger, k->p, k->len);
	va_start(ap, fmt);
	vsnprintf(rep->problem, sizeof rep->problem, fmt, ap);
	va_end(ap);
	return lk_fail(LK_CORRUPT,
		       "ledger chain broken at entry %llu (segment %llu offset "
		       "%llu): %s",
		       (unsigned long long)pos,
		       (unsigned long long)rep->broken_segment,
		       (unsigned long long)rep->broken_offset, rep->problem);
}

/* The entity of an entry key ("e" entity NUL index), NUL-terminated in
 * a static-free way: the key's bytes up to its NUL. */
static const char *entity_of(const struct mbuf *ek)
{
	return (const char *)ek->p + 1; /* the NUL after it ends it */
}

/* The entity's head must count at least this entry, and repeat it if it
 * is the last (entry x at position pos, its key ek). */
static lk_status check_entity_head(lk_mesh_chain_report *rep, lk_mesh *m,
				   uint64_t pos, const struct mbuf *ek,
				   const char *entity,
				   const struct raw_entry *x)
{
	struct entity_head h;
	struct raw_entry last;
	lk_status st = read_entity(m, entity, strlen(entity), &h);

	if (st == LK_NOT_FOUND || (st == LK_OK && h.entries < x->e.entity_index))
		return broken(rep, m, pos, ek,
			      "the entity's head counts %u entries, fewer than "
			      "this one's index %u: the head was altered",
			      st == LK_OK ? h.entries : 0, x->e.entity_index);
	if (st == LK_CORRUPT)
		return broken(rep, m, pos, ek, "%s", lk_errmsg());
	if (st != LK_OK || h.entries != x->e.entity_index)
		return st;
	st = read_last(m, &h, &last);
	return st == LK_CORRUPT ? broken(rep, m, pos, ek, "%s", lk_errmsg())
				: st;
}

lk_status lk_mesh_ledger_verify_chain(lk_mesh_chain_report *rep, lk_mesh *m,
				      lk_mesh_progress_fn progress, void *arg)
{
	struct ledger_stage head;
	uint8_t prev[HASH_BYTES] = { 0 };
	struct mbuf prev_key;
	lk_status st = mesh_check(m);

	if (st == LK_OK && !rep)
		st = lk_fail(LK_INVALID, "lk_mesh_ledger_verify_chain: NULL");
	if (st != LK_OK)
		return st;
	memset(rep, 0, sizeof *rep);
	memset(&head, 0, sizeof head);
	st = read_head(m, &head);
	if (st == LK_CORRUPT || st == LK_VERSION) /* position 0: the head */
		snprintf(rep->problem, sizeof rep->problem, "the ledger head: %s",
			 lk_errmsg());
	if (st != LK_OK)
		return st;
	mbuf_init(&prev_key);
	for (uint64_t pos = 1; st == LK_OK && pos <= head.entries; pos++) {
		struct raw_entry x;
		struct mbuf ck, ek;
		struct mread r;
		const char *entity;
		size_t el;
		uint32_t index;
		void *v;
		size_t vlen;

		key_chain(&ck, pos);
		st = get_key(&v, &vlen, m, &ck);
		if (st == LK_NOT_FOUND) {
			st = broken(rep, m, pos, &prev_key,
				    "position %llu is missing from the chain "
				    "(the place given is the entry before the "
				    "gap)",
				    (unsigned long long)pos);
			mbuf_free(&ck);
			break;
		}
		if (st != LK_OK) {
			mbuf_free(&ck);
			break;
		}
		mread_init(&r, v, vlen, "ledger chain link");
		st = mread_version(&r);
		index = mread_u32(&r, "index");
		entity = mread_str8(&r, LK_MESH_ID_BYTES_MAX, &el, "entity");
		if (st == LK_OK)
			st = mread_end(&r, 0);
		if (st != LK_OK) {
			st = broken(rep, m, pos, &ck, "%s", lk_errmsg());
			mbuf_free(&ck);
			lk_free(v);
			break;
		}
		mbuf_free(&ck);
		key_entry(&ek, entity, el, index);
		lk_free(v);
		st = get_key(&v, &vlen, m, &ek);
		if (st == LK_NOT_FOUND) {
			st = broken(rep, m, pos, &prev_key,
				    "entry %llu (entity index %u) is missing "
				    "(the place given is the entry before the "
				    "gap)",
				    (unsigned long long)pos, index);
			mbuf_free(&ek);
			break;
		}
		if (st != LK_OK) {
			mbuf_free(&ek);
			break;
		}
		st = decode_raw(&x, v, vlen);
		lk_free(v);
		if (st != LK_OK) {
			st = broken(rep, m, pos, &ek, "%s", lk_errmsg());
		} else if (x.e.position != pos || x.e.entity_index != index) {
			st = broken(rep, m, pos, &ek,
				    "the entry says position %llu index %u",
				    (unsigned long long)x.e.position,
				    x.e.entity_index);
		} else if (memcmp(x.e.prev_hash, prev, HASH_BYTES) != 0 &&
			   pos == 1) {
			st = broken(rep, m, pos, &ek,
				    "the first entry's link is not empty: the "
				    "entry was altered");
		} else if (memcmp(x.e.prev_hash, prev, HASH_BYTES) != 0) {
			/* the entry before no longer hashes to the link this
			 * one recorded: it is the one altered */
			st = broken(rep, m, pos - 1, &prev_key,
				    "its hash no longer matches the link entry "
				    "%llu recorded: the entry was altered",
				    (unsigned long long)pos);
		}
		if (st == LK_OK)
			st = check_entity_head(rep, m, pos, &ek, entity_of(&ek),
					       &x);
		mbuf_free(&prev_key);
		prev_key = ek;
		if (st != LK_OK)
			break;
		memcpy(prev, x.e.hash, HASH_BYTES);
		rep->entries = pos;
		if (progress && pos % 4096 == 0)
			progress(arg, pos, head.entries);
	}
	if (st == LK_OK && memcmp(prev, head.last_hash, HASH_BYTES) != 0) {
		/* The entry links to the one before and agrees with its
		 * entity's head (both checked above): the ledger head is the
		 * record at fault, unless all three were forged together. */
		uint8_t h = 'H';
		struct mbuf hk = { &h, 1, 0, 0 };

		st = broken(rep, m, head.entries, &hk,
			    "the ledger head does not hold the last entry's "
			    "hash, while the entry links to the one before "
			    "and agrees with its entity's head: the head was "
			    "altered");
	}
	if (st == LK_OK) {
		/* a head rolled back over entries still in the log */
		struct mbuf ck;
		lk_status g;

		key_chain(&ck, head.entries + 1);
		g = mbuf_status(&ck, "a ledger key");
		if (g == LK_OK)
			g = lk_exists(m->db, m->ns_ledger, ck.p, ck.len);
		if (g == LK_OK)
			st = broken(rep, m, head.entries + 1, &ck,
				    "an entry after the ledger head's last "
				    "(%llu): the head was rolled back",
				    (unsigned long long)head.entries);
		else if (g != LK_NOT_FOUND)
			st = g;
		mbuf_free(&ck);
	}
	mbuf_free(&prev_key);
	if (st == LK_OK && progress)
		progress(arg, rep->entries, head.entries);
	return st;
}
