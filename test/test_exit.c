/* Exit semantics (issue 8, defects 3, 5 and 8):
 * - a kill reaches an actor that is inside a callback: the pid dies at once
 *   (monitors see killed, a supervisor's shutdown timeout holds), the
 *   callback's later sends are dropped, the state goes when it returns;
 * - an exit signal to an actor that traps exits lands behind the messages
 *   its sender sent before it (from a thread and from an actor). */
#include "testutil.h"

static tr_runtime *start_rt(void) {
    tr_runtime *rt = tu_start(4);
    assert_non_null(rt);
    return rt;
}

/* ------------------------------------------------------------------------ */
/* Kill while running                                                        */
/* ------------------------------------------------------------------------ */

#define SLOW_MS 2000
#define TAG_SLOW 7
#define TAG_HIT 8

static atomic_int slow_inside;     /* the slow callback has begun */
static atomic_int slow_done;       /* ... and returned */
static atomic_int late_send_rc;    /* what a send after the kill returned */
static atomic_int sink_hits;       /* messages the sink got */
static atomic_int slow_terminates; /* terminate calls that finished */
static tr_pid sink_pid;

static int sink_cast(tr_self *self, void *state, const tr_msg *msg) {
    (void)self;
    (void)state;
    if (msg->tag == TAG_HIT)
        atomic_fetch_add(&sink_hits, 1);
    return TR_CONTINUE;
}

static const tr_behaviour sink_b = {.name = "sink", .handle_cast = sink_cast};

/* A child that traps exits and then spends 2 s in terminate. */
static int trap_init(tr_self *self, void *state, const void *arg) {
    (void)state;
    (void)arg;
    tr_trap_exit(self, true);
    return TR_CONTINUE;
}

static int trap_info(tr_self *self, void *state, const tr_msg *msg) {
    (void)state;
    if (msg->kind == TR_MSG_EXIT)
        return tr_stop(self, *tr_msg_reason(msg));
    return TR_CONTINUE;
}

static void slow_terminate(tr_self *self, void *state, tr_reason reason) {
    (void)state;
    (void)reason;
    atomic_store(&slow_inside, 1);
    tu_sleep_ms(SLOW_MS);
    atomic_store(&late_send_rc, tr_cast(tr_self_runtime(self), sink_pid, TAG_HIT, NULL, 0));
    atomic_fetch_add(&slow_terminates, 1);
    atomic_store(&slow_done, 1);
}

static const tr_behaviour slow_term_b = {
    .name = "slow_term",
    .init = trap_init,
    .handle_info = trap_info,
    .terminate = slow_terminate,
};

/* A child (not trapping exits) that spends 2 s in handle_cast. */
static int slow_cast(tr_self *self, void *state, const tr_msg *msg) {
    (void)state;
    if (msg->tag != TAG_SLOW)
        return TR_CONTINUE;
    atomic_store(&slow_inside, 1);
    tu_sleep_ms(SLOW_MS);
    atomic_store(&late_send_rc, tr_cast(tr_self_runtime(self), sink_pid, TAG_HIT, NULL, 0));
    atomic_store(&slow_done, 1);
    return TR_CONTINUE;
}

static const tr_behaviour slow_cast_b = {.name = "slow_cast", .handle_cast = slow_cast};

typedef struct awaiter {
    tr_runtime *rt;
    tr_pid pid;
    int rc;
    tr_reason reason;
    int64_t at_ms;
} awaiter;

static void *await_main(void *p) {
    awaiter *w = p;
    w->rc = tr_await_exit(w->rt, w->pid, 10000, &w->reason);
    w->at_ms = tu_now_ms();
    return NULL;
}

static tr_pid only_child(tr_runtime *rt, tr_pid sup) {
    tr_child_info info[1];
    size_t n = 0;
    assert_rc(tr_supervisor_which_children(rt, sup, info, 1, &n), 0);
    assert_int_equal(n, 1);
    return info[0].pid;
}

/* Supervisor stop with a child whose callback runs for 2 s: the stop
 * returns at about shutdown_ms, the child dies with killed at once, its
 * later sends are dropped, and its callback still finishes. */
