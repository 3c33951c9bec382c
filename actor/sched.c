/* troupe — the scheduler: threads, run queues, stealing, parking.
 *
 * Each scheduler thread owns a ck_ring (SPMC: the owner pushes and pops,
 * idle threads steal). Threads that are not schedulers (main, timers,
 * blocking callers) push runnable actors to one injection queue. An idle
 * thread spins briefly, then parks on its own condition variable; a thread
 * that makes work available wakes one parked thread. Lost wake-ups are
 * avoided Dekker-style: the parker increments n_sleeping (full barrier)
 * before its last look at the queues; the waker publishes work, issues a
 * full barrier, then reads n_sleeping.
 *
 * A busy thread may hold work no queue shows (its `next` actor, its outbox
 * of gathered sends) until its turn ends; an idle thread takes it when that
 * turn lasts (steal_next), and while threads run, one parked thread (the
 * watcher) wakes every WATCH_MS to look.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "actor/core.h"
#include "actor/internal.h"
#include "io/poll.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

__thread tr__sched *tr__tls_sched;
__thread tr__actor *tr__tls_current;
__thread tr__frame *tr__tls_frame;

#define SPIN_ROUNDS 200
#define SPIN_MIN 100
#define SPIN_TIMER 8
#define POLL_EVERY 64
/* Every FAIR_EVERY-th pick looks at the injection queue and the ring
 * before the `next` slot (next_actor_fair); a prime, as Go's 61, so that
 * it does not fall into step with a periodic pattern of the work. */
#define FAIR_EVERY 61
#define FAIR_RING_EVERY 8
/* How long work a busy thread holds (its `next` actor, its outbox) may
 * wait behind a turn that does not end before an idle thread takes it
 * (steal_next). A spinning thread looks at the end of each spin phase; a
 * parked watcher every WATCH_MS. */
#define NEXT_GRACE_NS 100000
#define WATCH_MS 1

/* ---- waking -------------------------------------------------------------- */

/* A parked thread has work now (a waker's, I/O events it took, timers it
 * fired): it counts as a woken, spinning thread (park_mu held). */
static void park_woken(tr__sched *s) {
    if (s->sleeping) {
        s->sleeping = false;
        s->woken = true;
        tr__faa_acqrel_u32(&s->rt->n_sleeping, (uint32_t)-1);
        tr__faa_acqrel_u32(&s->rt->n_spinning, 1);
    }
}

/* Ends s's current wait in park_wait, in the poller or on its condition
 * variable (park_mu held). */
static void end_wait(tr__sched *s) {
    if (s->in_poll)
        tr__poll_wake(s->rt->io_poll);
    else
        pthread_cond_signal(&s->park_cv);
}

static bool wake_parked(tr__sched *s, bool timers_too) {
    pthread_mutex_lock(&s->park_mu);
    bool wake = s->sleeping && (timers_too || !s->on_timers);
    if (wake) {
        park_woken(s);
        end_wait(s);
    }
    pthread_mutex_unlock(&s->park_mu);
    return wake;
}

/* Wakes one parked thread, if any. The woken thread counts as spinning
 * from here on (it will look for work, then park again behind the barrier),
 * so a burst of wake-ups (timers firing together) wakes one thread, not
 * all of them: as Go's wakep() hands its spinning state to the woken M.
 * A thread that waits for the timers (park_wait) is woken last: the timer
 * thread would take that duty over less precisely (timer.c). */
static void wake_sleeper(tr_runtime *rt) {
    for (unsigned i = 0; i < rt->n_sched; i++)
        if (wake_parked(&rt->scheds[i], false))
            return;
    for (unsigned i = 0; i < rt->n_sched; i++)
        if (wake_parked(&rt->scheds[i], true))
            return;
}

void tr__sched_nudge(tr__sched *s) {
    pthread_mutex_lock(&s->park_mu);
    if (s->sleeping)
        end_wait(s);
    pthread_mutex_unlock(&s->park_mu);
}

static void wake_one(tr_runtime *rt) {
    /* Full barrier: the work we published is visible before we read
     * n_sleeping (pairs with the barrier in park()). */
    tr__fence_seqcst();
    /* A spinning scheduler will find the work (it looks again after it
     * stops spinning, behind a full barrier): no wake-up needed. */
    if (tr__load_acq_u32(&rt->n_spinning) != 0 || tr__load_acq_u32(&rt->n_sleeping) == 0)
        return;
    wake_sleeper(rt);
}

void tr__wake_one(tr_runtime *rt) {
    wake_one(rt);
}

