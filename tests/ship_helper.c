/* SPDX-License-Identifier: MIT */
/*
 * ship_helper.c - what ship_test.py needs besides the tool, through the
 * same library (liblogkeep-ship) and helpers the tool uses:
 *
 *   append DIR N            appends N ledger transitions (and a
 *                           telemetry entry each 8) to DIR; prints the
 *                           ledger's entries
 *   daemon URL STREAM DIR NODE RATE MAX
 *                           a mesh daemon: appends RATE ledger entries a
 *                           second (up to MAX in all, 0: none) in one
 *                           thread while lk_ship_run ships in another,
 *                           until killed or SIGTERM; prints lag samples
 *                           (max and mean) on SIGTERM.  RATE "stdin":
 *                           appends N for each line N read, printing
 *                           "appended TOTAL", and stops at end of input
 *   append-big DIR BYTES    appends one ledger transition whose reasoning
 *                           is BYTES long (a message larger than the
 *                           others)
 *   limit URL STREAM SUBJECTS MAX
 *                           makes stream (subjects SUBJECTS) refuse
 *                           messages over MAX bytes, creating it if
 *                           absent
 *   tamper URL STREAM MODE  changes one ledger entry message in the
 *                           middle of the stream: MODE fields edits its
 *                           decoded actor (the raw bytes stay), MODE
 *                           relink changes a byte of its raw reasoning
 *                           and renders the message again (consistent,
 *                           but the next entry's link breaks), MODE
 *                           relink-late does that to the first ledger
 *                           entry message that came out of order, MODE
 *                           last-late moves the last ledger entry
 *                           message, unchanged, to the copy's end
 *                           (after its batch's later records: a late
 *                           entry at the chain's head), MODE scatter
 *                           does that to every 500th; prints the
 *                           copy's stream name (scatter: and the number
 *                           moved)
 */
#define _GNU_SOURCE /* memmem: a test helper only */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_format.h"
#include "logkeep_mesh.h"
#include "logkeep_ship.h"
#include "ship_message.h"
#include "ship_nats.h"

static int die(const char *what, lk_status st)
{
	fprintf(stderr, "ship_helper: %s: %s: %s\n", what, lk_strerror(st),
		lk_errmsg());
	return 1;
}

/* argv's decimal number in min..max into *v, or 0 with a message. */
static int arg_number(const char *what, const char *text, long long min,
		      long long max, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(text, &end, 10);
	if (errno || end == text || *end || *v < min || *v > max) {
		fprintf(stderr, "ship_helper: %s: '%s' is not a number in "
			"%lld..%lld\n", what, text, min, max);
		return 0;
	}
	return 1;
}

static lk_status append_one(lk_mesh *m, uint64_t i)
{
	static const char *const states[] = { "active", "degraded", "idle" };
	char entity[32], reason[64], hops[32];
	lk_mesh_attr attrs[1] = { { "hops", hops } };

	snprintf(entity, sizeof entity, "node-%02" PRIu64, i % 16);
	snprintf(reason, sizeof reason, "transition %" PRIu64, i);
	snprintf(hops, sizeof hops, "%" PRIu64, i);
	if (i % 8 == 0)
		(void)lk_mesh_telemetry_record(m, LK_MESH_TELEMETRY_EVENT,
					       "helper", reason);
	return lk_mesh_ledger_save(m, entity, states[i % 3], "helper", reason,
				   attrs, 1, NULL);
}

static int open_mesh(lk_db **db, lk_mesh **m, const char *dir)
{
	lk_options o;
	lk_status st;

	lk_options_init(&o);
	if (getenv("LK_HELPER_NOSYNC")) /* building a large ledger fast */
		o.sync = LK_SYNC_NONE;
	st = lk_open(db, dir, &o);

	if (st != LK_OK)
		return die(dir, st);
	st = lk_mesh_open(m, *db, NULL);
	if (st != LK_OK)
		return die("lk_mesh_open", st);
	return 0;
}

