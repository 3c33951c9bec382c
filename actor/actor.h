/* troupe — the actor (private to actor/): its struct, the frame of a
 * callback in progress, and the pid layout.
 *
 * Every file of the actor core includes this; the other folders include
 * actor/internal.h only. The rest of the core's private interface is in
 * the header beside each file: sched.h (scheduler threads, run queues),
 * runtime.h (the runtime object), pidtab.h (the pid table and lookups),
 * send.h (pushing messages and signals), signal.h (exit signals, links,
 * monitors), reason.h, waiter.h (a blocking caller's mailbox),
 * requests.h and timer.h; actor/core.h includes them all.
 */
#ifndef TROUPE_ACTOR_ACTOR_H
#define TROUPE_ACTOR_ACTOR_H

#include <pthread.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>

#include <ck_epoch.h>

#include <troupe/actor.h>

#include "actor/internal.h"
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
    TR__F_CONT = 1u << 4,       /* x->cont holds a continuation */
    TR__F_IDLE = 1u << 5,       /* x->idle_timer is running */
    TR__F_TOP = 1u << 6,        /* spawned by a plain thread: up.seq (set before publication) */
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

/* The cold part of an actor: what an idle actor never uses, allocated on
 * first use (tr__actor_x_get) and freed with the actor. Until then reads
 * see the defaults (no links, nothing muted, no continuation, no idle
 * timer, no requests). */
typedef struct tr__actor_x {
    /* under the actor's lock */
    tr__link *links; /* links and monitors, both ways */
    uint32_t n_links, cap_links;
    /* Senders muted until this actor's backlog shrinks (sched.c,
     * tr__turn_mute), linked through their run_next; under lock, read by the
     * owner at its turns' ends (acquire, without the lock). */
    struct tr__actor *muted;
    /* owner only */
    tr__msg *deferred; /* trapped exit signals waiting for their place in the
                          mailbox (their marker), oldest first */
    /* the continuation tr_continue set (TR__SYS_CONTINUE), run before the
     * next message (TR__F_CONT says it is set); freed with the actor if it
     * never runs */
    tr__msg *cont;
    /* the pending idle timeout (tr_idle_timeout), 0 for none (TR__F_IDLE
     * says it is set), and the number its message carries (a late one is
     * dropped) */
    tr_timer idle_timer;
    uint64_t idle_seq;
    tr__reqstate *rq; /* allocated by the first tr_request */
} tr__actor_x;

/* tr__actor.lk: state under the actor's lock, one byte. Bits 0..4: the
 * services whose on_exit runs at its exit (a bit per id). */
#define TR__LK_SVC_MASK 0x1fu
#define TR__LK_EXITING 0x20u     /* exit processing has begun */
#define TR__LK_WAKE_QUEUED 0x40u /* the wake node is in the mailbox */
#define TR__LK_SHUTDOWN 0x80u    /* a runtime shutdown without a block */

/* An actor: 128 bytes, two cache lines, so that an idle actor with no
 * state is a 128-byte block plus a 16-byte pid slot. What only matters
 * while a callback runs lives in the thread's tr__frame; what an idle
 * actor does not use lives in its side block (tr__actor_x). Per message,
 * the owner works on the second line (it reads the first when its mailbox
 * runs dry, and at its turns' ends); a sender writes only the first. */
