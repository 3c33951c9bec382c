/* troupe — waiters (private to actor/): waiter.c. */
#ifndef TROUPE_ACTOR_WAITER_H
#define TROUPE_ACTOR_WAITER_H

#include "actor/runtime.h"

typedef struct tr__waiter tr__waiter;

/* tr__waiter_open: a new waiter with a pid (its wait state in the same
 * allocation); NULL with *err TR_ENOMEM or TR_EFULL (65,536 waiters). The
 * calling thread owns it until tr__waiter_close. */
tr__actor *tr__waiter_open(tr_runtime *rt, int *err);
/* tr__waiter_close: retires the waiter's pid; freed with its last
 * reference. */
void tr__waiter_close(tr__actor *a);
/* tr__waiter_get: an idle waiter from rt's pool, else a new one (as
 * tr__waiter_open). For blocking calls: the caller drops every monitor it
 * set before tr__waiter_put gives it back (closed instead when the pool is
 * full or the runtime stops). Not for receivers (their pids are targets). */
tr__actor *tr__waiter_get(tr_runtime *rt, int *err);
void tr__waiter_put(tr__actor *a);
/* tr__waiter_pool_close: closes the pooled waiters; later puts close
 * theirs (tr_runtime_stop, before it waits for every actor to go). */
void tr__waiter_pool_close(tr_runtime *rt);
/* Its mailbox, for its owner: pop, mark empty (false: a push is half-done
 * or landed: look again), and take the runtime's shutdown signal. */
tr__msg *tr__waiter_pop(tr__actor *a);
bool tr__waiter_markempty(tr__actor *a);
bool tr__waiter_take_shutdown(tr__actor *a);
/* tr__waiter_wait: the next message; NULL on timeout (deadline from
 * tr__deadline_ms; TR__NEVER: none) or when the runtime shuts down
 * (*closed set). */
tr__msg *tr__waiter_wait(tr__actor *a, int64_t deadline, bool *closed);
/* tr__waiter_signal: a push made the waiter's mailbox non-empty (its
 * tr__schedule). Any thread. */
void tr__waiter_signal(tr__actor *a);
/* tr__waiter_idle_wait: after tr__waiter_wait returned NULL on a timeout
 * its mailbox is marked empty (the token given back): waits until a push
 * signals it (true: tr__waiter_wait then takes what came) or the deadline
 * passes (false). For a waiter used again after a timeout (a receiver). */
bool tr__waiter_idle_wait(tr__actor *a, int64_t deadline);
void tr__waiter_init(tr__waiter *p);
void tr__waiter_fini(tr__waiter *p);

#endif
