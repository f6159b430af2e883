/* SPDX-License-Identifier: MIT */
/*
 * ship_message.h - the JSON message the shipper publishes for a record or
 * a gap (ship.c), which `fleet verify` renders again from a message's raw
 * bytes to check that nothing in it was changed.
 *
 *   {"kind":"put"|"del", <dump_record members>, "node":N, "db_id":HEX,
 *    "raw_hex":HEX (a put: the stored value's bytes)}
 *   {"kind":"gap", "seq":FIRST, "seq_last":LAST, "node":N, "db_id":HEX}
 *
 * One line each, with its newline.  Nats-Msg-Id: DBID "-" SEQ (a gap:
 * its first number).
 */
#ifndef LK_SHIP_MESSAGE_H
#define LK_SHIP_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "dump_record.h"

/* The message of record r (r->checksum_ok set) into *buf (malloc'd, *len
 * bytes).  Returns 0, or -1 when out of memory. */
int ship_message_record(char **buf, size_t *len, const struct dump_record *r,
			const char *node, const char *db_hex);

/* The message of the gap first..last. */
int ship_message_gap(char **buf, size_t *len, uint64_t first, uint64_t last,
		     const char *node, const char *db_hex);

#endif /* LK_SHIP_MESSAGE_H */
