/* SPDX-License-Identifier: MIT */
/*
 * lock.h - the engine's mutexes and its reader-writer lock, wrapped so
 * that they know who holds them: the lock order of handle.h and every
 * "caller holds ..." of the module headers are checked, in every build,
 * by LK_ASSERT (contract.h), instead of being comments.
 *
 * Each lock has a rank; a thread takes locks in increasing rank only
 * (lock_take asserts that it holds none of the same or a higher rank),
 * so two threads can never wait for each other.  Which ranks a thread
 * holds is a thread-local bit mask, so lock_held() answers "does the
 * calling thread hold it" for a mutex and for the rwlock, shared or
 * exclusive, at the cost of a load and a mask.
 */
#ifndef LK_LOCK_H
#define LK_LOCK_H

#include <pthread.h>

#include "contract.h"

/* The ranks, in the order they are taken (handle.h explains each). */
enum lock_rank {
	LOCK_COMPACT = 1, /* compact_mu: one compaction at a time */
	LOCK_NS,          /* ns_mu: the namespace names */
	LOCK_WRITE,       /* write_mu: the committers' queue */
	LOCK_LOG,         /* log_mu: the active segment's write state */
	LOCK_IX,          /* ix_lock: the index and the segment table */
	LOCK_COMPACT_CV,  /* compact_cv_mu: the compactor's stop flag */
	LOCK_WAITERS,     /* wait_mu: the change feeds waiting for commits */
	LOCK_RANK_COUNT
};

struct lk_mutex {
	pthread_mutex_t mu;
	enum lock_rank rank;
};

struct lk_rwlock {
	pthread_rwlock_t rw;
	enum lock_rank rank;
};

void mutex_init(struct lk_mutex *m, enum lock_rank rank);
void mutex_destroy(struct lk_mutex *m);
void mutex_lock(struct lk_mutex *m);
void mutex_unlock(struct lk_mutex *m);

/* prefer_writers: a writer waiting is served before new readers (glibc),
 * so that a stream of readers cannot starve the committer. */
void rwlock_init(struct lk_rwlock *l, enum lock_rank rank, int prefer_writers);
void rwlock_destroy(struct lk_rwlock *l);
void rwlock_rdlock(struct lk_rwlock *l);
void rwlock_wrlock(struct lk_rwlock *l);
void rwlock_unlock(struct lk_rwlock *l);

/* 1 if the calling thread holds the lock of that rank (shared or
 * exclusive for the rwlock); lock_held_excl: exclusively. */
int lock_held(enum lock_rank rank);
int lock_held_excl(enum lock_rank rank);

#define mutex_held(m) lock_held((m)->rank)
#define rwlock_held(l) lock_held((l)->rank)
#define rwlock_held_excl(l) lock_held_excl((l)->rank)

#endif /* LK_LOCK_H */
