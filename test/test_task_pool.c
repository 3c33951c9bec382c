/* Task pool and futures (include/troupe/task_pool.h): submit/await, map
 * order, errors and crashes failing only their own future, timeouts,
 * awaiting from an actor, drain/pending_count, stop, and nothing lost
 * when the runtime stops under the pool. */
#define _GNU_SOURCE /* pthread_timedjoin_np */
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
#include <time.h>

#include <troupe/troupe.h>
#include <troupe/task_pool.h>

#include "actor/internal.h" /* tr__self_parent: the manager's pid */

/* ------------------------------------------------------------------------ */
/* Task functions                                                            */
/* ------------------------------------------------------------------------ */

static int square_task(tr_task *t, const void *arg, size_t size) {
    int x;
    assert_int_equal(size, sizeof x);
    memcpy(&x, arg, sizeof x);
    long long y = (long long)x * x;
    return tr_task_set_result(t, &y, sizeof y);
}

static int error_task(tr_task *t, const void *arg, size_t size) {
    return tr_task_error(t, 42, "bad input");
}

static int bare_error_task(tr_task *t, const void *arg, size_t size) {
    int code;
    memcpy(&code, arg, sizeof code);
    return code;
}

static int crash_task(tr_task *t, const void *arg, size_t size) {
    tr_task_set_result(t, "never", 5); /* released by the crash path */
    tr_task_fail(t, TR_EINVAL, "kaboom");
}

static int raw_fail_task(tr_task *t, const void *arg, size_t size) {
    tr_fail(tr_task_self(t), tr_reason_error(-77, "raw tr_fail"));
}

/* A gate: the task spins (CPU work, not a blocking call) until the test
 * opens the gate, or 5 s pass. Keeps a worker busy deterministically. */
static int gate_open;
static int gate_task(tr_task *t, const void *arg, size_t size) {
    int64_t end = tr_now_ms() + 5000;
    while (!__atomic_load_n(&gate_open, __ATOMIC_ACQUIRE) && tr_now_ms() < end)
        ;
    return 0;
}

/* ------------------------------------------------------------------------ */

typedef struct fixture {
    tr_runtime *rt;
    tr_task_pool *pool;
} fixture;

static int setup_n(void **state, unsigned workers) {
    fixture *fx = calloc(1, sizeof *fx);
    fx->rt = tu_rt_start(2);
    tr_task_pool_opts po = {.workers = workers};
    assert_int_equal(tr_task_pool_start(fx->rt, &po, &fx->pool), 0);
    __atomic_store_n(&gate_open, 0, __ATOMIC_RELEASE);
    *state = fx;
    return 0;
}
static int setup(void **state) {
    return setup_n(state, 3);
}
static int setup1(void **state) {
    return setup_n(state, 1);
}

static int teardown(void **state) {
    fixture *fx = *state;
    __atomic_store_n(&gate_open, 1, __ATOMIC_RELEASE);
    if (fx->pool)
        assert_int_equal(tr_task_pool_free(fx->pool), 0);
    tu_rt_stop(&fx->rt);
    free(fx);
    return 0;
}

static tr_future *submit_int(tr_task_pool *p, tr_task_fn fn, int x) {
    tr_future *f = NULL;
    assert_int_equal(tr_task_submit(p, fn, &x, sizeof x, &f), 0);
    assert_non_null(f);
    return f;
}

static long long await_ll(tr_future *f) {
    tr_buf b;
    assert_int_equal(tr_future_await(f, 10000, &b), 0);
    assert_int_equal(b.size, sizeof(long long));
    long long v;
    memcpy(&v, b.data, sizeof v);
    tr_buf_free(&b);
    return v;
}

/* ------------------------------------------------------------------------ */

static void test_submit_await(void **state) {
    fixture *fx = *state;
    tr_future *f = submit_int(fx->pool, square_task, 12);
    assert_int_equal(await_ll(f), 144);
    /* A completed future can be awaited again and reports its status. */
    assert_int_equal(await_ll(f), 144);
    assert_int_equal(tr_future_status(f), 0);
    assert_true(tr_future_id(f) != 0);
    tr_future_free(f);
    assert_int_equal(tr_task_pool_workers(fx->pool), 3);
}

