/* troupe — the scheduler (private to actor/): one thread per CPU, each
 * with its own run queue (a ck_ring its owner pushes and pops, idle threads
 * steal from), a `next` slot, and a parking place; one injection queue for
 * other threads. sched.c has the protocol.
 *
 * tr__sched also carries the thread's context for the actors it runs: the
 * pid-slot and ref caches, the count shares and the outbox of gathered
 * sends (send.c). */
#ifndef TROUPE_ACTOR_SCHED_H
#define TROUPE_ACTOR_SCHED_H

#include <ck_ring.h>

#include "actor/actor.h"

#define TR__RING_SIZE 4096
#define TR__EXIT_KINDS 6 /* tr_exit_kind: normal .. error */
/* A turn also ends after this many sends: a flooding producer yields, so
 * its receiver gets to run (on another thread, in parallel) before the
 * backlog grows without bound. */
#define TR__TURN_SENDS 4096
/* Backpressure (as Pony's muting of senders to an overloaded actor): a
 * flooding producer's turn (TR__TURN_SENDS sends) that sent to an actor
 * with at least TR__MUTE_HIGH messages waiting ends with its actor muted,
 * off every run queue, until that receiver's backlog is below
 * TR__MUTE_LOW (or it exits). */
#define TR__MUTE_HIGH 4096
#define TR__MUTE_LOW 1024
#define TR__SLOT_BATCH 128 /* free pid slots a scheduler thread trades at once */
#define TR__REF_BLOCK 1024 /* refs a scheduler thread takes from the shared counter */
#define TR__OB_SLOTS 8     /* receivers an actor's turn gathers messages for */
#define TR__OB_CHAIN 64    /* messages gathered for one receiver before they go */

/* Messages an actor sends during its turn, per receiver, waiting to be
 * pushed as one chain (one exchange instead of one per message). */
typedef struct tr__obox {
    tr__actor *a;
    tr__mq_node *head, *tail;
    uint32_t n;
    bool ref; /* holds a slot reference on a (lookups outside borrow mode) */
} tr__obox;

/* What an idle thread saw of the work another thread holds (steal_next). */
typedef struct tr__seen {
    uint32_t runs; /* 1 + that thread's `runs` when we saw it hold work; 0 = none */
    int64_t at_ns; /* when (monotonic) */
} tr__seen;

/* A scheduler thread's context for the actors it runs (as ponyc's
 * pony_ctx_t beside its scheduler_t): the caches and counts the pid table
 * and refs draw on without sharing a cache line, and the outbox where a
 * turn gathers its sends (send.c). Owner thread only, except the outbox:
 * under ob_lock, which an idle thread may take to flush it (steal_next). */
typedef struct tr__ctx {
    uint32_t sends; /* messages this thread sent during the current turn */
    /* owner only: a fiber that handed the thread to another one (fiber.c,
     * switch_to): put back in the run queue by the fiber that runs next,
     * once the switch has saved its context, or its turn ended then */
    tr__actor *handoff;
    bool handoff_parked; /* it parked (its turn ends then), else it yielded */
    tr__actor *mute_to;  /* owner only: an overloaded receiver of this turn's sends, or NULL */
    bool mute_ref;       /* owner only: mute_to holds a reference (outside borrow mode) */
    uint64_t d_alive, d_allocated; /* this thread's share of the counts (owner writes) */
    /* Metrics (introspect.c): this thread's share, stored relaxed by the
     * owner, summed by readers; no shared cache line in the send path. */
    uint64_t d_spawns, d_restarts;
    uint64_t d_exits[TR__EXIT_KINDS]; /* by tr_exit_kind */
    uint64_t m_msgs, m_steals;        /* messages handled here; actors stolen by this thread */
    uint64_t m_parked_ns;             /* time parked (in park()), up to the last wake-up */
    uint64_t m_park_since;            /* when the current park began (monotonic ns), 0: awake */
    uint32_t n_slots;                 /* cached free actor slots (owner only) */
    uint64_t ref_next, ref_end;       /* refs this thread may hand out (tr__make_ref) */
    bool ob_on;                       /* inside an actor's turn: sends are gathered */
    uint32_t ob_held;                 /* atomic hint: ob[] holds messages during a turn */
    tr__spin ob_lock;                 /* ob_n, ob[]: the owner, or a thread that flushes them
                                         while the owner is stuck in a long turn (steal_next) */
    uint32_t ob_n;                    /* receivers in ob[] */
    tr__obox ob[TR__OB_SLOTS];
    unsigned direct_n;               /* owner only: receivers in direct[] */
    tr__actor *direct[TR__OB_SLOTS]; /* owner only: idle receivers pushed to at once this turn */
    uint32_t slots[2 * TR__SLOT_BATCH];
} tr__ctx;

