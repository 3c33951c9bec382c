/* Links and exit signals, as OTP: bidirectional links, abnormal exits
 * propagate, trap_exit turns signals into EXIT messages, normal exits do
 * not propagate, kill cannot be trapped, unlink. Exit reasons are observed
 * through monitors (a process killed by a signal runs no terminate in OTP
 * unless it traps exits, so terminate is not what these tests check). */
#include "testutil.h"

static tu_event wait_exit_msg(tu_log *log, tr_pid who, size_t idx) {
    assert_true(tu_log_wait(log, who, TU_EV_INFO, TR_MSG_EXIT, idx + 1, 10000));
    tu_event e;
    assert_true(tu_log_get(log, who, TU_EV_INFO, TR_MSG_EXIT, idx, &e));
    assert_true(e.has_reason);
    return e;
}

/* Waits for every signal already sent to p to have been handled. */
static void settle(tr_runtime *rt, tr_pid p) {
    tu_sleep_ms(50);
    tu_ping(rt, p);
}

static void test_link_is_bidirectional(void **state) {
    tu_fix *f = *state;
    /* Linked from A's side; A crashes: trapping B hears of it. */
    tr_pid a = tu_probe(f->rt, f->log, false);
    tr_pid b = tu_probe(f->rt, f->log, true);
    assert_rc(tu_link(f->rt, a, b), 0);
    tu_fail(f->rt, a, tr_reason_error(7, "a died"));
    tu_event e = wait_exit_msg(f->log, b, 0);
    assert_pid_equal(e.sender, a);
    assert_reason_kind(e.reason, TR_EXIT_ERROR);
    assert_int_equal(e.reason.code, 7);
    assert_string_equal(e.reason.text, "a died");
    assert_true(tr_is_alive(f->rt, b));

    /* Linked from C's side; D crashes: trapping C hears of it. */
    tr_pid c = tu_probe(f->rt, f->log, true);
    tr_pid d = tu_probe(f->rt, f->log, false);
    assert_rc(tu_link(f->rt, c, d), 0);
    tu_fail(f->rt, d, tr_reason_error(8, "d died"));
    e = wait_exit_msg(f->log, c, 0);
    assert_pid_equal(e.sender, d);
    assert_int_equal(e.reason.code, 8);
    assert_true(tr_is_alive(f->rt, c));
}

static void test_abnormal_exit_kills_linked(void **state) {
    tu_fix *f = *state;
    /* A - B - C in a chain; C crashes; A and B die with C's reason. */
    tr_pid a = tu_probe(f->rt, f->log, false);
    tr_pid b = tu_probe(f->rt, f->log, false);
    tr_pid c = tu_probe(f->rt, f->log, false);
    assert_rc(tu_link(f->rt, a, b), 0);
    assert_rc(tu_link(f->rt, b, c), 0);
    tu_watch wa = tu_watch_start(f->rt, f->log, a);
    tu_watch wb = tu_watch_start(f->rt, f->log, b);
    tu_fail(f->rt, c, tr_reason_error(13, "boom"));
    tr_reason rb = tu_watch_wait(&wb);
    tr_reason ra = tu_watch_wait(&wa);
    assert_reason_kind(rb, TR_EXIT_ERROR);
    assert_int_equal(rb.code, 13);
    assert_string_equal(rb.text, "boom");
    assert_reason_kind(ra, TR_EXIT_ERROR);
    assert_int_equal(ra.code, 13);
    assert_string_equal(ra.text, "boom");
    assert_false(tr_is_alive(f->rt, a));
    assert_false(tr_is_alive(f->rt, b));
    /* The watchers merely monitored: alive. */
    assert_true(tr_is_alive(f->rt, wa.watcher));
}

