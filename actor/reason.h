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

/* A reason of a kind with no code and no text. From a table of constants:
 * building it in place (a 4-byte store of kind beside the zeroing's wide
 * stores, then wide loads to copy it out) stalls on store forwarding, and
 * every spawn and normal stop makes one. */
static inline tr_reason tr__reason_make(int kind) {
    static const tr_reason made[] = {
        {.kind = TR_EXIT_NORMAL}, {.kind = TR_EXIT_SHUTDOWN}, {.kind = TR_EXIT_KILL},
        {.kind = TR_EXIT_KILLED}, {.kind = TR_EXIT_NOPROC},   {.kind = TR_EXIT_ERROR},
    };
    if (kind >= 0 && (size_t)kind < sizeof made / sizeof made[0])
        return made[kind];
    tr_reason r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    return r;
}

#endif
