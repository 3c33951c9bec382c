/* troupe — futures (include/troupe/future.h): the thread-side half of the
 * task pool.
 *
 * A future is completed exactly once (tr__future_complete: first caller
 * wins), from the worker that ran it, the worker's terminate (crash
 * mid-task), the manager (worker EXIT, stop) or a dropped message's
 * destructor (task/task_pool.c). Awaiting threads wait on its condvar; an
 * actor that asked with tr_future_notify gets the outcome as a message.
 * Its lifetime is a reference count (task/future.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <troupe/future.h>

#include "base/clock.h"
#include "base/alloc.h"
#include "base/atomic.h"
#include "base/park.h"
#include "task/future.h"

/* ------------------------------------------------------------------------ */
/* Reference counts                                                          */
/* ------------------------------------------------------------------------ */

void tr__future_ref(tr_future *f) {
    tr__faa_acqrel_u32(&f->refs, 1);
}

void tr__future_unref(tr_future *f) {
    if (tr__faa_acqrel_u32(&f->refs, (uint32_t)-1) != 1)
        return;
    tr__free(f->arg);
    tr__free(f->data);
    pthread_mutex_destroy(&f->mu);
    tr__free(f);
}

tr_future *tr__future_new(tr_task_fn fn, const void *arg, size_t arg_size) {
    tr_future *f = tr__calloc(sizeof *f);
    if (!f)
        return NULL;
    if (arg_size > 0) {
        f->arg = tr__malloc(arg_size);
        if (!f->arg) {
            tr__free(f);
            return NULL;
        }
        memcpy(f->arg, arg, arg_size);
    }
    if (pthread_mutex_init(&f->mu, NULL) != 0) {
        tr__free(f->arg);
        tr__free(f);
        return NULL;
    }
    f->fn = fn;
    f->arg_size = arg_size;
    f->status = TR_FUTURE_PENDING;
    return f;
}

/* ------------------------------------------------------------------------ */
/* Completion                                                                */
/* ------------------------------------------------------------------------ */

static char *text_copy(const char *text, size_t *size) {
    size_t n = strlen(text);
    if (n > TR__TASK_TEXT_MAX - 1)
        n = TR__TASK_TEXT_MAX - 1;
    char *s = tr__malloc(n + 1);
    if (s) {
        memcpy(s, text, n);
        s[n] = '\0';
        *size = n + 1;
    } else {
        *size = 0;
    }
    return s;
}

/* Sends `to` the tr_future_reply of complete f (its outcome is immutable
 * now). tr_send's result, or TR_ENOMEM when the reply cannot be built. */
static int send_notification(tr_future *f, tr_pid to, uint32_t tag, int status) {
    size_t total = sizeof(tr_future_reply) + f->size;
    tr_future_reply *r = tr__malloc(total);
    if (!r)
        return TR_ENOMEM;
    r->id = f->id;
    r->future = f;
    r->status = status;
    r->code = status == TR_EREMOTE ? f->code : 0;
    r->size = (uint32_t)f->size;
    if (f->size)
        memcpy(r->data, f->data, f->size);
    int rc = tr_send(f->rt, to, tag, r, total);
    tr__free(r);
    return rc;
}

/* A thread or fiber in tr_future_await: an entry on its own stack. */
typedef struct tr__fwaiter {
    tr__parker *p;
    struct tr__fwaiter *next;
    tr_future *f;
} tr__fwaiter;

/* Completes f with status and data (owned: taken, or freed when f was
 * already complete). Returns true when this call completed it. */
bool tr__future_complete(tr_future *f, int status, void *data, size_t size) {
    pthread_mutex_lock(&f->mu);
    if (f->status != TR_FUTURE_PENDING) {
        pthread_mutex_unlock(&f->mu);
        tr__free(data);
        return false;
    }
    f->status = status;
    f->data = data;
    f->size = data ? size : 0;
    bool notify = f->notify_set;
    tr_pid to = f->notify_pid;
    uint32_t tag = f->notify_tag;
    /* Woken under the lock (base/park.h): a waiter that takes the lock
     * after this knows we are done with its entry. */
    for (tr__fwaiter *w = f->waiters; w; w = w->next)
        tr__parker_wake(w->p);
    f->waiters = NULL;
    pthread_mutex_unlock(&f->mu);

    tr_task_pool *p = f->pool;
    /* f->data is immutable from here on: reading it unlocked is safe. */
    if (notify) /* out of memory: nothing to tell the receiver with */
        send_notification(f, to, tag, status);

    tr__task_pool_future_done(p);
    return true;
}

void tr__future_fail_text(tr_future *f, int status, const char *text) {
    size_t size;
    char *s = text_copy(text, &size);
    tr__future_complete(f, status, s, size);
}

