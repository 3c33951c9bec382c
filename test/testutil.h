/* troupe tests — shared helpers (test-only; not part of the library).
 *
 * - Time: tu_now_ms/tu_now_us (CLOCK_MONOTONIC), tu_sleep_ms, TU_WAIT.
 * - Scaling under ThreadSanitizer: TU_TSAN, TU_SCALE(normal, tsan).
 * - A fixture (tu_fix) that starts a runtime in cmocka's setup and shuts it
 *   down in teardown, so a failing test never leaves threads behind that
 *   point into a dead stack frame.
 * - tu_log: a mutex-protected event log that callbacks append to and the
 *   test thread waits on. Callbacks never call cmocka asserts (those may
 *   only run on the test thread); they record, the test thread asserts.
 * - tu_gate: lets a test hold an actor inside a callback (deliberately
 *   occupying one scheduler thread) to queue messages behind it.
 * - The probe: a scriptable actor driven by calls and casts (link,
 *   monitor, trap exits, stop, fail, ...) that logs everything it sees.
 */
#ifndef TROUPE_TEST_TESTUTIL_H
#define TROUPE_TEST_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <troupe/troupe.h>

/* ------------------------------------------------------------------------ */
/* Sanitizer scaling                                                         */
/* ------------------------------------------------------------------------ */

#if defined(__SANITIZE_THREAD__)
#define TU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TU_TSAN 1
#endif
#endif
#ifndef TU_TSAN
#define TU_TSAN 0
#endif
/* n in a normal build, tsan_n under ThreadSanitizer. */
#define TU_SCALE(n, tsan_n) (TU_TSAN ? (tsan_n) : (n))

/* ------------------------------------------------------------------------ */
/* Time                                                                      */
/* ------------------------------------------------------------------------ */

static inline int64_t tu_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t tu_now_ms(void) {
    return tu_now_us() / 1000;
}

