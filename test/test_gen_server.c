/* The gen_server API people reach for (issue 10): handle_continue
 * (tr_continue), stopping a server from outside (tr_stop_server), reading
 * and replacing its state (tr_get_state, tr_replace_state) and the idle
 * timeout (tr_idle_timeout). Each test asserts what a user observes: the
 * order of the callbacks, what the calls return, and when. */
#include "testutil.h"

enum {
    T_SELF = 1, /* init sends this to itself before its continuation */
    T_CAST,     /* a cast: noted; the payload says what to return */
    T_CONT_A,   /* continuation tags */
    T_CONT_B,
    T_GET,       /* call: reply with the state's counter */
    T_BUSY_CHECK /* cast: tr_continue twice, note the second rc */
};

/* What the cast's payload asks for. */
enum { DO_NOTHING = 0, DO_CONTINUE_A, DO_GATE, DO_BUSY };

typedef struct cont_arg {
    tu_log *log;
    tu_gate *gate;  /* handle_continue of T_CONT_A blocks here when set */
    bool init_cont; /* init sets T_CONT_A */
    bool chain;     /* T_CONT_A sets T_CONT_B */
} cont_arg;

typedef struct cont_state {
    cont_arg arg;
    int counter;
} cont_state;

static int c_init(tr_self *self, void *state, const void *arg) {
    cont_state *st = state;
    st->arg = *(const cont_arg *)arg;
    tu_log_note(st->arg.log, "init", "");
    tr_send(tr_self_runtime(self), tr_self_pid(self), T_SELF, NULL, 0);
    if (st->arg.init_cont) {
        int v = 41;
        return tr_continue(self, T_CONT_A, &v, sizeof v);
    }
    return TR_CONTINUE;
}

static int c_continue(tr_self *self, void *state, const tr_msg *m) {
    cont_state *st = state;
    if (m->kind != TR_MSG_CONTINUE || !tr_pid_eq(m->sender, tr_self_pid(self)))
        tu_log_note(st->arg.log, "bad-continue-msg", "");
    if (m->tag == T_CONT_A) {
        tu_log_note(st->arg.log, "cont", "A");
        if (st->arg.gate)
            tu_gate_pass(st->arg.gate, 10000);
        if (m->size == sizeof(int))
            memcpy(&st->counter, m->data, sizeof(int));
        st->counter++;
        if (st->arg.chain)
            return tr_continue(self, T_CONT_B, NULL, 0);
    } else if (m->tag == T_CONT_B) {
        tu_log_note(st->arg.log, "cont", "B");
        st->counter += 100;
    }
    return TR_CONTINUE;
}

static int c_info(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    cont_state *st = state;
    if (m->tag == T_SELF)
        tu_log_note(st->arg.log, "info", "self");
    return TR_CONTINUE;
}

static int c_cast(tr_self *self, void *state, const tr_msg *m) {
    cont_state *st = state;
    int what = DO_NOTHING;
    if (m->size == sizeof what)
        memcpy(&what, m->data, sizeof what);
    char name[16];
    snprintf(name, sizeof name, "%d", what);
    tu_log_note(st->arg.log, "cast", name);
    if (what == DO_GATE)
        tu_gate_pass(st->arg.gate, 10000);
    if (what == DO_CONTINUE_A)
        return tr_continue(self, T_CONT_A, NULL, 0);
    if (what == DO_BUSY) {
        int rc1 = tr_continue(self, T_CONT_B, NULL, 0);
        int rc2 = tr_continue(self, T_CONT_B, NULL, 0);
        char buf[48];
        snprintf(buf, sizeof buf, "%s,%s", tr_err_name(rc1), tr_err_name(rc2));
        tu_log_note(st->arg.log, "busy", buf);
        return rc1;
    }
    return TR_CONTINUE;
}

static int c_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)self;
    (void)m;
    cont_state *st = state;
    tr_reply(from, 0, &st->counter, sizeof st->counter);
    return TR_CONTINUE;
}

static const tr_behaviour cont_b = {.name = "cont",
                                    .state_size = sizeof(cont_state),
                                    .init = c_init,
                                    .handle_call = c_call,
                                    .handle_cast = c_cast,
                                    .handle_info = c_info,
                                    .handle_continue = c_continue};

