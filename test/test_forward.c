/* tr_forward: a router hands the message it is handling, as it is, to
 * another actor (Akka's forward, CAF's delegate). A forwarded call is
 * answered by the actor it was forwarded to, directly to the original
 * caller; a cast and a plain message arrive with the original sender; the
 * receiver can tell (tr_msg_forwarded). Errors leave the message with the
 * forwarder. */
#include "testutil.h"

enum {
    T_ECHO = 1,  /* target: reply "<payload>|fwd=<0/1>" */
    T_NOTE,      /* target: record sender, tag, payload, forwarded */
    R_TWICE,     /* router: forward, then forward again (EINVAL) */
    R_MONITOR,   /* router: monitor the pid in the payload; forward its DOWN */
    R_FWD_REPLY, /* router (in handle_info): forward the REPLY of a tr_request */
};

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n_notes;
    tr_pid note_sender;
    uint32_t note_tag;
    char note_data[32];
    bool note_forwarded;
    int last_rc;   /* router: the last tr_forward result it recorded */
    int rcs[64];   /* router: every result, in order */
    int n_rc;      /* router: results recorded */
    int second_rc; /* R_TWICE: the second tr_forward */
} shared;

static shared g;

static void record_rc(int rc) {
    pthread_mutex_lock(&g.mu);
    g.last_rc = rc;
    if (g.n_rc < 64)
        g.rcs[g.n_rc] = rc;
    g.n_rc++;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
}

/* *counter (a field of g) read under g.mu. */
static int locked_read(const int *counter) {
    pthread_mutex_lock(&g.mu);
    int v = *counter;
    pthread_mutex_unlock(&g.mu);
    return v;
}

static bool wait_rc(int n) {
    return TU_WAIT(locked_read(&g.n_rc) >= n, 10000);
}

static bool wait_notes(int n) {
    return TU_WAIT(locked_read(&g.n_notes) >= n, 10000);
}

/* ---- the target ---- */

static int tgt_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)self;
    (void)state;
    char out[64];
    int n = snprintf(out, sizeof out, "%.*s|fwd=%d", (int)m->size, (const char *)m->data,
                     tr_msg_forwarded(m) ? 1 : 0);
    tr_reply(from, m->tag, out, (size_t)n + 1);
    return TR_CONTINUE;
}

static void note(const tr_msg *m) {
    pthread_mutex_lock(&g.mu);
    g.note_sender = m->sender;
    g.note_tag = m->tag;
    size_t n = m->size < sizeof g.note_data - 1 ? m->size : sizeof g.note_data - 1;
    memcpy(g.note_data, m->data, n);
    g.note_data[n] = '\0';
    g.note_forwarded = tr_msg_forwarded(m);
    g.n_notes++;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
}

static int tgt_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    (void)state;
    note(m);
    return TR_CONTINUE;
}

static int tgt_info(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    (void)state;
    note(m);
    return TR_CONTINUE;
}

static const tr_behaviour target_b = {
    .name = "target", .handle_call = tgt_call, .handle_cast = tgt_cast, .handle_info = tgt_info};

/* ---- the router ---- */

typedef struct {
    tr_pid target;
} router_state;

static int rt_init(tr_self *self, void *state, const void *arg) {
    (void)self;
    ((router_state *)state)->target = *(const tr_pid *)arg;
    return TR_OK;
}

static int rt_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    router_state *s = (router_state *)state;
    int rc = tr_forward(self, s->target);
    if (m->tag == R_TWICE && rc == TR_OK) {
        /* msg is the target's now: only the second attempt is looked at */
        int rc2 = tr_forward(self, s->target);
        pthread_mutex_lock(&g.mu);
        g.second_rc = rc2;
        pthread_mutex_unlock(&g.mu);
    }
    record_rc(rc);
    if (rc != TR_OK)
        tr_reply_error(from, rc, "router kept it");
    return TR_CONTINUE;
}

static int rt_cast(tr_self *self, void *state, const tr_msg *m) {
    router_state *s = (router_state *)state;
    if (m->tag == R_MONITOR) {
        tr_pid p;
        memcpy(&p, m->data, sizeof p);
        record_rc(tr_monitor(self, p, NULL));
        return TR_CONTINUE;
    }
    if (m->tag == R_FWD_REPLY) {
        uint64_t id;
        record_rc(tr_request(self, s->target, T_ECHO, "q", 1, 5000, &id));
        return TR_CONTINUE;
    }
    record_rc(tr_forward(self, s->target));
    return TR_CONTINUE;
}

static int rt_info(tr_self *self, void *state, const tr_msg *m) {
    router_state *s = (router_state *)state;
    /* A DOWN and a REPLY are the runtime's to deliver: EINVAL. The rest go. */
    (void)m;
    record_rc(tr_forward(self, s->target));
    return TR_CONTINUE;
}

static const tr_behaviour router_b = {.name = "router",
                                      .state_size = sizeof(router_state),
                                      .init = rt_init,
                                      .handle_call = rt_call,
                                      .handle_cast = rt_cast,
                                      .handle_info = rt_info};

static int setup(void **state) {
    memset(&g, 0, sizeof g);
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    *state = tu_start(2);
    return *state ? 0 : -1;
}

static int teardown(void **state) {
    tr_runtime *rt = (tr_runtime *)*state;
    tr_runtime_free(&rt);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
    return 0;
}

static tr_pid spawn_pair(tr_runtime *rt, size_t target_mailbox, tr_pid *target) {
    tr_spawn_opts o = {.max_mailbox = target_mailbox};
    assert_int_equal(tr_spawn(rt, &target_b, NULL, &o, target), TR_OK);
    tr_pid router;
    assert_int_equal(tr_spawn(rt, &router_b, target, NULL, &router), TR_OK);
    return router;
}

