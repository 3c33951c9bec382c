/* troupe tests — the shared test-support library (see testutil.h). */
#include "testutil.h"

int64_t tu_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t tu_now_ms(void) {
    return tu_now_us() / 1000;
}

void tu_sleep_us(int64_t us) {
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

void tu_sleep_ms(int64_t ms) {
    tu_sleep_us(ms * 1000);
}

tr_runtime *tu_start(unsigned threads) {
    tr_runtime_opts o;
    memset(&o, 0, sizeof o);
    o.threads = threads;
    tr_runtime *rt = NULL;
    int rc = tr_runtime_start(&o, &rt);
    if (rc != 0 || rt == NULL) {
        fprintf(stderr, "tr_runtime_start(%u): %s\n", threads, tr_err_name(rc));
        return NULL;
    }
    return rt;
}

tr_runtime *tu_rt_start(unsigned threads) {
    tr_runtime *rt = tu_start(threads);
    assert_non_null(rt);
    return rt;
}

void tu_rt_stop(tr_runtime **rt) {
    assert_rc(tr_runtime_free(rt), 0);
}

tu_log *tu_log_new(void) {
    tu_log *l = calloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    return l;
}

void tu_log_free(tu_log *l) {
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

void tu_log_add(tu_log *l, const tu_event *e) {
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    if (l->n < TU_LOG_MAX) {
        l->ev[l->n] = *e;
        l->ev[l->n].at_us = tu_now_us();
        l->n++;
    } else {
        l->dropped++;
    }
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void tu_log_msg(tu_log *l, int what, tr_self *self, const tr_msg *m) {
    tu_event e;
    memset(&e, 0, sizeof e);
    e.what = what;
    e.self = self ? tr_self_pid(self) : TR_PID_NONE;
    if (m) {
        e.kind = m->kind;
        e.tag = m->tag;
        e.sender = m->sender;
        e.ref = m->ref;
        e.status = m->status;
        e.size = m->size;
        if (m->data && m->size)
            memcpy(e.data, m->data, m->size < sizeof e.data ? m->size : sizeof e.data);
        const tr_reason *r = tr_msg_reason(m);
        if (r) {
            e.has_reason = true;
            e.reason = *r;
        }
    }
    tu_log_add(l, &e);
}

void tu_log_note(tu_log *l, const char *what, const char *name) {
    if (!l)
        return;
    tu_event e;
    memset(&e, 0, sizeof e);
    e.what = TU_EV_NOTE;
    int n = snprintf((char *)e.data, sizeof e.data, "%s:%s", what, name);
    e.size = n < 0 ? 0 : (size_t)n + 1 > sizeof e.data ? sizeof e.data : (size_t)n + 1;
    tu_log_add(l, &e);
}

static bool tu_ev_match(const tu_event *e, tr_pid self, int what, int kind) {
    if (!tr_pid_is_none(self) && !tr_pid_eq(e->self, self))
        return false;
    if (what != TU_ANY && e->what != what)
        return false;
    if (kind != TU_ANY && (int)e->kind != kind)
        return false;
    return true;
}

size_t tu_log_count(tu_log *l, tr_pid self, int what, int kind) {
    size_t c = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->n; i++)
        if (tu_ev_match(&l->ev[i], self, what, kind))
            c++;
    pthread_mutex_unlock(&l->mu);
    return c;
}

size_t tu_log_notes(tu_log *l) {
    return tu_log_count(l, TR_PID_NONE, TU_EV_NOTE, TU_ANY);
}

int tu_log_find_note(tu_log *l, const char *text, size_t from) {
    int r = -1;
    size_t k = 0; /* index among the notes */
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->n; i++) {
        if (l->ev[i].what != TU_EV_NOTE)
            continue;
        if (k >= from && strcmp((const char *)l->ev[i].data, text) == 0) {
            r = (int)k;
            break;
        }
        k++;
    }
    pthread_mutex_unlock(&l->mu);
    return r;
}

bool tu_log_get(tu_log *l, tr_pid self, int what, int kind, size_t idx, tu_event *out) {
    bool found = false;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->n; i++) {
        if (tu_ev_match(&l->ev[i], self, what, kind)) {
            if (idx == 0) {
                *out = l->ev[i];
                found = true;
                break;
            }
            idx--;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return found;
}

/* CLOCK_REALTIME (the condvars' clock) ms milliseconds from now. */
static struct timespec tu_realtime_after(int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

bool tu_log_wait(tu_log *l, tr_pid self, int what, int kind, size_t n, int64_t timeout_ms) {
    int64_t end = tu_now_ms() + timeout_ms;
    for (;;) {
        if (tu_log_count(l, self, what, kind) >= n)
            return true;
        if (tu_now_ms() >= end)
            return false;
        pthread_mutex_lock(&l->mu);
        struct timespec ts = tu_realtime_after(5);
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        pthread_mutex_unlock(&l->mu);
    }
}

void tu_gate_init(tu_gate *g) {
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->entered = 0;
    g->open = false;
}

void tu_gate_destroy(tu_gate *g) {
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

bool tu_gate_pass(tu_gate *g, int64_t timeout_ms) {
    struct timespec ts = tu_realtime_after(timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&g->mu);
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) {
        if (timeout_ms < 0)
            pthread_cond_wait(&g->cv, &g->mu);
        else if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) != 0)
            break;
    }
    bool open = g->open;
    pthread_mutex_unlock(&g->mu);
    return open;
}

void tu_gate_block(tu_gate *g) {
    tu_gate_pass(g, -1);
}

bool tu_gate_wait_entered(tu_gate *g, int n, int64_t timeout_ms) {
    int64_t end = tu_now_ms() + timeout_ms;
    bool ok;
    pthread_mutex_lock(&g->mu);
    while (!(ok = g->entered >= n) && tu_now_ms() < end) {
        struct timespec ts = tu_realtime_after(5);
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    pthread_mutex_unlock(&g->mu);
    return ok;
}

void tu_gate_open(tu_gate *g) {
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int tu_probe_init(tr_self *self, void *state, const void *arg) {
    tu_probe_state *s = state;
    const tu_probe_arg *a = arg;
    s->log = a ? a->log : NULL;
    tu_log_msg(s->log, TU_EV_INIT, self, NULL);
    return TR_CONTINUE;
}

static void tu_probe_reply(tr_from from, int64_t rc, uint64_t extra) {
    tu_cmd_result r = {rc, extra};
    tr_reply(from, 0, &r, sizeof r);
}

/* A command's tr_pid argument. */
static tr_pid tu_arg_pid(const tr_msg *m) {
    tr_pid p;
    memcpy(&p, m->data, sizeof p);
    return p;
}

static int tu_probe_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    tu_probe_state *s = state;
    switch (m->tag) {
    case TU_PING:
        tu_probe_reply(from, 0, tr_self_pid(self).id);
        return TR_CONTINUE;
    case TU_LINK:
        tu_probe_reply(from, tr_link(self, tu_arg_pid(m)), 0);
        return TR_CONTINUE;
    case TU_UNLINK:
        tu_probe_reply(from, tr_unlink(self, tu_arg_pid(m)), 0);
        return TR_CONTINUE;
    case TU_MONITOR: {
        uint64_t ref = 0;
        int rc = tr_monitor(self, tu_arg_pid(m), &ref);
        tu_probe_reply(from, rc, ref);
        return TR_CONTINUE;
    }
    case TU_DEMONITOR: {
        uint64_t ref;
        memcpy(&ref, m->data, sizeof ref);
        tu_probe_reply(from, tr_demonitor(self, ref), 0);
        return TR_CONTINUE;
    }
    case TU_TRAP: {
        bool on;
        memcpy(&on, m->data, sizeof on);
        tu_probe_reply(from, tr_trap_exit(self, on), 0);
        return TR_CONTINUE;
    }
    case TU_EXIT: {
        tu_exit_arg a;
        memcpy(&a, m->data, sizeof a);
        tu_probe_reply(from, tr_exit(tr_self_runtime(self), a.pid, a.reason), 0);
        return TR_CONTINUE;
    }
    case TU_SPAWN_LINK: {
        tu_spawn_arg a;
        memcpy(&a, m->data, sizeof a);
        tr_pid child = TR_PID_NONE;
        int rc = tr_spawn_link(self, a.b, a.arg, &child);
        tu_probe_reply(from, rc, child.id);
        return TR_CONTINUE;
    }
    case TU_REQUEST: {
        tu_request_arg a;
        memcpy(&a, m->data, sizeof a);
        uint64_t id = 0;
        int rc = tr_request(self, a.to, a.tag, NULL, 0, a.timeout_ms, &id);
        tu_probe_reply(from, rc, id);
        return TR_CONTINUE;
    }
    default:
        tu_log_msg(s->log, TU_EV_CALL, self, m);
        tu_probe_reply(from, 0, 0);
        return TR_CONTINUE;
    }
}

static int tu_probe_cast(tr_self *self, void *state, const tr_msg *m) {
    tu_probe_state *s = state;
    switch (m->tag) {
    case TU_STOP: {
        tr_reason r;
        memcpy(&r, m->data, sizeof r);
        return tr_stop(self, r);
    }
    case TU_FAIL: {
        tr_reason r;
        memcpy(&r, m->data, sizeof r);
        tr_fail(self, r);
    }
    case TU_GATE: {
        tu_gate *g;
        memcpy(&g, m->data, sizeof g);
        tu_gate_block(g);
        return TR_CONTINUE;
    }
    case TU_DEMON_KILL: {
        tu_demon_kill_arg a;
        memcpy(&a, m->data, sizeof a);
        tu_event e;
        memset(&e, 0, sizeof e);
        e.what = TU_EV_RC;
        e.self = tr_self_pid(self);
        e.status = tr_demonitor(self, a.ref);
        tr_exit(tr_self_runtime(self), a.pid, tr_reason_kill());
        tu_log_add(s->log, &e);
        return TR_CONTINUE;
    }
    default:
        tu_log_msg(s->log, TU_EV_CAST, self, m);
        return TR_CONTINUE;
    }
}

static int tu_probe_info(tr_self *self, void *state, const tr_msg *m) {
    tu_probe_state *s = state;
    tu_log_msg(s->log, TU_EV_INFO, self, m);
    return TR_CONTINUE;
}

static void tu_probe_terminate(tr_self *self, void *state, tr_reason reason) {
    tu_probe_state *s = state;
    tu_event e;
    memset(&e, 0, sizeof e);
    e.what = TU_EV_TERM;
    e.self = tr_self_pid(self);
    e.has_reason = true;
    e.reason = reason;
    tu_log_add(s->log, &e);
}

const tr_behaviour *tu_probe_behaviour(void) {
    static const tr_behaviour b = {
        .name = "probe",
        .state_size = sizeof(tu_probe_state),
        .init = tu_probe_init,
        .handle_call = tu_probe_call,
        .handle_cast = tu_probe_cast,
        .handle_info = tu_probe_info,
        .terminate = tu_probe_terminate,
    };
    return &b;
}

tr_pid tu_probe(tr_runtime *rt, tu_log *log, bool trap_exit) {
    tu_probe_arg a = {log};
    tr_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.trap_exit = trap_exit;
    tr_pid p = TR_PID_NONE;
    assert_rc(tr_spawn(rt, tu_probe_behaviour(), &a, &o, &p), 0);
    assert_false(tr_pid_is_none(p));
    return p;
}

int64_t tu_cmd(tr_runtime *rt, tr_pid p, uint32_t cmd, const void *arg, size_t size,
               uint64_t *extra) {
    tr_buf b;
    memset(&b, 0, sizeof b);
    int rc = tr_call(rt, p, cmd, arg, size, &b, 5000);
    if (rc != 0) {
        print_error("probe command %#x failed: %s\n", cmd, tr_err_name(rc));
        fail();
    }
    assert_int_equal(b.size, sizeof(tu_cmd_result));
    tu_cmd_result r;
    memcpy(&r, b.data, sizeof r);
    tr_buf_free(&b);
    if (extra)
        *extra = r.extra;
    return r.rc;
}

int tu_link(tr_runtime *rt, tr_pid p, tr_pid target) {
    return (int)tu_cmd(rt, p, TU_LINK, &target, sizeof target, NULL);
}

int tu_unlink(tr_runtime *rt, tr_pid p, tr_pid target) {
    return (int)tu_cmd(rt, p, TU_UNLINK, &target, sizeof target, NULL);
}

uint64_t tu_monitor(tr_runtime *rt, tr_pid p, tr_pid target) {
    uint64_t ref = 0;
    assert_rc(tu_cmd(rt, p, TU_MONITOR, &target, sizeof target, &ref), 0);
    assert_true(ref != 0);
    return ref;
}

void tu_ping(tr_runtime *rt, tr_pid p) {
    uint64_t id = 0;
    assert_rc(tu_cmd(rt, p, TU_PING, NULL, 0, &id), 0);
    assert_true(id == p.id);
}

void tu_stop(tr_runtime *rt, tr_pid p, tr_reason r) {
    assert_rc(tr_cast(rt, p, TU_STOP, &r, sizeof r), 0);
}

void tu_fail(tr_runtime *rt, tr_pid p, tr_reason r) {
    assert_rc(tr_cast(rt, p, TU_FAIL, &r, sizeof r), 0);
}

void tu_hold(tr_runtime *rt, tr_pid p, tu_gate *g) {
    assert_rc(tr_cast(rt, p, TU_GATE, &g, sizeof g), 0);
    assert_true(tu_gate_wait_entered(g, 1, 5000));
}

tr_reason tu_await(tr_runtime *rt, tr_pid p) {
    tr_reason r;
    memset(&r, 0, sizeof r);
    assert_rc(tr_await_exit(rt, p, 10000, &r), 0);
    return r;
}

tu_watch tu_watch_start(tr_runtime *rt, tu_log *log, tr_pid target) {
    tu_watch w;
    w.log = log;
    w.watcher = tu_probe(rt, log, false);
    w.ref = tu_monitor(rt, w.watcher, target);
    return w;
}

tr_reason tu_watch_wait(tu_watch *w) {
    assert_true(tu_log_wait(w->log, w->watcher, TU_EV_INFO, TR_MSG_DOWN, 1, 10000));
    tu_event e;
    assert_true(tu_log_get(w->log, w->watcher, TU_EV_INFO, TR_MSG_DOWN, 0, &e));
    assert_true(e.ref == w->ref);
    assert_true(e.has_reason);
    return e.reason;
}

int tu_fix_setup_n(void **state, unsigned threads) {
    tu_fix *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->rt = tu_start(threads);
    if (!f->rt) {
        free(f);
        return -1;
    }
    f->log = tu_log_new();
    for (int i = 0; i < TU_MAX_GATES; i++)
        tu_gate_init(&f->gate[i]);
    *state = f;
    return 0;
}

int tu_setup2(void **state) {
    return tu_fix_setup_n(state, 2);
}

int tu_setup4(void **state) {
    return tu_fix_setup_n(state, 4);
}

int tu_teardown(void **state) {
    tu_fix *f = *state;
    if (!f)
        return 0;
    for (int i = 0; i < TU_MAX_GATES; i++)
        tu_gate_open(&f->gate[i]);
    int rc = tr_runtime_free(&f->rt);
    for (int i = 0; i < TU_MAX_GATES; i++)
        tu_gate_destroy(&f->gate[i]);
    tu_log_free(f->log);
    free(f);
    *state = NULL;
    if (rc != 0) {
        fprintf(stderr, "tr_runtime_free: %s\n", tr_err_name(rc));
        return -1;
    }
    return 0;
}
