/* Mailbox and scheduler stress: many producers into one mailbox (every
 * message exactly once, per-producer order kept), producer actors into a
 * sink, many-to-many, and lost wake-ups (rounds with idle gaps so threads
 * park between messages). Producers start on a barrier. Sizes shrink under
 * ThreadSanitizer. */
#include "testutil.h"

#define PRODUCERS 8

enum { M_SEQ = 1, M_VERDICT, M_SETUP, M_GO, M_MORE, M_RALLY, M_PING, M_PONG, M_TIMER_ROUND };

typedef struct seq_msg {
    uint32_t producer;
    uint32_t pad;
    uint64_t seq;
} seq_msg;

typedef struct verdict {
    uint64_t total;
    uint64_t errors;     /* out of order, duplicate, bad size or producer */
    uint64_t bad_sender; /* msg->sender not the expected producer */
    uint64_t next[PRODUCERS];
} verdict;

typedef struct sink_state {
    verdict v;
    tr_pid producers[PRODUCERS];
    bool check_sender;
} sink_state;

static void sink_take(sink_state *s, const tr_msg *m) {
    seq_msg sm;
    if (m->size != sizeof sm) {
        s->v.errors++;
        return;
    }
    memcpy(&sm, m->data, sizeof sm);
    if (sm.producer >= PRODUCERS) {
        s->v.errors++;
        return;
    }
    if (sm.seq != s->v.next[sm.producer])
        s->v.errors++;
    s->v.next[sm.producer] = sm.seq + 1;
    if (s->check_sender && !tr_pid_eq(m->sender, s->producers[sm.producer]))
        s->v.bad_sender++;
    s->v.total++;
}

static int sink_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    if (m->tag == M_SEQ)
        sink_take(state, m);
    return TR_CONTINUE;
}

static int sink_info(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    if (m->tag == M_SEQ)
        sink_take(state, m);
    return TR_CONTINUE;
}

static int sink_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    sink_state *s = state;
    (void)self;
    if (m->tag == M_SETUP && m->size == sizeof s->producers) {
        memcpy(s->producers, m->data, sizeof s->producers);
        s->check_sender = true;
    }
    tr_reply(from, M_VERDICT, &s->v, sizeof s->v);
    return TR_CONTINUE;
}

static const tr_behaviour k_sink = {.name = "sink",
                                    .state_size = sizeof(sink_state),
                                    .handle_call = sink_call,
                                    .handle_cast = sink_cast,
                                    .handle_info = sink_info};

static verdict get_verdict(tr_runtime *rt, tr_pid sink) {
    tr_buf b;
    assert_rc(tr_call(rt, sink, M_VERDICT, NULL, 0, &b, 30000), 0);
    assert_int_equal(b.size, sizeof(verdict));
    verdict v;
    memcpy(&v, b.data, sizeof v);
    tr_buf_free(&b);
    return v;
}

/* ------------------------------------------------------------------------ */
/* Threads into one actor                                                    */
/* ------------------------------------------------------------------------ */

typedef struct producer {
    tr_runtime *rt;
    tr_pid to;
    uint32_t id;
    uint64_t n;
    pthread_barrier_t *bar;
    uint64_t failed;
} producer;

static void *producer_thread(void *p) {
    producer *a = p;
    pthread_barrier_wait(a->bar);
    for (uint64_t i = 0; i < a->n; i++) {
        seq_msg m = {a->id, 0, i};
        int rc = (i & 7) == 0 ? tr_send(a->rt, a->to, M_SEQ, &m, sizeof m)
                              : tr_cast(a->rt, a->to, M_SEQ, &m, sizeof m);
        if (rc != 0)
            a->failed++;
    }
    return NULL;
}

