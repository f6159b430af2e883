/* SPDX-License-Identifier: MIT */
/*
 * footprint.c - logkeep-footprint: the memory figures of issue 12's
 * footprint table that need no cross build, each against its budget.
 *
 *   idle handle   the resident memory (VmRSS) of a process that holds one
 *                 writable handle, idle, on an empty directory: the whole
 *                 process (this program, libc, liblogkeep, zstd, xxhash)
 *                 and the part the handle added.  Budget: 2 MiB for the
 *                 whole process.
 *   anonymous     of that, the anonymous memory the handle added
 *                 (Anonymous of /proc/self/smaps_rollup, before the open
 *                 and idle): its heap, its threads' stacks, its tables,
 *                 memory no other process shares and the kernel cannot
 *                 drop.  The rest of the RSS is library code and data
 *                 that the page cache holds.  Budget: 256 KiB (measured
 *                 88-92 KiB on x86-64).  Not Private_Dirty: that counts a
 *                 freshly linked binary's pages not yet written back.
 *   index         index bytes per key (lk_stats index_bytes / live_keys)
 *                 after KEYS distinct keys (1,000,000 by default), and
 *                 the memory a budget charges (memory_bytes).  Budget:
 *                 24 bytes per key (logkeep_limits.h: 12-byte slots,
 *                 growth by half at 80% load, 15 to 23 bytes a key).
 *
 * Method: each figure is taken in a child forked before the library is
 * touched, so that no state of another measurement is resident; the idle
 * figure after a quarter second with the handle open, so that its
 * background threads have started.  Keys are 16 bytes, values 16 bytes,
 * put in batches of 1000 with LK_SYNC_NONE into a scratch directory under
 * $TMPDIR (or /tmp), removed afterwards.
 *
 * Usage: logkeep-footprint [--smoke] [--check-anonymous] [--keys N].
 * Prints one line per figure, "name value unit budget verdict", and exits
 * 1 if a figure is past its budget or a call failed.  --smoke (meson
 * test) uses 10,000 keys and checks only that every call works, and with
 * --check-anonymous also the anonymous figure's budget (meson passes it
 * on native builds without sanitizers, whose memory it would measure).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "logkeep.h"

#define IDLE_RSS_BUDGET_KIB 2048L
#define IDLE_ANON_BUDGET_KIB 256L
#define INDEX_BYTES_PER_KEY_BUDGET 24.0
#define BATCH 1000u

struct figures {
	int ok;
	long rss_before_kib, rss_idle_kib; /* before lk_open, handle idle */
	long anon_before_kib, anon_idle_kib; /* -1: not readable */
	uint64_t keys, index_bytes, memory_bytes;
	char why[256];
};

static void fail(struct figures *f, const char *what, lk_status st)
{
	f->ok = 0;
	snprintf(f->why, sizeof f->why, "%s: %s: %s", what, lk_strerror(st),
		 lk_errmsg());
}

/* Anonymous memory of the whole process in KiB, or -1 (no smaps_rollup:
 * kernels before 4.14, or qemu-user, which does not emulate it). */
static long anonymous_kib(void)
{
	return proc_kib("/proc/self/smaps_rollup", "Anonymous:");
}

static void measure_idle(struct figures *f, const char *dir)
{
	lk_options o = LK_OPTIONS_INIT;
	lk_status st;
	lk_db *db;

	f->rss_before_kib = rss_now_kib();
	f->anon_before_kib = anonymous_kib();
	st = lk_open(&db, dir, &o);
	if (st != LK_OK) {
		fail(f, "lk_open", st);
		return;
	}
	usleep(250 * 1000);
	f->rss_idle_kib = rss_now_kib();
	f->anon_idle_kib = anonymous_kib();
	st = lk_close(db);
	if (st != LK_OK)
		fail(f, "lk_close", st);
}

static void measure_index(struct figures *f, const char *dir, uint64_t keys)
{
	lk_options o = LK_OPTIONS_INIT;
	lk_stats s = LK_STATS_INIT;
	uint8_t key[16], value[16];
	lk_batch *b = NULL;
	lk_status st;
	lk_db *db;

	o.sync = LK_SYNC_NONE;
	o.compact_dead_pct = 0;
	st = lk_open(&db, dir, &o);
	if (st != LK_OK) {
		fail(f, "lk_open", st);
		return;
	}
	st = lk_batch_new(&b);
	for (uint64_t i = 0; st == LK_OK && i < keys; i++) {
		uint64_t k = mix64(i), v = mix64(~i);

		memcpy(key, &k, 8);
		memcpy(key + 8, &i, 8);
		memcpy(value, &v, 8);
		memcpy(value + 8, &k, 8);
		st = lk_batch_put(b, LK_NS_DEFAULT, key, sizeof key, value,
				  sizeof value, 0);
		if (st == LK_OK && (lk_batch_count(b) == BATCH || i + 1 == keys))
			st = lk_commit(db, b);
	}
	lk_batch_free(b);
	if (st == LK_OK)
		st = lk_stats_get(&s, db);
	if (st != LK_OK)
		fail(f, "filling the index", st);
	f->keys = s.live_keys;
	f->index_bytes = s.index_bytes;
	f->memory_bytes = s.memory_bytes;
	st = lk_close(db);
	if (st != LK_OK && f->ok)
		fail(f, "lk_close", st);
}

