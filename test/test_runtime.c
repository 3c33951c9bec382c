/* The runtime: start/shutdown, stop twice, idle threads park, shutdown of
 * many live actors, calls after stop, blocking calls refused on scheduler
 * threads, actor table capacity. */
#include "testutil.h"

#include <unistd.h>

enum { R_ECHO = 1, R_DEFER, R_SHUTDOWN_INSIDE };

static atomic_int g_terms;
static atomic_int g_term_shutdown;
static atomic_int g_deferred;
static atomic_int g_inside_stop_rc, g_inside_shutdown_rc, g_inside_done;
static atomic_int g_on_sched;
static unsigned char *g_term_by_index; /* one counter per actor (test thread reads after) */

typedef struct e_state {
    int64_t index;
    tr_from kept;
} e_state;

static int e_init(tr_self *self, void *state, const void *arg) {
    (void)self;
    e_state *s = state;
    s->index = arg ? *(const int64_t *)arg : -1;
    return TR_CONTINUE;
}

static int e_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    e_state *s = state;
    atomic_store(&g_on_sched, tr_on_scheduler(tr_self_runtime(self)) ? 1 : 2);
    if (m->tag == R_DEFER) {
        s->kept = from;
        atomic_fetch_add(&g_deferred, 1);
        return TR_CONTINUE;
    }
    tr_reply(from, m->tag, m->data, m->size);
    return TR_CONTINUE;
}

static int e_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)state;
    if (m->tag == R_SHUTDOWN_INSIDE) {
        tr_runtime *rt = tr_self_runtime(self);
        atomic_store(&g_inside_stop_rc, tr_runtime_stop(rt));
        atomic_store(&g_inside_shutdown_rc, tr_runtime_free(&rt));
        atomic_store(&g_inside_done, 1);
    }
    return TR_CONTINUE;
}

static void e_terminate(tr_self *self, void *state, tr_reason reason) {
    e_state *s = state;
    atomic_fetch_add(&g_terms, 1);
    if (reason.kind == TR_EXIT_SHUTDOWN)
        atomic_fetch_add(&g_term_shutdown, 1);
    if (g_term_by_index && s->index >= 0)
        __atomic_fetch_add(&g_term_by_index[s->index], 1, __ATOMIC_RELAXED);
    /* Sends are allowed in terminate, even during shutdown. */
    tr_send(tr_self_runtime(self), tr_self_pid(self), 0, NULL, 0);
}

static const tr_behaviour k_echo = {
    .name = "echo",
    .state_size = sizeof(e_state),
    .init = e_init,
    .handle_call = e_call,
    .handle_cast = e_cast,
    .terminate = e_terminate,
};

static tr_pid spawn_echo(tr_runtime *rt, const int64_t *index) {
    tr_pid p;
    assert_rc(tr_spawn(rt, &k_echo, index, NULL, &p), 0);
    return p;
}

static void echo_once(tr_runtime *rt, tr_pid p) {
    tr_buf b;
    assert_rc(tr_call(rt, p, R_ECHO, "ping", 5, &b, 5000), 0);
    assert_string_equal((char *)b.data, "ping");
    tr_buf_free(&b);
}

static void test_start_shutdown_1_2_4_threads(void **state) {
    (void)state;
    const unsigned counts[] = {1, 2, 4};
    for (int i = 0; i < 3; i++) {
        tr_runtime *rt = tu_start(counts[i]);
        assert_non_null(rt);
        assert_int_equal(tr_runtime_threads(rt), counts[i]);
        assert_int_equal(tr_runtime_actor_count(rt), 0);
        tr_pid p[8];
        for (int k = 0; k < 8; k++)
            p[k] = spawn_echo(rt, NULL);
        assert_int_equal(tr_runtime_actor_count(rt), 8);
        for (int k = 0; k < 8; k++)
            echo_once(rt, p[k]);
        assert_rc(tr_runtime_free(&rt), 0);
    }
    /* Default options: online CPUs. */
    tr_runtime *rt = NULL;
    assert_rc(tr_runtime_start(NULL, &rt), 0);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(tr_runtime_threads(rt), (unsigned)cpus);
    echo_once(rt, spawn_echo(rt, NULL));
    assert_rc(tr_runtime_free(&rt), 0);
}

