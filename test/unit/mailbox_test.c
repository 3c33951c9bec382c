/* Unit tests of the MPSC mailbox (mailbox/mailbox.[ch]), in the manner of
 * Concurrency Kit's regressions: the queue alone, no runtime.
 *
 * - The documented semantics, single-threaded: the empty bit (a push
 *   reports was_empty only when the consumer gave the token back, or after
 *   tr__mq_init without `held`), markempty refusing while a message waits,
 *   chains, depth.
 * - Linearizability and ordering under contention: N producers push
 *   numbered nodes (single pushes and chains), one consumer pops, and the
 *   token passes back and forth through was_empty/markempty as in the
 *   scheduler. Every node arrives exactly once, in each producer's order;
 *   the token is never held twice (a push reports was_empty only after the
 *   consumer's markempty succeeded); the depth never underflows, also as
 *   seen by an observer thread. */
#include "testutil.h"

#include <sched.h>
#include <semaphore.h>

#include "mailbox/mailbox.h"

typedef struct item {
    tr__mq_node node; /* first: a popped node is the item */
    uint32_t producer;
    uint32_t seq;
} item;

static item *pop_item(tr__mq_prod *p, tr__mq_cons *c) {
    return (item *)tr__mq_pop_mpsc(p, c);
}

/* ------------------------------------------------------------------------ */
/* Single-threaded semantics                                                 */
/* ------------------------------------------------------------------------ */

static void test_mq_empty_bit(void **state) {
    (void)state;
    tr__mq_prod p;
    tr__mq_cons c;
    item a = {.seq = 1}, b = {.seq = 2}, d = {.seq = 3};

    /* Not held: the queue starts marked empty; the first push takes the
     * token, later pushes do not. */
    tr__mq_init(&p, &c, false);
    assert_int_equal(tr__mq_depth(&p, &c), 0);
    assert_true(tr__mq_push_mpsc(&p, &a.node));
    assert_false(tr__mq_push_mpsc(&p, &b.node));
    assert_int_equal(tr__mq_depth(&p, &c), 2);
    /* A message waits: markempty keeps the token. */
    assert_false(tr__mq_markempty_mpsc(&p, &c));
    assert_ptr_equal(pop_item(&p, &c), &a);
    assert_int_equal(tr__mq_depth(&p, &c), 1);
    assert_false(tr__mq_markempty_mpsc(&p, &c));
    assert_ptr_equal(pop_item(&p, &c), &b);
    assert_int_equal(tr__mq_depth(&p, &c), 0);
    assert_null(pop_item(&p, &c));
    /* Empty: the token goes back; the next push takes it again. */
    assert_true(tr__mq_markempty_mpsc(&p, &c));
    assert_true(tr__mq_push_mpsc(&p, &d.node));
    assert_ptr_equal(pop_item(&p, &c), &d);
    assert_null(pop_item(&p, &c));
    assert_true(tr__mq_markempty_mpsc(&p, &c));

    /* Held: the initializer has the token; pushes do not report
     * was_empty until it marks the queue empty. */
    tr__mq_init(&p, &c, true);
    assert_false(tr__mq_push_mpsc(&p, &a.node));
    assert_ptr_equal(pop_item(&p, &c), &a);
    assert_true(tr__mq_markempty_mpsc(&p, &c));
    assert_true(tr__mq_push_mpsc(&p, &b.node));
    assert_ptr_equal(pop_item(&p, &c), &b);
    assert_true(tr__mq_markempty_mpsc(&p, &c));

    /* Held and never used: markempty at once. */
    tr__mq_init(&p, &c, true);
    assert_null(pop_item(&p, &c));
    assert_true(tr__mq_markempty_mpsc(&p, &c));
    assert_true(tr__mq_push_mpsc(&p, &a.node));
}

