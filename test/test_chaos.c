/* Chaos test (issue 8, reliability suite).
 *
 * A supervision tree serves calls from 4 client threads for a fixed time
 * while a killer thread sends random exit signals (kill, and error reasons)
 * to random children and pool workers every few milliseconds:
 *
 *   top (one_for_one)
 *     s1, s2        echo gen_servers, registered under their id
 *     s3            the same, trapping exits (an EXIT makes it stop with
 *                   the EXIT's reason)
 *     sub (one_for_one, nested supervisor)
 *       n1, n2      echo gen_servers
 *       n3          trapping echo gen_server
 *   pool            a pool of 4 echo workers (tr_pool_start)
 *
 * Clients call s1..s3 by name (tr_call_named), top's and sub's workers by
 * the pids which_children gives, and the pool by its pid. Checked:
 *   - every call returns a correct reply or a documented error (TR_ECRASHED,
 *     TR_EEXITED, TR_ENOPROC, TR_ETIMEDOUT, and TR_ENOTFOUND for a name
 *     between two incarnations), and no call takes longer than its timeout
 *     plus a generous slack;
 *   - once the killer stops, the tree is whole again (which_children and
 *     count_children of top and sub, the pool's stats: every child alive);
 *   - restarts are counted: 0 < restarts reported <= exits delivered;
 *   - the pool's books balance (dispatched = done + failed);
 *   - shutdown is clean: tr_pool_stop and tr_supervisor_stop return 0,
 *     tr_runtime_free returns 0; ASan/LSan (leaks) and TSan (races)
 *     check the rest in those builds.
 * The figures (calls, kills, restarts) are printed with print_message.
 *
 * Two cases: test_chaos_children kills workers only; test_chaos_supervisor
 * also kills the nested supervisor (its tables are freed by its cleanup
 * callback, so LeakSanitizer sees no leak).
 *
 * Environment: TROUPE_CHAOS_MS (run time of each case, default 2000 ms,
 * 1500 ms under TSan/ASan), TROUPE_CHAOS_SEED (random seed; printed).
 */
#define _GNU_SOURCE /* pthread_timedjoin_np: a watchdog, so a hang fails fast */
#include "testutil.h"

#include <errno.h>

#if defined(__SANITIZE_ADDRESS__)
#define CH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CH_ASAN 1
#endif
#endif
#ifndef CH_ASAN
#define CH_ASAN 0
#endif
#define CH_SANITIZED (TU_TSAN || CH_ASAN)

#define CH_CLIENTS 4
#define CH_POOL_SIZE 4
#define CH_CALL_TIMEOUT_MS 2000
/* A call may return this much later than its timeout (a loaded 2-core
 * machine, sanitizers) before it counts as late. */
#define CH_SLACK_MS (CH_SANITIZED ? 5000 : 2000)
/* Longest wait for the tree to be whole again after the killer stops. */
#define CH_HEAL_MS 10000
#define CH_TAG_ECHO 0x43480001u
#define CH_MAX_VICTIMS 65536