static int get_counter(tr_runtime *rt, tr_pid p) {
    tr_buf b;
    assert_rc(tr_call(rt, p, T_GET, NULL, 0, &b, 10000), 0);
    assert_int_equal(b.size, sizeof(int));
    int v;
    memcpy(&v, b.data, sizeof v);
    tr_buf_free(&b);
    return v;
}

static void cast_do(tr_runtime *rt, tr_pid p, int what) {
    assert_rc(tr_cast(rt, p, T_CAST, &what, sizeof what), 0);
}

/* init's continuation runs on a scheduler thread after tr_spawn returned
 * (spawn does not wait for the slow set-up), and before the message init
 * sent itself and before a message sent right after spawn. */
static void test_continue_after_init_runs_first(void **state) {
    tu_fix *f = *state;
    cont_arg a = {.log = f->log, .gate = &f->gate[0], .init_cont = true};
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &cont_b, &a, NULL, &p), 0);
    /* tr_spawn is back while the continuation is held in its gate. */
    assert_true(tu_gate_wait_entered(&f->gate[0], 1, 10000));
    cast_do(f->rt, p, DO_NOTHING);
    tu_gate_open(&f->gate[0]);
    assert_int_equal(get_counter(f->rt, p), 42); /* the continuation's data, +1 */
    assert_int_equal(tu_log_find_note(f->log, "init:", 0), 0);
    assert_int_equal(tu_log_find_note(f->log, "cont:A", 0), 1);
    assert_int_equal(tu_log_find_note(f->log, "info:self", 0), 2);
    assert_int_equal(tu_log_find_note(f->log, "cast:0", 0), 3);
    assert_int_equal(tu_log_find_note(f->log, "bad-continue-msg:", 0), -1);
}

/* Any callback may continue, and a continuation may continue again: the
 * chain runs before the messages queued meanwhile. */
static void test_continue_chain_from_callback(void **state) {
    tu_fix *f = *state;
    cont_arg a = {.log = f->log, .chain = true, .gate = &f->gate[0]};
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &cont_b, &a, NULL, &p), 0);
    /* Hold the actor in a cast so that the next ones queue behind it: the
     * continuation must still run before them. */
    cast_do(f->rt, p, DO_GATE);
    assert_true(tu_gate_wait_entered(&f->gate[0], 1, 10000));
    cast_do(f->rt, p, DO_CONTINUE_A);
    cast_do(f->rt, p, DO_NOTHING);
    cast_do(f->rt, p, DO_NOTHING);
    tu_gate_open(&f->gate[0]);
    assert_int_equal(get_counter(f->rt, p), 101);
    int c1 = tu_log_find_note(f->log, "cast:1", 0);
    assert_true(c1 >= 0);
    assert_int_equal(tu_log_find_note(f->log, "cont:A", 0), c1 + 1);
    assert_int_equal(tu_log_find_note(f->log, "cont:B", 0), c1 + 2);
    assert_int_equal(tu_log_find_note(f->log, "cast:0", 0), c1 + 3);
}

/* One continuation per callback: the second tr_continue gets TR_EBUSY and
 * the first still runs once. Outside a callback: TR_EINVAL. */
static void test_continue_errors(void **state) {
    tu_fix *f = *state;
    cont_arg a = {.log = f->log};
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &cont_b, &a, NULL, &p), 0);
    cast_do(f->rt, p, DO_BUSY);
    assert_int_equal(get_counter(f->rt, p), 100);
    assert_true(tu_log_find_note(f->log, "busy:TR_OK,TR_EBUSY", 0) >= 0);
    assert_int_equal(tu_log_count(f->log, TR_PID_NONE, TU_EV_NOTE, TU_ANY), 5);
    assert_rc(tr_continue(NULL, 1, NULL, 0), TR_EINVAL);
}

/* A behaviour without handle_continue that sets one crashes with
 * "unexpected continue", as OTP's undefined callback. */
static int nc_init(tr_self *self, void *state, const void *arg) {
    (void)state;
    (void)arg;
    return tr_continue(self, 7, NULL, 0);
}
static const tr_behaviour no_cont_b = {.name = "no_cont", .init = nc_init};

