/* troupe — the runtime object: start and stop (threads, timers, services),
 * the runtime ids, refs and random numbers, and the shutdown of every
 * actor when the runtime stops (as ponyc's sched/start.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actor/core.h"
#include "io/poll.h"

/* ---- runtime ids -------------------------------------------------------- */

/* Each live runtime of the process has its own id, carried in its pids
 * (bits 56..63), so that a pid used with another runtime names nothing
 * there (TR_ENOPROC), as an Erlang pid belongs to its node. Uniqueness
 * among live runtimes is a property of the process, not of one runtime:
 * this bitmap of ids in use is the one piece of process-wide mutable
 * state in troupe (lock-free: a CAS per bit). Ids are handed out round
 * robin from a cursor, so an id freed by a shut-down runtime is reused
 * only after TR__RT_IDS further starts (a stale pid of a freed runtime is
 * a use after free anyway; this keeps it unlikely to match). */
static uint32_t rt_ids_used[TR__RT_IDS / 32];
static uint32_t rt_ids_cursor;

static int rt_id_take(uint32_t *out) {
    uint32_t start = tr__load_acq_u32(&rt_ids_cursor);
    for (uint32_t k = 0; k < TR__RT_IDS; k++) {
        uint32_t id = (start + k) % TR__RT_IDS;
        uint32_t *w = &rt_ids_used[id / 32], bit = 1u << (id % 32);
        uint32_t old = tr__load_acq_u32(w);
        while (!(old & bit)) {
            if (tr__cas_acqrel_u32(w, old, old | bit)) {
                tr__store_rel_u32(&rt_ids_cursor, (id + 1) % TR__RT_IDS);
                *out = id;
                return TR_OK;
            }
            old = tr__load_acq_u32(w);
        }
    }
    return TR_EFULL; /* TR__RT_IDS runtimes alive */
}

static void rt_id_put(uint32_t id) {
    uint32_t *w = &rt_ids_used[id / 32], bit = 1u << (id % 32);
    uint32_t old = tr__load_acq_u32(w);
    while (!tr__cas_acqrel_u32(w, old, old & ~bit))
        old = tr__load_acq_u32(w);
}

/* ---- start / stop --------------------------------------------------------- */

static void runtime_free(tr_runtime *rt) {
    tr__timers_free(rt); /* stopped before the scheduler threads, freed after them */
    tr__log_stop(rt);
    tr__log_fini(rt);
    /* Records registered by other threads (never freed by ck: unregister only
     * marks them reusable). */
    ck_stack_entry_t *e, *next;
    for (e = CK_STACK_FIRST(&rt->epoch.records); e; e = next) {
        next = CK_STACK_NEXT(e);
        ck_epoch_record_t *r = (ck_epoch_record_t *)e; /* record_next is first */
        bool ours = false;
        for (unsigned i = 0; rt->scheds && i < rt->n_sched; i++)
            if (r == &rt->scheds[i].epoch)
                ours = true;
        if (!ours)
            tr__free(r);
    }
    if (rt->scheds) {
        for (unsigned i = 0; i < rt->n_sched; i++) {
            tr__free(rt->scheds[i].ring_buf);
            tr__free(rt->scheds[i].seen);
            pthread_mutex_destroy(&rt->scheds[i].park_mu);
            pthread_cond_destroy(&rt->scheds[i].park_cv);
        }
        tr__free(rt->scheds);
    }
    if (rt->mcaches) {
        tr__mc_fini_all(rt->mcaches, rt->n_sched);
        tr__free(rt->mcaches);
    }
    if (rt->segs) {
        for (uint32_t i = 0; i < rt->n_segs; i++)
            tr__free(rt->segs[i]);
        tr__free(rt->segs);
    }
    tr__free(rt->actor_slots.free);
    tr__free(rt->waiter_slots.free);
    tr__poll_close(rt->io_poll); /* NULL: nothing */
    pthread_mutex_destroy(&rt->table_mu);
    pthread_mutex_destroy(&rt->inj.mu);
    pthread_mutex_destroy(&rt->ovf.mu);
    pthread_mutex_destroy(&rt->grave_mu);
    pthread_mutex_destroy(&rt->wpool.mu);
    pthread_mutex_destroy(&rt->stop_mu);
    pthread_cond_destroy(&rt->stop_cv);
    rt_id_put(rt->id);
    tr__free(rt);
}

