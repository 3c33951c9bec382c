/* troupe — intrusive MPSC mailbox. See mailbox.h for the protocol. */
#include "mailbox/mailbox.h"

#include <stddef.h>

#include "base/atomic.h"

#define EMPTY_BIT ((uintptr_t)1)

void tr__mq_init(tr__mq_prod *p, tr__mq_cons *c, bool held) {
    c->stub.next = NULL;
    c->tail = &c->stub;
    c->popped = 0;
    p->pushed = 0;
    p->head = (tr__mq_node *)((uintptr_t)&c->stub | (held ? 0 : EMPTY_BIT));
}

uint32_t tr__mq_depth(const tr__mq_prod *p, const tr__mq_cons *c) {
    /* popped first: a pop counted here was pushed before (no underflow) */
    uint32_t popped = tr__load_acq_u32(&c->popped);
    return tr__load_acq_u32(&p->pushed) - popped;
}

static inline bool push_chain(tr__mq_prod *q, tr__mq_node *first, tr__mq_node *last) {
    /* Relaxed is enough: the exchange below publishes the chain's links. */
    last->next = NULL;
    /* Exchange (acq_rel): serializes producers; each gets the node before it.
     * Its release half publishes last->next = NULL before last is the head.
     * Its acquire half pairs with the release of the consumer's markempty
     * CAS: a producer that finds the empty bit (and so becomes the one that
     * schedules the actor) sees everything the previous consumer wrote,
     * c->tail included, and passes it on through the schedule to the next
     * consumer. */
    uintptr_t prev = (uintptr_t)tr__xchg_acqrel_ptr((void **)&q->head, last);
    tr__mq_node *p = (tr__mq_node *)(prev & ~EMPTY_BIT);
    /* Release: the consumer that loads p->next with acquire sees the chain's
     * payloads. */
    tr__store_rel_ptr((void **)&p->next, first);
    return (prev & EMPTY_BIT) != 0;
}

static inline bool push(tr__mq_prod *q, tr__mq_node *n) {
    return push_chain(q, n, n);
}

bool tr__mq_push_chain_mpsc(tr__mq_prod *q, tr__mq_node *first, tr__mq_node *last, uint32_t n) {
    /* All n counted before any is visible, as in tr__mq_push_mpsc. */
    tr__faa_acqrel_u32(&q->pushed, n);
    return push_chain(q, first, last);
}

bool tr__mq_push_mpsc(tr__mq_prod *q, tr__mq_node *n) {
    /* Counted before it is visible, so depth never goes below zero. */
    tr__faa_acqrel_u32(&q->pushed, 1);
    return push(q, n);
}

tr__mq_node *tr__mq_pop_mpsc(tr__mq_prod *q, tr__mq_cons *c) {
    tr__mq_node *tail = c->tail;
    /* Acquire: pairs with the release in push; the node's contents are visible. */
    tr__mq_node *next = tr__load_acq_ptr((void *const *)&tail->next);
    if (tail == &c->stub) {
        if (next == NULL)
            return NULL;
        c->tail = next;
        tail = next;
        next = tr__load_acq_ptr((void *const *)&next->next);
    }
    if (next != NULL) {
        c->tail = next;
        goto got;
    }
    /* tail is the newest node we can see. If a producer already swapped head
     * past it, its link is not written yet: come back later. */
    /* Acquire: pairs with the exchange's release in push_chain, so that a
     * head equal to tail means no producer is between its exchange and its
     * link (one that is would have moved head). */
    tr__mq_node *head = tr__load_acq_ptr((void *const *)&q->head);
    if (tail != head)
        return NULL;
    /* tail is the last node: put the stub behind it so tail can leave (not
     * a message: not counted). The empty bit is clear while we hold the
     * token, so this push cannot report was_empty. */
    push(q, &c->stub);
    next = tr__load_acq_ptr((void *const *)&tail->next);
    if (next == NULL)
        return NULL;
    c->tail = next;
got:
    /* The next message's block was written on another core: fetch it while
     * this one is handled. */
    __builtin_prefetch(c->tail);
    __builtin_prefetch((char *)c->tail + 64); /* a message's header and payload span two lines */
    /* Store with release so other threads reading the depth see it; only
     * this thread writes it. */
    tr__store_rel_u32(&c->popped, c->popped + 1);
    return tail;
}

bool tr__mq_take_idle(tr__mq_prod *q, tr__mq_cons *c) {
    /* Idle is exactly head == stub | EMPTY_BIT (markempty's CAS); clearing
     * the bit is what the push that finds it does, without the node. The
     * acquire half pairs with markempty's release, as a push's. */
    void *idle = (void *)((uintptr_t)&c->stub | EMPTY_BIT);
    return tr__load_acq_ptr((void *const *)&q->head) == idle &&
           tr__cas_acqrel_ptr((void **)&q->head, idle, &c->stub);
}

bool tr__mq_markempty_mpsc(tr__mq_prod *q, tr__mq_cons *c) {
    tr__mq_node *stub = &c->stub;
    if (c->tail != stub || tr__load_acq_ptr((void *const *)&stub->next) != NULL)
        return false;
    /* CAS (acq_rel): succeeds only if no producer swapped head since the stub
     * went in; a later push then sees the bit and schedules the actor. Its
     * release half hands this consumer's writes (c->tail, the state the
     * callbacks changed) to that producer's acquiring exchange, and through
     * it to whichever thread runs the actor next. */
    return tr__cas_acqrel_ptr((void **)&q->head, stub, (void *)((uintptr_t)stub | EMPTY_BIT));
}
