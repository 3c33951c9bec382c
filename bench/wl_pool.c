/* troupe benchmarks — supervised workloads: pool and pool_sleep (the pool
 * manager, tr_pool_*, over its one_for_one supervisor) and restart (a
 * tr_supervisor_* one_for_one supervisor restarting a crashing worker). */
#include "bench.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t get_u64(const tr_msg *m) {
    uint64_t v = 0;
    if (m->size == sizeof v)
        memcpy(&v, m->data, sizeof v);
    return v;
}

/* ================================================================ client */

/* One client actor keeps up to `window` jobs x = 1..N in flight to the pool
 * (tr_request: the pool forwards each call, with its from, to a worker,
 * which replies to the client directly) and sums the answers x*x. */
typedef struct pool_ctx {
    bench_done done;
    tr_pid pool;
    int64_t n;
    int window;
    int64_t replies;
    uint64_t sum;
    int status;
} pool_ctx;

typedef struct pool_client {
    pool_ctx *ctx;
    int64_t next; /* next x to send */
    int64_t replies;
    uint64_t sum;
} pool_client;

static int pc_init(tr_self *self, void *state, const void *arg) {
    pool_client *s = state;
    s->ctx = (pool_ctx *)arg;
    s->next = 1;
    return TR_CONTINUE;
}

static void pc_finish(pool_client *s, int status) {
    s->ctx->status = status;
    s->ctx->replies = s->replies;
    s->ctx->sum = s->sum;
    bench_done_post(&s->ctx->done);
}

static bool pc_send(tr_self *self, pool_client *s) {
    uint64_t x = (uint64_t)s->next++;
    int rc = tr_request(self, s->ctx->pool, TAG_JOB, &x, sizeof x, TR_INFINITY, NULL);
    if (rc != 0) {
        pc_finish(s, rc);
        return false;
    }
    return true;
}

static int pc_info(tr_self *self, void *state, const tr_msg *m) {
    pool_client *s = state;
    if (m->tag == TAG_GO && m->kind == TR_MSG_INFO) {
        for (int i = 0; i < s->ctx->window && s->next <= s->ctx->n; i++)
            if (!pc_send(self, s))
                break;
    } else if (m->kind == TR_MSG_REPLY) {
        if (m->status != 0) {
            pc_finish(s, m->status);
            return TR_CONTINUE;
        }
        s->sum += get_u64(m);
        if (++s->replies == s->ctx->n)
            pc_finish(s, 0);
        else if (s->next <= s->ctx->n)
            pc_send(self, s);
    }
    return TR_CONTINUE;
}

static const tr_behaviour pool_client_b = {.name = "pool_client",
                                           .state_size = sizeof(pool_client),
                                           .init = pc_init,
                                           .handle_info = pc_info};

/* Runs the client against a started pool; true when every job came back. */
static bool pool_drive(tr_runtime *rt, pool_ctx *ctx, double *ms) {
    tr_pid client;
    bench_done_init(&ctx->done);
    int rc = tr_spawn(rt, &pool_client_b, ctx, NULL, &client);
    int64_t t0 = bench_now_ns();
    if (rc == 0)
        rc = tr_send(rt, client, TAG_GO, NULL, 0);
    bool ok = rc == 0 && bench_done_wait(&ctx->done);
    *ms = (bench_now_ns() - t0) / 1e6;
    if (rc != 0 || ctx->status != 0)
        bench_err("pool", "request", rc ? rc : ctx->status);
    uint64_t want = 0;
    for (uint64_t x = 1; x <= (uint64_t)ctx->n; x++)
        want += x * x; /* wraps like the workers' arithmetic */
    return ok && ctx->status == 0 && ctx->replies == ctx->n && ctx->sum == want;
}

/* ================================================================ pool */

static int sq_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    if (m->tag != TAG_JOB) {
        tr_reply_error(from, TR_EINVAL, "unknown job");
        return TR_CONTINUE;
    }
    uint64_t x = get_u64(m);
    uint64_t y = x * x;
    tr_reply(from, TAG_VALUE, &y, sizeof y);
    return TR_CONTINUE;
}

static const tr_behaviour sq_worker = {.name = "square", .handle_call = sq_call};

