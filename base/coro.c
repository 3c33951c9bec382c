#define _GNU_SOURCE /* pipe2 */
/* troupe — coroutines: fcontext switches, slab stacks with guard pages,
 * the overflow report (base/coro.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <troupe/errors.h>

#include "base/coro.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define TR__CORO_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define TR__CORO_TSAN 1
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/* Boost.Context's fcontext (boost/context/detail/fcontext.hpp; extern "C"
 * in libboost_context). */
typedef struct tr__transfer {
    tr__fcontext fctx;
    void *data;
} tr__transfer;
extern tr__transfer jump_fcontext(tr__fcontext const to, void *vp);
extern tr__fcontext make_fcontext(void *sp, size_t size, void (*fn)(tr__transfer));

/* ---- stacks ---- */

/* The link of a free stack on a shared list. */
typedef struct free_stack {
    struct free_stack *next;
} free_stack;

/* One stack size: its free list and the slab stacks are cut from. */
typedef struct size_class {
    struct size_class *next;
    size_t size;      /* usable bytes */
    free_stack *free; /* under pool.mu */
    char *slab_next;  /* next uncut slot (its guard page) */
    size_t slab_left; /* slots left in the current slab */
} size_class;

#define SLAB_BYTES ((size_t)32 * 1024 * 1024)

/* Process-wide (base/coro.h): every size class, under one mutex. */
static struct {
    pthread_mutex_t mu;
    size_class *classes;
    int guard_mode; /* 0 untested, 1 MADV_GUARD_INSTALL, 2 mprotect */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

static size_t page_size;

/* A thread's cache of free stacks and its alternate signal stack; handed
 * back when the thread exits (key destructor). */
typedef struct thread_state {
    tr__coro *current; /* the coroutine running on this thread */
    bool ready;
    int n;
    char *stack[TR__CORO_CACHE];
    size_t size[TR__CORO_CACHE];
    void *altstack;
    size_t altstack_size;
} thread_state;

static __thread thread_state tls_state;
static pthread_key_t state_key;
static pthread_once_t process_once = PTHREAD_ONCE_INIT;

/* The calling thread's state: read anew after every switch (base/coro.h,
 * TLS). */
__attribute__((noinline)) static thread_state *my_state(void) {
    return &tls_state;
}

tr__coro *tr__coro_current(void) {
    return my_state()->current;
}

/* Whether MADV_GUARD_INSTALL works: install a guard on a probe page and
 * let the kernel read it (write to a pipe gives EFAULT from a guard
 * page). qemu-user accepts the advice and ignores it. */
static int probe_guard_mode(void) {
    char *p = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return 2;
    int mode = 2;
    if (madvise(p, page_size, MADV_GUARD_INSTALL) == 0) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) == 0) {
            if (write(fds[1], p, 1) < 0 && errno == EFAULT)
                mode = 1;
            close(fds[0]);
            close(fds[1]);
        }
    }
    munmap(p, page_size);
    return mode;
}

/* Installs the guard pages of a slab's first slots (MADV_GUARD_INSTALL)
 * with process_madvise, up to 256 ranges a call, which costs less than a
 * madvise per slot (one syscall per stack was ~40% of creating a fiber on
 * a fresh stack). Returns how many slots are done from the first; the
 * caller does the rest one by one (process_madvise refuses the advice
 * before Linux 6.13's local-process rule, or is missing). */
static size_t guard_batch(char *s, size_t slot, size_t n) {
#if defined(SYS_process_madvise) && defined(SYS_pidfd_open)
    int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pidfd < 0)
        return 0;
    size_t done = 0;
    while (done < n) {
        struct iovec iov[256];
        size_t m = n - done < 256 ? n - done : 256;
        for (size_t i = 0; i < m; i++)
            iov[i] = (struct iovec){s + (done + i) * slot, page_size};
        long r = syscall(SYS_process_madvise, pidfd, iov, m, MADV_GUARD_INSTALL, 0);
        if (r != (long)(m * page_size))
            break; /* partly or not at all: the rest one by one */
        done += m;
    }
    close(pidfd);
    return done;
#else
    return 0;
#endif
}

