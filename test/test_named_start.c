/* Named start (issue 10, item 4): tr_spawn_opts.name registers the actor
 * before init runs; a taken name gives TR_EEXIST and the holder's pid with
 * nothing left behind (OTP's {error, {already_started, Pid}}); supervisors
 * name their children and keep the name across restarts, so a client
 * calling by name sees the server or "restarting, try again" (TR_EAGAIN),
 * never "no such name". */
#include "testutil.h"

static atomic_int g_inits;

typedef struct named_state {
    bool saw_own_name; /* init found its name already bound to itself */
} named_state;

static int n_init(tr_self *self, void *state, const void *arg) {
    named_state *st = state;
    atomic_fetch_add(&g_inits, 1);
    const char *name = arg;
    if (name)
        st->saw_own_name = tr_pid_eq(tr_whereis(tr_self_runtime(self), name), tr_self_pid(self));
    if (name && strcmp(name, "refuse") == 0)
        return tr_stop(self, tr_reason_error(5, "refused"));
    return TR_CONTINUE;
}

static int n_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)m;
    named_state *st = state;
    struct {
        tr_pid pid;
        bool saw;
    } r = {tr_self_pid(self), st->saw_own_name};
    tr_reply(from, 0, &r, sizeof r);
    return TR_CONTINUE;
}

static const tr_behaviour named_b = {
    .name = "named", .state_size = sizeof(named_state), .init = n_init, .handle_call = n_call};

static void test_named_spawn(void **state) {
    tu_fix *f = *state;
    tr_spawn_opts o = {.name = "svc"};
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &named_b, "svc", &o, &p), 0);
    assert_pid_equal(tr_whereis(f->rt, "svc"), p);
    struct {
        tr_pid pid;
        bool saw;
    } r;
    tr_buf b;
    assert_rc(tr_call_named(f->rt, "svc", 1, NULL, 0, &b, 10000), 0);
    memcpy(&r, b.data, sizeof r);
    tr_buf_free(&b);
    assert_pid_equal(r.pid, p);
    assert_true(r.saw); /* registered before init ran */
}

/* A taken name: TR_EEXIST, the holder's pid, init never ran, no actor. */
static void test_named_spawn_taken(void **state) {
    tu_fix *f = *state;
    tr_spawn_opts o = {.name = "only"};
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &named_b, NULL, &o, &p), 0);
    atomic_store(&g_inits, 0);
    size_t before = tr_runtime_actor_count(f->rt);
    tr_pid q = TR_PID_NONE;
    assert_rc(tr_spawn(f->rt, &named_b, NULL, &o, &q), TR_EEXIST);
    assert_pid_equal(q, p);
    assert_int_equal(atomic_load(&g_inits), 0);
    assert_true(TU_WAIT(tr_runtime_actor_count(f->rt) == before, 10000));
    assert_pid_equal(tr_whereis(f->rt, "only"), p);
    /* a plain tr_register of a taken name says the same */
    tr_pid holder = TR_PID_NONE;
    tr_pid other = tu_probe(f->rt, f->log, false);
    assert_rc(tr_register(f->rt, "only", other, &holder), TR_EEXIST);
    assert_pid_equal(holder, p);
}