static void test_mq_chain_and_cycles(void **state) {
    (void)state;
    tr__mq_prod p;
    tr__mq_cons c;
    enum { N = 8 };
    item it[N];
    tr__mq_init(&p, &c, false);

    /* A chain of N, pushed with one exchange, comes out in order. */
    for (int i = 0; i < N; i++) {
        it[i].seq = (uint32_t)i;
        it[i].node.next = i + 1 < N ? &it[i + 1].node : NULL;
    }
    assert_true(tr__mq_push_chain_mpsc(&p, &it[0].node, &it[N - 1].node, N));
    assert_int_equal(tr__mq_depth(&p, &c), N);
    /* A single push behind the chain (token already taken). */
    item last = {.seq = N};
    assert_false(tr__mq_push_mpsc(&p, &last.node));
    for (int i = 0; i <= N; i++) {
        item *x = pop_item(&p, &c);
        assert_non_null(x);
        assert_int_equal(x->seq, (uint32_t)i);
    }
    assert_null(pop_item(&p, &c));
    assert_int_equal(tr__mq_depth(&p, &c), 0);
    assert_true(tr__mq_markempty_mpsc(&p, &c));

    /* Many one-message cycles: the stub goes back in behind the last node
     * each time, and the popped node is fully detached (reusable at once). */
    item one = {0};
    for (uint32_t i = 0; i < 10000; i++) {
        one.seq = i;
        assert_true(tr__mq_push_mpsc(&p, &one.node));
        item *x = pop_item(&p, &c);
        assert_ptr_equal(x, &one);
        assert_int_equal(x->seq, i);
        assert_null(pop_item(&p, &c));
        assert_true(tr__mq_markempty_mpsc(&p, &c));
    }
    assert_int_equal(tr__mq_depth(&p, &c), 0);

    /* Two at a time, the first re-pushed right after it is popped (the
     * consumer frees and a producer reuses the block at once). */
    item x = {.seq = 0}, y = {.seq = 1};
    assert_true(tr__mq_push_mpsc(&p, &x.node));
    for (uint32_t i = 0; i < 1000; i++) {
        assert_false(tr__mq_push_mpsc(&p, &y.node));
        assert_ptr_equal(pop_item(&p, &c), &x);
        assert_false(tr__mq_push_mpsc(&p, &x.node));
        assert_ptr_equal(pop_item(&p, &c), &y);
    }
    assert_ptr_equal(pop_item(&p, &c), &x);
    assert_null(pop_item(&p, &c));
    assert_true(tr__mq_markempty_mpsc(&p, &c));
}

/* ------------------------------------------------------------------------ */
/* Many producers, one consumer                                              */
/* ------------------------------------------------------------------------ */

#define PRODUCERS 4
#define PER_PRODUCER TU_SCALE(100000, 10000)

typedef struct mpsc {
    tr__mq_prod p;
    tr__mq_cons c;
    item *items[PRODUCERS];
    sem_t token;                   /* posted by the producer whose push saw was_empty */
    atomic_uint_fast64_t grants;   /* pushes that reported was_empty */
    atomic_uint_fast64_t releases; /* markempty successes, + 1 for the initial state */
    atomic_uint_fast64_t double_grants;
    atomic_int producers_done;
    atomic_bool consumer_done;
    atomic_uint_fast64_t observer_bad; /* depth seen above the number of nodes */
    atomic_uint_fast64_t observer_reads;
    pthread_barrier_t start;
} mpsc;

typedef struct prod_arg {
    mpsc *q;
    unsigned id;
} prod_arg;

static void granted(mpsc *q) {
    uint64_t g = atomic_fetch_add(&q->grants, 1) + 1;
    /* The consumer counted its release before its markempty's CAS, which
     * happens before this push saw the empty bit: more grants than
     * releases means two holders. */
    if (g > atomic_load(&q->releases))
        atomic_fetch_add(&q->double_grants, 1);
    sem_post(&q->token);
}

static void *producer(void *arg) {
    prod_arg *pa = arg;
    mpsc *q = pa->q;
    item *it = q->items[pa->id];
    uint64_t rnd = 0x9E3779B97F4A7C15ull * (pa->id + 1);
    pthread_barrier_wait(&q->start);
    uint32_t i = 0;
    while (i < PER_PRODUCER) {
        rnd ^= rnd << 13;
        rnd ^= rnd >> 7;
        rnd ^= rnd << 17;
        uint32_t n = 1;
        if ((rnd & 3) == 0) /* a quarter of the pushes are chains of 2..8 */
            n = 2 + (uint32_t)((rnd >> 8) % 7);
        if (n > PER_PRODUCER - i)
            n = PER_PRODUCER - i;
        for (uint32_t k = 0; k < n; k++) {
            it[i + k].producer = pa->id;
            it[i + k].seq = i + k;
            it[i + k].node.next = k + 1 < n ? &it[i + k + 1].node : NULL;
        }
        bool was_empty = n == 1
                             ? tr__mq_push_mpsc(&q->p, &it[i].node)
                             : tr__mq_push_chain_mpsc(&q->p, &it[i].node, &it[i + n - 1].node, n);
        if (was_empty)
            granted(q);
        i += n;
        /* Now and then let the consumer catch up, so the queue runs empty
         * and the token goes back and forth. */
        if (((rnd >> 20) & 63) == 0)
            sched_yield();
    }
    atomic_fetch_add(&q->producers_done, 1);
    return NULL;
}