void tr__future_fail_code(tr_future *f, int code, const char *text) {
    pthread_mutex_lock(&f->mu);
    if (f->status == TR_FUTURE_PENDING)
        f->code = code; /* read only with status TR_EREMOTE, set below */
    pthread_mutex_unlock(&f->mu);
    tr__future_fail_text(f, TR_EREMOTE, text);
}

/* Fails f because the worker holding it exited with reason r. An orderly
 * stop (normal, shutdown: the pool or the runtime is stopping) can only
 * come between two callbacks, so the task never started: TR_ECLOSED. Any
 * other reason is a crash (error, killed): TR_ECRASHED with its text. */
void tr__future_fail_reason(tr_future *f, const tr_reason *r) {
    if (r->kind == TR_EXIT_NORMAL || r->kind == TR_EXIT_SHUTDOWN) {
        tr__future_fail_text(f, TR_ECLOSED, "task pool stopped before the task ran");
        return;
    }
    char buf[96];
    if (r->kind == TR_EXIT_ERROR)
        snprintf(buf, sizeof buf, "%s", r->text[0] ? r->text : "crashed");
    else
        tr_reason_format(r, buf, sizeof buf);
    tr__future_fail_text(f, TR_ECRASHED, buf);
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                */
/* ------------------------------------------------------------------------ */

/* Copies the outcome of a complete future (under f->mu) into result. */
static int take_outcome(tr_future *f, tr_buf *result) {
    int st = f->status;
    if (result && st == TR_EREMOTE)
        result->code = f->code;
    if (result && f->size > 0) {
        result->data = tr__malloc(f->size);
        if (!result->data)
            return TR_ENOMEM;
        memcpy(result->data, f->data, f->size);
        result->size = f->size;
    }
    return st;
}

static void fwaiter_unlink_locked(tr__fwaiter *w) {
    for (tr__fwaiter **pp = &w->f->waiters; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            return;
        }
}

/* A fiber killed while it awaits: its entry leaves the list before its
 * stack goes (base/park.h's cancel hook). */
static void fwaiter_cancel(void *arg) {
    tr__fwaiter *w = (tr__fwaiter *)arg;
    pthread_mutex_lock(&w->f->mu);
    fwaiter_unlink_locked(w);
    pthread_mutex_unlock(&w->f->mu);
}

int tr_future_await(tr_future *f, tr_duration_ms timeout_ms, tr_buf *result) {
    if (result)
        memset(result, 0, sizeof *result);
    if (!f || !tr__task_valid_timeout(timeout_ms))
        return TR_EINVAL;
    if (tr__park_refused())
        return TR_EDEADLK;
    int64_t deadline = tr__deadline_ms(timeout_ms);
    tr__parker *p = tr__parker_self();
    pthread_mutex_lock(&f->mu);
    while (f->status == TR_FUTURE_PENDING) {
        tr__fwaiter w = {p, f->waiters, f};
        f->waiters = &w;
        p->cancel = fwaiter_cancel;
        p->cancel_arg = &w;
        pthread_mutex_unlock(&f->mu);
        int rc = tr__parker_wait(p, deadline);
        pthread_mutex_lock(&f->mu);
        p->cancel = NULL;
        fwaiter_unlink_locked(&w); /* still listed unless completion woke it */
        if (rc == TR_ETIMEDOUT && f->status == TR_FUTURE_PENDING) {
            pthread_mutex_unlock(&f->mu);
            return TR_ETIMEDOUT;
        }
    }
    int rc = take_outcome(f, result);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

int tr_future_status(const tr_future *future) {
    if (!future)
        return TR_EINVAL;
    tr_future *f = (tr_future *)future;
    pthread_mutex_lock(&f->mu);
    int st = f->status;
    pthread_mutex_unlock(&f->mu);
    return st;
}

uint64_t tr_future_id(const tr_future *future) {
    return future ? future->id : 0;
}

int tr_future_notify(tr_future *f, tr_pid pid, uint32_t tag) {
    if (!f || tr_pid_is_none(pid))
        return TR_EINVAL;
    pthread_mutex_lock(&f->mu);
    if (f->notify_set) {
        pthread_mutex_unlock(&f->mu);
        return TR_EBUSY;
    }
    f->notify_set = true;
    f->notify_pid = pid;
    f->notify_tag = tag;
    int st = f->status;
    pthread_mutex_unlock(&f->mu);
    if (st == TR_FUTURE_PENDING)
        return 0;
    /* Already complete: data is immutable now. */
    return send_notification(f, pid, tag, st);
}

const tr_future_reply *tr_future_reply_of(const tr_msg *msg) {
    if (!msg || msg->kind != TR_MSG_INFO || !msg->data || msg->size < sizeof(tr_future_reply))
        return NULL;
    const tr_future_reply *r = msg->data;
    if (msg->size != sizeof(tr_future_reply) + r->size)
        return NULL;
    return r;
}

void tr_future_free(tr_future *future) {
    if (future)
        tr__future_unref(future);
}