typedef struct tr__actor {
    /* 0..63, the producers' line: written by every sender (mailbox head,
     * push count) and by whoever schedules the actor (run_next); the rest
     * of it is read by senders or written only rarely (signals, under
     * `lock`). mq.limit: the mailbox bound, 0 = unbounded; read by
     * producers. */
    tr__mq_prod mq;
    bool is_waiter; /* set before the pid is published; read by anyone */
    bool receiver;  /* a waiter that takes ordinary messages (receiver.c) */
    bool is_muted;  /* atomic: muted on another actor (sched.c, tr__turn_mute) */
    uint8_t lk;     /* under lock: TR__LK_* bits */
    tr__spin lock;  /* lk, sigs, the side block's links and muted */
    /* Under lock: exit signals not looked at yet, a ring through their
     * node.next: this is the newest, its next the oldest (tr__sigs_*). */
    tr__msg *sigs;
    /* Signals need no memory to be noticed: a signal makes the actor run by
     * pushing this node (at most once: TR__LK_WAKE_QUEUED, until the owner
     * pops it): used when a signal's marker cannot be allocated, for a kill
     * that comes without a block (TR__SIG_KILLED says it all), and for a
     * runtime shutdown without one (TR__LK_SHUTDOWN). A mailbox node: on
     * the producers' line. */
    tr__mq_node wake;
    tr__actor_x *x; /* the side block, NULL until first use; set once (CAS) */
    /* The spawner: the parent's pid (TR__F_TOP clear), or for an actor a
     * plain thread spawned (TR__F_TOP) its spawn order number (shutdown
     * stops them newest first). Set before the pid is published. */
    union {
        tr_pid parent;
        uint64_t seq;
    } up;
    /* Deferred destruction (after a grace period, pidtab.c) reuses the
     * last word of this line and the first of the next: run_next is free
     * once the actor has exited (a dead actor is never scheduled, and the
     * grave list reads it before), and n_handled is read then only by
     * tr_process_info, which drops what it read once it sees the actor
     * exiting. */
    union {
        struct {
            struct tr__actor *run_next; /* run queue link */
            /* 64..: the consumer's side (the thread holding the run
             * token), and what it reads for every message. Introspection
             * (tr_process_info), stored relaxed by the owner once per turn
             * and read by any thread: messages handled, and (below) 1 +
             * the index of the scheduler thread of its last turn (0: none
             * yet). */
            uint64_t n_handled;
        };
        ck_epoch_entry_t ep;
    };
    tr__mq_cons mqc;
    uint32_t has_sig;    /* atomic, written under lock (rarely): TR__SIG_* bits */
    uint16_t flags;      /* owner thread only (relaxed stores: TR__F_*) */
    uint16_t last_sched; /* see n_handled (at most 1024 threads) */
    tr_runtime *rt;
    tr_pid pid;
    const tr_behaviour *b;
    /* the behaviour's state follows, 16-byte aligned */
} tr__actor;

_Static_assert(offsetof(tr__actor, n_handled) == 64 && offsetof(tr__actor, mqc) >= 64,
               "consumer side must not share the producers' line");
_Static_assert(offsetof(tr__actor, run_next) + sizeof(void *) <= 64,
               "producers' line holds only producer-side fields");
_Static_assert(sizeof(tr__actor) <= 128, "an idle actor fits a 128-byte block");
_Static_assert(TR__SVC_COUNT <= 5, "service marks fit tr__actor.lk");
_Static_assert(offsetof(tr__actor, ep) == offsetof(tr__actor, run_next) &&
                   sizeof(ck_epoch_entry_t) == 2 * sizeof(void *),
               "the epoch entry covers run_next and n_handled only");

/* The side block, or NULL when it is not allocated yet. Any thread. */
static inline tr__actor_x *tr__actor_x_peek(const tr__actor *a) {
    return (tr__actor_x *)tr__load_acq_ptr((void *const *)&a->x);
}

/* tr__actor_x_get: a's side block, allocated (zeroed) on first use (the
 * first of two threads to install one wins; the other's is freed); NULL
 * when out of memory. Any thread, before it takes a's lock (it may
 * allocate): callers get it first, then change its fields under the rules
 * of tr__actor_x. */
tr__actor_x *tr__actor_x_alloc(tr__actor *a); /* actor.c: the first use */
static inline tr__actor_x *tr__actor_x_get(tr__actor *a) {
    tr__actor_x *x = tr__actor_x_peek(a);
    return x ? x : tr__actor_x_alloc(a);
}

/* The signal ring (under a's lock). */
static inline void tr__sigs_push(tr__actor *a, tr__msg *sig) {
    if (a->sigs) {
        sig->node.next = a->sigs->node.next;
        a->sigs->node.next = &sig->node;
    } else {
        sig->node.next = &sig->node;
    }
    a->sigs = sig;
}
/* The oldest signal, or NULL. */
static inline tr__msg *tr__sigs_pop(tr__actor *a) {
    tr__msg *t = a->sigs;
    if (!t)
        return NULL;
    tr__msg *h = (tr__msg *)t->node.next;
    if (h == t)
        a->sigs = NULL;
    else
        t->node.next = h->node.next;
    h->node.next = NULL;
    return h;
}
/* Every signal, oldest first, as a list ended by NULL. */
static inline tr__msg *tr__sigs_take_all(tr__actor *a) {
    tr__msg *t = a->sigs;
    if (!t)
        return NULL;
    tr__msg *h = (tr__msg *)t->node.next;
    t->node.next = NULL;
    a->sigs = NULL;
    return h;
}

/* Sets or clears a flag: owner thread; a relaxed store, since
 * tr_process_info reads the flags from other threads. */
static inline void tr__flag_set(tr__actor *a, uint32_t bit, bool on) {
    tr__store_rlx_u16(&a->flags, (uint16_t)(on ? a->flags | bit : a->flags & ~bit));
}

