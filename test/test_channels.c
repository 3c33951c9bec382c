/* Channels and select (include/troupe/channel.h), from plain threads and
 * actors: FIFO order, rendezvous, timeouts, close waking every waiter,
 * select's fairness, default case and NULL cases, no lost wake-up during
 * registration, actor notifications, blocking refused in callbacks,
 * reference counts, and an 8-thread stress where every value arrives
 * exactly once. */
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

#include "base/park.h" /* a stand-in fiber parker, for the cancel hook */

static tr_chan *mk(size_t elem, size_t cap) {
    tr_chan *ch = NULL;
    assert_rc(tr_chan_new(elem, cap, &ch), 0);
    assert_non_null(ch);
    return ch;
}

/* ------------------------------------------------------------------------ */
/* Arguments, FIFO, rendezvous                                               */
/* ------------------------------------------------------------------------ */

static void test_bad_args(void **state) {
    (void)state;
    tr_chan *ch = NULL;
    int v = 1;
    assert_rc(tr_chan_new(0, 1, &ch), TR_EINVAL);
    assert_rc(tr_chan_new(TR_CHAN_ELEM_MAX + 1, 1, &ch), TR_EINVAL);
    assert_rc(tr_chan_new(4, 1, NULL), TR_EINVAL);
    assert_rc(tr_chan_new(4096, SIZE_MAX / 2, &ch), TR_EINVAL);
    assert_null(ch);
    ch = mk(sizeof v, 1);
    assert_rc(tr_chan_send(NULL, &v, 10), TR_EINVAL);
    assert_rc(tr_chan_send(ch, NULL, 10), TR_EINVAL);
    assert_rc(tr_chan_send(ch, &v, -5), TR_EINVAL);
    assert_rc(tr_chan_recv(NULL, &v, 10), TR_EINVAL);
    assert_rc(tr_chan_recv(ch, &v, -2), TR_EINVAL);
    assert_rc(tr_chan_try_send(NULL, &v), TR_EINVAL);
    assert_rc(tr_chan_try_recv(NULL, &v), TR_EINVAL);
    assert_rc(tr_chan_close(NULL), TR_EINVAL);
    assert_rc(tr_chan_notify(ch, NULL, TR_CHAN_RECV, 1), TR_EINVAL);
    assert_rc(tr_select(NULL, 2, 0), TR_EINVAL);
    tr_select_case c = {.chan = ch, .dir = 3, .elem = &v};
    assert_rc(tr_select(&c, 1, 0), TR_EINVAL);
    c.dir = TR_CHAN_SEND;
    c.elem = NULL;
    assert_rc(tr_select(&c, 1, 0), TR_EINVAL);
    c.elem = &v;
    assert_rc(tr_select(&c, 1, -3), TR_EINVAL);
    assert_int_equal(tr_chan_len(NULL), 0);
    assert_int_equal(tr_chan_cap(NULL), 0);
    assert_null(tr_chan_ref(NULL));
    tr_chan_release(NULL);
    assert_int_equal(tr_chan_cap(ch), 1);
    tr_chan_release(ch);
}

static void test_buffered_fifo(void **state) {
    (void)state;
    tr_chan *ch = mk(sizeof(uint64_t), 16);
    assert_int_equal(tr_chan_cap(ch), 16);
    for (int round = 0; round < 3; round++) { /* the ring wraps */
        for (uint64_t i = 0; i < 16; i++) {
            uint64_t v = i * 1000 + (uint64_t)round;
            assert_rc(tr_chan_send(ch, &v, TR_INFINITY), 0);
        }
        uint64_t x = 99;
        assert_rc(tr_chan_try_send(ch, &x), TR_EAGAIN);
        assert_rc(tr_chan_send(ch, &x, 0), TR_EAGAIN);
        assert_int_equal(tr_chan_len(ch), 16);
        for (uint64_t i = 0; i < 16; i++) {
            uint64_t v;
            assert_rc(tr_chan_recv(ch, &v, TR_INFINITY), 0);
            assert_int_equal(v, i * 1000 + (uint64_t)round);
            if (i == 7) { /* interleave: one more in the middle */
                uint64_t w = 16 * 1000 + (uint64_t)round;
                assert_rc(tr_chan_try_send(ch, &w), 0);
            }
        }
        uint64_t v;
        assert_rc(tr_chan_try_recv(ch, &v), 0);
        assert_int_equal(v, 16 * 1000 + (uint64_t)round);
        assert_rc(tr_chan_try_recv(ch, &v), TR_EAGAIN);
        assert_int_equal(tr_chan_len(ch), 0);
    }
    tr_chan_release(ch);
}

typedef struct sender_arg {
    tr_chan *ch;
    int value;
    tr_duration_ms timeout;
    int rc;
    uint32_t done;
} sender_arg;

