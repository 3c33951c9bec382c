/* troupe — sending: pushing messages to mailboxes, the outbox a turn
 * gathers its sends in, pushing signals with their markers, the send and
 * cast family, and forwarding (as erts's erl_message.c, and the send half
 * of ponyc's actor.c). */
#include <stdlib.h>
#include <string.h>

#include "actor/core.h"

/* mq.limit and is_waiter never change after the pid is published, but
 * they share an 8-byte word with fields written by others (mq.pushed, lk):
 * separate relaxed loads keep the compiler from reading them as one word
 * (which ThreadSanitizer reports as a race with those writes). */
static inline bool bounded_or_waiter(const tr__actor *a) {
    return tr__load_rlx_u32(&a->mq.limit) != 0 || tr__load_rlx_bool(&a->is_waiter);
}

/* Gathering sends. During an actor's turn, messages to other actors of the
 * runtime (unbounded mailboxes, not waiters) wait in the thread's outbox, in
 * one chain per receiver, and go with one exchange when the chain is
 * TR__OB_CHAIN long, when the outbox needs room, and when the turn ends
 * (tr__ob_flush). The first send of a turn to an idle receiver is not
 * gathered: it goes at once, so the receiver runs while the turn goes on. When the turn runs long
 * (a long callback), an idle thread flushes the outbox (steal_next in
 * runtime.c), under ob_lock. Order between one sender and one receiver is
 * kept: every push from the turn to that receiver goes through the same
 * chain, or directly when it has none. */
static void ob_push(tr__obox *b);

/* Under sc->ctx.ob_lock. */
static void ob_append(tr__sched *sc, tr__obox *b, tr__msg *m) {
    m->node.next = NULL;
    b->tail->next = &m->node;
    b->tail = &m->node;
    if (++b->n >= TR__OB_CHAIN) {
        ob_push(b);
        *b = sc->ctx.ob[sc->ctx.ob_n - 1]; /* order between receivers is free */
        tr__ob_set_count(sc, sc->ctx.ob_n - 1);
    }
}

/* Under sc->ctx.ob_lock; a is not in the outbox yet. */
static void ob_add(tr__sched *sc, tr__actor *a, tr__msg *m) {
    m->node.next = NULL;
    tr__obox *b;
    if (sc->ctx.ob_n == TR__OB_SLOTS) {
        ob_push(&sc->ctx.ob[0]);
        sc->ctx.ob[0] = sc->ctx.ob[sc->ctx.ob_n - 1];
        tr__ob_set_count(sc, sc->ctx.ob_n - 1);
    }
    if (sc->ctx.ob_n == 0) {
        /* Messages are held from now on: an idle thread must be looking
         * in case this turn runs long (it flushes them, steal_next). */
        tr__store_rlx_u32(&sc->ctx.ob_held, 1);
        tr__wake_watcher(a->rt);
    }
    b = &sc->ctx.ob[sc->ctx.ob_n];
    tr__ob_set_count(sc, sc->ctx.ob_n + 1);
    b->a = a;
    b->head = b->tail = &m->node;
    b->n = 1;
    /* Outside borrow mode the caller's reference ends with its send: keep
     * one of our own until the chain is pushed. */
    b->ref = !tr__borrow_mode(a->rt);
    if (b->ref)
        tr__faa_acqrel_u64(&tr__slot_at(a->rt, tr__pid_index(a->pid))->w, 1);
}

int tr__push(tr__actor *a, tr__msg *m) {
    tr__sched *sc = tr__tls_sched;
    bool ob = sc && sc->ctx.ob_on, locked = false;
    if (ob && tr__ob_count(sc)) {
        tr__spin_lock(&sc->ctx.ob_lock);
        locked = true;
        /* A receiver this turn already gathers for: append without reading
         * the receiver (its producers' line may be bouncing). */
        for (unsigned i = sc->ctx.ob_n; i-- > 0;)
            if (sc->ctx.ob[i].a == a) {
                ob_append(sc, &sc->ctx.ob[i], m);
                tr__spin_unlock(&sc->ctx.ob_lock);
                return TR_OK;
            }
    }
    if (a->mq.limit && tr__mq_depth(&a->mq, &a->mqc) >= a->mq.limit &&
        m->pub.kind != TR_MSG_REPLY && m->pub.kind != TR_MSG_DOWN && m->sys == TR__SYS_NONE) {
        if (locked)
            tr__spin_unlock(&sc->ctx.ob_lock);
        /* Refused, so not taken over: the block goes, an owned payload stays
         * the sender's (its destructor does not run). */
        tr__msg_release(m);
        return TR_EFULL;
    }
    /* An idle receiver gets its first message of the turn at once, so that
     * it runs while this turn goes on (the turn may be long); the messages
     * that follow it are gathered (if it was idle again, they go with the
     * turn's end, or an idle thread's flush if the turn runs long). */
    if (ob && !bounded_or_waiter(a) && a->rt == sc->rt) {
        bool gather = !tr__mq_idle(&a->mq);
        /* Once per receiver and turn (its first message): an overloaded
         * one mutes this turn's actor at the turn's end (sched.c). */
        if (gather && tr__mq_depth(&a->mq, &a->mqc) >= TR__MUTE_HIGH && a != tr__tls_current)
            tr__note_overloaded(sc, a);
        for (unsigned i = 0; !gather && i < sc->ctx.direct_n; i++)
            gather = sc->ctx.direct[i] == a;
        if (gather) {
            if (!locked)
                tr__spin_lock(&sc->ctx.ob_lock);
            ob_add(sc, a, m);
            tr__spin_unlock(&sc->ctx.ob_lock);
            return TR_OK;
        }
        if (sc->ctx.direct_n < TR__OB_SLOTS)
            sc->ctx.direct[sc->ctx.direct_n++] = a;
    }
    if (locked)
        tr__spin_unlock(&sc->ctx.ob_lock);
    if (tr__mq_push_mpsc(&a->mq, &m->node))
        tr__schedule(a);
    return TR_OK;
}

