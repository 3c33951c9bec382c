/* troupe — TCP (troupe/net.h): the socket table, blocking-style calls for
 * fibers and threads, active mode for actors, bounded output queues.
 *
 * The socket table. Sockets live in slots that are never freed while the
 * runtime lives (segments of SEG slots, made on demand), each with its own
 * mutex and a generation: a handle is generation << 32 | (index + 1), and
 * every call locks the slot and compares the generation, so a stale handle
 * finds TR_ECLOSED and never freed memory (as the pid table, without its
 * grace periods: a slot is only ever reused, never unmapped).
 *
 * Who does the I/O. Every descriptor is non-blocking and registered once,
 * edge-triggered for both directions, with the runtime's I/O poller, which
 * an idle scheduler thread waits on (or a busy one, or the timer thread,
 * looks at: actor/sched.c); on_io below runs on the thread that took the
 * event, with that thread's read buffer, so an owner made runnable by
 * its socket's data usually runs on the thread that read it. io_tick (the
 * ready and timed lists) runs on the timer thread.
 * All reads, writes, accepts and closes of a socket happen under its mutex,
 * whichever thread does them; an event takes the same mutex, so an edge
 * that comes after a read saw EAGAIN always finds the reader queued (or
 * done): no lost wake-ups.
 *  - A passive socket is read by its caller: a fiber or thread that finds
 *    nothing queues a waiter (its parker, park.h) and parks; the event
 *    wakes it and it reads again.
 *  - An active socket is read by whoever makes it active (tr_tcp_active
 *    reads at once: the edge may have come while it was passive) and then
 *    by the thread that takes each edge, as long as the mode allows; each read
 *    becomes one TR_TAG_TCP_DATA message to the owner, pushed straight to
 *    its mailbox, in stream order (the reads are serialized by the mutex).
 *    A reader that used up its budget puts the socket on the ready list,
 *    which the timer thread goes through before waiting again.
 *  - Output is copied into the socket's queue; the caller writes at once
 *    when the queue was empty (most sends never wait for an edge),
 *    and the thread that takes each writable edge writes the rest.
 *
 * Owners. Each socket is on its owner's list (a hash from pid to the first
 * slot, links in the slots, under the table lock). The owner is marked with
 * tr__actor_mark_service, so its exit calls on_exit, which closes its
 * sockets; marking and linking happen under the table lock that on_exit
 * takes, so a socket given to an owner that starts to exit is either seen
 * by on_exit or refused (TR_ENOPROC). Actors that never own a socket pay
 * nothing.
 *
 * Lock order: a slot's mutex, then the table lock (net.mu), then an
 * actor's lock (inside tr__actor_mark_service). Messages are sent with the
 * slot's mutex held (tr__send_info takes no lock of ours).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <string.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <troupe/net.h>

#include "actor/internal.h"
#include "base/alloc.h"
#include "base/atomic.h"
#include "base/clock.h"
#include "base/park.h"
#include "io/poll.h"

#define SEG_SHIFT 10
#define SEG (1u << SEG_SHIFT)
#define MAX_SEGS 1024 /* up to 1M sockets per runtime */
#define SEND_MAX_DEFAULT ((size_t)1 << 20)
#define RECV_MAX_DEFAULT ((size_t)64 << 10)
#define BACKLOG_DEFAULT 128
#define LINGER_US ((int64_t)5 * 1000000) /* close: queued output gets this long */
#define READ_BUDGET 16                   /* reads (or accepts) per socket per turn */
#define RBUF_SIZE RECV_MAX_DEFAULT
#define OBUF_KEEP ((size_t)16 << 10) /* an empty output queue keeps at most this much */

enum { S_FREE = 0, S_OPEN, S_LINGER };
enum { K_NONE = 0, K_LISTEN, K_CONN, K_CONNECTING, K_FAILED };

/* A message the owner's mailbox could not take yet (bounded and full, or
 * out of memory): kept in order and tried again every millisecond, while
 * the socket reads nothing more (the peer is throttled by TCP). */
typedef struct pmsg {
    struct pmsg *next;
    uint32_t tag;
    int32_t status;
    size_t size;
    _Alignas(16) unsigned char data[];
} pmsg;

/* A fiber or thread waiting on a socket (on its stack). */
typedef struct waiter {
    struct waiter *next;
    struct waiter **q; /* the queue it is on */
    tr__parker *p;
    pthread_mutex_t *mu; /* the slot's */
    bool linked;
} waiter;

typedef struct sock {
    pthread_mutex_t mu;
    uint32_t gen; /* the live handle's generation (never 0) */
    uint8_t state;
    uint8_t kind;
    bool peer_eof; /* read side ended (EOF or error); CLOSED was sent when active */
    bool failed;   /* a write failed: wfail is the code, the queue is dropped */
    bool shut_wr;  /* write side to be shut once the queue drains */
    bool shut_wr_done;
    bool drained_want; /* an actor got TR_EAGAIN: tell drained_to at half of send_max */
    bool connect_msg;  /* an actor's connect: CONNECTED / ERROR when it finishes */
    bool nodelay, keepalive;
    bool on_ready; /* on the ready list */
    bool on_timed; /* on the timed list */
    /* The kernel's input is known empty: the last read was short (TCP
     * reads what is there) or EAGAIN, and no readable edge came since. A
     * reader then skips the read that would only say EAGAIN; an edge (or a
     * hang-up, sticky: a FIN may wait behind a short read) clears it. */
    bool rd_empty;
    bool rd_hup;
    bool o_listed; /* on owner's list (under net.mu) */
    int fd;
    int err;    /* errno of the last error */
    int wfail;  /* TR_E* of the failed write */
    int active; /* TR_TCP_PASSIVE, _ONCE, _ALWAYS, or a count (stored negative-free: see mode) */
    int count;  /* {active, N}: messages left */
    int child_active; /* a listener's: the mode of accepted sockets */
    size_t send_max, recv_max;
    tr_pid owner;
    tr_pid drained_to;
    size_t drained_at; /* DRAINED when the queue is this short: half of send_max, or empty
                          for a send larger than send_max */
    char *obuf;        /* output queue: obuf[ohead, ohead + olen) */
    size_t ohead, olen, ocap;
    waiter *rd_w;            /* recv, accept, connect */
    waiter *wr_w;            /* send (room in the queue) */
    pmsg *pend, *pend_tail;  /* messages not delivered yet, oldest first */
    uint32_t o_prev, o_next; /* owner list (index + 1; under net.mu) */
    int64_t deadline_us;     /* connect timeout (an actor's), end of linger, or retry of pend */
} sock;

/* Modes: active is one of these; a count lives in count. */
enum { M_PASSIVE = 0, M_ONCE = 1, M_COUNT = 2, M_ALWAYS = 3 };

typedef struct net {
    tr_runtime *rt;
    pthread_mutex_t mu;
    sock *segs[MAX_SEGS]; /* atomic pointers: published with release */
    uint32_t high;        /* slots made */
    uint32_t *free;       /* free slot indexes */
    uint32_t n_free, cap_free;
    bool stopped;
    /* Plain threads inside a blocking call (they may be parked on a slot
     * when the runtime stops): tr_runtime_free waits for them to leave
     * before freeing the slots. */
    uint32_t inside; /* under mu */
    pthread_cond_t left_cv;
    /* owners: open addressing, linear probing, backward-shift deletion */
    uint64_t *okeys; /* pid ids; 0: empty */
    uint32_t *ovals; /* first slot index + 1 */
    uint32_t ocap, on;
    /* the timer thread's work lists (ids), under mu */
    uint64_t *ready;
    uint32_t n_ready, cap_ready;
    uint64_t *timed;
    uint32_t n_timed, cap_timed;
    uint32_t n_work;      /* atomic: n_ready + n_timed, read without mu to skip it */
    char rbuf[RBUF_SIZE]; /* the timer thread's read buffer */
    char **sbuf;          /* each scheduler thread's (made on its first event) */
    unsigned n_sbuf;
} net;

static net *net_of(const tr_runtime *rt) {
    return (net *)tr__service_state(rt, TR__SVC_NET);
}

static inline uint64_t mk_id(uint32_t idx, uint32_t gen) {
    return ((uint64_t)gen << 32) | (uint64_t)(idx + 1);
}
static inline sock *slot_at(net *n, uint32_t idx) {
    sock *seg = (sock *)tr__load_acq_ptr((void *const *)&n->segs[idx >> SEG_SHIFT]);
    return seg ? &seg[idx & (SEG - 1)] : NULL;
}
/* The slot of id, locked, if id's generation is current and the slot in a
 * state in `states` (bit mask); else NULL. */
