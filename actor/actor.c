/* troupe — the actor: spawn, one turn of an actor (its signals, then up to
 * a batch of messages, each dispatched to the behaviour's callback), exit
 * and destruction, and the calls a callback makes about itself (as
 * ponyc's actor.c and erts's erl_process.c).
 *
 * A dead actor keeps its run token forever (never marks its mailbox empty),
 * so late pushes never schedule it.
 */
#include <stdlib.h>
#include <string.h>

#include <troupe/registry.h>

#include "actor/core.h"

tr__actor_x *tr__actor_x_alloc(tr__actor *a) {
    tr__actor_x *x = (tr__actor_x *)tr__calloc(sizeof *x);
    if (!x)
        return NULL;
    /* Release: the zeroed block is seen by whoever reads the pointer. */
    if (!tr__cas_acqrel_ptr((void **)&a->x, NULL, x)) {
        tr__free(x); /* another thread's came first */
        x = tr__actor_x_peek(a);
    }
    return x;
}

static void drain(tr__actor *a) {
    tr__msg *m;
    while ((m = (tr__msg *)tr__mq_pop_mpsc(&a->mq, &a->mqc)) != NULL) {
        if (tr__is_wake(a, m))
            continue;
        tr__bounce_call(a->rt, m, a->pid, "server exited");
        tr__msg_free(m);
    }
    tr__spin_lock(&a->lock);
    tr__msg *s = tr__sigs_take_all(a);
    tr__spin_unlock(&a->lock);
    while (s) {
        tr__msg *n = (tr__msg *)s->node.next;
        tr__msg_free(s);
        s = n;
    }
}

void tr__actor_destroy(tr__actor *a) {
    tr_runtime *rt = a->rt;
    /* Every sender that found us has pushed and released: the queue is
     * complete. Half-done pushes are impossible (a pusher holds a ref). */
    drain(a);
    uint32_t idx = tr__pid_index(a->pid);
    tr__slot *s = tr__slot_at(rt, idx);
    tr__store_rel_ptr((void **)&s->actor, NULL);
    uint32_t gen = (tr__pid_gen(a->pid) + 1) & TR__PID_GEN_MASK;
    if (gen == 0)
        gen = 1;
    tr__store_rel_u64(&s->w, (uint64_t)gen << 32);
    tr__pidtab_free(rt, idx);
    if (a->is_waiter)
        tr__waiter_fini(tr__waiter_of(a));
    tr__actor_x *x = tr__actor_x_peek(a);
    if (x) {
        if (x->cont) /* a continuation that never ran (the actor stopped first) */
            tr__msg_free(x->cont);
        for (uint32_t i = 0; i < x->n_links; i++)
            tr__pre_free(x->links[i].pre);
        tr__free(x->links);
        tr__free(x);
    }
    tr__free(a);
    TR__COUNT_ALLOCATED(rt, -1);
    if (tr__runtime_stopping(rt)) {
        pthread_mutex_lock(&rt->stop_mu);
        pthread_cond_broadcast(&rt->stop_cv);
        pthread_mutex_unlock(&rt->stop_mu);
    }
}

/* Enters a callback frame for a on this thread. */
static inline void frame_push(tr__frame *f, tr__actor *a) {
    f->prev = tr__tls_frame;
    f->a = a;
    f->cur_msg = NULL;
    f->msg_taken = false;
    f->cur_call_ref = 0;
    f->cur_call_replied = false;
    f->stop_pending = false;
    f->fiber_jb = NULL;
    f->fiber_poked = false;
    tr__tls_frame = f;
    tr__tls_current = a;
}

static inline void frame_pop(tr__frame *f) {
    tr__tls_frame = f->prev;
    tr__tls_current = f->prev ? f->prev->a : NULL;
}

/* Runs terminate (once), guarded against a crash inside it. */
static void run_terminate(tr__actor *a, tr_reason reason) {
    if ((a->flags & TR__F_TERMINATED) || !a->b->terminate)
        return;
    tr__flag_set(a, TR__F_TERMINATED, true);
    tr__frame f;
    frame_push(&f, a);
    if (setjmp(f.jb) == 0)
        a->b->terminate((tr_self *)a, tr__actor_state(a), reason);
    frame_pop(&f);
}

/* The idle timeout (tr_idle_timeout) is off: a message reached the actor,
 * it set another, or it stops. A timeout message already queued is
 * dropped when it comes up (its number is old). */
static void idle_cancel(tr__actor *a) {
    if (a->flags & TR__F_IDLE) {
        tr_cancel_timer(a->rt, a->x->idle_timer);
        a->x->idle_timer = 0;
        a->x->idle_seq++;
        tr__flag_set(a, TR__F_IDLE, false);
    }
}

/* Used by the run loop: stop the actor (owner thread). No terminate once a
 * kill took effect (it may have come while terminate was due). */
static void die(tr__actor *a, tr_reason reason, bool terminate) {
    idle_cancel(a);
    if (terminate && !(tr__load_acq_u32(&a->has_sig) & TR__SIG_KILLED))
        run_terminate(a, reason);
    tr__exit_actor(a, reason, false);
}

