/* troupe — the poller: readiness of file descriptors and a timed wait, in
 * one small interface (private). io/poll_epoll.c implements it on Linux
 * (epoll, edge-triggered, an eventfd for wake-ups); another platform brings
 * its own file (kqueue, event ports) behind the same calls, as libuv's
 * uv__io_poll and Go's netpoll_*.go do.
 *
 * One thread at a time waits (the runtime's I/O poller: whichever thread
 * holds its io_owner, see actor/sched.c; the timer thread's own poller:
 * that thread); any thread registers descriptors and wakes the waiter.
 * Registration is edge-triggered and for both directions at once: the
 * waiter learns that a descriptor became readable or writable, and whoever
 * does the I/O reads or writes until EAGAIN before waiting for the next
 * edge.
 */
#ifndef TROUPE_IO_POLL_H
#define TROUPE_IO_POLL_H

#include <stdint.h>

typedef struct tr__poll tr__poll;

/* Readiness bits of an event. */
enum {
    TR__POLL_IN = 1,  /* readable (or a listener has a connection) */
    TR__POLL_OUT = 2, /* writable (or a connect finished) */
    TR__POLL_HUP = 4, /* the peer closed its side, or the connection reset */
    TR__POLL_ERR = 8, /* an error is pending (SO_ERROR) */
};

typedef struct tr__poll_event {
    uint64_t key;    /* what tr__poll_add got; never 0 */
    uint32_t events; /* TR__POLL_* */
} tr__poll_event;

/* tr__poll_open: a poller; 0, TR_ENOMEM, or TR_EFULL (no descriptors). */
int tr__poll_open(tr__poll **out);
/* tr__poll_close: frees it (the descriptors registered stay open: their
 * owners close them). NULL: nothing. */
void tr__poll_close(tr__poll *p);
/* tr__poll_add: watches fd for both directions, edge-triggered, reporting
 * key (non-zero). 0 or a negative errno. Any thread. */
int tr__poll_add(tr__poll *p, int fd, uint64_t key);
/* tr__poll_del: stops watching fd (closing fd also does). Any thread. */
void tr__poll_del(tr__poll *p, int fd);
/* tr__poll_wait: waits until an event, a tr__poll_wake, or the absolute
 * deadline (microseconds of tr__now_us; INT64_MAX: none; a past one: do
 * not wait) passes, never returning before the deadline unless woken or
 * an event came. Fills at most max events; returns how many (0: timed
 * out or woken). One thread at a time (see above). */
int tr__poll_wait(tr__poll *p, tr__poll_event *ev, int max, int64_t deadline_us);
/* tr__poll_wake: makes the current or next tr__poll_wait return.
 * Any thread; async-signal-safe. */
void tr__poll_wake(tr__poll *p);

#endif
