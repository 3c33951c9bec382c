/* Unit tests of the timer heap (actor/timer.c), through the public timer
 * API (the heap is private to timer.c), against a reference model.
 *
 * - Random inserts and cancels: short timers (0-150 ms) that fire during
 *   the test, long ones (60-120 s) that must never fire and are all
 *   cancelled at the end, cancels of pending timers (mid-heap removals),
 *   repeated cancels of the same id. The model: a cancel that returns 1
 *   means the timer is never delivered, 0 means it fired already (so it is
 *   delivered exactly once). A sentinel timer later than every short one
 *   closes the round: everything due before it has arrived by then.
 *   Checked: each expected timer arrives exactly once, no cancelled or
 *   long one arrives, none arrives before its deadline, and the arrival
 *   order is the deadline order (a deadline is only known to within the
 *   few microseconds the tr_send_after call took, so two timers are out of
 *   order only when their deadline intervals do not overlap).
 * - Stale ids: a cancelled timer's slot is reused with a new generation; the
 *   old id cancels nothing.
 * - Intervals: ticks come, and stop once cancelled (at most one tick that
 *   was already on its way). */
#include "testutil.h"

#define MAX_REC 20000

typedef struct rec {
    uint32_t idx;
    int64_t at_us;
} rec;

typedef struct sink {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t n;
    rec r[MAX_REC];
} sink;

typedef struct sink_state {
    sink *s;
} sink_state;

static int sink_init(tr_self *self, void *state, const void *arg) {
    ((sink_state *)state)->s = (sink *)arg;
    return TR_CONTINUE;
}

static int sink_info(tr_self *self, void *state, const tr_msg *m) {
    sink *s = ((sink_state *)state)->s;
    if (m->kind != TR_MSG_TIMER || m->size != sizeof(uint32_t))
        return TR_CONTINUE;
    uint32_t idx;
    memcpy(&idx, m->data, sizeof idx);
    int64_t now = tu_now_us();
    pthread_mutex_lock(&s->mu);
    if (s->n < MAX_REC)
        s->r[s->n++] = (rec){idx, now};
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return TR_CONTINUE;
}

static const tr_behaviour sink_b = {
    .name = "timer_sink",
    .state_size = sizeof(sink_state),
    .init = sink_init,
    .handle_info = sink_info,
};

static sink *sink_new(void) {
    sink *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    return s;
}

static void sink_free(sink *s) {
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* Waits until a record with idx has arrived; its position, or -1. */
static long sink_wait_for(sink *s, uint32_t idx, int64_t timeout_ms) {
    int64_t end = tu_now_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        for (size_t i = 0; i < s->n; i++)
            if (s->r[i].idx == idx) {
                pthread_mutex_unlock(&s->mu);
                return (long)i;
            }
        pthread_mutex_unlock(&s->mu);
        if (tu_now_ms() >= end)
            return -1;
        tu_sleep_ms(2);
    }
}