static void test_continue_without_callback_crashes(void **state) {
    tu_fix *f = *state;
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &no_cont_b, NULL, NULL, &p), 0);
    tr_reason r = tu_await(f->rt, p);
    if (r.kind == TR_EXIT_NOPROC)
        return; /* it crashed before the monitor: nothing more to see */
    assert_reason_kind(r, TR_EXIT_ERROR);
    assert_int_equal(r.code, TR_EINVAL);
    assert_string_equal(r.text, "unexpected continue");
}

/* A behaviour run on a fiber continues the same way. */
static void test_continue_on_fiber(void **state) {
    tu_fix *f = *state;
    cont_arg a = {.log = f->log, .init_cont = true, .chain = true};
    tr_spawn_opts o = {.on_fiber = true};
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &cont_b, &a, &o, &p), 0);
    assert_int_equal(get_counter(f->rt, p), 142);
    assert_int_equal(tu_log_find_note(f->log, "cont:A", 0), 1);
    assert_int_equal(tu_log_find_note(f->log, "cont:B", 0), 2);
    assert_int_equal(tu_log_find_note(f->log, "info:self", 0), 3);
}

/* ---- tr_stop_server ------------------------------------------------------ */

/* A slow terminate, to show that tr_stop_server waits for it. */
static atomic_int g_term_done;
static int slow_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    (*(int *)state)++;
    (void)m;
    return TR_CONTINUE;
}
static void slow_terminate(tr_self *self, void *state, tr_reason reason) {
    (void)self;
    (void)reason;
    tu_sleep_ms(50); /* the work a terminate does; the caller must wait for it */
    atomic_store(&g_term_done, *(int *)state);
}
static int slow_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)state;
    (void)m;
    /* An actor may not stop anyone with a blocking call: TR_EDEADLK. */
    int rc =
        tr_stop_server(tr_self_runtime(self), tr_self_pid(self), tr_reason_normal(), 1000, NULL);
    tr_reply(from, 0, &rc, sizeof rc);
    return TR_CONTINUE;
}
static const tr_behaviour slow_b = {.name = "slow",
                                    .state_size = sizeof(int),
                                    .handle_call = slow_call,
                                    .handle_cast = slow_cast,
                                    .terminate = slow_terminate};

/* It returns after terminate ran, with the reason given, behind the casts
 * the same thread sent before; the actor does not trap exits. */
static void test_stop_server_waits_for_terminate(void **state) {
    tu_fix *f = *state;
    atomic_store(&g_term_done, -1);
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &slow_b, NULL, NULL, &p), 0);
    for (int i = 0; i < 100; i++)
        assert_rc(tr_cast(f->rt, p, 1, NULL, 0), 0);
    tu_watch w = tu_watch_start(f->rt, f->log, p);
    tr_reason why;
    memset(&why, 0, sizeof why);
    assert_rc(tr_stop_server(f->rt, p, tr_reason_error(7, "bye"), 10000, &why), 0);
    assert_int_equal(atomic_load(&g_term_done), 100); /* terminate ran, after the casts */
    assert_false(tr_is_alive(f->rt, p));
    assert_reason_kind(why, TR_EXIT_ERROR);
    assert_int_equal(why.code, 7);
    assert_string_equal(why.text, "bye");
    tr_reason down = tu_watch_wait(&w); /* monitors see the same reason */
    assert_int_equal(down.code, 7);
    assert_string_equal(down.text, "bye");
}

/* A probe that traps exits stops the same way, terminate with the reason. */
static void test_stop_server_probe_terminate_reason(void **state) {
    tu_fix *f = *state;
    tr_pid p = tu_probe(f->rt, f->log, true);
    assert_rc(tr_stop_server(f->rt, p, tr_reason_shutdown(), TR_INFINITY, NULL), 0);
    assert_int_equal(tu_log_count(f->log, p, TU_EV_TERM, TU_ANY), 1);
    tu_event e;
    assert_true(tu_log_get(f->log, p, TU_EV_TERM, TU_ANY, 0, &e));
    assert_reason_kind(e.reason, TR_EXIT_SHUTDOWN);
}

