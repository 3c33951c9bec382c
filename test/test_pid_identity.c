/* Pids (issue 8, defect 10):
 * - a pid belongs to its runtime: used with another runtime it names no
 *   process there (TR_ENOPROC for every call, tr_is_alive false), as an
 *   Erlang pid belongs to its node;
 * - a blocking caller's from.pid is a reply-only address (OTP's alias):
 *   tr_reply to it works, every other call refuses it with TR_ENOPROC;
 * - reason texts are NUL-terminated on receipt, so a forged tr_reason
 *   without a NUL is formatted safely (the ASan build checks the reads). */
#include "testutil.h"

static tr_runtime *g_rt2;

static int teardown2(void **state) {
    if (g_rt2)
        tr_runtime_free(&g_rt2);
    return tu_teardown(state);
}

#define TEST2(fn) cmocka_unit_test_setup_teardown(fn, tu_setup2, teardown2)

enum { ECHO = 1, DEFER = 2 };

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static tr_from g_from;
static atomic_int g_deferred;

static int srv_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)self;
    (void)state;
    if (m->tag == DEFER) {
        pthread_mutex_lock(&g_mu);
        g_from = from;
        pthread_mutex_unlock(&g_mu);
        atomic_fetch_add(&g_deferred, 1);
        return TR_CONTINUE;
    }
    tr_reply(from, m->tag, m->data, m->size);
    return TR_CONTINUE;
}

static const tr_behaviour srv_b = {.name = "srv", .handle_call = srv_call};

/* Every call that takes a pid, with `bad` (no process of rt): all refuse
 * with TR_ENOPROC. `prober` is a probe actor of rt that tries link and
 * monitor from inside a callback. */
static void assert_not_a_process(tr_runtime *rt, tr_pid bad, tr_pid prober) {
    assert_false(tr_is_alive(rt, bad));
    assert_rc(tr_send(rt, bad, 7, "x", 1), TR_ENOPROC);
    assert_rc(tr_cast(rt, bad, 7, "x", 1), TR_ENOPROC);
    assert_rc(tr_mailbox_len(rt, bad), TR_ENOPROC);
    assert_rc(tr_exit(rt, bad, tr_reason_shutdown()), TR_ENOPROC);
    assert_rc(tr_exit(rt, bad, tr_reason_kill()), TR_ENOPROC);
    tr_buf b;
    int64_t t0 = tu_now_ms();
    assert_rc(tr_call(rt, bad, ECHO, "x", 2, &b, 3000), TR_ENOPROC);
    assert_true(tu_now_ms() - t0 < 2000); /* refused, not timed out */
    assert_null(b.data);
    tr_reason r;
    assert_rc(tr_await_exit(rt, bad, 3000, &r), TR_ENOPROC);
    assert_rc(tr_send_after(rt, bad, 1, 7, NULL, 0, NULL), TR_ENOPROC);
    assert_rc(tr_send_interval(rt, bad, 1, 7, NULL, 0, NULL), TR_ENOPROC);
    tr_spawn_opts o;
    memset(&o, 0, sizeof o);
    o.link_to = bad;
    tr_pid p = TR_PID_NONE;
    assert_rc(tr_spawn(rt, &srv_b, NULL, &o, &p), TR_ENOPROC);
    assert_true(tr_pid_is_none(p));
    assert_rc(tr_register(rt, "not_a_process", bad, NULL), TR_ENOPROC);
    /* inside a callback: link and monitor refuse it too (nothing is
     * linked or monitored: no EXIT or DOWN follows) */
    assert_rc(tu_cmd(rt, prober, TU_LINK, &bad, sizeof bad, NULL), TR_ENOPROC);
    uint64_t ref = 0;
    assert_rc(tu_cmd(rt, prober, TU_MONITOR, &bad, sizeof bad, &ref), TR_ENOPROC);
    tu_request_arg ra = {.to = bad, .tag = ECHO, .timeout_ms = 1000};
    assert_rc(tu_cmd(rt, prober, TU_REQUEST, &ra, sizeof ra, NULL), TR_ENOPROC);
    tu_ping(rt, prober); /* still alive: no noproc exit signal */
}

static void test_pids_of_another_runtime_refused(void **state) {
    tu_fix *f = *state;
    g_rt2 = tu_start(2);
    assert_non_null(g_rt2);
    tr_pid p1 = tu_probe(f->rt, f->log, false);
    tr_pid p2 = tu_probe(g_rt2, f->log, false);
    print_message("pid in runtime 1: %#llx, in runtime 2: %#llx\n", (unsigned long long)p1.id,
                  (unsigned long long)p2.id);
    assert_false(tr_pid_eq(p1, p2));
    assert_true(tr_is_alive(f->rt, p1));
    assert_true(tr_is_alive(g_rt2, p2));
    tr_pid prober2 = tu_probe(g_rt2, f->log, false);
    assert_not_a_process(g_rt2, p1, prober2);
    tr_pid prober1 = tu_probe(f->rt, f->log, false);
    assert_not_a_process(f->rt, p2, prober1);
    /* nothing reached anyone, nobody was killed */
    assert_true(tr_is_alive(f->rt, p1));
    assert_true(tr_is_alive(g_rt2, p2));
    assert_int_equal(tu_log_count(f->log, TR_PID_NONE, TU_EV_CAST, TU_ANY), 0);
    assert_int_equal(tu_log_count(f->log, TR_PID_NONE, TU_EV_CALL, TU_ANY), 0);
    assert_int_equal(tu_log_count(f->log, TR_PID_NONE, TU_EV_TERM, TU_ANY), 0);
    tu_ping(f->rt, p1);
    tu_ping(g_rt2, p2);
    assert_rc(tr_runtime_free(&g_rt2), 0);
}

