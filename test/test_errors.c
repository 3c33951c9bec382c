/* Error codes (tr_strerror, tr_err_name), exit reasons, and the rule that
 * bad arguments to every public actor.h function give TR_EINVAL, never a
 * crash. */
#include "testutil.h"

#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* tr_strerror / tr_err_name                                                 */
/* ------------------------------------------------------------------------ */

typedef struct err_row {
    int code;
    const char *name;
    const char *text;
} err_row;

#define ROW(name, val, text) {val, "TR_" #name, text},
static const err_row k_rows[] = {TR_ERRNO_MAP(ROW)};
#undef ROW
#define N_ROWS (sizeof k_rows / sizeof k_rows[0])

static void test_every_code_has_text_and_name(void **state) {
    (void)state;
    assert_int_equal(N_ROWS, 29);
    for (size_t i = 0; i < N_ROWS; i++) {
        const char *t = tr_strerror(k_rows[i].code);
        const char *n = tr_err_name(k_rows[i].code);
        assert_non_null(t);
        assert_non_null(n);
        assert_string_equal(t, k_rows[i].text);
        assert_string_equal(n, k_rows[i].name);
        /* Stable: the same static string each time. */
        assert_ptr_equal(t, tr_strerror(k_rows[i].code));
        assert_ptr_equal(n, tr_err_name(k_rows[i].code));
    }
}

static void test_enum_values_match_table(void **state) {
    (void)state;
    assert_int_equal(TR_OK, 0);
    assert_int_equal(TR_EINVAL, -1);
    assert_int_equal(TR_ETIMEDOUT, -4);
    assert_int_equal(TR_EEXITED, -5);
    assert_int_equal(TR_ECANCELED, -18);
    assert_int_equal(TR_EKILLED, -19);
    assert_int_equal(TR_EAGAIN, -20);
    assert_string_equal(tr_err_name(TR_EAGAIN), "TR_EAGAIN");
    assert_string_equal(tr_err_name(TR_ETIMEDOUT), "TR_ETIMEDOUT");
    assert_string_equal(tr_strerror(TR_ENOPROC), "no such actor (dead or never existed)");
    /* Names and texts are distinct per code. */
    for (size_t i = 0; i < N_ROWS; i++)
        for (size_t j = i + 1; j < N_ROWS; j++) {
            assert_int_not_equal(k_rows[i].code, k_rows[j].code);
            assert_string_not_equal(tr_err_name(k_rows[i].code), tr_err_name(k_rows[j].code));
            assert_string_not_equal(tr_strerror(k_rows[i].code), tr_strerror(k_rows[j].code));
        }
}

static void test_unknown_codes(void **state) {
    (void)state;
    const int unknown[] = {-30, -100, -1000, 1, 2, 42, 1000, INT_MIN, INT_MAX, INT_MIN + 1};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(tr_strerror(unknown[i]),
                            unknown[i] > 0 ? "not an error (a positive value)"
                                           : "not a troupe error code (an application's code? it "
                                             "belongs in tr_buf.code / tr_msg.code)");
        assert_string_equal(tr_err_name(unknown[i]), "TR_UNKNOWN");
    }
    /* tr_err_describe prints the value of any code. */
    char buf[160];
    assert_string_equal(tr_err_describe(-1000, buf, sizeof buf),
                        "TR_UNKNOWN (-1000): not a troupe error code (an application's code? it "
                        "belongs in tr_buf.code / tr_msg.code)");
    assert_string_equal(tr_err_describe(TR_ETIMEDOUT, buf, sizeof buf),
                        "TR_ETIMEDOUT (-4): timed out");
    assert_null(tr_err_describe(-4, NULL, 0));
    assert_string_equal(tr_err_describe(-4, buf, 3), "TR");
    /* 0 is success: some static text, never NULL, never an error's text. */
    assert_non_null(tr_strerror(0));
    assert_non_null(tr_err_name(0));
    for (size_t i = 0; i < N_ROWS; i++)
        assert_string_not_equal(tr_err_name(0), k_rows[i].name);
}

/* ------------------------------------------------------------------------ */
/* Exit reasons                                                              */
/* ------------------------------------------------------------------------ */

