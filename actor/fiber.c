/* troupe — fibers: blocking-style processes on the scheduler threads (see
 * fiber.h for the model).
 *
 * Threads. A fiber's body may resume on another scheduler thread than the
 * one it blocked on (the actor is stolen like any other). Everything that
 * reads thread-local state after a suspension does it through a call that
 * is not inlined here (tr__fiber_here, tr__self_killed_here, the public
 * API), so no thread-local address is cached across a switch.
 */
#include <stdio.h>
#include <string.h>

#include "actor/core.h"
#include "actor/fiber.h"

typedef struct fiber_start {
    tr_fiber_fn fn;
    void *arg;
    size_t stack_size;
    const tr_behaviour *b; /* a behaviour run on the fiber, or NULL */
    const void *barg;      /* its init's argument */
} fiber_start;

/* Where a behaviour's state starts after the tr__fiber (16-byte aligned). */
#define FIBER_HDR ((sizeof(tr__fiber) + 15) & ~(size_t)15)

static tr__fiber *fib_of(tr__actor *a) {
    return (tr__fiber *)tr__actor_state(a);
}

__attribute__((noinline)) tr__actor *tr__fiber_here(void) {
    tr__frame *f = tr__tls_frame;
    __asm__ __volatile__("" ::: "memory");
    return f && f->fiber_jb ? f->a : NULL;
}

/* The running fiber, when self is it; NULL otherwise. */
static tr__fiber *running(const tr_self *self) {
    tr__actor *a = tr__fiber_here();
    if (!a || !self || a != (const tr__actor *)self)
        return NULL;
    return fib_of(a);
}

bool tr_self_is_fiber(const tr_self *self) {
    return self && tr__is_fiber((const tr__actor *)self);
}

/* ---- switching ---------------------------------------------------------- */

/* After a landing (the body resumed, by its turn or by another fiber's
 * hand-off): the fiber that handed the thread over is saved now, and goes
 * back to the run queue (switch_to). Not inlined: the body may land on
 * another thread than the one it left. */
static __attribute__((noinline)) void landed(void) {
    tr__sched *s = tr__tls_sched;
    __asm__ __volatile__("" ::: "memory");
    if (s && s->ctx.handoff) {
        tr__actor *from = s->ctx.handoff;
        s->ctx.handoff = NULL;
        if (s->ctx.handoff_parked)
            tr__turn_close(from);
        else
            tr__schedule_yield(from);
    }
}

/* Body side: gives the thread back to the turn until resumed. */
static void suspend(tr__fiber *fib, uint32_t wait) {
    fib->wait = wait;
    tr__coro_yield(&fib->coro);
    landed();
}

/* The direct hand-off (as Go's scheduler hands the P straight to the next
 * goroutine): fib's body yields (wait TR__FW_YIELD) or parks for its
 * permit (TR__FW_PARK), the turn that runs it came from a poke, nothing of
 * the turn is pending (gathered sends, a mute of its own, a signal), and
 * the next actor the scheduler thread would run is a fiber that
 * its turn would only resume: that fiber's turn begins in this turn's frame
 * and the thread switches to its stack at once. What the end of fib's turn
 * would do, the fiber that lands does once fib's context is saved
 * (landed): a yielded fib goes to the back of the run queue (its next turn
 * looks at senders muted on it, as any turn's end does), a parked one gives
 * its run token back (tr__turn_close, which requeues it instead when
 * senders are muted on it, messages came, or a signal). False when no hand-off was
 * made: the caller suspends as usual. True once fib has been resumed. */
