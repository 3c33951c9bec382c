/* troupe — the pool's workers (supervisor/pool_worker.h): the wrapper
 * behaviour that runs inside each worker actor around the user's
 * behaviour, and the block of memory it shares with the pool.
 *
 * A call to the pool reaches a worker in one of two ways: forwarded as it
 * came (the wrapper sees a forwarded call in handle_call), or as a cast
 * from the pool carrying a tr__pool_job_hdr with the caller's tr_from (a
 * job queued while no worker was alive, or one that could not be
 * forwarded). Either way the wrapper calls the user's handle_call with the
 * caller's from, so the user's tr_reply reaches the caller directly, and
 * then counts the job in its slot's counter for the pool.
 */
#include <string.h>

#include <troupe/pool.h>

#include "actor/internal.h"
#include "base/alloc.h"
#include "base/atomic.h"
#include "supervisor/pool_worker.h"

/* ------------------------------------------------------------------------ */
/* Memory shared with the pool                                               */
/* ------------------------------------------------------------------------ */

static void sh_free(tr__pool_shared *sh) {
    tr__pool_ctr *c = sh->ctrs;
    while (c) {
        tr__pool_ctr *n = c->next;
        tr__free(c);
        c = n;
    }
    tr__free(sh->user_arg_copy);
    tr__free(sh);
}

static void sh_release(tr__pool_shared *sh) {
    if (tr__faa_acqrel_u32(&sh->refs, (uint32_t)-1) == 1)
        sh_free(sh);
}

void tr__pool_shared_retain(void *sh) {
    tr__faa_acqrel_u32(&((tr__pool_shared *)sh)->refs, 1);
}

void tr__pool_shared_release(void *sh) {
    sh_release(sh);
}

/* ------------------------------------------------------------------------ */
/* Worker wrapper                                                            */
/* ------------------------------------------------------------------------ */

typedef struct worker_hdr {
    tr__pool_shared *sh;
    tr__pool_ctr *ctr;
    tr_pid pool;
    unsigned index;
    bool user_traps;     /* the user's behaviour traps exits itself */
    bool untrapped_exit; /* stopping on an exit signal the user does not trap */
    bool has_ref;        /* holds a reference on sh (dropped in w_cleanup) */
} worker_hdr;

#define WORKER_HDR_SIZE ((sizeof(worker_hdr) + 15) & ~(size_t)15)

static void *user_state(worker_hdr *h) {
    return h->sh->user->state_size ? (char *)h + WORKER_HDR_SIZE : NULL;
}

static int w_init(tr_self *self, void *state, const void *arg) {
    worker_hdr *h = state;
    const tr__pool_worker_arg *a = arg;
    h->sh = a->sh;
    h->ctr = a->ctr;
    h->pool = a->pool;
    h->index = a->index;
    const tr_behaviour *u = h->sh->user;
    if (u->init) {
        int rc = u->init(self, user_state(h), h->sh->user_arg);
        if (rc != TR_CONTINUE)
            return rc;
    }
    /* The wrapper always traps exits so that its terminate (which drops
     * the reference below) runs when the supervisor stops it; for a user
     * behaviour that does not trap, exit signals keep their meaning
     * (w_handle_info stops without the user's terminate, as the core). */
    h->user_traps = tr_trap_exit(self, true);
    tr__faa_acqrel_u32(&h->sh->refs, 1);
    h->has_ref = true;
    tr__pool_reg reg = {a->serial, tr_self_pid(self)};
    tr_cast(tr_self_runtime(self), h->pool, TR__POOL_TAG_REGISTER, &reg, sizeof(reg));
    return TR_CONTINUE;
}

static int user_call(tr_self *self, worker_hdr *h, const tr_msg *msg, tr_from from) {
    const tr_behaviour *u = h->sh->user;
    if (!u->handle_call)
        tr_fail(self, tr_reason_error(TR_EINVAL, "unexpected call"));
    return u->handle_call(self, user_state(h), msg, from);
}

static int user_cast(tr_self *self, worker_hdr *h, const tr_msg *msg) {
    const tr_behaviour *u = h->sh->user;
    if (!u->handle_cast)
        tr_fail(self, tr_reason_error(TR_EINVAL, "unexpected cast"));
    return u->handle_cast(self, user_state(h), msg);
}

/* Counts a finished job for the pool. One writer (the slot's live worker):
 * a release store, no locked add; the pool reading the counter sees the
 * job's effects. Not once the worker was killed during the job: its DOWN
 * (sent at the kill) has told the pool the job failed, and its reply was
 * dropped (tr__self_store_if_alive orders the count against the kill). */