static int cmd_append(const char *dir, uint64_t n)
{
	lk_db *db;
	lk_mesh *m;
	lk_mesh_stats ms;
	lk_status st;

	if (open_mesh(&db, &m, dir))
		return 1;
	st = lk_mesh_stats_get(&ms, m);
	for (uint64_t i = 0; st == LK_OK && i < n; i++)
		st = append_one(m, ms.ledger_entries + i);
	if (st == LK_OK)
		st = lk_mesh_telemetry_flush(m);
	if (st == LK_OK)
		st = lk_mesh_stats_get(&ms, m);
	if (st != LK_OK)
		return die("append", st);
	printf("%" PRIu64 "\n", ms.ledger_entries);
	lk_mesh_close(m);
	return lk_close(db) == LK_OK ? 0 : 1;
}

static int cmd_append_big(const char *dir, size_t bytes)
{
	lk_mesh_attr attrs[1] = { { "hops", "1" } };
	char *reason = malloc(bytes + 1);
	lk_db *db;
	lk_mesh *m;
	lk_status st;

	if (!reason || bytes < 10 || open_mesh(&db, &m, dir)) {
		free(reason);
		return 1;
	}
	for (size_t i = 0; i < bytes; i++) /* "transition": tamper's mark */
		reason[i] = i < 10 ? "transition"[i] : (char)('a' + i % 26);
	reason[bytes] = '\0';
	st = lk_mesh_ledger_save(m, "node-big", "active", "helper", reason,
				 attrs, 1, NULL);
	free(reason);
	if (st != LK_OK)
		return die("append-big", st);
	lk_mesh_close(m);
	return lk_close(db) == LK_OK ? 0 : 1;
}

