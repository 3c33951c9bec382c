/* troupe — allocation-failure injection (issue 8, defect 11 and the
 * reliability suite).
 *
 * Linked against troupe_fault, the library built with TR_FAULT_INJECTION
 * (base/alloc.h, actor/fault.h): tr__fault_arm(rt, n, every) makes the
 * nth allocation of the runtime's threads fail (then every every-th).
 * For each operation (spawn, send, call, timers, supervisor start and
 * which_children, pool start, kill/exit/DOWN, supervisor and pool stop,
 * the task pool) it sweeps n from 1 until the operation no longer reaches
 * the nth allocation, and checks:
 *   - the operation returns its documented error (TR_ENOMEM) or succeeds,
 *     and what it accepted is delivered (a cast, a timer, a reply, a task);
 *   - nothing hangs: every operation runs on a helper thread that must
 *     finish within a bound (a hang is reported, not waited out);
 *   - the runtime still works afterwards (spawn + call, injection off);
 *   - no leak: the ASan build runs this test with detect_leaks=1.
 * Kill, exit and DOWN are also checked with every allocation failing: they
 * use memory reserved in advance, so the kill still kills and the DOWN and
 * EXIT still arrive.
 *
 * The test prints a table of the checks that failed per operation, then
 * asserts that none did.
 */
#include "testutil.h"

#include <troupe/pool.h>
#include <troupe/supervisor.h>
#include <troupe/task_pool.h>

#include "actor/fault.h"

/* n runs from 1 to at most this (the sweep ends earlier when an operation
 * no longer reaches the nth allocation). */
#define N_MAX 400
#define HANG_MS 15000 /* an operation that takes longer hangs */

/* ------------------------------------------------------------------------ */
/* Results                                                                   */
/* ------------------------------------------------------------------------ */

enum { C_RC, C_LOST, C_HANG, C_BROKEN, C_KINDS };
static const char *const kind_names[C_KINDS] = {"wrong error", "lost/undelivered", "hang",
                                                "runtime broken"};

typedef struct stats {
    char op[40];
    unsigned runs;
    uint64_t injected;
    unsigned fail[C_KINDS];
    bool abandoned; /* a hang: the runtime is left behind */
    bool n_unknown; /* the failed allocations cannot be counted */
} stats;

#define MAX_OPS 64
/* Second pass: every nth allocation fails (n = 1..EVERY_MAX), not only the
 * nth: many failures in one operation, as on a heap under pressure. */
static bool g_every;
#define EVERY_MAX 40
static uint64_t n_max(void) {
    return g_every ? EVERY_MAX : N_MAX;
}
static stats g_stats[MAX_OPS];
static unsigned g_nops;

/* A sweep ends when two runs in a row no longer reached the nth
 * allocation (the count of an operation's allocations varies a little
 * with what the runtime has cached). */
static unsigned g_misses;

static stats *stats_new(const char *op) {
    g_misses = 0;
    assert_true(g_nops < MAX_OPS);
    stats *s = &g_stats[g_nops++];
    memset(s, 0, sizeof *s);
    snprintf(s->op, sizeof s->op, "%s%s", op, g_every ? " (every n)" : "");
    return s;
}

static void bad(stats *s, int kind, uint64_t n, const char *fmt, ...) {
    s->fail[kind]++;
    if (s->fail[kind] <= 3) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "  [%s n=%llu] %s: ", s->op, (unsigned long long)n, kind_names[kind]);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
}

/* ------------------------------------------------------------------------ */
/* Behaviours                                                                */
/* ------------------------------------------------------------------------ */

typedef struct obs {
    atomic_long timers, downs, exits;
} obs;

enum { T_ECHO = 1, T_CASTS, T_MONITOR, T_TICK, T_CAST, T_LINK };

typedef struct echo_st {
    obs *o;
    long casts;
} echo_st;

static int echo_init(tr_self *self, void *state, const void *arg) {
    echo_st *st = state;
    if (arg)
        memcpy(&st->o, arg, sizeof st->o);
    return TR_CONTINUE;
}

static int echo_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    echo_st *st = state;
    switch (m->tag) {
    case T_ECHO:
        tr_reply(from, T_ECHO, m->data, m->size);
        break;
    case T_CASTS:
        tr_reply(from, T_CASTS, &st->casts, sizeof st->casts);
        break;
    case T_MONITOR: {
        tr_pid p;
        memcpy(&p, m->data, sizeof p);
        int rc = tr_monitor(self, p, NULL);
        tr_reply(from, T_MONITOR, &rc, sizeof rc);
        break;
    }
    case T_LINK: {
        tr_pid p;
        memcpy(&p, m->data, sizeof p);
        int rc = tr_link(self, p);
        tr_reply(from, T_LINK, &rc, sizeof rc);
        break;
    }
    default:
        tr_reply_error(from, TR_EINVAL, "unknown");
    }
    return TR_CONTINUE;
}

static int echo_cast(tr_self *self, void *state, const tr_msg *m) {
    echo_st *st = state;
    st->casts++;
    return TR_CONTINUE;
}

static int echo_info(tr_self *self, void *state, const tr_msg *m) {
    echo_st *st = state;
    if (!st->o)
        return TR_CONTINUE;
    if (m->kind == TR_MSG_TIMER)
        atomic_fetch_add(&st->o->timers, 1);
    else if (m->kind == TR_MSG_DOWN)
        atomic_fetch_add(&st->o->downs, 1);
    else if (m->kind == TR_MSG_EXIT)
        atomic_fetch_add(&st->o->exits, 1);
    return TR_CONTINUE;
}

static const tr_behaviour echo_b = {.name = "echo",
                                    .state_size = sizeof(echo_st),
                                    .init = echo_init,
                                    .handle_call = echo_call,
                                    .handle_cast = echo_cast,
                                    .handle_info = echo_info};

static int spawn_echo(tr_runtime *rt, obs *o, tr_pid link_to, bool trap, tr_pid *out) {
    tr_spawn_opts so = {.link_to = link_to, .trap_exit = trap};
    return tr_spawn(rt, &echo_b, o ? (const void *)&o : NULL, &so, out);
}

