/* troupe — channels and select (troupe/channel.h), as Go's runtime/chan.go
 * and runtime/select.go.
 *
 * A channel is a lock, a ring buffer and two queues of waiters (Go's
 * sudogs): blocked receivers and blocked senders. A waiter lives on the
 * waiting caller's stack. Every blocking operation is a select: a plain
 * send or receive is a select of one case (one_op: without the poll order
 * and the waiter array). A select's waiters (one per case) share one
 * select state whose `done` word is claimed with a CAS: by the other side
 * of a transfer (1, Go's selectDone) or by the owner giving up (2, a
 * time-out or a killed fiber). Whoever claims it is the only one to
 * complete a case, so a select completes exactly one.
 *
 * The lock is base/spin.h's spinlock: what it guards is a few copies long
 * (plus, when a peer waits, its permit and wake-up), and a spinlock's
 * release is a plain store where a mutex's is a second atomic
 * read-modify-write on the line both cores want. Measured with
 * chan_throughput: about twice the values per second of glibc's adaptive
 * mutex, with one scheduler thread and with two.
 *
 * Lost wake-ups: the select locks every channel of its cases (in address
 * order, each once), polls the cases, and when none is ready queues all
 * its waiters before it unlocks any: a case that becomes ready afterwards
 * finds a waiter to claim. The claimer copies the value and wakes the
 * parker while it holds the channel's lock (park.h's rule); the owner,
 * once woken (or timed out), takes every lock again before it reads the
 * outcome and unlinks its waiters, so the claimer is done with them.
 *
 * Actor notifications (tr_chan_notify) are kept per direction and fire
 * (all of a direction at once) when an event makes the channel ready for
 * it; the messages are sent after the locks are released.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <troupe/channel.h>

#include "actor/internal.h"
#include "base/alloc.h"
#include "base/atomic.h"
#include "base/clock.h"
#include "base/park.h"
#include "base/spin.h"

/* ---- types -------------------------------------------------------------- */

typedef struct sel_state sel_state;

/* A queued case of a blocked select (Go's sudog). */
typedef struct waiter {
    struct waiter *prev, *next; /* under the channel's lock */
    sel_state *sel;
    tr_chan *chan;
    void *elem;     /* send: the source; recv: the destination (may be NULL) */
    uint32_t index; /* the case's index */
    int dir;
    bool linked; /* under the channel's lock: in its queue */
} waiter;

typedef struct waitq {
    waiter *head, *tail;
} waitq;

/* Done states of a select. A claimer moves it from WAITING to CLAIMED
 * (under the lock of the claimed waiter's channel), completes it and wakes
 * its owner, then stores DONE: from then on it touches nothing of the
 * select's (its waiters and state live on the owner's stack), so an owner
 * that sees DONE may return without taking the locks again when the
 * claimed waiter was its only one (the claimer unlinked it). */
enum { SEL_WAITING = 0, SEL_CLAIMED = 1, SEL_WITHDRAWN = 2, SEL_DONE = 3 };

struct sel_state {
    tr__parker *parker;
    uint32_t done;   /* atomic: SEL_* */
    uint32_t fired;  /* the claimer: the completed case's index */
    int result;      /* the claimer: 0 or TR_ECLOSED */
    waiter *w;       /* the waiters, one per case (unused ones not linked) */
    size_t n;        /* cases */
    tr_chan **locks; /* the distinct channels, in address order */
    size_t nlocks;
};

/* A pending tr_chan_notify registration. */
typedef struct note {
    struct note *next;
    tr_runtime *rt;
    tr_pid pid;
    uint32_t tag;
} note;

struct tr_chan {
    tr__spin mu;
    uint64_t refs; /* atomic */
    size_t elem_size;
    size_t cap;
    /* under mu: */
    size_t len, head; /* buffered elements; index of the oldest */
    bool closed;
    waitq recvq, sendq;
    note *notes[2]; /* [0] recv, [1] send */
    unsigned char *buf;
};

/* ---- small helpers ------------------------------------------------------ */

static inline int note_slot(int dir) {
    return dir == TR_CHAN_RECV ? 0 : 1;
}

static void q_push(waitq *q, waiter *w) {
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    w->linked = true;
}

static void q_unlink(waitq *q, waiter *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->prev = w->next = NULL;
    w->linked = false;
}

