/* SPDX-License-Identifier: MIT */
/*
 * mutate.c - the standalone driver's mutation mode:
 *
 *   fuzz_<target>_replay --mutate SECONDS [--seed N] [--runs N] [--out DIR]
 *                        FILE|DIR...
 *
 * Why.  libFuzzer is clang's, and its runtime exists here for x86-64
 * only, so the armhf (32-bit) and s390x (big-endian) builds, which run
 * under qemu-user (.ci/cross.sh), could only replay the corpora.  A width
 * or byte-order bug is invisible to the x86-64 fuzzers; this mode lets the
 * same targets fuzz on every build, with nothing but the C library.
 *
 * Method.  The inputs named on the command line (standalone.c loads them)
 * are the pool.  Until SECONDS have passed (or --runs N runs), one run:
 *   1. takes an input of the pool and applies 1 to MUTATIONS_MAX random
 *      mutations (below) to a copy, kept within INPUT_BYTES_MAX;
 *   2. writes it to the current-input file, so that whatever ends the
 *      process (a FUZZ_CHECK's abort, a sanitizer, a SIGSEGV, qemu dying,
 *      a timeout's kill) leaves on disk the input that did it;
 *   3. calls LLVMFuzzerTestOneInput() on a buffer of exactly its size, as
 *      libFuzzer does, so that ASan sees a read past its end;
 *   4. keeps it in the pool when it is "new": when lk_errmsg() after the
 *      run, numbers blanked, is a message no earlier run left.
 *
 * The feedback (4) is the cheap kind: there is no coverage instrumentation
 * in these builds, but every target leaves lk_errmsg() behind, and an
 * input that is turned away for a reason not seen before has reached a
 * check no earlier input reached ("offset #: checksum mismatch" then
 * "segment #: sequence number does not increase").  Digits are blanked so
 * that offsets and counts do not make every input new.  It sees only the
 * last failure of a run, and a target that ends with a call failing for
 * an ordinary reason hides the rest; it is a plain random mutator with a
 * hint, not a coverage-guided fuzzer.
 *
 * Mutations (one of M_COUNT, uniformly): flip a bit; set a byte to 0,
 * 0xff, 0x7f or 0x80; set a byte to another value; insert a run of bytes
 * (random, or one byte repeated); erase a run; copy a run within the
 * input (over it, or inserted); splice with another input of the pool (a
 * prefix of this one and a suffix of the other, or a piece of the other
 * inserted); write an interesting integer (0, 1, 0x7fff, 0x8000, 0xffff,
 * 0x7fffffff, 0x80000000, 0xffffffff, 2^32, 2^63, 2^64 - 1, a power of
 * two and its neighbours) over 2, 4 or 8 bytes, little- or big-endian,
 * at a random offset; add or subtract a small number from such an
 * integer; write a LEB128 varint of a large value (or an overlong one,
 * continuation bytes past VARINT_BYTES_MAX) over the input or into it.
 *
 * Determinism.  Every choice comes from one splitmix64 stream seeded by
 * --seed (default: the clock, printed first), and the pool changes only
 * with the target's answers, so the same seed over the same inputs makes
 * the same inputs in the same order; the time only decides where to stop.
 * A failure prints its run number: `--mutate 0 --seed X --runs N` (no
 * time limit, N runs) over the same inputs reruns it, and
 * replaying the saved file (the replay mode) runs just that input.
 *
 * With FUZZ_MUTATE_TRACE=1 in the environment, each message that made an
 * input new is printed with the run's number.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "mutate.h"

/* libFuzzer's default -max_len is 4 KiB grown as needed; 64 KiB is far
 * above what any target reads (the largest seed is under 9 KiB; fuzz_ops
 * stops at its OPS_MAX operations, fuzz_snapshot at its 64 edits) and
 * small enough that a run copies it in no time.  Longer inputs (the
 * policy regression of 256 KiB) are cut to it when the pool is loaded. */
#define INPUT_BYTES_MAX (64u * 1024u)

/* Mutations stacked on one input, as libFuzzer's -mutate_depth (5). */
#define MUTATIONS_MAX 5

/* Inputs kept for a new message, beyond the ones loaded: when full, a
 * new one replaces a random kept one (the loaded ones stay). */
#define KEPT_MAX 1024

/* Messages remembered (a power of two, the size of an open-addressed
 * table of their hashes, kept at most half full): past CLASSES_MAX / 2,
 * nothing is new any more. */
#define CLASSES_MAX 8192u