int tr_runtime_start(const tr_runtime_opts *opts, tr_runtime **out) {
    if (!out)
        return TR_EINVAL;
    tr_runtime_opts o = {0};
    if (opts)
        o = *opts;
    if (o.threads > 1024 || o.max_actors > (1u << 30) || o.blocking_threads > 1024 ||
        o.log_level < 0 || o.log_level > TR_LOG_ERROR || o.log_queue > (1u << 20))
        return TR_EINVAL;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    if (o.threads == 0)
        o.threads = (unsigned)ncpu;
    if (o.max_actors == 0)
        o.max_actors = 4u << 20;
    if (o.blocking_threads == 0)
        o.blocking_threads = 16;
    if (o.batch == 0)
        o.batch = 256; /* an Erlang slice (4,000 reductions) is a few hundred messages */
    tr_runtime *rt = (tr_runtime *)tr__calloc(sizeof *rt);
    if (!rt)
        return TR_ENOMEM;
    if (rt_id_take(&rt->id) != TR_OK) {
        tr__free(rt);
        return TR_EFULL;
    }
    rt->n_sched = o.threads;
    rt->batch = o.batch;
    rt->max_actors = o.max_actors;
    rt->blocking_threads = o.blocking_threads;
    rt->ncpu = (unsigned)ncpu;
    /* Slots 1..max_actors for actors, then 65536 for blocking callers'
     * waiters (a waiter is a pid too, but does not count as an actor). */
    rt->actor_slots.high = 1; /* slot 0 is never used: pid 0 is TR_PID_NONE */
    rt->actor_slots.end = o.max_actors + 1;
    rt->waiter_slots.high = rt->actor_slots.end;
    rt->waiter_slots.end = rt->actor_slots.end + TR__SEG_SIZE;
    rt->n_segs = (rt->waiter_slots.end + TR__SEG_SIZE - 1) / TR__SEG_SIZE;
    rt->start_ns = tr__now_ns();
    rt->rand_state = (uint64_t)tr__now_ms() * 0x9E3779B97F4A7C15ull + (uintptr_t)rt;
    pthread_mutex_init(&rt->table_mu, NULL);
    pthread_mutex_init(&rt->inj.mu, NULL);
    pthread_mutex_init(&rt->ovf.mu, NULL);
    pthread_mutex_init(&rt->grave_mu, NULL);
    pthread_mutex_init(&rt->wpool.mu, NULL);
    pthread_mutex_init(&rt->stop_mu, NULL);
    tr__cond_init_monotonic(&rt->stop_cv);
    ck_epoch_init(&rt->epoch);
    rt->segs = (tr__slot **)tr__calloc(sizeof(tr__slot *) * rt->n_segs);
    rt->scheds = (tr__sched *)tr__calloc(sizeof(tr__sched) * rt->n_sched);
    rt->mcaches = (tr__mcache *)tr__aligned_calloc(64, sizeof(tr__mcache) * rt->n_sched);
    if (!rt->segs || !rt->scheds || !rt->mcaches ||
        tr__mc_init_all(rt->mcaches, rt->n_sched) != TR_OK) {
        runtime_free(rt);
        return TR_ENOMEM;
    }
    for (unsigned i = 0; i < rt->n_sched; i++) {
        tr__sched *s = &rt->scheds[i];
        s->rt = rt;
        s->index = i;
        s->steal_seed = i * 7919 + 1;
        s->ring_buf = (ck_ring_buffer_t *)tr__calloc(sizeof(ck_ring_buffer_t) * TR__RING_SIZE);
        s->seen = (tr__seen *)tr__calloc(sizeof(tr__seen) * rt->n_sched);
        pthread_mutex_init(&s->park_mu, NULL);
        tr__cond_init_monotonic(&s->park_cv);
        if (!s->ring_buf || !s->seen) {
            runtime_free(rt);
            return TR_ENOMEM;
        }
        ck_ring_init(&s->ring, TR__RING_SIZE);
        ck_epoch_register(&rt->epoch, &s->epoch, NULL);
    }
    int err = tr__poll_open(&rt->io_poll);
    if (err) {
        runtime_free(rt);
        return err;
    }
    err = tr__log_start(rt, &o);
    if (err) {
        runtime_free(rt);
        return err;
    }
    err = tr__services_init(rt);
    if (err) {
        runtime_free(rt);
        return err;
    }
    err = tr__timers_start(rt);
    if (err) {
        tr__services_fini(rt);
        runtime_free(rt);
        return err;
    }
    unsigned started = 0;
    for (; started < rt->n_sched; started++)
        if (pthread_create(&rt->scheds[started].thread, NULL, tr__sched_main, &rt->scheds[started]))
            break;
    if (started < rt->n_sched) {
        tr__store_rel_u32(&rt->quit, 1);
        tr__wake_all(rt);
        for (unsigned i = 0; i < started; i++)
            pthread_join(rt->scheds[i].thread, NULL);
        tr__timers_stop(rt);
        tr__services_fini(rt);
        runtime_free(rt);
        return TR_ENOMEM;
    }
    *out = rt;
    return TR_OK;
}

