/* SPDX-License-Identifier: MIT */
/*
 * simclock.c - simulated monotonic time and the threads that sleep on it
 * (see simclock.h for the model).
 *
 * State, all under one mutex, with one condition variable that every
 * change broadcasts on (a handful of threads: simple beats clever):
 *   now_us    the simulated clock;
 *   live      threads started and not yet returned from their function;
 *   sleepers  a list of the clock's threads inside wait_until, each node
 *             on its sleeper's stack, with its deadline and wait.
 * A sleeper is parked while its wait is not stopped and its deadline is
 * after now_us; the clock is settled when every live thread is parked.
 * A sleeper broadcasts once as it parks (the settle may be waiting for
 * it), never when it wakes to find itself still parked, so that sleepers
 * do not wake each other forever.
 *
 * The threads themselves are the POSIX layer's (the only file that calls
 * the OS); a trampoline counts them in and out.
 */
#include <assert.h>
#include <pthread.h>
#include <stdint.h>

#include "alloc.h"
#include "error.h"
#include "simclock.h"

struct sleeper {
	struct sleeper *next;
	struct lk_io_wait *wait;
	uint64_t deadline_us;
};

struct simclock {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	uint64_t now_us;
	uint64_t live;
	struct sleeper *sleepers;
};

struct lk_io_thread {
	struct simclock *clock;
	void (*fn)(void *arg);
	void *arg;
	lk_io_thread *real; /* the POSIX layer's */
};

struct lk_io_wait {
	int stopped;
};

/* The clock whose thread this is; NULL on the caller's threads. */
static _Thread_local struct simclock *own_clock;

lk_status simclock_new(struct simclock **out)
{
	struct simclock *c;

	assert(out != NULL);
	*out = NULL;
	c = mem_calloc(1, sizeof *c);
	if (c == NULL)
		return err_set(LK_NOMEM, "simulated clock: out of memory");
	if (pthread_mutex_init(&c->mutex, NULL) != 0) {
		mem_free(c);
		return err_set(LK_NOMEM, "simulated clock: no mutex");
	}
	if (pthread_cond_init(&c->cond, NULL) != 0) {
		pthread_mutex_destroy(&c->mutex);
		mem_free(c);
		return err_set(LK_NOMEM, "simulated clock: no condition");
	}
	c->now_us = SIMCLOCK_START_US;
	*out = c;
	return LK_OK;
}

void simclock_free(struct simclock *c)
{
	if (c == NULL)
		return;
	assert(c->live == 0 && c->sleepers == NULL);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->mutex);
	mem_free(c);
}

uint64_t simclock_now_us(struct simclock *c)
{
	uint64_t now;

	pthread_mutex_lock(&c->mutex);
	now = c->now_us;
	pthread_mutex_unlock(&c->mutex);
	return now;
}

/* ---------------------------------------------------------------------- */
/* Advancing (mutex held)                                                 */
/* ---------------------------------------------------------------------- */

static int parked(const struct simclock *c, const struct sleeper *s)
{
	return !s->wait->stopped && s->deadline_us > c->now_us;
}

static void settle(struct simclock *c)
{
	for (;;) {
		uint64_t n = 0;

		for (const struct sleeper *s = c->sleepers; s; s = s->next)
			n += (uint64_t)parked(c, s);
		assert(n <= c->live);
		if (n == c->live)
			return;
		pthread_cond_wait(&c->cond, &c->mutex);
	}
}

/* The earliest deadline of a parked sleeper, or UINT64_MAX. */
static uint64_t next_deadline(const struct simclock *c)
{
	uint64_t next = UINT64_MAX;

	for (const struct sleeper *s = c->sleepers; s; s = s->next)
		if (parked(c, s) && s->deadline_us < next)
			next = s->deadline_us;
	return next;
}

void simclock_advance_us(struct simclock *c, uint64_t us)
{
	uint64_t target;

	assert(own_clock != c); /* a background thread would wait for itself */
	pthread_mutex_lock(&c->mutex);
	settle(c);
	target = us > UINT64_MAX - c->now_us ? UINT64_MAX : c->now_us + us;
	for (;;) {
		uint64_t next = next_deadline(c);

		c->now_us = next < target ? next : target;
		pthread_cond_broadcast(&c->cond);
		settle(c);
		if (c->now_us == target)
			break;
	}
	pthread_mutex_unlock(&c->mutex);
}

