/* The behaviour's cleanup callback (issue 8, defect 8): it runs exactly
 * once on every exit (normal stop, crash, exit signal, kill while idle,
 * kill while inside a callback, failed init, runtime shutdown), after the
 * actor is dead, after terminate when terminate runs, and for a killed
 * actor only once its running callback has returned. The state owns heap
 * memory that only cleanup frees: LeakSanitizer (the ASan build) checks
 * that nothing is left. */
#include "testutil.h"

enum { C_NORMAL, C_CRASH, C_KILL_IDLE, C_EXIT_ERROR, C_INIT_FAIL, C_SHUTDOWN, C_KILL_BUSY, C_N };

static atomic_int cleanups[C_N];
static atomic_int terminates[C_N];
static atomic_int dead_at_cleanup[C_N];     /* the pid was no longer alive */
static atomic_int term_before_cleanup[C_N]; /* terminate (if any) came first */
static atomic_int busy_inside, busy_done, busy_done_at_cleanup;

typedef struct cl_state {
    int id;
    tr_runtime *rt;
    tr_pid self;
    char *owned; /* heap memory only cleanup frees */
} cl_state;

static int cl_init(tr_self *self, void *state, const void *arg) {
    cl_state *st = state;
    st->id = *(const int *)arg;
    st->rt = tr_self_runtime(self);
    st->self = tr_self_pid(self);
    st->owned = malloc(100);
    if (st->id == C_INIT_FAIL)
        return tr_stop(self, tr_reason_error(TR_EINVAL, "refused"));
    return TR_CONTINUE;
}

#define TAG_STOP 1
#define TAG_CRASH 2
#define TAG_BUSY 3

static int cl_cast(tr_self *self, void *state, const tr_msg *msg) {
    (void)state;
    switch (msg->tag) {
    case TAG_STOP:
        return tr_stop(self, tr_reason_normal());
    case TAG_CRASH:
        tr_fail(self, tr_reason_error(42, "boom"));
    case TAG_BUSY:
        atomic_store(&busy_inside, 1);
        tu_sleep_ms(300);
        atomic_store(&busy_done, 1);
        return TR_CONTINUE;
    default:
        return TR_CONTINUE;
    }
}

static void cl_terminate(tr_self *self, void *state, tr_reason reason) {
    (void)self;
    (void)reason;
    cl_state *st = state;
    atomic_fetch_add(&terminates[st->id], 1);
}

static void cl_cleanup(void *state) {
    cl_state *st = state;
    atomic_store(&dead_at_cleanup[st->id], !tr_is_alive(st->rt, st->self));
    atomic_store(&term_before_cleanup[st->id], atomic_load(&terminates[st->id]));
    if (st->id == C_KILL_BUSY)
        atomic_store(&busy_done_at_cleanup, atomic_load(&busy_done));
    free(st->owned);
    st->owned = NULL;
    atomic_fetch_add(&cleanups[st->id], 1);
}

static const tr_behaviour cl_b = {
    .name = "cl",
    .state_size = sizeof(cl_state),
    .init = cl_init,
    .handle_cast = cl_cast,
    .terminate = cl_terminate,
    .cleanup = cl_cleanup,
};

static const int ids[C_N] = {0, 1, 2, 3, 4, 5, 6};

static tr_pid spawn_id(tr_runtime *rt, int id) {
    tr_pid p = TR_PID_NONE;
    assert_rc(tr_spawn(rt, &cl_b, &ids[id], NULL, &p), 0);
    return p;
}

static void await_dead(tr_runtime *rt, tr_pid p, int kind) {
    tr_reason r;
    assert_rc(tr_await_exit(rt, p, 5000, &r), 0);
    if (kind >= 0)
        assert_reason_kind(r, kind);
}

static void test_cleanup_runs_once_on_every_exit(void **unused) {
    (void)unused;
    for (int i = 0; i < C_N; i++) {
        atomic_store(&cleanups[i], 0);
        atomic_store(&terminates[i], 0);
        atomic_store(&dead_at_cleanup[i], 0);
        atomic_store(&term_before_cleanup[i], -1);
    }
    tr_runtime *rt = tu_start(4);
    assert_non_null(rt);

    tr_pid p = spawn_id(rt, C_NORMAL);
    assert_rc(tr_cast(rt, p, TAG_STOP, NULL, 0), 0);
    await_dead(rt, p, -1);

    p = spawn_id(rt, C_CRASH);
    assert_rc(tr_cast(rt, p, TAG_CRASH, NULL, 0), 0);
    await_dead(rt, p, -1);

    p = spawn_id(rt, C_KILL_IDLE);
    assert_rc(tr_exit(rt, p, tr_reason_kill()), 0);
    await_dead(rt, p, -1);

    p = spawn_id(rt, C_EXIT_ERROR);
    assert_rc(tr_exit(rt, p, tr_reason_error(7, "go away")), 0);
    await_dead(rt, p, -1);

    tr_pid none = TR_PID_NONE;
    assert_rc(tr_spawn(rt, &cl_b, &ids[C_INIT_FAIL], NULL, &none), TR_EINIT);

    p = spawn_id(rt, C_KILL_BUSY);
    assert_rc(tr_cast(rt, p, TAG_BUSY, NULL, 0), 0);
    assert_true(TU_WAIT(atomic_load(&busy_inside), 5000));
    assert_rc(tr_exit(rt, p, tr_reason_kill()), 0);
    await_dead(rt, p, -1);

    spawn_id(rt, C_SHUTDOWN);

    for (int i = 0; i < C_N; i++)
        if (i != C_SHUTDOWN)
            assert_true(TU_WAIT(atomic_load(&cleanups[i]) >= 1, 5000));
    tr_runtime_free(&rt);

    for (int i = 0; i < C_N; i++) {
        print_message("case %d: cleanup %d, terminate %d\n", i, atomic_load(&cleanups[i]),
                      atomic_load(&terminates[i]));
        assert_int_equal(atomic_load(&cleanups[i]), 1);
        if (i != C_INIT_FAIL) /* never published as alive */
            assert_int_equal(atomic_load(&dead_at_cleanup[i]), 1);
        assert_int_equal(atomic_load(&term_before_cleanup[i]), atomic_load(&terminates[i]));
    }
    /* terminate: on stop, crash and shutdown; not on exit signals, kills
     * or a failed init (OTP) */
    assert_int_equal(atomic_load(&terminates[C_NORMAL]), 1);
    assert_int_equal(atomic_load(&terminates[C_CRASH]), 1);
    assert_int_equal(atomic_load(&terminates[C_SHUTDOWN]), 1);
    assert_int_equal(atomic_load(&terminates[C_KILL_IDLE]), 0);
    assert_int_equal(atomic_load(&terminates[C_KILL_BUSY]), 0);
    assert_int_equal(atomic_load(&terminates[C_EXIT_ERROR]), 0);
    assert_int_equal(atomic_load(&terminates[C_INIT_FAIL]), 0);
    /* the killed actor's state stayed until its callback returned */
    assert_int_equal(atomic_load(&busy_done_at_cleanup), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cleanup_runs_once_on_every_exit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