static void test_reasons(void **state) {
    (void)state;
    char buf[128];
    tr_reason n = tr_reason_normal(), s = tr_reason_shutdown(), k = tr_reason_kill();
    assert_int_equal(n.kind, TR_EXIT_NORMAL);
    assert_int_equal(s.kind, TR_EXIT_SHUTDOWN);
    assert_int_equal(k.kind, TR_EXIT_KILL);
    assert_true(tr_reason_is_normal(&n));
    assert_false(tr_reason_is_normal(&s));
    assert_false(tr_reason_is_normal(&k));
    assert_string_equal(tr_reason_format(&n, buf, sizeof buf), "normal");
    assert_ptr_equal(tr_reason_format(&s, buf, sizeof buf), buf);
    assert_string_equal(buf, "shutdown");

    tr_reason e = tr_reason_error(42, "boom");
    assert_int_equal(e.kind, TR_EXIT_ERROR);
    assert_int_equal(e.code, 42);
    assert_string_equal(e.text, "boom");
    assert_false(tr_reason_is_normal(&e));
    assert_string_equal(tr_reason_format(&e, buf, sizeof buf), "error(42): boom");

    tr_reason neg = tr_reason_error(TR_ETIMEDOUT, "slow");
    assert_string_equal(tr_reason_format(&neg, buf, sizeof buf), "error(-4): slow");

    tr_reason z = tr_reason_error(7, NULL);
    assert_string_equal(z.text, "");

    tr_reason killed = {.kind = TR_EXIT_KILLED};
    tr_reason noproc = {.kind = TR_EXIT_NOPROC};
    assert_string_equal(tr_reason_format(&killed, buf, sizeof buf), "killed");
    assert_string_equal(tr_reason_format(&noproc, buf, sizeof buf), "noproc");
    assert_false(tr_reason_is_normal(&killed));
    assert_false(tr_reason_is_normal(&noproc));
}

