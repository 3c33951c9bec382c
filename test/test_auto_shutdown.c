/* Significant children and auto_shutdown (OTP 24), and group restarts
 * (one_for_all, rest_for_one) under a restart backoff (issue 10, item 10). */
#include "testutil.h"

static tu_probe_arg g_parg;

static tr_child_spec kid(const char *id, tr_restart_type r, bool significant) {
    tr_child_spec k;
    memset(&k, 0, sizeof k);
    k.id = id;
    k.behaviour = tu_probe_behaviour();
    k.arg = &g_parg;
    k.restart = r;
    k.shutdown_ms = 1000;
    k.significant = significant;
    return k;
}

static tr_pid child_pid(tr_runtime *rt, tr_pid sup, const char *id) {
    tr_child_info info[8];
    size_t n = 0;
    if (tr_supervisor_which_children(rt, sup, info, 8, &n) != 0)
        return TR_PID_NONE;
    for (size_t i = 0; i < n && i < 8; i++)
        if (strcmp(info[i].id, id) == 0)
            return info[i].pid;
    return TR_PID_NONE;
}

static tr_pid start(tr_runtime *rt, tr_child_spec *k, size_t n, tr_strategy s, tr_auto_shutdown a) {
    tr_sup_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.flags.strategy = s;
    spec.flags.intensity = 10;
    spec.flags.period_ms = 10000;
    spec.flags.auto_shutdown = a;
    spec.children = k;
    spec.n_children = n;
    tr_start_error e;
    tr_pid sup = TR_PID_NONE;
    int rc = tr_supervisor_start_ex(rt, &spec, &sup, &e);
    if (rc)
        print_error("start: %s: %s\n", tr_err_name(rc), e.reason.text);
    assert_rc(rc, 0);
    return sup;
}

/* any_significant: a significant transient child's normal exit shuts the
 * supervisor down (reason shutdown, the other child stopped); its crash
 * only restarts it. */
static void test_any_significant(void **state) {
    tu_fix *f = *state;
    g_parg.log = f->log;
    tr_child_spec k[2] = {kid("worker", TR_PERMANENT, false), kid("job", TR_TRANSIENT, true)};
    tr_pid sup = start(f->rt, k, 2, TR_ONE_FOR_ONE, TR_AUTO_SHUTDOWN_ANY_SIGNIFICANT);
    tu_watch w = tu_watch_start(f->rt, f->log, sup);
    tr_pid job = child_pid(f->rt, sup, "job");
    tr_pid worker = child_pid(f->rt, sup, "worker");
    tu_fail(f->rt, job, tr_reason_error(3, "crash")); /* abnormal: restarted */
    assert_true(TU_WAIT(!tr_pid_is_none(child_pid(f->rt, sup, "job")) &&
                            !tr_pid_eq(child_pid(f->rt, sup, "job"), job),
                        10000));
    assert_true(tr_is_alive(f->rt, sup));
    job = child_pid(f->rt, sup, "job");
    tu_stop(f->rt, job, tr_reason_normal()); /* its own normal exit */
    tr_reason r = tu_watch_wait(&w);
    assert_reason_kind(r, TR_EXIT_SHUTDOWN);
    assert_false(tr_is_alive(f->rt, worker));
}

/* all_significant: the supervisor stays while one significant child is
 * left, and goes with the last one; terminate_child does not count. */
static void test_all_significant(void **state) {
    tu_fix *f = *state;
    g_parg.log = f->log;
    tr_child_spec k[3] = {kid("a", TR_TEMPORARY, true), kid("b", TR_TEMPORARY, true),
                          kid("c", TR_TRANSIENT, true)};
    tr_pid sup = start(f->rt, k, 3, TR_ONE_FOR_ONE, TR_AUTO_SHUTDOWN_ALL_SIGNIFICANT);
    tu_watch w = tu_watch_start(f->rt, f->log, sup);
    /* stopped by the supervisor: not a significant exit */
    assert_rc(tr_supervisor_terminate_child(f->rt, sup, "c", TR_PID_NONE), 0);
    tu_fail(f->rt, child_pid(f->rt, sup, "a"), tr_reason_error(1, "x"));
    tr_child_counts cc;
    assert_true(
        TU_WAIT(tr_supervisor_count_children(f->rt, sup, &cc) == 0 && cc.specs == 2, 10000));
    assert_true(tr_is_alive(f->rt, sup));
    tu_stop(f->rt, child_pid(f->rt, sup, "b"), tr_reason_normal());
    tr_reason r = tu_watch_wait(&w);
    assert_reason_kind(r, TR_EXIT_SHUTDOWN);
}

