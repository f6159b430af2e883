/* SPDX-License-Identifier: MIT */
/*
 * memfs.h - a file system in memory: the core that the in-memory layer
 * (io_memory.c) and the fault-injecting layer (io_fault.c) share.  It
 * owns files, directories, names, sizes, handles, the lock and the
 * clocks, and fills an lk_io table with them; a layer on top adds what it
 * needs through the hooks of struct memfs_layer: io_memory.c adds nothing,
 * io_fault.c counts and fails calls (gate), keeps the pending operations
 * of every change (prepare, commit, abort), makes them durable (settle)
 * and simulates power cuts (memfs_kill_handles).
 *
 * Semantics (logkeep_io.h's contract, as POSIX has it): open without
 * create of a missing file is LK_NOT_FOUND, exclusive create of an
 * existing one LK_EXISTS; an unlinked or replaced file stays readable and
 * writable through the handles open on it; rename replaces its target
 * atomically; pwrite past the end and a growing truncate fill the gap
 * with zeroes; a lock is exclusive across every handle of the file system
 * and released by close; dir_list gives the newest names first, so that
 * nothing in the engine comes to depend on listing order.
 *
 * Layout
 * ------
 *
 *   memfs --dirs--> memfs_dir "db" --names--> memfs_name "LOCK"  live --+
 *    mutex, clock                             memfs_name "seg-1" ...    |
 *    layer (hooks)                                                      v
 *    inodes ---------------------------------> memfs_inode (cur image,
 *    files: lk_io_file (inode, dead) ...        refs, locked)
 *    dir_handles: lk_io_dir (dir, dead) ...
 *
 *  - A directory is named by its path string, exactly as given ("db" and
 *    "db/" are two), has no parent, and lives until memfs_fini().
 *  - An inode is a file's contents: `cur`, what reads see.  Its refs
 *    count the names whose live or durable binding is it, the open
 *    handles on it, and the references a layer takes (memfs_inode_get);
 *    it is freed (the layer's inode_free hook first) when they reach 0.
 *    That is what keeps an unlinked file readable through its handles.
 *  - A name binds a plain file name to an inode (live: what a running
 *    system sees) and to a second one a layer may keep (durable: the
 *    fault layer's "what the disk holds under the name"; the core only
 *    keeps the reference).  It is freed as soon as it binds nothing and no
 *    layer pins it (pins: the fault layer's pending entry operations).
 *  - A layer's inode and directory are structs that begin with the core's
 *    (inode_bytes, dir_bytes); the core allocates them zeroed.
 *  - A mapping (io map) is a pointer into an inode's `cur` bytes, which
 *    must then never move: map reserves the capacity it shows, and a
 *    write or truncate past that capacity while a mapping is open is a
 *    broken contract (asserted).  A power cut copies the durable image
 *    into `cur` in place, so a mapping stays valid memory after one.
 *
 * Invariants: one mutex per file system, held for every call, because the
 * engine calls from several threads; dir_list releases it before calling
 * back, so the callback may use the file system.  Every allocation of a
 * call is made before anything changes, so LK_NOMEM leaves the file
 * system as it was.  Every growth of a file passes memfs_room(), the one
 * place for a bound on what a file system may hold: the layer's
 * file_bytes_max per file, and the device's capacity_bytes in all
 * (memfs_set_capacity), LK_NOSPACE past either, as on a full disk.
 */
#ifndef LK_MEMFS_H
#define LK_MEMFS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"

struct simclock;
struct memfs;

/* The counted calls, in the order of io_fault.h's fault_kind. */
enum memfs_call {
	MEMFS_CALL_DIR_OPEN,
	MEMFS_CALL_DIR_LIST,
	MEMFS_CALL_DIR_SYNC,
	MEMFS_CALL_RENAME,
	MEMFS_CALL_UNLINK,
	MEMFS_CALL_LOCK,
	MEMFS_CALL_OPEN,
	MEMFS_CALL_READ,
	MEMFS_CALL_WRITE,
	MEMFS_CALL_SYNC,
	MEMFS_CALL_TRUNCATE,
	MEMFS_CALL_SIZE,
	MEMFS_CALL_COUNT
};

/* An image of a file's bytes; capacity_bytes >= size_bytes. */
struct memfs_img {
	unsigned char *bytes;
	size_t capacity_bytes;
	uint64_t size_bytes;
};

struct memfs_inode {
	struct memfs_inode *next, *prev; /* fs->inodes */
	struct memfs_img cur;            /* what reads see */
	uint32_t refs;
	uint32_t maps;                   /* mappings of cur (io map) */
	int locked;                      /* a handle holds the lock */
};

struct memfs_name {
	struct memfs_name *next;
	struct memfs_inode *live;    /* NULL: no file of this name */
	struct memfs_inode *durable; /* the layer's; holds a reference */
	uint32_t pins;               /* the layer's */
	char *name;                  /* stored after the struct */
};

struct memfs_dir {
	struct memfs_dir *next;
	struct memfs_name *names; /* newest first */
	char *path;               /* stored after the layer's struct */
};

struct lk_io_file {
	struct lk_io_file *next, *prev; /* fs->files */
	struct memfs_inode *inode;      /* NULL once dead */
	int writable;
	int holds_lock;
	int dead;                       /* memfs_kill_handles() */
	/* The inode a map of this handle shows, with a reference of its
	 * own: unmap finds it after a power cut killed the handle. */
	struct memfs_inode *mapped;
	char name[IO_NAME_BYTES_MAX + 1]; /* for error details */
};

struct lk_io_dir {
	struct lk_io_dir *next, *prev; /* fs->dir_handles */
	struct memfs_dir *dir;         /* NULL once dead */
	int dead;
};

