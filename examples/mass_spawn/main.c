/* mass_spawn — a supervised spawner service with many ticking workers.
 *
 *   supervisor (one_for_one, restart backoff 250 ms x2 .. 4 s, 10 % jitter)
 *     └── spawner  (permanent)
 *           ├── worker 1     linked + monitored; ticks every 0.5..3 s
 *           ├── ...
 *           └── worker N
 *
 * Two kinds of worker, the same tree:
 *   mass_spawn            each worker is an actor with an interval timer
 *   mass_spawn --fibers   each worker is a fiber looping "sleep a random
 *                         tick; send tick", the shape of Wippy's mass-spawn
 *
 * The spawner spawns NUM_WORKERS long-lived workers at start-up (printing
 * the spawn time and the memory per worker), counts the `tick` messages
 * they send it, and prints a stats line every STATS_INTERVAL, with the
 * resident memory per process (RSS growth since before the spawn / live
 * workers, from /proc/self/statm). The workers
 * are linked to the spawner, so if the spawner crashes they go down with
 * it (no leak) and the supervisor restarts the spawner, which spawns a
 * fresh set. SIGINT (Ctrl+C) or SIGTERM stops the tree gracefully: every
 * worker's terminate runs, the spawner prints a final line, exit code 0.
 *
 * Usage: mass_spawn [--fibers] [--help]   (any other argument: exit 2)
 *
 * Environment (durations: 250ms, 2s, 1.5s, 1m; a bare number is whole ms;
 * SPAWNER_CRASH_AFTER and RUN_FOR also take off):
 *   NUM_WORKERS          workers to spawn (1..1000000)         default 10000
 *   TICK_MIN, TICK_MAX   range of each worker's random period   500ms, 3s
 *   STATS_INTERVAL       period of the stats line               2s
 *   SPAWNER_CRASH_AFTER  crash the spawner this long after each start
 *                        (to watch the restart)                 off
 *   RUN_FOR              stop by itself after this long         off (wait for a signal)
 * An invalid value is an error that names the variable (exit code 2).
 *
 * Signals: main blocks SIGINT/SIGTERM/SIGUSR1/SIGUSR2 before the runtime
 * starts, so every thread inherits the mask, and waits for them with
 * sigtimedwait(): no signal handler runs at all, so nothing
 * async-signal-unsafe can happen. SIGUSR1 (kill -USR1 <pid>) prints the
 * supervision tree and the runtime's metrics (Prometheus text format) from
 * main, then goes on; SIGUSR2 is the watcher's "the supervisor gave up".
 * Crash and supervisor reports go to stderr (the runtime's default log
 * handler), e.g. with SPAWNER_CRASH_AFTER.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <troupe/troupe.h>

enum {
    SPAWN = 1, /* spawner -> itself: spawn the workers */
    TICK,      /* worker timer, then worker -> spawner */
    STATS,     /* spawner's stats timer */
    CRASH      /* spawner's simulated crash timer */
};

typedef struct config {
    bool fibers; /* --fibers: the workers are fibers, not actors */
    long num_workers;
    tr_duration_ms tick_min, tick_max, stats_interval, crash_after, run_for;
} config;

/* Counters shared by main, the spawner and the workers (owned by main,
 * outlive the runtime). */
typedef struct shared {
    const config *cfg;
    atomic_uint_fast64_t spawned_total;    /* all generations */
    atomic_uint_fast64_t terminated_total; /* worker terminate calls */
    atomic_uint generation;
    tr_chan *gone; /* a worker that stops when all have stopped wakes main */
} shared;

/* ------------------------------------------------------------------------ */
/* Environment                                                               */
/* ------------------------------------------------------------------------ */

static int env_error(const char *name, const char *value, const char *expected) {
    fprintf(stderr, "mass_spawn: invalid %s=\"%s\": expected %s\n", name, value, expected);
    return -1;
}

/* Parses "250ms", "2s", "1.5s", "1m" or "250" (whole ms) into *out (> 0);
 * with can_be_off, "off" gives 0 (the feature is off). */