/* Cuts a new slab for k (under pool.mu); false when out of memory. */
static bool new_slab(size_class *k) {
    if (!pool.guard_mode)
        pool.guard_mode = probe_guard_mode();
    size_t slot = k->size + page_size;
    size_t n = SLAB_BYTES / slot;
    if (n < 1)
        n = 1;
    char *s = mmap(NULL, n * slot, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s == MAP_FAILED)
        return false;
    size_t i = pool.guard_mode == 1 ? guard_batch(s, slot, n) : 0;
    for (; i < n; i++) {
        char *g = s + i * slot;
        if (pool.guard_mode == 1 && madvise(g, page_size, MADV_GUARD_INSTALL) == 0)
            continue;
        if (pool.guard_mode == 1)
            pool.guard_mode = 2; /* EINVAL (older kernel): from now on, mprotect */
        if (mprotect(g, page_size, PROT_NONE) != 0) {
            munmap(s, n * slot);
            return false;
        }
    }
    k->slab_next = s;
    k->slab_left = n;
    return true;
}

/* A free stack's link: its top 16 bytes (in the pages that stay
 * committed). */
static free_stack *link_of(char *s, size_t size) {
    return (free_stack *)(s + size - sizeof(free_stack) * 2);
}

static char *stack_of_link(free_stack *f, size_t size) {
    return (char *)f + sizeof(free_stack) * 2 - size;
}

static char *stack_get_shared(size_t size) {
    pthread_mutex_lock(&pool.mu);
    size_class *k = pool.classes;
    while (k && k->size != size)
        k = k->next;
    if (!k) {
        k = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (k == MAP_FAILED) {
            pthread_mutex_unlock(&pool.mu);
            return NULL;
        }
        k->size = size;
        k->free = NULL;
        k->slab_left = 0;
        k->next = pool.classes;
        pool.classes = k;
    }
    char *s = NULL;
    if (k->free) {
        free_stack *f = k->free;
        k->free = f->next;
        s = stack_of_link(f, size);
    } else if (k->slab_left || new_slab(k)) {
        s = k->slab_next + page_size;
        k->slab_next += size + page_size;
        k->slab_left--;
    }
    pthread_mutex_unlock(&pool.mu);
    return s;
}

/* Releases the committed pages of a freed stack below its top ones. Most
 * fibers never use more than the top pages: mincore (no TLB work) says
 * whether any page below them is resident, and only then does madvise
 * drop them. A madvise that drops pages makes the kernel flush the TLBs of
 * every CPU running the process, an interrupt to each (64 % of tearing
 * down a million idle fibers, when it ran for every stack). */
static void stack_release(char *s, size_t size) {
    size_t keep = (size_t)TR__CORO_KEEP_PAGES * page_size;
    if (size <= keep)
        return;
    size_t len = size - keep, pages = len / page_size;
    unsigned char vec[256];
    for (size_t done = 0; done < pages;) {
        size_t m = pages - done < sizeof vec ? pages - done : sizeof vec;
        if (mincore(s + done * page_size, m * page_size, vec) != 0)
            break; /* cannot tell: release */
        for (size_t i = 0; i < m; i++)
            if (vec[i] & 1)
                goto release;
        done += m;
        if (done == pages)
            return; /* nothing below the top pages was touched */
    }
release:
    madvise(s, len, MADV_DONTNEED);
}

/* Releases s's pages and puts it on the shared free list. */
static void stack_put_shared(char *s, size_t size) {
    stack_release(s, size);
    pthread_mutex_lock(&pool.mu);
    size_class *k = pool.classes;
    while (k->size != size)
        k = k->next;
    free_stack *f = link_of(s, size);
    f->next = k->free;
    k->free = f;
    pthread_mutex_unlock(&pool.mu);
}

static void thread_exit(void *arg) {
    thread_state *t = arg;
    for (int i = 0; i < t->n; i++)
        stack_put_shared(t->stack[i], t->size[i]);
    t->n = 0;
    if (t->altstack) {
        stack_t ss = {.ss_flags = SS_DISABLE};
        stack_t cur;
        if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == t->altstack &&
            !(cur.ss_flags & SS_ONSTACK) && sigaltstack(&ss, NULL) == 0)
            munmap(t->altstack, t->altstack_size);
        t->altstack = NULL;
    }
    t->ready = false;
}

/* ---- the overflow report ---- */

static struct sigaction old_segv, old_bus;

static size_t fmt_u(char *b, uintptr_t v, unsigned base) {
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    for (size_t i = 0; i < n; i++)
        b[i] = tmp[n - 1 - i];
    return n;
}

static size_t put(char *b, size_t at, size_t cap, const char *s) {
    while (*s && at < cap)
        b[at++] = *s++;
    return at;
}