static sock *lock_id(net *n, uint64_t id, unsigned states) {
    uint32_t lo = (uint32_t)id;
    if (lo == 0 || lo > MAX_SEGS * SEG)
        return NULL;
    sock *s = slot_at(n, lo - 1);
    if (!s)
        return NULL;
    pthread_mutex_lock(&s->mu);
    if (s->gen != (uint32_t)(id >> 32) || !((1u << s->state) & states)) {
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    return s;
}
#define OPEN_ONLY (1u << S_OPEN)
#define LIVE (1u << S_OPEN | 1u << S_LINGER)

/* The public calls' lookup: sk's slot, open and locked, with rt's network
 * state in *np; NULL (the caller returns TR_ECLOSED) when the runtime has
 * none or sk is not open. */
static sock *open_locked(tr_runtime *rt, tr_sock sk, net **np) {
    net *n = net_of(rt);
    *np = n;
    return n ? lock_id(n, sk.id, OPEN_ONLY) : NULL;
}

/* ---- errors --------------------------------------------------------------- */

static int map_errno(int e) {
    switch (e) {
    case 0:
        return TR_OK;
    case EAGAIN:
        return TR_EAGAIN;
    case ECONNREFUSED:
        return TR_ECONNREFUSED;
    case ECONNRESET:
    case ECONNABORTED:
        return TR_ECONNRESET;
    case EPIPE:
        return TR_EPIPE;
    case ETIMEDOUT:
        return TR_ETIMEDOUT;
    case EADDRINUSE:
        return TR_EADDRINUSE;
    case EADDRNOTAVAIL:
    case EAFNOSUPPORT:
    case EINVAL:
        return TR_EINVAL;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
        return TR_EUNREACH;
    case EACCES:
    case EPERM:
        return TR_EACCES;
    case EMFILE:
    case ENFILE:
        return TR_EFULL;
    case ENOMEM:
    case ENOBUFS:
        return TR_ENOMEM;
    case ENOTCONN:
        return TR_ENOTCONN;
    default:
        return TR_EIO;
    }
}

/* ---- owners (under n->mu) -------------------------------------------------- */

static uint32_t ohash(uint64_t k, uint32_t cap) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (uint32_t)k & (cap - 1);
}
static uint32_t *oget(net *n, uint64_t key) {
    if (!n->ocap)
        return NULL;
    for (uint32_t i = ohash(key, n->ocap);; i = (i + 1) & (n->ocap - 1)) {
        if (n->okeys[i] == key)
            return &n->ovals[i];
        if (n->okeys[i] == 0)
            return NULL;
    }
}
static bool oput(net *n, uint64_t key, uint32_t val) {
    uint32_t *v = oget(n, key);
    if (v) {
        *v = val;
        return true;
    }
    if ((n->on + 1) * 2 > n->ocap) {
        uint32_t cap = n->ocap ? n->ocap * 2 : 64;
        uint64_t *nk = (uint64_t *)tr__calloc(sizeof(uint64_t) * cap);
        uint32_t *nv = (uint32_t *)tr__calloc(sizeof(uint32_t) * cap);
        if (!nk || !nv) {
            tr__free(nk);
            tr__free(nv);
            return false;
        }
        for (uint32_t i = 0; i < n->ocap; i++)
            if (n->okeys[i]) {
                uint32_t j = ohash(n->okeys[i], cap);
                while (nk[j])
                    j = (j + 1) & (cap - 1);
                nk[j] = n->okeys[i];
                nv[j] = n->ovals[i];
            }
        tr__free(n->okeys);
        tr__free(n->ovals);
        n->okeys = nk;
        n->ovals = nv;
        n->ocap = cap;
    }
    uint32_t i = ohash(key, n->ocap);
    while (n->okeys[i])
        i = (i + 1) & (n->ocap - 1);
    n->okeys[i] = key;
    n->ovals[i] = val;
    n->on++;
    return true;
}
static void odel(net *n, uint64_t key) {
    if (!n->ocap)
        return;
    uint32_t mask = n->ocap - 1, i = ohash(key, n->ocap);
    while (n->okeys[i] != key) {
        if (n->okeys[i] == 0)
            return;
        i = (i + 1) & mask;
    }
    /* backward-shift deletion */
    for (uint32_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        if (n->okeys[j] == 0)
            break;
        uint32_t h = ohash(n->okeys[j], n->ocap);
        /* j's entry may move to i when h is not cyclically in (i, j] */
        if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
            n->okeys[i] = n->okeys[j];
            n->ovals[i] = n->ovals[j];
            i = j;
        }
    }
    n->okeys[i] = 0;
    n->ovals[i] = 0;
    n->on--;
}

/* Puts slot idx (locked by the caller) on pid's list, marking pid so that
 * its exit closes it. Under n->mu. TR_ENOPROC: pid is not a live process
 * (or its exit has begun); TR_ENOMEM. */
static int owner_link(net *n, sock *s, uint32_t idx, tr_pid pid) {
    int err = tr__actor_mark_service(n->rt, pid, TR__SVC_NET);
    if (err)
        return err;
    uint32_t *head = oget(n, pid.id);
    uint32_t first = head ? *head : 0;
    if (!oput(n, pid.id, idx + 1))
        return TR_ENOMEM;
    s->o_prev = 0;
    s->o_next = first;
    if (first)
        slot_at(n, first - 1)->o_prev = idx + 1;
    s->o_listed = true;
    s->owner = pid;
    return TR_OK;
}
/* Takes the slot off its owner's list. Under n->mu. */
static void owner_unlink(net *n, sock *s) {
    if (!s->o_listed)
        return;
    if (s->o_prev)
        slot_at(n, s->o_prev - 1)->o_next = s->o_next;
    else if (s->o_next)
        oput(n, s->owner.id, s->o_next); /* replaces: no allocation */
    else
        odel(n, s->owner.id);
    if (s->o_next)
        slot_at(n, s->o_next - 1)->o_prev = s->o_prev;
    s->o_prev = s->o_next = 0;
    s->o_listed = false;
}

/* ---- the timer thread's lists ---------------------------------------------- */

static void list_add(net *n, uint64_t **arr, uint32_t *cnt, uint32_t *cap, uint64_t id) {
    pthread_mutex_lock(&n->mu);
    if (TR__GROW(*arr, *cnt, *cap, 64)) {
        (*arr)[(*cnt)++] = id;
        tr__faa_acqrel_u32(&n->n_work, 1);
    }
    /* else out of memory: a ready socket is read on its next edge, a
     * deadline is not enforced (the socket still closes with its owner) */
    pthread_mutex_unlock(&n->mu);
}
/* s (locked) needs the timer thread: more to read (ready) or a deadline. */
static void want_ready(net *n, sock *s, uint64_t id) {
    if (s->on_ready)
        return;
    s->on_ready = true;
    list_add(n, &n->ready, &n->n_ready, &n->cap_ready, id);
    tr__runtime_poll_wake(n->rt);
}
static void want_timed(net *n, sock *s, uint64_t id, int64_t deadline_us) {
    s->deadline_us = deadline_us;
    if (!s->on_timed) {
        s->on_timed = true;
        list_add(n, &n->timed, &n->n_timed, &n->cap_timed, id);
    }
    tr__runtime_poll_wake(n->rt);
}

/* ---- waiters ------------------------------------------------------------------ */

