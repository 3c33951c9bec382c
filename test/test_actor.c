/* Actor lifecycle: spawn/init, terminate, stop/fail, generation-checked
 * pids, message kinds and ordering, ownership-transfer sends, mailbox
 * length and bounded mailboxes. */
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* The counter behaviour                                                     */
/* ------------------------------------------------------------------------ */

enum {
    C_INC = 1, /* cast: count++ */
    C_SEQ,     /* cast or send: data uint64 sequence, must be next */
    C_STOP,    /* cast: tr_stop(normal) */
    C_FAIL,    /* cast: tr_fail(error(42, "boom")) */
    C_GATE,    /* cast: data tu_gate *: block until open */
    C_SENDTO,  /* cast: data tr_pid: tr_send(pid, C_HELLO, "hi") */
    C_OWNED,   /* cast_owned / send_owned: remember pointer and dtor count */
    C_STRAY,   /* must never arrive */
    C_GET,     /* call: reply cnt_info */
    C_HELLO,
};

typedef struct cnt_arg {
    int64_t value;
    tu_log *log;
} cnt_arg;

typedef struct cnt_info {
    int64_t value;
    int64_t count;
    bool zeroed;
    bool init_on_spawner;
    bool init_on_sched;
    bool cb_on_sched;
    uint64_t init_self;
    uint64_t seq_next;
    uint64_t seq_errors;
    uint64_t owned_ptr;
    int owned_dtor_calls;
    uint32_t owned_kind;
    int64_t infos;
} cnt_info;

typedef struct cnt_state {
    unsigned char pad[200]; /* must be zero when init runs */
    tu_log *log;
    cnt_info info;
} cnt_state;

static pthread_t g_spawner;
static atomic_int g_stray;
static atomic_int g_dtor_calls;
static atomic_int g_terminates;

static void owned_dtor(void *p) {
    atomic_fetch_add(&g_dtor_calls, 1);
    free(p);
}

static int cnt_init(tr_self *self, void *state, const void *arg) {
    cnt_state *s = state;
    const unsigned char *bytes = state;
    bool zero = true;
    for (size_t i = 0; i < sizeof *s; i++)
        zero = zero && bytes[i] == 0;
    const cnt_arg *a = arg;
    s->info.zeroed = zero;
    s->info.value = a ? a->value : -1;
    s->log = a ? a->log : NULL;
    s->info.init_self = tr_self_pid(self).id;
    s->info.init_on_spawner = pthread_equal(pthread_self(), g_spawner);
    s->info.init_on_sched = tr_on_scheduler(tr_self_runtime(self));
    return TR_CONTINUE;
}

static void check_seq(cnt_state *s, const tr_msg *m) {
    uint64_t seq;
    if (m->size != sizeof seq) {
        s->info.seq_errors++;
        return;
    }
    memcpy(&seq, m->data, sizeof seq);
    if (seq != s->info.seq_next)
        s->info.seq_errors++;
    s->info.seq_next = seq + 1;
}

static void record_owned(cnt_state *s, const tr_msg *m) {
    s->info.owned_ptr = (uint64_t)(uintptr_t)m->data;
    s->info.owned_dtor_calls = atomic_load(&g_dtor_calls);
    s->info.owned_kind = m->kind;
}

static int cnt_cast(tr_self *self, void *state, const tr_msg *m) {
    cnt_state *s = state;
    s->info.cb_on_sched = tr_on_scheduler(tr_self_runtime(self));
    switch (m->tag) {
    case C_INC:
        s->info.count++;
        break;
    case C_SEQ:
        check_seq(s, m);
        break;
    case C_STOP:
        return tr_stop(self, tr_reason_normal());
    case C_FAIL:
        tr_fail(self, tr_reason_error(42, "boom"));
    case C_GATE: {
        tu_gate *g;
        memcpy(&g, m->data, sizeof g);
        tu_gate_block(g);
        break;
    }
    case C_SENDTO: {
        tr_pid to;
        memcpy(&to, m->data, sizeof to);
        tr_send(tr_self_runtime(self), to, C_HELLO, "hi", 3);
        break;
    }
    case C_OWNED:
        record_owned(s, m);
        break;
    case C_STRAY:
        atomic_fetch_add(&g_stray, 1);
        break;
    default:
        break;
    }
    return TR_CONTINUE;
}

