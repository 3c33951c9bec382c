/* Monitors (erlang:monitor/demonitor) and tr_await_exit. */
#include "testutil.h"

static tu_event wait_down(tu_log *log, tr_pid who, size_t idx) {
    assert_true(tu_log_wait(log, who, TU_EV_INFO, TR_MSG_DOWN, idx + 1, 10000));
    tu_event e;
    assert_true(tu_log_get(log, who, TU_EV_INFO, TR_MSG_DOWN, idx, &e));
    assert_true(e.has_reason);
    return e;
}

static void settle(tr_runtime *rt, tr_pid p) {
    tu_sleep_ms(50);
    tu_ping(rt, p);
}

static void test_one_down_with_reason(void **state) {
    tu_fix *f = *state;
    tr_pid w = tu_probe(f->rt, f->log, false);
    tr_pid t = tu_probe(f->rt, f->log, false);
    uint64_t ref = tu_monitor(f->rt, w, t);
    tu_fail(f->rt, t, tr_reason_error(5, "gone"));
    tu_event e = wait_down(f->log, w, 0);
    assert_int_equal(e.kind, TR_MSG_DOWN);
    assert_true(e.ref == ref);
    assert_pid_equal(e.sender, t);
    assert_reason_kind(e.reason, TR_EXIT_ERROR);
    assert_int_equal(e.reason.code, 5);
    assert_string_equal(e.reason.text, "gone");
    settle(f->rt, w);
    assert_int_equal(tu_log_count(f->log, w, TU_EV_INFO, TR_MSG_DOWN), 1);
    /* A monitor is not a link: the watcher lives on. */
    assert_true(tr_is_alive(f->rt, w));
    assert_int_equal(tu_log_count(f->log, w, TU_EV_INFO, TR_MSG_EXIT), 0);
}

static void test_two_monitors_two_downs_normal_exit(void **state) {
    tu_fix *f = *state;
    tr_pid w = tu_probe(f->rt, f->log, false);
    tr_pid t = tu_probe(f->rt, f->log, false);
    uint64_t r1 = tu_monitor(f->rt, w, t);
    uint64_t r2 = tu_monitor(f->rt, w, t);
    assert_true(r1 != r2);
    tu_stop(f->rt, t, tr_reason_normal());
    tu_event e1 = wait_down(f->log, w, 0);
    tu_event e2 = wait_down(f->log, w, 1);
    assert_reason_kind(e1.reason, TR_EXIT_NORMAL); /* monitors report normal too */
    assert_reason_kind(e2.reason, TR_EXIT_NORMAL);
    assert_true((e1.ref == r1 && e2.ref == r2) || (e1.ref == r2 && e2.ref == r1));
    settle(f->rt, w);
    assert_int_equal(tu_log_count(f->log, w, TU_EV_INFO, TR_MSG_DOWN), 2);
}

static void test_down_killed(void **state) {
    tu_fix *f = *state;
    tr_pid w = tu_probe(f->rt, f->log, false);
    tr_pid t = tu_probe(f->rt, f->log, true);
    uint64_t ref = tu_monitor(f->rt, w, t);
    assert_rc(tr_exit(f->rt, t, tr_reason_kill()), 0);
    tu_event e = wait_down(f->log, w, 0);
    assert_true(e.ref == ref);
    assert_reason_kind(e.reason, TR_EXIT_KILLED);
}

