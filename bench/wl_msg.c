/* troupe benchmarks — message workloads: skynet, pingpong, counting, fanin,
 * call, call_thread, ring. */
#include "bench.h"

#include <pthread.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t get_i64(const tr_msg *m) {
    int64_t v = 0;
    if (m->size == sizeof v)
        memcpy(&v, m->data, sizeof v);
    return v;
}

/* Messages a producer sends in one turn before it yields to its mailbox
 * (a self-sent CONT), so that one callback never monopolizes a thread. */
#define CHUNK 4096

/* ================================================================ skynet */

typedef struct sky_ctx {
    bench_done done;
    int64_t result;
    atomic_long actors;
    atomic_int errors;
} sky_ctx;

typedef struct sky_arg {
    sky_ctx *ctx;
    tr_pid parent;
    int64_t lo, hi;
} sky_arg;

typedef struct sky_state {
    sky_arg a;
    int64_t sum;
    int pending;
} sky_state;

static const tr_behaviour sky_node;

static int sky_init(tr_self *self, void *state, const void *arg) {
    sky_state *s = state;
    s->a = *(const sky_arg *)arg;
    return TR_CONTINUE;
}

static int sky_up(tr_self *self, sky_state *s, int64_t v) {
    if (tr_pid_is_none(s->a.parent)) {
        s->a.ctx->result = v;
        bench_done_post(&s->a.ctx->done);
    } else {
        int rc = tr_send(tr_self_runtime(self), s->a.parent, TAG_SUM, &v, sizeof v);
        if (rc != 0)
            atomic_fetch_add(&s->a.ctx->errors, 1);
    }
    return tr_stop(self, tr_reason_normal());
}

static int sky_info(tr_self *self, void *state, const tr_msg *m) {
    sky_state *s = state;
    if (m->tag == TAG_START) {
        int64_t size = s->a.hi - s->a.lo;
        if (size == 1)
            return sky_up(self, s, s->a.lo);
        int64_t k = size < 10 ? size : 10;
        tr_runtime *rt = tr_self_runtime(self);
        for (int64_t c = 0; c < k; c++) {
            sky_arg ca = {s->a.ctx, tr_self_pid(self), s->a.lo + size * c / k,
                          s->a.lo + size * (c + 1) / k};
            tr_pid child;
            int rc = tr_spawn(rt, &sky_node, &ca, NULL, &child);
            if (rc == 0)
                rc = tr_send(rt, child, TAG_START, NULL, 0);
            if (rc != 0) {
                atomic_fetch_add(&s->a.ctx->errors, 1);
                continue;
            }
            s->pending++;
        }
        atomic_fetch_add_explicit(&s->a.ctx->actors, s->pending, memory_order_relaxed);
        return TR_CONTINUE;
    }
    if (m->tag == TAG_SUM) {
        s->sum += get_i64(m);
        if (--s->pending == 0)
            return sky_up(self, s, s->sum);
    }
    return TR_CONTINUE;
}

static const tr_behaviour sky_node = {
    .name = "skynet",
    .state_size = sizeof(sky_state),
    .init = sky_init,
    .handle_info = sky_info,
};

void wl_skynet(double scale) {
    int64_t n = bench_scaled(1000000, scale);
    tr_runtime *rt = bench_runtime("skynet");
    sky_ctx ctx = {0};
    bench_done_init(&ctx.done);
    atomic_init(&ctx.actors, 1);
    sky_arg root = {&ctx, TR_PID_NONE, 0, n};
    tr_pid pid;
    int64_t t0 = bench_now_ns();
    int rc = tr_spawn(rt, &sky_node, &root, NULL, &pid);
    if (rc == 0)
        rc = tr_send(rt, pid, TAG_START, NULL, 0);
    bool ok = rc == 0 && bench_done_wait(&ctx.done);
    double ms = (bench_now_ns() - t0) / 1e6;
    if (rc != 0)
        bench_err("skynet", "spawn root", rc);
    ok = ok && ctx.result == n * (n - 1) / 2 && atomic_load(&ctx.errors) == 0;
    char extra[96];
    snprintf(extra, sizeof extra, "actors=%ld errors=%d", atomic_load(&ctx.actors),
             atomic_load(&ctx.errors));
    bench_result("skynet", n, ms, (double)n, ok, extra);
    tr_runtime_free(&rt);
}