/* ------------------------------------------------------------------------ */
/* spawn                                                                     */
/* ------------------------------------------------------------------------ */

static int spawn(tr_runtime *rt, const tr_behaviour *b, size_t state_size, const void *arg,
                 tr_pid link_to, bool trap, size_t max_mailbox, const char *name, tr_pid keeper,
                 tr_reason *why, tr_pid *out);

int tr__spawn(tr_runtime *rt, const tr_behaviour *b, size_t state_size, const void *arg,
              tr_pid link_to, bool trap, size_t max_mailbox, const char *name, tr_pid keeper,
              tr_start_error *error, tr_pid *out) {
    tr_reason why = tr_reason_normal();
    int rc = spawn(rt, b, state_size, arg, link_to, trap, max_mailbox, name, keeper, &why, out);
    if (error) {
        memset(error, 0, sizeof *error);
        error->child_index = -1;
        if (rc == TR_EINIT || (rc == TR_ENOMEM && why.kind == TR_EXIT_ERROR))
            error->reason = why;
        else if (rc)
            error->reason = tr_reason_error(rc, tr_strerror(rc));
    }
    return rc;
}

/* tr__spawn's work; *why gets init's reason when init stopped or failed. */
static int spawn(tr_runtime *rt, const tr_behaviour *b, size_t state_size, const void *arg,
                 tr_pid link_to, bool trap, size_t max_mailbox, const char *name, tr_pid keeper,
                 tr_reason *why, tr_pid *out) {
    if (!rt || !b)
        return TR_EINVAL;
    if (name && (name[0] == '\0' || strnlen(name, TR_NAME_MAX + 1) > TR_NAME_MAX))
        return TR_EINVAL;
    if (state_size > TR__SIZE_MAX)
        return TR_EINVAL; /* no allocation can hold it (the sum below could wrap) */
    if (tr__runtime_stopping(rt))
        return TR_ECLOSED;
    if (tr__self_killed_here())
        return TR_EKILLED;
    /* Zeroed: a small block costs less zeroed here (the header's size is
     * known, so the compiler stores it inline) than by the allocator. */
    tr__actor *a = (tr__actor *)(state_size <= 256 ? tr__malloc(TR__ACTOR_HDR + state_size)
                                                   : tr__calloc(TR__ACTOR_HDR + state_size));
    if (!a)
        return TR_ENOMEM;
    if (state_size <= 256) {
        memset(a, 0, TR__ACTOR_HDR);
        if (state_size)
            memset((char *)a + TR__ACTOR_HDR, 0, state_size);
    }
    int err = TR_OK;
    uint32_t idx = tr__pidtab_alloc(rt, false, &err);
    if (!idx) {
        tr__free(a);
        return err;
    }
    tr__slot *s = tr__slot_at(rt, idx);
    uint32_t gen = (uint32_t)(tr__load_acq_u64(&s->w) >> 32);
    a->rt = rt;
    a->pid = tr__pid_make(rt->id, gen, idx);
    a->b = b;
    if (link_to.id)
        a->up.parent = link_to;
    else if (tr__tls_current && tr__tls_current->rt == rt)
        a->up.parent = tr__tls_current->pid;
    /* Spawn order matters only for top-level actors (shutdown stops them
     * newest first): only they take a number from the shared counter. */
    if (a->up.parent.id == 0) {
        a->up.seq = tr__faa_acqrel_u64(&rt->seq, 1) + 1;
        a->flags |= TR__F_TOP;
    }
    if (trap)
        a->flags |= TR__F_TRAP_EXIT;
    /* We hold the run token until init is done: pushes during init queue. */
    tr__mq_init(&a->mq, &a->mqc, true);
    a->mq.limit = max_mailbox > UINT32_MAX ? UINT32_MAX : (uint32_t)max_mailbox;
    TR__COUNT_ALLOCATED(rt, 1);
    TR__COUNT_ALIVE(rt, 1);
    TR__COUNT_SPAWN(rt);
    tr__store_rel_ptr((void **)&s->actor, a);
    /* Publish: generation | ALIVE | one self reference. */
    tr__store_rel_u64(&s->w, ((uint64_t)gen << 32) | TR__SLOT_ALIVE | 1);

    if (link_to.id) {
        err = tr__link_pair(a, link_to, true);
        if (err) {
            tr__flag_set(a, TR__F_TERMINATED, true);
            tr__exit_actor(a, tr_reason_normal(), true);
            return err;
        }
    }

    /* Named start: registered before init runs, as gen_server:start/4 with
     * {local, Name}; a name taken leaves nothing behind (init never runs). */
    if (name) {
        tr_pid holder = TR_PID_NONE;
        err = tr__name_claim(rt, name, a->pid, keeper, &holder);
        if (err) {
            a->flags |= TR__F_TERMINATED;
            tr__exit_actor(a, tr_reason_normal(), true);
            if (err == TR_EEXIST && out)
                *out = holder;
            return err;
        }
    }

    tr__frame f;
    f.stop_pending = false;
    volatile bool failed = false;
    if (b->init) { /* without one, nothing runs here (nor unwinds) */
        frame_push(&f, a);
        if (setjmp(f.jb) == 0) {
            int r = b->init((tr_self *)a, tr__actor_state(a), arg);
            if (r != TR_CONTINUE || f.stop_pending)
                failed = true;
        } else {
            failed = true;
        }
        frame_pop(&f);
    }
    if (failed) {
        tr_reason reason = f.stop_pending ? f.stop_reason : tr_reason_normal();
        *why = reason;
        tr__flag_set(a, TR__F_TERMINATED, true); /* OTP: no terminate after a failed init */
        tr__log_init_failed(a, &reason);
        tr__exit_actor(a, reason, true);
        /* An init that ran out of memory says so (the caller may retry). */
        return reason.kind == TR_EXIT_ERROR && reason.code == TR_ENOMEM ? TR_ENOMEM : TR_EINIT;
    }
    tr_pid pid = a->pid;
    if (out)
        *out = pid;
    /* What init sent is still in this thread's outbox when the spawn comes
     * from a callback: it goes before the token, since the child's first
     * turn may start at once on another thread and its sends must not
     * overtake these (one sender, one receiver: FIFO). */
    tr__sched *sc = tr__tls_sched;
    if (sc && sc->ctx.ob_on && tr__ob_count(sc)) {
        tr__spin_lock(&sc->ctx.ob_lock);
        tr__ob_flush(sc);
        tr__spin_unlock(&sc->ctx.ob_lock);
    }
    /* Give the token back, or schedule when messages came in during init,
     * or when init set a continuation (a fiber runs its own, at its start). */
    if (((a->flags & TR__F_CONT) && !tr__is_fiber(a)) || !tr__mq_markempty_mpsc(&a->mq, &a->mqc))
        tr__schedule(a);
    return TR_OK;
}

