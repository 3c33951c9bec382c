/* The name registry: register/whereis/unregister, duplicates, automatic
 * removal on exit, call/cast/send by name, bad names. */
#include "testutil.h"

static void test_register_whereis_unregister(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, false);
    size_t before = tr_registered_count(f->rt);
    assert_true(tr_pid_is_none(tr_whereis(f->rt, "alpha")));
    assert_rc(tr_register(f->rt, "alpha", a, NULL), 0);
    assert_pid_equal(tr_whereis(f->rt, "alpha"), a);
    assert_int_equal(tr_registered_count(f->rt), before + 1);
    /* Names are copied. */
    char name[16] = "beta";
    assert_rc(tr_register(f->rt, name, a, NULL), 0);
    strcpy(name, "gamma");
    assert_pid_equal(tr_whereis(f->rt, "beta"), a);
    assert_true(tr_pid_is_none(tr_whereis(f->rt, "gamma")));
    /* Case matters. */
    assert_true(tr_pid_is_none(tr_whereis(f->rt, "ALPHA")));
    assert_rc(tr_unregister(f->rt, "alpha"), 0);
    assert_true(tr_pid_is_none(tr_whereis(f->rt, "alpha")));
    assert_rc(tr_unregister(f->rt, "alpha"), TR_ENOTFOUND);
    assert_int_equal(tr_registered_count(f->rt), before + 1);
    assert_true(tr_is_alive(f->rt, a)); /* unregister does not touch the actor */
    /* The name is free again. */
    tr_pid b = tu_probe(f->rt, f->log, false);
    assert_rc(tr_register(f->rt, "alpha", b, NULL), 0);
    assert_pid_equal(tr_whereis(f->rt, "alpha"), b);
}

static void test_duplicate_eexist_names_holder(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, false);
    tr_pid b = tu_probe(f->rt, f->log, false);
    assert_rc(tr_register(f->rt, "taken", a, NULL), 0);
    tr_pid holder = TR_PID_NONE;
    assert_rc(tr_register(f->rt, "taken", b, &holder), TR_EEXIST);
    assert_pid_equal(holder, a);
    assert_rc(tr_register(f->rt, "taken", b, NULL), TR_EEXIST);
    /* Same actor, same name: still taken. */
    assert_rc(tr_register(f->rt, "taken", a, &holder), TR_EEXIST);
    assert_pid_equal(holder, a);
    assert_pid_equal(tr_whereis(f->rt, "taken"), a);
}

static void test_name_removed_on_exit(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, false);
    size_t before = tr_registered_count(f->rt);
    assert_rc(tr_register(f->rt, "mortal", a, NULL), 0);
    tu_stop(f->rt, a, tr_reason_normal());
    (void)tu_await(f->rt, a);
    assert_true(TU_WAIT(tr_pid_is_none(tr_whereis(f->rt, "mortal")), 5000));
    assert_int_equal(tr_registered_count(f->rt), before);
    assert_rc(tr_unregister(f->rt, "mortal"), TR_ENOTFOUND);
    assert_rc(tr_send_named(f->rt, "mortal", 1, NULL, 0), TR_ENOTFOUND);

    /* Killed and crashed actors lose their names too. */
    tr_pid b = tu_probe(f->rt, f->log, true);
    tr_pid c = tu_probe(f->rt, f->log, false);
    assert_rc(tr_register(f->rt, "killed", b, NULL), 0);
    assert_rc(tr_register(f->rt, "crashed", c, NULL), 0);
    assert_rc(tr_exit(f->rt, b, tr_reason_kill()), 0);
    tu_fail(f->rt, c, tr_reason_error(1, "x"));
    assert_true(TU_WAIT(tr_pid_is_none(tr_whereis(f->rt, "killed")), 5000));
    assert_true(TU_WAIT(tr_pid_is_none(tr_whereis(f->rt, "crashed")), 5000));

    /* A new actor can take the name. */
    tr_pid d = tu_probe(f->rt, f->log, false);
    assert_rc(tr_register(f->rt, "mortal", d, NULL), 0);
    assert_pid_equal(tr_whereis(f->rt, "mortal"), d);
}

static void test_register_dead_pid(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, false);
    tu_stop(f->rt, a, tr_reason_normal());
    (void)tu_await(f->rt, a);
    assert_rc(tr_register(f->rt, "ghost", a, NULL), TR_ENOPROC);
    assert_true(tr_pid_is_none(tr_whereis(f->rt, "ghost")));
    int rc = tr_register(f->rt, "nobody", TR_PID_NONE, NULL);
    assert_true(rc == TR_EINVAL || rc == TR_ENOPROC);
}

