/* A plain thread that receives messages (issue 10, item 11): a receiver
 * gives the thread a pid that actors send to, selective receive by tag or
 * ref with a timeout, monitors, and tr_future_notify. */
#include "testutil.h"

enum { FWD = 1 };

/* Casts FWD with {to, tag}: sends `to` a message with that tag. */
typedef struct fwd_req {
    tr_pid to;
    uint32_t tag;
} fwd_req;

static int f_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)state;
    fwd_req r;
    memcpy(&r, m->data, sizeof r);
    tr_send(tr_self_runtime(self), r.to, r.tag, &r.tag, sizeof r.tag);
    return TR_CONTINUE;
}
static const tr_behaviour fwd_b = {.name = "fwd", .handle_cast = f_cast};

static void test_receiver_selective_receive(void **state) {
    tu_fix *f = *state;
    tr_receiver *r = NULL;
    assert_rc(tr_receiver_open(f->rt, &r), 0);
    tr_pid me = tr_receiver_pid(r);
    assert_false(tr_pid_is_none(me));
    tr_pid a;
    assert_rc(tr_spawn(f->rt, &fwd_b, NULL, NULL, &a), 0);
    for (uint32_t t = 1; t <= 3; t++) {
        fwd_req q = {me, 100 + t};
        assert_rc(tr_cast(f->rt, a, FWD, &q, sizeof q), 0);
    }
    assert_rc(tr_send(f->rt, me, 7, "x", 2), 0); /* from this thread too */
    tr_msg *m;
    uint32_t tag = 103;
    assert_rc(tr_receiver_recv(r, tr_match_tag, &tag, 10000, &m), 0);
    assert_int_equal(m->tag, 103);
    assert_pid_equal(m->sender, a);
    tr_msg_free(m);
    /* the rest in their order */
    uint32_t want[] = {101, 102};
    for (int i = 0; i < 2; i++) {
        assert_rc(tr_receiver_recv(r, tr_match_tag, &want[i], 10000, &m), 0);
        tr_msg_free(m);
    }
    assert_rc(tr_receiver_recv(r, NULL, NULL, 10000, &m), 0);
    assert_int_equal(m->tag, 7);
    assert_string_equal((const char *)m->data, "x");
    tr_msg_free(m);
    /* nothing left: the timeout, not earlier */
    int64_t t0 = tu_now_ms();
    assert_rc(tr_receiver_recv(r, NULL, NULL, 50, &m), TR_ETIMEDOUT);
    assert_null(m);
    assert_true(tu_now_ms() - t0 >= 50);
    assert_rc(tr_receiver_recv(r, NULL, NULL, 0, &m), TR_ETIMEDOUT);
    /* kept aside: a message that did not match stays for later */
    assert_rc(tr_send(f->rt, me, 8, NULL, 0), 0);
    tag = 9;
    assert_rc(tr_receiver_recv(r, tr_match_tag, &tag, 20, &m), TR_ETIMEDOUT);
    assert_rc(tr_receiver_recv(r, NULL, NULL, 0, &m), 0);
    assert_int_equal(m->tag, 8);
    tr_msg_free(m);
    tr_receiver_close(&r);
    assert_null(r);
    assert_rc(tr_send(f->rt, me, 7, NULL, 0), TR_ENOPROC);
    tr_receiver_close(&r); /* NULL: no-op */
}

/* A thread monitors an actor and gets its DOWN, by ref. */
static void test_receiver_monitor(void **state) {
    tu_fix *f = *state;
    tr_receiver *r;
    assert_rc(tr_receiver_open(f->rt, &r), 0);
    tr_pid p = tu_probe(f->rt, f->log, false);
    uint64_t ref = 0, ref2 = 0;
    assert_rc(tr_receiver_monitor(r, p, &ref), 0);
    assert_rc(tr_receiver_monitor(r, p, &ref2), 0);
    assert_rc(tr_receiver_demonitor(r, ref2), 0);
    assert_rc(tr_send(f->rt, tr_receiver_pid(r), 5, NULL, 0), 0);
    tr_exit(f->rt, p, tr_reason_kill());
    tr_msg *m;
    assert_rc(tr_receiver_recv(r, tr_match_ref, &ref, 10000, &m), 0);
    assert_int_equal(m->kind, TR_MSG_DOWN);
    assert_pid_equal(m->sender, p);
    assert_reason_kind(*tr_msg_reason(m), TR_EXIT_KILLED);
    tr_msg_free(m);
    /* the tag-5 message is still there; the demonitored DOWN never comes */
    assert_rc(tr_receiver_recv(r, NULL, NULL, 10000, &m), 0);
    assert_int_equal(m->tag, 5);
    tr_msg_free(m);
    assert_rc(tr_receiver_recv(r, tr_match_ref, &ref2, 200, &m), TR_ETIMEDOUT);
    /* dead already: noproc at once */
    assert_rc(tr_receiver_monitor(r, p, &ref), 0);
    assert_rc(tr_receiver_recv(r, tr_match_ref, &ref, 10000, &m), 0);
    assert_reason_kind(*tr_msg_reason(m), TR_EXIT_NOPROC);
    tr_msg_free(m);
    assert_rc(tr_receiver_demonitor(r, 12345), TR_ENOTFOUND);
    tr_receiver_close(&r);
}

