/* Introspection (troupe/introspect.h, tr_registered/tr_name_of): the
 * snapshot of live actors, tr_process_info's fields, names, the
 * supervision-tree dump as text and JSON, and the metrics. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <troupe/troupe.h>

#include "testutil.h"

enum { TAG_ECHO = 1, TAG_CRASH = 2, TAG_TRAP = 3 };

static int echo_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    (void)self;
    (void)state;
    tr_reply(from, msg->tag, msg->data, msg->size);
    return TR_CONTINUE;
}
static int echo_cast(tr_self *self, void *state, const tr_msg *msg) {
    (void)state;
    if (msg->tag == TAG_CRASH)
        tr_fail(self, tr_reason_error(1, "crash"));
    if (msg->tag == TAG_TRAP)
        tr_trap_exit(self, true);
    return TR_CONTINUE;
}
static const tr_behaviour echo = {
    .name = "echo", .handle_call = echo_call, .handle_cast = echo_cast};

static bool snapshot_has(tr_runtime *rt, tr_pid pid, size_t *count) {
    tr_proc_iter *it = NULL;
    assert_rc(tr_processes_open(rt, &it), TR_OK);
    bool found = false;
    tr_pid p;
    size_t n = 0;
    while (tr_processes_next(it, &p)) {
        n++;
        if (tr_pid_eq(p, pid))
            found = true;
    }
    assert_int_equal(n, tr_processes_count(it));
    tr_processes_close(it);
    if (count)
        *count = n;
    return found;
}

/* The iterator sees the actors spawned before it and not the exited. */
static void test_processes_snapshot(void **st) {
    (void)st;
    tr_runtime *rt = tu_rt_start(2);
    tr_pid p[5];
    for (int i = 0; i < 5; i++)
        assert_rc(tr_spawn(rt, &echo, NULL, NULL, &p[i]), TR_OK);
    size_t n = 0;
    for (int i = 0; i < 5; i++)
        assert_true(snapshot_has(rt, p[i], &n));
    assert_int_equal(n, 5);
    assert_rc(tr_exit(rt, p[2], tr_reason_kill()), TR_OK);
    assert_rc(tr_await_exit(rt, p[2], 10000, NULL), TR_OK);
    assert_false(snapshot_has(rt, p[2], &n));
    assert_int_equal(n, 4);
    assert_true(snapshot_has(rt, p[4], NULL));
    /* bad arguments */
    tr_proc_iter *it = NULL;
    assert_rc(tr_processes_open(NULL, &it), TR_EINVAL);
    assert_rc(tr_processes_open(rt, NULL), TR_EINVAL);
    tr_pid x;
    assert_false(tr_processes_next(NULL, &x));
    assert_int_equal(tr_processes_count(NULL), 0);
    tr_processes_close(NULL);
    tu_rt_stop(&rt);
}

/* tr_process_info: behaviour, names, mailbox, messages handled, links,
 * monitors, trap_exit, parent, scheduler. */
