/* SPDX-License-Identifier: MIT */
/*
 * handle.c - what every entry point asks of the handle before it acts:
 * is it open, count this use in so that lk_close() waits for it (see
 * `users` in handle.h), and is a record expired at the handle's clock.
 */

#include "contract.h"
#include "error.h"
#include "handle.h"

lk_status handle_check(const struct lk_db *db)
{
	if (!db)
		return err_set(LK_INVALID, "NULL database handle");
	if (db->magic != DB_MAGIC)
		return err_set(LK_MISUSE, "not an open database handle (closed?)");
	return LK_OK;
}

lk_status handle_enter(struct lk_db *db, enum db_use use)
{
	lk_status st = handle_check(db);

	/* Checked before the count too: a handle closed long ago is not
	 * written to. */
	if (st != LK_OK)
		return st;
	LK_ASSERT(use < DB_USE_COUNT);
	atomic_fetch_add(&db->users[use], 1);
	st = handle_check(db);
	if (st != LK_OK)
		handle_leave(db, use);
	return st;
}

void handle_leave(struct lk_db *db, enum db_use use)
{
	uint32_t was = atomic_fetch_sub(&db->users[use], 1);

	LK_ASSERT(was > 0);
	(void)was;
}

int handle_expired(const struct lk_db *db, const struct record *rec)
{
	return rec->expire_at_ms &&
	       db->io->now_ms(db->io->ctx) >= rec->expire_at_ms;
}
