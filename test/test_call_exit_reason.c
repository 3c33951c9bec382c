/* A server that exits before replying (issue 8, defect 7): a thread's
 * tr_call returns TR_EEXITED with the exit reason as text in reply->data
 * (NUL-terminated, formatted as tr_reason_format does, freed by the caller
 * with tr_buf_free), the same text an actor's tr_request gets in its
 * TR_MSG_REPLY. */
#include "testutil.h"

enum {
    S_FAIL = 1, /* call: tr_fail(error(42, "boom")) */
    S_DEFER,    /* call: keep from, no reply */
    S_CRASH,    /* cast: tr_fail(error(43, "boom later")) */
};

static atomic_int g_deferred;

static int srv_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)state;
    (void)from;
    if (m->tag == S_FAIL)
        tr_fail(self, tr_reason_error(42, "boom"));
    atomic_fetch_add(&g_deferred, 1);
    return TR_CONTINUE;
}

static int srv_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)state;
    if (m->tag == S_CRASH)
        tr_fail(self, tr_reason_error(43, "boom later"));
    return TR_CONTINUE;
}

static const tr_behaviour srv_b = {.name = "srv", .handle_call = srv_call, .handle_cast = srv_cast};

static void assert_reason_text(const tr_buf *b, const char *want) {
    assert_non_null(b->data);
    assert_true(b->size > 0);
    assert_int_equal(((const char *)b->data)[b->size - 1], '\0');
    assert_int_equal(strlen((const char *)b->data) + 1, b->size);
    assert_string_equal((const char *)b->data, want);
}

/* The server crashes inside handle_call. */
static void test_call_server_crash_gives_reason(void **state) {
    tu_fix *f = *state;
    tr_pid s;
    assert_rc(tr_spawn(f->rt, &srv_b, NULL, NULL, &s), 0);
    tr_buf b;
    assert_rc(tr_call(f->rt, s, S_FAIL, NULL, 0, &b, 10000), TR_EEXITED);
    assert_reason_text(&b, "error(42): boom");
    assert_non_null(strstr((const char *)b.data, "boom"));
    tr_buf_free(&b);
    assert_null(b.data);
    /* reply NULL: nothing to return, no leak */
    assert_rc(tr_spawn(f->rt, &srv_b, NULL, NULL, &s), 0);
    assert_rc(tr_call(f->rt, s, S_FAIL, NULL, 0, NULL, 10000), TR_EEXITED);
}

typedef struct caller_arg {
    tr_runtime *rt;
    tr_pid to;
    int rc;
    tr_buf reply;
} caller_arg;

static void *caller(void *p) {
    caller_arg *a = p;
    a->rc = tr_call(a->rt, a->to, S_DEFER, NULL, 0, &a->reply, 20000);
    return NULL;
}

/* The server kept `from` and crashes later (the caller learns it from its
 * monitor's DOWN). */
static void test_call_server_crash_later_gives_reason(void **state) {
    tu_fix *f = *state;
    atomic_store(&g_deferred, 0);
    tr_pid s;
    assert_rc(tr_spawn(f->rt, &srv_b, NULL, NULL, &s), 0);
    caller_arg a = {.rt = f->rt, .to = s};
    pthread_t th;
    pthread_create(&th, NULL, caller, &a);
    assert_true(TU_WAIT(atomic_load(&g_deferred) == 1, 10000));
    assert_rc(tr_cast(f->rt, s, S_CRASH, NULL, 0), 0);
    pthread_join(th, NULL);
    assert_rc(a.rc, TR_EEXITED);
    assert_reason_text(&a.reply, "error(43): boom later");
    tr_buf_free(&a.reply);
}

/* A thread and an actor calling the same kind of server get the same
 * text. */
static void test_call_and_request_get_same_reason(void **state) {
    tu_fix *f = *state;
    tr_pid s1, s2;
    assert_rc(tr_spawn(f->rt, &srv_b, NULL, NULL, &s1), 0);
    assert_rc(tr_spawn(f->rt, &srv_b, NULL, NULL, &s2), 0);
    tr_buf b;
    assert_rc(tr_call(f->rt, s1, S_FAIL, NULL, 0, &b, 10000), TR_EEXITED);
    tr_pid c = tu_probe(f->rt, f->log, false);
    tu_request_arg ra = {.to = s2, .tag = S_FAIL, .timeout_ms = 10000};
    assert_rc(tu_cmd(f->rt, c, TU_REQUEST, &ra, sizeof ra, NULL), 0);
    assert_true(tu_log_wait(f->log, c, TU_EV_INFO, TR_MSG_REPLY, 1, 10000));
    tu_event e;
    assert_true(tu_log_get(f->log, c, TU_EV_INFO, TR_MSG_REPLY, 0, &e));
    assert_rc(e.status, TR_EEXITED);
    assert_non_null(b.data);
    assert_string_equal((const char *)e.data, (const char *)b.data);
    tr_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_call_server_crash_gives_reason),
        TU_TEST(test_call_server_crash_later_gives_reason),
        TU_TEST(test_call_and_request_get_same_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
