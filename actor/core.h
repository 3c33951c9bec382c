/* troupe — actor core internals (private). */
#ifndef TROUPE_ACTOR_CORE_H
#define TROUPE_ACTOR_CORE_H

#include <pthread.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>

#include <ck_epoch.h>
#include <ck_ring.h>

#include <troupe/actor.h>

#include "actor/runtime_api.h"
#include "base/atomic.h"
#include "base/clock.h"
#include "base/fifo.h"
#include "base/spin.h"
#include "mailbox/mailbox.h"
#include "mailbox/msg.h"

/* actor flags (owner-written unless noted) */
enum {
    TR__F_TRAP_EXIT = 1u << 1,  /* process_flag(trap_exit, true) */
    TR__F_TERMINATED = 1u << 3, /* terminate has run */
};

/* tr__actor.has_sig: one word, so that the actor stays small. */
#define TR__SIG_PENDING 1u  /* the signal list holds signals not looked at yet */
#define TR__SIG_KILLED 2u   /* a kill took effect: the owner's later sends are dropped */
#define TR__SIG_SEQ_SHIFT 2 /* above: the number of the last signal queued (wraps) */

/* An entry of an actor's link/monitor list. */
enum { TR__L_LINK = 1, TR__L_MONITORED_BY, TR__L_MONITORING };
typedef struct tr__link {
    uint32_t kind;
    tr_pid pid;
    uint64_t ref;
    /* LINK and MONITORED_BY: the EXIT signal or DOWN message this entry
     * sends when its owner exits, allocated with the entry, so that an exit
     * under memory pressure loses none (NULL for MONITORING). */
    tr__msg *pre;
} tr__link;

/* A pending tr_request of the owner. */
/* A pending tr_request (requests.c): a hash-table slot, ref 0 = empty. */
typedef struct tr__req {
    uint64_t ref;
    tr_timer timer; /* the timeout, 0 for none */
    tr_pid server;
} tr__req;

/* A monitor on a server shared by the requests pending to it. */
typedef struct tr__srvmon {
    tr_pid server;
    uint64_t mref;
    uint32_t count;
} tr__srvmon;

typedef struct tr__waiter tr__waiter;

/* The requests state of an actor that made tr_requests (requests.c). */
typedef struct tr__reqstate {
    tr__req *reqs; /* hash table, cap_reqs a power of two */
    uint32_t n_reqs, cap_reqs;
    tr__srvmon *srv;
    uint32_t n_srv, cap_srv;
} tr__reqstate;

/* An actor. Kept small (an idle actor is this plus its state plus a
 * 16-byte slot): what only matters while a callback runs lives in the
 * thread's tr__frame instead. */
typedef struct tr__actor {
    /* 0..63, the producers' line: written by every sender (mailbox head,
     * push count); the rest of it is read by senders or written only
     * rarely (signals and links, under `lock`). */
    tr__mq_prod mq;
    uint32_t max_mailbox; /* 0 = unbounded; read by producers */
    bool is_waiter;       /* set before the pid is published; read by anyone */
    bool exiting;         /* under lock: exit processing has begun */
    bool has_names;       /* under lock: registered under at least one name */
    tr__spin lock;        /* links, signals, exiting, has_names */
    tr__msg *sig_head, *sig_tail;
    tr__link *links;
    uint32_t n_links, cap_links;
    /* 64..: the consumer's side (the thread holding the run token), and
     * what it reads for every message */
    tr__mq_cons mqc;
    uint32_t has_sig; /* atomic, written under lock (rarely): TR__SIG_* bits */
    uint32_t flags;   /* owner thread only */
    tr_runtime *rt;
    tr_pid pid;
    const tr_behaviour *b;
    struct tr__actor *run_next; /* injection queue link */
    uint64_t seq;               /* spawn order */
    tr_pid parent;              /* the actor that spawned it (NONE: a plain thread) */
    union {
        tr__reqstate *rq;   /* actors: allocated by the first tr_request */
        tr__waiter *waiter; /* waiters */
    } u;
    ck_epoch_entry_t ep; /* deferred destruction (after a grace period) */
    tr__msg *deferred;   /* owner only: trapped exit signals waiting for their place in the
                            mailbox (their marker), oldest first (rarely used: last) */
    /* Signals need no memory to be noticed: a signal makes the actor run by
     * pushing this node (at most once: wake_queued, under lock, until the
     * owner pops it): used when a signal's marker cannot be allocated, for
     * a kill that comes without a block (TR__SIG_KILLED says it all), and for
     * a runtime shutdown without one (shutdown_pending, under lock). */
    tr__mq_node wake;
    bool wake_queued;
    bool shutdown_pending;
    /* the behaviour's state follows, 16-byte aligned */
} tr__actor;