/* This thread holds work during a turn (an actor in its `next` slot, or
 * messages in its outbox): make sure an idle thread looks at it
 * (steal_next) in case the turn runs long. A thread that spins or watches
 * will; otherwise wake one. Barrier as wake_one (the parker's last look
 * includes what threads hold: any_held). */
static void wake_for_next(tr_runtime *rt) {
    /* The common case, a thread that watches or spins (it looks again later
     * than this store), costs no barrier. */
    if (rt->n_sched == 1 || tr__load_acq_u32(&rt->n_watching) != 0 ||
        tr__load_acq_u32(&rt->n_spinning) != 0)
        return;
    tr__fence_seqcst();
    if (tr__load_acq_u32(&rt->n_spinning) != 0 || tr__load_acq_u32(&rt->n_watching) != 0 ||
        tr__load_acq_u32(&rt->n_sleeping) == 0)
        return;
    wake_sleeper(rt);
}

void tr__wake_watcher(tr_runtime *rt) {
    wake_for_next(rt);
}

void tr__wake_all(tr_runtime *rt) {
    for (unsigned i = 0; i < rt->n_sched; i++) {
        tr__sched *s = &rt->scheds[i];
        pthread_mutex_lock(&s->park_mu);
        if (s->sleeping) {
            s->sleeping = false;
            tr__faa_acqrel_u32(&rt->n_sleeping, (uint32_t)-1);
        }
        if (s->in_poll)
            tr__poll_wake(rt->io_poll);
        pthread_cond_signal(&s->park_cv);
        pthread_mutex_unlock(&s->park_mu);
    }
}

/* ---- I/O ------------------------------------------------------------------
 *
 * Sockets' readiness comes from the I/O poller (rt->io_poll), which no
 * thread owns: as Go's netpoll, the thread that waits in it is a scheduler
 * thread with nothing to do (park), and a busy thread looks at it without
 * waiting every FAIR_EVERY picks. The events are handled where they were
 * taken: a socket's data is read there and its owner, made runnable by
 * that thread, runs there next (the `next` slot), without a hand-over to
 * another thread. io_owner lets one thread at a time wait or look; while
 * no scheduler thread waits (all busy), the timer thread looks every
 * millisecond (tr__io_look), as Go's sysmon does, so that I/O never waits
 * for a long turn to end. */

#define IO_BATCH 64

bool tr__io_take(tr_runtime *rt) {
    return tr__load_acq_u32(&rt->io_used) && !tr__load_acq_u32(&rt->io_owner) &&
           tr__cas_acqrel_u32(&rt->io_owner, 0, 1);
}

/* Hands the events to the services (their owners are made runnable from
 * this thread). */
static void io_dispatch(tr_runtime *rt, const tr__poll_event *ev, int n) {
    for (int i = 0; i < n; i++)
        tr__services_on_io(rt, ev[i].key, ev[i].events);
}

void tr__wake_idle(tr_runtime *rt) {
    if (tr__load_acq_u32(&rt->io_waiting) || !tr__load_acq_u32(&rt->n_sleeping))
        return;
    wake_sleeper(rt);
}

int tr__io_look(tr_runtime *rt) {
    tr__poll_event ev[IO_BATCH];
    int n = tr__poll_wait(rt->io_poll, ev, IO_BATCH, 0); /* a past deadline: no wait */
    tr__store_rel_u32(&rt->io_owner, 0);
    io_dispatch(rt, ev, n);
    return n;
}

/* ---- run queues ---------------------------------------------------------- */

static void runq_push(tr__runq *q, tr__actor *a) {
    pthread_mutex_lock(&q->mu);
    TR__FIFO_PUSH(&q->q, a, run_next);
    tr__faa_acqrel_u32(&q->len, 1);
    pthread_mutex_unlock(&q->mu);
}

static tr__actor *runq_take(tr__runq *q) {
    if (tr__load_acq_u32(&q->len) == 0)
        return NULL;
    pthread_mutex_lock(&q->mu);
    tr__actor *a = TR__FIFO_POP(&q->q, run_next);
    if (a)
        tr__faa_acqrel_u32(&q->len, (uint32_t)-1);
    pthread_mutex_unlock(&q->mu);
    return a;
}

static void push_ring(tr_runtime *rt, tr__sched *s, tr__actor *a) {
    /* Hand-over edge for TSan: ck_ring's ordering is invisible to it. */
    TR__TSAN_RELEASE(a);
    if (!(s && s->rt == rt)) {
        runq_push(&rt->inj, a); /* from outside the schedulers */
    } else {
        if (!ck_ring_enqueue_spmc(&s->ring, s->ring_buf, a))
            runq_push(&rt->ovf, a); /* this thread's ring is full */
        if (rt->n_sched == 1)
            return; /* the only scheduler thread is this one: it looks next */
    }
    wake_one(rt);
}