static size_t sink_count(sink *s) {
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- the model ---- */

enum { T_PENDING, T_CANCELLED, T_FIRED_BEFORE_CANCEL };

typedef struct model_t {
    tr_timer id;
    int64_t lo_us, hi_us; /* deadline bounds */
    bool is_long;
    int state;
    int delivered;
} model_t;

static uint64_t xs(uint64_t *r) {
    *r ^= *r << 13;
    *r ^= *r >> 7;
    *r ^= *r << 17;
    return *r;
}

static void add_timer(tr_runtime *rt, tr_pid to, model_t *m, uint32_t idx, int64_t delay_ms) {
    int64_t t0 = tu_now_us();
    assert_rc(tr_send_after(rt, to, delay_ms, 0, &idx, sizeof idx, &m[idx].id), 0);
    int64_t t1 = tu_now_us();
    assert_true(m[idx].id != 0);
    m[idx].lo_us = t0 + delay_ms * 1000;
    m[idx].hi_us = t1 + delay_ms * 1000;
    m[idx].state = T_PENDING;
    m[idx].delivered = 0;
}

static void one_round(tr_runtime *rt, uint64_t seed, uint32_t n) {
    sink *s = sink_new();
    tr_pid to;
    assert_rc(tr_spawn(rt, &sink_b, s, NULL, &to), 0);
    model_t *m = calloc(n + 1, sizeof *m);
    uint64_t r = seed;
    int64_t max_short_ms = 150;
    uint32_t cancels = 0, cancelled = 0, too_late = 0, recancels = 0;

    for (uint32_t i = 0; i < n; i++) {
        bool is_long = xs(&r) % 10 < 3;
        int64_t delay = is_long ? 60000 + (int64_t)(xs(&r) % 60000)
                                : (int64_t)(xs(&r) % (uint64_t)(max_short_ms + 1));
        m[i].is_long = is_long;
        add_timer(rt, to, m, i, delay);
        if (i % 50 == 49)
            tu_sleep_us(500); /* let some fire while others are inserted and cancelled */
        /* A third of the time, cancel a random earlier timer. */
        if (xs(&r) % 3 == 0) {
            uint32_t j = (uint32_t)(xs(&r) % (i + 1));
            int rc = tr_cancel_timer(rt, m[j].id);
            cancels++;
            if (m[j].state == T_PENDING) {
                if (rc == 1) {
                    m[j].state = T_CANCELLED;
                    cancelled++;
                } else {
                    assert_int_equal(rc, 0);
                    /* only a short timer can have fired already */
                    assert_false(m[j].is_long);
                    m[j].state = T_FIRED_BEFORE_CANCEL;
                    too_late++;
                }
            } else {
                /* cancelled or fired before: nothing to cancel */
                assert_int_equal(rc, 0);
                recancels++;
            }
        }
    }
    /* Every long timer still pending is cancelled now: it cannot have
     * fired. */
    for (uint32_t i = 0; i < n; i++)
        if (m[i].is_long && m[i].state == T_PENDING) {
            assert_int_equal(tr_cancel_timer(rt, m[i].id), 1);
            m[i].state = T_CANCELLED;
        }
    /* The sentinel: due after every short timer. */
    add_timer(rt, to, m, n, max_short_ms + 30);
    assert_true(sink_wait_for(s, n, 10000) >= 0);

    /* Check the deliveries against the model. */
    pthread_mutex_lock(&s->mu);
    size_t got = s->n;
    int64_t max_lo = INT64_MIN;
    uint32_t max_lo_idx = 0;
    for (size_t k = 0; k < got; k++) {
        rec e = s->r[k];
        if (e.idx > n) {
            pthread_mutex_unlock(&s->mu);
            fail_msg("unknown timer payload %u", e.idx);
        }
        model_t *t = &m[e.idx];
        t->delivered++;
        if (e.at_us < t->lo_us) {
            pthread_mutex_unlock(&s->mu);
            fail_msg("timer %u arrived %lld us before its deadline", e.idx,
                     (long long)(t->lo_us - e.at_us));
        }
        /* deadline order: an earlier arrival had a deadline no later */
        if (max_lo > t->hi_us) {
            pthread_mutex_unlock(&s->mu);
            fail_msg("timer %u (deadline <= %lld us) arrived after timer %u (deadline >= %lld us)",
                     e.idx, (long long)t->hi_us, max_lo_idx, (long long)max_lo);
        }
        if (t->lo_us > max_lo) {
            max_lo = t->lo_us;
            max_lo_idx = e.idx;
        }
    }
    pthread_mutex_unlock(&s->mu);
    uint32_t expected = 0;
    for (uint32_t i = 0; i <= n; i++) {
        model_t *t = &m[i];
        if (t->state == T_CANCELLED) {
            if (t->delivered)
                fail_msg("timer %u was cancelled (1) but delivered %d time(s)", i, t->delivered);
        } else {
            if (t->delivered != 1)
                fail_msg("timer %u (%s, deadline in [%lld, %lld]) delivered %d time(s)", i,
                         t->is_long ? "long" : "short", (long long)t->lo_us, (long long)t->hi_us,
                         t->delivered);
            expected++;
        }
    }
    assert_int_equal(got, expected);
    print_message("timers: %u inserted, %u cancels (%u cancelled, %u too late, %u repeated), %u "
                  "delivered in deadline order\n",
                  n + 1, cancels, cancelled, too_late, recancels, expected);
    assert_rc(tr_exit(rt, to, tr_reason_kill()), 0);
    tu_await(rt, to);
    free(m);
    sink_free(s);
}

static void test_timer_heap_model(void **state) {
    tu_fix *f = *state;
    uint32_t n = TU_SCALE(3000, 600);
    for (uint64_t seed = 1; seed <= 3; seed++)
        one_round(f->rt, seed * 0x9E3779B97F4A7C15ull, n);
}

static void test_timer_stale_id(void **state) {
    tu_fix *f = *state;
    tr_runtime *rt = f->rt;
    sink *s = sink_new();
    tr_pid to;
    assert_rc(tr_spawn(rt, &sink_b, s, NULL, &to), 0);
    uint32_t a = 1, b = 2;
    for (int round = 0; round < 100; round++) {
        tr_timer t1 = 0, t2 = 0;
        assert_rc(tr_send_after(rt, to, 60000, 0, &a, sizeof a, &t1), 0);
        assert_int_equal(tr_cancel_timer(rt, t1), 1);
        /* the next timer likely takes the freed slot: a new id */
        assert_rc(tr_send_after(rt, to, 60000, 0, &b, sizeof b, &t2), 0);
        assert_true(t2 != t1);
        assert_int_equal(tr_cancel_timer(rt, t1), 0); /* stale: cancels nothing */
        assert_int_equal(tr_cancel_timer(rt, t2), 1);
        assert_int_equal(tr_cancel_timer(rt, t2), 0);
    }
    /* A stale id whose slot now holds a timer that fires: it still fires. */
    tr_timer t1 = 0, t2 = 0;
    assert_rc(tr_send_after(rt, to, 60000, 0, &a, sizeof a, &t1), 0);
    assert_int_equal(tr_cancel_timer(rt, t1), 1);
    assert_rc(tr_send_after(rt, to, 5, 0, &b, sizeof b, &t2), 0);
    assert_int_equal(tr_cancel_timer(rt, t1), 0);
    assert_true(sink_wait_for(s, b, 10000) >= 0);
    assert_int_equal(sink_count(s), 1);
    assert_rc(tr_exit(rt, to, tr_reason_kill()), 0);
    tu_await(rt, to);
    sink_free(s);
}

static void test_timer_intervals_stop(void **state) {
    tu_fix *f = *state;
    tr_runtime *rt = f->rt;
    sink *s = sink_new();
    tr_pid to;
    assert_rc(tr_spawn(rt, &sink_b, s, NULL, &to), 0);
    enum { NI = 3 };
    const int64_t period[NI] = {3, 5, 7};
    tr_timer iv[NI];
    int64_t start_us = tu_now_us();
    for (uint32_t i = 0; i < NI; i++)
        assert_rc(tr_send_interval(rt, to, period[i], 0, &i, sizeof i, &iv[i]), 0);
    /* one-shots in between, so the periodic entries move about the heap */
    model_t m[64];
    memset(m, 0, sizeof m);
    for (uint32_t i = 10; i < 64; i++)
        add_timer(rt, to, m, i, (int64_t)(i % 40));
    tu_sleep_ms(100);
    for (uint32_t i = 0; i < NI; i++) {
        assert_int_equal(tr_cancel_timer(rt, iv[i]), 1);
        assert_int_equal(tr_cancel_timer(rt, iv[i]), 0);
    }
    int64_t elapsed_ms = (tu_now_us() - start_us) / 1000 + 1;
    /* A sentinel after the cancels: a tick already on its way (taken from
     * the heap before the cancel) arrives before it. */
    uint32_t sentinel = 9;
    assert_rc(tr_send_after(rt, to, 0, 0, &sentinel, sizeof sentinel, NULL), 0);
    assert_true(sink_wait_for(s, sentinel, 10000) >= 0);
    size_t n_at_sentinel = sink_count(s);
    tu_sleep_ms(50); /* several periods: a live interval would tick */
    assert_int_equal(sink_count(s), n_at_sentinel);
    unsigned ticks[NI] = {0}, shots = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t k = 0; k < s->n; k++) {
        if (s->r[k].idx < NI)
            ticks[s->r[k].idx]++;
        else if (s->r[k].idx >= 10)
            shots++;
    }
    pthread_mutex_unlock(&s->mu);
    assert_int_equal(shots, 54);
    for (uint32_t i = 0; i < NI; i++) {
        /* ~100/period ticks; never more than the periods that passed
         * (ticks that fall behind are not bunched up), plus the one that
         * may have been on its way */
        assert_true(ticks[i] >= 3);
        assert_true(ticks[i] <= (unsigned)(elapsed_ms / period[i]) + 2);
    }
    print_message("intervals: %u, %u, %u ticks in ~100 ms\n", ticks[0], ticks[1], ticks[2]);
    assert_rc(tr_exit(rt, to, tr_reason_kill()), 0);
    tu_await(rt, to);
    sink_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_timer_heap_model),
        TU_TEST(test_timer_stale_id),
        TU_TEST(test_timer_intervals_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