static void test_threads_to_one_actor(void **state) {
    tu_fix *f = *state;
    const uint64_t n = TU_SCALE(100000, 10000);
    tr_pid sink;
    assert_rc(tr_spawn(f->rt, &k_sink, NULL, NULL, &sink), 0);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, PRODUCERS);
    producer a[PRODUCERS];
    pthread_t th[PRODUCERS];
    int64_t t0 = tu_now_ms();
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        a[i] = (producer){.rt = f->rt, .to = sink, .id = i, .n = n, .bar = &bar};
        pthread_create(&th[i], NULL, producer_thread, &a[i]);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(a[i].failed, 0);
    /* The call is queued behind every message above. */
    verdict v = get_verdict(f->rt, sink);
    print_message("%d threads x %llu messages: %lld ms\n", PRODUCERS, (unsigned long long)n,
                  (long long)(tu_now_ms() - t0));
    assert_int_equal(v.errors, 0);
    assert_int_equal(v.total, PRODUCERS * n);
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(v.next[i], n);
}

/* ------------------------------------------------------------------------ */
/* Producer actors into one sink                                             */
/* ------------------------------------------------------------------------ */

typedef struct go_msg {
    tr_pid sink;
    uint32_t id;
    uint64_t n;
} go_msg;

typedef struct prod_state {
    go_msg go;
    uint64_t sent;
    uint64_t failed;
} prod_state;

static void prod_chunk(tr_self *self, prod_state *s) {
    tr_runtime *rt = tr_self_runtime(self);
    for (int k = 0; k < 500 && s->sent < s->go.n; k++, s->sent++) {
        seq_msg m = {s->go.id, 0, s->sent};
        if (tr_send(rt, s->go.sink, M_SEQ, &m, sizeof m) != 0)
            s->failed++;
    }
    if (s->sent < s->go.n)
        tr_cast(rt, tr_self_pid(self), M_MORE, NULL, 0); /* yield, then go on */
}

static int prod_cast(tr_self *self, void *state, const tr_msg *m) {
    prod_state *s = state;
    if (m->tag == M_GO && m->size == sizeof s->go) {
        memcpy(&s->go, m->data, sizeof s->go);
        prod_chunk(self, s);
    } else if (m->tag == M_MORE) {
        prod_chunk(self, s);
    }
    return TR_CONTINUE;
}

static int prod_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    prod_state *s = state;
    (void)self;
    (void)m;
    uint64_t r[2] = {s->sent, s->failed};
    tr_reply(from, 0, r, sizeof r);
    return TR_CONTINUE;
}

static const tr_behaviour k_prod = {.name = "producer",
                                    .state_size = sizeof(prod_state),
                                    .handle_call = prod_call,
                                    .handle_cast = prod_cast};

static void test_actors_to_one_sink(void **state) {
    tu_fix *f = *state;
    const uint64_t n = TU_SCALE(100000, 10000);
    tr_pid sink, prods[PRODUCERS];
    assert_rc(tr_spawn(f->rt, &k_sink, NULL, NULL, &sink), 0);
    for (int i = 0; i < PRODUCERS; i++)
        assert_rc(tr_spawn(f->rt, &k_prod, NULL, NULL, &prods[i]), 0);
    tr_buf b;
    assert_rc(tr_call(f->rt, sink, M_SETUP, prods, sizeof prods, &b, 5000), 0);
    tr_buf_free(&b);
    for (uint32_t i = 0; i < PRODUCERS; i++) {
        go_msg g = {sink, i, n};
        assert_rc(tr_cast(f->rt, prods[i], M_GO, &g, sizeof g), 0);
    }
    /* Wait until every producer has sent everything. */
    int64_t end = tu_now_ms() + 60000;
    uint64_t done = 0;
    while (tu_now_ms() < end) {
        done = 0;
        for (int i = 0; i < PRODUCERS; i++) {
            assert_rc(tr_call(f->rt, prods[i], 0, NULL, 0, &b, 10000), 0);
            uint64_t r[2];
            memcpy(r, b.data, sizeof r);
            tr_buf_free(&b);
            assert_int_equal(r[1], 0);
            done += r[0];
        }
        if (done == PRODUCERS * n)
            break;
        tu_sleep_ms(10);
    }
    assert_int_equal(done, PRODUCERS * n);
    /* Then until the sink has taken everything. */
    verdict v;
    end = tu_now_ms() + 60000;
    do {
        v = get_verdict(f->rt, sink);
    } while (v.total < PRODUCERS * n && tu_now_ms() < end && (tu_sleep_ms(5), true));
    assert_int_equal(v.errors, 0);
    assert_int_equal(v.bad_sender, 0);
    assert_int_equal(v.total, PRODUCERS * n);
    tu_sleep_ms(50);
    v = get_verdict(f->rt, sink);
    assert_int_equal(v.total, PRODUCERS * n); /* nothing twice */
}

