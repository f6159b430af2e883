/* SPDX-License-Identifier: MIT */
/*
 * cli_kv.c - the key/value commands of the logkeep tool: put, get, del
 * and scan, one engine call each (plus opening and the namespace).
 *
 * Writing commands (put, del) open DIR with LK_OPEN_CREATE and the
 * default durability (a write is on disk when the command returns); read
 * commands (get, scan) open it read-only, so that they take no lock and
 * work beside a running daemon, and there an absent namespace is simply
 * an absent key.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_format.h"

/* ---------------------------------------------------------------------- */
/* put                                                                    */
/* ---------------------------------------------------------------------- */

/* Reads all of stdin as a value, refusing more than the value limit
 * before it is all in memory.  Returns an exit status. */
static int read_stdin_value(const char *cmd, unsigned char **value,
			    size_t *len)
{
	size_t cap = 64u * 1024u;
	size_t n = 0;
	unsigned char *buf = malloc(cap);

	assert(value != NULL && len != NULL);
	if (buf == NULL)
		goto nomem;
	for (;;) {
		size_t got;

		if (n == cap) {
			size_t grown = cap * 2;
			unsigned char *p;

			/* One byte past the limit tells "too long" apart
			 * from "exactly the limit". */
			if (grown > CLI_VALUE_BYTES_MAX + 1u)
				grown = CLI_VALUE_BYTES_MAX + 1u;
			p = realloc(buf, grown);
			if (p == NULL)
				goto nomem;
			buf = p;
			cap = grown;
		}
		got = fread(buf + n, 1, cap - n, stdin);
		n += got;
		if (n > CLI_VALUE_BYTES_MAX) {
			free(buf);
			return cli_usage_error(cmd, "the value on standard "
					       "input passes the value limit "
					       "of %u bytes",
					       CLI_VALUE_BYTES_MAX);
		}
		if (got == 0) {
			if (ferror(stdin)) {
				cli_msg(cmd, "reading standard input: %s",
					strerror(errno));
				free(buf);
				return CLI_ERROR;
			}
			break;
		}
	}
	*value = buf;
	*len = n;
	return CLI_OK;
nomem:
	free(buf);
	cli_msg(cmd, "reading standard input: %s", strerror(ENOMEM));
	return CLI_ERROR;
}

int cmd_put(const char *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "namespace", required_argument, NULL, 'n' },
		{ "ttl", required_argument, NULL, 'T' },
		{ "segment-size", required_argument, NULL, 'S' },
		{ "memory-bytes", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_open_params op = { 0, LK_SYNC_ALWAYS, 0, 0, 0 };
	const char *ns_name = "default";
	uint64_t ttl_s = 0, expire_at_ms = 0;
	unsigned char *stdin_value = NULL;
	const void *value = NULL;
	size_t value_len = 0;
	lk_db *db = NULL;
	uint32_t ns;
	lk_status st;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			ns_name = optarg;
			break;
		case 'T':
			if (cli_parse_u64(optarg, 1, UINT64_MAX / 1000u,
					  &ttl_s) != 0)
				return cli_usage_error(cmd, "--ttl: '%s' is "
						       "not a positive number "
						       "of seconds", optarg);
			break;
		case 'S':
			if (cli_parse_u64(optarg, 1, UINT64_MAX,
					  &op.segment_size_bytes) != 0)
				return cli_usage_error(cmd, "--segment-size: "
						       "'%s' is not a positive "
						       "integer", optarg);
			break;
		case 'M':
			if (cli_memory_bytes(cmd, optarg,
					     &op.memory_bytes_max) != CLI_OK)
				return CLI_USAGE;
			break;
		case 'h':
			return CLI_SHOW_HELP;
		default:
			return cli_bad_option(cmd, c, argv);
		}
	}
	argc -= optind;
	argv += optind;
	rc = cli_operands(cmd, argc, 2, 3, "DIR KEY [VALUE]");
	if (rc != CLI_OK)
		return rc;
	if (ttl_s != 0) {
		uint64_t now = cli_now_ms();

		if (now > UINT64_MAX - ttl_s * 1000u)
			return cli_usage_error(cmd, "--ttl %" PRIu64 " is "
					       "too far in the future", ttl_s);
		expire_at_ms = now + ttl_s * 1000u;
	}
	/* Read stdin before the open: the lock is not held while a slow
	 * producer (or a person at a terminal) is still writing. */
	if (argc == 3) {
		value = argv[2];
		value_len = strlen(argv[2]);
	} else {
		rc = read_stdin_value(cmd, &stdin_value, &value_len);
		if (rc != CLI_OK)
			return rc;
		value = stdin_value;
	}
	rc = cli_open_db(&db, cmd, argv[0], &op);
	if (rc != CLI_OK)
		goto done;
	st = lk_ns_open(&ns, db, ns_name);
	if (st == LK_OK)
		st = lk_put(db, ns, argv[1], strlen(argv[1]), value, value_len,
			    expire_at_ms);
	if (st != LK_OK)
		rc = cli_fail(cmd, st);
	rc = cli_close_db(db, cmd, rc);