static int sq_task(tr_task *t, const void *arg, size_t size) {
    (void)size;
    int v;
    memcpy(&v, arg, sizeof v);
    v *= v;
    return tr_task_set_result(t, &v, sizeof v);
}

/* A future's outcome as a message to the thread. */
static void test_receiver_future_notify(void **state) {
    tu_fix *f = *state;
    tr_receiver *r;
    assert_rc(tr_receiver_open(f->rt, &r), 0);
    tr_task_pool *tp;
    assert_rc(tr_task_pool_start(f->rt, NULL, &tp), 0);
    int x = 12;
    tr_future *fu;
    assert_rc(tr_task_submit(tp, sq_task, &x, sizeof x, &fu), 0);
    assert_rc(tr_future_notify(fu, tr_receiver_pid(r), 77), 0);
    tr_msg *m;
    uint32_t tag = 77;
    assert_rc(tr_receiver_recv(r, tr_match_tag, &tag, 10000, &m), 0);
    const tr_future_reply *fr = tr_future_reply_of(m);
    assert_non_null(fr);
    assert_int_equal(fr->status, 0);
    int v;
    memcpy(&v, fr->data, sizeof v);
    assert_int_equal(v, 144);
    tr_msg_free(m);
    tr_future_free(fu);
    assert_rc(tr_task_pool_stop(tp, 10000), 0);
    tr_task_pool_free(tp);
    tr_receiver_close(&r);
}

/* Waits (10 s, asserted) for the n-th (from 1) event of probe p of the
 * message kind, and returns it. */
static tu_event await_info(tu_fix *f, tr_pid p, int kind, size_t n) {
    assert_true(tu_log_wait(f->log, p, TU_EV_INFO, kind, n, 10000));
    tu_event e;
    assert_true(tu_log_get(f->log, p, TU_EV_INFO, kind, n - 1, &e));
    assert_true(e.has_reason);
    return e;
}

/* Takes the receiver's next EXIT (10 s, asserted); checks its sender. */
static tr_reason recv_exit(tr_receiver *r, tr_pid from) {
    tr_msg *m;
    assert_rc(tr_receiver_recv(r, NULL, NULL, 10000, &m), 0);
    assert_int_equal(m->kind, TR_MSG_EXIT);
    assert_pid_equal(m->sender, from);
    assert_non_null(tr_msg_reason(m));
    tr_reason why = *tr_msg_reason(m);
    tr_msg_free(m);
    return why;
}

static void expect_exit(tr_receiver *r, tr_pid from, int kind) {
    tr_reason why = recv_exit(r, from);
    assert_reason_kind(why, kind);
}

/* An actor monitors a receiver: DOWN normal when it closes, noproc after
 * (as erlang:monitor/2 of the shell process). */
static void test_receiver_monitored(void **state) {
    tu_fix *f = *state;
    tr_receiver *r;
    assert_rc(tr_receiver_open(f->rt, &r), 0);
    tr_pid me = tr_receiver_pid(r);
    tr_pid p = tu_probe(f->rt, f->log, false);
    uint64_t ref = tu_monitor(f->rt, p, me); /* asserts TR_OK */
    assert_true(ref != 0);
    tr_receiver_close(&r);
    tu_event e = await_info(f, p, TR_MSG_DOWN, 1);
    assert_true(e.ref == ref);
    assert_pid_equal(e.sender, me);
    assert_reason_kind(e.reason, TR_EXIT_NORMAL);
    /* closed: a dead process */
    uint64_t ref2 = tu_monitor(f->rt, p, me);
    e = await_info(f, p, TR_MSG_DOWN, 2);
    assert_true(e.ref == ref2);
    assert_reason_kind(e.reason, TR_EXIT_NOPROC);
    /* a receiver monitors another receiver, and demonitors */
    tr_receiver *a, *b;
    assert_rc(tr_receiver_open(f->rt, &a), 0);
    assert_rc(tr_receiver_open(f->rt, &b), 0);
    uint64_t rb = 0, rb2 = 0;
    assert_rc(tr_receiver_monitor(a, tr_receiver_pid(b), &rb), 0);
    assert_rc(tr_receiver_monitor(a, tr_receiver_pid(b), &rb2), 0);
    assert_rc(tr_receiver_demonitor(a, rb2), 0);
    tr_pid bp = tr_receiver_pid(b);
    tr_receiver_close(&b);
    tr_msg *m;
    assert_rc(tr_receiver_recv(a, NULL, NULL, 10000, &m), 0);
    assert_int_equal(m->kind, TR_MSG_DOWN);
    assert_true(m->ref == rb);
    assert_pid_equal(m->sender, bp);
    assert_reason_kind(*tr_msg_reason(m), TR_EXIT_NORMAL);
    tr_msg_free(m);
    assert_rc(tr_receiver_recv(a, NULL, NULL, 100, &m), TR_ETIMEDOUT);
    tr_receiver_close(&a);
}

