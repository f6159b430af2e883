/* SPDX-License-Identifier: MIT */
/*
 * crash_model.c - scripts, their model, and the prefix check (see
 * crash_model.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "crash_model.h"

uint64_t cm_mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* The value of a put: compressible when value_seed is even, random-ish
 * when odd; the first bytes name the seed so values never collide. */
size_t cm_value(uint8_t *buf, const struct op *o)
{
	uint64_t r = o->value_seed;

	snprintf((char *)buf, 16, "v%08" PRIx32 "-", o->value_seed);
	for (size_t i = 10; i < o->len; i++) {
		if (o->value_seed & 1) {
			r = cm_mix(r);
			buf[i] = (uint8_t)r;
		} else {
			buf[i] = (uint8_t)('a' + (i / 7) % 26);
		}
	}
	return o->len < 10 ? 10 : o->len;
}

/* The state of the store: for each (namespace, key), the op that wrote it
 * last (its value is derived from the op), or none.  ns_other says
 * whether "other" exists. */
struct state {
	int ns_other;
	const struct op *slot[NSS][KEYS];
};

void cm_plan(struct plan *p, const struct script *s)
{
	p->ncommits = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct op *o = &s->ops[i];

		if (o->kind == OP_SYNC || o->kind == OP_REOPEN ||
		    o->kind == OP_COMPACT || o->kind == OP_SNAPSHOT ||
		    o->kind == OP_ADVANCE || o->kind == OP_READ)
			continue;
		p->commit_start[p->ncommits++] = i;
		if (o->kind == OP_BATCH)
			i += o->len;
	}
}

static int is_put(const struct op *o)
{
	return o->kind == OP_PUT || o->kind == OP_PUT_IF_ABSENT ||
	       o->kind == OP_PUT_IF_PRESENT;
}

static int visible(const struct op *o, uint64_t now_ms)
{
	return o && is_put(o) &&
	       (o->expire_at_ms == 0 || o->expire_at_ms > now_ms);
}

/* 1 if the condition of a conditional put holds in st (every other op
 * has none), as the leader sees it at now_ms. */
static int cond_holds(const struct state *st, const struct op *o,
		      uint64_t now_ms)
{
	int live = visible(st->slot[o->ns][o->key], now_ms);

	return o->kind == OP_PUT_IF_ABSENT    ? !live
	       : o->kind == OP_PUT_IF_PRESENT ? live
					      : 1;
}

/* The state after the first `commits` commits, as a reader at now_ms
 * sees it (expired and deleted records absent). */
static void model_state(struct state *st, const struct script *s,
			const struct plan *p, size_t commits, uint64_t now_ms)
{
	memset(st, 0, sizeof *st);
	for (size_t c = 0; c < commits; c++) {
		size_t i = p->commit_start[c];
		const struct op *o = &s->ops[i];
		size_t n = o->kind == OP_BATCH ? o->len : 1;

		if (o->kind == OP_NS) {
			st->ns_other = 1;
			continue;
		}
		if (o->kind == OP_BATCH)
			o++;
		if (!cond_holds(st, o, now_ms))
			continue; /* LK_CONFLICT: nothing written */
		for (size_t j = 0; j < n; j++)
			st->slot[o[j].ns][o[j].key] = &o[j];
	}
	for (int ns = 0; ns < NSS; ns++)
		for (int k = 0; k < KEYS; k++)
			if (!visible(st->slot[ns][k], now_ms))
				st->slot[ns][k] = NULL;
}

static void key_name(char buf[8], uint8_t key)
{
	snprintf(buf, 8, "k%03u", key);
}

lk_options cm_options(const struct cm_config *cfg, const struct lk_io *io)
{
	lk_options o = LK_OPTIONS_INIT;

	o.sync = cfg->sync;
	o.sync_interval_ms = CM_SYNC_INTERVAL_MS;
	o.segment_size_bytes = cfg->segment_size_bytes;
	o.io = io;
	/* no background thread but the interval syncer, which runs on the
	 * fault layer's simulated clock, only inside OP_ADVANCE: the calls of
	 * a run must be the same each time, so that a cut at call c is the
	 * same cut; OP_COMPACT compacts and OP_SNAPSHOT snapshots */
	o.compact_dead_pct = 0;
	o.snapshot_every_bytes = 0;
	o.scrub_rate_bytes = 0;
	/* The smallest space reserve: every open fills it (no device here is
	 * full), and 1 MiB of zeroes per open made the memory layers' page
	 * churn cost more than the states (ASan's crash run: 880 s); the
	 * reserve's own cases are in test_compact.c at the default. */
	o.reserve_bytes = LK_RESERVE_MIN_BYTES;
	return o;
}

