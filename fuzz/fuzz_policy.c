/* SPDX-License-Identifier: MIT */
/*
 * fuzz_policy.c - fuzz target for lk_mesh_policy_check() (logkeep_mesh.h,
 * engine/mesh/policies.c): libyaml's event parser and the walk that finds
 * and counts the top-level `rules` sequence.  Policy documents come from
 * callers (the daemon, `logkeep policy`), so any bytes are fair input.
 *
 * Input format: the document, every byte of it (no NUL is added).
 *
 * Method.  The input is copied into a buffer of exactly its size, so that
 * ASan sees a read past the document's end in the replayer too (whose
 * buffers are larger than the file), and checked three times: twice with
 * an error report, once without.  The reports are filled with 0xff first
 * so that a field the check leaves alone shows.
 *
 * Properties (FUZZ_CHECK aborts; ASan and LeakSanitizer find the rest):
 *   - the status is LK_OK, LK_INVALID, LK_TOO_BIG or LK_NOMEM, and
 *     LK_TOO_BIG for every document over LK_MESH_POLICY_BYTES_MAX;
 *   - LK_OK: rules_count <= LK_MESH_POLICY_RULES_MAX;
 *   - LK_INVALID: the report's line and column are 1-based (>= 1) and its
 *     problem is a NUL-terminated sentence; lk_errmsg() says the same
 *     (it names the line and column and holds the problem);
 *   - any other status: lk_errmsg() says why;
 *   - a check takes under CHECK_CPU_MS_MAX of CPU time, whatever the
 *     document (libFuzzer's -timeout in .ci/run, for the replayer too);
 *   - the check is a function of the bytes: the three calls give the same
 *     status, count, report and lk_errmsg(), with or without a report;
 *   - the check agrees with an oracle (below): same status, same count.
 *
 * The oracle.  libyaml's other interface, its document loader, builds the
 * tree of the same bytes, and the contract is read off the tree: one
 * document, its root a mapping, collections nested at most
 * LK_MESH_POLICY_DEPTH_MAX deep (logkeep_mesh.h), exactly one key that
 * is the scalar `rules`, its value a sequence; rules_count is that
 * sequence's length.  The check walks libyaml's events instead and counts
 * on the fly, so the two share the scanner and parser but not the walk,
 * which is what this property tests.  The oracle abstains where the two
 * are meant to differ or cannot be compared: a document with a `*`
 * anywhere (the check never follows an alias, the loader always does),
 * one the loader rejects after parsing (a duplicated anchor), and when
 * memory runs out; and on documents over ORACLE_BYTES_MAX, because
 * libyaml's scanner takes time quadratic in the nesting of flow
 * collections, which the check cuts short and the loader does not.
 * libyaml enters the library through policies.c alone; here it is the
 * judge, not the thing judged.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

#include "fuzz.h"
#include "logkeep_mesh.h"
#include "mesh.h"

/* A check takes milliseconds; one past this many is a time bomb (the
 * regression flow-nesting-quadratic-time took 141 s). */
#define CHECK_CPU_MS_MAX 10000

/* ---------------------------------------------------------------------- */
/* The oracle                                                             */
/* ---------------------------------------------------------------------- */

#define ORACLE_ABSTAINS (-1)
/* Far above what libFuzzer makes of this corpus (its inputs stay under
 * about 8 KiB), far below a regression input of 256 KiB of `[`. */
#define ORACLE_BYTES_MAX (16u * 1024u)

/* The deepest nesting of collections in d (its root collection is 1).
 * The loader adds a collection before its items, so one pass in node
 * order sees every parent before its children. */
static int depth_of(yaml_document_t *d)
{
	size_t n = (size_t)(d->nodes.top - d->nodes.start);
	int *depth = calloc(n ? n : 1, sizeof *depth);
	int deepest = 0;

	if (!depth)
		return -1;
	if (n)
		depth[0] = 1; /* the root is node 1, index 0 */
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *node = &d->nodes.start[i];
		yaml_node_item_t *item;
		yaml_node_pair_t *pair;

		if (node->type == YAML_SCALAR_NODE)
			continue;
		if (depth[i] > deepest)
			deepest = depth[i];
		if (node->type == YAML_SEQUENCE_NODE) {
			for (item = node->data.sequence.items.start;
			     item < node->data.sequence.items.top; item++) {
				FUZZ_CHECK((size_t)*item > i + 1);
				depth[*item - 1] = depth[i] + 1;
			}
			continue;
		}
		for (pair = node->data.mapping.pairs.start;
		     pair < node->data.mapping.pairs.top; pair++) {
			FUZZ_CHECK((size_t)pair->key > i + 1);
			FUZZ_CHECK((size_t)pair->value > i + 1);
			depth[pair->key - 1] = depth[i] + 1;
			depth[pair->value - 1] = depth[i] + 1;
		}
	}
	free(depth);
	return deepest;
}

/* The status the check must give for doc (and the count, on LK_OK), or
 * ORACLE_ABSTAINS. */