done:
	free(stdin_value);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* get                                                                    */
/* ---------------------------------------------------------------------- */

int cmd_get(const char *cmd, int argc, char **argv)
{
	struct cli_open_params op = { 1, LK_SYNC_ALWAYS, 0, 0, 0 };
	const char *ns_name = "default";
	void *value = NULL;
	size_t value_len = 0;
	lk_db *db = NULL;
	uint32_t ns;
	lk_status st;
	int first, rc;
	const struct cli_common_opts flags = { NULL, &ns_name, NULL };

	rc = cli_parse_args(cmd, argc, argv, &flags, 2, "DIR KEY", &first);
	if (rc != CLI_OK)
		return rc;
	argv += first;
	rc = cli_open_db(&db, cmd, argv[0], &op);
	if (rc != CLI_OK)
		return rc;
	/* Absent namespace or absent key: the answer is "no", silently,
	 * like a failed grep -q. */
	st = lk_ns_open(&ns, db, ns_name);
	if (st == LK_OK)
		st = lk_get(&value, &value_len, db, ns, argv[1],
			    strlen(argv[1]));
	if (st == LK_NOT_FOUND)
		rc = CLI_NO;
	else if (st != LK_OK)
		rc = cli_fail(cmd, st);
	else if (value_len > 0 &&
		 fwrite(value, 1, value_len, stdout) != value_len)
		rc = CLI_ERROR; /* main() reports the write error */
	lk_free(value);
	return cli_close_db(db, cmd, rc);
}

/* ---------------------------------------------------------------------- */
/* del                                                                    */
/* ---------------------------------------------------------------------- */

int cmd_del(const char *cmd, int argc, char **argv)
{
	struct cli_open_params op = { 0, LK_SYNC_ALWAYS, 0, 0, 0 };
	const char *ns_name = "default";
	lk_db *db = NULL;
	uint32_t ns;
	lk_status st;
	int first, rc;
	const struct cli_common_opts flags = { NULL, &ns_name, NULL };

	rc = cli_parse_args(cmd, argc, argv, &flags, 2, "DIR KEY", &first);
	if (rc != CLI_OK)
		return rc;
	argv += first;
	rc = cli_open_db(&db, cmd, argv[0], &op);
	if (rc != CLI_OK)
		return rc;
	st = lk_ns_open(&ns, db, ns_name);
	if (st == LK_OK)
		st = lk_del(db, ns, argv[1], strlen(argv[1]));
	if (st != LK_OK)
		rc = cli_fail(cmd, st);
	return cli_close_db(db, cmd, rc);
}

/* ---------------------------------------------------------------------- */
/* scan                                                                   */
/* ---------------------------------------------------------------------- */

int cmd_scan(const char *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "namespace", required_argument, NULL, 'n' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_open_params op = { 1, LK_SYNC_ALWAYS, 0, 0, 0 };
	const char *ns_name = "default";
	const char *prefix = "";
	lk_iter *it = NULL;
	lk_db *db = NULL;
	uint32_t ns;
	lk_status st;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+:n:p:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			ns_name = optarg;
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'h':
			return CLI_SHOW_HELP;
		default:
			return cli_bad_option(cmd, c, argv);
		}
	}
	argc -= optind;
	argv += optind;
	rc = cli_operands(cmd, argc, 1, 1, "DIR");
	if (rc != CLI_OK)
		return rc;
	rc = cli_open_db(&db, cmd, argv[0], &op);
	if (rc != CLI_OK)
		return rc;
	st = lk_ns_open(&ns, db, ns_name);
	if (st == LK_NOT_FOUND)
		goto done; /* no such namespace: no records */
	if (st == LK_OK)
		st = lk_iter_open(&it, db, ns, prefix, strlen(prefix));
	while (st == LK_OK) {
		const void *key, *value;
		size_t key_len, value_len;
		uint64_t expire_at_ms;

		st = lk_iter_next(it, &key, &key_len, &value, &value_len,
				  &expire_at_ms);
		if (st != LK_OK)
			break;
		text_put_escaped(stdout, key, key_len);
		putchar('\t');
		text_put_escaped(stdout, value, value_len);
		putchar('\n');
		if (ferror(stdout)) {
			rc = CLI_ERROR; /* main() reports the write error */
			break;
		}
	}
	if (st != LK_OK && st != LK_NOT_FOUND)
		rc = cli_fail(cmd, st);
done:
	lk_iter_close(it);
	return cli_close_db(db, cmd, rc);
}

