/* troupe — the supervisor behaviour (OTP supervisor).
 *
 * A supervisor is a stackless actor: everything that OTP's supervisor does
 * by blocking (waiting for a child to exit after the shutdown signal) is an
 * asynchronous state machine here. Work that stops children is an "op"
 * (terminate one child, restart a group, shut everything down); ops run one
 * at a time, each stopping its children one after the other in reverse
 * start order and waiting for each child's EXIT (or for the kill timer).
 * Management calls that arrive while an op runs are queued with their
 * tr_from and answered when the ops are done (deferred replies).
 *
 * Restarts: a child that must be restarted is marked should_run; children
 * marked so and not running are started by start_missing(), in start order,
 * at once, after a backoff timer, or after a retry message to self when a
 * restart's init failed (such a failure counts as a restart, as OTP).
 */
#include <stdio.h>
#include <string.h>

#include <troupe/log.h>
#include <troupe/supervisor.h>

#include "base/clock.h"
#include "actor/internal.h"
#include "base/alloc.h"
#include "base/fifo.h"
#include "supervisor/child_spec.h"
#include "supervisor/sup_internal.h"

#define SUP_DEFAULT_INTENSITY 1
#define SUP_DEFAULT_PERIOD_MS 5000
#define SUP_BACKOFF_RESET_MS 5000

typedef enum op_kind { OP_TERMINATE, OP_RESTART_GROUP, OP_SHUTDOWN } op_kind;

typedef struct sup_op {
    op_kind kind;
    bool has_from;
    tr_from from;      /* OP_TERMINATE: the caller to answer */
    uint32_t tag;      /* OP_TERMINATE: request tag for the reply */
    bool remove_after; /* OP_TERMINATE: delete the child when stopped */
    tr_reason reason;  /* OP_SHUTDOWN: the supervisor's exit reason */
    uint64_t *serials; /* children to stop, in stop order; NULL: kids[n-1..0] */
    size_t n, next;
    struct sup_op *next_op;
    bool reserved; /* sup_state.shutdown_op: not allocated */
} sup_op;

typedef struct sup_call {
    tr_from from;
    uint32_t tag;
    void *data;
    size_t size;
    struct sup_call *next;
} sup_call;

typedef struct sup_state {
    tr_sup_flags flags;
    bool sofo;
    tr__sup_child tmpl; /* simple_one_for_one template */
    tr__sup_child **kids;
    size_t n, cap;
    uint64_t next_serial;
    /* restart times within the period: a ring of at most rs_max =
     * intensity + 1 entries, grown as restarts come (a large intensity
     * costs nothing until its restarts happen) */
    int64_t *rs;
    size_t rs_cap, rs_len, rs_head, rs_max;
    /* ops: ops.head is the running one */
    TR__FIFO(sup_op) ops;
    tr_pid waiting_pid; /* the child the running op waits for */
    tr_timer kill_timer;
    uint64_t stop_seq;
    /* management calls deferred while an op runs */
    TR__FIFO(sup_call) calls;
    bool shutting_down;
    bool exit_now;
    tr_reason exit_reason;
    tr__sup_owner owner;       /* released by cleanup (tr__supervisor_owned_behaviour) */
    tr_start_error *start_err; /* during init only: tr_supervisor_start_ex's report */
    bool reply_lost;           /* out of memory where nobody can be told (a reply, a retry): stop */
    sup_op shutdown_op;        /* the shutdown when no op can be allocated */
} sup_state;

/* ------------------------------------------------------------------------ */
/* Children                                                                  */
/* ------------------------------------------------------------------------ */

static tr__sup_child *child_new(sup_state *st, const tr_child_spec *spec) {
    tr__sup_child *c = tr__malloc(sizeof(*c));
    if (!c)
        return NULL;
    if (tr__sup_child_fill(c, spec)) {
        tr__sup_child_free(c);
        return NULL;
    }
    c->serial = ++st->next_serial;
    return c;
}

static int kids_append(sup_state *st, tr__sup_child *c) {
    if (!TR__GROW(st->kids, st->n, st->cap, 8))
        return TR_ENOMEM;
    st->kids[st->n++] = c;
    return 0;
}

static size_t kid_index(const sup_state *st, const tr__sup_child *c) {
    for (size_t i = 0; i < st->n; i++)
        if (st->kids[i] == c)
            return i;
    return st->n;
}

static void kids_remove(tr_runtime *rt, sup_state *st, tr__sup_child *c) {
    size_t i = kid_index(st, c);
    if (i == st->n)
        return;
    if (c->backoff_pending)
        tr_cancel_timer(rt, c->backoff_timer);
    memmove(&st->kids[i], &st->kids[i + 1], (st->n - i - 1) * sizeof(st->kids[0]));
    st->n--;
    tr__sup_child_free(c);
}

static tr__sup_child *find_by_pid(const sup_state *st, tr_pid pid) {
    if (tr_pid_is_none(pid))
        return NULL;
    for (size_t i = 0; i < st->n; i++)
        if (tr_pid_eq(st->kids[i]->pid, pid))
            return st->kids[i];
    return NULL;
}

static tr__sup_child *find_by_id(const sup_state *st, const char *id) {
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->kids[i]->id, id) == 0)
            return st->kids[i];
    return NULL;
}

