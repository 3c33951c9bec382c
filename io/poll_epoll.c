/* troupe — the poller on Linux: epoll, edge-triggered, with an eventfd for
 * wake-ups (poll.h).
 *
 * Every descriptor is registered once for EPOLLIN | EPOLLOUT | EPOLLRDHUP
 * with EPOLLET, as Go's netpoll registers its descriptors: no epoll_ctl per
 * read or write. The wait's timeout is the caller's deadline in
 * microseconds, given to epoll_pwait2 (Linux 5.11) as a timespec; where the
 * kernel lacks it (or a seccomp filter refuses it), epoll_wait gets the
 * timeout in milliseconds rounded up,
 * so the wait never ends before the deadline. Wake-ups write the eventfd,
 * which is registered edge-triggered too: every write is an edge, so the
 * counter is never read (it cannot overflow in practice: 2^64 writes).
 * A flag coalesces wake-ups until the waiter next returns.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <troupe/errors.h>

#include "base/alloc.h"
#include "base/atomic.h"
#include "base/clock.h"
#include "io/poll.h"

#define WAKE_KEY 0 /* the eventfd's key: callers' keys are never 0 */
#define BATCH 128

struct tr__poll {
    int epfd;
    int evfd;
    uint32_t wake_pending; /* atomic: the eventfd was written since the last return */
    bool no_pwait2;        /* the kernel lacks epoll_pwait2 */
    struct epoll_event evs[BATCH];
};

int tr__poll_open(tr__poll **out) {
    tr__poll *p = (tr__poll *)tr__calloc(sizeof *p);
    if (!p)
        return TR_ENOMEM;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->epfd < 0 || p->evfd < 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = WAKE_KEY};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &ev) != 0)
        goto fail;
    *out = p;
    return TR_OK;
fail:;
    int err = errno == ENOMEM ? TR_ENOMEM : TR_EFULL;
    if (p->epfd >= 0)
        close(p->epfd);
    if (p->evfd >= 0)
        close(p->evfd);
    tr__free(p);
    return err;
}

void tr__poll_close(tr__poll *p) {
    if (!p)
        return;
    close(p->epfd);
    close(p->evfd);
    tr__free(p);
}

int tr__poll_add(tr__poll *p, int fd, uint64_t key) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = key};
    return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

void tr__poll_del(tr__poll *p, int fd) {
    struct epoll_event ev = {0};
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, &ev);
}

int tr__poll_wait(tr__poll *p, tr__poll_event *out, int max, int64_t deadline_us) {
    if (max > BATCH)
        max = BATCH;
    int n;
    int64_t left = 0;
    if (deadline_us != TR__NEVER) {
        left = deadline_us - tr__now_us();
        if (left < 0)
            left = 0;
    }
    if (!p->no_pwait2) {
        struct timespec ts = {.tv_sec = left / 1000000, .tv_nsec = (left % 1000000) * 1000};
        n = epoll_pwait2(p->epfd, p->evs, max, deadline_us == TR__NEVER ? NULL : &ts, NULL);
        if (n < 0 && errno != EINTR) {
            /* ENOSYS (before Linux 5.11), or EPERM from a seccomp filter
             * that does not know it: epoll_wait from now on. */
            p->no_pwait2 = true;
            return 0; /* look again: the caller loops */
        }
    } else {
        int ms = -1;
        if (deadline_us != TR__NEVER) {
            int64_t m = (left + 999) / 1000;
            ms = m > 1000000 ? 1000000 : (int)m; /* a long wait ends early: callers loop */
        }
        n = epoll_wait(p->epfd, p->evs, max, ms);
    }
    tr__store_rel_u32(&p->wake_pending, 0);
    if (n <= 0)
        return 0; /* timed out, or EINTR: the caller looks again */
    int k = 0;
    for (int i = 0; i < n; i++) {
        uint64_t key = p->evs[i].data.u64;
        if (key == WAKE_KEY)
            continue;
        uint32_t e = p->evs[i].events, r = 0;
        if (e & EPOLLIN)
            r |= TR__POLL_IN;
        if (e & EPOLLOUT)
            r |= TR__POLL_OUT;
        if (e & (EPOLLHUP | EPOLLRDHUP))
            r |= TR__POLL_HUP;
        if (e & EPOLLERR)
            r |= TR__POLL_ERR;
        out[k++] = (tr__poll_event){key, r};
    }
    return k;
}

void tr__poll_wake(tr__poll *p) {
    if (tr__load_acq_u32(&p->wake_pending) || !tr__cas_acqrel_u32(&p->wake_pending, 0, 1))
        return;
    uint64_t one = 1;
    ssize_t r = write(p->evfd, &one, sizeof one);
    (void)r; /* EAGAIN: the counter is full, so a wake-up is pending anyway */
}
