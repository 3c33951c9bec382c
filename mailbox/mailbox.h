/* troupe — intrusive MPSC mailbox (private).
 *
 * Many producers push, one consumer (the thread that holds the actor's run
 * token) pops. The queue is intrusive: every message starts with a
 * tr__mq_node, so a push allocates nothing. A stub node lives in the queue
 * and is re-inserted by the consumer when it takes the last message, so a
 * popped message is fully detached and can be freed at once.
 *
 * The low bit of `head` is the "empty" bit. The consumer sets it (with a
 * CAS) only when the queue is really empty; the push that clears it learns
 * that it made the mailbox non-empty (`was_empty`) and must schedule the
 * actor. That hand-off is the whole scheduling protocol: an actor is in at
 * most one run queue, and runs on at most one thread, because only the
 * pusher that saw `was_empty` schedules it and only the consumer that set the
 * empty bit gives the token back.
 *
 * The queue is split in two parts that the owner places on different cache
 * lines, so that producers and the consumer do not write the same line:
 * tr__mq_prod (head, a count of pushes, the bound) and tr__mq_cons (tail, stub, and
 * a count of pops). Depth = pushed - popped.
 */
#ifndef TROUPE_MAILBOX_MAILBOX_H
#define TROUPE_MAILBOX_MAILBOX_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tr__mq_node {
    struct tr__mq_node *next;
} tr__mq_node;

typedef struct tr__mq_prod {
    tr__mq_node *head; /* producers' end; low bit = empty */
    uint32_t pushed;   /* messages pushed (atomic add by producers) */
    /* The owner's bound on the depth, 0 = none: set before the queue is
     * shared, read by producers, which check it before they push (the
     * queue's functions neither set nor enforce it). Here it fills what
     * would be padding. */
    uint32_t limit;
} tr__mq_prod;

typedef struct tr__mq_cons {
    tr__mq_node *tail; /* consumer's end; only the token holder touches it */
    tr__mq_node stub;
    uint32_t popped; /* messages popped (token holder writes; others read) */
} tr__mq_cons;

/* tr__mq_init: an empty queue. With `held`, the empty bit starts clear: the
 * initializer holds the token (pushes will not report was_empty) until it
 * calls tr__mq_markempty_mpsc or hands the actor to a run queue. */
void tr__mq_init(tr__mq_prod *p, tr__mq_cons *c, bool held);

/* tr__mq_depth: messages waiting (approximate while producers race). Any
 * thread. */
uint32_t tr__mq_depth(const tr__mq_prod *p, const tr__mq_cons *c);

/* tr__mq_push_mpsc: appends n (any thread). Returns true when the queue was
 * marked empty before: the caller now owns the token and must schedule. */
bool tr__mq_push_mpsc(tr__mq_prod *p, tr__mq_node *n);

/* tr__mq_push_chain_mpsc: appends first..last (n nodes already linked in
 * order through next) with one exchange (any thread). Returns was_empty as
 * tr__mq_push_mpsc. */
bool tr__mq_push_chain_mpsc(tr__mq_prod *p, tr__mq_node *first, tr__mq_node *last, uint32_t n);

/* tr__mq_pop_mpsc: takes the oldest node, or NULL when there is none yet (or a
 * push is half-done). Token holder only. */
tr__mq_node *tr__mq_pop_mpsc(tr__mq_prod *p, tr__mq_cons *c);

/* tr__mq_markempty_mpsc: gives the token back if the queue is empty; returns
 * false (token kept: pop again) when a message arrived meanwhile. Token
 * holder only. */
bool tr__mq_markempty_mpsc(tr__mq_prod *p, tr__mq_cons *c);

/* tr__mq_take_idle: takes the token of an idle queue (marked empty, no
 * message) without pushing anything: true when taken (the caller must
 * schedule the actor, whose turn finds no message and gives the token
 * back as usual). Any thread. */
bool tr__mq_take_idle(tr__mq_prod *p, tr__mq_cons *c);

/* tr__mq_idle: the queue is marked empty: its consumer gave the token back
 * and waits for a push, which will schedule it. A hint, any thread (a push
 * or a consumer may change it at once). */
static inline bool tr__mq_idle(const tr__mq_prod *p) {
    return ((uintptr_t)__atomic_load_n(&p->head, __ATOMIC_RELAXED) & 1) != 0;
}

#endif