static void test_trap_exit_gets_exit_message(void **state) {
    tu_fix *f = *state;
    /* trap_exit set at run time with tr_trap_exit. */
    tr_pid a = tu_probe(f->rt, f->log, false);
    bool on = true;
    assert_int_equal(tu_cmd(f->rt, a, TU_TRAP, &on, sizeof on, NULL), 0); /* old: off */
    assert_int_equal(tu_cmd(f->rt, a, TU_TRAP, &on, sizeof on, NULL), 1); /* old: on */
    tr_pid b = tu_probe(f->rt, f->log, false);
    assert_rc(tu_link(f->rt, a, b), 0);
    tu_fail(f->rt, b, tr_reason_error(21, "crash"));
    tu_event e = wait_exit_msg(f->log, a, 0);
    assert_int_equal(e.kind, TR_MSG_EXIT);
    assert_pid_equal(e.sender, b);
    assert_int_equal(e.reason.code, 21);
    assert_string_equal(e.reason.text, "crash");
    settle(f->rt, a);
    assert_true(tr_is_alive(f->rt, a));
    assert_int_equal(tu_log_count(f->log, a, TU_EV_INFO, TR_MSG_EXIT), 1);

    /* A trapping actor also hears of a normal exit (as OTP). */
    tr_pid c = tu_probe(f->rt, f->log, false);
    assert_rc(tu_link(f->rt, a, c), 0);
    tu_stop(f->rt, c, tr_reason_normal());
    e = wait_exit_msg(f->log, a, 1);
    assert_pid_equal(e.sender, c);
    assert_reason_kind(e.reason, TR_EXIT_NORMAL);
    assert_true(tr_is_alive(f->rt, a));
}

static void test_normal_exit_does_not_propagate(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, false);
    tr_pid b = tu_probe(f->rt, f->log, false);
    assert_rc(tu_link(f->rt, a, b), 0);
    tu_watch wb = tu_watch_start(f->rt, f->log, b);
    tu_stop(f->rt, b, tr_reason_normal());
    tr_reason r = tu_watch_wait(&wb);
    assert_reason_kind(r, TR_EXIT_NORMAL);
    settle(f->rt, a);
    assert_true(tr_is_alive(f->rt, a));
    assert_int_equal(tu_log_count(f->log, a, TU_EV_TERM, TU_ANY), 0);
    assert_int_equal(tu_log_count(f->log, a, TU_EV_INFO, TR_MSG_EXIT), 0);

    /* shutdown is not normal: it does propagate. */
    tr_pid c = tu_probe(f->rt, f->log, false);
    assert_rc(tu_link(f->rt, a, c), 0);
    tu_watch wa = tu_watch_start(f->rt, f->log, a);
    tu_stop(f->rt, c, tr_reason_shutdown());
    r = tu_watch_wait(&wa);
    assert_reason_kind(r, TR_EXIT_SHUTDOWN);
}

static void test_kill_cannot_be_trapped(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, true);       /* the target, trapping */
    tr_pid trapper = tu_probe(f->rt, f->log, true); /* linked, trapping */
    tr_pid plain = tu_probe(f->rt, f->log, false);  /* linked, not trapping */
    assert_rc(tu_link(f->rt, a, trapper), 0);
    assert_rc(tu_link(f->rt, a, plain), 0);
    tu_watch wa = tu_watch_start(f->rt, f->log, a);
    tu_watch wp = tu_watch_start(f->rt, f->log, plain);
    assert_rc(tr_exit(f->rt, a, tr_reason_kill()), 0);
    tr_reason r = tu_watch_wait(&wa);
    assert_reason_kind(r, TR_EXIT_KILLED);
    /* No EXIT message reached the trapping target, and no terminate ran. */
    assert_int_equal(tu_log_count(f->log, a, TU_EV_INFO, TR_MSG_EXIT), 0);
    assert_int_equal(tu_log_count(f->log, a, TU_EV_TERM, TU_ANY), 0);
    /* Its links see killed (not kill). */
    tu_event e = wait_exit_msg(f->log, trapper, 0);
    assert_pid_equal(e.sender, a);
    assert_reason_kind(e.reason, TR_EXIT_KILLED);
    r = tu_watch_wait(&wp);
    assert_reason_kind(r, TR_EXIT_KILLED);
    assert_true(tr_is_alive(f->rt, trapper));
}

/* kill overtakes queued messages. */
static void test_kill_overtakes_flooded_mailbox(void **state) {
    tu_fix *f = *state;
    const int n = 1000;
    tr_pid a = tu_probe(f->rt, f->log, true);
    tu_watch wa = tu_watch_start(f->rt, f->log, a);
    tu_hold(f->rt, a, &f->gate[0]);
    for (int i = 0; i < n; i++)
        assert_rc(tr_cast(f->rt, a, 1, NULL, 0), 0);
    assert_rc(tr_exit(f->rt, a, tr_reason_kill()), 0);
    tu_gate_open(&f->gate[0]);
    tr_reason r = tu_watch_wait(&wa);
    assert_reason_kind(r, TR_EXIT_KILLED);
    size_t handled = tu_log_count(f->log, a, TU_EV_CAST, TU_ANY);
    print_message("casts handled before the kill took effect: %zu of %d\n", handled, n);
    assert_true(handled < (size_t)n);
}

