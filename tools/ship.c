/* SPDX-License-Identifier: MIT */
/*
 * ship.c - the shipper (logkeep_ship.h): a database's records, through a
 * change feed, to a NATS JetStream stream, each exactly once.
 *
 * The loop, one thread (lk_ship_run):
 *
 *   connect --> check the stream --> resume point --> open the feed
 *       ^                                                  |
 *       |  a failure: drop the window, back off            v
 *       +------------------------------------- fill the window: publish
 *                                               records past the feed's
 *                                               cursor, at most acks_max
 *                                               unacknowledged
 *                                                          |
 *                    store the cursor (a durable put) <-- move the cursor
 *                    every cursor_every_ms                over the acked
 *                                                         prefix
 *
 * The window is a ring of slots in publish order, each the sequence
 * number of its message and the feed's cursor after it.  libnats' thread
 * marks a slot acknowledged or failed (ship_ack, under the mutex); this
 * thread moves the cursor over the longest acknowledged prefix only, so
 * the cursor never passes a message the stream has not confirmed.  On a
 * failure every slot is dropped and the feed reopened at the cursor: what
 * the stream did store is published again and dropped there as a
 * duplicate (same Nats-Msg-Id, within the duplicate window).  A lost
 * connection is such a failure; it is closed, and a new one opened once
 * the window is dropped (ship_nats.c does not let libnats reconnect on
 * its own, which would carry newer messages while older ones lost with
 * the connection wait for their ack timeout).
 *
 * Resume point: the cursor stored in the database, and beside it a
 * stream number before every message past the cursor
 * (cursor_stream_seq: an ack's number, taken only from a message at or
 * above `hold`, so that it never passes a message a failure may have
 * left stored ahead of an earlier one).  When the stream holds messages
 * of this subject after that number (a crash between an ack and the
 * cursor's put, or a message refused while later ones of its window were
 * stored and the shipper stopped before publishing it again), their ids
 * are read back (check_stream): the feed then walks from the cursor,
 * passing over the records the stream holds and publishing the others,
 * so that a restart after the duplicate window has passed publishes
 * nothing twice and loses nothing.  Without that number (a cursor stored
 * by an older shipper) or past SHIP_CHECK_MAX messages, the shipper
 * resumes past the stream's last message, as it did before.  A gap is
 * matched by its first number: if compaction dropped a shipped record
 * (before the cursor passed it) together with unshipped ones after it,
 * the gap now covering them is passed over and the numbers after the
 * first go unreported (a limit: it needs a crash and that compaction in
 * between).
 *
 * Lag: every 100 ms the loop samples the database's newest sequence
 * number with the time; once the cursor reaches a sample, everything
 * committed before that time is in the stream.  lag_ms is the age of the
 * newest sample the cursor reached (0 when it reached the newest number).
 *
 * The shipper is a client of the public API (logkeep.h, logkeep_mesh.h
 * through dump_record.c): no engine header, no system call of the
 * engine's.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_out.h"
#include "dump_record.h"
#include "logkeep_ship.h"
#include "ship_message.h"
#include "ship_nats.h"

#define SHIP_NS_MAX 16u
#define SHIP_NAME_BYTES_MAX 128u   /* stream, prefix, node */
#define SHIP_ACKS_MAX_LIMIT 65536u
#define SHIP_SAMPLE_MS 100u
#define SHIP_SAMPLES 128u
#define SHIP_WAIT_MS 200u
#define SHIP_CURSOR_NS "logkeep.ship"
/* The most messages a restart reads back to check what the stream holds
 * past the cursor (16 bytes each in memory, 4 MiB at most): four windows
 * of the largest acks_max. */
#define SHIP_CHECK_MAX (1u << 18)

enum slot_state { SLOT_SENT = 0, SLOT_ACKED = 1, SLOT_FAILED = 2 };

struct slot {
	uint64_t seq;           /* the message's (a gap: its first) */
	uint64_t cursor_after;  /* the feed's cursor once it was read */
	uint64_t stream_seq;    /* its number in the stream, once acked */
	int state;
};

/* A message the stream holds past the cursor (check_stream). */
struct held {
	uint64_t seq, stream_seq;
};

struct sample {
	uint64_t at_ms, seq_last;
};

struct lk_ship {
	lk_db *db;
	char stream[SHIP_NAME_BYTES_MAX + 1];
	char subject[2 * SHIP_NAME_BYTES_MAX];
	char subjects[SHIP_NAME_BYTES_MAX + 4]; /* PREFIX.>: a new stream's */
	char node[SHIP_NAME_BYTES_MAX + 1];
	char db_hex[2 * LK_DB_ID_BYTES + 1];
	char url[1024];
	char cursor_key[SHIP_NAME_BYTES_MAX + 8];
	char cursor_at_key[SHIP_NAME_BYTES_MAX + 16];
	uint32_t ns[SHIP_NS_MAX];
	char ns_names[SHIP_NS_MAX][LK_NS_NAME_BYTES_MAX + 1];
	size_t ns_count;
	uint32_t ns_cursor;
	uint32_t acks_max, ack_timeout_ms, retry_min_ms, retry_max_ms,
		cursor_every_ms;
	int create_stream, exit_when_idle;
	uint64_t duplicates_ms;

