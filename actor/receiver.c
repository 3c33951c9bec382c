/* troupe — receivers: a plain thread's mailbox with a pid that actors can
 * send to (troupe/receiver.h), built on the waiters of blocking calls
 * (waiter.c): a waiter whose pid also takes ordinary messages
 * (tr__actor.receiver, looked at by send.c) and is a target of links,
 * monitors and exit signals (signal.c; trapped as EXIT messages,
 * waiter.c), and a list of the messages a selective receive kept aside. */
#include <string.h>

#include <troupe/receiver.h>

#include "actor/core.h"

struct tr_receiver {
    tr_runtime *rt;
    tr__actor *w;
    tr__msg *kept_head, *kept_tail; /* did not match a receive yet, oldest first */
    bool idle;                      /* a wait timed out: the mailbox is marked empty until a push */
};

/* The next message, or NULL (timeout, or *closed at the runtime's
 * shutdown). */
static tr__msg *next_msg(tr_receiver *r, int64_t deadline, bool *closed) {
    if (r->idle) {
        if (!tr__waiter_idle_wait(r->w, deadline))
            return NULL;
        r->idle = false;
    }
    tr__msg *m = tr__waiter_wait(r->w, deadline, closed);
    if (!m && !*closed)
        r->idle = true;
    return m;
}

int tr_receiver_open(tr_runtime *rt, tr_receiver **out) {
    if (!rt || !out)
        return TR_EINVAL;
    *out = NULL;
    if (tr__blocking_refused(rt))
        return TR_EDEADLK;
    if (tr__runtime_stopping(rt))
        return TR_ECLOSED;
    tr_receiver *r = (tr_receiver *)tr__calloc(sizeof *r);
    if (!r)
        return TR_ENOMEM;
    int err = TR_OK;
    r->w = tr__waiter_open(rt, &err);
    if (!r->w) {
        tr__free(r);
        return err;
    }
    /* Before anyone can know the pid: only this thread has it yet. */
    __atomic_store_n(&r->w->receiver, true, __ATOMIC_RELEASE);
    r->rt = rt;
    *out = r;
    return TR_OK;
}

tr_pid tr_receiver_pid(const tr_receiver *r) {
    return r ? r->w->pid : TR_PID_NONE;
}

int tr_receiver_monitor(tr_receiver *r, tr_pid pid, uint64_t *ref) {
    if (!r || pid.id == 0)
        return TR_EINVAL;
    uint64_t mref = 0;
    int err = tr__waiter_monitor(r->w, pid, &mref);
    if (!err && ref)
        *ref = mref;
    return err;
}

int tr_receiver_link(tr_receiver *r, tr_pid pid) {
    if (!r || pid.id == 0 || tr_pid_eq(pid, r->w->pid))
        return TR_EINVAL;
    return tr__link_to(r->w, pid);
}

int tr_receiver_unlink(tr_receiver *r, tr_pid pid) {
    if (!r || pid.id == 0)
        return TR_EINVAL;
    tr__unlink_from(r->w, pid);
    return TR_OK;
}

/* Unlinks and frees the first kept message for which match is true. */
static tr__msg *kept_take(tr_receiver *r, tr_match_fn match, void *arg) {
    tr__msg *prev = NULL;
    for (tr__msg *m = r->kept_head; m; prev = m, m = (tr__msg *)m->node.next) {
        if (match && !match(&m->pub, arg))
            continue;
        if (prev)
            prev->node.next = m->node.next;
        else
            r->kept_head = (tr__msg *)m->node.next;
        if (r->kept_tail == m)
            r->kept_tail = prev;
        m->node.next = NULL;
        return m;
    }
    return NULL;
}

static void kept_add(tr_receiver *r, tr__msg *m) {
    m->node.next = NULL;
    if (r->kept_tail)
        r->kept_tail->node.next = &m->node;
    else
        r->kept_head = m;
    r->kept_tail = m;
}

static bool is_down(const tr_msg *m, void *arg) {
    return m->kind == TR_MSG_DOWN && m->ref == *(const uint64_t *)arg;
}

int tr_receiver_demonitor(tr_receiver *r, uint64_t ref) {
    if (!r || ref == 0)
        return TR_EINVAL;
    int err = tr__waiter_demonitor(r->w, ref);
    if (err == TR_OK) {
        /* A DOWN already queued goes (demonitor(Ref, [flush])): look at
         * what is queued now, keeping the rest in order. */
        tr__msg *m;
        bool closed = false;
        while ((m = next_msg(r, tr__deadline_ms(0), &closed)) != NULL)
            kept_add(r, m);
    }
    tr__msg *d = kept_take(r, is_down, &ref);
    if (d) {
        tr__msg_free(d);
        return TR_OK;
    }
    return err;
}

int tr_receiver_recv(tr_receiver *r, tr_match_fn match, void *arg, tr_duration_ms timeout_ms,
                     tr_msg **out) {
    if (out)
        *out = NULL;
    if (!r || !out || timeout_ms < TR_INFINITY)
        return TR_EINVAL;
    tr__msg *m = kept_take(r, match, arg);
    if (m) {
        *out = &m->pub;
        return TR_OK;
    }
    int64_t deadline = tr__deadline_ms(timeout_ms);
    for (;;) {
        bool closed = false;
        m = next_msg(r, deadline, &closed);
        if (!m)
            return closed ? TR_ECLOSED : TR_ETIMEDOUT;
        if (!match || match(&m->pub, arg)) {
            *out = &m->pub;
            return TR_OK;
        }
        kept_add(r, m);
    }
}

bool tr_match_tag(const tr_msg *msg, void *arg) {
    return msg && arg && msg->tag == *(const uint32_t *)arg;
}

bool tr_match_ref(const tr_msg *msg, void *arg) {
    return msg && arg && msg->ref == *(const uint64_t *)arg;
}

void tr_receiver_close(tr_receiver **rp) {
    if (!rp || !*rp)
        return;
    tr_receiver *r = *rp;
    *rp = NULL;
    tr__msg *m;
    while ((m = kept_take(r, NULL, NULL)) != NULL)
        tr__msg_free(m);
    tr__waiter_close(r->w); /* its pid dies; what is still queued goes with it */
    tr__free(r);
}
