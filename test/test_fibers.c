/* Fibers: blocking-style processes. Selective receive, timeouts of every
 * blocking operation, calls from a fiber, a fiber as a server, crashes seen
 * by links and monitors, kills while parked, trapped exits, supervision,
 * yield, many fibers, and the guard-page report of a stack overflow. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* A shared record the fibers write and the test thread waits on. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int rc[16];
    uint32_t tags[16];
    int n_tags;
    int64_t elapsed_ms;
} record;

static void rec_init(record *r) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void rec_done(record *r) {
    pthread_mutex_lock(&r->mu);
    r->done++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static bool rec_wait(record *r, int n) {
    int64_t end = tr_now_ms() + 20000;
    pthread_mutex_lock(&r->mu);
    while (r->done < n && tr_now_ms() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    bool ok = r->done >= n;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

/* A monitor on pid set up now (before the fiber is told to end), so its
 * DOWN carries the real reason. */
typedef struct {
    tu_log *log;
    tu_watch w;
} watch;

static watch watch_on(tr_runtime *rt, tr_pid pid) {
    watch w;
    w.log = tu_log_new();
    w.w = tu_watch_start(rt, w.log, pid);
    return w;
}

static tr_reason watch_reason(tr_runtime *rt, watch *w) {
    tr_reason why = tu_watch_wait(&w->w);
    tr_exit(rt, w->w.watcher, tr_reason_kill());
    tu_await(rt, w->w.watcher);
    tu_log_free(w->log);
    return why;
}

/* Waits for pid to be gone (its reason is not looked at). */
static void await_gone(tr_runtime *rt, tr_pid pid) {
    assert_int_equal(tr_await_exit(rt, pid, 20000, NULL), TR_OK);
}

/* ---- selective receive ---------------------------------------------------- */

enum { T_A = 1, T_B, T_C, T_GO };

static record g_sel;

static int selective_body(tr_self *self, void *arg) {
    (void)arg;
    tr_msg *m;
    /* Wait for GO first, leaving A, B, C queued in their order. */
    assert_int_equal(tr_receive_tag(self, T_GO, 20000, &m), TR_OK);
    tr_msg_free(m);
    /* Then C, then whatever is first (A), then the rest (B). */
    g_sel.rc[0] = tr_receive_tag(self, T_C, 20000, &m);
    g_sel.tags[g_sel.n_tags++] = m ? m->tag : 0;
    tr_msg_free(m);
    for (int i = 0; i < 2; i++) {
        g_sel.rc[1 + i] = tr_receive(self, NULL, NULL, 20000, &m);
        g_sel.tags[g_sel.n_tags++] = m ? m->tag : 0;
        tr_msg_free(m);
    }
    /* Nothing left: a 0 timeout returns at once. */
    g_sel.rc[3] = tr_receive(self, NULL, NULL, 0, &m);
    rec_done(&g_sel);
    return 0;
}

static void test_selective_receive_keeps_order(void **state) {
    tr_runtime *rt = *state;
    rec_init(&g_sel);
    tr_pid f;
    assert_int_equal(tr_spawn_fiber(rt, selective_body, NULL, NULL, &f), TR_OK);
    watch w = watch_on(rt, f);
    assert_int_equal(tr_send(rt, f, T_A, "a", 1), TR_OK);
    assert_int_equal(tr_cast(rt, f, T_B, "b", 1), TR_OK);
    assert_int_equal(tr_send(rt, f, T_C, "c", 1), TR_OK);
    assert_int_equal(tr_send(rt, f, T_GO, NULL, 0), TR_OK);
    assert_true(rec_wait(&g_sel, 1));
    assert_int_equal(g_sel.rc[0], TR_OK);
    assert_int_equal(g_sel.rc[1], TR_OK);
    assert_int_equal(g_sel.rc[2], TR_OK);
    assert_int_equal(g_sel.rc[3], TR_ETIMEDOUT);
    assert_int_equal(g_sel.n_tags, 3);
    assert_int_equal(g_sel.tags[0], T_C);
    assert_int_equal(g_sel.tags[1], T_A);
    assert_int_equal(g_sel.tags[2], T_B);
    tr_reason why = watch_reason(rt, &w);
    assert_int_equal(why.kind, TR_EXIT_NORMAL);
}

static bool match_even_tag(const tr_msg *m, void *arg) {
    (void)arg;
    return m->tag % 2 == 0;
}

static record g_match;

static int match_body(tr_self *self, void *arg) {
    (void)arg;
    tr_msg *m;
    for (int i = 0; i < 3; i++) {
        g_match.rc[i] = tr_receive(self, match_even_tag, NULL, 20000, &m);
        g_match.tags[g_match.n_tags++] = m->tag;
        tr_msg_free(m);
    }
    rec_done(&g_match);
    return 0;
}

static void test_receive_with_a_match_function(void **state) {
    tr_runtime *rt = *state;
    rec_init(&g_match);
    tr_pid f;
    assert_int_equal(tr_spawn_fiber(rt, match_body, NULL, NULL, &f), TR_OK);
    for (uint32_t t = 1; t <= 6; t++)
        assert_int_equal(tr_send(rt, f, t, NULL, 0), TR_OK);
    assert_true(rec_wait(&g_match, 1));
    assert_int_equal(g_match.tags[0], 2);
    assert_int_equal(g_match.tags[1], 4);
    assert_int_equal(g_match.tags[2], 6);
    await_gone(rt, f);
}

/* ---- timeouts --------------------------------------------------------------- */

static record g_to;