/* Runs one measurement in a child and brings its figures back. */
static int in_child(struct figures *f, const char *root, const char *name,
		    uint64_t keys)
{
	char dir[PATH_MAX];
	int fds[2], status;
	pid_t pid;

	snprintf(dir, sizeof dir, "%s/%s", root, name);
	if (pipe(fds) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct figures mine;

		memset(&mine, 0, sizeof mine);
		mine.ok = 1;
		close(fds[0]);
		if (keys)
			measure_index(&mine, dir, keys);
		else
			measure_idle(&mine, dir);
		_exit(write(fds[1], &mine, sizeof mine) == sizeof mine ? 0 : 1);
	}
	close(fds[1]);
	if (read(fds[0], f, sizeof *f) != sizeof *f)
		f->ok = 0;
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		f->ok = 0;
	return 0;
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	uint64_t keys = 1000000;
	struct figures idle, ix;
	char root[PATH_MAX];
	int smoke = 0, check_anon = 0, rc = 0;
	long anon_kib;
	double per_key;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--smoke") == 0) {
			smoke = 1;
			keys = 10000;
		} else if (strcmp(argv[i], "--check-anonymous") == 0) {
			check_anon = 1;
		} else if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc) {
			keys = strtoull(argv[++i], NULL, 10);
		} else {
			fprintf(stderr, "usage: logkeep-footprint [--smoke] "
					"[--check-anonymous] [--keys N]\n");
			return 2;
		}
	}
	if (keys == 0)
		keys = 1;
	snprintf(root, sizeof root, "%s/logkeep-footprint.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(root) == NULL) {
		perror("logkeep-footprint: mkdtemp");
		return 1;
	}
	memset(&idle, 0, sizeof idle);
	memset(&ix, 0, sizeof ix);
	if (in_child(&idle, root, "idle", 0) != 0 ||
	    in_child(&ix, root, "index", keys) != 0)
		perror("logkeep-footprint: fork");
	if (!remove_tree(root))
		fprintf(stderr, "logkeep-footprint: could not remove %s\n",
			root);
	if (!idle.ok || !ix.ok) {
		fprintf(stderr, "logkeep-footprint: %s\n",
			!idle.ok ? idle.why : ix.why);
		return 1;
	}
	per_key = ix.keys ? (double)ix.index_bytes / (double)ix.keys : 0.0;
	printf("%-34s %10s %-6s %8s %s\n", "figure", "value", "unit", "budget",
	       "verdict");
	printf("%-34s %10.2f %-6s %8.2f %s\n", "RSS, process with an idle handle",
	       (double)idle.rss_idle_kib / 1024.0, "MiB",
	       (double)IDLE_RSS_BUDGET_KIB / 1024.0,
	       idle.rss_idle_kib <= IDLE_RSS_BUDGET_KIB ? "within" : "PAST");
	printf("%-34s %10.2f %-6s %8s %s\n", "RSS, of it the handle's",
	       (double)(idle.rss_idle_kib - idle.rss_before_kib) / 1024.0,
	       "MiB", "-", "-");
	anon_kib = idle.anon_before_kib < 0 || idle.anon_idle_kib < 0
			   ? -1
			   : idle.anon_idle_kib - idle.anon_before_kib;
	if (anon_kib < 0)
		printf("%-34s %10s %-6s %8.2f %s\n", "  of it anonymous", "-",
		       "MiB", (double)IDLE_ANON_BUDGET_KIB / 1024.0,
		       "(no /proc/self/smaps_rollup)");
	else
		printf("%-34s %10.2f %-6s %8.2f %s\n", "  of it anonymous",
		       (double)anon_kib / 1024.0, "MiB",
		       (double)IDLE_ANON_BUDGET_KIB / 1024.0,
		       anon_kib <= IDLE_ANON_BUDGET_KIB ? "within" : "PAST");
	printf("%-34s %10.2f %-6s %8.2f %s\n", "index bytes per key",
	       per_key, "bytes", INDEX_BYTES_PER_KEY_BUDGET,
	       per_key <= INDEX_BYTES_PER_KEY_BUDGET ? "within" : "PAST");
	printf("%-34s %10" PRIu64 " %-6s %8s %s\n", "  at keys", ix.keys, "keys",
	       "-", "-");
	printf("%-34s %10.2f %-6s %8s %s\n", "  memory_bytes (index+mappings)",
	       (double)ix.memory_bytes / 1048576.0, "MiB", "-", "-");
	if (!smoke && (idle.rss_idle_kib > IDLE_RSS_BUDGET_KIB ||
		       per_key > INDEX_BYTES_PER_KEY_BUDGET))
		rc = 1;
	if ((!smoke || check_anon) && anon_kib > IDLE_ANON_BUDGET_KIB)
		rc = 1;
	if (check_anon && anon_kib < 0) {
		fprintf(stderr, "logkeep-footprint: --check-anonymous: "
				"/proc/self/smaps_rollup is not readable\n");
		rc = 1;
	}
	return rc;
}
