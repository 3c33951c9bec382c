/* troupe benchmarks — fibers and channels (bench/WORKLOADS.md):
 * fiber_switch, chan_pingpong, chan_throughput, select_fanin, fiber_spawn.
 *
 * Every workload spawns its fibers from main, and the last fiber to finish
 * posts a bench_done that main waits for; ms is main's wall time from the
 * first spawn to that post. Values on the channels are int64_t; each
 * workload checks the sum (or count) of what was received. */
#include "bench.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A runtime with `threads` scheduler threads (0: one per CPU, or
 * BENCH_THREADS); exits with a FAIL line if it cannot start. */
static tr_runtime *fiber_runtime(const char *workload, unsigned threads) {
    if (threads == 0)
        return bench_runtime(workload);
    tr_runtime *rt = NULL;
    tr_runtime_opts o = {0};
    o.threads = threads;
    int rc = tr_runtime_start(&o, &rt);
    if (rc != 0) {
        bench_err(workload, "tr_runtime_start", rc);
        bench_result(workload, 0, 0, 0, false, "error=runtime_start");
        exit(1);
    }
    return rt;
}

/* Shared state of one run: the fibers still running and the completion. */
typedef struct run {
    bench_done done;
    atomic_long left; /* fibers still running; the last one posts done */
    atomic_int errors;
} run;

static void run_init(run *r, long fibers) {
    bench_done_init(&r->done);
    atomic_init(&r->left, fibers);
    atomic_init(&r->errors, 0);
}

static void run_fiber_done(run *r) {
    if (atomic_fetch_sub(&r->left, 1) == 1)
        bench_done_post(&r->done);
}

static void run_error(run *r, const char *workload, const char *what, int rc) {
    if (atomic_fetch_add(&r->errors, 1) == 0)
        bench_err(workload, what, rc);
}

/* Spawns fn(arg) with default options; counts a failure as an error and
 * as a finished fiber (so that main does not wait for it). */
static void spawn_or_count(tr_runtime *rt, tr_fiber_fn fn, void *arg, run *r, const char *wl) {
    int rc = tr_spawn_fiber(rt, fn, arg, NULL, NULL);
    if (rc != 0) {
        run_error(r, wl, "tr_spawn_fiber", rc);
        run_fiber_done(r);
    }
}

static tr_chan *chan_or_die(const char *wl, size_t cap) {
    tr_chan *ch = NULL;
    int rc = tr_chan_new(sizeof(int64_t), cap, &ch);
    if (rc != 0) {
        bench_err(wl, "tr_chan_new", rc);
        bench_result(wl, 0, 0, 0, false, "error=chan_new");
        exit(1);
    }
    return ch;
}

/* ------------------------------------------------------------ fiber_switch */

/* Two fibers on a runtime with one scheduler thread, each calling tr_yield
 * N/2 times: every yield switches to the other fiber. */
static struct {
    run r;
    int64_t per_fiber;
} sw;

static int switch_body(tr_self *self, void *arg) {
    (void)arg;
    for (int64_t i = 0; i < sw.per_fiber; i++) {
        int rc = tr_yield(self);
        if (rc != 0) {
            run_error(&sw.r, "fiber_switch", "tr_yield", rc);
            break;
        }
    }
    run_fiber_done(&sw.r);
    return 0;
}

void wl_fiber_switch(double scale) {
    int64_t n = bench_scaled(10000000, scale);
    sw.per_fiber = (n + 1) / 2;
    n = sw.per_fiber * 2;
    tr_runtime *rt = fiber_runtime("fiber_switch", 1);
    run_init(&sw.r, 2);
    int64_t t0 = bench_now_ns();
    spawn_or_count(rt, switch_body, NULL, &sw.r, "fiber_switch");
    spawn_or_count(rt, switch_body, NULL, &sw.r, "fiber_switch");
    bool ok = bench_done_wait(&sw.r.done);
    double ms = (bench_now_ns() - t0) / 1e6;
    ok = ok && atomic_load(&sw.r.errors) == 0;
    char extra[64];
    snprintf(extra, sizeof extra, "ns_per_yield=%.1f", ms * 1e6 / (double)n);
    bench_result("fiber_switch", n, ms, (double)n, ok, extra);
    tr_runtime_free(&rt);
}

