/* Fairness of the scheduler: work that is runnable runs, whatever else
 * keeps a thread busy (as Go's scheduler looks at its global queue every
 * 61st pick and lets runnext inherit the time slice).
 *
 * One scheduler thread, so that no idle thread can rescue the work:
 * - test_injected_not_starved: an actor that sends itself a message in
 *   every callback is always runnable (its own run queue is never empty).
 *   A call from the test thread (work injected from outside the
 *   schedulers) must still be answered.
 * - test_run_queue_not_starved_by_pingpong: two actors that bounce a
 *   message between them run each other next, turn after turn; an actor in
 *   the run queue (here a self-sender) must keep making progress.
 * - test_overflowed_run_queue_runs: one callback makes 10,000 actors
 *   runnable, more than a run queue holds; the rest wait in the overflow
 *   queue, and all of them run.
 * The first two hang (a call timeout, a progress timeout) without the
 * fairness rule; the bounds are seconds, far above a scheduling delay. */
#include "testutil.h"

enum { T_SPIN = 1, T_PING, T_STOP };

typedef struct spin_arg {
    tr_pid *peer; /* NULL: a self-sender; else the ping-pong partner */
    int *stop;    /* set by the test thread: stop sending */
    uint64_t *count;
} spin_arg;

typedef struct spin_state {
    spin_arg a;
} spin_state;

static int spin_init(tr_self *self, void *state, const void *arg) {
    spin_state *s = state;
    s->a = *(const spin_arg *)arg;
    return TR_CONTINUE;
}

static int spin_info(tr_self *self, void *state, const tr_msg *m) {
    spin_state *s = state;
    __atomic_fetch_add(s->a.count, 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(s->a.stop, __ATOMIC_ACQUIRE))
        return TR_CONTINUE;
    tr_pid to = s->a.peer ? *s->a.peer : tr_self_pid(self);
    if (to.id)
        tr_send(tr_self_runtime(self), to, m->tag, NULL, 0);
    return TR_CONTINUE;
}

static const tr_behaviour spin_b = {
    .name = "spinner",
    .state_size = sizeof(spin_state),
    .init = spin_init,
    .handle_info = spin_info,
};

static tr_runtime *start1(void) {
    tr_runtime_opts o = {.threads = 1};
    tr_runtime *rt = NULL;
    assert_rc(tr_runtime_start(&o, &rt), 0);
    return rt;
}

static void test_injected_not_starved(void **st) {
    (void)st;
    tr_runtime *rt = start1();
    int stop = 0;
    uint64_t count = 0;
    spin_arg a = {NULL, &stop, &count};
    tr_pid spinner;
    assert_rc(tr_spawn(rt, &spin_b, &a, NULL, &spinner), 0);
    assert_rc(tr_send(rt, spinner, T_SPIN, NULL, 0), 0);
    assert_true(TU_WAIT(__atomic_load_n(&count, __ATOMIC_RELAXED) > 10000, 10000));
    /* The spinner is always runnable; injected work still runs. */
    tu_log *log = tu_log_new();
    tr_pid p = tu_probe(rt, log, false);
    for (int i = 0; i < 20; i++)
        tu_ping(rt, p);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    assert_rc(tr_runtime_free(&rt), 0);
    tu_log_free(log);
}

static void test_run_queue_not_starved_by_pingpong(void **st) {
    (void)st;
    tr_runtime *rt = start1();
    int stop = 0;
    uint64_t spins = 0, pings = 0;
    spin_arg sa = {NULL, &stop, &spins};
    tr_pid spinner;
    assert_rc(tr_spawn(rt, &spin_b, &sa, NULL, &spinner), 0);
    assert_rc(tr_send(rt, spinner, T_SPIN, NULL, 0), 0);
    /* a and b name each other once both exist; until then a message to
     * the not-yet-known peer goes nowhere (pid 0) */
    tr_pid pa = TR_PID_NONE, pb = TR_PID_NONE;
    spin_arg aa = {&pb, &stop, &pings}, ab = {&pa, &stop, &pings};
    assert_rc(tr_spawn(rt, &spin_b, &aa, NULL, &pa), 0);
    assert_rc(tr_spawn(rt, &spin_b, &ab, NULL, &pb), 0);
    assert_rc(tr_send(rt, pa, T_PING, NULL, 0), 0);
    assert_true(TU_WAIT(__atomic_load_n(&pings, __ATOMIC_RELAXED) > 10000, 10000));
    /* The ping-pong runs; the spinner, in the run queue, goes on too. */
    uint64_t s0 = __atomic_load_n(&spins, __ATOMIC_RELAXED);
    uint64_t p0 = __atomic_load_n(&pings, __ATOMIC_RELAXED);
    assert_true(TU_WAIT(__atomic_load_n(&spins, __ATOMIC_RELAXED) > s0 + 10000, 10000));
    assert_true(__atomic_load_n(&pings, __ATOMIC_RELAXED) > p0);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    assert_rc(tr_runtime_free(&rt), 0);
}

/* More runnable actors than a thread's run queue holds (4,096): one
 * callback spawns 10,000 actors and sends each a message. Those its ring
 * cannot take wait in the overflow queue; every one must run. */
enum { N_FANOUT = 10000 };

static int fan_info(tr_self *self, void *state, const tr_msg *m) {
    spin_state *s = state;
    if (m->tag == T_PING) { /* a child: count, and that is all */
        __atomic_fetch_add(s->a.count, 1, __ATOMIC_RELAXED);
        return TR_CONTINUE;
    }
    static const tr_behaviour child = {.name = "fan_child",
                                       .state_size = sizeof(spin_state),
                                       .init = spin_init,
                                       .handle_info = fan_info};
    for (int i = 0; i < N_FANOUT; i++) {
        tr_pid c;
        if (tr_spawn(tr_self_runtime(self), &child, &s->a, NULL, &c) == 0)
            tr_send(tr_self_runtime(self), c, T_PING, NULL, 0);
    }
    return TR_CONTINUE;
}

static void test_overflowed_run_queue_runs(void **st) {
    (void)st;
    tr_runtime *rt = start1();
    int stop = 0;
    uint64_t count = 0;
    spin_arg a = {NULL, &stop, &count};
    static const tr_behaviour fan_b = {.name = "fan",
                                       .state_size = sizeof(spin_state),
                                       .init = spin_init,
                                       .handle_info = fan_info};
    tr_pid fan;
    assert_rc(tr_spawn(rt, &fan_b, &a, NULL, &fan), 0);
    assert_rc(tr_send(rt, fan, T_SPIN, NULL, 0), 0);
    assert_true(TU_WAIT(__atomic_load_n(&count, __ATOMIC_RELAXED) == N_FANOUT, 20000));
    assert_rc(tr_runtime_free(&rt), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_injected_not_starved),
        cmocka_unit_test(test_run_queue_not_starved_by_pingpong),
        cmocka_unit_test(test_overflowed_run_queue_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
