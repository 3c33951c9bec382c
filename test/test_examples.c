/* Runs the example programs (from $TROUPE_EXAMPLES_DIR, set by CTest to
 * build/examples) with small parameters and checks what a user would see:
 * their output lines and exit codes. Keeps the examples from rotting. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* Every variable an example reads: cleared in the child, then set from the
 * test's list, so the caller's environment cannot change a test. */
static const char *const example_vars[] = {
    "NUM_WORKERS", "TICK_MIN", "TICK_MAX", "STATS_INTERVAL", "SPAWNER_CRASH_AFTER", "RUN_FOR"};

typedef struct run_opts {
    const char *const *args;  /* command-line arguments, NULL-terminated (may be NULL) */
    const char *const *env;   /* "NAME=value" strings, NULL-terminated (may be NULL) */
    const char *signal_after; /* once this text appears in the output ... */
    int signal_delay_ms;      /* ... wait this long, then send `sig` */
    int sig;
    int timeout_ms; /* SIGKILL and fail after this long */
} run_opts;

typedef struct run_result {
    int exit_code; /* -1 if killed by a signal */
    int term_sig;
    char *out; /* stdout and stderr, interleaved, NUL-terminated */
    size_t len;
    bool signalled; /* the test sent its signal */
} run_result;

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *example_path(const char *name) {
    const char *dir = getenv("TROUPE_EXAMPLES_DIR");
    if (!dir || !*dir)
        dir = "../examples"; /* running by hand from build/test */
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    if (access(p, X_OK) != 0)
        fail_msg("example program %s not found (set TROUPE_EXAMPLES_DIR)", p);
    return p;
}