static void test_reason_text_truncated(void **state) {
    (void)state;
    char longtext[200];
    memset(longtext, 'x', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = 0;
    tr_reason e = tr_reason_error(1, longtext);
    assert_int_equal(strlen(e.text), 55);
    assert_int_equal(e.text[55], 0);

    /* Format into a small buffer: truncated, always NUL-terminated. */
    char small[8];
    memset(small, '#', sizeof small);
    tr_reason_format(&e, small, sizeof small);
    assert_int_equal(small[7], 0);
    assert_int_equal(strlen(small), 7);
    assert_memory_equal(small, "error(1", 7);

    /* size 0: buf untouched. */
    char untouched = '#';
    tr_reason_format(&e, &untouched, 0);
    assert_int_equal(untouched, '#');
}

static void test_msg_reason(void **state) {
    (void)state;
    tr_reason r = tr_reason_error(3, "x");
    tr_msg m;
    memset(&m, 0, sizeof m);
    m.kind = TR_MSG_INFO;
    m.data = &r;
    m.size = sizeof r;
    assert_null(tr_msg_reason(&m));
    m.kind = TR_MSG_CAST;
    assert_null(tr_msg_reason(&m));
    m.kind = TR_MSG_TIMER;
    assert_null(tr_msg_reason(&m));
    m.kind = TR_MSG_REPLY;
    assert_null(tr_msg_reason(&m));
}

/* ------------------------------------------------------------------------ */
/* Bad arguments: TR_EINVAL, not a crash                                     */
/* ------------------------------------------------------------------------ */

static void test_runtime_bad_args(void **state) {
    (void)state;
    tr_runtime *rt = (tr_runtime *)(uintptr_t)0x1; /* must stay untouched */
    assert_rc(tr_runtime_start(NULL, NULL), TR_EINVAL);
    tr_runtime_opts o;
    memset(&o, 0, sizeof o);
    assert_rc(tr_runtime_start(&o, NULL), TR_EINVAL);
    o.threads = 1025;
    assert_rc(tr_runtime_start(&o, &rt), TR_EINVAL);
    assert_ptr_equal(rt, (tr_runtime *)(uintptr_t)0x1);
    assert_rc(tr_runtime_stop(NULL), TR_EINVAL);
    tr_runtime_free(NULL); /* documented no-op */
}

static void dtor_count(void *p);
static atomic_int g_dtor_calls;
static void dtor_count(void *p) {
    (void)p;
    atomic_fetch_add(&g_dtor_calls, 1);
}

static void test_thread_side_bad_args(void **state) {
    tu_fix *f = *state;
    tr_runtime *rt = f->rt;
    tr_pid p = tu_probe(rt, NULL, false);
    tr_pid none = TR_PID_NONE;
    char buf[8] = "abcdefg";
    int rc;

    /* Spawning. */
    assert_rc(tr_spawn(NULL, tu_probe_behaviour(), NULL, NULL, NULL), TR_EINVAL);
    assert_rc(tr_spawn(rt, NULL, NULL, NULL, NULL), TR_EINVAL);
    assert_rc(tr_spawn_link(NULL, tu_probe_behaviour(), NULL, NULL), TR_EINVAL);

    /* Exit signals and liveness. */
    assert_rc(tr_exit(NULL, p, tr_reason_shutdown()), TR_EINVAL);
    rc = tr_exit(rt, none, tr_reason_shutdown());
    assert_true(rc == TR_EINVAL || rc == TR_ENOPROC);
    assert_false(tr_is_alive(rt, none));
    assert_false(tr_is_alive(NULL, p));

    /* Await. */
    tr_reason r;
    assert_rc(tr_await_exit(NULL, p, 100, &r), TR_EINVAL);
    assert_rc(tr_await_exit(rt, p, 0, &r), TR_EINVAL);
    assert_rc(tr_await_exit(rt, p, -2, &r), TR_EINVAL);
    assert_rc(tr_await_exit(rt, p, -1000, &r), TR_EINVAL);

    /* Links and monitors need a running actor. */
    assert_rc(tr_link(NULL, p), TR_EINVAL);
    assert_rc(tr_unlink(NULL, p), TR_EINVAL);
    assert_rc(tr_monitor(NULL, p, NULL), TR_EINVAL);
    assert_rc(tr_demonitor(NULL, 1), TR_EINVAL);

    /* Sending. */
    assert_rc(tr_send(NULL, p, 1, buf, 4), TR_EINVAL);
    assert_rc(tr_send(rt, p, 1, NULL, 4), TR_EINVAL);
    assert_rc(tr_cast(NULL, p, 1, buf, 4), TR_EINVAL);
    assert_rc(tr_cast(rt, p, 1, NULL, 4), TR_EINVAL);
    rc = tr_send(rt, none, 1, buf, 4);
    assert_true(rc == TR_EINVAL || rc == TR_ENOPROC);
    rc = tr_cast(rt, none, 1, buf, 4);
    assert_true(rc == TR_EINVAL || rc == TR_ENOPROC);
    atomic_store(&g_dtor_calls, 0);
    assert_rc(tr_cast_owned(NULL, p, 1, buf, 4, dtor_count), TR_EINVAL);
    assert_rc(tr_cast_owned(rt, p, 1, NULL, 4, dtor_count), TR_EINVAL);
    assert_rc(tr_send_owned(NULL, p, 1, buf, 4, dtor_count), TR_EINVAL);
    assert_rc(tr_send_owned(rt, p, 1, NULL, 4, dtor_count), TR_EINVAL);
    assert_int_equal(atomic_load(&g_dtor_calls), 0); /* on error the caller keeps data */

    /* Calls. */
    tr_buf reply = {.tag = 99, .data = buf, .size = 3};
    assert_rc(tr_call(NULL, p, TU_PING, NULL, 0, &reply, 1000), TR_EINVAL);
    assert_rc(tr_call(rt, p, TU_PING, NULL, 4, NULL, 1000), TR_EINVAL);
    assert_rc(tr_call(rt, p, TU_PING, NULL, 0, NULL, 0), TR_EINVAL);
    assert_rc(tr_call(rt, p, TU_PING, NULL, 0, NULL, -2), TR_EINVAL);
    rc = tr_call(rt, none, TU_PING, NULL, 0, NULL, 1000);
    assert_true(rc == TR_EINVAL || rc == TR_ENOPROC);
    assert_rc(tr_request(NULL, p, 1, NULL, 0, 1000, NULL), TR_EINVAL);

    /* Replies. */
    tr_from bad = {.rt = NULL, .pid = p, .ref = 1};
    assert_rc(tr_reply(bad, 0, buf, 4), TR_EINVAL);
    assert_rc(tr_reply_error(bad, TR_ENOTFOUND, "x"), TR_EINVAL);
    tr_from nodata = {.rt = rt, .pid = p, .ref = 12345};
    assert_rc(tr_reply(nodata, 0, NULL, 4), TR_EINVAL);

    /* Timers. */
    tr_timer t = 0;
    assert_rc(tr_send_after(NULL, p, 10, 1, NULL, 0, &t), TR_EINVAL);
    assert_rc(tr_send_after(rt, p, -1, 1, NULL, 0, &t), TR_EINVAL);
    assert_rc(tr_send_after(rt, p, 10, 1, NULL, 4, &t), TR_EINVAL);
    assert_rc(tr_send_interval(NULL, p, 10, 1, NULL, 0, &t), TR_EINVAL);
    assert_rc(tr_send_interval(rt, p, 0, 1, NULL, 0, &t), TR_EINVAL);
    assert_rc(tr_send_interval(rt, p, -5, 1, NULL, 0, &t), TR_EINVAL);
    assert_rc(tr_send_interval(rt, p, 10, 1, NULL, 4, &t), TR_EINVAL);
    assert_rc(tr_cancel_timer(NULL, 1), TR_EINVAL);
    assert_rc(tr_cancel_timer(rt, 0), TR_EINVAL);

    /* Introspection. */
    assert_rc(tr_mailbox_len(NULL, p), TR_EINVAL);
    long len = tr_mailbox_len(rt, none);
    assert_true(len == TR_EINVAL || len == TR_ENOPROC);

    /* Buffers. */
    tr_buf_free(NULL);
    tr_buf empty;
    memset(&empty, 0, sizeof empty);
    tr_buf_free(&empty);

    /* The probe is unharmed by all of the above. */
    assert_true(tr_is_alive(rt, p));
    tu_ping(rt, p);
}

/* Inside a callback: the functions that take tr_self, with bad arguments.
 * The actor records the codes; the test thread checks them. */
enum {
    CB_LINK_NONE,
    CB_LINK_SELF,
    CB_UNLINK_NONE,
    CB_DEMON_UNKNOWN,
    CB_DEMON_ZERO,
    CB_REQ_T0,
    CB_REQ_TNEG,
    CB_REQ_NULLDATA,
    CB_SPAWNLINK_NULLB,
    CB_N
};

static int checker_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)state;
    (void)m;
    int32_t rc[CB_N];
    tr_pid me = tr_self_pid(self);
    rc[CB_LINK_NONE] = tr_link(self, TR_PID_NONE);
    rc[CB_LINK_SELF] = tr_link(self, me);
    rc[CB_UNLINK_NONE] = tr_unlink(self, TR_PID_NONE);
    rc[CB_DEMON_UNKNOWN] = tr_demonitor(self, 0x7777777777ull);
    rc[CB_DEMON_ZERO] = tr_demonitor(self, 0);
    uint64_t id = 0;
    rc[CB_REQ_T0] = tr_request(self, me, 1, NULL, 0, 0, &id);
    rc[CB_REQ_TNEG] = tr_request(self, me, 1, NULL, 0, -7, &id);
    rc[CB_REQ_NULLDATA] = tr_request(self, me, 1, NULL, 4, 1000, &id);
    rc[CB_SPAWNLINK_NULLB] = tr_spawn_link(self, NULL, NULL, NULL);
    tr_reply(from, 0, rc, sizeof rc);
    return TR_CONTINUE;
}

