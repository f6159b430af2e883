/* SPDX-License-Identifier: MIT */
/*
 * policies.c - the policies collection (logkeep_mesh.h): policy_id -> YAML
 * document, rules_count, created_at, updated_at.  The one file that
 * includes libyaml.
 *
 * A document is checked before anything is written: it must parse, be one
 * YAML mapping, and hold a top-level `rules` sequence, whose items are
 * counted (rules_count is never the caller's word).  A rejection names the
 * line and column (1-based) and libyaml's problem.  libyaml's event parser
 * keeps its nesting on the heap and never expands aliases, the input is
 * bounded by LK_MESH_POLICY_BYTES_MAX and its nesting by
 * LK_MESH_POLICY_DEPTH_MAX (libyaml's scanner is quadratic in it), so a
 * hostile document costs bounded memory and time.
 *
 * Key: the policy id.  Value (v1):
 *
 *   version:u8 rules_count:u32 created_ms:u64 updated_ms:u64
 *   yaml_len:u32 yaml
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "mesh.h"

static lk_status reject(lk_mesh_yaml_error *err, const yaml_mark_t *mark,
			const char *problem)
{
	lk_mesh_yaml_error e;

	e.line = (uint32_t)mark->line + 1;
	e.column = (uint32_t)mark->column + 1;
	snprintf(e.problem, sizeof e.problem, "%s", problem);
	if (err)
		*err = e;
	return lk_fail(LK_INVALID, "policy line %u column %u: %s", e.line,
		       e.column, e.problem);
}

/* The line and column (0-based, as libyaml's marks) of byte `offset`. */
static yaml_mark_t mark_of(const char *doc, size_t offset)
{
	yaml_mark_t m = { offset, 0, 0 };

	for (size_t i = 0; doc && i < offset; i++) {
		if (doc[i] == '\n') {
			m.line++;
			m.column = 0;
		} else {
			m.column++;
		}
	}
	return m;
}