static void *observer(void *arg) {
    mpsc *q = arg;
    const uint32_t total = PRODUCERS * PER_PRODUCER;
    while (!atomic_load(&q->consumer_done)) {
        uint32_t d = tr__mq_depth(&q->p, &q->c);
        if (d > total)
            atomic_fetch_add(&q->observer_bad, 1);
        atomic_fetch_add(&q->observer_reads, 1);
        sched_yield();
    }
    return NULL;
}

static void test_mq_many_producers(void **state) {
    (void)state;
    mpsc *q = calloc(1, sizeof *q);
    assert_non_null(q);
    for (int i = 0; i < PRODUCERS; i++) {
        q->items[i] = calloc(PER_PRODUCER, sizeof(item));
        assert_non_null(q->items[i]);
    }
    tr__mq_init(&q->p, &q->c, false);
    sem_init(&q->token, 0, 0);
    atomic_store(&q->releases, 1); /* init without `held`: the token is free */
    pthread_barrier_init(&q->start, NULL, PRODUCERS + 1);

    pthread_t th[PRODUCERS], obs;
    prod_arg pa[PRODUCERS];
    for (unsigned i = 0; i < PRODUCERS; i++) {
        pa[i] = (prod_arg){q, i};
        assert_int_equal(pthread_create(&th[i], NULL, producer, &pa[i]), 0);
    }
    assert_int_equal(pthread_create(&obs, NULL, observer, q), 0);
    pthread_barrier_wait(&q->start);

    const uint64_t total = (uint64_t)PRODUCERS * PER_PRODUCER;
    uint32_t next[PRODUCERS] = {0};
    uint64_t got = 0, errors = 0, bad_depth = 0, stalls = 0, turns = 0;
    while (got < total) {
        /* Wait for the token (a producer's push saw the empty bit). */
        while (sem_wait(&q->token) != 0) {
        }
        turns++;
        for (;;) {
            item *x;
            while ((x = pop_item(&q->p, &q->c)) != NULL) {
                if (x->producer >= PRODUCERS || x->seq != next[x->producer])
                    errors++;
                else
                    next[x->producer]++;
                got++;
                if (tr__mq_depth(&q->p, &q->c) > total)
                    bad_depth++;
            }
            /* Count the release first (see granted); undo it if a message
             * arrived meanwhile and the token stays here. */
            atomic_fetch_add(&q->releases, 1);
            if (tr__mq_markempty_mpsc(&q->p, &q->c))
                break;
            atomic_fetch_sub(&q->releases, 1);
            /* A push is half-done (head swapped, link not yet written):
             * its producer finishes it in a moment. */
            stalls++;
            sched_yield();
        }
        if (errors)
            break;
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&q->consumer_done, true);
    pthread_join(obs, NULL);

    print_message("mailbox: %llu nodes, %llu token hand-offs, %llu half-done pushes seen, "
                  "%llu observer reads\n",
                  (unsigned long long)got, (unsigned long long)turns, (unsigned long long)stalls,
                  (unsigned long long)atomic_load(&q->observer_reads));
    assert_int_equal(errors, 0);
    assert_int_equal(got, total);
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(next[i], PER_PRODUCER);
    assert_int_equal(bad_depth, 0);
    assert_int_equal(atomic_load(&q->observer_bad), 0);
    assert_int_equal(atomic_load(&q->double_grants), 0);
    /* The token is free at the end: every grant was given back. */
    assert_int_equal(atomic_load(&q->grants) + 1, atomic_load(&q->releases));
    assert_int_equal(tr__mq_depth(&q->p, &q->c), 0);
    assert_null(pop_item(&q->p, &q->c));
    /* Every grant was waited for: no token left over. */
    int left = -1;
    sem_getvalue(&q->token, &left);
    assert_int_equal(left, 0);
    /* And the queue still works: the next push takes the token. */
    item z = {.producer = 0, .seq = 0};
    assert_true(tr__mq_push_mpsc(&q->p, &z.node));
    assert_ptr_equal(pop_item(&q->p, &q->c), &z);
    assert_true(tr__mq_markempty_mpsc(&q->p, &q->c));

    pthread_barrier_destroy(&q->start);
    sem_destroy(&q->token);
    for (int i = 0; i < PRODUCERS; i++)
        free(q->items[i]);
    free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mq_empty_bit),
        cmocka_unit_test(test_mq_chain_and_cycles),
        cmocka_unit_test(test_mq_many_producers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
