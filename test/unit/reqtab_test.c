/* Unit tests of an actor's request table (actor/requests.c: the
 * open-addressing hash table of pending tr_requests and the shared,
 * reference-counted monitors on their servers), against a reference model.
 *
 * The table belongs to its actor and is used on the actor's thread only, so
 * the test runs inside a callback of a driver actor, on its own table
 * (tr__tls_current), with refs the model makes up: random begin / take /
 * take of absent refs / server down, through phases that keep the table
 * small (probe runs wrap around a 16-slot table, backward-shift deletion)
 * and that grow it to thousands. After every few operations the whole
 * table is compared with the model: the same set of refs, the count, the
 * load bound, and per server one monitor whose count is the number of its
 * pending requests (idle monitors kept up to 8). Timers attached with
 * tr__req_set_timer are cancelled when their request is taken. The
 * callback reports the first difference; the test thread asserts. */
#include "testutil.h"

#include "actor/core.h"

#define NSERVERS 12
#define IDLE_KEPT 8 /* requests.c IDLE_MONITORS_KEPT */

enum { RUN = 0x7265710au };

typedef struct run_arg {
    tr_pid servers[NSERVERS];
    uint64_t seed;
    uint32_t ops;
} run_arg;

typedef struct run_result {
    int failed;
    char msg[256];
    uint32_t begins, takes, absent_takes, downs, downs_drained, max_pending, max_cap, timers;
} run_result;

typedef struct mreq {
    uint64_t ref;
    int srv;
    tr_timer timer;
} mreq;

typedef struct model {
    mreq *p; /* pending requests, unordered */
    uint32_t n, cap;
    uint64_t *gone; /* refs taken (absent from now on) */
    uint32_t n_gone, cap_gone;
    uint64_t next_seq, next_mix;
    uint64_t rnd;
} model;

typedef struct ctx {
    tr_self *self;
    tr__actor *a;
    const run_arg *arg;
    model m;
    run_result *res;
} ctx;

#define CHECK(c, ...)                                                                              \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            if (!x->res->failed) {                                                                 \
                x->res->failed = __LINE__;                                                         \
                snprintf(x->res->msg, sizeof x->res->msg, __VA_ARGS__);                            \
            }                                                                                      \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

static uint64_t rnd(model *m) {
    m->rnd ^= m->rnd << 13;
    m->rnd ^= m->rnd >> 7;
    m->rnd ^= m->rnd << 17;
    return m->rnd;
}

/* A ref never used before: alternately sequential (as the runtime makes
 * them) and scattered (an odd multiplier is a bijection). */