static void ob_push(tr__obox *b) {
    tr__actor *a = b->a;
    if (tr__mq_push_chain_mpsc(&a->mq, b->head, b->tail, b->n))
        tr__schedule(a);
    if (b->ref)
        tr__unref(a);
}

/* Pushes every chain of sc's outbox. Under sc->ctx.ob_lock: by the owner at
 * its turn's end, or by an idle thread while the owner is stuck in a long
 * turn (the owner's epoch section still covers the receivers then). */
void tr__ob_flush(tr__sched *sc) {
    for (unsigned i = 0; i < sc->ctx.ob_n; i++)
        ob_push(&sc->ctx.ob[i]);
    tr__ob_set_count(sc, 0);
}

int tr__deliver(tr_runtime *rt, tr_pid to, tr__msg *m) {
    /* A blocking caller's waiter takes replies and its monitor's DOWN only. */
    bool any = m->pub.kind == TR_MSG_REPLY || m->pub.kind == TR_MSG_DOWN;
    tr__actor *a = any ? tr__acquire_any(rt, to) : tr__acquire(rt, to);
    if (!a) {
        tr__msg_free(m);
        return tr__runtime_stopping(rt) && tr__load_acq_u32(&rt->stopped) ? TR_ECLOSED : TR_ENOPROC;
    }
    int err = tr__push(a, m);
    tr__release_in(rt, a);
    return err;
}

/* The library's event sources (sockets) have no sender and keep their
 * own order (a socket's data is read under its lock, by whichever thread):
 * their messages go straight to the mailbox, never through the calling
 * turn's outbox, which would hold them behind ones another thread pushes
 * meanwhile. */
int tr__send_info(tr_runtime *rt, tr_pid to, uint32_t tag, uint64_t ref, int32_t status,
                  const void *data, size_t size) {
    tr__msg *m = tr__msg_new(tr__mc_here(rt), TR_MSG_INFO, tag, data, size);
    if (!m)
        return TR_ENOMEM;
    m->pub.ref = ref;
    m->pub.status = status;
    tr__actor *a = tr__acquire(rt, to);
    if (!a) {
        tr__msg_free(m);
        return tr__runtime_stopping(rt) && tr__load_acq_u32(&rt->stopped) ? TR_ECLOSED : TR_ENOPROC;
    }
    int err = TR_OK;
    if (a->mq.limit && tr__mq_depth(&a->mq, &a->mqc) >= a->mq.limit) {
        tr__msg_release(m);
        err = TR_EFULL;
    } else if (tr__mq_push_mpsc(&a->mq, &m->node)) {
        tr__schedule(a);
    }
    tr__release_in(rt, a);
    return err;
}

/* Signal order. A signal goes to the signal list (seen before the next
 * message: the immediate effect of kill, and of exits on an actor that does
 * not trap them) and a marker carrying its number goes to the mailbox,
 * after what the sender's turn gathered for the receiver (its outbox), so
 * the marker sits behind every message that sender sent before. An actor that
 * traps exits holds a trappable signal back until its marker comes up
 * (handle_signals, take_marker): the EXIT message keeps its place, as
 * signals between two Erlang processes keep their order. */

/* Makes sure the actor runs and sees its signals without allocating: pushes
 * the actor's own wake node unless that is queued already (a signal whose
 * marker could not be allocated, a kill or shutdown without a block). */