static int cnt_info_cb(tr_self *self, void *state, const tr_msg *m) {
    cnt_state *s = state;
    (void)self;
    s->info.infos++;
    if (m->tag == C_SEQ)
        check_seq(s, m);
    else if (m->tag == C_OWNED)
        record_owned(s, m);
    else if (m->tag == C_STRAY || m->kind == TR_MSG_TIMER)
        atomic_fetch_add(&g_stray, 1);
    return TR_CONTINUE;
}

static int cnt_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    cnt_state *s = state;
    (void)self;
    if (m->tag == C_STRAY)
        atomic_fetch_add(&g_stray, 1);
    tr_reply(from, C_GET, &s->info, sizeof s->info);
    return TR_CONTINUE;
}

static void cnt_terminate(tr_self *self, void *state, tr_reason reason) {
    cnt_state *s = state;
    atomic_fetch_add(&g_terminates, 1);
    tu_event e;
    memset(&e, 0, sizeof e);
    e.what = TU_EV_TERM;
    e.self = tr_self_pid(self);
    e.tag = (uint32_t)s->info.value;
    e.status = (int32_t)s->info.count;
    e.has_reason = true;
    e.reason = reason;
    tu_log_add(s->log, &e);
}

static const tr_behaviour k_counter = {
    .name = "counter",
    .state_size = sizeof(cnt_state),
    .init = cnt_init,
    .handle_call = cnt_call,
    .handle_cast = cnt_cast,
    .handle_info = cnt_info_cb,
    .terminate = cnt_terminate,
};

static tr_pid spawn_counter(tr_runtime *rt, tu_log *log, int64_t value) {
    cnt_arg a = {value, log};
    tr_pid p = TR_PID_NONE;
    assert_rc(tr_spawn(rt, &k_counter, &a, NULL, &p), 0);
    return p;
}

static cnt_info get_info(tr_runtime *rt, tr_pid p) {
    tr_buf b;
    assert_rc(tr_call(rt, p, C_GET, NULL, 0, &b, 5000), 0);
    assert_int_equal(b.tag, C_GET);
    assert_int_equal(b.size, sizeof(cnt_info));
    cnt_info i;
    memcpy(&i, b.data, sizeof i);
    tr_buf_free(&b);
    return i;
}

static void cast0(tr_runtime *rt, tr_pid p, uint32_t tag) {
    assert_rc(tr_cast(rt, p, tag, NULL, 0), 0);
}

/* ------------------------------------------------------------------------ */
/* Spawn and init                                                            */
/* ------------------------------------------------------------------------ */

static void test_spawn_init_arg_state_zeroed(void **state) {
    tu_fix *f = *state;
    g_spawner = pthread_self();
    size_t before = tr_runtime_actor_count(f->rt);
    assert_false(tr_on_scheduler(f->rt));
    tr_pid p = spawn_counter(f->rt, NULL, 1234);
    assert_false(tr_pid_is_none(p));
    assert_true(tr_is_alive(f->rt, p));
    assert_int_equal(tr_runtime_actor_count(f->rt), before + 1);
    cast0(f->rt, p, C_INC);
    cnt_info i = get_info(f->rt, p);
    assert_true(i.zeroed);
    assert_int_equal(i.value, 1234);
    assert_true(i.init_self == p.id);
    assert_true(i.init_on_spawner); /* init runs on the spawning thread */
    assert_false(i.init_on_sched);
    assert_true(i.cb_on_sched); /* handle_cast runs on a scheduler thread */

    /* A second actor gets its own zeroed state, and out may be NULL. */
    cnt_arg a = {99, NULL};
    assert_rc(tr_spawn(f->rt, &k_counter, &a, NULL, NULL), 0);
    assert_int_equal(tr_runtime_actor_count(f->rt), before + 2);
    tr_pid q = spawn_counter(f->rt, NULL, 5);
    assert_false(tr_pid_eq(p, q));
    cnt_info j = get_info(f->rt, q);
    assert_true(j.zeroed);
    assert_int_equal(j.count, 0);
}

/* A behaviour with state_size 0 gets NULL state; all defaults but init. */
static atomic_int g_null_state_ok;
static int nullstate_init(tr_self *self, void *state, const void *arg) {
    (void)self;
    (void)arg;
    atomic_store(&g_null_state_ok, state == NULL ? 1 : 2);
    return TR_CONTINUE;
}
static int nullstate_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)self;
    (void)m;
    int v = state == NULL ? 1 : 2;
    tr_reply(from, 0, &v, sizeof v);
    return TR_CONTINUE;
}
static const tr_behaviour k_nullstate = {
    .name = "nullstate", .init = nullstate_init, .handle_call = nullstate_call};