static void stop_with_stuck_child(const tr_behaviour *b, bool via_cast) {
    tr_runtime *rt = start_rt();
    atomic_store(&slow_inside, 0);
    atomic_store(&slow_done, 0);
    atomic_store(&late_send_rc, 12345);
    atomic_store(&sink_hits, 0);
    atomic_store(&slow_terminates, 0);
    assert_rc(tr_spawn(rt, &sink_b, NULL, NULL, &sink_pid), 0);

    tr_child_spec cs = {.id = "stuck", .behaviour = b, .restart = TR_PERMANENT, .shutdown_ms = 200};
    tr_sup_spec spec = {.flags = {.strategy = TR_ONE_FOR_ONE}, .children = &cs, .n_children = 1};
    tr_pid sup;
    assert_rc(tr_supervisor_start(rt, &spec, &sup), 0);
    tr_pid child = only_child(rt, sup);
    if (via_cast) {
        assert_rc(tr_cast(rt, child, TAG_SLOW, NULL, 0), 0);
        assert_true(TU_WAIT(atomic_load(&slow_inside), 5000));
    }
    awaiter w = {.rt = rt, .pid = child};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, await_main, &w), 0);
    tu_sleep_ms(20); /* the awaiter's monitor is in place (DOWN noproc otherwise) */

    int64_t t0 = tu_now_ms();
    assert_rc(tr_supervisor_stop(rt, sup, 10000), 0);
    int64_t took = tu_now_ms() - t0;
    pthread_join(th, NULL);
    print_message("stop took %lld ms, child down after %lld ms\n", (long long)took,
                  (long long)(w.at_ms - t0));
    assert_true(took < 1500);
    assert_rc(w.rc, 0);
    assert_reason_kind(w.reason, TR_EXIT_KILLED);
    assert_true(w.at_ms - t0 < 1500);
    assert_false(tr_is_alive(rt, child));
    assert_int_equal(atomic_load(&slow_done), 0); /* still inside the callback */

    /* The callback returns later; its send after the kill was dropped. */
    assert_true(TU_WAIT(atomic_load(&slow_done), 10000));
    tu_sleep_ms(50);
    assert_rc(atomic_load(&late_send_rc), TR_EKILLED);
    assert_int_equal(atomic_load(&sink_hits), 0);
    tr_runtime_shutdown(&rt);
    if (!via_cast)
        assert_int_equal(atomic_load(&slow_terminates), 1);
}

static void test_sup_stop_child_stuck_in_terminate(void **unused) {
    (void)unused;
    stop_with_stuck_child(&slow_term_b, false);
}

static void test_sup_stop_child_stuck_in_handle_cast(void **unused) {
    (void)unused;
    stop_with_stuck_child(&slow_cast_b, true);
}

/* tr_exit(kill) from a thread on an actor inside a callback: dead at once
 * for every observer; a second kill finds no process. */
static void test_kill_running_actor(void **unused) {
    (void)unused;
    tr_runtime *rt = start_rt();
    atomic_store(&slow_inside, 0);
    atomic_store(&slow_done, 0);
    atomic_store(&late_send_rc, 12345);
    atomic_store(&sink_hits, 0);
    assert_rc(tr_spawn(rt, &sink_b, NULL, NULL, &sink_pid), 0);
    tr_pid p;
    assert_rc(tr_spawn(rt, &slow_cast_b, NULL, NULL, &p), 0);
    assert_rc(tr_cast(rt, p, TAG_SLOW, NULL, 0), 0);
    assert_rc(tr_cast(rt, p, TAG_SLOW, NULL, 0), 0); /* never handled */
    assert_true(TU_WAIT(atomic_load(&slow_inside), 5000));
    awaiter w = {.rt = rt, .pid = p};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, await_main, &w), 0);
    tu_sleep_ms(20);
    int64_t t0 = tu_now_ms();
    size_t before = tr_runtime_actor_count(rt);
    assert_rc(tr_exit(rt, p, tr_reason_kill()), 0);
    assert_false(tr_is_alive(rt, p));
    assert_int_equal(tr_runtime_actor_count(rt), before - 1);
    assert_rc(tr_cast(rt, p, 1, NULL, 0), TR_ENOPROC);
    assert_rc(tr_exit(rt, p, tr_reason_kill()), TR_ENOPROC);
    pthread_join(th, NULL);
    assert_rc(w.rc, 0);
    assert_reason_kind(w.reason, TR_EXIT_KILLED);
    assert_true(w.at_ms - t0 < 1000);
    assert_true(TU_WAIT(atomic_load(&slow_done), 10000));
    tu_sleep_ms(50);
    assert_rc(atomic_load(&late_send_rc), TR_EKILLED);
    assert_int_equal(atomic_load(&sink_hits), 0);
    tr_runtime_shutdown(&rt);
}

/* ------------------------------------------------------------------------ */
/* Exit signals keep their place behind the sender's messages                */
/* ------------------------------------------------------------------------ */

#define N_CASTS 1000
#define TAG_GATE 1
#define TAG_COUNT 2
#define TAG_BURST 3

typedef struct order_state {
    int casts;
} order_state;

static atomic_int gate_open;
static atomic_int gate_entered;
static atomic_int casts_at_exit; /* -1: no EXIT yet */
static atomic_int exit_kind;

static int order_init(tr_self *self, void *state, const void *arg) {
    (void)state;
    (void)arg;
    tr_trap_exit(self, true);
    return TR_CONTINUE;
}

static int order_cast(tr_self *self, void *state, const tr_msg *msg) {
    (void)self;
    order_state *st = state;
    if (msg->tag == TAG_GATE) {
        atomic_store(&gate_entered, 1);
        while (!atomic_load(&gate_open))
            tu_sleep_ms(1);
    }
    st->casts++;
    return TR_CONTINUE;
}

static int order_info(tr_self *self, void *state, const tr_msg *msg) {
    order_state *st = state;
    if (msg->kind == TR_MSG_EXIT) {
        atomic_store(&exit_kind, tr_msg_reason(msg)->kind);
        atomic_store(&casts_at_exit, st->casts);
        return tr_stop(self, tr_reason_shutdown());
    }
    return TR_CONTINUE;
}

