/* Unit tests of the message block caches (mailbox/mcache.[ch]), in the
 * manner of Concurrency Kit's regressions: the caches alone, no runtime.
 *
 * Three "scheduler" threads, each the owner of one cache (tr__tls_mcache),
 * and one plain thread allocate blocks of every size class, stamp and fill
 * them, and hand them to each other; whoever receives a block checks it and
 * frees it with tr__mc_free. Checked:
 * - no block is handed out twice: a block allocated while another holder
 *   still has it (a global set of live blocks), or a fill overwritten by
 *   someone else;
 * - size classes: the whole class size is usable (filled and checked; the
 *   allocator's usable size is at least the class size; ASan sees the
 *   writes), tr__mc_class/tr__mc_class_size agree;
 * - blocks go back to their owner: at the end, every block in a cache's
 *   local list and in its returned batches was last allocated by that
 *   cache's owner, in that class, and is not live; batches are well formed
 *   (count, tail); no block is in two lists; nothing is pending; local
 *   lists respect their bound;
 * - tr__mc_fini_all releases everything (LeakSanitizer in the ASan build). */
#include "testutil.h"

#include <sched.h>
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#include <malloc.h>
#endif

#include "mailbox/mcache.h"

#define CACHES 3
#define THREADS (CACHES + 1) /* the last one is a plain thread (no cache) */
#define ITERS TU_SCALE(20000, 2000)
#define MAGIC 0x6d636163u

typedef struct stamp {
    uint32_t magic;
    uint16_t owner; /* cache index */
    uint8_t cls;
    uint8_t pad;
    uint64_t serial;
} stamp;

/* ---- a set of every block address seen: live flag, last owner, class ---- */

typedef struct bentry {
    uintptr_t addr; /* 0: empty slot */
    uint16_t owner;
    uint8_t cls;
    bool live;
    bool seen; /* visited by the final walk */
} bentry;

typedef struct bset {
    pthread_mutex_t mu;
    bentry *t;
    size_t cap, n;
} bset;

static size_t bhash(uintptr_t a, size_t mask) {
    return (size_t)((a >> 4) * 0x9E3779B97F4A7C15ull >> 20) & mask;
}

static bentry *bset_find_locked(bset *s, uintptr_t a) {
    size_t mask = s->cap - 1;
    for (size_t j = bhash(a, mask);; j = (j + 1) & mask)
        if (s->t[j].addr == a || s->t[j].addr == 0)
            return &s->t[j];
}

static void bset_grow_locked(bset *s) {
    bentry *old = s->t;
    size_t oc = s->cap;
    s->cap = oc ? oc * 2 : 1 << 16;
    s->t = calloc(s->cap, sizeof(bentry));
    for (size_t i = 0; i < oc; i++)
        if (old[i].addr)
            *bset_find_locked(s, old[i].addr) = old[i];
    free(old);
}

static bentry *bset_get(bset *s, uintptr_t a) {
    pthread_mutex_lock(&s->mu);
    bentry *e = s->cap ? bset_find_locked(s, a) : NULL;
    pthread_mutex_unlock(&s->mu);
    return e && e->addr ? e : NULL;
}

/* ---- shared state ---- */

typedef struct inbox {
    pthread_mutex_t mu;
    void **v;
    size_t n, cap;
} inbox;

typedef struct world {
    tr__mcache *base;
    bset live;
    inbox in[THREADS];
    atomic_uint_fast64_t serial;
    atomic_uint_fast64_t errors;
    atomic_uint_fast64_t allocs, frees, cross_frees;
    atomic_int producing; /* threads still allocating */
    char first_error[200];
} world;

static void fail_once(world *w, const char *fmt, unsigned long long a, unsigned long long b) {
    if (atomic_fetch_add(&w->errors, 1) == 0)
        snprintf(w->first_error, sizeof w->first_error, fmt, a, b);
}

static unsigned char fill_byte(uint64_t serial, size_t i) {
    return (unsigned char)(serial * 31 + i * 7 + 1);
}

static void inbox_put(inbox *b, void *p) {
    pthread_mutex_lock(&b->mu);
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->v = realloc(b->v, b->cap * sizeof(void *));
    }
    b->v[b->n++] = p;
    pthread_mutex_unlock(&b->mu);
}

/* Takes everything in b into *out (caller frees the array). */
static size_t inbox_take(inbox *b, void ***out) {
    pthread_mutex_lock(&b->mu);
    size_t n = b->n;
    *out = b->v;
    b->v = NULL;
    b->n = b->cap = 0;
    pthread_mutex_unlock(&b->mu);
    return n;
}

static size_t usable_size(void *p) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return malloc_usable_size(p);
#else
    return sallocx(p, 0);
#endif
}