/* An echo round trip (injection off). */
static bool echo_ok(tr_runtime *rt, tr_pid p) {
    char req[24] = "troupe under pressure";
    tr_buf r = {0};
    int rc = tr_call(rt, p, T_ECHO, req, sizeof req, &r, 5000);
    bool ok = rc == 0 && r.size == sizeof req && memcmp(r.data, req, sizeof req) == 0;
    tr_buf_free(&r);
    return ok;
}

static void kill_wait(tr_runtime *rt, tr_pid p) {
    if (tr_exit(rt, p, tr_reason_kill()) == 0)
        tr_await_exit(rt, p, 5000, NULL);
}

/* The runtime still works: spawn + call, injection off. */
static void check_runtime(stats *s, tr_runtime *rt, uint64_t n) {
    tr_pid p;
    int rc = spawn_echo(rt, NULL, TR_PID_NONE, false, &p);
    if (rc != 0) {
        bad(s, C_BROKEN, n, "spawn %s", tr_err_name(rc));
        return;
    }
    if (!echo_ok(rt, p))
        bad(s, C_BROKEN, n, "call failed");
    kill_wait(rt, p);
}

/* ------------------------------------------------------------------------ */
/* Bounded runs                                                              */
/* ------------------------------------------------------------------------ */

typedef struct run {
    void (*fn)(struct run *);
    tr_runtime *rt;
    uint64_t n, every;
    /* inputs and outputs of the operations */
    tr_pid pid, pid2, pid3, pid4;
    obs *o;
    struct reqobs *ro;
    int rc, rc2;
    size_t count;
    tr_future *fut[8];
    int frc[8];
    tr_task_pool *tp;
    uint64_t injected;
    /* completion */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
} run;

static void *run_main(void *arg) {
    run *r = arg;
    r->fn(r);
    pthread_mutex_lock(&r->mu);
    r->done = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Runs r->fn on a helper thread; false (and the run is abandoned, never
 * freed) when it did not finish within HANG_MS. */
static bool run_bounded(run *r) {
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    r->done = false;
    pthread_t t;
    if (pthread_create(&t, NULL, run_main, r) != 0)
        return false;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += HANG_MS / 1000;
    pthread_mutex_lock(&r->mu);
    while (!r->done)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) != 0)
            break;
    bool done = r->done;
    pthread_mutex_unlock(&r->mu);
    if (!done) {
        pthread_detach(t);
        return false;
    }
    pthread_join(t, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    return true;
}

static void arm(run *r) {
    tr__fault_arm(r->rt, r->n, r->every);
}
static void disarm(run *r) {
    r->injected = tr__fault_disarm(r->rt);
}

/* One sweep step: runs op under injection n. Returns false when the sweep
 * must end (the op no longer reached the nth allocation, or it hung). */
static bool step(stats *s, run *r) {
    if (g_every)
        r->every = r->n;
    s->runs++;
    if (!run_bounded(r)) {
        bad(s, C_HANG, r->n, "operation did not return within %d ms", HANG_MS);
        s->abandoned = true;
        return false;
    }
    s->injected += r->injected;
    return true;
}

static bool sweep_done(const run *r) {
    if (r->injected)
        g_misses = 0;
    else
        g_misses++;
    return g_misses == 2;
}

static bool rc_ok(int rc) {
    return rc == 0 || rc == TR_ENOMEM;
}

static tr_runtime *start_rt(void) {
    tr_runtime *rt = tu_start(2);
    assert_non_null(rt);
    return rt;
}

static void stop_rt(stats *s, tr_runtime *rt) {
    if (s->abandoned)
        return; /* a helper thread may still be inside it */
    check_runtime(s, rt, 0);
    tr_runtime_free(&rt);
}

/* ------------------------------------------------------------------------ */
/* spawn                                                                     */
/* ------------------------------------------------------------------------ */

static void op_spawn(run *r) {
    arm(r);
    r->rc = spawn_echo(r->rt, NULL, TR_PID_NONE, false, &r->pid);
    disarm(r);
}

static void sweep_spawn(void) {
    stats *s = stats_new("spawn");
    tr_runtime *rt = start_rt();
    for (uint64_t n = 1; n <= n_max(); n++) {
        run r = {.fn = op_spawn, .rt = rt, .n = n};
        if (!step(s, &r))
            break;
        if (!rc_ok(r.rc))
            bad(s, C_RC, n, "tr_spawn: %s", tr_err_name(r.rc));
        if (r.rc == 0) {
            if (!echo_ok(rt, r.pid))
                bad(s, C_LOST, n, "spawned actor does not answer");
            kill_wait(rt, r.pid);
        }
        check_runtime(s, rt, n);
        if (sweep_done(&r))
            break;
    }
    stop_rt(s, rt);
}

/* ------------------------------------------------------------------------ */
/* send (cast)                                                               */
/* ------------------------------------------------------------------------ */

static void op_cast(run *r) {
    char payload[64] = {1};
    arm(r);
    r->rc = tr_cast(r->rt, r->pid, T_CAST, payload, sizeof payload);
    disarm(r);
}

static void sweep_send(void) {
    stats *s = stats_new("send");
    tr_runtime *rt = start_rt();
    for (uint64_t n = 1; n <= n_max(); n++) {
        run r = {.fn = op_cast, .rt = rt, .n = n};
        assert_int_equal(spawn_echo(rt, NULL, TR_PID_NONE, false, &r.pid), 0);
        if (!step(s, &r))
            break;
        if (!rc_ok(r.rc))
            bad(s, C_RC, n, "tr_cast: %s", tr_err_name(r.rc));
        tr_buf b = {0};
        int rc = tr_call(rt, r.pid, T_CASTS, NULL, 0, &b, 5000);
        long casts = -1;
        if (rc == 0 && b.size == sizeof casts)
            memcpy(&casts, b.data, sizeof casts);
        tr_buf_free(&b);
        if (casts != (r.rc == 0 ? 1 : 0))
            bad(s, C_LOST, n, "cast returned %s, %ld delivered", tr_err_name(r.rc), casts);
        kill_wait(rt, r.pid);
        check_runtime(s, rt, n);
        if (sweep_done(&r))
            break;
    }
    stop_rt(s, rt);
}

/* ------------------------------------------------------------------------ */
/* call                                                                      */
/* ------------------------------------------------------------------------ */