static void run_example(const char *name, const run_opts *o, run_result *r) {
    memset(r, 0, sizeof *r);
    char *path = example_path(name);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        for (size_t i = 0; i < sizeof example_vars / sizeof example_vars[0]; i++)
            unsetenv(example_vars[i]);
        for (const char *const *e = o->env; e && *e; e++)
            putenv((char *)*e);
        /* The signals the test sends must reach the program's default
         * disposition (cmocka may have changed the parent's). */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        const char *argv[16] = {name};
        size_t argc = 1;
        for (const char *const *a = o->args; a && *a && argc < 15; a++)
            argv[argc++] = *a;
        argv[argc] = NULL;
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 4096;
    r->out = malloc(cap);
    int64_t start = mono_ms(), signal_at = -1;
    bool timed_out = false;
    for (;;) {
        int64_t now = mono_ms();
        if (now - start > o->timeout_ms) {
            kill(pid, SIGKILL);
            timed_out = true;
            break;
        }
        if (o->signal_after && !r->signalled && signal_at < 0) {
            r->out[r->len] = '\0';
            if (strstr(r->out, o->signal_after))
                signal_at = now + o->signal_delay_ms;
        }
        if (signal_at >= 0 && !r->signalled && now >= signal_at) {
            kill(pid, o->sig);
            r->signalled = true;
        }
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int wait = signal_at >= 0 && !r->signalled ? (int)(signal_at - now) : 50;
        if (wait < 0)
            wait = 0;
        int n = poll(&pfd, 1, wait > 50 ? 50 : wait);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        if (cap - r->len < 2048) {
            cap *= 2;
            r->out = realloc(r->out, cap);
        }
        ssize_t k = read(fds[0], r->out + r->len, cap - r->len - 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break; /* EOF: the program closed its output (exited) */
        r->len += (size_t)k;
    }
    r->out[r->len] = '\0';
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r->term_sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    free(path);
    if (timed_out) {
        fprintf(stderr, "---- output of %s ----\n%s\n----\n", name, r->out);
        fail_msg("%s did not finish within %d ms", name, o->timeout_ms);
    }
}

static void dump(const char *name, const run_result *r) {
    fprintf(stderr, "---- output of %s (exit %d, signal %d) ----\n%s----\n", name, r->exit_code,
            r->term_sig, r->out);
}

/* The line that starts with prefix, copied into buf; false if none. */
static bool find_line(const char *out, const char *prefix, char *buf, size_t size) {
    const char *p = out;
    size_t n = strlen(prefix);
    while (p && *p) {
        if (strncmp(p, prefix, n) == 0) {
            const char *e = strchr(p, '\n');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (len >= size)
                len = size - 1;
            memcpy(buf, p, len);
            buf[len] = '\0';
            return true;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}

static int count_lines(const char *out, const char *prefix) {
    int k = 0;
    size_t n = strlen(prefix);
    for (const char *p = out; p && *p;) {
        if (strncmp(p, prefix, n) == 0)
            k++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return k;
}

/* ------------------------------------------------------------------------ */

static void test_fan_out_fan_in(void **state) {
    run_opts o = {.timeout_ms = 30000};
    run_result r;
    run_example("fan_out_fan_in", &o, &r);
    if (r.exit_code != 0)
        dump("fan_out_fan_in", &r);
    assert_int_equal(r.exit_code, 0);

    /* Every job exactly once, squared correctly, by one of the 3 workers. */
    bool seen[11] = {0};
    bool worker_used[4] = {0};
    const char *all_done = strstr(r.out, "All jobs done.\n");
    assert_non_null(all_done);
    for (const char *p = r.out; (p = strstr(p, "Job #")) != NULL; p++) {
        int job, base, square, worker;
        assert_int_equal(
            sscanf(p, "Job #%d: %d^2 = %d  (worker %d)", &job, &base, &square, &worker), 4);
        assert_true(job >= 1 && job <= 10);
        assert_false(seen[job]);
        seen[job] = true;
        assert_int_equal(base, job);
        assert_int_equal(square, job * job);
        assert_true(worker >= 1 && worker <= 3);
        worker_used[worker] = true;
        assert_true(p < all_done); /* results come before the summary */
    }
    for (int j = 1; j <= 10; j++)
        assert_true(seen[j]);
    assert_true(worker_used[1] + worker_used[2] + worker_used[3] >= 2);

    /* The wall time shows the parallelism: ceil(10/3) = 4 rounds of 200 ms,
     * about 800 ms (generous bounds for a loaded machine: the sleeps alone
     * take 3 full rounds, and one worker would take 2000 ms). */
    char line[256];
    assert_true(find_line(r.out, "Total time: ", line, sizeof line));
    long ms = -1;
    assert_int_equal(sscanf(line, "Total time: %ld ms", &ms), 1);
    assert_true(ms >= 600);
    assert_true(ms < 3000);
    free(r.out);
}

static void expect_out(const char *name, const run_result *r, const char *text) {
    if (!strstr(r->out, text)) {
        dump(name, r);
        fail_msg("missing output: %s", text);
    }
}

static void test_channels_example(void **state) {
    run_opts o = {.timeout_ms = 30000};
    run_result r;
    run_example("channels", &o, &r);
    if (r.exit_code != 0)
        dump("channels", &r);
    assert_int_equal(r.exit_code, 0);
    static const char *const expected[] = {
        "producer: sent 1..5, closing the channel\n",
        /* fan-out/fan-in: every job exactly once */
        "fan-in: 9 results: 1^2=1 2^2=4 3^2=9 4^2=16 5^2=25 6^2=36 7^2=49 8^2=64 9^2=81\n",
        /* pipeline */
        "pipeline: 1 4 9 16 25\npipeline: done (squares closed)\n",
        /* select with a timeout */
        "select: case 0 (fast) received 1\n",
        "select: nothing within 100 ms: TR_ETIMEDOUT\n",
        "select: slow arrived later with 2\n",
        /* select with a default */
        "poll: no message ready (default case)\n"
        "poll: sent 1 (len 1 of cap 3)\n"
        "poll: sent 2 (len 2 of cap 3)\n"
        "poll: sent 3 (len 3 of cap 3)\n"
        "poll: buffer full, 4 dropped (default case)\n"
        "poll: received 1\npoll: received 2\npoll: received 3\n"
        "poll: empty again (default case)\n",
        /* shutdown: closing done stopped all three, no job lost */
        "shutdown: 6 jobs handed out, closing done\n",
        "shutdown: all 3 workers stopped, 6 jobs done in total\n",
        "channels: done\n",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        expect_out("channels", &r, expected[i]);

    /* producer/consumer: FIFO over an unbuffered channel, then closed (the
     * producer's own line may come anywhere among these). */
    static const char *const in_order[] = {
        "consumer: received 1\n", "consumer: received 2\n",
        "consumer: received 3\n", "consumer: received 4\n",
        "consumer: received 5\n", "consumer: channel closed after 5 values\n"};
    const char *at = r.out;
    for (size_t i = 0; i < sizeof in_order / sizeof in_order[0]; i++) {
        const char *next = strstr(at, in_order[i]);
        if (!next) {
            dump("channels", &r);
            fail_msg("missing or out of order: %s", in_order[i]);
        }
        at = next + strlen(in_order[i]);
    }

    /* The jobs per worker add up to 9 (who took which varies). */
    char line[256];
    assert_true(find_line(r.out, "fan-in: jobs per worker:", line, sizeof line));
    int a, b, c;
    assert_int_equal(
        sscanf(line, "fan-in: jobs per worker: worker 1: %d worker 2: %d worker 3: %d", &a, &b, &c),
        3);
    assert_int_equal(a + b + c, 9);
    for (int w = 1; w <= 3; w++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "shutdown: worker %d stopped after ", w);
        assert_int_equal(count_lines(r.out, prefix), 1);
    }
    free(r.out);

    /* One section by name; an unknown name is an error that lists them. */
    static const char *const one[] = {"pipeline", NULL};
    o.args = one;
    run_example("channels", &o, &r);
    assert_int_equal(r.exit_code, 0);
    expect_out("channels", &r, "pipeline: 1 4 9 16 25\n");
    assert_null(strstr(r.out, "producer"));
    free(r.out);
    static const char *const bad[] = {"nope", NULL};
    o.args = bad;
    run_example("channels", &o, &r);
    assert_int_equal(r.exit_code, 2);
    expect_out("channels", &r, "unknown section \"nope\"");
    free(r.out);
}

static void test_task_pool_example(void **state) {
    run_opts o = {.timeout_ms = 30000};
    run_result r;
    run_example("task_pool", &o, &r);
    if (r.exit_code != 0)
        dump("task_pool", &r);
    assert_int_equal(r.exit_code, 0);
    static const char *const expected[] = {
        "submit/await: fib(30) = 832040\n",
        "map fib(20..25): 6765 10946 17711 28657 46368 75025\n",
        "  100 / 2 = 50\n",
        "  100 / 0 failed: error 33: division by zero\n",
        "errors: 4 of 5 tasks succeeded, 1 failed with its own error\n",
        "crash: await returned TR_ECRASHED: simulated crash in a task\n",
        "crash: the pool still works: fib(10) = 55\n",
        "actor await: fib(22) = 17711 (status 0, delivered as a message)\n",
        "drain ok, 0 pending now\n",
        "stop: ok, again: ok\n",
        "submit after stop: TR_ECLOSED\n",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        if (!strstr(r.out, expected[i])) {
            dump("task_pool", &r);
            fail_msg("missing output: %s", expected[i]);
        }
    }
    free(r.out);
}

static const char *const mass_small[] = {"NUM_WORKERS=200", "TICK_MIN=50ms", "TICK_MAX=200ms",
                                         "STATS_INTERVAL=300ms", NULL};

static void mass_spawn_sigint(bool fibers) {
    static const char *const fiber_args[] = {"--fibers", NULL};
    run_opts o = {.args = fibers ? fiber_args : NULL,
                  .env = mass_small,
                  .signal_after = "started:",
                  .signal_delay_ms = 1500,
                  .sig = SIGINT,
                  .timeout_ms = 60000};
    run_result r;
    run_example("mass_spawn", &o, &r);
    if (r.exit_code != 0 || !r.signalled)
        dump("mass_spawn", &r);
    assert_true(r.signalled);
    assert_int_equal(r.exit_code, 0);

    char line[512];
    assert_true(find_line(r.out, "started: ", line, sizeof line));
    unsigned gen;
    size_t workers;
    double spawn_ms, mem;
    assert_non_null(strstr(line, "mem_per_worker_bytes="));
    assert_int_equal(sscanf(line, "started: generation=%u workers=%zu spawn_time_ms=%lf", &gen,
                            &workers, &spawn_ms),
                     3);
    assert_int_equal(gen, 1);
    assert_int_equal(workers, 200);
    assert_int_equal(
        sscanf(strstr(line, "mem_per_worker_bytes="), "mem_per_worker_bytes=%lf", &mem), 1);
    assert_non_null(strstr(line, fibers ? " mode=fibers" : " mode=actors"));

    /* Stats lines every 300 ms over ~1.5 s: at least one, all 200 alive. */
    assert_true(count_lines(r.out, "stats: ") >= 1);
    assert_true(find_line(r.out, "stats: ", line, sizeof line));
    assert_non_null(strstr(line, "alive=200 "));
    assert_non_null(strstr(line, "tick_rate="));
    assert_non_null(strstr(line, "new_ticks="));
    assert_non_null(strstr(line, fibers ? " mode=fibers " : " mode=actors "));
    double per_process = -1;
    assert_non_null(strstr(line, " bytes_per_process="));
    assert_int_equal(
        sscanf(strstr(line, " bytes_per_process="), " bytes_per_process=%lf", &per_process), 1);
    assert_true(per_process > 0);

    /* The final line of the spawner, and every worker's terminate ran. */
    assert_true(find_line(r.out, "final: ", line, sizeof line));
    size_t spawned, alive;
    unsigned long long ticks;
    assert_int_equal(sscanf(line, "final: workers_spawned=%zu still_alive=%zu total_ticks=%llu",
                            &spawned, &alive, &ticks),
                     3);
    assert_int_equal(spawned, 200);
    assert_int_equal(alive, 200);
    assert_true(ticks > 0); /* 200 workers ticking every 50..200 ms for ~1.5 s */
    assert_true(find_line(r.out, "shutdown: ", line, sizeof line));
    assert_string_equal(line, "shutdown: workers_spawned_total=200 workers_terminated=200 exit=0");
    free(r.out);
}

static void test_mass_spawn_sigint(void **state) {
    mass_spawn_sigint(false);
}

/* --fibers: the same tree and output, each worker a fiber. */
static void test_mass_spawn_fibers_sigint(void **state) {
    mass_spawn_sigint(true);
}

static const char *const mass_crash[] = {"NUM_WORKERS=100",
                                         "TICK_MIN=50ms",
                                         "TICK_MAX=100ms",
                                         "STATS_INTERVAL=100ms",
                                         "SPAWNER_CRASH_AFTER=300ms",
                                         NULL};

/* The spawner crashes: its supervisor restarts it (after a backoff) and the
 * crashed spawner's workers are gone, not leaked. SIGTERM ends the run. */
static void mass_spawn_restart_sigterm(bool fibers) {
    static const char *const fiber_args[] = {"--fibers", NULL};
    run_opts o = {.args = fibers ? fiber_args : NULL,
                  .env = mass_crash,
                  .signal_after = "started: generation=2 ",
                  .signal_delay_ms = 50,
                  .sig = SIGTERM,
                  .timeout_ms = 60000};
    run_result r;
    run_example("mass_spawn", &o, &r);
    if (r.exit_code != 0 || !r.signalled)
        dump("mass_spawn", &r);
    assert_true(r.signalled);
    assert_int_equal(r.exit_code, 0);
    assert_non_null(strstr(r.out, "spawner: simulated crash (generation 1"));
    assert_non_null(strstr(r.out, "spawner: restarted by its supervisor (generation 2)"));
    /* Both generations started in the mode asked for. */
    int starts = 0;
    for (const char *p = r.out; (p = strstr(p, "started: ")) != NULL; p++, starts++) {
        const char *eol = strchr(p, '\n'), *m = strstr(p, fibers ? " mode=fibers" : " mode=actors");
        assert_true(m && (!eol || m < eol));
    }
    assert_true(starts >= 2);
    char line[512];
    assert_true(find_line(r.out, "shutdown: ", line, sizeof line));
    unsigned long long spawned, terminated;
    assert_int_equal(sscanf(line, "shutdown: workers_spawned_total=%llu workers_terminated=%llu",
                            &spawned, &terminated),
                     2);
    assert_true(spawned >= 200); /* two generations of 100 */
    assert_int_equal(terminated, spawned);
    free(r.out);
}

static void test_mass_spawn_restart_sigterm(void **state) {
    mass_spawn_restart_sigterm(false);
}

static void test_mass_spawn_fibers_restart_sigterm(void **state) {
    mass_spawn_restart_sigterm(true);
}

static void expect_env_error(const char *const *env, const char *var) {
    run_opts o = {.env = env, .timeout_ms = 30000};
    run_result r;
    run_example("mass_spawn", &o, &r);
    if (r.exit_code == 0 || !strstr(r.out, var))
        dump("mass_spawn", &r);
    assert_int_not_equal(r.exit_code, 0);
    assert_int_equal(r.term_sig, 0);
    assert_non_null(strstr(r.out, var));
    assert_null(strstr(r.out, "started:")); /* no default silently used */
    free(r.out);
}

static void test_mass_spawn_invalid_env(void **state) {
    static const char *const bad_tick[] = {"NUM_WORKERS=10", "TICK_MIN=abc", NULL};
    static const char *const bad_unit[] = {"NUM_WORKERS=10", "TICK_MAX=2hours", NULL};
    static const char *const bad_count[] = {"NUM_WORKERS=ten", NULL};
    static const char *const zero_count[] = {"NUM_WORKERS=0", NULL};
    static const char *const bad_stats[] = {"NUM_WORKERS=10", "STATS_INTERVAL=-1s", NULL};
    static const char *const swapped[] = {"NUM_WORKERS=10", "TICK_MIN=3s", "TICK_MAX=1s", NULL};
    expect_env_error(bad_tick, "TICK_MIN=\"abc\"");
    expect_env_error(bad_unit, "TICK_MAX");
    expect_env_error(bad_count, "NUM_WORKERS");
    expect_env_error(zero_count, "NUM_WORKERS");
    expect_env_error(bad_stats, "STATS_INTERVAL");
    expect_env_error(swapped, "TICK_MIN");
    /* A fraction needs a unit (a bare number is whole ms); "off" is only
     * for the variables that can be off. */
    static const char *const bare_fraction[] = {"NUM_WORKERS=10", "TICK_MIN=1.5", NULL};
    static const char *const off_tick[] = {"NUM_WORKERS=10", "TICK_MAX=off", NULL};
    expect_env_error(bare_fraction, "TICK_MIN=\"1.5\"");
    expect_env_error(off_tick, "TICK_MAX=\"off\"");

    /* "off", as documented, is accepted where a feature can be off. */
    static const char *const offs[] = {"NUM_WORKERS=10", "SPAWNER_CRASH_AFTER=off", "RUN_FOR=200ms",
                                       "TICK_MIN=1500",  "TICK_MAX=1.5s",           NULL};
    run_opts oo = {.env = offs, .timeout_ms = 30000};
    run_result ro;
    run_example("mass_spawn", &oo, &ro);
    if (ro.exit_code != 0)
        dump("mass_spawn", &ro);
    assert_int_equal(ro.exit_code, 0);
    assert_non_null(strstr(ro.out, "shutdown:"));
    free(ro.out);

    /* A misspelt option is an error too, not the actor mode by default. */
    static const char *const typo[] = {"--fiber", NULL};
    run_opts o = {.args = typo, .timeout_ms = 30000};
    run_result r;
    run_example("mass_spawn", &o, &r);
    if (r.exit_code != 2)
        dump("mass_spawn", &r);
    assert_int_equal(r.exit_code, 2);
    assert_non_null(strstr(r.out, "unknown argument \"--fiber\""));
    assert_null(strstr(r.out, "started:"));
    free(r.out);
}

/* Every example prints its usage on --help (exit 0) and refuses an
 * argument it does not know with its usage on stderr (exit 2), before it
 * starts anything. */
static const char *const usage_examples[] = {"channels",   "fan_out_fan_in", "task_pool",
                                             "mass_spawn", "worker_pool",    "kv_server"};

static void test_examples_help_and_bad_args(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof usage_examples / sizeof usage_examples[0]; i++) {
        const char *name = usage_examples[i];
        if (strcmp(name, "kv_server") == 0) { /* built only where hiredis is */
            const char *dir = getenv("TROUPE_EXAMPLES_DIR");
            char p[4096];
            snprintf(p, sizeof p, "%s/kv_server", dir && *dir ? dir : "../examples");
            if (access(p, X_OK) != 0) {
                print_message("kv_server not built here (no hiredis): its usage is not checked\n");
                continue;
            }
        }
        static const char *const help[] = {"--help", NULL};
        static const char *const bad[] = {"--no-such-option", NULL};
        run_opts o = {.args = help, .timeout_ms = 30000};
        run_result r;
        run_example(name, &o, &r);
        if (r.exit_code != 0 || !strstr(r.out, "usage:")) {
            dump(name, &r);
            fail_msg("%s --help: exit %d, no usage", name, r.exit_code);
        }
        free(r.out);
        o.args = bad;
        run_example(name, &o, &r);
        if (r.exit_code != 2 || !strstr(r.out, "usage:") || !strstr(r.out, "--no-such-option")) {
            dump(name, &r);
            fail_msg("%s --no-such-option: exit %d (want 2 and the usage)", name, r.exit_code);
        }
        free(r.out);
    }
}

/* SIGUSR1 prints the supervision tree and the metrics, and the demo goes
 * on (RUN_FOR then stops it normally). */
static void test_mass_spawn_sigusr1_dump(void **state) {
    (void)state;
    static const char *const env[] = {"NUM_WORKERS=200",      "TICK_MIN=50ms", "TICK_MAX=200ms",
                                      "STATS_INTERVAL=300ms", "RUN_FOR=3s",    NULL};
    run_opts o = {.env = env,
                  .signal_after = "started:",
                  .signal_delay_ms = 500,
                  .sig = SIGUSR1,
                  .timeout_ms = 60000};
    run_result r;
    run_example("mass_spawn", &o, &r);
    if (r.exit_code != 0 || !r.signalled || !strstr(r.out, "---- end ----"))
        dump("mass_spawn", &r);
    assert_true(r.signalled);
    assert_int_equal(r.exit_code, 0);
    const char *tree = strstr(r.out, "---- supervision tree ----\n");
    assert_non_null(tree);
    assert_non_null(strstr(tree, "supervisor <"));
    assert_non_null(strstr(tree, "\n  spawner <"));
    assert_non_null(strstr(tree, "worker permanent restarts=0 behaviour=spawner"));
    const char *metrics = strstr(tree, "---- metrics ----\n");
    assert_non_null(metrics);
    assert_non_null(strstr(metrics, "# TYPE troupe_spawns_total counter\n"));
    assert_non_null(strstr(metrics, "troupe_actors "));
    assert_non_null(strstr(metrics, "troupe_scheduler_messages_total{scheduler=\"0\"} "));
    assert_non_null(strstr(metrics, "---- end ----"));
    /* it went on after the dump, and stopped at RUN_FOR */
    assert_non_null(strstr(metrics, "signal: RUN_FOR elapsed"));
    free(r.out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_help_and_bad_args),
        cmocka_unit_test(test_mass_spawn_sigusr1_dump),
        cmocka_unit_test(test_fan_out_fan_in),
        cmocka_unit_test(test_channels_example),
        cmocka_unit_test(test_task_pool_example),
        cmocka_unit_test(test_mass_spawn_sigint),
        cmocka_unit_test(test_mass_spawn_restart_sigterm),
        cmocka_unit_test(test_mass_spawn_fibers_sigint),
        cmocka_unit_test(test_mass_spawn_fibers_restart_sigterm),
        cmocka_unit_test(test_mass_spawn_invalid_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