void tr__schedule(tr__actor *a) {
    if (a->is_waiter) {
        tr__waiter_signal(a);
        return;
    }
    tr_runtime *rt = a->rt;
    tr__sched *s = tr__tls_sched;
    if (s && s->rt == rt) {
        /* Woken by a send on this thread: run it here next, while the
         * message is hot in this core's cache. The actor it displaces goes
         * to the ring, where idle threads can steal it. */
        TR__TSAN_RELEASE(a);
        /* Only this thread puts actors in its slot; thieves only take them
         * out (exchange with NULL). So an empty slot can be filled with a
         * plain release store; an occupied one needs the exchange. */
        if (!tr__load_acq_ptr((void *const *)&s->next)) {
            tr__store_rel_ptr((void **)&s->next, a);
        } else {
            tr__actor *old = (tr__actor *)tr__xchg_acqrel_ptr((void **)&s->next, a);
            if (old) {
                push_ring(rt, s, old); /* wakes a thread if none looks */
                return;
            }
        }
        /* Filled during a turn (not at its end): this thread goes on with
         * callbacks that may run long, so an idle thread must be looking
         * (it takes the actor if this thread does not start another turn
         * within a grace period; steal_next). At a turn's end the thread
         * runs it at once: no wake-up (the common send-reply case). */
        if (s->ctx.ob_on)
            wake_for_next(rt);
        return;
    }
    push_ring(rt, s, a);
}

void tr__schedule_yield(tr__actor *a) {
    push_ring(a->rt, tr__tls_sched, a);
}

/* Muting (as Pony mutes the senders to an overloaded actor). A sender
 * adds itself to r->muted under r's lock, then pushes r's wake node: r
 * runs at least once more after that, and its owner looks at r->muted
 * before every time it gives its token back and when a batch ran out with
 * the backlog low, so a muted sender is never left behind by a receiver
 * that goes idle; r's exit unmutes them all (signal.c).
 *
 * No cycle of muted actors can form (each would wait for the next): a
 * sender mutes only on a receiver that is not muted itself, checked under
 * both actors' locks (taken in address order), so of two actors muting on
 * each other at once, one sees the other muted and runs on. */
void tr__note_overloaded(tr__sched *s, tr__actor *r) {
    if (s->ctx.mute_to)
        return;
    s->ctx.mute_to = r;
    s->ctx.mute_ref = !tr__borrow_mode(r->rt);
    if (s->ctx.mute_ref) /* outside borrow mode, r may be freed before the turn's end */
        tr__faa_acqrel_u64(&tr__slot_at(r->rt, tr__pid_index(r->pid))->w, 1);
}

static bool mute_on(tr__actor *a, tr__actor *r) {
    if (r == a || tr__mq_depth(&a->mq, &a->mqc) >= TR__MUTE_HIGH)
        return false; /* overloaded itself: it must run to drain */
    /* r's muted list is in its side block; without one (out of memory) a
     * goes on unmuted. */
    tr__actor_x *rx = tr__actor_x_get(r);
    if (!rx)
        return false;
    tr__actor *first = a < r ? a : r, *second = a < r ? r : a;
    tr__spin_lock(&first->lock);
    tr__spin_lock(&second->lock);
    bool muted = !(r->lk & TR__LK_EXITING) && !__atomic_load_n(&r->is_muted, __ATOMIC_RELAXED) &&
                 tr__mq_depth(&r->mq, &r->mqc) >= TR__MUTE_LOW;
    if (muted) {
        __atomic_store_n(&a->is_muted, true, __ATOMIC_RELAXED);
        a->run_next = rx->muted;
        tr__store_rel_ptr((void **)&rx->muted, a); /* its owner looks without the lock */
    }
    tr__spin_unlock(&second->lock);
    tr__spin_unlock(&first->lock);
    if (muted)
        tr__wake_reserved(r); /* one more turn of r's, which looks at r->muted */
    return muted;
}

bool tr__turn_mute(tr__sched *s, tr__actor *a, bool flood) {
    tr__actor *r = s->ctx.mute_to;
    if (!r)
        return false;
    bool muted = flood && mute_on(a, r);
    s->ctx.mute_to = NULL;
    if (s->ctx.mute_ref)
        tr__unref(r);
    return muted;
}