static bool switch_to(tr__fiber *fib, uint32_t wait) {
    tr__frame *f = tr__tls_frame;
    tr__sched *s = tr__tls_sched;
    tr__actor *a = fib->self;
    if (!s || !f || f->a != a || !f->fiber_poked || f->prev || s->ctx.mute_to || tr__ob_count(s) ||
        (tr__load_acq_u32(&a->has_sig) & (TR__SIG_PENDING | TR__SIG_KILLED)))
        return false;
    tr__actor *b = tr__sched_pick_fiber(s);
    if (!b)
        return false;
    tr__fiber *to = fib_of(b);
    tr__turn_pass(s, f, b);
    f->fiber_jb = &to->jb;
    tr__parker_set_fiber(&to->parker);
    s->ctx.handoff = a;
    s->ctx.handoff_parked = wait == TR__FW_PARK;
    fib->wait = wait;
    to->wait = TR__FW_RUN;
    tr__coro_switch(&fib->coro, &to->coro);
    landed();
    return true;
}

/* Turn side (frame f of a's turn): runs the body until it blocks again or
 * finishes. True when it finished: f->stop_* say how the fiber ends. With
 * poked (the turn's poke, not a message's dispatch), the body may hand the
 * thread to other fibers (switch_to): f->a is then the fiber that came
 * back. */
static bool resume(tr__frame *f, tr__fiber *fib, bool poked) {
    fib->wait = TR__FW_RUN;
    f->fiber_jb = &fib->jb;
    f->fiber_poked = poked;
    tr__parker_set_fiber(&fib->parker);
    tr__coro_resume(&fib->coro);
    tr__parker_set_fiber(NULL);
    f->fiber_jb = NULL;
    f->fiber_poked = false;
    fib = fib_of(f->a);
    if (!fib->finished)
        return false;
    f->stop_pending = true;
    f->stop_reason = fib->reason;
    return true;
}

static void trampoline(tr__coro *c, void *arg) {
    (void)c;
    tr__fiber *fib = (tr__fiber *)arg;
    if (setjmp(fib->jb) == 0) {
        int rc = fib->fn((tr_self *)fib->self, fib->arg);
        if (!fib->reason_set)
            fib->reason =
                rc == 0 ? tr_reason_normal() : tr_reason_error(rc, "fiber returned an error");
    } /* else: tr_fail or tr_stop set fib->reason (tr__fiber_unwind) */
    if (fib->b && !fib->bterminated) {
        /* A behaviour's loop ended (stopped, or crashed in a callback): its
         * terminate runs here, as a gen_server's; a crash inside it comes
         * back to the setjmp below. */
        fib->bterminated = true;
        if (fib->bmsg) {
            tr_msg_free(fib->bmsg);
            fib->bmsg = NULL;
        }
        if (fib->b->terminate && setjmp(fib->jb) == 0)
            fib->b->terminate((tr_self *)fib->self, fib->bstate, fib->reason);
    }
    fib->finished = true;
}

int tr__fiber_stop(tr__frame *f, tr_reason reason) {
    tr__fiber *fib = fib_of(f->a);
    if (!fib->b)
        tr__fiber_unwind(f, reason);
    fib->bstop = true;
    fib->bstop_reason = tr__reason_sealed(reason);
    return TR_STOP;
}

_Noreturn void tr__fiber_unwind(tr__frame *f, tr_reason reason) {
    tr__fiber *fib = fib_of(f->a);
    fib->reason = tr__reason_sealed(reason);
    longjmp(*f->fiber_jb, 1);
}

bool tr__fiber_poke(tr__frame *f, tr__actor *a) {
    tr__fiber *fib = fib_of(a);
    switch (fib->wait) {
    case TR__FW_START:
    case TR__FW_YIELD:
        return resume(f, fib, true);
    case TR__FW_PARK:
        if (tr__load_acq_u32(&fib->parker.permit))
            return resume(f, fib, true);
        return false;
    default:
        return false;
    }
}

/* ---- timeouts ------------------------------------------------------------ */

/* Starts the timeout of the wait to come: its TR__SYS_FIBER_TIMEOUT message
 * sets timed_out. TR_INFINITY: none. */
static int timer_arm(tr__fiber *fib, tr_duration_ms ms) {
    fib->timed_out = false;
    if (ms == TR_INFINITY)
        return TR_OK;
    tr_runtime *rt = fib->self->rt;
    uint64_t ref = tr__make_ref(rt);
    tr_timer t = 0;
    int err = tr__timer_start(rt, fib->self->pid, ms, 0, TR_MSG_TIMER, TR__SYS_FIBER_TIMEOUT, 0,
                              ref, NULL, 0, &t);
    if (err)
        return err;
    fib->timer_ref = ref;
    fib->timer = t;
    return TR_OK;
}