static void test_state_size_zero_gives_null(void **state) {
    tu_fix *f = *state;
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &k_nullstate, NULL, NULL, &p), 0);
    assert_int_equal(atomic_load(&g_null_state_ok), 1);
    tr_buf b;
    assert_rc(tr_call(f->rt, p, 1, NULL, 0, &b, 5000), 0);
    assert_int_equal(b.size, sizeof(int));
    assert_int_equal(*(int *)b.data, 1);
    tr_buf_free(&b);
}

/* init refuses: by tr_stop or by tr_fail. */
static atomic_int g_bad_term;
static _Atomic uint64_t g_bad_pid;
static int bad_init(tr_self *self, void *state, const void *arg) {
    (void)state;
    atomic_store(&g_bad_pid, tr_self_pid(self).id);
    if (arg && *(const int *)arg == 1)
        tr_fail(self, tr_reason_error(5, "init crashed"));
    return tr_stop(self, tr_reason_error(6, "refused"));
}
static void bad_terminate(tr_self *self, void *state, tr_reason r) {
    (void)self;
    (void)state;
    (void)r;
    atomic_fetch_add(&g_bad_term, 1);
}
static const tr_behaviour k_bad = {
    .name = "bad", .state_size = 64, .init = bad_init, .terminate = bad_terminate};

static void check_init_failure(tr_runtime *rt, int mode) {
    atomic_store(&g_bad_term, 0);
    atomic_store(&g_bad_pid, 0);
    size_t before = tr_runtime_actor_count(rt);
    tr_pid out = {.id = 0x5151515151ull};
    assert_rc(tr_spawn(rt, &k_bad, &mode, NULL, &out), TR_EINIT);
    assert_true(out.id == 0x5151515151ull); /* left unchanged */
    assert_int_equal(tr_runtime_actor_count(rt), before);
    tr_pid ghost = {.id = atomic_load(&g_bad_pid)};
    assert_false(tr_pid_is_none(ghost)); /* init did run */
    assert_false(tr_is_alive(rt, ghost));
    assert_rc(tr_send(rt, ghost, 1, NULL, 0), TR_ENOPROC);
    assert_rc(tr_cast(rt, ghost, 1, NULL, 0), TR_ENOPROC);
    assert_rc(tr_call(rt, ghost, 1, NULL, 0, NULL, 1000), TR_ENOPROC);
    tr_reason r;
    assert_rc(tr_await_exit(rt, ghost, 1000, &r), 0);
    assert_reason_kind(r, TR_EXIT_NOPROC);
    tu_sleep_ms(50);
    assert_int_equal(atomic_load(&g_bad_term), 0); /* terminate never ran */
    /* A later spawn reusing the slot does not revive the ghost pid. */
    tr_pid fresh = spawn_counter(rt, NULL, 1);
    assert_false(tr_pid_eq(fresh, ghost));
    assert_false(tr_is_alive(rt, ghost));
    assert_rc(tr_send(rt, ghost, 1, NULL, 0), TR_ENOPROC);
}

static void test_init_stop_gives_einit(void **state) {
    tu_fix *f = *state;
    check_init_failure(f->rt, 0);
}

static void test_init_fail_gives_einit(void **state) {
    tu_fix *f = *state;
    check_init_failure(f->rt, 1);
}

/* ------------------------------------------------------------------------ */
/* terminate exactly once                                                    */
/* ------------------------------------------------------------------------ */

static void test_terminate_once_on_stop(void **state) {
    tu_fix *f = *state;
    size_t before = tr_runtime_actor_count(f->rt);
    tr_pid p = spawn_counter(f->rt, f->log, 1);
    tu_watch w = tu_watch_start(f->rt, f->log, p);
    cast0(f->rt, p, C_INC);
    cast0(f->rt, p, C_STOP);
    tr_reason r = tu_watch_wait(&w);
    assert_reason_kind(r, TR_EXIT_NORMAL);
    assert_true(tu_log_wait(f->log, p, TU_EV_TERM, TU_ANY, 1, 5000));
    tu_sleep_ms(50);
    assert_int_equal(tu_log_count(f->log, p, TU_EV_TERM, TU_ANY), 1);
    tu_event e;
    assert_true(tu_log_get(f->log, p, TU_EV_TERM, TU_ANY, 0, &e));
    assert_reason_kind(e.reason, TR_EXIT_NORMAL);
    assert_int_equal(e.status, 1); /* the INC was handled before */
    assert_false(tr_is_alive(f->rt, p));
    assert_true(
        TU_WAIT(tr_runtime_actor_count(f->rt) == before + 1, 2000)); /* the watcher remains */
    assert_rc(tr_cast(f->rt, p, C_INC, NULL, 0), TR_ENOPROC);
}