int tr__spawn_kept(tr_runtime *rt, const tr_behaviour *b, const void *arg,
                   const tr_spawn_opts *opts, tr_pid keeper, tr_pid *out) {
    tr_spawn_opts o = {0};
    if (opts)
        o = *opts;
    if (!o.on_fiber)
        return tr__spawn(rt, b, b ? b->state_size : 0, arg, o.link_to, o.trap_exit, o.max_mailbox,
                         o.name, keeper, o.error, out);
    if (o.error) { /* the fiber's checks come before tr__spawn fills it */
        memset(o.error, 0, sizeof *o.error);
        o.error->child_index = -1;
    }
    int rc = tr__fiber_spawn_behaviour(rt, b, arg, &o, keeper, out);
    if (o.error && rc && rc != TR_EINIT && o.error->reason.kind == TR_EXIT_NORMAL)
        o.error->reason = tr_reason_error(rc, tr_strerror(rc));
    return rc;
}

int tr_spawn(tr_runtime *rt, const tr_behaviour *b, const void *arg, const tr_spawn_opts *opts,
             tr_pid *out) {
    return tr__spawn_kept(rt, b, arg, opts, TR_PID_NONE, out);
}

int tr_spawn_link(tr_self *self, const tr_behaviour *b, const void *arg, tr_pid *out) {
    tr__actor *me = (tr__actor *)self;
    if (!me)
        return TR_EINVAL;
    return tr__spawn(me->rt, b, b ? b->state_size : 0, arg, me->pid, false, 0, NULL, TR_PID_NONE,
                     NULL, out);
}

/* ------------------------------------------------------------------------ */
/* the run loop                                                              */
/* ------------------------------------------------------------------------ */

static _Noreturn void crash(tr__frame *f, int code, const char *text) {
    f->stop_pending = true;
    f->stop_reason = tr_reason_error(code, text);
    longjmp(f->jb, 1);
}

/* Takes the oldest exit signal, or NULL. Owner thread. */
static tr__msg *take_signal(tr__actor *a) {
    tr__spin_lock(&a->lock);
    tr__msg *s = tr__sigs_pop(a);
    uint32_t w = tr__load_acq_u32(&a->has_sig) & ~TR__SIG_PENDING;
    tr__store_rel_u32(&a->has_sig, a->sigs || (a->lk & TR__LK_SHUTDOWN) ? w | TR__SIG_PENDING : w);
    tr__spin_unlock(&a->lock);
    return s;
}

/* A kill from outside took effect: stop now, without terminate. */
static bool stop_if_killed(tr__actor *a, tr_reason *why, bool *terminate) {
    if (!(tr__load_acq_u32(&a->has_sig) & TR__SIG_KILLED))
        return false;
    *why = tr__reason_make(TR_EXIT_KILLED);
    *terminate = false;
    return true;
}

/* A trappable exit signal (not kill, not the runtime's shutdown) with a
 * marker, for an actor that traps exits: waits for its marker. */