#define TR__ACTOR_HDR ((sizeof(tr__actor) + 15) & ~(size_t)15)
static inline void *tr__actor_state(tr__actor *a) {
    return a->b && a->b->state_size ? (char *)a + TR__ACTOR_HDR : NULL;
}

/* A blocking caller's waiter (waiter.c) follows its actor header. */
static inline tr__waiter *tr__waiter_of(tr__actor *a) {
    return (tr__waiter *)((char *)a + TR__ACTOR_HDR);
}

/* The actor that spawned a (TR_PID_NONE: a plain thread did, or a is a
 * waiter). Any thread (set before the pid is published). */
static inline tr_pid tr__actor_parent(const tr__actor *a) {
    return (tr__load_rlx_u16(&a->flags) & TR__F_TOP) ? TR_PID_NONE : a->up.parent;
}

/* Spawn order of an actor a plain thread spawned (0 for the others). */
static inline uint64_t tr__actor_seq(const tr__actor *a) {
    return (tr__load_rlx_u16(&a->flags) & TR__F_TOP) ? a->up.seq : 0;
}

/* Takes the continuation tr_continue set, or NULL. Owner thread. */
static inline tr__msg *tr__cont_take(tr__actor *a) {
    if (!(a->flags & TR__F_CONT))
        return NULL;
    tr__msg *m = a->x->cont;
    a->x->cont = NULL;
    tr__flag_set(a, TR__F_CONT, false);
    return m;
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
    jmp_buf *fiber_jb; /* while a fiber's body runs: where tr_fail unwinds to */
    /* while a fiber's body runs from its turn's poke (not from a message's
     * dispatch): it may hand the thread straight to another fiber, and the
     * frame's `a` changes to that fiber (fiber.c, switch_to) */
    bool fiber_poked;
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

/* The actor running on this thread and the frame of its callback. */
extern __thread tr__actor *tr__tls_current; /* == tr__tls_frame->a, or NULL */
extern __thread tr__frame *tr__tls_frame;

/* The actor's own wake node (see tr__actor.wake), popped from its mailbox:
 * not a message. tr__wake_taken (send.h) must follow, on the consumer's
 * thread. */
static inline bool tr__is_wake(const tr__actor *a, const void *node) {
    return node == (const void *)&a->wake;
}

/* The running actor on this thread has been killed: its sends are dropped
 * (TR_EKILLED). */
static inline bool tr__self_killed_here(void) {
    tr__actor *cur = tr__tls_current;
    return cur && (tr__load_acq_u32(&cur->has_sig) & TR__SIG_KILLED);
}

/* What a blocking stop sends once its monitor is set up: an exit signal
 * (tr_exit) or, with stop set, the stop message of tr_stop_server, which the
 * actor handles in its mailbox's order by stopping with `reason` and
 * running terminate (OTP's system message behind gen_server:stop/3). */
typedef struct tr__stop_send {
    tr_reason reason;
    bool stop;
} tr__stop_send;

/* ---- actor.c ---- */
typedef struct tr__sched tr__sched;
/* tr__run: runs one turn of a (up to the runtime's batch of messages) on
 * scheduler thread s, which holds a's run token. */
void tr__run(tr__sched *s, tr__actor *a);
/* tr__turn_pass: a fiber's direct hand-off (fiber.c, switch_to): the turn
 * of f->a (frame f, on s's thread) ends, counted as one run, and `to`'s
 * begins in the same frame, as if tr__run had been called for it. */
void tr__turn_pass(tr__sched *s, tr__frame *f, tr__actor *to);
/* tr__turn_close: ends the turn of a, a fiber that parked and handed the
 * thread to another (after the switch): gives its run token back when its
 * mailbox is empty and no signal is pending, as tr__run does; otherwise it
 * goes to the back of the run queue, its turn to go on there. The holder
 * of a's token, on a scheduler thread. */
void tr__turn_close(tr__actor *a);
/* tr__actor_destroy: frees an exited actor once nobody can reach it (its
 * last reference gone, a grace period past): drains its mailbox (calls
 * that will never be handled are answered TR_EEXITED), frees its slot for
 * reuse with the next generation. Called by the pid table. */
void tr__actor_destroy(tr__actor *a);
/* tr__spawn: tr_spawn with the state size given; name (NULL: none) is
 * registered before init runs, kept by keeper (TR_PID_NONE: none; see
 * tr__service.claim); error (NULL: none) as tr_spawn_opts.error (a fiber running a
 * behaviour keeps its tr__fiber and the behaviour's state in one block). */
int tr__spawn(tr_runtime *rt, const tr_behaviour *b, size_t state_size, const void *arg,
              tr_pid link_to, bool trap, size_t max_mailbox, const char *name, tr_pid keeper,
              tr_start_error *error, tr_pid *out);

#endif