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
 * Latencies go into a histogram; the data written is pseudo-random (not
 * compressible, for a file system that compresses).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "bench_util.h"
#include "probe.h"

#define PROBE_BLOCK_BYTES 4096u
#define PROBE_WRITE_BYTES ((size_t)1 << 20)

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
	     probe_bandwidth(p, path, cfg, err, err_bytes);
	if (unlink(path) != 0 && errno != ENOENT && ok)
		ok = probe_fail(err, err_bytes, "probe: unlink %s: %s", path,
				strerror(errno));
	return ok;
}