static void wq_unlink(waiter *w) {
    for (waiter **pp = w->q; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    w->linked = false;
}
/* Wakes and unlinks every waiter of q (slot locked: park.h's rule). */
static void wq_wake_all(waiter **q) {
    waiter *w = *q;
    *q = NULL;
    while (w) {
        waiter *next = w->next;
        w->linked = false;
        tr__parker_wake(w->p);
        w = next;
    }
}
/* A killed fiber's exit takes its waiter out (park.h's cancel). */
static void waiter_cancel(void *arg) {
    waiter *w = (waiter *)arg;
    pthread_mutex_lock(w->mu);
    if (w->linked)
        wq_unlink(w);
    pthread_mutex_unlock(w->mu);
}
/* Parks the caller on q of s (locked; unlocked while parked, locked again
 * on return) until woken or deadline (ms). 0 or TR_ETIMEDOUT. */
static int park_on(sock *s, waiter **q, int64_t deadline) {
    waiter w = {.q = q, .p = tr__parker_self(), .mu = &s->mu, .linked = true};
    w.next = *q;
    *q = &w;
    w.p->cancel = waiter_cancel;
    w.p->cancel_arg = &w;
    pthread_mutex_unlock(&s->mu);
    int rc = tr__parker_wait(w.p, deadline);
    pthread_mutex_lock(&s->mu);
    if (w.linked)
        wq_unlink(&w);
    w.p->cancel = NULL;
    w.p->cancel_arg = NULL;
    return rc;
}

/* One wait of a blocking recv or send loop (s locked): parks on q until
 * woken or the deadline. TR_OK: go round again; TR_ETIMEDOUT (or no wait
 * allowed: timeout_ms 0); TR_ECLOSED when sk was closed meanwhile. */
static int park_turn(sock *s, tr_sock sk, waiter **q, tr_duration_ms timeout_ms, int64_t deadline) {
    bool timed_out = timeout_ms == 0 || park_on(s, q, deadline) == TR_ETIMEDOUT;
    if (s->gen != (uint32_t)(sk.id >> 32) || s->state != S_OPEN)
        return TR_ECLOSED;
    return timed_out ? TR_ETIMEDOUT : TR_OK;
}

/* ---- slots ------------------------------------------------------------------- */

/* A free slot, locked, in state S_OPEN with fd; *idx its index. NULL: out
 * of memory or slots (*err), or the runtime stopped. */
static sock *slot_new(net *n, int fd, uint32_t *idx, int *err) {
    pthread_mutex_lock(&n->mu);
    if (n->stopped) {
        pthread_mutex_unlock(&n->mu);
        *err = TR_ECLOSED;
        return NULL;
    }
    uint32_t i;
    if (n->n_free) {
        i = n->free[--n->n_free];
    } else {
        if (n->high == MAX_SEGS * SEG) {
            pthread_mutex_unlock(&n->mu);
            *err = TR_EFULL;
            return NULL;
        }
        i = n->high;
        if (!n->segs[i >> SEG_SHIFT]) {
            sock *seg = (sock *)tr__calloc(sizeof(sock) * SEG);
            if (!seg) {
                pthread_mutex_unlock(&n->mu);
                *err = TR_ENOMEM;
                return NULL;
            }
            for (uint32_t k = 0; k < SEG; k++) {
                pthread_mutex_init(&seg[k].mu, NULL);
                seg[k].gen = 1;
                seg[k].fd = -1;
            }
            tr__store_rel_ptr((void **)&n->segs[i >> SEG_SHIFT], seg);
        }
        n->high++;
    }
    pthread_mutex_unlock(&n->mu);
    sock *s = slot_at(n, i);
    pthread_mutex_lock(&s->mu);
    /* Fresh fields; the mutex and the generation stay. */
    sock fresh = {0};
    fresh.gen = s->gen;
    memcpy((char *)s + offsetof(sock, gen), (char *)&fresh + offsetof(sock, gen),
           sizeof(sock) - offsetof(sock, gen));
    s->state = S_OPEN;
    s->fd = fd;
    s->send_max = SEND_MAX_DEFAULT;
    s->recv_max = RECV_MAX_DEFAULT;
    *idx = i;
    return s;
}

static void pend_drop(sock *s) {
    while (s->pend) {
        pmsg *p = s->pend;
        s->pend = p->next;
        tr__free(p);
    }
    s->pend_tail = NULL;
}

/* The end of a slot: closes its descriptor, frees its queue, wakes its
 * waiters, bumps its generation (every handle and pending event goes
 * stale) and returns it to the free list. Slot locked. */
static void slot_free_locked(net *n, sock *s, uint32_t idx) {
    wq_wake_all(&s->rd_w);
    wq_wake_all(&s->wr_w);
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    tr__free(s->obuf);
    s->obuf = NULL;
    s->ohead = s->olen = s->ocap = 0;
    pend_drop(s);
    pthread_mutex_lock(&n->mu);
    owner_unlink(n, s);
    s->state = S_FREE;
    s->gen++;
    if (s->gen == 0)
        s->gen = 1;
    /* free has room: it grows with high */
    if (n->n_free == n->cap_free) {
        uint32_t cap = n->cap_free ? n->cap_free * 2 : 256;
        uint32_t *nf = (uint32_t *)tr__realloc(n->free, sizeof(uint32_t) * cap);
        if (nf) {
            n->free = nf;
            n->cap_free = cap;
        }
    }
    if (n->n_free < n->cap_free)
        n->free[n->n_free++] = idx; /* else the slot is lost (out of memory), never reused */
    pthread_mutex_unlock(&n->mu);
}

static uint32_t idx_of_id(uint64_t id) {
    return (uint32_t)id - 1;
}

/* ---- messages ---------------------------------------------------------------- */

/* Sends a message about s (locked) to its owner, keeping order: behind
 * what is pending, or pending itself when the mailbox cannot take it.
 * TR_ENOPROC: the owner is exiting, and its exit closes the socket. */
static void notify(net *n, sock *s, uint32_t tag, uint64_t id, int status, const void *data,
                   size_t size) {
    if (tr_pid_is_none(s->owner))
        return;
    if (!s->pend) {
        int err = tr__send_info(n->rt, s->owner, tag, id, status, data, size);
        if (err != TR_EFULL && err != TR_ENOMEM)
            return;
    }
    pmsg *p = (pmsg *)tr__malloc(sizeof(pmsg) + size);
    if (!p)
        return; /* out of memory twice over: the event is lost */
    p->next = NULL;
    p->tag = tag;
    p->status = status;
    p->size = size;
    if (size)
        memcpy(p->data, data, size);
    if (s->pend_tail)
        s->pend_tail->next = p;
    else
        s->pend = p;
    s->pend_tail = p;
    want_timed(n, s, id, tr__now_us() + 1000);
}

/* Delivers what is pending, in order, as far as the mailbox takes it.
 * True when nothing is left. */
static bool pend_flush(net *n, sock *s, uint64_t id) {
    while (s->pend) {
        pmsg *p = s->pend;
        int err = tr__send_info(n->rt, s->owner, p->tag, id, p->status, p->size ? p->data : NULL,
                                p->size);
        if (err == TR_EFULL || err == TR_ENOMEM)
            return false;
        s->pend = p->next;
        tr__free(p);
    }
    s->pend_tail = NULL;
    return true;
}

/* One message of an active socket was delivered: counts down the mode. */
static void count_down(net *n, sock *s, uint64_t id) {
    if (s->active == M_ONCE) {
        s->active = M_PASSIVE;
    } else if (s->active == M_COUNT && --s->count <= 0) {
        s->active = M_PASSIVE;
        s->count = 0;
        notify(n, s, TR_TAG_TCP_PASSIVE, id, 0, NULL, 0);
    }
}

/* ---- reading (active) ---------------------------------------------------------- */

static void accept_pump_locked(net *n, sock *ls, uint64_t lid);

static char *sched_buf(net *n);

/* Reads an active socket (locked) while its mode allows, up to the budget,
 * sending each read to the owner. buf: cap bytes of scratch (NULL: the
 * calling scheduler thread's, else one made for the first read: re-arming
 * a socket whose input is known empty reads nothing and makes nothing). */
static void pump_locked(net *n, sock *s, uint64_t id, char *buf, size_t cap) {
    if (s->kind == K_LISTEN) {
        accept_pump_locked(n, s, id);
        return;
    }
    if (s->kind != K_CONN || s->peer_eof || s->active == M_PASSIVE || s->pend)
        return;
    char *heap = NULL;
    if (!buf) {
        buf = sched_buf(n);
        cap = buf ? RBUF_SIZE : 0;
    }
    int budget = READ_BUDGET;
    while (s->active != M_PASSIVE && !s->peer_eof && !s->pend && !(s->rd_empty && !s->rd_hup)) {
        if (budget-- == 0) {
            want_ready(n, s, id);
            break;
        }
        if (!buf || cap < s->recv_max) {
            heap = (char *)tr__malloc(s->recv_max);
            if (!heap) {
                want_ready(n, s, id); /* try again later */
                break;
            }
            buf = heap;
            cap = s->recv_max;
        }
        ssize_t r = read(s->fd, buf, s->recv_max);
        if (r > 0) {
            s->rd_empty = (size_t)r < s->recv_max;
            notify(n, s, TR_TAG_TCP_DATA, id, 0, buf, (size_t)r);
            count_down(n, s, id);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN) {
            s->rd_empty = true;
            break;
        }
        s->peer_eof = true;
        if (r < 0) {
            s->err = errno;
            if (errno != ECONNRESET) /* a reset is a close, as gen_tcp's default */
                notify(n, s, TR_TAG_TCP_ERROR, id, map_errno(errno), NULL, 0);
        }
        notify(n, s, TR_TAG_TCP_CLOSED, id, 0, NULL, 0);
    }
    tr__free(heap);
}

static void set_sockopts(int fd, bool nodelay, bool keepalive) {
    int one = 1, zero = 0;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, nodelay ? &one : &zero, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, keepalive ? &one : &zero, sizeof one);
}

