/* Limits: huge durations and sizes (issue 8, defect 9).
 *
 * Every duration the API takes is checked: one past the clock's range
 * saturates (a timer never fires, a wait waits forever) instead of wrapping
 * into the past, and a finite timeout always ends. Every size is checked: an
 * impossible one is refused at the call (TR_EINVAL or TR_ENOMEM), never
 * wrapped into a small allocation or dropped later.
 *
 * "Never fires" is checked against a marker: a short timer armed after the
 * huge one. The timer thread fires in deadline order, so a huge deadline
 * that wrapped into the past would fire before the marker does. */
#include <stdint.h>
#include <sys/mman.h>

#include <troupe/pool.h>
#include <troupe/supervisor.h>
#include <troupe/task_pool.h>

#include "testutil.h"

#define MARK_MS 100

/* ------------------------------------------------------------------------ */
/* A counting actor: counts TIMER messages per tag and REPLY messages; on a  */
/* cast with tag CMD_REQUEST it sends a tr_request to the pid in the payload */
/* with the timeout that follows it.                                         */
/* ------------------------------------------------------------------------ */

enum { TAG_MARK = 0, TAG_A, TAG_B, TAG_C, TAG_D, N_TAGS };
enum { CMD_REQUEST = 1 };

typedef struct counts {
    atomic_long ticks[N_TAGS];
    atomic_long replies;
    atomic_int last_status;
    atomic_int request_rc;
} counts;

typedef struct request_cmd {
    tr_pid to;
    tr_duration_ms timeout_ms;
} request_cmd;

static int counter_init(tr_self *self, void *state, const void *arg) {
    *(counts **)state = (counts *)arg;
    return TR_CONTINUE;
}

static int counter_info(tr_self *self, void *state, const tr_msg *m) {
    counts *c = *(counts **)state;
    if (m->kind == TR_MSG_TIMER && m->tag < N_TAGS)
        atomic_fetch_add(&c->ticks[m->tag], 1);
    if (m->kind == TR_MSG_REPLY) {
        atomic_store(&c->last_status, m->status);
        atomic_fetch_add(&c->replies, 1);
    }
    return TR_CONTINUE;
}

static int counter_cast(tr_self *self, void *state, const tr_msg *m) {
    counts *c = *(counts **)state;
    if (m->tag == CMD_REQUEST && m->size == sizeof(request_cmd)) {
        request_cmd cmd;
        memcpy(&cmd, m->data, sizeof cmd);
        atomic_store(&c->request_rc, tr_request(self, cmd.to, 0, NULL, 0, cmd.timeout_ms, NULL));
    }
    return TR_CONTINUE;
}

static const tr_behaviour k_counter = {
    .name = "counter",
    .state_size = sizeof(counts *),
    .init = counter_init,
    .handle_info = counter_info,
    .handle_cast = counter_cast,
};

/* The counts outlive any test (a failed assertion leaves the actor behind
 * until teardown): one static instance, reset by each spawn_counter. */
static counts g_counts;

static tr_pid spawn_counter(tr_runtime *rt, counts *c) {
    memset(c, 0, sizeof *c);
    atomic_store(&c->request_rc, 1);
    tr_pid p;
    assert_rc(tr_spawn(rt, &k_counter, c, NULL, &p), 0);
    return p;
}

/* Stops the counter (its counts are reused by the next test). */
static void stop_counter(tr_runtime *rt, tr_pid p) {
    assert_rc(tr_exit(rt, p, tr_reason_kill()), 0);
    assert_rc(tr_await_exit(rt, p, 10000, NULL), 0);
}

/* Arms the marker and waits until it has fired. */
static void wait_marker(tr_runtime *rt, tr_pid p, counts *c) {
    assert_rc(tr_send_after(rt, p, MARK_MS, TAG_MARK, NULL, 0, NULL), 0);
    assert_true(TU_WAIT(atomic_load(&c->ticks[TAG_MARK]) == 1, 10000));
}

/* A server that answers calls with "ok", or never (silent). */
static int echo_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    return tr_reply(from, m->tag, "ok", 3) == 0 ? TR_CONTINUE : TR_ENOMEM;
}
static const tr_behaviour k_echo = {.name = "echo", .handle_call = echo_call};

