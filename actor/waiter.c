/* troupe — waiters: the mailbox of a thread that blocks (tr_call and the
 * other blocking calls from a plain thread).
 *
 * A waiter is a mailbox with a pid in the actor table (in a region of its
 * own, after the actors'), whose "schedule" signals a condition variable
 * instead of a run queue. Replies travel as ordinary messages to that pid,
 * so a reply after the caller gave up finds the pid dead and is dropped.
 * Its pid is a reply-only address (OTP's alias): the runtime delivers
 * replies and the waiter's own DOWN to it (tr__deliver), and every public
 * call that takes a pid refuses it with TR_ENOPROC (tr__acquire).
 *
 * A receiver (receiver.c) is a waiter whose pid is also a target of links,
 * monitors and exit signals (signal.c: tr__acquire_target). It traps
 * exits: an exit signal, kill too, becomes a TR_MSG_EXIT message, taken
 * here after what its mailbox held when the signal was taken.
 */
#include <errno.h>
#include <string.h>

#include "actor/core.h"

struct tr__waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool signaled;
    tr__msg *ready_head, *ready_tail; /* owner only: a receiver's next messages, oldest first */
    tr__actor *pool_next;             /* in rt->wpool */
    int64_t spin_ns;                  /* owner: how long the next wait spins first */
};

/* A wait spins before it sleeps: a reply from a server on another core
 * comes within microseconds, and a sleep on a condition variable costs a
 * futex wake-up on each side, tens of microseconds on a virtual machine
 * whose idle cores halt. The spin adapts, as the scheduler's does: one
 * that was answered keeps SPIN_MAX_NS, one that ran out halves the next
 * (down to SPIN_MIN_NS), so a caller of slow servers spins little. It
 * spins only when a core is likely free (more than one CPU, and fewer
 * scheduler threads than CPUs or one of them parked): when every core
 * runs a scheduler thread, the spin would take the time the server
 * needs. */
#define SPIN_MAX_NS 20000
#define SPIN_MIN_NS 1000

/* Idle waiters kept per runtime: enough for this many blocking callers at
 * once; more are opened and closed per call. */
#define WPOOL_MAX 64

void tr__waiter_signal(tr__actor *a) {
    tr__waiter *p = tr__waiter_of(a);
    pthread_mutex_lock(&p->mu);
    p->signaled = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* The wait state lives in the waiter's own allocation (after the actor
 * header), so a sender that found the waiter can still signal it after the
 * caller gave up: it is freed with the waiter, when the last sender lets go. */
void tr__waiter_init(tr__waiter *p) {
    pthread_mutex_init(&p->mu, NULL);
    tr__cond_init_monotonic(&p->cv);
    p->signaled = false;
    p->ready_head = p->ready_tail = NULL;
    p->pool_next = NULL;
    p->spin_ns = SPIN_MAX_NS;
}

