/* Pool manager tests: round-robin order, least-loaded choice, scale-down
 * without losing jobs, a crash mid-job, statistics, start/stop errors.
 * Each test starts and shuts down its own runtime. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <troupe/troupe.h>

#include "testutil.h"

#define JOB_WHOAMI 1 /* call: reply int32 worker index */
#define JOB_GATE 2   /* call or cast: wait for the test's gate, then as WHOAMI */
#define JOB_CRASH 3  /* call: the worker crashes */

typedef struct pw_state {
    tu_gate *g;
    int inited;
} pw_state;

static int pw_init(tr_self *self, void *state, const void *arg) {
    pw_state *st = state;
    (void)self;
    st->g = (tu_gate *)arg;
    st->inited = 1;
    return st->g && st->g == (tu_gate *)(uintptr_t)1 ? TR_STOP : TR_CONTINUE;
}

static int pw_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    pw_state *st = state;
    assert_int_equal(st->inited, 1); /* the user's state is kept */
    if (msg->tag == JOB_CRASH)
        tr_fail(self, tr_reason_error(99, "job crashed"));
    if (msg->tag == JOB_GATE)
        tu_gate_pass(st->g, 10000); /* see pw_cast */
    int32_t idx = tr_pool_worker_index(self);
    tr_reply(from, msg->tag, &idx, sizeof(idx));
    return TR_CONTINUE;
}

static int pw_cast(tr_self *self, void *state, const tr_msg *msg) {
    pw_state *st = state;
    (void)self;
    /* Test only: a worker blocked on the gate keeps its job unfinished, so
     * the pool's load figures are deterministic. Bounded: never hangs a
     * run. */
    if (msg->tag == JOB_GATE)
        tu_gate_pass(st->g, 10000);
    return TR_CONTINUE;
}

static const tr_behaviour pw_behaviour = {
    .name = "pool_test_worker",
    .state_size = sizeof(pw_state),
    .init = pw_init,
    .handle_call = pw_call,
    .handle_cast = pw_cast,
};

static tr_pid pool_start(tr_runtime *rt, tu_gate *g, unsigned size, tr_pool_strategy strat) {
    tr_pool_opts o = {0};
    o.worker = &pw_behaviour;
    o.worker_arg = g;
    o.size = size;
    o.strategy = strat;
    tr_pid pool;
    assert_int_equal(tr_pool_start(rt, &o, &pool), 0);
    return pool;
}

static int call_idx(tr_runtime *rt, tr_pid pool, uint32_t tag, int *idx) {
    tr_buf reply = {0};
    int rc = tr_call(rt, pool, tag, NULL, 0, &reply, 10000);
    if (rc == 0) {
        assert_int_equal(reply.size, sizeof(int32_t));
        int32_t v;
        memcpy(&v, reply.data, sizeof(v));
        *idx = v;
    }
    tr_buf_free(&reply);
    return rc;
}

static tr_pool_stats wait_stats(tr_runtime *rt, tr_pid pool, uint64_t done, uint64_t restarts) {
    tr_pool_stats st = {0};
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(tr_pool_get_stats(rt, pool, &st, NULL, 0, NULL), 0);
        if (st.jobs_done >= done && st.restarts >= restarts)
            return st;
        tu_sleep_ms(10);
    }
    fail_msg("stats: done %llu restarts %llu", (unsigned long long)st.jobs_done,
             (unsigned long long)st.restarts);
    return st;
}

