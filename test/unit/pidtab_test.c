/* Unit tests of the pid table (actor/actor.c: slots with generations),
 * through the public API: a pid is a slot index, a generation and the
 * runtime's id (layout in actor/core.h); when an actor is gone and its slot
 * is reused, the old pid must stay dead.
 *
 * - A table of 64 slots (max_actors = 64), filled, emptied and filled again
 *   for many rounds, so every slot is reused many times: every old pid
 *   gives TR_ENOPROC to send, cast, call, exit and mailbox_len, tr_is_alive
 *   false, tr_await_exit noproc; nothing sent to an old pid reaches the
 *   actor that now has its slot; no pid value is ever handed out twice.
 * - The same with the default table and spawns from inside an actor (a
 *   scheduler thread keeps a cache of free slots).
 * - Generation wrap: a slot whose generation is the highest one
 *   (TR__PID_GEN_MASK) gives the next actor there generation 1, never 0;
 *   the pid of the highest generation keeps the slot index and the
 *   runtime's id (the generation bits do not spill), and is stale once its
 *   actor is gone. */
#include "testutil.h"

#include "actor/core.h"

static uint32_t pid_index(tr_pid p) {
    return tr__pid_index(p);
}
static uint32_t pid_gen(tr_pid p) {
    return tr__pid_gen(p);
}

/* Sorted copy; fails if a pid value repeats. */
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void assert_all_distinct(const tr_pid *p, size_t n) {
    uint64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = p[i].id;
    qsort(v, n, sizeof *v, cmp_u64);
    for (size_t i = 1; i < n; i++)
        if (v[i] == v[i - 1]) {
            unsigned long long dup = v[i];
            free(v);
            fail_msg("pid %#llx handed out twice", dup);
        }
    free(v);
}

/* Every way a thread can reach a pid: all must say it is gone. */
static void assert_stale(tr_runtime *rt, tr_pid p) {
    char b[4] = "abc";
    assert_false(tr_is_alive(rt, p));
    assert_rc(tr_send(rt, p, 1, b, sizeof b), TR_ENOPROC);
    assert_rc(tr_cast(rt, p, 1, b, sizeof b), TR_ENOPROC);
    assert_rc(tr_exit(rt, p, tr_reason_kill()), TR_ENOPROC);
    assert_rc(tr_exit(rt, p, tr_reason_shutdown()), TR_ENOPROC);
    assert_rc(tr_mailbox_len(rt, p), TR_ENOPROC);
    tr_buf reply = {0};
    assert_rc(tr_call(rt, p, 1, b, sizeof b, &reply, 2000), TR_ENOPROC);
}

/* Spawns a probe, retrying while the table is full of actors that have
 * exited but whose slots are not yet reclaimed (destruction is deferred by
 * an epoch grace period). Counts the retries. */
static tr_pid spawn_probe(tr_runtime *rt, tu_log *log, unsigned *full_retries) {
    tu_probe_arg a = {log};
    int64_t end = tu_now_ms() + 10000;
    for (;;) {
        tr_pid p = TR_PID_NONE;
        int rc = tr_spawn(rt, tu_probe_behaviour(), &a, NULL, &p);
        if (rc == 0)
            return p;
        if (rc != TR_EFULL || tu_now_ms() > end)
            fail_msg("tr_spawn: %s", tr_err_name(rc));
        (*full_retries)++;
        tu_sleep_ms(1);
    }
}

#define SMALL 64
#define ROUNDS TU_SCALE(40, 10)

