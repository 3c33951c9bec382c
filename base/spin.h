/* troupe — a spinlock (private).
 *
 * A tiny test-and-test-and-set spinlock for very short critical sections
 * (per-actor link and signal lists, a scheduler thread's outbox), built on
 * base/atomic.h so that TSan sees it. After a short spin the slow path
 * yields the CPU.
 */
#ifndef TROUPE_BASE_SPIN_H
#define TROUPE_BASE_SPIN_H

#include "base/atomic.h"

typedef struct tr__spin {
    uint32_t v; /* 0 free, 1 held */
} tr__spin;

/* tr__spin_lock_slow: spins (cpu_relax, then sched_yield) until the lock
 * is taken. Called by tr__spin_lock when the first attempt fails. */
void tr__spin_lock_slow(tr__spin *s);

/* tr__spin_trylock: takes the lock if it is free; true when taken. */
static inline bool tr__spin_trylock(tr__spin *s) {
    return tr__load_acq_u32(&s->v) == 0 && tr__cas_acqrel_u32(&s->v, 0, 1);
}

/* tr__spin_lock: takes the lock (acquire). */
static inline void tr__spin_lock(tr__spin *s) {
    if (tr__cas_acqrel_u32(&s->v, 0, 1))
        return;
    tr__spin_lock_slow(s);
}

/* tr__spin_unlock: releases the lock (release). */
static inline void tr__spin_unlock(tr__spin *s) {
    tr__store_rel_u32(&s->v, 0);
}

#endif
