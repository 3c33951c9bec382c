/* troupe — timers, and the thread that waits for timers and I/O.
 *
 * One timer thread per runtime keeps a 4-ary min-heap of deadlines and
 * waits in a poller of its own (io/poll.h, no descriptors: its wake-ups)
 * until the earliest one (microseconds of CLOCK_MONOTONIC, plus a slack:
 * see below), a wake-up, or the next deadline of the services' io_tick
 * (io/net.c's ready and timed sockets). Sockets' events are waited for
 * by idle scheduler threads (sched.c); the timer thread looks at them
 * only while none does. No thread is blocked per timer or per socket.
 *
 * An idle scheduler thread waits for the earliest deadline in place of the
 * timer thread (as Go's findrunnable bounds its netpoll wait by the next
 * timer and runs the timers itself): one thread at a time parks with that
 * duty (tr__timers_park), wakes when the deadline plus slack passes, fires
 * what is due from there (tr__timers_unpark) and runs the actors it made
 * runnable without handing them over: one wake-up per firing instead of
 * two (timer thread, then a scheduler thread). While a scheduler thread has
 * the duty, the timer thread fires only timers overdue by BACKSTOP_US (the
 * duty's holder was woken for other work and is busy).
 *
 * Timer ids are slot
 * index + generation in a table, so cancelling a fired or reused timer is
 * detected; cancellation removes the entry from the heap (O(log n)). A
 * periodic timer that fires gets its next deadline in place (one sift).
 *
 * A timer that was accepted is delivered: its message is allocated when
 * the timer starts (out of memory then is TR_ENOMEM to the caller), so
 * firing allocates nothing. An interval keeps its payload and makes the
 * next tick's message as it sends this one; if that fails, the next tick
 * tries again when due and, still out of memory, 1 ms later (late, never
 * lost).
 */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>

#include "actor/core.h"
#include "base/clock.h"
#include "io/poll.h"

/* Deadlines are in microseconds of CLOCK_MONOTONIC, so a timer fires no
 * earlier than asked (a millisecond clock would let it fire up to 1 ms
 * early). Each timer also has a slack, 1/512 of its delay or period capped
 * at 1 ms (as the kernel gives poll/select timeouts a slack proportional
 * to the timeout): the timer thread wakes at the earliest deadline plus
 * that timer's slack and fires everything due by then, so timers close
 * together cost one wake-up, while short timers stay tight (10 ms: 20 us).
 *
 * Durations go through deadline.h's saturating arithmetic: a delay or
 * period past what microseconds of the clock can hold (about 292,000
 * years) gives the deadline TR__NEVER, and such a timer never fires (it
 * stays pending until cancelled or the runtime shuts down). */
#define SLACK_MAX_US 1000

/* While sockets exist, the timer thread looks at the I/O poller when no
 * scheduler thread waits in it (every thread busy: see sched.c), every
 * IO_LOOK_MIN_US; each time it finds one waiting there, it looks half as
 * often, down to every IO_LOOK_MAX_US (as Go's sysmon backs off). */
#define IO_LOOK_MIN_US 1000
#define IO_LOOK_MAX_US 16000

/* While a parked scheduler thread waits for the timers, the timer thread
 * wakes BACKSTOP_US after the earliest one is due (plus slack), and fires
 * it then if nobody did: the holder may have been woken for other work
 * and be busy. Its look costs one wake-up per BACKSTOP_US at most. */
#define BACKSTOP_US 5000

static int64_t slack_us(tr_duration_ms d) {
    if (d >= (int64_t)SLACK_MAX_US * 512 / 1000) /* also keeps d * 1000 from overflowing */
        return SLACK_MAX_US;
    return d > 0 ? d * 1000 / 512 : 0;
}

typedef struct entry {
    int64_t when;          /* deadline, microseconds */
    int64_t slack;         /* microseconds it may fire late to share a wake-up */
    tr_duration_ms period; /* 0: one-shot */
    tr_pid to;
    uint32_t kind, tag;
    uint8_t sys;
    uint64_t ref;
    void *data; /* interval: the payload, for the next ticks' messages */
    size_t size;
    tr__msg *m; /* the next message to deliver (NULL: an interval's failed to allocate) */
    uint32_t gen;
} entry;