/* ----------------------------------------------------------- chan_pingpong */

/* Fiber A sends i on `ping` and waits for i + 1 on `pong`; fiber B answers
 * each value v with v + 1. Both channels unbuffered. */
static struct {
    run r;
    int64_t n;
    tr_chan *ping, *pong;
    int64_t sum;
} pp;

static int pp_a(tr_self *self, void *arg) {
    (void)self, (void)arg;
    int64_t sum = 0;
    for (int64_t i = 0; i < pp.n; i++) {
        int64_t v = i, w = 0;
        int rc = tr_chan_send(pp.ping, &v, TR_INFINITY);
        if (rc == 0)
            rc = tr_chan_recv(pp.pong, &w, TR_INFINITY);
        if (rc != 0) {
            run_error(&pp.r, "chan_pingpong", "send/recv", rc);
            tr_chan_close(pp.ping);
            break;
        }
        sum += w;
    }
    pp.sum = sum;
    run_fiber_done(&pp.r);
    return 0;
}

static int pp_b(tr_self *self, void *arg) {
    (void)self, (void)arg;
    for (int64_t i = 0; i < pp.n; i++) {
        int64_t v = 0;
        int rc = tr_chan_recv(pp.ping, &v, TR_INFINITY);
        if (rc == 0) {
            v += 1;
            rc = tr_chan_send(pp.pong, &v, TR_INFINITY);
        }
        if (rc != 0) {
            run_error(&pp.r, "chan_pingpong", "recv/send", rc);
            break;
        }
    }
    run_fiber_done(&pp.r);
    return 0;
}

void wl_chan_pingpong(double scale) {
    int64_t n = bench_scaled(1000000, scale);
    pp.n = n;
    tr_runtime *rt = fiber_runtime("chan_pingpong", 0);
    pp.ping = chan_or_die("chan_pingpong", 0);
    pp.pong = chan_or_die("chan_pingpong", 0);
    run_init(&pp.r, 2);
    int64_t t0 = bench_now_ns();
    spawn_or_count(rt, pp_a, NULL, &pp.r, "chan_pingpong");
    spawn_or_count(rt, pp_b, NULL, &pp.r, "chan_pingpong");
    bool ok = bench_done_wait(&pp.r.done);
    double ms = (bench_now_ns() - t0) / 1e6;
    /* sum of (i + 1) for i in 0..n-1 */
    ok = ok && atomic_load(&pp.r.errors) == 0 && pp.sum == n * (n + 1) / 2;
    bench_result("chan_pingpong", n, ms, (double)n, ok, NULL);
    tr_runtime_free(&rt);
    tr_chan_release(pp.ping);
    tr_chan_release(pp.pong);
}

/* --------------------------------------------------------- chan_throughput */

/* 4 producers send their share of 0..N-1 on one channel buffered 1,024;
 * the last producer to finish closes it; 4 consumers receive until closed
 * and add up what they got. */
enum { TP_PRODUCERS = 4, TP_CONSUMERS = 4, TP_CAP = 1024 };

static struct {
    run r;
    int64_t n;
    tr_chan *ch;
    atomic_int producers_left;
    atomic_llong sum, count;
} tp;

static int tp_producer(tr_self *self, void *arg) {
    (void)self;
    int64_t k = (int64_t)(intptr_t)arg;
    int64_t lo = tp.n * k / TP_PRODUCERS, hi = tp.n * (k + 1) / TP_PRODUCERS;
    for (int64_t v = lo; v < hi; v++) {
        int rc = tr_chan_send(tp.ch, &v, TR_INFINITY);
        if (rc != 0) {
            run_error(&tp.r, "chan_throughput", "tr_chan_send", rc);
            break;
        }
    }
    if (atomic_fetch_sub(&tp.producers_left, 1) == 1)
        tr_chan_close(tp.ch);
    run_fiber_done(&tp.r);
    return 0;
}

static int tp_consumer(tr_self *self, void *arg) {
    (void)self, (void)arg;
    int64_t sum = 0, count = 0, v;
    int rc;
    while ((rc = tr_chan_recv(tp.ch, &v, TR_INFINITY)) == 0) {
        sum += v;
        count++;
    }
    if (rc != TR_ECLOSED)
        run_error(&tp.r, "chan_throughput", "tr_chan_recv", rc);
    atomic_fetch_add(&tp.sum, sum);
    atomic_fetch_add(&tp.count, count);
    run_fiber_done(&tp.r);
    return 0;
}