static void *alloc_block(world *w, unsigned me, unsigned k) {
    void *p = tr__mc_alloc(&w->base[me], k);
    if (!p) {
        fail_once(w, "tr__mc_alloc(%llu, class %llu) returned NULL", me, k);
        return NULL;
    }
    size_t size = tr__mc_class_size(k);
    if (usable_size(p) < size)
        fail_once(w, "block of class size %llu has only %llu usable bytes", size, usable_size(p));
    pthread_mutex_lock(&w->live.mu);
    if ((w->live.n + 1) * 2 > w->live.cap)
        bset_grow_locked(&w->live);
    bentry *e = bset_find_locked(&w->live, (uintptr_t)p);
    if (e->addr && e->live) {
        pthread_mutex_unlock(&w->live.mu);
        fail_once(w, "block %#llx handed out twice (class %llu)", (uintptr_t)p, k);
        return NULL;
    }
    if (!e->addr)
        w->live.n++;
    *e = (bentry){.addr = (uintptr_t)p, .owner = (uint16_t)me, .cls = (uint8_t)k, .live = true};
    pthread_mutex_unlock(&w->live.mu);
    stamp st = {MAGIC, (uint16_t)me, (uint8_t)k, 0, atomic_fetch_add(&w->serial, 1)};
    memcpy(p, &st, sizeof st);
    unsigned char *b = p;
    for (size_t i = sizeof st; i < size; i++)
        b[i] = fill_byte(st.serial, i);
    atomic_fetch_add(&w->allocs, 1);
    return p;
}

/* Checks a received block and frees it from thread `me` (THREADS - 1: the
 * plain thread). */
static void free_block(world *w, unsigned me, void *p) {
    stamp st;
    memcpy(&st, p, sizeof st);
    if (st.magic != MAGIC || st.owner >= CACHES || st.cls >= TR__MC_CLASSES) {
        fail_once(w, "block %#llx: stamp overwritten (magic %#llx)", (uintptr_t)p, st.magic);
        return;
    }
    size_t size = tr__mc_class_size(st.cls);
    const unsigned char *b = p;
    for (size_t i = sizeof st; i < size; i++)
        if (b[i] != fill_byte(st.serial, i)) {
            fail_once(w, "block serial %llu: byte %llu overwritten", st.serial, i);
            return;
        }
    pthread_mutex_lock(&w->live.mu);
    bentry *e = bset_find_locked(&w->live, (uintptr_t)p);
    bool ok = e->addr && e->live && e->owner == st.owner && e->cls == st.cls;
    if (ok)
        e->live = false;
    pthread_mutex_unlock(&w->live.mu);
    if (!ok) {
        fail_once(w, "block %#llx freed but not live (serial %llu)", (uintptr_t)p, st.serial);
        return;
    }
    if (me != st.owner)
        atomic_fetch_add(&w->cross_frees, 1);
    atomic_fetch_add(&w->frees, 1);
    tr__mc_free(&w->base[st.owner], st.cls, p);
}

static void drain(world *w, unsigned me) {
    void **v;
    size_t n = inbox_take(&w->in[me], &v);
    for (size_t i = 0; i < n; i++)
        free_block(w, me, v[i]);
    free(v);
}

typedef struct targ {
    world *w;
    unsigned me;
} targ;

static void *cache_thread(void *arg) {
    targ *ta = arg;
    world *w = ta->w;
    unsigned me = ta->me;
    tr__tls_mcache = &w->base[me];
    uint64_t rnd = 0x2545F4914F6CDD1Dull * (me + 1);
    for (int it = 0; it < ITERS; it++) {
        rnd ^= rnd << 13;
        rnd ^= rnd >> 7;
        rnd ^= rnd << 17;
        /* Bursts of 1..4 blocks, mostly of one class, to random holders
         * (self, siblings, the plain thread). */
        unsigned n = 1 + (unsigned)(rnd & 3);
        for (unsigned i = 0; i < n; i++) {
            size_t want = 1 + (size_t)((rnd >> (8 + i * 10)) % 1024);
            unsigned k = tr__mc_class(want);
            if (k == TR__MC_NONE || tr__mc_class_size(k) < want) {
                fail_once(w, "size %llu: class %llu", want, k);
                continue;
            }
            void *p = alloc_block(w, me, k);
            if (!p)
                continue;
            unsigned to = (unsigned)((rnd >> (40 + i * 5)) % THREADS);
            inbox_put(&w->in[to], p);
        }
        if ((it & 7) == 0)
            drain(w, me);
        if ((it & 1023) == 0)
            tr__mc_flush(tr__tls_mcache); /* as a scheduler thread before it parks */
        if ((it & 255) == 0)
            sched_yield();
    }
    atomic_fetch_sub(&w->producing, 1);
    /* Free what still comes in until every thread is done allocating. */
    while (atomic_load(&w->producing) > 0) {
        drain(w, me);
        sched_yield();
    }
    drain(w, me);
    tr__mc_flush(tr__tls_mcache);
    tr__tls_mcache = NULL;
    return NULL;
}

