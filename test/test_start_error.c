/* Why a start failed (issue 10, item 7): tr_spawn_opts.error and
 * tr_supervisor_start_ex report init's own reason, the child that failed,
 * and what is wrong with a bad child spec. */
#include "testutil.h"

typedef struct how {
    int mode; /* 0 accept, 1 tr_stop, 2 tr_fail, 3 return non-zero */
    int code;
    const char *text;
} how;

static int h_init(tr_self *self, void *state, const void *arg) {
    (void)state;
    const how *h = arg;
    if (!h || h->mode == 0)
        return TR_CONTINUE;
    if (h->mode == 1)
        return tr_stop(self, tr_reason_error(h->code, h->text));
    if (h->mode == 2)
        tr_fail(self, tr_reason_error(h->code, h->text));
    return TR_STOP;
}

static const tr_behaviour h_b = {.name = "how", .init = h_init};

static void test_spawn_reports_init_reason(void **state) {
    tu_fix *f = *state;
    tr_start_error e;
    memset(&e, 0x55, sizeof e);
    tr_spawn_opts o = {.error = &e};
    tr_pid p;
    how ok = {0, 0, NULL};
    assert_rc(tr_spawn(f->rt, &h_b, &ok, &o, &p), 0);
    assert_reason_kind(e.reason, TR_EXIT_NORMAL);
    assert_int_equal(e.child_index, -1);
    assert_string_equal(e.child_id, "");

    how stop = {1, 42, "no config file"};
    assert_rc(tr_spawn(f->rt, &h_b, &stop, &o, &p), TR_EINIT);
    assert_reason_kind(e.reason, TR_EXIT_ERROR);
    assert_int_equal(e.reason.code, 42);
    assert_string_equal(e.reason.text, "no config file");

    how fail = {2, -1000, "crashed in init"};
    assert_rc(tr_spawn(f->rt, &h_b, &fail, &o, &p), TR_EINIT);
    assert_int_equal(e.reason.code, -1000);
    assert_string_equal(e.reason.text, "crashed in init");

    how refuse = {3, 0, NULL};
    assert_rc(tr_spawn(f->rt, &h_b, &refuse, &o, &p), TR_EINIT);
    assert_reason_kind(e.reason, TR_EXIT_NORMAL);

    /* not an init failure: the code, with its text */
    o.name = "taken";
    assert_rc(tr_spawn(f->rt, &h_b, &ok, &o, &p), 0);
    assert_rc(tr_spawn(f->rt, &h_b, &ok, &o, &p), TR_EEXIST);
    assert_int_equal(e.reason.code, TR_EEXIST);
    assert_string_equal(e.reason.text, tr_strerror(TR_EEXIST));

    /* on a fiber, the same */
    tr_spawn_opts fo = {.error = &e, .on_fiber = true};
    assert_rc(tr_spawn(f->rt, &h_b, &stop, &fo, &p), TR_EINIT);
    assert_int_equal(e.reason.code, 42);
    fo.stack_size = 1; /* refused before anything */
    assert_rc(tr_spawn(f->rt, &h_b, &ok, &fo, &p), TR_EINVAL);
    assert_int_equal(e.reason.code, TR_EINVAL);
}

static tr_sup_spec two_kids(tr_child_spec *k, const how *first, const how *second) {
    memset(k, 0, 2 * sizeof *k);
    k[0].id = "first";
    k[0].behaviour = &h_b;
    k[0].arg = first;
    k[0].shutdown_ms = 1000;
    k[1].id = "second";
    k[1].behaviour = &h_b;
    k[1].arg = second;
    k[1].shutdown_ms = 1000;
    tr_sup_spec s;
    memset(&s, 0, sizeof s);
    s.children = k;
    s.n_children = 2;
    return s;
}

