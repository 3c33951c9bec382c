/* troupe — fibers (private to actor/): fiber.c.
 *
 * A fiber is an actor whose behaviour is tr__fiber_behaviour: its state is
 * a tr__fiber (a coroutine with its own stack, a parker, the fiber's own
 * queue of received messages). Every message the core dispatches to it
 * (calls, casts, plain messages, trapped EXITs, DOWNs, replies) is taken
 * from the mailbox into that queue, and the coroutine is resumed when what
 * it waits for may have come: a message (receive), its timeout, its permit
 * (a parker: channels, the blocking pool), or its turn after tr_yield. The
 * body runs inside the turn's frame, so it sends, links and replies as a
 * callback does; blocking yields the coroutine back to the turn, which
 * then ends as a callback's would. Signals act on a fiber as on an actor:
 * a kill or an untrapped exit ends it while its coroutine is suspended;
 * its cleanup cancels what it waited on and frees its stack.
 */
#ifndef TROUPE_ACTOR_FIBER_H
#define TROUPE_ACTOR_FIBER_H

#include <troupe/fiber.h>

#include "actor/actor.h"
#include "base/coro.h"
#include "base/park.h"

/* What a suspended fiber waits for. */
enum {
    TR__FW_RUN = 0, /* running (or finished) */
    TR__FW_START,   /* not started: its first poke starts it */
    TR__FW_MSG,     /* a message (receive, call) or its timeout */
    TR__FW_TIMER,   /* its timeout only (sleep) */
    TR__FW_PARK,    /* its permit (a parker) or its timeout */
    TR__FW_YIELD,   /* its next poke (tr_yield) */
};

typedef struct tr__fiber {
    tr__coro coro;
    tr__parker parker;
    tr__actor *self;
    tr_fiber_fn fn;
    void *arg;
    tr__msg *in_head, *in_tail; /* messages taken from the mailbox, oldest first */
    uint32_t wait;              /* TR__FW_* */
    bool finished;              /* the body returned or unwound */
    bool timed_out;             /* the pending timeout fired */
    uint64_t timer_ref;         /* the pending timeout's ref (0: none) */
    tr_timer timer;
    /* The call the body waits for (tr_call from a fiber): its request id,
     * and its outcome when the runtime answered without a message block
     * (the server exited: TR_EEXITED and the reason's text). */
    uint64_t call_ref;
    tr__msg *call_reply;
    int call_status;
    bool call_done;
    char call_text[96];
    tr_reason reason;           /* the exit reason once finished */
    void (*on_exit)(void *arg); /* tr__fiber_on_exit: run at its exit, stack still there */
    void *on_exit_arg;
    bool reason_set; /* the body set reason itself (a behaviour's loop) */
    /* A behaviour run on the fiber (tr_spawn_opts.on_fiber): its callbacks
     * are called from the fiber's loop, with its state after this struct. */
    const tr_behaviour *b;
    void *bstate;
    tr_msg *bmsg;     /* the message its callback handles now */
    bool bstop;       /* tr_stop in a callback: stop after it returns */
    bool bterminated; /* its terminate ran (or must not) */
    tr_reason bstop_reason;
    jmp_buf jb;     /* tr_fail / tr_stop in the body unwind to the trampoline */
    char label[48]; /* "<pid>" for the stack-overflow report */
} tr__fiber;

extern const tr_behaviour tr__fiber_behaviour;

static inline bool tr__is_fiber(const tr__actor *a) {
    return a->b == &tr__fiber_behaviour;
}

/* tr__fiber_poke: a's wake node came up in its turn (tr__run, frame f):
 * resumes the fiber when it waits for its permit (given) or its turn
 * (yield, start). True when the fiber has finished: f->stop_pending and
 * f->stop_reason say how it ends. */
bool tr__fiber_poke(tr__frame *f, tr__actor *a);

/* tr__fiber_unwind: tr_fail / tr_stop inside a fiber's body (frame f):
 * ends the body with reason, unwinding its stack to the trampoline. */
_Noreturn void tr__fiber_unwind(tr__frame *f, tr_reason reason);

/* tr__fiber_yielded: a's body called tr_yield: its turn ends (back of the
 * run queue) and its next turn resumes it first. */
static inline bool tr__fiber_yielded(const tr__actor *a) {
    return tr__is_fiber(a) &&
           ((const tr__fiber *)((const char *)a + TR__ACTOR_HDR))->wait == TR__FW_YIELD;
}

/* tr__fiber_woken: a's body is parked and its permit has been given: its
 * turn resumes it without a message (a waker that found the actor idle
 * took its run token instead of pushing its wake node: fiber.c). */
static inline bool tr__fiber_woken(const tr__actor *a) {
    const tr__fiber *f = (const tr__fiber *)((const char *)a + TR__ACTOR_HDR);
    return f->wait == TR__FW_PARK && tr__load_acq_u32(&f->parker.permit);
}

/* The behaviour a fiber runs (tr_spawn_opts.on_fiber) and its state; for
 * a plain fiber, the fiber behaviour and its tr__fiber (as for actors). */
static inline const tr__fiber *tr__fiber_of_c(const tr__actor *a) {
    return (const tr__fiber *)((const char *)a + TR__ACTOR_HDR);
}
static inline void *tr__fiber_bstate(const tr__actor *a) {
    const tr__fiber *fib = tr__fiber_of_c(a);
    return fib->b ? fib->bstate : (void *)fib;
}
static inline const tr_behaviour *tr__fiber_bbehaviour(const tr__actor *a) {
    const tr__fiber *fib = tr__fiber_of_c(a);
    return fib->b ? fib->b : a->b;
}

/* tr_stop inside a fiber (frame f): a plain fiber's body ends at once
 * (does not return); a behaviour's callback returns and its loop stops. */
int tr__fiber_stop(tr__frame *f, tr_reason reason);

/* tr_spawn with opts->on_fiber: b's callbacks run on a fiber. */
int tr__fiber_spawn_behaviour(tr_runtime *rt, const tr_behaviour *b, const void *arg,
                              const tr_spawn_opts *opts, tr_pid keeper, tr_pid *out);

/* tr__fiber_here: the fiber whose body runs on this thread, or NULL. */
tr__actor *tr__fiber_here(void);

/* tr_call and tr_await_exit from a fiber's body: the fiber parks. */
int tr__fiber_call(tr__actor *a, tr_pid to, uint32_t tag, const void *req, size_t size,
                   tr_buf *reply, tr_duration_ms timeout_ms);
int tr__fiber_await_exit(tr__actor *a, tr_pid pid, tr_duration_ms timeout_ms, tr_reason *reason,
                         const tr__stop_send *send);

#endif