static void op_call(run *r) {
    char req[40] = "call under injection";
    tr_buf b = {0};
    arm(r);
    r->rc = tr_call(r->rt, r->pid, T_ECHO, req, sizeof req, &b, 3000);
    disarm(r);
    r->rc2 = r->rc == 0 && (b.size != sizeof req || memcmp(b.data, req, sizeof req) != 0);
    tr_buf_free(&b);
}

static void sweep_call(void) {
    stats *s = stats_new("call");
    tr_runtime *rt = start_rt();
    for (uint64_t n = 1; n <= n_max(); n++) {
        run r = {.fn = op_call, .rt = rt, .n = n};
        assert_int_equal(spawn_echo(rt, NULL, TR_PID_NONE, false, &r.pid), 0);
        if (!step(s, &r))
            break;
        bool crashed = r.rc == TR_EEXITED && !tr_is_alive(rt, r.pid);
        if (!rc_ok(r.rc) && !crashed)
            bad(s, r.rc == TR_ETIMEDOUT ? C_LOST : C_RC, n, "tr_call: %s", tr_err_name(r.rc));
        if (r.rc2)
            bad(s, C_LOST, n, "wrong reply payload");
        kill_wait(rt, r.pid);
        check_runtime(s, rt, n);
        if (sweep_done(&r))
            break;
    }
    stop_rt(s, rt);
}

/* ------------------------------------------------------------------------ */
/* tr_request from an actor (allocations on a scheduler thread)              */
/* ------------------------------------------------------------------------ */

typedef struct reqobs {
    atomic_int req_rc, status, ok, done;
} reqobs;

enum { T_GO = 100 };
#define REQ_PAYLOAD "a request from an actor, 40 bytes long."

typedef struct client_st {
    reqobs *o;
} client_st;

static int client_init(tr_self *self, void *state, const void *arg) {
    client_st *st = state;
    memcpy(&st->o, arg, sizeof st->o);
    return TR_CONTINUE;
}

static int client_cast(tr_self *self, void *state, const tr_msg *m) {
    client_st *st = state;
    tr_pid to;
    memcpy(&to, m->data, sizeof to);
    int rc = tr_request(self, to, T_ECHO, REQ_PAYLOAD, sizeof REQ_PAYLOAD, 2000, NULL);
    atomic_store(&st->o->req_rc, rc);
    if (rc != 0)
        atomic_store(&st->o->done, 1);
    return TR_CONTINUE;
}

static int client_info(tr_self *self, void *state, const tr_msg *m) {
    client_st *st = state;
    if (m->kind != TR_MSG_REPLY)
        return TR_CONTINUE;
    atomic_store(&st->o->status, m->status);
    atomic_store(&st->o->ok, m->status != 0 || (m->size == sizeof REQ_PAYLOAD &&
                                                memcmp(m->data, REQ_PAYLOAD, m->size) == 0));
    atomic_fetch_add(&st->o->done, 1);
    return TR_CONTINUE;
}

static const tr_behaviour client_b = {.name = "client",
                                      .state_size = sizeof(client_st),
                                      .init = client_init,
                                      .handle_cast = client_cast,
                                      .handle_info = client_info};

/* pid: the client, pid2: the server; rc: the cast that starts it. */
static void op_request(run *r) {
    reqobs *o = r->ro;
    arm(r);
    r->rc = tr_cast(r->rt, r->pid, T_GO, &r->pid2, sizeof r->pid2);
    if (r->rc == 0) /* stay armed while the request travels */
        TU_WAIT(atomic_load(&o->done) != 0, 3000);
    disarm(r);
}

static void sweep_request(void) {
    stats *s = stats_new("request");
    tr_runtime *rt = start_rt();
    { /* warm up the message caches and tables, so that the server's reply is
       * reached at the same n in every run */
        reqobs o;
        memset(&o, 0, sizeof o);
        reqobs *op = &o;
        tr_pid c, e;
        assert_int_equal(tr_spawn(rt, &client_b, &op, NULL, &c), 0);
        assert_int_equal(spawn_echo(rt, NULL, TR_PID_NONE, false, &e), 0);
        assert_int_equal(tr_cast(rt, c, T_GO, &e, sizeof e), 0);
        assert_true(TU_WAIT(atomic_load(&o.done) == 1, 3000));
        kill_wait(rt, c);
        kill_wait(rt, e);
    }
    for (uint64_t n = 1; n <= n_max(); n++) {
        reqobs o;
        memset(&o, 0, sizeof o);
        reqobs *op = &o;
        run r = {.fn = op_request, .rt = rt, .n = n, .ro = &o};
        assert_int_equal(tr_spawn(rt, &client_b, &op, NULL, &r.pid), 0);
        assert_int_equal(spawn_echo(rt, NULL, TR_PID_NONE, false, &r.pid2), 0);
        if (!step(s, &r))
            break;
        if (!rc_ok(r.rc))
            bad(s, C_RC, n, "tr_cast: %s", tr_err_name(r.rc));
        if (r.rc == 0) {
            if (!TU_WAIT(atomic_load(&o.done) != 0, 3000)) {
                bad(s, C_LOST, n, "the request never ended (rc %s)",
                    tr_err_name(atomic_load(&o.req_rc)));
            } else {
                int rq = atomic_load(&o.req_rc), st = atomic_load(&o.status);
                if (!rc_ok(rq))
                    bad(s, C_RC, n, "tr_request: %s", tr_err_name(rq));
                else if (rq == 0 && !rc_ok(st) && !(st == TR_EEXITED && !tr_is_alive(rt, r.pid2)))
                    bad(s, st == TR_ETIMEDOUT ? C_LOST : C_RC, n, "reply status %s",
                        tr_err_name(st));
                else if (rq == 0 && !atomic_load(&o.ok))
                    bad(s, C_LOST, n, "wrong reply payload");
            }
        }
        tu_sleep_ms(2);
        if (atomic_load(&o.done) > 1)
            bad(s, C_LOST, n, "the request ended %d times", atomic_load(&o.done));
        kill_wait(rt, r.pid);
        kill_wait(rt, r.pid2);
        check_runtime(s, rt, n);
        if (sweep_done(&r))
            break;
    }
    stop_rt(s, rt);
}

/* ------------------------------------------------------------------------ */
/* timers                                                                    */
/* ------------------------------------------------------------------------ */