static bool signal_waits_for_marker(const tr__actor *a, const tr__msg *s) {
    if (s->sys != TR__SYS_SIG_EXIT || s->pub.ref == 0 || !(a->flags & TR__F_TRAP_EXIT))
        return false;
    tr_reason r;
    memcpy(&r, s->bytes, sizeof r);
    return !(r.kind == TR_EXIT_KILL && !s->via_link);
}

/* Acts on one exit signal and frees it. Returns true when the actor must
 * stop. */
static bool act_on_signal(tr__frame *f, tr__actor *a, tr__msg *s, tr_reason *why, bool *terminate) {
    bool stop = false;
    s->pub.ref = 0; /* the marker number is ours; EXIT messages carry ref 0 */
    if (s->sys == TR__SYS_SIG_SHUTDOWN) {
        stop = true;
        *why = tr_reason_shutdown();
        *terminate = true;
    } else {
        tr_reason r;
        memcpy(&r, s->bytes, sizeof r);
        bool deliver = true;
        if (s->via_link) {
            tr__spin_lock(&a->lock);
            deliver = tr__links_remove_locked(a, TR__L_LINK, s->pub.sender, 0);
            tr__spin_unlock(&a->lock);
        }
        if (!deliver) {
            /* unlinked meanwhile: the signal is void */
        } else if (r.kind == TR_EXIT_KILL && !s->via_link) {
            stop = true;
            *why = r;
            why->kind = TR_EXIT_KILLED;
            *terminate = false;
        } else if (a->flags & TR__F_TRAP_EXIT) {
            idle_cancel(a);
            if (a->b->handle_info) {
                s->pub.kind = TR_MSG_EXIT;
                f->cur_msg = s; /* freed by the crash path if it unwinds */
                int rc = a->b->handle_info((tr_self *)a, tr__actor_state(a), &s->pub);
                f->cur_msg = NULL;
                if (f->msg_taken) { /* a fiber keeps it in its queue */
                    f->msg_taken = false;
                    s = NULL;
                }
                if (rc != TR_CONTINUE || f->stop_pending) {
                    stop = true;
                    *why = f->stop_pending ? f->stop_reason : tr_reason_normal();
                    *terminate = true;
                }
            }
        } else if (r.kind != TR_EXIT_NORMAL || tr_pid_eq(s->pub.sender, a->pid)) {
            stop = true;
            *why = r;
            /* OTP: a gen_server killed by an exit signal it does not
             * trap does not run terminate. */
            *terminate = false;
        }
    }
    if (s)
        tr__msg_free(s);
    return stop;
}

/* Handles queued exit signals one at a time (so a crash in a trapped EXIT
 * handler loses nothing); trapped ones wait for their marker. Returns true
 * when the actor must stop. */
static bool handle_signals(tr__frame *f, tr__actor *a, tr_reason *why, bool *terminate) {
    tr__spin_lock(&a->lock);
    bool shut = (a->lk & TR__LK_SHUTDOWN) != 0; /* the runtime's shutdown, without a block */
    tr__spin_unlock(&a->lock);
    if (shut) {
        *why = tr_reason_shutdown();
        *terminate = true;
        return true;
    }
    tr__msg *s;
    while ((s = take_signal(a)) != NULL) {
        if (stop_if_killed(a, why, terminate)) {
            tr__msg_free(s);
            return true;
        }
        tr__actor_x *x;
        /* Held back in the side block; without one (out of memory) it
         * acts now, as a signal whose marker could not be allocated. */
        if (signal_waits_for_marker(a, s) && (x = tr__actor_x_get(a)) != NULL) {
            s->node.next = NULL;
            tr__msg **p = &x->deferred;
            while (*p)
                p = (tr__msg **)&(*p)->node.next;
            *p = s;
            continue;
        }
        if (act_on_signal(f, a, s, why, terminate))
            return true;
    }
    return false;
}

/* A signal's marker came up in the mailbox: the signal it stands for, if
 * held back, takes effect now, behind the messages its sender sent before
 * it. Returns true when the actor must stop. */
static bool take_marker(tr__frame *f, tr__actor *a, uint32_t seq, tr_reason *why, bool *terminate) {
    /* Its signal was queued before the marker was pushed: in the list
     * (pending) or taken already. */
    if ((tr__load_acq_u32(&a->has_sig) & TR__SIG_PENDING) && handle_signals(f, a, why, terminate))
        return true;
    tr__actor_x *x = tr__actor_x_peek(a);
    for (tr__msg **p = x ? &x->deferred : NULL; p && *p; p = (tr__msg **)&(*p)->node.next) {
        tr__msg *s = *p;
        if ((uint32_t)s->pub.ref != seq)
            continue;
        *p = (tr__msg *)s->node.next;
        if (stop_if_killed(a, why, terminate)) {
            tr__msg_free(s);
            return true;
        }
        return act_on_signal(f, a, s, why, terminate);
    }
    return false;
}

/* Answers tr_get_state / tr_replace_state between two callbacks (for a
 * behaviour on a fiber: its state block, parked or not). */