/* A heap node carries its deadline, so sifting reads only the heap array
 * (four children share a cache line) and writes each moved entry's heap
 * position, kept apart from the entries (pos[]: 4 bytes an entry, so the
 * positions of 10,000 timers stay in cache between firings). */
typedef struct hnode {
    int64_t when;
    uint32_t idx;
} hnode;

struct tr__timers {
    pthread_mutex_t mu;
    pthread_mutex_t fire_mu; /* held from taking a batch of due timers to delivering it */
    tr__poll *poll;          /* the one wait: timers' deadlines and I/O */
    pthread_t thread;
    bool quit;
    bool sleeping;        /* under mu: the thread is (about to be) in tr__poll_wait */
    int64_t thread_until; /* under mu, while sleeping: when the timer thread's wait ends */
    tr__sched *holder;    /* under mu: the parked scheduler thread that waits for the
                             earliest deadline (tr__timers_park), or NULL */
    int64_t holder_until; /* under mu: the wake-up the holder waits for */
    uint32_t closed;      /* atomic: tr__timers_stop ran */
    entry *e;             /* table */
    uint32_t n_e, cap_e;
    uint32_t *free_e;
    uint32_t *pos; /* per entry: its index in heap, or NOT_PENDING */
    uint32_t n_free;
    hnode *heap; /* 4-ary min-heap on when */
    uint32_t n_heap, cap_heap;
};

#define NOT_PENDING UINT32_MAX

#define ARITY 4

static inline void hset(tr__timers *t, uint32_t pos, hnode n) {
    t->heap[pos] = n;
    t->pos[n.idx] = pos;
}
static void up(tr__timers *t, uint32_t pos) {
    hnode n = t->heap[pos];
    while (pos > 0) {
        uint32_t p = (pos - 1) / ARITY;
        if (t->heap[p].when <= n.when)
            break;
        hset(t, pos, t->heap[p]);
        pos = p;
    }
    hset(t, pos, n);
}
static void down(tr__timers *t, uint32_t pos) {
    hnode n = t->heap[pos];
    for (;;) {
        uint32_t c = ARITY * pos + 1;
        if (c >= t->n_heap)
            break;
        uint32_t end = c + ARITY < t->n_heap ? c + ARITY : t->n_heap;
        uint32_t best = c;
        for (uint32_t j = c + 1; j < end; j++)
            if (t->heap[j].when < t->heap[best].when)
                best = j;
        if (t->heap[best].when >= n.when)
            break;
        hset(t, pos, t->heap[best]);
        pos = best;
    }
    hset(t, pos, n);
}
static int heap_push(tr__timers *t, uint32_t idx) {
    if (!TR__GROW(t->heap, t->n_heap, t->cap_heap, 256))
        return TR_ENOMEM;
    t->heap[t->n_heap] = (hnode){t->e[idx].when, idx};
    t->n_heap++;
    up(t, t->n_heap - 1);
    return TR_OK;
}
static void heap_remove(tr__timers *t, uint32_t pos) {
    uint32_t last = t->n_heap - 1;
    t->pos[t->heap[pos].idx] = NOT_PENDING;
    t->n_heap--;
    if (pos != last) {
        t->heap[pos] = t->heap[last];
        if (pos > 0 && t->heap[pos].when < t->heap[(pos - 1) / ARITY].when)
            up(t, pos);
        else
            down(t, pos);
    }
}
/* The top entry's next period: new deadline in place, then sift down. */
static void heap_retime_top(tr__timers *t, int64_t when) {
    t->heap[0].when = when;
    t->e[t->heap[0].idx].when = when;
    down(t, 0);
}

static void entry_free(tr__timers *t, uint32_t idx) {
    entry *e = &t->e[idx];
    tr__free(e->data);
    e->data = NULL;
    if (e->m)
        tr__msg_free(e->m);
    e->m = NULL;
    e->gen++;
    if (e->gen == 0)
        e->gen = 1;
    t->free_e[t->n_free++] = idx; /* free_e has room for every entry */
}

/* A fired timer on its way to its target. */
typedef struct fired {
    tr_pid to;
    tr__msg *m;
    uint64_t id; /* periodic: the timer's id (its entry ends if the target is gone); else 0 */
} fired;