static uint64_t new_ref(model *m) {
    if (rnd(m) & 1)
        return (1ull << 62) + ++m->next_seq;
    return (++m->next_mix * 0x9E3779B97F4A7C15ull) | 1;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t model_count(const model *m, int srv) {
    uint32_t c = 0;
    for (uint32_t i = 0; i < m->n; i++)
        c += m->p[i].srv == srv;
    return c;
}

static int srv_index(ctx *x, tr_pid p) {
    for (int i = 0; i < NSERVERS; i++)
        if (tr_pid_eq(x->arg->servers[i], p))
            return i;
    return -1;
}

/* The whole table against the model. */
static bool check_all(ctx *x) {
    tr__actor_x *ax = tr__actor_x_peek(x->a);
    tr__reqstate *rq = ax ? ax->rq : NULL;
    model *m = &x->m;
    if (!rq) {
        CHECK(m->n == 0, "no request table, %u pending in the model", m->n);
        return true;
    }
    CHECK(rq->n_reqs == m->n, "table holds %u, model %u", rq->n_reqs, m->n);
    CHECK(rq->cap_reqs == 0 || (rq->cap_reqs & (rq->cap_reqs - 1)) == 0,
          "capacity %u not a power of two", rq->cap_reqs);
    CHECK(rq->n_reqs * 4 <= rq->cap_reqs * 3, "load %u/%u above 3/4", rq->n_reqs, rq->cap_reqs);
    if (rq->cap_reqs > x->res->max_cap)
        x->res->max_cap = rq->cap_reqs;
    uint64_t *t = malloc(sizeof(uint64_t) * (rq->n_reqs + 1));
    uint64_t *w = malloc(sizeof(uint64_t) * (m->n + 1));
    uint32_t nt = 0;
    for (uint32_t i = 0; i < rq->cap_reqs; i++)
        if (rq->reqs[i].ref) {
            if (nt == rq->n_reqs) {
                free(t);
                free(w);
                CHECK(false, "more refs in the table than n_reqs (%u)", rq->n_reqs);
            }
            t[nt++] = rq->reqs[i].ref;
        }
    for (uint32_t i = 0; i < m->n; i++)
        w[i] = m->p[i].ref;
    qsort(t, nt, sizeof *t, cmp_u64);
    qsort(w, m->n, sizeof *w, cmp_u64);
    bool same = nt == m->n && memcmp(t, w, sizeof(uint64_t) * nt) == 0;
    free(t);
    free(w);
    CHECK(same, "the table's refs differ from the model's (%u vs %u)", nt, m->n);
    /* the server monitors */
    bool seen[NSERVERS] = {false};
    uint32_t idle = 0;
    for (uint32_t i = 0; i < rq->n_srv; i++) {
        int s = srv_index(x, rq->srv[i].server);
        CHECK(s >= 0, "monitor on an unknown server %#llx",
              (unsigned long long)rq->srv[i].server.id);
        CHECK(!seen[s], "two monitors on server %d", s);
        seen[s] = true;
        uint32_t c = model_count(m, s);
        CHECK(rq->srv[i].count == c, "server %d: monitor count %u, %u pending", s, rq->srv[i].count,
              c);
        CHECK(rq->srv[i].mref != 0, "server %d: monitor ref 0", s);
        idle += c == 0;
    }
    CHECK(idle <= IDLE_KEPT, "%u idle monitors kept", idle);
    for (int s = 0; s < NSERVERS; s++)
        CHECK(seen[s] || model_count(m, s) == 0, "server %d has %u pending and no monitor", s,
              model_count(m, s));
    return true;
}

static void gone_add(model *m, uint64_t ref) {
    if (m->n_gone == m->cap_gone) {
        m->cap_gone = m->cap_gone ? m->cap_gone * 2 : 1024;
        m->gone = realloc(m->gone, sizeof(uint64_t) * m->cap_gone);
    }
    m->gone[m->n_gone++] = ref;
}

static bool op_begin(ctx *x) {
    model *m = &x->m;
    uint64_t ref = new_ref(m);
    int s = (int)(rnd(m) % NSERVERS);
    int rc = tr__req_begin(x->a, ref, x->arg->servers[s]);
    CHECK(rc == 0, "tr__req_begin: %s", tr_err_name(rc));
    tr_timer t = 0;
    if (rnd(m) % 4 == 0) {
        /* a timeout that never fires here; taking the request cancels it */
        rc = tr_send_after(tr_self_runtime(x->self), tr_self_pid(x->self), 600000, 0, NULL, 0, &t);
        CHECK(rc == 0, "tr_send_after: %s", tr_err_name(rc));
        tr__req_set_timer(x->a, ref, t);
        x->res->timers++;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->p = realloc(m->p, sizeof(mreq) * m->cap);
    }
    m->p[m->n++] = (mreq){ref, s, t};
    x->res->begins++;
    if (m->n > x->res->max_pending)
        x->res->max_pending = m->n;
    return true;
}

static bool op_take(ctx *x) {
    model *m = &x->m;
    if (!m->n)
        return true;
    uint32_t i = (uint32_t)(rnd(m) % m->n);
    mreq r = m->p[i];
    m->p[i] = m->p[--m->n];
    CHECK(tr__req_take(x->a, r.ref, false), "pending ref %#llx not found",
          (unsigned long long)r.ref);
    if (r.timer)
        CHECK(tr_cancel_timer(tr_self_runtime(x->self), r.timer) == 0,
              "the timer of taken ref %#llx still pending", (unsigned long long)r.ref);
    /* taken once: gone */
    CHECK(!tr__req_take(x->a, r.ref, false), "ref %#llx taken twice", (unsigned long long)r.ref);
    gone_add(m, r.ref);
    x->res->takes++;
    return true;
}

static bool op_take_absent(ctx *x) {
    model *m = &x->m;
    uint64_t ref = m->n_gone && (rnd(m) & 1) ? m->gone[rnd(m) % m->n_gone] : new_ref(m);
    CHECK(!tr__req_take(x->a, ref, false), "absent ref %#llx found", (unsigned long long)ref);
    x->res->absent_takes++;
    return true;
}

/* Server s's monitor fires: the request table names the server, then
 * hands out each of its requests once. */
static bool op_server_down(ctx *x) {
    model *m = &x->m;
    tr__actor_x *ax = tr__actor_x_peek(x->a);
    tr__reqstate *rq = ax ? ax->rq : NULL;
    int s = (int)(rnd(m) % NSERVERS);
    uint64_t mref = 0;
    for (uint32_t i = 0; rq && i < rq->n_srv; i++)
        if (tr_pid_eq(rq->srv[i].server, x->arg->servers[s]))
            mref = rq->srv[i].mref;
    tr_pid who = TR_PID_NONE;
    if (!mref) {
        CHECK(model_count(m, s) == 0, "server %d: no monitor, %u pending", s, model_count(m, s));
        CHECK(!rq || !tr__req_server_down(x->a, 0x5eed5eedull, &who), "unknown monitor found");
        return true;
    }
    CHECK(tr__req_server_down(x->a, mref, &who), "server %d's monitor not found", s);
    CHECK(tr_pid_eq(who, x->arg->servers[s]), "monitor of server %d names another pid", s);
    CHECK(!tr__req_server_down(x->a, mref, &who), "server %d's monitor found twice", s);
    uint32_t expect = model_count(m, s), got = 0;
    uint64_t ref;
    while (tr__req_next_for_server(x->a, x->arg->servers[s], &ref)) {
        uint32_t i = 0;
        while (i < m->n && m->p[i].ref != ref)
            i++;
        CHECK(i < m->n, "server %d: ref %#llx handed out but not pending", s,
              (unsigned long long)ref);
        CHECK(m->p[i].srv == s, "server %d: ref %#llx belongs to server %d", s,
              (unsigned long long)ref, m->p[i].srv);
        if (m->p[i].timer)
            CHECK(tr_cancel_timer(tr_self_runtime(x->self), m->p[i].timer) == 0,
                  "timer of ref %#llx still pending", (unsigned long long)ref);
        m->p[i] = m->p[--m->n];
        gone_add(m, ref);
        got++;
    }
    CHECK(got == expect, "server %d: %u requests handed out, %u pending", s, got, expect);
    /* the monitor is spent (here: removed by hand, as if its DOWN came) */
    int rc = tr__demonitor(x->a, mref);
    CHECK(rc == 0, "tr__demonitor: %s", tr_err_name(rc));
    x->res->downs++;
    x->res->downs_drained += got;
    return true;
}

static bool run_model(ctx *x) {
    model *m = &x->m;
    uint32_t ops = x->arg->ops;
    /* Phase 1: a small table (cap 16): long probe runs that wrap around. */
    for (uint32_t i = 0; i < ops / 4; i++) {
        uint64_t r = rnd(m) % 100;
        bool ok = (m->n < 11 && r < 55) ? op_begin(x)
                  : r < 90              ? op_take(x)
                  : r < 97              ? op_take_absent(x)
                                        : op_server_down(x);
        if (!ok || ((i & 7) == 0 && !check_all(x)))
            return false;
    }
    if (!check_all(x))
        return false;
    /* Phase 2: grow to thousands (the table doubles many times), with
     * takes, absent takes and servers going down all along. */
    uint32_t target = ops / 4;
    for (uint32_t i = 0; i < ops / 2; i++) {
        uint64_t r = rnd(m) % 1000;
        bool ok = (m->n < target && r < 650) ? op_begin(x)
                  : r < 900                  ? op_take(x)
                  : r < 998                  ? op_take_absent(x)
                                             : op_server_down(x);
        if (!ok || ((i & 63) == 0 && !check_all(x)))
            return false;
    }
    if (!check_all(x))
        return false;
    /* Phase 3: drain. */
    while (m->n) {
        if (!(rnd(m) % 50 ? op_take(x) : op_server_down(x)))
            return false;
        if ((m->n & 63) == 0 && !check_all(x))
            return false;
    }
    for (int i = 0; i < 100; i++)
        if (!op_take_absent(x))
            return false;
    return check_all(x);
}

static int driver_init(tr_self *self, void *state, const void *arg) {
    return TR_CONTINUE;
}

static int driver_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    run_result res;
    memset(&res, 0, sizeof res);
    ctx x = {.self = self, .a = tr__tls_current, .arg = m->data, .res = &res};
    x.m.rnd = x.arg->seed | 1;
    if (!x.a || !tr_pid_eq(x.a->pid, tr_self_pid(self))) {
        res.failed = __LINE__;
        snprintf(res.msg, sizeof res.msg, "tr__tls_current is not the running actor");
    } else {
        run_model(&x);
    }
    /* leave nothing pending (a failed run may have) */
    for (uint32_t i = 0; i < x.m.n; i++)
        tr__req_take(x.a, x.m.p[i].ref, false);
    free(x.m.p);
    free(x.m.gone);
    tr_reply(from, 0, &res, sizeof res);
    return TR_CONTINUE;
}

