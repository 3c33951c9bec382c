/* troupe tests — the shared test-support library, troupe_testutil
 * (test/support/testutil.c; test-only, not part of the library). Every test
 * links it.
 *
 * - Time: tu_now_ms/tu_now_us (CLOCK_MONOTONIC), tu_sleep_ms, TU_WAIT.
 * - Runtimes: tu_start (NULL on failure), tu_rt_start/tu_rt_stop (assert).
 * - Scaling under ThreadSanitizer: TU_TSAN, TU_SCALE(normal, tsan).
 * - A fixture (tu_fix) that starts a runtime in cmocka's setup and shuts it
 *   down in teardown, so a failing test never leaves threads behind that
 *   point into a dead stack frame.
 * - tu_log: a mutex-protected event log that callbacks append to and the
 *   test thread waits on. Callbacks never call cmocka asserts (those may
 *   only run on the test thread); they record, the test thread asserts.
 *   Besides message events it holds notes (short strings, tu_log_note) for
 *   tests that only record an order of events.
 * - tu_gate: lets a test hold an actor inside a callback (deliberately
 *   occupying one scheduler thread) to queue messages behind it.
 * - tu_watch: a probe that monitors a pid and reports its DOWN reason.
 * - The probe: a scriptable actor driven by calls and casts (link,
 *   monitor, trap exits, stop, fail, ...) that logs everything it sees.
 */
#ifndef TROUPE_TEST_SUPPORT_TESTUTIL_H
#define TROUPE_TEST_SUPPORT_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <troupe/troupe.h>

/* ------------------------------------------------------------------------ */
/* Sanitizer scaling                                                         */
/* ------------------------------------------------------------------------ */

#if defined(__SANITIZE_THREAD__)
#define TU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TU_TSAN 1
#endif
#endif
#ifndef TU_TSAN
#define TU_TSAN 0
#endif
/* n in a normal build, tsan_n under ThreadSanitizer. */
#define TU_SCALE(n, tsan_n) (TU_TSAN ? (tsan_n) : (n))

/* ------------------------------------------------------------------------ */
/* Time                                                                      */
/* ------------------------------------------------------------------------ */

int64_t tu_now_us(void);
int64_t tu_now_ms(void);
/* Sleeps the whole interval (resumed after a signal). */
void tu_sleep_us(int64_t us);
void tu_sleep_ms(int64_t ms);

/* Polls cond (every 1 ms) until it holds or timeout_ms passes; yields
 * whether it held. Test-thread only. */
#define TU_WAIT(cond, timeout_ms)                                                                  \
    __extension__({                                                                                \
        int64_t tu__end = tu_now_ms() + (timeout_ms);                                              \
        bool tu__ok;                                                                               \
        while (!(tu__ok = (cond)) && tu_now_ms() < tu__end)                                        \
            tu_sleep_ms(1);                                                                        \
        tu__ok;                                                                                    \
    })

/* ------------------------------------------------------------------------ */
/* Runtime helpers                                                           */
/* ------------------------------------------------------------------------ */

/* Starts a runtime of `threads` scheduler threads; NULL (and a line on
 * stderr) when tr_runtime_start fails. For cmocka setup functions. */
tr_runtime *tu_start(unsigned threads);

/* Starts a runtime of `threads` scheduler threads; asserts success. */
tr_runtime *tu_rt_start(unsigned threads);

/* Shuts *rt down (sets it to NULL); asserts success. */
void tu_rt_stop(tr_runtime **rt);