/* ================================================================ pingpong */

/* PAIRS (environment, default 1) independent pairs share the N round trips:
 * each pair makes N / PAIRS of them (at least 1), all pairs at once. */
typedef struct pp_ctx {
    bench_done done;
    int64_t per;       /* round trips per pair */
    int64_t pairs;     /* pairs started */
    atomic_long ended; /* pairs done (or failed) */
    atomic_long rounds;
    atomic_bool bad;
} pp_ctx;

typedef struct pp_pair {
    pp_ctx *ctx;
    tr_pid b;
} pp_pair;

typedef struct pp_state {
    pp_pair *pair;
    int64_t count;
} pp_state;

static int pp_init(tr_self *self, void *state, const void *arg) {
    ((pp_state *)state)->pair = (pp_pair *)arg;
    return TR_CONTINUE;
}

/* A pair is over: the last one to end wakes the main thread. */
static void pp_end(pp_ctx *c, int64_t rounds, bool bad) {
    if (bad)
        atomic_store(&c->bad, true);
    atomic_fetch_add(&c->rounds, rounds);
    if (atomic_fetch_add(&c->ended, 1) + 1 == c->pairs)
        bench_done_post(&c->done);
}

/* A: sends ping k, expects pong k, per times. */
static int pp_a_info(tr_self *self, void *state, const tr_msg *m) {
    pp_state *s = state;
    pp_ctx *c = s->pair->ctx;
    int64_t next;
    if (m->tag == TAG_GO) {
        next = 1;
    } else if (m->tag == TAG_PONG) {
        if (get_i64(m) != s->count + 1)
            atomic_store(&c->bad, true);
        if (++s->count == c->per) {
            pp_end(c, s->count, false);
            return TR_CONTINUE;
        }
        next = s->count + 1;
    } else {
        return TR_CONTINUE;
    }
    if (tr_send(tr_self_runtime(self), s->pair->b, TAG_PING, &next, sizeof next) != 0)
        pp_end(c, s->count, true);
    return TR_CONTINUE;
}

/* B: answers every ping with a pong to its sender. */
static int pp_b_info(tr_self *self, void *state, const tr_msg *m) {
    if (m->tag != TAG_PING)
        return TR_CONTINUE;
    int64_t v = get_i64(m);
    if (tr_send(tr_self_runtime(self), m->sender, TAG_PONG, &v, sizeof v) != 0) {
        pp_state *s = state;
        atomic_store(&s->pair->ctx->bad, true);
    }
    return TR_CONTINUE;
}

static const tr_behaviour pp_a = {
    .name = "ping", .state_size = sizeof(pp_state), .init = pp_init, .handle_info = pp_a_info};
static const tr_behaviour pp_b = {
    .name = "pong", .state_size = sizeof(pp_state), .init = pp_init, .handle_info = pp_b_info};

