/* troupe — messages (private).
 *
 * One allocation per message: the queue node first (intrusive, as Pony's
 * pony_msg_t), the public view, then the payload bytes inline — or, for an
 * ownership-transfer send, a pointer to the caller's buffer and its
 * destructor. Blocks come from the sending scheduler thread's cache
 * (mcache.h) or, on other threads, from jemalloc.
 */
#ifndef TROUPE_MAILBOX_MSG_H
#define TROUPE_MAILBOX_MSG_H

#include <troupe/actor.h>

#include "base/alloc.h"
#include "mailbox/mailbox.h"
#include "mailbox/mcache.h"

/* Internal message kinds beyond tr_msg_kind (never seen by callbacks). */
enum {
    TR__SYS_NONE = 0,
    TR__SYS_WAKE,          /* no-op: makes the actor run (signals were queued) */
    TR__SYS_REQ_TIMEOUT,   /* a tr_request's timeout fired; ref = request id */
    TR__SYS_SIG_EXIT,      /* exit signal (in the signal list, not the mailbox) */
    TR__SYS_SIG_SHUTDOWN,  /* runtime shutdown: stop with shutdown, run terminate */
    TR__SYS_FWD,           /* a message handed on by tr_forward: whoever forwarded it
                              answers for it if the receiver fails (no bounce) */
    TR__SYS_FIBER_TIMEOUT, /* a fiber's receive/sleep/park timeout; ref = its timer's ref */
    TR__SYS_CONTINUE,      /* a continuation (tr_continue), for handle_continue */
    TR__SYS_STOP,          /* tr_stop_server: stop with the reason in bytes, run terminate */
    TR__SYS_IDLE           /* the idle timeout (tr_idle_timeout) fired; ref = its number */
};

typedef struct tr__msg {
    tr__mq_node node;
    tr_msg pub;
    uint8_t sys;         /* TR__SYS_* */
    uint8_t via_link;    /* SIG_EXIT: sent because a linked actor exited */
    uint8_t cls;         /* size class in `owner`'s cache, or TR__MC_NONE */
    uint8_t owned;       /* ownership transfer: bytes hold a tr__owned */
    uint32_t alloc_size; /* bytes allocated, for the sized free */
    tr__mcache *owner;   /* the cache the block returns to (NULL: jemalloc) */
    /* inline payload follows, 16-byte aligned */
    _Alignas(16) unsigned char bytes[];
} tr__msg;

/* The inline bytes of an ownership-transfer message: the caller's buffer
 * (also pub.data) and its destructor. */
typedef struct tr__owned {
    void *data;
    void (*dtor)(void *);
} tr__owned;

/* The largest payload a message can carry (its block size is a uint32_t):
 * 4 GiB less the header. Larger sends fail with TR_ENOMEM at the call. */
#define TR__MSG_MAX_PAYLOAD ((size_t)UINT32_MAX - sizeof(tr__msg))

/* tr__msg_new: a message with room for size inline bytes, copied from data
 * when data is not NULL. mc is the calling scheduler thread's block cache
 * when the message goes to an actor of that thread's runtime, else NULL.
 * NULL on allocation failure. */
static inline tr__msg *tr__msg_new(tr__mcache *mc, uint32_t kind, uint32_t tag, const void *data,
                                   size_t size) {
    if (size > TR__MSG_MAX_PAYLOAD)
        return NULL; /* larger than a message may be (callers report TR_ENOMEM) */
    size_t total = sizeof(tr__msg) + size;
    unsigned k = TR__MC_NONE;
    tr__msg *m;
#ifndef TR__MC_OFF
    if (mc && (k = tr__mc_class(total)) != TR__MC_NONE) {
        m = (tr__msg *)tr__mc_alloc(mc, k);
        total = tr__mc_class_size(k);
    } else
#endif
    {
        k = TR__MC_NONE;
        mc = NULL;
        m = (tr__msg *)tr__malloc(total);
    }
    if (!m)
        return NULL;
    m->alloc_size = (uint32_t)total;
    m->owner = mc;
    m->cls = (uint8_t)k;
    m->pub.kind = kind;
    m->pub.tag = tag;
    m->pub.sender = TR_PID_NONE;
    m->pub.ref = 0;
    m->pub.status = 0;
    m->pub.code = 0;
    m->pub.size = size;
    m->pub.data = size ? m->bytes : NULL;
    if (size && data)
        memcpy(m->bytes, data, size);
    m->sys = TR__SYS_NONE;
    m->via_link = 0;
    m->owned = 0;
    return m;
}

/* tr__msg_release: frees the message block only (no destructor). Any
 * thread. */
static inline void tr__msg_release(tr__msg *m) {
    if (m->owner)
        tr__mc_free(m->owner, m->cls, m);
    else
        tr__free_sized(m, m->alloc_size);
}

/* tr__msg_free: runs the owned payload's destructor, then frees. */
static inline void tr__msg_free(tr__msg *m) {
    if (m->owned) {
        tr__owned o;
        memcpy(&o, m->bytes, sizeof o);
        if (o.dtor)
            o.dtor(o.data);
    }
    tr__msg_release(m);
}

#endif