static void pool_run(const char *workload, double scale, const tr_behaviour *worker,
                     unsigned workers, int64_t n, double ideal_ms) {
    tr_runtime *rt = bench_runtime(workload);
    tr_pool_opts po = {.worker = worker, .size = workers, .strategy = TR_POOL_ROUND_ROBIN};
    pool_ctx ctx = {.n = n, .window = 1000};
    int rc = tr_pool_start(rt, &po, &ctx.pool);
    if (rc != 0) {
        bench_err(workload, "tr_pool_start", rc);
        bench_result(workload, n, 0, 0, false, "error=pool_start");
        tr_runtime_free(&rt);
        return;
    }
    double ms = 0;
    bool ok = pool_drive(rt, &ctx, &ms);
    tr_pool_stats st = {0};
    rc = tr_pool_get_stats(rt, ctx.pool, &st, NULL, 0, NULL);
    if (rc != 0)
        bench_err(workload, "tr_pool_get_stats", rc);
    ok = ok && rc == 0 && st.restarts == 0 && st.jobs_dispatched == (uint64_t)n;
    char extra[160];
    if (ideal_ms > 0)
        snprintf(extra, sizeof extra,
                 "ideal_ratio=%.3f ideal_ms=%.0f workers=%u in_flight=1000 supervised=yes",
                 ms / ideal_ms, ideal_ms, workers);
    else
        snprintf(extra, sizeof extra, "workers=%u in_flight=1000 supervised=yes restarts=%llu",
                 workers, (unsigned long long)st.restarts);
    bench_result(workload, n, ms, (double)n, ok, extra);
    rc = tr_pool_stop(rt, ctx.pool, 10000);
    if (rc != 0)
        bench_err(workload, "tr_pool_stop", rc);
    tr_runtime_free(&rt);
}

void wl_pool(double scale) {
    pool_run("pool", scale, &sq_worker, 4, bench_scaled(1000000, scale), 0);
}

/* ================================================================ pool_sleep */

/* A worker handles one job at a time: each takes 10 ms of simulated I/O,
 * a timer (tr_send_after) rather than a sleeping thread; the reply is
 * deferred (the worker keeps `from`) until the timer fires. Jobs that
 * arrive meanwhile queue in the worker's state. */
#define SLEEP_MS 10
#define SLEEP_WORKERS 100
#define SLEEP_QUEUE 1024 /* > the client's window: never full */

typedef struct sleep_job {
    tr_from from;
    uint64_t x;
} sleep_job;

typedef struct sleep_state {
    unsigned head, count;
    bool busy;
    sleep_job q[SLEEP_QUEUE];
} sleep_state;

static void sleep_arm(tr_self *self, sleep_state *s) {
    int rc =
        tr_send_after(tr_self_runtime(self), tr_self_pid(self), SLEEP_MS, TAG_WAKE, NULL, 0, NULL);
    if (rc != 0)
        tr_fail(self, tr_reason_error(rc, "send_after failed"));
    s->busy = true;
}

static int sleep_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    sleep_state *s = state;
    if (m->tag != TAG_JOB || s->count == SLEEP_QUEUE) {
        tr_reply_error(from, TR_EFULL, "worker queue full");
        return TR_CONTINUE;
    }
    s->q[(s->head + s->count++) % SLEEP_QUEUE] = (sleep_job){from, get_u64(m)};
    if (!s->busy)
        sleep_arm(self, s);
    return TR_CONTINUE;
}

static int sleep_info(tr_self *self, void *state, const tr_msg *m) {
    sleep_state *s = state;
    if (m->kind != TR_MSG_TIMER || m->tag != TAG_WAKE || s->count == 0)
        return TR_CONTINUE;
    sleep_job j = s->q[s->head];
    s->head = (s->head + 1) % SLEEP_QUEUE;
    s->count--;
    uint64_t y = j.x * j.x;
    tr_reply(j.from, TAG_VALUE, &y, sizeof y);
    s->busy = false;
    if (s->count > 0)
        sleep_arm(self, s);
    return TR_CONTINUE;
}

