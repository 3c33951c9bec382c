/* The logger (troupe/log.h): a handler set in tr_runtime_opts receives the
 * crash report of a failed callback, the supervisor reports of a restart
 * and of a supervisor giving up, the report of a failed init and, at debug
 * level, a message a default handle_info dropped; a flood of crashes while
 * the handler is stuck is counted, not lost silently; the default handler
 * writes one line per event to stderr. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <troupe/troupe.h>

#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* A handler that keeps every event                                          */
/* ------------------------------------------------------------------------ */

#define CAP_MAX 4096

typedef struct capture {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tr_log_event *ev; /* CAP_MAX events */
    size_t n;
    uint64_t dropped; /* sum of TR_LOG_DROPPED counts */
    tu_gate *hold;    /* when set: the handler blocks in it for every event */
} capture;

static void cap_init(capture *c) {
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->ev = calloc(CAP_MAX, sizeof(tr_log_event));
    assert_non_null(c->ev);
    c->n = 0;
    c->dropped = 0;
    c->hold = NULL;
}

static void cap_fini(capture *c) {
    free(c->ev);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

static void cap_handler(const tr_log_event *ev, void *user) {
    capture *c = user;
    if (c->hold)
        tu_gate_pass(c->hold, 30000);
    pthread_mutex_lock(&c->mu);
    if (ev->kind == TR_LOG_DROPPED)
        c->dropped += ev->dropped;
    if (c->n < CAP_MAX)
        c->ev[c->n++] = *ev;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static uint64_t cap_dropped(capture *c) {
    pthread_mutex_lock(&c->mu);
    uint64_t d = c->dropped;
    pthread_mutex_unlock(&c->mu);
    return d;
}

static size_t cap_count(capture *c, tr_log_kind kind) {
    pthread_mutex_lock(&c->mu);
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->ev[i].kind == kind)
            k++;
    pthread_mutex_unlock(&c->mu);
    return k;
}

/* Waits for the idx-th event of kind (0-based) and copies it out. */
static bool cap_wait(capture *c, tr_log_kind kind, size_t idx, tr_log_event *out) {
    int64_t end = tu_now_ms() + 10000;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        size_t k = 0;
        for (size_t i = 0; i < c->n; i++) {
            if (c->ev[i].kind != kind)
                continue;
            if (k++ == idx) {
                *out = c->ev[i];
                pthread_mutex_unlock(&c->mu);
                return true;
            }
        }
        if (tu_now_ms() >= end)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    return false;
}

static tr_runtime *start_logged(capture *c, int level, unsigned queue) {
    tr_runtime_opts o = {
        .threads = 2, .log_fn = cap_handler, .log_user = c, .log_level = level, .log_queue = queue};
    tr_runtime *rt = NULL;
    assert_rc(tr_runtime_start(&o, &rt), TR_OK);
    return rt;
}

/* ------------------------------------------------------------------------ */
/* Behaviours                                                                */
/* ------------------------------------------------------------------------ */

enum { TAG_CRASH = 1, TAG_HOLD_CRASH = 2, TAG_NOOP = 3 };

static tu_gate g_gate; /* TAG_HOLD_CRASH waits here before failing */

static int crasher_cast(tr_self *self, void *state, const tr_msg *msg) {
    (void)state;
    if (msg->tag == TAG_HOLD_CRASH)
        tu_gate_pass(&g_gate, 10000);
    if (msg->tag == TAG_CRASH || msg->tag == TAG_HOLD_CRASH)
        tr_fail(self, tr_reason_error(42, "boom"));
    return TR_CONTINUE;
}

static const tr_behaviour crasher = {.name = "crasher", .handle_cast = crasher_cast};

static int refuser_init(tr_self *self, void *state, const void *arg) {
    (void)state;
    (void)arg;
    return tr_stop(self, tr_reason_error(7, "no database"));
}

static const tr_behaviour refuser = {.name = "refuser", .init = refuser_init};

static const tr_behaviour deaf = {.name = "deaf"}; /* no handle_info: drops plain messages */

static tr_pid child_pid(tr_runtime *rt, tr_pid sup, const char *id) {
    tr_child_info info[4];
    size_t n = 0;
    assert_rc(tr_supervisor_which_children(rt, sup, info, 4, &n), TR_OK);
    for (size_t i = 0; i < n && i < 4; i++)
        if (strcmp(info[i].id, id) == 0)
            return info[i].pid;
    return TR_PID_NONE;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

/* A crash report carries the pid, registered name, behaviour, reason, the
 * message being handled and the messages still queued. */
static void test_crash_report_fields(void **st) {
    (void)st;
    capture c;
    cap_init(&c);
    tu_gate_init(&g_gate);
    tr_runtime *rt = start_logged(&c, 0, 0);
    tr_pid p;
    assert_rc(tr_spawn(rt, &crasher, NULL, NULL, &p), TR_OK);
    assert_rc(tr_register(rt, "crashy", p, NULL), TR_OK);
    tr_pid me = TR_PID_NONE;
    assert_rc(tr_cast(rt, p, TAG_HOLD_CRASH, "x", 1), TR_OK);
    assert_true(tu_gate_wait_entered(&g_gate, 1, 10000));
    for (int i = 0; i < 3; i++)
        assert_rc(tr_cast(rt, p, TAG_NOOP, NULL, 0), TR_OK);
    tu_gate_open(&g_gate);
    tr_log_event ev;
    assert_true(cap_wait(&c, TR_LOG_CRASH, 0, &ev));
    assert_int_equal(ev.level, TR_LOG_ERROR);
    assert_pid_equal(ev.pid, p);
    assert_string_equal(ev.name, "crashy");
    assert_string_equal(ev.behaviour, "crasher");
    assert_int_equal(ev.reason.kind, TR_EXIT_ERROR);
    assert_int_equal(ev.reason.code, 42);
    assert_string_equal(ev.reason.text, "boom");
    assert_true(ev.has_msg);
    assert_int_equal(ev.msg_kind, TR_MSG_CAST);
    assert_int_equal(ev.msg_tag, TAG_HOLD_CRASH);
    assert_pid_equal(ev.sender, me);
    assert_int_equal(ev.mailbox_len, 3);
    assert_pid_equal(ev.parent, TR_PID_NONE);
    assert_true(ev.time_us > 0);
    assert_non_null(strstr(ev.line, " error crash pid=<"));
    assert_non_null(strstr(ev.line, "name=crashy behaviour=crasher reason=\"error(42): boom\""));
    assert_non_null(strstr(ev.line, "message=cast tag=0x2"));
    assert_non_null(strstr(ev.line, "mailbox=3"));
    tu_rt_stop(&rt);
    /* one crash, one report */
    assert_int_equal(cap_count(&c, TR_LOG_CRASH), 1);
    tu_gate_destroy(&g_gate);
    cap_fini(&c);
}

/* A stop with an abnormal reason is a crash report too; a normal stop and
 * an exit signal are not (OTP). */
static int stopper_cast(tr_self *self, void *state, const tr_msg *msg) {
    (void)state;
    return msg->tag == 1 ? tr_stop(self, tr_reason_error(5, "bad state"))
                         : tr_stop(self, tr_reason_normal());
}
static const tr_behaviour stopper = {.name = "stopper", .handle_cast = stopper_cast};

static void test_crash_report_only_abnormal(void **st) {
    (void)st;
    capture c;
    cap_init(&c);
    tr_runtime *rt = start_logged(&c, 0, 0);
    tr_pid a, b, k;
    assert_rc(tr_spawn(rt, &stopper, NULL, NULL, &a), TR_OK);
    assert_rc(tr_spawn(rt, &stopper, NULL, NULL, &b), TR_OK);
    assert_rc(tr_spawn(rt, &stopper, NULL, NULL, &k), TR_OK);
    assert_rc(tr_cast(rt, b, 2, NULL, 0), TR_OK); /* normal stop: no report */
    assert_rc(tr_await_exit(rt, b, 10000, NULL), TR_OK);
    assert_rc(tr_exit(rt, k, tr_reason_kill()), TR_OK); /* killed: no report */
    assert_rc(tr_await_exit(rt, k, 10000, NULL), TR_OK);
    assert_rc(tr_cast(rt, a, 1, NULL, 0), TR_OK); /* abnormal stop: reported */
    tr_log_event ev;
    assert_true(cap_wait(&c, TR_LOG_CRASH, 0, &ev));
    assert_pid_equal(ev.pid, a);
    assert_int_equal(ev.reason.code, 5);
    tu_rt_stop(&rt); /* delivers everything queued */
    assert_int_equal(cap_count(&c, TR_LOG_CRASH), 1);
    cap_fini(&c);
}

/* A failed init is reported with its reason. */
static void test_init_failure_report(void **st) {
    (void)st;
    capture c;
    cap_init(&c);
    tr_runtime *rt = start_logged(&c, 0, 0);
    tr_pid p = TR_PID_NONE;
    assert_rc(tr_spawn(rt, &refuser, NULL, NULL, &p), TR_EINIT);
    tr_log_event ev;
    assert_true(cap_wait(&c, TR_LOG_INIT_FAILED, 0, &ev));
    assert_int_equal(ev.level, TR_LOG_ERROR);
    assert_string_equal(ev.behaviour, "refuser");
    assert_int_equal(ev.reason.kind, TR_EXIT_ERROR);
    assert_int_equal(ev.reason.code, 7);
    assert_string_equal(ev.reason.text, "no database");
    assert_false(tr_pid_is_none(ev.pid));
    assert_false(tr_is_alive(rt, ev.pid));
    assert_non_null(strstr(ev.line, "init_failed"));
    assert_non_null(strstr(ev.line, "no database"));
    tu_rt_stop(&rt);
    cap_fini(&c);
}

/* A child's crash gives a crash report, then "child terminated", then
 * "child restarted" with the old and new pids; one crash too many gives
 * "supervisor gave up" with the intensity figures. */
static void test_supervisor_restart_and_give_up(void **st) {
    (void)st;
    capture c;
    cap_init(&c);
    tr_runtime *rt = start_logged(&c, TR_LOG_INFO, 0);
    tr_child_spec kids[] = {
        {.id = "w1", .behaviour = &crasher, .restart = TR_PERMANENT, .shutdown_ms = 1000}};
    tr_sup_spec spec = {.flags = {.strategy = TR_ONE_FOR_ONE, .intensity = 1, .period_ms = 60000},
                        .children = kids,
                        .n_children = 1};
    tr_pid sup;
    assert_rc(tr_supervisor_start(rt, &spec, &sup), TR_OK);
    tr_pid first = child_pid(rt, sup, "w1");
    assert_false(tr_pid_is_none(first));
    tr_log_event ev;
    assert_true(cap_wait(&c, TR_LOG_CHILD_STARTED, 0, &ev));
    assert_int_equal(ev.level, TR_LOG_INFO);
    assert_pid_equal(ev.sup, sup);
    assert_string_equal(ev.child_id, "w1");
    assert_pid_equal(ev.child_pid, first);

    /* crash 1: restarted */
    assert_rc(tr_cast(rt, first, TAG_CRASH, NULL, 0), TR_OK);
    assert_true(cap_wait(&c, TR_LOG_CHILD_RESTARTED, 0, &ev));
    assert_int_equal(ev.level, TR_LOG_NOTICE);
    assert_pid_equal(ev.sup, sup);
    assert_string_equal(ev.child_id, "w1");
    assert_pid_equal(ev.child_pid, first);
    assert_false(tr_pid_is_none(ev.new_pid));
    assert_false(tr_pid_eq(ev.new_pid, first));
    assert_int_equal(ev.restarts, 1);
    tr_pid second = ev.new_pid;
    assert_pid_equal(child_pid(rt, sup, "w1"), second);
    assert_non_null(strstr(ev.line, "child_restarted"));
    assert_true(cap_wait(&c, TR_LOG_CHILD_TERMINATED, 0, &ev));
    assert_int_equal(ev.level, TR_LOG_ERROR);
    assert_pid_equal(ev.child_pid, first);
    assert_int_equal(ev.reason.code, 42);
    assert_true(cap_wait(&c, TR_LOG_CRASH, 0, &ev));
    assert_pid_equal(ev.pid, first);
    assert_pid_equal(ev.parent, sup);

    /* crash 2 within the period: more than 1 restart, the supervisor gives up */
    assert_rc(tr_cast(rt, second, TAG_CRASH, NULL, 0), TR_OK);
    assert_true(cap_wait(&c, TR_LOG_SUP_GAVE_UP, 0, &ev));
    assert_int_equal(ev.level, TR_LOG_ERROR);
    assert_pid_equal(ev.sup, sup);
    assert_string_equal(ev.child_id, "w1");
    assert_pid_equal(ev.child_pid, second);
    assert_int_equal(ev.intensity, 1);
    assert_int_equal(ev.period_ms, 60000);
    assert_int_equal(ev.restarts, 2);
    assert_int_equal(ev.reason.kind, TR_EXIT_SHUTDOWN);
    assert_non_null(strstr(ev.line, "supervisor_gave_up"));
    assert_non_null(strstr(ev.line, "intensity=1 period_ms=60000"));
    assert_rc(tr_await_exit(rt, sup, 10000, NULL), TR_OK);
    tu_rt_stop(&rt);
    assert_int_equal(cap_count(&c, TR_LOG_CHILD_RESTARTED), 1);
    assert_int_equal(cap_count(&c, TR_LOG_SUP_GAVE_UP), 1);
    cap_fini(&c);
}

/* A restart held back by the backoff is reported with the delay. */
static void test_backoff_report(void **st) {
    (void)st;
    capture c;
    cap_init(&c);
    tr_runtime *rt = start_logged(&c, 0, 0);
    tr_child_spec kids[] = {
        {.id = "slow", .behaviour = &crasher, .restart = TR_PERMANENT, .shutdown_ms = 1000}};
    tr_sup_spec spec = {.flags = {.strategy = TR_ONE_FOR_ONE,
                                  .intensity = 5,
                                  .period_ms = 60000,
                                  .backoff_initial_ms = 40,
                                  .backoff_max_ms = 1000},
                        .children = kids,
                        .n_children = 1};
    tr_pid sup;
    assert_rc(tr_supervisor_start(rt, &spec, &sup), TR_OK);
    tr_pid first = child_pid(rt, sup, "slow");
    assert_rc(tr_cast(rt, first, TAG_CRASH, NULL, 0), TR_OK);
    tr_log_event ev;
    assert_true(cap_wait(&c, TR_LOG_RESTART_DELAYED, 0, &ev));
    assert_int_equal(ev.level, TR_LOG_WARNING);
    assert_string_equal(ev.child_id, "slow");
    assert_pid_equal(ev.child_pid, first);
    assert_true(ev.delay_ms >= 40);
    assert_non_null(strstr(ev.line, "backoff_ms="));
    /* and then the restart happens */
    assert_true(cap_wait(&c, TR_LOG_CHILD_RESTARTED, 0, &ev));
    assert_pid_equal(ev.child_pid, first);
    tu_rt_stop(&rt);
    cap_fini(&c);
}

/* At debug level, a message a default handle_info dropped is reported. */
static void test_unexpected_message_debug(void **st) {
    (void)st;
    capture c;
    cap_init(&c);
    tr_runtime *rt = start_logged(&c, TR_LOG_DEBUG, 0);
    tr_pid p;
    assert_rc(tr_spawn(rt, &deaf, NULL, NULL, &p), TR_OK);
    assert_rc(tr_send(rt, p, 99, "hi", 2), TR_OK);
    tr_log_event ev;
    assert_true(cap_wait(&c, TR_LOG_UNEXPECTED_MSG, 0, &ev));
    assert_int_equal(ev.level, TR_LOG_DEBUG);
    assert_pid_equal(ev.pid, p);
    assert_string_equal(ev.behaviour, "deaf");
    assert_int_equal(ev.msg_kind, TR_MSG_INFO);
    assert_int_equal(ev.msg_tag, 99);
    tu_rt_stop(&rt);
    cap_fini(&c);
}

/* Below the level nothing reaches the handler: at the default level
 * (notice) a child's start (info) and a dropped message (debug) are not
 * delivered, while the crash (error) after them is, in order. */
static void test_level_filters(void **st) {
    (void)st;
    capture c;
    cap_init(&c);
    tr_runtime *rt = start_logged(&c, 0, 0);
    tr_pid d, p;
    assert_rc(tr_spawn(rt, &deaf, NULL, NULL, &d), TR_OK);
    assert_rc(tr_send(rt, d, 99, NULL, 0), TR_OK);
    tr_proc_info info;
    assert_true(
        TU_WAIT(tr_process_info(rt, d, &info) == TR_OK && info.messages_handled == 1, 10000));
    assert_rc(tr_spawn(rt, &crasher, NULL, NULL, &p), TR_OK);
    assert_rc(tr_cast(rt, p, TAG_CRASH, NULL, 0), TR_OK);
    tr_log_event ev;
    assert_true(cap_wait(&c, TR_LOG_CRASH, 0, &ev));
    tu_rt_stop(&rt);
    assert_int_equal(cap_count(&c, TR_LOG_UNEXPECTED_MSG), 0);
    cap_fini(&c);
}

/* A flood of crashes while the handler is stuck: the crashing threads do
 * not wait (every actor exits while the handler is held), and every crash
 * is either delivered or counted in a "dropped" event. */
static void test_flood_counted_not_lost(void **st) {
    (void)st;
    capture c;
    cap_init(&c);
    tu_gate hold;
    tu_gate_init(&hold);
    c.hold = &hold;
    const int N = TU_SCALE(2000, 400);
    tr_runtime *rt = start_logged(&c, 0, 16);
    tr_pid *pids = calloc((size_t)N, sizeof(tr_pid));
    assert_non_null(pids);
    for (int i = 0; i < N; i++)
        assert_rc(tr_spawn(rt, &crasher, NULL, NULL, &pids[i]), TR_OK);
    for (int i = 0; i < N; i++)
        assert_rc(tr_cast(rt, pids[i], TAG_CRASH, NULL, 0), TR_OK);
    /* every crash completes while the handler is blocked in its first call */
    for (int i = 0; i < N; i++)
        assert_rc(tr_await_exit(rt, pids[i], 20000, NULL), TR_OK);
    assert_true(tu_gate_wait_entered(&hold, 1, 10000));
    tu_gate_open(&hold);
    assert_true(TU_WAIT(cap_count(&c, TR_LOG_CRASH) + cap_dropped(&c) >= (size_t)N, 20000));
    tu_rt_stop(&rt);
    uint64_t dropped = cap_dropped(&c);
    size_t delivered = cap_count(&c, TR_LOG_CRASH);
    assert_int_equal(delivered + dropped, (size_t)N);
    assert_true(dropped > 0);
    assert_true(delivered >= 16); /* the queue's worth at least */
    tr_log_event ev;
    assert_true(cap_wait(&c, TR_LOG_DROPPED, 0, &ev));
    assert_int_equal(ev.level, TR_LOG_WARNING);
    assert_non_null(strstr(ev.line, "events dropped"));
    free(pids);
    tu_gate_destroy(&hold);
    cap_fini(&c);
}

/* The default handler writes one line per event to stderr. */
static void test_default_handler_stderr(void **st) {
    (void)st;
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    tr_runtime_opts o = {.threads = 2};
    tr_runtime *rt = NULL;
    int rc = tr_runtime_start(&o, &rt);
    tr_pid p = TR_PID_NONE;
    if (rc == TR_OK) {
        rc = tr_spawn(rt, &crasher, NULL, NULL, &p);
        if (rc == TR_OK)
            rc = tr_cast(rt, p, TAG_CRASH, NULL, 0);
        if (rc == TR_OK)
            rc = tr_await_exit(rt, p, 10000, NULL);
        tr_runtime_free(&rt); /* the logger delivers everything before it stops */
    }
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    assert_rc(rc, TR_OK);
    char buf[4096] = {0};
    rewind(tmp);
    size_t n = fread(buf, 1, sizeof buf - 1, tmp);
    fclose(tmp);
    assert_true(n > 0);
    char *line = strstr(buf, "troupe error crash pid=<");
    assert_non_null(line);
    assert_non_null(strstr(line, "behaviour=crasher reason=\"error(42): boom\""));
    assert_non_null(strchr(line, '\n'));
    /* ISO 8601 UTC timestamp first: YYYY-MM-DDTHH:MM:SS.uuuuuuZ */
    assert_true(line - buf >= 28);
    assert_int_equal(line[-2], 'Z');
    assert_int_equal(line[-18], 'T');
}

static void test_bad_log_options(void **st) {
    (void)st;
    tr_runtime *rt = NULL;
    tr_runtime_opts o = {.threads = 1, .log_level = 9};
    assert_rc(tr_runtime_start(&o, &rt), TR_EINVAL);
    o.log_level = -1;
    assert_rc(tr_runtime_start(&o, &rt), TR_EINVAL);
    o.log_level = 0;
    o.log_queue = (1u << 20) + 1;
    assert_rc(tr_runtime_start(&o, &rt), TR_EINVAL);
    assert_null(rt);
    assert_string_equal(tr_log_level_name(TR_LOG_WARNING), "warning");
    assert_string_equal(tr_log_level_name(0), "?");
    assert_string_equal(tr_log_kind_name(TR_LOG_SUP_GAVE_UP), "supervisor_gave_up");
    assert_string_equal(tr_log_kind_name(1000), "?");
    tr_log_default_handler(NULL, NULL); /* harmless */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_report_fields),
        cmocka_unit_test(test_crash_report_only_abnormal),
        cmocka_unit_test(test_init_failure_report),
        cmocka_unit_test(test_supervisor_restart_and_give_up),
        cmocka_unit_test(test_backoff_report),
        cmocka_unit_test(test_unexpected_message_debug),
        cmocka_unit_test(test_level_filters),
        cmocka_unit_test(test_flood_counted_not_lost),
        cmocka_unit_test(test_default_handler_stderr),
        cmocka_unit_test(test_bad_log_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
