/* Timers: send_after, send_interval, cancel, dead targets, many timers.
 * Timing bounds: never earlier than the delay (to the microsecond), not
 * later than delay + 500 ms (generous, for loaded CI machines). */
#include "testutil.h"

static tu_event wait_timer(tu_log *log, tr_pid who, size_t idx, int64_t timeout_ms) {
    assert_true(tu_log_wait(log, who, TU_EV_INFO, TR_MSG_TIMER, idx + 1, timeout_ms));
    tu_event e;
    assert_true(tu_log_get(log, who, TU_EV_INFO, TR_MSG_TIMER, idx, &e));
    return e;
}

static void test_send_after_delivers(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, false);
    const int64_t delay = 100;
    tr_timer t = 0;
    int64_t t0 = tu_now_us();
    assert_rc(tr_send_after(f->rt, a, delay, 7, "abc", 4, &t), 0);
    assert_true(t != 0);
    tu_event e = wait_timer(f->log, a, 0, 5000);
    int64_t elapsed_ms = (e.at_us - t0) / 1000;
    print_message("send_after(%lld ms) arrived after %lld ms\n", (long long)delay,
                  (long long)elapsed_ms);
    assert_true(e.at_us - t0 >= delay * 1000); /* never early */
    assert_true(elapsed_ms <= delay + 500);
    assert_int_equal(e.kind, TR_MSG_TIMER);
    assert_int_equal(e.tag, 7);
    assert_int_equal(e.size, 4);
    assert_string_equal((char *)e.data, "abc");
    assert_true(e.ref == t);
    assert_true(tr_pid_is_none(e.sender));
    /* Fired: cancel says 0; nothing else arrives. */
    assert_rc(tr_cancel_timer(f->rt, t), 0);
    tu_sleep_ms(100);
    assert_int_equal(tu_log_count(f->log, a, TU_EV_INFO, TR_MSG_TIMER), 1);
}

/* As erlang:send_after/3: a timer never fires before its delay has passed,
 * whatever the phase of the clock when it was armed (a millisecond clock
 * rounds deadlines down and fires up to 1 ms early). */
static void test_timers_never_early(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, false);
    enum { N = 40 };
    int64_t armed_us[N];
    for (int i = 0; i < N; i++) {
        armed_us[i] = tu_now_us();
        assert_rc(tr_send_after(f->rt, a, 1 + i % 20, (uint32_t)i, NULL, 0, NULL), 0);
        tu_sleep_us(137 + 71 * i); /* arm at varied sub-millisecond phases */
    }
    assert_true(tu_log_wait(f->log, a, TU_EV_INFO, TR_MSG_TIMER, N, 5000));
    for (size_t k = 0; k < N; k++) {
        tu_event e;
        assert_true(tu_log_get(f->log, a, TU_EV_INFO, TR_MSG_TIMER, k, &e));
        assert_true(e.tag < N);
        int64_t delay_us = (int64_t)(1 + e.tag % 20) * 1000;
        if (e.at_us - armed_us[e.tag] < delay_us)
            fail_msg("timer %u (%lld ms) fired after %lld us", e.tag, (long long)(delay_us / 1000),
                     (long long)(e.at_us - armed_us[e.tag]));
    }
}

static void test_send_after_zero_and_null_id(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, false);
    assert_rc(tr_send_after(f->rt, a, 0, 1, NULL, 0, NULL), 0);
    tu_event e = wait_timer(f->log, a, 0, 2000);
    assert_int_equal(e.tag, 1);
    assert_int_equal(e.size, 0);
    assert_true(e.ref != 0);
}

static void test_timers_fire_in_delay_order(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, false);
    const uint32_t delays[] = {250, 50, 150, 10, 200};
    for (int i = 0; i < 5; i++)
        assert_rc(tr_send_after(f->rt, a, delays[i], delays[i], NULL, 0, NULL), 0);
    (void)wait_timer(f->log, a, 4, 5000);
    uint32_t prev = 0;
    for (int i = 0; i < 5; i++) {
        tu_event e;
        assert_true(tu_log_get(f->log, a, TU_EV_INFO, TR_MSG_TIMER, (size_t)i, &e));
        assert_true(e.tag > prev);
        prev = e.tag;
    }
}

static void test_cancel_before_firing(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, false);
    tr_timer t = 0, keep = 0;
    assert_rc(tr_send_after(f->rt, a, 200, 1, NULL, 0, &t), 0);
    assert_rc(tr_send_after(f->rt, a, 250, 2, NULL, 0, &keep), 0);
    assert_true(t != keep);
    assert_rc(tr_cancel_timer(f->rt, t), 1);
    assert_rc(tr_cancel_timer(f->rt, t), 0); /* already cancelled */
    tu_event e = wait_timer(f->log, a, 0, 5000);
    assert_int_equal(e.tag, 2); /* only the other one */
    tu_sleep_ms(200);
    tu_ping(f->rt, a);
    assert_int_equal(tu_log_count(f->log, a, TU_EV_INFO, TR_MSG_TIMER), 1);
}

