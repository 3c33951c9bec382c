/* troupe — the timer thread (private to actor/): timer.c. */
#ifndef TROUPE_ACTOR_TIMER_H
#define TROUPE_ACTOR_TIMER_H

#include "actor/actor.h"

/* Start and stop rt's timer thread. tr__timers_start: TR_ENOMEM.
 * tr__timers_stop: no timer fires or starts from then on; the structure
 * stays for the scheduler threads until tr__timers_free (after they are
 * joined). */
int tr__timers_start(tr_runtime *rt);
void tr__timers_stop(tr_runtime *rt);
void tr__timers_free(tr_runtime *rt);
/* tr__timers_park: scheduler thread s, about to park (its park_mu held),
 * takes the duty of waiting for the earliest timer unless another thread
 * has it; true when it has it, with *wake_us: when to wake for it
 * (microseconds of tr__now_us; TR__NEVER: no timer yet: a new earliest
 * timer wakes s with tr__sched_nudge). tr__timers_unpark: s gives the duty
 * back after its wait and, when fire, fires the timers due now from this
 * thread (park_mu not held); returns how many fired. */
bool tr__timers_park(tr_runtime *rt, tr__sched *s, int64_t *wake_us);
unsigned tr__timers_unpark(tr_runtime *rt, tr__sched *s, bool fire);
/* tr__timers_pending: timers armed now (metrics). Any thread. */
size_t tr__timers_pending(tr_runtime *rt);
/* tr__timer_start: a timer that delivers a message of kind/sys/tag/ref
 * with a copy of data to `to` after delay ms, then every period ms (0:
 * once). TR_ENOMEM, TR_ECLOSED. */
int tr__timer_start(tr_runtime *rt, tr_pid to, tr_duration_ms delay, tr_duration_ms period,
                    uint32_t kind, uint8_t sys, uint32_t tag, uint64_t ref, const void *data,
                    size_t size, tr_timer *out);

#endif
