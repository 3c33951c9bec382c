/* troupe — the pid table (private to actor/), in the manner of erts's
 * erl_ptab.c.
 *
 * A slot of the table holds a word: generation | ALIVE | refcount. A lookup
 * succeeds only while the generation matches and ALIVE is set, so a stale
 * pid never reaches a new actor. On a scheduler thread (inside its epoch
 * section) a lookup only reads the slot; elsewhere it takes a reference
 * with a CAS. The actor holds one reference on itself while alive; exiting
 * clears ALIVE (tr__pidtab_retire: no new lookups succeed) and drops it;
 * when the last reference goes, the actor is destroyed after an epoch
 * grace period (tr__actor_destroy), and the slot is reused with the next
 * generation.
 *
 * The lookups are inline: every send makes one.
 */
#ifndef TROUPE_ACTOR_PIDTAB_H
#define TROUPE_ACTOR_PIDTAB_H

#include "actor/runtime.h"

/* True when pid can name a process of rt: rt's id, and a slot of the
 * actors' region (not a blocking caller's waiter: that pid is a reply-only
 * address). Says nothing about whether the process is alive. */
/* tr__unref: drops a real reference (the self reference, or one taken
 * outside borrow mode); the last one of an exited actor destroys it after
 * a grace period. */
void tr__unref(tr__actor *a);

static inline bool tr__pid_is_proc(const tr_runtime *rt, tr_pid p) {
    /* Actors take slots 1..max_actors (index 0 wraps to UINT32_MAX here).
     * Reads only the runtime's first cache line, which never changes after
     * start (actor_slots is written by every slot refill). */
    return tr__pid_rt(p) == rt->id && tr__pid_index(p) - 1u < rt->max_actors;
}

static inline tr__slot *tr__slot_at(tr_runtime *rt, uint32_t idx) {
    uint32_t seg = idx >> TR__SEG_BITS;
    if (seg >= rt->n_segs)
        return NULL;
    tr__slot *s = (tr__slot *)tr__load_acq_ptr((void *const *)&rt->segs[seg]);
    if (!s)
        return NULL;
    return &s[idx & (TR__SEG_SIZE - 1)];
}

/* The counts: this thread's share when it is a scheduler thread of rt
 * (plain stores, no shared cache line), the shared atomic otherwise. */
static inline void tr__count_add(tr_runtime *rt, uint64_t *shared, size_t field, int64_t d) {
    tr__sched *sc = tr__tls_sched;
    if (sc && sc->rt == rt) {
        uint64_t *mine = (uint64_t *)((char *)sc + field);
        tr__store_rel_u64(mine, *mine + (uint64_t)d);
    } else {
        tr__faa_acqrel_u64(shared, (uint64_t)d);
    }
}

#define TR__COUNT_ALIVE(rt, d)                                                                     \
    tr__count_add(rt, &(rt)->n_alive, offsetof(tr__sched, ctx.d_alive), d)
#define TR__COUNT_ALLOCATED(rt, d)                                                                 \
    tr__count_add(rt, &(rt)->n_allocated, offsetof(tr__sched, ctx.d_allocated), d)

#define TR__COUNT_SPAWN(rt) tr__count_add(rt, &(rt)->n_spawns, offsetof(tr__sched, ctx.d_spawns), 1)
/* One exit of kind k (tr_exit_kind; kill counts as killed). */
static inline void tr__count_exit(tr_runtime *rt, int32_t k) {
    if (k == TR_EXIT_KILL)
        k = TR_EXIT_KILLED;
    if (k < 0 || k >= TR__EXIT_KINDS)
        k = TR_EXIT_ERROR;
    tr__count_add(rt, &rt->n_exits[k], offsetof(tr__sched, ctx.d_exits) + (size_t)k * 8, 1);
}

/* Lookups. On a scheduler thread inside its epoch section (the normal case
 * in callbacks), a lookup takes no reference: it only reads the slot, and
 * the actor's memory is freed only after every section that could have
 * seen it has ended (destruction is deferred through ck_epoch). Elsewhere
 * (plain threads, TSan builds, epoch callbacks) a lookup takes a reference
 * on the slot with a CAS. tr__acquire/tr__release pairs run on one thread
 * with no section boundary between them. */
