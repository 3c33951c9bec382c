/* troupe — introspection: the snapshot of live actors, one actor's
 * particulars and the runtime's metrics (include/troupe/introspect.h),
 * as erlang:processes/0, process_info/2 and erlang:statistics/1.
 *
 * Nothing here costs the hot path more than the owner's relaxed stores
 * once per turn (actor.c's turn_stats) and per park and steal (sched.c):
 * readers sum each thread's share, as tr__count_alive does.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <troupe/introspect.h>

#include "actor/core.h"

char *tr_pid_format(tr_pid pid, char *buf, size_t size) {
    if (!buf || size == 0)
        return buf;
    if (pid.id == 0)
        snprintf(buf, size, "<none>");
    else
        snprintf(buf, size, "<%u.%u.%u>", tr__pid_rt(pid), tr__pid_index(pid), tr__pid_gen(pid));
    return buf;
}

/* ------------------------------------------------------------------------ */
/* live actors                                                               */
/* ------------------------------------------------------------------------ */

struct tr_proc_iter {
    tr_pid *pids;
    size_t n, next;
};

int tr_processes_open(tr_runtime *rt, tr_proc_iter **out) {
    if (!rt || !out)
        return TR_EINVAL;
    *out = NULL;
    pthread_mutex_lock(&rt->table_mu);
    uint32_t high = rt->actor_slots.high; /* slots 1..high-1 were ever used */
    pthread_mutex_unlock(&rt->table_mu);
    tr_proc_iter *it = (tr_proc_iter *)tr__calloc(sizeof *it);
    size_t cap = 64;
    if (it)
        it->pids = (tr_pid *)tr__malloc(sizeof(tr_pid) * cap);
    if (!it || !it->pids) {
        tr__free(it);
        return TR_ENOMEM;
    }
    for (uint32_t idx = 1; idx < high; idx++) {
        tr__slot *s = tr__slot_at(rt, idx);
        if (!s)
            continue;
        uint64_t w = tr__load_acq_u64(&s->w);
        if (!(w & TR__SLOT_ALIVE))
            continue;
        if (it->n == cap) {
            tr_pid *p = (tr_pid *)tr__realloc(it->pids, sizeof(tr_pid) * cap * 2);
            if (!p) {
                tr_processes_close(it);
                return TR_ENOMEM;
            }
            it->pids = p;
            cap *= 2;
        }
        it->pids[it->n++] = tr__pid_make(rt->id, (uint32_t)(w >> 32), idx);
    }
    *out = it;
    return TR_OK;
}

bool tr_processes_next(tr_proc_iter *it, tr_pid *pid) {
    if (!it || !pid || it->next >= it->n)
        return false;
    *pid = it->pids[it->next++];
    return true;
}

size_t tr_processes_count(const tr_proc_iter *it) {
    return it ? it->n : 0;
}

void tr_processes_close(tr_proc_iter *it) {
    if (!it)
        return;
    tr__free(it->pids);
    tr__free(it);
}

/* ------------------------------------------------------------------------ */
/* one actor                                                                 */
/* ------------------------------------------------------------------------ */

/* The behaviour a runs, read from any thread: a fiber running a behaviour
 * publishes it in its init (fiber.c), after the pid is live. */
static const tr_behaviour *behaviour_any_thread(const tr__actor *a) {
    if (!tr__is_fiber(a))
        return a->b;
    const tr_behaviour *b = __atomic_load_n(&tr__fiber_of_c(a)->b, __ATOMIC_ACQUIRE);
    return b ? b : a->b;
}

const tr_behaviour *tr__behaviour_of(tr_runtime *rt, tr_pid pid) {
    if (!rt || pid.id == 0)
        return NULL;
    tr__actor *a = tr__acquire(rt, pid);
    if (!a)
        return NULL;
    const tr_behaviour *b = behaviour_any_thread(a);
    tr__release(a);
    return b;
}

static void list_add(tr_pid *list, size_t *n, tr_pid pid) {
    if (*n < TR_INFO_PIDS)
        list[*n] = pid;
    (*n)++;
}