static void test_many_start_shutdown_cycles(void **state) {
    (void)state;
    const int cycles = TU_SCALE(30, 10);
    for (int i = 0; i < cycles; i++) {
        tr_runtime *rt = tu_start(2);
        assert_non_null(rt);
        echo_once(rt, spawn_echo(rt, NULL));
        assert_rc(tr_runtime_free(&rt), 0);
    }
    /* Two runtimes at once are independent. */
    tr_runtime *a = tu_start(1), *b = tu_start(1);
    assert_non_null(a);
    assert_non_null(b);
    tr_pid pa = spawn_echo(a, NULL);
    echo_once(a, pa);
    echo_once(b, spawn_echo(b, NULL));
    assert_rc(tr_runtime_free(&b), 0);
    echo_once(a, pa);
    assert_rc(tr_runtime_free(&a), 0);
}

typedef struct stopper {
    tr_runtime *rt;
    pthread_barrier_t *bar;
    int rc;
} stopper;

static void *stop_thread(void *p) {
    stopper *s = p;
    pthread_barrier_wait(s->bar);
    s->rc = tr_runtime_stop(s->rt);
    return NULL;
}

static void test_stop_twice_harmless(void **state) {
    (void)state;
    atomic_store(&g_terms, 0);
    tr_runtime *rt = tu_start(2);
    assert_non_null(rt);
    for (int i = 0; i < 10; i++)
        (void)spawn_echo(rt, NULL);
    assert_rc(tr_runtime_stop(rt), 0);
    assert_int_equal(atomic_load(&g_terms), 10);
    assert_rc(tr_runtime_stop(rt), 0);
    assert_int_equal(atomic_load(&g_terms), 10);
    assert_rc(tr_runtime_free(&rt), 0);
    assert_int_equal(atomic_load(&g_terms), 10);
    assert_null(rt);                    /* shutdown clears the caller's pointer */
    assert_rc(tr_runtime_free(&rt), 0); /* so a second shutdown is harmless */
    assert_int_equal(atomic_load(&g_terms), 10);

    /* Several threads racing to stop. */
    atomic_store(&g_terms, 0);
    rt = tu_start(2);
    assert_non_null(rt);
    for (int i = 0; i < 10; i++)
        (void)spawn_echo(rt, NULL);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 4);
    stopper s[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (stopper){.rt = rt, .bar = &bar, .rc = 1};
        pthread_create(&th[i], NULL, stop_thread, &s[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_rc(s[i].rc, 0);
    }
    pthread_barrier_destroy(&bar);
    assert_int_equal(atomic_load(&g_terms), 10);
    assert_rc(tr_runtime_free(&rt), 0);
    assert_int_equal(atomic_load(&g_terms), 10);
}

static int64_t cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_idle_threads_park(void **state) {
    (void)state;
    tr_runtime *rt = tu_start(4);
    assert_non_null(rt);
    tr_pid p[100];
    for (int i = 0; i < 100; i++)
        p[i] = spawn_echo(rt, NULL);
    for (int i = 0; i < 100; i++)
        echo_once(rt, p[i]);
    tu_sleep_ms(200); /* spin briefly, then park */
    int64_t c0 = cpu_ms();
    tu_sleep_ms(500);
    int64_t idle1 = cpu_ms() - c0;

    /* Again after a burst of work. */
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 100; i++)
            assert_rc(tr_cast(rt, p[i], 0, NULL, 0), 0);
    for (int i = 0; i < 100; i++)
        echo_once(rt, p[i]);
    tu_sleep_ms(200);
    c0 = cpu_ms();
    tu_sleep_ms(500);
    int64_t idle2 = cpu_ms() - c0;
    print_message("CPU time over 500 ms idle: %lld ms, after a burst %lld ms\n", (long long)idle1,
                  (long long)idle2);
    assert_true(idle1 < 100);
    assert_true(idle2 < 100);
    assert_rc(tr_runtime_free(&rt), 0);
}