static void test_pid_generation_reuse_small_table(void **state) {
    (void)state;
    tr_runtime_opts o = {.threads = 2, .max_actors = SMALL};
    tr_runtime *rt = NULL;
    assert_rc(tr_runtime_start(&o, &rt), 0);
    tu_log *log = tu_log_new();
    tr_pid *all = calloc(SMALL * ROUNDS, sizeof(tr_pid));
    size_t n_all = 0;
    unsigned full_retries = 0, reused = 0;
    uint32_t max_gen = 0;

    for (int round = 0; round < ROUNDS; round++) {
        tr_pid cur[SMALL];
        for (int i = 0; i < SMALL; i++) {
            cur[i] = spawn_probe(rt, log, &full_retries);
            assert_true(pid_index(cur[i]) >= 1 && pid_index(cur[i]) <= SMALL);
            if (pid_gen(cur[i]) > 1)
                reused++;
            if (pid_gen(cur[i]) > max_gen)
                max_gen = pid_gen(cur[i]);
        }
        /* The table is full now. */
        tr_pid extra = TR_PID_NONE;
        assert_rc(tr_spawn(rt, tu_probe_behaviour(), NULL, NULL, &extra), TR_EFULL);
        /* Old pids are dead, and nothing sent to them reaches the actors
         * that have their slots now. */
        for (size_t i = 0; i < n_all; i++)
            assert_stale(rt, all[i]);
        for (int i = 0; i < SMALL; i++) {
            assert_true(tr_is_alive(rt, cur[i]));
            tu_ping(rt, cur[i]); /* a call: anything sent before it is handled */
        }
        assert_int_equal(tu_log_count(log, TR_PID_NONE, TU_EV_CAST, TU_ANY), 0);
        assert_int_equal(tu_log_count(log, TR_PID_NONE, TU_EV_INFO, TU_ANY), 0);
        /* Half die by kill, half stop normally. */
        for (int i = 0; i < SMALL; i++) {
            if (i % 2)
                assert_rc(tr_exit(rt, cur[i], tr_reason_kill()), 0);
            else
                tu_stop(rt, cur[i], tr_reason_normal());
        }
        for (int i = 0; i < SMALL; i++) {
            tu_await(rt, cur[i]);
            all[n_all++] = cur[i];
        }
    }
    for (size_t i = 0; i < n_all; i++) {
        assert_stale(rt, all[i]);
        tr_reason r;
        assert_rc(tr_await_exit(rt, all[i], 1000, &r), 0);
        assert_reason_kind(r, TR_EXIT_NOPROC);
    }
    assert_all_distinct(all, n_all);
    print_message("pids: %zu actors in %d rounds through %d slots, %u reused a slot, highest "
                  "generation %u, %u spawns retried on a full table\n",
                  n_all, ROUNDS, SMALL, reused, max_gen, full_retries);
    /* Every slot after the first round is a reuse. */
    assert_int_equal(reused, (unsigned)(SMALL * (ROUNDS - 1)));
    assert_true(max_gen >= ROUNDS);
    free(all);
    assert_rc(tr_runtime_free(&rt), 0);
    tu_log_free(log);
}

/* ---- spawns from inside an actor (the scheduler thread's slot cache) ---- */

enum { SPAWN_MANY = 0x51a7e001u };

typedef struct spawner_state {
    int unused;
} spawner_state;

static int noop_init(tr_self *self, void *state, const void *arg) {
    return TR_CONTINUE;
}

static const tr_behaviour noop_b = {.name = "noop", .init = noop_init};

static int spawner_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    uint32_t n;
    memcpy(&n, m->data, sizeof n);
    tr_pid *out = calloc(n, sizeof(tr_pid));
    uint32_t k = 0;
    for (; k < n; k++)
        if (tr_spawn(tr_self_runtime(self), &noop_b, NULL, NULL, &out[k]) != 0)
            break;
    tr_reply(from, k, out, k * sizeof(tr_pid));
    free(out);
    return TR_CONTINUE;
}

static const tr_behaviour spawner_b = {
    .name = "spawner",
    .state_size = sizeof(spawner_state),
    .init = noop_init,
    .handle_call = spawner_call,
};

