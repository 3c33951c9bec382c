/* troupe benchmarks — driver and shared helpers.
 *
 *   troupe_bench [--scale F] [workload ...]     (SCALE=F works too)
 *
 * No names: every workload of WORKLOADS.md plus call_thread. One name: the
 * workload runs in this process. Several names: each runs in a fresh child
 * process (this program again), so that heap and RSS state of one workload
 * never colours the next. stdout carries only RESULT lines; a workload that
 * crashes or exceeds BENCH_TIMEOUT seconds (default 600) gets a check=FAIL
 * line. Exit status: 0 when every workload printed check=ok. */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const struct {
    const char *name;
    bench_fn fn;
} workloads[] = {
    {"skynet", wl_skynet},
    {"pingpong", wl_pingpong},
    {"counting", wl_counting},
    {"fanin", wl_fanin},
    {"call", wl_call},
    {"call_thread", wl_call_thread},
    {"call_thread_4", wl_call_thread_4},
    {"spawn_idle", wl_spawn_idle},
    {"ring", wl_ring},
    {"pool", wl_pool},
    {"pool_sleep", wl_pool_sleep},
    {"restart", wl_restart},
    {"tickers", wl_tickers},
    {"fiber_switch", wl_fiber_switch},
    {"chan_pingpong", wl_chan_pingpong},
    {"chan_throughput", wl_chan_throughput},
    {"select_fanin", wl_select_fanin},
    {"fiber_spawn", wl_fiber_spawn},
    {"tcp_echo", wl_tcp_echo},
    {"tcp_echo_fiber", wl_tcp_echo_fiber},
};
#define N_WORKLOADS (sizeof workloads / sizeof workloads[0])

/* ---------------------------------------------------------------- helpers */

unsigned bench_timeout_s(void) {
    const char *s = getenv("BENCH_TIMEOUT");
    long v = s ? strtol(s, NULL, 10) : 0;
    return v > 0 ? (unsigned)v : 600;
}

int64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

long bench_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = -1;
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

int64_t bench_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bench_scaled(double def, double scale) {
    int64_t n = (int64_t)llround(def * scale);
    return n < 1 ? 1 : n;
}

int64_t bench_env_param(const char *name, int64_t def) {
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || !end || *end || v < 1) {
        fprintf(stderr, "troupe_bench: %s=%s is not a positive integer\n", name, s);
        exit(2);
    }
    return (int64_t)v;
}

tr_runtime *bench_runtime(const char *workload) {
    tr_runtime *rt = NULL;
    /* BENCH_THREADS=n: n scheduler threads instead of one per CPU (for
     * profiling; bench/compare never sets it). */
    tr_runtime_opts o = {0};
    const char *t = getenv("BENCH_THREADS");
    if (t && atoi(t) > 0)
        o.threads = (unsigned)atoi(t);
    const char *bb = getenv("BENCH_BATCH");
    if (bb && atoi(bb) > 0)
        o.batch = (unsigned)atoi(bb);
    int rc = tr_runtime_start(&o, &rt);
    if (rc != 0) {
        bench_err(workload, "tr_runtime_start", rc);
        bench_result(workload, 0, 0, 0, false, "error=runtime_start");
        exit(1);
    }
    return rt;
}

void bench_done_init(bench_done *d) {
    sem_init(&d->sem, 0, 0);
}

void bench_done_post(bench_done *d) {
    sem_post(&d->sem);
}

bool bench_done_wait(bench_done *d) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += bench_timeout_s();
    for (;;) {
        if (sem_timedwait(&d->sem, &ts) == 0)
            return true;
        if (errno != EINTR)
            return false;
    }
}

static bool last_ok = true;

void bench_result(const char *workload, int64_t n, double ms, double units, bool ok,
                  const char *extra) {
    last_ok = ok;
    double rate = ms > 0 ? units / (ms / 1000.0) : 0;
    printf("RESULT workload=%s impl=troupe n=%lld ms=%.3f rate=%.0f check=%s%s%s\n", workload,
           (long long)n, ms, rate, ok ? "ok" : "FAIL", extra && *extra ? " " : "",
           extra ? extra : "");
    fflush(stdout);
}

void bench_err(const char *workload, const char *what, int err) {
    fprintf(stderr, "troupe_bench %s: %s: %s (%s)\n", workload, what, tr_err_name(err),
            tr_strerror(err));
}