	pthread_mutex_t mu;     /* guards what follows */
	pthread_cond_t cv;      /* an ack came, or stop */
	struct slot *ring;
	size_t head, count;     /* ring[head] is the oldest in flight */
	int failed;             /* a slot failed: drop the window */
	int probe;              /* one message in flight until an ack: after
				   a (re)connect or a failure, so that a
				   server whose streams are not back yet
				   refuses one message, never one of a
				   window whose later ones it stores */
	int stop;
	lk_feed *feed;          /* for lk_ship_stop's lk_feed_stop */
	lk_ship_stats st;
	struct sample samples[SHIP_SAMPLES];
	size_t sample_head, sample_count;
	uint64_t caught_up_ms;  /* the newest sample the cursor reached */
	uint64_t cursor_stream_seq; /* a stream number before every
				       message past the cursor (a restart
				       reads back after it) */
	int cursor_stream_known; /* 0: a cursor an older shipper stored,
				    without the number */
	uint64_t hold;          /* the highest id that may stand in the
				   stream before one below it (published
				   before a failure, or read back): the
				   stream numbers of messages below it
				   are not cursor_stream_seq's to take */
	uint64_t published_max; /* the highest id published */

	/* Set by check_stream, read by the run's thread only: the ids
	 * past the cursor, up to held_upto, that the stream holds. */
	struct held *held;
	size_t held_n, held_cap;
	uint64_t held_upto;
};

/* ---------------------------------------------------------------------- */
/* Messages                                                               */
/* ---------------------------------------------------------------------- */

/* A JSON writer into a new buffer, the message's map open with its kind;
 * NULL when out of memory. */
static FILE *begin(struct out **o, char **buf, size_t *len, const char *kind)
{
	FILE *f = open_memstream(buf, len);

	if (!f)
		return NULL;
	*o = out_new(f, 1);
	if (!*o) {
		fclose(f);
		free(*buf);
		return NULL;
	}
	out_map_begin(*o);
	out_kv_str(*o, "kind", kind);
	return f;
}

static int finish(struct out *o, FILE *f, char **buf)
{
	int rc = out_end(o);

	if (fclose(f) != 0)
		rc = -1;
	if (rc != 0) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}

int ship_message_record(char **buf, size_t *len, const struct dump_record *r,
			const char *node, const char *db_hex)
{
	struct out *o;
	FILE *f = begin(&o, buf, len, r->del ? "del" : "put");
	int rc = 0;

	if (!f)
		return -1;
	rc |= dump_record_members(o, r, NULL);
	out_kv_str(o, "node", node);
	out_kv_str(o, "db_id", db_hex);
	if (!r->del) {
		char *hex = dump_hex(r->value, r->value_len);

		if (!hex)
			rc = -1;
		out_kv_str(o, "raw_hex", hex ? hex : "");
		free(hex);
	}
	out_map_end(o);
	if (finish(o, f, buf) != 0 || rc != 0) {
		free(*buf);
		*buf = NULL;
		return -1;
	}
	return 0;
}

int ship_message_gap(char **buf, size_t *len, uint64_t first, uint64_t last,
		     const char *node, const char *db_hex)
{
	struct out *o;
	FILE *f = begin(&o, buf, len, "gap");

	if (!f)
		return -1;
	out_kv_u64(o, "seq", first);
	out_kv_u64(o, "seq_last", last);
	out_kv_str(o, "node", node);
	out_kv_str(o, "db_id", db_hex);
	out_map_end(o);
	return finish(o, f, buf);
}

/* ---------------------------------------------------------------------- */
/* Setup                                                                  */
/* ---------------------------------------------------------------------- */

/* Copies src (NULL: def) into dst: 1 to cap - 1 bytes of printable
 * ASCII, without '*' and '>' (subject wildcards) nor, unless dot_ok, '.'
 * (a subject's separator, which a stream name may not hold). */
static int copy_name(char *dst, size_t cap, const char *src, const char *def,
		     int dot_ok)
{
	const char *s = src ? src : def;
	size_t n = strlen(s);

	if (n == 0 || n >= cap)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] == 0x7f || s[i] == '*' ||
		    s[i] == '>' || (s[i] == '.' && !dot_ok))
			return -1;
	memcpy(dst, s, n + 1);
	return 0;
}