static void test_round_robin(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    tu_gate g;
    tu_gate_init(&g);
    tr_pid pool = pool_start(rt, &g, 4, TR_POOL_ROUND_ROBIN);
    const int want[5] = {0, 1, 2, 3, 0};
    for (int i = 0; i < 5; i++) {
        int idx = -1;
        assert_int_equal(call_idx(rt, pool, JOB_WHOAMI, &idx), 0);
        assert_int_equal(idx, want[i]);
    }
    tr_pool_stats st = wait_stats(rt, pool, 5, 0);
    assert_int_equal(st.size, 4);
    assert_int_equal(st.jobs_dispatched, 5);
    assert_int_equal(st.jobs_done, 5);
    assert_int_equal(st.jobs_failed, 0);
    tr_pool_worker_stats rows[8];
    size_t n = 0;
    assert_int_equal(tr_pool_get_stats(rt, pool, NULL, rows, 8, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(rows[0].index, 0);
    assert_int_equal(rows[0].jobs_done, 2);
    assert_int_equal(rows[3].jobs_done, 1);
    assert_false(tr_pid_is_none(rows[2].pid));
    /* a resize starts round-robin again at 0 */
    assert_int_equal(tr_pool_resize(rt, pool, 5), 0);
    for (int i = 0; i < 5; i++) {
        int idx = -1;
        assert_int_equal(call_idx(rt, pool, JOB_WHOAMI, &idx), 0);
        assert_int_equal(idx, i);
    }
    /* reserved tags are refused */
    assert_int_equal(tr_call(rt, pool, 0xFFFF0299u, NULL, 0, NULL, 5000), TR_EINVAL);
    assert_int_equal(tr_pool_stop(rt, pool, 10000), 0);
    assert_false(tr_is_alive(rt, pool));
    tu_rt_stop(&rt);
    tu_gate_destroy(&g);
}

static void test_least_loaded(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(4);
    tu_gate g;
    tu_gate_init(&g);
    tr_pid pool = pool_start(rt, &g, 3, TR_POOL_LEAST_LOADED);
    /* two slow jobs keep workers 0 and 1 busy */
    assert_int_equal(tr_cast(rt, pool, JOB_GATE, NULL, 0), 0);
    assert_int_equal(tr_cast(rt, pool, JOB_GATE, NULL, 0), 0);
    int idx = -1;
    tr_pool_worker_stats rows[3];
    size_t n = 0;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(call_idx(rt, pool, JOB_WHOAMI, &idx), 0);
        assert_int_equal(idx, 2);
        /* the reply can overtake the end of the handler: wait until the
         * pool counts the job finished before the next choice */
        for (int i = 0; i < 1000; i++) {
            assert_int_equal(tr_pool_get_stats(rt, pool, NULL, rows, 3, &n), 0);
            if (rows[2].queued == 0)
                break;
            tu_sleep_ms(5);
        }
        assert_int_equal(n, 3);
        assert_int_equal(rows[0].queued, 1);
        assert_int_equal(rows[1].queued, 1);
        assert_int_equal(rows[2].queued, 0);
    }
    tu_gate_open(&g); /* both slow jobs finish */
    tr_pool_stats st = wait_stats(rt, pool, 4, 0);
    assert_int_equal(st.jobs_done, 4);
    /* idle again: lowest index wins the tie */
    assert_int_equal(call_idx(rt, pool, JOB_WHOAMI, &idx), 0);
    assert_int_equal(idx, 0);
    assert_int_equal(tr_pool_stop(rt, pool, 10000), 0);
    tu_rt_stop(&rt);
    tu_gate_destroy(&g);
}

/* A client actor: sends FIRST jobs, a resize to 2, then SECOND jobs, all
 * with tr_request (one sender: the pool sees them in this order), and
 * records every reply. */
#define FIRST 200
#define SECOND 100

typedef struct client_report {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tr_pid pool;
    int replies, ok, errors, resize_status, resize_seen;
    int hist_first[4], hist_second[4];
    uint64_t resize_req;
    uint64_t second_from; /* request ids >= this are from the second batch */
    bool done;
} client_report;

static int client_init(tr_self *self, void *state, const void *arg) {
    client_report *r = (client_report *)arg;
    *(client_report **)state = r;
    uint64_t id;
    for (int i = 0; i < FIRST; i++)
        if (tr_request(self, r->pool, JOB_WHOAMI, NULL, 0, TR_INFINITY, &id))
            return TR_STOP;
    unsigned two = 2;
    if (tr_request(self, r->pool, TR_POOL_RESIZE, &two, sizeof(two), TR_INFINITY, &r->resize_req))
        return TR_STOP;
    for (int i = 0; i < SECOND; i++) {
        if (tr_request(self, r->pool, JOB_WHOAMI, NULL, 0, TR_INFINITY, &id))
            return TR_STOP;
        if (i == 0)
            r->second_from = id;
    }
    return TR_CONTINUE;
}

static int client_info(tr_self *self, void *state, const tr_msg *msg) {
    client_report *r = *(client_report **)state;
    if (msg->kind != TR_MSG_REPLY)
        return TR_CONTINUE;
    pthread_mutex_lock(&r->mu);
    if (msg->ref == r->resize_req) {
        r->resize_seen = 1;
        r->resize_status = msg->status;
    } else {
        r->replies++;
        if (msg->status == 0 && msg->size == sizeof(int32_t)) {
            int32_t idx;
            memcpy(&idx, msg->data, sizeof(idx));
            r->ok++;
            if (idx >= 0 && idx < 4) {
                if (msg->ref >= r->second_from)
                    r->hist_second[idx]++;
                else
                    r->hist_first[idx]++;
            }
        } else {
            r->errors++;
        }
    }
    bool all = r->resize_seen && r->replies == FIRST + SECOND;
    if (all) {
        r->done = true;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return all ? tr_stop(self, tr_reason_normal()) : TR_CONTINUE;
}

static const tr_behaviour client_behaviour = {
    .name = "pool_client",
    .state_size = sizeof(client_report *),
    .init = client_init,
    .handle_info = client_info,
};

/* One round: a fresh runtime and pool of 4, the client's 200 jobs, a
 * resize to 2, 100 more jobs. Returns false (with the reason in why) when a
 * job got no reply, an error, or went to the wrong workers. */
static bool scale_down_round(char *why, size_t why_size) {
    tr_runtime *rt = tu_rt_start(2);
    tu_gate g;
    tu_gate_init(&g);
    tr_pid pool = pool_start(rt, &g, 4, TR_POOL_ROUND_ROBIN);
    size_t actors_before = tr_runtime_actor_count(rt); /* pool + supervisor + 4 workers */
    client_report r;
    memset(&r, 0, sizeof(r));
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.pool = pool;
    assert_int_equal(tr_spawn(rt, &client_behaviour, &r, NULL, NULL), 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    pthread_mutex_lock(&r.mu);
    while (!r.done && pthread_cond_timedwait(&r.cv, &r.mu, &ts) == 0)
        ;
    pthread_mutex_unlock(&r.mu);
    bool ok = r.done && r.resize_status == 0 && r.ok == FIRST + SECOND && r.errors == 0;
    if (!ok) {
        tr_pool_stats st = {0};
        tr_pool_get_stats(rt, pool, &st, NULL, 0, NULL);
        snprintf(why, why_size,
                 "%s: %d of %d jobs answered, %d ok, %d errors; resize %s; pool: %llu done, "
                 "%llu failed",
                 r.done ? "all replies came" : "replies missing after 30 s", r.replies,
                 FIRST + SECOND, r.ok, r.errors,
                 r.resize_seen ? tr_err_name(r.resize_status) : "unanswered",
                 (unsigned long long)st.jobs_done, (unsigned long long)st.jobs_failed);
        tr_pool_stop(rt, pool, 10000);
        tr_runtime_free(&rt);
        tu_gate_destroy(&g);
        return false;
    }
    /* the first batch was spread over 4 workers, the second over 2 */
    for (int i = 0; i < 4; i++)
        assert_int_equal(r.hist_first[i], FIRST / 4);
    assert_int_equal(r.hist_second[0] + r.hist_second[1], SECOND);
    tr_pool_stats st = wait_stats(rt, pool, FIRST + SECOND, 0);
    assert_int_equal(st.size, 2);
    assert_int_equal(st.jobs_done, FIRST + SECOND);
    assert_int_equal(st.jobs_failed, 0);
    /* the two removed workers are gone */
    for (int i = 0; i < 500 && tr_runtime_actor_count(rt) > actors_before - 2; i++)
        tu_sleep_ms(10);
    assert_int_equal(tr_runtime_actor_count(rt), actors_before - 2);
    /* growing again reuses indexes 2 and 3 */
    assert_int_equal(tr_pool_resize(rt, pool, 4), 0);
    int idx = -1;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(call_idx(rt, pool, JOB_WHOAMI, &idx), 0);
        assert_int_equal(idx, i);
    }
    assert_int_equal(tr_pool_stop(rt, pool, 10000), 0);
    tu_rt_stop(&rt);
    tu_gate_destroy(&g);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    return true;
}

/* Rounds of scale_down_round; TROUPE_POOL_ROUNDS overrides the count. The
 * default keeps the test a few seconds; before the fix a round lost replies
 * about once in 20 under TSan and once in 500 in a release build (the
 * resize tests below catch the same defect in every run). */
static void test_scale_down_loses_nothing(void **unused) {
    (void)unused;
    int rounds = TU_SCALE(200, 50);
    const char *env = getenv("TROUPE_POOL_ROUNDS");
    if (env && atoi(env) > 0)
        rounds = atoi(env);
    for (int i = 0; i < rounds; i++) {
        char why[256];
        if (!scale_down_round(why, sizeof why))
            fail_msg("round %d of %d: %s", i + 1, rounds, why);
    }
}

/* A row of the statistics counts every worker its index has had: one
 * removed by a scale-down and the one a later grow started there. */
static void test_jobs_done_across_incarnations(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    tu_gate g;
    tu_gate_init(&g);
    tr_pid pool = pool_start(rt, &g, 4, TR_POOL_ROUND_ROBIN);
    int idx = -1;
    for (int i = 0; i < 8; i++) /* two jobs per worker */
        assert_int_equal(call_idx(rt, pool, JOB_WHOAMI, &idx), 0);
    wait_stats(rt, pool, 8, 0);
    tr_pool_worker_stats rows[4];
    size_t n = 0;
    assert_int_equal(tr_pool_get_stats(rt, pool, NULL, rows, 4, &n), 0);
    tr_pid old3 = rows[3].pid;
    assert_int_equal(tr_pool_resize(rt, pool, 2), 0); /* workers 2 and 3 drain and stop */
    assert_true(TU_WAIT(!tr_is_alive(rt, old3), 10000));
    assert_int_equal(tr_pool_resize(rt, pool, 4), 0); /* new workers at 2 and 3 */
    for (int i = 0; i < 4; i++) {                     /* one job each */
        assert_int_equal(call_idx(rt, pool, JOB_WHOAMI, &idx), 0);
        assert_int_equal(idx, i);
    }
    tr_pool_stats st = wait_stats(rt, pool, 12, 0);
    assert_int_equal(st.jobs_done, 12);
    assert_int_equal(tr_pool_get_stats(rt, pool, NULL, rows, 4, &n), 0);
    assert_int_equal(n, 4);
    assert_false(tr_pid_eq(rows[3].pid, old3));
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rows[i].index, i);
        assert_int_equal(rows[i].jobs_done, 3); /* 2 before the removal, 1 after */
        assert_int_equal(rows[i].jobs_failed, 0);
        assert_int_equal(rows[i].restarts, 0);
    }
    assert_int_equal(tr_pool_stop(rt, pool, 10000), 0);
    tu_rt_stop(&rt);
    tu_gate_destroy(&g);
}