static void test_process_info_fields(void **st) {
    (void)st;
    tr_runtime *rt = tu_rt_start(2);
    tr_pid a, b;
    assert_rc(tr_spawn(rt, &echo, NULL, NULL, &a), TR_OK);
    assert_rc(tr_register(rt, "svc", a, NULL), TR_OK);
    assert_rc(tr_register(rt, "svc.alias", a, NULL), TR_OK);
    /* b is linked to a, and monitors it */
    tr_spawn_opts so = {.link_to = a};
    assert_rc(tr_spawn(rt, &echo, NULL, &so, &b), TR_OK);
    tr_proc_info info;
    assert_rc(tr_process_info(rt, b, &info), TR_OK);
    assert_pid_equal(info.parent, a);
    tr_buf reply = {0};
    for (int i = 0; i < 10; i++) {
        assert_rc(tr_call(rt, a, TAG_ECHO, "x", 1, &reply, 10000), TR_OK);
        tr_buf_free(&reply);
    }
    assert_rc(tr_cast(rt, a, TAG_TRAP, NULL, 0), TR_OK);
    assert_true(
        TU_WAIT(tr_process_info(rt, a, &info) == TR_OK && info.messages_handled == 11, 10000));
    assert_pid_equal(info.pid, a);
    assert_string_equal(info.behaviour, "echo");
    assert_int_equal(info.n_names, 2);
    bool svc = false, alias = false;
    for (size_t i = 0; i < info.n_names; i++) {
        svc |= strcmp(info.names[i], "svc") == 0;
        alias |= strcmp(info.names[i], "svc.alias") == 0;
    }
    assert_true(svc && alias);
    assert_int_equal(info.mailbox_len, 0);
    assert_true(info.trap_exit);
    assert_false(info.is_fiber);
    assert_int_equal(info.n_links, 1);
    assert_pid_equal(info.links[0], b);
    assert_pid_equal(info.parent, TR_PID_NONE);
    assert_true(info.last_scheduler >= 0 && info.last_scheduler < 2);
    assert_int_equal(info.n_monitors, 0);

    /* a monitor from a thread-side probe: the monitored actor lists it */
    tr_pid mon;
    assert_rc(tr_spawn(rt, &echo, NULL, NULL, &mon), TR_OK);
    assert_rc(tr_process_info(rt, mon, &info), TR_OK);
    assert_int_equal(info.messages_handled, 0);
    assert_int_equal(info.last_scheduler, -1); /* never ran */
    assert_false(info.trap_exit);
    assert_int_equal(info.n_names, 0);

    /* names: lookup for a pid, and the list */
    char name[64];
    assert_rc(tr_name_of(rt, b, name, sizeof name), TR_ENOTFOUND);
    assert_rc(tr_name_of(rt, a, name, sizeof name), TR_OK);
    assert_true(strcmp(name, "svc") == 0 || strcmp(name, "svc.alias") == 0);
    tr_reg_entry ents[4];
    size_t n = 0;
    assert_rc(tr_registered(rt, NULL, 0, &n), TR_OK);
    assert_int_equal(n, 2);
    assert_rc(tr_registered(rt, ents, 4, &n), TR_OK);
    assert_int_equal(n, 2);
    assert_pid_equal(ents[0].pid, a);
    assert_pid_equal(ents[1].pid, a);
    assert_rc(tr_registered(rt, ents, 1, &n), TR_OK); /* truncated, total still 2 */
    assert_int_equal(n, 2);
    assert_rc(tr_registered(rt, NULL, 1, &n), TR_EINVAL);

    /* a dead pid, bad arguments */
    assert_rc(tr_exit(rt, mon, tr_reason_kill()), TR_OK);
    assert_rc(tr_await_exit(rt, mon, 10000, NULL), TR_OK);
    assert_rc(tr_process_info(rt, mon, &info), TR_ENOPROC);
    assert_rc(tr_process_info(rt, TR_PID_NONE, &info), TR_EINVAL);
    assert_rc(tr_process_info(NULL, a, &info), TR_EINVAL);
    assert_rc(tr_process_info(rt, a, NULL), TR_EINVAL);
    char pb[40];
    assert_string_equal(tr_pid_format(TR_PID_NONE, pb, sizeof pb), "<none>");
    assert_int_equal(tr_pid_format(a, pb, sizeof pb)[0], '<');
    tu_rt_stop(&rt);
}

/* A monitor shows on both sides. */
static int watcher_cast(tr_self *self, void *state, const tr_msg *msg) {
    (void)state;
    tr_pid target;
    memcpy(&target, msg->data, sizeof target);
    uint64_t ref;
    tr_monitor(self, target, &ref);
    return TR_CONTINUE;
}
static const tr_behaviour watcher = {.name = "watcher", .handle_cast = watcher_cast};

