/* SPDX-License-Identifier: MIT */
/*
 * cli_import.c - import-sqlite: moves a predecessor's mesh_data.db (SQLite,
 * its schema in shared/seeds/000) into a logkeep data directory through
 * the mesh layer (logkeep_mesh.h).  The one file of the tool that includes
 * sqlite3.h; in a build without SQLite (meson option sqlite_import) the
 * command is there, prints its manual, and says what it lacks.
 *
 * What becomes what
 * -----------------
 *   nodes(node_id, interfaces, protocols, started, routes_discovered)
 *       -> lk_mesh_node_create; interfaces and protocols are JSON lists of
 *          strings, started 0 or 1, and NULL in the last two is their
 *          column default, 0.  A node DIR holds with other values gets
 *          lk_mesh_node_update of every field.
 *   policies(policy_id, yaml_content)
 *       -> lk_mesh_policy_check (a rejected document is reported with its
 *          line and column), then lk_mesh_policy_put.  rules_count is
 *          derived from the document again, never copied (SPEC §3).
 *   path_cache(source, destination, k, bundle_json, expires_at)
 *       -> lk_mesh_cache_set with the seconds left until expires_at
 *          (seconds since the epoch, rounded up); a row whose expires_at
 *          has passed is skipped and counted, whatever its other columns.
 *   created_at and updated_at are not carried over: the mesh layer sets
 *   them to the time of the import.
 *
 * Resumable, not atomic
 * ---------------------
 * Each row is one atomic write of the mesh layer, and writing a row again
 * gives the same state: a node or policy that DIR already holds as DB has
 * it is not written at all, a cache entry is set again to the same bundle
 * and expiry.  So an import cut short (a crash, a power cut, a full disk,
 * ^C) is finished by running it again, and two runs end as one does.  One
 * atomic step for the whole database does not fit the mesh layer: a
 * transaction is one batch, at most LK_BATCH_CONDS_MAX (1,000) conditions
 * - one per node created - and LK_BATCH_BYTES_MAX (16 MiB, 64 policies at
 * their largest), and the path cache has no transaction step.  Since a
 * rerun repairs anything, DIR is opened with LK_SYNC_NONE and synced once,
 * when it is closed: a power cut before that leaves the state after some
 * prefix of the rows (logkeep.h, "Durability"), which the rerun completes.
 *
 * Bounds and hostile files
 * ------------------------
 * DB is opened with SQLITE_OPEN_READONLY, after checking that it is a
 * regular file (SQLite would wait forever opening a FIFO), and read in
 * one read transaction, so the
 * three tables are one state even while the predecessor's daemon writes.
 * The schema check (sqlite_master, PRAGMA table_info) names every missing
 * table and column before DIR is touched.  SQLITE_LIMIT_LENGTH is set to
 * the largest value the mesh layer stores, so SQLite refuses a longer one
 * as it reads the row (SQLITE_TOOBIG) before allocating it; that row is
 * reported and the scan resumes after its rowid.  Every column is checked
 * for NULL, its type, its length, NUL bytes and UTF-8 before the mesh
 * layer sees it, which checks its own limits again.  A rejected row is a
 * line on stderr naming table and rowid (and in --json's "rejected"); the
 * import goes on, and ends with exit status 3.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_format.h"
#include "cli_out.h"
#include "logkeep_mesh.h"

#if LK_HAVE_SQLITE
#include <sqlite3.h>
#endif

/* ---------------------------------------------------------------------- */
/* Limits                                                                 */
/* ---------------------------------------------------------------------- */

/* The largest value read from DB: the largest the mesh layer stores (a
 * policy document, a path-cache bundle).  SQLite refuses a longer value
 * itself (SQLITE_LIMIT_LENGTH), so no row makes the tool allocate more. */
#define IMPORT_VALUE_BYTES_MAX                                                \
	(LK_MESH_POLICY_BYTES_MAX > LK_MESH_BUNDLE_BYTES_MAX                   \
		 ? LK_MESH_POLICY_BYTES_MAX                                    \
		 : LK_MESH_BUNDLE_BYTES_MAX)

