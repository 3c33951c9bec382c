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

/* A watcher actor: monitors a pid from its init (in place when tr_spawn
 * returns) and records the DOWN. */
static atomic_int watch_got, watch_kind;
static _Atomic int64_t watch_at_ms;

static int watch_init(tr_self *self, void *state, const void *arg) {
    (void)state;
    if (tr_monitor(self, *(const tr_pid *)arg, NULL) != 0)
        return tr_stop(self, tr_reason_error(1, "monitor"));
    return TR_CONTINUE;
}

static int watch_info(tr_self *self, void *state, const tr_msg *msg) {
    (void)self;
    (void)state;
    if (msg->kind != TR_MSG_DOWN)
        return TR_CONTINUE;
    atomic_store(&watch_at_ms, tu_now_ms());
    atomic_store(&watch_kind, tr_msg_reason(msg)->kind);
    atomic_store(&watch_got, 1);
    return TR_CONTINUE;
}

static const tr_behaviour watch_b = {
    .name = "watch", .init = watch_init, .handle_info = watch_info};

static void watch_start(tr_runtime *rt, tr_pid p) {
    atomic_store(&watch_got, 0);
    atomic_store(&watch_kind, -1);
    assert_rc(tr_spawn(rt, &watch_b, &p, NULL, NULL), 0);
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
    watch_start(rt, child);

    int64_t t0 = tu_now_ms();
    assert_rc(tr_supervisor_stop(rt, sup, 10000), 0);
    int64_t took = tu_now_ms() - t0;
    assert_true(TU_WAIT(atomic_load(&watch_got), 10000));
    print_message("stop took %lld ms, child down after %lld ms\n", (long long)took,
                  (long long)(atomic_load(&watch_at_ms) - t0));
    assert_true(took < 1500);
    assert_int_equal(atomic_load(&watch_kind), TR_EXIT_KILLED);
    assert_true(atomic_load(&watch_at_ms) - t0 < 1500);
    assert_false(tr_is_alive(rt, child));
    assert_int_equal(atomic_load(&slow_done), 0); /* still inside the callback */

    /* The callback returns later; its send after the kill was dropped. */
    assert_true(TU_WAIT(atomic_load(&slow_done), 10000));
    tu_sleep_ms(50);
    assert_rc(atomic_load(&late_send_rc), TR_EKILLED);
    assert_int_equal(atomic_load(&sink_hits), 0);
    tr_runtime_free(&rt);
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
    watch_start(rt, p);
    int64_t t0 = tu_now_ms();
    size_t before = tr_runtime_actor_count(rt);
    assert_rc(tr_exit(rt, p, tr_reason_kill()), 0);
    assert_false(tr_is_alive(rt, p));
    assert_int_equal(tr_runtime_actor_count(rt), before - 1);
    assert_rc(tr_cast(rt, p, 1, NULL, 0), TR_ENOPROC);
    assert_rc(tr_exit(rt, p, tr_reason_kill()), TR_ENOPROC);
    assert_true(TU_WAIT(atomic_load(&watch_got), 10000));
    assert_int_equal(atomic_load(&watch_kind), TR_EXIT_KILLED);
    assert_true(atomic_load(&watch_at_ms) - t0 < 1000);
    assert_true(TU_WAIT(atomic_load(&slow_done), 10000));
    tu_sleep_ms(50);
    assert_rc(atomic_load(&late_send_rc), TR_EKILLED);
    assert_int_equal(atomic_load(&sink_hits), 0);
    tr_runtime_free(&rt);
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
    assert_true(TU_WAIT(atomic_load(&gate_entered) || atomic_load(&casts_at_exit) >= 0, 5000));
    atomic_store(&gate_open, 1);
    assert_true(TU_WAIT(atomic_load(&casts_at_exit) >= 0, 10000));
    assert_int_equal(atomic_load(&exit_kind), TR_EXIT_SHUTDOWN);
    assert_int_equal(atomic_load(&casts_at_exit), N_CASTS);
    tr_runtime_free(&rt);
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
    tr_runtime_free(&rt);
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
    watch_start(rt, srv);
    assert_rc(tr_exit(rt, srv, tr_reason_kill()), 0);
    assert_true(TU_WAIT(atomic_load(&watch_got), 5000)); /* before the gate opens */
    assert_int_equal(atomic_load(&watch_kind), TR_EXIT_KILLED);
    atomic_store(&gate_open, 1);
    tr_runtime_free(&rt);
    assert_int_equal(atomic_load(&casts_at_exit), -1); /* no EXIT message */
}

