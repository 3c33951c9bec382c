/* troupe benchmarks — tickers: 10,000 actors each with a periodic timer
 * (tr_send_interval, period 500..3000 ms) that wakes it; on every tick it
 * sends `tick` to a collector. Measures the CPU the runtime spends on an
 * idle-ish timer load and how many ticks arrive. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICKERS 10000

typedef struct tk_ctx {
    tr_pid collector;
} tk_ctx;

typedef struct tk_state {
    tk_ctx *ctx;
    int64_t count;
} tk_state;

static int tk_init(tr_self *self, void *state, const void *arg) {
    ((tk_state *)state)->ctx = (tk_ctx *)arg;
    return TR_CONTINUE;
}

static int ticker_info(tr_self *self, void *state, const tr_msg *m) {
    tk_state *s = state;
    if (m->kind == TR_MSG_TIMER && m->tag == TAG_TICK)
        tr_send(tr_self_runtime(self), s->ctx->collector, TAG_TICK, NULL, 0);
    return TR_CONTINUE;
}

static int collector_info(tr_self *self, void *state, const tr_msg *m) {
    if (m->tag == TAG_TICK)
        ((tk_state *)state)->count++;
    return TR_CONTINUE;
}

static int collector_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    tk_state *s = state;
    tr_reply(from, TAG_COUNT, &s->count, sizeof s->count);
    return TR_CONTINUE;
}

static const tr_behaviour ticker_b = {
    .name = "ticker", .state_size = sizeof(tk_state), .init = tk_init, .handle_info = ticker_info};
static const tr_behaviour collector_b = {.name = "collector",
                                         .state_size = sizeof(tk_state),
                                         .init = tk_init,
                                         .handle_info = collector_info,
                                         .handle_call = collector_call};

void wl_tickers(double scale) {
    double dur_s = 10.0 * scale;
    if (dur_s < 2.0)
        dur_s = 2.0;
    tr_runtime *rt = bench_runtime("tickers");
    static int64_t period[TICKERS], start[TICKERS];
    uint64_t seed = 42;
    for (int i = 0; i < TICKERS; i++) { /* fixed-seed LCG: 500..3000 ms */
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        period[i] = 500 + (int64_t)((seed >> 33) % 2501);
    }
    tk_ctx ctx;
    int rc = tr_spawn(rt, &collector_b, &ctx, NULL, &ctx.collector);
    for (int i = 0; i < TICKERS && rc == 0; i++) {
        tr_pid p;
        rc = tr_spawn(rt, &ticker_b, &ctx, NULL, &p);
        if (rc == 0) {
            start[i] = bench_now_ns();
            rc = tr_send_interval(rt, p, period[i], TAG_TICK, NULL, 0, NULL);
        }
    }
    if (rc != 0) {
        bench_err("tickers", "setup", rc);
        bench_result("tickers", TICKERS, 0, 0, false, "error=setup");
        tr_runtime_free(&rt);
        return;
    }
    int64_t cpu0 = bench_cpu_ns(), t0 = bench_now_ns();
    int64_t until = t0 + (int64_t)(dur_s * 1e9);
    for (int64_t now = t0; now < until; now = bench_now_ns()) {
        int64_t left = until - now;
        nanosleep(&(struct timespec){left / 1000000000, left % 1000000000}, NULL);
    }
    int64_t cpu1 = bench_cpu_ns(), t_end = bench_now_ns();
    tr_buf reply = {0};
    int64_t observed = -1;
    rc = tr_call(rt, ctx.collector, TAG_COUNT, NULL, 0, &reply, TR_DEFAULT_TIMEOUT);
    if (rc == 0 && reply.size == sizeof observed)
        memcpy(&observed, reply.data, sizeof observed);
    tr_buf_free(&reply);
    if (rc != 0)
        bench_err("tickers", "tr_call collector", rc);

    /* An interval timer first fires one period after it was set. */
    int64_t expected = 0;
    for (int i = 0; i < TICKERS; i++)
        expected += (t_end - start[i]) / (period[i] * 1000000);
    double wall_ms = (t_end - t0) / 1e6;
    double acc = expected > 0 ? (double)observed / (double)expected : 0;
    double cpu_pct = 100.0 * (double)(cpu1 - cpu0) / (double)(t_end - t0);
    bool ok = rc == 0 && expected > 0 && acc > 0.95 && acc < 1.05;
    char extra[160];
    snprintf(extra, sizeof extra, "cpu_pct=%.2f tick_accuracy=%.4f ticks=%lld expected_ticks=%lld",
             cpu_pct, acc, (long long)observed, (long long)expected);
    bench_result("tickers", TICKERS, wall_ms, (double)observed, ok, extra);
    tr_runtime_free(&rt);
}