/* Timers fired under one hold of t->mu, delivered after it is dropped. */
#define FIRE_BATCH 32

/* Takes the earliest entry (due at now) off the heap, or re-arms it if
 * periodic; under t->mu. Its message goes to *f; false when an interval's
 * message could not be made (it is retried 1 ms later). */
static bool take_top(tr__timers *t, int64_t now, fired *f) {
    uint32_t idx = t->heap[0].idx;
    entry *e = &t->e[idx];
    uint64_t id = ((uint64_t)e->gen << 32) | (idx + 1);
    bool periodic = e->period > 0;
    tr__msg *m = e->m;
    e->m = NULL;
    if (!m) /* an interval whose message could not be made last time */
        m = tr__msg_new(NULL, e->kind, e->tag, e->data, e->size);
    if (!m) {
        heap_retime_top(t, now + 1000); /* still out of memory: late, not lost */
        return false;
    }
    m->sys = e->sys;
    m->pub.ref = e->sys == TR__SYS_NONE ? id : e->ref; /* system timers carry their own ref */
    *f = (fired){e->to, m, periodic ? id : 0};
    if (periodic) {
        e->m = tr__msg_new(NULL, e->kind, e->tag, e->data, e->size); /* the next tick's */
        int64_t period = tr__sat_mul(e->period, 1000);
        int64_t next = tr__sat_add(e->when, period);
        if (next <= now) /* then period <= now - when: no overflow below */
            next = now + period - ((now - e->when) % period);
        heap_retime_top(t, next);
    } else {
        heap_remove(t, 0);
        entry_free(t, idx);
    }
    return true;
}

/* Fires the entries due at now (at most FIRE_BATCH), under t->mu, which
 * it drops while it delivers. Returns how many. Two threads may fire (a
 * scheduler thread with the duty, the timer thread's backstop): fire_mu
 * keeps their batches from taking to delivering in one order, so timers
 * arrive in deadline order. */
static unsigned fire_due(tr_runtime *rt, tr__timers *t, int64_t now) {
    fired f[FIRE_BATCH];
    unsigned n = 0;
    if (t->quit || !t->n_heap || t->heap[0].when > now)
        return 0;
    pthread_mutex_unlock(&t->mu);
    pthread_mutex_lock(&t->fire_mu);
    pthread_mutex_lock(&t->mu);
    while (n < FIRE_BATCH && !t->quit && t->n_heap && t->heap[0].when <= now)
        if (take_top(t, now, &f[n]))
            n++;
    if (!n) {
        pthread_mutex_unlock(&t->fire_mu);
        return 0;
    }
    pthread_mutex_unlock(&t->mu);
    unsigned gone = 0;
    for (unsigned i = 0; i < n; i++)
        if (tr__deliver(rt, f[i].to, f[i].m) == TR_ENOPROC && f[i].id)
            f[gone++].id = f[i].id; /* target gone: the interval ends */
    pthread_mutex_unlock(&t->fire_mu);
    pthread_mutex_lock(&t->mu);
    for (unsigned i = 0; i < gone; i++) {
        uint32_t idx = (uint32_t)(f[i].id & 0xffffffffu) - 1;
        if (idx >= t->n_e) /* the table went (tr__timers_stop) */
            continue;
        if (t->e[idx].gen == (uint32_t)(f[i].id >> 32) && t->pos[idx] != NOT_PENDING) {
            heap_remove(t, t->pos[idx]);
            entry_free(t, idx);
        }
    }
    return n;
}

/* When the earliest timer wants a wake-up (its deadline plus slack), under
 * t->mu; TR__NEVER: no timer. */
static int64_t top_wake(const tr__timers *t) {
    if (!t->n_heap)
        return TR__NEVER;
    return tr__sat_add(t->heap[0].when, t->e[t->heap[0].idx].slack);
}