static void test_down_noproc_for_dead_target(void **state) {
    tu_fix *f = *state;
    tr_pid w = tu_probe(f->rt, f->log, false);
    tr_pid t = tu_probe(f->rt, f->log, false);
    tu_stop(f->rt, t, tr_reason_normal());
    (void)tu_await(f->rt, t);
    uint64_t ref = tu_monitor(f->rt, w, t);
    tu_event e = wait_down(f->log, w, 0);
    assert_true(e.ref == ref);
    assert_pid_equal(e.sender, t);
    assert_reason_kind(e.reason, TR_EXIT_NOPROC);
    /* A never-existing pid of this runtime too (t's slot, a generation
     * far ahead: bits 31..55 of a pid are its generation). */
    tr_pid never = {.id = t.id + ((uint64_t)1 << 40)};
    uint64_t ref2 = tu_monitor(f->rt, w, never);
    e = wait_down(f->log, w, 1);
    assert_true(e.ref == ref2);
    assert_reason_kind(e.reason, TR_EXIT_NOPROC);
    /* A pid that can name no process of this runtime (here: a slot index
     * past the table) is refused at the call: nothing is monitored. */
    tr_pid bogus = {.id = ((uint64_t)9 << 32) | 0x7ffffff1u};
    uint64_t ref3 = 0;
    assert_rc(tu_cmd(f->rt, w, TU_MONITOR, &bogus, sizeof bogus, &ref3), TR_ENOPROC);
    settle(f->rt, w);
    assert_int_equal(tu_log_count(f->log, w, TU_EV_INFO, TR_MSG_DOWN), 2);
}

static void test_demonitor_no_down(void **state) {
    tu_fix *f = *state;
    tr_pid w = tu_probe(f->rt, f->log, false);
    tr_pid t = tu_probe(f->rt, f->log, false);
    uint64_t ref = tu_monitor(f->rt, w, t);
    assert_rc(tu_cmd(f->rt, w, TU_DEMONITOR, &ref, sizeof ref, NULL), 0);
    tu_fail(f->rt, t, tr_reason_error(1, "x"));
    (void)tu_await(f->rt, t);
    settle(f->rt, w);
    assert_int_equal(tu_log_count(f->log, w, TU_EV_INFO, TR_MSG_DOWN), 0);
    /* Demonitoring again: unknown ref. */
    assert_rc(tu_cmd(f->rt, w, TU_DEMONITOR, &ref, sizeof ref, NULL), TR_ENOTFOUND);
}

/* demonitor in the same callback that then kills the target. */
static void test_demonitor_then_target_exits_at_once(void **state) {
    tu_fix *f = *state;
    const int rounds = TU_SCALE(200, 50);
    tr_pid w = tu_probe(f->rt, f->log, false);
    for (int i = 0; i < rounds; i++) {
        tr_pid t = tu_probe(f->rt, NULL, false);
        uint64_t ref = tu_monitor(f->rt, w, t);
        tu_demon_kill_arg a = {ref, t};
        assert_rc(tr_cast(f->rt, w, TU_DEMON_KILL, &a, sizeof a), 0);
        (void)tu_await(f->rt, t);
    }
    settle(f->rt, w);
    assert_int_equal(tu_log_count(f->log, w, TU_EV_RC, TU_ANY), rounds);
    for (int i = 0; i < rounds; i++) {
        tu_event e;
        assert_true(tu_log_get(f->log, w, TU_EV_RC, TU_ANY, (size_t)i, &e));
        assert_rc(e.status, 0);
    }
    assert_int_equal(tu_log_count(f->log, w, TU_EV_INFO, TR_MSG_DOWN), 0);
}

/* demonitor drops a DOWN that is already queued (flush). */
static void test_demonitor_flushes_queued_down(void **state) {
    tu_fix *f = *state;
    tr_pid w = tu_probe(f->rt, f->log, false);
    tr_pid t = tu_probe(f->rt, f->log, false);
    uint64_t ref = tu_monitor(f->rt, w, t);
    tu_hold(f->rt, w, &f->gate[0]);
    /* Queue the demonitor command first, then make the DOWN arrive behind
     * it (the kill in the command then finds the target already dead). */
    tu_demon_kill_arg a = {ref, t};
    assert_rc(tr_cast(f->rt, w, TU_DEMON_KILL, &a, sizeof a), 0);
    assert_rc(tr_exit(f->rt, t, tr_reason_kill()), 0);
    (void)tu_await(f->rt, t);
    tu_sleep_ms(50); /* the DOWN is now in w's mailbox, behind the command */
    tu_gate_open(&f->gate[0]);
    settle(f->rt, w);
    assert_int_equal(tu_log_count(f->log, w, TU_EV_RC, TU_ANY), 1);
    tu_event e;
    assert_true(tu_log_get(f->log, w, TU_EV_RC, TU_ANY, 0, &e));
    assert_rc(e.status, 0);
    assert_int_equal(tu_log_count(f->log, w, TU_EV_INFO, TR_MSG_DOWN), 0);
}