static void on_fault(int sig, siginfo_t *si, void *uc) {
    int saved = errno;
    tr__coro *c = tls_state.current; /* a plain TLS read, on this thread */
    char *a = si->si_addr;
    if (c && a >= c->stack - page_size && a < c->stack) {
        char b[512];
        char num[24];
        size_t n = put(b, 0, sizeof b, "troupe: fiber ");
        n = put(b, n, sizeof b, c->label ? c->label : "(unlabelled)");
        n = put(b, n, sizeof b, " overflowed its ");
        num[fmt_u(num, c->stack_size, 10)] = 0;
        n = put(b, n, sizeof b, num);
        n = put(b, n, sizeof b, "-byte stack (guard page hit at 0x");
        num[fmt_u(num, (uintptr_t)a, 16)] = 0;
        n = put(b, n, sizeof b, num);
        n = put(b, n, sizeof b, ")\n");
        ssize_t w = write(STDERR_FILENO, b, n);
        (void)w;
        /* die by the default action: the faulting access runs again */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigemptyset(&dfl.sa_mask);
        sigaction(SIGSEGV, &dfl, NULL);
        sigaction(SIGBUS, &dfl, NULL);
        errno = saved;
        return;
    }
    struct sigaction *old = sig == SIGBUS ? &old_bus : &old_segv;
    if (old->sa_flags & SA_SIGINFO) {
        old->sa_sigaction(sig, si, uc);
    } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
    } else {
        /* the default action: the faulting access runs again */
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigemptyset(&dfl.sa_mask);
        sigaction(sig, &dfl, NULL);
    }
    errno = saved;
}

/* Installs on_fault for sig unless it is there already, keeping the one
 * it replaces in *old to chain to (under pool.mu). */
static void install_handler(int sig, struct sigaction *old) {
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) != 0 ||
        ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_fault))
        return;
    struct sigaction sa = {.sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_ONSTACK};
    sigemptyset(&sa.sa_mask);
    *old = cur;
    sigaction(sig, &sa, NULL);
}

static void process_init(void) {
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    pthread_key_create(&state_key, thread_exit);
}

/* The thread's first resume: an alternate signal stack if it has none, and
 * the key whose destructor hands the cache back. */
static void thread_init(thread_state *t) {
    pthread_once(&process_once, process_init);
    pthread_mutex_lock(&pool.mu);
    install_handler(SIGSEGV, &old_segv);
    install_handler(SIGBUS, &old_bus);
    pthread_mutex_unlock(&pool.mu);
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
        size_t size = 64 * 1024;
        if (size < (size_t)SIGSTKSZ)
            size = (size_t)SIGSTKSZ;
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
            stack_t ss = {.ss_sp = p, .ss_size = size};
            if (sigaltstack(&ss, NULL) == 0) {
                t->altstack = p;
                t->altstack_size = size;
            } else {
                munmap(p, size);
            }
        }
    }
    pthread_setspecific(state_key, t);
    t->ready = true;
}

/* ---- coroutines ---- */

static void coro_entry(tr__transfer t) {
    tr__coro *c = t.data;
    c->caller = t.fctx;
#ifdef TR__CORO_ASAN
    __sanitizer_finish_switch_fiber(NULL, &c->asan_caller, &c->asan_caller_size);
#endif
    c->fn(c, c->arg);
    c->done = true;
#ifdef TR__CORO_ASAN
    __sanitizer_start_switch_fiber(NULL, c->asan_caller, c->asan_caller_size);
#endif
#ifdef TR__CORO_TSAN
    __tsan_switch_to_fiber(c->tsan_caller, 0);
#endif
    jump_fcontext(c->caller, c);
    __builtin_unreachable();
}

int tr__coro_init(tr__coro *c, size_t stack_size, tr__coro_fn fn, void *arg) {
    if (!c || !fn || stack_size > TR__CORO_STACK_MAX)
        return TR_EINVAL;
    pthread_once(&process_once, process_init);
    if (stack_size == 0)
        stack_size = TR__CORO_STACK_DEFAULT;
    if (stack_size < TR__CORO_STACK_MIN)
        stack_size = TR__CORO_STACK_MIN;
    stack_size = (stack_size + page_size - 1) & ~(page_size - 1);

    char *s = NULL;
    thread_state *t = my_state();
    for (int i = t->n - 1; i >= 0; i--)
        if (t->size[i] == stack_size) {
            s = t->stack[i]; /* the newest: its top pages are warm */
            t->n--;
            memmove(t->stack + i, t->stack + i + 1, (size_t)(t->n - i) * sizeof t->stack[0]);
            memmove(t->size + i, t->size + i + 1, (size_t)(t->n - i) * sizeof t->size[0]);
            break;
        }
    if (!s)
        s = stack_get_shared(stack_size);
    if (!s)
        return TR_ENOMEM;

    memset(c, 0, sizeof *c);
    c->fn = fn;
    c->arg = arg;
    c->stack = s;
    c->stack_size = stack_size;
    c->ctx = make_fcontext(s + stack_size, stack_size, coro_entry);
#ifdef TR__CORO_TSAN
    c->tsan_fiber = __tsan_create_fiber(0);
#endif
    return TR_OK;
}