/* ------------------------------------------------------------------------ */
/* Many threads into many actors                                             */
/* ------------------------------------------------------------------------ */

#define M2M_ACTORS 64
#define M2M_THREADS 4

typedef struct m2m_arg {
    tr_runtime *rt;
    tr_pid *sinks;
    uint32_t id;
    uint64_t per_sink;
    pthread_barrier_t *bar;
    uint64_t failed;
} m2m_arg;

static void *m2m_thread(void *p) {
    m2m_arg *a = p;
    pthread_barrier_wait(a->bar);
    for (uint64_t i = 0; i < a->per_sink; i++)
        for (int k = 0; k < M2M_ACTORS; k++) {
            seq_msg m = {a->id, 0, i};
            if (tr_cast(a->rt, a->sinks[(k + a->id * 7) % M2M_ACTORS], M_SEQ, &m, sizeof m))
                a->failed++;
        }
    return NULL;
}

static void test_many_threads_many_actors(void **state) {
    tu_fix *f = *state;
    const uint64_t per_sink = TU_SCALE(2000, 200);
    tr_pid sinks[M2M_ACTORS];
    for (int i = 0; i < M2M_ACTORS; i++)
        assert_rc(tr_spawn(f->rt, &k_sink, NULL, NULL, &sinks[i]), 0);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, M2M_THREADS);
    m2m_arg a[M2M_THREADS];
    pthread_t th[M2M_THREADS];
    for (uint32_t i = 0; i < M2M_THREADS; i++) {
        a[i] = (m2m_arg){.rt = f->rt, .sinks = sinks, .id = i, .per_sink = per_sink, .bar = &bar};
        pthread_create(&th[i], NULL, m2m_thread, &a[i]);
    }
    for (int i = 0; i < M2M_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].failed, 0);
    }
    pthread_barrier_destroy(&bar);
    for (int k = 0; k < M2M_ACTORS; k++) {
        verdict v = get_verdict(f->rt, sinks[k]);
        assert_int_equal(v.errors, 0);
        assert_int_equal(v.total, M2M_THREADS * per_sink);
    }
}

/* ------------------------------------------------------------------------ */
/* Lost wake-ups                                                             */
/* ------------------------------------------------------------------------ */

typedef struct rally_state {
    tr_pid peer;
    tr_from from;
    int hops_left;
} rally_state;

static int rally_init(tr_self *self, void *state, const void *arg) {
    rally_state *s = state;
    (void)self;
    if (arg)
        s->peer = *(const tr_pid *)arg;
    return TR_CONTINUE;
}

static int rally_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    rally_state *s = state;
    tr_runtime *rt = tr_self_runtime(self);
    if (m->tag == M_RALLY) {
        s->from = from;
        memcpy(&s->hops_left, m->data, sizeof s->hops_left);
        tr_send(rt, s->peer, M_PING, NULL, 0);
    } else if (m->tag == M_TIMER_ROUND) {
        s->from = from;
        tr_send_after(rt, tr_self_pid(self), 1, M_TIMER_ROUND, NULL, 0, NULL);
    } else {
        tr_reply(from, m->tag, m->data, m->size);
    }
    return TR_CONTINUE;
}