static lk_status add_to_batch(lk_batch *b, uint32_t nsid[NSS],
			      const struct op *o, uint8_t *vbuf)
{
	char key[8];

	key_name(key, o->key);
	if (o->kind == OP_DEL)
		return lk_batch_del(b, nsid[o->ns], key, 4);
	return lk_batch_put(b, nsid[o->ns], key, 4, vbuf, cm_value(vbuf, o),
			    o->expire_at_ms);
}

/* Runs the script until the first failure; the database is closed at the
 * end whatever happened. */
/* OP_ADVANCE: moves the clock, unless something failed already (time
 * after the failure would not change what must have survived it).  A
 * sync the syncer completed in it, before any failure, made every commit
 * so far durable. */
static void advance(struct outcome *out, struct fault_fs *fs, uint64_t us)
{
	uint64_t syncs = fault_calls(fs, FK_SYNC);

	if (fault_failed_at_us(fs) != 0)
		return;
	fault_advance_us(fs, us);
	if (fault_failed_at_us(fs) == 0 && fault_calls(fs, FK_SYNC) > syncs)
		out->durable = out->attempted;
}

/* A state read back from a handle (read_back). */
struct found {
	int ns_other;
	/* the value read back for each key, as the op whose value it is */
	const struct op *slot[NSS][KEYS];
	int phantom;  /* a value no put of that key ever wrote */
	int extra;    /* iteration saw keys that get did not, or the reverse */
};

static lk_status read_back(struct found *f, lk_db *db, const struct script *s);
static int live_state_is(const struct found *f, const struct script *s,
			 size_t commits, uint64_t now_ms);

void cm_run(struct outcome *out, const struct script *s,
	    const struct cm_config *cfg, struct fault_fs *fs)
{
	static uint8_t vbuf[VALUE_BYTES_MAX];
	const struct lk_io *io = fault_io(fs);
	lk_options opts = cm_options(cfg, io);
	uint32_t nsid[NSS] = { LK_NS_DEFAULT, 0 };
	lk_status st, snapshot_st = LK_OK;
	lk_db *db = NULL;
	char key[8];

	memset(out, 0, sizeof *out);
	st = lk_open(&db, "/db", &opts);
	for (size_t i = 0; st == LK_OK && i < s->n; i++) {
		const struct op *o = &s->ops[i];
		lk_batch *b;

		switch (o->kind) {
		case OP_PUT:
		case OP_DEL:
			out->attempted++;
			key_name(key, o->key);
			if (o->ns == 1 && !nsid[1]) {
				st = LK_INVALID; /* "other" never made it */
				break;
			}
			st = o->kind == OP_DEL
				     ? lk_del(db, nsid[o->ns], key, 4)
				     : lk_put(db, nsid[o->ns], key, 4, vbuf,
					      cm_value(vbuf, o),
					      o->expire_at_ms);
			break;
		case OP_BATCH:
			out->attempted++;
			st = lk_batch_new(&b);
			for (size_t j = 1; st == LK_OK && j <= o->len; j++)
				st = add_to_batch(b, nsid, &o[j], vbuf);
			if (st == LK_OK)
				st = lk_commit(db, b);
			lk_batch_free(b);
			i += o->len;
			break;
		case OP_NS:
			out->attempted++;
			st = lk_ns_open(&nsid[1], db, "other");
			break;
		case OP_PUT_IF_ABSENT:
		case OP_PUT_IF_PRESENT:
			out->attempted++;
			key_name(key, o->key);
			st = lk_batch_new(&b);
			if (st == LK_OK)
				st = lk_batch_require(
					b, nsid[o->ns], key, 4,
					o->kind == OP_PUT_IF_ABSENT
						? LK_IF_ABSENT
						: LK_IF_PRESENT,
					NULL, 0);
			if (st == LK_OK)
				st = add_to_batch(b, nsid, o, vbuf);
			if (st == LK_OK)
				st = lk_commit(db, b);
			lk_batch_free(b);
			if (st == LK_CONFLICT) { /* answered: no change */
				out->conflict[out->attempted - 1] = 1;
				st = LK_OK;
			}
			break;
		case OP_SYNC:
			st = lk_sync(db);
			if (st == LK_OK)
				out->durable = out->attempted;
			continue;
		case OP_COMPACT:
			st = lk_compact(db);
			continue;
		case OP_SNAPSHOT:
			/* It syncs the log first.  A failure after that
			 * leaves the log writable and the script goes on;
			 * lk_sync() tells which (LK_HALTED if the log's own
			 * sync failed, and no I/O when it was done). */
			st = lk_snapshot(db);
			if (st != LK_OK) {
				if (snapshot_st == LK_OK)
					snapshot_st = st;
				st = lk_sync(db);
			}
			if (st == LK_OK)
				out->durable = out->attempted;
			continue;
		case OP_REOPEN:
			st = lk_close(db);
			db = NULL;
			if (st == LK_OK) {
				out->durable = out->attempted;
				st = lk_open(&db, "/db", &opts);
			}
			continue;
		case OP_ADVANCE:
			advance(out, fs, o->value_seed);
			continue;
		case OP_READ: {
			static struct found f;

			st = read_back(&f, db, s);
			if (st == LK_OK &&
			    !live_state_is(&f, s, out->attempted,
					   lk_now_ms(db)))
				out->live_mismatches++;
			continue;
		}
		}
		if (st == LK_OK)
			out->ack_us[out->attempted - 1] = io->mono_us(io->ctx);
		if (st == LK_OK && cfg->sync == LK_SYNC_ALWAYS)
			out->durable = out->attempted;
	}
	out->failed_us = fault_failed_at_us(fs);
	if (out->failed_us == 0)
		out->failed_us = io->mono_us(io->ctx);
	out->first_error = snapshot_st != LK_OK ? snapshot_st : st;
	if (db) {
		lk_status cst = lk_close(db);

		if (st == LK_OK && cst == LK_OK)
			out->durable = out->attempted;
	}
}