static void test_stop_server_errors(void **state) {
    tu_fix *f = *state;
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &slow_b, NULL, NULL, &p), 0);
    tr_reason bad = tr_reason_normal();
    bad.kind = 99;
    assert_rc(tr_stop_server(NULL, p, tr_reason_normal(), 1000, NULL), TR_EINVAL);
    assert_rc(tr_stop_server(f->rt, TR_PID_NONE, tr_reason_normal(), 1000, NULL), TR_EINVAL);
    assert_rc(tr_stop_server(f->rt, p, bad, 1000, NULL), TR_EINVAL);
    assert_rc(tr_stop_server(f->rt, p, tr_reason_normal(), 0, NULL), TR_EINVAL);
    /* from inside a callback (here: on itself) */
    tr_buf b;
    assert_rc(tr_call(f->rt, p, 2, NULL, 0, &b, 10000), 0);
    int rc;
    memcpy(&rc, b.data, sizeof rc);
    tr_buf_free(&b);
    assert_rc(rc, TR_EDEADLK);
    assert_true(tr_is_alive(f->rt, p));
    assert_rc(tr_stop_server(f->rt, p, tr_reason_normal(), 10000, NULL), 0);
    /* dead pid */
    assert_rc(tr_stop_server(f->rt, p, tr_reason_normal(), 1000, NULL), TR_ENOPROC);
}

/* A server busy past the timeout: TR_ETIMEDOUT, it is not killed, and it
 * still stops with the reason when it comes to the request. */
static void test_stop_server_timeout(void **state) {
    tu_fix *f = *state;
    tr_pid p = tu_probe(f->rt, f->log, false);
    tu_watch w = tu_watch_start(f->rt, f->log, p);
    tu_hold(f->rt, p, &f->gate[0]);
    int64_t t0 = tu_now_ms();
    assert_rc(tr_stop_server(f->rt, p, tr_reason_error(3, "later"), 100, NULL), TR_ETIMEDOUT);
    assert_true(tu_now_ms() - t0 >= 100);
    assert_true(tr_is_alive(f->rt, p));
    tu_gate_open(&f->gate[0]);
    tr_reason down = tu_watch_wait(&w);
    assert_reason_kind(down, TR_EXIT_ERROR);
    assert_string_equal(down.text, "later");
    assert_int_equal(tu_log_count(f->log, p, TU_EV_TERM, TU_ANY), 1);
}

/* It crashed before it came to the request: TR_EEXITED and the crash. */
static void test_stop_server_exited_otherwise(void **state) {
    tu_fix *f = *state;
    tr_pid p = tu_probe(f->rt, f->log, false);
    tr_reason boom = tr_reason_error(9, "boom");
    assert_rc(tr_cast(f->rt, p, TU_FAIL, &boom, sizeof boom), 0);
    tr_reason why;
    int rc = tr_stop_server(f->rt, p, tr_reason_normal(), 10000, &why);
    if (rc == TR_ENOPROC)
        return; /* it was gone before the monitor: nothing more to see */
    assert_rc(rc, TR_EEXITED);
    assert_reason_kind(why, TR_EXIT_ERROR);
    assert_string_equal(why.text, "boom");
}

/* ---- tr_get_state / tr_replace_state ------------------------------------- */

static void set_counter(void *state, size_t size, void *arg) {
    if (size == sizeof(cont_state))
        ((cont_state *)state)->counter = *(int *)arg;
}

/* A copy of the state, taken between callbacks: the continuation has run
 * (42), and a replace is seen by the next callback. */
static void test_get_and_replace_state(void **state) {
    tu_fix *f = *state;
    cont_arg a = {.log = f->log, .init_cont = true};
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &cont_b, &a, NULL, &p), 0);
    tr_buf b;
    assert_rc(tr_get_state(f->rt, p, &b, 10000), 0);
    assert_int_equal(b.size, sizeof(cont_state));
    cont_state copy;
    memcpy(&copy, b.data, sizeof copy);
    tr_buf_free(&b);
    assert_int_equal(copy.counter, 42);
    assert_ptr_equal(copy.arg.log, f->log);
    int v = 7;
    assert_rc(tr_replace_state(f->rt, p, set_counter, &v, 10000), 0);
    assert_int_equal(get_counter(f->rt, p), 7);
}

/* Between callbacks, never during one: an actor held inside a callback does
 * not answer until the callback returns. */
static void test_get_state_waits_for_callback(void **state) {
    tu_fix *f = *state;
    cont_arg a = {.log = f->log, .gate = &f->gate[0]};
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &cont_b, &a, NULL, &p), 0);
    cast_do(f->rt, p, DO_GATE);
    assert_true(tu_gate_wait_entered(&f->gate[0], 1, 10000));
    tr_buf b;
    assert_rc(tr_get_state(f->rt, p, &b, 100), TR_ETIMEDOUT);
    assert_null(b.data);
    tu_gate_open(&f->gate[0]);
    assert_rc(tr_get_state(f->rt, p, &b, 10000), 0);
    assert_int_equal(b.size, sizeof(cont_state));
    tr_buf_free(&b);
}

