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

/* Bad input; not an actor: exit, link, monitor and call refuse its pid. */
static int rcv_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)state;
    tr_pid p;
    memcpy(&p, m->data, sizeof p);
    int rc[2] = {tr_link(self, p), tr_monitor(self, p, NULL)};
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
    assert_rc(tr_exit(f->rt, me, tr_reason_kill()), TR_ENOPROC);
    tr_pid a;
    assert_rc(tr_spawn(f->rt, &rcv_b, NULL, NULL, &a), 0);
    tr_buf b;
    assert_rc(tr_call(f->rt, a, 1, &me, sizeof me, &b, 10000), 0);
    int rc[2];
    memcpy(rc, b.data, sizeof rc);
    tr_buf_free(&b);
    assert_rc(rc[0], TR_ENOPROC);
    assert_rc(rc[1], TR_ENOPROC);
    assert_true(tr_pid_is_none(tr_receiver_pid(NULL)));
    tr_receiver_close(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_receiver_selective_receive),
        TU_TEST(test_receiver_monitor),
        TU_TEST(test_receiver_future_notify),
        TU_TEST(test_receiver_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
