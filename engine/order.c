/* SPDX-License-Identifier: MIT */
/*
 * order.c - the rules between records (design in order.h).
 */
#include "order.h"

/* Namespace 0 holds the catalog (record.h): each entry must be valid, and
 * an id may not be given to two names. */
static int catalog_ok(const struct order_state *s, const struct record *rec)
{
	uint64_t had;

	if (!record_catalog_valid(rec))
		return 0;
	had = s->catalog[rec->value[0]];
	return had == 0 || had == order_catalog_name(rec);
}

enum order_rule order_check(const struct order_state *s,
			    const struct record *rec, uint64_t pos)
{
	int op = rec->type <= REC_DEL;

	if (s->sealed)
		return ORDER_AFTER_SEAL;
	if (op && rec->seq <= s->last_seq)
		return ORDER_SEQ;
	if (op && rec->ns == 0 && !catalog_ok(s, rec))
		return ORDER_CATALOG;
	if (op && s->group_ops >= LK_BATCH_OPS_MAX)
		return ORDER_GROUP_SIZE;
	if (!op && rec->durable_upto > pos)
		return ORDER_DURABLE_FUTURE;
	if (rec->type == REC_COMMIT && rec->count != s->group_ops)
		return ORDER_COMMIT_COUNT;
	if (rec->type == REC_SEAL && s->group_ops)
		return ORDER_SEAL_IN_GROUP;
	if (rec->type == REC_SEAL && !s->resynced && rec->count != s->seg_ops)
		return ORDER_SEAL_COUNT;
	return ORDER_OK;
}

const char *order_rule_text(enum order_rule rule)
{
	switch (rule) {
	case ORDER_OK: return "no rule broken";
	case ORDER_AFTER_SEAL: return "data after the seal record";
	case ORDER_SEQ: return "sequence number does not increase";
	case ORDER_CATALOG: return "invalid namespace catalog entry";
	case ORDER_GROUP_SIZE: return "group larger than the format allows";
	case ORDER_DURABLE_FUTURE:
		return "commit claims durability past itself";
	case ORDER_COMMIT_COUNT:
		return "commit count does not match its group";
	case ORDER_SEAL_IN_GROUP: return "seal inside an uncommitted group";
	case ORDER_SEAL_COUNT:
		return "seal's record count does not match the segment";
	}
	return "unknown rule";
}

uint64_t order_catalog_name(const struct record *rec)
{
	return record_hash(rec->key, rec->key_len, 0) | 1; /* never 0 */
}