/* ------------------------------------------------------------------------ */
/* Pool workers killed in the middle of jobs                                 */
/* ------------------------------------------------------------------------ */

#define KW_WORKERS 4
static _Atomic uint64_t kw_pids[KW_WORKERS];

static int kw_init(tr_self *self, void *state, const void *arg) {
    (void)state;
    (void)arg;
    int i = tr_pool_worker_index(self);
    if (i >= 0 && i < KW_WORKERS)
        atomic_store(&kw_pids[i], tr_self_pid(self).id);
    return TR_CONTINUE;
}

static int kw_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    (void)self;
    (void)state;
    tu_sleep_us(200); /* a job long enough to be killed in */
    tr_reply(from, 0, msg->data, msg->size);
    return TR_CONTINUE;
}

static const tr_behaviour kw_b = {.name = "kw", .init = kw_init, .handle_call = kw_call};

typedef struct kw_client {
    tr_runtime *rt;
    tr_pid pool;
    int64_t until_ms;
    int ok, crashed, other, last_other;
} kw_client;

static void *kw_client_main(void *p) {
    kw_client *c = p;
    for (int i = 0; tu_now_ms() < c->until_ms; i++) {
        tr_buf reply = {0};
        int rc = tr_call(c->rt, c->pool, 1, &i, sizeof i, &reply, 20000);
        if (rc == 0 && reply.size == sizeof i && memcmp(reply.data, &i, sizeof i) == 0)
            c->ok++;
        else if (rc == TR_ECRASHED)
            c->crashed++;
        else {
            c->other++;
            c->last_other = rc;
        }
        tr_buf_free(&reply);
    }
    return NULL;
}

/* Workers killed at random while clients call the pool: every call gets
 * its reply or TR_ECRASHED (the reply of a killed job is dropped, the pool
 * answers for it on the DOWN), never a timeout; the pool then stops. */
static void test_pool_workers_killed_mid_job(void **unused) {
    (void)unused;
    tr_runtime *rt = start_rt();
    tr_pool_opts po = {.worker = &kw_b,
                       .size = KW_WORKERS,
                       .intensity = 1000000,
                       .period_ms = 1000,
                       .worker_shutdown_ms = 1000};
    tr_pid pool;
    assert_rc(tr_pool_start(rt, &po, &pool), 0);
    kw_client cl[2];
    pthread_t th[2];
    int64_t until = tu_now_ms() + TU_SCALE(1500, 1000);
    for (int i = 0; i < 2; i++) {
        cl[i] = (kw_client){.rt = rt, .pool = pool, .until_ms = until};
        assert_int_equal(pthread_create(&th[i], NULL, kw_client_main, &cl[i]), 0);
    }
    int kills = 0;
    for (unsigned k = 0; tu_now_ms() < until; k++) {
        tr_pid w = {atomic_load(&kw_pids[k % KW_WORKERS])};
        if (tr_exit(rt, w, tr_reason_kill()) == 0)
            kills++;
        tu_sleep_ms(3);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    int ok = cl[0].ok + cl[1].ok, crashed = cl[0].crashed + cl[1].crashed;
    print_message("%d kills, %d replies, %d crashed\n", kills, ok, crashed);
    assert_int_equal(cl[0].other, 0);
    assert_int_equal(cl[1].other, 0);
    assert_true(kills > 0);
    assert_rc(tr_pool_stop(rt, pool, 10000), 0);
    tr_runtime_free(&rt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sup_stop_child_stuck_in_terminate),
        cmocka_unit_test(test_sup_stop_child_stuck_in_handle_cast),
        cmocka_unit_test(test_kill_running_actor),
        cmocka_unit_test(test_exit_signal_after_casts_from_thread),
        cmocka_unit_test(test_exit_signal_after_casts_from_actor),
        cmocka_unit_test(test_kill_overtakes_trapping_actor),
        cmocka_unit_test(test_pool_workers_killed_mid_job),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