void wl_pingpong(double scale) {
    int64_t n = bench_scaled(2000000, scale);
    int64_t pairs = bench_env_param("PAIRS", 1);
    pp_ctx ctx = {.per = n / pairs < 1 ? 1 : n / pairs};
    n = ctx.per * pairs;
    bench_done_init(&ctx.done);
    pp_pair *pp = calloc((size_t)pairs, sizeof *pp);
    tr_pid *a = calloc((size_t)pairs, sizeof *a);
    if (!pp || !a) {
        bench_result("pingpong", n, 0, 0, false, "error=oom");
        exit(1);
    }
    tr_runtime *rt = bench_runtime("pingpong");
    int rc = 0;
    for (int64_t i = 0; i < pairs && rc == 0; i++) {
        pp[i].ctx = &ctx;
        rc = tr_spawn(rt, &pp_b, &pp[i], NULL, &pp[i].b);
        if (rc == 0)
            rc = tr_spawn(rt, &pp_a, &pp[i], NULL, &a[i]);
        if (rc == 0)
            ctx.pairs++;
    }
    int64_t t0 = bench_now_ns();
    for (int64_t i = 0; i < pairs && rc == 0; i++)
        rc = tr_send(rt, a[i], TAG_GO, NULL, 0);
    bool ok = rc == 0 && bench_done_wait(&ctx.done);
    double ms = (bench_now_ns() - t0) / 1e6;
    if (rc != 0)
        bench_err("pingpong", "setup", rc);
    ok = ok && !atomic_load(&ctx.bad) && atomic_load(&ctx.rounds) == n;
    char extra[96];
    snprintf(extra, sizeof extra, "msgs=%lld roundtrips_per_s=%.0f pairs=%lld", (long long)(2 * n),
             ms > 0 ? n / (ms / 1000) : 0, (long long)pairs);
    bench_result("pingpong", n, ms, 2.0 * (double)n, ok, extra);
    tr_runtime_free(&rt);
    free(pp);
    free(a);
}

/* ================================================================ counting */

typedef struct cnt_ctx {
    bench_done done;
    tr_pid counter;
    int64_t n;
    int64_t got;
    int status;
} cnt_ctx;

typedef struct cnt_state {
    cnt_ctx *ctx;
    int64_t count;
} cnt_state;

static int cnt_init(tr_self *self, void *state, const void *arg) {
    ((cnt_state *)state)->ctx = (cnt_ctx *)arg;
    return TR_CONTINUE;
}

static int counter_cast(tr_self *self, void *state, const tr_msg *m) {
    if (m->tag == TAG_INC)
        ((cnt_state *)state)->count++;
    return TR_CONTINUE;
}

static int counter_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    cnt_state *s = state;
    if (m->tag == TAG_GET)
        tr_reply(from, TAG_VALUE, &s->count, sizeof s->count);
    else
        tr_reply_error(from, TR_EINVAL, "unknown request");
    return TR_CONTINUE;
}

static void cnt_finish(cnt_ctx *c, int status) {
    c->status = status;
    bench_done_post(&c->done);
}

static int producer_info(tr_self *self, void *state, const tr_msg *m) {
    cnt_state *s = state; /* count = messages sent so far */
    cnt_ctx *c = s->ctx;
    tr_runtime *rt = tr_self_runtime(self);
    if (m->tag == TAG_GO || m->tag == TAG_CONT) {
        int64_t end = s->count + CHUNK < c->n ? s->count + CHUNK : c->n;
        for (; s->count < end; s->count++) {
            int rc = tr_cast(rt, c->counter, TAG_INC, NULL, 0);
            if (rc != 0) {
                cnt_finish(c, rc);
                return TR_CONTINUE;
            }
        }
        int rc = s->count < c->n
                     ? tr_send(rt, tr_self_pid(self), TAG_CONT, NULL, 0)
                     : tr_request(self, c->counter, TAG_GET, NULL, 0, TR_INFINITY, NULL);
        if (rc != 0)
            cnt_finish(c, rc);
    } else if (m->kind == TR_MSG_REPLY) {
        c->got = get_i64(m);
        cnt_finish(c, m->status);
    }
    return TR_CONTINUE;
}

static const tr_behaviour counter_b = {.name = "counter",
                                       .state_size = sizeof(cnt_state),
                                       .init = cnt_init,
                                       .handle_cast = counter_cast,
                                       .handle_call = counter_call};
static const tr_behaviour producer_b = {.name = "producer",
                                        .state_size = sizeof(cnt_state),
                                        .init = cnt_init,
                                        .handle_info = producer_info};