static void op_after(run *r) {
    char payload[16] = "tick";
    arm(r);
    r->rc = tr_send_after(r->rt, r->pid, 2, T_TICK, payload, sizeof payload, NULL);
    if (r->rc == 0) /* stay armed while it fires */
        TU_WAIT(atomic_load(&r->o->timers) >= 1, 300);
    disarm(r);
}

static void op_interval(run *r) {
    tr_timer t = 0;
    arm(r);
    r->rc = tr_send_interval(r->rt, r->pid, 2, T_TICK, NULL, 0, &t);
    if (r->rc == 0)
        TU_WAIT(atomic_load(&r->o->timers) >= 3, 300);
    disarm(r);
    if (r->rc == 0) {
        TU_WAIT(atomic_load(&r->o->timers) >= 3, 3000);
        r->count = (size_t)atomic_load(&r->o->timers);
        tr_cancel_timer(r->rt, t);
    }
}

static void sweep_timer(const char *name, void (*fn)(run *), long want) {
    stats *s = stats_new(name);
    tr_runtime *rt = start_rt();
    obs o;
    /* Warm up: the timer table's first growth would take the first few
     * allocations of every run (and hide the later ones) otherwise. */
    memset(&o, 0, sizeof o);
    tr_pid w;
    assert_int_equal(spawn_echo(rt, &o, TR_PID_NONE, false, &w), 0);
    assert_int_equal(tr_send_after(rt, w, 1, T_TICK, NULL, 0, NULL), 0);
    assert_true(TU_WAIT(atomic_load(&o.timers) == 1, 3000));
    kill_wait(rt, w);
    for (uint64_t n = 1; n <= n_max(); n++) {
        memset(&o, 0, sizeof o);
        run r = {.fn = fn, .rt = rt, .n = n, .o = &o};
        assert_int_equal(spawn_echo(rt, &o, TR_PID_NONE, false, &r.pid), 0);
        if (!step(s, &r))
            break;
        if (!rc_ok(r.rc))
            bad(s, C_RC, n, "timer start: %s", tr_err_name(r.rc));
        if (r.rc == 0) {
            if (want == 1 && !TU_WAIT(atomic_load(&o.timers) == 1, 3000))
                bad(s, C_LOST, n, "accepted timer never delivered");
            if (want > 1 && r.count < (size_t)want)
                bad(s, C_LOST, n, "interval delivered %zu of %ld ticks", r.count, want);
        } else {
            tu_sleep_ms(5);
            if (atomic_load(&o.timers) != 0)
                bad(s, C_RC, n, "refused timer fired");
        }
        if (want == 1) {
            tu_sleep_ms(5);
            if (atomic_load(&o.timers) > 1)
                bad(s, C_LOST, n, "one-shot timer fired %ld times", atomic_load(&o.timers));
        }
        kill_wait(rt, r.pid);
        check_runtime(s, rt, n);
        if (sweep_done(&r))
            break;
    }
    stop_rt(s, rt);
}

static void sweep_send_after(void) {
    sweep_timer("send_after", op_after, 1);
}
static void sweep_interval(void) {
    sweep_timer("send_interval", op_interval, 3);
}

/* ------------------------------------------------------------------------ */
/* supervisor                                                                */
/* ------------------------------------------------------------------------ */

static tr_child_spec g_kids[3];
static tr_sup_spec sup_spec(void) {
    static const char *ids[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        memset(&g_kids[i], 0, sizeof g_kids[i]);
        g_kids[i].id = ids[i];
        g_kids[i].behaviour = &echo_b;
        g_kids[i].restart = TR_PERMANENT;
        g_kids[i].shutdown_ms = 1000;
        g_kids[i].type = TR_WORKER;
    }
    tr_sup_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.flags.strategy = TR_ONE_FOR_ONE;
    spec.flags.intensity = 50;
    spec.flags.period_ms = 1000;
    spec.children = g_kids;
    spec.n_children = 3;
    return spec;
}

/* All three children listed and alive (injection off; waits up to 3 s for
 * restarts). */
static bool sup_whole(tr_runtime *rt, tr_pid sup) {
    int64_t end = tu_now_ms() + 3000;
    do {
        tr_child_info info[4];
        size_t n = 0;
        int rc = tr_supervisor_which_children(rt, sup, info, 4, &n);
        if (rc == 0 && n == 3) {
            int alive = 0;
            for (int i = 0; i < 3; i++)
                alive += !tr_pid_is_none(info[i].pid) && tr_is_alive(rt, info[i].pid);
            if (alive == 3)
                return true;
        }
        tu_sleep_ms(2);
    } while (tu_now_ms() < end);
    return false;
}

static void op_sup_start(run *r) {
    tr_sup_spec spec = sup_spec();
    arm(r);
    r->rc = tr_supervisor_start(r->rt, &spec, &r->pid);
    disarm(r);
}

static void sweep_sup_start(void) {
    stats *s = stats_new("supervisor_start");
    tr_runtime *rt = start_rt();
    for (uint64_t n = 1; n <= n_max(); n++) {
        run r = {.fn = op_sup_start, .rt = rt, .n = n};
        if (!step(s, &r))
            break;
        if (!rc_ok(r.rc))
            bad(s, C_RC, n, "tr_supervisor_start: %s", tr_err_name(r.rc));
        if (r.rc == 0) {
            if (!sup_whole(rt, r.pid))
                bad(s, C_LOST, n, "supervisor not whole after start");
            int rc = tr_supervisor_stop(rt, r.pid, 5000);
            if (rc != 0)
                bad(s, C_LOST, n, "tr_supervisor_stop: %s", tr_err_name(rc));
        }
        check_runtime(s, rt, n);
        if (sweep_done(&r))
            break;
    }
    stop_rt(s, rt);
}

static void op_which(run *r) {
    tr_child_info info[4];
    arm(r);
    r->rc = tr_supervisor_which_children(r->rt, r->pid, info, 4, &r->count);
    disarm(r);
}