void tr__unmute(tr__actor *r) {
    tr__actor_x *rx = tr__actor_x_peek(r); /* set: r had senders muted on it */
    tr__spin_lock(&r->lock);
    tr__actor *x = rx ? rx->muted : NULL;
    if (rx)
        tr__store_rel_ptr((void **)&rx->muted, NULL);
    for (tr__actor *y = x; y; y = y->run_next)
        __atomic_store_n(&y->is_muted, false, __ATOMIC_RELAXED);
    tr__spin_unlock(&r->lock);
    while (x) {
        tr__actor *next = x->run_next;
        x->run_next = NULL;
        tr__schedule_yield(x);
        x = next;
    }
}

/* Takes one actor from another thread's ring, trying each thread once from a
 * random start (the spread keeps thieves off one victim). ck_ring's SPMC
 * dequeue is the thieves' end; the owner pushes and pops its own end. NULL
 * when every ring looked empty (racy: the caller's spin and the park
 * protocol cover what lands after the look). */
static tr__actor *steal(tr__sched *s) {
    tr_runtime *rt = s->rt;
    unsigned n = rt->n_sched;
    if (n < 2)
        return NULL;
    s->steal_seed = s->steal_seed * 6364136223846793005ull + 1442695040888963407ull;
    unsigned start = (unsigned)(s->steal_seed >> 33) % n;
    for (unsigned k = 0; k < n; k++) {
        tr__sched *v = &rt->scheds[(start + k) % n];
        if (v == s)
            continue;
        void *p;
        if (ck_ring_trydequeue_spmc(&v->ring, v->ring_buf, &p)) {
            tr__store_rlx_u64(&s->ctx.m_steals, s->ctx.m_steals + 1);
            return (tr__actor *)p;
        }
    }
    return NULL;
}

static tr__actor *next_actor(tr__sched *s);

static bool holds(tr__sched *v) {
    return tr__load_acq_ptr((void *const *)&v->next) || tr__load_rlx_u32(&v->ctx.ob_held);
}

/* At the end of each spin phase: takes what another thread holds, when that
 * thread has begun no turn for NEXT_GRACE_NS since we first saw it hold
 * something, i.e. it is inside one long turn (a long callback) while the
 * work waits: the actor in its `next` slot (as Go's runqsteal takes runnext
 * from a running P after a short wait), and the messages gathered in its
 * outbox (pushed from here: their receivers become runnable). A thread that
 * begins a turn soon keeps both (and its warm cache). Returns an actor to
 * run, or NULL and *wait_ns: how long until what we saw held may be taken
 * (0: nothing is held). */
static tr__actor *steal_next(tr__sched *s, int64_t *wait_ns) {
    tr_runtime *rt = s->rt;
    int64_t now = 0, wait = 0;
    bool flushed = false;
    for (unsigned k = 0; k < rt->n_sched; k++) {
        tr__sched *v = &rt->scheds[k];
        if (v == s)
            continue;
        tr__seen *w = &s->seen[k];
        if (!holds(v)) {
            w->runs = 0;
            continue;
        }
        if (!now)
            now = tr__now_ns();
        uint32_t runs = __atomic_load_n(&v->runs, __ATOMIC_RELAXED) + 1;
        int64_t left = NEXT_GRACE_NS;
        if (w->runs != runs) {
            w->runs = runs; /* first sight during this turn */
            w->at_ns = now;
        } else {
            left = w->at_ns + NEXT_GRACE_NS - now;
            if (left <= 0) {
                w->runs = 0;
                /* Under its lock the outbox is the owner's turn's (the
                 * owner's epoch section covers the receivers). */
                if (tr__load_rlx_u32(&v->ctx.ob_held) && tr__spin_trylock(&v->ctx.ob_lock)) {
                    if (v->ctx.ob_n) {
                        tr__ob_flush(v); /* receivers come to our `next`/ring */
                        flushed = true;
                    }
                    tr__spin_unlock(&v->ctx.ob_lock);
                }
                tr__actor *a = (tr__actor *)tr__xchg_acqrel_ptr((void **)&v->next, NULL);
                if (a)
                    return a;
                if (flushed)
                    return next_actor(s);
                continue;
            }
        }
        if (!wait || left < wait)
            wait = left;
    }
    *wait_ns = wait;
    return NULL;
}

