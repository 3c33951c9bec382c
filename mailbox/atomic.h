/* troupe — atomics (private).
 *
 * Normal builds use Concurrency Kit's ck_pr. ck_pr is inline assembly that
 * ThreadSanitizer cannot see, so a TSan build maps the same operations to
 * the compiler's __atomic builtins with the same (or stronger) ordering:
 * the algorithms are unchanged, and TSan checks them.
 *
 * Naming: tr_atomic_<op>_<type>; ptr, u64, u32, int, bool variants as
 * needed. Every operation documents its ordering in its name or comment.
 */
#ifndef TROUPE_MAILBOX_ATOMIC_H
#define TROUPE_MAILBOX_ATOMIC_H

#include <stdbool.h>
#include <stdint.h>

#if defined(__SANITIZE_THREAD__)
#define TR_TSAN 1
#include <sanitizer/tsan_interface.h>
/* Tell TSan about a happens-before edge made by a structure it cannot see
 * (ck_ring): release before handing p over, acquire after taking it. */
#define TR_TSAN_RELEASE(p) __tsan_release((void *)(p))
#define TR_TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
#else
#define TR_TSAN_RELEASE(p) ((void)0)
#define TR_TSAN_ACQUIRE(p) ((void)0)
#endif

#ifndef TR_TSAN
#include <ck_pr.h>
#endif

#ifdef TR_TSAN
#define TR__LD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define TR__LDR(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define TR__ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define TR__STR(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define TR__FAS(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define TR__CAS(p, e, v)                                                                           \
    __extension__({                                                                                \
        __typeof__(*(p)) tr__e = (e);                                                              \
        __atomic_compare_exchange_n((p), &tr__e, (v), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);  \
    })
#define TR__FAA(p, d) __atomic_fetch_add((p), (d), __ATOMIC_ACQ_REL)
/* TSan rejects standalone fences; a seq_cst RMW on a local is a full
 * barrier on the hardware (a locked instruction on x86) and TSan is fine. */
#define TR__FENCE()                                                                                \
    do {                                                                                           \
        int tr__f = 0;                                                                             \
        __atomic_fetch_add(&tr__f, 0, __ATOMIC_SEQ_CST);                                           \
    } while (0)
#endif

/* --- pointers ----------------------------------------------------------- */
/* load with acquire: later reads see what the storer wrote before its release */
static inline void *tr_atomic_load_ptr(void *const *p) {
#ifdef TR_TSAN
    return TR__LD((void **)p);
#else
    void *v = ck_pr_load_ptr(p);
    ck_pr_fence_load(); /* acquire: no later load moves above */
    return v;
#endif
}
/* store with release: earlier writes are visible to an acquiring reader */
static inline void tr_atomic_store_ptr(void **p, void *v) {
#ifdef TR_TSAN
    TR__ST(p, v);
#else
    ck_pr_fence_store(); /* release: earlier stores first */
    ck_pr_store_ptr(p, v);
#endif
}
/* exchange, acq_rel (x86 xchg is a full barrier) */
static inline void *tr_atomic_fas_ptr(void **p, void *v) {
#ifdef TR_TSAN
    return TR__FAS(p, v);
#else
    return ck_pr_fas_ptr(p, v);
#endif
}
/* compare-and-swap, acq_rel; true when *p was e and is now v */
static inline bool tr_atomic_cas_ptr(void **p, void *e, void *v) {
#ifdef TR_TSAN
    return TR__CAS(p, e, v);
#else
    return ck_pr_cas_ptr(p, e, v);
#endif
}

/* --- 64-bit ------------------------------------------------------------- */
static inline uint64_t tr_atomic_load_u64(const uint64_t *p) {
#ifdef TR_TSAN
    return TR__LD((uint64_t *)p);
#else
    uint64_t v = ck_pr_load_64(p);
    ck_pr_fence_load();
    return v;
#endif
}
static inline uint64_t tr_atomic_load_relaxed_u64(const uint64_t *p) {
#ifdef TR_TSAN
    return TR__LDR((uint64_t *)p);
#else
    return ck_pr_load_64(p);
#endif
}
static inline void tr_atomic_store_u64(uint64_t *p, uint64_t v) {
#ifdef TR_TSAN
    TR__ST(p, v);
#else
    ck_pr_fence_store();
    ck_pr_store_64(p, v);
#endif
}
static inline bool tr_atomic_cas_u64(uint64_t *p, uint64_t e, uint64_t v) {
#ifdef TR_TSAN
    return TR__CAS(p, e, v);
#else
    return ck_pr_cas_64(p, e, v);
#endif
}
/* fetch-and-add, acq_rel; returns the old value */
static inline uint64_t tr_atomic_faa_u64(uint64_t *p, uint64_t d) {
#ifdef TR_TSAN
    return TR__FAA(p, d);
#else
    return ck_pr_faa_64(p, d);
#endif
}

/* --- 32-bit / int ------------------------------------------------------- */
static inline uint32_t tr_atomic_load_u32(const uint32_t *p) {
#ifdef TR_TSAN
    return TR__LD((uint32_t *)p);
#else
    uint32_t v = ck_pr_load_32(p);
    ck_pr_fence_load();
    return v;
#endif
}
static inline void tr_atomic_store_u32(uint32_t *p, uint32_t v) {
#ifdef TR_TSAN
    TR__ST(p, v);
#else
    ck_pr_fence_store();
    ck_pr_store_32(p, v);
#endif
}
static inline uint32_t tr_atomic_faa_u32(uint32_t *p, uint32_t d) {
#ifdef TR_TSAN
    return TR__FAA(p, d);
#else
    return ck_pr_faa_32(p, d);
#endif
}
static inline bool tr_atomic_cas_u32(uint32_t *p, uint32_t e, uint32_t v) {
#ifdef TR_TSAN
    return TR__CAS(p, e, v);
#else
    return ck_pr_cas_32(p, e, v);
#endif
}

/* full (sequentially consistent) fence: store-load ordering */
static inline void tr_atomic_fence(void) {
#ifdef TR_TSAN
    TR__FENCE();
#else
    ck_pr_fence_memory();
#endif
}

/* spin-wait hint */
static inline void tr_atomic_pause(void) {
#ifdef TR_TSAN
    __builtin_ia32_pause();
#else
    ck_pr_stall();
#endif
}

/* A tiny test-and-test-and-set spinlock for very short critical sections
 * (per-actor link/signal lists), built on the operations above so that TSan
 * sees it. After a short spin it yields the CPU. */
typedef struct tr_spin {
    uint32_t v;
} tr_spin;
void tr_spin_lock_slow(tr_spin *s);
static inline void tr_spin_lock(tr_spin *s) {
    if (tr_atomic_cas_u32(&s->v, 0, 1))
        return;
    tr_spin_lock_slow(s);
}
static inline void tr_spin_unlock(tr_spin *s) {
    tr_atomic_store_u32(&s->v, 0);
}

#endif
