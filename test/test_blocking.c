/* The blocking pool (include/troupe/blocking.h): results come back, many
 * callers at once, a slow job does not hold the others, the pool grows to
 * its maximum and no further, idle threads exit, TR_EDEADLK where blocking
 * is refused, TR_ECLOSED once the runtime stops (queued jobs too), and the
 * cancel hook a killed fiber's exit calls (task/blocking.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include <pthread.h>

#include <troupe/troupe.h>

#include "base/atomic.h"
#include "task/blocking.h"

#define WAIT_MS 20000 /* generous: a loaded 2-core machine under a sanitizer */

static tr_runtime *start_pool(unsigned max) {
    tr_runtime_opts o = {0};
    o.threads = 2;
    o.blocking_threads = max;
    tr_runtime *rt = NULL;
    assert_int_equal(tr_runtime_start(&o, &rt), TR_OK);
    return rt;
}

static tr_blocking_stats stats(tr_runtime *rt) {
    tr_blocking_stats s;
    assert_int_equal(tr_blocking_get_stats(rt, &s), TR_OK);
    return s;
}

/* Waits (looking every millisecond, up to WAIT_MS) until the pool's stats
 * satisfy ok; returns whether they did. */
static bool wait_stats(tr_runtime *rt, bool (*ok)(const tr_blocking_stats *, uint64_t),
                       uint64_t n) {
    int64_t end = tu_now_ms() + WAIT_MS;
    for (;;) {
        tr_blocking_stats s = stats(rt);
        if (ok(&s, n))
            return true;
        if (tu_now_ms() > end)
            return false;
        tu_sleep_ms(1);
    }
}
static bool queued_is(const tr_blocking_stats *s, uint64_t n) {
    return s->queued == n;
}
static bool run_is(const tr_blocking_stats *s, uint64_t n) {
    return s->jobs_run == n;
}
static bool threads_is(const tr_blocking_stats *s, uint64_t n) {
    return s->threads == n;
}

/* ---- blocking functions ------------------------------------------------ */

static int add_one(void *arg) {
    return *(int *)arg + 1;
}

static tu_gate gate; /* held jobs wait here until the test opens it */

static int held(void *arg) {
    tu_gate_pass(&gate, WAIT_MS);
    return (int)(intptr_t)arg;
}

static int ran_count;
static int count_run(void *arg) {
    (void)arg;
    tr__faa_acqrel_u32((uint32_t *)&ran_count, 1);
    return 7;
}

/* ---- a caller on its own thread ----------------------------------------- */

typedef struct caller {
    pthread_t tid;
    tr_runtime *rt;
    tr_blocking_fn fn;
    void *arg;
    int rc, result;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} caller;

