/* troupe — per-scheduler message block caches (private).
 *
 * A message is allocated by its sender's thread and freed by its receiver's,
 * usually another one. Freeing a jemalloc block on a thread other than the
 * one that allocated it ends in the allocating arena's bin lock, which both
 * threads then take over and over (the counting workload spent a fifth of
 * its time in pthread_mutex_trylock). This layer sits on top of jemalloc
 * and recycles message blocks the way mimalloc recycles pages: every block
 * goes back to the scheduler thread that allocated it, in batches.
 *
 * - Each scheduler thread owns one cache. Blocks come in a few size classes;
 *   every cached block is a separate jemalloc allocation of its class size,
 *   so any thread may still hand one straight back to jemalloc.
 * - The owner allocates from its local free list (no atomics). When that is
 *   empty it takes, with one exchange, every batch the other threads
 *   returned; when that is empty too, it asks jemalloc.
 * - A scheduler thread that frees a block owned by a sibling (same runtime)
 *   appends it to a pending list for that owner; a list that reaches
 *   TR__MC_BATCH blocks goes back with one CAS. Pending lists are also
 *   flushed before the thread parks.
 * - Any other thread (a plain thread, or a scheduler of another runtime)
 *   frees straight to jemalloc; so does an owner whose local list is full
 *   (TR__MC_LOCAL_BYTES per class), which bounds what a burst leaves cached.
 *
 * Sanitizer builds: under ASan the cache is off (every block is a fresh
 * malloc, so use-after-free stays visible); under TSan it stays on, so the
 * batch hand-off is checked.
 */
#ifndef TROUPE_MAILBOX_MCACHE_H
#define TROUPE_MAILBOX_MCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define TR__MC_OFF 1
#endif

#define TR__MC_CLASSES 4
#define TR__MC_BATCH 64
#define TR__MC_LOCAL_BYTES (256u << 10)
#define TR__MC_NONE 0xff /* class of a block that is not cached */

/* A free block: the first bytes of the block itself. `next` links blocks of
 * one list; the first block of a returned batch also carries the batch's
 * tail, size and the next batch. */
typedef struct tr__mfree {
    struct tr__mfree *next;
    struct tr__mfree *next_batch;
    struct tr__mfree *tail;
    uint32_t count;
} tr__mfree;

typedef struct tr__mlist {
    tr__mfree *head, *tail;
    uint32_t count;
} tr__mlist;

typedef struct tr__mcache {
    /* Batches returned by siblings: they CAS-push, the owner exchanges. On
     * a cache line of its own. */
    _Alignas(64) tr__mfree *remote[TR__MC_CLASSES];
    /* Owner only. */
    _Alignas(64) tr__mlist local[TR__MC_CLASSES];
    tr__mlist *pending;      /* [n][TR__MC_CLASSES]: siblings' blocks on their way back */
    struct tr__mcache *base; /* the runtime's caches: base[0..n-1] */
    unsigned n, index;
    unsigned n_pending; /* pending lists that are not empty */
} tr__mcache;

/* The calling scheduler thread's cache (NULL on any other thread). */
extern __thread tr__mcache *tr__tls_mcache;

/* tr__mc_init_all: n caches (one per scheduler thread) in base[]; 0 or
 * TR_ENOMEM. */
int tr__mc_init_all(tr__mcache *base, unsigned n);

/* tr__mc_fini_all: hands every cached block back to jemalloc. Only once no
 * thread uses the caches any more. */
void tr__mc_fini_all(tr__mcache *base, unsigned n);

/* tr__mc_flush: returns c's pending lists to their owners (c's thread). */
void tr__mc_flush(tr__mcache *c);

/* Size classes (bytes). All multiples of 64, so jemalloc places every
 * block on a cache-line boundary: a message's header is one line, not two
 * (a 96-byte class was tried: its blocks straddle lines, and counting and
 * pool ran 5-12 % slower; fanin, whose sink falls behind by ~2M messages,
 * ran faster with the smaller blocks). */
static inline unsigned tr__mc_class(size_t size) {
    if (size <= 128)
        return 0;
    if (size <= 256)
        return 1;
    if (size <= 512)
        return 2;
    if (size <= 1024)
        return 3;
    return TR__MC_NONE;
}

static inline size_t tr__mc_class_size(unsigned k) {
    static const uint16_t sizes[TR__MC_CLASSES] = {128, 256, 512, 1024};
    return sizes[k];
}

/* Slow paths (mcache.c). */
void *tr__mc_refill(tr__mcache *c, unsigned k);
void tr__mc_free_slow(tr__mcache *mine, tr__mcache *owner, unsigned k, void *p);

/* tr__mc_alloc: a block of class k from c (c's thread only); NULL when
 * jemalloc fails. */
static inline void *tr__mc_alloc(tr__mcache *c, unsigned k) {
    if (TR__FAULT_HIT())
        return NULL;
    tr__mlist *l = &c->local[k];
    tr__mfree *b = l->head;
    if (b) {
        tr__mfree *next = b->next;
        l->head = next;
        l->count--;
        /* The blocks came back from other cores: start fetching the next
         * one while this one is filled. */
        if (next)
            __builtin_prefetch(next, 1);
        return b;
    }
    return tr__mc_refill(c, k);
}

/* tr__mc_free: gives back block p of class k that owner's thread allocated
 * (any thread). */
static inline void tr__mc_free(tr__mcache *owner, unsigned k, void *p) {
    tr__mcache *mine = tr__tls_mcache;
    if (mine == owner) {
        tr__mlist *l = &mine->local[k];
        if (l->count * tr__mc_class_size(k) < TR__MC_LOCAL_BYTES) {
            tr__mfree *b = (tr__mfree *)p;
            b->next = l->head;
            l->head = b;
            l->count++;
            return;
        }
    }
    tr__mc_free_slow(mine, owner, k, p);
}

#endif