static inline void tu_sleep_us(int64_t us) {
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static inline void tu_sleep_ms(int64_t ms) {
    tu_sleep_us(ms * 1000);
}

/* Polls cond (every 1 ms) until it holds or timeout_ms passes; yields
 * whether it held. Test-thread only. */
#define TU_WAIT(cond, timeout_ms)                                                                  \
    __extension__({                                                                                \
        int64_t tu__end = tu_now_ms() + (timeout_ms);                                              \
        bool tu__ok;                                                                               \
        while (!(tu__ok = (cond)) && tu_now_ms() < tu__end)                                        \
            tu_sleep_ms(1);                                                                        \
        tu__ok;                                                                                    \
    })

/* ------------------------------------------------------------------------ */
/* Runtime helpers                                                           */
/* ------------------------------------------------------------------------ */

static inline tr_runtime *tu_start(unsigned threads) {
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

static inline bool tu_reason_eq(const tr_reason *a, const tr_reason *b) {
    if (a->kind != b->kind)
        return false;
    if (a->kind != TR_EXIT_ERROR)
        return true;
    return a->code == b->code && strcmp(a->text, b->text) == 0;
}

#define assert_reason_kind(r, k)                                                                   \
    do {                                                                                           \
        char tu__buf[96];                                                                          \
        if ((r).kind != (k)) {                                                                     \
            print_error("reason is %s (kind %d), expected kind %d\n",                              \
                        tr_reason_format(&(r), tu__buf, sizeof tu__buf), (int)(r).kind, (int)(k)); \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define assert_rc(expr, expected)                                                                  \
    do {                                                                                           \
        int tu__rc = (int)(expr);                                                                  \
        if (tu__rc != (int)(expected)) {                                                           \
            print_error("%s returned %d (%s), expected %s\n", #expr, tu__rc, tr_err_name(tu__rc),  \
                        tr_err_name((int)(expected)));                                             \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define assert_pid_equal(a, b) assert_true(tr_pid_eq((a), (b)))

/* ------------------------------------------------------------------------ */
/* Event log                                                                 */
/* ------------------------------------------------------------------------ */

enum {
    TU_EV_INIT = 1, /* init ran */
    TU_EV_CALL,     /* handle_call (other than a probe command) */
    TU_EV_CAST,     /* handle_cast (other than a probe command) */
    TU_EV_INFO,     /* handle_info: kind says which */
    TU_EV_TERM,     /* terminate: reason */
    TU_EV_RC        /* a return code recorded by a cast command: status */
};

#define TU_ANY (-1)
#define TU_LOG_MAX 8192

typedef struct tu_event {
    int what;
    uint32_t kind;
    uint32_t tag;
    tr_pid self;
    tr_pid sender;
    uint64_t ref;
    int32_t status;
    bool has_reason;
    tr_reason reason;
    size_t size;
    unsigned char data[64];
    int64_t at_us;
} tu_event;

typedef struct tu_log {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t n;       /* events recorded */
    size_t dropped; /* events that did not fit */
    tu_event ev[TU_LOG_MAX];
} tu_log;

static inline tu_log *tu_log_new(void) {
    tu_log *l = calloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    return l;
}

static inline void tu_log_free(tu_log *l) {
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

static inline void tu_log_add(tu_log *l, const tu_event *e) {
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

static inline void tu_log_msg(tu_log *l, int what, tr_self *self, const tr_msg *m) {
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

static inline bool tu_ev_match(const tu_event *e, tr_pid self, int what, int kind) {
    if (!tr_pid_is_none(self) && !tr_pid_eq(e->self, self))
        return false;
    if (what != TU_ANY && e->what != what)
        return false;
    if (kind != TU_ANY && (int)e->kind != kind)
        return false;
    return true;
}

/* Number of events of `self` (TR_PID_NONE: any actor) with `what` and
 * message `kind` (TU_ANY: any). */
static inline size_t tu_log_count(tu_log *l, tr_pid self, int what, int kind) {
    size_t c = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->n; i++)
        if (tu_ev_match(&l->ev[i], self, what, kind))
            c++;
    pthread_mutex_unlock(&l->mu);
    return c;
}

/* The idx-th matching event into *out; false when there is none. */
static inline bool tu_log_get(tu_log *l, tr_pid self, int what, int kind, size_t idx,
                              tu_event *out) {
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

/* Waits until at least n matching events exist, up to timeout_ms. */
static inline bool tu_log_wait(tu_log *l, tr_pid self, int what, int kind, size_t n,
                               int64_t timeout_ms) {
    int64_t end = tu_now_ms() + timeout_ms;
    for (;;) {
        if (tu_log_count(l, self, what, kind) >= n)
            return true;
        if (tu_now_ms() >= end)
            return false;
        pthread_mutex_lock(&l->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        pthread_mutex_unlock(&l->mu);
    }
}

/* ------------------------------------------------------------------------ */
/* Gate: hold an actor inside a callback                                     */
/* ------------------------------------------------------------------------ */

typedef struct tu_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered;
    bool open;
} tu_gate;

static inline void tu_gate_init(tu_gate *g) {
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->entered = 0;
    g->open = false;
}

static inline void tu_gate_destroy(tu_gate *g) {
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

/* Callback side: announce entry, then wait until the gate opens. */
static inline void tu_gate_block(tu_gate *g) {
    pthread_mutex_lock(&g->mu);
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static inline bool tu_gate_wait_entered(tu_gate *g, int n, int64_t timeout_ms) {
    int64_t end = tu_now_ms() + timeout_ms;
    bool ok;
    pthread_mutex_lock(&g->mu);
    while (!(ok = g->entered >= n) && tu_now_ms() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    pthread_mutex_unlock(&g->mu);
    return ok;
}

static inline void tu_gate_open(tu_gate *g) {
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* ------------------------------------------------------------------------ */
/* The probe actor                                                           */
/* ------------------------------------------------------------------------ */

/* Commands sent as calls (reply: tu_cmd_result). */
enum {
    TU_PING = 0x7e570001u, /* result: 0, extra: self pid id */
    TU_LINK,               /* arg tr_pid; result: tr_link rc */
    TU_UNLINK,             /* arg tr_pid; result: tr_unlink rc */
    TU_MONITOR,            /* arg tr_pid; result: rc, extra: ref */
    TU_DEMONITOR,          /* arg uint64_t ref; result: rc */
    TU_TRAP,               /* arg bool; result: old value */
    TU_EXIT,               /* arg tu_exit_arg; result: tr_exit rc */
    TU_SPAWN_LINK,         /* arg tu_spawn_arg; result: rc, extra: pid id */
    TU_REQUEST,            /* arg tu_request_arg; result: rc, extra: request id */
    /* Commands sent as casts. */
    TU_STOP,      /* arg tr_reason: return tr_stop(self, reason) */
    TU_FAIL,      /* arg tr_reason: tr_fail(self, reason) */
    TU_GATE,      /* arg tu_gate *: block in the callback until the gate opens */
    TU_DEMON_KILL /* arg tu_demon_kill_arg: demonitor(ref), then kill pid; logs RC */
};

typedef struct tu_cmd_result {
    int64_t rc;
    uint64_t extra;
} tu_cmd_result;

typedef struct tu_exit_arg {
    tr_pid pid;
    tr_reason reason;
} tu_exit_arg;

typedef struct tu_spawn_arg {
    const tr_behaviour *b;
    const void *arg;
} tu_spawn_arg;

typedef struct tu_request_arg {
    tr_pid to;
    uint32_t tag;
    tr_duration_ms timeout_ms;
} tu_request_arg;

typedef struct tu_demon_kill_arg {
    uint64_t ref;
    tr_pid pid;
} tu_demon_kill_arg;

/* Probe spawn argument; the probe copies it in init. */
typedef struct tu_probe_arg {
    tu_log *log;
} tu_probe_arg;

typedef struct tu_probe_state {
    tu_log *log;
} tu_probe_state;

static inline int tu_probe_init(tr_self *self, void *state, const void *arg) {
    tu_probe_state *s = state;
    const tu_probe_arg *a = arg;
    s->log = a ? a->log : NULL;
    tu_log_msg(s->log, TU_EV_INIT, self, NULL);
    return TR_CONTINUE;
}

static inline void tu_probe_reply(tr_from from, int64_t rc, uint64_t extra) {
    tu_cmd_result r = {rc, extra};
    tr_reply(from, 0, &r, sizeof r);
}

static inline int tu_probe_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    tu_probe_state *s = state;
    switch (m->tag) {
    case TU_PING:
        tu_probe_reply(from, 0, tr_self_pid(self).id);
        return TR_CONTINUE;
    case TU_LINK: {
        tr_pid p;
        memcpy(&p, m->data, sizeof p);
        tu_probe_reply(from, tr_link(self, p), 0);
        return TR_CONTINUE;
    }
    case TU_UNLINK: {
        tr_pid p;
        memcpy(&p, m->data, sizeof p);
        tu_probe_reply(from, tr_unlink(self, p), 0);
        return TR_CONTINUE;
    }
    case TU_MONITOR: {
        tr_pid p;
        memcpy(&p, m->data, sizeof p);
        uint64_t ref = 0;
        int rc = tr_monitor(self, p, &ref);
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

static inline int tu_probe_cast(tr_self *self, void *state, const tr_msg *m) {
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

static inline int tu_probe_info(tr_self *self, void *state, const tr_msg *m) {
    tu_probe_state *s = state;
    tu_log_msg(s->log, TU_EV_INFO, self, m);
    return TR_CONTINUE;
}

static inline void tu_probe_terminate(tr_self *self, void *state, tr_reason reason) {
    tu_probe_state *s = state;
    tu_event e;
    memset(&e, 0, sizeof e);
    e.what = TU_EV_TERM;
    e.self = tr_self_pid(self);
    e.has_reason = true;
    e.reason = reason;
    tu_log_add(s->log, &e);
}

static inline const tr_behaviour *tu_probe_behaviour(void) {
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

/* Spawns a probe logging into log; asserts success. */
static inline tr_pid tu_probe(tr_runtime *rt, tu_log *log, bool trap_exit) {
    tu_probe_arg a = {log};
    tr_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.trap_exit = trap_exit;
    tr_pid p = TR_PID_NONE;
    assert_rc(tr_spawn(rt, tu_probe_behaviour(), &a, &o, &p), 0);
    assert_false(tr_pid_is_none(p));
    return p;
}

/* Runs a probe command (a call); asserts the call itself succeeded and
 * returns the command's result (extra, if not NULL, gets the extra). */
static inline int64_t tu_cmd(tr_runtime *rt, tr_pid p, uint32_t cmd, const void *arg, size_t size,
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

static inline int tu_link(tr_runtime *rt, tr_pid p, tr_pid target) {
    return (int)tu_cmd(rt, p, TU_LINK, &target, sizeof target, NULL);
}

static inline int tu_unlink(tr_runtime *rt, tr_pid p, tr_pid target) {
    return (int)tu_cmd(rt, p, TU_UNLINK, &target, sizeof target, NULL);
}

static inline uint64_t tu_monitor(tr_runtime *rt, tr_pid p, tr_pid target) {
    uint64_t ref = 0;
    assert_rc(tu_cmd(rt, p, TU_MONITOR, &target, sizeof target, &ref), 0);
    assert_true(ref != 0);
    return ref;
}

static inline void tu_ping(tr_runtime *rt, tr_pid p) {
    uint64_t id = 0;
    assert_rc(tu_cmd(rt, p, TU_PING, NULL, 0, &id), 0);
    assert_true(id == p.id);
}

static inline void tu_stop(tr_runtime *rt, tr_pid p, tr_reason r) {
    assert_rc(tr_cast(rt, p, TU_STOP, &r, sizeof r), 0);
}

static inline void tu_fail(tr_runtime *rt, tr_pid p, tr_reason r) {
    assert_rc(tr_cast(rt, p, TU_FAIL, &r, sizeof r), 0);
}

static inline void tu_hold(tr_runtime *rt, tr_pid p, tu_gate *g) {
    assert_rc(tr_cast(rt, p, TU_GATE, &g, sizeof g), 0);
    assert_true(tu_gate_wait_entered(g, 1, 5000));
}

/* Awaits p's exit from the test thread; returns the reason. */
static inline tr_reason tu_await(tr_runtime *rt, tr_pid p) {
    tr_reason r;
    memset(&r, 0, sizeof r);
    assert_rc(tr_await_exit(rt, p, 10000, &r), 0);
    return r;
}

/* A watcher: a probe monitoring a target, set up before the target is told
 * to exit, so its DOWN carries the real reason (tr_await_exit started after
 * the exit would see noproc). */
typedef struct tu_watch {
    tu_log *log;
    tr_pid watcher;
    uint64_t ref;
} tu_watch;

static inline tu_watch tu_watch_start(tr_runtime *rt, tu_log *log, tr_pid target) {
    tu_watch w;
    w.log = log;
    w.watcher = tu_probe(rt, log, false);
    w.ref = tu_monitor(rt, w.watcher, target);
    return w;
}

/* Waits for the watcher's DOWN; returns its reason. */
static inline tr_reason tu_watch_wait(tu_watch *w) {
    assert_true(tu_log_wait(w->log, w->watcher, TU_EV_INFO, TR_MSG_DOWN, 1, 10000));
    tu_event e;
    assert_true(tu_log_get(w->log, w->watcher, TU_EV_INFO, TR_MSG_DOWN, 0, &e));
    assert_true(e.ref == w->ref);
    assert_true(e.has_reason);
    return e.reason;
}

/* ------------------------------------------------------------------------ */
/* Fixture: a runtime and a log per test                                     */
/* ------------------------------------------------------------------------ */

#define TU_MAX_GATES 4

typedef struct tu_fix {
    tr_runtime *rt;
    tu_log *log;
    tu_gate gate[TU_MAX_GATES];
} tu_fix;

static inline int tu_fix_setup_n(void **state, unsigned threads) {
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

static inline int tu_setup2(void **state) {
    return tu_fix_setup_n(state, 2);
}
static inline int tu_setup4(void **state) {
    return tu_fix_setup_n(state, 4);
}

static inline int tu_teardown(void **state) {
    tu_fix *f = *state;
    if (!f)
        return 0;
    for (int i = 0; i < TU_MAX_GATES; i++)
        tu_gate_open(&f->gate[i]);
    int rc = tr_runtime_shutdown(&f->rt);
    for (int i = 0; i < TU_MAX_GATES; i++)
        tu_gate_destroy(&f->gate[i]);
    tu_log_free(f->log);
    free(f);
    *state = NULL;
    if (rc != 0) {
        fprintf(stderr, "tr_runtime_shutdown: %s\n", tr_err_name(rc));
        return -1;
    }
    return 0;
}

#define TU_TEST(fn) cmocka_unit_test_setup_teardown(fn, tu_setup2, tu_teardown)
#define TU_TEST4(fn) cmocka_unit_test_setup_teardown(fn, tu_setup4, tu_teardown)

#endif
