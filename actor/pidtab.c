/* troupe — the pid table: slots and their regions, the per-thread slot
 * cache, references, the counts, deferred destruction (pidtab.h). */
#include <stdlib.h>
#include <string.h>

#include "actor/core.h"

/* One slot of pool p from its free list or its high-water mark; table_mu
 * held. 0 when the region is full (*err = TR_EFULL) or a segment cannot be
 * allocated (TR_ENOMEM). */
static uint32_t table_take_locked(tr_runtime *rt, tr__slotpool *p, int *err) {
    if (p->n_free)
        return p->free[--p->n_free];
    if (p->high >= p->end) {
        *err = TR_EFULL;
        return 0;
    }
    uint32_t idx = p->high;
    uint32_t seg = idx >> TR__SEG_BITS;
    if (!rt->segs[seg]) {
        tr__slot *s = (tr__slot *)tr__calloc(sizeof(tr__slot) * TR__SEG_SIZE);
        if (!s) {
            *err = TR_ENOMEM;
            return 0;
        }
        for (uint32_t i = 0; i < TR__SEG_SIZE; i++)
            s[i].w = (uint64_t)1 << 32; /* generation 1 */
        tr__store_rel_ptr((void **)&rt->segs[seg], s);
    }
    p->high++;
    return idx;
}

/* Puts a slot back on pool p's free list; table_mu held. */
static void table_put_locked(tr__slotpool *p, uint32_t idx) {
    if (!TR__GROW(p->free, p->n_free, p->cap_free, 1024))
        return; /* cannot remember the slot: it stays unusable */
    p->free[p->n_free++] = idx;
}

/* Scheduler threads cache free actor slots when the table is large enough
 * that a few hundred parked in a cache cannot starve another thread (near
 * full, up to 2 * TR__SLOT_BATCH free slots per thread may sit in caches). */
static inline tr__sched *slot_cache(tr_runtime *rt) {
    tr__sched *sc = tr__tls_sched;
    return sc && sc->rt == rt && rt->max_actors >= 65536 ? sc : NULL;
}

/* Reserves a slot; returns its index (0 on failure: full or no memory).
 * Actors and waiters have separate regions; the actor region's size is the
 * actor limit. Scheduler threads trade actor slots with the shared list
 * TR__SLOT_BATCH at a time, so spawning and exiting rarely take the mutex. */
uint32_t tr__pidtab_alloc(tr_runtime *rt, bool waiter, int *err) {
    tr__sched *sc = waiter ? NULL : slot_cache(rt);
    if (!sc) {
        pthread_mutex_lock(&rt->table_mu);
        uint32_t idx = table_take_locked(rt, waiter ? &rt->waiter_slots : &rt->actor_slots, err);
        pthread_mutex_unlock(&rt->table_mu);
        return idx;
    }
    if (sc->ctx.n_slots == 0) {
        pthread_mutex_lock(&rt->table_mu);
        while (sc->ctx.n_slots < TR__SLOT_BATCH) {
            int e2 = TR_OK;
            uint32_t k = table_take_locked(rt, &rt->actor_slots, &e2);
            if (!k) {
                if (sc->ctx.n_slots == 0)
                    *err = e2;
                break;
            }
            sc->ctx.slots[sc->ctx.n_slots++] = k;
        }
        pthread_mutex_unlock(&rt->table_mu);
    }
    return sc->ctx.n_slots ? sc->ctx.slots[--sc->ctx.n_slots] : 0;
}

void tr__pidtab_free(tr_runtime *rt, uint32_t idx) {
    bool waiter = idx >= rt->actor_slots.end; /* the waiters' region follows the actors' */
    tr__sched *sc = waiter ? NULL : slot_cache(rt);
    if (sc) {
        sc->ctx.slots[sc->ctx.n_slots++] = idx;
        if (sc->ctx.n_slots < 2 * TR__SLOT_BATCH)
            return;
        pthread_mutex_lock(&rt->table_mu);
        while (sc->ctx.n_slots > TR__SLOT_BATCH)
            table_put_locked(&rt->actor_slots, sc->ctx.slots[--sc->ctx.n_slots]);
        pthread_mutex_unlock(&rt->table_mu);
        return;
    }
    pthread_mutex_lock(&rt->table_mu);
    table_put_locked(waiter ? &rt->waiter_slots : &rt->actor_slots, idx);
    pthread_mutex_unlock(&rt->table_mu);
}

uint64_t tr__count_sum(const tr_runtime *rt, const uint64_t *shared, size_t field) {
    uint64_t n = tr__load_acq_u64(shared);
    for (unsigned i = 0; rt->scheds && i < rt->n_sched; i++)
        n += tr__load_acq_u64((const uint64_t *)((const char *)&rt->scheds[i] + field));
    return n;
}

