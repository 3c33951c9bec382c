/* Supervisor tests: restart types x exit reasons, intensity, escalation,
 * start/stop order, shutdown timeouts, child management calls, strategies
 * and simple_one_for_one. Each test starts and shuts down its own runtime. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <troupe/troupe.h>

#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* A test worker                                                             */
/* ------------------------------------------------------------------------ */

typedef struct tw_arg {
    const char *name;
    tu_log *log;      /* notes "start:<name>", "down:<name>", "term:<name>" */
    int fail_init;    /* init refuses */
    int ignore_exits; /* traps exits and ignores EXIT (and shutdown) */
} tw_arg;

typedef struct tw_state {
    const tw_arg *arg;
} tw_state;

#define TAG_EXIT 1 /* cast: int32 exit kind; stop with that reason */
#define TAG_PING 2 /* call: reply with the name */

static int tw_init(tr_self *self, void *state, const void *arg) {
    tw_state *st = state;
    st->arg = arg;
    if (st->arg->fail_init)
        return tr_stop(self, tr_reason_error(42, "refused"));
    /* trap exits so that terminate runs on shutdown (as OTP) */
    tr_trap_exit(self, true);
    tu_log_note(st->arg->log, "start", st->arg->name);
    return TR_CONTINUE;
}

static int tw_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    tw_state *st = state;
    (void)self;
    (void)msg;
    tr_reply(from, TAG_PING, st->arg->name, strlen(st->arg->name) + 1);
    return TR_CONTINUE;
}

static int tw_cast(tr_self *self, void *state, const tr_msg *msg) {
    (void)state;
    if (msg->tag == TAG_EXIT) {
        int32_t kind;
        memcpy(&kind, msg->data, sizeof(kind));
        if (kind == TR_EXIT_NORMAL)
            return tr_stop(self, tr_reason_normal());
        if (kind == TR_EXIT_SHUTDOWN)
            return tr_stop(self, tr_reason_shutdown());
        tr_fail(self, tr_reason_error(7, "boom"));
    }
    return TR_CONTINUE;
}

static int tw_info(tr_self *self, void *state, const tr_msg *msg) {
    tw_state *st = state;
    if (msg->kind == TR_MSG_EXIT && !st->arg->ignore_exits)
        return tr_stop(self, *tr_msg_reason(msg)); /* the supervisor says stop */
    return TR_CONTINUE;
}

static void tw_terminate(tr_self *self, void *state, tr_reason reason) {
    tw_state *st = state;
    (void)self;
    tu_log_note(st->arg->log, reason.kind == TR_EXIT_SHUTDOWN ? "down" : "term", st->arg->name);
}

static const tr_behaviour tw_behaviour = {
    .name = "test_worker",
    .state_size = sizeof(tw_state),
    .init = tw_init,
    .handle_call = tw_call,
    .handle_cast = tw_cast,
    .handle_info = tw_info,
    .terminate = tw_terminate,
};

static tr_child_spec child(const char *id, const tw_arg *arg, tr_restart_type restart) {
    tr_child_spec c = {0};
    c.id = id;
    c.behaviour = &tw_behaviour;
    c.arg = arg;
    c.restart = restart;
    c.shutdown_ms = 2000;
    c.type = TR_WORKER;
    return c;
}

/* The child's info by id; false when absent. */
static bool child_info(tr_runtime *rt, tr_pid sup, const char *id, tr_child_info *out) {
    tr_child_info v[32];
    size_t n = 0;
    assert_int_equal(tr_supervisor_which_children(rt, sup, v, 32, &n), 0);
    for (size_t i = 0; i < n && i < 32; i++)
        if (strcmp(v[i].id, id) == 0) {
            *out = v[i];
            return true;
        }
    return false;
}

static tr_pid child_pid(tr_runtime *rt, tr_pid sup, const char *id) {
    tr_child_info ci;
    assert_true(child_info(rt, sup, id, &ci));
    return ci.pid;
}

/* Polls (up to 10 s) until child id runs with a pid other than old. */
static tr_pid wait_new_pid(tr_runtime *rt, tr_pid sup, const char *id, tr_pid old) {
    for (int i = 0; i < 1000; i++) {
        tr_child_info ci;
        if (child_info(rt, sup, id, &ci) && !tr_pid_is_none(ci.pid) && !tr_pid_eq(ci.pid, old))
            return ci.pid;
        tu_sleep_ms(10);
    }
    fail_msg("child %s was not restarted", id);
    return TR_PID_NONE;
}