static void test_state_errors(void **state) {
    tu_fix *f = *state;
    tr_pid p = tu_probe(f->rt, f->log, false);
    tr_buf b;
    assert_rc(tr_get_state(f->rt, p, &b, 10000), 0);
    assert_int_equal(b.size, sizeof(tu_probe_state)); /* the probe's state */
    tr_buf_free(&b);
    assert_rc(tr_replace_state(f->rt, p, NULL, NULL, 1000), TR_EINVAL);
    tr_pid s;
    assert_rc(tr_spawn(f->rt, &no_cont_b, NULL, NULL, &s), 0); /* crashes at once */
    tu_await(f->rt, s);
    assert_rc(tr_get_state(f->rt, s, &b, 1000), TR_ENOPROC);
    assert_rc(tr_get_state(f->rt, TR_PID_NONE, &b, 1000), TR_ENOPROC);
    int v = 1;
    assert_rc(tr_replace_state(f->rt, s, set_counter, &v, 1000), TR_ENOPROC);
}

/* A behaviour on a fiber: its own state block. */
static void test_get_state_on_fiber(void **state) {
    tu_fix *f = *state;
    cont_arg a = {.log = f->log, .init_cont = true};
    tr_spawn_opts o = {.on_fiber = true};
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &cont_b, &a, &o, &p), 0);
    assert_int_equal(get_counter(f->rt, p), 42);
    tr_buf b;
    assert_rc(tr_get_state(f->rt, p, &b, 10000), 0);
    assert_int_equal(b.size, sizeof(cont_state));
    cont_state copy;
    memcpy(&copy, b.data, sizeof copy);
    tr_buf_free(&b);
    assert_int_equal(copy.counter, 42);
}

/* ---- tr_idle_timeout ----------------------------------------------------- */

enum { I_ARM = 1, I_PLAIN, I_OFF };

typedef struct idle_arg {
    tu_log *log;
    tr_duration_ms init_ms; /* init's idle timeout; -2: none */
} idle_arg;

typedef struct idle_state {
    tu_log *log;
    atomic_int rc; /* the last tr_idle_timeout's result */
} idle_state;

static int i_init(tr_self *self, void *state, const void *arg) {
    idle_state *st = state;
    const idle_arg *a = arg;
    st->log = a->log;
    if (a->init_ms != -2)
        return tr_idle_timeout(self, a->init_ms);
    return TR_CONTINUE;
}

/* I_ARM: the payload is the timeout; I_PLAIN: nothing; I_OFF: infinity. */
static int i_cast(tr_self *self, void *state, const tr_msg *m) {
    idle_state *st = state;
    tu_log_msg(st->log, TU_EV_CAST, self, m);
    if (m->tag == I_ARM) {
        tr_duration_ms ms;
        memcpy(&ms, m->data, sizeof ms);
        return tr_idle_timeout(self, ms);
    }
    if (m->tag == I_OFF)
        return tr_idle_timeout(self, TR_INFINITY);
    return TR_CONTINUE;
}

static int i_info(tr_self *self, void *state, const tr_msg *m) {
    idle_state *st = state;
    tu_log_msg(st->log, TU_EV_INFO, self, m);
    return TR_CONTINUE;
}

static int i_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)m;
    /* bad arguments, from inside a callback */
    int r[2] = {tr_idle_timeout(self, -5), tr_idle_timeout(NULL, 10)};
    (void)state;
    tr_reply(from, 0, r, sizeof r);
    return TR_CONTINUE;
}

static const tr_behaviour idle_b = {.name = "idle",
                                    .state_size = sizeof(idle_state),
                                    .init = i_init,
                                    .handle_call = i_call,
                                    .handle_cast = i_cast,
                                    .handle_info = i_info};

static void cast_arm(tr_runtime *rt, tr_pid p, tr_duration_ms ms) {
    assert_rc(tr_cast(rt, p, I_ARM, &ms, sizeof ms), 0);
}

