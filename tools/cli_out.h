/* SPDX-License-Identifier: MIT */
/*
 * cli_out.h - structured output of the mesh commands (cli_out.c): one
 * calling sequence - maps, sequences, scalars - written as a YAML document
 * through libyaml's emitter (the default: what an operator reads) or as
 * one line of JSON (--json: what a script reads).  The one file of the
 * tool that includes libyaml.
 */
#ifndef LK_CLI_OUT_H
#define LK_CLI_OUT_H

#include <stdint.h>
#include <stdio.h>

struct out;

/* A writer to f, YAML or JSON.  NULL when out of memory. */
struct out *out_new(FILE *f, int json);
void out_map_begin(struct out *o);
void out_map_end(struct out *o);
void out_seq_begin(struct out *o);
void out_seq_end(struct out *o);
/* A string scalar (any bytes: JSON escapes them, YAML quotes them). */
void out_str(struct out *o, const char *s);
void out_u64(struct out *o, uint64_t v);
void out_bool(struct out *o, int v);
/* A key inside a map, before its value (a scalar, a map, a sequence). */
void out_key(struct out *o, const char *key);
/* A key and a scalar, inside a map. */
void out_kv_str(struct out *o, const char *key, const char *s);
void out_kv_u64(struct out *o, const char *key, uint64_t v);
void out_kv_i64(struct out *o, const char *key, int64_t v);
void out_kv_bool(struct out *o, const char *key, int v);
void out_kv_hex(struct out *o, const char *key, const uint8_t *p, size_t n);
/* An ISO 8601 UTC time from ms since the epoch, and with its key. */
void out_time(struct out *o, uint64_t ms);
void out_kv_time(struct out *o, const char *key, uint64_t ms);
/* Ends the document and frees the writer; 0, or -1 if the emitter
 * failed (out of memory, a write error: see ferror(f)). */
int out_end(struct out *o);

#endif /* LK_CLI_OUT_H */
