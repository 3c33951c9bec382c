/* troupe — the logger (private to actor/; the folders above reach it
 * through actor/internal.h): a bounded queue of events, drained by the
 * runtime's logger thread, which calls the handler (OTP's logger, with
 * its handler process off the emitting processes' path). */
#ifndef TROUPE_ACTOR_LOG_H
#define TROUPE_ACTOR_LOG_H

#include <pthread.h>
#include <stdbool.h>

#include <troupe/log.h>

typedef struct tr__logger {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool started;
    bool quit; /* under mu: drain what is queued, then exit */
    tr_log_fn fn;
    void *user;
    int level;       /* the least level queued (set at start, read-only afterwards) */
    tr_log_event *q; /* under mu: a ring of cap events */
    uint32_t cap, head, len;
    uint64_t dropped; /* under mu: events refused since the last report */
} tr__logger;

/* tr__log_start: the logger of rt, from opts (fn NULL = the default
 * handler): allocates the queue and starts the thread. TR_EINVAL (queue
 * bound too large), TR_ENOMEM. */
int tr__log_start(tr_runtime *rt, const tr_runtime_opts *opts);
/* tr__log_stop: the thread delivers everything queued (and the drop count)
 * and exits; joined. Idempotent. Plain thread, after the schedulers. */
void tr__log_stop(tr_runtime *rt);
/* tr__log_fini: frees the queue (after tr__log_stop, or a failed start). */
void tr__log_fini(tr_runtime *rt);

/* The crash report and init-failure report of actor.c; a's names are
 * still registered (the exit has not begun). */
typedef struct tr__actor tr__actor;
void tr__log_crash(tr__actor *a, const tr_reason *why, const tr_msg *msg);
void tr__log_init_failed(tr__actor *a, const tr_reason *why);
void tr__log_unexpected(tr__actor *a, const tr_msg *msg);

#endif