static int rally_info(tr_self *self, void *state, const tr_msg *m) {
    rally_state *s = state;
    tr_runtime *rt = tr_self_runtime(self);
    if (m->kind == TR_MSG_TIMER) {
        tr_reply(s->from, M_TIMER_ROUND, NULL, 0);
    } else if (m->tag == M_PING) {
        tr_send(rt, m->sender, M_PONG, NULL, 0); /* the peer */
    } else if (m->tag == M_PONG) {
        if (--s->hops_left <= 0)
            tr_reply(s->from, M_RALLY, NULL, 0);
        else
            tr_send(rt, s->peer, M_PING, NULL, 0);
    }
    return TR_CONTINUE;
}

static const tr_behaviour k_rally = {.name = "rally",
                                     .state_size = sizeof(rally_state),
                                     .init = rally_init,
                                     .handle_call = rally_call,
                                     .handle_info = rally_info};

static const int64_t k_gaps_us[] = {0, 20, 200, 1000, 3000};

static void test_lost_wakeup_thread_calls(void **state) {
    tu_fix *f = *state;
    const int rounds = TU_SCALE(2000, 500);
    tr_pid a;
    assert_rc(tr_spawn(f->rt, &k_rally, NULL, NULL, &a), 0);
    int failures = 0;
    int64_t worst = 0;
    for (int i = 0; i < rounds; i++) {
        tu_sleep_us(k_gaps_us[i % 5]);
        int64_t t0 = tu_now_us();
        tr_buf b;
        int rc = tr_call(f->rt, a, 1, &i, sizeof i, &b, 2000);
        int64_t us = tu_now_us() - t0;
        worst = us > worst ? us : worst;
        if (rc != 0 || b.size != sizeof i || memcmp(b.data, &i, sizeof i) != 0) {
            if (failures++ < 5)
                print_error("round %d: %s after %lld us\n", i, tr_err_name(rc), (long long)us);
        }
        tr_buf_free(&b);
    }
    print_message("%d calls with idle gaps: worst round trip %lld us\n", rounds, (long long)worst);
    assert_int_equal(failures, 0);
}

static void test_lost_wakeup_actor_rally(void **state) {
    tu_fix *f = *state;
    const int rounds = TU_SCALE(1000, 200);
    tr_pid b, a;
    assert_rc(tr_spawn(f->rt, &k_rally, NULL, NULL, &b), 0);
    assert_rc(tr_spawn(f->rt, &k_rally, &b, NULL, &a), 0);
    int failures = 0;
    for (int i = 0; i < rounds; i++) {
        tu_sleep_us(k_gaps_us[i % 5]);
        int hops = 1 + i % 10;
        int rc = tr_call(f->rt, a, M_RALLY, &hops, sizeof hops, NULL, 2000);
        if (rc != 0 && failures++ < 5)
            print_error("rally %d (%d hops): %s\n", i, hops, tr_err_name(rc));
    }
    assert_int_equal(failures, 0);
}

static void test_lost_wakeup_timer_rounds(void **state) {
    tu_fix *f = *state;
    const int rounds = TU_SCALE(300, 100);
    tr_pid a;
    assert_rc(tr_spawn(f->rt, &k_rally, NULL, NULL, &a), 0);
    int failures = 0;
    for (int i = 0; i < rounds; i++) {
        tu_sleep_us(k_gaps_us[i % 5]);
        int rc = tr_call(f->rt, a, M_TIMER_ROUND, NULL, 0, NULL, 2000);
        if (rc != 0 && failures++ < 5)
            print_error("timer round %d: %s\n", i, tr_err_name(rc));
    }
    assert_int_equal(failures, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_threads_to_one_actor),      TU_TEST4(test_actors_to_one_sink),
        TU_TEST4(test_many_threads_many_actors), TU_TEST(test_lost_wakeup_thread_calls),
        TU_TEST4(test_lost_wakeup_actor_rally),  TU_TEST(test_lost_wakeup_timer_rounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