static void *plain_thread(void *arg) {
    targ *ta = arg;
    world *w = ta->w;
    /* Not a scheduler thread: frees go straight to the allocator. */
    while (atomic_load(&w->producing) > 0) {
        drain(w, ta->me);
        sched_yield();
    }
    drain(w, ta->me);
    return NULL;
}

static void test_mc_classes(void **state) {
    (void)state;
    for (size_t s = 0; s <= 2048; s++) {
        unsigned k = tr__mc_class(s);
        if (s > tr__mc_class_size(TR__MC_CLASSES - 1)) {
            assert_int_equal(k, TR__MC_NONE);
            continue;
        }
        assert_true(k < TR__MC_CLASSES);
        assert_true(tr__mc_class_size(k) >= s);
        /* the smallest class that fits */
        if (k > 0)
            assert_true(tr__mc_class_size(k - 1) < s);
        assert_int_equal(tr__mc_class_size(k) % 64, 0);
    }
}

/* A block found on a free list of cache i, class k: a block the test
 * allocated from cache i in class k, freed, and on no other list. */
static void check_free_block(world *w, tr__mfree *b, unsigned i, unsigned k) {
    bentry *e = bset_get(&w->live, (uintptr_t)b);
    assert_non_null(e);
    assert_false(e->live);
    assert_false(e->seen);
    assert_int_equal(e->owner, i);
    assert_int_equal(e->cls, k);
    e->seen = true;
}

/* Walks cache i's lists; returns the number of blocks, or stops at the
 * first error. */
static size_t walk_cache(world *w, unsigned i) {
    tr__mcache *c = &w->base[i];
    size_t total = 0;
    for (unsigned k = 0; k < TR__MC_CLASSES; k++) {
        uint32_t room = TR__MC_LOCAL_BYTES / (uint32_t)tr__mc_class_size(k);
        /* the local list */
        uint32_t n = 0;
        for (tr__mfree *b = c->local[k].head; b; b = b->next) {
            check_free_block(w, b, i, k);
            n++;
        }
        assert_int_equal(n, c->local[k].count);
        assert_true(n <= room);
        total += n;
        /* the batches siblings gave back */
        for (tr__mfree *batch = c->remote[k]; batch; batch = batch->next_batch) {
            uint32_t bn = 0;
            tr__mfree *last = NULL;
            for (tr__mfree *b = batch; b; b = b->next) {
                check_free_block(w, b, i, k);
                last = b;
                bn++;
            }
            assert_int_equal(bn, batch->count);
            assert_ptr_equal(last, batch->tail);
            assert_true(bn <= TR__MC_BATCH);
            total += bn;
        }
        /* nothing on its way back */
        for (unsigned j = 0; j < CACHES; j++)
            assert_int_equal(c->pending[j * TR__MC_CLASSES + k].count, 0);
    }
    assert_int_equal(c->n_pending, 0);
    return total;
}