static void *sender_thread(void *p) {
    sender_arg *a = p;
    a->rc = tr_chan_send(a->ch, &a->value, a->timeout);
    __atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_unbuffered_rendezvous(void **state) {
    (void)state;
    tr_chan *ch = mk(sizeof(int), 0);
    int v = 5;
    assert_int_equal(tr_chan_cap(ch), 0);
    assert_rc(tr_chan_try_send(ch, &v), TR_EAGAIN); /* nobody receives */
    for (int round = 0; round < 20; round++) {
        sender_arg a = {.ch = ch, .value = 100 + round, .timeout = TR_INFINITY};
        pthread_t t;
        pthread_create(&t, NULL, sender_thread, &a);
        int got = -1, rc;
        for (;;) {
            /* The send cannot have completed before a receiver took it. */
            assert_int_equal(__atomic_load_n(&a.done, __ATOMIC_ACQUIRE), 0);
            rc = tr_chan_try_recv(ch, &got);
            if (rc == 0)
                break;
            assert_rc(rc, TR_EAGAIN);
            tu_sleep_ms(1);
        }
        assert_int_equal(got, 100 + round);
        pthread_join(t, NULL);
        assert_rc(a.rc, 0);
        assert_int_equal(tr_chan_len(ch), 0);
    }
    /* A timed-out unbuffered send leaves nothing behind. */
    assert_rc(tr_chan_send(ch, &v, 20), TR_ETIMEDOUT);
    assert_rc(tr_chan_try_recv(ch, &v), TR_EAGAIN);
    /* A blocking receiver gets the value of a blocking sender. */
    sender_arg a = {.ch = ch, .value = 77, .timeout = TR_INFINITY};
    pthread_t t;
    pthread_create(&t, NULL, sender_thread, &a);
    int got = 0;
    assert_rc(tr_chan_recv(ch, &got, TR_INFINITY), 0);
    assert_int_equal(got, 77);
    pthread_join(t, NULL);
    assert_rc(a.rc, 0);
    tr_chan_release(ch);
}

/* ------------------------------------------------------------------------ */
/* Timeouts                                                                  */
/* ------------------------------------------------------------------------ */

static void test_timeouts(void **state) {
    (void)state;
    tr_chan *full = mk(sizeof(int), 1), *empty = mk(sizeof(int), 4);
    int v = 1;
    assert_rc(tr_chan_send(full, &v, 0), 0);
    int64_t t0 = tu_now_ms();
    assert_rc(tr_chan_send(full, &v, 60), TR_ETIMEDOUT);
    int64_t t1 = tu_now_ms();
    assert_true(t1 - t0 >= 55);
    assert_true(t1 - t0 < 10000);
    assert_rc(tr_chan_recv(empty, &v, 60), TR_ETIMEDOUT);
    int64_t t2 = tu_now_ms();
    assert_true(t2 - t1 >= 55);
    tr_select_case cs[2] = {{.chan = empty, .dir = TR_CHAN_RECV, .elem = &v},
                            {.chan = full, .dir = TR_CHAN_SEND, .elem = &v}};
    assert_rc(tr_select(cs, 2, 60), TR_ETIMEDOUT);
    int64_t t3 = tu_now_ms();
    assert_true(t3 - t2 >= 55);
    assert_rc(tr_select(NULL, 0, 30), TR_ETIMEDOUT);
    assert_true(tu_now_ms() - t3 >= 25);
    /* Nothing changed: the full one still holds its one value. */
    assert_int_equal(tr_chan_len(full), 1);
    assert_int_equal(tr_chan_len(empty), 0);
    tr_chan_release(full);
    tr_chan_release(empty);
}

/* ------------------------------------------------------------------------ */
/* Close                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct waiter_arg {
    tr_chan *a, *b;
    int kind; /* 0 recv a, 1 send b, 2 select(recv a, send b) */
    int rc, value;
    uint32_t *started;
} waiter_arg;

static void *blocked_thread(void *p) {
    waiter_arg *w = p;
    __atomic_fetch_add(w->started, 1, __ATOMIC_ACQ_REL);
    w->value = 12345;
    if (w->kind == 0) {
        w->rc = tr_chan_recv(w->a, &w->value, TR_INFINITY);
    } else if (w->kind == 1) {
        w->rc = tr_chan_send(w->b, &w->value, TR_INFINITY);
    } else {
        int x = 1;
        tr_select_case cs[2] = {{.chan = w->a, .dir = TR_CHAN_RECV, .elem = &w->value},
                                {.chan = w->b, .dir = TR_CHAN_SEND, .elem = &x}};
        int i = tr_select(cs, 2, TR_INFINITY);
        w->rc = i >= 0 ? cs[i].result : i;
    }
    return NULL;
}

