/* troupe — an intrusive singly linked FIFO (private).
 *
 * One shape for every head/tail list in the runtime (the injection queue,
 * an actor's signal list, the supervisor's and the pools' queued requests):
 *
 *     TR__FIFO(struct job) pending;          // a struct { head, tail }
 *     TR__FIFO_PUSH(&pending, j, next);      // j->next is the link field
 *     struct job *j = TR__FIFO_POP(&pending, next);   // NULL when empty
 *
 * A zeroed FIFO is empty, so it lives in calloc'd actor state with no
 * initialisation (this is why it is not ck's CK_STAILQ, whose empty head
 * points at itself and must be initialised, and whose ck_pr stores are
 * inline assembly ThreadSanitizer cannot see). Not thread-safe: the owner
 * (or a lock) serialises every use.
 */
#ifndef TROUPE_BASE_FIFO_H
#define TROUPE_BASE_FIFO_H

#include <stddef.h>

#define TR__FIFO(type)                                                                             \
    struct {                                                                                       \
        type *head, *tail;                                                                         \
    }

#define TR__FIFO_EMPTY(q) ((q)->head == NULL)

/* Appends e (its link field `next` is overwritten). */
#define TR__FIFO_PUSH(q, e, next)                                                                  \
    do {                                                                                           \
        (e)->next = NULL;                                                                          \
        if ((q)->tail)                                                                             \
            (q)->tail->next = (e);                                                                 \
        else                                                                                       \
            (q)->head = (e);                                                                       \
        (q)->tail = (e);                                                                           \
    } while (0)

/* Removes and returns the first element, or NULL. */
#define TR__FIFO_POP(q, next)                                                                      \
    __extension__({                                                                                \
        __typeof__((q)->head) tr__fe = (q)->head;                                                  \
        if (tr__fe) {                                                                              \
            (q)->head = tr__fe->next;                                                              \
            if (!(q)->head)                                                                        \
                (q)->tail = NULL;                                                                  \
        }                                                                                          \
        tr__fe;                                                                                    \
    })

/* Takes the whole list: returns its first element (the rest follow through
 * `next`, the last has NULL) and leaves q empty. */
#define TR__FIFO_TAKE(q)                                                                           \
    __extension__({                                                                                \
        __typeof__((q)->head) tr__fe = (q)->head;                                                  \
        (q)->head = (q)->tail = NULL;                                                              \
        tr__fe;                                                                                    \
    })

#endif