static void test_terminate_once_on_fail(void **state) {
    tu_fix *f = *state;
    tr_pid p = spawn_counter(f->rt, f->log, 2);
    tu_watch w = tu_watch_start(f->rt, f->log, p);
    cast0(f->rt, p, C_FAIL);
    tr_reason r = tu_watch_wait(&w);
    assert_reason_kind(r, TR_EXIT_ERROR);
    assert_int_equal(r.code, 42);
    assert_string_equal(r.text, "boom");
    assert_true(tu_log_wait(f->log, p, TU_EV_TERM, TU_ANY, 1, 5000));
    tu_sleep_ms(50);
    assert_int_equal(tu_log_count(f->log, p, TU_EV_TERM, TU_ANY), 1);
    tu_event e;
    assert_true(tu_log_get(f->log, p, TU_EV_TERM, TU_ANY, 0, &e));
    assert_reason_kind(e.reason, TR_EXIT_ERROR);
    assert_int_equal(e.reason.code, 42);
    assert_string_equal(e.reason.text, "boom");
    assert_false(tr_is_alive(f->rt, p));
}

static void test_terminate_on_runtime_shutdown(void **state) {
    (void)state;
    tr_runtime *rt = tu_start(2);
    assert_non_null(rt);
    tu_log *log = tu_log_new();
    tr_pid p[5];
    for (int i = 0; i < 5; i++) {
        p[i] = spawn_counter(rt, log, i);
        cast0(rt, p[i], C_INC);
    }
    for (int i = 0; i < 5; i++)
        (void)get_info(rt, p[i]);
    assert_int_equal(tu_log_count(log, TR_PID_NONE, TU_EV_TERM, TU_ANY), 0);
    assert_rc(tr_runtime_free(&rt), 0);
    assert_int_equal(tu_log_count(log, TR_PID_NONE, TU_EV_TERM, TU_ANY), 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tu_log_count(log, p[i], TU_EV_TERM, TU_ANY), 1);
        tu_event e;
        assert_true(tu_log_get(log, p[i], TU_EV_TERM, TU_ANY, 0, &e));
        assert_reason_kind(e.reason, TR_EXIT_SHUTDOWN);
    }
    tu_log_free(log);
}

/* Top-level actors are stopped in reverse spawn order (documented). */
static void test_shutdown_reverse_spawn_order(void **state) {
    (void)state;
    tr_runtime *rt = tu_start(2);
    assert_non_null(rt);
    tu_log *log = tu_log_new();
    for (int i = 0; i < 8; i++)
        (void)spawn_counter(rt, log, i);
    assert_rc(tr_runtime_free(&rt), 0);
    assert_int_equal(tu_log_count(log, TR_PID_NONE, TU_EV_TERM, TU_ANY), 8);
    for (int i = 0; i < 8; i++) {
        tu_event e;
        assert_true(tu_log_get(log, TR_PID_NONE, TU_EV_TERM, TU_ANY, (size_t)i, &e));
        assert_int_equal(e.tag, 7 - i);
    }
    tu_log_free(log);
}

static void test_stop_after_queued_messages(void **state) {
    tu_fix *f = *state;
    const int n = TU_SCALE(5000, 1000);
    tr_pid p = spawn_counter(f->rt, f->log, 3);
    tu_watch w = tu_watch_start(f->rt, f->log, p);
    for (int i = 0; i < n; i++)
        cast0(f->rt, p, C_INC);
    cast0(f->rt, p, C_STOP);
    tr_reason r = tu_watch_wait(&w);
    assert_reason_kind(r, TR_EXIT_NORMAL);
    assert_true(tu_log_wait(f->log, p, TU_EV_TERM, TU_ANY, 1, 5000));
    tu_event e;
    assert_true(tu_log_get(f->log, p, TU_EV_TERM, TU_ANY, 0, &e));
    assert_int_equal(e.status, n); /* every queued INC handled first */
    assert_int_equal(tu_log_count(f->log, p, TU_EV_TERM, TU_ANY), 1);
}