static void mode_set(sock *s, int n_) {
    if (n_ == TR_TCP_ACTIVE_ALWAYS)
        s->active = M_ALWAYS;
    else if (n_ == 0)
        s->active = M_PASSIVE;
    else if (n_ == 1)
        s->active = M_ONCE;
    else {
        if (s->active != M_COUNT)
            s->count = 0;
        s->active = M_COUNT;
        s->count = s->count > INT32_MAX - n_ ? INT32_MAX : s->count + n_;
    }
}
/* A connection accepted (fd) on listener ls (locked): a new slot, owned by
 * owner, inheriting ls's options. 0 and *out, or an error (fd closed). */
static int adopt(net *n, sock *ls, int fd, tr_pid owner, sock **out, uint64_t *out_id) {
    int err;
    uint32_t idx;
    set_sockopts(fd, ls->nodelay, ls->keepalive);
    sock *s = slot_new(n, fd, &idx, &err);
    if (!s) {
        close(fd);
        return err;
    }
    s->kind = K_CONN;
    s->nodelay = ls->nodelay;
    s->keepalive = ls->keepalive;
    s->send_max = ls->send_max;
    s->recv_max = ls->recv_max;
    mode_set(s, ls->child_active);
    if (tr_pid_is_none(owner))
        s->active = M_PASSIVE; /* no one to tell: a plain thread reads it */
    else {
        pthread_mutex_lock(&n->mu);
        err = owner_link(n, s, idx, owner);
        pthread_mutex_unlock(&n->mu);
        if (err) {
            slot_free_locked(n, s, idx);
            pthread_mutex_unlock(&s->mu);
            return err;
        }
    }
    *out = s;
    *out_id = mk_id(idx, s->gen);
    return TR_OK;
}

/* Registers a new socket (locked) with the poller. */
static int watch(net *n, sock *s, uint64_t id) {
    tr__poll *p = tr__runtime_poll(n->rt);
    if (!p)
        return TR_ECLOSED;
    int e = tr__poll_add(p, s->fd, id);
    return e ? map_errno(-e) : TR_OK;
}

/* An active listener (locked): accepts while its mode allows. */
static void accept_pump_locked(net *n, sock *ls, uint64_t lid) {
    int budget = READ_BUDGET;
    while (ls->active != M_PASSIVE && !ls->pend) {
        if (budget-- == 0) {
            want_ready(n, ls, lid);
            return;
        }
        int fd = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN) {
                ls->err = errno; /* EMFILE and the like: tell the owner, and stop */
                notify(n, ls, TR_TAG_TCP_ERROR, lid, map_errno(errno), NULL, 0);
                count_down(n, ls, lid);
            }
            return;
        }
        sock *s;
        uint64_t id;
        if (adopt(n, ls, fd, ls->owner, &s, &id) != TR_OK)
            continue; /* the owner is exiting (and closes ls), or no memory */
        int err = watch(n, s, id);
        if (err) {
            slot_free_locked(n, s, idx_of_id(id));
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        tr_sock l = {lid};
        /* ACCEPTED before any DATA: the new socket is read only after. */
        notify(n, ls, TR_TAG_TCP_ACCEPTED, id, 0, &l, sizeof l);
        pthread_mutex_unlock(&s->mu);
        count_down(n, ls, lid);
    }
}

/* ---- writing ------------------------------------------------------------------- */

