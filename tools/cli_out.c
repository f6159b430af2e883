/* SPDX-License-Identifier: MIT */
/*
 * cli_out.c - YAML (libyaml's emitter) and JSON output with one calling
 * sequence (cli_out.h).
 *
 * JSON is written directly: a stack of "first member yet?" flags places
 * the commas, and json_put_string (cli_format.c) escapes.  YAML goes
 * through libyaml events, so quoting and escaping are libyaml's: a value
 * such as "yes", "1.0" or ": x" comes back as the same string.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cli_format.h"
#include "cli_out.h"

#define OUT_DEPTH_MAX 16

struct out {
	FILE *f;
	int json;
	int failed;
	yaml_emitter_t em;
	int depth;
	int first[OUT_DEPTH_MAX]; /* JSON: no member written yet at depth */
	int is_map[OUT_DEPTH_MAX];
	int want_value;           /* JSON: a key was written, its value next */
};

static int write_handler(void *data, unsigned char *buf, size_t size)
{
	return fwrite(buf, 1, size, data) == size;
}

static void emit(struct out *o, yaml_event_t *ev, int ok)
{
	if (!ok || (!o->failed && !yaml_emitter_emit(&o->em, ev)))
		o->failed = 1;
}

struct out *out_new(FILE *f, int json)
{
	struct out *o = calloc(1, sizeof *o);
	yaml_event_t ev;

	if (!o)
		return NULL;
	o->f = f;
	o->json = json;
	o->first[0] = 1;
	if (json)
		return o;
	if (!yaml_emitter_initialize(&o->em)) {
		free(o);
		return NULL;
	}
	yaml_emitter_set_output(&o->em, write_handler, f);
	yaml_emitter_set_unicode(&o->em, 1);
	emit(o, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	emit(o, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL,
							   NULL, 1));
	return o;
}

/* JSON: the comma before a member or item, unless it is a map's value. */
static void json_sep(struct out *o)
{
	if (o->want_value) {
		o->want_value = 0;
		return;
	}
	if (!o->first[o->depth])
		fputc(',', o->f);
	o->first[o->depth] = 0;
}

static void open_(struct out *o, int map)
{
	yaml_event_t ev;

	if (o->depth + 1 >= OUT_DEPTH_MAX) {
		o->failed = 1;
		return;
	}
	if (o->json) {
		json_sep(o);
		fputc(map ? '{' : '[', o->f);
	} else if (map) {
		emit(o, &ev, yaml_mapping_start_event_initialize(
				     &ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE));
	} else {
		emit(o, &ev, yaml_sequence_start_event_initialize(
				     &ev, NULL, NULL, 1,
				     YAML_BLOCK_SEQUENCE_STYLE));
	}
	o->depth++;
	o->first[o->depth] = 1;
	o->is_map[o->depth] = map;
}

static void close_(struct out *o, int map)
{
	yaml_event_t ev;

	if (o->depth == 0) {
		o->failed = 1;
		return;
	}
	o->depth--;
	if (o->json)
		fputc(map ? '}' : ']', o->f);
	else if (map)
		emit(o, &ev, yaml_mapping_end_event_initialize(&ev));
	else
		emit(o, &ev, yaml_sequence_end_event_initialize(&ev));
}

void out_map_begin(struct out *o) { open_(o, 1); }
void out_map_end(struct out *o) { close_(o, 1); }
void out_seq_begin(struct out *o) { open_(o, 0); }
void out_seq_end(struct out *o) { close_(o, 0); }

/* 1 if a plain scalar s would read back as something else than the
 * string: empty (null), a number, a YAML 1.1 boolean or null.  libyaml
 * quotes what would not parse, not what would parse as another type. */
static int ambiguous(const char *s)
{
	static const char *const words[] = { "y", "yes", "n", "no", "true",
					     "false", "on", "off", "null",
					     "~" };
	char low[8];
	size_t n = strlen(s);

	if (n == 0 || strchr("0123456789+-.", s[0]))
		return 1;
	if (n >= sizeof low)
		return 0;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcmp(low, words[i]) == 0)
			return 1;
	return 0;
}

/* A scalar: plain for numbers and booleans (raw 1), quoted when YAML
 * would read the string as something else. */
