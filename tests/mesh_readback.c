/* SPDX-License-Identifier: MIT */
/*
 * mesh_readback.c - what the mesh layer of a data directory holds, read
 * back through logkeep_mesh.h for import_test.py (import-sqlite), which
 * compares it with the rows it put in its SQLite database.  The tool has
 * no command that reads the path cache in bulk, and one process per row
 * would be 10,000 opens of DIR.
 *
 * Usage: mesh_readback DIR < requests
 *
 * One request a line, fields separated by a TAB; one JSON line out for
 * each, in order:
 *   node ID               {"id":..,"interfaces":[..],"protocols":[..],
 *                          "started":0|1,"routes_discovered":N,
 *                          "created_at_ms":N,"updated_at_ms":N}
 *   policy ID             {"id":..,"yaml":..,"rules_count":N,
 *                          "created_at_ms":N,"updated_at_ms":N}
 *   cache SRC DST K       {"bundle":..}
 * or {"absent":true} when the mesh layer says LK_NOT_FOUND.  DIR is opened
 * read-only.  Any other status, or a malformed request, ends the run with
 * exit status 1 and the status on stderr.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_format.h"
#include "logkeep_mesh.h"

/* A request line: a kind and at most three fields, each an id or a
 * number. */
#define READBACK_LINE_BYTES_MAX (16u + 3u * (LK_MESH_ID_BYTES_MAX + 1u))

static void put_key(const char *key, const char *s, size_t n, int first)
{
	printf("%s\"%s\":", first ? "{" : ",", key);
	json_put_string(stdout, s, n);
}

static void put_list(const char *key, const char *const *v, size_t n)
{
	printf(",\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		if (i)
			putchar(',');
		json_put_string(stdout, v[i], strlen(v[i]));
	}
	putchar(']');
}

static void put_u64(const char *key, uint64_t v)
{
	printf(",\"%s\":%" PRIu64, key, v);
}

/* The times the mesh layer set, and the end of the object. */
static void put_times_end(uint64_t created_at_ms, uint64_t updated_at_ms)
{
	put_u64("created_at_ms", created_at_ms);
	put_u64("updated_at_ms", updated_at_ms);
	puts("}");
}

static lk_status node(lk_mesh *mesh, const char *id)
{
	lk_mesh_node *n;
	lk_status st = lk_mesh_node_get(&n, mesh, id);

	if (st == LK_OK) {
		put_key("id", n->id, strlen(n->id), 1);
		put_list("interfaces", n->interfaces, n->interface_count);
		put_list("protocols", n->protocols, n->protocol_count);
		put_u64("started", (uint64_t)n->started);
		put_u64("routes_discovered", n->routes_discovered);
		put_times_end(n->created_at_ms, n->updated_at_ms);
		lk_free(n);
	}
	return st;
}

static lk_status policy(lk_mesh *mesh, const char *id)
{
	lk_mesh_policy *p;
	lk_status st = lk_mesh_policy_get(&p, mesh, id);

	if (st == LK_OK) {
		put_key("id", p->id, strlen(p->id), 1);
		put_key("yaml", p->yaml, p->yaml_len, 0);
		put_u64("rules_count", p->rules_count);
		put_times_end(p->created_at_ms, p->updated_at_ms);
		lk_free(p);
	}
	return st;
}

static lk_status cache(lk_mesh *mesh, const char *src, const char *dst,
		       const char *k)
{
	char *bundle, *end;
	size_t len;
	unsigned long v = strtoul(k, &end, 10);
	lk_status st;

	if (*k == '\0' || *end != '\0' || v > UINT32_MAX)
		return LK_INVALID;
	st = lk_mesh_cache_get(&bundle, &len, mesh, src, dst, (uint32_t)v);
	if (st == LK_OK) {
		put_key("bundle", bundle, len, 1);
		puts("}");
		lk_free(bundle);
	}
	return st;
}

/* Splits line (NUL-terminated) at TABs into at most max fields. */
static int split(char *line, char **f, int max)
{
	int n = 0;

	for (char *p = line; n < max; p++) {
		f[n++] = p;
		p = strchr(p, '\t');
		if (!p)
			break;
		*p = '\0';
	}
	return n;
}

int main(int argc, char **argv)
{
	lk_options opts = LK_OPTIONS_INIT;
	struct line_reader lr;
	lk_db *db;
	lk_mesh *mesh;
	lk_status st = LK_OK;
	const char *line;
	size_t len;
	enum line_result lres = LINE_EOF;
	char buf[READBACK_LINE_BYTES_MAX + 1];

	if (argc != 2) {
		fprintf(stderr, "usage: mesh_readback DIR < requests\n");
		return 2;
	}
	opts.flags = LK_OPEN_READONLY;
	st = lk_open(&db, argv[1], &opts);
	if (st == LK_OK) {
		st = lk_mesh_open(&mesh, db, NULL);
		if (st != LK_OK)
			lk_close(db);
	}
	if (st != LK_OK) {
		fprintf(stderr, "mesh_readback: %s: %s: %s\n", argv[1],
			lk_strerror(st), lk_errmsg());
		return 1;
	}
	if (line_reader_init(&lr, STDIN_FILENO, READBACK_LINE_BYTES_MAX) != 0)
		st = LK_NOMEM;
	while (st == LK_OK && (lres = line_reader_next(&lr, &line, &len)) ==
					      LINE_OK) {
		char *f[4];
		int n;

		memcpy(buf, line, len);
		buf[len] = '\0';
		n = split(buf, f, 4);
		if (n == 2 && strcmp(f[0], "node") == 0)
			st = node(mesh, f[1]);
		else if (n == 2 && strcmp(f[0], "policy") == 0)
			st = policy(mesh, f[1]);
		else if (n == 4 && strcmp(f[0], "cache") == 0)
			st = cache(mesh, f[1], f[2], f[3]);
		else
			st = LK_INVALID;
		if (st == LK_NOT_FOUND) {
			puts("{\"absent\":true}");
			st = LK_OK;
		}
		if (st != LK_OK)
			fprintf(stderr, "mesh_readback: request \"%s\": %s: %s\n",
				buf, lk_strerror(st), lk_errmsg());
	}
	if (st == LK_OK && lres != LINE_EOF) {
		fprintf(stderr, "mesh_readback: a request line too long or "
			"unreadable\n");
		st = LK_INVALID;
	}
	line_reader_free(&lr);
	lk_mesh_close(mesh);
	lk_close(db);
	return st == LK_OK && fflush(stdout) == 0 ? 0 : 1;
}