/* A failed init drops the name; bad names are refused before anything. */
static void test_named_spawn_init_fails_and_bad_names(void **state) {
    tu_fix *f = *state;
    tr_spawn_opts o = {.name = "refuse"};
    tr_pid p = TR_PID_NONE;
    assert_rc(tr_spawn(f->rt, &named_b, "refuse", &o, &p), TR_EINIT);
    assert_true(tr_pid_is_none(p));
    assert_true(tr_pid_is_none(tr_whereis(f->rt, "refuse")));
    assert_rc(tr_spawn(f->rt, &named_b, NULL, &o, &p), 0); /* free again */
    char longname[TR_NAME_MAX + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    atomic_store(&g_inits, 0);
    tr_spawn_opts bad = {.name = ""};
    assert_rc(tr_spawn(f->rt, &named_b, NULL, &bad, &p), TR_EINVAL);
    bad.name = longname;
    assert_rc(tr_spawn(f->rt, &named_b, NULL, &bad, &p), TR_EINVAL);
    assert_int_equal(atomic_load(&g_inits), 0);
}

/* ---- supervisors --------------------------------------------------------- */

static tr_sup_spec kv_spec(tr_child_spec *kid, tr_duration_ms backoff) {
    memset(kid, 0, sizeof *kid);
    kid->id = "kv";
    kid->name = "kv";
    kid->behaviour = &named_b;
    kid->arg = "kv";
    kid->restart = TR_PERMANENT;
    kid->shutdown_ms = 1000;
    tr_sup_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.flags.strategy = TR_ONE_FOR_ONE;
    spec.flags.intensity = 1000;
    spec.flags.period_ms = 1000;
    spec.flags.backoff_initial_ms = backoff;
    spec.flags.backoff_max_ms = backoff;
    spec.children = kid;
    spec.n_children = 1;
    return spec;
}

typedef struct client_ctx {
    tr_runtime *rt;
    atomic_bool stop;
    atomic_long ok, again, exited, other;
    atomic_int other_rc;
} client_ctx;

static void *client(void *arg) {
    client_ctx *c = arg;
    while (!atomic_load(&c->stop)) {
        int rc = tr_call_named(c->rt, "kv", 1, NULL, 0, NULL, 10000);
        if (rc == 0)
            atomic_fetch_add(&c->ok, 1);
        else if (rc == TR_EAGAIN)
            atomic_fetch_add(&c->again, 1);
        else if (rc == TR_EEXITED) /* queued at the old pid when it died */
            atomic_fetch_add(&c->exited, 1);
        else {
            atomic_fetch_add(&c->other, 1);
            atomic_store(&c->other_rc, rc);
        }
    }
    return NULL;
}

/* A named child is registered before init; across 20 kills and restarts
 * (each held back 20 ms by the backoff) a client calling by name gets
 * answers or TR_EAGAIN, never TR_ENOTFOUND or TR_ENOPROC. */
static void test_sup_named_child_across_restarts(void **state) {
    tu_fix *f = *state;
    tr_child_spec kid;
    tr_sup_spec spec = kv_spec(&kid, 20);
    tr_pid sup;
    assert_rc(tr_supervisor_start(f->rt, &spec, &sup), 0);
    tr_child_info info;
    size_t n = 0;
    assert_rc(tr_supervisor_which_children(f->rt, sup, &info, 1, &n), 0);
    assert_pid_equal(tr_whereis(f->rt, "kv"), info.pid);
    client_ctx c = {.rt = f->rt};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, client, &c), 0);
    for (int k = 0; k < 20; k++) {
        tr_pid p = tr_whereis(f->rt, "kv");
        if (tr_pid_is_none(p)) { /* restarting: wait for the new one */
            assert_true(TU_WAIT(!tr_pid_is_none(tr_whereis(f->rt, "kv")), 10000));
            p = tr_whereis(f->rt, "kv");
        }
        tr_exit(f->rt, p, tr_reason_kill());
        assert_true(TU_WAIT(!tr_pid_is_none(tr_whereis(f->rt, "kv")) &&
                                !tr_pid_eq(tr_whereis(f->rt, "kv"), p),
                            10000));
    }
    long ok_before = atomic_load(&c.ok);
    assert_true(TU_WAIT(atomic_load(&c.ok) > ok_before, 10000));
    atomic_store(&c.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    if (atomic_load(&c.other))
        print_error("other rc: %s\n", tr_err_name(atomic_load(&c.other_rc)));
    assert_int_equal(atomic_load(&c.other), 0);
    assert_true(atomic_load(&c.again) > 0); /* the 20 ms gaps were seen */
    assert_rc(tr_supervisor_which_children(f->rt, sup, &info, 1, &n), 0);
    assert_int_equal(info.restarts, 20);
    assert_pid_equal(tr_whereis(f->rt, "kv"), info.pid);
    /* terminate_child frees the name: no restart is coming */
    assert_rc(tr_supervisor_terminate_child(f->rt, sup, "kv", TR_PID_NONE), 0);
    assert_rc(tr_call_named(f->rt, "kv", 1, NULL, 0, NULL, 1000), TR_ENOTFOUND);
    assert_rc(tr_supervisor_restart_child(f->rt, sup, "kv", NULL), 0);
    assert_rc(tr_call_named(f->rt, "kv", 1, NULL, 0, NULL, 10000), 0);
    /* the supervisor stopping frees it too */
    assert_rc(tr_supervisor_stop(f->rt, sup, 10000), 0);
    assert_rc(tr_call_named(f->rt, "kv", 1, NULL, 0, NULL, 1000), TR_ENOTFOUND);
    assert_rc(tr_register(f->rt, "kv", tu_probe(f->rt, f->log, false), NULL), 0);
}