#define assert_reason_kind(r, k)                                                                   \
    do {                                                                                           \
        char tu__buf[96];                                                                          \
        if ((r).kind != (k)) {                                                                     \
            print_error("reason is %s (kind %d), expected kind %d\n",                              \
                        tr_reason_format(&(r), tu__buf, sizeof tu__buf), (int)(r).kind, (int)(k)); \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define assert_rc(expr, expected)                                                                  \
    do {                                                                                           \
        int tu__rc = (int)(expr);                                                                  \
        if (tu__rc != (int)(expected)) {                                                           \
            print_error("%s returned %d (%s), expected %s\n", #expr, tu__rc, tr_err_name(tu__rc),  \
                        tr_err_name((int)(expected)));                                             \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define assert_pid_equal(a, b) assert_true(tr_pid_eq((a), (b)))

/* ------------------------------------------------------------------------ */
/* Event log                                                                 */
/* ------------------------------------------------------------------------ */

enum {
    TU_EV_INIT = 1, /* init ran */
    TU_EV_CALL,     /* handle_call (other than a probe command) */
    TU_EV_CAST,     /* handle_cast (other than a probe command) */
    TU_EV_INFO,     /* handle_info: kind says which */
    TU_EV_TERM,     /* terminate: reason */
    TU_EV_RC,       /* a return code recorded by a cast command: status */
    TU_EV_NOTE      /* tu_log_note: a string in data */
};

#define TU_ANY (-1)
#define TU_LOG_MAX 8192

typedef struct tu_event {
    int what;
    uint32_t kind;
    uint32_t tag;
    tr_pid self;
    tr_pid sender;
    uint64_t ref;
    int32_t status;
    bool has_reason;
    tr_reason reason;
    size_t size;
    unsigned char data[64];
    int64_t at_us;
} tu_event;

typedef struct tu_log {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t n;       /* events recorded */
    size_t dropped; /* events that did not fit */
    tu_event ev[TU_LOG_MAX];
} tu_log;

tu_log *tu_log_new(void);
void tu_log_free(tu_log *l);

/* Appends a copy of *e (at_us set now); does nothing when l is NULL. Any
 * thread. */
void tu_log_add(tu_log *l, const tu_event *e);

/* Appends an event `what` of self about message m (may be NULL). */
void tu_log_msg(tu_log *l, int what, tr_self *self, const tr_msg *m);

/* Appends a note "what:name" (TU_EV_NOTE); does nothing when l is NULL. */
void tu_log_note(tu_log *l, const char *what, const char *name);

/* Number of notes. */
size_t tu_log_notes(tu_log *l);

/* Index (among the notes) of the first note equal to text at or after the
 * from-th note, or -1. */
int tu_log_find_note(tu_log *l, const char *text, size_t from);

/* Number of events of `self` (TR_PID_NONE: any actor) with `what` and
 * message `kind` (TU_ANY: any). */
size_t tu_log_count(tu_log *l, tr_pid self, int what, int kind);

/* The idx-th matching event into *out; false when there is none. */
bool tu_log_get(tu_log *l, tr_pid self, int what, int kind, size_t idx, tu_event *out);

/* Waits until at least n matching events exist, up to timeout_ms. */
bool tu_log_wait(tu_log *l, tr_pid self, int what, int kind, size_t n, int64_t timeout_ms);

/* ------------------------------------------------------------------------ */
/* Gate: hold an actor inside a callback                                     */
/* ------------------------------------------------------------------------ */

typedef struct tu_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered;
    bool open;
} tu_gate;

void tu_gate_init(tu_gate *g);
void tu_gate_destroy(tu_gate *g);

/* Callback side: announce entry, then wait until the gate opens. */
void tu_gate_block(tu_gate *g);

/* As tu_gate_block, but gives up after timeout_ms (so a failing test never
 * hangs a run); true when the gate opened. */
bool tu_gate_pass(tu_gate *g, int64_t timeout_ms);

/* Test side: waits until n callbacks entered the gate, up to timeout_ms. */
bool tu_gate_wait_entered(tu_gate *g, int n, int64_t timeout_ms);

/* Opens the gate for every callback blocked in it and all later ones. */
void tu_gate_open(tu_gate *g);

/* ------------------------------------------------------------------------ */
/* The probe actor                                                           */
/* ------------------------------------------------------------------------ */

/* Commands sent as calls (reply: tu_cmd_result). */
enum {
    TU_PING = 0x7e570001u, /* result: 0, extra: self pid id */
    TU_LINK,               /* arg tr_pid; result: tr_link rc */
    TU_UNLINK,             /* arg tr_pid; result: tr_unlink rc */
    TU_MONITOR,            /* arg tr_pid; result: rc, extra: ref */
    TU_DEMONITOR,          /* arg uint64_t ref; result: rc */
    TU_TRAP,               /* arg bool; result: old value */
    TU_EXIT,               /* arg tu_exit_arg; result: tr_exit rc */
    TU_SPAWN_LINK,         /* arg tu_spawn_arg; result: rc, extra: pid id */
    TU_REQUEST,            /* arg tu_request_arg; result: rc, extra: request id */
    /* Commands sent as casts. */
    TU_STOP,      /* arg tr_reason: return tr_stop(self, reason) */
    TU_FAIL,      /* arg tr_reason: tr_fail(self, reason) */
    TU_GATE,      /* arg tu_gate *: block in the callback until the gate opens */
    TU_DEMON_KILL /* arg tu_demon_kill_arg: demonitor(ref), then kill pid; logs RC */
};

typedef struct tu_cmd_result {
    int64_t rc;
    uint64_t extra;
} tu_cmd_result;

typedef struct tu_exit_arg {
    tr_pid pid;
    tr_reason reason;
} tu_exit_arg;

typedef struct tu_spawn_arg {
    const tr_behaviour *b;
    const void *arg;
} tu_spawn_arg;

typedef struct tu_request_arg {
    tr_pid to;
    uint32_t tag;
    tr_duration_ms timeout_ms;
} tu_request_arg;

typedef struct tu_demon_kill_arg {
    uint64_t ref;
    tr_pid pid;
} tu_demon_kill_arg;

/* Probe spawn argument; the probe copies it in init. */
typedef struct tu_probe_arg {
    tu_log *log;
} tu_probe_arg;

typedef struct tu_probe_state {
    tu_log *log;
} tu_probe_state;

/* The probe's behaviour (spawn argument: a tu_probe_arg, or NULL). */
const tr_behaviour *tu_probe_behaviour(void);

/* Spawns a probe logging into log; asserts success. */
tr_pid tu_probe(tr_runtime *rt, tu_log *log, bool trap_exit);

/* Runs a probe command (a call); asserts the call itself succeeded and
 * returns the command's result (extra, if not NULL, gets the extra). */
int64_t tu_cmd(tr_runtime *rt, tr_pid p, uint32_t cmd, const void *arg, size_t size,
               uint64_t *extra);

/* Probe commands: p links to, unlinks from, monitors (returns the ref) or
 * answers a ping (asserts it is p); p stops or fails with r; p holds in
 * gate g (returns once it is inside). */
int tu_link(tr_runtime *rt, tr_pid p, tr_pid target);
int tu_unlink(tr_runtime *rt, tr_pid p, tr_pid target);
uint64_t tu_monitor(tr_runtime *rt, tr_pid p, tr_pid target);
void tu_ping(tr_runtime *rt, tr_pid p);
void tu_stop(tr_runtime *rt, tr_pid p, tr_reason r);
void tu_fail(tr_runtime *rt, tr_pid p, tr_reason r);
void tu_hold(tr_runtime *rt, tr_pid p, tu_gate *g);

/* Awaits p's exit from the test thread; returns the reason. */
tr_reason tu_await(tr_runtime *rt, tr_pid p);

/* A watcher: a probe monitoring a target, set up before the target is told
 * to exit, so its DOWN carries the real reason (tr_await_exit started after
 * the exit would see noproc). */
typedef struct tu_watch {
    tu_log *log;
    tr_pid watcher;
    uint64_t ref;
} tu_watch;

/* Spawns a probe logging into log that monitors target (on return). */
tu_watch tu_watch_start(tr_runtime *rt, tu_log *log, tr_pid target);

/* Waits (up to 10 s, asserted) for the watcher's DOWN; returns its reason. */
tr_reason tu_watch_wait(tu_watch *w);

/* ------------------------------------------------------------------------ */
/* Fixture: a runtime and a log per test                                     */
/* ------------------------------------------------------------------------ */

#define TU_MAX_GATES 4

typedef struct tu_fix {
    tr_runtime *rt;
    tu_log *log;
    tu_gate gate[TU_MAX_GATES];
} tu_fix;

/* cmocka setup: a tu_fix with a runtime of `threads` threads (2 or 4), a
 * log and TU_MAX_GATES gates; teardown opens the gates, shuts the runtime
 * down and frees the rest. */
int tu_fix_setup_n(void **state, unsigned threads);
int tu_setup2(void **state);
int tu_setup4(void **state);
int tu_teardown(void **state);

#define TU_TEST(fn) cmocka_unit_test_setup_teardown(fn, tu_setup2, tu_teardown)
#define TU_TEST4(fn) cmocka_unit_test_setup_teardown(fn, tu_setup4, tu_teardown)

#endif
