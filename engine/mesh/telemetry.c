/* SPDX-License-Identifier: MIT */
/*
 * telemetry.c - the telemetry buffer (logkeep_mesh.h): record() never
 * blocks on I/O; a background writer stores the queue in batches.
 *
 * The queue is a ring of at most queue_max entries under one mutex, held
 * only to push or pop (never across I/O).  A full ring refuses (LK_BUSY)
 * and counts it: the caller chooses between dropping and retrying, as the
 * predecessors' buffer made it.  The writer wakes every flush_ms, or as
 * soon as a batch's worth is queued, and commits up to batch_max entries
 * per batch, no-sync: telemetry lost to a power cut is telemetry, and
 * flush() (and close) syncs.  One writer at a time (write_mu): the
 * background thread or a caller's flush.
 *
 * The writer is a thread of the handle's I/O layer (lk_db_io), sleeping on
 * its monotonic clock: a test layer's simulated clock moves it, and a
 * wall clock that jumps does not.  The layer's sleeps end for good when
 * stopped (wait_stop is final), so a producer wakes the writer by
 * stopping its current sleep, and the writer makes itself a new one.
 *
 * Keys of "mesh.telemetry": "n" -> the next id (u64), written in each
 * batch; "t" id:be64 -> an entry, in id order.
 * Entry (v1): version:u8 kind:u8 at_ms:u64 source:str8 message:str16
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logkeep_io.h"
#include "mesh.h"

/* A million queued entries is minutes of a busy node's telemetry and some
 * hundred MiB at the message limit: past that, memory is the risk. */
#define TELEMETRY_QUEUE_MAX 1000000u
/* A batch is built on the stack and committed as one group. */
#define TELEMETRY_BATCH_MAX 256u

struct tentry {
	uint8_t kind;
	uint64_t at_ms;
	char *source;   /* one allocation: source NUL message NUL */
	char *message;
};

struct telemetry {
	pthread_mutex_t mu;        /* the ring, the counters, stop, the sleep */
	const lk_io *io;           /* the handle's: clock, thread, sleeps */
	lk_io_wait *sleep;         /* the writer's; stopped to wake it */
	int woken;                 /* sleep is stopped: a new one is due */
	struct tentry *ring;
	size_t cap, head, count;
	uint32_t batch_max, flush_ms;
	uint64_t written, refused, batches, failures;
	int stop;
	pthread_mutex_t write_mu;  /* one writer: the thread or a flush */
	uint64_t next_id;
	lk_io_thread *thread;
};

/* Writes up to batch_max queued entries as one no-sync batch.  Caller
 * holds write_mu.  *n: how many went (0: the queue was empty). */
static lk_status write_batch(lk_mesh *m, size_t *n)
{
	struct telemetry *t = m->tel;
	struct tentry batch[TELEMETRY_BATCH_MAX];
	size_t max = t->batch_max;
	lk_batch *b = NULL;
	struct mbuf k, v;
	lk_status st;

	*n = 0;
	pthread_mutex_lock(&t->mu);
	while (*n < max && t->count > 0) {
		batch[(*n)++] = t->ring[t->head];
		t->head = (t->head + 1) % t->cap;
		t->count--;
	}
	pthread_mutex_unlock(&t->mu);
	if (*n == 0)
		return LK_OK;
	st = lk_batch_new(&b);
	for (size_t i = 0; st == LK_OK && i < *n; i++) {
		const struct tentry *e = &batch[i];

		mbuf_init(&k);
		mbuf_u8(&k, 't');
		mbuf_be64(&k, t->next_id + i);
		mbuf_init(&v);
		mbuf_u8(&v, MESH_VALUE_V1);
		mbuf_u8(&v, e->kind);
		mbuf_u64(&v, e->at_ms);
		mbuf_str8(&v, e->source, strlen(e->source));
		mbuf_str16(&v, e->message, strlen(e->message));
		st = mbuf_status(&k, "a telemetry key");
		if (st == LK_OK)
			st = mbuf_status(&v, "a telemetry entry");
		if (st == LK_OK)
			st = lk_batch_put(b, m->ns_telemetry, k.p, k.len, v.p,
					  v.len, 0);
		mbuf_free(&k);
		mbuf_free(&v);
	}
	if (st == LK_OK) {
		uint8_t id[8];
		uint64_t next = t->next_id + *n;

		for (int i = 0; i < 8; i++)
			id[i] = (uint8_t)(next >> (8 * i));
		st = lk_batch_put(b, m->ns_telemetry, "n", 1, id, 8, 0);
	}
	if (st == LK_OK)
		st = lk_batch_set_flags(b, LK_BATCH_NOSYNC);
	if (st == LK_OK)
		st = lk_commit(m->db, b);
	lk_batch_free(b);
	for (size_t i = 0; i < *n; i++)
		free(batch[i].source);
	pthread_mutex_lock(&t->mu);
	if (st == LK_OK) {
		t->next_id += *n;
		t->written += *n;
		t->batches++;
	} else {
		t->failures++;
	}
	pthread_mutex_unlock(&t->mu);
	return st;
}