/* Many runtimes alive at once: no two hand out the same pid. */
static void test_live_runtimes_never_share_pids(void **state) {
    (void)state;
    enum { N = 8 };
    tr_runtime *rts[N];
    tr_pid pids[N];
    for (int i = 0; i < N; i++) {
        rts[i] = tu_start(1);
        assert_non_null(rts[i]);
        assert_rc(tr_spawn(rts[i], &srv_b, NULL, NULL, &pids[i]), 0);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (i != j) {
                assert_false(tr_pid_eq(pids[i], pids[j]));
                assert_false(tr_is_alive(rts[j], pids[i]));
            }
    for (int i = 0; i < N; i++)
        assert_rc(tr_runtime_free(&rts[i]), 0);
}

typedef struct caller_arg {
    tr_runtime *rt;
    tr_pid to;
    int rc;
    tr_buf reply;
} caller_arg;

static void *caller(void *p) {
    caller_arg *a = p;
    a->rc = tr_call(a->rt, a->to, DEFER, NULL, 0, &a->reply, 30000);
    return NULL;
}

static void test_caller_pid_is_reply_only(void **state) {
    tu_fix *f = *state;
    atomic_store(&g_deferred, 0);
    tr_pid s;
    assert_rc(tr_spawn(f->rt, &srv_b, NULL, NULL, &s), 0);
    caller_arg a = {.rt = f->rt, .to = s};
    pthread_t th;
    pthread_create(&th, NULL, caller, &a);
    assert_true(TU_WAIT(atomic_load(&g_deferred) == 1, 10000));
    pthread_mutex_lock(&g_mu);
    tr_from from = g_from;
    pthread_mutex_unlock(&g_mu);
    assert_false(tr_pid_is_none(from.pid));

    tr_pid prober = tu_probe(f->rt, f->log, false);
    assert_not_a_process(f->rt, from.pid, prober);

    /* the caller still waits, and a reply still reaches it */
    assert_rc(tr_reply(from, 9, "ok", 3), 0);
    pthread_join(th, NULL);
    assert_rc(a.rc, 0);
    assert_int_equal(a.reply.tag, 9);
    assert_string_equal((const char *)a.reply.data, "ok");
    tr_buf_free(&a.reply);
    /* a reply after the call ended is dropped, not an error */
    assert_rc(tr_reply(from, 9, "late", 5), 0);
}

/* A reason of 56 non-NUL text bytes, in a block of exactly its size (ASan
 * sees any read past it). */
static tr_reason *forged(void) {
    tr_reason *r = malloc(sizeof *r);
    assert_non_null(r);
    r->kind = TR_EXIT_ERROR;
    r->code = 7;
    memset(r->text, 'A', sizeof r->text);
    return r;
}

static bool terminated(const tr_reason *r) {
    return memchr(r->text, '\0', sizeof r->text) != NULL;
}

static void test_forged_reason_formats_safely(void **state) {
    (void)state;
    tr_reason *r = forged();
    char buf[256];
    tr_reason_format(r, buf, sizeof buf);
    /* at most the text's capacity as a string: 55 bytes */
    char want[128];
    snprintf(want, sizeof want, "error(7): %.*s", (int)sizeof r->text - 1, r->text);
    assert_string_equal(buf, want);
    free(r);
}

static void test_forged_reason_terminated_on_receipt(void **state) {
    tu_fix *f = *state;
    tr_reason *r = forged();
    /* tr_exit: the trapping target's EXIT message */
    tr_pid t = tu_probe(f->rt, f->log, true);
    assert_rc(tr_exit(f->rt, t, *r), 0);
    assert_true(tu_log_wait(f->log, t, TU_EV_INFO, TR_MSG_EXIT, 1, 10000));
    tu_event e;
    assert_true(tu_log_get(f->log, t, TU_EV_INFO, TR_MSG_EXIT, 0, &e));
    assert_true(e.has_reason);
    assert_true(terminated(&e.reason));
    /* tr_exit: a non-trapping target dies with it; its monitor's DOWN */
    tr_pid k = tu_probe(f->rt, f->log, false);
    tu_watch w = tu_watch_start(f->rt, f->log, k);
    assert_rc(tr_exit(f->rt, k, *r), 0);
    tr_reason d = tu_watch_wait(&w);
    assert_true(terminated(&d));
    /* tr_stop and tr_fail: terminate's reason and the DOWN */
    tr_pid ps = tu_probe(f->rt, f->log, false);
    tu_watch ws = tu_watch_start(f->rt, f->log, ps);
    tu_stop(f->rt, ps, *r);
    d = tu_watch_wait(&ws);
    assert_true(terminated(&d));
    tr_pid pf = tu_probe(f->rt, f->log, false);
    tu_watch wf = tu_watch_start(f->rt, f->log, pf);
    tu_fail(f->rt, pf, *r);
    d = tu_watch_wait(&wf);
    assert_true(terminated(&d));
    assert_true(tu_log_wait(f->log, pf, TU_EV_TERM, TU_ANY, 1, 10000));
    assert_true(tu_log_get(f->log, pf, TU_EV_TERM, TU_ANY, 0, &e));
    assert_true(terminated(&e.reason));
    assert_true(tu_log_get(f->log, ps, TU_EV_TERM, TU_ANY, 0, &e));
    assert_true(terminated(&e.reason));
    free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TEST2(test_pids_of_another_runtime_refused),
        TU_TEST(test_live_runtimes_never_share_pids),
        TU_TEST(test_caller_pid_is_reply_only),
        TU_TEST(test_forged_reason_formats_safely),
        TU_TEST(test_forged_reason_terminated_on_receipt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