/* init's timeout fires once, not before its time, as TR_MSG_TIMEOUT. */
static void test_idle_timeout_from_init(void **state) {
    tu_fix *f = *state;
    idle_arg a = {f->log, 50};
    int64_t t0 = tu_now_us();
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &idle_b, &a, NULL, &p), 0);
    assert_true(tu_log_wait(f->log, p, TU_EV_INFO, TR_MSG_TIMEOUT, 1, 10000));
    tu_event e;
    assert_true(tu_log_get(f->log, p, TU_EV_INFO, TR_MSG_TIMEOUT, 0, &e));
    assert_true(e.at_us - t0 >= 50 * 1000);
    assert_int_equal(e.tag, 0);
    assert_true(tr_pid_is_none(e.sender));
    /* a callback that sets none: no more timeouts after the next message */
    assert_rc(tr_cast(f->rt, p, I_PLAIN, NULL, 0), 0);
    assert_true(tu_log_wait(f->log, p, TU_EV_CAST, TU_ANY, 1, 10000));
    assert_int_equal(tu_log_count(f->log, p, TU_EV_INFO, TR_MSG_TIMEOUT), 1);
}

/* Any message cancels it: a plain cast right behind the arming one, and
 * no timeout comes (the 100 ms one would be there well within 1 s). */
static void test_idle_timeout_cancelled_by_message(void **state) {
    tu_fix *f = *state;
    idle_arg a = {f->log, -2};
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &idle_b, &a, NULL, &p), 0);
    cast_arm(f->rt, p, 100);
    assert_rc(tr_cast(f->rt, p, I_PLAIN, NULL, 0), 0);
    assert_true(tu_log_wait(f->log, p, TU_EV_CAST, TU_ANY, 2, 10000));
    assert_false(tu_log_wait(f->log, p, TU_EV_INFO, TR_MSG_TIMEOUT, 1, 1000));
    /* TR_INFINITY switches it off as well */
    cast_arm(f->rt, p, 100);
    assert_rc(tr_cast(f->rt, p, I_OFF, NULL, 0), 0);
    assert_false(tu_log_wait(f->log, p, TU_EV_INFO, TR_MSG_TIMEOUT, 1, 1000));
    /* armed and left alone, it fires */
    int64_t t0 = tu_now_us();
    cast_arm(f->rt, p, 30);
    assert_true(tu_log_wait(f->log, p, TU_EV_INFO, TR_MSG_TIMEOUT, 1, 10000));
    tu_event e;
    assert_true(tu_log_get(f->log, p, TU_EV_INFO, TR_MSG_TIMEOUT, 0, &e));
    assert_true(e.at_us - t0 >= 30 * 1000);
}

/* 0: at once when nothing is queued; bad values are refused. */
static void test_idle_timeout_zero_and_errors(void **state) {
    tu_fix *f = *state;
    idle_arg a = {f->log, 0};
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &idle_b, &a, NULL, &p), 0);
    assert_true(tu_log_wait(f->log, p, TU_EV_INFO, TR_MSG_TIMEOUT, 1, 10000));
    tr_buf b;
    assert_rc(tr_call(f->rt, p, 1, NULL, 0, &b, 10000), 0);
    int r[2];
    memcpy(r, b.data, sizeof r);
    tr_buf_free(&b);
    assert_rc(r[0], TR_EINVAL);
    assert_rc(r[1], TR_EINVAL);
    assert_rc(tr_idle_timeout(NULL, 10), TR_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_continue_after_init_runs_first),
        TU_TEST(test_continue_chain_from_callback),
        TU_TEST(test_continue_errors),
        TU_TEST(test_continue_without_callback_crashes),
        TU_TEST(test_continue_on_fiber),
        TU_TEST(test_stop_server_waits_for_terminate),
        TU_TEST(test_stop_server_probe_terminate_reason),
        TU_TEST(test_stop_server_errors),
        TU_TEST(test_stop_server_timeout),
        TU_TEST(test_stop_server_exited_otherwise),
        TU_TEST(test_get_and_replace_state),
        TU_TEST(test_get_state_waits_for_callback),
        TU_TEST(test_state_errors),
        TU_TEST(test_get_state_on_fiber),
        TU_TEST(test_idle_timeout_from_init),
        TU_TEST(test_idle_timeout_cancelled_by_message),
        TU_TEST(test_idle_timeout_zero_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
