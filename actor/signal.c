/* troupe — signals between processes: exit signals, links, monitors, and
 * what an exit tells the linked and monitoring processes (as erts's
 * erl_proc_sig_queue.c and erl_monitor_link.c). Entries of an actor's link
 * list are changed under the owner's lock. */
#include <stdlib.h>
#include <string.h>

#include "actor/core.h"

static bool exit_notify(tr__actor *a, tr_reason reason, bool skip_links, bool kill);

/* A target of links, monitors and exit signals: an actor, or a plain
 * thread's receiver (receiver.c), as an Erlang shell process is one. A
 * blocking caller's waiter (its pid a reply-only address) is none. */
tr__actor *tr__acquire_target(tr_runtime *rt, tr_pid pid) {
    tr__actor *a = tr__acquire(rt, pid);
    if (a || tr__pid_is_proc(rt, pid))
        return a;
    a = tr__acquire_any(rt, pid);
    if (a && !__atomic_load_n(&a->receiver, __ATOMIC_ACQUIRE)) {
        tr__release(a);
        return NULL;
    }
    return a;
}

/* True when pid can name a target (see tr__acquire_target) of rt, alive or
 * dead: an actor's pid, or a pid of the waiters' region that is no live
 * blocking caller's reply address (a receiver's, or a dead one: a closed
 * receiver looks like any dead process, as in OTP). */
static bool pid_is_target(tr_runtime *rt, tr_pid pid) {
    if (tr__pid_is_proc(rt, pid))
        return true;
    if (tr__pid_rt(pid) != rt->id || tr__pid_index(pid) == 0 ||
        !tr__slot_at(rt, tr__pid_index(pid)))
        return false;
    tr__actor *a = tr__acquire_any(rt, pid);
    if (!a)
        return true;
    bool ok = __atomic_load_n(&a->receiver, __ATOMIC_ACQUIRE);
    tr__release(a);
    return ok;
}

/* A kill whose signal could not be allocated: it needs none. The pid dies
 * at once (as any kill, see tr_exit: TR__SIG_KILLED), and the owner is
 * woken with its own wake node to finish the exit. */
static void push_kill_flag(tr__actor *a) {
    exit_notify(a, tr__reason_make(TR_EXIT_KILLED), false, true);
    tr__wake_reserved(a);
}

/* An EXIT signal or a DOWN message made ahead of time (tr__link.pre); NULL
 * when out of memory. Plain jemalloc blocks: they may outlive the turn and
 * the thread that made them. */
static tr__msg *pre_new(uint32_t kind) {
    tr__msg *m = tr__msg_new(NULL, kind, 0, NULL, sizeof(tr_reason));
    if (m && kind == TR_MSG_EXIT)
        m->sys = TR__SYS_SIG_EXIT;
    return m;
}

void tr__pre_free(tr__msg *m) {
    if (m)
        tr__msg_release(m);
}

/* Sends the exit signal r from `from` to `to`: in sig when given (made
 * ahead of time; consumed), else in a new block. */
static void exit_signal(tr_runtime *rt, tr_pid to, tr_pid from, tr_reason r, bool via_link,
                        tr__msg *sig) {
    tr__actor *a = tr__acquire_target(rt, to);
    if (!a) {
        tr__pre_free(sig);
        return;
    }
    if (!sig)
        sig = tr__msg_new(tr__mc_here(rt), TR_MSG_EXIT, 0, &r, sizeof r);
    else
        memcpy(sig->bytes, &r, sizeof r);
    if (sig) {
        sig->sys = TR__SYS_SIG_EXIT;
        sig->via_link = via_link;
        sig->pub.sender = from;
        tr__push_signal(a, sig);
    } else if (r.kind == TR_EXIT_KILL && !via_link &&
               !__atomic_load_n(&a->is_waiter, __ATOMIC_RELAXED)) {
        push_kill_flag(a); /* never a receiver's: a thread is not killed */
    }
    tr__release(a);
}