void wl_counting(double scale) {
    int64_t n = bench_scaled(10000000, scale);
    tr_runtime *rt = bench_runtime("counting");
    cnt_ctx ctx = {.n = n, .got = -1};
    bench_done_init(&ctx.done);
    tr_pid p;
    int rc = tr_spawn(rt, &counter_b, &ctx, NULL, &ctx.counter);
    if (rc == 0)
        rc = tr_spawn(rt, &producer_b, &ctx, NULL, &p);
    int64_t t0 = bench_now_ns();
    if (rc == 0)
        rc = tr_send(rt, p, TAG_GO, NULL, 0);
    bool ok = rc == 0 && bench_done_wait(&ctx.done);
    double ms = (bench_now_ns() - t0) / 1e6;
    if (rc != 0 || ctx.status != 0)
        bench_err("counting", "send", rc ? rc : ctx.status);
    ok = ok && ctx.status == 0 && ctx.got == n;
    bench_result("counting", n, ms, (double)n, ok, NULL);
    tr_runtime_free(&rt);
}

/* ================================================================ fanin */

/* PRODUCERS (environment, default 8) producers share the N messages: each
 * sends N / PRODUCERS of them (at least 1), so the total stays N. */
#define FANIN_PRODUCERS 8

typedef struct fan_ctx {
    bench_done done;
    tr_pid sink;
    int64_t producers;
    int64_t per;   /* messages per producer */
    int64_t total; /* messages the sink got */
    int64_t sum;
    atomic_int errors;
} fan_ctx;

typedef struct fan_state {
    fan_ctx *ctx;
    int64_t count, sum;
} fan_state;

static int fan_init(tr_self *self, void *state, const void *arg) {
    ((fan_state *)state)->ctx = (fan_ctx *)arg;
    return TR_CONTINUE;
}

static int fan_sink_info(tr_self *self, void *state, const tr_msg *m) {
    fan_state *s = state;
    if (m->tag != TAG_INC)
        return TR_CONTINUE;
    s->sum += get_i64(m);
    if (++s->count == s->ctx->per * s->ctx->producers) {
        s->ctx->total = s->count;
        s->ctx->sum = s->sum;
        bench_done_post(&s->ctx->done);
    }
    return TR_CONTINUE;
}

static int fan_producer_info(tr_self *self, void *state, const tr_msg *m) {
    fan_state *s = state; /* count = messages sent so far */
    fan_ctx *c = s->ctx;
    tr_runtime *rt = tr_self_runtime(self);
    if (m->tag != TAG_GO && m->tag != TAG_CONT)
        return TR_CONTINUE;
    int64_t end = s->count + CHUNK < c->per ? s->count + CHUNK : c->per;
    for (; s->count < end; s->count++) {
        if (tr_send(rt, c->sink, TAG_INC, &s->count, sizeof s->count) != 0) {
            atomic_fetch_add(&c->errors, 1);
            bench_done_post(&c->done);
            return TR_CONTINUE;
        }
    }
    if (s->count < c->per && tr_send(rt, tr_self_pid(self), TAG_CONT, NULL, 0) != 0) {
        atomic_fetch_add(&c->errors, 1);
        bench_done_post(&c->done);
    }
    return TR_CONTINUE;
}

static const tr_behaviour fan_sink = {.name = "sink",
                                      .state_size = sizeof(fan_state),
                                      .init = fan_init,
                                      .handle_info = fan_sink_info};
static const tr_behaviour fan_producer = {.name = "fan_producer",
                                          .state_size = sizeof(fan_state),
                                          .init = fan_init,
                                          .handle_info = fan_producer_info};

