/* troupe — calls and replies: tr_call, tr_request, tr_reply and the
 * blocking waits (tr_await_exit), as OTP's gen_server:call/3.
 *
 * A plain thread blocks on a waiter (waiter.c), a mailbox with a pid. The
 * waiter monitors the server (as gen_server:call does), so a server that
 * exits before replying ends the call with TR_EEXITED instead of a
 * timeout, and the exit reason as text.
 */
#include <errno.h>
#include <string.h>

#include "actor/core.h"

void tr_buf_free(tr_buf *buf) {
    if (!buf)
        return;
    tr__free(buf->data);
    buf->data = NULL;
    buf->size = 0;
    buf->tag = 0;
    buf->code = 0;
}

static int fill_buf(tr_buf *out, const tr__msg *m) {
    if (!out)
        return TR_OK;
    out->tag = m->pub.tag;
    out->code = m->pub.code;
    out->size = m->pub.size;
    out->data = NULL;
    if (m->pub.size) {
        out->data = tr__malloc(m->pub.size);
        if (!out->data) {
            out->size = 0;
            return TR_ENOMEM;
        }
        memcpy(out->data, m->pub.data, m->pub.size);
    }
    return TR_OK;
}

/* The exit reason as a reply's text (NUL-terminated, as tr_reason_format
 * writes it; the same text an actor's tr_request gets). Best effort: with
 * no memory the reply stays empty. */
static void exit_text(tr_buf *out, const tr_reason *why) {
    if (!out)
        return;
    char text[96];
    tr_reason_format(why, text, sizeof text);
    size_t n = strlen(text) + 1;
    out->tag = 0;
    out->data = tr__malloc(n);
    out->size = out->data ? n : 0;
    if (out->data)
        memcpy(out->data, text, n);
}

/* A blocking thread's waiter, monitoring target (its DOWN ends the wait).
 * NULL with *err on failure. */
static tr__actor *watch_begin(tr_runtime *rt, tr_pid target, uint64_t *mref, int *err) {
    tr__actor *pa = tr__waiter_get(rt, err);
    if (!pa)
        return NULL;
    *mref = 0;
    *err = tr__waiter_monitor(pa, target, mref);
    if (*err) {
        tr__waiter_put(pa);
        return NULL;
    }
    return pa;
}

/* Drops the monitor (also one that fired: the waiter's side of it is
 * still recorded) and gives the waiter back to the pool. */
static void watch_end(tr__actor *pa, uint64_t mref) {
    if (mref)
        tr__waiter_demonitor(pa, mref);
    tr__waiter_put(pa);
}

/* Waits on the waiter for the REPLY to request `ref` (0: none expected) or
 * the DOWN of monitor `mref`, dropping anything else (late replies of
 * earlier requests). NULL with *err = TR_ETIMEDOUT or TR_ECLOSED. */
static tr__msg *waiter_wait_for(tr__actor *pa, int64_t deadline, uint64_t ref, uint64_t mref,
                                int *err) {
    for (;;) {
        bool closed = false;
        tr__msg *r = tr__waiter_wait(pa, deadline, &closed);
        if (!r) {
            *err = closed ? TR_ECLOSED : TR_ETIMEDOUT;
            return NULL;
        }
        if ((ref && r->pub.kind == TR_MSG_REPLY && r->pub.ref == ref) ||
            (r->pub.kind == TR_MSG_DOWN && r->pub.ref == mref))
            return r;
        tr__msg_free(r);
    }
}

