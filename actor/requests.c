/* troupe — an actor's pending requests (tr_request), owner thread only.
 *
 * Pending requests live in an open-addressing hash table keyed by request
 * id (linear probing, backward-shift deletion), so a client with thousands
 * of requests in flight settles each reply in O(1). As gen_server's
 * send_request, a request watches its server with a monitor; all requests
 * to one server share one monitor, reference-counted, so a thousand
 * requests to a pool cost one monitor, not a thousand.
 */
#include <string.h>

#include "actor/core.h"

int tr__monitor(tr__actor *w, tr_pid target, uint64_t *ref_out);
int tr__demonitor(tr__actor *w, uint64_t ref);

static inline uint32_t slot_of(uint64_t ref, uint32_t mask) {
    return (uint32_t)((ref * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

/* The requests state, allocated on first use. */
static tr__reqstate *rq_get(tr__actor *a) {
    tr__actor_x *x = tr__actor_x_get(a);
    if (!x)
        return NULL;
    if (!x->rq)
        x->rq = (tr__reqstate *)tr__calloc(sizeof(tr__reqstate));
    return x->rq;
}

/* The requests state, or NULL when there is none. */
static inline tr__reqstate *rq_of(const tr__actor *a) {
    tr__actor_x *x = tr__actor_x_peek(a);
    return x ? x->rq : NULL;
}

static int grow(tr__reqstate *a) {
    uint32_t cap = a->cap_reqs ? a->cap_reqs * 2 : 16;
    tr__req *t = (tr__req *)tr__calloc(sizeof(tr__req) * cap);
    if (!t)
        return TR_ENOMEM;
    for (uint32_t i = 0; i < a->cap_reqs; i++) {
        tr__req *r = &a->reqs[i];
        if (!r->ref)
            continue;
        uint32_t j = slot_of(r->ref, cap - 1);
        while (t[j].ref)
            j = (j + 1) & (cap - 1);
        t[j] = *r;
    }
    tr__free(a->reqs);
    a->reqs = t;
    a->cap_reqs = cap;
    return TR_OK;
}

static int find(tr__reqstate *a, uint64_t ref) {
    if (!a->n_reqs)
        return -1;
    uint32_t mask = a->cap_reqs - 1;
    for (uint32_t j = slot_of(ref, mask);; j = (j + 1) & mask) {
        if (a->reqs[j].ref == ref)
            return (int)j;
        if (!a->reqs[j].ref)
            return -1;
    }
}

static void remove_at(tr__reqstate *a, uint32_t i) {
    uint32_t mask = a->cap_reqs - 1;
    a->reqs[i].ref = 0;
    a->n_reqs--;
    /* backward shift: pull later members of the probe run into the hole */
    for (uint32_t j = (i + 1) & mask; a->reqs[j].ref; j = (j + 1) & mask) {
        uint32_t home = slot_of(a->reqs[j].ref, mask);
        bool movable = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            a->reqs[i] = a->reqs[j];
            a->reqs[j].ref = 0;
            i = j;
        }
    }
}

static int srv_find(tr__reqstate *a, tr_pid server) {
    for (uint32_t i = 0; i < a->n_srv; i++)
        if (tr_pid_eq(a->srv[i].server, server))
            return (int)i;
    return -1;
}

/* Monitors with no request pending are kept (a client that calls the same
 * server again pays nothing), up to this many; beyond it the oldest idle
 * one is dropped. */
#define IDLE_MONITORS_KEPT 8

/* Drops one request's share of its server's monitor. */
static void srv_release(tr__actor *actor, tr__reqstate *a, tr_pid server) {
    int i = srv_find(a, server);
    if (i < 0 || --a->srv[i].count != 0)
        return;
    uint32_t idle = 0, oldest = UINT32_MAX;
    for (uint32_t k = 0; k < a->n_srv; k++)
        if (a->srv[k].count == 0) {
            idle++;
            if (oldest == UINT32_MAX)
                oldest = k;
        }
    if (idle > IDLE_MONITORS_KEPT) {
        uint64_t mref = a->srv[oldest].mref;
        /* keep order (oldest first) so eviction stays fair */
        memmove(&a->srv[oldest], &a->srv[oldest + 1], sizeof(tr__srvmon) * (a->n_srv - oldest - 1));
        a->n_srv--;
        tr__demonitor(actor, mref);
    }
}

int tr__req_begin(tr__actor *actor, uint64_t ref, tr_pid server) {
    tr__reqstate *a = rq_get(actor);
    if (!a)
        return TR_ENOMEM;
    if ((a->n_reqs + 1) * 4 > a->cap_reqs * 3 && grow(a) != TR_OK)
        return TR_ENOMEM;
    int s = srv_find(a, server);
    if (s < 0) {
        if (!TR__GROW(a->srv, a->n_srv, a->cap_srv, 2))
            return TR_ENOMEM;
        uint64_t mref = 0;
        int err = tr__monitor(actor, server, &mref);
        if (err)
            return err;
        s = (int)a->n_srv++;
        a->srv[s] = (tr__srvmon){server, mref, 0};
    }
    a->srv[s].count++;
    uint32_t mask = a->cap_reqs - 1;
    uint32_t j = slot_of(ref, mask);
    while (a->reqs[j].ref)
        j = (j + 1) & mask;
    a->reqs[j] = (tr__req){ref, 0, server};
    a->n_reqs++;
    return TR_OK;
}

void tr__req_set_timer(tr__actor *actor, uint64_t ref, tr_timer timer) {
    tr__reqstate *a = rq_of(actor);
    if (!a)
        return;
    int i = find(a, ref);
    if (i >= 0)
        a->reqs[i].timer = timer;
}

bool tr__req_take(tr__actor *actor, uint64_t ref, bool timer_fired) {
    tr__reqstate *a = rq_of(actor);
    if (!a)
        return false;
    int i = find(a, ref);
    if (i < 0)
        return false;
    tr__req r = a->reqs[i];
    remove_at(a, (uint32_t)i);
    if (r.timer && !timer_fired)
        tr_cancel_timer(actor->rt, r.timer);
    srv_release(actor, a, r.server);
    return true;
}

bool tr__req_server_down(tr__actor *actor, uint64_t mref, tr_pid *server) {
    tr__reqstate *a = rq_of(actor);
    if (!a)
        return false;
    for (uint32_t i = 0; i < a->n_srv; i++)
        if (a->srv[i].mref == mref) {
            *server = a->srv[i].server;
            /* the monitor fired: it is gone */
            memmove(&a->srv[i], &a->srv[i + 1], sizeof(tr__srvmon) * (a->n_srv - i - 1));
            a->n_srv--;
            return true;
        }
    return false;
}

bool tr__req_next_for_server(tr__actor *actor, tr_pid server, uint64_t *ref) {
    tr__reqstate *a = rq_of(actor);
    if (!a)
        return false;
    for (uint32_t i = 0; a->n_reqs && i < a->cap_reqs; i++) {
        tr__req *r = &a->reqs[i];
        if (r->ref && tr_pid_eq(r->server, server)) {
            *ref = r->ref;
            if (r->timer)
                tr_cancel_timer(actor->rt, r->timer);
            remove_at(a, i);
            return true;
        }
    }
    return false;
}

void tr__reqs_fini(tr__actor *actor) {
    tr__reqstate *a = rq_of(actor);
    if (!a || actor->is_waiter)
        return;
    for (uint32_t i = 0; a->n_reqs && i < a->cap_reqs; i++)
        if (a->reqs[i].ref && a->reqs[i].timer)
            tr_cancel_timer(actor->rt, a->reqs[i].timer);
    tr__free(a->reqs);
    tr__free(a->srv);
    tr__free(a);
    tr__actor_x_peek(actor)->rq = NULL;
}