_Static_assert(offsetof(tr__actor, mqc) >= 64, "consumer side must not share the producers' line");
_Static_assert(offsetof(tr__actor, n_links) + sizeof(uint32_t) * 2 <= 64,
               "producers' line holds only producer-side fields");

_Static_assert(offsetof(tr__actor, mqc) >= 64, "consumer side must not share the producers' line");

#define TR__ACTOR_HDR ((sizeof(tr__actor) + 15) & ~(size_t)15)
static inline void *tr__actor_state(tr__actor *a) {
    return a->b && a->b->state_size ? (char *)a + TR__ACTOR_HDR : NULL;
}

/* What a thread knows about the callback it is running: one frame per
 * callback in progress (init may nest inside another actor's callback). */
typedef struct tr__frame {
    struct tr__frame *prev;
    tr__actor *a;
    jmp_buf jb; /* tr_fail unwinds to here */
    tr__msg *cur_msg;
    bool msg_taken; /* cur_msg was forwarded: not freed after the callback */
    uint64_t cur_call_ref;
    bool cur_call_replied;
    bool stop_pending;
    tr_reason stop_reason;
} tr__frame;

/* Pid layout (include/troupe/actor.h): slot index in bits 0..30, the
 * slot's generation in bits 31..55, the runtime's id in bits 56..63. The
 * index covers the actors' region (1..2^30) and the waiters' after it; index
 * 0 is never used, so the id 0 (TR_PID_NONE) never names anything. */
#define TR__PID_INDEX_BITS 31
#define TR__PID_GEN_BITS 25
#define TR__PID_RT_SHIFT (TR__PID_INDEX_BITS + TR__PID_GEN_BITS)
#define TR__PID_GEN_MASK ((1u << TR__PID_GEN_BITS) - 1)
#define TR__RT_IDS 256 /* runtimes alive at once in one process */

static inline uint32_t tr__pid_index(tr_pid p) {
    return (uint32_t)(p.id & ((1u << TR__PID_INDEX_BITS) - 1));
}
static inline uint32_t tr__pid_gen(tr_pid p) {
    return (uint32_t)(p.id >> TR__PID_INDEX_BITS) & TR__PID_GEN_MASK;
}
static inline uint32_t tr__pid_rt(tr_pid p) {
    return (uint32_t)(p.id >> TR__PID_RT_SHIFT);
}
static inline tr_pid tr__pid_make(uint32_t rt_id, uint32_t gen, uint32_t idx) {
    tr_pid p = {((uint64_t)rt_id << TR__PID_RT_SHIFT) | ((uint64_t)gen << TR__PID_INDEX_BITS) |
                idx};
    return p;
}

/* Actor table slot. w = generation (high 32) | ALIVE (bit 31) | refs (low 31). */
#define TR__SLOT_ALIVE ((uint64_t)1 << 31)
#define TR__SLOT_REFS ((uint64_t)0x7fffffff)
typedef struct tr__slot {
    uint64_t w;
    tr__actor *actor;
} tr__slot;

#define TR__SEG_BITS 16
#define TR__SEG_SIZE (1u << TR__SEG_BITS)

#define TR__RING_SIZE 4096
/* A turn also ends after this many sends: a flooding producer yields, so
 * its receiver gets to run (on another thread, in parallel) before the
 * backlog grows without bound. */
#define TR__TURN_SENDS 4096
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