int tr_runtime_stop(tr_runtime *rt) {
    if (!rt)
        return TR_EINVAL;
    if (tr__blocking_refused(rt))
        return TR_EDEADLK;
    if (!tr__cas_acqrel_u32(&rt->stopping, 0, 1)) {
        /* Someone else stops it; wait until done so the caller may free. */
        pthread_mutex_lock(&rt->stop_mu);
        while (!tr__load_acq_u32(&rt->stopped))
            pthread_cond_wait(&rt->stop_cv, &rt->stop_mu);
        pthread_mutex_unlock(&rt->stop_mu);
        return TR_OK;
    }
    tr__waiter_pool_close(rt); /* idle waiters count until they are closed */
    /* 1. Every actor stops with reason shutdown (terminate runs once). */
    int64_t deadline = tr__now_ms() + 10000;
    bool warned = false;
    for (;;) {
        tr__shutdown_all(rt);
        tr__grave_drain_sync(rt);
        pthread_mutex_lock(&rt->stop_mu);
        struct timespec ts;
        tr__abstime_after(&ts, 100);
        if (tr__count_allocated(rt) != 0)
            pthread_cond_timedwait(&rt->stop_cv, &rt->stop_mu, &ts);
        pthread_mutex_unlock(&rt->stop_mu);
        if (tr__count_allocated(rt) == 0)
            break;
        if (tr__now_ms() > deadline && !warned) {
            fprintf(stderr,
                    "troupe: runtime stop: %llu actor(s) still running after 10 s "
                    "(a callback that never returns?); their memory is leaked\n",
                    (unsigned long long)tr__count_allocated(rt));
            warned = true;
            break;
        }
    }
    /* 2. What the services hold open (sockets), timers, then scheduler
     * threads. */
    tr__services_stop(rt);
    tr__timers_stop(rt);
    tr__store_rel_u32(&rt->quit, 1);
    tr__wake_all(rt);
    for (unsigned i = 0; i < rt->n_sched; i++)
        pthread_join(rt->scheds[i].thread, NULL);
    ck_epoch_barrier(&rt->scheds[0].epoch);
    for (unsigned i = 0; i < rt->n_sched; i++)
        ck_epoch_barrier(&rt->scheds[i].epoch);
    tr__grave_drain_final(rt);
    /* 3. The logger delivers what the exits reported, then stops. */
    tr__log_stop(rt);
    pthread_mutex_lock(&rt->stop_mu);
    tr__store_rel_u32(&rt->stopped, 1);
    pthread_cond_broadcast(&rt->stop_cv);
    pthread_mutex_unlock(&rt->stop_mu);
    return TR_OK;
}

int tr_runtime_free(tr_runtime **rtp) {
    if (!rtp || !*rtp)
        return TR_OK;
    tr_runtime *rt = *rtp;
    int err = tr_runtime_stop(rt);
    if (err)
        return err;
    tr__grave_drain_final(rt);
    tr__services_fini(rt);
    runtime_free(rt);
    *rtp = NULL;
    return TR_OK;
}

unsigned tr_runtime_threads(const tr_runtime *rt) {
    return rt ? rt->n_sched : 0;
}

size_t tr_runtime_actor_count(const tr_runtime *rt) {
    return rt ? (size_t)tr__count_alive(rt) : 0;
}

bool tr__runtime_stopping(const tr_runtime *rt) {
    return tr__load_acq_u32(&rt->stopping) != 0;
}

unsigned tr__runtime_blocking_threads(const tr_runtime *rt) {
    return rt->blocking_threads;
}

uint64_t tr__make_ref(tr_runtime *rt) {
    /* Scheduler threads take refs from the shared counter 1024 at a time
     * (a shared counter bumped per request is a contended cache line). */
    tr__sched *s = tr__tls_sched;
    if (s && s->rt == rt) {
        if (s->ctx.ref_next == s->ctx.ref_end) {
            s->ctx.ref_next = tr__faa_acqrel_u64(&rt->ref_counter, TR__REF_BLOCK) + 1;
            s->ctx.ref_end = s->ctx.ref_next + TR__REF_BLOCK;
        }
        return s->ctx.ref_next++;
    }
    return tr__faa_acqrel_u64(&rt->ref_counter, 1) + 1;
}