/* Cancels a pending timeout; a message of it already queued is dropped on
 * arrival (its ref no longer matches). */
static void timer_disarm(tr__fiber *fib) {
    if (fib->timer_ref)
        tr_cancel_timer(fib->self->rt, fib->timer);
    fib->timer_ref = 0;
    fib->timer = 0;
    fib->timed_out = false;
}

/* ---- the parker of a fiber ----------------------------------------------- */

static tr__fiber *fib_of_parker(tr__parker *p) {
    return (tr__fiber *)((char *)p - offsetof(tr__fiber, parker));
}

static int park_block(tr__parker *p, int64_t deadline) {
    tr__fiber *fib = fib_of_parker(p);
    tr_duration_ms left = tr__remaining_ms(deadline);
    if (left == 0)
        return TR_ETIMEDOUT;
    if (timer_arm(fib, left) != TR_OK) {
        /* No timer (out of memory): wait for the permit with a short
         * sleep instead of a timeout that never comes. */
        if (timer_arm(fib, 1) != TR_OK)
            return TR_ETIMEDOUT;
    }
    if (!switch_to(fib, TR__FW_PARK))
        suspend(fib, TR__FW_PARK);
    bool timed_out = fib->timed_out;
    timer_disarm(fib);
    return timed_out && tr__remaining_ms(deadline) == 0 ? TR_ETIMEDOUT : TR_OK;
}

/* The permit was given: the fiber's turn must poke it. When the actor is
 * idle (its token given back, no message waiting), the waker takes the
 * token and schedules it: the turn finds the permit (tr__fiber_woken), no
 * wake node goes through the mailbox. Otherwise its wake node does. The
 * waker keeps the fiber's memory alive (park.h's rules). */
static void park_unblock(tr__parker *p) {
    tr__actor *a = fib_of_parker(p)->self;
    if (tr__mq_take_idle(&a->mq, &a->mqc))
        tr__schedule(a);
    else
        tr__wake_reserved(a);
}

static const tr__parker_ops fiber_parker_ops = {.block = park_block, .unblock = park_unblock};

/* ---- the behaviour ------------------------------------------------------- */

static int fiber_init(tr_self *self, void *state, const void *arg) {
    const fiber_start *st = (const fiber_start *)arg;
    tr__fiber *fib = (tr__fiber *)state;
    tr__actor *a = (tr__actor *)self;
    fib->self = a;
    fib->fn = st->fn;
    fib->arg = st->arg;
    if (st->b) { /* a behaviour on the fiber: its init runs here, as an actor's */
        fib->bstate = (char *)fib + FIBER_HDR;
        /* released: tr_process_info may read it from another thread */
        __atomic_store_n(&fib->b, st->b, __ATOMIC_RELEASE);
        if (st->b->init) {
            int rc = st->b->init(self, fib->bstate, st->barg);
            if (rc != TR_CONTINUE)
                return rc;
        }
    }
    tr__parker_init_ops(&fib->parker, &fiber_parker_ops);
    snprintf(fib->label, sizeof fib->label, "<%u.%u.%u>", tr__pid_rt(a->pid), tr__pid_index(a->pid),
             tr__pid_gen(a->pid));
    int err = tr__coro_init(&fib->coro, st->stack_size, trampoline, fib);
    if (err) {
        tr_stop(self, tr_reason_error(err, "no stack for the fiber"));
        return TR_STOP;
    }
    tr__coro_set_label(&fib->coro, fib->label);
    fib->wait = TR__FW_START;
    tr__wake_reserved(a); /* its first poke starts the body */
    return TR_CONTINUE;
}

static void inbox_push(tr__fiber *fib, tr__msg *m) {
    m->node.next = NULL;
    if (fib->in_tail)
        fib->in_tail->node.next = &m->node;
    else
        fib->in_head = m;
    fib->in_tail = m;
}