static int timeout_body(tr_self *self, void *arg) {
    tr_pid server = *(tr_pid *)arg;
    tr_msg *m = NULL;
    int64_t t0 = tr_now_ms();
    g_to.rc[0] = tr_receive(self, NULL, NULL, 50, &m);
    int64_t t1 = tr_now_ms();
    g_to.rc[1] = tr_sleep(self, 50);
    int64_t t2 = tr_now_ms();
    tr_buf reply;
    g_to.rc[2] = tr_call(tr_self_runtime(self), server, 1, NULL, 0, &reply, 50);
    int64_t t3 = tr_now_ms();
    /* The parker's timeout: a channel receive and a select with nothing
     * ready, and a future that never completes in time. */
    tr_chan *ch = NULL;
    tr_chan_new(sizeof(int), 0, &ch);
    int v;
    g_to.rc[6] = tr_chan_recv(ch, &v, 50);
    int64_t t4 = tr_now_ms();
    tr_select_case c = {.chan = ch, .dir = TR_CHAN_RECV, .elem = &v};
    g_to.rc[7] = tr_select(&c, 1, 50);
    int64_t t5 = tr_now_ms();
    tr_chan_release(ch);
    g_to.rc[3] = (int)(t1 - t0);
    g_to.rc[4] = (int)(t2 - t1);
    g_to.rc[5] = (int)(t3 - t2);
    g_to.rc[8] = (int)(t4 - t3);
    g_to.rc[9] = (int)(t5 - t4);
    rec_done(&g_to);
    return 0;
}

/* A server that never replies. */
static int silent_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)self;
    (void)state;
    (void)m;
    (void)from;
    return TR_CONTINUE;
}

static const tr_behaviour silent_b = {.name = "silent", .handle_call = silent_call};

static void test_every_blocking_operation_times_out(void **state) {
    tr_runtime *rt = *state;
    rec_init(&g_to);
    tr_pid server, f;
    assert_int_equal(tr_spawn(rt, &silent_b, NULL, NULL, &server), TR_OK);
    assert_int_equal(tr_spawn_fiber(rt, timeout_body, &server, NULL, &f), TR_OK);
    assert_true(rec_wait(&g_to, 1));
    assert_int_equal(g_to.rc[0], TR_ETIMEDOUT);
    assert_int_equal(g_to.rc[1], TR_OK);
    assert_int_equal(g_to.rc[2], TR_ETIMEDOUT);
    assert_int_equal(g_to.rc[6], TR_ETIMEDOUT);
    assert_int_equal(g_to.rc[7], TR_ETIMEDOUT);
    for (int i = 3; i < 10; i++) {
        if (i == 6 || i == 7)
            continue;
        assert_true(g_to.rc[i] >= 45); /* the clock's ms rounding */
        assert_true(g_to.rc[i] < 10000);
    }
    await_gone(rt, f);
}

/* ---- calls -------------------------------------------------------------------- */

static int echo_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)self;
    (void)state;
    if (m->tag == 99)
        tr_fail(self, tr_reason_error(7, "server died"));
    tr_reply(from, m->tag + 1, m->data, m->size);
    return TR_CONTINUE;
}

static const tr_behaviour echo_b = {.name = "echo", .handle_call = echo_call};

static record g_call;

static int caller_body(tr_self *self, void *arg) {
    tr_pid server = *(tr_pid *)arg;
    tr_runtime *rt = tr_self_runtime(self);
    for (int i = 0; i < 1000; i++) {
        tr_buf r;
        int rc = tr_call(rt, server, 10, &i, sizeof i, &r, 20000);
        if (rc != TR_OK || r.tag != 11 || r.size != sizeof i || memcmp(r.data, &i, sizeof i)) {
            g_call.rc[0] = rc ? rc : -1000;
            tr_buf_free(&r);
            break;
        }
        tr_buf_free(&r);
    }
    tr_buf r;
    g_call.rc[1] = tr_call(rt, server, 99, NULL, 0, &r, 20000); /* the server crashes */
    g_call.n_tags = r.data && strstr((const char *)r.data, "server died") ? 1 : 0;
    tr_buf_free(&r);
    g_call.rc[2] = tr_call(rt, server, 10, NULL, 0, &r, 20000); /* now dead */
    rec_done(&g_call);
    return 0;
}

static void test_call_from_a_fiber(void **state) {
    tr_runtime *rt = *state;
    rec_init(&g_call);
    tr_pid server, f;
    assert_int_equal(tr_spawn(rt, &echo_b, NULL, NULL, &server), TR_OK);
    assert_int_equal(tr_spawn_fiber(rt, caller_body, &server, NULL, &f), TR_OK);
    assert_true(rec_wait(&g_call, 1));
    assert_int_equal(g_call.rc[0], TR_OK);
    assert_int_equal(g_call.rc[1], TR_EEXITED);
    assert_int_equal(g_call.n_tags, 1);
    assert_int_equal(g_call.rc[2], TR_ENOPROC);
    await_gone(rt, f);
}

/* A fiber as a server: receive calls, reply with tr_msg_from. */
static int server_body(tr_self *self, void *arg) {
    (void)arg;
    for (;;) {
        tr_msg *m;
        int rc = tr_receive(self, NULL, NULL, TR_INFINITY, &m);
        if (rc)
            return rc;
        if (m->kind == TR_MSG_CALL) {
            int v;
            memcpy(&v, m->data, sizeof v);
            v *= 2;
            tr_reply(tr_msg_from(self, m), 0, &v, sizeof v);
        } else if (m->tag == T_GO) {
            tr_msg_free(m);
            return 0;
        }
        tr_msg_free(m);
    }
}

static void test_fiber_as_a_server(void **state) {
    tr_runtime *rt = *state;
    tr_pid f;
    assert_int_equal(tr_spawn_fiber(rt, server_body, NULL, NULL, &f), TR_OK);
    watch w = watch_on(rt, f);
    for (int i = 0; i < 200; i++) {
        tr_buf r;
        assert_int_equal(tr_call(rt, f, 1, &i, sizeof i, &r, 20000), TR_OK);
        int v;
        memcpy(&v, r.data, sizeof v);
        assert_int_equal(v, 2 * i);
        tr_buf_free(&r);
    }
    assert_int_equal(tr_send(rt, f, T_GO, NULL, 0), TR_OK);
    assert_int_equal(watch_reason(rt, &w).kind, TR_EXIT_NORMAL);
}

/* ---- exits ---------------------------------------------------------------------- */

