/* troupe — timers, and the thread that waits for timers and I/O.
 *
 * One timer thread per runtime keeps a 4-ary min-heap of deadlines and
 * waits in a poller of its own (io/poll.h, no descriptors: its wake-ups)
 * until the earliest one (microseconds of CLOCK_MONOTONIC, plus a slack:
 * see below), a wake-up, or the next deadline of the services' io_tick
 * (io/net.c's ready and timed sockets). Sockets' events are waited for
 * by idle scheduler threads (sched.c); the timer thread looks at them
 * only while none does. No thread is blocked per timer or per socket. Timer ids are slot
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

static int64_t slack_us(tr_duration_ms d) {
    if (d >= 512) /* d * 1000 / 512 >= SLACK_MAX_US; and d * 1000 may overflow */
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
    uint32_t heap_pos; /* index in heap, or UINT32_MAX when not pending */
} entry;

/* A heap node carries its deadline, so sifting reads only the heap array
 * (four children share a cache line) and writes each moved entry's
 * heap_pos. */
typedef struct hnode {
    int64_t when;
    uint32_t idx;
} hnode;

struct tr__timers {
    pthread_mutex_t mu;
    tr__poll *poll; /* the one wait: timers' deadlines and I/O */
    pthread_t thread;
    bool quit;
    bool sleeping; /* under mu: the thread is (about to be) in tr__poll_wait */
    entry *e;      /* table */
    uint32_t n_e, cap_e;
    uint32_t *free_e;
    uint32_t n_free;
    hnode *heap; /* 4-ary min-heap on when */
    uint32_t n_heap, cap_heap;
};

#define NOT_PENDING UINT32_MAX

#define ARITY 4

static inline void hset(tr__timers *t, uint32_t pos, hnode n) {
    t->heap[pos] = n;
    t->e[n.idx].heap_pos = pos;
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
    t->e[t->heap[pos].idx].heap_pos = NOT_PENDING;
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
        if (t->n_heap == 0 || t->heap[0].when > now) {
            /* Wait until the deadline itself plus its slack (a timer never
             * fires early), an I/O event, or a wake-up (a new earliest
             * timer, quit, a socket's deadline). A deadline that never
             * comes: wait for the others only. */
            int64_t wake = TR__NEVER;
            if (t->n_heap)
                wake = tr__sat_add(t->heap[0].when, t->e[t->heap[0].idx].slack);
            t->sleeping = true;
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
            (void)tr__poll_wait(t->poll, evs, 1, io < wake ? io : wake);
            pthread_mutex_lock(&t->mu);
            t->sleeping = false;
            continue;
        }
        /* Fire the earliest entry. */
        uint32_t idx = t->heap[0].idx;
        entry *e = &t->e[idx];
        tr_pid to = e->to;
        uint64_t id = ((uint64_t)e->gen << 32) | (idx + 1);
        bool periodic = e->period > 0;
        tr__msg *m = e->m;
        e->m = NULL;
        if (!m) /* an interval whose message could not be made last time */
            m = tr__msg_new(NULL, e->kind, e->tag, e->data, e->size);
        if (!m) {
            heap_retime_top(t, now + 1000); /* still out of memory: late, not lost */
            continue;
        }
        m->sys = e->sys;
        m->pub.ref = e->sys == TR__SYS_NONE ? id : e->ref; /* system timers carry their own ref */
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
        pthread_mutex_unlock(&t->mu);
        int err = tr__deliver(rt, to, m);
        pthread_mutex_lock(&t->mu);
        if (err == TR_ENOPROC && periodic) {
            /* target gone: the interval ends */
            entry *p = &t->e[idx];
            if (p->gen == (uint32_t)(id >> 32) && p->heap_pos != NOT_PENDING) {
                heap_remove(t, p->heap_pos);
                entry_free(t, idx);
            }
        }
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
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
    rt->timers = t;
    if (pthread_create(&t->thread, NULL, timer_main, rt)) {
        pthread_mutex_destroy(&t->mu);
        tr__poll_close(t->poll);
        tr__free(t);
        rt->timers = NULL;
        return TR_ENOMEM;
    }
    return TR_OK;
}

void tr__timers_stop(tr_runtime *rt) {
    tr__timers *t = rt->timers;
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->quit = true;
    tr__poll_wake(t->poll);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    for (uint32_t i = 0; i < t->n_e; i++) {
        tr__free(t->e[i].data);
        if (t->e[i].m)
            tr__msg_free(t->e[i].m);
    }
    tr__free(t->e);
    tr__free(t->free_e);
    tr__free(t->heap);
    pthread_mutex_destroy(&t->mu);
    tr__poll_close(t->poll);
    tr__free(t);
    rt->timers = NULL;
}

struct tr__poll *tr__runtime_poll(const tr_runtime *rt) {
    if (!rt || !rt->timers)
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
            t->cap_e = cap;
        }
        idx = t->n_e++;
        memset(&t->e[idx], 0, sizeof(entry));
        t->e[idx].gen = 1;
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
    if (e->heap_pos == 0 && t->sleeping)
        tr__poll_wake(t->poll);
    if (out)
        *out = ((uint64_t)e->gen << 32) | (idx + 1);
    pthread_mutex_unlock(&t->mu);
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
        if (e->gen == gen && e->heap_pos != NOT_PENDING) {
            heap_remove(t, e->heap_pos);
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