static void test_map_keeps_input_order(void **state) {
    fixture *fx = *state;
    enum { N = 64 };
    int in[N];
    for (int i = 0; i < N; i++)
        in[i] = i - 10;
    tr_buf out[N];
    int codes[N];
    assert_int_equal(
        tr_task_pool_map(fx->pool, square_task, in, sizeof in[0], N, out, codes, 10000), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(codes[i], 0);
        long long v;
        assert_int_equal(out[i].size, sizeof v);
        memcpy(&v, out[i].data, sizeof v);
        assert_int_equal(v, (long long)in[i] * in[i]);
        tr_buf_free(&out[i]);
    }
    assert_int_equal(tr_task_pool_map(fx->pool, square_task, NULL, 0, 0, NULL, NULL, 1000), 0);
}

static void test_error_fails_only_its_future(void **state) {
    fixture *fx = *state;
    tr_future *a = submit_int(fx->pool, square_task, 3);
    tr_future *e = submit_int(fx->pool, error_task, 0);
    tr_future *b = submit_int(fx->pool, square_task, 4);
    tr_buf txt;
    /* The closed error space: the task's own code comes beside
     * TR_EREMOTE, never as the return value. */
    assert_int_equal(tr_future_await(e, 10000, &txt), TR_EREMOTE);
    assert_int_equal(txt.code, 42);
    assert_string_equal((const char *)txt.data, "bad input");
    tr_buf_free(&txt);
    assert_int_equal(await_ll(a), 9);
    assert_int_equal(await_ll(b), 16);
    tr_future_free(a);
    tr_future_free(b);
    tr_future_free(e);

    /* Error codes without text: TR_E* codes get their text, others a
     * generic one. */
    tr_future *c = submit_int(fx->pool, bare_error_task, TR_ETOOBIG);
    assert_int_equal(tr_future_await(c, 10000, &txt), TR_EREMOTE);
    assert_int_equal(txt.code, TR_ETOOBIG);
    assert_string_equal((const char *)txt.data, tr_strerror(TR_ETOOBIG));
    tr_buf_free(&txt);
    tr_future_free(c);
    c = submit_int(fx->pool, bare_error_task, 7);
    assert_int_equal(tr_future_await(c, 10000, &txt), TR_EREMOTE);
    assert_int_equal(txt.code, 7);
    assert_string_equal((const char *)txt.data, "task failed");
    tr_buf_free(&txt);
    tr_future_free(c);
    /* 1 is TR_FUTURE_PENDING: a task returning it still completes. */
    c = submit_int(fx->pool, bare_error_task, 1);
    assert_int_equal(tr_future_await(c, 10000, &txt), TR_EREMOTE);
    assert_int_equal(txt.code, 1);
    tr_buf_free(&txt);
    assert_int_equal(tr_future_status(c), TR_EREMOTE);
    tr_future_free(c);

    /* map reports the first failure in input order and fills the rest. */
    int codes_in[4] = {0, 5, 6, 0};
    int codes[4];
    tr_buf out[4];
    assert_int_equal(
        tr_task_pool_map(fx->pool, bare_error_task, codes_in, sizeof(int), 4, out, codes, 10000),
        TR_EREMOTE);
    assert_int_equal(codes[0], 0);
    assert_int_equal(codes[1], TR_EREMOTE);
    assert_int_equal(out[1].code, 5);
    assert_int_equal(codes[2], TR_EREMOTE);
    assert_int_equal(out[2].code, 6);
    assert_int_equal(codes[3], 0);
    for (int i = 0; i < 4; i++)
        tr_buf_free(&out[i]);
}

static void test_crash_fails_only_its_future(void **state) {
    fixture *fx = *state;
    tr_future *before = submit_int(fx->pool, square_task, 5);
    tr_future *crash = submit_int(fx->pool, crash_task, 0);
    tr_future *raw = submit_int(fx->pool, raw_fail_task, 0);
    tr_buf txt;
    assert_int_equal(tr_future_await(crash, 10000, &txt), TR_ECRASHED);
    assert_string_equal((const char *)txt.data, "kaboom");
    tr_buf_free(&txt);
    assert_int_equal(tr_future_await(raw, 10000, &txt), TR_ECRASHED);
    assert_string_equal((const char *)txt.data, "raw tr_fail");
    tr_buf_free(&txt);
    assert_int_equal(await_ll(before), 25);
    tr_future_free(before);
    tr_future_free(crash);
    tr_future_free(raw);

    /* The pool keeps its workers and keeps working, crash after crash. */
    for (int round = 0; round < 5; round++) {
        tr_future *c = submit_int(fx->pool, crash_task, 0);
        tr_future *ok[6];
        for (int i = 0; i < 6; i++)
            ok[i] = submit_int(fx->pool, square_task, i + round);
        assert_int_equal(tr_future_await(c, 10000, NULL), TR_ECRASHED);
        for (int i = 0; i < 6; i++) {
            assert_int_equal(await_ll(ok[i]), (long long)(i + round) * (i + round));
            tr_future_free(ok[i]);
        }
        tr_future_free(c);
    }
    assert_int_equal(tr_task_pool_drain(fx->pool, 10000), 0);
    assert_int_equal(tr_task_pool_pending_count(fx->pool), 0);
}

