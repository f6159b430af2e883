/* SPDX-License-Identifier: MIT */
/*
 * cli_ship.c - `logkeep ship DIR --nats URL`: ships DIR's ledger and
 * telemetry (or the namespaces given) to a NATS JetStream stream through
 * liblogkeep-ship (logkeep_ship.h), the call a daemon runs in a thread of
 * its own, and shows its progress: the cursor, the lag in records and
 * seconds, what was published, acknowledged and retried.
 *
 * The shipper runs in a second thread; this one prints progress and
 * turns SIGINT and SIGTERM into lk_ship_stop(), so that the acks in
 * flight are awaited and the cursor stored before the exit.  Without
 * libnats the command is there and says so.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#if !LK_HAVE_NATS

int cmd_ship(const char *cmd, int argc, char **argv)
{
	/* The manual still answers: it says what the command needs. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return CLI_SHOW_HELP;
	cli_msg(cmd, "this logkeep was built without NATS support (libnats "
		"was not found, or the nats option disabled it): nothing "
		"can be shipped");
	return CLI_ERROR;
}

#else /* LK_HAVE_NATS */

#include "logkeep_ship.h"

#define SHIP_CLI_NS_MAX 16

enum {
	OPT_NATS = 256,
	OPT_STREAM,
	OPT_NAMESPACES,
	OPT_NODE,
	OPT_PREFIX,
	OPT_CREATE,
	OPT_IDLE,
	OPT_ACKS,
	OPT_PROGRESS,
	OPT_DUPLICATES,
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

struct runner {
	lk_ship *ship;
	lk_status st;
	char errmsg[256];
	volatile int done;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;