static void test_demonitor_after_down_enotfound(void **state) {
    tu_fix *f = *state;
    tr_pid w = tu_probe(f->rt, f->log, false);
    tr_pid t = tu_probe(f->rt, f->log, false);
    uint64_t ref = tu_monitor(f->rt, w, t);
    tu_stop(f->rt, t, tr_reason_normal());
    (void)wait_down(f->log, w, 0);
    assert_rc(tu_cmd(f->rt, w, TU_DEMONITOR, &ref, sizeof ref, NULL), TR_ENOTFOUND);
}

/* ------------------------------------------------------------------------ */
/* tr_await_exit                                                             */
/* ------------------------------------------------------------------------ */

typedef struct awaiter {
    tr_runtime *rt;
    tr_pid pid;
    tr_duration_ms timeout;
    int rc;
    tr_reason reason;
    atomic_int started;
} awaiter;

static void *await_thread(void *p) {
    awaiter *a = p;
    atomic_store(&a->started, 1);
    a->rc = tr_await_exit(a->rt, a->pid, a->timeout, &a->reason);
    return NULL;
}

static size_t monitored_by(tr_runtime *rt, tr_pid pid) {
    tr_proc_info info;
    return tr_process_info(rt, pid, &info) == TR_OK ? info.n_monitored_by : 0;
}

static void test_await_exit_from_threads(void **state) {
    tu_fix *f = *state;
    tr_pid t = tu_probe(f->rt, f->log, false);
    awaiter a[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        a[i] = (awaiter){.rt = f->rt, .pid = t, .timeout = i == 0 ? TR_INFINITY : 20000, .rc = 1};
        pthread_create(&th[i], NULL, await_thread, &a[i]);
    }
    for (int i = 0; i < 3; i++)
        assert_true(TU_WAIT(atomic_load(&a[i].started) == 1, 5000));
    /* All three wait once their monitors are on t (an exit before that
     * would answer noproc). */
    assert_true(TU_WAIT(monitored_by(f->rt, t) == 3, 20000));
    tu_fail(f->rt, t, tr_reason_error(9, "bye"));
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_rc(a[i].rc, 0);
        assert_reason_kind(a[i].reason, TR_EXIT_ERROR);
        assert_int_equal(a[i].reason.code, 9);
        assert_string_equal(a[i].reason.text, "bye");
    }
}

static void test_await_exit_timeout_and_dead(void **state) {
    tu_fix *f = *state;
    tr_pid t = tu_probe(f->rt, f->log, false);
    tr_reason r;
    int64_t t0 = tu_now_ms();
    assert_rc(tr_await_exit(f->rt, t, 150, &r), TR_ETIMEDOUT);
    int64_t took = tu_now_ms() - t0;
    assert_true(took >= 145 && took < 5000);
    assert_true(tr_is_alive(f->rt, t));
    tu_stop(f->rt, t, tr_reason_shutdown());
    assert_rc(tr_await_exit(f->rt, t, 10000, NULL), 0); /* reason may be NULL */
    assert_rc(tr_await_exit(f->rt, t, 10000, &r), 0);
    assert_reason_kind(r, TR_EXIT_NOPROC);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_one_down_with_reason),
        TU_TEST(test_two_monitors_two_downs_normal_exit),
        TU_TEST(test_down_killed),
        TU_TEST(test_down_noproc_for_dead_target),
        TU_TEST(test_demonitor_no_down),
        TU_TEST(test_demonitor_then_target_exits_at_once),
        TU_TEST(test_demonitor_flushes_queued_down),
        TU_TEST(test_demonitor_after_down_enotfound),
        TU_TEST4(test_await_exit_from_threads),
        TU_TEST(test_await_exit_timeout_and_dead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