void tr__send_exit_signal(tr_runtime *rt, tr_pid to, tr_pid from, tr_reason r, bool via_link) {
    exit_signal(rt, to, from, r, via_link, NULL);
}

/* Adds an entry to the link list in x, a's side block (the caller got it
 * before taking a's lock); takes pre (the entry's EXIT/DOWN made ahead of
 * time, or NULL): kept with the entry, or freed (a link that exists
 * already, or no memory). */
static int links_add_locked(tr__actor_x *x, uint32_t kind, tr_pid pid, uint64_t ref, bool fresh,
                            tr__msg *pre) {
    if (kind == TR__L_LINK && !fresh) /* a just-spawned pid cannot be linked yet */
        for (uint32_t i = 0; i < x->n_links; i++)
            if (x->links[i].kind == TR__L_LINK && tr_pid_eq(x->links[i].pid, pid)) {
                tr__pre_free(pre);
                return TR_OK;
            }
    if (!TR__GROW(x->links, x->n_links, x->cap_links, 4)) {
        tr__pre_free(pre);
        return TR_ENOMEM;
    }
    x->links[x->n_links++] = (tr__link){kind, pid, ref, pre};
    return TR_OK;
}

/* Removes the first entry matching kind and (pid or ref); true if found. */
bool tr__links_remove_locked(tr__actor *a, uint32_t kind, tr_pid pid, uint64_t ref) {
    tr__actor_x *x = tr__actor_x_peek(a);
    for (uint32_t i = 0; x && i < x->n_links; i++) {
        tr__link *l = &x->links[i];
        if (l->kind != kind)
            continue;
        if (kind == TR__L_LINK ? tr_pid_eq(l->pid, pid) : l->ref == ref) {
            tr__pre_free(l->pre); /* the entry goes without firing */
            x->links[i] = x->links[--x->n_links];
            return true;
        }
    }
    return false;
}

bool tr__links_find_locked(tr__actor *a, uint32_t kind, uint64_t ref, tr_pid *pid) {
    tr__actor_x *x = tr__actor_x_peek(a);
    for (uint32_t i = 0; x && i < x->n_links; i++)
        if (x->links[i].kind == kind && x->links[i].ref == ref) {
            if (pid)
                *pid = x->links[i].pid;
            return true;
        }
    return false;
}

/* Sends a DOWN: in m when given (made ahead of time; consumed), else in a
 * new block. */
static void send_down(tr_runtime *rt, tr_pid to, uint64_t ref, tr_pid who, tr_reason r,
                      tr__msg *m) {
    if (m)
        memcpy(m->bytes, &r, sizeof r);
    else
        m = tr__msg_new(tr__mc_here(rt), TR_MSG_DOWN, 0, &r, sizeof r);
    if (!m)
        return;
    m->pub.ref = ref;
    m->pub.sender = who;
    tr__deliver(rt, to, m);
}

/* Links `a` (the caller's actor: running, or not yet published) and target.
 * Returns TR_ENOPROC when target is dead. */
