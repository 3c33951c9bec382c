/* troupe — sending (private to actor/): send.c. */
#ifndef TROUPE_ACTOR_SEND_H
#define TROUPE_ACTOR_SEND_H

#include "actor/pidtab.h"

/* ob_n is written under ob_lock (atomically: the owner reads it without the
 * lock to skip the lock when the outbox is empty; only the owner makes it
 * grow). Release/acquire: an owner that sees an idle thread's flush (0)
 * sends after the flushed chains were pushed. */
static inline unsigned tr__ob_count(tr__sched *sc) {
    return tr__load_acq_u32(&sc->ctx.ob_n);
}
static inline void tr__ob_set_count(tr__sched *sc, unsigned n) {
    tr__store_rel_u32(&sc->ctx.ob_n, n);
    if (n == 0)
        tr__store_rlx_u32(&sc->ctx.ob_held, 0);
}

/* tr__push: puts m in a's mailbox (or this turn's outbox for a) and makes a
 * runnable if it was idle. TR_EFULL (a's bounded mailbox is full; m is
 * freed, an owned payload stays the sender's). */
int tr__push(tr__actor *a, tr__msg *m);
/* tr__deliver: looks up `to` and pushes m; waiters take replies and DOWN
 * messages only. Frees m on error: TR_ENOPROC, TR_ECLOSED (the runtime has
 * stopped), TR_EFULL. */
int tr__deliver(tr_runtime *rt, tr_pid to, tr__msg *m);
/* tr__ob_flush: pushes every chain of sc's outbox. Under sc->ctx.ob_lock. */
void tr__ob_flush(tr__sched *sc);
/* tr__push_signal: queues signal sig for a (its signal list) and a marker
 * behind what this turn sent a. */
void tr__push_signal(tr__actor *a, tr__msg *sig);
/* tr__wake_reserved: makes a run with its own wake node (no allocation). */
void tr__wake_reserved(tr__actor *a);
/* tr__wake_taken: the owner popped a's wake node: a later signal pushes it
 * again. */
void tr__wake_taken(tr__actor *a);
/* tr__bounce_call: m, a call that will never be handled by server, is
 * answered TR_EEXITED with the text why (nothing for other messages, or a
 * forwarded call: its forwarder answers for it). */
void tr__bounce_call(tr_runtime *rt, tr__msg *m, tr_pid server, const char *why);
/* tr__note_reply: the running callback replied to the call `from`. */
void tr__note_reply(tr_runtime *rt, tr_from from);

/* tr__stop_send_to: sends it to pid from sender (TR_PID_NONE: a plain
 * thread). Errors: as tr_exit / tr__deliver. */
int tr__stop_send_to(tr_runtime *rt, tr_pid pid, const tr__stop_send *s, tr_pid sender);

#endif