static void make_exit(tr_runtime *rt, tr_pid pid, int32_t kind) {
    assert_int_equal(tr_cast(rt, pid, TAG_EXIT, &kind, sizeof(kind)), 0);
    tr_reason r;
    assert_int_equal(tr_await_exit(rt, pid, 10000, &r), 0);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

static void test_restart_matrix(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    const tr_restart_type types[3] = {TR_PERMANENT, TR_TRANSIENT, TR_TEMPORARY};
    const int32_t kinds[3] = {TR_EXIT_NORMAL, TR_EXIT_SHUTDOWN, TR_EXIT_ERROR};
    for (int t = 0; t < 3; t++) {
        for (int k = 0; k < 3; k++) {
            tw_arg a = {.name = "c"};
            tr_child_spec cs = child("c", &a, types[t]);
            tr_sup_spec spec = {.children = &cs, .n_children = 1};
            tr_pid sup;
            assert_int_equal(tr_supervisor_start(rt, &spec, &sup), 0);
            tr_pid old = child_pid(rt, sup, "c");
            assert_false(tr_pid_is_none(old));
            make_exit(rt, old, kinds[k]);
            bool restart =
                types[t] == TR_PERMANENT || (types[t] == TR_TRANSIENT && kinds[k] == TR_EXIT_ERROR);
            tr_child_info ci;
            memset(&ci, 0, sizeof ci); /* Release builds cannot see that child_info fills it */
            if (restart) {
                tr_pid now = wait_new_pid(rt, sup, "c", old);
                assert_true(tr_is_alive(rt, now));
                assert_true(child_info(rt, sup, "c", &ci));
                assert_int_equal(ci.restarts, 1);
            } else if (types[t] == TR_TEMPORARY) {
                /* spec removed, once the supervisor has handled the EXIT
                 * (the child's exit is seen first by tr_await_exit) */
                assert_true(TU_WAIT(!child_info(rt, sup, "c", &ci), 10000));
            } else {
                assert_true(
                    TU_WAIT(child_info(rt, sup, "c", &ci) && tr_pid_is_none(ci.pid), 10000));
                assert_int_equal(ci.restarts, 0);
            }
            assert_int_equal(tr_supervisor_stop(rt, sup, 10000), 0);
            assert_false(tr_is_alive(rt, sup));
        }
    }
    tu_rt_stop(&rt);
}

static void test_start_and_stop_order(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    tu_log *log = tu_log_new();
    tw_arg a = {"A", log, 0, 0}, b = {"B", log, 0, 0}, c = {"C", log, 0, 0};
    tr_child_spec cs[3] = {child("A", &a, TR_PERMANENT), child("B", &b, TR_PERMANENT),
                           child("C", &c, TR_PERMANENT)};
    tr_sup_spec spec = {.children = cs, .n_children = 3};
    tr_pid sup;
    assert_int_equal(tr_supervisor_start(rt, &spec, &sup), 0);
    assert_int_equal(tu_log_find_note(log, "start:A", 0), 0);
    assert_int_equal(tu_log_find_note(log, "start:B", 0), 1);
    assert_int_equal(tu_log_find_note(log, "start:C", 0), 2);
    tr_child_info v[3];
    size_t n = 0;
    assert_int_equal(tr_supervisor_which_children(rt, sup, v, 3, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].id, "A");
    assert_string_equal(v[2].id, "C");
    assert_int_equal(tr_supervisor_stop(rt, sup, 10000), 0);
    assert_int_equal((int)tu_log_notes(log), 6);
    assert_int_equal(tu_log_find_note(log, "down:C", 0), 3);
    assert_int_equal(tu_log_find_note(log, "down:B", 0), 4);
    assert_int_equal(tu_log_find_note(log, "down:A", 0), 5);
    tu_rt_stop(&rt);
    tu_log_free(log);
}

static void test_intensity_exceeded(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    tu_log *log = tu_log_new();
    tw_arg a = {"A", log, 0, 0}, b = {"B", log, 0, 0}, c = {"C", log, 0, 0};
    tr_child_spec cs[3] = {child("A", &a, TR_PERMANENT), child("B", &b, TR_PERMANENT),
                           child("C", &c, TR_PERMANENT)};
    tr_sup_spec spec = {.children = cs, .n_children = 3}; /* 1 restart in 5 s */
    tr_pid sup;
    assert_int_equal(tr_supervisor_start(rt, &spec, &sup), 0);
    tr_pid a1 = child_pid(rt, sup, "A");
    make_exit(rt, a1, TR_EXIT_ERROR);
    tr_pid a2 = wait_new_pid(rt, sup, "A", a1);
    size_t before = tu_log_notes(log);
    tu_watch w = tu_watch_start(rt, log, sup);
    assert_int_equal(tr_cast(rt, a2, TAG_EXIT, &(int32_t){TR_EXIT_ERROR}, sizeof(int32_t)), 0);
    assert_int_equal(tu_watch_wait(&w).kind, TR_EXIT_SHUTDOWN);
    /* B and C were stopped in reverse start order, and A not restarted */
    int ic = tu_log_find_note(log, "down:C", before);
    int ib = tu_log_find_note(log, "down:B", before);
    assert_true(ic >= 0 && ib > ic);
    assert_int_equal(tu_log_find_note(log, "start:A", before), -1);
    tu_rt_stop(&rt);
    tu_log_free(log);
}

/* An intensity larger than the restart history's first size (16): the
 * history grows as restarts come, and the supervisor still gives up on
 * exactly the (intensity + 1)-th restart within the period. */
static void test_large_intensity_counts_exactly(void **unused) {
    (void)unused;
    enum { INTENSITY = 40 };
    tr_runtime *rt = tu_rt_start(2);
    tu_log *log = tu_log_new();
    tw_arg a = {"A", log, 0, 0};
    tr_child_spec cs = child("A", &a, TR_PERMANENT);
    tr_sup_spec spec = {
        .flags = {.intensity = INTENSITY, .period_ms = 600000}, .children = &cs, .n_children = 1};
    tr_pid sup;
    assert_int_equal(tr_supervisor_start(rt, &spec, &sup), 0);
    tr_pid cur = child_pid(rt, sup, "A");
    for (int i = 1; i <= INTENSITY; i++) {
        make_exit(rt, cur, TR_EXIT_ERROR);
        cur = wait_new_pid(rt, sup, "A", cur);
        tr_child_info ci;
        assert_true(child_info(rt, sup, "A", &ci));
        assert_int_equal(ci.restarts, i);
    }
    tu_watch w = tu_watch_start(rt, log, sup);
    assert_int_equal(tr_cast(rt, cur, TAG_EXIT, &(int32_t){TR_EXIT_ERROR}, sizeof(int32_t)), 0);
    assert_int_equal(tu_watch_wait(&w).kind, TR_EXIT_SHUTDOWN);
    tu_rt_stop(&rt);
    tu_log_free(log);
}

static void test_escalation_to_parent(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    tw_arg w = {.name = "w"};
    tr_child_spec inner_child = child("w", &w, TR_PERMANENT);
    tr_sup_spec inner = {
        .flags = {.intensity = 0, .period_ms = 5000}, .children = &inner_child, .n_children = 1};
    tr_child_spec outer_child = {.id = "inner",
                                 .behaviour = tr_supervisor_behaviour(),
                                 .arg = &inner,
                                 .restart = TR_PERMANENT,
                                 .type = TR_SUPERVISOR};
    tr_sup_spec outer = {
        .flags = {.intensity = 5, .period_ms = 5000}, .children = &outer_child, .n_children = 1};
    tr_pid top;
    assert_int_equal(tr_supervisor_start(rt, &outer, &top), 0);
    tr_child_info ci;
    assert_true(child_info(rt, top, "inner", &ci));
    assert_int_equal(ci.type, TR_SUPERVISOR);
    tr_pid inner1 = ci.pid;
    tr_pid w1 = child_pid(rt, inner1, "w");
    tu_log *log = tu_log_new();
    tu_watch wt = tu_watch_start(rt, log, inner1);
    tr_cast(rt, w1, TAG_EXIT, &(int32_t){TR_EXIT_ERROR}, sizeof(int32_t));
    assert_int_equal(tu_watch_wait(&wt).kind, TR_EXIT_SHUTDOWN);
    tr_pid inner2 = wait_new_pid(rt, top, "inner", inner1);
    assert_true(child_info(rt, top, "inner", &ci));
    assert_int_equal(ci.restarts, 1);
    /* the new inner supervisor runs a fresh worker */
    tr_pid w2 = child_pid(rt, inner2, "w");
    assert_true(tr_is_alive(rt, w2));
    assert_false(tr_pid_eq(w1, w2));
    assert_int_equal(tr_supervisor_stop(rt, top, 10000), 0);
    assert_false(tr_is_alive(rt, w2));
    tu_rt_stop(&rt);
    tu_log_free(log);
}

static void test_shutdown_timeout_kills(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    tw_arg a = {"stubborn", NULL, 0, 1};
    tr_child_spec cs = child("stubborn", &a, TR_PERMANENT);
    cs.shutdown_ms = 200;
    tr_sup_spec spec = {.children = &cs, .n_children = 1};
    tr_pid sup;
    assert_int_equal(tr_supervisor_start(rt, &spec, &sup), 0);
    tr_pid p = child_pid(rt, sup, "stubborn");
    int64_t t0 = tr_now_ms();
    assert_int_equal(tr_supervisor_terminate_child(rt, sup, "stubborn", TR_PID_NONE), 0);
    int64_t dt = tr_now_ms() - t0;
    assert_true(dt >= 190); /* it ignored shutdown until the timeout */
    tr_reason why;
    assert_int_equal(tr_await_exit(rt, p, 5000, &why), 0);
    assert_false(tr_is_alive(rt, p));
    assert_true(tr_pid_is_none(child_pid(rt, sup, "stubborn")));
    /* brutal_kill: no waiting */
    assert_int_equal(tr_supervisor_restart_child(rt, sup, "stubborn", &p), 0);
    assert_true(tr_is_alive(rt, p));
    assert_int_equal(tr_supervisor_stop(rt, sup, 10000), 0);
    assert_false(tr_is_alive(rt, p));
    tu_rt_stop(&rt);
}

static void test_management_calls(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    tw_arg a = {.name = "A"}, bad = {.name = "bad", .fail_init = 1};
    tr_child_spec cs = child("A", &a, TR_PERMANENT);
    tr_sup_spec spec = {.children = &cs, .n_children = 1};
    tr_pid sup, p;
    assert_int_equal(tr_supervisor_start(rt, &spec, &sup), 0);

    assert_int_equal(tr_supervisor_start_child(rt, sup, &cs, &p), TR_EEXIST);
    assert_int_equal(tr_supervisor_terminate_child(rt, sup, "nope", TR_PID_NONE), TR_ENOTFOUND);
    assert_int_equal(tr_supervisor_restart_child(rt, sup, "nope", NULL), TR_ENOTFOUND);
    assert_int_equal(tr_supervisor_delete_child(rt, sup, "nope"), TR_ENOTFOUND);
    assert_int_equal(tr_supervisor_restart_child(rt, sup, "A", NULL), TR_ERUNNING);
    assert_int_equal(tr_supervisor_delete_child(rt, sup, "A"), TR_ERUNNING);

    tr_pid a1 = child_pid(rt, sup, "A");
    assert_int_equal(tr_supervisor_terminate_child(rt, sup, "A", TR_PID_NONE), 0);
    assert_false(tr_is_alive(rt, a1));
    assert_true(tr_pid_is_none(child_pid(rt, sup, "A")));
    assert_int_equal(tr_supervisor_restart_child(rt, sup, "A", &p), 0);
    assert_true(tr_is_alive(rt, p));
    assert_true(tr_pid_eq(p, child_pid(rt, sup, "A")));
    assert_int_equal(tr_supervisor_terminate_child(rt, sup, "A", TR_PID_NONE), 0);
    assert_int_equal(tr_supervisor_delete_child(rt, sup, "A"), 0);
    assert_int_equal(tr_supervisor_restart_child(rt, sup, "A", NULL), TR_ENOTFOUND);

    tr_child_counts cc;
    assert_int_equal(tr_supervisor_count_children(rt, sup, &cc), 0);
    assert_int_equal(cc.specs, 0);

    tr_child_spec cb = child("B", &a, TR_TRANSIENT);
    assert_int_equal(tr_supervisor_start_child(rt, sup, &cb, &p), 0);
    assert_true(tr_is_alive(rt, p));
    tr_child_spec cbad = child("bad", &bad, TR_PERMANENT);
    assert_int_equal(tr_supervisor_start_child(rt, sup, &cbad, NULL), TR_EINIT);
    tr_child_spec noproc = {.id = "x"};
    assert_int_equal(tr_supervisor_start_child(rt, sup, &noproc, NULL), TR_EINVAL);
    assert_int_equal(tr_supervisor_count_children(rt, sup, &cc), 0);
    assert_int_equal(cc.specs, 1); /* the failed one was not kept */
    assert_int_equal(cc.active, 1);
    assert_int_equal(cc.workers, 1);
    assert_int_equal(cc.supervisors, 0);

    assert_int_equal(tr_supervisor_stop(rt, sup, 10000), 0);
    assert_int_equal(tr_supervisor_count_children(rt, sup, &cc), TR_ENOPROC);
    tu_rt_stop(&rt);
}

static void test_bad_specs_and_init_failure(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    tu_log *log = tu_log_new();
    tw_arg a = {"A", log, 0, 0}, b = {"B", log, 1, 0};
    tr_child_spec dup[2] = {child("A", &a, TR_PERMANENT), child("A", &a, TR_PERMANENT)};
    tr_sup_spec spec = {.children = dup, .n_children = 2};
    assert_int_equal(tr_supervisor_start(rt, &spec, NULL), TR_EINVAL);
    tr_sup_spec sofo2 = {
        .flags = {.strategy = TR_SIMPLE_ONE_FOR_ONE}, .children = dup, .n_children = 2};
    assert_int_equal(tr_supervisor_start(rt, &sofo2, NULL), TR_EINVAL);
    assert_int_equal(tr_supervisor_start(rt, NULL, NULL), TR_EINVAL);

    size_t before = tr_runtime_actor_count(rt);
    tr_child_spec cs[2] = {child("A", &a, TR_PERMANENT), child("B", &b, TR_PERMANENT)};
    tr_sup_spec failing = {.children = cs, .n_children = 2};
    assert_int_equal(tr_supervisor_start(rt, &failing, NULL), TR_EINIT);
    assert_int_equal(tu_log_find_note(log, "start:A", 0), 0);
    assert_true(tu_log_find_note(log, "down:A", 0) > 0); /* A was stopped again */
    /* nothing left behind (the count drops just after the exit is seen) */
    for (int i = 0; i < 500 && tr_runtime_actor_count(rt) != before; i++)
        tu_sleep_ms(10);
    assert_int_equal(tr_runtime_actor_count(rt), before);
    tu_rt_stop(&rt);
    tu_log_free(log);
}

static void test_one_for_all_and_rest_for_one(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    tw_arg a = {.name = "A"}, b = {.name = "B"}, c = {.name = "C"};
    tr_child_spec cs[3] = {child("A", &a, TR_PERMANENT), child("B", &b, TR_PERMANENT),
                           child("C", &c, TR_PERMANENT)};
    for (int strat = 0; strat < 2; strat++) {
        tr_sup_spec spec = {.flags = {.strategy = strat ? TR_REST_FOR_ONE : TR_ONE_FOR_ALL},
                            .children = cs,
                            .n_children = 3};
        tr_pid sup;
        assert_int_equal(tr_supervisor_start(rt, &spec, &sup), 0);
        tr_pid pa = child_pid(rt, sup, "A"), pb = child_pid(rt, sup, "B"),
               pc = child_pid(rt, sup, "C");
        make_exit(rt, pb, TR_EXIT_ERROR);
        wait_new_pid(rt, sup, "B", pb);
        wait_new_pid(rt, sup, "C", pc);
        if (strat == 0) {
            wait_new_pid(rt, sup, "A", pa);
            assert_false(tr_is_alive(rt, pa));
        } else {
            assert_true(tr_pid_eq(child_pid(rt, sup, "A"), pa));
            assert_true(tr_is_alive(rt, pa));
        }
        assert_false(tr_is_alive(rt, pc));
        assert_int_equal(tr_supervisor_stop(rt, sup, 10000), 0);
    }
    tu_rt_stop(&rt);
}

static void test_simple_one_for_one(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    tw_arg t = {.name = "tmpl"}, other = {.name = "other"};
    tr_child_spec tmpl = child("worker", &t, TR_PERMANENT);
    tr_sup_spec spec = {
        .flags = {.strategy = TR_SIMPLE_ONE_FOR_ONE, .intensity = 5, .period_ms = 5000},
        .children = &tmpl,
        .n_children = 1};
    tr_pid sup, p[3];
    assert_int_equal(tr_supervisor_start(rt, &spec, &sup), 0);
    tr_child_counts cc;
    assert_int_equal(tr_supervisor_count_children(rt, sup, &cc), 0);
    assert_int_equal(cc.active, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tr_supervisor_start_child(rt, sup, NULL, &p[i]), 0);
    /* a per-child arg */
    tr_child_spec own = {.arg = &other};
    tr_pid q;
    assert_int_equal(tr_supervisor_start_child(rt, sup, &own, &q), 0);
    tr_buf reply = {0};
    assert_int_equal(tr_call(rt, q, TAG_PING, NULL, 0, &reply, 5000), 0);
    assert_string_equal((const char *)reply.data, "other");
    tr_buf_free(&reply);
    assert_int_equal(tr_supervisor_count_children(rt, sup, &cc), 0);
    assert_int_equal(cc.active, 4);
    /* terminate by pid removes the child */
    assert_int_equal(tr_supervisor_terminate_child(rt, sup, NULL, p[1]), 0);
    assert_false(tr_is_alive(rt, p[1]));
    assert_int_equal(tr_supervisor_terminate_child(rt, sup, NULL, p[1]), TR_ENOTFOUND);
    assert_int_equal(tr_supervisor_count_children(rt, sup, &cc), 0);
    assert_int_equal(cc.specs, 3);
    /* a crashed permanent child is restarted */
    make_exit(rt, p[0], TR_EXIT_ERROR);
    bool ok = false;
    for (int i = 0; i < 1000 && !ok; i++) {
        assert_int_equal(tr_supervisor_count_children(rt, sup, &cc), 0);
        ok = cc.active == 3;
        if (!ok)
            tu_sleep_ms(10);
    }
    assert_true(ok);
    tr_child_info v[8];
    size_t n;
    assert_int_equal(tr_supervisor_which_children(rt, sup, v, 8, &n), 0);
    assert_int_equal(n, 3);
    bool restarted = false;
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(v[i].id, "worker");
        assert_false(tr_pid_eq(v[i].pid, p[0]));
        restarted |= v[i].restarts == 1;
    }
    assert_true(restarted);
    assert_int_equal(tr_supervisor_stop(rt, sup, 10000), 0);
    assert_false(tr_is_alive(rt, q));
    tu_rt_stop(&rt);
}