static void test_crash_mid_job(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    tu_gate g;
    tu_gate_init(&g);
    tr_pid pool = pool_start(rt, &g, 2, TR_POOL_ROUND_ROBIN);
    tr_pool_worker_stats rows[2];
    size_t n;
    assert_int_equal(tr_pool_get_stats(rt, pool, NULL, rows, 2, &n), 0);
    tr_pid w0 = rows[0].pid;
    tr_buf reply = {0};
    assert_int_equal(tr_call(rt, pool, JOB_CRASH, NULL, 0, &reply, 10000), TR_ECRASHED);
    assert_non_null(reply.data);
    assert_non_null(strstr((const char *)reply.data, "job crashed"));
    tr_buf_free(&reply);
    tr_pool_stats st = wait_stats(rt, pool, 0, 1);
    assert_true(st.restarts >= 1);
    assert_int_equal(st.jobs_failed, 1);
    /* later jobs succeed, on both workers */
    bool seen[2] = {false, false};
    for (int i = 0; i < 6; i++) {
        int idx = -1;
        assert_int_equal(call_idx(rt, pool, JOB_WHOAMI, &idx), 0);
        assert_true(idx == 0 || idx == 1);
        seen[idx] = true;
    }
    assert_true(seen[0] && seen[1]);
    assert_int_equal(tr_pool_get_stats(rt, pool, &st, rows, 2, &n), 0);
    assert_false(tr_pid_eq(rows[0].pid, w0)); /* worker 0 was restarted */
    assert_int_equal(rows[0].restarts, 1);
    assert_int_equal(rows[0].jobs_failed, 1);
    st = wait_stats(rt, pool, 6, 1);
    assert_int_equal(st.jobs_done, 6);
    assert_int_equal(tr_pool_stop(rt, pool, 10000), 0);
    tu_rt_stop(&rt);
    tu_gate_destroy(&g);
}