static int failing_body(tr_self *self, void *arg) {
    int how = *(int *)arg;
    tr_msg *m;
    if (tr_receive_tag(self, T_GO, TR_INFINITY, &m) == TR_OK) /* parks until told */
        tr_msg_free(m);
    if (how == 1)
        tr_fail(self, tr_reason_error(42, "fiber blew up"));
    if (how == 2)
        return -77;
    tr_stop(self, tr_reason_shutdown());
    return 0;
}

static void test_fiber_crash_seen_by_links_and_monitors(void **state) {
    tr_runtime *rt = *state;
    tu_log *log = tu_log_new();
    tr_pid watcher = tu_probe(rt, log, true); /* traps exits */
    static int how[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        tr_fiber_opts o = {.link_to = watcher};
        tr_pid f;
        assert_int_equal(tr_spawn_fiber(rt, failing_body, &how[i], &o, &f), TR_OK);
        watch w = watch_on(rt, f);
        assert_int_equal(tr_send(rt, f, T_GO, NULL, 0), TR_OK);
        tr_reason why = watch_reason(rt, &w);
        if (i == 0) {
            assert_int_equal(why.kind, TR_EXIT_ERROR);
            assert_int_equal(why.code, 42);
            assert_string_equal(why.text, "fiber blew up");
        } else if (i == 1) {
            assert_int_equal(why.kind, TR_EXIT_ERROR);
            assert_int_equal(why.code, -77);
        } else {
            assert_int_equal(why.kind, TR_EXIT_SHUTDOWN);
        }
    }
    /* The linked watcher got the three EXITs. */
    assert_true(tu_log_wait(log, watcher, TU_EV_INFO, TR_MSG_EXIT, 3, 20000));
    tr_exit(rt, watcher, tr_reason_kill());
    tu_await(rt, watcher);
    tu_log_free(log);
}

static int parked_body(tr_self *self, void *arg) {
    (void)arg;
    tr_msg *m;
    tr_receive(self, NULL, NULL, TR_INFINITY, &m); /* never comes */
    return 0;
}

static void test_kill_a_parked_fiber(void **state) {
    tr_runtime *rt = *state;
    for (int i = 0; i < 100; i++) {
        tr_pid f;
        assert_int_equal(tr_spawn_fiber(rt, parked_body, NULL, NULL, &f), TR_OK);
        watch w = watch_on(rt, f);
        if (i % 2)
            tu_sleep_ms(1);
        assert_int_equal(tr_exit(rt, f, tr_reason_kill()), TR_OK);
        assert_int_equal(watch_reason(rt, &w).kind, TR_EXIT_KILLED);
    }
}

static record g_trap;

static int trapping_body(tr_self *self, void *arg) {
    tr_pid partner = *(tr_pid *)arg;
    tr_trap_exit(self, true);
    assert_int_equal(tr_link(self, partner), TR_OK);
    rec_done(&g_trap); /* linked */
    tr_msg *m;
    int rc = tr_receive(self, NULL, NULL, 20000, &m);
    g_trap.rc[0] = rc;
    if (rc == TR_OK) {
        g_trap.rc[1] = (int)m->kind;
        g_trap.rc[2] = tr_pid_eq(m->sender, partner);
        const tr_reason *why = tr_msg_reason(m);
        g_trap.rc[3] = why ? why->code : 0;
        tr_msg_free(m);
    }
    rec_done(&g_trap);
    return 0;
}

static void test_trapped_exit_is_a_message(void **state) {
    tr_runtime *rt = *state;
    rec_init(&g_trap);
    tr_pid partner = tu_probe(rt, NULL, false);
    tr_pid f;
    assert_int_equal(tr_spawn_fiber(rt, trapping_body, &partner, NULL, &f), TR_OK);
    assert_true(rec_wait(&g_trap, 1));
    watch w = watch_on(rt, f);
    tu_fail(rt, partner, tr_reason_error(5, "partner failed"));
    assert_true(rec_wait(&g_trap, 2));
    assert_int_equal(g_trap.rc[0], TR_OK);
    assert_int_equal(g_trap.rc[1], TR_MSG_EXIT);
    assert_int_equal(g_trap.rc[2], 1);
    assert_int_equal(g_trap.rc[3], 5);
    assert_int_equal(watch_reason(rt, &w).kind, TR_EXIT_NORMAL);
}

/* ---- supervision ---------------------------------------------------------------- */

static atomic_int g_starts;

/* The running child "f" of sup, when it is not `old`. */
static tr_pid child_f(tr_runtime *rt, tr_pid sup, tr_pid old) {
    tr_child_info info;
    size_t n = 0;
    if (tr_supervisor_which_children(rt, sup, &info, 1, &n) != TR_OK || n != 1)
        return TR_PID_NONE;
    return tr_pid_eq(info.pid, old) ? TR_PID_NONE : info.pid;
}

static int supervised_body(tr_self *self, void *arg) {
    (void)arg;
    atomic_fetch_add(&g_starts, 1);
    tr_msg *m;
    int rc = tr_receive(self, NULL, NULL, TR_INFINITY, &m);
    if (rc == TR_OK && m->tag == T_A) {
        tr_msg_free(m);
        tr_fail(self, tr_reason_error(9, "asked to crash"));
    }
    tr_msg_free(m);
    return 0;
}

static void test_supervised_fiber_restarts(void **state) {
    tr_runtime *rt = *state;
    atomic_store(&g_starts, 0);
    tr_child_spec child = {.id = "f", .fiber = supervised_body, .restart = TR_PERMANENT};
    tr_sup_spec spec = {.flags = {.strategy = TR_ONE_FOR_ONE, .intensity = 10, .period_ms = 10000},
                        .children = &child,
                        .n_children = 1};
    tr_pid sup;
    assert_int_equal(tr_supervisor_start(rt, &spec, &sup), TR_OK);
    tr_pid kid = TR_PID_NONE;
    for (int round = 1; round <= 3; round++) {
        assert_true(TU_WAIT(atomic_load(&g_starts) == round, 20000));
        tr_pid old = kid;
        assert_true(TU_WAIT((kid = child_f(rt, sup, old)).id != 0, 20000));
        watch w = watch_on(rt, kid);
        assert_int_equal(tr_send(rt, kid, T_A, NULL, 0), TR_OK);
        assert_int_equal(watch_reason(rt, &w).code, 9);
    }
    assert_true(TU_WAIT(atomic_load(&g_starts) == 4, 20000));
    /* A spec with both or neither is refused. */
    tr_child_spec both = child;
    both.behaviour = &echo_b;
    tr_sup_spec bad = spec;
    bad.children = &both;
    tr_pid p2;
    assert_int_equal(tr_supervisor_start(rt, &bad, &p2), TR_EINVAL);
    assert_int_equal(tr_supervisor_stop(rt, sup, 20000), TR_OK);
}

