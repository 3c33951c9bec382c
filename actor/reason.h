/* troupe — exit reasons (private to actor/). */
#ifndef TROUPE_ACTOR_REASON_H
#define TROUPE_ACTOR_REASON_H

#include <string.h>

#include <troupe/actor.h>

/* Reason texts are NUL-terminated on receipt (tr_exit, tr_stop, tr_fail):
 * what the runtime passes on can be read as a string. */
static inline tr_reason tr__reason_sealed(tr_reason r) {
    r.text[sizeof r.text - 1] = '\0';
    return r;
}

static inline tr_reason tr__reason_make(int kind) {
    tr_reason r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    return r;
}

#endif