/* The next actor to run on s, in order of warmth: the `next` slot (the
 * receiver of this thread's last send, its message in this core's cache),
 * then the own ring, the injection queue, the overflow queue, and finally
 * another thread's ring. NULL when none had work at the look.
 *
 * Fairness: that order alone lets a thread that always has work of its
 * own starve the rest: a self-sender or a yielding fiber keeps its ring
 * busy (the injection queue, where plain threads' sends, timers and I/O
 * arrive, is never looked at), and two actors that send to each other run
 * each other next turn after turn (the ring is never looked at). So every
 * FAIR_EVERY-th pick looks the other way round, as Go's scheduler looks at
 * its global queue every 61st tick: the injection queue before `next`
 * (which moves to the ring then, see next_actor_fair); and every
 * FAIR_RING_EVERY-th of those looks, the ring too (as Go's runnext
 * inherits its time slice, so two goroutines handing off to each other
 * cannot starve the local run queue). The ring is looked at more rarely:
 * taking it before `next` breaks the send-then-run locality that spawn
 * trees (skynet) live on, for no gain unless a pair loops for long.
 * Actors that overflowed a full ring wait in their own queue (rt->ovf),
 * looked at with the ring: a spawn tree overflows its ring all the time,
 * and taking that work before `next` would cost it the same locality. */
static tr__actor *next_actor_fair(tr__sched *s) {
    void *p;
    if (tr__io_take(s->rt))
        (void)tr__io_look(s->rt); /* sockets ready: their owners come to this thread */
    tr__actor *a = runq_take(&s->rt->inj);
    if (!a && ++s->fair_ticks >= FAIR_RING_EVERY) {
        s->fair_ticks = 0;
        if (ck_ring_dequeue_spmc(&s->ring, s->ring_buf, &p))
            a = (tr__actor *)p;
        else
            a = runq_take(&s->rt->ovf);
    }
    if (a && tr__load_acq_ptr((void *const *)&s->next)) {
        /* The `next` actor must not wait behind the turn we start now (it
         * may be long, and at a turn's end nobody was woken to watch the
         * slot): it goes to the ring, where idle threads steal at once,
         * and push_ring wakes one if none looks. */
        tr__actor *held = (tr__actor *)tr__xchg_acqrel_ptr((void **)&s->next, NULL);
        if (held)
            push_ring(s->rt, s, held);
    }
    return a;
}

static tr__actor *next_actor(tr__sched *s) {
    void *p;
    if (++s->picks >= FAIR_EVERY) {
        s->picks = 0;
        tr__actor *a = next_actor_fair(s);
        if (a)
            return a;
    }
    if (tr__load_acq_ptr((void *const *)&s->next)) {
        tr__actor *a = (tr__actor *)tr__xchg_acqrel_ptr((void **)&s->next, NULL);
        if (a)
            return a;
    }
    if (ck_ring_dequeue_spmc(&s->ring, s->ring_buf, &p))
        return (tr__actor *)p;
    tr__actor *a = runq_take(&s->rt->inj);
    if (!a)
        a = runq_take(&s->rt->ovf);
    if (a)
        return a;
    return steal(s);
}

tr__actor *tr__sched_pick_fiber(tr__sched *s) {
    if (s->picks + 1 >= FAIR_EVERY)
        return NULL; /* next_actor's fair look comes first */
    tr__actor *a = NULL;
    if (tr__load_acq_ptr((void *const *)&s->next))
        a = (tr__actor *)tr__xchg_acqrel_ptr((void **)&s->next, NULL);
    if (!a) {
        void *p;
        if (!ck_ring_dequeue_spmc(&s->ring, s->ring_buf, &p))
            return NULL;
        a = (tr__actor *)p;
    }
    TR__TSAN_ACQUIRE(a);
    if (!tr__is_fiber(a) || !(tr__fiber_yielded(a) || tr__fiber_woken(a)) ||
        (tr__load_acq_u32(&a->has_sig) & (TR__SIG_PENDING | TR__SIG_KILLED))) {
        /* Not for a hand-off: first in line still. Only this thread fills
         * its `next` slot, which is empty here. */
        TR__TSAN_RELEASE(a);
        tr__store_rel_ptr((void **)&s->next, a);
        return NULL;
    }
    s->picks++;
    __atomic_store_n(&s->runs, s->runs + 1, __ATOMIC_RELAXED);
    return a;
}

/* Work any idle thread may take at once: injected or in a run queue. */
static bool any_work(tr__sched *s) {
    tr_runtime *rt = s->rt;
    if (tr__load_acq_u32(&rt->inj.len) != 0 || tr__load_acq_u32(&rt->ovf.len) != 0)
        return true;
    for (unsigned i = 0; i < rt->n_sched; i++)
        if (ck_ring_size(&rt->scheds[i].ring) != 0)
            return true;
    return false;
}

/* Some thread holds work in its `next` slot or outbox (its owner will run
 * or push it, or, if it is busy for long, an idle thread takes it:
 * steal_next). */