/* Every message the core dispatches to a fiber comes here (on the turn's
 * side): it is taken from the mailbox into the fiber's queue, and the
 * fiber resumes if it may be what it waits for. */
static int take(tr_self *self, void *state, const tr_msg *msg) {
    tr__fiber *fib = (tr__fiber *)state;
    tr__frame *f = tr__tls_frame;
    tr__msg *m = NULL;
    if (f->cur_msg && &f->cur_msg->pub == msg) {
        m = f->cur_msg;
        f->cur_msg = NULL;
        f->msg_taken = true;
    } else if (msg->kind == TR_MSG_REPLY && fib->call_ref && msg->ref == fib->call_ref) {
        /* The runtime's own answer (the server exited), not a block. */
        fib->call_status = msg->status;
        size_t n = msg->size < sizeof fib->call_text ? msg->size : sizeof fib->call_text - 1;
        memcpy(fib->call_text, msg->data, n);
        fib->call_text[n] = '\0';
        fib->call_done = true;
        fib->call_ref = 0;
    } else {
        m = tr__msg_new(NULL, msg->kind, msg->tag, msg->data, msg->size);
        if (!m)
            tr_fail(self, tr_reason_error(TR_ENOMEM, "a reply to the fiber was lost"));
        m->pub.sender = msg->sender;
        m->pub.ref = msg->ref;
        m->pub.status = msg->status;
    }
    if (m && m->sys == TR__SYS_FIBER_TIMEOUT) {
        bool mine = fib->timer_ref && m->pub.ref == fib->timer_ref;
        tr__msg_free(m);
        if (!mine)
            return TR_CONTINUE; /* a timeout cancelled too late */
        fib->timed_out = true;
        fib->timer_ref = 0;
        fib->timer = 0;
        if (fib->wait != TR__FW_MSG && fib->wait != TR__FW_TIMER && fib->wait != TR__FW_PARK)
            return TR_CONTINUE;
    } else if (m && m->pub.kind == TR_MSG_REPLY && fib->call_ref && m->pub.ref == fib->call_ref) {
        fib->call_reply = m;
        fib->call_done = true;
        fib->call_ref = 0;
        if (fib->wait != TR__FW_MSG)
            return TR_CONTINUE;
    } else if (m) {
        inbox_push(fib, m);
        if (fib->wait != TR__FW_MSG)
            return TR_CONTINUE;
    } else if (fib->wait != TR__FW_MSG) {
        return TR_CONTINUE;
    }
    return resume(f, fib, false) ? TR_STOP : TR_CONTINUE;
}

static int fiber_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    (void)from;
    return take(self, state, msg);
}

static int fiber_cast(tr_self *self, void *state, const tr_msg *msg) {
    return take(self, state, msg);
}

void tr__fiber_on_exit(tr_self *self, void (*fn)(void *arg), void *arg) {
    tr__fiber *fib = running(self);
    if (!fib)
        return;
    fib->on_exit = fn;
    fib->on_exit_arg = arg;
}

/* The core's terminate (a runtime shutdown, or the end of the loop): a
 * behaviour's terminate runs once. */
static void fiber_terminate(tr_self *self, void *state, tr_reason reason) {
    tr__fiber *fib = (tr__fiber *)state;
    if (!fib->b || fib->bterminated)
        return;
    fib->bterminated = true;
    if (fib->b->terminate)
        fib->b->terminate(self, fib->bstate, reason);
}