static void test_call_cast_send_by_name(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, false);
    assert_rc(tr_register(f->rt, "svc", a, NULL), 0);
    tr_buf b;
    assert_rc(tr_call_named(f->rt, "svc", TU_PING, NULL, 0, &b, 5000), 0);
    assert_int_equal(b.size, sizeof(tu_cmd_result));
    tu_cmd_result r;
    memcpy(&r, b.data, sizeof r);
    tr_buf_free(&b);
    assert_true(r.extra == a.id);
    assert_rc(tr_cast_named(f->rt, "svc", 5, "c", 2), 0);
    assert_rc(tr_send_named(f->rt, "svc", 6, "s", 2), 0);
    assert_true(tu_log_wait(f->log, a, TU_EV_CAST, TU_ANY, 1, 5000));
    assert_true(tu_log_wait(f->log, a, TU_EV_INFO, TR_MSG_INFO, 1, 5000));
    tu_event e;
    assert_true(tu_log_get(f->log, a, TU_EV_CAST, TU_ANY, 0, &e));
    assert_int_equal(e.kind, TR_MSG_CAST);
    assert_int_equal(e.tag, 5);
    assert_string_equal((char *)e.data, "c");
    assert_true(tu_log_get(f->log, a, TU_EV_INFO, TR_MSG_INFO, 0, &e));
    assert_int_equal(e.tag, 6);
    assert_string_equal((char *)e.data, "s");

    /* Unknown names. */
    assert_rc(tr_call_named(f->rt, "nope", TU_PING, NULL, 0, &b, 1000), TR_ENOTFOUND);
    assert_null(b.data);
    assert_rc(tr_cast_named(f->rt, "nope", 1, NULL, 0), TR_ENOTFOUND);
    assert_rc(tr_send_named(f->rt, "nope", 1, NULL, 0), TR_ENOTFOUND);
}

static void test_one_actor_several_names(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, false);
    size_t before = tr_registered_count(f->rt);
    const char *names[] = {"n1", "n2", "n3", "n4"};
    for (int i = 0; i < 4; i++)
        assert_rc(tr_register(f->rt, names[i], a, NULL), 0);
    assert_int_equal(tr_registered_count(f->rt), before + 4);
    for (int i = 0; i < 4; i++)
        assert_pid_equal(tr_whereis(f->rt, names[i]), a);
    assert_rc(tr_unregister(f->rt, "n2"), 0);
    assert_pid_equal(tr_whereis(f->rt, "n1"), a);
    assert_true(tr_pid_is_none(tr_whereis(f->rt, "n2")));
    tu_stop(f->rt, a, tr_reason_normal());
    (void)tu_await(f->rt, a);
    for (int i = 0; i < 4; i++)
        assert_true(TU_WAIT(tr_pid_is_none(tr_whereis(f->rt, names[i])), 5000));
    assert_int_equal(tr_registered_count(f->rt), before);
}

static void test_invalid_names(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, false);
    char longest[TR_NAME_MAX + 1];
    memset(longest, 'n', TR_NAME_MAX);
    longest[TR_NAME_MAX] = 0;
    char toolong[TR_NAME_MAX + 2];
    memset(toolong, 'n', TR_NAME_MAX + 1);
    toolong[TR_NAME_MAX + 1] = 0;

    assert_rc(tr_register(f->rt, "", a, NULL), TR_EINVAL);
    assert_rc(tr_register(f->rt, NULL, a, NULL), TR_EINVAL);
    assert_rc(tr_register(NULL, "x", a, NULL), TR_EINVAL);
    assert_rc(tr_register(f->rt, toolong, a, NULL), TR_EINVAL);
    assert_rc(tr_register(f->rt, longest, a, NULL), 0);
    assert_pid_equal(tr_whereis(f->rt, longest), a);
    assert_true(tr_pid_is_none(tr_whereis(f->rt, toolong)));

    assert_true(tr_pid_is_none(tr_whereis(f->rt, "")));
    assert_true(tr_pid_is_none(tr_whereis(f->rt, NULL)));
    assert_true(tr_pid_is_none(tr_whereis(NULL, "x")));

    assert_rc(tr_unregister(f->rt, NULL), TR_EINVAL);
    assert_rc(tr_unregister(NULL, "x"), TR_EINVAL);
    int rc = tr_unregister(f->rt, "");
    assert_true(rc == TR_EINVAL || rc == TR_ENOTFOUND);
    assert_rc(tr_unregister(f->rt, "never-registered"), TR_ENOTFOUND);

    assert_rc(tr_send_named(f->rt, NULL, 1, NULL, 0), TR_EINVAL);
    assert_rc(tr_cast_named(f->rt, NULL, 1, NULL, 0), TR_EINVAL);
    assert_rc(tr_call_named(f->rt, NULL, 1, NULL, 0, NULL, 1000), TR_EINVAL);
    assert_rc(tr_send_named(NULL, "x", 1, NULL, 0), TR_EINVAL);
    assert_rc(tr_send_named(f->rt, longest, 1, NULL, 4), TR_EINVAL); /* data NULL, size 4 */
    assert_rc(tr_call_named(f->rt, longest, 1, NULL, 0, NULL, 0), TR_EINVAL); /* timeout 0 */
}