lk_status lk_mesh_policy_check(uint32_t *rules_count, const char *yaml,
			       size_t yaml_len, lk_mesh_yaml_error *err)
{
	yaml_parser_t p;
	yaml_event_t ev;
	yaml_mark_t end = { 0, 0, 0 };
	lk_status st = LK_OK;
	int depth = 0;          /* of collections around the event */
	int in_rules = 0;       /* the value of the top `rules` key */
	int want_key = 0;       /* at depth 1: the next scalar is a key */
	int is_rules_key = 0;   /* the key just read was `rules` */
	int found = 0, docs = 0, done = 0;
	uint64_t count = 0;

	if (err)
		memset(err, 0, sizeof *err);
	if (!rules_count || (!yaml && yaml_len))
		return lk_fail(LK_INVALID, "lk_mesh_policy_check: NULL argument");
	if (yaml_len > LK_MESH_POLICY_BYTES_MAX)
		return lk_fail(LK_TOO_BIG, "policy of %zu bytes: at most %u",
			       yaml_len, LK_MESH_POLICY_BYTES_MAX);
	if (yaml_len && memchr(yaml, 0, yaml_len)) {
		yaml_mark_t m = { 0, 0, 0 };
		return reject(err, &m, "a NUL byte in the document");
	}
	if (!yaml_parser_initialize(&p))
		return lk_fail(LK_NOMEM, "initialising the YAML parser");
	yaml_parser_set_input_string(&p, (const unsigned char *)(yaml ? yaml : ""),
				     yaml_len);
	while (!done && st == LK_OK) {
		if (!yaml_parser_parse(&p, &ev)) {
			yaml_mark_t at = p.problem_mark;

			if (p.error == YAML_READER_ERROR) /* only an offset */
				at = mark_of(yaml, p.problem_offset);
			st = p.error == YAML_MEMORY_ERROR
				     ? lk_fail(LK_NOMEM, "parsing a policy")
				     : reject(err, &at,
					      p.problem ? p.problem
							: "unparsable");
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				st = reject(err, &ev.start_mark,
					    "a policy is one YAML document; "
					    "a second one starts here");
			break;
		case YAML_DOCUMENT_END_EVENT:
			end = ev.end_mark;
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (depth == 0 && ev.type != YAML_MAPPING_START_EVENT) {
				st = reject(err, &ev.start_mark,
					    "the document is not a mapping "
					    "(it needs a top-level `rules` key)");
				break;
			}
			if (depth == LK_MESH_POLICY_DEPTH_MAX) {
				char problem[80];

				snprintf(problem, sizeof problem,
					 "collections nested more than %d deep",
					 LK_MESH_POLICY_DEPTH_MAX);
				st = reject(err, &ev.start_mark, problem);
				break;
			}
			if (in_rules && depth == 2)
				count++;
			if (depth == 1 && want_key) {
				/* a collection as a key ("? [a]"): its
				 * value comes next */
				want_key = 0;
				is_rules_key = 0;
			} else if (depth == 1) {
				if (is_rules_key) {
					if (ev.type !=
					    YAML_SEQUENCE_START_EVENT) {
						st = reject(err, &ev.start_mark,
							    "`rules` is not a "
							    "sequence");
						break;
					}
					in_rules = 1;
					found = 1;
				}
				want_key = 1;
				is_rules_key = 0;
			}
			depth++;
			if (depth == 1)
				want_key = 1;
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			if (depth == 1)
				in_rules = 0;
			break;
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
			if (depth == 0) {
				st = reject(err, &ev.start_mark,
					    "the document is not a mapping "
					    "(it needs a top-level `rules` key)");
				break;
			}
			if (in_rules && depth == 2) {
				count++;
				break;
			}
			if (depth != 1)
				break;
			if (want_key) {
				is_rules_key =
					ev.type == YAML_SCALAR_EVENT &&
					ev.data.scalar.length == 5 &&
					memcmp(ev.data.scalar.value, "rules",
					       5) == 0;
				if (is_rules_key && found)
					st = reject(err, &ev.start_mark,
						    "a second `rules` key");
				want_key = 0;
			} else {
				if (is_rules_key)
					st = reject(err, &ev.start_mark,
						    "`rules` is not a "
						    "sequence");
				want_key = 1;
				is_rules_key = 0;
			}
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (st != LK_OK)
		return st;
	if (docs == 0) {
		yaml_mark_t m = { 0, 0, 0 };
		return reject(err, &m, "an empty document (it needs a top-level "
				       "`rules` sequence)");
	}
	if (!found)
		return reject(err, &end,
			      "no top-level `rules` sequence in the document");
	if (count > LK_MESH_POLICY_RULES_MAX)
		return lk_fail(LK_TOO_BIG, "policy of %llu rules: at most %u",
			       (unsigned long long)count,
			       LK_MESH_POLICY_RULES_MAX);
	*rules_count = (uint32_t)count;
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* The value                                                              */
/* ---------------------------------------------------------------------- */

lk_status lk_mesh_policy_decode(lk_mesh_policy **out, const void *key,
				size_t key_len, const void *value,
				size_t value_len)
{
	lk_mesh_policy p = { 0 }, *pol;
	struct mread r;
	const uint8_t *doc;
	uint32_t doc_len;
	lk_status st;
	char *at;

	if (!out || !key || (!value && value_len))
		return lk_fail(LK_INVALID,
			       "lk_mesh_policy_decode: NULL argument");
	*out = NULL;
	if (key_len == 0 || key_len > LK_MESH_ID_BYTES_MAX ||
	    memchr(key, 0, key_len))
		return lk_fail(LK_CORRUPT,
			       "policy key of %zu bytes is no policy id",
			       key_len);
	mread_init(&r, value, value_len, "policy value");
	st = mread_version(&r);
	if (st != LK_OK)
		return st;
	p.rules_count = mread_u32(&r, "rules_count");
	p.created_at_ms = mread_u64(&r, "created_at");
	p.updated_at_ms = mread_u64(&r, "updated_at");
	doc_len = mread_u32(&r, "yaml_len");
	if (!r.err[0] && doc_len > LK_MESH_POLICY_BYTES_MAX)
		snprintf(r.err, sizeof r.err,
			 "policy value: document of %u bytes past %u", doc_len,
			 LK_MESH_POLICY_BYTES_MAX);
	if (!r.err[0] && p.rules_count > LK_MESH_POLICY_RULES_MAX)
		snprintf(r.err, sizeof r.err,
			 "policy value: %u rules past %u", p.rules_count,
			 LK_MESH_POLICY_RULES_MAX);
	doc = mread_bytes(&r, r.err[0] ? 0 : doc_len, "yaml");
	st = mread_end(&r, 0);
	if (st != LK_OK)
		return st;
	pol = malloc(sizeof *pol + doc_len + 1 + key_len + 1);
	if (!pol)
		return lk_fail(LK_NOMEM, "decoding a policy");
	*pol = p;
	at = (char *)(pol + 1);
	pol->yaml = arena_str(&at, (const char *)doc, doc_len);
	pol->yaml_len = doc_len;
	pol->id = arena_str(&at, key, key_len);
	*out = pol;
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Operations                                                             */
/* ---------------------------------------------------------------------- */

lk_status policies_stage_put(lk_mesh_txn *t, const char *id, const char *yaml,
			     size_t yaml_len, int mode)
{
	lk_mesh *m = t->m;
	lk_mesh_policy *old = NULL;
	uint32_t rules;
	uint64_t seq = 0, now;
	struct mbuf b;
	size_t len;
	void *v;
	size_t vlen;
	lk_status st = mesh_check_str(id, LK_MESH_ID_BYTES_MAX, 0, "policy id",
				      &len);

	if (st == LK_OK)
		st = lk_mesh_policy_check(&rules, yaml, yaml_len, NULL);
	if (st != LK_OK)
		return st;
	st = lk_get_ex(&v, &vlen, &seq, NULL, m->db, m->ns_policies, id, len);
	if (st == LK_OK) {
		st = lk_mesh_policy_decode(&old, id, len, v, vlen);
		lk_free(v);
		if (st != LK_OK)
			return st;
	} else if (st != LK_NOT_FOUND) {
		return st;
	}
	if (old && mode == POLICY_CREATE) {
		free(old);
		return lk_fail(LK_EXISTS, "policy \"%s\" exists", id);
	}
	if (!old && mode == POLICY_UPDATE)
		return lk_fail(LK_NOT_FOUND, "policy \"%s\" not found", id);
	now = lk_now_ms(m->db);
	mbuf_init(&b);
	mbuf_u8(&b, MESH_VALUE_V1);
	LK_MESH_ASSERT(rules <= LK_MESH_POLICY_RULES_MAX); /* decode's check */
	mbuf_u32(&b, rules);
	mbuf_u64(&b, old ? old->created_at_ms : now);
	mbuf_u64(&b, old && old->updated_at_ms >= now ? old->updated_at_ms + 1
						      : now);
	mbuf_u32(&b, (uint32_t)yaml_len);
	mbuf_bytes(&b, yaml, yaml_len);
	free(old);
	st = mbuf_status(&b, "a policy");
	/* What was read is what is replaced: a concurrent create or update
	 * fails the batch. */
	if (st == LK_OK && seq)
		st = txn_require(t, m->ns_policies, id, len, LK_IF_SEQ, seq,
				 LK_CONFLICT,
				 "policy \"%s\" changed under the transaction",
				 id);
	else if (st == LK_OK)
		st = txn_require(t, m->ns_policies, id, len, LK_IF_ABSENT, 0,
				 mode == POLICY_CREATE ? LK_EXISTS : LK_CONFLICT,
				 "policy \"%s\" %s under the transaction", id,
				 mode == POLICY_CREATE ? "was created"
						       : "changed");
	if (st == LK_OK)
		st = lk_batch_put(t->b, m->ns_policies, id, len, b.p, b.len, 0);
	mbuf_free(&b);
	return st;
}

static lk_status put_policy(lk_mesh *m, const char *id, const char *yaml,
			    size_t yaml_len, int mode)
{
	for (int tries = 0;; tries++) {
		lk_mesh_txn *t;
		lk_status st = lk_mesh_txn_begin(&t, m);

		if (st != LK_OK)
			return st;
		st = txn_step(t, policies_stage_put(t, id, yaml, yaml_len, mode));
		if (st != LK_OK) {
			lk_mesh_txn_rollback(t);
			return st;
		}
		st = lk_mesh_txn_commit(t);
		/* A concurrent writer of the same id won: read again. */
		if (st != LK_CONFLICT || tries == MESH_RETRIES_MAX)
			return st;
	}
}

lk_status lk_mesh_policy_create(lk_mesh *m, const char *id, const char *yaml,
				size_t yaml_len)
{
	lk_status st = mesh_check(m);

	return st != LK_OK ? st : put_policy(m, id, yaml, yaml_len,
					     POLICY_CREATE);
}

lk_status lk_mesh_policy_update(lk_mesh *m, const char *id, const char *yaml,
				size_t yaml_len)
{
	lk_status st = mesh_check(m);

	return st != LK_OK ? st : put_policy(m, id, yaml, yaml_len,
					     POLICY_UPDATE);
}

lk_status lk_mesh_policy_put(lk_mesh *m, const char *id, const char *yaml,
			     size_t yaml_len)
{
	lk_status st = mesh_check(m);

	return st != LK_OK ? st : put_policy(m, id, yaml, yaml_len, POLICY_PUT);
}

lk_status lk_mesh_policy_get(lk_mesh_policy **out, lk_mesh *m, const char *id)
{
	void *v;
	size_t len, vlen;
	lk_status st = mesh_check(m);

	if (st == LK_OK && !out)
		st = lk_fail(LK_INVALID, "lk_mesh_policy_get: NULL output");
	if (st == LK_OK)
		st = mesh_check_str(id, LK_MESH_ID_BYTES_MAX, 0, "policy id",
				    &len);
	if (st != LK_OK)
		return st;
	*out = NULL;
	st = lk_get(&v, &vlen, m->db, m->ns_policies, id, len);
	if (st == LK_NOT_FOUND)
		return lk_fail(LK_NOT_FOUND, "policy \"%s\" not found", id);
	if (st != LK_OK)
		return st;
	st = lk_mesh_policy_decode(out, id, len, v, vlen);
	lk_free(v);
	return st;
}

lk_status lk_mesh_policy_delete(lk_mesh *m, const char *id)
{
	lk_batch *b;
	size_t len;
	lk_status st = mesh_check(m);

	if (st == LK_OK)
		st = mesh_check_str(id, LK_MESH_ID_BYTES_MAX, 0, "policy id",
				    &len);
	if (st == LK_OK)
		st = lk_batch_new(&b);
	if (st != LK_OK)
		return st;
	st = lk_batch_require(b, m->ns_policies, id, len, LK_IF_PRESENT, NULL,
			      0);
	if (st == LK_OK)
		st = lk_batch_del(b, m->ns_policies, id, len);
	if (st == LK_OK)
		st = lk_commit(m->db, b);
	lk_batch_free(b);
	if (st == LK_CONFLICT)
		st = lk_fail(LK_NOT_FOUND, "policy \"%s\" not found", id);
	return st;
}

struct plist {
	lk_mesh_policy_fn fn;
	void *arg;
	int stopped;
};

static lk_status visit(void *arg, const void *key, size_t key_len,
		       const void *value, size_t value_len)
{
	struct plist *c = arg;
	lk_mesh_policy *p;
	lk_status st;

	if (c->stopped)
		return LK_OK;
	st = lk_mesh_policy_decode(&p, key, key_len, value, value_len);
	if (st != LK_OK)
		return st;
	c->stopped = c->fn(c->arg, p) != 0;
	free(p);
	return LK_OK;
}

lk_status lk_mesh_policy_list(lk_mesh *m, lk_mesh_policy_fn fn, void *arg)
{
	struct plist c = { fn, arg, 0 };
	lk_status st = mesh_check(m);

	if (st == LK_OK && !fn)
		st = lk_fail(LK_INVALID, "lk_mesh_policy_list: NULL callback");
	return st != LK_OK ? st
			   : mesh_scan(m, m->ns_policies, NULL, 0, visit, &c);
}