/* A node's interfaces or protocols: a JSON list of LK_MESH_LIST_MAX names
 * of LK_MESH_NAME_BYTES_MAX bytes, each byte written as a \uXXXX escape
 * (6 bytes, the most JSON takes for one), with quotes, comma and space.
 * A longer text (whitespace aside) holds more than the mesh layer takes. */
#define IMPORT_LIST_BYTES_MAX                                                 \
	(LK_MESH_LIST_MAX * (6u * LK_MESH_NAME_BYTES_MAX + 4u) + 2u)

/* What a message shows of a rejected row's id: enough to find the row
 * (its rowid is given too), not a screenful of a 256 KiB one. */
#define IMPORT_ID_SHOWN_BYTES_MAX 64u

/* How long a read of DB waits for a writer's lock (a daemon still running
 * in rollback-journal mode; in WAL mode a reader never waits): a write
 * transaction takes milliseconds, a checkpoint a little longer. */
#define IMPORT_BUSY_TIMEOUT_MS 5000

#if !LK_HAVE_SQLITE

int cmd_import_sqlite(const char *cmd, int argc, char **argv)
{
	int json = 0, first;
	const struct cli_common_opts o = { &json, NULL, NULL };
	int rc = cli_parse_args(cmd, argc, argv, &o, 2, "DB DIR", &first);

	if (rc != CLI_OK)
		return rc;
	cli_msg(cmd, "this logkeep was built without SQLite support "
		"(libsqlite3 was not found, or the sqlite_import option "
		"disabled it)");
	return CLI_ERROR;
}

#else /* LK_HAVE_SQLITE */

_Static_assert(IMPORT_VALUE_BYTES_MAX < INT32_MAX,
	       "sqlite3_limit takes an int");

/* ---------------------------------------------------------------------- */
/* The tables                                                             */
/* ---------------------------------------------------------------------- */

enum { T_NODES, T_POLICIES, T_CACHE, T_COUNT };

/* A table's counts.  imported: rows DIR now holds as DB has them, written
 * by this run or already there (unchanged: those, not written again);
 * skipped: expired path-cache rows; failed: rejected rows. */
struct tally {
	uint64_t imported, unchanged, skipped, failed;
};

struct import {
	const char *cmd;
	const char *db_path;
	sqlite3 *sdb;
	lk_db *db;
	lk_mesh *mesh;
	struct out *json;           /* --json: the object being written */
	struct tally tally[T_COUNT];
	int rc;                     /* the exit status of a fatal failure */
	/* the decoded interfaces and protocols of the node being imported */
	char lists[2][IMPORT_LIST_BYTES_MAX + 1];
};

/* The row being imported. */
struct row {
	struct import *im;
	int table;
	sqlite3_stmt *st;
	int64_t rowid;
	const char *id;             /* its first column, when text */
	size_t id_len;
};

/* What importing a row, or checking one of its columns, came to. */
enum row_result {
	ROW_OK = 0,      /* a check passed: go on */
	ROW_IMPORTED,    /* written to DIR */
	ROW_UNCHANGED,   /* DIR holds it as DB does: not written again */
	ROW_SKIPPED,     /* an expired path-cache entry */
	ROW_REJECTED,    /* reported; the import goes on */
	ROW_FATAL,       /* reported; the import stops with im->rc */
};

static enum row_result import_node(struct row *r);
static enum row_result import_policy(struct row *r);
static enum row_result import_cache(struct row *r);

struct table {
	const char *name;
	const char *columns[5]; /* read in this order, after the rowid */
	size_t column_count;
	enum row_result (*import_row)(struct row *r);
};

/* The columns the import reads; a table may hold more (the schema of
 * seeds/000 has cache_key, created_at, rules_count, ...). */
static const struct table tables[T_COUNT] = {
	{ "nodes",
	  { "node_id", "interfaces", "protocols", "started",
	    "routes_discovered" },
	  5, import_node },
	{ "policies", { "policy_id", "yaml_content" }, 2, import_policy },
	{ "path_cache",
	  { "source", "destination", "k", "bundle_json", "expires_at" },
	  5, import_cache },
};

/* ---------------------------------------------------------------------- */
/* Reporting                                                              */
/* ---------------------------------------------------------------------- */

/* How many bytes of an id a message shows: all, or the first
 * IMPORT_ID_SHOWN_BYTES_MAX without cutting a UTF-8 sequence. */