/* Writes the queue of s (locked) until EAGAIN, then tells who waits. */
static void flush_locked(net *n, sock *s, uint64_t id) {
    while (s->olen && !s->failed) {
        ssize_t w = send(s->fd, s->obuf + s->ohead, s->olen, MSG_NOSIGNAL);
        if (w > 0) {
            s->ohead += (size_t)w;
            s->olen -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            break;
        s->err = errno;
        s->failed = true;
        s->wfail = map_errno(errno);
        s->olen = 0;
    }
    if (s->olen == 0) {
        s->ohead = 0;
        if (s->ocap > OBUF_KEEP) { /* a burst is over: give its memory back */
            tr__free(s->obuf);
            s->obuf = NULL;
            s->ocap = 0;
        }
    }
    if (s->drained_want && (s->failed || s->olen <= s->drained_at)) {
        s->drained_want = false;
        if (s->state == S_OPEN)
            (void)tr__send_info(n->rt, s->drained_to, TR_TAG_TCP_DRAINED, id, 0, NULL, 0);
    }
    if (s->wr_w && (s->failed || s->olen < s->send_max))
        wq_wake_all(&s->wr_w);
    if (s->olen == 0 && s->shut_wr && !s->shut_wr_done && s->kind == K_CONN) {
        shutdown(s->fd, SHUT_WR);
        s->shut_wr_done = true;
    }
}

/* Makes room for len more bytes in the queue of s (locked). */
static int queue_reserve(sock *s, size_t len) {
    if (s->ohead + s->olen + len <= s->ocap)
        return TR_OK;
    if (s->ohead) {
        memmove(s->obuf, s->obuf + s->ohead, s->olen);
        s->ohead = 0;
    }
    if (s->olen + len <= s->ocap)
        return TR_OK;
    size_t cap = s->ocap ? s->ocap : 4096;
    while (cap < s->olen + len)
        cap *= 2;
    char *nb = (char *)tr__realloc(s->obuf, cap);
    if (!nb)
        return TR_ENOMEM;
    s->obuf = nb;
    s->ocap = cap;
    return TR_OK;
}

/* Appends len bytes (room reserved) to the queue of s (locked). */
static void queue_put(sock *s, const void *data, size_t len) {
    memcpy(s->obuf + s->ohead + s->olen, data, len);
    s->olen += len;
}

/* ---- connecting -------------------------------------------------------------- */

/* A connecting socket (locked) got an event: finished? */
static void connect_check(net *n, sock *s, uint64_t id) {
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
        soerr = errno;
    if (soerr == 0) {
        /* still in progress unless the peer address is there */
        struct sockaddr_storage ss;
        socklen_t l = sizeof ss;
        if (getpeername(s->fd, (struct sockaddr *)&ss, &l) != 0)
            return;
        s->kind = K_CONN;
        if (s->connect_msg)
            notify(n, s, TR_TAG_TCP_CONNECTED, id, 0, NULL, 0);
    } else {
        s->kind = K_FAILED;
        s->err = soerr;
        if (s->connect_msg)
            notify(n, s, TR_TAG_TCP_ERROR, id, map_errno(soerr), NULL, 0);
    }
    s->connect_msg = false;
    wq_wake_all(&s->rd_w);
    if (s->kind == K_CONN) {
        flush_locked(n, s, id);
        pump_locked(n, s, id, NULL, 0);
    }
}

/* ---- events (any thread that took them), and the timer thread's lists ---------- */

/* The calling scheduler thread's read buffer (made on first use; only
 * that thread writes its entry), or NULL on any other thread or when it
 * cannot be made (pump_locked then makes one for the read). */
static char *sched_buf(net *n) {
    int i = tr__sched_index_here(n->rt);
    if (i < 0 || (unsigned)i >= n->n_sbuf)
        return NULL;
    if (!n->sbuf[i])
        n->sbuf[i] = (char *)tr__malloc(RBUF_SIZE);
    return n->sbuf[i];
}

/* The read buffer of the thread that handles an event: a scheduler
 * thread's own, else (the timer thread) the timer thread's. */
static char *event_buf(net *n) {
    return tr__sched_index_here(n->rt) < 0 ? n->rbuf : sched_buf(n);
}

static void net_on_io(tr_runtime *rt, void *state, uint64_t key, uint32_t events) {
    (void)rt;
    net *n = (net *)state;
    sock *s = lock_id(n, key, LIVE);
    if (!s)
        return; /* closed since: the event was for the old socket */
    if (s->kind == K_CONNECTING) {
        connect_check(n, s, key);
    } else if (s->state == S_LINGER) {
        if (events & (TR__POLL_OUT | TR__POLL_ERR | TR__POLL_HUP))
            flush_locked(n, s, key);
        if (s->olen == 0 || s->failed) {
            slot_free_locked(n, s, idx_of_id(key));
        }
    } else {
        if (events & (TR__POLL_OUT | TR__POLL_ERR)) {
            if (s->olen)
                flush_locked(n, s, key);
            else if (s->wr_w)
                wq_wake_all(&s->wr_w);
        }
        if (events & (TR__POLL_IN | TR__POLL_HUP | TR__POLL_ERR)) {
            s->rd_empty = false;
            if (events & (TR__POLL_HUP | TR__POLL_ERR))
                s->rd_hup = true;
            if (s->rd_w)
                wq_wake_all(&s->rd_w);
            if (s->active != M_PASSIVE) {
                char *buf = event_buf(n);
                pump_locked(n, s, key, buf, buf ? RBUF_SIZE : 0);
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static int64_t net_io_tick(tr_runtime *rt, void *state) {
    (void)rt;
    net *n = (net *)state;
    if (tr__load_acq_u32(&n->n_work) == 0)
        return TR__NEVER;
    /* Take the ready list; look at the timed one. */
    pthread_mutex_lock(&n->mu);
    uint64_t *ready = n->ready;
    uint32_t n_ready = n->n_ready;
    n->ready = NULL;
    n->n_ready = n->cap_ready = 0;
    tr__faa_acqrel_u32(&n->n_work, (uint32_t)-n_ready);
    pthread_mutex_unlock(&n->mu);
    for (uint32_t i = 0; i < n_ready; i++) {
        sock *s = lock_id(n, ready[i], LIVE);
        if (!s)
            continue;
        s->on_ready = false;
        if (s->state == S_OPEN)
            pump_locked(n, s, ready[i], n->rbuf, sizeof n->rbuf);
        pthread_mutex_unlock(&s->mu);
    }
    tr__free(ready);
    if (tr__load_acq_u32(&n->n_work) == 0)
        return TR__NEVER;

    int64_t next = TR__NEVER, now = tr__now_us();
    pthread_mutex_lock(&n->mu);
    for (uint32_t i = 0; i < n->n_timed;) {
        uint64_t id = n->timed[i];
        pthread_mutex_unlock(&n->mu);
        sock *s = lock_id(n, id, LIVE);
        bool keep = false;
        if (s) {
            bool connecting = s->kind == K_CONNECTING && s->state == S_OPEN && s->connect_msg;
            bool linger = s->state == S_LINGER;
            bool pend = s->pend && s->state == S_OPEN;
            if ((connecting || linger || pend) && s->deadline_us > now) {
                keep = true;
            } else if (linger) {
                slot_free_locked(n, s, idx_of_id(id)); /* linger over: drop the rest */
            } else if (connecting) {
                s->kind = K_FAILED; /* an actor's connect timed out */
                s->err = ETIMEDOUT;
                s->connect_msg = false;
                notify(n, s, TR_TAG_TCP_ERROR, id, TR_ETIMEDOUT, NULL, 0);
                wq_wake_all(&s->rd_w);
                keep = s->pend != NULL; /* the ERROR itself waits */
            } else if (pend) {
                if (pend_flush(n, s, id)) {
                    if (s->active != M_PASSIVE)
                        pump_locked(n, s, id, n->rbuf, sizeof n->rbuf);
                    keep = s->pend != NULL;
                } else {
                    keep = true;
                }
                if (keep)
                    s->deadline_us = now + 1000;
            }
            if (keep && s->deadline_us < next)
                next = s->deadline_us;
            if (!keep && s->state != S_FREE)
                s->on_timed = false;
            pthread_mutex_unlock(&s->mu);
        }
        pthread_mutex_lock(&n->mu);
        /* The list only grows meanwhile (appends): i still names id. */
        if (keep) {
            i++;
        } else {
            n->timed[i] = n->timed[--n->n_timed];
            tr__faa_acqrel_u32(&n->n_work, (uint32_t)-1);
        }
    }
    if (n->n_ready)
        next = now; /* a reader used its budget: go round at once */
    pthread_mutex_unlock(&n->mu);
    return next;
}

/* Closes s (open, locked): the handle is dead at once; queued output is
 * still written for up to LINGER_US (the slot lingers, its id dead to
 * every call), then the descriptor closes. */
static void close_locked(net *n, sock *s, uint64_t id) {
    if (s->kind != K_CONN || !s->olen || s->failed) {
        slot_free_locked(n, s, idx_of_id(id));
        return;
    }
    s->state = S_LINGER;
    s->drained_want = false;
    s->active = M_PASSIVE;
    pend_drop(s);
    wq_wake_all(&s->rd_w);
    wq_wake_all(&s->wr_w);
    pthread_mutex_lock(&n->mu);
    owner_unlink(n, s);
    pthread_mutex_unlock(&n->mu);
    s->owner = TR_PID_NONE;
    s->shut_wr = true;
    want_timed(n, s, id, tr__now_us() + LINGER_US);
    flush_locked(n, s, id);
    if (s->olen == 0 || s->failed)
        slot_free_locked(n, s, idx_of_id(id));
}

/* ---- the service ---------------------------------------------------------------- */

static int net_init(tr_runtime *rt, void **state) {
    net *n = (net *)tr__calloc(sizeof *n);
    if (!n)
        return TR_ENOMEM;
    n->rt = rt;
    n->n_sbuf = tr_runtime_threads(rt);
    n->sbuf = (char **)tr__calloc(sizeof(char *) * (n->n_sbuf ? n->n_sbuf : 1));
    if (!n->sbuf) {
        tr__free(n);
        return TR_ENOMEM;
    }
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->left_cv, NULL);
    *state = n;
    return TR_OK;
}

/* Closes every socket: the runtime stops. */
static void net_stop(tr_runtime *rt, void *state) {
    (void)rt;
    net *n = (net *)state;
    pthread_mutex_lock(&n->mu);
    n->stopped = true;
    uint32_t high = n->high;
    pthread_mutex_unlock(&n->mu);
    for (uint32_t i = 0; i < high; i++) {
        sock *s = slot_at(n, i);
        pthread_mutex_lock(&s->mu);
        if (s->state != S_FREE)
            slot_free_locked(n, s, i);
        pthread_mutex_unlock(&s->mu);
    }
}

static void net_fini(tr_runtime *rt, void *state) {
    net *n = (net *)state;
    net_stop(rt, n); /* a runtime that failed to start never stopped */
    pthread_mutex_lock(&n->mu);
    while (n->inside) /* woken by the stop: they leave */
        pthread_cond_wait(&n->left_cv, &n->mu);
    pthread_mutex_unlock(&n->mu);
    for (uint32_t k = 0; k < MAX_SEGS; k++) {
        if (!n->segs[k])
            continue;
        for (uint32_t j = 0; j < SEG; j++)
            pthread_mutex_destroy(&n->segs[k][j].mu);
        tr__free(n->segs[k]);
    }
    tr__free(n->free);
    tr__free(n->okeys);
    tr__free(n->ovals);
    tr__free(n->ready);
    tr__free(n->timed);
    for (unsigned i = 0; i < n->n_sbuf; i++)
        tr__free(n->sbuf[i]);
    tr__free(n->sbuf);
    pthread_cond_destroy(&n->left_cv);
    pthread_mutex_destroy(&n->mu);
    tr__free(n);
}

/* The owner exits: its sockets close. */
static void net_on_exit(tr_runtime *rt, void *state, tr_pid pid) {
    (void)rt;
    net *n = (net *)state;
    for (;;) {
        pthread_mutex_lock(&n->mu);
        uint32_t *head = oget(n, pid.id);
        if (!head) {
            pthread_mutex_unlock(&n->mu);
            return;
        }
        uint32_t idx = *head - 1;
        sock *s = slot_at(n, idx);
        /* Off the list now (progress even if it closes meanwhile). */
        owner_unlink(n, s);
        pthread_mutex_unlock(&n->mu);
        pthread_mutex_lock(&s->mu);
        if (s->state == S_OPEN && tr_pid_eq(s->owner, pid))
            close_locked(n, s, mk_id(idx, s->gen)); /* as tr_tcp_close: output still goes */
        pthread_mutex_unlock(&s->mu);
    }
}

const tr__service tr__net_service = {
    .name = "net",
    .init = net_init,
    .fini = net_fini,
    .on_exit = net_on_exit,
    .on_io = net_on_io,
    .io_tick = net_io_tick,
    .on_stop = net_stop,
};

/* ---- addresses --------------------------------------------------------------- */

static int resolve(const char *host, uint16_t port, bool passive, struct sockaddr_storage *ss,
                   socklen_t *len) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (!host || !*host) {
        if (!passive)
            return TR_EINVAL;
        int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0) {
            close(probe);
            a6->sin6_family = AF_INET6;
            a6->sin6_addr = in6addr_any;
            a6->sin6_port = htons(port);
            *len = sizeof *a6;
        } else {
            a4->sin_family = AF_INET;
            a4->sin_addr.s_addr = htonl(INADDR_ANY);
            a4->sin_port = htons(port);
            *len = sizeof *a4;
        }
        return TR_OK;
    }
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        *len = sizeof *a4;
        return TR_OK;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        *len = sizeof *a6;
        return TR_OK;
    }
    /* Not an address, and no name either (names have no ':'; at most 253
     * characters): no lookup. */
    if (strchr(host, ':') || strlen(host) > 253)
        return TR_ENOTFOUND;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (passive)
        hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res)
        return rc == EAI_MEMORY ? TR_ENOMEM : TR_ENOTFOUND;
    if (res->ai_addrlen > sizeof *ss) {
        freeaddrinfo(res);
        return TR_ENOTFOUND;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET)
        a4->sin_port = htons(port);
    else if (ss->ss_family == AF_INET6)
        a6->sin6_port = htons(port);
    else
        return TR_ENOTFOUND;
    return TR_OK;
}

