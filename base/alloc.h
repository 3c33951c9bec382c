/* troupe — the runtime's allocator (private).
 *
 * Decision (DESIGN.md "Dependencies"): troupe calls jemalloc's non-standard
 * API explicitly (mallocx / sdallocx / rallocx), so every runtime allocation
 * comes from jemalloc whatever malloc the host process uses. Sanitizer
 * builds (TROUPE_SANITIZER != none) route through the C library instead, so
 * that ASan/TSan see every allocation.
 */
#ifndef TROUPE_BASE_ALLOC_H
#define TROUPE_BASE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TR__USE_LIBC_MALLOC 1
#endif

#ifndef TR__USE_LIBC_MALLOC
#include <jemalloc/jemalloc.h>
#endif

/* TR__SIZE_MAX: the largest size troupe tries to allocate for a size the
 * caller gives (state_size, arg_size, counts times element sizes). Larger
 * ones cannot be allocated on any platform (malloc refuses more than
 * PTRDIFF_MAX) and are refused with TR_EINVAL at the call; half of
 * PTRDIFF_MAX leaves room to add the runtime's own headers without
 * overflow. Smaller ones that fail to allocate give TR_ENOMEM. */
#define TR__SIZE_MAX ((size_t)PTRDIFF_MAX / 2)

/* tr__size_add: *out = a + b; false when that overflows or exceeds
 * TR__SIZE_MAX. */
static inline bool tr__size_add(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out) && *out <= TR__SIZE_MAX;
}

/* tr__size_mul: *out = a * b; false when that overflows or exceeds
 * TR__SIZE_MAX. */
static inline bool tr__size_mul(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out) && *out <= TR__SIZE_MAX;
}

/* Allocation-failure injection (test builds only). The library built with
 * TR_FAULT_INJECTION (CMake builds it as troupe_fault for
 * test/test_alloc_fail.c; the shipped library never has it) makes chosen
 * allocations fail: every allocation below, and every message block from a
 * scheduler thread's cache, first asks tr__fault_hit(). The state lives in
 * the runtime object (tr_runtime.fault); each thread of a runtime (its
 * scheduler threads, its timer thread, and a test thread that armed it)
 * points tr__tls_fault at it. Armed and read through the test-only API in
 * actor/fault.h. Without TR_FAULT_INJECTION the hook is compiled out. */
#ifdef TR_FAULT_INJECTION
#include "base/atomic.h"
typedef struct tr__fault {
    uint64_t n;      /* atomic: allocations counted since armed */
    uint64_t nth;    /* the first allocation that fails (1 = the next one) */
    uint64_t every;  /* then every every-th one after it (0: only the nth) */
    uint64_t failed; /* atomic: allocations made to fail */
    uint32_t armed;  /* atomic */
} tr__fault;
extern __thread tr__fault *tr__tls_fault;
static inline bool tr__fault_hit(void) {
    tr__fault *f = tr__tls_fault;
    if (!f || !tr__load_acq_u32(&f->armed))
        return false;
    uint64_t k = tr__faa_acqrel_u64(&f->n, 1) + 1;
    bool hit = k == f->nth || (f->every && k > f->nth && (k - f->nth) % f->every == 0);
    if (hit)
        tr__faa_acqrel_u64(&f->failed, 1);
    return hit;
}
#define TR__FAULT_HIT() tr__fault_hit()
#else
#define TR__FAULT_HIT() 0
#endif

/* tr__malloc: size bytes, uninitialized; NULL on failure (size 0 gives a
 * valid unique pointer). */
static inline void *tr__malloc(size_t size) {
    if (TR__FAULT_HIT())
        return NULL;
#ifdef TR__USE_LIBC_MALLOC
    return malloc(size ? size : 1);
#else
    return mallocx(size ? size : 1, 0);
#endif
}

/* tr__calloc: size bytes, zeroed; NULL on failure. */
static inline void *tr__calloc(size_t size) {
    if (TR__FAULT_HIT())
        return NULL;
#ifdef TR__USE_LIBC_MALLOC
    return calloc(1, size ? size : 1);
#else
    return mallocx(size ? size : 1, MALLOCX_ZERO);
#endif
}

/* tr__aligned_calloc: size bytes, zeroed, aligned to align (a power of two,
 * at least sizeof(void *)); NULL on failure. Freed with tr__free. */
static inline void *tr__aligned_calloc(size_t align, size_t size) {
    if (TR__FAULT_HIT() || size > TR__SIZE_MAX)
        return NULL;
    size = (size + align - 1) & ~(align - 1);
#ifdef TR__USE_LIBC_MALLOC
    void *p = aligned_alloc(align, size ? size : align);
    if (p)
        memset(p, 0, size);
    return p;
#else
    return mallocx(size ? size : align, MALLOCX_ALIGN(align) | MALLOCX_ZERO);
#endif
}

/* tr__realloc: as realloc; p may be NULL. */
static inline void *tr__realloc(void *p, size_t size) {
    if (TR__FAULT_HIT())
        return NULL; /* as a failed realloc: p stays valid */
#ifdef TR__USE_LIBC_MALLOC
    return realloc(p, size ? size : 1);
#else
    return p ? rallocx(p, size ? size : 1, 0) : mallocx(size ? size : 1, 0);
#endif
}

/* tr__free: releases p (NULL is fine). */
static inline void tr__free(void *p) {
    if (!p)
        return;
#ifdef TR__USE_LIBC_MALLOC
    free(p);
#else
    dallocx(p, 0);
#endif
}

/* tr__free_sized: releases p, whose allocation asked for exactly size
 * bytes (jemalloc's sized free skips the size lookup). NULL is fine. */
static inline void tr__free_sized(void *p, size_t size) {
    if (!p)
        return;
#ifdef TR__USE_LIBC_MALLOC
    (void)size;
    free(p);
#else
    sdallocx(p, size ? size : 1, 0);
#endif
}

/* tr__strdup: a copy of s from the runtime's allocator; NULL on failure. */
static inline char *tr__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = (char *)tr__malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* tr__grow_: the slow half of TR__GROW. */
static inline bool tr__grow_(void **p, size_t *cap, size_t elem, size_t first, size_t max) {
    size_t c = *cap ? *cap * 2 : first, bytes;
    if (c > max || c < *cap || !tr__size_mul(c, elem, &bytes))
        return false;
    void *q = tr__realloc(*p, bytes);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

/* TR__GROW(arr, n, cap, first): room for one more element in the growable
 * array arr (cap elements allocated with tr__malloc/tr__realloc, n in use,
 * any unsigned integer types): when n == cap, reallocates it to twice cap
 * (first when cap is 0). Evaluates to true when there is room, false (arr
 * and cap unchanged) when the new size overflows cap's type or
 * TR__SIZE_MAX, or memory runs out. */
#define TR__GROW(arr, n, cap, first)                                                               \
    __extension__({                                                                                \
        size_t tr__gc = (cap);                                                                     \
        bool tr__gok = (n) < tr__gc || tr__grow_((void **)&(arr), &tr__gc, sizeof *(arr), (first), \
                                                 (size_t)(__typeof__(cap))-1);                     \
        (cap) = (__typeof__(cap))tr__gc;                                                           \
        tr__gok;                                                                                   \
    })

#endif