lk_status lk_ship_new(lk_ship **out, lk_db *db, const lk_ship_options *o)
{
	static const char *const defaults[] = { "mesh.ledger",
						"mesh.telemetry" };
	const char *const *names;
	uint8_t id[LK_DB_ID_BYTES];
	lk_ship *s;
	lk_status st;

	if (!out)
		return lk_fail(LK_INVALID, "lk_ship_new: NULL output");
	*out = NULL;
	if (!db || !o || o->version != LK_SHIP_OPTIONS_VERSION || !o->nats_url)
		return lk_fail(LK_INVALID, "lk_ship_new: NULL database, "
			       "options of another version, or no URL");
	if (o->namespace_count > SHIP_NS_MAX ||
	    (o->namespace_count && !o->namespaces))
		return lk_fail(LK_INVALID, "lk_ship_new: at most %u "
			       "namespaces", SHIP_NS_MAX);
	if (o->acks_max > SHIP_ACKS_MAX_LIMIT)
		return lk_fail(LK_INVALID, "lk_ship_new: acks_max past %u",
			       SHIP_ACKS_MAX_LIMIT);
	st = lk_db_id(id, db);
	if (st != LK_OK)
		return st;
	s = calloc(1, sizeof *s);
	if (!s)
		return lk_fail(LK_NOMEM, "lk_ship_new: out of memory");
	s->db = db;
	for (size_t i = 0; i < LK_DB_ID_BYTES; i++)
		snprintf(s->db_hex + 2 * i, 3, "%02x", id[i]);
	if (copy_name(s->stream, sizeof s->stream, o->stream, "LOGKEEP",
		      0) ||
	    copy_name(s->node, sizeof s->node, o->node_id, s->db_hex, 1) ||
	    strlen(o->nats_url) >= sizeof s->url) {
		free(s);
		return lk_fail(LK_INVALID, "lk_ship_new: a stream name or "
			       "node id that is empty, too long or holds "
			       "spaces, '*' or '>' (or '.': a stream)");
	}
	{
		char prefix[SHIP_NAME_BYTES_MAX + 1];

		if (copy_name(prefix, sizeof prefix, o->subject_prefix,
			      "logkeep", 1)) {
			free(s);
			return lk_fail(LK_INVALID, "lk_ship_new: a subject "
				       "prefix that is empty, too long or "
				       "holds spaces, '*' or '>'");
		}
		snprintf(s->subject, sizeof s->subject, "%s.%s", prefix,
			 s->db_hex);
		snprintf(s->subjects, sizeof s->subjects, "%s.>", prefix);
	}
	snprintf(s->url, sizeof s->url, "%s", o->nats_url);
	snprintf(s->cursor_key, sizeof s->cursor_key, "cursor.%s", s->stream);
	snprintf(s->cursor_at_key, sizeof s->cursor_at_key, "cursor-at.%s",
		 s->stream);
	s->acks_max = o->acks_max ? o->acks_max : 256;
	s->ack_timeout_ms = o->ack_timeout_ms ? o->ack_timeout_ms : 5000;
	s->retry_min_ms = o->retry_min_ms ? o->retry_min_ms : 100;
	s->retry_max_ms = o->retry_max_ms ? o->retry_max_ms : 5000;
	if (s->retry_max_ms < s->retry_min_ms)
		s->retry_max_ms = s->retry_min_ms;
	s->cursor_every_ms = o->cursor_every_ms ? o->cursor_every_ms : 200;
	s->create_stream = o->create_stream;
	s->duplicates_ms = o->duplicates_ms ? o->duplicates_ms : 120000;
	s->exit_when_idle = o->exit_when_idle;
	names = o->namespace_count ? o->namespaces : defaults;
	s->ns_count = o->namespace_count ? o->namespace_count : 2;
	for (size_t i = 0; i < s->ns_count; i++) {
		/* created when absent: a node whose ledger is still empty
		 * ships it from its first entry */
		st = lk_ns_open(&s->ns[i], db, names[i]);
		if (st != LK_OK)
			goto fail;
		snprintf(s->ns_names[i], sizeof s->ns_names[i], "%s",
			 names[i]);
	}
	st = lk_ns_open(&s->ns_cursor, db, SHIP_CURSOR_NS);
	if (st != LK_OK)
		goto fail;
	s->ring = calloc(s->acks_max, sizeof *s->ring);
	if (!s->ring) {
		st = lk_fail(LK_NOMEM, "lk_ship_new: out of memory");
		goto fail;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	*out = s;
	return LK_OK;
fail:
	free(s->ring);
	free(s);
	return st;
}

void lk_ship_free(lk_ship *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->ring);
	free(s->held);
	free(s);
}