/* A plain thread enters / leaves a call that may block (fibers are all gone
 * before the runtime frees anything). */
static bool enter(net *n) {
    if (tr__park_refused() || !tr_pid_is_none(tr__caller_pid()))
        return false;
    pthread_mutex_lock(&n->mu);
    n->inside++;
    pthread_mutex_unlock(&n->mu);
    return true;
}
/* Under the lock, so that net_fini cannot free n before this unlocks; the
 * thread touches nothing of n after. */
static void leave(net *n, bool entered) {
    if (!entered)
        return;
    pthread_mutex_lock(&n->mu);
    if (--n->inside == 0)
        pthread_cond_broadcast(&n->left_cv);
    pthread_mutex_unlock(&n->mu);
}

/* ---- the calls ------------------------------------------------------------------ */

static int opts_check(const tr_tcp_opts *o) {
    if (!o)
        return TR_OK;
    if (o->backlog < 0 || o->active < -1 || o->send_max > TR__SIZE_MAX ||
        o->recv_max > ((size_t)1 << 30))
        return TR_EINVAL;
    return TR_OK;
}

/* The owner a new socket gets: opts->owner, else the calling process. */
static tr_pid owner_for(const tr_tcp_opts *o) {
    if (o && !tr_pid_is_none(o->owner))
        return o->owner;
    return tr__caller_pid();
}

static void opts_apply(sock *s, const tr_tcp_opts *o) {
    if (!o)
        return;
    s->nodelay = o->nodelay;
    s->keepalive = o->keepalive;
    if (o->send_max)
        s->send_max = o->send_max;
    if (o->recv_max)
        s->recv_max = o->recv_max;
}

/* A fresh socket's start (locked): owner, poller. On error the slot is
 * freed and unlocked. */
static int slot_start(net *n, sock *s, uint32_t idx, tr_pid owner) {
    int err = TR_OK;
    if (!tr_pid_is_none(owner)) {
        pthread_mutex_lock(&n->mu);
        err = owner_link(n, s, idx, owner);
        pthread_mutex_unlock(&n->mu);
    }
    if (!err)
        err = watch(n, s, mk_id(idx, s->gen));
    if (err) {
        slot_free_locked(n, s, idx);
        pthread_mutex_unlock(&s->mu);
    }
    return err;
}

/* A bound, listening descriptor for ss; -1 and *err on failure. */
static int listen_fd(const struct sockaddr_storage *ss, socklen_t len, const tr_tcp_opts *opts,
                     int *err) {
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = map_errno(errno);
        return -1;
    }
    int one = 1;
    if (!(opts && opts->no_reuseaddr))
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss->ss_family == AF_INET6) {
        int v6only = opts && opts->ipv6_only;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
    }
    int backlog = opts && opts->backlog ? opts->backlog : BACKLOG_DEFAULT;
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, backlog) != 0) {
        *err = map_errno(errno);
        close(fd);
        return -1;
    }
    return fd;
}

int tr_tcp_listen(tr_runtime *rt, const char *host, uint16_t port, const tr_tcp_opts *opts,
                  tr_sock *out) {
    if (!rt || !out || opts_check(opts))
        return TR_EINVAL;
    *out = TR_SOCK_NONE;
    net *n = net_of(rt);
    if (!n || tr__runtime_stopping(rt))
        return TR_ECLOSED;
    tr_pid owner = owner_for(opts);
    if (opts && opts->active != 0 && tr_pid_is_none(owner))
        return TR_EINVAL; /* active, with no one to tell */
    struct sockaddr_storage ss;
    socklen_t len;
    int err = resolve(host, port, true, &ss, &len);
    if (err)
        return err;
    int fd = listen_fd(&ss, len, opts, &err);
    if (fd < 0 && (!host || !*host) && ss.ss_family == AF_INET6 && err != TR_EADDRINUSE) {
        /* "::" refused (IPv6 disabled on the machine): 0.0.0.0 then. */
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        memset(&ss, 0, sizeof ss);
        a4->sin_family = AF_INET;
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
        a4->sin_port = htons(port);
        fd = listen_fd(&ss, sizeof *a4, opts, &err);
    }
    if (fd < 0)
        return err;
    uint32_t idx;
    sock *s = slot_new(n, fd, &idx, &err);
    if (!s) {
        close(fd);
        return err;
    }
    s->kind = K_LISTEN;
    opts_apply(s, opts);
    mode_set(s, opts ? opts->active : 0);
    s->child_active = opts ? opts->active : 0;
    err = slot_start(n, s, idx, owner);
    if (err)
        return err;
    uint64_t id = mk_id(idx, s->gen);
    if (s->active != M_PASSIVE)
        pump_locked(n, s, id, NULL, 0);
    pthread_mutex_unlock(&s->mu);
    out->id = id;
    return TR_OK;
}

static int do_accept_(tr_runtime *rt, tr_sock ls, tr_duration_ms timeout_ms, tr_sock *out) {
    if (!rt || !out)
        return TR_EINVAL;
    *out = TR_SOCK_NONE;
    if (timeout_ms < 0)
        timeout_ms = TR_INFINITY;
    if (tr__park_refused())
        return TR_EDEADLK;
    net *n = net_of(rt);
    if (!n)
        return TR_ECLOSED;
    int64_t deadline = tr__deadline_ms(timeout_ms);
    sock *l = lock_id(n, ls.id, OPEN_ONLY);
    if (!l)
        return TR_ECLOSED;
    if (l->kind != K_LISTEN || l->active != M_PASSIVE) {
        pthread_mutex_unlock(&l->mu);
        return TR_EINVAL;
    }
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            sock *s;
            uint64_t id;
            int err = adopt(n, l, fd, tr__caller_pid(), &s, &id);
            pthread_mutex_unlock(&l->mu);
            if (err)
                return err;
            err = watch(n, s, id);
            if (err) {
                slot_free_locked(n, s, idx_of_id(id));
                pthread_mutex_unlock(&s->mu);
                return err;
            }
            if (s->active != M_PASSIVE)
                pump_locked(n, s, id, NULL, 0);
            pthread_mutex_unlock(&s->mu);
            out->id = id;
            return TR_OK;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN) {
            l->err = errno;
            pthread_mutex_unlock(&l->mu);
            return map_errno(l->err);
        }
        if (timeout_ms == 0 || park_on(l, &l->rd_w, deadline) == TR_ETIMEDOUT) {
            pthread_mutex_unlock(&l->mu);
            return TR_ETIMEDOUT;
        }
        if (l->gen != (uint32_t)(ls.id >> 32) || l->state != S_OPEN) {
            pthread_mutex_unlock(&l->mu);
            return TR_ECLOSED;
        }
        if (l->active != M_PASSIVE) {
            pthread_mutex_unlock(&l->mu);
            return TR_EINVAL;
        }
    }
}