/* Runs of bytes inserted, erased or copied: usually short, sometimes
 * long (a length field's worth, a record's). */
#define RUN_SHORT_BYTES 8u
#define RUN_LONG_BYTES 1024u

/* ---------------------------------------------------------------------- */
/* Random numbers                                                         */
/* ---------------------------------------------------------------------- */

/* splitmix64 (Steele, Lea and Flood, 2014): one 64-bit state, every
 * seed good, plenty for choosing mutations. */
static uint64_t next_u64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* ---------------------------------------------------------------------- */
/* Mutations                                                              */
/* ---------------------------------------------------------------------- */

/* The input being mutated: INPUT_BYTES_MAX bytes of room. */
struct mutator {
	uint64_t rng;
	uint8_t *buf;
	size_t len;
	const struct mutate_input *pool; /* for splices */
	size_t pool_n;
};

/* A number in 0..n-1 (n >= 1; the modulo's bias does not matter here). */
static size_t below(struct mutator *m, size_t n)
{
	return (size_t)(next_u64(&m->rng) % n);
}

static uint8_t random_byte(struct mutator *m)
{
	return (uint8_t)next_u64(&m->rng);
}

/* The length of a run of at most limit (>= 1) bytes. */
static size_t run_len(struct mutator *m, size_t limit)
{
	size_t cap = below(m, 8) == 0 ? RUN_LONG_BYTES : RUN_SHORT_BYTES;

	return 1 + below(m, cap < limit ? cap : limit);
}

/* Opens n bytes at pos (n <= room), moving the tail up. */
static void open_gap(struct mutator *m, size_t pos, size_t n)
{
	memmove(m->buf + pos + n, m->buf + pos, m->len - pos);
	m->len += n;
}