static void test_start_errors(void **unused) {
    (void)unused;
    tr_runtime *rt = tu_rt_start(2);
    tr_pool_opts o = {0};
    tr_pid pool;
    assert_int_equal(tr_pool_start(rt, &o, &pool), TR_EINVAL); /* no behaviour */
    o.worker = &pw_behaviour;
    assert_int_equal(tr_pool_start(rt, &o, &pool), TR_EINVAL); /* size 0 */
    o.size = TR_POOL_MAX_WORKERS + 1;
    assert_int_equal(tr_pool_start(rt, &o, &pool), TR_EINVAL);
    o.size = 2;
    o.worker_arg = (const void *)(uintptr_t)1; /* pw_init refuses */
    assert_int_equal(tr_pool_start(rt, &o, &pool), TR_EINIT);
    assert_int_equal(tr_pool_worker_index(NULL), TR_EINVAL);
    tu_gate g;
    tu_gate_init(&g);
    pool = pool_start(rt, &g, 2, TR_POOL_ROUND_ROBIN);
    assert_int_equal(tr_pool_resize(rt, pool, 0), TR_EINVAL);
    assert_int_equal(tr_pool_resize(rt, pool, TR_POOL_MAX_WORKERS + 1), TR_EINVAL);
    assert_int_equal(tr_pool_stop(rt, pool, 10000), 0);
    assert_int_equal(tr_pool_stop(rt, pool, 10000), TR_ENOPROC);
    /* a pool left running is stopped by the runtime */
    pool_start(rt, &g, 3, TR_POOL_LEAST_LOADED);
    tu_rt_stop(&rt);
    tu_gate_destroy(&g);
}

