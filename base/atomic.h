/* troupe — atomics (private).
 *
 * Every build, on every platform, uses the compiler's __atomic builtins
 * (the C11 memory model) with the order named in each helper's name:
 *
 *   _rlx     relaxed: atomic, no ordering
 *   _acq     acquire (loads): later reads and writes stay after it
 *   _rel     release (stores): earlier reads and writes stay before it
 *   _acqrel  read-modify-write that is both
 *   _seqcst  sequentially consistent (the one full fence)
 *
 * The orders are what the C11 model promises, so they hold on weakly
 * ordered hardware (aarch64) as well as on x86-64, and a ThreadSanitizer
 * build checks exactly the program that ships. (x86-64 code is the same
 * as ck_pr's: plain moves for acquire loads and release stores, locked
 * instructions for the read-modify-writes.)
 *
 * Naming: tr__<op>_<order>_<type>, with ptr, u64 and u32 variants.
 */
#ifndef TROUPE_BASE_ATOMIC_H
#define TROUPE_BASE_ATOMIC_H

#include <stdbool.h>
#include <stdint.h>

#if defined(__SANITIZE_THREAD__)
#define TR__TSAN 1
#include <sanitizer/tsan_interface.h>
/* Tell TSan about a happens-before edge made by a structure it cannot see
 * (ck_ring, ck_epoch: inline assembly): release before handing p over,
 * acquire after taking it. */
#define TR__TSAN_RELEASE(p) __tsan_release((void *)(p))
#define TR__TSAN_ACQUIRE(p) __tsan_acquire((void *)(p))
#else
#define TR__TSAN_RELEASE(p) ((void)0)
#define TR__TSAN_ACQUIRE(p) ((void)0)
#endif

#define TR__A_LD(p, o) __atomic_load_n((p), (o))
#define TR__A_ST(p, v, o) __atomic_store_n((p), (v), (o))
#define TR__A_CAS(p, e, v)                                                                         \
    __extension__({                                                                                \
        __typeof__(*(p)) tr__e = (e);                                                              \
        __atomic_compare_exchange_n((p), &tr__e, (v), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);  \
    })

/* --- pointers ----------------------------------------------------------- */
static inline void *tr__load_acq_ptr(void *const *p) {
    return TR__A_LD((void **)p, __ATOMIC_ACQUIRE);
}
static inline void tr__store_rel_ptr(void **p, void *v) {
    TR__A_ST(p, v, __ATOMIC_RELEASE);
}
/* exchange; returns the old value */
static inline void *tr__xchg_acqrel_ptr(void **p, void *v) {
    return __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL);
}
/* compare-and-swap (acquire on failure); true when *p was e and is now v */
static inline bool tr__cas_acqrel_ptr(void **p, void *e, void *v) {
    return TR__A_CAS(p, e, v);
}

/* --- 64-bit ------------------------------------------------------------- */
static inline uint64_t tr__load_acq_u64(const uint64_t *p) {
    return TR__A_LD((uint64_t *)p, __ATOMIC_ACQUIRE);
}
static inline uint64_t tr__load_rlx_u64(const uint64_t *p) {
    return TR__A_LD((uint64_t *)p, __ATOMIC_RELAXED);
}
static inline void tr__store_rlx_u64(uint64_t *p, uint64_t v) {
    TR__A_ST(p, v, __ATOMIC_RELAXED);
}
static inline void tr__store_rel_u64(uint64_t *p, uint64_t v) {
    TR__A_ST(p, v, __ATOMIC_RELEASE);
}
static inline bool tr__cas_acqrel_u64(uint64_t *p, uint64_t e, uint64_t v) {
    return TR__A_CAS(p, e, v);
}
/* fetch-and-add; returns the old value */
static inline uint64_t tr__faa_acqrel_u64(uint64_t *p, uint64_t d) {
    return __atomic_fetch_add(p, d, __ATOMIC_ACQ_REL);
}

/* --- flags ------------------------------------------------------------- */
static inline bool tr__load_rlx_bool(const bool *p) {
    return TR__A_LD((bool *)p, __ATOMIC_RELAXED);
}

/* --- 16-bit ------------------------------------------------------------- */
static inline uint16_t tr__load_rlx_u16(const uint16_t *p) {
    return TR__A_LD((uint16_t *)p, __ATOMIC_RELAXED);
}
static inline void tr__store_rlx_u16(uint16_t *p, uint16_t v) {
    TR__A_ST(p, v, __ATOMIC_RELAXED);
}

/* --- 32-bit ------------------------------------------------------------- */
static inline uint32_t tr__load_acq_u32(const uint32_t *p) {
    return TR__A_LD((uint32_t *)p, __ATOMIC_ACQUIRE);
}
static inline uint32_t tr__load_rlx_u32(const uint32_t *p) {
    return TR__A_LD((uint32_t *)p, __ATOMIC_RELAXED);
}
static inline void tr__store_rel_u32(uint32_t *p, uint32_t v) {
    TR__A_ST(p, v, __ATOMIC_RELEASE);
}
static inline void tr__store_rlx_u32(uint32_t *p, uint32_t v) {
    TR__A_ST(p, v, __ATOMIC_RELAXED);
}
static inline uint32_t tr__faa_acqrel_u32(uint32_t *p, uint32_t d) {
    return __atomic_fetch_add(p, d, __ATOMIC_ACQ_REL);
}
static inline bool tr__cas_acqrel_u32(uint32_t *p, uint32_t e, uint32_t v) {
    return TR__A_CAS(p, e, v);
}

/* Full fence: orders earlier stores before later loads (the store-load
 * order a Dekker-style handshake needs). TSan does not model standalone
 * fences, so its build uses a seq_cst read-modify-write on a local, which
 * is a full barrier on the hardware as well. */
static inline void tr__fence_seqcst(void) {
#ifdef TR__TSAN
    int f = 0;
    __atomic_fetch_add(&f, 0, __ATOMIC_SEQ_CST);
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* spin-wait hint to the CPU */
static inline void tr__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

#endif