/* Writes v over n bytes at pos, little- or big-endian. */
static void put_int(uint8_t *p, uint64_t v, size_t n, int big_endian)
{
	for (size_t i = 0; i < n; i++)
		p[big_endian ? n - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_int(const uint8_t *p, size_t n, int big_endian)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[big_endian ? n - 1 - i : i] << (8 * i);
	return v;
}

/* Each mutation returns 1 when it changed the input, 0 when it cannot
 * apply (an empty input has no bit to flip; a full one no room). */

static int flip_bit(struct mutator *m)
{
	if (m->len == 0)
		return 0;
	m->buf[below(m, m->len)] ^= (uint8_t)(1u << below(m, 8));
	return 1;
}

static int interesting_byte(struct mutator *m)
{
	static const uint8_t values[] = { 0x00, 0xff, 0x7f, 0x80 };

	if (m->len == 0)
		return 0;
	m->buf[below(m, m->len)] = values[below(m, sizeof values)];
	return 1;
}

static int other_byte(struct mutator *m)
{
	if (m->len == 0)
		return 0;
	m->buf[below(m, m->len)] ^= (uint8_t)(1 + below(m, 255));
	return 1;
}

static int insert_run(struct mutator *m)
{
	size_t room = INPUT_BYTES_MAX - m->len, pos, n;

	if (room == 0)
		return 0;
	n = run_len(m, room);
	pos = below(m, m->len + 1);
	open_gap(m, pos, n);
	if (below(m, 2)) {
		for (size_t i = 0; i < n; i++)
			m->buf[pos + i] = random_byte(m);
	} else {
		memset(m->buf + pos, random_byte(m), n);
	}
	return 1;
}

static int erase_run(struct mutator *m)
{
	size_t pos, n;

	if (m->len == 0)
		return 0;
	n = run_len(m, m->len);
	pos = below(m, m->len - n + 1);
	memmove(m->buf + pos, m->buf + pos + n, m->len - pos - n);
	m->len -= n;
	return 1;
}

static int copy_run(struct mutator *m)
{
	size_t src, dst, n, room = INPUT_BYTES_MAX - m->len;

	if (m->len < 2)
		return 0;
	src = below(m, m->len);
	n = run_len(m, m->len - src);
	dst = below(m, m->len + 1);
	if (below(m, 2) && n <= room) {
		/* Inserted at dst: the source moves up if it lay after. */
		open_gap(m, dst, n);
		if (src < dst && src + n > dst) {
			/* The gap split the source: copy its two halves. */
			size_t first = dst - src;

			memmove(m->buf + dst, m->buf + src, first);
			memmove(m->buf + dst + first, m->buf + dst + n,
				n - first);
			return 1;
		}
		if (src >= dst)
			src += n;
		memmove(m->buf + dst, m->buf + src, n);
		return 1;
	}
	if (dst == m->len)
		dst = below(m, m->len);
	if (n > m->len - dst)
		n = m->len - dst;
	memmove(m->buf + dst, m->buf + src, n);
	return 1;
}

static int splice(struct mutator *m)
{
	const struct mutate_input *o = &m->pool[below(m, m->pool_n)];
	size_t at, from, n;

	if (o->len == 0)
		return 0;
	at = below(m, m->len + 1);
	from = below(m, o->len);
	if (below(m, 2)) {
		/* This input's first `at` bytes, the other's from `from`. */
		n = o->len - from;
		if (n > INPUT_BYTES_MAX - at)
			n = INPUT_BYTES_MAX - at;
		memcpy(m->buf + at, o->data + from, n);
		m->len = at + n;
		return 1;
	}
	/* A piece of the other inserted at `at`. */
	if (m->len == INPUT_BYTES_MAX)
		return 0;
	n = run_len(m, o->len - from);
	if (n > INPUT_BYTES_MAX - m->len)
		n = INPUT_BYTES_MAX - m->len;
	open_gap(m, at, n);
	memcpy(m->buf + at, o->data + from, n);
	return 1;
}

static int interesting_int(struct mutator *m)
{
	static const struct {
		uint64_t value;
		uint8_t bytes;
	} ints[] = {
		{ 0, 4 },
		{ 0, 8 },
		{ 1, 4 },
		{ 1, 8 },
		{ 0x7fff, 2 },
		{ 0x8000, 2 },
		{ 0xffff, 2 },
		{ 0x7fffffff, 4 },
		{ 0x80000000, 4 },
		{ 0xffffffff, 4 },
		{ 0x7fffffff, 8 },
		{ 0x80000000, 8 },
		{ 0xffffffff, 8 },
		{ UINT64_C(1) << 32, 8 },
		{ UINT64_C(1) << 63, 8 },
		{ UINT64_MAX, 8 },
	};
	uint64_t v;
	size_t n;

	if (below(m, 3)) {
		size_t i = below(m, sizeof ints / sizeof ints[0]);

		v = ints[i].value;
		n = ints[i].bytes;
	} else {
		/* 2^k - 1, 2^k or 2^k + 1, over as few bytes as hold 2^k. */
		unsigned k = (unsigned)below(m, 64);

		v = (UINT64_C(1) << k) + below(m, 3) - 1;
		n = k < 16 ? 2 : k < 32 ? 4 : 8;
	}
	if (m->len < n)
		return 0;
	put_int(m->buf + below(m, m->len - n + 1), v, n, (int)below(m, 2));
	return 1;
}

static int add_to_int(struct mutator *m)
{
	size_t n = (size_t)1 << below(m, 4); /* 1, 2, 4 or 8 bytes */
	int big_endian = (int)below(m, 2);
	uint64_t delta = 1 + below(m, 16), v;
	uint8_t *p;

	if (m->len < n)
		return 0;
	p = m->buf + below(m, m->len - n + 1);
	v = get_int(p, n, big_endian);
	v = below(m, 2) ? v + delta : v - delta;
	put_int(p, v, n, big_endian);
	return 1;
}

static int varint(struct mutator *m)
{
	uint8_t enc[16];
	size_t n = 0, pos;
	uint64_t v;

	if (below(m, 4)) {
		/* Large: 2^k (k from 28), less one or not, or 2^64 - 1. */
		unsigned k = 28 + (unsigned)below(m, 36);

		v = below(m, 8) == 0 ? UINT64_MAX
				     : (UINT64_C(1) << k) - below(m, 2);
		do {
			enc[n++] = (uint8_t)((v & 0x7f) |
					     (v > 0x7f ? 0x80 : 0));
			v >>= 7;
		} while (v);
	} else {
		/* An overlong one: a small value padded with continuation
		 * bytes to 10 to 16 bytes (the engine decodes at most 10). */
		size_t total = 10 + below(m, 7);

		enc[n++] = (uint8_t)(below(m, 128) | 0x80);
		while (n < total - 1)
			enc[n++] = 0x80;
		enc[n++] = 0x00;
	}
	if (below(m, 2) && m->len >= n) {
		memcpy(m->buf + below(m, m->len - n + 1), enc, n);
		return 1;
	}
	if (INPUT_BYTES_MAX - m->len < n)
		return 0;
	pos = below(m, m->len + 1);
	open_gap(m, pos, n);
	memcpy(m->buf + pos, enc, n);
	return 1;
}

static int (*const mutations[])(struct mutator *) = {
	flip_bit, interesting_byte, other_byte, insert_run, erase_run,
	copy_run, splice, interesting_int, add_to_int, varint,
};
#define M_COUNT (sizeof mutations / sizeof mutations[0])

/* Applies 1 to MUTATIONS_MAX mutations that could apply. */
static void mutate(struct mutator *m)
{
	size_t want = 1 + below(m, MUTATIONS_MAX), done = 0;

	for (int tries = 0; done < want && tries < 64; tries++)
		done += (size_t)mutations[below(m, M_COUNT)](m);
}

/* ---------------------------------------------------------------------- */
/* Feedback: the messages seen                                            */
/* ---------------------------------------------------------------------- */

struct classes {
	uint64_t slot[CLASSES_MAX]; /* 0: empty */
	size_t n;
};

/* FNV-1a of the message with every run of digits read as one '#'. */
static uint64_t message_class(const char *s)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	int in_number = 0;

	for (; *s; s++) {
		int digit = *s >= '0' && *s <= '9';

		if (digit && in_number)
			continue;
		in_number = digit;
		h = (h ^ (uint8_t)(digit ? '#' : *s)) * UINT64_C(0x100000001b3);
	}
	return h ? h : 1;
}