/* Wakes the writer (held: t->mu). */
static void wake_locked(struct telemetry *t)
{
	if (!t->woken && t->sleep) {
		t->woken = 1;
		t->io->wait_stop(t->io->ctx, t->sleep);
	}
}

static void writer_main(void *arg)
{
	lk_mesh *m = arg;
	struct telemetry *t = m->tel;
	const lk_io *io = t->io;
	const uint64_t every_us = (uint64_t)t->flush_ms * 1000u;
	uint64_t due_us = io->mono_us(io->ctx) + every_us;

	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		uint64_t now_us = io->mono_us(io->ctx);

		if (t->count < t->batch_max && now_us < due_us) {
			lk_io_wait *w = t->sleep;

			pthread_mutex_unlock(&t->mu);
			(void)io->wait_until(io->ctx, w, due_us);
			pthread_mutex_lock(&t->mu);
			if (t->woken && !t->stop) {
				/* a sleep once stopped stays so: a new one */
				io->wait_free(io->ctx, t->sleep);
				t->sleep = NULL;
				if (io->wait_new(io->ctx, &t->sleep) != LK_OK) {
					/* no memory for a sleep: entries wait
					 * for a flush (or close) */
					t->failures++;
					break;
				}
				t->woken = 0;
			}
			continue;
		}
		due_us = now_us + every_us;
		if (t->count == 0)
			continue;
		pthread_mutex_unlock(&t->mu);
		pthread_mutex_lock(&t->write_mu);
		{
			size_t n;
			/* a failure is counted; the entries are dropped, as
			 * a full queue's are */
			(void)write_batch(m, &n);
		}
		pthread_mutex_unlock(&t->write_mu);
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
}

lk_status telemetry_check(const lk_mesh_options *o)
{
	if (o->telemetry_queue_max > TELEMETRY_QUEUE_MAX ||
	    o->telemetry_batch_max > TELEMETRY_BATCH_MAX)
		return lk_fail(LK_INVALID,
			       "telemetry queue of %u (at most %u) or batch of "
			       "%u (at most %u)",
			       o->telemetry_queue_max, TELEMETRY_QUEUE_MAX,
			       o->telemetry_batch_max, TELEMETRY_BATCH_MAX);
	return LK_OK;
}

/* Frees the buffer and what is still queued (what a failed flush left). */
static void telemetry_free(lk_mesh *m)
{
	struct telemetry *t = m->tel;

	while (t->count > 0) {
		free(t->ring[t->head].source);
		t->head = (t->head + 1) % t->cap;
		t->count--;
	}
	if (t->sleep)
		t->io->wait_free(t->io->ctx, t->sleep);
	pthread_mutex_destroy(&t->write_mu);
	pthread_mutex_destroy(&t->mu);
	free(t->ring);
	free(t);
	m->tel = NULL;
}