static void test_pid_generation_reuse_from_actor(void **state) {
    tu_fix *f = *state;
    tr_runtime *rt = f->rt;
    tr_pid sp;
    assert_rc(tr_spawn(rt, &spawner_b, NULL, NULL, &sp), 0);
    const uint32_t per = TU_SCALE(400, 100);
    const int rounds = TU_SCALE(12, 4);
    tr_pid *all = calloc((size_t)per * rounds, sizeof(tr_pid));
    size_t n_all = 0;
    unsigned reused = 0;
    for (int round = 0; round < rounds; round++) {
        tr_buf b = {0};
        assert_rc(tr_call(rt, sp, SPAWN_MANY, &per, sizeof per, &b, 10000), 0);
        assert_int_equal(b.tag, per);
        assert_int_equal(b.size, per * sizeof(tr_pid));
        tr_pid *cur = b.data;
        for (uint32_t i = 0; i < per; i++) {
            assert_true(tr_is_alive(rt, cur[i]));
            if (pid_gen(cur[i]) > 1)
                reused++;
        }
        for (size_t i = 0; i < n_all; i++)
            assert_false(tr_is_alive(rt, all[i]));
        for (size_t i = 0; i < n_all; i += 7)
            assert_stale(rt, all[i]);
        for (uint32_t i = 0; i < per; i++)
            assert_rc(tr_exit(rt, cur[i], tr_reason_kill()), 0);
        for (uint32_t i = 0; i < per; i++) {
            tu_await(rt, cur[i]);
            all[n_all++] = cur[i];
        }
        tr_buf_free(&b);
    }
    for (size_t i = 0; i < n_all; i++)
        assert_false(tr_is_alive(rt, all[i]));
    assert_all_distinct(all, n_all);
    print_message("pids: %zu actors spawned from an actor, %u reused a slot\n", n_all, reused);
    free(all);
}

/* ---- generation wrap ---- */

/* The slot word of index idx (actor/core.h's table layout). */
static uint64_t *slot_word(tr_runtime *rt, uint32_t idx) {
    tr__slot **segs = rt->segs;
    tr__slot *seg = __atomic_load_n(&segs[idx >> TR__SEG_BITS], __ATOMIC_ACQUIRE);
    assert_non_null(seg);
    return &seg[idx & (TR__SEG_SIZE - 1)].w;
}

/* Waits until the slot of p is reclaimed (its generation moved past p's);
 * returns the new generation. */
static uint32_t wait_slot_reclaimed(tr_runtime *rt, tr_pid p) {
    uint64_t *w = slot_word(rt, pid_index(p));
    int64_t end = tu_now_ms() + 10000;
    for (;;) {
        uint32_t gen = (uint32_t)(__atomic_load_n(w, __ATOMIC_ACQUIRE) >> 32);
        if (gen != pid_gen(p))
            return gen;
        if (tu_now_ms() > end)
            fail_msg("slot %u still has generation %u", pid_index(p), gen);
        tu_sleep_ms(1);
    }
}