static void fiber_cleanup(void *state) {
    tr__fiber *fib = (tr__fiber *)state;
    if (fib->parker.cancel) {
        void (*cancel)(void *) = fib->parker.cancel;
        fib->parker.cancel = NULL;
        cancel(fib->parker.cancel_arg);
    }
    if (fib->timer_ref)
        tr_cancel_timer(fib->self->rt, fib->timer);
    if (fib->on_exit) {
        void (*fn)(void *) = fib->on_exit;
        fib->on_exit = NULL;
        fn(fib->on_exit_arg);
    }
    while (fib->in_head) {
        tr__msg *n = (tr__msg *)fib->in_head->node.next;
        tr__msg_free(fib->in_head);
        fib->in_head = n;
    }
    if (fib->call_reply)
        tr__msg_free(fib->call_reply);
    if (fib->bmsg)
        tr_msg_free(fib->bmsg);
    if (fib->b && fib->b->cleanup)
        fib->b->cleanup(fib->bstate);
    if (fib->coro.stack) /* init got as far as the stack */
        tr__coro_fini(&fib->coro);
}

const tr_behaviour tr__fiber_behaviour = {
    .name = "fiber",
    .state_size = sizeof(tr__fiber),
    .init = fiber_init,
    .handle_call = fiber_call,
    .handle_cast = fiber_cast,
    .handle_info = take,
    .terminate = fiber_terminate,
    .cleanup = fiber_cleanup,
};

int tr__spawn_fiber_kept(tr_runtime *rt, tr_fiber_fn fn, void *arg, const tr_fiber_opts *opts,
                         const char *name, tr_pid keeper, tr_pid *out) {
    tr_fiber_opts o = {0};
    if (opts)
        o = *opts;
    if (!rt || !fn ||
        (o.stack_size && (o.stack_size < 16 * 1024 || o.stack_size > ((size_t)1 << 30))))
        return TR_EINVAL;
    fiber_start st = {fn, arg, o.stack_size, NULL, NULL};
    tr_spawn_opts so = {
        .link_to = o.link_to, .trap_exit = o.trap_exit, .max_mailbox = o.max_mailbox, .name = name};
    if (!name)
        return tr_spawn(rt, &tr__fiber_behaviour, &st, &so, out);
    return tr__spawn_kept(rt, &tr__fiber_behaviour, &st, &so, keeper, out);
}

int tr_spawn_fiber(tr_runtime *rt, tr_fiber_fn fn, void *arg, const tr_fiber_opts *opts,
                   tr_pid *out) {
    return tr__spawn_fiber_kept(rt, fn, arg, opts, NULL, TR_PID_NONE, out);
}

/* ---- a behaviour on a fiber ------------------------------------------------- */

/* The loop of a behaviour run on a fiber, as OTP's gen_server loop: one
 * message at a time to its callbacks, which may block (park). */
static int behaviour_loop(tr_self *self, void *arg) {
    (void)arg;
    tr__fiber *fib = running(self);
    const tr_behaviour *b = fib->b;
    tr__actor *a = (tr__actor *)self;
    for (;;) {
        tr_msg *m = NULL;
        int rc;
        tr__msg *c = tr__cont_take(a);
        if (c) {         /* tr_continue (init's too): before any other message */
            m = &c->pub; /* freed by tr_msg_free as a received message */
        } else {
            rc = tr_receive(self, NULL, NULL, TR_INFINITY, &m);
            if (rc)
                return rc;
        }
        fib->bmsg = m;
        rc = TR_CONTINUE;
        if (m->kind == TR_MSG_CONTINUE) {
            if (!b->handle_continue)
                tr_fail(self, tr_reason_error(TR_EINVAL, "unexpected continue"));
            rc = b->handle_continue(self, fib->bstate, m);
        } else if (m->kind == TR_MSG_CALL) {
            if (!b->handle_call)
                tr_fail(self, tr_reason_error(TR_EINVAL, "unexpected call"));
            rc = b->handle_call(self, fib->bstate, m, tr_msg_from(self, m));
        } else if (m->kind == TR_MSG_CAST) {
            if (!b->handle_cast)
                tr_fail(self, tr_reason_error(TR_EINVAL, "unexpected cast"));
            rc = b->handle_cast(self, fib->bstate, m);
        } else if (b->handle_info) {
            rc = b->handle_info(self, fib->bstate, m);
        }
        fib->bmsg = NULL;
        tr_msg_free(m);
        if (fib->bstop || rc != TR_CONTINUE) {
            fib->reason = fib->bstop ? fib->bstop_reason : tr_reason_normal();
            fib->reason_set = true;
            return 0;
        }
    }
}