int tr__link_pair(tr__actor *a, tr_pid target, bool fresh) {
    tr__actor *t = tr__acquire_target(a->rt, target);
    if (!t)
        return TR_ENOPROC;
    /* Each side's entry carries the EXIT it sends the other, in its side
     * block. */
    tr__msg *to_a = pre_new(TR_MSG_EXIT), *to_t = pre_new(TR_MSG_EXIT);
    tr__actor_x *tx = tr__actor_x_get(t), *ax = tr__actor_x_get(a);
    int err = TR_OK;
    if (!to_a || !to_t || !tx || !ax) {
        tr__pre_free(to_a);
        tr__pre_free(to_t);
        tr__release(t);
        return TR_ENOMEM;
    }
    tr__spin_lock(&t->lock);
    if (t->lk & TR__LK_EXITING) {
        err = TR_ENOPROC;
        tr__pre_free(to_a);
    } else {
        err = links_add_locked(tx, TR__L_LINK, a->pid, 0, fresh, to_a);
    }
    tr__spin_unlock(&t->lock);
    if (err) {
        tr__release(t);
        tr__pre_free(to_t);
        return err;
    }
    tr__spin_lock(&a->lock);
    /* a killed meanwhile (another thread): its links were told already */
    if (a->lk & TR__LK_EXITING) {
        tr__pre_free(to_t);
        err = TR_EKILLED;
    } else {
        err = links_add_locked(ax, TR__L_LINK, target, 0, fresh, to_t);
    }
    tr__spin_unlock(&a->lock);
    if (err) {
        /* half a link is none: take t's side back */
        tr__spin_lock(&t->lock);
        tr__links_remove_locked(t, TR__L_LINK, a->pid, 0);
        tr__spin_unlock(&t->lock);
    }
    tr__release(t);
    return err;
}

/* Monitor target from watcher w. DOWN noproc at once if target is dead
 * (an actor, or a closed receiver); TR_ENOPROC (nothing monitored) if
 * target can name no process of w's runtime (another runtime's pid, a
 * blocking caller's live waiter). */
static int monitor_pair(tr__actor *w, tr_pid target, uint64_t *ref_out) {
    tr_runtime *rt = w->rt;
    if (!pid_is_target(rt, target))
        return TR_ENOPROC;
    uint64_t ref = tr__make_ref(rt);
    tr__msg *down = pre_new(TR_MSG_DOWN); /* the DOWN, made now: it cannot be lost later */
    tr__actor_x *wx = tr__actor_x_get(w);
    if (!down || !wx) {
        tr__pre_free(down);
        return TR_ENOMEM;
    }
    tr__spin_lock(&w->lock);
    /* w killed meanwhile (another thread): its monitors were dropped */
    int err = (w->lk & TR__LK_EXITING)
                  ? TR_EKILLED
                  : links_add_locked(wx, TR__L_MONITORING, target, ref, true, NULL);
    tr__spin_unlock(&w->lock);
    if (err) {
        tr__pre_free(down);
        return err;
    }
    if (ref_out)
        *ref_out = ref;
    tr__actor *t = tr__acquire_target(rt, target);
    bool dead = true;
    if (t) {
        tr__actor_x *tx = tr__actor_x_get(t);
        tr__spin_lock(&t->lock);
        if (!tx) {
            err = TR_ENOMEM; /* nothing added on t's side */
        } else if (!(t->lk & TR__LK_EXITING)) {
            err = links_add_locked(tx, TR__L_MONITORED_BY, w->pid, ref, true, down);
            down = NULL;
            dead = false;
        }
        tr__spin_unlock(&t->lock);
        tr__release(t);
    }
    if (err) {
        tr__pre_free(down);
        tr__spin_lock(&w->lock);
        tr__links_remove_locked(w, TR__L_MONITORING, target, ref);
        tr__spin_unlock(&w->lock);
        return err;
    }
    if (dead) {
        tr_reason r = tr__reason_make(TR_EXIT_NOPROC);
        send_down(rt, w->pid, ref, target, r, down);
    }
    return TR_OK;
}

static int demonitor_pair(tr__actor *w, uint64_t ref) {
    tr_pid target;
    tr__spin_lock(&w->lock);
    bool found = tr__links_find_locked(w, TR__L_MONITORING, ref, &target);
    if (found)
        tr__links_remove_locked(w, TR__L_MONITORING, target, ref);
    tr__spin_unlock(&w->lock);
    if (!found)
        return TR_ENOTFOUND;
    tr__actor *t = tr__acquire_target(w->rt, target);
    if (t) {
        tr__spin_lock(&t->lock);
        tr__links_remove_locked(t, TR__L_MONITORED_BY, w->pid, ref);
        tr__spin_unlock(&t->lock);
        tr__release(t);
    }
    return TR_OK;
}