static void test_mc_cross_thread(void **state) {
    (void)state;
    world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->base = aligned_alloc(64, sizeof(tr__mcache) * CACHES);
    assert_non_null(w->base);
    memset(w->base, 0, sizeof(tr__mcache) * CACHES);
    assert_int_equal(tr__mc_init_all(w->base, CACHES), 0);
    pthread_mutex_init(&w->live.mu, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_mutex_init(&w->in[i].mu, NULL);
    atomic_store(&w->producing, CACHES);

    pthread_t th[THREADS];
    targ ta[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        ta[i] = (targ){w, i};
        assert_int_equal(
            pthread_create(&th[i], NULL, i < CACHES ? cache_thread : plain_thread, &ta[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);

    if (atomic_load(&w->errors))
        fail_msg("%llu error(s); first: %s", (unsigned long long)atomic_load(&w->errors),
                 w->first_error);
    uint64_t allocs = atomic_load(&w->allocs), frees = atomic_load(&w->frees);
    assert_int_equal(allocs, frees);
    assert_true(atomic_load(&w->cross_frees) > 0);

    size_t cached = 0;
    for (unsigned i = 0; i < CACHES; i++)
        cached += walk_cache(w, i);
    size_t live = 0;
    for (size_t j = 0; j < w->live.cap; j++)
        if (w->live.t[j].addr && w->live.t[j].live)
            live++;
    assert_int_equal(live, 0);
    print_message("mcache: %llu blocks allocated, %llu freed by another thread, %zu distinct "
                  "addresses, %zu cached at the end\n",
                  (unsigned long long)allocs, (unsigned long long)atomic_load(&w->cross_frees),
                  w->live.n, cached);

    tr__mc_fini_all(w->base, CACHES);
    for (unsigned i = 0; i < CACHES; i++)
        for (unsigned k = 0; k < TR__MC_CLASSES; k++) {
            assert_null(w->base[i].local[k].head);
            assert_null(w->base[i].remote[k]);
        }
    for (int i = 0; i < THREADS; i++) {
        pthread_mutex_destroy(&w->in[i].mu);
        free(w->in[i].v);
    }
    pthread_mutex_destroy(&w->live.mu);
    free(w->live.t);
    free(w->base);
    free(w);
}

static bool in_set(void *const *v, size_t n, const void *p) {
    for (size_t i = 0; i < n; i++)
        if (v[i] == p)
            return true;
    return false;
}

/* The hand-off step by step, on one thread that plays cache A's and cache
 * B's owner in turn (tr__tls_mcache says whose thread it is). */
static void test_mc_return_to_owner(void **state) {
    (void)state;
    tr__mcache *base = aligned_alloc(64, sizeof(tr__mcache) * 2);
    assert_non_null(base);
    memset(base, 0, sizeof(tr__mcache) * 2);
    assert_int_equal(tr__mc_init_all(base, 2), 0);
    tr__mcache *A = &base[0], *B = &base[1];
    enum { N = TR__MC_BATCH };
    void *blk[N], *again[N];

    /* A allocates a batch's worth (from the allocator: its lists are
     * empty); B frees them all: they go back to A as one batch. */
    tr__tls_mcache = A;
    for (int i = 0; i < N; i++) {
        blk[i] = tr__mc_alloc(A, 1);
        assert_non_null(blk[i]);
        assert_false(in_set(blk, (size_t)i, blk[i]));
    }
    tr__tls_mcache = B;
    for (int i = 0; i < N - 1; i++) {
        tr__mc_free(A, 1, blk[i]);
        assert_null(A->remote[1]); /* pending at B until a batch is full */
    }
    assert_int_equal(B->n_pending, 1);
    tr__mc_free(A, 1, blk[N - 1]);
    assert_non_null(A->remote[1]);
    assert_int_equal(A->remote[1]->count, N);
    assert_null(A->remote[1]->next_batch);
    assert_int_equal(B->n_pending, 0);
    assert_null(B->local[1].head); /* nothing of A's stays at B */

    /* A allocates again: exactly its own blocks come back. */
    tr__tls_mcache = A;
    for (int i = 0; i < N; i++) {
        again[i] = tr__mc_alloc(A, 1);
        assert_true(in_set(blk, N, again[i]));
        assert_false(in_set(again, (size_t)i, again[i]));
    }
    assert_null(A->remote[1]);
    assert_int_equal(A->local[1].count, 0);

    /* A partial list goes back when B flushes (before it parks). */
    tr__tls_mcache = B;
    for (int i = 0; i < 10; i++)
        tr__mc_free(A, 1, again[i]);
    assert_null(A->remote[1]);
    tr__mc_flush(B);
    assert_non_null(A->remote[1]);
    assert_int_equal(A->remote[1]->count, 10);
    assert_int_equal(B->n_pending, 0);

    /* The owner's own frees stay local (LIFO: the last freed is the next
     * allocated). */
    tr__tls_mcache = A;
    tr__mc_free(A, 1, again[10]);
    assert_int_equal(A->local[1].count, 1);
    assert_ptr_equal(tr__mc_alloc(A, 1), again[10]);
    tr__mc_free(A, 1, again[10]);

    /* A plain thread frees straight to the allocator. */
    tr__tls_mcache = NULL;
    for (int i = 11; i < N; i++)
        tr__mc_free(A, 1, again[i]);
    assert_int_equal(A->local[1].count, 1);
    assert_int_equal(A->remote[1]->count, 10);

    /* The local list is bounded: past TR__MC_LOCAL_BYTES, frees go to the
     * allocator. */
    tr__tls_mcache = A;
    uint32_t room = TR__MC_LOCAL_BYTES / (uint32_t)tr__mc_class_size(3);
    void **many = calloc(room + 8, sizeof(void *));
    assert_non_null(many);
    for (uint32_t i = 0; i < room + 8; i++)
        many[i] = tr__mc_alloc(A, 3);
    for (uint32_t i = 0; i < room + 8; i++)
        tr__mc_free(A, 3, many[i]);
    assert_int_equal(A->local[3].count, room);
    free(many);

    tr__tls_mcache = NULL;
    tr__mc_fini_all(base, 2);
    free(base);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mc_classes),
        cmocka_unit_test(test_mc_return_to_owner),
        cmocka_unit_test(test_mc_cross_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
