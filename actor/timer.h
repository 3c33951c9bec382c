/* troupe — the timer thread (private to actor/): timer.c. */
#ifndef TROUPE_ACTOR_TIMER_H
#define TROUPE_ACTOR_TIMER_H

#include "actor/actor.h"

/* Start and stop rt's timer thread. tr__timers_start: TR_ENOMEM. */
int tr__timers_start(tr_runtime *rt);
void tr__timers_stop(tr_runtime *rt);
/* tr__timers_pending: timers armed now (metrics). Any thread. */
size_t tr__timers_pending(tr_runtime *rt);
/* tr__timer_start: a timer that delivers a message of kind/sys/tag/ref
 * with a copy of data to `to` after delay ms, then every period ms (0:
 * once). TR_ENOMEM, TR_ECLOSED. */
int tr__timer_start(tr_runtime *rt, tr_pid to, tr_duration_ms delay, tr_duration_ms period,
                    uint32_t kind, uint8_t sys, uint32_t tag, uint64_t ref, const void *data,
                    size_t size, tr_timer *out);

#endif