/* ---------------------------------------------------------------------- */
/* Reading the state back                                                 */
/* ---------------------------------------------------------------------- */

/* Which op of the script wrote this value to this key, if any. */
static const struct op *writer_of(const struct script *s, uint8_t ns,
				  uint8_t key, const void *v, size_t len)
{
	static uint8_t buf[VALUE_BYTES_MAX];

	for (size_t i = 0; i < s->n; i++) {
		const struct op *o = &s->ops[i];

		if (!is_put(o) || o->ns != ns || o->key != key)
			continue;
		if (cm_value(buf, o) == len && memcmp(buf, v, len) == 0)
			return o;
	}
	return NULL;
}

static lk_status read_back(struct found *f, lk_db *db, const struct script *s)
{
	uint32_t nsid[NSS] = { LK_NS_DEFAULT, 0 };
	lk_status st;

	memset(f, 0, sizeof *f);
	st = lk_ns_find(&nsid[1], db, "other");
	if (st != LK_OK && st != LK_NOT_FOUND)
		return st;
	f->ns_other = st == LK_OK;
	for (int ns = 0; ns < NSS; ns++) {
		size_t got = 0, seen = 0;
		lk_iter *it;

		if (!nsid[ns])
			continue;
		for (uint8_t k = 0; k < KEYS; k++) {
			char key[8];
			void *v;
			size_t len;

			key_name(key, k);
			st = lk_get(&v, &len, db, nsid[ns], key, 4);
			if (st == LK_NOT_FOUND)
				continue;
			if (st != LK_OK)
				return st;
			f->slot[ns][k] = writer_of(s, (uint8_t)ns, k, v, len);
			if (!f->slot[ns][k])
				f->phantom++;
			got++;
			lk_free(v);
		}
		st = lk_iter_open(&it, db, nsid[ns], NULL, 0);
		if (st != LK_OK)
			return st;
		while ((st = lk_iter_next(it, NULL, NULL, NULL, NULL, NULL)) ==
		       LK_OK)
			seen++;
		lk_iter_close(it);
		if (st != LK_NOT_FOUND)
			return st;
		if (seen != got)
			f->extra++;
	}
	return LK_OK;
}

static int same(const struct found *f, const struct state *m)
{
	if (f->ns_other != m->ns_other)
		return 0;
	return memcmp(f->slot, m->slot, sizeof f->slot) == 0;
}

/* What a running handle shows after `commits` commits that all returned:
 * exactly the model's state after them, the conditional puts decided as
 * they were answered. */
static int live_state_is(const struct found *f, const struct script *s,
			 size_t commits, uint64_t now_ms)
{
	static struct plan p;
	struct state m;

	cm_plan(&p, s);
	model_state(&m, s, &p, commits, now_ms);
	return !f->phantom && !f->extra && same(f, &m);
}

/* ---------------------------------------------------------------------- */
/* Checking one crash state                                               */
/* ---------------------------------------------------------------------- */

/* The commits that must have survived: those a sync made durable, and
 * under LK_SYNC_INTERVAL those acknowledged more than the interval (plus
 * one sync, which takes no simulated time) before the first failure. */