/* ------------------------------------------------------------------------ */
/* Pids                                                                      */
/* ------------------------------------------------------------------------ */

static void test_stale_pid_generation(void **state) {
    tu_fix *f = *state;
    const int batch = TU_SCALE(1000, 300);
    atomic_store(&g_stray, 0);
    tr_pid old = spawn_counter(f->rt, NULL, 0);
    cast0(f->rt, old, C_STOP);
    (void)tu_await(f->rt, old);

    tr_pid *ps = calloc((size_t)batch, sizeof *ps);
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < batch; i++) {
            ps[i] = spawn_counter(f->rt, NULL, i);
            assert_false(tr_pid_eq(ps[i], old));
        }
        /* The stale pid reaches none of the new actors. */
        assert_false(tr_is_alive(f->rt, old));
        assert_rc(tr_send(f->rt, old, C_STRAY, NULL, 0), TR_ENOPROC);
        assert_rc(tr_cast(f->rt, old, C_STRAY, NULL, 0), TR_ENOPROC);
        assert_rc(tr_call(f->rt, old, C_STRAY, NULL, 0, NULL, 1000), TR_ENOPROC);
        assert_rc(tr_mailbox_len(f->rt, old), TR_ENOPROC);
        assert_rc(tr_exit(f->rt, old, tr_reason_kill()), TR_ENOPROC);
        int rc = tr_send_after(f->rt, old, 0, C_STRAY, NULL, 0, NULL);
        assert_true(rc == 0 || rc == TR_ENOPROC);
        if (round < 3) {
            for (int i = 0; i < batch; i++)
                cast0(f->rt, ps[i], C_STOP);
            for (int i = 0; i < batch; i++)
                (void)tu_await(f->rt, ps[i]);
        }
    }
    tu_sleep_ms(100);
    for (int i = 0; i < batch; i++) {
        cnt_info in = get_info(f->rt, ps[i]);
        assert_int_equal(in.infos, 0);
    }
    assert_int_equal(atomic_load(&g_stray), 0);
    free(ps);
}

static void test_is_alive(void **state) {
    tu_fix *f = *state;
    tr_pid p = spawn_counter(f->rt, NULL, 0);
    assert_true(tr_is_alive(f->rt, p));
    tr_pid never = {.id = ((uint64_t)0x7777 << 32) | 0x7ffffffeu};
    assert_false(tr_is_alive(f->rt, never));
    assert_rc(tr_send(f->rt, never, 1, NULL, 0), TR_ENOPROC);
    cast0(f->rt, p, C_STOP);
    (void)tu_await(f->rt, p);
    assert_false(tr_is_alive(f->rt, p));
}

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */
/* ------------------------------------------------------------------------ */

static void test_cast_order_then_call(void **state) {
    tu_fix *f = *state;
    tr_pid p = spawn_counter(f->rt, NULL, 0);
    cast0(f->rt, p, C_INC);
    cast0(f->rt, p, C_INC);
    cast0(f->rt, p, C_INC);
    assert_int_equal(get_info(f->rt, p).count, 3);
}

static void test_per_sender_fifo_mixed_send_cast(void **state) {
    tu_fix *f = *state;
    const uint64_t n = TU_SCALE(50000, 5000);
    tr_pid p = spawn_counter(f->rt, NULL, 0);
    for (uint64_t i = 0; i < n; i++) {
        if (i % 3 == 0)
            assert_rc(tr_send(f->rt, p, C_SEQ, &i, sizeof i), 0);
        else
            assert_rc(tr_cast(f->rt, p, C_SEQ, &i, sizeof i), 0);
    }
    cnt_info in = get_info(f->rt, p);
    assert_int_equal(in.seq_errors, 0);
    assert_int_equal(in.seq_next, n);
}