/* Links both ways: the receiver traps exits (EXIT messages, normal too);
 * its close sends its links an exit signal normal, which a process that
 * does not trap ignores and one that traps receives. */
static void test_receiver_linked(void **state) {
    tu_fix *f = *state;
    tr_receiver *r;
    assert_rc(tr_receiver_open(f->rt, &r), 0);
    tr_pid me = tr_receiver_pid(r);
    /* an actor links to it, sends, then crashes: the message, then its EXIT */
    tr_pid p = tu_probe(f->rt, f->log, false);
    assert_rc(tu_link(f->rt, p, me), 0);
    assert_rc(tu_link(f->rt, p, me), 0); /* twice: one link */
    tu_fail(f->rt, p, tr_reason_error(42, "boom"));
    tr_reason why = recv_exit(r, p);
    assert_reason_kind(why, TR_EXIT_ERROR);
    assert_int_equal(why.code, 42);
    /* the receiver links; a normal exit is an EXIT message too */
    tr_pid q = tu_probe(f->rt, f->log, false);
    assert_rc(tr_receiver_link(r, q), 0);
    tu_stop(f->rt, q, tr_reason_normal());
    expect_exit(r, q, TR_EXIT_NORMAL);
    /* linking to a dead process: EXIT noproc */
    assert_rc(tr_receiver_link(r, q), 0);
    expect_exit(r, q, TR_EXIT_NOPROC);
    /* unlinked: nothing comes */
    tr_pid u = tu_probe(f->rt, f->log, false);
    assert_rc(tr_receiver_link(r, u), 0);
    assert_rc(tr_receiver_unlink(r, u), 0);
    assert_rc(tr_receiver_unlink(r, u), 0); /* no link: no error */
    tu_watch wu = tu_watch_start(f->rt, f->log, u);
    tu_fail(f->rt, u, tr_reason_error(1, "x"));
    tr_reason wr = tu_watch_wait(&wu);
    assert_reason_kind(wr, TR_EXIT_ERROR);
    tr_msg *m;
    assert_rc(tr_receiver_recv(r, NULL, NULL, 100, &m), TR_ETIMEDOUT);
    /* the close: a trapping link gets EXIT normal, one that does not trap
     * ignores it and lives on */
    tr_pid t = tu_probe(f->rt, f->log, true);
    tr_pid n = tu_probe(f->rt, f->log, false);
    assert_rc(tr_receiver_link(r, t), 0);
    assert_rc(tu_link(f->rt, n, me), 0);
    tr_receiver_close(&r);
    tu_event e = await_info(f, t, TR_MSG_EXIT, 1);
    assert_pid_equal(e.sender, me);
    assert_reason_kind(e.reason, TR_EXIT_NORMAL);
    /* n had its signal before this call (signals first): still alive */
    tu_ping(f->rt, n);
    assert_true(tr_is_alive(f->rt, n));
    /* after the close, linking to it is linking to a dead process */
    assert_rc(tu_link(f->rt, t, me), 0);
    e = await_info(f, t, TR_MSG_EXIT, 2);
    assert_reason_kind(e.reason, TR_EXIT_NOPROC);
}

/* tr_exit to a receiver: an EXIT message, whatever the reason (kill
 * too): the thread goes on. */
