/* SPDX-License-Identifier: MIT */
/*
 * probe.c - what the device and the kernel allow, with no engine in the
 * way, measured in the bench's directory in each repetition, so that an
 * engine's figure can be read against the bound it runs into:
 *
 *   append + fdatasync     a 4 KiB write at the end of a file, then
 *                          fdatasync: the least a durable append costs
 *                          (the file grows, so the sync writes metadata).
 *   overwrite + fdatasync  a 4 KiB write over synced bytes, then
 *                          fdatasync: the least a durable in-place update
 *                          costs (no size change, data only).
 *   sequential write       1 MiB writes of file_bytes, then one
 *                          fdatasync, timed together: the bandwidth a
 *                          batched fill or a compaction can reach.
 *   page-cache reads       4 KiB preads at random offsets of that file
 *                          (just written, so cached): one system call
 *                          and a copy, the cost floor of a get that reads
 *                          its value with pread.
 *
 * Then what no engine's code could beat here (sizes from the bench's
 * key count; the file is the one above, cached), and one reference:
 *
 *   dependent reads        random 8-byte reads, each address taken from
 *                          the value the read before returned, so that
 *                          none overlaps: in fresh memory of the index's
 *                          size (huge pages advised, as logkeep's table),
 *                          in a read-only mapping of the file (4 KiB
 *                          pages, as a log or a peer's file), and in
 *                          pairs: memory then file (a get of logkeep: its
 *                          index slot, then the record it names) and file
 *                          then file (an engine whose buckets and records
 *                          are both in its mapped file).
 *   fresh memory           the first touch of the index's size of new
 *                          memory: page faults and the kernel's zeroing,
 *                          the least an open pays to give a table memory.
 *   hash a snapshot        XXH3 over a snapshot's bytes (12 a key) of the
 *                          cached file through a mapping: the least an
 *                          open that checks its snapshot hashes.
 *   group commit           GC_THREADS threads (and one) write 140-byte
 *                          records over the synced file above and wait
 *                          for an fdatasync that covers them; whoever
 *                          finds none running leads, waiting up to
 *                          GC_GATHER_US for every thread's record first:
 *                          a simple group commit with no engine, for the
 *                          writers' figure to be read against (not a
 *                          bound: one sync at a time, and each waits for
 *                          all the writers to wake; with a usleep(100)
 *                          in place of fdatasync it gives 3.0 to 3.1
 *                          times one writer).
 *
 * Latencies go into a histogram; the data written is pseudo-random (not
 * compressible, for a file system that compresses).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "bench_util.h"
#include "probe.h"

#define PROBE_BLOCK_BYTES 4096u
#define PROBE_WRITE_BYTES ((size_t)1 << 20)
#define GC_THREADS 4u          /* as the bench's writer threads */
#define GC_RECORD_BYTES 140u   /* a put of the bench's 16 + 100 bytes */
#define GC_GATHER_US 1000      /* a leader's wait for the others */

static bool probe_fail(char *err, size_t err_bytes, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool probe_fail(char *err, size_t err_bytes, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_bytes, fmt, ap);
	va_end(ap);
	return false;
}

static bool full_pwrite(int fd, const uint8_t *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return true;
}

static void fill_bytes(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t r = mix64(seed + i);
		for (size_t j = 0; j < 8 && i + j < len; j++)
			buf[i + j] = (uint8_t)(r >> (8 * j));
	}
}

/* Times syncs of "write PROBE_BLOCK_BYTES at off (or at the end when
 * append), fdatasync". */