static size_t timed_durable(const struct cm_config *cfg,
			    const struct outcome *oc)
{
	uint64_t interval_us = CM_SYNC_INTERVAL_MS * UINT64_C(1000);
	size_t k = oc->durable;

	if (cfg->sync != LK_SYNC_INTERVAL)
		return k;
	while (k < oc->attempted && oc->ack_us[k] != 0 &&
	       oc->ack_us[k] + interval_us < oc->failed_us)
		k++;
	return k;
}

enum cm_verdict cm_check(const struct script *s, const struct plan *p,
			 const struct cm_config *cfg, const struct lk_io *io,
			 const struct outcome *oc, char *detail, size_t cap)
{
	size_t durable;
	lk_options opts = cm_options(cfg, io);
	lk_recovery_report rep = LK_REPORT_INIT, rep2 = LK_REPORT_INIT;
	struct found f, f2;
	struct state m;
	lk_db *db;
	lk_status st;
	int ok = 0;

	detail[0] = 0;
	st = lk_open(&db, "/db", &opts);
	if (st != LK_OK) {
		snprintf(detail, cap, "reopen: %s: %s", lk_strerror(st),
			 lk_errmsg());
		return CM_REFUSED;
	}
	st = read_back(&f, db, s);
	lk_recovery(&rep, db);
	lk_close(db);
	if (st != LK_OK) {
		snprintf(detail, cap, "%s", lk_errmsg());
		return CM_READ_FAILED;
	}
	/* each acknowledged conditional put was decided as the model
	 * decides it on the commits before it */
	for (size_t c = 0; c < oc->attempted; c++) {
		const struct op *o = &s->ops[p->commit_start[c]];

		if ((o->kind != OP_PUT_IF_ABSENT &&
		     o->kind != OP_PUT_IF_PRESENT) ||
		    oc->ack_us[c] == 0)
			continue;
		model_state(&m, s, p, c, CLOCK_START_MS);
		if (cond_holds(&m, o, CLOCK_START_MS) == !oc->conflict[c])
			continue;
		snprintf(detail, cap, "commit %zu, a conditional put, was "
			 "answered %s; the model says otherwise", c,
			 oc->conflict[c] ? "LK_CONFLICT" : "LK_OK");
		return CM_NOT_PREFIX;
	}
	durable = timed_durable(cfg, oc);
	for (size_t k = durable; k <= oc->attempted && !ok; k++) {
		model_state(&m, s, p, k, CLOCK_START_MS);
		ok = same(&f, &m);
	}
	if (!ok) {
		int lost = 0;

		for (size_t k = 0; k < durable && !lost; k++) {
			model_state(&m, s, p, k, CLOCK_START_MS);
			lost = same(&f, &m);
		}
		snprintf(detail, cap,
			 "acknowledged %zu commits (%zu by a sync, the rest "
			 "older than the interval at the failure at %" PRIu64
			 " us), attempted %zu",
			 durable, oc->durable, oc->failed_us, oc->attempted);
		return f.phantom ? CM_PHANTOM : lost ? CM_LOST : CM_NOT_PREFIX;
	}
	if (f.extra)
		return CM_ITER_MISMATCH;
	if (oc->live_mismatches) {
		snprintf(detail, cap, "%zu reads of the running handle saw "
			 "another state than the commits so far",
			 oc->live_mismatches);
		return CM_LIVE_MISMATCH;
	}

	/* recovery is idempotent: the same state, nothing more to cut */
	st = lk_open(&db, "/db", &opts);
	if (st == LK_OK) {
		st = read_back(&f2, db, s);
		lk_recovery(&rep2, db);
		lk_close(db);
	}
	if (st != LK_OK || memcmp(&f, &f2, sizeof f) != 0 ||
	    rep2.bytes_cut != 0 ||
	    rep2.records_replayed != rep.records_replayed) {
		snprintf(detail, cap, "%s", st != LK_OK ? lk_errmsg() : "");
		return CM_NOT_IDEMPOTENT;
	}
	return CM_OK;
}

const char *cm_verdict_name(enum cm_verdict v)
{
	switch (v) {
	case CM_OK: return "ok";
	case CM_REFUSED: return "strict open refused a crash state";
	case CM_READ_FAILED: return "reading the state back failed";
	case CM_PHANTOM: return "phantom value (never written)";
	case CM_LOST: return "acknowledged write lost";
	case CM_NOT_PREFIX: return "state is no prefix (resurrected key or "
				   "partial batch)";
	case CM_ITER_MISMATCH: return "iteration and get disagree";
	case CM_NOT_IDEMPOTENT: return "second open differs from the first";
	case CM_LIVE_MISMATCH: return "a read before the cut saw another state";
	}
	return "?";
}