int tr_process_info(tr_runtime *rt, tr_pid pid, tr_proc_info *info) {
    if (!rt || !info || pid.id == 0)
        return TR_EINVAL;
    memset(info, 0, sizeof *info);
    tr__actor *a = tr__acquire(rt, pid);
    if (!a)
        return TR_ENOPROC;
    info->pid = pid;
    const tr_behaviour *b = behaviour_any_thread(a);
    if (b && b->name)
        snprintf(info->behaviour, sizeof info->behaviour, "%s", b->name);
    info->is_fiber = tr__is_fiber(a);
    info->parent = tr__actor_parent(a);
    long depth = (long)tr__mq_depth(&a->mq, &a->mqc);
    info->mailbox_len = depth > 0 ? (size_t)depth : 0;
    info->messages_handled = tr__load_rlx_u64(&a->n_handled);
    info->last_scheduler = (int)tr__load_rlx_u16(&a->last_sched) - 1;
    info->trap_exit = (tr__load_rlx_u16(&a->flags) & TR__F_TRAP_EXIT) != 0;
    tr__spin_lock(&a->lock);
    bool named = (a->lk & (1u << TR__SVC_REGISTRY)) != 0;
    tr__actor_x *x = tr__actor_x_peek(a);
    for (uint32_t i = 0; x && i < x->n_links; i++) {
        const tr__link *l = &x->links[i];
        if (l->kind == TR__L_LINK)
            list_add(info->links, &info->n_links, l->pid);
        else if (l->kind == TR__L_MONITORING)
            list_add(info->monitors, &info->n_monitors, l->pid);
        else if (l->kind == TR__L_MONITORED_BY)
            list_add(info->monitored_by, &info->n_monitored_by, l->pid);
    }
    bool exiting = (a->lk & TR__LK_EXITING) != 0;
    tr__spin_unlock(&a->lock);
    tr__release(a);
    if (exiting)
        return TR_ENOPROC; /* died meanwhile: what we read is being torn down */
    if (named)
        info->n_names =
            tr__services_names_of(rt, pid, info->names[0], sizeof info->names[0], TR_INFO_NAMES);
    return TR_OK;
}

/* ------------------------------------------------------------------------ */
/* metrics                                                                   */
/* ------------------------------------------------------------------------ */

void tr__count_restart(tr_runtime *rt) {
    tr__count_add(rt, &rt->n_restarts, offsetof(tr__sched, ctx.d_restarts), 1);
}

int tr_metrics_get(tr_runtime *rt, tr_metrics *m) {
    if (!rt || !m)
        return TR_EINVAL;
    memset(m, 0, sizeof *m);
    int64_t now = tr__now_ns();
    m->uptime_ns = (uint64_t)(now - rt->start_ns);
    unsigned n = rt->n_sched;
    m->n_sched = n < 64 ? n : 64;
    for (unsigned i = 0; i < n; i++) {
        const tr__ctx *c = &rt->scheds[i].ctx;
        uint64_t msgs = tr__load_rlx_u64(&c->m_msgs);
        m->messages += msgs;
        if (i >= 64)
            continue;
        tr_sched_metrics *s = &m->sched[i];
        s->messages = msgs;
        s->steals = tr__load_rlx_u64(&c->m_steals);
        /* a park in progress counts up to now (since is read first: once
         * it reads 0, the total includes that park) */
        uint64_t since = tr__load_acq_u64(&c->m_park_since);
        s->parked_ns = tr__load_rlx_u64(&c->m_parked_ns);
        if (since && (uint64_t)now > since)
            s->parked_ns += (uint64_t)now - since;
        if (s->parked_ns > m->uptime_ns)
            s->parked_ns = m->uptime_ns;
        s->busy_ns = m->uptime_ns > s->parked_ns ? m->uptime_ns - s->parked_ns : 0;
    }
    m->spawns = tr__count_sum(rt, &rt->n_spawns, offsetof(tr__sched, ctx.d_spawns));
    m->restarts = tr__count_sum(rt, &rt->n_restarts, offsetof(tr__sched, ctx.d_restarts));
    for (int k = 0; k < TR__EXIT_KINDS; k++)
        m->exits[k] = tr__count_sum(
            rt, &rt->n_exits[k], offsetof(tr__sched, ctx.d_exits) + (size_t)k * sizeof(uint64_t));
    m->actors = tr__count_alive(rt);
    m->timers_pending = tr__load_acq_u32(&rt->stopping) ? 0 : tr__timers_pending(rt);
    return TR_OK;
}

static const char *const exit_names[TR__EXIT_KINDS] = {"normal", "shutdown", "kill",
                                                       "killed", "noproc",   "error"};

static double secs(uint64_t ns) {
    return (double)ns / 1e9;
}

