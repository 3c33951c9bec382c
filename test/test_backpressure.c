/* Backpressure: an actor that floods an overloaded receiver is muted (off
 * the run queues, as Pony mutes senders) until the receiver's backlog is
 * low again, so mailboxes stay bounded without losing a message; two
 * actors that flood each other both finish; a receiver's exit lets its
 * muted senders run on; a muted sender can be killed at once. */
#include "testutil.h"

enum { T_GO = 1, T_CONT, T_DATA };

/* Messages a producer sends per turn (one callback), as the benchmarks'
 * flooding producers. */
#define CHUNK 4096

/* Work the receiver does per message, so that producers outrun it. */
static void busy(void) {
    volatile unsigned x = 0;
    for (unsigned i = 0; i < 400; i++)
        x += i;
}

/* ------------------------------------------------------------------------ */
/* Flooders and a sink                                                      */
/* ------------------------------------------------------------------------ */

typedef struct flood_ctx {
    tr_runtime *rt;
    tr_pid sink;
    int64_t per;      /* messages each producer sends */
    int64_t stop_at;  /* the sink stops after this many (0: after all) */
    int64_t total;    /* messages the sink expects in all */
    atomic_llong got; /* messages the sink received */
    atomic_long max_depth;
    atomic_llong sent[8]; /* per producer: sends that succeeded */
    atomic_int refused;   /* sends refused (TR_ENOPROC: the sink is gone) */
    tu_gate *gate;        /* not NULL: the sink blocks in its first callback */
} flood_ctx;

/* Every actor here starts with this: its context and its index, copied
 * from the spawn argument by who_init. */
typedef struct who {
    void *ctx;
    int index;
} who;

static int who_init(tr_self *self, void *state, const void *arg) {
    (void)self;
    *(who *)state = *(const who *)arg;
    return TR_CONTINUE;
}

typedef struct flood_state {
    who w;
    int64_t n;
} flood_state;

static int sink_info(tr_self *self, void *state, const tr_msg *m) {
    flood_state *s = state;
    flood_ctx *c = s->w.ctx;
    if (m->tag != T_DATA)
        return TR_CONTINUE;
    if (c->gate && s->n == 0)
        tu_gate_block(c->gate);
    busy();
    s->n++;
    atomic_store(&c->got, s->n);
    if (s->n % 64 == 0) {
        long d = tr_mailbox_len(c->rt, tr_self_pid(self));
        if (d > atomic_load(&c->max_depth))
            atomic_store(&c->max_depth, d);
    }
    if (s->n == (c->stop_at ? c->stop_at : c->total))
        return TR_STOP; /* normal exit */
    return TR_CONTINUE;
}

static const tr_behaviour k_sink = {
    .name = "sink", .state_size = sizeof(flood_state), .init = who_init, .handle_info = sink_info};

/* Sends CHUNK messages per turn to the sink until `per` are sent or a send
 * is refused, then stops. */
static int producer_info(tr_self *self, void *state, const tr_msg *m) {
    flood_state *s = state;
    flood_ctx *c = s->w.ctx;
    if (m->tag != T_GO && m->tag != T_CONT)
        return TR_CONTINUE;
    int64_t end = s->n + CHUNK < c->per ? s->n + CHUNK : c->per;
    for (; s->n < end; s->n++) {
        int rc = tr_send(c->rt, c->sink, T_DATA, &s->n, sizeof s->n);
        if (rc == TR_ENOPROC) {
            atomic_fetch_add(&c->refused, 1);
            return TR_STOP;
        }
        assert_rc(rc, 0);
        atomic_store(&c->sent[s->w.index], s->n + 1);
    }
    if (s->n == c->per)
        return TR_STOP;
    assert_rc(tr_send(c->rt, tr_self_pid(self), T_CONT, NULL, 0), 0);
    return TR_CONTINUE;
}

static const tr_behaviour k_producer = {.name = "producer",
                                        .state_size = sizeof(flood_state),
                                        .init = who_init,
                                        .handle_info = producer_info};

static tr_pid spawn_with(tr_runtime *rt, const tr_behaviour *b, void *c, int index) {
    who a = {.ctx = c, .index = index};
    tr_pid pid;
    assert_rc(tr_spawn(rt, b, &a, NULL, &pid), 0);
    return pid;
}

/* Waits until pid has exited normally (or had already exited: noproc). */
static void await_normal(tr_runtime *rt, tr_pid pid) {
    tr_reason why;
    assert_rc(tr_await_exit(rt, pid, 60000, &why), 0);
    assert_true(why.kind == TR_EXIT_NORMAL || why.kind == TR_EXIT_NOPROC);
}

enum { P = 4 }; /* producers */

/* Runs P producers of c->per messages each into a sink until the sink and
 * every producer have exited normally. */
static void run_flood(tr_runtime *rt, flood_ctx *c) {
    c->rt = rt;
    c->total = c->per * P;
    c->sink = spawn_with(rt, &k_sink, c, 0);
    tr_pid prod[P];
    for (int i = 0; i < P; i++)
        prod[i] = spawn_with(rt, &k_producer, c, i);
    for (int i = 0; i < P; i++)
        assert_rc(tr_send(rt, prod[i], T_GO, NULL, 0), 0);
    await_normal(rt, c->sink);
    for (int i = 0; i < P; i++)
        await_normal(rt, prod[i]);
}

/* Four producers outrun one slow sink: every message arrives, and the
 * sink's backlog stays within a few turns' sends of the mute threshold
 * (without muting it grows to most of the 400,000). */