static bool any_held(tr__sched *s) {
    tr_runtime *rt = s->rt;
    for (unsigned i = 0; i < rt->n_sched; i++)
        if (&rt->scheds[i] != s && holds(&rt->scheds[i]))
            return true;
    return false;
}

static void quiesce(tr__sched *s);

/* One wait of a parked thread (park_mu held; dropped while it waits):
 * until woken, or for wait_ms (-1: no limit). With the I/O poller free, the
 * thread waits in it (a waker writes its wake-up there, in_poll) and
 * handles what comes on this thread, leaving the sleepers as if woken.
 * With the timers' duty free, the thread also waits for the earliest timer
 * (timer.c) and fires what is due on this thread, leaving the sleepers
 * likewise: the actors the timers make runnable run here.
 * Returns 0 (woken, events, timers, or a spurious return: the caller looks
 * at s->sleeping) or ETIMEDOUT. */
static int park_wait(tr__sched *s, int wait_ms) {
    tr_runtime *rt = s->rt;
    int64_t deadline = wait_ms < 0 ? TR__NEVER : tr__now_us() + (int64_t)wait_ms * 1000;
    int64_t timer_at;
    s->on_timers = tr__timers_park(rt, s, &timer_at);
    int64_t until = timer_at < deadline ? timer_at : deadline;
    int n = 0;
    if (tr__io_take(rt)) {
        s->in_poll = true;
        pthread_mutex_unlock(&s->park_mu);
        tr__poll_event ev[IO_BATCH];
        tr__store_rel_u32(&rt->io_waiting, 1);
        n = tr__poll_wait(rt->io_poll, ev, IO_BATCH, until);
        tr__store_rel_u32(&rt->io_waiting, 0);
        tr__store_rel_u32(&rt->io_owner, 0);
        pthread_mutex_lock(&s->park_mu);
        s->in_poll = false;
        if (n > 0) {
            park_woken(s); /* we have work now */
            pthread_mutex_unlock(&s->park_mu);
            io_dispatch(rt, ev, n);
            pthread_mutex_lock(&s->park_mu);
        }
    } else if (until == TR__NEVER) {
        pthread_cond_wait(&s->park_cv, &s->park_mu);
    } else {
        struct timespec ts = {.tv_sec = until / 1000000, .tv_nsec = (until % 1000000) * 1000};
        (void)pthread_cond_timedwait(&s->park_cv, &s->park_mu, &ts);
    }
    if (s->on_timers) {
        s->on_timers = false;
        bool fire = tr__now_us() >= timer_at;
        if (fire) {
            park_woken(s); /* before firing: the actors made runnable are ours */
            s->timer_woken = true;
        }
        pthread_mutex_unlock(&s->park_mu);
        (void)tr__timers_unpark(rt, s, fire);
        pthread_mutex_lock(&s->park_mu);
        if (fire)
            return 0;
    }
    if (n > 0)
        return 0;
    if (s->sleeping && deadline != TR__NEVER && tr__now_us() >= deadline)
        return ETIMEDOUT;
    return 0;
}

/* Parks until woken. While another thread holds work (wait_ns > 0, or
 * any_held), one parked thread is the watcher: it parks for WATCH_MS at most,
 * then returns to look again (steal_next). Returns true when a waker woke us
 * (we count as spinning then), false otherwise. */