static int cmd_limit(char **argv)
{
	struct snats *sn;
	char err[SNATS_ERR_BYTES];

	if (snats_open(&sn, argv[1], 5000, NULL, NULL, err)) {
		fprintf(stderr, "ship_helper: limit: %s\n", err);
		return 1;
	}
	if (snats_stream_limit(sn, argv[2], argv[3],
			       (int32_t)strtol(argv[4], NULL, 10), err)) {
		fprintf(stderr, "ship_helper: limit: %s\n", err);
		snats_close(sn);
		return 1;
	}
	snats_close(sn);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* daemon                                                                 */
/* ---------------------------------------------------------------------- */

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

struct daemon {
	lk_ship *ship;
	lk_mesh *mesh;
	uint64_t rate, max, appended, base;
	lk_status st;
};

static void *ship_thread(void *arg)
{
	struct daemon *d = arg;

	d->st = lk_ship_run(d->ship);
	if (d->st != LK_OK)
		die("lk_ship_run", d->st);
	return NULL;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int cmd_daemon(char **argv)
{
	lk_ship_options so = LK_SHIP_OPTIONS_INIT;
	struct daemon d;
	lk_db *db;
	lk_mesh_stats ms;
	lk_ship_stats ss;
	pthread_t t;
	uint64_t start, next_sample, samples = 0, lag_sum = 0, lag_max = 0,
		rec_max = 0;
	lk_status st;
	int steps;
	char line[32];

	memset(&d, 0, sizeof d);
	steps = strcmp(argv[5], "stdin") == 0;
	d.rate = steps ? 0 : strtoull(argv[5], NULL, 10);
	d.max = strtoull(argv[6], NULL, 10);
	if (open_mesh(&db, &d.mesh, argv[3]))
		return 1;
	if (lk_mesh_stats_get(&ms, d.mesh) != LK_OK)
		return 1;
	d.base = ms.ledger_entries;
	so.nats_url = argv[1];
	so.stream = argv[2];
	so.node_id = argv[4];
	so.create_stream = 1;
	so.ack_timeout_ms = 2000;
	so.retry_max_ms = 1000;
	st = lk_ship_new(&d.ship, db, &so);
	if (st != LK_OK)
		return die("lk_ship_new", st);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if (pthread_create(&t, NULL, ship_thread, &d) != 0)
		return 1;
	start = mono_ms();
	next_sample = start + 100;
	while (!stopping) {
		uint64_t now = mono_ms();
		uint64_t due = d.rate * (now - start) / 1000;

		if (steps) {
			if (!fgets(line, sizeof line, stdin))
				break;
			due = d.appended + strtoull(line, NULL, 10);
		}
		while (d.appended < due && (d.max == 0 || d.appended < d.max)) {
			st = append_one(d.mesh, d.base + d.appended);
			if (st != LK_OK)
				return die("append", st);
			d.appended++;
		}
		if (steps) {
			printf("appended %" PRIu64 "\n", d.appended);
			fflush(stdout);
			continue;
		}
		if (now >= next_sample &&
		    lk_ship_stats_get(&ss, d.ship) == LK_OK) {
			next_sample += 100;
			samples++;
			lag_sum += ss.lag_ms;
			if (ss.lag_ms > lag_max)
				lag_max = ss.lag_ms;
			if (ss.lag_records > rec_max)
				rec_max = ss.lag_records;
		}
		usleep(1000);
	}
	lk_ship_stop(d.ship);
	pthread_join(t, NULL);
	lk_ship_stats_get(&ss, d.ship);
	printf("appended %" PRIu64 " in %.1f s; lag samples %" PRIu64
	       ": mean %.1f ms, max %" PRIu64 " ms, max %" PRIu64
	       " records; acked %" PRIu64 ", retries %" PRIu64 "\n",
	       d.appended, (double)(mono_ms() - start) / 1000.0, samples,
	       samples ? (double)lag_sum / (double)samples : 0.0, lag_max,
	       rec_max, ss.acked, ss.retries);
	lk_ship_free(d.ship);
	lk_mesh_close(d.mesh);
	lk_close(db);
	return d.st == LK_OK ? 0 : 1;
}

/* ---------------------------------------------------------------------- */
/* tamper                                                                 */
/* ---------------------------------------------------------------------- */

/* scatter: every SCATTER_EVERY-th ledger entry message is held back */
#define SCATTER_EVERY 500u

struct held {
	char *data;
	size_t len;
	char subject[256];
};

struct tamper {
	int relink;
	struct held *held;          /* last-late, scatter: published at the
				       end, in stream order */
	size_t nheld;
	uint64_t want, seen;        /* the want-th ledger entry message */
	uint64_t seq_max;           /* relink-late: the highest seq seen */
	uint64_t stream_seq;
	char *data;
	size_t len;
	struct snats *sn;       /* copying: the connection */
	uint64_t copied;
	int failed;
};

static char *modify(struct tamper *t, size_t *out_len);

/* Copies each message to "tampered" MODE "." SUBJECT, the want-th ledger entry
 * changed. */
static int copy_message(void *arg, uint64_t stream_seq, const char *subject,
			const char *data, size_t len)
{
	struct tamper *t = arg;
	char err[SNATS_ERR_BYTES], id[64], to[300];
	char *out = NULL;
	size_t out_len = len;

	const char *sq = memmem(data, len, "\"seq\":", 6);
	uint64_t seq = sq ? strtoull(sq + 6, NULL, 10) : 0;
	int late = seq < t->seq_max;

	if (seq > t->seq_max)
		t->seq_max = seq;
	if (t->relink >= 3 &&
	    memmem(data, len, "\"mesh\":\"ledger entry\"", 20) &&
	    (t->relink == 3 ? ++t->seen == t->want
			    : ++t->seen % SCATTER_EVERY == 0)) {
		/* held back, published at the end */
		struct held *h = realloc(t->held, (t->nheld + 1) * sizeof *h);

		if (!h)
			return -1;
		t->held = h;
		h += t->nheld;
		h->data = malloc(len);
		if (!h->data)
			return -1;
		t->nheld++;
		memcpy(h->data, data, len);
		h->len = len;
		snprintf(h->subject, sizeof h->subject, "%s", subject);
		t->stream_seq = stream_seq;
		return 0;
	}
	if (t->relink < 3 &&
	    memmem(data, len, "\"mesh\":\"ledger entry\"", 20) &&
	    (t->relink == 2 ? late && !t->stream_seq
			    : ++t->seen == t->want)) {
		t->data = malloc(len + 1);
		memcpy(t->data, data, len);
		t->data[len] = '\0';
		t->len = len;
		t->stream_seq = stream_seq;
		out = modify(t, &out_len);
		if (!out)
			return -1;
	}
	snprintf(id, sizeof id, "copy-%" PRIu64, stream_seq);
	snprintf(to, sizeof to, "tampered%d.%s", t->relink, subject);
	if (snats_publish(t->sn, to, id, out ? out : data, out_len, 10000,
			  err)) {
		fprintf(stderr, "ship_helper: %s\n", err);
		t->failed = 1;
		return -1;
	}
	free(out);
	if (++t->copied % 4096 == 0)
		snats_settle(t->sn, 10000);
	return 0;
}

static int count_entries(void *arg, uint64_t stream_seq, const char *subject,
			 const char *data, size_t len)
{
	struct tamper *t = arg;

	(void)stream_seq;
	(void)subject;
	if (memmem(data, len, "\"mesh\":\"ledger entry\"", 20))
		t->want++;
	return 0;
}

/* The changed copy of t->data (malloc'd), or NULL. */
static char *modify(struct tamper *t, size_t *out_len)
{
	char *out = NULL;

	if (!t->relink) {
		/* the decoded actor, not the raw bytes */
		char *at = strstr(t->data, "\"actor\":\"helper\"");

		if (!at)
			return NULL;
		memcpy(at + 9, "HELPER", 6);
		out = t->data;
		t->data = NULL;
		*out_len = t->len;
		return out;
	}
	{
		/* the raw bytes: "transition N" -> "tRansition N", hex 74 ->
		 * 52 at the first 't' of the reasoning; rendered again */
		char *raw = strstr(t->data, "\"raw_hex\":\"");
		char *hit = raw ? strstr(raw, "7472616e736974696f6e") : NULL;
		struct json_member m[32];
		size_t count, pos, klen, vlen;
		char *buf = malloc(t->len + 1);
		uint8_t *key, *val;
		const char *ns = NULL, *node = NULL, *db = NULL, *kh = NULL,
			   *rh = NULL;
		uint64_t seq = 0, nsid = 0;

		if (!hit || !buf)
			return NULL;
		memcpy(hit + 2, "52", 2);
		if (json_object_members(t->data, t->len, buf, m, 32, &count,
					&pos))
			return NULL;
		for (size_t i = 0; i < count; i++) {
			const char *n = m[i].name;

			if (!strcmp(n, "namespace"))
				ns = m[i].value;
			else if (!strcmp(n, "node"))
				node = m[i].value;
			else if (!strcmp(n, "db_id"))
				db = m[i].value;
			else if (!strcmp(n, "key_hex"))
				kh = m[i].value;
			else if (!strcmp(n, "raw_hex"))
				rh = m[i].value;
			else if (!strcmp(n, "seq"))
				seq = strtoull(m[i].value, NULL, 10);
			else if (!strcmp(n, "namespace_id"))
				nsid = strtoull(m[i].value, NULL, 10);
		}
		if (!ns || !node || !db || !kh || !rh)
			return NULL;
		klen = strlen(kh) / 2;
		vlen = strlen(rh) / 2;
		key = malloc(klen + 1);
		val = malloc(vlen + 1);
		for (size_t i = 0; i < klen; i++)
			sscanf(kh + 2 * i, "%2hhx", &key[i]);
		for (size_t i = 0; i < vlen; i++)
			sscanf(rh + 2 * i, "%2hhx", &val[i]);
		{
			struct dump_record r = {
				.seq = seq, .ns_name = ns,
				.ns = (uint32_t)nsid, .key = key,
				.key_len = klen, .checksum_ok = 1,
				.value = val, .value_len = vlen,
			};

			if (ship_message_record(&out, out_len, &r, node, db))
				out = NULL;
		}
		free(key);
		free(val);
		free(buf);
		return out;
	}
}

/* Copies STREAM into STREAM_MODE (subjects tamperedN.>) with one ledger
 * entry in the middle changed in place; prints the copy's name. */
static int cmd_tamper(char **argv)
{
	struct tamper t;
	char err[SNATS_ERR_BYTES], copy[128];
	uint64_t last;

	memset(&t, 0, sizeof t);
	t.relink = strcmp(argv[3], "relink") == 0        ? 1
		   : strcmp(argv[3], "relink-late") == 0 ? 2
		   : strcmp(argv[3], "last-late") == 0   ? 3
		   : strcmp(argv[3], "scatter") == 0     ? 4
		   : strcmp(argv[3], "fields") == 0      ? 0
							 : -1;
	if (t.relink < 0) {
		fprintf(stderr, "ship_helper: tamper: no mode '%s'\n",
			argv[3]);
		return 2;
	}
	snprintf(copy, sizeof copy, "%s_%s", argv[2], argv[3]);
	if (snats_open(&t.sn, argv[1], 5000, NULL, NULL, err) ||
	    snats_read(t.sn, argv[2], &last, count_entries, &t, err) ||
	    snats_stream(t.sn, copy,
			 t.relink == 4   ? "tampered4.>"
			 : t.relink == 3 ? "tampered3.>"
			 : t.relink == 2 ? "tampered2.>"
			 : t.relink      ? "tampered1.>"
					 : "tampered0.>",
			 1, 120000, err)) {
		fprintf(stderr, "ship_helper: %s\n", err);
		return 1;
	}
	if (t.relink != 3)
		t.want = t.want / 2; /* the middle one (relink-late: the first
					that came out of order) */
	if (snats_read(t.sn, argv[2], &last, copy_message, &t, err) ||
	    t.failed || t.stream_seq == 0) {
		fprintf(stderr, "ship_helper: copy failed: %s\n", err);
		return 1;
	}
	for (size_t i = 0; i < t.nheld; i++) {
		char to[300], id[64];

		snprintf(to, sizeof to, "tampered%d.%s", t.relink,
			 t.held[i].subject);
		snprintf(id, sizeof id, "copy-held-%zu", i);
		if (snats_publish(t.sn, to, id, t.held[i].data, t.held[i].len,
				  10000, err)) {
			fprintf(stderr, "ship_helper: %s\n", err);
			return 1;
		}
		free(t.held[i].data);
	}
	free(t.held);
	snats_settle(t.sn, 10000);
	printf("%s\n", copy);
	if (t.relink == 4)
		printf("%zu\n", t.nheld);
	snats_close(t.sn);
	free(t.data);
	return 0;
}

int main(int argc, char **argv)
{
	long long v;

	if (argc == 4 && strcmp(argv[1], "append") == 0)
		return arg_number("append N", argv[3], 0, 1000000, &v)
			       ? cmd_append(argv[2], (uint64_t)v)
			       : 2;
	if (argc == 8 && strcmp(argv[1], "daemon") == 0)
		return cmd_daemon(argv + 1);
	/* the reasoning is a ledger entry's field: under a value's limit */
	if (argc == 4 && strcmp(argv[1], "append-big") == 0)
		return arg_number("append-big BYTES", argv[3], 10,
				  LK_VALUE_BYTES_MAX / 2, &v)
			       ? cmd_append_big(argv[2], (size_t)v)
			       : 2;
	if (argc == 6 && strcmp(argv[1], "limit") == 0)
		return arg_number("limit MAX", argv[5], -1, INT32_MAX, &v)
			       ? cmd_limit(argv + 1)
			       : 2;
	if (argc == 5 && strcmp(argv[1], "tamper") == 0)
		return cmd_tamper(argv + 1);
	fprintf(stderr, "usage: ship_helper append DIR N | append-big DIR "
		"BYTES | daemon URL STREAM DIR NODE RATE MAX | limit URL "
		"STREAM SUBJECTS MAX | tamper URL STREAM "
		"fields|relink|relink-late|last-late|scatter\n");
	return 2;
}