static int silent_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    return TR_CONTINUE; /* keeps `from`, never replies */
}
static const tr_behaviour k_silent = {.name = "silent", .handle_call = silent_call};

/* ------------------------------------------------------------------------ */
/* Timers                                                                    */
/* ------------------------------------------------------------------------ */

/* tr_send_interval(INT64_MAX) returned 0 and then fired hundreds of
 * thousands of times a second (now + period * 1000 wrapped into the past);
 * tr_send_after(INT64_MAX) fired at once. Both saturate: never fire, stay
 * pending, cancel. */
static void test_huge_timers_never_fire(void **state) {
    tu_fix *f = *state;
    counts *cp = &g_counts;
    tr_pid p = spawn_counter(f->rt, cp);
    tr_timer ti = 0, ta = 0, tb = 0, tc = 0;
    assert_rc(tr_send_interval(f->rt, p, INT64_MAX, TAG_A, "x", 2, &ti), 0);
    assert_rc(tr_send_after(f->rt, p, INT64_MAX, TAG_B, NULL, 0, &ta), 0);
    /* Just past what microseconds hold, and just past what the clock adds. */
    assert_rc(tr_send_after(f->rt, p, INT64_MAX / 1000 + 1, TAG_C, NULL, 0, &tb), 0);
    assert_rc(tr_send_interval(f->rt, p, INT64_MAX / 1000 - 1, TAG_D, NULL, 0, &tc), 0);
    wait_marker(f->rt, p, cp);
    long a = atomic_load(&cp->ticks[TAG_A]), b = atomic_load(&cp->ticks[TAG_B]);
    long cc = atomic_load(&cp->ticks[TAG_C]), d = atomic_load(&cp->ticks[TAG_D]);
    print_message("ticks: interval(INT64_MAX) %ld, after(INT64_MAX) %ld, after(max/1000+1) %ld, "
                  "interval(max/1000-1) %ld\n",
                  a, b, cc, d);
    assert_int_equal(tr_cancel_timer(f->rt, ti), 1);
    assert_int_equal(tr_cancel_timer(f->rt, ta), 1);
    assert_int_equal(tr_cancel_timer(f->rt, tb), 1);
    assert_int_equal(tr_cancel_timer(f->rt, tc), 1);
    assert_int_equal(a, 0);
    assert_int_equal(b, 0);
    assert_int_equal(cc, 0);
    assert_int_equal(d, 0);
    /* Timers still work. */
    assert_rc(tr_send_after(f->rt, p, 1, TAG_A, NULL, 0, NULL), 0);
    assert_true(TU_WAIT(atomic_load(&cp->ticks[TAG_A]) == 1, 10000));
    stop_counter(f->rt, p);
}

/* tr_request's timeout is a timer: a huge one must not time the request
 * out at once. */
static void test_request_huge_timeout_does_not_expire(void **state) {
    tu_fix *f = *state;
    counts *cp = &g_counts;
    tr_pid p = spawn_counter(f->rt, cp);
    tr_pid s;
    assert_rc(tr_spawn(f->rt, &k_silent, NULL, NULL, &s), 0);
    request_cmd cmd = {s, INT64_MAX};
    assert_rc(tr_cast(f->rt, p, CMD_REQUEST, &cmd, sizeof cmd), 0);
    assert_true(TU_WAIT(atomic_load(&cp->request_rc) != 1, 10000));
    assert_rc(atomic_load(&cp->request_rc), 0);
    wait_marker(f->rt, p, cp);
    long replies = atomic_load(&cp->replies);
    int status = atomic_load(&cp->last_status);
    stop_counter(f->rt, p);
    if (replies != 0)
        fail_msg("tr_request(INT64_MAX) got a REPLY with status %s", tr_err_name(status));
}

/* A payload over the message limit: refused at the call, before anything
 * is allocated or read (data is an inaccessible reservation: touching it
 * would crash). It used to be copied, then dropped when the timer fired. */