/* An actor sending to another: the receiver sees the sender's pid. */
static void test_send_kinds_and_sender(void **state) {
    tu_fix *f = *state;
    tr_pid probe = tu_probe(f->rt, f->log, false);
    tr_pid c = spawn_counter(f->rt, NULL, 0);

    char payload[5] = "abcd";
    assert_rc(tr_send(f->rt, probe, 11, payload, sizeof payload), 0);
    payload[0] = 'X'; /* the runtime copied it */
    assert_rc(tr_cast(f->rt, probe, 12, "cast", 5), 0);
    assert_rc(tr_send(f->rt, probe, 13, NULL, 0), 0);
    assert_rc(tr_cast(f->rt, c, C_SENDTO, &probe, sizeof probe), 0);

    assert_true(tu_log_wait(f->log, probe, TU_EV_INFO, TU_ANY, 3, 5000));
    assert_true(tu_log_wait(f->log, probe, TU_EV_CAST, TU_ANY, 1, 5000));
    tu_event e;
    assert_true(tu_log_get(f->log, probe, TU_EV_INFO, TU_ANY, 0, &e));
    assert_int_equal(e.kind, TR_MSG_INFO);
    assert_int_equal(e.tag, 11);
    assert_int_equal(e.size, 5);
    assert_string_equal((char *)e.data, "abcd");
    assert_true(tr_pid_is_none(e.sender));
    assert_int_equal(e.ref, 0);
    assert_int_equal(e.status, 0);

    assert_true(tu_log_get(f->log, probe, TU_EV_CAST, TU_ANY, 0, &e));
    assert_int_equal(e.kind, TR_MSG_CAST);
    assert_int_equal(e.tag, 12);
    assert_string_equal((char *)e.data, "cast");
    assert_true(tr_pid_is_none(e.sender));

    assert_true(tu_log_get(f->log, probe, TU_EV_INFO, TU_ANY, 1, &e));
    assert_int_equal(e.kind, TR_MSG_INFO);
    assert_int_equal(e.tag, 13);
    assert_int_equal(e.size, 0);

    assert_true(tu_log_get(f->log, probe, TU_EV_INFO, TU_ANY, 2, &e));
    assert_int_equal(e.kind, TR_MSG_INFO);
    assert_int_equal(e.tag, C_HELLO);
    assert_pid_equal(e.sender, c);
    assert_string_equal((char *)e.data, "hi");
    assert_int_equal(tu_log_count(f->log, probe, TU_EV_CAST, TU_ANY), 1);
}

static void test_cast_owned_delivered_dtor_once(void **state) {
    tu_fix *f = *state;
    atomic_store(&g_dtor_calls, 0);
    tr_pid p = spawn_counter(f->rt, NULL, 0);
    char *buf = malloc(32);
    strcpy(buf, "owned payload");
    assert_rc(tr_cast_owned(f->rt, p, C_OWNED, buf, 32, owned_dtor), 0);
    cnt_info in = get_info(f->rt, p);
    assert_true(in.owned_ptr == (uint64_t)(uintptr_t)buf); /* not copied */
    assert_int_equal(in.owned_kind, TR_MSG_CAST);
    assert_int_equal(in.owned_dtor_calls, 0); /* not before handle_cast */
    assert_true(TU_WAIT(atomic_load(&g_dtor_calls) == 1, 2000));

    /* tr_send_owned arrives in handle_info. */
    char *buf2 = malloc(16);
    assert_rc(tr_send_owned(f->rt, p, C_OWNED, buf2, 16, owned_dtor), 0);
    in = get_info(f->rt, p);
    assert_true(in.owned_ptr == (uint64_t)(uintptr_t)buf2);
    assert_int_equal(in.owned_kind, TR_MSG_INFO);
    assert_int_equal(in.owned_dtor_calls, 1);
    assert_true(TU_WAIT(atomic_load(&g_dtor_calls) == 2, 2000));

    /* dtor NULL is allowed. */
    static char fixed[8] = "static";
    assert_rc(tr_cast_owned(f->rt, p, C_OWNED, fixed, sizeof fixed, NULL), 0);
    in = get_info(f->rt, p);
    assert_true(in.owned_ptr == (uint64_t)(uintptr_t)fixed);
    tu_sleep_ms(50);
    assert_int_equal(atomic_load(&g_dtor_calls), 2);
}

static void test_cast_owned_to_dead_actor_keeps_ownership(void **state) {
    tu_fix *f = *state;
    atomic_store(&g_dtor_calls, 0);
    tr_pid p = spawn_counter(f->rt, NULL, 0);
    cast0(f->rt, p, C_STOP);
    (void)tu_await(f->rt, p);
    char *buf = malloc(8);
    assert_rc(tr_cast_owned(f->rt, p, C_OWNED, buf, 8, owned_dtor), TR_ENOPROC);
    assert_rc(tr_send_owned(f->rt, p, C_OWNED, buf, 8, owned_dtor), TR_ENOPROC);
    tu_sleep_ms(50);
    assert_int_equal(atomic_load(&g_dtor_calls), 0);
    free(buf); /* still ours */
}

