/* Killing a supervisor or a pool leaks nothing (issue 8, defect 8): their
 * tables are freed by their cleanup callbacks, which run on a kill too.
 * LeakSanitizer (the ASan build, detect_leaks=1) checks the whole program
 * at exit: before the fix it reported the supervisor's restart history and
 * child table and the pool's slots and shared block. */
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Killing a supervisor or a pool leaks nothing                              */
/* ------------------------------------------------------------------------ */

static int idle_init(tr_self *self, void *state, const void *arg) {
    (void)self;
    (void)state;
    (void)arg;
    return TR_CONTINUE;
}

static int idle_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    (void)self;
    (void)state;
    tr_reply(from, 0, msg->data, msg->size);
    return TR_CONTINUE;
}

static const tr_behaviour idle_b = {
    .name = "idle", .state_size = 32, .init = idle_init, .handle_call = idle_call};

static void test_kill_supervisor_and_pool_leaks_nothing(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_start(4);
    assert_non_null(rt);
    tr_child_spec cs[2] = {
        {.id = "a", .behaviour = &idle_b, .restart = TR_PERMANENT, .shutdown_ms = 1000},
        {.id = "b", .behaviour = &idle_b, .arg = "xyz", .arg_size = 4, .shutdown_ms = 1000},
    };
    tr_sup_spec spec = {
        .flags = {.strategy = TR_ONE_FOR_ONE, .intensity = 100000, .period_ms = 1000},
        .children = cs,
        .n_children = 2};
    tr_pool_opts po = {.worker = &idle_b, .worker_arg = "abc", .worker_arg_size = 4, .size = 3};
    for (int round = 0; round < 3; round++) {
        tr_pid sup, pool;
        assert_rc(tr_supervisor_start(rt, &spec, &sup), 0);
        assert_rc(tr_pool_start(rt, &po, &pool), 0);
        int x = 42;
        tr_buf reply = {0};
        assert_rc(tr_call(rt, pool, 1, &x, sizeof x, &reply, 5000), 0);
        tr_buf_free(&reply);
        assert_rc(tr_exit(rt, sup, tr_reason_kill()), 0);
        assert_rc(tr_exit(rt, pool, tr_reason_kill()), 0);
        tr_reason r;
        assert_rc(tr_await_exit(rt, sup, 5000, &r), 0);
        assert_rc(tr_await_exit(rt, pool, 5000, &r), 0);
    }
    /* Killed while idle, and the runtime then stops: LeakSanitizer (the
     * ASan build) fails the program if any table was left behind. */
    tr_runtime_free(&rt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_supervisor_and_pool_leaks_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