int tr__fiber_spawn_behaviour(tr_runtime *rt, const tr_behaviour *b, const void *arg,
                              const tr_spawn_opts *opts, tr_pid keeper, tr_pid *out) {
    size_t size;
    if (!rt || !b || b->state_size > TR__SIZE_MAX ||
        (opts->stack_size &&
         (opts->stack_size < 16 * 1024 || opts->stack_size > ((size_t)1 << 30))) ||
        !tr__size_add(FIBER_HDR, b->state_size, &size))
        return TR_EINVAL;
    fiber_start st = {behaviour_loop, NULL, opts->stack_size, b, arg};
    return tr__spawn(rt, &tr__fiber_behaviour, size, &st, opts->link_to, opts->trap_exit,
                     opts->max_mailbox, opts->name, keeper, opts->error, out);
}

/* ---- receive -------------------------------------------------------------- */

/* The body stops here for good when its fiber was killed: the turn ends it
 * when the body gives the thread back (and never resumes it). */
static __attribute__((noinline)) bool killed_here(void) {
    /* Not inlined: the thread-local is read anew on whatever thread the
     * fiber runs now (a cached address would be the thread it ran on). */
    bool k = tr__self_killed_here();
    __asm__ __volatile__("" ::: "memory");
    return k;
}

static void park_if_killed(tr__fiber *fib) {
    if (killed_here())
        suspend(fib, TR__FW_MSG);
}

static int receive(tr__fiber *fib, tr_match_fn match, void *arg, tr_duration_ms timeout_ms,
                   tr_msg **out) {
    tr__msg *prev = NULL; /* the last message looked at (and kept) */
    bool armed = false;
    int err = TR_ETIMEDOUT;
    for (;;) {
        park_if_killed(fib);
        tr__msg *m = prev ? (tr__msg *)prev->node.next : fib->in_head;
        while (m && match && !match(&m->pub, arg)) {
            prev = m;
            m = (tr__msg *)m->node.next;
        }
        if (m) {
            if (prev)
                prev->node.next = m->node.next;
            else
                fib->in_head = (tr__msg *)m->node.next;
            if (fib->in_tail == m)
                fib->in_tail = prev;
            m->node.next = NULL;
            if (armed)
                timer_disarm(fib);
            *out = &m->pub;
            return TR_OK;
        }
        if (timeout_ms == 0 || (armed && fib->timed_out))
            break;
        if (!armed) {
            err = timer_arm(fib, timeout_ms);
            if (err)
                return err;
            err = TR_ETIMEDOUT;
            armed = true;
        }
        suspend(fib, TR__FW_MSG);
    }
    if (armed)
        timer_disarm(fib);
    return err;
}

int tr_receive(tr_self *self, tr_match_fn match, void *arg, tr_duration_ms timeout_ms,
               tr_msg **out) {
    if (out)
        *out = NULL;
    tr__fiber *fib = running(self);
    if (!fib || !out || timeout_ms < TR_INFINITY)
        return TR_EINVAL;
    return receive(fib, match, arg, timeout_ms, out);
}

static bool match_tag(const tr_msg *m, void *arg) {
    return m->tag == *(const uint32_t *)arg;
}

static bool match_ref(const tr_msg *m, void *arg) {
    return m->ref == *(const uint64_t *)arg;
}

int tr_receive_tag(tr_self *self, uint32_t tag, tr_duration_ms timeout_ms, tr_msg **out) {
    return tr_receive(self, match_tag, &tag, timeout_ms, out);
}

int tr_receive_ref(tr_self *self, uint64_t ref, tr_duration_ms timeout_ms, tr_msg **out) {
    return tr_receive(self, match_ref, &ref, timeout_ms, out);
}

void tr_msg_free(tr_msg *msg) {
    if (msg)
        tr__msg_free((tr__msg *)((char *)msg - offsetof(tr__msg, pub)));
}