/* Messages accepted but still queued at shutdown are dropped: each dtor
 * runs exactly once, whether the message was handled or dropped. */
typedef struct opener_arg {
    tu_gate *g;
    int delay_ms;
} opener_arg;
static void *opener(void *p) {
    opener_arg *a = p;
    tu_sleep_ms(a->delay_ms);
    tu_gate_open(a->g);
    return NULL;
}

static void test_owned_dropped_at_shutdown_dtor_once(void **state) {
    (void)state;
    atomic_store(&g_dtor_calls, 0);
    tr_runtime *rt = tu_start(2);
    assert_non_null(rt);
    tu_gate g;
    tu_gate_init(&g);
    tr_pid p = spawn_counter(rt, NULL, 0);
    assert_rc(tr_cast(rt, p, C_GATE, &(tu_gate *){&g}, sizeof(tu_gate *)), 0);
    assert_true(tu_gate_wait_entered(&g, 1, 5000));
    int accepted = 0;
    for (int i = 0; i < 200; i++) {
        void *buf = malloc(24);
        int rc = i % 2 ? tr_cast_owned(rt, p, C_OWNED, buf, 24, owned_dtor)
                       : tr_send_owned(rt, p, C_OWNED, buf, 24, owned_dtor);
        if (rc == 0)
            accepted++;
        else
            free(buf);
    }
    assert_int_equal(accepted, 200);
    pthread_t th;
    opener_arg oa = {&g, 100};
    pthread_create(&th, NULL, opener, &oa);
    assert_rc(tr_runtime_free(&rt), 0);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&g_dtor_calls), accepted);
    tu_gate_destroy(&g);
}

/* ------------------------------------------------------------------------ */
/* Default callbacks                                                         */
/* ------------------------------------------------------------------------ */

static atomic_int g_bare_terms;
static void bare_terminate(tr_self *self, void *state, tr_reason r) {
    (void)self;
    (void)state;
    (void)r;
    atomic_fetch_add(&g_bare_terms, 1);
}
static const tr_behaviour k_bare = {.name = "bare", .terminate = bare_terminate};

static void test_default_handle_call_crashes_caller_gets_error(void **state) {
    tu_fix *f = *state;
    atomic_store(&g_bare_terms, 0);
    tr_pid w = tu_probe(f->rt, f->log, false);
    tr_pid s;
    assert_rc(tr_spawn(f->rt, &k_bare, NULL, NULL, &s), 0);
    uint64_t ref = tu_monitor(f->rt, w, s);
    int64_t t0 = tu_now_ms();
    tr_buf b = {.tag = 1, .data = NULL, .size = 0};
    int rc = tr_call(f->rt, s, 1, "q", 2, &b, 10000);
    int64_t took = tu_now_ms() - t0;
    assert_rc(rc, TR_EEXITED);
    assert_true(took < 5000); /* not a timeout */
    assert_non_null(b.data);  /* the exit reason */
    assert_non_null(strstr((const char *)b.data, "unexpected call"));
    tr_buf_free(&b);
    assert_true(tu_log_wait(f->log, w, TU_EV_INFO, TR_MSG_DOWN, 1, 5000));
    tu_event e;
    assert_true(tu_log_get(f->log, w, TU_EV_INFO, TR_MSG_DOWN, 0, &e));
    assert_true(e.ref == ref);
    assert_reason_kind(e.reason, TR_EXIT_ERROR);
    assert_int_equal(e.reason.code, TR_EINVAL);
    assert_int_equal(atomic_load(&g_bare_terms), 1);
}

static void test_default_handle_cast_crashes_info_drops(void **state) {
    tu_fix *f = *state;
    atomic_store(&g_bare_terms, 0);
    tr_pid s;
    assert_rc(tr_spawn(f->rt, &k_bare, NULL, NULL, &s), 0);
    /* handle_info's default drops the message: still alive. */
    assert_rc(tr_send(f->rt, s, 1, "x", 2), 0);
    tu_sleep_ms(50);
    assert_true(tr_is_alive(f->rt, s));
    assert_true(TU_WAIT(tr_mailbox_len(f->rt, s) == 0, 2000));
    assert_true(tr_is_alive(f->rt, s));
    /* handle_cast's default crashes. */
    tu_watch w = tu_watch_start(f->rt, f->log, s);
    assert_rc(tr_cast(f->rt, s, 1, "x", 2), 0);
    tr_reason r = tu_watch_wait(&w);
    assert_reason_kind(r, TR_EXIT_ERROR);
    assert_true(TU_WAIT(atomic_load(&g_bare_terms) == 1, 2000));
    assert_false(tr_is_alive(f->rt, s));
}