/* ---- yield and many fibers ------------------------------------------------------ */

static atomic_int g_turns[2];
static int g_order[400];
static atomic_int g_order_n;

typedef struct {
    int me;
    tr_pid partner; /* fiber 1 starts fiber 0 (sends it GO): both then run */
} yielder_arg;

static int yielder_body(tr_self *self, void *arg) {
    yielder_arg *ya = arg;
    if (ya->me == 0) {
        tr_msg *go;
        if (tr_receive_tag(self, T_GO, 20000, &go) != TR_OK)
            return -1;
        tr_msg_free(go);
    } else if (tr_send(tr_self_runtime(self), ya->partner, T_GO, NULL, 0) != TR_OK) {
        return -1;
    }
    for (int i = 0; i < 1000; i++) {
        atomic_fetch_add(&g_turns[ya->me], 1);
        int k = atomic_fetch_add(&g_order_n, 1);
        if (k < 400)
            g_order[k] = ya->me;
        assert_int_equal(tr_yield(self), TR_OK);
    }
    return 0;
}

/* With one scheduler thread, two fibers that yield take turns: tr_yield
 * ends the turn (as erlang:yield/0), it does not go on at once. */
static void test_yield_lets_others_run(void **state) {
    (void)state;
    tr_runtime *rt = tu_start(1);
    atomic_store(&g_turns[0], 0);
    atomic_store(&g_turns[1], 0);
    atomic_store(&g_order_n, 0);
    static yielder_arg args[2];
    tr_pid a, b;
    args[0] = (yielder_arg){.me = 0};
    assert_int_equal(tr_spawn_fiber(rt, yielder_body, &args[0], NULL, &a), TR_OK);
    args[1] = (yielder_arg){.me = 1, .partner = a};
    assert_int_equal(tr_spawn_fiber(rt, yielder_body, &args[1], NULL, &b), TR_OK);
    await_gone(rt, a);
    await_gone(rt, b);
    assert_int_equal(atomic_load(&g_turns[0]), 1000);
    assert_int_equal(atomic_load(&g_turns[1]), 1000);
    /* Strictly alternating from the start (a run of two where one turn
     * ends and the other begins). */
    int run = 1, longest = 1;
    for (int k = 1; k < 400; k++) {
        run = g_order[k] == g_order[k - 1] ? run + 1 : 1;
        if (run > longest)
            longest = run;
    }
    assert_true(longest <= 2);
    tr_runtime_free(&rt);
}

/* ---- the direct hand-off between fibers ------------------------------------- */

/* Fibers that yield (and park) hand the scheduler thread straight to the
 * next fiber in line without a trip through the scheduler loop. That must
 * keep the run queue's order, and must not starve what only the loop looks
 * at: the injection queue (calls from plain threads), timers, signals. */
static atomic_int g_spin_stop;
static atomic_long g_spins[3];
static int g_rr[300];
static atomic_int g_rr_n;
static atomic_int g_rr_on; /* record the order now */
static record g_nap;

static int spinner_body(tr_self *self, void *arg) {
    int me = (int)(intptr_t)arg;
    while (!atomic_load(&g_spin_stop)) {
        if (atomic_load(&g_rr_on)) {
            int k = atomic_fetch_add(&g_rr_n, 1);
            if (k < 300)
                g_rr[k] = me;
        }
        atomic_fetch_add(&g_spins[me], 1);
        if (tr_yield(self) != TR_OK)
            return -1;
    }
    return 0;
}

static int napper_body(tr_self *self, void *arg) {
    (void)arg;
    int64_t t0 = tr_now_ms();
    g_nap.rc[0] = tr_sleep(self, 20);
    g_nap.elapsed_ms = tr_now_ms() - t0;
    rec_done(&g_nap);
    return 0;
}

static bool spins_reach(int who, long n) {
    int64_t end = tr_now_ms() + 20000;
    while (atomic_load(&g_spins[who]) < n && tr_now_ms() < end)
        tu_sleep_ms(1);
    return atomic_load(&g_spins[who]) >= n;
}