static bool probe_syncs(const char *path, bool append, uint64_t syncs,
			double *p50_us, double *p99_us, char *err,
			size_t err_bytes)
{
	uint8_t block[PROBE_BLOCK_BYTES];
	struct histogram *h = calloc(1, sizeof *h);
	bool ok = false;

	if (h == NULL)
		return probe_fail(err, err_bytes, "probe: out of memory");
	fill_bytes(block, sizeof block, append ? 1 : 2);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		probe_fail(err, err_bytes, "probe: open %s: %s", path,
			   strerror(errno));
		goto out;
	}
	/* The overwrite's block exists and is synced before the clock
	 * starts, so that each sync writes data only. */
	if (!append && (!full_pwrite(fd, block, sizeof block, 0) ||
			fsync(fd) != 0)) {
		probe_fail(err, err_bytes, "probe: prepare %s: %s", path,
			   strerror(errno));
		goto out_close;
	}
	for (uint64_t i = 0; i < syncs; i++) {
		off_t off = append ? (off_t)(i * sizeof block) : 0;
		block[0] = (uint8_t)i; /* a change the sync must write */
		uint64_t t0 = now_ns();
		if (!full_pwrite(fd, block, sizeof block, off) ||
		    fdatasync(fd) != 0) {
			probe_fail(err, err_bytes, "probe: write+fdatasync "
				   "%s: %s", path, strerror(errno));
			goto out_close;
		}
		hist_add(h, now_ns() - t0);
	}
	*p50_us = hist_percentile_us(h, 50);
	*p99_us = hist_percentile_us(h, 99);
	ok = true;
out_close:
	if (close(fd) != 0 && ok)
		ok = probe_fail(err, err_bytes, "probe: close %s: %s", path,
				strerror(errno));
out:
	free(h);
	return ok;
}

/* Sequential write of cfg->file_bytes, then cfg->reads random preads of
 * the same (cached) file. */
static bool probe_bandwidth(struct probe *p, const char *path,
			    const struct probe_config *cfg, char *err,
			    size_t err_bytes)
{
	uint64_t chunks = cfg->file_bytes / PROBE_WRITE_BYTES;
	uint8_t *buf = malloc(PROBE_WRITE_BYTES);
	bool ok = false;

	if (chunks == 0)
		chunks = 1;
	if (buf == NULL)
		return probe_fail(err, err_bytes, "probe: out of memory");
	fill_bytes(buf, PROBE_WRITE_BYTES, 3);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		probe_fail(err, err_bytes, "probe: open %s: %s", path,
			   strerror(errno));
		goto out;
	}
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < chunks; i++) {
		buf[0] = (uint8_t)i;
		if (!full_pwrite(fd, buf, PROBE_WRITE_BYTES,
				 (off_t)(i * PROBE_WRITE_BYTES))) {
			probe_fail(err, err_bytes, "probe: write %s: %s", path,
				   strerror(errno));
			goto out_close;
		}
	}
	if (fdatasync(fd) != 0) {
		probe_fail(err, err_bytes, "probe: fdatasync %s: %s", path,
			   strerror(errno));
		goto out_close;
	}
	uint64_t ns = now_ns() - t0;
	double bytes = (double)chunks * PROBE_WRITE_BYTES;
	p->seq_write_mb_s = bytes / 1e6 / ((double)ns / 1e9);

	uint64_t blocks = chunks * (PROBE_WRITE_BYTES / PROBE_BLOCK_BYTES);
	uint64_t sum = 0;
	t0 = now_ns();
	for (uint64_t i = 0; i < cfg->reads; i++) {
		off_t off = (off_t)((mix64(i) % blocks) * PROBE_BLOCK_BYTES);
		ssize_t n = pread(fd, buf, PROBE_BLOCK_BYTES, off);
		if (n != (ssize_t)PROBE_BLOCK_BYTES) {
			probe_fail(err, err_bytes, "probe: pread %s: %s", path,
				   n < 0 ? strerror(errno) : "short read");
			goto out_close;
		}
		sum += buf[i % PROBE_BLOCK_BYTES]; /* the copy is used */
	}
	ns = now_ns() - t0;
	(void)sum;
	p->cached_read_ops_s = (double)cfg->reads * 1e9 / (double)ns;
	p->cached_read_mb_s =
		p->cached_read_ops_s * PROBE_BLOCK_BYTES / 1e6;
	ok = true;