/* Which child failed, and why; the one started before is gone. */
static void test_supervisor_start_reports_child(void **state) {
    tu_fix *f = *state;
    how ok = {0, 0, NULL}, bad = {1, 7, "port in use"};
    tr_child_spec k[2];
    tr_sup_spec s = two_kids(k, &ok, &bad);
    size_t before = tr_runtime_actor_count(f->rt);
    tr_start_error e;
    tr_pid sup;
    assert_rc(tr_supervisor_start_ex(f->rt, &s, &sup, &e), TR_EINIT);
    assert_string_equal(e.child_id, "second");
    assert_int_equal(e.child_index, 1);
    assert_reason_kind(e.reason, TR_EXIT_ERROR);
    assert_int_equal(e.reason.code, 7);
    assert_string_equal(e.reason.text, "port in use");
    assert_true(TU_WAIT(tr_runtime_actor_count(f->rt) == before, 10000));
    /* success: zeroed */
    s = two_kids(k, &ok, &ok);
    assert_rc(tr_supervisor_start_ex(f->rt, &s, &sup, &e), 0);
    assert_int_equal(e.child_index, -1);
    assert_reason_kind(e.reason, TR_EXIT_NORMAL);
    assert_rc(tr_supervisor_stop(f->rt, sup, 10000), 0);
    /* NULL error: plain tr_supervisor_start */
    s = two_kids(k, &bad, &ok);
    assert_rc(tr_supervisor_start_ex(f->rt, &s, &sup, NULL), TR_EINIT);
}

static void expect_bad(tr_runtime *rt, const tr_sup_spec *s, const char *what, long index,
                       const char *id) {
    tr_start_error e;
    tr_pid sup;
    assert_rc(tr_supervisor_start_ex(rt, s, &sup, &e), TR_EINVAL);
    assert_int_equal(e.reason.code, TR_EINVAL);
    assert_string_equal(e.reason.text, what);
    assert_int_equal(e.child_index, index);
    assert_string_equal(e.child_id, id);
}

/* A bad spec says what is wrong and where. */
static void test_supervisor_bad_spec_says_what(void **state) {
    tu_fix *f = *state;
    how ok = {0, 0, NULL};
    tr_child_spec k[2];
    tr_sup_spec s = two_kids(k, &ok, &ok);
    k[1].id = "first";
    expect_bad(f->rt, &s, "duplicate id", 1, "first");
    s = two_kids(k, &ok, &ok);
    k[1].behaviour = NULL;
    expect_bad(f->rt, &s, "missing behaviour", 1, "second");
    s = two_kids(k, &ok, &ok);
    k[0].restart = (tr_restart_type)9;
    expect_bad(f->rt, &s, "bad restart type", 0, "first");
    s = two_kids(k, &ok, &ok);
    k[1].shutdown_ms = -7;
    expect_bad(f->rt, &s, "bad shutdown", 1, "second");
    s = two_kids(k, &ok, &ok);
    k[0].name = "n";
    k[1].name = "n";
    expect_bad(f->rt, &s, "duplicate name", 1, "second");
    s = two_kids(k, &ok, &ok);
    s.flags.strategy = (tr_strategy)11;
    expect_bad(f->rt, &s, "bad strategy", -1, "");
    s = two_kids(k, &ok, &ok);
    s.flags.strategy = TR_SIMPLE_ONE_FOR_ONE;
    expect_bad(f->rt, &s, "simple_one_for_one needs exactly one template", -1, "");
    tr_start_error e;
    assert_rc(tr_supervisor_start_ex(f->rt, NULL, NULL, &e), TR_EINVAL);
    assert_string_equal(e.reason.text, "no spec");
}

/* start_child, restart_child and a simple_one_for_one start say why the
 * child's init failed and which child it was (tr_*_ex). */