static void test_close_wakes_every_waiter(void **state) {
    (void)state;
    enum { N = 9 };
    tr_chan *a = mk(sizeof(int), 0), *b = mk(sizeof(int), 2);
    int v = 0;
    assert_rc(tr_chan_send(b, &v, 0), 0);
    assert_rc(tr_chan_send(b, &v, 0), 0); /* b is full: its senders block */
    uint32_t started = 0;
    waiter_arg w[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        w[i] = (waiter_arg){.a = a, .b = b, .kind = i % 3, .started = &started};
        pthread_create(&t[i], NULL, blocked_thread, &w[i]);
    }
    assert_true(TU_WAIT(__atomic_load_n(&started, __ATOMIC_ACQUIRE) == N, 10000));
    tu_sleep_ms(20); /* most are parked by now; those that are not see the close anyway */
    assert_rc(tr_chan_close(a), 0);
    assert_rc(tr_chan_close(b), 0);
    assert_rc(tr_chan_close(a), TR_ECLOSED);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_rc(w[i].rc, TR_ECLOSED);
        if (w[i].kind == 0)
            assert_int_equal(w[i].value, 0); /* zeroed */
    }
    /* b's buffered values are still there to drain. */
    assert_int_equal(tr_chan_len(b), 2);
    tr_chan_release(a);
    tr_chan_release(b);
}

static void test_recv_after_close_drains(void **state) {
    (void)state;
    tr_chan *ch = mk(sizeof(int), 4);
    for (int i = 1; i <= 3; i++)
        assert_rc(tr_chan_send(ch, &i, 0), 0);
    assert_rc(tr_chan_close(ch), 0);
    int v = 9;
    assert_rc(tr_chan_send(ch, &v, 10), TR_ECLOSED);
    assert_rc(tr_chan_try_send(ch, &v), TR_ECLOSED);
    for (int i = 1; i <= 3; i++) {
        assert_rc(tr_chan_recv(ch, &v, TR_INFINITY), 0);
        assert_int_equal(v, i);
    }
    v = 9;
    assert_rc(tr_chan_recv(ch, &v, TR_INFINITY), TR_ECLOSED);
    assert_int_equal(v, 0);
    assert_rc(tr_chan_try_recv(ch, &v), TR_ECLOSED);
    assert_rc(tr_chan_recv(ch, NULL, 0), TR_ECLOSED);
    tr_select_case c = {.chan = ch, .dir = TR_CHAN_RECV, .elem = &v, .result = 1};
    assert_rc(tr_select(&c, 1, 0), 0);
    assert_rc(c.result, TR_ECLOSED);
    c = (tr_select_case){.chan = ch, .dir = TR_CHAN_SEND, .elem = &v, .result = 1};
    assert_rc(tr_select(&c, 1, TR_INFINITY), 0);
    assert_rc(c.result, TR_ECLOSED);
    assert_rc(tr_chan_close(ch), TR_ECLOSED);
    tr_chan_release(ch);
}

/* ------------------------------------------------------------------------ */
/* Select                                                                    */
/* ------------------------------------------------------------------------ */

static void test_select_fairness(void **state) {
    (void)state;
    tr_chan *a = mk(sizeof(int), 1), *b = mk(sizeof(int), 1);
    int va = 1, vb = 2, got;
    assert_rc(tr_chan_send(a, &va, 0), 0);
    assert_rc(tr_chan_send(b, &vb, 0), 0);
    int count[2] = {0, 0};
    enum { ROUNDS = 10000 };
    for (int i = 0; i < ROUNDS; i++) {
        tr_select_case cs[2] = {{.chan = a, .dir = TR_CHAN_RECV, .elem = &got},
                                {.chan = b, .dir = TR_CHAN_RECV, .elem = &got}};
        int k = tr_select(cs, 2, TR_INFINITY);
        assert_true(k == 0 || k == 1);
        assert_rc(cs[k].result, 0);
        assert_int_equal(got, k + 1);
        count[k]++;
        assert_rc(tr_chan_send(k ? b : a, k ? &vb : &va, 0), 0); /* ready again */
    }
    print_message("select fairness: %d / %d\n", count[0], count[1]);
    assert_true(count[0] > ROUNDS * 4 / 10);
    assert_true(count[1] > ROUNDS * 4 / 10);

    /* Three cases, the middle one never ready: the ready two stay even. */
    tr_chan *never = mk(sizeof(int), 1);
    count[0] = count[1] = 0;
    for (int i = 0; i < ROUNDS; i++) {
        tr_select_case cs[3] = {{.chan = a, .dir = TR_CHAN_RECV, .elem = &got},
                                {.chan = never, .dir = TR_CHAN_RECV, .elem = &got},
                                {.chan = b, .dir = TR_CHAN_RECV, .elem = &got}};
        int k = tr_select(cs, 3, 0);
        assert_true(k == 0 || k == 2);
        count[k / 2]++;
        assert_rc(tr_chan_send(k ? b : a, k ? &vb : &va, 0), 0);
    }
    assert_true(count[0] > ROUNDS * 4 / 10);
    assert_true(count[1] > ROUNDS * 4 / 10);
    tr_chan_release(never);
    tr_chan_release(a);
    tr_chan_release(b);
}

