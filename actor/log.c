/* troupe — the logger: crash, init and supervisor reports queued to the
 * runtime's logger thread, which formats them and calls the handler (OTP's
 * logger and SASL reports; the handler runs off the emitting threads, as
 * OTP's handlers run in their own process).
 *
 * The queue is a bounded ring under one mutex: an emitter copies its event
 * in (a few hundred bytes) and signals; it never waits for the handler. A
 * full queue counts the event; the thread reports the count in an event of
 * its own (TR_LOG_DROPPED) once it has room to, so nothing is lost
 * silently.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <troupe/introspect.h>

#include "actor/core.h"
#include "actor/log.h"

#define LOG_QUEUE_DEFAULT 1024u
#define LOG_QUEUE_MAX (1u << 20)

static int64_t tr__now_realtime_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *tr_log_level_name(int level) {
    switch (level) {
    case TR_LOG_DEBUG:
        return "debug";
    case TR_LOG_INFO:
        return "info";
    case TR_LOG_NOTICE:
        return "notice";
    case TR_LOG_WARNING:
        return "warning";
    case TR_LOG_ERROR:
        return "error";
    default:
        return "?";
    }
}

const char *tr_log_kind_name(int kind) {
    switch (kind) {
    case TR_LOG_CRASH:
        return "crash";
    case TR_LOG_INIT_FAILED:
        return "init_failed";
    case TR_LOG_CHILD_STARTED:
        return "child_started";
    case TR_LOG_CHILD_RESTARTED:
        return "child_restarted";
    case TR_LOG_CHILD_TERMINATED:
        return "child_terminated";
    case TR_LOG_CHILD_START_FAILED:
        return "child_start_failed";
    case TR_LOG_RESTART_DELAYED:
        return "restart_delayed";
    case TR_LOG_SUP_GAVE_UP:
        return "supervisor_gave_up";
    case TR_LOG_UNEXPECTED_MSG:
        return "unexpected_message";
    case TR_LOG_DROPPED:
        return "dropped";
    default:
        return "?";
    }
}

static const char *msg_kind_name(int kind) {
    static const char *const names[] = {"info", "cast", "call", "reply", "exit", "down", "timer"};
    return kind >= 0 && kind < (int)(sizeof names / sizeof names[0]) ? names[kind] : "?";
}

void tr_log_default_handler(const tr_log_event *ev, void *user) {
    (void)user;
    if (!ev)
        return;
    char buf[sizeof ev->line + 1];
    size_t n = strnlen(ev->line, sizeof ev->line);
    memcpy(buf, ev->line, n);
    buf[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, n); /* one write: lines do not interleave */
    (void)w;
}

/* ------------------------------------------------------------------------ */
/* formatting                                                                */
/* ------------------------------------------------------------------------ */

/* Appends to line at *off (truncating at the end). */
__attribute__((format(printf, 3, 4))) static void put(char *line, size_t *off, const char *fmt,
                                                      ...) {
    size_t cap = sizeof(((tr_log_event *)0)->line);
    if (*off >= cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + *off, cap - *off, fmt, ap);
    va_end(ap);
    if (n > 0)
        *off = *off + (size_t)n < cap - 1 ? *off + (size_t)n : cap - 1;
}

static void put_pid(char *line, size_t *off, const char *key, tr_pid p) {
    char b[40];
    put(line, off, " %s=%s", key, tr_pid_format(p, b, sizeof b));
}

static void put_reason(char *line, size_t *off, const tr_reason *r) {
    char b[96];
    put(line, off, " reason=\"%s\"", tr_reason_format(r, b, sizeof b));
}

/* The line of the default handler:
 *   2026-12-07T15:40:01.123456Z error crash pid=<1.12.1> ... */