static const tr_behaviour sleep_worker = {.name = "sleeper",
                                          .state_size = sizeof(sleep_state),
                                          .handle_call = sleep_call,
                                          .handle_info = sleep_info};

void wl_pool_sleep(double scale) {
    int64_t n = bench_scaled(10000, scale);
    double ideal = (double)((n + SLEEP_WORKERS - 1) / SLEEP_WORKERS) * SLEEP_MS;
    pool_run("pool_sleep", scale, &sleep_worker, SLEEP_WORKERS, n, ideal);
}

/* ================================================================ restart */

#define RESTART_NAME "bench_restart_worker" /* registered as an OTP worker would be */

typedef struct rs_ctx {
    bench_done done;
    int64_t n;
    atomic_long incarnations; /* bumped by every worker init */
    int64_t restarts;         /* restarts the client observed */
    int64_t failed_calls, lookups_retried;
    int status;
    bool bad;
} rs_ctx;

typedef struct rs_worker {
    int64_t gen;
} rs_worker;

/* The worker: registers its name (as an OTP registered gen_server); a cast
 * `crash` makes it fail; a call `ping` answers its incarnation number. */
static int rsw_init(tr_self *self, void *state, const void *arg) {
    rs_ctx *c = (rs_ctx *)arg;
    ((rs_worker *)state)->gen = atomic_fetch_add(&c->incarnations, 1) + 1;
    return tr_register(tr_self_runtime(self), RESTART_NAME, tr_self_pid(self), NULL) == 0
               ? TR_CONTINUE
               : tr_stop(self, tr_reason_error(TR_EEXIST, "name taken"));
}

static int rsw_cast(tr_self *self, void *state, const tr_msg *m) {
    if (m->tag == TAG_CRASH)
        tr_fail(self, tr_reason_error(1, "told to crash"));
    return TR_CONTINUE;
}

static int rsw_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    rs_worker *w = state;
    tr_reply(from, TAG_VALUE, &w->gen, sizeof w->gen);
    return TR_CONTINUE;
}

static const tr_behaviour rs_worker_b = {.name = "restart_worker",
                                         .state_size = sizeof(rs_worker),
                                         .init = rsw_init,
                                         .handle_cast = rsw_cast,
                                         .handle_call = rsw_call};

/* The client, N times: monitor the worker, tell it to crash, wait for its
 * DOWN, ask the supervisor for its child (supervisor:which_children/1)
 * until a new pid runs it, and call that pid until a call succeeds. The
 * worker's EXIT reaches the supervisor before the client's request (exit
 * signals overtake queued messages), so one request usually suffices. */
typedef struct rs_client {
    rs_ctx *ctx;
    tr_pid sup;
    tr_pid cur;  /* the worker told to crash */
    tr_pid cand; /* the pid called */
    uint64_t mref, which_req, ping_req;
    int64_t done;
} rs_client;

static int rsc_init(tr_self *self, void *state, const void *arg) {
    rs_client *s = state;
    s->ctx = (rs_ctx *)arg;
    return TR_CONTINUE;
}

static void rsc_finish(rs_client *s, int status) {
    s->ctx->status = status;
    s->ctx->restarts = s->done;
    bench_done_post(&s->ctx->done);
}

static void rsc_crash(tr_self *self, rs_client *s, tr_pid worker) {
    s->cur = worker;
    int rc = tr_monitor(self, worker, &s->mref);
    if (rc == 0)
        rc = tr_cast(tr_self_runtime(self), worker, TAG_CRASH, NULL, 0);
    if (rc != 0)
        rsc_finish(s, rc);
}

static void rsc_which(tr_self *self, rs_client *s) {
    int rc = tr_request(self, s->sup, TR_SUP_WHICH_CHILDREN, NULL, 0, TR_INFINITY, &s->which_req);
    if (rc != 0)
        rsc_finish(s, rc);
}