/* ---------------------------------------------------------------- driver */

static const char *running_workload = "unknown";

static void on_alarm(int sig) {
    (void)sig;
    char line[160];
    int len = snprintf(line, sizeof line,
                       "RESULT workload=%s impl=troupe n=0 ms=0 rate=0 check=FAIL error=timeout\n",
                       running_workload);
    if (len > 0 && write(STDOUT_FILENO, line, (size_t)len) < 0) {
        /* nothing more to do: the process ends anyway */
    }
    _exit(3);
}

static int run_one(int idx, double scale) {
    running_workload = workloads[idx].name;
    signal(SIGALRM, on_alarm);
    alarm(bench_timeout_s() + 30);
    workloads[idx].fn(scale);
    alarm(0);
    return last_ok ? 0 : 1;
}

/* Runs `name` in a child process, relays its RESULT lines; returns true
 * when it printed a check=ok line. */
static bool run_child(const char *self, const char *name, const char *scale_arg) {
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return false;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return false;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(self, self, "--scale", scale_arg, name, (char *)NULL);
        perror("exec");
        _exit(127);
    }
    close(fds[1]);
    char buf[4096];
    size_t used = 0;
    bool printed = false, ok = false;
    int64_t deadline = bench_now_ns() + (int64_t)(bench_timeout_s() + 60) * 1000000000;
    bool killed = false;
    for (;;) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int64_t left_ms = (deadline - bench_now_ns()) / 1000000;
        if (left_ms <= 0) {
            kill(pid, SIGKILL);
            killed = true;
            break;
        }
        int pr = poll(&p, 1, (int)(left_ms > 1000 ? 1000 : left_ms));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            continue;
        ssize_t r = read(fds[0], buf + used, sizeof buf - 1 - used);
        if (r <= 0)
            break;
        used += (size_t)r;
        buf[used] = 0;
        char *nl;
        while ((nl = strchr(buf, '\n')) != NULL) {
            *nl = 0;
            if (strncmp(buf, "RESULT ", 7) == 0) {
                printf("%s\n", buf);
                fflush(stdout);
                printed = true;
                ok = strstr(buf, "check=ok") != NULL;
            }
            size_t rest = used - (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, rest);
            used = rest;
            buf[used] = 0;
        }
        if (used == sizeof buf - 1)
            used = 0; /* an absurdly long line: drop it */
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!printed) {
        printf("RESULT workload=%s impl=troupe n=0 ms=0 rate=0 check=FAIL error=%s\n", name,
               killed                ? "timeout"
               : WIFSIGNALED(status) ? "signal"
                                     : "exit");
        fflush(stdout);
    }
    return ok && !killed && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void usage(void) {
    fprintf(stderr, "usage: troupe_bench [--scale F] [workload ...]\nworkloads:");
    for (size_t i = 0; i < N_WORKLOADS; i++)
        fprintf(stderr, " %s", workloads[i].name);
    fprintf(stderr, "\n");
}

int main(int argc, char **argv) {
    const char *scale_arg = getenv("SCALE");
    if (!scale_arg || !*scale_arg)
        scale_arg = "1";
    int idx[64];
    int n_idx = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
            scale_arg = argv[++i];
        } else if (strncmp(argv[i], "--scale=", 8) == 0) {
            scale_arg = argv[i] + 8;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else {
            int found = -1;
            for (size_t w = 0; w < N_WORKLOADS; w++)
                if (strcmp(argv[i], workloads[w].name) == 0)
                    found = (int)w;
            if (found < 0 || n_idx == 64) {
                fprintf(stderr, "unknown workload: %s\n", argv[i]);
                usage();
                return 2;
            }
            idx[n_idx++] = found;
        }
    }
    char *end = NULL;
    double scale = strtod(scale_arg, &end);
    if (!end || *end || !(scale > 0)) {
        fprintf(stderr, "bad scale: %s\n", scale_arg);
        return 2;
    }
    if (n_idx == 1)
        return run_one(idx[0], scale);
    if (n_idx == 0)
        for (size_t w = 0; w < N_WORKLOADS; w++)
            idx[n_idx++] = (int)w;
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        perror("readlink /proc/self/exe");
        return 2;
    }
    self[len] = 0;
    int rc = 0;
    for (int i = 0; i < n_idx; i++)
        if (!run_child(self, workloads[idx[i]].name, scale_arg))
            rc = 1;
    return rc;
}