static void test_exit_shutdown_and_normal(void **state) {
    tu_fix *f = *state;
    /* Not trapping: dies with shutdown. */
    tr_pid a = tu_probe(f->rt, f->log, false);
    tu_watch wa = tu_watch_start(f->rt, f->log, a);
    assert_rc(tr_exit(f->rt, a, tr_reason_shutdown()), 0);
    tr_reason r = tu_watch_wait(&wa);
    assert_reason_kind(r, TR_EXIT_SHUTDOWN);

    /* Trapping: an EXIT message, sender none (sent from a thread). */
    tr_pid b = tu_probe(f->rt, f->log, true);
    assert_rc(tr_exit(f->rt, b, tr_reason_shutdown()), 0);
    tu_event e = wait_exit_msg(f->log, b, 0);
    assert_true(tr_pid_is_none(e.sender));
    assert_reason_kind(e.reason, TR_EXIT_SHUTDOWN);
    assert_true(tr_is_alive(f->rt, b));

    /* From an actor: the EXIT names the sender. */
    tu_exit_arg x = {.pid = b, .reason = tr_reason_error(3, "bye")};
    tr_pid c = tu_probe(f->rt, f->log, false);
    assert_rc(tu_cmd(f->rt, c, TU_EXIT, &x, sizeof x, NULL), 0);
    e = wait_exit_msg(f->log, b, 1);
    assert_pid_equal(e.sender, c);
    assert_int_equal(e.reason.code, 3);

    /* normal to a non-trapping actor is ignored. */
    tr_pid d = tu_probe(f->rt, f->log, false);
    assert_rc(tr_exit(f->rt, d, tr_reason_normal()), 0);
    settle(f->rt, d);
    assert_true(tr_is_alive(f->rt, d));

    /* Dead target. */
    tu_stop(f->rt, d, tr_reason_normal());
    (void)tu_await(f->rt, d);
    assert_rc(tr_exit(f->rt, d, tr_reason_shutdown()), TR_ENOPROC);
}

static void test_link_to_dead_pid_noproc(void **state) {
    tu_fix *f = *state;
    tr_pid dead = tu_probe(f->rt, f->log, false);
    tu_stop(f->rt, dead, tr_reason_normal());
    (void)tu_await(f->rt, dead);

    /* Trapping: an EXIT noproc from the dead pid, and 0 returned. */
    tr_pid a = tu_probe(f->rt, f->log, true);
    assert_rc(tu_link(f->rt, a, dead), 0);
    tu_event e = wait_exit_msg(f->log, a, 0);
    assert_pid_equal(e.sender, dead);
    assert_reason_kind(e.reason, TR_EXIT_NOPROC);
    assert_true(tr_is_alive(f->rt, a));

    /* Not trapping: crashes with noproc after the callback. */
    tr_pid b = tu_probe(f->rt, f->log, false);
    tu_watch wb = tu_watch_start(f->rt, f->log, b);
    assert_rc(tu_link(f->rt, b, dead), 0);
    tr_reason r = tu_watch_wait(&wb);
    assert_reason_kind(r, TR_EXIT_NOPROC);
}

static void test_unlink_no_exit(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, true);
    tr_pid b = tu_probe(f->rt, f->log, false);
    assert_rc(tu_link(f->rt, a, b), 0);
    assert_rc(tu_unlink(f->rt, a, b), 0);
    tu_fail(f->rt, b, tr_reason_error(1, "x"));
    (void)tu_await(f->rt, b);
    settle(f->rt, a);
    assert_int_equal(tu_log_count(f->log, a, TU_EV_INFO, TR_MSG_EXIT), 0);

    /* Unlink from the other side also removes it; a survives a crash. */
    tr_pid c = tu_probe(f->rt, f->log, false);
    tr_pid d = tu_probe(f->rt, f->log, false);
    assert_rc(tu_link(f->rt, c, d), 0);
    assert_rc(tu_unlink(f->rt, d, c), 0);
    tu_fail(f->rt, d, tr_reason_error(1, "x"));
    (void)tu_await(f->rt, d);
    settle(f->rt, c);
    assert_true(tr_is_alive(f->rt, c));

    /* Unlinking what is not linked is fine. */
    tr_pid e = tu_probe(f->rt, f->log, false);
    assert_rc(tu_unlink(f->rt, c, e), 0);
}