static void sweep_sup_which(void) {
    stats *s = stats_new("which_children");
    tr_runtime *rt = start_rt();
    tr_sup_spec spec = sup_spec();
    tr_pid sup;
    assert_int_equal(tr_supervisor_start(rt, &spec, &sup), 0);
    for (uint64_t n = 1; n <= n_max(); n++) {
        run r = {.fn = op_which, .rt = rt, .n = n, .pid = sup};
        if (!step(s, &r))
            break;
        if (!rc_ok(r.rc) && r.rc != TR_EEXITED)
            bad(s, C_RC, n, "which_children: %s", tr_err_name(r.rc));
        if (r.rc == 0 && r.count != 3)
            bad(s, C_LOST, n, "which_children listed %zu", r.count);
        if (r.rc == TR_EEXITED || !tr_is_alive(rt, sup)) {
            /* the supervisor crashed on it: start a fresh one */
            tr_supervisor_stop(rt, sup, 5000);
            assert_int_equal(tr_supervisor_start(rt, &spec, &sup), 0);
        } else if (!sup_whole(rt, sup)) {
            bad(s, C_LOST, n, "supervisor not whole");
        }
        check_runtime(s, rt, n);
        if (sweep_done(&r))
            break;
    }
    if (!s->abandoned)
        tr_supervisor_stop(rt, sup, 5000);
    stop_rt(s, rt);
}

/* pid: the supervisor, pid2: the child killed under injection. */
static void op_restart(run *r) {
    arm(r);
    r->rc = tr_exit(r->rt, r->pid2, tr_reason_kill());
    TU_WAIT(!tr_is_alive(r->rt, r->pid2), 2000);
    tu_sleep_ms(5); /* stay armed while the supervisor restarts it */
    disarm(r);
}

static void sweep_sup_restart(void) {
    stats *s = stats_new("supervisor_restart");
    tr_runtime *rt = start_rt();
    tr_sup_spec spec = sup_spec();
    tr_pid sup;
    assert_int_equal(tr_supervisor_start(rt, &spec, &sup), 0);
    for (uint64_t n = 1; n <= n_max(); n++) {
        tr_child_info info[4];
        size_t k = 0;
        assert_int_equal(tr_supervisor_which_children(rt, sup, info, 4, &k), 0);
        run r = {.fn = op_restart, .rt = rt, .n = n, .pid = sup, .pid2 = info[1].pid};
        if (!step(s, &r))
            break;
        if (r.rc != 0)
            bad(s, C_RC, n, "tr_exit(kill): %s", tr_err_name(r.rc));
        /* A supervisor that stays alive must heal. It may also stop: out of
         * memory itself, or giving up when the failed restarts (every one
         * fails while the injection is armed) use up its restart intensity,
         * as in OTP; its shutdown can still be under way here on a loaded
         * machine. Its own supervisor would restart it: start a fresh one. */
        if (tr_is_alive(rt, sup) && !sup_whole(rt, sup) && tr_is_alive(rt, sup))
            bad(s, C_LOST, n, "the killed child was never restarted");
        if (!tr_is_alive(rt, sup))
            assert_int_equal(tr_supervisor_start(rt, &spec, &sup), 0);
        check_runtime(s, rt, n);
        if (sweep_done(&r))
            break;
    }
    if (!s->abandoned)
        tr_supervisor_stop(rt, sup, 5000);
    stop_rt(s, rt);
}

static void op_sup_stop(run *r) {
    arm(r);
    r->rc = tr_supervisor_stop(r->rt, r->pid, 3000);
    disarm(r);
}

static void sweep_sup_stop(void) {
    stats *s = stats_new("supervisor_stop");
    tr_runtime *rt = start_rt();
    for (uint64_t n = 1; n <= n_max(); n++) {
        tr_sup_spec spec = sup_spec();
        run r = {.fn = op_sup_stop, .rt = rt, .n = n};
        assert_int_equal(tr_supervisor_start(rt, &spec, &r.pid), 0);
        tr_child_info info[4];
        size_t k = 0;
        assert_int_equal(tr_supervisor_which_children(rt, r.pid, info, 4, &k), 0);
        if (!step(s, &r))
            break;
        if (!rc_ok(r.rc))
            bad(s, r.rc == TR_ETIMEDOUT ? C_LOST : C_RC, n, "tr_supervisor_stop: %s",
                tr_err_name(r.rc));
        if (r.rc != 0 && tr_supervisor_stop(rt, r.pid, 5000) != 0)
            bad(s, C_LOST, n, "second tr_supervisor_stop failed");
        for (size_t i = 0; i < k; i++)
            if (TU_WAIT(!tr_is_alive(rt, info[i].pid), 3000) == false)
                bad(s, C_LOST, n, "child outlived its stopped supervisor");
        check_runtime(s, rt, n);
        if (sweep_done(&r))
            break;
    }
    stop_rt(s, rt);
}

/* ------------------------------------------------------------------------ */
/* pool                                                                      */
/* ------------------------------------------------------------------------ */

static tr_pool_opts pool_opts(void) {
    tr_pool_opts o;
    memset(&o, 0, sizeof o);
    o.worker = &echo_b;
    o.size = 3;
    o.strategy = TR_POOL_ROUND_ROBIN;
    return o;
}

static void op_pool_start(run *r) {
    tr_pool_opts o = pool_opts();
    arm(r);
    r->rc = tr_pool_start(r->rt, &o, &r->pid);
    disarm(r);
}

static void sweep_pool_start(void) {
    stats *s = stats_new("pool_start");
    tr_runtime *rt = start_rt();
    for (uint64_t n = 1; n <= n_max(); n++) {
        run r = {.fn = op_pool_start, .rt = rt, .n = n};
        if (!step(s, &r))
            break;
        if (!rc_ok(r.rc))
            bad(s, C_RC, n, "tr_pool_start: %s", tr_err_name(r.rc));
        if (r.rc == 0) {
            for (int i = 0; i < 3; i++)
                if (!echo_ok(rt, r.pid)) {
                    bad(s, C_LOST, n, "pool does not answer");
                    break;
                }
            int rc = tr_pool_stop(rt, r.pid, 5000);
            if (rc != 0)
                bad(s, C_LOST, n, "tr_pool_stop: %s", tr_err_name(rc));
        }
        check_runtime(s, rt, n);
        if (sweep_done(&r))
            break;
    }
    stop_rt(s, rt);
}

/* Calls through the pool (the pool forwards each to a worker, which
 * answers the caller directly). */