static void test_select_default_and_null(void **state) {
    (void)state;
    tr_chan *a = mk(sizeof(int), 2), *b = mk(sizeof(int), 0);
    int v = 7, got = 0;
    tr_select_case cs[3] = {{.chan = NULL, .dir = TR_CHAN_RECV, .elem = &got},
                            {.chan = a, .dir = TR_CHAN_RECV, .elem = &got},
                            {.chan = b, .dir = TR_CHAN_SEND, .elem = &v}};
    /* default: nothing ready */
    assert_rc(tr_select(cs, 3, 0), TR_EAGAIN);
    /* one ready (the NULL case never is) */
    assert_rc(tr_chan_send(a, &v, 0), 0);
    assert_rc(tr_select(cs, 3, 0), 1);
    assert_rc(cs[1].result, 0);
    assert_int_equal(got, 7);
    /* only NULL channels: never ready */
    tr_select_case nil[2] = {{.chan = NULL, .dir = TR_CHAN_RECV}, {.chan = NULL, .dir = 99}};
    assert_rc(tr_select(nil, 2, 0), TR_EAGAIN);
    assert_rc(tr_select(nil, 2, 20), TR_ETIMEDOUT);
    /* A channel in two cases. */
    assert_rc(tr_chan_send(a, &v, 0), 0);
    tr_select_case twice[2] = {{.chan = a, .dir = TR_CHAN_RECV, .elem = &got},
                               {.chan = a, .dir = TR_CHAN_RECV, .elem = &got}};
    int k = tr_select(twice, 2, TR_INFINITY);
    assert_true(k == 0 || k == 1);
    assert_rc(tr_select(twice, 2, 0), TR_EAGAIN);
    /* A send case and a receive case of one buffered channel. */
    tr_select_case both[2] = {{.chan = a, .dir = TR_CHAN_RECV, .elem = &got},
                              {.chan = a, .dir = TR_CHAN_SEND, .elem = &v}};
    assert_rc(tr_select(both, 2, TR_INFINITY), 1); /* empty: only the send is ready */
    assert_int_equal(tr_chan_len(a), 1);
    tr_chan_release(a);
    tr_chan_release(b);
}

typedef struct race_arg {
    tr_chan *ch[2];
    int n;
} race_arg;

static void *race_sender(void *p) {
    race_arg *r = p;
    for (int i = 0; i < r->n; i++)
        assert_rc(tr_chan_send(r->ch[i & 1], &i, TR_INFINITY), 0);
    return NULL;
}

/* A case becomes ready while the select registers: each value is sent
 * with a blocking send on an unbuffered channel, so the select must see
 * every one (a lost wake-up hangs the run). */
static void test_select_ready_during_registration(void **state) {
    (void)state;
    race_arg r = {.ch = {mk(sizeof(int), 0), mk(sizeof(int), 0)}, .n = TU_SCALE(50000, 10000)};
    pthread_t t;
    pthread_create(&t, NULL, race_sender, &r);
    long long sum = 0;
    for (int i = 0; i < r.n; i++) {
        int got = -1;
        tr_select_case cs[2] = {{.chan = r.ch[0], .dir = TR_CHAN_RECV, .elem = &got},
                                {.chan = r.ch[1], .dir = TR_CHAN_RECV, .elem = &got}};
        int k = tr_select(cs, 2, 30000);
        assert_true(k == 0 || k == 1);
        assert_int_equal(got, i); /* one sender, strictly alternating */
        assert_int_equal(k, i & 1);
        sum += got;
    }
    pthread_join(t, NULL);
    assert_true(sum == (long long)r.n * (r.n - 1) / 2);
    tr_chan_release(r.ch[0]);
    tr_chan_release(r.ch[1]);
}

/* ------------------------------------------------------------------------ */
/* A waiter killed while parked (what a fiber's exit does)                   */
/* ------------------------------------------------------------------------ */

static jmp_buf kill_jb;
static int cancel_seen;

/* A parker whose wait is a fiber being killed: the exit calls the cancel
 * hook, and the fiber's stack (with the select's waiters on it) is never
 * resumed. */
static int killed_block(tr__parker *p, int64_t deadline) {
    (void)deadline;
    cancel_seen = p->cancel != NULL;
    if (p->cancel)
        p->cancel(p->cancel_arg);
    longjmp(kill_jb, 1);
}

static void killed_unblock(tr__parker *p) {
    (void)p;
}

static void __attribute__((noinline)) scribble_stack(void) {
    volatile unsigned char junk[16384];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = 0xA5;
}

