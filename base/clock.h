/* troupe — the clock, deadlines and timed waits (private).
 *
 * One monotonic clock (CLOCK_MONOTONIC) for everything: tr_now_ms (public),
 * and tr__now_ns / tr__now_us / tr__now_ms inside. Every condition variable
 * that waits with a timeout is made by tr__cond_init_monotonic, so that its
 * deadlines (tr__abstime_after) are on the same clock.
 *
 * Checked arithmetic for durations and deadlines:
 * Every tr_duration_ms the API takes reaches a clock through these helpers,
 * so no sum or product overflows: signed overflow is undefined behaviour in
 * C, and in practice it wraps a huge delay into the past (an interval of
 * INT64_MAX ms used to fire hundreds of thousands of times a second).
 *
 * The rule: a deadline past the clock's range saturates to TR__NEVER, which
 * every wait treats as "wait forever" and the timer heap as "never fires".
 * A finite deadline never turns into TR_INFINITY on the way back
 * (tr__remaining_ms), so a finite timeout always ends.
 */
#ifndef TROUPE_BASE_CLOCK_H
#define TROUPE_BASE_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <troupe/actor.h>

/* Monotonic time since an arbitrary start, in nanoseconds, microseconds
 * and milliseconds. Any thread. */
int64_t tr__now_ns(void);
int64_t tr__now_us(void);
int64_t tr__now_ms(void);

/* tr__cond_init_monotonic: initializes *cv to time its waits on
 * CLOCK_MONOTONIC (the clock of tr__abstime_after). Returns 0, or
 * TR_ENOMEM when the condition variable cannot be made. */
int tr__cond_init_monotonic(pthread_cond_t *cv);

/* A deadline that never comes (also the saturated value of every sum). */
#define TR__NEVER INT64_MAX

/* a + b for a >= 0, saturating at TR__NEVER; b <= 0 adds nothing. */
static inline int64_t tr__sat_add(int64_t a, int64_t b) {
    int64_t r;
    if (b <= 0)
        return a;
    if (__builtin_add_overflow(a, b, &r))
        return TR__NEVER;
    return r;
}

/* a * b for a, b >= 0 (negative counts as 0), saturating at TR__NEVER. */
static inline int64_t tr__sat_mul(int64_t a, int64_t b) {
    int64_t r;
    if (a <= 0 || b <= 0)
        return 0;
    if (__builtin_mul_overflow(a, b, &r))
        return TR__NEVER;
    return r;
}

/* The deadline timeout_ms from now, in milliseconds of tr_now_ms():
 * TR__NEVER for TR_INFINITY and for a timeout past the clock's range; now
 * for 0 or any other negative value (callers reject those first). */
static inline int64_t tr__deadline_ms(tr_duration_ms timeout_ms) {
    if (timeout_ms == TR_INFINITY)
        return TR__NEVER;
    return tr__sat_add(tr_now_ms(), timeout_ms);
}

/* Milliseconds left until a deadline from tr__deadline_ms: TR_INFINITY
 * for TR__NEVER, otherwise >= 0 (0 once it has passed), so a finite
 * deadline never gives TR_INFINITY (-1). */
static inline tr_duration_ms tr__remaining_ms(int64_t deadline) {
    if (deadline == TR__NEVER)
        return TR_INFINITY;
    int64_t left = deadline - tr_now_ms(); /* both >= 0: no overflow */
    return left > 0 ? left : 0;
}

/* *ts = timeout_ms (>= 0) from now on CLOCK_MONOTONIC, for
 * pthread_cond_timedwait on a condition variable with that clock. Returns
 * false (ts unset) when the time is past time_t's range: wait untimed. */
static inline bool tr__abstime_after(struct timespec *ts, tr_duration_ms timeout_ms) {
    if (timeout_ms < 0)
        timeout_ms = 0;
    clock_gettime(CLOCK_MONOTONIC, ts);
    long nsec = ts->tv_nsec + (long)(timeout_ms % 1000) * 1000000L;
    time_t sec;
    if (__builtin_add_overflow(ts->tv_sec, timeout_ms / 1000 + (nsec >= 1000000000L), &sec))
        return false;
    ts->tv_sec = sec;
    ts->tv_nsec = nsec >= 1000000000L ? nsec - 1000000000L : nsec;
    return true;
}

#endif