static void op_pool_call(run *r) {
    char req[40] = "a job through the pool";
    arm(r);
    for (int i = 0; i < 4; i++) {
        tr_buf b = {0};
        r->frc[i] = tr_call(r->rt, r->pid, T_ECHO, req, sizeof req, &b, 3000);
        if (r->frc[i] == 0 && (b.size != sizeof req || memcmp(b.data, req, sizeof req) != 0))
            r->frc[i] = 12345;
        tr_buf_free(&b);
    }
    disarm(r);
}

static void sweep_pool_call(void) {
    stats *s = stats_new("pool_call");
    tr_runtime *rt = start_rt();
    tr_pool_opts o = pool_opts();
    tr_pid pool;
    assert_int_equal(tr_pool_start(rt, &o, &pool), 0);
    for (uint64_t n = 1; n <= n_max(); n++) {
        run r = {.fn = op_pool_call, .rt = rt, .n = n, .pid = pool};
        if (!step(s, &r))
            break;
        for (int i = 0; i < 4; i++) {
            int rc = r.frc[i];
            if (rc == 12345)
                bad(s, C_LOST, n, "call %d: wrong reply", i);
            else if (rc == TR_ETIMEDOUT)
                bad(s, C_LOST, n, "call %d: no answer", i);
            else if (!rc_ok(rc) && rc != TR_ECRASHED && rc != TR_EEXITED)
                bad(s, C_RC, n, "call %d: %s", i, tr_err_name(rc));
        }
        if (!tr_is_alive(rt, pool)) {
            assert_int_equal(tr_pool_start(rt, &o, &pool), 0); /* crashed: a fresh one */
        } else {
            for (int i = 0; i < 3; i++)
                if (!echo_ok(rt, pool)) {
                    bad(s, C_LOST, n, "pool does not answer afterwards");
                    break;
                }
        }
        check_runtime(s, rt, n);
        if (sweep_done(&r))
            break;
    }
    if (!s->abandoned)
        tr_pool_stop(rt, pool, 5000);
    stop_rt(s, rt);
}

static void op_pool_stop(run *r) {
    arm(r);
    r->rc = tr_pool_stop(r->rt, r->pid, 3000);
    disarm(r);
}

static void sweep_pool_stop(void) {
    stats *s = stats_new("pool_stop");
    tr_runtime *rt = start_rt();
    for (uint64_t n = 1; n <= n_max(); n++) {
        tr_pool_opts o = pool_opts();
        run r = {.fn = op_pool_stop, .rt = rt, .n = n};
        assert_int_equal(tr_pool_start(rt, &o, &r.pid), 0);
        if (!step(s, &r))
            break;
        if (!rc_ok(r.rc))
            bad(s, r.rc == TR_ETIMEDOUT ? C_LOST : C_RC, n, "tr_pool_stop: %s", tr_err_name(r.rc));
        if (r.rc != 0 && tr_pool_stop(rt, r.pid, 5000) != 0)
            bad(s, C_LOST, n, "second tr_pool_stop failed");
        check_runtime(s, rt, n);
        if (sweep_done(&r))
            break;
    }
    stop_rt(s, rt);
}

/* ------------------------------------------------------------------------ */
/* kill, exit and DOWN                                                       */
/* ------------------------------------------------------------------------ */

/* victim (pid) is monitored by watcher (pid2), linked to a non-trapping
 * partner (pid3) and to a trapping one (pid4, whose EXITs and the
 * watcher's DOWNs are counted in o). */
static void op_kill(run *r) {
    arm(r);
    r->rc = tr_exit(r->rt, r->pid, r->count ? tr_reason_error(7, "boom") : tr_reason_kill());
    if (r->rc == 0) /* stay armed while the signals travel */
        TU_WAIT(atomic_load(&r->o->downs) == 1 && atomic_load(&r->o->exits) == 1 &&
                    !tr_is_alive(r->rt, r->pid3),
                2000);
    disarm(r);
}

static void sweep_exit(const char *name, uint64_t every, size_t error_reason) {
    stats *s = stats_new(name);
    tr_runtime *rt = start_rt();
    obs o;
    for (uint64_t n = 1; n <= (every ? 40 : n_max()); n++) {
        memset(&o, 0, sizeof o);
        run r = {.fn = op_kill, .rt = rt, .n = every ? 1 : n, .every = every, .o = &o};
        r.count = error_reason;
        assert_int_equal(spawn_echo(rt, NULL, TR_PID_NONE, false, &r.pid), 0);
        assert_int_equal(spawn_echo(rt, &o, TR_PID_NONE, false, &r.pid2), 0);
        assert_int_equal(spawn_echo(rt, NULL, r.pid, false, &r.pid3), 0);
        assert_int_equal(spawn_echo(rt, &o, r.pid, true, &r.pid4), 0);
        tr_buf b = {0};
        assert_int_equal(tr_call(rt, r.pid2, T_MONITOR, &r.pid, sizeof r.pid, &b, 5000), 0);
        tr_buf_free(&b);
        if (!step(s, &r))
            break;
        if (!rc_ok(r.rc) || (error_reason == 0 && r.rc != 0))
            bad(s, C_RC, n, "tr_exit: %s", tr_err_name(r.rc));
        if (r.rc == 0) {
            if (!TU_WAIT(!tr_is_alive(rt, r.pid), 3000))
                bad(s, C_LOST, n, "exit signal lost: the target lives");
            if (!TU_WAIT(atomic_load(&o.downs) == 1, 3000))
                bad(s, C_LOST, n, "DOWN lost");
            if (!TU_WAIT(atomic_load(&o.exits) == 1, 3000))
                bad(s, C_LOST, n, "EXIT (trapped) lost");
            if (!TU_WAIT(!tr_is_alive(rt, r.pid3), 3000))
                bad(s, C_LOST, n, "exit via link lost: the linked actor lives");
        } else {
            if (!tr_is_alive(rt, r.pid))
                bad(s, C_RC, n, "refused exit signal killed");
            kill_wait(rt, r.pid);
        }
        kill_wait(rt, r.pid2);
        kill_wait(rt, r.pid3);
        kill_wait(rt, r.pid4);
        check_runtime(s, rt, n);
        if (!every && sweep_done(&r))
            break;
    }
    stop_rt(s, rt);
}

static void sweep_kill(void) {
    sweep_exit("kill", 0, 0);
}

/* ------------------------------------------------------------------------ */
/* monitor and link between actors that have none yet                       */
/* ------------------------------------------------------------------------ */

