/* SPDX-License-Identifier: MIT */
/*
 * fuzz_mesh_values.c - fuzz target for the mesh layer's value decoders
 * (logkeep_mesh.h): lk_mesh_node_decode(), lk_mesh_policy_decode() and
 * lk_mesh_entry_decode(), the only readers of the values the layer stores
 * (and what `logkeep dump` shows), over value.c's bounded reader.  A value
 * comes off the disk, so any bytes are fair input.
 *
 * Input format:
 *
 *   input   := decoder:u8 rest
 *   decoder    its value modulo 3 picks the decoder:
 *              0  node    rest := key_len:u8 key value
 *              1  policy  rest := key_len:u8 key value
 *              2  entry   rest := value
 *
 * The key takes key_len bytes, or what is left; the value is the rest.
 * key_len reaches 255, past LK_MESH_ID_BYTES_MAX, and may be 0.  Key and
 * value are copied into buffers of exactly their size, so that ASan sees
 * a read past either (the replayer's buffers are larger than the file).
 *
 * The values' grammars are in the header comments of engine/mesh/nodes.c,
 * policies.c and ledger.c: a version byte (1), then little-endian
 * integers and strings with a u8 (str8) or u16 (str16) length.
 *
 * Properties (FUZZ_CHECK aborts; ASan and LeakSanitizer find the rest):
 *   - the status is LK_OK, LK_CORRUPT, LK_VERSION or LK_NOMEM, or
 *     LK_INVALID from a keyed decoder given a key that is no id (empty,
 *     longer than LK_MESH_ID_BYTES_MAX, or holding a NUL): such a key is
 *     never LK_OK;
 *   - LK_VERSION only for a value whose version byte is above 1;
 *   - on any failure *out is NULL and lk_errmsg() says why;
 *   - on LK_OK: every string is NUL-terminated, holds no NUL before its
 *     end, and is within its limit (ids, entities and actors
 *     LK_MESH_ID_BYTES_MAX, interfaces, protocols and statuses
 *     LK_MESH_NAME_BYTES_MAX, reasoning LK_MESH_TEXT_BYTES_MAX, a policy
 *     document LK_MESH_POLICY_BYTES_MAX); the id is the key; the node's
 *     lists hold at most LK_MESH_LIST_MAX names, started is 0 or 1, and a
 *     policy counts at most LK_MESH_POLICY_RULES_MAX rules;
 *   - on LK_OK the decoded object, written out again by the grammar,
 *     gives back the value byte for byte: every field was read, from its
 *     place, and nothing follows the last (one encoding per value);
 *   - the object is one allocation that lk_free() releases.
 */
#include <string.h>

#include "fuzz.h"
#include "logkeep_mesh.h"

#define VALUE_V1 1u /* the version byte of every value the layer writes */

/* ---------------------------------------------------------------------- */
/* Writing a value back, by the grammar                                   */
/* ---------------------------------------------------------------------- */

/* The writer stops at the value's end; `bad` notes that it would have
 * gone past it or written a byte that differs. */
struct rewrite {
	const uint8_t *value;
	size_t len, at;
	int bad;
};

static void put(struct rewrite *w, const void *p, size_t n)
{
	if (w->bad || n > w->len - w->at || memcmp(w->value + w->at, p, n)) {
		w->bad = 1;
		return;
	}
	w->at += n;
}