/* A timer whose target died is discarded, also when its slot is reused. */
static atomic_int g_timer_hits;
static int hit_info(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    (void)state;
    if (m->kind == TR_MSG_TIMER)
        atomic_fetch_add(&g_timer_hits, 1);
    return TR_CONTINUE;
}
static const tr_behaviour k_hit = {.name = "hit", .handle_info = hit_info};

static void test_timer_to_dead_actor_discarded(void **state) {
    tu_fix *f = *state;
    const int n = TU_SCALE(500, 200);
    atomic_store(&g_timer_hits, 0);
    tr_pid a;
    assert_rc(tr_spawn(f->rt, &k_hit, NULL, NULL, &a), 0);
    tr_timer t = 0;
    assert_rc(tr_send_after(f->rt, a, 200, 1, NULL, 0, &t), 0);
    tr_timer ti = 0;
    assert_rc(tr_send_interval(f->rt, a, 30, 2, NULL, 0, &ti), 0);
    assert_rc(tr_exit(f->rt, a, tr_reason_kill()), 0);
    (void)tu_await(f->rt, a);
    int hits_at_death = atomic_load(&g_timer_hits);
    /* Aimed at an already dead pid. */
    int rc = tr_send_after(f->rt, a, 50, 3, NULL, 0, NULL);
    assert_true(rc == 0 || rc == TR_ENOPROC);
    atomic_store(&g_timer_hits, 0);
    /* New actors, which may reuse the slot, must not get those timers. */
    tr_pid *ps = calloc((size_t)n, sizeof *ps);
    for (int i = 0; i < n; i++)
        assert_rc(tr_spawn(f->rt, &k_hit, NULL, NULL, &ps[i]), 0);
    tu_sleep_ms(400);
    assert_int_equal(atomic_load(&g_timer_hits), 0);
    assert_true(hits_at_death <= 1); /* at most a tick before the kill */
    /* The interval stopped by itself once the target was dead. */
    assert_rc(tr_cancel_timer(f->rt, ti), 0);
    assert_rc(tr_cancel_timer(f->rt, t), 0);
    free(ps);
}

static void test_send_interval_ticks_until_cancel(void **state) {
    tu_fix *f = *state;
    tr_pid a = tu_probe(f->rt, f->log, false);
    const int64_t period = 50;
    tr_timer t = 0;
    int64_t t0 = tu_now_us();
    assert_rc(tr_send_interval(f->rt, a, period, 9, "tick", 5, &t), 0);
    tu_event e5 = wait_timer(f->log, a, 4, 5000);
    int64_t ms = (e5.at_us - t0) / 1000;
    print_message("5 ticks of %lld ms took %lld ms\n", (long long)period, (long long)ms);
    assert_true(ms >= 5 * period - 2);
    assert_true(ms <= 5 * period + 1000);
    for (int i = 0; i < 5; i++) {
        tu_event e;
        assert_true(tu_log_get(f->log, a, TU_EV_INFO, TR_MSG_TIMER, (size_t)i, &e));
        assert_true(e.ref == t);
        assert_int_equal(e.tag, 9);
        assert_string_equal((char *)e.data, "tick");
    }
    assert_rc(tr_cancel_timer(f->rt, t), 1);
    size_t at_cancel = tu_log_count(f->log, a, TU_EV_INFO, TR_MSG_TIMER);
    tu_sleep_ms(4 * period);
    tu_ping(f->rt, a);
    size_t after = tu_log_count(f->log, a, TU_EV_INFO, TR_MSG_TIMER);
    assert_true(after <= at_cancel + 1); /* at most one already queued */
    tu_sleep_ms(4 * period);
    tu_ping(f->rt, a);
    assert_int_equal(tu_log_count(f->log, a, TU_EV_INFO, TR_MSG_TIMER), after);
    assert_rc(tr_cancel_timer(f->rt, t), 0);
}

/* A timer armed from inside a callback, to self. */
static int selftimer_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)state;
    (void)m;
    tr_send_after(tr_self_runtime(self), tr_self_pid(self), 20, 42, NULL, 0, NULL);
    return TR_CONTINUE;
}
static int selftimer_info(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    (void)state;
    if (m->kind == TR_MSG_TIMER && m->tag == 42)
        atomic_fetch_add(&g_timer_hits, 1);
    return TR_CONTINUE;
}
static const tr_behaviour k_selftimer = {
    .name = "selftimer", .handle_cast = selftimer_cast, .handle_info = selftimer_info};