/* Takes the first waiter of q whose select this call claims (unlinked);
 * waiters of selects already claimed or withdrawn are unlinked on the way
 * (their owners check `linked`). NULL when none. Under the lock. */
static waiter *q_claim(waitq *q) {
    waiter *w;
    while ((w = q->head) != NULL) {
        q_unlink(q, w);
        if (tr__load_acq_u32(&w->sel->done) == SEL_WAITING &&
            tr__cas_acqrel_u32(&w->sel->done, SEL_WAITING, SEL_CLAIMED))
            return w;
    }
    return NULL;
}

/* True when q holds a waiter whose select is still waiting. Under the lock. */
static bool q_has_live(const waitq *q) {
    for (const waiter *w = q->head; w; w = w->next)
        if (tr__load_acq_u32(&w->sel->done) == SEL_WAITING)
            return true;
    return false;
}

/* Completes a claimed waiter with result and wakes its owner (under the
 * lock of the queue it came from, as park.h asks), then lets it go: w and
 * its select are not touched after the DONE store. */
static void finish(waiter *w, int result) {
    sel_state *s = w->sel;
    s->fired = w->index;
    s->result = result;
    tr__parker_wake(s->parker);
    tr__store_rel_u32(&s->done, SEL_DONE);
}

/* Moves every registration for dir to *fire (sent after unlocking). */
static void fire_notes(tr_chan *ch, int dir, note **fire) {
    note **slot = &ch->notes[note_slot(dir)];
    while (*slot) {
        note *n = *slot;
        *slot = n->next;
        n->next = *fire;
        *fire = n;
    }
}

static void send_notes(note *n) {
    while (n) {
        note *next = n->next;
        (void)tr_send(n->rt, n->pid, n->tag, NULL, 0); /* TR_ENOPROC: it died */
        tr__free(n);
        n = next;
    }
}

static inline unsigned char *slot_at(tr_chan *ch, size_t i) {
    return ch->buf + i * ch->elem_size;
}

/* ---- the operations, under the channel's lock ---------------------------- */

/* Copies one element: word-sized ones without a call to memcpy (most
 * channels carry an integer or a pointer). */
static inline void copy_elem(const tr_chan *ch, void *dst, const void *src) {
    switch (ch->elem_size) {
    case 4:
        memcpy(dst, src, 4);
        break;
    case 8:
        memcpy(dst, src, 8);
        break;
    case 16:
        memcpy(dst, src, 16);
        break;
    default:
        memcpy(dst, src, ch->elem_size);
    }
}

/* Sends elem if it can be done now: 1 (done, *result 0 or TR_ECLOSED) or 0. */
static int send_locked(tr_chan *ch, const void *elem, int *result, note **fire) {
    if (ch->closed) {
        *result = TR_ECLOSED;
        return 1;
    }
    waiter *w = q_claim(&ch->recvq);
    if (w) { /* a receiver waits (so the buffer is empty): hand it over */
        if (w->elem)
            copy_elem(ch, w->elem, elem);
        finish(w, 0);
        *result = 0;
        return 1;
    }
    if (ch->len < ch->cap) {
        size_t tail = ch->head + ch->len;
        if (tail >= ch->cap)
            tail -= ch->cap;
        copy_elem(ch, slot_at(ch, tail), elem);
        ch->len++;
        fire_notes(ch, TR_CHAN_RECV, fire);
        *result = 0;
        return 1;
    }
    return 0;
}

/* Receives into elem (may be NULL) if it can be done now: as send_locked. */
static int recv_locked(tr_chan *ch, void *elem, int *result, note **fire) {
    waiter *w = q_claim(&ch->sendq);
    if (w) {
        if (ch->cap == 0) { /* rendezvous: straight from the sender */
            if (elem)
                copy_elem(ch, elem, w->elem);
        } else { /* the buffer is full: take its head, the sender's value goes to the tail */
            if (elem)
                copy_elem(ch, elem, slot_at(ch, ch->head));
            copy_elem(ch, slot_at(ch, ch->head), w->elem);
            ch->head = ch->head + 1 == ch->cap ? 0 : ch->head + 1;
        }
        finish(w, 0);
        *result = 0;
        return 1;
    }
    if (ch->len > 0) {
        if (elem)
            copy_elem(ch, elem, slot_at(ch, ch->head));
        ch->head = ch->head + 1 == ch->cap ? 0 : ch->head + 1;
        ch->len--;
        fire_notes(ch, TR_CHAN_SEND, fire);
        *result = 0;
        return 1;
    }
    if (ch->closed) {
        if (elem)
            memset(elem, 0, ch->elem_size);
        *result = TR_ECLOSED;
        return 1;
    }
    return 0;
}

