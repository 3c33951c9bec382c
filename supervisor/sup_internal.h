/* troupe — supervisor internals shared with the pool manager (private). */
#ifndef TROUPE_SUPERVISOR_SUP_INTERNAL_H
#define TROUPE_SUPERVISOR_SUP_INTERNAL_H

#include <troupe/supervisor.h>

/* The supervisor's private tags sit in its reserved range,
 * 0xFFFF0100-0xFFFF01FF, above the public TR_SUP_* requests (the table of
 * reserved tags is in troupe/actor.h, above tr_send). */

/* Private supervisor request: replace the restart intensity and period.
 * Payload: tr__sup_intensity. Reply: empty, or TR_EINVAL. The pool manager
 * uses it to keep "N restarts per worker" when it resizes. */
#define TR__SUP_SET_INTENSITY 0xFFFF01F0u

typedef struct tr__sup_intensity {
    int intensity;
    tr_duration_ms period_ms;
} tr__sup_intensity;

/* Messages a supervisor sends itself (timers and retries). */
#define TR__SUP_TAG_RETRY 0xFFFF01A1u   /* info: start children waiting for a restart */
#define TR__SUP_TAG_BACKOFF 0xFFFF01A2u /* timer: a child's restart backoff ended */
#define TR__SUP_TAG_KILL 0xFFFF01A3u    /* timer: a child's shutdown timeout expired */

/* What a supervisor started with tr__supervisor_owned_behaviour() keeps
 * alive: retain(ctx) runs at the start of its init, release(ctx) in its
 * cleanup (every exit, kill included, and a failed init). The pool uses it
 * for the block its workers' args point to. */
typedef struct tr__sup_owner {
    void (*retain)(void *ctx);
    void (*release)(void *ctx);
    void *ctx;
} tr__sup_owner;

/* The init argument of tr__supervisor_owned_behaviour(). */
typedef struct tr__sup_owned_arg {
    const tr_sup_spec *spec;
    tr__sup_owner owner;
    tr_start_error *error; /* tr_supervisor_start_ex: what init reports, or NULL */
} tr__sup_owned_arg;

/* The supervisor behaviour with an owner (above); otherwise the same as
 * tr_supervisor_behaviour(). */
const tr_behaviour *tr__supervisor_owned_behaviour(void);

/* tr__sup_stop_await: the blocking stop of tr_supervisor_stop and
 * tr_pool_stop: sends pid the exit signal shutdown and waits up to
 * timeout_ms (> 0 or TR_INFINITY) for it to exit. 0 once it has exited;
 * TR_EINVAL (rt NULL, pid none, bad timeout), TR_EDEADLK (on a scheduler
 * thread), else the errors of tr_exit and tr_await_exit (on TR_ENOMEM no
 * signal was sent). */
int tr__sup_stop_await(tr_runtime *rt, tr_pid pid, tr_duration_ms timeout_ms);

#endif
