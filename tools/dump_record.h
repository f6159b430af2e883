/* SPDX-License-Identifier: MIT */
/*
 * dump_record.h - the object `logkeep dump` prints for a put or a delete
 * (dump_record.c): its sequence number, namespace, key, checksum status,
 * expiry, sizes and value, a mesh namespace's value field by field.
 *
 * Two writers print it: `dump`, after the record's place in the files
 * (segment, file, offset, length), and the shipper (ship.c), which has no
 * place (the change feed reads records, not files) and adds the node and
 * the database.  `fleet verify` renders it again from a message's raw
 * bytes and compares, so that one function is the whole format.
 */
#ifndef LK_DUMP_RECORD_H
#define LK_DUMP_RECORD_H

#include <stddef.h>
#include <stdint.h>

struct out;

/* A put or a delete, as read from the log or from a change feed. */
struct dump_record {
	int del;                /* a delete: key only */
	uint64_t seq;
	const char *ns_name;    /* NULL when not known */
	uint32_t ns;
	const void *key;
	size_t key_len;
	int checksum_ok;        /* 0: the fields are what a damaged record
				   claims; its value is shown raw */
	uint64_t expire_at_ms;  /* 0: none */
	int compressed;         /* stored as a zstd frame, stored_len bytes */
	size_t stored_len;
	const void *value;      /* decompressed */
	size_t value_len;
	int raw;                /* mesh values as bytes, not fields */
};

/* The ledger chain as a reader meets its entries in log order, for the
 * "chain" status of each (dump).  Zeroed: nothing read yet. */
struct dump_chain {
	uint64_t pos;
	uint8_t hash[32];
};

/* Writes the record's members into the open map of o, from "seq" on; a
 * chain (may be NULL: no "chain" member) is advanced past a ledger entry.
 * Returns 0, or -1 when out of memory (the map is then incomplete). */
int dump_record_members(struct out *o, const struct dump_record *r,
			struct dump_chain *chain);

/* n bytes as lower-case hex, NUL-terminated, for out_* calls; NULL when
 * out of memory or past twice LK_VALUE_BYTES_MAX digits.  free() it. */
char *dump_hex(const void *p, size_t n);

/* Writes member key: the bytes as text when they are clean text, else
 * member key_hex: their hex.  Returns 0, or -1 when out of memory. */
int dump_bytes(struct out *o, const char *key, const void *p, size_t n);

#endif /* LK_DUMP_RECORD_H */
