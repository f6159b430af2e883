/* SPDX-License-Identifier: MIT */
/*
 * db.c - the public entry points of logkeep.h: open and close, reads,
 * iterators, namespaces, stats and reports.  Writes are in commit.c and
 * replay in recovery.c; the handle's layout and lock order are in db.h.
 *
 * A read holds ix_lock shared for the whole lookup, including the pread
 * that confirms a candidate's key and fetches its value: the index never
 * keeps keys, so a record's bytes are the only proof that a hash match is
 * the key asked for.  Holding the lock keeps the segment table stable
 * under the read (compaction will remove segments under the exclusive
 * lock), and the writer takes it exclusively only to apply a group
 * already on disk.
 */
#include <assert.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "db.h"
#include "endian.h"
#include "error.h"
#include "snapshot.h"

#define ITER_MAGIC 0x6c6b6974u /* "lkit" */

const char *lk_version(void)
{
	return LK_VERSION_STRING;
}

void lk_free(void *ptr)
{
	mem_free(ptr);
}

static lk_status check_db(const struct lk_db *db)
{
	if (!db)
		return err_set(LK_INVALID, "NULL database handle");
	if (db->magic != DB_MAGIC)
		return err_set(LK_MISUSE, "not an open database handle (closed?)");
	return LK_OK;
}

lk_status db_refuse_halted(struct lk_db *db, const char *call)
{
	if (atomic_load(&db->halted) == LK_CORRUPT)
		return err_set(LK_CORRUPT,
			       "%s: the scrub found damage in the log; writes "
			       "are refused until it is repaired (logkeep "
			       "verify DIR names it)",
			       call);
	return err_set(LK_HALTED, "%s: an earlier fdatasync failed; writes "
				  "are halted until the database is reopened",
		       call);
}