static int oracle(uint64_t *count, const char *doc, size_t len)
{
	yaml_parser_t p;
	yaml_document_t first, second;
	yaml_node_t *root, *second_root;
	yaml_node_pair_t *pair;
	int answer = LK_INVALID, found = 0;

	*count = 0;
	if (len > ORACLE_BYTES_MAX || (len && memchr(doc, '*', len)))
		return ORACLE_ABSTAINS;
	if (!yaml_parser_initialize(&p))
		return ORACLE_ABSTAINS;
	yaml_parser_set_input_string(&p, (const unsigned char *)doc, len);
	if (!yaml_parser_load(&p, &first)) {
		if (p.error == YAML_COMPOSER_ERROR || p.error == YAML_MEMORY_ERROR)
			answer = ORACLE_ABSTAINS;
		goto done;
	}
	root = yaml_document_get_root_node(&first);
	if (root) {
		/* A second document, or bytes after the first that do not
		 * parse, reject the whole. */
		if (!yaml_parser_load(&p, &second)) {
			if (p.error == YAML_COMPOSER_ERROR ||
			    p.error == YAML_MEMORY_ERROR)
				answer = ORACLE_ABSTAINS;
			root = NULL;
		} else {
			second_root = yaml_document_get_root_node(&second);
			if (second_root)
				root = NULL;
			yaml_document_delete(&second);
		}
	}
	if (root && root->type == YAML_MAPPING_NODE) {
		int deepest = depth_of(&first);

		if (deepest < 0)
			answer = ORACLE_ABSTAINS;
		if (deepest < 0 || deepest > LK_MESH_POLICY_DEPTH_MAX)
			root = NULL;
	}
	if (root && root->type == YAML_MAPPING_NODE) {
		for (pair = root->data.mapping.pairs.start;
		     pair < root->data.mapping.pairs.top; pair++) {
			yaml_node_t *k = yaml_document_get_node(&first, pair->key);
			yaml_node_t *v = yaml_document_get_node(&first,
								pair->value);

			if (k->type != YAML_SCALAR_NODE ||
			    k->data.scalar.length != 5 ||
			    memcmp(k->data.scalar.value, "rules", 5) != 0)
				continue;
			if (found++ || v->type != YAML_SEQUENCE_NODE) {
				found = 0;
				break;
			}
			*count = (uint64_t)(v->data.sequence.items.top -
					    v->data.sequence.items.start);
		}
		if (found)
			answer = *count > LK_MESH_POLICY_RULES_MAX ? LK_TOO_BIG
								   : LK_OK;
	}
	yaml_document_delete(&first);
done:
	yaml_parser_delete(&p);
	return answer;
}

/* ---------------------------------------------------------------------- */
/* The check                                                              */
/* ---------------------------------------------------------------------- */

struct answer {
	lk_status st;
	uint32_t rules_count;
	lk_mesh_yaml_error err;
	char errmsg[256];
};

static void check(struct answer *a, const char *doc, size_t len,
		  int with_report)
{
	lk_mesh_yaml_error *err = with_report ? &a->err : NULL;
	clock_t start;

	memset(a, 0xff, sizeof *a);
	start = clock();
	a->st = lk_mesh_policy_check(&a->rules_count, doc, len, err);
	FUZZ_CHECK((double)(clock() - start) * 1000 / CLOCKS_PER_SEC <
		   CHECK_CPU_MS_MAX);
	FUZZ_CHECK(a->st == LK_OK || a->st == LK_INVALID ||
		   a->st == LK_TOO_BIG || a->st == LK_NOMEM);
	if (len > LK_MESH_POLICY_BYTES_MAX)
		FUZZ_CHECK(a->st == LK_TOO_BIG);
	if (a->st == LK_OK) {
		FUZZ_CHECK(a->rules_count <= LK_MESH_POLICY_RULES_MAX);
		return;
	}
	snprintf(a->errmsg, sizeof a->errmsg, "%s", lk_errmsg());
	FUZZ_CHECK(a->errmsg[0] != '\0');
	if (a->st != LK_INVALID)
		return;
	FUZZ_CHECK(strstr(a->errmsg, "line") != NULL);
	if (with_report) {
		char where[64];

		FUZZ_CHECK(a->err.line >= 1 && a->err.column >= 1);
		FUZZ_CHECK(memchr(a->err.problem, '\0',
				  sizeof a->err.problem) != NULL);
		FUZZ_CHECK(a->err.problem[0] != '\0');
		snprintf(where, sizeof where, "line %u column %u",
			 (unsigned)a->err.line, (unsigned)a->err.column);
		FUZZ_CHECK(strstr(a->errmsg, where) != NULL);
		FUZZ_CHECK(strstr(a->errmsg, a->err.problem) != NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct answer first, again, bare;
	uint64_t expected_count;
	int expected;
	char *doc = malloc(size ? size : 1);

	if (!doc)
		return 0;
	if (size)
		memcpy(doc, data, size);
	check(&first, doc, size, 1);
	check(&again, doc, size, 1);
	check(&bare, doc, size, 0);

	FUZZ_CHECK(again.st == first.st && bare.st == first.st);
	if (first.st == LK_OK) {
		FUZZ_CHECK(again.rules_count == first.rules_count);
		FUZZ_CHECK(bare.rules_count == first.rules_count);
	} else {
		FUZZ_CHECK(strcmp(again.errmsg, first.errmsg) == 0);
		FUZZ_CHECK(strcmp(bare.errmsg, first.errmsg) == 0);
	}
	if (first.st == LK_INVALID) {
		FUZZ_CHECK(again.err.line == first.err.line);
		FUZZ_CHECK(again.err.column == first.err.column);
		FUZZ_CHECK(strcmp(again.err.problem, first.err.problem) == 0);
	}

	expected = oracle(&expected_count, doc, size);
	if (expected != ORACLE_ABSTAINS && first.st != LK_NOMEM) {
		if ((int)first.st != expected)
			fprintf(stderr, "check: %s (%s), oracle: %s\n",
				lk_strerror(first.st),
				first.st == LK_OK ? "ok" : first.errmsg,
				lk_strerror((lk_status)expected));
		FUZZ_CHECK((int)first.st == expected);
		if (expected == LK_OK)
			FUZZ_CHECK(first.rules_count == expected_count);
	}
	free(doc);
	return 0;
}