static void job_done(tr_self *self, worker_hdr *h) {
    tr__self_store_if_alive(self, &h->ctr->done, tr__load_rlx_u64(&h->ctr->done) + 1);
}

static int w_handle_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    if (!tr_msg_forwarded(msg))
        return user_call(self, state, msg, from); /* called directly */
    /* A job the pool handed on as it came (tr_forward). */
    worker_hdr *h = state;
    int rc = user_call(self, h, msg, from);
    job_done(self, h);
    return rc;
}

static int w_handle_cast(tr_self *self, void *state, const tr_msg *msg) {
    worker_hdr *h = state;
    bool from_pool = tr_pid_eq(msg->sender, h->pool);
    if (from_pool && (msg->tag == TR__POOL_TAG_JOB_CALL || msg->tag == TR__POOL_TAG_JOB_CAST) &&
        msg->size >= sizeof(tr__pool_job_hdr)) {
        tr__pool_job_hdr jh;
        memcpy(&jh, msg->data, sizeof(jh));
        tr_msg m = {0};
        m.tag = jh.tag;
        m.sender = jh.sender;
        m.size = msg->size - sizeof(jh);
        m.data = m.size ? (const char *)msg->data + sizeof(jh) : NULL;
        int rc;
        if (msg->tag == TR__POOL_TAG_JOB_CALL) {
            m.kind = TR_MSG_CALL;
            m.ref = jh.from.ref;
            rc = user_call(self, h, &m, jh.from);
        } else {
            m.kind = TR_MSG_CAST;
            rc = user_cast(self, h, &m);
        }
        job_done(self, h);
        return rc;
    }
    if (from_pool && msg->tag == TR__POOL_TAG_DRAIN)
        return tr_stop(self, tr_reason_normal());
    return user_cast(self, h, msg);
}

static int w_handle_info(tr_self *self, void *state, const tr_msg *msg) {
    worker_hdr *h = state;
    const tr_behaviour *u = h->sh->user;
    if (msg->kind == TR_MSG_EXIT && !h->user_traps) {
        const tr_reason *r = tr_msg_reason(msg);
        if (!r || r->kind == TR_EXIT_NORMAL)
            return TR_CONTINUE; /* a non-trapping actor ignores normal */
        h->untrapped_exit = true;
        return tr_stop(self, *r);
    }
    if (!u->handle_info)
        return TR_CONTINUE;
    return u->handle_info(self, user_state(h), msg);
}

static void w_terminate(tr_self *self, void *state, tr_reason reason) {
    worker_hdr *h = state;
    tr__pool_shared *sh = h->sh;
    if (sh->user->terminate && !h->untrapped_exit)
        sh->user->terminate(self, user_state(h), reason);
}

/* Every exit of a worker, kill included: the user's cleanup, then the
 * worker's reference on the shared block. */
static void w_cleanup(void *state) {
    worker_hdr *h = state;
    tr__pool_shared *sh = h->sh;
    if (!sh)
        return; /* spawn failed before init */
    if (sh->user->cleanup)
        sh->user->cleanup(user_state(h));
    if (h->has_ref)
        sh_release(sh);
}

int tr_pool_worker_index(const tr_self *self) {
    if (!self)
        return TR_EINVAL;
    const tr_behaviour *b = tr__self_behaviour(self);
    if (!b || b->init != w_init)
        return TR_EINVAL;
    const worker_hdr *h = tr__self_state(self);
    return h ? (int)h->index : TR_EINVAL;
}

/* ------------------------------------------------------------------------ */
/* The shared block                                                          */
/* ------------------------------------------------------------------------ */

bool tr__pool_worker_state_fits(size_t user_state_size) {
    return user_state_size <= TR__SIZE_MAX - WORKER_HDR_SIZE;
}

tr__pool_shared *tr__pool_shared_new(const tr_behaviour *user, const void *arg, size_t arg_size) {
    tr__pool_shared *sh = tr__calloc(sizeof(*sh));
    if (!sh)
        return NULL;
    sh->refs = 1;
    sh->user = user;
    sh->user_arg = arg;
    if (arg_size > 0) {
        sh->user_arg_copy = tr__malloc(arg_size);
        if (!sh->user_arg_copy) {
            tr__free(sh);
            return NULL;
        }
        memcpy(sh->user_arg_copy, arg, arg_size);
        sh->user_arg = sh->user_arg_copy;
    }
    sh->wb = (tr_behaviour){
        .name = user->name ? user->name : "pool_worker",
        .state_size = WORKER_HDR_SIZE + user->state_size,
        .init = w_init,
        .handle_call = w_handle_call,
        .handle_cast = w_handle_cast,
        .handle_info = w_handle_info,
        .terminate = w_terminate,
        .cleanup = w_cleanup,
    };
    return sh;
}
