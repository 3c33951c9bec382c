/* task_pool — futures on a pool of worker actors (troupe/task_pool.h).
 *
 * Shows, in order:
 *   1. submit + await: one task, its result awaited from main;
 *   2. map: fib(20..25) in parallel, results in input order;
 *   3. errors: one of five tasks fails with an error code and text, the
 *      other four succeed; then a task that crashes its worker fails only
 *      its own future (TR_ECRASHED) and the pool keeps working;
 *   4. await from an actor: the result arrives as a message;
 *   5. drain: many tasks submitted, pending_count, then drain to 0;
 *   6. stop (twice: the second call is harmless).
 *
 * Usage: task_pool [--help]   (any other argument: exit 2)
 *
 * Task functions run on scheduler threads: they compute and return, and
 * never block (no sleep(), no blocking I/O, no awaiting other futures).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <troupe/troupe.h>
#include <troupe/task_pool.h>

/* ------------------------------------------------------------------------ */
/* Task functions                                                            */
/* ------------------------------------------------------------------------ */

static uint64_t fib(int n) {
    return n < 2 ? (uint64_t)n : fib(n - 1) + fib(n - 2);
}

/* arg: an int n; result: fib(n) as uint64_t. */
static int fib_task(tr_task *t, const void *arg, size_t size) {
    int n;
    if (size != sizeof n)
        return tr_task_error(t, TR_EINVAL, "fib_task wants an int");
    memcpy(&n, arg, sizeof n);
    if (n < 0 || n > 60)
        return tr_task_error(t, EDOM, "fib: n out of range");
    uint64_t v = fib(n);
    return tr_task_set_result(t, &v, sizeof v);
}

/* arg: two ints {a, b}; result: a / b, or an error for b == 0. */
static int divide_task(tr_task *t, const void *arg, size_t size) {
    int ab[2];
    memcpy(ab, arg, sizeof ab);
    if (ab[1] == 0)
        return tr_task_error(t, EDOM, "division by zero");
    int q = ab[0] / ab[1];
    return tr_task_set_result(t, &q, sizeof q);
}

/* Crashes the worker that runs it: the "crash path" of a task. */
static int crashing_task(tr_task *t, const void *arg, size_t size) {
    tr_task_fail(t, TR_EINVAL, "simulated crash in a task");
}

/* ------------------------------------------------------------------------ */
/* An actor that awaits a future by message                                  */
/* ------------------------------------------------------------------------ */

enum { GO = 1, FIB_DONE = 2 };

typedef struct awaiter_state {
    tr_task_pool *pool;
} awaiter_state;

static int awaiter_init(tr_self *self, void *state, const void *arg) {
    ((awaiter_state *)state)->pool = *(tr_task_pool *const *)arg;
    return TR_CONTINUE;
}

static int awaiter_info(tr_self *self, void *state, const tr_msg *msg) {
    awaiter_state *st = state;
    if (msg->kind == TR_MSG_INFO && msg->tag == GO) {
        int n = 22;
        tr_future *f;
        int rc = tr_task_submit(st->pool, fib_task, &n, sizeof n, &f);
        if (rc == 0)
            rc = tr_future_notify(f, tr_self_pid(self), FIB_DONE);
        if (rc != 0) {
            printf("actor await: submit failed: %s\n", tr_strerror(rc));
            return tr_stop(self, tr_reason_normal());
        }
        return TR_CONTINUE; /* the actor keeps running other messages */
    }
    const tr_future_reply *r = tr_future_reply_of(msg);
    if (r && msg->tag == FIB_DONE) {
        uint64_t v = 0;
        if (r->status == 0 && r->size == sizeof v)
            memcpy(&v, r->data, sizeof v);
        printf("actor await: fib(22) = %" PRIu64 " (status %d, delivered as a message)\n", v,
               r->status);
        tr_future_free(r->future);
        return tr_stop(self, tr_reason_normal());
    }
    return TR_CONTINUE;
}

static const tr_behaviour awaiter_behaviour = {
    .name = "awaiter",
    .state_size = sizeof(awaiter_state),
    .init = awaiter_init,
    .handle_info = awaiter_info,
};

/* ------------------------------------------------------------------------ */

static const char *name(int rc) {
    return rc == 0 ? "ok" : tr_err_name(rc);
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "task_pool: %s: %s (%s)\n", what, tr_strerror(rc), tr_err_name(rc));
    return 1;
}

static void usage(FILE *to) {
    fprintf(to, "usage: task_pool [--help]\n"
                "  futures on a pool of 4 worker actors: submit and await, map, errors and a\n"
                "  crashing task, await from an actor, drain, stop.\n");
}