static void test_pid_generation_wrap(void **state) {
    (void)state;
    /* One slot: every spawn reuses it. */
    tr_runtime_opts o = {.threads = 2, .max_actors = 1};
    tr_runtime *rt = NULL;
    assert_rc(tr_runtime_start(&o, &rt), 0);
    tu_log *log = tu_log_new();
    unsigned full_retries = 0;

    tr_pid p1 = spawn_probe(rt, log, &full_retries);
    tu_ping(rt, p1);
    assert_rc(tr_exit(rt, p1, tr_reason_kill()), 0);
    tu_await(rt, p1);
    assert_int_equal(wait_slot_reclaimed(rt, p1), pid_gen(p1) + 1);

    /* The slot is free and nothing writes its word until the next spawn:
     * jump to the highest generation. */
    __atomic_store_n(slot_word(rt, pid_index(p1)), (uint64_t)TR__PID_GEN_MASK << 32,
                     __ATOMIC_RELEASE);
    tr_pid top = spawn_probe(rt, log, &full_retries);
    assert_int_equal(pid_index(top), pid_index(p1));
    assert_int_equal(pid_gen(top), TR__PID_GEN_MASK);
    assert_int_equal(tr__pid_rt(top), tr__pid_rt(p1));
    assert_true(tr_is_alive(rt, top));
    tu_ping(rt, top);
    assert_stale(rt, p1);

    /* The generation after the highest is 1: 0 is skipped. */
    tu_stop(rt, top, tr_reason_normal());
    tu_await(rt, top);
    assert_int_equal(wait_slot_reclaimed(rt, top), 1);
    tr_pid wrapped = spawn_probe(rt, log, &full_retries);
    assert_int_equal(pid_index(wrapped), pid_index(top));
    assert_int_equal(pid_gen(wrapped), 1);
    assert_int_equal(tr__pid_rt(wrapped), tr__pid_rt(top));
    assert_true(tr_is_alive(rt, wrapped));
    tu_ping(rt, wrapped);
    assert_stale(rt, top);
    /* (wrapped has the value p1 had: a pid stays unique for 2^25 - 1
     * generations of its slot, as erts reuses a pid after its counter
     * wraps.) Nothing sent to the stale pids reached the actors of the slot. */
    assert_int_equal(tu_log_count(log, TR_PID_NONE, TU_EV_CAST, TU_ANY), 0);
    assert_int_equal(tu_log_count(log, TR_PID_NONE, TU_EV_INFO, TU_ANY), 0);
    print_message("pids: generation %u wrapped to %u in slot %u (%u spawns retried)\n",
                  pid_gen(top), pid_gen(wrapped), pid_index(wrapped), full_retries);
    assert_rc(tr_runtime_free(&rt), 0);
    tu_log_free(log);
}

/* A kill from a scheduler thread takes no reference (borrow mode): the
 * killed actor may run at once on another thread, finish its exit and drop
 * its self reference before the killer has cleared ALIVE (exit_notify
 * claims the exit under the actor's lock and retires the pid after it).
 * Whichever comes last of the last unref and the retire must destroy the
 * actor; here the references go first. Before this was handled, the actor
 * was never destroyed: runtime stop waited 10 s and reported it as still
 * running (seen as a rare leak in test_monitors under load). */
static void test_retire_after_last_unref_destroys(void **state) {
    (void)state;
    tr_runtime_opts o = {.threads = 2};
    tr_runtime *rt = NULL;
    assert_rc(tr_runtime_start(&o, &rt), 0);
    tu_log *log = tu_log_new();
    unsigned full_retries = 0;
    tr_pid p = spawn_probe(rt, log, &full_retries);
    tu_ping(rt, p);
    tr__actor *a = tr__acquire(rt, p); /* a plain thread: a real reference */
    assert_non_null(a);
    /* The ping's turn is over once the actor gave its run token back (the
     * last thing its turn does to it; acquire: pairs with that CAS): only
     * then may its exit finish, as the owner's own exit would. */
    assert_true(
        TU_WAIT(((uintptr_t)__atomic_load_n(&a->mq.head, __ATOMIC_ACQUIRE) & 1) != 0, 10000));
    tr__unref(a);         /* the owner's exit_finish: its self reference */
    tr__unref(a);         /* our reference: none left, the pid still alive */
    tr__pidtab_retire(a); /* the killer, last */
    assert_false(tr_is_alive(rt, p));
    /* destroyed: the slot's generation moves on (actor_destroy) */
    assert_int_equal(wait_slot_reclaimed(rt, p), pid_gen(p) + 1);
    assert_rc(tr_runtime_free(&rt), 0);
    tu_log_free(log);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pid_generation_reuse_small_table),
        TU_TEST(test_pid_generation_reuse_from_actor),
        cmocka_unit_test(test_pid_generation_wrap),
        cmocka_unit_test(test_retire_after_last_unref_destroys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