static void test_process_info_monitors(void **st) {
    (void)st;
    tr_runtime *rt = tu_rt_start(2);
    tr_pid t, w;
    assert_rc(tr_spawn(rt, &echo, NULL, NULL, &t), TR_OK);
    assert_rc(tr_spawn(rt, &watcher, NULL, NULL, &w), TR_OK);
    assert_rc(tr_cast(rt, w, 1, &t, sizeof t), TR_OK);
    tr_proc_info info;
    assert_true(TU_WAIT(tr_process_info(rt, t, &info) == TR_OK && info.n_monitored_by == 1, 10000));
    assert_pid_equal(info.monitored_by[0], w);
    assert_rc(tr_process_info(rt, w, &info), TR_OK);
    assert_int_equal(info.n_monitors, 1);
    assert_pid_equal(info.monitors[0], t);
    tu_rt_stop(&rt);
}

/* ---- the tree ---------------------------------------------------------- */

static char *dump(tr_runtime *rt, tr_pid root, tr_format f, int *rc) {
    char *buf = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&buf, &len);
    assert_non_null(o);
    *rc = tr_supervision_tree_write(rt, root, o, f);
    fclose(o);
    return buf;
}

static int count_of(const char *s, const char *sub) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)) != NULL; p += strlen(sub))
        n++;
    return n;
}

static void test_tree_dump(void **st) {
    (void)st;
    tr_runtime *rt = tu_rt_start(2);
    tr_child_spec inner_kids[] = {{.id = "leaf", .behaviour = &echo, .restart = TR_TRANSIENT}};
    tr_sup_spec inner = {
        .flags = {.strategy = TR_ONE_FOR_ONE}, .children = inner_kids, .n_children = 1};
    tr_child_spec kids[] = {
        {.id = "worker", .behaviour = &echo, .restart = TR_PERMANENT},
        {.id = "sub",
         .behaviour = tr_supervisor_behaviour(),
         .arg = &inner,
         .restart = TR_PERMANENT,
         .type = TR_SUPERVISOR},
    };
    tr_sup_spec spec = {.flags = {.strategy = TR_ONE_FOR_ONE}, .children = kids, .n_children = 2};
    tr_pid sup;
    assert_rc(tr_supervisor_start(rt, &spec, &sup), TR_OK);
    assert_rc(tr_register(rt, "top", sup, NULL), TR_OK);
    tr_pid lone;
    assert_rc(tr_spawn(rt, &echo, NULL, NULL, &lone), TR_OK); /* not a supervisor: not listed */

    int rc;
    char *text = dump(rt, TR_PID_NONE, TR_FORMAT_TEXT, &rc);
    assert_rc(rc, TR_OK);
    assert_non_null(strstr(text, "top <"));
    assert_non_null(strstr(text, "\n  worker <"));
    assert_non_null(strstr(text, "worker permanent restarts=0 behaviour=echo mailbox=0"));
    assert_non_null(strstr(text, "\n  sub <"));
    assert_non_null(strstr(text, "supervisor permanent restarts=0 behaviour=supervisor"));
    assert_non_null(strstr(text, "\n    leaf <"));
    assert_non_null(strstr(text, "leaf <"));
    assert_non_null(strstr(text, "worker transient"));
    assert_int_equal(count_of(text, "\n"), 4);
    free(text);

    char *json = dump(rt, sup, TR_FORMAT_JSON, &rc);
    assert_rc(rc, TR_OK);
    const char *head = "{\"supervisors\": [{\"id\": \"top\", \"pid\": \"<";
    assert_true(strncmp(json, head, strlen(head)) == 0);
    assert_int_equal(count_of(json, "{"), count_of(json, "}"));
    assert_int_equal(count_of(json, "["), count_of(json, "]"));
    assert_int_equal(count_of(json, "\"children\": ["), 2);
    assert_non_null(strstr(json, "\"id\": \"leaf\""));
    assert_non_null(strstr(json, "\"type\": \"supervisor\""));
    assert_non_null(strstr(json, "\"restart\": \"transient\""));
    assert_non_null(strstr(json, "\"name\": \"top\""));
    assert_non_null(strstr(json, "\"mailbox\": 0"));
    assert_int_equal(count_of(json, "\""), count_of(json, "\"") / 2 * 2); /* quotes pair up */
    free(json);

    /* a stopped child shows with no pid */
    assert_rc(tr_supervisor_terminate_child(rt, sup, "worker", TR_PID_NONE), TR_OK);
    json = dump(rt, sup, TR_FORMAT_JSON, &rc);
    assert_rc(rc, TR_OK);
    assert_non_null(strstr(json, "{\"id\": \"worker\", \"pid\": null"));
    free(json);

    /* errors */
    char *bad = dump(rt, lone, TR_FORMAT_TEXT, &rc);
    assert_rc(rc, TR_EINVAL); /* not a supervisor */
    free(bad);
    bad = dump(rt, sup, TR_FORMAT_PROMETHEUS, &rc);
    assert_rc(rc, TR_EINVAL);
    free(bad);
    assert_rc(tr_supervision_tree_write(rt, sup, NULL, TR_FORMAT_TEXT), TR_EINVAL);
    assert_rc(tr_supervisor_stop(rt, sup, 10000), TR_OK);
    bad = dump(rt, sup, TR_FORMAT_TEXT, &rc);
    assert_rc(rc, TR_ENOPROC);
    free(bad);
    tu_rt_stop(&rt);
}