lk_status db_check_key(uint32_t ns, const void *key, size_t key_len)
{
	if (!key || key_len == 0)
		return err_set(LK_INVALID, "empty key");
	if (key_len > LK_KEY_BYTES_MAX)
		return err_set(LK_TOO_BIG, "key of %zu bytes, the limit is %u",
			       key_len, LK_KEY_BYTES_MAX);
	if (ns == 0 || ns > LK_NS_COUNT_MAX)
		return err_set(LK_INVALID, "namespace %u out of range", ns);
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Records                                                                */
/* ---------------------------------------------------------------------- */

lk_status db_read_record(struct lk_db *db, struct ix_loc loc,
			 struct record *rec, uint8_t **out)
{
	assert(loc.seg > 0 && loc.seg < IX_SEG_SLOTS);
	return db_read_at(db, db->segs[loc.seg], loc, rec, out);
}

lk_status db_read_at(struct lk_db *db, struct segment *s, struct ix_loc loc,
		     struct record *rec, uint8_t **out)
{
	uint32_t size = loc.size;
	const char *why = NULL;
	uint8_t *buf = NULL;
	size_t got = 0;
	lk_status st;

	*out = NULL;
	/* Only an index entry that does not name a record can lead here
	 * (a forged snapshot's, which compaction then left behind). */
	if (!s)
		return err_set(LK_CORRUPT, "the index names segment slot %u, "
				           "which is not in the log", loc.seg);
	if (size >= IX_SIZE_LARGE) {
		uint8_t head[REC_PREFIX_BYTES_MAX];

		st = db->io->pread(db->io->ctx, s->file, head, sizeof head,
				   loc.offset, &got);
		if (st != LK_OK)
			return st;
		st = record_peek_size(&size, head, got, &why);
		if (st != LK_OK)
			goto corrupt;
	}
	buf = mem_alloc(size);
	if (!buf)
		return err_set(LK_NOMEM, "allocating a %u-byte record", size);
	st = db->io->pread(db->io->ctx, s->file, buf, size, loc.offset, &got);
	if (st != LK_OK) {
		mem_free(buf);
		return st;
	}
	if (got < size) {
		why = "record runs past end of file";
		goto corrupt;
	}
	st = record_decode(rec, buf, size, s->hdr.record_seq_base,
			   seg_seed(s, loc.offset), &why);
	if (st == LK_OK && rec->type != REC_PUT)
		why = "index points at a record that is not a put";
	if (st != LK_OK || why)
		goto corrupt;
	*out = buf;
	return LK_OK;

corrupt:
	mem_free(buf);
	return err_set(LK_CORRUPT, "segment %" PRIu64 " (%s) offset %" PRIu32
			           ": %s", s->hdr.seq, s->name, loc.offset, why);
}

/* A lookup's context: the record of the matching candidate is kept so
 * that the get does not read it twice. */
struct lookup {
	struct lk_db *db;
	struct record rec;
	uint8_t *buf;
};

static lk_status lookup_eq_at(struct lookup *lu, struct segment *s,
			      struct ix_loc *loc, const void *key,
			      size_t key_len, int *equal)
{
	struct record rec;
	uint8_t *buf;
	lk_status st = db_read_at(lu->db, s, *loc, &rec, &buf);

	if (st != LK_OK)
		return st;
	*equal = rec.key_len == key_len && memcmp(rec.key, key, key_len) == 0;
	loc->size = rec.size;
	if (*equal) {
		mem_free(lu->buf);
		lu->buf = buf;
		lu->rec = rec;
	} else {
		mem_free(buf);
	}
	return LK_OK;
}

static lk_status lookup_eq(void *ctx, struct ix_loc *loc, const void *key,
			   size_t key_len, int *equal)
{
	struct lookup *lu = ctx;

	return lookup_eq_at(lu, lu->db->segs[loc->seg], loc, key, key_len,
			    equal);
}

lk_status db_key_eq(void *ctx, struct ix_loc *loc, const void *key,
		    size_t key_len, int *equal)
{
	struct lookup lu = { ctx, { 0 }, NULL };
	lk_status st = lookup_eq(&lu, loc, key, key_len, equal);

	mem_free(lu.buf);
	return st;
}

lk_status db_apply(struct lk_db *db, const struct record *rec,
		   struct ix_loc loc, uint64_t key_hash, ix_key_eq_fn eq,
		   void *eq_ctx)
{
	struct ix_loc old;
	int had_old = 0;
	lk_status st;

	if (rec->type == REC_PUT)
		st = index_put(db->ix, rec->ns, key_hash,
			       (rec->flags & REC_F_EXPIRY) != 0, rec->key,
			       rec->key_len, loc, eq, eq_ctx, &old, &had_old);
	else
		st = index_del(db->ix, rec->ns, key_hash, rec->key,
			       rec->key_len, eq, eq_ctx, &old, &had_old);
	if (st != LK_OK)
		return st;
	/* Saturating: live bytes may come from a snapshot, and a bad one
	 * must cost a wrong statistic, not an abort. */
	if (had_old && db->segs[old.seg]) {
		struct segment *o = db->segs[old.seg];

		o->live_bytes -= o->live_bytes < old.size ? o->live_bytes
							  : old.size;
	}
	if (rec->type == REC_PUT)
		db->segs[loc.seg]->live_bytes += rec->size;
	return LK_OK;
}

lk_status db_add_segment(struct lk_db *db, struct segment *s)
{
	for (uint32_t slot = 1; slot < IX_SEG_SLOTS; slot++) {
		if (db->segs[slot])
			continue;
		if (db->seg_count >= LK_SEGMENT_COUNT_MAX)
			break;
		s->slot = slot;
		atomic_store(&s->refs, 1);
		db->segs[slot] = s;
		db->seg_count++;
		return LK_OK;
	}
	return err_set(LK_TOO_BIG, "more than %u segments", LK_SEGMENT_COUNT_MAX);
}

void db_remove_segment(struct lk_db *db, struct segment *s)
{
	assert(db->segs[s->slot] == s);
	db->segs[s->slot] = NULL;
	db->seg_count--;
}

void db_seg_pin(struct segment *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
}

void db_seg_unpin(struct lk_db *db, struct segment *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		seg_close(s, db->io);
}

static int expired(const struct lk_db *db, const struct record *rec)
{
	return rec->expire_at_ms &&
	       db->io->now_ms(db->io->ctx) >= rec->expire_at_ms;
}

/* ---------------------------------------------------------------------- */
/* Namespaces                                                             */
/* ---------------------------------------------------------------------- */

struct ns_load {
	struct lk_db *db;
	lk_status st;
};

static void load_one(void *arg, uint8_t ns, struct ix_loc loc, int expiring)
{
	struct ns_load *nl = arg;
	struct lk_db *db = nl->db;
	struct record rec;
	uint8_t *buf;
	uint8_t id;

	(void)ns;
	(void)expiring;
	if (nl->st != LK_OK)
		return;
	nl->st = db_read_record(db, loc, &rec, &buf);
	if (nl->st != LK_OK)
		return;
	/* recovery checked the entry's form; a second name for an id can
	 * only come from two entries that are each valid alone */
	id = rec.value[0];
	if (!record_catalog_valid(&rec) || db->ns_names[id]) {
		nl->st = err_set(LK_CORRUPT, "namespace catalog entry at segment "
				 "slot %u offset %u is invalid",
				 loc.seg, loc.offset);
	} else {
		db->ns_names[id] = mem_alloc(rec.key_len + 1);
		if (!db->ns_names[id]) {
			nl->st = err_set(LK_NOMEM, "loading namespaces");
		} else {
			memcpy(db->ns_names[id], rec.key, rec.key_len);
			db->ns_names[id][rec.key_len] = 0;
		}
	}
	mem_free(buf);
}

lk_status db_load_namespaces(struct lk_db *db)
{
	struct ns_load nl = { db, LK_OK };

	if (!db->catalog_known) {
		index_foreach(db->ix, 0, load_one, &nl);
		return nl.st;
	}
	for (size_t i = 0; i < db->catalog_n; i++)
		load_one(&nl, 0, db->catalog_locs[i], 0);
	return nl.st;
}

/* Checks the arguments of lk_ns_open/find; LK_OK with *ns set for
 * "default", LK_NOT_FOUND to go on and look. */
static lk_status ns_args(uint32_t *ns, lk_db *db, const char *name)
{
	lk_status st = check_db(db);

	if (st != LK_OK)
		return st;
	if (!ns || !name)
		return err_set(LK_INVALID, "namespace lookup: NULL argument");
	if (!record_ns_name_valid(name, strlen(name)))
		return err_set(LK_INVALID, "namespace name \"%.64s\": 1 to %u "
				           "printable characters, no spaces",
			       name, LK_NS_NAME_BYTES_MAX);
	if (strcmp(name, "default") == 0) {
		*ns = LK_NS_DEFAULT;
		return LK_OK;
	}
	return LK_NOT_FOUND;
}

/* Caller holds ns_mu. */
static lk_status ns_lookup(uint32_t *ns, struct lk_db *db, const char *name)
{
	for (uint32_t i = 2; i <= LK_NS_COUNT_MAX; i++) {
		if (db->ns_names[i] && strcmp(db->ns_names[i], name) == 0) {
			*ns = i;
			return LK_OK;
		}
	}
	return err_set(LK_NOT_FOUND, "no namespace \"%s\"", name);
}

lk_status lk_ns_find(uint32_t *ns, lk_db *db, const char *name)
{
	lk_status st = ns_args(ns, db, name);

	if (st != LK_NOT_FOUND)
		return st;
	pthread_mutex_lock(&db->ns_mu);
	st = ns_lookup(ns, db, name);
	pthread_mutex_unlock(&db->ns_mu);
	return st;
}

lk_status lk_ns_open(uint32_t *ns, lk_db *db, const char *name)
{
	lk_batch *b = NULL;
	lk_status st;
	size_t len;
	uint8_t id;

	st = ns_args(ns, db, name);
	if (st != LK_NOT_FOUND)
		return st;
	len = strlen(name);
	pthread_mutex_lock(&db->ns_mu);
	st = ns_lookup(ns, db, name);
	if (st == LK_OK || db->readonly)
		goto out;
	st = LK_OK;
	for (id = 2; id < LK_NS_COUNT_MAX && db->ns_names[id]; id++)
		;
	if (db->ns_names[id]) {
		st = err_set(LK_TOO_BIG, "all %u namespaces are in use",
			     LK_NS_COUNT_MAX - 1);
		goto out;
	}
	st = lk_batch_new(&b);
	if (st == LK_OK)
		st = batch_add(b, REC_PUT, 0, name, len, &id, 1, 0);
	if (st == LK_OK)
		st = commit_batch(db, b);
	if (st == LK_OK) {
		db->ns_names[id] = mem_alloc(len + 1);
		if (!db->ns_names[id]) {
			/* Durable already; the next open will load it. */
			st = err_set(LK_NOMEM, "registering namespace %s", name);
		} else {
			memcpy(db->ns_names[id], name, len + 1);
			*ns = id;
		}
	}
	lk_batch_free(b);
out:
	pthread_mutex_unlock(&db->ns_mu);
	return st;
}

lk_status lk_ns_name(char *buf, size_t cap, lk_db *db, uint32_t ns)
{
	lk_status st = check_db(db);

	if (st != LK_OK)
		return st;
	if (!buf || cap == 0)
		return err_set(LK_INVALID, "lk_ns_name: no buffer");
	if (ns == LK_NS_DEFAULT) {
		snprintf(buf, cap, "default");
		return LK_OK;
	}
	if (ns == 0 || ns > LK_NS_COUNT_MAX)
		return err_set(LK_INVALID, "namespace %u out of range", ns);
	pthread_mutex_lock(&db->ns_mu);
	if (db->ns_names[ns])
		snprintf(buf, cap, "%s", db->ns_names[ns]);
	else
		st = err_set(LK_NOT_FOUND, "no namespace %u", ns);
	pthread_mutex_unlock(&db->ns_mu);
	return st;
}

/* ---------------------------------------------------------------------- */
/* Open and close                                                         */
/* ---------------------------------------------------------------------- */

static void db_free(struct lk_db *db)
{
	const lk_io *io = db->io;

	compact_stop(db);
	commit_stop(db); /* an open that failed after commit_init */
	compact_free(db);
	for (uint32_t i = 1; i < IX_SEG_SLOTS; i++)
		seg_close(db->segs[i], io);
	seg_close(db->next_seg, io);
	index_free(db->ix);
	compressor_free(db->cmp);
	for (uint32_t i = 0; i <= LK_NS_COUNT_MAX; i++)
		mem_free(db->ns_names[i]);
	mem_free(db->group_buf);
	if (db->lock)
		io->close(io->ctx, db->lock);
	if (db->dir)
		io->dir_close(io->ctx, db->dir);
	pthread_rwlock_destroy(&db->ix_lock);
	pthread_mutex_destroy(&db->write_mu);
	pthread_mutex_destroy(&db->log_mu);
	pthread_mutex_destroy(&db->ns_mu);
	db->magic = DB_MAGIC_CLOSED;
	mem_free(db);
}

/* Readers take ix_lock briefly and often; a writer takes it to apply a
 * group that is already on disk and that its committers wait for.  Where
 * the C library lets us say so (glibc), a waiting writer goes before new
 * readers; elsewhere the default policy holds, and reads are short anyway
 * (they read records after releasing the lock). */
static void init_ix_lock(pthread_rwlock_t *lock)
{
#ifdef __GLIBC__
	pthread_rwlockattr_t attr;

	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(
		&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(lock, &attr);
	pthread_rwlockattr_destroy(&attr);
#else
	pthread_rwlock_init(lock, NULL);
#endif
}

static lk_status check_options(const lk_options *o)
{
	if (o->version != LK_OPTIONS_VERSION)
		return err_set(LK_INVALID, "options version %u, this library "
				           "knows 1 to %u: use LK_OPTIONS_INIT",
			       o->version, LK_OPTIONS_VERSION);
	if (o->flags & ~(LK_OPEN_CREATE | LK_OPEN_READONLY))
		return err_set(LK_INVALID, "unknown open flags 0x%x", o->flags);
	if (o->sync != LK_SYNC_ALWAYS && o->sync != LK_SYNC_INTERVAL &&
	    o->sync != LK_SYNC_NONE)
		return err_set(LK_INVALID, "unknown sync mode %d", (int)o->sync);
	if (o->sync == LK_SYNC_INTERVAL &&
	    (o->sync_interval_ms == 0 || o->sync_interval_ms > 3600000))
		return err_set(LK_INVALID, "sync interval of %u ms: 1 ms to 1 h",
			       o->sync_interval_ms);
	if (o->segment_size_bytes < LK_SEGMENT_SIZE_MIN_BYTES ||
	    o->segment_size_bytes > LK_SEGMENT_SIZE_MAX_BYTES)
		return err_set(LK_INVALID, "segment size %" PRIu64 ": %u to %u "
				           "bytes",
			       o->segment_size_bytes, LK_SEGMENT_SIZE_MIN_BYTES,
			       LK_SEGMENT_SIZE_MAX_BYTES);
	if (o->compact_dead_pct > 99 || o->compact_idle_pct > 99 ||
	    (o->compact_dead_pct &&
	     (o->compact_idle_pct == 0 ||
	      o->compact_idle_pct > o->compact_dead_pct)))
		return err_set(LK_INVALID, "compaction at %u%% dead, %u%% when "
				           "idle: 1 to 99, idle at most the "
				           "other (or 0 for none)",
			       o->compact_dead_pct, o->compact_idle_pct);
	if (o->snapshot_every_bytes &&
	    o->snapshot_every_bytes < LK_SNAPSHOT_EVERY_MIN_BYTES)
		return err_set(LK_INVALID, "a snapshot every %" PRIu64 " bytes "
				           "of log: 0 (none) or at least %u",
			       o->snapshot_every_bytes,
			       LK_SNAPSHOT_EVERY_MIN_BYTES);
	if (o->compact_idle_ms > 3600000)
		return err_set(LK_INVALID, "compaction idle time of %u ms: at "
				           "most 1 h",
			       o->compact_idle_ms);
	return LK_OK;
}

/* The caller's options in this library's version: an older struct stops
 * before the fields added since, which take their defaults. */
static lk_status take_options(lk_options *o, const lk_options *given)
{
	static const lk_options defaults = LK_OPTIONS_INIT;

	*o = defaults;
	if (given && given->version == 1)
		memcpy(o, given, offsetof(lk_options, compact_dead_pct));
	else if (given && given->version == 2)
		memcpy(o, given, offsetof(lk_options, snapshot_every_bytes));
	else if (given)
		*o = *given;
	if (o->version == 1 || o->version == 2)
		o->version = LK_OPTIONS_VERSION;
	return check_options(o);
}

/* lk_open, or with snap_ignore an open that replays the whole log
 * whatever snapshot there is (lk_verify compares the two). */
static lk_status open_db(lk_db **out, const char *path,
			 const lk_options *opts, int snap_ignore)
{
	struct io_check probe;
	lk_options o;
	struct lk_db *db;
	const lk_io *io;
	lk_status st;

	if (!out)
		return err_set(LK_INVALID, "lk_open: NULL out-pointer");
	*out = NULL;
	if (!path || !*path)
		return err_set(LK_INVALID, "lk_open: no path");
	st = take_options(&o, opts);
	if (st != LK_OK)
		return st;
	opts = &o;
	if (!io_check_install(&probe, opts->io ? opts->io : lk_io_posix()))
		return LK_INVALID; /* a version or a slot; nothing touched */

	db = mem_calloc(1, sizeof *db);
	if (!db)
		return err_set(LK_NOMEM, "allocating the database handle");
	db->magic = DB_MAGIC;
	io = io_check_install(&db->io_check, probe.inner);
	db->io = io;
	db->opts = *opts;
	db->opts.io = probe.inner;
	db->readonly = (opts->flags & LK_OPEN_READONLY) != 0;
	db->snap_ignore = snap_ignore;
	db->report.version = LK_REPORT_VERSION;
	init_ix_lock(&db->ix_lock);
	pthread_mutex_init(&db->write_mu, NULL);
	pthread_mutex_init(&db->log_mu, NULL);
	pthread_mutex_init(&db->ns_mu, NULL);

	st = io->dir_open(io->ctx, path,
			  !db->readonly && (opts->flags & LK_OPEN_CREATE), &db->dir);
	if (st != LK_OK) {
		err_prefix("opening data directory %s", path);
		goto fail;
	}
	if (!db->readonly) {
		st = io->lock(io->ctx, db->dir, "LOCK", &db->lock);
		if (st == LK_BUSY)
			err_set(st, "data directory %s is in use by another "
				    "writer", path);
		if (st != LK_OK)
			goto fail;
	}
	st = index_new(&db->ix);
	if (st == LK_OK)
		st = compressor_new(&db->cmp);
	if (st == LK_OK)
		st = recovery_open(db);
	if (st == LK_OK)
		st = db_load_namespaces(db);
	if (st == LK_OK)
		st = commit_init(db);
	if (st == LK_OK)
		st = compact_init(db);
	if (st != LK_OK)
		goto fail;
	*out = db;
	return LK_OK;

fail:
	db_free(db);
	return st;
}

lk_status lk_open(lk_db **out, const char *path, const lk_options *opts)
{
	return open_db(out, path, opts, 0);
}

lk_status lk_close(lk_db *db)
{
	lk_status st;

	if (!db)
		return LK_OK;
	st = check_db(db);
	if (st != LK_OK)
		return st;
	compact_stop(db);
	commit_stop(db);
	st = commit_close(db);
	/* The next open loads this instead of replaying the log.  Not
	 * taking it costs that replay, not data: its failure is not the
	 * close's. */
	if (st == LK_OK && !db->readonly && db->opts.snapshot_every_bytes &&
	    !atomic_load(&db->halted) &&
	    snapshot_behind(db) >= LK_SNAPSHOT_CLOSE_MIN_BYTES) {
		pthread_mutex_lock(&db->compact_mu);
		if (snapshot_write(db) != LK_OK)
			atomic_fetch_add(&db->snapshot_failures, 1);
		pthread_mutex_unlock(&db->compact_mu);
	}
	db_free(db);
	return st;
}

lk_status lk_snapshot(lk_db *db)
{
	lk_status st = check_db(db);

	if (st != LK_OK)
		return st;
	if (db->readonly)
		return err_set(LK_READONLY, "lk_snapshot: the handle is "
					    "read-only");
	pthread_mutex_lock(&db->compact_mu);
	st = snapshot_write(db);
	pthread_mutex_unlock(&db->compact_mu);
	return st;
}

lk_status lk_recovery(lk_recovery_report *report, lk_db *db)
{
	lk_status st = check_db(db);

	if (st != LK_OK)
		return st;
	if (!report)
		return err_set(LK_INVALID, "lk_recovery: NULL report");
	*report = db->report;
	return LK_OK;
}

/* ---------------------------------------------------------------------- */
/* Reads                                                                  */
/* ---------------------------------------------------------------------- */

/* Looks key up; on LK_OK *buf holds the record (caller frees).
 *
 * The candidates (entries whose hash matches: almost always one) are
 * copied under the index lock and confirmed by reading them after it is
 * released, so that a slow read never holds up a writer.  A location stays
 * readable after the lock is released: records are never rewritten in
 * place, and a segment that compaction takes out of the table stays open
 * while a reader holds a reference to it.  Should
 * a key ever have more candidates than fit here, the lookup confirms them
 * under the lock instead. */
#define LOOKUP_CANDIDATES 4

static lk_status lookup(struct lk_db *db, uint32_t ns, const void *key,
			size_t key_len, struct record *rec, uint8_t **buf)
{
	struct lookup lu = { db, { 0 }, NULL };
	struct ix_loc cand[LOOKUP_CANDIDATES], loc;
	struct segment *seg[LOOKUP_CANDIDATES];
	int expiring[LOOKUP_CANDIDATES];
	uint64_t hash;
	size_t n;
	lk_status st;

	st = check_db(db);
	if (st == LK_OK)
		st = db_check_key(ns, key, key_len);
	if (st != LK_OK)
		return st;
	hash = record_key_hash(ns, key, key_len);
	pthread_rwlock_rdlock(&db->ix_lock);
	n = index_candidates(db->ix, (uint8_t)ns, hash, cand, expiring,
			     LOOKUP_CANDIDATES);
	if (n > LOOKUP_CANDIDATES)
		st = index_get(db->ix, (uint8_t)ns, hash, key, key_len,
			       lookup_eq, &lu, &loc, NULL);
	for (size_t i = 0; n <= LOOKUP_CANDIDATES && i < n; i++) {
		seg[i] = db->segs[cand[i].seg];
		db_seg_pin(seg[i]);
	}
	pthread_rwlock_unlock(&db->ix_lock);
	if (n == 0)
		return LK_NOT_FOUND;
	if (n <= LOOKUP_CANDIDATES) {
		int equal = 0;

		for (size_t i = 0; st == LK_OK && !equal && i < n; i++)
			st = lookup_eq_at(&lu, seg[i], &cand[i], key, key_len,
					  &equal);
		for (size_t i = 0; i < n; i++)
			db_seg_unpin(db, seg[i]);
		if (st == LK_OK && !equal)
			st = LK_NOT_FOUND;
	}
	if (st == LK_OK && expired(db, &lu.rec))
		st = LK_NOT_FOUND;
	if (st != LK_OK) {
		mem_free(lu.buf);
		return st;
	}
	*rec = lu.rec;
	*buf = lu.buf;
	return LK_OK;
}

/* Turns a decoded put into a caller-owned value.  Takes ownership of buf:
 * a raw value is moved to its start, so it needs no second allocation. */
static lk_status take_value(struct lk_db *db, const struct record *rec,
			    uint8_t *buf, void **value, size_t *value_len)
{
	lk_status st = LK_OK;

	if (rec->flags & REC_F_ZSTD) {
		uint8_t *raw;
		size_t raw_len;

		st = compressor_unpack(db->cmp, rec->value, rec->value_len, &raw,
				       &raw_len);
		mem_free(buf);
		if (st != LK_OK)
			return st;
		*value = raw;
		*value_len = raw_len;
		return LK_OK;
	}
	/* rec->size > value_len: the buffer has room for the NUL. */
	memmove(buf, rec->value, rec->value_len);
	buf[rec->value_len] = 0;
	*value = buf;
	*value_len = rec->value_len;
	return st;
}

lk_status lk_get(void **value, size_t *value_len, lk_db *db, uint32_t ns,
		 const void *key, size_t key_len)
{
	struct record rec;
	uint8_t *buf;
	lk_status st;

	if (value)
		*value = NULL;
	if (value_len)
		*value_len = 0;
	st = lookup(db, ns, key, key_len, &rec, &buf);
	if (st != LK_OK)
		return st;
	if (!value) {
		mem_free(buf);
		return LK_OK;
	}
	{
		size_t len;

		st = take_value(db, &rec, buf, value, &len);
		if (st == LK_OK && value_len)
			*value_len = len;
	}
	return st;
}

lk_status lk_exists(lk_db *db, uint32_t ns, const void *key, size_t key_len)
{
	return lk_get(NULL, NULL, db, ns, key, key_len);
}

struct count_ctx {
	struct lk_db *db;
	uint64_t expired;
	lk_status st;
};

static void count_expired(void *arg, uint8_t ns, struct ix_loc loc,
			  int expiring)
{
	struct count_ctx *cc = arg;
	struct record rec;
	uint8_t *buf;

	(void)ns;
	if (!expiring || cc->st != LK_OK)
		return;
	cc->st = db_read_record(cc->db, loc, &rec, &buf);
	if (cc->st == LK_OK && expired(cc->db, &rec))
		cc->expired++;
	mem_free(buf);
}

lk_status lk_count(uint64_t *count, lk_db *db, uint32_t ns)
{
	struct count_ctx cc = { db, 0, LK_OK };
	lk_status st = check_db(db);

	if (st != LK_OK)
		return st;
	if (!count)
		return err_set(LK_INVALID, "lk_count: NULL count");
	if (ns == 0 || ns > LK_NS_COUNT_MAX)
		return err_set(LK_INVALID, "namespace %u out of range", ns);
	pthread_rwlock_rdlock(&db->ix_lock);
	*count = index_count(db->ix, (uint8_t)ns);
	/* Only records that carry an expiry need a read to be counted. */
	if (index_expiring(db->ix, (uint8_t)ns))
		index_foreach(db->ix, (int)ns, count_expired, &cc);
	pthread_rwlock_unlock(&db->ix_lock);
	*count -= cc.expired;
	return cc.st;
}

/* ---------------------------------------------------------------------- */
/* Iterators                                                              */
/* ---------------------------------------------------------------------- */

struct lk_iter {
	uint32_t magic;
	struct lk_db *db;
	struct ix_loc *locs;
	struct segment **pins;  /* the segment table when it was opened */
	size_t n, cap, next;
	uint8_t *prefix;
	size_t prefix_len;
	uint8_t *buf;    /* the current record */
	uint8_t *value;  /* its decompressed value, if it was compressed */
	lk_status st;
};

static void collect(void *arg, uint8_t ns, struct ix_loc loc, int expiring)
{
	struct lk_iter *it = arg;

	(void)ns;
	(void)expiring;
	if (it->n < it->cap)
		it->locs[it->n++] = loc;
}

static int loc_cmp(const void *a, const void *b)
{
	const struct ix_loc *x = a, *y = b;

	if (x->seg != y->seg)
		return x->seg < y->seg ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

lk_status lk_iter_open(lk_iter **out, lk_db *db, uint32_t ns,
		       const void *prefix, size_t prefix_len)
{
	struct lk_iter *it;
	lk_status st;

	if (!out)
		return err_set(LK_INVALID, "lk_iter_open: NULL out-pointer");
	*out = NULL;
	st = check_db(db);
	if (st != LK_OK)
		return st;
	if (ns == 0 || ns > LK_NS_COUNT_MAX)
		return err_set(LK_INVALID, "namespace %u out of range", ns);
	if (prefix_len && !prefix)
		return err_set(LK_INVALID, "NULL prefix with a length");
	if (prefix_len > LK_KEY_BYTES_MAX)
		return err_set(LK_TOO_BIG, "prefix longer than any key");
	it = mem_calloc(1, sizeof *it);
	if (!it)
		return err_set(LK_NOMEM, "allocating an iterator");
	it->magic = ITER_MAGIC;
	it->db = db;
	it->prefix_len = prefix_len;
	if (prefix_len) {
		it->prefix = mem_alloc(prefix_len);
		if (!it->prefix)
			goto nomem;
		memcpy(it->prefix, prefix, prefix_len);
	}
	it->pins = mem_calloc(IX_SEG_SLOTS, sizeof *it->pins);
	if (!it->pins)
		goto nomem;
	pthread_rwlock_rdlock(&db->ix_lock);
	it->cap = (size_t)index_count(db->ix, (uint8_t)ns);
	it->locs = mem_alloc((it->cap ? it->cap : 1) * sizeof *it->locs);
	if (it->locs) {
		index_foreach(db->ix, (int)ns, collect, it);
		/* The iterator reads as of now, from these segments, even
		 * if compaction replaces them meanwhile. */
		for (uint32_t i = 1; i < IX_SEG_SLOTS; i++) {
			it->pins[i] = db->segs[i];
			if (it->pins[i])
				db_seg_pin(it->pins[i]);
		}
	}
	pthread_rwlock_unlock(&db->ix_lock);
	if (!it->locs)
		goto nomem;
	/* Log order reads the segments sequentially. */
	qsort(it->locs, it->n, sizeof *it->locs, loc_cmp);
	*out = it;
	return LK_OK;

nomem:
	lk_iter_close(it);
	return err_set(LK_NOMEM, "allocating an iterator over %zu keys",
		       it ? it->cap : 0);
}

lk_status lk_iter_next(lk_iter *it, const void **key, size_t *key_len,
		       const void **value, size_t *value_len,
		       uint64_t *expire_at_ms)
{
	if (!it || it->magic != ITER_MAGIC)
		return err_set(LK_MISUSE, "not an iterator (closed?)");
	if (check_db(it->db) != LK_OK)
		return LK_MISUSE;
	mem_free(it->buf);
	mem_free(it->value);
	it->buf = it->value = NULL;
	while (it->next < it->n) {
		struct ix_loc loc = it->locs[it->next++];
		struct record rec;
		lk_status st;

		st = db_read_at(it->db, it->pins[loc.seg], loc, &rec, &it->buf);
		if (st != LK_OK)
			return st;
		if (expired(it->db, &rec) || rec.key_len < it->prefix_len ||
		    (it->prefix_len &&
		     memcmp(rec.key, it->prefix, it->prefix_len) != 0)) {
			mem_free(it->buf);
			it->buf = NULL;
			continue;
		}
		if (key)
			*key = rec.key;
		if (key_len)
			*key_len = rec.key_len;
		if (expire_at_ms)
			*expire_at_ms = rec.expire_at_ms;
		if (rec.flags & REC_F_ZSTD) {
			size_t n;

			st = compressor_unpack(it->db->cmp, rec.value,
					       rec.value_len, &it->value, &n);
			if (st != LK_OK)
				return st;
			if (value)
				*value = it->value;
			if (value_len)
				*value_len = n;
		} else {
			if (value)
				*value = rec.value;
			if (value_len)
				*value_len = rec.value_len;
		}
		return LK_OK;
	}
	return LK_NOT_FOUND;
}

void lk_iter_close(lk_iter *it)
{
	if (!it || it->magic != ITER_MAGIC)
		return;
	it->magic = 0;
	for (uint32_t i = 1; it->pins && i < IX_SEG_SLOTS; i++)
		if (it->pins[i])
			db_seg_unpin(it->db, it->pins[i]);
	mem_free(it->pins);
	mem_free(it->locs);
	mem_free(it->prefix);
	mem_free(it->buf);
	mem_free(it->value);
	mem_free(it);
}

/* ---------------------------------------------------------------------- */
/* Writes                                                                 */
/* ---------------------------------------------------------------------- */

static lk_status write_one(lk_db *db, uint8_t type, uint32_t ns,
			   const void *key, size_t key_len, const void *value,
			   size_t value_len, uint64_t expire_at_ms)
{
	lk_batch *b;
	lk_status st = check_db(db);

	if (st != LK_OK)
		return st;
	st = db_check_key(ns, key, key_len);
	if (st != LK_OK)
		return st;
	st = lk_batch_new(&b);
	if (st != LK_OK)
		return st;
	st = batch_add(b, type, ns, key, key_len, value, value_len,
		       expire_at_ms);
	if (st == LK_OK)
		st = commit_batch(db, b);
	lk_batch_free(b);
	return st;
}

lk_status lk_put(lk_db *db, uint32_t ns, const void *key, size_t key_len,
		 const void *value, size_t value_len, uint64_t expire_at_ms)
{
	return write_one(db, REC_PUT, ns, key, key_len, value, value_len,
			 expire_at_ms);
}

lk_status lk_del(lk_db *db, uint32_t ns, const void *key, size_t key_len)
{
	return write_one(db, REC_DEL, ns, key, key_len, NULL, 0, 0);
}

lk_status lk_commit(lk_db *db, lk_batch *batch)
{
	lk_status st = check_db(db);

	return st != LK_OK ? st : commit_batch(db, batch);
}

lk_status lk_sync(lk_db *db)
{
	lk_status st = check_db(db);

	return st != LK_OK ? st : commit_sync(db);
}

lk_status lk_scrub(lk_db *db, lk_problem_fn fn, void *arg)
{
	lk_status st = check_db(db);

	return st != LK_OK ? st : scrub_run(db, fn, arg);
}

/* ---------------------------------------------------------------------- */
/* Stats and verification                                                 */
/* ---------------------------------------------------------------------- */

lk_status lk_stats_get(lk_stats *stats, lk_db *db)
{
	lk_status st = check_db(db);

	if (st != LK_OK)
		return st;
	if (!stats)
		return err_set(LK_INVALID, "lk_stats_get: NULL stats");
	memset(stats, 0, sizeof *stats);
	stats->version = LK_STATS_VERSION;
	pthread_mutex_lock(&db->log_mu);
	pthread_rwlock_rdlock(&db->ix_lock);
	for (uint32_t i = 1; i < IX_SEG_SLOTS; i++) {
		const struct segment *s = db->segs[i];

		if (!s || s->installing)
			continue;
		stats->segment_count++;
		stats->disk_bytes += s->file_size;
		stats->live_bytes += s->live_bytes;
		stats->dead_bytes += s->data_end - SEG_HEADER_BYTES - s->live_bytes;
	}
	/* the namespace catalog's entries are the engine's, not the user's */
	stats->live_keys = index_keys(db->ix) - index_count(db->ix, 0);
	stats->index_bytes = index_bytes(db->ix);
	stats->index_slots = index_slots(db->ix);
	pthread_rwlock_unlock(&db->ix_lock);
	pthread_mutex_unlock(&db->log_mu);
	stats->seq_last = atomic_load(&db->seq_last);
	stats->commits = atomic_load(&db->commits);
	stats->sync_calls = atomic_load(&db->sync_calls);
	stats->write_groups = atomic_load(&db->write_groups);
	stats->log_bytes_written = atomic_load(&db->log_bytes_written);
	stats->compactions = atomic_load(&db->compactions);
	stats->compact_bytes_read = atomic_load(&db->compact_bytes_read);
	stats->compact_bytes_written = atomic_load(&db->compact_bytes_written);
	stats->compact_segments_removed =
		atomic_load(&db->compact_segments_removed);
	stats->compact_records_dropped =
		atomic_load(&db->compact_records_dropped);
	stats->compact_us = atomic_load(&db->compact_us);
	stats->compact_stall_max_us = atomic_load(&db->compact_stall_max_us);
	stats->compact_failures = atomic_load(&db->compact_failures);
	{
		uint64_t made = atomic_load(&db->snap_created_ms);
		uint64_t now = db->io->now_ms(db->io->ctx);

		stats->snapshot_serial = atomic_load(&db->snap_serial);
		stats->snapshot_age_ms = made && now > made ? now - made : 0;
	}
	stats->snapshot_behind_bytes = snapshot_behind(db);
	stats->snapshots_written = atomic_load(&db->snapshots_written);
	stats->snapshot_bytes_written =
		atomic_load(&db->snapshot_bytes_written);
	stats->snapshot_failures = atomic_load(&db->snapshot_failures);
	stats->scrub_segments = atomic_load(&db->scrub_segments);
	stats->scrub_bytes = atomic_load(&db->scrub_bytes);
	stats->scrub_damage = atomic_load(&db->scrub_damage);
	return LK_OK;
}

static int info_cmp(const void *a, const void *b)
{
	const lk_segment_info *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

lk_status lk_segments(lk_segment_info *out, size_t cap, size_t *count,
		      lk_db *db)
{
	lk_segment_info *all;
	lk_status st = check_db(db);
	size_t n = 0;

	if (st != LK_OK)
		return st;
	if (!count || (cap && !out))
		return err_set(LK_INVALID, "lk_segments: NULL argument");
	all = mem_alloc(LK_SEGMENT_COUNT_MAX * sizeof *all);
	if (!all)
		return err_set(LK_NOMEM, "listing segments");
	pthread_mutex_lock(&db->log_mu);
	pthread_rwlock_rdlock(&db->ix_lock);
	for (uint32_t i = 1; i < IX_SEG_SLOTS && n < LK_SEGMENT_COUNT_MAX;
	     i++) {
		const struct segment *s = db->segs[i];

		if (!s || s->installing)
			continue;
		all[n].seq = s->hdr.seq;
		all[n].generation = s->hdr.generation;
		all[n].sealed = s->sealed;
		all[n].disk_bytes = s->file_size;
		all[n].live_bytes = s->live_bytes;
		all[n].dead_bytes = s->data_end - SEG_HEADER_BYTES - s->live_bytes;
		n++;
	}
	pthread_rwlock_unlock(&db->ix_lock);
	pthread_mutex_unlock(&db->log_mu);
	qsort(all, n, sizeof *all, info_cmp);
	if (cap)
		memcpy(out, all, (n < cap ? n : cap) * sizeof *all);
	mem_free(all);
	*count = n;
	return LK_OK;
}

lk_status lk_ns_keys(uint64_t *keys, lk_db *db, uint32_t ns)
{
	lk_status st = check_db(db);

	if (st != LK_OK)
		return st;
	if (!keys)
		return err_set(LK_INVALID, "lk_ns_keys: NULL keys");
	if (ns == 0 || ns > LK_NS_COUNT_MAX)
		return err_set(LK_INVALID, "namespace %u out of range", ns);
	pthread_rwlock_rdlock(&db->ix_lock);
	*keys = index_count(db->ix, (uint8_t)ns);
	pthread_rwlock_unlock(&db->ix_lock);
	return LK_OK;
}

/* The report says what a read-only open would do, and the snapshot is
 * part of that: a read-only open judges it with every check it has.  A
 * snapshot it uses is then compared with a replay of the whole log, which
 * catches one forged with consistent hashes: a problem, LK_CORRUPT. */
static lk_status check_snapshot(lk_recovery_report *report, const char *path,
				const lk_io *io, lk_problem_fn fn, void *arg)
{
	lk_options o = LK_OPTIONS_INIT;
	lk_db *db = NULL, *full = NULL;
	char why[LK_NOTE_BYTES], name[SNAP_NAME_BYTES];
	lk_status st;

	o.flags = LK_OPEN_READONLY;
	o.io = io;
	st = lk_open(&db, path, &o);
	if (st != LK_OK) {
		snprintf(report->snapshot_note, sizeof report->snapshot_note,
			 "not checked: a read-only open failed (%.100s)",
			 lk_errmsg());
		return LK_OK;
	}
	report->snapshot_used = db->report.snapshot_used;
	memcpy(report->snapshot_note, db->report.snapshot_note,
	       sizeof report->snapshot_note);
	if (db->report.snapshot_used)
		st = open_db(&full, path, &o, 1);
	if (st == LK_OK && full)
		st = snapshot_matches_replay(db, full, why, sizeof why);
	if (st == LK_CORRUPT) {
		lk_problem p = { LK_PROBLEM_CORRUPT, 0, 0, name, why };

		snprintf(name, sizeof name, "%016" PRIx64 ".snap",
			 atomic_load(&db->snap_serial));
		fn(arg, &p);
		snprintf(report->snapshot_note, sizeof report->snapshot_note,
			 "snapshot %.21s does not match the log: %.80s", name,
			 why);
		st = err_set(LK_CORRUPT, "snapshot %s does not match the log: "
				         "%s", name, why);
	} else if (st != LK_OK) {
		snprintf(report->snapshot_note, sizeof report->snapshot_note,
			 "not compared with the log (%.100s)", lk_errmsg());
		st = LK_OK;
	}
	(void)lk_close(full); /* read-only: nothing to fail */
	(void)lk_close(db);
	return st;
}

lk_status lk_verify(lk_recovery_report *report, const char *path,
		    const lk_options *opts, lk_problem_fn fn, void *arg)
{
	struct io_check check;
	const lk_io *io;
	lk_io_dir *dir;
	lk_status st;

	if (!report || !path || !fn)
		return err_set(LK_INVALID, "lk_verify: NULL argument");
	io = io_check_install(&check, opts && opts->io ? opts->io
						       : lk_io_posix());
	if (!io)
		return LK_INVALID;
	st = io->dir_open(io->ctx, path, 0, &dir);
	if (st != LK_OK) {
		err_prefix("opening data directory %s", path);
		return st;
	}
	st = recovery_verify(report, io, dir, fn, arg);
	/* Without a snapshot, an open would replay the log just checked. */
	if (st == LK_OK && snapshot_exists(io, dir))
		st = check_snapshot(report, path, check.inner, fn, arg);
	else if (st == LK_OK)
		snprintf(report->snapshot_note, sizeof report->snapshot_note,
			 SNAP_NOTE_NONE);
	io->dir_close(io->ctx, dir);
	return st;
}