static void test_shutdown_runs_every_terminate_once(void **state) {
    (void)state;
    const int n = TU_SCALE(10000, 2000);
    atomic_store(&g_terms, 0);
    atomic_store(&g_term_shutdown, 0);
    g_term_by_index = calloc((size_t)n, 1);
    tr_runtime *rt = tu_start(2);
    assert_non_null(rt);
    for (int64_t i = 0; i < n; i++)
        (void)spawn_echo(rt, &i);
    assert_int_equal(tr_runtime_actor_count(rt), (size_t)n);
    assert_rc(tr_runtime_free(&rt), 0);
    assert_int_equal(atomic_load(&g_terms), n);
    assert_int_equal(atomic_load(&g_term_shutdown), n);
    for (int i = 0; i < n; i++)
        if (g_term_by_index[i] != 1) {
            print_error("actor %d: terminate ran %d times\n", i, g_term_by_index[i]);
            fail();
        }
    free(g_term_by_index);
    g_term_by_index = NULL;
}

static void test_calls_after_stop_eclosed(void **state) {
    (void)state;
    tr_runtime *rt = tu_start(2);
    assert_non_null(rt);
    tr_pid p = spawn_echo(rt, NULL);
    echo_once(rt, p);
    assert_rc(tr_runtime_stop(rt), 0);
    /* Every entry point says TR_ECLOSED (not ENOPROC: the runtime, not the
     * actor, is what is gone). Collect all codes first, then check. */
    struct {
        const char *what;
        int rc;
    } r[] = {
        {"tr_call", tr_call(rt, p, R_ECHO, "x", 2, NULL, 1000)},
        {"tr_send", tr_send(rt, p, 1, NULL, 0)},
        {"tr_cast", tr_cast(rt, p, 1, NULL, 0)},
        {"tr_exit", tr_exit(rt, p, tr_reason_kill())},
        {"tr_spawn", tr_spawn(rt, &k_echo, NULL, NULL, NULL)},
        {"tr_send_after", tr_send_after(rt, p, 10, 1, NULL, 0, NULL)},
        {"tr_register", tr_register(rt, "late", p, NULL)},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (r[i].rc != TR_ECLOSED) {
            print_error("after stop, %s returned %s, expected TR_ECLOSED\n", r[i].what,
                        tr_err_name(r[i].rc));
            bad++;
        }
    assert_int_equal(bad, 0);
    /* The actor is gone: awaiting it returns at once (0 with noproc, or
     * TR_ECLOSED). */
    tr_reason why;
    int arc = tr_await_exit(rt, p, 1000, &why);
    assert_true(arc == TR_ECLOSED || (arc == 0 && why.kind == TR_EXIT_NOPROC));
    assert_false(tr_is_alive(rt, p));
    assert_int_equal(tr_runtime_actor_count(rt), 0);
    assert_rc(tr_runtime_free(&rt), 0);
}

typedef struct caller {
    tr_runtime *rt;
    tr_pid to;
    int rc;
} caller;

static void *defer_caller(void *p) {
    caller *c = p;
    c->rc = tr_call(c->rt, c->to, R_DEFER, NULL, 0, NULL, TR_INFINITY);
    return NULL;
}

static void *await_caller(void *p) {
    caller *c = p;
    tr_reason r;
    c->rc = tr_await_exit(c->rt, c->to, TR_INFINITY, &r);
    if (c->rc == 0 && r.kind != TR_EXIT_SHUTDOWN)
        c->rc = 12345;
    return NULL;
}

/* Blocking calls pending at stop return (TR_ECLOSED), never hang. */
static void test_pending_calls_released_by_stop(void **state) {
    (void)state;
    atomic_store(&g_deferred, 0);
    tr_runtime *rt = tu_start(2);
    assert_non_null(rt);
    tr_pid p = spawn_echo(rt, NULL);
    caller c = {.rt = rt, .to = p, .rc = 1};
    caller w = {.rt = rt, .to = p, .rc = 1};
    pthread_t th, tw;
    pthread_create(&th, NULL, defer_caller, &c);
    pthread_create(&tw, NULL, await_caller, &w);
    assert_true(TU_WAIT(atomic_load(&g_deferred) == 1, 5000));
    tu_sleep_ms(100);
    assert_rc(tr_runtime_stop(rt), 0);
    pthread_join(th, NULL);
    pthread_join(tw, NULL);
    print_message("pending call: %s, pending await: %s\n", tr_err_name(c.rc), tr_err_name(w.rc));
    /* Documented: TR_ECLOSED. The server's own shutdown exit may be seen
     * first (TR_EEXITED); either way the caller is released. */
    assert_true(c.rc == TR_ECLOSED || c.rc == TR_EEXITED);
    assert_true(w.rc == TR_ECLOSED || w.rc == 0); /* 0: saw the shutdown exit */
    assert_rc(tr_runtime_free(&rt), 0);
}

static void test_blocking_calls_refused_on_scheduler(void **state) {
    tu_fix *f = *state;
    atomic_store(&g_inside_done, 0);
    atomic_store(&g_on_sched, 0);
    assert_false(tr_on_scheduler(f->rt));
    tr_pid p = spawn_echo(f->rt, NULL);
    echo_once(f->rt, p);
    assert_int_equal(atomic_load(&g_on_sched), 1);
    assert_rc(tr_cast(f->rt, p, R_SHUTDOWN_INSIDE, NULL, 0), 0);
    assert_true(TU_WAIT(atomic_load(&g_inside_done) == 1, 5000));
    assert_rc(atomic_load(&g_inside_stop_rc), TR_EDEADLK);
    assert_rc(atomic_load(&g_inside_shutdown_rc), TR_EDEADLK);
    /* The runtime was left running. */
    echo_once(f->rt, p);
    echo_once(f->rt, spawn_echo(f->rt, NULL));
}

static void test_max_actors_efull(void **state) {
    (void)state;
    tr_runtime_opts o = {.threads = 2, .max_actors = 16};
    tr_runtime *rt = NULL;
    assert_rc(tr_runtime_start(&o, &rt), 0);
    tr_pid p[16];
    int spawned = 0;
    int rc = 0;
    for (int i = 0; i < 16 && (rc = tr_spawn(rt, &k_echo, NULL, NULL, &p[i])) == 0; i++)
        spawned++;
    /* The table may reserve a slot or two for itself; it holds at least
     * a dozen and refuses the one too many with TR_EFULL. */
    assert_true(spawned >= 12);
    if (spawned == 16) {
        tr_pid extra;
        rc = tr_spawn(rt, &k_echo, NULL, NULL, &extra);
    }
    assert_rc(rc, TR_EFULL);
    assert_int_equal(tr_runtime_actor_count(rt), (size_t)spawned);
    /* A full table does not stop a thread from calling an actor. */
    echo_once(rt, p[1]);
    /* After one exits there is room again. */
    assert_rc(tr_exit(rt, p[0], tr_reason_kill()), 0);
    assert_true(TU_WAIT(!tr_is_alive(rt, p[0]), 5000));
    bool ok = TU_WAIT(tr_spawn(rt, &k_echo, NULL, NULL, &p[0]) == 0, 5000);
    assert_true(ok);
    echo_once(rt, p[0]);
    assert_rc(tr_runtime_free(&rt), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_shutdown_1_2_4_threads),
        cmocka_unit_test(test_many_start_shutdown_cycles),
        cmocka_unit_test(test_stop_twice_harmless),
        cmocka_unit_test(test_idle_threads_park),
        cmocka_unit_test(test_shutdown_runs_every_terminate_once),
        cmocka_unit_test(test_calls_after_stop_eclosed),
        cmocka_unit_test(test_pending_calls_released_by_stop),
        TU_TEST(test_blocking_calls_refused_on_scheduler),
        cmocka_unit_test(test_max_actors_efull),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