static void *caller_main(void *arg) {
    caller *c = (caller *)arg;
    int result = -1;
    int rc = tr_blocking(c->rt, c->fn, c->arg, &result);
    pthread_mutex_lock(&c->mu);
    c->rc = rc;
    c->result = result;
    c->done = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static void caller_start(caller *c, tr_runtime *rt, tr_blocking_fn fn, void *arg) {
    memset(c, 0, sizeof *c);
    c->rt = rt;
    c->fn = fn;
    c->arg = arg;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    assert_int_equal(pthread_create(&c->tid, NULL, caller_main, c), 0);
}

/* Waits up to timeout_ms for c's tr_blocking to return; whether it did. */
static bool caller_wait(caller *c, int64_t timeout_ms) {
    int64_t end = tu_now_ms() + timeout_ms;
    pthread_mutex_lock(&c->mu);
    while (!c->done && tu_now_ms() < end) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    bool done = c->done;
    pthread_mutex_unlock(&c->mu);
    return done;
}

static void caller_join(caller *c) {
    assert_true(caller_wait(c, WAIT_MS));
    pthread_join(c->tid, NULL);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

static int gate_setup(void **st) {
    (void)st;
    tu_gate_init(&gate);
    ran_count = 0;
    return 0;
}
static int gate_teardown(void **st) {
    (void)st;
    tu_gate_destroy(&gate);
    return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_result_comes_back(void **st) {
    (void)st;
    tr_runtime *rt = start_pool(0);
    int x = 41, r = 0;
    assert_int_equal(tr_blocking(rt, add_one, &x, &r), TR_OK);
    assert_int_equal(r, 42);
    assert_int_equal(tr_blocking(rt, add_one, &x, NULL), TR_OK); /* result not wanted */
    tr_blocking_stats s = stats(rt);
    assert_int_equal(s.jobs_run, 2);
    assert_int_equal(s.threads_max, 16); /* the default */
    assert_int_equal(s.queued, 0);
    r = 5;
    assert_int_equal(tr_blocking(NULL, add_one, &x, &r), TR_EINVAL);
    assert_int_equal(tr_blocking(rt, NULL, &x, &r), TR_EINVAL);
    assert_int_equal(r, 5);
    assert_int_equal(tr_blocking_get_stats(rt, NULL), TR_EINVAL);
    assert_int_equal(tr_blocking_get_stats(NULL, &s), TR_EINVAL);
    tu_rt_stop(&rt);
}

static void test_option_validated(void **st) {
    (void)st;
    tr_runtime_opts o = {0};
    o.blocking_threads = 1025;
    tr_runtime *rt = NULL;
    assert_int_equal(tr_runtime_start(&o, &rt), TR_EINVAL);
    assert_null(rt);
    o.blocking_threads = 1024;
    assert_int_equal(tr_runtime_start(&o, &rt), TR_OK);
    assert_int_equal(stats(rt).threads_max, 1024);
    tu_rt_stop(&rt);
}

/* 8 plain threads, 100 calls in all at once, each result checked. */
enum { N_THREADS = 8, N_CALLS = 100 };

static int times_three(void *arg) {
    return (int)(intptr_t)arg * 3;
}

typedef struct many_arg {
    tr_runtime *rt;
    int first, n, wrong, failed;
} many_arg;

static void *many_main(void *arg) {
    many_arg *a = (many_arg *)arg;
    for (int i = a->first; i < a->first + a->n; i++) {
        int r = -1;
        if (tr_blocking(a->rt, times_three, (void *)(intptr_t)i, &r) != TR_OK)
            a->failed++;
        else if (r != i * 3)
            a->wrong++;
    }
    return NULL;
}

static void test_many_callers(void **st) {
    (void)st;
    tr_runtime *rt = start_pool(4);
    pthread_t t[N_THREADS];
    many_arg a[N_THREADS];
    int first = 0;
    for (int i = 0; i < N_THREADS; i++) {
        int n = N_CALLS / N_THREADS + (i < N_CALLS % N_THREADS);
        a[i] = (many_arg){.rt = rt, .first = first, .n = n};
        first += n;
        assert_int_equal(pthread_create(&t[i], NULL, many_main, &a[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].failed, 0);
        assert_int_equal(a[i].wrong, 0);
    }
    tr_blocking_stats s = stats(rt);
    assert_int_equal(s.jobs_run, N_CALLS);
    assert_true(s.threads_peak >= 1 && s.threads_peak <= 4);
    tu_rt_stop(&rt);
}

/* A job held on a gate does not stop another from running on another
 * pool thread. */
static void test_slow_job_does_not_hold_others(void **st) {
    (void)st;
    tr_runtime *rt = start_pool(4);
    caller slow, quick;
    caller_start(&slow, rt, held, (void *)(intptr_t)9);
    assert_true(tu_gate_wait_entered(&gate, 1, WAIT_MS));
    int x = 1;
    caller_start(&quick, rt, add_one, &x);
    assert_true(caller_wait(&quick, WAIT_MS)); /* while the slow one still holds */
    assert_int_equal(quick.rc, TR_OK);
    assert_int_equal(quick.result, 2);
    assert_false(slow.done);
    tu_gate_open(&gate);
    caller_join(&slow);
    caller_join(&quick);
    assert_int_equal(slow.rc, TR_OK);
    assert_int_equal(slow.result, 9);
    tu_rt_stop(&rt);
}

/* With every thread held, the pool has grown to its maximum (3) and no
 * further: the other jobs queue, and run once threads are free. */
static void test_grows_to_max(void **st) {
    (void)st;
    tr_runtime *rt = start_pool(3);
    caller c[5];
    for (int i = 0; i < 5; i++)
        caller_start(&c[i], rt, held, (void *)(intptr_t)(100 + i));
    assert_true(tu_gate_wait_entered(&gate, 3, WAIT_MS));
    assert_true(wait_stats(rt, queued_is, 2));
    tr_blocking_stats s = stats(rt);
    assert_int_equal(s.threads, 3);
    assert_int_equal(s.threads_peak, 3);
    assert_int_equal(s.jobs_run, 0);
    tu_gate_open(&gate);
    for (int i = 0; i < 5; i++) {
        caller_join(&c[i]);
        assert_int_equal(c[i].rc, TR_OK);
        assert_int_equal(c[i].result, 100 + i);
    }
    s = stats(rt);
    assert_int_equal(s.jobs_run, 5);
    assert_int_equal(s.threads_peak, 3);
    assert_int_equal(s.queued, 0);
    tu_rt_stop(&rt);
}

/* Threads idle for idle_ms exit; the next job starts one again. */
static void test_idle_threads_exit(void **st) {
    (void)st;
    tr_runtime *rt = start_pool(4);
    tr__blocking_set_idle_ms(rt, 50);
    caller c[3];
    for (int i = 0; i < 3; i++)
        caller_start(&c[i], rt, held, (void *)(intptr_t)i);
    assert_true(tu_gate_wait_entered(&gate, 3, WAIT_MS));
    assert_int_equal(stats(rt).threads, 3);
    tu_gate_open(&gate);
    for (int i = 0; i < 3; i++)
        caller_join(&c[i]);
    assert_true(wait_stats(rt, threads_is, 0));
    int x = 1, r = 0;
    assert_int_equal(tr_blocking(rt, add_one, &x, &r), TR_OK);
    assert_int_equal(r, 2);
    assert_int_equal(stats(rt).threads_peak, 3);
    tu_rt_stop(&rt);
}

/* Refused where the caller would hold the thread it means to free: inside
 * an actor's callback (init on the spawning thread, handle_cast on a
 * scheduler thread) and from a fn on a pool thread. */
static tr_runtime *deadlk_rt;
static int deadlk_rc[2] = {1, 1};
static tu_gate deadlk_done;

static int deadlk_init(tr_self *self, void *state, const void *arg) {
    (void)self, (void)state, (void)arg;
    int x = 0;
    deadlk_rc[0] = tr_blocking(deadlk_rt, add_one, &x, NULL);
    return 0;
}
static int deadlk_cast(tr_self *self, void *state, const tr_msg *msg) {
    (void)self, (void)state, (void)msg;
    int x = 0;
    deadlk_rc[1] = tr_blocking(deadlk_rt, add_one, &x, NULL);
    tu_gate_pass(&deadlk_done, 0); /* announce */
    return 0;
}
static const tr_behaviour deadlk_behaviour = {
    .name = "deadlk", .init = deadlk_init, .handle_cast = deadlk_cast};

static int nested(void *arg) {
    int x = 0;
    return tr_blocking((tr_runtime *)arg, add_one, &x, NULL);
}

static void test_edeadlk(void **st) {
    (void)st;
    tr_runtime *rt = deadlk_rt = start_pool(2);
    tu_gate_init(&deadlk_done);
    tr_pid pid;
    assert_int_equal(tr_spawn(rt, &deadlk_behaviour, NULL, NULL, &pid), TR_OK);
    assert_int_equal(deadlk_rc[0], TR_EDEADLK);
    assert_int_equal(tr_cast(rt, pid, 1, NULL, 0), TR_OK);
    assert_true(tu_gate_wait_entered(&deadlk_done, 1, WAIT_MS));
    assert_int_equal(deadlk_rc[1], TR_EDEADLK);
    int r = 0;
    assert_int_equal(tr_blocking(rt, nested, rt, &r), TR_OK);
    assert_int_equal(r, TR_EDEADLK);
    assert_int_equal(stats(rt).jobs_run, 1); /* the refused calls ran nothing */
    tu_rt_stop(&rt);
    tu_gate_destroy(&deadlk_done);
}

static void test_eclosed_after_stop(void **st) {
    (void)st;
    tr_runtime *rt = start_pool(2);
    assert_int_equal(tr_runtime_stop(rt), TR_OK);
    int x = 1, r = 5;
    assert_int_equal(tr_blocking(rt, add_one, &x, &r), TR_ECLOSED);
    assert_int_equal(r, 5);
    assert_int_equal(stats(rt).jobs_run, 0);
    tu_rt_stop(&rt);
}

/* Jobs queued when tr_runtime_stop begins never run: TR_ECLOSED; the one
 * running finishes with its result. */
static void test_stop_answers_queued(void **st) {
    (void)st;
    tr_runtime *rt = start_pool(1);
    caller running, queued[2];
    caller_start(&running, rt, held, (void *)(intptr_t)3);
    assert_true(tu_gate_wait_entered(&gate, 1, WAIT_MS));
    for (int i = 0; i < 2; i++)
        caller_start(&queued[i], rt, count_run, NULL);
    assert_true(wait_stats(rt, queued_is, 2));
    assert_int_equal(tr_runtime_stop(rt), TR_OK);
    tu_gate_open(&gate);
    caller_join(&running);
    assert_int_equal(running.rc, TR_OK);
    assert_int_equal(running.result, 3);
    for (int i = 0; i < 2; i++) {
        caller_join(&queued[i]);
        assert_int_equal(queued[i].rc, TR_ECLOSED);
    }
    assert_int_equal(ran_count, 0);
    tu_rt_stop(&rt);
}

/* tr_runtime_free with jobs queued behind a held one answers them
 * TR_ECLOSED at once, and waits for the held one. */
static void *free_main(void *arg) {
    tr_runtime **rtp = (tr_runtime **)arg;
    assert_int_equal(tr_runtime_free(rtp), TR_OK);
    return NULL;
}

static void test_free_answers_queued(void **st) {
    (void)st;
    tr_runtime *rt = start_pool(1);
    caller running, queued[2];
    caller_start(&running, rt, held, (void *)(intptr_t)4);
    assert_true(tu_gate_wait_entered(&gate, 1, WAIT_MS));
    for (int i = 0; i < 2; i++)
        caller_start(&queued[i], rt, count_run, NULL);
    assert_true(wait_stats(rt, queued_is, 2));
    pthread_t freer;
    assert_int_equal(pthread_create(&freer, NULL, free_main, &rt), 0);
    for (int i = 0; i < 2; i++) { /* answered while the held job still runs */
        assert_true(caller_wait(&queued[i], WAIT_MS));
        assert_int_equal(queued[i].rc, TR_ECLOSED);
    }
    assert_false(running.done);
    tu_gate_open(&gate);
    pthread_join(freer, NULL);
    assert_null(rt);
    caller_join(&running);
    assert_int_equal(running.rc, TR_OK);
    assert_int_equal(running.result, 4);
    for (int i = 0; i < 2; i++)
        caller_join(&queued[i]);
    assert_int_equal(ran_count, 0);
}

/* ---- cancellation: the hook a killed fiber's exit calls -------------------- */

static uint32_t unblocks;
static int fake_block(tr__parker *p, int64_t deadline) {
    (void)p, (void)deadline;
    fail_msg("a fake parker never blocks");
    return 0;
}
static void fake_unblock(tr__parker *p) {
    (void)p;
    tr__faa_acqrel_u32(&unblocks, 1);
}
static const tr__parker_ops fake_ops = {fake_block, fake_unblock};

/* A queued job cancelled is dropped: its fn never runs, nobody is woken. */
static void test_cancel_queued(void **st) {
    (void)st;
    unblocks = 0;
    tr_runtime *rt = start_pool(1);
    caller running;
    caller_start(&running, rt, held, (void *)(intptr_t)1);
    assert_true(tu_gate_wait_entered(&gate, 1, WAIT_MS));
    tr__parker fake;
    tr__parker_init_ops(&fake, &fake_ops);
    tr__bjob *job;
    assert_int_equal(tr__blocking_submit(rt, count_run, NULL, &fake, &job), TR_OK);
    assert_ptr_equal(fake.cancel, tr__blocking_cancel);
    assert_ptr_equal(fake.cancel_arg, job);
    assert_int_equal(stats(rt).queued, 1);
    fake.cancel(fake.cancel_arg); /* the fiber is killed */
    assert_int_equal(stats(rt).queued, 0);
    tu_gate_open(&gate);
    caller_join(&running);
    assert_true(wait_stats(rt, run_is, 1));
    assert_int_equal(ran_count, 0);
    assert_int_equal(tr__load_acq_u32(&unblocks), 0);
    tu_rt_stop(&rt); /* would wait forever for a waiter the cancel forgot */
}

/* A running job cancelled is abandoned: fn runs to its end, its pool
 * thread frees the job (ASan) and wakes nobody. A job cancelled after it
 * is done is freed by the cancel. */
static void test_cancel_running(void **st) {
    (void)st;
    unblocks = 0;
    tr_runtime *rt = start_pool(2);
    tr__parker fake;
    tr__parker_init_ops(&fake, &fake_ops);
    tr__bjob *job;
    assert_int_equal(tr__blocking_submit(rt, held, NULL, &fake, &job), TR_OK);
    assert_true(tu_gate_wait_entered(&gate, 1, WAIT_MS));
    fake.cancel(fake.cancel_arg);
    tu_gate_open(&gate);
    assert_true(wait_stats(rt, run_is, 1));
    assert_int_equal(tr__load_acq_u32(&unblocks), 0);

    tr__parker done;
    tr__parker_init_ops(&done, &fake_ops);
    assert_int_equal(tr__blocking_submit(rt, count_run, NULL, &done, &job), TR_OK);
    assert_true(wait_stats(rt, run_is, 2));
    assert_int_equal(tr__load_acq_u32(&unblocks), 1); /* woken, never looked */
    done.cancel(done.cancel_arg);
    assert_int_equal(ran_count, 1);
    tu_rt_stop(&rt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_result_comes_back),
        cmocka_unit_test(test_option_validated),
        cmocka_unit_test(test_many_callers),
        cmocka_unit_test_setup_teardown(test_slow_job_does_not_hold_others, gate_setup,
                                        gate_teardown),
        cmocka_unit_test_setup_teardown(test_grows_to_max, gate_setup, gate_teardown),
        cmocka_unit_test_setup_teardown(test_idle_threads_exit, gate_setup, gate_teardown),
        cmocka_unit_test(test_edeadlk),
        cmocka_unit_test(test_eclosed_after_stop),
        cmocka_unit_test_setup_teardown(test_stop_answers_queued, gate_setup, gate_teardown),
        cmocka_unit_test_setup_teardown(test_free_answers_queued, gate_setup, gate_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_queued, gate_setup, gate_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_running, gate_setup, gate_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