int tr_call(tr_runtime *rt, tr_pid to, uint32_t tag, const void *req, size_t size, tr_buf *reply,
            tr_duration_ms timeout_ms) {
    if (reply)
        memset(reply, 0, sizeof *reply);
    if (!rt || (size && !req) || timeout_ms == 0 || timeout_ms < TR_INFINITY)
        return TR_EINVAL;
    tr__actor *fa = tr__fiber_here();
    if (fa && fa->rt == rt) {
        if (tr__runtime_stopping(rt))
            return TR_ECLOSED;
        return tr__fiber_call(fa, to, tag, req, size, reply, timeout_ms); /* the fiber parks */
    }
    if (tr__blocking_refused(rt))
        return TR_EDEADLK;
    if (tr__runtime_stopping(rt))
        return TR_ECLOSED;
    if (to.id == 0)
        return TR_ENOPROC;
    int err = TR_OK;
    uint64_t mref;
    tr__actor *pa = watch_begin(rt, to, &mref, &err);
    if (!pa)
        return err;
    uint64_t ref = tr__make_ref(rt);
    tr__msg *m = tr__msg_new(tr__mc_here(rt), TR_MSG_CALL, tag, req, size);
    if (!m) {
        err = TR_ENOMEM;
        goto done;
    }
    m->pub.sender = pa->pid;
    m->pub.ref = ref;
    err = tr__deliver(rt, to, m);
    if (err)
        goto done;
    int64_t deadline = tr__deadline_ms(timeout_ms);
    tr__msg *r = waiter_wait_for(pa, deadline, ref, mref, &err);
    if (r && r->pub.kind == TR_MSG_REPLY) {
        err = r->pub.status; /* 0 or a TR_E* code (the space is closed) */
        int e2 = TR_OK;
        if (err == TR_OK || r->pub.size)
            e2 = fill_buf(reply, r);
        if (err == TR_OK)
            err = e2;
        /* TR_EEXITED: the runtime's answer for a call the server will
         * never handle; its text is the exit reason (as tr_request's). */
    } else if (r) { /* the server's DOWN */
        const tr_reason *why = tr_msg_reason(&r->pub);
        err = (why && why->kind == TR_EXIT_NOPROC) ? TR_ENOPROC : TR_EEXITED;
        if (err == TR_EEXITED && why)
            exit_text(reply, why);
    }
    if (r)
        tr__msg_free(r);
    if (err == TR_EEXITED && tr__runtime_stopping(rt)) {
        err = TR_ECLOSED; /* the server was stopped by the shutdown */
        tr_buf_free(reply);
    }
done:
    watch_end(pa, mref);
    return err;
}

/* The wait of tr_await_exit without the blocking rule's check, sending pid
 * the exit signal *send first when send is not NULL (after the monitor is
 * set up). */
static int await_exit_unchecked(tr_runtime *rt, tr_pid pid, tr_duration_ms timeout_ms,
                                tr_reason *reason, const tr__stop_send *send) {
    if (tr_on_scheduler(rt))
        return TR_EDEADLK;
    int err = TR_OK;
    uint64_t mref;
    tr__actor *pa = watch_begin(rt, pid, &mref, &err);
    if (!pa)
        return err;
    if (send) {
        err = tr__stop_send_to(rt, pid, send, TR_PID_NONE);
        if (err) {
            watch_end(pa, mref);
            return err;
        }
    }
    int64_t deadline = tr__deadline_ms(timeout_ms);
    tr__msg *r = waiter_wait_for(pa, deadline, 0, mref, &err);
    if (r) {
        const tr_reason *why = tr_msg_reason(&r->pub);
        if (reason && why)
            *reason = *why;
        tr__msg_free(r);
    }
    watch_end(pa, mref);
    return err;
}

/* tr_await_exit, sending *send first when it is not NULL. */
static int await_exit(tr_runtime *rt, tr_pid pid, tr_duration_ms timeout_ms, tr_reason *reason,
                      const tr__stop_send *send) {
    if (!rt || pid.id == 0 || timeout_ms == 0 || timeout_ms < TR_INFINITY)
        return TR_EINVAL;
    tr__actor *fa = tr__fiber_here();
    if (fa && fa->rt == rt) /* the fiber parks */
        return tr__fiber_await_exit(fa, pid, timeout_ms, reason, send);
    if (tr__blocking_refused(rt))
        return TR_EDEADLK;
    return await_exit_unchecked(rt, pid, timeout_ms, reason, send);
}