static int parse_duration(const char *name, tr_duration_ms dflt, bool can_be_off,
                          tr_duration_ms *out) {
    const char *v = getenv(name);
    if (!v) {
        *out = dflt;
        return 0;
    }
    if (can_be_off && strcmp(v, "off") == 0) {
        *out = 0;
        return 0;
    }
    const char *want = can_be_off ? "off or a positive duration such as 250ms, 2s or 1.5s"
                                  : "a positive duration such as 250ms, 2s or 1.5s";
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || errno != 0 || !(x > 0) || (*v < '0' || *v > '9'))
        return env_error(name, v, want);
    double ms;
    if (*end == '\0' && strspn(v, "0123456789") != strlen(v))
        return env_error(name, v, "a unit (ms, s, m) after a fraction: a bare number is whole ms");
    if (strcmp(end, "ms") == 0 || *end == '\0')
        ms = x;
    else if (strcmp(end, "s") == 0)
        ms = x * 1000.0;
    else if (strcmp(end, "m") == 0)
        ms = x * 60000.0;
    else
        return env_error(name, v, want);
    if (ms < 1 || ms > 86400000.0)
        return env_error(name, v, "a duration between 1ms and 24h");
    *out = (tr_duration_ms)(ms + 0.5);
    return 0;
}

static int parse_count(const char *name, long dflt, long min, long max, long *out) {
    const char *v = getenv(name);
    if (!v) {
        *out = dflt;
        return 0;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end != '\0' || errno != 0 || x < min || x > max || *v < '0' || *v > '9') {
        char want[96];
        snprintf(want, sizeof want, "a whole number from %ld to %ld", min, max);
        return env_error(name, v, want);
    }
    *out = x;
    return 0;
}