/* never (the default): no auto shutdown, and significant children are
 * refused; a significant permanent child is refused. */
static void test_significant_spec_errors(void **state) {
    tu_fix *f = *state;
    g_parg.log = f->log;
    tr_child_spec k[1] = {kid("a", TR_TRANSIENT, true)};
    tr_sup_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.children = k;
    spec.n_children = 1;
    tr_start_error e;
    tr_pid sup;
    assert_rc(tr_supervisor_start_ex(f->rt, &spec, &sup, &e), TR_EINVAL);
    assert_string_equal(e.reason.text, "significant child without auto_shutdown");
    spec.flags.auto_shutdown = TR_AUTO_SHUTDOWN_ANY_SIGNIFICANT;
    k[0].restart = TR_PERMANENT;
    assert_rc(tr_supervisor_start_ex(f->rt, &spec, &sup, &e), TR_EINVAL);
    assert_string_equal(e.reason.text, "significant permanent child");
    spec.flags.auto_shutdown = (tr_auto_shutdown)7;
    k[0].restart = TR_TRANSIENT;
    assert_rc(tr_supervisor_start_ex(f->rt, &spec, &sup, &e), TR_EINVAL);
    assert_string_equal(e.reason.text, "bad auto_shutdown");
    /* a plain transient child that stops normally under never: nothing */
    k[0].significant = false;
    spec.flags.auto_shutdown = TR_AUTO_SHUTDOWN_NEVER;
    assert_rc(tr_supervisor_start(f->rt, &spec, &sup), 0);
    tu_stop(f->rt, child_pid(f->rt, sup, "a"), tr_reason_normal());
    assert_true(TU_WAIT(tr_pid_is_none(child_pid(f->rt, sup, "a")), 10000));
    assert_true(tr_is_alive(f->rt, sup));
}

/* one_for_all and rest_for_one with a 300 ms backoff: after a crash the
 * group is stopped at once and nothing of it starts before the delay. */
static void group_backoff(tu_fix *f, tr_strategy s) {
    g_parg.log = f->log;
    tr_child_spec k[3] = {kid("a", TR_PERMANENT, false), kid("b", TR_PERMANENT, false),
                          kid("c", TR_PERMANENT, false)};
    tr_sup_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.flags.strategy = s;
    spec.flags.intensity = 10;
    spec.flags.period_ms = 10000;
    spec.flags.backoff_initial_ms = 300;
    spec.children = k;
    spec.n_children = 3;
    tr_pid sup;
    assert_rc(tr_supervisor_start(f->rt, &spec, &sup), 0);
    tr_pid b = child_pid(f->rt, sup, "b"), c = child_pid(f->rt, sup, "c");
    int64_t t0 = tu_now_ms();
    tr_exit(f->rt, b, tr_reason_kill());
    /* c (after b in both strategies) is stopped, and comes back late */
    assert_true(TU_WAIT(!tr_is_alive(f->rt, c), 10000));
    assert_true(TU_WAIT(!tr_pid_is_none(child_pid(f->rt, sup, "c")) &&
                            !tr_pid_eq(child_pid(f->rt, sup, "c"), c),
                        10000));
    int64_t took = tu_now_ms() - t0;
    assert_true(took >= 300);
    assert_false(tr_pid_is_none(child_pid(f->rt, sup, "b")));
    assert_rc(tr_supervisor_stop(f->rt, sup, 10000), 0);
}

static void test_one_for_all_backoff(void **state) {
    group_backoff(*state, TR_ONE_FOR_ALL);
}
static void test_rest_for_one_backoff(void **state) {
    group_backoff(*state, TR_REST_FOR_ONE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_any_significant),         TU_TEST(test_all_significant),
        TU_TEST(test_significant_spec_errors), TU_TEST(test_one_for_all_backoff),
        TU_TEST(test_rest_for_one_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