static bool park(tr__sched *s, int64_t wait_ns) {
    tr_runtime *rt = s->rt;
    int64_t parked_at = tr__now_ns();
    tr__store_rel_u64(&s->ctx.m_park_since, (uint64_t)parked_at);
    quiesce(s);                   /* never sleep inside a section: it would stall reclamation */
    tr__mc_flush(tr__tls_mcache); /* siblings' blocks go home before we sleep */
    pthread_mutex_lock(&s->park_mu);
    s->sleeping = true;
    tr__faa_acqrel_u32(&rt->n_sleeping, 1);
    tr__faa_acqrel_u32(&rt->n_spinning, (uint32_t)-1);
    /* Full barrier, then the last look (pairs with wake_one and
     * wake_for_next). */
    tr__fence_seqcst();
    bool watch = false;
    if (!any_work(s) && !tr__load_acq_u32(&rt->quit)) {
        /* One watcher while other threads run (they may come to hold work
         * during a long turn) or hold work; the others sleep until woken.
         * A thread that holds work while none watches wakes one
         * (wake_for_next): after the runtime was idle. */
        watch = (wait_ns > 0 || tr__load_acq_u32(&rt->n_sleeping) < rt->n_sched || any_held(s)) &&
                tr__cas_acqrel_u32(&rt->n_watching, 0, 1);
        while (s->sleeping && !tr__load_acq_u32(&rt->quit)) {
            /* How long: a watcher WATCH_MS; with destructions waiting for a
             * grace period (n_pending: the callbacks this thread's epoch
             * record holds, a field of ck 0.7.1's ck_epoch_record; ck has
             * no accessor; a stale read only costs one 2 ms look too many
             * or too few: the records are polled again before any park)
             * 2 ms; else until woken. */
            int wait_ms = -1;
            if (watch)
                wait_ms = WATCH_MS;
            else if (ck_pr_load_uint(&s->epoch.n_pending) != 0 || tr__load_acq_u32(&rt->n_grave))
                wait_ms = 2;
            int r = park_wait(s, wait_ms);
            if (r == ETIMEDOUT && watch)
                break; /* look at the `next` slots again */
            if (r == ETIMEDOUT && !watch) {
                pthread_mutex_unlock(&s->park_mu);
                quiesce(s);
                tr__mc_flush(tr__tls_mcache);
                pthread_mutex_lock(&s->park_mu);
            }
        }
        if (watch)
            tr__faa_acqrel_u32(&rt->n_watching, (uint32_t)-1);
    }
    if (s->sleeping) {
        s->sleeping = false;
        tr__faa_acqrel_u32(&rt->n_sleeping, (uint32_t)-1);
    }
    bool woken = s->woken;
    s->woken = false;
    pthread_mutex_unlock(&s->park_mu);
    tr__store_rlx_u64(&s->ctx.m_parked_ns,
                      s->ctx.m_parked_ns + (uint64_t)(tr__now_ns() - parked_at));
    tr__store_rel_u64(&s->ctx.m_park_since, 0);
    return woken;
}

/* The epoch section a scheduler thread holds across consecutive runs, so
 * that lookups inside callbacks take no reference (actor.c). */
static inline void section_enter(tr__sched *s) {
#ifndef TR__TSAN
    if (!s->in_section) {
        ck_epoch_begin(&s->epoch, NULL);
        s->in_section = true;
    }
#else
    (void)s;
#endif
}

/* Leaves the section and lets deferred destruction make progress: the
 * graveyard goes to this thread's record, and callbacks whose grace period
 * has passed run (outside any section). */
static void quiesce(tr__sched *s) {
    if (s->in_section) {
        s->in_section = false;
        ck_epoch_end(&s->epoch, NULL);
    }
    tr__grave_to_epoch(s);
    ck_epoch_poll(&s->epoch);
}

static void run_one(tr__sched *s, tr__actor *a) {
    TR__TSAN_ACQUIRE(a);
    __atomic_store_n(&s->runs, s->runs + 1, __ATOMIC_RELAXED);
    section_enter(s);
    tr__run(s, a);
    if (++s->runs_since_poll >= POLL_EVERY) {
        s->runs_since_poll = 0;
        quiesce(s);
    }
}

/* A spinning thread found work and stops looking. When it was the last one
 * looking, work may be waiting that a waker left to it (wake_one does not
 * wake while a thread spins): wake a parked thread to look, as Go's
 * resetspinning. Pairs with wake_one: we leave the count, then look. */
static void stop_spinning(tr__sched *s) {
    tr_runtime *rt = s->rt;
    if (tr__faa_acqrel_u32(&rt->n_spinning, (uint32_t)-1) != 1)
        return;
    tr__fence_seqcst();
    if (tr__load_acq_u32(&rt->n_sleeping) == 0 || tr__load_acq_u32(&rt->n_spinning) != 0)
        return;
    if (any_work(s) || (tr__load_acq_u32(&rt->n_watching) == 0 && any_held(s)))
        wake_sleeper(rt);
}