static int do_connect_(tr_runtime *rt, const char *host, uint16_t port, const tr_tcp_opts *opts,
                       tr_duration_ms timeout_ms, tr_sock *out) {
    if (!rt || !out || !host || !*host || port == 0 || opts_check(opts))
        return TR_EINVAL;
    *out = TR_SOCK_NONE;
    if (timeout_ms < 0)
        timeout_ms = TR_INFINITY;
    net *n = net_of(rt);
    if (!n || tr__runtime_stopping(rt))
        return TR_ECLOSED;
    bool actor = tr__park_refused();
    tr_pid owner = owner_for(opts);
    if (opts && opts->active != 0 && tr_pid_is_none(owner))
        return TR_EINVAL;
    struct sockaddr_storage ss;
    socklen_t len;
    int err = resolve(host, port, false, &ss, &len);
    if (err)
        return err;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return map_errno(errno);
    set_sockopts(fd, opts && opts->nodelay, opts && opts->keepalive);
    int rc = connect(fd, (struct sockaddr *)&ss, len);
    if (rc != 0 && errno != EINPROGRESS) {
        err = map_errno(errno);
        close(fd);
        return err;
    }
    uint32_t idx;
    sock *s = slot_new(n, fd, &idx, &err);
    if (!s) {
        close(fd);
        return err;
    }
    s->kind = rc == 0 ? K_CONN : K_CONNECTING;
    opts_apply(s, opts);
    mode_set(s, opts ? opts->active : 0);
    err = slot_start(n, s, idx, owner);
    if (err)
        return err;
    uint64_t id = mk_id(idx, s->gen);
    if (actor) {
        if (s->kind == K_CONN) {
            notify(n, s, TR_TAG_TCP_CONNECTED, id, 0, NULL, 0);
            pump_locked(n, s, id, NULL, 0);
        } else {
            s->connect_msg = true;
            if (timeout_ms != TR_INFINITY)
                want_timed(n, s, id, tr__sat_add(tr__now_us(), tr__sat_mul(timeout_ms, 1000)));
        }
        pthread_mutex_unlock(&s->mu);
        out->id = id;
        return TR_OK;
    }
    int64_t deadline = tr__deadline_ms(timeout_ms);
    while (s->kind == K_CONNECTING) {
        if (timeout_ms == 0 || park_on(s, &s->rd_w, deadline) == TR_ETIMEDOUT) {
            if (s->gen == (uint32_t)(id >> 32) && s->state == S_OPEN && s->kind == K_CONNECTING) {
                slot_free_locked(n, s, idx);
                pthread_mutex_unlock(&s->mu);
                return TR_ETIMEDOUT;
            }
        }
        if (s->gen != (uint32_t)(id >> 32) || s->state != S_OPEN) {
            pthread_mutex_unlock(&s->mu);
            return TR_ECLOSED; /* closed meanwhile (the runtime stops) */
        }
    }
    if (s->kind == K_FAILED) {
        err = map_errno(s->err);
        slot_free_locked(n, s, idx);
        pthread_mutex_unlock(&s->mu);
        return err;
    }
    pthread_mutex_unlock(&s->mu);
    out->id = id;
    return TR_OK;
}

static int do_recv_(tr_runtime *rt, tr_sock sk, void *buf, size_t cap, tr_duration_ms timeout_ms,
                    size_t *got) {
    if (got)
        *got = 0;
    if (!rt || !buf || !got || cap == 0)
        return TR_EINVAL;
    if (timeout_ms < 0)
        timeout_ms = TR_INFINITY;
    bool actor = tr__park_refused();
    int64_t deadline = tr__deadline_ms(timeout_ms);
    net *n;
    sock *s = open_locked(rt, sk, &n);
    if (!s)
        return TR_ECLOSED;
    int rc;
    for (;;) {
        if (s->active != M_PASSIVE || s->kind == K_LISTEN) {
            rc = TR_EINVAL;
            break;
        }
        if (s->kind == K_FAILED) {
            rc = map_errno(s->err);
            break;
        }
        if (s->peer_eof) {
            rc = s->err && s->err != ECONNRESET ? map_errno(s->err) : TR_ECLOSED;
            break;
        }
        if (s->kind == K_CONN && !(s->rd_empty && !s->rd_hup)) {
            size_t want = cap < s->recv_max ? cap : s->recv_max;
            ssize_t r = read(s->fd, buf, want);
            if (r > 0) {
                s->rd_empty = (size_t)r < want;
                *got = (size_t)r;
                rc = TR_OK;
                break;
            }
            if (r == 0) {
                s->peer_eof = true;
                rc = TR_ECLOSED;
                break;
            }
            if (errno == EINTR)
                continue;
            if (errno == EFAULT) { /* the caller's buffer: bad input, the socket is fine */
                rc = TR_EINVAL;
                break;
            }
            if (errno != EAGAIN) {
                s->err = errno;
                s->peer_eof = true;
                rc = map_errno(errno);
                break;
            }
            s->rd_empty = true;
        }
        if (actor) {
            rc = TR_EAGAIN;
            break;
        }
        if ((rc = park_turn(s, sk, &s->rd_w, timeout_ms, deadline)) != TR_OK)
            break;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The iovec being written: advances past what the kernel took. */
typedef struct iov_cur {
    struct iovec *v;
    int n;
} iov_cur;

static void iov_skip(iov_cur *c, size_t k) {
    while (k && c->n) {
        if (k < c->v->iov_len) {
            c->v->iov_base = (char *)c->v->iov_base + k;
            c->v->iov_len -= k;
            return;
        }
        k -= c->v->iov_len;
        c->v++;
        c->n--;
    }
    while (c->n && c->v->iov_len == 0) {
        c->v++;
        c->n--;
    }
}

#define IOV_STACK 16

static int send_iov_(tr_runtime *rt, tr_sock sk, const struct iovec *iov, int iovcnt,
                     tr_duration_ms timeout_ms) {
    if (!rt || iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt && !iov))
        return TR_EINVAL;
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len && !iov[i].iov_base)
            return TR_EINVAL;
        if (!tr__size_add(len, iov[i].iov_len, &len) || len > TR__SIZE_MAX)
            return TR_EINVAL;
    }
    if (timeout_ms < 0)
        timeout_ms = TR_INFINITY;
    bool actor = tr__park_refused();
    int64_t deadline = tr__deadline_ms(timeout_ms);
    net *n;
    sock *s = open_locked(rt, sk, &n);
    if (!s)
        return TR_ECLOSED;
    struct iovec stack[IOV_STACK], *heap = NULL;
    int rc = TR_OK;
    for (;;) {
        if (s->kind == K_LISTEN) {
            rc = TR_EINVAL;
            break;
        }
        if (s->kind == K_FAILED) {
            rc = map_errno(s->err);
            break;
        }
        if (s->failed) {
            rc = s->wfail;
            break;
        }
        if (s->shut_wr) {
            rc = TR_ECLOSED;
            break;
        }
        if (len == 0)
            break;
        if (s->olen == 0 || s->olen + len <= s->send_max) {
            iov_cur c = {stack, iovcnt};
            if (iovcnt > IOV_STACK) {
                heap = (struct iovec *)tr__malloc(sizeof(struct iovec) * (size_t)iovcnt);
                if (!heap) {
                    rc = TR_ENOMEM;
                    break;
                }
                c.v = heap;
            }
            memcpy(c.v, iov, sizeof(struct iovec) * (size_t)iovcnt);
            iov_skip(&c, 0);
            if (s->olen == 0 && s->kind == K_CONN) {
                /* Nothing queued: write at once, queue only the rest. */
                while (c.n) {
                    struct msghdr mh = {.msg_iov = c.v, .msg_iovlen = (size_t)c.n};
                    ssize_t w = sendmsg(s->fd, &mh, MSG_NOSIGNAL);
                    if (w > 0) {
                        iov_skip(&c, (size_t)w);
                    } else if (w < 0 && errno == EINTR) {
                        continue;
                    } else if (w < 0 && errno == EAGAIN) {
                        break;
                    } else {
                        s->err = errno;
                        s->failed = true;
                        s->wfail = map_errno(errno);
                        rc = s->wfail;
                        goto out;
                    }
                }
            }
            /* The rest in one piece, or nothing: never half a send. */
            size_t rest = 0;
            for (int i = 0; i < c.n; i++)
                rest += c.v[i].iov_len;
            if (rest && queue_reserve(s, rest) != TR_OK) {
                if (rest == len) {
                    rc = TR_ENOMEM; /* nothing was written: nothing taken */
                    break;
                }
                /* Part is on the wire: the stream is broken without the
                 * rest. Fail the socket rather than lose bytes silently. */
                s->err = ENOMEM;
                s->failed = true;
                s->wfail = TR_ENOMEM;
                rc = TR_ENOMEM;
                break;
            }
            for (int i = 0; i < c.n; i++)
                queue_put(s, c.v[i].iov_base, c.v[i].iov_len);
            break;
        }
        if (actor) {
            s->drained_want = true;
            s->drained_at = len > s->send_max ? 0 : s->send_max / 2;
            s->drained_to = tr__caller_pid();
            rc = TR_EAGAIN;
            break;
        }
        if ((rc = park_turn(s, sk, &s->wr_w, timeout_ms, deadline)) != TR_OK)
            break;
    }
