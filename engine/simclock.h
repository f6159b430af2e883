/* SPDX-License-Identifier: MIT */
/*
 * simclock.h - simulated monotonic time, and the threads that sleep on it,
 * for the I/O layers that run in memory (io_memory.c, io_fault.c).  They
 * fill the mono_us, thread and wait slots of their lk_io table from here,
 * so that a test runs the engine's background threads (the interval
 * syncer, compaction) deterministically and without sleeping.
 *
 * Model (a discrete-event simulation).  Time stands still until
 * simclock_advance_us() moves it.  A thread started through the clock
 * (simclock_thread_start) that sleeps (simclock_wait_until) is "parked"
 * while its deadline is in the future and its wait is not stopped.
 * simclock_advance_us(c, us):
 *   1. waits until every such thread is parked or has returned ("settled":
 *      a thread just started has reached its first sleep);
 *   2. moves the clock to the earliest deadline of a parked thread, if it
 *      is within the target, wakes the threads due and settles again, and
 *      repeats; then moves the clock to the target and settles.
 * So each sleeper wakes at exactly its deadline, in deadline order, and
 * when advance returns every background thread has done what fell due:
 * the I/O calls of a run happen in the same order every time, and a power
 * cut at call N is the same cut in every replay.
 *
 * A thread the clock did not start (the caller's, e.g. compaction's rate
 * limit inside lk_compact()) that sleeps moves the clock to its deadline
 * at once and returns: simulated time passes while it sleeps.  It does not
 * settle the others, since it may hold a lock they need.
 *
 * The caller of simclock_advance_us() must hold no lock that a background
 * thread takes (no handle's lock: call it between API calls), or the
 * settle never ends.
 */
#ifndef LK_SIMCLOCK_H
#define LK_SIMCLOCK_H

#include <stdint.h>

#include "io.h"

/* Where simulated time starts: not 0, so that "0: never" stays free. */
#define SIMCLOCK_START_US UINT64_C(1000000)

struct simclock;

/* Returns LK_OK or LK_NOMEM. */
lk_status simclock_new(struct simclock **c);
/* Every thread started on c must have been joined. */
void simclock_free(struct simclock *c);

uint64_t simclock_now_us(struct simclock *c);
void simclock_advance_us(struct simclock *c, uint64_t us);

/* Sets the mono_us, thread and wait slots of io to the clock's.  io->ctx
 * must point at a struct whose first member is its struct simclock *. */
void simclock_fill_io(lk_io *io);

#endif /* LK_SIMCLOCK_H */