static void scalar(struct out *o, const char *s, int raw)
{
	yaml_event_t ev;
	size_t n = strlen(s);
	char *fixed;

	if (o->json) {
		json_sep(o);
		if (raw)
			fputs(s, o->f);
		else
			json_put_string(o->f, s, n);
		return;
	}
	/* libyaml takes UTF-8 only; data written by other means than the
	 * mesh layer (which refuses anything else) may hold other bytes */
	fixed = raw ? NULL : utf8_replace_invalid(s);
	if (fixed) {
		s = fixed;
		n = strlen(s);
	}
	emit(o, &ev, yaml_scalar_event_initialize(
			     &ev, NULL, NULL, (yaml_char_t *)s, (int)n, 1,
			     !raw, raw ? YAML_PLAIN_SCALAR_STYLE
				 : ambiguous(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
				 : strchr(s, '\n') ? YAML_LITERAL_SCALAR_STYLE
						  : YAML_ANY_SCALAR_STYLE));
	free(fixed);
}

void out_str(struct out *o, const char *s) { scalar(o, s, 0); }

void out_u64(struct out *o, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof buf, "%" PRIu64, v);
	scalar(o, buf, 1);
}

void out_bool(struct out *o, int v)
{
	scalar(o, v ? "true" : "false", 1);
}

void out_key(struct out *o, const char *k)
{
	scalar(o, k, 0);
	if (o->json) {
		fputc(':', o->f);
		o->want_value = 1;
	}
}

void out_kv_str(struct out *o, const char *k, const char *s)
{
	out_key(o, k);
	out_str(o, s);
}

void out_kv_u64(struct out *o, const char *k, uint64_t v)
{
	out_key(o, k);
	out_u64(o, v);
}

void out_kv_i64(struct out *o, const char *k, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof buf, "%" PRId64, v);
	out_key(o, k);
	scalar(o, buf, 1);
}

void out_kv_bool(struct out *o, const char *k, int v)
{
	out_key(o, k);
	out_bool(o, v);
}

void out_kv_hex(struct out *o, const char *k, const uint8_t *p, size_t n)
{
	char buf[129];

	if (n > 64)
		n = 64;
	for (size_t i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", p[i]);
	buf[2 * n] = '\0';
	out_kv_str(o, k, buf);
}

/* ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ", in integer arithmetic
 * on the full 64 bits: gmtime_r() takes a time_t, which is 32 bits on
 * armhf and other 32-bit hosts, and would print an expiry past 2038 as a
 * date of 1901-1969.  The civil date of a day number is Howard Hinnant's
 * days-to-civil algorithm (proleptic Gregorian, eras of 400 years), the
 * same dates gmtime_r gives for every uint64 of ms (the year stays below
 * 600 million). */
void out_time(struct out *o, uint64_t ms)
{
	uint64_t s = ms / 1000u, days = s / 86400u, sod = s % 86400u;
	uint64_t z = days + 719468u, era = z / 146097u;
	uint64_t doe = z - era * 146097u;
	uint64_t yoe = (doe - doe / 1460u + doe / 36524u - doe / 146096u) / 365u;
	uint64_t doy = doe - (365u * yoe + yoe / 4u - yoe / 100u);
	uint64_t mp = (5u * doy + 2u) / 153u;
	uint64_t day = doy - (153u * mp + 2u) / 5u + 1u;
	uint64_t month = mp < 10u ? mp + 3u : mp - 9u;
	uint64_t year = yoe + era * 400u + (month <= 2u);
	char buf[64];

	snprintf(buf, sizeof buf, "%04" PRIu64 "-%02" PRIu64 "-%02" PRIu64
		 "T%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%03" PRIu64 "Z",
		 year, month, day, sod / 3600u, sod / 60u % 60u, sod % 60u,
		 ms % 1000u);
	out_str(o, buf);
}

void out_kv_time(struct out *o, const char *k, uint64_t ms)
{
	out_key(o, k);
	out_time(o, ms);
}

int out_end(struct out *o)
{
	yaml_event_t ev;
	int failed;

	if (o->json) {
		fputc('\n', o->f);
	} else {
		emit(o, &ev, yaml_document_end_event_initialize(&ev, 1));
		emit(o, &ev, yaml_stream_end_event_initialize(&ev));
		yaml_emitter_delete(&o->em);
	}
	failed = o->failed || o->depth != 0;
	free(o);
	return failed ? -1 : 0;
}