static const tr_behaviour order_b = {
    .name = "order_server",
    .state_size = sizeof(order_state),
    .init = order_init,
    .handle_cast = order_cast,
    .handle_info = order_info,
};

static void order_reset(void) {
    atomic_store(&gate_open, 0);
    atomic_store(&gate_entered, 0);
    atomic_store(&casts_at_exit, -1);
    atomic_store(&exit_kind, -1);
}

/* From a thread: 1,000 casts (the first holds the server until all are
 * queued), then tr_exit(shutdown): the EXIT comes after all of them. */
static void test_exit_signal_after_casts_from_thread(void **unused) {
    (void)unused;
    tr_runtime *rt = start_rt();
    order_reset();
    tr_pid srv;
    assert_rc(tr_spawn(rt, &order_b, NULL, NULL, &srv), 0);
    assert_rc(tr_cast(rt, srv, TAG_GATE, NULL, 0), 0);
    for (int i = 1; i < N_CASTS; i++)
        assert_rc(tr_cast(rt, srv, TAG_COUNT, NULL, 0), 0);
    assert_rc(tr_exit(rt, srv, tr_reason_shutdown()), 0);
    assert_true(TU_WAIT(atomic_load(&gate_entered), 5000));
    atomic_store(&gate_open, 1);
    assert_true(TU_WAIT(atomic_load(&casts_at_exit) >= 0, 10000));
    assert_int_equal(atomic_load(&exit_kind), TR_EXIT_SHUTDOWN);
    assert_int_equal(atomic_load(&casts_at_exit), N_CASTS);
    tr_runtime_shutdown(&rt);
}

/* From an actor: one callback casts 1,000 times and then calls tr_exit
 * (its sends are still gathered in the turn's outbox). */
static int burst_cast(tr_self *self, void *state, const tr_msg *msg) {
    (void)state;
    tr_pid to;
    memcpy(&to, msg->data, sizeof to);
    tr_runtime *rt = tr_self_runtime(self);
    tr_cast(rt, to, TAG_GATE, NULL, 0);
    for (int i = 1; i < N_CASTS; i++)
        tr_cast(rt, to, TAG_COUNT, NULL, 0);
    tr_exit(rt, to, tr_reason_shutdown());
    return TR_CONTINUE;
}

static const tr_behaviour burst_b = {.name = "burst", .handle_cast = burst_cast};

static void test_exit_signal_after_casts_from_actor(void **unused) {
    (void)unused;
    tr_runtime *rt = start_rt();
    order_reset();
    tr_pid srv, burst;
    assert_rc(tr_spawn(rt, &order_b, NULL, NULL, &srv), 0);
    assert_rc(tr_spawn(rt, &burst_b, NULL, NULL, &burst), 0);
    assert_rc(tr_cast(rt, burst, TAG_BURST, &srv, sizeof srv), 0);
    assert_true(TU_WAIT(atomic_load(&gate_entered) || atomic_load(&casts_at_exit) >= 0, 5000));
    tu_sleep_ms(50); /* the burst's turn has ended: everything is queued */
    atomic_store(&gate_open, 1);
    assert_true(TU_WAIT(atomic_load(&casts_at_exit) >= 0, 10000));
    assert_int_equal(atomic_load(&exit_kind), TR_EXIT_SHUTDOWN);
    assert_int_equal(atomic_load(&casts_at_exit), N_CASTS);
    tr_runtime_shutdown(&rt);
}

/* A kill still overtakes everything, even for an actor that traps exits. */
static void test_kill_overtakes_trapping_actor(void **unused) {
    (void)unused;
    tr_runtime *rt = start_rt();
    order_reset();
    tr_pid srv;
    assert_rc(tr_spawn(rt, &order_b, NULL, NULL, &srv), 0);
    assert_rc(tr_cast(rt, srv, TAG_GATE, NULL, 0), 0);
    for (int i = 1; i < N_CASTS; i++)
        assert_rc(tr_cast(rt, srv, TAG_COUNT, NULL, 0), 0);
    assert_true(TU_WAIT(atomic_load(&gate_entered), 5000));
    tr_reason why;
    awaiter w = {.rt = rt, .pid = srv};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, await_main, &w), 0);
    tu_sleep_ms(20);
    assert_rc(tr_exit(rt, srv, tr_reason_kill()), 0);
    pthread_join(th, NULL);
    assert_rc(w.rc, 0);
    why = w.reason;
    assert_reason_kind(why, TR_EXIT_KILLED);
    atomic_store(&gate_open, 1);
    tr_runtime_shutdown(&rt);
    assert_int_equal(atomic_load(&casts_at_exit), -1); /* no EXIT message */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sup_stop_child_stuck_in_terminate),
        cmocka_unit_test(test_sup_stop_child_stuck_in_handle_cast),
        cmocka_unit_test(test_kill_running_actor),
        cmocka_unit_test(test_exit_signal_after_casts_from_thread),
        cmocka_unit_test(test_exit_signal_after_casts_from_actor),
        cmocka_unit_test(test_kill_overtakes_trapping_actor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