/* A change the core is about to make, shown to the layer's hooks. */
enum memfs_change_kind {
	MEMFS_CREATE,   /* name `from` bound to the new inode */
	MEMFS_RENAME,   /* from's inode moved to `to` */
	MEMFS_UNLINK,   /* name `from` unbound */
	MEMFS_WRITE,    /* n bytes of buf at offset into inode */
	MEMFS_TRUNCATE, /* inode's size set to offset */
};

struct memfs_change {
	enum memfs_change_kind kind;
	struct memfs_dir *dir;
	struct memfs_name *from, *to;
	struct memfs_inode *inode;
	const void *buf;
	size_t n;
	uint64_t offset;
	void *record; /* the layer's, from prepare to commit or abort */
};

/* What a layer adds.  Every hook is called with the mutex held; NULL
 * hooks do nothing. */
struct memfs_layer {
	const char *name;           /* "memory", "fault": for details */
	uint64_t file_bytes_max;    /* memfs_room() refuses growth past it */
	size_t inode_bytes;         /* >= sizeof(struct memfs_inode) */
	size_t dir_bytes;           /* >= sizeof(struct memfs_dir) */
	/* First thing of every counted call: LK_OK lets it run; a failure
	 * (with the detail set) is its result.  `what` names the file or
	 * directory; for MEMFS_WRITE, ch holds the write (ch->inode NULL for
	 * a dead handle), else ch is NULL. */
	lk_status (*gate)(struct memfs *fs, enum memfs_call call,
			  const char *verb, const char *what,
			  const lk_io_file *file,
			  const struct memfs_change *ch);
	/* Before a change, after every check and the core's own
	 * allocations but its last: allocates what the layer records of it
	 * in ch->record.  LK_OK or LK_NOMEM; prepare is called even when an
	 * allocation of the core failed, so that a call makes the same
	 * allocations whatever fails. */
	lk_status (*prepare)(struct memfs *fs, struct memfs_change *ch);
	/* After the change was made (references of the core taken). */
	void (*commit)(struct memfs *fs, struct memfs_change *ch);
	/* Instead of commit when the change is not made. */
	void (*abort)(struct memfs *fs, struct memfs_change *ch);
	/* sync and dir_sync, after the gate and the dead-handle check. */
	void (*settle_inode)(struct memfs *fs, struct memfs_inode *inode);
	void (*settle_dir)(struct memfs *fs, struct memfs_dir *dir);
	/* Before the core frees an inode or (in memfs_fini) a directory. */
	void (*inode_free)(struct memfs *fs, struct memfs_inode *inode);
	void (*dir_free)(struct memfs *fs, struct memfs_dir *dir);
};

struct memfs {
	struct simclock *clock; /* first: simclock_fill_io() finds it here */
	lk_io io;               /* io.ctx points back here */
	pthread_mutex_t mutex;
	const struct memfs_layer *layer;
	struct memfs_dir *dirs;
	struct memfs_inode *inodes;
	struct lk_io_file *files;
	struct lk_io_dir *dir_handles;
	uint64_t now_ms;
	uint64_t capacity_bytes; /* the device's size; 0: no limit */
};

/* Sets up *fs (zeroed by the caller, who embeds it first in its own
 * struct) with an empty file system and its table in fs->io.  Returns
 * LK_OK or LK_NOMEM. */
lk_status memfs_init(struct memfs *fs, const struct memfs_layer *layer);
/* Frees everything, handles still open too. */
void memfs_fini(struct memfs *fs);

void memfs_enter(const struct memfs *fs);
void memfs_leave(const struct memfs *fs);

/* With the mutex held. */
void memfs_inode_get(struct memfs_inode *inode);
void memfs_inode_put(struct memfs *fs, struct memfs_inode *inode);
/* Frees `name` if it binds nothing and is not pinned; prune: every such
 * name of the directory. */
void memfs_name_release(struct memfs_dir *dir, struct memfs_name *name);
void memfs_names_prune(struct memfs_dir *dir);
/* LK_OK, or LK_NOSPACE with the detail if the file of `inode` may not
 * grow to end: past the layer's file_bytes_max, or past the device's
 * capacity (the sum of every inode's size, unlinked files still open
 * included; writes within a file's size and shrinking always fit). */
lk_status memfs_room(const struct memfs *fs, const char *verb,
		     const char *name, const struct memfs_inode *inode,
		     uint64_t end);
/* A device of `bytes` bytes (0: no limit, the default): see memfs_room.
 * Directory entries take no space.  Takes the mutex. */
void memfs_set_capacity(struct memfs *fs, uint64_t bytes);
/* A write into the inode, as pwrite makes it (prepare, commit); LK_OK or
 * LK_NOMEM without a detail.  The caller checked memfs_room(). */
lk_status memfs_inode_write(struct memfs *fs, struct memfs_inode *inode,
			    const void *buf, size_t n, uint64_t offset);
/* Every handle dies: it points at nothing any more (its reference and
 * its lock go), and every call on it but close fails with LK_IO. */
void memfs_kill_handles(struct memfs *fs);

/* Images: room for `end` bytes (LK_NOMEM, without a detail, leaves the
 * image as it was); the n bytes at offset after zeroing any gap and
 * growing the size over them; a new size within the capacity. */
lk_status memfs_img_reserve(struct memfs_img *img, uint64_t end,
			    uint64_t max);
unsigned char *memfs_img_span(struct memfs_img *img, uint64_t offset,
			      size_t n);
void memfs_img_truncate(struct memfs_img *img, uint64_t size);

#endif /* LK_MEMFS_H */