static void test_handoff_between_fibers_starves_nothing(void **state) {
    (void)state;
    tr_runtime *rt = tu_start(1);
    atomic_store(&g_spin_stop, 0);
    atomic_store(&g_rr_n, 0);
    atomic_store(&g_rr_on, 0);
    for (int i = 0; i < 3; i++)
        atomic_store(&g_spins[i], 0);
    tr_pid sp[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(tr_spawn_fiber(rt, spinner_body, (void *)(intptr_t)i, NULL, &sp[i]),
                         TR_OK);
    for (int i = 0; i < 3; i++)
        assert_true(spins_reach(i, 200));
    /* Round-robin: with all three running, each turn is the one of three
     * turns before, and the first three are all of them. */
    atomic_store(&g_rr_on, 1);
    int64_t end = tr_now_ms() + 20000;
    while (atomic_load(&g_rr_n) < 300 && tr_now_ms() < end)
        tu_sleep_ms(1);
    assert_true(atomic_load(&g_rr_n) >= 300);
    assert_true(g_rr[0] != g_rr[1] && g_rr[1] != g_rr[2] && g_rr[0] != g_rr[2]);
    for (int k = 3; k < 300; k++)
        assert_int_equal(g_rr[k], g_rr[k - 3]);

    /* A call from this thread (the injection queue) is answered. */
    tu_log *log = tu_log_new();
    tr_pid probe = tu_probe(rt, log, false);
    for (int i = 0; i < 20; i++)
        tu_ping(rt, probe);
    /* A timer fires: a sleeping fiber wakes. */
    rec_init(&g_nap);
    tr_pid napper;
    assert_int_equal(tr_spawn_fiber(rt, napper_body, NULL, NULL, &napper), TR_OK);
    assert_true(rec_wait(&g_nap, 1));
    assert_int_equal(g_nap.rc[0], TR_OK);
    assert_true(g_nap.elapsed_ms >= 20);
    /* A kill reaches a fiber that is handed the thread over and over, and
     * the other two go on. */
    watch w = watch_on(rt, sp[1]);
    assert_int_equal(tr_exit(rt, sp[1], tr_reason_kill()), TR_OK);
    assert_int_equal(watch_reason(rt, &w).kind, TR_EXIT_KILLED);
    long s0 = atomic_load(&g_spins[0]), s2 = atomic_load(&g_spins[2]);
    assert_true(spins_reach(0, s0 + 100));
    assert_true(spins_reach(2, s2 + 100));

    atomic_store(&g_spin_stop, 1);
    await_gone(rt, sp[0]);
    await_gone(rt, sp[2]);
    tr_exit(rt, probe, tr_reason_kill());
    tu_await(rt, probe);
    tu_log_free(log);
    tr_runtime_free(&rt);
}

/* Two fibers ping-pong over unbuffered channels on one scheduler thread:
 * every wait parks and hands the thread straight to the other fiber, whose
 * landing ends the parker's turn. Messages that reach a parked fiber then
 * must not be lost (its turn goes on instead of giving its token back), and
 * a kill of the peer leaves the other's wait to time out. */
enum { HOPS = 2000, NOTES = 50, T_NOTE = 77 };

static struct {
    tr_chan *ping, *pong;
    atomic_int hops;
    int got_notes;
    int bad;
    int last_rc;
    record done;
} g_hand;

static int ponger_fiber(tr_self *self, void *arg) {
    (void)self;
    (void)arg;
    for (;;) { /* until killed */
        int v;
        if (tr_chan_recv(g_hand.ping, &v, TR_INFINITY) != TR_OK ||
            tr_chan_send(g_hand.pong, &v, TR_INFINITY) != TR_OK)
            return -1;
    }
}

static int pinger_fiber(tr_self *self, void *arg) {
    (void)arg;
    for (int i = 0; i < HOPS; i++) {
        int v = i;
        if (tr_chan_send(g_hand.ping, &v, 20000) != TR_OK ||
            tr_chan_recv(g_hand.pong, &v, 20000) != TR_OK || v != i)
            g_hand.bad++;
        atomic_store(&g_hand.hops, i + 1);
    }
    /* The notes sent to us while we were parked are all in our mailbox. */
    tr_msg *m;
    while (tr_receive_tag(self, T_NOTE, 5000, &m) == TR_OK) {
        g_hand.got_notes++;
        tr_msg_free(m);
        if (g_hand.got_notes == NOTES)
            break;
    }
    /* Wait until the test has killed the ponger, then our next wait times
     * out instead of hanging. */
    while (tr_receive_tag(self, T_GO, 20000, &m) != TR_OK)
        ;
    tr_msg_free(m);
    int v = -1;
    if (tr_chan_send(g_hand.ping, &v, 100) == TR_OK) /* nobody receives any more */
        g_hand.bad++;
    g_hand.last_rc = tr_chan_recv(g_hand.pong, &v, 100);
    rec_done(&g_hand.done);
    return 0;
}

static void test_parked_handoff_keeps_messages(void **state) {
    (void)state;
    tr_runtime *rt = tu_start(1);
    memset(&g_hand, 0, sizeof g_hand);
    rec_init(&g_hand.done);
    assert_int_equal(tr_chan_new(sizeof(int), 0, &g_hand.ping), TR_OK);
    assert_int_equal(tr_chan_new(sizeof(int), 0, &g_hand.pong), TR_OK);
    tr_pid ponger, pinger;
    assert_int_equal(tr_spawn_fiber(rt, ponger_fiber, NULL, NULL, &ponger), TR_OK);
    assert_int_equal(tr_spawn_fiber(rt, pinger_fiber, NULL, NULL, &pinger), TR_OK);
    /* Notes from this thread while the two hand the thread to each other. */
    assert_true(TU_WAIT(atomic_load(&g_hand.hops) >= 10, 20000));
    for (int i = 0; i < NOTES; i++)
        assert_int_equal(tr_send(rt, pinger, T_NOTE, NULL, 0), TR_OK);
    assert_true(TU_WAIT(atomic_load(&g_hand.hops) == HOPS, 60000));
    watch w = watch_on(rt, ponger);
    assert_int_equal(tr_exit(rt, ponger, tr_reason_kill()), TR_OK);
    assert_int_equal(watch_reason(rt, &w).kind, TR_EXIT_KILLED);
    assert_int_equal(tr_send(rt, pinger, T_GO, NULL, 0), TR_OK);
    assert_true(rec_wait(&g_hand.done, 1));
    assert_int_equal(g_hand.bad, 0);
    assert_int_equal(g_hand.got_notes, NOTES);
    assert_int_equal(g_hand.last_rc, TR_ETIMEDOUT);
    await_gone(rt, pinger);
    tr_chan_release(g_hand.ping);
    tr_chan_release(g_hand.pong);
    tr_runtime_free(&rt);
}

static atomic_int g_many;

static int sleeper_body(tr_self *self, void *arg) {
    (void)arg;
    tr_sleep(self, 1 + (int)(tr_now_ms() % 5));
    atomic_fetch_add(&g_many, 1);
    return 0;
}

static void test_many_fibers_come_and_go(void **state) {
    tr_runtime *rt = *state;
    /* 100,000 (under AddressSanitizer too: no leak); fewer under
     * ThreadSanitizer, where each fiber's switch state and its fresh stack
     * pages cost milliseconds on a loaded virtual machine. */
    int n = TU_SCALE(100000, 2000);
    /* Under qemu-user the guard pages are mprotect'd (two mappings per
     * stack, base/coro.h): vm.max_map_count allows some 32,000 stacks. */
    const char *emulated = getenv("TROUPE_EMULATED");
    if (emulated && strcmp(emulated, "1") == 0)
        n = 10000;
    atomic_store(&g_many, 0);
    for (int i = 0; i < n; i++) {
        int rc;
        while ((rc = tr_spawn_fiber(rt, sleeper_body, NULL, NULL, NULL)) == TR_EFULL)
            tu_sleep_ms(1);
        assert_int_equal(rc, TR_OK);
    }
    assert_true(TU_WAIT(atomic_load(&g_many) == n, 60000));
    assert_true(TU_WAIT(tr_runtime_actor_count(rt) == 0, 60000));
}

/* ---- blocking calls from fibers ------------------------------------------------ */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int entered;
} gate;

