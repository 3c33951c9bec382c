/* troupe — intrusive MPSC mailbox (private).
 *
 * Many producers push, one consumer (the thread that holds the actor's run
 * token) pops. The queue is intrusive: every message starts with a
 * tr_mq_node, so a push allocates nothing. A stub node lives in the queue
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
 * tr_mq_prod (head, and a count of pushes) and tr_mq_cons (tail, stub, and
 * a count of pops). Depth = pushed - popped.
 */
#ifndef TROUPE_MAILBOX_MAILBOX_H
#define TROUPE_MAILBOX_MAILBOX_H

#include <stdbool.h>
#include <stdint.h>

typedef struct tr_mq_node {
    struct tr_mq_node *next;
} tr_mq_node;

typedef struct tr_mq_prod {
    tr_mq_node *head; /* producers' end; low bit = empty */
    uint32_t pushed;  /* messages pushed (atomic add by producers) */
} tr_mq_prod;

typedef struct tr_mq_cons {
    tr_mq_node *tail; /* consumer's end; only the token holder touches it */
    tr_mq_node stub;
    uint32_t popped; /* messages popped (token holder writes; others read) */
} tr_mq_cons;

/* tr_mq_init: an empty queue. With `held`, the empty bit starts clear: the
 * initializer holds the token (pushes will not report was_empty) until it
 * calls tr_mq_markempty_spsc or hands the actor to a run queue. */
void tr_mq_init(tr_mq_prod *p, tr_mq_cons *c, bool held);

/* tr_mq_depth: messages waiting (approximate while producers race). Any
 * thread. */
uint32_t tr_mq_depth(const tr_mq_prod *p, const tr_mq_cons *c);

/* tr_mq_push_mpsc: appends n (any thread). Returns true when the queue was
 * marked empty before: the caller now owns the token and must schedule. */
bool tr_mq_push_mpsc(tr_mq_prod *p, tr_mq_node *n);

/* tr_mq_push_chain_mpsc: appends first..last (n nodes already linked in
 * order through next) with one exchange (any thread). Returns was_empty as
 * tr_mq_push_mpsc. */
bool tr_mq_push_chain_mpsc(tr_mq_prod *p, tr_mq_node *first, tr_mq_node *last, uint32_t n);

/* tr_mq_pop_spsc: takes the oldest node, or NULL when there is none yet (or a
 * push is half-done). Token holder only. */
tr_mq_node *tr_mq_pop_spsc(tr_mq_prod *p, tr_mq_cons *c);

/* tr_mq_markempty_spsc: gives the token back if the queue is empty; returns
 * false (token kept: pop again) when a message arrived meanwhile. Token
 * holder only. */
bool tr_mq_markempty_spsc(tr_mq_prod *p, tr_mq_cons *c);

/* tr_mq_idle: the queue is marked empty: its consumer gave the token back
 * and waits for a push, which will schedule it. A hint, any thread (a push
 * or a consumer may change it at once). */
static inline bool tr_mq_idle(const tr_mq_prod *p) {
    return ((uintptr_t)__atomic_load_n(&p->head, __ATOMIC_RELAXED) & 1) != 0;
}

#endif