	r->st = lk_ship_run(r->ship);
	if (r->st != LK_OK)
		snprintf(r->errmsg, sizeof r->errmsg, "%s", lk_errmsg());
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void print_progress(FILE *f, const lk_ship_stats *s, int tty)
{
	fprintf(f, "%scursor %" PRIu64 " of %" PRIu64 ", lag %" PRIu64
		" records %" PRIu64 ".%01" PRIu64 " s, published %" PRIu64
		", acked %" PRIu64 " (%" PRIu64 " duplicates), retries %" PRIu64
		", gaps %" PRIu64 " (%" PRIu64 " numbers)%s%s%s",
		tty ? "\r" : "", s->cursor, s->seq_last, s->lag_records,
		s->lag_ms / 1000, s->lag_ms % 1000 / 100, s->published,
		s->acked, s->duplicates, s->retries, s->gaps, s->gap_records,
		s->connected ? "" : ", not connected",
		s->last_error[0] && !s->connected ? ": " : "",
		s->last_error[0] && !s->connected ? s->last_error : "");
	fputs(tty ? "\033[K" : "\n", f);
	fflush(f);
}

int cmd_ship(const char *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "nats", required_argument, NULL, OPT_NATS },
		{ "stream", required_argument, NULL, OPT_STREAM },
		{ "namespaces", required_argument, NULL, OPT_NAMESPACES },
		{ "node", required_argument, NULL, OPT_NODE },
		{ "subject-prefix", required_argument, NULL, OPT_PREFIX },
		{ "create-stream", no_argument, NULL, OPT_CREATE },
		{ "duplicates-ms", required_argument, NULL, OPT_DUPLICATES },
		{ "exit-when-idle", no_argument, NULL, OPT_IDLE },
		{ "acks", required_argument, NULL, OPT_ACKS },
		{ "progress-ms", required_argument, NULL, OPT_PROGRESS },
		{ NULL, 0, NULL, 0 },
	};
	lk_ship_options so = LK_SHIP_OPTIONS_INIT;
	const char *names[SHIP_CLI_NS_MAX];
	char *ns_list = NULL, host[256];
	uint64_t v, progress_ms = 0, shown = 0;
	struct cli_open_params op = { 0, LK_SYNC_ALWAYS, 0, 1, 0 };
	struct runner r;
	pthread_t thread;
	lk_ship_stats stats;
	lk_db *db = NULL;
	int c, rc, tty = isatty(STDERR_FILENO);
	struct sigaction sa;

	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			return CLI_SHOW_HELP;
		case OPT_NATS:
			so.nats_url = optarg;
			break;
		case OPT_STREAM:
			so.stream = optarg;
			break;
		case OPT_NAMESPACES:
			ns_list = optarg;
			break;
		case OPT_NODE:
			so.node_id = optarg;
			break;
		case OPT_PREFIX:
			so.subject_prefix = optarg;
			break;
		case OPT_CREATE:
			so.create_stream = 1;
			break;
		case OPT_IDLE:
			so.exit_when_idle = 1;
			break;
		case OPT_DUPLICATES:
			if (cli_parse_u64(optarg, 1000, UINT32_MAX * 1000ull,
					  &so.duplicates_ms))
				return cli_usage_error(cmd, "--duplicates-ms "
						       "'%s': 1000 or more",
						       optarg);
			break;
		case OPT_ACKS:
			if (cli_parse_u64(optarg, 1, 65536, &v))
				return cli_usage_error(cmd, "--acks '%s': 1 to "
						       "65536", optarg);
			so.acks_max = (uint32_t)v;
			break;
		case OPT_PROGRESS:
			if (cli_parse_u64(optarg, 0, 3600000, &progress_ms))
				return cli_usage_error(cmd, "--progress-ms "
						       "'%s': 0 to 3600000",
						       optarg);
			break;
		default:
			return cli_bad_option(cmd, c, argv);
		}
	}
	rc = cli_operands(cmd, argc - optind, 1, 1, "DIR");
	if (rc != CLI_OK)
		return rc;
	if (!so.nats_url)
		return cli_usage_error(cmd, "--nats URL is required");
	if (ns_list) {
		char *save = NULL;

		for (char *t = strtok_r(ns_list, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			if (so.namespace_count == SHIP_CLI_NS_MAX)
				return cli_usage_error(cmd, "--namespaces: "
						       "at most %d",
						       SHIP_CLI_NS_MAX);
			names[so.namespace_count++] = t;
		}
		if (so.namespace_count == 0)
			return cli_usage_error(cmd, "--namespaces is empty");
		so.namespaces = names;
	}
	if (!so.node_id && gethostname(host, sizeof host) == 0) {
		host[sizeof host - 1] = '\0';
		so.node_id = host;
	}
	if (!progress_ms)
		progress_ms = tty ? CLI_PROGRESS_PERIOD_MS : 5000;
	rc = cli_open_db(&db, cmd, argv[optind], &op);
	if (rc != CLI_OK)
		return rc;
	memset(&r, 0, sizeof r);
	r.st = lk_ship_new(&r.ship, db, &so);
	if (r.st != LK_OK)
		return cli_close_db(db, cmd, cli_fail(cmd, r.st));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (pthread_create(&thread, NULL, run_thread, &r) != 0) {
		lk_ship_free(r.ship);
		cli_msg(cmd, "cannot start the shipping thread");
		return cli_close_db(db, cmd, CLI_ERROR);
	}
	while (!__atomic_load_n(&r.done, __ATOMIC_ACQUIRE)) {
		uint64_t now = cli_monotonic_ms();

		if (stop_signal)
			lk_ship_stop(r.ship);
		if (now - shown >= progress_ms) {
			shown = now;
			if (lk_ship_stats_get(&stats, r.ship) == LK_OK)
				print_progress(stderr, &stats, tty);
		}
		usleep(20000);
	}
	pthread_join(thread, NULL);
	if (lk_ship_stats_get(&stats, r.ship) == LK_OK)
		print_progress(stderr, &stats, 0);
	lk_ship_free(r.ship);
	if (r.st != LK_OK) {
		cli_msg(cmd, "%s: %s", lk_strerror(r.st), r.errmsg);
		rc = cli_exit_for(r.st, CLI_FROM_CALL);
	}
	return cli_close_db(db, cmd, rc);
}

#endif /* LK_HAVE_NATS */