static int rsc_info(tr_self *self, void *state, const tr_msg *m) {
    rs_client *s = state;
    switch (m->kind) {
    case TR_MSG_INFO:
        if (m->tag == TAG_GO && m->size == sizeof(tr_pid)) {
            memcpy(&s->sup, m->data, sizeof s->sup);
            rsc_which(self, s);
        }
        break;
    case TR_MSG_DOWN:
        if (m->ref == s->mref)
            rsc_which(self, s);
        break;
    case TR_MSG_REPLY:
        if (m->ref == s->which_req) {
            tr_child_info ci;
            if (m->status != 0 || m->size < sizeof ci) {
                rsc_finish(s, m->status ? m->status : TR_ENOTFOUND);
                break;
            }
            memcpy(&ci, m->data, sizeof ci);
            if (tr_pid_is_none(ci.pid) || tr_pid_eq(ci.pid, s->cur)) {
                s->ctx->lookups_retried++; /* not restarted yet: ask again */
                rsc_which(self, s);
                break;
            }
            if (tr_pid_is_none(s->cur)) { /* the first worker: start the cycle */
                rsc_crash(self, s, ci.pid);
                break;
            }
            s->cand = ci.pid;
            int rc = tr_request(self, ci.pid, TAG_PING, NULL, 0, TR_INFINITY, &s->ping_req);
            if (rc != 0) {
                s->ctx->failed_calls++;
                rsc_which(self, s);
            }
        } else if (m->ref == s->ping_req) {
            if (m->status != 0) {
                s->ctx->failed_calls++;
                rsc_which(self, s);
                break;
            }
            int64_t gen = 0;
            if (m->size == sizeof gen)
                memcpy(&gen, m->data, sizeof gen);
            s->done++;
            if (gen != s->done + 1)
                s->ctx->bad = true;
            if (s->done == s->ctx->n)
                rsc_finish(s, 0);
            else
                rsc_crash(self, s, s->cand);
        }
        break;
    default:
        break;
    }
    return TR_CONTINUE;
}

static const tr_behaviour rs_client_b = {.name = "restart_client",
                                         .state_size = sizeof(rs_client),
                                         .init = rsc_init,
                                         .handle_info = rsc_info};

void wl_restart(double scale) {
    int64_t n = bench_scaled(100000, scale);
    tr_runtime *rt = bench_runtime("restart");
    rs_ctx ctx = {.n = n};
    bench_done_init(&ctx.done);
    tr_child_spec child = {
        .id = "worker",
        .behaviour = &rs_worker_b,
        .arg = &ctx,
        .restart = TR_PERMANENT,
        .shutdown_ms = 5000,
        .type = TR_WORKER,
    };
    /* Never escalate during the run (OTP peer: intensity N+10, period 1 s). */
    tr_sup_spec spec = {
        .flags = {.strategy = TR_ONE_FOR_ONE, .intensity = (int)(n + 10), .period_ms = 1000},
        .children = &child,
        .n_children = 1,
    };
    tr_pid sup, client;
    int rc = tr_supervisor_start(rt, &spec, &sup);
    if (rc == 0)
        rc = tr_spawn(rt, &rs_client_b, &ctx, NULL, &client);
    int64_t t0 = bench_now_ns();
    if (rc == 0)
        rc = tr_send(rt, client, TAG_GO, &sup, sizeof sup);
    bool ok = rc == 0 && bench_done_wait(&ctx.done);
    double ms = (bench_now_ns() - t0) / 1e6;
    if (rc != 0 || ctx.status != 0)
        bench_err("restart", "setup/client", rc ? rc : ctx.status);
    tr_child_info info = {0};
    size_t nc = 0;
    int wrc = ok ? tr_supervisor_which_children(rt, sup, &info, 1, &nc) : -1;
    ok = ok && ctx.status == 0 && !ctx.bad && ctx.restarts == n && wrc == 0 && nc == 1 &&
         info.restarts == (uint32_t)n;
    char extra[160];
    snprintf(extra, sizeof extra,
             "sup_restarts=%u failed_calls=%lld which_retries=%lld incarnations=%ld%s",
             info.restarts, (long long)ctx.failed_calls, (long long)ctx.lookups_retried,
             atomic_load(&ctx.incarnations), ctx.bad ? " bad_generation=1" : "");
    bench_result("restart", n, ms, (double)ctx.restarts, ok, extra);
    tr_supervisor_stop(rt, sup, 10000);
    tr_runtime_free(&rt);
}