struct tr__sched {
    tr_runtime *rt;
    unsigned index;
    pthread_t thread;
    ck_ring_t ring CK_CC_CACHELINE;
    ck_ring_buffer_t *ring_buf;
    tr__actor *next;     /* atomic: woken by this thread's last send; runs next here */
    uint32_t runs;       /* atomic (owner stores): turns begun here (a thief sees one that lasts) */
    uint32_t picks;      /* owner only: picks since the last fair one (next_actor) */
    uint32_t fair_ticks; /* owner only: fair picks since the last that looked at the ring */
    tr__seen *seen;      /* owner only, one per thread: when we saw it hold work (steal_next) */
    bool in_section;     /* owner only: inside an epoch section (lookups take no reference) */
    ck_epoch_record_t epoch;
    pthread_mutex_t park_mu;
    pthread_cond_t park_cv;
    bool sleeping;    /* under park_mu */
    bool woken;       /* under park_mu: a waker woke us and counted us as spinning */
    bool in_poll;     /* under park_mu: parked in the I/O poller's wait (wake it there) */
    bool on_timers;   /* under park_mu: parked with the timers' duty (timer.c: tr__timers_park) */
    bool timer_woken; /* owner only: its last park ended with timers it fired */
    uint64_t steal_seed;
    unsigned runs_since_poll;
    tr__ctx ctx; /* the context of the actors this thread runs */
};

/* The scheduler thread the calling thread is (NULL on other threads). */
extern __thread tr__sched *tr__tls_sched;

/* tr__schedule: makes a (whose mailbox just went from idle to non-empty:
 * the caller holds its run token) runnable: this thread's `next` slot on a
 * scheduler thread of a's runtime, else the injection queue; a waiter is
 * signalled instead. Any thread. */
void tr__schedule(tr__actor *a);
/* tr__schedule_yield: puts a (its batch used up) at the back of the run
 * queue. Scheduler thread. */
void tr__schedule_yield(tr__actor *a);
/* tr__sched_pick_fiber: for a fiber's direct hand-off (fiber.c): takes what
 * next_actor would run next on s from s's own queues (the `next` slot, else
 * the ring's head) when it is a fiber whose turn would only resume it (it
 * yielded, or its permit was given: fiber.h) with no signal pending, and
 * counts it as a run and a pick. Anything else stays first in line (a ring
 * head moves to the empty `next` slot) and NULL is returned; also NULL when
 * the pick is due to look at the other queues (fairness, FAIR_EVERY). The
 * caller has the actor's run token then. s's owner thread, inside a turn. */
tr__actor *tr__sched_pick_fiber(tr__sched *s);

/* tr__note_overloaded: a send of this turn found r (not the sender) with
 * at least TR__MUTE_HIGH messages waiting: the turn's end may mute the
 * sender on r (the first such receiver of the turn is kept, with a
 * reference outside borrow mode). Owner thread of s, inside a turn. */
void tr__note_overloaded(tr__sched *s, tr__actor *r);

/* tr__turn_mute: at the end of a's turn on s: when the turn flooded
 * (flood: it ended after TR__TURN_SENDS sends) and sent to an overloaded
 * receiver r, mutes a on r:
 * off every run queue, holding its run token, until r's backlog is below
 * TR__MUTE_LOW or r exits (true: the caller must not schedule a). Not
 * when a is overloaded itself, r is exiting or muted itself (no cycles),
 * or r's backlog is low by now (false). Drops the turn's hold on r in
 * every case. */
bool tr__turn_mute(tr__sched *s, tr__actor *a, bool flood);

/* tr__unmute: hands every sender muted on r to the run queues. The owner
 * of r during its turn, or any thread holding a reference to r. */
void tr__unmute(tr__actor *r);
/* tr__wake_one: wakes a parked scheduler thread if none is spinning. */
void tr__wake_one(tr_runtime *rt);
/* tr__wake_watcher: makes sure one parked thread watches held work (a
 * turn's outbox or `next` actor: steal_next). */
void tr__wake_watcher(tr_runtime *rt);

/* tr__io_take: takes the right to wait in or look at rt's I/O poller
 * (false: a descriptor was never registered, or another thread has it).
 * tr__io_look: with it taken: takes the events that are ready without
 * waiting, gives the right back, and handles them on this thread; returns
 * how many. Any thread (the timer thread looks while no scheduler thread
 * waits). */
bool tr__io_take(tr_runtime *rt);
int tr__io_look(tr_runtime *rt);
/* tr__wake_idle: wakes a scheduler thread parked on its condition
 * variable, when none waits in the I/O poller (it parks again there).
 * The timer thread, while sockets exist. */
void tr__wake_idle(tr_runtime *rt);

/* tr__sched_nudge: makes s's current park wait return (s parks again if
 * nobody woke it: it looks at the earliest timer again). Any thread, not
 * holding a timers' lock. */
void tr__sched_nudge(tr__sched *s);

/* tr__wake_all: wakes every parked scheduler thread (stop). */
void tr__wake_all(tr_runtime *rt);
/* tr__sched_main: a scheduler thread's body (arg: its tr__sched). */
void *tr__sched_main(void *arg);

#endif