static void test_receiver_exit_signal(void **state) {
    tu_fix *f = *state;
    tr_receiver *r;
    assert_rc(tr_receiver_open(f->rt, &r), 0);
    tr_pid me = tr_receiver_pid(r);
    assert_rc(tr_exit(f->rt, me, tr_reason_kill()), 0);
    expect_exit(r, TR_PID_NONE, TR_EXIT_KILL);
    assert_rc(tr_exit(f->rt, me, tr_reason_normal()), 0);
    expect_exit(r, TR_PID_NONE, TR_EXIT_NORMAL);
    /* from an actor: its pid is the sender */
    tr_pid p = tu_probe(f->rt, f->log, false);
    tu_exit_arg x = {me, tr_reason_error(7, "go")};
    assert_int_equal(tu_cmd(f->rt, p, TU_EXIT, &x, sizeof x, NULL), 0);
    tr_reason why = recv_exit(r, p);
    assert_reason_kind(why, TR_EXIT_ERROR);
    assert_int_equal(why.code, 7);
    /* selective: the EXIT waits while a tagged message is taken */
    assert_rc(tr_exit(f->rt, me, tr_reason_shutdown()), 0);
    assert_rc(tr_send(f->rt, me, 5, NULL, 0), 0);
    uint32_t tag = 5;
    tr_msg *m;
    assert_rc(tr_receiver_recv(r, tr_match_tag, &tag, 10000, &m), 0);
    assert_int_equal(m->tag, 5);
    tr_msg_free(m);
    expect_exit(r, TR_PID_NONE, TR_EXIT_SHUTDOWN);
    /* still alive and receiving */
    assert_true(tr_is_alive(f->rt, me));
    assert_rc(tr_send(f->rt, me, 6, NULL, 0), 0);
    assert_rc(tr_receiver_recv(r, NULL, NULL, 10000, &m), 0);
    assert_int_equal(m->tag, 6);
    tr_msg_free(m);
    /* EXITs not received are dropped at the close (ASan: no leak) */
    assert_rc(tr_exit(f->rt, me, tr_reason_kill()), 0);
    tr_receiver_close(&r);
    assert_rc(tr_exit(f->rt, me, tr_reason_kill()), TR_ENOPROC);
}

/* Bad input; not an actor: call refuses its pid; a blocking caller's own
 * reply address (its waiter) stays refused by link, monitor and exit. */
static int rcv_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)state;
    tr_pid p;
    memcpy(&p, m->data, sizeof p);
    int rc[5] = {tr_link(self, p), tr_monitor(self, p, NULL), tr_link(self, from.pid),
                 tr_monitor(self, from.pid, NULL),
                 tr_exit(tr_self_runtime(self), from.pid, tr_reason_kill())};
    tr_unlink(self, p);
    tr_reply(from, 0, rc, sizeof rc);
    return TR_CONTINUE;
}
static const tr_behaviour rcv_b = {.name = "rcv", .handle_call = rcv_call};

static void test_receiver_errors(void **state) {
    tu_fix *f = *state;
    tr_receiver *r;
    assert_rc(tr_receiver_open(NULL, &r), TR_EINVAL);
    assert_rc(tr_receiver_open(f->rt, NULL), TR_EINVAL);
    assert_rc(tr_receiver_open(f->rt, &r), 0);
    tr_msg *m;
    assert_rc(tr_receiver_recv(NULL, NULL, NULL, 10, &m), TR_EINVAL);
    assert_rc(tr_receiver_recv(r, NULL, NULL, 10, NULL), TR_EINVAL);
    assert_rc(tr_receiver_recv(r, NULL, NULL, -5, &m), TR_EINVAL);
    tr_pid me = tr_receiver_pid(r);
    assert_rc(tr_receiver_link(NULL, me), TR_EINVAL);
    assert_rc(tr_receiver_link(r, TR_PID_NONE), TR_EINVAL);
    assert_rc(tr_receiver_link(r, me), TR_EINVAL); /* itself */
    assert_rc(tr_receiver_unlink(NULL, me), TR_EINVAL);
    assert_rc(tr_receiver_unlink(r, TR_PID_NONE), TR_EINVAL);
    tr_pid a;
    assert_rc(tr_spawn(f->rt, &rcv_b, NULL, NULL, &a), 0);
    tr_buf b;
    assert_rc(tr_call(f->rt, a, 1, &me, sizeof me, &b, 10000), 0);
    int rc[5];
    memcpy(rc, b.data, sizeof rc);
    tr_buf_free(&b);
    assert_rc(rc[0], 0); /* a receiver: link and monitor targets */
    assert_rc(rc[1], 0);
    assert_rc(rc[2], TR_ENOPROC); /* the caller's waiter: refused */
    assert_rc(rc[3], TR_ENOPROC);
    assert_rc(rc[4], TR_ENOPROC);
    assert_rc(tr_call(f->rt, me, 1, NULL, 0, &b, 1000), TR_ENOPROC);
    assert_true(tr_pid_is_none(tr_receiver_pid(NULL)));
    tr_receiver_close(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_receiver_selective_receive),
        TU_TEST(test_receiver_monitor),
        TU_TEST(test_receiver_future_notify),
        TU_TEST(test_receiver_monitored),
        TU_TEST(test_receiver_linked),
        TU_TEST(test_receiver_exit_signal),
        TU_TEST(test_receiver_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