int tr__monitor(tr__actor *w, tr_pid target, uint64_t *ref_out) {
    return monitor_pair(w, target, ref_out);
}
int tr__demonitor(tr__actor *w, uint64_t ref) {
    return demonitor_pair(w, ref);
}

/* Waiter helpers for call.c (a waiter is owned by one blocking thread). */
int tr__waiter_monitor(tr__actor *waiter, tr_pid target, uint64_t *ref) {
    return monitor_pair(waiter, target, ref);
}
int tr__waiter_demonitor(tr__actor *waiter, uint64_t ref) {
    return demonitor_pair(waiter, ref);
}

/* The outside half of an exit: claims it (the first caller wins: the owner
 * stopping, or a killer), then the pid dies: lookups fail, names go, links
 * and monitors are told. Any thread holding a reference (or in borrow
 * mode). Returns false when the exit was claimed already. kill: a kill
 * from outside, which may find the owner inside a callback (see tr_exit):
 * the owner's later sends are dropped, and it finishes the exit
 * (exit_finish) when it next runs. skip_links: a failed init's links are
 * dropped without exit signals (start_link returns the error). */
static bool exit_notify(tr__actor *a, tr_reason reason, bool skip_links, bool kill) {
    tr_runtime *rt = a->rt;
    tr__spin_lock(&a->lock);
    if (a->lk & TR__LK_EXITING) {
        tr__spin_unlock(&a->lock);
        return false;
    }
    a->lk |= TR__LK_EXITING;
    if (kill)
        tr__store_rel_u32(&a->has_sig, tr__load_acq_u32(&a->has_sig) | TR__SIG_KILLED);
    uint8_t svc_marks = (uint8_t)(a->lk & TR__LK_SVC_MASK);
    tr__actor_x *x = tr__actor_x_peek(a);
    tr__link *links = NULL;
    uint32_t n = 0;
    bool muted = false;
    if (x) {
        links = x->links;
        n = x->n_links;
        x->links = NULL;
        x->n_links = x->cap_links = 0;
        muted = x->muted != NULL;
    }
    tr__spin_unlock(&a->lock);
    if (muted)
        tr__unmute(a); /* exiting is set: nobody mutes on us any more */
    tr__pidtab_retire(a);
    if (!__atomic_load_n(&a->is_waiter, __ATOMIC_RELAXED)) {
        TR__COUNT_ALIVE(rt, -1);
        tr__count_exit(rt, reason.kind);
    }

    /* Names go first, as in OTP: whoever learns of the exit (a supervisor
     * restarting us) finds the names free. */
    if (svc_marks)
        tr__services_on_exit(rt, a->pid, svc_marks);
    tr_reason prop = reason;
    if (prop.kind == TR_EXIT_KILL)
        prop.kind = TR_EXIT_KILLED;
    for (uint32_t i = 0; i < n; i++) {
        tr__link *l = &links[i];
        switch (l->kind) {
        case TR__L_LINK:
            if (!skip_links) {
                exit_signal(rt, l->pid, a->pid, prop, true, l->pre);
            } else {
                tr__pre_free(l->pre);
                tr__actor *o = tr__acquire_target(rt, l->pid);
                if (o) {
                    tr__spin_lock(&o->lock);
                    tr__links_remove_locked(o, TR__L_LINK, a->pid, 0);
                    tr__spin_unlock(&o->lock);
                    tr__release(o);
                }
            }
            break;
        case TR__L_MONITORED_BY:
            send_down(rt, l->pid, l->ref, a->pid, prop, l->pre);
            break;
        case TR__L_MONITORING: {
            tr__actor *t = tr__acquire_target(rt, l->pid);
            if (t) {
                tr__spin_lock(&t->lock);
                tr__links_remove_locked(t, TR__L_MONITORED_BY, a->pid, l->ref);
                tr__spin_unlock(&t->lock);
                tr__release(t);
            }
            break;
        }
        }
    }
    tr__free(links);
    return true;
}