static void format_line(tr_log_event *ev) {
    char *l = ev->line;
    size_t off = 0;
    time_t sec = (time_t)(ev->time_us / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    put(l, &off, "%s.%06dZ troupe %s %s", ts, (int)(ev->time_us % 1000000),
        tr_log_level_name(ev->level), tr_log_kind_name(ev->kind));
    switch (ev->kind) {
    case TR_LOG_CRASH:
    case TR_LOG_INIT_FAILED:
    case TR_LOG_UNEXPECTED_MSG:
        put_pid(l, &off, "pid", ev->pid);
        if (ev->name[0])
            put(l, &off, " name=%s", ev->name);
        put(l, &off, " behaviour=%s", ev->behaviour[0] ? ev->behaviour : "-");
        if (ev->kind != TR_LOG_UNEXPECTED_MSG)
            put_reason(l, &off, &ev->reason);
        if (ev->has_msg) {
            put(l, &off, " message=%s tag=0x%x", msg_kind_name(ev->msg_kind), ev->msg_tag);
            put_pid(l, &off, "from", ev->sender);
        }
        if (ev->kind == TR_LOG_CRASH)
            put(l, &off, " mailbox=%zu", ev->mailbox_len);
        if (!tr_pid_is_none(ev->parent))
            put_pid(l, &off, "parent", ev->parent);
        break;
    case TR_LOG_DROPPED:
        put(l, &off, " %llu events dropped (the log queue was full)",
            (unsigned long long)ev->dropped);
        break;
    default: /* supervisor reports */
        put_pid(l, &off, "supervisor", ev->sup);
        put(l, &off, " child=%s", ev->child_id);
        if (!tr_pid_is_none(ev->child_pid))
            put_pid(l, &off, "pid", ev->child_pid);
        if (ev->kind == TR_LOG_CHILD_RESTARTED) {
            put_pid(l, &off, "new_pid", ev->new_pid);
            put(l, &off, " restarts=%u", ev->restarts);
        } else if (ev->kind == TR_LOG_CHILD_TERMINATED) {
            put_reason(l, &off, &ev->reason);
        } else if (ev->kind == TR_LOG_CHILD_START_FAILED) {
            put(l, &off, " error=%s", tr_err_name(ev->code));
        } else if (ev->kind == TR_LOG_RESTART_DELAYED) {
            put(l, &off, " backoff_ms=%lld", (long long)ev->delay_ms);
        } else if (ev->kind == TR_LOG_SUP_GAVE_UP) {
            put(l, &off, " restarts=%u intensity=%d period_ms=%lld", ev->restarts, ev->intensity,
                (long long)ev->period_ms);
            put_reason(l, &off, &ev->reason);
        }
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* the queue and the thread                                                  */
/* ------------------------------------------------------------------------ */

static void *log_main(void *arg) {
    tr__logger *lg = (tr__logger *)arg;
    tr_log_event *ev = (tr_log_event *)tr__malloc(sizeof *ev);
    pthread_mutex_lock(&lg->mu);
    for (;;) {
        if (lg->len == 0 && lg->dropped == 0) {
            if (lg->quit)
                break;
            pthread_cond_wait(&lg->cv, &lg->mu);
            continue;
        }
        if (!ev) { /* no memory for the copy: deliver from the ring, under the lock */
            ev = (tr_log_event *)tr__malloc(sizeof *ev);
            if (!ev) {
                lg->dropped += lg->len;
                lg->head = (lg->head + lg->len) % lg->cap;
                lg->len = 0;
                struct timespec ts;
                tr__abstime_after(&ts, 10);
                pthread_cond_timedwait(&lg->cv, &lg->mu, &ts);
                continue;
            }
        }
        if (lg->len > 0) {
            *ev = lg->q[lg->head];
            lg->head = (lg->head + 1) % lg->cap;
            lg->len--;
        } else {
            memset(ev, 0, sizeof *ev);
            ev->level = TR_LOG_WARNING;
            ev->kind = TR_LOG_DROPPED;
            ev->time_us = tr__now_realtime_us();
            ev->dropped = lg->dropped;
            lg->dropped = 0;
        }
        pthread_mutex_unlock(&lg->mu);
        format_line(ev);
        lg->fn(ev, lg->user);
        pthread_mutex_lock(&lg->mu);
    }
    pthread_mutex_unlock(&lg->mu);
    tr__free(ev);
    return NULL;
}

int tr__log_start(tr_runtime *rt, const tr_runtime_opts *o) {
    tr__logger *lg = &rt->log;
    lg->fn = o->log_fn ? o->log_fn : tr_log_default_handler;
    lg->user = o->log_fn ? o->log_user : NULL;
    lg->level = o->log_level ? o->log_level : TR_LOG_NOTICE;
    lg->cap = o->log_queue ? o->log_queue : LOG_QUEUE_DEFAULT;
    pthread_mutex_init(&lg->mu, NULL);
    pthread_cond_init(&lg->cv, NULL);
    /* calloc: the pages of a large, mostly unused queue are not touched */
    lg->q = (tr_log_event *)tr__calloc(sizeof(tr_log_event) * lg->cap);
    if (!lg->q)
        return TR_ENOMEM;
    if (pthread_create(&lg->thread, NULL, log_main, lg))
        return TR_ENOMEM;
    lg->started = true;
    return TR_OK;
}

void tr__log_stop(tr_runtime *rt) {
    tr__logger *lg = &rt->log;
    if (!lg->started)
        return;
    pthread_mutex_lock(&lg->mu);
    lg->quit = true;
    pthread_cond_signal(&lg->cv);
    pthread_mutex_unlock(&lg->mu);
    pthread_join(lg->thread, NULL);
    lg->started = false;
}

void tr__log_fini(tr_runtime *rt) {
    tr__logger *lg = &rt->log;
    if (!lg->cap)
        return; /* never set up */
    tr__free(lg->q);
    lg->q = NULL;
    pthread_mutex_destroy(&lg->mu);
    pthread_cond_destroy(&lg->cv);
    lg->cap = 0;
}

bool tr__log_enabled(const tr_runtime *rt, int level) {
    return rt && level >= rt->log.level;
}

void tr__log_emit(tr_runtime *rt, const tr_log_event *ev) {
    if (!rt || !ev || (int)ev->level < rt->log.level || !rt->log.q)
        return;
    tr__logger *lg = &rt->log;
    int64_t now = tr__now_realtime_us();
    pthread_mutex_lock(&lg->mu);
    if (lg->len == lg->cap) {
        lg->dropped++;
    } else {
        tr_log_event *slot = &lg->q[(lg->head + lg->len) % lg->cap];
        memcpy(slot, ev, offsetof(tr_log_event, line)); /* the line is made by the thread */
        slot->time_us = now;
        lg->len++;
    }
    pthread_cond_signal(&lg->cv);
    pthread_mutex_unlock(&lg->mu);
}

/* ------------------------------------------------------------------------ */
/* the core's reports                                                        */
/* ------------------------------------------------------------------------ */

/* Starts *ev: an event of kind at level about actor a, everything else
 * zeroed (the line is written by the logger thread). */
static void about(tr_log_event *ev, int level, int kind, tr__actor *a) {
    memset(ev, 0, offsetof(tr_log_event, line));
    ev->level = level;
    ev->kind = kind;
    ev->pid = a->pid;
    ev->parent = tr__actor_parent(a);
    const tr_behaviour *b = tr__self_behaviour((tr_self *)a);
    if (b && b->name)
        snprintf(ev->behaviour, sizeof ev->behaviour, "%s", b->name);
}

static void about_msg(tr_log_event *ev, const tr_msg *msg) {
    if (!msg)
        return;
    ev->has_msg = true;
    ev->msg_kind = (int)msg->kind;
    ev->msg_tag = msg->tag;
    ev->sender = msg->sender;
}

void tr__log_crash(tr__actor *a, const tr_reason *why, const tr_msg *msg) {
    if (!tr__log_enabled(a->rt, TR_LOG_ERROR))
        return;
    tr_log_event ev;
    about(&ev, TR_LOG_ERROR, TR_LOG_CRASH, a);
    ev.reason = *why;
    about_msg(&ev, msg);
    long n = (long)tr__mq_depth(&a->mq, &a->mqc);
    ev.mailbox_len = n > 0 ? (size_t)n : 0;
    tr__spin_lock(&a->lock);
    bool named = (a->lk & (1u << TR__SVC_REGISTRY)) != 0;
    tr__spin_unlock(&a->lock);
    if (named)
        tr__services_names_of(a->rt, a->pid, ev.name, sizeof ev.name, 1);
    tr__log_emit(a->rt, &ev);
}

void tr__log_init_failed(tr__actor *a, const tr_reason *why) {
    if (!tr__log_enabled(a->rt, TR_LOG_ERROR))
        return;
    tr_log_event ev;
    about(&ev, TR_LOG_ERROR, TR_LOG_INIT_FAILED, a);
    ev.reason = *why;
    tr__log_emit(a->rt, &ev);
}

void tr__log_unexpected(tr__actor *a, const tr_msg *msg) {
    if (!tr__log_enabled(a->rt, TR_LOG_DEBUG))
        return;
    tr_log_event ev;
    about(&ev, TR_LOG_DEBUG, TR_LOG_UNEXPECTED_MSG, a);
    about_msg(&ev, msg);
    tr__log_emit(a->rt, &ev);
}