static void test_await_timeout_then_result(void **state) {
    fixture *fx = *state; /* one worker */
    tr_future *g = submit_int(fx->pool, gate_task, 0);
    tr_future *f = submit_int(fx->pool, square_task, 9);
    tr_buf b;
    assert_int_equal(tr_future_await(f, 20, &b), TR_ETIMEDOUT);
    assert_null(b.data);
    assert_int_equal(tr_future_status(f), TR_FUTURE_PENDING);
    assert_int_equal(tr_task_pool_drain(fx->pool, 20), TR_ETIMEDOUT);
    assert_true(tr_task_pool_pending_count(fx->pool) >= 2);
    __atomic_store_n(&gate_open, 1, __ATOMIC_RELEASE);
    assert_int_equal(await_ll(f), 81);
    assert_int_equal(tr_future_await(g, 10000, NULL), 0);
    tr_future_free(g);
    tr_future_free(f);
}

static void test_drain_and_pending_count(void **state) {
    fixture *fx = *state; /* one worker */
    tr_future *g = submit_int(fx->pool, gate_task, 0);
    tr_future_free(g); /* fire and forget: it still runs */
    for (int i = 0; i < 50; i++)
        tr_future_free(submit_int(fx->pool, square_task, i));
    assert_int_equal(tr_task_pool_pending_count(fx->pool), 51);
    __atomic_store_n(&gate_open, 1, __ATOMIC_RELEASE);
    assert_int_equal(tr_task_pool_drain(fx->pool, 10000), 0);
    assert_int_equal(tr_task_pool_pending_count(fx->pool), 0);
    assert_int_equal(tr_task_pool_drain(fx->pool, 10), 0); /* nothing pending: at once */
}

static void test_max_pending(void **state) {
    fixture *fx = *state;
    tr_task_pool *p;
    tr_task_pool_opts o = {.workers = 1, .max_pending = 2};
    assert_int_equal(tr_task_pool_start(fx->rt, &o, &p), 0);
    tr_future *g = submit_int(p, gate_task, 0);
    tr_future *a = submit_int(p, square_task, 2);
    tr_future *c = NULL;
    int x = 1;
    assert_int_equal(tr_task_submit(p, square_task, &x, sizeof x, &c), TR_EFULL);
    assert_null(c);
    __atomic_store_n(&gate_open, 1, __ATOMIC_RELEASE);
    assert_int_equal(await_ll(a), 4);
    tr_future_free(a);
    tr_future_free(g);
    assert_int_equal(tr_task_pool_free(p), 0);
}

static void test_stop_drains_twice_is_harmless(void **state) {
    fixture *fx = *state;
    enum { N = 40 };
    tr_future *fs[N];
    for (int i = 0; i < N; i++)
        fs[i] = submit_int(fx->pool, square_task, i);
    assert_int_equal(tr_task_pool_stop(fx->pool, 10000), 0);
    for (int i = 0; i < N; i++) { /* every accepted task ran */
        assert_int_equal(tr_future_status(fs[i]), 0);
        assert_int_equal(await_ll(fs[i]), (long long)i * i);
        tr_future_free(fs[i]);
    }
    assert_int_equal(tr_task_pool_stop(fx->pool, 10000), 0);
    tr_future *f = NULL;
    int x = 1;
    assert_int_equal(tr_task_submit(fx->pool, square_task, &x, sizeof x, &f), TR_ECLOSED);
    assert_null(f);
    assert_int_equal(tr_task_pool_pending_count(fx->pool), 0);
}

