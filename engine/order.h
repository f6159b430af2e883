/* SPDX-License-Identifier: MIT */
/*
 * order.h - the rules between records (order.c): what a record valid by
 * its own checksum may still break by where it stands in the log.
 *
 * Recovery refuses a log that breaks one; lk_log_read() names the rule on
 * the record, and salvage, which keeps only what a strict open accepts,
 * rewrites a segment that holds one.  Both judge with order_check(), so
 * that what dump and salvage see is what open enforces: a rule only one
 * of them knew let salvage keep a segment that open then refused (four
 * such inputs are in fuzz/regressions/open).
 */
#ifndef LK_ORDER_H
#define LK_ORDER_H

#include <stdint.h>

#include "logkeep_limits.h"
#include "record.h"

/* What the rules need to know of the records before the one judged. */
struct order_state {
	uint64_t last_seq;  /* newest put/delete seq of the log so far */
	const uint64_t *catalog; /* LK_NS_COUNT_MAX + 1 entries: id -> its
				    name's order_catalog_name, 0 for none */
	uint64_t group_ops; /* records of the group not yet committed */
	uint64_t seg_ops;   /* records the segment's commits closed */
	int sealed;         /* the segment's seal was read */
	int resynced;       /* reading goes on after damage in the segment:
			       its record count is not known */
};

enum order_rule {
	ORDER_OK = 0,
	ORDER_AFTER_SEAL,       /* data after the seal record */
	ORDER_SEQ,              /* sequence number does not increase */
	ORDER_CATALOG,          /* invalid namespace catalog entry, or an id
				   given to a second name */
	ORDER_GROUP_SIZE,       /* group larger than the format allows */
	ORDER_DURABLE_FUTURE,   /* commit or seal claims durability past
				   itself */
	ORDER_COMMIT_COUNT,     /* commit count does not match its group */
	ORDER_SEAL_IN_GROUP,    /* seal inside an uncommitted group */
	ORDER_SEAL_COUNT,       /* seal's record count does not match the
				   segment (not judged after damage) */
};

/* The first rule rec, valid by itself and read at pos, breaks after the
 * records described by s, or ORDER_OK. */
enum order_rule order_check(const struct order_state *s,
			    const struct record *rec, uint64_t pos);

/* The rule as a sentence (lk_log_item.what, lk_problem.what). */
const char *order_rule_text(enum order_rule rule);

/* A catalog entry's name as the catalog array of order_state keeps it
 * (never 0); rec passed order_check. */
uint64_t order_catalog_name(const struct record *rec);

#endif /* LK_ORDER_H */