out_close:
	if (close(fd) != 0 && ok)
		ok = probe_fail(err, err_bytes, "probe: close %s: %s", path,
				strerror(errno));
out:
	free(buf);
	return ok;
}

/* Where a hash h falls among n words, without a division: the high 64
 * bits of h * n, from 32-bit halves (no 128-bit type on 32-bit targets). */
static uint64_t word_of(uint64_t h, uint64_t n)
{
	uint64_t h_lo = (uint32_t)h, h_hi = h >> 32;
	uint64_t n_lo = (uint32_t)n, n_hi = n >> 32;
	uint64_t lo_lo = h_lo * n_lo, hi_lo = h_hi * n_lo;
	uint64_t lo_hi = h_lo * n_hi, hi_hi = h_hi * n_hi;
	uint64_t cross = (lo_lo >> 32) + (uint32_t)hi_lo + lo_hi;

	return (cross >> 32) + (hi_lo >> 32) + hi_hi;
}

static volatile uint64_t probe_sink; /* keeps the reads' results used */

/* ns per step of `reads` dependent steps: a random read of `first`
 * (words of it) at a place named by the value read before, then, if
 * `then` is not NULL, a read of `then` at a place named by the first
 * read's value. */
static double chase_ns(const uint64_t *first, uint64_t first_words,
		       const uint64_t *then, uint64_t then_words,
		       uint64_t reads)
{
	uint64_t x = 1, sum = 0;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < reads; i++) {
		x = first[word_of(mix64(x + i), first_words)];
		/* x + i: the file repeats a 1 MiB pattern, so its values alone
		 * would name few places; the step spreads them, and the
		 * address still waits for the value */
		if (then != NULL)
			x = then[word_of(mix64(x + i), then_words)];
		sum += x;
	}
	uint64_t ns = now_ns() - t0;
	probe_sink = sum;
	return (double)ns / (double)reads;
}