static void test_link_twice_is_one_link(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, true);
    tr_pid b = tu_probe(f->rt, f->log, false);
    assert_rc(tu_link(f->rt, a, b), 0);
    assert_rc(tu_link(f->rt, a, b), 0);
    assert_rc(tu_link(f->rt, b, a), 0);
    tu_fail(f->rt, b, tr_reason_error(2, "y"));
    (void)wait_exit_msg(f->log, a, 0);
    settle(f->rt, a);
    assert_int_equal(tu_log_count(f->log, a, TU_EV_INFO, TR_MSG_EXIT), 1);
    /* One unlink removes it. */
    tr_pid c = tu_probe(f->rt, f->log, false);
    assert_rc(tu_link(f->rt, a, c), 0);
    assert_rc(tu_link(f->rt, a, c), 0);
    assert_rc(tu_unlink(f->rt, a, c), 0);
    tu_fail(f->rt, c, tr_reason_error(2, "y"));
    (void)tu_await(f->rt, c);
    settle(f->rt, a);
    assert_int_equal(tu_log_count(f->log, a, TU_EV_INFO, TR_MSG_EXIT), 1);
}

static void test_spawn_opts_link_to(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, true);
    tu_probe_arg pa = {f->log};
    tr_spawn_opts o = {.link_to = a};
    tr_pid b;
    assert_rc(tr_spawn(f->rt, tu_probe_behaviour(), &pa, &o, &b), 0);
    tu_fail(f->rt, b, tr_reason_error(4, "child"));
    tu_event e = wait_exit_msg(f->log, a, 0);
    assert_pid_equal(e.sender, b);
    assert_int_equal(e.reason.code, 4);

    /* link_to a dead pid: ENOPROC, nothing spawned. */
    tu_stop(f->rt, a, tr_reason_normal());
    (void)tu_await(f->rt, a);
    size_t before = tr_runtime_actor_count(f->rt);
    tr_pid c = TR_PID_NONE;
    assert_rc(tr_spawn(f->rt, tu_probe_behaviour(), &pa, &(tr_spawn_opts){.link_to = a}, &c),
              TR_ENOPROC);
    assert_int_equal(tr_runtime_actor_count(f->rt), before);
}

/* init that refuses. */
static int refuse_init(tr_self *self, void *state, const void *arg) {
    (void)state;
    (void)arg;
    return tr_stop(self, tr_reason_error(99, "no"));
}
static const tr_behaviour k_refuse = {.name = "refuse", .init = refuse_init};

static void test_spawn_link_from_callback(void **state) {
    tu_fix *f = *state;
    tr_pid parent = tu_probe(f->rt, f->log, false);
    tu_watch wp = tu_watch_start(f->rt, f->log, parent);
    tu_probe_arg pa = {f->log};
    tu_spawn_arg sa = {tu_probe_behaviour(), &pa};
    uint64_t child_id = 0;
    assert_rc(tu_cmd(f->rt, parent, TU_SPAWN_LINK, &sa, sizeof sa, &child_id), 0);
    tr_pid child = {.id = child_id};
    assert_true(tr_is_alive(f->rt, child));

    /* A failing init: TR_EINIT, and the non-trapping parent survives. */
    tu_spawn_arg bad = {&k_refuse, NULL};
    assert_rc(tu_cmd(f->rt, parent, TU_SPAWN_LINK, &bad, sizeof bad, NULL), TR_EINIT);
    settle(f->rt, parent);
    assert_true(tr_is_alive(f->rt, parent));

    /* The child crashes: the linked parent dies with its reason. */
    tu_fail(f->rt, child, tr_reason_error(5, "child crash"));
    tr_reason r = tu_watch_wait(&wp);
    assert_reason_kind(r, TR_EXIT_ERROR);
    assert_int_equal(r.code, 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_link_is_bidirectional),
        TU_TEST(test_abnormal_exit_kills_linked),
        TU_TEST(test_trap_exit_gets_exit_message),
        TU_TEST(test_normal_exit_does_not_propagate),
        TU_TEST(test_kill_cannot_be_trapped),
        TU_TEST(test_kill_overtakes_flooded_mailbox),
        TU_TEST(test_exit_shutdown_and_normal),
        TU_TEST(test_link_to_dead_pid_noproc),
        TU_TEST(test_unlink_no_exit),
        TU_TEST(test_link_twice_is_one_link),
        TU_TEST(test_spawn_opts_link_to),
        TU_TEST(test_spawn_link_from_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