/* pid2 monitors (count 0) or links to (count 1) pid, both fresh: their
 * first link or monitor allocates each one's side block. rc: the call,
 * rc2: what tr_monitor / tr_link returned (-1: no answer). */
static void op_monlink(run *r) {
    tr_buf b = {0};
    arm(r);
    r->rc =
        tr_call(r->rt, r->pid2, r->count ? T_LINK : T_MONITOR, &r->pid, sizeof r->pid, &b, 5000);
    disarm(r);
    r->rc2 = -1;
    if (r->rc == 0 && b.size == sizeof r->rc2)
        memcpy(&r->rc2, b.data, sizeof r->rc2);
    tr_buf_free(&b);
}

static void sweep_monlink(const char *name, size_t link) {
    stats *s = stats_new(name);
    tr_runtime *rt = start_rt();
    obs o;
    for (uint64_t n = 1; n <= n_max(); n++) {
        memset(&o, 0, sizeof o);
        run r = {.fn = op_monlink, .rt = rt, .n = n, .o = &o, .count = link};
        assert_int_equal(spawn_echo(rt, NULL, TR_PID_NONE, false, &r.pid), 0);
        assert_int_equal(spawn_echo(rt, &o, TR_PID_NONE, false, &r.pid2), 0);
        if (!step(s, &r))
            break;
        if (r.rc != 0 && r.rc != TR_ENOMEM && r.rc != TR_ETIMEDOUT)
            bad(s, C_RC, n, "tr_call: %s", tr_err_name(r.rc));
        if (r.rc2 != -1 && !rc_ok(r.rc2))
            bad(s, C_RC, n, "%s: %s", link ? "tr_link" : "tr_monitor", tr_err_name(r.rc2));
        kill_wait(rt, r.pid); /* injection off: the link or monitor, if made, fires */
        if (r.rc2 == 0 && !link && !TU_WAIT(atomic_load(&o.downs) == 1, 3000))
            bad(s, C_LOST, n, "DOWN lost");
        if (r.rc2 == 0 && link && !TU_WAIT(!tr_is_alive(rt, r.pid2), 3000))
            bad(s, C_LOST, n, "exit via link lost: the linked actor lives");
        if (r.rc2 == TR_ENOMEM) { /* nothing was made: nothing fires */
            tu_sleep_ms(20);
            if (atomic_load(&o.downs) != 0 || !tr_is_alive(rt, r.pid2))
                bad(s, C_RC, n, "%s refused but made", link ? "tr_link" : "tr_monitor");
        }
        kill_wait(rt, r.pid2);
        check_runtime(s, rt, n);
        if (sweep_done(&r))
            break;
    }
    stop_rt(s, rt);
}

/* An exit signal (reason error) to an actor that traps exits and has no
 * link or monitor (so no side block yet): the signal waits for its marker
 * in the side block, or acts at once when neither can be allocated; either
 * way the EXIT message arrives. */
static void op_trap_exit(run *r) {
    arm(r);
    r->rc = tr_exit(r->rt, r->pid, tr_reason_error(7, "boom"));
    if (r->rc == 0) /* stay armed while the signal travels */
        TU_WAIT(atomic_load(&r->o->exits) == 1, 2000);
    disarm(r);
}

static void sweep_trap_exit(void) {
    stats *s = stats_new("trapped exit");
    tr_runtime *rt = start_rt();
    obs o;
    for (uint64_t n = 1; n <= n_max(); n++) {
        memset(&o, 0, sizeof o);
        run r = {.fn = op_trap_exit, .rt = rt, .n = n, .o = &o};
        assert_int_equal(spawn_echo(rt, &o, TR_PID_NONE, true, &r.pid), 0);
        if (!step(s, &r))
            break;
        if (!rc_ok(r.rc))
            bad(s, C_RC, n, "tr_exit: %s", tr_err_name(r.rc));
        if (r.rc == 0 && !TU_WAIT(atomic_load(&o.exits) == 1, 3000))
            bad(s, C_LOST, n, "EXIT (trapped) lost");
        if (!tr_is_alive(rt, r.pid))
            bad(s, C_RC, n, "a trapping actor died of an exit signal");
        kill_wait(rt, r.pid);
        check_runtime(s, rt, n);
        if (sweep_done(&r))
            break;
    }
    stop_rt(s, rt);
}

static void sweep_monitor(void) {
    sweep_monlink("monitor", 0);
}
static void sweep_link(void) {
    sweep_monlink("link", 1);
}
static void sweep_kill_all_fail(void) {
    sweep_exit("kill, all allocs fail", 1, 0);
}
static void sweep_exit_error(void) {
    sweep_exit("exit(error)", 0, 1);
}

/* ------------------------------------------------------------------------ */
/* task pool                                                                 */
/* ------------------------------------------------------------------------ */

static int double_task(tr_task *t, const void *arg, size_t size) {
    int v;
    memcpy(&v, arg, sizeof v);
    v *= 2;
    return tr_task_set_result(t, &v, sizeof v);
}

static void op_tasks(run *r) {
    arm(r);
    for (int i = 0; i < 8; i++) {
        r->fut[i] = NULL;
        r->frc[i] = tr_task_submit(r->tp, double_task, &i, sizeof i, &r->fut[i]);
    }
    for (int i = 0; i < 8; i++) {
        if (r->frc[i] != 0)
            continue;
        tr_buf b = {0};
        r->frc[i] = tr_future_await(r->fut[i], 3000, &b);
        if (r->frc[i] == TR_EREMOTE && b.code == TR_ENOMEM)
            r->frc[i] = TR_ENOMEM; /* the task's tr_task_set_result ran out: its own code */
        int v = -1;
        if (r->frc[i] == 0 && b.size == sizeof v)
            memcpy(&v, b.data, sizeof v);
        if (r->frc[i] == 0 && v != 2 * i)
            r->frc[i] = 12345; /* wrong result */
        tr_buf_free(&b);
        tr_future_free(r->fut[i]);
    }
    disarm(r);
}

static void op_tp_free(run *r) {
    r->rc = tr_task_pool_free(r->tp);
}

/* every: 0 = only the nth allocation fails; else every nth one does (n
 * from 2 to 40: many failures in one run, as a heap under pressure). */
