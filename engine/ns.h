/* SPDX-License-Identifier: MIT */
/*
 * ns.h - namespaces (ns.c): the public lk_ns_* calls, and loading the
 * catalog at open.
 */
#ifndef LK_NS_H
#define LK_NS_H

#include "handle.h"

/* Makes db->ns and loads the namespace catalog (namespace 0) into it,
 * from where the loaded snapshot says its entries are or else from the
 * index.  Returns LK_OK, LK_CORRUPT, LK_IO, LK_NOMEM (db->ns may be set:
 * ns_free() it). */
lk_status ns_load(struct lk_db *db);
/* Frees db->ns; safe when ns_load never ran. */
void ns_free(struct lk_db *db);

#endif /* LK_NS_H */
