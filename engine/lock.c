/* SPDX-License-Identifier: MIT */
/*
 * lock.c - ranked locks that know their holders (see lock.h).
 */
#include "lock.h"

_Static_assert(LOCK_RANK_COUNT <= 32, "ranks fit the held mask");

/* Bit r: this thread holds the lock of rank r; excl: exclusively. */
static LK_TLS_FAST _Thread_local unsigned held_mask, excl_mask;

static void take(enum lock_rank rank, int exclusive)
{
	unsigned bit = 1u << rank;

	/* Increasing rank only: nothing of this rank or above is held. */
	LK_ASSERT((held_mask & ~(bit - 1u)) == 0);
	held_mask |= bit;
	if (exclusive)
		excl_mask |= bit;
}

static void give(enum lock_rank rank)
{
	unsigned bit = 1u << rank;

	LK_ASSERT(held_mask & bit);
	held_mask &= ~bit;
	excl_mask &= ~bit;
}

int lock_held(enum lock_rank rank)
{
	return (held_mask >> rank) & 1u;
}

int lock_held_excl(enum lock_rank rank)
{
	return (excl_mask >> rank) & 1u;
}

void mutex_init(struct lk_mutex *m, enum lock_rank rank)
{
	LK_ASSERT(rank > 0 && rank < LOCK_RANK_COUNT);
	LK_ASSERT(pthread_mutex_init(&m->mu, NULL) == 0);
	m->rank = rank;
}

void mutex_destroy(struct lk_mutex *m)
{
	LK_ASSERT(!lock_held(m->rank));
	(void)pthread_mutex_destroy(&m->mu);
}

void mutex_lock(struct lk_mutex *m)
{
	take(m->rank, 1);
	LK_ASSERT(pthread_mutex_lock(&m->mu) == 0);
}

void mutex_unlock(struct lk_mutex *m)
{
	give(m->rank);
	LK_ASSERT(pthread_mutex_unlock(&m->mu) == 0);
}

void rwlock_init(struct lk_rwlock *l, enum lock_rank rank, int prefer_writers)
{
	LK_ASSERT(rank > 0 && rank < LOCK_RANK_COUNT);
	l->rank = rank;
#if defined(__GLIBC__)
	if (prefer_writers) {
		pthread_rwlockattr_t attr;

		pthread_rwlockattr_init(&attr);
		pthread_rwlockattr_setkind_np(
			&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		LK_ASSERT(pthread_rwlock_init(&l->rw, &attr) == 0);
		pthread_rwlockattr_destroy(&attr);
		return;
	}
#else
	(void)prefer_writers;
#endif
	LK_ASSERT(pthread_rwlock_init(&l->rw, NULL) == 0);
}

void rwlock_destroy(struct lk_rwlock *l)
{
	LK_ASSERT(!lock_held(l->rank));
	(void)pthread_rwlock_destroy(&l->rw);
}

void rwlock_rdlock(struct lk_rwlock *l)
{
	take(l->rank, 0);
	LK_ASSERT(pthread_rwlock_rdlock(&l->rw) == 0);
}

void rwlock_wrlock(struct lk_rwlock *l)
{
	take(l->rank, 1);
	LK_ASSERT(pthread_rwlock_wrlock(&l->rw) == 0);
}

void rwlock_unlock(struct lk_rwlock *l)
{
	give(l->rank);
	LK_ASSERT(pthread_rwlock_unlock(&l->rw) == 0);
}