static gate g_gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};

static int held_job(void *arg) {
    (void)arg;
    pthread_mutex_lock(&g_gate.mu);
    g_gate.entered++;
    pthread_cond_broadcast(&g_gate.cv);
    while (!g_gate.open)
        pthread_cond_wait(&g_gate.cv, &g_gate.mu);
    pthread_mutex_unlock(&g_gate.mu);
    return 5;
}

static atomic_int g_blocking_rc;
static atomic_int g_ticks;

static int blocking_body(tr_self *self, void *arg) {
    (void)arg;
    int r = 0;
    int rc = tr_blocking(tr_self_runtime(self), held_job, NULL, &r);
    atomic_store(&g_blocking_rc, rc == TR_OK ? r : rc);
    return 0;
}

static int ticker_body(tr_self *self, void *arg) {
    (void)arg;
    for (int i = 0; i < 20; i++) {
        tr_sleep(self, 1);
        atomic_fetch_add(&g_ticks, 1);
    }
    return 0;
}

static bool wait_entered(int n) {
    int64_t end = tr_now_ms() + 20000;
    pthread_mutex_lock(&g_gate.mu);
    while (g_gate.entered < n && tr_now_ms() < end) {
        pthread_mutex_unlock(&g_gate.mu);
        tu_sleep_ms(1);
        pthread_mutex_lock(&g_gate.mu);
    }
    bool ok = g_gate.entered >= n;
    pthread_mutex_unlock(&g_gate.mu);
    return ok;
}

static void open_gate(bool open) {
    pthread_mutex_lock(&g_gate.mu);
    g_gate.open = open;
    if (!open)
        g_gate.entered = 0;
    pthread_cond_broadcast(&g_gate.cv);
    pthread_mutex_unlock(&g_gate.mu);
}

/* A fiber in tr_blocking parks: with one scheduler thread, other fibers
 * still run while the job is held. */
static void test_blocking_parks_only_the_fiber(void **state) {
    (void)state;
    tr_runtime *rt = tu_start(1);
    open_gate(false);
    atomic_store(&g_blocking_rc, -1000);
    atomic_store(&g_ticks, 0);
    tr_pid b, t;
    assert_int_equal(tr_spawn_fiber(rt, blocking_body, NULL, NULL, &b), TR_OK);
    assert_true(wait_entered(1));
    assert_int_equal(tr_spawn_fiber(rt, ticker_body, NULL, NULL, &t), TR_OK);
    assert_true(TU_WAIT(atomic_load(&g_ticks) == 20, 20000));
    assert_int_equal(atomic_load(&g_blocking_rc), -1000); /* still held */
    open_gate(true);
    assert_true(TU_WAIT(atomic_load(&g_blocking_rc) == 5, 20000));
    await_gone(rt, b);
    tr_runtime_free(&rt);
}

/* Killed while its job runs: the fiber dies at once; the job finishes on
 * its pool thread and wakes nobody (ASan: nothing used after free). */
static void test_kill_a_fiber_in_a_blocking_call(void **state) {
    tr_runtime *rt = *state;
    open_gate(false);
    atomic_store(&g_blocking_rc, -1000);
    tr_pid b;
    assert_int_equal(tr_spawn_fiber(rt, blocking_body, NULL, NULL, &b), TR_OK);
    assert_true(wait_entered(1));
    watch w = watch_on(rt, b);
    assert_int_equal(tr_exit(rt, b, tr_reason_kill()), TR_OK);
    assert_int_equal(watch_reason(rt, &w).kind, TR_EXIT_KILLED);
    open_gate(true);
    tr_blocking_stats st;
    assert_true(TU_WAIT(
        tr_blocking_get_stats(rt, &st) == TR_OK && st.jobs_run == 1 && st.queued == 0, 20000));
    assert_int_equal(atomic_load(&g_blocking_rc), -1000); /* the body never went on */
}

/* ---- futures ------------------------------------------------------------------------ */

static int slow_square(tr_task *t, const void *arg, size_t size) {
    (void)size;
    int v = *(const int *)arg;
    int r = v * v;
    return tr_task_set_result(t, &r, sizeof r);
}

static atomic_int g_future_sum;

static int awaiting_body(tr_self *self, void *arg) {
    (void)self;
    tr_task_pool *pool = arg;
    int sum = 0;
    for (int i = 1; i <= 20; i++) {
        tr_future *f = NULL;
        if (tr_task_submit(pool, slow_square, &i, sizeof i, &f) != TR_OK)
            return -1;
        tr_buf b;
        int rc = tr_future_await(f, 20000, &b); /* parks the fiber */
        if (rc == TR_OK) {
            int v;
            memcpy(&v, b.data, sizeof v);
            sum += v;
        }
        tr_buf_free(&b);
        tr_future_free(f);
    }
    atomic_store(&g_future_sum, sum);
    return 0;
}