/* Many threads race for one name: exactly one wins, the others learn who. */
#define RACERS 8
typedef struct racer {
    tr_runtime *rt;
    tr_pid me;
    pthread_barrier_t *bar;
    int rc;
    tr_pid holder;
} racer;

static void *race_thread(void *p) {
    racer *r = p;
    pthread_barrier_wait(r->bar);
    r->rc = tr_register(r->rt, "contested", r->me, &r->holder);
    return NULL;
}

static void test_register_race(void **state) {
    tu_fix *f = *state;
    const int rounds = TU_SCALE(50, 10);
    for (int round = 0; round < rounds; round++) {
        racer r[RACERS];
        pthread_t th[RACERS];
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, RACERS);
        for (int i = 0; i < RACERS; i++) {
            r[i] = (racer){.rt = f->rt, .me = tu_probe(f->rt, NULL, false), .bar = &bar};
            pthread_create(&th[i], NULL, race_thread, &r[i]);
        }
        for (int i = 0; i < RACERS; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&bar);
        int winners = 0, winner = -1;
        for (int i = 0; i < RACERS; i++)
            if (r[i].rc == 0) {
                winners++;
                winner = i;
            }
        assert_int_equal(winners, 1);
        for (int i = 0; i < RACERS; i++) {
            if (i == winner)
                continue;
            assert_rc(r[i].rc, TR_EEXIST);
            assert_pid_equal(r[i].holder, r[winner].me);
        }
        assert_pid_equal(tr_whereis(f->rt, "contested"), r[winner].me);
        for (int i = 0; i < RACERS; i++)
            assert_rc(tr_exit(f->rt, r[i].me, tr_reason_kill()), 0);
        for (int i = 0; i < RACERS; i++)
            (void)tu_await(f->rt, r[i].me);
        assert_true(TU_WAIT(tr_pid_is_none(tr_whereis(f->rt, "contested")), 5000));
    }
}

/* An actor registering itself in init; call_named inside a callback. */
static atomic_int g_named_call_rc;
static int selfname_init(tr_self *self, void *state, const void *arg) {
    (void)state;
    return tr_register(tr_self_runtime(self), (const char *)arg, tr_self_pid(self), NULL) == 0
               ? TR_CONTINUE
               : tr_stop(self, tr_reason_error(1, "name taken"));
}
static int selfname_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)state;
    (void)m;
    atomic_store(&g_named_call_rc,
                 tr_call_named(tr_self_runtime(self), "selfnamed", 1, NULL, 0, NULL, 1000));
    return TR_CONTINUE;
}
static const tr_behaviour k_selfname = {
    .name = "selfname", .init = selfname_init, .handle_cast = selfname_cast};

static void test_register_in_init_and_call_named_in_callback(void **state) {
    tu_fix *f = *state;
    atomic_store(&g_named_call_rc, 1);
    tr_pid a;
    assert_rc(tr_spawn(f->rt, &k_selfname, "selfnamed", NULL, &a), 0);
    assert_pid_equal(tr_whereis(f->rt, "selfnamed"), a);
    /* A second one cannot take the name: init refuses. */
    assert_rc(tr_spawn(f->rt, &k_selfname, "selfnamed", NULL, NULL), TR_EINIT);
    assert_pid_equal(tr_whereis(f->rt, "selfnamed"), a);
    assert_rc(tr_cast_named(f->rt, "selfnamed", 0, NULL, 0), 0);
    assert_true(TU_WAIT(atomic_load(&g_named_call_rc) != 1, 5000));
    assert_rc(atomic_load(&g_named_call_rc), TR_EDEADLK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_register_whereis_unregister),
        TU_TEST(test_duplicate_eexist_names_holder),
        TU_TEST(test_name_removed_on_exit),
        TU_TEST(test_register_dead_pid),
        TU_TEST(test_call_cast_send_by_name),
        TU_TEST(test_one_actor_several_names),
        TU_TEST(test_invalid_names),
        TU_TEST4(test_register_race),
        TU_TEST(test_register_in_init_and_call_named_in_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