static void state_request(tr__actor *a, const tr_msg *msg) {
    void *state = tr__self_state((tr_self *)a);
    const tr_behaviour *sb = tr__self_behaviour((tr_self *)a);
    size_t size = state && sb ? sb->state_size : 0;
    tr_from from = {a->rt, msg->sender, msg->ref};
    if (msg->tag == TR_TAG_GET_STATE) {
        tr_reply(from, 0, state, size);
        return;
    }
    tr_state_change c;
    if (msg->size != sizeof c) {
        tr__reply_status(from, TR_EINVAL, "bad state change");
        return;
    }
    memcpy(&c, msg->data, sizeof c);
    if (!c.fn) {
        tr__reply_status(from, TR_EINVAL, "bad state change");
        return;
    }
    c.fn(state, size, c.arg);
    tr_reply(from, 0, NULL, 0);
}

/* Dispatches one message. Returns true to stop (reason in f->stop_reason). */
static bool dispatch(tr__frame *f, tr__actor *a, tr__msg *m) {
    void *state = tr__actor_state(a);
    const tr_behaviour *b = a->b;
    tr_msg *msg = &m->pub;
    int rc = TR_CONTINUE;
    /* The idle timeout: any message cancels it; its own goes to handle_info
     * unless it came too late. */
    if (m->sys == TR__SYS_IDLE) {
        if (!(a->flags & TR__F_IDLE) || msg->ref != a->x->idle_seq)
            return false;
        a->x->idle_timer = 0;
        tr__flag_set(a, TR__F_IDLE, false);
    } else {
        idle_cancel(a);
    }
    if (m->sys == TR__SYS_CONTINUE) {
        if (!b->handle_continue)
            crash(f, TR_EINVAL, "unexpected continue");
        rc = b->handle_continue((tr_self *)a, state, msg);
        goto done;
    }
    if (m->sys == TR__SYS_STOP) { /* tr_stop_server: stop now, terminate runs */
        f->stop_pending = true;
        memcpy(&f->stop_reason, m->bytes, sizeof f->stop_reason);
        return true;
    }
    if (m->sys == TR__SYS_REQ_TIMEOUT) {
        if (!tr__req_take(a, msg->ref, true))
            return false; /* answered already */
        msg->kind = TR_MSG_REPLY;
        msg->status = TR_ETIMEDOUT;
        msg->tag = 0;
        msg->data = NULL;
        msg->size = 0;
    }
    switch (msg->kind) {
    case TR_MSG_CALL: {
        if (msg->tag == TR_TAG_GET_STATE || msg->tag == TR_TAG_REPLACE_STATE) {
            state_request(a, msg);
            return false;
        }
        if (!b->handle_call)
            crash(f, TR_EINVAL, "unexpected call");
        /* A forwarded call is its forwarder's to answer for on failure. */
        f->cur_call_ref = m->sys == TR__SYS_FWD ? 0 : msg->ref;
        f->cur_call_replied = false;
        tr_from from = {a->rt, msg->sender, msg->ref};
        rc = b->handle_call((tr_self *)a, state, msg, from);
        f->cur_call_ref = 0;
        break;
    }
    case TR_MSG_CAST:
        if (!b->handle_cast)
            crash(f, TR_EINVAL, "unexpected cast");
        rc = b->handle_cast((tr_self *)a, state, msg);
        break;
    case TR_MSG_REPLY:
        if (m->sys != TR__SYS_REQ_TIMEOUT) {
            if (!tr__req_take(a, msg->ref, false))
                return false; /* late or unknown reply: dropped */
        }
        if (b->handle_info)
            rc = b->handle_info((tr_self *)a, state, msg);
        break;
    case TR_MSG_DOWN: {
        tr__spin_lock(&a->lock);
        bool mine = tr__links_find_locked(a, TR__L_MONITORING, msg->ref, NULL);
        if (mine)
            tr__links_remove_locked(a, TR__L_MONITORING, TR_PID_NONE, msg->ref);
        tr__spin_unlock(&a->lock);
        if (!mine)
            return false; /* demonitored */
        tr_pid server;
        tr__actor_x *x = tr__actor_x_peek(a);
        if (x && x->rq && tr__req_server_down(a, msg->ref, &server)) {
            /* The server of pending requests exited: each ends with
             * TR_EEXITED and the reason as text. The monitor was ours. */
            tr_reason why;
            memcpy(&why, m->bytes, sizeof why);
            char text[96]; /* as a blocking caller's (call.c) */
            tr_reason_format(&why, text, sizeof text);
            uint64_t ref;
            while (tr__req_next_for_server(a, server, &ref)) {
                tr_msg r = {.kind = TR_MSG_REPLY,
                            .sender = server,
                            .ref = ref,
                            .status = TR_EEXITED,
                            .data = text,
                            .size = strlen(text) + 1};
                if (b->handle_info) {
                    rc = b->handle_info((tr_self *)a, state, &r);
                    if (rc != TR_CONTINUE || f->stop_pending)
                        break;
                }
            }
            if (!f->stop_pending && rc != TR_CONTINUE) {
                f->stop_pending = true;
                f->stop_reason = tr_reason_normal();
            }
            return f->stop_pending;
        }
        if (b->handle_info)
            rc = b->handle_info((tr_self *)a, state, msg);
        break;
    }
    default:
        if (b->handle_info)
            rc = b->handle_info((tr_self *)a, state, msg);
        else
            tr__log_unexpected(a, msg); /* OTP's default handle_info logs it */
        break;
    }
done:
    if (rc != TR_CONTINUE && !f->stop_pending) {
        f->stop_pending = true;
        f->stop_reason = tr_reason_normal();
    }
    return f->stop_pending;
}