static void test_fiber_awaits_a_future(void **state) {
    tr_runtime *rt = *state;
    tr_task_pool *pool = NULL;
    assert_int_equal(tr_task_pool_start(rt, NULL, &pool), TR_OK);
    atomic_store(&g_future_sum, 0);
    tr_pid f;
    assert_int_equal(tr_spawn_fiber(rt, awaiting_body, pool, NULL, &f), TR_OK);
    assert_true(TU_WAIT(atomic_load(&g_future_sum) == 2870, 20000)); /* sum of squares 1..20 */
    await_gone(rt, f);
    tr_task_pool_free(pool);
}

/* Tasks run on fibers: a sleeping task does not hold the one scheduler
 * thread, and a task may await another task's future. */
static int sleepy_task(tr_task *t, const void *arg, size_t size) {
    (void)arg;
    (void)size;
    return tr_sleep(tr_task_self(t), 300);
}

static int nested_task(tr_task *t, const void *arg, size_t size) {
    (void)size;
    tr_task_pool *pool = *(tr_task_pool *const *)arg;
    int seven = 7;
    tr_future *inner = NULL;
    int rc = tr_task_submit(pool, slow_square, &seven, sizeof seven, &inner);
    if (rc)
        return rc;
    tr_buf b;
    rc = tr_future_await(inner, 20000, &b); /* parks this task's fiber */
    if (rc == TR_OK)
        rc = tr_task_set_result(t, b.data, b.size);
    tr_buf_free(&b);
    tr_future_free(inner);
    return rc;
}

static void test_tasks_run_on_fibers(void **state) {
    (void)state;
    tr_runtime *rt = tu_start(1);
    tr_task_pool_opts po = {.workers = 2};
    tr_task_pool *pool = NULL;
    assert_int_equal(tr_task_pool_start(rt, &po, &pool), TR_OK);
    tr_future *sleepy = NULL, *quick = NULL;
    assert_int_equal(tr_task_submit(pool, sleepy_task, NULL, 0, &sleepy), TR_OK);
    int three = 3;
    assert_int_equal(tr_task_submit(pool, slow_square, &three, sizeof three, &quick), TR_OK);
    tr_buf b;
    assert_int_equal(tr_future_await(quick, 20000, &b), TR_OK);
    tr_buf_free(&b);
    assert_int_equal(tr_future_status(sleepy), TR_FUTURE_PENDING); /* still asleep */
    assert_int_equal(tr_future_await(sleepy, 20000, NULL), TR_OK);
    tr_future *nested = NULL;
    assert_int_equal(tr_task_submit(pool, nested_task, &pool, sizeof pool, &nested), TR_OK);
    assert_int_equal(tr_future_await(nested, 20000, &b), TR_OK);
    int v;
    memcpy(&v, b.data, sizeof v);
    assert_int_equal(v, 49);
    tr_buf_free(&b);
    tr_future_free(sleepy);
    tr_future_free(quick);
    tr_future_free(nested);
    tr_task_pool_free(pool);
    tr_runtime_free(&rt);
}

/* ---- behaviours on fibers ------------------------------------------------------- */

typedef struct {
    int calls;
} blk_state;

static int add_job(void *arg) {
    int *v = arg;
    return *v + 1000;
}

static atomic_int g_bterm_kind, g_bterm_n, g_bcleanup_n;

static int blk_init(tr_self *self, void *state, const void *arg) {
    (void)self;
    (void)arg;
    ((blk_state *)state)->calls = 0;
    return TR_CONTINUE;
}

/* A gen_server whose handle_call blocks: tr_blocking, tr_sleep. */
static int blk_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    blk_state *st = state;
    st->calls++;
    if (m->tag == 1) {
        int v;
        memcpy(&v, m->data, sizeof v);
        int r = 0;
        int rc = tr_blocking(tr_self_runtime(self), add_job, &v, &r);
        if (rc)
            return tr_reply_error(from, rc, "blocking failed"), TR_CONTINUE;
        tr_reply(from, 0, &r, sizeof r);
    } else if (m->tag == 2) {
        tr_sleep(self, 20);
        tr_reply(from, 0, &st->calls, sizeof st->calls);
    } else if (m->tag == 3) {
        tr_fail(self, tr_reason_error(33, "crashed in a blocking callback"));
    } else if (m->tag == 4) {
        tr_reply(from, 0, NULL, 0);
        tr_stop(self, tr_reason_error(44, "asked to stop"));
    }
    return TR_CONTINUE;
}

static void blk_terminate(tr_self *self, void *state, tr_reason reason) {
    (void)self;
    (void)state;
    atomic_store(&g_bterm_kind, reason.code);
    atomic_fetch_add(&g_bterm_n, 1);
}

static void blk_cleanup(void *state) {
    (void)state;
    atomic_fetch_add(&g_bcleanup_n, 1);
}

static const tr_behaviour blk_b = {.name = "blocking_server",
                                   .state_size = sizeof(blk_state),
                                   .init = blk_init,
                                   .handle_call = blk_call,
                                   .terminate = blk_terminate,
                                   .cleanup = blk_cleanup};

/* tr_spawn_opts.on_fiber: a behaviour whose callbacks block, parking only
 * its process; terminate runs on a crash and on tr_stop, as a gen_server's,
 * and cleanup on every exit. */