static tr__sup_child *find_by_serial(const sup_state *st, uint64_t serial) {
    for (size_t i = 0; i < st->n; i++)
        if (st->kids[i]->serial == serial)
            return st->kids[i];
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Reports (troupe/log.h: SASL's supervisor and progress reports)           */
/* ------------------------------------------------------------------------ */

/* Starts a report about child c (NULL: none) when its level is logged. */
static bool report_begin(tr_self *self, tr_log_event *ev, tr_log_kind kind, tr_log_level level,
                         const tr__sup_child *c) {
    if (!tr__log_enabled(tr_self_runtime(self), level))
        return false;
    memset(ev, 0, offsetof(tr_log_event, line));
    ev->level = level;
    ev->kind = kind;
    ev->pid = ev->sup = tr_self_pid(self);
    ev->parent = tr__self_parent(self);
    if (c) {
        snprintf(ev->child_id, sizeof ev->child_id, "%s", c->id);
        ev->child_pid = c->pid;
        ev->restarts = c->restarts;
    }
    return true;
}

static void report_start_failed(tr_self *self, const tr__sup_child *c, int rc) {
    tr_log_event ev;
    if (!report_begin(self, &ev, TR_LOG_CHILD_START_FAILED, TR_LOG_ERROR, c))
        return;
    ev.code = rc;
    tr__log_emit(tr_self_runtime(self), &ev);
}

static void report_delayed(tr_self *self, const tr__sup_child *c, tr_duration_ms d) {
    tr_log_event ev;
    if (!report_begin(self, &ev, TR_LOG_RESTART_DELAYED, TR_LOG_WARNING, c))
        return;
    ev.child_pid = c->prev_pid;
    ev.delay_ms = d;
    tr__log_emit(tr_self_runtime(self), &ev);
}

static void report_gave_up(tr_self *self, const tr__sup_child *c, const tr_sup_flags *f,
                           size_t restarts, const tr_reason *why) {
    tr_log_event ev;
    if (!report_begin(self, &ev, TR_LOG_SUP_GAVE_UP, TR_LOG_ERROR, c))
        return;
    ev.child_pid = c ? c->prev_pid : TR_PID_NONE;
    ev.restarts = (uint32_t)restarts;
    ev.intensity = f->intensity;
    ev.period_ms = f->period_ms;
    ev.reason = *why;
    tr__log_emit(tr_self_runtime(self), &ev);
}

static int child_start(tr_self *self, tr__sup_child *c, tr_start_error *error) {
    tr_pid pid;
    int rc;
    if (c->fiber) {
        /* A named fiber child's name is kept across restarts too. */
        tr_fiber_opts o = {.link_to = tr_self_pid(self), .stack_size = c->stack_size};
        rc = tr__spawn_fiber_kept(tr_self_runtime(self), c->fiber, (void *)c->arg, &o, c->name,
                                  tr_self_pid(self), &pid);
    } else if (c->on_fiber || c->name || error) {
        /* A named child's name is kept by the supervisor across restarts. */
        tr_spawn_opts o = {.link_to = tr_self_pid(self),
                           .on_fiber = c->on_fiber,
                           .stack_size = c->stack_size,
                           .name = c->name,
                           .error = error};
        rc = tr__spawn_kept(tr_self_runtime(self), c->behaviour, c->arg, &o, tr_self_pid(self),
                            &pid);
    } else {
        rc = tr_spawn_link(self, c->behaviour, c->arg, &pid);
    }
    if (rc) {
        if (error && c->fiber) /* tr_spawn_fiber has no report of its own */
            error->reason = tr_reason_error(rc, tr_strerror(rc));
        return rc;
    }
    c->pid = c->prev_pid = pid;
    c->started_ms = tr_now_ms();
    c->should_run = true;
    tr_log_event ev;
    if (report_begin(self, &ev, TR_LOG_CHILD_STARTED, TR_LOG_INFO, c))
        tr__log_emit(tr_self_runtime(self), &ev);
    return 0;
}

/* A named child that will not run again (until a management call starts
 * it): its name, kept across restarts, is freed. */
static void name_release(tr_self *self, const tr__sup_child *c) {
    if (c->name)
        tr__name_release(tr_self_runtime(self), c->name, tr_self_pid(self));
}

/* Why a supervisor stops when a child cannot be started, at its first
 * start (init fails: tr_supervisor_start returns TR_EINIT) or at a restart
 * (it gives up): shutdown, with rc and the child's id, as OTP's
 * {shutdown, {failed_to_start_child, Id, Reason}}. Out of memory stays the
 * error it is (tr_spawn turns an init's error(TR_ENOMEM) into TR_ENOMEM). */
static tr_reason start_failed_reason(const tr__sup_child *c, int rc) {
    tr_reason r = rc == TR_ENOMEM ? tr_reason_error(TR_ENOMEM, NULL) : tr_reason_shutdown();
    r.code = rc;
    /* 22 + 33 bytes: a longer id is cut (the text holds 55) */
    snprintf(r.text, sizeof r.text, "failed to start child %.33s", c->id);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Restart intensity and backoff                                             */
/* ------------------------------------------------------------------------ */

/* The ring's first size: restarts are rare, and most intensities small. */
#define RS_INITIAL 16

/* Moves the ring to a new allocation of cap entries, keeping the most
 * recent restarts that fit. TR_ENOMEM leaves it as it was. */
static int rs_resize(sup_state *st, size_t cap) {
    int64_t *rs = tr__malloc(cap * sizeof(*rs));
    if (!rs)
        return TR_ENOMEM;
    size_t keep = st->rs_len < cap ? st->rs_len : cap;
    for (size_t i = 0; i < keep; i++)
        rs[i] = st->rs[(st->rs_head + st->rs_len - keep + i) % st->rs_cap];
    tr__free(st->rs);
    st->rs = rs;
    st->rs_cap = cap;
    st->rs_len = keep;
    st->rs_head = 0;
    return 0;
}

/* Sets the ring up for `intensity` (at start, and when the flags change). */
static int rs_alloc(sup_state *st, int intensity) {
    size_t max = (size_t)intensity + 1;
    size_t cap = st->rs_len > RS_INITIAL ? st->rs_len : RS_INITIAL;
    int rc = rs_resize(st, cap < max ? cap : max);
    if (rc == 0)
        st->rs_max = max;
    return rc;
}

/* Records one restart; true when more than `intensity` restarts happened
 * within `period_ms` (the supervisor must give up). A ring that cannot
 * grow for want of memory counts as reached intensity: a supervisor that
 * cannot tell gives up rather than restart without a bound. */
static bool note_restart(sup_state *st) {
    int64_t now = tr_now_ms();
    while (st->rs_len > 0 && now - st->rs[st->rs_head] >= st->flags.period_ms) {
        st->rs_head = (st->rs_head + 1) % st->rs_cap;
        st->rs_len--;
    }
    if (st->rs_len == st->rs_cap && st->rs_cap < st->rs_max) {
        size_t cap = st->rs_cap * 2 < st->rs_max ? st->rs_cap * 2 : st->rs_max;
        if (rs_resize(st, cap))
            return true;
    }
    if (st->rs_len == st->rs_cap) { /* cannot happen: we gave up before */
        st->rs_head = (st->rs_head + 1) % st->rs_cap;
        st->rs_len--;
    }
    st->rs[(st->rs_head + st->rs_len) % st->rs_cap] = now;
    st->rs_len++;
    return st->rs_len > (size_t)st->flags.intensity;
}

static bool backoff_on(const sup_state *st) {
    return st->flags.backoff_initial_ms > 0;
}

/* The next restart delay, in saturating arithmetic: a delay past the
 * clock's range stays INT64_MAX, and its timer never fires. */
static tr_duration_ms backoff_delay(tr_runtime *rt, sup_state *st, tr__sup_child *c) {
    tr_duration_ms d = c->backoff_next > 0 ? c->backoff_next : st->flags.backoff_initial_ms;
    tr_duration_ms next = tr__sat_mul(d, 2);
    if (st->flags.backoff_max_ms > 0 && next > st->flags.backoff_max_ms)
        next = st->flags.backoff_max_ms;
    c->backoff_next = next;
    if (st->flags.backoff_jitter_pct > 0) {
        /* d * pct / 100 without forming d * pct (pct <= 100) */
        int64_t pct = (int64_t)(tr__random(rt) % (st->flags.backoff_jitter_pct + 1));
        d = tr__sat_add(d, d / 100 * pct + d % 100 * pct / 100);
    }
    return d;
}

/* ------------------------------------------------------------------------ */
/* Ops: stopping children asynchronously                                     */
/* ------------------------------------------------------------------------ */

static void op_free(sup_op *op) {
    if (!op || op->reserved)
        return;
    tr__free(op->serials);
    tr__free(op);
}

static sup_op *op_new(op_kind kind, size_t n) {
    sup_op *op = tr__calloc(sizeof(*op));
    if (!op)
        return NULL;
    op->kind = kind;
    op->serials = tr__malloc((n ? n : 1) * sizeof(uint64_t));
    if (!op->serials) {
        tr__free(op);
        return NULL;
    }
    return op;
}

static const tr_behaviour sup_behaviour;
static const tr_behaviour sup_owned_behaviour;

/* A reply the caller gets nothing of (out of memory, even for the bare
 * TR_ENOMEM that replaces it): the supervisor stops after this callback
 * (sup_result), so that the caller, who may wait without a timeout
 * (which_children, start_child ...), learns through its monitor. Replies
 * are made only in the supervisor's callbacks. */
static void note_reply_lost(void) {
    tr_self *self = tr__current();
    const tr_behaviour *b = self ? tr__self_behaviour(self) : NULL;
    if (b && (b == &sup_behaviour || b == &sup_owned_behaviour))
        ((sup_state *)tr__self_state(self))->reply_lost = true;
}

static void sup_reply(tr_from from, uint32_t tag, const void *data, size_t size) {
    if (tr__reply_lost(from, TR_OK, tag, data, size))
        note_reply_lost();
}

static void call_reply_err(tr_from from, int err) {
    const char *text = tr_strerror(err);
    if (tr__reply_lost(from, err, 0, text, strlen(text) + 1))
        note_reply_lost();
}

static void handle_mgmt(tr_self *self, sup_state *st, uint32_t tag, const void *data, size_t size,
                        tr_from from);
static void begin_shutdown(tr_self *self, sup_state *st, tr_reason reason);
static void start_missing(tr_self *self, sup_state *st);

/* Sends the child pid the shutdown exit signal, in the block reserved with
 * the link when the heap is full; without even that, a kill (which needs
 * none): a stop never waits for a signal that was not sent. */
static void shutdown_or_kill(tr_self *self, tr_pid pid) {
    if (tr__exit_linked(self, pid, tr_reason_shutdown()) == TR_ENOMEM)
        tr_exit(tr_self_runtime(self), pid, tr_reason_kill());
}

/* Sends the stop signal to the running op's next child, or completes ops
 * until one has to wait. */
static void ops_run(tr_self *self, sup_state *st) {
    tr_runtime *rt = tr_self_runtime(self);
    for (;;) {
        sup_op *op = st->ops.head;
        if (!op)
            break;
        if (!tr_pid_is_none(st->waiting_pid))
            return; /* still waiting for an EXIT */
        while (op->next < op->n) {
            size_t k = op->n - 1 - op->next; /* no serials: kids in reverse order */
            tr__sup_child *c = op->serials ? find_by_serial(st, op->serials[op->next])
                               : k < st->n ? st->kids[k]
                                           : NULL;
            if (!c || tr_pid_is_none(c->pid)) {
                op->next++;
                continue;
            }
            st->waiting_pid = c->pid;
            st->stop_seq++;
            st->kill_timer = 0;
            if (c->shutdown_ms == TR_BRUTAL_KILL) {
                tr_exit(rt, c->pid, tr_reason_kill());
            } else {
                /* An already dead child's EXIT is on its way (it is linked). */
                shutdown_or_kill(self, c->pid);
                if (c->shutdown_ms != TR_INFINITY &&
                    tr_send_after(rt, tr_self_pid(self), c->shutdown_ms, TR__SUP_TAG_KILL,
                                  &st->stop_seq, sizeof(st->stop_seq), &st->kill_timer) != 0)
                    tr_exit(rt, c->pid, tr_reason_kill()); /* no timer: no waiting either */
            }
            return;
        }
        /* op complete */
        TR__FIFO_POP(&st->ops, next_op);
        switch (op->kind) {
        case OP_TERMINATE:
            if (op->remove_after && op->n == 1) {
                tr__sup_child *c = find_by_serial(st, op->serials[0]);
                if (c)
                    kids_remove(rt, st, c);
            }
            if (op->has_from)
                sup_reply(op->from, op->tag, NULL, 0);
            break;
        case OP_RESTART_GROUP:
            break; /* start_missing below starts the group again */
        case OP_SHUTDOWN:
            st->exit_now = true;
            st->exit_reason = op->reason;
            break;
        }
        op_free(op);
        if (st->exit_now)
            return;
    }
    if (st->shutting_down)
        return;
    start_missing(self, st);
    /* deferred management calls, until one starts an op */
    while (!st->ops.head && !st->exit_now && st->calls.head) {
        sup_call *call = TR__FIFO_POP(&st->calls, next);
        handle_mgmt(self, st, call->tag, call->data, call->size, call->from);
        tr__free(call->data);
        tr__free(call);
    }
}

/* The running op's child exited. */
static void ops_child_exited(tr_self *self, sup_state *st, tr__sup_child *c) {
    if (st->kill_timer)
        tr_cancel_timer(tr_self_runtime(self), st->kill_timer);
    st->kill_timer = 0;
    st->waiting_pid = TR_PID_NONE;
    if (c) {
        c->pid = TR_PID_NONE;
        if (!c->should_run)
            name_release(self, c);
        if (c->restart == TR_TEMPORARY && st->ops.head && st->ops.head->kind != OP_TERMINATE)
            kids_remove(tr_self_runtime(self), st, c);
    }
    if (st->ops.head)
        st->ops.head->next++;
    ops_run(self, st);
}

static void fail_queued_calls(sup_state *st, int err) {
    sup_call *call;
    while ((call = TR__FIFO_POP(&st->calls, next))) {
        call_reply_err(call->from, err);
        tr__free(call->data);
        tr__free(call);
    }
}

/* Stops every child in reverse start order, then exits with reason. The
 * op that runs now finishes first; queued ops are answered with
 * TR_ESHUTDOWN. */
static void begin_shutdown(tr_self *self, sup_state *st, tr_reason reason) {
    tr_runtime *rt = tr_self_runtime(self);
    if (st->shutting_down)
        return;
    st->shutting_down = true;
    fail_queued_calls(st, TR_ESHUTDOWN);
    /* drop the ops that have not started */
    if (st->ops.head) {
        sup_op *op = st->ops.head->next_op;
        while (op) {
            sup_op *next = op->next_op;
            if (op->has_from)
                call_reply_err(op->from, TR_ESHUTDOWN);
            op_free(op);
            op = next;
        }
        st->ops.head->next_op = NULL;
        st->ops.tail = st->ops.head;
    }
    for (size_t i = 0; i < st->n; i++) {
        tr__sup_child *c = st->kids[i];
        c->should_run = false;
        if (c->backoff_pending) {
            tr_cancel_timer(rt, c->backoff_timer);
            c->backoff_pending = false;
        }
    }
    sup_op *op = op_new(OP_SHUTDOWN, st->n);
    if (op) {
        for (size_t i = st->n; i-- > 0;)
            op->serials[op->n++] = st->kids[i]->serial;
    } else {
        /* Out of memory: the op kept in the state stops the children in
         * the same order, by position (children only leave the table
         * behind the one being stopped). */
        op = &st->shutdown_op;
        memset(op, 0, sizeof *op);
        op->kind = OP_SHUTDOWN;
        op->reserved = true;
        op->n = st->n;
    }
    op->reason = reason;
    TR__FIFO_PUSH(&st->ops, op, next_op);
    ops_run(self, st);
}

/* A group strategy (one_for_all, rest_for_one) with a backoff: a pending
 * delay holds back the whole group's start. */
static bool group_held(const sup_state *st) {
    if (st->flags.strategy != TR_ONE_FOR_ALL && st->flags.strategy != TR_REST_FOR_ONE)
        return false;
    for (size_t i = 0; i < st->n; i++)
        if (st->kids[i]->backoff_pending)
            return true;
    return false;
}

/* Starts, in order, every child that should run and does not. A failed
 * start counts as a restart and is retried (after the backoff, or via a
 * message to self). */
static void start_missing(tr_self *self, sup_state *st) {
    tr_runtime *rt = tr_self_runtime(self);
    if (st->shutting_down || st->ops.head || tr__runtime_stopping(rt) || group_held(st))
        return;
    for (size_t i = 0; i < st->n; i++) {
        tr__sup_child *c = st->kids[i];
        if (!c->should_run || !tr_pid_is_none(c->pid) || c->backoff_pending)
            continue;
        tr_pid old = c->prev_pid;
        int rc = child_start(self, c, NULL);
        if (rc == 0) {
            c->restarts++;
            tr__count_restart(rt);
            tr_log_event ev;
            if (report_begin(self, &ev, TR_LOG_CHILD_RESTARTED, TR_LOG_NOTICE, c)) {
                ev.child_pid = old;
                ev.new_pid = c->pid;
                tr__log_emit(rt, &ev);
            }
            continue;
        }
        if (rc == TR_ECLOSED)
            return;
        report_start_failed(self, c, rc);
        if (note_restart(st)) {
            tr_reason why = start_failed_reason(c, rc);
            report_gave_up(self, c, &st->flags, st->rs_len, &why);
            begin_shutdown(self, st, why);
            return;
        }
        if (backoff_on(st)) {
            tr_duration_ms d = backoff_delay(rt, st, c);
            if (tr_send_after(rt, tr_self_pid(self), d, TR__SUP_TAG_BACKOFF, &c->serial,
                              sizeof(c->serial), &c->backoff_timer) == 0) {
                c->backoff_pending = true;
                report_delayed(self, c, d);
                if (group_held(st))
                    return; /* the rest of a group waits for it */
                continue;
            }
        }
        if (tr_send(rt, tr_self_pid(self), TR__SUP_TAG_RETRY, NULL, 0) == TR_ENOMEM)
            st->reply_lost = true; /* nothing would start it again: stop (sup_result) */
        return;                    /* later children wait for this one (start order) */
    }
}

/* Queues an op that stops `group` (kids indexes from..n-1 except skip) in
 * reverse order; start_missing restarts them when it completes. */
static void restart_group(tr_self *self, sup_state *st, size_t from, tr__sup_child *crashed) {
    tr_runtime *rt = tr_self_runtime(self);
    sup_op *op = op_new(OP_RESTART_GROUP, st->n);
    if (!op) {
        begin_shutdown(self, st, tr_reason_error(TR_ENOMEM, "supervisor out of memory"));
        return;
    }
    for (size_t i = st->n; i-- > from;) {
        tr__sup_child *c = st->kids[i];
        if (c == crashed)
            continue;
        if (c->backoff_pending) {
            tr_cancel_timer(rt, c->backoff_timer);
            c->backoff_pending = false;
        }
        if (!tr_pid_is_none(c->pid)) {
            op->serials[op->n++] = c->serial;
            /* temporary children of the group are not restarted */
            c->should_run = c->restart != TR_TEMPORARY;
        }
    }
    TR__FIFO_PUSH(&st->ops, op, next_op);
    ops_run(self, st);
}

/* auto_shutdown (OTP 24): c, a child that exited by itself and will not be
 * restarted, was significant: true when the supervisor must shut down. */
static bool auto_shutdown_due(const sup_state *st, const tr__sup_child *c) {
    if (!c->significant || st->flags.auto_shutdown == TR_AUTO_SHUTDOWN_NEVER)
        return false;
    if (st->flags.auto_shutdown == TR_AUTO_SHUTDOWN_ANY_SIGNIFICANT)
        return true;
    for (size_t i = 0; i < st->n; i++) { /* all_significant: none left running */
        const tr__sup_child *k = st->kids[i];
        if (k != c && k->significant && (!tr_pid_is_none(k->pid) || k->should_run))
            return false;
    }
    return true;
}

/* A child exited on its own (not stopped by an op). */
static void child_exited(tr_self *self, sup_state *st, tr__sup_child *c, const tr_reason *reason) {
    tr_runtime *rt = tr_self_runtime(self);
    bool crashed = reason->kind != TR_EXIT_NORMAL && reason->kind != TR_EXIT_SHUTDOWN;
    tr_log_event ev;
    if (report_begin(self, &ev, TR_LOG_CHILD_TERMINATED, crashed ? TR_LOG_ERROR : TR_LOG_INFO, c)) {
        ev.reason = *reason;
        tr__log_emit(rt, &ev);
    }
    c->pid = TR_PID_NONE;
    bool normal = reason->kind == TR_EXIT_NORMAL || reason->kind == TR_EXIT_SHUTDOWN;
    bool restart = c->restart == TR_PERMANENT || (c->restart == TR_TRANSIENT && !normal);
    if (st->shutting_down || tr__runtime_stopping(rt))
        restart = false;
    if (!restart) {
        c->should_run = false;
        name_release(self, c);
        bool shut = !st->shutting_down && !tr__runtime_stopping(rt) && auto_shutdown_due(st, c);
        if (c->restart == TR_TEMPORARY || st->sofo)
            kids_remove(rt, st, c);
        if (shut)
            begin_shutdown(self, st, tr_reason_shutdown());
        return;
    }
    if (backoff_on(st)) {
        tr_duration_ms reset =
            st->flags.backoff_max_ms > 0 ? st->flags.backoff_max_ms : SUP_BACKOFF_RESET_MS;
        if (tr_now_ms() - c->started_ms >= reset)
            c->backoff_next = 0;
    }
    if (note_restart(st)) {
        tr_reason why = tr_reason_shutdown();
        report_gave_up(self, c, &st->flags, st->rs_len, &why);
        begin_shutdown(self, st, why);
        return;
    }
    c->should_run = true;
    if (st->flags.strategy == TR_ONE_FOR_ALL || st->flags.strategy == TR_REST_FOR_ONE) {
        /* With a backoff, the group starts again after the crashed child's
         * delay (start_missing holds it back meanwhile), as one_for_one. */
        if (backoff_on(st)) {
            tr_duration_ms d = backoff_delay(rt, st, c);
            if (tr_send_after(rt, tr_self_pid(self), d, TR__SUP_TAG_BACKOFF, &c->serial,
                              sizeof(c->serial), &c->backoff_timer) == 0) {
                c->backoff_pending = true;
                report_delayed(self, c, d);
            }
        }
        restart_group(self, st, st->flags.strategy == TR_ONE_FOR_ALL ? 0 : kid_index(st, c), c);
        return;
    }
    if (backoff_on(st)) {
        tr_duration_ms d = backoff_delay(rt, st, c);
        if (tr_send_after(rt, tr_self_pid(self), d, TR__SUP_TAG_BACKOFF, &c->serial,
                          sizeof(c->serial), &c->backoff_timer) == 0) {
            c->backoff_pending = true;
            report_delayed(self, c, d);
            return;
        }
    }
    start_missing(self, st);
}

/* ------------------------------------------------------------------------ */
/* Management calls                                                          */
/* ------------------------------------------------------------------------ */

static void reply_pid(tr_from from, uint32_t tag, tr_pid pid) {
    sup_reply(from, tag, &pid, sizeof(pid));
}

/* Answers a start_child or restart_child request that failed with rc:
 * the error text ("failed to start child ID: REASON", NUL-terminated), then
 * the tr_start_error e with the child's id (tr_supervisor_start_child_ex
 * reads it from after the text). */
static void reply_start_failed(tr_from from, int rc, const char *id, tr_start_error *e) {
    char buf[160 + sizeof(tr_start_error)];
    char why[96];
    snprintf(e->child_id, sizeof e->child_id, "%s", id);
    e->child_index = -1;
    int len = snprintf(buf, 160, "failed to start child %.63s: %s", e->child_id,
                       tr_reason_format(&e->reason, why, sizeof why));
    size_t n = len < 0 ? 1 : (size_t)len >= 160 ? 160 : (size_t)len + 1;
    buf[n - 1] = '\0';
    memcpy(buf + n, e, sizeof *e);
    if (tr__reply_lost(from, rc, 0, buf, n + sizeof *e))
        note_reply_lost();
}

/* As reply_start_failed for a spec refused before any start (TR_EINVAL,
 * TR_EEXIST, TR_ENOMEM): reason error(rc, what). */
static void reply_spec_refused(tr_from from, int rc, const char *id, const char *what) {
    tr_start_error e;
    memset(&e, 0, sizeof e);
    e.reason = tr_reason_error(rc, what ? what : tr_strerror(rc));
    reply_start_failed(from, rc, id ? id : "", &e);
}

static void mgmt_start_child(tr_self *self, sup_state *st, uint32_t tag, const void *data,
                             size_t size, tr_from from) {
    const tr_child_spec *spec = size == sizeof(tr_child_spec) ? data : NULL;
    if (size != 0 && !spec) {
        call_reply_err(from, TR_EINVAL);
        return;
    }
    tr__sup_child *c;
    if (st->sofo) {
        if (spec && ((spec->arg_size > 0 && !spec->arg) || spec->arg_size > TR__SIZE_MAX)) {
            reply_spec_refused(from, TR_EINVAL, st->tmpl.id, "bad arg");
            return;
        }
        c = tr__malloc(sizeof(*c));
        if (!c) {
            reply_spec_refused(from, TR_ENOMEM, st->tmpl.id, NULL);
            return;
        }
        *c = st->tmpl;
        c->arg_copy = NULL;
        c->serial = ++st->next_serial;
        if (spec && (spec->arg || spec->arg_size)) {
            c->arg_size = spec->arg_size;
            c->arg = spec->arg;
            if (spec->arg_size > 0) {
                c->arg_copy = tr__malloc(spec->arg_size);
                if (!c->arg_copy) {
                    tr__sup_child_free(c);
                    reply_spec_refused(from, TR_ENOMEM, st->tmpl.id, NULL);
                    return;
                }
                memcpy(c->arg_copy, spec->arg, spec->arg_size);
                c->arg = c->arg_copy;
            }
        }
    } else {
        const char *what = NULL;
        if (!spec || tr__sup_check_child(spec, true, &what)) {
            reply_spec_refused(from, TR_EINVAL, spec && spec->id ? spec->id : "",
                               spec ? what : "no spec");
            return;
        }
        if (find_by_id(st, spec->id)) {
            reply_spec_refused(from, TR_EEXIST, spec->id, "duplicate id");
            return;
        }
        c = child_new(st, spec);
        if (!c) {
            reply_spec_refused(from, TR_ENOMEM, spec->id, NULL);
            return;
        }
    }
    tr_start_error e;
    memset(&e, 0, sizeof e);
    int rc = child_start(self, c, &e);
    if (rc == 0 && (rc = kids_append(st, c)) != 0)
        e.reason = tr_reason_error(rc, tr_strerror(rc));
    if (rc) {
        if (!tr_pid_is_none(c->pid))
            tr_exit(tr_self_runtime(self), c->pid, tr_reason_kill());
        reply_start_failed(from, rc, c->id, &e);
        tr__sup_child_free(c);
        return;
    }
    reply_pid(from, tag, c->pid);
}

static tr__sup_child *ref_child(const sup_state *st, const void *data, size_t size) {
    if (size != sizeof(tr_sup_child_ref))
        return NULL;
    tr_sup_child_ref ref;
    memcpy(&ref, data, sizeof(ref));
    ref.id[TR_CHILD_ID_MAX] = '\0';
    return st->sofo ? find_by_pid(st, ref.pid) : find_by_id(st, ref.id);
}

static void mgmt_terminate_child(tr_self *self, sup_state *st, uint32_t tag, const void *data,
                                 size_t size, tr_from from) {
    tr_runtime *rt = tr_self_runtime(self);
    if (size != sizeof(tr_sup_child_ref)) {
        call_reply_err(from, TR_EINVAL);
        return;
    }
    tr__sup_child *c = ref_child(st, data, size);
    if (!c) {
        call_reply_err(from, TR_ENOTFOUND);
        return;
    }
    c->should_run = false;
    if (c->backoff_pending) {
        tr_cancel_timer(rt, c->backoff_timer);
        c->backoff_pending = false;
    }
    bool remove = st->sofo || c->restart == TR_TEMPORARY;
    if (tr_pid_is_none(c->pid)) {
        name_release(self, c); /* it was waiting for a restart */
        if (remove)
            kids_remove(rt, st, c);
        sup_reply(from, tag, NULL, 0);
        return;
    }
    sup_op *op = op_new(OP_TERMINATE, 1);
    if (!op) {
        call_reply_err(from, TR_ENOMEM);
        return;
    }
    op->serials[op->n++] = c->serial;
    op->has_from = true;
    op->from = from;
    op->tag = tag;
    op->remove_after = remove;
    TR__FIFO_PUSH(&st->ops, op, next_op);
    ops_run(self, st);
}

/* The stopped child a RESTART or DELETE request names, or NULL after
 * answering the error: TR_EINVAL (bad payload, or simple_one_for_one),
 * TR_ENOTFOUND, TR_ERUNNING. */
static tr__sup_child *stopped_child(sup_state *st, const void *data, size_t size, tr_from from) {
    if (size != sizeof(tr_sup_child_ref) || st->sofo) {
        call_reply_err(from, TR_EINVAL);
        return NULL;
    }
    tr__sup_child *c = ref_child(st, data, size);
    if (!c) {
        call_reply_err(from, TR_ENOTFOUND);
        return NULL;
    }
    if (!tr_pid_is_none(c->pid)) {
        call_reply_err(from, TR_ERUNNING);
        return NULL;
    }
    return c;
}

static void mgmt_restart_child(tr_self *self, sup_state *st, uint32_t tag, const void *data,
                               size_t size, tr_from from) {
    tr_runtime *rt = tr_self_runtime(self);
    tr__sup_child *c = stopped_child(st, data, size, from);
    if (!c)
        return;
    if (c->backoff_pending) {
        tr_cancel_timer(rt, c->backoff_timer);
        c->backoff_pending = false;
    }
    tr_start_error e;
    memset(&e, 0, sizeof e);
    int rc = child_start(self, c, &e);
    if (rc) {
        c->should_run = false;
        reply_start_failed(from, rc, c->id, &e);
        return;
    }
    reply_pid(from, tag, c->pid);
}

static void mgmt_delete_child(tr_self *self, sup_state *st, uint32_t tag, const void *data,
                              size_t size, tr_from from) {
    tr__sup_child *c = stopped_child(st, data, size, from);
    if (!c)
        return;
    kids_remove(tr_self_runtime(self), st, c);
    sup_reply(from, tag, NULL, 0);
}

static void mgmt_which_children(sup_state *st, uint32_t tag, tr_from from) {
    tr_child_info *info = tr__calloc((st->n ? st->n : 1) * sizeof(*info));
    if (!info) {
        call_reply_err(from, TR_ENOMEM);
        return;
    }
    for (size_t i = 0; i < st->n; i++) {
        const tr__sup_child *c = st->kids[i];
        memcpy(info[i].id, c->id, sizeof(info[i].id));
        info[i].pid = c->pid;
        info[i].type = c->type;
        info[i].restart = c->restart;
        info[i].restarts = c->restarts;
    }
    sup_reply(from, tag, info, st->n * sizeof(*info));
    tr__free(info);
}

static void mgmt_count_children(sup_state *st, uint32_t tag, tr_from from) {
    tr_child_counts cc = {0};
    cc.specs = st->n; /* simple_one_for_one: one per dynamic child */
    for (size_t i = 0; i < st->n; i++) {
        const tr__sup_child *c = st->kids[i];
        if (!tr_pid_is_none(c->pid))
            cc.active++;
        if (c->type == TR_SUPERVISOR)
            cc.supervisors++;
        else
            cc.workers++;
    }
    sup_reply(from, tag, &cc, sizeof(cc));
}

static void mgmt_set_intensity(sup_state *st, uint32_t tag, const void *data, size_t size,
                               tr_from from) {
    tr__sup_intensity in;
    if (size != sizeof(in)) {
        call_reply_err(from, TR_EINVAL);
        return;
    }
    memcpy(&in, data, sizeof(in));
    if (in.intensity < 0 || in.period_ms < 0) {
        call_reply_err(from, TR_EINVAL);
        return;
    }
    if (in.period_ms == 0) {
        in.intensity = SUP_DEFAULT_INTENSITY;
        in.period_ms = SUP_DEFAULT_PERIOD_MS;
    }
    int rc = rs_alloc(st, in.intensity);
    if (rc) {
        call_reply_err(from, rc);
        return;
    }
    st->flags.intensity = in.intensity;
    st->flags.period_ms = in.period_ms;
    sup_reply(from, tag, NULL, 0);
}

static void handle_mgmt(tr_self *self, sup_state *st, uint32_t tag, const void *data, size_t size,
                        tr_from from) {
    switch (tag) {
    case TR_SUP_START_CHILD:
        mgmt_start_child(self, st, tag, data, size, from);
        break;
    case TR_SUP_TERMINATE_CHILD:
        mgmt_terminate_child(self, st, tag, data, size, from);
        break;
    case TR_SUP_RESTART_CHILD:
        mgmt_restart_child(self, st, tag, data, size, from);
        break;
    case TR_SUP_DELETE_CHILD:
        mgmt_delete_child(self, st, tag, data, size, from);
        break;
    case TR_SUP_WHICH_CHILDREN:
        mgmt_which_children(st, tag, from);
        break;
    case TR_SUP_COUNT_CHILDREN:
        mgmt_count_children(st, tag, from);
        break;
    case TR__SUP_SET_INTENSITY:
        mgmt_set_intensity(st, tag, data, size, from);
        break;
    default:
        tr__reply_status(from, TR_EINVAL, "unknown supervisor request");
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                 */
/* ------------------------------------------------------------------------ */

static void state_free(sup_state *st) {
    for (size_t i = 0; i < st->n; i++)
        tr__sup_child_free(st->kids[i]);
    tr__free(st->kids);
    st->kids = NULL;
    st->n = st->cap = 0;
    tr__free(st->tmpl.arg_copy);
    st->tmpl.arg_copy = NULL;
    tr__free(st->rs);
    st->rs = NULL;
    sup_op *op;
    while ((op = TR__FIFO_POP(&st->ops, next_op)))
        op_free(op);
    sup_call *call;
    while ((call = TR__FIFO_POP(&st->calls, next))) {
        tr__free(call->data);
        tr__free(call);
    }
}

/* init failed after some children started: stop them in reverse order.
 * Off the scheduler (tr_supervisor_start from a plain thread) each child is
 * waited for by its shutdown rule; on a scheduler thread (a nested
 * supervisor) waiting is impossible, so the signals are only sent. */
static void init_unwind(tr_self *self, sup_state *st) {
    tr_runtime *rt = tr_self_runtime(self);
    bool can_wait = !tr_on_scheduler(rt);
    /* Our own init: user callbacks may not block here, but the supervisor
     * keeps its promise that nothing is left when tr_supervisor_start
     * returns TR_EINIT, so it waits with the unchecked form. */
    for (size_t i = st->n; i-- > 0;) {
        tr__sup_child *c = st->kids[i];
        if (tr_pid_is_none(c->pid))
            continue;
        if (c->shutdown_ms == TR_BRUTAL_KILL) {
            tr_exit(rt, c->pid, tr_reason_kill());
            if (can_wait)
                tr__await_exit_unchecked(rt, c->pid, TR_INFINITY, NULL);
            continue;
        }
        shutdown_or_kill(self, c->pid);
        if (can_wait &&
            tr__await_exit_unchecked(rt, c->pid, c->shutdown_ms, NULL) == TR_ETIMEDOUT) {
            tr_exit(rt, c->pid, tr_reason_kill());
            tr__await_exit_unchecked(rt, c->pid, TR_INFINITY, NULL);
        }
    }
}

static int sup_init(tr_self *self, void *state, const void *arg) {
    sup_state *st = state;
    const tr_sup_spec *spec = arg;
    tr_trap_exit(self, true);
    if (tr__sup_validate_spec(spec))
        return tr_stop(self, tr_reason_error(TR_EINVAL, "malformed supervisor spec"));
    st->flags = spec->flags;
    if (st->flags.period_ms == 0) {
        st->flags.intensity = SUP_DEFAULT_INTENSITY;
        st->flags.period_ms = SUP_DEFAULT_PERIOD_MS;
    }
    st->sofo = st->flags.strategy == TR_SIMPLE_ONE_FOR_ONE;
    if (rs_alloc(st, st->flags.intensity))
        goto nomem;
    if (st->sofo) {
        if (tr__sup_child_fill(&st->tmpl, &spec->children[0]))
            goto nomem;
        return TR_CONTINUE;
    }
    for (size_t i = 0; i < spec->n_children; i++) {
        tr__sup_child *c = child_new(st, &spec->children[i]);
        if (!c || kids_append(st, c)) {
            tr__sup_child_free(c);
            init_unwind(self, st);
            goto nomem;
        }
        int rc = child_start(self, c, st->start_err);
        if (rc) {
            report_start_failed(self, c, rc);
            tr_reason why = start_failed_reason(c, rc);
            if (st->start_err) { /* tr_supervisor_start_ex: which child, and its reason */
                snprintf(st->start_err->child_id, sizeof st->start_err->child_id, "%s", c->id);
                st->start_err->child_index = (long)i;
            }
            init_unwind(self, st);
            state_free(st);
            return tr_stop(self, why);
        }
    }
    return TR_CONTINUE;
nomem:
    state_free(st);
    return tr_stop(self, tr_reason_error(TR_ENOMEM, "supervisor out of memory"));
}

static int sup_result(tr_self *self, sup_state *st) {
    if (st->exit_now)
        return tr_stop(self, st->exit_reason);
    if (st->reply_lost)
        return tr_stop(self, tr_reason_error(TR_ENOMEM, "supervisor out of memory"));
    return TR_CONTINUE;
}

static int sup_handle_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    sup_state *st = state;
    if (st->shutting_down) {
        call_reply_err(from, TR_ESHUTDOWN);
        return sup_result(self, st);
    }
    if (st->ops.head) {
        sup_call *call = tr__malloc(sizeof(*call));
        void *copy = tr__malloc(msg->size);
        if (!call || !copy) {
            tr__free(call);
            tr__free(copy);
            call_reply_err(from, TR_ENOMEM);
            return sup_result(self, st);
        }
        if (msg->size)
            memcpy(copy, msg->data, msg->size);
        call->from = from;
        call->tag = msg->tag;
        call->data = copy;
        call->size = msg->size;
        TR__FIFO_PUSH(&st->calls, call, next);
        return TR_CONTINUE;
    }
    handle_mgmt(self, st, msg->tag, msg->data, msg->size, from);
    return sup_result(self, st);
}

static int sup_handle_cast(tr_self *self, void *state, const tr_msg *msg) {
    (void)self;
    (void)state;
    (void)msg;
    return TR_CONTINUE; /* a supervisor has no casts; ignore them */
}

static int sup_handle_info(tr_self *self, void *state, const tr_msg *msg) {
    sup_state *st = state;
    tr_runtime *rt = tr_self_runtime(self);
    switch (msg->kind) {
    case TR_MSG_EXIT: {
        const tr_reason *reason = tr_msg_reason(msg);
        tr_reason r = reason ? *reason : tr_reason_error(TR_EINVAL, "exit without reason");
        if (!tr_pid_is_none(st->waiting_pid) && tr_pid_eq(msg->sender, st->waiting_pid)) {
            ops_child_exited(self, st, find_by_pid(st, msg->sender));
            break;
        }
        tr__sup_child *c = find_by_pid(st, msg->sender);
        if (c) {
            child_exited(self, st, c, &r);
            break;
        }
        /* Not a child. From the parent (or a plain thread's tr_exit): an
         * order to stop. From any other actor: ignored, as OTP's supervisor
         * ignores unexpected EXIT messages. A normal exit signal never stops
         * us. */
        if (r.kind != TR_EXIT_NORMAL &&
            (tr_pid_is_none(msg->sender) || tr_pid_eq(msg->sender, tr__self_parent(self))))
            begin_shutdown(self, st, r);
        break;
    }
    case TR_MSG_TIMER:
        if (msg->tag == TR__SUP_TAG_KILL && msg->size == sizeof(uint64_t)) {
            uint64_t seq;
            memcpy(&seq, msg->data, sizeof(seq));
            if (seq == st->stop_seq && !tr_pid_is_none(st->waiting_pid)) {
                st->kill_timer = 0;
                tr_exit(rt, st->waiting_pid, tr_reason_kill());
            }
        } else if (msg->tag == TR__SUP_TAG_BACKOFF && msg->size == sizeof(uint64_t)) {
            uint64_t serial;
            memcpy(&serial, msg->data, sizeof(serial));
            tr__sup_child *c = find_by_serial(st, serial);
            if (c && c->backoff_pending && c->backoff_timer == msg->ref) {
                c->backoff_pending = false;
                start_missing(self, st);
            }
        }
        break;
    case TR_MSG_INFO:
        if (msg->tag == TR__SUP_TAG_RETRY && tr_pid_eq(msg->sender, tr_self_pid(self)))
            start_missing(self, st);
        break;
    default:
        break;
    }
    return sup_result(self, st);
}

static void sup_terminate(tr_self *self, void *state, tr_reason reason) {
    (void)reason;
    sup_state *st = state;
    tr_runtime *rt = tr_self_runtime(self);
    fail_queued_calls(st, TR_ESHUTDOWN);
    for (sup_op *op = st->ops.head; op; op = op->next_op)
        if (op->has_from)
            call_reply_err(op->from, TR_ESHUTDOWN);
    if (st->kill_timer)
        tr_cancel_timer(rt, st->kill_timer);
    /* Normally every child is stopped by now. If not (the supervisor
     * crashed), make sure none outlives it; at runtime shutdown the
     * runtime stops them. */
    if (!tr__runtime_stopping(rt)) {
        for (size_t i = st->n; i-- > 0;) {
            tr__sup_child *c = st->kids[i];
            if (c->backoff_pending)
                tr_cancel_timer(rt, c->backoff_timer);
            if (!tr_pid_is_none(c->pid))
                tr_exit(rt, c->pid, tr_reason_kill());
        }
    }
    for (size_t i = 0; i < st->n; i++)
        name_release(self, st->kids[i]); /* names kept for restarts that will not come */
    /* the tables go in sup_cleanup, which also runs when we are killed */
}

/* Frees the supervisor's tables (child specs, restart history, ops, queued
 * calls) on every exit, kill included: terminate does not run then. */
static void sup_cleanup(void *state) {
    sup_state *st = state;
    state_free(st);
    if (st->owner.release)
        st->owner.release(st->owner.ctx);
    st->owner.release = NULL;
}

/* The pool's supervisor: holds a reference on what its children's args
 * point to for as long as it lives (it restarts children from them). */
static int sup_owned_init(tr_self *self, void *state, const void *arg) {
    sup_state *st = state;
    const tr__sup_owned_arg *oa = arg;
    st->owner = oa->owner;
    if (st->owner.retain)
        st->owner.retain(st->owner.ctx);
    st->start_err = oa->error;
    int rc = sup_init(self, state, oa->spec);
    st->start_err = NULL; /* the caller's, valid during init only */
    return rc;
}

static const tr_behaviour sup_behaviour = {
    .name = "supervisor",
    .state_size = sizeof(sup_state),
    .init = sup_init,
    .handle_call = sup_handle_call,
    .handle_cast = sup_handle_cast,
    .handle_info = sup_handle_info,
    .terminate = sup_terminate,
    .cleanup = sup_cleanup,
};

static const tr_behaviour sup_owned_behaviour = {
    .name = "supervisor",
    .state_size = sizeof(sup_state),
    .init = sup_owned_init,
    .handle_call = sup_handle_call,
    .handle_cast = sup_handle_cast,
    .handle_info = sup_handle_info,
    .terminate = sup_terminate,
    .cleanup = sup_cleanup,
};

const tr_behaviour *tr_supervisor_behaviour(void) {
    return &sup_behaviour;
}

const tr_behaviour *tr__supervisor_owned_behaviour(void) {
    return &sup_owned_behaviour;
}

/* ------------------------------------------------------------------------ */
/* Blocking API                                                              */
/* ------------------------------------------------------------------------ */

int tr_supervisor_start(tr_runtime *rt, const tr_sup_spec *spec, tr_pid *out) {
    if (!rt || !spec)
        return TR_EINVAL;
    int rc = tr__sup_validate_spec(spec);
    if (rc)
        return rc;
    return tr_spawn(rt, &sup_behaviour, spec, NULL, out);
}

int tr_supervisor_start_ex(tr_runtime *rt, const tr_sup_spec *spec, tr_pid *out,
                           tr_start_error *error) {
    if (!error)
        return tr_supervisor_start(rt, spec, out);
    memset(error, 0, sizeof *error);
    error->child_index = -1;
    const char *what = NULL;
    long at = -1;
    int rc = !rt ? TR_EINVAL : tr__sup_check_spec(spec, &what, &at);
    if (rc) {
        error->reason = tr_reason_error(rc, what ? what : "invalid argument");
        error->child_index = at;
        if (at >= 0 && spec->children[at].id)
            snprintf(error->child_id, sizeof error->child_id, "%.63s", spec->children[at].id);
        return rc;
    }
    tr__sup_owned_arg oa = {.spec = spec, .error = error};
    tr_start_error sup_err;
    tr_spawn_opts o = {.error = &sup_err};
    rc = tr_spawn(rt, &sup_owned_behaviour, &oa, &o, out);
    if (rc && error->child_index < 0)
        error->reason = sup_err.reason; /* the supervisor's own failure (memory) */
    return rc;
}

static int sup_req(tr_runtime *rt, tr_pid sup, uint32_t tag, const void *req, size_t size,
                   tr_buf *reply) {
    if (!rt)
        return TR_EINVAL;
    return tr_call(rt, sup, tag, req, size, reply, TR_INFINITY);
}

static int reply_pid_out(int rc, tr_buf *reply, tr_pid *out) {
    if (rc == 0 && out) {
        if (reply->size == sizeof(tr_pid))
            memcpy(out, reply->data, sizeof(tr_pid));
        else
            *out = TR_PID_NONE;
    }
    tr_buf_free(reply);
    return rc;
}

/* Fills error (may be NULL) from a start or restart request's outcome:
 * zeroed on success; else the supervisor's report that follows the error
 * text in the reply (reply_start_failed), or, when the request failed
 * before the supervisor answered, error(rc, tr_strerror(rc)) and id. */
static void start_error_out(int rc, const tr_buf *reply, const char *id, tr_start_error *error) {
    if (!error)
        return;
    memset(error, 0, sizeof *error);
    error->child_index = -1;
    if (rc == 0)
        return;
    const char *nul = reply->data ? memchr(reply->data, '\0', reply->size) : NULL;
    if (nul && reply->size - (size_t)(nul + 1 - (const char *)reply->data) == sizeof *error) {
        memcpy(error, nul + 1, sizeof *error);
        error->child_id[sizeof error->child_id - 1] = '\0';
        error->reason.text[sizeof error->reason.text - 1] = '\0';
        return;
    }
    error->reason = tr_reason_error(rc, tr_strerror(rc));
    if (id)
        snprintf(error->child_id, sizeof error->child_id, "%.63s", id);
}

int tr_supervisor_start_child_ex(tr_runtime *rt, tr_pid sup, const tr_child_spec *spec, tr_pid *out,
                                 tr_start_error *error) {
    tr_buf reply = {0};
    int rc = sup_req(rt, sup, TR_SUP_START_CHILD, spec, spec ? sizeof(*spec) : 0, &reply);
    start_error_out(rc, &reply, spec ? spec->id : NULL, error);
    return reply_pid_out(rc, &reply, out);
}

int tr_supervisor_start_child(tr_runtime *rt, tr_pid sup, const tr_child_spec *spec, tr_pid *out) {
    return tr_supervisor_start_child_ex(rt, sup, spec, out, NULL);
}

static int make_ref(const char *id, tr_pid pid, tr_sup_child_ref *ref) {
    memset(ref, 0, sizeof(*ref));
    if (id) {
        size_t len = strnlen(id, TR_CHILD_ID_MAX + 1);
        if (len > TR_CHILD_ID_MAX)
            return TR_EINVAL;
        memcpy(ref->id, id, len);
    }
    ref->pid = pid;
    return 0;
}

int tr_supervisor_terminate_child(tr_runtime *rt, tr_pid sup, const char *id, tr_pid pid) {
    tr_sup_child_ref ref;
    if (!id && tr_pid_is_none(pid))
        return TR_EINVAL;
    if (make_ref(id, pid, &ref))
        return TR_EINVAL;
    return sup_req(rt, sup, TR_SUP_TERMINATE_CHILD, &ref, sizeof(ref), NULL);
}

int tr_supervisor_restart_child_ex(tr_runtime *rt, tr_pid sup, const char *id, tr_pid *out,
                                   tr_start_error *error) {
    tr_sup_child_ref ref;
    tr_buf reply = {0};
    int rc = !id || make_ref(id, TR_PID_NONE, &ref) ? TR_EINVAL : 0;
    if (rc == 0)
        rc = sup_req(rt, sup, TR_SUP_RESTART_CHILD, &ref, sizeof(ref), &reply);
    start_error_out(rc, &reply, id, error);
    return reply_pid_out(rc, &reply, out);
}

int tr_supervisor_restart_child(tr_runtime *rt, tr_pid sup, const char *id, tr_pid *out) {
    return tr_supervisor_restart_child_ex(rt, sup, id, out, NULL);
}

int tr_supervisor_delete_child(tr_runtime *rt, tr_pid sup, const char *id) {
    tr_sup_child_ref ref;
    if (!id || make_ref(id, TR_PID_NONE, &ref))
        return TR_EINVAL;
    return sup_req(rt, sup, TR_SUP_DELETE_CHILD, &ref, sizeof(ref), NULL);
}

int tr_supervisor_which_children(tr_runtime *rt, tr_pid sup, tr_child_info *out, size_t max,
                                 size_t *n) {
    if (!out && max > 0)
        return TR_EINVAL;
    tr_buf reply = {0};
    int rc = sup_req(rt, sup, TR_SUP_WHICH_CHILDREN, NULL, 0, &reply);
    if (rc == 0) {
        size_t total = reply.size / sizeof(tr_child_info);
        size_t k = total < max ? total : max;
        if (k)
            memcpy(out, reply.data, k * sizeof(tr_child_info));
        if (n)
            *n = total;
    }
    tr_buf_free(&reply);
    return rc;
}

int tr_supervisor_count_children(tr_runtime *rt, tr_pid sup, tr_child_counts *out) {
    if (!out)
        return TR_EINVAL;
    tr_buf reply = {0};
    int rc = sup_req(rt, sup, TR_SUP_COUNT_CHILDREN, NULL, 0, &reply);
    if (rc == 0) {
        if (reply.size == sizeof(*out))
            memcpy(out, reply.data, sizeof(*out));
        else
            rc = TR_EREMOTE;
    }
    tr_buf_free(&reply);
    return rc;
}

int tr__sup_stop_await(tr_runtime *rt, tr_pid pid, tr_duration_ms timeout_ms) {
    if (!rt || tr_pid_is_none(pid))
        return TR_EINVAL;
    if (timeout_ms <= 0 && timeout_ms != TR_INFINITY)
        return TR_EINVAL;
    if (tr__blocking_refused(rt))
        return TR_EDEADLK;
    /* The wait is set up before the signal goes: out of memory, nothing
     * was sent. */
    return tr__exit_await(rt, pid, tr_reason_shutdown(), timeout_ms);
}

int tr_supervisor_stop(tr_runtime *rt, tr_pid sup, tr_duration_ms timeout_ms) {
    return tr__sup_stop_await(rt, sup, timeout_ms);
}