void wl_fanin(double scale) {
    int64_t n = bench_scaled(8000000, scale);
    int64_t producers = bench_env_param("PRODUCERS", FANIN_PRODUCERS);
    fan_ctx ctx = {.producers = producers, .per = n / producers};
    if (ctx.per < 1)
        ctx.per = 1;
    n = ctx.per * producers;
    tr_pid *prod = calloc((size_t)producers, sizeof *prod);
    if (!prod) {
        bench_result("fanin", n, 0, 0, false, "error=oom");
        exit(1);
    }
    tr_runtime *rt = bench_runtime("fanin");
    bench_done_init(&ctx.done);
    int rc = tr_spawn(rt, &fan_sink, &ctx, NULL, &ctx.sink);
    for (int64_t i = 0; i < producers && rc == 0; i++)
        rc = tr_spawn(rt, &fan_producer, &ctx, NULL, &prod[i]);
    int64_t t0 = bench_now_ns();
    for (int64_t i = 0; i < producers && rc == 0; i++)
        rc = tr_send(rt, prod[i], TAG_GO, NULL, 0);
    bool ok = rc == 0 && bench_done_wait(&ctx.done);
    double ms = (bench_now_ns() - t0) / 1e6;
    if (rc != 0)
        bench_err("fanin", "setup", rc);
    int64_t want = producers * (ctx.per * (ctx.per - 1) / 2);
    ok = ok && atomic_load(&ctx.errors) == 0 && ctx.total == n && ctx.sum == want;
    char extra[32];
    snprintf(extra, sizeof extra, "producers=%lld", (long long)producers);
    bench_result("fanin", n, ms, (double)n, ok, extra);
    tr_runtime_free(&rt);
    free(prod);
}

/* ================================================================ call */

typedef struct call_ctx {
    bench_done done;
    tr_pid server;
    int64_t n;
    int64_t calls;
    int status;
    bool bad;
} call_ctx;

typedef struct call_state {
    call_ctx *ctx;
    int64_t value;
} call_state;

static int call_init(tr_self *self, void *state, const void *arg) {
    ((call_state *)state)->ctx = (call_ctx *)arg;
    return TR_CONTINUE;
}

static int server_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    call_state *s = state;
    if (m->tag != TAG_ADD) {
        tr_reply_error(from, TR_EINVAL, "unknown request");
        return TR_CONTINUE;
    }
    s->value++;
    tr_reply(from, TAG_VALUE, &s->value, sizeof s->value);
    return TR_CONTINUE;
}

/* The client: N sequential requests, each sent when the previous reply
 * arrived; checks reply i is i. */
static int client_info(tr_self *self, void *state, const tr_msg *m) {
    call_state *s = state; /* value = replies received */
    call_ctx *c = s->ctx;
    if (m->kind == TR_MSG_REPLY) {
        if (m->status != 0) {
            c->status = m->status;
            bench_done_post(&c->done);
            return TR_CONTINUE;
        }
        if (get_i64(m) != ++s->value)
            c->bad = true;
        if (s->value == c->n) {
            c->calls = s->value;
            bench_done_post(&c->done);
            return TR_CONTINUE;
        }
    } else if (m->tag != TAG_GO) {
        return TR_CONTINUE;
    }
    int rc = tr_request(self, c->server, TAG_ADD, NULL, 0, TR_INFINITY, NULL);
    if (rc != 0) {
        c->status = rc;
        bench_done_post(&c->done);
    }
    return TR_CONTINUE;
}

static const tr_behaviour server_b = {.name = "server",
                                      .state_size = sizeof(call_state),
                                      .init = call_init,
                                      .handle_call = server_call};
static const tr_behaviour client_b = {.name = "client",
                                      .state_size = sizeof(call_state),
                                      .init = call_init,
                                      .handle_info = client_info};

