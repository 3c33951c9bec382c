/* troupe benchmarks — shared helpers of the workloads of
 * bench/WORKLOADS.md (see docs/PERFORMANCE.md).
 *
 * Every workload is a function that runs one measurement in the current
 * process and prints exactly one RESULT line on stdout. Workloads use the
 * public API only (troupe/troupe.h). */
#ifndef TROUPE_BENCH_BENCH_H
#define TROUPE_BENCH_BENCH_H

#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>

#include <troupe/troupe.h>

/* Message tags used by the workloads (all below troupe's reserved range). */
enum {
    TAG_START = 1,
    TAG_SUM,
    TAG_GO,
    TAG_CONT,
    TAG_PING,
    TAG_PONG,
    TAG_INC,
    TAG_GET,
    TAG_VALUE,
    TAG_ADD,
    TAG_STOP,
    TAG_NEXT,
    TAG_TOKEN,
    TAG_JOB,
    TAG_WAKE,
    TAG_CRASH,
    TAG_RETRY,
    TAG_TICK,
    TAG_COUNT
};

/* The longest a workload may take before it is reported as a FAIL (env
 * BENCH_TIMEOUT, seconds; default 600). */
unsigned bench_timeout_s(void);

/* Monotonic wall clock in nanoseconds / process CPU time in nanoseconds. */
int64_t bench_now_ns(void);
int64_t bench_cpu_ns(void);
/* Resident set size of the process in bytes (/proc/self/statm); -1 if
 * unreadable. */
long bench_rss_bytes(void);

/* N for a workload: round(def * scale), at least 1. */
int64_t bench_scaled(double def, double scale);

/* A workload's size parameter from the environment variable `name` (a
 * positive integer, such as PAIRS=100): def when it is unset or empty. A
 * value that is not a positive integer is reported on stderr and ends the
 * process with status 2 (no RESULT line: the driver prints check=FAIL). */
int64_t bench_env_param(const char *name, int64_t def);

/* Starts a runtime with default options (threads = online CPUs); exits the
 * process with a FAIL line for `workload` if that fails. For profiling,
 * BENCH_THREADS=n and BENCH_BATCH=n override the thread count and the
 * messages per turn (bench/compare sets neither). */
tr_runtime *bench_runtime(const char *workload);

/* A one-shot completion posted from an actor and awaited by main. */
typedef struct bench_done {
    sem_t sem;
} bench_done;
void bench_done_init(bench_done *d);
void bench_done_post(bench_done *d);
/* Waits up to bench_timeout_s(); false on timeout. */
bool bench_done_wait(bench_done *d);

/* Prints the RESULT line: rate = units / seconds. extra is appended as is
 * ("key=value key=value", may be NULL or ""). */
void bench_result(const char *workload, int64_t n, double ms, double units, bool ok,
                  const char *extra);

/* Reports a failed call of the runtime on stderr (for diagnosis). */
void bench_err(const char *workload, const char *what, int err);

/* The workloads: each runs once and prints its RESULT line. */
typedef void (*bench_fn)(double scale);
void wl_skynet(double scale);
void wl_pingpong(double scale);
void wl_counting(double scale);
void wl_fanin(double scale);
void wl_call(double scale);
void wl_call_thread(double scale);
void wl_call_thread_4(double scale);
void wl_spawn_idle(double scale);
void wl_ring(double scale);
void wl_pool(double scale);
void wl_pool_sleep(double scale);
void wl_restart(double scale);
void wl_tickers(double scale);
void wl_fiber_switch(double scale);
void wl_chan_pingpong(double scale);
void wl_chan_throughput(double scale);
void wl_select_fanin(double scale);
void wl_fiber_spawn(double scale);
void wl_tcp_echo(double scale);
void wl_tcp_echo_fiber(double scale);

#endif