/* The memory probes, on the cached file at path (file_bytes of it). */
static bool probe_memory(struct probe *p, const char *path,
			 const struct probe_config *cfg, char *err,
			 size_t err_bytes)
{
	size_t mem_bytes = (size_t)cfg->index_bytes & ~(size_t)7;
	size_t file_bytes, hash_bytes;
	struct stat st;
	bool ok = false;

	if ((uint64_t)(size_t)cfg->index_bytes != cfg->index_bytes)
		return probe_fail(err, err_bytes, "probe: an index of %" PRIu64
				  " bytes does not fit this address space",
				  cfg->index_bytes);
	uint64_t *mem = mmap(NULL, mem_bytes, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return probe_fail(err, err_bytes, "probe: mmap %zu bytes: %s",
				  mem_bytes, strerror(errno));
	(void)madvise(mem, mem_bytes, MADV_HUGEPAGE); /* a hint */
	uint64_t t0 = now_ns();
	memset(mem, 0, mem_bytes);
	p->fresh_memory_ms = (double)(now_ns() - t0) / 1e6;
	for (size_t i = 0; i < mem_bytes / 8; i++)
		mem[i] = mix64(i + 7);

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		probe_fail(err, err_bytes, "probe: open %s: %s", path,
			   strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		probe_fail(err, err_bytes, "probe: fstat %s: %s", path,
			   strerror(errno));
		close(fd);
		goto out;
	}
	if (st.st_size < 8) {
		probe_fail(err, err_bytes, "probe: %s is empty", path);
		close(fd);
		goto out;
	}
	/* the whole file probe_bandwidth wrote, in 8-byte words */
	file_bytes = (size_t)st.st_size & ~(size_t)7;
	hash_bytes = cfg->snapshot_bytes < file_bytes
			     ? (size_t)cfg->snapshot_bytes
			     : file_bytes;
	const uint64_t *file = mmap(NULL, file_bytes, PROT_READ,
				    MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	if (file == MAP_FAILED) {
		probe_fail(err, err_bytes, "probe: mmap %s: %s", path,
			   strerror(errno));
		goto out;
	}
	t0 = now_ns();
	probe_sink = XXH3_64bits(file, hash_bytes);
	p->hash_snapshot_ms = (double)(now_ns() - t0) / 1e6;

	uint64_t mem_words = mem_bytes / 8, file_words = file_bytes / 8;
	/* a first pass warms the page tables and the caches' steady state */
	(void)chase_ns(mem, mem_words, file, file_words, cfg->chase_reads / 4);
	p->read_memory_ns = chase_ns(mem, mem_words, NULL, 0,
				     cfg->chase_reads);
	p->read_mapped_ns = chase_ns(file, file_words, NULL, 0,
				     cfg->chase_reads);
	p->read_memory_then_mapped_ns =
		chase_ns(mem, mem_words, file, file_words, cfg->chase_reads);
	p->read_mapped_then_mapped_ns =
		chase_ns(file, file_words, file, file_words, cfg->chase_reads);
	munmap((void *)file, file_bytes);
	ok = true;
out:
	munmap(mem, mem_bytes);
	return ok;
}

/* The group commit probe's state, shared by its threads under mu. */
struct gc_probe {
	pthread_mutex_t mu;
	pthread_cond_t synced_cv; /* an fdatasync finished */
	pthread_cond_t gather_cv; /* every thread's record is written */
	int fd;
	uint64_t ring_bytes;      /* of the file, written round */
	unsigned threads;
	uint64_t written, synced; /* records */
	unsigned pending;         /* records since the last sync began */
	bool syncing, stop, failed;
	uint64_t ops;
	int sync_errno;
};

static void gc_deadline(struct timespec *ts, long us)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_nsec += us * 1000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *gc_writer(void *arg)
{
	struct gc_probe *g = arg;
	uint8_t rec[GC_RECORD_BYTES];
	uint64_t done = 0;

	fill_bytes(rec, sizeof rec, 5);
	pthread_mutex_lock(&g->mu);
	while (!g->stop && !g->failed) {
		uint64_t mine = ++g->written;
		off_t off = (off_t)((mine * GC_RECORD_BYTES) %
				    (g->ring_bytes - GC_RECORD_BYTES));
		rec[0] = (uint8_t)mine;
		if (!full_pwrite(g->fd, rec, sizeof rec, off)) {
			g->failed = true;
			g->sync_errno = errno;
			break;
		}
		if (++g->pending >= g->threads)
			pthread_cond_signal(&g->gather_cv);
		while (g->synced < mine && !g->failed) {
			if (g->syncing) {
				pthread_cond_wait(&g->synced_cv, &g->mu);
				continue;
			}
			g->syncing = true;
			struct timespec until;
			gc_deadline(&until, GC_GATHER_US);
			while (g->pending < g->threads && !g->stop &&
			       pthread_cond_timedwait(&g->gather_cv, &g->mu,
						      &until) == 0)
				;
			uint64_t upto = g->written;
			g->pending = 0;
			pthread_mutex_unlock(&g->mu);
			int rc = fdatasync(g->fd);
			int e = errno;
			pthread_mutex_lock(&g->mu);
			if (rc != 0) {
				g->failed = true;
				g->sync_errno = e;
			}
			g->synced = upto;
			g->syncing = false;
			pthread_cond_broadcast(&g->synced_cv);
		}
		done++;
	}
	g->ops += done;
	pthread_cond_broadcast(&g->synced_cv);
	pthread_cond_broadcast(&g->gather_cv);
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/* Committed records a second with `threads` writers for `seconds`. */
static bool gc_run(int fd, uint64_t ring_bytes, unsigned threads,
		   double seconds, double *ops_s, char *err, size_t err_bytes)
{
	struct gc_probe g = { .fd = fd, .ring_bytes = ring_bytes,
			      .threads = threads };
	pthread_t tid[GC_THREADS];
	unsigned started = 0;
	struct timespec pause = { (time_t)seconds,
				  (long)((seconds - (double)(time_t)seconds) *
					 1e9) };

	pthread_mutex_init(&g.mu, NULL);
	pthread_cond_init(&g.synced_cv, NULL);
	pthread_cond_init(&g.gather_cv, NULL);
	uint64_t t0 = now_ns();
	int create_err = 0;
	while (started < threads &&
	       (create_err = pthread_create(&tid[started], NULL, gc_writer,
					    &g)) == 0)
		started++;
	if (started == threads)
		nanosleep(&pause, NULL);
	pthread_mutex_lock(&g.mu);
	g.stop = true;
	pthread_cond_broadcast(&g.gather_cv);
	pthread_mutex_unlock(&g.mu);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	uint64_t ns = now_ns() - t0;
	pthread_cond_destroy(&g.gather_cv);
	pthread_cond_destroy(&g.synced_cv);
	pthread_mutex_destroy(&g.mu);
	if (started < threads)
		return probe_fail(err, err_bytes, "probe: starting a thread: "
				  "%s", strerror(create_err));
	if (g.failed)
		return probe_fail(err, err_bytes, "probe: group commit: %s",
				  strerror(g.sync_errno));
	*ops_s = (double)g.ops * 1e9 / (double)ns;
	return true;
}

/* One writer, then GC_THREADS, over the file probe_bandwidth wrote and
 * synced: each fdatasync writes data only, as an engine's over a
 * prefilled log. */
static bool probe_group_commit(struct probe *p, const char *path,
			       const struct probe_config *cfg, char *err,
			       size_t err_bytes)
{
	struct stat st;
	bool ok = false;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return probe_fail(err, err_bytes, "probe: open %s: %s", path,
				  strerror(errno));
	if (fstat(fd, &st) != 0)
		probe_fail(err, err_bytes, "probe: fstat %s: %s", path,
			   strerror(errno));
	else if (st.st_size < 2 * GC_RECORD_BYTES)
		probe_fail(err, err_bytes, "probe: %s is too short", path);
	else
		ok = gc_run(fd, (uint64_t)st.st_size, 1, cfg->gc_seconds,
			    &p->gc_one_ops_s, err, err_bytes) &&
		     gc_run(fd, (uint64_t)st.st_size, GC_THREADS,
			    cfg->gc_seconds, &p->gc_threads_ops_s, err,
			    err_bytes);
	if (ok)
		p->gc_threads_ratio = p->gc_threads_ops_s / p->gc_one_ops_s;
	if (close(fd) != 0 && ok)
		ok = probe_fail(err, err_bytes, "probe: close %s: %s", path,
				strerror(errno));
	return ok;
}

bool probe_run(struct probe *p, const char *dir,
	       const struct probe_config *cfg, char *err, size_t err_bytes)
{
	char path[PATH_MAX];
	bool ok;

	probe_init(p);
	int len = snprintf(path, sizeof path, "%s/probe.data", dir);
	if (len < 0 || (size_t)len >= sizeof path)
		return probe_fail(err, err_bytes, "probe: path too long");
	ok = probe_syncs(path, true, cfg->syncs, &p->append_sync_p50_us,
			 &p->append_sync_p99_us, err, err_bytes) &&
	     probe_syncs(path, false, cfg->syncs, &p->overwrite_sync_p50_us,
			 &p->overwrite_sync_p99_us, err, err_bytes) &&
	     probe_bandwidth(p, path, cfg, err, err_bytes) &&
	     probe_memory(p, path, cfg, err, err_bytes) &&
	     probe_group_commit(p, path, cfg, err, err_bytes);
	if (unlink(path) != 0 && errno != ENOENT && ok)
		ok = probe_fail(err, err_bytes, "probe: unlink %s: %s", path,
				strerror(errno));
	return ok;
}
