/* SPDX-License-Identifier: MIT */
/*
 * nodes.c - the nodes collection (logkeep_mesh.h): node_id -> interfaces,
 * protocols, started, routes_discovered, created_at, updated_at.
 *
 * Key: the node id.  Value (v1):
 *
 *   version:u8 flags:u8 (bit 0 started) routes:u64 created_ms:u64
 *   updated_ms:u64 interface_count:u8 (str8)* protocol_count:u8 (str8)*
 *
 * create is a batch conditioned on the id being absent, so concurrent
 * creators of one id get one LK_OK and LK_EXISTS for the rest.  update is
 * optimistic: read the value and its sequence number, write the new one
 * conditioned on that number, and retry on a conflict.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh.h"

#define NODE_STARTED 0x1u

static lk_status check_list(const char *const *v, size_t n, const char *what)
{
	if (n > LK_MESH_LIST_MAX)
		return lk_fail(LK_TOO_BIG, "node %s: %zu entries, at most %u",
			       what, n, LK_MESH_LIST_MAX);
	if (n && !v)
		return lk_fail(LK_INVALID, "node %s: NULL list", what);
	for (size_t i = 0; i < n; i++) {
		lk_status st = mesh_check_str(v[i], LK_MESH_NAME_BYTES_MAX, 0,
					      what, NULL);
		if (st != LK_OK)
			return st;
	}
	return LK_OK;
}

static lk_status check_node(const lk_mesh_node *n, int need_id)
{
	lk_status st;

	if (!n)
		return lk_fail(LK_INVALID, "node: NULL");
	if (need_id) {
		st = mesh_check_str(n->id, LK_MESH_ID_BYTES_MAX, 0, "node id",
				    NULL);
		if (st != LK_OK)
			return st;
	}
	st = check_list(n->interfaces, n->interface_count, "interfaces");
	return st != LK_OK ? st
			   : check_list(n->protocols, n->protocol_count,
					"protocols");
}

static void encode(struct mbuf *b, const lk_mesh_node *n)
{
	mbuf_u8(b, MESH_VALUE_V1);
	mbuf_u8(b, n->started ? NODE_STARTED : 0);
	mbuf_u64(b, n->routes_discovered);
	mbuf_u64(b, n->created_at_ms);
	mbuf_u64(b, n->updated_at_ms);
	mbuf_u8(b, (uint8_t)n->interface_count);
	for (size_t i = 0; i < n->interface_count; i++)
		mbuf_str8(b, n->interfaces[i], strlen(n->interfaces[i]));
	mbuf_u8(b, (uint8_t)n->protocol_count);
	for (size_t i = 0; i < n->protocol_count; i++)
		mbuf_str8(b, n->protocols[i], strlen(n->protocols[i]));
}

/* Reads a list of str8 names into v and lens; returns the bytes their
 * copies take (pointer, string, NUL). */
static size_t read_list(struct mread *r, const char **v, size_t *lens,
			size_t *count, const char *field)
{
	size_t n = mread_u8(r, field), bytes = 0;

	if (n > LK_MESH_LIST_MAX && !r->err[0])
		snprintf(r->err, sizeof r->err, "%s: %s count %zu past %u",
			 r->what, field, n, LK_MESH_LIST_MAX);
	*count = r->err[0] ? 0 : n;
	for (size_t i = 0; i < *count; i++) {
		v[i] = mread_str8(r, LK_MESH_NAME_BYTES_MAX, &lens[i], field);
		bytes += lens[i] + 1 + sizeof(char *);
	}
	return bytes;
}

