/* troupe — coroutines: the context switch and the stacks under fibers
 * (private; knows nothing of actors).
 *
 * A tr__coro runs one function on its own stack; tr__coro_resume runs it
 * until it calls tr__coro_yield (or returns), and tr__coro_yield goes back
 * to whoever resumed it, as Lua's coroutine.resume/yield (asymmetric
 * coroutines). A coroutine may be resumed from a different thread each
 * time; a resume may happen from inside another coroutine (nesting).
 *
 * Switch: Boost.Context's fcontext (make_fcontext / jump_fcontext, the C-
 * linkage assembly from Debian's libboost-context-dev, libboost_context),
 * declared in coro.c. jump_fcontext saves and restores the callee-saved
 * registers and the FPU control words only: no signal mask, no syscall.
 *
 * Stacks: mmap'd with MAP_NORESERVE, so a page is committed when first
 * touched; below each stack a guard page. Stacks are cut from slabs of
 * about 32 MiB (one mmap for many stacks of one size), and the guard pages
 * are installed with madvise(MADV_GUARD_INSTALL) (Linux 6.13+), which does
 * not split the mapping: 1M stacks cost a few thousand VMAs, well under
 * vm.max_map_count (65,530 by default). On older kernels (EINVAL), or where
 * the guard does not take effect (checked once: qemu-user ignores the
 * advice), the guard is an mprotect(PROT_NONE) page, which splits the
 * mapping: two VMAs per stack, so a process is capped at about
 * vm.max_map_count / 2 stacks (~32k) unless the administrator raises it.
 * A freed stack goes to the freeing thread's cache, which keeps the
 * TR__CORO_CACHE newest as they are (still committed); the oldest then
 * goes to a process-wide free list per stack size, its committed pages
 * below the top TR__CORO_KEEP_PAGES released (MADV_DONTNEED, only when
 * mincore finds one of them resident: a release interrupts every CPU for
 * a TLB flush). So RSS does
 * not grow with churn: free stacks hold at most TR__CORO_CACHE stacks'
 * worth per thread. (Measured: releasing on every free costs ~1 us per
 * coroutine, ~4 us once the next one touches the pages again, against
 * ~65 ns for the whole create/run/free without.) Slabs are never
 * unmapped: the address space (not memory) of the most stacks ever live
 * at once stays reserved until the process exits. A thread's cache goes
 * back to the shared lists when the thread exits.
 *
 * Overflow: running into the guard page raises SIGSEGV; a handler on an
 * alternate signal stack writes one line to stderr,
 *   troupe: fiber <label> overflowed its <size>-byte stack (guard page hit at 0x...)
 * and the process then dies by SIGSEGV's default action (core dump). Only
 * a fault in the guard page of the coroutine running on the faulting
 * thread counts; other faults go to the handler that was installed before
 * (or the default action). A frame larger than a page can jump over the
 * guard (compile with -fstack-clash-protection to prevent that).
 *
 * Process-wide state (unavoidable for signals and for sharing stacks
 * between threads): the SIGSEGV and SIGBUS handlers, installed on the
 * first resume in the process and never removed (a thread's first resume
 * installs them again if someone replaced them since, chaining to the
 * replacement; a handler installed later that does not chain to troupe's
 * loses the report); the stack slabs and free lists, under one mutex
 * (slabs never unmapped). Per thread: the running coroutine, an
 * alternate signal stack (64 KiB, made on the thread's first resume when it
 * has none, freed when the thread exits), the stack cache.
 *
 * The switch: ~36 ns per resume + yield pair (two switches; Release build,
 * x86-64 VM; ~31 ns with the static libboost_context.a). A new stack's
 * first page costs a page fault (~2-5 us here, mostly zeroing).
 *
 * Sanitizers: every switch is announced to ASan
 * (__sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber) and
 * TSan (__tsan_switch_to_fiber; a TSan fiber per coroutine). A switch is a
 * synchronization point for TSan (the resumer's work happens before the
 * coroutine's, and back).
 *
 * TLS: a coroutine may come back on a different thread after a yield, and
 * the compiler may keep a thread-local's address across the call. Code
 * that runs in coroutines must re-read thread-locals after every switch
 * through a noinline function (as tr__coro_current does), never reuse an
 * address taken before it.
 */