static void test_timer_payload_too_big_refused_at_call(void **state) {
    tu_fix *f = *state;
    counts *cp = &g_counts;
    tr_pid p = spawn_counter(f->rt, cp);
    size_t big = ((size_t)4 << 30) + 8;
    void *data = mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(data != MAP_FAILED);
    int rc = tr_send_after(f->rt, p, 1, TAG_A, data, big, NULL);
    assert_true(rc == TR_EINVAL || rc == TR_ENOMEM);
    rc = tr_send_interval(f->rt, p, 1, TAG_A, data, big, NULL);
    assert_true(rc == TR_EINVAL || rc == TR_ENOMEM);
    rc = tr_send_after(f->rt, p, 1, TAG_A, data, SIZE_MAX, NULL);
    assert_true(rc == TR_EINVAL || rc == TR_ENOMEM);
    rc = tr_send(f->rt, p, TAG_A, data, big);
    assert_true(rc == TR_EINVAL || rc == TR_ENOMEM);
    rc = tr_cast(f->rt, p, TAG_A, data, SIZE_MAX);
    assert_true(rc == TR_EINVAL || rc == TR_ENOMEM);
    rc = tr_call(f->rt, p, TAG_A, data, big, NULL, 10000);
    assert_true(rc == TR_EINVAL || rc == TR_ENOMEM);
    munmap(data, big);
    wait_marker(f->rt, p, cp);
    assert_int_equal(atomic_load(&cp->ticks[TAG_A]), 0);
    stop_counter(f->rt, p);
}

/* ------------------------------------------------------------------------ */
/* Blocking waits with huge timeouts (UBSan flagged now + timeout)           */
/* ------------------------------------------------------------------------ */

static int square_task(tr_task *t, const void *arg, size_t size) {
    int v = *(const int *)arg;
    v *= v;
    return tr_task_set_result(t, &v, sizeof v);
}

static void test_huge_timeouts_wait_and_return(void **state) {
    tu_fix *f = *state;
    const tr_duration_ms huge[] = {INT64_MAX, INT64_MAX - 1, INT64_MAX / 1000 + 1};
    tr_pid e;
    assert_rc(tr_spawn(f->rt, &k_echo, NULL, NULL, &e), 0);
    tr_task_pool *tp;
    assert_rc(tr_task_pool_start(f->rt, &(tr_task_pool_opts){.workers = 2}, &tp), 0);
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        tr_buf r;
        assert_rc(tr_call(f->rt, e, 1, NULL, 0, &r, huge[i]), 0);
        assert_string_equal((const char *)r.data, "ok");
        tr_buf_free(&r);

        tr_pid v;
        assert_rc(tr_spawn(f->rt, &k_echo, NULL, NULL, &v), 0);
        assert_rc(tr_exit(f->rt, v, tr_reason_kill()), 0);
        assert_rc(tr_await_exit(f->rt, v, huge[i], NULL), 0);

        int in = 7;
        tr_future *fu;
        assert_rc(tr_task_submit(tp, square_task, &in, sizeof in, &fu), 0);
        assert_rc(tr_future_await(fu, huge[i], &r), 0);
        assert_int_equal(*(int *)r.data, 49);
        tr_buf_free(&r);
        tr_future_free(fu);

        int ins[3] = {1, 2, 3};
        tr_buf rs[3];
        assert_rc(tr_task_pool_map(tp, square_task, ins, sizeof ins[0], 3, rs, NULL, huge[i]), 0);
        for (int k = 0; k < 3; k++) {
            assert_int_equal(*(int *)rs[k].data, ins[k] * ins[k]);
            tr_buf_free(&rs[k]);
        }
        assert_rc(tr_task_pool_drain(tp, huge[i]), 0);

        tr_child_spec kid = {.id = "e", .behaviour = &k_echo, .shutdown_ms = huge[i]};
        tr_sup_spec ss = {.children = &kid, .n_children = 1};
        tr_pid sup;
        assert_rc(tr_supervisor_start(f->rt, &ss, &sup), 0);
        assert_rc(tr_supervisor_stop(f->rt, sup, huge[i]), 0);

        tr_pool_opts po = {.worker = &k_echo, .size = 1, .worker_shutdown_ms = huge[i]};
        tr_pid pool;
        assert_rc(tr_pool_start(f->rt, &po, &pool), 0);
        assert_rc(tr_pool_stop(f->rt, pool, huge[i]), 0);
    }
    assert_rc(tr_task_pool_stop(tp, INT64_MAX), 0);
    assert_rc(tr_task_pool_free(tp), 0);
}