void tr__coro_resume(tr__coro *c) {
    thread_state *t = my_state();
    if (!t->ready)
        thread_init(t);
    c->outer = t->current;
    t->current = c;
#ifdef TR__CORO_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, c->stack, c->stack_size);
#endif
#ifdef TR__CORO_TSAN
    c->tsan_caller = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(c->tsan_fiber, 0);
#endif
    tr__transfer r = jump_fcontext(c->ctx, c);
#ifdef TR__CORO_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    c = r.data;
    c->ctx = r.fctx;
    my_state()->current = c->outer; /* the same thread, but read anew */
}

/* What a jump carries: the coroutine that jumped, with bit 0 set when it
 * jumped by tr__coro_switch. A coroutine that lands after a switch saves
 * the switcher's context (the switcher is suspended now) and keeps the
 * caller the switch gave it; after a resume, it keeps the resumer's. */
#define SWITCHED ((uintptr_t)1)

/* c, suspended by a jump that carried fake (its ASan fake stack), runs
 * again after the jump r. */
static inline void landed(tr__coro *c, tr__transfer r, void *fake) {
    bool switched = (uintptr_t)r.data & SWITCHED;
    if (switched)
        ((tr__coro *)((uintptr_t)r.data & ~SWITCHED))->ctx = r.fctx;
    else
        c->caller = r.fctx;
#ifdef TR__CORO_ASAN
    const void *bottom = NULL;
    size_t size = 0;
    __sanitizer_finish_switch_fiber(fake, &bottom, &size);
    if (!switched) { /* the resumer's stack; after a switch, the one it gave */
        c->asan_caller = bottom;
        c->asan_caller_size = size;
    }
#else
    (void)fake;
#endif
}

void tr__coro_yield(tr__coro *c) {
    void *fake = NULL;
#ifdef TR__CORO_ASAN
    __sanitizer_start_switch_fiber(&fake, c->asan_caller, c->asan_caller_size);
#endif
#ifdef TR__CORO_TSAN
    __tsan_switch_to_fiber(c->tsan_caller, 0);
#endif
    tr__transfer r = jump_fcontext(c->caller, c);
    landed(c, r, fake);
}

void tr__coro_switch(tr__coro *from, tr__coro *to) {
    to->caller = from->caller;
    to->outer = from->outer;
    my_state()->current = to;
    void *fake = NULL;
#ifdef TR__CORO_ASAN
    to->asan_caller = from->asan_caller;
    to->asan_caller_size = from->asan_caller_size;
    __sanitizer_start_switch_fiber(&fake, to->stack, to->stack_size);
#endif
#ifdef TR__CORO_TSAN
    to->tsan_caller = from->tsan_caller;
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    tr__transfer r = jump_fcontext(to->ctx, (void *)((uintptr_t)from | SWITCHED));
    landed(from, r, fake);
}

void tr__coro_fini(tr__coro *c) {
    if (!c || !c->stack)
        return;
#ifdef TR__CORO_TSAN
    __tsan_destroy_fiber(c->tsan_fiber);
    c->tsan_fiber = NULL;
#endif
#ifdef TR__CORO_ASAN
    /* frames left by the finished or discarded coroutine */
    ASAN_UNPOISON_MEMORY_REGION(c->stack, c->stack_size);
#endif
    thread_state *t = my_state();
    if (!t->ready) /* the cache needs the key's destructor */
        thread_init(t);
    if (t->n == TR__CORO_CACHE) {
        /* full: the oldest goes back to the shared list, released */
        stack_put_shared(t->stack[0], t->size[0]);
        t->n--;
        memmove(t->stack, t->stack + 1, (size_t)t->n * sizeof t->stack[0]);
        memmove(t->size, t->size + 1, (size_t)t->n * sizeof t->size[0]);
    }
    /* kept as it is: releasing costs ~1 us (4 us once the next coroutine
     * touches the pages again) against ~65 ns for the whole churn */
    t->stack[t->n] = c->stack;
    t->size[t->n] = c->stack_size;
    t->n++;
    c->stack = NULL;
}