int tr__await_exit_unchecked(tr_runtime *rt, tr_pid pid, tr_duration_ms timeout_ms,
                             tr_reason *reason) {
    return await_exit_unchecked(rt, pid, timeout_ms, reason, NULL);
}

int tr_await_exit(tr_runtime *rt, tr_pid pid, tr_duration_ms timeout_ms, tr_reason *reason) {
    return await_exit(rt, pid, timeout_ms, reason, NULL);
}

int tr__exit_await(tr_runtime *rt, tr_pid pid, tr_reason reason, tr_duration_ms timeout_ms) {
    tr__stop_send s = {reason, false};
    return await_exit(rt, pid, timeout_ms, NULL, &s);
}

int tr__stop_send_to(tr_runtime *rt, tr_pid pid, const tr__stop_send *s, tr_pid sender) {
    if (!s->stop)
        return tr_exit(rt, pid, s->reason);
    tr_reason r = tr__reason_sealed(s->reason);
    tr__msg *m = tr__msg_new(tr__mc_here(rt), TR_MSG_INFO, 0, &r, sizeof r);
    if (!m)
        return TR_ENOMEM;
    m->sys = TR__SYS_STOP;
    m->pub.sender = sender;
    return tr__deliver(rt, pid, m);
}

static bool same_reason(const tr_reason *a, const tr_reason *b) {
    return a->kind == b->kind && a->code == b->code &&
           strncmp(a->text, b->text, sizeof a->text) == 0;
}

int tr_stop_server(tr_runtime *rt, tr_pid pid, tr_reason reason, tr_duration_ms timeout_ms,
                   tr_reason *exit_reason) {
    if (!rt || pid.id == 0 || reason.kind < TR_EXIT_NORMAL || reason.kind > TR_EXIT_ERROR)
        return TR_EINVAL;
    tr__actor *fa = tr__fiber_here();
    if (fa && fa->rt == rt && tr_pid_eq(fa->pid, pid))
        return TR_EDEADLK; /* calling itself: gen_server:stop's calling_self */
    tr__stop_send s = {tr__reason_sealed(reason), true};
    tr_reason why = tr__reason_make(TR_EXIT_NOPROC);
    int err = await_exit(rt, pid, timeout_ms, &why, &s);
    if (err)
        return err;
    if (exit_reason)
        *exit_reason = why;
    if (why.kind == TR_EXIT_NOPROC)
        return TR_ENOPROC; /* dead before the monitor was set up */
    return same_reason(&why, &s.reason) ? TR_OK : TR_EEXITED;
}

int tr_request(tr_self *self, tr_pid to, uint32_t tag, const void *req, size_t size,
               tr_duration_ms timeout_ms, uint64_t *req_id) {
    tr__actor *a = (tr__actor *)self;
    if (!a || (size && !req) || timeout_ms == 0 || timeout_ms < TR_INFINITY)
        return TR_EINVAL;
    tr_runtime *rt = a->rt;
    if (to.id == 0)
        return TR_ENOPROC;
    if (tr__self_killed_here())
        return TR_EKILLED;
    uint64_t ref = tr__make_ref(rt);
    tr__msg *m = tr__msg_new(tr__mc_here(rt), TR_MSG_CALL, tag, req, size);
    if (!m)
        return TR_ENOMEM;
    m->pub.sender = a->pid;
    m->pub.ref = ref;
    /* As gen_server:send_request: watch the server, so that its exit ends
     * the request (TR_EEXITED) even when it had kept `from` for later.
     * The watch and the timeout are set up before the request goes: a
     * request that went always ends (reply, exit or timeout), and one that
     * cannot be tracked (out of memory) does not go. */
    int err = tr__req_begin(a, ref, to);
    if (err) {
        tr__msg_free(m);
        return err;
    }
    if (timeout_ms != TR_INFINITY) {
        tr_timer t = 0;
        err = tr__timer_start(rt, a->pid, timeout_ms, 0, TR_MSG_REPLY, TR__SYS_REQ_TIMEOUT, 0, ref,
                              NULL, 0, &t);
        if (err) {
            tr__req_take(a, ref, false);
            tr__msg_free(m);
            return err;
        }
        tr__req_set_timer(a, ref, t);
    }
    err = tr__deliver(rt, to, m);
    if (err) {
        tr__req_take(a, ref, false); /* nothing was queued: no REPLY will come */
        return err;
    }
    if (req_id)
        *req_id = ref;
    return TR_OK;
}

