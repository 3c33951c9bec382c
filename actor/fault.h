/* troupe — allocation-failure injection: the test-only API (private).
 *
 * Only in the library built with TR_FAULT_INJECTION (troupe_fault, which
 * test/test_alloc_fail.c links); see mailbox/alloc.h. Not thread-safe
 * against itself: one test thread arms and disarms.
 */
#ifndef TROUPE_ACTOR_FAULT_H
#define TROUPE_ACTOR_FAULT_H

#include <stdint.h>

#include <troupe/actor.h>

#ifdef TR_FAULT_INJECTION
/* tr__fault_arm: from now on, allocations by rt's threads (its scheduler
 * threads, its timer thread, and the calling thread) are counted; the
 * nth one (1 = the next) fails, then every every-th one after it (0: only
 * the nth). Resets the counts. */
void tr__fault_arm(tr_runtime *rt, uint64_t nth, uint64_t every);

/* tr__fault_disarm: no allocation fails any more; the calling thread (the
 * one that armed) lets go of rt. Returns how many were made to fail since
 * tr__fault_arm. */
uint64_t tr__fault_disarm(tr_runtime *rt);

/* tr__fault_detach: the calling thread lets go of the runtime it armed
 * (without touching it: after tr_runtime_free, which frees it). */
void tr__fault_detach(void);

/* tr__fault_count: allocations counted since tr__fault_arm. */
uint64_t tr__fault_count(tr_runtime *rt);
#endif

#endif