static atomic_int g_checker_infos;
static int checker_info(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    (void)state;
    (void)m;
    atomic_fetch_add(&g_checker_infos, 1);
    return TR_CONTINUE;
}

static const tr_behaviour k_checker = {
    .name = "checker",
    .handle_call = checker_call,
    .handle_info = checker_info,
};

static void test_callback_side_bad_args(void **state) {
    tu_fix *f = *state;
    tr_pid c;
    atomic_store(&g_checker_infos, 0);
    assert_rc(tr_spawn(f->rt, &k_checker, NULL, NULL, &c), 0);
    tr_buf b;
    assert_rc(tr_call(f->rt, c, 1, NULL, 0, &b, 5000), 0);
    assert_int_equal(b.size, sizeof(int32_t) * CB_N);
    int32_t rc[CB_N];
    memcpy(rc, b.data, sizeof rc);
    tr_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.size, 0);
    assert_rc(rc[CB_LINK_NONE], TR_EINVAL);
    assert_rc(rc[CB_LINK_SELF], TR_EINVAL);
    assert_rc(rc[CB_UNLINK_NONE], TR_EINVAL);
    assert_rc(rc[CB_DEMON_UNKNOWN], TR_ENOTFOUND);
    assert_true(rc[CB_DEMON_ZERO] == TR_EINVAL || rc[CB_DEMON_ZERO] == TR_ENOTFOUND);
    assert_rc(rc[CB_REQ_T0], TR_EINVAL);
    assert_rc(rc[CB_REQ_TNEG], TR_EINVAL);
    assert_rc(rc[CB_REQ_NULLDATA], TR_EINVAL);
    assert_rc(rc[CB_SPAWNLINK_NULLB], TR_EINVAL);
    /* The refused requests sent nothing: no REPLY ever comes. */
    tu_sleep_ms(100);
    assert_true(tr_is_alive(f->rt, c));
    assert_int_equal(atomic_load(&g_checker_infos), 0);
}

/* tr_fail outside a callback aborts the process (documented). Run it in a
 * child process that has no runtime. */
static void test_fail_outside_callback_aborts(void **state) {
    (void)state;
    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore);
        tr_fail(NULL, tr_reason_error(1, "outside"));
        _exit(0); /* not reached */
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_text_and_name),
        cmocka_unit_test(test_enum_values_match_table),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_reason_text_truncated),
        cmocka_unit_test(test_msg_reason),
        cmocka_unit_test(test_runtime_bad_args),
        TU_TEST(test_thread_side_bad_args),
        TU_TEST(test_callback_side_bad_args),
        cmocka_unit_test(test_fail_outside_callback_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