/* ------------------------------------------------------------------------ */
/* tr_task_pool_map: a finite timeout ends                                   */
/* ------------------------------------------------------------------------ */

/* Tasks that hold until the test opens the gate. */
typedef struct hold {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
} hold;

static hold g_hold = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};

static int held_task(tr_task *t, const void *arg, size_t size) {
    pthread_mutex_lock(&g_hold.mu);
    while (!g_hold.open)
        pthread_cond_wait(&g_hold.cv, &g_hold.mu);
    pthread_mutex_unlock(&g_hold.mu);
    return 0;
}

static void hold_open(void) {
    pthread_mutex_lock(&g_hold.mu);
    g_hold.open = true;
    pthread_cond_broadcast(&g_hold.cv);
    pthread_mutex_unlock(&g_hold.mu);
}

enum { MAP_N = 200 };

typedef struct map_run {
    tr_task_pool *pool;
    int rc;
    int codes[MAP_N];
    atomic_bool done;
} map_run;

static void *map_thread(void *arg) {
    map_run *m = arg;
    m->rc = tr_task_pool_map(m->pool, held_task, NULL, 0, MAP_N, NULL, m->codes, 5);
    atomic_store(&m->done, true);
    return NULL;
}

/* The map waits for each future with the time left; after the deadline it
 * still gives each a moment (1 ms) to collect what is complete. The time
 * left, deadline - now, goes 0, -1, -2 ... as those moments pass, and -1
 * is TR_INFINITY: that future's wait never ended. */
static void test_map_finite_timeout_ends(void **state) {
    tu_fix *f = *state;
    g_hold.open = false;
    tr_task_pool *tp;
    assert_rc(tr_task_pool_start(f->rt, &(tr_task_pool_opts){.workers = 1}, &tp), 0);
    map_run m = {.pool = tp};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, map_thread, &m), 0);
    /* 5 ms for the map, then at most ~2 ms per future: 10 s is generous. */
    bool ended = TU_WAIT(atomic_load(&m.done), 10000);
    hold_open(); /* lets the held tasks finish (and a stuck map return) */
    pthread_join(th, NULL);
    assert_true(ended);
    assert_rc(m.rc, TR_ETIMEDOUT);
    for (int i = 1; i < MAP_N; i++)
        assert_rc(m.codes[i], TR_ETIMEDOUT);
    assert_rc(tr_task_pool_free(tp), 0);
}

/* Sizes: n * elem_size (and n * sizeof(tr_buf)) that overflow are refused. */
static void test_map_size_overflow_refused(void **state) {
    tu_fix *f = *state;
    tr_task_pool *tp;
    assert_rc(tr_task_pool_start(f->rt, &(tr_task_pool_opts){.workers = 1}, &tp), 0);
    int ins[2] = {1, 2};
    tr_buf rs[2];
    int codes[2];
    int rc =
        tr_task_pool_map(tp, square_task, ins, sizeof ins[0], SIZE_MAX / 4 + 1, NULL, NULL, 1000);
    assert_true(rc == TR_EINVAL || rc == TR_ENOMEM);
    rc = tr_task_pool_map(tp, square_task, ins, SIZE_MAX / 2, 3, rs, codes, 1000);
    assert_true(rc == TR_EINVAL || rc == TR_ENOMEM);
    rc = tr_task_pool_map(tp, square_task, ins, sizeof ins[0], SIZE_MAX / sizeof(tr_buf) + 2, rs,
                          codes, 1000);
    assert_true(rc == TR_EINVAL || rc == TR_ENOMEM);
    assert_int_equal(tr_task_pool_pending_count(tp), 0);
    assert_rc(tr_task_pool_free(tp), 0);
}

/* ------------------------------------------------------------------------ */
/* Sizes                                                                     */
/* ------------------------------------------------------------------------ */

static atomic_int g_huge_inits;

static int huge_init(tr_self *self, void *state, const void *arg) {
    atomic_fetch_add(&g_huge_inits, 1);
    return TR_CONTINUE;
}

