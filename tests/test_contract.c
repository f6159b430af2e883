/* SPDX-License-Identifier: MIT */
/*
 * test_contract.c - the engine's contracts check themselves (lock.h,
 * contract.h): LK_ASSERT stays on under NDEBUG, a lock taken out of rank
 * order aborts, and lock_held() answers for the calling thread only.
 *
 * Method: each breach runs in a forked child, which must die of SIGABRT
 * with the contract's message; what must hold runs in the test itself.
 */
#define NDEBUG 1 /* as a release build of an embedder might */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "contract.h"
#include "lock.h"

/* Runs fn in a child; 1 if the child died of SIGABRT. */
static int aborts(void (*fn)(void))
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* the child's own stderr carries the contract's message */
		fn();
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void broken_assert(void)
{
	volatile int zero = 0;

	LK_ASSERT(zero == 1);
}

static void lk_assert_stays_on_under_ndebug(void **state)
{
	(void)state;
	CHECK(aborts(broken_assert));
	LK_ASSERT(1 + 1 == 2); /* and a kept one costs nothing visible */
}

static void log_then_write(void)
{
	struct lk_mutex write_mu, log_mu;

	mutex_init(&write_mu, LOCK_WRITE);
	mutex_init(&log_mu, LOCK_LOG);
	mutex_lock(&log_mu);
	mutex_lock(&write_mu); /* write_mu ranks before log_mu */
}

static void ix_then_log(void)
{
	struct lk_rwlock ix;
	struct lk_mutex log_mu;

	rwlock_init(&ix, LOCK_IX, 1);
	mutex_init(&log_mu, LOCK_LOG);
	rwlock_rdlock(&ix);
	mutex_lock(&log_mu);
}

static void unlock_not_held(void)
{
	struct lk_mutex m;

	mutex_init(&m, LOCK_NS);
	mutex_unlock(&m);
}

static void locks_out_of_rank_order_abort(void **state)
{
	(void)state;
	CHECK(aborts(log_then_write));
	CHECK(aborts(ix_then_log));
	CHECK(aborts(unlock_not_held));
}

static struct lk_mutex shared_mu;
static int seen_by_other = -1;

static void *other_thread(void *arg)
{
	(void)arg;
	seen_by_other = mutex_held(&shared_mu);
	return NULL;
}

static void held_is_per_thread_and_in_order_is_fine(void **state)
{
	struct lk_mutex write_mu, log_mu;
	struct lk_rwlock ix;
	pthread_t t;

	(void)state;
	mutex_init(&shared_mu, LOCK_COMPACT);
	mutex_init(&write_mu, LOCK_WRITE);
	mutex_init(&log_mu, LOCK_LOG);
	rwlock_init(&ix, LOCK_IX, 1);

	mutex_lock(&shared_mu);
	mutex_lock(&write_mu);
	mutex_lock(&log_mu);
	rwlock_rdlock(&ix);
	CHECK(mutex_held(&shared_mu) && mutex_held(&log_mu));
	CHECK(rwlock_held(&ix) && !rwlock_held_excl(&ix));
	CHECK(pthread_create(&t, NULL, other_thread, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(seen_by_other == 0);
	rwlock_unlock(&ix);
	rwlock_wrlock(&ix);
	CHECK(rwlock_held_excl(&ix));
	rwlock_unlock(&ix);
	mutex_unlock(&log_mu);
	mutex_unlock(&write_mu);
	mutex_unlock(&shared_mu);
	CHECK(!mutex_held(&shared_mu) && !rwlock_held(&ix));
	/* released in any order, retaken in rank order */
	mutex_lock(&write_mu);
	mutex_lock(&log_mu);
	mutex_unlock(&write_mu);
	mutex_unlock(&log_mu);
	rwlock_destroy(&ix);
	mutex_destroy(&log_mu);
	mutex_destroy(&write_mu);
	mutex_destroy(&shared_mu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lk_assert_stays_on_under_ndebug),
		cmocka_unit_test(locks_out_of_rank_order_abort),
		cmocka_unit_test(held_is_per_thread_and_in_order_is_fine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