lk_status telemetry_start(lk_mesh *m, const lk_mesh_options *o)
{
	struct telemetry *t = calloc(1, sizeof *t);
	void *v;
	size_t vlen;
	lk_status st;

	if (!t)
		return lk_fail(LK_NOMEM, "the telemetry buffer");
	t->cap = o->telemetry_queue_max ? o->telemetry_queue_max : 10000;
	t->batch_max = o->telemetry_batch_max ? o->telemetry_batch_max : 100;
	t->flush_ms = o->telemetry_flush_ms ? o->telemetry_flush_ms : 1000;
	LK_MESH_ASSERT(t->cap <= TELEMETRY_QUEUE_MAX &&
		       t->batch_max <= TELEMETRY_BATCH_MAX); /* checked */
	t->ring = calloc(t->cap, sizeof *t->ring);
	if (!t->ring) {
		free(t);
		return lk_fail(LK_NOMEM, "the telemetry queue");
	}
	st = lk_get(&v, &vlen, m->db, m->ns_telemetry, "n", 1);
	if (st == LK_OK) {
		if (vlen == 8)
			for (int i = 0; i < 8; i++)
				t->next_id |= (uint64_t)((uint8_t *)v)[i]
					      << (8 * i);
		else
			st = lk_fail(LK_CORRUPT,
				     "telemetry id counter of %zu bytes", vlen);
		lk_free(v);
	} else if (st == LK_NOT_FOUND) {
		st = LK_OK;
	}
	if (t->next_id == 0)
		t->next_id = 1;
	pthread_mutex_init(&t->mu, NULL);
	pthread_mutex_init(&t->write_mu, NULL);
	t->io = lk_db_io(m->db);
	LK_MESH_ASSERT(t->io != NULL); /* the handle was checked */
	m->tel = t;
	if (st == LK_OK && !m->readonly) {
		if (t->io->wait_new(t->io->ctx, &t->sleep) != LK_OK ||
		    t->io->thread_start(t->io->ctx, &t->thread, writer_main,
					m) != LK_OK)
			st = lk_fail(LK_NOMEM, "starting the telemetry writer");
	}
	if (st != LK_OK)
		telemetry_free(m);
	return st;
}

lk_status telemetry_stop(lk_mesh *m)
{
	struct telemetry *t = m->tel;
	lk_status st;

	if (!t)
		return LK_OK;
	if (t->thread) {
		pthread_mutex_lock(&t->mu);
		t->stop = 1;
		wake_locked(t);
		pthread_mutex_unlock(&t->mu);
		t->io->thread_join(t->io->ctx, t->thread);
	}
	st = lk_mesh_telemetry_flush(m);
	telemetry_free(m);
	return st;
}

lk_status lk_mesh_telemetry_record(lk_mesh *m, lk_mesh_telemetry_kind kind,
				   const char *source, const char *message)
{
	struct telemetry *t;
	struct tentry e;
	size_t sl, ml;
	lk_status st = mesh_check(m);

	if (st == LK_OK && (kind < LK_MESH_TELEMETRY_EVENT ||
			    kind > LK_MESH_TELEMETRY_DECISION))
		st = lk_fail(LK_INVALID, "telemetry kind %d unknown", (int)kind);
	if (st == LK_OK)
		st = mesh_check_str(source, LK_MESH_ID_BYTES_MAX, 1,
				    "telemetry source", &sl);
	if (st == LK_OK)
		st = mesh_check_str(message, LK_MESH_TEXT_BYTES_MAX, 1,
				    "telemetry message", &ml);
	if (st == LK_OK && m->readonly)
		st = lk_fail(LK_READONLY, "telemetry on a read-only database");
	if (st != LK_OK)
		return st;
	t = m->tel;
	e.kind = (uint8_t)kind;
	e.at_ms = lk_now_ms(m->db);
	e.source = malloc(sl + 1 + ml + 1);
	if (!e.source)
		return lk_fail(LK_NOMEM, "a telemetry entry");
	memcpy(e.source, source, sl + 1);
	e.message = e.source + sl + 1;
	memcpy(e.message, message, ml + 1);
	pthread_mutex_lock(&t->mu);
	if (t->count == t->cap) {
		t->refused++;
		pthread_mutex_unlock(&t->mu);
		free(e.source);
		return lk_fail(LK_BUSY,
			       "the telemetry queue is full (%zu entries): "
			       "entry refused",
			       t->cap);
	}
	t->ring[(t->head + t->count) % t->cap] = e;
	t->count++;
	if (t->count >= t->batch_max)
		wake_locked(t);
	pthread_mutex_unlock(&t->mu);
	return LK_OK;
}