int main(int argc, char **argv) {
    if (argc > 1) {
        bool help = argc == 2 && strcmp(argv[1], "--help") == 0;
        if (!help)
            fprintf(stderr, "task_pool: unknown argument \"%s\"\n", argv[1]);
        usage(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    tr_runtime *rt;
    int rc = tr_runtime_start(NULL, &rt);
    if (rc != 0)
        return fail("runtime start", rc);
    tr_task_pool *pool;
    tr_task_pool_opts opts = {.workers = 4};
    if ((rc = tr_task_pool_start(rt, &opts, &pool)) != 0) {
        tr_runtime_free(&rt);
        return fail("task pool start", rc);
    }
    printf("task pool: %u workers\n", tr_task_pool_workers(pool));

    /* 1. submit + await */
    int n = 30;
    tr_future *f;
    tr_buf res;
    if ((rc = tr_task_submit(pool, fib_task, &n, sizeof n, &f)) != 0)
        return fail("submit", rc);
    rc = tr_future_await(f, TR_DEFAULT_TIMEOUT, &res);
    if (rc != 0)
        return fail("await fib(30)", rc);
    uint64_t v;
    memcpy(&v, res.data, sizeof v);
    printf("submit/await: fib(30) = %" PRIu64 "\n", v);
    tr_buf_free(&res);
    tr_future_free(f);

    /* 2. map over fib(20..25), results in input order */
    int ns[6] = {20, 21, 22, 23, 24, 25};
    tr_buf results[6];
    int codes[6];
    rc = tr_task_pool_map(pool, fib_task, ns, sizeof ns[0], 6, results, codes, TR_DEFAULT_TIMEOUT);
    if (rc != 0)
        return fail("map", rc);
    printf("map fib(20..25):");
    for (int i = 0; i < 6; i++) {
        memcpy(&v, results[i].data, sizeof v);
        printf(" %" PRIu64, v);
        tr_buf_free(&results[i]);
    }
    printf("\n");

    /* 3a. one task of five returns an error; the others succeed */
    int pairs[5][2] = {{100, 1}, {100, 2}, {100, 0}, {100, 4}, {100, 5}};
    tr_future *fs[5];
    for (int i = 0; i < 5; i++)
        if ((rc = tr_task_submit(pool, divide_task, pairs[i], sizeof pairs[i], &fs[i])) != 0)
            return fail("submit divide", rc);
    int ok = 0;
    for (int i = 0; i < 5; i++) {
        rc = tr_future_await(fs[i], TR_DEFAULT_TIMEOUT, &res);
        if (rc == 0) {
            int q;
            memcpy(&q, res.data, sizeof q);
            printf("  %d / %d = %d\n", pairs[i][0], pairs[i][1], q);
            ok++;
        } else if (rc == TR_EREMOTE) { /* the task's own error: its code beside it */
            printf("  %d / %d failed: error %d: %s\n", pairs[i][0], pairs[i][1], res.code,
                   res.data ? (char *)res.data : "");
        } else {
            printf("  %d / %d failed: %s\n", pairs[i][0], pairs[i][1], tr_err_name(rc));
        }
        tr_buf_free(&res);
        tr_future_free(fs[i]);
    }
    printf("errors: %d of 5 tasks succeeded, 1 failed with its own error\n", ok);

    /* 3b. a task that crashes its worker fails only its own future */
    if ((rc = tr_task_submit(pool, crashing_task, NULL, 0, &f)) != 0)
        return fail("submit crash", rc);
    rc = tr_future_await(f, TR_DEFAULT_TIMEOUT, &res);
    printf("crash: await returned %s: %s\n", name(rc), res.data ? (char *)res.data : "");
    tr_buf_free(&res);
    tr_future_free(f);
    n = 10;
    if ((rc = tr_task_submit(pool, fib_task, &n, sizeof n, &f)) != 0)
        return fail("submit after crash", rc);
    rc = tr_future_await(f, TR_DEFAULT_TIMEOUT, &res);
    if (rc != 0)
        return fail("await after crash", rc);
    memcpy(&v, res.data, sizeof v);
    printf("crash: the pool still works: fib(10) = %" PRIu64 "\n", v);
    tr_buf_free(&res);
    tr_future_free(f);

    /* 4. await from an actor: the result arrives as a message */
    tr_pid awaiter;
    if ((rc = tr_spawn(rt, &awaiter_behaviour, &pool, NULL, &awaiter)) != 0)
        return fail("spawn awaiter", rc);
    tr_send(rt, awaiter, GO, NULL, 0);
    tr_await_exit(rt, awaiter, TR_DEFAULT_TIMEOUT, NULL);

    /* 5. drain: submit many, look at pending_count, wait for all */
    enum { MANY = 200 };
    n = 18;
    for (int i = 0; i < MANY; i++) {
        if ((rc = tr_task_submit(pool, fib_task, &n, sizeof n, &f)) != 0)
            return fail("submit many", rc);
        tr_future_free(f); /* fire and forget: the task still runs */
    }
    size_t before = tr_task_pool_pending_count(pool);
    rc = tr_task_pool_drain(pool, 30000);
    printf("drain: %d tasks submitted, %s pending right after, drain %s, %zu pending now\n", MANY,
           before > 0 ? "some" : "none", rc == 0 ? "ok" : tr_err_name(rc),
           tr_task_pool_pending_count(pool));

    /* 6. stop: drains, then stops; the second call is harmless */
    rc = tr_task_pool_stop(pool, 30000);
    int rc2 = tr_task_pool_stop(pool, 30000);
    printf("stop: %s, again: %s\n", name(rc), name(rc2));
    rc = tr_task_submit(pool, fib_task, &n, sizeof n, &f);
    printf("submit after stop: %s\n", name(rc));
    tr_task_pool_free(pool);
    tr_runtime_free(&rt);
    return 0;
}