static int64_t env_i64(const char *name, int64_t dflt) {
    const char *e = getenv(name);
    if (!e || !*e)
        return dflt;
    return strtoll(e, NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* Shared counters                                                           */
/* ------------------------------------------------------------------------ */

typedef struct chaos {
    tr_runtime *rt;
    tr_pid top, pool;
    int64_t end_ms;
    bool kill_sups;
    unsigned seed;

    /* calls */
    atomic_long calls, ok, crashed, exited, noproc, timedout, notfound;
    atomic_long late, bad_rc, bad_reply, mgmt_calls, mgmt_bad, mgmt_eshutdown, mgmt_eexited;
    atomic_long max_call_ms, max_mgmt_ms;
    /* exits sent by the killer */
    atomic_long kills, kill_reasons_kill, kill_reasons_error, kill_sup_hits, kill_misses, kill_bad;
    /* inits of echo servers (initial starts and restarts) */
    atomic_long inits, reg_fail;

    /* what each thread is doing (for the watchdog) */
    _Atomic(const char *) doing[CH_CLIENTS + 1];

    pthread_mutex_t mu;
    char first_bad[512];

    /* pids the killer's exits reached (written by the killer only, read
     * after it is joined) */
    uint64_t victims[CH_MAX_VICTIMS];
    size_t n_victims;

    tr_child_spec sub_children[3];
    tr_sup_spec sub_spec;
} chaos;

typedef struct echo_arg {
    chaos *c;
    char name[16];
    bool trap;
    bool reg; /* register under name in init */
} echo_arg;

typedef struct echo_state {
    chaos *c;
} echo_state;

static void note_bad(chaos *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_bad(chaos *c, const char *fmt, ...) {
    pthread_mutex_lock(&c->mu);
    if (c->first_bad[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->first_bad, sizeof c->first_bad, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&c->mu);
}

static void atomic_max(atomic_long *m, long v) {
    long cur = atomic_load(m);
    while (v > cur && !atomic_compare_exchange_weak(m, &cur, v)) {
    }
}

/* ------------------------------------------------------------------------ */
/* The echo server                                                           */
/* ------------------------------------------------------------------------ */

static int echo_init(tr_self *self, void *state, const void *arg) {
    echo_state *s = state;
    const echo_arg *a = arg;
    s->c = a->c;
    atomic_fetch_add(&s->c->inits, 1);
    if (a->trap)
        tr_trap_exit(self, true);
    if (a->reg) {
        /* OTP removes a dead process's names before anyone learns of its
         * exit, so a restarted server always finds its name free. */
        tr_pid holder = TR_PID_NONE;
        int rc = tr_register(tr_self_runtime(self), a->name, tr_self_pid(self), &holder);
        if (rc != 0) {
            atomic_fetch_add(&s->c->reg_fail, 1);
            note_bad(s->c, "init of %s: tr_register returned %s (holder alive: %d)", a->name,
                     tr_err_name(rc), (int)tr_is_alive(tr_self_runtime(self), holder));
            return tr_stop(self, tr_reason_error(rc, "register failed"));
        }
    }
    return TR_CONTINUE;
}

static int echo_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)self;
    (void)state;
    tr_reply(from, m->tag, m->data, m->size);
    return TR_CONTINUE;
}

static int echo_info(tr_self *self, void *state, const tr_msg *m) {
    (void)state;
    if (m->kind == TR_MSG_EXIT) {
        /* a trapping server stops with the reason of any exit signal */
        const tr_reason *r = tr_msg_reason(m);
        return tr_stop(self, r ? *r : tr_reason_error(-1, "no reason"));
    }
    return TR_CONTINUE;
}

static const tr_behaviour echo_behaviour = {
    .name = "chaos_echo",
    .state_size = sizeof(echo_state),
    .init = echo_init,
    .handle_call = echo_call,
    .handle_info = echo_info,
};

/* ------------------------------------------------------------------------ */
/* Looking the tree up                                                       */
/* ------------------------------------------------------------------------ */

/* which_children, timed and checked; returns the count (<= max) or -1. */
static int children_of(chaos *c, tr_pid sup, tr_child_info *out, size_t max) {
    size_t n = 0;
    int64_t t0 = tu_now_ms();
    int rc = tr_supervisor_which_children(c->rt, sup, out, max, &n);
    atomic_max(&c->max_mgmt_ms, (long)(tu_now_ms() - t0));
    atomic_fetch_add(&c->mgmt_calls, 1);
    if (rc == TR_ESHUTDOWN || rc == TR_EEXITED) {
        /* sub, told to stop by an error exit signal from the killer (a
         * plain thread), answers with TR_ESHUTDOWN while it stops its
         * children; killed while the call waits, it gives TR_EEXITED (as
         * any tr_call). supervisor.h lists neither among the errors of the
         * management calls (reported); counted and printed, not failed. */
        atomic_fetch_add(rc == TR_ESHUTDOWN ? &c->mgmt_eshutdown : &c->mgmt_eexited, 1);
        return -1;
    }
    if (rc != 0) {
        if (rc != TR_ENOPROC) { /* only a dead (restarting) sub may refuse */
            atomic_fetch_add(&c->mgmt_bad, 1);
            note_bad(c, "tr_supervisor_which_children returned %s", tr_err_name(rc));
        }
        return -1;
    }
    return (int)(n < max ? n : max);
}

static int pool_workers(chaos *c, tr_pool_stats *st, tr_pool_worker_stats *w, size_t max) {
    size_t n = 0;
    int64_t t0 = tu_now_ms();
    int rc = tr_pool_get_stats(c->rt, c->pool, st, w, max, &n);
    atomic_max(&c->max_mgmt_ms, (long)(tu_now_ms() - t0));
    atomic_fetch_add(&c->mgmt_calls, 1);
    if (rc != 0) {
        atomic_fetch_add(&c->mgmt_bad, 1);
        note_bad(c, "tr_pool_get_stats returned %s", tr_err_name(rc));
        return -1;
    }
    return (int)(n < max ? n : max);
}

/* The pid of sub (top's supervisor child), or NONE. */
static tr_pid sub_pid(chaos *c) {
    tr_child_info ci[8];
    int n = children_of(c, c->top, ci, 8);
    for (int i = 0; i < n; i++)
        if (ci[i].type == TR_SUPERVISOR)
            return ci[i].pid;
    return TR_PID_NONE;
}

/* ------------------------------------------------------------------------ */
/* Clients                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct client {
    chaos *c;
    int idx;
    unsigned seed;
    uint64_t seq;
} client;

/* One call; checks the outcome. named: may return TR_ENOTFOUND. */
static void one_call(client *cl, tr_pid to, const char *name) {
    chaos *c = cl->c;
    uint64_t v = ((uint64_t)cl->idx << 56) | ++cl->seq;
    tr_buf b;
    memset(&b, 0, sizeof b);
    int64_t t0 = tu_now_ms();
    int rc = name ? tr_call_named(c->rt, name, CH_TAG_ECHO, &v, sizeof v, &b, CH_CALL_TIMEOUT_MS)
                  : tr_call(c->rt, to, CH_TAG_ECHO, &v, sizeof v, &b, CH_CALL_TIMEOUT_MS);
    int64_t took = tu_now_ms() - t0;
    atomic_fetch_add(&c->calls, 1);
    atomic_max(&c->max_call_ms, (long)took);
    if (took > CH_CALL_TIMEOUT_MS + CH_SLACK_MS) {
        atomic_fetch_add(&c->late, 1);
        note_bad(c, "call to %s took %lld ms (timeout %d ms), returned %s", name ? name : "pid",
                 (long long)took, CH_CALL_TIMEOUT_MS, tr_err_name(rc));
    }
    switch (rc) {
    case 0: {
        uint64_t got = 0;
        if (b.size == sizeof got)
            memcpy(&got, b.data, sizeof got);
        if (b.size != sizeof got || got != v || b.tag != CH_TAG_ECHO) {
            atomic_fetch_add(&c->bad_reply, 1);
            note_bad(c, "call to %s: wrong reply (size %zu, tag %#x)", name ? name : "pid", b.size,
                     b.tag);
        } else {
            atomic_fetch_add(&c->ok, 1);
        }
        break;
    }
    case TR_ECRASHED:
        atomic_fetch_add(&c->crashed, 1);
        break;
    case TR_EEXITED:
        atomic_fetch_add(&c->exited, 1);
        break;
    case TR_ENOPROC:
        atomic_fetch_add(&c->noproc, 1);
        break;
    case TR_ETIMEDOUT:
        atomic_fetch_add(&c->timedout, 1);
        if (took < CH_CALL_TIMEOUT_MS) {
            atomic_fetch_add(&c->bad_rc, 1);
            note_bad(c, "TR_ETIMEDOUT after %lld ms < timeout %d ms", (long long)took,
                     CH_CALL_TIMEOUT_MS);
        }
        break;
    case TR_ENOTFOUND:
        if (name) {
            atomic_fetch_add(&c->notfound, 1);
            break;
        }
        /* fall through */
    default:
        atomic_fetch_add(&c->bad_rc, 1);
        note_bad(c, "call to %s returned %s (%d)", name ? name : "pid", tr_err_name(rc), rc);
        break;
    }
    tr_buf_free(&b);
}

static void *client_main(void *arg) {
    client *cl = arg;
    chaos *c = cl->c;
    static const char *const names[] = {"s1", "s2", "s3"};
    tr_child_info top_kids[8], sub_kids[8];
    int n_top = -1, n_sub = -1;
    while (tu_now_ms() < c->end_ms) {
        switch (rand_r(&cl->seed) % 4) {
        case 0:
            atomic_store(&c->doing[cl->idx], "tr_call_named");
            one_call(cl, TR_PID_NONE, names[rand_r(&cl->seed) % 3]);
            break;
        case 1:
            atomic_store(&c->doing[cl->idx], "tr_call(pool)");
            one_call(cl, c->pool, NULL);
            break;
        case 2: { /* a worker of top, by pid */
            if (n_top <= 0) {
                atomic_store(&c->doing[cl->idx], "which_children(top)");
                n_top = children_of(c, c->top, top_kids, 8);
            }
            if (n_top <= 0)
                break;
            tr_child_info *k = &top_kids[rand_r(&cl->seed) % (unsigned)n_top];
            if (k->type != TR_WORKER || tr_pid_is_none(k->pid))
                break;
            atomic_store(&c->doing[cl->idx], "tr_call(top child)");
            one_call(cl, k->pid, NULL);
            if (rand_r(&cl->seed) % 8 == 0)
                n_top = -1; /* refresh now and then */
            break;
        }
        default: { /* a worker of sub, by pid */
            if (n_sub <= 0) {
                atomic_store(&c->doing[cl->idx], "which_children(sub)");
                tr_pid sp = sub_pid(c);
                n_sub = tr_pid_is_none(sp) ? -1 : children_of(c, sp, sub_kids, 8);
            }
            if (n_sub <= 0)
                break;
            tr_child_info *k = &sub_kids[rand_r(&cl->seed) % (unsigned)n_sub];
            if (tr_pid_is_none(k->pid)) {
                n_sub = -1;
                break;
            }
            atomic_store(&c->doing[cl->idx], "tr_call(sub child)");
            one_call(cl, k->pid, NULL);
            if (rand_r(&cl->seed) % 8 == 0)
                n_sub = -1;
            break;
        }
        }
        if (CH_SANITIZED)
            tu_sleep_us(200); /* leave the killer some CPU on 2 cores */
    }
    atomic_store(&c->doing[cl->idx], "done");
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The killer                                                                */
/* ------------------------------------------------------------------------ */

static void *killer_main(void *arg) {
    chaos *c = arg;
    unsigned seed = c->seed ^ 0x5eedu;
    while (tu_now_ms() < c->end_ms) {
        tu_sleep_us(1000 + rand_r(&seed) % 4000); /* every 1-5 ms */
        tr_pid victim = TR_PID_NONE;
        bool is_sup = false;
        switch (rand_r(&seed) % 3) {
        case 0: { /* a child of top: s1..s3, and sub when kill_sups */
            atomic_store(&c->doing[CH_CLIENTS], "which_children(top)");
            tr_child_info ci[8];
            int n = children_of(c, c->top, ci, 8);
            if (n <= 0)
                break;
            tr_child_info *k = &ci[rand_r(&seed) % (unsigned)n];
            if (k->type == TR_SUPERVISOR && !c->kill_sups)
                break;
            victim = k->pid;
            is_sup = k->type == TR_SUPERVISOR;
            break;
        }
        case 1: { /* a child of sub */
            atomic_store(&c->doing[CH_CLIENTS], "which_children(sub)");
            tr_pid sp = sub_pid(c);
            if (tr_pid_is_none(sp))
                break;
            tr_child_info ci[8];
            int n = children_of(c, sp, ci, 8);
            if (n <= 0)
                break;
            victim = ci[rand_r(&seed) % (unsigned)n].pid;
            break;
        }
        default: { /* a pool worker */
            atomic_store(&c->doing[CH_CLIENTS], "tr_pool_get_stats");
            tr_pool_stats st;
            tr_pool_worker_stats w[CH_POOL_SIZE];
            int n = pool_workers(c, &st, w, CH_POOL_SIZE);
            if (n <= 0)
                break;
            victim = w[rand_r(&seed) % (unsigned)n].pid;
            break;
        }
        }
        if (tr_pid_is_none(victim))
            continue;
        bool kill = rand_r(&seed) % 2 == 0;
        tr_reason r = kill ? tr_reason_kill() : tr_reason_error(42, "chaos");
        atomic_store(&c->doing[CH_CLIENTS], "tr_exit");
        int rc = tr_exit(c->rt, victim, r);
        if (rc == 0) {
            atomic_fetch_add(&c->kills, 1);
            atomic_fetch_add(kill ? &c->kill_reasons_kill : &c->kill_reasons_error, 1);
            if (is_sup)
                atomic_fetch_add(&c->kill_sup_hits, 1);
            if (c->n_victims < CH_MAX_VICTIMS) /* the killer's own array */
                c->victims[c->n_victims++] = victim.id;
        } else if (rc == TR_ENOPROC) {
            atomic_fetch_add(&c->kill_misses, 1); /* it died meanwhile */
        } else {
            atomic_fetch_add(&c->kill_bad, 1);
            note_bad(c, "tr_exit returned %s", tr_err_name(rc));
        }
    }
    atomic_store(&c->doing[CH_CLIENTS], "done");
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Whole again?                                                              */
/* ------------------------------------------------------------------------ */

/* True when every child of top and sub and every pool worker is alive;
 * else why says what is missing. *restarts gets the restarts the
 * supervisors and the pool report. */
static bool tree_whole(chaos *c, char *why, size_t wn, long *restarts) {
    tr_runtime *rt = c->rt;
    long rs = 0;
    tr_child_info ci[8];
    size_t n = 0;
    int rc = tr_supervisor_which_children(rt, c->top, ci, 8, &n);
    if (rc != 0 || n != 4) {
        snprintf(why, wn, "which_children(top): %s, %zu children (want 4)", tr_err_name(rc), n);
        return false;
    }
    tr_pid sp = TR_PID_NONE;
    for (size_t i = 0; i < n; i++) {
        if (!tr_is_alive(rt, ci[i].pid)) {
            snprintf(why, wn, "top's child %s not alive", ci[i].id);
            return false;
        }
        rs += ci[i].restarts;
        if (ci[i].type == TR_SUPERVISOR)
            sp = ci[i].pid;
    }
    tr_child_counts cc;
    memset(&cc, 0, sizeof cc);
    rc = tr_supervisor_count_children(rt, c->top, &cc);
    if (rc != 0 || cc.specs != 4 || cc.active != 4 || cc.supervisors != 1 || cc.workers != 3) {
        snprintf(why, wn, "count_children(top): %s, specs %zu active %zu sups %zu workers %zu",
                 tr_err_name(rc), cc.specs, cc.active, cc.supervisors, cc.workers);
        return false;
    }
    rc = tr_supervisor_which_children(rt, sp, ci, 8, &n);
    if (rc != 0 || n != 3) {
        snprintf(why, wn, "which_children(sub): %s, %zu children (want 3)", tr_err_name(rc), n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!tr_is_alive(rt, ci[i].pid)) {
            snprintf(why, wn, "sub's child %s not alive", ci[i].id);
            return false;
        }
        rs += ci[i].restarts;
    }
    memset(&cc, 0, sizeof cc);
    rc = tr_supervisor_count_children(rt, sp, &cc);
    if (rc != 0 || cc.specs != 3 || cc.active != 3 || cc.supervisors != 0 || cc.workers != 3) {
        snprintf(why, wn, "count_children(sub): %s, specs %zu active %zu sups %zu workers %zu",
                 tr_err_name(rc), cc.specs, cc.active, cc.supervisors, cc.workers);
        return false;
    }
    tr_pool_stats st;
    tr_pool_worker_stats w[CH_POOL_SIZE + 1];
    rc = tr_pool_get_stats(rt, c->pool, &st, w, CH_POOL_SIZE + 1, &n);
    if (rc != 0 || n != CH_POOL_SIZE || st.size != CH_POOL_SIZE) {
        snprintf(why, wn, "pool stats: %s, %zu rows, size %u (want %d)", tr_err_name(rc), n,
                 st.size, CH_POOL_SIZE);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!tr_is_alive(rt, w[i].pid)) {
            snprintf(why, wn, "pool worker %u not alive", w[i].index);
            return false;
        }
    }
    if (st.jobs_dispatched != st.jobs_done + st.jobs_failed) {
        snprintf(why, wn, "pool: dispatched %llu != done %llu + failed %llu",
                 (unsigned long long)st.jobs_dispatched, (unsigned long long)st.jobs_done,
                 (unsigned long long)st.jobs_failed);
        return false;
    }
    rs += (long)st.restarts;
    *restarts = rs;
    return true;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Distinct pids among the victims: each died once and was restarted once. */
static long distinct_victims(chaos *c) {
    qsort(c->victims, c->n_victims, sizeof c->victims[0], cmp_u64);
    long n = 0;
    for (size_t i = 0; i < c->n_victims; i++)
        if (i == 0 || c->victims[i] != c->victims[i - 1])
            n++;
    return n;
}

/* ------------------------------------------------------------------------ */
/* The test                                                                  */
/* ------------------------------------------------------------------------ */

static void run_chaos(tu_fix *f, bool kill_sups, tr_pool_strategy strategy) {
    chaos *c = calloc(1, sizeof *c);
    assert_non_null(c);
    pthread_mutex_init(&c->mu, NULL);
    c->rt = f->rt;
    c->kill_sups = kill_sups;
    c->seed = (unsigned)env_i64("TROUPE_CHAOS_SEED", (int64_t)(tu_now_us() & 0x7fffffff));
    int64_t run_ms = env_i64("TROUPE_CHAOS_MS", CH_SANITIZED ? 1500 : 2000);
    print_message("chaos: seed %u (TROUPE_CHAOS_SEED), %lld ms, kill supervisors: %s\n", c->seed,
                  (long long)run_ms, kill_sups ? "yes" : "no");

    /* the tree */
    echo_arg top_args[3], sub_args[3];
    for (int i = 0; i < 3; i++) {
        top_args[i] = (echo_arg){.c = c, .trap = i == 2, .reg = true};
        snprintf(top_args[i].name, sizeof top_args[i].name, "s%d", i + 1);
        sub_args[i] = (echo_arg){.c = c, .trap = i == 2, .reg = false};
        snprintf(sub_args[i].name, sizeof sub_args[i].name, "n%d", i + 1);
    }
    for (int i = 0; i < 3; i++)
        c->sub_children[i] = (tr_child_spec){.id = sub_args[i].name,
                                             .behaviour = &echo_behaviour,
                                             .arg = &sub_args[i],
                                             .arg_size = sizeof sub_args[i],
                                             .restart = TR_PERMANENT,
                                             .shutdown_ms = 1000,
                                             .type = TR_WORKER};
    c->sub_spec = (tr_sup_spec){
        .flags = {.strategy = TR_ONE_FOR_ONE, .intensity = 10000, .period_ms = 1000},
        .children = c->sub_children,
        .n_children = 3,
    };
    tr_child_spec top_children[4];
    for (int i = 0; i < 3; i++)
        top_children[i] = (tr_child_spec){.id = top_args[i].name,
                                          .behaviour = &echo_behaviour,
                                          .arg = &top_args[i],
                                          .arg_size = sizeof top_args[i],
                                          .restart = TR_PERMANENT,
                                          .shutdown_ms = 1000,
                                          .type = TR_WORKER};
    top_children[3] = (tr_child_spec){.id = "sub",
                                      .behaviour = tr_supervisor_behaviour(),
                                      .arg = &c->sub_spec,
                                      .arg_size = 0,
                                      .restart = TR_PERMANENT,
                                      .shutdown_ms = TR_INFINITY,
                                      .type = TR_SUPERVISOR};
    tr_sup_spec top_spec = {
        .flags = {.strategy = TR_ONE_FOR_ONE, .intensity = 10000, .period_ms = 1000},
        .children = top_children,
        .n_children = 4,
    };
    assert_rc(tr_supervisor_start(c->rt, &top_spec, &c->top), 0);

    echo_arg pool_arg = {.c = c, .name = "pool"};
    tr_pool_opts po = {
        .worker = &echo_behaviour,
        .worker_arg = &pool_arg,
        .worker_arg_size = sizeof pool_arg,
        .size = CH_POOL_SIZE,
        .strategy = strategy,
        .intensity = 10000,
        .period_ms = 1000,
        .worker_shutdown_ms = 1000,
    };
    assert_rc(tr_pool_start(c->rt, &po, &c->pool), 0);
    long inits0 = atomic_load(&c->inits);
    assert_int_equal(inits0, 6 + CH_POOL_SIZE);

    /* run */
    c->end_ms = tu_now_ms() + run_ms;
    pthread_t th[CH_CLIENTS + 1];
    client cl[CH_CLIENTS];
    for (int i = 0; i < CH_CLIENTS; i++) {
        cl[i] = (client){.c = c, .idx = i, .seed = c->seed + 7919u * (unsigned)(i + 1)};
        atomic_store(&c->doing[i], "starting");
        assert_int_equal(pthread_create(&th[i], NULL, client_main, &cl[i]), 0);
    }
    atomic_store(&c->doing[CH_CLIENTS], "starting");
    assert_int_equal(pthread_create(&th[CH_CLIENTS], NULL, killer_main, c), 0);

    /* watchdog: a thread stuck in a call fails the test now, not at the
     * CTest timeout */
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += (time_t)((run_ms + CH_CALL_TIMEOUT_MS + CH_SLACK_MS) / 1000 + 20);
    for (int i = 0; i <= CH_CLIENTS; i++) {
        int jr = pthread_timedjoin_np(th[i], NULL, &dl);
        if (jr == ETIMEDOUT) {
            fprintf(stderr, "chaos: %s %d is stuck in %s; aborting\n",
                    i < CH_CLIENTS ? "client" : "killer", i, atomic_load(&c->doing[i]));
            abort();
        }
        assert_int_equal(jr, 0);
    }

    /* heal */
    char why[256] = "";
    long restarts = 0;
    bool whole = TU_WAIT(tree_whole(c, why, sizeof why, &restarts), CH_HEAL_MS);
    long inits = atomic_load(&c->inits) - inits0;
    long distinct = distinct_victims(c);

    print_message("chaos: calls %ld (ok %ld, crashed %ld, exited %ld, noproc %ld, notfound %ld, "
                  "timedout %ld, late %ld, bad %ld, bad replies %ld), longest call %ld ms\n",
                  atomic_load(&c->calls), atomic_load(&c->ok), atomic_load(&c->crashed),
                  atomic_load(&c->exited), atomic_load(&c->noproc), atomic_load(&c->notfound),
                  atomic_load(&c->timedout), atomic_load(&c->late), atomic_load(&c->bad_rc),
                  atomic_load(&c->bad_reply), atomic_load(&c->max_call_ms));
    print_message("chaos: management calls %ld (TR_ESHUTDOWN %ld, TR_EEXITED %ld, bad %ld), "
                  "longest %ld ms\n",
                  atomic_load(&c->mgmt_calls), atomic_load(&c->mgmt_eshutdown),
                  atomic_load(&c->mgmt_eexited), atomic_load(&c->mgmt_bad),
                  atomic_load(&c->max_mgmt_ms));
    print_message("chaos: kills %ld of %ld distinct pids (kill %ld, error %ld, of the "
                  "supervisor %ld), missed %ld, bad %ld\n",
                  atomic_load(&c->kills), distinct, atomic_load(&c->kill_reasons_kill),
                  atomic_load(&c->kill_reasons_error), atomic_load(&c->kill_sup_hits),
                  atomic_load(&c->kill_misses), atomic_load(&c->kill_bad));
    print_message("chaos: restarts %ld reported by the supervisors and the pool, %ld server "
                  "inits after the start, %ld failed registrations; tree whole: %s%s%s\n",
                  restarts, inits, atomic_load(&c->reg_fail), whole ? "yes" : "no",
                  whole ? "" : ", ", why);
    if (c->first_bad[0])
        print_message("chaos: first problem: %s\n", c->first_bad);

    /* every call answered correctly or with a documented error, in time */
    assert_int_equal(atomic_load(&c->bad_rc), 0);
    assert_int_equal(atomic_load(&c->bad_reply), 0);
    assert_int_equal(atomic_load(&c->late), 0);
    assert_int_equal(atomic_load(&c->mgmt_bad), 0);
    assert_int_equal(atomic_load(&c->kill_bad), 0);
    assert_int_equal(atomic_load(&c->reg_fail), 0);
    assert_true(atomic_load(&c->ok) > 0);
    /* the tree is whole again, restarts were counted */
    assert_true(whole);
    assert_true(atomic_load(&c->kills) > 0);
    assert_true(restarts > 0);
    assert_true(restarts <= atomic_load(&c->kills));
    if (!kill_sups && c->n_victims < CH_MAX_VICTIMS) {
        /* every pid an exit reached died and was restarted once, and
         * nothing else died */
        assert_int_equal(restarts, distinct);
        assert_int_equal(inits, distinct);
    }
    assert_true(inits >= restarts);

    /* every server answers again */
    static const char *const names[] = {"s1", "s2", "s3"};
    for (int i = 0; i < 3; i++)
        assert_rc(tr_call_named(c->rt, names[i], CH_TAG_ECHO, NULL, 0, NULL, 5000), 0);
    for (int i = 0; i < CH_POOL_SIZE; i++)
        assert_rc(tr_call(c->rt, c->pool, CH_TAG_ECHO, NULL, 0, NULL, 5000), 0);

    /* clean shutdown */
    assert_rc(tr_pool_stop(c->rt, c->pool, 10000), 0);
    assert_rc(tr_supervisor_stop(c->rt, c->top, 10000), 0);
    assert_false(tr_is_alive(c->rt, c->top));
    assert_int_equal(tr_registered_count(c->rt), 0);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Killer hits gen_server children of both supervisors and pool workers. */
static void test_chaos_children(void **state) {
    run_chaos(*state, false, TR_POOL_ROUND_ROBIN);
}

/* As above, and also the nested supervisor. */
static void test_chaos_supervisor(void **state) {
    run_chaos(*state, true, TR_POOL_LEAST_LOADED);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST4(test_chaos_children),
        TU_TEST4(test_chaos_supervisor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