void wl_chan_throughput(double scale) {
    int64_t n = bench_scaled(8000000, scale);
    tp.n = n;
    tr_runtime *rt = fiber_runtime("chan_throughput", 0);
    tp.ch = chan_or_die("chan_throughput", TP_CAP);
    run_init(&tp.r, TP_PRODUCERS + TP_CONSUMERS);
    atomic_init(&tp.producers_left, TP_PRODUCERS);
    atomic_init(&tp.sum, 0);
    atomic_init(&tp.count, 0);
    int64_t t0 = bench_now_ns();
    for (intptr_t k = 0; k < TP_CONSUMERS; k++)
        spawn_or_count(rt, tp_consumer, NULL, &tp.r, "chan_throughput");
    for (intptr_t k = 0; k < TP_PRODUCERS; k++)
        spawn_or_count(rt, tp_producer, (void *)k, &tp.r, "chan_throughput");
    bool ok = bench_done_wait(&tp.r.done);
    double ms = (bench_now_ns() - t0) / 1e6;
    ok = ok && atomic_load(&tp.r.errors) == 0 && atomic_load(&tp.count) == n &&
         atomic_load(&tp.sum) == n * (n - 1) / 2;
    bench_result("chan_throughput", n, ms, (double)n, ok, NULL);
    tr_runtime_free(&rt);
    tr_chan_release(tp.ch);
}

/* ------------------------------------------------------------ select_fanin */

/* 8 producers, each with its own channel buffered 1,024, send their share
 * of 0..N-1 and close it; one fiber selects over the 8 receive cases,
 * dropping a channel from the select (chan = NULL, Go's nil channel) when
 * it reports closed, until all 8 are closed. */
enum { SF_CHANNELS = 8, SF_CAP = 1024 };

static struct {
    run r;
    int64_t n;
    tr_chan *ch[SF_CHANNELS];
    int64_t sum, count;
} sf;

static int sf_producer(tr_self *self, void *arg) {
    (void)self;
    int64_t k = (int64_t)(intptr_t)arg;
    int64_t lo = sf.n * k / SF_CHANNELS, hi = sf.n * (k + 1) / SF_CHANNELS;
    for (int64_t v = lo; v < hi; v++) {
        int rc = tr_chan_send(sf.ch[k], &v, TR_INFINITY);
        if (rc != 0) {
            run_error(&sf.r, "select_fanin", "tr_chan_send", rc);
            break;
        }
    }
    tr_chan_close(sf.ch[k]);
    run_fiber_done(&sf.r);
    return 0;
}

static int sf_selector(tr_self *self, void *arg) {
    (void)self, (void)arg;
    int64_t v = 0, sum = 0, count = 0;
    tr_select_case cases[SF_CHANNELS];
    for (int k = 0; k < SF_CHANNELS; k++)
        cases[k] = (tr_select_case){.chan = sf.ch[k], .dir = TR_CHAN_RECV, .elem = &v};
    int open = SF_CHANNELS;
    while (open > 0) {
        int i = tr_select(cases, SF_CHANNELS, TR_INFINITY);
        if (i < 0) {
            run_error(&sf.r, "select_fanin", "tr_select", i);
            break;
        }
        if (cases[i].result == 0) {
            sum += v;
            count++;
        } else {
            cases[i].chan = NULL;
            open--;
        }
    }
    sf.sum = sum;
    sf.count = count;
    run_fiber_done(&sf.r);
    return 0;
}