static void put_le(struct rewrite *w, uint64_t v, int n)
{
	uint8_t x[8];

	for (int i = 0; i < n; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	put(w, x, (size_t)n);
}

/* A decoded string: NUL-terminated, no NUL inside, at most max bytes;
 * written with a length of len_bytes (1: str8, 2: str16). */
static void put_str(struct rewrite *w, const char *s, size_t max,
		    int len_bytes)
{
	size_t n;

	FUZZ_CHECK(s != NULL);
	n = strnlen(s, max + 1);
	FUZZ_CHECK(n <= max);
	put_le(w, n, len_bytes);
	put(w, s, n);
}

/* The whole value was written back, and nothing differed. */
static void check_rewritten(const struct rewrite *w)
{
	FUZZ_CHECK(!w->bad);
	FUZZ_CHECK(w->at == w->len);
}

static int key_is_id(const uint8_t *key, size_t key_len)
{
	return key_len >= 1 && key_len <= LK_MESH_ID_BYTES_MAX &&
	       !memchr(key, 0, key_len);
}

static void check_id(const char *id, const uint8_t *key, size_t key_len)
{
	FUZZ_CHECK(id != NULL);
	FUZZ_CHECK(strnlen(id, key_len + 1) == key_len);
	FUZZ_CHECK(memcmp(id, key, key_len) == 0);
}

/* ---------------------------------------------------------------------- */
/* The decoders                                                           */
/* ---------------------------------------------------------------------- */

static void check_node(const lk_mesh_node *n, const uint8_t *key,
		       size_t key_len, const uint8_t *value, size_t value_len)
{
	struct rewrite w = { value, value_len, 0, 0 };

	check_id(n->id, key, key_len);
	FUZZ_CHECK(n->started == 0 || n->started == 1);
	FUZZ_CHECK(n->interface_count <= LK_MESH_LIST_MAX);
	FUZZ_CHECK(n->protocol_count <= LK_MESH_LIST_MAX);
	FUZZ_CHECK(n->interface_count == 0 || n->interfaces != NULL);
	FUZZ_CHECK(n->protocol_count == 0 || n->protocols != NULL);

	/* version:u8 flags:u8 routes:u64 created_ms:u64 updated_ms:u64
	 * interface_count:u8 (str8)* protocol_count:u8 (str8)* */
	put_le(&w, VALUE_V1, 1);
	put_le(&w, (uint64_t)n->started, 1);
	put_le(&w, n->routes_discovered, 8);
	put_le(&w, n->created_at_ms, 8);
	put_le(&w, n->updated_at_ms, 8);
	put_le(&w, n->interface_count, 1);
	for (size_t i = 0; i < n->interface_count; i++)
		put_str(&w, n->interfaces[i], LK_MESH_NAME_BYTES_MAX, 1);
	put_le(&w, n->protocol_count, 1);
	for (size_t i = 0; i < n->protocol_count; i++)
		put_str(&w, n->protocols[i], LK_MESH_NAME_BYTES_MAX, 1);
	check_rewritten(&w);
}

static void check_policy(const lk_mesh_policy *p, const uint8_t *key,
			 size_t key_len, const uint8_t *value,
			 size_t value_len)
{
	struct rewrite w = { value, value_len, 0, 0 };

	check_id(p->id, key, key_len);
	FUZZ_CHECK(p->yaml != NULL);
	FUZZ_CHECK(p->yaml_len <= LK_MESH_POLICY_BYTES_MAX);
	FUZZ_CHECK(p->yaml[p->yaml_len] == '\0');
	FUZZ_CHECK(p->rules_count <= LK_MESH_POLICY_RULES_MAX);

	/* version:u8 rules_count:u32 created_ms:u64 updated_ms:u64
	 * yaml_len:u32 yaml */
	put_le(&w, VALUE_V1, 1);
	put_le(&w, p->rules_count, 4);
	put_le(&w, p->created_at_ms, 8);
	put_le(&w, p->updated_at_ms, 8);
	put_le(&w, p->yaml_len, 4);
	put(&w, p->yaml, p->yaml_len);
	check_rewritten(&w);
}

static void check_entry(const lk_mesh_entry *e, const uint8_t *value,
			size_t value_len)
{
	struct rewrite w = { value, value_len, 0, 0 };

	/* version:u8 position:u64 index:u32 at_ms:u64 entity:str8
	 * from:str8 to:str8 actor:str8 reasoning:str16 content_hash:32
	 * prev_hash:32 */
	put_le(&w, VALUE_V1, 1);
	put_le(&w, e->position, 8);
	put_le(&w, e->entity_index, 4);
	put_le(&w, e->at_ms, 8);
	put_str(&w, e->entity, LK_MESH_ID_BYTES_MAX, 1);
	put_str(&w, e->from_status, LK_MESH_NAME_BYTES_MAX, 1);
	put_str(&w, e->to_status, LK_MESH_NAME_BYTES_MAX, 1);
	put_str(&w, e->actor, LK_MESH_ID_BYTES_MAX, 1);
	put_str(&w, e->reasoning, LK_MESH_TEXT_BYTES_MAX, 2);
	put(&w, e->content_hash, sizeof e->content_hash);
	put(&w, e->prev_hash, sizeof e->prev_hash);
	check_rewritten(&w);
}

/* What every failed decode must leave: no object, a reason. */
static void check_failure(lk_status st, const void *out, int keyed,
			  int key_ok, const uint8_t *value, size_t value_len)
{
	FUZZ_CHECK(st == LK_CORRUPT || st == LK_VERSION || st == LK_NOMEM ||
		   (st == LK_INVALID && keyed && !key_ok));
	if (st == LK_VERSION)
		FUZZ_CHECK(value_len >= 1 && value[0] > VALUE_V1);
	FUZZ_CHECK(out == NULL);
	FUZZ_CHECK(lk_errmsg()[0] != '\0');
}

static uint8_t *copy(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	if (q && n)
		memcpy(q, p, n);
	return q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* What *out holds before the call: not NULL, so that a decoder that
	 * fails without clearing it shows. */
	static lk_mesh_node node_before;
	static lk_mesh_policy policy_before;
	static lk_mesh_entry entry_before;
	int decoder;
	size_t key_len = 0, value_len;
	uint8_t *key = NULL, *value = NULL;
	lk_status st;

	if (size < 1)
		return 0;
	decoder = data[0] % 3;
	data++;
	size--;
	if (decoder != 2 && size > 0) {
		key_len = data[0];
		data++;
		size--;
		if (key_len > size)
			key_len = size;
	}
	value_len = size - key_len;
	key = copy(data, key_len);
	value = copy(data + key_len, value_len);
	if (!key || !value)
		goto done;

	if (decoder == 0) {
		lk_mesh_node *n = &node_before;

		st = lk_mesh_node_decode(&n, key, key_len, value, value_len);
		if (st == LK_OK) {
			FUZZ_CHECK(key_is_id(key, key_len));
			check_node(n, key, key_len, value, value_len);
			lk_free(n);
		} else {
			check_failure(st, n, 1, key_is_id(key, key_len), value,
				      value_len);
		}
	} else if (decoder == 1) {
		lk_mesh_policy *p = &policy_before;

		st = lk_mesh_policy_decode(&p, key, key_len, value, value_len);
		if (st == LK_OK) {
			FUZZ_CHECK(key_is_id(key, key_len));
			check_policy(p, key, key_len, value, value_len);
			lk_free(p);
		} else {
			check_failure(st, p, 1, key_is_id(key, key_len), value,
				      value_len);
		}
	} else {
		lk_mesh_entry *e = &entry_before;

		st = lk_mesh_entry_decode(&e, value, value_len);
		if (st == LK_OK) {
			check_entry(e, value, value_len);
			lk_free(e);
		} else {
			check_failure(st, e, 0, 1, value, value_len);
		}
	}

done:
	free(key);
	free(value);
	return 0;
}