/* *lost (when not NULL): the caller got nothing at all. status is 0 or a
 * TR_E* code; code the application's (with TR_EREMOTE). */
static int reply_common(tr_from from, int status, int code, uint32_t tag, const void *data,
                        size_t size, bool *lost) {
    if (lost)
        *lost = false;
    if (!from.rt || (size && !data))
        return TR_EINVAL;
    tr__note_reply(from.rt, from);
    if (from.pid.id == 0)
        return TR_OK; /* nobody waits (a cast forwarded as a call) */
    if (tr__self_killed_here())
        return TR_EKILLED; /* the caller learns of the exit from its monitor */
    tr__msg *m = tr__msg_new(tr__mc_here(from.rt), TR_MSG_REPLY, tag, data, size);
    bool nomem = !m;
    if (nomem) {
        /* The caller must not wait for a reply that cannot be made: it gets
         * TR_ENOMEM instead, in a bare block (best effort). */
        m = tr__msg_new(tr__mc_here(from.rt), TR_MSG_REPLY, 0, NULL, 0);
        if (!m) {
            if (lost)
                *lost = true;
            return TR_ENOMEM;
        }
        status = TR_ENOMEM;
        code = 0;
    }
    m->pub.ref = from.ref;
    m->pub.status = status;
    m->pub.code = code;
    tr__actor *cur = tr__tls_current;
    m->pub.sender = (cur && cur->rt == from.rt) ? cur->pid : TR_PID_NONE;
    int err = tr__deliver(from.rt, from.pid, m);
    if (err == TR_ENOPROC || err == TR_ECLOSED || err == TR_EFULL)
        err = TR_OK; /* the caller gave up or died: dropped, as OTP */
    return nomem ? TR_ENOMEM : err;
}

int tr_reply(tr_from from, uint32_t tag, const void *data, size_t size) {
    return reply_common(from, TR_OK, 0, tag, data, size, NULL);
}

/* A troupe code kept in the closed space: anything else is TR_EREMOTE. */
static int troupe_code(int err) {
    return err < 0 && strcmp(tr_err_name(err), "TR_UNKNOWN") != 0 ? err : TR_EREMOTE;
}

bool tr__reply_lost(tr_from from, int status, uint32_t tag, const void *data, size_t size) {
    bool lost;
    reply_common(from, status ? troupe_code(status) : 0, 0, tag, data, size, &lost);
    return lost;
}

int tr__reply_status(tr_from from, int err, const char *text) {
    const char *t = text ? text : "";
    return reply_common(from, troupe_code(err), 0, 0, t, strlen(t) + 1, NULL);
}

int tr_reply_error(tr_from from, int code, const char *text) {
    const char *t = text ? text : "";
    return reply_common(from, TR_EREMOTE, code, 0, t, strlen(t) + 1, NULL);
}

int tr_get_state(tr_runtime *rt, tr_pid pid, tr_buf *out, tr_duration_ms timeout_ms) {
    return tr_call(rt, pid, TR_TAG_GET_STATE, NULL, 0, out, timeout_ms);
}

int tr_replace_state(tr_runtime *rt, tr_pid pid, tr_state_fn fn, void *arg,
                     tr_duration_ms timeout_ms) {
    if (!fn)
        return TR_EINVAL;
    tr_state_change c = {fn, arg};
    return tr_call(rt, pid, TR_TAG_REPLACE_STATE, &c, sizeof c, NULL, timeout_ms);
}