/* ---- metrics ------------------------------------------------------------- */

static double metric(const char *text, const char *series) {
    char key[128];
    snprintf(key, sizeof key, "\n%s ", series);
    const char *p = strstr(text, key);
    if (!p)
        return -1;
    return strtod(p + strlen(key), NULL);
}

static void test_metrics(void **st) {
    (void)st;
    tr_runtime *rt = tu_rt_start(2);
    tr_child_spec kids[] = {{.id = "w", .behaviour = &echo, .restart = TR_PERMANENT}};
    tr_sup_spec spec = {.flags = {.strategy = TR_ONE_FOR_ONE, .intensity = 5, .period_ms = 60000},
                        .children = kids,
                        .n_children = 1};
    tr_pid sup;
    assert_rc(tr_supervisor_start(rt, &spec, &sup), TR_OK);
    tr_child_info ci[1];
    size_t n;
    assert_rc(tr_supervisor_which_children(rt, sup, ci, 1, &n), TR_OK);
    assert_rc(tr_cast(rt, ci[0].pid, TAG_CRASH, NULL, 0), TR_OK);
    assert_true(TU_WAIT(
        tr_supervisor_which_children(rt, sup, ci, 1, &n) == TR_OK && ci[0].restarts == 1, 10000));
    tr_pid e;
    assert_rc(tr_spawn(rt, &echo, NULL, NULL, &e), TR_OK);
    tr_buf reply = {0};
    for (int i = 0; i < 100; i++) {
        assert_rc(tr_call(rt, e, TAG_ECHO, NULL, 0, &reply, 10000), TR_OK);
        tr_buf_free(&reply);
    }
    tr_timer tm;
    assert_rc(tr_send_after(rt, e, 600000, 9, NULL, 0, &tm), TR_OK);

    /* counted when the echo actor's turn ends (a turn may take several
     * calls in a row): wait until it has */
    tr_metrics m;
    assert_true(TU_WAIT(tr_metrics_get(rt, &m) == TR_OK && m.messages >= 100, 10000));
    assert_int_equal(m.n_sched, 2);
    assert_true(m.spawns >= 4);
    assert_true(m.exits[TR_EXIT_ERROR] >= 1);
    assert_int_equal(m.restarts, 1);
    assert_int_equal(m.actors, 3);
    assert_int_equal(m.timers_pending, 1);
    assert_true(m.messages >= 100);
    assert_true(m.uptime_ns > 0);
    assert_true(m.sched[0].busy_ns + m.sched[0].parked_ns <= m.uptime_ns + 1000000000ull);

    char *buf = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&buf, &len);
    assert_rc(tr_metrics_write(rt, o, TR_FORMAT_PROMETHEUS), TR_OK);
    fclose(o);
    const char *names[] = {"troupe_uptime_seconds",
                           "troupe_scheduler_busy_seconds_total",
                           "troupe_scheduler_parked_seconds_total",
                           "troupe_scheduler_steals_total",
                           "troupe_scheduler_messages_total",
                           "troupe_spawns_total",
                           "troupe_exits_total",
                           "troupe_restarts_total",
                           "troupe_actors",
                           "troupe_timers_pending"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char h[128];
        snprintf(h, sizeof h, "# TYPE %s ", names[i]);
        assert_non_null(strstr(buf, h));
    }
    assert_true(metric(buf, "troupe_spawns_total") >= 4);
    assert_true(metric(buf, "troupe_restarts_total") == 1);
    assert_true(metric(buf, "troupe_actors") == 3);
    assert_true(metric(buf, "troupe_timers_pending") == 1);
    assert_true(metric(buf, "troupe_exits_total{kind=\"error\"}") >= 1);
    assert_true(metric(buf, "troupe_uptime_seconds") > 0);
    double msgs = metric(buf, "troupe_scheduler_messages_total{scheduler=\"0\"}") +
                  metric(buf, "troupe_scheduler_messages_total{scheduler=\"1\"}");
    assert_true(msgs >= 100);
    assert_true(metric(buf, "troupe_scheduler_parked_seconds_total{scheduler=\"1\"}") >= 0);
    assert_non_null(strstr(buf, "# TYPE troupe_spawns_total counter\n"));
    assert_non_null(strstr(buf, "# TYPE troupe_actors gauge\n"));
    free(buf);

    o = open_memstream(&buf, &len);
    assert_rc(tr_metrics_write(rt, o, TR_FORMAT_JSON), TR_OK);
    fclose(o);
    assert_true(buf[0] == '{');
    assert_non_null(strstr(buf, "\"restarts\": 1"));
    assert_int_equal(count_of(buf, "{"), count_of(buf, "}"));
    free(buf);

    o = open_memstream(&buf, &len);
    assert_rc(tr_metrics_write(rt, o, TR_FORMAT_TEXT), TR_OK);
    fclose(o);
    assert_non_null(strstr(buf, "restarts 1\n"));
    free(buf);

    assert_rc(tr_metrics_write(rt, stdout, (tr_format)42), TR_EINVAL);
    assert_rc(tr_metrics_write(NULL, stdout, TR_FORMAT_TEXT), TR_EINVAL);
    assert_rc(tr_metrics_get(rt, NULL), TR_EINVAL);
    tu_rt_stop(&rt);
}

/* An idle runtime's threads show as parked, while they are parked (not
 * only once they wake up). */
static uint64_t parked_ns(tr_runtime *rt, unsigned i) {
    tr_metrics m;
    assert_rc(tr_metrics_get(rt, &m), TR_OK);
    return m.sched[i].parked_ns;
}

static void test_metrics_idle_parked(void **st) {
    (void)st;
    tr_runtime *rt = tu_rt_start(2);
    assert_true(TU_WAIT(parked_ns(rt, 0) > 200000000ull && parked_ns(rt, 1) > 200000000ull, 10000));
    tr_metrics m;
    assert_rc(tr_metrics_get(rt, &m), TR_OK);
    for (unsigned i = 0; i < 2; i++) {
        assert_true(m.sched[i].parked_ns <= m.uptime_ns);
        assert_int_equal(m.sched[i].busy_ns + m.sched[i].parked_ns, m.uptime_ns);
    }
    tu_rt_stop(&rt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_processes_snapshot),
        cmocka_unit_test(test_process_info_fields),
        cmocka_unit_test(test_process_info_monitors),
        cmocka_unit_test(test_tree_dump),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_metrics_idle_parked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