/* An exit that OTP reports with a crash report: the actor stopped itself
 * (a crash, or tr_stop) with a reason other than normal and shutdown. */
static inline bool crash_reason(const tr_reason *r) {
    return r->kind != TR_EXIT_NORMAL && r->kind != TR_EXIT_SHUTDOWN;
}

/* Introspection and metrics: relaxed stores by the owner, once per turn. */
static inline void turn_stats(tr__sched *sched, tr__actor *a, unsigned n) {
    tr__store_rlx_u64(&a->n_handled, a->n_handled + n);
    if (sched) {
        tr__store_rlx_u64(&sched->ctx.m_msgs, sched->ctx.m_msgs + n);
        tr__store_rlx_u16(&a->last_sched, (uint16_t)(sched->index + 1));
    }
}

/* Senders muted on a (sched.c): the owner looks at its turns' ends. */
static inline bool has_muted(const tr__actor *a) {
    tr__actor_x *x = tr__actor_x_peek(a);
    return x && tr__load_acq_ptr((void *const *)&x->muted);
}

void tr__turn_pass(tr__sched *s, tr__frame *f, tr__actor *to) {
    turn_stats(s, f->a, 1);
    f->a = to;
    tr__tls_current = to;
    s->ctx.sends = 0;
    s->ctx.direct_n = 0;
}

void tr__turn_close(tr__actor *a) {
    if ((tr__load_acq_u32(&a->has_sig) & TR__SIG_PENDING) || has_muted(a) ||
        !tr__mq_markempty_mpsc(&a->mq, &a->mqc))
        tr__schedule_yield(a);
}

static void turn_end(tr__sched *sched) {
    if (sched) {
        sched->ctx.ob_on = false; /* first: receivers woken now run next here, no wake-up */
        if (tr__ob_count(sched)) {
            tr__spin_lock(&sched->ctx.ob_lock);
            tr__ob_flush(sched);
            tr__spin_unlock(&sched->ctx.ob_lock);
        }
    }
}

/* Pokes the fiber *a of frame f's turn (tr__fiber_poke): true when it
 * finished. When it handed the thread to other fibers, the turn goes on as
 * the last one's: *a is that fiber, and its count (*n, *counted) starts
 * anew (the others' turns were counted at each hand-off). */
static inline bool poke(tr__frame *f, tr__actor **a, volatile unsigned *n,
                        volatile unsigned *counted) {
    bool finished = tr__fiber_poke(f, *a);
    if (f->a != *a) {
        *a = f->a;
        *n = 1;
        *counted = 0;
    }
    return finished;
}

