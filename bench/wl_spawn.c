/* troupe benchmarks — spawn_idle: N idle actors, their spawn time, their
 * resident memory and their teardown. */
#include "bench.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The idle actors carry no state of their own (state_size 0), so the count
 * of stopped actors lives here rather than in each actor. */
static struct {
    bench_done done;
    atomic_long stopped;
    long n;
} idle;

static int idle_info(tr_self *self, void *state, const tr_msg *m) {
    if (m->tag == TAG_STOP)
        return tr_stop(self, tr_reason_normal());
    return TR_CONTINUE;
}

static void idle_terminate(tr_self *self, void *state, tr_reason reason) {
    if (atomic_fetch_add(&idle.stopped, 1) + 1 == idle.n)
        bench_done_post(&idle.done);
}

static const tr_behaviour idle_b = {
    .name = "idle",
    .state_size = 0,
    .handle_info = idle_info,
    .terminate = idle_terminate,
};

void wl_spawn_idle(double scale) {
    /* N (environment) sets the number of actors, whatever the scale. */
    int64_t n = bench_env_param("N", bench_scaled(1000000, scale));
    tr_runtime *rt = bench_runtime("spawn_idle");
    idle.n = (long)n;
    bench_done_init(&idle.done);
    /* The spawner's table of pids is allocated and touched before the
     * baseline, so the growth counts only what each actor costs. */
    tr_pid *pids = malloc((size_t)n * sizeof *pids);
    if (!pids) {
        bench_result("spawn_idle", n, 0, 0, false, "error=oom");
        exit(1);
    }
    memset(pids, 0, (size_t)n * sizeof *pids);
    size_t base_actors = tr_runtime_actor_count(rt);
    long before = bench_rss_bytes();

    int rc = 0;
    int64_t i = 0;
    int64_t t0 = bench_now_ns();
    for (; i < n; i++) {
        rc = tr_spawn(rt, &idle_b, NULL, NULL, &pids[i]);
        if (rc != 0)
            break;
    }
    double ms = (bench_now_ns() - t0) / 1e6; /* every init has run: all wait */
    long after = bench_rss_bytes();
    bool ok = rc == 0;
    if (rc != 0)
        bench_err("spawn_idle", "tr_spawn", rc);
    size_t live = tr_runtime_actor_count(rt) - base_actors;

    int64_t t1 = bench_now_ns();
    int64_t sent = 0;
    for (int64_t k = 0; k < i; k++) {
        if (tr_send(rt, pids[k], TAG_STOP, NULL, 0) == 0)
            sent++;
    }
    ok = ok && sent == n && bench_done_wait(&idle.done);
    /* terminate ran for all; wait until the runtime has freed them too. */
    int64_t limit = bench_now_ns() + (int64_t)bench_timeout_s() * 1000000000;
    while (ok && tr_runtime_actor_count(rt) > base_actors) {
        if (bench_now_ns() > limit) {
            ok = false;
            break;
        }
        nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    double teardown_ms = (bench_now_ns() - t1) / 1e6;

    long growth = after - before;
    ok = ok && before > 0 && after > 0 && live == (size_t)n && atomic_load(&idle.stopped) == n;
    char extra[160];
    snprintf(extra, sizeof extra,
             "bytes_per_actor=%.0f teardown_ms=%.3f rss_growth_mb=%.1f live=%zu",
             (double)growth / (double)n, teardown_ms, growth / 1048576.0, live);
    bench_result("spawn_idle", n, ms, (double)n, ok, extra);
    tr_runtime_free(&rt);
    free(pids);
}
