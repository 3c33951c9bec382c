/* troupe — intrusive MPSC mailbox. See mailbox.h for the protocol. */
#include "mailbox/mailbox.h"

#include <stddef.h>

#include "mailbox/atomic.h"

#define EMPTY_BIT ((uintptr_t)1)

void tr_mq_init(tr_mq *q, bool held) {
    q->stub.next = NULL;
    q->tail = &q->stub;
    q->head = (tr_mq_node *)((uintptr_t)&q->stub | (held ? 0 : EMPTY_BIT));
}

bool tr_mq_push_mpsc(tr_mq *q, tr_mq_node *n) {
    /* Relaxed is enough: the release store below publishes n->next. */
    n->next = NULL;
    /* Exchange (acq_rel): serializes producers; each gets the node before it. */
    uintptr_t prev = (uintptr_t)tr_atomic_fas_ptr((void **)&q->head, n);
    tr_mq_node *p = (tr_mq_node *)(prev & ~EMPTY_BIT);
    /* Release: the consumer that loads p->next with acquire sees n's payload. */
    tr_atomic_store_ptr((void **)&p->next, n);
    return (prev & EMPTY_BIT) != 0;
}

tr_mq_node *tr_mq_pop_spsc(tr_mq *q) {
    tr_mq_node *tail = q->tail;
    /* Acquire: pairs with the release in push; the node's contents are visible. */
    tr_mq_node *next = tr_atomic_load_ptr((void *const *)&tail->next);
    if (tail == &q->stub) {
        if (next == NULL)
            return NULL;
        q->tail = next;
        tail = next;
        next = tr_atomic_load_ptr((void *const *)&next->next);
    }
    if (next != NULL) {
        q->tail = next;
        return tail;
    }
    /* tail is the newest node we can see. If a producer already swapped head
     * past it, its link is not written yet: come back later. */
    tr_mq_node *head = tr_atomic_load_ptr((void *const *)&q->head);
    if (tail != head)
        return NULL;
    /* tail is the last node: put the stub behind it so tail can leave. */
    tr_mq_push_mpsc(q, &q->stub); /* empty bit is clear while we hold the token */
    next = tr_atomic_load_ptr((void *const *)&tail->next);
    if (next != NULL) {
        q->tail = next;
        return tail;
    }
    return NULL;
}

bool tr_mq_markempty_spsc(tr_mq *q) {
    tr_mq_node *stub = &q->stub;
    if (q->tail != stub || tr_atomic_load_ptr((void *const *)&stub->next) != NULL)
        return false;
    /* CAS (acq_rel): succeeds only if no producer swapped head since the stub
     * went in; a later push then sees the bit and schedules the actor. */
    return tr_atomic_cas_ptr((void **)&q->head, stub, (void *)((uintptr_t)stub | EMPTY_BIT));
}
