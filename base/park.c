/* troupe — parking (park.h). */
#include <troupe/errors.h>

#include "base/atomic.h"
#include "base/clock.h"
#include "base/park.h"

static __thread tr__parker thread_parker;
static __thread bool thread_parker_ready;
__thread tr__parker *tr__tls_fiber_parker;

tr__parker *tr__parker_self(void) {
    if (tr__tls_fiber_parker)
        return tr__tls_fiber_parker;
    tr__parker *p = &thread_parker;
    if (!thread_parker_ready) {
        pthread_mutex_init(&p->mu, NULL);
        tr__cond_init_monotonic(&p->cv);
        thread_parker_ready = true;
    }
    return p;
}

void tr__parker_init_ops(tr__parker *p, const tr__parker_ops *ops) {
    p->permit = 0;
    p->ops = ops;
    p->cancel = NULL;
    p->cancel_arg = NULL;
}

bool tr__parker_try(tr__parker *p) {
    return tr__load_acq_u32(&p->permit) && tr__cas_acqrel_u32(&p->permit, 1, 0);
}

int tr__parker_wait(tr__parker *p, int64_t deadline) {
    if (tr__parker_try(p))
        return 0;
    if (p->ops) {
        for (;;) {
            int rc = p->ops->block(p, deadline);
            if (tr__parker_try(p))
                return 0; /* a wake that raced the time-out still counts */
            if (rc)
                return rc;
        }
    }
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    while (!tr__parker_try(p)) {
        tr_duration_ms left = tr__remaining_ms(deadline);
        struct timespec ts;
        if (left == 0) {
            rc = TR_ETIMEDOUT;
            break;
        }
        p->sleeping = true;
        if (left == TR_INFINITY || !tr__abstime_after(&ts, left))
            pthread_cond_wait(&p->cv, &p->mu);
        else
            pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        p->sleeping = false;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void tr__parker_wake(tr__parker *p) {
    if (p->ops) {
        if (tr__load_acq_u32(&p->permit) == 0 && tr__cas_acqrel_u32(&p->permit, 0, 1))
            p->ops->unblock(p);
        return;
    }
    pthread_mutex_lock(&p->mu);
    tr__store_rel_u32(&p->permit, 1);
    if (p->sleeping)
        pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}