static void prom_head(FILE *o, const char *name, const char *type, const char *help) {
    fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_prometheus(FILE *o, const tr_metrics *m) {
    prom_head(o, "troupe_uptime_seconds", "gauge", "Time since the runtime started.");
    fprintf(o, "troupe_uptime_seconds %.6f\n", secs(m->uptime_ns));
    prom_head(o, "troupe_scheduler_busy_seconds_total", "counter",
              "Time a scheduler thread was not parked (running actors or looking for work).");
    for (unsigned i = 0; i < m->n_sched; i++)
        fprintf(o, "troupe_scheduler_busy_seconds_total{scheduler=\"%u\"} %.6f\n", i,
                secs(m->sched[i].busy_ns));
    prom_head(o, "troupe_scheduler_parked_seconds_total", "counter",
              "Time a scheduler thread was parked waiting for work.");
    for (unsigned i = 0; i < m->n_sched; i++)
        fprintf(o, "troupe_scheduler_parked_seconds_total{scheduler=\"%u\"} %.6f\n", i,
                secs(m->sched[i].parked_ns));
    prom_head(o, "troupe_scheduler_steals_total", "counter",
              "Actors a scheduler thread took from another thread's run queue.");
    for (unsigned i = 0; i < m->n_sched; i++)
        fprintf(o, "troupe_scheduler_steals_total{scheduler=\"%u\"} %" PRIu64 "\n", i,
                m->sched[i].steals);
    prom_head(o, "troupe_scheduler_messages_total", "counter",
              "Messages handled on a scheduler thread.");
    for (unsigned i = 0; i < m->n_sched; i++)
        fprintf(o, "troupe_scheduler_messages_total{scheduler=\"%u\"} %" PRIu64 "\n", i,
                m->sched[i].messages);
    prom_head(o, "troupe_spawns_total", "counter", "Actors spawned.");
    fprintf(o, "troupe_spawns_total %" PRIu64 "\n", m->spawns);
    prom_head(o, "troupe_exits_total", "counter", "Actor exits by reason kind.");
    for (int k = 0; k < TR__EXIT_KINDS; k++) {
        if (k == TR_EXIT_KILL)
            continue; /* counted as killed */
        fprintf(o, "troupe_exits_total{kind=\"%s\"} %" PRIu64 "\n", exit_names[k], m->exits[k]);
    }
    prom_head(o, "troupe_restarts_total", "counter", "Children restarted by supervisors.");
    fprintf(o, "troupe_restarts_total %" PRIu64 "\n", m->restarts);
    prom_head(o, "troupe_actors", "gauge", "Live actors.");
    fprintf(o, "troupe_actors %" PRIu64 "\n", m->actors);
    prom_head(o, "troupe_timers_pending", "gauge", "Timers armed.");
    fprintf(o, "troupe_timers_pending %" PRIu64 "\n", m->timers_pending);
}

static void write_json(FILE *o, const tr_metrics *m) {
    fprintf(o, "{\"uptime_seconds\": %.6f, \"schedulers\": [", secs(m->uptime_ns));
    for (unsigned i = 0; i < m->n_sched; i++)
        fprintf(o,
                "%s{\"scheduler\": %u, \"busy_seconds\": %.6f, \"parked_seconds\": %.6f, "
                "\"steals\": %" PRIu64 ", \"messages\": %" PRIu64 "}",
                i ? ", " : "", i, secs(m->sched[i].busy_ns), secs(m->sched[i].parked_ns),
                m->sched[i].steals, m->sched[i].messages);
    fprintf(o, "], \"spawns\": %" PRIu64 ", \"exits\": {", m->spawns);
    bool first = true;
    for (int k = 0; k < TR__EXIT_KINDS; k++) {
        if (k == TR_EXIT_KILL)
            continue;
        fprintf(o, "%s\"%s\": %" PRIu64, first ? "" : ", ", exit_names[k], m->exits[k]);
        first = false;
    }
    fprintf(o,
            "}, \"restarts\": %" PRIu64 ", \"actors\": %" PRIu64 ", \"timers_pending\": %" PRIu64
            ", \"messages\": %" PRIu64 "}\n",
            m->restarts, m->actors, m->timers_pending, m->messages);
}

static void write_text(FILE *o, const tr_metrics *m) {
    fprintf(o, "uptime_seconds %.3f\n", secs(m->uptime_ns));
    for (unsigned i = 0; i < m->n_sched; i++)
        fprintf(o,
                "scheduler %u busy_seconds %.3f parked_seconds %.3f steals %" PRIu64
                " messages %" PRIu64 "\n",
                i, secs(m->sched[i].busy_ns), secs(m->sched[i].parked_ns), m->sched[i].steals,
                m->sched[i].messages);
    fprintf(o, "spawns %" PRIu64 "\n", m->spawns);
    for (int k = 0; k < TR__EXIT_KINDS; k++)
        if (k != TR_EXIT_KILL)
            fprintf(o, "exits_%s %" PRIu64 "\n", exit_names[k], m->exits[k]);
    fprintf(o, "restarts %" PRIu64 "\nactors %" PRIu64 "\ntimers_pending %" PRIu64 "\n",
            m->restarts, m->actors, m->timers_pending);
}

int tr_metrics_write(tr_runtime *rt, FILE *out, tr_format format) {
    if (!rt || !out ||
        (format != TR_FORMAT_TEXT && format != TR_FORMAT_JSON && format != TR_FORMAT_PROMETHEUS))
        return TR_EINVAL;
    tr_metrics *m = (tr_metrics *)tr__malloc(sizeof *m);
    if (!m)
        return TR_ENOMEM;
    tr_metrics_get(rt, m);
    if (format == TR_FORMAT_PROMETHEUS)
        write_prometheus(out, m);
    else if (format == TR_FORMAT_JSON)
        write_json(out, m);
    else
        write_text(out, m);
    tr__free(m);
    return ferror(out) ? TR_EIO : TR_OK;
}