tr_from tr_msg_from(const tr_self *self, const tr_msg *msg) {
    tr_from from = {0};
    if (self && msg && msg->kind == TR_MSG_CALL) {
        from.rt = ((const tr__actor *)self)->rt;
        from.pid = msg->sender;
        from.ref = msg->ref;
    }
    return from;
}

/* ---- sleep, yield --------------------------------------------------------- */

int tr_yield(tr_self *self) {
    tr__fiber *fib = running(self);
    if (!fib)
        return TR_EINVAL;
    if (switch_to(fib, TR__FW_YIELD)) /* declines when fib was killed */
        return TR_OK;
    park_if_killed(fib);
    suspend(fib, TR__FW_YIELD); /* the turn ends; the next one resumes it first */
    return TR_OK;
}

int tr_sleep(tr_self *self, tr_duration_ms ms) {
    tr__fiber *fib = running(self);
    if (!fib || ms < 0)
        return TR_EINVAL;
    if (ms == 0)
        return tr_yield(self);
    int err = timer_arm(fib, ms);
    if (err)
        return err;
    while (!fib->timed_out) {
        park_if_killed(fib);
        suspend(fib, TR__FW_TIMER);
    }
    timer_disarm(fib);
    return TR_OK;
}

/* ---- blocking calls from a fiber ------------------------------------------ */

int tr__fiber_call(tr__actor *a, tr_pid to, uint32_t tag, const void *req, size_t size,
                   tr_buf *reply, tr_duration_ms timeout_ms) {
    tr__fiber *fib = fib_of(a);
    uint64_t id = 0;
    int err = tr_request((tr_self *)a, to, tag, req, size, timeout_ms, &id);
    if (err)
        return err;
    fib->call_ref = id;
    fib->call_done = false;
    fib->call_reply = NULL;
    while (!fib->call_done) {
        park_if_killed(fib);
        suspend(fib, TR__FW_MSG);
    }
    tr__msg *r = fib->call_reply;
    fib->call_reply = NULL;
    if (!r) { /* the runtime's answer: the server exited first */
        err = fib->call_status;
        if (reply) {
            size_t n = strlen(fib->call_text) + 1;
            reply->data = tr__malloc(n);
            if (reply->data) {
                memcpy(reply->data, fib->call_text, n);
                reply->size = n;
            }
        }
    } else {
        err = r->pub.status; /* 0 or a TR_E* code (the space is closed) */
        if (reply)
            reply->code = r->pub.code;
        if (reply && (err == TR_OK || r->pub.size) && r->pub.size) {
            reply->data = tr__malloc(r->pub.size);
            if (reply->data) {
                memcpy(reply->data, r->pub.data, r->pub.size);
                reply->size = r->pub.size;
            } else if (err == TR_OK) {
                err = TR_ENOMEM;
            }
        }
        if (reply)
            reply->tag = r->pub.tag;
        tr__msg_free(r);
    }
    if (err == TR_EEXITED && tr__runtime_stopping(a->rt)) {
        err = TR_ECLOSED; /* the server was stopped by the shutdown */
        tr_buf_free(reply);
    }
    return err;
}

int tr__fiber_await_exit(tr__actor *a, tr_pid pid, tr_duration_ms timeout_ms, tr_reason *reason,
                         const tr__stop_send *send) {
    tr__fiber *fib = fib_of(a);
    uint64_t mref = 0;
    int err = tr_monitor((tr_self *)a, pid, &mref);
    if (err)
        return err;
    if (send) {
        err = tr__stop_send_to(a->rt, pid, send, a->pid);
        if (err) {
            tr_demonitor((tr_self *)a, mref);
            return err;
        }
    }
    tr_msg *m = NULL;
    err = receive(fib, match_ref, &mref, timeout_ms, &m);
    if (err) {
        tr_demonitor((tr_self *)a, mref);
        return err;
    }
    const tr_reason *why = tr_msg_reason(m);
    if (reason && why)
        *reason = *why;
    tr_msg_free(m);
    return TR_OK;
}