static bool ready_locked(tr_chan *ch, int dir) {
    if (ch->closed)
        return true;
    if (dir == TR_CHAN_RECV)
        return ch->len > 0 || q_has_live(&ch->sendq);
    return ch->len < ch->cap || q_has_live(&ch->recvq);
}

/* ---- channel objects ------------------------------------------------------ */

int tr_chan_new(size_t elem_size, size_t capacity, tr_chan **out) {
    size_t bytes;
    if (out)
        *out = NULL;
    if (!out || elem_size == 0 || elem_size > TR_CHAN_ELEM_MAX ||
        !tr__size_mul(elem_size, capacity, &bytes))
        return TR_EINVAL;
    tr_chan *ch = (tr_chan *)tr__calloc(sizeof *ch);
    if (!ch)
        return TR_ENOMEM;
    if (bytes) {
        ch->buf = (unsigned char *)tr__malloc(bytes);
        if (!ch->buf) {
            tr__free(ch);
            return TR_ENOMEM;
        }
    }
    ch->elem_size = elem_size;
    ch->cap = capacity;
    ch->refs = 1;
    *out = ch;
    return 0;
}

tr_chan *tr_chan_ref(tr_chan *ch) {
    if (ch)
        tr__faa_acqrel_u64(&ch->refs, 1);
    return ch;
}

void tr_chan_release(tr_chan *ch) {
    if (!ch || tr__faa_acqrel_u64(&ch->refs, (uint64_t)-1) != 1)
        return;
    /* The last reference: acq_rel above ordered every holder's use first. */
    for (int i = 0; i < 2; i++)
        while (ch->notes[i]) {
            note *n = ch->notes[i];
            ch->notes[i] = n->next;
            tr__free(n);
        }
    tr__free(ch->buf);
    tr__free(ch);
}

int tr_chan_close(tr_chan *ch) {
    if (!ch)
        return TR_EINVAL;
    note *fire = NULL;
    tr__spin_lock(&ch->mu);
    if (ch->closed) {
        tr__spin_unlock(&ch->mu);
        return TR_ECLOSED;
    }
    ch->closed = true;
    waiter *w;
    while ((w = q_claim(&ch->recvq)) != NULL) {
        if (w->elem)
            memset(w->elem, 0, ch->elem_size);
        finish(w, TR_ECLOSED);
    }
    while ((w = q_claim(&ch->sendq)) != NULL)
        finish(w, TR_ECLOSED);
    fire_notes(ch, TR_CHAN_RECV, &fire);
    fire_notes(ch, TR_CHAN_SEND, &fire);
    tr__spin_unlock(&ch->mu);
    send_notes(fire);
    return 0;
}

size_t tr_chan_len(tr_chan *ch) {
    if (!ch)
        return 0;
    tr__spin_lock(&ch->mu);
    size_t n = ch->len;
    tr__spin_unlock(&ch->mu);
    return n;
}

size_t tr_chan_cap(const tr_chan *ch) {
    return ch ? ch->cap : 0;
}

/* ---- notifications --------------------------------------------------------- */

int tr_chan_notify(tr_chan *ch, tr_self *self, int dir, uint32_t tag) {
    if (!ch || !self || (dir != TR_CHAN_RECV && dir != TR_CHAN_SEND))
        return TR_EINVAL;
    tr_runtime *rt = tr_self_runtime(self);
    tr_pid pid = tr_self_pid(self);
    note *fresh = (note *)tr__calloc(sizeof *fresh);
    if (!fresh)
        return TR_ENOMEM;
    fresh->rt = rt;
    fresh->pid = pid;
    fresh->tag = tag;
    note *fire = NULL;
    tr__spin_lock(&ch->mu);
    note **slot = &ch->notes[note_slot(dir)];
    note *old = NULL;
    for (note *n = *slot; n; n = n->next)
        if (n->rt == rt && tr_pid_eq(n->pid, pid)) {
            old = n;
            break;
        }
    if (ready_locked(ch, dir)) {
        fire = fresh; /* at once; a pending one for the same actor goes with it */
        if (old) {
            for (note **p = slot; *p; p = &(*p)->next)
                if (*p == old) {
                    *p = old->next;
                    break;
                }
            tr__free(old);
        }
        fresh = NULL;
    } else if (old) {
        old->tag = tag;
    } else {
        fresh->next = *slot;
        *slot = fresh;
        fresh = NULL;
    }
    tr__spin_unlock(&ch->mu);
    tr__free(fresh);
    send_notes(fire);
    return 0;
}

