/* troupe — the monotonic clock and the condition-variable helper. */
#include <pthread.h>
#include <time.h>

#include <troupe/actor.h>

#include "base/clock.h"

int64_t tr__now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t tr__now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t tr__now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tr_now_ms(void) {
    return tr__now_ms();
}

int tr__cond_init_monotonic(pthread_cond_t *cv) {
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return TR_ENOMEM;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
    return rc == 0 ? 0 : TR_ENOMEM;
}