lk_status lk_mesh_node_decode(lk_mesh_node **out, const void *key,
			      size_t key_len, const void *value,
			      size_t value_len)
{
	const char *s[2 * LK_MESH_LIST_MAX];
	size_t lens[2 * LK_MESH_LIST_MAX];
	size_t n_if, n_proto, bytes;
	lk_mesh_node n = { 0 }, *node;
	struct mread r;
	lk_status st;
	char *at;
	const char **lists;
	uint8_t flags;

	if (!out || !key || (!value && value_len))
		return lk_fail(LK_INVALID, "lk_mesh_node_decode: NULL argument");
	*out = NULL;
	if (key_len == 0 || key_len > LK_MESH_ID_BYTES_MAX ||
	    memchr(key, 0, key_len))
		return lk_fail(LK_CORRUPT, "node key of %zu bytes is no node id",
			       key_len);
	mread_init(&r, value, value_len, "node value");
	st = mread_version(&r);
	if (st != LK_OK)
		return st;
	flags = mread_u8(&r, "flags");
	n.started = (flags & NODE_STARTED) != 0;
	n.routes_discovered = mread_u64(&r, "routes_discovered");
	n.created_at_ms = mread_u64(&r, "created_at");
	n.updated_at_ms = mread_u64(&r, "updated_at");
	bytes = read_list(&r, s, lens, &n_if, "interfaces");
	bytes += read_list(&r, s + n_if, lens + n_if, &n_proto, "protocols");
	if (!r.err[0] && (flags & ~NODE_STARTED))
		snprintf(r.err, sizeof r.err, "node value: unknown flags 0x%x",
			 flags);
	st = mread_end(&r, 0);
	if (st != LK_OK)
		return st;
	node = malloc(sizeof *node + bytes + key_len + 1);
	if (!node)
		return lk_fail(LK_NOMEM, "decoding a node");
	*node = n;
	lists = (const char **)(node + 1);
	at = (char *)(lists + n_if + n_proto);
	for (size_t i = 0; i < n_if + n_proto; i++)
		lists[i] = arena_str(&at, s[i], lens[i]);
	node->interfaces = lists;
	node->interface_count = n_if;
	node->protocols = lists + n_if;
	node->protocol_count = n_proto;
	node->id = arena_str(&at, key, key_len);
	*out = node;
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Operations                                                             */
/* ---------------------------------------------------------------------- */

lk_status nodes_stage_create(lk_mesh_txn *t, const lk_mesh_node *node)
{
	lk_mesh_node n;
	struct mbuf b;
	lk_status st = check_node(node, 1);
	size_t id_len;

	if (st != LK_OK)
		return st;
	id_len = strlen(node->id);
	n = *node;
	n.started = node->started != 0;
	n.created_at_ms = n.updated_at_ms = lk_now_ms(t->m->db);
	mbuf_init(&b);
	encode(&b, &n);
	st = mbuf_status(&b, "a node");
	if (st == LK_OK)
		st = txn_require(t, t->m->ns_nodes, node->id, id_len,
				 LK_IF_ABSENT, 0, LK_EXISTS,
				 "node \"%s\" exists", node->id);
	if (st == LK_OK)
		st = lk_batch_put(t->b, t->m->ns_nodes, node->id, id_len, b.p,
				  b.len, 0);
	mbuf_free(&b);
	return st;
}

lk_status nodes_stage_delete(lk_mesh_txn *t, const char *id)
{
	size_t len;
	lk_status st = mesh_check_str(id, LK_MESH_ID_BYTES_MAX, 0, "node id",
				      &len);

	if (st == LK_OK)
		st = txn_require(t, t->m->ns_nodes, id, len, LK_IF_PRESENT, 0,
				 LK_NOT_FOUND, "node \"%s\" not found", id);
	return st != LK_OK ? st
			   : lk_batch_del(t->b, t->m->ns_nodes, id, len);
}

lk_status lk_mesh_node_create(lk_mesh *m, const lk_mesh_node *node)
{
	lk_mesh_txn *t;
	lk_status st = lk_mesh_txn_begin(&t, m);

	if (st != LK_OK)
		return st;
	(void)lk_mesh_txn_node_create(t, node);
	return lk_mesh_txn_commit(t);
}

lk_status lk_mesh_node_get(lk_mesh_node **out, lk_mesh *m, const char *id)
{
	void *v;
	size_t len, vlen;
	lk_status st = mesh_check(m);

	if (st == LK_OK && !out)
		st = lk_fail(LK_INVALID, "lk_mesh_node_get: NULL output");
	if (st == LK_OK)
		st = mesh_check_str(id, LK_MESH_ID_BYTES_MAX, 0, "node id", &len);
	if (st != LK_OK)
		return st;
	*out = NULL;
	st = lk_get(&v, &vlen, m->db, m->ns_nodes, id, len);
	if (st == LK_NOT_FOUND)
		return lk_fail(LK_NOT_FOUND, "node \"%s\" not found", id);
	if (st != LK_OK)
		return st;
	st = lk_mesh_node_decode(out, id, len, v, vlen);
	lk_free(v);
	return st;
}

lk_status lk_mesh_node_update(lk_mesh *m, const char *id,
			      const lk_mesh_node *from, uint32_t fields)
{
	lk_status st = mesh_check(m);
	size_t len;

	if (st == LK_OK)
		st = mesh_check_str(id, LK_MESH_ID_BYTES_MAX, 0, "node id", &len);
	if (st == LK_OK && (fields & ~0xfu))
		st = lk_fail(LK_INVALID, "node update: unknown fields 0x%x",
			     fields);
	if (st == LK_OK)
		st = check_node(from, 0);
	for (int tries = 0; st == LK_OK; tries++) {
		lk_mesh_node *cur, n;
		uint64_t seq, now;
		struct mbuf b;
		lk_batch *batch;
		void *v;
		size_t vlen;

		st = lk_get_ex(&v, &vlen, &seq, NULL, m->db, m->ns_nodes, id,
			       len);
		if (st == LK_NOT_FOUND)
			return lk_fail(LK_NOT_FOUND, "node \"%s\" not found",
				       id);
		if (st != LK_OK)
			return st;
		st = lk_mesh_node_decode(&cur, id, len, v, vlen);
		lk_free(v);
		if (st != LK_OK)
			return st;
		n = *cur;
		if (fields & LK_MESH_NODE_INTERFACES) {
			n.interfaces = from->interfaces;
			n.interface_count = from->interface_count;
		}
		if (fields & LK_MESH_NODE_PROTOCOLS) {
			n.protocols = from->protocols;
			n.protocol_count = from->protocol_count;
		}
		if (fields & LK_MESH_NODE_STARTED)
			n.started = from->started != 0;
		if (fields & LK_MESH_NODE_ROUTES)
			n.routes_discovered = from->routes_discovered;
		/* updated_at moves forward even if the clock went back */
		now = lk_now_ms(m->db);
		n.updated_at_ms = now > cur->updated_at_ms
					  ? now
					  : cur->updated_at_ms + 1;
		mbuf_init(&b);
		encode(&b, &n);
		free(cur);
		st = mbuf_status(&b, "a node");
		if (st == LK_OK)
			st = lk_batch_new(&batch);
		if (st != LK_OK) {
			mbuf_free(&b);
			return st;
		}
		st = lk_batch_require_seq(batch, m->ns_nodes, id, len, seq);
		if (st == LK_OK)
			st = lk_batch_put(batch, m->ns_nodes, id, len, b.p,
					  b.len, 0);
		if (st == LK_OK)
			st = lk_commit(m->db, batch);
		lk_batch_free(batch);
		mbuf_free(&b);
		if (st != LK_CONFLICT)
			return st;
		if (tries == MESH_RETRIES_MAX)
			return lk_fail(LK_BUSY,
				       "node \"%s\": %d updates in a row lost "
				       "to concurrent ones",
				       id, MESH_RETRIES_MAX);
		st = LK_OK;
	}
	return st;
}

lk_status lk_mesh_node_delete(lk_mesh *m, const char *id)
{
	lk_mesh_txn *t;
	lk_status st = lk_mesh_txn_begin(&t, m);

	if (st != LK_OK)
		return st;
	(void)lk_mesh_txn_node_delete(t, id);
	return lk_mesh_txn_commit(t);
}

struct list_ctx {
	int started_only;
	lk_mesh_node_fn fn;
	void *arg;
	uint64_t all, started;
	int stopped;
};

static lk_status visit(void *arg, const void *key, size_t key_len,
		       const void *value, size_t value_len)
{
	struct list_ctx *c = arg;
	lk_mesh_node *n;
	lk_status st;

	if (c->stopped)
		return LK_OK;
	st = lk_mesh_node_decode(&n, key, key_len, value, value_len);
	if (st != LK_OK)
		return st;
	c->all++;
	c->started += n->started != 0;
	if (c->fn && (!c->started_only || n->started))
		c->stopped = c->fn(c->arg, n) != 0;
	free(n);
	return LK_OK;
}

lk_status lk_mesh_node_list(lk_mesh *m, int started_only, lk_mesh_node_fn fn,
			    void *arg)
{
	struct list_ctx c = { started_only, fn, arg, 0, 0, 0 };
	lk_status st = mesh_check(m);

	if (st == LK_OK && !fn)
		st = lk_fail(LK_INVALID, "lk_mesh_node_list: NULL callback");
	return st != LK_OK ? st : mesh_scan(m, m->ns_nodes, NULL, 0, visit, &c);
}

lk_status nodes_count(lk_mesh *m, uint64_t *all, uint64_t *started)
{
	struct list_ctx c = { 0, NULL, NULL, 0, 0, 0 };
	lk_status st = mesh_scan(m, m->ns_nodes, NULL, 0, visit, &c);

	*all = c.all;
	*started = c.started;
	return st;
}