/* state_size near SIZE_MAX: the actor header plus state_size wrapped into
 * a small block (SIZE_MAX: spawn returned 0 on 111 bytes). */
static void test_spawn_huge_state_size_refused(void **state) {
    tu_fix *f = *state;
    const size_t sizes[] = {SIZE_MAX, SIZE_MAX - 8, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1,
                            (size_t)PTRDIFF_MAX};
    atomic_store(&g_huge_inits, 0);
    size_t before = tr_runtime_actor_count(f->rt);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        tr_behaviour b = {.name = "huge", .state_size = sizes[i], .init = huge_init};
        tr_pid p = TR_PID_NONE;
        int rc = tr_spawn(f->rt, &b, NULL, NULL, &p);
        if (rc != TR_EINVAL && rc != TR_ENOMEM)
            fail_msg("state_size %zu: tr_spawn gave %s", sizes[i], tr_err_name(rc));
    }
    assert_int_equal(atomic_load(&g_huge_inits), 0);
    assert_int_equal(tr_runtime_actor_count(f->rt), before);
    /* As a pool's worker (the pool adds its own header first). */
    tr_behaviour w = {.name = "huge_worker", .state_size = SIZE_MAX - 8, .init = huge_init};
    tr_pid pool;
    int rc = tr_pool_start(f->rt, &(tr_pool_opts){.worker = &w, .size = 1}, &pool);
    if (rc != TR_EINVAL && rc != TR_ENOMEM)
        fail_msg("pool worker state_size SIZE_MAX-8: tr_pool_start gave %s", tr_err_name(rc));
    /* As a supervisor's child. */
    tr_child_spec kid = {.id = "h", .behaviour = &w};
    rc = tr_supervisor_start(f->rt, &(tr_sup_spec){.children = &kid, .n_children = 1}, NULL);
    if (rc != TR_EINVAL && rc != TR_ENOMEM)
        fail_msg("child state_size SIZE_MAX-8: tr_supervisor_start gave %s", tr_err_name(rc));
    assert_int_equal(atomic_load(&g_huge_inits), 0);
}

/* arg_size SIZE_MAX gave TR_EINIT (the copy failed inside init). */
static void test_huge_arg_size_refused(void **state) {
    tu_fix *f = *state;
    char arg[8] = {0};
    tr_child_spec kid = {.id = "e", .behaviour = &k_echo, .arg = arg, .arg_size = SIZE_MAX};
    int rc = tr_supervisor_start(f->rt, &(tr_sup_spec){.children = &kid, .n_children = 1}, NULL);
    if (rc != TR_EINVAL && rc != TR_ENOMEM)
        fail_msg("child spec arg_size SIZE_MAX: tr_supervisor_start gave %s", tr_err_name(rc));

    tr_pool_opts po = {
        .worker = &k_echo, .worker_arg = arg, .worker_arg_size = SIZE_MAX, .size = 1};
    tr_pid pool;
    rc = tr_pool_start(f->rt, &po, &pool);
    if (rc != TR_EINVAL && rc != TR_ENOMEM)
        fail_msg("pool worker_arg_size SIZE_MAX: tr_pool_start gave %s", tr_err_name(rc));

    /* A task's argument. */
    tr_task_pool *tp;
    assert_rc(tr_task_pool_start(f->rt, &(tr_task_pool_opts){.workers = 1}, &tp), 0);
    tr_future *fu = NULL;
    rc = tr_task_submit(tp, square_task, arg, SIZE_MAX, &fu);
    if (rc != TR_EINVAL && rc != TR_ENOMEM)
        fail_msg("tr_task_submit arg_size SIZE_MAX: gave %s", tr_err_name(rc));
    assert_null(fu);
    assert_rc(tr_task_pool_free(tp), 0);

    /* simple_one_for_one: the per-child arg, and the template's. */
    tr_child_spec tmpl = {.behaviour = &k_echo};
    tr_pid sup;
    assert_rc(tr_supervisor_start(f->rt,
                                  &(tr_sup_spec){.flags.strategy = TR_SIMPLE_ONE_FOR_ONE,
                                                 .children = &tmpl,
                                                 .n_children = 1},
                                  &sup),
              0);
    tr_child_spec one = {.arg = arg, .arg_size = SIZE_MAX};
    rc = tr_supervisor_start_child(f->rt, sup, &one, NULL);
    if (rc != TR_EINVAL && rc != TR_ENOMEM)
        fail_msg("start_child arg_size SIZE_MAX: gave %s", tr_err_name(rc));
    assert_rc(tr_supervisor_stop(f->rt, sup, 10000), 0);
    tmpl.arg = arg;
    tmpl.arg_size = SIZE_MAX;
    rc = tr_supervisor_start(
        f->rt,
        &(tr_sup_spec){.flags.strategy = TR_SIMPLE_ONE_FOR_ONE, .children = &tmpl, .n_children = 1},
        NULL);
    if (rc != TR_EINVAL && rc != TR_ENOMEM)
        fail_msg("template arg_size SIZE_MAX: tr_supervisor_start gave %s", tr_err_name(rc));
}