typedef struct tr__sched {
    tr_runtime *rt;
    unsigned index;
    pthread_t thread;
    ck_ring_t ring CK_CC_CACHELINE;
    ck_ring_buffer_t *ring_buf;
    tr__actor *next; /* atomic: woken by this thread's last send; runs next here */
    uint32_t runs;   /* atomic (owner stores): turns begun here (a thief sees one that lasts) */
    tr__seen *seen;  /* owner only, one per thread: when we saw it hold work (steal_next) */
    bool in_section; /* owner only: inside an epoch section (lookups take no reference) */
    ck_epoch_record_t epoch;
    pthread_mutex_t park_mu;
    pthread_cond_t park_cv;
    bool sleeping; /* under park_mu */
    bool woken;    /* under park_mu: a waker woke us and counted us as spinning */
    uint64_t steal_seed;
    unsigned runs_since_poll;
    uint32_t sends;                /* messages this thread sent during the current turn */
    uint64_t d_alive, d_allocated; /* this thread's share of the counts (owner writes) */
    uint32_t n_slots;              /* cached free actor slots (owner only) */
    uint64_t ref_next, ref_end;    /* refs this thread may hand out (tr__make_ref) */
    bool ob_on;                    /* inside an actor's turn: sends are gathered */
    uint32_t ob_held;              /* atomic hint: ob[] holds messages during a turn */
    tr__spin ob_lock;              /* ob_n, ob[]: the owner, or a thread that flushes them
                                      while the owner is stuck in a long turn (steal_next) */
    unsigned ob_n;                 /* receivers in ob[] */
    tr__obox ob[TR__OB_SLOTS];
    unsigned direct_n;               /* owner only: receivers in direct[] */
    tr__actor *direct[TR__OB_SLOTS]; /* owner only: idle receivers pushed to at once this turn */
    uint32_t slots[2 * TR__SLOT_BATCH];
} tr__sched;

typedef struct tr__slotpool {
    uint32_t *free;
    uint32_t n_free, cap_free;
    uint32_t high, end; /* next never-used index; one past the region */
} tr__slotpool;

typedef struct tr__timers tr__timers;
typedef struct tr__registry tr__registry;

struct tr_runtime {
    uint32_t id; /* this runtime's id in its pids (bits 56..63): unique among live runtimes */
    unsigned n_sched;
    unsigned batch;
    uint32_t max_actors;
    tr__sched *scheds;
    tr__mcache *mcaches; /* one message block cache per scheduler thread */
    /* actor table */
    tr__slot **segs; /* n_segs pointers, allocated lazily */
    uint32_t n_segs;
    pthread_mutex_t table_mu;
    /* Actors take slots 1..max_actors, blocking callers' waiters the 65536
     * after them: each region has its own free list and high-water mark,
     * so the actor limit needs no counter. */
    tr__slotpool actor_slots, waiter_slots;
    /* Counts kept per scheduler thread (tr__sched.d_*) plus these for other
     * threads; tr__count_* sum them. */
    uint64_t n_alive;     /* atomic: live actors (not waiters) */
    uint64_t n_allocated; /* atomic: actor structs not yet destroyed (waiters too) */
    uint64_t seq;         /* atomic: spawn order */
    uint64_t ref_counter; /* atomic */
    uint64_t rand_state;  /* atomic */
    /* injection queue */
    pthread_mutex_t inj_mu;
    TR__FIFO(tr__actor) inj;
    /* Actors whose last reference a plain thread dropped: destroyed by a
     * scheduler thread (or the stopping thread) after a grace period. */
    pthread_mutex_t grave_mu;
    tr__actor *grave;
    uint32_t n_grave;    /* atomic hint */
    uint32_t inj_len;    /* atomic hint */
    uint32_t n_sleeping; /* atomic */
    uint32_t n_spinning; /* atomic: idle schedulers looking for work, not parked */
    uint32_t n_watching; /* atomic: the parked scheduler that looks again every WATCH_NS (0/1) */
    uint32_t quit;       /* atomic: schedulers exit */
    uint32_t stopping;   /* atomic: tr_runtime_stop begun */
    uint32_t stopped;    /* atomic: tr_runtime_stop done */
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    ck_epoch_t epoch;
    tr__timers *timers;
    tr__registry *registry;
#ifdef TR_FAULT_INJECTION
    tr__fault fault; /* allocation-failure injection (test builds; actor/fault.h) */
#endif
};

/* ---- scheduler thread context ---- */
extern __thread tr__sched *tr__tls_sched;
extern __thread tr__actor *tr__tls_current; /* == tr__tls_frame->a, or NULL */
extern __thread tr__frame *tr__tls_frame;

/* The calling thread's message block cache, if it is a scheduler thread of
 * rt (messages for another runtime's actors come from jemalloc). */
static inline tr__mcache *tr__mc_here(const tr_runtime *rt) {
    tr__mcache *c = tr__tls_mcache;
    return c && c->base == rt->mcaches ? c : NULL;
}

/* The actor's own wake node (see tr__actor.wake), popped from its mailbox:
 * not a message. tr__wake_taken must follow, on the consumer's thread. */
static inline bool tr__is_wake(const tr__actor *a, const void *node) {
    return node == (const void *)&a->wake;
}
void tr__wake_taken(tr__actor *a);