static void sweep_tasks_mode(const char *name, bool every) {
    stats *s = stats_new(name);
    tr_runtime *rt = start_rt();
    for (uint64_t n = every ? 2 : 1; n <= (every ? 40 : n_max()); n++) {
        tr_task_pool_opts to = {.workers = 2};
        run r = {.fn = op_tasks, .rt = rt, .n = n, .every = every ? n : 0};
        assert_int_equal(tr_task_pool_start(rt, &to, &r.tp), 0);
        if (!step(s, &r))
            break;
        for (int i = 0; i < 8; i++) {
            if (r.frc[i] == TR_ETIMEDOUT)
                bad(s, C_LOST, n, "task %d: future never completed", i);
            else if (r.frc[i] == 12345)
                bad(s, C_LOST, n, "task %d: wrong result", i);
            else if (!rc_ok(r.frc[i]))
                bad(s, C_RC, n, "task %d: %s", i, tr_err_name(r.frc[i]));
        }
        /* the pool still runs tasks */
        int v = 21, out = 0;
        tr_future *f = NULL;
        int rc = tr_task_submit(r.tp, double_task, &v, sizeof v, &f);
        tr_buf b = {0};
        if (rc == 0)
            rc = tr_future_await(f, 5000, &b);
        if (rc == 0 && b.size == sizeof out)
            memcpy(&out, b.data, sizeof out);
        if (rc != 0 || out != 42)
            bad(s, C_LOST, n, "task pool stopped working: %s", tr_err_name(rc));
        tr_buf_free(&b);
        if (f)
            tr_future_free(f);
        run fr = {.fn = op_tp_free, .rt = rt, .tp = r.tp};
        if (!run_bounded(&fr)) {
            bad(s, C_HANG, n, "tr_task_pool_free blocked");
            s->abandoned = true;
            break;
        }
        check_runtime(s, rt, n);
        if (!every && sweep_done(&r))
            break;
    }
    stop_rt(s, rt);
}

static void sweep_tasks(void) {
    sweep_tasks_mode("task_pool", false);
}
static void sweep_tasks_every(void) {
    sweep_tasks_mode("task_pool, every nth", true);
}

/* ------------------------------------------------------------------------ */
/* runtime shutdown                                                          */
/* ------------------------------------------------------------------------ */

static void op_shutdown(run *r) {
    arm(r);
    int64_t t0 = tu_now_ms();
    tr_runtime_free(&r->rt); /* frees the runtime, and the fault state with it */
    tr__fault_detach();
    r->count = (size_t)(tu_now_ms() - t0);
    /* the count of failed allocations went with the runtime: not known */
}

static void sweep_shutdown(void) {
    stats *s = stats_new("runtime_shutdown");
    s->n_unknown = true;
    for (uint64_t n = 1; n <= (g_every ? EVERY_MAX : 60); n++) {
        tr_runtime *rt = start_rt();
        tr_sup_spec spec = sup_spec();
        tr_pid p, sup;
        for (int i = 0; i < 3; i++)
            assert_int_equal(spawn_echo(rt, NULL, TR_PID_NONE, i == 2, &p), 0);
        assert_int_equal(tr_supervisor_start(rt, &spec, &sup), 0);
        run r = {.fn = op_shutdown, .rt = rt, .n = n};
        if (!step(s, &r))
            break;
        if (r.count > 2500) /* a lost shutdown signal costs 5 s per actor */
            bad(s, C_LOST, n, "tr_runtime_free took %zu ms", r.count);
    }
}

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

static void test_alloc_fail(void **state) {
    (void)state;
    static const struct {
        const char *name;
        void (*fn)(void);
    } sweeps[] = {{"spawn", sweep_spawn},
                  {"send", sweep_send},
                  {"call", sweep_call},
                  {"request", sweep_request},
                  {"send_after", sweep_send_after},
                  {"send_interval", sweep_interval},
                  {"supervisor_start", sweep_sup_start},
                  {"which_children", sweep_sup_which},
                  {"supervisor_restart", sweep_sup_restart},
                  {"supervisor_stop", sweep_sup_stop},
                  {"pool_start", sweep_pool_start},
                  {"pool_call", sweep_pool_call},
                  {"pool_stop", sweep_pool_stop},
                  {"kill", sweep_kill},
                  {"monitor", sweep_monitor},
                  {"link", sweep_link},
                  {"trapped_exit", sweep_trap_exit},
                  {"kill_all", sweep_kill_all_fail},
                  {"exit_error", sweep_exit_error},
                  {"task_pool", sweep_tasks},
                  {"runtime_shutdown", sweep_shutdown},
                  {"task_pool_every", sweep_tasks_every}};
    /* TROUPE_ALLOC_FAIL_ONLY=name[,name...]: run only those (debugging). */
    const char *only = getenv("TROUPE_ALLOC_FAIL_ONLY");
    const size_t n_sweeps = sizeof sweeps / sizeof sweeps[0];
    for (int pass = 0; pass < 2; pass++) {
        g_every = pass == 1;
        for (size_t i = 0; i < n_sweeps; i++) {
            if (only && !strstr(only, sweeps[i].name))
                continue;
            if (g_every &&
                (sweeps[i].fn == sweep_kill_all_fail || sweeps[i].fn == sweep_tasks_every))
                continue; /* every-nth already */
            sweeps[i].fn();
        }
    }
    unsigned total = 0;
    uint64_t injected = 0, runs = 0;
    printf("%-30s %6s %9s", "operation", "runs", "injected");
    for (int k = 0; k < C_KINDS; k++)
        printf(" %17s", kind_names[k]);
    printf("\n");
    for (unsigned i = 0; i < g_nops; i++) {
        stats *s = &g_stats[i];
        if (s->n_unknown)
            printf("%-30s %6u %9s", s->op, s->runs, "?");
        else
            printf("%-30s %6u %9llu", s->op, s->runs, (unsigned long long)s->injected);
        for (int k = 0; k < C_KINDS; k++) {
            printf(" %17u", s->fail[k]);
            total += s->fail[k];
        }
        printf("\n");
        injected += s->injected;
        runs += s->runs;
    }
    printf("total: %llu operations under injection, %llu allocations made to fail, %u failed "
           "checks\n",
           (unsigned long long)runs, (unsigned long long)injected, total);
    fflush(stdout);
    assert_int_equal(total, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_alloc_fail)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