static void test_backoff_restart(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    tw_arg a = {.name = "A"};
    tr_child_spec cs = child("A", &a, TR_PERMANENT);
    tr_sup_spec spec = {.flags = {.intensity = 5, .period_ms = 5000, .backoff_initial_ms = 100},
                        .children = &cs,
                        .n_children = 1};
    tr_pid sup;
    assert_int_equal(tr_supervisor_start(rt, &spec, &sup), 0);
    tr_pid a1 = child_pid(rt, sup, "A");
    int64_t t0 = tr_now_ms();
    make_exit(rt, a1, TR_EXIT_ERROR);
    tr_pid a2 = wait_new_pid(rt, sup, "A", a1);
    assert_true(tr_now_ms() - t0 >= 95); /* not before the backoff */
    assert_true(tr_is_alive(rt, a2));
    assert_int_equal(tr_supervisor_stop(rt, sup, 10000), 0);
    tu_rt_stop(&rt);
}

static void test_runtime_shutdown_with_supervisors(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    tw_arg a = {.name = "A"};
    tr_child_spec cs[2] = {child("A", &a, TR_PERMANENT), child("B", &a, TR_PERMANENT)};
    tr_sup_spec spec = {.children = cs, .n_children = 2};
    assert_int_equal(tr_supervisor_start(rt, &spec, NULL), 0);
    assert_int_equal(tr_supervisor_start(rt, &spec, NULL), 0);
    tu_rt_stop(&rt); /* no restarts, no hang, no leak */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_matrix),
        cmocka_unit_test(test_start_and_stop_order),
        cmocka_unit_test(test_intensity_exceeded),
        cmocka_unit_test(test_large_intensity_counts_exactly),
        cmocka_unit_test(test_escalation_to_parent),
        cmocka_unit_test(test_shutdown_timeout_kills),
        cmocka_unit_test(test_management_calls),
        cmocka_unit_test(test_bad_specs_and_init_failure),
        cmocka_unit_test(test_one_for_all_and_rest_for_one),
        cmocka_unit_test(test_simple_one_for_one),
        cmocka_unit_test(test_backoff_restart),
        cmocka_unit_test(test_runtime_shutdown_with_supervisors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