static void *timer_main(void *arg) {
    tr_runtime *rt = (tr_runtime *)arg;
    tr__timers *t = rt->timers;
#ifdef TR_FAULT_INJECTION
    tr__tls_fault = &rt->fault;
#endif
    /* The kernel may delay a timed wait by the thread's timer slack (50 us
     * by default); 1 ns keeps the wake-ups on time. Best effort. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    tr__poll_event evs[1]; /* its own poller has no descriptors: wake-ups only */
    int64_t io_every = IO_LOOK_MIN_US;
    pthread_mutex_lock(&t->mu);
    while (!t->quit) {
        int64_t now = tr__now_us();
        /* Due now; while a scheduler thread holds the duty, only once it
         * is BACKSTOP_US late (the holder fires it before, unless busy). */
        int64_t due = t->n_heap ? t->heap[0].when : TR__NEVER;
        if (t->holder)
            due = tr__sat_add(top_wake(t), BACKSTOP_US);
        if (due > now) {
            /* Wait until the deadline itself plus its slack (a timer never
             * fires early), an I/O event, or a wake-up (a new earliest
             * timer, quit, a socket's deadline). A deadline that never
             * comes: wait for the others only. */
            int64_t wake = t->holder ? due : top_wake(t);
            t->sleeping = true;
            t->thread_until = TR__NEVER; /* until set below: any new earliest timer wakes us */
            pthread_mutex_unlock(&t->mu);
            /* The sockets' events, while no scheduler thread waits for
             * them (all busy): a look every IO_LOOK_US (sched.c). */
            int64_t look = TR__NEVER;
            if (tr__load_acq_u32(&rt->io_used)) {
                if (tr__load_acq_u32(&rt->io_waiting)) {
                    /* a scheduler thread waits for them: look less often */
                    if (io_every < IO_LOOK_MAX_US)
                        io_every *= 2;
                } else {
                    io_every = IO_LOOK_MIN_US;
                    if (tr__io_take(rt))
                        (void)tr__io_look(rt);
                    /* A scheduler thread parked before there were sockets
                     * (or while another thread had the poller): wake it,
                     * and it parks again in the poller. */
                    tr__wake_idle(rt);
                }
                look = tr__now_us() + io_every;
            }
            int64_t io = tr__services_io_tick(rt);
            if (look < io)
                io = look;
            if (io < wake)
                wake = io;
            pthread_mutex_lock(&t->mu);
            t->thread_until = wake; /* a new earliest timer wakes us if it is earlier */
            pthread_mutex_unlock(&t->mu);
            (void)tr__poll_wait(t->poll, evs, 1, wake);
            pthread_mutex_lock(&t->mu);
            t->sleeping = false;
            continue;
        }
        (void)fire_due(rt, t, now);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

bool tr__timers_park(tr_runtime *rt, tr__sched *s, int64_t *wake_us) {
    tr__timers *t = rt->timers;
    *wake_us = TR__NEVER;
    if (!t || tr__load_acq_u32(&t->closed))
        return false;
    pthread_mutex_lock(&t->mu);
    bool taken = !t->quit && (t->holder == NULL || t->holder == s);
    if (taken) {
        t->holder = s;
        *wake_us = t->holder_until = top_wake(t);
    }
    pthread_mutex_unlock(&t->mu);
    return taken;
}

unsigned tr__timers_unpark(tr_runtime *rt, tr__sched *s, bool fire) {
    tr__timers *t = rt->timers;
    unsigned n = 0;
    pthread_mutex_lock(&t->mu);
    if (t->holder == s) {
        t->holder = NULL;
        /* Woken for other work: the timer thread takes over, if it would
         * wake later than BACKSTOP_US past the earliest timer (one that
         * came while we held the duty). */
        if (!fire && t->sleeping && t->thread_until > tr__sat_add(top_wake(t), BACKSTOP_US))
            tr__poll_wake(t->poll);
    }
    if (fire) {
        int64_t now = tr__now_us();
        unsigned k;
        while ((k = fire_due(rt, t, now)) > 0)
            n += k;
    }
    pthread_mutex_unlock(&t->mu);
    return n;
}

int tr__timers_start(tr_runtime *rt) {
    tr__timers *t = (tr__timers *)tr__calloc(sizeof *t);
    if (!t)
        return TR_ENOMEM;
    int err = tr__poll_open(&t->poll);
    if (err) {
        tr__free(t);
        return err;
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->fire_mu, NULL);
    rt->timers = t;
    if (pthread_create(&t->thread, NULL, timer_main, rt)) {
        pthread_mutex_destroy(&t->mu);
        pthread_mutex_destroy(&t->fire_mu);
        tr__poll_close(t->poll);
        tr__free(t);
        rt->timers = NULL;
        return TR_ENOMEM;
    }
    return TR_OK;
}

void tr__timers_stop(tr_runtime *rt) {
    tr__timers *t = rt->timers;
    if (!t || tr__load_acq_u32(&t->closed))
        return;
    pthread_mutex_lock(&t->mu);
    t->quit = true;
    tr__poll_wake(t->poll);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    /* Scheduler threads may still park and look (tr__timers_park): the
     * table goes, the structure stays until tr__timers_free. */
    pthread_mutex_lock(&t->mu);
    for (uint32_t i = 0; i < t->n_e; i++) {
        tr__free(t->e[i].data);
        if (t->e[i].m)
            tr__msg_free(t->e[i].m);
    }
    tr__free(t->e);
    tr__free(t->free_e);
    tr__free(t->pos);
    tr__free(t->heap);
    t->e = NULL;
    t->free_e = NULL;
    t->pos = NULL;
    t->heap = NULL;
    t->n_e = t->cap_e = t->n_free = t->n_heap = t->cap_heap = 0;
    t->holder = NULL;
    pthread_mutex_unlock(&t->mu);
    tr__store_rel_u32(&t->closed, 1);
}

void tr__timers_free(tr_runtime *rt) {
    tr__timers *t = rt->timers;
    if (!t)
        return;
    tr__timers_stop(rt);
    pthread_mutex_destroy(&t->mu);
    pthread_mutex_destroy(&t->fire_mu);
    tr__poll_close(t->poll);
    tr__free(t);
    rt->timers = NULL;
}

struct tr__poll *tr__runtime_poll(const tr_runtime *rt) {
    if (!rt || !rt->timers || tr__load_acq_u32(&rt->timers->closed))
        return NULL;
    /* The caller registers a descriptor: from now on someone must look.
     * The first time, the timer thread starts looking (and moves a parked
     * scheduler thread into the poller). */
    if (!tr__load_acq_u32(&rt->io_used) && tr__cas_acqrel_u32((uint32_t *)&rt->io_used, 0, 1))
        tr__poll_wake(rt->timers->poll);
    return rt->io_poll;
}

void tr__runtime_poll_wake(tr_runtime *rt) {
    if (rt && rt->timers)
        tr__poll_wake(rt->timers->poll);
}

int tr__timer_start(tr_runtime *rt, tr_pid to, tr_duration_ms delay, tr_duration_ms period,
                    uint32_t kind, uint8_t sys, uint32_t tag, uint64_t ref, const void *data,
                    size_t size, tr_timer *out) {
    tr__timers *t = rt->timers;
    if (!t || tr__load_acq_u32(&rt->stopped))
        return TR_ECLOSED;
    /* A payload no message can hold is refused (as tr_send does). The
     * message is made now, so that firing cannot fail; an interval also
     * keeps the payload for the ticks after it. */
    if (size > TR__MSG_MAX_PAYLOAD)
        return TR_ENOMEM;
    tr__msg *m = tr__msg_new(NULL, kind, tag, data, size);
    if (!m)
        return TR_ENOMEM;
    void *copy = NULL;
    if (size && period > 0) {
        copy = tr__malloc(size);
        if (!copy) {
            tr__msg_free(m);
            return TR_ENOMEM;
        }
        memcpy(copy, data, size);
    }
    pthread_mutex_lock(&t->mu);
    if (t->quit) {
        pthread_mutex_unlock(&t->mu);
        tr__free(copy);
        tr__msg_free(m);
        return TR_ECLOSED;
    }
    uint32_t idx;
    if (t->n_free) {
        idx = t->free_e[--t->n_free];
    } else {
        if (t->n_e == t->cap_e) {
            uint32_t cap = t->cap_e ? t->cap_e * 2 : 256;
            entry *ne = (entry *)tr__realloc(t->e, sizeof(entry) * cap);
            if (!ne)
                goto nomem;
            t->e = ne;
            uint32_t *nf = (uint32_t *)tr__realloc(t->free_e, sizeof(uint32_t) * cap);
            if (!nf)
                goto nomem;
            t->free_e = nf;
            uint32_t *np = (uint32_t *)tr__realloc(t->pos, sizeof(uint32_t) * cap);
            if (!np)
                goto nomem;
            t->pos = np;
            t->cap_e = cap;
        }
        idx = t->n_e++;
        memset(&t->e[idx], 0, sizeof(entry));
        t->e[idx].gen = 1;
        t->pos[idx] = NOT_PENDING;
    }
    entry *e = &t->e[idx];
    e->when = tr__sat_add(tr__now_us(), tr__sat_mul(delay, 1000)); /* TR__NEVER: never fires */
    e->slack = slack_us(period > 0 ? period : delay);
    e->period = period;
    e->to = to;
    e->kind = kind;
    e->tag = tag;
    e->sys = sys;
    e->ref = ref;
    e->data = copy;
    e->size = size;
    e->m = m;
    if (heap_push(t, idx) != TR_OK) {
        e->data = NULL;
        e->m = NULL;
        t->free_e[t->n_free++] = idx;
        goto nomem;
    }
    /* A new earliest timer: whoever waits for the earliest one waits
     * again, for this one, if its wait would end later: the scheduler
     * thread with the duty, else the timer thread (which is woken when
     * that thread gives the duty back unused: tr__timers_unpark). */
    tr__sched *holder = NULL;
    if (t->pos[idx] == 0) {
        int64_t wake = top_wake(t);
        if (t->holder) {
            if (t->holder_until > wake) {
                holder = t->holder;
                t->holder_until = wake;
            }
        } else if (t->sleeping && t->thread_until > wake) {
            tr__poll_wake(t->poll);
        }
    }
    if (out)
        *out = ((uint64_t)e->gen << 32) | (idx + 1);
    pthread_mutex_unlock(&t->mu);
    if (holder)
        tr__sched_nudge(holder); /* after t->mu: the holder takes it under its park_mu */
    return TR_OK;
nomem:
    pthread_mutex_unlock(&t->mu);
    tr__free(copy);
    tr__msg_free(m);
    return TR_ENOMEM;
}

int tr_cancel_timer(tr_runtime *rt, tr_timer timer) {
    if (!rt || timer == 0)
        return TR_EINVAL;
    tr__timers *t = rt->timers;
    if (!t)
        return 0;
    uint32_t idx = (uint32_t)(timer & 0xffffffffu) - 1;
    uint32_t gen = (uint32_t)(timer >> 32);
    int res = 0;
    pthread_mutex_lock(&t->mu);
    if (idx < t->n_e) {
        entry *e = &t->e[idx];
        if (e->gen == gen && t->pos[idx] != NOT_PENDING) {
            heap_remove(t, t->pos[idx]);
            entry_free(t, idx);
            res = 1;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return res;
}

int tr_send_after(tr_runtime *rt, tr_pid to, tr_duration_ms delay_ms, uint32_t tag,
                  const void *data, size_t size, tr_timer *timer) {
    if (!rt || delay_ms < 0 || (size && !data) || to.id == 0)
        return TR_EINVAL;
    if (!tr__pid_is_proc(rt, to))
        return TR_ENOPROC; /* another runtime's pid, or a caller's reply address */
    return tr__timer_start(rt, to, delay_ms, 0, TR_MSG_TIMER, TR__SYS_NONE, tag, 0, data, size,
                           timer);
}

int tr_send_interval(tr_runtime *rt, tr_pid to, tr_duration_ms period_ms, uint32_t tag,
                     const void *data, size_t size, tr_timer *timer) {
    if (!rt || period_ms <= 0 || (size && !data) || to.id == 0)
        return TR_EINVAL;
    if (!tr__pid_is_proc(rt, to))
        return TR_ENOPROC; /* another runtime's pid, or a caller's reply address */
    return tr__timer_start(rt, to, period_ms, period_ms, TR_MSG_TIMER, TR__SYS_NONE, tag, 0, data,
                           size, timer);
}

size_t tr__timers_pending(tr_runtime *rt) {
    tr__timers *t = rt->timers;
    if (!t)
        return 0;
    pthread_mutex_lock(&t->mu);
    size_t n = t->n_heap;
    pthread_mutex_unlock(&t->mu);
    return n;
}