/* The owner's half of an exit, once no callback of `a` runs any more: the
 * behaviour's cleanup (exactly once, whatever the exit), the runtime's own
 * allocations, then the self reference. After this `a` may be gone. */
static void exit_finish(tr__actor *a) {
    if (a->b && a->b->cleanup)
        a->b->cleanup(tr__actor_state(a));
    tr__actor_x *x = tr__actor_x_peek(a);
    while (x && x->deferred) {
        tr__msg *n = (tr__msg *)x->deferred->node.next;
        tr__msg_free(x->deferred);
        x->deferred = n;
    }
    tr__reqs_fini(a);
    tr__unref(a); /* the self reference */
}

/* Owner: the whole exit (the outside half unless a killer did it). */
void tr__exit_actor(tr__actor *a, tr_reason reason, bool skip_links) {
    exit_notify(a, reason, skip_links, false);
    exit_finish(a);
}

int tr__actor_mark_service(tr_runtime *rt, tr_pid pid, unsigned svc) {
    tr__actor *a = tr__acquire(rt, pid); /* processes only: never a waiter */
    if (!a)
        return TR_ENOPROC;
    /* Under the actor's lock: either its exit processing has not begun and
     * will see the mark (and call on_exit), or it has begun and we
     * refuse. */
    tr__spin_lock(&a->lock);
    bool exiting = (a->lk & TR__LK_EXITING) != 0;
    if (!exiting)
        a->lk |= (uint8_t)(1u << svc);
    tr__spin_unlock(&a->lock);
    tr__release(a);
    return exiting ? TR_ENOPROC : TR_OK;
}

int tr__actor_mark_named(tr_runtime *rt, tr_pid pid) {
    return tr__actor_mark_service(rt, pid, TR__SVC_REGISTRY);
}

/* Links a (an actor or a receiver) to pid: tr_link's work. */
int tr__link_to(tr__actor *a, tr_pid pid) {
    if (!pid_is_target(a->rt, pid))
        return TR_ENOPROC; /* another runtime's pid, or a caller's reply address */
    int err = tr__link_pair(a, pid, false);
    if (err == TR_ENOPROC) {
        /* OTP: linking to a dead process gives an exit signal noproc. */
        tr_reason r = tr__reason_make(TR_EXIT_NOPROC);
        tr__msg *sig = tr__msg_new(tr__mc_here(a->rt), TR_MSG_EXIT, 0, &r, sizeof r);
        if (!sig)
            return TR_ENOMEM;
        sig->sys = TR__SYS_SIG_EXIT;
        sig->pub.sender = pid;
        tr__push_signal(a, sig);
        return TR_OK;
    }
    return err;
}

int tr_link(tr_self *self, tr_pid pid) {
    tr__actor *a = (tr__actor *)self;
    if (!a || pid.id == 0 || tr_pid_eq(pid, a->pid))
        return TR_EINVAL;
    if (tr__load_acq_u32(&a->has_sig) & TR__SIG_KILLED)
        return TR_EKILLED;
    return tr__link_to(a, pid);
}

/* Removes the link between a (an actor or a receiver) and pid, both
 * sides: tr_unlink's work. */
void tr__unlink_from(tr__actor *a, tr_pid pid) {
    tr__spin_lock(&a->lock);
    tr__links_remove_locked(a, TR__L_LINK, pid, 0);
    tr__spin_unlock(&a->lock);
    tr__actor *t = tr__acquire_target(a->rt, pid);
    if (t) {
        tr__spin_lock(&t->lock);
        tr__links_remove_locked(t, TR__L_LINK, a->pid, 0);
        tr__spin_unlock(&t->lock);
        tr__release(t);
    }
}

