/* SPDX-License-Identifier: MIT */
/*
 * io_memory.c - the in-memory layer of logkeep_io.h (lk_io_memory_new),
 * for tests, fuzzers and embedders that want a throwaway store.
 *
 * It is the file system in memory of memfs.h with no hook: the core's
 * POSIX semantics, so that a test on it says something about the real
 * thing, and nothing on top.  sync and dir_sync do nothing: every write
 * is "durable" at once.  Power cuts and faults are the business of the
 * fault-injecting layer (io_fault.c), the same core with hooks.
 *
 * A file stops growing at FILE_BYTES_MAX (LK_NOSPACE), which keeps a
 * runaway test from eating the machine.  The clocks are simulated, so
 * that tests are deterministic: now_ms is frozen at the real time of
 * creation and moves only with lk_io_memory_set_time_ms(); mono_us, the
 * threads and the sleeps are a simclock.h clock, which moves only with
 * lk_io_memory_advance_us().
 */
#include <stdint.h>

#include "alloc.h"
#include "error.h"
#include "io.h"
#include "memfs.h"
#include "simclock.h"

/* 4 GiB is four times the largest segment (logkeep_limits.h) and more
 * than a test should ever hold in memory. */
#define FILE_BYTES_MAX (UINT64_C(4) * 1024 * 1024 * 1024)

static const struct memfs_layer memory_layer = {
	.name = "memory",
	.file_bytes_max = FILE_BYTES_MAX,
	.inode_bytes = sizeof(struct memfs_inode),
	.dir_bytes = sizeof(struct memfs_dir),
	/* no hooks */
};

/* The file system behind an lk_io made here; asserts that it is one. */
static struct memfs *fs_of(lk_io *io)
{
	struct memfs *fs = io->ctx;

	LK_ASSERT(fs != NULL && &fs->io == io && fs->layer == &memory_layer);
	return fs;
}

lk_status lk_io_memory_new(lk_io **io)
{
	struct memfs *fs;

	LK_ASSERT(io != NULL);
	*io = NULL;
	fs = mem_calloc(1, sizeof *fs);
	if (fs == NULL)
		return err_set(LK_NOMEM, "memory file system: out of memory");
	if (memfs_init(fs, &memory_layer) != LK_OK) {
		mem_free(fs);
		return LK_NOMEM;
	}
	*io = &fs->io;
	return LK_OK;
}

void lk_io_memory_free(lk_io *io)
{
	struct memfs *fs;

	if (io == NULL)
		return;
	fs = fs_of(io);
	/* Open handles would point into freed memory. */
	LK_ASSERT(fs->files == NULL && fs->dir_handles == NULL);
	memfs_fini(fs);
	mem_free(fs);
}

void lk_io_memory_set_time_ms(lk_io *io, uint64_t now_ms)
{
	struct memfs *fs = fs_of(io);

	memfs_enter(fs);
	fs->now_ms = now_ms;
	memfs_leave(fs);
}

void lk_io_memory_advance_us(lk_io *io, uint64_t us)
{
	simclock_advance_us(fs_of(io)->clock, us);
}