void tr__wake_reserved(tr__actor *a) {
    tr__spin_lock(&a->lock);
    bool push = !(a->lk & TR__LK_WAKE_QUEUED);
    a->lk |= TR__LK_WAKE_QUEUED;
    tr__spin_unlock(&a->lock);
    if (push && tr__mq_push_mpsc(&a->mq, &a->wake))
        tr__schedule(a);
}

/* The owner popped its wake node: a later signal pushes it again. The
 * owner looks at has_sig after this (a signal queued before it was seen
 * under the same lock). */
void tr__wake_taken(tr__actor *a) {
    tr__spin_lock(&a->lock);
    a->lk &= (uint8_t)~TR__LK_WAKE_QUEUED;
    tr__spin_unlock(&a->lock);
}

void tr__push_signal(tr__actor *a, tr__msg *sig) {
    /* The marker also makes sure the actor runs and sees the signal. */
    tr__msg *wake = tr__msg_new(tr__mc_here(a->rt), TR_MSG_INFO, 0, NULL, 0);
    sig->node.next = NULL;
    tr__spin_lock(&a->lock);
    uint32_t w = tr__load_acq_u32(&a->has_sig);
    uint32_t seq = w >> TR__SIG_SEQ_SHIFT;
    if (wake) {
        seq = (seq + 1) & (UINT32_MAX >> TR__SIG_SEQ_SHIFT);
        if (seq == 0)
            seq = 1;
    }
    sig->pub.ref = wake ? seq : 0; /* 0: no marker, the signal acts at once */
    tr__sigs_push(a, sig);
    tr__store_rel_u32(&a->has_sig,
                      (seq << TR__SIG_SEQ_SHIFT) | (w & TR__SIG_KILLED) | TR__SIG_PENDING);
    tr__spin_unlock(&a->lock);
    if (wake) {
        wake->sys = TR__SYS_WAKE;
        wake->pub.ref = seq;
        /* Behind what this turn gathered for a, but not held back with the
         * rest of the outbox: whoever learns of the signal next (a DOWN
         * sent right after an exit's EXIT) finds the marker queued. */
        tr__sched *sc = tr__tls_sched;
        if (sc && sc->ctx.ob_on && tr__ob_count(sc)) {
            tr__spin_lock(&sc->ctx.ob_lock);
            for (unsigned i = sc->ctx.ob_n; i-- > 0;)
                if (sc->ctx.ob[i].a == a) {
                    ob_push(&sc->ctx.ob[i]);
                    sc->ctx.ob[i] =
                        sc->ctx.ob[sc->ctx.ob_n - 1]; /* order between receivers is free */
                    tr__ob_set_count(sc, sc->ctx.ob_n - 1);
                    break;
                }
            tr__spin_unlock(&sc->ctx.ob_lock);
        }
        if (tr__mq_push_mpsc(&a->mq, &wake->node))
            tr__schedule(a);
    }
    if (!wake) /* no marker (out of memory): the signal acts at once */
        tr__wake_reserved(a);
}

/* An undelivered call: tell its caller the server is gone. */
void tr__bounce_call(tr_runtime *rt, tr__msg *m, tr_pid server, const char *why) {
    if (m->pub.kind != TR_MSG_CALL || m->pub.sender.id == 0 || m->sys == TR__SYS_FWD)
        return; /* not a call, nobody waits, or its forwarder answers for it */
    size_t n = strlen(why) + 1;
    tr__msg *r = tr__msg_new(tr__mc_here(rt), TR_MSG_REPLY, m->pub.tag, why, n);
    if (!r)
        return;
    r->pub.ref = m->pub.ref;
    r->pub.status = TR_EEXITED;
    r->pub.sender = server;
    tr__deliver(rt, m->pub.sender, r);
}

int tr_forward(tr_self *self, tr_pid to) {
    tr__actor *a = (tr__actor *)self;
    tr__frame *f = tr__tls_frame;
    if (!a || !f || f->a != a || !f->cur_msg)
        return TR_EINVAL;
    uint32_t kind = f->cur_msg->pub.kind;
    if (kind != TR_MSG_CALL && kind != TR_MSG_CAST && kind != TR_MSG_INFO && kind != TR_MSG_TIMER)
        return TR_EINVAL; /* replies, EXIT and DOWN are the runtime's to deliver */
    if (f->cur_msg->sys != TR__SYS_NONE && f->cur_msg->sys != TR__SYS_FWD)
        return TR_EINVAL;
    if (tr__load_acq_u32(&a->has_sig) & TR__SIG_KILLED)
        return TR_EKILLED;
    tr_runtime *rt = a->rt;
    tr__actor *t = tr__acquire(rt, to);
    if (!t)
        return TR_ENOPROC;
    if (bounded_or_waiter(t)) {
        tr__release_in(rt, t); /* a refused push would free the block */
        return TR_EBUSY;
    }
    tr__msg *m = f->cur_msg;
    m->sys = TR__SYS_FWD;
    f->cur_msg = NULL;
    f->msg_taken = true;
    f->cur_call_replied = true; /* no bounce here if this callback fails */
    tr__push(t, m);             /* unbounded: cannot fail */
    tr__release_in(rt, t);
    tr__sched *sc = tr__tls_sched;
    if (sc)
        sc->ctx.sends++;
    return TR_OK;
}