/* A name held by another actor makes the child's start fail; bad names in
 * a spec are TR_EINVAL. */
static void test_sup_named_child_errors(void **state) {
    tu_fix *f = *state;
    tr_pid holder = tu_probe(f->rt, f->log, false);
    assert_rc(tr_register(f->rt, "kv", holder, NULL), 0);
    tr_child_spec kid;
    tr_sup_spec spec = kv_spec(&kid, 0);
    tr_pid sup;
    assert_rc(tr_supervisor_start(f->rt, &spec, &sup), TR_EINIT);
    assert_pid_equal(tr_whereis(f->rt, "kv"), holder);
    tr_child_spec two[2];
    kv_spec(&two[0], 0);
    kv_spec(&two[1], 0);
    two[1].id = "kv2"; /* same name, another id */
    spec.children = two;
    spec.n_children = 2;
    assert_rc(tr_supervisor_start(f->rt, &spec, &sup), TR_EINVAL);
    two[1].name = "";
    assert_rc(tr_supervisor_start(f->rt, &spec, &sup), TR_EINVAL);
    /* a simple_one_for_one template makes many children: no name */
    kv_spec(&two[0], 0);
    spec.n_children = 1;
    spec.flags.strategy = TR_SIMPLE_ONE_FOR_ONE;
    tr_start_error e;
    assert_rc(tr_supervisor_start_ex(f->rt, &spec, &sup, &e), TR_EINVAL);
    assert_string_equal(e.reason.text, "name on a simple_one_for_one template (many children)");
}

/* A fiber child: answers calls with its pid until it is killed. */
static int fib_server(tr_self *self, void *arg) {
    (void)arg;
    for (;;) {
        tr_msg *m = NULL;
        int rc = tr_receive(self, NULL, NULL, TR_INFINITY, &m);
        if (rc)
            return rc;
        if (m->kind == TR_MSG_CALL) {
            tr_pid me = tr_self_pid(self);
            tr_reply(tr_msg_from(self, m), 0, &me, sizeof me);
        }
        tr_msg_free(m);
    }
}

static tr_pid call_pid(tr_runtime *rt, const char *name) {
    tr_buf b = {0};
    assert_rc(tr_call_named(rt, name, 1, NULL, 0, &b, 10000), 0);
    tr_pid p;
    assert_int_equal(b.size, sizeof p);
    memcpy(&p, b.data, sizeof p);
    tr_buf_free(&b);
    return p;
}

/* A named fiber child is registered as a behaviour child is: before it
 * runs, again at each restart, kept (TR_EAGAIN) while it is restarting,
 * freed when it will not come back. */