lk_status lk_mesh_capture_error(lk_mesh *m, const char *component,
				const char *error_type, const char *message)
{
	char text[LK_MESH_TEXT_BYTES_MAX + 1];

	if (!error_type || !message)
		return lk_fail(LK_INVALID, "lk_mesh_capture_error: NULL");
	if ((size_t)snprintf(text, sizeof text, "%s: %s", error_type,
			     message) >= sizeof text)
		return lk_fail(LK_TOO_BIG, "telemetry message: longer than %u "
					   "bytes",
			       LK_MESH_TEXT_BYTES_MAX);
	return lk_mesh_telemetry_record(m, LK_MESH_TELEMETRY_ERROR, component,
					text);
}

lk_status lk_mesh_capture_decision(lk_mesh *m, const char *uow,
				   const char *guardian, const char *condition,
				   const char *decision, int32_t branch_index)
{
	char text[LK_MESH_TEXT_BYTES_MAX + 1];

	if (!uow || !condition || !decision)
		return lk_fail(LK_INVALID, "lk_mesh_capture_decision: NULL");
	if ((size_t)snprintf(text, sizeof text,
			     "uow=%s condition=%s decision=%s branch=%d", uow,
			     condition, decision,
			     (int)branch_index) >= sizeof text)
		return lk_fail(LK_TOO_BIG, "telemetry message: longer than %u "
					   "bytes",
			       LK_MESH_TEXT_BYTES_MAX);
	return lk_mesh_telemetry_record(m, LK_MESH_TELEMETRY_DECISION,
					guardian, text);
}

lk_status lk_mesh_telemetry_flush(lk_mesh *m)
{
	lk_status st = mesh_check(m);
	size_t n = 1, left;

	if (st != LK_OK || m->readonly)
		return st;
	/* What was queued when the call came, not what producers add
	 * meanwhile: a flush ends. */
	pthread_mutex_lock(&m->tel->mu);
	left = m->tel->count;
	pthread_mutex_unlock(&m->tel->mu);
	pthread_mutex_lock(&m->tel->write_mu);
	while (st == LK_OK && n > 0 && left > 0) {
		st = write_batch(m, &n);
		left -= n < left ? n : left;
	}
	pthread_mutex_unlock(&m->tel->write_mu);
	return st != LK_OK ? st : lk_sync(m->db);
}

lk_status lk_mesh_telemetry_stats_get(lk_mesh_telemetry_stats *out,
				      lk_mesh *m)
{
	lk_status st = mesh_check(m);

	if (st == LK_OK && !out)
		st = lk_fail(LK_INVALID, "lk_mesh_telemetry_stats_get: NULL");
	if (st != LK_OK)
		return st;
	pthread_mutex_lock(&m->tel->mu);
	out->pending = m->tel->count;
	out->written = m->tel->written;
	out->refused = m->tel->refused;
	out->batches = m->tel->batches;
	out->failures = m->tel->failures;
	pthread_mutex_unlock(&m->tel->mu);
	return LK_OK;
}