int tr_chan_notify_cancel(tr_chan *ch, tr_self *self, int dir) {
    if (!ch || !self || (dir != TR_CHAN_RECV && dir != TR_CHAN_SEND))
        return TR_EINVAL;
    tr_runtime *rt = tr_self_runtime(self);
    tr_pid pid = tr_self_pid(self);
    note *gone = NULL;
    tr__spin_lock(&ch->mu);
    for (note **p = &ch->notes[note_slot(dir)]; *p; p = &(*p)->next)
        if ((*p)->rt == rt && tr_pid_eq((*p)->pid, pid)) {
            gone = *p;
            *p = gone->next;
            break;
        }
    tr__spin_unlock(&ch->mu);
    tr__free(gone);
    return gone ? 0 : TR_ENOTFOUND;
}

/* ---- select ------------------------------------------------------------------ */

/* A per-thread xorshift64* generator for the poll order (not shared). */
static __thread uint64_t rng_state;

static uint32_t rng_next(void) {
    uint64_t x = rng_state;
    if (x == 0)
        x = (uint64_t)tr__now_ns() ^ (uint64_t)(uintptr_t)&rng_state ^ 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

static void lock_all(sel_state *s) {
    for (size_t i = 0; i < s->nlocks; i++)
        tr__spin_lock(&s->locks[i]->mu);
}

static void unlock_all(sel_state *s) {
    for (size_t i = s->nlocks; i-- > 0;)
        tr__spin_unlock(&s->locks[i]->mu);
}

static int cmp_chan(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (tr_chan *const *)a, y = (uintptr_t) * (tr_chan *const *)b;
    return x < y ? -1 : x > y;
}

/* Under every lock: withdraws (if still waiting) and unlinks every waiter
 * still queued. */
static void dequeue_all(sel_state *s) {
    if (tr__load_acq_u32(&s->done) == SEL_WAITING) /* woken by a claim: no RMW */
        tr__cas_acqrel_u32(&s->done, SEL_WAITING, SEL_WITHDRAWN);
    for (size_t i = 0; i < s->n; i++) {
        waiter *w = &s->w[i];
        if (w->linked)
            q_unlink(w->dir == TR_CHAN_RECV ? &w->chan->recvq : &w->chan->sendq, w);
    }
}

/* The parker's cancel hook: a killed fiber's exit takes its waiters out. */
static void sel_cancel(void *arg) {
    sel_state *s = (sel_state *)arg;
    lock_all(s);
    dequeue_all(s);
    unlock_all(s);
}

/* One case under its channel's lock alone: 1 when it was done now
 * (*result: 0 or TR_ECLOSED), 0 when it would have to wait. The fast path
 * of a select's first pass and of tr_chan_send/tr_chan_recv. */
static int try_one(tr_chan *ch, int dir, void *elem, int *result) {
    note *fire = NULL;
    tr__spin_lock(&ch->mu);
    int done = dir == TR_CHAN_SEND ? send_locked(ch, elem, result, &fire)
                                   : recv_locked(ch, elem, result, &fire);
    tr__spin_unlock(&ch->mu);
    send_notes(fire);
    return done;
}

/* The waiting half of a select: called under every lock of s (its n,
 * w, locks and nlocks set) when none of the cases was ready. Queues one
 * waiter per case, unlocks, parks until a peer completes a case or the
 * deadline passes, then takes the locks again to withdraw the rest.
 * Returns the completed case's index (its result set) or TR_ETIMEDOUT,
 * with every lock released and *fire sent. */
static int park_on(sel_state *s, tr_select_case *cases, int64_t deadline, note **fire) {
    tr__parker *p = tr__parker_self();
    s->parker = p;
    s->done = SEL_WAITING;
    for (size_t i = 0; i < s->n; i++) {
        waiter *x = &s->w[i];
        memset(x, 0, sizeof *x);
        x->sel = s;
        x->index = (uint32_t)i;
        if (!cases[i].chan)
            continue;
        x->chan = cases[i].chan;
        x->elem = cases[i].elem;
        x->dir = cases[i].dir;
        if (x->dir == TR_CHAN_RECV) {
            q_push(&x->chan->recvq, x);
            fire_notes(x->chan, TR_CHAN_SEND, fire); /* a receiver waits */
        } else {
            q_push(&x->chan->sendq, x);
            fire_notes(x->chan, TR_CHAN_RECV, fire); /* a sender waits */
        }
    }
    p->cancel = sel_cancel;
    p->cancel_arg = s;
    unlock_all(s);
    send_notes(*fire);
    *fire = NULL;

    for (;;) {
        int wrc = tr__parker_wait(p, deadline);
        /* A permit left from an earlier wait wakes us early: look again. */
        if (tr__load_acq_u32(&s->done) != SEL_WAITING || wrc == TR_ETIMEDOUT)
            break;
    }
    int rc;
    if (s->n == 1 && tr__load_acq_u32(&s->done) != SEL_WAITING) {
        /* Claimed, and our only waiter unlinked by the claimer: once it is
         * done with us (DONE, after its wake-up: moments away), nothing of
         * ours is in its hands and the lock is not needed. */
        for (unsigned i = 0; tr__load_acq_u32(&s->done) != SEL_DONE; i++) {
            if (i < 64)
                tr__cpu_relax();
            else
                sched_yield();
        }
        cases[s->fired].result = s->result;
        p->cancel = NULL;
        p->cancel_arg = NULL;
        return (int)s->fired;
    }
    lock_all(s);
    dequeue_all(s); /* claims SEL_WITHDRAWN unless a peer claimed first */
    if (tr__load_acq_u32(&s->done) != SEL_WITHDRAWN) { /* CLAIMED: DONE by now (we hold its lock) */
        cases[s->fired].result = s->result;
        rc = (int)s->fired;
    } else {
        rc = TR_ETIMEDOUT;
    }
    p->cancel = NULL;
    p->cancel_arg = NULL;
    unlock_all(s);
    return rc;
}

#define SEL_STACK 8

static int do_select(tr_select_case *cases, size_t n, tr_duration_ms timeout_ms) {
    if ((n > 0 && !cases) || n > (size_t)INT32_MAX || (timeout_ms < 0 && timeout_ms != TR_INFINITY))
        return TR_EINVAL;
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cases[i].chan)
            continue;
        if ((cases[i].dir != TR_CHAN_RECV && cases[i].dir != TR_CHAN_SEND) ||
            (cases[i].dir == TR_CHAN_SEND && !cases[i].elem))
            return TR_EINVAL;
        live++;
    }
    if (timeout_ms != 0 && tr__park_refused())
        return TR_EDEADLK;
    int64_t deadline = tr__deadline_ms(timeout_ms);

    /* Scratch: the waiters, the poll order, the lock order. */
    waiter w_stack[SEL_STACK];
    uint32_t order_stack[SEL_STACK];
    tr_chan *locks_stack[SEL_STACK];
    waiter *w = w_stack;
    uint32_t *order = order_stack;
    tr_chan **locks = locks_stack;
    void *heap = NULL;
    if (n > SEL_STACK) {
        size_t per = sizeof *w + sizeof *order + sizeof *locks, bytes;
        if (!tr__size_mul(per, n, &bytes) || !(heap = tr__malloc(bytes)))
            return TR_ENOMEM;
        w = (waiter *)heap;
        locks = (tr_chan **)(w + n);
        order = (uint32_t *)(locks + n);
    }

    /* Poll order: a random permutation of the live cases (Go's pollorder). */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cases[i].chan)
            continue;
        size_t j = rng_next() % (k + 1);
        order[k] = order[j];
        order[j] = (uint32_t)i;
        locks[k] = cases[i].chan;
        k++;
    }
    note *fire = NULL;
    int rc;
    if (live > 1) {
        /* Fast path: try each case under its own lock alone, in poll order,
         * so that a ready case costs one lock, not all of them. The full
         * pass below, under every lock, is the one that decides to wait. */
        for (size_t i = 0; i < live; i++) {
            tr_select_case *c = &cases[order[i]];
            if (try_one(c->chan, c->dir, c->elem, &c->result)) {
                tr__free(heap);
                return (int)order[i];
            }
        }
    }
    /* Lock order: by address, each channel once (Go's lockorder). Sorted
     * only now: the first pass above takes one lock at a time and finds
     * most cases ready without it. */
    if (live > 1) {
        if (live <= 16) {
            for (size_t i = 1; i < live; i++) { /* insertion sort: n is small */
                tr_chan *x = locks[i];
                size_t j = i;
                for (; j > 0 && (uintptr_t)locks[j - 1] > (uintptr_t)x; j--)
                    locks[j] = locks[j - 1];
                locks[j] = x;
            }
        } else {
            qsort(locks, live, sizeof *locks, cmp_chan);
        }
        size_t u = 1;
        for (size_t i = 1; i < live; i++)
            if (locks[i] != locks[u - 1])
                locks[u++] = locks[i];
        k = u;
    }
    sel_state s = {.n = n, .w = w, .locks = locks, .nlocks = live ? k : 0};
    lock_all(&s);
    for (size_t i = 0; i < live; i++) {
        tr_select_case *c = &cases[order[i]];
        int result;
        int done = c->dir == TR_CHAN_SEND ? send_locked(c->chan, c->elem, &result, &fire)
                                          : recv_locked(c->chan, c->elem, &result, &fire);
        if (done) {
            c->result = result;
            rc = (int)order[i];
            goto out_unlock;
        }
    }
    if (timeout_ms == 0) {
        rc = TR_EAGAIN;
        goto out_unlock;
    }

    /* Nothing ready: wait (park_on unlocks, and sends what fired). */
    rc = park_on(&s, cases, deadline, &fire);
    tr__free(heap);
    return rc;