out:
    pthread_mutex_unlock(&s->mu);
    tr__free(heap);
    return rc;
}

static int send_iov(tr_runtime *rt, tr_sock sk, const struct iovec *iov, int iovcnt,
                    tr_duration_ms timeout_ms);

int tr_tcp_send(tr_runtime *rt, tr_sock sk, const void *data, size_t len,
                tr_duration_ms timeout_ms) {
    if (len && !data)
        return TR_EINVAL;
    struct iovec v = {.iov_base = (void *)data, .iov_len = len};
    return send_iov(rt, sk, &v, len ? 1 : 0, timeout_ms);
}

int tr_tcp_sendv(tr_runtime *rt, tr_sock sk, const struct iovec *iov, int iovcnt,
                 tr_duration_ms timeout_ms) {
    return send_iov(rt, sk, iov, iovcnt, timeout_ms);
}

int tr_tcp_active(tr_runtime *rt, tr_sock sk, int mode) {
    if (!rt || mode < -1)
        return TR_EINVAL;
    net *n;
    sock *s = open_locked(rt, sk, &n);
    if (!s)
        return TR_ECLOSED;
    if (mode != 0 && tr_pid_is_none(s->owner)) {
        pthread_mutex_unlock(&s->mu);
        return TR_EINVAL; /* no one to deliver to */
    }
    mode_set(s, mode);
    if (s->active == M_COUNT && s->count <= 0) {
        s->active = M_PASSIVE;
        s->count = 0;
    }
    /* The edge may have come while passive: read now. */
    if (s->active != M_PASSIVE)
        pump_locked(n, s, sk.id, NULL, 0);
    pthread_mutex_unlock(&s->mu);
    return TR_OK;
}

int tr_tcp_controlling_process(tr_runtime *rt, tr_sock sk, tr_pid pid) {
    if (!rt || tr_pid_is_none(pid))
        return TR_EINVAL;
    net *n;
    sock *s = open_locked(rt, sk, &n);
    if (!s)
        return TR_ECLOSED;
    int err = TR_OK;
    if (!tr_pid_is_none(s->owner) && !tr_pid_eq(s->owner, tr__caller_pid())) {
        err = TR_EPERM;
    } else if (!tr_pid_eq(s->owner, pid)) {
        pthread_mutex_lock(&n->mu);
        tr_pid old = s->owner;
        bool listed = s->o_listed;
        owner_unlink(n, s);
        err = owner_link(n, s, idx_of_id(sk.id), pid);
        if (err) {
            s->owner = TR_PID_NONE;
            if (listed && owner_link(n, s, idx_of_id(sk.id), old) != TR_OK)
                s->owner = old; /* the old owner exits meanwhile: it closes nothing more */
        }
        pthread_mutex_unlock(&n->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return err;
}

int tr_tcp_shutdown(tr_runtime *rt, tr_sock sk, int how) {
    if (!rt || (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR))
        return TR_EINVAL;
    net *n;
    sock *s = open_locked(rt, sk, &n);
    if (!s)
        return TR_ECLOSED;
    int err = TR_OK;
    if (s->kind != K_CONN) {
        err = s->kind == K_LISTEN ? TR_EINVAL : TR_ENOTCONN;
    } else {
        if (how != SHUT_WR) {
            shutdown(s->fd, SHUT_RD);
            s->rd_hup = true; /* reads now say EOF: make them */
            wq_wake_all(&s->rd_w);
        }
        if (how != SHUT_RD) {
            s->shut_wr = true;
            flush_locked(n, s, sk.id);
            wq_wake_all(&s->wr_w);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return err;
}

int tr_tcp_close(tr_runtime *rt, tr_sock sk) {
    if (!rt)
        return TR_EINVAL;
    net *n;
    sock *s = open_locked(rt, sk, &n);
    if (!s)
        return TR_ECLOSED;
    close_locked(n, s, sk.id);
    pthread_mutex_unlock(&s->mu);
    return TR_OK;
}

int tr_tcp_setopts(tr_runtime *rt, tr_sock sk, const tr_tcp_opts *opts) {
    if (!rt || !opts || opts_check(opts))
        return TR_EINVAL;
    net *n;
    sock *s = open_locked(rt, sk, &n);
    if (!s)
        return TR_ECLOSED;
    opts_apply(s, opts);
    if (s->kind != K_LISTEN)
        set_sockopts(s->fd, s->nodelay, s->keepalive);
    if (s->wr_w && s->olen < s->send_max)
        wq_wake_all(&s->wr_w);
    pthread_mutex_unlock(&s->mu);
    return TR_OK;
}

int tr_tcp_errno(tr_runtime *rt, tr_sock sk) {
    net *n = rt ? net_of(rt) : NULL;
    if (!n)
        return 0;
    sock *s = lock_id(n, sk.id, OPEN_ONLY);
    if (!s)
        return 0;
    int e = s->err;
    pthread_mutex_unlock(&s->mu);
    return e;
}

static int addr_of(tr_runtime *rt, tr_sock sk, bool peer, char *host, size_t cap, uint16_t *port) {
    if (!rt || (host && cap == 0))
        return TR_EINVAL;
    net *n;
    sock *s = open_locked(rt, sk, &n);
    if (!s)
        return TR_ECLOSED;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int rc = peer ? getpeername(s->fd, (struct sockaddr *)&ss, &len)
                  : getsockname(s->fd, (struct sockaddr *)&ss, &len);
    int err = rc == 0 ? TR_OK : map_errno(errno);
    if (rc != 0)
        s->err = errno;
    pthread_mutex_unlock(&s->mu);
    if (err)
        return err;
    char text[INET6_ADDRSTRLEN] = "";
    uint16_t p = 0;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
        p = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
        p = ntohs(a->sin6_port);
    }
    if (host) {
        size_t l = strlen(text);
        if (l + 1 > cap)
            return TR_EINVAL;
        memcpy(host, text, l + 1);
    }
    if (port)
        *port = p;
    return TR_OK;
}

int tr_tcp_peername(tr_runtime *rt, tr_sock s, char *host, size_t cap, uint16_t *port) {
    return addr_of(rt, s, true, host, cap, port);
}

int tr_tcp_sockname(tr_runtime *rt, tr_sock s, char *host, size_t cap, uint16_t *port) {
    return addr_of(rt, s, false, host, cap, port);
}

int tr_tcp_local_port(tr_runtime *rt, tr_sock s, uint16_t *port) {
    if (!port)
        return TR_EINVAL;
    return addr_of(rt, s, false, NULL, 0, port);
}

tr_sock tr_msg_sock(const tr_msg *m) {
    if (!m || m->kind != TR_MSG_INFO || m->tag < TR_TAG_TCP_MIN || m->tag > TR_TAG_TCP_MAX)
        return TR_SOCK_NONE;
    return (tr_sock){m->ref};
}

/* ---- the calls that may block: plain threads are counted ---------------- */

#define COUNTED(call)                                                                              \
    net *n_ = rt ? net_of(rt) : NULL;                                                              \
    bool in_ = n_ ? enter(n_) : false;                                                             \
    int rc_ = call;                                                                                \
    if (n_)                                                                                        \
        leave(n_, in_);                                                                            \
    return rc_

int tr_tcp_accept(tr_runtime *rt, tr_sock ls, tr_duration_ms timeout_ms, tr_sock *out) {
    COUNTED(do_accept_(rt, ls, timeout_ms, out));
}

int tr_tcp_connect(tr_runtime *rt, const char *host, uint16_t port, const tr_tcp_opts *opts,
                   tr_duration_ms timeout_ms, tr_sock *out) {
    COUNTED(do_connect_(rt, host, port, opts, timeout_ms, out));
}

int tr_tcp_recv(tr_runtime *rt, tr_sock s, void *buf, size_t cap, tr_duration_ms timeout_ms,
                size_t *got) {
    COUNTED(do_recv_(rt, s, buf, cap, timeout_ms, got));
}

static int send_iov(tr_runtime *rt, tr_sock sk, const struct iovec *iov, int iovcnt,
                    tr_duration_ms timeout_ms) {
    COUNTED(send_iov_(rt, sk, iov, iovcnt, timeout_ms));
}