static void test_killed_waiter_leaves_no_entry(void **state) {
    (void)state;
    static const tr__parker_ops ops = {.block = killed_block, .unblock = killed_unblock};
    static tr__parker fake;
    tr_chan *a = mk(sizeof(int), 0), *b = mk(sizeof(int), 0);
    tr__parker_init_ops(&fake, &ops);
    tr__parker_set_fiber(&fake);
    if (setjmp(kill_jb) == 0) {
        int v = 4;
        tr_select_case cs[3] = {{.chan = a, .dir = TR_CHAN_RECV, .elem = &v},
                                {.chan = b, .dir = TR_CHAN_SEND, .elem = &v},
                                {.chan = a, .dir = TR_CHAN_RECV, .elem = &v}};
        tr_select(cs, 3, TR_INFINITY);
        tr__parker_set_fiber(NULL);
        fail_msg("the select returned");
    }
    tr__parker_set_fiber(NULL);
    assert_true(cancel_seen);
    scribble_stack(); /* the dead select's frame is garbage now */
    int v = 1;
    assert_rc(tr_chan_try_send(a, &v), TR_EAGAIN); /* no receiver left behind */
    assert_rc(tr_chan_try_recv(b, &v), TR_EAGAIN); /* no sender left behind */
    assert_rc(tr_chan_close(a), 0);
    assert_rc(tr_chan_close(b), 0);
    tr_chan_release(a);
    tr_chan_release(b);
}

/* ------------------------------------------------------------------------ */
/* Actors                                                                    */
/* ------------------------------------------------------------------------ */

enum { TAG_READY = 40, TAG_UNUSED = 41 };

typedef struct shared {
    tr_chan *ch;
    /* written by the actor, read after `finished` */
    long long sum;
    int count, notifies;
    tr_chan *aux;
    int refused[4];
    int cancel_rc[2];
    bool test_cancel; /* init registers for SEND (on a full channel) and cancels */
    uint32_t finished;
} shared;

typedef struct consumer {
    shared *sh;
} consumer;

static void drain(tr_self *self, consumer *c) {
    for (;;) {
        int v;
        int rc = tr_chan_try_recv(c->sh->ch, &v);
        if (rc == 0) {
            c->sh->sum += v;
            __atomic_fetch_add(&c->sh->count, 1, __ATOMIC_RELEASE);
            continue;
        }
        if (rc == TR_ECLOSED) {
            __atomic_store_n(&c->sh->finished, 1, __ATOMIC_RELEASE);
            tr_stop(self, tr_reason_normal());
            return;
        }
        assert_rc(rc, TR_EAGAIN);
        assert_rc(tr_chan_notify(c->sh->ch, self, TR_CHAN_RECV, TAG_READY), 0);
        return;
    }
}

static int consumer_init(tr_self *self, void *state, const void *arg) {
    consumer *c = state;
    c->sh = (shared *)arg;
    int v = 0;
    if (c->sh->aux) { /* Blocking is refused in a callback (aux: nobody on the other end) */
        c->sh->refused[0] = tr_chan_recv(c->sh->aux, &v, 10);
        c->sh->refused[1] = tr_chan_send(c->sh->aux, &v, 10); /* TR_INFINITY alike */
        tr_select_case cs = {.chan = c->sh->aux, .dir = TR_CHAN_RECV, .elem = &v};
        c->sh->refused[2] = tr_select(&cs, 1, 5);
        c->sh->refused[3] = tr_chan_try_recv(c->sh->aux, &v); /* trying is fine */
    }
    if (!c->sh->test_cancel)
        return tr_chan_notify(c->sh->ch, self, TR_CHAN_RECV, TAG_READY);
    /* A registration can be withdrawn. */
    assert_rc(tr_chan_notify(c->sh->ch, self, TR_CHAN_SEND, TAG_UNUSED), 0);
    c->sh->cancel_rc[0] = tr_chan_notify_cancel(c->sh->ch, self, TR_CHAN_SEND);
    c->sh->cancel_rc[1] = tr_chan_notify_cancel(c->sh->ch, self, TR_CHAN_SEND);
    return tr_chan_notify(c->sh->ch, self, TR_CHAN_RECV, TAG_READY);
}

static int consumer_info(tr_self *self, void *state, const tr_msg *msg) {
    consumer *c = state;
    assert_int_equal(msg->tag, TAG_READY); /* TAG_UNUSED was cancelled */
    c->sh->notifies++;
    drain(self, c);
    return 0;
}

static const tr_behaviour consumer_b = {
    .name = "chan_consumer",
    .state_size = sizeof(consumer),
    .init = consumer_init,
    .handle_info = consumer_info,
};