static void test_timer_from_callback(void **state) {
    tu_fix *f = *state;
    atomic_store(&g_timer_hits, 0);
    tr_pid a;
    assert_rc(tr_spawn(f->rt, &k_selftimer, NULL, NULL, &a), 0);
    for (int i = 0; i < 3; i++)
        assert_rc(tr_cast(f->rt, a, 0, NULL, 0), 0);
    assert_true(TU_WAIT(atomic_load(&g_timer_hits) == 3, 5000));
}

/* ------------------------------------------------------------------------ */
/* Many timers                                                               */
/* ------------------------------------------------------------------------ */

typedef struct many_state {
    int64_t fired;
    uint64_t bad;
} many_state;

static atomic_llong g_many_fired;

static int many_info(tr_self *self, void *state, const tr_msg *m) {
    many_state *s = state;
    (void)self;
    if (m->kind == TR_MSG_TIMER) {
        uint64_t v;
        if (m->size != sizeof v)
            s->bad++;
        else {
            memcpy(&v, m->data, sizeof v);
            if (v != m->tag)
                s->bad++;
        }
        s->fired++;
        atomic_fetch_add(&g_many_fired, 1);
    }
    return TR_CONTINUE;
}

static int many_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)self;
    (void)m;
    tr_reply(from, 0, state, sizeof(many_state));
    return TR_CONTINUE;
}

static const tr_behaviour k_many = {.name = "many",
                                    .state_size = sizeof(many_state),
                                    .handle_call = many_call,
                                    .handle_info = many_info};

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_many_timers_all_fire(void **state) {
    tu_fix *f = *state;
    const int n = 10000, actors = 10;
    atomic_store(&g_many_fired, 0);
    tr_pid p[10];
    for (int i = 0; i < actors; i++)
        assert_rc(tr_spawn(f->rt, &k_many, NULL, NULL, &p[i]), 0);
    uint64_t *ids = calloc((size_t)n, sizeof *ids);
    unsigned seed = 12345;
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        tr_duration_ms delay = (seed >> 16) % 300;
        uint64_t v = (uint32_t)i;
        assert_rc(tr_send_after(f->rt, p[i % actors], delay, (uint32_t)i, &v, sizeof v, &ids[i]),
                  0);
    }
    assert_true(TU_WAIT(atomic_load(&g_many_fired) == n, 10000));
    qsort(ids, (size_t)n, sizeof *ids, cmp_u64);
    for (int i = 0; i < n; i++) {
        assert_true(ids[i] != 0);
        if (i)
            assert_true(ids[i] != ids[i - 1]);
    }
    int64_t total = 0;
    for (int i = 0; i < actors; i++) {
        tr_buf b;
        assert_rc(tr_call(f->rt, p[i], 0, NULL, 0, &b, 5000), 0);
        many_state s;
        memcpy(&s, b.data, sizeof s);
        tr_buf_free(&b);
        assert_int_equal(s.bad, 0);
        assert_int_equal(s.fired, n / actors);
        total += s.fired;
    }
    assert_int_equal(total, n);
    tu_sleep_ms(100);
    assert_int_equal(atomic_load(&g_many_fired), n);
    free(ids);
}

/* Cancel half of many pending timers: exactly the other half fires. */
static void test_many_timers_cancel_half(void **state) {
    tu_fix *f = *state;
    const int n = TU_SCALE(4000, 1000);
    atomic_store(&g_many_fired, 0);
    tr_pid p;
    assert_rc(tr_spawn(f->rt, &k_many, NULL, NULL, &p), 0);
    tr_timer *ids = calloc((size_t)n, sizeof *ids);
    for (int i = 0; i < n; i++) {
        uint64_t v = (uint32_t)i;
        assert_rc(tr_send_after(f->rt, p, 300 + i % 100, (uint32_t)i, &v, sizeof v, &ids[i]), 0);
    }
    int cancelled = 0;
    for (int i = 0; i < n; i += 2)
        cancelled += tr_cancel_timer(f->rt, ids[i]);
    assert_int_equal(cancelled, n / 2);
    assert_true(TU_WAIT(atomic_load(&g_many_fired) == n / 2, 10000));
    tu_sleep_ms(200);
    assert_int_equal(atomic_load(&g_many_fired), n / 2);
    free(ids);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_send_after_delivers),           TU_TEST(test_send_after_zero_and_null_id),
        TU_TEST(test_timers_fire_in_delay_order),    TU_TEST(test_cancel_before_firing),
        TU_TEST(test_timer_to_dead_actor_discarded), TU_TEST(test_send_interval_ticks_until_cancel),
        TU_TEST(test_timer_from_callback),           TU_TEST(test_many_timers_all_fire),
        TU_TEST(test_many_timers_cancel_half),       TU_TEST(test_timers_never_early),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