static void test_sup_named_fiber_child(void **state) {
    tu_fix *f = *state;
    tr_child_spec kid;
    tr_sup_spec spec = kv_spec(&kid, 0);
    kid.behaviour = NULL;
    kid.arg = NULL;
    kid.fiber = fib_server;
    kid.name = "fkv";
    tr_pid sup;
    assert_rc(tr_supervisor_start(f->rt, &spec, &sup), 0);
    tr_child_info info;
    size_t n = 0;
    assert_rc(tr_supervisor_which_children(f->rt, sup, &info, 1, &n), 0);
    assert_pid_equal(tr_whereis(f->rt, "fkv"), info.pid);
    assert_pid_equal(call_pid(f->rt, "fkv"), info.pid);
    for (int k = 0; k < 5; k++) { /* restarted under its name */
        tr_pid p = tr_whereis(f->rt, "fkv");
        if (tr_pid_is_none(p)) {
            assert_true(TU_WAIT(!tr_pid_is_none(tr_whereis(f->rt, "fkv")), 10000));
            p = tr_whereis(f->rt, "fkv");
        }
        assert_rc(tr_exit(f->rt, p, tr_reason_kill()), 0);
        assert_true(TU_WAIT(!tr_pid_is_none(tr_whereis(f->rt, "fkv")) &&
                                !tr_pid_eq(tr_whereis(f->rt, "fkv"), p),
                            10000));
    }
    tr_pid now = tr_whereis(f->rt, "fkv");
    assert_pid_equal(call_pid(f->rt, "fkv"), now);
    assert_rc(tr_supervisor_which_children(f->rt, sup, &info, 1, &n), 0);
    assert_int_equal(info.restarts, 5);
    assert_pid_equal(info.pid, now);
    /* terminate_child frees it, restart_child registers it again */
    assert_rc(tr_supervisor_terminate_child(f->rt, sup, "kv", TR_PID_NONE), 0);
    assert_rc(tr_call_named(f->rt, "fkv", 1, NULL, 0, NULL, 1000), TR_ENOTFOUND);
    tr_pid again;
    assert_rc(tr_supervisor_restart_child(f->rt, sup, "kv", &again), 0);
    assert_pid_equal(call_pid(f->rt, "fkv"), again);
    assert_rc(tr_supervisor_stop(f->rt, sup, 10000), 0);
    assert_rc(tr_call_named(f->rt, "fkv", 1, NULL, 0, NULL, 1000), TR_ENOTFOUND);

    /* with a long backoff: kept, "restarting, try again" */
    spec = kv_spec(&kid, 600000);
    kid.behaviour = NULL;
    kid.arg = NULL;
    kid.fiber = fib_server;
    kid.name = "fkv";
    assert_rc(tr_supervisor_start(f->rt, &spec, &sup), 0);
    tr_pid p = call_pid(f->rt, "fkv");
    assert_rc(tr_exit(f->rt, p, tr_reason_kill()), 0);
    assert_rc(tr_await_exit(f->rt, p, 10000, NULL), 0);
    assert_rc(tr_call_named(f->rt, "fkv", 1, NULL, 0, NULL, 1000), TR_EAGAIN);
    assert_rc(tr_send_named(f->rt, "fkv", 1, NULL, 0), TR_EAGAIN);
    assert_rc(tr_register(f->rt, "fkv", tu_probe(f->rt, f->log, false), NULL), TR_EAGAIN);
    assert_rc(tr_supervisor_stop(f->rt, sup, 10000), 0);
    assert_rc(tr_call_named(f->rt, "fkv", 1, NULL, 0, NULL, 1000), TR_ENOTFOUND);

    /* a name another actor holds: the fiber child does not start */
    assert_rc(tr_register(f->rt, "fkv", tu_probe(f->rt, f->log, false), NULL), 0);
    spec = kv_spec(&kid, 0);
    kid.behaviour = NULL;
    kid.arg = NULL;
    kid.fiber = fib_server;
    kid.name = "fkv";
    tr_start_error e;
    assert_rc(tr_supervisor_start_ex(f->rt, &spec, &sup, &e), TR_EINIT);
    assert_string_equal(e.child_id, "kv");
    assert_int_equal(e.reason.code, TR_EEXIST);
}

