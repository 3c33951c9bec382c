/* troupe — actors: the pid table, spawn, the run loop, exits, links and
 * monitors, and the send family.
 *
 * Lifetime. A slot of the pid table holds a word: generation | ALIVE |
 * refcount. A lookup succeeds only while the generation matches and ALIVE is
 * set, so a stale pid never reaches a new actor. On a scheduler thread
 * (inside its epoch section) a lookup only reads the slot; elsewhere it
 * takes a reference with a CAS. The actor holds one reference on itself
 * while alive; exiting clears ALIVE (no new lookups succeed) and drops it;
 * when the last reference goes, the actor is destroyed after an epoch grace
 * period (defer_destroy): its mailbox drained (calls that will never be
 * handled are answered with TR_EEXITED), its memory freed, the generation
 * bumped.
 *
 * A dead actor keeps its run token forever (never marks its mailbox empty),
 * so late pushes never schedule it.
 */
#include <stdlib.h>
#include <string.h>

#include "actor/core.h"
#include "base/clock.h"

/* ------------------------------------------------------------------------ */
/* pid table                                                                 */
/* ------------------------------------------------------------------------ */

static inline uint32_t pid_index(tr_pid p) {
    return tr__pid_index(p);
}
static inline uint32_t pid_gen(tr_pid p) {
    return tr__pid_gen(p);
}

static tr__slot *slot_at(tr_runtime *rt, uint32_t idx) {
    uint32_t seg = idx >> TR__SEG_BITS;
    if (seg >= rt->n_segs)
        return NULL;
    tr__slot *s = (tr__slot *)tr__load_acq_ptr((void *const *)&rt->segs[seg]);
    if (!s)
        return NULL;
    return &s[idx & (TR__SEG_SIZE - 1)];
}

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
    if (p->n_free == p->cap_free) {
        uint32_t cap = p->cap_free ? p->cap_free * 2 : 1024;
        uint32_t *f = (uint32_t *)tr__realloc(p->free, sizeof(uint32_t) * cap);
        if (!f)
            return; /* cannot remember the slot: it stays unusable */
        p->free = f;
        p->cap_free = cap;
    }
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
static uint32_t table_alloc(tr_runtime *rt, bool waiter, int *err) {
    tr__sched *sc = waiter ? NULL : slot_cache(rt);
    if (!sc) {
        pthread_mutex_lock(&rt->table_mu);
        uint32_t idx = table_take_locked(rt, waiter ? &rt->waiter_slots : &rt->actor_slots, err);
        pthread_mutex_unlock(&rt->table_mu);
        return idx;
    }
    if (sc->n_slots == 0) {
        pthread_mutex_lock(&rt->table_mu);
        while (sc->n_slots < TR__SLOT_BATCH) {
            int e2 = TR_OK;
            uint32_t k = table_take_locked(rt, &rt->actor_slots, &e2);
            if (!k) {
                if (sc->n_slots == 0)
                    *err = e2;
                break;
            }
            sc->slots[sc->n_slots++] = k;
        }
        pthread_mutex_unlock(&rt->table_mu);
    }
    return sc->n_slots ? sc->slots[--sc->n_slots] : 0;
}

static void table_free(tr_runtime *rt, uint32_t idx) {
    bool waiter = idx >= rt->actor_slots.end; /* the waiters' region follows the actors' */
    tr__sched *sc = waiter ? NULL : slot_cache(rt);
    if (sc) {
        sc->slots[sc->n_slots++] = idx;
        if (sc->n_slots < 2 * TR__SLOT_BATCH)
            return;
        pthread_mutex_lock(&rt->table_mu);
        while (sc->n_slots > TR__SLOT_BATCH)
            table_put_locked(&rt->actor_slots, sc->slots[--sc->n_slots]);
        pthread_mutex_unlock(&rt->table_mu);
        return;
    }
    pthread_mutex_lock(&rt->table_mu);
    table_put_locked(waiter ? &rt->waiter_slots : &rt->actor_slots, idx);
    pthread_mutex_unlock(&rt->table_mu);
}

/* The counts: this thread's share when it is a scheduler thread of rt
 * (plain stores, no shared cache line), the shared atomic otherwise. */
static inline void count_add(tr_runtime *rt, uint64_t *shared, size_t field, int64_t d) {
    tr__sched *sc = tr__tls_sched;
    if (sc && sc->rt == rt) {
        uint64_t *mine = (uint64_t *)((char *)sc + field);
        tr__store_rel_u64(mine, *mine + (uint64_t)d);
    } else {
        tr__faa_acqrel_u64(shared, (uint64_t)d);
    }
}

static uint64_t count_sum(const tr_runtime *rt, const uint64_t *shared, size_t field) {
    uint64_t n = tr__load_acq_u64(shared);
    for (unsigned i = 0; rt->scheds && i < rt->n_sched; i++)
        n += tr__load_acq_u64((const uint64_t *)((const char *)&rt->scheds[i] + field));
    return n;
}

#define COUNT_ALIVE(rt, d) count_add(rt, &(rt)->n_alive, offsetof(tr__sched, d_alive), d)
#define COUNT_ALLOCATED(rt, d)                                                                     \
    count_add(rt, &(rt)->n_allocated, offsetof(tr__sched, d_allocated), d)

uint64_t tr__count_alive(const tr_runtime *rt) {
    return count_sum(rt, &rt->n_alive, offsetof(tr__sched, d_alive));
}
uint64_t tr__count_allocated(const tr_runtime *rt) {
    return count_sum(rt, &rt->n_allocated, offsetof(tr__sched, d_allocated));
}

/* Lookups. On a scheduler thread inside its epoch section (the normal case
 * in callbacks), a lookup takes no reference: it only reads the slot, and
 * the actor's memory is freed only after every section that could have
 * seen it has ended (destruction is deferred through ck_epoch). Elsewhere
 * (plain threads, TSan builds, epoch callbacks) a lookup takes a reference
 * on the slot with a CAS. tr__acquire/tr__release pairs run on one thread
 * with no section boundary between them. */
static inline bool borrow_mode(const tr_runtime *rt) {
#ifdef TR__TSAN
    (void)rt;
    return false; /* TSan cannot see ck_epoch's ordering: references only */
#else
    tr__sched *sc = tr__tls_sched;
    return sc && sc->rt == rt && sc->in_section;
#endif
}

/* The lookup, for any pid of rt (processes and waiters). */
static inline tr__actor *acquire(tr_runtime *rt, tr_pid pid) {
    tr__slot *s = slot_at(rt, pid_index(pid));
    if (!s)
        return NULL;
    uint64_t w = tr__load_acq_u64(&s->w);
    if (borrow_mode(rt)) {
        if ((uint32_t)(w >> 32) != pid_gen(pid) || !(w & TR__SLOT_ALIVE))
            return NULL;
        return (tr__actor *)tr__load_acq_ptr((void *const *)&s->actor);
    }
    for (;;) {
        if ((uint32_t)(w >> 32) != pid_gen(pid) || !(w & TR__SLOT_ALIVE))
            return NULL;
        if (tr__cas_acqrel_u64(&s->w, w, w + 1))
            break;
        w = tr__load_acq_u64(&s->w);
    }
    return (tr__actor *)tr__load_acq_ptr((void *const *)&s->actor);
}

/* Processes only: a pid of another runtime, or a blocking caller's waiter
 * (a reply-only address), names no process here. */
tr__actor *tr__acquire(tr_runtime *rt, tr_pid pid) {
    if (!tr__pid_is_proc(rt, pid))
        return NULL;
    return acquire(rt, pid);
}

/* Waiters too: for what the runtime itself delivers to a blocking caller
 * (replies, its monitor's DOWN, the shutdown signal). */
tr__actor *tr__acquire_any(tr_runtime *rt, tr_pid pid) {
    if (tr__pid_rt(pid) != rt->id || pid_index(pid) == 0)
        return NULL;
    return acquire(rt, pid);
}

static void destroy(tr__actor *a);

static void destroy_cb(ck_epoch_entry_t *e) {
    destroy((tr__actor *)((char *)e - offsetof(tr__actor, ep)));
}

/* The last reference is gone and the actor has exited: destroy it once no
 * thread can still be using it. */