/* ------------------------------------------------------------------------ */
/* Resizing under load: every job answered exactly once, by a worker that   */
/* ran it.                                                                   */
/* ------------------------------------------------------------------------ */

#define STRESS_CLIENTS 4
#define STRESS_MAX_JOBS (1u << 20) /* about 100 times what 1,000 resizes take */
#define STRESS_SIZE_MAX 6

typedef struct stress {
    tr_runtime *rt;
    tr_pid pool;
    _Atomic uint32_t *ran;      /* per job id: times a worker's handler ran it */
    _Atomic uint32_t *answered; /* per job id: correct replies its client got */
    atomic_uint next_id;
    atomic_bool stop;
    atomic_uint errors;
    pthread_mutex_t mu; /* first_error */
    char first_error[160];
} stress;

typedef struct sw_reply {
    uint64_t id;
    int32_t index;
} sw_reply;

static int sw_init(tr_self *self, void *state, const void *arg) {
    (void)self;
    *(stress **)state = (stress *)arg;
    return TR_CONTINUE;
}

static int sw_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    stress *x = *(stress **)state;
    sw_reply r = {0, tr_pool_worker_index(self)};
    if (msg->size == sizeof(r.id)) {
        memcpy(&r.id, msg->data, sizeof(r.id));
        if (r.id < STRESS_MAX_JOBS)
            atomic_fetch_add(&x->ran[r.id], 1);
    }
    tr_reply(from, msg->tag, &r, sizeof(r));
    return TR_CONTINUE;
}

static const tr_behaviour sw_behaviour = {
    .name = "pool_stress_worker",
    .state_size = sizeof(stress *),
    .init = sw_init,
    .handle_call = sw_call,
};

static void stress_error(stress *x, uint64_t id, int rc, const tr_buf *reply) {
    if (atomic_fetch_add(&x->errors, 1) != 0)
        return;
    pthread_mutex_lock(&x->mu);
    snprintf(x->first_error, sizeof x->first_error, "job %llu: %s (%.*s)", (unsigned long long)id,
             tr_err_name(rc), reply->data && reply->size ? (int)reply->size - 1 : 0,
             reply->data ? (const char *)reply->data : "");
    pthread_mutex_unlock(&x->mu);
}