static void test_flooded_mailbox_stays_bounded(void **state) {
    (void)state;
    tr_runtime *rt = tu_rt_start(2);
    flood_ctx c = {.per = 100000};
    run_flood(rt, &c);
    assert_int_equal(atomic_load(&c.got), c.total);
    long max_depth = atomic_load(&c.max_depth);
    print_message("backlog at most %ld of %lld messages\n", max_depth, (long long)c.total);
    /* Muted after the turn whose first send saw 4,096 waiting: at most two
     * more turns of CHUNK per producer on top. */
    assert_true(max_depth <= 4096 + 2 * P * CHUNK + 64);
    tu_rt_stop(&rt);
}

/* The sink stops while its producers are muted on it: they run again (the
 * exit unmutes them), find it gone, and stop. */
static void test_receiver_exit_unmutes_senders(void **state) {
    (void)state;
    tr_runtime *rt = tu_rt_start(2);
    flood_ctx c = {.per = 200000, .stop_at = 20000};
    run_flood(rt, &c);
    assert_int_equal(atomic_load(&c.got), 20000);
    assert_int_equal(atomic_load(&c.refused), P);
    tu_rt_stop(&rt);
}

/* A sink stuck in a callback: its producer is muted after a bounded number
 * of sends, and a kill takes effect at once although the producer does not
 * run. */
static void test_muted_sender_bounded_and_killable(void **state) {
    (void)state;
    tr_runtime *rt = tu_rt_start(2);
    tu_gate gate;
    tu_gate_init(&gate);
    flood_ctx c = {.rt = rt, .per = 1000000, .gate = &gate};
    c.total = c.per;
    c.sink = spawn_with(rt, &k_sink, &c, 0);
    tr_pid prod = spawn_with(rt, &k_producer, &c, 0);
    assert_rc(tr_send(rt, prod, T_GO, NULL, 0), 0);
    assert_true(tu_gate_wait_entered(&gate, 1, 30000));
    /* Wait for the producer's second turn: the third ends with it muted
     * at the latest (its first send finds the backlog past the threshold;
     * the second's may already, if the sink had not taken its first
     * message yet). */
    int64_t deadline = tu_now_ms() + 60000;
    while (atomic_load(&c.sent[0]) < 2 * CHUNK && tu_now_ms() < deadline)
        tu_sleep_ms(1);
    assert_true(atomic_load(&c.sent[0]) >= 2 * CHUNK);
    /* Calls to a probe take turns on the one free scheduler thread (the
     * other is held by the sink): between them, an unmuted producer would
     * get turns of CHUNK sends each. */
    tu_log *log = tu_log_new();
    tr_pid probe = tu_probe(rt, log, false);
    for (int i = 0; i < 200; i++)
        tu_ping(rt, probe);
    tr_reason why;
    assert_rc(tr_exit(rt, prod, tr_reason_kill()), 0);
    assert_rc(tr_await_exit(rt, prod, 30000, &why), 0);
    assert_true(why.kind == TR_EXIT_KILLED || why.kind == TR_EXIT_NOPROC); /* gone at once */
    long long sent = atomic_load(&c.sent[0]);
    print_message("muted after %lld sends\n", sent);
    assert_true(sent <= 3 * CHUNK);
    tu_gate_open(&gate);
    assert_rc(tr_exit(rt, c.sink, tr_reason_kill()), 0);
    assert_rc(tr_await_exit(rt, c.sink, 30000, &why), 0);
    tu_rt_stop(&rt);
    tu_log_free(log);
    tu_gate_destroy(&gate);
}

/* ------------------------------------------------------------------------ */
/* Two actors flooding each other                                           */
/* ------------------------------------------------------------------------ */

typedef struct pair_ctx {
    tr_runtime *rt;
    tr_pid pids[2];
    int64_t per;
    atomic_llong got[2];
} pair_ctx;

typedef struct pair_state {
    who w;
    int64_t sent, got;
} pair_state;

static int pair_info(tr_self *self, void *state, const tr_msg *m) {
    pair_state *s = state;
    pair_ctx *c = s->w.ctx;
    if (m->tag == T_DATA) {
        busy();
        s->got++;
        atomic_store(&c->got[s->w.index], s->got);
    } else if (m->tag == T_GO || m->tag == T_CONT) {
        tr_pid peer = c->pids[1 - s->w.index];
        int64_t end = s->sent + CHUNK < c->per ? s->sent + CHUNK : c->per;
        for (; s->sent < end; s->sent++)
            assert_rc(tr_send(c->rt, peer, T_DATA, &s->sent, sizeof s->sent), 0);
        if (s->sent < c->per)
            assert_rc(tr_send(c->rt, tr_self_pid(self), T_CONT, NULL, 0), 0);
    }
    return s->sent == c->per && s->got == c->per ? TR_STOP : TR_CONTINUE;
}

static const tr_behaviour k_pair = {
    .name = "pair", .state_size = sizeof(pair_state), .init = who_init, .handle_info = pair_info};

/* Each is overloaded by the other: neither may stay muted on the other, or
 * both would wait for ever. */
static void test_mutual_flood_completes(void **state) {
    (void)state;
    tr_runtime *rt = tu_rt_start(2);
    pair_ctx c = {.rt = rt, .per = 100000};
    for (int i = 0; i < 2; i++)
        c.pids[i] = spawn_with(rt, &k_pair, &c, i);
    for (int i = 0; i < 2; i++)
        assert_rc(tr_send(rt, c.pids[i], T_GO, NULL, 0), 0);
    for (int i = 0; i < 2; i++)
        await_normal(rt, c.pids[i]);
    for (int i = 0; i < 2; i++)
        assert_int_equal(atomic_load(&c.got[i]), c.per);
    tu_rt_stop(&rt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flooded_mailbox_stays_bounded),
        cmocka_unit_test(test_receiver_exit_unmutes_senders),
        cmocka_unit_test(test_muted_sender_bounded_and_killable),
        cmocka_unit_test(test_mutual_flood_completes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