void wl_select_fanin(double scale) {
    int64_t n = bench_scaled(4000000, scale);
    sf.n = n;
    tr_runtime *rt = fiber_runtime("select_fanin", 0);
    for (int k = 0; k < SF_CHANNELS; k++)
        sf.ch[k] = chan_or_die("select_fanin", SF_CAP);
    run_init(&sf.r, SF_CHANNELS + 1);
    int64_t t0 = bench_now_ns();
    spawn_or_count(rt, sf_selector, NULL, &sf.r, "select_fanin");
    for (intptr_t k = 0; k < SF_CHANNELS; k++)
        spawn_or_count(rt, sf_producer, (void *)k, &sf.r, "select_fanin");
    bool ok = bench_done_wait(&sf.r.done);
    double ms = (bench_now_ns() - t0) / 1e6;
    ok = ok && atomic_load(&sf.r.errors) == 0 && sf.count == n && sf.sum == n * (n - 1) / 2;
    bench_result("select_fanin", n, ms, (double)n, ok, NULL);
    tr_runtime_free(&rt);
    for (int k = 0; k < SF_CHANNELS; k++)
        tr_chan_release(sf.ch[k]);
}

/* ------------------------------------------------------------- fiber_spawn */

/* N fibers that each count themselves started and park in tr_receive for
 * a TAG_STOP; ms is the time until all N have started; RSS growth / N is
 * the memory of an idle fiber; then each gets TAG_STOP and the runtime's
 * process count returns to where it was (teardown_ms). */
static struct {
    bench_done started;
    atomic_long left;
    atomic_long stopped;
    atomic_int errors;
} fs;

static int fs_body(tr_self *self, void *arg) {
    (void)arg;
    if (atomic_fetch_sub(&fs.left, 1) == 1)
        bench_done_post(&fs.started);
    tr_msg *m = NULL;
    int rc = tr_receive_tag(self, TAG_STOP, TR_INFINITY, &m);
    if (rc != 0 && atomic_fetch_add(&fs.errors, 1) == 0)
        bench_err("fiber_spawn", "tr_receive_tag", rc);
    tr_msg_free(m);
    atomic_fetch_add(&fs.stopped, 1);
    return 0;
}

void wl_fiber_spawn(double scale) {
    int64_t n = bench_scaled(1000000, scale);
    tr_runtime *rt = fiber_runtime("fiber_spawn", 0);
    bench_done_init(&fs.started);
    atomic_init(&fs.left, (long)n);
    atomic_init(&fs.stopped, 0);
    atomic_init(&fs.errors, 0);
    /* The pid table is allocated and touched before the baseline, so the
     * growth counts only what each fiber costs. */
    tr_pid *pids = malloc((size_t)n * sizeof *pids);
    if (!pids) {
        bench_result("fiber_spawn", n, 0, 0, false, "error=oom");
        exit(1);
    }
    memset(pids, 0, (size_t)n * sizeof *pids);
    size_t base = tr_runtime_actor_count(rt);
    long before = bench_rss_bytes();

    int rc = 0;
    int64_t i = 0;
    int64_t t0 = bench_now_ns();
    for (; i < n; i++) {
        rc = tr_spawn_fiber(rt, fs_body, NULL, NULL, &pids[i]);
        if (rc != 0)
            break;
    }
    bool ok = rc == 0 && bench_done_wait(&fs.started);
    double ms = (bench_now_ns() - t0) / 1e6;
    long after = bench_rss_bytes();
    if (rc != 0)
        bench_err("fiber_spawn", "tr_spawn_fiber", rc);
    size_t live = tr_runtime_actor_count(rt) - base;

    int64_t t1 = bench_now_ns();
    int64_t sent = 0;
    for (int64_t k = 0; k < i; k++)
        if (tr_send(rt, pids[k], TAG_STOP, NULL, 0) == 0)
            sent++;
    ok = ok && sent == n;
    int64_t limit = bench_now_ns() + (int64_t)bench_timeout_s() * 1000000000;
    while (ok && tr_runtime_actor_count(rt) > base) {
        if (bench_now_ns() > limit) {
            ok = false;
            break;
        }
        nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    double teardown_ms = (bench_now_ns() - t1) / 1e6;

    long growth = after - before;
    ok = ok && before > 0 && after > 0 && live == (size_t)n && atomic_load(&fs.stopped) == n &&
         atomic_load(&fs.errors) == 0;
    char extra[160];
    snprintf(extra, sizeof extra,
             "bytes_per_fiber=%.0f teardown_ms=%.3f rss_growth_mb=%.1f live=%zu",
             (double)growth / (double)n, teardown_ms, growth / 1048576.0, live);
    bench_result("fiber_spawn", n, ms, (double)n, ok, extra);
    tr_runtime_free(&rt);
    free(pids);
}