bool tr_msg_forwarded(const tr_msg *msg) {
    if (!msg)
        return false;
    const tr__msg *m = (const tr__msg *)((const char *)msg - offsetof(tr__msg, pub));
    return m->sys == TR__SYS_FWD;
}

long tr_mailbox_len(tr_runtime *rt, tr_pid pid) {
    if (!rt || pid.id == 0)
        return TR_EINVAL;
    tr__actor *a = tr__acquire(rt, pid);
    if (!a)
        return TR_ENOPROC;
    long n = (long)tr__mq_depth(&a->mq, &a->mqc);
    tr__release(a);
    return n < 0 ? 0 : n;
}

/* A plain thread's receiver (receiver.c) takes ordinary messages too: looked
 * for only when `to` is no actor (waiters have their own region). */
static tr__actor *acquire_receiver(tr_runtime *rt, tr_pid to) {
    tr__actor *a = tr__acquire_any(rt, to);
    if (a && !__atomic_load_n(&a->receiver, __ATOMIC_ACQUIRE)) {
        tr__release(a);
        return NULL;
    }
    return a;
}

static int send_common(tr_runtime *rt, tr_pid to, uint32_t kind, uint32_t tag, const void *data,
                       size_t size, void *owned, void (*dtor)(void *)) {
    if (!rt || (size && !data))
        return TR_EINVAL;
    if (tr__load_acq_u32(&rt->stopped))
        return TR_ECLOSED;
    if (to.id == 0)
        return TR_ENOPROC;
    if (tr__self_killed_here())
        return TR_EKILLED; /* the caller keeps owned data */
    tr__actor *a = tr__acquire(rt, to);
    if (!a && !(a = acquire_receiver(rt, to)))
        return TR_ENOPROC;
    tr__owned o = {owned, dtor};
    tr__msg *m = owned ? tr__msg_new(tr__mc_here(rt), kind, tag, &o, sizeof o)
                       : tr__msg_new(tr__mc_here(rt), kind, tag, data, size);
    if (!m) {
        tr__release(a);
        return TR_ENOMEM;
    }
    if (owned) {
        m->owned = 1;
        m->pub.data = owned;
        m->pub.size = size;
    }
    tr__actor *cur = tr__tls_current;
    m->pub.sender = (cur && cur->rt == rt) ? cur->pid : TR_PID_NONE;
    int err = tr__push(a, m); /* on TR_EFULL the caller keeps owned data */
    tr__release_in(rt, a);
    tr__sched *sc = tr__tls_sched;
    if (sc)
        sc->ctx.sends++;
    return err;
}

int tr_send(tr_runtime *rt, tr_pid to, uint32_t tag, const void *data, size_t size) {
    return send_common(rt, to, TR_MSG_INFO, tag, data, size, NULL, NULL);
}
int tr_cast(tr_runtime *rt, tr_pid to, uint32_t tag, const void *data, size_t size) {
    return send_common(rt, to, TR_MSG_CAST, tag, data, size, NULL, NULL);
}
int tr_cast_owned(tr_runtime *rt, tr_pid to, uint32_t tag, void *data, size_t size,
                  void (*dtor)(void *)) {
    if (!data && size)
        return TR_EINVAL;
    if (!data)
        return send_common(rt, to, TR_MSG_CAST, tag, NULL, 0, NULL, NULL);
    return send_common(rt, to, TR_MSG_CAST, tag, data, size, data, dtor);
}
int tr_send_owned(tr_runtime *rt, tr_pid to, uint32_t tag, void *data, size_t size,
                  void (*dtor)(void *)) {
    if (!data && size)
        return TR_EINVAL;
    if (!data)
        return send_common(rt, to, TR_MSG_INFO, tag, NULL, 0, NULL, NULL);
    return send_common(rt, to, TR_MSG_INFO, tag, data, size, data, dtor);
}

/* Marks the current call as answered when the running actor replies to it. */
void tr__note_reply(tr_runtime *rt, tr_from from) {
    tr__frame *f = tr__tls_frame;
    if (f && f->a->rt == rt && f->cur_call_ref == from.ref && f->cur_msg &&
        tr_pid_eq(f->cur_msg->pub.sender, from.pid))
        f->cur_call_replied = true;
}