static bool listed(tr_runtime *rt, const char *name) {
    tr_reg_entry ents[16];
    size_t n = 0;
    assert_rc(tr_registered(rt, ents, 16, &n), 0);
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        if (strcmp(ents[i].name, name) == 0)
            return true;
    return false;
}

/* A name kept for a restarting child is bound to no process: the listings
 * leave it out. A killed supervisor's kept names go with it (its exit, any
 * reason): tr_unregister then finds nothing. */
static void test_sup_killed_frees_kept_names(void **state) {
    tu_fix *f = *state;
    size_t base = tr_registered_count(f->rt);
    tr_child_spec kid;
    tr_sup_spec spec = kv_spec(&kid, 600000); /* the restart waits: kept for long */
    tr_pid sup;
    assert_rc(tr_supervisor_start(f->rt, &spec, &sup), 0);
    tr_pid p = tr_whereis(f->rt, "kv");
    assert_false(tr_pid_is_none(p));
    assert_int_equal(tr_registered_count(f->rt), base + 1);
    assert_true(listed(f->rt, "kv"));
    assert_rc(tr_exit(f->rt, p, tr_reason_kill()), 0);
    assert_rc(tr_await_exit(f->rt, p, 10000, NULL), 0);
    /* kept: restarting, not listed */
    assert_rc(tr_call_named(f->rt, "kv", 1, NULL, 0, NULL, 1000), TR_EAGAIN);
    assert_int_equal(tr_registered_count(f->rt), base);
    assert_false(listed(f->rt, "kv"));
    /* the supervisor killed: terminate does not run, the name goes anyway */
    assert_rc(tr_exit(f->rt, sup, tr_reason_kill()), 0);
    assert_rc(tr_await_exit(f->rt, sup, 10000, NULL), 0);
    assert_rc(tr_call_named(f->rt, "kv", 1, NULL, 0, NULL, 1000), TR_ENOTFOUND);
    assert_rc(tr_unregister(f->rt, "kv"), TR_ENOTFOUND);
    assert_int_equal(tr_registered_count(f->rt), base);

    /* killed while the child runs: the child (linked) dies, its name too */
    assert_rc(tr_supervisor_start(f->rt, &spec, &sup), 0);
    p = tr_whereis(f->rt, "kv");
    assert_false(tr_pid_is_none(p));
    assert_rc(tr_exit(f->rt, sup, tr_reason_kill()), 0);
    assert_rc(tr_await_exit(f->rt, p, 10000, NULL), 0);
    assert_rc(tr_await_exit(f->rt, sup, 10000, NULL), 0);
    assert_rc(tr_unregister(f->rt, "kv"), TR_ENOTFOUND);
    assert_int_equal(tr_registered_count(f->rt), base);

    /* a supervisor crashing (an error reason from its parent): the same */
    assert_rc(tr_supervisor_start(f->rt, &spec, &sup), 0);
    p = tr_whereis(f->rt, "kv");
    assert_rc(tr_exit(f->rt, p, tr_reason_kill()), 0);
    assert_rc(tr_await_exit(f->rt, p, 10000, NULL), 0);
    assert_rc(tr_call_named(f->rt, "kv", 1, NULL, 0, NULL, 1000), TR_EAGAIN);
    assert_rc(tr_exit(f->rt, sup, tr_reason_error(3, "boom")), 0);
    assert_rc(tr_await_exit(f->rt, sup, 10000, NULL), 0);
    assert_rc(tr_unregister(f->rt, "kv"), TR_ENOTFOUND);
    /* and the name is free for anyone */
    assert_rc(tr_register(f->rt, "kv", tu_probe(f->rt, f->log, false), NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_named_spawn),
        TU_TEST(test_named_spawn_taken),
        TU_TEST(test_named_spawn_init_fails_and_bad_names),
        TU_TEST4(test_sup_named_child_across_restarts),
        TU_TEST(test_sup_named_child_errors),
        TU_TEST(test_sup_killed_frees_kept_names),
        TU_TEST(test_sup_named_fiber_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