/* ---------------------------------------------------------------------- */
/* Threads                                                                */
/* ---------------------------------------------------------------------- */

static void trampoline(void *arg)
{
	struct lk_io_thread *t = arg;
	struct simclock *c = t->clock;

	own_clock = c;
	t->fn(t->arg);
	pthread_mutex_lock(&c->mutex);
	assert(c->live > 0);
	c->live--;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mutex);
}

/* The clock of a layer: the first member of what ctx points at. */
static struct simclock *clock_of(void *ctx)
{
	struct simclock *c = *(struct simclock **)ctx;

	assert(c != NULL);
	return c;
}

static uint64_t sc_mono_us(void *ctx)
{
	return simclock_now_us(clock_of(ctx));
}

static lk_status sc_thread_start(void *ctx, lk_io_thread **out,
				 void (*fn)(void *arg), void *arg)
{
	const lk_io *px = lk_io_posix();
	struct simclock *c = clock_of(ctx);
	struct lk_io_thread *t;
	lk_status st;

	assert(out != NULL && fn != NULL);
	*out = NULL;
	t = mem_calloc(1, sizeof *t);
	if (t == NULL)
		return err_set(LK_NOMEM, "starting a thread: out of memory");
	t->clock = c;
	t->fn = fn;
	t->arg = arg;
	/* Counted before it runs, so that a settle waits for its first
	 * sleep. */
	pthread_mutex_lock(&c->mutex);
	c->live++;
	pthread_mutex_unlock(&c->mutex);
	st = px->thread_start(px->ctx, &t->real, trampoline, t);
	if (st != LK_OK) {
		pthread_mutex_lock(&c->mutex);
		c->live--;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->mutex);
		mem_free(t);
		return st;
	}
	*out = t;
	return LK_OK;
}

static void sc_thread_join(void *ctx, lk_io_thread *t)
{
	const lk_io *px = lk_io_posix();

	assert(t != NULL && t->clock == clock_of(ctx));
	px->thread_join(px->ctx, t->real);
	mem_free(t);
}

/* ---------------------------------------------------------------------- */
/* Sleeps                                                                 */
/* ---------------------------------------------------------------------- */

static lk_status sc_wait_new(void *ctx, lk_io_wait **out)
{
	(void)ctx;
	assert(out != NULL);
	*out = mem_calloc(1, sizeof **out);
	if (*out == NULL)
		return err_set(LK_NOMEM, "a sleep: out of memory");
	return LK_OK;
}

static void sc_wait_free(void *ctx, lk_io_wait *w)
{
	(void)ctx;
	mem_free(w);
}

static int sc_wait_until(void *ctx, lk_io_wait *w, uint64_t deadline_us)
{
	struct simclock *c = clock_of(ctx);
	struct sleeper me = { NULL, w, deadline_us };
	struct sleeper **p;
	int stopped;

	assert(w != NULL);
	pthread_mutex_lock(&c->mutex);
	if (own_clock != c) {
		/* The caller's thread: time passes while it sleeps. */
		if (!w->stopped && deadline_us > c->now_us) {
			c->now_us = deadline_us;
			pthread_cond_broadcast(&c->cond);
		}
		stopped = w->stopped;
		pthread_mutex_unlock(&c->mutex);
		return stopped;
	}
	me.next = c->sleepers;
	c->sleepers = &me;
	if (parked(c, &me)) {
		pthread_cond_broadcast(&c->cond);
		while (parked(c, &me))
			pthread_cond_wait(&c->cond, &c->mutex);
	}
	for (p = &c->sleepers; *p != &me; p = &(*p)->next)
		assert(*p != NULL);
	*p = me.next;
	stopped = w->stopped;
	pthread_mutex_unlock(&c->mutex);
	return stopped;
}

static void sc_wait_stop(void *ctx, lk_io_wait *w)
{
	struct simclock *c = clock_of(ctx);

	assert(w != NULL);
	pthread_mutex_lock(&c->mutex);
	w->stopped = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mutex);
}

void simclock_fill_io(lk_io *io)
{
	assert(io != NULL && io->ctx != NULL);
	io->mono_us = sc_mono_us;
	io->thread_start = sc_thread_start;
	io->thread_join = sc_thread_join;
	io->wait_new = sc_wait_new;
	io->wait_free = sc_wait_free;
	io->wait_until = sc_wait_until;
	io->wait_stop = sc_wait_stop;
}