uint64_t tr__random(tr_runtime *rt) {
    uint64_t x = tr__faa_acqrel_u64(&rt->rand_state, 0x9E3779B97F4A7C15ull) + 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

tr_self *tr__current(void) {
    return (tr_self *)tr__tls_current;
}

tr_pid tr__caller_pid(void) {
    tr__actor *a = tr__fiber_here(); /* not inlined: read anew after a switch */
    if (!a)
        a = tr__tls_current;
    return a ? a->pid : TR_PID_NONE;
}

/* ---- stopping every actor ------------------------------------------- */

typedef struct {
    tr_pid pid;
    uint64_t seq;
    bool top; /* spawned by a plain thread */
} pid_seq;

static int by_seq_desc(const void *x, const void *y) {
    const pid_seq *a = (const pid_seq *)x, *b = (const pid_seq *)y;
    return a->seq < b->seq ? 1 : a->seq > b->seq ? -1 : 0;
}

static void push_shutdown(tr_runtime *rt, tr_pid pid) {
    tr__actor *a = tr__acquire_any(rt, pid); /* waiters too: their calls end with TR_ECLOSED */
    if (!a)
        return;
    tr__msg *sig = tr__msg_new(tr__mc_here(rt), TR_MSG_EXIT, 0, NULL, 0);
    if (sig) {
        sig->sys = TR__SYS_SIG_SHUTDOWN;
        tr__push_signal(a, sig);
    } else { /* out of memory: a flag (the shutdown must not wait for nothing) */
        tr__spin_lock(&a->lock);
        a->lk |= TR__LK_SHUTDOWN;
        tr__store_rel_u32(&a->has_sig, tr__load_acq_u32(&a->has_sig) | TR__SIG_PENDING);
        tr__spin_unlock(&a->lock);
        tr__wake_reserved(a);
    }
    tr__release(a);
}

/* Waits (on stop_cv, broadcast by every exit while stopping) until pid has
 * exited or the deadline passes. */
/* Reads the slot without taking a reference: taking one could make us the
 * last holder, and tr__actor_destroy() takes stop_mu, which wait_gone holds. */
static bool slot_alive(tr_runtime *rt, tr_pid pid) {
    tr__slot *s = tr__slot_at(rt, tr__pid_index(pid));
    if (!s)
        return false;
    uint64_t w = tr__load_acq_u64(&s->w);
    return (uint32_t)(w >> 32) == tr__pid_gen(pid) && (w & TR__SLOT_ALIVE);
}

static void wait_gone(tr_runtime *rt, tr_pid pid, int64_t deadline) {
    pthread_mutex_lock(&rt->stop_mu);
    while (slot_alive(rt, pid) && tr__now_ms() < deadline) {
        struct timespec ts;
        tr__abstime_after(&ts, 50);
        pthread_cond_timedwait(&rt->stop_cv, &rt->stop_mu, &ts);
    }
    pthread_mutex_unlock(&rt->stop_mu);
}

void tr__shutdown_all(tr_runtime *rt) {
    pthread_mutex_lock(&rt->table_mu);
    uint32_t ranges[2][2] = {{1, rt->actor_slots.high},
                             {rt->actor_slots.end, rt->waiter_slots.high}};
    pthread_mutex_unlock(&rt->table_mu);
    size_t cap = 1024, n = 0;
    pid_seq *v = (pid_seq *)tr__malloc(sizeof(pid_seq) * cap);
    for (int r = 0; r < 2 && v; r++)
        for (uint32_t i = ranges[r][0]; i < ranges[r][1]; i++) {
            tr__slot *s = tr__slot_at(rt, i);
            if (!s)
                continue;
            uint64_t w = tr__load_acq_u64(&s->w);
            if (!(w & TR__SLOT_ALIVE))
                continue;
            tr_pid pid = tr__pid_make(rt->id, (uint32_t)(w >> 32), i);
            tr__actor *a = tr__acquire_any(rt, pid);
            if (!a)
                continue;
            if (!TR__GROW(v, n, cap, 1024)) {
                tr__release(a);
                break;
            }
            v[n++] = (pid_seq){pid, tr__actor_seq(a), !a->is_waiter && tr__actor_parent(a).id == 0};
            tr__release(a);
        }
    if (n)
        qsort(v, n, sizeof *v, by_seq_desc);
    /* Top-level actors one at a time, newest first, each given up to 5 s:
     * what was started first (a logger, a registry of services) stops
     * last, as an OTP application's top supervisor stops its children. */
    for (size_t i = 0; i < n; i++)
        if (v[i].top) {
            push_shutdown(rt, v[i].pid);
            wait_gone(rt, v[i].pid, tr__now_ms() + 5000);
        }
    /* Then everything still alive (children nobody stopped, waiters). */
    for (size_t i = 0; i < n; i++)
        if (!v[i].top)
            push_shutdown(rt, v[i].pid);
    tr__free(v);
    /* Out of memory for the list: every live actor, in table order, without
     * waiting (push_shutdown needs no memory). */
    for (int r = 0; r < 2 && (!v || n == cap); r++)
        for (uint32_t i = ranges[r][0]; i < ranges[r][1]; i++) {
            tr__slot *s = tr__slot_at(rt, i);
            uint64_t w = s ? tr__load_acq_u64(&s->w) : 0;
            if (w & TR__SLOT_ALIVE)
                push_shutdown(rt, tr__pid_make(rt->id, (uint32_t)(w >> 32), i));
        }
}