uint64_t tr__count_alive(const tr_runtime *rt) {
    return tr__count_sum(rt, &rt->n_alive, offsetof(tr__sched, ctx.d_alive));
}
uint64_t tr__count_allocated(const tr_runtime *rt) {
    return tr__count_sum(rt, &rt->n_allocated, offsetof(tr__sched, ctx.d_allocated));
}

static void destroy_cb(ck_epoch_entry_t *e) {
    tr__actor_destroy((tr__actor *)((char *)e - offsetof(tr__actor, ep)));
}

/* The last reference is gone and the actor has exited: destroy it once no
 * thread can still be using it. */
static void defer_destroy(tr__actor *a) {
#ifdef TR__TSAN
    tr__actor_destroy(a); /* no borrowed lookups in TSan builds */
#else
    tr_runtime *rt = a->rt;
    if (tr__retire_defer(rt, &a->ep, destroy_cb))
        return;
    if (tr__load_acq_u32(&rt->stopped)) {
        tr__actor_destroy(a); /* no scheduler thread is left to hold a borrowed lookup */
        return;
    }
    pthread_mutex_lock(&rt->grave_mu);
    a->run_next = rt->grave;
    rt->grave = a;
    uint32_t n = tr__faa_acqrel_u32(&rt->n_grave, 1) + 1;
    pthread_mutex_unlock(&rt->grave_mu);
    if (n > 1024)
        tr__grave_drain_sync(rt); /* schedulers are slow to take them: bound the pile */
    else
        tr__wake_one(rt); /* a parked scheduler takes them (free if one spins) */
#endif
}

/* Drops a real reference (the self reference, or one taken by a lookup
 * outside borrow mode). */
void tr__unref(tr__actor *a) {
    tr__slot *s = tr__slot_at(a->rt, tr__pid_index(a->pid));
    uint64_t old = tr__faa_acqrel_u64(&s->w, (uint64_t)-1);
    if ((old & TR__SLOT_REFS) == 1 && !(old & TR__SLOT_ALIVE))
        defer_destroy(a);
}

void tr__release(tr__actor *a) {
    if (tr__borrow_mode(a->rt))
        return;
    tr__unref(a);
}

static tr__actor *grave_take(tr_runtime *rt) {
    if (!tr__load_acq_u32(&rt->n_grave))
        return NULL;
    pthread_mutex_lock(&rt->grave_mu);
    tr__actor *list = rt->grave;
    rt->grave = NULL;
    tr__store_rel_u32(&rt->n_grave, 0);
    pthread_mutex_unlock(&rt->grave_mu);
    return list;
}

void tr__grave_to_epoch(tr__sched *sc) {
    tr__actor *a = grave_take(sc->rt);
    while (a) {
        tr__actor *next = a->run_next;
        ck_epoch_call_strict(&sc->epoch, &a->ep, destroy_cb);
        a = next;
    }
}

void tr__grave_drain_sync(tr_runtime *rt) {
    tr__actor *a = grave_take(rt);
    if (!a)
        return;
    if (!tr__grace_wait(rt)) {
        /* no record (out of memory): keep them for a scheduler thread */
        while (a) {
            tr__actor *next = a->run_next;
            pthread_mutex_lock(&rt->grave_mu);
            a->run_next = rt->grave;
            rt->grave = a;
            tr__faa_acqrel_u32(&rt->n_grave, 1);
            pthread_mutex_unlock(&rt->grave_mu);
            a = next;
        }
        return;
    }
    while (a) {
        tr__actor *next = a->run_next;
        tr__actor_destroy(a);
        a = next;
    }
}

void tr__grave_drain_final(tr_runtime *rt) {
    tr__actor *a;
    while ((a = grave_take(rt)) != NULL)
        while (a) {
            tr__actor *next = a->run_next;
            tr__actor_destroy(a);
            a = next;
        }
}

/* Clears ALIVE: from now on lookups fail. The caller holds a reference,
 * or (a killer in borrow mode) its epoch section keeps `a` readable.
 * Whichever comes last of this and the last unref destroys: a killer that
 * holds no reference may retire the pid after the owner, running at once
 * on another thread, has finished its exit and dropped the self reference
 * (exit_notify claims the exit under the lock, and retires after it). */
void tr__pidtab_retire(tr__actor *a) {
    tr__slot *s = tr__slot_at(a->rt, tr__pid_index(a->pid));
    uint64_t w = tr__load_acq_u64(&s->w);
    while (!tr__cas_acqrel_u64(&s->w, w, w & ~TR__SLOT_ALIVE))
        w = tr__load_acq_u64(&s->w);
    if ((w & TR__SLOT_ALIVE) && (w & TR__SLOT_REFS) == 0)
        defer_destroy(a);
}

bool tr_is_alive(tr_runtime *rt, tr_pid pid) {
    if (!rt)
        return false;
    tr__actor *a = tr__acquire_target(rt, pid); /* processes and receivers */
    if (!a)
        return false;
    tr__release(a);
    return true;
}
