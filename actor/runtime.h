/* troupe — the runtime object (private to actor/). */
#ifndef TROUPE_ACTOR_RUNTIME_H
#define TROUPE_ACTOR_RUNTIME_H

#include "actor/log.h"
#include "actor/sched.h"

typedef struct tr__slotpool {
    uint32_t *free;
    uint32_t n_free, cap_free;
    uint32_t high, end; /* next never-used index; one past the region */
} tr__slotpool;

typedef struct tr__timers tr__timers;

/* A run queue shared by all scheduler threads: a FIFO under a mutex, with
 * an advisory length read without the lock (to skip taking it when empty;
 * every path that adds to it wakes a thread afterwards). */
typedef struct tr__runq {
    pthread_mutex_t mu;
    TR__FIFO(tr__actor) q;
    uint32_t len; /* atomic */
} tr__runq;

struct tr_runtime {
    uint32_t id; /* this runtime's id in its pids (bits 56..63): unique among live runtimes */
    unsigned n_sched;
    unsigned ncpu; /* CPUs online when the runtime started */
    unsigned batch;
    uint32_t max_actors;
    unsigned blocking_threads; /* tr_blocking's pool: most threads (task/blocking.c) */
    tr__sched *scheds;
    tr__mcache *mcaches; /* one message block cache per scheduler thread */
    /* actor table */
    tr__slot **segs; /* n_segs pointers, allocated lazily */
    uint32_t n_segs;
    pthread_mutex_t table_mu;
    /* Actors take slots 1..max_actors, blocking callers' waiters the 65536
     * after them: each region has its own free list and high-water mark,
     * so the actor limit needs no counter. */
    tr__slotpool actor_slots, waiter_slots;
    /* Counts kept per scheduler thread (tr__sched.d_*) plus these for other
     * threads; tr__count_* sum them. */
    uint64_t n_alive;     /* atomic: live actors (not waiters) */
    uint64_t n_allocated; /* atomic: actor structs not yet destroyed (waiters too) */
    uint64_t seq;         /* atomic: spawn order */
    /* metrics: the shares of threads that are not schedulers (tr__count_add) */
    uint64_t n_spawns, n_restarts, n_exits[TR__EXIT_KINDS];
    int64_t start_ns;     /* when the runtime started (monotonic) */
    uint64_t ref_counter; /* atomic */
    uint64_t rand_state;  /* atomic */
    /* The injection queue (actors made runnable by threads that are not
     * this runtime's schedulers: plain threads, the timer and I/O thread)
     * and the overflow queue (actors a scheduler thread's full ring could
     * not take). They differ in how often a busy thread looks at them:
     * see next_actor in sched.c. */
    tr__runq inj, ovf;
    /* Actors whose last reference a plain thread dropped: destroyed by a
     * scheduler thread (or the stopping thread) after a grace period. */
    pthread_mutex_t grave_mu;
    tr__actor *grave;
    /* Idle waiters of blocking callers (waiter.c: tr__waiter_get/put), kept
     * with their pids so that a tr_call from a plain thread opens none. */
    struct {
        pthread_mutex_t mu;
        tr__actor *head;
        unsigned n;
        bool closed; /* tr_runtime_stop emptied it: waiters put back close */
    } wpool;
    /* Advisory counts: read without the lock only to skip taking it when
     * empty (grave_take) or to choose a park timeout; a
     * stale read is harmless, as the mutex-protected list is the truth and
     * every path that adds to it wakes a thread afterwards. */
    uint32_t n_grave;    /* atomic: actors in grave */
    uint32_t n_sleeping; /* atomic */
    uint32_t n_spinning; /* atomic: idle schedulers looking for work, not parked */
    uint32_t n_watching; /* atomic: the parked scheduler that looks again every WATCH_NS (0/1) */
    uint32_t quit;       /* atomic: schedulers exit */
    uint32_t stopping;   /* atomic: tr_runtime_stop begun */
    uint32_t stopped;    /* atomic: tr_runtime_stop done */
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    ck_epoch_t epoch;
    tr__timers *timers;
    /* The I/O poller (io/poll.h): sockets' readiness. At most one thread
     * waits in it at a time, the holder of io_owner (sched.c: a parked
     * scheduler thread, a busy one's look every FAIR_EVERY picks, or the
     * timer thread's look every millisecond while no scheduler waits in
     * it); the events are handled on that thread, so a socket's owner
     * usually runs where its data was read. */
    struct tr__poll *io_poll;
    uint32_t io_owner;             /* atomic: 1 while a thread waits in (or looks at) io_poll */
    uint32_t io_used;              /* atomic: a descriptor was ever registered with io_poll */
    uint32_t io_waiting;           /* atomic: a parked scheduler thread waits in io_poll */
    void *services[TR__SVC_COUNT]; /* each service's state (services.c) */
    tr__logger log;                /* the logger thread and its queue (log.c) */
#ifdef TR_FAULT_INJECTION
    tr__fault fault; /* allocation-failure injection (test builds; actor/fault.h) */
#endif
};

/* The calling thread's message block cache, if it is a scheduler thread of
 * rt (messages for another runtime's actors come from jemalloc). */
static inline tr__mcache *tr__mc_here(const tr_runtime *rt) {
    tr__mcache *c = tr__tls_mcache;
    return c && c->base == rt->mcaches ? c : NULL;
}

/* tr__shutdown_all: tr_runtime_stop's first step: every actor still alive
 * gets the shutdown signal, top-level actors one at a time, newest first,
 * then the rest (waiters included). Plain thread. */
void tr__shutdown_all(tr_runtime *rt);

/* ---- services (services.c) ---- */
/* tr__services_init: every service's init, in order; on failure the ones
 * made are undone and the error returned. */
int tr__services_init(tr_runtime *rt);
/* tr__services_fini: every service's fini, in reverse order. */
void tr__services_fini(tr_runtime *rt);
/* tr__services_on_exit: pid exits; marks: the services that marked it
 * (tr__actor_mark_service), whose on_exit runs. */
void tr__services_on_exit(tr_runtime *rt, tr_pid pid, unsigned marks);
/* The poller's events and deadlines (timer thread), and the services'
 * on_stop (tr_runtime_stop): see tr__service. */
void tr__services_on_io(tr_runtime *rt, uint64_t key, uint32_t events);
int64_t tr__services_io_tick(tr_runtime *rt);
void tr__services_stop(tr_runtime *rt);

#endif