/* troupe — messages (private).
 *
 * One allocation per message: the queue node first (intrusive, as Pony's
 * pony_msg_t), the public view, then the payload bytes inline — or, for an
 * ownership-transfer send, a pointer to the caller's buffer and its
 * destructor.
 */
#ifndef TROUPE_MAILBOX_MSG_H
#define TROUPE_MAILBOX_MSG_H

#include <troupe/actor.h>

#include "mailbox/alloc.h"
#include "mailbox/mailbox.h"

/* Internal message kinds beyond tr_msg_kind (never seen by callbacks). */
enum {
    TR__SYS_NONE = 0,
    TR__SYS_WAKE,        /* no-op: makes the actor run (signals were queued) */
    TR__SYS_REQ_TIMEOUT, /* a tr_request's timeout fired; ref = request id */
    TR__SYS_SIG_EXIT,    /* exit signal (in the signal list, not the mailbox) */
    TR__SYS_SIG_SHUTDOWN /* runtime shutdown: stop with shutdown, run terminate */
};

typedef struct tr__msg {
    tr_mq_node node;
    tr_msg pub;
    uint8_t sys;         /* TR__SYS_* */
    uint8_t via_link;    /* SIG_EXIT: sent because a linked actor exited */
    uint32_t alloc_size; /* bytes allocated, for the sized free */
    void (*dtor)(void *);
    void *owned; /* ownership-transfer payload, released with dtor */
    /* inline payload follows, 16-byte aligned */
    _Alignas(16) unsigned char bytes[];
} tr__msg;

/* tr__msg_new: a message with room for size inline bytes, copied from data
 * when data is not NULL. NULL on allocation failure. */
static inline tr__msg *tr__msg_new(uint32_t kind, uint32_t tag, const void *data, size_t size) {
    if (size > UINT32_MAX - sizeof(tr__msg))
        return NULL; /* larger than a message may be (callers report TR_ENOMEM) */
    tr__msg *m = (tr__msg *)tr__malloc(sizeof(tr__msg) + size);
    if (!m)
        return NULL;
    m->alloc_size = (uint32_t)(sizeof(tr__msg) + size);
    m->pub.kind = kind;
    m->pub.tag = tag;
    m->pub.sender = TR_PID_NONE;
    m->pub.ref = 0;
    m->pub.status = 0;
    m->pub.size = size;
    m->pub.data = size ? m->bytes : NULL;
    if (size && data)
        memcpy(m->bytes, data, size);
    m->sys = TR__SYS_NONE;
    m->via_link = 0;
    m->dtor = NULL;
    m->owned = NULL;
    return m;
}

/* tr__msg_release: frees the message block only (no destructor). */
static inline void tr__msg_release(tr__msg *m) {
    tr__free_sized(m, m->alloc_size);
}

/* tr__msg_free: runs the owned payload's destructor, then frees. */
static inline void tr__msg_free(tr__msg *m) {
    if (m->dtor)
        m->dtor(m->owned);
    tr__msg_release(m);
}

#endif