/* Adds h; returns 1 when it was not there (and there was room). */
static int classes_add(struct classes *c, uint64_t h)
{
	size_t i = (size_t)(h % CLASSES_MAX);

	while (c->slot[i] != 0) {
		if (c->slot[i] == h)
			return 0;
		i = (i + 1) % CLASSES_MAX;
	}
	if (c->n >= CLASSES_MAX / 2)
		return 0;
	c->slot[i] = h;
	c->n++;
	return 1;
}

/* ---------------------------------------------------------------------- */
/* The current-input file and the failure message                         */
/* ---------------------------------------------------------------------- */

/* Set before each run, read by the handler if the run never returns. */
static volatile uint64_t run_now;
static char fail_tail[4096 + 128]; /* "); its input is in PATH; ..." */

/* Async-signal-safe: write(2) and a decimal by hand. */
static void write_str(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void write_u64(uint64_t v)
{
	char d[24];
	size_t i = sizeof d;

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	write_str(d + i, sizeof d - i);
}

/* A run that ends the process: one line naming the run, the signal, the
 * file and the seed, then the signal's default action (SA_RESETHAND). */
static void on_fatal_signal(int sig)
{
	uint64_t run = run_now;

	write_str("mutate: run ", 12);
	write_u64(run);
	write_str(" did not finish (signal ", 24);
	write_u64((uint64_t)sig);
	write_str(fail_tail, strlen(fail_tail));
	write_u64(run);
	write_str("\n", 1);
	raise(sig);
}

/* Catches the signals that end a run, but leaves alone any a sanitizer
 * has taken (ASan reports a SIGSEGV itself, then aborts: SIGABRT is
 * still ours). */
static void catch_fatal_signals(void)
{
	static const int sigs[] = { SIGABRT, SIGSEGV, SIGBUS,
				    SIGFPE,  SIGILL,  SIGTERM };

	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		struct sigaction old, sa;

		if (sigaction(sigs[i], NULL, &old) != 0 ||
		    old.sa_handler != SIG_DFL)
			continue;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_fatal_signal;
		sa.sa_flags = (int)SA_RESETHAND;
		sigemptyset(&sa.sa_mask);
		sigaction(sigs[i], &sa, NULL);
	}
}

/* The input about to run, the whole file: written, not synced (a process
 * that dies leaves the page cache; only the machine's crash would lose
 * it). */