static void test_notify_actor(void **state) {
    (void)state;
    tr_runtime *rt = tu_rt_start(2);
    shared sh = {.ch = mk(sizeof(int), 64), .aux = mk(sizeof(int), 0), .test_cancel = true};
    /* Fill it so that the SEND registration in init is not ready at once. */
    for (int i = 0; i < 64; i++)
        assert_rc(tr_chan_send(sh.ch, &i, 0), 0);
    long long want = 64LL * 63 / 2;
    tr_pid pid;
    assert_rc(tr_spawn(rt, &consumer_b, &sh, NULL, &pid), 0);
    enum { N = 10000 };
    for (int i = 0; i < N; i++) {
        assert_rc(tr_chan_send(sh.ch, &i, TR_INFINITY), 0);
        want += i;
    }
    assert_rc(tr_chan_close(sh.ch), 0);
    tr_reason why;
    assert_rc(tr_await_exit(rt, pid, 30000, &why), 0);
    assert_true(__atomic_load_n(&sh.finished, __ATOMIC_ACQUIRE));
    assert_int_equal(sh.count, N + 64);
    assert_true(sh.sum == want);
    assert_true(sh.notifies >= 1);
    print_message("notify: %d values in %d notifications\n", sh.count, sh.notifies);
    assert_rc(sh.refused[0], TR_EDEADLK);
    assert_rc(sh.refused[1], TR_EDEADLK);
    assert_rc(sh.refused[2], TR_EDEADLK);
    assert_rc(sh.refused[3], TR_EAGAIN);
    tr_chan_release(sh.aux);
    assert_rc(sh.cancel_rc[0], 0);
    assert_rc(sh.cancel_rc[1], TR_ENOTFOUND);
    tr_chan_release(sh.ch);
    tu_rt_stop(&rt);
}

/* A buffered send with no blocked sender notifies the waiting actor. */
static void test_notify_on_buffered_send(void **state) {
    (void)state;
    tr_runtime *rt = tu_rt_start(1);
    shared sh = {.ch = mk(sizeof(int), 4)};
    tr_pid pid;
    assert_rc(tr_spawn(rt, &consumer_b, &sh, NULL, &pid), 0);
    for (int round = 1; round <= 5; round++) {
        int v = round;
        assert_rc(tr_chan_try_send(sh.ch, &v), 0); /* never blocks: only the buffer */
        assert_true(TU_WAIT(__atomic_load_n(&sh.count, __ATOMIC_ACQUIRE) == round, 10000));
    }
    assert_rc(tr_chan_close(sh.ch), 0);
    assert_rc(tr_await_exit(rt, pid, 10000, NULL), 0);
    tr_chan_release(sh.ch);
    tu_rt_stop(&rt);
}

/* A registration whose actor died is harmless; one left when the channel
 * is freed is freed with it. */
static int idle_init(tr_self *self, void *state, const void *arg) {
    (void)state;
    return tr_chan_notify((tr_chan *)arg, self, TR_CHAN_RECV, TAG_READY);
}

static const tr_behaviour idle_b = {.name = "chan_idle", .init = idle_init};

static void test_notify_dead_actor(void **state) {
    (void)state;
    tr_runtime *rt = tu_rt_start(1);
    tr_chan *ch = mk(sizeof(int), 1), *kept = mk(sizeof(int), 1);
    tr_pid pid, pid2;
    assert_rc(tr_spawn(rt, &idle_b, ch, NULL, &pid), 0);
    assert_rc(tr_spawn(rt, &idle_b, kept, NULL, &pid2), 0);
    assert_rc(tr_exit(rt, pid, tr_reason_kill()), 0);
    assert_rc(tr_await_exit(rt, pid, 10000, NULL), 0);
    int v = 1;
    assert_rc(tr_chan_send(ch, &v, 0), 0); /* fires into a dead pid */
    tr_chan_release(ch);
    tr_chan_release(kept); /* a pending registration is freed */
    tu_rt_stop(&rt);
}

/* ------------------------------------------------------------------------ */
/* Reference counts                                                          */
/* ------------------------------------------------------------------------ */

static void *release_thread(void *p) {
    tr_chan *ch = p;
    unsigned char v[64] = {1};
    (void)tr_chan_try_send(ch, v);
    (void)tr_chan_try_recv(ch, v);
    tr_chan_release(ch);
    return NULL;
}

static void test_refcount(void **state) {
    (void)state;
    enum { T = 8 };
    for (int round = 0; round < 50; round++) {
        tr_chan *ch = mk(64, 4);
        int dummy[16] = {0};
        assert_rc(tr_chan_send(ch, dummy, 0), 0); /* freed with a value inside */
        pthread_t t[T];
        for (int i = 0; i < T; i++)
            pthread_create(&t[i], NULL, release_thread, tr_chan_ref(ch));
        tr_chan_release(ch); /* the creator's; the threads hold theirs */
        for (int i = 0; i < T; i++)
            pthread_join(t[i], NULL);
    }
    /* Releasing does not close: the other holder still uses it. */
    tr_chan *ch = mk(sizeof(int), 1);
    tr_chan *other = tr_chan_ref(ch);
    tr_chan_release(ch);
    int v = 3;
    assert_rc(tr_chan_send(other, &v, 0), 0);
    assert_rc(tr_chan_recv(other, &v, 0), 0);
    assert_int_equal(v, 3);
    tr_chan_release(other);
}

/* ------------------------------------------------------------------------ */
/* Stress: 8 threads, 4 channels, every value exactly once                  */
/* ------------------------------------------------------------------------ */

enum { S_CHANS = 4, S_SENDERS = 4 };

typedef struct stress {
    tr_chan *ch[S_CHANS];
    int per_sender;
    uint8_t *seen; /* atomic per value */
    uint64_t received;
} stress;