/* ------------------------------------------------------------------------ */
/* Mailbox length and bounded mailboxes                                      */
/* ------------------------------------------------------------------------ */

static void test_mailbox_len(void **state) {
    tu_fix *f = *state;
    tr_pid p = spawn_counter(f->rt, NULL, 0);
    assert_int_equal(tr_mailbox_len(f->rt, p), 0);
    tu_gate *g = &f->gate[0];
    assert_rc(tr_cast(f->rt, p, C_GATE, &g, sizeof g), 0);
    assert_true(tu_gate_wait_entered(g, 1, 5000));
    for (int i = 0; i < 10; i++)
        cast0(f->rt, p, C_INC);
    assert_int_equal(tr_mailbox_len(f->rt, p), 10);
    assert_rc(tr_send(f->rt, p, 0, NULL, 0), 0);
    assert_int_equal(tr_mailbox_len(f->rt, p), 11);
    tu_gate_open(g);
    assert_true(TU_WAIT(tr_mailbox_len(f->rt, p) == 0, 5000));
    assert_int_equal(get_info(f->rt, p).count, 10);
    cast0(f->rt, p, C_STOP);
    (void)tu_await(f->rt, p);
    assert_rc(tr_mailbox_len(f->rt, p), TR_ENOPROC);
}

static void test_bounded_mailbox_efull(void **state) {
    tu_fix *f = *state;
    atomic_store(&g_dtor_calls, 0);
    cnt_arg a = {0, NULL};
    tr_spawn_opts o = {.max_mailbox = 4};
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &k_counter, &a, &o, &p), 0);
    tu_gate *g = &f->gate[0];
    assert_rc(tr_cast(f->rt, p, C_GATE, &g, sizeof g), 0);
    assert_true(tu_gate_wait_entered(g, 1, 5000));
    for (int i = 0; i < 4; i++)
        assert_rc(tr_cast(f->rt, p, C_INC, NULL, 0), 0);
    assert_rc(tr_cast(f->rt, p, C_INC, NULL, 0), TR_EFULL);
    assert_rc(tr_send(f->rt, p, C_INC, NULL, 0), TR_EFULL);
    char *buf = malloc(8);
    assert_rc(tr_cast_owned(f->rt, p, C_OWNED, buf, 8, owned_dtor), TR_EFULL);
    assert_int_equal(atomic_load(&g_dtor_calls), 0);
    free(buf);
    assert_int_equal(tr_mailbox_len(f->rt, p), 4);
    tu_gate_open(g);
    assert_true(TU_WAIT(tr_mailbox_len(f->rt, p) == 0, 5000));
    assert_int_equal(get_info(f->rt, p).count, 4);   /* the refused one never arrived */
    assert_rc(tr_cast(f->rt, p, C_INC, NULL, 0), 0); /* room again */
    assert_int_equal(get_info(f->rt, p).count, 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_spawn_init_arg_state_zeroed),
        TU_TEST(test_state_size_zero_gives_null),
        TU_TEST(test_init_stop_gives_einit),
        TU_TEST(test_init_fail_gives_einit),
        TU_TEST(test_terminate_once_on_stop),
        TU_TEST(test_terminate_once_on_fail),
        cmocka_unit_test(test_terminate_on_runtime_shutdown),
        cmocka_unit_test(test_shutdown_reverse_spawn_order),
        TU_TEST(test_stop_after_queued_messages),
        TU_TEST(test_stale_pid_generation),
        TU_TEST(test_is_alive),
        TU_TEST(test_cast_order_then_call),
        TU_TEST(test_per_sender_fifo_mixed_send_cast),
        TU_TEST(test_send_kinds_and_sender),
        TU_TEST(test_cast_owned_delivered_dtor_once),
        TU_TEST(test_cast_owned_to_dead_actor_keeps_ownership),
        cmocka_unit_test(test_owned_dropped_at_shutdown_dtor_once),
        TU_TEST(test_default_handle_call_crashes_caller_gets_error),
        TU_TEST(test_default_handle_cast_crashes_info_drops),
        TU_TEST(test_mailbox_len),
        TU_TEST(test_bounded_mailbox_efull),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