/* True when pid can name a process of rt: rt's id, and a slot of the
 * actors' region (not a blocking caller's waiter: that pid is a reply-only
 * address). Says nothing about whether the process is alive. */
static inline bool tr__pid_is_proc(const tr_runtime *rt, tr_pid p) {
    /* Actors take slots 1..max_actors (index 0 wraps to UINT32_MAX here).
     * Reads only the runtime's first cache line, which never changes after
     * start (actor_slots is written by every slot refill). */
    return tr__pid_rt(p) == rt->id && tr__pid_index(p) - 1u < rt->max_actors;
}

/* ---- table (actor.c) ---- */
tr__actor *tr__acquire(tr_runtime *rt, tr_pid pid);     /* ref; NULL if dead or not a process */
tr__actor *tr__acquire_any(tr_runtime *rt, tr_pid pid); /* as tr__acquire, waiters too */
void tr__release(tr__actor *a);
int tr__deliver(tr_runtime *rt, tr_pid to, tr__msg *m); /* frees m on error */
int tr__push(tr__actor *a, tr__msg *m);                 /* frees m on error (EFULL) */
void tr__ob_flush(tr__sched *sc);                       /* pushes the messages gathered this turn */
void tr__push_signal(tr__actor *a, tr__msg *sig);
/* The running actor on this thread has been killed: its sends are dropped
 * (TR_EKILLED). */
static inline bool tr__self_killed_here(void) {
    tr__actor *cur = tr__tls_current;
    return cur && (tr__load_acq_u32(&cur->has_sig) & TR__SIG_KILLED);
}
void tr__schedule(tr__actor *a);
void tr__wake_one(tr_runtime *rt);     /* wake a parked scheduler thread if none spins */
void tr__wake_watcher(tr_runtime *rt); /* one must look at held work (steal_next) */
void tr__schedule_yield(tr__actor *a); /* back of the run queue (batch used up) */
void tr__run(tr__sched *s, tr__actor *a);
void tr__send_exit_signal(tr_runtime *rt, tr_pid to, tr_pid from, tr_reason r, bool via_link);
void tr__shutdown_all(tr_runtime *rt);

/* ---- pending requests (requests.c), owner thread ---- */
int tr__req_begin(tr__actor *a, uint64_t ref, tr_pid server);
void tr__req_set_timer(tr__actor *a, uint64_t ref, tr_timer timer);
bool tr__req_take(tr__actor *a, uint64_t ref, bool timer_fired);
bool tr__req_server_down(tr__actor *a, uint64_t mref, tr_pid *server);
bool tr__req_next_for_server(tr__actor *a, tr_pid server, uint64_t *ref);
void tr__reqs_fini(tr__actor *a);

/* ---- monitors (actor.c) ---- */
int tr__monitor(tr__actor *w, tr_pid target, uint64_t *ref_out);
int tr__demonitor(tr__actor *w, uint64_t ref);

/* ---- waiters (call.c) ---- */
void tr__waiter_signal(tr__actor *a);

/* ---- timers (timer.c) ---- */
int tr__timers_start(tr_runtime *rt);
void tr__timers_stop(tr_runtime *rt);
int tr__timer_start(tr_runtime *rt, tr_pid to, tr_duration_ms delay, tr_duration_ms period,
                    uint32_t kind, uint8_t sys, uint32_t tag, uint64_t ref, const void *data,
                    size_t size, tr_timer *out);

/* ---- registry (registry/registry.c) ---- */
int tr__registry_init(tr_runtime *rt);
void tr__registry_fini(tr_runtime *rt);
void tr__registry_remove_pid(tr_runtime *rt, tr_pid pid);

/* ---- epoch records for threads outside the scheduler ---- */
ck_epoch_record_t *tr__epoch_enter(tr_runtime *rt, bool *borrowed);
void tr__epoch_leave(tr_runtime *rt, ck_epoch_record_t *rec, bool borrowed);

/* ---- deferred destruction (actor.c) ---- */
void tr__grave_to_epoch(tr__sched *s);      /* scheduler thread: hand the graveyard to its record */
void tr__grave_drain_sync(tr_runtime *rt);  /* plain thread: wait a grace period, destroy */
void tr__grave_drain_final(tr_runtime *rt); /* no scheduler threads left: destroy */

/* ---- counts (actor.c) ---- */
uint64_t tr__count_alive(const tr_runtime *rt);
uint64_t tr__count_allocated(const tr_runtime *rt);

#endif