out_unlock:
    unlock_all(&s);
    send_notes(fire);
    tr__free(heap);
    return rc;
}

int tr_select(tr_select_case *cases, size_t n, tr_duration_ms timeout_ms) {
    return do_select(cases, n, timeout_ms);
}

/* ---- send and receive ---------------------------------------------------------- */

/* A send or receive: a select of one case without a select's setup (no
 * poll order, one lock, no waiter array): done under the channel's lock
 * when it can be, else queued and parked under that same lock hold.
 * TR_EDEADLK does not depend on whether the channel happens to be ready. */
static int one_op(tr_chan *ch, int dir, void *elem, tr_duration_ms timeout_ms) {
    if (timeout_ms < 0 && timeout_ms != TR_INFINITY)
        return TR_EINVAL;
    if (timeout_ms != 0 && tr__park_refused())
        return TR_EDEADLK;
    int64_t deadline = tr__deadline_ms(timeout_ms);
    note *fire = NULL;
    int rc;
    tr__spin_lock(&ch->mu);
    if (dir == TR_CHAN_SEND ? send_locked(ch, elem, &rc, &fire)
                            : recv_locked(ch, elem, &rc, &fire)) {
        tr__spin_unlock(&ch->mu);
    } else if (timeout_ms == 0) {
        tr__spin_unlock(&ch->mu);
        rc = TR_EAGAIN;
    } else {
        tr_select_case c = {.chan = ch, .dir = dir, .elem = elem};
        waiter w;
        sel_state s = {.n = 1, .w = &w, .locks = &ch, .nlocks = 1};
        rc = park_on(&s, &c, deadline, &fire);
        if (rc == 0)
            rc = c.result;
    }
    send_notes(fire);
    return rc;
}

int tr_chan_send(tr_chan *ch, const void *elem, tr_duration_ms timeout_ms) {
    if (!ch || !elem)
        return TR_EINVAL;
    return one_op(ch, TR_CHAN_SEND, (void *)elem, timeout_ms);
}

int tr_chan_recv(tr_chan *ch, void *elem, tr_duration_ms timeout_ms) {
    if (!ch)
        return TR_EINVAL;
    return one_op(ch, TR_CHAN_RECV, elem, timeout_ms);
}

int tr_chan_try_send(tr_chan *ch, const void *elem) {
    return tr_chan_send(ch, elem, 0);
}

int tr_chan_try_recv(tr_chan *ch, void *elem) {
    return tr_chan_recv(ch, elem, 0);
}