int tr_unlink(tr_self *self, tr_pid pid) {
    tr__actor *a = (tr__actor *)self;
    if (!a || pid.id == 0)
        return TR_EINVAL;
    tr__unlink_from(a, pid);
    return TR_OK;
}

int tr_monitor(tr_self *self, tr_pid pid, uint64_t *ref) {
    tr__actor *a = (tr__actor *)self;
    if (!a || pid.id == 0)
        return TR_EINVAL;
    if (tr__load_acq_u32(&a->has_sig) & TR__SIG_KILLED)
        return TR_EKILLED;
    return monitor_pair(a, pid, ref);
}

int tr_demonitor(tr_self *self, uint64_t ref) {
    tr__actor *a = (tr__actor *)self;
    if (!a || ref == 0)
        return TR_EINVAL;
    return demonitor_pair(a, ref);
}

int tr_exit(tr_runtime *rt, tr_pid pid, tr_reason reason) {
    if (!rt || pid.id == 0 || reason.kind < TR_EXIT_NORMAL || reason.kind > TR_EXIT_ERROR)
        return TR_EINVAL;
    if (tr__load_acq_u32(&rt->stopped))
        return TR_ECLOSED;
    if (tr__self_killed_here())
        return TR_EKILLED;
    /* A receiver traps exits (a thread cannot be killed): the signal
     * becomes an EXIT message in its mailbox, kill too (receiver.c). */
    tr__actor *a = tr__acquire_target(rt, pid);
    if (!a)
        return TR_ENOPROC;
    reason = tr__reason_sealed(reason);
    tr__msg *sig = tr__msg_new(tr__mc_here(rt), TR_MSG_EXIT, 0, &reason, sizeof reason);
    if (!sig) {
        /* A kill needs no block: it must not be lost to a full heap. */
        bool flag =
            reason.kind == TR_EXIT_KILL && !__atomic_load_n(&a->is_waiter, __ATOMIC_RELAXED);
        if (flag)
            push_kill_flag(a);
        tr__release(a);
        return flag ? TR_OK : TR_ENOMEM;
    }
    sig->sys = TR__SYS_SIG_EXIT;
    tr__actor *cur = tr__tls_current;
    sig->pub.sender = (cur && cur->rt == rt) ? cur->pid : TR_PID_NONE;
    tr__push_signal(a, sig);
    /* kill takes effect now, even on an actor inside a callback (C code
     * cannot be preempted): the pid dies for everyone else at once; the
     * owner, when its callback returns, finds the signal, sends nothing
     * more and finishes the exit (exit_finish: cleanup, memory). */
    if (reason.kind == TR_EXIT_KILL && !__atomic_load_n(&a->is_waiter, __ATOMIC_RELAXED))
        exit_notify(a, tr__reason_make(TR_EXIT_KILLED), false, true);
    tr__release(a);
    return TR_OK;
}

int tr__exit_linked(tr_self *self, tr_pid pid, tr_reason reason) {
    tr__actor *me = (tr__actor *)self;
    if (!me)
        return TR_EINVAL;
    int rc = tr_exit(me->rt, pid, reason);
    if (rc != TR_ENOMEM)
        return rc;
    /* Out of memory: the block our link to pid keeps for our own exit
     * carries this signal instead (pid exits either way). */
    tr__msg *sig = NULL;
    tr__actor_x *x = tr__actor_x_peek(me);
    tr__spin_lock(&me->lock);
    for (uint32_t i = 0; x && i < x->n_links && !sig; i++)
        if (x->links[i].kind == TR__L_LINK && tr_pid_eq(x->links[i].pid, pid)) {
            sig = x->links[i].pre;
            x->links[i].pre = NULL;
        }
    tr__spin_unlock(&me->lock);
    if (!sig)
        return TR_ENOMEM;
    exit_signal(me->rt, pid, me->pid, reason, false, sig);
    return TR_OK;
}