void lk_ship_stop(lk_ship *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	if (s->feed)
		lk_feed_stop(s->feed);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

lk_status lk_ship_stats_get(lk_ship_stats *stats, lk_ship *s)
{
	if (!stats || !s)
		return lk_fail(LK_INVALID, "lk_ship_stats_get: NULL");
	pthread_mutex_lock(&s->mu);
	*stats = s->st;
	pthread_mutex_unlock(&s->mu);
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Time                                                                   */
/* ---------------------------------------------------------------------- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits on the condition for at most ms (held: s->mu). */
static void wait_locked(lk_ship *s, uint32_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000u;
	ts.tv_nsec += (long)(ms % 1000u) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	(void)pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

/* Sleeps ms unless stopped; 1 when stopped. */
static int nap(lk_ship *s, uint32_t ms)
{
	int stop;

	pthread_mutex_lock(&s->mu);
	if (!s->stop)
		wait_locked(s, ms);
	stop = s->stop;
	pthread_mutex_unlock(&s->mu);
	return stop;
}

/* ---------------------------------------------------------------------- */
/* Acks                                                                   */
/* ---------------------------------------------------------------------- */

static void ship_ack(void *arg, const char *msg_id, int ok, int duplicate,
		     uint64_t stream_seq, const char *err)
{
	lk_ship *s = arg;
	size_t n = strlen(s->db_hex);
	uint64_t seq = 0;

	if (strncmp(msg_id, s->db_hex, n) != 0 || msg_id[n] != '-')
		return;
	seq = strtoull(msg_id + n + 1, NULL, 10);
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->count; i++) {
		struct slot *sl = &s->ring[(s->head + i) % s->acks_max];

		if (sl->seq != seq || sl->state != SLOT_SENT)
			continue;
		sl->state = ok ? SLOT_ACKED : SLOT_FAILED;
		sl->stream_seq = ok ? stream_seq : 0;
		if (ok) {
			s->st.acked++;
			s->st.duplicates += duplicate != 0;
		} else {
			s->failed = 1;
			snprintf(s->st.last_error, sizeof s->st.last_error,
				 "publish of %s: %s", msg_id,
				 err ? err : "failed");
		}
		pthread_cond_broadcast(&s->cv);
		break;
	}
	pthread_mutex_unlock(&s->mu);
}

/* Moves the cursor over the acknowledged prefix (held: s->mu); 1 if it
 * passed a message. */
static int advance_locked(lk_ship *s)
{
	int moved = 0;

	while (s->count > 0 && s->ring[s->head].state == SLOT_ACKED) {
		s->st.cursor = s->ring[s->head].cursor_after;
		if (s->ring[s->head].stream_seq &&
		    s->ring[s->head].seq >= s->hold) {
			s->cursor_stream_seq = s->ring[s->head].stream_seq;
			s->cursor_stream_known = 1;
		}
		s->head = (s->head + 1) % s->acks_max;
		s->count--;
		moved = 1;
	}
	while (s->sample_count > 0 &&
	       s->samples[s->sample_head].seq_last <= s->st.cursor) {
		s->caught_up_ms = s->samples[s->sample_head].at_ms;
		s->sample_head = (s->sample_head + 1) % SHIP_SAMPLES;
		s->sample_count--;
	}
	return moved;
}

static void sample(lk_ship *s, uint64_t now)
{
	lk_stats ls = LK_STATS_INIT;

	if (lk_stats_get(&ls, s->db) != LK_OK)
		return;
	pthread_mutex_lock(&s->mu);
	s->st.seq_last = ls.seq_last;
	if (s->sample_count == SHIP_SAMPLES) { /* keep the newest */
		s->sample_head = (s->sample_head + 1) % SHIP_SAMPLES;
		s->sample_count--;
	}
	s->samples[(s->sample_head + s->sample_count) % SHIP_SAMPLES] =
		(struct sample){ now, ls.seq_last };
	s->sample_count++;
	advance_locked(s);
	s->st.lag_records = ls.seq_last > s->st.cursor
				    ? ls.seq_last - s->st.cursor
				    : 0;
	if (s->st.lag_records == 0)
		s->caught_up_ms = now;
	s->st.lag_ms = s->st.lag_records ? now - s->caught_up_ms : 0;
	pthread_mutex_unlock(&s->mu);
}

/* ---------------------------------------------------------------------- */
/* The cursor in the database                                             */
/* ---------------------------------------------------------------------- */

/* The cursor is two keys, written by one commit: "cursor.STREAM", the
 * cursor (8 bytes, little-endian; what shippers before the stream number
 * read), and "cursor-at.STREAM", the cursor again and a stream number
 * before every message past it (16 bytes; 0 is before the first).  The
 * number is taken only when both cursors agree: an older shipper that
 * moved the first left the second behind. */
static uint64_t get_le64(const uint8_t *p)
{
	uint64_t x = 0;

	for (int i = 7; i >= 0; i--)
		x = x << 8 | p[i];
	return x;
}

static void put_le64(uint8_t *p, uint64_t x)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(x >> (8 * i));
}

static lk_status cursor_load(lk_ship *s, uint64_t *cursor,
			     uint64_t *stream_seq, int *known)
{
	void *v = NULL;
	size_t n = 0;
	lk_status st = lk_get(&v, &n, s->db, s->ns_cursor, s->cursor_key,
			      strlen(s->cursor_key));

	*cursor = *stream_seq = 0;
	*known = 1; /* none stored: before the stream's first message */
	if (st == LK_NOT_FOUND)
		return LK_OK;
	if (st != LK_OK)
		return st;
	if (n != 8) {
		lk_free(v);
		return lk_fail(LK_CORRUPT, "the shipping cursor %s is %zu "
			       "bytes, not 8", s->cursor_key, n);
	}
	*cursor = get_le64(v);
	lk_free(v);
	v = NULL;
	*known = 0;
	st = lk_get(&v, &n, s->db, s->ns_cursor, s->cursor_at_key,
		    strlen(s->cursor_at_key));
	if (st == LK_NOT_FOUND)
		return LK_OK;
	if (st != LK_OK)
		return st;
	if (n == 16 && get_le64(v) == *cursor) {
		*stream_seq = get_le64((const uint8_t *)v + 8);
		*known = 1;
	}
	lk_free(v);
	return LK_OK;
}

static lk_status cursor_store(lk_ship *s, uint64_t cursor,
			      uint64_t stream_seq)
{
	uint8_t v[8], at[16];
	lk_batch *b = NULL;
	lk_status st;

	put_le64(v, cursor);
	put_le64(at, cursor);
	put_le64(at + 8, stream_seq);
	st = lk_batch_new(&b);
	if (st == LK_OK)
		st = lk_batch_put(b, s->ns_cursor, s->cursor_key,
				  strlen(s->cursor_key), v, sizeof v, 0);
	if (st == LK_OK)
		st = lk_batch_put(b, s->ns_cursor, s->cursor_at_key,
				  strlen(s->cursor_at_key), at, sizeof at, 0);
	if (st == LK_OK)
		st = lk_commit(s->db, b);
	lk_batch_free(b);
	if (st == LK_OK) {
		pthread_mutex_lock(&s->mu);
		s->st.cursor_stored = cursor;
		pthread_mutex_unlock(&s->mu);
	}
	return st;
}

/* ---------------------------------------------------------------------- */
/* Publishing                                                             */
/* ---------------------------------------------------------------------- */

static const char *ns_name(const lk_ship *s, uint32_t ns)
{
	for (size_t i = 0; i < s->ns_count; i++)
		if (s->ns[i] == ns)
			return s->ns_names[i];
	return NULL;
}

/* Publishes one item and takes a slot for it; -1 on a failure (err). */
static int publish(lk_ship *s, struct snats *sn, const lk_feed_item *it,
		   uint64_t cursor_after, char *err)
{
	char id[2 * LK_DB_ID_BYTES + 24];
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (it->kind == LK_FEED_GAP) {
		rc = ship_message_gap(&buf, &len, it->seq, it->seq_last,
				      s->node, s->db_hex);
	} else {
		struct dump_record r = {
			.del = it->kind == LK_FEED_DEL,
			.seq = it->seq,
			.ns_name = ns_name(s, it->ns),
			.ns = it->ns,
			.key = it->key,
			.key_len = it->key_len,
			.checksum_ok = 1,
			.expire_at_ms = it->expire_at_ms,
			.value = it->value,
			.value_len = it->value_len,
		};

		rc = ship_message_record(&buf, &len, &r, s->node, s->db_hex);
	}
	if (rc != 0) {
		snprintf(err, SNATS_ERR_BYTES, "out of memory");
		return -1;
	}
	snprintf(id, sizeof id, "%s-%" PRIu64, s->db_hex, it->seq);
	pthread_mutex_lock(&s->mu);
	s->ring[(s->head + s->count) % s->acks_max] =
		(struct slot){ .seq = it->seq, .cursor_after = cursor_after,
			       .state = SLOT_SENT };
	s->count++;
	s->st.published++;
	if (it->seq > s->published_max)
		s->published_max = it->seq;
	if (it->kind == LK_FEED_GAP) {
		s->st.gaps++;
		s->st.gap_records += it->seq_last - it->seq + 1;
	}
	pthread_mutex_unlock(&s->mu);
	rc = snats_publish(sn, s->subject, id, buf, len, s->ack_timeout_ms,
			   err);
	free(buf);
	if (rc != 0) {
		pthread_mutex_lock(&s->mu);
		s->failed = 1;
		pthread_mutex_unlock(&s->mu);
	}
	return rc;
}

/* The number in a Nats-Msg-Id of this database, or 0. */
static uint64_t id_seq(const lk_ship *s, const char *id)
{
	size_t n = strlen(s->db_hex);

	if (strncmp(id, s->db_hex, n) != 0 || id[n] != '-')
		return 0;
	return strtoull(id + n + 1, NULL, 10);
}

static void set_error(lk_ship *s, const char *err);

static int held_cmp(const void *a, const void *b)
{
	const struct held *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* snats_scan_ids' callback: keeps the ids past the cursor, the highest
 * in held_upto; 1 (stop) once lk_ship_stop was called. */
static int held_add(void *arg, const char *msg_id, uint64_t stream_seq)
{
	lk_ship *s = arg;
	uint64_t seq = id_seq(s, msg_id);
	int stop;

	pthread_mutex_lock(&s->mu);
	stop = s->stop;
	pthread_mutex_unlock(&s->mu);
	if (stop)
		return 1;
	if (seq <= s->st.cursor)
		return 0;
	if (seq > s->held_upto)
		s->held_upto = seq;
	if (s->held_n == s->held_cap) {
		size_t cap = s->held_cap ? 2 * s->held_cap : 256;
		struct held *h = realloc(s->held, cap * sizeof *h);

		if (!h)
			return -1;
		s->held = h;
		s->held_cap = cap;
	}
	s->held[s->held_n++] = (struct held){ seq, stream_seq };
	return 0;
}

/* The stream number of the message with id seq if check_stream found it
 * in the stream, else 0. */
static uint64_t held_find(const lk_ship *s, uint64_t seq)
{
	size_t lo = 0, hi = s->held_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->held[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->held_n && s->held[lo].seq == seq
		       ? s->held[lo].stream_seq
		       : 0;
}

static void held_forget(lk_ship *s)
{
	free(s->held);
	s->held = NULL;
	s->held_n = s->held_cap = 0;
	s->held_upto = 0;
}

/* Reads which ids past the cursor the stream's messages of this
 * database from stream number `from` through last_stream_seq are (held,
 * the highest in held_upto), in the order of their ids, and moves
 * cursor_stream_seq up to before the first of them (all there are past
 * the cursor after `from` are held).  1: the run walks from the cursor
 * passing over them; 0: more than SHIP_CHECK_MAX messages (the run
 * resumes past the last); -1: a failure or a stop (err). */
static int check_stream(lk_ship *s, struct snats *sn, uint64_t from,
			uint64_t last_stream_seq, char *err)
{
	uint64_t before = last_stream_seq;
	int rc = snats_scan_ids(sn, s->stream, s->subject, from,
				last_stream_seq, SHIP_CHECK_MAX, held_add, s,
				err);

	if (rc == -2) {
		held_forget(s);
		set_error(s, err);
		return 0;
	}
	if (rc > 0)
		snprintf(err, SNATS_ERR_BYTES, "stopped");
	if (rc != 0)
		return -1;
	if (s->held_n) /* held is NULL when none was kept */
		qsort(s->held, s->held_n, sizeof *s->held, held_cmp);
	if (s->held_upto > s->hold)
		s->hold = s->held_upto;
	for (size_t i = 0; i < s->held_n; i++)
		if (s->held[i].stream_seq <= before)
			before = s->held[i].stream_seq - 1;
	pthread_mutex_lock(&s->mu);
	s->cursor_stream_seq = before;
	s->cursor_stream_known = 1;
	pthread_mutex_unlock(&s->mu);
	return 1;
}

/* A record the stream holds (check_stream): the cursor passes it in
 * order, as if its ack had come, but the probe still waits for a real
 * one. */
static void pass_held(lk_ship *s, const lk_feed_item *it,
		      uint64_t cursor_after, uint64_t stream_seq)
{
	pthread_mutex_lock(&s->mu);
	if (s->count == 0) {
		s->st.cursor = cursor_after;
		if (it->seq >= s->hold) {
			s->cursor_stream_seq = stream_seq;
			s->cursor_stream_known = 1;
		}
	} else {
		s->ring[(s->head + s->count) % s->acks_max] = (struct slot){
			.seq = it->seq, .cursor_after = cursor_after,
			.stream_seq = stream_seq, .state = SLOT_ACKED
		};
		s->count++;
	}
	pthread_mutex_unlock(&s->mu);
}

static void set_error(lk_ship *s, const char *err)
{
	pthread_mutex_lock(&s->mu);
	snprintf(s->st.last_error, sizeof s->st.last_error, "%s", err);
	pthread_mutex_unlock(&s->mu);
}

/* Connects, checks the stream and finds where to resume, and the
 * highest id of this database the stream is known to hold
 * (*stream_last, 0: none); *jumped when the cursor was moved past the
 * stream's last message without a read-back, or a read-back set the
 * stream number (either to be stored).  -1 on a failure (err). */
static int connect_stream(lk_ship *s, struct snats **sn, uint64_t *resume,
			  uint64_t *stream_last, int *jumped, char *err)
{
	char last[2 * LK_DB_ID_BYTES + 32];
	uint64_t seq, last_stream_seq = 0;
	lk_stats ls = LK_STATS_INIT;
	int rc = 1, read_back = 0;

	*jumped = 0;
	held_forget(s); /* of an earlier connection: read again */
	if (snats_open(sn, s->url, s->ack_timeout_ms, ship_ack, s, err) != 0)
		return -1;
	if (snats_stream(*sn, s->stream, s->subjects, s->create_stream,
			 s->duplicates_ms, err) != 0 ||
	    snats_last_id(*sn, s->stream, s->subject, last, sizeof last,
			  &last_stream_seq, err) != 0) {
		snats_close(*sn);
		*sn = NULL;
		return -1;
	}
	seq = id_seq(s, last);
	*stream_last = seq;
	if (lk_stats_get(&ls, s->db) == LK_OK && seq > ls.seq_last)
		rc = 1; /* the stream is ahead of the log: the caller stops */
	else if (s->cursor_stream_known &&
		 last_stream_seq > s->cursor_stream_seq)
		/* messages after the cursor's: acks a crash kept from the
		 * cursor, or later messages of a window whose earlier one
		 * the stream refused (its last may then be below the
		 * cursor) */
		rc = read_back = check_stream(s, *sn,
					      s->cursor_stream_seq + 1,
					      last_stream_seq, err);
	else if (s->cursor_stream_known &&
		 (seq > s->st.cursor ||
		  last_stream_seq < s->cursor_stream_seq))
		/* the stream ends before the number, or holds a message
		 * past the cursor before it: it lost messages and gave
		 * their numbers again (a server's store lost) */
		rc = read_back = check_stream(s, *sn, 1, last_stream_seq,
					      err);
	else if (seq > s->st.cursor)
		rc = 0; /* no stream number to read back from */
	if (rc < 0) {
		held_forget(s);
		snats_close(*sn);
		*sn = NULL;
		return -1;
	}
	if (s->held_upto > *stream_last)
		*stream_last = s->held_upto;
	pthread_mutex_lock(&s->mu);
	if (rc == 0 && seq > s->st.cursor) {
		/* past its last, unchecked (as shippers did before the
		 * stream number: a message an older shipper published
		 * again after later ones may be last) */
		s->st.cursor = seq;
		s->cursor_stream_seq = last_stream_seq;
		s->cursor_stream_known = 1;
	}
	/* a jump, or the number a read-back set: to be stored, so that the
	 * next start need not read back again */
	*jumped = rc == 0 || read_back == 1;
	*resume = s->st.cursor;
	s->st.connected = 1;
	s->probe = 1;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Drops the window: closes the feed, forgets the slots. */
static void drop_window(lk_ship *s, lk_feed **feed)
{
	pthread_mutex_lock(&s->mu);
	/* what the window published may stand in the stream before what
	 * it failed to */
	if (s->published_max > s->hold)
		s->hold = s->published_max;
	s->count = 0;
	s->head = 0;
	s->failed = 0;
	s->probe = 1;
	s->feed = NULL;
	pthread_mutex_unlock(&s->mu);
	lk_feed_close(*feed);
	*feed = NULL;
}

lk_status lk_ship_run(lk_ship *s)
{
	struct snats *sn = NULL;
	lk_feed *feed = NULL;
	int cursor_stream_known;
	uint64_t cursor, cursor_stream_seq, resume = 0, stream_last = 0,
		 stored_at = 0, sampled_at = 0;
	uint32_t backoff;
	int dirty = 0, jumped;
	char err[SNATS_ERR_BYTES];
	lk_stats ls = LK_STATS_INIT;
	lk_status st;

	if (!s)
		return lk_fail(LK_INVALID, "lk_ship_run: NULL");
	st = cursor_load(s, &cursor, &cursor_stream_seq, &cursor_stream_known);
	if (st == LK_OK)
		st = lk_stats_get(&ls, s->db);
	if (st != LK_OK)
		return st;
	if (cursor > ls.seq_last)
		return lk_fail(LK_CORRUPT, "the log ends at sequence number "
			       "%" PRIu64 " but %" PRIu64 " was shipped to "
			       "stream %s: the database was restored from an "
			       "older copy or rewritten; the stream holds "
			       "records it no longer has", ls.seq_last,
			       cursor, s->stream);
	pthread_mutex_lock(&s->mu);
	s->st.cursor = s->st.cursor_stored = cursor;
	s->cursor_stream_seq = cursor_stream_seq;
	s->cursor_stream_known = cursor_stream_known;
	s->st.seq_last = ls.seq_last;
	s->caught_up_ms = mono_ms();
	pthread_mutex_unlock(&s->mu);
	backoff = s->retry_min_ms;
	for (;;) {
		lk_feed_item it = LK_FEED_ITEM_INIT;
		uint64_t now = mono_ms();
		int idle = 0, stop, failed, full, lost;

		if (now - sampled_at >= SHIP_SAMPLE_MS) {
			sample(s, now);
			sampled_at = now;
		}
		if (!sn) {
			if (connect_stream(s, &sn, &resume, &stream_last,
					   &jumped, err) != 0) {
				set_error(s, err);
				if (nap(s, backoff))
					break;
				backoff = backoff * 2 > s->retry_max_ms
						  ? s->retry_max_ms
						  : backoff * 2;
				continue;
			}
			/* The stream is ahead of the log (seq_last only
			 * grows): the newer records it holds are not here, and
			 * the numbers this log gives its next writes are the
			 * stream's already (their message ids would be dropped
			 * as duplicates). */
			st = lk_stats_get(&ls, s->db);
			if (st == LK_OK && stream_last > ls.seq_last)
				st = lk_fail(LK_CORRUPT, "stream %s holds sequence "
					     "number %" PRIu64 " of this database "
					     "but its log ends at %" PRIu64 ": the "
					     "database was restored from an older "
					     "copy or rewritten; the stream holds "
					     "records it no longer has", s->stream,
					     stream_last, ls.seq_last);
			if (st != LK_OK)
				goto out;
			dirty |= jumped;
		}
		if (!feed) {
			st = lk_feed_open(&feed, s->db, resume, s->ns,
					  s->ns_count);
			if (st != LK_OK)
				break;
			pthread_mutex_lock(&s->mu);
			s->feed = feed;
			if (s->stop)
				lk_feed_stop(feed);
			pthread_mutex_unlock(&s->mu);
		}
		/* fill the window */
		for (;;) {
			pthread_mutex_lock(&s->mu);
			full = s->count == (s->probe ? 1 : s->acks_max);
			failed = s->failed;
			stop = s->stop;
			pthread_mutex_unlock(&s->mu);
			if (full || failed || stop)
				break;
			st = lk_feed_next(&it, feed);
			if (st == LK_NOT_FOUND) {
				idle = 1;
				st = LK_OK;
				break;
			}
			if (st != LK_OK)
				goto out;
			if (s->held_upto && s->st.cursor >= s->held_upto)
				held_forget(s); /* acked past: of no more use */
			if (s->held_upto && it.seq <= s->held_upto) {
				uint64_t at = held_find(s, it.seq);

				if (at) { /* in the stream already */
					pass_held(s, &it, lk_feed_cursor(feed),
						  at);
					dirty = 1;
					continue;
				}
			}
			if (publish(s, sn, &it, lk_feed_cursor(feed), err))
				set_error(s, err);
		}
		lost = !snats_connected(sn);
		pthread_mutex_lock(&s->mu);
		if (lost && !s->failed) {
			s->failed = 1;
			snprintf(s->st.last_error, sizeof s->st.last_error,
				 "the connection to %.100s was lost", s->url);
		}
		if (advance_locked(s)) {
			dirty = 1;
			backoff = s->retry_min_ms;
			s->probe = 0;
		}
		if (idle && s->count == 0 && !s->failed &&
		    lk_feed_cursor(feed) > s->st.cursor)
			s->st.cursor = lk_feed_cursor(feed); /* passed over */
		cursor = s->st.cursor;
		cursor_stream_seq = s->cursor_stream_seq;
		failed = s->failed;
		stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (dirty && (stop || now - stored_at >= s->cursor_every_ms ||
			      (idle && s->exit_when_idle))) {
			st = cursor_store(s, cursor, cursor_stream_seq);
			if (st != LK_OK)
				goto out;
			stored_at = now;
			dirty = 0;
		}
		if (stop)
			break;
		if (failed) {
			/* publish again from the cursor, once the server
			 * answers: a refusal or a timeout, or a connection
			 * that is away */
			pthread_mutex_lock(&s->mu);
			s->st.retries++;
			pthread_mutex_unlock(&s->mu);
			snats_settle(sn, 1);
			drop_window(s, &feed);
			resume = cursor;
			if (!snats_connected(sn)) { /* a new one, after a nap */
				snats_close(sn);
				sn = NULL;
				pthread_mutex_lock(&s->mu);
				s->st.connected = 0;
				pthread_mutex_unlock(&s->mu);
			}
			if (nap(s, backoff))
				break;
			backoff = backoff * 2 > s->retry_max_ms
					  ? s->retry_max_ms
					  : backoff * 2;
			continue;
		}
		pthread_mutex_lock(&s->mu);
		full = s->count == (s->probe ? 1 : s->acks_max);
		if (idle && s->count == 0) {
			pthread_mutex_unlock(&s->mu);
			if (s->exit_when_idle) {
				sample(s, mono_ms());
				if (!dirty)
					break;
				continue;
			}
			/* nothing in flight: sleep until a commit */
			(void)lk_feed_wait(feed, SHIP_WAIT_MS);
			continue;
		}
		if (full || idle)
			wait_locked(s, SHIP_WAIT_MS / 4); /* for an ack */
		pthread_mutex_unlock(&s->mu);
	}
out:
	if (sn) {
		snats_settle(sn, s->ack_timeout_ms);
		pthread_mutex_lock(&s->mu);
		if (!s->failed && advance_locked(s))
			dirty = 1;
		cursor = s->st.cursor;
		cursor_stream_seq = s->cursor_stream_seq;
		pthread_mutex_unlock(&s->mu);
	}
	if (feed)
		drop_window(s, &feed);
	if (dirty && st == LK_OK)
		st = cursor_store(s, cursor, cursor_stream_seq);
	sample(s, mono_ms());
	snats_close(sn);
	pthread_mutex_lock(&s->mu);
	s->st.connected = 0;
	pthread_mutex_unlock(&s->mu);
	return st;
}