#ifndef TROUPE_BASE_CORO_H
#define TROUPE_BASE_CORO_H

#include <stdbool.h>
#include <stddef.h>

/* The default stack size (bytes): 128 KiB. */
#define TR__CORO_STACK_DEFAULT ((size_t)128 * 1024)
/* The smallest stack (bytes); smaller requests get this. */
#define TR__CORO_STACK_MIN ((size_t)16 * 1024)
/* The largest stack (bytes); larger requests give TR_EINVAL. */
#define TR__CORO_STACK_MAX ((size_t)1024 * 1024 * 1024)
/* Stacks a thread keeps for reuse. */
#define TR__CORO_CACHE 16
/* Pages at the top of a freed stack that stay committed. */
#define TR__CORO_KEEP_PAGES 2

typedef void *tr__fcontext;
typedef struct tr__coro tr__coro;
typedef void (*tr__coro_fn)(tr__coro *c, void *arg);

struct tr__coro {
    tr__fcontext ctx;    /* c's saved context while suspended */
    tr__fcontext caller; /* the resumer's context while c runs */
    tr__coro_fn fn;
    void *arg;
    char *stack;       /* lowest usable byte (the guard page is below it) */
    size_t stack_size; /* usable bytes, a multiple of the page size */
    tr__coro *outer;   /* the coroutine current on the thread before resume */
    const char *label; /* for the overflow report; NULL: none */
    bool done;         /* fn has returned */
    /* sanitizers */
    void *asan_fake;         /* the resumer's fake stack (ASan) */
    const void *asan_caller; /* the resumer's stack (bottom, size) */
    size_t asan_caller_size;
    void *tsan_fiber;  /* c's TSan fiber */
    void *tsan_caller; /* the resumer's TSan fiber */
};

/* tr__coro_init: sets up c to run fn(c, arg) on a new stack of stack_size
 * bytes (0 = TR__CORO_STACK_DEFAULT; rounded up to pages; at least
 * TR__CORO_STACK_MIN). Does not run it yet. Returns TR_OK, TR_EINVAL (fn
 * NULL, or stack_size over TR__CORO_STACK_MAX), TR_ENOMEM (no stack). Any
 * thread. */
int tr__coro_init(tr__coro *c, size_t stack_size, tr__coro_fn fn, void *arg);

/* tr__coro_resume: runs c on the calling thread (from the thread's stack or
 * from inside another coroutine) until it calls tr__coro_yield or fn
 * returns. c must be suspended (new or yielded), not done, not running. c
 * may be resumed from a different thread each time. */
void tr__coro_resume(tr__coro *c);

/* tr__coro_yield: from inside c (the running coroutine): back to whoever
 * resumed it. Returns when c is resumed again, possibly on another thread. */
void tr__coro_yield(tr__coro *c);

/* tr__coro_switch: from inside `from` (the running coroutine) straight to
 * `to`, without going back to the resumer first: `to` runs on in from's
 * place, and its tr__coro_yield goes back to from's resumer (as if that
 * had resumed `to`). `to` must be suspended by tr__coro_yield or
 * tr__coro_switch (started, not done, not running, and resumed by nobody
 * else meanwhile). Returns when `from` is resumed again (by
 * tr__coro_resume or another switch), possibly on another thread. Until
 * the jump has happened, from's context is not saved: whoever hands `from`
 * to another thread must do it after this call has landed in `to` (on
 * to's side of the jump). */
void tr__coro_switch(tr__coro *from, tr__coro *to);

/* tr__coro_done: fn has returned. */
static inline bool tr__coro_done(const tr__coro *c) {
    return c->done;
}

/* tr__coro_fini: frees c's stack (back to the pool). c is suspended or
 * done; a suspended c is simply discarded: its stack is unwound by nobody
 * (no cleanup runs). Any thread; not from inside c. */
void tr__coro_fini(tr__coro *c);

/* tr__coro_set_label: the label the overflow report prints (e.g. "pid
 * <0.12.0>"); NULL = none. c keeps the pointer: the string must outlive c
 * (or the next call). */
static inline void tr__coro_set_label(tr__coro *c, const char *label) {
    c->label = label;
}

/* tr__coro_current: the coroutine running on the calling thread, or NULL.
 * Not inlined: it reads the thread-local anew on every call. */
tr__coro *tr__coro_current(void);

#endif