void wl_call(double scale) {
    int64_t n = bench_scaled(1000000, scale);
    tr_runtime *rt = bench_runtime("call");
    call_ctx ctx = {.n = n};
    bench_done_init(&ctx.done);
    tr_pid client;
    int rc = tr_spawn(rt, &server_b, &ctx, NULL, &ctx.server);
    if (rc == 0)
        rc = tr_spawn(rt, &client_b, &ctx, NULL, &client);
    int64_t t0 = bench_now_ns();
    if (rc == 0)
        rc = tr_send(rt, client, TAG_GO, NULL, 0);
    bool ok = rc == 0 && bench_done_wait(&ctx.done);
    double ms = (bench_now_ns() - t0) / 1e6;
    if (rc != 0 || ctx.status != 0)
        bench_err("call", "request", rc ? rc : ctx.status);
    ok = ok && ctx.status == 0 && !ctx.bad && ctx.calls == n;
    bench_result("call", n, ms, (double)n, ok, "client=actor");
    tr_runtime_free(&rt);
}

/* The same server, called from the main thread with the blocking tr_call. */
void wl_call_thread(double scale) {
    int64_t n = bench_scaled(1000000, scale);
    tr_runtime *rt = bench_runtime("call_thread");
    call_ctx ctx = {.n = n};
    int rc = tr_spawn(rt, &server_b, &ctx, NULL, &ctx.server);
    bool ok = rc == 0;
    int64_t i = 0;
    int64_t t0 = bench_now_ns();
    for (; ok && i < n; i++) {
        tr_buf reply;
        rc = tr_call(rt, ctx.server, TAG_ADD, NULL, 0, &reply, TR_DEFAULT_TIMEOUT);
        if (rc != 0) {
            ok = false;
            break;
        }
        int64_t v = -1;
        if (reply.size == sizeof v)
            memcpy(&v, reply.data, sizeof v);
        if (v != i + 1)
            ok = false;
        tr_buf_free(&reply);
    }
    double ms = (bench_now_ns() - t0) / 1e6;
    if (rc != 0)
        bench_err("call_thread", "tr_call", rc);
    bench_result("call_thread", n, ms, (double)i, ok && i == n, "client=thread");
    tr_runtime_free(&rt);
}

/* call_thread_4: the same server called by 4 plain threads at once, n/4
 * calls each; each thread checks that its replies (the server's counter)
 * grow, and the last reply seen overall is n. */
#define CALL_CLIENTS 4

typedef struct call4_client {
    tr_runtime *rt;
    tr_pid server;
    int64_t n;
    int64_t done, last;
    int rc;
    bool bad;
    pthread_t th;
} call4_client;

static void *call4_main(void *arg) {
    call4_client *c = arg;
    for (; c->done < c->n; c->done++) {
        tr_buf reply;
        c->rc = tr_call(c->rt, c->server, TAG_ADD, NULL, 0, &reply, TR_DEFAULT_TIMEOUT);
        if (c->rc != 0)
            break;
        int64_t v = -1;
        if (reply.size == sizeof v)
            memcpy(&v, reply.data, sizeof v);
        if (v <= c->last)
            c->bad = true;
        c->last = v;
        tr_buf_free(&reply);
    }
    return NULL;
}

void wl_call_thread_4(double scale) {
    int64_t per = bench_scaled(1000000, scale) / CALL_CLIENTS;
    if (per < 1)
        per = 1;
    int64_t n = per * CALL_CLIENTS;
    tr_runtime *rt = bench_runtime("call_thread_4");
    call_ctx ctx = {.n = n};
    int rc = tr_spawn(rt, &server_b, &ctx, NULL, &ctx.server);
    bool ok = rc == 0;
    call4_client cl[CALL_CLIENTS];
    int started = 0;
    int64_t t0 = bench_now_ns();
    for (int i = 0; ok && i < CALL_CLIENTS; i++) {
        cl[i] = (call4_client){.rt = rt, .server = ctx.server, .n = per};
        if (pthread_create(&cl[i].th, NULL, call4_main, &cl[i]) != 0)
            ok = false;
        else
            started++;
    }
    int64_t calls = 0, top = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(cl[i].th, NULL);
        calls += cl[i].done;
        if (cl[i].rc != 0) {
            bench_err("call_thread_4", "tr_call", cl[i].rc);
            ok = false;
        }
        if (cl[i].bad)
            ok = false;
        if (cl[i].last > top)
            top = cl[i].last;
    }
    double ms = (bench_now_ns() - t0) / 1e6;
    if (rc != 0)
        bench_err("call_thread_4", "tr_spawn", rc);
    bench_result("call_thread_4", n, ms, (double)calls, ok && calls == n && top == n,
                 "clients=4 client=thread");
    tr_runtime_free(&rt);
}