static void test_behaviour_on_a_fiber(void **state) {
    tr_runtime *rt = *state;
    atomic_store(&g_bterm_n, 0);
    atomic_store(&g_bcleanup_n, 0);
    tr_spawn_opts o = {.on_fiber = true};
    tr_pid srv;
    assert_int_equal(tr_spawn(rt, &blk_b, NULL, &o, &srv), TR_OK);
    for (int i = 0; i < 50; i++) {
        tr_buf r;
        assert_int_equal(tr_call(rt, srv, 1, &i, sizeof i, &r, 20000), TR_OK);
        int v;
        memcpy(&v, r.data, sizeof v);
        assert_int_equal(v, i + 1000);
        tr_buf_free(&r);
    }
    tr_buf r;
    assert_int_equal(tr_call(rt, srv, 2, NULL, 0, &r, 20000), TR_OK);
    int calls;
    memcpy(&calls, r.data, sizeof calls);
    assert_int_equal(calls, 51); /* its state persists across callbacks */
    tr_buf_free(&r);
    /* A crash in a callback: terminate runs with the reason. */
    watch w = watch_on(rt, srv);
    assert_int_equal(tr_call(rt, srv, 3, NULL, 0, &r, 20000), TR_EEXITED);
    tr_buf_free(&r);
    assert_int_equal(watch_reason(rt, &w).code, 33);
    assert_true(TU_WAIT(atomic_load(&g_bcleanup_n) == 1, 20000));
    assert_int_equal(atomic_load(&g_bterm_n), 1);
    assert_int_equal(atomic_load(&g_bterm_kind), 33);
    /* tr_stop in a callback: it returns, then the process stops. */
    assert_int_equal(tr_spawn(rt, &blk_b, NULL, &o, &srv), TR_OK);
    w = watch_on(rt, srv);
    assert_int_equal(tr_call(rt, srv, 4, NULL, 0, &r, 20000), TR_OK);
    tr_buf_free(&r);
    assert_int_equal(watch_reason(rt, &w).code, 44);
    assert_true(TU_WAIT(atomic_load(&g_bcleanup_n) == 2, 20000));
    assert_int_equal(atomic_load(&g_bterm_n), 2);
    /* Inside an ordinary actor the same call is refused. */
    tr_pid plain;
    assert_int_equal(tr_spawn(rt, &blk_b, NULL, NULL, &plain), TR_OK);
    int z = 0;
    assert_int_equal(tr_call(rt, plain, 1, &z, sizeof z, &r, 20000), TR_EREMOTE);
    assert_int_equal(r.code, TR_EDEADLK); /* what the server's tr_blocking said */
    tr_buf_free(&r);
}

/* A pool whose workers' callbacks run on fibers. */
static void test_pool_with_fiber_workers(void **state) {
    tr_runtime *rt = *state;
    tr_pool_opts po = {.worker = &blk_b, .size = 3, .fiber_workers = true};
    tr_pid pool;
    assert_int_equal(tr_pool_start(rt, &po, &pool), TR_OK);
    for (int i = 0; i < 100; i++) {
        tr_buf r;
        assert_int_equal(tr_call(rt, pool, 1, &i, sizeof i, &r, 20000), TR_OK);
        int v;
        memcpy(&v, r.data, sizeof v);
        assert_int_equal(v, i + 1000);
        tr_buf_free(&r);
    }
    /* A worker counts a job after its reply went: wait for the count. */
    tr_pool_stats st;
    assert_true(TU_WAIT(
        tr_pool_get_stats(rt, pool, &st, NULL, 0, NULL) == TR_OK && st.jobs_done == 100, 20000));
    po.worker_stack_size = 100;
    tr_pid bad;
    assert_int_equal(tr_pool_start(rt, &po, &bad), TR_EINVAL);
    assert_int_equal(tr_pool_stop(rt, pool, 20000), TR_OK);
}

/* ---- bad input ------------------------------------------------------------------- */

static void test_bad_input(void **state) {
    tr_runtime *rt = *state;
    assert_int_equal(tr_spawn_fiber(NULL, parked_body, NULL, NULL, NULL), TR_EINVAL);
    assert_int_equal(tr_spawn_fiber(rt, NULL, NULL, NULL, NULL), TR_EINVAL);
    tr_fiber_opts o = {.stack_size = 100};
    assert_int_equal(tr_spawn_fiber(rt, parked_body, NULL, &o, NULL), TR_EINVAL);
    tr_msg *m = (tr_msg *)1;
    assert_int_equal(tr_receive(NULL, NULL, NULL, 0, &m), TR_EINVAL);
    assert_null(m);
    assert_int_equal(tr_sleep(NULL, 1), TR_EINVAL);
    assert_int_equal(tr_yield(NULL), TR_EINVAL);
    tr_msg_free(NULL);
    assert_false(tr_self_is_fiber(NULL));
}

/* ---- stack overflow ----------------------------------------------------------------- */

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
static int recurse(int depth) {
    volatile char pad[512];
    pad[0] = (char)depth;
    return depth > 1000000000 ? pad[0] : recurse(depth + 1) + pad[0];
}

static int overflow_body(tr_self *self, void *arg) {
    (void)self;
    (void)arg;
    return recurse(0);
}
#endif

static void test_stack_overflow_is_reported(void **state) {
    (void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    skip(); /* ASan's own SEGV handler reports it; TSan cannot start threads after a fork */
#else
    const char *emulated = getenv("TROUPE_EMULATED");
    if (emulated && strcmp(emulated, "1") == 0)
        skip(); /* qemu-user: signals on a forked child's threads are not reliable;
                   unit_coro checks the guard page there */
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        tr_runtime *rt = tu_start(2);
        tr_fiber_opts o = {.stack_size = 64 * 1024};
        tr_pid f;
        tr_spawn_fiber(rt, overflow_body, NULL, &o, &f);
        sleep(30);
        _exit(0); /* not reached when the overflow is caught */
    }
    close(pipefd[1]);
    char buf[4096];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof buf - 1 && (k = read(pipefd[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    close(pipefd[0]);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    assert_non_null(strstr(buf, "troupe: fiber <"));
    assert_non_null(strstr(buf, "overflowed its 65536-byte stack"));
#endif
}

static int setup(void **state) {
    tr_runtime *rt = tu_start(2);
    *state = rt;
    return rt ? 0 : -1;
}

static int teardown(void **state) {
    tr_runtime *rt = *state;
    tr_runtime_free(&rt);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_selective_receive_keeps_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receive_with_a_match_function, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_blocking_operation_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_from_a_fiber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fiber_as_a_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fiber_crash_seen_by_links_and_monitors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kill_a_parked_fiber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trapped_exit_is_a_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_supervised_fiber_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yield_lets_others_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handoff_between_fibers_starves_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_parked_handoff_keeps_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_fibers_come_and_go, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocking_parks_only_the_fiber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_a_fiber_in_a_blocking_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fiber_awaits_a_future, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tasks_run_on_fibers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_behaviour_on_a_fiber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_with_fiber_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test(test_stack_overflow_is_reported), /* forks: no runtime threads alive */
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