/* After the model runs, real requests still work on the same table. */
static atomic_int real_replies, real_errors;

static int driver_cast(tr_self *self, void *state, const tr_msg *m) {
    tr_pid server;
    memcpy(&server, m->data, sizeof server);
    for (int i = 0; i < 100; i++)
        if (tr_request(self, server, TU_PING, NULL, 0, 10000, NULL) != 0)
            atomic_fetch_add(&real_errors, 1);
    return TR_CONTINUE;
}

static int driver_info(tr_self *self, void *state, const tr_msg *m) {
    if (m->kind == TR_MSG_REPLY) {
        if (m->status == 0)
            atomic_fetch_add(&real_replies, 1);
        else
            atomic_fetch_add(&real_errors, 1);
    }
    return TR_CONTINUE;
}

static const tr_behaviour driver_b = {
    .name = "req_driver",
    .init = driver_init,
    .handle_call = driver_call,
    .handle_cast = driver_cast,
    .handle_info = driver_info,
};

static void test_request_table_model(void **state) {
    tu_fix *f = *state;
    tr_runtime *rt = f->rt;
    run_arg arg;
    memset(&arg, 0, sizeof arg);
    for (int i = 0; i < NSERVERS; i++)
        arg.servers[i] = tu_probe(rt, NULL, false);
    tr_pid d;
    assert_rc(tr_spawn(rt, &driver_b, NULL, NULL, &d), 0);
    for (uint64_t seed = 1; seed <= 4; seed++) {
        arg.seed = seed * 0x2545F4914F6CDD1Dull;
        arg.ops = TU_SCALE(40000, 8000);
        tr_buf b = {0};
        assert_rc(tr_call(rt, d, RUN, &arg, sizeof arg, &b, 60000), 0);
        assert_int_equal(b.size, sizeof(run_result));
        run_result r;
        memcpy(&r, b.data, sizeof r);
        tr_buf_free(&b);
        if (r.failed)
            fail_msg("seed %llu, line %d: %s", (unsigned long long)seed, r.failed, r.msg);
        print_message("requests: %u begun (%u with a timer), %u taken, %u absent takes, %u "
                      "servers down (%u requests handed out), up to %u pending, table up to %u "
                      "slots\n",
                      r.begins, r.timers, r.takes, r.absent_takes, r.downs, r.downs_drained,
                      r.max_pending, r.max_cap);
        assert_true(r.max_cap >= TU_SCALE(4096u, 1024u));
        assert_true(r.downs > 0);
    }
    /* the driver still works as a client: real requests, real replies */
    assert_rc(tr_cast(rt, d, 1, &arg.servers[0], sizeof(tr_pid)), 0);
    assert_true(TU_WAIT(atomic_load(&real_replies) + atomic_load(&real_errors) >= 100, 10000));
    assert_int_equal(atomic_load(&real_errors), 0);
    assert_int_equal(atomic_load(&real_replies), 100);
    assert_rc(tr_exit(rt, d, tr_reason_kill()), 0);
    tu_await(rt, d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_request_table_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