void *tr__sched_main(void *arg) {
    tr__sched *s = (tr__sched *)arg;
    tr_runtime *rt = s->rt;
    tr__tls_sched = s;
    tr__tls_mcache = &rt->mcaches[s->index];
#ifdef TR_FAULT_INJECTION
    tr__tls_fault = &rt->fault;
#endif
    /* A parked thread may wait for the timers (park_wait): the kernel's
     * default timer slack (50 us) would make them late. Best effort. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    unsigned idle = 0;
    /* Adaptive spin: a spin phase that found work keeps the full length; one
     * that ended in parking halves the next (work that comes back within
     * microseconds keeps a thread awake; sparse work, like timers far
     * apart, costs little spinning). */
    unsigned spin_limit = SPIN_ROUNDS;
    bool spinning = false, short_spin = false;
    while (!tr__load_acq_u32(&rt->quit)) {
        tr__actor *a = next_actor(s);
        if (a) {
            if (spinning) {
                spinning = false;
                stop_spinning(s);
            }
            if (idle > 0)
                spin_limit = SPIN_ROUNDS; /* the spin paid off */
            idle = 0;
            run_one(s, a);
            continue;
        }
        if (!spinning) {
            spinning = true;
            tr__faa_acqrel_u32(&rt->n_spinning, 1);
        }
        if (++idle < (short_spin ? SPIN_TIMER : spin_limit)) {
            tr__cpu_relax();
            continue;
        }
        idle = 0;
        if (short_spin)
            short_spin = false;
        else if (spin_limit > SPIN_MIN)
            spin_limit /= 2;
        /* Sockets that became ready while we spun (no thread waits in the
         * poller while none is parked): their owners come here. */
        if (tr__io_take(rt) && tr__io_look(rt) > 0)
            continue;
        int64_t wait_ns = 0;
        a = steal_next(s, &wait_ns);
        if (a) {
            spinning = false;
            stop_spinning(s);
            run_one(s, a);
            continue;
        }
        /* park leaves the spinning count before its last look; a waker
         * that woke us put us back in it */
        spinning = park(s, wait_ns);
        /* Woken by the timers it fired: their actors run here, and more
         * work is unlikely to follow within microseconds (timers due close
         * together fired together): the next spin phase is short. */
        short_spin = s->timer_woken;
        s->timer_woken = false;
    }
    if (spinning)
        tr__faa_acqrel_u32(&rt->n_spinning, (uint32_t)-1);
    if (s->in_section) {
        s->in_section = false;
        ck_epoch_end(&s->epoch, NULL);
    }
    tr__mc_flush(tr__tls_mcache); /* siblings' blocks go home */
    tr__tls_mcache = NULL;
    /* What is left in the local ring is dropped: runtime_stop already
     * stopped every actor; leftovers are dead actors' tokens. */
    tr__tls_sched = NULL;
    return NULL;
}

int tr__sched_index_here(const tr_runtime *rt) {
    tr__sched *s = tr__tls_sched;
    return s && s->rt == rt ? (int)s->index : -1;
}

bool tr_on_scheduler(const tr_runtime *rt) {
    return tr__tls_sched != NULL && tr__tls_sched->rt == rt;
}

/* The one rule for blocking calls: refused inside every callback, of any
 * runtime and on any thread (init runs on the spawning thread on a first
 * start and on a scheduler thread on a supervisor's restart: the same
 * init gets the same answer), and on rt's scheduler threads. Two TLS
 * reads; nothing on the spawn path. */
bool tr__park_refused(void) {
    if (tr__fiber_here())
        return false; /* a fiber parks; its thread runs other work */
    return tr__tls_current != NULL || tr__tls_sched != NULL;
}

bool tr__blocking_refused(const tr_runtime *rt) {
    return tr__tls_current != NULL || tr_on_scheduler(rt);
}

/* ---- epoch records for other threads ---------------------------------- */

ck_epoch_record_t *tr__epoch_enter(tr_runtime *rt, bool *borrowed) {
    tr__sched *s = tr__tls_sched;
    if (s && s->rt == rt) {
        *borrowed = false;
        return &s->epoch;
    }
    *borrowed = true;
    ck_epoch_record_t *r = ck_epoch_recycle(&rt->epoch, NULL);
    if (r) {
        TR__TSAN_ACQUIRE(r); /* from the thread that unregistered it */
        return r;
    }
    r = (ck_epoch_record_t *)tr__calloc(sizeof *r);
    if (!r)
        return NULL;
    ck_epoch_register(&rt->epoch, r, NULL);
    return r;
}

void tr__epoch_leave(tr_runtime *rt, ck_epoch_record_t *rec, bool borrowed) {
    (void)rt;
    if (borrowed && rec) {
        TR__TSAN_RELEASE(rec); /* to the thread that recycles it */
        ck_epoch_unregister(rec);
    }
}

bool tr__retire_defer(tr_runtime *rt, ck_epoch_entry_t *e, ck_epoch_cb_t *cb) {
    tr__sched *s = tr__tls_sched;
    if (!s || s->rt != rt)
        return false;
    ck_epoch_call_strict(&s->epoch, e, cb);
    return true;
}

bool tr__grace_wait(tr_runtime *rt) {
    bool borrowed;
    ck_epoch_record_t *rec = tr__epoch_enter(rt, &borrowed);
    if (!rec)
        return false;
    ck_epoch_synchronize(rec);
    tr__epoch_leave(rt, rec, borrowed);
    return true;
}