static size_t id_shown_len(const char *id, size_t len)
{
	size_t n = IMPORT_ID_SHOWN_BYTES_MAX;

	if (len <= n)
		return len;
	while (n > 0 && ((unsigned char)id[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* Reports row r as rejected: on stderr as
 *   logkeep: import-sqlite: nodes rowid 7 (node_id "x"): <why>
 * with the id and the reason escaped like scan output (they hold bytes
 * of DB), and in --json's "rejected" list; yerr, when not NULL, is where
 * a policy document failed.  Returns ROW_REJECTED. */
static enum row_result reject(struct row *r, const lk_mesh_yaml_error *yerr,
			      const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum row_result reject(struct row *r, const lk_mesh_yaml_error *yerr,
			      const char *fmt, ...)
{
	const struct table *t = &tables[r->table];
	char why[400], id[IMPORT_ID_SHOWN_BYTES_MAX + 4];
	size_t id_len = r->id ? id_shown_len(r->id, r->id_len) : 0;
	va_list ap;

	assert(r->id != NULL || r->id_len == 0);
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	memcpy(id, r->id ? r->id : "", id_len);
	if (id_len < r->id_len) {
		memcpy(id + id_len, "...", 3);
		id_len += 3;
	}
	id[id_len] = '\0';
	cli_progress_clear();
	fprintf(stderr, "logkeep: %s: %s rowid %" PRId64, r->im->cmd, t->name,
		r->rowid);
	if (r->id) {
		fprintf(stderr, " (%s \"", t->columns[0]);
		text_put_escaped(stderr, id, id_len);
		fputs("\")", stderr);
	}
	fputs(": ", stderr);
	text_put_escaped(stderr, why, strlen(why));
	fputc('\n', stderr);
	if (r->im->json) {
		struct out *o = r->im->json;

		out_map_begin(o);
		out_kv_str(o, "table", t->name);
		out_kv_i64(o, "rowid", r->rowid);
		if (r->id)
			out_kv_str(o, "id", id);
		out_kv_str(o, "problem", why);
		if (yerr) {
			out_kv_u64(o, "line", yerr->line);
			out_kv_u64(o, "column", yerr->column);
		}
		out_map_end(o);
	}
	return ROW_REJECTED;
}

/* A failure of DIR (not of the row): reported, and the import stops. */
static enum row_result fatal(struct row *r, lk_status st)
{
	char where[96];

	snprintf(where, sizeof where, "%s rowid %" PRId64 ": ",
		 tables[r->table].name, r->rowid);
	r->im->rc = cli_fail_at(r->im->cmd, where, st);
	return ROW_FATAL;
}

/* What a mesh layer's status means for the row: LK_INVALID and LK_TOO_BIG
 * are the row's values (lk_errmsg says which), anything else is DIR's. */
static enum row_result written(struct row *r, lk_status st)
{
	if (st == LK_OK)
		return ROW_IMPORTED;
	if (st == LK_INVALID || st == LK_TOO_BIG)
		return reject(r, NULL, "%s", lk_errmsg());
	return fatal(r, st);
}

/* A failure of SQLite on DB, with the exit status it means. */
static int sql_fail(struct import *im, int code, const char *what)
{
	int rc;

	switch (code & 0xff) {
	case SQLITE_NOTADB:
	case SQLITE_ERROR: /* a statement the schema does not fit */
		rc = CLI_USAGE;
		break;
	case SQLITE_CORRUPT:
		rc = CLI_CORRUPT;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		rc = CLI_BUSY;
		break;
	default: /* SQLITE_IOERR, SQLITE_NOMEM, SQLITE_CANTOPEN, ... */
		rc = CLI_ERROR;
		break;
	}
	cli_msg(im->cmd, "%s: %s: %s", im->db_path, what,
		(code & 0xff) == SQLITE_NOTADB ? "not a SQLite database"
					       : sqlite3_errmsg(im->sdb));
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Columns                                                                */
/* ---------------------------------------------------------------------- */

static const char *type_name(int type)
{
	switch (type) {
	case SQLITE_INTEGER:
		return "an integer";
	case SQLITE_FLOAT:
		return "a real";
	case SQLITE_TEXT:
		return "text";
	case SQLITE_BLOB:
		return "a blob";
	}
	return "NULL";
}

struct text {
	const char *p; /* NUL-terminated, no NUL inside */
	size_t len;
};

/* Column col (1: the first after the rowid) as UTF-8 text of at most max
 * bytes without a NUL byte (the mesh layer takes C strings). */
static enum row_result text_col(struct row *r, int col, size_t max,
				struct text *t)
{
	const char *name = tables[r->table].columns[col - 1];
	int type = sqlite3_column_type(r->st, col);
	const char *nul;
	size_t bad;

	assert(col >= 1 && (size_t)col <= tables[r->table].column_count);
	if (type != SQLITE_TEXT)
		return reject(r, NULL, "%s is %s, not text", name,
			      type_name(type));
	t->p = (const char *)sqlite3_column_text(r->st, col);
	if (!t->p) {
		r->im->rc = sql_fail(r->im, SQLITE_NOMEM, "reading a row");
		return ROW_FATAL;
	}
	t->len = (size_t)sqlite3_column_bytes(r->st, col);
	if (t->len > max)
		return reject(r, NULL, "%s is %zu bytes, at most %zu", name,
			      t->len, max);
	nul = memchr(t->p, '\0', t->len);
	if (nul)
		return reject(r, NULL, "%s holds a NUL byte (byte %zu)", name,
			      (size_t)(nul - t->p));
	bad = utf8_first_invalid(t->p, t->len);
	if (bad < t->len)
		return reject(r, NULL, "%s is not UTF-8 (byte %zu)", name, bad);
	return ROW_OK;
}

/* Column col as an integer in [min, max]; NULL is 0 when null_is_zero
 * (the column's default in seeds/000: started, routes_discovered). */
static enum row_result int_col(struct row *r, int col, int null_is_zero,
			       int64_t min, int64_t max, int64_t *v)
{
	const char *name = tables[r->table].columns[col - 1];
	int type = sqlite3_column_type(r->st, col);

	assert(col >= 1 && (size_t)col <= tables[r->table].column_count);
	assert(min <= max);
	*v = 0;
	if (type == SQLITE_NULL && null_is_zero)
		return ROW_OK;
	if (type != SQLITE_INTEGER)
		return reject(r, NULL, "%s is %s, not an integer", name,
			      type_name(type));
	*v = sqlite3_column_int64(r->st, col);
	if (*v < min || *v > max)
		return reject(r, NULL, "%s is %" PRId64 ", not %" PRId64
			      " to %" PRId64, name, *v, min, max);
	return ROW_OK;
}

/* Column col, a JSON list of names, decoded into the import's list
 * buffer `which`. */
static enum row_result list_col(struct row *r, int col, int which,
				const char **items, size_t *count)
{
	const char *name = tables[r->table].columns[col - 1];
	struct text t;
	const char *why;
	size_t at;
	enum row_result res = text_col(r, col, IMPORT_LIST_BYTES_MAX, &t);

	if (res != ROW_OK)
		return res;
	why = json_string_array(t.p, t.len, r->im->lists[which], items,
				LK_MESH_LIST_MAX, count, &at);
	if (why)
		return reject(r, NULL, "%s is not a JSON list of at most %u "
			      "strings: %s (byte %zu)", name, LK_MESH_LIST_MAX,
			      why, at);
	return ROW_OK;
}

/* ---------------------------------------------------------------------- */
/* Rows                                                                   */
/* ---------------------------------------------------------------------- */

static int same_list(const char *const *a, size_t na, const char *const *b,
		     size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

static int same_node(const lk_mesh_node *a, const lk_mesh_node *b)
{
	return same_list(a->interfaces, a->interface_count, b->interfaces,
			 b->interface_count) &&
	       same_list(a->protocols, a->protocol_count, b->protocols,
			 b->protocol_count) &&
	       (a->started != 0) == (b->started != 0) &&
	       a->routes_discovered == b->routes_discovered;
}

static enum row_result import_node(struct row *r)
{
	const char *ifs[LK_MESH_LIST_MAX], *protos[LK_MESH_LIST_MAX];
	lk_mesh_node n = { 0 }, *old;
	struct text id;
	int64_t started, routes;
	lk_status st;
	enum row_result res = text_col(r, 1, LK_MESH_ID_BYTES_MAX, &id);

	if (res == ROW_OK)
		res = list_col(r, 2, 0, ifs, &n.interface_count);
	if (res == ROW_OK)
		res = list_col(r, 3, 1, protos, &n.protocol_count);
	if (res == ROW_OK)
		res = int_col(r, 4, 1, 0, 1, &started);
	if (res == ROW_OK)
		res = int_col(r, 5, 1, 0, INT64_MAX, &routes);
	if (res != ROW_OK)
		return res;
	n.id = id.p;
	n.interfaces = ifs;
	n.protocols = protos;
	n.started = (int)started;
	n.routes_discovered = (uint64_t)routes;
	st = lk_mesh_node_get(&old, r->im->mesh, n.id);
	if (st == LK_NOT_FOUND)
		return written(r, lk_mesh_node_create(r->im->mesh, &n));
	if (st != LK_OK)
		return written(r, st);
	res = same_node(old, &n) ? ROW_UNCHANGED : ROW_OK;
	lk_free(old);
	if (res == ROW_UNCHANGED)
		return res;
	return written(r, lk_mesh_node_update(
				  r->im->mesh, n.id, &n,
				  LK_MESH_NODE_INTERFACES |
					  LK_MESH_NODE_PROTOCOLS |
					  LK_MESH_NODE_STARTED |
					  LK_MESH_NODE_ROUTES));
}

static enum row_result import_policy(struct row *r)
{
	struct text id, yaml;
	lk_mesh_yaml_error err;
	lk_mesh_policy *old;
	uint32_t rules;
	lk_status st;
	enum row_result res = text_col(r, 1, LK_MESH_ID_BYTES_MAX, &id);

	if (res == ROW_OK)
		res = text_col(r, 2, LK_MESH_POLICY_BYTES_MAX, &yaml);
	if (res != ROW_OK)
		return res;
	/* lk_mesh_policy_put checks the document too, but only this call
	 * hands back the line and column, for --json */
	st = lk_mesh_policy_check(&rules, yaml.p, yaml.len, &err);
	if (st == LK_INVALID && err.line)
		return reject(r, &err, "yaml_content:%u:%u: %s", err.line,
			      err.column, err.problem);
	if (st != LK_OK)
		return written(r, st);
	st = lk_mesh_policy_get(&old, r->im->mesh, id.p);
	if (st == LK_OK) {
		int same = old->yaml_len == yaml.len &&
			   memcmp(old->yaml, yaml.p, yaml.len) == 0;

		lk_free(old);
		if (same)
			return ROW_UNCHANGED;
	} else if (st != LK_NOT_FOUND) {
		return written(r, st);
	}
	return written(r, lk_mesh_policy_put(r->im->mesh, id.p, yaml.p,
					     yaml.len));
}

static enum row_result import_cache(struct row *r)
{
	struct text src, dst, bundle;
	int64_t k;
	double expires_s, left_ms;
	uint64_t ms;
	uint32_t ttl_s;
	int type = sqlite3_column_type(r->st, 5);
	enum row_result res;

	if (type != SQLITE_FLOAT && type != SQLITE_INTEGER)
		return reject(r, NULL, "expires_at is %s, not a time",
			      type_name(type));
	expires_s = sqlite3_column_double(r->st, 5);
	left_ms = expires_s * 1000.0 - (double)lk_now_ms(r->im->db);
	if (!(left_ms > 0.0))
		return ROW_SKIPPED;
	res = text_col(r, 1, LK_MESH_ID_BYTES_MAX, &src);
	if (res == ROW_OK)
		res = text_col(r, 2, LK_MESH_ID_BYTES_MAX, &dst);
	if (res == ROW_OK)
		res = int_col(r, 3, 0, 0, UINT32_MAX, &k);
	if (res == ROW_OK)
		res = text_col(r, 4, LK_MESH_BUNDLE_BYTES_MAX, &bundle);
	if (res != ROW_OK)
		return res;
	/* the seconds left, rounded up (at least 1: 0 means the default) */
	if (left_ms >= (double)UINT32_MAX * 1000.0) {
		ttl_s = UINT32_MAX;
	} else {
		ms = (uint64_t)left_ms;
		ms += (double)ms < left_ms;
		ttl_s = (uint32_t)((ms + 999u) / 1000u);
	}
	return written(r, lk_mesh_cache_set(r->im->mesh, src.p, dst.p,
					    (uint32_t)k, bundle.p, bundle.len,
					    ttl_s));
}

/* ---------------------------------------------------------------------- */
/* Tables                                                                 */
/* ---------------------------------------------------------------------- */

/* The rowid of the first row of table t from `from` on, in *rowid; 0 if
 * there is none, 1 if there is, or an SQLite error code (negated). */
static int next_rowid(struct import *im, int t, int64_t from, int64_t *rowid)
{
	char sql[128];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof sql,
		 "SELECT rowid FROM \"%s\" WHERE rowid >= ?1 ORDER BY rowid "
		 "LIMIT 1",
		 tables[t].name);
	rc = sqlite3_prepare_v2(im->sdb, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return -rc;
	sqlite3_bind_int64(st, 1, from);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*rowid = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -rc;
}

/* Counts what importing a row came to. */
static void count(struct tally *ty, enum row_result res)
{
	ty->imported += res == ROW_IMPORTED || res == ROW_UNCHANGED;
	ty->unchanged += res == ROW_UNCHANGED;
	ty->skipped += res == ROW_SKIPPED;
	ty->failed += res == ROW_REJECTED;
}

/* Imports every row of table t, in rowid order.  A row SQLite refuses to
 * read (a value past SQLITE_LIMIT_LENGTH) is rejected and the scan starts
 * again after it.  Returns CLI_OK or the exit status of a fatal
 * failure. */
static int import_table(struct import *im, int t)
{
	const struct table *tb = &tables[t];
	struct row r = { im, t, NULL, 0, NULL, 0 };
	int64_t from = INT64_MIN; /* the scan goes on from this rowid */
	char sql[256];
	size_t at;
	int rc, exit_rc = CLI_OK;

	assert(t >= 0 && t < T_COUNT);
	at = (size_t)snprintf(sql, sizeof sql, "SELECT rowid");
	for (size_t c = 0; c < tb->column_count; c++)
		at += (size_t)snprintf(sql + at, sizeof sql - at, ", \"%s\"",
				       tb->columns[c]);
	at += (size_t)snprintf(sql + at, sizeof sql - at,
			       " FROM \"%s\" WHERE rowid >= ?1 ORDER BY rowid",
			       tb->name);
	assert(at < sizeof sql);
	rc = sqlite3_prepare_v2(im->sdb, sql, -1, &r.st, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(im, rc, tb->name);
	sqlite3_bind_int64(r.st, 1, from);
	while ((rc = sqlite3_step(r.st)) != SQLITE_DONE) {
		int restart = 0;

		if (rc == SQLITE_ROW) {
			enum row_result res;

			r.rowid = sqlite3_column_int64(r.st, 0);
			r.id = NULL;
			r.id_len = 0;
			if (sqlite3_column_type(r.st, 1) == SQLITE_TEXT) {
				r.id = (const char *)sqlite3_column_text(r.st,
									 1);
				r.id_len = (size_t)sqlite3_column_bytes(r.st, 1);
			}
			res = tb->import_row(&r);
			if (res == ROW_FATAL) {
				exit_rc = im->rc;
				break;
			}
			count(&im->tally[t], res);
		} else if (rc == SQLITE_TOOBIG) {
			/* the first row from `from` on holds a value too long:
			 * SQLite read no more of it than its header */
			rc = next_rowid(im, t, from, &r.rowid);
			if (rc != 1) {
				exit_rc = sql_fail(im, rc ? -rc : SQLITE_CORRUPT,
						   tb->name);
				break;
			}
			r.id = NULL;
			r.id_len = 0;
			count(&im->tally[t],
			      reject(&r, NULL, "a value is longer than %u bytes, "
				     "the most the mesh layer stores",
				     IMPORT_VALUE_BYTES_MAX));
			restart = 1;
		} else {
			exit_rc = sql_fail(im, rc, tb->name);
			break;
		}
		if (r.rowid == INT64_MAX)
			break;
		from = r.rowid + 1;
		if (restart) {
			sqlite3_reset(r.st);
			sqlite3_bind_int64(r.st, 1, from);
		}
	}
	sqlite3_finalize(r.st);
	return exit_rc;
}

/* ---------------------------------------------------------------------- */
/* Opening DB and checking its schema                                     */
/* ---------------------------------------------------------------------- */

/* DB must be a regular file (or a symbolic link to one): SQLite would
 * wait forever opening a FIFO, and takes a missing file for an I/O
 * error. */
static int check_db_file(const char *cmd, const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		int e = errno;

		cli_msg(cmd, "%s: %s", path, strerror(e));
		return e == ENOENT || e == ENOTDIR ? CLI_USAGE : CLI_ERROR;
	}
	if (!S_ISREG(st.st_mode)) {
		cli_msg(cmd, "%s: not a regular file", path);
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* 1 if the query's first row exists, 0 if not, or -(SQLite error). */
static int sql_exists(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -rc;
}

/* 1 if table `name` has rowids, which the import reads it by. */
static int has_rowid(struct import *im, const char *name)
{
	char sql[96];
	sqlite3_stmt *st;
	int rc;

	snprintf(sql, sizeof sql, "SELECT rowid FROM \"%s\" LIMIT 0", name);
	rc = sqlite3_prepare_v2(im->sdb, sql, -1, &st, NULL);
	sqlite3_finalize(st);
	return rc == SQLITE_OK;
}

/* Names on stderr what of table t the import reads and DB lacks, adding
 * it to *missing; returns SQLITE_OK or an SQLite error. */
static int check_table(struct import *im, sqlite3_stmt *table,
		       sqlite3_stmt *column, int t, int *missing)
{
	const struct table *tb = &tables[t];
	int found;

	sqlite3_bind_text(table, 1, tb->name, -1, SQLITE_STATIC);
	found = sql_exists(table);
	if (found == 0) {
		cli_msg(im->cmd, "%s: not a predecessor's mesh database: it "
			"has no table %s", im->db_path, tb->name);
		(*missing)++;
	}
	sqlite3_bind_text(column, 1, tb->name, -1, SQLITE_STATIC);
	for (size_t c = 0; found == 1 && c < tb->column_count; c++) {
		sqlite3_bind_text(column, 2, tb->columns[c], -1,
				  SQLITE_STATIC);
		found = sql_exists(column);
		if (found == 0) {
			cli_msg(im->cmd, "%s: not a predecessor's mesh "
				"database: table %s has no column %s",
				im->db_path, tb->name, tb->columns[c]);
			(*missing)++;
			found = 1;
		}
	}
	if (found == 1 && !has_rowid(im, tb->name)) {
		cli_msg(im->cmd, "%s: not a predecessor's mesh database: table "
			"%s has no rowid (WITHOUT ROWID)", im->db_path,
			tb->name);
		(*missing)++;
	}
	return found < 0 ? -found : SQLITE_OK;
}

/* Names every table and column the import reads that DB lacks (PRAGMA
 * table_info); returns CLI_USAGE if any, CLI_OK, or an SQLite failure's
 * exit status. */
static int check_schema(struct import *im)
{
	sqlite3_stmt *table = NULL, *column = NULL;
	int missing = 0, rc;

	rc = sqlite3_prepare_v2(im->sdb,
				"SELECT 1 FROM sqlite_master WHERE type = "
				"'table' AND name = ?1 COLLATE NOCASE",
				-1, &table, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(im->sdb,
					"SELECT 1 FROM pragma_table_info(?1) "
					"WHERE name = ?2 COLLATE NOCASE",
					-1, &column, NULL);
	for (int t = 0; rc == SQLITE_OK && t < T_COUNT; t++)
		rc = check_table(im, table, column, t, &missing);
	sqlite3_finalize(table);
	sqlite3_finalize(column);
	if (rc != SQLITE_OK)
		return sql_fail(im, rc, "reading the schema");
	return missing ? CLI_USAGE : CLI_OK;
}

/* Opens DB read-only with the length limit, starts the read transaction
 * and checks the schema. */
static int open_sqlite(struct import *im)
{
	int rc = check_db_file(im->cmd, im->db_path);

	if (rc != CLI_OK)
		return rc;
	rc = sqlite3_open_v2(im->db_path, &im->sdb, SQLITE_OPEN_READONLY,
			     NULL);
	if (rc != SQLITE_OK)
		return sql_fail(im, rc, "opening it");
	sqlite3_limit(im->sdb, SQLITE_LIMIT_LENGTH, IMPORT_VALUE_BYTES_MAX);
	sqlite3_busy_timeout(im->sdb, IMPORT_BUSY_TIMEOUT_MS);
	rc = sqlite3_exec(im->sdb, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(im, rc, "starting a read transaction");
	return check_schema(im);
}

/* ---------------------------------------------------------------------- */
/* The command                                                            */
/* ---------------------------------------------------------------------- */

static void print_tally(struct import *im, int complete)
{
	if (im->json) {
		struct out *o = im->json;

		out_seq_end(o); /* "rejected" */
		out_key(o, "tables");
		out_map_begin(o);
		for (int t = 0; t < T_COUNT; t++) {
			out_key(o, tables[t].name);
			out_map_begin(o);
			out_kv_u64(o, "imported", im->tally[t].imported);
			out_kv_u64(o, "unchanged", im->tally[t].unchanged);
			out_kv_u64(o, "skipped", im->tally[t].skipped);
			out_kv_u64(o, "failed", im->tally[t].failed);
			out_map_end(o);
		}
		out_map_end(o);
		out_kv_bool(o, "complete", complete);
		out_map_end(o);
		return;
	}
	for (int t = 0; t < T_COUNT; t++)
		printf("%s: %" PRIu64 " imported (%" PRIu64
		       " already there), %" PRIu64 " skipped (expired), %" PRIu64
		       " failed\n",
		       tables[t].name, im->tally[t].imported,
		       im->tally[t].unchanged, im->tally[t].skipped,
		       im->tally[t].failed);
	if (!complete)
		printf("import stopped early: run it again to finish it\n");
}

static int import_all(struct import *im, const char *dir)
{
	struct cli_open_params op = { 0, LK_SYNC_NONE, 0, 0, 0 };
	lk_status st;
	int rc = cli_open_db(&im->db, im->cmd, dir, &op);

	if (rc != CLI_OK)
		return rc;
	st = lk_mesh_open(&im->mesh, im->db, NULL);
	if (st != LK_OK)
		return cli_close_db(im->db, im->cmd, cli_fail(im->cmd, st));
	for (int t = 0; t < T_COUNT && rc == CLI_OK; t++)
		rc = import_table(im, t);
	st = lk_mesh_close(im->mesh);
	if (st != LK_OK && rc == CLI_OK)
		rc = cli_fail(im->cmd, st);
	/* the one sync of the import */
	return cli_close_db(im->db, im->cmd, rc);
}

int cmd_import_sqlite(const char *cmd, int argc, char **argv)
{
	int json = 0, first, rc;
	const struct cli_common_opts o = { &json, NULL, NULL };
	struct import *im;
	uint64_t failed = 0;

	rc = cli_parse_args(cmd, argc, argv, &o, 2, "DB DIR", &first);
	if (rc != CLI_OK)
		return rc;
	im = calloc(1, sizeof *im);
	if (!im)
		return cli_fail(cmd, LK_NOMEM);
	im->cmd = cmd;
	im->db_path = argv[first];
	rc = open_sqlite(im);
	if (rc == CLI_OK && json) {
		im->json = out_new(stdout, 1);
		if (!im->json)
			rc = cli_fail(cmd, LK_NOMEM);
	}
	if (rc == CLI_OK) {
		if (im->json) {
			out_map_begin(im->json);
			out_key(im->json, "rejected");
			out_seq_begin(im->json);
		}
		rc = import_all(im, argv[first + 1]);
		print_tally(im, rc == CLI_OK);
	}
	if (im->json && out_end(im->json) != 0 && rc == CLI_OK) {
		cli_msg(cmd, "writing the output failed");
		rc = CLI_ERROR;
	}
	/* read only: nothing to commit, and closing cannot lose anything */
	sqlite3_close(im->sdb);
	for (int t = 0; t < T_COUNT; t++)
		failed += im->tally[t].failed;
	free(im);
	if (rc == CLI_OK && failed)
		rc = CLI_CORRUPT;
	return rc;
}

#endif /* LK_HAVE_SQLITE */