void tr__waiter_fini(tr__waiter *p) {
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

/* Sleeps (p->mu held) until signaled or the deadline (tr__deadline_ms;
 * TR__NEVER: none) passes. */
static void wait_signaled_locked(tr__waiter *p, int64_t deadline) {
    while (!p->signaled) {
        tr_duration_ms left = tr__remaining_ms(deadline);
        struct timespec ts;
        if (left == 0)
            break;
        if (left == TR_INFINITY || !tr__abstime_after(&ts, left))
            pthread_cond_wait(&p->cv, &p->mu);
        else
            pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
}

/* Waits for the next message on the waiter. Returns NULL on timeout (deadline
 * from tr__deadline_ms; TR__NEVER: none) or when the runtime shuts down
 * (*closed set). */
static void ready_add(tr__waiter *p, tr__msg *m) {
    m->node.next = NULL;
    if (p->ready_tail)
        p->ready_tail->node.next = &m->node;
    else
        p->ready_head = m;
    p->ready_tail = m;
}

static tr__msg *ready_take(tr__waiter *p) {
    tr__msg *m = p->ready_head;
    if (m) {
        p->ready_head = (tr__msg *)m->node.next;
        if (!p->ready_head)
            p->ready_tail = NULL;
        m->node.next = NULL;
    }
    return m;
}

/* The next message of the mailbox (wake markers dropped), or NULL. */
static tr__msg *pop_msg(tr__actor *a) {
    for (;;) {
        tr__msg *m = tr__waiter_pop(a);
        if (!m)
            return NULL;
        if (tr__is_wake(a, m)) {
            tr__wake_taken(a);
            continue;
        }
        if (m->sys == TR__SYS_WAKE) {
            tr__msg_free(m);
            continue;
        }
        return m;
    }
}

/* An exit signal to a receiver (owner thread): an EXIT message, after what
 * its mailbox holds now (a message its sender pushed before the signal
 * comes first). A link's EXIT is void if the link went meanwhile. */
static void trap_exit(tr__actor *a, tr__msg *s) {
    if (s->via_link) {
        tr__spin_lock(&a->lock);
        bool linked = tr__links_remove_locked(a, TR__L_LINK, s->pub.sender, 0);
        tr__spin_unlock(&a->lock);
        if (!linked) {
            tr__msg_free(s);
            return;
        }
    }
    tr__waiter *p = tr__waiter_of(a);
    tr__msg *m;
    while ((m = pop_msg(a)) != NULL)
        ready_add(p, m);
    s->sys = TR__SYS_NONE;
    s->via_link = 0;
    s->pub.kind = TR_MSG_EXIT;
    s->pub.ref = 0; /* the marker number was ours */
    ready_add(p, s);
}

/* Spins until the mailbox or the signal list has something (true) or the
 * spin budget runs out (false; at most SPIN_MAX_NS past a deadline). */
static bool spin_for_message(tr__actor *a, int64_t deadline) {
    tr__waiter *p = tr__waiter_of(a);
    tr_runtime *rt = a->rt;
    if (rt->ncpu < 2 || (rt->n_sched >= rt->ncpu && tr__load_acq_u32(&rt->n_sleeping) == 0) ||
        tr__remaining_ms(deadline) == 0)
        return false;
    int64_t until = tr__now_ns() + p->spin_ns;
    for (unsigned i = 1;; i++) {
        if (tr__mq_depth(&a->mq, &a->mqc) != 0 ||
            (tr__load_acq_u32(&a->has_sig) & TR__SIG_PENDING)) {
            p->spin_ns = SPIN_MAX_NS;
            return true;
        }
        tr__cpu_relax();
        if ((i & 15) == 0 && tr__now_ns() >= until)
            break;
    }
    p->spin_ns = p->spin_ns / 2 > SPIN_MIN_NS ? p->spin_ns / 2 : SPIN_MIN_NS;
    return false;
}

tr__msg *tr__waiter_wait(tr__actor *a, int64_t deadline, bool *closed) {
    tr__waiter *p = tr__waiter_of(a);
    bool spun = false;
    for (;;) {
        if (tr__waiter_take_shutdown(a)) {
            *closed = true;
            return NULL;
        }
        tr__msg *m = ready_take(p);
        if (m)
            return m;
        m = tr__waiter_pop(a);
        if (m) {
            if (tr__is_wake(a, m)) {
                tr__wake_taken(a); /* a signal came: looked at above */
                continue;
            }
            if (m->sys == TR__SYS_WAKE) {
                tr__msg_free(m);
                continue;
            }
            return m;
        }
        if (!spun) {
            spun = true;
            if (spin_for_message(a, deadline))
                continue;
        }
        pthread_mutex_lock(&p->mu);
        if (!p->signaled) {
            /* Give the token back before sleeping; a queue already marked
             * empty (given back by an earlier wait that timed out, with
             * nothing pushed since) needs nothing: the next push signals. */
            if (!tr__mq_idle(&a->mq) && !tr__waiter_markempty(a)) {
                pthread_mutex_unlock(&p->mu);
                if (tr__remaining_ms(deadline) == 0)
                    return NULL; /* timed out; we keep the token: the next wait pops */
                continue;        /* a push is half-done or just landed */
            }
            wait_signaled_locked(p, deadline);
            if (!p->signaled) {
                pthread_mutex_unlock(&p->mu);
                /* Timed out. We gave the token back; a push may race, so
                 * one last look is taken by the caller's next close. */
                return NULL;
            }
        }
        p->signaled = false;
        pthread_mutex_unlock(&p->mu);
    }
}

bool tr__waiter_idle_wait(tr__actor *a, int64_t deadline) {
    tr__waiter *p = tr__waiter_of(a);
    pthread_mutex_lock(&p->mu);
    wait_signaled_locked(p, deadline);
    bool s = p->signaled; /* left set: tr__waiter_wait pops without marking empty */
    pthread_mutex_unlock(&p->mu);
    return s;
}

tr__actor *tr__waiter_open(tr_runtime *rt, int *err) {
    tr__actor *a = (tr__actor *)tr__calloc(TR__ACTOR_HDR + sizeof(tr__waiter));
    if (!a) {
        *err = TR_ENOMEM;
        return NULL;
    }
    uint32_t idx = tr__pidtab_alloc(rt, true, err);
    if (!idx) {
        tr__free(a);
        return NULL;
    }
    tr__waiter_init(tr__waiter_of(a));
    tr__slot *s = tr__slot_at(rt, idx);
    uint32_t gen = (uint32_t)(tr__load_acq_u64(&s->w) >> 32);
    a->rt = rt;
    a->pid = tr__pid_make(rt->id, gen, idx);
    a->flags = TR__F_TERMINATED;
    a->is_waiter = true;
    tr__mq_init(&a->mq, &a->mqc, true); /* the blocking thread is the consumer */
    TR__COUNT_ALLOCATED(rt, 1);
    tr__store_rel_ptr((void **)&s->actor, a);
    tr__store_rel_u64(&s->w, ((uint64_t)gen << 32) | TR__SLOT_ALIVE | 1);
    return a;
}

void tr__waiter_close(tr__actor *a) {
    tr__msg *m;
    while ((m = ready_take(tr__waiter_of(a))) != NULL)
        tr__msg_free(m);
    tr__exit_actor(a, tr_reason_normal(), false); /* a receiver's links are told */
}

/* ---- the pool of idle waiters ----------------------------------------
 *
 * A blocking call's waiter keeps its pid between calls: opening one takes
 * the pid table's lock, and closing one is an exit whose memory a
 * scheduler thread frees after a grace period (waking a parked one to do
 * it). A message meant for an earlier call (a late reply, the DOWN of a
 * monitor that fired as it was dropped) may reach a pooled waiter: every
 * wait filters by its own request and monitor refs (unique per runtime),
 * and what is left is dropped when the waiter is taken or put back. */

/* Drops what the mailbox holds (a previous call's late messages). */
static void drain_mailbox(tr__actor *a) {
    tr__msg *m;
    while ((m = ready_take(tr__waiter_of(a))) != NULL)
        tr__msg_free(m);
    while ((m = tr__waiter_pop(a)) != NULL) {
        if (tr__is_wake(a, m))
            tr__wake_taken(a);
        else
            tr__msg_free(m);
    }
}

tr__actor *tr__waiter_get(tr_runtime *rt, int *err) {
    pthread_mutex_lock(&rt->wpool.mu);
    tr__actor *a = rt->wpool.head;
    if (a) {
        rt->wpool.head = tr__waiter_of(a)->pool_next;
        rt->wpool.n--;
    }
    pthread_mutex_unlock(&rt->wpool.mu);
    if (!a)
        return tr__waiter_open(rt, err);
    tr__waiter_of(a)->pool_next = NULL;
    return a;
}

void tr__waiter_put(tr__actor *a) {
    tr_runtime *rt = a->rt;
    drain_mailbox(a);
    pthread_mutex_lock(&rt->wpool.mu);
    bool keep = !rt->wpool.closed && rt->wpool.n < WPOOL_MAX;
    if (keep) {
        tr__waiter_of(a)->pool_next = rt->wpool.head;
        rt->wpool.head = a;
        rt->wpool.n++;
    }
    pthread_mutex_unlock(&rt->wpool.mu);
    if (!keep)
        tr__waiter_close(a);
}

void tr__waiter_pool_close(tr_runtime *rt) {
    pthread_mutex_lock(&rt->wpool.mu);
    tr__actor *a = rt->wpool.head;
    rt->wpool.head = NULL;
    rt->wpool.n = 0;
    rt->wpool.closed = true;
    pthread_mutex_unlock(&rt->wpool.mu);
    while (a) {
        tr__actor *next = tr__waiter_of(a)->pool_next;
        tr__waiter_close(a);
        a = next;
    }
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
    tr__msg *s = tr__sigs_take_all(a);
    tr__store_rel_u32(&a->has_sig, tr__load_acq_u32(&a->has_sig) & ~TR__SIG_PENDING);
    bool shutdown = (a->lk & TR__LK_SHUTDOWN) != 0;
    tr__spin_unlock(&a->lock);
    while (s) {
        tr__msg *n = (tr__msg *)s->node.next;
        if (s->sys == TR__SYS_SIG_SHUTDOWN)
            shutdown = true;
        if (s->sys == TR__SYS_SIG_EXIT && __atomic_load_n(&a->receiver, __ATOMIC_RELAXED))
            trap_exit(a, s);
        else
            tr__msg_free(s);
        s = n;
    }
    return shutdown;
}