typedef struct stress_arg {
    stress *s;
    int id;
} stress_arg;

static void note_value(stress *s, uint32_t v) {
    assert_true(v < (uint32_t)(S_SENDERS * s->per_sender));
    uint8_t old = __atomic_fetch_add(&s->seen[v], 1, __ATOMIC_RELAXED);
    assert_int_equal(old, 0);
    __atomic_fetch_add(&s->received, 1, __ATOMIC_RELAXED);
}

static void *stress_sender(void *p) {
    stress_arg *a = p;
    stress *s = a->s;
    for (int i = 0; i < s->per_sender; i++) {
        uint32_t v = (uint32_t)(a->id * s->per_sender + i);
        if (a->id == 0) { /* a select over all four send cases */
            tr_select_case cs[S_CHANS];
            for (int c = 0; c < S_CHANS; c++)
                cs[c] = (tr_select_case){.chan = s->ch[c], .dir = TR_CHAN_SEND, .elem = &v};
            int k = tr_select(cs, S_CHANS, TR_INFINITY);
            assert_true(k >= 0 && k < S_CHANS);
            assert_rc(cs[k].result, 0);
        } else {
            assert_rc(tr_chan_send(s->ch[(i + a->id) % S_CHANS], &v, TR_INFINITY), 0);
        }
    }
    return NULL;
}

static void *stress_receiver(void *p) {
    stress_arg *a = p;
    stress *s = a->s;
    if (a->id < 2) { /* plain receivers, each on two channels in turn */
        int open[2] = {1, 1};
        for (int i = 0; open[0] || open[1]; i++) {
            int which = i & 1;
            if (!open[which])
                which ^= 1;
            uint32_t v;
            int rc = tr_chan_recv(s->ch[a->id * 2 + which], &v, 5);
            if (rc == 0)
                note_value(s, v);
            else if (rc == TR_ECLOSED)
                open[which] = 0;
            else
                assert_rc(rc, TR_ETIMEDOUT);
        }
        return NULL;
    }
    /* select receivers over all four, with a NULL case too */
    tr_select_case cs[S_CHANS + 1];
    uint32_t v;
    for (int c = 0; c < S_CHANS; c++)
        cs[c] = (tr_select_case){.chan = s->ch[c], .dir = TR_CHAN_RECV, .elem = &v};
    cs[S_CHANS] = (tr_select_case){.chan = NULL, .dir = TR_CHAN_RECV};
    int open = S_CHANS;
    while (open > 0) {
        int k = tr_select(cs, S_CHANS + 1, TR_INFINITY);
        assert_true(k >= 0 && k < S_CHANS);
        if (cs[k].result == TR_ECLOSED) {
            cs[k].chan = NULL; /* Go's idiom: a nil channel is never ready */
            open--;
        } else {
            assert_rc(cs[k].result, 0);
            note_value(s, v);
        }
    }
    return NULL;
}