static void test_bad_arguments(void **state) {
    fixture *fx = *state;
    tr_task_pool *p = NULL;
    tr_task_pool_opts big = {.workers = TR_TASK_POOL_MAX_WORKERS + 1};
    assert_int_equal(tr_task_pool_start(NULL, NULL, &p), TR_EINVAL);
    assert_int_equal(tr_task_pool_start(fx->rt, NULL, NULL), TR_EINVAL);
    assert_int_equal(tr_task_pool_start(fx->rt, &big, &p), TR_EINVAL);
    assert_null(p);
    tr_future *f = NULL;
    assert_int_equal(tr_task_submit(NULL, square_task, NULL, 0, &f), TR_EINVAL);
    assert_int_equal(tr_task_submit(fx->pool, NULL, NULL, 0, &f), TR_EINVAL);
    assert_int_equal(tr_task_submit(fx->pool, square_task, NULL, 4, &f), TR_EINVAL);
    assert_int_equal(tr_task_submit(fx->pool, square_task, NULL, 0, NULL), TR_EINVAL);
    assert_null(f);
    tr_buf b;
    assert_int_equal(tr_future_await(NULL, 100, &b), TR_EINVAL);
    f = submit_int(fx->pool, square_task, 1);
    assert_int_equal(tr_future_await(f, 0, &b), TR_EINVAL);
    assert_int_equal(tr_future_await(f, -5, &b), TR_EINVAL);
    assert_int_equal(tr_future_notify(f, TR_PID_NONE, 1), TR_EINVAL);
    assert_int_equal(tr_future_notify(NULL, TR_PID_NONE, 1), TR_EINVAL);
    assert_int_equal(tr_future_status(NULL), TR_EINVAL);
    assert_int_equal(await_ll(f), 1);
    tr_future_free(f);
    tr_future_free(NULL);
    assert_int_equal(tr_task_pool_drain(NULL, 100), TR_EINVAL);
    assert_int_equal(tr_task_pool_drain(fx->pool, 0), TR_EINVAL);
    assert_int_equal(tr_task_pool_stop(NULL, 100), TR_EINVAL);
    assert_int_equal(tr_task_pool_map(fx->pool, NULL, NULL, 0, 0, NULL, NULL, 100), TR_EINVAL);
    assert_int_equal(tr_task_pool_pending_count(NULL), 0);
    assert_int_equal(tr_task_pool_free(NULL), 0);
    assert_int_equal(tr_task_error(NULL, 0, NULL), TR_EREMOTE);
    assert_int_equal(tr_task_set_result(NULL, NULL, 0), TR_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* Awaiting from an actor                                                    */
/* ------------------------------------------------------------------------ */

enum { GO = 1, RESULT = 2, RESULT_AGAIN = 3 };

typedef struct probe {
    tr_task_pool *pool;
    int notify_rc, busy_rc, deadlk_await, deadlk_drain, deadlk_stop, deadlk_map;
    int status, status_crash;
    long long value;
    char crash_text[64];
    int replies, submit_rc;
    uint64_t id_expected, id_seen;
} probe;

typedef struct actor_state {
    probe *p;
    tr_future *ok, *bad;
} actor_state;

static int actor_init(tr_self *self, void *state, const void *arg) {
    ((actor_state *)state)->p = *(probe *const *)arg;
    return TR_CONTINUE;
}

static int actor_info(tr_self *self, void *state, const tr_msg *msg) {
    actor_state *st = state;
    probe *p = st->p;
    if (msg->kind == TR_MSG_INFO && msg->tag == GO) {
        int x = 7;
        /* No cmocka asserts here: this runs on a scheduler thread. */
        p->submit_rc = tr_task_submit(p->pool, square_task, &x, sizeof x, &st->ok);
        p->submit_rc |= tr_task_submit(p->pool, crash_task, &x, sizeof x, &st->bad);
        if (p->submit_rc != 0)
            return tr_stop(self, tr_reason_normal());
        p->id_expected = tr_future_id(st->ok);
        /* Blocking forms are refused on a scheduler thread. */
        p->deadlk_await = tr_future_await(st->ok, 100, NULL);
        p->deadlk_drain = tr_task_pool_drain(p->pool, 100);
        p->deadlk_stop = tr_task_pool_stop(p->pool, 100);
        p->deadlk_map = tr_task_pool_map(p->pool, square_task, &x, sizeof x, 1, NULL, NULL, 100);
        p->notify_rc = tr_future_notify(st->ok, tr_self_pid(self), RESULT);
        p->busy_rc = tr_future_notify(st->ok, tr_self_pid(self), RESULT);
        tr_future_notify(st->bad, tr_self_pid(self), RESULT);
        return TR_CONTINUE;
    }
    const tr_future_reply *r = tr_future_reply_of(msg);
    if (!r)
        return TR_CONTINUE;
    if (r->future == st->ok) {
        p->id_seen = r->id;
        p->status = r->status;
        if (r->size == sizeof p->value)
            memcpy(&p->value, r->data, sizeof p->value);
    } else if (r->future == st->bad) {
        p->status_crash = r->status;
        snprintf(p->crash_text, sizeof p->crash_text, "%.*s", (int)r->size, (const char *)r->data);
    }
    if (__atomic_load_n(&p->replies, __ATOMIC_RELAXED) == 1) { /* this is the second */
        tr_future_free(st->ok);
        tr_future_free(st->bad);
        st->ok = st->bad = NULL;
    }
    __atomic_add_fetch(&p->replies, 1, __ATOMIC_RELEASE);
    return TR_CONTINUE;
}

static void actor_terminate(tr_self *self, void *state, tr_reason reason) {
    actor_state *st = state;
    tr_future_free(st->ok);
    tr_future_free(st->bad);
}

static const tr_behaviour actor_b = {
    .name = "awaiter",
    .state_size = sizeof(actor_state),
    .init = actor_init,
    .handle_info = actor_info,
    .terminate = actor_terminate,
};

static void test_await_from_actor(void **state) {
    fixture *fx = *state;
    probe p = {.pool = fx->pool};
    probe *pp = &p;
    tr_pid a;
    assert_int_equal(tr_spawn(fx->rt, &actor_b, &pp, NULL, &a), 0);
    assert_int_equal(tr_send(fx->rt, a, GO, NULL, 0), 0);
    /* Wait (from this plain thread) until the pool has nothing pending and
     * the actor has had both replies. */
    int64_t end = tr_now_ms() + 10000;
    while (__atomic_load_n(&p.replies, __ATOMIC_ACQUIRE) < 2 && tr_now_ms() < end)
        tr_task_pool_drain(fx->pool, 100);
    assert_int_equal(tr_exit(fx->rt, a, tr_reason_shutdown()), 0);
    assert_int_equal(tr_await_exit(fx->rt, a, 10000, NULL), 0);
    assert_int_equal(p.submit_rc, 0);
    assert_int_equal(p.deadlk_await, TR_EDEADLK);
    assert_int_equal(p.deadlk_drain, TR_EDEADLK);
    assert_int_equal(p.deadlk_stop, TR_EDEADLK);
    assert_int_equal(p.deadlk_map, TR_EDEADLK);
    assert_int_equal(p.notify_rc, 0);
    assert_int_equal(p.busy_rc, TR_EBUSY);
    assert_int_equal(p.replies, 2);
    assert_int_equal(p.status, 0);
    assert_int_equal(p.value, 49);
    assert_int_equal(p.id_seen, p.id_expected);
    assert_int_equal(p.status_crash, TR_ECRASHED);
    assert_string_equal(p.crash_text, "kaboom");
    /* The pool was not shut down by the refused call. */
    tr_future *f = submit_int(fx->pool, square_task, 2);
    assert_int_equal(await_ll(f), 4);
    tr_future_free(f);
}

/* Notify registered after completion: the message is sent at once. */
typedef struct late_state {
    int *got;
} late_state;
static int late_init(tr_self *self, void *state, const void *arg) {
    ((late_state *)state)->got = *(int *const *)arg;
    return TR_CONTINUE;
}
static int late_info(tr_self *self, void *state, const tr_msg *msg) {
    const tr_future_reply *r = tr_future_reply_of(msg);
    if (r && msg->tag == RESULT_AGAIN && r->status == 0)
        __atomic_store_n(((late_state *)state)->got, 1, __ATOMIC_RELEASE);
    return tr_stop(self, tr_reason_normal());
}
static const tr_behaviour late_b = {
    .name = "late", .state_size = sizeof(late_state), .init = late_init, .handle_info = late_info};

static void test_notify_after_completion(void **state) {
    fixture *fx = *state;
    tr_future *f = submit_int(fx->pool, square_task, 3);
    assert_int_equal(await_ll(f), 9);
    int got = 0, *gp = &got;
    tr_pid a;
    assert_int_equal(tr_spawn(fx->rt, &late_b, &gp, NULL, &a), 0);
    assert_int_equal(tr_future_notify(f, a, RESULT_AGAIN), 0);
    assert_int_equal(tr_await_exit(fx->rt, a, 10000, NULL), 0);
    assert_int_equal(__atomic_load_n(&got, __ATOMIC_ACQUIRE), 1);
    tr_future_free(f);
}

/* ------------------------------------------------------------------------ */
/* The runtime stops under the pool: every future still completes.           */
/* ------------------------------------------------------------------------ */

static void test_runtime_stop_completes_every_future(void **state) {
    fixture *fx = *state; /* one worker */
    enum { N = 20 };
    tr_future *fs[N];
    fs[0] = submit_int(fx->pool, gate_task, 0);
    for (int i = 1; i < N; i++)
        fs[i] = submit_int(fx->pool, square_task, i);
    __atomic_store_n(&gate_open, 1, __ATOMIC_RELEASE);
    assert_int_equal(tr_runtime_stop(fx->rt), 0);
    for (int i = 0; i < N; i++) {
        int st = tr_future_await(fs[i], 10000, NULL);
        assert_true(st == 0 || st == TR_ECLOSED);
        tr_future_free(fs[i]);
    }
    assert_int_equal(tr_task_pool_pending_count(fx->pool), 0);
    tr_future *f = NULL;
    int x = 1;
    assert_int_equal(tr_task_submit(fx->pool, square_task, &x, sizeof x, &f), TR_ECLOSED);
    assert_int_equal(tr_task_pool_stop(fx->pool, 10000), 0);
    assert_int_equal(tr_task_pool_free(fx->pool), 0);
    fx->pool = NULL;
}

/* A task that tells the test its manager's pid (the worker's parent), then
 * waits at the gate. */
static uint64_t manager_seen;
static int parent_task(tr_task *t, const void *arg, size_t size) {
    __atomic_store_n(&manager_seen, tr__self_parent(tr_task_self(t)).id, __ATOMIC_RELEASE);
    return gate_task(t, arg, size);
}

static void *free_pool_thread(void *arg) {
    static int rc;
    rc = tr_task_pool_free((tr_task_pool *)arg);
    return &rc;
}

/* The manager killed (terminate does not run): the queued tasks fail with
 * TR_ECLOSED, the running one completes, tr_task_pool_free returns, and
 * nothing leaks (ASan). */
static void test_killed_manager_releases_everything(void **state) {
    fixture *fx = *state; /* one worker */
    enum { N = 8 };
    tr_future *fs[N];
    __atomic_store_n(&manager_seen, 0, __ATOMIC_RELEASE);
    fs[0] = submit_int(fx->pool, parent_task, 0);
    for (int i = 1; i < N; i++)
        fs[i] = submit_int(fx->pool, square_task, i);
    int64_t end = tr_now_ms() + 10000;
    while (!__atomic_load_n(&manager_seen, __ATOMIC_ACQUIRE) && tr_now_ms() < end)
        ;
    tr_pid mgr = {__atomic_load_n(&manager_seen, __ATOMIC_ACQUIRE)};
    assert_false(tr_pid_is_none(mgr));
    assert_int_equal(tr_exit(fx->rt, mgr, tr_reason_kill()), 0);
    for (int i = 1; i < N; i++)
        assert_int_equal(tr_future_await(fs[i], 10000, NULL), TR_ECLOSED);
    __atomic_store_n(&gate_open, 1, __ATOMIC_RELEASE);
    int st = tr_future_await(fs[0], 10000, NULL);
    assert_true(st == 0 || st == TR_ECRASHED);
    for (int i = 0; i < N; i++)
        tr_future_free(fs[i]);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, free_pool_thread, fx->pool), 0);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    void *ret = NULL;
    int jr = pthread_timedjoin_np(th, &ret, &dl);
    fx->pool = NULL; /* freed (or stuck in the thread): not again in teardown */
    if (jr != 0)
        fail_msg("tr_task_pool_free did not return within 10 s of the manager's kill");
    assert_int_equal(*(int *)ret, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_submit_await, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_keeps_input_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_fails_only_its_future, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_fails_only_its_future, setup, teardown),
        cmocka_unit_test_setup_teardown(test_await_timeout_then_result, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_drain_and_pending_count, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_max_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_drains_twice_is_harmless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_await_from_actor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_after_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runtime_stop_completes_every_future, setup1, teardown),
        cmocka_unit_test_setup_teardown(test_killed_manager_releases_everything, setup1, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