/* ------------------------------------------------------------------------ */
/* Supervisor backoff                                                        */
/* ------------------------------------------------------------------------ */

static atomic_int g_crasher_inits;

static int crasher_init(tr_self *self, void *state, const void *arg) {
    atomic_fetch_add(&g_crasher_inits, 1);
    return TR_CONTINUE;
}
static const tr_behaviour k_crasher = {.name = "crasher", .init = crasher_init};

/* A huge backoff (doubled and jittered: both overflowed) means the child is
 * not restarted before that time: never, in practice. */
static void test_huge_backoff_never_restarts(void **state) {
    tu_fix *f = *state;
    const tr_duration_ms initial[] = {INT64_MAX, INT64_MAX / 2 + 1, INT64_MAX / 100 + 1};
    counts *cp = &g_counts;
    tr_pid p = spawn_counter(f->rt, cp);
    for (size_t i = 0; i < sizeof initial / sizeof initial[0]; i++) {
        atomic_store(&g_crasher_inits, 0);
        tr_child_spec kid = {.id = "c", .behaviour = &k_crasher};
        tr_sup_spec ss = {.flags = {.intensity = 100,
                                    .period_ms = 1000,
                                    .backoff_initial_ms = initial[i],
                                    .backoff_jitter_pct = 100},
                          .children = &kid,
                          .n_children = 1};
        tr_pid sup;
        assert_rc(tr_supervisor_start(f->rt, &ss, &sup), 0);
        tr_child_info ci;
        size_t n = 0;
        assert_rc(tr_supervisor_which_children(f->rt, sup, &ci, 1, &n), 0);
        assert_int_equal(n, 1);
        assert_rc(tr_exit(f->rt, ci.pid, tr_reason_error(TR_EREMOTE, "boom")), 0);
        assert_rc(tr_await_exit(f->rt, ci.pid, 10000, NULL), 0);
        atomic_store(&cp->ticks[TAG_MARK], 0);
        wait_marker(f->rt, p, cp);
        /* The supervisor has seen the exit (its EXIT and our call come from
         * different senders: no order between them, so wait for it). */
        assert_true(TU_WAIT(atomic_load(&g_crasher_inits) != 1 ||
                                (tr_supervisor_which_children(f->rt, sup, &ci, 1, &n) == 0 &&
                                 tr_pid_is_none(ci.pid)),
                            10000));
        if (atomic_load(&g_crasher_inits) != 1)
            fail_msg("backoff %lld ms: the child was restarted at once", (long long)initial[i]);
        assert_rc(tr_supervisor_stop(f->rt, sup, 10000), 0);
    }
    stop_counter(f->rt, p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_huge_timers_never_fire),
        TU_TEST(test_request_huge_timeout_does_not_expire),
        TU_TEST(test_timer_payload_too_big_refused_at_call),
        TU_TEST(test_huge_timeouts_wait_and_return),
        TU_TEST(test_map_finite_timeout_ends),
        TU_TEST(test_map_size_overflow_refused),
        TU_TEST(test_spawn_huge_state_size_refused),
        TU_TEST(test_huge_arg_size_refused),
        TU_TEST(test_huge_backoff_never_restarts),
    };
    const char *only = getenv("TU_ONLY"); /* e.g. TU_ONLY=test_map_* */
    if (only)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