static void test_stress(void **state) {
    (void)state;
    stress s = {.per_sender = TU_SCALE(25000, 4000)};
    const size_t caps[S_CHANS] = {0, 1, 16, 0};
    for (int c = 0; c < S_CHANS; c++)
        s.ch[c] = mk(sizeof(uint32_t), caps[c]);
    size_t total = (size_t)S_SENDERS * (size_t)s.per_sender;
    s.seen = calloc(total, 1);
    assert_non_null(s.seen);
    pthread_t snd[S_SENDERS], rcv[4];
    stress_arg sa[S_SENDERS], ra[4];
    int64_t t0 = tu_now_us();
    for (int i = 0; i < 4; i++) {
        ra[i] = (stress_arg){.s = &s, .id = i};
        pthread_create(&rcv[i], NULL, stress_receiver, &ra[i]);
    }
    for (int i = 0; i < S_SENDERS; i++) {
        sa[i] = (stress_arg){.s = &s, .id = i};
        pthread_create(&snd[i], NULL, stress_sender, &sa[i]);
    }
    for (int i = 0; i < S_SENDERS; i++)
        pthread_join(snd[i], NULL);
    for (int c = 0; c < S_CHANS; c++)
        assert_rc(tr_chan_close(s.ch[c]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(rcv[i], NULL);
    int64_t us = tu_now_us() - t0;
    assert_int_equal(__atomic_load_n(&s.received, __ATOMIC_RELAXED), total);
    for (size_t i = 0; i < total; i++)
        assert_int_equal(s.seen[i], 1);
    print_message("stress: %zu values through 4 channels by 8 threads in %lld ms\n", total,
                  (long long)(us / 1000));
    free(s.seen);
    for (int c = 0; c < S_CHANS; c++)
        tr_chan_release(s.ch[c]);
}

/* The same stress with half the senders and half the receivers fibers
 * (parking on the channels while their scheduler threads run the others),
 * half plain threads. */
static atomic_int g_mixed_done;

static int stress_sender_fiber(tr_self *self, void *p) {
    (void)self;
    stress_sender(p);
    atomic_fetch_add(&g_mixed_done, 1);
    return 0;
}

static int stress_receiver_fiber(tr_self *self, void *p) {
    (void)self;
    stress_receiver(p);
    atomic_fetch_add(&g_mixed_done, 1);
    return 0;
}

static void test_stress_fibers_and_threads(void **state) {
    (void)state;
    tr_runtime *rt = tu_start(2);
    assert_non_null(rt);
    atomic_store(&g_mixed_done, 0);
    stress s = {.per_sender = TU_SCALE(25000, 4000)};
    const size_t caps[S_CHANS] = {0, 1, 16, 0};
    for (int c = 0; c < S_CHANS; c++)
        s.ch[c] = mk(sizeof(uint32_t), caps[c]);
    size_t total = (size_t)S_SENDERS * (size_t)s.per_sender;
    s.seen = calloc(total, 1);
    assert_non_null(s.seen);
    pthread_t snd[S_SENDERS], rcv[4];
    stress_arg sa[S_SENDERS], ra[4];
    for (int i = 0; i < 4; i++) {
        ra[i] = (stress_arg){.s = &s, .id = i};
        if (i % 2 == 0)
            assert_rc(tr_spawn_fiber(rt, stress_receiver_fiber, &ra[i], NULL, NULL), 0);
        else
            pthread_create(&rcv[i], NULL, stress_receiver, &ra[i]);
    }
    for (int i = 0; i < S_SENDERS; i++) {
        sa[i] = (stress_arg){.s = &s, .id = i};
        if (i % 2 == 0)
            assert_rc(tr_spawn_fiber(rt, stress_sender_fiber, &sa[i], NULL, NULL), 0);
        else
            pthread_create(&snd[i], NULL, stress_sender, &sa[i]);
    }
    for (int i = 1; i < S_SENDERS; i += 2)
        pthread_join(snd[i], NULL);
    assert_true(TU_WAIT(atomic_load(&g_mixed_done) == S_SENDERS / 2, 60000));
    for (int c = 0; c < S_CHANS; c++)
        assert_rc(tr_chan_close(s.ch[c]), 0);
    for (int i = 1; i < 4; i += 2)
        pthread_join(rcv[i], NULL);
    assert_true(TU_WAIT(atomic_load(&g_mixed_done) == S_SENDERS / 2 + 2, 60000));
    assert_int_equal(__atomic_load_n(&s.received, __ATOMIC_RELAXED), total);
    for (size_t i = 0; i < total; i++)
        assert_int_equal(s.seen[i], 1);
    free(s.seen);
    for (int c = 0; c < S_CHANS; c++)
        tr_chan_release(s.ch[c]);
    tr_runtime_free(&rt);
}

/* ------------------------------------------------------------------------ */
/* Throughput (printed, not asserted)                                        */
/* ------------------------------------------------------------------------ */

typedef struct pingpong {
    tr_chan *ping, *pong;
    int n;
} pingpong;

static void *ponger(void *p) {
    pingpong *pp = p;
    for (int i = 0; i < pp->n; i++) {
        int v;
        assert_rc(tr_chan_recv(pp->ping, &v, TR_INFINITY), 0);
        assert_rc(tr_chan_send(pp->pong, &v, TR_INFINITY), 0);
    }
    return NULL;
}

static void test_pingpong_rate(void **state) {
    (void)state;
    pingpong pp = {
        .ping = mk(sizeof(int), 0), .pong = mk(sizeof(int), 0), .n = TU_SCALE(20000, 2000)};
    pthread_t t;
    int64_t t0 = tu_now_us();
    pthread_create(&t, NULL, ponger, &pp);
    for (int i = 0; i < pp.n; i++) {
        int v = i;
        assert_rc(tr_chan_send(pp.ping, &v, TR_INFINITY), 0);
        assert_rc(tr_chan_recv(pp.pong, &v, TR_INFINITY), 0);
        assert_int_equal(v, i);
    }
    pthread_join(t, NULL);
    int64_t us = tu_now_us() - t0;
    print_message("thread ping-pong, unbuffered: %d round trips, %.2f us each\n", pp.n,
                  (double)us / pp.n);
    tr_chan_release(pp.ping);
    tr_chan_release(pp.pong);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_buffered_fifo),
        cmocka_unit_test(test_unbuffered_rendezvous),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_close_wakes_every_waiter),
        cmocka_unit_test(test_recv_after_close_drains),
        cmocka_unit_test(test_select_fairness),
        cmocka_unit_test(test_select_default_and_null),
        cmocka_unit_test(test_select_ready_during_registration),
        cmocka_unit_test(test_killed_waiter_leaves_no_entry),
        cmocka_unit_test(test_notify_actor),
        cmocka_unit_test(test_notify_on_buffered_send),
        cmocka_unit_test(test_notify_dead_actor),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_stress),
        cmocka_unit_test(test_stress_fibers_and_threads),
        cmocka_unit_test(test_pingpong_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
