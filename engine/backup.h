/* SPDX-License-Identifier: MIT */
/*
 * backup.h - online backup (backup.c).
 */
#ifndef LK_BACKUP_H
#define LK_BACKUP_H

#include "segtable.h"

/* lk_backup() (see logkeep.h) on a handle that db.c counted in. */
lk_status backup_run(struct lk_db *db, const char *dest_path,
		     lk_progress_fn fn, void *arg);

#endif /* LK_BACKUP_H */
