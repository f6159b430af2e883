/* SPDX-License-Identifier: MIT */
/*
 * ns.h - namespaces (ns.c): the public lk_ns_* calls, and loading the
 * catalog at open.
 */
#ifndef LK_NS_H
#define LK_NS_H

#include "handle.h"

/* Loads the namespace catalog (namespace 0) from the index into
 * db->ns_names.  Returns LK_OK, LK_CORRUPT, LK_IO, LK_NOMEM. */
lk_status ns_load(struct lk_db *db);

#endif /* LK_NS_H */