static inline bool tr__borrow_mode(const tr_runtime *rt) {
#ifdef TR__TSAN
    (void)rt;
    return false; /* TSan cannot see ck_epoch's ordering: references only */
#else
    tr__sched *sc = tr__tls_sched;
    return sc && sc->rt == rt && sc->in_section;
#endif
}

/* The lookup, for any pid of rt (processes and waiters). */
static inline tr__actor *tr__lookup(tr_runtime *rt, tr_pid pid) {
    tr__slot *s = tr__slot_at(rt, tr__pid_index(pid));
    if (!s)
        return NULL;
    uint64_t w = tr__load_acq_u64(&s->w);
    if (tr__borrow_mode(rt)) {
        if ((uint32_t)(w >> 32) != tr__pid_gen(pid) || !(w & TR__SLOT_ALIVE))
            return NULL;
        return (tr__actor *)tr__load_acq_ptr((void *const *)&s->actor);
    }
    for (;;) {
        if ((uint32_t)(w >> 32) != tr__pid_gen(pid) || !(w & TR__SLOT_ALIVE))
            return NULL;
        if (tr__cas_acqrel_u64(&s->w, w, w + 1))
            break;
        w = tr__load_acq_u64(&s->w);
    }
    return (tr__actor *)tr__load_acq_ptr((void *const *)&s->actor);
}

/* Processes only: a pid of another runtime, or a blocking caller's waiter
 * (a reply-only address), names no process here. */
static inline tr__actor *tr__acquire(tr_runtime *rt, tr_pid pid) {
    if (!tr__pid_is_proc(rt, pid))
        return NULL;
    return tr__lookup(rt, pid);
}

/* Waiters too: for what the runtime itself delivers to a blocking caller
 * (replies, its monitor's DOWN, the shutdown signal). */
static inline tr__actor *tr__acquire_any(tr_runtime *rt, tr_pid pid) {
    if (tr__pid_rt(pid) != rt->id || tr__pid_index(pid) == 0)
        return NULL;
    return tr__lookup(rt, pid);
}

/* As tr__release, for a caller that knows a's runtime: does not read a->rt,
 * whose cache line the receiver's thread keeps writing. */
static inline void tr__release_in(tr_runtime *rt, tr__actor *a) {
    if (tr__borrow_mode(rt))
        return;
    tr__unref(a);
}

/* tr__release: drops a reference taken by tr__acquire/tr__acquire_any
 * (nothing in borrow mode). */
void tr__release(tr__actor *a);

/* tr__pidtab_alloc: reserves a slot (the waiters' region when waiter) and
 * returns its index; 0 with *err TR_EFULL (region full) or TR_ENOMEM. */
uint32_t tr__pidtab_alloc(tr_runtime *rt, bool waiter, int *err);
/* tr__pidtab_free: gives slot idx back (its generation already bumped). */
void tr__pidtab_free(tr_runtime *rt, uint32_t idx);
/* tr__pidtab_retire: clears ALIVE: from now on lookups of a's pid fail.
 * The caller holds a reference or is in borrow mode; if every reference
 * is gone already (the owner finished its exit first), this destroys a
 * after a grace period. */
void tr__pidtab_retire(tr__actor *a);

/* Deferred destruction of actors whose last reference a plain thread
 * dropped (the graveyard). */
void tr__grave_to_epoch(tr__sched *s);      /* scheduler thread: hand the graveyard to its record */
void tr__grave_drain_sync(tr_runtime *rt);  /* plain thread: wait a grace period, destroy */
void tr__grave_drain_final(tr_runtime *rt); /* no scheduler threads left: destroy */

/* Counts: live actors (not waiters), and actor structs not yet destroyed. */
/* tr__count_sum: a count's shared part plus every scheduler thread's
 * share (at field in tr__sched). Any thread. */
uint64_t tr__count_sum(const tr_runtime *rt, const uint64_t *shared, size_t field);
uint64_t tr__count_alive(const tr_runtime *rt);
uint64_t tr__count_allocated(const tr_runtime *rt);

#endif