/* A client thread: tr_call as fast as it can, each job with a new id. */
static void *stress_client(void *arg) {
    stress *x = arg;
    while (!atomic_load(&x->stop)) {
        uint64_t id = atomic_fetch_add(&x->next_id, 1);
        if (id >= STRESS_MAX_JOBS) {
            atomic_fetch_sub(&x->next_id, 1);
            break;
        }
        tr_buf reply = {0};
        int rc = tr_call(x->rt, x->pool, JOB_WHOAMI, &id, sizeof(id), &reply, 10000);
        sw_reply r;
        if (rc == 0 && reply.size == sizeof(r)) {
            memcpy(&r, reply.data, sizeof(r));
            if (r.id == id && r.index >= 0 && r.index < STRESS_SIZE_MAX)
                atomic_fetch_add(&x->answered[id], 1);
            else
                stress_error(x, id, TR_EREMOTE, &reply);
        } else {
            stress_error(x, id, rc ? rc : TR_EREMOTE, &reply);
        }
        tr_buf_free(&reply);
    }
    return NULL;
}

static void resize_under_load(tr_pool_strategy strategy) {
    const unsigned resizes = 1000;
    tr_runtime *rt = tu_rt_start(4);
    stress *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    x->ran = calloc(STRESS_MAX_JOBS, sizeof(*x->ran));
    x->answered = calloc(STRESS_MAX_JOBS, sizeof(*x->answered));
    assert_non_null(x->ran);
    assert_non_null(x->answered);
    pthread_mutex_init(&x->mu, NULL);
    x->rt = rt;
    tr_pool_opts o = {0};
    o.worker = &sw_behaviour;
    o.worker_arg = x;
    o.size = 3;
    o.strategy = strategy;
    assert_int_equal(tr_pool_start(rt, &o, &x->pool), 0);
    pthread_t th[STRESS_CLIENTS];
    for (int i = 0; i < STRESS_CLIENTS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, stress_client, x), 0);
    /* sizes 1..6 in a fixed pseudo-random order, never the same twice */
    unsigned size = 3, seed = 12345;
    for (unsigned i = 0; i < resizes; i++) {
        unsigned next;
        do {
            seed = seed * 1103515245u + 12345u;
            next = 1 + (seed >> 16) % STRESS_SIZE_MAX;
        } while (next == size);
        size = next;
        assert_rc(tr_pool_resize(rt, x->pool, size), 0);
        if (i % 4 == 0)
            tu_sleep_us(500); /* let jobs reach the workers between some resizes */
    }
    atomic_store(&x->stop, true);
    for (int i = 0; i < STRESS_CLIENTS; i++)
        pthread_join(th[i], NULL);
    unsigned jobs = atomic_load(&x->next_id);
    unsigned lost = 0, twice = 0, unanswered = 0;
    for (unsigned id = 0; id < jobs; id++) {
        uint32_t n = atomic_load(&x->ran[id]);
        lost += n == 0;
        twice += n > 1;
        unanswered += atomic_load(&x->answered[id]) != 1;
    }
    if (atomic_load(&x->errors) || lost || twice || unanswered)
        fail_msg("%u jobs, %u resizes: %u errors (first: %s), %u never ran, %u ran twice, "
                 "%u without a correct reply",
                 jobs, resizes, atomic_load(&x->errors), x->first_error, lost, twice, unanswered);
    assert_true(jobs > resizes); /* the pool was under load */
    /* Exactly once: each job's handler ran once (and replied once), and the
     * pool answered none itself (jobs_failed 0), so no second reply exists
     * that a tr_call would silently drop. */
    tr_pool_stats st = wait_stats(rt, x->pool, jobs, 0);
    assert_int_equal(st.jobs_done, jobs);
    assert_int_equal(st.jobs_failed, 0);
    assert_int_equal(st.restarts, 0);
    assert_int_equal(st.size, size);
    assert_int_equal(tr_pool_stop(rt, x->pool, 10000), 0);
    tu_rt_stop(&rt);
    pthread_mutex_destroy(&x->mu);
    free(x->ran);
    free(x->answered);
    free(x);
}

static void test_resize_under_load_round_robin(void **unused) {
    (void)unused;
    resize_under_load(TR_POOL_ROUND_ROBIN);
}

static void test_resize_under_load_least_loaded(void **unused) {
    (void)unused;
    resize_under_load(TR_POOL_LEAST_LOADED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_robin),
        cmocka_unit_test(test_least_loaded),
        cmocka_unit_test(test_scale_down_loses_nothing),
        cmocka_unit_test(test_jobs_done_across_incarnations),
        cmocka_unit_test(test_crash_mid_job),
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_resize_under_load_round_robin),
        cmocka_unit_test(test_resize_under_load_least_loaded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