static void defer_destroy(tr__actor *a) {
#ifdef TR__TSAN
    destroy(a); /* no borrowed lookups in TSan builds */
#else
    tr_runtime *rt = a->rt;
    tr__sched *sc = tr__tls_sched;
    if (sc && sc->rt == rt) {
        ck_epoch_call_strict(&sc->epoch, &a->ep, destroy_cb);
        return;
    }
    if (tr__load_acq_u32(&rt->stopped)) {
        destroy(a); /* no scheduler thread is left to hold a borrowed lookup */
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
static void unref(tr__actor *a) {
    tr__slot *s = slot_at(a->rt, pid_index(a->pid));
    uint64_t old = tr__faa_acqrel_u64(&s->w, (uint64_t)-1);
    if ((old & TR__SLOT_REFS) == 1 && !(old & TR__SLOT_ALIVE))
        defer_destroy(a);
}

void tr__release(tr__actor *a) {
    if (borrow_mode(a->rt))
        return;
    unref(a);
}

/* As tr__release, for a caller that knows a's runtime: does not read a->rt,
 * whose cache line the receiver's thread keeps writing. */
static inline void release_in(tr_runtime *rt, tr__actor *a) {
    if (borrow_mode(rt))
        return;
    unref(a);
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
    bool borrowed;
    ck_epoch_record_t *rec = tr__epoch_enter(rt, &borrowed);
    if (rec) {
        ck_epoch_synchronize(rec);
        tr__epoch_leave(rt, rec, borrowed);
    } else {
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
        destroy(a);
        a = next;
    }
}

void tr__grave_drain_final(tr_runtime *rt) {
    tr__actor *a;
    while ((a = grave_take(rt)) != NULL)
        while (a) {
            tr__actor *next = a->run_next;
            destroy(a);
            a = next;
        }
}

/* Clears ALIVE: from now on lookups fail. The caller still holds its ref. */
static void retire_slot(tr__actor *a) {
    tr__slot *s = slot_at(a->rt, pid_index(a->pid));
    uint64_t w = tr__load_acq_u64(&s->w);
    while (!tr__cas_acqrel_u64(&s->w, w, w & ~TR__SLOT_ALIVE))
        w = tr__load_acq_u64(&s->w);
}

/* ------------------------------------------------------------------------ */
/* reasons                                                                   */
/* ------------------------------------------------------------------------ */

/* Reason texts are NUL-terminated on receipt (tr_exit, tr_stop, tr_fail):
 * what the runtime passes on can be read as a string. */
static inline tr_reason reason_sealed(tr_reason r) {
    r.text[sizeof r.text - 1] = '\0';
    return r;
}

static tr_reason mk_reason(int kind) {
    tr_reason r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    return r;
}
tr_reason tr_reason_normal(void) {
    return mk_reason(TR_EXIT_NORMAL);
}
tr_reason tr_reason_shutdown(void) {
    return mk_reason(TR_EXIT_SHUTDOWN);
}
tr_reason tr_reason_kill(void) {
    return mk_reason(TR_EXIT_KILL);
}
tr_reason tr_reason_error(int code, const char *text) {
    tr_reason r = mk_reason(TR_EXIT_ERROR);
    r.code = code;
    if (text) {
        strncpy(r.text, text, sizeof r.text - 1);
        r.text[sizeof r.text - 1] = '\0';
    }
    return r;
}
bool tr_reason_is_normal(const tr_reason *r) {
    return r && r->kind == TR_EXIT_NORMAL;
}

char *tr_reason_format(const tr_reason *r, char *buf, size_t size) {
    if (!buf || size == 0)
        return buf;
    if (!r) {
        snprintf(buf, size, "(null)");
        return buf;
    }
    switch (r->kind) {
    case TR_EXIT_NORMAL:
        snprintf(buf, size, "normal");
        break;
    case TR_EXIT_SHUTDOWN:
        if (r->text[0]) /* why, e.g. a supervisor whose child could not start */
            snprintf(buf, size, "shutdown(%d): %.*s", (int)r->code, (int)sizeof r->text - 1,
                     r->text);
        else
            snprintf(buf, size, "shutdown");
        break;
    case TR_EXIT_KILL:
        snprintf(buf, size, "kill");
        break;
    case TR_EXIT_KILLED:
        snprintf(buf, size, "killed");
        break;
    case TR_EXIT_NOPROC:
        snprintf(buf, size, "noproc");
        break;
    case TR_EXIT_ERROR:
        snprintf(buf, size, "error(%d): %.*s", (int)r->code, (int)sizeof r->text - 1, r->text);
        break;
    default:
        snprintf(buf, size, "unknown(%d)", (int)r->kind);
        break;
    }
    return buf;
}

const tr_reason *tr_msg_reason(const tr_msg *msg) {
    if (!msg || (msg->kind != TR_MSG_EXIT && msg->kind != TR_MSG_DOWN) ||
        msg->size != sizeof(tr_reason))
        return NULL;
    return (const tr_reason *)msg->data;
}

/* ------------------------------------------------------------------------ */
/* pushing                                                                   */
/* ------------------------------------------------------------------------ */

/* max_mailbox and is_waiter never change after the pid is published, but
 * they share an 8-byte word with fields written under the lock (exiting,
 * has_names): separate relaxed loads keep the compiler from reading them
 * as one word (which ThreadSanitizer reports as a race with those writes). */
static inline bool bounded_or_waiter(const tr__actor *a) {
    return __atomic_load_n(&a->max_mailbox, __ATOMIC_RELAXED) != 0 ||
           __atomic_load_n(&a->is_waiter, __ATOMIC_RELAXED);
}

/* Gathering sends. During an actor's turn, messages to other actors of the
 * runtime (unbounded mailboxes, not waiters) wait in the thread's outbox, in
 * one chain per receiver, and go with one exchange when the chain is
 * TR__OB_CHAIN long, when the outbox needs room, and when the turn ends
 * (tr__ob_flush). The first send of a turn to an idle receiver is not
 * gathered: it goes at once, so the receiver runs while the turn goes on. When the turn runs long
 * (a long callback), an idle thread flushes the outbox (steal_next in
 * runtime.c), under ob_lock. Order between one sender and one receiver is
 * kept: every push from the turn to that receiver goes through the same
 * chain, or directly when it has none. */
static void ob_push(tr__obox *b);

/* ob_n is written under ob_lock (atomically: the owner reads it without the
 * lock to skip the lock when the outbox is empty; only the owner makes it
 * grow). Release/acquire: an owner that sees an idle thread's flush (0)
 * sends after the flushed chains were pushed. */
static inline unsigned ob_count(const tr__sched *sc) {
    return __atomic_load_n(&sc->ob_n, __ATOMIC_ACQUIRE);
}
static inline void ob_set_count(tr__sched *sc, unsigned n) {
    __atomic_store_n(&sc->ob_n, n, __ATOMIC_RELEASE);
    if (n == 0)
        __atomic_store_n(&sc->ob_held, 0, __ATOMIC_RELAXED);
}

/* Under sc->ob_lock. */
static void ob_append(tr__sched *sc, tr__obox *b, tr__msg *m) {
    m->node.next = NULL;
    b->tail->next = &m->node;
    b->tail = &m->node;
    if (++b->n >= TR__OB_CHAIN) {
        ob_push(b);
        *b = sc->ob[sc->ob_n - 1]; /* order between receivers is free */
        ob_set_count(sc, sc->ob_n - 1);
    }
}

/* Under sc->ob_lock; a is not in the outbox yet. */
static void ob_add(tr__sched *sc, tr__actor *a, tr__msg *m) {
    m->node.next = NULL;
    tr__obox *b;
    if (sc->ob_n == TR__OB_SLOTS) {
        ob_push(&sc->ob[0]);
        sc->ob[0] = sc->ob[sc->ob_n - 1];
        ob_set_count(sc, sc->ob_n - 1);
    }
    if (sc->ob_n == 0) {
        /* Messages are held from now on: an idle thread must be looking
         * in case this turn runs long (it flushes them, steal_next). */
        __atomic_store_n(&sc->ob_held, 1, __ATOMIC_RELAXED);
        tr__wake_watcher(a->rt);
    }
    b = &sc->ob[sc->ob_n];
    ob_set_count(sc, sc->ob_n + 1);
    b->a = a;
    b->head = b->tail = &m->node;
    b->n = 1;
    /* Outside borrow mode the caller's reference ends with its send: keep
     * one of our own until the chain is pushed. */
    b->ref = !borrow_mode(a->rt);
    if (b->ref)
        tr__faa_acqrel_u64(&slot_at(a->rt, pid_index(a->pid))->w, 1);
}

int tr__push(tr__actor *a, tr__msg *m) {
    tr__sched *sc = tr__tls_sched;
    bool ob = sc && sc->ob_on, locked = false;
    if (ob && ob_count(sc)) {
        tr__spin_lock(&sc->ob_lock);
        locked = true;
        /* A receiver this turn already gathers for: append without reading
         * the receiver (its producers' line may be bouncing). */
        for (unsigned i = sc->ob_n; i-- > 0;)
            if (sc->ob[i].a == a) {
                ob_append(sc, &sc->ob[i], m);
                tr__spin_unlock(&sc->ob_lock);
                return TR_OK;
            }
    }
    if (a->max_mailbox && tr__mq_depth(&a->mq, &a->mqc) >= a->max_mailbox &&
        m->pub.kind != TR_MSG_REPLY && m->pub.kind != TR_MSG_DOWN && m->sys == TR__SYS_NONE) {
        if (locked)
            tr__spin_unlock(&sc->ob_lock);
        /* Refused, so not taken over: the block goes, an owned payload stays
         * the sender's (its destructor does not run). */
        tr__msg_release(m);
        return TR_EFULL;
    }
    /* An idle receiver gets its first message of the turn at once, so that
     * it runs while this turn goes on (the turn may be long); the messages
     * that follow it are gathered (if it was idle again, they go with the
     * turn's end, or an idle thread's flush if the turn runs long). */
    if (ob && !bounded_or_waiter(a) && a->rt == sc->rt) {
        bool gather = !tr__mq_idle(&a->mq);
        for (unsigned i = 0; !gather && i < sc->direct_n; i++)
            gather = sc->direct[i] == a;
        if (gather) {
            if (!locked)
                tr__spin_lock(&sc->ob_lock);
            ob_add(sc, a, m);
            tr__spin_unlock(&sc->ob_lock);
            return TR_OK;
        }
        if (sc->direct_n < TR__OB_SLOTS)
            sc->direct[sc->direct_n++] = a;
    }
    if (locked)
        tr__spin_unlock(&sc->ob_lock);
    if (tr__mq_push_mpsc(&a->mq, &m->node))
        tr__schedule(a);
    return TR_OK;
}

static void ob_push(tr__obox *b) {
    tr__actor *a = b->a;
    if (tr__mq_push_chain_mpsc(&a->mq, b->head, b->tail, b->n))
        tr__schedule(a);
    if (b->ref)
        unref(a);
}

/* Pushes every chain of sc's outbox. Under sc->ob_lock: by the owner at
 * its turn's end, or by an idle thread while the owner is stuck in a long
 * turn (the owner's epoch section still covers the receivers then). */
void tr__ob_flush(tr__sched *sc) {
    for (unsigned i = 0; i < sc->ob_n; i++)
        ob_push(&sc->ob[i]);
    ob_set_count(sc, 0);
}

int tr__deliver(tr_runtime *rt, tr_pid to, tr__msg *m) {
    /* A blocking caller's waiter takes replies and its monitor's DOWN only. */
    bool any = m->pub.kind == TR_MSG_REPLY || m->pub.kind == TR_MSG_DOWN;
    tr__actor *a = any ? tr__acquire_any(rt, to) : tr__acquire(rt, to);
    if (!a) {
        tr__msg_free(m);
        return tr__runtime_stopping(rt) && tr__load_acq_u32(&rt->stopped) ? TR_ECLOSED : TR_ENOPROC;
    }
    int err = tr__push(a, m);
    release_in(rt, a);
    return err;
}

/* Signal order. A signal goes to the signal list (seen before the next
 * message: the immediate effect of kill, and of exits on an actor that does
 * not trap them) and a marker carrying its number goes to the mailbox,
 * after what the sender's turn gathered for the receiver (its outbox), so
 * the marker sits behind every message that sender sent before. An actor that
 * traps exits holds a trappable signal back until its marker comes up
 * (handle_signals, take_marker): the EXIT message keeps its place, as
 * signals between two Erlang processes keep their order. */

/* Makes sure the actor runs and sees its signals without allocating: pushes
 * the actor's own wake node unless that is queued already (a signal whose
 * marker could not be allocated, a kill or shutdown without a block). */
static void wake_reserved(tr__actor *a) {
    tr__spin_lock(&a->lock);
    bool push = !a->wake_queued;
    a->wake_queued = true;
    tr__spin_unlock(&a->lock);
    if (push && tr__mq_push_mpsc(&a->mq, &a->wake))
        tr__schedule(a);
}

/* The owner popped its wake node: a later signal pushes it again. The
 * owner looks at has_sig after this (a signal queued before it was seen
 * under the same lock). */
void tr__wake_taken(tr__actor *a) {
    tr__spin_lock(&a->lock);
    a->wake_queued = false;
    tr__spin_unlock(&a->lock);
}

void tr__push_signal(tr__actor *a, tr__msg *sig) {
    /* The marker also makes sure the actor runs and sees the signal. */
    tr__msg *wake = tr__msg_new(tr__mc_here(a->rt), TR_MSG_INFO, 0, NULL, 0);
    sig->node.next = NULL;
    tr__spin_lock(&a->lock);
    uint32_t w = tr__load_acq_u32(&a->has_sig);
    uint32_t seq = w >> TR__SIG_SEQ_SHIFT;
    if (wake) {
        seq = (seq + 1) & (UINT32_MAX >> TR__SIG_SEQ_SHIFT);
        if (seq == 0)
            seq = 1;
    }
    sig->pub.ref = wake ? seq : 0; /* 0: no marker, the signal acts at once */
    if (a->sig_tail)
        a->sig_tail->node.next = &sig->node;
    else
        a->sig_head = sig;
    a->sig_tail = sig;
    tr__store_rel_u32(&a->has_sig,
                      (seq << TR__SIG_SEQ_SHIFT) | (w & TR__SIG_KILLED) | TR__SIG_PENDING);
    tr__spin_unlock(&a->lock);
    if (wake) {
        wake->sys = TR__SYS_WAKE;
        wake->pub.ref = seq;
        /* Behind what this turn gathered for a, but not held back with the
         * rest of the outbox: whoever learns of the signal next (a DOWN
         * sent right after an exit's EXIT) finds the marker queued. */
        tr__sched *sc = tr__tls_sched;
        if (sc && sc->ob_on && ob_count(sc)) {
            tr__spin_lock(&sc->ob_lock);
            for (unsigned i = sc->ob_n; i-- > 0;)
                if (sc->ob[i].a == a) {
                    ob_push(&sc->ob[i]);
                    sc->ob[i] = sc->ob[sc->ob_n - 1]; /* order between receivers is free */
                    ob_set_count(sc, sc->ob_n - 1);
                    break;
                }
            tr__spin_unlock(&sc->ob_lock);
        }
        if (tr__mq_push_mpsc(&a->mq, &wake->node))
            tr__schedule(a);
    }
    if (!wake) /* no marker (out of memory): the signal acts at once */
        wake_reserved(a);
}

static bool exit_notify(tr__actor *a, tr_reason reason, bool skip_links, bool kill);

/* A kill whose signal could not be allocated: it needs none. The pid dies
 * at once (as any kill, see tr_exit: TR__SIG_KILLED), and the owner is
 * woken with its own wake node to finish the exit. */
static void push_kill_flag(tr__actor *a) {
    exit_notify(a, mk_reason(TR_EXIT_KILLED), false, true);
    wake_reserved(a);
}

/* An EXIT signal or a DOWN message made ahead of time (tr__link.pre); NULL
 * when out of memory. Plain jemalloc blocks: they may outlive the turn and
 * the thread that made them. */
static tr__msg *pre_new(uint32_t kind) {
    tr__msg *m = tr__msg_new(NULL, kind, 0, NULL, sizeof(tr_reason));
    if (m && kind == TR_MSG_EXIT)
        m->sys = TR__SYS_SIG_EXIT;
    return m;
}

static void pre_free(tr__msg *m) {
    if (m)
        tr__msg_release(m);
}

/* Sends the exit signal r from `from` to `to`: in sig when given (made
 * ahead of time; consumed), else in a new block. */
static void exit_signal(tr_runtime *rt, tr_pid to, tr_pid from, tr_reason r, bool via_link,
                        tr__msg *sig) {
    tr__actor *a = tr__acquire(rt, to);
    if (!a) {
        pre_free(sig);
        return;
    }
    if (!sig)
        sig = tr__msg_new(tr__mc_here(rt), TR_MSG_EXIT, 0, &r, sizeof r);
    else
        memcpy(sig->bytes, &r, sizeof r);
    if (sig) {
        sig->sys = TR__SYS_SIG_EXIT;
        sig->via_link = via_link;
        sig->pub.sender = from;
        tr__push_signal(a, sig);
    } else if (r.kind == TR_EXIT_KILL && !via_link) {
        push_kill_flag(a);
    }
    tr__release(a);
}

void tr__send_exit_signal(tr_runtime *rt, tr_pid to, tr_pid from, tr_reason r, bool via_link) {
    exit_signal(rt, to, from, r, via_link, NULL);
}

/* An undelivered call: tell its caller the server is gone. */
static void bounce_call(tr_runtime *rt, tr__msg *m, tr_pid server, const char *why) {
    if (m->pub.kind != TR_MSG_CALL || m->pub.sender.id == 0 || m->sys == TR__SYS_FWD)
        return; /* not a call, nobody waits, or its forwarder answers for it */
    size_t n = strlen(why) + 1;
    tr__msg *r = tr__msg_new(tr__mc_here(rt), TR_MSG_REPLY, m->pub.tag, why, n);
    if (!r)
        return;
    r->pub.ref = m->pub.ref;
    r->pub.status = TR_EEXITED;
    r->pub.sender = server;
    tr__deliver(rt, m->pub.sender, r);
}

/* ------------------------------------------------------------------------ */
/* destroy                                                                   */
/* ------------------------------------------------------------------------ */

static void drain(tr__actor *a) {
    tr__msg *m;
    while ((m = (tr__msg *)tr__mq_pop_mpsc(&a->mq, &a->mqc)) != NULL) {
        if (tr__is_wake(a, m))
            continue;
        bounce_call(a->rt, m, a->pid, "server exited");
        tr__msg_free(m);
    }
    tr__spin_lock(&a->lock);
    tr__msg *s = a->sig_head;
    a->sig_head = a->sig_tail = NULL;
    tr__spin_unlock(&a->lock);
    while (s) {
        tr__msg *n = (tr__msg *)s->node.next;
        tr__msg_free(s);
        s = n;
    }
}

void tr__waiter_fini(tr__waiter *p);

static void destroy(tr__actor *a) {
    tr_runtime *rt = a->rt;
    /* Every sender that found us has pushed and released: the queue is
     * complete. Half-done pushes are impossible (a pusher holds a ref). */
    drain(a);
    uint32_t idx = pid_index(a->pid);
    tr__slot *s = slot_at(rt, idx);
    tr__store_rel_ptr((void **)&s->actor, NULL);
    uint32_t gen = (pid_gen(a->pid) + 1) & TR__PID_GEN_MASK;
    if (gen == 0)
        gen = 1;
    tr__store_rel_u64(&s->w, (uint64_t)gen << 32);
    table_free(rt, idx);
    if (a->is_waiter)
        tr__waiter_fini(a->u.waiter);
    for (uint32_t i = 0; i < a->n_links; i++)
        pre_free(a->links[i].pre);
    tr__free(a->links);
    tr__free(a);
    COUNT_ALLOCATED(rt, -1);
    if (tr__runtime_stopping(rt)) {
        pthread_mutex_lock(&rt->stop_mu);
        pthread_cond_broadcast(&rt->stop_cv);
        pthread_mutex_unlock(&rt->stop_mu);
    }
}

/* ------------------------------------------------------------------------ */
/* links and monitors (entries under the owner's lock)                       */
/* ------------------------------------------------------------------------ */

/* Adds an entry; takes pre (the entry's EXIT/DOWN made ahead of time, or
 * NULL): kept with the entry, or freed (a link that exists already, or no
 * memory). */
static int links_add_locked(tr__actor *a, uint32_t kind, tr_pid pid, uint64_t ref, bool fresh,
                            tr__msg *pre) {
    if (kind == TR__L_LINK && !fresh) /* a just-spawned pid cannot be linked yet */
        for (uint32_t i = 0; i < a->n_links; i++)
            if (a->links[i].kind == TR__L_LINK && tr_pid_eq(a->links[i].pid, pid)) {
                pre_free(pre);
                return TR_OK;
            }
    if (a->n_links == a->cap_links) {
        uint32_t cap = a->cap_links ? a->cap_links * 2 : 4;
        tr__link *p = (tr__link *)tr__realloc(a->links, sizeof(tr__link) * cap);
        if (!p) {
            pre_free(pre);
            return TR_ENOMEM;
        }
        a->links = p;
        a->cap_links = cap;
    }
    a->links[a->n_links++] = (tr__link){kind, pid, ref, pre};
    return TR_OK;
}

/* Removes the first entry matching kind and (pid or ref); true if found. */
static bool links_remove_locked(tr__actor *a, uint32_t kind, tr_pid pid, uint64_t ref) {
    for (uint32_t i = 0; i < a->n_links; i++) {
        tr__link *l = &a->links[i];
        if (l->kind != kind)
            continue;
        if (kind == TR__L_LINK ? tr_pid_eq(l->pid, pid) : l->ref == ref) {
            pre_free(l->pre); /* the entry goes without firing */
            a->links[i] = a->links[--a->n_links];
            return true;
        }
    }
    return false;
}

static bool links_find_locked(tr__actor *a, uint32_t kind, uint64_t ref, tr_pid *pid) {
    for (uint32_t i = 0; i < a->n_links; i++)
        if (a->links[i].kind == kind && a->links[i].ref == ref) {
            if (pid)
                *pid = a->links[i].pid;
            return true;
        }
    return false;
}

/* Sends a DOWN: in m when given (made ahead of time; consumed), else in a
 * new block. */
static void send_down(tr_runtime *rt, tr_pid to, uint64_t ref, tr_pid who, tr_reason r,
                      tr__msg *m) {
    if (m)
        memcpy(m->bytes, &r, sizeof r);
    else
        m = tr__msg_new(tr__mc_here(rt), TR_MSG_DOWN, 0, &r, sizeof r);
    if (!m)
        return;
    m->pub.ref = ref;
    m->pub.sender = who;
    tr__deliver(rt, to, m);
}

/* Links `a` (the caller's actor: running, or not yet published) and target.
 * Returns TR_ENOPROC when target is dead. */
static int link_pair(tr__actor *a, tr_pid target, bool fresh) {
    tr__actor *t = tr__acquire(a->rt, target);
    if (!t)
        return TR_ENOPROC;
    /* Each side's entry carries the EXIT it sends the other. */
    tr__msg *to_a = pre_new(TR_MSG_EXIT), *to_t = pre_new(TR_MSG_EXIT);
    int err = TR_OK;
    if (!to_a || !to_t) {
        pre_free(to_a);
        pre_free(to_t);
        tr__release(t);
        return TR_ENOMEM;
    }
    tr__spin_lock(&t->lock);
    if (t->exiting) {
        err = TR_ENOPROC;
        pre_free(to_a);
    } else {
        err = links_add_locked(t, TR__L_LINK, a->pid, 0, fresh, to_a);
    }
    tr__spin_unlock(&t->lock);
    if (err) {
        tr__release(t);
        pre_free(to_t);
        return err;
    }
    tr__spin_lock(&a->lock);
    /* a killed meanwhile (another thread): its links were told already */
    if (a->exiting) {
        pre_free(to_t);
        err = TR_EKILLED;
    } else {
        err = links_add_locked(a, TR__L_LINK, target, 0, fresh, to_t);
    }
    tr__spin_unlock(&a->lock);
    if (err) {
        /* half a link is none: take t's side back */
        tr__spin_lock(&t->lock);
        links_remove_locked(t, TR__L_LINK, a->pid, 0);
        tr__spin_unlock(&t->lock);
    }
    tr__release(t);
    return err;
}

/* Monitor target from watcher w. DOWN noproc at once if target is dead;
 * TR_ENOPROC (nothing monitored) if target can name no process of w's
 * runtime (another runtime's pid, a blocking caller's waiter). */
static int monitor_pair(tr__actor *w, tr_pid target, uint64_t *ref_out) {
    tr_runtime *rt = w->rt;
    if (!tr__pid_is_proc(rt, target))
        return TR_ENOPROC;
    uint64_t ref = tr__make_ref(rt);
    tr__msg *down = pre_new(TR_MSG_DOWN); /* the DOWN, made now: it cannot be lost later */
    if (!down)
        return TR_ENOMEM;
    tr__spin_lock(&w->lock);
    /* w killed meanwhile (another thread): its monitors were dropped */
    int err =
        w->exiting ? TR_EKILLED : links_add_locked(w, TR__L_MONITORING, target, ref, true, NULL);
    tr__spin_unlock(&w->lock);
    if (err) {
        pre_free(down);
        return err;
    }
    if (ref_out)
        *ref_out = ref;
    tr__actor *t = tr__acquire(rt, target);
    bool dead = true;
    if (t) {
        tr__spin_lock(&t->lock);
        if (!t->exiting) {
            err = links_add_locked(t, TR__L_MONITORED_BY, w->pid, ref, true, down);
            down = NULL;
            dead = false;
        }
        tr__spin_unlock(&t->lock);
        tr__release(t);
    }
    if (err) {
        tr__spin_lock(&w->lock);
        links_remove_locked(w, TR__L_MONITORING, target, ref);
        tr__spin_unlock(&w->lock);
        return err;
    }
    if (dead) {
        tr_reason r = mk_reason(TR_EXIT_NOPROC);
        send_down(rt, w->pid, ref, target, r, down);
    }
    return TR_OK;
}

static int demonitor_pair(tr__actor *w, uint64_t ref) {
    tr_pid target;
    tr__spin_lock(&w->lock);
    bool found = links_find_locked(w, TR__L_MONITORING, ref, &target);
    if (found)
        links_remove_locked(w, TR__L_MONITORING, target, ref);
    tr__spin_unlock(&w->lock);
    if (!found)
        return TR_ENOTFOUND;
    tr__actor *t = tr__acquire(w->rt, target);
    if (t) {
        tr__spin_lock(&t->lock);
        links_remove_locked(t, TR__L_MONITORED_BY, w->pid, ref);
        tr__spin_unlock(&t->lock);
        tr__release(t);
    }
    return TR_OK;
}

int tr__monitor(tr__actor *w, tr_pid target, uint64_t *ref_out) {
    return monitor_pair(w, target, ref_out);
}
int tr__demonitor(tr__actor *w, uint64_t ref) {
    return demonitor_pair(w, ref);
}

/* Waiter helpers for call.c (a waiter is owned by one blocking thread). */
int tr__waiter_monitor(tr__actor *waiter, tr_pid target, uint64_t *ref) {
    return monitor_pair(waiter, target, ref);
}
int tr__waiter_demonitor(tr__actor *waiter, uint64_t ref) {
    return demonitor_pair(waiter, ref);
}

/* ------------------------------------------------------------------------ */
/* exit                                                                      */
/* ------------------------------------------------------------------------ */

/* The outside half of an exit: claims it (the first caller wins: the owner
 * stopping, or a killer), then the pid dies: lookups fail, names go, links
 * and monitors are told. Any thread holding a reference (or in borrow
 * mode). Returns false when the exit was claimed already. kill: a kill
 * from outside, which may find the owner inside a callback (see tr_exit):
 * the owner's later sends are dropped, and it finishes the exit
 * (exit_finish) when it next runs. skip_links: a failed init's links are
 * dropped without exit signals (start_link returns the error). */
static bool exit_notify(tr__actor *a, tr_reason reason, bool skip_links, bool kill) {
    tr_runtime *rt = a->rt;
    tr__spin_lock(&a->lock);
    if (a->exiting) {
        tr__spin_unlock(&a->lock);
        return false;
    }
    a->exiting = true;
    if (kill)
        tr__store_rel_u32(&a->has_sig, tr__load_acq_u32(&a->has_sig) | TR__SIG_KILLED);
    bool has_names = a->has_names;
    tr__link *links = a->links;
    uint32_t n = a->n_links;
    a->links = NULL;
    a->n_links = a->cap_links = 0;
    tr__spin_unlock(&a->lock);
    retire_slot(a);
    if (!__atomic_load_n(&a->is_waiter, __ATOMIC_RELAXED))
        COUNT_ALIVE(rt, -1);

    /* Names go first, as in OTP: whoever learns of the exit (a supervisor
     * restarting us) finds the names free. */
    if (has_names)
        tr__registry_remove_pid(rt, a->pid);
    tr_reason prop = reason;
    if (prop.kind == TR_EXIT_KILL)
        prop.kind = TR_EXIT_KILLED;
    for (uint32_t i = 0; i < n; i++) {
        tr__link *l = &links[i];
        switch (l->kind) {
        case TR__L_LINK:
            if (!skip_links) {
                exit_signal(rt, l->pid, a->pid, prop, true, l->pre);
            } else {
                pre_free(l->pre);
                tr__actor *o = tr__acquire(rt, l->pid);
                if (o) {
                    tr__spin_lock(&o->lock);
                    links_remove_locked(o, TR__L_LINK, a->pid, 0);
                    tr__spin_unlock(&o->lock);
                    tr__release(o);
                }
            }
            break;
        case TR__L_MONITORED_BY:
            send_down(rt, l->pid, l->ref, a->pid, prop, l->pre);
            break;
        case TR__L_MONITORING: {
            tr__actor *t = tr__acquire(rt, l->pid);
            if (t) {
                tr__spin_lock(&t->lock);
                links_remove_locked(t, TR__L_MONITORED_BY, a->pid, l->ref);
                tr__spin_unlock(&t->lock);
                tr__release(t);
            }
            break;
        }
        }
    }
    tr__free(links);
    return true;
}

/* The owner's half of an exit, once no callback of `a` runs any more: the
 * behaviour's cleanup (exactly once, whatever the exit), the runtime's own
 * allocations, then the self reference. After this `a` may be gone. */
static void exit_finish(tr__actor *a) {
    if (a->b && a->b->cleanup)
        a->b->cleanup(tr__actor_state(a));
    while (a->deferred) {
        tr__msg *n = (tr__msg *)a->deferred->node.next;
        tr__msg_free(a->deferred);
        a->deferred = n;
    }
    tr__reqs_fini(a);
    unref(a); /* the self reference */
}

/* Owner: the whole exit (the outside half unless a killer did it). */
static void exit_actor(tr__actor *a, tr_reason reason, bool skip_links) {
    exit_notify(a, reason, skip_links, false);
    exit_finish(a);
}

/* Enters a callback frame for a on this thread. */
static inline void frame_push(tr__frame *f, tr__actor *a) {
    f->prev = tr__tls_frame;
    f->a = a;
    f->cur_msg = NULL;
    f->msg_taken = false;
    f->cur_call_ref = 0;
    f->cur_call_replied = false;
    f->stop_pending = false;
    tr__tls_frame = f;
    tr__tls_current = a;
}

static inline void frame_pop(tr__frame *f) {
    tr__tls_frame = f->prev;
    tr__tls_current = f->prev ? f->prev->a : NULL;
}

/* Runs terminate (once), guarded against a crash inside it. */
static void run_terminate(tr__actor *a, tr_reason reason) {
    if ((a->flags & TR__F_TERMINATED) || !a->b->terminate)
        return;
    a->flags |= TR__F_TERMINATED;
    tr__frame f;
    frame_push(&f, a);
    if (setjmp(f.jb) == 0)
        a->b->terminate((tr_self *)a, tr__actor_state(a), reason);
    frame_pop(&f);
}

/* Used by the run loop: stop the actor (owner thread). No terminate once a
 * kill took effect (it may have come while terminate was due). */
static void die(tr__actor *a, tr_reason reason, bool terminate) {
    if (terminate && !(tr__load_acq_u32(&a->has_sig) & TR__SIG_KILLED))
        run_terminate(a, reason);
    exit_actor(a, reason, false);
}

/* ------------------------------------------------------------------------ */
/* spawn                                                                     */
/* ------------------------------------------------------------------------ */

static int spawn(tr_runtime *rt, const tr_behaviour *b, const void *arg, tr_pid link_to, bool trap,
                 size_t max_mailbox, tr_pid *out) {
    if (!rt || !b)
        return TR_EINVAL;
    if (b->state_size > TR__SIZE_MAX)
        return TR_EINVAL; /* no allocation can hold it (the sum below could wrap) */
    if (tr__runtime_stopping(rt))
        return TR_ECLOSED;
    if (tr__self_killed_here())
        return TR_EKILLED;
    tr__actor *a = (tr__actor *)tr__calloc(TR__ACTOR_HDR + b->state_size);
    if (!a)
        return TR_ENOMEM;
    int err = TR_OK;
    uint32_t idx = table_alloc(rt, false, &err);
    if (!idx) {
        tr__free(a);
        return err;
    }
    tr__slot *s = slot_at(rt, idx);
    uint32_t gen = (uint32_t)(tr__load_acq_u64(&s->w) >> 32);
    a->rt = rt;
    a->pid = tr__pid_make(rt->id, gen, idx);
    a->b = b;
    a->max_mailbox = max_mailbox > UINT32_MAX ? UINT32_MAX : (uint32_t)max_mailbox;
    if (link_to.id)
        a->parent = link_to;
    else if (tr__tls_current && tr__tls_current->rt == rt)
        a->parent = tr__tls_current->pid;
    /* Spawn order matters only for top-level actors (shutdown stops them
     * newest first): only they take a number from the shared counter. */
    if (a->parent.id == 0)
        a->seq = tr__faa_acqrel_u64(&rt->seq, 1) + 1;
    if (trap)
        a->flags |= TR__F_TRAP_EXIT;
    /* We hold the run token until init is done: pushes during init queue. */
    tr__mq_init(&a->mq, &a->mqc, true);
    COUNT_ALLOCATED(rt, 1);
    COUNT_ALIVE(rt, 1);
    tr__store_rel_ptr((void **)&s->actor, a);
    /* Publish: generation | ALIVE | one self reference. */
    tr__store_rel_u64(&s->w, ((uint64_t)gen << 32) | TR__SLOT_ALIVE | 1);

    if (link_to.id) {
        err = link_pair(a, link_to, true);
        if (err) {
            a->flags |= TR__F_TERMINATED;
            exit_actor(a, tr_reason_normal(), true);
            return err;
        }
    }

    tr__frame f;
    frame_push(&f, a);
    volatile bool failed = false;
    if (setjmp(f.jb) == 0) {
        if (b->init) {
            int r = b->init((tr_self *)a, tr__actor_state(a), arg);
            if (r != TR_CONTINUE || f.stop_pending)
                failed = true;
        }
    } else {
        failed = true;
    }
    frame_pop(&f);
    if (failed) {
        tr_reason reason = f.stop_pending ? f.stop_reason : tr_reason_normal();
        a->flags |= TR__F_TERMINATED; /* OTP: no terminate after a failed init */
        exit_actor(a, reason, true);
        /* An init that ran out of memory says so (the caller may retry). */
        return reason.kind == TR_EXIT_ERROR && reason.code == TR_ENOMEM ? TR_ENOMEM : TR_EINIT;
    }
    tr_pid pid = a->pid;
    if (out)
        *out = pid;
    /* What init sent is still in this thread's outbox when the spawn comes
     * from a callback: it goes before the token, since the child's first
     * turn may start at once on another thread and its sends must not
     * overtake these (one sender, one receiver: FIFO). */
    tr__sched *sc = tr__tls_sched;
    if (sc && sc->ob_on && ob_count(sc)) {
        tr__spin_lock(&sc->ob_lock);
        tr__ob_flush(sc);
        tr__spin_unlock(&sc->ob_lock);
    }
    /* Give the token back, or schedule when messages came in during init. */
    if (!tr__mq_markempty_mpsc(&a->mq, &a->mqc))
        tr__schedule(a);
    return TR_OK;
}

int tr_spawn(tr_runtime *rt, const tr_behaviour *b, const void *arg, const tr_spawn_opts *opts,
             tr_pid *out) {
    tr_spawn_opts o = {0};
    if (opts)
        o = *opts;
    return spawn(rt, b, arg, o.link_to, o.trap_exit, o.max_mailbox, out);
}

int tr_spawn_link(tr_self *self, const tr_behaviour *b, const void *arg, tr_pid *out) {
    tr__actor *me = (tr__actor *)self;
    if (!me)
        return TR_EINVAL;
    return spawn(me->rt, b, arg, me->pid, false, 0, out);
}

/* ------------------------------------------------------------------------ */
/* the run loop                                                              */
/* ------------------------------------------------------------------------ */

static _Noreturn void crash(tr__frame *f, int code, const char *text) {
    f->stop_pending = true;
    f->stop_reason = tr_reason_error(code, text);
    longjmp(f->jb, 1);
}

/* Takes the oldest exit signal, or NULL. Owner thread. */
static tr__msg *take_signal(tr__actor *a) {
    tr__spin_lock(&a->lock);
    tr__msg *s = a->sig_head;
    if (s) {
        a->sig_head = (tr__msg *)s->node.next;
        if (!a->sig_head)
            a->sig_tail = NULL;
    }
    uint32_t w = tr__load_acq_u32(&a->has_sig) & ~TR__SIG_PENDING;
    tr__store_rel_u32(&a->has_sig, a->sig_head || a->shutdown_pending ? w | TR__SIG_PENDING : w);
    tr__spin_unlock(&a->lock);
    return s;
}

/* A kill from outside took effect: stop now, without terminate. */
static bool stop_if_killed(tr__actor *a, tr_reason *why, bool *terminate) {
    if (!(tr__load_acq_u32(&a->has_sig) & TR__SIG_KILLED))
        return false;
    *why = mk_reason(TR_EXIT_KILLED);
    *terminate = false;
    return true;
}

/* A trappable exit signal (not kill, not the runtime's shutdown) with a
 * marker, for an actor that traps exits: waits for its marker. */
static bool signal_waits_for_marker(const tr__actor *a, const tr__msg *s) {
    if (s->sys != TR__SYS_SIG_EXIT || s->pub.ref == 0 || !(a->flags & TR__F_TRAP_EXIT))
        return false;
    tr_reason r;
    memcpy(&r, s->bytes, sizeof r);
    return !(r.kind == TR_EXIT_KILL && !s->via_link);
}

/* Acts on one exit signal and frees it. Returns true when the actor must
 * stop. */
static bool act_on_signal(tr__frame *f, tr__actor *a, tr__msg *s, tr_reason *why, bool *terminate) {
    bool stop = false;
    s->pub.ref = 0; /* the marker number is ours; EXIT messages carry ref 0 */
    if (s->sys == TR__SYS_SIG_SHUTDOWN) {
        stop = true;
        *why = tr_reason_shutdown();
        *terminate = true;
    } else {
        tr_reason r;
        memcpy(&r, s->bytes, sizeof r);
        bool deliver = true;
        if (s->via_link) {
            tr__spin_lock(&a->lock);
            deliver = links_remove_locked(a, TR__L_LINK, s->pub.sender, 0);
            tr__spin_unlock(&a->lock);
        }
        if (!deliver) {
            /* unlinked meanwhile: the signal is void */
        } else if (r.kind == TR_EXIT_KILL && !s->via_link) {
            stop = true;
            *why = r;
            why->kind = TR_EXIT_KILLED;
            *terminate = false;
        } else if (a->flags & TR__F_TRAP_EXIT) {
            if (a->b->handle_info) {
                s->pub.kind = TR_MSG_EXIT;
                f->cur_msg = s; /* freed by the crash path if it unwinds */
                int rc = a->b->handle_info((tr_self *)a, tr__actor_state(a), &s->pub);
                f->cur_msg = NULL;
                if (rc != TR_CONTINUE || f->stop_pending) {
                    stop = true;
                    *why = f->stop_pending ? f->stop_reason : tr_reason_normal();
                    *terminate = true;
                }
            }
        } else if (r.kind != TR_EXIT_NORMAL || tr_pid_eq(s->pub.sender, a->pid)) {
            stop = true;
            *why = r;
            /* OTP: a gen_server killed by an exit signal it does not
             * trap does not run terminate. */
            *terminate = false;
        }
    }
    tr__msg_free(s);
    return stop;
}

/* Handles queued exit signals one at a time (so a crash in a trapped EXIT
 * handler loses nothing); trapped ones wait for their marker. Returns true
 * when the actor must stop. */
static bool handle_signals(tr__frame *f, tr__actor *a, tr_reason *why, bool *terminate) {
    tr__spin_lock(&a->lock);
    bool shut = a->shutdown_pending; /* the runtime's shutdown, without a block */
    tr__spin_unlock(&a->lock);
    if (shut) {
        *why = tr_reason_shutdown();
        *terminate = true;
        return true;
    }
    tr__msg *s;
    while ((s = take_signal(a)) != NULL) {
        if (stop_if_killed(a, why, terminate)) {
            tr__msg_free(s);
            return true;
        }
        if (signal_waits_for_marker(a, s)) {
            s->node.next = NULL;
            tr__msg **p = &a->deferred;
            while (*p)
                p = (tr__msg **)&(*p)->node.next;
            *p = s;
            continue;
        }
        if (act_on_signal(f, a, s, why, terminate))
            return true;
    }
    return false;
}

/* A signal's marker came up in the mailbox: the signal it stands for, if
 * held back, takes effect now, behind the messages its sender sent before
 * it. Returns true when the actor must stop. */
static bool take_marker(tr__frame *f, tr__actor *a, uint32_t seq, tr_reason *why, bool *terminate) {
    /* Its signal was queued before the marker was pushed: in the list
     * (pending) or taken already. */
    if ((tr__load_acq_u32(&a->has_sig) & TR__SIG_PENDING) && handle_signals(f, a, why, terminate))
        return true;
    for (tr__msg **p = &a->deferred; *p; p = (tr__msg **)&(*p)->node.next) {
        tr__msg *s = *p;
        if ((uint32_t)s->pub.ref != seq)
            continue;
        *p = (tr__msg *)s->node.next;
        if (stop_if_killed(a, why, terminate)) {
            tr__msg_free(s);
            return true;
        }
        return act_on_signal(f, a, s, why, terminate);
    }
    return false;
}

/* Dispatches one message. Returns true to stop (reason in f->stop_reason). */
static bool dispatch(tr__frame *f, tr__actor *a, tr__msg *m) {
    void *state = tr__actor_state(a);
    const tr_behaviour *b = a->b;
    tr_msg *msg = &m->pub;
    int rc = TR_CONTINUE;
    if (m->sys == TR__SYS_REQ_TIMEOUT) {
        if (!tr__req_take(a, msg->ref, true))
            return false; /* answered already */
        msg->kind = TR_MSG_REPLY;
        msg->status = TR_ETIMEDOUT;
        msg->tag = 0;
        msg->data = NULL;
        msg->size = 0;
    }
    switch (msg->kind) {
    case TR_MSG_CALL: {
        if (!b->handle_call)
            crash(f, TR_EINVAL, "unexpected call");
        /* A forwarded call is its forwarder's to answer for on failure. */
        f->cur_call_ref = m->sys == TR__SYS_FWD ? 0 : msg->ref;
        f->cur_call_replied = false;
        tr_from from = {a->rt, msg->sender, msg->ref};
        rc = b->handle_call((tr_self *)a, state, msg, from);
        f->cur_call_ref = 0;
        break;
    }
    case TR_MSG_CAST:
        if (!b->handle_cast)
            crash(f, TR_EINVAL, "unexpected cast");
        rc = b->handle_cast((tr_self *)a, state, msg);
        break;
    case TR_MSG_REPLY:
        if (m->sys != TR__SYS_REQ_TIMEOUT) {
            if (!tr__req_take(a, msg->ref, false))
                return false; /* late or unknown reply: dropped */
        }
        if (b->handle_info)
            rc = b->handle_info((tr_self *)a, state, msg);
        break;
    case TR_MSG_DOWN: {
        tr__spin_lock(&a->lock);
        bool mine = links_find_locked(a, TR__L_MONITORING, msg->ref, NULL);
        if (mine)
            links_remove_locked(a, TR__L_MONITORING, TR_PID_NONE, msg->ref);
        tr__spin_unlock(&a->lock);
        if (!mine)
            return false; /* demonitored */
        tr_pid server;
        if (a->u.rq && tr__req_server_down(a, msg->ref, &server)) {
            /* The server of pending requests exited: each ends with
             * TR_EEXITED and the reason as text. The monitor was ours. */
            tr_reason why;
            memcpy(&why, m->bytes, sizeof why);
            char text[96]; /* as a blocking caller's (call.c) */
            tr_reason_format(&why, text, sizeof text);
            uint64_t ref;
            while (tr__req_next_for_server(a, server, &ref)) {
                tr_msg r = {.kind = TR_MSG_REPLY,
                            .sender = server,
                            .ref = ref,
                            .status = TR_EEXITED,
                            .data = text,
                            .size = strlen(text) + 1};
                if (b->handle_info) {
                    rc = b->handle_info((tr_self *)a, state, &r);
                    if (rc != TR_CONTINUE || f->stop_pending)
                        break;
                }
            }
            if (!f->stop_pending && rc != TR_CONTINUE) {
                f->stop_pending = true;
                f->stop_reason = tr_reason_normal();
            }
            return f->stop_pending;
        }
        if (b->handle_info)
            rc = b->handle_info((tr_self *)a, state, msg);
        break;
    }
    default:
        if (b->handle_info)
            rc = b->handle_info((tr_self *)a, state, msg);
        break;
    }
    if (rc != TR_CONTINUE && !f->stop_pending) {
        f->stop_pending = true;
        f->stop_reason = tr_reason_normal();
    }
    return f->stop_pending;
}

static void turn_end(tr__sched *sched) {
    if (sched) {
        sched->ob_on = false; /* first: receivers woken now run next here, no wake-up */
        if (ob_count(sched)) {
            tr__spin_lock(&sched->ob_lock);
            tr__ob_flush(sched);
            tr__spin_unlock(&sched->ob_lock);
        }
    }
}

void tr__run(tr__sched *sched, tr__actor *a) {
    tr__frame f;
    frame_push(&f, a);
    volatile unsigned n = 0;
    unsigned batch = a->rt->batch;
    if (sched) {
        sched->sends = 0;
        sched->direct_n = 0;
        sched->ob_on = true;
    }
    tr_reason why;
    volatile bool terminate_v = true; /* written after setjmp */
    if (setjmp(f.jb) != 0) {
        /* tr_fail unwound out of a callback. */
        tr__msg *m = f.cur_msg;
        f.cur_msg = NULL;
        if (m) {
            if (m->pub.kind == TR_MSG_CALL && f.cur_call_ref == m->pub.ref && !f.cur_call_replied) {
                char text[80];
                tr_reason_format(&f.stop_reason, text, sizeof text);
                bounce_call(a->rt, m, a->pid, text);
            }
            f.cur_call_ref = 0;
            tr__msg_free(m);
        }
        why = f.stop_reason;
        terminate_v = true;
        goto stop;
    }
    while (n < batch) {
        bool term = true;
        if ((tr__load_acq_u32(&a->has_sig) & (TR__SIG_PENDING | TR__SIG_KILLED)) &&
            (stop_if_killed(a, &why, &term) || handle_signals(&f, a, &why, &term))) {
            terminate_v = term;
            goto stop;
        }
        tr__msg *m = (tr__msg *)tr__mq_pop_mpsc(&a->mq, &a->mqc);
        if (!m) {
            if (tr__load_acq_u32(&a->has_sig) & TR__SIG_PENDING)
                continue;
            /* This turn's gathered sends go before the token: once it is
             * back, the actor can run on another thread at once, and its
             * next sends must not overtake these (one sender, one receiver:
             * FIFO; a pool's DRAIN must not pass the jobs sent before it). */
            if (sched && ob_count(sched)) {
                tr__spin_lock(&sched->ob_lock);
                tr__ob_flush(sched);
                tr__spin_unlock(&sched->ob_lock);
            }
            if (tr__mq_markempty_mpsc(&a->mq, &a->mqc))
                goto out;    /* token given back */
            tr__cpu_relax(); /* a push is half-done */
            continue;
        }
        if (tr__is_wake(a, m)) {
            tr__wake_taken(a); /* signals are looked at next */
            continue;
        }
        n = n + 1;
        if (m->sys == TR__SYS_WAKE) {
            uint32_t seq = (uint32_t)m->pub.ref;
            tr__msg_free(m);
            bool term = true;
            if (seq && take_marker(&f, a, seq, &why, &term)) {
                terminate_v = term;
                goto stop;
            }
            continue;
        }
        f.cur_msg = m;
        bool stop = dispatch(&f, a, m);
        f.cur_msg = NULL;
        if (f.msg_taken)
            f.msg_taken = false; /* forwarded: another mailbox has it */
        else
            tr__msg_free(m);
        if (stop) {
            why = f.stop_reason;
            terminate_v = true;
            goto stop;
        }
        if (sched && sched->sends >= TR__TURN_SENDS)
            break; /* sent a lot: let the receivers run */
    }
    /* Batch used up: back of the queue. */
    frame_pop(&f);
    turn_end(sched);
    tr__schedule_yield(a);
    return;
stop:
    frame_pop(&f);
    die(a, why, terminate_v);
    turn_end(sched);
    return;
out:
    frame_pop(&f);
    turn_end(sched);
}

/* ------------------------------------------------------------------------ */
/* runtime shutdown                                                          */
/* ------------------------------------------------------------------------ */

typedef struct {
    tr_pid pid;
    uint64_t seq;
    bool top; /* spawned by a plain thread */
} pid_seq;

static int by_seq_desc(const void *x, const void *y) {
    const pid_seq *a = (const pid_seq *)x, *b = (const pid_seq *)y;
    return a->seq < b->seq ? 1 : a->seq > b->seq ? -1 : 0;
}

static void push_shutdown(tr_runtime *rt, tr_pid pid) {
    tr__actor *a = tr__acquire_any(rt, pid); /* waiters too: their calls end with TR_ECLOSED */
    if (!a)
        return;
    tr__msg *sig = tr__msg_new(tr__mc_here(rt), TR_MSG_EXIT, 0, NULL, 0);
    if (sig) {
        sig->sys = TR__SYS_SIG_SHUTDOWN;
        tr__push_signal(a, sig);
    } else { /* out of memory: a flag (the shutdown must not wait for nothing) */
        tr__spin_lock(&a->lock);
        a->shutdown_pending = true;
        tr__store_rel_u32(&a->has_sig, tr__load_acq_u32(&a->has_sig) | TR__SIG_PENDING);
        tr__spin_unlock(&a->lock);
        wake_reserved(a);
    }
    tr__release(a);
}

/* Waits (on stop_cv, broadcast by every exit while stopping) until pid has
 * exited or the deadline passes. */
/* Reads the slot without taking a reference: taking one could make us the
 * last holder, and destroy() takes stop_mu, which wait_gone holds. */
static bool slot_alive(tr_runtime *rt, tr_pid pid) {
    tr__slot *s = slot_at(rt, pid_index(pid));
    if (!s)
        return false;
    uint64_t w = tr__load_acq_u64(&s->w);
    return (uint32_t)(w >> 32) == pid_gen(pid) && (w & TR__SLOT_ALIVE);
}

static void wait_gone(tr_runtime *rt, tr_pid pid, int64_t deadline) {
    pthread_mutex_lock(&rt->stop_mu);
    while (slot_alive(rt, pid) && tr__now_ms() < deadline) {
        struct timespec ts;
        tr__abstime_after(&ts, 50);
        pthread_cond_timedwait(&rt->stop_cv, &rt->stop_mu, &ts);
    }
    pthread_mutex_unlock(&rt->stop_mu);
}

void tr__shutdown_all(tr_runtime *rt) {
    pthread_mutex_lock(&rt->table_mu);
    uint32_t ranges[2][2] = {{1, rt->actor_slots.high},
                             {rt->actor_slots.end, rt->waiter_slots.high}};
    pthread_mutex_unlock(&rt->table_mu);
    size_t cap = 1024, n = 0;
    pid_seq *v = (pid_seq *)tr__malloc(sizeof(pid_seq) * cap);
    for (int r = 0; r < 2 && v; r++)
        for (uint32_t i = ranges[r][0]; i < ranges[r][1]; i++) {
            tr__slot *s = slot_at(rt, i);
            if (!s)
                continue;
            uint64_t w = tr__load_acq_u64(&s->w);
            if (!(w & TR__SLOT_ALIVE))
                continue;
            tr_pid pid = tr__pid_make(rt->id, (uint32_t)(w >> 32), i);
            tr__actor *a = tr__acquire_any(rt, pid);
            if (!a)
                continue;
            if (n == cap) {
                pid_seq *p = (pid_seq *)tr__realloc(v, sizeof(pid_seq) * cap * 2);
                if (!p) {
                    tr__release(a);
                    break;
                }
                v = p;
                cap *= 2;
            }
            v[n++] = (pid_seq){pid, a->seq, !a->is_waiter && a->parent.id == 0};
            tr__release(a);
        }
    if (n)
        qsort(v, n, sizeof *v, by_seq_desc);
    /* Top-level actors one at a time, newest first, each given up to 5 s:
     * what was started first (a logger, a registry of services) stops
     * last, as an OTP application's top supervisor stops its children. */
    for (size_t i = 0; i < n; i++)
        if (v[i].top) {
            push_shutdown(rt, v[i].pid);
            wait_gone(rt, v[i].pid, tr__now_ms() + 5000);
        }
    /* Then everything still alive (children nobody stopped, waiters). */
    for (size_t i = 0; i < n; i++)
        if (!v[i].top)
            push_shutdown(rt, v[i].pid);
    tr__free(v);
    /* Out of memory for the list: every live actor, in table order, without
     * waiting (push_shutdown needs no memory). */
    for (int r = 0; r < 2 && (!v || n == cap); r++)
        for (uint32_t i = ranges[r][0]; i < ranges[r][1]; i++) {
            tr__slot *s = slot_at(rt, i);
            uint64_t w = s ? tr__load_acq_u64(&s->w) : 0;
            if (w & TR__SLOT_ALIVE)
                push_shutdown(rt, tr__pid_make(rt->id, (uint32_t)(w >> 32), i));
        }
}

/* ------------------------------------------------------------------------ */
/* public: inside a callback                                                 */
/* ------------------------------------------------------------------------ */

tr_pid tr_self_pid(const tr_self *self) {
    return self ? ((const tr__actor *)self)->pid : TR_PID_NONE;
}
tr_runtime *tr_self_runtime(const tr_self *self) {
    return self ? ((const tr__actor *)self)->rt : NULL;
}
void *tr__self_state(const tr_self *self) {
    return self ? tr__actor_state((tr__actor *)self) : NULL;
}
tr_pid tr__self_parent(const tr_self *self) {
    return self ? ((const tr__actor *)self)->parent : TR_PID_NONE;
}
const tr_behaviour *tr__self_behaviour(const tr_self *self) {
    return self ? ((const tr__actor *)self)->b : NULL;
}

bool tr_trap_exit(tr_self *self, bool on) {
    tr__actor *a = (tr__actor *)self;
    if (!a)
        return false;
    bool old = (a->flags & TR__F_TRAP_EXIT) != 0;
    if (on)
        a->flags |= TR__F_TRAP_EXIT;
    else
        a->flags &= ~TR__F_TRAP_EXIT;
    return old;
}

int tr_stop(tr_self *self, tr_reason reason) {
    tr__frame *f = tr__tls_frame;
    if (f && self && f->a == (tr__actor *)self) {
        f->stop_pending = true;
        f->stop_reason = reason_sealed(reason);
    }
    return TR_STOP;
}

void tr_fail(tr_self *self, tr_reason reason) {
    tr__frame *f = tr__tls_frame;
    if (!self || !f || f->a != (tr__actor *)self) {
        char buf[96];
        fprintf(stderr, "troupe: tr_fail called outside a callback (reason %s)\n",
                tr_reason_format(&reason, buf, sizeof buf));
        abort();
    }
    f->stop_pending = true;
    f->stop_reason = reason_sealed(reason);
    longjmp(f->jb, 1);
}

int tr_link(tr_self *self, tr_pid pid) {
    tr__actor *a = (tr__actor *)self;
    if (!a || pid.id == 0 || tr_pid_eq(pid, a->pid))
        return TR_EINVAL;
    if (tr__load_acq_u32(&a->has_sig) & TR__SIG_KILLED)
        return TR_EKILLED;
    if (!tr__pid_is_proc(a->rt, pid))
        return TR_ENOPROC; /* another runtime's pid, or a caller's reply address */
    int err = link_pair(a, pid, false);
    if (err == TR_ENOPROC) {
        /* OTP: linking to a dead process gives an exit signal noproc. */
        tr_reason r = mk_reason(TR_EXIT_NOPROC);
        tr__msg *sig = tr__msg_new(tr__mc_here(a->rt), TR_MSG_EXIT, 0, &r, sizeof r);
        if (!sig)
            return TR_ENOMEM;
        sig->sys = TR__SYS_SIG_EXIT;
        sig->pub.sender = pid;
        tr__push_signal(a, sig);
        return TR_OK;
    }
    return err;
}

int tr_unlink(tr_self *self, tr_pid pid) {
    tr__actor *a = (tr__actor *)self;
    if (!a || pid.id == 0)
        return TR_EINVAL;
    tr__spin_lock(&a->lock);
    links_remove_locked(a, TR__L_LINK, pid, 0);
    tr__spin_unlock(&a->lock);
    tr__actor *t = tr__acquire(a->rt, pid);
    if (t) {
        tr__spin_lock(&t->lock);
        links_remove_locked(t, TR__L_LINK, a->pid, 0);
        tr__spin_unlock(&t->lock);
        tr__release(t);
    }
    return TR_OK;
}

int tr_monitor(tr_self *self, tr_pid pid, uint64_t *ref) {
    tr__actor *a = (tr__actor *)self;
    if (!a || pid.id == 0)
        return TR_EINVAL;
    if (tr__load_acq_u32(&a->has_sig) & TR__SIG_KILLED)
        return TR_EKILLED;
    return monitor_pair(a, pid, ref);
}

int tr_demonitor(tr_self *self, uint64_t ref) {
    tr__actor *a = (tr__actor *)self;
    if (!a || ref == 0)
        return TR_EINVAL;
    return demonitor_pair(a, ref);
}

/* ------------------------------------------------------------------------ */
/* public: from anywhere                                                     */
/* ------------------------------------------------------------------------ */

int tr_exit(tr_runtime *rt, tr_pid pid, tr_reason reason) {
    if (!rt || pid.id == 0 || reason.kind < TR_EXIT_NORMAL || reason.kind > TR_EXIT_ERROR)
        return TR_EINVAL;
    if (tr__load_acq_u32(&rt->stopped))
        return TR_ECLOSED;
    if (tr__self_killed_here())
        return TR_EKILLED;
    tr__actor *a = tr__acquire(rt, pid);
    if (!a)
        return TR_ENOPROC;
    reason = reason_sealed(reason);
    tr__msg *sig = tr__msg_new(tr__mc_here(rt), TR_MSG_EXIT, 0, &reason, sizeof reason);
    if (!sig) {
        /* A kill needs no block: it must not be lost to a full heap. */
        bool flag =
            reason.kind == TR_EXIT_KILL && !__atomic_load_n(&a->is_waiter, __ATOMIC_RELAXED);
        if (flag)
            push_kill_flag(a);
        tr__release(a);
        return flag ? TR_OK : TR_ENOMEM;
    }
    sig->sys = TR__SYS_SIG_EXIT;
    tr__actor *cur = tr__tls_current;
    sig->pub.sender = (cur && cur->rt == rt) ? cur->pid : TR_PID_NONE;
    tr__push_signal(a, sig);
    /* kill takes effect now, even on an actor inside a callback (C code
     * cannot be preempted): the pid dies for everyone else at once; the
     * owner, when its callback returns, finds the signal, sends nothing
     * more and finishes the exit (exit_finish: cleanup, memory). */
    if (reason.kind == TR_EXIT_KILL && !__atomic_load_n(&a->is_waiter, __ATOMIC_RELAXED))
        exit_notify(a, mk_reason(TR_EXIT_KILLED), false, true);
    tr__release(a);
    return TR_OK;
}

int tr__exit_linked(tr_self *self, tr_pid pid, tr_reason reason) {
    tr__actor *me = (tr__actor *)self;
    if (!me)
        return TR_EINVAL;
    int rc = tr_exit(me->rt, pid, reason);
    if (rc != TR_ENOMEM)
        return rc;
    /* Out of memory: the block our link to pid keeps for our own exit
     * carries this signal instead (pid exits either way). */
    tr__msg *sig = NULL;
    tr__spin_lock(&me->lock);
    for (uint32_t i = 0; i < me->n_links && !sig; i++)
        if (me->links[i].kind == TR__L_LINK && tr_pid_eq(me->links[i].pid, pid)) {
            sig = me->links[i].pre;
            me->links[i].pre = NULL;
        }
    tr__spin_unlock(&me->lock);
    if (!sig)
        return TR_ENOMEM;
    exit_signal(me->rt, pid, me->pid, reason, false, sig);
    return TR_OK;
}

bool tr_is_alive(tr_runtime *rt, tr_pid pid) {
    if (!rt)
        return false;
    tr__actor *a = tr__acquire(rt, pid); /* processes only */
    if (!a)
        return false;
    tr__release(a);
    return true;
}

int tr__forward_call(tr_self *self, tr_pid to) {
    tr__actor *a = (tr__actor *)self;
    tr__frame *f = tr__tls_frame;
    if (!a || !f || f->a != a || !f->cur_msg || f->cur_msg->pub.kind != TR_MSG_CALL)
        return TR_EINVAL;
    if (tr__load_acq_u32(&a->has_sig) & TR__SIG_KILLED)
        return TR_EKILLED;
    tr_runtime *rt = a->rt;
    tr__actor *t = tr__acquire(rt, to);
    if (!t)
        return TR_ENOPROC;
    if (bounded_or_waiter(t)) {
        release_in(rt, t); /* a refused push would free the block */
        return TR_EBUSY;
    }
    tr__msg *m = f->cur_msg;
    m->sys = TR__SYS_FWD;
    f->cur_msg = NULL;
    f->msg_taken = true;
    f->cur_call_replied = true; /* no bounce here if this callback fails */
    tr__push(t, m);             /* unbounded: cannot fail */
    release_in(rt, t);
    tr__sched *sc = tr__tls_sched;
    if (sc)
        sc->sends++;
    return TR_OK;
}

bool tr__self_store_if_alive(tr_self *self, uint64_t *p, uint64_t v) {
    tr__actor *a = (tr__actor *)self;
    tr__spin_lock(&a->lock);
    bool alive = !a->exiting;
    if (alive)
        tr__store_rel_u64(p, v);
    tr__spin_unlock(&a->lock);
    return alive;
}

bool tr__msg_forwarded(const tr_msg *msg) {
    const tr__msg *m = (const tr__msg *)((const char *)msg - offsetof(tr__msg, pub));
    return m->sys == TR__SYS_FWD;
}

long tr_mailbox_len(tr_runtime *rt, tr_pid pid) {
    if (!rt || pid.id == 0)
        return TR_EINVAL;
    tr__actor *a = tr__acquire(rt, pid);
    if (!a)
        return TR_ENOPROC;
    long n = (long)tr__mq_depth(&a->mq, &a->mqc);
    tr__release(a);
    return n < 0 ? 0 : n;
}

static int send_common(tr_runtime *rt, tr_pid to, uint32_t kind, uint32_t tag, const void *data,
                       size_t size, void *owned, void (*dtor)(void *)) {
    if (!rt || (size && !data))
        return TR_EINVAL;
    if (tr__load_acq_u32(&rt->stopped))
        return TR_ECLOSED;
    if (to.id == 0)
        return TR_ENOPROC;
    if (tr__self_killed_here())
        return TR_EKILLED; /* the caller keeps owned data */
    tr__actor *a = tr__acquire(rt, to);
    if (!a)
        return TR_ENOPROC;
    tr__owned o = {owned, dtor};
    tr__msg *m = owned ? tr__msg_new(tr__mc_here(rt), kind, tag, &o, sizeof o)
                       : tr__msg_new(tr__mc_here(rt), kind, tag, data, size);
    if (!m) {
        tr__release(a);
        return TR_ENOMEM;
    }
    if (owned) {
        m->owned = 1;
        m->pub.data = owned;
        m->pub.size = size;
    }
    tr__actor *cur = tr__tls_current;
    m->pub.sender = (cur && cur->rt == rt) ? cur->pid : TR_PID_NONE;
    int err = tr__push(a, m); /* on TR_EFULL the caller keeps owned data */
    release_in(rt, a);
    tr__sched *sc = tr__tls_sched;
    if (sc)
        sc->sends++;
    return err;
}

int tr_send(tr_runtime *rt, tr_pid to, uint32_t tag, const void *data, size_t size) {
    return send_common(rt, to, TR_MSG_INFO, tag, data, size, NULL, NULL);
}
int tr_cast(tr_runtime *rt, tr_pid to, uint32_t tag, const void *data, size_t size) {
    return send_common(rt, to, TR_MSG_CAST, tag, data, size, NULL, NULL);
}
int tr_cast_owned(tr_runtime *rt, tr_pid to, uint32_t tag, void *data, size_t size,
                  void (*dtor)(void *)) {
    if (!data && size)
        return TR_EINVAL;
    if (!data)
        return send_common(rt, to, TR_MSG_CAST, tag, NULL, 0, NULL, NULL);
    return send_common(rt, to, TR_MSG_CAST, tag, data, size, data, dtor);
}
int tr_send_owned(tr_runtime *rt, tr_pid to, uint32_t tag, void *data, size_t size,
                  void (*dtor)(void *)) {
    if (!data && size)
        return TR_EINVAL;
    if (!data)
        return send_common(rt, to, TR_MSG_INFO, tag, NULL, 0, NULL, NULL);
    return send_common(rt, to, TR_MSG_INFO, tag, data, size, data, dtor);
}

/* Marks the current call as answered when the running actor replies to it. */
void tr__note_reply(tr_runtime *rt, tr_from from) {
    tr__frame *f = tr__tls_frame;
    if (f && f->a->rt == rt && f->cur_call_ref == from.ref && f->cur_msg &&
        tr_pid_eq(f->cur_msg->pub.sender, from.pid))
        f->cur_call_replied = true;
}

/* ------------------------------------------------------------------------ */
/* waiters: a blocking thread's mailbox (used by call.c)                        */
/* ------------------------------------------------------------------------ */

void tr__waiter_init(tr__waiter *p);
void tr__waiter_fini(tr__waiter *p);

tr__actor *tr__waiter_open(tr_runtime *rt, size_t waiter_size, int *err) {
    tr__actor *a = (tr__actor *)tr__calloc(TR__ACTOR_HDR + waiter_size);
    if (!a) {
        *err = TR_ENOMEM;
        return NULL;
    }
    uint32_t idx = table_alloc(rt, true, err);
    if (!idx) {
        tr__free(a);
        return NULL;
    }
    a->u.waiter = (tr__waiter *)((char *)a + TR__ACTOR_HDR);
    tr__waiter_init(a->u.waiter);
    tr__slot *s = slot_at(rt, idx);
    uint32_t gen = (uint32_t)(tr__load_acq_u64(&s->w) >> 32);
    a->rt = rt;
    a->pid = tr__pid_make(rt->id, gen, idx);
    a->flags = TR__F_TERMINATED;
    a->is_waiter = true;
    tr__mq_init(&a->mq, &a->mqc, true); /* the blocking thread is the consumer */
    COUNT_ALLOCATED(rt, 1);
    tr__store_rel_ptr((void **)&s->actor, a);
    tr__store_rel_u64(&s->w, ((uint64_t)gen << 32) | TR__SLOT_ALIVE | 1);
    return a;
}

void tr__waiter_close(tr__actor *a) {
    exit_actor(a, tr_reason_normal(), true);
}

tr__msg *tr__waiter_pop(tr__actor *a) {
    tr__msg *m = (tr__msg *)tr__mq_pop_mpsc(&a->mq, &a->mqc);
    return m;
}

bool tr__waiter_markempty(tr__actor *a) {
    return tr__mq_markempty_mpsc(&a->mq, &a->mqc);
}

bool tr__waiter_take_shutdown(tr__actor *a) {
    if (!(tr__load_acq_u32(&a->has_sig) & TR__SIG_PENDING))
        return false;
    tr__spin_lock(&a->lock);
    tr__msg *s = a->sig_head;
    a->sig_head = a->sig_tail = NULL;
    tr__store_rel_u32(&a->has_sig, tr__load_acq_u32(&a->has_sig) & ~TR__SIG_PENDING);
    bool shutdown = a->shutdown_pending;
    tr__spin_unlock(&a->lock);
    while (s) {
        tr__msg *n = (tr__msg *)s->node.next;
        if (s->sys == TR__SYS_SIG_SHUTDOWN)
            shutdown = true;
        tr__msg_free(s);
        s = n;
    }
    return shutdown;
}