/* ================================================================ ring */

#define RING_SIZE 1000

typedef struct ring_ctx {
    bench_done ready, done;
    atomic_int n_ready;
    int64_t counts[RING_SIZE];
    int final_idx;
    atomic_int errors;
} ring_ctx;

typedef struct ring_arg {
    ring_ctx *ctx;
    int idx;
} ring_arg;

typedef struct ring_state {
    ring_arg a;
    tr_pid next;
} ring_state;

static int ring_init(tr_self *self, void *state, const void *arg) {
    ((ring_state *)state)->a = *(const ring_arg *)arg;
    return TR_CONTINUE;
}

static int ring_info(tr_self *self, void *state, const tr_msg *m) {
    ring_state *s = state;
    ring_ctx *c = s->a.ctx;
    if (m->tag == TAG_TOKEN) {
        int64_t t = get_i64(m);
        if (t == 0) {
            c->final_idx = s->a.idx;
            bench_done_post(&c->done);
            return TR_CONTINUE;
        }
        c->counts[s->a.idx]++;
        t--;
        if (tr_send(tr_self_runtime(self), s->next, TAG_TOKEN, &t, sizeof t) != 0) {
            atomic_fetch_add(&c->errors, 1);
            bench_done_post(&c->done);
        }
    } else if (m->tag == TAG_NEXT && m->size == sizeof(tr_pid)) {
        memcpy(&s->next, m->data, sizeof s->next);
        if (atomic_fetch_add(&c->n_ready, 1) + 1 == RING_SIZE)
            bench_done_post(&c->ready);
    }
    return TR_CONTINUE;
}

static const tr_behaviour ring_node = {
    .name = "ring", .state_size = sizeof(ring_state), .init = ring_init, .handle_info = ring_info};

void wl_ring(double scale) {
    int64_t n = bench_scaled(10000000, scale);
    tr_runtime *rt = bench_runtime("ring");
    ring_ctx *ctx = calloc(1, sizeof *ctx);
    bench_done_init(&ctx->ready);
    bench_done_init(&ctx->done);
    ctx->final_idx = -1;
    static tr_pid nodes[RING_SIZE];
    int rc = 0;
    for (int i = 0; i < RING_SIZE && rc == 0; i++) {
        ring_arg a = {ctx, i};
        rc = tr_spawn(rt, &ring_node, &a, NULL, &nodes[i]);
    }
    for (int i = 0; i < RING_SIZE && rc == 0; i++)
        rc = tr_send(rt, nodes[i], TAG_NEXT, &nodes[(i + 1) % RING_SIZE], sizeof(tr_pid));
    bool ok = rc == 0 && bench_done_wait(&ctx->ready);
    int64_t t0 = bench_now_ns();
    if (ok)
        rc = tr_send(rt, nodes[0], TAG_TOKEN, &n, sizeof n);
    ok = ok && rc == 0 && bench_done_wait(&ctx->done);
    double ms = (bench_now_ns() - t0) / 1e6;
    if (rc != 0)
        bench_err("ring", "setup", rc);
    int64_t hops = 0;
    for (int i = 0; i < RING_SIZE; i++)
        hops += ctx->counts[i];
    ok = ok && atomic_load(&ctx->errors) == 0 && hops == n && ctx->final_idx == n % RING_SIZE;
    bench_result("ring", n, ms, (double)n, ok, "actors=1000");
    tr_runtime_free(&rt);
    free(ctx);
}