/* a changes after the setjmp below when a fiber hands the thread to another
 * (the turn goes on as the last one's); the path a longjmp takes reads it
 * anew from the frame before any use, so its clobbered value is never read. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wclobbered"
void tr__run(tr__sched *sched, tr__actor *a) {
    tr__frame f;
    frame_push(&f, a);
    volatile unsigned n = 0;
    unsigned batch = a->rt->batch;
    const bool fiber = tr__is_fiber(a); /* read once: a's behaviour never changes */
    if (sched) {
        sched->ctx.sends = 0;
        sched->ctx.mute_to = NULL;
        sched->ctx.direct_n = 0;
        sched->ctx.ob_on = true;
    }
    tr_reason why;
    volatile bool terminate_v = true; /* written after setjmp */
    volatile bool reported = false;   /* the crash report is out */
    volatile unsigned counted = 0;    /* of n, what turn_stats has counted */
    if (setjmp(f.jb) != 0) {
        /* tr_fail unwound out of a callback. */
        a = f.a; /* a fiber's hand-off may have changed it */
        tr__msg *m = f.cur_msg;
        f.cur_msg = NULL;
        reported = crash_reason(&f.stop_reason);
        if (reported)
            tr__log_crash(a, &f.stop_reason, m ? &m->pub : NULL);
        if (m) {
            if (m->pub.kind == TR_MSG_CALL && f.cur_call_ref == m->pub.ref && !f.cur_call_replied) {
                char text[80];
                tr_reason_format(&f.stop_reason, text, sizeof text);
                tr__bounce_call(a->rt, m, a->pid, text);
            }
            f.cur_call_ref = 0;
            tr__msg_free(m);
        }
        why = f.stop_reason;
        terminate_v = true;
        goto stop;
    }
    while (n < batch) {
        bool term = true;
        if ((tr__load_acq_u32(&a->has_sig) & (TR__SIG_PENDING | TR__SIG_KILLED)) &&
            (stop_if_killed(a, &why, &term) || handle_signals(&f, a, &why, &term))) {
            terminate_v = term;
            goto stop;
        }
        if (fiber && (tr__fiber_yielded(a) || tr__fiber_woken(a))) { /* it goes on now */
            n = n + 1;
            if (poke(&f, &a, &n, &counted)) {
                why = f.stop_reason;
                terminate_v = true;
                goto stop;
            }
            if (tr__fiber_yielded(a))
                break; /* yielded again: back of the queue */
            continue;
        }
        tr__msg *m;
        if ((a->flags & TR__F_CONT) && !fiber) { /* tr_continue: before any other message */
            m = tr__cont_take(a);
        } else {
            m = (tr__msg *)tr__mq_pop_mpsc(&a->mq, &a->mqc);
        }
        if (!m) {
            if (tr__load_acq_u32(&a->has_sig) & TR__SIG_PENDING)
                continue;
            /* This turn's gathered sends go before the token: once it is
             * back, the actor can run on another thread at once, and its
             * next sends must not overtake these (one sender, one receiver:
             * FIFO; a pool's DRAIN must not pass the jobs sent before it). */
            if (sched && tr__ob_count(sched)) {
                tr__spin_lock(&sched->ctx.ob_lock);
                tr__ob_flush(sched);
                tr__spin_unlock(&sched->ctx.ob_lock);
            }
            turn_stats(sched, a, n - counted); /* before the token goes */
            counted = n;
            /* Senders muted on us go back to the run queues (sched.c):
             * our backlog is gone. */
            if (has_muted(a))
                tr__unmute(a);
            if (tr__mq_markempty_mpsc(&a->mq, &a->mqc))
                goto out;    /* token given back */
            tr__cpu_relax(); /* a push is half-done */
            continue;
        }
        if (tr__is_wake(a, m)) {
            tr__wake_taken(a); /* signals are looked at next */
            if (fiber) {
                n = n + 1;
                if (poke(&f, &a, &n, &counted)) {
                    why = f.stop_reason;
                    terminate_v = true;
                    goto stop;
                }
                if (tr__fiber_yielded(a))
                    break; /* its tr_yield: back of the queue */
            }
            continue;
        }
        n = n + 1;
        if (m->sys == TR__SYS_WAKE) {
            uint32_t seq = (uint32_t)m->pub.ref;
            tr__msg_free(m);
            bool term = true;
            if (seq && take_marker(&f, a, seq, &why, &term)) {
                terminate_v = term;
                goto stop;
            }
            continue;
        }
        f.cur_msg = m;
        bool stop = dispatch(&f, a, m);
        f.cur_msg = NULL;
        if (stop && crash_reason(&f.stop_reason)) {
            reported = true;
            tr__log_crash(a, &f.stop_reason, f.msg_taken ? NULL : &m->pub);
        }
        if (f.msg_taken)
            f.msg_taken = false; /* forwarded: another mailbox has it */
        else
            tr__msg_free(m);
        if (stop) {
            why = f.stop_reason;
            terminate_v = true;
            goto stop;
        }
        if (fiber && tr__fiber_yielded(a))
            break; /* a fiber resumed by this message called tr_yield */
        if (sched && sched->ctx.sends >= TR__TURN_SENDS)
            break; /* sent a lot: let the receivers run */
    }
    /* Batch used up: back of the queue, or muted on an overloaded receiver
     * of this turn's sends. */
    frame_pop(&f);
    turn_stats(sched, a, n - counted);
    turn_end(sched);
    if (has_muted(a) && tr__mq_depth(&a->mq, &a->mqc) < TR__MUTE_LOW)
        tr__unmute(a);
    /* Only a flooding producer's turn (it sent TR__TURN_SENDS messages) is
     * muted: an actor that forwards what it handles (a pool's manager)
     * goes on, or one slow receiver would hold up all its routes. */
    if (!(sched && sched->ctx.mute_to &&
          tr__turn_mute(sched, a, sched->ctx.sends >= TR__TURN_SENDS)))
        tr__schedule_yield(a);
    return;
stop:
    frame_pop(&f);
    if (terminate_v && !reported && crash_reason(&why))
        tr__log_crash(a, &why, NULL);
    turn_stats(sched, a, n - counted);
    die(a, why, terminate_v);
    turn_end(sched);
    if (sched && sched->ctx.mute_to)
        (void)tr__turn_mute(sched, a, false); /* drops the hold on the receiver */
    return;
out:
    frame_pop(&f);
    turn_end(sched);
    if (sched && sched->ctx.mute_to)
        (void)tr__turn_mute(sched, a, false);
}
#pragma GCC diagnostic pop

/* ------------------------------------------------------------------------ */
/* public: inside a callback                                                 */
/* ------------------------------------------------------------------------ */