static int read_config(config *c) {
    if (parse_count("NUM_WORKERS", 10000, 1, 1000000, &c->num_workers) ||
        parse_duration("TICK_MIN", 500, false, &c->tick_min) ||
        parse_duration("TICK_MAX", 3000, false, &c->tick_max) ||
        parse_duration("STATS_INTERVAL", 2000, false, &c->stats_interval) ||
        parse_duration("SPAWNER_CRASH_AFTER", 0, true, &c->crash_after) ||
        parse_duration("RUN_FOR", 0, true, &c->run_for))
        return -1;
    if (c->tick_min > c->tick_max) {
        fprintf(stderr,
                "mass_spawn: invalid TICK_MIN=%" PRId64 "ms > TICK_MAX=%" PRId64
                "ms: TICK_MIN must not exceed TICK_MAX\n",
                c->tick_min, c->tick_max);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Workers                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct worker_arg {
    tr_pid spawner;
    tr_duration_ms period_ms; /* actors: the tick period */
    uint64_t seed;            /* fibers: the seed of its random ticks */
    shared *sh;
} worker_arg;

typedef struct worker_state { /* 24 bytes per worker, besides the actor */
    tr_pid spawner;
    shared *sh;
    tr_timer timer;
} worker_state;

/* Counts a stopped worker; the last one (of every generation so far) wakes
 * main, which waits for them at shutdown (a WaitGroup made of a channel). */
static void worker_gone(shared *sh) {
    if (atomic_fetch_add(&sh->terminated_total, 1) + 1 == atomic_load(&sh->spawned_total))
        tr_chan_try_send(sh->gone, ""); /* full: main has a wake-up already */
}

static int worker_init(tr_self *self, void *state, const void *arg) {
    const worker_arg *a = arg;
    worker_state *w = state;
    w->spawner = a->spawner;
    w->sh = a->sh;
    /* Trap exits so that the spawner's exit reaches us as a message and
     * terminate runs (as OTP: an exit signal that is not trapped kills a
     * gen_server without calling terminate). */
    tr_trap_exit(self, true);
    int rc = tr_send_interval(tr_self_runtime(self), tr_self_pid(self), a->period_ms, TICK, NULL, 0,
                              &w->timer);
    return rc == 0 ? TR_CONTINUE : tr_stop(self, tr_reason_error(rc, "no tick timer"));
}

static int worker_info(tr_self *self, void *state, const tr_msg *msg) {
    worker_state *w = state;
    if (msg->kind == TR_MSG_TIMER && msg->tag == TICK)
        tr_send(tr_self_runtime(self), w->spawner, TICK, NULL, 0);
    else if (msg->kind == TR_MSG_EXIT) /* the spawner (our only link) stopped */
        return tr_stop(self, *tr_msg_reason(msg));
    return TR_CONTINUE;
}

static void worker_terminate(tr_self *self, void *state, tr_reason reason) {
    worker_state *w = state;
    tr_cancel_timer(tr_self_runtime(self), w->timer);
    worker_gone(w->sh);
}

static const tr_behaviour worker_behaviour = {
    .name = "ticker",
    .state_size = sizeof(worker_state),
    .init = worker_init,
    .handle_info = worker_info,
    .terminate = worker_terminate,
};

/* The fiber worker (--fibers): one loop, written in a blocking style. It
 * starts with trap_exit set, so the spawner's exit arrives as a message;
 * it "sleeps" with a receive whose timeout is the tick, so that message
 * ends the sleep at once (a plain tr_sleep would notice it only after the
 * tick). */
static uint64_t next_random(uint64_t *s);

static int fiber_worker(tr_self *self, void *arg) {
    worker_arg a = *(const worker_arg *)arg;
    free(arg);
    const config *c = a.sh->cfg;
    tr_runtime *rt = tr_self_runtime(self);
    uint64_t rng = a.seed | 1;
    for (;;) {
        tr_duration_ms tick = c->tick_min;
        if (c->tick_max > c->tick_min)
            tick += (tr_duration_ms)(next_random(&rng) % (uint64_t)(c->tick_max - c->tick_min + 1));
        tr_msg *msg = NULL;
        int rc = tr_receive(self, NULL, NULL, tick, &msg); /* sleep(tick) */
        bool stop = rc == 0 ? msg->kind == TR_MSG_EXIT : rc != TR_ETIMEDOUT;
        tr_msg_free(msg);
        if (stop) /* the spawner (our only link) stopped, or an error */
            break;
        if (rc == TR_ETIMEDOUT) /* the tick passed */
            tr_send(rt, a.spawner, TICK, NULL, 0);
    }
    worker_gone(a.sh);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Spawner                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct spawner_state {
    shared *sh;
    unsigned generation;
    uint64_t rng;
    size_t spawned, alive;
    tr_pid *workers;   /* sorted by id, to tell a worker's EXIT from the parent's */
    size_t rss_before; /* RSS before the workers were spawned */
    uint64_t total_ticks, last_ticks;
    int64_t last_stats_ms;
} spawner_state;

static uint64_t next_random(uint64_t *s) { /* xorshift64* */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static double now_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size in bytes, from /proc/self/statm (0 if unavailable). */
static size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

static int pid_cmp(const void *a, const void *b) {
    uint64_t x = ((const tr_pid *)a)->id, y = ((const tr_pid *)b)->id;
    return x < y ? -1 : x > y;
}

static bool is_worker(const spawner_state *s, tr_pid pid) {
    return s->workers && bsearch(&pid, s->workers, s->spawned, sizeof(tr_pid), pid_cmp);
}

static int spawner_init(tr_self *self, void *state, const void *arg) {
    spawner_state *s = state;
    s->sh = (shared *)arg;
    s->generation = atomic_fetch_add(&s->sh->generation, 1) + 1;
    s->rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)s->generation << 32) ^ (uint64_t)tr_now_ms();
    if (s->generation > 1)
        printf("spawner: restarted by its supervisor (generation %u)\n", s->generation);
    /* Trap exits: the supervisor's shutdown then reaches handle_info and
     * terminate runs (it prints the final line). */
    tr_trap_exit(self, true);
    s->workers = calloc((size_t)s->sh->cfg->num_workers, sizeof(tr_pid));
    if (!s->workers)
        return tr_stop(self, tr_reason_error(TR_ENOMEM, "no memory for the worker table"));
    /* Spawn from handle_info rather than here, so the supervisor's start
     * returns at once. */
    tr_send(tr_self_runtime(self), tr_self_pid(self), SPAWN, NULL, 0);
    return TR_CONTINUE;
}

static void spawn_all(tr_self *self, spawner_state *s) {
    const config *c = s->sh->cfg;
    tr_runtime *rt = tr_self_runtime(self);
    size_t rss0 = rss_bytes();
    s->rss_before = rss0;
    double t0 = now_sec();
    tr_fiber_opts fopts = {.link_to = tr_self_pid(self), .trap_exit = true};
    for (long i = 0; i < c->num_workers; i++) {
        worker_arg a = {.spawner = tr_self_pid(self), .sh = s->sh};
        tr_pid pid;
        int rc;
        if (c->fibers) { /* the fiber draws its ticks itself; it frees its arg */
            worker_arg *fa = malloc(sizeof *fa);
            if (!fa) {
                fprintf(stderr, "mass_spawn: out of memory at worker %ld\n", i + 1);
                break;
            }
            *fa = a;
            fa->seed = next_random(&s->rng);
            if ((rc = tr_spawn_fiber(rt, fiber_worker, fa, &fopts, &pid)) != 0)
                free(fa);
        } else {
            a.period_ms = c->tick_min;
            if (c->tick_max > c->tick_min)
                a.period_ms += (tr_duration_ms)(next_random(&s->rng) %
                                                (uint64_t)(c->tick_max - c->tick_min + 1));
            rc = tr_spawn_link(self, &worker_behaviour, &a, &pid);
        }
        if (rc != 0) {
            fprintf(stderr, "mass_spawn: spawning worker %ld failed: %s\n", i + 1, tr_strerror(rc));
            break;
        }
        tr_monitor(self, pid, NULL);
        s->workers[s->spawned] = pid;
        s->spawned++;
        s->alive++;
    }
    double dt = now_sec() - t0;
    size_t rss1 = rss_bytes();
    qsort(s->workers, s->spawned, sizeof(tr_pid), pid_cmp);
    atomic_fetch_add(&s->sh->spawned_total, s->spawned);
    double per_worker = s->spawned && rss1 > rss0 ? (double)(rss1 - rss0) / (double)s->spawned : 0;
    printf("started: generation=%u workers=%zu spawn_time_ms=%.1f spawn_us_per_worker=%.2f "
           "rss_growth_kb=%zu mem_per_worker_bytes=%.0f tick=%" PRId64 "..%" PRId64
           "ms stats_every=%" PRId64 "ms mode=%s\n",
           s->generation, s->spawned, dt * 1000.0, s->spawned ? dt * 1e6 / (double)s->spawned : 0,
           rss1 > rss0 ? (rss1 - rss0) / 1024 : 0, per_worker, c->tick_min, c->tick_max,
           c->stats_interval, c->fibers ? "fibers" : "actors");
    s->last_stats_ms = tr_now_ms();
    tr_send_interval(rt, tr_self_pid(self), c->stats_interval, STATS, NULL, 0, NULL);
    if (c->crash_after > 0)
        tr_send_after(rt, tr_self_pid(self), c->crash_after, CRASH, NULL, 0, NULL);
}

static int spawner_info(tr_self *self, void *state, const tr_msg *msg) {
    spawner_state *s = state;
    switch (msg->kind) {
    case TR_MSG_INFO:
        if (msg->tag == TICK)
            s->total_ticks++;
        else if (msg->tag == SPAWN)
            spawn_all(self, s);
        break;
    case TR_MSG_DOWN:
        s->alive--;
        break;
    case TR_MSG_EXIT:
        /* A worker's exit is counted by its DOWN; any other EXIT comes from
         * our supervisor (the parent link): stop with its reason. */
        if (!is_worker(s, msg->sender))
            return tr_stop(self, *tr_msg_reason(msg));
        break;
    case TR_MSG_TIMER:
        if (msg->tag == STATS) {
            int64_t now = tr_now_ms();
            uint64_t fresh = s->total_ticks - s->last_ticks;
            double secs = (double)(now - s->last_stats_ms) / 1000.0;
            size_t rss = rss_bytes();
            printf("stats: generation=%u alive=%zu total_ticks=%" PRIu64 " new_ticks=%" PRIu64
                   " tick_rate=%.1f/s actors=%zu mode=%s bytes_per_process=%.0f\n",
                   s->generation, s->alive, s->total_ticks, fresh,
                   secs > 0 ? (double)fresh / secs : 0.0,
                   tr_runtime_actor_count(tr_self_runtime(self)),
                   s->sh->cfg->fibers ? "fibers" : "actors",
                   s->alive && rss > s->rss_before
                       ? (double)(rss - s->rss_before) / (double)s->alive
                       : 0.0);
            s->last_ticks = s->total_ticks;
            s->last_stats_ms = now;
        } else if (msg->tag == CRASH) {
            printf("spawner: simulated crash (generation %u, %zu workers go down with it)\n",
                   s->generation, s->alive);
            tr_fail(self, tr_reason_error(-1, "simulated spawner crash"));
        }
        break;
    default:
        break;
    }
    return TR_CONTINUE;
}

static void spawner_terminate(tr_self *self, void *state, tr_reason reason) {
    spawner_state *s = state;
    free(s->workers);
    s->workers = NULL;
    if (reason.kind == TR_EXIT_ERROR)
        return; /* a crash: the supervisor restarts us; the links stop the workers */
    /* The workers are linked: they stop (and run terminate) right after us. */
    printf("final: workers_spawned=%zu still_alive=%zu total_ticks=%" PRIu64 "\n", s->spawned,
           s->alive, s->total_ticks);
}

static const tr_behaviour spawner_behaviour = {
    .name = "spawner",
    .state_size = sizeof(spawner_state),
    .init = spawner_init,
    .handle_info = spawner_info,
    .terminate = spawner_terminate,
};

/* ------------------------------------------------------------------------ */
/* Watcher: wakes main (blocked in sigtimedwait) if the supervisor dies      */
/* ------------------------------------------------------------------------ */

static int watcher_init(tr_self *self, void *state, const void *arg) {
    return tr_monitor(self, *(const tr_pid *)arg, NULL) == 0 ? TR_CONTINUE
                                                             : tr_stop(self, tr_reason_normal());
}

static int watcher_info(tr_self *self, void *state, const tr_msg *msg) {
    if (msg->kind == TR_MSG_DOWN) {
        kill(getpid(), SIGUSR2); /* every thread blocks it: main's sigtimedwait takes it */
        return tr_stop(self, tr_reason_normal());
    }
    return TR_CONTINUE;
}

static const tr_behaviour watcher_behaviour = {
    .name = "watcher", .init = watcher_init, .handle_info = watcher_info};

/* ------------------------------------------------------------------------ */
/* SIGUSR1: the supervision tree and the metrics, printed from main          */
/* ------------------------------------------------------------------------ */

static void print_introspection(tr_runtime *rt, tr_pid sup) {
    printf("---- supervision tree ----\n");
    int rc = tr_supervision_tree_write(rt, sup, stdout, TR_FORMAT_TEXT);
    if (rc != 0)
        printf("(tree: %s)\n", tr_strerror(rc));
    printf("---- metrics ----\n");
    rc = tr_metrics_write(rt, stdout, TR_FORMAT_PROMETHEUS);
    if (rc != 0)
        printf("(metrics: %s)\n", tr_strerror(rc));
    printf("---- end ----\n");
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */

static void usage(FILE *to) {
    fprintf(to, "usage: mass_spawn [--fibers] [--help]\n"
                "  a supervised spawner with NUM_WORKERS ticking workers (actors; fibers with\n"
                "  --fibers); SIGINT/SIGTERM stop it, SIGUSR1 prints the tree and the metrics.\n"
                "environment (durations: 250ms, 2s, 1.5s, 1m; a bare number is whole ms):\n"
                "  NUM_WORKERS          1..1000000                      default 10000\n"
                "  TICK_MIN, TICK_MAX   range of each worker's period   500ms, 3s\n"
                "  STATS_INTERVAL       period of the stats line        2s\n"
                "  SPAWNER_CRASH_AFTER  crash the spawner this long after each start, or off\n"
                "                                                       default off\n"
                "  RUN_FOR              stop after this long, or off    default off\n");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    config cfg = {0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fibers") == 0) {
            cfg.fibers = true;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mass_spawn: unknown argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (read_config(&cfg) != 0)
        return 2;

    /* Block the signals before any thread exists: all threads inherit the
     * mask and only main takes them, synchronously. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    shared sh = {.cfg = &cfg};
    int rc = tr_chan_new(1, 1, &sh.gone);
    if (rc != 0) {
        fprintf(stderr, "mass_spawn: tr_chan_new: %s\n", tr_strerror(rc));
        return 1;
    }
    tr_runtime *rt;
    rc = tr_runtime_start(NULL, &rt);
    if (rc != 0) {
        fprintf(stderr, "mass_spawn: runtime start: %s\n", tr_strerror(rc));
        return 1;
    }
    tr_child_spec child = {
        .id = "spawner",
        .behaviour = &spawner_behaviour,
        .arg = &sh,
        .restart = TR_PERMANENT,
        .shutdown_ms = 10000,
        .type = TR_WORKER,
    };
    tr_sup_spec spec = {
        .flags = {.strategy = TR_ONE_FOR_ONE,
                  .intensity = 5,
                  .period_ms = 30000,
                  .backoff_initial_ms = 250,
                  .backoff_max_ms = 4000,
                  .backoff_jitter_pct = 10},
        .children = &child,
        .n_children = 1,
    };
    tr_pid sup, watcher;
    if ((rc = tr_supervisor_start(rt, &spec, &sup)) != 0) {
        fprintf(stderr, "mass_spawn: supervisor start: %s\n", tr_strerror(rc));
        tr_runtime_free(&rt);
        return 1;
    }
    tr_spawn(rt, &watcher_behaviour, &sup, NULL, &watcher);

    int sig;
    int64_t end_ms = tr_now_ms() + cfg.run_for;
    for (;;) {
        if (cfg.run_for > 0) {
            int64_t left = end_ms - tr_now_ms();
            if (left < 0)
                left = 0;
            struct timespec ts = {left / 1000, (long)(left % 1000) * 1000000L};
            sig = sigtimedwait(&sigs, NULL, &ts);
            if (sig < 0 && errno == EAGAIN)
                sig = 0; /* RUN_FOR elapsed */
        } else {
            sig = sigwaitinfo(&sigs, NULL);
        }
        if (sig == SIGUSR1) {
            print_introspection(rt, sup);
            continue;
        }
        if (sig >= 0 || errno != EINTR)
            break;
    }
    int status = 0;
    if (sig == SIGUSR2) {
        fprintf(stderr, "mass_spawn: the supervisor gave up (too many spawner restarts)\n");
        status = 1;
    } else {
        printf("signal: %s, shutting down\n", sig == 0 ? "RUN_FOR elapsed" : strsignal(sig));
        rc = tr_supervisor_stop(rt, sup, 30000);
        if (rc != 0 && rc != TR_ENOPROC) {
            fprintf(stderr, "mass_spawn: supervisor stop: %s\n", tr_strerror(rc));
            status = 1;
        }
        /* The workers stop after the spawner, each on its own: wait until
         * every one has (woken by the last), at most 10 s. */
        while (atomic_load(&sh.terminated_total) < atomic_load(&sh.spawned_total))
            if (tr_chan_recv(sh.gone, NULL, 10000) != 0)
                break;
    }
    tr_runtime_free(&rt); /* stops whatever is left; every terminate runs */
    tr_chan_release(sh.gone);
    printf("shutdown: workers_spawned_total=%" PRIuFAST64 " workers_terminated=%" PRIuFAST64
           " exit=%d\n",
           atomic_load(&sh.spawned_total), atomic_load(&sh.terminated_total), status);
    return status;
}
