/* The init rule (issue 8, defect 4): blocking calls are refused inside
 * init wherever it runs — on the thread that called tr_spawn /
 * tr_supervisor_start (a first start) or on a scheduler thread (a
 * restart) — as in every other callback, with TR_EDEADLK. A supervisor
 * reports the resulting init failure the same way on both paths: TR_EINIT
 * from tr_supervisor_start, and on a restart the exit reason
 * shutdown with code TR_EINIT and the child's id when it gives up. */
#include "testutil.h"

enum { ECHO = 1 };

static int echo_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)self;
    (void)state;
    tr_reply(from, m->tag, m->data, m->size);
    return TR_CONTINUE;
}

static const tr_behaviour echo_b = {.name = "echo", .handle_call = echo_call};

/* What every init of the "caller" child did. */
#define MAX_RUNS 64
static tr_pid g_server;
static atomic_int g_skip; /* inits that do not call (a clean first start) */
static atomic_int g_runs; /* inits run */
static atomic_int g_call_rc[MAX_RUNS];
static atomic_int g_await_rc[MAX_RUNS];

static int caller_init(tr_self *self, void *state, const void *arg) {
    (void)state;
    (void)arg;
    int n = atomic_fetch_add(&g_runs, 1);
    if (n < atomic_load(&g_skip) || n >= MAX_RUNS)
        return TR_CONTINUE;
    tr_runtime *rt = tr_self_runtime(self);
    tr_buf b;
    int rc = tr_call(rt, g_server, ECHO, "hi", 3, &b, 2000);
    tr_buf_free(&b);
    atomic_store(&g_call_rc[n], rc);
    tr_reason r;
    atomic_store(&g_await_rc[n], tr_await_exit(rt, g_server, 10, &r));
    if (rc != 0)
        return tr_stop(self, tr_reason_error(rc, "init: blocking call refused"));
    return TR_CONTINUE;
}

static const tr_behaviour caller_b = {.name = "caller", .init = caller_init};

static void reset(tr_runtime *rt, int skip) {
    assert_rc(tr_spawn(rt, &echo_b, NULL, NULL, &g_server), 0);
    atomic_store(&g_skip, skip);
    atomic_store(&g_runs, 0);
    for (int i = 0; i < MAX_RUNS; i++) {
        atomic_store(&g_call_rc[i], 1);
        atomic_store(&g_await_rc[i], 1);
    }
}

static tr_sup_spec one_child_spec(tr_child_spec *kid) {
    memset(kid, 0, sizeof *kid);
    kid->id = "caller";
    kid->behaviour = &caller_b;
    kid->restart = TR_PERMANENT;
    kid->shutdown_ms = 1000;
    tr_sup_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.flags.strategy = TR_ONE_FOR_ONE;
    spec.flags.intensity = 3;
    spec.flags.period_ms = 10000;
    spec.children = kid;
    spec.n_children = 1;
    return spec;
}

/* tr_spawn from a plain thread: init runs on this thread, yet its blocking
 * calls are refused, as in every callback. */
static void test_init_blocking_call_refused_on_plain_thread(void **state) {
    tu_fix *f = *state;
    reset(f->rt, 0);
    tr_pid p = TR_PID_NONE;
    assert_rc(tr_spawn(f->rt, &caller_b, NULL, NULL, &p), TR_EINIT);
    assert_true(tr_pid_is_none(p));
    assert_int_equal(atomic_load(&g_runs), 1);
    assert_rc(atomic_load(&g_call_rc[0]), TR_EDEADLK);
    assert_rc(atomic_load(&g_await_rc[0]), TR_EDEADLK);
    /* outside a callback the same calls work */
    tr_buf b;
    assert_rc(tr_call(f->rt, g_server, ECHO, "hi", 3, &b, 5000), 0);
    assert_string_equal((const char *)b.data, "hi");
    tr_buf_free(&b);
}

/* First start under a supervisor: refused, and tr_supervisor_start reports
 * the init failure as TR_EINIT. */
static void test_init_blocking_call_refused_on_first_start(void **state) {
    tu_fix *f = *state;
    reset(f->rt, 0);
    tr_child_spec kid;
    tr_sup_spec spec = one_child_spec(&kid);
    tr_pid sup = TR_PID_NONE;
    assert_rc(tr_supervisor_start(f->rt, &spec, &sup), TR_EINIT);
    assert_int_equal(atomic_load(&g_runs), 1);
    assert_rc(atomic_load(&g_call_rc[0]), TR_EDEADLK);
    assert_rc(atomic_load(&g_await_rc[0]), TR_EDEADLK);
}

/* Restart: the same init, now on a scheduler thread, is refused the same
 * way; the supervisor retries (each failed start counts as a restart) and
 * then gives up with reason shutdown carrying TR_EINIT and the child's id
 * (OTP's {shutdown, {failed_to_start_child, Id, _}}), not a bare shutdown. */
static void test_init_blocking_call_refused_on_restart_same_way(void **state) {
    tu_fix *f = *state;
    reset(f->rt, 1); /* the first init does not call: a clean first start */
    tr_child_spec kid;
    tr_sup_spec spec = one_child_spec(&kid);
    tr_pid sup = TR_PID_NONE;
    assert_rc(tr_supervisor_start(f->rt, &spec, &sup), 0);
    tu_watch w = tu_watch_start(f->rt, f->log, sup);
    tr_child_info ci[1];
    size_t n = 0;
    assert_rc(tr_supervisor_which_children(f->rt, sup, ci, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_false(tr_pid_is_none(ci[0].pid));
    assert_rc(tr_exit(f->rt, ci[0].pid, tr_reason_error(1, "crash")), 0);

    tr_reason r = tu_watch_wait(&w);
    char buf[128];
    tr_reason_format(&r, buf, sizeof buf);
    print_message("supervisor exit reason: %s\n", buf);
    int runs = atomic_load(&g_runs);
    assert_true(runs >= 2);
    for (int i = 1; i < runs && i < MAX_RUNS; i++) {
        assert_rc(atomic_load(&g_call_rc[i]), TR_EDEADLK);
        assert_rc(atomic_load(&g_await_rc[i]), TR_EDEADLK);
    }
    assert_reason_kind(r, TR_EXIT_SHUTDOWN);
    assert_rc(r.code, TR_EINIT);
    assert_non_null(memchr(r.text, '\0', sizeof r.text));
    assert_non_null(strstr(r.text, "caller"));
    assert_non_null(strstr(buf, "caller"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_init_blocking_call_refused_on_plain_thread),
        TU_TEST(test_init_blocking_call_refused_on_first_start),
        TU_TEST(test_init_blocking_call_refused_on_restart_same_way),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