tr_pid tr_self_pid(const tr_self *self) {
    return self ? ((const tr__actor *)self)->pid : TR_PID_NONE;
}
tr_runtime *tr_self_runtime(const tr_self *self) {
    return self ? ((const tr__actor *)self)->rt : NULL;
}
void *tr__self_state(const tr_self *self) {
    if (self && tr__is_fiber((const tr__actor *)self))
        return tr__fiber_bstate((const tr__actor *)self); /* its behaviour's state, if any */
    return self ? tr__actor_state((tr__actor *)self) : NULL;
}
tr_pid tr__self_parent(const tr_self *self) {
    return self ? tr__actor_parent((const tr__actor *)self) : TR_PID_NONE;
}
const tr_behaviour *tr__self_behaviour(const tr_self *self) {
    if (self && tr__is_fiber((const tr__actor *)self))
        return tr__fiber_bbehaviour((const tr__actor *)self);
    return self ? ((const tr__actor *)self)->b : NULL;
}

bool tr_trap_exit(tr_self *self, bool on) {
    tr__actor *a = (tr__actor *)self;
    if (!a)
        return false;
    bool old = (a->flags & TR__F_TRAP_EXIT) != 0;
    tr__flag_set(a, TR__F_TRAP_EXIT, on);
    return old;
}

int tr_stop(tr_self *self, tr_reason reason) {
    tr__frame *f = tr__tls_frame;
    if (f && self && f->a == (tr__actor *)self && f->fiber_jb)
        return tr__fiber_stop(f, reason); /* a fiber's body ends at once; a behaviour's
                                             callback on a fiber stops after it returns */
    if (f && self && f->a == (tr__actor *)self) {
        f->stop_pending = true;
        f->stop_reason = tr__reason_sealed(reason);
    }
    return TR_STOP;
}

int tr_continue(tr_self *self, uint32_t tag, const void *data, size_t size) {
    tr__frame *f = tr__tls_frame;
    tr__actor *a = (tr__actor *)self;
    if (!a || !f || f->a != a || (size && !data))
        return TR_EINVAL;
    if (tr__is_fiber(a) && !tr__fiber_bbehaviour(a))
        return TR_EINVAL; /* a plain fiber has no handle_continue */
    if (a->flags & TR__F_CONT)
        return TR_EBUSY;
    tr__actor_x *x = tr__actor_x_get(a);
    if (!x)
        return TR_ENOMEM;
    /* Runs first in the actor's next turn (init's: its first), maybe on
     * another thread: tr__msg_free returns the block wherever it is freed. */
    tr__msg *m = tr__msg_new(tr__mc_here(a->rt), TR_MSG_CONTINUE, tag, data, size);
    if (!m)
        return TR_ENOMEM;
    m->sys = TR__SYS_CONTINUE;
    m->pub.sender = a->pid;
    x->cont = m;
    tr__flag_set(a, TR__F_CONT, true);
    return TR_CONTINUE;
}

int tr_idle_timeout(tr_self *self, tr_duration_ms timeout_ms) {
    tr__frame *f = tr__tls_frame;
    tr__actor *a = (tr__actor *)self;
    if (!a || !f || f->a != a || (timeout_ms < 0 && timeout_ms != TR_INFINITY))
        return TR_EINVAL;
    if (tr__is_fiber(a) && !tr__fiber_bbehaviour(a))
        return TR_EINVAL; /* a plain fiber has tr_receive's timeout */
    if (tr__self_killed_here())
        return TR_EKILLED;
    idle_cancel(a); /* the last call of the callback wins */
    if (timeout_ms == TR_INFINITY)
        return TR_CONTINUE;
    tr__actor_x *x = tr__actor_x_get(a);
    if (!x)
        return TR_ENOMEM;
    uint64_t seq = ++x->idle_seq;
    tr_timer t = 0;
    int err = tr__timer_start(a->rt, a->pid, timeout_ms, 0, TR_MSG_TIMEOUT, TR__SYS_IDLE, 0, seq,
                              NULL, 0, &t);
    if (err)
        return err;
    x->idle_timer = t;
    tr__flag_set(a, TR__F_IDLE, true);
    return TR_CONTINUE;
}

void tr_fail(tr_self *self, tr_reason reason) {
    tr__frame *f = tr__tls_frame;
    if (!self || !f || f->a != (tr__actor *)self) {
        char buf[96];
        fprintf(stderr, "troupe: tr_fail called outside a callback (reason %s)\n",
                tr_reason_format(&reason, buf, sizeof buf));
        abort();
    }
    if (f->fiber_jb)
        tr__fiber_unwind(f, reason); /* to the fiber's trampoline, on its own stack */
    f->stop_pending = true;
    f->stop_reason = tr__reason_sealed(reason);
    longjmp(f->jb, 1);
}

bool tr__self_store_if_alive(tr_self *self, uint64_t *p, uint64_t v) {
    tr__actor *a = (tr__actor *)self;
    tr__spin_lock(&a->lock);
    bool alive = !(a->lk & TR__LK_EXITING);
    if (alive)
        tr__store_rel_u64(p, v);
    tr__spin_unlock(&a->lock);
    return alive;
}