static int save_current(int fd, const uint8_t *p, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t w = pwrite(fd, p + done, len - done, (off_t)done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return ftruncate(fd, (off_t)len);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The default seed: the wall clock's nanoseconds and the process id. */
static uint64_t clock_seed(void)
{
	struct timespec ts;
	uint64_t s;

	clock_gettime(CLOCK_REALTIME, &ts);
	s = (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
	s ^= (uint64_t)getpid() << 32;
	return next_u64(&s);
}

/* ---------------------------------------------------------------------- */
/* The loop                                                               */
/* ---------------------------------------------------------------------- */

static void free_pool(struct mutate_input *pool, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(pool[i].data);
	free(pool);
}

int mutate_main(const struct mutate_options *o, struct mutate_input *inputs,
		size_t n)
{
	size_t loaded = n, kept = 0, pool_n = n;
	struct mutate_input *pool = NULL;
	struct classes *seen = calloc(1, sizeof *seen);
	struct mutator m = { 0 };
	uint64_t seed = o->seed_given ? o->seed : clock_seed(), runs = 0;
	char path[4096];
	const char *base = strrchr(o->prog, '/'), *tmp = getenv("TMPDIR");
	double start, elapsed;
	int fd = -1, status = 1, trace = getenv("FUZZ_MUTATE_TRACE") != NULL;

	if (n == 0) {
		fprintf(stderr, "mutate: no inputs\n");
		goto done;
	}
	pool = seen ? realloc(inputs, (loaded + KEPT_MAX) * sizeof *pool)
		    : NULL;
	if (pool)
		inputs = NULL;
	m.buf = malloc(INPUT_BYTES_MAX);
	if (!pool || !m.buf) {
		fprintf(stderr, "mutate: out of memory\n");
		goto done;
	}
	for (size_t i = 0; i < loaded; i++)
		if (pool[i].len > INPUT_BYTES_MAX)
			pool[i].len = INPUT_BYTES_MAX;

	base = base ? base + 1 : o->prog;
	if (o->out_dir && mkdir(o->out_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "%s: %s\n", o->out_dir, strerror(errno));
		goto done;
	}
	if (o->out_dir)
		snprintf(path, sizeof path, "%s/current", o->out_dir);
	else
		snprintf(path, sizeof path, "%s/%s-%ld.current",
			 tmp ? tmp : "/tmp", base, (long)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		goto done;
	}
	snprintf(fail_tail, sizeof fail_tail,
		 "); its input is in %s; seed %llu: rerun with --mutate 0 "
		 "--seed %llu --runs ",
		 path, (unsigned long long)seed, (unsigned long long)seed);
	catch_fatal_signals();

	printf("mutate: seed %llu, %zu inputs, %llu s, the current input "
	       "in %s\n",
	       (unsigned long long)seed, loaded,
	       (unsigned long long)o->seconds, path);
	fflush(stdout);

	m.rng = seed;
	m.pool = pool;
	start = now_s();
	while ((o->seconds == 0 || now_s() - start < (double)o->seconds) &&
	       (o->runs_max == 0 || runs < o->runs_max)) {
		const struct mutate_input *from = &pool[below(&m, pool_n)];
		uint8_t *exact;

		m.pool_n = pool_n;
		m.len = from->len;
		memcpy(m.buf, from->data, m.len);
		mutate(&m);

		run_now = ++runs;
		if (save_current(fd, m.buf, m.len) != 0) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			goto done;
		}
		exact = malloc(m.len ? m.len : 1);
		if (!exact) {
			fprintf(stderr, "mutate: out of memory\n");
			goto done;
		}
		memcpy(exact, m.buf, m.len);
		/* lk_errmsg() is the last failure's detail and stays until
		 * the next one: start each run from an empty one. */
		(void)lk_fail(LK_INVALID, "%s", "");
		LLVMFuzzerTestOneInput(exact, m.len);
		free(exact);

		if (classes_add(seen, message_class(lk_errmsg()))) {
			if (trace)
				printf("mutate: run %llu: new: %s\n",
				       (unsigned long long)runs, lk_errmsg());
			size_t slot = kept < KEPT_MAX
					      ? pool_n++
					      : loaded + below(&m, KEPT_MAX);
			uint8_t *copy = malloc(m.len ? m.len : 1);

			if (!copy) {
				fprintf(stderr, "mutate: out of memory\n");
				goto done;
			}
			memcpy(copy, m.buf, m.len);
			if (kept < KEPT_MAX)
				kept++;
			else
				free(pool[slot].data);
			pool[slot].data = copy;
			pool[slot].len = m.len;
		}
	}
	elapsed = now_s() - start;
	printf("mutate: %zu inputs kept for a new lk_errmsg() (of %zu "
	       "messages)\n",
	       kept, seen->n);
	printf("mutate: %llu runs in %.1f s, seed %llu\n",
	       (unsigned long long)runs, elapsed, (unsigned long long)seed);
	unlink(path);
	status = 0;

done:
	if (fd >= 0)
		close(fd);
	if (pool)
		free_pool(pool, pool_n);
	else if (inputs)
		free_pool(inputs, n);
	free(m.buf);
	free(seen);
	return status;
}