static void test_forwarded_call_is_answered_by_the_target(void **state) {
    tr_runtime *rt = (tr_runtime *)*state;
    tr_pid target;
    tr_pid router = spawn_pair(rt, 0, &target);
    for (int i = 0; i < 100; i++) {
        char req[16];
        int n = snprintf(req, sizeof req, "job%d", i);
        tr_buf reply;
        assert_int_equal(tr_call(rt, router, T_ECHO, req, (size_t)n, &reply, 10000), TR_OK);
        char want[32];
        snprintf(want, sizeof want, "job%d|fwd=1", i);
        assert_string_equal((const char *)reply.data, want);
        assert_int_equal(reply.tag, T_ECHO);
        tr_buf_free(&reply);
    }
    assert_true(wait_rc(100));
    assert_int_equal(g.last_rc, TR_OK);
}

static void test_forwarded_cast_and_message_keep_sender_and_payload(void **state) {
    tr_runtime *rt = (tr_runtime *)*state;
    tr_pid target;
    tr_pid router = spawn_pair(rt, 0, &target);
    assert_int_equal(tr_cast(rt, router, T_NOTE, "cast-payload", 12), TR_OK);
    assert_true(wait_notes(1));
    assert_true(wait_rc(1));
    assert_int_equal(g.last_rc, TR_OK);
    assert_int_equal(g.note_tag, T_NOTE);
    assert_string_equal(g.note_data, "cast-payload");
    assert_true(g.note_forwarded);
    assert_true(tr_pid_eq(g.note_sender, TR_PID_NONE)); /* a plain thread sent it */

    assert_int_equal(tr_send(rt, router, T_NOTE + 100, "info", 4), TR_OK);
    assert_true(wait_notes(2));
    assert_int_equal(g.note_tag, T_NOTE + 100);
    assert_string_equal(g.note_data, "info");
    assert_true(g.note_forwarded);

    /* Sent to the target directly: not forwarded. */
    assert_int_equal(tr_cast(rt, target, T_NOTE, "direct", 6), TR_OK);
    assert_true(wait_notes(3));
    assert_false(g.note_forwarded);
}

static void test_forward_errors_leave_the_message_with_the_forwarder(void **state) {
    tr_runtime *rt = (tr_runtime *)*state;
    assert_int_equal(tr_forward(NULL, TR_PID_NONE), TR_EINVAL);
    assert_false(tr_msg_forwarded(NULL));

    /* A dead target: the router answers the call itself. */
    tr_pid target;
    tr_pid router = spawn_pair(rt, 0, &target);
    assert_int_equal(tr_exit(rt, target, tr_reason_kill()), TR_OK);
    assert_int_equal(tr_await_exit(rt, target, 10000, NULL), TR_OK);
    tr_buf reply;
    assert_int_equal(tr_call(rt, router, T_ECHO, "x", 1, &reply, 10000), TR_EREMOTE);
    assert_int_equal(reply.code, TR_ENOPROC); /* the router's code for it */
    assert_string_equal((const char *)reply.data, "router kept it");
    tr_buf_free(&reply);

    /* A bounded target: refused, the router still has the call. */
    tr_pid bounded;
    tr_pid router2 = spawn_pair(rt, 8, &bounded);
    assert_int_equal(tr_call(rt, router2, T_ECHO, "x", 1, &reply, 10000), TR_EREMOTE);
    assert_int_equal(reply.code, TR_EBUSY);
    tr_buf_free(&reply);

    /* Forwarding twice in one callback: the second is refused. */
    tr_pid t3;
    tr_pid router3 = spawn_pair(rt, 0, &t3);
    assert_int_equal(tr_call(rt, router3, R_TWICE, "y", 1, &reply, 10000), TR_OK);
    assert_string_equal((const char *)reply.data, "y|fwd=1");
    tr_buf_free(&reply);
    pthread_mutex_lock(&g.mu);
    int second = g.second_rc;
    pthread_mutex_unlock(&g.mu);
    assert_int_equal(second, TR_EINVAL);
}

static void test_down_and_reply_are_not_forwarded(void **state) {
    tr_runtime *rt = (tr_runtime *)*state;
    tr_pid target;
    tr_pid router = spawn_pair(rt, 0, &target);
    tr_pid victim;
    assert_int_equal(tr_spawn(rt, &target_b, NULL, NULL, &victim), TR_OK);
    assert_int_equal(tr_cast(rt, router, R_MONITOR, &victim, sizeof victim), TR_OK);
    assert_true(wait_rc(1));
    assert_int_equal(g.rcs[0], TR_OK); /* the monitor is set */
    assert_int_equal(tr_exit(rt, victim, tr_reason_kill()), TR_OK);
    assert_true(wait_rc(2));
    assert_int_equal(g.rcs[1], TR_EINVAL); /* the DOWN stays with the router */

    assert_int_equal(tr_cast(rt, router, R_FWD_REPLY, NULL, 0), TR_OK);
    assert_true(wait_rc(4));
    pthread_mutex_lock(&g.mu);
    assert_int_equal(g.rcs[2], TR_OK);     /* the request went */
    assert_int_equal(g.rcs[3], TR_EINVAL); /* its REPLY stays with the router */
    pthread_mutex_unlock(&g.mu);
    pthread_mutex_lock(&g.mu);
    int notes = g.n_notes;
    pthread_mutex_unlock(&g.mu);
    assert_int_equal(notes, 0); /* the target got nothing through the router */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_forwarded_call_is_answered_by_the_target, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forwarded_cast_and_message_keep_sender_and_payload,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_errors_leave_the_message_with_the_forwarder,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_down_and_reply_are_not_forwarded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