static void test_start_child_reports_reason(void **state) {
    tu_fix *f = *state;
    how ok = {0, 0, NULL}, bad = {1, 7, "port in use"};
    tr_child_spec k[2];
    tr_sup_spec s = two_kids(k, &ok, &ok);
    tr_pid sup, p;
    assert_rc(tr_supervisor_start(f->rt, &s, &sup), 0);
    tr_start_error e;
    memset(&e, 0x55, sizeof e);
    tr_child_spec third = k[0];
    third.id = "third";
    third.arg = &bad;
    assert_rc(tr_supervisor_start_child_ex(f->rt, sup, &third, &p, &e), TR_EINIT);
    assert_string_equal(e.child_id, "third");
    assert_int_equal(e.child_index, -1);
    assert_reason_kind(e.reason, TR_EXIT_ERROR);
    assert_int_equal(e.reason.code, 7);
    assert_string_equal(e.reason.text, "port in use");
    /* the plain call: the same code, and the error text in the reply */
    assert_rc(tr_supervisor_start_child(f->rt, sup, &third, &p), TR_EINIT);
    tr_buf reply = {0};
    assert_rc(tr_call(f->rt, sup, TR_SUP_START_CHILD, &third, sizeof third, &reply, 10000),
              TR_EINIT);
    assert_non_null(reply.data);
    assert_string_equal((const char *)reply.data,
                        "failed to start child third: error(7): port in use");
    tr_buf_free(&reply);
    /* refused specs say what is wrong */
    assert_rc(tr_supervisor_start_child_ex(f->rt, sup, &k[0], &p, &e), TR_EEXIST);
    assert_string_equal(e.child_id, "first");
    assert_string_equal(e.reason.text, "duplicate id");
    third.behaviour = NULL;
    assert_rc(tr_supervisor_start_child_ex(f->rt, sup, &third, &p, &e), TR_EINVAL);
    assert_int_equal(e.reason.code, TR_EINVAL);
    assert_string_equal(e.reason.text, "missing behaviour");
    /* success: zeroed */
    third.behaviour = &h_b;
    third.arg = &ok;
    memset(&e, 0x55, sizeof e);
    assert_rc(tr_supervisor_start_child_ex(f->rt, sup, &third, &p, &e), 0);
    assert_false(tr_pid_is_none(p));
    assert_int_equal(e.child_index, -1);
    assert_reason_kind(e.reason, TR_EXIT_NORMAL);
    assert_string_equal(e.child_id, "");

    /* restart_child: init's reason; a child that runs is TR_ERUNNING */
    assert_rc(tr_supervisor_restart_child_ex(f->rt, sup, "first", &p, &e), TR_ERUNNING);
    assert_string_equal(e.child_id, "first");
    assert_int_equal(e.reason.code, TR_ERUNNING);
    assert_rc(tr_supervisor_restart_child_ex(f->rt, sup, "nope", &p, &e), TR_ENOTFOUND);
    assert_string_equal(e.child_id, "nope");
    assert_rc(tr_supervisor_stop(f->rt, sup, 10000), 0);

    /* a supervisor whose child "second" fails on a restart */
    how flip = {0, 0, NULL};
    s = two_kids(k, &ok, &flip);
    assert_rc(tr_supervisor_start(f->rt, &s, &sup), 0);
    assert_rc(tr_supervisor_terminate_child(f->rt, sup, "second", TR_PID_NONE), 0);
    flip.mode = 2;
    flip.code = -1001;
    flip.text = "disk gone";
    assert_rc(tr_supervisor_restart_child_ex(f->rt, sup, "second", &p, &e), TR_EINIT);
    assert_string_equal(e.child_id, "second");
    assert_int_equal(e.child_index, -1);
    assert_int_equal(e.reason.code, -1001);
    assert_string_equal(e.reason.text, "disk gone");
    assert_rc(tr_supervisor_restart_child(f->rt, sup, "second", &p), TR_EINIT);
    flip.mode = 0;
    assert_rc(tr_supervisor_restart_child_ex(f->rt, sup, "second", &p, &e), 0);
    assert_reason_kind(e.reason, TR_EXIT_NORMAL);
    assert_rc(tr_supervisor_stop(f->rt, sup, 10000), 0);

    /* simple_one_for_one: the template's id, the child's reason */
    tr_child_spec tmpl = k[0];
    tmpl.id = "worker";
    tmpl.restart = TR_TEMPORARY;
    tr_sup_spec ss;
    memset(&ss, 0, sizeof ss);
    ss.flags.strategy = TR_SIMPLE_ONE_FOR_ONE;
    ss.children = &tmpl;
    ss.n_children = 1;
    assert_rc(tr_supervisor_start(f->rt, &ss, &sup), 0);
    tr_child_spec one;
    memset(&one, 0, sizeof one);
    how bad2 = {1, 11, "no socket"};
    one.arg = &bad2;
    assert_rc(tr_supervisor_start_child_ex(f->rt, sup, &one, &p, &e), TR_EINIT);
    assert_string_equal(e.child_id, "worker");
    assert_int_equal(e.reason.code, 11);
    assert_string_equal(e.reason.text, "no socket");
    one.arg = &ok;
    assert_rc(tr_supervisor_start_child_ex(f->rt, sup, &one, &p, &e), 0);
    assert_false(tr_pid_is_none(p));
    assert_rc(tr_supervisor_stop(f->rt, sup, 10000), 0);
    /* the call itself failing: its code */
    assert_rc(tr_supervisor_start_child_ex(f->rt, sup, &one, &p, &e), TR_ENOPROC);
    assert_int_equal(e.reason.code, TR_ENOPROC);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_spawn_reports_init_reason),
        TU_TEST(test_supervisor_start_reports_child),
        TU_TEST(test_supervisor_bad_spec_says_what),
        TU_TEST(test_start_child_reports_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
